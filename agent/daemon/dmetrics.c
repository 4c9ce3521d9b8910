#include <string.h>

#include "dmetrics.h"

static const char *const outcome_names[] = {"unchanged", "applied", "rolled_back",
                                            "failed",    "denied",  "canceled"};

const char *sl_run_outcome_name(enum sl_run_outcome o)
{
    if ((unsigned)o >= sizeof(outcome_names) / sizeof(outcome_names[0]))
        return "unknown";
    return outcome_names[o];
}

/* Reconciles range from milliseconds (nothing changed) to the health timeout. */
static const double duration_buckets[] = {0.05, 0.1, 0.25, 0.5, 1,   2.5, 5,
                                          10,   30,  60,   120, 300, 600, 1800};

int sl_dmetrics_init(struct sl_dmetrics *dm, const char *version, const char *commit,
                     struct sl_error *err)
{
    static const char *const l_build[] = {"version", "commit", NULL};
    static const char *const l_env[] = {"environment", NULL};
    static const char *const l_env_result[] = {"environment", "result", NULL};
    static const char *const l_rev[] = {"environment", "revision", "ref", NULL};
    static const char *const l_rule[] = {"environment", "rule", NULL};
    static const char *const l_hook[] = {"hook", "result", NULL};
    static const char *const l_result[] = {"result", NULL};
    struct sl_metrics *m;

