#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "file.h"
#include "path.h"
#include "strparse.h"
#include "yamltree.h"

/* Parsing context: every problem is added to diags and parsing goes on. */
struct cx {
    const char *file;
    struct sl_diags *d;
};

static void problem(struct cx *c, const struct sl_ynode *n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void problem(struct cx *c, const struct sl_ynode *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n != NULL)
        sl_diags_add(c->d, "%s:%d: %s", c->file, n->line, msg);
    else
        sl_diags_add(c->d, "%s: %s", c->file, msg);
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        abort(); /* out of memory while holding config: nothing sane to do */
    return p;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v == NULL ? NULL : xstrdup(v);
}

/* A scalar string value; "" is allowed only where allow_empty. */
static bool want_string(struct cx *c, const struct sl_ynode *v, const char *key, bool allow_empty,
                        char **dst)
{
    if (v->type != SL_Y_SCALAR ||
        (v->style == SL_YS_PLAIN && sl_yscalar_is_null(v) && !(allow_empty && v->len == 0))) {
        problem(c, v, "%s: expected a string", key);
        return false;
    }
    if (!allow_empty && v->len == 0) {
        problem(c, v, "%s: must not be empty", key);
        return false;
    }
    if (memchr(v->value, '\0', v->len) != NULL) {
        problem(c, v, "%s: contains a NUL byte", key);
        return false;
    }
    set_str(dst, v->value);
    return true;
}

static bool is_null(const struct sl_ynode *v)
{
    return v->type == SL_Y_SCALAR && v->style == SL_YS_PLAIN && sl_yscalar_is_null(v);
}

/* Optional string: an explicit null (as check-config prints) unsets it. */
static bool want_opt_string(struct cx *c, const struct sl_ynode *v, const char *key, char **dst)
{
    if (is_null(v)) {
        free(*dst);
        *dst = NULL;
        return false;
    }
    return want_string(c, v, key, false, dst);
}

static bool want_bool(struct cx *c, const struct sl_ynode *v, const char *key, bool *dst)
{
    if (v->type == SL_Y_SCALAR && v->style == SL_YS_PLAIN) {
        if (strcmp(v->value, "true") == 0) {
            *dst = true;
            return true;
        }
        if (strcmp(v->value, "false") == 0) {
            *dst = false;
            return true;
        }
    }
    problem(c, v, "%s: expected true or false", key);
    return false;
}

static bool want_duration(struct cx *c, const struct sl_ynode *v, const char *key, int64_t min_ms,
                          int64_t *dst)
{
    int64_t ms;

    if (v->type != SL_Y_SCALAR || sl_parse_duration_ms(v->value, &ms) != 0) {
        problem(c, v, "%s: expected a duration such as 30s, 5m or 1h30m", key);
        return false;
    }
    if (ms <= 0) {
        problem(c, v, "%s: must be positive, got %s", key, v->value);
        return false;
    }
    if (ms < min_ms) {
        char m[32];
        sl_format_duration(m, sizeof(m), min_ms);
        problem(c, v, "%s: must be at least %s, got %s", key, m, v->value);
        return false;
    }
    *dst = ms;
    return true;
}

static bool want_abs_path(struct cx *c, const struct sl_ynode *v, const char *key, char **dst)
{
    char *tmp = NULL;

    if (!want_string(c, v, key, false, &tmp))
        return false;
    if (tmp[0] != '/') {
        problem(c, v,
                "%s: \"%s\" must be an absolute path (the daemon does not run in a "
                "predictable directory)",
                key, tmp);
        free(tmp);
        return false;
    }
    free(*dst);
    *dst = tmp;
    return true;
}

/* An optional absolute path: an explicit null (as check-config prints) unsets it. */
static bool want_opt_abs_path(struct cx *c, const struct sl_ynode *v, const char *key, char **dst)
{
    if (is_null(v)) {
        free(*dst);
        *dst = NULL;
        return false;
    }
    return want_abs_path(c, v, key, dst);
}

static bool want_enum(struct cx *c, const struct sl_ynode *v, const char *key,
                      const char *const *names, int *dst)
{
    char allowed[256] = "";
    size_t off = 0;

    if (v->type == SL_Y_SCALAR) {
        for (int i = 0; names[i] != NULL; i++) {
            if (strcmp(v->value, names[i]) == 0) {
                *dst = i;
                return true;
            }
        }
    }
    for (int i = 0; names[i] != NULL && off < sizeof(allowed); i++)
        off += (size_t)snprintf(allowed + off, sizeof(allowed) - off, "%s%s", i ? ", " : "",
                                names[i]);
    problem(c, v, "%s: expected one of %s", key, allowed);
    return false;
}

static bool is_dns_label(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return true;
}

static bool want_mapping(struct cx *c, const struct sl_ynode *v, const char *what)
{
    if (v == NULL || v->type != SL_Y_MAP) {
        problem(c, v, "%s: expected a mapping", what);
        return false;
    }
    return true;
}

static void unknown_key(struct cx *c, const struct sl_ynode *k, const char *section,
                        const char *const *known)
{
    char list[512] = "";
    size_t off = 0;

    for (int i = 0; known[i] != NULL && off < sizeof(list); i++)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", known[i]);
    problem(c, k, "unknown key \"%s\" in %s (known keys: %s)", k->value, section, list);
}

static const char *const track_names[] = {"branch", "rc", "release", NULL};
static const char *const sig_names[] = {"none", "commits", "tags", "both", NULL};
static const char *const policy_names[] = {"enforce", "warn", "off", NULL};
static const char *const drift_names[] = {"correct", "report", NULL};
static const char *const webhook_type_names[] = {"github", "gitlab", "hmac", NULL};
static const char *const notify_format_names[] = {"generic", "slack", NULL};
static const char *const notify_event_names[] = {"deploy", "rollback", "failure", NULL};

const char *sl_track_type_name(enum sl_track_type t)
{
    return track_names[t];
}
const char *sl_sig_mode_name(enum sl_sig_mode m)
{
    return sig_names[m];
}
const char *sl_policy_mode_name(enum sl_policy_mode m)
{
    return policy_names[m];
}
const char *sl_drift_mode_name(enum sl_drift_mode m)
{
    return drift_names[m];
}
const char *sl_webhook_type_name(enum sl_webhook_type t)
{
    return webhook_type_names[t];
}
const char *sl_notify_format_name(enum sl_notify_format f)
{
    return notify_format_names[f];
}

static bool valid_git_url(const char *u)
{
    if (strncmp(u, "file://", 7) == 0 || strncmp(u, "https://", 8) == 0 ||
        strncmp(u, "http://", 7) == 0 || strncmp(u, "ssh://", 6) == 0)
        return strlen(u) > 8;
    if (u[0] == '/')
        return true;
    /* scp-like: user@host:path */
    const char *at = strchr(u, '@'), *colon = strchr(u, ':');
    return at != NULL && colon != NULL && at < colon && colon[1] != '\0';
}

