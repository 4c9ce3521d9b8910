/*
 * libFuzzer target for the renderer's untrusted-input parsers: the YAML
 * loader, the kustomization parser and everything a kustomization can make
 * the renderer do, through an in-memory tree.
 *
 * Input: files separated by "\n%%%%\n": kustomization.yaml, a.yaml,
 * b.yaml, c.env, then base/kustomization.yaml (so ../ paths and nested
 * builds are reachable). Output is formatted as YAML and JSON, and the YAML
 * is read back, so the emitter is exercised too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "yamltree.h"

#define NFILES 5
static const char *const fuzz_names[NFILES] = {"kustomization.yaml", "a.yaml", "b.yaml", "c.env",
                                               "base/kustomization.yaml"};

struct memtree {
    const char *data[NFILES];
    size_t len[NFILES];
};

static int mem_find(const struct memtree *m, const char *path)
{
    for (int i = 0; i < NFILES; i++)
        if (m->data[i] != NULL && strcmp(path, fuzz_names[i]) == 0)
            return i;
    return -1;
}

static int mem_stat(void *ctx, const char *path, enum sl_tree_kind *kind, size_t *size,
                    struct sl_error *err)
{
    const struct memtree *m = ctx;
    int i = mem_find(m, path);
    (void)err;
    *size = 0;
    if (i >= 0) {
        *kind = SL_TREE_FILE;
        *size = m->len[i];
    } else if (strcmp(path, ".") == 0 || strcmp(path, "base") == 0) {
        *kind = SL_TREE_DIR;
    } else {
        *kind = SL_TREE_NONE;
    }
    return 0;
}

static int mem_read(void *ctx, const char *path, size_t max, struct sl_buf *out,
                    struct sl_error *err)
{
    const struct memtree *m = ctx;
    int i = mem_find(m, path);
    if (i < 0)
        return sl_error_set(err, SL_ENOTFOUND, "%s: not found", path);
    if (m->len[i] > max)
        return sl_error_set(err, SL_ETOOLARGE, "%s: too large", path);
    return sl_buf_append(out, m->data[i], m->len[i], err);
}

static int mem_list(void *ctx, const char *path, char ***names, size_t *n, struct sl_error *err)
{
    (void)ctx;
    (void)path;
    (void)err;
    *names = NULL;
    *n = 0;
    return 0;
}

static void mem_free(void *ctx)
{
    free(ctx);
}

static const struct sl_tree_ops mem_ops = {mem_stat, mem_read, mem_list, mem_free};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sep[] = "\n%%%%\n";
    struct sl_error err = SL_ERROR_INIT;
    struct memtree *m = calloc(1, sizeof(*m));
    struct sl_tree *tree;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_render_opts opts = SL_RENDER_OPTS_DEFAULT;
    struct sl_buf out = SL_BUF_INIT((size_t)16 << 20);
    const char *p = (const char *)data, *end = p + size;

    if (m == NULL)
        return 0;
    for (int i = 0; i < NFILES && p <= end; i++) {
        const char *q = NULL;
        for (const char *s = p; s + sizeof(sep) - 1 <= end; s++)
            if (memcmp(s, sep, sizeof(sep) - 1) == 0) {
                q = s;
                break;
            }
        m->data[i] = p;
        m->len[i] = (size_t)((q ? q : end) - p);
        if (q == NULL)
            break;
        p = q + sizeof(sep) - 1;
    }
    tree = sl_tree_new(&mem_ops, m, "fuzz", &err);
    if (tree == NULL)
        return 0;
    /* small limits keep each run fast; the caps themselves are under test */
    opts.max_objects = 200;
    opts.max_patches = 200;
    opts.max_kustomizations = 20;
    opts.max_yaml_alias_nodes = 2000;
    if (sl_render(tree, ".", &opts, &objs, &err) == 0) {
        if (sl_render_format_yaml(&objs, &out, &err) == 0) {
            struct sl_ystream *ys = NULL;
            /* kustomize's output must read back as YAML */
            if (sl_yaml_load(&ys, out.ptr, out.len, "output", NULL, &err) != 0)
                abort();
            sl_ystream_free(ys);
        }
        sl_buf_reset(&out);
        sl_render_format_json(&objs, &out, &err);
    }
    sl_buf_release(&out);
    sl_objlist_release(&objs);
    sl_tree_free(tree);
    return 0;
}
