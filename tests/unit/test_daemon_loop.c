#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "daemon.h"
#include "secmem.h"

static char dir[64], cfgpath[128], calls[128];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The fake pipeline: "bad*" environments fail, others succeed; every call is logged. */
static int fake(void *arg, struct sl_daemon_ctx *ctx, const struct sl_env_config *env,
                struct sl_run_result *res, struct sl_error *err)
{
    char line[128];
    int fd = open(calls, O_WRONLY | O_APPEND | O_CREAT, 0600);

    snprintf(line, sizeof(line), "%s %lld %s\n", env->name, (long long)now_ms(),
             sl_daemon_ctx_trigger(ctx));
    if (fd >= 0) {
        ssize_t w = write(fd, line, strlen(line));
        (void)w;
        close(fd);
    }
    if (strncmp(env->name, "bad", 3) == 0)
        return sl_error_set(err, SL_EIO, "simulated failure");
    /* "slow*": a long apply that stops at a safe point when the daemon stops. */
    for (int i = 0; strncmp(env->name, "slow", 4) == 0 && i < 150; i++) {
        if (sl_daemon_ctx_stopping(ctx)) {
            res->outcome = SL_RUN_CANCELED;
            return 0;
        }
        sleep_ms(20);
    }
    res->outcome = SL_RUN_UNCHANGED;
    snprintf(res->revision, sizeof(res->revision), "abc");
    return 0;
}

/* Logged like a run, as environment "retired" with the trigger "config". */
static void retire(void *arg, const struct sl_config *cfg)
{
    char line[128];
    int fd = open(calls, O_WRONLY | O_APPEND | O_CREAT, 0600);

    snprintf(line, sizeof(line), "retired %lld config\n", (long long)now_ms());
    if (fd >= 0) {
        ssize_t w = write(fd, line, strlen(line));
        (void)w;
        close(fd);
    }
}

static void write_config(const char *extra_env)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "source:\n  url: file:///nonexistent\n"
             "stateDir: %s/state\n"
             "http:\n  listen: \"\"\n"
             "daemon:\n  stopTimeout: 2s\n  backoffMin: 100ms\n  backoffMax: 400ms\n"
             "  jitter: 0\n"
             "environments:\n"
             "  - name: good\n    track: {type: branch}\n    path: g\n    interval: 1s\n"
             "  - name: bad\n    track: {type: branch}\n    path: b\n    interval: 1s\n%s",
             dir, extra_env);
    write_file(cfgpath, text);
}

/* The daemon under test, killed by the teardown if a failed assertion left it running. */
static pid_t live_daemon = -1;

static pid_t start_daemon(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Never outlive the test process (ctest would wait on our pipes forever). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        struct sl_daemon_opts o = {.config_path = cfgpath,
                                   .reconcile = fake,
                                   .retire = retire,
                                   .version = "0.0.0",
                                   .commit = "test"};
        struct sl_error err = SL_ERROR_INIT;
        struct sl_diags d = SL_DIAGS_INIT;
        int rc = sl_daemon_run(&o, &d, &err);
        if (rc != 0)
            fprintf(stderr, "daemon: %s\n", err.msg);
        _exit(rc == 0 ? 0 : 1);
    }
    if (live_daemon < 0)
        live_daemon = pid;
    return pid;
}

