#include <git2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gittree.h"

#define MAX_HOPS     40
#define MAX_PATH_LEN 8192
#define MAX_LINK_LEN 4096

#define MAX_DEPTH 256

/*
 * Trees are kept once loaded: libgit2 does not cache tree objects over 4 KiB,
 * so a directory of a few thousand files would otherwise be parsed again for
 * every file read below it. Open addressing keyed by object id.
 */
struct tree_cache {
    git_tree **v;
    size_t cap; /* power of two */
    size_t n;
};

struct ssrc_tree {
    git_repository *repo;
    git_odb *odb;
    git_tree *root;
    struct tree_cache cache;
};

static size_t oid_hash(const git_oid *id)
{
    size_t h;

    memcpy(&h, id->id, sizeof(h));
    return h;
}

static int cache_get(struct ssrc_tree *t, const git_oid *id, git_tree **out, struct ssrc_error *err)
{
    struct tree_cache *c = &t->cache;
    git_tree *tree = NULL;
    size_t i;
    int grc;

    if (c->cap > 0) {
        for (i = oid_hash(id) & (c->cap - 1); c->v[i] != NULL; i = (i + 1) & (c->cap - 1)) {
            if (git_oid_equal(git_tree_id(c->v[i]), id)) {
                *out = c->v[i];
                return 0;
            }
        }
    }
    if ((grc = git_tree_lookup(&tree, t->repo, id)) < 0)
        return ssrc_error_git(err, grc, "reading a tree");
    if ((c->n + 1) * 2 > c->cap) {
        size_t ncap = c->cap == 0 ? 64 : c->cap * 2;
        git_tree **nv = calloc(ncap, sizeof(*nv));
        if (nv == NULL) {
            git_tree_free(tree);
            return ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
        }
        for (size_t j = 0; j < c->cap; j++) {
            if (c->v[j] == NULL)
                continue;
            for (i = oid_hash(git_tree_id(c->v[j])) & (ncap - 1); nv[i] != NULL;
                 i = (i + 1) & (ncap - 1))
                ;
            nv[i] = c->v[j];
        }
        free(c->v);
        c->v = nv;
        c->cap = ncap;
    }
    for (i = oid_hash(id) & (c->cap - 1); c->v[i] != NULL; i = (i + 1) & (c->cap - 1))
        ;
    c->v[i] = tree;
    c->n++;
    *out = tree;
    return 0;
}

int ssrc_tree_open(const char *repo_path, const char *rev, struct ssrc_tree **out,
                   char commit[SSRC_OID_HEX], struct ssrc_error *err)
{
    struct ssrc_tree *t = NULL;
    git_object *obj = NULL, *peeled = NULL;
    int rc = -1, grc;

    *out = NULL;
    if ((grc = git_libgit2_init()) < 0)
        return ssrc_error_git(err, grc, "initialising libgit2");
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
        goto done;
    }
    if ((grc = git_repository_open_ext(&t->repo, repo_path, 0, NULL)) < 0) {
        ssrc_error_git(err, grc, "%s: opening the repository", repo_path);
        goto done;
    }
    if ((grc = git_revparse_single(&obj, t->repo, rev)) < 0) {
        ssrc_error_git(err, grc, "revision \"%s\"", rev);
        goto done;
    }
    if ((grc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT)) < 0) {
        ssrc_error_git(err, grc, "revision \"%s\" does not name a commit", rev);
        goto done;
    }
    if ((grc = git_commit_tree(&t->root, (git_commit *)peeled)) < 0) {
        ssrc_error_git(err, grc, "revision \"%s\": reading its tree", rev);
        goto done;
    }
    if ((grc = git_repository_odb(&t->odb, t->repo)) < 0) {
        ssrc_error_git(err, grc, "opening the object database");
        goto done;
    }
    if (commit != NULL)
        git_oid_tostr(commit, SSRC_OID_HEX, git_object_id(peeled));
    *out = t;
    t = NULL;
    rc = 0;
done:
    git_object_free(peeled);
    git_object_free(obj);
    if (t != NULL)
        ssrc_tree_free(t); /* also balances git_libgit2_init() */
    else if (rc != 0)
        git_libgit2_shutdown();
    return rc;
}

