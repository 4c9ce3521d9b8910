#include "plan.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "quantity.h"
#include "secmem.h"

static const char *const kind_order[] = {"CustomResourceDefinition",
                                         "Namespace",
                                         "ClusterRole",
                                         "ClusterClass",
                                         "RuntimeClass",
                                         "PriorityClass",
                                         "StorageClass",
                                         "VolumeSnapshotClass",
                                         "IngressClass",
                                         "GatewayClass",
                                         "ClusterRoleBinding",
                                         "ResourceQuota",
                                         "ServiceAccount",
                                         "Role",
                                         "RoleBinding",
                                         "ConfigMap",
                                         "Secret",
                                         "Service",
                                         "LimitRange",
                                         "Deployment",
                                         "StatefulSet",
                                         "CronJob",
                                         "PodDisruptionBudget"};
#define NKIND_ORDER (sizeof(kind_order) / sizeof(kind_order[0]))

int sl_kind_rank(const char *kind)
{
    for (size_t i = 0; i < NKIND_ORDER; i++)
        if (strcmp(kind, kind_order[i]) == 0)
            return (int)i;
    if (strcmp(kind, "MutatingWebhookConfiguration") == 0)
        return (int)NKIND_ORDER + 1;
    if (strcmp(kind, "ValidatingWebhookConfiguration") == 0)
        return (int)NKIND_ORDER + 2;
    return (int)NKIND_ORDER;
}

int sl_kind_stage(const char *kind)
{
    size_t n = strlen(kind);

    if (strcmp(kind, "CustomResourceDefinition") == 0 || strcmp(kind, "Namespace") == 0 ||
        strcmp(kind, "ClusterRole") == 0)
        return 0;
    if (n > 5 && strcmp(kind + n - 5, "Class") == 0)
        return 1;
    return 2;
}

const char *sl_action_name(enum sl_action_type t)
{
    switch (t) {
    case SL_ACT_CREATE:
        return "create";
    case SL_ACT_UPDATE:
        return "update";
    case SL_ACT_DRIFT:
        return "drift";
    case SL_ACT_UNCHANGED:
        return "unchanged";
    case SL_ACT_PRUNE:
        return "prune";
    case SL_ACT_KEEP:
        return "keep";
    case SL_ACT_GONE:
        return "gone";
    case SL_ACT_SHARED:
        return "shared";
    }
    return "?";
}

/* ---- prepare and digest ---- */

static json_t *ensure_object(json_t *parent, const char *key, struct sl_error *err)
{
    json_t *o = json_object_get(parent, key);

    if (o == NULL || json_is_null(o)) {
        o = json_object();
        if (o == NULL || json_object_set_new(parent, key, o) != 0) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            return NULL;
        }
    } else if (!json_is_object(o)) {
        sl_error_set(err, SL_EINVAL, "%s is not an object", key);
        return NULL;
    }
    return o;
}

static int fold_string_data(json_t *obj, struct sl_error *err)
{
    json_t *sd = json_object_get(obj, "stringData"), *data, *v;
    const char *key;

    if (sd == NULL)
        return 0;
    if (!json_is_object(sd))
        return sl_error_set(err, SL_EINVAL, "Secret stringData is not an object");
    data = ensure_object(obj, "data", err);
    if (data == NULL)
        return -1;
    json_object_foreach(sd, key, v)
    {
        const char *s = json_string_value(v);
        size_t len, enc_len;
        char *enc;
        if (s == NULL)
            return sl_error_set(err, SL_EINVAL, "Secret stringData.%s is not a string", key);
        len = strlen(s);
        enc_len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
        enc = sl_secure_alloc(enc_len, err);
        if (enc == NULL)
            return -1;
        sodium_bin2base64(enc, enc_len, (const unsigned char *)s, len,
                          sodium_base64_VARIANT_ORIGINAL);
        if (json_object_set_new(data, key, json_string(enc)) != 0) {
            sl_secure_free(enc);
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        }
        sl_secure_free(enc);
    }
    json_object_del(obj, "stringData");
    return 0;
}

