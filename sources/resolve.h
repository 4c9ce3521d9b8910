/*
 * Promotion by convention: which commit an environment should run, and why.
 *
 *   branch   the head of a branch (dev: main). A force-push (the last seen
 *            head is not an ancestor of the new one) is followed and reported.
 *   rc       the highest tag PREFIX + MAJOR.MINOR.PATCH-rc.N by semver
 *            precedence (stage). An optional range is matched against the
 *            release the rc leads to (MAJOR.MINOR.PATCH), so "~1.4" takes
 *            v1.4.2-rc.3.
 *   release  the highest tag PREFIX + MAJOR.MINOR.PATCH (prod); with
 *            require_rc only one that some PREFIX + same version -rc.N tag
 *            names the same commit of ("it went through stage").
 * Tags that do not parse are ignored; annotated and lightweight tags are
 * peeled to their commit.
 *
 * History is compared with the state last seen (struct ssrc_state, kept by
 * the caller): a release tag whose commit changed is refused (it stays out
 * of the candidates and keeps its old position in the state until
 * accepted), a moved rc tag is followed and reported, a deleted tag is
 * reported, and an environment never moves to a lower version while the
 * tag it runs still exists unless allow_downgrade. Deleting the tag an
 * environment runs rolls it back to the next highest (reported).
 *
 * These functions are pure (no I/O) apart from the ancestry callback.
 */
#ifndef SSRC_RESOLVE_H
#define SSRC_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#include "repo.h"
#include "semver.h"
#include "srcerr.h"

enum ssrc_rule_type { SSRC_RULE_BRANCH, SSRC_RULE_RC, SSRC_RULE_RELEASE };

struct ssrc_rule {
    enum ssrc_rule_type type;
    const char *branch;             /* SSRC_RULE_BRANCH */
    const char *prefix;             /* tags: "v" */
    const struct ssrc_range *range; /* NULL: any version */
    bool require_rc;
    bool allow_downgrade;
};

/* The last resolution of one environment, as remembered. */
struct ssrc_envstate {
    char *env;
    char ref[SSRC_REFNAME_MAX + 1];
    char commit[SSRC_OID_HEX];
    char tag[SSRC_OID_HEX]; /* annotated tag object, "" otherwise */
};

/* What was last seen: refs (name, direct oid, commit) and environments. */
struct ssrc_state {
    char *url; /* the source these refs came from (NULL when unknown) */
    struct ssrc_refs refs;
    struct ssrc_envstate *envs;
    size_t nenvs;
};

#define SSRC_STATE_MAX ((size_t)64 << 20)

/*
 * Text form: a header line, then "url URL", "ref OID COMMIT NAME" and
 * "env NAME COMMIT TAG|- REF" lines.
 */
int ssrc_state_parse(const char *data, size_t len, struct ssrc_state *out, struct ssrc_error *err);
int ssrc_state_format(const struct ssrc_state *st, char **out, size_t *len, struct ssrc_error *err);
void ssrc_state_release(struct ssrc_state *st);
const struct ssrc_envstate *ssrc_state_env(const struct ssrc_state *st, const char *env);

struct ssrc_resolution {
    bool ok;   /* false: nothing to deploy; reason says why */
    bool kept; /* the environment keeps its previous revision */
    char ref[SSRC_REFNAME_MAX + 1];
    char commit[SSRC_OID_HEX];
    char tag[SSRC_OID_HEX]; /* annotated tag object of ref, "" otherwise */
    char reason[1024];
    char notices[1024]; /* history changes, "; "-separated, "" when none */
    char **refused;     /* moved release tags refused (full ref names) */
    size_t nrefused;
};

typedef int (*ssrc_ancestor_fn)(void *arg, const char *anc, const char *desc);

/* Returns -1 only on internal failure (out of memory); an unresolvable env is ok=false. */
int ssrc_resolve(const struct ssrc_rule *rule, const struct ssrc_refs *now,
                 const struct ssrc_state *seen, const char *env, ssrc_ancestor_fn is_ancestor,
                 void *arg, struct ssrc_resolution *out, struct ssrc_error *err);
void ssrc_resolution_release(struct ssrc_resolution *r);

/*
 * Build the next state into out: the refs of now, except that refused
 * moved tags keep the position in prev (unless accept_moved); environments
 * from prev, replaced by the successful resolutions given.
 */
int ssrc_state_next(const struct ssrc_state *prev, const struct ssrc_refs *now,
                    const char *const *envs, const struct ssrc_resolution *const *res, size_t n,
                    bool accept_moved, const char *url, struct ssrc_state *out,
                    struct ssrc_error *err);

#endif
