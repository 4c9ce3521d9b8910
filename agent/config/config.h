/*
 * sluice configuration (YAML, /etc/sluice/sluice.yaml by default).
 *
 * sl_config_load() reads and validates the whole file and reports every
 * problem as "file:line: message" before failing; on success every optional
 * field holds its default, so later stages never test for "unset".
 * sl_config_print() writes the normalised form that `check-config` shows and
 * that sl_config_load() reads back unchanged.
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "diag.h"
#include "error.h"

#define SL_CONFIG_DEFAULT_PATH "/etc/sluice/sluice.yaml"
#define SL_CONFIG_MAX_BYTES    ((size_t)1 << 20)

enum sl_track_type { SL_TRACK_BRANCH, SL_TRACK_RC, SL_TRACK_RELEASE };
enum sl_sig_mode { SL_SIG_NONE, SL_SIG_COMMITS, SL_SIG_TAGS, SL_SIG_BOTH };
enum sl_policy_mode { SL_POLICY_ENFORCE, SL_POLICY_WARN, SL_POLICY_OFF };
enum sl_drift_mode { SL_DRIFT_CORRECT, SL_DRIFT_REPORT };

struct sl_track {
    enum sl_track_type type;
    char *branch;     /* SL_TRACK_BRANCH: branch name (default "main") */
    char *tag_prefix; /* tags are <prefix><semver> (default "v") */
    char *range;      /* optional semver range, NULL when unset */
    bool require_rc;  /* release: only if an rc tag names the same commit */
    bool allow_downgrade;
};

struct sl_env_config {
    char *name;
    int line; /* where the entry starts, for later messages */
    struct sl_track track;
    char *path;      /* overlay directory, relative to the repository root */
    char *namespace; /* target namespace; NULL = as rendered */
    int64_t interval_ms;
    int64_t health_timeout_ms;
    bool prune;
    enum sl_policy_mode policy;
    enum sl_sig_mode signatures;
    enum sl_drift_mode drift;
};

struct sl_source_config {
    char *url;
    int64_t timeout_ms;
    char *token_file;    /* bearer token (https) */
    char *username;      /* basic auth user (https) */
    char *password_file; /* basic auth password (https) */
    char *ssh_key_file;
    char *known_hosts_file;
    char *ca_file;
    bool insecure; /* skip TLS verification: only when explicitly set */
    char *allowed_signers;
};

struct sl_cluster_config {
    bool in_cluster;
    char *kubeconfig; /* NULL: $KUBECONFIG or ~/.kube/config, as kubectl */
    char *context;    /* NULL: current-context */
    char *field_manager;
    int64_t request_timeout_ms;
    double qps;
    bool force_conflicts;
};

struct sl_http_config {
    char *listen;        /* host:port; empty string disables the endpoint */
    uint64_t max_body;   /* webhook request bodies above this are refused */
    uint64_t rate_limit; /* webhook requests a minute per hook; 0 = unlimited */
};

enum sl_webhook_type { SL_WEBHOOK_GITHUB, SL_WEBHOOK_GITLAB, SL_WEBHOOK_HMAC };

/* POST /hooks/NAME: a valid push makes the daemon poll now. */
struct sl_webhook_config {
    char *name;
    int line;
    enum sl_webhook_type type;
    char *secret_file;   /* absolute; a private file read by the daemon */
    char *header;        /* hmac: the signature header (default X-Signature); else NULL */
    char **environments; /* environments to poll; none listed = all */
    size_t nenvironments;
};

enum sl_notify_format { SL_NOTIFY_GENERIC, SL_NOTIFY_SLACK };

/* Outbound notifications on deploy, rollback and failure (disabled when enabled is false). */
struct sl_notify_config {
    bool enabled;
    char *url;      /* or url_file (Slack webhook URLs are secrets) */
    char *url_file; /* absolute; a private file holding the URL */
    enum sl_notify_format format;
    int64_t timeout_ms; /* per attempt */
    uint64_t retries;   /* further attempts after the first fails */
    bool on_deploy, on_rollback, on_failure;
};

/* The scheduling loop of `sluice run`. */
struct sl_daemon_config {
    int64_t stop_timeout_ms; /* SIGTERM: how long the current run may take to stop */
    int64_t backoff_min_ms;  /* first retry after a failure */
    int64_t backoff_max_ms;  /* retries double up to this */
    uint64_t jitter_percent; /* interval + up to this percent, so agents do not align */
    uint64_t parallel;       /* environments reconciled at the same time */
};

struct sl_config {
    char *file;
    char *name; /* agent name, used in owner labels */
    char *state_dir;
    struct sl_source_config source;
    struct sl_cluster_config cluster;
    char **identities;
    size_t nidentities;
    char **policy_dirs;
    size_t npolicy_dirs;
    struct sl_http_config http;
    struct sl_webhook_config *webhooks;
    size_t nwebhooks;
    struct sl_notify_config notifications;
    struct sl_daemon_config daemon;
    struct sl_env_config *envs;
    size_t nenvs;
};

/*
 * Load path. On failure returns -1; every problem found is in diags (when
 * non-NULL) and the first one is in err.
 */
int sl_config_load(struct sl_config **out, const char *path, struct sl_diags *diags,
                   struct sl_error *err);
/* Same from memory; name is used in messages. */
int sl_config_parse(struct sl_config **out, const char *data, size_t len, const char *name,
                    struct sl_diags *diags, struct sl_error *err);
void sl_config_free(struct sl_config *cfg);

/* Normalised YAML (every field, defaults filled in). */
int sl_config_format(const struct sl_config *cfg, struct sl_buf *out, struct sl_error *err);
/* Normalised JSON object (caller json_decref()s it). */
struct json_t;
struct json_t *sl_config_to_json(const struct sl_config *cfg);

const struct sl_env_config *sl_config_env(const struct sl_config *cfg, const char *name);

const char *sl_track_type_name(enum sl_track_type t);
const char *sl_sig_mode_name(enum sl_sig_mode m);
const char *sl_policy_mode_name(enum sl_policy_mode m);
const char *sl_drift_mode_name(enum sl_drift_mode m);
const char *sl_webhook_type_name(enum sl_webhook_type t);
const char *sl_notify_format_name(enum sl_notify_format f);

#endif
