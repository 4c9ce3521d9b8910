/*
 * Internals of the Kubernetes client shared by its files and its unit tests
 * (nothing outside agent/kube and tests/unit/test_kube*.c includes this).
 *
 * kubeconfig.c resolves access into struct sl_kubecfg; exec.c runs
 * credential plugins; status.c converts API Status bodies and computes
 * backoff and rate-limit delays; transport.c, discovery.c and ops.c build the
 * client on top.
 */
#ifndef SL_KUBE_INTERNAL_H
#define SL_KUBE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "kube.h"
#include "secmem.h"

#define SL_KUBE_DEFAULT_INCLUSTER_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define SL_KUBE_KUBECONFIG_MAX        ((size_t)4 << 20)
#define SL_KUBE_TOKEN_MAX             ((size_t)64 << 10)
#define SL_KUBE_EXEC_OUTPUT_MAX       ((size_t)1 << 20)

struct sl_kube_exec {
    char *api_version; /* client.authentication.k8s.io/v1 or /v1beta1 */
    char *command;     /* absolute, resolved against the kubeconfig dir, or a PATH name */
    char **args;
    size_t nargs;
    char **env; /* "NAME=value" */
    size_t nenv;
    char *install_hint;
    bool provide_cluster_info;
    bool interactive_always; /* interactiveMode: Always (refused when run) */
};

/* Access to one cluster as one user, resolved from kubeconfig or in-cluster files. */
struct sl_kubecfg {
    char *context; /* context name ("in-cluster" for the service account) */
    char *server;  /* URL without trailing '/' */
    char *ns;      /* default namespace */
    /* TLS */
    char *ca_file;
    struct sl_secret *ca_data; /* PEM */
    bool insecure;
    char *tls_server_name;
    char *proxy_url;
    bool disable_compression;
    /* user */
    struct sl_secret *token;
    char *token_file;
    char *cert_file;
    struct sl_secret *cert_data; /* PEM */
    char *key_file;
    struct sl_secret *key_data; /* PEM */
    char *username;
    struct sl_secret *password;
    char *as_user;
    char *as_uid;
    char **as_groups;
    size_t nas_groups;
    struct sl_kube_exec *exec;
};

void sl_kubecfg_free(struct sl_kubecfg *c);

/*
 * kubectl's loading rules with the environment passed in (for tests):
 * explicit (one file, must exist) else kubeconfig_env (a ':' list; missing
 * files skipped) else home/.kube/config. context NULL: current-context.
 */
int sl_kubecfg_load(struct sl_kubecfg **out, const char *explicit_path, const char *kubeconfig_env,
                    const char *home, const char *context, struct sl_error *err);
/* In-cluster config; pod_namespace is $POD_NAMESPACE (may be NULL). */
int sl_kubecfg_incluster(struct sl_kubecfg **out, const char *dir, const char *host,
                         const char *port, const char *pod_namespace, struct sl_error *err);

/* Credential from an exec plugin. */
struct sl_kube_cred {
    struct sl_secret *token;
    struct sl_secret *cert; /* PEM */
    struct sl_secret *key;  /* PEM */
    time_t expiry;          /* 0: does not expire */
};

void sl_kube_cred_release(struct sl_kube_cred *c);
/* Parse a plugin's stdout (an ExecCredential of api_version). */
int sl_kube_exec_parse(const char *api_version, const char *data, size_t len,
                       struct sl_kube_cred *out, struct sl_error *err);
/* Run the plugin (argv, no shell) and parse its answer; cfg gives cluster info. */
int sl_kube_exec_run(const struct sl_kubecfg *cfg, int64_t timeout_ms, struct sl_kube_cred *out,
                     struct sl_error *err);

/* RFC 3339 ("2026-11-22T12:00:00Z", fractions, offsets) to a UTC time_t. */
int sl_kube_parse_rfc3339(const char *s, time_t *out);

/*
 * Fill st from an HTTP answer: a Status body gives reason, message and
 * causes; otherwise the reason is derived from the HTTP code. redact drops
 * every message (the request concerned a Secret).
 */
void sl_kube_status_fill(struct sl_kube_status *st, long http, const char *body, size_t len,
                         bool redact);
/* Turn a non-2xx st into an error: "what: 409 Conflict: message". Returns -1. */
int sl_kube_status_error(const struct sl_kube_status *st, const char *what, struct sl_error *err);

