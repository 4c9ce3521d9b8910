/*
 * Discovery (kind -> resource path) and the API operations built on the
 * transport: GET, paged LIST, server-side apply, DELETE, PATCH, POST.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_internal.h"
#include "log.h"
#include "secmem.h"

#define AGGREGATED_ACCEPT                                                                          \
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"                        \
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"                   \
    "application/json"

#define LIST_MAX_ITEMS ((size_t)1000000)

static int put_esc(struct sl_buf *b, const char *s, struct sl_error *err)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            if (sl_buf_putc(b, (char)*p, err) != 0)
                return -1;
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};

            if (sl_buf_append(b, e, 3, err) != 0)
                return -1;
        }
    }
    return 0;
}

/* One request whose JSON answer is wanted; non-2xx becomes an error named by what. */
static int call(struct sl_kube *k, const struct sl_kube_req *rq, const char *what, json_t **out,
                struct sl_kube_status *st, struct sl_error *err)
{
    struct sl_kube_status local = SL_KUBE_STATUS_INIT;
    struct sl_kube_resp rs = SL_KUBE_RESP_INIT;
    json_error_t jerr;
    const char *data;
    size_t len;
    int rc = -1;

    if (st == NULL)
        st = &local;
    if (sl_kube_do(k, rq, &rs, st, err) != 0) {
        sl_error_wrap(err, "%s", what);
        goto out;
    }
    if (st->http < 200 || st->http > 299) {
        sl_kube_status_error(st, what, err);
        goto out;
    }
    if (out != NULL) {
        data = sl_kube_resp_data(&rs, &len);
        *out = len > 0 ? json_loadb(data, len, 0, &jerr) : json_object();
        if (*out == NULL) {
            sl_error_set(err, SL_EPARSE, "%s: the server's answer is not JSON%s%s", what,
                         rq->secret ? "" : ": ", rq->secret ? "" : jerr.text);
            goto out;
        }
    }
    rc = 0;
out:
    sl_kube_resp_release(&rs);
    sl_kube_status_release(&local);
    return rc;
}

/* ---- Discovery -------------------------------------------------------------- */

void sl_kube_discovery_invalidate(struct sl_kube *k)
{
    k->disc_valid = false;
}

static unsigned parse_verbs(const json_t *arr)
{
    static const struct {
        const char *name;
        unsigned bit;
    } map[] = {{"get", SL_KUBE_VERB_GET},       {"list", SL_KUBE_VERB_LIST},
               {"create", SL_KUBE_VERB_CREATE}, {"update", SL_KUBE_VERB_UPDATE},
               {"patch", SL_KUBE_VERB_PATCH},   {"delete", SL_KUBE_VERB_DELETE},
               {"watch", SL_KUBE_VERB_WATCH}};
    unsigned v = 0;
    size_t i;
    json_t *item;

    json_array_foreach(arr, i, item)
    {
        const char *s = json_string_value(item);

        for (size_t j = 0; s != NULL && j < sizeof(map) / sizeof(map[0]); j++)
            if (strcmp(s, map[j].name) == 0)
                v |= map[j].bit;
    }
    return v;
}

static int disc_add(struct sl_kube *k, const char *group, const char *version, const char *kind,
                    const char *plural, bool namespaced, unsigned verbs, struct sl_error *err)
{
    struct sl_kube_resource *r;

    if (kind == NULL || plural == NULL || kind[0] == '\0' || strchr(plural, '/') != NULL)
        return 0;
    if (strlen(group) >= sizeof(r->group) || strlen(version) >= sizeof(r->version) ||
        strlen(kind) >= sizeof(r->kind) || strlen(plural) >= sizeof(r->plural))
        return 0;
    for (size_t i = 0; i < k->nres; i++) {
        r = &k->res[i];
        if (strcmp(r->group, group) == 0 && strcmp(r->version, version) == 0 &&
            strcmp(r->kind, kind) == 0)
            return 0;
    }
    if (k->nres == k->capres) {
        size_t ncap = k->capres == 0 ? 128 : k->capres * 2;
        struct sl_kube_resource *n;

        if (ncap > 100000)
            return sl_error_set(err, SL_ETOOLARGE, "discovery lists too many resources");
        n = realloc(k->res, ncap * sizeof(*n));
        if (n == NULL)
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        k->res = n;
        k->capres = ncap;
    }
    r = &k->res[k->nres++];
    memset(r, 0, sizeof(*r));
    snprintf(r->group, sizeof(r->group), "%s", group);
    snprintf(r->version, sizeof(r->version), "%s", version);
    snprintf(r->kind, sizeof(r->kind), "%s", kind);
    snprintf(r->plural, sizeof(r->plural), "%s", plural);
    r->namespaced = namespaced;
    r->verbs = verbs;
    return 0;
}

