/*
 * `sluice demo`: the whole story on a simulated cluster, with no network.
 *
 * The demo owns a private temporary directory (mkdtemp, 0700) holding a git
 * repository made from environments/, an age identity, the configuration,
 * the state directory and kubesim's files. kubesim runs as a child in its own
 * process group on a free loopback port. Every agent action is this same
 * binary run as a subprocess (posix_spawn, argv, no shell), exactly as a user
 * runs it; the demo itself only edits git, changes the cluster by hand (the
 * drift) and checks outcomes through the Kubernetes API.
 *
 * Cleanup (sl_demo_cleanup) stops kubesim and removes the directory unless
 * the user asked to keep them. Nothing here exits or prints errors behind
 * the caller's back: steps record their outcome in the timeline.
 */
#ifndef SL_DEMO_INTERNAL_H
#define SL_DEMO_INTERNAL_H

#include <git2.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "error.h"

struct sl_kube;

/* What the user chose on the command line. */
struct sl_demo_opts {
    bool keep;           /* leave the directory and kubesim running */
    bool json;           /* JSON timeline on stdout, the human one on stderr */
    bool interactive;    /* pause between chapters (only ever on a tty) */
    bool show_output;    /* print every subprocess's output */
    const char *from;    /* environments/ directory, NULL: located */
    const char *kubesim; /* kubesim binary, NULL: located */
    int64_t ready_delay_ms;
};

/* Captured result of one subprocess. */
struct sl_demo_run {
    const void *input; /* fed to stdin (at most 4 KiB) when set, else /dev/null */
    size_t input_len;
    int status; /* exit status, or 128 + signal */
    struct sl_buf out;
    struct sl_buf err;
};

#define SL_DEMO_PATH 1024

struct sl_demo {
    struct sl_demo_opts opts;
    FILE *tty;                 /* where the human timeline goes */
    char self[SL_DEMO_PATH];   /* this binary */
    char envsrc[SL_DEMO_PATH]; /* environments/ copied into the repository */
    char ksbin[SL_DEMO_PATH];  /* kubesim */
    char dir[SL_DEMO_PATH];    /* the temporary directory ("" until made) */
    char repo[SL_DEMO_PATH];   /* dir/repo */
    char config[SL_DEMO_PATH]; /* dir/sluice.yaml */
    char kubeconfig[SL_DEMO_PATH];
    char identity[SL_DEMO_PATH];
    char recipient[128];
    char fail_image[128]; /* kubesim --fail-image pattern */
    pid_t kubesim_pid;    /* 0 when not running */
    int port;
    git_repository *git;
    struct sl_kube *kube;
    unsigned char *passwords; /* sodium memory: one sealed password per environment */
    struct timespec t0;
    json_t *steps; /* the JSON timeline */
    const volatile sig_atomic_t *stop;
};

/* ---- processes (demo_proc.c) ---- */

void sl_demo_run_init(struct sl_demo_run *r);
void sl_demo_run_release(struct sl_demo_run *r);
/*
 * Run argv (argv[0] is the program path) with stdin from r->input (or
 * /dev/null) and both outputs captured; a stop request is forwarded to the child as SIGTERM.
 * Returns -1 only when the process could not be run at all.
 */
int sl_demo_spawn(struct sl_demo *d, char *const argv[], struct sl_demo_run *r,
                  struct sl_error *err);
/* Locate this binary, kubesim and environments/ (see the usage text for the order). */
int sl_demo_locate(struct sl_demo *d, struct sl_error *err);
/* Start kubesim on a free loopback port and wait until it wrote its kubeconfig. */
int sl_demo_kubesim_start(struct sl_demo *d, struct sl_error *err);
/* SIGTERM, then SIGKILL after a grace period; reaps it. */
void sl_demo_kubesim_stop(struct sl_demo *d);
/* Remove a directory tree (no symlinks followed); best effort, returns -1 on any failure. */
int sl_demo_rmtree(const char *path);
/* Copy a directory tree of regular files (symlinks and specials refused). */
int sl_demo_copytree(const char *from, const char *to, struct sl_error *err);

/* ---- git (demo_repo.c) ---- */

int sl_demo_repo_init(struct sl_demo *d, struct sl_error *err);
/* Stage every file of the work tree and commit on main; hex receives the id (41 bytes). */
int sl_demo_commit(struct sl_demo *d, const char *message, char hex[41], struct sl_error *err);
/* An annotated tag on the commit hex. */
int sl_demo_tag(struct sl_demo *d, const char *name, const char *hex, const char *message,
                struct sl_error *err);
/*
 * Edit a file of the work tree (path relative to the repository): after the
 * first occurrence of anchor, replace the rest of the first line starting
 * with key (e.g. "newTag: ") by value. Fails when anchor or key is missing.
 */
int sl_demo_edit_after(struct sl_demo *d, const char *path, const char *anchor, const char *key,
                       const char *value, struct sl_error *err);
/* Insert text after the first line equal to line (e.g. "resources:"). */
int sl_demo_insert_after_line(struct sl_demo *d, const char *path, const char *line,
                              const char *text, struct sl_error *err);
/* The value after key on the first line with key following anchor (malloc'ed). */
char *sl_demo_read_after(struct sl_demo *d, const char *path, const char *anchor, const char *key,
                         struct sl_error *err);

/* ---- the story (demo_story.c) ---- */

/* Run every step; returns 0 when each had its expected outcome. */
int sl_demo_story(struct sl_demo *d);
/* Stop kubesim and remove the directory (unless kept); prints what was kept. */
void sl_demo_cleanup(struct sl_demo *d, bool ok);

/* Timeline output: "HH:MM:SS  text" on the human stream. */
void sl_demo_say(struct sl_demo *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An indented detail line (no timestamp). */
void sl_demo_note(struct sl_demo *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
