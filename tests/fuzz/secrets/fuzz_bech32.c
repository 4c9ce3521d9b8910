/* libFuzzer: Bech32 decoding and the recipient/identity parsers on top. */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "age.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[512], hrp[128], again[1024];
    unsigned char out[512];
    size_t n = 0;
    struct sl_recipient r;
    struct sl_identities ids = SL_IDENTITIES_INIT;

    if (size >= sizeof(s) || sodium_init() < 0)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (sl_bech32_decode(s, size, hrp, sizeof(hrp), out, sizeof(out), &n) == 0) {
        /* round trip: re-encoding gives the same string up to case */
        bool upper = size > 0 && s[strlen(hrp) + 1] >= 'A' && s[strlen(hrp) + 1] <= 'Z';
        if (strlen(s) == size && sl_bech32_encode(hrp, out, n, upper, again, sizeof(again)) == 0 &&
            strcasecmp(again, s) != 0)
            __builtin_trap();
    }
    (void)sl_recipient_parse(s, &r, NULL);
    (void)sl_identities_add_text(&ids, (const char *)data, size, "fuzz", NULL);
    sl_identities_release(&ids);
    return 0;
}
