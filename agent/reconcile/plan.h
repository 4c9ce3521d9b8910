/*
 * Planning: pure functions on JSON, no I/O.
 *
 * The desired objects (rendered, unsealed, checked) are compared with the live objects
 * sluice listed (one LIST per kind, selected by sluice's owner labels) and with the
 * inventory from the state store. The result is a list of actions in apply order
 * (Flux's staging: CRDs, Namespaces, ClusterRoles; then *Class kinds; then the rest by
 * kind order) followed by prunes in reverse order.
 *
 * "Unchanged" means: every field sluice sets equals live (desired is a subset of live,
 * status and server-set metadata ignored; values the API server rewrites compare by value:
 * quantities as quantities, cpu: 0.5 against "500m", and int-or-string fields 8080 against
 * "8080"; fields git leaves out that the server defaulted do not count), every field the
 * live managedFields entry of
 * sluice's field manager lists is still desired (so a field removed from git is an
 * update), and the digest recorded in the inventory equals the desired digest when one
 * is recorded. Unchanged objects get no request at all.
 *
 * Owner labels (set on every applied object):
 *   app.kubernetes.io/managed-by: sluice
 *   sluice.dev/agent: <config name>
 *   sluice.dev/environment: <environment>
 * Keep annotation: sluice.dev/prune: disabled (never pruned).
 * Recreate annotation: sluice.dev/force: enabled (recreate on an immutable-field error).
 *
 * A cluster-scoped object that several environments of the same agent render (a CRD in a
 * shared base) belongs to the first environment that applied it: the others never write
 * it (SL_ACT_SHARED when their version differs, unchanged when it is the same) and never
 * prune it, so environments do not take it from each other on every run.
 */
#ifndef SL_RECONCILE_PLAN_H
#define SL_RECONCILE_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "object.h"
#include "state.h"

#define SL_LABEL_MANAGED_BY    "app.kubernetes.io/managed-by"
#define SL_LABEL_MANAGED_VALUE "sluice"
#define SL_LABEL_AGENT         "sluice.dev/agent"
#define SL_LABEL_ENV           "sluice.dev/environment"
#define SL_ANNOT_PRUNE         "sluice.dev/prune"
#define SL_ANNOT_FORCE         "sluice.dev/force"

/* "sha256:" + 64 hex + NUL */
#define SL_DIGEST_LEN 72

enum sl_action_type {
    SL_ACT_CREATE,    /* not live: apply creates it */
    SL_ACT_UPDATE,    /* git changed it: apply */
    SL_ACT_DRIFT,     /* git did not change it, the cluster did: apply (or report) */
    SL_ACT_UNCHANGED, /* no request */
    SL_ACT_PRUNE,     /* left git, owned by sluice: delete */
    SL_ACT_KEEP,      /* left git, but a safety rule keeps it (reason says which) */
    SL_ACT_GONE,      /* left git and already gone from the cluster: drop from inventory */
    SL_ACT_SHARED,    /* desired, but owned by another environment and different: not applied */
};

struct sl_action {
    enum sl_action_type type;
    struct sl_ref ref;              /* ref.digest: desired digest (NULL for prunes) */
    json_t *desired;                /* reference (NULL for prunes) */
    json_t *live;                   /* reference (NULL when not live) */
    const struct sl_origin *origin; /* borrowed from the desired list (NULL for prunes) */
    bool secret;
    int stage;        /* 0 CRD/Namespace/ClusterRole, 1 *Class, 2 the rest */
    char reason[256]; /* drift: first differing field; keep: why */
};

struct sl_plan {
    struct sl_action *items;
    size_t n, cap;
    char digest[SL_DIGEST_LEN]; /* of the whole desired set */
    unsigned ncreate, nupdate, ndrift, nunchanged, nprune, nkeep, ngone, nshared;
};

struct sl_plan_opts {
    const char *agent;         /* owner label value */
    const char *env;           /* owner label value */
    const char *field_manager; /* whose managedFields entry to read */
    bool prune;                /* false: nothing is pruned (KEEP "prune disabled") */
    /*
     * Objects found in namespaces that are prune candidates, listed without a label
     * selector: {"ns": [obj, ...]}. A Namespace is pruned only when its contents are known
     * and every object in it is owned by sluice and pruned too. NULL: no Namespace pruned.
     */
    const json_t *ns_contents;
};

/*
 * Prepare a rendered object for apply (in place): owner labels, stringData folded into
 * data (base64), status and metadata.creationTimestamp dropped (status kept on CRDs).
 */
int sl_plan_prepare(json_t *obj, const char *agent, const char *env, struct sl_error *err);

/*
 * Overwrite the values of a Secret's data/stringData in place (for the private copies the
 * reconcile stage makes of desired Secrets; jansson would free them unwiped). No-op for
 * other kinds.
 */
void sl_plan_wipe_secret(json_t *obj);

/* "sha256:<hex>" of the canonical JSON (sorted keys, compact) of obj. */
int sl_object_digest(const json_t *obj, char out[SL_DIGEST_LEN], struct sl_error *err);
/* Digest of a whole set: sha256 over "id\ncanonical-json\n" of each object in id order. */
int sl_set_digest(const struct sl_objlist *objs, char out[SL_DIGEST_LEN], struct sl_error *err);

/* Apply-order stage (0..2) and rank inside the stage for group/kind. */
int sl_kind_stage(const char *kind);
int sl_kind_rank(const char *kind);

/* True when live carries all three owner labels with these values. */
bool sl_owned_by(const json_t *live, const char *agent, const char *env);

/*
 * Compare desired with live as described above. Returns true when unchanged; when not,
 * reason gets the first differing field (".spec.replicas") or the managed field no longer
 * desired.
 */
bool sl_plan_compare(const json_t *desired, const json_t *live, const char *field_manager,
                     char *reason, size_t reasonlen);

/*
 * Build the plan. desired: prepared objects (the environment label of shared
 * cluster-scoped objects is rewritten in place, see above); live: JSON array of live objects (any
 * order; objects not owned by sluice are ignored for prune decisions except as namespace contents);
 * inv: the inventory. Fails on duplicate desired objects.
 */
int sl_plan_build(struct sl_plan *plan, const struct sl_objlist *desired, const json_t *live,
                  const struct sl_inventory *inv, const struct sl_plan_opts *opts,
                  struct sl_error *err);
void sl_plan_release(struct sl_plan *plan);

const char *sl_action_name(enum sl_action_type t);

#endif
