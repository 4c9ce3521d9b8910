/*
 * Sealed secrets: what the pipeline calls between render and policy.
 *
 * A SealedSecret (apiVersion sluice.dev/v1, kind SealedSecret) keeps one
 * armored age file per key in spec.encryptedData and the Secret's type,
 * labels, annotations and immutability in spec.template. Each value carries
 * a scope stanza inside its age header (covered by the header MAC):
 *   strict     bound to "namespace/name" (the default)
 *   namespace  bound to "namespace"
 *   cluster    bound to nothing
 * Unsealing compares the binding with the object's FINAL namespace and name
 * (after the overlay's transforms), so a value moved to another object, or
 * with its scope edited, fails. Errors name the object, its origin and the
 * key, never a value.
 *
 * Lifetime of plaintext: the decrypted bytes live in sodium_malloc memory
 * only until they are base64-encoded into the Secret's `data`. jansson
 * keeps that base64 in malloc'ed strings (its own copies, not wipeable by
 * sodium_free), so callers must: build the request from the object with
 * sl_secret_json_dump() (serialises straight into secure memory), send it,
 * then call sl_objlist_wipe_secrets() (overwrites every data/stringData
 * string in place and removes it) before the list is released. Printing
 * goes through sl_secret_masked() unless the user asked for --show-secrets.
 * Copies the caller makes (json_deep_copy, json_dumps, a diff) are the
 * caller's to wipe: sl_secret_json_wipe() for JSON copies, sodium_memzero
 * for strings. Hand the secure request body to libcurl without a copy
 * (CURLOPT_POSTFIELDS, not CURLOPT_COPYPOSTFIELDS); what the TLS library
 * buffers internally is out of our reach.
 */
#ifndef SL_SECRETS_H
#define SL_SECRETS_H

#include <jansson.h>
#include <stdbool.h>

#include "age.h"
#include "buf.h"
#include "diag.h"
#include "error.h"
#include "object.h"
#include "secmem.h"

#define SL_SEALED_API_VERSION "sluice.dev/v1"
#define SL_SEALED_KIND        "SealedSecret"
#define SL_SECRET_MASK        "*****"
/* Cap for one decrypted value or whole-file secret. */
#define SL_SECRET_MAX ((size_t)16 << 20)

bool sl_is_sealed_secret(const json_t *obj);

/*
 * Turn every SealedSecret in objs into a Secret (in place, same origin,
 * secret = true). Stops at nothing: every undecryptable or mis-scoped value
 * is reported in diags (when not NULL) as "origin: Kind ns/name: key \"k\":
 * reason"; the return is -1 with err set to the first problem and a count.
 * On failure the data of every object marked secret in the list is wiped
 * (sl_objlist_wipe_secrets): the list is only good for releasing then.
 * Call it after every transform that changes namespace or name, and after
 * the environment's target namespace is set: the scope check uses them.
 * One call is one "run": values sharing a header are opened with one
 * X25519 operation (see sl_age_cache).
 */
int sl_unseal_objects_all(struct sl_objlist *objs, const struct sl_identities *ids,
                          struct sl_diags *diags, struct sl_error *err);
/* The same without the list of every problem. */
int sl_unseal_objects(struct sl_objlist *objs, const struct sl_identities *ids,
                      struct sl_error *err);

/*
 * Decrypt one age file (binary or armored) with any of ids. The plaintext
 * goes to out (sodium_malloc memory, released first). Used for whole-file
 * `.age` resources. Scope stanzas, if any, are ignored here.
 */
int sl_age_decrypt_buffer(const void *in, size_t len, const struct sl_identities *ids,
                          struct sl_secbuf *out, struct sl_error *err);

/*
 * A whole-file secret: decrypt an age-encrypted YAML stream (name is the
 * repository path, for messages), require every document to be a v1
 * Secret, and append them to out marked secret. The YAML parser's node
 * copies are wiped before they are freed; libyaml's internal read buffer
 * is not (it is freed without wiping).
 */
int sl_unseal_age_resource(const char *name, const void *data, size_t len,
                           const struct sl_identities *ids, struct sl_objlist *out,
                           struct sl_error *err);

