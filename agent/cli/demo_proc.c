/*
 * The demo's processes and files: this binary's verbs and kubesim run as
 * children with argv arrays (posix_spawn, never a shell); kubesim gets its
 * own process group so a Ctrl-C on the terminal reaches the demo, which then
 * stops it in order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "demo_internal.h"
#include "file.h"
#include "policy.h"

extern char **environ;

#define RUN_OUT_MAX ((size_t)16 << 20)
#define RUN_ERR_MAX ((size_t)4 << 20)
/* No verb of the story takes this long; a hung child is stopped, not waited for forever. */
#define RUN_TIMEOUT_MS (10 * 60 * 1000)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void sl_demo_run_init(struct sl_demo_run *r)
{
    r->input = NULL;
    r->input_len = 0;
    r->status = -1;
    sl_buf_init(&r->out, RUN_OUT_MAX);
    sl_buf_init(&r->err, RUN_ERR_MAX);
}

void sl_demo_run_release(struct sl_demo_run *r)
{
    sl_buf_release(&r->out);
    sl_buf_release(&r->err);
}

/* Children start with default signal dispositions and an empty mask. */
static int spawnattr_defaults(posix_spawnattr_t *attr, bool new_group)
{
    sigset_t all, none;
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;

    sigfillset(&all);
    sigemptyset(&none);
    if (posix_spawnattr_init(attr) != 0)
        return -1;
    if (new_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        if (posix_spawnattr_setpgroup(attr, 0) != 0)
            return -1;
    }
    if (posix_spawnattr_setsigdefault(attr, &all) != 0 ||
        posix_spawnattr_setsigmask(attr, &none) != 0 || posix_spawnattr_setflags(attr, flags) != 0)
        return -1;
    return 0;
}

static int exit_code(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return 255;
}

static void drain(int fd, struct sl_buf *b, bool *open_)
{
    char chunk[8192];
    ssize_t n = read(fd, chunk, sizeof(chunk));

    if (n > 0) {
        struct sl_error ignored = SL_ERROR_INIT;
        /* Past the cap the rest is dropped: the demo only shows tails and parses JSON. */
        (void)sl_buf_append(b, chunk, (size_t)n, &ignored);
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        *open_ = false;
    }
}

int sl_demo_spawn(struct sl_demo *d, char *const argv[], struct sl_demo_run *r,
                  struct sl_error *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, inp[2] = {-1, -1};
    bool fa_ok = false, attr_ok = false, out_open = true, err_open = true, signalled = false;
    pid_t pid = 0;
    int64_t deadline = now_ms() + RUN_TIMEOUT_MS;
    int rc = -1, e, wstatus = 0;

    sl_buf_reset(&r->out);
    sl_buf_reset(&r->err);
    r->status = -1;
    if (r->input_len > PIPE_BUF) {
        sl_error_set(err, SL_ETOOLARGE, "subprocess input over %d bytes", PIPE_BUF);
        goto done;
    }
    if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0 ||
        (r->input != NULL && pipe2(inp, O_CLOEXEC) != 0)) {
        sl_error_errno(err, errno, "pipe");
        goto done;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    fa_ok = true;
    if ((r->input != NULL
                 ? posix_spawn_file_actions_adddup2(&fa, inp[0], 0)
                 : posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, outp[1], 1) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, errp[1], 2) != 0) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if (spawnattr_defaults(&attr, false) != 0) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    attr_ok = true;
    e = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
    if (e != 0) {
        pid = 0;
        sl_error_errno(err, e, "cannot run %s", argv[0]);
        goto done;
    }
    close(outp[1]);
    close(errp[1]);
    outp[1] = errp[1] = -1;
    if (r->input != NULL) {
        /* Fits in the pipe (at most PIPE_BUF), so this never waits for the child. */
        close(inp[0]);
        inp[0] = -1;
        if (write(inp[1], r->input, r->input_len) != (ssize_t)r->input_len)
            sl_error_errno(err, errno, "writing to %s", argv[0]);
        close(inp[1]);
        inp[1] = -1;
    }
    while (out_open || err_open) {
        struct pollfd pf[2] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
        if (!out_open)
            pf[0].fd = -1;
        if (!err_open)
            pf[1].fd = -1;
        if (!signalled && ((d->stop != NULL && *d->stop) || now_ms() > deadline)) {
            /* Ctrl-C reaches the child through the terminal anyway; SIGTERM covers `kill`.
             * A child that does not stop within 10 s of it is killed. */
            kill(pid, SIGTERM);
            signalled = true;
            deadline = now_ms() + 10000;
        } else if (signalled && now_ms() > deadline) {
            kill(pid, SIGKILL);
            deadline = INT64_MAX;
        }
        if (poll(pf, 2, 200) < 0) {
            if (errno == EINTR)
                continue;
            sl_error_errno(err, errno, "poll");
            break;
        }
        if (pf[0].revents != 0)
            drain(outp[0], &r->out, &out_open);
        if (pf[1].revents != 0)
            drain(errp[0], &r->err, &err_open);
    }
    while (waitpid(pid, &wstatus, 0) < 0) {
        if (errno != EINTR) {
            sl_error_errno(err, errno, "waitpid");
            pid = 0;
            goto done;
        }
    }
    pid = 0;
    r->status = exit_code(wstatus);
    rc = 0;
done:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_ok)
        posix_spawnattr_destroy(&attr);
    for (int i = 0; i < 2; i++) {
        if (inp[i] >= 0)
            close(inp[i]);
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    return rc;
}

/* ---- locating the pieces ---- */

static bool is_exec_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

static bool is_environments(const char *p)
{
    static const char *const need[] = {"base/kustomization.yaml", "dev/kustomization.yaml",
                                       "stage/kustomization.yaml", "prod/kustomization.yaml"};
    char f[SL_DEMO_PATH + 64];
    struct stat st;

    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        int n = snprintf(f, sizeof(f), "%s/%s", p, need[i]);
        if (n < 0 || (size_t)n >= sizeof(f) || stat(f, &st) != 0 || !S_ISREG(st.st_mode))
            return false;
    }
    return true;
}

static int set_path(char *dst, const char *src, struct sl_error *err)
{
    char *real = realpath(src, NULL);
    int n;

    if (real == NULL)
        return sl_error_errno(err, errno, "%s", src);
    n = snprintf(dst, SL_DEMO_PATH, "%s", real);
    free(real);
    if (n < 0 || n >= SL_DEMO_PATH)
        return sl_error_set(err, SL_ETOOLARGE, "path too long: %s", src);
    return 0;
}

int sl_demo_locate(struct sl_demo *d, struct sl_error *err)
{
    char exedir[SL_DEMO_PATH], cand[SL_DEMO_PATH + 64];
    ssize_t l = readlink("/proc/self/exe", d->self, sizeof(d->self) - 1);
    const char *env;
    char *slash;
    int n;

    if (l <= 0 || (size_t)l >= sizeof(d->self) - 1)
        return sl_error_errno(err, errno, "cannot find this binary (/proc/self/exe)");
    d->self[l] = '\0';
    n = snprintf(exedir, sizeof(exedir), "%s", d->self);
    if (n < 0 || (size_t)n >= sizeof(exedir) || (slash = strrchr(exedir, '/')) == NULL)
        return sl_error_set(err, SL_EINVAL, "odd binary path %s", d->self);
    *slash = '\0';

    /* kubesim: --kubesim, $SLUICE_KUBESIM, beside this binary (build tree), then libexec. */
    d->ksbin[0] = '\0';
    if (d->opts.kubesim != NULL) {
        if (!is_exec_file(d->opts.kubesim))
            return sl_error_set(err, SL_ENOTFOUND, "--kubesim %s: not an executable file",
                                d->opts.kubesim);
        if (set_path(d->ksbin, d->opts.kubesim, err) != 0)
            return -1;
    } else if ((env = getenv("SLUICE_KUBESIM")) != NULL && env[0] != '\0') {
        if (!is_exec_file(env))
            return sl_error_set(err, SL_ENOTFOUND, "$SLUICE_KUBESIM=%s: not an executable file",
                                env);
        if (set_path(d->ksbin, env, err) != 0)
            return -1;
    } else {
        const char *const tries[] = {"/kubesim", "/../libexec/sluice/kubesim"};
        for (size_t i = 0; i < 2 && d->ksbin[0] == '\0'; i++) {
            n = snprintf(cand, sizeof(cand), "%s%s", exedir, tries[i]);
            if (n > 0 && (size_t)n < sizeof(cand) && is_exec_file(cand) &&
                set_path(d->ksbin, cand, err) != 0)
                return -1;
        }
        if (d->ksbin[0] == '\0')
            return sl_error_set(err, SL_ENOTFOUND,
                                "kubesim, the simulated cluster the demo runs on, was not found "
                                "(looked for $SLUICE_KUBESIM, %s/kubesim and "
                                "%s/../libexec/sluice/kubesim); build it (cmake --build BUILD "
                                "--target kubesim) or pass --kubesim FILE",
                                exedir, exedir);
    }

    /* environments/: --from, the source tree of a build-tree binary, then share/sluice. */
    d->envsrc[0] = '\0';
    if (d->opts.from != NULL) {
        if (!is_environments(d->opts.from))
            return sl_error_set(err, SL_ENOTFOUND,
                                "--from %s: not an environments directory (needs base/, dev/, "
                                "stage/ and prod/ with a kustomization.yaml each)",
                                d->opts.from);
        return set_path(d->envsrc, d->opts.from, err);
    }
    {
        /* The example repository ships beside the default policies (the source tree for a
         * binary in its build tree, share/sluice otherwise), so it is found the same way. */
        struct sl_buf pol = SL_BUF_INIT(SL_DEMO_PATH);
        struct sl_error ignored = SL_ERROR_INIT;
        bool found = false;
        if (sl_policy_default_dir(&pol, &ignored) == 0 && (slash = strrchr(pol.ptr, '/')) != NULL) {
            *slash = '\0';
            n = snprintf(cand, sizeof(cand), "%s/environments", pol.ptr);
            found = n > 0 && (size_t)n < sizeof(cand) && is_environments(cand);
        }
        sl_buf_release(&pol);
        if (found)
            return set_path(d->envsrc, cand, err);
    }
    n = snprintf(cand, sizeof(cand), "%s/../share/sluice/environments", exedir);
    if (n > 0 && (size_t)n < sizeof(cand) && is_environments(cand))
        return set_path(d->envsrc, cand, err);
    return sl_error_set(err, SL_ENOTFOUND,
                        "the example repository (environments/) was not found next to the "
                        "policies or in %s/../share/sluice/environments; pass --from DIR",
                        exedir);
}

