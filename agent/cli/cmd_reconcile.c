/*
 * `sluice reconcile [ENV] --once`: one reconcile of one or every environment, with
 * progress on stderr and a summary table (or JSON) on stdout.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "file.h"
#include "session.h"
#include "strparse.h"

/* One process manages a state directory: a running daemon holds daemon.lock. */
#include "daemon.h"

const char sl_usage_reconcile[] =
        "Usage: sluice reconcile [ENV] [--once] [--config FILE] [-o text|json] [-q]\n\n"
        "Reconcile ENV (default: every environment, in configuration order) once:\n"
        "fetch the repository, resolve the environment's revision, render, unseal and\n"
        "check it, compare it with the cluster, dry-run every change on the server,\n"
        "apply with server-side apply (CRDs and Namespaces first), prune what left git,\n"
        "and wait for health. When a new revision fails, the last good revision is\n"
        "re-applied automatically and the failed one is marked bad (see `sluice retry`).\n\n"
        "Progress lines (phase, object, action) go to stderr; a summary table goes to\n"
        "stdout.\n\n"
        "When a sluice daemon (`sluice run`) manages the state directory, reconcile\n"
        "does not compete with it: it asks the daemon for an immediate poll of ENV (or\n"
        "of every environment) through its control socket and prints the answer.\n\n"
        "Options:\n"
        "      --once           reconcile once and exit (the default; `sluice run` loops)\n"
        "  -c, --config FILE    configuration (default $SLUICE_CONFIG, then\n"
        "                       /etc/sluice/sluice.yaml)\n"
        "  -o, --output FORMAT  text (default) or json\n"
        "  -q, --quiet          no progress lines\n\n"
        "Exit status: 0 every environment healthy (or suspended), 1 a failure, a\n"
        "rollback or a rejected revision, 2 usage error.\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/*
 * A daemon holds the state directory: ask it for an immediate poll instead of
 * reconciling beside it (two writers would race on the same state).
 */
static int trigger_daemon(const char *state_dir, const char *only, enum sl_output fmt,
                          struct sl_error *lock_err)
{
    struct sl_buf reply = SL_BUF_INIT(64 * 1024);
    struct sl_error err = SL_ERROR_INIT;
    char request[256];
    int rc = SL_EXIT_FAIL;

    if (only != NULL)
        snprintf(request, sizeof(request), "poll %s", only);
    else
        snprintf(request, sizeof(request), "poll");
    if (sl_daemon_control(state_dir, request, &reply, &err) != 0) {
        /* The lock is held but nobody answers: report both facts. */
        sl_error_wrap(&err, "%s; asking it for a poll failed", lock_err->msg);
        sl_cli_fail(&err);
        goto done;
    }
    while (reply.len > 0 && reply.ptr[reply.len - 1] == '\n')
        sl_buf_truncate(&reply, reply.len - 1);
    if (strncmp(reply.ptr, "ok", 2) != 0) {
        fprintf(stderr, "sluice reconcile: the running daemon refused: %s\n", reply.ptr);
        goto done;
    }
    if (fmt == SL_OUT_JSON) {
        json_t *j = json_pack("{s:s, s:s, s:s}", "triggered", only != NULL ? only : "all", "daemon",
                              "running", "reply", reply.ptr);
        if (j != NULL)
            sl_cli_print_json(j);
        json_decref(j);
    } else {
        printf("a sluice daemon manages %s: asked it to poll %s now (%s)\n", state_dir,
               only != NULL ? only : "every environment", reply.ptr);
    }
    rc = SL_EXIT_OK;
done:
    sl_buf_release(&reply);
    return rc;
}

static void on_progress(void *ctx, enum sl_rc_phase phase, const char *object, const char *what)
{
    const char *env = ctx;

    if (object != NULL)
        fprintf(stderr, "%s: %s: %s: %s\n", env, sl_rc_phase_name(phase), object,
                what != NULL ? what : "");
    else
        fprintf(stderr, "%s: %s: %s\n", env, sl_rc_phase_name(phase), what != NULL ? what : "");
}

static void short_rev(const char *rev, char *out, size_t n)
{
    snprintf(out, n, "%.12s", rev != NULL && rev[0] ? rev : "-");
}

static void print_text(const char *env, const struct sl_rc_result *res, bool write_table)
{
    char rev[16], dur[32];

    if (write_table && res->nobjects > 0) {
        static const char *const hdr[] = {"object", "action", "health", "detail"};
        struct sl_table t;
        sl_table_init(&t, 4, hdr);
        for (size_t i = 0; i < res->nobjects; i++) {
            const struct sl_rc_object *o = &res->objects[i];
            const char *row[] = {o->id, o->action, o->health[0] ? o->health : "-", o->detail};
            sl_table_add(&t, row);
        }
        sl_table_print(&t, stdout);
        sl_table_release(&t);
    }
    short_rev(res->revision, rev, sizeof(rev));
    sl_format_duration(dur, sizeof(dur), res->duration_ms);
    if (res->result == SL_RESULT_REJECTED && res->target[0] != '\0' &&
        strcmp(res->target, res->revision) != 0) {
        /* Name what was refused, and what stays live instead. */
        char target[16];
        short_rev(res->target, target, sizeof(target));
        printf("%s: rejected %s, %s stays live: %u writes in %s\n", env, target,
               res->revision[0] != '\0' ? rev : "nothing", res->writes, dur);
    } else {
        printf("%s: %s at %s: %u created, %u updated, %u unchanged, %u pruned, %u drifted%s, "
               "%u writes in %s\n",
               env, sl_result_name(res->result), rev, res->created, res->updated, res->unchanged,
               res->pruned, res->drifted, res->drift_reported_only ? " (reported only)" : "",
               res->writes, dur);
    }
    if (res->message[0] != '\0')
        printf("%s: %s\n", env, res->message);
}

