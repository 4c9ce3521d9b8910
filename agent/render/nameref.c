/*
 * Name references (kustomize's namereference.go config), fixed once at the
 * top level after hash suffixes: a field that names a ConfigMap, Secret,
 * ServiceAccount, ... by one of the names that object had during the
 * build is rewritten to its final name. References to objects outside the
 * build are left alone. Also deprecated vars and replacements.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render_int.h"

struct nref {
    const char *referral; /* kind being referred to */
    const char *referrer; /* kind holding the reference; NULL = any */
    const char *path;     /* slash path; arrays traversed */
};

/* Pod spec locations per workload kind. */
static const struct {
    const char *kind, *prefix;
} podspecs[] = {
        {"Pod", "spec"},
        {"PodTemplate", "template/spec"},
        {"Deployment", "spec/template/spec"},
        {"ReplicaSet", "spec/template/spec"},
        {"DaemonSet", "spec/template/spec"},
        {"StatefulSet", "spec/template/spec"},
        {"Job", "spec/template/spec"},
        {"ReplicationController", "spec/template/spec"},
        {"CronJob", "spec/jobTemplate/spec/template/spec"},
};

static const struct {
    const char *referral, *path;
} podrefs[] = {
        {"ConfigMap", "volumes/configMap/name"},
        {"ConfigMap", "containers/env/valueFrom/configMapKeyRef/name"},
        {"ConfigMap", "initContainers/env/valueFrom/configMapKeyRef/name"},
        {"ConfigMap", "containers/envFrom/configMapRef/name"},
        {"ConfigMap", "initContainers/envFrom/configMapRef/name"},
        {"ConfigMap", "volumes/projected/sources/configMap/name"},
        {"Secret", "volumes/secret/secretName"},
        {"Secret", "containers/env/valueFrom/secretKeyRef/name"},
        {"Secret", "initContainers/env/valueFrom/secretKeyRef/name"},
        {"Secret", "containers/envFrom/secretRef/name"},
        {"Secret", "initContainers/envFrom/secretRef/name"},
        {"Secret", "imagePullSecrets/name"},
        {"Secret", "volumes/projected/sources/secret/name"},
        {"Secret", "volumes/csi/nodePublishSecretRef/name"},
        {"Secret", "volumes/cephfs/secretRef/name"},
        {"Secret", "volumes/cinder/secretRef/name"},
        {"Secret", "volumes/flexVolume/secretRef/name"},
        {"Secret", "volumes/rbd/secretRef/name"},
        {"Secret", "volumes/iscsi/secretRef/name"},
        {"Secret", "volumes/scaleIO/secretRef/name"},
        {"Secret", "volumes/storageos/secretRef/name"},
        {"Secret", "volumes/azureFile/secretName"},
        {"ServiceAccount", "serviceAccountName"},
        {"ServiceAccount", "serviceAccount"},
        {"PersistentVolumeClaim", "volumes/persistentVolumeClaim/claimName"},
        {"PriorityClass", "priorityClassName"},
};

