/*
 * libFuzzer target: discovery documents from the API server
 * (sl_kube_discovery_parse: aggregated APIGroupDiscoveryList or a legacy
 * APIResourceList) into the client's kind cache. Byte 0: bit 0 says
 * aggregated, bits 1-2 pick the group/version a legacy document is for
 * (one of them longer than the cache's fields); the rest is the body.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube_internal.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_field(const char *s, size_t cap)
{
    if (strnlen(s, cap) >= cap)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char long_group[300];
    static bool init;
    const char *groups[4] = {"", "apps", "example.com", long_group};
    struct sl_kube *k;
    struct sl_error e = SL_ERROR_INIT;
    json_t *doc;

    if (!init) {
        memset(long_group, 'g', sizeof(long_group) - 1);
        sl_log_setup(SL_LOG_ERR, NULL);
        init = true;
    }
    if (size < 1)
        return 0;
    /* The client fetches with json_loadb and keeps only objects. */
    doc = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return 0;
    }
    k = calloc(1, sizeof(*k));
    if (k == NULL) {
        json_decref(doc);
        return 0;
    }
    if (sl_kube_discovery_parse(k, doc, (data[0] & 1) != 0, groups[(data[0] >> 1) & 3], "v1", &e) !=
                0 &&
        e.code == SL_OK)
        __builtin_trap();
    if (k->nres > k->capres)
        __builtin_trap();
    for (size_t i = 0; i < k->nres; i++) {
        const struct sl_kube_resource *r = &k->res[i];

        check_field(r->group, sizeof(r->group));
        check_field(r->version, sizeof(r->version));
        check_field(r->kind, sizeof(r->kind));
        check_field(r->plural, sizeof(r->plural));
        /* The plural becomes one path segment; the kind is never empty. */
        if (r->kind[0] == '\0' || strchr(r->plural, '/') != NULL)
            __builtin_trap();
        for (size_t j = 0; j < i; j++)
            if (strcmp(k->res[j].group, r->group) == 0 &&
                strcmp(k->res[j].version, r->version) == 0 && strcmp(k->res[j].kind, r->kind) == 0)
                __builtin_trap(); /* one entry per group/version/kind */
    }
    free(k->res);
    free(k);
    json_decref(doc);
    return 0;
}