static void parse_source(struct cx *c, const struct sl_ynode *m, struct sl_source_config *s)
{
    static const char *const known[] = {
            "url",        "timeout",        "tokenFile", "username", "passwordFile",
            "sshKeyFile", "knownHostsFile", "caFile",    "insecure", "allowedSigners",
            NULL};
    if (!want_mapping(c, m, "source"))
        return;
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i]->value;
        const struct sl_ynode *v = m->items[i];
        if (strcmp(k, "url") == 0) {
            if (want_string(c, v, "source.url", false, &s->url) && !valid_git_url(s->url))
                problem(c, v,
                        "source.url: \"%s\" is not a git URL (file://, https://, ssh://, "
                        "user@host:path or an absolute path)",
                        s->url);
        } else if (strcmp(k, "timeout") == 0) {
            want_duration(c, v, "source.timeout", 1000, &s->timeout_ms);
        } else if (strcmp(k, "tokenFile") == 0) {
            want_opt_abs_path(c, v, "source.tokenFile", &s->token_file);
        } else if (strcmp(k, "username") == 0) {
            want_opt_string(c, v, "source.username", &s->username);
        } else if (strcmp(k, "passwordFile") == 0) {
            want_opt_abs_path(c, v, "source.passwordFile", &s->password_file);
        } else if (strcmp(k, "sshKeyFile") == 0) {
            want_opt_abs_path(c, v, "source.sshKeyFile", &s->ssh_key_file);
        } else if (strcmp(k, "knownHostsFile") == 0) {
            want_opt_abs_path(c, v, "source.knownHostsFile", &s->known_hosts_file);
        } else if (strcmp(k, "caFile") == 0) {
            want_opt_abs_path(c, v, "source.caFile", &s->ca_file);
        } else if (strcmp(k, "insecure") == 0) {
            want_bool(c, v, "source.insecure", &s->insecure);
        } else if (strcmp(k, "allowedSigners") == 0) {
            want_opt_abs_path(c, v, "source.allowedSigners", &s->allowed_signers);
        } else {
            unknown_key(c, m->keys[i], "source", known);
        }
    }
    if (s->url == NULL)
        problem(c, m, "source.url is required");
    if (s->token_file != NULL && s->password_file != NULL)
        problem(c, m, "source: set tokenFile or passwordFile, not both");
    if ((s->username != NULL) != (s->password_file != NULL))
        problem(c, m, "source: username and passwordFile go together");
}

static void parse_cluster(struct cx *c, const struct sl_ynode *m, struct sl_cluster_config *cl)
{
    static const char *const known[] = {
            "inCluster",      "kubeconfig", "context",        "fieldManager",
            "requestTimeout", "qps",        "forceConflicts", NULL};
    if (!want_mapping(c, m, "cluster"))
        return;
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i]->value;
        const struct sl_ynode *v = m->items[i];
        if (strcmp(k, "inCluster") == 0) {
            want_bool(c, v, "cluster.inCluster", &cl->in_cluster);
        } else if (strcmp(k, "kubeconfig") == 0) {
            want_opt_abs_path(c, v, "cluster.kubeconfig", &cl->kubeconfig);
        } else if (strcmp(k, "context") == 0) {
            want_opt_string(c, v, "cluster.context", &cl->context);
        } else if (strcmp(k, "fieldManager") == 0) {
            if (want_string(c, v, "cluster.fieldManager", false, &cl->field_manager) &&
                strlen(cl->field_manager) > 128)
                problem(c, v, "cluster.fieldManager: longer than 128 characters");
        } else if (strcmp(k, "requestTimeout") == 0) {
            want_duration(c, v, "cluster.requestTimeout", 1000, &cl->request_timeout_ms);
        } else if (strcmp(k, "qps") == 0) {
            char *end = NULL;
            double q = v->type == SL_Y_SCALAR ? strtod(v->value, &end) : -1;
            if (end == NULL || *end != '\0' || end == v->value || !(q > 0 && q <= 10000))
                problem(c, v, "cluster.qps: expected a number between 0 and 10000");
            else
                cl->qps = q;
        } else if (strcmp(k, "forceConflicts") == 0) {
            want_bool(c, v, "cluster.forceConflicts", &cl->force_conflicts);
        } else {
            unknown_key(c, m->keys[i], "cluster", known);
        }
    }
    if (cl->in_cluster && (cl->kubeconfig != NULL || cl->context != NULL))
        problem(c, m, "cluster: inCluster cannot be combined with kubeconfig or context");
}

static void parse_string_list(struct cx *c, const struct sl_ynode *v, const char *key, bool paths,
                              char ***out, size_t *nout)
{
    if (v->type != SL_Y_SEQ) {
        problem(c, v, "%s: expected a list", key);
        return;
    }
    for (size_t i = 0; i < *nout; i++)
        free((*out)[i]);
    free(*out);
    *out = calloc(v->n == 0 ? 1 : v->n, sizeof(char *));
    if (*out == NULL)
        abort();
    *nout = 0;
    for (size_t i = 0; i < v->n; i++) {
        char *s = NULL;
        char what[64];
        snprintf(what, sizeof(what), "%s[%zu]", key, i);
        if (paths ? want_abs_path(c, v->items[i], what, &s)
                  : want_string(c, v->items[i], what, false, &s))
            (*out)[(*nout)++] = s;
    }
}

static void parse_decryption(struct cx *c, const struct sl_ynode *m, struct sl_config *cfg)
{
    static const char *const known[] = {"identities", NULL};
    if (!want_mapping(c, m, "decryption"))
        return;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->keys[i]->value, "identities") == 0)
            parse_string_list(c, m->items[i], "decryption.identities", true, &cfg->identities,
                              &cfg->nidentities);
        else
            unknown_key(c, m->keys[i], "decryption", known);
    }
}

static void parse_policies(struct cx *c, const struct sl_ynode *m, struct sl_config *cfg)
{
    static const char *const known[] = {"dirs", NULL};
    if (!want_mapping(c, m, "policies"))
        return;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->keys[i]->value, "dirs") == 0)
            parse_string_list(c, m->items[i], "policies.dirs", true, &cfg->policy_dirs,
                              &cfg->npolicy_dirs);
        else
            unknown_key(c, m->keys[i], "policies", known);
    }
}

static bool valid_listen(const char *s)
{
    const char *colon = strrchr(s, ':');
    uint64_t port;

    if (s[0] == '\0')
        return true; /* disabled */
    if (colon == NULL || colon == s)
        return false;
    if (s[0] == '[' && colon[-1] != ']')
        return false;
    return sl_parse_u64(colon + 1, 65535, &port) == 0;
}

