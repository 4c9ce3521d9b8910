#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

int sl_file_read_fd(struct sl_buf *out, int fd, const char *name, size_t max, struct sl_error *err)
{
    struct stat st;
    size_t start = out->len;
    size_t total = 0;

    if (fstat(fd, &st) != 0)
        return sl_error_errno(err, errno, "%s", name);
    if (S_ISDIR(st.st_mode))
        return sl_error_set(err, SL_EINVAL, "%s: is a directory", name);
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > (uint64_t)max)
        return sl_error_set(err, SL_ETOOLARGE, "%s: file is %lld bytes, over the limit of %zu",
                            name, (long long)st.st_size, max);
    /* The size can change under us (or be 0 for pipes): enforce max while reading too. */
    for (;;) {
        ssize_t n;

        if (sl_buf_grow(out, 16384, NULL) != 0 && sl_buf_grow(out, 1, NULL) != 0) {
            sl_buf_truncate(out, start);
            return sl_error_set(err, SL_ETOOLARGE, "%s: over the limit of %zu bytes", name, max);
        }
        n = read(fd, out->ptr + out->len, out->cap - out->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            sl_buf_truncate(out, start);
            return sl_error_errno(err, errno, "%s: read", name);
        }
        if (n == 0)
            break;
        total += (size_t)n;
        if (total > max) {
            sl_buf_truncate(out, start);
            return sl_error_set(err, SL_ETOOLARGE, "%s: over the limit of %zu bytes", name, max);
        }
        out->len += (size_t)n;
        out->ptr[out->len] = '\0';
    }
    return 0;
}

int sl_file_read(struct sl_buf *out, const char *path, size_t max, struct sl_error *err)
{
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return sl_error_errno(err, errno, "%s", path);
    rc = sl_file_read_fd(out, fd, path, max, err);
    close(fd);
    return rc;
}

static int check_private_fd(int fd, const char *path, struct sl_error *err)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return sl_error_errno(err, errno, "%s", path);
    if (!S_ISREG(st.st_mode))
        return sl_error_set(err, SL_EPERM, "%s: not a regular file", path);
    if (st.st_uid != geteuid())
        return sl_error_set(err, SL_EPERM,
                            "%s: owned by uid %u, not by the running user (uid %u); fix with: "
                            "chown %u %s",
                            path, (unsigned)st.st_uid, (unsigned)geteuid(), (unsigned)geteuid(),
                            path);
    if ((st.st_mode & 077) != 0)
        return sl_error_set(err, SL_EPERM,
                            "%s: readable by group or others (mode %04o); fix with: chmod 600 %s",
                            path, (unsigned)(st.st_mode & 07777), path);
    return 0;
}

int sl_file_check_private(const char *path, struct sl_error *err)
{
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return sl_error_errno(err, errno, "%s", path);
    rc = check_private_fd(fd, path, err);
    close(fd);
    return rc;
}

int sl_file_read_secret(struct sl_secbuf *out, const char *path, size_t max, struct sl_error *err)
{
    unsigned char chunk[4096];
    int fd, rc = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return sl_error_errno(err, errno, "%s", path);
    if (check_private_fd(fd, path, err) != 0)
        goto done;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sl_error_errno(err, errno, "%s: read", path);
            goto done;
        }
        if (n == 0)
            break;
        if (out->len + (size_t)n > max) {
            sl_error_set(err, SL_ETOOLARGE, "%s: over the limit of %zu bytes", path, max);
            goto done;
        }
        if (sl_secbuf_append(out, chunk, (size_t)n, err) != 0)
            goto done;
    }
    rc = 0;
done:
    sl_secure_wipe(chunk, sizeof(chunk));
    close(fd);
    return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_parent(const char *path, struct sl_error *err)
{
    char copy[4096];
    int dfd, rc = 0;

    if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
        return sl_error_set(err, SL_ETOOLARGE, "%s: path too long", path);
    dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return sl_error_errno(err, errno, "%s: open parent directory", path);
    if (fsync(dfd) != 0)
        rc = sl_error_errno(err, errno, "%s: fsync parent directory", path);
    close(dfd);
    return rc;
}

int sl_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct sl_error *err)
{
    char tmp[4096];
    int fd = -1, rc = -1;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return sl_error_set(err, SL_ETOOLARGE, "%s: path too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        sl_error_errno(err, errno, "%s", tmp);
        goto done;
    }
    if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        sl_error_errno(err, errno, "%s: write", tmp);
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        sl_error_errno(err, errno, "%s: close", tmp);
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        sl_error_errno(err, errno, "%s: rename", path);
        goto done;
    }
    if (fsync_parent(path, err) != 0)
        goto done;
    rc = 0;
done:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int sl_file_write_new(const char *path, const void *data, size_t len, mode_t mode,
                      struct sl_error *err)
{
    int fd, rc = -1;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return sl_error_set(err, SL_ECONFLICT, "%s: already exists; refusing to overwrite",
                                path);
        return sl_error_errno(err, errno, "%s", path);
    }
    if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        sl_error_errno(err, errno, "%s: write", path);
        goto done;
    }
    rc = 0;
done:
    if (close(fd) != 0 && rc == 0)
        rc = sl_error_errno(err, errno, "%s: close", path);
    if (rc != 0)
        unlink(path);
    return rc;
}

int sl_mkdir_p(const char *path, mode_t mode, struct sl_error *err)
{
    char copy[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(copy))
        return sl_error_set(err, SL_EINVAL, "invalid directory path");
    memcpy(copy, path, n + 1);
    for (char *p = copy + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, mode) != 0 && errno != EEXIST)
            return sl_error_errno(err, errno, "%s", copy);
        *p = '/';
    }
    if (mkdir(copy, mode) != 0 && errno != EEXIST)
        return sl_error_errno(err, errno, "%s", copy);
    return 0;
}
