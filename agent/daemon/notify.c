#include <curl/curl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "file.h"
#include "lazy.h"
#include "log.h"
#include "notify.h"
#include "secmem.h"

#define URL_MAX 4096

struct sl_notifier {
    atomic_int refs;
    struct sl_secbuf url;
    enum sl_notify_format format;
    long timeout_ms;
    unsigned retries;
    bool on_deploy, on_rollback, on_failure;
};

const char *sl_notify_event_name(enum sl_notify_event e)
{
    switch (e) {
    case SL_EVENT_DEPLOY:
        return "deploy";
    case SL_EVENT_ROLLBACK:
        return "rollback";
    case SL_EVENT_FAILURE:
        return "failure";
    }
    return "unknown";
}

struct sl_notifier *sl_notifier_ref(struct sl_notifier *n)
{
    if (n != NULL)
        atomic_fetch_add(&n->refs, 1);
    return n;
}

void sl_notifier_free(struct sl_notifier *n)
{
    if (n == NULL || atomic_fetch_sub(&n->refs, 1) > 1)
        return;
    sl_secbuf_release(&n->url);
    free(n);
}

int sl_notifier_new(const struct sl_config *cfg, struct sl_notifier **out, struct sl_error *err)
{
    const struct sl_notify_config *nc = &cfg->notifications;
    struct sl_notifier *n;

    *out = NULL;
    if (!nc->enabled)
        return 0;
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    atomic_init(&n->refs, 1);
    n->url.max = URL_MAX;
    if (nc->url_file != NULL) {
        if (sl_file_read_secret(&n->url, nc->url_file, URL_MAX, err) != 0) {
            sl_error_wrap(err, "notifications.urlFile");
            goto fail;
        }
        while (n->url.len > 0 &&
               (n->url.ptr[n->url.len - 1] == '\n' || n->url.ptr[n->url.len - 1] == '\r' ||
                n->url.ptr[n->url.len - 1] == ' '))
            n->url.ptr[--n->url.len] = '\0';
        if (strncmp((const char *)n->url.ptr, "https://", 8) != 0 &&
            strncmp((const char *)n->url.ptr, "http://", 7) != 0) {
            /* Do not echo the content: it is meant to be secret. */
            sl_error_set(err, SL_EINVAL,
                         "notifications.urlFile %s: expected one http:// or https:// URL",
                         nc->url_file);
            goto fail;
        }
    } else if (sl_secbuf_append(&n->url, nc->url, strlen(nc->url), err) != 0) {
        goto fail;
    }
    n->format = nc->format;
    n->timeout_ms = (long)nc->timeout_ms;
    n->retries = (unsigned)nc->retries;
    n->on_deploy = nc->on_deploy;
    n->on_rollback = nc->on_rollback;
    n->on_failure = nc->on_failure;
    *out = n;
    return 0;
fail:
    sl_notifier_free(n);
    return -1;
}

bool sl_notifier_event(const struct sl_notifier *n, const struct sl_run_result *r, bool failed,
                       unsigned failures_before, enum sl_notify_event *ev)
{
    if (n == NULL)
        return false;
    if (failed || r->outcome == SL_RUN_FAILED || r->outcome == SL_RUN_DENIED) {
        /* Once per failure streak: a retry every few minutes must not page anyone again. */
        *ev = SL_EVENT_FAILURE;
        return n->on_failure && failures_before == 0;
    }
    if (r->outcome == SL_RUN_ROLLED_BACK) {
        *ev = SL_EVENT_ROLLBACK;
        return n->on_rollback;
    }
    if (r->outcome == SL_RUN_APPLIED && strcmp(r->revision, r->previous) != 0) {
        *ev = SL_EVENT_DEPLOY;
        return n->on_deploy;
    }
    return false;
}

static const char *short_rev(const char *rev, char *buf, size_t len)
{
    snprintf(buf, len, "%.12s", rev);
    return buf;
}

static int slack_text(const struct sl_notice *no, struct sl_buf *t, struct sl_error *err)
{
    const struct sl_run_result *r = no->result;
    char a[16], b[16];

    switch (no->event) {
    case SL_EVENT_DEPLOY:
        return sl_buf_printf(t, err, ":rocket: %s/%s: deployed %s%s%s%s in %.1fs%s%s", no->agent,
                             no->environment, r->ref[0] ? r->ref : "", r->ref[0] ? " (" : "",
                             short_rev(r->revision, a, sizeof(a)), r->ref[0] ? ")" : "",
                             no->seconds, r->summary[0] ? " - " : "", r->summary);
    case SL_EVENT_ROLLBACK:
        return sl_buf_printf(t, err, ":rewind: %s/%s: %s failed and was rolled back to %s%s%s",
                             no->agent, no->environment,
                             r->failed_revision[0] ? short_rev(r->failed_revision, a, sizeof(a))
                                                   : "the new revision",
                             short_rev(r->revision, b, sizeof(b)), r->summary[0] ? " - " : "",
                             r->summary);
    case SL_EVENT_FAILURE:
        return sl_buf_printf(t, err, ":x: %s/%s: reconcile %s: %s", no->agent, no->environment,
                             r->outcome == SL_RUN_DENIED ? "denied by policy" : "failed",
                             no->error != NULL && no->error[0] ? no->error : r->summary);
    }
    return sl_error_set(err, SL_EINVAL, "unknown notification event");
}

