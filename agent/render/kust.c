/*
 * One kustomization layer (kusttarget.go accumulateTarget): resources,
 * generators, components, then the built-in transformers in kustomize's
 * fixed order, whatever order the file lists them in.
 */
#include <ctype.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "path.h"
#include "render_int.h"

#define ERR(c) ((c)->err)

struct layer {
    struct render_ctx *c;
    const char *dir;   /* tree-relative directory of the kustomization */
    char *kfile;       /* tree-relative path of the kustomization file */
    json_t *k;         /* normalized kustomization (canonical field names) */
    struct resmap *ra; /* the accumulator this layer works on */
};

/* ------------------------------------------------------------------ fields */

static const char *const known_fields[] = {"apiVersion",
                                           "kind",
                                           "metadata",
                                           "resources",
                                           "bases",
                                           "components",
                                           "namespace",
                                           "namePrefix",
                                           "nameSuffix",
                                           "commonLabels",
                                           "labels",
                                           "commonAnnotations",
                                           "images",
                                           "replicas",
                                           "patches",
                                           "patchesStrategicMerge",
                                           "patchesJson6902",
                                           "configMapGenerator",
                                           "secretGenerator",
                                           "generatorOptions",
                                           "replacements",
                                           "sortOptions",
                                           "vars",
                                           "buildMetadata",
                                           "configurations",
                                           "generators",
                                           "transformers",
                                           "crds",
                                           "helmCharts",
                                           "helmGlobals",
                                           "helmChartInflationGenerator",
                                           "openapi",
                                           "validators",
                                           "imageTags",
                                           NULL};

static const char *const refused_fields[] = {
        "helmCharts", "helmGlobals", "helmChartInflationGenerator", "openapi", "validators", "crds",
        "imageTags",  NULL};

static int normalize_fields(struct layer *L, json_t *raw)
{
    const char *key;
    json_t *v;
    json_t *k = json_object();
    if (k == NULL)
        return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
    json_object_foreach(raw, key, v)
    {
        const char *canon = NULL;
        for (size_t i = 0; known_fields[i]; i++)
            if (strcasecmp(key, known_fields[i]) == 0)
                canon = known_fields[i];
        if (canon == NULL) {
            json_decref(k);
            return sl_error_set(ERR(L->c), SL_EUNSUPPORTED,
                                "%s: unknown field \"%s\" in kustomization", L->kfile, key);
        }
        for (size_t i = 0; refused_fields[i]; i++) {
            if (strcmp(canon, refused_fields[i]) == 0 && !json_is_null(v)) {
                json_decref(k);
                return sl_error_set(ERR(L->c), SL_EUNSUPPORTED,
                                    "%s: field \"%s\" is not supported by sluice", L->kfile, canon);
            }
        }
        if (json_is_null(v))
            continue;
        json_object_set(k, canon, v);
    }
    L->k = k;
    return 0;
}

static const char *kstr(struct layer *L, const char *field)
{
    return json_string_value(json_object_get(L->k, field));
}

/* A field that must be a list (or absent). */
static int klist(struct layer *L, const char *field, json_t **out)
{
    json_t *v = json_object_get(L->k, field);
    *out = NULL;
    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        return sl_error_set(ERR(L->c), SL_EINVAL, "%s: %s must be a list", L->kfile, field);
    *out = v;
    return 0;
}

static int kmap(struct layer *L, const json_t *v, const char *what, json_t **out)
{
    *out = NULL;
    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return sl_error_set(ERR(L->c), SL_EINVAL, "%s: %s must be a mapping", L->kfile, what);
    *out = unconst(v);
    return 0;
}

/* Scalar to string as sigs.k8s.io/yaml would need it for map[string]string. */
static int scalar_string(struct layer *L, const json_t *v, const char *what, char *buf, size_t len,
                         const char **out)
{
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return 0;
    }
    if (json_is_integer(v)) {
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_boolean(v)) {
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    } else if (json_is_real(v)) {
        snprintf(buf, len, "%g", json_real_value(v));
    } else {
        return sl_error_set(ERR(L->c), SL_EINVAL, "%s: %s must be a string", L->kfile, what);
    }
    *out = buf;
    return 0;
}

/* ------------------------------------------------------------ paths & files */

static bool is_remote(const char *s)
{
    return strstr(s, "://") != NULL || strncmp(s, "git::", 5) == 0 ||
           strncmp(s, "github.com/", 11) == 0 || strncmp(s, "git@", 4) == 0 ||
           strncmp(s, "gitlab.com/", 11) == 0 || strncmp(s, "bitbucket.org/", 14) == 0;
}

static int join(struct layer *L, const char *rel, struct sl_buf *out)
{
    if (rel[0] == '/')
        return sl_error_set(ERR(L->c), SL_EPERM, "%s: absolute path \"%s\" is not allowed",
                            L->kfile, rel);
    if (sl_path_join(out, L->dir, rel, ERR(L->c)) != 0)
        return sl_error_wrap(ERR(L->c), "%s: \"%s\"", L->kfile, rel);
    return 0;
}

/* Files (not directories) must be in or below the kustomization's directory. */
static int check_below(struct layer *L, const char *path, const char *rel)
{
    size_t dl = strlen(L->dir);
    if (strcmp(L->dir, ".") == 0)
        return 0;
    if (strncmp(path, L->dir, dl) == 0 && path[dl] == '/')
        return 0;
    return sl_error_set(ERR(L->c), SL_EPERM, "%s: security; file \"%s\" is not in or below \"%s\"",
                        L->kfile, rel, L->dir);
}

static int read_rel_file(struct layer *L, const char *rel, struct sl_buf *data, char **path_out)
{
    struct sl_buf p = SL_BUF_INIT(4096);
    enum sl_tree_kind kind;
    size_t size;
    int rc = -1;
    if (join(L, rel, &p) != 0 || check_below(L, p.ptr, rel) != 0)
        goto done;
    if (sl_tree_stat(L->c->tree, p.ptr, &kind, &size, ERR(L->c)) != 0)
        goto done;
    if (kind != SL_TREE_FILE) {
        sl_error_set(ERR(L->c), SL_ENOTFOUND, "%s: file \"%s\" not found", L->kfile, rel);
        goto done;
    }
    if (rl_read_file(L->c, p.ptr, data) != 0)
        goto done;
    if (path_out)
        *path_out = sl_buf_detach(&p, NULL);
    rc = 0;
done:
    sl_buf_release(&p);
    return rc;
}

/* --------------------------------------------------------------- resources */

/* Label and annotation values are strings to kustomize: `port: 8080` becomes "8080". */
static void coerce_meta(json_t *obj, const struct sl_ynode *root)
{
    static const char *const f[] = {"labels", "annotations"};
    json_t *md = json_object_get(obj, "metadata");
    const struct sl_ynode *ymd = root ? sl_ynode_get(root, "metadata") : NULL;
    for (int i = 0; i < 2; i++) {
        json_t *m = json_object_get(md, f[i]);
        const struct sl_ynode *ym = ymd ? sl_ynode_get(ymd, f[i]) : NULL;
        const char *k;
        json_t *v;
        void *tmp;
        if (!json_is_object(m))
            continue;
        json_object_foreach_safe(m, tmp, k, v)
        {
            const struct sl_ynode *yv = ym ? sl_ynode_get(ym, k) : NULL;
            char buf[64];
            if (json_is_string(v) || json_is_null(v) || json_is_object(v) || json_is_array(v))
                continue;
            if (yv != NULL && yv->type == SL_Y_SCALAR) {
                json_object_set_new(m, k, json_stringn(yv->value, yv->len));
                continue;
            }
            if (json_is_integer(v))
                snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            else if (json_is_real(v))
                snprintf(buf, sizeof(buf), "%g", json_real_value(v));
            else
                snprintf(buf, sizeof(buf), "%s", json_is_true(v) ? "true" : "false");
            json_object_set_new(m, k, json_string(buf));
        }
    }
}

static int add_object(struct layer *L, struct resmap *m, json_t *obj, const char *file, int line)
{
    struct res *r;
    const json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(obj)) {
        json_decref(obj);
        return sl_error_set(ERR(L->c), SL_EINVAL, "%s:%d: a resource must be a mapping", file,
                            line);
    }
    if (!json_is_string(json_object_get(obj, "kind"))) {
        json_decref(obj);
        return sl_error_set(ERR(L->c), SL_EINVAL, "%s:%d: missing kind", file, line);
    }
    if (!json_is_string(json_object_get(md, "name")) ||
        json_string_length(json_object_get(md, "name")) == 0) {
        json_decref(obj);
        return sl_error_set(ERR(L->c), SL_EINVAL, "%s:%d: missing metadata.name", file, line);
    }
    if (m->n >= L->c->opts.max_objects) {
        json_decref(obj);
        return sl_error_set(ERR(L->c), SL_ETOOLARGE, "%s: more than %zu objects", file,
                            L->c->opts.max_objects);
    }
    r = res_new(obj, file, line, ERR(L->c));
    if (r == NULL)
        return -1;
    return resmap_push(m, r, ERR(L->c));
}

struct loadctx {
    struct layer *L;
    const char *path;
    struct resmap *m;
};

static int load_one_doc(void *ctx, const struct sl_ydoc *doc, struct sl_error *err)
{
    struct loadctx *lc = ctx;
    struct layer *L = lc->L;
    const struct sl_ynode *root = doc->root;
    (void)err;
    if (root == NULL || (root->type == SL_Y_SCALAR && sl_yscalar_is_null(root)))
        return 0;
    /* Secret values never enter the shared table (nor Lists, which may hold Secrets). */
    const struct sl_ynode *ykind = sl_ynode_get(root, "kind");
    bool share = ykind == NULL || ykind->type != SL_Y_SCALAR ||
                 (strcmp(ykind->value, "Secret") != 0 &&
                  (ykind->len < 4 || strcmp(ykind->value + ykind->len - 4, "List") != 0));
    json_t *obj = rl_yaml_to_json(root, false, lc->path, share ? &L->c->intern : NULL, ERR(L->c));
    if (obj == NULL)
        return -1;
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    json_t *items = json_object_get(obj, "items");
    size_t kl = kind ? strlen(kind) : 0;
    if (kind && kl >= 4 && strcmp(kind + kl - 4, "List") == 0 && json_is_array(items)) {
        const struct sl_ynode *yitems = sl_ynode_get(root, "items");
        for (size_t i = 0; i < json_array_size(items); i++) {
            int line = yitems && i < yitems->n ? yitems->items[i]->line : doc->line;
            coerce_meta(json_array_get(items, i),
                        yitems && i < yitems->n ? yitems->items[i] : NULL);
            if (add_object(L, lc->m, json_incref(json_array_get(items, i)), lc->path, line) != 0) {
                json_decref(obj);
                return -1;
            }
        }
        json_decref(obj);
        return 0;
    }
    coerce_meta(obj, root);
    /* the origin is where the object's text starts: its first key */
    int line = root->type == SL_Y_MAP && root->n > 0 ? root->keys[0]->line : root->line;
    return add_object(L, lc->m, obj, lc->path, line > 0 ? line : doc->line);
}

/* Consumes data (see sl_yaml_load_each_consume): the file is not read again. */
static int load_resource_file(struct layer *L, const char *path, char *data, size_t len,
                              struct resmap *m)
{
    struct loadctx lc = {L, path, m};
    struct sl_yaml_limits lim = SL_YAML_LIMITS_DEFAULT;
    lim.max_depth = L->c->opts.max_yaml_depth;
    lim.max_alias_nodes = L->c->opts.max_yaml_alias_nodes;
    return sl_yaml_load_each_consume(data, len, path, &lim, load_one_doc, &lc, ERR(L->c));
}

static int build_layer(struct render_ctx *c, const char *dir, struct resmap *ra, bool component,
                       size_t depth);

static int accumulate_resources(struct layer *L, const json_t *list, const char *field,
                                size_t depth)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *rel = json_string_value(e);
        struct sl_buf p = SL_BUF_INIT(4096);
        struct sl_buf data = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
        struct resmap sub = {0};
        enum sl_tree_kind kind;
        size_t size;
        int rc = -1;

        if (rel == NULL)
            return sl_error_set(ERR(L->c), SL_EINVAL, "%s: %s entries must be strings", L->kfile,
                                field);
        if (is_remote(rel))
            return sl_error_set(ERR(L->c), SL_EUNSUPPORTED,
                                "%s: remote %s \"%s\" are not supported (vendor them into the "
                                "repository)",
                                L->kfile, field, rel);
        if (join(L, rel, &p) != 0)
            goto next;
        if (sl_tree_stat(L->c->tree, p.ptr, &kind, &size, ERR(L->c)) != 0) {
            sl_error_wrap(ERR(L->c), "%s", L->kfile);
            goto next;
        }
        if (kind == SL_TREE_NONE) {
            sl_error_set(ERR(L->c), SL_ENOTFOUND, "%s: %s entry \"%s\": no such file or directory",
                         L->kfile, field, rel);
            goto next;
        }
        if (kind == SL_TREE_DIR) {
            if (build_layer(L->c, p.ptr, &sub, false, depth + 1) != 0)
                goto next;
        } else {
            if (check_below(L, p.ptr, rel) != 0)
                goto next;
            if (rl_read_file(L->c, p.ptr, &data) != 0)
                goto next;
            if (load_resource_file(L, p.ptr, data.ptr, data.len, &sub) != 0)
                goto next;
        }
        if (resmap_append_all(L->ra, &sub, L->c->opts.max_objects, ERR(L->c)) != 0) {
            sl_error_wrap(ERR(L->c), "%s: %s entry \"%s\"", L->kfile, field, rel);
            goto next;
        }
        rc = 0;
    next:
        resmap_release(&sub);
        sl_buf_release(&data);
        sl_buf_release(&p);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* -------------------------------------------------------------- generators */

static bool valid_cm_key(const char *k)
{
    if (*k == '\0' || strlen(k) > 253)
        return false;
    for (const char *p = k; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return false;
    return strcmp(k, ".") != 0 && strcmp(k, "..") != 0;
}

static bool utf8_ok(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    bool ok = j != NULL;
    json_decref(j);
    return ok;
}

struct kv {
    char *k;
    char *v;
    size_t vlen;
};

struct kvlist {
    struct kv *items;
    size_t n, cap;
    bool secret;
};

static void kvlist_release(struct kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].k);
        if (l->secret && l->items[i].v)
            sodium_memzero(l->items[i].v, l->items[i].vlen);
        free(l->items[i].v);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

static int kv_add(struct layer *L, struct kvlist *l, const char *gname, const char *k, size_t kl,
                  const char *v, size_t vl)
{
    char *key = strndup(k, kl);
    char *val = malloc(vl + 1);
    if (key == NULL || val == NULL) {
        free(key);
        free(val);
        return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
    }
    memcpy(val, v, vl);
    val[vl] = '\0';
    if (!valid_cm_key(key)) {
        sl_error_set(ERR(L->c), SL_EINVAL,
                     "%s: generator \"%s\": invalid key \"%s\" (must consist of alphanumeric "
                     "characters, '-', '_' or '.')",
                     L->kfile, gname, key);
        goto fail;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].k, key) == 0) {
            sl_error_set(ERR(L->c), SL_EINVAL,
                         "%s: generator \"%s\" illegally repeats the key `%s`", L->kfile, gname,
                         key);
            goto fail;
        }
    }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        struct kv *it = realloc(l->items, nc * sizeof(*it));
        if (it == NULL) {
            sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
            goto fail;
        }
        l->items = it;
        l->cap = nc;
    }
    l->items[l->n].k = key;
    l->items[l->n].v = val;
    l->items[l->n].vlen = vl;
    l->n++;
    return 0;
