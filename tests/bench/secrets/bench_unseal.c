/*
 * Unsealing benchmark: 1,000 SealedSecrets with 3 keys each (3,000 values,
 * 64-byte random plaintexts), unsealed with sl_unseal_objects() and three
 * configured identities of which only the last matches (a key-rotation
 * worst case: every value is tried against two wrong keys first). Prints
 * time per value, then the same for `age -d -i` on a sample of the same
 * armored values (one process per value, as a shell loop would).
 *
 *   bench_unseal [SECRETS] [AGE_SAMPLE]     defaults 1000 and 200
 */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "file.h"
#include "secrets.h"

extern char **environ;

static double clock_ms(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

int main(int argc, char **argv)
{
    long nsecrets = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    long sample = argc > 2 ? strtol(argv[2], NULL, 10) : 200;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_identities ids = SL_IDENTITIES_INIT;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_age_identity *keys[3];
    struct sl_recipient r;
    struct sl_buf a = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    char dir[] = "/tmp/sluice-bench-XXXXXX", path[4096], idstr[SL_AGE_IDENTITY_STRLEN + 2];
    const char *keynames[3] = {"username", "password", "token"};
    double t0, t1, c0, cpu, ours, theirs = 0;
    long nvalues = nsecrets * 3, ran = 0;
    int rc = 1;

    if (nsecrets <= 0 || sample < 0 || sl_secmem_init(&err) != 0 || mkdtemp(dir) == NULL)
        return 2;
    for (int i = 0; i < 3; i++) {
        keys[i] = sl_age_identity_generate(&err);
        if (keys[i] == NULL || sl_identities_add_raw(&ids, keys[i]->sk, &err) != 0)
            goto fail;
    }
    memcpy(r.pk, keys[2]->pk, 32);
    for (long s = 0; s < nsecrets; s++) {
        char name[32];
        struct sl_age_scope sc;
        json_t *enc = json_object();

        snprintf(name, sizeof(name), "secret-%05ld", s);
        struct sl_age_sealer sealer;

        /* as `sluice seal` does: one header per SealedSecret */
        if (sl_scope_make(SL_SCOPE_STRICT, "bench", name, &sc, &err) != 0 ||
            sl_age_sealer_init(&sealer, &r, 1, &sc, &err) != 0)
            goto fail;
        for (int k = 0; k < 3; k++) {
            unsigned char v[64];
            int sr;
            randombytes_buf(v, sizeof(v));
            sl_buf_reset(&a);
            sr = sl_age_seal_with(&sealer, v, sizeof(v), true, &a, &err);
            if (k == 2)
                sl_age_sealer_release(&sealer);
            if (sr != 0)
                goto fail;
            json_object_set_new(enc, keynames[k], json_string(a.ptr));
            if (s * 3 + k < sample) {
                snprintf(path, sizeof(path), "%s/v%ld.age", dir, s * 3 + k);
                if (sl_file_write_atomic(path, a.ptr, a.len, 0600, &err) != 0)
                    goto fail;
            }
        }
        if (sl_objlist_add(&objs,
                           json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:o}}", "apiVersion",
                                     SL_SEALED_API_VERSION, "kind", SL_SEALED_KIND, "metadata",
                                     "name", name, "namespace", "bench", "spec", "encryptedData",
                                     enc),
                           "bench.yaml", (int)s + 1, &err) != 0)
            goto fail;
    }
    t0 = now_ms();
    c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
    if (sl_unseal_objects(&objs, &ids, &err) != 0)
        goto fail;
    cpu = clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
    t1 = now_ms();
    ours = t1 - t0;
    sl_objlist_wipe_secrets(&objs);
    printf("sluice unseal: %ld SealedSecrets, %ld values, 3 identities (match last): "
           "%.1f ms wall (%.1f ms CPU), %.1f us/value\n",
           nsecrets, nvalues, ours, cpu, ours * 1e3 / (double)nvalues);

    /* age -d, one process per value, with the matching identity only. */
    snprintf(path, sizeof(path), "%s/id.txt", dir);
    if (sl_age_identity_format(keys[2], idstr, sizeof(idstr)) != 0 ||
        sl_file_write_atomic(path, idstr, strlen(idstr), 0600, &err) != 0)
        goto fail;
    if (sample > nvalues)
        sample = nvalues;
    t0 = now_ms();
    for (long i = 0; i < sample; i++) {
        char in[4096], idp[4096];
        char *args[] = {"age", "-d", "-i", idp, "-o", "/dev/null", in, NULL};
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int status;

        snprintf(in, sizeof(in), "%s/v%ld.age", dir, i);
        snprintf(idp, sizeof(idp), "%s/id.txt", dir);
        posix_spawn_file_actions_init(&fa);
        if (posix_spawnp(&pid, "age", &fa, NULL, args, environ) != 0) {
            posix_spawn_file_actions_destroy(&fa);
            printf("age -d: not run (age CLI not installed)\n");
            break;
        }
        posix_spawn_file_actions_destroy(&fa);
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            sl_error_set(&err, SL_EGENERIC, "age -d failed on value %ld", i);
            goto fail;
        }
        ran++;
    }
    theirs = now_ms() - t0;
    if (ran > 0)
        printf("age -d:        %ld of the same values, one process each: %.1f ms total, "
               "%.1f us/value (%.0fx sluice)\n",
               ran, theirs, theirs * 1e3 / (double)ran,
               (theirs / (double)ran) / (ours / (double)nvalues));
#ifdef SLUICE_BENCH_BUDGET_MS
    /* CPU time: the wall clock on a shared CI runner measures the neighbours. */
    if (nsecrets == 1000 && cpu > SLUICE_BENCH_BUDGET_MS) {
        sl_error_set(&err, SL_ETIMEOUT, "unsealing took %.1f ms of CPU, over the %d ms budget", cpu,
                     SLUICE_BENCH_BUDGET_MS);
        goto fail;
    }
#endif
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bench_unseal: %s\n", err.msg);
done:
    for (long i = 0; i < sample; i++) {
        snprintf(path, sizeof(path), "%s/v%ld.age", dir, i);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/id.txt", dir);
    unlink(path);
    rmdir(dir);
    sl_buf_release(&a);
    sl_objlist_release(&objs);
    sl_identities_release(&ids);
    for (int i = 0; i < 3; i++)
        sl_age_identity_free(keys[i]);
    return rc;
}
