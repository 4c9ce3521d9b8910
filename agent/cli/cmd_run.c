#include <curl/curl.h>
#include <getopt.h>
#include <git2.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"
#include "fake.h"
#include "log.h"
#include "version.h"

#include "pipeline.h"
#include "session.h"

const char sl_usage_run[] =
        "Usage: sluice run [--config FILE]\n\n"
        "Run as a service: poll every environment on its interval, reconcile it,\n"
        "serve /metrics, /healthz, /readyz and webhooks on http.listen, and send\n"
        "notifications. Logs go to stderr in logfmt, one line per reconcile.\n\n"
        "  SIGHUP   reload the configuration (a bad one is rejected and logged)\n"
        "  SIGTERM  stop gracefully (SIGINT too); the current run stops at a safe point\n"
        "  SIGUSR1  poll every environment now\n\n"
        "A running daemon also polls on request through its control socket,\n"
        "STATE_DIR/control.sock: one line, \"poll\", \"poll ENV\" or \"status\".\n"
        "Under systemd it speaks the notify protocol (Type=notify, WatchdogSec=).\n\n"
        "Options:\n"
        "  -c, --config FILE         configuration (default $SLUICE_CONFIG, then\n"
        "                            /etc/sluice/sluice.yaml)\n"
        "      --fake-reconcile FILE for tests and benchmarks of the service itself:\n"
        "                            simulate every reconcile from a JSON script\n"
        "                            instead of touching git or a cluster\n\n"
        "Exit status: 0 after a clean stop, 1 on a startup error or a stop timeout,\n"
        "2 usage error.\n";

/*
 * The real pipeline behind the daemon's seam: one reconcile session (kube
 * client, git cache, renderer) per configuration, used only from the
 * daemon's worker thread and dropped when the daemon retires the
 * configuration (reload, exit).
 */
struct live {
    const struct sl_config *cfg; /* the configuration s was opened for, NULL when closed */
    struct sl_rc_session s;
    enum sl_rc_phase phase; /* last phase reported in the current run */
};

static void live_retire(void *arg, const struct sl_config *cfg)
{
    struct live *l = arg;

    if (l->cfg != NULL && l->cfg == cfg) {
        sl_rc_session_close(&l->s);
        l->cfg = NULL;
    }
}

static bool live_stopping(void *ctx)
{
    return sl_daemon_ctx_stopping(ctx);
}

static void live_progress(void *ctx, enum sl_rc_phase phase, const char *object, const char *what)
{
    ((struct live *)ctx)->phase = phase;
}

