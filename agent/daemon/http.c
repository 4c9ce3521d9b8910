#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "lazy.h"
#include "log.h"
#include "metrics.h"

struct sl_http {
    struct MHD_Daemon *mhd;
    int listen_fd;
    unsigned port;
    char *listen;
    struct sl_http_handlers h;
    uint64_t max_body;
    uint64_t rate_limit;
};

/* Per-request state of a webhook POST while its body arrives. */
struct hook_req {
    char name[64];
    struct sl_buf body;
    bool too_large;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             char *body, size_t len, bool owned)
{
    struct MHD_Response *r;
    enum MHD_Result rc;

    r = MHD_create_response_from_buffer(len, body,
                                        owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    /* MHD takes a non-const pointer but never writes through a persistent buffer. */
    union {
        const char *in;
        char *out;
    } u = {msg};
    return reply(c, status, "text/plain; charset=utf-8", u.out, strlen(msg), false);
}

static const char *get_header(void *arg, const char *name)
{
    return MHD_lookup_connection_value(arg, MHD_HEADER_KIND, name);
}

static enum MHD_Result serve_metrics(struct sl_http *s, struct MHD_Connection *c)
{
    struct sl_buf out = SL_BUF_INIT((size_t)16 << 20);
    struct sl_error err = SL_ERROR_INIT;
    char *body;
    size_t len;

    if (s->h.metrics(s->h.arg, &out, &err) != 0) {
        sl_log_err("metrics rendering failed", "error", err.msg);
        sl_buf_release(&out);
        return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics unavailable\n");
    }
    body = sl_buf_detach(&out, &len);
    if (body == NULL)
        return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return reply(c, MHD_HTTP_OK, SL_METRICS_CONTENT_TYPE, body, len, true);
}

static void hook_req_free(struct hook_req *q)
{
    if (q == NULL)
        return;
    sl_buf_release(&q->body);
    free(q);
}

static enum MHD_Result finish_hook(struct sl_http *s, struct MHD_Connection *c, struct hook_req *q)
{
    struct sl_hook *hook = s->h.find_hook(s->h.arg, q->name);
    enum sl_hook_verdict v;

    /* Too large or unknown by now (a reload removed it): not authentic, no detail. */
    if (hook == NULL || q->too_large) {
        s->h.hook_result(s->h.arg, q->name, "rejected");
        return text(c, MHD_HTTP_UNAUTHORIZED, "unauthorized\n");
    }
    v = sl_hook_verify(hook, get_header, c, q->body.ptr, q->body.len);
    switch (v) {
    case SL_HOOK_ACCEPT:
        s->h.hook_result(s->h.arg, q->name, "accepted");
        return text(c, MHD_HTTP_ACCEPTED, "accepted\n");
    case SL_HOOK_IGNORE:
        s->h.hook_result(s->h.arg, q->name, "ignored");
        return text(c, MHD_HTTP_OK, "ignored\n");
    case SL_HOOK_REJECT:
        break;
    }
    s->h.hook_result(s->h.arg, q->name, "rejected");
    return text(c, MHD_HTTP_UNAUTHORIZED, "unauthorized\n");
}

static enum MHD_Result handle_hook(struct sl_http *s, struct MHD_Connection *c, const char *name,
                                   const char *data, size_t *size, void **cls)
{
    struct hook_req *q = *cls;

    if (q == NULL) {
        struct sl_hook *hook = s->h.find_hook(s->h.arg, name);
        if (hook == NULL || strlen(name) >= sizeof(q->name)) {
            s->h.hook_result(s->h.arg, hook == NULL ? "unknown" : name, "rejected");
            return text(c, MHD_HTTP_UNAUTHORIZED, "unauthorized\n");
        }
        /* The limit is checked before any body is read or any HMAC computed. */
        if (!sl_hook_take_token(hook, now_ms(), (unsigned)s->rate_limit)) {
            s->h.hook_result(s->h.arg, name, "limited");
            return text(c, MHD_HTTP_TOO_MANY_REQUESTS, "too many requests\n");
        }
        q = calloc(1, sizeof(*q));
        if (q == NULL)
            return MHD_NO;
        snprintf(q->name, sizeof(q->name), "%s", name);
        sl_buf_init(&q->body, (size_t)s->max_body);
        *cls = q;
        return MHD_YES;
    }
    if (*size > 0) {
        if (!q->too_large && sl_buf_append(&q->body, data, *size, NULL) != 0) {
            q->too_large = true;
            sl_buf_release(&q->body);
        }
        *size = 0;
        return MHD_YES;
    }
    return finish_hook(s, c, q);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    struct sl_http *s = cls;
    bool get =
            strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

    if (strncmp(url, "/hooks/", 7) == 0) {
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
            return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
        return handle_hook(s, c, url + 7, data, size, con_cls);
    }
    if (strcmp(url, "/metrics") == 0 || strcmp(url, "/healthz") == 0 ||
        strcmp(url, "/readyz") == 0) {
        if (!get)
            return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
        if (strcmp(url, "/metrics") == 0)
            return serve_metrics(s, c);
        if (strcmp(url, "/healthz") == 0)
            return text(c, MHD_HTTP_OK, "ok\n");
        if (s->h.ready(s->h.arg))
            return text(c, MHD_HTTP_OK, "ready\n");
        return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
    }
    return text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    hook_req_free(*con_cls);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    sl_log_debug("http", "detail", msg);
}

/* Split HOST:PORT / [V6]:PORT and open a listening socket. */
static int open_listener(const char *listen_addr, int *fd_out, unsigned *port_out,
                         struct sl_error *err)
{
    char host[256];
    const char *colon = strrchr(listen_addr, ':');
    struct addrinfo hints, *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    size_t hl;
    int fd = -1, one = 1, rc;

    if (colon == NULL || colon == listen_addr)
        return sl_error_set(err, SL_EINVAL, "http.listen: \"%s\" is not HOST:PORT", listen_addr);
    hl = (size_t)(colon - listen_addr);
    if (listen_addr[0] == '[' && hl >= 2 && listen_addr[hl - 1] == ']') {
        listen_addr++;
        hl -= 2;
    }
    if (hl >= sizeof(host))
        return sl_error_set(err, SL_EINVAL, "http.listen: host too long");
    memcpy(host, listen_addr, hl);
    host[hl] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(hl == 0 ? NULL : host, colon + 1, &hints, &res);
    if (rc != 0)
        return sl_error_set(err, SL_EINVAL, "http.listen %s: %s", host, gai_strerror(rc));
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        sl_error_errno(err, errno, "http.listen: socket");
        goto fail;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        sl_error_errno(err, errno, "http.listen: bind");
        goto fail;
    }
    if (listen(fd, 64) != 0) {
        sl_error_errno(err, errno, "http.listen: listen");
        goto fail;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        sl_error_errno(err, errno, "http.listen: getsockname");
        goto fail;
    }
    *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    freeaddrinfo(res);
    *fd_out = fd;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return -1;
}

