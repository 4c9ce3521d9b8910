/*
 * replacements (kustomize api/filters/replacement): copy a field of one
 * source object into fields of selected target objects. Field paths are
 * dot-separated with [key=value] list selectors, numeric list indexes and
 * * wildcards; delimiter/index options replace one part of a string; create
 * makes missing fields. A path that does not exist (without create) is an
 * error, as in kustomize v5.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render_int.h"

struct sel {
    const char *group, *version, *kind, *name, *ns, *labels, *annotations;
};

static void sel_parse(const json_t *j, struct sel *s)
{
    memset(s, 0, sizeof(*s));
    s->group = json_string_value(json_object_get(j, "group"));
    s->version = json_string_value(json_object_get(j, "version"));
    s->kind = json_string_value(json_object_get(j, "kind"));
    s->name = json_string_value(json_object_get(j, "name"));
    s->ns = json_string_value(json_object_get(j, "namespace"));
    s->labels = json_string_value(json_object_get(j, "labelSelector"));
    s->annotations = json_string_value(json_object_get(j, "annotationSelector"));
}

static int rxm(struct render_ctx *c, const char *pat, const char *a, const char *b, bool *m)
{
    bool m1 = false, m2 = false;
    if (pat == NULL || pat[0] == '\0') {
        *m = true;
        return 0;
    }
    if (regex_full_match(c, pat, a, &m1) != 0 || (b && regex_full_match(c, pat, b, &m2) != 0))
        return -1;
    *m = m1 || m2;
    return 0;
}

static int sel_match(struct render_ctx *c, const struct sel *s, const struct res *r, bool *out)
{
    char g[128], v[128];
    bool m;
    *out = false;
    res_group_version(r, g, sizeof(g), v, sizeof(v));
    if (rxm(c, s->group, g, NULL, &m) != 0 || !m)
        return c->err->code ? -1 : 0;
    if (rxm(c, s->version, v, NULL, &m) != 0 || !m)
        return c->err->code ? -1 : 0;
    if (rxm(c, s->kind, res_kind(r), r->orig.kind, &m) != 0 || !m)
        return c->err->code ? -1 : 0;
    if (rxm(c, s->name, res_name(r), r->orig.name, &m) != 0 || !m)
        return c->err->code ? -1 : 0;
    if (rxm(c, s->ns, res_ns(r), r->orig.ns, &m) != 0 || !m)
        return c->err->code ? -1 : 0;
    if (s->labels && s->labels[0]) {
        if (label_selector_match(s->labels,
                                 json_object_get(json_object_get(r->obj, "metadata"), "labels"), &m,
                                 c->err) != 0)
            return -1;
        if (!m)
            return 0;
    }
    if (s->annotations && s->annotations[0]) {
        if (label_selector_match(
                    s->annotations,
                    json_object_get(json_object_get(r->obj, "metadata"), "annotations"), &m,
                    c->err) != 0)
            return -1;
        if (!m)
            return 0;
    }
    *out = true;
    return 0;
}

/* Split a field path into segments; brackets keep their dots. */
static int split_path(const char *fp, char ***segs, size_t *n)
{
    char **v = NULL;
    size_t k = 0;
    const char *p = fp;
    while (*p) {
        const char *s = p;
        size_t len;
        if (*p == '[') {
            const char *e = strchr(p, ']');
            if (e == NULL)
                goto bad;
            len = (size_t)(e - p) + 1;
            p = e + 1;
        } else {
            while (*p && *p != '.' && *p != '[')
                p++;
            len = (size_t)(p - s);
        }
        if (*p == '.')
            p++;
        if (len == 0)
            continue;
        char **nv = realloc(v, (k + 1) * sizeof(*v));
        if (nv == NULL)
            goto bad;
        v = nv;
        if ((v[k] = strndup(s, len)) == NULL)
            goto bad;
        k++;
    }
    *segs = v;
    *n = k;
    return 0;
bad:
    for (size_t i = 0; i < k; i++)
        free(v[i]);
    free(v);
    return -1;
}

