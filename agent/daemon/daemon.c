#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "dmetrics.h"
#include "file.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "sdnotify.h"
#include "strparse.h"
#include "webhook.h"

/* Signal flags: the only state a handler touches. */
static volatile sig_atomic_t sig_stop, sig_reload, sig_poll;

static void on_signal(int signo)
{
    if (signo == SIGHUP)
        sig_reload = 1;
    else if (signo == SIGUSR1)
        sig_poll = 1;
    else
        sig_stop = 1;
}

/* Configuration plus what it names that must be read at load time (secrets). */
struct bundle {
    struct sl_config *cfg;
    struct sl_hook **hooks;
    size_t nhooks;
    struct sl_notifier *notifier;
    unsigned runs; /* runs still using it (main thread only); freed at 0 once retired */
};

struct job;

struct envstate {
    char name[64];
    struct job *job; /* the run in progress, NULL when idle */
    int64_t due_ms;  /* monotonic */
    const char *trigger;
    bool again; /* triggered while running: run once more right after */
    unsigned failures;
    bool in_failure; /* a failure notification was sent for the current streak */
    bool polled;
    char result[16];
    char revision[64];
    char ref[128];
    char error[SL_ERROR_MSG_MAX];
    long long last_run, last_success; /* unix seconds, 0 = never */
};

struct daemon;

/* What a job thread may ask of the daemon while it runs (see runresult.h). */
struct sl_daemon_ctx {
    struct daemon *d;
    const struct sl_config *cfg;
    const char *trigger;
    atomic_bool abandon;
};

/*
 * One run of one environment on a thread of its own. The main thread fills
 * the inputs and starts the thread; the thread fills the results and hands
 * the job back through d->done; the main thread joins it and frees it.
 */
struct job {
    struct sl_daemon_ctx ctx;
    pthread_t thread;
    struct job *next_done; /* guarded by mu */
    struct job *next_run;  /* d->jobs, main thread only */
    int64_t started_ms;
    bool hang_reported;
    struct bundle *bundle; /* a run reference: the configuration outlives the run */
    const struct sl_config *cfg;
    const struct sl_env_config *env;
    struct sl_notifier *notifier;
    const char *trigger;
    bool in_failure;
    char previous[64]; /* the revision the daemon last saw applied */
    /* results */
    int rc;
    struct sl_run_result res;
    struct sl_error err;
    double seconds;
};

/* A notification waiting for the notifier thread (copied: the run's memory is reused). */
struct notice_item {
    struct sl_notifier *notifier; /* a reference of its own */
    char agent[64];
    char env[64];
    enum sl_notify_event ev;
    struct sl_run_result res;
    bool has_error;
    char error[SL_ERROR_MSG_MAX];
    double seconds;
    long long timestamp;
    char *config_yaml; /* for opts->deliver: the run's configuration, owned */
    size_t config_len;
};

#define NOTICE_QUEUE_MAX 32

struct daemon {
    const struct sl_daemon_opts *opts;
    struct bundle *cur;
    struct envstate *envs;
    size_t nenvs;
    struct sl_dmetrics dm;
    struct sl_http *http;
    struct sl_sdnotify sd;
    int lock_fd, ctl_fd, wake_fd;
    char ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    pthread_mutex_t mu;
    struct job *done; /* finished jobs waiting for the main thread (guarded by mu) */
    struct job *jobs; /* jobs started and not yet joined (main thread only) */
    size_t running;   /* their number */
    /* Notifications go out on their own thread so that a slow endpoint delays no run. */
    pthread_t notifier;
    bool notifier_started;
    pthread_cond_t ncv; /* guarded by mu */
    struct notice_item *queue;
    size_t qhead, qlen;
    bool nquit;
    int64_t nquit_deadline; /* at exit, notices still queued after this are dropped */
    atomic_uint notes_sent, notes_failed;
    unsigned folded_sent, folded_failed;
    atomic_bool stopping;
    volatile sig_atomic_t cancel; /* mirrors stopping for sl_daemon_ctx_cancel_flag */
    bool ready;
    int64_t next_watchdog;
};

bool sl_daemon_ctx_stopping(const struct sl_daemon_ctx *ctx)
{
    return atomic_load(&ctx->d->stopping);
}

const volatile sig_atomic_t *sl_daemon_ctx_cancel_flag(const struct sl_daemon_ctx *ctx)
{
    return &ctx->d->cancel;
}

bool sl_daemon_ctx_abandoned(const struct sl_daemon_ctx *ctx)
{
    return atomic_load(&ctx->abandon);
}

const struct sl_config *sl_daemon_ctx_config(const struct sl_daemon_ctx *ctx)
{
    return ctx->cfg;
}

const char *sl_daemon_ctx_trigger(const struct sl_daemon_ctx *ctx)
{
    return ctx->trigger;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- pure helpers ---- */

int64_t sl_daemon_next_delay_ms(const struct sl_daemon_config *dc, int64_t interval_ms,
                                unsigned failures, uint32_t rnd)
{
    int64_t base = interval_ms;

    if (failures > 0) {
        base = dc->backoff_min_ms;
        for (unsigned i = 1; i < failures && base < dc->backoff_max_ms; i++)
            base *= 2;
        if (base > dc->backoff_max_ms)
            base = dc->backoff_max_ms;
    }
    if (dc->jitter_percent > 0 && base > 0) {
        int64_t span = base / 100 * (int64_t)dc->jitter_percent +
                       base % 100 * (int64_t)dc->jitter_percent / 100;
        if (span > 0)
            base += (int64_t)((uint64_t)rnd % (uint64_t)(span + 1));
    }
    return base;
}

int sl_daemon_harden(struct sl_error *err)
{
    struct rlimit rl = {0, 0}, cur;

    /* Secrets live in this process: no core file, no ptrace by same-uid processes.
     * Under the unit LimitCORE=0 is already set and setrlimit may be filtered. */
    if (getrlimit(RLIMIT_CORE, &cur) != 0 || cur.rlim_cur != 0 || cur.rlim_max != 0) {
        if (setrlimit(RLIMIT_CORE, &rl) != 0)
            return sl_error_errno(err, errno, "setrlimit(RLIMIT_CORE)");
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return sl_error_errno(err, errno, "prctl(PR_SET_DUMPABLE)");
    return 0;
}

static int join_path(char *out, size_t len, const char *dir, const char *name, struct sl_error *err)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len)
        return sl_error_set(err, SL_ETOOLARGE, "%s/%s: path too long", dir, name);
    return 0;
}

