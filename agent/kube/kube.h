/*
 * The Kubernetes API client (libcurl + jansson; kubectl is never run).
 *
 * Contract:
 * - Access is resolved once, in sl_kube_open(), exactly as kubectl does it:
 *   the explicit kubeconfig file, else every file in $KUBECONFIG (':' list,
 *   first file to set a map key or scalar wins, missing files skipped), else
 *   ~/.kube/config; or the in-cluster service account. Supported: server,
 *   certificate-authority(-data), insecure-skip-tls-verify, tls-server-name,
 *   proxy-url, disable-compression, token, tokenFile (re-read when the file
 *   changes), client-certificate(-data), client-key(-data), username/password,
 *   as/as-groups/as-uid, and exec plugins (ExecCredential v1 and v1beta1, run
 *   with argv and no shell, cached until expirationTimestamp, re-run on 401).
 *   auth-provider is refused with SL_EUNSUPPORTED.
 * - Credentials live in sodium_malloc memory (the Authorization header is
 *   wiped after each request; libcurl keeps its own copies of a basic-auth
 *   password and of certificate/key blobs while the client is open). Secret
 *   request and response bodies are kept in secure memory too. Logs name only
 *   method, path, status and duration. Error text from a Secret request never
 *   carries the server's message (it can echo values), only reason and fields.
 * - Kinds are mapped to resource paths by discovery (aggregated v2 when the
 *   server offers it, legacy otherwise), cached, refreshed on a miss and by
 *   sl_kube_discovery_invalidate() (call it after applying CRDs).
 * - Transport: one reused curl handle (keep-alive, HTTP/2 over TLS when the
 *   server offers it), a per-request timeout, a token-bucket rate limit
 *   (qps, burst), and bounded retries with exponential backoff and jitter on
 *   connection errors, timeouts, 429 and 5xx, honouring Retry-After. POST is
 *   retried only when the request provably did not reach the server (connect
 *   failure) or on 429/503. Response bodies are capped (32 MiB, LIST pages
 *   256 MiB). Server Warning headers are logged.
 * - Every operation returns 0 or -1 with struct sl_error filled (404 ->
 *   SL_ENOTFOUND, 409 -> SL_ECONFLICT, 400/422 -> SL_EINVAL, 401/403 ->
 *   SL_EAUTH, 415 -> SL_EUNSUPPORTED, timeouts -> SL_ETIMEOUT, others
 *   SL_EIO) and, when the caller passes one, a struct sl_kube_status with the
 *   structured details (HTTP status, Status reason, message, causes) so the
 *   reconcile layer can decide (e.g. recreate on an immutable-field error).
 * - A client is not thread-safe: one per thread. Objects returned are new
 *   references owned by the caller (json_decref).
 */
#ifndef SL_KUBE_H
#define SL_KUBE_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Options; zero/NULL fields take the defaults named here. */
struct sl_kube_options {
    bool in_cluster;        /* use the service account instead of a kubeconfig */
    const char *kubeconfig; /* one explicit file (must exist); NULL: $KUBECONFIG, ~/.kube/config */
    const char *context;    /* NULL: current-context */
    const char *field_manager;  /* NULL: "sluice" */
    int64_t request_timeout_ms; /* per attempt; 0: 30000 */
    double qps;                 /* 0: 20; < 0: no client-side limit */
    int burst;                  /* 0: 2 * qps (at least 1) */
    bool force_conflicts;       /* default for sl_kube_apply when opts->force is not set */
    int max_attempts;           /* total tries per request; 0: 5 */
    int64_t backoff_base_ms;    /* first retry delay; 0: 250 */
    int64_t backoff_max_ms;     /* cap for one delay (also for Retry-After); 0: 30000 */
    int64_t exec_timeout_ms;    /* exec credential plugin run time; 0: 60000 */
    size_t list_page_size;      /* LIST limit per page; 0: 500 */
    const char *incluster_dir;  /* NULL: /var/run/secrets/kubernetes.io/serviceaccount */
    /* Set by a signal handler: stops waits and transfers with SL_ECANCELED. */
    const volatile sig_atomic_t *cancel;
};

struct sl_kube;

/* Resolve access (see contract) and prepare the transport. No request is made. */
int sl_kube_open(struct sl_kube **out, const struct sl_kube_options *opts, struct sl_error *err);
void sl_kube_free(struct sl_kube *k);