static void free_segs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Apply fn at every node the path reaches (creating when asked); counts hits. */
struct walk {
    const json_t *value;
    const char *delim;
    long index;
    bool create;
    size_t hits;
    struct sl_error *err;
};

static int set_leaf(struct walk *w, json_t *parent, const char *key, size_t idx)
{
    json_t *nv;
    json_t *cur = key ? json_object_get(parent, key) : json_array_get(parent, idx);
    if (w->delim != NULL) {
        const char *s = json_string_value(cur);
        const char *val = json_string_value(w->value);
        struct sl_buf b = SL_BUF_INIT(1 << 20);
        long part = 0;
        if (val == NULL)
            return sl_error_set(w->err, SL_EINVAL,
                                "replacements: a delimited target needs a string value");
        if (s == NULL)
            s = "";
        const char *p = s;
        size_t dl = strlen(w->delim);
        bool done = false;
        for (;;) {
            const char *e = dl ? strstr(p, w->delim) : NULL;
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (part > 0)
                sl_buf_puts(&b, w->delim, NULL);
            if (part == w->index) {
                sl_buf_puts(&b, val, NULL);
                done = true;
            } else {
                sl_buf_append(&b, p, len, NULL);
            }
            part++;
            if (e == NULL)
                break;
            p = e + dl;
        }
        if (!done) {
            /* kustomize appends (index past the end) or prepends (negative) */
            if (w->index < 0) {
                struct sl_buf c2 = SL_BUF_INIT(1 << 20);
                sl_buf_printf(&c2, NULL, "%s%s%s", val, w->delim, b.ptr);
                sl_buf_release(&b);
                b = c2;
            } else {
                sl_buf_printf(&b, NULL, "%s%s", b.len ? w->delim : "", val);
            }
        }
        nv = json_string(b.ptr);
        sl_buf_release(&b);
    } else {
        nv = json_deep_copy(w->value);
    }
    if (nv == NULL)
        return sl_error_set(w->err, SL_ENOMEM, "out of memory");
    w->hits++;
    return key ? json_object_set_new(parent, key, nv) : json_array_set_new(parent, idx, nv);
}

static int walk_set(struct walk *w, json_t *node, char **segs, size_t n)
{
    const char *seg = segs[0];
    bool last = n == 1;
    if (seg[0] == '[') {
        /* [k=v] selects list elements */
        char inner[512];
        snprintf(inner, sizeof(inner), "%.*s", (int)(strlen(seg) - 2), seg + 1);
        char *eq = strchr(inner, '=');
        if (!json_is_array(node) || eq == NULL)
            return 0;
        *eq = '\0';
        const char *k = inner, *v = eq + 1;
        size_t i;
        json_t *e;
        bool found = false;
        json_array_foreach(node, i, e)
        {
            const char *have =
                    k[0] ? json_string_value(json_object_get(e, k)) : json_string_value(e);
            if (have == NULL || strcmp(have, v) != 0)
                continue;
            found = true;
            if (last) {
                if (set_leaf(w, node, NULL, i) != 0)
                    return -1;
            } else if (walk_set(w, e, segs + 1, n - 1) != 0) {
                return -1;
            }
        }
        if (!found && w->create && k[0]) {
            json_t *ne = json_pack("{s:s}", k, v);
            if (ne == NULL || json_array_append_new(node, ne) != 0)
                return sl_error_set(w->err, SL_ENOMEM, "out of memory");
            if (!last)
                return walk_set(w, ne, segs + 1, n - 1);
        }
        return 0;
    }
    if (strcmp(seg, "*") == 0) {
        if (json_is_array(node)) {
            size_t i;
            json_t *e;
            json_array_foreach(node, i, e)
            {
                if (last ? set_leaf(w, node, NULL, i) != 0 : walk_set(w, e, segs + 1, n - 1) != 0)
                    return -1;
            }
        } else if (json_is_object(node)) {
            const char *k;
            json_t *e;
            void *tmp;
            json_object_foreach_safe(node, tmp, k, e)
            {
                if (last ? set_leaf(w, node, k, 0) != 0 : walk_set(w, e, segs + 1, n - 1) != 0)
                    return -1;
            }
        }
        return 0;
    }
    if (json_is_array(node)) {
        char *end;
        unsigned long idx = strtoul(seg, &end, 10);
        if (*end != '\0' || idx >= json_array_size(node))
            return 0;
        return last ? set_leaf(w, node, NULL, idx)
                    : walk_set(w, json_array_get(node, idx), segs + 1, n - 1);
    }
    if (!json_is_object(node))
        return 0;
    json_t *child = json_object_get(node, seg);
    if (last) {
        if (child == NULL && !w->create)
            return 0;
        return set_leaf(w, node, seg, 0);
    }
    if (child == NULL || json_is_null(child)) {
        if (!w->create)
            return 0;
        child = segs[1][0] == '[' ? json_array() : json_object();
        if (child == NULL || json_object_set_new(node, seg, child) != 0)
            return sl_error_set(w->err, SL_ENOMEM, "out of memory");
    }
    return walk_set(w, child, segs + 1, n - 1);
}

