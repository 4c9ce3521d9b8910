/*
 * Outbound notifications (libcurl): one POST per deploy, rollback or failure
 * to the configured URL, as generic JSON or as Slack-compatible {"text": ...}.
 *
 * Attempts are retried with doubling pauses (1 s, 2 s, 4 s ... at most 30 s)
 * on transport errors, 5xx and 429, and given up on other answers. The URL
 * may itself be a secret (Slack): it can come from a private file, lives in
 * sodium memory and never appears in a log or error message. Payloads carry
 * the environment, revision, result and error text, never secret values.
 * Sending blocks; the daemon calls it from its notification thread.
 */
#ifndef SL_NOTIFY_H
#define SL_NOTIFY_H

#include <stdbool.h>

#include "buf.h"
#include "config.h"
#include "error.h"
#include "runresult.h"

enum sl_notify_event { SL_EVENT_DEPLOY, SL_EVENT_ROLLBACK, SL_EVENT_FAILURE };

struct sl_notifier;

/*
 * *out is NULL (and 0 returned) when notifications are not configured. A
 * notifier is reference-counted so that queued notices can outlive a reload:
 * sl_notifier_ref adds a reference, sl_notifier_free drops one (NULL is fine).
 */
int sl_notifier_new(const struct sl_config *cfg, struct sl_notifier **out, struct sl_error *err);
struct sl_notifier *sl_notifier_ref(struct sl_notifier *n);
void sl_notifier_free(struct sl_notifier *n);

/*
 * Which event a finished run is, if any: deploy for a new revision applied,
 * rollback, failure for the first failure (or denial) after a success. Returns
 * false when the run is not worth a notification or the event is filtered out.
 */
bool sl_notifier_event(const struct sl_notifier *n, const struct sl_run_result *r, bool failed,
                       unsigned failures_before, enum sl_notify_event *ev);

struct sl_notice {
    const char *agent;
    const char *environment;
    enum sl_notify_event event;
    const struct sl_run_result *result;
    const char *error; /* NULL unless failed */
    double seconds;
    long long timestamp; /* unix seconds */
};

/* The request body for a format. */
int sl_notify_payload(enum sl_notify_format format, const struct sl_notice *no, struct sl_buf *out,
                      struct sl_error *err);

/* Send with retries; cancelled(arg) is checked between attempts (may be NULL). */
int sl_notifier_send(const struct sl_notifier *n, const struct sl_notice *no,
                     bool (*cancelled)(void *arg), void *arg, struct sl_error *err);

const char *sl_notify_event_name(enum sl_notify_event e);

#endif
