/*
 * Managed fields and the write algebra of the apiserver: server-side apply
 * (ownership, conflicts, removal of fields a manager stopped sending),
 * Update-operation ownership transfer, JSON merge patch (RFC 7386),
 * strategic merge patch (the subset kubectl sends) and JSON patch (RFC 6902).
 *
 * A field set is kept in the wire format (FieldsV1): a tree of objects with
 * "f:<name>" members, "k:<json key>" for items of associative lists and "."
 * for "the list item itself". An empty object is an owned leaf. Lists are
 * associative only for built-in kinds, with the merge keys of the real
 * schema; every other list is atomic, as for a CRD without a schema.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kubesim.h"

static const char *const keys_name[] = {"name", NULL};
static const char *const keys_mount[] = {"mountPath", NULL};
static const char *const keys_device[] = {"devicePath", NULL};
static const char *const keys_type[] = {"type", NULL};
static const char *const keys_uid[] = {"uid", NULL};
static const char *const keys_ip[] = {"ip", NULL};
static const char *const keys_cport[] = {"containerPort", "protocol", NULL};
static const char *const keys_sport[] = {"port", "protocol", NULL};
static const char *const keys_gate[] = {"conditionType", NULL};
static const char *const keys_topo[] = {"topologyKey", "whenUnsatisfiable", NULL};

const char *const *ks_list_keys(const char *field, const json_t *arr, bool builtin)
{
    if (!builtin || !field || !json_is_array(arr))
        return NULL;
    /* Lists of scalars and lists holding non-objects are atomic. */
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it)
    {
        if (!json_is_object(it))
            return NULL;
    }
    static const char *const named[] = {"containers", "initContainers", "ephemeralContainers",
                                        "env",        "volumes",        "imagePullSecrets",
                                        "versions",   "resourceClaims", NULL};
    for (size_t k = 0; named[k]; k++) {
        if (strcmp(field, named[k]) == 0)
            return keys_name;
    }
    if (strcmp(field, "volumeMounts") == 0)
        return keys_mount;
    if (strcmp(field, "volumeDevices") == 0)
        return keys_device;
    if (strcmp(field, "conditions") == 0)
        return keys_type;
    if (strcmp(field, "ownerReferences") == 0)
        return keys_uid;
    if (strcmp(field, "hostAliases") == 0)
        return keys_ip;
    if (strcmp(field, "readinessGates") == 0)
        return keys_gate;
    if (strcmp(field, "topologySpreadConstraints") == 0)
        return keys_topo;
    if (strcmp(field, "ports") == 0) {
        json_t *first = json_array_get(arr, 0);
        if (!first)
            return keys_sport;
        if (json_object_get(first, "containerPort"))
            return keys_cport;
        if (json_object_get(first, "port"))
            return keys_sport;
    }
    return NULL;
}

/* Key field of an item, with the schema default for protocol. */
static json_t *item_key_field(const json_t *item, const char *k)
{
    json_t *v = json_object_get(item, k);
    if (!v && strcmp(k, "protocol") == 0)
        return json_string("TCP");
    return v ? json_incref(v) : NULL;
}

static char *item_key(const json_t *item, const char *const *keys)
{
    json_t *ko = json_object();
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = item_key_field(item, keys[i]);
        if (v)
            json_object_set_new(ko, keys[i], v);
    }
    char *s = json_dumps(ko, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(ko);
    return s;
}

static bool item_matches(const json_t *item, const json_t *keyobj)
{
    if (!json_is_object(item))
        return false;
    const char *k;
    json_t *v;
    json_object_foreach(ks_mut(keyobj), k, v)
    {
        json_t *iv = item_key_field(item, k);
        bool eq = iv && json_equal(iv, v);
        json_decref(iv);
        if (!eq)
            return false;
    }
    return true;
}

static long find_item(const json_t *arr, const json_t *item, const char *const *keys)
{
    char *want = item_key(item, keys);
    long found = -1;
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it)
    {
        if (!json_is_object(it))
            continue;
        char *have = item_key(it, keys);
        bool eq = want && have && strcmp(want, have) == 0;
        free(have);
        if (eq) {
            found = (long)i;
            break;
        }
    }
    free(want);
    return found;
}