static bool want_u64(struct cx *c, const struct sl_ynode *v, const char *key, uint64_t min,
                     uint64_t max, uint64_t *dst)
{
    uint64_t n;

    if (v->type != SL_Y_SCALAR || v->style != SL_YS_PLAIN || sl_parse_u64(v->value, max, &n) != 0 ||
        n < min) {
        problem(c, v, "%s: expected a whole number from %llu to %llu", key, (unsigned long long)min,
                (unsigned long long)max);
        return false;
    }
    *dst = n;
    return true;
}

static void parse_http(struct cx *c, const struct sl_ynode *m, struct sl_http_config *h)
{
    static const char *const known[] = {"listen", "maxBodySize", "webhookRateLimit", NULL};
    if (!want_mapping(c, m, "http"))
        return;
    for (size_t i = 0; i < m->n; i++) {
        const struct sl_ynode *v = m->items[i];
        if (strcmp(m->keys[i]->value, "listen") == 0) {
            if (want_string(c, v, "http.listen", true, &h->listen) && !valid_listen(h->listen))
                problem(c, v,
                        "http.listen: \"%s\" is not HOST:PORT (for example 127.0.0.1:9402, "
                        "[::1]:9402; \"\" disables the endpoint)",
                        h->listen);
        } else if (strcmp(m->keys[i]->value, "maxBodySize") == 0) {
            want_u64(c, v, "http.maxBodySize", 1024, (uint64_t)64 << 20, &h->max_body);
        } else if (strcmp(m->keys[i]->value, "webhookRateLimit") == 0) {
            want_u64(c, v, "http.webhookRateLimit", 0, 100000, &h->rate_limit);
        } else {
            unknown_key(c, m->keys[i], "http", known);
        }
    }
}

static bool is_hook_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

static void parse_webhook(struct cx *c, const struct sl_ynode *m, size_t idx,
                          struct sl_webhook_config *w)
{
    static const char *const known[] = {"name",   "type",         "secretFile",
                                        "header", "environments", NULL};
    char what[96];
    bool type_ok = true;
    int ev;

    w->line = m->line;
    {
        const struct sl_ynode *nv = sl_ynode_get(m, "name");
        if (nv != NULL && nv->type == SL_Y_SCALAR && nv->value[0] != '\0')
            snprintf(what, sizeof(what), "webhook %s", nv->value);
        else
            snprintf(what, sizeof(what), "webhooks[%zu]", idx);
    }
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i]->value;
        const struct sl_ynode *v = m->items[i];
        if (strcmp(k, "name") == 0) {
            if (want_string(c, v, "webhooks.name", false, &w->name) && !is_hook_name(w->name))
                problem(c, v,
                        "webhooks.name: \"%s\" must be 1-63 letters, digits, '-' or '_' (it is "
                        "the URL path /hooks/NAME)",
                        w->name);
        } else if (strcmp(k, "type") == 0) {
            if (want_enum(c, v, "webhooks.type", webhook_type_names, &ev))
                w->type = (enum sl_webhook_type)ev;
            else
                type_ok = false;
        } else if (strcmp(k, "secretFile") == 0) {
            want_abs_path(c, v, "webhooks.secretFile", &w->secret_file);
        } else if (strcmp(k, "header") == 0) {
            if (want_opt_string(c, v, "webhooks.header", &w->header) &&
                strspn(w->header,
                       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
                        strlen(w->header))
                problem(c, v, "webhooks.header: \"%s\" is not an HTTP header name", w->header);
        } else if (strcmp(k, "environments") == 0) {
            parse_string_list(c, v, "webhooks.environments", false, &w->environments,
                              &w->nenvironments);
        } else {
            unknown_key(c, m->keys[i], what, known);
        }
    }
    if (w->name == NULL) {
        problem(c, m, "%s: name is required", what);
        set_str(&w->name, "");
    }
    if (sl_ynode_get(m, "type") == NULL) {
        problem(c, m, "%s: type is required (github, gitlab or hmac)", what);
        type_ok = false;
    }
    if (sl_ynode_get(m, "secretFile") == NULL)
        problem(c, m, "%s: secretFile is required", what);
    if (type_ok && w->header != NULL && w->type != SL_WEBHOOK_HMAC)
        problem(c, m, "%s: header applies only to type hmac", what);
    if (w->type == SL_WEBHOOK_HMAC && w->header == NULL)
        set_str(&w->header, "X-Signature");
}

static void parse_webhooks(struct cx *c, const struct sl_ynode *v, struct sl_config *cfg)
{
    if (v->type != SL_Y_SEQ) {
        problem(c, v, "webhooks: expected a list");
        return;
    }
    cfg->webhooks = calloc(v->n == 0 ? 1 : v->n, sizeof(*cfg->webhooks));
    if (cfg->webhooks == NULL)
        abort();
    for (size_t i = 0; i < v->n; i++) {
        char what[64];
        snprintf(what, sizeof(what), "webhooks[%zu]", i);
        if (!want_mapping(c, v->items[i], what))
            continue;
        struct sl_webhook_config *w = &cfg->webhooks[cfg->nwebhooks++];
        parse_webhook(c, v->items[i], i, w);
        for (size_t j = 0; j + 1 < cfg->nwebhooks; j++)
            if (w->name[0] != '\0' && strcmp(cfg->webhooks[j].name, w->name) == 0)
                problem(c, v->items[i], "duplicate webhook name \"%s\" (first defined at line %d)",
                        w->name, cfg->webhooks[j].line);
    }
}

static void parse_notifications(struct cx *c, const struct sl_ynode *m, struct sl_notify_config *n)
{
    static const char *const known[] = {"url",     "urlFile", "format", "timeout",
                                        "retries", "events",  NULL};
    int ev;

    if (is_null(m)) {
        n->enabled = false;
        return;
    }
    if (!want_mapping(c, m, "notifications"))
        return;
    n->enabled = true;
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i]->value;
        const struct sl_ynode *v = m->items[i];
        if (strcmp(k, "url") == 0) {
            if (want_opt_string(c, v, "notifications.url", &n->url) &&
                strncmp(n->url, "https://", 8) != 0 && strncmp(n->url, "http://", 7) != 0)
                problem(c, v, "notifications.url: expected an http:// or https:// URL");
        } else if (strcmp(k, "urlFile") == 0) {
            want_opt_abs_path(c, v, "notifications.urlFile", &n->url_file);
        } else if (strcmp(k, "format") == 0) {
            if (want_enum(c, v, "notifications.format", notify_format_names, &ev))
                n->format = (enum sl_notify_format)ev;
        } else if (strcmp(k, "timeout") == 0) {
            want_duration(c, v, "notifications.timeout", 100, &n->timeout_ms);
        } else if (strcmp(k, "retries") == 0) {
            want_u64(c, v, "notifications.retries", 0, 10, &n->retries);
        } else if (strcmp(k, "events") == 0) {
            if (v->type != SL_Y_SEQ) {
                problem(c, v, "notifications.events: expected a list");
                continue;
            }
            n->on_deploy = n->on_rollback = n->on_failure = false;
            for (size_t j = 0; j < v->n; j++) {
                if (!want_enum(c, v->items[j], "notifications.events", notify_event_names, &ev))
                    continue;
                if (ev == 0)
                    n->on_deploy = true;
                else if (ev == 1)
                    n->on_rollback = true;
                else
                    n->on_failure = true;
            }
        } else {
            unknown_key(c, m->keys[i], "notifications", known);
        }
    }
    if ((n->url == NULL) == (n->url_file == NULL))
        problem(c, m, "notifications: set exactly one of url and urlFile");
}

