/*
 * The systemd notification protocol (sd_notify(3)), spoken directly: one
 * datagram per message to the AF_UNIX socket named by $NOTIFY_SOCKET (a path,
 * or "@name" for the abstract namespace). No libsystemd dependency.
 *
 * Without NOTIFY_SOCKET every call is a successful no-op, so the daemon runs
 * the same outside systemd. The watchdog interval is half of $WATCHDOG_USEC
 * (when $WATCHDOG_PID is unset or names this process), as systemd advises.
 * Messages never carry secret material; STATUS= text is the caller's.
 */
#ifndef SL_SDNOTIFY_H
#define SL_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "error.h"

struct sl_sdnotify {
    int fd; /* -1 when disabled */
    struct sockaddr_un addr;
    socklen_t addrlen;
    uint64_t watchdog_usec; /* 0: no watchdog requested */
};

#define SL_SDNOTIFY_INIT                                                                           \
    {                                                                                              \
        -1, {0}, 0, 0                                                                              \
    }

/*
 * Read NOTIFY_SOCKET / WATCHDOG_USEC / WATCHDOG_PID from the environment and
 * open the socket. When unset_env is true the variables are removed so that
 * child processes do not inherit them. An invalid NOTIFY_SOCKET is an error.
 */
int sl_sdnotify_open(struct sl_sdnotify *n, bool unset_env, struct sl_error *err);
void sl_sdnotify_close(struct sl_sdnotify *n);
bool sl_sdnotify_enabled(const struct sl_sdnotify *n);

/* Send one raw message ("READY=1\nSTATUS=..."). */
int sl_sdnotify_send(struct sl_sdnotify *n, const char *msg, struct sl_error *err);

int sl_sdnotify_ready(struct sl_sdnotify *n, const char *status, struct sl_error *err);
/* STATUS=text; control characters are replaced so one status stays one field. */
int sl_sdnotify_status(struct sl_sdnotify *n, const char *status, struct sl_error *err);
/* RELOADING=1 with MONOTONIC_USEC=now, as systemd 253+ expects for Type=notify-reload. */
int sl_sdnotify_reloading(struct sl_sdnotify *n, struct sl_error *err);
int sl_sdnotify_stopping(struct sl_sdnotify *n, struct sl_error *err);
int sl_sdnotify_watchdog(struct sl_sdnotify *n, struct sl_error *err);

/* Milliseconds between WATCHDOG=1 pings (half the timeout); 0 when none is due. */
int64_t sl_sdnotify_watchdog_interval_ms(const struct sl_sdnotify *n);

#endif
