/*
 * libFuzzer target: the configuration file (sl_config_parse). On success
 * the normalised YAML (sl_config_format) must parse again and format to the
 * same text, as config.h promises, and the JSON form must build.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "diag.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *why, const struct sl_error *e, const struct sl_buf *text)
{
    fprintf(stderr, "fuzz_config: %s: %s\n---\n%.*s---\n", why, e->msg, (int)text->len,
            text->ptr != NULL ? text->ptr : "");
    __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_error e = SL_ERROR_INIT;
    struct sl_config *cfg = NULL, *again = NULL;
    struct sl_buf one = SL_BUF_INIT((size_t)16 << 20), two = SL_BUF_INIT((size_t)16 << 20);
    char *copy;

    if (!init) {
        sl_log_setup(SL_LOG_ERR, NULL);
        init = true;
    }
    copy = malloc(size + 1); /* exact size (+1 so that 0 bytes is not NULL) */
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    if (sl_config_parse(&cfg, copy, size, "fuzz.yaml", &d, &e) != 0) {
        if (cfg != NULL || sl_diags_count(&d) == 0 || e.code == SL_OK)
            __builtin_trap(); /* a failure always says why */
        goto out;
    }
    {
        json_t *j = sl_config_to_json(cfg);
        if (j == NULL)
            __builtin_trap();
        json_decref(j);
    }
    if (sl_config_format(cfg, &one, &e) != 0)
        __builtin_trap();
    sl_diags_release(&d);
    d = (struct sl_diags)SL_DIAGS_INIT;
    if (sl_config_parse(&again, one.ptr, one.len, "fuzz.yaml", &d, &e) != 0)
        fail("the normalised form does not parse", &e, &one);
    if (sl_config_format(again, &two, &e) != 0)
        __builtin_trap();
    if (one.len != two.len || memcmp(one.ptr, two.ptr, one.len) != 0) {
        fprintf(stderr, "fuzz_config: first normalised form:\n%.*s", (int)one.len, one.ptr);
        fail("the normalised form formats differently", &e, &two);
    }
out:
    sl_config_free(cfg);
    sl_config_free(again);
    sl_diags_release(&d);
    sl_buf_release(&one);
    sl_buf_release(&two);
    free(copy);
    return 0;
}
