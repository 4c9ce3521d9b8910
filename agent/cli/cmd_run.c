#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <git2.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"
#include "fake.h"
#include "file.h"
#include "lazy.h"
#include "log.h"
#include "notify.h"
#include "secmem.h"
#include "version.h"

#include "pipeline.h"
#include "session.h"

const char sl_usage_run[] =
        "Usage: sluice run [--config FILE]\n\n"
        "Run as a service: poll every environment on its interval, reconcile it,\n"
        "serve /metrics, /healthz, /readyz and webhooks on http.listen, and send\n"
        "notifications. Logs go to stderr in logfmt, one line per reconcile.\n\n"
        "  SIGHUP   reload the configuration (a bad one is rejected and logged)\n"
        "  SIGTERM  stop gracefully (SIGINT too); running reconciles stop at a safe point\n"
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
        "Each reconcile runs in a short-lived worker process (this program again,\n"
        "internally `sluice run --worker ENV`), up to daemon.parallel environments\n"
        "at once, so a slow environment never delays another.\n\n"
        "Exit status: 0 after a clean stop, 1 on a startup error or a stop timeout,\n"
        "2 usage error.\n";

/*
 * The real pipeline behind the daemon's seam runs in a worker process per
 * environment run: this binary again (/proc/self/exe, so an upgrade on disk
 * cannot mix versions), `sluice run --worker ENV`, with the daemon's
 * configuration on its stdin (normalised YAML, so a file edited but not yet
 * reloaded is never seen) and one JSON result on its stdout. So the daemon
 * itself never holds secrets, a kube client or a git cache between runs;
 * environments run in parallel without sharing a client; a run that must
 * be abandoned can be killed (the reconcile state survives a kill at any
 * point); and the idle daemon stays small.
 */

/* The worker process's stop flag: SIGTERM/SIGINT ask it to stop at a safe point. */
static volatile sig_atomic_t worker_stop;

static void on_worker_signal(int signo)
{
    (void)signo;
    worker_stop = 1;
}

/*
 * A worker stops at a safe point on SIGTERM/SIGINT; a parent gone away is no
 * crash. The daemon starts workers with both signals blocked, so one sent
 * while the worker was still starting is delivered here, to the handler,
 * instead of killing it before it could say what happened.
 */