static int parse_aggregated(struct sl_kube *k, const json_t *root, struct sl_error *err)
{
    json_t *item, *ver, *res;
    size_t i, j, l;

    json_array_foreach(json_object_get(root, "items"), i, item)
    {
        const char *group =
                json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));

        if (group == NULL)
            group = "";
        json_array_foreach(json_object_get(item, "versions"), j, ver)
        {
            const char *version = json_string_value(json_object_get(ver, "version"));

            if (version == NULL)
                continue;
            json_array_foreach(json_object_get(ver, "resources"), l, res)
            {
                const char *scope = json_string_value(json_object_get(res, "scope"));
                const char *kind = json_string_value(
                        json_object_get(json_object_get(res, "responseKind"), "kind"));

                if (disc_add(k, group, version, kind,
                             json_string_value(json_object_get(res, "resource")),
                             scope != NULL && strcmp(scope, "Namespaced") == 0,
                             parse_verbs(json_object_get(res, "verbs")), err) != 0)
                    return -1;
            }
        }
    }
    return 0;
}

static int parse_resource_list(struct sl_kube *k, const char *group, const char *version,
                               const json_t *root, struct sl_error *err)
{
    json_t *res;
    size_t i;

    json_array_foreach(json_object_get(root, "resources"), i, res)
    {
        if (disc_add(k, group, version, json_string_value(json_object_get(res, "kind")),
                     json_string_value(json_object_get(res, "name")),
                     json_is_true(json_object_get(res, "namespaced")),
                     parse_verbs(json_object_get(res, "verbs")), err) != 0)
            return -1;
    }
    return 0;
}

int sl_kube_discovery_parse(struct sl_kube *k, const json_t *doc, bool aggregated,
                            const char *group, const char *version, struct sl_error *err)
{
    return aggregated ? parse_aggregated(k, doc, err)
                      : parse_resource_list(k, group, version, doc, err);
}

/* GET a discovery document; *out NULL (and 0 returned) when the server says 404/503. */
static int disc_get(struct sl_kube *k, const char *path, const char *accept, json_t **out,
                    bool *aggregated, struct sl_error *err)
{
    struct sl_kube_req rq = {"GET", path, accept, NULL, NULL, 0, false, false, 0};
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_kube_resp rs = SL_KUBE_RESP_INIT;
    char what[300];
    int rc = -1;

    *out = NULL;
    snprintf(what, sizeof(what), "discovery GET %s", path);
    if (sl_kube_do(k, &rq, &rs, &st, err) != 0) {
        sl_error_wrap(err, "%s", what);
        goto out;
    }
    if (st.http == 404 || st.http == 503) {
        sl_log_warn("kube: discovery document unavailable", "path", path, "status",
                    st.http == 404 ? "404" : "503");
        rc = 0;
        goto out;
    }
    if (st.http < 200 || st.http > 299) {
        sl_kube_status_error(&st, what, err);
        goto out;
    }
    *out = json_loadb(rs.body.ptr, rs.body.len, 0, NULL);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        sl_error_set(err, SL_EPARSE, "%s: answer is not a JSON object", what);
        goto out;
    }
    if (aggregated != NULL)
        *aggregated = strstr(rs.content_type, "as=APIGroupDiscoveryList") != NULL;
    rc = 0;
