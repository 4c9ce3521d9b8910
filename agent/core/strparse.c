#include <stdio.h>
#include <string.h>

#include "strparse.h"

int sl_parse_duration_ms(const char *s, int64_t *out_ms)
{
    const char *p = s;
    int neg = 0;
    int64_t total = 0;

    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (*p == '\0')
        return -1;
    if (strcmp(p, "0") == 0) {
        *out_ms = 0;
        return 0;
    }
    while (*p != '\0') {
        int64_t v = 0, mult;
        int digits = 0;

        while (*p >= '0' && *p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return -1;
            v = v * 10 + (*p - '0');
            p++;
            digits++;
        }
        if (digits == 0)
            return -1;
        if (p[0] == 'm' && p[1] == 's') {
            mult = 1;
            p += 2;
        } else if (p[0] == 's') {
            mult = 1000;
            p++;
        } else if (p[0] == 'm') {
            mult = 60 * 1000;
            p++;
        } else if (p[0] == 'h') {
            mult = 3600 * 1000;
            p++;
        } else {
            return -1;
        }
        if (v > (INT64_MAX - total) / mult)
            return -1;
        total += v * mult;
    }
    *out_ms = neg ? -total : total;
    return 0;
}

void sl_format_duration(char *out, size_t outlen, int64_t ms)
{
    char tmp[64];
    size_t off = 0;
    int64_t h, m, s;
    const char *sign = "";

    if (ms == 0) {
        snprintf(out, outlen, "0s");
        return;
    }
    if (ms < 0) {
        sign = "-";
        ms = -ms;
    }
    h = ms / 3600000;
    ms %= 3600000;
    m = ms / 60000;
    ms %= 60000;
    s = ms / 1000;
    ms %= 1000;
    tmp[0] = '\0';
    if (h > 0)
        off += (size_t)snprintf(tmp + off, sizeof(tmp) - off, "%lldh", (long long)h);
    if (m > 0)
        off += (size_t)snprintf(tmp + off, sizeof(tmp) - off, "%lldm", (long long)m);
    if (s > 0)
        off += (size_t)snprintf(tmp + off, sizeof(tmp) - off, "%llds", (long long)s);
    if (ms > 0)
        snprintf(tmp + off, sizeof(tmp) - off, "%lldms", (long long)ms);
    snprintf(out, outlen, "%s%s", sign, tmp);
}

int sl_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (s == NULL || *s == '\0')
        return -1;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (v > (max - (uint64_t)(*p - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return 0;
}