static void worker_signals(void)
{
    struct sigaction sa;
    sigset_t set;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_worker_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static bool worker_stopping(void *ctx)
{
    (void)ctx;
    return worker_stop != 0;
}

struct progress {
    enum sl_rc_phase phase; /* last phase reported in the run */
};

static void worker_progress(void *ctx, enum sl_rc_phase phase, const char *object, const char *what)
{
    (void)object;
    (void)what;
    ((struct progress *)ctx)->phase = phase;
}

static void copy_str(char *dst, size_t len, const char *src)
{
    size_t n = strnlen(src, len - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* One reconcile of env, in the worker process. */
static int worker_reconcile(const struct sl_config *cfg, const struct sl_env_config *env,
                            struct sl_run_result *res, struct sl_error *err)
{
    struct sl_rc_session s;
    struct sl_rc_result r;
    struct sl_rc_opts o;
    struct progress pr = {SL_PHASE_RESOLVE};
    struct sl_error rerr = SL_ERROR_INIT, ferr = SL_ERROR_INIT;
    int rc;

    memset(&s, 0, sizeof(s));
    if (sl_rc_session_open_config(&s, cfg, SL_SESSION_CLUSTER | SL_SESSION_SOURCE, &worker_stop,
                                  err) != 0) {
        res->outcome = worker_stop ? SL_RUN_CANCELED : SL_RUN_FAILED;
        res->source_error = true;
        sl_rc_session_close(&s);
        return worker_stop ? 0 : -1;
    }
    o = s.opts;
    o.stopping = worker_stopping;
    o.progress = worker_progress;
    o.progress_ctx = &pr;
    /* A newer revision in git cancels a pending health wait (checked every 15 s). */
    o.new_revision_check_ms = 15000;
    memset(&r, 0, sizeof(r));
    rc = sl_reconcile_env(cfg, env, &s.cluster, &s.desired, &o, &r, &rerr);
    if (sl_rc_session_finish(&s, &ferr) != 0)
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
    res->source_error = sl_pipeline_poll_failed(s.pipeline);
    {
        const struct sl_pipeline_violation *v;
        size_t nv = sl_pipeline_violations(s.pipeline, env->name, &v);
        for (size_t i = 0; i < nv && i < SL_RUN_MAX_VIOLATIONS; i++) {
            copy_str(res->violations[i].rule, sizeof(res->violations[i].rule), v[i].rule);
            res->violations[i].count = v[i].count;
            res->nviolations = i + 1;
        }
    }
    if (rc != 0 || r.result == SL_RESULT_FAILED) {
        res->source_error = res->source_error || pr.phase == SL_PHASE_RESOLVE;
        if (worker_stop && (rerr.code == SL_ECANCELED || strstr(r.message, "cancel") != NULL)) {
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
    sl_rc_session_close(&s);
    return rc;
}

/* The result as one JSON line for the daemon (no secret: see runresult.h). */
static json_t *result_json(int rc, const struct sl_run_result *res, const struct sl_error *err)
{
    json_t *v = json_array();

    for (size_t i = 0; i < res->nviolations; i++)
        json_array_append_new(v, json_pack("[s, I]", res->violations[i].rule,
                                           (json_int_t)res->violations[i].count));
    return json_pack("{s:i, s:i, s:s, s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:o, s:s}",
                     "rc", rc, "code", (int)err->code, "error", err->msg, "outcome",
                     (int)res->outcome, "revision", res->revision, "ref", res->ref, "previous",
                     res->previous, "failedRevision", res->failed_revision, "applied",
                     (json_int_t)res->applied, "pruned", (json_int_t)res->pruned, "unchanged",
                     (json_int_t)res->unchanged, "drifted", (json_int_t)res->drifted, "sourceError",
                     res->source_error, "violations", v, "summary", res->summary);
}

static int result_parse(const char *text, size_t len, struct sl_run_result *res,
                        struct sl_error *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, 0, &jerr), *v, *item;
    const char *s;
    int rc = -1, outcome;
    size_t i;

    if (j == NULL || !json_is_object(j)) {
        sl_error_set(err, SL_EPARSE, "the worker's result is not JSON: %s", jerr.text);
        goto done;
    }
    outcome = (int)json_integer_value(json_object_get(j, "outcome"));
    if (outcome < SL_RUN_UNCHANGED || outcome > SL_RUN_CANCELED) {
        sl_error_set(err, SL_EPARSE, "the worker's result has no valid outcome");
        goto done;
    }
    res->outcome = (enum sl_run_outcome)outcome;
#define STR(key, field)                                                                            \
    if ((s = json_string_value(json_object_get(j, key))) != NULL)                                  \
        copy_str(res->field, sizeof(res->field), s);
    STR("revision", revision)
    STR("ref", ref)
    STR("previous", previous)
    STR("failedRevision", failed_revision)
    STR("summary", summary)
#undef STR
    res->applied = (unsigned)json_integer_value(json_object_get(j, "applied"));
    res->pruned = (unsigned)json_integer_value(json_object_get(j, "pruned"));
    res->unchanged = (unsigned)json_integer_value(json_object_get(j, "unchanged"));
    res->drifted = (unsigned)json_integer_value(json_object_get(j, "drifted"));
    res->source_error = json_is_true(json_object_get(j, "sourceError"));
    v = json_object_get(j, "violations");
    json_array_foreach(v, i, item)
    {
        if (res->nviolations == SL_RUN_MAX_VIOLATIONS)
            break;
        s = json_string_value(json_array_get(item, 0));
        if (s == NULL)
            continue;
        copy_str(res->violations[res->nviolations].rule, sizeof(res->violations[0].rule), s);
        res->violations[res->nviolations++].count =
                (unsigned)json_integer_value(json_array_get(item, 1));
    }
    if (json_integer_value(json_object_get(j, "rc")) != 0) {
        s = json_string_value(json_object_get(j, "error"));
        sl_error_set(err, (enum sl_code)json_integer_value(json_object_get(j, "code")), "%s",
                     s != NULL && s[0] != '\0' ? s : "reconcile failed");
        if (err->code == SL_OK)
            err->code = SL_EGENERIC;
        goto done;
    }
    rc = 0;
done:
    json_decref(j);
    return rc;
}

/* `sluice run --worker ENV`: one reconcile, configuration on stdin, result on stdout. */
static int worker_main(const char *env_name, const char *config_name)
{
    struct sl_buf conf = SL_BUF_INIT(4 << 20);
    struct sl_config *cfg = NULL;
    struct sl_run_result res;
    struct sl_error err = SL_ERROR_INIT;
    const struct sl_env_config *env;
    bool curl_up = false, git_up = false;
    json_t *j = NULL;
    char *text = NULL;
    pid_t parent = getppid();
    int rc = -1;

    memset(&res, 0, sizeof(res));
    worker_signals();
    res.outcome = SL_RUN_FAILED;
    /*
     * A daemon killed outright must not leave its workers applying: they
     * stop at the next safe point (the environment's lock keeps a restarted
     * daemon's worker out until then).
     */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
        worker_stop = 1;
    /* exec reset what the daemon set: secrets are about to be read again. */
    if (sl_daemon_harden(&err) != 0)
        goto done;
    if (sl_file_read_fd(&conf, STDIN_FILENO, "configuration from the daemon", 4 << 20, &err) != 0 ||
        sl_config_parse(&cfg, conf.ptr, conf.len, config_name, NULL, &err) != 0)
        goto done;
    env = sl_config_env(cfg, env_name);
    if (env == NULL) {
        sl_error_set(&err, SL_ENOTFOUND, "%s: no environment %s", config_name, env_name);
        goto done;
    }
    if (sl_lazy_require(SL_LAZY_CURL, &err) != 0 || sl_lazy_require(SL_LAZY_GIT2, &err) != 0)
        goto done;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sl_error_set(&err, SL_EGENERIC, "curl_global_init failed");
        goto done;
    }
    curl_up = true;
    if (git_libgit2_init() < 0) {
        sl_error_set(&err, SL_EGENERIC, "git_libgit2_init failed");
        goto done;
    }
    git_up = true;
    rc = worker_reconcile(cfg, env, &res, &err);
done:
    if (rc != 0 && err.code == SL_OK)
        sl_error_set(&err, SL_EGENERIC, "reconcile failed without a message");
    if (rc != 0 && res.outcome != SL_RUN_CANCELED)
        res.outcome = SL_RUN_FAILED;
    j = result_json(rc, &res, &err);
    text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    if (text == NULL || printf("%s\n", text) < 0 || fflush(stdout) != 0)
        rc = -1;
    free(text);
    json_decref(j);
    sl_config_free(cfg);
    sl_buf_release(&conf);
    if (git_up)
        git_libgit2_shutdown();
    if (curl_up)
        curl_global_cleanup();
    return rc == 0 ? SL_EXIT_OK : SL_EXIT_FAIL;
}

/* The daemon's environment minus what belongs to it alone (the notify socket). */
static char **worker_environ(void)
{
    extern char **environ;
    size_t n = 0, k = 0;
    char **out;

    while (environ[n] != NULL)
        n++;
    out = calloc(n + 1, sizeof(*out));
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) == 0 ||
            strncmp(environ[i], "WATCHDOG_", 9) == 0)
            continue;
        out[k++] = environ[i];
    }
    return out;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

#define WORKER_RESULT_MAX (256 << 10)

/* One worker process: this binary in MODE, INPUT on its stdin, its stdout collected. */
struct worker_call {
    char *mode; /* "--worker" or "--notify" (execve's argv is not const) */
    char *env;
    char *config_name;
    const char *input;
    size_t input_len;
    bool (*stop)(void *arg);     /* SIGTERM: stop at a safe point */
    bool (*kill_now)(void *arg); /* SIGKILL: abandoned */
    void *arg;
};

static int worker_spawn(const struct worker_call *c, struct sl_buf *out, int *status, bool *killed,
                        struct sl_error *err)
{
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, rc = -1, e;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    bool fa_ok = false, at_ok = false, termed = false;
    sigset_t mask, dfl;
    char **envp = NULL;
    pid_t pid = -1;
    char level[16];
    char *argv[] = {"sluice", "--log-level",   level,          "run", c->mode,
                    c->env,   "--config-name", c->config_name, NULL};

    *killed = false;
    *status = 0;
    snprintf(level, sizeof(level), "%s", sl_log_level_name(sl_log_get_level()));
    envp = worker_environ();
    if (envp == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0) {
        sl_error_errno(err, errno, "pipe");
        goto done;
    }
    if (posix_spawn_file_actions_init(&fa) != 0 || !(fa_ok = true) ||
        posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, outp[1], STDOUT_FILENO) != 0 ||
        posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1) != 0 ||
        posix_spawnattr_init(&at) != 0 || !(at_ok = true)) {
        sl_error_set(err, SL_ENOMEM, "posix_spawn setup failed");
        goto done;
    }
    /*
     * The daemon blocks its signals outside ppoll(); the worker starts with
     * only SIGTERM and SIGINT blocked, and unblocks them once its handler is in
     * place (worker_signals), so an early stop request is never fatal.
     */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGHUP);
    sigaddset(&dfl, SIGUSR1);
    if (posix_spawnattr_setsigmask(&at, &mask) != 0 ||
        posix_spawnattr_setsigdefault(&at, &dfl) != 0 ||
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0) {
        sl_error_set(err, SL_EGENERIC, "posix_spawn setup failed");
        goto done;
    }
    e = posix_spawn(&pid, "/proc/self/exe", &fa, &at, argv, envp);
    if (e != 0) {
        pid = -1;
        sl_error_errno(err, e, "starting a worker process for %s", c->env);
        goto done;
    }
    close(in[0]);
    close(outp[1]);
    in[0] = outp[1] = -1;
    /* The worker reads all of it before anything else; a worker that died early shows below. */
    (void)write_all(in[1], c->input, c->input_len);
    close(in[1]);
    in[1] = -1;
    for (;;) {
        struct pollfd pfd = {outp[0], POLLIN, 0};
        char buf[4096];
        ssize_t n;

        if (!*killed && c->kill_now != NULL && c->kill_now(c->arg)) {
            kill(pid, SIGKILL);
            *killed = true;
        } else if (!termed && c->stop != NULL && c->stop(c->arg)) {
            kill(pid, SIGTERM);
            termed = true;
        }
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        n = read(outp[0], buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out->len + (size_t)n <= WORKER_RESULT_MAX &&
            sl_buf_append(out, buf, (size_t)n, err) != 0)
            goto done;
    }
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    rc = 0;
done:
    if (pid > 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (outp[i] >= 0)
            close(outp[i]);
    }
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (at_ok)
        posix_spawnattr_destroy(&at);
    free(envp);
    return rc;
}

