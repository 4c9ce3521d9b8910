/*
 * libFuzzer target: what the Kubernetes client takes from an API server's
 * answer besides the object itself (agent/kube/kube_internal.h): the Status
 * body of an error (sl_kube_status_fill, then the error text and the
 * predicates), the Retry-After header and RFC 3339 timestamps.
 *
 * Input: byte 0 picks the HTTP status (and bit 7 asks for a Secret request,
 * which must keep no message but the immutable marker); the first line of
 * the rest is also used as a Retry-After value and a timestamp; the whole
 * rest is the body.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube_internal.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long codes[] = {200, 201, 400, 401, 403, 404, 405, 409, 410, 413,
                             415, 422, 429, 500, 502, 503, 504, 0,   302, 418};

static bool redacted_ok(const char *msg)
{
    return msg == NULL || strcmp(msg, SL_KUBE_REDACTED_IMMUTABLE) == 0;
}

static void check_status(const struct sl_kube_status *st, long http, bool redact)
{
    struct sl_error e = SL_ERROR_INIT;

    if (st->http != http || st->ncauses > 64 || (st->ncauses > 0) != (st->causes != NULL))
        __builtin_trap();
    /* A Secret's error keeps none of the server's text, only the fixed immutable marker. */
    if (redact && !redacted_ok(st->message))
        __builtin_trap();
    for (size_t i = 0; i < st->ncauses; i++)
        if (redact && !redacted_ok(st->causes[i].message))
            __builtin_trap();
    (void)sl_kube_is_not_found(st);
    (void)sl_kube_is_conflict(st);
    (void)sl_kube_is_invalid(st);
    (void)sl_kube_is_immutable(st);
    if (http < 200 || http > 299) {
        if (sl_kube_status_error(st, "fuzz GET /api/v1/x", &e) != -1 || e.code == SL_OK ||
            strnlen(e.msg, sizeof(e.msg)) >= sizeof(e.msg))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    char *body, *line, esc[64];
    size_t n, llen;
    long http;
    bool redact;
    time_t t;

    if (!init) {
        sl_log_setup(SL_LOG_ERR, NULL);
        init = true;
    }
    if (size < 1)
        return 0;
    http = codes[(data[0] & 0x7f) % (sizeof(codes) / sizeof(codes[0]))];
    redact = (data[0] & 0x80) != 0;
    n = size - 1;
    /* Exact-size copies so that any overread is caught. */
    body = malloc(n + 1);
    if (body == NULL)
        return 0;
    memcpy(body, data + 1, n);
    for (llen = 0; llen < n && body[llen] != '\n'; llen++)
        ;
    line = malloc(llen + 1);
    if (line == NULL) {
        free(body);
        return 0;
    }
    memcpy(line, body, llen);
    line[llen] = '\0';

    st.attempts = 3;
    sl_kube_status_fill(&st, http, body, n, redact);
    if (st.attempts != 3)
        __builtin_trap();
    check_status(&st, http, redact);
    /* Filling again releases what the first answer left. */
    sl_kube_status_fill(&st, 422, body, n, !redact);
    check_status(&st, 422, !redact);
    sl_kube_status_release(&st);

    {
        int64_t ms = sl_kube_retry_after_ms(line, 1700000000);
        if (ms < -1)
            __builtin_trap();
    }
    (void)sl_kube_parse_rfc3339(line, &t);
    {
        struct sl_error e = SL_ERROR_INIT;
        size_t outlen = 1 + (data[0] % sizeof(esc));
        if (sl_kube_escape(line, esc, outlen, &e) == 0 && strnlen(esc, outlen) >= outlen)
            __builtin_trap();
    }
    free(line);
    free(body);
    return 0;
}
