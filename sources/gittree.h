/*
 * A commit's files, read straight from the object database: no checkout,
 * no temporary files. Paths are relative to the commit's root tree; the
 * caller (the agent's tree wrapper) has already cleaned them lexically.
 * Symlink blobs are followed (at most 40 hops) only while every step stays
 * inside the tree; an absolute target or one that climbs above the root is
 * refused with SSRC_EPERM. Submodules (gitlinks) are not supported. Reads
 * are capped by the caller's max; a blob over it is SSRC_ETOOLARGE, never a
 * truncated read.
 */
#ifndef SSRC_GITTREE_H
#define SSRC_GITTREE_H

#include <stddef.h>

#include "repo.h"
#include "srcerr.h"

enum ssrc_kind { SSRC_KIND_NONE, SSRC_KIND_FILE, SSRC_KIND_DIR };

struct ssrc_tree;

/*
 * Open the tree of rev (a commit id, a ref name such as "main" or
 * "refs/tags/v1.0.0", or any git revision expression) in the repository at
 * repo_path (a bare repository, a work tree, or a directory inside one: the
 * tree is always the whole commit). commit receives the commit id. The tree
 * keeps its own handle on the repository.
 */
int ssrc_tree_open(const char *repo_path, const char *rev, struct ssrc_tree **out,
                   char commit[SSRC_OID_HEX], struct ssrc_error *err);
void ssrc_tree_free(struct ssrc_tree *t);

/* kind is SSRC_KIND_NONE (and 0 returned) when path does not exist. */
int ssrc_tree_stat(struct ssrc_tree *t, const char *path, enum ssrc_kind *kind, size_t *size,
                   struct ssrc_error *err);
/* Hand the blob's bytes to sink; fails with SSRC_ETOOLARGE when larger than max. */
int ssrc_tree_read(struct ssrc_tree *t, const char *path, size_t max,
                   int (*sink)(void *arg, const void *data, size_t len), void *arg,
                   struct ssrc_error *err);
/* Entry names of a directory, sorted bytewise; caller frees each and the array. */
int ssrc_tree_list(struct ssrc_tree *t, const char *path, char ***names, size_t *n,
                   struct ssrc_error *err);

#endif
