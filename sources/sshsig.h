/*
 * SSH signatures as git writes them with gpg.format=ssh (OpenSSH's SSHSIG
 * format, PROTOCOL.sshsig) and git's allowed_signers file.
 *
 * Only ed25519 keys are verified (with libsodium); any other key type is
 * reported as SSRC_EUNSUPPORTED and never accepted. Parsers take untrusted
 * bytes, are bounded (SSRC_SSHSIG_MAX) and never read past their input.
 *
 * Acceptance mirrors `ssh-keygen -Y verify` as git runs it: the signing key
 * must appear in allowed_signers, the entry's namespaces (if given) must
 * allow the signature's namespace ("git"), and the signing time (the
 * committer or tagger date, like git's -Overify-time) must be inside
 * valid-after/valid-before. cert-authority entries are not supported and
 * never match.
 */
#ifndef SSRC_SSHSIG_H
#define SSRC_SSHSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "srcerr.h"

#define SSRC_SSHSIG_MAX         16384 /* armored or binary signature */
#define SSRC_SIGNERS_MAX        (1 << 20)
#define SSRC_SSHSIG_ARMOR_BEGIN "-----BEGIN SSH SIGNATURE-----"
#define SSRC_SSHSIG_ARMOR_END   "-----END SSH SIGNATURE-----"

struct ssrc_sshsig {
    char keytype[32];           /* from the public key blob, e.g. "ssh-ed25519" */
    unsigned char keyblob[128]; /* the public key blob (for allowed_signers lookup) */
    size_t keyblob_len;
    unsigned char pubkey[32]; /* ed25519 only */
    char ns[64];
    char hashalg[16]; /* "sha256" or "sha512" */
    char sigtype[32];
    unsigned char sig[64]; /* ed25519 only */
};

/* Parse the binary SSHSIG blob. Non-ed25519 keys fail with SSRC_EUNSUPPORTED. */
int ssrc_sshsig_parse(const unsigned char *blob, size_t len, struct ssrc_sshsig *out,
                      struct ssrc_error *err);
/* Parse the armored form ("-----BEGIN SSH SIGNATURE-----" ... "-----END ...-----"). */
int ssrc_sshsig_parse_armored(const char *text, size_t len, struct ssrc_sshsig *out,
                              struct ssrc_error *err);
/* Check the signature over msg in namespace ns (SSRC_ECRYPTO when it does not verify). */
int ssrc_sshsig_verify(const struct ssrc_sshsig *sig, const void *msg, size_t len, const char *ns,
                       struct ssrc_error *err);

struct ssrc_signer {
    char *principals;
    char *namespaces;     /* NULL: any namespace */
    int64_t valid_after;  /* unix seconds; INT64_MIN when unset */
    int64_t valid_before; /* INT64_MAX when unset */
    bool cert_authority;
    char keytype[32];
    unsigned char *keyblob;
    size_t keyblob_len;
    int line;
};

struct ssrc_signers {
    struct ssrc_signer *v;
    size_t n;
};

/* Parse allowed_signers text; name is used in "name:line: message". */
int ssrc_signers_parse(const char *data, size_t len, const char *name, struct ssrc_signers **out,
                       struct ssrc_error *err);
void ssrc_signers_free(struct ssrc_signers *s);

/*
 * Find an entry that allows sig's key for namespace ns at time when.
 * On success *principals points into s (valid while s lives).
 */
int ssrc_signers_check(const struct ssrc_signers *s, const struct ssrc_sshsig *sig, const char *ns,
                       int64_t when, const char **principals, struct ssrc_error *err);

/* Parse "YYYYMMDD[HHMM[SS]][Z]" (local time without Z, as ssh-keygen). */
int ssrc_parse_ssh_time(const char *s, int64_t *out);

/*
 * ssh's match_pattern: does the pattern p..pe ('*' and '?' wildcards) match
 * all of s? Used for allowed_signers principals and known_hosts host lists.
 */
bool ssrc_glob(const char *p, const char *pe, const char *s);

#endif