static void parse_daemon(struct cx *c, const struct sl_ynode *m, struct sl_daemon_config *dc)
{
    static const char *const known[] = {"stopTimeout", "backoffMin", "backoffMax",
                                        "jitter",      "parallel",   NULL};
    if (!want_mapping(c, m, "daemon"))
        return;
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i]->value;
        const struct sl_ynode *v = m->items[i];
        if (strcmp(k, "stopTimeout") == 0)
            want_duration(c, v, "daemon.stopTimeout", 1000, &dc->stop_timeout_ms);
        else if (strcmp(k, "backoffMin") == 0)
            want_duration(c, v, "daemon.backoffMin", 100, &dc->backoff_min_ms);
        else if (strcmp(k, "backoffMax") == 0)
            want_duration(c, v, "daemon.backoffMax", 100, &dc->backoff_max_ms);
        else if (strcmp(k, "jitter") == 0)
            want_u64(c, v, "daemon.jitter", 0, 100, &dc->jitter_percent);
        else if (strcmp(k, "parallel") == 0)
            want_u64(c, v, "daemon.parallel", 1, 64, &dc->parallel);
        else
            unknown_key(c, m->keys[i], "daemon", known);
    }
    if (dc->backoff_max_ms < dc->backoff_min_ms)
        problem(c, m, "daemon: backoffMax must not be below backoffMin");
}

/* Webhooks name environments: checked once both lists are known. */
static void check_webhook_envs(struct cx *c, const struct sl_config *cfg)
{
    for (size_t i = 0; i < cfg->nwebhooks; i++) {
        const struct sl_webhook_config *w = &cfg->webhooks[i];
        for (size_t j = 0; j < w->nenvironments; j++) {
            if (sl_config_env(cfg, w->environments[j]) != NULL)
                continue;
            if (w->name[0] != '\0')
                sl_diags_add(c->d, "%s:%d: webhook %s: unknown environment \"%s\"", c->file,
                             w->line, w->name, w->environments[j]);
            else
                sl_diags_add(c->d, "%s:%d: webhooks[%zu]: unknown environment \"%s\"", c->file,
                             w->line, i, w->environments[j]);
        }
    }
}

static void track_defaults(struct sl_track *t, enum sl_track_type type)
{
    t->type = type;
    if (t->branch == NULL)
        t->branch = xstrdup("main");
    if (t->tag_prefix == NULL)
        t->tag_prefix = xstrdup("v");
    t->require_rc = type == SL_TRACK_RELEASE;
    t->allow_downgrade = false;
}

static void parse_track(struct cx *c, const struct sl_ynode *m, const char *what,
                        struct sl_track *t)
{
    static const char *const known[] = {"type",      "branch",         "tagPrefix", "range",
                                        "requireRc", "allowDowngrade", NULL};

    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i]->value;
        const struct sl_ynode *v = m->items[i];
        char key[224];

        snprintf(key, sizeof(key), "%s.%s", what, k);
        if (strcmp(k, "type") == 0) {
            continue; /* read first by parse_env: it sets the defaults */
        } else if (strcmp(k, "branch") == 0) {
            if (want_string(c, v, key, false, &t->branch) &&
                (strstr(t->branch, "..") != NULL || t->branch[0] == '-' ||
                 strpbrk(t->branch, " ~^:?*[\\") != NULL))
                problem(c, v, "%s: \"%s\" is not a valid branch name", key, t->branch);
        } else if (strcmp(k, "tagPrefix") == 0) {
            want_string(c, v, key, true, &t->tag_prefix);
        } else if (strcmp(k, "range") == 0) {
            want_opt_string(c, v, key, &t->range);
        } else if (strcmp(k, "requireRc") == 0) {
            want_bool(c, v, key, &t->require_rc);
        } else if (strcmp(k, "allowDowngrade") == 0) {
            want_bool(c, v, key, &t->allow_downgrade);
        } else {
            unknown_key(c, m->keys[i], what, known);
        }
    }
}

