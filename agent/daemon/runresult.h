/*
 * The seam between the daemon loop and the reconcile pipeline.
 *
 * The daemon calls one function per environment run (sl_reconcile_env_fn),
 * each run on a thread of its own (up to daemon.parallel environments at
 * once, never two runs of one environment), and learns what happened from a
 * plain struct; it never looks inside the pipeline. The function must check
 * sl_daemon_ctx_stopping() at its safe points (between fetch and apply,
 * between apply phases, while waiting for health) and return with outcome
 * SL_RUN_CANCELED when it stops early. Nothing in the result may hold secret
 * material: it is logged, exported as metrics and sent in notifications.
 */
#ifndef SL_RUNRESULT_H
#define SL_RUNRESULT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"

enum sl_run_outcome {
    SL_RUN_UNCHANGED,   /* in sync: nothing was written */
    SL_RUN_APPLIED,     /* a new revision or a drift correction was applied and is healthy */
    SL_RUN_ROLLED_BACK, /* the new revision failed; the last good one was re-applied */
    SL_RUN_FAILED,      /* an error before or during apply (the error says why) */
    SL_RUN_DENIED,      /* a policy denied the revision; nothing was applied */
    SL_RUN_CANCELED,    /* stopped at a safe point because the daemon is stopping */
};

#define SL_RUN_MAX_VIOLATIONS 16

struct sl_run_violation {
    char rule[64];
    unsigned count;
};

struct sl_run_result {
    enum sl_run_outcome outcome;
    char revision[64];        /* commit now applied ("" when none) */
    char ref[128];            /* the tag or branch that named it */
    char previous[64];        /* the commit applied before this run */
    char failed_revision[64]; /* rollback: the commit that failed */
    unsigned applied, pruned, unchanged, drifted;
    bool source_error; /* fetching or resolving the revision failed */
    struct sl_run_violation violations[SL_RUN_MAX_VIOLATIONS];
    size_t nviolations;
    char summary[256]; /* one line for people (notifications); no secrets */
};

struct sl_daemon_ctx;

/* True once the daemon was asked to stop: finish at the next safe point. */
bool sl_daemon_ctx_stopping(const struct sl_daemon_ctx *ctx);
/*
 * The same as a flag for code that polls a sig_atomic_t (the reconcile
 * engine's sl_rc_opts.cancel): non-zero once the daemon is stopping.
 */
const volatile sig_atomic_t *sl_daemon_ctx_cancel_flag(const struct sl_daemon_ctx *ctx);
/*
 * True once the daemon gave up on this run (the stop timeout passed, or the
 * run exceeded its hang limit): end now, even at an unsafe point. A run in a
 * worker process kills it; the reconcile state survives a kill anywhere.
 */
bool sl_daemon_ctx_abandoned(const struct sl_daemon_ctx *ctx);
/* The configuration this run belongs to (stable for the whole run). */
const struct sl_config *sl_daemon_ctx_config(const struct sl_daemon_ctx *ctx);
/* Why this run started: "startup", "interval", "retry", "webhook", "control", "signal". */
const char *sl_daemon_ctx_trigger(const struct sl_daemon_ctx *ctx);

/*
 * Reconcile one environment. Returns 0 when the run completed (outcome
 * UNCHANGED, APPLIED, ROLLED_BACK, DENIED or CANCELED) and -1 with err set
 * when it failed (the daemon then treats the outcome as SL_RUN_FAILED and
 * backs off). res is zeroed by the caller before the call.
 */
typedef int (*sl_reconcile_env_fn)(void *arg, struct sl_daemon_ctx *ctx,
                                   const struct sl_env_config *env, struct sl_run_result *res,
                                   struct sl_error *err);

const char *sl_run_outcome_name(enum sl_run_outcome o);

#endif