static const json_t *walk_get(const json_t *node, char **segs, size_t n)
{
    for (size_t i = 0; i < n && node != NULL; i++) {
        const char *seg = segs[i];
        if (seg[0] == '[') {
            char inner[512];
            snprintf(inner, sizeof(inner), "%.*s", (int)(strlen(seg) - 2), seg + 1);
            char *eq = strchr(inner, '=');
            const json_t *next = NULL;
            size_t j;
            json_t *e;
            if (eq == NULL || !json_is_array(node))
                return NULL;
            *eq = '\0';
            json_array_foreach(node, j, e)
            {
                const char *have = inner[0] ? json_string_value(json_object_get(e, inner))
                                            : json_string_value(e);
                if (have && strcmp(have, eq + 1) == 0) {
                    next = e;
                    break;
                }
            }
            node = next;
        } else if (json_is_array(node)) {
            char *end;
            unsigned long idx = strtoul(seg, &end, 10);
            node = *end == '\0' ? json_array_get(node, idx) : NULL;
        } else {
            node = json_object_get(node, seg);
        }
    }
    return node;
}

static int one_replacement(struct render_ctx *c, const char *where, const json_t *rep,
                           struct resmap *ra)
{
    const json_t *src = json_object_get(rep, "source");
    const json_t *targets = json_object_get(rep, "targets");
    struct sel s;
    const struct res *found = NULL;
    size_t nfound = 0;
    const char *fp = json_string_value(json_object_get(src, "fieldPath"));
    char **segs = NULL;
    size_t nsegs = 0;
    json_t *value = NULL;
    int rc = -1;

