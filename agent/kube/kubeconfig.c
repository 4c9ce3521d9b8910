/*
 * kubeconfig loading as kubectl (client-go clientcmd) does it, and the
 * in-cluster service-account config. Credentials are copied into secure
 * memory and the parse trees that held them are wiped before release.
 */
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "kube_internal.h"
#include "yamltree.h"

static void free_strv(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void exec_free(struct sl_kube_exec *e)
{
    if (e == NULL)
        return;
    free(e->api_version);
    free(e->command);
    free_strv(e->args, e->nargs);
    if (e->env != NULL)
        for (size_t i = 0; i < e->nenv; i++)
            if (e->env[i] != NULL)
                sl_secure_wipe(e->env[i], strlen(e->env[i]));
    free_strv(e->env, e->nenv);
    free(e->install_hint);
    free(e);
}

void sl_kubecfg_free(struct sl_kubecfg *c)
{
    if (c == NULL)
        return;
    free(c->context);
    free(c->server);
    free(c->ns);
    free(c->ca_file);
    sl_secret_free(c->ca_data);
    free(c->tls_server_name);
    free(c->proxy_url);
    sl_secret_free(c->token);
    free(c->token_file);
    free(c->cert_file);
    sl_secret_free(c->cert_data);
    free(c->key_file);
    sl_secret_free(c->key_data);
    free(c->username);
    sl_secret_free(c->password);
    free(c->as_user);
    free(c->as_uid);
    free_strv(c->as_groups, c->nas_groups);
    exec_free(c->exec);
    free(c);
}

static void ynode_wipe(struct sl_ynode *n)
{
    if (n == NULL)
        return;
    if (n->value != NULL)
        sl_secure_wipe(n->value, n->len);
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys != NULL)
            ynode_wipe(n->keys[i]);
        if (n->items != NULL)
            ynode_wipe(n->items[i]);
    }
}

static char *xstrdup(const char *s, struct sl_error *err)
{
    char *d = strdup(s);

    if (d == NULL)
        sl_error_set(err, SL_ENOMEM, "out of memory");
    return d;
}

