/*
 * The reconcile engine: one environment, one run.
 *
 *   resolve revision -> (pin, bad marks, suspend) -> render -> prepare (owner labels,
 *   namespace) -> LIST per kind -> plan -> dry run of every object to be written ->
 *   inventory (old + new) saved -> apply stage by stage with SSA, waiting for CRDs and
 *   Namespaces -> prune (reverse order, GET first) -> health wait (kstatus) ->
 *   healthy: record last good | failed: mark bad, re-render and re-apply the last good
 *   revision, prune what the failed revision added, wait for health.
 *
 * The engine talks to the cluster only through struct sl_cluster (agent/kube adapter in
 * cluster_kube.c; an in-memory fake in the unit tests) and gets desired objects only
 * through struct sl_desired (the source + render + unseal + policy pipeline). It prints
 * nothing: progress goes to an optional callback, the outcome to struct sl_rc_result.
 *
 * Crash safety: the inventory written before the first apply is the union of the old
 * inventory and the new desired set, so a run killed at any point leaves every object it
 * may have created in the inventory; the next run prunes or adopts them. last good is
 * written only after health passed.
 */
#ifndef SL_RECONCILE_ENGINE_H
#define SL_RECONCILE_ENGINE_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "object.h"
#include "plan.h"
#include "state.h"

/* What the engine needs from a Kubernetes client. Every call returns 0 or -1 with err. */
struct sl_cluster_ops {
    /* Is kind served, and is it namespaced? Unknown kinds fail with SL_ENOTFOUND. */
    int (*resolve)(void *ctx, const char *api_version, const char *kind, bool *namespaced,
                   struct sl_error *err);
    /* Forget discovery (after CRDs were applied). */
    void (*invalidate)(void *ctx);
    /* All objects of a kind (ns NULL: every namespace), label_selector may be NULL. */
    int (*list)(void *ctx, const char *api_version, const char *kind, const char *ns,
                const char *label_selector, json_t **items, struct sl_error *err);
    /* One object; 404 is SL_ENOTFOUND. */
    int (*get)(void *ctx, const char *api_version, const char *kind, const char *ns,
               const char *name, json_t **out, struct sl_error *err);
    /*
     * Server-side apply (force: take over conflicting fields). *immutable is set when the
     * server refused a change of an immutable field. out may be NULL.
     */
    int (*apply)(void *ctx, const json_t *obj, bool dry_run, bool force, json_t **out,
                 bool *immutable, struct sl_error *err);
    /* Delete with background propagation; 404 is SL_ENOTFOUND. */
    int (*del)(void *ctx, const char *api_version, const char *kind, const char *ns,
               const char *name, struct sl_error *err);
    /*
     * Optional: a new independent context for another thread (its own connection),
     * sharing share of the request rate; released with release_clone. When NULL the
     * engine sends everything from one thread.
     */
    void *(*clone)(void *ctx, unsigned share, struct sl_error *err);
    void (*release_clone)(void *clone);
};

struct sl_cluster {
    const struct sl_cluster_ops *ops;
    void *ctx;
};

/* Where desired objects come from. */
struct sl_desired {
    /*
     * The environment's current revision (a commit id) and the ref that named it
     * (malloc'ed; ref may be left NULL).
     */
    int (*resolve)(void *ctx, const struct sl_env_config *env, char **revision, char **ref,
                   struct sl_error *err);
    /* Render revision's overlay for env (rendered, unsealed, policy-checked). */
    int (*render)(void *ctx, const struct sl_env_config *env, const char *revision,
                  struct sl_objlist *out, struct sl_error *err);
    /* Optional: make the next resolve look at the remote again (used while waiting). */
    void (*refresh)(void *ctx);
    /* Release a rendered list (wiping secret values); NULL: sl_objlist_release. */
    void (*release)(void *ctx, struct sl_objlist *objs);
    /*
     * Optional: one line on the findings that did not block revision (warn-mode
     * or non-blocking policy violations, exceptions), "" when none. Kept as the
     * healthy result's message so `sluice status` shows it.
     */
    void (*findings)(void *ctx, const struct sl_env_config *env, const char *revision, char *out,
                     size_t outlen);
    void *ctx;
};