int sl_plan_prepare(json_t *obj, const char *agent, const char *env, struct sl_error *err)
{
    static const char *const server_md[] = {"creationTimestamp", "resourceVersion", "uid",
                                            "generation",        "managedFields",   "selfLink"};
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    json_t *md, *labels;

    if (!json_is_object(obj) || kind == NULL)
        return sl_error_set(err, SL_EINVAL, "object without kind");
    md = ensure_object(obj, "metadata", err);
    if (md == NULL)
        return -1;
    labels = ensure_object(md, "labels", err);
    if (labels == NULL)
        return -1;
    if (json_object_set_new(labels, SL_LABEL_MANAGED_BY, json_string(SL_LABEL_MANAGED_VALUE)) ||
        json_object_set_new(labels, SL_LABEL_AGENT, json_string(agent)) ||
        json_object_set_new(labels, SL_LABEL_ENV, json_string(env)))
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < sizeof(server_md) / sizeof(server_md[0]); i++)
        json_object_del(md, server_md[i]);
    if (strcmp(kind, "CustomResourceDefinition") != 0)
        json_object_del(obj, "status");
    if (strcmp(kind, "Secret") == 0 && fold_string_data(obj, err) != 0)
        return -1;
    return 0;
}

void sl_plan_wipe_secret(json_t *obj)
{
    static const char *const fields[] = {"data", "stringData"};
    const char *kind = json_string_value(json_object_get(obj, "kind"));

    if (kind == NULL || strcmp(kind, "Secret") != 0)
        return;
    for (size_t f = 0; f < 2; f++) {
        json_t *m = json_object_get(obj, fields[f]), *v;
        const char *k;
        json_object_foreach(m, k, v)
        {
            const char *str = json_string_value(v);
            if (str != NULL)
                sodium_memzero((char *)(uintptr_t)str, json_string_length(v));
        }
    }
}

static void hex_digest(const unsigned char h[crypto_hash_sha256_BYTES], char out[SL_DIGEST_LEN])
{
    memcpy(out, "sha256:", 7);
    sodium_bin2hex(out + 7, SL_DIGEST_LEN - 7, h, crypto_hash_sha256_BYTES);
}

int sl_object_digest(const json_t *obj, char out[SL_DIGEST_LEN], struct sl_error *err)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char *s = json_dumps(obj, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);

    if (s == NULL)
        return sl_error_set(err, SL_ENOMEM, "cannot serialise object");
    crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
    sodium_memzero(s, strlen(s));
    free(s);
    hex_digest(h, out);
    return 0;
}

struct idx_id {
    size_t i;
    char id[768];
};

static int cmp_idx_id(const void *a, const void *b)
{
    return strcmp(((const struct idx_id *)a)->id, ((const struct idx_id *)b)->id);
}

static void object_key(const json_t *obj, char *out, size_t outlen)
{
    const char *api = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *slash = api ? strchr(api, '/') : NULL;
    int glen = slash ? (int)(slash - api) : 0;

    snprintf(out, outlen, "%s_%s_%.*s_%s", ns ? ns : "", name ? name : "", glen, slash ? api : "",
             kind ? kind : "");
}

