/*
 * age v1 (C2SP age.md) on libsodium 1.0.18: X25519 recipients and
 * identities, binary and ASCII-armored files, decryption and encryption.
 *
 * Decryption is all-or-nothing: the whole file (header, header MAC, every
 * STREAM chunk and the final-chunk rules) is verified before a single byte
 * of plaintext is handed back, and the plaintext only ever lives in
 * sodium_malloc memory (struct sl_secbuf). Error messages describe the
 * failure class and never contain input bytes.
 *
 * sluice adds one stanza of its own, "-> sluice.dev/scope KIND" whose body
 * is the bound namespace ("ns") or namespace and name ("ns/name"); it sits in
 * the header, so the header MAC covers it, and other age implementations
 * ignore it as an unknown stanza type. See sealed.h for how it is checked.
 */
#ifndef SL_AGE_H
#define SL_AGE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "secmem.h"

#define SL_AGE_KEY_LEN          32
#define SL_AGE_RECIPIENT_STRLEN 62 /* "age1" + 58 */
#define SL_AGE_IDENTITY_STRLEN  74 /* "AGE-SECRET-KEY-1" + 58 */
#define SL_AGE_MAX_RECIPIENTS   64 /* stanzas written; also the cap when reading */
#define SL_AGE_SCOPE_TYPE       "sluice.dev/scope"
#define SL_AGE_SCOPE_MAX        512 /* bytes of "namespace/name" */

/* Failure classes, matching the age test kit's `expect:` values. */
enum sl_age_status {
    SL_AGE_OK = 0,
    SL_AGE_EARMOR,       /* "armor failure" */
    SL_AGE_EHEADER,      /* "header failure" */
    SL_AGE_EHMAC,        /* "HMAC failure" */
    SL_AGE_EPAYLOAD,     /* "payload failure" */
    SL_AGE_ENOMATCH,     /* "no match": no identity opens any stanza */
    SL_AGE_EUNSUPPORTED, /* scrypt (passphrase) or post-quantum files */
    SL_AGE_EOTHER,       /* out of memory, size caps */
};

struct sl_age_identity {
    unsigned char sk[SL_AGE_KEY_LEN];
    unsigned char pk[SL_AGE_KEY_LEN];
};

/* Identities to try, in order. Each key lives in its own sodium_malloc page. */
struct sl_identities {
    struct sl_age_identity **keys;
    size_t n, cap;
};

#define SL_IDENTITIES_INIT                                                                         \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/*
 * Parse an identity file's text (age-keygen format: "#" comment lines, empty
 * lines, one AGE-SECRET-KEY-1... per line) and append every key. name is
 * used in messages; key material never is.
 */
int sl_identities_add_text(struct sl_identities *ids, const char *text, size_t len,
                           const char *name, struct sl_error *err);
/* Read an identity file (must be private: mode 0600/0400, owned by us) and add its keys. */
int sl_identities_load_file(struct sl_identities *ids, const char *path, struct sl_error *err);
/* Every file of a list (the configuration's decryption identities), in order. */
int sl_identities_load_files(struct sl_identities *ids, char *const *paths, size_t n,
                             struct sl_error *err);
/* Add a raw 32-byte X25519 secret key. */
int sl_identities_add_raw(struct sl_identities *ids, const unsigned char sk[SL_AGE_KEY_LEN],
                          struct sl_error *err);
void sl_identities_release(struct sl_identities *ids);

/* Generate a fresh identity into secure memory. */
struct sl_age_identity *sl_age_identity_generate(struct sl_error *err);
void sl_age_identity_free(struct sl_age_identity *id);
/* "AGE-SECRET-KEY-1..." into out (>= SL_AGE_IDENTITY_STRLEN + 1 bytes, should be secure memory). */
int sl_age_identity_format(const struct sl_age_identity *id, char *out, size_t outlen);

/* Recipients ("age1..."): public keys only. */
struct sl_recipient {
    unsigned char pk[SL_AGE_KEY_LEN];
};
int sl_recipient_parse(const char *s, struct sl_recipient *out, struct sl_error *err);
/* Parse and append one recipient to a malloc'ed array (free() it). */
int sl_recipients_add(struct sl_recipient **v, size_t *n, const char *s, struct sl_error *err);
/* A recipients file: one age1... per line, "#" comments and empty lines ignored. */
int sl_recipients_load_file(struct sl_recipient **v, size_t *n, const char *path,
                            struct sl_error *err);
/* "age1..." into out (>= SL_AGE_RECIPIENT_STRLEN + 1 bytes). */
void sl_recipient_format(const unsigned char pk[SL_AGE_KEY_LEN], char *out, size_t outlen);

enum sl_scope_kind { SL_SCOPE_NONE = 0, SL_SCOPE_STRICT, SL_SCOPE_NAMESPACE, SL_SCOPE_CLUSTER };