/* ---- kubesim ---- */

static bool file_nonempty(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

static void log_tail(const struct sl_demo *d, char *out, size_t outlen)
{
    char p[SL_DEMO_PATH + 32];
    struct sl_buf b = SL_BUF_INIT((size_t)1 << 20);
    struct sl_error ignored = SL_ERROR_INIT;
    const char *s;

    out[0] = '\0';
    snprintf(p, sizeof(p), "%s/kubesim.log", d->dir);
    if (sl_file_read(&b, p, (size_t)1 << 20, &ignored) == 0) {
        s = b.len > 400 ? b.ptr + b.len - 400 : b.ptr;
        snprintf(out, outlen, "%s", s);
    }
    sl_buf_release(&b);
}

int sl_demo_kubesim_start(struct sl_demo *d, struct sl_error *err)
{
    char portfile[SL_DEMO_PATH + 32], logfile[SL_DEMO_PATH + 32], delay[32], tail[512];
    char *argv[] = {d->ksbin, "--listen",         "127.0.0.1:0", "--port-file",
                    portfile, "--kubeconfig-out", d->kubeconfig, "--ready-delay",
                    delay,    "--fail-image",     d->fail_image, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int64_t deadline;
    int e, wstatus;
    pid_t pid = 0;

    snprintf(portfile, sizeof(portfile), "%s/kubesim.port", d->dir);
    snprintf(logfile, sizeof(logfile), "%s/kubesim.log", d->dir);
    snprintf(delay, sizeof(delay), "%lldms", (long long)d->opts.ready_delay_ms);
    if (posix_spawn_file_actions_init(&fa) != 0)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    if (spawnattr_defaults(&attr, true) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    }
    e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (e == 0)
        e = posix_spawn_file_actions_addopen(&fa, 1, logfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (e == 0)
        e = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (e == 0)
        e = posix_spawn(&pid, d->ksbin, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (e != 0)
        return sl_error_errno(err, e, "cannot start kubesim (%s)", d->ksbin);
    d->kubesim_pid = pid;
    deadline = now_ms() + 15000;
    while (!file_nonempty(portfile) || !file_nonempty(d->kubeconfig)) {
        if (waitpid(pid, &wstatus, WNOHANG) == pid) {
            d->kubesim_pid = 0;
            log_tail(d, tail, sizeof(tail));
            return sl_error_set(err, SL_EIO, "kubesim exited at start (status %d): %s",
                                exit_code(wstatus), tail);
        }
        if (now_ms() > deadline || (d->stop != NULL && *d->stop))
            return sl_error_set(err, SL_ETIMEOUT, "kubesim did not start within 15s");
        sleep_ms(20);
    }
    {
        struct sl_buf b = SL_BUF_INIT(64);
        char *end;
        long port;
        if (sl_file_read(&b, portfile, 64, err) != 0) {
            sl_buf_release(&b);
            return -1;
        }
        port = strtol(b.ptr, &end, 10);
        sl_buf_release(&b);
        if (port <= 0 || port > 65535)
            return sl_error_set(err, SL_EPARSE, "kubesim wrote an odd port file");
        d->port = (int)port;
    }
    return 0;
}

void sl_demo_kubesim_stop(struct sl_demo *d)
{
    int64_t deadline;

    if (d->kubesim_pid <= 0)
        return;
    kill(d->kubesim_pid, SIGTERM);
    deadline = now_ms() + 3000;
    for (;;) {
        pid_t w = waitpid(d->kubesim_pid, NULL, WNOHANG);
        if (w == d->kubesim_pid || (w < 0 && errno != EINTR))
            break;
        if (now_ms() > deadline) {
            kill(d->kubesim_pid, SIGKILL);
            waitpid(d->kubesim_pid, NULL, 0);
            break;
        }
        sleep_ms(20);
    }
    d->kubesim_pid = 0;
}

/* ---- files ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : -1;
}

int sl_demo_rmtree(const char *path)
{
    return nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

int sl_demo_copytree(const char *from, const char *to, struct sl_error *err)
{
    DIR *dir = NULL;
    struct dirent *de;
    struct sl_buf data = SL_BUF_INIT(SL_FILE_MAX);
    char src[SL_DEMO_PATH], dst[SL_DEMO_PATH];
    int rc = -1;

    if (mkdir(to, 0755) != 0 && errno != EEXIST)
        return sl_error_errno(err, errno, "mkdir %s", to);
    if ((dir = opendir(from)) == NULL)
        return sl_error_errno(err, errno, "%s", from);
    while ((errno = 0, de = readdir(dir)) != NULL) {
        struct stat st;
        int n1, n2;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        n1 = snprintf(src, sizeof(src), "%s/%s", from, de->d_name);
        n2 = snprintf(dst, sizeof(dst), "%s/%s", to, de->d_name);
        if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(src) || (size_t)n2 >= sizeof(dst)) {
            sl_error_set(err, SL_ETOOLARGE, "path too long under %s", from);
            goto done;
        }
        if (lstat(src, &st) != 0) {
            sl_error_errno(err, errno, "%s", src);
            goto done;
        }
        if (S_ISDIR(st.st_mode)) {
            if (sl_demo_copytree(src, dst, err) != 0)
                goto done;
        } else if (S_ISREG(st.st_mode)) {
            sl_buf_reset(&data);
            if (sl_file_read(&data, src, SL_FILE_MAX, err) != 0 ||
                sl_file_write_new(dst, data.ptr, data.len, 0644, err) != 0)
                goto done;
        } else {
            sl_error_set(err, SL_EUNSUPPORTED,
                         "%s: only directories and regular files can be copied into the demo "
                         "repository",
                         src);
            goto done;
        }
    }
    if (errno != 0) {
        sl_error_errno(err, errno, "%s", from);
        goto done;
    }
    rc = 0;
done:
    sl_buf_release(&data);
    closedir(dir);
    return rc;
}