int sl_set_digest(const struct sl_objlist *objs, char out[SL_DIGEST_LEN], struct sl_error *err)
{
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    struct idx_id *ids = NULL;

    if (objs->n > 0) {
        ids = calloc(objs->n, sizeof(*ids));
        if (ids == NULL)
            return sl_error_set(err, SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < objs->n; i++) {
        ids[i].i = i;
        object_key(objs->items[i].json, ids[i].id, sizeof(ids[i].id));
    }
    if (objs->n > 1)
        qsort(ids, objs->n, sizeof(*ids), cmp_idx_id);
    crypto_hash_sha256_init(&st);
    for (size_t i = 0; i < objs->n; i++) {
        char *s = json_dumps(objs->items[ids[i].i].json, JSON_SORT_KEYS | JSON_COMPACT);
        if (s == NULL) {
            free(ids);
            return sl_error_set(err, SL_ENOMEM, "cannot serialise object");
        }
        crypto_hash_sha256_update(&st, (const unsigned char *)ids[i].id, strlen(ids[i].id));
        crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
        crypto_hash_sha256_update(&st, (const unsigned char *)s, strlen(s));
        crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
        sodium_memzero(s, strlen(s));
        free(s);
    }
    crypto_hash_sha256_final(&st, h);
    free(ids);
    hex_digest(h, out);
    return 0;
}

bool sl_owned_by(const json_t *live, const char *agent, const char *env)
{
    const json_t *labels = json_object_get(json_object_get(live, "metadata"), "labels");
    const char *m = json_string_value(json_object_get(labels, SL_LABEL_MANAGED_BY));
    const char *a = json_string_value(json_object_get(labels, SL_LABEL_AGENT));
    const char *e = json_string_value(json_object_get(labels, SL_LABEL_ENV));

    return m != NULL && a != NULL && e != NULL && strcmp(m, SL_LABEL_MANAGED_VALUE) == 0 &&
           strcmp(a, agent) == 0 && strcmp(e, env) == 0;
}

/* ---- comparison ---- */

struct path {
    char buf[512];
    size_t len;
};

/* Append pre + s + post (s may be NULL: the decimal idx instead); returns the old length. */
static size_t path_push(struct path *p, const char *pre, const char *s, size_t idx,
                        const char *post)
{
    size_t old = p->len;
    int n;

    if (s != NULL)
        n = snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "%s%s%s", pre, s, post);
    else
        n = snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "%s%zu%s", pre, idx, post);
    if (n > 0)
        p->len = p->len + (size_t)n >= sizeof(p->buf) ? sizeof(p->buf) - 1 : p->len + (size_t)n;
    return old;
}

static void path_pop(struct path *p, size_t old)
{
    p->len = old;
    p->buf[old] = '\0';
}

static bool scalar_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal(a, b);
}

/*
 * Where a value sits, for the comparisons that depend on the field: quantities are
 * compared by value, int-or-string fields accept 8080 for "8080".
 */
struct where {
    const char *key;    /* the value's key in its parent (array items: the array's key) */
    const char *parent; /* the parent's key */
    bool in_qmap;       /* the parent is a map of quantities (resources.requests, hard, ...) */
};

static bool int_or_string_field(const char *key)
{
    static const char *const f[] = {"targetPort", "port", "maxSurge", "maxUnavailable",
                                    "minAvailable"};

    for (size_t i = 0; key != NULL && i < sizeof(f) / sizeof(f[0]); i++)
        if (strcmp(key, f[i]) == 0)
            return true;
    return false;
}

/* An integer against the string form of the same integer ("8080"). */
static bool int_matches_string(const json_t *i, const json_t *s)
{
    char buf[32];

    if (!json_is_integer(i) || !json_is_string(s))
        return false;
    snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(i));
    return strcmp(buf, json_string_value(s)) == 0;
}

/*
 * Desired and live scalars at w. The API server stores quantities in canonical form
 * (cpu: 0.5 comes back as "500m", 1073741824 may be "1Gi"): equal values are equal.
 */
static bool field_equal(const json_t *d, const json_t *l, const struct where *w)
{
    if (scalar_equal(d, l))
        return true;
    if (sl_qty_field(w->key, w->parent, w->in_qmap)) {
        struct sl_qty qd, ql;
        if (sl_qty_from_json(d, &qd) == 0 && sl_qty_from_json(l, &ql) == 0)
            return sl_qty_equal(&qd, &ql);
    }
    if (int_or_string_field(w->key))
        return int_matches_string(d, l) || int_matches_string(l, d);
    return false;
}

static bool subset(const json_t *d, const json_t *l, struct path *p, const struct where *w);

static const json_t *find_named(const json_t *arr, const char *name)
{
    size_t i;
    const json_t *e;

    json_array_foreach(arr, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return e;
    }
    return NULL;
}