static bool ctx_stopping(void *arg)
{
    return sl_daemon_ctx_stopping(arg);
}

static bool ctx_abandoned(void *arg)
{
    return sl_daemon_ctx_abandoned(arg);
}

/* The daemon's seam: one run of env in a worker process (called on the run's own thread). */
static int spawn_reconcile(void *arg, struct sl_daemon_ctx *ctx, const struct sl_env_config *env,
                           struct sl_run_result *res, struct sl_error *err)
{
    const struct sl_config *cfg = sl_daemon_ctx_config(ctx);
    struct sl_buf conf = SL_BUF_INIT(4 << 20), out = SL_BUF_INIT(WORKER_RESULT_MAX);
    struct worker_call c = {"--worker", env->name,    cfg->file,     NULL,
                            0,          ctx_stopping, ctx_abandoned, ctx};
    bool killed;
    int status, rc = -1;

    (void)arg;
    if (sl_config_format(cfg, &conf, err) != 0)
        goto done;
    c.input = conf.ptr;
    c.input_len = conf.len;
    if (worker_spawn(&c, &out, &status, &killed, err) != 0)
        goto done;
    if (killed) {
        sl_error_set(err, SL_ECANCELED, "the reconcile of %s was abandoned and its worker killed",
                     env->name);
        goto done;
    }
    if (WIFSIGNALED(status)) {
        sl_error_set(err, SL_EGENERIC, "the reconcile worker for %s died of signal %d (%s)",
                     env->name, WTERMSIG(status), strsignal(WTERMSIG(status)));
        goto done;
    }
    if (out.len == 0) {
        sl_error_set(err, SL_EGENERIC,
                     "the reconcile worker for %s exited with status %d and no result", env->name,
                     WEXITSTATUS(status));
        goto done;
    }
    rc = result_parse(out.ptr, out.len, res, err);
done:
    sl_buf_release(&conf);
    sl_buf_release(&out);
    return rc;
}