/* A deep copy of a Secret with every data/stringData value replaced by SL_SECRET_MASK. */
json_t *sl_secret_masked(const json_t *secret);
/* Overwrite in place and remove every data/stringData value of objects marked secret. */
void sl_objlist_wipe_secrets(struct sl_objlist *objs);
/* Overwrite the string values under data/stringData of one object, then remove them. */
void sl_secret_json_wipe(json_t *obj);
/* Serialise obj as compact JSON straight into secure memory (appended to out). */
int sl_secret_json_dump(const json_t *obj, struct sl_secbuf *out, struct sl_error *err);

/* --- Sealing (the seal and reseal verbs) --- */

struct sl_ynode;
/* Overwrite every scalar of a YAML tree that held plaintext (before sl_ystream_free). */
void sl_ynode_wipe(struct sl_ynode *n);
/*
 * Read a plaintext input (a Secret manifest, a --from-file value) straight
 * into secure memory; path "-" is stdin. No permission check: it is the
 * user's own file.
 */
int sl_secret_read_input(const char *path, struct sl_secbuf *out, size_t max, struct sl_error *err);

/* A Secret data key: [-._a-zA-Z0-9]+, at most 253 bytes. */
bool sl_secret_key_valid(const char *key);

/*
 * The scope stanza for kind and the object's namespace and name (ns is
 * required unless cluster; name unless namespace or cluster).
 */
int sl_scope_make(enum sl_scope_kind kind, const char *ns, const char *name,
                  struct sl_age_scope *out, struct sl_error *err);

/* Encrypt one value to rcpts with scope, armored (appended to out). */
int sl_seal_value(const void *pt, size_t len, const struct sl_recipient *rcpts, size_t nrcpts,
                  const struct sl_age_scope *scope, struct sl_buf *out, struct sl_error *err);

/*
 * Decrypt one SealedSecret value and check its binding against ns/name
 * (the object's final namespace and name). expect_kind (SL_SCOPE_NONE to
 * skip) is the object's spec.scope. The reason for a failure is in err,
 * without any value.
 */
int sl_unseal_value(const char *armored, size_t len, const struct sl_identities *ids,
                    const char *ns, const char *name, enum sl_scope_kind expect_kind,
                    struct sl_secbuf *out, struct sl_age_scope *scope_out, struct sl_error *err);

/* One SealedSecret to write. */
struct sl_sealed_key {
    char *key;
    char *armored; /* ciphertext only */
};
struct sl_sealed_doc {
    char *name, *ns;
    enum sl_scope_kind scope;
    char *type;          /* NULL: Opaque */
    json_t *labels;      /* objects or NULL; owned */
    json_t *annotations; /* objects or NULL; owned */
    int immutable;       /* -1 absent, 0/1 */
    struct sl_sealed_key *keys;
    size_t nkeys, cap;
};
void sl_sealed_doc_release(struct sl_sealed_doc *d);
/* Add or replace a key (armored is copied). */
int sl_sealed_doc_set(struct sl_sealed_doc *d, const char *key, const char *armored,
                      struct sl_error *err);
/* The canonical YAML of a SealedSecret (what `sluice seal` writes). */
int sl_sealed_doc_format(const struct sl_sealed_doc *d, struct sl_buf *out, struct sl_error *err);

/*
 * Text edits that keep git diffs minimal: replace the armored block of one
 * key of a SealedSecret in YAML text (or insert the key when absent) and
 * re-encrypt every value of every SealedSecret in a file.
 */
int sl_sealed_merge_text(const char *text, size_t len, const char *name_for_msgs, const char *key,
                         const void *pt, size_t ptlen, const struct sl_recipient *rcpts,
                         size_t nrcpts, enum sl_scope_kind scope, struct sl_buf *out,
                         struct sl_error *err);
/* *nvalues receives how many values were re-encrypted (0: out is a copy of text). */
int sl_sealed_reseal_text(const char *text, size_t len, const char *name_for_msgs,
                          const struct sl_identities *ids, const struct sl_recipient *rcpts,
                          size_t nrcpts, struct sl_buf *out, size_t *nvalues, struct sl_error *err);

#endif