/* The scope stanza of a file, as authenticated by the header MAC. */
struct sl_age_scope {
    enum sl_scope_kind kind;
    char bound[SL_AGE_SCOPE_MAX + 1]; /* "ns/name", "ns" or "" */
};

const char *sl_scope_name(enum sl_scope_kind k);
/* "strict" | "namespace" | "cluster" -> kind; -1 otherwise. */
int sl_scope_parse(const char *s, enum sl_scope_kind *out);

/*
 * Decrypt an age file (binary, or armored when it starts, after optional
 * whitespace, with "-----BEGIN"). On success out holds the plaintext (it is
 * released first) and, when scope is not NULL, the authenticated scope
 * stanza (kind SL_SCOPE_NONE when the file has none). status (may be NULL)
 * receives the failure class. Nothing is written to out on failure.
 */
int sl_age_decrypt(const void *in, size_t len, const struct sl_identities *ids,
                   struct sl_secbuf *out, struct sl_age_scope *scope, enum sl_age_status *status,
                   struct sl_error *err);

/*
 * Encrypt pt to every recipient; with scope (may be NULL or SL_SCOPE_NONE)
 * the scope stanza is added. armor selects the PEM form (what SealedSecrets
 * store). The ciphertext is appended to out.
 */
int sl_age_encrypt(const void *pt, size_t len, const struct sl_recipient *rcpts, size_t nrcpts,
                   const struct sl_age_scope *scope, bool armor, struct sl_buf *out,
                   struct sl_error *err);

/*
 * Faster unsealing of many files in one run (a render): an identity hint
 * (the identity that matched last is tried first) and the file keys of the
 * last SL_AGE_CACHE_ENTRIES headers, keyed by the SHA-256 of the complete
 * header (MAC line included). A header byte-identical to one already opened
 * and MAC-verified has the same file key, so the X25519 step is skipped.
 * Lives in sodium_malloc memory; free it when the run ends.
 */
#define SL_AGE_CACHE_ENTRIES 64
struct sl_age_cache {
    struct {
        unsigned char digest[32];
        unsigned char file_key[16];
    } e[SL_AGE_CACHE_ENTRIES];
    size_t n, next, hint;
    unsigned char scratch[16];
};
struct sl_age_cache *sl_age_cache_new(struct sl_error *err);
void sl_age_cache_free(struct sl_age_cache *c);
/* sl_age_decrypt with a cache (may be NULL). out's memory is reused when it has room. */
int sl_age_decrypt_cached(const void *in, size_t len, const struct sl_identities *ids,
                          struct sl_age_cache *cache, struct sl_secbuf *out,
                          struct sl_age_scope *scope, enum sl_age_status *status,
                          struct sl_error *err);

/*
 * Several files with one header (one file key, one set of stanzas, one
 * scope) and a fresh payload nonce each: what `sluice seal` does for the
 * values of one SealedSecret, so that unsealing pays for X25519 once per
 * object. Knowing the file key of one value reveals the others of the same
 * object (never those of other objects).
 */
struct sl_age_sealer {
    unsigned char *file_key; /* secure memory */
    struct sl_buf header;    /* through the MAC line */
};
int sl_age_sealer_init(struct sl_age_sealer *s, const struct sl_recipient *rcpts, size_t nrcpts,
                       const struct sl_age_scope *scope, struct sl_error *err);
int sl_age_seal_with(const struct sl_age_sealer *s, const void *pt, size_t len, bool armor,
                     struct sl_buf *out, struct sl_error *err);
void sl_age_sealer_release(struct sl_age_sealer *s);

/* --- Parsers exposed for tests and fuzzing --- */

/* Strict armor decoding: ciphertext bytes appended to out. */
int sl_age_dearmor(const char *in, size_t len, struct sl_buf *out, struct sl_error *err);
/* Parse and validate the header only (no keys): 0 when well formed. */
int sl_age_parse_header_only(const void *in, size_t len, struct sl_error *err);
/*
 * BIP173 Bech32 (checksum constant 1, no length limit), converted to 8-bit
 * bytes. hrp receives the human-readable part as written.
 */
int sl_bech32_decode(const char *s, size_t slen, char *hrp, size_t hrpcap, unsigned char *data,
                     size_t datacap, size_t *datalen);
/* Encode (lower-case, or upper-case when upper); returns -1 when out is too small. */
int sl_bech32_encode(const char *hrp, const unsigned char *data, size_t len, bool upper, char *out,
                     size_t outlen);

/* HKDF-SHA-256 (RFC 5869) with a 32-byte output, on libsodium's HMAC-SHA-256. */
void sl_hkdf_sha256(unsigned char out[32], const unsigned char *ikm, size_t ikmlen,
                    const unsigned char *salt, size_t saltlen, const char *info);

#endif
