/*
 * libFuzzer target: whole HTTP requests through the daemon's endpoint
 * (agent/daemon/http.h): libmicrohttpd's request parsing, the routing, the
 * webhook body cap and verification, on a real loopback socket.
 *
 * Input: byte 0 sets the endpoint's knobs for this request (bit 0: a rate
 * limit of one request a minute instead of none; bit 1: ready; bits 2-3:
 * max_body 64, 1024, 4096 or 1 MiB); the rest is sent as is on a new
 * connection, whose write side is then shut. Hooks: /hooks/github,
 * /hooks/gitlab and /hooks/hmac (header X-Signature), all with the secret
 * below. The server must answer and close every connection in time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "log.h"
#include "secmem.h"
#include "webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char secret[] = "0123456789abcdef0123456789abcdef";

struct fixture {
    struct sl_http *srv;
    struct sl_hook *hooks[3];
    bool ready;
    unsigned long results;
};

static bool on_ready(void *arg)
{
    return ((struct fixture *)arg)->ready;
}

static int on_metrics(void *arg, struct sl_buf *out, struct sl_error *err)
{
    (void)arg;
    return sl_buf_puts(out, "# TYPE sluice_up gauge\nsluice_up 1\n", err);
}

static struct sl_hook *on_find(void *arg, const char *name)
{
    struct fixture *f = arg;

    for (int i = 0; i < 3; i++)
        if (strcmp(name, sl_hook_type_name((enum sl_hook_type)i)) == 0)
            return f->hooks[i];
    return NULL;
}

static void on_result(void *arg, const char *name, const char *result)
{
    struct fixture *f = arg;

    if (name == NULL || result == NULL)
        __builtin_trap();
    f->results++;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct fixture *setup(void)
{
    static const enum sl_hook_type types[3] = {SL_HOOK_GITHUB, SL_HOOK_GITLAB, SL_HOOK_HMAC};
    static struct fixture f;
    struct sl_http_handlers h = {&f, on_ready, on_metrics, on_find, on_result};
    struct sl_error e = SL_ERROR_INIT;

    if (sl_secmem_init(&e) != 0)
        __builtin_trap();
    sl_log_setup(SL_LOG_ERR, NULL);
    for (int i = 0; i < 3; i++) {
        f.hooks[i] = sl_hook_new_mem(sl_hook_type_name(types[i]), types[i], "X-Signature", secret,
                                     sizeof(secret) - 1, &e);
        if (f.hooks[i] == NULL)
            __builtin_trap();
    }
    f.srv = sl_http_start("127.0.0.1:0", &h, 4096, 0, &e);
    if (f.srv == NULL) {
        fprintf(stderr, "fuzz_webhook_http: %s\n", e.msg);
        __builtin_trap();
    }
    return &f;
}

static void pump(struct fixture *f, int fd, int ms)
{
    struct pollfd p[2] = {{fd, POLLIN, 0}, {sl_http_fd(f->srv), POLLIN, 0}};
    int64_t t = sl_http_timeout_ms(f->srv);

    if (t >= 0 && t < ms)
        ms = (int)t;
    (void)poll(p, fd >= 0 ? 2 : 1, ms);
    sl_http_run(f->srv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t bodies[4] = {64, 1024, 4096, (uint64_t)1 << 20};
    static struct fixture *f;
    struct sockaddr_in sa;
    size_t off = 1;
    int64_t deadline;
    bool eof = false, shut = false;
    int settle = 0;
    char buf[4096];
    int fd;

    if (f == NULL)
        f = setup();
    if (size < 1)
        return 0;
    f->ready = (data[0] & 2) != 0;
    sl_http_set_limits(f->srv, bodies[(data[0] >> 2) & 3], (data[0] & 1) ? 1 : 0);

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        __builtin_trap();
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)sl_http_port(f->srv));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
        __builtin_trap();
    /* The server answers within its 10 s connection timeout; allow some slack. */
    deadline = mono_ms() + 15000;
    while (!eof) {
        if (mono_ms() > deadline) {
            fprintf(stderr, "fuzz_webhook_http: the connection was neither answered nor "
                            "closed in 15 s\n");
            __builtin_trap();
        }
        if (off < size) {
            ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)
                off = size; /* the server closed early (e.g. a bad request line) */
        } else if (!shut && ++settle > 4) {
            /*
             * Half-close only once the server has taken in what was sent:
             * libmicrohttpd 0.9.75 misses an end of input that arrives
             * together with a request body and then keeps the connection
             * until its timeout.
             */
            (void)shutdown(fd, SHUT_WR);
            shut = true;
        }
        pump(f, fd, shut ? 20 : 0);
        for (;;) {
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n > 0)
                continue;
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                eof = true;
            break;
        }
    }
    close(fd);
    /* Let the server notice the close and free the connection. */
    for (int i = 0; i < 3; i++)
        pump(f, -1, 0);
    return 0;
}