static bool all_named(const json_t *arr)
{
    size_t i;
    const json_t *e;

    if (json_array_size(arr) == 0)
        return false;
    json_array_foreach(arr, i, e)
    {
        if (!json_is_string(json_object_get(e, "name")))
            return false;
    }
    return true;
}

static bool subset_array(const json_t *d, const json_t *l, struct path *p, const struct where *aw)
{
    struct where w = {aw->key, aw->parent, false}; /* items take the array's key */
    size_t i;
    const json_t *e;

    if (!json_is_array(l))
        return false;
    if (json_array_size(d) == json_array_size(l)) {
        json_array_foreach(d, i, e)
        {
            size_t old = path_push(p, "[", NULL, i, "]");
            if (!subset(e, json_array_get(l, i), p, &w))
                return false;
            path_pop(p, old);
        }
        return true;
    }
    /* lists keyed by name (containers, env, volumes, ports): others may add entries */
    if (all_named(d) && json_array_size(l) > json_array_size(d)) {
        json_array_foreach(d, i, e)
        {
            const char *n = json_string_value(json_object_get(e, "name"));
            const json_t *le = find_named(l, n);
            size_t old = path_push(p, "[name=", n, 0, "]");
            if (le == NULL || !subset(e, le, p, &w))
                return false;
            path_pop(p, old);
        }
        return true;
    }
    return false;
}

static bool subset(const json_t *d, const json_t *l, struct path *p, const struct where *w)
{
    if (json_is_null(d))
        return l == NULL || json_is_null(l);
    if (l == NULL)
        return false;
    if (json_is_object(d)) {
        const char *key;
        const json_t *v;
        bool qmap = sl_qty_map(w->key, w->parent);
        if (!json_is_object(l))
            return false;
        json_object_foreach((json_t *)(uintptr_t)d, key, v)
        {
            struct where cw = {key, w->key, qmap};
            size_t old = path_push(p, ".", key, 0, "");
            if (!subset(v, json_object_get(l, key), p, &cw))
                return false;
            path_pop(p, old);
        }
        return true;
    }
    if (json_is_array(d))
        return subset_array(d, l, p, w);
    return field_equal(d, l, w);
}

/*
 * Every field listed in a fieldsV1 set must still be in desired (otherwise applying
 * would remove it from the live object: that is a change).
 */
static bool covers(const json_t *fields, const json_t *d, struct path *p)
{
    const char *key;
    const json_t *sub;

    json_object_foreach((json_t *)(uintptr_t)fields, key, sub)
    {
        if (strcmp(key, ".") == 0)
            continue;
        if (strncmp(key, "f:", 2) == 0) {
            const json_t *dv = json_object_get(d, key + 2);
            size_t old = path_push(p, ".", key + 2, 0, "");
            if (!json_is_object(d) || dv == NULL || json_is_null(dv))
                return false;
            if (json_object_size(sub) > 0 && !covers(sub, dv, p))
                return false;
            path_pop(p, old);
        } else if (strncmp(key, "k:", 2) == 0) {
            json_t *k = json_loads(key + 2, 0, NULL);
            const json_t *match = NULL, *e;
            size_t i, old = path_push(p, "[", key + 2, 0, "]");
            if (k == NULL || !json_is_object(k) || !json_is_array(d)) {
                json_decref(k);
                return false;
            }
            json_array_foreach(d, i, e)
            {
                const char *kk;
                const json_t *kv;
                bool ok = json_is_object(e);
                size_t matched = 0;
                /*
                 * Key fields the server defaulted (a port's protocol) are absent from
                 * desired: match on the key fields desired has, at least one.
                 */
                json_object_foreach(k, kk, kv)
                {
                    const json_t *ev = ok ? json_object_get(e, kk) : NULL;
                    if (!ok)
                        break;
                    if (ev == NULL)
                        continue;
                    ok = scalar_equal(ev, kv);
                    matched++;
                }
                if (ok && matched > 0) {
                    match = e;
                    break;
                }
            }
            json_decref(k);
            if (match == NULL || (json_object_size(sub) > 0 && !covers(sub, match, p)))
                return false;
            path_pop(p, old);
        } else if (strncmp(key, "v:", 2) == 0) {
            json_t *v = json_loads(key + 2, JSON_DECODE_ANY, NULL);
            const json_t *e;
            size_t i;
            bool found = false;
            json_array_foreach(d, i, e)
            {
                if (v != NULL && scalar_equal(e, v)) {
                    found = true;
                    break;
                }
            }
            json_decref(v);
            if (!found) {
                path_push(p, "[", key + 2, 0, "]");
                return false;
            }
        } else if (strncmp(key, "i:", 2) == 0) {
            char *end;
            long idx = strtol(key + 2, &end, 10);
            size_t old = path_push(p, "[", key + 2, 0, "]");
            if (*end != '\0' || idx < 0 || !json_is_array(d) || (size_t)idx >= json_array_size(d))
                return false;
            if (json_object_size(sub) > 0 && !covers(sub, json_array_get(d, (size_t)idx), p))
                return false;
            path_pop(p, old);
        }
    }
    return true;
}