out:
    sl_kube_resp_release(&rs);
    sl_kube_status_release(&st);
    return rc;
}

static int disc_legacy_gv(struct sl_kube *k, const char *group, const char *version,
                          struct sl_error *err)
{
    char path[512];
    json_t *doc = NULL;
    int rc;

    if (group[0] == '\0')
        snprintf(path, sizeof(path), "/api/%s", version);
    else
        snprintf(path, sizeof(path), "/apis/%s/%s", group, version);
    if (disc_get(k, path, "application/json", &doc, NULL, err) != 0)
        return -1;
    rc = doc != NULL ? parse_resource_list(k, group, version, doc, err) : 0;
    json_decref(doc);
    return rc;
}

int sl_kube_discovery_refresh(struct sl_kube *k, struct sl_error *err)
{
    json_t *doc = NULL, *item, *ver;
    bool agg = false;
    size_t i, j;
    int rc = -1;

    k->disc_valid = false;
    k->nres = 0;
    if (disc_get(k, "/api", AGGREGATED_ACCEPT, &doc, &agg, err) != 0)
        goto out;
    if (doc != NULL && agg) {
        if (parse_aggregated(k, doc, err) != 0)
            goto out;
    } else if (doc != NULL) {
        json_array_foreach(json_object_get(doc, "versions"), i, item)
        {
            const char *v = json_string_value(item);

            if (v != NULL && disc_legacy_gv(k, "", v, err) != 0)
                goto out;
        }
    }
    json_decref(doc);
    doc = NULL;
    if (disc_get(k, "/apis", AGGREGATED_ACCEPT, &doc, &agg, err) != 0)
        goto out;
    if (doc != NULL && agg) {
        if (parse_aggregated(k, doc, err) != 0)
            goto out;
    } else if (doc != NULL) {
        json_array_foreach(json_object_get(doc, "groups"), i, item)
        {
            const char *g = json_string_value(json_object_get(item, "name"));

            json_array_foreach(json_object_get(item, "versions"), j, ver)
            {
                const char *v = json_string_value(json_object_get(ver, "version"));

                if (g != NULL && v != NULL && disc_legacy_gv(k, g, v, err) != 0)
                    goto out;
            }
        }
    }
    k->disc_valid = true;
    {
        char n[32];

        snprintf(n, sizeof(n), "%zu", k->nres);
        sl_log_debug("kube: discovery refreshed", "kinds", n, "format",
                     agg ? "aggregated" : "legacy");
    }
    rc = 0;
out:
    json_decref(doc);
    return rc;
}

static const struct sl_kube_resource *disc_find(const struct sl_kube *k, const char *group,
                                                const char *version, const char *kind)
{
    for (size_t i = 0; i < k->nres; i++) {
        const struct sl_kube_resource *r = &k->res[i];

        if (strcmp(r->kind, kind) == 0 && strcmp(r->group, group) == 0 &&
            strcmp(r->version, version) == 0)
            return r;
    }
    return NULL;
}

int sl_kube_resolve(struct sl_kube *k, const char *api_version, const char *kind,
                    struct sl_kube_resource *out, struct sl_error *err)
{
    const struct sl_kube_resource *r = NULL;
    char group[254], version[64];
    const char *slash;
    bool fetched = false;

