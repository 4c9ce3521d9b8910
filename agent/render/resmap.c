/*
 * Resources and the ordered resource map of one layer, with the id history
 * kustomize keeps (original id, previous ids, prefixes, suffixes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render_int.h"

/* The three strings of an id share one allocation (kind owns it): thousands of ids are kept. */
static void rid_release(struct rid *id)
{
    free(id->kind);
    id->kind = id->name = id->ns = NULL;
}

static int rid_set(struct rid *id, const char *kind, const char *name, const char *ns)
{
    size_t kl, nl, sl;

    kind = kind ? kind : "";
    name = name ? name : "";
    ns = ns ? ns : "";
    kl = strlen(kind) + 1;
    nl = strlen(name) + 1;
    sl = strlen(ns) + 1;
    if (kl + nl < kl || kl + nl + sl < sl || (id->kind = malloc(kl + nl + sl)) == NULL) {
        id->kind = id->name = id->ns = NULL;
        return -1;
    }
    id->name = id->kind + kl;
    id->ns = id->name + nl;
    memcpy(id->kind, kind, kl);
    memcpy(id->name, name, nl);
    memcpy(id->ns, ns, sl);
    return 0;
}

const char *res_kind(const struct res *r)
{
    const char *s = json_string_value(json_object_get(r->obj, "kind"));
    return s ? s : "";
}

const char *res_name(const struct res *r)
{
    const char *s = json_string_value(json_object_get(json_object_get(r->obj, "metadata"), "name"));
    return s ? s : "";
}

const char *res_ns(const struct res *r)
{
    const char *s =
            json_string_value(json_object_get(json_object_get(r->obj, "metadata"), "namespace"));
    return s ? s : "";
}

const char *res_apiversion(const struct res *r)
{
    const char *s = json_string_value(json_object_get(r->obj, "apiVersion"));
    return s ? s : "";
}

void res_group_version(const struct res *r, char *group, size_t gl, char *version, size_t vl)
{
    const char *av = res_apiversion(r);
    const char *slash = strchr(av, '/');
    if (slash == NULL) {
        snprintf(group, gl, "%s", "");
        snprintf(version, vl, "%s", av);
    } else {
        snprintf(group, gl, "%.*s", (int)(slash - av), av);
        snprintf(version, vl, "%s", slash + 1);
    }
}

struct res *res_new(json_t *obj, const char *file, int line, struct sl_error *err)
{
    struct res *r = calloc(1, sizeof(*r));
    if (r == NULL)
        goto oom;
    r->obj = obj;
    obj = NULL;
    r->line = line;
    if (file != NULL && (r->file = strdup(file)) == NULL)
        goto oom;
    if (rid_set(&r->orig, res_kind(r), res_name(r), res_ns(r)) != 0)
        goto oom;
    return r;
oom:
    json_decref(obj);
    res_free(r);
    sl_error_set(err, SL_ENOMEM, "out of memory");
    return NULL;
}

void res_free(struct res *r)
{
    if (r == NULL)
        return;
    json_decref(r->obj);
    free(r->file);
    rid_release(&r->orig);
    for (size_t i = 0; i < r->nprev; i++)
        rid_release(&r->prev[i]);
    free(r->prev);
    for (size_t i = 0; i < r->nprefixes; i++)
        free(r->prefixes[i]);
    free(r->prefixes);
    for (size_t i = 0; i < r->nsuffixes; i++)
        free(r->suffixes[i]);
    free(r->suffixes);
    for (size_t i = 0; i < r->nvarnames; i++)
        free(r->varnames[i]);
    free(r->varnames);
    free(r->cfg_in);
    free(r->cfg_kind);
    free(r->cfg_name);
    for (size_t i = 0; i < r->ntransforms; i++)
        free(r->transforms[i]);
    free(r->transforms);
    free(r);
}

static char **strv_dup(char **v, size_t n, bool *ok)
{
    char **out;
    if (n == 0)
        return NULL;
    out = calloc(n, sizeof(*out));
    if (out == NULL) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if ((out[i] = strdup(v[i])) == NULL)
            *ok = false;
    return out;
}

