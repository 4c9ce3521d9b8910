/*
 * Per-environment state under <stateDir>/<env>/ (the reconcile engine's memory).
 *
 *   state.json    engine-owned: last good revision + digest, the inventory (objects
 *                 sluice may have created, with the digest of what was last applied),
 *                 revisions marked bad, the last reconcile and a bounded history.
 *   control.json  operator-owned: suspended, pinned revision, retry request. Written by
 *                 the CLI verbs (suspend/resume/rollback/retry) while a reconcile may be
 *                 running, so it is a separate file with its own short-held lock.
 *   lock          flock(LOCK_EX) held for a whole reconcile: a second instance fails
 *                 with SL_ECONFLICT instead of interleaving writes.
 *
 * Every write replaces the file atomically (write, fsync, rename, fsync dir), so a crash
 * leaves either the old or the new version. A file that does not parse is an error
 * (SL_EPARSE, never silently reset); leftover "*.tmp.*" files are ignored. Nothing secret
 * is stored: revisions, digests and object references only.
 */
#ifndef SL_RECONCILE_STATE_H
#define SL_RECONCILE_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SL_STATE_HISTORY_MAX 20
#define SL_STATE_BAD_MAX     50
#define SL_STATE_FILE_MAX    ((size_t)64 << 20)

/* One object sluice may own in the cluster (an inventory entry). */
struct sl_ref {
    char *group; /* "" for the core group */
    char *version;
    char *kind;
    char *ns; /* "" for cluster-scoped */
    char *name;
    char *digest; /* digest of the desired object last applied; NULL = unknown */
};

struct sl_inventory {
    struct sl_ref *items;
    size_t n, cap;
    /*
     * Hash index over items (slot = item index + 1, 0 empty), kept by sl_inventory_add once
     * the inventory is large, so that finding one of thousands of entries is not a scan.
     * Owned with items; NULL for small inventories.
     */
    size_t *index;
    size_t index_cap; /* a power of two */
};

enum sl_result {
    SL_RESULT_NONE = 0,
    SL_RESULT_HEALTHY,     /* applied (or unchanged) and healthy */
    SL_RESULT_FAILED,      /* failed, nothing good to return to */
    SL_RESULT_ROLLED_BACK, /* failed, last good revision re-applied */
    SL_RESULT_REJECTED,    /* refused before any write (render, policy, dry run) */
    SL_RESULT_SKIPPED,     /* suspended, or the revision is marked bad */
};

struct sl_history_entry {
    char *revision;
    char *digest;
    enum sl_result result;
    bool rollback;   /* this entry is the re-apply of a last good revision */
    int64_t started; /* unix seconds */
    int64_t duration_ms;
    unsigned created, updated, unchanged, pruned, drifted;
    char *message; /* short reason on failure, NULL otherwise */
};

struct sl_bad_rev {
    char *revision;
    int64_t time;
    char *reason;
};

struct sl_state {
    char *env;
    char *last_good_revision; /* NULL = none yet */
    char *last_good_digest;
    int64_t last_good_time;
    char *applied_revision; /* what is live now (may differ from last good after rollback) */
    struct sl_inventory inventory;
    struct sl_bad_rev *bad;
    size_t nbad;
    struct sl_history_entry *history; /* oldest first, at most SL_STATE_HISTORY_MAX */
    size_t nhistory;
    /* the last reconcile, for `sluice status` */
    int64_t last_time;
    enum sl_result last_result;
    char *last_health; /* "Current", "InProgress", "Failed", ... */
    unsigned last_drifted;
    char *last_message;
};

struct sl_control {
    bool suspended;
    int64_t suspended_at;
    char *pin_revision;        /* rollback pin: hold this revision until the source moves */
    char *pin_source_revision; /* the source revision seen when the pin was set */
    bool retry;                /* clear bad marks at the next reconcile */
};

/* Lifetime helpers. */
struct sl_state *sl_state_new(const char *env, struct sl_error *err);
void sl_state_free(struct sl_state *st);
void sl_control_release(struct sl_control *c);
void sl_inventory_release(struct sl_inventory *inv);
void sl_ref_release(struct sl_ref *r);

/* Add a copy of r (digest may be NULL). Duplicates (same group/kind/ns/name) update in place. */
int sl_inventory_add(struct sl_inventory *inv, const struct sl_ref *r, struct sl_error *err);
/* Index of the entry with the same identity (group, kind, ns, name), or -1. */
long sl_inventory_find(const struct sl_inventory *inv, const char *group, const char *kind,
                       const char *ns, const char *name);
int sl_inventory_copy(struct sl_inventory *dst, const struct sl_inventory *src,
                      struct sl_error *err);
/* Stable id "ns_name_group_Kind" (Flux/cli-utils format) into out. */
void sl_ref_id(const struct sl_ref *r, char *out, size_t outlen);
/* Fill r from a Kubernetes object (apiVersion, kind, metadata); digest left NULL. */
int sl_ref_from_object(struct sl_ref *r, const json_t *obj, struct sl_error *err);

/* JSON forms (also the on-disk format and `-o json` output). */
json_t *sl_state_to_json(const struct sl_state *st);
int sl_state_from_json(struct sl_state **out, const char *env, const json_t *j,
                       struct sl_error *err);
json_t *sl_inventory_to_json(const struct sl_inventory *inv);
int sl_inventory_from_json(struct sl_inventory *inv, const json_t *j, struct sl_error *err);
json_t *sl_history_entry_to_json(const struct sl_history_entry *h);
const char *sl_result_name(enum sl_result r);

/* <state_dir>/<env>/state.json; a missing file (or directory) gives an empty state. */
int sl_state_load(const char *state_dir, const char *env, struct sl_state **out,
                  struct sl_error *err);
/* Create the directory if needed and replace state.json atomically. */
int sl_state_save(const char *state_dir, const struct sl_state *st, struct sl_error *err);

/* History and bad marks (bounded: oldest dropped). h is copied. */
int sl_state_add_history(struct sl_state *st, const struct sl_history_entry *h,
                         struct sl_error *err);
int sl_state_mark_bad(struct sl_state *st, const char *revision, const char *reason, int64_t now,
                      struct sl_error *err);
bool sl_state_is_bad(const struct sl_state *st, const char *revision);
void sl_state_clear_bad(struct sl_state *st);

/* control.json: missing = all defaults. Load/save under the control lock (see below). */
int sl_control_load(const char *state_dir, const char *env, struct sl_control *out,
                    struct sl_error *err);
int sl_control_save(const char *state_dir, const char *env, const struct sl_control *c,
                    struct sl_error *err);

/*
 * Locks. sl_state_lock takes <dir>/lock without waiting (SL_ECONFLICT if held);
 * sl_control_lock waits up to timeout_ms for <dir>/control.lock. Both create the
 * environment directory (mode 0700). *fd_out is released with sl_state_unlock.
 */
int sl_state_lock(const char *state_dir, const char *env, int *fd_out, struct sl_error *err);
int sl_control_lock(const char *state_dir, const char *env, int64_t timeout_ms, int *fd_out,
                    struct sl_error *err);
void sl_state_unlock(int fd);

/* <state_dir>/<env> into out; fails if it does not fit or env is not a plain name. */
int sl_state_env_dir(const char *state_dir, const char *env, char *out, size_t outlen,
                     struct sl_error *err);

#endif
