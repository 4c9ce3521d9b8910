/*
 * libFuzzer target: kubeconfig loading (sl_kubecfg_load) with kubectl's
 * merge rules. The input is split at NUL bytes into up to three files,
 * written to a private temporary directory and given as a $KUBECONFIG list
 * (one file: also as the explicit path). A first line "#context NAME"
 * selects the context instead of current-context. Relative paths in the
 * files resolve into that directory; nothing named in them is run or read
 * beyond an access() check.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube_internal.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmpdir[] = "/tmp/sluice-fuzz-kubeconfig-XXXXXX";

static void cleanup(void)
{
    char path[128];

    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/f%d", tmpdir, i);
        unlink(path);
    }
    rmdir(tmpdir);
}

static int write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    int rc = 0;

    if (f == NULL)
        return -1;
    if (n > 0 && fwrite(p, 1, n, f) != n)
        rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

static void check(const struct sl_kubecfg *c)
{
    size_t n;

    if (c->context == NULL || c->server == NULL || c->ns == NULL)
        __builtin_trap();
    n = strlen(c->server);
    if (n > 0 && c->server[n - 1] == '/')
        __builtin_trap();
    if (c->ca_file != NULL && c->ca_data != NULL)
        __builtin_trap();
    if ((c->cert_file != NULL || c->cert_data != NULL) !=
        (c->key_file != NULL || c->key_data != NULL))
        __builtin_trap();
    if (c->token != NULL && c->token_file != NULL)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    char paths[3][128], env[400], ctx[128];
    const char *context = NULL;
    size_t nfiles = 0, start = 0;
    struct sl_kubecfg *c = NULL;
    struct sl_error e = SL_ERROR_INIT;

    if (!init) {
        if (sl_secmem_init(NULL) != 0 || mkdtemp(tmpdir) == NULL)
            __builtin_trap();
        atexit(cleanup);
        sl_log_setup(SL_LOG_ERR, NULL);
        init = true;
    }
    if (size >= 9 && memcmp(data, "#context ", 9) == 0) {
        size_t i = 9, n = 0;
        while (i < size && data[i] != '\n' && n + 1 < sizeof(ctx))
            ctx[n++] = (char)data[i++];
        ctx[n] = '\0';
        context = ctx;
    }
    /* Files end at NUL bytes; the third takes whatever is left. */
    for (size_t i = 0, elen = 0; i <= size && nfiles < 3; i++) {
        if (i < size && (data[i] != '\0' || nfiles == 2))
            continue;
        snprintf(paths[nfiles], sizeof(paths[nfiles]), "%s/f%zu", tmpdir, nfiles);
        if (write_file(paths[nfiles], data + start, i - start) != 0)
            __builtin_trap();
        elen += (size_t)snprintf(env + elen, sizeof(env) - elen, "%s%s", nfiles > 0 ? ":" : "",
                                 paths[nfiles]);
        nfiles++;
        start = i + 1;
    }
    if (nfiles == 1) {
        if (sl_kubecfg_load(&c, paths[0], NULL, NULL, context, &e) == 0) {
            check(c);
            sl_kubecfg_free(c);
            c = NULL;
        } else if (e.code == SL_OK) {
            __builtin_trap();
        }
    }
    e = (struct sl_error)SL_ERROR_INIT;
    if (sl_kubecfg_load(&c, NULL, env, NULL, context, &e) == 0) {
        check(c);
        sl_kubecfg_free(c);
    } else if (e.code == SL_OK) {
        __builtin_trap();
    }
    return 0;
}
