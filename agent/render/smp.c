/*
 * Strategic merge (kyaml merge2 as kustomize uses it) and JSON 6902.
 *
 * Lists of known Kubernetes kinds merge by the schema's merge key
 * (containers/env/volumes by name, container ports by containerPort,
 * Service ports by port, volumeMounts by mountPath, ...); elements named
 * in the patch come first, in patch order, then the remaining originals.
 * Other lists, and every list of a kind without schema, are replaced.
 * `null` deletes a field; `$patch: delete|replace` are honoured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render_int.h"

struct smpctx {
    const char *kind;
    bool schema;
    struct sl_error *err;
    size_t depth;
};

static const char *merge_key(const struct smpctx *c, const char *field, const char *parent)
{
    if (!c->schema)
        return NULL;
    if (strcmp(field, "containers") == 0 || strcmp(field, "initContainers") == 0 ||
        strcmp(field, "ephemeralContainers") == 0 || strcmp(field, "env") == 0 ||
        strcmp(field, "volumes") == 0 || strcmp(field, "imagePullSecrets") == 0 ||
        strcmp(field, "resourceClaims") == 0 ||
        (strcmp(field, "secrets") == 0 && strcmp(c->kind, "ServiceAccount") == 0) ||
        strcmp(field, "webhooks") == 0)
        return "name";
    if (strcmp(field, "volumeMounts") == 0)
        return "mountPath";
    if (strcmp(field, "volumeDevices") == 0)
        return "devicePath";
    if (strcmp(field, "hostAliases") == 0)
        return "ip";
    if (strcmp(field, "topologySpreadConstraints") == 0)
        return "topologyKey";
    if (strcmp(field, "ownerReferences") == 0)
        return "uid";
    if (strcmp(field, "conditions") == 0)
        return "type";
    if (strcmp(field, "readinessGates") == 0)
        return "conditionType";
    if (strcmp(field, "ports") == 0) {
        if (strcmp(c->kind, "Service") == 0 && parent != NULL && strcmp(parent, "spec") == 0)
            return "port";
        return "containerPort";
    }
    return NULL;
}

static bool primitive_merge(const struct smpctx *c, const char *field)
{
    return c->schema && strcmp(field, "finalizers") == 0;
}

/* A deep copy of a patch value with directives and nulls-in-maps removed. */
static json_t *clean(const json_t *v)
{
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        if (o == NULL)
            return NULL;
        json_object_foreach(unconst(v), k, x)
        {
            if (k[0] == '$')
                continue;
            if (json_is_null(x))
                continue;
            json_t *cx = clean(x);
            if (cx == NULL || json_object_set_new(o, k, cx) != 0) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        if (a == NULL)
            return NULL;
        json_array_foreach(v, i, x)
        {
            if (json_is_object(x) && json_is_string(json_object_get(x, "$patch")) &&
                json_object_size(x) == 1)
                continue;
            json_t *cx = clean(x);
            if (cx == NULL || json_array_append_new(a, cx) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    /* Scalars are never changed in place, so the patch's own value can be shared. */
    return json_incref(unconst(v));
}

static json_t *merge_value(struct smpctx *c, const json_t *dst, const json_t *patch,
                           const char *field, const char *parent, bool *deleted);

static const char *directive(const json_t *v)
{
    return json_string_value(json_object_get(v, "$patch"));
}

static json_t *merge_map(struct smpctx *c, const json_t *dst, const json_t *patch,
                         const char *field, bool *deleted)
{
    const char *d = directive(patch);
    const char *k;
    json_t *pv, *out;

    *deleted = false;
    if (d != NULL && strcmp(d, "delete") == 0) {
        *deleted = true;
        return NULL;
    }
    if ((d != NULL && strcmp(d, "replace") == 0) || !json_is_object(dst))
        return clean(patch);
    /* Shallow: untouched children move to the result (dst is dropped after the merge). */
    out = json_copy(unconst(dst));
    if (out == NULL)
        return NULL;
    json_object_foreach(unconst(patch), k, pv)
    {
        if (k[0] == '$')
            continue;
        if (json_is_null(pv)) {
            json_object_del(out, k);
            continue;
        }
        bool del = false;
        json_t *nv = merge_value(c, json_object_get(out, k), pv, k, field, &del);
        if (c->err->code != SL_OK) {
            json_decref(out);
            return NULL;
        }
        if (del) {
            json_object_del(out, k);
            continue;
        }
        if (nv == NULL || json_object_set_new(out, k, nv) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static bool key_equal(const json_t *a, const json_t *b)
{
    return a != NULL && b != NULL && json_equal(a, b);
}

static json_t *merge_keyed_list(struct smpctx *c, const json_t *dst, const json_t *patch,
                                const char *key, const char *field)
{
    size_t np = json_array_size(patch), nd = json_array_size(dst);
    json_t *out = json_array();
    bool *used = calloc(nd ? nd : 1, sizeof(bool));
    size_t i;
    json_t *pi;

    if (out == NULL || used == NULL)
        goto fail;
    /* {$patch: replace} as an element replaces the whole list */
    json_array_foreach(patch, i, pi)
    {
        if (json_is_object(pi) && json_object_get(pi, key) == NULL && directive(pi) != NULL &&
            strcmp(directive(pi), "replace") == 0) {
            free(used);
            json_decref(out);
            return clean(patch);
        }
    }
    for (i = 0; i < np; i++) {
        pi = json_array_get(patch, i);
        const json_t *kv = json_is_object(pi) ? json_object_get(pi, key) : NULL;
        const json_t *match = NULL;
        if (kv != NULL) {
            for (size_t j = 0; j < nd; j++) {
                const json_t *di = json_array_get(dst, j);
                if (!used[j] && json_is_object(di) && key_equal(json_object_get(di, key), kv)) {
                    match = di;
                    used[j] = true;
                    break;
                }
            }
        }
        const char *d = json_is_object(pi) ? directive(pi) : NULL;
        if (d != NULL && strcmp(d, "delete") == 0)
            continue;
        json_t *nv;
        if (match != NULL && json_is_object(pi)) {
            bool del = false;
            /* $patch: replace inside a keyed element is ignored, as in kyaml */
            json_t *pcopy = json_copy(unconst(pi));
            if (pcopy == NULL)
                goto fail;
            json_object_del(pcopy, "$patch");
            nv = merge_map(c, match, pcopy, field, &del);
            json_decref(pcopy);
            if (del)
                continue;
        } else {
            nv = clean(pi);
        }
        if (nv == NULL || json_array_append_new(out, nv) != 0)
            goto fail;
    }
    for (size_t j = 0; j < nd; j++) {
        if (!used[j] && json_array_append(out, json_array_get(dst, j)) != 0)
            goto fail;
    }
    free(used);
    return out;
fail:
    free(used);
    json_decref(out);
    if (c->err->code == SL_OK)
        sl_error_set(c->err, SL_ENOMEM, "out of memory");
    return NULL;
}

static json_t *merge_value(struct smpctx *c, const json_t *dst, const json_t *patch,
                           const char *field, const char *parent, bool *deleted)
{
    *deleted = false;
    if (++c->depth > 200) {
        sl_error_set(c->err, SL_ETOOLARGE, "patch nested too deeply");
        return NULL;
    }
    json_t *out = NULL;
    if (json_is_object(patch)) {
        out = merge_map(c, dst, patch, field, deleted);
    } else if (json_is_array(patch) && json_is_array(dst)) {
        const char *key = merge_key(c, field, parent);
        if (key != NULL) {
            out = merge_keyed_list(c, dst, patch, key, field);
        } else if (primitive_merge(c, field)) {
            size_t i;
            json_t *x;
            out = clean(patch);
            json_array_foreach(dst, i, x)
            {
                bool seen = false;
                for (size_t j = 0; j < json_array_size(out); j++)
                    if (json_equal(json_array_get(out, j), x))
                        seen = true;
                if (!seen && out != NULL)
                    json_array_append(out, x);
            }
        } else {
            out = clean(patch);
        }
    } else {
        out = clean(patch);
    }
    c->depth--;
    return out;
}

int smp_apply(json_t **dst, const json_t *patch, const char *kind, bool schema, bool *deleted,
              struct sl_error *err)
{
    struct smpctx c = {kind, schema, err, 0};
    json_t *out;
    *deleted = false;
    out = merge_map(&c, *dst, patch, "", deleted);
    if (*deleted)
        return 0;
    if (out == NULL) {
        if (err->code == SL_OK)
            sl_error_set(err, SL_ENOMEM, "out of memory");
        return -1;
    }
    json_decref(*dst);
    *dst = out;
    return 0;
}

/* ---------------- JSON 6902 ---------------- */

static int ptr_tokens(const char *ptr, char ***toks_out, size_t *n_out, struct sl_error *err)
{
    char **toks = NULL;
    size_t n = 0;
    const char *p = ptr;
    if (*p == '\0') {
        *toks_out = NULL;
        *n_out = 0;
        return 0;
    }
    if (*p != '/')
        return sl_error_set(err, SL_EINVAL, "JSON pointer \"%s\" must start with /", ptr);
    while (*p == '/') {
        const char *s = ++p;
        while (*p && *p != '/')
            p++;
        char *t = malloc((size_t)(p - s) + 1), *w;
        char **nt = realloc(toks, (n + 1) * sizeof(*toks));
        if (t == NULL || nt == NULL) {
            free(t);
            if (nt)
                toks = nt;
            for (size_t i = 0; i < n; i++)
                free(toks[i]);
            free(toks);
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        }
        toks = nt;
        w = t;
        for (const char *q = s; q < p; q++) {
            if (*q == '~' && q + 1 < p && q[1] == '0') {
                *w++ = '~';
                q++;
            } else if (*q == '~' && q + 1 < p && q[1] == '1') {
                *w++ = '/';
                q++;
            } else {
                *w++ = *q;
            }
        }
        *w = '\0';
        toks[n++] = t;
    }
    *toks_out = toks;
    *n_out = n;
    return 0;
}

static void toks_free(char **t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(t[i]);
    free(t);
}

static bool parse_index(const char *s, size_t *out)
{
    char *end;
    if (*s == '\0' || (s[0] == '0' && s[1] != '\0') || *s == '-' || *s == '+')
        return false;
    unsigned long v = strtoul(s, &end, 10);
    if (*end != '\0')
        return false;
    *out = v;
    return true;
}

/* Find the parent container of the pointer's last token. */
static json_t *resolve_parent(json_t *doc, char **toks, size_t n)
{
    json_t *cur = doc;
    for (size_t i = 0; i + 1 < n; i++) {
        size_t idx;
        if (json_is_object(cur))
            cur = json_object_get(cur, toks[i]);
        else if (json_is_array(cur) && parse_index(toks[i], &idx))
            cur = json_array_get(cur, idx);
        else
            return NULL;
        if (cur == NULL)
            return NULL;
    }
    return cur;
}

static json_t *get_ptr(json_t *doc, const char *ptr, struct sl_error *err, bool *bad)
{
    char **toks;
    size_t n;
    *bad = false;
    if (ptr_tokens(ptr, &toks, &n, err) != 0) {
        *bad = true;
        return NULL;
    }
    if (n == 0)
        return doc;
    json_t *parent = resolve_parent(doc, toks, n), *v = NULL;
    size_t idx;
    if (json_is_object(parent))
        v = json_object_get(parent, toks[n - 1]);
    else if (json_is_array(parent) && parse_index(toks[n - 1], &idx))
        v = json_array_get(parent, idx);
    toks_free(toks, n);
    return v;
}

static int op_remove(json_t *doc, const char *path, json_t **removed, struct sl_error *err)
{
    char **toks;
    size_t n, idx;
    int rc = -1;
    if (ptr_tokens(path, &toks, &n, err) != 0)
        return -1;
    json_t *parent = n ? resolve_parent(doc, toks, n) : NULL;
    if (json_is_object(parent) && json_object_get(parent, toks[n - 1]) != NULL) {
        if (removed)
            *removed = json_incref(json_object_get(parent, toks[n - 1]));
        json_object_del(parent, toks[n - 1]);
        rc = 0;
    } else if (json_is_array(parent) && parse_index(toks[n - 1], &idx) &&
               idx < json_array_size(parent)) {
        if (removed)
            *removed = json_incref(json_array_get(parent, idx));
        json_array_remove(parent, idx);
        rc = 0;
    } else {
        sl_error_set(err, SL_EINVAL, "remove: path %s does not exist", path);
    }
    toks_free(toks, n);
    return rc;
}

static int op_add(json_t **doc, const char *path, json_t *value, bool replace, struct sl_error *err)
{
    char **toks;
    size_t n, idx;
    int rc = -1;
    if (ptr_tokens(path, &toks, &n, err) != 0) {
        json_decref(value);
        return -1;
    }
    if (n == 0) {
        json_decref(*doc);
        *doc = value;
        return 0;
    }
    json_t *parent = resolve_parent(*doc, toks, n);
    const char *last = toks[n - 1];
    if (json_is_object(parent)) {
        if (replace && json_object_get(parent, last) == NULL) {
            sl_error_set(err, SL_EINVAL, "replace: path %s does not exist", path);
            json_decref(value);
        } else {
            rc = json_object_set_new(parent, last, value);
        }
    } else if (json_is_array(parent)) {
        size_t sz = json_array_size(parent);
        if (strcmp(last, "-") == 0 && !replace) {
            rc = json_array_append_new(parent, value);
        } else if (parse_index(last, &idx) && (replace ? idx < sz : idx <= sz)) {
            rc = replace ? json_array_set_new(parent, idx, value)
                         : json_array_insert_new(parent, idx, value);
        } else {
            sl_error_set(err, SL_EINVAL, "%s: index %s out of range in %s",
                         replace ? "replace" : "add", last, path);
            json_decref(value);
        }
    } else {
        sl_error_set(err, SL_EINVAL, "%s: parent of %s does not exist", replace ? "replace" : "add",
                     path);
        json_decref(value);
    }
    toks_free(toks, n);
    return rc;
}

int jsonpatch_apply(json_t **doc, const json_t *ops, const char *name, struct sl_error *err)
{
    size_t i;
    json_t *op;
    if (!json_is_array(ops))
        return sl_error_set(err, SL_EINVAL, "%s: a JSON patch must be a list of operations", name);
    json_array_foreach(ops, i, op)
    {
        const char *o = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        const char *from = json_string_value(json_object_get(op, "from"));
        json_t *value = json_object_get(op, "value");
        bool bad;
        if (o == NULL || path == NULL)
            return sl_error_set(err, SL_EINVAL, "%s: operation %zu needs op and path", name, i);
        if (strcmp(o, "add") == 0 || strcmp(o, "replace") == 0) {
            if (value == NULL)
                return sl_error_set(err, SL_EINVAL, "%s: %s at %s needs a value", name, o, path);
            if (op_add(doc, path, json_deep_copy(value), strcmp(o, "replace") == 0, err) != 0)
                return sl_error_wrap(err, "%s", name);
        } else if (strcmp(o, "remove") == 0) {
            if (op_remove(*doc, path, NULL, err) != 0)
                return sl_error_wrap(err, "%s", name);
        } else if (strcmp(o, "move") == 0 || strcmp(o, "copy") == 0) {
            json_t *v = NULL;
            if (from == NULL)
                return sl_error_set(err, SL_EINVAL, "%s: %s needs from", name, o);
            if (strcmp(o, "move") == 0) {
                if (op_remove(*doc, from, &v, err) != 0)
                    return sl_error_wrap(err, "%s", name);
            } else {
                json_t *src = get_ptr(*doc, from, err, &bad);
                if (bad)
                    return -1;
                if (src == NULL)
                    return sl_error_set(err, SL_EINVAL, "%s: copy: from %s does not exist", name,
                                        from);
                v = json_deep_copy(src);
            }
            if (op_add(doc, path, v, false, err) != 0)
                return sl_error_wrap(err, "%s", name);
        } else if (strcmp(o, "test") == 0) {
            json_t *cur = get_ptr(*doc, path, err, &bad);
            if (bad)
                return -1;
            if (cur == NULL || value == NULL || !json_equal(cur, value))
                return sl_error_set(err, SL_EINVAL, "%s: test failed at %s", name, path);
        } else {
            return sl_error_set(err, SL_EINVAL, "%s: unknown JSON patch op \"%s\"", name, o);
        }
    }
    return 0;
}
