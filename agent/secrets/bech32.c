/* BIP173 Bech32 as age uses it: checksum constant 1, no 90-character limit. */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "age.h"

static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t polymod_step(uint32_t pre)
{
    uint32_t b = pre >> 25;

    return ((pre & 0x1ffffffu) << 5) ^ (-((b >> 0) & 1) & 0x3b6a57b2u) ^
           (-((b >> 1) & 1) & 0x26508e6du) ^ (-((b >> 2) & 1) & 0x1ea119fau) ^
           (-((b >> 3) & 1) & 0x3d4233ddu) ^ (-((b >> 4) & 1) & 0x2a1462b3u);
}

static int charset_rev(int c)
{
    const char *p;

    if (c == 0)
        return -1;
    p = strchr(charset, c);
    return p == NULL ? -1 : (int)(p - charset);
}

int sl_bech32_decode(const char *s, size_t slen, char *hrp, size_t hrpcap, unsigned char *data,
                     size_t datacap, size_t *datalen)
{
    bool lower = false, upper = false;
    size_t sep = 0, hrplen, ndata;
    uint32_t chk = 1, acc = 0;
    unsigned bits = 0;
    size_t out = 0;

    if (slen < 8)
        return -1;
    for (size_t i = 0; i < slen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c > 126)
            return -1;
        if (islower(c))
            lower = true;
        if (isupper(c))
            upper = true;
        if (c == '1')
            sep = i;
    }
    if (lower && upper)
        return -1;
    hrplen = sep;
    if (hrplen < 1 || slen - sep - 1 < 6 || hrplen + 1 > hrpcap)
        return -1;
    for (size_t i = 0; i < hrplen; i++)
        chk = polymod_step(chk) ^ ((unsigned)tolower((unsigned char)s[i]) >> 5);
    chk = polymod_step(chk);
    for (size_t i = 0; i < hrplen; i++)
        chk = polymod_step(chk) ^ ((unsigned)tolower((unsigned char)s[i]) & 0x1f);
    ndata = slen - sep - 1;
    for (size_t i = 0; i < ndata; i++) {
        int v = charset_rev(tolower((unsigned char)s[sep + 1 + i]));
        if (v < 0)
            return -1;
        chk = polymod_step(chk) ^ (uint32_t)v;
        if (i + 6 < ndata) {
            /* convertBits(5 -> 8) over the data part without the checksum */
            acc = (acc << 5) | (uint32_t)v;
            bits += 5;
            if (bits >= 8) {
                bits -= 8;
                if (out >= datacap)
                    return -1;
                data[out++] = (unsigned char)((acc >> bits) & 0xff);
            }
        }
    }
    if (chk != 1)
        return -1;
    /* Padding: fewer than 5 leftover bits, all zero. */
    if (bits >= 5 || ((acc << (8 - bits)) & 0xff) != 0)
        return -1;
    memcpy(hrp, s, hrplen);
    hrp[hrplen] = '\0';
    *datalen = out;
    return 0;
}

int sl_bech32_encode(const char *hrp, const unsigned char *data, size_t len, bool upper, char *out,
                     size_t outlen)
{
    size_t hrplen = strlen(hrp), n5 = (len * 8 + 4) / 5, pos = 0;
    uint32_t chk = 1, acc = 0;
    unsigned bits = 0;
    unsigned char v5[256];

    if (n5 > sizeof(v5) || hrplen + 1 + n5 + 6 + 1 > outlen)
        return -1;
    for (size_t i = 0, j = 0; i < len; i++) {
        acc = (acc << 8) | data[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            v5[j++] = (unsigned char)((acc >> bits) & 0x1f);
        }
        if (i + 1 == len && bits > 0)
            v5[j++] = (unsigned char)((acc << (5 - bits)) & 0x1f);
    }
    for (size_t i = 0; i < hrplen; i++)
        chk = polymod_step(chk) ^ ((unsigned)tolower((unsigned char)hrp[i]) >> 5);
    chk = polymod_step(chk);
    for (size_t i = 0; i < hrplen; i++)
        chk = polymod_step(chk) ^ ((unsigned)tolower((unsigned char)hrp[i]) & 0x1f);
    for (size_t i = 0; i < n5; i++)
        chk = polymod_step(chk) ^ v5[i];
    for (int i = 0; i < 6; i++)
        chk = polymod_step(chk);
    chk ^= 1;
    for (size_t i = 0; i < hrplen; i++)
        out[pos++] =
                upper ? (char)toupper((unsigned char)hrp[i]) : (char)tolower((unsigned char)hrp[i]);
    out[pos++] = '1';
    for (size_t i = 0; i < n5; i++)
        out[pos++] = charset[v5[i]];
    for (int i = 0; i < 6; i++)
        out[pos++] = charset[(chk >> (5 * (5 - i))) & 0x1f];
    out[pos] = '\0';
    if (upper)
        for (size_t i = hrplen; i < pos; i++)
            out[i] = (char)toupper((unsigned char)out[i]);
    sl_secure_wipe(v5, sizeof(v5));
    return 0;
}