fail:
    free(key);
    if (l->secret)
        sodium_memzero(val, vl);
    free(val);
    return -1;
}

static int gen_literals(struct layer *L, struct kvlist *l, const char *gname, const json_t *lits)
{
    size_t i;
    json_t *e;
    json_array_foreach(lits, i, e)
    {
        const char *s = json_string_value(e);
        const char *eq;
        if (s == NULL || (eq = strchr(s, '=')) == NULL)
            return sl_error_set(ERR(L->c), SL_EINVAL,
                                "%s: generator \"%s\": literal must be KEY=VALUE", L->kfile, gname);
        const char *v = eq + 1;
        size_t vl = strlen(v);
        /* surrounding matching quotes are stripped */
        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
            v++;
            vl -= 2;
        }
        const char *k = s;
        size_t kl = (size_t)(eq - s);
        while (kl > 0 && isspace((unsigned char)*k))
            k++, kl--;
        while (kl > 0 && isspace((unsigned char)k[kl - 1]))
            kl--;
        if (kv_add(L, l, gname, k, kl, v, vl) != 0)
            return -1;
    }
    return 0;
}

static int gen_envs(struct layer *L, struct kvlist *l, const char *gname, const json_t *envs)
{
    size_t i;
    json_t *e;
    json_array_foreach(envs, i, e)
    {
        const char *rel = json_string_value(e);
        struct sl_buf data = SL_BUF_INIT(((size_t)16 << 20));
        if (rel == NULL)
            return sl_error_set(ERR(L->c), SL_EINVAL, "%s: envs entries must be strings", L->kfile);
        if (read_rel_file(L, rel, &data, NULL) != 0) {
            sl_buf_release(&data);
            return -1;
        }
        char *p = data.ptr, *end = data.ptr + data.len;
        int lineno = 0;
        if (data.len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
            p += 3;
        while (p < end) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            char *le = nl ? nl : end;
            lineno++;
            size_t ll = (size_t)(le - p);
            if (ll > 0 && p[ll - 1] == '\r')
                ll--;
            char *s = p;
            while (ll > 0 && isspace((unsigned char)*s))
                s++, ll--;
            if (ll > 0 && s[0] != '#') {
                char *eq = memchr(s, '=', ll);
                if (eq == NULL) {
                    sl_error_set(ERR(L->c), SL_EINVAL,
                                 "%s:%d: line is not KEY=VALUE (sluice does not read values "
                                 "from its own environment)",
                                 rel, lineno);
                    sl_buf_release(&data);
                    return -1;
                }
                size_t kl = (size_t)(eq - s);
                while (kl > 0 && isspace((unsigned char)s[kl - 1]))
                    kl--;
                if (kv_add(L, l, gname, s, kl, eq + 1, ll - (size_t)(eq + 1 - s)) != 0) {
                    sl_buf_release(&data);
                    return -1;
                }
            }
            p = nl ? nl + 1 : end;
        }
        if (l->secret)
            sodium_memzero(data.ptr, data.len);
        sl_buf_release(&data);
    }
    return 0;
}