    if (api_version == NULL || api_version[0] == '\0' || kind == NULL || kind[0] == '\0')
        return sl_error_set(err, SL_EINVAL, "an object needs apiVersion and kind");
    slash = strchr(api_version, '/');
    if (slash != NULL) {
        if ((size_t)(slash - api_version) >= sizeof(group) || strlen(slash + 1) >= sizeof(version))
            return sl_error_set(err, SL_EINVAL, "apiVersion \"%s\" is too long", api_version);
        snprintf(group, sizeof(group), "%.*s", (int)(slash - api_version), api_version);
        snprintf(version, sizeof(version), "%s", slash + 1);
    } else {
        if (strlen(api_version) >= sizeof(version))
            return sl_error_set(err, SL_EINVAL, "apiVersion \"%s\" is too long", api_version);
        group[0] = '\0';
        snprintf(version, sizeof(version), "%s", api_version);
    }
    if (!k->disc_valid) {
        if (sl_kube_discovery_refresh(k, err) != 0)
            return -1;
        fetched = true;
    }
    r = disc_find(k, group, version, kind);
    if (r == NULL && !fetched) {
        if (sl_kube_discovery_refresh(k, err) != 0)
            return -1;
        r = disc_find(k, group, version, kind);
    }
    if (r == NULL)
        return sl_error_set(err, SL_ENOTFOUND,
                            "no matches for kind \"%s\" in version \"%s\" (is its "
                            "CustomResourceDefinition installed?)",
                            kind, api_version);
    *out = *r;
    return 0;
}

/* ---- Paths ------------------------------------------------------------------ */

static bool is_secret(const struct sl_kube_resource *r)
{
    return r->group[0] == '\0' && strcmp(r->kind, "Secret") == 0;
}

static int build_path(struct sl_buf *b, const struct sl_kube_resource *r, const char *ns,
                      const char *name, struct sl_error *err)
{
    if (r->group[0] == '\0') {
        if (sl_buf_printf(b, err, "/api/%s", r->version) != 0)
            return -1;
    } else if (sl_buf_printf(b, err, "/apis/%s/%s", r->group, r->version) != 0) {
        return -1;
    }
    if (r->namespaced && ns != NULL && ns[0] != '\0')
        if (sl_buf_puts(b, "/namespaces/", err) != 0 || put_esc(b, ns, err) != 0)
            return -1;
    if (sl_buf_printf(b, err, "/%s", r->plural) != 0)
        return -1;
    if (name != NULL)
        if (sl_buf_putc(b, '/', err) != 0 || put_esc(b, name, err) != 0)
            return -1;
    return 0;
}

static void describe(char *out, size_t outlen, const char *method, const struct sl_kube_resource *r,
                     const char *ns, const char *name)
{
    bool nsd = r->namespaced && ns != NULL && ns[0] != '\0';

    snprintf(out, outlen, "%s %s%s%s %s%s%s", method, r->kind, r->group[0] != '\0' ? "." : "",
             r->group, nsd ? ns : "", nsd ? "/" : "", name != NULL ? name : "");
}

/* Resolve ref and check the name/namespace rules; fills the path. */
static int ref_path(struct sl_kube *k, const struct sl_kube_ref *ref, bool need_name,
                    struct sl_kube_resource *r, struct sl_buf *path, struct sl_error *err)
{
    if (ref == NULL)
        return sl_error_set(err, SL_EINVAL, "no object reference");
    if (sl_kube_resolve(k, ref->api_version, ref->kind, r, err) != 0)
        return -1;
    if (need_name && (ref->name == NULL || ref->name[0] == '\0'))
        return sl_error_set(err, SL_EINVAL, "%s: a name is required", ref->kind);
    if (need_name && r->namespaced && (ref->ns == NULL || ref->ns[0] == '\0'))
        return sl_error_set(err, SL_EINVAL, "%s %s: a namespace is required (namespaced kind)",
                            ref->kind, ref->name);
    return build_path(path, r, ref->ns, need_name ? ref->name : NULL, err);
}

/* ---- Operations ------------------------------------------------------------- */

int sl_kube_get(struct sl_kube *k, const struct sl_kube_ref *ref, json_t **out,
                struct sl_kube_status *st, struct sl_error *err)
{
    struct sl_buf path = SL_BUF_INIT(8192);
    struct sl_kube_resource r;
    char what[512];
    int rc = -1;

    if (ref_path(k, ref, true, &r, &path, err) != 0)
        goto out;
    describe(what, sizeof(what), "GET", &r, ref->ns, ref->name);
    {
        struct sl_kube_req rq = {"GET", path.ptr, NULL, NULL, NULL, 0, is_secret(&r), false, 0};

        rc = call(k, &rq, what, out, st, err);
    }
out:
    sl_buf_release(&path);
    return rc;
}