int sl_daemon_lock(const char *state_dir, int *fd_out, struct sl_error *err)
{
    char path[4096], pid[32], held[32];
    ssize_t n;
    int fd;

    *fd_out = -1;
    if (join_path(path, sizeof(path), state_dir, SL_DAEMON_LOCK_FILE, err) != 0)
        return -1;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return sl_error_errno(err, errno, "%s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        n = pread(fd, held, sizeof(held) - 1, 0);
        held[n > 0 ? n : 0] = '\0';
        held[strcspn(held, "\n")] = '\0';
        close(fd);
        if (e == EWOULDBLOCK)
            return sl_error_set(err, SL_ECONFLICT,
                                "%s is held by another sluice process (pid %s); only one may "
                                "manage a state directory",
                                path, held[0] ? held : "unknown");
        return sl_error_errno(err, e, "%s: flock", path);
    }
    snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, strlen(pid), 0) != (ssize_t)strlen(pid)) {
        sl_error_errno(err, errno, "%s: write", path);
        close(fd);
        return -1;
    }
    *fd_out = fd;
    return 0;
}

int sl_daemon_control(const char *state_dir, const char *request, struct sl_buf *reply,
                      struct sl_error *err)
{
    struct sockaddr_un a;
    struct timeval tv = {10, 0};
    char buf[4096];
    int fd = -1, rc = -1;

    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    if (join_path(a.sun_path, sizeof(a.sun_path), state_dir, SL_DAEMON_CONTROL_SOCKET, err) != 0)
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sl_error_errno(err, errno, "socket");
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (errno == ENOENT || errno == ECONNREFUSED)
            sl_error_set(err, SL_ENOTFOUND, "no sluice daemon is running for %s", state_dir);
        else
            sl_error_errno(err, errno, "%s", a.sun_path);
        goto done;
    }
    if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0 ||
        send(fd, "\n", 1, MSG_NOSIGNAL) < 0) {
        sl_error_errno(err, errno, "%s: send", a.sun_path);
        goto done;
    }
    shutdown(fd, SHUT_WR);
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sl_error_errno(err, errno, "%s: receive", a.sun_path);
            goto done;
        }
        if (n == 0)
            break;
        if (sl_buf_append(reply, buf, (size_t)n, err) != 0)
            goto done;
    }
    rc = 0;
done:
    close(fd);
    return rc;
}

/* ---- configuration bundles ---- */

static void bundle_release(struct bundle *b)
{
    for (size_t i = 0; i < b->nhooks; i++)
        sl_hook_free(b->hooks[i]);
    free(b->hooks);
    sl_notifier_free(b->notifier);
    sl_config_free(b->cfg);
    memset(b, 0, sizeof(*b));
}

static int bundle_load(struct bundle *b, const char *path, struct sl_diags *diags,
                       struct sl_error *err)
{
    memset(b, 0, sizeof(*b));
    if (sl_config_load(&b->cfg, path, diags, err) != 0)
        return -1;
    if (b->cfg->nwebhooks > 0) {
        b->hooks = calloc(b->cfg->nwebhooks, sizeof(*b->hooks));
        if (b->hooks == NULL) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            goto fail;
        }
    }
    for (size_t i = 0; i < b->cfg->nwebhooks; i++) {
        const struct sl_webhook_config *w = &b->cfg->webhooks[i];
        static const enum sl_hook_type types[] = {SL_HOOK_GITHUB, SL_HOOK_GITLAB, SL_HOOK_HMAC};
        b->hooks[i] = sl_hook_new(w->name, types[w->type], w->header, w->secret_file, err);
        if (b->hooks[i] == NULL)
            goto fail;
        b->nhooks++;
    }
    if (sl_notifier_new(b->cfg, &b->notifier, err) != 0)
        goto fail;
    return 0;
fail:
    if (diags != NULL)
        sl_diags_add(diags, "%s: %s", path, err->msg);
    bundle_release(b);
    return -1;
}

static ssize_t find_env(const struct daemon *d, const char *name);

/*
 * Seed the environments from the state saved by the last run, so that the
 * first run after a restart knows the revision that was applied (a re-apply
 * of it is then not announced as a deploy). A missing or unreadable file only
 * costs that knowledge.
 */
static void load_state(struct daemon *d)
{
    char path[4096];
    struct sl_error err = SL_ERROR_INIT;
    struct sl_buf data = SL_BUF_INIT(1 << 20);
    json_t *root = NULL, *envs, *e;
    size_t i;

    if (join_path(path, sizeof(path), d->cur->cfg->state_dir, SL_DAEMON_STATE_FILE, &err) != 0 ||
        sl_file_read(&data, path, 1 << 20, &err) != 0)
        goto done;
    root = json_loadb(data.ptr, data.len, 0, NULL);
    envs = json_object_get(root, "environments");
    json_array_foreach(envs, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *rev = json_string_value(json_object_get(e, "revision"));
        const char *ref = json_string_value(json_object_get(e, "ref"));
        ssize_t k = name != NULL ? find_env(d, name) : -1;
        if (k < 0)
            continue;
        snprintf(d->envs[k].revision, sizeof(d->envs[k].revision), "%s", rev ? rev : "");
        snprintf(d->envs[k].ref, sizeof(d->envs[k].ref), "%s", ref ? ref : "");
        d->envs[k].last_success = (long long)json_integer_value(json_object_get(e, "lastSuccess"));
    }
done:
    json_decref(root);
    sl_buf_release(&data);
}

/* ---- status ---- */

static json_t *status_json(const struct daemon *d)
{
    json_t *envs = json_array();
    int64_t now = mono_ms();

    for (size_t i = 0; i < d->nenvs; i++) {
        const struct envstate *e = &d->envs[i];
        bool running = e->job != NULL;
        json_array_append_new(
                envs,
                json_pack("{s:s, s:b, s:s, s:s, s:s, s:i, s:I, s:I, s:o, s:o}", "name", e->name,
                          "running", running, "lastResult", e->result, "revision", e->revision,
                          "ref", e->ref, "consecutiveFailures", (int)e->failures, "lastRun",
                          (json_int_t)e->last_run, "lastSuccess", (json_int_t)e->last_success,
                          "nextPollSeconds",
                          running ? json_null()
                                  : json_integer(e->due_ms > now ? (e->due_ms - now + 999) / 1000
                                                                 : 0),
                          "lastError", e->error[0] ? json_string(e->error) : json_null()));
    }
    return json_pack("{s:i, s:b, s:b, s:o}", "pid", (int)getpid(), "ready", d->ready, "stopping",
                     atomic_load(&d->stopping), "environments", envs);
}