static int gen_files(struct layer *L, struct kvlist *l, const char *gname, const json_t *files)
{
    size_t i;
    json_t *e;
    json_array_foreach(files, i, e)
    {
        const char *spec = json_string_value(e);
        struct sl_buf data = SL_BUF_INIT(((size_t)16 << 20));
        char *path = NULL;
        const char *key, *rel;
        size_t kl;
        if (spec == NULL)
            return sl_error_set(ERR(L->c), SL_EINVAL, "%s: files entries must be strings",
                                L->kfile);
        const char *eq = strchr(spec, '=');
        if (eq != NULL) {
            key = spec;
            kl = (size_t)(eq - spec);
            rel = eq + 1;
            if (kl == 0 || *rel == '\0')
                return sl_error_set(ERR(L->c), SL_EINVAL,
                                    "%s: generator \"%s\": bad file source \"%s\"", L->kfile, gname,
                                    spec);
        } else {
            rel = spec;
            const char *slash = strrchr(spec, '/');
            key = slash ? slash + 1 : spec;
            kl = strlen(key);
        }
        if (read_rel_file(L, rel, &data, &path) != 0) {
            sl_buf_release(&data);
            return -1;
        }
        free(path);
        int rc = kv_add(L, l, gname, key, kl, data.ptr, data.len);
        if (l->secret)
            sodium_memzero(data.ptr, data.len);
        sl_buf_release(&data);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int merge_options(struct layer *L, const json_t *local, json_t **opts_out)
{
    json_t *global = json_object_get(L->k, "generatorOptions");
    json_t *o = local ? json_deep_copy(local) : json_object();
    if (o == NULL)
        return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
    if (json_is_object(global)) {
        const char *f[] = {"labels", "annotations"};
        for (int i = 0; i < 2; i++) {
            json_t *g = json_object_get(global, f[i]);
            if (!json_is_object(g))
                continue;
            json_t *lm = json_object_get(o, f[i]);
            if (!json_is_object(lm)) {
                lm = json_object();
                json_object_set_new(o, f[i], lm);
            }
            const char *k;
            json_t *v;
            json_object_foreach(g, k, v)
            {
                if (json_object_get(lm, k) == NULL)
                    json_object_set(lm, k, v);
            }
        }
        if (json_is_true(json_object_get(global, "disableNameSuffixHash")))
            json_object_set_new(o, "disableNameSuffixHash", json_true());
        if (json_is_true(json_object_get(global, "immutable")))
            json_object_set_new(o, "immutable", json_true());
    }
    *opts_out = o;
    return 0;
}

static int copy_string_map(struct layer *L, json_t *dst, const json_t *src, const char *what)
{
    const char *k;
    json_t *v;
    json_object_foreach(unconst(src), k, v)
    {
        char buf[64];
        const char *s = NULL;
        if (scalar_string(L, v, what, buf, sizeof(buf), &s) != 0)
            return -1;
        /* a string value is shared (no scalar is changed in place), others become strings */
        if ((json_is_string(v) ? json_object_set(dst, k, unconst(v))
                               : json_object_set_new(dst, k, json_string(s))) != 0)
            return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
    }
    return 0;
}

static int generate(struct layer *L, const json_t *g, bool secret, const char *cfg_in,
                    const char *cfg_name, const char *name_override)
{
    bool nomem = false;
    const char *gname =
            name_override ? name_override : json_string_value(json_object_get(g, "name"));
    const char *ns = json_string_value(json_object_get(g, "namespace"));
    const char *behavior = json_string_value(json_object_get(g, "behavior"));
    const char *type = json_string_value(json_object_get(g, "type"));
    struct kvlist kvs = {0};
    json_t *obj = NULL, *opts = NULL, *md, *data = NULL, *bin = NULL;
    enum gen_behavior beh = GEN_CREATE;
    struct res *r = NULL;
    int rc = -1;
    const char *kind = secret ? "Secret" : "ConfigMap";
    /* apiVersion/kind/metadata appear when a generator comes from a plugin config */
    const char *known[] = {"name", "namespace", "behavior", "literals", "files",
                           "envs", "env",       "options",  "type",     "apiVersion",
                           "kind", "metadata",  NULL};

    kvs.secret = secret;
    if (!json_is_object(g))
        return sl_error_set(ERR(L->c), SL_EINVAL, "%s: generator entries must be mappings",
                            L->kfile);
    {
        const char *fk;
        json_t *fv;
        json_object_foreach(unconst(g), fk, fv)
        {
            bool ok = false;
            for (size_t i = 0; known[i]; i++)
                if (strcasecmp(fk, known[i]) == 0)
                    ok = true;
            if (!ok)
                return sl_error_set(ERR(L->c), SL_EUNSUPPORTED,
                                    "%s: unknown field \"%s\" in %s generator", L->kfile, fk, kind);
        }
    }
    if (gname == NULL || gname[0] == '\0')
        return sl_error_set(ERR(L->c), SL_EINVAL, "%s: a %s generator needs a name", L->kfile,
                            kind);
    if (behavior == NULL || strcmp(behavior, "create") == 0 || behavior[0] == '\0')
        beh = GEN_CREATE;
    else if (strcmp(behavior, "merge") == 0)
        beh = GEN_MERGE;
    else if (strcmp(behavior, "replace") == 0)
        beh = GEN_REPLACE;
    else
        return sl_error_set(ERR(L->c), SL_EINVAL, "%s: generator \"%s\": unknown behavior \"%s\"",
                            L->kfile, gname, behavior);

    json_t *envs = json_object_get(g, "envs"), *env = json_object_get(g, "env");
    json_t *lits = json_object_get(g, "literals"), *files = json_object_get(g, "files");
    if ((envs && !json_is_array(envs)) || (lits && !json_is_array(lits)) ||
        (files && !json_is_array(files)) || (env && !json_is_string(env))) {
        sl_error_set(ERR(L->c), SL_EINVAL,
                     "%s: generator \"%s\": envs, literals and files "
                     "must be lists",
                     L->kfile, gname);
        goto done;
    }
    if (envs && gen_envs(L, &kvs, gname, envs) != 0)
        goto done;
    if (env) {
        json_t *one = json_pack("[O]", env);
        int erc = one ? gen_envs(L, &kvs, gname, one) : -1;
        json_decref(one);
        if (erc != 0)
            goto done;
    }
    if (lits && gen_literals(L, &kvs, gname, lits) != 0)
        goto done;
    if (files && gen_files(L, &kvs, gname, files) != 0)
        goto done;
    if (merge_options(L, json_object_get(g, "options"), &opts) != 0)
        goto done;

    obj = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", kind, "metadata", "name",
                    gname);
    if (obj == NULL) {
        nomem = true;
        goto done;
    }
    md = json_object_get(obj, "metadata");
    if (ns && ns[0])
        json_object_set_new(md, "namespace", json_string(ns));
    for (size_t i = 0; i < kvs.n; i++) {
        struct kv *p = &kvs.items[i];
        bool text = !secret && utf8_ok(p->v, p->vlen);
        json_t **tgt = text ? &data : (secret ? &data : &bin);
        if (*tgt == NULL && (*tgt = json_object()) == NULL) {
            nomem = true;
            goto done;
        }
        if (text) {
            json_object_set_new(*tgt, p->k, json_stringn(p->v, p->vlen));
        } else {
            size_t bl = sodium_base64_ENCODED_LEN(p->vlen, sodium_base64_VARIANT_ORIGINAL);
            char *b = malloc(bl);
            if (b == NULL) {
                nomem = true;
                goto done;
            }
            sodium_bin2base64(b, bl, (const unsigned char *)p->v, p->vlen,
                              sodium_base64_VARIANT_ORIGINAL);
            {
                /* kustomize's encodeBase64 breaks Secret and binaryData values into 70-column
                 * lines, each ending in a newline, once they reach 70 characters */
                size_t el = strlen(b), lines = el / 70 + 1;
                char *w = malloc(el + lines + 1);
                size_t k = 0;
                if (w == NULL) {
                    sodium_memzero(b, bl);
                    free(b);
                    {
                        nomem = true;
                        goto done;
                    }
                }
                for (size_t off = 0; off < el; off += 70) {
                    size_t j = off + 70 < el ? off + 70 : el;
                    memcpy(w + k, b + off, j - off);
                    k += j - off;
                    if (lines > 1)
                        w[k++] = '\n';
                }
                w[k] = '\0';
                json_object_set_new(*tgt, p->k, json_stringn(w, k));
                sodium_memzero(w, k);
                free(w);
            }
            sodium_memzero(b, bl);
            free(b);
        }
    }
    if (data == NULL && secret && (data = json_object()) == NULL) {
        nomem = true;
        goto done;
    } /* kustomize always gives a generated Secret a data map */
    if (data)
        json_object_set_new(obj, "data", data);
    data = NULL;
    if (bin)
        json_object_set_new(obj, "binaryData", bin);
    bin = NULL;
    if (secret)
        json_object_set_new(obj, "type", json_string(type && type[0] ? type : "Opaque"));
    {
        json_t *lab = json_object_get(opts, "labels"), *ann = json_object_get(opts, "annotations");
        if (json_is_object(lab) && json_object_size(lab) > 0) {
            json_t *m = json_object();
            json_object_set_new(md, "labels", m);
            if (copy_string_map(L, m, lab, "generator label") != 0)
                goto done;
        }
        if (json_is_object(ann) && json_object_size(ann) > 0) {
            json_t *m = json_object();
            json_object_set_new(md, "annotations", m);
            if (copy_string_map(L, m, ann, "generator annotation") != 0)
                goto done;
        }
        if (json_is_true(json_object_get(opts, "immutable")))
            json_object_set_new(obj, "immutable", json_true());
    }
    r = res_new(obj, L->kfile, 0, ERR(L->c));
    obj = NULL;
    if (r == NULL)
        goto done;
    r->secret = secret;
    r->generated = true;
    r->cfg_in = strdup(cfg_in ? cfg_in : L->kfile);
    r->cfg_kind = strdup(secret ? "SecretGenerator" : "ConfigMapGenerator");
    r->cfg_name = cfg_name ? strdup(cfg_name) : NULL;
    if (r->cfg_in == NULL || r->cfg_kind == NULL || (cfg_name && r->cfg_name == NULL)) {
        nomem = true;
        goto done;
    }
    r->behavior = beh;
    bool disable = json_is_true(json_object_get(opts, "disableNameSuffixHash"));
    r->hash = !disable;

    /* create / merge / replace against what is accumulated */
    size_t match = (size_t)-1, nmatch = 0;
    for (size_t i = 0; i < L->ra->n; i++) {
        struct res *o = L->ra->items[i];
        if (strcmp(res_kind(o), kind) == 0 &&
            res_any_id_matches(o, kind, gname, ns ? ns : "", true)) {
            match = i;
            nmatch++;
        }
    }
    if (nmatch > 1) {
        sl_error_set(ERR(L->c), SL_ECONFLICT, "%s: generator \"%s\" matches %zu %ss", L->kfile,
                     gname, nmatch, kind);
        goto done;
    }
    if (nmatch == 0) {
        if (beh == GEN_MERGE || beh == GEN_REPLACE) {
            sl_error_set(ERR(L->c), SL_ENOTFOUND,
                         "%s: %s \"%s\" does not exist; cannot merge or replace", L->kfile, kind,
                         gname);
            goto done;
        }
        if (L->ra->n >= L->c->opts.max_objects) {
            sl_error_set(ERR(L->c), SL_ETOOLARGE, "%s: more than %zu objects", L->kfile,
                         L->c->opts.max_objects);
            goto done;
        }
        rc = resmap_push(L->ra, r, ERR(L->c));
        r = NULL;
        goto done;
    }
    struct res *old = L->ra->items[match];
    if (beh == GEN_CREATE) {
        sl_error_set(ERR(L->c), SL_ECONFLICT,
                     "%s: %s \"%s\" already exists (from %s); behavior must be merge or replace",
                     L->kfile, kind, gname, old->file ? old->file : "generated");
        goto done;
    }
    {
        json_t *omd = json_object_get(old->obj, "metadata");
        json_t *nmd = json_object_get(r->obj, "metadata");
        const char *f[] = {"labels", "annotations"};
        for (int i = 0; i < 2; i++) {
            json_t *ol = json_object_get(omd, f[i]);
            if (json_is_object(ol)) {
                json_t *merged = json_deep_copy(ol);
                json_t *nl = json_object_get(nmd, f[i]);
                if (json_is_object(nl))
                    json_object_update(merged, nl);
                json_object_set_new(nmd, f[i], merged);
            }
        }
        json_object_set(nmd, "name", json_object_get(omd, "name"));
        if (json_object_get(omd, "namespace"))
            json_object_set(nmd, "namespace", json_object_get(omd, "namespace"));
        else
            json_object_del(nmd, "namespace");
        if (beh == GEN_MERGE) {
            const char *df[] = {"data", "binaryData"};
            for (int i = 0; i < 2; i++) {
                json_t *od = json_object_get(old->obj, df[i]);
                if (!json_is_object(od))
                    continue;
                json_t *merged = json_deep_copy(od);
                json_t *nd = json_object_get(r->obj, df[i]);
                if (json_is_object(nd))
                    json_object_update(merged, nd);
                json_object_set_new(r->obj, df[i], merged);
            }
            /* a later generator may drop keys from one map into the other */
            json_t *d = json_object_get(r->obj, "data"), *b = json_object_get(r->obj, "binaryData");
            if (json_is_object(d) && json_is_object(b)) {
                const char *k;
                json_t *v;
                json_object_foreach(b, k, v)
                {
                    json_object_del(d, k);
                }
            }
            if (!secret && json_object_get(old->obj, "immutable") &&
                !json_object_get(r->obj, "immutable"))
                json_object_set(r->obj, "immutable", json_object_get(old->obj, "immutable"));
        }
    }
    /* carry the old resource's identity and history */
    {
        struct res *keep = res_clone(old, ERR(L->c));
        if (keep == NULL)
            goto done;
        json_decref(keep->obj);
        keep->obj = r->obj;
        r->obj = NULL;
        keep->hash = old->hash && !disable;
        if (beh == GEN_REPLACE) {
            free(keep->cfg_in);
            free(keep->cfg_kind);
            free(keep->cfg_name);
            keep->cfg_in = r->cfg_in;
            keep->cfg_kind = r->cfg_kind;
            keep->cfg_name = r->cfg_name;
            r->cfg_in = r->cfg_kind = r->cfg_name = NULL;
        }
        keep->secret = old->secret || secret;
        keep->generated = true;
        free(keep->file);
        keep->file = old->file ? strdup(old->file) : NULL;
        res_free(r);
        r = NULL;
        res_free(old);
        L->ra->items[match] = keep;
    }
    rc = 0;
    goto done;
done:
    if (nomem)
        sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
    if (rc != 0 && ERR(L->c)->code != SL_OK && gname != NULL &&
        strstr(ERR(L->c)->msg, L->kfile) == NULL)
        sl_error_wrap(ERR(L->c), "%s: generator \"%s\"", L->kfile, gname);
    json_decref(data);
    json_decref(bin);
    json_decref(obj);
    json_decref(opts);
    res_free(r);
    kvlist_release(&kvs);
    return rc;
}

static int run_generators(struct layer *L)
{
    const char *f[] = {"configMapGenerator", "secretGenerator"};
    for (int i = 0; i < 2; i++) {
        json_t *list;
        size_t j;
        json_t *g;
        if (klist(L, f[i], &list) != 0)
            return -1;
        json_array_foreach(list, j, g)
        {
            if (generate(L, g, i == 1, NULL, NULL, NULL) != 0)
                return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- fieldspecs */

struct fspec {
    const char *group;   /* NULL = any */
    const char *version; /* NULL = any */
    const char *kind;    /* NULL = any */
    const char *path;
    bool create;
};

static bool fspec_applies(const struct fspec *fs, const struct res *r)
{
    char g[128], v[128];
    res_group_version(r, g, sizeof(g), v, sizeof(v));
    if (fs->kind && strcmp(fs->kind, res_kind(r)) != 0)
        return false;
    if (fs->group && strcmp(fs->group, g) != 0)
        return false;
    if (fs->version && strcmp(fs->version, v) != 0)
        return false;
    return true;
}

typedef int (*leaf_fn)(struct layer *L, json_t *parent, const char *key, void *arg);

/*
 * Walk path ("a/b/c", arrays traversed implicitly; "[]" suffixes ignored)
 * and call fn on the parent holding the last component.
 */
static int walk_path(struct layer *L, json_t *node, const char *path, bool create, leaf_fn fn,
                     void *arg)
{
    char comp[256];
    const char *slash = strchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : strlen(path);
    if (n >= sizeof(comp))
        return 0;
    memcpy(comp, path, n);
    comp[n] = '\0';
    if (n >= 2 && strcmp(comp + n - 2, "[]") == 0)
        comp[n - 2] = '\0';
    if (json_is_array(node)) {
        size_t i;
        json_t *e;
        json_array_foreach(node, i, e)
        {
            if (walk_path(L, e, path, create, fn, arg) != 0)
                return -1;
        }
        return 0;
    }
    if (!json_is_object(node))
        return 0;
    if (slash == NULL)
        return fn(L, node, comp, arg);
    json_t *child = json_object_get(node, comp);
    if (child == NULL || json_is_null(child)) {
        if (!create)
            return 0;
        child = json_object();
        if (child == NULL || json_object_set_new(node, comp, child) != 0)
            return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
    }
    return walk_path(L, child, slash + 1, create, fn, arg);
}

struct mapset {
    const json_t *pairs;
    bool create;
};

static int set_map_leaf(struct layer *L, json_t *parent, const char *key, void *arg)
{
    struct mapset *ms = arg;
    json_t *m = json_object_get(parent, key);
    if (m == NULL || json_is_null(m)) {
        if (!ms->create)
            return 0;
        m = json_object();
        if (m == NULL || json_object_set_new(parent, key, m) != 0)
            return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
    }
    if (!json_is_object(m))
        return sl_error_set(ERR(L->c), SL_EINVAL,
                            "%s: cannot set labels/annotations: %s is "
                            "not a mapping",
                            L->kfile, key);
    return copy_string_map(L, m, ms->pairs, "label or annotation value");
}

#define AFF "spec/template/spec/affinity/"
static const struct fspec common_label_specs[] = {
        {NULL, NULL, NULL, "metadata/labels", true},
        {NULL, "v1", "Service", "spec/selector", true},
        {NULL, "v1", "ReplicationController", "spec/selector", true},
        {NULL, "v1", "ReplicationController", "spec/template/metadata/labels", true},
        {NULL, NULL, "Deployment", "spec/selector/matchLabels", true},
        {NULL, NULL, "Deployment", "spec/template/metadata/labels", true},
        {"apps", NULL, "Deployment",
         AFF "podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/"
             "labelSelector/matchLabels",
         false},
        {"apps", NULL, "Deployment",
         AFF "podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
         false},
        {"apps", NULL, "Deployment",
         AFF "podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/"
             "labelSelector/matchLabels",
         false},
        {"apps", NULL, "Deployment",
         AFF
         "podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
         false},
        {"apps", NULL, "Deployment",
         "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", false},
        {NULL, NULL, "ReplicaSet", "spec/selector/matchLabels", true},
        {NULL, NULL, "ReplicaSet", "spec/template/metadata/labels", true},
        {NULL, NULL, "DaemonSet", "spec/selector/matchLabels", true},
        {NULL, NULL, "DaemonSet", "spec/template/metadata/labels", true},
        {"apps", NULL, "StatefulSet", "spec/selector/matchLabels", true},
        {"apps", NULL, "StatefulSet", "spec/template/metadata/labels", true},
        {"apps", NULL, "StatefulSet",
         AFF "podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/"
             "labelSelector/matchLabels",
         false},
        {"apps", NULL, "StatefulSet",
         AFF "podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
         false},
        {"apps", NULL, "StatefulSet",
         AFF "podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/"
             "labelSelector/matchLabels",
         false},
        {"apps", NULL, "StatefulSet",
         AFF
         "podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
         false},
        {"apps", NULL, "StatefulSet",
         "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", false},
        {"apps", NULL, "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels", true},
        {"batch", NULL, "Job", "spec/selector/matchLabels", false},
        {"batch", NULL, "Job", "spec/template/metadata/labels", true},
        {"batch", NULL, "CronJob", "spec/jobTemplate/spec/selector/matchLabels", false},
        {"batch", NULL, "CronJob", "spec/jobTemplate/metadata/labels", true},
        {"batch", NULL, "CronJob", "spec/jobTemplate/spec/template/metadata/labels", true},
        {"policy", NULL, "PodDisruptionBudget", "spec/selector/matchLabels", false},
        {"networking.k8s.io", NULL, "NetworkPolicy", "spec/podSelector/matchLabels", false},
        {"networking.k8s.io", NULL, "NetworkPolicy", "spec/ingress/from/podSelector/matchLabels",
         false},
        {"networking.k8s.io", NULL, "NetworkPolicy", "spec/egress/to/podSelector/matchLabels",
         false},
};

static const struct fspec template_label_specs[] = {
        {NULL, NULL, NULL, "metadata/labels", true},
        {NULL, "v1", "ReplicationController", "spec/template/metadata/labels", true},
        {NULL, NULL, "Deployment", "spec/template/metadata/labels", true},
        {NULL, NULL, "ReplicaSet", "spec/template/metadata/labels", true},
        {NULL, NULL, "DaemonSet", "spec/template/metadata/labels", true},
        {"apps", NULL, "StatefulSet", "spec/template/metadata/labels", true},
        {"batch", NULL, "Job", "spec/template/metadata/labels", true},
        {"batch", NULL, "CronJob", "spec/jobTemplate/metadata/labels", true},
        {"batch", NULL, "CronJob", "spec/jobTemplate/spec/template/metadata/labels", true},
};

static const struct fspec annotation_specs[] = {
        {NULL, NULL, NULL, "metadata/annotations", true},
        {NULL, "v1", "ReplicationController", "spec/template/metadata/annotations", true},
        {NULL, NULL, "Deployment", "spec/template/metadata/annotations", true},
        {NULL, NULL, "ReplicaSet", "spec/template/metadata/annotations", true},
        {NULL, NULL, "DaemonSet", "spec/template/metadata/annotations", true},
        {"apps", NULL, "StatefulSet", "spec/template/metadata/annotations", true},
        {"batch", NULL, "Job", "spec/template/metadata/annotations", true},
        {"batch", NULL, "CronJob", "spec/jobTemplate/metadata/annotations", true},
        {"batch", NULL, "CronJob", "spec/jobTemplate/spec/template/metadata/annotations", true},
};

/* ---- vars: the fields kustomize substitutes $(VAR) in (its varReference list) ---- */

/* Pod specs of the workload kinds: containers' and initContainers' args, command, env values
 * and mount paths. */
static const struct {
    const char *kind, *podspec;
} var_podspecs[] = {
        {"CronJob", "spec/jobTemplate/spec/template/spec/"},
        {"DaemonSet", "spec/template/spec/"},
        {"Deployment", "spec/template/spec/"},
        {"Job", "spec/template/spec/"},
        {"Pod", "spec/"},
        {"ReplicaSet", "spec/template/spec/"},
        {"StatefulSet", "spec/template/spec/"},
};

static const char *const var_container_fields[] = {"args", "command", "env/value",
                                                   "volumeMounts/mountPath"};

/* The rest of the list, kept exactly as kustomize has it. */
static const struct fspec var_other_specs[] = {
        /* kustomize's own path: without "spec/" it matches no real CronJob */
        {NULL, NULL, "CronJob", "spec/jobTemplate/spec/template/volumes/nfs/server", false},
        {NULL, NULL, "DaemonSet", "spec/template/spec/volumes/nfs/server", false},
        {NULL, NULL, "Deployment", "spec/template/spec/volumes/nfs/server", false},
        {NULL, NULL, "Deployment", "spec/template/metadata/annotations", false},
        {NULL, NULL, "Ingress", "spec/rules/host", false},
        {NULL, NULL, "Ingress", "spec/tls/hosts", false},
        {NULL, NULL, "Ingress", "spec/tls/secretName", false},
        {NULL, NULL, "Job", "spec/template/spec/volumes/nfs/server", false},
        {NULL, NULL, "Pod", "spec/volumes/nfs/server", false},
        {NULL, NULL, "ReplicaSet", "spec/template/spec/volumes/nfs/server", false},
        {NULL, NULL, "Service", "spec/ports/port", false},
        {NULL, NULL, "Service", "spec/ports/targetPort", false},
        {NULL, NULL, "StatefulSet", "spec/volumeClaimTemplates/spec/nfs/server", false},
        {NULL, NULL, "PersistentVolume", "spec/nfs/server", false},
        {NULL, NULL, NULL, "metadata/labels", false},
        {NULL, NULL, NULL, "metadata/annotations", false},
};

struct varset {
    struct resmap *ra;
    const json_t **values;
};

static int var_leaf(struct layer *L, json_t *parent, const char *key, void *arg)
{
    struct varset *vs = arg;
    return vars_subst_field(L->c, vs->ra, parent, key, vs->values);
}

static int var_spec(struct layer *L, struct res *r, const struct fspec *fs, struct varset *vs)
{
    if (!fspec_applies(fs, r))
        return 0;
    return walk_path(L, r->obj, fs->path, false, var_leaf, vs);
}

int vars_apply(struct render_ctx *c, struct resmap *ra, const json_t **values)
{
    struct layer L = {c, "", "kustomization", NULL, ra};
    struct varset vs = {ra, values};
    char path[256];

    for (size_t i = 0; i < ra->n; i++) {
        struct res *r = ra->items[i];
        for (size_t k = 0; k < sizeof(var_podspecs) / sizeof(var_podspecs[0]); k++) {
            if (strcmp(res_kind(r), var_podspecs[k].kind) != 0)
                continue;
            for (int init = 0; init < 2; init++)
                for (size_t f = 0; f < sizeof(var_container_fields) / sizeof(char *); f++) {
                    struct fspec fs = {NULL, NULL, var_podspecs[k].kind, path, false};
                    snprintf(path, sizeof(path), "%s%s/%s", var_podspecs[k].podspec,
                             init ? "initContainers" : "containers", var_container_fields[f]);
                    if (var_spec(&L, r, &fs, &vs) != 0)
                        return -1;
                }
        }
        for (size_t k = 0; k < sizeof(var_other_specs) / sizeof(var_other_specs[0]); k++)
            if (var_spec(&L, r, &var_other_specs[k], &vs) != 0)
                return -1;
        for (size_t k = 0; k < c->x_varref.n; k++) {
            const struct xspec *x = &c->x_varref.items[k];
            struct fspec fs = {x->group, x->version, x->kind, x->path, false};
            if (var_spec(&L, r, &fs, &vs) != 0)
                return -1;
        }
    }
    return 0;
}

static int apply_xspecs(struct layer *L, const struct xspecs *x, const json_t *pairs)
{
    for (size_t k = 0; k < x->n; k++) {
        struct fspec fs = {x->items[k].group, x->items[k].version, x->items[k].kind,
                           x->items[k].path, x->items[k].create};
        for (size_t i = 0; i < L->ra->n; i++) {
            struct res *r = L->ra->items[i];
            if (!fspec_applies(&fs, r))
                continue;
            struct mapset ms = {pairs, fs.create};
            if (walk_path(L, r->obj, fs.path, fs.create, set_map_leaf, &ms) != 0)
                return -1;
        }
    }
    return 0;
}

static int apply_map_specs(struct layer *L, const struct fspec *specs, size_t nspecs,
                           const json_t *pairs)
{
    /* custom specs from `configurations` go with kustomize's defaults */
    if (specs == common_label_specs && nspecs > 1 && apply_xspecs(L, &L->c->x_labels, pairs) != 0)
        return -1;
    if (specs == annotation_specs && apply_xspecs(L, &L->c->x_annotations, pairs) != 0)
        return -1;
    if (specs == template_label_specs && apply_xspecs(L, &L->c->x_template_labels, pairs) != 0)
        return -1;
    for (size_t i = 0; i < L->ra->n; i++) {
        struct res *r = L->ra->items[i];
        for (size_t s = 0; s < nspecs; s++) {
            if (!fspec_applies(&specs[s], r))
                continue;
            struct mapset ms = {pairs, specs[s].create};
            if (walk_path(L, r->obj, specs[s].path, specs[s].create, set_map_leaf, &ms) != 0)
                return -1;
        }
    }
    return 0;
}

#define NSPECS(a) (sizeof(a) / sizeof((a)[0]))

static int do_labels(struct layer *L)
{
    json_t *cl = json_object_get(L->k, "commonLabels"), *labels;
    if (cl != NULL) {
        json_t *m;
        if (kmap(L, cl, "commonLabels", &m) != 0)
            return -1;
        if (L->c->opts.warn)
            L->c->opts.warn(L->c->opts.warn_ctx,
                            "# Warning: 'commonLabels' is deprecated. Please use 'labels' "
                            "instead. Run 'kustomize edit fix' to update your Kustomization "
                            "automatically.");
        if (apply_map_specs(L, common_label_specs, NSPECS(common_label_specs), m) != 0)
            return -1;
    }
    if (klist(L, "labels", &labels) != 0)
        return -1;
    size_t i;
    json_t *e;
    json_array_foreach(labels, i, e)
    {
        json_t *pairs;
        if (!json_is_object(e))
            return sl_error_set(ERR(L->c), SL_EINVAL, "%s: labels entries must be mappings",
                                L->kfile);
        if (kmap(L, json_object_get(e, "pairs"), "labels.pairs", &pairs) != 0)
            return -1;
        if (pairs == NULL)
            continue;
        bool sel = json_is_true(json_object_get(e, "includeSelectors"));
        bool tmpl = json_is_true(json_object_get(e, "includeTemplates"));
        if (sel) {
            if (apply_map_specs(L, common_label_specs, NSPECS(common_label_specs), pairs) != 0)
                return -1;
        } else if (tmpl) {
            if (apply_map_specs(L, template_label_specs, NSPECS(template_label_specs), pairs) != 0)
                return -1;
        } else {
            if (apply_map_specs(L, common_label_specs, 1, pairs) != 0)
                return -1;
        }
        json_t *fields = json_object_get(e, "fields");
        if (json_is_array(fields)) {
            size_t j;
            json_t *f;
            json_array_foreach(fields, j, f)
            {
                struct fspec fs = {json_string_value(json_object_get(f, "group")),
                                   json_string_value(json_object_get(f, "version")),
                                   json_string_value(json_object_get(f, "kind")),
                                   json_string_value(json_object_get(f, "path")),
                                   json_is_true(json_object_get(f, "create"))};
                if (fs.path == NULL)
                    return sl_error_set(ERR(L->c), SL_EINVAL, "%s: labels.fields need a path",
                                        L->kfile);
                if (apply_map_specs(L, &fs, 1, pairs) != 0)
                    return -1;
            }
        }
    }
    return 0;
}

static int do_annotations(struct layer *L)
{
    json_t *m;
    if (kmap(L, json_object_get(L->k, "commonAnnotations"), "commonAnnotations", &m) != 0)
        return -1;
    if (m == NULL)
        return 0;
    return apply_map_specs(L, annotation_specs, NSPECS(annotation_specs), m);
}

/* ------------------------------------------------------- namespace & names */

static int ns_leaf(struct layer *L, json_t *parent, const char *key, void *arg)
{
    if (json_object_set(parent, key, arg) != 0)
        return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
    return 0;
}

static int do_namespace(struct layer *L)
{
    const char *ns = kstr(L, "namespace");
    if (ns == NULL || ns[0] == '\0')
        return 0;
    for (size_t k = 0; k < L->c->x_namespace.n; k++) {
        const struct xspec *x = &L->c->x_namespace.items[k];
        struct fspec fs = {x->group, x->version, x->kind, x->path, x->create};
        if (strcmp(x->path, "metadata/namespace") == 0)
            continue;
        for (size_t i = 0; i < L->ra->n; i++)
            if (fspec_applies(&fs, L->ra->items[i]) &&
                walk_path(L, L->ra->items[i]->obj, fs.path, fs.create, ns_leaf,
                          unconst(json_object_get(L->k, "namespace"))) != 0)
                return -1;
    }
    for (size_t i = 0; i < L->ra->n; i++) {
        struct res *r = L->ra->items[i];
        char g[128], v[128];
        res_group_version(r, g, sizeof(g), v, sizeof(v));
        const char *kind = res_kind(r);
        if ((strcmp(kind, "RoleBinding") == 0 || strcmp(kind, "ClusterRoleBinding") == 0)) {
            json_t *subs = json_object_get(r->obj, "subjects");
            size_t j;
            json_t *s;
            json_array_foreach(subs, j, s)
            {
                const char *sk = json_string_value(json_object_get(s, "kind"));
                const char *sn = json_string_value(json_object_get(s, "name"));
                if (sk && strcmp(sk, "ServiceAccount") == 0 && sn && strcmp(sn, "default") == 0)
                    json_object_set_new(s, "namespace", json_string(ns));
            }
        }
        if (strcmp(kind, "CustomResourceDefinition") == 0) {
            json_t *svc = json_object_get(
                    json_object_get(json_object_get(json_object_get(json_object_get(r->obj, "spec"),
                                                                    "conversion"),
                                                    "webhook"),
                                    "clientConfig"),
                    "service");
            if (json_is_object(svc) && json_object_get(svc, "namespace") != NULL)
                json_object_set_new(svc, "namespace", json_string(ns));
        }
        if (kind_is_cluster_scoped(g, kind)) {
            if (strcmp(kind, "Namespace") == 0 && g[0] == '\0' && strcmp(res_name(r), ns) != 0) {
                if (res_store_prev(r, ERR(L->c)) != 0 || res_set_name(r, ns, ERR(L->c)) != 0)
                    return -1;
            }
            continue;
        }
        if (strcmp(res_ns(r), ns) != 0) {
            if (res_store_prev(r, ERR(L->c)) != 0 || res_set_ns(r, ns, ERR(L->c)) != 0)
                return -1;
        }
    }
    return 0;
}

static int strv_push(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (nv == NULL)
        return -1;
    *v = nv;
    if ((nv[*n] = strdup(s)) == NULL)
        return -1;
    (*n)++;
    return 0;
}

static int do_prefix_suffix(struct layer *L, const char *prefix, const char *suffix,
                            const struct fspec *specs, size_t nspecs)
{
    if ((prefix == NULL || prefix[0] == '\0') && (suffix == NULL || suffix[0] == '\0'))
        return 0;
    for (size_t i = 0; i < L->ra->n; i++) {
        struct res *r = L->ra->items[i];
        const char *kind = res_kind(r);
        char g[128], v[128];
        res_group_version(r, g, sizeof(g), v, sizeof(v));
        const struct xspecs *xs = prefix && prefix[0] ? &L->c->x_prefix : &L->c->x_suffix;
        if (specs == NULL && xs->n > 0) {
            bool any = false;
            for (size_t k = 0; k < xs->n; k++) {
                struct fspec fs = {xs->items[k].group, xs->items[k].version, xs->items[k].kind,
                                   xs->items[k].path, false};
                if (fspec_applies(&fs, r))
                    any = true;
            }
            if (!any)
                continue;
        }
        if (specs != NULL) {
            bool any = false;
            for (size_t k = 0; k < nspecs; k++)
                if (strcmp(specs[k].path, "metadata/name") == 0 && fspec_applies(&specs[k], r))
                    any = true;
            if (!any)
                continue;
        }
        if (strcmp(kind, "CustomResourceDefinition") == 0 || strcmp(kind, "APIService") == 0 ||
            (strcmp(kind, "Namespace") == 0 && g[0] == '\0'))
            continue;
        const char *name = res_name(r);
        size_t len =
                strlen(name) + (prefix ? strlen(prefix) : 0) + (suffix ? strlen(suffix) : 0) + 1;
        char *nn = malloc(len);
        if (nn == NULL)
            return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
        snprintf(nn, len, "%s%s%s", prefix ? prefix : "", name, suffix ? suffix : "");
        int rc = res_store_prev(r, ERR(L->c));
        if (rc == 0)
            rc = res_set_name(r, nn, ERR(L->c));
        free(nn);
        if (rc != 0)
            return -1;
        if (prefix && prefix[0] && strv_push(&r->prefixes, &r->nprefixes, prefix) != 0)
            return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
        if (suffix && suffix[0] && strv_push(&r->suffixes, &r->nsuffixes, suffix) != 0)
            return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
    }
    return 0;
}

/* ---------------------------------------------------------------- replicas */

static int set_count_leaf(struct layer *L, json_t *parent, const char *key, void *arg)
{
    (void)L;
    json_object_set(parent, key, arg);
    return 0;
}

/*
 * kustomize's ReplicaCountTransformer: spec/replicas of Deployment,
 * ReplicationController, ReplicaSet and StatefulSet (created when absent),
 * plus custom `replicas` field specs from `configurations`. A name that
 * matches none of those kinds is an error, as in kustomize.
 */
static int do_replicas(struct layer *L)
{
    json_t *list;
    size_t i;
    json_t *e;
    static const char *const kinds[] = {"Deployment", "ReplicationController", "ReplicaSet",
                                        "StatefulSet", NULL};
    if (klist(L, "replicas", &list) != 0)
        return -1;
    json_array_foreach(list, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        json_t *count = json_object_get(e, "count");
        bool found = false;
        if (name == NULL || !json_is_integer(count))
            return sl_error_set(ERR(L->c), SL_EINVAL,
                                "%s: replicas entries need a name and an integer count", L->kfile);
        for (size_t j = 0; j < L->ra->n; j++) {
            struct res *r = L->ra->items[j];
            if (!res_any_id_matches(r, NULL, name, "", false))
                continue;
            for (size_t k = 0; kinds[k]; k++) {
                struct fspec fs = {NULL, NULL, kinds[k], "spec/replicas", true};
                if (!fspec_applies(&fs, r))
                    continue;
                if (walk_path(L, r->obj, fs.path, true, set_count_leaf, count) != 0)
                    return -1;
                found = true;
            }
            for (size_t k = 0; k < L->c->x_replicas.n; k++) {
                const struct xspec *x = &L->c->x_replicas.items[k];
                struct fspec fs = {x->group, x->version, x->kind, x->path, x->create};
                if (!fspec_applies(&fs, r))
                    continue;
                if (walk_path(L, r->obj, fs.path, fs.create, set_count_leaf, count) != 0)
                    return -1;
                found = true;
            }
        }
        if (!found)
            return sl_error_set(
                    ERR(L->c), SL_ENOTFOUND,
                    "%s: replicas: no Deployment, ReplicationController, ReplicaSet "
                    "or StatefulSet%s named \"%s\"",
                    L->kfile, L->c->x_replicas.n > 0 ? " (or kind from configurations)" : "", name);
    }
    return 0;
}

/* ------------------------------------------------------------------ images */

struct image_rule {
    const char *name, *newName, *newTag, *digest, *tagSuffix;
};

static void split_image(const char *img, char *name, size_t nl, char *tag, size_t tl, char *dig,
                        size_t dl)
{
    const char *search = img;
    size_t slash = 0;
    const char *s = strchr(img, '/');
    if (s != NULL && s > img) {
        slash = (size_t)(s - img);
        search = s;
    }
    const char *at = strchr(search, '@'), *colon = strchr(search, ':');
    tag[0] = dig[0] = '\0';
    if (colon == NULL && at == NULL) {
        snprintf(name, nl, "%s", img);
        return;
    }
    if (at != NULL && (colon == NULL || at < colon)) {
        snprintf(name, nl, "%.*s", (int)(at - img), img);
        snprintf(dig, dl, "%s", at + 1);
        return;
    }
    (void)slash;
    snprintf(name, nl, "%.*s", (int)(colon - img), img);
    if (at != NULL) {
        snprintf(tag, tl, "%.*s", (int)(at - colon - 1), colon + 1);
        snprintf(dig, dl, "%s", at + 1);
    } else {
        snprintf(tag, tl, "%s", colon + 1);
    }
}

static int update_image_at(struct layer *L, json_t *container, const char *key,
                           const struct image_rule *rule)
{
    json_t *iv = json_object_get(container, key);
    const char *img = json_string_value(iv);
    char pat[1024];
    bool m = false;
    if (img == NULL)
        return 0;
    if (strpbrk(rule->name, "[]()*+?{}|^$\\") == NULL) {
        /* the common case without a regex engine: NAME (dots match anything), then an
         * optional :tag and @sha256:digest */
        size_t nl = strlen(rule->name);
        m = strlen(img) >= nl;
        for (size_t i = 0; m && i < nl; i++)
            if (rule->name[i] != '.' && rule->name[i] != img[i])
                m = false;
        if (m) {
            const char *p = img + nl;
            if (*p == ':') {
                p++;
                while (*p && (isalnum((unsigned char)*p) || strchr("_.{}-", *p)))
                    p++;
            }
            if (strncmp(p, "@sha256:", 8) == 0) {
                p += 8;
                while (*p && isalnum((unsigned char)*p))
                    p++;
            }
            m = *p == '\0';
        }
    } else {
        snprintf(pat, sizeof(pat), "%s(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9]*)?", rule->name);
        if (regex_full_match(L->c, pat, img, &m) != 0)
            return sl_error_wrap(ERR(L->c), "%s: images", L->kfile);
    }
    if (!m)
        return 0;
    char name[1024], tag[512], dig[512], out[2200];
    split_image(img, name, sizeof(name), tag, sizeof(tag), dig, sizeof(dig));
    if (rule->newName && rule->newName[0])
        snprintf(name, sizeof(name), "%s", rule->newName);
    if (rule->newTag && rule->newTag[0] && rule->digest && rule->digest[0]) {
        snprintf(tag, sizeof(tag), "%s", rule->newTag);
        snprintf(dig, sizeof(dig), "%s", rule->digest);
    } else if (rule->newTag && rule->newTag[0]) {
        snprintf(tag, sizeof(tag), "%s", rule->newTag);
        dig[0] = '\0';
    } else if (rule->digest && rule->digest[0]) {
        tag[0] = '\0';
        snprintf(dig, sizeof(dig), "%s", rule->digest);
    }
    if (rule->tagSuffix && rule->tagSuffix[0])
        snprintf(tag + strlen(tag), sizeof(tag) - strlen(tag), "%s", rule->tagSuffix);
    snprintf(out, sizeof(out), "%s%s%s%s%s", name, tag[0] ? ":" : "", tag, dig[0] ? "@" : "", dig);
    return json_object_set_new(container, key, rl_intern_string(&L->c->intern, out)) == 0
                   ? 0
                   : sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
}

static int walk_images(struct layer *L, json_t *node, const struct image_rule *rule, int depth)
{
    if (depth > 100)
        return 0;
    if (json_is_array(node)) {
        size_t i;
        json_t *e;
        json_array_foreach(node, i, e)
        {
            if (walk_images(L, e, rule, depth + 1) != 0)
                return -1;
        }
        return 0;
    }
    if (!json_is_object(node))
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach(node, k, v)
    {
        if ((strcmp(k, "containers") == 0 || strcmp(k, "initContainers") == 0) &&
            json_is_array(v)) {
            size_t i;
            json_t *ct;
            json_array_foreach(v, i, ct)
            {
                if (json_is_object(ct) && update_image_at(L, ct, "image", rule) != 0)
                    return -1;
            }
        }
        if (walk_images(L, v, rule, depth + 1) != 0)
            return -1;
    }
    return 0;
}

static int image_leaf(struct layer *L, json_t *parent, const char *key, void *arg)
{
    return update_image_at(L, parent, key, arg);
}

static int do_images(struct layer *L)
{
    json_t *list;
    size_t i;
    json_t *e;
    if (klist(L, "images", &list) != 0)
        return -1;
    json_array_foreach(list, i, e)
    {
        struct image_rule rule = {
                json_string_value(json_object_get(e, "name")),
                json_string_value(json_object_get(e, "newName")),
                json_string_value(json_object_get(e, "newTag")),
                json_string_value(json_object_get(e, "digest")),
                json_string_value(json_object_get(e, "tagSuffix")),
        };
        if (rule.name == NULL)
            return sl_error_set(ERR(L->c), SL_EINVAL, "%s: images entries need a name", L->kfile);
        if (json_object_get(e, "newTag") && rule.newTag == NULL)
            return sl_error_set(ERR(L->c), SL_EINVAL,
                                "%s: images: newTag of \"%s\" must be a string (quote it)",
                                L->kfile, rule.name);
        for (size_t j = 0; j < L->ra->n; j++) {
            struct res *r = L->ra->items[j];
            if (strcmp(res_kind(r), "CustomResourceDefinition") == 0)
                continue;
            if (walk_images(L, r->obj, &rule, 0) != 0)
                return -1;
            const struct xspecs *x = &L->c->x_images;
            for (size_t k = 0; k < x->n; k++) {
                struct fspec fs = {x->items[k].group, x->items[k].version, x->items[k].kind,
                                   x->items[k].path, false};
                if (fspec_applies(&fs, r) &&
                    walk_path(L, r->obj, fs.path, false, image_leaf, &rule) != 0)
                    return -1;
            }
        }
    }
    return 0;
}

/* ----------------------------------------------------------------- patches */

struct target {
    const char *group, *version, *kind, *name, *ns, *labelSelector, *annotationSelector;
};

static int rx(struct layer *L, const char *pat, const char *s, bool *m)
{
    if (pat == NULL) {
        *m = true;
        return 0;
    }
    if (regex_full_match(L->c, pat, s, m) != 0)
        return sl_error_wrap(ERR(L->c), "%s: patch target", L->kfile);
    return 0;
}

static int target_selects(struct layer *L, const struct target *t, const struct res *r, bool *sel)
{
    char g[128], v[128];
    bool m1, m2;
    *sel = false;
    res_group_version(r, g, sizeof(g), v, sizeof(v));
    if (rx(L, t->group, g, &m1) != 0 || !m1)
        return ERR(L->c)->code ? -1 : 0;
    if (rx(L, t->version, v, &m1) != 0 || !m1)
        return ERR(L->c)->code ? -1 : 0;
    if (rx(L, t->kind, res_kind(r), &m1) != 0 || rx(L, t->kind, r->orig.kind, &m2) != 0)
        return -1;
    if (!m1 && !m2)
        return 0;
    if (rx(L, t->name, res_name(r), &m1) != 0 || rx(L, t->name, r->orig.name, &m2) != 0)
        return -1;
    if (!m1 && !m2)
        return 0;
    if (t->ns) {
        const char *cur = res_ns(r), *org = r->orig.ns;
        if (rx(L, t->ns, cur[0] ? cur : "default", &m1) != 0 ||
            rx(L, t->ns, org[0] ? org : "default", &m2) != 0)
            return -1;
        if (!m1 && !m2) {
            if (rx(L, t->ns, cur, &m1) != 0 || rx(L, t->ns, org, &m2) != 0)
                return -1;
            if (!m1 && !m2)
                return 0;
        }
    }
    if (t->labelSelector) {
        const json_t *lab = json_object_get(json_object_get(r->obj, "metadata"), "labels");
        if (label_selector_match(t->labelSelector, lab, &m1, ERR(L->c)) != 0)
            return sl_error_wrap(ERR(L->c), "%s", L->kfile);
        if (!m1)
            return 0;
    }
    if (t->annotationSelector) {
        const json_t *ann = json_object_get(json_object_get(r->obj, "metadata"), "annotations");
        if (label_selector_match(t->annotationSelector, ann, &m1, ERR(L->c)) != 0)
            return sl_error_wrap(ERR(L->c), "%s", L->kfile);
        if (!m1)
            return 0;
    }
    *sel = true;
    return 0;
}

static int parse_target(struct layer *L, const json_t *t, struct target *out)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(t))
        return sl_error_set(ERR(L->c), SL_EINVAL, "%s: patch target must be a mapping", L->kfile);
    out->group = json_string_value(json_object_get(t, "group"));
    out->version = json_string_value(json_object_get(t, "version"));
    out->kind = json_string_value(json_object_get(t, "kind"));
    out->name = json_string_value(json_object_get(t, "name"));
    out->ns = json_string_value(json_object_get(t, "namespace"));
    out->labelSelector = json_string_value(json_object_get(t, "labelSelector"));
    out->annotationSelector = json_string_value(json_object_get(t, "annotationSelector"));
    if (out->group && !out->group[0])
        out->group = NULL;
    if (out->version && !out->version[0])
        out->version = NULL;
    if (out->kind && !out->kind[0])
        out->kind = NULL;
    if (out->name && !out->name[0])
        out->name = NULL;
    if (out->ns && !out->ns[0])
        out->ns = NULL;
    if (out->labelSelector && !out->labelSelector[0])
        out->labelSelector = NULL;
    if (out->annotationSelector && !out->annotationSelector[0])
        out->annotationSelector = NULL;
    return 0;
}

static bool kind_has_schema(const struct res *r)
{
    char g[128], v[128];
    static const char *const groups[] = {"",
                                         "apps",
                                         "batch",
                                         "extensions",
                                         "policy",
                                         "networking.k8s.io",
                                         "rbac.authorization.k8s.io",
                                         "autoscaling",
                                         "storage.k8s.io",
                                         "scheduling.k8s.io",
                                         "admissionregistration.k8s.io",
                                         "apiextensions.k8s.io",
                                         "coordination.k8s.io",
                                         "discovery.k8s.io",
                                         "node.k8s.io",
                                         "certificates.k8s.io",
                                         NULL};
    res_group_version(r, g, sizeof(g), v, sizeof(v));
    for (size_t i = 0; groups[i]; i++)
        if (strcmp(groups[i], g) == 0)
            return true;
    return false;
}

static int count_patch(struct layer *L)
{
    if (++L->c->npatches > L->c->opts.max_patches)
        return sl_error_set(ERR(L->c), SL_ETOOLARGE, "%s: more than %zu patches applied", L->kfile,
                            L->c->opts.max_patches);
    return 0;
}

/* Apply one SMP document to resource index i; removes it when the patch deletes it. */
static int smp_one(struct layer *L, size_t *i, const json_t *patch, const char *pname,
                   bool allow_name, bool allow_kind)
{
    struct res *r = L->ra->items[*i];
    char *name = strdup(res_name(r)), *kind = strdup(res_kind(r)), *ns = strdup(res_ns(r));
    bool had_ns = json_object_get(json_object_get(r->obj, "metadata"), "namespace") != NULL;
    bool deleted = false;
    int rc = -1;
    /*
     * Only the top level and metadata are edited below, and the merge never
     * changes the patch: copy those two maps and share the rest (the patch
     * applies to thousands of objects; a deep copy each time cost memory).
     */
    json_t *p = json_copy(unconst(patch));
    json_t *pmd = json_object_get(patch, "metadata");
    if (json_is_object(pmd) && p != NULL &&
        json_object_set_new(p, "metadata", json_copy(pmd)) != 0) {
        json_decref(p);
        p = NULL;
    }
    if (name == NULL || kind == NULL || ns == NULL || p == NULL) {
        sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
        goto done;
    }
    if (count_patch(L) != 0)
        goto done;
    /* the patch's identity never changes the target's, unless allowed */
    json_object_del(p, "apiVersion");
    if (!allow_kind)
        json_object_del(p, "kind");
    pmd = json_object_get(p, "metadata");
    if (json_is_object(pmd)) {
        if (!allow_name)
            json_object_del(pmd, "name");
        json_object_del(pmd, "namespace");
    }
    if ((allow_name || allow_kind) && res_store_prev(r, ERR(L->c)) != 0)
        goto done;
    if (smp_apply(&r->obj, p, kind, kind_has_schema(r), &deleted, ERR(L->c)) != 0) {
        sl_error_wrap(ERR(L->c), "%s", pname);
        goto done;
    }
    if (deleted || json_object_size(r->obj) == 0) {
        resmap_remove_at(L->ra, *i);
        (*i)--;
        rc = 0;
        goto done;
    }
    if (!had_ns)
        json_object_del(json_object_get(r->obj, "metadata"), "namespace");
    else
        res_set_ns(r, ns, ERR(L->c));
    rc = 0;
done:
    json_decref(p);
    free(name);
    free(kind);
    free(ns);
    return rc;
}

/* Load a patch given as path (file) or inline text. Returns docs as JSON array. */
static int load_patch(struct layer *L, const char *path, const char *inline_text, json_t **docs_out,
                      char **name_out)
{
    struct sl_buf data = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct sl_ystream *ys = NULL;
    char *pname = NULL;
    json_t *docs = NULL;
    int rc = -1;
    const char *text;
    size_t len;

    if (path != NULL) {
        if (read_rel_file(L, path, &data, &pname) != 0)
            goto done;
        text = data.ptr;
        len = data.len;
    } else {
        text = inline_text;
        len = strlen(inline_text);
        size_t nl = strlen(L->kfile) + 32;
        pname = malloc(nl);
        if (pname)
            snprintf(pname, nl, "%s (inline patch)", L->kfile);
    }
    if (pname == NULL) {
        sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
        goto done;
    }
    if (rl_load_docs(L->c, pname, text, len, false, &ys) != 0)
        goto done;
    if ((docs = json_array()) == NULL)
        goto done;
    for (size_t d = 0; d < ys->ndocs; d++) {
        if (ys->docs[d].root == NULL)
            continue;
        json_t *j = rl_yaml_to_json(ys->docs[d].root, false, pname, NULL, ERR(L->c));
        if (j == NULL)
            goto done;
        if (json_is_null(j)) {
            json_decref(j);
            continue;
        }
        json_array_append_new(docs, j);
    }
    *docs_out = docs;
    docs = NULL;
    *name_out = pname;
    pname = NULL;
    rc = 0;
done:
    json_decref(docs);
    free(pname);
    sl_ystream_free(ys);
    sl_buf_release(&data);
    return rc;
}

static int smp_by_id(struct layer *L, const json_t *doc, const char *pname)
{
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const json_t *md = json_object_get(doc, "metadata");
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *av = json_string_value(json_object_get(doc, "apiVersion"));
    size_t match = (size_t)-1, n = 0;
    if (kind == NULL || name == NULL)
        return sl_error_set(ERR(L->c), SL_EINVAL,
                            "%s: a strategic merge patch without target needs kind and "
                            "metadata.name",
                            pname);
    for (size_t i = 0; i < L->ra->n; i++) {
        struct res *r = L->ra->items[i];
        if (av != NULL && strcmp(av, res_apiversion(r)) != 0) {
            /* same group is enough: versions of one kind are interchangeable here */
            const char *s1 = strchr(av, '/'), *s2 = strchr(res_apiversion(r), '/');
            size_t g1 = s1 ? (size_t)(s1 - av) : 0, g2 = s2 ? (size_t)(s2 - res_apiversion(r)) : 0;
            if (g1 != g2 || strncmp(av, res_apiversion(r), g1) != 0)
                continue;
        }
        if (res_any_id_matches(r, kind, name, ns ? ns : "", true)) {
            match = i;
            n++;
        }
    }
    if (n == 0)
        return sl_error_set(ERR(L->c), SL_ENOTFOUND,
                            "%s: no resource matches strategic merge patch \"%s %s\"", pname, kind,
                            name);
    if (n > 1)
        return sl_error_set(ERR(L->c), SL_ECONFLICT,
                            "%s: multiple resources match strategic merge patch \"%s %s\"", pname,
                            kind, name);
    return smp_one(L, &match, doc, pname, false, false);
}

static bool is_json_patch(const json_t *docs)
{
    if (json_array_size(docs) != 1)
        return false;
    return json_is_array(json_array_get(docs, 0));
}

static int apply_json_patch_target(struct layer *L, const struct target *t, const json_t *ops,
                                   const char *pname)
{
    for (size_t i = 0; i < L->ra->n; i++) {
        struct res *r = L->ra->items[i];
        bool sel;
        if (target_selects(L, t, r, &sel) != 0)
            return -1;
        if (!sel)
            continue;
        if (count_patch(L) != 0)
            return -1;
        if (jsonpatch_apply(&r->obj, ops, pname, ERR(L->c)) != 0) {
            char id[512];
            res_describe(r, id, sizeof(id));
            return sl_error_wrap(ERR(L->c), "applying to %s", id);
        }
        if (!json_is_object(r->obj))
            return sl_error_set(ERR(L->c), SL_EINVAL, "%s: patch left a non-object", pname);
    }
    return 0;
}

static int do_patches_sm(struct layer *L)
{
    json_t *list;
    size_t i;
    json_t *e;
    if (klist(L, "patchesStrategicMerge", &list) != 0)
        return -1;
    if (list && L->c->opts.warn)
        L->c->opts.warn(L->c->opts.warn_ctx,
                        "# Warning: 'patchesStrategicMerge' is deprecated. Please use 'patches' "
                        "instead. Run 'kustomize edit fix' to update your Kustomization "
                        "automatically.");
    json_array_foreach(list, i, e)
    {
        const char *s = json_string_value(e);
        json_t *docs = NULL;
        char *pname = NULL;
        int rc;
        if (s == NULL)
            return sl_error_set(ERR(L->c), SL_EINVAL,
                                "%s: patchesStrategicMerge entries must be strings", L->kfile);
        bool inl = strchr(s, '\n') != NULL || strchr(s, ':') != NULL;
        if (load_patch(L, inl ? NULL : s, inl ? s : NULL, &docs, &pname) != 0)
            return -1;
        rc = 0;
        for (size_t d = 0; d < json_array_size(docs) && rc == 0; d++)
            rc = smp_by_id(L, json_array_get(docs, d), pname);
        json_decref(docs);
        free(pname);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int do_patches(struct layer *L)
{
    json_t *list;
    size_t i;
    json_t *e;
    if (klist(L, "patches", &list) != 0)
        return -1;
    json_array_foreach(list, i, e)
    {
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *text = json_string_value(json_object_get(e, "patch"));
        json_t *tj = json_object_get(e, "target"), *opts = json_object_get(e, "options");
        bool allow_name = json_is_true(json_object_get(opts, "allowNameChange"));
        bool allow_kind = json_is_true(json_object_get(opts, "allowKindChange"));
        struct target t;
        json_t *docs = NULL;
        char *pname = NULL;
        int rc = -1;
        if (!json_is_object(e) || (path == NULL) == (text == NULL))
            return sl_error_set(ERR(L->c), SL_EINVAL,
                                "%s: each patches entry needs exactly one of path or patch",
                                L->kfile);
        if (tj != NULL && parse_target(L, tj, &t) != 0)
            return -1;
        if (load_patch(L, path, text, &docs, &pname) != 0)
            return -1;
        if (is_json_patch(docs)) {
            if (tj == NULL) {
                sl_error_set(ERR(L->c), SL_EINVAL, "%s: a JSON 6902 patch needs a target", pname);
                goto next;
            }
            rc = apply_json_patch_target(L, &t, json_array_get(docs, 0), pname);
        } else if (tj == NULL) {
            rc = 0;
            for (size_t d = 0; d < json_array_size(docs) && rc == 0; d++) {
                const json_t *doc = json_array_get(docs, d);
                if (!json_is_object(doc)) {
                    rc = sl_error_set(ERR(L->c), SL_EINVAL, "%s: patch must be a mapping", pname);
                    break;
                }
                if (allow_name || allow_kind) {
                    /* same as smp_by_id but keeping name/kind */
                    const char *kind = json_string_value(json_object_get(doc, "kind"));
                    const char *name = json_string_value(
                            json_object_get(json_object_get(doc, "metadata"), "name"));
                    size_t m = (size_t)-1, n = 0;
                    for (size_t k = 0; k < L->ra->n; k++)
                        if (kind && name &&
                            res_any_id_matches(L->ra->items[k], kind, name, "", false)) {
                            m = k;
                            n++;
                        }
                    if (n != 1) {
                        rc = sl_error_set(ERR(L->c), SL_ENOTFOUND,
                                          "%s: patch must match exactly one resource", pname);
                        break;
                    }
                    rc = smp_one(L, &m, doc, pname, allow_name, allow_kind);
                } else {
                    rc = smp_by_id(L, doc, pname);
                }
            }
        } else {
            if (json_array_size(docs) != 1) {
                sl_error_set(ERR(L->c), SL_EINVAL,
                             "%s: a patch with a target must hold exactly one document", pname);
                goto next;
            }
            const json_t *doc = json_array_get(docs, 0);
            if (!json_is_object(doc)) {
                sl_error_set(ERR(L->c), SL_EINVAL, "%s: patch must be a mapping", pname);
                goto next;
            }
            rc = 0;
            for (size_t k = 0; k < L->ra->n && rc == 0; k++) {
                bool sel;
                if (target_selects(L, &t, L->ra->items[k], &sel) != 0) {
                    rc = -1;
                    break;
                }
                if (sel)
                    rc = smp_one(L, &k, doc, pname, allow_name, allow_kind);
            }
        }
    next:
        json_decref(docs);
        free(pname);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int do_patches_json6902(struct layer *L)
{
    json_t *list;
    size_t i;
    json_t *e;
    if (klist(L, "patchesJson6902", &list) != 0)
        return -1;
    if (list && L->c->opts.warn)
        L->c->opts.warn(L->c->opts.warn_ctx,
                        "# Warning: 'patchesJson6902' is deprecated. Please use 'patches' "
                        "instead. Run 'kustomize edit fix' to update your Kustomization "
                        "automatically.");
    json_array_foreach(list, i, e)
    {
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *text = json_string_value(json_object_get(e, "patch"));
        struct target t;
        json_t *docs = NULL;
        char *pname = NULL;
        int rc;
        if ((path == NULL) == (text == NULL))
            return sl_error_set(ERR(L->c), SL_EINVAL,
                                "%s: each patchesJson6902 entry needs exactly one of path or "
                                "patch",
                                L->kfile);
        if (parse_target(L, json_object_get(e, "target"), &t) != 0)
            return -1;
        if (load_patch(L, path, text, &docs, &pname) != 0)
            return -1;
        if (!is_json_patch(docs)) {
            rc = sl_error_set(ERR(L->c), SL_EINVAL,
                              "%s: not a JSON 6902 patch (a list of "
                              "operations)",
                              pname);
        } else {
            rc = apply_json_patch_target(L, &t, json_array_get(docs, 0), pname);
        }
        json_decref(docs);
        free(pname);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------- vars */

static int collect_vars(struct layer *L)
{
    json_t *list;
    size_t i;
    json_t *e;
    if (klist(L, "vars", &list) != 0)
        return -1;
    json_array_foreach(list, i, e)
    {
        const json_t *obj = json_object_get(e, "objref");
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *fp =
                json_string_value(json_object_get(json_object_get(e, "fieldref"), "fieldpath"));
        if (name == NULL || !json_is_object(obj))
            return sl_error_set(ERR(L->c), SL_EINVAL, "%s: vars need a name and an objref",
                                L->kfile);
        for (size_t j = 0; j < L->c->vars.n; j++)
            if (strcmp(L->c->vars.items[j].name, name) == 0)
                return sl_error_set(ERR(L->c), SL_ECONFLICT, "%s: var '%s' already encountered",
                                    L->kfile, name);
        if (L->c->vars.n == L->c->vars.cap) {
            size_t nc = L->c->vars.cap ? L->c->vars.cap * 2 : 8;
            struct kvar *it = realloc(L->c->vars.items, nc * sizeof(*it));
            if (it == NULL)
                return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
            L->c->vars.items = it;
            L->c->vars.cap = nc;
        }
        struct kvar *v = &L->c->vars.items[L->c->vars.n];
        memset(v, 0, sizeof(*v));
        const char *kind = json_string_value(json_object_get(obj, "kind"));
        const char *av = json_string_value(json_object_get(obj, "apiVersion"));
        const char *on = json_string_value(json_object_get(obj, "name"));
        const char *ons = json_string_value(json_object_get(obj, "namespace"));
        v->name = strdup(name);
        v->kind = strdup(kind ? kind : "");
        v->apiversion = av ? strdup(av) : NULL;
        v->objname = strdup(on ? on : "");
        v->objns = ons ? strdup(ons) : NULL;
        v->fieldpath = strdup(fp ? fp : "metadata.name");
        L->c->vars.n++;
        if (!v->name || !v->kind || !v->objname || !v->fieldpath)
            return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
        /* the var names the object it matches now, in this layer */
        struct res *found = NULL;
        size_t nfound = 0;
        for (size_t j = 0; j < L->ra->n; j++) {
            struct res *r = L->ra->items[j];
            if (!res_any_id_matches(r, v->kind, v->objname, v->objns ? v->objns : "",
                                    v->objns != NULL))
                continue;
            if (v->apiversion) {
                const char *rav = res_apiversion(r);
                const char *s1 = strchr(v->apiversion, '/'), *s2 = strchr(rav, '/');
                size_t g1 = s1 ? (size_t)(s1 - v->apiversion) : 0, g2 = s2 ? (size_t)(s2 - rav) : 0;
                if (g1 != g2 || strncmp(v->apiversion, rav, g1) != 0)
                    continue;
            }
            found = r;
            nfound++;
        }
        if (nfound != 1)
            return sl_error_set(ERR(L->c), nfound ? SL_ECONFLICT : SL_ENOTFOUND,
                                "%s: var '%s' cannot be mapped to a field: %s %s %s", L->kfile,
                                name, nfound ? "multiple objects match" : "no object matches",
                                v->kind, v->objname);
        if (strv_push(&found->varnames, &found->nvarnames, name) != 0)
            return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
    }
    L->c->has_vars = L->c->has_vars || L->c->vars.n > 0;
    return 0;
}

/* ------------------------------------------------------------ the layer */

/* ------------------------------------------------------- builtin plugins */

/*
 * `generators:` and `transformers:` entries that configure kustomize's
 * built-in plugins (apiVersion: builtin) run through the same code as the
 * fields; anything else is an exec or KRM-function plugin and is refused.
 */

static int parse_fieldspecs(struct layer *L, const json_t *arr, const char *where,
                            struct fspec **out, size_t *n)
{
    size_t i;
    json_t *e;
    *out = NULL;
    *n = 0;
    if (arr == NULL)
        return 0;
    if (!json_is_array(arr))
        return sl_error_set(ERR(L->c), SL_EINVAL, "%s: fieldSpecs must be a list", where);
    *out = calloc(json_array_size(arr) + 1, sizeof(**out));
    if (*out == NULL)
        return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
    json_array_foreach(arr, i, e)
    {
        struct fspec *f = &(*out)[*n];
        f->path = json_string_value(json_object_get(e, "path"));
        f->kind = json_string_value(json_object_get(e, "kind"));
        f->group = json_string_value(json_object_get(e, "group"));
        f->version = json_string_value(json_object_get(e, "version"));
        f->create = json_is_true(json_object_get(e, "create"));
        if (f->path == NULL) {
            free(*out);
            *out = NULL;
            return sl_error_set(ERR(L->c), SL_EINVAL, "%s: every fieldSpec needs a path", where);
        }
        (*n)++;
    }
    return 0;
}

/* Run a do_* step on a synthetic kustomization holding one field. */
static int with_field(struct layer *L, const char *field, json_t *value,
                      int (*step)(struct layer *))
{
    struct layer L2 = *L;
    int rc;
    L2.k = json_object();
    if (L2.k == NULL || value == NULL) {
        json_decref(L2.k);
        json_decref(value);
        return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
    }
    json_object_set_new(L2.k, field, value);
    rc = step(&L2);
    json_decref(L2.k);
    return rc;
}

static int do_prefix_only(struct layer *L)
{
    return do_prefix_suffix(L, kstr(L, "namePrefix"), NULL, NULL, 0);
}

static int do_suffix_only(struct layer *L)
{
    return do_prefix_suffix(L, NULL, kstr(L, "nameSuffix"), NULL, 0);
}

static int run_plugin(struct layer *L, const json_t *cfg, const char *cfg_file, bool generator)
{
    const char *av = json_string_value(json_object_get(cfg, "apiVersion"));
    const char *kind = json_string_value(json_object_get(cfg, "kind"));
    const char *pname =
            json_string_value(json_object_get(json_object_get(cfg, "metadata"), "name"));
    struct fspec *specs = NULL;
    size_t nspecs = 0;
    int rc = -1;

    if (kind == NULL)
        return sl_error_set(ERR(L->c), SL_EINVAL, "%s: a plugin configuration needs a kind",
                            cfg_file);
    if (av == NULL || strcmp(av, "builtin") != 0)
        return sl_error_set(ERR(L->c), SL_EUNSUPPORTED,
                            "%s: plugin %s (apiVersion %s) is an exec or KRM function plugin; "
                            "sluice runs only kustomize's built-in plugins (apiVersion: builtin)",
                            cfg_file, kind, av ? av : "unset");
    if (parse_fieldspecs(L, json_object_get(cfg, "fieldSpecs"), cfg_file, &specs, &nspecs) != 0)
        return -1;
    if (strcmp(kind, "ConfigMapGenerator") == 0 || strcmp(kind, "SecretGenerator") == 0) {
        static const char *const keep[] = {"namespace", "behavior", "literals", "files", "envs",
                                           "env",       "options",  "type",     NULL};
        json_t *g = json_object();
        const char *name = json_string_value(json_object_get(cfg, "name"));
        if (g == NULL)
            goto oom;
        for (size_t i = 0; keep[i]; i++)
            if (json_object_get(cfg, keep[i]))
                json_object_set(g, keep[i], json_object_get(cfg, keep[i]));
        if (!json_object_get(g, "namespace") &&
            json_object_get(json_object_get(cfg, "metadata"), "namespace"))
            json_object_set(g, "namespace",
                            json_object_get(json_object_get(cfg, "metadata"), "namespace"));
        rc = generate(L, g, kind[0] == 'S', cfg_file, pname, name ? name : pname);
        json_decref(g);
    } else if (generator) {
        rc = sl_error_set(ERR(L->c), SL_EUNSUPPORTED, "%s: %s is not a generator sluice supports",
                          cfg_file, kind);
    } else if (strcmp(kind, "PrefixSuffixTransformer") == 0) {
        rc = do_prefix_suffix(L, json_string_value(json_object_get(cfg, "prefix")),
                              json_string_value(json_object_get(cfg, "suffix")),
                              nspecs ? specs : NULL, nspecs);
    } else if (strcmp(kind, "PrefixTransformer") == 0) {
        rc = with_field(L, "namePrefix", json_incref(json_object_get(cfg, "prefix")),
                        do_prefix_only);
    } else if (strcmp(kind, "SuffixTransformer") == 0) {
        rc = with_field(L, "nameSuffix", json_incref(json_object_get(cfg, "suffix")),
                        do_suffix_only);
    } else if (strcmp(kind, "LabelTransformer") == 0 ||
               strcmp(kind, "AnnotationsTransformer") == 0) {
        json_t *m = json_object_get(cfg, kind[0] == 'L' ? "labels" : "annotations");
        rc = 0;
        if (json_is_object(m))
            rc = apply_map_specs(L, specs, nspecs, m);
    } else if (strcmp(kind, "NamespaceTransformer") == 0) {
        json_t *ns = json_object_get(json_object_get(cfg, "metadata"), "namespace");
        rc = ns ? with_field(L, "namespace", json_incref(ns), do_namespace) : 0;
    } else if (strcmp(kind, "ImageTagTransformer") == 0) {
        json_t *it = json_object_get(cfg, "imageTag");
        rc = it ? with_field(L, "images", json_pack("[O]", it), do_images) : 0;
    } else if (strcmp(kind, "ReplicaCountTransformer") == 0) {
        json_t *rp = json_object_get(cfg, "replica");
        rc = rp ? with_field(L, "replicas", json_pack("[O]", rp), do_replicas) : 0;
    } else if (strcmp(kind, "PatchTransformer") == 0) {
        json_t *e = json_object();
        static const char *const keep[] = {"path", "patch", "target", "options", NULL};
        if (e == NULL)
            goto oom;
        for (size_t i = 0; keep[i]; i++)
            if (json_object_get(cfg, keep[i]))
                json_object_set(e, keep[i], json_object_get(cfg, keep[i]));
        rc = with_field(L, "patches", json_pack("[o]", e), do_patches);
    } else if (strcmp(kind, "PatchStrategicMergeTransformer") == 0) {
        json_t *list = json_array();
        json_t *paths = json_object_get(cfg, "paths");
        const char *inl = json_string_value(json_object_get(cfg, "patches"));
        size_t i;
        json_t *p;
        if (list == NULL)
            goto oom;
        json_array_foreach(paths, i, p)
        {
            json_array_append(list, p);
        }
        if (inl)
            json_array_append_new(list, json_string(inl));
        rc = with_field(L, "patchesStrategicMerge", list, do_patches_sm);
    } else if (strcmp(kind, "PatchJson6902Transformer") == 0) {
        json_t *e = json_object();
        if (e == NULL)
            goto oom;
        if (json_object_get(cfg, "target"))
            json_object_set(e, "target", json_object_get(cfg, "target"));
        if (json_object_get(cfg, "path"))
            json_object_set(e, "path", json_object_get(cfg, "path"));
        if (json_object_get(cfg, "jsonOp"))
            json_object_set(e, "patch", json_object_get(cfg, "jsonOp"));
        rc = with_field(L, "patchesJson6902", json_pack("[o]", e), do_patches_json6902);
    } else if (strcmp(kind, "ReplacementTransformer") == 0) {
        json_t *list = json_object_get(cfg, "replacements");
        rc = json_is_array(list) ? replacements_apply(L->c, cfg_file, list, L->ra) : 0;
    } else {
        rc = sl_error_set(ERR(L->c), SL_EUNSUPPORTED,
                          "%s: built-in plugin %s is not supported by sluice", cfg_file, kind);
    }
    free(specs);
    return rc;
oom:
    free(specs);
    return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
}

static int run_plugins(struct layer *L, const char *field)
{
    json_t *list;
    size_t i;
    json_t *e;
    if (klist(L, field, &list) != 0)
        return -1;
    json_array_foreach(list, i, e)
    {
        const char *entry = json_string_value(e);
        struct sl_buf data = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
        struct sl_ystream *ys = NULL;
        char *path = NULL;
        const char *text;
        size_t len;
        int rc = -1;
        if (entry == NULL)
            return sl_error_set(ERR(L->c), SL_EINVAL, "%s: %s entries must be strings", L->kfile,
                                field);
        if (strchr(entry, '\n') != NULL) {
            text = entry;
            len = strlen(entry);
        } else {
            struct sl_buf p = SL_BUF_INIT(4096);
            enum sl_tree_kind kind;
            size_t size;
            if (is_remote(entry) || join(L, entry, &p) != 0 ||
                sl_tree_stat(L->c->tree, p.ptr, &kind, &size, ERR(L->c)) != 0) {
                sl_buf_release(&p);
                if (ERR(L->c)->code == SL_OK)
                    sl_error_set(ERR(L->c), SL_EUNSUPPORTED,
                                 "%s: remote %s entry \"%s\" is not supported", L->kfile, field,
                                 entry);
                return -1;
            }
            bool dir = kind == SL_TREE_DIR;
            sl_buf_release(&p);
            if (dir)
                return sl_error_set(ERR(L->c), SL_EUNSUPPORTED,
                                    "%s: %s entry \"%s\" is a kustomization directory; sluice "
                                    "takes plugin configurations only from files or inline",
                                    L->kfile, field, entry);
            if (read_rel_file(L, entry, &data, &path) != 0)
                goto next;
            text = data.ptr;
            len = data.len;
        }
        if (rl_load_docs(L->c, path ? path : L->kfile, text, len, false, &ys) != 0)
            goto next;
        rc = 0;
        for (size_t d = 0; d < ys->ndocs && rc == 0; d++) {
            if (ys->docs[d].root == NULL)
                continue;
            json_t *cfg = rl_yaml_to_json(ys->docs[d].root, false, path ? path : L->kfile, NULL,
                                          ERR(L->c));
            if (cfg == NULL) {
                rc = -1;
                break;
            }
            if (json_is_object(cfg))
                rc = run_plugin(L, cfg, path ? path : L->kfile, strcmp(field, "generators") == 0);
            json_decref(cfg);
        }
    next:
        sl_ystream_free(ys);
        sl_buf_release(&data);
        free(path);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------- configurations */

static int xspec_push(struct layer *L, struct xspecs *x, const json_t *fs, const char *referral,
                      const char *where)
{
    const char *path = json_string_value(json_object_get(fs, "path"));
    if (path == NULL)
        return sl_error_set(ERR(L->c), SL_EINVAL, "%s: every fieldSpec needs a path", where);
    if (x->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 8;
        struct xspec *it = realloc(x->items, nc * sizeof(*it));
        if (it == NULL)
            return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
        x->items = it;
        x->cap = nc;
    }
    struct xspec *e = &x->items[x->n++];
    e->kind = json_string_value(json_object_get(fs, "kind"));
    e->group = json_string_value(json_object_get(fs, "group"));
    e->version = json_string_value(json_object_get(fs, "version"));
    e->path = path;
    e->referral = referral;
    e->create = json_is_true(json_object_get(fs, "create"));
    return 0;
}

/*
 * `configurations`: custom field specs for kustomize's transformers
 * (nameReference, commonLabels, templateLabels, commonAnnotations, images,
 * namespace, replicas, varReference, and namePrefix/nameSuffix on
 * metadata/name); others are refused by name.
 */
static int load_configurations(struct layer *L)
{
    json_t *list;
    size_t i;
    json_t *e;
    if (klist(L, "configurations", &list) != 0)
        return -1;
    json_array_foreach(list, i, e)
    {
        const char *rel = json_string_value(e);
        json_t *docs = NULL;
        char *pname = NULL;
        if (rel == NULL)
            return sl_error_set(ERR(L->c), SL_EINVAL, "%s: configurations entries must be paths",
                                L->kfile);
        if (load_patch(L, rel, NULL, &docs, &pname) != 0)
            return -1;
        if (L->c->configs == NULL && (L->c->configs = json_array()) == NULL) {
            json_decref(docs);
            free(pname);
            return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
        }
        json_array_append(L->c->configs, docs); /* owns the strings xspecs point at */
        json_decref(docs);
        size_t d;
        json_t *cfg;
        int rc = 0;
        json_array_foreach(docs, d, cfg)
        {
            const char *key;
            json_t *val;
            if (!json_is_object(cfg))
                continue;
            json_object_foreach(cfg, key, val)
            {
                size_t j;
                json_t *fs;
                if (!json_is_array(val)) {
                    rc = sl_error_set(ERR(L->c), SL_EINVAL, "%s: %s must be a list", pname, key);
                    break;
                }
                if (strcmp(key, "nameReference") == 0) {
                    json_array_foreach(val, j, fs)
                    {
                        const char *referral = json_string_value(json_object_get(fs, "kind"));
                        size_t k;
                        json_t *f;
                        if (referral == NULL) {
                            rc = sl_error_set(ERR(L->c), SL_EINVAL,
                                              "%s: nameReference entries need a kind", pname);
                            break;
                        }
                        json_array_foreach(json_object_get(fs, "fieldSpecs"), k, f)
                        {
                            if ((rc = xspec_push(L, &L->c->x_nameref, f, referral, pname)) != 0)
                                break;
                        }
                        if (rc != 0)
                            break;
                    }
                } else if (strcmp(key, "commonLabels") == 0 ||
                           strcmp(key, "commonAnnotations") == 0 || strcmp(key, "images") == 0 ||
                           strcmp(key, "namespace") == 0) {
                    struct xspecs *x = key[0] == 'i'   ? &L->c->x_images
                                       : key[0] == 'n' ? &L->c->x_namespace
                                       : key[6] == 'L' ? &L->c->x_labels
                                                       : &L->c->x_annotations;
                    json_array_foreach(val, j, fs)
                    {
                        if ((rc = xspec_push(L, x, fs, NULL, pname)) != 0)
                            break;
                    }
                } else if (strcmp(key, "replicas") == 0 || strcmp(key, "templateLabels") == 0) {
                    struct xspecs *x = key[0] == 'r' ? &L->c->x_replicas : &L->c->x_template_labels;
                    json_array_foreach(val, j, fs)
                    {
                        if ((rc = xspec_push(L, x, fs, NULL, pname)) != 0)
                            break;
                    }
                } else if (strcmp(key, "varReference") == 0) {
                    json_array_foreach(val, j, fs)
                    {
                        if ((rc = xspec_push(L, &L->c->x_varref, fs, NULL, pname)) != 0)
                            break;
                    }
                } else if (strcmp(key, "namePrefix") == 0 || strcmp(key, "nameSuffix") == 0) {
                    /* these replace kustomize's default (every kind) */
                    struct xspecs *x = key[4] == 'P' ? &L->c->x_prefix : &L->c->x_suffix;
                    json_array_foreach(val, j, fs)
                    {
                        const char *p = json_string_value(json_object_get(fs, "path"));
                        if (p == NULL || strcmp(p, "metadata/name") != 0) {
                            rc = sl_error_set(ERR(L->c), SL_EUNSUPPORTED,
                                              "%s: %s field specs other than metadata/name are "
                                              "not supported by sluice",
                                              pname, key);
                            break;
                        }
                        if ((rc = xspec_push(L, x, fs, NULL, pname)) != 0)
                            break;
                    }
                } else {
                    rc = sl_error_set(ERR(L->c), SL_EUNSUPPORTED,
                                      "%s: configurations field \"%s\" is not supported by sluice",
                                      pname, key);
                }
                if (rc != 0)
                    break;
            }
            if (rc != 0)
                break;
        }
        free(pname);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int load_kustomization(struct layer *L, const char *dir, bool component)
{
    static const char *const names[] = {"kustomization.yaml", "kustomization.yml", "Kustomization"};
    struct sl_buf p = SL_BUF_INIT(4096), data = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct sl_ystream *ys = NULL;
    json_t *raw = NULL;
    int rc = -1, found = 0;

    for (size_t i = 0; i < 3; i++) {
        enum sl_tree_kind kind;
        size_t size;
        sl_buf_reset(&p);
        if (sl_buf_printf(&p, ERR(L->c), "%s%s%s", strcmp(dir, ".") == 0 ? "" : dir,
                          strcmp(dir, ".") == 0 ? "" : "/", names[i]) != 0)
            goto done;
        if (sl_tree_stat(L->c->tree, p.ptr, &kind, &size, ERR(L->c)) != 0)
            goto done;
        if (kind == SL_TREE_FILE) {
            if (found++ == 0) {
                free(L->kfile);
                L->kfile = strdup(p.ptr);
            } else {
                sl_error_set(ERR(L->c), SL_EINVAL,
                             "%s: found multiple kustomization files (%s and %s)", dir, L->kfile,
                             names[i]);
                goto done;
            }
        }
    }
    if (!found) {
        sl_error_set(ERR(L->c), SL_ENOTFOUND,
                     "%s: no kustomization.yaml, kustomization.yml or Kustomization in the "
                     "directory",
                     dir);
        goto done;
    }
    if (L->kfile == NULL) {
        sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
        goto done;
    }
    if (rl_read_file(L->c, L->kfile, &data) != 0)
        goto done;
    if (rl_load_docs(L->c, L->kfile, data.ptr, data.len, true, &ys) != 0)
        goto done;
    if (ys->ndocs > 1) {
        sl_error_set(ERR(L->c), SL_EINVAL, "%s: a kustomization must be one YAML document",
                     L->kfile);
        goto done;
    }
    if (ys->ndocs == 0 || ys->docs[0].root == NULL) {
        raw = json_object();
    } else {
        raw = rl_yaml_to_json(ys->docs[0].root, true, L->kfile, NULL, ERR(L->c));
        if (raw == NULL)
            goto done;
    }
    if (!json_is_object(raw)) {
        sl_error_set(ERR(L->c), SL_EINVAL, "%s: a kustomization must be a mapping", L->kfile);
        goto done;
    }
    if (normalize_fields(L, raw) != 0)
        goto done;
    {
        const char *kind = kstr(L, "kind");
        if (component) {
            if (kind == NULL || strcmp(kind, "Component") != 0) {
                sl_error_set(ERR(L->c), SL_EINVAL, "%s: a component must have kind: Component",
                             L->kfile);
                goto done;
            }
        } else if (kind != NULL && kind[0] != '\0' && strcmp(kind, "Kustomization") != 0) {
            sl_error_set(ERR(L->c), SL_EINVAL, "%s: expected kind Kustomization, found \"%s\"%s",
                         L->kfile, kind,
                         strcmp(kind, "Component") == 0
                                 ? " (components belong under components:, not resources:)"
                                 : "");
            goto done;
        }
    }
    rc = 0;
done:
    json_decref(raw);
    sl_ystream_free(ys);
    sl_buf_release(&data);
    sl_buf_release(&p);
    return rc;
}

/* replacements, in order: inline entries, or `path:` files holding one or a list of them */
static int do_replacements(struct layer *L, const json_t *list)
{
    size_t i;
    json_t *e;
    json_array_foreach(unconst(list), i, e)
    {
        const char *path = json_string_value(json_object_get(e, "path"));
        json_t *docs = NULL, *one;
        char *pname = NULL;
        int rc;
        if (path == NULL) {
            if ((one = json_pack("[O]", e)) == NULL)
                return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
            rc = replacements_apply(L->c, L->kfile, one, L->ra);
            json_decref(one);
            if (rc != 0)
                return -1;
            continue;
        }
        if (load_patch(L, path, NULL, &docs, &pname) != 0)
            return -1;
        if ((one = json_array()) == NULL) {
            json_decref(docs);
            free(pname);
            return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
        }
        size_t j;
        json_t *doc;
        json_array_foreach(docs, j, doc)
        {
            if (json_is_array(doc))
                json_array_extend(one, doc);
            else
                json_array_append(one, doc);
        }
        rc = replacements_apply(L->c, pname, one, L->ra);
        json_decref(one);
        json_decref(docs);
        free(pname);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* buildMetadata transformerAnnotations: remember that a transformer ran over the layer */
static int record_transform(struct layer *L, const char *kind)
{
    size_t len = strlen(kind) + strlen(L->kfile) + 2;
    char *v = malloc(len);
    if (v == NULL)
        return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
    snprintf(v, len, "%s\n%s", kind, L->kfile);
    for (size_t i = 0; i < L->ra->n; i++) {
        if (strv_push(&L->ra->items[i]->transforms, &L->ra->items[i]->ntransforms, v) != 0) {
            free(v);
            return sl_error_set(ERR(L->c), SL_ENOMEM, "out of memory");
        }
    }
    free(v);
    return 0;
}

static int run_layer(struct layer *L, size_t depth)
{
    json_t *res, *bases, *comps;
    const char *fields_order[] = {"resources", "bases"};
    (void)fields_order;
    if (klist(L, "resources", &res) != 0 || klist(L, "bases", &bases) != 0 ||
        klist(L, "components", &comps) != 0)
        return -1;
    if (res && accumulate_resources(L, res, "resources", depth) != 0)
        return -1;
    if (bases) {
        if (L->c->opts.warn)
            L->c->opts.warn(L->c->opts.warn_ctx,
                            "# Warning: 'bases' is deprecated. Please use 'resources' instead. "
                            "Run 'kustomize edit fix' to update your Kustomization "
                            "automatically.");
        if (accumulate_resources(L, bases, "bases", depth) != 0)
            return -1;
    }
    /* What loaded objects share stays shared; the table would only keep replaced values alive. */
    rl_intern_release(&L->c->intern);
    if (load_configurations(L) != 0)
        return -1;
    if (run_generators(L) != 0 || run_plugins(L, "generators") != 0)
        return -1;
    if (comps) {
        size_t i;
        json_t *e;
        json_array_foreach(comps, i, e)
        {
            const char *rel = json_string_value(e);
            struct sl_buf p = SL_BUF_INIT(4096);
            if (rel == NULL)
                return sl_error_set(ERR(L->c), SL_EINVAL, "%s: components entries must be strings",
                                    L->kfile);
            if (is_remote(rel))
                return sl_error_set(ERR(L->c), SL_EUNSUPPORTED,
                                    "%s: remote component \"%s\" is not supported", L->kfile, rel);
            if (join(L, rel, &p) != 0) {
                sl_buf_release(&p);
                return -1;
            }
            int rc = build_layer(L->c, p.ptr, L->ra, true, depth + 1);
            sl_buf_release(&p);
            if (rc != 0)
                return sl_error_wrap(ERR(L->c), "%s: component \"%s\"", L->kfile, rel);
        }
    }
    static const struct {
        const char *field, *kind;
        int (*step)(struct layer *);
    } steps[] = {
            {"patchesStrategicMerge", "PatchStrategicMergeTransformer", do_patches_sm},
            {"patches", "PatchTransformer", do_patches},
            {"namespace", "NamespaceTransformer", do_namespace},
            {"namePrefix", "PrefixTransformer", do_prefix_only},
            {"nameSuffix", "SuffixTransformer", do_suffix_only},
            {"commonLabels", "LabelTransformer", do_labels},
            {"commonAnnotations", "AnnotationsTransformer", do_annotations},
            {"patchesJson6902", "PatchJson6902Transformer", do_patches_json6902},
            {"replicas", "ReplicaCountTransformer", do_replicas},
            {"images", "ImageTagTransformer", do_images},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        bool configured = json_object_get(L->k, steps[i].field) != NULL;
        if (strcmp(steps[i].field, "commonLabels") == 0)
            configured = configured || json_object_get(L->k, "labels") != NULL;
        if (steps[i].step(L) != 0)
            return -1;
        if (configured && L->c->transformer_annotations && record_transform(L, steps[i].kind) != 0)
            return -1;
    }
    json_t *repl;
    if (klist(L, "replacements", &repl) != 0)
        return -1;
    if (repl && do_replacements(L, repl) != 0)
        return -1;
    if (run_plugins(L, "transformers") != 0)
        return -1;
    if (collect_vars(L) != 0)
        return -1;
    rl_intern_release(&L->c->intern);
    return 0;
}

static int build_layer(struct render_ctx *c, const char *dir, struct resmap *ra, bool component,
                       size_t depth)
{
    struct layer L = {c, dir, NULL, NULL, ra};
    int rc = -1;

    if (depth > c->opts.max_depth)
        return sl_error_set(c->err, SL_ETOOLARGE,
                            "%s: kustomizations nested deeper than %zu levels", dir,
                            c->opts.max_depth);
    if (++c->nkust > c->opts.max_kustomizations)
        return sl_error_set(c->err, SL_ETOOLARGE, "%s: more than %zu kustomizations built", dir,
                            c->opts.max_kustomizations);
    for (size_t i = 0; i < c->nstack; i++) {
        if (strcmp(c->stack[i], dir) == 0) {
            struct sl_buf chain = SL_BUF_INIT(8192);
            for (size_t j = i; j < c->nstack; j++)
                sl_buf_printf(&chain, NULL, "%s -> ", c->stack[j]);
            sl_buf_puts(&chain, dir, NULL);
            sl_error_set(c->err, SL_EINVAL, "cycle in kustomization resources: %s", chain.ptr);
            sl_buf_release(&chain);
            return -1;
        }
    }
    char **ns = realloc(c->stack, (c->nstack + 1) * sizeof(*ns));
    if (ns == NULL)
        return sl_error_set(c->err, SL_ENOMEM, "out of memory");
    c->stack = ns;
    if ((c->stack[c->nstack] = strdup(dir)) == NULL)
        return sl_error_set(c->err, SL_ENOMEM, "out of memory");
    c->nstack++;

    if (load_kustomization(&L, dir, component) != 0)
        goto done;
    if (run_layer(&L, depth) != 0)
        goto done;
    rc = 0;
done:
    c->nstack--;
    free(c->stack[c->nstack]);
    json_decref(L.k);
    free(L.kfile);
    return rc;
}

/* ------------------------------------------------------------ top level */

static int add_hash(struct render_ctx *c, struct res *r)
{
    bool nomem = false;
    struct sl_buf js = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    json_t *m = json_object();
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    int rc = -1;
    bool secret = strcmp(res_kind(r), "Secret") == 0;
    if (m == NULL) {
        nomem = true;
        goto done;
    }
    json_object_set_new(m, "kind", json_string(res_kind(r)));
    json_object_set_new(m, "name", json_string(""));
    json_t *data = json_object_get(r->obj, "data");
    if (data != NULL)
        json_object_set(m, "data", data);
    else
        json_object_set_new(m, "data", json_string(""));
    if (secret) {
        const char *type = json_string_value(json_object_get(r->obj, "type"));
        json_object_set_new(m, "type", json_string(type ? type : ""));
        if (json_object_get(r->obj, "stringData"))
            json_object_set(m, "stringData", json_object_get(r->obj, "stringData"));
    } else if (json_object_get(r->obj, "binaryData")) {
        json_object_set(m, "binaryData", json_object_get(r->obj, "binaryData"));
    }
    if (go_json_marshal(m, &js, c->err) != 0)
        goto done;
    crypto_hash_sha256(h, (const unsigned char *)js.ptr, js.len);
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    hex[10] = '\0';
    for (int i = 0; i < 10; i++) {
        switch (hex[i]) {
        case '0':
            hex[i] = 'g';
            break;
        case '1':
            hex[i] = 'h';
            break;
        case '3':
            hex[i] = 'k';
            break;
        case 'a':
            hex[i] = 'm';
            break;
        case 'e':
            hex[i] = 't';
            break;
        default:
            break;
        }
    }
    {
        size_t nl = strlen(res_name(r)) + 12;
        char *nn = malloc(nl);
        if (nn == NULL) {
            nomem = true;
            goto done;
        }
        snprintf(nn, nl, "%s-%s", res_name(r), hex);
        rc = res_store_prev(r, c->err);
        if (rc == 0)
            rc = res_set_name(r, nn, c->err);
        free(nn);
    }
    goto done;
done:
    if (nomem)
        sl_error_set(c->err, SL_ENOMEM, "out of memory");
    if (secret)
        sodium_memzero(js.ptr, js.len);
    sl_buf_release(&js);
    json_decref(m);
    return rc;
}

/* path of file relative to directory dir (both tree-relative, cleaned) */
static char *relative_to(const char *dir, const char *file)
{
    struct sl_buf b = SL_BUF_INIT(8192);
    const char *d = strcmp(dir, ".") == 0 ? "" : dir;
    size_t common = 0, i = 0;
    /* longest common prefix ending at a component boundary */
    while (d[i] && file[i] && d[i] == file[i]) {
        i++;
        if (file[i] == '/' && (d[i] == '\0' || d[i] == '/'))
            common = i + 1;
    }
    if (d[i] == '\0' && file[i] == '/')
        common = i + 1;
    if (d[0] == '\0')
        common = 0;
    for (const char *p = d + (common > strlen(d) ? strlen(d) : common); *p;) {
        sl_buf_puts(&b, "../", NULL);
        const char *slash = strchr(p, '/');
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    sl_buf_puts(&b, file + common, NULL);
    return sl_buf_detach(&b, NULL);
}

static int add_origin(struct render_ctx *c, const char *top, struct res *r)
{
    bool nomem = false;
    struct sl_buf v = SL_BUF_INIT(8192);
    char *rel = relative_to(top, r->generated && r->cfg_in ? r->cfg_in : (r->file ? r->file : ""));
    json_t *md, *ann;
    int rc = -1;
    if (rel == NULL) {
        nomem = true;
        goto done;
    }
    if (r->generated && r->cfg_kind) {
        sl_buf_printf(&v, NULL,
                      "configuredIn: %s\nconfiguredBy:\n  apiVersion: builtin\n  kind: %s\n", rel,
                      r->cfg_kind);
        if (r->cfg_name)
            sl_buf_printf(&v, NULL, "  name: %s\n", r->cfg_name);
    } else {
        sl_buf_printf(&v, NULL, "path: %s\n", rel);
    }
    md = json_object_get(r->obj, "metadata");
    ann = json_object_get(md, "annotations");
    if (!json_is_object(ann)) {
        ann = json_object();
        if (ann == NULL || json_object_set_new(md, "annotations", ann) != 0) {
            nomem = true;
            goto done;
        }
    }
    if (json_object_set_new(ann, "config.kubernetes.io/origin", json_string(v.ptr)) != 0) {
        nomem = true;
        goto done;
    }
    rc = 0;
    goto done;
done:
    if (nomem)
        sl_error_set(c->err, SL_ENOMEM, "out of memory");
    free(rel);
    sl_buf_release(&v);
    return rc;
}

static int add_transformations(struct render_ctx *c, const char *top, struct res *r)
{
    struct sl_buf v = SL_BUF_INIT(1 << 20);
    json_t *md, *ann;
    if (r->ntransforms == 0)
        return 0;
    for (size_t i = 0; i < r->ntransforms; i++) {
        const char *nl = strchr(r->transforms[i], '\n');
        char *rel = relative_to(top, nl + 1);
        if (rel == NULL)
            break;
        sl_buf_printf(&v, NULL,
                      "- configuredIn: %s\n  configuredBy:\n    apiVersion: builtin\n    kind: "
                      "%.*s\n",
                      rel, (int)(nl - r->transforms[i]), r->transforms[i]);
        free(rel);
    }
    md = json_object_get(r->obj, "metadata");
    ann = json_object_get(md, "annotations");
    if (!json_is_object(ann)) {
        ann = json_object();
        json_object_set_new(md, "annotations", ann);
    }
    int rc = json_object_set_new(ann, "alpha.config.kubernetes.io/transformations",
                                 json_string(v.ptr));
    sl_buf_release(&v);
    return rc == 0 ? 0 : sl_error_set(c->err, SL_ENOMEM, "out of memory");
}

int kust_build(struct render_ctx *c, const char *dir, struct resmap *out, bool top)
{
    (void)top;
    if (build_layer(c, dir, out, false, 0) != 0)
        return -1;
    for (size_t i = 0; i < out->n; i++)
        if (out->items[i]->hash && add_hash(c, out->items[i]) != 0)
            return -1;
    if (nameref_fix(c, out) != 0)
        return -1;
    if (c->origin_annotations)
        for (size_t i = 0; i < out->n; i++)
            if (add_origin(c, dir, out->items[i]) != 0)
                return -1;
    if (c->transformer_annotations)
        for (size_t i = 0; i < out->n; i++)
            if (add_transformations(c, dir, out->items[i]) != 0)
                return -1;
    if (c->managed_by_label) {
        for (size_t i = 0; i < out->n; i++) {
            json_t *md = json_object_get(out->items[i]->obj, "metadata");
            json_t *lab = json_object_get(md, "labels");
            if (!json_is_object(lab)) {
                lab = json_object();
                json_object_set_new(md, "labels", lab);
            }
            json_object_set_new(lab, "app.kubernetes.io/managed-by",
                                json_string("kustomize-v5.5.0"));
        }
    }
    if (c->vars.n > 0 && vars_resolve(c, out) != 0)
        return -1;
    for (size_t i = 0; i < out->n; i++) {
        const char *lc = json_string_value(json_object_get(
                json_object_get(json_object_get(out->items[i]->obj, "metadata"), "annotations"),
                "config.kubernetes.io/local-config"));
        if (lc != NULL && strcmp(lc, "true") == 0) {
            resmap_remove_at(out, i);
            i--;
        }
    }
    return 0;
}

/* sortOptions of the top kustomization: returns 1 for fifo, 0 for legacy. */
int kust_sort_fifo(struct render_ctx *c, const char *dir, int *fifo)
{
    struct layer L = {c, dir, NULL, NULL, NULL};
    int rc = -1;
    *fifo = 0;
    if (load_kustomization(&L, dir, false) != 0)
        goto done;
    json_t *so = json_object_get(L.k, "sortOptions");
    if (so != NULL) {
        const char *order = json_string_value(json_object_get(so, "order"));
        if (order == NULL || (strcmp(order, "fifo") != 0 && strcmp(order, "legacy") != 0)) {
            sl_error_set(c->err, SL_EINVAL, "%s: sortOptions.order must be fifo or legacy",
                         L.kfile);
            goto done;
        }
        json_t *lso = json_object_get(so, "legacySortOptions");
        if (lso != NULL) {
            json_t *f = json_object_get(lso, "orderFirst"), *l = json_object_get(lso, "orderLast");
            if (!json_is_object(lso) || (f && !json_is_array(f)) || (l && !json_is_array(l))) {
                sl_error_set(c->err, SL_EINVAL,
                             "%s: sortOptions.legacySortOptions needs orderFirst/orderLast lists",
                             L.kfile);
                goto done;
            }
            c->sort_first = f ? json_incref(f) : json_array();
            c->sort_last = l ? json_incref(l) : json_array();
        }
        *fifo = strcmp(order, "fifo") == 0;
    }
    json_t *bm = json_object_get(L.k, "buildMetadata");
    if (bm != NULL) {
        size_t i;
        json_t *e;
        if (!json_is_array(bm)) {
            sl_error_set(c->err, SL_EINVAL, "%s: buildMetadata must be a list", L.kfile);
            goto done;
        }
        json_array_foreach(bm, i, e)
        {
            const char *opt = json_string_value(e);
            if (opt != NULL && strcmp(opt, "originAnnotations") == 0) {
                c->origin_annotations = true;
            } else if (opt != NULL && strcmp(opt, "transformerAnnotations") == 0) {
                c->transformer_annotations = true;
            } else if (opt != NULL && strcmp(opt, "managedByLabel") == 0) {
                c->managed_by_label = true;
            } else {
                sl_error_set(c->err, SL_EUNSUPPORTED,
                             "%s: buildMetadata %s is not supported by sluice", L.kfile,
                             opt ? opt : "(not a string)");
                goto done;
            }
        }
    }
    rc = 0;
done:
    json_decref(L.k);
    free(L.kfile);
    return rc;
}