static int list_once(struct sl_kube *k, const struct sl_kube_resource *r, const char *base,
                     const struct sl_kube_list_opts *opts, const char *api_version,
                     const char *what, json_t *items, char **rv, bool *expired,
                     struct sl_kube_status *st, struct sl_error *err)
{
    struct sl_buf path = SL_BUF_INIT(65536);
    char *cont = NULL;
    json_t *page = NULL, *item;
    size_t limit = (opts != NULL && opts->limit > 0) ? opts->limit : k->page_size, i;
    int rc = -1;

    *expired = false;
    for (;;) {
        sl_buf_reset(&path);
        if (sl_buf_printf(&path, err, "%s?limit=%zu", base, limit) != 0)
            goto out;
        if (opts != NULL && opts->label_selector != NULL && opts->label_selector[0] != '\0')
            if (sl_buf_puts(&path, "&labelSelector=", err) != 0 ||
                put_esc(&path, opts->label_selector, err) != 0)
                goto out;
        if (opts != NULL && opts->field_selector != NULL && opts->field_selector[0] != '\0')
            if (sl_buf_puts(&path, "&fieldSelector=", err) != 0 ||
                put_esc(&path, opts->field_selector, err) != 0)
                goto out;
        if (cont != NULL)
            if (sl_buf_puts(&path, "&continue=", err) != 0 || put_esc(&path, cont, err) != 0)
                goto out;
        {
            struct sl_kube_req rq = {"GET",        path.ptr, NULL,
                                     NULL,         NULL,     0,
                                     is_secret(r), false,    SL_KUBE_LIST_BODY_MAX};
            struct sl_error e2 = SL_ERROR_INIT;

            if (call(k, &rq, what, &page, st, &e2) != 0) {
                if (cont != NULL && st->http == 410) {
                    *expired = true;
                    rc = 0;
                    goto out;
                }
                sl_error_set(err, e2.code, "%s", e2.msg);
                goto out;
            }
        }
        json_array_foreach(json_object_get(page, "items"), i, item)
        {
            if (!json_is_object(item))
                continue;
            if (json_array_size(items) >= LIST_MAX_ITEMS) {
                sl_error_set(err, SL_ETOOLARGE, "%s: more than %zu objects", what, LIST_MAX_ITEMS);
                goto out;
            }
            if (json_object_get(item, "apiVersion") == NULL)
                json_object_set_new(item, "apiVersion", json_string(api_version));
            if (json_object_get(item, "kind") == NULL)
                json_object_set_new(item, "kind", json_string(r->kind));
            if (json_array_append(items, item) != 0) {
                sl_error_set(err, SL_ENOMEM, "out of memory");
                goto out;
            }
        }
        free(cont);
        cont = NULL;
        {
            json_t *meta = json_object_get(page, "metadata");
            const char *c = json_string_value(json_object_get(meta, "continue"));
            const char *v = json_string_value(json_object_get(meta, "resourceVersion"));

            if (c != NULL && c[0] != '\0') {
                cont = strdup(c);
                if (cont == NULL) {
                    sl_error_set(err, SL_ENOMEM, "out of memory");
                    goto out;
                }
            } else if (rv != NULL) {
                free(*rv);
                *rv = strdup(v != NULL ? v : "");
                if (*rv == NULL) {
                    sl_error_set(err, SL_ENOMEM, "out of memory");
                    goto out;
                }
            }
        }
        json_decref(page);
        page = NULL;
        if (cont == NULL)
            break;
    }
    rc = 0;
out:
    json_decref(page);
    free(cont);
    sl_buf_release(&path);
    return rc;
}

