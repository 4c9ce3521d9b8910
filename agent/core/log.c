#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "buf.h"
#include "log.h"

/* Logger settings are configuration: written at startup and on reload only. */
static enum sl_log_level log_level = SL_LOG_INFO;
static FILE *log_out;
static bool log_journal;

static const char *const level_names[] = {
        [SL_LOG_ERR] = "error", [SL_LOG_WARN] = "warn",   [SL_LOG_NOTICE] = "notice",
        [SL_LOG_INFO] = "info", [SL_LOG_DEBUG] = "debug",
};

void sl_log_setup(enum sl_log_level level, FILE *out)
{
    const char *js = getenv("JOURNAL_STREAM");

    log_level = level;
    log_out = out;
    log_journal = js != NULL && js[0] != '\0';
}

enum sl_log_level sl_log_get_level(void)
{
    return log_level;
}

int sl_log_parse_level(const char *s, enum sl_log_level *out)
{
    for (int l = SL_LOG_ERR; l <= SL_LOG_DEBUG; l++) {
        if (strcasecmp(s, level_names[l]) == 0) {
            *out = (enum sl_log_level)l;
            return 0;
        }
    }
    if (strcasecmp(s, "err") == 0 || strcasecmp(s, "warning") == 0) {
        *out = s[0] == 'e' || s[0] == 'E' ? SL_LOG_ERR : SL_LOG_WARN;
        return 0;
    }
    return -1;
}

const char *sl_log_level_name(enum sl_log_level level)
{
    if (level < SL_LOG_ERR || level > SL_LOG_DEBUG)
        return "unknown";
    return level_names[level];
}

static bool needs_quotes(const char *v)
{
    if (v[0] == '\0')
        return true;
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++) {
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f)
            return true;
    }
    return false;
}

int sl_logfmt_pair(struct sl_buf *out, const char *key, const char *value, struct sl_error *err)
{
    if (out->len > 0 && sl_buf_putc(out, ' ', err) != 0)
        return -1;
    /* Keys are code constants, but keep them to [A-Za-z0-9_.-] anyway. */
    for (const char *k = key; *k != '\0'; k++) {
        char c = *k;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (sl_buf_putc(out, ok ? c : '_', err) != 0)
            return -1;
    }
    if (sl_buf_putc(out, '=', err) != 0)
        return -1;
    if (value == NULL)
        value = "";
    if (!needs_quotes(value))
        return sl_buf_puts(out, value, err);
    if (sl_buf_putc(out, '"', err) != 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        int rc;
        switch (*p) {
        case '"':
            rc = sl_buf_puts(out, "\\\"", err);
            break;
        case '\\':
            rc = sl_buf_puts(out, "\\\\", err);
            break;
        case '\n':
            rc = sl_buf_puts(out, "\\n", err);
            break;
        case '\r':
            rc = sl_buf_puts(out, "\\r", err);
            break;
        case '\t':
            rc = sl_buf_puts(out, "\\t", err);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                rc = sl_buf_printf(out, err, "\\x%02x", *p);
            else
                rc = sl_buf_putc(out, (char)*p, err);
        }
        if (rc != 0)
            return -1;
    }
    return sl_buf_putc(out, '"', err);
}

void sl_log(enum sl_log_level level, const char *msg, ...)
{
    struct sl_buf line = SL_BUF_INIT(64 * 1024);
    struct sl_error err = SL_ERROR_INIT;
    FILE *out = log_out != NULL ? log_out : stderr;
    int saved_errno = errno;
    va_list ap;

    if (level > log_level)
        goto done;
    if (!log_journal) {
        struct timeval tv;
        struct tm tm;
        char ts[40];

        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        if (sl_buf_printf(&line, &err, "ts=%s.%03ldZ", ts, (long)(tv.tv_usec / 1000)) != 0)
            goto done;
    }
    if (sl_logfmt_pair(&line, "level", sl_log_level_name(level), &err) != 0 ||
        sl_logfmt_pair(&line, "msg", msg, &err) != 0)
        goto done;
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        const char *v;
        if (k == NULL)
            break;
        v = va_arg(ap, const char *);
        if (sl_logfmt_pair(&line, k, v, &err) != 0)
            break;
    }
    va_end(ap);
    if (log_journal)
        fprintf(out, "<%d>%s\n", (int)level, line.ptr);
    else
        fprintf(out, "%s\n", line.ptr);
    fflush(out);
done:
    sl_buf_release(&line);
    errno = saved_errno;
}
