/*
 * A bounded YAML loader on libyaml: multi-document input to a node tree
 * that keeps line and column of every node (1-based), so errors and object
 * origins can name `file:line`.
 *
 * Untrusted input is bounded: nesting depth, total node count and nodes
 * created by alias expansion (the "billion laughs" bomb) each have a cap.
 * Aliases are expanded by copying, so the tree is a tree and one
 * sl_ystream_free() releases it. Duplicate mapping keys are an error, as in
 * kustomize.
 */
#ifndef SL_YAMLTREE_H
#define SL_YAMLTREE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum sl_ytype { SL_Y_SCALAR, SL_Y_SEQ, SL_Y_MAP };
enum sl_ystyle { SL_YS_PLAIN, SL_YS_SINGLE, SL_YS_DOUBLE, SL_YS_LITERAL, SL_YS_FOLDED };

struct sl_ynode {
    enum sl_ytype type;
    int line, col;
    char *tag; /* explicit tag as written ("!!str" expanded to tag:yaml.org,2002:str), or NULL */
    /* SL_Y_SCALAR */
    char *value; /* NUL-terminated; len excludes the NUL (values may hold NUL bytes) */
    size_t len;
    enum sl_ystyle style;
    /* SL_Y_SEQ: items[n]; SL_Y_MAP: keys[n] -> items[n] */
    struct sl_ynode **keys;
    struct sl_ynode **items;
    size_t n;
};

struct sl_ydoc {
    struct sl_ynode *root; /* NULL for an empty document */
    int line;              /* line of the document start */
};

struct sl_ystream {
    struct sl_ydoc *docs;
    size_t ndocs;
};

struct sl_yaml_limits {
    size_t max_depth;       /* nesting of sequences and mappings */
    size_t max_nodes;       /* all nodes in the stream */
    size_t max_alias_nodes; /* nodes created by expanding aliases */
    size_t max_docs;
};

#define SL_YAML_LIMITS_DEFAULT                                                                     \
    {                                                                                              \
        128, 4000000, 100000, 100000                                                               \
    }

/*
 * Parse data (len bytes) named name (used in messages: "name:line:col: ...").
 * limits may be NULL for the defaults.
 */
int sl_yaml_load(struct sl_ystream **out, const char *data, size_t len, const char *name,
                 const struct sl_yaml_limits *limits, struct sl_error *err);
/*
 * Like sl_yaml_load, but a repeated mapping key replaces the earlier one
 * instead of failing: go-yaml v2 (sigs.k8s.io/yaml), which kustomize uses for
 * kustomization files, accepts them that way.
 */
int sl_yaml_load_lenient(struct sl_ystream **out, const char *data, size_t len, const char *name,
                         const struct sl_yaml_limits *limits, struct sl_error *err);
/*
 * Parse a stream one document at a time: each(ctx, doc, err) sees every
 * document (root NULL when empty), which is freed when it returns, so memory
 * is bounded by the largest document, not the stream. A non-zero return
 * stops and is returned. Same limits as sl_yaml_load over the whole stream.
 */
int sl_yaml_load_each(const char *data, size_t len, const char *name,
                      const struct sl_yaml_limits *limits,
                      int (*each)(void *ctx, const struct sl_ydoc *doc, struct sl_error *err),
                      void *ctx, struct sl_error *err);
/*
 * sl_yaml_load_each over a buffer the caller is done with once it is parsed
 * (a resource file): the whole pages already parsed are handed back to the
 * kernel as parsing proceeds, so a large file does not stay resident beside
 * the objects made from it. Afterwards data holds unspecified bytes (partly
 * zeros); it is still the caller's to free.
 */
int sl_yaml_load_each_consume(char *data, size_t len, const char *name,
                              const struct sl_yaml_limits *limits,
                              int (*each)(void *ctx, const struct sl_ydoc *doc,
                                          struct sl_error *err),
                              void *ctx, struct sl_error *err);
void sl_ystream_free(struct sl_ystream *s);
void sl_ynode_free(struct sl_ynode *n);

/* Mapping lookup by scalar key (NULL when absent or n is not a mapping). */
struct sl_ynode *sl_ynode_get(const struct sl_ynode *map, const char *key);

/* True when a plain scalar means null ("", "~", "null", "Null", "NULL"). */
bool sl_yscalar_is_null(const struct sl_ynode *n);

/*
 * Convert to JSON with the YAML 1.2 core schema for plain scalars (null,
 * booleans, integers, floats; everything else is a string; quoted scalars
 * are strings; explicit !!str/!!int/... tags win). Mapping keys must be
 * scalars. name is used in messages.
 */
json_t *sl_ynode_to_json(const struct sl_ynode *n, const char *name, struct sl_error *err);

#endif
