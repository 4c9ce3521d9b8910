/*
 * API Status conversion, retry and rate-limit arithmetic, small helpers.
 * Pure functions (no I/O), so the unit tests can pin every case.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "kube_internal.h"
#include "secmem.h"

void sl_kube_status_release(struct sl_kube_status *st)
{
    if (st == NULL)
        return;
    free(st->reason);
    free(st->message);
    for (size_t i = 0; i < st->ncauses; i++) {
        free(st->causes[i].reason);
        free(st->causes[i].message);
        free(st->causes[i].field);
    }
    free(st->causes);
    memset(st, 0, sizeof(*st));
}

bool sl_kube_is_not_found(const struct sl_kube_status *st)
{
    return st != NULL && st->http == 404;
}

bool sl_kube_is_conflict(const struct sl_kube_status *st)
{
    return st != NULL && st->http == 409;
}

bool sl_kube_is_invalid(const struct sl_kube_status *st)
{
    return st != NULL && st->http == 422;
}

static bool says_immutable(const char *s)
{
    return s != NULL && (strstr(s, "immutable") != NULL);
}

bool sl_kube_is_immutable(const struct sl_kube_status *st)
{
    if (st == NULL || st->http != 422)
        return false;
    if (says_immutable(st->message))
        return true;
    for (size_t i = 0; i < st->ncauses; i++)
        if (says_immutable(st->causes[i].message))
            return true;
    return false;
}

static char *dup_str(const json_t *v)
{
    const char *s = json_string_value(v);

    return s != NULL ? strdup(s) : NULL;
}

static const char *reason_for_http(long http)
{
    switch (http) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 406:
        return "NotAcceptable";
    case 409:
        return "Conflict";
    case 410:
        return "Expired";
    case 413:
        return "RequestEntityTooLarge";
    case 415:
        return "UnsupportedMediaType";
    case 422:
        return "Invalid";
    case 429:
        return "TooManyRequests";
    case 500:
        return "InternalError";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "Timeout";
    default:
        return http >= 500 ? "InternalError" : NULL;
    }
}

void sl_kube_status_fill(struct sl_kube_status *st, long http, const char *body, size_t len,
                         bool redact)
{
    json_t *root = NULL, *causes;
    int attempts = st->attempts;

    sl_kube_status_release(st);
    st->attempts = attempts;
    st->http = http;
    if (http >= 200 && http < 300)
        return;
    if (body != NULL && len > 0)
        root = json_loadb(body, len, 0, NULL);
    if (json_is_object(root) && json_string_value(json_object_get(root, "kind")) != NULL &&
        strcmp(json_string_value(json_object_get(root, "kind")), "Status") == 0) {
        st->reason = dup_str(json_object_get(root, "reason"));
        if (st->reason != NULL && st->reason[0] == '\0') {
            free(st->reason);
            st->reason = NULL;
        }
        /* A Secret's error text may echo values: keep none of it, only the fact that a
         * field is immutable, which decides whether sluice.dev/force may re-create it. */
        if (!redact)
            st->message = dup_str(json_object_get(root, "message"));
        else if (says_immutable(json_string_value(json_object_get(root, "message"))))
            st->message = strdup(SL_KUBE_REDACTED_IMMUTABLE);
        causes = json_object_get(json_object_get(root, "details"), "causes");
        if (json_is_array(causes) && json_array_size(causes) > 0) {
            size_t n = json_array_size(causes);

            if (n > 64)
                n = 64;
            st->causes = calloc(n, sizeof(*st->causes));
            if (st->causes != NULL) {
                for (size_t i = 0; i < n; i++) {
                    json_t *c = json_array_get(causes, i);

                    st->causes[i].reason = dup_str(json_object_get(c, "reason"));
                    st->causes[i].field = dup_str(json_object_get(c, "field"));
                    if (!redact)
                        st->causes[i].message = dup_str(json_object_get(c, "message"));
                    else if (says_immutable(json_string_value(json_object_get(c, "message"))))
                        st->causes[i].message = strdup(SL_KUBE_REDACTED_IMMUTABLE);
                }
                st->ncauses = n;
            }
        }
    }
    if (st->reason == NULL && reason_for_http(http) != NULL)
        st->reason = strdup(reason_for_http(http));
    json_decref(root);
}

static enum sl_code code_for_http(long http)
{
    switch (http) {
    case 404:
    case 410:
        return SL_ENOTFOUND;
    case 409:
        return SL_ECONFLICT;
    case 400:
    case 422:
        return SL_EINVAL;
    case 401:
    case 403:
        return SL_EAUTH;
    case 415:
    case 405:
    case 406:
        return SL_EUNSUPPORTED;
    case 413:
        return SL_ETOOLARGE;
    case 504:
        return SL_ETIMEOUT;
    default:
        return SL_EIO;
    }
}

