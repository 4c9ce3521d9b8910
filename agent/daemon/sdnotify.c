#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "sdnotify.h"
#include "strparse.h"

static int parse_address(struct sl_sdnotify *n, const char *s, struct sl_error *err)
{
    size_t len = strlen(s);

    memset(&n->addr, 0, sizeof(n->addr));
    n->addr.sun_family = AF_UNIX;
    if (len < 2 || len >= sizeof(n->addr.sun_path))
        return sl_error_set(err, SL_EINVAL,
                            "NOTIFY_SOCKET: expected an absolute path or @name shorter than %zu "
                            "bytes",
                            sizeof(n->addr.sun_path));
    if (s[0] == '@') {
        /* Abstract namespace: a leading NUL, and the length counts exactly the name. */
        memcpy(n->addr.sun_path + 1, s + 1, len - 1);
        n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
        return 0;
    }
    if (s[0] != '/')
        return sl_error_set(err, SL_EINVAL,
                            "NOTIFY_SOCKET=%s: expected an absolute path or @name (vsock "
                            "addresses are not supported)",
                            s);
    memcpy(n->addr.sun_path, s, len);
    n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    return 0;
}

static void read_watchdog(struct sl_sdnotify *n)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    uint64_t v = 0, p = 0;

    n->watchdog_usec = 0;
    if (usec == NULL || sl_parse_u64(usec, UINT64_MAX, &v) != 0 || v == 0)
        return;
    /* WATCHDOG_PID names the process that must ping; a forked child must not. */
    if (pid != NULL && (sl_parse_u64(pid, UINT32_MAX, &p) != 0 || (pid_t)p != getpid()))
        return;
    n->watchdog_usec = v;
}

int sl_sdnotify_open(struct sl_sdnotify *n, bool unset_env, struct sl_error *err)
{
    const char *sock = getenv("NOTIFY_SOCKET");
    int rc = 0;

    n->fd = -1;
    n->watchdog_usec = 0;
    if (sock != NULL && sock[0] != '\0') {
        rc = parse_address(n, sock, err);
        if (rc == 0) {
            n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (n->fd < 0)
                rc = sl_error_errno(err, errno, "NOTIFY_SOCKET: socket");
        }
        if (rc == 0)
            read_watchdog(n);
    }
    if (unset_env) {
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
    }
    return rc;
}

void sl_sdnotify_close(struct sl_sdnotify *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
}

bool sl_sdnotify_enabled(const struct sl_sdnotify *n)
{
    return n->fd >= 0;
}

int sl_sdnotify_send(struct sl_sdnotify *n, const char *msg, struct sl_error *err)
{
    size_t len = strlen(msg);
    ssize_t w;

    if (n->fd < 0)
        return 0;
    do {
        /* Never block the main loop on a full receive queue: a lost STATUS= is harmless. */
        w = sendto(n->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT, (const struct sockaddr *)&n->addr,
                   n->addrlen);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        return sl_error_errno(err, errno, "sd_notify");
    if ((size_t)w != len)
        return sl_error_set(err, SL_EIO, "sd_notify: short datagram");
    return 0;
}

static int send_with_status(struct sl_sdnotify *n, const char *head, const char *status,
                            struct sl_error *err)
{
    struct sl_buf b = SL_BUF_INIT(4096);
    int rc = -1;

    if (n->fd < 0)
        return 0;
    if (sl_buf_puts(&b, head, err) != 0)
        goto done;
    if (status != NULL) {
        if (b.len > 0 && sl_buf_putc(&b, '\n', err) != 0)
            goto done;
        if (sl_buf_puts(&b, "STATUS=", err) != 0)
            goto done;
        /* One line: a newline would start a new (unintended) assignment. */
        for (const char *p = status; *p != '\0' && b.len < 1024; p++)
            if (sl_buf_putc(&b, (unsigned char)*p < 0x20 ? ' ' : *p, err) != 0)
                goto done;
    }
    rc = sl_sdnotify_send(n, b.ptr, err);
done:
    sl_buf_release(&b);
    return rc;
}

int sl_sdnotify_ready(struct sl_sdnotify *n, const char *status, struct sl_error *err)
{
    return send_with_status(n, "READY=1", status, err);
}

int sl_sdnotify_status(struct sl_sdnotify *n, const char *status, struct sl_error *err)
{
    return send_with_status(n, "", status, err);
}

int sl_sdnotify_reloading(struct sl_sdnotify *n, struct sl_error *err)
{
    struct timespec ts;
    char msg[96];

    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
             (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
    return sl_sdnotify_send(n, msg, err);
}

int sl_sdnotify_stopping(struct sl_sdnotify *n, struct sl_error *err)
{
    return sl_sdnotify_send(n, "STOPPING=1", err);
}

int sl_sdnotify_watchdog(struct sl_sdnotify *n, struct sl_error *err)
{
    if (n->watchdog_usec == 0)
        return 0;
    return sl_sdnotify_send(n, "WATCHDOG=1", err);
}

int64_t sl_sdnotify_watchdog_interval_ms(const struct sl_sdnotify *n)
{
    if (n->fd < 0 || n->watchdog_usec == 0)
        return 0;
    int64_t ms = (int64_t)(n->watchdog_usec / 2000u);
    return ms > 0 ? ms : 1;
}
