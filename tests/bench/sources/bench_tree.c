/*
 * Read every file of a tree through the agent's tree interface, from a git
 * commit (object database) and from a directory with the same files, and
 * print both times (best of N runs).
 * Usage: bench_tree REPO REV DIR [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "source.h"
#include "tree.h"

static int walk(struct sl_tree *t, const char *path, size_t *files, size_t *bytes,
                struct sl_error *err)
{
    char **names = NULL;
    size_t n = 0;
    int rc = -1;

    if (sl_tree_list(t, path, &names, &n, err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char child[4096];
        enum sl_tree_kind kind;
        size_t size;
        if (strcmp(path, ".") == 0)
            snprintf(child, sizeof(child), "%s", names[i]);
        else
            snprintf(child, sizeof(child), "%s/%s", path, names[i]);
        if (strcmp(names[i], ".git") == 0)
            continue;
        if (sl_tree_stat(t, child, &kind, &size, err) != 0)
            goto done;
        if (kind == SL_TREE_DIR) {
            if (walk(t, child, files, bytes, err) != 0)
                goto done;
        } else if (kind == SL_TREE_FILE) {
            struct sl_buf b = SL_BUF_INIT((size_t)16 << 20);
            if (sl_tree_read(t, child, &b, err) != 0) {
                sl_buf_release(&b);
                goto done;
            }
            *files += 1;
            *bytes += b.len;
            sl_buf_release(&b);
        }
    }
    rc = 0;
done:
    sl_tree_names_free(names, n);
    return rc;
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int measure(int git, const char *repo, const char *rev, const char *dir, double *best,
                   size_t *files, size_t *bytes)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_tree *t = NULL;
    double a = now_ms();

    *files = *bytes = 0;
    if (git ? sl_source_open_ref_tree(repo, rev, &t, NULL, &err) != 0
            : (t = sl_tree_open_dir(dir, &err)) == NULL) {
        fprintf(stderr, "bench_tree: %s\n", err.msg);
        return -1;
    }
    if (walk(t, ".", files, bytes, &err) != 0) {
        fprintf(stderr, "bench_tree: %s\n", err.msg);
        sl_tree_free(t);
        return -1;
    }
    sl_tree_free(t);
    a = now_ms() - a;
    if (*best < 0 || a < *best)
        *best = a;
    return 0;
}

int main(int argc, char **argv)
{
    double gbest = -1, dbest = -1;
    size_t gf = 0, gb = 0, df = 0, db = 0;
    long runs = argc > 4 ? strtol(argv[4], NULL, 10) : 5;

    if (argc < 4) {
        fprintf(stderr, "usage: bench_tree REPO REV DIR [RUNS]\n");
        return 2;
    }
    for (long i = 0; i < runs; i++) {
        if (measure(1, argv[1], argv[2], argv[3], &gbest, &gf, &gb) != 0 ||
            measure(0, argv[1], argv[2], argv[3], &dbest, &df, &db) != 0)
            return 1;
    }
    if (gf != df || gb != db) {
        fprintf(stderr, "bench_tree: git tree has %zu files/%zu bytes, directory %zu/%zu\n", gf, gb,
                df, db);
        return 1;
    }
    printf("files=%zu bytes=%zu git_ms=%.2f dir_ms=%.2f ratio=%.2f\n", gf, gb, gbest, dbest,
           gbest / dbest);
    return 0;
}