/* The API server URL, the context's namespace ("default" when unset), the field manager. */
const char *sl_kube_server(const struct sl_kube *k);
const char *sl_kube_namespace(const struct sl_kube *k);
const char *sl_kube_field_manager(const struct sl_kube *k);

/* ---- Structured API errors -------------------------------------------------- */

struct sl_kube_cause {
    char *reason;  /* "FieldManagerConflict", "FieldValueInvalid", ... (may be NULL) */
    char *message; /* may be NULL (for Secret requests only SL_KUBE_REDACTED_IMMUTABLE) */
    char *field;   /* ".spec.replicas", "spec.selector" (may be NULL) */
};

/*
 * The outcome of the last attempt of one request. Filled on success too
 * (http is 200/201/...). Initialise with SL_KUBE_STATUS_INIT; every
 * operation releases what the struct held before filling it again.
 */
struct sl_kube_status {
    long http;     /* HTTP status; 0 when no response arrived (connection, timeout) */
    char *reason;  /* Status.reason ("Conflict", "Invalid", "NotFound", "AlreadyExists", ...) */
    char *message; /* Status.message (NULL without a Status body; for Secret requests NULL,
                    * or SL_KUBE_REDACTED_IMMUTABLE when the server said a field is immutable) */
    struct sl_kube_cause *causes;
    size_t ncauses;
    int attempts; /* tries made, >= 1 once a request was started */
};

/* The only text kept from a Secret request's error (server text may echo values). */
#define SL_KUBE_REDACTED_IMMUTABLE "field is immutable"

#define SL_KUBE_STATUS_INIT                                                                        \
    {                                                                                              \
        0, NULL, NULL, NULL, 0, 0                                                                  \
    }

void sl_kube_status_release(struct sl_kube_status *st);

/* 404 (object, namespace or resource missing). */
bool sl_kube_is_not_found(const struct sl_kube_status *st);
/* 409 (field-manager conflict, AlreadyExists, optimistic-lock). */
bool sl_kube_is_conflict(const struct sl_kube_status *st);
/* 422 Invalid. */
bool sl_kube_is_invalid(const struct sl_kube_status *st);
/*
 * The apply cannot succeed without recreating the object: 422 with a cause or
 * message saying "immutable" (as Flux's IsImmutableError, minus its catch-all).
 */
bool sl_kube_is_immutable(const struct sl_kube_status *st);

/* ---- Discovery --------------------------------------------------------------- */

enum sl_kube_verb {
    SL_KUBE_VERB_GET = 1u << 0,
    SL_KUBE_VERB_LIST = 1u << 1,
    SL_KUBE_VERB_CREATE = 1u << 2,
    SL_KUBE_VERB_UPDATE = 1u << 3,
    SL_KUBE_VERB_PATCH = 1u << 4,
    SL_KUBE_VERB_DELETE = 1u << 5,
    SL_KUBE_VERB_WATCH = 1u << 6,
};

/* One kind as discovery reports it (copied out; no lifetime ties to the cache). */
struct sl_kube_resource {
    char group[254];  /* "" for the core group */
    char version[64]; /* "v1" */
    char kind[64];    /* "Deployment" */
    char plural[64];  /* "deployments": the path segment */
    bool namespaced;
    unsigned verbs; /* enum sl_kube_verb bits */
};

/*
 * Map apiVersion ("v1", "apps/v1") and kind to its resource. A miss refreshes
 * discovery once and looks again; still missing is SL_ENOTFOUND
 * ("no matches for kind \"X\" in version \"G/V\"").
 */
int sl_kube_resolve(struct sl_kube *k, const char *api_version, const char *kind,
                    struct sl_kube_resource *out, struct sl_error *err);
/* Drop the cache; the next resolve fetches discovery again (call after applying CRDs). */
void sl_kube_discovery_invalidate(struct sl_kube *k);
/* Fetch discovery now (fails when the server cannot be read). */
int sl_kube_discovery_refresh(struct sl_kube *k, struct sl_error *err);

/* ---- Operations -------------------------------------------------------------- */

/*
 * Names one object (or, for LIST, one kind in one namespace). For namespaced
 * kinds ns is required by get/delete/patch (SL_EINVAL otherwise; no implicit
 * default, so nothing lands in an unintended namespace); for LIST, NULL or ""
 * means all namespaces. ns is ignored for cluster-scoped kinds.
 */
