/* Helpers for the agent/kube unit tests: a scratch directory and files in it. */
#ifndef TEST_KUBE_UTIL_H
#define TEST_KUBE_UTIL_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int tk_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static char tk_dir[512];

static void tk_mkdir(void)
{
    const char *base = getenv("TMPDIR");

    snprintf(tk_dir, sizeof(tk_dir), "%s/sluice-kube-XXXXXX", base != NULL ? base : "/tmp");
    if (mkdtemp(tk_dir) == NULL) {
        perror("mkdtemp");
        tk_dir[0] = '\0';
    }
}

static void tk_rmdir(void)
{
    if (tk_dir[0] != '\0')
        nftw(tk_dir, tk_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    tk_dir[0] = '\0';
}

/* Path of rel inside the scratch directory (static buffer rotation of 4). */
static const char *tk_path(const char *rel)
{
    static char bufs[4][1024];
    static int i;

    i = (i + 1) % 4;
    snprintf(bufs[i], sizeof(bufs[i]), "%s/%s", tk_dir, rel);
    return bufs[i];
}

static int tk_write(const char *rel, const char *data, mode_t mode)
{
    const char *p = tk_path(rel);
    size_t len = strlen(data);
    int fd;

    unlink(p);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return -1;
    if (write(fd, data, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    return close(fd);
}

#endif
