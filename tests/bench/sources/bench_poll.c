/*
 * One poll of the source layer, as the agent does it: list the remote refs,
 * fetch only when they changed. Prints "changed=0|1 refs=N ms=T".
 * Usage: bench_poll CACHE_DIR URL
 */
#include <stdio.h>
#include <time.h>

#include "repo.h"

int main(int argc, char **argv)
{
    struct ssrc_repo *cache = NULL;
    struct ssrc_error e = SSRC_ERROR_INIT;
    struct ssrc_remote_opts o = {0};
    struct ssrc_poll_result res;
    struct timespec a, b;
    int rc = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: bench_poll CACHE_DIR URL\n");
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
    printf("changed=%d refs=%zu ms=%.2f\n", res.changed ? 1 : 0, res.nrefs,
           (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
    rc = 0;
done:
    ssrc_repo_free(cache);
    return rc;
}