/* metadata.finalizers is a set (listType=set) for every kind: items are owned one by one. */
static bool is_set_list(const char *field, const json_t *arr)
{
    if (!field || strcmp(field, "finalizers") != 0 || !json_is_array(arr))
        return false;
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it)
    {
        if (!json_is_string(it))
            return false;
    }
    return true;
}

static void merge_set(json_t *dst, const json_t *src)
{
    size_t i, j;
    json_t *it, *have;
    json_array_foreach(src, i, it)
    {
        bool found = false;
        json_array_foreach(dst, j, have)
        {
            if (json_equal(have, it))
                found = true;
        }
        if (!found)
            json_array_append(dst, it);
    }
}

static json_t *fs_value(const json_t *v, const char *field, bool builtin)
{
    json_t *fs = json_object();
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(ks_mut(v), k, c)
        {
            if (json_is_null(c))
                continue;
            char name[512];
            snprintf(name, sizeof name, "f:%s", k);
            json_object_set_new(fs, name, fs_value(c, k, builtin));
        }
    } else if (is_set_list(field, v)) {
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it)
        {
            char *vs = json_dumps(it, JSON_ENCODE_ANY | JSON_COMPACT);
            size_t n = vs ? strlen(vs) + 3 : 0;
            char *name = n ? malloc(n) : NULL;
            if (name) {
                snprintf(name, n, "v:%s", vs);
                json_object_set_new(fs, name, json_object());
            }
            free(name);
            free(vs);
        }
    } else if (json_is_array(v)) {
        const char *const *keys = ks_list_keys(field, v, builtin);
        if (keys) {
            size_t i;
            json_t *it;
            json_array_foreach(v, i, it)
            {
                char *ks = item_key(it, keys);
                if (!ks)
                    continue;
                size_t n = strlen(ks) + 3;
                char *name = malloc(n);
                if (name) {
                    snprintf(name, n, "k:%s", ks);
                    json_t *sub = fs_value(it, NULL, builtin);
                    json_object_set_new(sub, ".", json_object());
                    json_object_set_new(fs, name, sub);
                    free(name);
                }
                free(ks);
            }
        }
    }
    return fs;
}

static bool skip_meta(const char *k)
{
    static const char *const skip[] = {"name",
                                       "namespace",
                                       "uid",
                                       "resourceVersion",
                                       "generation",
                                       "creationTimestamp",
                                       "managedFields",
                                       "selfLink",
                                       "deletionTimestamp",
                                       "deletionGracePeriodSeconds",
                                       "generateName",
                                       NULL};
    for (size_t i = 0; skip[i]; i++) {
        if (strcmp(k, skip[i]) == 0)
            return true;
    }
    return false;
}

/* mode: main resource (no status), status only, or both. */
static json_t *fieldset_mode(const json_t *obj, bool builtin, int mode)
{
    json_t *fs = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(ks_mut(obj), k, v)
    {
        if (strcmp(k, "apiVersion") == 0 || strcmp(k, "kind") == 0 || json_is_null(v))
            continue;
        bool is_status = strcmp(k, "status") == 0;
        if ((mode == 0 && is_status) || (mode == 1 && !is_status))
            continue;
        char name[512];
        snprintf(name, sizeof name, "f:%s", k);
        if (strcmp(k, "metadata") == 0 && json_is_object(v)) {
            json_t *m = json_object();
            const char *mk;
            json_t *mv;
            json_object_foreach(v, mk, mv)
            {
                if (skip_meta(mk) || json_is_null(mv))
                    continue;
                char mn[512];
                snprintf(mn, sizeof mn, "f:%s", mk);
                json_object_set_new(m, mn, fs_value(mv, mk, builtin));
            }
            if (json_object_size(m) > 0)
                json_object_set_new(fs, name, m);
            else
                json_decref(m);
            continue;
        }
        json_t *sub = fs_value(v, k, builtin);
        if (is_status && json_object_size(sub) == 0) {
            json_decref(sub);
            continue;
        }
        json_object_set_new(fs, name, sub);
    }
    return fs;
}

json_t *ks_fieldset(const json_t *obj, bool builtin, bool status_only)
{
    return fieldset_mode(obj, builtin, status_only ? 1 : 0);
}

/* ---- field-set tree operations ---------------------------------------- */

