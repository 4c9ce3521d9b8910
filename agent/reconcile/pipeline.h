/*
 * The real struct sl_desired: git source -> tree of the commit -> render ->
 * unseal -> policy.
 *
 * The source is polled once per pipeline (the first resolve); resolutions are
 * recorded with sl_pipeline_finish(). A policy denial in enforce mode is an
 * error (SL_EPERM) that lists the blocking findings, so the engine rejects
 * the revision before anything is written.
 */
#ifndef SL_RECONCILE_PIPELINE_H
#define SL_RECONCILE_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "engine.h"
#include "error.h"

struct sl_pipeline;

struct sl_pipeline_opts {
    bool no_poll;   /* use the cache as it is (diff, tests) */
    bool no_unseal; /* leave SealedSecrets sealed (diff without identities) */
    /* A signal flag: set, it stops a fetch in progress (SL_ECANCELED). May be NULL. */
    const volatile sig_atomic_t *cancel;
};

int sl_pipeline_open(const struct sl_config *cfg, const struct sl_pipeline_opts *opts,
                     struct sl_pipeline **out, struct sl_error *err);
/* Save the source's "last seen" state (after the runs; skip for look-only verbs). */
int sl_pipeline_finish(struct sl_pipeline *p, struct sl_error *err);
void sl_pipeline_free(struct sl_pipeline *p);

#define SL_PIPELINE_MAX_RULES 16

struct sl_pipeline_violation {
    char rule[64];
    unsigned count;
};

/*
 * Policy violations (not excepted) by rule in env's revision as last resolved
 * and rendered; 0 when env was not the last one resolved. *out is borrowed.
 */
size_t sl_pipeline_violations(const struct sl_pipeline *p, const char *env,
                              const struct sl_pipeline_violation **out);

/* The last poll failed and revisions were resolved from the cache (metrics, status). */
bool sl_pipeline_poll_failed(const struct sl_pipeline *p);

/* Fetch again at the next resolve (a long-running caller, once per round). */
void sl_pipeline_repoll(struct sl_pipeline *p);

/* Fill d so that the engine uses p (borrowed). */
void sl_pipeline_desired(struct sl_pipeline *p, struct sl_desired *d);

#endif