static void save_state(const struct daemon *d)
{
    char path[4096];
    struct sl_error err = SL_ERROR_INIT;
    json_t *j = status_json(d);
    char *s = j != NULL ? json_dumps(j, JSON_INDENT(2)) : NULL;

    if (s == NULL ||
        join_path(path, sizeof(path), d->cur->cfg->state_dir, SL_DAEMON_STATE_FILE, &err) != 0 ||
        sl_file_write_atomic(path, s, strlen(s), 0600, &err) != 0)
        sl_log_warn("could not save the daemon state", "error",
                    err.msg[0] ? err.msg : "out of memory");
    free(s);
    json_decref(j);
}

static void set_status(struct daemon *d, const char *text)
{
    struct sl_error err = SL_ERROR_INIT;
    if (sl_sdnotify_status(&d->sd, text, &err) != 0)
        sl_log_debug("sd_notify failed", "error", err.msg);
}

static void idle_status(struct daemon *d)
{
    char st[256];
    int64_t now = mono_ms(), next = INT64_MAX;
    const char *name = "";
    size_t failing = 0;

    for (size_t i = 0; i < d->nenvs; i++) {
        if (d->envs[i].due_ms < next) {
            next = d->envs[i].due_ms;
            name = d->envs[i].name;
        }
        failing += d->envs[i].failures > 0;
    }
    if (d->nenvs == 0) {
        snprintf(st, sizeof(st), "idle");
    } else {
        char dur[32];
        sl_format_duration(dur, sizeof(dur), next > now ? (next - now) / 1000 * 1000 : 0);
        snprintf(st, sizeof(st), "idle: %zu environments, %zu failing; next %s in %s", d->nenvs,
                 failing, name, dur);
    }
    set_status(d, st);
}

/* ---- triggers ---- */

static void trigger_env(struct daemon *d, size_t i, const char *why)
{
    struct envstate *e = &d->envs[i];

    if (e->job != NULL) {
        e->again = true;
        e->trigger = why;
        return;
    }
    e->due_ms = mono_ms();
    e->trigger = why;
}

