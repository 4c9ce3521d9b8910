#include "daemon_glue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

struct sl_rc_daemon {
    const struct sl_config *cfg; /* the configuration the session belongs to, or NULL */
    struct sl_rc_session s;
};

struct sl_rc_daemon *sl_rc_daemon_new(void)
{
    return calloc(1, sizeof(struct sl_rc_daemon));
}

void sl_rc_daemon_free(struct sl_rc_daemon *d)
{
    if (d == NULL)
        return;
    if (d->cfg != NULL)
        sl_rc_session_close(&d->s);
    free(d);
}

void sl_rc_daemon_retire(void *arg, const struct sl_config *cfg)
{
    struct sl_rc_daemon *d = arg;

    if (d != NULL && d->cfg != NULL && d->cfg == cfg) {
        sl_rc_session_close(&d->s);
        d->cfg = NULL;
    }
}

static void copy(char *dst, size_t n, const char *src)
{
    size_t len = strnlen(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

int sl_rc_daemon_reconcile(void *arg, struct sl_daemon_ctx *ctx, const struct sl_env_config *env,
                           struct sl_run_result *out, struct sl_error *err)
{
    struct sl_rc_daemon *d = arg;
    const struct sl_config *cfg = sl_daemon_ctx_config(ctx);
    struct sl_rc_opts o;
    struct sl_rc_result res;
    int rc;

    if (d->cfg != cfg) {
        if (d->cfg != NULL)
            sl_rc_session_close(&d->s);
        d->cfg = NULL;
        if (sl_rc_session_open_config(&d->s, cfg, SL_SESSION_CLUSTER | SL_SESSION_SOURCE, NULL,
                                      err) != 0)
            return -1;
        d->cfg = cfg;
    }
    sl_rc_session_new_round(&d->s);
    o = d->s.opts;
    o.cancel = sl_daemon_ctx_cancel_flag(ctx);
    o.new_revision_check_ms = 15000;
    rc = sl_reconcile_env(cfg, env, &d->s.cluster, &d->s.desired, &o, &res, err);
    if (sl_rc_session_finish(&d->s, err) != 0 && rc == 0)
        rc = -1;
    copy(out->revision, sizeof(out->revision), res.revision);
    copy(out->ref, sizeof(out->ref), res.ref);
    copy(out->failed_revision, sizeof(out->failed_revision), res.failed_revision);
    out->applied = res.created + res.updated + (res.drift_reported_only ? 0 : res.drifted);
    out->pruned = res.pruned;
    out->unchanged = res.unchanged;
    out->drifted = res.drifted;
    copy(out->summary, sizeof(out->summary), res.message);
    if (rc != 0) {
        out->source_error = strncmp(err->msg, "resolve revision", 16) == 0;
        sl_rc_result_release(&res);
        return -1;
    }
    switch (res.result) {
    case SL_RESULT_HEALTHY:
    case SL_RESULT_SKIPPED:
        out->outcome = res.writes > 0 ? SL_RUN_APPLIED : SL_RUN_UNCHANGED;
        break;
    case SL_RESULT_ROLLED_BACK:
        out->outcome = SL_RUN_ROLLED_BACK;
        break;
    case SL_RESULT_REJECTED:
        if (strstr(res.message, "policy denied") != NULL) {
            out->outcome = SL_RUN_DENIED;
            break;
        }
        sl_error_set(err, SL_EINVAL, "%s", res.message);
        rc = -1;
        break;
    default:
        if (sl_daemon_ctx_stopping(ctx)) {
            out->outcome = SL_RUN_CANCELED;
            break;
        }
        sl_error_set(err, SL_EGENERIC, "%s", res.message[0] ? res.message : "reconcile failed");
        rc = -1;
        break;
    }
    sl_rc_result_release(&res);
    return rc;
}