static json_t *notice_json(const char *config_yaml, size_t config_len, const struct sl_notice *no)
{
    struct sl_error none = SL_ERROR_INIT;
    json_t *r = result_json(0, no->result, &none);

    return json_pack("{s:s%, s:s, s:s, s:i, s:o, s:s?, s:f, s:I}", "config", config_yaml,
                     config_len, "agent", no->agent, "environment", no->environment, "event",
                     (int)no->event, "result", r, "error", no->error, "seconds", no->seconds,
                     "timestamp", (json_int_t)no->timestamp);
}

/* The daemon's notification seam: deliver in a worker process (libcurl is loaded there). */
static int spawn_notify(void *arg, const char *config_yaml, size_t config_len,
                        const struct sl_notice *no, bool (*cancelled)(void *carg), void *carg,
                        struct sl_error *err)
{
    struct sl_buf out = SL_BUF_INIT(WORKER_RESULT_MAX);
    json_t *j = notice_json(config_yaml, config_len, no);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    char env[128];
    struct worker_call c = {
            "--notify", env, "configuration", text, text != NULL ? strlen(text) : 0, cancelled,
            NULL,       carg};
    bool killed;
    int status, rc = -1;

    (void)arg;
    snprintf(env, sizeof(env), "%s", no->environment);
    if (text == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if (worker_spawn(&c, &out, &status, &killed, err) != 0)
        goto done;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        rc = 0;
    } else {
        /* The worker's one line says why (never the URL or a secret). */
        size_t n = out.len;
        while (n > 0 && (out.ptr[n - 1] == '\n' || out.ptr[n - 1] == '\r'))
            n--;
        sl_error_set(err, SL_EIO, "%.*s", (int)(n > 400 ? 400 : n),
                     n > 0 ? out.ptr : "the notification worker failed");
    }
done:
    if (text != NULL)
        sl_secure_wipe(text, strlen(text)); /* the configuration may hold the URL */
    free(text);
    json_decref(j);
    sl_buf_release(&out);
    return rc;
}