static const json_t *managed_fields_of(const json_t *live, const char *manager)
{
    const json_t *mf = json_object_get(json_object_get(live, "metadata"), "managedFields"), *e;
    size_t i;

    if (manager == NULL)
        return NULL;
    json_array_foreach(mf, i, e)
    {
        const char *m = json_string_value(json_object_get(e, "manager"));
        const char *op = json_string_value(json_object_get(e, "operation"));
        if (m != NULL && strcmp(m, manager) == 0 && op != NULL && strcmp(op, "Apply") == 0)
            return json_object_get(e, "fieldsV1");
    }
    return NULL;
}

bool sl_plan_compare(const json_t *desired, const json_t *live, const char *field_manager,
                     char *reason, size_t reasonlen)
{
    static const char *const ignored_md[] = {"creationTimestamp", "resourceVersion", "uid",
                                             "generation",        "managedFields",   "selfLink"};
    struct path p = {{0}, 0};
    json_t *d = json_deep_copy(desired), *md;
    const json_t *fields;
    bool ok = false;

    if (reason != NULL && reasonlen > 0)
        reason[0] = '\0';
    if (d == NULL)
        return false;
    json_object_del(d, "status");
    md = json_object_get(d, "metadata");
    for (size_t i = 0; i < sizeof(ignored_md) / sizeof(ignored_md[0]); i++)
        json_object_del(md, ignored_md[i]);
    {
        struct where top = {"", "", false};
        if (!subset(d, live, &p, &top))
            goto done;
    }
    fields = managed_fields_of(live, field_manager);
    p.len = 0;
    p.buf[0] = '\0';
    if (fields != NULL && json_is_object(fields) && !covers(fields, d, &p)) {
        if (reason != NULL && reasonlen > 0)
            snprintf(reason, reasonlen, "%s (managed field no longer desired)", p.buf);
        sl_plan_wipe_secret(d);
        json_decref(d);
        return false;
    }
    ok = true;
done:
    if (!ok && reason != NULL && reasonlen > 0)
        snprintf(reason, reasonlen, "%s", p.buf[0] ? p.buf : "(object)");
    sl_plan_wipe_secret(d);
    json_decref(d);
    return ok;
}

/* ---- planning ---- */

void sl_plan_release(struct sl_plan *plan)
{
    if (plan == NULL)
        return;
    for (size_t i = 0; i < plan->n; i++) {
        sl_ref_release(&plan->items[i].ref);
        json_decref(plan->items[i].desired);
        json_decref(plan->items[i].live);
    }
    free(plan->items);
    memset(plan, 0, sizeof(*plan));
}