int sl_kube_status_error(const struct sl_kube_status *st, const char *what, struct sl_error *err)
{
    struct sl_buf b = SL_BUF_INIT(SL_ERROR_MSG_MAX);
    struct sl_error ignore = SL_ERROR_INIT;
    bool any = false;

    sl_buf_printf(&b, &ignore, "%s: %ld", what, st->http);
    if (st->reason != NULL)
        sl_buf_printf(&b, &ignore, " %s", st->reason);
    if (st->message != NULL && st->message[0] != '\0')
        sl_buf_printf(&b, &ignore, ": %s", st->message);
    /* Causes add what the message does not already say (it often lists the fields). */
    for (size_t i = 0; i < st->ncauses; i++) {
        const struct sl_kube_cause *c = &st->causes[i];

        if (c->field != NULL && st->message != NULL && strstr(st->message, c->field) != NULL)
            continue;
        if (c->field == NULL && c->message == NULL)
            continue;
        sl_buf_puts(&b, any ? "; " : " (", &ignore);
        any = true;
        if (c->field != NULL)
            sl_buf_printf(&b, &ignore, "%s", c->field);
        if (c->message != NULL)
            sl_buf_printf(&b, &ignore, "%s%s", c->field != NULL ? ": " : "", c->message);
        else if (c->reason != NULL)
            sl_buf_printf(&b, &ignore, "%s%s", c->field != NULL ? ": " : "", c->reason);
    }
    if (any)
        sl_buf_putc(&b, ')', &ignore);
    if (st->http == 409 && st->ncauses > 0 && st->causes[0].reason != NULL &&
        strcmp(st->causes[0].reason, "FieldManagerConflict") == 0)
        sl_buf_puts(&b, "; set cluster.forceConflicts to take ownership of these fields", &ignore);
    sl_error_set(err, code_for_http(st->http), "%s", b.ptr);
    sl_buf_release(&b);
    return -1;
}

int64_t sl_kube_backoff_ms(int retry, int64_t base_ms, int64_t max_ms, uint64_t rnd)
{
    int64_t d = base_ms > 0 ? base_ms : 1;

    if (max_ms < d)
        max_ms = d;
    for (int i = 0; i < retry && d < max_ms; i++)
        d = d > max_ms / 2 ? max_ms : d * 2;
    if (d > max_ms)
        d = max_ms;
    /* Equal jitter: never less than half the delay, so retries still back off. */
    return d / 2 + (int64_t)(rnd % (uint64_t)(d - d / 2 + 1));
}

static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int64_t sl_kube_retry_after_ms(const char *value, time_t now)
{
    char *end;
    long long secs;
    char wd[4], mon[4];
    int day, year, hh, mm, ss;
    struct tm tm;

    if (value == NULL)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (isdigit((unsigned char)*value)) {
        secs = strtoll(value, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (*end != '\0' || secs < 0 || secs > 86400)
            return -1;
        return (int64_t)secs * 1000;
    }
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
    if (sscanf(value, "%3s, %d %3s %d %d:%d:%d GMT", wd, &day, mon, &year, &hh, &mm, &ss) != 7)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_mon = -1;
    for (int i = 0; i < 12; i++)
        if (strcmp(mon, month_names[i]) == 0)
            tm.tm_mon = i;
    /* A date past 9999 is nonsense from a server; refusing it also keeps the
     * seconds-to-milliseconds product below (capped like the delta form) in range. */
    if (tm.tm_mon < 0 || day < 1 || day > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 ||
        ss > 60 || year < 1970 || year > 9999)
        return -1;
    tm.tm_mday = day;
    tm.tm_year = year - 1900;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    {
        time_t t = timegm(&tm);

        if (t == (time_t)-1)
            return -1;
        if (t <= now)
            return 0;
        return (int64_t)(t - now > 86400 ? 86400 : t - now) * 1000;
    }
}

void sl_kube_bucket_init(struct sl_kube_bucket *b, double rate, double burst, int64_t now_ms)
{
    b->rate = rate;
    b->burst = burst < 1 ? 1 : burst;
    b->tokens = b->burst;
    b->last_ms = now_ms;
}

int64_t sl_kube_bucket_take(struct sl_kube_bucket *b, int64_t now_ms)
{
    double wait;

    if (b->rate <= 0)
        return 0;
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ms = now_ms;
    }
    /* Reserve the token even when it must be waited for (the caller sleeps). */
    b->tokens -= 1.0;
    if (b->tokens >= 0)
        return 0;
    wait = -b->tokens * 1000.0 / b->rate;
    return (int64_t)(wait + 0.999);
}

int sl_kube_parse_rfc3339(const char *s, time_t *out)
{
    int y, mo, d, h, mi, sec, n = 0;
    const char *p;
    struct tm tm;
    time_t t;
    long off = 0;

    if (s == NULL || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    p = s + 10;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (sscanf(p, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3 || n != 8)
        return -1;
    p += 8;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;

        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 || oh > 23 || om > 59)
            return -1;
        off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = t - off;
    return 0;
}

void sl_kube_json_wipe(json_t *v)
{
    const char *key;
    json_t *item;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach(v, key, item) sl_kube_json_wipe(item);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, item) sl_kube_json_wipe(item);
    } else if (json_is_string(v)) {
        /* jansson owns the bytes; wiping them in place keeps them out of freed heap. */
        sl_secure_wipe((void *)(uintptr_t)json_string_value(v), json_string_length(v));
    }
}

int sl_kube_escape(const char *s, char *out, size_t outlen, struct sl_error *err)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            if (o + 1 >= outlen)
                goto toolong;
            out[o++] = (char)*p;
        } else {
            if (o + 3 >= outlen)
                goto toolong;
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (outlen == 0)
        goto toolong;
    out[o] = '\0';
    return 0;
toolong:
    return sl_error_set(err, SL_ETOOLARGE, "value too long for a request URL");
}