int sl_cmd_reconcile(int argc, char **argv)
{
    static const struct option opts[] = {{"once", no_argument, NULL, 'O'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {NULL, 0, NULL, 0}};
    struct sl_rc_session s;
    struct sl_error err = SL_ERROR_INIT;
    enum sl_output fmt = SL_OUT_TEXT;
    const char *config = NULL, *only = NULL;
    bool quiet = false, failed = false, any = false;
    json_t *jout = NULL;
    struct sigaction sa;
    int c, lockfd = -1, rc = SL_EXIT_FAIL;

    while ((c = getopt_long(argc, argv, "c:o:q", opts, NULL)) != -1) {
        switch (c) {
        case 'O':
            break;
        case 'c':
            config = optarg;
            break;
        case 'o':
            if (sl_cli_parse_output("reconcile", optarg, 1u << SL_OUT_TEXT | 1u << SL_OUT_JSON,
                                    &fmt) != 0)
                return SL_EXIT_USAGE;
            break;
        case 'q':
            quiet = true;
            break;
        default:
            return sl_cli_usage_error("reconcile", "unknown option");
        }
    }
    if (argc - optind > 1)
        return sl_cli_usage_error("reconcile", "expected at most one ENV");
    if (optind < argc)
        only = argv[optind];
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (sl_rc_session_open(&s, sl_cli_config_path(config), SL_SESSION_CLUSTER | SL_SESSION_SOURCE,
                           &stop_flag, &err) != 0) {
        sl_cli_fail(&err);
        return SL_EXIT_FAIL;
    }
    if (only != NULL && sl_config_env(s.cfg, only) == NULL) {
        rc = sl_cli_usage_error("reconcile", "no environment \"%s\" in the configuration", only);
        goto done;
    }
    if (sl_mkdir_p(s.cfg->state_dir, 0700, &err) != 0 ||
        sl_daemon_lock(s.cfg->state_dir, &lockfd, &err) != 0) {
        if (err.code == SL_ECONFLICT)
            rc = trigger_daemon(s.cfg->state_dir, only, fmt, &err);
        else
            sl_cli_fail(&err);
        goto done;
    }
    if (fmt == SL_OUT_JSON)
        jout = json_array();
    for (size_t i = 0; i < s.cfg->nenvs && !stop_flag; i++) {
        const struct sl_env_config *env = &s.cfg->envs[i];
        struct sl_rc_result res;
        struct sl_rc_opts o = s.opts;
        struct sl_error eerr = SL_ERROR_INIT;
        int r;

        if (only != NULL && strcmp(env->name, only) != 0)
            continue;
        any = true;
        /* a newer revision in git cancels a pending health wait (checked every 15s) */
        o.new_revision_check_ms = 15000;
        if (!quiet) {
            o.progress = on_progress;
            o.progress_ctx = env->name;
        }
        r = sl_reconcile_env(s.cfg, env, &s.cluster, &s.desired, &o, &res, &eerr);
        if (r != 0 && res.message[0] == '\0') {
            size_t n = strnlen(eerr.msg, sizeof(res.message) - 1);
            memcpy(res.message, eerr.msg, n);
            res.message[n] = '\0';
        }
        if (r != 0 || (res.result != SL_RESULT_HEALTHY && res.result != SL_RESULT_SKIPPED))
            failed = true;
        if (r == 0 && res.result == SL_RESULT_SKIPPED && strstr(res.message, "suspended") == NULL)
            failed = true;
        if (jout != NULL) {
            json_t *j = sl_rc_result_to_json(&res);
            if (j != NULL) {
                json_object_set_new(j, "environment", json_string(env->name));
                if (r != 0)
                    json_object_set_new(j, "error", json_string(eerr.msg));
                json_array_append_new(jout, j);
            }
        } else {
            if (r != 0)
                fprintf(stderr, "sluice reconcile: %s: %s\n", env->name, eerr.msg);
            print_text(env->name, &res, true);
        }
        sl_rc_result_release(&res);
    }
    if (sl_rc_session_finish(&s, &err) != 0) {
        sl_cli_fail(&err);
        failed = true;
    }
    if (jout != NULL && sl_cli_print_json(jout) != 0)
        failed = true;
    if (!any && only == NULL) {
        fprintf(stderr, "sluice reconcile: no environments configured\n");
        failed = true;
    }
    if (stop_flag)
        failed = true;
    rc = failed ? SL_EXIT_FAIL : SL_EXIT_OK;
done:
    if (lockfd >= 0)
        close(lockfd);
    json_decref(jout);
    sl_rc_session_close(&s);
    return rc;
}
