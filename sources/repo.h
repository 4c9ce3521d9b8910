/*
 * Git repositories for sluice: the fetch cache, remote polling, the local
 * ref list and signature checks on commits and tags.
 *
 * The cache is a bare repository that mirrors the remote's branches (refs/heads/)
 * and tags (refs/tags/) exactly (moved tags are updated, deleted refs removed). A
 * poll first lists the remote's refs (one round trip, like `git
 * ls-remote`) and downloads only when they differ from the cache. Refs are
 * updated only after the whole pack has been received and indexed, so a
 * failed or interrupted poll leaves the last good cache untouched.
 *
 * Transports: file:// and plain paths, http(s):// (bearer token or basic
 * auth, CA file, TLS verification unless insecure) and ssh:// or scp-like
 * (private key file; the host key must be in the known_hosts file, plain or
 * hashed entries, an unknown or changed key is refused). libgit2 1.5 has no
 * socket timeouts: the deadline is enforced from its progress callbacks.
 */
#ifndef SSRC_REPO_H
#define SSRC_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sshsig.h"
#include "srcerr.h"

#define SSRC_OID_HEX     41
#define SSRC_MAX_REFS    100000
#define SSRC_REFNAME_MAX 255

struct ssrc_repo;

/* Open the bare cache at dir, creating it when missing. */
int ssrc_cache_open(const char *dir, struct ssrc_repo **out, struct ssrc_error *err);
/* Open an existing repository (bare, or a work tree's .git found from path). */
int ssrc_repo_open(const char *path, struct ssrc_repo **out, struct ssrc_error *err);
void ssrc_repo_free(struct ssrc_repo *r);
/* The repository's git directory. */
const char *ssrc_repo_path(const struct ssrc_repo *r);

struct ssrc_remote_opts {
    const char *url;
    const char *token;    /* https bearer token (secret, not copied) */
    const char *username; /* https basic auth */
    const char *password; /* secret, not copied */
    const char *ssh_key_file;
    const char *known_hosts_file;
    const char *ca_file;
    bool insecure;
    int64_t timeout_ms; /* whole poll, retries included; 0 = 60s */
    unsigned attempts;  /* 0 = 3 */
    int64_t backoff_ms; /* first retry delay, doubled each time, plus jitter; 0 = 500ms */
    /* Polled about every 250 ms while waiting; non-zero stops the poll (SSRC_ECANCELED). */
    int (*cancel)(void *arg);
    void *cancel_arg;
};

struct ssrc_poll_result {
    bool changed; /* the remote's refs differed from the cache */
    unsigned attempts;
    size_t nrefs; /* refs advertised under refs/heads and refs/tags */
    size_t received_bytes;
};

int ssrc_poll(struct ssrc_repo *cache, const struct ssrc_remote_opts *o,
              struct ssrc_poll_result *res, struct ssrc_error *err);

struct ssrc_ref {
    char *name;                /* full name, "refs/tags/v1.0.0" */
    char oid[SSRC_OID_HEX];    /* direct target (the tag object for annotated tags) */
    char commit[SSRC_OID_HEX]; /* peeled to a commit; "" when it does not name one */
    bool annotated;
};

struct ssrc_refs {
    struct ssrc_ref *v;
    size_t n;
};

/* Branches and tags (refs/heads/, refs/tags/) of r, sorted by name. */
int ssrc_refs_list(struct ssrc_repo *r, struct ssrc_refs *out, struct ssrc_error *err);
const struct ssrc_ref *ssrc_refs_find(const struct ssrc_refs *refs, const char *name);
void ssrc_refs_release(struct ssrc_refs *refs);

/* 1 when commit anc is an ancestor of (or equal to) desc, 0 when not or unknown. */
int ssrc_is_ancestor(struct ssrc_repo *r, const char *anc, const char *desc);

/*
 * Verify the SSH signature of a commit (its gpgsig header) or an annotated
 * tag object (the armored block at the end of its message) against
 * signers, at the committer/tagger time. On success who receives the
 * principals of the matching allowed_signers entry. Unsigned objects fail
 * with SSRC_ECRYPTO ("not signed").
 */
int ssrc_verify_commit(struct ssrc_repo *r, const char *commit, const struct ssrc_signers *signers,
                       char *who, size_t whosize, struct ssrc_error *err);
int ssrc_verify_tag(struct ssrc_repo *r, const char *tag_oid, const struct ssrc_signers *signers,
                    char *who, size_t whosize, struct ssrc_error *err);

/* Does the known_hosts text allow key (raw SSH blob) for host:port? Exposed for tests. */
int ssrc_known_hosts_check(const char *text, size_t len, const char *host, int port,
                           const unsigned char *key, size_t keylen, struct ssrc_error *err);

#endif
