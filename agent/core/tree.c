#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file.h"
#include "path.h"
#include "tree.h"

struct sl_tree *sl_tree_new(const struct sl_tree_ops *ops, void *ctx, const char *label,
                            struct sl_error *err)
{
    struct sl_tree *t = calloc(1, sizeof(*t));

    if (t == NULL || (t->label = strdup(label)) == NULL) {
        free(t);
        if (ops->free != NULL)
            ops->free(ctx);
        sl_error_set(err, SL_ENOMEM, "out of memory");
        return NULL;
    }
    t->ops = ops;
    t->ctx = ctx;
    t->max_bytes = SL_TREE_MAX_BYTES;
    return t;
}

void sl_tree_free(struct sl_tree *t)
{
    if (t == NULL)
        return;
    if (t->ops->free != NULL)
        t->ops->free(t->ctx);
    free(t->label);
    free(t);
}

int sl_tree_stat(struct sl_tree *t, const char *path, enum sl_tree_kind *kind, size_t *size,
                 struct sl_error *err)
{
    struct sl_buf clean = SL_BUF_INIT(8192);
    size_t sz = 0;
    int rc;

    if (sl_path_clean(&clean, path, err) != 0)
        return -1;
    rc = t->ops->stat(t->ctx, clean.ptr, kind, &sz, err);
    if (size != NULL)
        *size = sz;
    sl_buf_release(&clean);
    return rc;
}

int sl_tree_read(struct sl_tree *t, const char *path, struct sl_buf *out, struct sl_error *err)
{
    struct sl_buf clean = SL_BUF_INIT(8192);
    size_t before = out->len, left, max;
    int rc = -1;

    if (sl_path_clean(&clean, path, err) != 0)
        goto done;
    left = t->bytes_read >= t->max_bytes ? 0 : t->max_bytes - t->bytes_read;
    max = left < SL_FILE_MAX ? left : SL_FILE_MAX;
    if (t->ops->read(t->ctx, clean.ptr, max, out, err) != 0) {
        if (err != NULL && err->code == SL_ETOOLARGE && max < SL_FILE_MAX) {
            sl_error_clear(err);
            sl_error_set(err, SL_ETOOLARGE,
                         "%s: reading it passes the limit of %zu bytes read "
                         "from one tree",
                         clean.ptr, t->max_bytes);
        }
        goto done;
    }
    t->bytes_read += out->len - before;
    rc = 0;
done:
    sl_buf_release(&clean);
    return rc;
}

int sl_tree_list(struct sl_tree *t, const char *path, char ***names, size_t *n,
                 struct sl_error *err)
{
    struct sl_buf clean = SL_BUF_INIT(8192);
    int rc;

    *names = NULL;
    *n = 0;
    if (sl_path_clean(&clean, path, err) != 0)
        return -1;
    rc = t->ops->list(t->ctx, clean.ptr, names, n, err);
    sl_buf_release(&clean);
    return rc;
}

void sl_tree_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- directory implementation ---- */

struct dir_tree {
    char *root; /* real path */
};

static int dir_resolve(struct dir_tree *d, const char *path, struct sl_buf *abs,
                       struct sl_error *err)
{
    return sl_path_confine(abs, d->root, path, err);
}

static int dir_stat(void *ctx, const char *path, enum sl_tree_kind *kind, size_t *size,
                    struct sl_error *err)
{
    struct sl_buf abs = SL_BUF_INIT(8192);
    struct sl_error e = SL_ERROR_INIT;
    struct stat st;
    int rc = -1;

    *kind = SL_TREE_NONE;
    *size = 0;
    if (dir_resolve(ctx, path, &abs, &e) != 0) {
        if (e.code == SL_ENOTFOUND)
            rc = 0;
        else
            sl_error_set(err, e.code, "%s", e.msg);
        goto done;
    }
    if (stat(abs.ptr, &st) != 0) {
        sl_error_errno(err, errno, "%s", path);
        goto done;
    }
    if (S_ISDIR(st.st_mode))
        *kind = SL_TREE_DIR;
    else if (S_ISREG(st.st_mode))
        *kind = SL_TREE_FILE;
    *size = (size_t)st.st_size;
    rc = 0;
done:
    sl_buf_release(&abs);
    return rc;
}

static int dir_read(void *ctx, const char *path, size_t max, struct sl_buf *out,
                    struct sl_error *err)
{
    struct sl_buf abs = SL_BUF_INIT(8192);
    struct sl_error e = SL_ERROR_INIT;
    int rc = -1;

    if (dir_resolve(ctx, path, &abs, err) != 0)
        goto done;
    if (sl_file_read(out, abs.ptr, max, &e) != 0) {
        /* Name the repository-relative path, not the absolute one. */
        const char *colon = strstr(e.msg, ": ");
        sl_error_set(err, e.code, "%s%s", path, colon != NULL ? colon : "");
        goto done;
    }
    rc = 0;
done:
    sl_buf_release(&abs);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int dir_list(void *ctx, const char *path, char ***names, size_t *n, struct sl_error *err)
{
    struct sl_buf abs = SL_BUF_INIT(8192);
    DIR *dir = NULL;
    struct dirent *de;
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = -1;

    if (dir_resolve(ctx, path, &abs, err) != 0)
        goto done;
    dir = opendir(abs.ptr);
    if (dir == NULL) {
        sl_error_errno(err, errno, "%s", path);
        goto done;
    }
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (cnt == cap) {
            size_t nc = cap == 0 ? 16 : cap * 2;
            char **nv = realloc(v, nc * sizeof(*nv));
            if (nv == NULL) {
                sl_error_set(err, SL_ENOMEM, "out of memory");
                goto done;
            }
            v = nv;
            cap = nc;
        }
        if ((v[cnt] = strdup(de->d_name)) == NULL) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
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
    if (dir != NULL)
        closedir(dir);
    sl_tree_names_free(v, cnt);
    sl_buf_release(&abs);
    return rc;
}

static void dir_free(void *ctx)
{
    struct dir_tree *d = ctx;

    if (d == NULL)
        return;
    free(d->root);
    free(d);
}

static const struct sl_tree_ops dir_ops = {dir_stat, dir_read, dir_list, dir_free};

struct sl_tree *sl_tree_open_dir(const char *root, struct sl_error *err)
{
    struct dir_tree *d = calloc(1, sizeof(*d));
    struct stat st;

    if (d == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        return NULL;
    }
    d->root = realpath(root, NULL);
    if (d->root == NULL) {
        sl_error_errno(err, errno, "%s", root);
        free(d);
        return NULL;
    }
    if (stat(d->root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        sl_error_set(err, SL_EINVAL, "%s: not a directory", root);
        dir_free(d);
        return NULL;
    }
    return sl_tree_new(&dir_ops, d, root, err);
}