int sl_kube_list(struct sl_kube *k, const struct sl_kube_ref *ref,
                 const struct sl_kube_list_opts *opts, json_t **items, char **resource_version,
                 struct sl_kube_status *st, struct sl_error *err)
{
    struct sl_kube_status local = SL_KUBE_STATUS_INIT;
    struct sl_buf base = SL_BUF_INIT(8192);
    struct sl_kube_resource r;
    json_t *arr = NULL;
    char what[512], *rv = NULL;
    bool expired = false;
    int rc = -1;

    if (st == NULL)
        st = &local;
    if (ref_path(k, ref, false, &r, &base, err) != 0)
        goto out;
    describe(what, sizeof(what), "LIST", &r, ref->ns, NULL);
    for (int round = 0; round < 2; round++) {
        json_decref(arr);
        arr = json_array();
        if (arr == NULL) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
        if (list_once(k, &r, base.ptr, opts, ref->api_version, what, arr,
                      resource_version != NULL ? &rv : NULL, &expired, st, err) != 0)
            goto out;
        if (!expired)
            break;
        sl_log_info("kube: list continue token expired, listing again", "what", what);
    }
    if (expired) {
        sl_error_set(err, SL_ECONFLICT, "%s: the list kept changing (continue token expired)",
                     what);
        goto out;
    }
    *items = arr;
    arr = NULL;
    if (resource_version != NULL) {
        *resource_version = rv;
        rv = NULL;
    }
    rc = 0;
out:
    json_decref(arr);
    free(rv);
    sl_buf_release(&base);
    sl_kube_status_release(&local);
    return rc;
}

/*
 * Serialise a request body; a Secret's goes into secure memory. *body is
 * released with release_body().
 */
static int dump_body(const json_t *v, bool secret, char **body, size_t *len, struct sl_error *err)
{
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT);
    char *p;

    if (n == 0)
        return sl_error_set(err, SL_EINVAL, "object cannot be serialised to JSON");
    p = secret ? sl_secure_alloc(n + 1, err) : malloc(n + 1);
    if (p == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    if (json_dumpb(v, p, n, JSON_COMPACT) != n) {
        if (secret)
            sl_secure_free(p);
        else
            free(p);
        return sl_error_set(err, SL_EINVAL, "object cannot be serialised to JSON");
    }
    p[n] = '\0';
    *body = p;
    *len = n;
    return 0;
}

static void release_body(char *body, bool secret)
{
    if (secret)
        sl_secure_free(body);
    else
        free(body);
}

static int query_common(struct sl_buf *b, const char *field_manager, bool dry_run,
                        struct sl_error *err)
{
    if (sl_buf_puts(b, "?fieldManager=", err) != 0 || put_esc(b, field_manager, err) != 0)
        return -1;
    if (dry_run && sl_buf_puts(b, "&dryRun=All", err) != 0)
        return -1;
    return 0;
}

/* Validate an object and resolve its kind; *ns is its namespace (NULL for cluster scope). */
static int obj_target(struct sl_kube *k, const json_t *obj, struct sl_kube_resource *r,
                      const char **ns, const char **name, struct sl_error *err)
{
    const json_t *meta = json_object_get(obj, "metadata");

    if (!json_is_object(obj))
        return sl_error_set(err, SL_EINVAL, "object is not a JSON object");
    *name = json_string_value(json_object_get(meta, "name"));
    *ns = json_string_value(json_object_get(meta, "namespace"));
    if (*name == NULL || (*name)[0] == '\0')
        return sl_error_set(err, SL_EINVAL, "object has no metadata.name");
    if (sl_kube_resolve(k, json_string_value(json_object_get(obj, "apiVersion")),
                        json_string_value(json_object_get(obj, "kind")), r, err) != 0)
        return -1;
    if (r->namespaced && (*ns == NULL || (*ns)[0] == '\0'))
        return sl_error_set(err, SL_EINVAL, "%s %s: metadata.namespace is required", r->kind,
                            *name);
    if (!r->namespaced)
        *ns = NULL;
    return 0;
}