    if (!json_is_object(src) || !json_is_array(targets))
        return sl_error_set(c->err, SL_EINVAL, "%s: a replacement needs a source and targets",
                            where);
    sel_parse(src, &s);
    for (size_t i = 0; i < ra->n; i++) {
        bool m;
        if (sel_match(c, &s, ra->items[i], &m) != 0)
            return -1;
        if (m) {
            found = ra->items[i];
            nfound++;
        }
    }
    if (nfound != 1)
        return sl_error_set(c->err, nfound ? SL_ECONFLICT : SL_ENOTFOUND,
                            "%s: replacement source %s%s%s matches %zu objects, need exactly one",
                            where, s.kind ? s.kind : "", s.name ? " " : "", s.name ? s.name : "",
                            nfound);
    if (split_path(fp ? fp : "metadata.name", &segs, &nsegs) != 0)
        return sl_error_set(c->err, SL_ENOMEM, "out of memory");
    const json_t *v = walk_get(found->obj, segs, nsegs);
    free_segs(segs, nsegs);
    if (v == NULL)
        return sl_error_set(c->err, SL_ENOTFOUND, "%s: replacement source field %s not found",
                            where, fp ? fp : "metadata.name");
    value = json_deep_copy(v);
    {
        const json_t *so = json_object_get(src, "options");
        const char *delim = json_string_value(json_object_get(so, "delimiter"));
        if (delim != NULL && json_is_string(value)) {
            long idx = (long)json_integer_value(json_object_get(so, "index"));
            const char *p = json_string_value(value);
            size_t dl = strlen(delim);
            long part = 0;
            const char *pick = NULL;
            size_t plen = 0;
            for (;;) {
                const char *e = dl ? strstr(p, delim) : NULL;
                if (part == idx) {
                    pick = p;
                    plen = e ? (size_t)(e - p) : strlen(p);
                }
                part++;
                if (e == NULL)
                    break;
                p = e + dl;
            }
            if (pick == NULL) {
                json_decref(value);
                return sl_error_set(c->err, SL_EINVAL, "%s: options.index %ld out of bounds", where,
                                    idx);
            }
            json_t *nv = json_stringn(pick, plen);
            json_decref(value);
            value = nv;
        }
    }
    size_t ti;
    json_t *t;
    json_array_foreach(targets, ti, t)
    {
        struct sel ts;
        const json_t *fps = json_object_get(t, "fieldPaths");
        const json_t *opts = json_object_get(t, "options");
        const json_t *rejects = json_object_get(t, "reject");
        sel_parse(json_object_get(t, "select"), &ts);
        for (size_t i = 0; i < ra->n; i++) {
            struct res *r = ra->items[i];
            bool m, rejected = false;
            if (sel_match(c, &ts, r, &m) != 0)
                goto done;
            if (!m)
                continue;
            size_t ri;
            json_t *rj;
            json_array_foreach(rejects, ri, rj)
            {
                struct sel rs;
                bool rm;
                sel_parse(rj, &rs);
                if (rs.kind == NULL && rs.name == NULL && rs.ns == NULL && rs.group == NULL &&
                    rs.version == NULL && rs.labels == NULL && rs.annotations == NULL)
                    continue;
                if (sel_match(c, &rs, r, &rm) != 0)
                    goto done;
                if (rm)
                    rejected = true;
            }
            if (rejected)
                continue;
            size_t fi;
            json_t *fpj;
            json_array_foreach(fps, fi, fpj)
            {
                const char *tfp = json_string_value(fpj);
                struct walk w = {value,
                                 json_string_value(json_object_get(opts, "delimiter")),
                                 (long)json_integer_value(json_object_get(opts, "index")),
                                 json_is_true(json_object_get(opts, "create")),
                                 0,
                                 c->err};
                if (tfp == NULL || split_path(tfp, &segs, &nsegs) != 0) {
                    sl_error_set(c->err, SL_EINVAL, "%s: bad fieldPaths entry", where);
                    goto done;
                }
                int wrc = nsegs ? walk_set(&w, r->obj, segs, nsegs) : 0;
                free_segs(segs, nsegs);
                if (wrc != 0)
                    goto done;
                if (w.hits == 0) {
                    char id[512];
                    res_describe(r, id, sizeof(id));
                    sl_error_set(c->err, SL_ENOTFOUND,
                                 "%s: unable to find field \"%s\" in replacement target %s", where,
                                 tfp, id);
                    goto done;
                }
            }
        }
    }
    rc = 0;
done:
    json_decref(value);
    return rc;
}

int replacements_apply(struct render_ctx *c, const char *kfile, const json_t *list,
                       struct resmap *ra)
{
    size_t i;
    json_t *e;
    json_array_foreach(unconst(list), i, e)
    {
        if (!json_is_object(e))
            return sl_error_set(c->err, SL_EINVAL, "%s: replacements entries must be mappings",
                                kfile);
        if (json_object_get(e, "path") != NULL)
            return sl_error_set(c->err, SL_EINVAL,
                                "%s: replacements with path must be loaded by the caller", kfile);
        if (one_replacement(c, kfile, e, ra) != 0)
            return -1;
    }
    return 0;
}