void ssrc_tree_free(struct ssrc_tree *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->cache.cap; i++)
        git_tree_free(t->cache.v[i]);
    free(t->cache.v);
    git_tree_free(t->root);
    git_odb_free(t->odb);
    git_repository_free(t->repo);
    free(t);
    git_libgit2_shutdown();
}

/* Result of walking a path. */
struct found {
    enum ssrc_kind kind;
    git_oid oid;    /* blob or tree */
    git_tree *tree; /* directories: the cached tree (borrowed from the cache) */
    bool is_root;
};

/*
 * Walk path component by component from the root. The stack holds the real
 * directories walked so far, so ".." pops one; symlink targets are spliced in
 * front of the rest of the path and resolved from the link's directory.
 * Returns 0 (found), 1 (not found) or -1.
 */
static int walk(struct ssrc_tree *t, const char *path, struct found *f, struct ssrc_error *err)
{
    char rest[MAX_PATH_LEN], comp[MAX_PATH_LEN];
    git_tree *stack[MAX_DEPTH];
    size_t depth = 0;
    int hops = 0;

    memset(f, 0, sizeof(*f));
    if (strlen(path) >= sizeof(rest))
        return ssrc_error_set(err, SSRC_ETOOLARGE, "%s: path too long", path);
    snprintf(rest, sizeof(rest), "%s", path);
    stack[0] = t->root;
    for (;;) {
        size_t cl = strcspn(rest, "/"), skip;
        const git_tree_entry *e;
        git_filemode_t mode;

        if (rest[0] == '\0')
            break;
        memcpy(comp, rest, cl);
        comp[cl] = '\0';
        skip = cl + (rest[cl] == '/');
        memmove(rest, rest + skip, strlen(rest + skip) + 1);
        if (cl == 0 || strcmp(comp, ".") == 0)
            continue;
        if (strcmp(comp, "..") == 0) {
            if (depth == 0)
                return ssrc_error_set(err, SSRC_EPERM, "%s: leaves the repository tree", path);
            depth--;
            continue;
        }
        e = git_tree_entry_byname(stack[depth], comp);
        if (e == NULL)
            return 1;
        mode = git_tree_entry_filemode(e);
        if (mode == GIT_FILEMODE_TREE) {
            git_tree *sub = NULL;
            if (depth + 1 >= MAX_DEPTH)
                return ssrc_error_set(err, SSRC_ETOOLARGE, "%s: nested too deep", path);
            if (cache_get(t, git_tree_entry_id(e), &sub, err) != 0)
                return -1;
            stack[++depth] = sub;
            continue;
        }
        if (mode == GIT_FILEMODE_LINK) {
            git_blob *b = NULL;
            char joined[MAX_PATH_LEN];
            size_t tl;
            const char *target;
            int grc = git_blob_lookup(&b, t->repo, git_tree_entry_id(e));
            if (grc < 0)
                return ssrc_error_git(err, grc, "%s", path);
            tl = (size_t)git_blob_rawsize(b);
            target = git_blob_rawcontent(b);
            if (++hops > MAX_HOPS || tl == 0 || tl > MAX_LINK_LEN ||
                memchr(target, '\0', tl) != NULL) {
                git_blob_free(b);
                return ssrc_error_set(err, SSRC_EPERM, "%s: unusable symlink %s", path, comp);
            }
            if (target[0] == '/') {
                git_blob_free(b);
                return ssrc_error_set(err, SSRC_EPERM,
                                      "%s: symlink %s points outside the repository tree", path,
                                      comp);
            }
            if ((size_t)snprintf(joined, sizeof(joined), "%.*s%s%s", (int)tl, target,
                                 rest[0] ? "/" : "", rest) >= sizeof(joined)) {
                git_blob_free(b);
                return ssrc_error_set(err, SSRC_ETOOLARGE, "%s: path too long", path);
            }
            git_blob_free(b);
            memcpy(rest, joined, strlen(joined) + 1);
            continue;
        }
        if (mode == GIT_FILEMODE_COMMIT)
            return ssrc_error_set(err, SSRC_EUNSUPPORTED, "%s: submodules are not supported", path);
        /* A regular file: the walk must end here. */
        git_oid_cpy(&f->oid, git_tree_entry_id(e));
        if (rest[0] != '\0' && strspn(rest, "/") != strlen(rest))
            return 1;
        f->kind = SSRC_KIND_FILE;
        return 0;
    }
    f->kind = SSRC_KIND_DIR;
    git_oid_cpy(&f->oid, git_tree_id(stack[depth]));
    f->tree = stack[depth];
    f->is_root = depth == 0;
    return 0;
}

