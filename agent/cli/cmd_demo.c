/*
 * `sluice demo`: the whole GitOps story in one command, with no cluster and
 * no network. The story itself is in demo_story.c; this file owns the
 * options, the temporary directory, signals and the final report.
 */
#include <errno.h>
#include <getopt.h>
#include <git2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "demo_internal.h"
#include "lazy.h"
#include "strparse.h"

const char sl_usage_demo[] =
        "Usage: sluice demo [--keep] [--ready-delay DUR] [--non-interactive] [-o text|json]\n"
        "                   [--from DIR] [--kubesim FILE] [--show-output]\n\n"
        "Tell the whole story on a simulated cluster, with no network: start kubesim\n"
        "(an in-memory Kubernetes API server) on a free loopback port, make a git\n"
        "repository from the example environments/, generate an age identity, seal\n"
        "a database password into the repository, configure dev/stage/prod, and run\n"
        "this binary's own verbs as a user would:\n\n"
        "  1. a commit on main deploys to dev\n"
        "  2. tag v1.0.0-rc.1 deploys to stage\n"
        "  3. tag v1.0.0 deploys to prod\n"
        "  4. a Deployment scaled by hand is put back as git says\n"
        "  5. a release whose image never becomes ready is rolled back automatically\n"
        "  6. the next poll moves dev on, holds stage and does not retry the bad revision\n"
        "  7. sluice history and sluice status\n\n"
        "Every outcome is checked in the verb's result and in the cluster. Everything\n"
        "the demo starts is stopped and its temporary directory removed at the end.\n\n"
        "Options:\n"
        "      --keep             keep the temporary directory and leave kubesim running\n"
        "                         (explore with kubectl and sluice; the demo prints how)\n"
        "      --ready-delay DUR  how long simulated workloads take to become ready\n"
        "                         (default 1s)\n"
        "      --non-interactive  no pauses (the default when stdin is not a terminal)\n"
        "  -o, --output FORMAT    text (default) or json: a JSON timeline on stdout, the\n"
        "                         human one on stderr\n"
        "      --from DIR         the example repository to start from (default: the\n"
        "                         source tree's environments/ for a build-tree binary,\n"
        "                         else PREFIX/share/sluice/environments)\n"
        "      --kubesim FILE     the kubesim binary (default: $SLUICE_KUBESIM, then next\n"
        "                         to this binary, then PREFIX/libexec/sluice/kubesim)\n"
        "      --show-output      show the full output of every command the demo runs\n\n"
        "Exit status: 0 every step had its expected outcome, 1 a step failed (it is\n"
        "named), 2 usage error.\n";

static volatile sig_atomic_t demo_stop;

static void on_signal(int sig)
{
    (void)sig;
    demo_stop = 1;
}

static int make_dir(struct sl_demo *d, struct sl_error *err)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[SL_DEMO_PATH - 64];
    int n;

    if (tmp == NULL || tmp[0] != '/')
        tmp = "/tmp";
    n = snprintf(tmpl, sizeof(tmpl), "%s/sluice-demo-XXXXXX", tmp);
    if (n < 0 || (size_t)n >= sizeof(tmpl))
        return sl_error_set(err, SL_ETOOLARGE, "TMPDIR is too long");
    if (mkdtemp(tmpl) == NULL)
        return sl_error_errno(err, errno, "cannot create a temporary directory in %s", tmp);
    snprintf(d->dir, sizeof(d->dir), "%s", tmpl);
    snprintf(d->repo, sizeof(d->repo), "%s/repo", tmpl);
    snprintf(d->config, sizeof(d->config), "%s/sluice.yaml", tmpl);
    snprintf(d->kubeconfig, sizeof(d->kubeconfig), "%s/kubeconfig", tmpl);
    snprintf(d->identity, sizeof(d->identity), "%s/identity.key", tmpl);
    return 0;
}

/* The first step that did not have its expected outcome, and what it said. */
static const char *failed_step(const json_t *steps, const char **message)
{
    size_t i;
    const json_t *s;

    json_array_foreach(steps, i, s)
    {
        if (!json_is_true(json_object_get(s, "ok"))) {
            *message = json_string_value(json_object_get(s, "message"));
            return json_string_value(json_object_get(s, "step"));
        }
    }
    return NULL;
}

