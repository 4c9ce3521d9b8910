/*
 * The daemon's metric set (names are part of the user interface; the README
 * lists them with example alert rules) and how a reconcile result updates it.
 */
#ifndef SL_DMETRICS_H
#define SL_DMETRICS_H

#include <stdbool.h>

#include "metrics.h"
#include "runresult.h"

struct sl_dmetrics {
    struct sl_metrics *reg;
    struct sl_metric_family *build_info;           /* {version, commit} */
    struct sl_metric_family *ready;                /* 1 once every environment was polled */
    struct sl_metric_family *duration;             /* histogram {environment, result} */
    struct sl_metric_family *reconciles;           /* counter {environment, result} */
    struct sl_metric_family *rollbacks;            /* counter {environment} */
    struct sl_metric_family *drifted;              /* gauge {environment} */
    struct sl_metric_family *revision_info;        /* gauge {environment, revision, ref} = 1 */
    struct sl_metric_family *poll_errors;          /* counter {environment} */
    struct sl_metric_family *last_success;         /* gauge {environment}, unix seconds */
    struct sl_metric_family *consecutive_failures; /* gauge {environment} */
    struct sl_metric_family *violations;           /* counter {environment, rule} */
    struct sl_metric_family *webhooks;             /* counter {hook, result} */
    struct sl_metric_family *notifications;        /* counter {result} */
    struct sl_metric_family *reloads;              /* counter {result} */
};

int sl_dmetrics_init(struct sl_dmetrics *dm, const char *version, const char *commit,
                     struct sl_error *err);
void sl_dmetrics_release(struct sl_dmetrics *dm);

/* Record one finished run: duration in seconds, now as unix seconds. */
int sl_dmetrics_record(struct sl_dmetrics *dm, const char *env, const struct sl_run_result *r,
                       double seconds, double now, struct sl_error *err);
/* Forget every series of an environment that left the configuration. */
void sl_dmetrics_forget_env(struct sl_dmetrics *dm, const char *env);
/* Start the per-environment series at zero so rate() and absent() work from the start. */
int sl_dmetrics_add_env(struct sl_dmetrics *dm, const char *env, struct sl_error *err);
int sl_dmetrics_set_failures(struct sl_dmetrics *dm, const char *env, unsigned n,
                             struct sl_error *err);
int sl_dmetrics_webhook(struct sl_dmetrics *dm, const char *hook, const char *result,
                        struct sl_error *err);
int sl_dmetrics_notification(struct sl_dmetrics *dm, const char *result, struct sl_error *err);
int sl_dmetrics_reload(struct sl_dmetrics *dm, bool ok, struct sl_error *err);
int sl_dmetrics_set_ready(struct sl_dmetrics *dm, bool ready, struct sl_error *err);

#endif