static void parse_env(struct cx *c, const struct sl_ynode *m, struct sl_env_config *e)
{
    static const char *const known[] = {"name",       "track",         "path",  "namespace",
                                        "interval",   "healthTimeout", "prune", "policy",
                                        "signatures", "drift",         NULL};
    const struct sl_ynode *nv, *tv, *typev;
    int type = -1;
    char what[128];

    e->line = m->line;
    nv = sl_ynode_get(m, "name");
    if (nv == NULL) {
        problem(c, m, "environment: name is required");
        set_str(&e->name, "");
    } else if (want_string(c, nv, "name", false, &e->name) && !is_dns_label(e->name)) {
        problem(c, nv,
                "environment name \"%s\" must be a DNS label (lower-case letters, digits and "
                "'-', at most 63)",
                e->name);
    }
    if (e->name == NULL)
        set_str(&e->name, "");
    snprintf(what, sizeof(what), "environment %s", e->name);
    e->interval_ms = 60 * 1000;
    e->health_timeout_ms = 5 * 60 * 1000;
    e->prune = true;
    e->signatures = SL_SIG_NONE;
    e->drift = SL_DRIFT_CORRECT;
    e->policy = strcmp(e->name, "dev") == 0 ? SL_POLICY_WARN : SL_POLICY_ENFORCE;

    /* The promotion convention: dev follows main, stage rc tags, prod releases;
     * other environments say what they track. */
    tv = sl_ynode_get(m, "track");
    typev = sl_ynode_get(tv, "type");
    if (tv != NULL && tv->type != SL_Y_MAP) {
        problem(c, tv, "%s: track: expected a mapping", what);
        tv = NULL;
        typev = NULL;
    }
    if (typev != NULL) {
        char tkey[192];
        snprintf(tkey, sizeof(tkey), "%s: track.type", what);
        if (!want_enum(c, typev, tkey, track_names, &type))
            type = SL_TRACK_BRANCH;
    } else if (strcmp(e->name, "dev") == 0) {
        type = SL_TRACK_BRANCH;
    } else if (strcmp(e->name, "stage") == 0) {
        type = SL_TRACK_RC;
    } else if (strcmp(e->name, "prod") == 0) {
        type = SL_TRACK_RELEASE;
    } else {
        if (e->name[0] != '\0')
            problem(c, tv != NULL ? tv : m,
                    "%s: track.type is required (only dev, stage and prod have defaults)", what);
        type = SL_TRACK_BRANCH;
    }
    track_defaults(&e->track, (enum sl_track_type)type);
    if (tv != NULL) {
        char twhat[160];
        snprintf(twhat, sizeof(twhat), "%s: track", what);
        parse_track(c, tv, twhat, &e->track);
    }

    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i]->value;
        const struct sl_ynode *v = m->items[i];
        char key[192];
        int ev;

        /* Messages name the environment: "environment prod: interval: ...". */
        snprintf(key, sizeof(key), "%s: %s", what, k);
        if (strcmp(k, "name") == 0) {
            continue;
        } else if (strcmp(k, "track") == 0) {
            continue;
        } else if (strcmp(k, "path") == 0) {
            char *p = NULL;
            if (want_string(c, v, key, false, &p)) {
                struct sl_buf clean = SL_BUF_INIT(4096);
                struct sl_error perr = SL_ERROR_INIT;
                if (sl_path_clean(&clean, p, &perr) != 0)
                    problem(c, v, "%s: path \"%s\" leaves the repository", what, p);
                else
                    set_str(&e->path, clean.ptr);
                sl_buf_release(&clean);
                free(p);
            }
        } else if (strcmp(k, "namespace") == 0) {
            if (want_opt_string(c, v, key, &e->namespace) && !is_dns_label(e->namespace))
                problem(c, v, "%s: namespace \"%s\" is not a valid namespace name", what,
                        e->namespace);
        } else if (strcmp(k, "interval") == 0) {
            want_duration(c, v, key, 1000, &e->interval_ms);
        } else if (strcmp(k, "healthTimeout") == 0) {
            want_duration(c, v, key, 1000, &e->health_timeout_ms);
        } else if (strcmp(k, "prune") == 0) {
            want_bool(c, v, key, &e->prune);
        } else if (strcmp(k, "policy") == 0) {
            if (want_enum(c, v, key, policy_names, &ev))
                e->policy = (enum sl_policy_mode)ev;
        } else if (strcmp(k, "signatures") == 0) {
            if (want_enum(c, v, key, sig_names, &ev))
                e->signatures = (enum sl_sig_mode)ev;
        } else if (strcmp(k, "drift") == 0) {
            if (want_enum(c, v, key, drift_names, &ev))
                e->drift = (enum sl_drift_mode)ev;
        } else {
            unknown_key(c, m->keys[i], what, known);
        }
    }
    if (e->track.branch == NULL)
        e->track.branch = xstrdup("main");
    if (e->track.tag_prefix == NULL)
        e->track.tag_prefix = xstrdup("v");
    if (e->path == NULL && e->name[0] != '\0' && sl_ynode_get(m, "path") == NULL)
        problem(c, m, "%s: path is required (the overlay directory in the repository)", what);
}

static void parse_envs(struct cx *c, const struct sl_ynode *v, struct sl_config *cfg)
{
    if (v->type != SL_Y_SEQ) {
        problem(c, v, "environments: expected a list");
        return;
    }
    cfg->envs = calloc(v->n == 0 ? 1 : v->n, sizeof(*cfg->envs));
    if (cfg->envs == NULL)
        abort();
    for (size_t i = 0; i < v->n; i++) {
        const struct sl_ynode *m = v->items[i];
        char what[64];
        snprintf(what, sizeof(what), "environments[%zu]", i);
        if (!want_mapping(c, m, what))
            continue;
        struct sl_env_config *e = &cfg->envs[cfg->nenvs++];
        parse_env(c, m, e);
        for (size_t j = 0; j + 1 < cfg->nenvs; j++) {
            if (e->name[0] != '\0' && strcmp(cfg->envs[j].name, e->name) == 0)
                problem(c, m, "duplicate environment name \"%s\" (first defined at line %d)",
                        e->name, cfg->envs[j].line);
        }
    }
    if (v->n == 0)
        problem(c, v, "environments: at least one environment is required");
}

static void set_defaults(struct sl_config *cfg)
{
    set_str(&cfg->name, "sluice");
    set_str(&cfg->state_dir, "/var/lib/sluice");
    cfg->source.timeout_ms = 60 * 1000;
    cfg->cluster.request_timeout_ms = 30 * 1000;
    cfg->cluster.qps = 50;
    cfg->cluster.force_conflicts = true;
    set_str(&cfg->cluster.field_manager, "sluice");
    set_str(&cfg->http.listen, "127.0.0.1:9402");
    cfg->http.max_body = 1 << 20;
    cfg->http.rate_limit = 30;
    cfg->notifications.format = SL_NOTIFY_GENERIC;
    cfg->notifications.timeout_ms = 10 * 1000;
    cfg->notifications.retries = 3;
    cfg->notifications.on_deploy = true;
    cfg->notifications.on_rollback = true;
    cfg->notifications.on_failure = true;
    cfg->daemon.stop_timeout_ms = 60 * 1000;
    cfg->daemon.backoff_min_ms = 10 * 1000;
    cfg->daemon.backoff_max_ms = 10 * 60 * 1000;
    cfg->daemon.jitter_percent = 10;
    cfg->daemon.parallel = 4;
}

/* Line number of a "file:line: message" diagnostic, 0 when it has none. */
static long diag_line(const char *msg, size_t prefix)
{
    char *end;
    long line;

    if (strncmp(msg + prefix, ":", 1) != 0)
        return 0;
    line = strtol(msg + prefix + 1, &end, 10);
    return end != msg + prefix + 1 && *end == ':' ? line : 0;
}

/* Report problems in file order (stable), whatever order they were found in. */
static void sort_diags(struct sl_diags *d, size_t from, const char *name)
{
    size_t prefix = strlen(name);

    for (size_t i = from + 1; i < d->n; i++) {
        char *m = d->msgs[i];
        long line = diag_line(m, prefix);
        size_t j = i;
        while (j > from && diag_line(d->msgs[j - 1], prefix) > line) {
            d->msgs[j] = d->msgs[j - 1];
            j--;
        }
        d->msgs[j] = m;
    }
}

int sl_config_parse(struct sl_config **out, const char *data, size_t len, const char *name,
                    struct sl_diags *diags, struct sl_error *err)
{
    static const char *const known[] = {"name",          "stateDir", "source",       "cluster",
                                        "decryption",    "policies", "http",         "webhooks",
                                        "notifications", "daemon",   "environments", NULL};
    struct sl_yaml_limits lim = {64, 100000, 1000, 2};
    struct sl_diags local = SL_DIAGS_INIT;
    struct sl_diags *d = diags != NULL ? diags : &local;
    struct sl_ystream *ys = NULL;
    struct sl_config *cfg = NULL;
    struct sl_error yerr = SL_ERROR_INIT;
    struct cx c = {name, d};
    const struct sl_ynode *root;
    size_t before = sl_diags_count(d);
    bool have_source = false, have_envs = false;
    int rc = -1;