static void fs_leaves_rec(const json_t *fs, json_t *prefix, json_t *out)
{
    const char *k;
    json_t *v;
    json_object_foreach(ks_mut(fs), k, v)
    {
        json_array_append_new(prefix, json_string(k));
        if (json_object_size(v) == 0) /* path elements are never changed: share them */
            json_array_append_new(out, json_copy(prefix));
        else
            fs_leaves_rec(v, prefix, out);
        json_array_remove(prefix, json_array_size(prefix) - 1);
    }
}

static json_t *fs_leaves(const json_t *fs)
{
    json_t *out = json_array();
    json_t *prefix = json_array();
    if (json_is_object(fs))
        fs_leaves_rec(fs, prefix, out);
    json_decref(prefix);
    return out;
}

/* The leaves of fs under its top-level key (full paths, key first). */
static json_t *fs_leaves_under(const json_t *fs, const char *key)
{
    json_t *out = json_array();
    json_t *sub = json_object_get(fs, key);
    if (!json_is_object(sub))
        return out;
    json_t *prefix = json_pack("[s]", key);
    if (json_object_size(sub) == 0)
        json_array_append(out, prefix);
    else
        fs_leaves_rec(sub, prefix, out);
    json_decref(prefix);
    return out;
}

static json_t *fs_get(const json_t *fs, const json_t *path, size_t len)
{
    const json_t *n = fs;
    for (size_t i = 0; i < len && n; i++)
        n = json_object_get(n, json_string_value(json_array_get(path, i)));
    return ks_mut(n);
}

static void fs_add(json_t *fs, const json_t *path)
{
    json_t *n = fs;
    for (size_t i = 0; i < json_array_size(path); i++) {
        const char *pe = json_string_value(json_array_get(path, i));
        json_t *c = json_object_get(n, pe);
        if (!c) {
            c = json_object();
            json_object_set_new(n, pe, c);
        }
        n = c;
    }
}

static void fs_remove(json_t *fs, const json_t *path)
{
    size_t len = json_array_size(path);
    if (len == 0)
        return;
    json_t *parent = fs_get(fs, path, len - 1);
    if (!parent)
        return;
    json_object_del(parent, json_string_value(json_array_get(path, len - 1)));
    /* Emptied interior nodes would read as owned leaves: prune them. */
    for (size_t l = len - 1; l > 0; l--) {
        json_t *node = fs_get(fs, path, l);
        if (!node || json_object_size(node) > 0)
            break;
        json_t *up = fs_get(fs, path, l - 1);
        json_object_del(up, json_string_value(json_array_get(path, l - 1)));
    }
}

/* ---- object navigation by field path ---------------------------------- */

static json_t *obj_child(const json_t *node, const char *pe, size_t *index_out)
{
    if (!node)
        return NULL;
    if (strncmp(pe, "f:", 2) == 0)
        return json_is_object(node) ? json_object_get(node, pe + 2) : NULL;
    if (!json_is_array(node))
        return NULL;
    json_t *want = json_loads(pe + 2, JSON_DECODE_ANY, NULL);
    json_t *found = NULL;
    if (want) {
        size_t i;
        json_t *it;
        json_array_foreach(node, i, it)
        {
            bool m = false;
            if (strncmp(pe, "k:", 2) == 0)
                m = json_is_object(want) && item_matches(it, want);
            else if (strncmp(pe, "v:", 2) == 0)
                m = json_equal(it, want);
            else if (strncmp(pe, "i:", 2) == 0)
                m = json_is_integer(want) && (size_t)json_integer_value(want) == i;
            if (m) {
                found = it;
                if (index_out)
                    *index_out = i;
                break;
            }
        }
        json_decref(want);
    }
    return found;
}

static json_t *obj_get_prefix(const json_t *obj, const json_t *path, size_t len)
{
    const json_t *n = obj;
    for (size_t i = 0; i < len && n; i++) {
        const char *pe = json_string_value(json_array_get(path, i));
        if (strcmp(pe, ".") == 0)
            continue;
        n = obj_child(n, pe, NULL);
    }
    return ks_mut(n);
}

static json_t *obj_get_path(const json_t *obj, const json_t *path)
{
    return obj_get_prefix(obj, path, json_array_size(path));
}

