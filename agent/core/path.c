#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

#define SL_PATH_MAX 4096

int sl_path_clean(struct sl_buf *out, const char *rel, struct sl_error *err)
{
    /* Offsets of component starts in out, to pop on "..". */
    size_t starts[SL_PATH_MAX / 2];
    size_t depth = 0;
    const char *p = rel;

    sl_buf_reset(out);
    if (rel == NULL)
        return sl_error_set(err, SL_EINVAL, "empty path");
    if (strlen(rel) >= SL_PATH_MAX)
        return sl_error_set(err, SL_ETOOLARGE, "path longer than %d bytes", SL_PATH_MAX);
    if (rel[0] == '/')
        return sl_error_set(err, SL_EPERM, "%s: absolute paths are not allowed", rel);
    while (*p != '\0') {
        const char *end = strchr(p, '/');
        size_t n = end == NULL ? strlen(p) : (size_t)(end - p);

        if (n == 0 || (n == 1 && p[0] == '.')) {
            /* empty or "." component: skip */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (depth == 0)
                return sl_error_set(err, SL_EPERM, "%s: path leaves its root", rel);
            depth--;
            sl_buf_truncate(out, starts[depth] == 0 ? 0 : starts[depth] - 1);
        } else {
            if (out->len > 0 && sl_buf_putc(out, '/', err) != 0)
                return -1;
            starts[depth++] = out->len;
            if (sl_buf_append(out, p, n, err) != 0)
                return -1;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    if (out->len == 0 && sl_buf_putc(out, '.', err) != 0)
        return -1;
    return 0;
}

int sl_path_join(struct sl_buf *out, const char *base, const char *rel, struct sl_error *err)
{
    struct sl_buf tmp = SL_BUF_INIT(2 * SL_PATH_MAX);
    int rc = -1;

    if (rel[0] == '/') {
        sl_error_set(err, SL_EPERM, "%s: absolute paths are not allowed", rel);
        goto done;
    }
    if (base != NULL && base[0] != '\0' && strcmp(base, ".") != 0) {
        if (sl_buf_puts(&tmp, base, err) != 0 || sl_buf_putc(&tmp, '/', err) != 0)
            goto done;
    }
    if (sl_buf_puts(&tmp, rel, err) != 0)
        goto done;
    if (sl_path_clean(out, tmp.ptr, err) != 0) {
        sl_error_clear(err);
        sl_error_set(err, SL_EPERM, "%s: path leaves the repository root (from %s)", rel,
                     base != NULL && base[0] != '\0' ? base : ".");
        goto done;
    }
    rc = 0;
done:
    sl_buf_release(&tmp);
    return rc;
}

int sl_path_confine(struct sl_buf *out, const char *root, const char *rel, struct sl_error *err)
{
    struct sl_buf clean = SL_BUF_INIT(SL_PATH_MAX);
    struct sl_buf joined = SL_BUF_INIT(2 * SL_PATH_MAX);
    char *rroot = NULL, *rpath = NULL;
    size_t rl;
    int rc = -1;

    if (sl_path_clean(&clean, rel, err) != 0)
        goto done;
    rroot = realpath(root, NULL);
    if (rroot == NULL) {
        sl_error_errno(err, errno, "%s", root);
        goto done;
    }
    if (sl_buf_printf(&joined, err, "%s/%s", rroot, clean.ptr) != 0)
        goto done;
    rpath = realpath(joined.ptr, NULL);
    if (rpath == NULL) {
        sl_error_errno(err, errno, "%s", rel);
        goto done;
    }
    rl = strlen(rroot);
    if (!(strncmp(rpath, rroot, rl) == 0 &&
          (rpath[rl] == '\0' || rpath[rl] == '/' || (rl == 1 && rroot[0] == '/')))) {
        sl_error_set(err, SL_EPERM, "%s: resolves outside %s (a symlink escapes the root)", rel,
                     root);
        goto done;
    }
    sl_buf_reset(out);
    if (sl_buf_puts(out, rpath, err) != 0)
        goto done;
    rc = 0;
done:
    free(rroot);
    free(rpath);
    sl_buf_release(&clean);
    sl_buf_release(&joined);
    return rc;
}

int sl_path_is_safe_relative(const char *rel)
{
    struct sl_buf tmp = SL_BUF_INIT(SL_PATH_MAX);
    int ok = sl_path_clean(&tmp, rel, NULL) == 0;

    sl_buf_release(&tmp);
    return ok;
}
