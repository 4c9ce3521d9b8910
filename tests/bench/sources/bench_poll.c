/*
 * One poll of the source layer, as the agent does it: list the remote refs,
 * fetch only when they changed. Prints "changed=0|1 refs=N ms=T" (T includes
 * opening the cache). With COUNT, that many further polls run in the same
 * process, as the daemon does them, and their median is printed as
 * "inproc_ms=M".
 * Usage: bench_poll CACHE_DIR URL [COUNT]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "repo.h"

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;

    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    struct ssrc_repo *cache = NULL;
    struct ssrc_error e = SSRC_ERROR_INIT;
    struct ssrc_remote_opts o = {0};
    struct ssrc_poll_result res;
    struct timespec a, b;
    int rc = 1;

    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: bench_poll CACHE_DIR URL [COUNT]\n");
        return 2;
    }
    o.url = argv[2];
    o.timeout_ms = 600000;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (ssrc_cache_open(argv[1], &cache, &e) != 0 || ssrc_poll(cache, &o, &res, &e) != 0) {
        fprintf(stderr, "bench_poll: %s\n", e.msg);
        goto done;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("changed=%d refs=%zu ms=%.2f", res.changed ? 1 : 0, res.nrefs,
           (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
    if (argc == 4) {
        long n = strtol(argv[3], NULL, 10);
        double *t = calloc(n > 0 ? (size_t)n : 1, sizeof(*t));
        if (t == NULL || n <= 0)
            goto done;
        for (long i = 0; i < n; i++) {
            clock_gettime(CLOCK_MONOTONIC, &a);
            if (ssrc_poll(cache, &o, &res, &e) != 0) {
                fprintf(stderr, "bench_poll: %s\n", e.msg);
                free(t);
                goto done;
            }
            clock_gettime(CLOCK_MONOTONIC, &b);
            t[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        }
        qsort(t, (size_t)n, sizeof(*t), cmp_double);
        printf(" inproc_ms=%.2f", t[n / 2]);
        free(t);
    }
    printf("\n");
    rc = 0;
done:
    ssrc_repo_free(cache);
    return rc;
}