static void obj_remove_path(json_t *obj, const json_t *path, size_t len)
{
    if (len == 0)
        return;
    const char *last = json_string_value(json_array_get(path, len - 1));
    if (strcmp(last, ".") == 0) {
        obj_remove_path(obj, path, len - 1);
        return;
    }
    json_t *parent = obj;
    for (size_t i = 0; i + 1 < len && parent; i++) {
        const char *pe = json_string_value(json_array_get(path, i));
        if (strcmp(pe, ".") != 0)
            parent = obj_child(parent, pe, NULL);
    }
    if (!parent)
        return;
    if (strncmp(last, "f:", 2) == 0) {
        if (json_is_object(parent))
            json_object_del(parent, last + 2);
        return;
    }
    size_t idx = 0;
    if (obj_child(parent, last, &idx))
        json_array_remove(parent, idx);
}

char *ks_path_string(const json_t *path)
{
    char buf[1024];
    size_t off = 0;
    buf[0] = 0;
    for (size_t i = 0; i < json_array_size(path); i++) {
        const char *pe = json_string_value(json_array_get(path, i));
        int n = 0;
        if (strncmp(pe, "f:", 2) == 0) {
            n = snprintf(buf + off, sizeof buf - off, ".%s", pe + 2);
        } else if (strncmp(pe, "k:", 2) == 0) {
            json_t *ko = json_loads(pe + 2, 0, NULL);
            n = snprintf(buf + off, sizeof buf - off, "[");
            const char *k;
            json_t *v;
            bool first = true;
            json_object_foreach(ko, k, v)
            {
                if (off + (size_t)n >= sizeof buf)
                    break;
                char *vs = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                n += snprintf(buf + off + n, sizeof buf - off - n, "%s%s=%s", first ? "" : ",", k,
                              vs ? vs : "?");
                free(vs);
                first = false;
            }
            if (off + (size_t)n < sizeof buf)
                n += snprintf(buf + off + n, sizeof buf - off - n, "]");
            json_decref(ko);
        } else if (strncmp(pe, "v:", 2) == 0 || strncmp(pe, "i:", 2) == 0) {
            n = snprintf(buf + off, sizeof buf - off, "[%s]", pe + 2);
        }
        if (n < 0 || off + (size_t)n >= sizeof buf)
            break;
        off += (size_t)n;
    }
    return strdup(buf);
}

/* ---- merging ----------------------------------------------------------- */

static void drop_nulls(json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, c)
        {
            if (json_is_null(c))
                json_object_del(v, k);
            else
                drop_nulls(c);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) drop_nulls(c);
    }
}

static void apply_merge(json_t *dst, const json_t *src, bool builtin);

static void merge_list(json_t *dst, const json_t *src, const char *const *keys, bool builtin)
{
    size_t i;
    json_t *it;
    json_array_foreach(src, i, it)
    {
        long at = find_item(dst, it, keys);
        if (at >= 0)
            apply_merge(json_array_get(dst, (size_t)at), it, builtin);
        else
            json_array_append(dst, it); /* src is ks_apply's private copy: share */
    }
}

static void apply_merge(json_t *dst, const json_t *src, bool builtin)
{
    const char *k;
    json_t *v;
    json_object_foreach(ks_mut(src), k, v)
    {
        json_t *d = json_object_get(dst, k);
        const char *const *keys = NULL;
        if (json_is_object(v) && json_is_object(d))
            apply_merge(d, v, builtin);
        else if (is_set_list(k, v) && json_is_array(d))
            merge_set(d, v);
        else if (json_is_array(v) && json_is_array(d) &&
                 (keys = ks_list_keys(k, v, builtin)) != NULL)
            merge_list(d, v, keys, builtin);
        else
            json_object_set(dst, k, v); /* src is ks_apply's private copy: share */
    }
}

static json_t *managed_entry(const char *manager, const char *op, const char *api_version,
                             const char *subresource, json_t *fields)
{
    char now[40];
    ks_now_rfc3339(now, sizeof now);
    json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:s,s:O}", "manager", manager, "operation", op,
                          "apiVersion", api_version, "time", now, "fieldsType", "FieldsV1",
                          "fieldsV1", fields);
    if (subresource && *subresource)
        json_object_set_new(e, "subresource", json_string(subresource));
    return e;
}

static bool entry_is(const json_t *e, const char *manager, const char *op, const char *sub)
{
    const char *esub = json_string_value(json_object_get(e, "subresource"));
    return strcmp(json_string_value(json_object_get(e, "manager")) ?: "", manager) == 0 &&
           strcmp(json_string_value(json_object_get(e, "operation")) ?: "", op) == 0 &&
           strcmp(esub ? esub : "", sub ? sub : "") == 0;
}

