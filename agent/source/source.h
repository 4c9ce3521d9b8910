/*
 * The git source as the agent sees it: configuration in, per-environment
 * revisions out, and a commit as a read-only struct sl_tree.
 *
 * sl_source_open() reads credentials (token/password files must be private;
 * secrets stay in sodium memory), the allowed_signers file, and opens the
 * bare cache (<stateDir>/git unless a directory is given). Nothing touches
 * the network until sl_source_poll(), which lists the remote refs and
 * fetches only when they changed; a failed poll leaves the cache as it was.
 *
 * sl_source_resolve() picks an environment's commit by its tracking rule
 * (sources/resolve.h) against the refs in the cache, compares with what was
 * last seen, and verifies signatures per the environment's mode. The
 * "last seen" state is a small text file, <stateDir>/sources/state, owned
 * here: sl_source_save_state() writes it atomically after a round of
 * resolutions (moved release tags keep their old position there until
 * accepted, so they stay refused). Callers that only look (dry runs) simply
 * do not save.
 *
 * sl_source_open_tree() exposes a commit of the cache through the tree
 * interface, straight from the object database; sl_source_open_ref_tree()
 * does the same for any revision of any local repository
 * (`sluice build --revision REF`).
 */
#ifndef SL_SOURCE_H
#define SL_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"
#include "tree.h"

struct sl_source;

int sl_source_open(const struct sl_config *cfg, const char *cache_dir, struct sl_source **out,
                   struct sl_error *err);
void sl_source_free(struct sl_source *s);

/* Check what config.c cannot: track.range syntax, signature prerequisites. */
int sl_source_check_config(const struct sl_config *cfg, struct sl_error *err);

struct sl_source_poll {
    bool changed; /* the remote's refs differed, so a fetch ran */
    unsigned attempts;
    size_t nrefs;
    size_t received_bytes;
};

int sl_source_poll(struct sl_source *s, struct sl_source_poll *res, struct sl_error *err);
/*
 * A poll waits for its network child in 250 ms slices and calls cancel
 * between them (e.g. a signal flag): non-zero stops it with SL_ECANCELED.
 */
void sl_source_set_cancel(struct sl_source *s, int (*cancel)(void *arg), void *arg);

struct sl_source_result {
    const char *env; /* the config's name (borrowed) */
    bool ok;         /* a revision to deploy, verified per the signature mode */
    bool kept;       /* it is the previous revision, kept on purpose (see reason) */
    char rule[160];  /* "branch main", "rc v*-rc.N", "release v* gated by rc" */
    char ref[256];   /* short name: "main", "v1.4.0" */
    char commit[41];
    char tag[41];         /* annotated tag object, "" otherwise */
    char signature[1280]; /* "not required", "commit: alice", "refused: ..." */
    char reason[1024];
    char notices[1024];  /* history changes, "; "-separated */
    struct sl_error err; /* why, when !ok */
};

/* Returns -1 only when it could not work at all; an unresolvable env is ok=false. */
int sl_source_resolve(struct sl_source *s, const struct sl_env_config *env,
                      struct sl_source_result *out, struct sl_error *err);

/* Record the refs now in the cache and every successful resolution since open. */
int sl_source_save_state(struct sl_source *s, bool accept_moved, struct sl_error *err);

int sl_source_open_tree(struct sl_source *s, const char *commit, struct sl_tree **out,
                        struct sl_error *err);
/* Any revision (ref name, tag, commit id) of the repository at repo_path; commit may be NULL. */
int sl_source_open_ref_tree(const char *repo_path, const char *rev, struct sl_tree **out,
                            char commit[41], struct sl_error *err);

#endif