int sl_kube_apply(struct sl_kube *k, const json_t *obj, const struct sl_kube_apply_opts *opts,
                  json_t **out, bool *created, struct sl_kube_status *st, struct sl_error *err)
{
    struct sl_kube_status local = SL_KUBE_STATUS_INIT;
    struct sl_buf path = SL_BUF_INIT(8192);
    struct sl_kube_resource r;
    const char *ns, *name, *fm;
    json_t *send = NULL, *meta = NULL, *res = NULL;
    char *body = NULL, what[512];
    size_t len = 0;
    bool force, dry = opts != NULL && opts->dry_run, secret = false;
    int rc = -1;

    if (st == NULL)
        st = &local;
    if (obj_target(k, obj, &r, &ns, &name, err) != 0)
        goto out;
    secret = is_secret(&r);
    fm = (opts != NULL && opts->field_manager != NULL) ? opts->field_manager : k->field_manager;
    force = (opts == NULL || opts->force < 0) ? k->force_conflicts : opts->force > 0;
    describe(what, sizeof(what), dry ? "apply (dry run)" : "apply", &r, ns, name);
    /* Shallow copies, so no secret value is duplicated just to drop managedFields. */
    send = json_copy((json_t *)(uintptr_t)obj);
    meta = json_copy(json_object_get(obj, "metadata"));
    if (meta != NULL)
        json_object_del(meta, "managedFields");
    if (send == NULL || meta == NULL || json_object_set(send, "metadata", meta) != 0) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    if (dump_body(send, secret, &body, &len, err) != 0)
        goto out;
    if (build_path(&path, &r, ns, name, err) != 0 || query_common(&path, fm, dry, err) != 0 ||
        sl_buf_printf(&path, err, "&force=%s&fieldValidation=Strict", force ? "true" : "false") !=
                0)
        goto out;
    {
        struct sl_kube_req rq = {"PATCH", path.ptr, NULL, "application/apply-patch+yaml", body, len,
                                 secret,  false,    0};

        /*
         * The answer is the whole object; parse it only when someone reads it (an apply of
         * thousands of objects would otherwise spend much of its time in a JSON parser).
         */
        if (call(k, &rq, what, out != NULL || (created != NULL && dry) ? &res : NULL, st, err) != 0)
            goto out;
    }
    if (created != NULL) {
        const char *rv = json_string_value(
                json_object_get(json_object_get(res, "metadata"), "resourceVersion"));

        *created = st->http == 201 || (dry && (rv == NULL || rv[0] == '\0'));
    }
    if (out != NULL) {
        *out = res;
        res = NULL;
    }
    rc = 0;
out:
    if (body != NULL)
        release_body(body, secret);
    json_decref(res);
    json_decref(meta);
    json_decref(send);
    sl_buf_release(&path);
    sl_kube_status_release(&local);
    return rc;
}

int sl_kube_delete(struct sl_kube *k, const struct sl_kube_ref *ref,
                   enum sl_kube_propagation propagation, bool dry_run, struct sl_kube_status *st,
                   struct sl_error *err)
{
    static const char *const policies[] = {NULL, "Background", "Foreground", "Orphan"};
    struct sl_buf path = SL_BUF_INIT(8192), body = SL_BUF_INIT(256);
    struct sl_kube_resource r;
    char what[512];
    int rc = -1;

    if (ref_path(k, ref, true, &r, &path, err) != 0)
        goto out;
    describe(what, sizeof(what), dry_run ? "DELETE (dry run)" : "DELETE", &r, ref->ns, ref->name);
    if (dry_run && sl_buf_puts(&path, "?dryRun=All", err) != 0)
        goto out;
    if (sl_buf_puts(&body, "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\"", err) != 0)
        goto out;
    if ((unsigned)propagation < 4 && policies[propagation] != NULL &&
        sl_buf_printf(&body, err, ",\"propagationPolicy\":\"%s\"", policies[propagation]) != 0)
        goto out;
    if (sl_buf_putc(&body, '}', err) != 0)
        goto out;
    {
        struct sl_kube_req rq = {"DELETE",           path.ptr, NULL,
                                 "application/json", body.ptr, body.len,
                                 is_secret(&r),      false,    0};

        rc = call(k, &rq, what, NULL, st, err);
    }
out:
    sl_buf_release(&path);
    sl_buf_release(&body);
    return rc;
}