struct sl_http *sl_http_start(const char *listen_addr, const struct sl_http_handlers *h,
                              uint64_t max_body, uint64_t rate_limit, struct sl_error *err)
{
    struct sl_http *s;

    if (sl_lazy_require(SL_LAZY_MHD, err) != 0)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        return NULL;
    }
    s->listen_fd = -1;
    s->h = *h;
    s->max_body = max_body;
    s->rate_limit = rate_limit;
    s->listen = strdup(listen_addr);
    if (s->listen == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto fail;
    }
    if (open_listener(listen_addr, &s->listen_fd, &s->port, err) != 0) {
        sl_error_wrap(err, "%s", listen_addr);
        goto fail;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) != MHD_YES) {
        sl_error_set(err, SL_EUNSUPPORTED, "libmicrohttpd was built without epoll support");
        goto fail;
    }
    /* Small, slow or many connections cannot tie up the loop: all are bounded. */
    s->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, s,
                              MHD_OPTION_LISTEN_SOCKET, s->listen_fd, MHD_OPTION_NOTIFY_COMPLETED,
                              on_completed, s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)16,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
                              MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_END);
    if (s->mhd == NULL) {
        sl_error_set(err, SL_EIO, "%s: the HTTP server did not start", listen_addr);
        goto fail;
    }
    return s;
fail:
    sl_http_stop(s);
    return NULL;
}

void sl_http_stop(struct sl_http *s)
{
    if (s == NULL)
        return;
    if (s->mhd != NULL)
        MHD_stop_daemon(s->mhd);
    /* MHD does not close a socket it was given. */
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    free(s->listen);
    free(s);
}

void sl_http_set_limits(struct sl_http *s, uint64_t max_body, uint64_t rate_limit)
{
    s->max_body = max_body;
    s->rate_limit = rate_limit;
}

int sl_http_fd(const struct sl_http *s)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    return i == NULL ? -1 : i->epoll_fd;
}

int64_t sl_http_timeout_ms(const struct sl_http *s)
{
    MHD_UNSIGNED_LONG_LONG t;

    if (MHD_get_timeout(s->mhd, &t) != MHD_YES)
        return -1;
    return t > INT32_MAX ? INT32_MAX : (int64_t)t;
}

void sl_http_run(struct sl_http *s)
{
    MHD_run(s->mhd);
}

unsigned sl_http_port(const struct sl_http *s)
{
    return s->port;
}

const char *sl_http_listen(const struct sl_http *s)
{
    return s->listen;
}