int sl_cmd_demo(int argc, char **argv)
{
    enum { O_KEEP = 256, O_DELAY, O_NONINT, O_FROM, O_KUBESIM, O_SHOW };
    static const struct option opts[] = {{"keep", no_argument, NULL, O_KEEP},
                                         {"ready-delay", required_argument, NULL, O_DELAY},
                                         {"non-interactive", no_argument, NULL, O_NONINT},
                                         {"output", required_argument, NULL, 'o'},
                                         {"from", required_argument, NULL, O_FROM},
                                         {"kubesim", required_argument, NULL, O_KUBESIM},
                                         {"show-output", no_argument, NULL, O_SHOW},
                                         {NULL, 0, NULL, 0}};
    struct sl_demo d;
    struct sl_error err = SL_ERROR_INIT;
    struct sigaction sa, old_int, old_term, old_pipe;
    enum sl_output out = SL_OUT_TEXT;
    bool non_interactive = false, git_ready = false, ok = false;
    const char *failed = NULL, *failed_msg = NULL;
    json_t *report = NULL;
    int c, rc = SL_EXIT_FAIL;

    memset(&d, 0, sizeof(d));
    d.opts.ready_delay_ms = 1000;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case O_KEEP:
            d.opts.keep = true;
            break;
        case O_DELAY:
            if (sl_parse_duration_ms(optarg, &d.opts.ready_delay_ms) != 0 ||
                d.opts.ready_delay_ms < 0 || d.opts.ready_delay_ms > 600000)
                return sl_cli_usage_error("demo", "--ready-delay: bad duration \"%s\"", optarg);
            break;
        case O_NONINT:
            non_interactive = true;
            break;
        case 'o':
            if (sl_cli_parse_output("demo", optarg, (1u << SL_OUT_TEXT) | (1u << SL_OUT_JSON),
                                    &out) != 0)
                return SL_EXIT_USAGE;
            break;
        case O_FROM:
            d.opts.from = optarg;
            break;
        case O_KUBESIM:
            d.opts.kubesim = optarg;
            break;
        case O_SHOW:
            d.opts.show_output = true;
            break;
        default:
            return sl_cli_usage_error("demo", "unknown option");
        }
    }
    if (optind != argc)
        return sl_cli_usage_error("demo", "unexpected argument \"%s\"", argv[optind]);
    d.opts.json = out == SL_OUT_JSON;
    d.tty = d.opts.json ? stderr : stdout;
    d.opts.interactive =
            !non_interactive && !d.opts.json && isatty(STDIN_FILENO) && isatty(fileno(d.tty));
    d.stop = &demo_stop;
    d.steps = json_array();
    clock_gettime(CLOCK_MONOTONIC, &d.t0);
    if (d.steps == NULL)
        return sl_cli_fail(&(struct sl_error){SL_ENOMEM, "out of memory"});

    demo_stop = 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* A child that exits before reading its stdin must not take the demo down with it. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old_pipe);

    /* First, so that nothing is set up that cleanup would hand to libgit2. */
    if (sl_lazy_require(SL_LAZY_GIT2, &err) != 0) {
        failed = "locate";
        failed_msg = err.msg;
        goto report;
    }
    if (sl_demo_locate(&d, &err) != 0) {
        failed = "locate";
        failed_msg = err.msg;
        goto report;
    }
    if (git_libgit2_init() < 0) {
        sl_error_set(&err, SL_EGENERIC, "libgit2 initialisation failed");
        failed = "locate";
        failed_msg = err.msg;
        goto report;
    }
    git_ready = true;
    if (make_dir(&d, &err) != 0) {
        failed = "locate";
        failed_msg = err.msg;
        goto report;
    }
    sl_demo_say(&d, "sluice demo: git to dev, stage and prod on a simulated cluster, no network");
    sl_demo_note(&d, "DIR=%s (%s)", d.dir,
                 d.opts.keep ? "kept at the end: --keep" : "removed at the end");
    if (d.opts.interactive)
        sl_demo_note(&d, "the demo pauses between chapters; --non-interactive runs straight "
                         "through");
    ok = sl_demo_story(&d) == 0;
    failed = failed_step(d.steps, &failed_msg);
    if (!ok && failed == NULL)
        failed = "setup";
    if (demo_stop)
        sl_demo_say(&d, "interrupted");

report:
    if (d.dir[0] != '\0' || d.kubesim_pid > 0)
        sl_demo_cleanup(&d, ok);
    if (git_ready)
        git_libgit2_shutdown();
    {
        double secs;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        secs = (double)(now.tv_sec - d.t0.tv_sec) + (double)(now.tv_nsec - d.t0.tv_nsec) / 1e9;
        fputc('\n', d.tty);
        if (ok) {
            sl_demo_say(&d, "demo complete: %zu steps, each with its expected outcome, in %.1fs",
                        json_array_size(d.steps), secs);
        } else {
            /* The verdict of a failed demo belongs on stderr, whatever carries the timeline. */
            fflush(d.tty);
            d.tty = stderr;
            sl_demo_say(&d, "demo FAILED at step \"%s\"%s%s", failed != NULL ? failed : "?",
                        failed_msg != NULL ? ": " : "", failed_msg != NULL ? failed_msg : "");
        }
    }
    if (d.opts.json) {
        report = json_pack("{s:b, s:s?, s:s?, s:s, s:b, s:s?, s:s?, s:{s:i, s:i, s:b}, s:O}", "ok",
                           ok, "failedStep", failed, "error", failed_msg, "dir", d.dir, "kept",
                           d.opts.keep, "config", d.config[0] ? d.config : NULL, "kubeconfig",
                           d.kubeconfig[0] ? d.kubeconfig : NULL, "kubesim", "pid",
                           (int)d.kubesim_pid, "port", d.port, "running", d.kubesim_pid > 0,
                           "steps", d.steps);
        if (report == NULL || sl_cli_print_json(report) != 0)
            ok = false;
    }
    rc = ok ? SL_EXIT_OK : SL_EXIT_FAIL;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    json_decref(report);
    json_decref(d.steps);
    return rc;
}