struct res *res_clone(const struct res *src, struct sl_error *err)
{
    struct res *r = calloc(1, sizeof(*r));
    bool ok = true;
    if (r == NULL)
        goto oom;
    *r = *src;
    r->obj = json_deep_copy(src->obj);
    r->file = src->file ? strdup(src->file) : NULL;
    memset(&r->orig, 0, sizeof(r->orig));
    r->prev = NULL;
    r->nprev = 0;
    if (rid_set(&r->orig, src->orig.kind, src->orig.name, src->orig.ns) != 0)
        ok = false;
    if (src->nprev > 0) {
        r->prev = calloc(src->nprev, sizeof(*r->prev));
        if (r->prev == NULL) {
            ok = false;
        } else {
            r->nprev = src->nprev;
            for (size_t i = 0; i < src->nprev; i++)
                if (rid_set(&r->prev[i], src->prev[i].kind, src->prev[i].name, src->prev[i].ns) !=
                    0)
                    ok = false;
        }
    }
    r->prefixes = strv_dup(src->prefixes, src->nprefixes, &ok);
    r->suffixes = strv_dup(src->suffixes, src->nsuffixes, &ok);
    r->varnames = strv_dup(src->varnames, src->nvarnames, &ok);
    r->transforms = strv_dup(src->transforms, src->ntransforms, &ok);
    if (r->transforms == NULL)
        r->ntransforms = 0;
    r->cfg_in = src->cfg_in ? strdup(src->cfg_in) : NULL;
    r->cfg_kind = src->cfg_kind ? strdup(src->cfg_kind) : NULL;
    r->cfg_name = src->cfg_name ? strdup(src->cfg_name) : NULL;
    if ((src->cfg_in && !r->cfg_in) || (src->cfg_kind && !r->cfg_kind) ||
        (src->cfg_name && !r->cfg_name))
        ok = false;
    if (r->varnames == NULL)
        r->nvarnames = 0;
    if (r->prefixes == NULL)
        r->nprefixes = 0;
    if (r->suffixes == NULL)
        r->nsuffixes = 0;
    if (!ok || r->obj == NULL || (src->file && !r->file))
        goto oom;
    return r;
oom:
    res_free(r);
    sl_error_set(err, SL_ENOMEM, "out of memory");
    return NULL;
}

int res_store_prev(struct res *r, struct sl_error *err)
{
    struct rid *p = realloc(r->prev, (r->nprev + 1) * sizeof(*p));
    if (p == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    r->prev = p;
    if (rid_set(&p[r->nprev], res_kind(r), res_name(r), res_ns(r)) != 0)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    r->nprev++;
    return 0;
}

static json_t *metadata(struct res *r, struct sl_error *err)
{
    json_t *md = json_object_get(r->obj, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        if (md == NULL || json_object_set_new(r->obj, "metadata", md) != 0) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            return NULL;
        }
    }
    return md;
}

int res_set_name(struct res *r, const char *name, struct sl_error *err)
{
    json_t *md = metadata(r, err);
    if (md == NULL || json_object_set_new(md, "name", json_string(name)) != 0)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    return 0;
}

int res_set_ns(struct res *r, const char *ns, struct sl_error *err)
{
    json_t *md = metadata(r, err);
    if (md == NULL || json_object_set_new(md, "namespace", json_string(ns)) != 0)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    return 0;
}

static bool ns_eq(const char *a, const char *b)
{
    if (a[0] == '\0')
        a = "default";
    if (b[0] == '\0')
        b = "default";
    return strcmp(a, b) == 0;
}

bool res_any_id_matches(const struct res *r, const char *kind, const char *name, const char *ns,
                        bool check_ns)
{
    if ((kind == NULL || strcmp(res_kind(r), kind) == 0) && strcmp(res_name(r), name) == 0 &&
        (!check_ns || ns_eq(res_ns(r), ns)))
        return true;
    if ((kind == NULL || strcmp(r->orig.kind, kind) == 0) && strcmp(r->orig.name, name) == 0 &&
        (!check_ns || ns_eq(r->orig.ns, ns)))
        return true;
    for (size_t i = 0; i < r->nprev; i++)
        if ((kind == NULL || strcmp(r->prev[i].kind, kind) == 0) &&
            strcmp(r->prev[i].name, name) == 0 && (!check_ns || ns_eq(r->prev[i].ns, ns)))
            return true;
    return false;
}

void resmap_release(struct resmap *m)
{
    for (size_t i = 0; i < m->n; i++)
        res_free(m->items[i]);
    free(m->items);
    m->items = NULL;
    m->n = m->cap = 0;
}

int resmap_push(struct resmap *m, struct res *r, struct sl_error *err)
{
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 16;
        struct res **it = realloc(m->items, nc * sizeof(*it));
        if (it == NULL) {
            res_free(r);
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        }
        m->items = it;
        m->cap = nc;
    }
    m->items[m->n++] = r;
    return 0;
}

void resmap_remove_at(struct resmap *m, size_t i)
{
    res_free(m->items[i]);
    memmove(&m->items[i], &m->items[i + 1], (m->n - i - 1) * sizeof(*m->items));
    m->n--;
}

void res_describe(const struct res *r, char *out, size_t outlen)
{
    char g[128], v[128];
    res_group_version(r, g, sizeof(g), v, sizeof(v));
    if (res_ns(r)[0])
        snprintf(out, outlen, "%s%s%s %s/%s", g, g[0] ? "/" : "", res_kind(r), res_ns(r),
                 res_name(r));
    else
        snprintf(out, outlen, "%s%s%s %s", g, g[0] ? "/" : "", res_kind(r), res_name(r));
}

/* ---- duplicate detection with a hash set over current ids ---- */