static bool notify_cancelled(void *arg)
{
    (void)arg;
    return worker_stop != 0;
}

/* `sluice run --notify ENV`: send one notification; {config, notice} JSON on stdin. */
static int notify_main(void)
{
    struct sl_buf in = SL_BUF_INIT(8 << 20);
    struct sl_config *cfg = NULL;
    struct sl_notifier *n = NULL;
    struct sl_run_result res;
    struct sl_error err = SL_ERROR_INIT, rerr = SL_ERROR_INIT;
    json_t *j = NULL, *cj;
    int rc = -1;

    memset(&res, 0, sizeof(res));
    worker_signals();
    if (sl_daemon_harden(&err) != 0 ||
        sl_file_read_fd(&in, STDIN_FILENO, "notice from the daemon", 8 << 20, &err) != 0)
        goto done;
    j = json_loadb(in.ptr, in.len, 0, NULL);
    cj = json_object_get(j, "config");
    if (!json_is_string(cj) || !json_is_object(json_object_get(j, "result"))) {
        sl_error_set(&err, SL_EPARSE, "notification worker: malformed input");
        goto done;
    }
    {
        json_t *r = json_object_get(j, "result");
        char *rt = json_dumps(r, JSON_COMPACT);
        int prc = rt != NULL ? result_parse(rt, strlen(rt), &res, &rerr) : -1;
        free(rt);
        if (prc != 0 && rerr.code == SL_ENOMEM) {
            sl_error_set(&err, SL_ENOMEM, "out of memory");
            goto done;
        }
    }
    if (sl_config_parse(&cfg, json_string_value(cj), json_string_length(cj), "configuration", NULL,
                        &err) != 0 ||
        sl_notifier_new(cfg, &n, &err) != 0)
        goto done;
    if (n == NULL) {
        rc = 0; /* notifications were switched off by a reload */
        goto done;
    }
    {
        const char *e = json_string_value(json_object_get(j, "error"));
        int ev = (int)json_integer_value(json_object_get(j, "event"));
        struct sl_notice no = {json_string_value(json_object_get(j, "agent")),
                               json_string_value(json_object_get(j, "environment")),
                               ev == SL_EVENT_ROLLBACK  ? SL_EVENT_ROLLBACK
                               : ev == SL_EVENT_FAILURE ? SL_EVENT_FAILURE
                                                        : SL_EVENT_DEPLOY,
                               &res,
                               e,
                               json_real_value(json_object_get(j, "seconds")),
                               (long long)json_integer_value(json_object_get(j, "timestamp"))};
        if (no.agent == NULL || no.environment == NULL) {
            sl_error_set(&err, SL_EPARSE, "notification worker: malformed input");
            goto done;
        }
        rc = sl_notifier_send(n, &no, notify_cancelled, NULL, &err);
    }
done:
    if (rc != 0)
        printf("%s\n", err.msg[0] ? err.msg : "notification failed");
    fflush(stdout);
    sl_notifier_free(n);
    sl_config_free(cfg);
    json_decref(j);
    if (in.ptr != NULL)
        sl_secure_wipe(in.ptr, in.len);
    sl_buf_release(&in);
    return rc == 0 ? SL_EXIT_OK : SL_EXIT_FAIL;
}