/*
 * Delay before retry number retry (0 for the first retry): base * 2^retry,
 * capped at max, with "equal jitter" (half fixed, half from rnd).
 */
int64_t sl_kube_backoff_ms(int retry, int64_t base_ms, int64_t max_ms, uint64_t rnd);
/* Retry-After as delta seconds or an HTTP date; -1 when unusable. */
int64_t sl_kube_retry_after_ms(const char *value, time_t now);

/* Token bucket: rate tokens per second, up to burst. */
struct sl_kube_bucket {
    double rate;
    double burst;
    double tokens;
    int64_t last_ms;
};

void sl_kube_bucket_init(struct sl_kube_bucket *b, double rate, double burst, int64_t now_ms);
/* Take one token; returns how long to wait (ms) before using it (0: now). */
int64_t sl_kube_bucket_take(struct sl_kube_bucket *b, int64_t now_ms);

/* Wipe every string in a JSON value (before json_decref of credential JSON). */
void sl_kube_json_wipe(json_t *v);

/* ---- The client (transport.c, ops.c) ---------------------------------------- */

#include <curl/curl.h>
#include <sys/types.h>

#include "buf.h"

struct sl_kube {
    struct sl_kubecfg *cfg;
    CURL *curl;
    char *base_url;                /* server URL (host replaced when tls-server-name is set) */
    struct curl_slist *connect_to; /* tls-server-name: connect to the real host */
    char *field_manager;
    int64_t timeout_ms, backoff_base_ms, backoff_max_ms, exec_timeout_ms;
    int max_attempts;
    size_t page_size;
    bool force_conflicts;
    const volatile sig_atomic_t *cancel;
    struct sl_kube_bucket bucket;
    /* exec plugin credential cache */
    struct sl_kube_cred exec_cred;
    bool have_exec_cred;
    /* tokenFile: re-read when the file changes */
    struct sl_secret *file_token;
    dev_t tok_dev;
    ino_t tok_ino;
    off_t tok_size;
    struct timespec tok_mtime;
    /* transport accounting (tests, debug logs) */
    uint64_t nrequests; /* attempts sent */
    uint64_t nconnects; /* new connections opened (the rest reused one) */
    /* discovery cache */
    struct sl_kube_resource *res;
    size_t nres, capres;
    bool disc_valid;
};

struct sl_kube_req {
    const char *method;
    const char *path; /* starts with '/', may carry a query */
    const char *accept;
    const char *content_type;
    const void *body;
    size_t body_len;
    bool secret;         /* a Secret: response in secure memory, no messages kept */
    bool non_idempotent; /* POST: retried only when it cannot have reached the server */
    size_t max_body;     /* 0: SL_KUBE_BODY_MAX */
};

#define SL_KUBE_BODY_MAX      ((size_t)32 << 20)
#define SL_KUBE_LIST_BODY_MAX ((size_t)256 << 20)

struct sl_kube_resp {
    long http;
    char content_type[256];
    int64_t retry_after_ms;
    bool secret;
    struct sl_buf body;
    struct sl_secbuf sbody;
};

#define SL_KUBE_RESP_INIT                                                                          \
    {                                                                                              \
        0, {0}, -1, false, SL_BUF_INIT(0), SL_SECBUF_INIT(0)                                       \
    }

void sl_kube_resp_release(struct sl_kube_resp *rs);
const char *sl_kube_resp_data(const struct sl_kube_resp *rs, size_t *len);

/*
 * Send one request with rate limiting, credentials and retries. Returns 0
 * when an HTTP answer arrived (any status; st->http and the Status fields
 * are filled), -1 when none did after the allowed attempts (err says why).
 */
int sl_kube_do(struct sl_kube *k, const struct sl_kube_req *rq, struct sl_kube_resp *rs,
               struct sl_kube_status *st, struct sl_error *err);

int64_t sl_kube_now_ms(void);

/*
 * Add the kinds of one discovery document to k's cache without any request:
 * an aggregated APIGroupDiscoveryList when aggregated, else the legacy
 * APIResourceList of group/version. The same parsers that
 * sl_kube_discovery_refresh() applies, exposed for the fuzz target.
 */
int sl_kube_discovery_parse(struct sl_kube *k, const json_t *doc, bool aggregated,
                            const char *group, const char *version, struct sl_error *err);

#endif
