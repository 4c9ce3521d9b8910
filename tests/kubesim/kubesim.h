/*
 * kubesim: a test Kubernetes API server (libmicrohttpd + jansson).
 *
 * Contract: one process holds one in-memory cluster. Every request runs
 * under the state mutex, so handlers see a consistent store; the workload
 * simulator and watch streams take the same mutex. Objects are jansson
 * values owned by the store; handlers work on deep copies and hand a new
 * value to ks_store_put(). Test-only code, but it follows the house rules:
 * bounded bodies, one owner per allocation, no exit() outside main().
 */
#ifndef KUBESIM_H
#define KUBESIM_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* jansson iterators take non-const values; reading through them is safe. */
static inline json_t *ks_mut(const json_t *v)
{
    union {
        const json_t *c;
        json_t *m;
    } u;
    u.c = v;
    return u.m;
}

#define KS_BODY_MAX   ((size_t)3 << 20) /* the real apiserver's request limit */
#define KS_EVENTS_MAX 4096
#define KS_REQLOG_MAX 10000

struct ks_resource {
    char *group, *version, *resource, *kind, *singular, *list_kind;
    char *short_names; /* comma separated, or NULL */
    bool namespaced;
    bool has_status, has_scale;
    bool generation; /* metadata.generation maintained */
    bool crd;        /* registered by a CustomResourceDefinition */
    bool storage;    /* the stored version (CRDs) */
};

struct ks_options {
    const char *listen;
    const char *port_file;
    const char *tls_cert, *tls_key, *client_ca, *ca_out;
    const char *token; /* the first --token, for --kubeconfig-out */
    const char *kubeconfig_out;
    const char *kc_client_cert, *kc_client_key;
    const char *fail_image;
    int64_t ready_delay_ms;
    int64_t fail_after_ms;
    int nodes;
    uint32_t seed;
    bool verbose;
    bool pods; /* Deployments get ReplicaSets and Pods */
};

struct ks_fault;

struct ks_state {
    pthread_mutex_t mu;
    pthread_cond_t changed;  /* broadcast on every stored event */
    pthread_cond_t sim_wake; /* a workload to simulate was (re)armed, or stop */
    struct ks_options opt;
    struct ks_resource *res;
    size_t nres, capres;
    json_t *objects; /* key -> object */
    json_t *sim;     /* key -> simulator bookkeeping */
    json_t *events;  /* array of {"rv","type","key","object"}, bounded */
    uint64_t rv;
    uint64_t uid_seq;
    uint64_t disco_gen; /* bumped when CRDs change the set of resources */
    uint32_t next_ip;
    json_t *counts; /* "verb group/resource" -> n */
    json_t *reqlog; /* last requests */
    uint64_t nreq;
    json_t *faults;             /* array of rules (see faults in main.c) */
    json_t *tokens, *ro_tokens; /* accepted bearer tokens (strings) */
    uint32_t rng;
    volatile int stop;
};

/* Result of a handler: status code, body (owned), extra headers. */
struct ks_reply {
    unsigned code;
    json_t *body;
    const char *content_type;
    char retry_after[24];
    char warning[512]; /* Warning header (fieldValidation=Warn) */
    bool drop;
    char *raw;      /* preformatted body instead of json (owned) */
    size_t raw_len; /* length of raw when it may hold NUL bytes (0: strlen) */
};

/* store.c: resources, objects, CRUD */
int ks_state_init(struct ks_state *st);
void ks_state_free(struct ks_state *st);
const struct ks_resource *ks_find_resource(const struct ks_state *st, const char *group,
                                           const char *version, const char *resource);
const struct ks_resource *ks_find_kind(const struct ks_state *st, const char *group,
                                       const char *kind);
void ks_object_key(char *out, size_t outlen, const struct ks_resource *r, const char *ns,
                   const char *name);
void ks_now_rfc3339(char *out, size_t outlen);
int64_t ks_now_ms(void);