int sl_kube_patch(struct sl_kube *k, const struct sl_kube_ref *ref, enum sl_kube_patch_type type,
                  const json_t *patch, bool dry_run, json_t **out, struct sl_kube_status *st,
                  struct sl_error *err)
{
    static const char *const ctypes[] = {"application/merge-patch+json",
                                         "application/strategic-merge-patch+json",
                                         "application/json-patch+json"};
    struct sl_buf path = SL_BUF_INIT(8192);
    struct sl_kube_resource r;
    char *body = NULL, what[512];
    size_t len = 0;
    bool secret = false;
    int rc = -1;

    if ((unsigned)type > SL_KUBE_PATCH_JSON)
        return sl_error_set(err, SL_EINVAL, "unknown patch type");
    if (ref_path(k, ref, true, &r, &path, err) != 0)
        goto out;
    secret = is_secret(&r);
    describe(what, sizeof(what), "PATCH", &r, ref->ns, ref->name);
    if (query_common(&path, k->field_manager, dry_run, err) != 0 ||
        dump_body(patch, secret, &body, &len, err) != 0)
        goto out;
    {
        struct sl_kube_req rq = {"PATCH", path.ptr, NULL, ctypes[type], body, len,
                                 secret,  false,    0};

        rc = call(k, &rq, what, out, st, err);
    }
out:
    if (body != NULL)
        release_body(body, secret);
    sl_buf_release(&path);
    return rc;
}

int sl_kube_create(struct sl_kube *k, const json_t *obj, bool dry_run, json_t **out,
                   struct sl_kube_status *st, struct sl_error *err)
{
    struct sl_buf path = SL_BUF_INIT(8192);
    struct sl_kube_resource r;
    const char *ns, *name;
    char *body = NULL, what[512];
    size_t len = 0;
    bool secret = false;
    int rc = -1;

    if (obj_target(k, obj, &r, &ns, &name, err) != 0)
        goto out;
    secret = is_secret(&r);
    describe(what, sizeof(what), "POST", &r, ns, name);
    if (build_path(&path, &r, ns, NULL, err) != 0 ||
        query_common(&path, k->field_manager, dry_run, err) != 0 ||
        sl_buf_puts(&path, "&fieldValidation=Strict", err) != 0 ||
        dump_body(obj, secret, &body, &len, err) != 0)
        goto out;
    {
        struct sl_kube_req rq = {"POST", path.ptr, NULL, "application/json", body, len,
                                 secret, true,     0};

        rc = call(k, &rq, what, out, st, err);
    }
out:
    if (body != NULL)
        release_body(body, secret);
    sl_buf_release(&path);
    return rc;
}

int sl_kube_ensure_namespace(struct sl_kube *k, const char *name, const json_t *labels,
                             struct sl_error *err)
{
    json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                           "metadata", "name", name);
    int rc;

    if (ns == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    if (labels != NULL && json_object_set(json_object_get(ns, "metadata"), "labels",
                                          (json_t *)(uintptr_t)labels) != 0) {
        json_decref(ns);
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    }
    rc = sl_kube_apply(k, ns, NULL, NULL, NULL, NULL, err);
    json_decref(ns);
    return rc;
}

int sl_kube_request(struct sl_kube *k, const char *method, const char *path,
                    const char *content_type, const char *body, size_t body_len, json_t **out,
                    struct sl_kube_status *st, struct sl_error *err)
{
    struct sl_kube_req rq = {method, path,     NULL,  content_type,
                             body,   body_len, false, strcmp(method, "POST") == 0,
                             0};
    char what[512];

    if (path == NULL || path[0] != '/')
        return sl_error_set(err, SL_EINVAL, "request path must start with '/'");
    snprintf(what, sizeof(what), "%s %.*s", method, (int)strcspn(path, "?"), path);
    return call(k, &rq, what, out, st, err);
}