int ssrc_tree_stat(struct ssrc_tree *t, const char *path, enum ssrc_kind *kind, size_t *size,
                   struct ssrc_error *err)
{
    struct found f;
    int rc = walk(t, path, &f, err);

    *kind = SSRC_KIND_NONE;
    *size = 0;
    if (rc < 0)
        return -1;
    if (rc > 0)
        return 0;
    *kind = f.kind;
    if (f.kind == SSRC_KIND_FILE) {
        size_t sz = 0;
        git_object_t type;
        int grc = git_odb_read_header(&sz, &type, t->odb, &f.oid);
        if (grc < 0)
            return ssrc_error_git(err, grc, "%s", path);
        *size = sz;
    }
    return 0;
}

int ssrc_tree_read(struct ssrc_tree *t, const char *path, size_t max,
                   int (*sink)(void *arg, const void *data, size_t len), void *arg,
                   struct ssrc_error *err)
{
    struct found f;
    git_blob *b = NULL;
    size_t sz = 0;
    git_object_t type;
    int rc = walk(t, path, &f, err), grc;

    if (rc < 0)
        return -1;
    if (rc > 0)
        return ssrc_error_set(err, SSRC_ENOTFOUND, "%s: no such file", path);
    if (f.kind != SSRC_KIND_FILE)
        return ssrc_error_set(err, SSRC_EINVAL, "%s: is a directory", path);
    /* Check the size from the header before inflating anything. */
    if ((grc = git_odb_read_header(&sz, &type, t->odb, &f.oid)) < 0)
        return ssrc_error_git(err, grc, "%s", path);
    if (sz > max)
        return ssrc_error_set(err, SSRC_ETOOLARGE, "%s: larger than %zu bytes", path, max);
    if ((grc = git_blob_lookup(&b, t->repo, &f.oid)) < 0)
        return ssrc_error_git(err, grc, "%s", path);
    sz = (size_t)git_blob_rawsize(b);
    rc = sz > max ? ssrc_error_set(err, SSRC_ETOOLARGE, "%s: larger than %zu bytes", path, max)
                  : sink(arg, git_blob_rawcontent(b), sz);
    if (rc != 0)
        ssrc_error_set(err, SSRC_ETOOLARGE, "%s: could not be stored", path);
    git_blob_free(b);
    return rc == 0 ? 0 : -1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ssrc_tree_list(struct ssrc_tree *t, const char *path, char ***names, size_t *n,
                   struct ssrc_error *err)
{
    struct found f;
    const git_tree *dir;
    char **v = NULL;
    size_t cnt = 0, total;
    int rc = walk(t, path, &f, err);

    *names = NULL;
    *n = 0;
    if (rc < 0)
        return -1;
    if (rc > 0)
        return ssrc_error_set(err, SSRC_ENOTFOUND, "%s: no such directory", path);
    if (f.kind != SSRC_KIND_DIR)
        return ssrc_error_set(err, SSRC_EINVAL, "%s: not a directory", path);
    dir = f.tree;
    rc = -1;
    total = git_tree_entrycount(dir);
    v = calloc(total + 1, sizeof(*v));
    if (v == NULL) {
        ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < total; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(dir, i);
        if ((v[cnt] = strdup(git_tree_entry_name(e))) == NULL) {
            ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
            goto done;
        }
        cnt++;
    }
    if (cnt > 0)
        qsort(v, cnt, sizeof(*v), cmp_names);
    *names = v;
    *n = cnt;
    v = NULL;
    cnt = 0;
    rc = 0;
done:
    for (size_t i = 0; i < cnt; i++)
        free(v[i]);
    free(v);
    return rc;
}