struct sl_kube_ref {
    const char *api_version;
    const char *kind;
    const char *ns;
    const char *name;
};

/* GET one object; *out is the object. 404 is SL_ENOTFOUND (sl_kube_is_not_found). */
int sl_kube_get(struct sl_kube *k, const struct sl_kube_ref *ref, json_t **out,
                struct sl_kube_status *st, struct sl_error *err);

struct sl_kube_list_opts {
    const char *label_selector; /* NULL: all */
    const char *field_selector; /* NULL: none */
    size_t limit;               /* page size; 0: the client's list_page_size */
};

/*
 * LIST every page (limit/continue) into *items, a JSON array; apiVersion and
 * kind are filled in on each item (the server omits them in lists). If a
 * continue token expires (410) the list restarts once from the beginning.
 * resource_version (may be NULL) receives the list's resourceVersion (malloc).
 */
int sl_kube_list(struct sl_kube *k, const struct sl_kube_ref *ref,
                 const struct sl_kube_list_opts *opts, json_t **items, char **resource_version,
                 struct sl_kube_status *st, struct sl_error *err);

struct sl_kube_apply_opts {
    const char *field_manager; /* NULL: the client's field manager */
    int force;                 /* 1 force, 0 no force, -1: the client's force_conflicts default */
    bool dry_run;              /* dryRun=All: nothing is stored */
};

/*
 * Server-side apply of a whole object (PATCH application/apply-patch+yaml with
 * a JSON body, fieldManager, force, fieldValidation=Strict, optional
 * dryRun=All). managedFields are stripped from what is sent. obj needs
 * apiVersion, kind, metadata.name and, for namespaced kinds,
 * metadata.namespace. *out (may be NULL) is the object the server returned;
 * *created (may be NULL) is true when the object did not exist before
 * (201, or on dry run an empty resourceVersion).
 */
int sl_kube_apply(struct sl_kube *k, const json_t *obj, const struct sl_kube_apply_opts *opts,
                  json_t **out, bool *created, struct sl_kube_status *st, struct sl_error *err);

enum sl_kube_propagation {
    SL_KUBE_PROPAGATION_DEFAULT = 0, /* the server's default for the kind */
    SL_KUBE_PROPAGATION_BACKGROUND,
    SL_KUBE_PROPAGATION_FOREGROUND,
    SL_KUBE_PROPAGATION_ORPHAN,
};

/*
 * DELETE with a DeleteOptions body. A missing object is SL_ENOTFOUND (callers
 * that prune treat sl_kube_is_not_found() as done).
 */
int sl_kube_delete(struct sl_kube *k, const struct sl_kube_ref *ref,
                   enum sl_kube_propagation propagation, bool dry_run, struct sl_kube_status *st,
                   struct sl_error *err);

enum sl_kube_patch_type {
    SL_KUBE_PATCH_MERGE,     /* application/merge-patch+json */
    SL_KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
    SL_KUBE_PATCH_JSON,      /* application/json-patch+json (patch is an array) */
};

/* PATCH with a non-apply patch type, as the field manager (an "Update" operation). */
int sl_kube_patch(struct sl_kube *k, const struct sl_kube_ref *ref, enum sl_kube_patch_type type,
                  const json_t *patch, bool dry_run, json_t **out, struct sl_kube_status *st,
                  struct sl_error *err);

/* POST a new object (409 AlreadyExists when it exists). */
int sl_kube_create(struct sl_kube *k, const json_t *obj, bool dry_run, json_t **out,
                   struct sl_kube_status *st, struct sl_error *err);

/* Server-side apply of a bare Namespace (labels may be NULL: a JSON object of strings). */
int sl_kube_ensure_namespace(struct sl_kube *k, const char *name, const json_t *labels,
                             struct sl_error *err);

/*
 * A raw request to path (starting with '/', query included, already escaped)
 * for what has no helper (/version, /healthz). body/content_type may be NULL.
 * *out (may be NULL) receives the parsed JSON body of a 2xx answer. Non-2xx
 * answers are errors as for every operation.
 */
int sl_kube_request(struct sl_kube *k, const char *method, const char *path,
                    const char *content_type, const char *body, size_t body_len, json_t **out,
                    struct sl_kube_status *st, struct sl_error *err);

/* Percent-encode s for a URL query value or path segment into out (fails if it does not fit). */
int sl_kube_escape(const char *s, char *out, size_t outlen, struct sl_error *err);

#endif