int sl_cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"fake-reconcile", required_argument, NULL, 'F'},
                                         {"worker", required_argument, NULL, 'W'},
                                         {"config-name", required_argument, NULL, 'N'},
                                         {"notify", required_argument, NULL, 'M'},
                                         {NULL, 0, NULL, 0}};
    struct sl_daemon_opts o = {0};
    struct sl_diags diags = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;
    const char *config = NULL, *worker = NULL, *config_name = NULL, *notify = NULL;
    char *fake = NULL;
    int c, rc = SL_EXIT_FAIL;

    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'F')
            fake = optarg;
        else if (c == 'W')
            worker = optarg;
        else if (c == 'N')
            config_name = optarg;
        else if (c == 'M')
            notify = optarg;
        else
            return sl_cli_usage_error("run", "unknown option");
    }
    if (optind < argc)
        return sl_cli_usage_error("run", "unexpected argument \"%s\"", argv[optind]);
    if (worker != NULL)
        return worker_main(worker, config_name != NULL ? config_name : "configuration");
    if (notify != NULL)
        return notify_main();
    o.config_path = sl_cli_config_path(config);
    o.version = SLUICE_VERSION;
    o.commit = SLUICE_GIT_COMMIT;
    if (fake != NULL) {
        o.reconcile = sl_fake_reconcile;
        o.reconcile_arg = fake;
    } else {
        o.reconcile = spawn_reconcile;
    }
    o.deliver = spawn_notify;
    /*
     * No curl_global_init here: the daemon process itself needs libcurl only
     * on its notification thread (the sole user, whose first handle
     * initialises it), so an idle daemon without notifications never loads
     * it. The reconciles initialise their own in the workers.
     */
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
         * An abandoned in-process run (--fake-reconcile) may still own memory
         * and handles: end the process here, without running exit handlers
         * or library teardown underneath it. The one exception to "only main
         * exits", for the one path where returning is unsafe.
         */
        fflush(stdout);
        fflush(stderr);
        _exit(SL_EXIT_FAIL);
    }
    return rc;
}
