/*
 * libFuzzer target: tag names and ranges (sources/semver.h). The input is
 * split at the first newline: the first part is a version, the rest a
 * range; both are parsed and, when valid, matched and compared.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "semver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t vlen = nl != NULL ? (size_t)(nl - (const char *)data) : size;
    struct ssrc_semver v, w;
    struct ssrc_error e = SSRC_ERROR_INIT;
    struct ssrc_range *r = NULL;
    char *range, buf[512];
    int vok;

    vok = ssrc_semver_parse((const char *)data, vlen, &v, &e) == 0;
    if (vok) {
        /* Formatting and re-parsing gives an equal version. */
        ssrc_semver_format(&v, buf, sizeof(buf));
        ssrc_error_clear(&e);
        if (ssrc_semver_parse(buf, strlen(buf), &w, &e) != 0 || ssrc_semver_cmp(&v, &w) != 0)
            abort();
        (void)ssrc_semver_rc(&v);
    }
    if (nl == NULL)
        return 0;
    range = malloc(size - vlen);
    if (range == NULL)
        return 0;
    memcpy(range, nl + 1, size - vlen - 1);
    range[size - vlen - 1] = '\0';
    ssrc_error_clear(&e);
    if (ssrc_range_parse(range, &r, &e) == 0) {
        if (vok)
            (void)ssrc_range_match(r, &v);
        ssrc_range_free(r);
    } else if (r != NULL || e.code == SSRC_OK) {
        abort(); /* a failure must say why and leave nothing behind */
    }
    free(range);
    return 0;
}
