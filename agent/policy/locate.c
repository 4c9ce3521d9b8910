/*
 * Findings point at the line users edit: the origin file is parsed again
 * (through the same tree the renderer read) and the finding's field path is
 * followed through the source document alongside the rendered object.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "yamltree.h"

struct srcfile {
    char *path;
    struct sl_ystream *ys; /* NULL when unreadable: findings keep their line */
};

struct files {
    struct srcfile *v;
    size_t n, cap;
};

static void files_release(struct files *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].path);
        sl_ystream_free(f->v[i].ys);
    }
    free(f->v);
}

/* The parsed file, loaded once; NULL (and 0 returned) when it cannot be read or parsed. */
static int get_file(struct files *f, struct sl_tree *tree, const char *path,
                    const struct sl_ystream **out, struct sl_error *err)
{
    struct sl_buf data = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct sl_error ignored = SL_ERROR_INIT;
    struct srcfile *sf;

    *out = NULL;
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->v[i].path, path) == 0) {
            *out = f->v[i].ys;
            return 0;
        }
    }
    if (f->n == f->cap) {
        size_t nc = f->cap == 0 ? 8 : f->cap * 2;
        struct srcfile *nv = realloc(f->v, nc * sizeof(*nv));
        if (nv == NULL)
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        f->v = nv;
        f->cap = nc;
    }
    sf = &f->v[f->n];
    if ((sf->path = strdup(path)) == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    sf->ys = NULL;
    f->n++;
    /* A file the renderer read but we cannot (encrypted, generated) just keeps its line. */
    if (sl_tree_read(tree, path, &data, &ignored) == 0)
        (void)sl_yaml_load(&sf->ys, data.ptr, data.len, path, NULL, &ignored);
    sl_buf_release(&data);
    *out = sf->ys;
    return 0;
}

/* Next segment of a field path as written by the evaluator: .key, [N] or ["key"]. */
static int next_seg(const char **pp, char *key, size_t keylen, long *index)
{
    const char *p = *pp;
    size_t n = 0;

    *index = -1;
    if (*p == '.')
        p++;
    if (p[0] == '[' && p[1] == '"') {
        const char *e = strstr(p + 2, "\"]");
        if (e == NULL || (size_t)(e - p - 2) >= keylen)
            return -1;
        n = (size_t)(e - p - 2);
        memcpy(key, p + 2, n);
        key[n] = '\0';
        *pp = e + 2;
        return 0;
    }
    if (p[0] == '[') {
        long v = 0;
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9' && v < 1000000)
            v = v * 10 + (*p++ - '0');
        if (*p != ']')
            return -1;
        *index = v;
        *pp = p + 1;
        return 0;
    }
    while (*p != '\0' && *p != '.' && *p != '[') {
        if (n + 1 >= keylen)
            return -1;
        key[n++] = *p++;
    }
    if (n == 0)
        return -1;
    key[n] = '\0';
    *pp = p;
    return 0;
}

/* The source list element for rendered element rel: same name if it has one, else same index. */
static const struct sl_ynode *seq_item(const struct sl_ynode *seq, const json_t *rel, long index)
{
    const char *name = json_string_value(json_object_get(rel, "name"));

    if (name != NULL) {
        for (size_t i = 0; i < seq->n; i++) {
            const struct sl_ynode *nm = sl_ynode_get(seq->items[i], "name");
            if (nm != NULL && nm->type == SL_Y_SCALAR && strcmp(nm->value, name) == 0)
                return seq->items[i];
        }
        return NULL;
    }
    return (size_t)index < seq->n ? seq->items[index] : NULL;
}

/* Line of the deepest part of field that exists in the source document. */
static int field_line(const struct sl_ynode *root, const json_t *obj, const char *field)
{
    const struct sl_ynode *node = root;
    const json_t *rel = obj;
    const char *p = field;
    int line = root->line;
    char key[512];
    long index;

    while (*p != '\0') {
        if (next_seg(&p, key, sizeof(key), &index) != 0)
            break;
        if (index >= 0) {
            const struct sl_ynode *it;
            if (node->type != SL_Y_SEQ)
                break;
            rel = json_array_get(rel, (size_t)index);
            if ((it = seq_item(node, rel, index)) == NULL)
                break;
            node = it;
            line = it->line;
        } else {
            size_t i;
            if (node->type != SL_Y_MAP)
                break;
            for (i = 0; i < node->n; i++)
                if (node->keys[i]->type == SL_Y_SCALAR && strcmp(node->keys[i]->value, key) == 0)
                    break;
            if (i == node->n)
                break;
            rel = json_object_get(rel, key);
            line = node->keys[i]->line;
            node = node->items[i];
        }
    }
    return line;
}

/* The object whose origin line is line: a document's root, or an item of a List document. */
static const struct sl_ynode *find_root(const struct sl_ynode *root, int line)
{
    const struct sl_ynode *items;

    if (root == NULL || root->type != SL_Y_MAP)
        return NULL;
    if (root->line == line)
        return root;
    items = sl_ynode_get(root, "items");
    for (size_t i = 0; items != NULL && items->type == SL_Y_SEQ && i < items->n; i++)
        if (items->items[i]->line == line && items->items[i]->type == SL_Y_MAP)
            return items->items[i];
    return NULL;
}

int sl_policy_report_locate(struct sl_policy_report *rep, const struct sl_objlist *objs,
                            struct sl_tree *tree, struct sl_error *err)
{
    struct files files = {NULL, 0, 0};
    int rc = -1;

    for (size_t i = 0; i < rep->n; i++) {
        struct sl_policy_finding *fd = &rep->items[i];
        const struct sl_ystream *ys;
        const struct sl_ynode *root = NULL;
        struct sl_buf origin = SL_BUF_INIT(4096);
        int line;

        if (fd->file == NULL || fd->line <= 0 || fd->index >= objs->n)
            continue;
        if (get_file(&files, tree, fd->file, &ys, err) != 0)
            goto done;
        for (size_t d = 0; ys != NULL && d < ys->ndocs && root == NULL; d++)
            root = find_root(ys->docs[d].root, fd->line);
        if (root == NULL)
            continue;
        line = field_line(root, objs->items[fd->index].json, fd->field);
        if (line <= fd->line)
            continue;
        if (sl_buf_printf(&origin, err, "%s:%d", fd->file, line) != 0) {
            sl_buf_release(&origin);
            goto done;
        }
        free(fd->origin);
        fd->origin = sl_buf_detach(&origin, NULL);
        fd->line = line;
        if (fd->origin == NULL) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
    }
    rc = 0;
done:
    files_release(&files);
    return rc;
}