struct ks_request {
    const char *method;
    const char *path;
    const char *accept;
    const char *content_type;
    const char *user_agent;
    const char *user; /* authenticated identity */
    bool readonly;
    const char *body;
    size_t body_len;
    json_t *json_body; /* a JSON body parsed before the state lock was taken (owned), or NULL */
    /* query parameters */
    const char *q_field_manager, *q_force, *q_dry_run, *q_label_selector, *q_field_selector,
            *q_limit, *q_continue, *q_watch, *q_resource_version, *q_timeout_seconds,
            *q_propagation, *q_field_validation, *q_include_object;
    /* filled by routing, for accounting */
    char verb[24];
    char resource_name[160];
};

void ks_handle_api(struct ks_state *st, struct ks_request *rq, struct ks_reply *out);
/* Parse a JSON request body into rq->json_body (no lock needed; YAML and errors are left). */
void ks_preparse_body(struct ks_request *rq);
/* Fill rq->verb and rq->resource_name ("apply apps/deployments") without acting. */
void ks_classify(struct ks_state *st, struct ks_request *rq);
int ks_watch_prefix(struct ks_state *st, const char *path, char *out, size_t outlen,
                    bool *ns_scoped);
bool ks_selector_match(const json_t *obj, const char *labels, const char *fields);
json_t *ks_status(unsigned code, const char *reason, const char *message);
void ks_reply_status(struct ks_reply *out, unsigned code, const char *reason, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Store write shared by the API and the simulator; takes ownership of obj. */
json_t *ks_store_put(struct ks_state *st, const struct ks_resource *r, const char *key, json_t *obj,
                     const char *event_type);
void ks_store_delete(struct ks_state *st, const char *key, json_t *last);
/* Controller writes (manager kube-controller-manager): create, update, delete with GC. */
void ks_create_internal(struct ks_state *st, const struct ks_resource *r, json_t *obj);
void ks_update_internal(struct ks_state *st, const struct ks_resource *r, const char *key,
                        json_t *obj);
void ks_delete_internal(struct ks_state *st, const struct ks_resource *r, const char *key);

/* fields.c: managed fields, server-side apply and patches */
json_t *ks_fieldset(const json_t *obj, bool builtin, bool status_only);
struct ks_conflict {
    char manager[128];
    char field[512];
};
/*
 * Apply `applied` over `live` (NULL on create) for manager. On conflict
 * (without force) returns 409 and fills *conflicts (json array of
 * {"manager","field"}). Returns 0 with *out the merged object otherwise.
 */
int ks_apply(const json_t *live, const json_t *applied, const char *manager, bool force,
             bool builtin, const char *api_version, json_t **out, json_t **conflicts);
/* Record an Update-operation write by manager (subresource "" or "status"/"scale"). */
void ks_update_managed(const json_t *live, json_t *obj, const char *manager,
                       const char *subresource, bool builtin, const char *api_version);
json_t *ks_merge_patch(const json_t *target, const json_t *patch);
int ks_strategic_patch(json_t *target, const json_t *patch, bool builtin, char *err, size_t errlen);
int ks_json_patch(json_t **target, const json_t *patch, char *err, size_t errlen);
const char *const *ks_list_keys(const char *field, const json_t *arr, bool builtin);
char *ks_path_string(const json_t *path);
/* True when a and b are equal ignoring managedFields[].time. */
bool ks_equal_ignoring_times(const json_t *a, const json_t *b);

/* sim.c: workload simulator */
void ks_sim_notify(struct ks_state *st, const struct ks_resource *r, const char *key);
void *ks_sim_thread(void *arg);
void ks_default_object(struct ks_state *st, const struct ks_resource *r, json_t *obj);

/* proto.c: the protobuf bodies of kubectl's imperative generators */
json_t *ks_proto_decode(const char *body, size_t len, char *err, size_t errlen);

/* table.c: server-side printing for kubectl get */
bool ks_wants_table(const char *accept);
json_t *ks_table(const struct ks_resource *r, const json_t *items, const json_t *list_meta,
                 bool include_object);

/* discovery.c */
void ks_handle_discovery(struct ks_state *st, struct ks_request *rq, struct ks_reply *out,
                         bool *handled);

/* Standard base64 of n bytes (malloc'ed, NUL-terminated; NULL when out of memory). */
char *ks_base64(const void *data, size_t n);

#endif