    *out = NULL;
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    cfg->file = xstrdup(name);
    set_defaults(cfg);
    if (sl_yaml_load(&ys, data, len, name, &lim, &yerr) != 0) {
        /* The YAML loader already names file:line:col. */
        sl_diags_add(d, "%s", yerr.msg);
        goto fail;
    }
    if (ys->ndocs != 1 || ys->docs[0].root == NULL) {
        problem(&c, NULL, "expected exactly one YAML document with the configuration");
        goto fail;
    }
    root = ys->docs[0].root;
    if (!want_mapping(&c, root, "configuration"))
        goto fail;
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i]->value;
        const struct sl_ynode *v = root->items[i];
        if (strcmp(k, "name") == 0) {
            if (want_string(&c, v, "name", false, &cfg->name) && !is_dns_label(cfg->name))
                problem(&c, v, "name: \"%s\" must be a DNS label (it is used in labels)",
                        cfg->name);
        } else if (strcmp(k, "stateDir") == 0) {
            want_abs_path(&c, v, "stateDir", &cfg->state_dir);
        } else if (strcmp(k, "source") == 0) {
            have_source = true;
            parse_source(&c, v, &cfg->source);
        } else if (strcmp(k, "cluster") == 0) {
            parse_cluster(&c, v, &cfg->cluster);
        } else if (strcmp(k, "decryption") == 0) {
            parse_decryption(&c, v, cfg);
        } else if (strcmp(k, "policies") == 0) {
            parse_policies(&c, v, cfg);
        } else if (strcmp(k, "http") == 0) {
            parse_http(&c, v, &cfg->http);
        } else if (strcmp(k, "webhooks") == 0) {
            parse_webhooks(&c, v, cfg);
        } else if (strcmp(k, "notifications") == 0) {
            parse_notifications(&c, v, &cfg->notifications);
        } else if (strcmp(k, "daemon") == 0) {
            parse_daemon(&c, v, &cfg->daemon);
        } else if (strcmp(k, "environments") == 0) {
            have_envs = true;
            parse_envs(&c, v, cfg);
        } else {
            unknown_key(&c, root->keys[i], "the configuration", known);
        }
    }
    if (!have_source)
        problem(&c, NULL, "source is required (the git repository to follow)");
    if (!have_envs)
        problem(&c, NULL, "environments is required");
    check_webhook_envs(&c, cfg);
    if (sl_diags_count(d) > before)
        goto fail;
    *out = cfg;
    cfg = NULL;
    rc = 0;
    goto done;
fail:
    sort_diags(d, before < d->n ? before : d->n, name);
    if (d->n > 0) {
        size_t extra = sl_diags_count(d) - before;
        if (extra <= 1)
            sl_error_set(err, SL_EINVAL, "%s", d->msgs[before < d->n ? before : d->n - 1]);
        else
            sl_error_set(err, SL_EINVAL, "%s (and %zu more)",
                         d->msgs[before < d->n ? before : d->n - 1], extra - 1);
    } else {
        sl_error_set(err, SL_EINVAL, "%s: invalid configuration", name);
    }
done:
    sl_ystream_free(ys);
    sl_config_free(cfg);
    sl_diags_release(&local);
    return rc;
}

int sl_config_load(struct sl_config **out, const char *path, struct sl_diags *diags,
                   struct sl_error *err)
{
    struct sl_buf data = SL_BUF_INIT(SL_CONFIG_MAX_BYTES);
    struct sl_error ferr = SL_ERROR_INIT;
    int rc;

    *out = NULL;
    if (sl_file_read(&data, path, SL_CONFIG_MAX_BYTES, &ferr) != 0) {
        if (diags != NULL)
            sl_diags_add(diags, "%s", ferr.msg);
        sl_error_set(err, ferr.code, "%s", ferr.msg);
        return -1;
    }
    rc = sl_config_parse(out, data.ptr, data.len, path, diags, err);
    sl_buf_release(&data);
    return rc;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

void sl_config_free(struct sl_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->file);
    free(cfg->name);
    free(cfg->state_dir);
    free(cfg->source.url);
    free(cfg->source.token_file);
    free(cfg->source.username);
    free(cfg->source.password_file);
    free(cfg->source.ssh_key_file);
    free(cfg->source.known_hosts_file);
    free(cfg->source.ca_file);
    free(cfg->source.allowed_signers);
    free(cfg->cluster.kubeconfig);
    free(cfg->cluster.context);
    free(cfg->cluster.field_manager);
    free_list(cfg->identities, cfg->nidentities);
    free_list(cfg->policy_dirs, cfg->npolicy_dirs);
    free(cfg->http.listen);
    for (size_t i = 0; i < cfg->nwebhooks; i++) {
        free(cfg->webhooks[i].name);
        free(cfg->webhooks[i].secret_file);
        free(cfg->webhooks[i].header);
        free_list(cfg->webhooks[i].environments, cfg->webhooks[i].nenvironments);
    }
    free(cfg->webhooks);
    free(cfg->notifications.url);
    free(cfg->notifications.url_file);
    for (size_t i = 0; i < cfg->nenvs; i++) {
        struct sl_env_config *e = &cfg->envs[i];
        free(e->name);
        free(e->track.branch);
        free(e->track.tag_prefix);
        free(e->track.range);
        free(e->path);
        free(e->namespace);
    }
    free(cfg->envs);
    free(cfg);
}

const struct sl_env_config *sl_config_env(const struct sl_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nenvs; i++)
        if (strcmp(cfg->envs[i].name, name) == 0)
            return &cfg->envs[i];
    return NULL;
}

/* ---- normalised output ---- */