static void copy_str(char *dst, size_t len, const char *src)
{
    size_t n = strnlen(src, len - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int live_reconcile(void *arg, struct sl_daemon_ctx *ctx, const struct sl_env_config *env,
                          struct sl_run_result *res, struct sl_error *err)
{
    struct live *l = arg;
    const struct sl_config *cfg = sl_daemon_ctx_config(ctx);
    struct sl_rc_result r;
    struct sl_rc_opts o;
    struct sl_error rerr = SL_ERROR_INIT, ferr = SL_ERROR_INIT;
    int rc;

    if (l->cfg == NULL) {
        if (sl_rc_session_open_config(&l->s, cfg, SL_SESSION_CLUSTER | SL_SESSION_SOURCE,
                                      sl_daemon_ctx_cancel_flag(ctx), err) != 0)
            return -1;
        l->cfg = cfg;
    } else {
        sl_rc_session_new_round(&l->s); /* fetch again */
    }
    o = l->s.opts;
    o.stopping = live_stopping;
    o.stopping_ctx = ctx;
    o.progress = live_progress;
    o.progress_ctx = l;
    l->phase = SL_PHASE_RESOLVE;
    memset(&r, 0, sizeof(r));
    rc = sl_reconcile_env(cfg, env, &l->s.cluster, &l->s.desired, &o, &r, &rerr);
    if (sl_rc_session_finish(&l->s, &ferr) != 0)
        sl_log_warn("could not record the source state", "env", env->name, "error", ferr.msg);

    copy_str(res->revision, sizeof(res->revision), r.revision);
    copy_str(res->ref, sizeof(res->ref), r.ref);
    copy_str(res->failed_revision, sizeof(res->failed_revision), r.failed_revision);
    copy_str(res->summary, sizeof(res->summary), r.message);
    res->applied = r.created + r.updated;
    res->pruned = r.pruned;
    res->unchanged = r.unchanged;
    res->drifted = r.drifted;
    /* A failed fetch that fell back to the cache still counts as a poll error. */
    res->source_error = sl_pipeline_poll_failed(l->s.pipeline);
    {
        const struct sl_pipeline_violation *v;
        size_t nv = sl_pipeline_violations(l->s.pipeline, env->name, &v);
        for (size_t i = 0; i < nv && i < SL_RUN_MAX_VIOLATIONS; i++) {
            copy_str(res->violations[i].rule, sizeof(res->violations[i].rule), v[i].rule);
            res->violations[i].count = v[i].count;
            res->nviolations = i + 1;
        }
    }
    if (rc != 0 || r.result == SL_RESULT_FAILED) {
        res->source_error = res->source_error || l->phase == SL_PHASE_RESOLVE;
        if (sl_daemon_ctx_stopping(ctx) &&
            (rerr.code == SL_ECANCELED || strstr(r.message, "cancel") != NULL)) {
            res->outcome = SL_RUN_CANCELED;
            rc = 0;
        } else {
            res->outcome = SL_RUN_FAILED;
            if (rerr.code != SL_OK)
                sl_error_set(err, rerr.code, "%s", rerr.msg);
            else
                sl_error_set(err, SL_EGENERIC, "%s", r.message[0] ? r.message : "failed");
            rc = -1;
        }
    } else if (r.result == SL_RESULT_ROLLED_BACK) {
        res->outcome = SL_RUN_ROLLED_BACK;
    } else if (r.result == SL_RESULT_REJECTED) {
        /* Refused before any write: by policy, or the revision does not render. */
        if (strstr(r.message, "polic") != NULL) {
            res->outcome = SL_RUN_DENIED;
        } else {
            res->outcome = SL_RUN_FAILED;
            sl_error_set(err, SL_EINVAL, "%s", r.message);
            rc = -1;
        }
    } else if (r.result == SL_RESULT_HEALTHY && r.writes > 0) {
        res->outcome = SL_RUN_APPLIED;
    } else {
        res->outcome = SL_RUN_UNCHANGED; /* healthy without writes, or skipped (suspended) */
    }
    sl_rc_result_release(&r);
    return rc;
}

int sl_cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"fake-reconcile", required_argument, NULL, 'F'},
                                         {NULL, 0, NULL, 0}};
    struct sl_daemon_opts o = {0};
    struct live live;
    memset(&live, 0, sizeof(live));
    struct sl_diags diags = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;
    const char *config = NULL;
    char *fake = NULL;
    int c, rc = SL_EXIT_FAIL;

    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'F')
            fake = optarg;
        else
            return sl_cli_usage_error("run", "unknown option");
    }
    if (optind < argc)
        return sl_cli_usage_error("run", "unexpected argument \"%s\"", argv[optind]);
    o.config_path = sl_cli_config_path(config);
    o.version = SLUICE_VERSION;
    o.commit = SLUICE_GIT_COMMIT;
    if (fake != NULL) {
        o.reconcile = sl_fake_reconcile;
        o.reconcile_arg = fake;
    }
    if (o.reconcile == NULL) {
        o.reconcile = live_reconcile;
        o.reconcile_arg = &live;
        o.retire = live_retire;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sl_error_set(&err, SL_EGENERIC, "curl_global_init failed");
        return sl_cli_fail(&err);
    }
    /*
     * Hold libgit2 initialised for the whole run: sessions come and go with
     * reloads on the main thread, and a shutdown there would orphan the
     * worker thread's libgit2 thread state.
     */
    if (git_libgit2_init() < 0) {
        curl_global_cleanup();
        sl_error_set(&err, SL_EGENERIC, "git_libgit2_init failed");
        return sl_cli_fail(&err);
    }
    if (sl_daemon_run(&o, &diags, &err) == 0) {
        rc = SL_EXIT_OK;
    } else {
        for (size_t i = 0; i < diags.n; i++)
            fprintf(stderr, "%s\n", diags.msgs[i]);
        if (diags.n == 0)
            sl_cli_fail(&err);
    }
    sl_diags_release(&diags);
    if (err.code == SL_ETIMEOUT) {
        /*
         * The worker is still inside a reconcile (perhaps inside libcurl) and
         * owns memory and handles: end the process here, without running exit
         * handlers or library teardown underneath it. The one exception to
         * "only main exits", for the one path where returning is unsafe.
         */
        fflush(stdout);
        fflush(stderr);
        _exit(SL_EXIT_FAIL);
    }
    git_libgit2_shutdown();
    curl_global_cleanup();
    return rc;
}