enum sl_rc_phase {
    SL_PHASE_RESOLVE,
    SL_PHASE_RENDER,
    SL_PHASE_PLAN,
    SL_PHASE_DRYRUN,
    SL_PHASE_APPLY,
    SL_PHASE_PRUNE,
    SL_PHASE_HEALTH,
    SL_PHASE_ROLLBACK,
    SL_PHASE_DONE,
};

const char *sl_rc_phase_name(enum sl_rc_phase p);

struct sl_rc_opts {
    const char *agent;         /* owner label (config name) */
    const char *field_manager; /* config cluster.fieldManager */
    bool force_conflicts;      /* config cluster.forceConflicts */
    bool recreate_immutable;   /* recreate every object on immutable errors (else: annotated) */
    int64_t poll_interval_ms;  /* health polling (default 2000) */
    int64_t settle_timeout_ms; /* wait for CRDs/Namespaces (default 60000) */
    unsigned workers;          /* parallel dry runs/applies per kind (0: 4; 1: sequential) */
    /* Check for a newer revision while waiting for health, every this many ms (0: never). */
    int64_t new_revision_check_ms;
    const volatile sig_atomic_t *cancel; /* set by a signal handler: stop at a safe point */
    /* Or asked by the caller (the daemon's sl_daemon_ctx_stopping); may be NULL. */
    bool (*stopping)(void *ctx);
    void *stopping_ctx;
    /* Progress: phase, object id ("Deployment shop/web", may be NULL), action or message. */
    void (*progress)(void *ctx, enum sl_rc_phase phase, const char *object, const char *what);
    void *progress_ctx;
};

/* One object's outcome, for the summary table. */
struct sl_rc_object {
    char id[320];     /* "Deployment shop/web" */
    char action[16];  /* create, update, drift, unchanged, prune, keep, gone, failed */
    char health[16];  /* Current, InProgress, Failed, ... ("" for prunes) */
    char detail[256]; /* drift field, keep reason, health message, error */
};

struct sl_rc_result {
    enum sl_result result;
    char revision[128];        /* the revision live at the end ("" when none) */
    char target[128];          /* the revision this run tried */
    char ref[256];             /* tag/branch that named target */
    char failed_revision[128]; /* when rolled back: what failed */
    char digest[SL_DIGEST_LEN];
    unsigned created, updated, unchanged, pruned, drifted, kept, failed;
    unsigned shared; /* cluster-scoped objects left to the environment owning them */
    unsigned writes; /* apply and delete requests that were not dry runs */
    bool drift_reported_only;
    int64_t duration_ms;
    char health[16];
    char message[512]; /* failure reason or skip reason */
    struct sl_rc_object *objects;
    size_t nobjects, capobjects;
};

void sl_rc_result_release(struct sl_rc_result *r);
json_t *sl_rc_result_to_json(const struct sl_rc_result *r);

/*
 * Reconcile env once. Takes the state lock (SL_ECONFLICT when another process holds it).
 * Returns 0 when the run finished with any result (healthy, rolled back, failed, skipped,
 * rejected: see res->result) and -1 only when it could not run at all (state, lock,
 * cluster unreachable before anything was written) with err set; res is filled in both
 * cases as far as it got.
 */
int sl_reconcile_env(const struct sl_config *cfg, const struct sl_env_config *env,
                     const struct sl_cluster *cluster, const struct sl_desired *desired,
                     const struct sl_rc_opts *opts, struct sl_rc_result *res, struct sl_error *err);

/*
 * Plan only (for `sluice diff`): render the current revision (or revision when not NULL),
 * prepare it and build the plan against the live cluster. No write, no lock.
 */
int sl_reconcile_plan(const struct sl_config *cfg, const struct sl_env_config *env,
                      const struct sl_cluster *cluster, const struct sl_desired *desired,
                      const struct sl_rc_opts *opts, const char *revision, struct sl_objlist *objs,
                      struct sl_plan *plan, char **revision_out, struct sl_error *err);

/* Name of the inventory mirror ConfigMap of env: "sluice-inventory-<env>". */
void sl_inventory_configmap_name(const char *env, char *out, size_t outlen);

#endif