/* A YAML double-quoted scalar: always valid and unambiguous. */
static int put_str(struct sl_buf *o, const char *s, struct sl_error *err)
{
    if (sl_buf_putc(o, '"', err) != 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        int rc;
        if (*p == '"' || *p == '\\')
            rc = sl_buf_printf(o, err, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            rc = sl_buf_printf(o, err, "\\x%02x", *p);
        else
            rc = sl_buf_putc(o, (char)*p, err);
        if (rc != 0)
            return -1;
    }
    return sl_buf_putc(o, '"', err);
}

static int kv_str(struct sl_buf *o, int indent, const char *k, const char *v, struct sl_error *err)
{
    if (sl_buf_printf(o, err, "%*s%s: ", indent, "", k) != 0)
        return -1;
    if (v == NULL)
        return sl_buf_puts(o, "null\n", err);
    if (put_str(o, v, err) != 0)
        return -1;
    return sl_buf_putc(o, '\n', err);
}

static int kv_raw(struct sl_buf *o, int indent, const char *k, const char *v, struct sl_error *err)
{
    return sl_buf_printf(o, err, "%*s%s: %s\n", indent, "", k, v);
}

static int kv_dur(struct sl_buf *o, int indent, const char *k, int64_t ms, struct sl_error *err)
{
    char d[32];
    sl_format_duration(d, sizeof(d), ms);
    return kv_raw(o, indent, k, d, err);
}

static int kv_list(struct sl_buf *o, int indent, const char *k, char **l, size_t n,
                   struct sl_error *err)
{
    if (n == 0)
        return sl_buf_printf(o, err, "%*s%s: []\n", indent, "", k);
    if (sl_buf_printf(o, err, "%*s%s:\n", indent, "", k) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (sl_buf_printf(o, err, "%*s- ", indent + 2, "") != 0 || put_str(o, l[i], err) != 0 ||
            sl_buf_putc(o, '\n', err) != 0)
            return -1;
    }
    return 0;
}

#define B(x) ((x) ? "true" : "false")

/* webhooks, notifications and daemon: the sections `sluice run` reads. */
static int format_daemon_sections(const struct sl_config *cfg, struct sl_buf *o,
                                  struct sl_error *err)
{
    const struct sl_notify_config *n = &cfg->notifications;
    const struct sl_daemon_config *dc = &cfg->daemon;
    char *events[3];
    size_t nev = 0;

    if (sl_buf_puts(o, cfg->nwebhooks == 0 ? "webhooks: []\n" : "webhooks:\n", err) != 0)
        return -1;
    for (size_t i = 0; i < cfg->nwebhooks; i++) {
        const struct sl_webhook_config *w = &cfg->webhooks[i];
        if (sl_buf_puts(o, "  - ", err) != 0 || kv_str(o, 0, "name", w->name, err) != 0 ||
            kv_raw(o, 4, "type", sl_webhook_type_name(w->type), err) != 0 ||
            kv_str(o, 4, "secretFile", w->secret_file, err) != 0 ||
            kv_str(o, 4, "header", w->header, err) != 0 ||
            kv_list(o, 4, "environments", w->environments, w->nenvironments, err) != 0)
            return -1;
    }
    if (!n->enabled) {
        if (sl_buf_puts(o, "notifications: null\n", err) != 0)
            return -1;
    } else {
        if (n->on_deploy)
            events[nev++] = (char *)"deploy";
        if (n->on_rollback)
            events[nev++] = (char *)"rollback";
        if (n->on_failure)
            events[nev++] = (char *)"failure";
        if (sl_buf_puts(o, "notifications:\n", err) != 0 || kv_str(o, 2, "url", n->url, err) != 0 ||
            kv_str(o, 2, "urlFile", n->url_file, err) != 0 ||
            kv_raw(o, 2, "format", sl_notify_format_name(n->format), err) != 0 ||
            kv_dur(o, 2, "timeout", n->timeout_ms, err) != 0 ||
            sl_buf_printf(o, err, "  retries: %llu\n", (unsigned long long)n->retries) != 0 ||
            kv_list(o, 2, "events", events, nev, err) != 0)
            return -1;
    }
    return sl_buf_puts(o, "daemon:\n", err) != 0 ||
                           kv_dur(o, 2, "stopTimeout", dc->stop_timeout_ms, err) != 0 ||
                           kv_dur(o, 2, "backoffMin", dc->backoff_min_ms, err) != 0 ||
                           kv_dur(o, 2, "backoffMax", dc->backoff_max_ms, err) != 0 ||
                           sl_buf_printf(o, err, "  jitter: %llu\n",
                                         (unsigned long long)dc->jitter_percent) != 0 ||
                           sl_buf_printf(o, err, "  parallel: %llu\n",
                                         (unsigned long long)dc->parallel) != 0
                   ? -1
                   : 0;
}

int sl_config_format(const struct sl_config *cfg, struct sl_buf *o, struct sl_error *err)
{
    const struct sl_source_config *s = &cfg->source;
    const struct sl_cluster_config *cl = &cfg->cluster;
    char qps[32];

    snprintf(qps, sizeof(qps), "%g", cl->qps);
    if (sl_buf_printf(o, err, "# normalized from %s\n", cfg->file) != 0 ||
        kv_str(o, 0, "name", cfg->name, err) != 0 ||
        kv_str(o, 0, "stateDir", cfg->state_dir, err) != 0 ||
        sl_buf_puts(o, "source:\n", err) != 0 || kv_str(o, 2, "url", s->url, err) != 0 ||
        kv_dur(o, 2, "timeout", s->timeout_ms, err) != 0 ||
        kv_str(o, 2, "tokenFile", s->token_file, err) != 0 ||
        kv_str(o, 2, "username", s->username, err) != 0 ||
        kv_str(o, 2, "passwordFile", s->password_file, err) != 0 ||
        kv_str(o, 2, "sshKeyFile", s->ssh_key_file, err) != 0 ||
        kv_str(o, 2, "knownHostsFile", s->known_hosts_file, err) != 0 ||
        kv_str(o, 2, "caFile", s->ca_file, err) != 0 ||
        kv_raw(o, 2, "insecure", B(s->insecure), err) != 0 ||
        kv_str(o, 2, "allowedSigners", s->allowed_signers, err) != 0 ||
        sl_buf_puts(o, "cluster:\n", err) != 0 ||
        kv_raw(o, 2, "inCluster", B(cl->in_cluster), err) != 0 ||
        kv_str(o, 2, "kubeconfig", cl->kubeconfig, err) != 0 ||
        kv_str(o, 2, "context", cl->context, err) != 0 ||
        kv_str(o, 2, "fieldManager", cl->field_manager, err) != 0 ||
        kv_dur(o, 2, "requestTimeout", cl->request_timeout_ms, err) != 0 ||
        kv_raw(o, 2, "qps", qps, err) != 0 ||
        kv_raw(o, 2, "forceConflicts", B(cl->force_conflicts), err) != 0 ||
        sl_buf_puts(o, "decryption:\n", err) != 0 ||
        kv_list(o, 2, "identities", cfg->identities, cfg->nidentities, err) != 0 ||
        sl_buf_puts(o, "policies:\n", err) != 0 ||
        kv_list(o, 2, "dirs", cfg->policy_dirs, cfg->npolicy_dirs, err) != 0 ||
        sl_buf_puts(o, "http:\n", err) != 0 || kv_str(o, 2, "listen", cfg->http.listen, err) != 0 ||
        sl_buf_printf(o, err, "  maxBodySize: %llu\n  webhookRateLimit: %llu\n",
                      (unsigned long long)cfg->http.max_body,
                      (unsigned long long)cfg->http.rate_limit) != 0 ||
        format_daemon_sections(cfg, o, err) != 0 || sl_buf_puts(o, "environments:\n", err) != 0)
        return -1;
    for (size_t i = 0; i < cfg->nenvs; i++) {
        const struct sl_env_config *e = &cfg->envs[i];
        const struct sl_track *t = &e->track;
        if (sl_buf_puts(o, "  - ", err) != 0 || kv_str(o, 0, "name", e->name, err) != 0 ||
            sl_buf_puts(o, "    track:\n", err) != 0 ||
            kv_raw(o, 6, "type", sl_track_type_name(t->type), err) != 0 ||
            kv_str(o, 6, "branch", t->branch, err) != 0 ||
            kv_str(o, 6, "tagPrefix", t->tag_prefix, err) != 0 ||
            kv_str(o, 6, "range", t->range, err) != 0 ||
            kv_raw(o, 6, "requireRc", B(t->require_rc), err) != 0 ||
            kv_raw(o, 6, "allowDowngrade", B(t->allow_downgrade), err) != 0 ||
            kv_str(o, 4, "path", e->path, err) != 0 ||
            kv_str(o, 4, "namespace", e->namespace, err) != 0 ||
            kv_dur(o, 4, "interval", e->interval_ms, err) != 0 ||
            kv_dur(o, 4, "healthTimeout", e->health_timeout_ms, err) != 0 ||
            kv_raw(o, 4, "prune", B(e->prune), err) != 0 ||
            kv_raw(o, 4, "policy", sl_policy_mode_name(e->policy), err) != 0 ||
            kv_raw(o, 4, "signatures", sl_sig_mode_name(e->signatures), err) != 0 ||
            kv_raw(o, 4, "drift", sl_drift_mode_name(e->drift), err) != 0)
            return -1;
    }
    return 0;
}

static json_t *jstr(const char *s)
{
    return s == NULL ? json_null() : json_string(s);
}

static json_t *jlist(char **l, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(l[i]));
    return a;
}