static const struct nref others[] = {
        {"Deployment", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"},
        {"ReplicationController", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"},
        {"ReplicaSet", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"},
        {"StatefulSet", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"},
        {"ConfigMap", "Role", "rules/resourceNames"},
        {"ConfigMap", "ClusterRole", "rules/resourceNames"},
        {"Secret", "Role", "rules/resourceNames"},
        {"Secret", "ClusterRole", "rules/resourceNames"},
        {"Secret", "Ingress", "spec/tls/secretName"},
        {"Secret", "Ingress", "metadata/annotations/ingress.kubernetes.io\\/auth-secret"},
        {"Secret", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret"},
        {"Secret", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret"},
        {"Secret", "ServiceAccount", "imagePullSecrets/name"},
        {"Secret", "ServiceAccount", "secrets/name"},
        {"Secret", "StorageClass", "parameters/secretName"},
        {"Secret", "StorageClass", "parameters/adminSecretName"},
        {"Secret", "StorageClass", "parameters/userSecretName"},
        {"Secret", "StorageClass", "parameters/secretRef"},
        {"Secret", "ValidatingWebhookConfiguration", "webhooks/clientConfig/caBundle"},
        {"Service", "Ingress", "spec/rules/http/paths/backend/serviceName"},
        {"Service", "Ingress", "spec/backend/serviceName"},
        {"Service", "Ingress", "spec/rules/http/paths/backend/service/name"},
        {"Service", "Ingress", "spec/defaultBackend/service/name"},
        {"Service", "StatefulSet", "spec/serviceName"},
        {"Service", "APIService", "spec/service/name"},
        {"Service", "CustomResourceDefinition",
         "spec/conversion/webhook/clientConfig/service/name"},
        {"Role", "RoleBinding", "roleRef/name"},
        {"ClusterRole", "RoleBinding", "roleRef/name"},
        {"ClusterRole", "ClusterRoleBinding", "roleRef/name"},
        {"PersistentVolume", "PersistentVolumeClaim", "spec/volumeName"},
        {"StorageClass", "PersistentVolume", "spec/storageClassName"},
        {"StorageClass", "PersistentVolumeClaim", "spec/storageClassName"},
        {"StorageClass", "StatefulSet", "spec/volumeClaimTemplates/spec/storageClassName"},
        {"IngressClass", "Ingress", "spec/ingressClassName"},
        {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "spec/policyName"},
        {"ConfigMap", "ValidatingAdmissionPolicyBinding", "spec/paramRef/name"},
};

struct kindidx {
    /* resources by any kind they had, for candidate lookup */
    struct resmap *ra;
};

/* utils.SameEndingSubarray: the shorter list equals the end of the longer one. */
static bool same_ending(char **a, size_t na, char **b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    for (size_t i = 1; i <= n; i++)
        if (strcmp(a[na - i], b[nb - i]) != 0)
            return false;
    return true;
}

static bool prefix_suffix_equals(const struct res *r, const struct res *o, bool allow_empty)
{
    if (allow_empty) {
        bool pe = r->nprefixes == 0 || o->nprefixes == 0;
        bool se = r->nsuffixes == 0 || o->nsuffixes == 0;
        return (pe || same_ending(r->prefixes, r->nprefixes, o->prefixes, o->nprefixes)) &&
               (se || same_ending(r->suffixes, r->nsuffixes, o->suffixes, o->nsuffixes));
    }
    return r->nprefixes == o->nprefixes && r->nsuffixes == o->nsuffixes &&
           same_ending(r->prefixes, r->nprefixes, o->prefixes, o->nprefixes) &&
           same_ending(r->suffixes, r->nsuffixes, o->suffixes, o->nsuffixes);
}

static bool had_kind(const struct res *r, const char *kind)
{
    if (strcmp(res_kind(r), kind) == 0 || strcmp(r->orig.kind, kind) == 0)
        return true;
    for (size_t i = 0; i < r->nprev; i++)
        if (strcmp(r->prev[i].kind, kind) == 0)
            return true;
    return false;
}

static bool ns_equal(const char *a, const char *b)
{
    if (a[0] == '\0')
        a = "default";
    if (b[0] == '\0')
        b = "default";
    return strcmp(a, b) == 0;
}

/* Every name each object had, hashed, so a reference is resolved without a scan. */
struct nent {
    const char *name;
    const struct res *r;
    struct nent *next;
};

struct nidx {
    struct nent **b;
    size_t cap;
    struct nent *pool;
    size_t npool, cappool;
};

static size_t name_hash(const char *s, size_t cap)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return (size_t)h & (cap - 1);
}

static void nidx_release(struct nidx *ix)
{
    free(ix->b);
    free(ix->pool);
    memset(ix, 0, sizeof(*ix));
}

static int nidx_build(struct nidx *ix, struct resmap *ra, struct sl_error *err)
{
    size_t total = 0;
    memset(ix, 0, sizeof(*ix));
    for (size_t i = 0; i < ra->n; i++)
        total += 2 + ra->items[i]->nprev;
    ix->cap = 16;
    while (ix->cap < total * 2)
        ix->cap *= 2;
    ix->b = calloc(ix->cap, sizeof(*ix->b));
    ix->pool = calloc(total ? total : 1, sizeof(*ix->pool));
    if (ix->b == NULL || ix->pool == NULL) {
        nidx_release(ix);
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < ra->n; i++) {
        const struct res *r = ra->items[i];
        for (size_t k = 0; k < r->nprev + 2; k++) {
            const char *name = k == 0 ? res_name(r) : k == 1 ? r->orig.name : r->prev[k - 2].name;
            size_t h = name_hash(name, ix->cap);
            bool dup = false;
            for (struct nent *e = ix->b[h]; e; e = e->next)
                if (e->r == r && strcmp(e->name, name) == 0)
                    dup = true;
            if (dup)
                continue;
            struct nent *e = &ix->pool[ix->npool++];
            e->name = name;
            e->r = r;
            e->next = ix->b[h];
            ix->b[h] = e;
        }
    }
    return 0;
}

/* Find the object a reference "value" from referrer r means. NULL when none. */
static int select_referral(struct render_ctx *c, const struct nidx *ix, const struct res *referrer,
                           const char *kind, const char *value, const struct res **out)
{
    const struct res **cand = NULL;
    size_t n = 0;
    char g[128], v[128];
    int rc = 0;
    *out = NULL;
    res_group_version(referrer, g, sizeof(g), v, sizeof(v));
    bool referrer_cluster = kind_is_cluster_scoped(g, res_kind(referrer));
    /* the index lists newest first; candidates keep accumulation order */
    size_t nent = 0;
    for (struct nent *e = ix->b[name_hash(value, ix->cap)]; e; e = e->next)
        nent++;
    const struct res **ents = calloc(nent ? nent : 1, sizeof(*ents));
    if (ents == NULL)
        return sl_error_set(c->err, SL_ENOMEM, "out of memory");
    size_t k = nent;
    for (struct nent *e = ix->b[name_hash(value, ix->cap)]; e; e = e->next)
        ents[--k] = strcmp(e->name, value) == 0 ? e->r : NULL;
    for (size_t i = 0; i < nent; i++) {
        const struct res *r = ents[i];
        if (r == NULL || !had_kind(r, kind))
            continue;
        char rg[128], rv[128];
        res_group_version(r, rg, sizeof(rg), rv, sizeof(rv));
        if (!referrer_cluster && !kind_is_cluster_scoped(rg, res_kind(r)) &&
            strcmp(res_kind(r), "ServiceAccount") != 0 && !ns_equal(res_ns(r), res_ns(referrer)))
            continue;
        const struct res **nc = realloc(cand, (n + 1) * sizeof(*nc));
        if (nc == NULL) {
            free(cand);
            free(ents);
            return sl_error_set(c->err, SL_ENOMEM, "out of memory");
        }
        cand = nc;
        cand[n++] = r;
    }
    free(ents);
    for (int pass = 0; pass < 2 && n > 1; pass++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (prefix_suffix_equals(cand[i], referrer, pass == 0))
                cand[m++] = cand[i];
        n = m;
        if (n > 1 && pass == 0) {
            bool same = true;
            for (size_t i = 1; i < n; i++)
                if (strcmp(res_name(cand[i]), res_name(cand[0])) != 0)
                    same = false;
            if (same)
                n = 1;
        }
    }
    if (n == 1) {
        *out = cand[0];
    } else if (n > 1) {
        char id[512];
        res_describe(referrer, id, sizeof(id));
        rc = sl_error_set(c->err, SL_ECONFLICT,
                          "%s (%s:%d): reference \"%s\" to a %s is ambiguous: %zu objects "
                          "had that name",
                          id, referrer->file ? referrer->file : "generated", referrer->line, value,
                          kind, n);
    }
    free(cand);
    return rc;
}

struct fixarg {
    struct render_ctx *c;
    const struct nidx *ix;
    const struct res *referrer;
    const char *kind;
    json_t *holder; /* the map holding the field, for roleRef kind checks */
};

static int fix_value(struct fixarg *a, json_t *parent, const char *key, json_t *val, size_t idx)
{
    const char *s = json_string_value(val);
    const struct res *ref;
    if (s == NULL)
        return 0;
    if (strcmp(key, "name") == 0 && json_is_string(json_object_get(parent, "kind")) &&
        json_object_get(parent, "apiGroup") != NULL &&
        strcmp(json_string_value(json_object_get(parent, "kind")), a->kind) != 0)
        return 0; /* roleRef names a different kind */
    if (select_referral(a->c, a->ix, a->referrer, a->kind, s, &ref) != 0)
        return -1;
    if (ref == NULL || strcmp(res_name(ref), s) == 0)
        return 0;
    json_t *nv = json_string(res_name(ref));
    if (nv == NULL)
        return sl_error_set(a->c->err, SL_ENOMEM, "out of memory");
    if (json_is_array(parent))
        return json_array_set_new(parent, idx, nv);
    return json_object_set_new(parent, key, nv);
}

/* Walk a path whose components may contain "\/" (escaped slash). */
static int walk_fix(struct fixarg *a, json_t *node, const char *path)
{
    char comp[256];
    size_t n = 0;
    const char *p = path;
    while (*p && *p != '/') {
        if (p[0] == '\\' && p[1] == '/')
            p++;
        if (n + 1 < sizeof(comp))
            comp[n++] = *p;
        p++;
    }
    comp[n] = '\0';
    if (json_is_array(node)) {
        size_t i;
        json_t *e;
        json_array_foreach(node, i, e)
        {
            if (walk_fix(a, e, path) != 0)
                return -1;
        }
        return 0;
    }
    if (!json_is_object(node))
        return 0;
    json_t *child = json_object_get(node, comp);
    if (child == NULL)
        return 0;
    if (*p == '\0') {
        if (json_is_array(child)) {
            size_t i;
            json_t *e;
            json_array_foreach(child, i, e)
            {
                if (json_is_string(e) && fix_value(a, child, comp, e, i) != 0)
                    return -1;
            }
            return 0;
        }
        return fix_value(a, node, comp, child, 0);
    }
    return walk_fix(a, child, p + 1);
}

/* A {name, namespace} reference: both are taken from the object it means. */
static void fix_mapref(struct resmap *ra, json_t *ref, const char *kind)
{
    const char *name = json_string_value(json_object_get(ref, "name"));
    const char *ns = json_string_value(json_object_get(ref, "namespace"));
    const struct res *found = NULL;
    size_t nfound = 0;
    if (name == NULL)
        return;
    for (size_t j = 0; j < ra->n; j++) {
        const struct res *sa = ra->items[j];
        if (!had_kind(sa, kind))
            continue;
        if (!res_any_id_matches(sa, NULL, name, ns ? ns : "", ns != NULL))
            continue;
        if (found == NULL || strcmp(res_name(found), res_name(sa)) != 0)
            nfound++;
        found = sa; /* the last one accumulated wins, as in kustomize */
    }
    if (nfound != 1)
        return;
    json_object_set_new(ref, "name", json_string(res_name(found)));
    if (res_ns(found)[0])
        json_object_set_new(ref, "namespace", json_string(res_ns(found)));
}

static void fix_maprefs(struct resmap *ra, struct res *r)
{
    const char *kind = res_kind(r);
    size_t i;
    json_t *s;
    if (strcmp(kind, "RoleBinding") == 0 || strcmp(kind, "ClusterRoleBinding") == 0) {
        json_array_foreach(json_object_get(r->obj, "subjects"), i, s)
        {
            const char *sk = json_string_value(json_object_get(s, "kind"));
            if (sk != NULL && strcmp(sk, "ServiceAccount") == 0)
                fix_mapref(ra, s, "ServiceAccount");
        }
    }
    if (strcmp(kind, "ValidatingWebhookConfiguration") == 0 ||
        strcmp(kind, "MutatingWebhookConfiguration") == 0) {
        json_array_foreach(json_object_get(r->obj, "webhooks"), i, s)
        {
            json_t *svc = json_object_get(json_object_get(s, "clientConfig"), "service");
            if (json_is_object(svc))
                fix_mapref(ra, svc, "Service");
        }
    }
}

int nameref_fix(struct render_ctx *c, struct resmap *ra)
{
    struct nidx ix;
    int rc = -1;
    if (nidx_build(&ix, ra, c->err) != 0)
        return -1;
    for (size_t i = 0; i < ra->n; i++) {
        struct res *r = ra->items[i];
        const char *kind = res_kind(r);
        struct fixarg a = {c, &ix, r, NULL, NULL};
        for (size_t p = 0; p < sizeof(podspecs) / sizeof(podspecs[0]); p++) {
            if (strcmp(podspecs[p].kind, kind) != 0)
                continue;
            for (size_t q = 0; q < sizeof(podrefs) / sizeof(podrefs[0]); q++) {
                char path[512];
                snprintf(path, sizeof(path), "%s/%s", podspecs[p].prefix, podrefs[q].path);
                a.kind = podrefs[q].referral;
                if (walk_fix(&a, r->obj, path) != 0)
                    goto done;
            }
        }
        for (size_t q = 0; q < sizeof(others) / sizeof(others[0]); q++) {
            if (others[q].referrer && strcmp(others[q].referrer, kind) != 0)
                continue;
            a.kind = others[q].referral;
            if (walk_fix(&a, r->obj, others[q].path) != 0)
                goto done;
        }
        for (size_t q = 0; q < c->x_nameref.n; q++) {
            const struct xspec *x = &c->x_nameref.items[q];
            char g[128], v[128];
            res_group_version(r, g, sizeof(g), v, sizeof(v));
            if ((x->kind && strcmp(x->kind, kind) != 0) || (x->group && strcmp(x->group, g) != 0))
                continue;
            a.kind = x->referral;
            if (walk_fix(&a, r->obj, x->path) != 0)
                goto done;
        }
        fix_maprefs(ra, r);
    }
    rc = 0;
done:
    nidx_release(&ix);
    return rc;
}

/* ------------------------------------------------------------------ vars */

static const json_t *get_field(const json_t *obj, const char *fieldpath)
{
    char comp[256];
    const json_t *cur = obj;
    const char *p = fieldpath;
    while (*p && cur) {
        size_t n = 0;
        while (*p && *p != '.' && *p != '[') {
            if (n + 1 < sizeof(comp))
                comp[n++] = *p;
            p++;
        }
        comp[n] = '\0';
        if (n > 0)
            cur = json_object_get(cur, comp);
        if (*p == '[') {
            char *end;
            unsigned long idx = strtoul(p + 1, &end, 10);
            if (*end != ']')
                return NULL;
            cur = json_array_get(cur, idx);
            p = end + 1;
        }
        if (*p == '.')
            p++;
    }
    return cur;
}

static int subst_string(struct render_ctx *c, struct resmap *ra, const char *s, json_t **out,
                        const json_t **values)
{
    struct sl_buf b = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    const char *p = s;
    bool changed = false;
    (void)ra;
    *out = NULL;
    while (*p) {
        /* Kubernetes' expansion: "$$" is an escaped "$" ("$$(V)" stays "$(V)"). */
        if (p[0] == '$' && p[1] == '$') {
            sl_buf_putc(&b, '$', NULL);
            p += 2;
            changed = true;
            continue;
        }
        if (p[0] == '$' && p[1] == '(') {
            const char *end = strchr(p + 2, ')');
            if (end) {
                size_t nl = (size_t)(end - p - 2);
                size_t i;
                for (i = 0; i < c->vars.n; i++)
                    if (strlen(c->vars.items[i].name) == nl &&
                        strncmp(c->vars.items[i].name, p + 2, nl) == 0)
                        break;
                if (i < c->vars.n && values[i] != NULL) {
                    const json_t *v = values[i];
                    if (p == s && end[1] == '\0' && !json_is_string(v)) {
                        /* the whole value is the var: keep its type */
                        sl_buf_release(&b);
                        *out = json_deep_copy(v);
                        return 0;
                    }
                    if (json_is_string(v)) {
                        sl_buf_puts(&b, json_string_value(v), NULL);
                    } else {
                        char *d = json_dumps(v, JSON_ENCODE_ANY);
                        if (d)
                            sl_buf_puts(&b, d, NULL);
                        free(d);
                    }
                    changed = true;
                    p = end + 1;
                    continue;
                }
            }
        }
        sl_buf_putc(&b, *p, NULL);
        p++;
    }
    if (changed)
        *out = json_string(b.ptr);
    sl_buf_release(&b);
    return 0;
}

/*
 * Substitute in parent[key] (a field on a varReference path): a string, each
 * string of a list (args, command), or each string value of a map (labels,
 * annotations), as kustomize's refvar filter does.
 */
int vars_subst_field(struct render_ctx *c, struct resmap *ra, json_t *parent, const char *key,
                     const json_t **values)
{
    json_t *node = json_object_get(parent, key), *v, *nv;

    if (json_is_string(node)) {
        subst_string(c, ra, json_string_value(node), &nv, values);
        if (nv != NULL)
            json_object_set_new(parent, key, nv);
    } else if (json_is_array(node)) {
        size_t i;
        json_array_foreach(node, i, v)
        {
            if (!json_is_string(v))
                continue;
            subst_string(c, ra, json_string_value(v), &nv, values);
            if (nv != NULL)
                json_array_set_new(node, i, nv);
        }
    } else if (json_is_object(node)) {
        const char *k;
        void *tmp;
        json_object_foreach_safe(node, tmp, k, v)
        {
            if (!json_is_string(v))
                continue;
            subst_string(c, ra, json_string_value(v), &nv, values);
            if (nv != NULL)
                json_object_set_new(node, k, nv);
        }
    }
    return 0;
}

int vars_resolve(struct render_ctx *c, struct resmap *ra)
{
    const json_t **values = calloc(c->vars.n, sizeof(*values));
    int rc = -1;
    if (values == NULL)
        return sl_error_set(c->err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->vars.n; i++) {
        struct kvar *v = &c->vars.items[i];
        const struct res *found = NULL;
        size_t n = 0;
        for (size_t j = 0; j < ra->n && found == NULL; j++)
            for (size_t k = 0; k < ra->items[j]->nvarnames; k++)
                if (strcmp(ra->items[j]->varnames[k], v->name) == 0) {
                    found = ra->items[j];
                    n = 1;
                }
        if (n != 1) {
            sl_error_set(c->err, n ? SL_ECONFLICT : SL_ENOTFOUND,
                         "var '%s' cannot be mapped to a field: %s %s %s", v->name,
                         n ? "multiple objects match" : "no object matches", v->kind, v->objname);
            goto done;
        }
        values[i] = get_field(found->obj, v->fieldpath);
        if (values[i] == NULL) {
            sl_error_set(c->err, SL_ENOTFOUND, "var '%s': field %s not found in %s %s", v->name,
                         v->fieldpath, v->kind, v->objname);
            goto done;
        }
    }
    /* Only in kustomize's varReference fields (and custom ones from `configurations`). */
    if (vars_apply(c, ra, values) != 0)
        goto done;
    rc = 0;
done:
    free(values);
    return rc;
}