static uint64_t fnv(const char *s, uint64_t h)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ^ 0xff;
}

static uint64_t id_hash(const struct res *r)
{
    char g[128], v[128];
    const char *ns = res_ns(r);
    res_group_version(r, g, sizeof(g), v, sizeof(v));
    uint64_t h = 1469598103934665603ULL;
    h = fnv(g, h);
    h = fnv(res_kind(r), h);
    h = fnv(ns[0] ? ns : "default", h);
    h = fnv(res_name(r), h);
    return h;
}

static bool same_id(const struct res *a, const struct res *b)
{
    char ga[128], va[128], gb[128], vb[128];
    if (strcmp(res_kind(a), res_kind(b)) != 0 || strcmp(res_name(a), res_name(b)) != 0 ||
        !ns_eq(res_ns(a), res_ns(b)))
        return false;
    res_group_version(a, ga, sizeof(ga), va, sizeof(va));
    res_group_version(b, gb, sizeof(gb), vb, sizeof(vb));
    return strcmp(ga, gb) == 0;
}

int resmap_append_all(struct resmap *dst, struct resmap *src, size_t max, struct sl_error *err)
{
    size_t total = dst->n + src->n, cap = 16, i;
    struct res **tab = NULL;
    int rc = -1;

    if (total > max) {
        sl_error_set(err, SL_ETOOLARGE, "more than %zu objects", max);
        goto done;
    }
    while (cap < total * 2)
        cap *= 2;
    tab = calloc(cap, sizeof(*tab));
    if (tab == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t pass = 0; pass < 2; pass++) {
        struct resmap *m = pass == 0 ? dst : src;
        for (i = 0; i < m->n; i++) {
            struct res *r = m->items[i];
            size_t slot = (size_t)id_hash(r) & (cap - 1);
            while (tab[slot] != NULL) {
                if (same_id(tab[slot], r)) {
                    char id[512], o1[512], o2[512];
                    res_describe(r, id, sizeof(id));
                    snprintf(o1, sizeof(o1), "%s:%d",
                             tab[slot]->file ? tab[slot]->file : "generated", tab[slot]->line);
                    snprintf(o2, sizeof(o2), "%s:%d", r->file ? r->file : "generated", r->line);
                    sl_error_set(err, SL_ECONFLICT,
                                 "may not add resource with an already registered id: %s "
                                 "(from %s and %s)",
                                 id, o1, o2);
                    goto done;
                }
                slot = (slot + 1) & (cap - 1);
            }
            tab[slot] = r;
        }
    }
    for (i = 0; i < src->n; i++) {
        if (resmap_push(dst, src->items[i], err) != 0) {
            src->items[i] = NULL;
            for (size_t j = i + 1; j < src->n; j++)
                res_free(src->items[j]);
            src->n = 0;
            goto done;
        }
    }
    src->n = 0;
    rc = 0;
done:
    free(tab);
    return rc;
}

/* Kinds the embedded Kubernetes OpenAPI knows as cluster-scoped, by group. */
bool kind_is_cluster_scoped(const char *group, const char *kind)
{
    static const struct {
        const char *group, *kind;
    } tab[] = {
            {"", "Namespace"},
            {"", "Node"},
            {"", "PersistentVolume"},
            {"", "ComponentStatus"},
            {"rbac.authorization.k8s.io", "ClusterRole"},
            {"rbac.authorization.k8s.io", "ClusterRoleBinding"},
            {"apiextensions.k8s.io", "CustomResourceDefinition"},
            {"storage.k8s.io", "StorageClass"},
            {"storage.k8s.io", "CSIDriver"},
            {"storage.k8s.io", "CSINode"},
            {"storage.k8s.io", "VolumeAttachment"},
            {"scheduling.k8s.io", "PriorityClass"},
            {"apiregistration.k8s.io", "APIService"},
            {"admissionregistration.k8s.io", "MutatingWebhookConfiguration"},
            {"admissionregistration.k8s.io", "ValidatingWebhookConfiguration"},
            {"admissionregistration.k8s.io", "ValidatingAdmissionPolicy"},
            {"admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"},
            {"certificates.k8s.io", "CertificateSigningRequest"},
            {"networking.k8s.io", "IngressClass"},
            {"node.k8s.io", "RuntimeClass"},
            {"policy", "PodSecurityPolicy"},
            {"extensions", "PodSecurityPolicy"},
            {"authentication.k8s.io", "TokenReview"},
            {"authorization.k8s.io", "SelfSubjectAccessReview"},
            {"authorization.k8s.io", "SelfSubjectRulesReview"},
            {"authorization.k8s.io", "SubjectAccessReview"},
            {"flowcontrol.apiserver.k8s.io", "FlowSchema"},
            {"flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"},
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (strcmp(tab[i].kind, kind) == 0 && strcmp(tab[i].group, group) == 0)
            return true;
    return false;
}