struct json_t *sl_config_to_json(const struct sl_config *cfg)
{
    const struct sl_source_config *s = &cfg->source;
    const struct sl_cluster_config *cl = &cfg->cluster;
    json_t *envs = json_array();

    for (size_t i = 0; i < cfg->nenvs; i++) {
        const struct sl_env_config *e = &cfg->envs[i];
        json_array_append_new(
                envs,
                json_pack("{s:s, s:{s:s, s:s, s:s, s:o, s:b, s:b}, s:s, s:o, s:I, s:I, s:b, "
                          "s:s, s:s, s:s}",
                          "name", e->name, "track", "type", sl_track_type_name(e->track.type),
                          "branch", e->track.branch, "tagPrefix", e->track.tag_prefix, "range",
                          jstr(e->track.range), "requireRc", e->track.require_rc, "allowDowngrade",
                          e->track.allow_downgrade, "path", e->path, "namespace",
                          jstr(e->namespace), "intervalMs", (json_int_t)e->interval_ms,
                          "healthTimeoutMs", (json_int_t)e->health_timeout_ms, "prune", e->prune,
                          "policy", sl_policy_mode_name(e->policy), "signatures",
                          sl_sig_mode_name(e->signatures), "drift", sl_drift_mode_name(e->drift)));
    }
    json_t *root, *hooks = json_array(), *notif = json_null();
    const struct sl_notify_config *n = &cfg->notifications;

    for (size_t i = 0; i < cfg->nwebhooks; i++) {
        const struct sl_webhook_config *w = &cfg->webhooks[i];
        json_array_append_new(hooks,
                              json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", w->name, "type",
                                        sl_webhook_type_name(w->type), "secretFile", w->secret_file,
                                        "header", jstr(w->header), "environments",
                                        jlist(w->environments, w->nenvironments)));
    }
    if (n->enabled) {
        json_t *ev = json_array();
        if (n->on_deploy)
            json_array_append_new(ev, json_string("deploy"));
        if (n->on_rollback)
            json_array_append_new(ev, json_string("rollback"));
        if (n->on_failure)
            json_array_append_new(ev, json_string("failure"));
        json_decref(notif);
        notif = json_pack("{s:o, s:o, s:s, s:I, s:I, s:o}", "url", jstr(n->url), "urlFile",
                          jstr(n->url_file), "format", sl_notify_format_name(n->format),
                          "timeoutMs", (json_int_t)n->timeout_ms, "retries", (json_int_t)n->retries,
                          "events", ev);
    }
    root = json_pack("{s:s, s:s, s:{s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o}, "
                     "s:{s:b, s:o, s:o, s:s, s:I, s:f, s:b}, s:{s:o}, s:{s:o}, s:{s:s}, s:o}",
                     "name", cfg->name, "stateDir", cfg->state_dir, "source", "url", s->url,
                     "timeoutMs", (json_int_t)s->timeout_ms, "tokenFile", jstr(s->token_file),
                     "username", jstr(s->username), "passwordFile", jstr(s->password_file),
                     "sshKeyFile", jstr(s->ssh_key_file), "knownHostsFile",
                     jstr(s->known_hosts_file), "caFile", jstr(s->ca_file), "insecure", s->insecure,
                     "allowedSigners", jstr(s->allowed_signers), "cluster", "inCluster",
                     cl->in_cluster, "kubeconfig", jstr(cl->kubeconfig), "context",
                     jstr(cl->context), "fieldManager", cl->field_manager, "requestTimeoutMs",
                     (json_int_t)cl->request_timeout_ms, "qps", cl->qps, "forceConflicts",
                     cl->force_conflicts, "decryption", "identities",
                     jlist(cfg->identities, cfg->nidentities), "policies", "dirs",
                     jlist(cfg->policy_dirs, cfg->npolicy_dirs), "http", "listen", cfg->http.listen,
                     "environments", envs);
    if (root == NULL) {
        json_decref(hooks);
        json_decref(notif);
        return NULL;
    }
    json_object_set_new(json_object_get(root, "http"), "maxBodySize",
                        json_integer((json_int_t)cfg->http.max_body));
    json_object_set_new(json_object_get(root, "http"), "webhookRateLimit",
                        json_integer((json_int_t)cfg->http.rate_limit));
    json_object_set_new(root, "webhooks", hooks);
    json_object_set_new(root, "notifications", notif);
    json_object_set_new(root, "daemon",
                        json_pack("{s:I, s:I, s:I, s:I, s:I}", "stopTimeoutMs",
                                  (json_int_t)cfg->daemon.stop_timeout_ms, "backoffMinMs",
                                  (json_int_t)cfg->daemon.backoff_min_ms, "backoffMaxMs",
                                  (json_int_t)cfg->daemon.backoff_max_ms, "jitterPercent",
                                  (json_int_t)cfg->daemon.jitter_percent, "parallel",
                                  (json_int_t)cfg->daemon.parallel));
    return root;
}