static ssize_t find_env(const struct daemon *d, const char *name)
{
    for (size_t i = 0; i < d->nenvs; i++)
        if (strcmp(d->envs[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

static void trigger_all(struct daemon *d, const char *why)
{
    for (size_t i = 0; i < d->nenvs; i++)
        trigger_env(d, i, why);
}

/* ---- HTTP handlers (main thread) ---- */

static bool h_ready(void *arg)
{
    return ((struct daemon *)arg)->ready;
}

static void fold_notice_metrics(struct daemon *d);

static int h_metrics(void *arg, struct sl_buf *out, struct sl_error *err)
{
    fold_notice_metrics(arg);
    return sl_metrics_render(((struct daemon *)arg)->dm.reg, out, err);
}

static const struct bundle *newest(const struct daemon *d)
{
    return d->cur;
}

static struct sl_hook *h_find_hook(void *arg, const char *name)
{
    const struct bundle *b = newest(arg);
    for (size_t i = 0; i < b->nhooks; i++)
        if (strcmp(b->hooks[i]->name, name) == 0)
            return b->hooks[i];
    return NULL;
}

static void h_hook_result(void *arg, const char *name, const char *result)
{
    struct daemon *d = arg;
    const struct bundle *b = newest(d);
    struct sl_error err = SL_ERROR_INIT;
    const struct sl_webhook_config *w = NULL;

    for (size_t i = 0; i < b->cfg->nwebhooks; i++)
        if (strcmp(b->cfg->webhooks[i].name, name) == 0)
            w = &b->cfg->webhooks[i];
    /* Unknown names are counted under one label so a scan cannot grow the metrics. */
    if (sl_dmetrics_webhook(&d->dm, w != NULL ? name : "unknown", result, &err) != 0)
        sl_log_warn("metrics", "error", err.msg);
    sl_log(strcmp(result, "accepted") == 0 ? SL_LOG_INFO : SL_LOG_NOTICE, "webhook", "hook",
           w != NULL ? name : "unknown", "result", result, NULL);
    if (strcmp(result, "accepted") != 0 || w == NULL || atomic_load(&d->stopping))
        return;
    if (w->nenvironments == 0) {
        trigger_all(d, "webhook");
        return;
    }
    for (size_t i = 0; i < w->nenvironments; i++) {
        ssize_t k = find_env(d, w->environments[i]);
        if (k >= 0)
            trigger_env(d, (size_t)k, "webhook");
    }
}

/* ---- the worker ---- */

static bool worker_cancelled(void *arg)
{
    return atomic_load(&((struct daemon *)arg)->stopping);
}

static void enqueue_notice(struct daemon *d, const struct job *j, enum sl_notify_event ev)
{
    struct notice_item *it;

    pthread_mutex_lock(&d->mu);
    if (d->qlen == NOTICE_QUEUE_MAX) {
        pthread_mutex_unlock(&d->mu);
        atomic_fetch_add(&d->notes_failed, 1);
        sl_log_warn("notification dropped: the queue is full", "env", j->env->name, "event",
                    sl_notify_event_name(ev));
        return;
    }
    it = &d->queue[(d->qhead + d->qlen) % NOTICE_QUEUE_MAX];
    memset(it, 0, sizeof(*it));
    it->notifier = sl_notifier_ref(j->notifier);
    snprintf(it->agent, sizeof(it->agent), "%s", j->cfg->name);
    snprintf(it->env, sizeof(it->env), "%s", j->env->name);
    it->ev = ev;
    it->res = j->res;
    it->has_error = j->rc != 0;
    snprintf(it->error, sizeof(it->error), "%s", j->err.msg);
    it->seconds = j->seconds;
    it->timestamp = (long long)time(NULL);
    if (d->opts->deliver != NULL) {
        /* Rare (deploys, rollbacks, failures) and small: worth a copy that outlives reloads. */
        struct sl_buf y = SL_BUF_INIT(4 << 20);
        struct sl_error ferr = SL_ERROR_INIT;
        if (sl_config_format(j->cfg, &y, &ferr) == 0) {
            it->config_len = y.len;
            it->config_yaml = sl_buf_detach(&y, NULL);
        }
        sl_buf_release(&y);
    }
    d->qlen++;
    pthread_cond_signal(&d->ncv);
    pthread_mutex_unlock(&d->mu);
}

static void *notifier_main(void *arg)
{
    struct daemon *d = arg;
    struct notice_item it;

    for (;;) {
        pthread_mutex_lock(&d->mu);
        while (d->qlen == 0 && !d->nquit)
            pthread_cond_wait(&d->ncv, &d->mu);
        if (d->qlen == 0) {
            pthread_mutex_unlock(&d->mu);
            break;
        }
        it = d->queue[d->qhead];
        d->qhead = (d->qhead + 1) % NOTICE_QUEUE_MAX;
        d->qlen--;
        if (d->nquit && mono_ms() > d->nquit_deadline) {
            /* An unreachable endpoint must not hold up the exit for long. */
            pthread_mutex_unlock(&d->mu);
            atomic_fetch_add(&d->notes_failed, 1);
            sl_log_warn("notification dropped at exit", "env", it.env, "event",
                        sl_notify_event_name(it.ev));
            sl_notifier_free(it.notifier);
            free(it.config_yaml);
            sl_secure_wipe(&it, sizeof(it));
            continue;
        }
        pthread_mutex_unlock(&d->mu);

        struct sl_error err = SL_ERROR_INIT;
        struct sl_notice no = {
                it.agent,   it.env,      it.ev, &it.res, it.has_error ? it.error : NULL,
                it.seconds, it.timestamp};
        /* Once the daemon stops, each notice gets one attempt and no retries. */
        int sent;
        if (d->opts->deliver == NULL)
            sent = sl_notifier_send(it.notifier, &no, worker_cancelled, d, &err);
        else if (it.config_yaml == NULL)
            sent = sl_error_set(&err, SL_ENOMEM, "out of memory");
        else
            sent = d->opts->deliver(d->opts->reconcile_arg, it.config_yaml, it.config_len, &no,
                                    worker_cancelled, d, &err);
        if (sent == 0) {
            atomic_fetch_add(&d->notes_sent, 1);
        } else {
            atomic_fetch_add(&d->notes_failed, 1);
            sl_log_warn("notification failed", "env", it.env, "event", sl_notify_event_name(it.ev),
                        "error", err.msg);
        }
        sl_notifier_free(it.notifier);
        free(it.config_yaml);
        sl_secure_wipe(&it, sizeof(it));
    }
    return NULL;
}

/* Fold the notifier thread's counts into the metrics (main thread only). */
static void fold_notice_metrics(struct daemon *d)
{
    struct sl_error err = SL_ERROR_INIT;
    unsigned sent = atomic_load(&d->notes_sent), failed = atomic_load(&d->notes_failed);

    if (sent != d->folded_sent && sl_metric_inc(d->dm.notifications, (const char *[]){"sent"},
                                                sent - d->folded_sent, &err) != 0)
        sl_log_warn("metrics", "error", err.msg);
    if (failed != d->folded_failed && sl_metric_inc(d->dm.notifications, (const char *[]){"failed"},
                                                    failed - d->folded_failed, &err) != 0)
        sl_log_warn("metrics", "error", err.msg);
    d->folded_sent = sent;
    d->folded_failed = failed;
}

static void *job_main(void *arg)
{
    struct job *j = arg;
    struct daemon *d = j->ctx.d;
    enum sl_notify_event ev;
    uint64_t one = 1;
    double t0 = mono_s();

    memset(&j->res, 0, sizeof(j->res));
    sl_error_clear(&j->err);
    j->rc = d->opts->reconcile(d->opts->reconcile_arg, &j->ctx, j->env, &j->res, &j->err);
    if (j->rc != 0) {
        if (j->err.code == SL_OK)
            sl_error_set(&j->err, SL_EGENERIC, "reconcile failed without a message");
        if (j->res.outcome != SL_RUN_CANCELED)
            j->res.outcome = SL_RUN_FAILED;
    }
    j->seconds = mono_s() - t0;
    /* A pipeline that does not know the previous revision: the daemon does. */
    if (j->res.previous[0] == '\0')
        snprintf(j->res.previous, sizeof(j->res.previous), "%s", j->previous);
    if (sl_notifier_event(j->notifier, &j->res, j->rc != 0, j->in_failure ? 1 : 0, &ev))
        enqueue_notice(d, j, ev);

    pthread_mutex_lock(&d->mu);
    j->next_done = d->done;
    d->done = j;
    pthread_mutex_unlock(&d->mu);
    if (write(d->wake_fd, &one, sizeof(one)) < 0) {
        /* The counter cannot overflow with one write per run; nothing else to do. */
    }
    return NULL;
}

static size_t running_names(const struct daemon *d, char *out, size_t len)
{
    size_t n = 0, used = 0;

    out[0] = '\0';
    for (const struct job *j = d->jobs; j != NULL; j = j->next_run) {
        int k = snprintf(out + used, len - used, "%s%s", n > 0 ? "," : "", j->env->name);
        if (k > 0 && (size_t)k < len - used)
            used += (size_t)k;
        n++;
    }
    return n;
}

static void busy_status(struct daemon *d)
{
    char names[160], st[200];
    size_t n = running_names(d, names, sizeof(names));

    snprintf(st, sizeof(st), "reconciling %s%s", names, n > 1 ? " (in parallel)" : "");
    set_status(d, st);
}

/* Start a run of environment i on a thread of its own. */
static void dispatch(struct daemon *d, size_t i)
{
    struct envstate *e = &d->envs[i];
    struct job *j = calloc(1, sizeof(*j));
    int rc;

    if (j == NULL) {
        sl_log_err("cannot start a reconcile: out of memory", "env", e->name);
        e->due_ms = mono_ms() + d->cur->cfg->daemon.backoff_min_ms;
        return;
    }
    j->ctx.d = d;
    j->ctx.cfg = d->cur->cfg;
    j->ctx.trigger = e->trigger;
    atomic_init(&j->ctx.abandon, false);
    j->bundle = d->cur;
    j->cfg = d->cur->cfg;
    j->env = &d->cur->cfg->envs[i];
    j->notifier = d->cur->notifier;
    j->trigger = e->trigger;
    j->in_failure = e->in_failure;
    snprintf(j->previous, sizeof(j->previous), "%s", e->revision);
    rc = pthread_create(&j->thread, NULL, job_main, j);
    if (rc != 0) {
        char why[128];
        snprintf(why, sizeof(why), "%s", strerror(rc));
        sl_log_err("cannot start a reconcile thread", "env", e->name, "error", why);
        free(j);
        e->due_ms = mono_ms() + d->cur->cfg->daemon.backoff_min_ms;
        return;
    }
    e->job = j;
    j->next_run = d->jobs;
    d->jobs = j;
    d->cur->runs++;
    j->started_ms = mono_ms();
    e->again = false;
    d->running++;
    busy_status(d);
    sl_log_debug("reconcile started", "env", e->name, "trigger", e->trigger);
}

static void check_ready(struct daemon *d)
{
    struct sl_error err = SL_ERROR_INIT;
    char n[32];

    if (d->ready)
        return;
    for (size_t i = 0; i < d->nenvs; i++)
        if (!d->envs[i].polled)
            return;
    d->ready = true;
    if (sl_dmetrics_set_ready(&d->dm, true, &err) != 0)
        sl_log_warn("metrics", "error", err.msg);
    snprintf(n, sizeof(n), "%zu", d->nenvs);
    sl_log_info("ready", "environments", n);
}

static void bundle_put(struct daemon *d, struct bundle *b);

static void complete(struct daemon *d, struct job *jp)
{
    const struct job *const j = jp;
    struct envstate *e;
    struct sl_error merr = SL_ERROR_INIT;
    char dur[32], counts[4][16], fails[16], next[32];
    bool failed, canceled;
    enum sl_log_level level;
    int64_t delay;
    ssize_t k;

    pthread_join(jp->thread, NULL);
    for (struct job **pp = &d->jobs; *pp != NULL; pp = &(*pp)->next_run) {
        if (*pp == jp) {
            *pp = jp->next_run;
            break;
        }
    }
    d->running--;
    /* By name: a reload during the run may have reordered or removed environments. */
    k = find_env(d, jp->env->name);
    if (k < 0 || d->envs[k].job != jp) {
        sl_log_info("reconcile of a removed environment ended", "env", jp->env->name, "result",
                    sl_run_outcome_name(jp->res.outcome));
        bundle_put(d, jp->bundle);
        free(jp);
        return;
    }
    e = &d->envs[k];
    e->job = NULL;
    canceled = j->res.outcome == SL_RUN_CANCELED;
    failed = !canceled && (j->rc != 0 || j->res.outcome == SL_RUN_FAILED);

    /* A streak of failures (or denials) is notified once, at its start (see the worker). */
    if (failed) {
        e->failures++;
        e->in_failure = true;
    } else if (!canceled) {
        e->failures = 0;
        e->in_failure = j->res.outcome == SL_RUN_DENIED;
    }
    delay = sl_daemon_next_delay_ms(&j->cfg->daemon, j->env->interval_ms, failed ? e->failures : 0,
                                    randombytes_random());
    e->due_ms = mono_ms() + delay;
    e->trigger = failed ? "retry" : "interval";
    if (e->again) {
        e->due_ms = mono_ms();
        e->again = false;
    }
    e->polled = true;
    e->last_run = (long long)time(NULL);
    snprintf(e->result, sizeof(e->result), "%s", sl_run_outcome_name(j->res.outcome));
    if (!failed && !canceled) {
        e->last_success = e->last_run;
        e->error[0] = '\0';
        if (j->res.revision[0] != '\0') {
            snprintf(e->revision, sizeof(e->revision), "%s", j->res.revision);
            snprintf(e->ref, sizeof(e->ref), "%s", j->res.ref);
        }
    } else if (failed) {
        snprintf(e->error, sizeof(e->error), "%s", j->err.msg);
    }
    if (sl_dmetrics_record(&d->dm, e->name, &j->res, j->seconds, (double)time(NULL), &merr) != 0 ||
        sl_dmetrics_set_failures(&d->dm, e->name, e->failures, &merr) != 0)
        sl_log_warn("metrics", "error", merr.msg);
    fold_notice_metrics(d);

    snprintf(dur, sizeof(dur), "%.3fs", j->seconds);
    snprintf(counts[0], sizeof(counts[0]), "%u", j->res.applied);
    snprintf(counts[1], sizeof(counts[1]), "%u", j->res.pruned);
    snprintf(counts[2], sizeof(counts[2]), "%u", j->res.unchanged);
    snprintf(counts[3], sizeof(counts[3]), "%u", j->res.drifted);
    snprintf(fails, sizeof(fails), "%u", e->failures);
    delay = e->due_ms - mono_ms();
    /* Whole seconds read better in logs; sub-second delays (tests) are kept. */
    sl_format_duration(next, sizeof(next),
                       delay <= 0 ? 0 : (delay >= 1000 ? delay / 1000 * 1000 : delay));
    /* The one line per reconcile: never a secret (results and errors carry none). */
    level = failed ? SL_LOG_ERR
                   : (j->res.outcome == SL_RUN_ROLLED_BACK || j->res.outcome == SL_RUN_DENIED
                              ? SL_LOG_WARN
                              : SL_LOG_INFO);
    if (failed)
        sl_log(level, "reconciled", "env", e->name, "trigger", j->trigger, "result",
               sl_run_outcome_name(j->res.outcome), "revision", j->res.revision, "ref", j->res.ref,
               "duration", dur, "applied", counts[0], "pruned", counts[1], "unchanged", counts[2],
               "drifted", counts[3], "failures", fails, "next", next, "error", j->err.msg, NULL);
    else if (j->res.outcome == SL_RUN_DENIED || j->res.outcome == SL_RUN_ROLLED_BACK)
        /* Say why, so the journal alone tells which rule or check stopped the release. */
        sl_log(level, "reconciled", "env", e->name, "trigger", j->trigger, "result",
               sl_run_outcome_name(j->res.outcome), "revision", j->res.revision, "ref", j->res.ref,
               "duration", dur, "applied", counts[0], "pruned", counts[1], "unchanged", counts[2],
               "drifted", counts[3], "failures", fails, "next", next, "reason", j->res.summary,
               NULL);
    else
        sl_log(level, "reconciled", "env", e->name, "trigger", j->trigger, "result",
               sl_run_outcome_name(j->res.outcome), "revision", j->res.revision, "ref", j->res.ref,
               "duration", dur, "applied", counts[0], "pruned", counts[1], "unchanged", counts[2],
               "drifted", counts[3], "failures", fails, "next", next, NULL);
    bundle_put(d, jp->bundle);
    free(jp);
    if (d->running > 0)
        busy_status(d); /* the runs still going */
    check_ready(d);
    save_state(d);
}

/* ---- reload ---- */

static int setup_envs(struct daemon *d, const struct sl_config *cfg, const char *why)
{
    struct envstate *ne = calloc(cfg->nenvs == 0 ? 1 : cfg->nenvs, sizeof(*ne));
    struct sl_error err = SL_ERROR_INIT;
    int64_t now = mono_ms();

    if (ne == NULL)
        return -1;
    for (size_t i = 0; i < cfg->nenvs; i++) {
        ssize_t old = find_env(d, cfg->envs[i].name);
        if (old >= 0) {
            ne[i] = d->envs[old];
        } else {
            snprintf(ne[i].name, sizeof(ne[i].name), "%s", cfg->envs[i].name);
            ne[i].due_ms = now;
            ne[i].trigger = why;
            /* Removed and added back while its run goes on: never two runs of one environment. */
            for (struct job *j = d->jobs; j != NULL; j = j->next_run)
                if (strcmp(j->env->name, ne[i].name) == 0)
                    ne[i].job = j;
            if (sl_dmetrics_add_env(&d->dm, ne[i].name, &err) != 0)
                sl_log_warn("metrics", "error", err.msg);
        }
    }
    for (size_t i = 0; i < d->nenvs; i++) {
        if (sl_config_env(cfg, d->envs[i].name) == NULL) {
            sl_dmetrics_forget_env(&d->dm, d->envs[i].name);
            sl_log_info("environment removed", "env", d->envs[i].name);
        }
    }
    free(d->envs);
    d->envs = ne;
    d->nenvs = cfg->nenvs;
    return 0;
}

/* Drop a run's reference; free a retired configuration once no run uses it. */
static void bundle_put(struct daemon *d, struct bundle *b)
{
    if (b == NULL)
        return;
    if (b->runs > 0)
        b->runs--;
    if (b == d->cur || b->runs > 0)
        return;
    if (d->opts->retire != NULL)
        d->opts->retire(d->opts->reconcile_arg, b->cfg);
    bundle_release(b);
    free(b);
}

/*
 * Make b the configuration: new runs use it at once; runs in progress keep
 * the one they started with until they end.
 */
static int apply_bundle(struct daemon *d, struct bundle *b)
{
    struct bundle *old = d->cur;

    if (setup_envs(d, b->cfg, "reload") != 0)
        return -1;
    if (d->http != NULL)
        sl_http_set_limits(d->http, b->cfg->http.max_body, b->cfg->http.rate_limit);
    d->cur = b;
    b->runs = 0;
    old->runs++; /* bundle_put below drops this extra reference and frees an unused one */
    bundle_put(d, old);
    d->ready = false;
    check_ready(d);
    sl_log_info("configuration reloaded", "file", d->cur->cfg->file);
    return 0;
}

static void reload(struct daemon *d)
{
    struct sl_diags diags = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;
    struct bundle *b = calloc(1, sizeof(*b));
    struct sl_http *nh = NULL;
    bool ok = false;

    if (sl_sdnotify_reloading(&d->sd, &err) != 0)
        sl_log_debug("sd_notify failed", "error", err.msg);
    sl_error_clear(&err);
    sl_log_info("reloading configuration", "file", d->opts->config_path);
    if (b == NULL || bundle_load(b, d->opts->config_path, &diags, &err) != 0) {
        for (size_t i = 0; i < diags.n; i++)
            sl_log_err("reload rejected", "problem", diags.msgs[i]);
        if (diags.n == 0)
            sl_log_err("reload rejected", "problem", b == NULL ? "out of memory" : err.msg);
        goto done;
    }
    if (strcmp(b->cfg->state_dir, d->cur->cfg->state_dir) != 0) {
        sl_log_err("reload rejected", "problem",
                   "stateDir cannot change while running; restart the service instead");
        goto done;
    }
    if (strcmp(b->cfg->http.listen, d->cur->cfg->http.listen) != 0) {
        if (b->cfg->http.listen[0] != '\0') {
            struct sl_http_handlers h = {d, h_ready, h_metrics, h_find_hook, h_hook_result};
            nh = sl_http_start(b->cfg->http.listen, &h, b->cfg->http.max_body,
                               b->cfg->http.rate_limit, &err);
            if (nh == NULL) {
                sl_log_err("reload rejected", "problem", err.msg);
                goto done;
            }
        }
        sl_http_stop(d->http);
        d->http = nh;
        nh = NULL;
        if (d->http != NULL)
            sl_log_info("http listening", "listen", sl_http_listen(d->http));
    }
    if (apply_bundle(d, b) != 0) {
        sl_log_err("reload rejected", "problem", "out of memory");
        goto done;
    }
    if (d->running > 0) {
        char names[160];
        running_names(d, names, sizeof(names));
        sl_log_info("running reconciles finish with the previous configuration", "env", names);
    }
    b = NULL;
    ok = true;
done:
    sl_error_clear(&err);
    if (sl_dmetrics_reload(&d->dm, ok, &err) != 0)
        sl_log_warn("metrics", "error", err.msg);
    if (b != NULL) {
        bundle_release(b);
        free(b);
    }
    sl_diags_release(&diags);
    sl_error_clear(&err);
    if (sl_sdnotify_ready(&d->sd, ok ? "configuration reloaded" : "reload rejected; see the log",
                          &err) != 0)
        sl_log_debug("sd_notify failed", "error", err.msg);
}

/* ---- control socket ---- */

static int open_control(struct daemon *d, struct sl_error *err)
{
    struct sockaddr_un a;
    mode_t old;

    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    if (join_path(a.sun_path, sizeof(a.sun_path), d->cur->cfg->state_dir, SL_DAEMON_CONTROL_SOCKET,
                  err) != 0)
        return -1;
    snprintf(d->ctl_path, sizeof(d->ctl_path), "%s", a.sun_path);
    /* We hold the state lock, so a socket file left here is stale. */
    unlink(a.sun_path);
    d->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (d->ctl_fd < 0)
        return sl_error_errno(err, errno, "control socket");
    old = umask(077);
    if (bind(d->ctl_fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        umask(old);
        return sl_error_errno(err, errno, "%s: bind", a.sun_path);
    }
    umask(old);
    if (listen(d->ctl_fd, 8) != 0)
        return sl_error_errno(err, errno, "%s: listen", a.sun_path);
    return 0;
}

static void control_request(struct daemon *d, const char *req, struct sl_buf *out)
{
    struct sl_error err = SL_ERROR_INIT;

    if (strcmp(req, "poll") == 0) {
        if (atomic_load(&d->stopping)) {
            sl_buf_puts(out, "error the daemon is stopping\n", &err);
            return;
        }
        trigger_all(d, "control");
        sl_buf_puts(out, "ok poll", &err);
        for (size_t i = 0; i < d->nenvs; i++)
            sl_buf_printf(out, &err, " %s", d->envs[i].name);
        sl_buf_putc(out, '\n', &err);
    } else if (strncmp(req, "poll ", 5) == 0) {
        ssize_t k = find_env(d, req + 5);
        if (k < 0) {
            sl_buf_puts(out, "error unknown environment\n", &err);
        } else if (atomic_load(&d->stopping)) {
            sl_buf_puts(out, "error the daemon is stopping\n", &err);
        } else {
            trigger_env(d, (size_t)k, "control");
            sl_buf_printf(out, &err, "ok poll %s\n", d->envs[k].name);
        }
    } else if (strcmp(req, "status") == 0) {
        json_t *j = status_json(d);
        char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
        if (s != NULL)
            sl_buf_printf(out, &err, "%s\n", s);
        else
            sl_buf_puts(out, "error out of memory\n", &err);
        free(s);
        json_decref(j);
    } else {
        sl_buf_puts(out, "error unknown request (poll [ENV] | status)\n", &err);
    }
}

static void handle_control(struct daemon *d)
{
    struct timeval tv = {1, 0};
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    char req[256];
    size_t len = 0;
    struct sl_buf out = SL_BUF_INIT(1 << 20);
    int fd = accept4(d->ctl_fd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0)
        return;
    /* The socket is 0600 in a private directory; check the peer anyway. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 ||
        (cred.uid != geteuid() && cred.uid != 0)) {
        close(fd);
        return;
    }
    /* A local client gets one second to send one short line; the loop waits no longer. */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    while (len < sizeof(req) - 1) {
        ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (memchr(req, '\n', len) != NULL)
            break;
    }
    req[len] = '\0';
    req[strcspn(req, "\r\n")] = '\0';
    control_request(d, req, &out);
    if (send(fd, out.ptr, out.len, MSG_NOSIGNAL) < 0)
        sl_log_debug("control reply failed", "error", strerror(errno));
    sl_buf_release(&out);
    close(fd);
}

/* ---- main loop ---- */

static int64_t hang_limit_ms(const struct job *j)
{
    const struct sl_config *c = j->cfg;

    /* Fetch, apply and health wait, with a generous margin for large applies. */
    return c->source.timeout_ms + j->env->health_timeout_ms + 10 * c->cluster.request_timeout_ms +
           10 * 60 * 1000;
}

/* After giving up on a run, how long it may take to end before the process is stuck. */
#define ABANDON_GRACE_MS 30000

/*
 * A run stuck far beyond any timeout is abandoned: a worker process is
 * killed and the run fails (the state is safe against a kill at any point).
 * Only a run that does not end even then withholds the watchdog pings, so
 * that systemd restarts the service.
 */
static void watchdog(struct daemon *d, int64_t now)
{
    struct sl_error err = SL_ERROR_INIT;
    int64_t iv = sl_sdnotify_watchdog_interval_ms(&d->sd);
    bool stuck = false;

    for (struct job *j = d->jobs; j != NULL; j = j->next_run) {
        int64_t limit = hang_limit_ms(j);
        if (now - j->started_ms > limit && !j->hang_reported) {
            sl_log_err("reconcile is stuck; abandoning it", "env", j->env->name);
            atomic_store(&j->ctx.abandon, true);
            j->hang_reported = true;
        }
        if (now - j->started_ms > limit + ABANDON_GRACE_MS)
            stuck = true;
    }
    if (iv == 0 || now < d->next_watchdog)
        return;
    d->next_watchdog = now + iv;
    if (stuck) {
        sl_log_err("an abandoned reconcile did not end; withholding watchdog pings");
        return;
    }
    if (sl_sdnotify_watchdog(&d->sd, &err) != 0)
        sl_log_debug("sd_notify failed", "error", err.msg);
}

/* The idle environment due first, or -1 when every one is running. */
static ssize_t next_due(const struct daemon *d)
{
    ssize_t best = -1;

    for (size_t i = 0; i < d->nenvs; i++)
        if (d->envs[i].job == NULL && (best < 0 || d->envs[i].due_ms < d->envs[best].due_ms))
            best = (ssize_t)i;
    return best;
}

static int install_signals(sigset_t *waitmask, struct sl_error *err)
{
    struct sigaction sa;
    sigset_t block;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&block);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGUSR1);
    /* Blocked except inside ppoll, so a signal always wakes the loop; the worker inherits the
     * block. */
    if (pthread_sigmask(SIG_BLOCK, &block, waitmask) != 0)
        return sl_error_set(err, SL_EIO, "pthread_sigmask failed");
    sigdelset(waitmask, SIGHUP);
    sigdelset(waitmask, SIGTERM);
    sigdelset(waitmask, SIGINT);
    sigdelset(waitmask, SIGUSR1);
    if (sigaction(SIGHUP, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0 ||
        sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGUSR1, &sa, NULL) != 0)
        return sl_error_errno(err, errno, "sigaction");
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int startup(struct daemon *d, struct sl_diags *diags, sigset_t *waitmask,
                   struct sl_error *err)
{
    struct sl_http_handlers h = {d, h_ready, h_metrics, h_find_hook, h_hook_result};
    char port[16];
    int rc;

    if (sl_daemon_harden(err) != 0)
        return -1;
    d->cur = calloc(1, sizeof(*d->cur));
    if (d->cur == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    if (bundle_load(d->cur, d->opts->config_path, diags, err) != 0) {
        free(d->cur);
        d->cur = NULL;
        return -1;
    }
    if (sl_mkdir_p(d->cur->cfg->state_dir, 0700, err) != 0 ||
        sl_daemon_lock(d->cur->cfg->state_dir, &d->lock_fd, err) != 0)
        return -1;
    if (sl_sdnotify_open(&d->sd, true, err) != 0)
        return -1;
    if (sl_dmetrics_init(&d->dm, d->opts->version, d->opts->commit, err) != 0)
        return -1;
    if (setup_envs(d, d->cur->cfg, "startup") != 0)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    load_state(d);
    if (d->cur->cfg->http.listen[0] != '\0') {
        d->http = sl_http_start(d->cur->cfg->http.listen, &h, d->cur->cfg->http.max_body,
                                d->cur->cfg->http.rate_limit, err);
        if (d->http == NULL)
            return -1;
    }
    if (open_control(d, err) != 0)
        return -1;
    d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->wake_fd < 0)
        return sl_error_errno(err, errno, "eventfd");
    if (install_signals(waitmask, err) != 0)
        return -1;
    d->queue = calloc(NOTICE_QUEUE_MAX, sizeof(*d->queue));
    if (d->queue == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    rc = pthread_create(&d->notifier, NULL, notifier_main, d);
    if (rc != 0)
        return sl_error_errno(err, rc, "starting the notification thread");
    d->notifier_started = true;
    snprintf(port, sizeof(port), "%u", d->http != NULL ? sl_http_port(d->http) : 0);
    sl_log_info("started", "config", d->cur->cfg->file, "state", d->cur->cfg->state_dir, "listen",
                d->http != NULL ? sl_http_listen(d->http) : "", "port", port, "control",
                d->ctl_path);
    return 0;
}

/* Join the runs that ended (main thread). */
static void reap(struct daemon *d)
{
    struct job *list;

    pthread_mutex_lock(&d->mu);
    list = d->done;
    d->done = NULL;
    pthread_mutex_unlock(&d->mu);
    while (list != NULL) {
        struct job *next = list->next_done;
        complete(d, list);
        list = next;
    }
}

static void stop_threads(struct daemon *d)
{
    /* After the runs: they may have queued a last notice. */
    if (d->notifier_started) {
        pthread_mutex_lock(&d->mu);
        d->nquit = true;
        d->nquit_deadline = mono_ms() + 5000;
        pthread_cond_signal(&d->ncv);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->notifier, NULL);
        d->notifier_started = false;
    }
    free(d->queue);
    d->queue = NULL;
}

int sl_daemon_run(const struct sl_daemon_opts *opts, struct sl_diags *diags, struct sl_error *err)
{
    struct daemon d;
    sigset_t waitmask;
    int64_t stop_deadline = 0;
    bool stopping = false, timed_out = false;
    int rc = -1;

    memset(&d, 0, sizeof(d));
    d.opts = opts;
    d.lock_fd = d.ctl_fd = d.wake_fd = -1;
    d.sd.fd = -1;
    atomic_init(&d.stopping, false);
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.ncv, NULL);
    atomic_init(&d.notes_sent, 0);
    atomic_init(&d.notes_failed, 0);
    sig_stop = sig_reload = sig_poll = 0;
    if (startup(&d, diags, &waitmask, err) != 0)
        goto done;
    if (sl_sdnotify_ready(&d.sd, "started; polling every environment", err) != 0)
        sl_log_warn("sd_notify failed", "error", err->msg);
    sl_error_clear(err);
    d.next_watchdog = mono_ms();

    for (;;) {
        struct pollfd pfd[3];
        nfds_t nfd = 0;
        int64_t now = mono_ms(), timeout = 60000, t;
        struct timespec ts;
        uint64_t cnt;

        if (sig_stop && !stopping) {
            char names[160];
            stopping = true;
            atomic_store(&d.stopping, true);
            d.cancel = 1;
            stop_deadline = now + d.cur->cfg->daemon.stop_timeout_ms;
            sl_sdnotify_stopping(&d.sd, err);
            sl_error_clear(err);
            running_names(&d, names, sizeof(names));
            set_status(&d,
                       d.running > 0 ? "stopping: waiting for the running reconciles" : "stopping");
            sl_log_info("stopping", "running", names);
        }
        if (sig_reload) {
            sig_reload = 0;
            if (!stopping)
                reload(&d);
        }
        if (sig_poll) {
            sig_poll = 0;
            if (!stopping)
                trigger_all(&d, "signal");
        }
        if (stopping && d.running == 0)
            break;
        if (stopping && now >= stop_deadline && !timed_out) {
            /*
             * Give up on the runs still going: worker processes are killed
             * (the state survives a kill at any point), in-process runs get a
             * short grace to notice before the process exits underneath them.
             */
            char names[160];
            running_names(&d, names, sizeof(names));
            sl_log_err("stop timeout: abandoning the running reconciles", "env", names, "timeout",
                       "daemon.stopTimeout");
            sl_error_set(err, SL_ETIMEOUT,
                         "the reconcile of %s did not reach a safe point within "
                         "daemon.stopTimeout",
                         names);
            for (struct job *j = d.jobs; j != NULL; j = j->next_run)
                atomic_store(&j->ctx.abandon, true);
            timed_out = true;
            stop_deadline = now + 5000;
        }
        if (timed_out && now >= stop_deadline)
            break;
        if (!stopping) {
            ssize_t n;
            /* Start every environment that is due, up to daemon.parallel at once. */
            while (d.running < d.cur->cfg->daemon.parallel && (n = next_due(&d)) >= 0 &&
                   d.envs[n].due_ms <= now)
                dispatch(&d, (size_t)n);
            n = next_due(&d);
            if (n >= 0 && d.running < d.cur->cfg->daemon.parallel)
                timeout = d.envs[n].due_ms > now ? d.envs[n].due_ms - now : 0;
            if (d.running == 0)
                idle_status(&d);
        }
        if (stopping && stop_deadline - now < timeout)
            timeout = stop_deadline - now;
        if (d.http != NULL && (t = sl_http_timeout_ms(d.http)) >= 0 && t < timeout)
            timeout = t;
        if (sl_sdnotify_watchdog_interval_ms(&d.sd) > 0 && d.next_watchdog - now < timeout)
            timeout = d.next_watchdog - now;
        if (timeout < 0)
            timeout = 0;

        pfd[nfd++] = (struct pollfd){d.wake_fd, POLLIN, 0};
        pfd[nfd++] = (struct pollfd){d.ctl_fd, POLLIN, 0};
        if (d.http != NULL)
            pfd[nfd++] = (struct pollfd){sl_http_fd(d.http), POLLIN, 0};
        ts.tv_sec = timeout / 1000;
        ts.tv_nsec = (timeout % 1000) * 1000000;
        if (ppoll(pfd, nfd, &ts, &waitmask) < 0 && errno != EINTR) {
            sl_error_errno(err, errno, "ppoll");
            break;
        }
        if (read(d.wake_fd, &cnt, sizeof(cnt)) == (ssize_t)sizeof(cnt))
            reap(&d);
        if (pfd[1].revents & POLLIN)
            handle_control(&d);
        if (d.http != NULL)
            sl_http_run(d.http);
        watchdog(&d, mono_ms());
    }
    if (err->code != SL_OK && !timed_out)
        goto done;
    reap(&d);
    if (!timed_out)
        rc = 0;
    save_state(&d);
    set_status(&d, "stopped");
    sl_log_info("stopped", "clean", rc == 0 ? "true" : "false");
done:
    sl_http_stop(d.http);
    if (d.ctl_fd >= 0) {
        close(d.ctl_fd);
        unlink(d.ctl_path);
    }
    if (d.running > 0) {
        /* A run still uses the configuration: leave it to process exit. */
        return -1;
    }
    stop_threads(&d);
    if (d.wake_fd >= 0)
        close(d.wake_fd);
    if (d.cur != NULL) {
        if (d.cur->cfg != NULL && opts->retire != NULL)
            opts->retire(opts->reconcile_arg, d.cur->cfg);
        bundle_release(d.cur);
        free(d.cur);
    }
    free(d.envs);
    sl_dmetrics_release(&d.dm);
    sl_sdnotify_close(&d.sd);
    if (d.lock_fd >= 0)
        close(d.lock_fd);
    pthread_mutex_destroy(&d.mu);
    pthread_cond_destroy(&d.ncv);
    return rc;
}
