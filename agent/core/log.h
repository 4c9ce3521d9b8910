/*
 * Logging: one logfmt line per event on stderr.
 *
 *   ts=2026-11-22T11:00:00.123Z level=info msg="reconciled" env=prod rev=a1b2c3d
 *
 * Under systemd (JOURNAL_STREAM set) each line starts with the syslog
 * priority "<N>" so journald keeps the level, and the timestamp is left to
 * the journal. Keys and values are given as NUL-terminated string pairs
 * ending with NULL; values are quoted and escaped as logfmt needs, so no
 * caller can break the line format. Never pass secret material here.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdio.h>

enum sl_log_level {
    SL_LOG_ERR = 3,
    SL_LOG_WARN = 4,
    SL_LOG_NOTICE = 5,
    SL_LOG_INFO = 6,
    SL_LOG_DEBUG = 7,
};

/*
 * Configure the logger: minimum level, and where lines go (stderr when out
 * is NULL). Journald prefixes are chosen from JOURNAL_STREAM at this call.
 */
void sl_log_setup(enum sl_log_level level, FILE *out);
enum sl_log_level sl_log_get_level(void);
/* Parse "error|warn|notice|info|debug"; returns -1 for anything else. */
int sl_log_parse_level(const char *s, enum sl_log_level *out);
const char *sl_log_level_name(enum sl_log_level level);

/* sl_log(SL_LOG_INFO, "reconciled", "env", "prod", "rev", rev, NULL) */
void sl_log(enum sl_log_level level, const char *msg, ...) __attribute__((sentinel));

#define sl_log_err(...)    sl_log(SL_LOG_ERR, __VA_ARGS__, NULL)
#define sl_log_warn(...)   sl_log(SL_LOG_WARN, __VA_ARGS__, NULL)
#define sl_log_notice(...) sl_log(SL_LOG_NOTICE, __VA_ARGS__, NULL)
#define sl_log_info(...)   sl_log(SL_LOG_INFO, __VA_ARGS__, NULL)
#define sl_log_debug(...)  sl_log(SL_LOG_DEBUG, __VA_ARGS__, NULL)

/*
 * Format one logfmt line (without prefix or newline) into out. Exposed for
 * tests and for callers that want the exact same escaping.
 */
struct sl_buf;
struct sl_error;
int sl_logfmt_pair(struct sl_buf *out, const char *key, const char *value, struct sl_error *err);

#endif