static int kill_daemon(void **state)
{
    (void)state;
    if (live_daemon > 0 && waitpid(live_daemon, NULL, WNOHANG) == 0) {
        kill(live_daemon, SIGKILL);
        waitpid(live_daemon, NULL, 0);
    }
    live_daemon = -1;
    return 0;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
    int status;
    for (int i = 0; i < timeout_ms / 10; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static int control(const char *req, char *out, size_t outlen)
{
    char state[128];
    struct sl_buf reply = SL_BUF_INIT(1 << 16);
    struct sl_error err = SL_ERROR_INIT;
    int rc;

    snprintf(state, sizeof(state), "%s/state", dir);
    for (int i = 0; i < 100; i++) {
        sl_error_clear(&err);
        sl_buf_reset(&reply);
        rc = sl_daemon_control(state, req, &reply, &err);
        if (rc == 0 || err.code != SL_ENOTFOUND)
            break;
        sleep_ms(20);
    }
    snprintf(out, outlen, "%s", rc == 0 ? reply.ptr : err.msg);
    sl_buf_release(&reply);
    return rc;
}

/* Times of each call of env (with trigger filter when not NULL). */
static size_t call_times(const char *env, const char *trigger, int64_t *out, size_t max)
{
    FILE *f = fopen(calls, "r");
    char name[64], trig[64];
    long long t;
    size_t n = 0;

    if (f == NULL)
        return 0;
    while (n < max && fscanf(f, "%63s %lld %63s", name, &t, trig) == 3)
        if (strcmp(name, env) == 0 && (trigger == NULL || strcmp(trig, trigger) == 0))
            out[n++] = t;
    fclose(f);
    return n;
}

/* Wait until env has n calls with trigger (the daemon runs on its own schedule). */
static size_t wait_calls(const char *env, const char *trigger, size_t n, int timeout_ms)
{
    int64_t t[64];
    size_t got = 0;

    for (int i = 0; i < timeout_ms / 20; i++) {
        got = call_times(env, trigger, t, 64);
        if (got >= n)
            break;
        sleep_ms(20);
    }
    return got;
}

static void test_next_delay(void **state)
{
    struct sl_daemon_config dc = {60000, 10000, 80000, 10, 4};

    /* Success: interval plus 0..10 %. */
    assert_int_equal(sl_daemon_next_delay_ms(&dc, 60000, 0, 0), 60000);
    assert_int_equal(sl_daemon_next_delay_ms(&dc, 60000, 0, 6000), 66000);
    assert_int_equal(sl_daemon_next_delay_ms(&dc, 60000, 0, 6001), 60000);
    for (uint32_t r = 0; r < 100000; r += 997) {
        int64_t v = sl_daemon_next_delay_ms(&dc, 60000, 0, r * 7919u);
        assert_true(v >= 60000 && v <= 66000);
    }
    /* Failures: 10 s, 20 s, 40 s, then the 80 s cap, whatever the interval. */
    dc.jitter_percent = 0;
    assert_int_equal(sl_daemon_next_delay_ms(&dc, 60000, 1, 123), 10000);
    assert_int_equal(sl_daemon_next_delay_ms(&dc, 60000, 2, 123), 20000);
    assert_int_equal(sl_daemon_next_delay_ms(&dc, 60000, 3, 123), 40000);
    assert_int_equal(sl_daemon_next_delay_ms(&dc, 60000, 4, 123), 80000);
    assert_int_equal(sl_daemon_next_delay_ms(&dc, 60000, 4000000000u, 123), 80000);
}

static void test_lock(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    int a = -1, b = -1;
    char pid[32];

    assert_int_equal(sl_daemon_lock(dir, &a, &err), 0);
    /* A second open file description conflicts even in the same process (flock). */
    assert_int_equal(sl_daemon_lock(dir, &b, &err), -1);
    assert_int_equal(err.code, SL_ECONFLICT);
    snprintf(pid, sizeof(pid), "pid %d", (int)getpid());
    assert_non_null(strstr(err.msg, pid));
    close(a);
    sl_error_clear(&err);
    assert_int_equal(sl_daemon_lock(dir, &b, &err), 0);
    close(b);
}

static void test_loop_schedule_and_stop(void **state)
{
    char reply[4096];
    int64_t good[64], bad[64], t0;
    size_t ng, nb;
    pid_t pid;
    json_t *st;

    unlink(calls);
    write_config("");
    t0 = now_ms();
    pid = start_daemon();
    assert_int_equal(control("status", reply, sizeof(reply)), 0);
    sleep_ms(2300);

    /* A second instance on the same state directory is refused. */
    {
        pid_t second = start_daemon();
        assert_int_equal(wait_exit(second, 3000), 1);
    }

    ng = call_times("good", NULL, good, 64);
    nb = call_times("bad", NULL, bad, 64);
    /*
     * Only lower bounds here: timers never fire early, but a loaded machine may
     * run them late (the delay arithmetic itself, cap included, is checked
     * exactly in test_next_delay). good: startup, then every second (no
     * jitter), and it ran again while bad kept failing, so bad's retries do
     * not hold it up.
     */
    (void)t0;
    assert_true(ng >= 2 && ng <= 4);
    for (size_t i = 1; i < ng; i++)
        assert_true(good[i] - good[i - 1] >= 950);
    /* bad: retries after at least 100, 200, 400, 400 ms ... */
    assert_true(nb >= 4);
    assert_true(bad[1] - bad[0] >= 90);
    assert_true(bad[2] - bad[1] >= 190);
    assert_true(bad[3] - bad[2] >= 390);

    /* The control socket triggers an immediate poll and reports status. */
    assert_int_equal(control("poll good", reply, sizeof(reply)), 0);
    assert_string_equal(reply, "ok poll good\n");
    assert_int_equal(control("poll nope", reply, sizeof(reply)), 0);
    assert_string_equal(reply, "error unknown environment\n");
    assert_int_equal(wait_calls("good", "control", 1, 3000), 1);
    assert_int_equal(control("status", reply, sizeof(reply)), 0);
    st = json_loads(reply, 0, NULL);
    assert_non_null(st);
    assert_true(json_is_true(json_object_get(st, "ready")));
    assert_int_equal(json_array_size(json_object_get(st, "environments")), 2);
    json_decref(st);

    /* SIGUSR1 polls everything. */
    kill(pid, SIGUSR1);
    assert_int_equal(wait_calls("good", "signal", 1, 3000), 1);

    kill(pid, SIGTERM);
    assert_int_equal(wait_exit(pid, 5000), 0);
    /* The state was saved and the control socket removed. */
    {
        char p[160];
        struct stat sb;
        snprintf(p, sizeof(p), "%s/state/daemon.json", dir);
        assert_int_equal(stat(p, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);
        snprintf(p, sizeof(p), "%s/state/control.sock", dir);
        assert_int_not_equal(stat(p, &sb), 0);
    }
}

/* A slow environment does not hold up another one, unless daemon.parallel is 1. */
static void run_parallel(unsigned parallel, size_t *good_runs_during_slow)
{
    char text[1024];
    int64_t slow[8], good[64];
    size_t ns, ng;
    pid_t pid;

    unlink(calls);
    snprintf(text, sizeof(text),
             "source:\n  url: file:///nonexistent\n"
             "stateDir: %s/state\n"
             "http:\n  listen: \"\"\n"
             "daemon:\n  stopTimeout: 5s\n  jitter: 0\n  parallel: %u\n"
             "environments:\n"
             "  - name: slow\n    track: {type: branch}\n    path: s\n    interval: 1h\n"
             "  - name: good\n    track: {type: branch}\n    path: g\n    interval: 1s\n",
             dir, parallel);
    write_file(cfgpath, text);
    pid = start_daemon();
    assert_int_equal(wait_calls("slow", NULL, 1, 3000), 1);
    sleep_ms(2500); /* slow runs 3 s */
    ns = call_times("slow", NULL, slow, 8);
    ng = call_times("good", NULL, good, 64);
    assert_int_equal(ns, 1);
    *good_runs_during_slow = 0;
    for (size_t i = 0; i < ng; i++)
        if (good[i] >= slow[0] && good[i] < slow[0] + 2500)
            (*good_runs_during_slow)++;
    kill(pid, SIGTERM);
    assert_int_equal(wait_exit(pid, 5000), 0);
    live_daemon = -1;
}

static void test_parallel(void **state)
{
    size_t n;

    (void)state;
    run_parallel(4, &n);
    assert_true(n >= 2); /* every second while slow runs */
    run_parallel(1, &n);
    assert_int_equal(n, 0); /* one at a time: good waits for slow */
}

static void test_reload(void **state)
{
    char reply[4096];
    pid_t pid;
    json_t *st;

    unlink(calls);
    write_config("");
    pid = start_daemon();
    assert_int_equal(control("status", reply, sizeof(reply)), 0);

    /* A broken configuration is rejected; the old one keeps running. */
    write_file(cfgpath, "source: [\n");
    kill(pid, SIGHUP);
    sleep_ms(300);
    assert_int_equal(control("status", reply, sizeof(reply)), 0);
    st = json_loads(reply, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(st, "environments")), 2);
    json_decref(st);

    /* A good one adds an environment, which is polled at once. */
    write_config("  - name: extra\n    track: {type: branch}\n    path: e\n    interval: 1m\n");
    kill(pid, SIGHUP);
    assert_int_equal(wait_calls("extra", "reload", 1, 3000), 1);
    assert_int_equal(control("status", reply, sizeof(reply)), 0);
    st = json_loads(reply, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(st, "environments")), 3);
    json_decref(st);
    {
        int64_t t[8];
        /* The configuration replaced by the good reload was retired (the bad one never ran). */
        assert_int_equal(call_times("retired", "config", t, 8), 1);
        kill(pid, SIGINT);
        assert_int_equal(wait_exit(pid, 5000), 0);
        /* And the last one at exit. */
        assert_int_equal(call_times("retired", "config", t, 8), 2);
    }
}

static void test_sd_notify_messages(void **state)
{
    char path[96], buf[512], all[8192] = "";
    struct sockaddr_un a;
    int fd;
    pid_t pid;

    snprintf(path, sizeof(path), "%s/notify.sock", dir);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    unlink(path);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    write_config("");
    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", "200000", 1);
    unsetenv("WATCHDOG_PID");
    pid = start_daemon();
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    /* Read as systemd does, all the time: SIGHUP at 0.7 s, SIGTERM at 1 s. */
    for (int64_t t0 = now_ms(), step = 0; now_ms() - t0 < 3000;) {
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        if (n > 0) {
            size_t used = strlen(all);
            buf[n] = '\0';
            snprintf(all + used, sizeof(all) - used, "%s|", buf);
            continue;
        }
        sleep_ms(5);
        if (step == 0 && now_ms() - t0 > 700) {
            kill(pid, SIGHUP);
            step++;
        } else if (step == 1 && now_ms() - t0 > 1000) {
            kill(pid, SIGTERM);
            step++;
        } else if (step == 2 && strstr(all, "STOPPING=1") != NULL) {
            break;
        }
    }
    assert_int_equal(wait_exit(pid, 5000), 0);
    close(fd);
    assert_non_null(strstr(all, "READY=1\nSTATUS=started"));
    assert_non_null(strstr(all, "WATCHDOG=1"));
    assert_non_null(strstr(all, "RELOADING=1\nMONOTONIC_USEC="));
    assert_non_null(strstr(all, "READY=1\nSTATUS=configuration reloaded"));
    assert_non_null(strstr(all, "STATUS=reconciling"));
    assert_non_null(strstr(all, "STOPPING=1"));
    /* Watchdog every 100 ms over about a second. */
    {
        int pings = 0;
        for (const char *p = all; (p = strstr(p, "WATCHDOG=1")) != NULL; p++)
            pings++;
        assert_true(pings >= 5);
    }
}

static int setup(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    snprintf(dir, sizeof(dir), "/tmp/sl-daemon-test-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(cfgpath, sizeof(cfgpath), "%s/sluice.yaml", dir);
    snprintf(calls, sizeof(calls), "%s/calls.log", dir);
    return sl_secmem_init(&err);
}

static int teardown(void **state)
{
    char p[160];
    const char *const files[] = {"state/daemon.json", "state/daemon.lock", "state",
                                 "sluice.yaml",       "calls.log",         "notify.sock",
                                 "daemon.lock"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        if (unlink(p) != 0)
            rmdir(p);
    }
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_next_delay),
            cmocka_unit_test(test_lock),
            cmocka_unit_test_teardown(test_loop_schedule_and_stop, kill_daemon),
            cmocka_unit_test_teardown(test_reload, kill_daemon),
            cmocka_unit_test_teardown(test_parallel, kill_daemon),
            cmocka_unit_test_teardown(test_sd_notify_messages, kill_daemon),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