int sl_notify_payload(enum sl_notify_format format, const struct sl_notice *no, struct sl_buf *out,
                      struct sl_error *err)
{
    const struct sl_run_result *r = no->result;
    json_t *j = NULL;
    char *s = NULL;
    int rc = -1;

    if (format == SL_NOTIFY_SLACK) {
        struct sl_buf t = SL_BUF_INIT(8192);
        if (slack_text(no, &t, err) == 0)
            j = json_pack("{s:s}", "text", t.ptr);
        sl_buf_release(&t);
    } else {
        j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:f, s:I, s:{s:i, "
                      "s:i, s:i, s:i}}",
                      "agent", no->agent, "environment", no->environment, "event",
                      sl_notify_event_name(no->event), "result", sl_run_outcome_name(r->outcome),
                      "revision", r->revision, "ref", r->ref, "previousRevision", r->previous,
                      "failedRevision", r->failed_revision, "summary", r->summary, "error",
                      no->error != NULL ? json_string(no->error) : json_null(), "durationSeconds",
                      no->seconds, "timestamp", (json_int_t)no->timestamp, "counts", "applied",
                      (int)r->applied, "pruned", (int)r->pruned, "unchanged", (int)r->unchanged,
                      "drifted", (int)r->drifted);
    }
    if (j == NULL) {
        sl_error_set(err, SL_EINVAL, "notification payload: invalid text (not UTF-8?)");
        goto done;
    }
    s = json_dumps(j, JSON_COMPACT);
    if (s == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    rc = sl_buf_puts(out, s, err);
done:
    free(s);
    json_decref(j);
    return rc;
}

static size_t discard(char *ptr, size_t size, size_t n, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * n;
}

/* One attempt: 0 sent, 1 worth retrying, -1 give up. */
static int attempt(const struct sl_notifier *n, const struct sl_buf *body, struct sl_error *err)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdr = NULL;
    CURLcode cc;
    long status = 0;
    int rc = -1;

    if (c == NULL) {
        sl_error_set(err, SL_ENOMEM, "notification: curl_easy_init failed");
        return -1;
    }
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, (const char *)n->url.ptr);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, n->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, n->timeout_ms);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->ptr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body->len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "sluice");
    cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        /* curl_easy_strerror names the failure class only, never the URL. */
        sl_error_set(err, SL_EIO, "notification: %s", curl_easy_strerror(cc));
        rc = 1;
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        rc = 0;
    } else {
        sl_error_set(err, SL_EIO, "notification: the endpoint answered HTTP %ld", status);
        rc = status >= 500 || status == 429 ? 1 : -1;
    }
done:
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return rc;
}

static void pause_ms(long ms, bool (*cancelled)(void *), void *arg)
{
    /* In slices, so that a stop request is seen within 100 ms. */
    while (ms > 0 && (cancelled == NULL || !cancelled(arg))) {
        long slice = ms > 100 ? 100 : ms;
        struct timespec ts = {0, slice * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

int sl_notifier_send(const struct sl_notifier *n, const struct sl_notice *no,
                     bool (*cancelled)(void *arg), void *arg, struct sl_error *err)
{
    struct sl_buf body = SL_BUF_INIT(64 * 1024);
    long pause = 1000;
    int rc = -1;

    /* libcurl is loaded when the first notification is sent, not at start. */
    if (sl_lazy_require(SL_LAZY_CURL, err) != 0 ||
        sl_notify_payload(n->format, no, &body, err) != 0)
        goto done;
    for (unsigned i = 0;; i++) {
        struct sl_error aerr = SL_ERROR_INIT;
        int a = attempt(n, &body, &aerr);
        if (a == 0) {
            rc = 0;
            break;
        }
        if (a < 0 || i >= n->retries || (cancelled != NULL && cancelled(arg))) {
            sl_error_set(err, aerr.code, "%s (after %u attempts)", aerr.msg, i + 1);
            break;
        }
        pause_ms(pause, cancelled, arg);
        pause = pause * 2 > 30000 ? 30000 : pause * 2;
    }
done:
    sl_buf_release(&body);
    return rc;
}
