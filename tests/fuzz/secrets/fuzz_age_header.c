/*
 * libFuzzer: the age header parser, then a full decrypt (header, MAC,
 * STREAM) with the test kit's identity, binary or armored.
 */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "age.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char key[] =
            "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";
    struct sl_identities ids = SL_IDENTITIES_INIT;
    struct sl_secbuf pt = SL_SECBUF_INIT((size_t)16 << 20);
    struct sl_age_scope scope;
    enum sl_age_status st;

    if (sodium_init() < 0 || sl_identities_add_text(&ids, key, strlen(key), "k", NULL) != 0)
        __builtin_trap();
    (void)sl_age_parse_header_only(data, size, NULL);
    if (sl_age_decrypt(data, size, &ids, &pt, &scope, &st, NULL) == 0) {
        if (st != SL_AGE_OK || pt.len > size)
            __builtin_trap();
    } else if (pt.ptr != NULL || st == SL_AGE_OK) {
        __builtin_trap(); /* nothing is released on failure */
    }
    sl_secbuf_release(&pt);
    sl_identities_release(&ids);
    return 0;
}
