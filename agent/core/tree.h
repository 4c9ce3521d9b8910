/*
 * A read-only file tree: the only way the renderer reads a repository.
 *
 * Two implementations: a directory on disk (sl_tree_open_dir) and a git
 * commit read straight from the object database (the sources layer, adapted
 * in agent/). Paths are relative to the tree's root; the wrappers below
 * clean them and refuse any that leave the root before an implementation
 * sees them, and implementations refuse symlinks that resolve outside it.
 * Every read is capped per file (SL_FILE_MAX) and the tree counts all bytes
 * read against a total budget (SL_TREE_MAX_BYTES), so a hostile repository
 * cannot make sluice read without bound.
 */
#ifndef SL_TREE_H
#define SL_TREE_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

#define SL_TREE_MAX_BYTES ((size_t)256 << 20)

enum sl_tree_kind { SL_TREE_NONE, SL_TREE_FILE, SL_TREE_DIR };

struct sl_tree_ops {
    /* kind is SL_TREE_NONE (and 0 is returned) when path does not exist. */
    int (*stat)(void *ctx, const char *path, enum sl_tree_kind *kind, size_t *size,
                struct sl_error *err);
    /* Append the file's bytes to out; fail with SL_ETOOLARGE past max. */
    int (*read)(void *ctx, const char *path, size_t max, struct sl_buf *out, struct sl_error *err);
    /* Entry names of a directory, sorted bytewise; caller frees each and the array. */
    int (*list)(void *ctx, const char *path, char ***names, size_t *n, struct sl_error *err);
    void (*free)(void *ctx);
};

struct sl_tree {
    const struct sl_tree_ops *ops;
    void *ctx;
    char *label;       /* for messages: the directory, or "git:<short commit>" */
    size_t bytes_read; /* against max_bytes */
    size_t max_bytes;
};

/* Wrap an implementation; takes ownership of ctx (ops->free is called by sl_tree_free). */
struct sl_tree *sl_tree_new(const struct sl_tree_ops *ops, void *ctx, const char *label,
                            struct sl_error *err);
void sl_tree_free(struct sl_tree *t);

/* A directory on disk as a tree (symlinks followed only while they stay inside root). */
struct sl_tree *sl_tree_open_dir(const char *root, struct sl_error *err);

int sl_tree_stat(struct sl_tree *t, const char *path, enum sl_tree_kind *kind, size_t *size,
                 struct sl_error *err);
int sl_tree_read(struct sl_tree *t, const char *path, struct sl_buf *out, struct sl_error *err);
int sl_tree_list(struct sl_tree *t, const char *path, char ***names, size_t *n,
                 struct sl_error *err);
void sl_tree_names_free(char **names, size_t n);

#endif