static struct sl_action *plan_push(struct sl_plan *plan, struct sl_error *err)
{
    if (plan->n == plan->cap) {
        size_t ncap = plan->cap ? plan->cap * 2 : 32, bytes;
        struct sl_action *p;
        if (!sl_size_mul(&bytes, ncap, sizeof(*p))) {
            sl_error_set(err, SL_ETOOLARGE, "plan too large");
            return NULL;
        }
        p = realloc(plan->items, bytes);
        if (p == NULL) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            return NULL;
        }
        plan->items = p;
        plan->cap = ncap;
    }
    memset(&plan->items[plan->n], 0, sizeof(plan->items[0]));
    return &plan->items[plan->n++];
}

static void ref_key(const struct sl_ref *r, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s_%s_%s_%s", r->ns, r->name, r->group, r->kind);
}

static int ref_copy_from(struct sl_ref *dst, const struct sl_ref *src, struct sl_error *err)
{
    struct sl_inventory tmp = {0};

    /* reuse the inventory's copy logic */
    if (sl_inventory_add(&tmp, src, err) != 0)
        return -1;
    *dst = tmp.items[0];
    free(tmp.items);
    return 0;
}

static int cmp_actions(const void *pa, const void *pb)
{
    const struct sl_action *a = pa, *b = pb;
    bool pa_prune = a->type == SL_ACT_PRUNE || a->type == SL_ACT_KEEP || a->type == SL_ACT_GONE;
    bool pb_prune = b->type == SL_ACT_PRUNE || b->type == SL_ACT_KEEP || b->type == SL_ACT_GONE;
    int c, sign = pa_prune ? -1 : 1;

    if (pa_prune != pb_prune)
        return pa_prune ? 1 : -1;
    if (a->stage != b->stage)
        return sign * (a->stage - b->stage);
    c = sl_kind_rank(a->ref.kind) - sl_kind_rank(b->ref.kind);
    if (c == 0)
        c = strcmp(a->ref.group, b->ref.group);
    if (c == 0)
        c = strcmp(a->ref.kind, b->ref.kind);
    if (c == 0)
        c = strcmp(a->ref.ns, b->ref.ns);
    if (c == 0)
        c = strcmp(a->ref.name, b->ref.name);
    return sign * c;
}

/* Can Namespace ns be deleted? Only when everything in it is ours and being pruned. */
static bool namespace_prunable(const char *ns, const struct sl_plan *plan, const json_t *live_idx,
                               const struct sl_plan_opts *opts, char *why, size_t whylen)
{
    const json_t *contents, *e;
    size_t i;

    for (i = 0; i < plan->n; i++) {
        const struct sl_action *a = &plan->items[i];
        if (a->desired != NULL && strcmp(a->ref.ns, ns) == 0) {
            snprintf(why, whylen, "namespace still holds desired objects");
            return false;
        }
    }
    contents = opts->ns_contents ? json_object_get(opts->ns_contents, ns) : NULL;
    if (contents == NULL) {
        snprintf(why, whylen, "namespace contents not verified");
        return false;
    }
    json_array_foreach(contents, i, e)
    {
        struct sl_ref r;
        char key[768], id[300];
        const json_t *ann = json_object_get(json_object_get(e, "metadata"), "annotations");
        const char *keep = json_string_value(json_object_get(ann, SL_ANNOT_PRUNE));
        if (sl_ref_from_object(&r, e, NULL) != 0)
            continue;
        ref_key(&r, key, sizeof(key));
        sl_ref_release(&r);
        if (!sl_owned_by(e, opts->agent, opts->env) || json_object_get(live_idx, key) == NULL ||
            (keep != NULL && strcmp(keep, "disabled") == 0)) {
            sl_object_id(e, id, sizeof(id));
            snprintf(why, whylen, "namespace holds %.200s, not pruned by sluice", id);
            return false;
        }
    }
    return true;
}