    memset(dm, 0, sizeof(*dm));
    m = dm->reg = sl_metrics_new();
    if (m == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
#define REG(field, name, help, type, labels, b, nb)                                                \
    do {                                                                                           \
        dm->field = sl_metrics_register(m, name, help, type, labels, b, nb, err);                  \
        if (dm->field == NULL)                                                                     \
            goto fail;                                                                             \
    } while (0)
    REG(build_info, "sluice_build_info", "sluice version and build commit (always 1).",
        SL_METRIC_GAUGE, l_build, NULL, 0);
    REG(ready, "sluice_ready",
        "1 once the configuration is loaded and every environment was polled once.",
        SL_METRIC_GAUGE, NULL, NULL, 0);
    REG(duration, "sluice_reconcile_duration_seconds",
        "Time one reconcile of an environment took, by result.", SL_METRIC_HISTOGRAM, l_env_result,
        duration_buckets, sizeof(duration_buckets) / sizeof(duration_buckets[0]));
    REG(reconciles, "sluice_reconciles_total", "Reconciles run, by environment and result.",
        SL_METRIC_COUNTER, l_env_result, NULL, 0);
    REG(rollbacks, "sluice_rollbacks_total",
        "Automatic rollbacks to the last good revision, by environment.", SL_METRIC_COUNTER, l_env,
        NULL, 0);
    REG(drifted, "sluice_drifted_objects",
        "Objects that differed from git in the last reconcile, by environment.", SL_METRIC_GAUGE,
        l_env, NULL, 0);
    REG(revision_info, "sluice_applied_revision_info",
        "The revision applied to an environment (always 1; the revision is a label).",
        SL_METRIC_GAUGE, l_rev, NULL, 0);
    REG(poll_errors, "sluice_source_poll_errors_total",
        "Failures fetching or resolving the git source, by environment.", SL_METRIC_COUNTER, l_env,
        NULL, 0);
    REG(last_success, "sluice_last_success_timestamp_seconds",
        "Unix time of the last successful reconcile, by environment.", SL_METRIC_GAUGE, l_env, NULL,
        0);
    REG(consecutive_failures, "sluice_consecutive_failures",
        "Failed reconciles in a row (0 after a success), by environment.", SL_METRIC_GAUGE, l_env,
        NULL, 0);
    REG(violations, "sluice_policy_violations_total",
        "Policy violations found in rendered revisions, by environment and rule.",
        SL_METRIC_COUNTER, l_rule, NULL, 0);
    REG(webhooks, "sluice_webhook_requests_total",
        "Webhook requests, by hook and result (accepted, ignored, rejected, limited).",
        SL_METRIC_COUNTER, l_hook, NULL, 0);
    REG(notifications, "sluice_notifications_total",
        "Outbound notifications, by result (sent, failed).", SL_METRIC_COUNTER, l_result, NULL, 0);
    REG(reloads, "sluice_config_reloads_total",
        "Configuration reloads (SIGHUP), by result (ok, rejected).", SL_METRIC_COUNTER, l_result,
        NULL, 0);
#undef REG
    if (sl_metric_set(dm->build_info, (const char *[]){version, commit}, 1, err) != 0 ||
        sl_metric_set(dm->ready, NULL, 0, err) != 0)
        goto fail;
    return 0;
fail:
    sl_dmetrics_release(dm);
    return -1;
}

void sl_dmetrics_release(struct sl_dmetrics *dm)
{
    sl_metrics_free(dm->reg);
    memset(dm, 0, sizeof(*dm));
}

int sl_dmetrics_add_env(struct sl_dmetrics *dm, const char *env, struct sl_error *err)
{
    const char *v[] = {env};

    if (sl_metric_inc(dm->rollbacks, v, 0, err) != 0 ||
        sl_metric_inc(dm->poll_errors, v, 0, err) != 0 ||
        sl_metric_set(dm->consecutive_failures, v, 0, err) != 0)
        return -1;
    return 0;
}

int sl_dmetrics_record(struct sl_dmetrics *dm, const char *env, const struct sl_run_result *r,
                       double seconds, double now, struct sl_error *err)
{
    const char *result = sl_run_outcome_name(r->outcome);
    const char *v[] = {env};
    const char *vr[] = {env, result};

    if (sl_metric_observe(dm->duration, vr, seconds, err) != 0 ||
        sl_metric_inc(dm->reconciles, vr, 1, err) != 0)
        return -1;
    if (r->outcome == SL_RUN_ROLLED_BACK && sl_metric_inc(dm->rollbacks, v, 1, err) != 0)
        return -1;
    if (r->source_error && sl_metric_inc(dm->poll_errors, v, 1, err) != 0)
        return -1;
    for (size_t i = 0; i < r->nviolations && i < SL_RUN_MAX_VIOLATIONS; i++) {
        const char *vv[] = {env, r->violations[i].rule};
        if (sl_metric_inc(dm->violations, vv, r->violations[i].count, err) != 0)
            return -1;
    }
    /* Drift and the applied revision are only known when the run got that far. */
    if (r->outcome == SL_RUN_UNCHANGED || r->outcome == SL_RUN_APPLIED ||
        r->outcome == SL_RUN_ROLLED_BACK) {
        if (sl_metric_set(dm->drifted, v, r->drifted, err) != 0)
            return -1;
        if (r->revision[0] != '\0') {
            const char *vi[] = {env, r->revision, r->ref};
            sl_metric_remove_where(dm->revision_info, 0, env);
            if (sl_metric_set(dm->revision_info, vi, 1, err) != 0)
                return -1;
        }
        if (sl_metric_set(dm->last_success, v, now, err) != 0)
            return -1;
    }
    return 0;
}

void sl_dmetrics_forget_env(struct sl_dmetrics *dm, const char *env)
{
    struct sl_metric_family *per_env[] = {
            dm->duration,     dm->reconciles,    dm->rollbacks,
            dm->drifted,      dm->revision_info, dm->poll_errors,
            dm->last_success, dm->violations,    dm->consecutive_failures};

    for (size_t i = 0; i < sizeof(per_env) / sizeof(per_env[0]); i++)
        sl_metric_remove_where(per_env[i], 0, env);
}

int sl_dmetrics_set_failures(struct sl_dmetrics *dm, const char *env, unsigned n,
                             struct sl_error *err)
{
    return sl_metric_set(dm->consecutive_failures, (const char *[]){env}, n, err);
}

int sl_dmetrics_webhook(struct sl_dmetrics *dm, const char *hook, const char *result,
                        struct sl_error *err)
{
    return sl_metric_inc(dm->webhooks, (const char *[]){hook, result}, 1, err);
}

int sl_dmetrics_notification(struct sl_dmetrics *dm, const char *result, struct sl_error *err)
{
    return sl_metric_inc(dm->notifications, (const char *[]){result}, 1, err);
}

int sl_dmetrics_reload(struct sl_dmetrics *dm, bool ok, struct sl_error *err)
{
    return sl_metric_inc(dm->reloads, (const char *[]){ok ? "ok" : "rejected"}, 1, err);
}

int sl_dmetrics_set_ready(struct sl_dmetrics *dm, bool ready, struct sl_error *err)
{
    return sl_metric_set(dm->ready, NULL, ready ? 1 : 0, err);
}
