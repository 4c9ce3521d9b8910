/*
 * The daemon's HTTP endpoint (libmicrohttpd, driven from the main loop).
 *
 *   GET  /metrics      Prometheus text exposition
 *   GET  /healthz      200 while the process runs its loop
 *   GET  /readyz       200 once the configuration is loaded and every environment was polled
 *   POST /hooks/NAME   webhook receiver: 202 and a poll for an authentic push,
 *                      200 for an authentic non-push event, 429 over the rate
 *                      limit, 401 with no detail for anything else (unknown
 *                      hook, bad signature, oversized body)
 *
 * The server runs in the caller's thread: poll sl_http_fd() for input and
 * call sl_http_run() when it is readable or sl_http_timeout_ms() expired.
 * Handlers therefore run on the main loop and need no locking. Bodies are
 * capped (max_body) before any verification; connections are limited in
 * number and time.
 */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "webhook.h"

struct sl_http_handlers {
    void *arg;
    bool (*ready)(void *arg);
    int (*metrics)(void *arg, struct sl_buf *out, struct sl_error *err);
    /* The hook called NAME, or NULL. Looked up again when the body is complete. */
    struct sl_hook *(*find_hook)(void *arg, const char *name);
    /* result: accepted, ignored, rejected or limited; accepted means "poll now". */
    void (*hook_result)(void *arg, const char *name, const char *result);
};

struct sl_http;

/* listen is HOST:PORT or [V6]:PORT; port 0 picks a free port (see sl_http_port). */
struct sl_http *sl_http_start(const char *listen, const struct sl_http_handlers *h,
                              uint64_t max_body, uint64_t rate_limit, struct sl_error *err);
void sl_http_stop(struct sl_http *s);
void sl_http_set_limits(struct sl_http *s, uint64_t max_body, uint64_t rate_limit);
int sl_http_fd(const struct sl_http *s);
/* Milliseconds until sl_http_run() must be called anyway; -1 for no deadline. */
int64_t sl_http_timeout_ms(const struct sl_http *s);
void sl_http_run(struct sl_http *s);
unsigned sl_http_port(const struct sl_http *s);
const char *sl_http_listen(const struct sl_http *s);

#endif