/* snprintf that may truncate on purpose (reasons are informational). */
static void reasonf(char *dst, size_t n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void reasonf(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

/* The environment owning live when it is another environment of the same agent. */
static const char *shared_owner(const json_t *live, const struct sl_plan_opts *opts)
{
    const json_t *labels = json_object_get(json_object_get(live, "metadata"), "labels");
    const char *m = json_string_value(json_object_get(labels, SL_LABEL_MANAGED_BY));
    const char *a = json_string_value(json_object_get(labels, SL_LABEL_AGENT));
    const char *e = json_string_value(json_object_get(labels, SL_LABEL_ENV));

    if (live == NULL || m == NULL || a == NULL || e == NULL ||
        strcmp(m, SL_LABEL_MANAGED_VALUE) != 0 || strcmp(a, opts->agent) != 0 ||
        strcmp(e, opts->env) == 0)
        return NULL;
    return e;
}

int sl_plan_build(struct sl_plan *plan, const struct sl_objlist *desired, const json_t *live,
                  const struct sl_inventory *inv, const struct sl_plan_opts *opts,
                  struct sl_error *err)
{
    json_t *live_idx = json_object(), *desired_idx = json_object(), *prune_idx = json_object();
    const json_t *e;
    size_t i;
    int rc = -1;

    memset(plan, 0, sizeof(*plan));
    if (live_idx == NULL || desired_idx == NULL || prune_idx == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    json_array_foreach(live, i, e)
    {
        struct sl_ref r;
        char key[768];
        if (sl_ref_from_object(&r, e, NULL) != 0)
            continue;
        ref_key(&r, key, sizeof(key));
        sl_ref_release(&r);
        json_object_set(live_idx, key, (json_t *)(uintptr_t)e);
    }
    for (i = 0; i < desired->n; i++) {
        const struct sl_object *o = &desired->items[i];
        struct sl_action *a;
        char key[768], digest[SL_DIGEST_LEN], id[300], where[300];
        const char *shared;
        json_t *l;
        long at;

        a = plan_push(plan, err);
        if (a == NULL)
            goto done;
        if (sl_ref_from_object(&a->ref, o->json, err) != 0) {
            sl_origin_str(&o->origin, where, sizeof(where));
            sl_error_wrap(err, "%s", where);
            plan->n--;
            goto done;
        }
        ref_key(&a->ref, key, sizeof(key));
        if (json_object_get(desired_idx, key) != NULL) {
            sl_object_id(o->json, id, sizeof(id));
            sl_origin_str(&o->origin, where, sizeof(where));
            sl_error_set(err, SL_EINVAL, "%s: %s is defined twice", where, id);
            goto done;
        }
        json_object_set_new(desired_idx, key, json_true());
        l = json_object_get(live_idx, key);
        shared = a->ref.ns[0] == '\0' ? shared_owner(l, opts) : NULL;
        if (shared != NULL) {
            /*
             * A cluster-scoped object (a CRD) that several environments render: the
             * first one to apply it keeps it, the others leave its owner label alone
             * so that environments do not take it from each other on every run.
             */
            json_t *labels = json_object_get(json_object_get(o->json, "metadata"), "labels");
            json_object_set_new(labels, SL_LABEL_ENV, json_string(shared));
        }
        if (sl_object_digest(o->json, digest, err) != 0)
            goto done;
        a->ref.digest = strdup(digest);
        if (a->ref.digest == NULL) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        a->desired = json_incref(o->json);
        a->origin = &o->origin;
        a->secret = o->secret || strcmp(a->ref.kind, "Secret") == 0;
        a->stage = sl_kind_stage(a->ref.kind);
        at = sl_inventory_find(inv, a->ref.group, a->ref.kind, a->ref.ns, a->ref.name);
        if (l == NULL) {
            a->type = SL_ACT_CREATE;
            plan->ncreate++;
            continue;
        }
        a->live = json_incref(l);
        {
            const char *known = at >= 0 ? inv->items[at].digest : NULL;
            bool same =
                    sl_plan_compare(o->json, l, opts->field_manager, a->reason, sizeof(a->reason));
            if (shared != NULL && same) {
                a->type = SL_ACT_UNCHANGED;
                snprintf(a->reason, sizeof(a->reason), "shared, owned by environment %s", shared);
                plan->nunchanged++;
            } else if (shared != NULL) {
                char diffat[256];
                memcpy(diffat, a->reason, sizeof(diffat));
                a->type = SL_ACT_SHARED;
                reasonf(a->reason, sizeof(a->reason),
                        "owned by environment %s, which renders it differently (%s): not applied",
                        shared, diffat);
                plan->nshared++;
            } else if (known != NULL && strcmp(known, digest) != 0) {
                a->type = SL_ACT_UPDATE;
                snprintf(a->reason, sizeof(a->reason), "changed in git");
                plan->nupdate++;
            } else if (same) {
                a->type = SL_ACT_UNCHANGED;
                plan->nunchanged++;
            } else if (known != NULL) {
                a->type = SL_ACT_DRIFT;
                plan->ndrift++;
            } else {
                a->type = SL_ACT_UPDATE;
                plan->nupdate++;
            }
        }
    }
    /* inventory entries that left git */
    for (i = 0; i < inv->n; i++) {
        const struct sl_ref *r = &inv->items[i];
        struct sl_action *a;
        char key[768];
        json_t *l;

        ref_key(r, key, sizeof(key));
        if (json_object_get(desired_idx, key) != NULL)
            continue;
        a = plan_push(plan, err);
        if (a == NULL || ref_copy_from(&a->ref, r, err) != 0) {
            if (a != NULL)
                plan->n--;
            goto done;
        }
        free(a->ref.digest);
        a->ref.digest = NULL;
        a->stage = sl_kind_stage(r->kind);
        a->secret = strcmp(r->kind, "Secret") == 0;
        l = json_object_get(live_idx, key);
        if (l == NULL) {
            a->type = SL_ACT_GONE;
            plan->ngone++;
            continue;
        }
        a->live = json_incref(l);
        {
            const json_t *md = json_object_get(l, "metadata");
            const char *keep = json_string_value(
                    json_object_get(json_object_get(md, "annotations"), SL_ANNOT_PRUNE));
            const char *klabel = json_string_value(
                    json_object_get(json_object_get(md, "labels"), SL_ANNOT_PRUNE));
            a->type = SL_ACT_KEEP;
            if (!opts->prune)
                snprintf(a->reason, sizeof(a->reason), "pruning disabled for this environment");
            else if (!sl_owned_by(l, opts->agent, opts->env))
                snprintf(a->reason, sizeof(a->reason),
                         "no sluice owner labels for this agent "
                         "and environment");
            else if ((keep != NULL && strcmp(keep, "disabled") == 0) ||
                     (klabel != NULL && strcmp(klabel, "disabled") == 0))
                snprintf(a->reason, sizeof(a->reason), SL_ANNOT_PRUNE ": disabled");
            else if (json_object_get(md, "deletionTimestamp") != NULL)
                snprintf(a->reason, sizeof(a->reason), "already being deleted");
            else {
                a->type = SL_ACT_PRUNE;
                json_object_set_new(prune_idx, key, json_true());
            }
        }
    }
    /* a Namespace is pruned only when nothing else lives in it */
    for (i = 0; i < plan->n; i++) {
        struct sl_action *a = &plan->items[i];
        if (a->type == SL_ACT_PRUNE && a->ref.group[0] == '\0' &&
            strcmp(a->ref.kind, "Namespace") == 0 &&
            !namespace_prunable(a->ref.name, plan, prune_idx, opts, a->reason, sizeof(a->reason)))
            a->type = SL_ACT_KEEP;
    }
    for (i = 0; i < plan->n; i++) {
        if (plan->items[i].type == SL_ACT_PRUNE)
            plan->nprune++;
        else if (plan->items[i].type == SL_ACT_KEEP)
            plan->nkeep++;
    }
    if (plan->n > 1)
        qsort(plan->items, plan->n, sizeof(plan->items[0]), cmp_actions);
    if (sl_set_digest(desired, plan->digest, err) != 0)
        goto done;
    rc = 0;
done:
    if (rc != 0)
        sl_plan_release(plan);
    json_decref(live_idx);
    json_decref(desired_idx);
    json_decref(prune_idx);
    return rc;
}