static void set_managed(json_t *obj, json_t *mf)
{
    json_t *meta = json_object_get(obj, "metadata");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(obj, "metadata", meta);
    }
    /* Entries that own nothing disappear, as in the real server. */
    size_t i = 0;
    while (i < json_array_size(mf)) {
        json_t *f = json_object_get(json_array_get(mf, i), "fieldsV1");
        if (json_object_size(f) == 0)
            json_array_remove(mf, i);
        else
            i++;
    }
    if (json_array_size(mf) > 0)
        json_object_set(meta, "managedFields", mf);
    else
        json_object_del(meta, "managedFields");
}

int ks_apply(const json_t *live, const json_t *applied, const char *manager, bool force,
             bool builtin, const char *api_version, json_t **out, json_t **conflicts)
{
    *out = NULL;
    *conflicts = NULL;
    json_t *A = json_deep_copy(applied);
    json_object_del(A, "status");
    json_t *am = json_object_get(A, "metadata");
    if (json_is_object(am)) {
        json_object_del(am, "managedFields");
        json_object_del(am, "resourceVersion");
        json_object_del(am, "uid");
        json_object_del(am, "creationTimestamp");
        json_object_del(am, "generation");
    }
    drop_nulls(A);
    json_t *SA = ks_fieldset(A, builtin, false);
    json_t *lmf = live ? json_object_get(json_object_get(live, "metadata"), "managedFields") : NULL;
    json_t *mf = json_is_array(lmf) ? json_deep_copy(lmf) : json_array();
    long idx = -1;
    size_t i;
    json_t *e;
    json_array_foreach(mf, i, e)
    {
        if (entry_is(e, manager, "Apply", ""))
            idx = (long)i;
    }
    json_t *prev = idx >= 0 ? json_object_get(json_array_get(mf, (size_t)idx), "fieldsV1") : NULL;

    json_t *confl = json_array();
    json_array_foreach(mf, i, e)
    {
        if ((long)i == idx)
            continue;
        json_t *leaves = fs_leaves(json_object_get(e, "fieldsV1"));
        size_t j;
        json_t *p;
        json_array_foreach(leaves, j, p)
        {
            const char *last = json_string_value(json_array_get(p, json_array_size(p) - 1));
            json_t *mine = fs_get(SA, p, json_array_size(p));
            /* Only the same leaf conflicts: an empty map owned by one manager
             * does not conflict with keys inside it set by another. */
            if (strcmp(last, ".") == 0 || !mine || json_object_size(mine) > 0)
                continue;
            json_t *lv = obj_get_path(live, p);
            json_t *av = obj_get_path(A, p);
            if (lv && av && json_equal(lv, av))
                continue;
            char *ps = ks_path_string(p);
            json_array_append_new(confl,
                                  json_pack("{s:s,s:s,s:O,s:i}", "manager",
                                            json_string_value(json_object_get(e, "manager")) ?: "",
                                            "field", ps ? ps : "", "path", p, "entry", (int)i));
            free(ps);
        }
        json_decref(leaves);
    }
    if (json_array_size(confl) > 0 && !force) {
        *conflicts = confl;
        json_decref(A);
        json_decref(SA);
        json_decref(mf);
        return 409;
    }
    json_array_foreach(confl, i, e)
    {
        json_t *entry = json_array_get(mf, (size_t)json_integer_value(json_object_get(e, "entry")));
        fs_remove(json_object_get(entry, "fieldsV1"), json_object_get(e, "path"));
    }
    json_decref(confl);

    json_t *obj = live ? json_deep_copy(live) : json_object();
    if (prev) {
        json_t *leaves = fs_leaves(prev);
        /* Whole list items first: removing an item's key field first would
         * leave the item unaddressable. */
        json_t *items = json_array(), *fields = json_array();
        size_t j;
        json_t *p;
        json_array_foreach(leaves, j, p)
        {
            const char *last = json_string_value(json_array_get(p, json_array_size(p) - 1));
            json_array_append(strcmp(last, ".") == 0 ? items : fields, p);
        }
        json_array_clear(leaves);
        json_array_extend(leaves, items);
        json_array_extend(leaves, fields);
        json_decref(items);
        json_decref(fields);
        json_array_foreach(leaves, j, p)
        {
            size_t plen = json_array_size(p);
            if (fs_get(SA, p, plen))
                continue;
            const char *last = json_string_value(json_array_get(p, plen - 1));
            bool item = strcmp(last, ".") == 0;
            bool owned = false;
            size_t m;
            json_t *oe;
            json_array_foreach(mf, m, oe)
            {
                if ((long)m == idx)
                    continue;
                json_t *f = json_object_get(oe, "fieldsV1");
                if (fs_get(f, p, item ? plen - 1 : plen))
                    owned = true;
            }
            /* The applier still sends something inside this list item. */
            if (item && fs_get(SA, p, plen - 1))
                owned = true;
            if (!owned) {
                obj_remove_path(obj, p, plen);
                /* Maps and lists emptied by the removal go too (labels: {} would linger). */
                size_t el = item ? plen - 1 : plen;
                for (size_t l = el - 1; l >= 2; l--) {
                    json_t *node = obj_get_prefix(obj, p, l);
                    bool empty = (json_is_object(node) && json_object_size(node) == 0) ||
                                 (json_is_array(node) && json_array_size(node) == 0);
                    if (!empty)
                        break;
                    obj_remove_path(obj, p, l);
                }
            }
        }
        json_decref(leaves);
    }
    apply_merge(obj, A, builtin);

    if (idx >= 0) {
        json_t *old = json_array_get(mf, (size_t)idx);
        if (!json_equal(json_object_get(old, "fieldsV1"), SA) ||
            strcmp(json_string_value(json_object_get(old, "apiVersion")) ?: "", api_version) != 0)
            json_array_set_new(mf, (size_t)idx,
                               managed_entry(manager, "Apply", api_version, NULL, SA));
    } else {
        json_array_append_new(mf, managed_entry(manager, "Apply", api_version, NULL, SA));
    }
    set_managed(obj, mf);
    json_decref(mf);
    json_decref(SA);
    json_decref(A);
    *out = obj;
    return 0;
}