/* Parse one kubeconfig file into JSON (an empty file is an empty object). */
static int load_file(const char *path, json_t **out, struct sl_error *err)
{
    struct sl_buf b = SL_BUF_INIT(SL_KUBE_KUBECONFIG_MAX);
    struct sl_ystream *ys = NULL;
    json_t *j = NULL;
    int rc = -1;

    if (sl_file_read(&b, path, SL_KUBE_KUBECONFIG_MAX, err) != 0)
        goto out;
    if (sl_yaml_load(&ys, b.ptr, b.len, path, NULL, err) != 0)
        goto out;
    if (ys->ndocs == 0 || ys->docs[0].root == NULL || sl_yscalar_is_null(ys->docs[0].root)) {
        j = json_object();
    } else {
        j = sl_ynode_to_json(ys->docs[0].root, path, err);
        if (j == NULL)
            goto out;
        if (!json_is_object(j)) {
            sl_error_set(err, SL_EPARSE, "%s: a kubeconfig must be a mapping", path);
            goto out;
        }
    }
    if (j == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    *out = j;
    j = NULL;
    rc = 0;
out:
    if (ys != NULL)
        for (size_t i = 0; i < ys->ndocs; i++)
            ynode_wipe(ys->docs[i].root);
    sl_ystream_free(ys);
    sl_secure_wipe(b.ptr, b.len);
    sl_buf_release(&b);
    if (j != NULL) {
        sl_kube_json_wipe(j);
        json_decref(j);
    }
    return rc;
}

/* Rewrite a relative path field of obj against dir (the kubeconfig file's directory). */
static int resolve_field(json_t *obj, const char *key, const char *dir, bool only_with_slash,
                         struct sl_error *err)
{
    const char *v = json_string_value(json_object_get(obj, key));
    char buf[PATH_MAX];
    int n;

    if (v == NULL || v[0] == '\0' || v[0] == '/')
        return 0;
    if (only_with_slash && strchr(v, '/') == NULL)
        return 0;
    n = snprintf(buf, sizeof(buf), "%s/%s", dir, v);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return sl_error_set(err, SL_ETOOLARGE, "path too long: %s", v);
    if (json_object_set_new(obj, key, json_string(buf)) != 0)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    return 0;
}

/* A copy of one entry's body with its relative paths resolved against dir. */
static json_t *entry_copy(const char *list, const json_t *body, const char *dir,
                          struct sl_error *err)
{
    json_t *copy = json_deep_copy(body), *ex;

    if (copy == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        return NULL;
    }
    if (strcmp(list, "clusters") == 0) {
        if (resolve_field(copy, "certificate-authority", dir, false, err) == 0)
            return copy;
    } else if (strcmp(list, "users") == 0) {
        ex = json_object_get(copy, "exec");
        if (resolve_field(copy, "client-certificate", dir, false, err) == 0 &&
            resolve_field(copy, "client-key", dir, false, err) == 0 &&
            resolve_field(copy, "tokenFile", dir, false, err) == 0 &&
            (!json_is_object(ex) || resolve_field(ex, "command", dir, true, err) == 0))
            return copy;
    } else {
        return copy;
    }
    sl_kube_json_wipe(copy);
    json_decref(copy);
    return NULL;
}

/*
 * Add the named entries of one file's list (clusters, users, contexts) to
 * the merged map; the first file to name an entry wins.
 */
static int merge_list(json_t *merged, json_t *file, const char *list, const char *inner,
                      const char *dir, const char *path, struct sl_error *err)
{
    json_t *arr = json_object_get(file, list), *item, *empty = NULL, *copy;
    size_t i;
    int rc = -1;

    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return sl_error_set(err, SL_EPARSE, "%s: %s must be a list", path, list);
    empty = json_object();
    if (empty == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    json_array_foreach(arr, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        json_t *body = json_object_get(item, inner);

        if (name == NULL) {
            sl_error_set(err, SL_EPARSE, "%s: %s[%zu] has no name", path, list, i);
            goto out;
        }
        if (json_object_get(merged, name) != NULL)
            continue;
        if (body != NULL && !json_is_null(body) && !json_is_object(body)) {
            sl_error_set(err, SL_EPARSE, "%s: %s[%zu].%s must be a mapping", path, list, i, inner);
            goto out;
        }
        copy = entry_copy(list, (body == NULL || json_is_null(body)) ? empty : body, dir, err);
        if (copy == NULL)
            goto out;
        if (json_object_set_new(merged, name, copy) != 0) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(empty);
    return rc;
}

static int dir_of(const char *path, char *out, size_t outlen)
{
    const char *slash = strrchr(path, '/');
    int n;

    if (slash == NULL)
        n = snprintf(out, outlen, ".");
    else if (slash == path)
        n = snprintf(out, outlen, "/");
    else
        n = snprintf(out, outlen, "%.*s", (int)(slash - path), path);
    return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

struct merged {
    json_t *clusters, *users, *contexts;
    char *current_context;
    size_t nfiles;
};

static int merge_file(struct merged *m, const char *path, bool must_exist, struct sl_error *err)
{
    json_t *file = NULL;
    char dir[PATH_MAX];
    const char *cc;
    int rc = -1;

    if (!must_exist && access(path, F_OK) != 0 && errno == ENOENT)
        return 0;
    if (load_file(path, &file, err) != 0)
        goto out;
    if (dir_of(path, dir, sizeof(dir)) != 0) {
        sl_error_set(err, SL_ETOOLARGE, "path too long: %s", path);
        goto out;
    }
    if (merge_list(m->clusters, file, "clusters", "cluster", dir, path, err) != 0 ||
        merge_list(m->users, file, "users", "user", dir, path, err) != 0 ||
        merge_list(m->contexts, file, "contexts", "context", dir, path, err) != 0)
        goto out;
    cc = json_string_value(json_object_get(file, "current-context"));
    if (m->current_context == NULL && cc != NULL && cc[0] != '\0') {
        m->current_context = xstrdup(cc, err);
        if (m->current_context == NULL)
            goto out;
    }
    m->nfiles++;
    rc = 0;
out:
    if (file != NULL) {
        sl_kube_json_wipe(file);
        json_decref(file);
    }
    return rc;
}

static const char *jstr(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return (s != NULL && s[0] != '\0') ? s : NULL;
}

static int dup_opt(char **dst, const json_t *obj, const char *key, struct sl_error *err)
{
    const char *s = jstr(obj, key);

    if (s == NULL)
        return 0;
    *dst = xstrdup(s, err);
    return *dst == NULL ? -1 : 0;
}

static int secret_opt(struct sl_secret **dst, const json_t *obj, const char *key,
                      struct sl_error *err)
{
    const char *s = jstr(obj, key);

    if (s == NULL)
        return 0;
    *dst = sl_secret_new(s, strlen(s), err);
    return *dst == NULL ? -1 : 0;
}

/* base64 (standard, whitespace tolerated) into secure memory. */
static int b64_opt(struct sl_secret **dst, const json_t *obj, const char *key, const char *where,
                   struct sl_error *err)
{
    const char *s = jstr(obj, key);
    struct sl_secret *sec;
    size_t len, binlen = 0;

    if (s == NULL)
        return 0;
    len = strlen(s);
    sec = calloc(1, sizeof(*sec));
    if (sec == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    sec->ptr = sl_secure_alloc(len + 1, err);
    if (sec->ptr == NULL) {
        free(sec);
        return -1;
    }
    if (sodium_base642bin(sec->ptr, len, s, len, " \t\r\n", &binlen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        sl_secret_free(sec);
        return sl_error_set(err, SL_EPARSE, "%s: %s is not valid base64", where, key);
    }
    sec->ptr[binlen] = '\0';
    sec->len = binlen;
    *dst = sec;
    return 0;
}

static int strv_opt(char ***dst, size_t *n, const json_t *arr, const char *where,
                    struct sl_error *err)
{
    size_t i;
    json_t *v;

    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return sl_error_set(err, SL_EPARSE, "%s must be a list of strings", where);
    *dst = calloc(json_array_size(arr) + 1, sizeof(char *));
    if (*dst == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v))
            return sl_error_set(err, SL_EPARSE, "%s must be a list of strings", where);
        (*dst)[i] = xstrdup(json_string_value(v), err);
        if ((*dst)[i] == NULL)
            return -1;
        *n = i + 1;
    }
    return 0;
}

static int parse_exec(struct sl_kubecfg *c, const json_t *ex, const char *where,
                      struct sl_error *err)
{
    struct sl_kube_exec *e = calloc(1, sizeof(*e));
    const char *api = jstr(ex, "apiVersion"), *mode = jstr(ex, "interactiveMode");
    json_t *env = json_object_get(ex, "env"), *item;
    size_t i;

    if (e == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    c->exec = e;
    if (jstr(ex, "command") == NULL)
        return sl_error_set(err, SL_EINVAL, "%s: exec.command is required", where);
    if (api == NULL)
        return sl_error_set(err, SL_EINVAL, "%s: exec.apiVersion is required", where);
    if (strcmp(api, "client.authentication.k8s.io/v1") != 0 &&
        strcmp(api, "client.authentication.k8s.io/v1beta1") != 0)
        return sl_error_set(err, SL_EUNSUPPORTED,
                            "%s: exec.apiVersion %s is not supported (use "
                            "client.authentication.k8s.io/v1 or v1beta1)",
                            where, api);
    if (dup_opt(&e->api_version, ex, "apiVersion", err) != 0 ||
        dup_opt(&e->command, ex, "command", err) != 0 ||
        dup_opt(&e->install_hint, ex, "installHint", err) != 0)
        return -1;
    if (strv_opt(&e->args, &e->nargs, json_object_get(ex, "args"), "exec.args", err) != 0)
        return sl_error_wrap(err, "%s", where);
    e->provide_cluster_info = json_is_true(json_object_get(ex, "provideClusterInfo"));
    e->interactive_always = mode != NULL && strcmp(mode, "Always") == 0;
    if (env != NULL && !json_is_null(env)) {
        if (!json_is_array(env))
            return sl_error_set(err, SL_EPARSE, "%s: exec.env must be a list", where);
        e->env = calloc(json_array_size(env) + 1, sizeof(char *));
        if (e->env == NULL)
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        json_array_foreach(env, i, item)
        {
            const char *name = json_string_value(json_object_get(item, "name"));
            const char *value = json_string_value(json_object_get(item, "value"));
            size_t len;

            if (name == NULL || name[0] == '\0' || strchr(name, '=') != NULL)
                return sl_error_set(err, SL_EPARSE, "%s: exec.env[%zu] needs a valid name", where,
                                    i);
            if (value == NULL)
                value = "";
            len = strlen(name) + strlen(value) + 2;
            e->env[i] = malloc(len);
            if (e->env[i] == NULL)
                return sl_error_set(err, SL_ENOMEM, "out of memory");
            snprintf(e->env[i], len, "%s=%s", name, value);
            e->nenv = i + 1;
        }
    }
    return 0;
}

static int check_readable(const char *path, const char *what, const char *where,
                          struct sl_error *err)
{
    if (path != NULL && access(path, R_OK) != 0)
        return sl_error_errno(err, errno, "%s: %s %s", where, what, path);
    return 0;
}

static int resolve_cluster(struct sl_kubecfg *c, const json_t *cl, const char *where,
                           struct sl_error *err)
{
    const char *server = jstr(cl, "server");
    size_t len;

    if (server == NULL)
        return sl_error_set(err, SL_EINVAL, "%s: no server is set for the cluster", where);
    if (strstr(server, "://") == NULL) {
        len = strlen(server) + sizeof("https://");
        c->server = malloc(len);
        if (c->server == NULL)
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        snprintf(c->server, len, "https://%s", server);
    } else {
        c->server = xstrdup(server, err);
        if (c->server == NULL)
            return -1;
    }
    len = strlen(c->server);
    while (len > 0 && c->server[len - 1] == '/')
        c->server[--len] = '\0';
    if (dup_opt(&c->ca_file, cl, "certificate-authority", err) != 0 ||
        b64_opt(&c->ca_data, cl, "certificate-authority-data", where, err) != 0 ||
        dup_opt(&c->tls_server_name, cl, "tls-server-name", err) != 0 ||
        dup_opt(&c->proxy_url, cl, "proxy-url", err) != 0)
        return -1;
    c->insecure = json_is_true(json_object_get(cl, "insecure-skip-tls-verify"));
    c->disable_compression = json_is_true(json_object_get(cl, "disable-compression"));
    if (c->ca_file != NULL && c->ca_data != NULL)
        return sl_error_set(err, SL_EINVAL,
                            "%s: certificate-authority and certificate-authority-data are both "
                            "set; use one",
                            where);
    if (c->insecure && (c->ca_file != NULL || c->ca_data != NULL))
        return sl_error_set(err, SL_EINVAL,
                            "%s: a root certificate with insecure-skip-tls-verify is not allowed",
                            where);
    return check_readable(c->ca_file, "certificate-authority", where, err);
}

static int resolve_user(struct sl_kubecfg *c, const json_t *u, const char *where,
                        struct sl_error *err)
{
    json_t *ex = json_object_get(u, "exec");

    if (json_object_get(u, "auth-provider") != NULL &&
        !json_is_null(json_object_get(u, "auth-provider")))
        return sl_error_set(err, SL_EUNSUPPORTED,
                            "%s: auth-provider plugins are not supported; use an exec "
                            "credential plugin",
                            where);
    if (secret_opt(&c->token, u, "token", err) != 0 ||
        dup_opt(&c->token_file, u, "tokenFile", err) != 0 ||
        dup_opt(&c->cert_file, u, "client-certificate", err) != 0 ||
        b64_opt(&c->cert_data, u, "client-certificate-data", where, err) != 0 ||
        dup_opt(&c->key_file, u, "client-key", err) != 0 ||
        b64_opt(&c->key_data, u, "client-key-data", where, err) != 0 ||
        dup_opt(&c->username, u, "username", err) != 0 ||
        secret_opt(&c->password, u, "password", err) != 0 ||
        dup_opt(&c->as_user, u, "as", err) != 0 || dup_opt(&c->as_uid, u, "as-uid", err) != 0 ||
        strv_opt(&c->as_groups, &c->nas_groups, json_object_get(u, "as-groups"), "as-groups",
                 err) != 0)
        return -1;
    /* A static token wins over tokenFile, as in client-go. */
    if (c->token != NULL && c->token_file != NULL) {
        free(c->token_file);
        c->token_file = NULL;
    }
    if (c->cert_file != NULL && c->cert_data != NULL)
        return sl_error_set(err, SL_EINVAL,
                            "%s: client-certificate and client-certificate-data are both set",
                            where);
    if (c->key_file != NULL && c->key_data != NULL)
        return sl_error_set(err, SL_EINVAL, "%s: client-key and client-key-data are both set",
                            where);
    if ((c->cert_file != NULL || c->cert_data != NULL) !=
        (c->key_file != NULL || c->key_data != NULL))
        return sl_error_set(err, SL_EINVAL,
                            "%s: a client certificate needs both certificate and key", where);
    if ((c->username != NULL || c->password != NULL) && (c->token != NULL || c->token_file != NULL))
        return sl_error_set(err, SL_EINVAL,
                            "%s: more than one authentication method (basic auth and token)",
                            where);
    if (check_readable(c->cert_file, "client-certificate", where, err) != 0 ||
        check_readable(c->key_file, "client-key", where, err) != 0 ||
        check_readable(c->token_file, "tokenFile", where, err) != 0)
        return -1;
    if (json_is_object(ex) && parse_exec(c, ex, where, err) != 0)
        return -1;
    return 0;
}

int sl_kubecfg_load(struct sl_kubecfg **out, const char *explicit_path, const char *kubeconfig_env,
                    const char *home, const char *context, struct sl_error *err)
{
    struct merged m = {json_object(), json_object(), json_object(), NULL, 0};
    struct sl_kubecfg *c = NULL;
    char *list = NULL, *save = NULL, where[512];
    const char *ctxname, *clname, *uname;
    json_t *ctx, *cl, *u;
    int rc = -1;

    if (m.clusters == NULL || m.users == NULL || m.contexts == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    if (explicit_path != NULL && explicit_path[0] != '\0') {
        if (merge_file(&m, explicit_path, true, err) != 0)
            goto out;
    } else if (kubeconfig_env != NULL && kubeconfig_env[0] != '\0') {
        list = xstrdup(kubeconfig_env, err);
        if (list == NULL)
            goto out;
        for (char *p = strtok_r(list, ":", &save); p != NULL; p = strtok_r(NULL, ":", &save))
            if (merge_file(&m, p, false, err) != 0)
                goto out;
    } else if (home != NULL && home[0] != '\0') {
        char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s/.kube/config", home);

        if (n < 0 || (size_t)n >= sizeof(path)) {
            sl_error_set(err, SL_ETOOLARGE, "HOME too long");
            goto out;
        }
        if (merge_file(&m, path, false, err) != 0)
            goto out;
    }
    if (m.nfiles == 0) {
        sl_error_set(err, SL_ENOTFOUND,
                     "no kubeconfig found (set cluster.kubeconfig, $KUBECONFIG, or create "
                     "~/.kube/config; or set cluster.inCluster)");
        goto out;
    }
    ctxname = (context != NULL && context[0] != '\0') ? context : m.current_context;
    if (ctxname == NULL) {
        sl_error_set(err, SL_EINVAL,
                     "kubeconfig has no current-context; set cluster.context to one of its "
                     "contexts");
        goto out;
    }
    ctx = json_object_get(m.contexts, ctxname);
    if (ctx == NULL) {
        sl_error_set(err, SL_ENOTFOUND, "context \"%s\" not found in kubeconfig", ctxname);
        goto out;
    }
    snprintf(where, sizeof(where), "kubeconfig context \"%s\"", ctxname);
    clname = jstr(ctx, "cluster");
    uname = jstr(ctx, "user");
    cl = clname != NULL ? json_object_get(m.clusters, clname) : NULL;
    if (cl == NULL) {
        sl_error_set(err, SL_ENOTFOUND, "%s: cluster \"%s\" not found", where,
                     clname != NULL ? clname : "");
        goto out;
    }
    u = uname != NULL ? json_object_get(m.users, uname) : NULL;
    if (uname != NULL && u == NULL) {
        sl_error_set(err, SL_ENOTFOUND, "%s: user \"%s\" not found", where, uname);
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    c->context = xstrdup(ctxname, err);
    c->ns = xstrdup(jstr(ctx, "namespace") != NULL ? jstr(ctx, "namespace") : "default", err);
    if (c->context == NULL || c->ns == NULL)
        goto out;
    if (resolve_cluster(c, cl, where, err) != 0)
        goto out;
    if (u != NULL && resolve_user(c, u, where, err) != 0)
        goto out;
    *out = c;
    c = NULL;
    rc = 0;
out:
    sl_kubecfg_free(c);
    free(list);
    free(m.current_context);
    sl_kube_json_wipe(m.users);
    json_decref(m.clusters);
    json_decref(m.users);
    json_decref(m.contexts);
    return rc;
}

int sl_kubecfg_incluster(struct sl_kubecfg **out, const char *dir, const char *host,
                         const char *port, const char *pod_namespace, struct sl_error *err)
{
    struct sl_kubecfg *c = NULL;
    struct sl_buf nsbuf = SL_BUF_INIT(1024);
    char path[PATH_MAX];
    size_t len;
    int rc = -1;

    if (dir == NULL)
        dir = SL_KUBE_DEFAULT_INCLUSTER_DIR;
    if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0')
        return sl_error_set(err, SL_EINVAL,
                            "in-cluster config needs KUBERNETES_SERVICE_HOST and "
                            "KUBERNETES_SERVICE_PORT (is sluice running in a pod?)");
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    len = strlen(host) + strlen(port) + sizeof("https://[]:");
    c->server = malloc(len);
    c->context = xstrdup("in-cluster", err);
    if (c->server == NULL || c->context == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    /* JoinHostPort: IPv6 literals get brackets. */
    snprintf(c->server, len, strchr(host, ':') != NULL ? "https://[%s]:%s" : "https://%s:%s", host,
             port);
    snprintf(path, sizeof(path), "%s/token", dir);
    c->token_file = xstrdup(path, err);
    if (c->token_file == NULL)
        goto out;
    if (access(path, R_OK) != 0) {
        sl_error_errno(err, errno, "in-cluster service-account token %s", path);
        goto out;
    }
    snprintf(path, sizeof(path), "%s/ca.crt", dir);
    if (access(path, R_OK) == 0) {
        c->ca_file = xstrdup(path, err);
        if (c->ca_file == NULL)
            goto out;
    }
    if (pod_namespace != NULL && pod_namespace[0] != '\0') {
        c->ns = xstrdup(pod_namespace, err);
    } else {
        snprintf(path, sizeof(path), "%s/namespace", dir);
        if (access(path, R_OK) == 0) {
            if (sl_file_read(&nsbuf, path, 1000, err) != 0)
                goto out;
            while (nsbuf.len > 0 &&
                   (nsbuf.ptr[nsbuf.len - 1] == '\n' || nsbuf.ptr[nsbuf.len - 1] == ' ' ||
                    nsbuf.ptr[nsbuf.len - 1] == '\r'))
                sl_buf_truncate(&nsbuf, nsbuf.len - 1);
        }
        c->ns = xstrdup(nsbuf.len > 0 ? nsbuf.ptr : "default", err);
    }
    if (c->ns == NULL)
        goto out;
    *out = c;
    c = NULL;
    rc = 0;
out:
    sl_buf_release(&nsbuf);
    sl_kubecfg_free(c);
    return rc;
}
