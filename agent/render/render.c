/*
 * Entry points: render a kustomization into the pipeline's object list and
 * print objects as kustomize does.
 */
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "render_int.h"

/*
 * A secret object's values are wiped in place when it is done with
 * (sl_secret_json_wipe): give it its own copy of any string it shares with
 * another object (replacements and vars copy values by reference).
 */
static int unshare_map(json_t *m)
{
    const char *k;
    json_t *v;

    json_object_foreach(m, k, v)
    {
        if (json_is_string(v) && v->refcount > 1 &&
            json_object_set_new(m, k, json_stringn(json_string_value(v), json_string_length(v))) !=
                    0)
            return -1;
    }
    return 0;
}

static int unshare_secret_values(json_t *obj)
{
    json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
    const char *last = "kubectl.kubernetes.io/last-applied-configuration";
    json_t *v = json_object_get(ann, last);

    if (unshare_map(json_object_get(obj, "data")) != 0 ||
        unshare_map(json_object_get(obj, "stringData")) != 0)
        return -1;
    if (json_is_string(v) && v->refcount > 1 &&
        json_object_set_new(ann, last, json_stringn(json_string_value(v), json_string_length(v))) !=
                0)
        return -1;
    return 0;
}

int sl_render(struct sl_tree *tree, const char *path, const struct sl_render_opts *opts,
              struct sl_objlist *out, struct sl_error *err)
{
    static const struct sl_render_opts defaults = SL_RENDER_OPTS_DEFAULT;
    struct render_ctx c;
    struct resmap ra = {0};
    struct sl_objlist tmp = SL_OBJLIST_INIT;
    struct sl_buf dir = SL_BUF_INIT(4096);
    enum sl_tree_kind kind;
    size_t size;
    int fifo = 0, rc = -1;

    memset(&c, 0, sizeof(c));
    c.tree = tree;
    c.opts = opts ? *opts : defaults;
    c.err = err;
    if (sl_path_clean(&dir, path, err) != 0)
        goto done;
    if (sl_tree_stat(tree, dir.ptr, &kind, &size, err) != 0)
        goto done;
    if (kind == SL_TREE_FILE) {
        /* a kustomization file given directly: use its directory */
        char *slash = strrchr(dir.ptr, '/');
        const char *base = slash ? slash + 1 : dir.ptr;
        if (strcmp(base, "kustomization.yaml") != 0 && strcmp(base, "kustomization.yml") != 0 &&
            strcmp(base, "Kustomization") != 0) {
            sl_error_set(err, SL_EINVAL, "%s: not a kustomization directory", dir.ptr);
            goto done;
        }
        if (slash)
            sl_buf_truncate(&dir, (size_t)(slash - dir.ptr));
        else
            sl_buf_reset(&dir), sl_buf_puts(&dir, ".", err);
    } else if (kind == SL_TREE_NONE) {
        sl_error_set(err, SL_ENOTFOUND, "%s: no such directory", dir.ptr);
        goto done;
    }
    if (kust_sort_fifo(&c, dir.ptr, &fifo) != 0)
        goto done;
    if (kust_build(&c, dir.ptr, &ra, true) != 0)
        goto done;
    if (ra.n > c.opts.max_objects) {
        sl_error_set(err, SL_ETOOLARGE, "%s: more than %zu objects", dir.ptr, c.opts.max_objects);
        goto done;
    }
    if (!fifo)
        sort_legacy(ra.items, ra.n, c.sort_first, c.sort_last);
    for (size_t i = 0; i < ra.n; i++) {
        struct res *r = ra.items[i];
        if (r->secret && unshare_secret_values(r->obj) != 0) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        if (sl_objlist_add(&tmp, r->obj, r->file, r->line, err) != 0) {
            r->obj = NULL;
            goto done;
        }
        tmp.items[tmp.n - 1].secret = r->secret;
        r->obj = NULL;
    }
    for (size_t i = 0; i < tmp.n; i++) {
        if (sl_objlist_add(out, tmp.items[i].json, tmp.items[i].origin.file,
                           tmp.items[i].origin.line, err) != 0) {
            tmp.items[i].json = NULL;
            /* roll back what was appended */
            goto done;
        }
        out->items[out->n - 1].secret = tmp.items[i].secret;
        tmp.items[i].json = NULL;
    }
    rc = 0;
done:
    sl_objlist_release(&tmp);
    resmap_release(&ra);
    for (size_t i = 0; i < c.vars.n; i++) {
        free(c.vars.items[i].name);
        free(c.vars.items[i].kind);
        free(c.vars.items[i].apiversion);
        free(c.vars.items[i].objname);
        free(c.vars.items[i].objns);
        free(c.vars.items[i].fieldpath);
    }
    free(c.vars.items);
    regex_cache_release(&c);
    rl_intern_release(&c.intern);
    free(c.x_nameref.items);
    free(c.x_labels.items);
    free(c.x_annotations.items);
    free(c.x_images.items);
    free(c.x_namespace.items);
    free(c.x_prefix.items);
    free(c.x_suffix.items);
    free(c.x_varref.items);
    free(c.x_replicas.items);
    free(c.x_template_labels.items);
    json_decref(c.configs);
    json_decref(c.sort_first);
    json_decref(c.sort_last);
    free(c.stack);
    sl_buf_release(&dir);
    return rc;
}

int sl_render_format_yaml(const struct sl_objlist *objs, struct sl_buf *out, struct sl_error *err)
{
    for (size_t i = 0; i < objs->n; i++) {
        if (i > 0 && sl_buf_puts(out, "---\n", err) != 0)
            return -1;
        if (emit_yaml_doc(objs->items[i].json, out, err) != 0)
            return -1;
    }
    return 0;
}

int sl_render_format_json_item(const struct sl_objlist *objs, size_t i, struct sl_buf *out,
                               struct sl_error *err)
{
    char *s, *p, *nl;
    int rc;

    if (objs->n == 0)
        return sl_buf_puts(out, "[]\n", err);
    if (i >= objs->n)
        return sl_error_set(err, SL_EINVAL, "no object %zu of %zu", i, objs->n);
    s = json_dumps(objs->items[i].json, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    /* as an element of the indented array: every line two columns further in */
    rc = sl_buf_puts(out, i == 0 ? "[\n  " : ",\n  ", err);
    for (p = s; rc == 0 && (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        rc = sl_buf_append(out, p, (size_t)(nl - p), err);
        if (rc == 0)
            rc = sl_buf_puts(out, "\n  ", err);
    }
    if (rc == 0)
        rc = sl_buf_puts(out, p, err);
    if (rc == 0 && i == objs->n - 1)
        rc = sl_buf_puts(out, "\n]\n", err);
    free(s);
    return rc;
}

int sl_render_format_json(const struct sl_objlist *objs, struct sl_buf *out, struct sl_error *err)
{
    if (objs->n == 0)
        return sl_render_format_json_item(objs, 0, out, err);
    for (size_t i = 0; i < objs->n; i++)
        if (sl_render_format_json_item(objs, i, out, err) != 0)
            return -1;
    return 0;
}