void ks_update_managed(const json_t *live, json_t *obj, const char *manager,
                       const char *subresource, bool builtin, const char *api_version)
{
    bool status = subresource && strcmp(subresource, "status") == 0;
    /*
     * A status write changes nothing outside status (its callers take the rest from live),
     * so only status fields can be gone or taken over: the field sets are built for status
     * alone, not for the whole object on every status update of every workload.
     */
    json_t *all = fieldset_mode(obj, builtin, status ? 1 : 2);
    json_t *mine = status ? json_incref(all) : fieldset_mode(obj, builtin, 0);
    json_t *changed = json_object();
    json_t *leaves = fs_leaves(mine);
    size_t i;
    json_t *p;
    json_array_foreach(leaves, i, p)
    {
        json_t *lv = obj_get_path(live, p);
        json_t *nv = obj_get_path(obj, p);
        if (!lv || !nv || !json_equal(lv, nv))
            fs_add(changed, p);
    }
    json_decref(leaves);

    json_t *lmf = live ? json_object_get(json_object_get(live, "metadata"), "managedFields") : NULL;
    json_t *mf = json_is_array(lmf) ? json_deep_copy(lmf) : json_array();
    long idx = -1;
    json_t *e;
    json_array_foreach(mf, i, e)
    {
        json_t *f = json_object_get(e, "fieldsV1");
        json_t *el = status ? fs_leaves_under(f, "f:status") : fs_leaves(f);
        size_t j;
        json_array_foreach(el, j, p)
        {
            size_t plen = json_array_size(p);
            /* Gone from the object, or taken over by this write. */
            if (!fs_get(all, p, plen) || fs_get(changed, p, plen))
                fs_remove(f, p);
        }
        json_decref(el);
        if (entry_is(e, manager, "Update", subresource))
            idx = (long)i;
    }
    if (json_object_size(changed) > 0) {
        if (idx >= 0) {
            json_t *f = json_object_get(json_array_get(mf, (size_t)idx), "fieldsV1");
            json_t *cl = fs_leaves(changed);
            json_array_foreach(cl, i, p) fs_add(f, p);
            json_decref(cl);
            json_t *ne = managed_entry(manager, "Update", api_version, subresource, f);
            json_array_set_new(mf, (size_t)idx, ne);
        } else {
            json_array_append_new(
                    mf, managed_entry(manager, "Update", api_version, subresource, changed));
        }
    }
    set_managed(obj, mf);
    json_decref(mf);
    json_decref(changed);
    json_decref(mine);
    json_decref(all);
}

