/* Small helpers shared by unit tests: temporary directories and files. */
#ifndef SL_TESTUTIL_H
#define SL_TESTUTIL_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline int testutil_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* mkdtemp under TMPDIR; returns a static-lifetime string owned by the caller (free it). */
static inline char *testutil_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char *p = NULL;

    if (asprintf(&p, "%s/sluice-test-XXXXXX", base != NULL ? base : "/tmp") < 0)
        return NULL;
    if (mkdtemp(p) == NULL) {
        free(p);
        return NULL;
    }
    return p;
}

static inline void testutil_rmrf(char *dir)
{
    if (dir != NULL)
        nftw(dir, testutil_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static inline int testutil_write(const char *dir, const char *rel, const char *data, mode_t mode)
{
    char path[4096];
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return -1;
    n = write(fd, data, strlen(data));
    fchmod(fd, mode);
    close(fd);
    return n == (ssize_t)strlen(data) ? 0 : -1;
}

#endif
