/*
 * Internals shared by the renderer's files. Not a public interface.
 *
 * A layer (one kustomization) accumulates resources into a resmap; each
 * resource keeps its JSON object plus the history kustomize keeps in
 * internal annotations: original id, previous names/namespaces, applied
 * prefixes and suffixes, and generator options (behaviour, hash).
 */
#ifndef SL_RENDER_INT_H
#define SL_RENDER_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "render.h"
#include "tree.h"
#include "yamltree.h"

struct rid {
    char *kind;
    char *name;
    char *ns;
};

enum gen_behavior { GEN_NONE = 0, GEN_CREATE, GEN_MERGE, GEN_REPLACE };

struct res {
    json_t *obj;
    char *file;
    int line;
    bool secret;
    bool hash;      /* gets a content-hash suffix at the top level */
    bool generated; /* came from a generator */
    enum gen_behavior behavior;
    struct rid orig;  /* id when first read or generated */
    struct rid *prev; /* every id it had before a rename */
    size_t nprev;
    char **prefixes, **suffixes;
    size_t nprefixes, nsuffixes;
    char **varnames; /* vars declared on this object (bound where declared) */
    size_t nvarnames;
    /* generated objects: where the generator was configured (buildMetadata) */
    char *cfg_in, *cfg_kind, *cfg_name;
    /* transformers that ran over it, "Kind\npath" (buildMetadata transformerAnnotations) */
    char **transforms;
    size_t ntransforms;
    /* names of vars this layer declared on it, unused otherwise */
};

struct resmap {
    struct res **items;
    size_t n, cap;
};

/* One var (deprecated `vars`), resolved at the top level. */
struct kvar {
    char *name;
    char *kind, *apiversion, *objname, *objns;
    char *fieldpath;
};

struct varlist {
    struct kvar *items;
    size_t n, cap;
};

/* A custom field spec from `configurations` (strings live in render_ctx.configs). */
struct xspec {
    const char *kind, *group, *version, *path; /* NULL = any */
    const char *referral;                      /* nameReference: the kind referred to */
    bool create;
};

struct xspecs {
    struct xspec *items;
    size_t n, cap;
};

struct rxcache {
    char *pat;
    void *re; /* regex_t */
};

/*
 * Identical short strings and integers read from resource files share one
 * jansson value (refcounted; nothing in sluice changes a scalar in place).
 * 2,000 Deployments repeat "apps/v1", "app-7" or 8080 thousands of times,
 * and one json_t plus its copy of the bytes costs ~80 bytes each.
 */
struct rl_intern {
    json_t **slots; /* open addressing; each slot holds one reference */
    size_t cap, n;
};

struct render_ctx {
    struct sl_tree *tree;
    struct sl_render_opts opts;
    size_t nkust;    /* kustomizations built */
    size_t npatches; /* patches applied */
    char **stack;    /* directories being built (cycle detection) */
    size_t nstack;
    struct varlist vars;
    bool has_vars;
    json_t *configs; /* loaded `configurations` files (own the xspec strings) */
    struct xspecs x_nameref, x_labels, x_annotations, x_images, x_namespace, x_prefix, x_suffix,
            x_varref, x_replicas, x_template_labels;
    bool origin_annotations; /* buildMetadata: [originAnnotations] at the top */
    bool managed_by_label;   /* buildMetadata: [managedByLabel] at the top */
    bool transformer_annotations;
    json_t *sort_first, *sort_last; /* sortOptions.legacySortOptions */
    struct rxcache *rx;             /* compiled selector patterns, reused across objects */
    size_t nrx, caprx;
    struct rl_intern intern; /* scalars shared by the resources of this render */
    struct sl_error *err;
};

/* jansson's iterators take non-const values; reading through them is safe. */
static inline json_t *unconst(const json_t *v)
{
    union {
        const json_t *c;
        json_t *m;
    } u;
    u.c = v;
    return u.m;
}

/* ---- load.c ---- */
/*
 * Parse YAML bytes to JSON documents the way kustomize reads resources (yaml.v3 resolution).
 * With intern (may be NULL), equal short strings and integers come back as the same value.
 */