static void strip_times(json_t *obj)
{
    json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
    size_t i;
    json_t *e;
    json_array_foreach(mf, i, e) json_object_del(e, "time");
}

bool ks_equal_ignoring_times(const json_t *a, const json_t *b)
{
    json_t *ca = json_deep_copy(a), *cb = json_deep_copy(b);
    strip_times(ca);
    strip_times(cb);
    bool eq = json_equal(ca, cb);
    json_decref(ca);
    json_decref(cb);
    return eq;
}

/* ---- patches ------------------------------------------------------------ */

json_t *ks_merge_patch(const json_t *target, const json_t *patch)
{
    if (!json_is_object(patch))
        return json_deep_copy(patch);
    json_t *res = json_is_object(target) ? json_deep_copy(target) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach(ks_mut(patch), k, v)
    {
        if (json_is_null(v))
            json_object_del(res, k);
        else
            json_object_set_new(res, k, ks_merge_patch(json_object_get(res, k), v));
    }
    return res;
}

static json_t *strip_directives(const json_t *v)
{
    json_t *c = json_deep_copy(v);
    if (json_is_object(c)) {
        const char *k;
        json_t *x;
        void *tmp;
        json_object_foreach_safe(c, tmp, k, x)
        {
            if (k[0] == '$')
                json_object_del(c, k);
            else
                json_object_set_new(c, k, strip_directives(x));
        }
    } else if (json_is_array(c)) {
        for (size_t i = 0; i < json_array_size(c); i++)
            json_array_set_new(c, i, strip_directives(json_array_get(c, i)));
    }
    return c;
}

int ks_strategic_patch(json_t *target, const json_t *patch, bool builtin, char *err, size_t errlen)
{
    if (!json_is_object(target) || !json_is_object(patch)) {
        snprintf(err, errlen, "strategic merge patch must be an object");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach(ks_mut(patch), k, v)
    {
        if (strncmp(k, "$deleteFromPrimitiveList/", 25) == 0) {
            json_t *lst = json_object_get(target, k + 25);
            size_t i;
            json_t *dv;
            json_array_foreach(v, i, dv)
            {
                for (size_t j = 0; j < json_array_size(lst);) {
                    if (json_equal(json_array_get(lst, j), dv))
                        json_array_remove(lst, j);
                    else
                        j++;
                }
            }
            continue;
        }
        if (k[0] == '$')
            continue; /* $setElementOrder, $retainKeys, $patch on maps */
        json_t *d = json_object_get(target, k);
        const char *const *keys = NULL;
        if (json_is_null(v)) {
            json_object_del(target, k);
        } else if (json_is_object(v)) {
            const char *pd = json_string_value(json_object_get(v, "$patch"));
            if (pd && strcmp(pd, "delete") == 0) {
                json_object_del(target, k);
            } else if ((pd && strcmp(pd, "replace") == 0) || !json_is_object(d)) {
                json_object_set_new(target, k, strip_directives(v));
            } else if (ks_strategic_patch(d, v, builtin, err, errlen) != 0) {
                return -1;
            }
        } else if (is_set_list(k, v) && json_is_array(d)) {
            merge_set(d, v); /* patchStrategy merge on a list of scalars: union */
        } else if (json_is_array(v) && json_is_array(d) &&
                   (keys = ks_list_keys(k, d, builtin)) != NULL) {
            size_t i;
            json_t *it;
            json_array_foreach(v, i, it)
            {
                if (!json_is_object(it))
                    continue;
                const char *pd = json_string_value(json_object_get(it, "$patch"));
                if (pd && strcmp(pd, "replace") == 0) {
                    json_object_set_new(target, k, json_array());
                    d = json_object_get(target, k);
                    continue;
                }
                long at = find_item(d, it, keys);
                if (pd && strcmp(pd, "delete") == 0) {
                    if (at >= 0)
                        json_array_remove(d, (size_t)at);
                } else if (at >= 0) {
                    if (ks_strategic_patch(json_array_get(d, (size_t)at), it, builtin, err,
                                           errlen) != 0)
                        return -1;
                } else {
                    json_array_append_new(d, strip_directives(it));
                }
            }
        } else {
            json_object_set_new(target, k, strip_directives(v));
        }
    }
    return 0;
}

/* RFC 6901 pointer: parent container and last token (unescaped). */
static json_t *pointer_parent(json_t *doc, const char *ptr, char *last, size_t lastlen)
{
    if (ptr[0] != '/')
        return NULL;
    json_t *cur = doc;
    const char *p = ptr + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char tok[512];
        size_t o = 0;
        for (size_t i = 0; i < n && o + 1 < sizeof tok; i++) {
            if (p[i] == '~' && i + 1 < n && (p[i + 1] == '0' || p[i + 1] == '1')) {
                tok[o++] = p[i + 1] == '0' ? '~' : '/';
                i++;
            } else {
                tok[o++] = p[i];
            }
        }
        tok[o] = 0;
        if (!slash) {
            snprintf(last, lastlen, "%s", tok);
            return cur;
        }
        if (json_is_object(cur))
            cur = json_object_get(cur, tok);
        else if (json_is_array(cur))
            cur = json_array_get(cur, strtoul(tok, NULL, 10));
        else
            return NULL;
        if (!cur)
            return NULL;
        p = slash + 1;
    }
}

