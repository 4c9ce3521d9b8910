/*
 * The kustomize-compatible renderer (kubectl kustomize v5.5.0 semantics).
 *
 * sl_render() builds the kustomization at a path inside a read-only tree
 * (agent/core/tree.h: a directory or a git commit) into a list of objects
 * in kustomize's output order, each with the file:line of the document it
 * came from; Secrets made by secretGenerator carry secret = true. It reads
 * only through sl_tree_*, so paths never leave the tree root. Everything
 * read is untrusted: the limits below (plus the tree's own byte caps and
 * the YAML loader's depth/alias/node caps) bound the work, and anything
 * kustomize can do that sluice does not (remote resources, helm, exec or
 * KRM function plugins, unknown fields) fails with an error naming the
 * file and the field, never silently.
 *
 * Equal scalars of the objects may be one shared jansson value (see
 * object.h): replace values, never change them in place.
 *
 * sl_render_format_yaml() prints objects exactly as kustomize does
 * (goyaml.v2 layout, natural key order, `---` between documents);
 * sl_render_format_json() prints a JSON array.
 */
#ifndef SL_RENDER_H
#define SL_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "object.h"
#include "tree.h"

struct sl_render_opts {
    size_t max_objects;        /* resources in the final output and in any layer */
    size_t max_depth;          /* nested kustomizations (resources/components) */
    size_t max_kustomizations; /* kustomization files built in one render */
    size_t max_patches;        /* patches applied in one render */
    size_t max_yaml_depth;     /* nesting inside one YAML document */
    size_t max_yaml_alias_nodes;
    /* Print kustomize's warnings (deprecated fields) here; NULL = drop them. */
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
};

#define SL_RENDER_OPTS_DEFAULT                                                                     \
    {                                                                                              \
        20000, 32, 1000, 100000, 100, 100000, NULL, NULL                                           \
    }

/*
 * Render the kustomization directory (or kustomization file's directory)
 * at path, relative to the tree root ("." for the root). opts may be NULL
 * for the defaults. On success out holds the objects (appended); on
 * failure out is left as it was and err names the file involved.
 */
int sl_render(struct sl_tree *tree, const char *path, const struct sl_render_opts *opts,
              struct sl_objlist *out, struct sl_error *err);

/* kustomize's YAML output: documents joined with "---\n", newline-terminated. */
int sl_render_format_yaml(const struct sl_objlist *objs, struct sl_buf *out, struct sl_error *err);

/* A JSON array of the objects, indented, newline-terminated. */
int sl_render_format_json(const struct sl_objlist *objs, struct sl_buf *out, struct sl_error *err);
/*
 * The same array one element at a time, to print as it goes: item i
 * (0 <= i < n) with the array's opening or separator before it and its
 * closing after the last; for an empty list, i = 0 gives "[]".
 */
int sl_render_format_json_item(const struct sl_objlist *objs, size_t i, struct sl_buf *out,
                               struct sl_error *err);

#endif
