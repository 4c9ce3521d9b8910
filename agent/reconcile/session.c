#include "session.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "diag.h"

#include "cluster_kube.h"
#include "kube.h"
#include "pipeline.h"

int sl_rc_load_config(struct sl_config **out, const char *config_path, struct sl_error *err)
{
    struct sl_diags diags = SL_DIAGS_INIT;
    int rc = sl_config_load(out, config_path, &diags, err);

    if (rc != 0)
        for (size_t i = 0; i < diags.n; i++)
            fprintf(stderr, "%s\n", diags.msgs[i]);
    sl_diags_release(&diags);
    return rc;
}

static int open_rest(struct sl_rc_session *s, unsigned flags, const volatile sig_atomic_t *cancel,
                     struct sl_error *err);

int sl_rc_session_open(struct sl_rc_session *s, const char *config_path, unsigned flags,
                       const volatile sig_atomic_t *cancel, struct sl_error *err)
{
    memset(s, 0, sizeof(*s));
    if (sl_rc_load_config(&s->cfg, config_path, err) != 0)
        return -1;
    return open_rest(s, flags, cancel, err);
}

int sl_rc_session_open_config(struct sl_rc_session *s, const struct sl_config *cfg, unsigned flags,
                              const volatile sig_atomic_t *cancel, struct sl_error *err)
{
    memset(s, 0, sizeof(*s));
    s->cfg = (struct sl_config *)(uintptr_t)cfg;
    s->borrowed_cfg = true;
    return open_rest(s, flags, cancel, err);
}

void sl_rc_session_new_round(struct sl_rc_session *s)
{
    if (s->pipeline != NULL)
        sl_pipeline_repoll(s->pipeline);
}

static int open_rest(struct sl_rc_session *s, unsigned flags, const volatile sig_atomic_t *cancel,
                     struct sl_error *err)
{
    s->opts.agent = s->cfg->name;
    s->opts.field_manager = s->cfg->cluster.field_manager;
    s->opts.force_conflicts = s->cfg->cluster.force_conflicts;
    s->opts.poll_interval_ms = 2000;
    s->opts.settle_timeout_ms = 60000;
    s->opts.cancel = cancel;
    if (flags & SL_SESSION_CLUSTER) {
        struct sl_kube_options ko;
        memset(&ko, 0, sizeof(ko));
        ko.in_cluster = s->cfg->cluster.in_cluster;
        ko.kubeconfig = s->cfg->cluster.kubeconfig;
        ko.context = s->cfg->cluster.context;
        ko.field_manager = s->cfg->cluster.field_manager;
        ko.request_timeout_ms = s->cfg->cluster.request_timeout_ms;
        ko.qps = s->cfg->cluster.qps;
        ko.force_conflicts = s->cfg->cluster.force_conflicts;
        ko.cancel = cancel;
        if (sl_kube_cluster_open(&s->kube, &ko, err) != 0) {
            sl_error_wrap(err, "cluster");
            goto fail;
        }
        sl_cluster_from_kube(&s->cluster, s->kube);
    }
    if (flags & SL_SESSION_SOURCE) {
        struct sl_pipeline_opts po = {(flags & SL_SESSION_NO_POLL) != 0, false, cancel};
        if (sl_pipeline_open(s->cfg, &po, &s->pipeline, err) != 0)
            goto fail;
        sl_pipeline_desired(s->pipeline, &s->desired);
    }
    return 0;
fail:
    sl_rc_session_close(s);
    return -1;
}

int sl_rc_session_finish(struct sl_rc_session *s, struct sl_error *err)
{
    if (s->pipeline != NULL)
        return sl_pipeline_finish(s->pipeline, err);
    return 0;
}

void sl_rc_session_close(struct sl_rc_session *s)
{
    sl_pipeline_free(s->pipeline);
    sl_kube_cluster_free(s->kube);
    if (!s->borrowed_cfg)
        sl_config_free(s->cfg);
    memset(s, 0, sizeof(*s));
}
