/*
 * libFuzzer target: the stdout of an exec credential plugin
 * (sl_kube_exec_parse), which the client trusts no more than any program's
 * output. Byte 0 picks the apiVersion the kubeconfig asked for; the rest is
 * the plugin's answer.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube_internal.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const versions[] = {"client.authentication.k8s.io/v1",
                                           "client.authentication.k8s.io/v1beta1"};
    static bool init;
    struct sl_kube_cred c = {NULL, NULL, NULL, 0};
    struct sl_error e = SL_ERROR_INIT;
    char *copy;

    if (!init) {
        if (sl_secmem_init(NULL) != 0)
            __builtin_trap();
        sl_log_setup(SL_LOG_ERR, NULL);
        init = true;
    }
    if (size < 1)
        return 0;
    copy = malloc(size - 1 + 1); /* exact size: an overread is caught */
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 1, size - 1);
    if (sl_kube_exec_parse(versions[data[0] & 1], copy, size - 1, &c, &e) == 0) {
        if (c.token == NULL && c.cert == NULL)
            __builtin_trap();
        if ((c.cert == NULL) != (c.key == NULL))
            __builtin_trap();
        sl_kube_cred_release(&c);
    } else {
        /* Nothing is handed out on failure, and the error says why. */
        if (c.token != NULL || c.cert != NULL || c.key != NULL || e.code == SL_OK)
            __builtin_trap();
    }
    free(copy);
    return 0;
}