json_t *rl_yaml_to_json(const struct sl_ynode *n, bool yaml11, const char *name,
                        struct rl_intern *intern, struct sl_error *err);
/* A new reference to a string equal to s, shared when t already has one (NULL on OOM). */
json_t *rl_intern_string(struct rl_intern *t, const char *s);
void rl_intern_release(struct rl_intern *t);
enum { RL_INT_NO, RL_INT_OK, RL_INT_RANGE };
int rl_go_int(const char *in, json_int_t *out);

int rl_load_docs(struct render_ctx *c, const char *path, const char *data, size_t len, bool lenient,
                 struct sl_ystream **out);
int rl_read_file(struct render_ctx *c, const char *path, struct sl_buf *out);
/* A go-yaml timestamp (2006-1-2[( |T|t)15:4:5[.9][Z07:00]]) as RFC 3339, or NULL. */
json_t *rl_timestamp(const char *v);

/* ---- resmap.c ---- */
struct res *res_new(json_t *obj, const char *file, int line, struct sl_error *err);
void res_free(struct res *r);
struct res *res_clone(const struct res *r, struct sl_error *err);
const char *res_kind(const struct res *r);
const char *res_name(const struct res *r);
const char *res_ns(const struct res *r); /* "" when unset */
const char *res_apiversion(const struct res *r);
void res_group_version(const struct res *r, char *group, size_t gl, char *version, size_t vl);
/* Record the current id as a previous one (before a rename). */
int res_store_prev(struct res *r, struct sl_error *err);
int res_set_name(struct res *r, const char *name, struct sl_error *err);
int res_set_ns(struct res *r, const char *ns, struct sl_error *err);
bool res_any_id_matches(const struct res *r, const char *kind, const char *name, const char *ns,
                        bool check_ns);
void resmap_release(struct resmap *m);
int resmap_push(struct resmap *m, struct res *r, struct sl_error *err);
void resmap_remove_at(struct resmap *m, size_t i);
/* Append all of src (taken) to dst, refusing duplicate ids (naming both origins). */
int resmap_append_all(struct resmap *dst, struct resmap *src, size_t max, struct sl_error *err);
bool kind_is_cluster_scoped(const char *group, const char *kind);
void res_describe(const struct res *r, char *out, size_t outlen);

/* ---- smp.c ---- */
/* Strategic merge of patch into *dst (replaced). Returns 0; *deleted set when the doc is deleted.
 */
int smp_apply(json_t **dst, const json_t *patch, const char *kind, bool schema, bool *deleted,
              struct sl_error *err);
int jsonpatch_apply(json_t **doc, const json_t *ops, const char *name, struct sl_error *err);

/* ---- emit.c ---- */
int emit_yaml_doc(const json_t *v, struct sl_buf *out, struct sl_error *err);
int go_json_marshal(const json_t *v, struct sl_buf *out, struct sl_error *err);
/* kustomize's legacy order; first/last replace the default kind lists when not NULL. */
void sort_legacy(struct res **items, size_t n, const json_t *first, const json_t *last);

/* ---- select.c ---- */
int label_selector_match(const char *sel, const json_t *labels, bool *match, struct sl_error *err);
int regex_full_match(struct render_ctx *c, const char *pattern, const char *s, bool *match);
void regex_cache_release(struct render_ctx *c);

/* ---- nameref.c ---- */
int nameref_fix(struct render_ctx *c, struct resmap *ra);
int vars_resolve(struct render_ctx *c, struct resmap *ra);
/* The field specs vars apply to: kustomize's varReference list plus custom ones (kust.c). */
int vars_apply(struct render_ctx *c, struct resmap *ra, const json_t **values);
int vars_subst_field(struct render_ctx *c, struct resmap *ra, json_t *parent, const char *key,
                     const json_t **values);
int replacements_apply(struct render_ctx *c, const char *kfile, const json_t *list,
                       struct resmap *ra);

/* ---- kust.c ---- */
int kust_sort_fifo(struct render_ctx *c, const char *dir, int *fifo);
/* legacySortOptions of the top kustomization (owned by render_ctx.sort_first/last) */
int kust_build(struct render_ctx *c, const char *dir, struct resmap *out, bool top);

#endif