static json_t *pointer_get(json_t *doc, const char *ptr)
{
    if (ptr[0] == 0)
        return doc;
    char last[512];
    json_t *par = pointer_parent(doc, ptr, last, sizeof last);
    if (json_is_object(par))
        return json_object_get(par, last);
    if (json_is_array(par))
        return json_array_get(par, strtoul(last, NULL, 10));
    return NULL;
}

static int pointer_set(json_t *doc, const char *ptr, json_t *val, bool insert)
{
    char last[512];
    json_t *par = pointer_parent(doc, ptr, last, sizeof last);
    if (json_is_object(par)) {
        if (!insert && !json_object_get(par, last)) {
            json_decref(val);
            return -1;
        }
        return json_object_set_new(par, last, val);
    }
    if (json_is_array(par)) {
        if (strcmp(last, "-") == 0)
            return json_array_append_new(par, val);
        size_t idx = strtoul(last, NULL, 10);
        if (insert)
            return json_array_insert_new(par, idx, val);
        return json_array_set_new(par, idx, val);
    }
    json_decref(val);
    return -1;
}

static int pointer_remove(json_t *doc, const char *ptr)
{
    char last[512];
    json_t *par = pointer_parent(doc, ptr, last, sizeof last);
    if (json_is_object(par))
        return json_object_del(par, last);
    if (json_is_array(par))
        return json_array_remove(par, strtoul(last, NULL, 10));
    return -1;
}

int ks_json_patch(json_t **target, const json_t *patch, char *err, size_t errlen)
{
    if (!json_is_array(patch)) {
        snprintf(err, errlen, "json patch must be an array");
        return -1;
    }
    size_t i;
    json_t *op;
    json_array_foreach(patch, i, op)
    {
        const char *o = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        const char *from = json_string_value(json_object_get(op, "from"));
        json_t *value = json_object_get(op, "value");
        int rc = -1;
        if (!o || !path) {
            snprintf(err, errlen, "json patch operation %zu lacks op or path", i);
            return -1;
        }
        if (strcmp(o, "add") == 0 && value) {
            rc = pointer_set(*target, path, json_deep_copy(value), true);
        } else if (strcmp(o, "replace") == 0 && value) {
            rc = pointer_set(*target, path, json_deep_copy(value), false);
        } else if (strcmp(o, "remove") == 0) {
            rc = pointer_remove(*target, path);
        } else if (strcmp(o, "test") == 0 && value) {
            json_t *cur = pointer_get(*target, path);
            rc = cur && json_equal(cur, value) ? 0 : -1;
        } else if ((strcmp(o, "copy") == 0 || strcmp(o, "move") == 0) && from) {
            json_t *src = pointer_get(*target, from);
            if (src) {
                json_t *c = json_deep_copy(src);
                if (strcmp(o, "move") == 0)
                    pointer_remove(*target, from);
                rc = pointer_set(*target, path, c, true);
            }
        }
        if (rc != 0) {
            snprintf(err, errlen, "json patch operation %zu (%s %s) failed", i, o, path);
            return -1;
        }
    }
    return 0;
}
