/*
 * Kubernetes quantities, exactly: the grammar of k8s.io/apimachinery
 * resource.Quantity (sign, decimal number, then one of the binary suffixes
 * Ki..Ei, a decimal suffix n u m k M G T P E, or an exponent e<int>/E<int>),
 * evaluated in 128-bit integer nano units so "0.5" and "500m" compare equal.
 */
#include <stdbool.h>
#include <string.h>

#include "policy.h"

/* 10^27 whole units: far beyond any real resource amount, far below overflow. */
#define NANO_LIMIT ((__int128)1000000000000000000LL * 1000000000000000000LL)

static bool mul10(__int128 *v, int times)
{
    for (int i = 0; i < times; i++)
        if (__builtin_mul_overflow(*v, 10, v))
            return false;
    return true;
}

int sl_quantity_parse(const char *s, __int128 *nano)
{
    __int128 m = 0, num, den = 1;
    int sign = 1, frac = 0, sig = 0, exp10 = 0, exp2 = 0;
    bool digits = false, dot = false;
    const char *p = s;

    if (s == NULL)
        return -1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    for (;; p++) {
        if (*p >= '0' && *p <= '9') {
            digits = true;
            if (m == 0 && *p == '0') {
                if (dot)
                    frac++;
                continue;
            }
            if (++sig > 30)
                return -1;
            m = m * 10 + (*p - '0');
            if (dot)
                frac++;
        } else if (*p == '.' && !dot) {
            dot = true;
        } else {
            break;
        }
    }
    if (!digits)
        return -1;
    if (p[0] == '\0') {
    } else if (p[1] == 'i' && p[2] == '\0') {
        static const char bin[] = "KMGTPE";
        const char *q = strchr(bin, p[0]);
        if (q == NULL || p[0] == '\0')
            return -1;
        exp2 = 10 * (int)(q - bin + 1);
    } else if ((p[0] == 'e' || p[0] == 'E') && p[1] != '\0') {
        int esign = 1, e = 0;
        const char *q = p + 1;
        if (*q == '+' || *q == '-')
            esign = *q++ == '-' ? -1 : 1;
        if (*q == '\0')
            return -1;
        for (; *q != '\0'; q++) {
            if (*q < '0' || *q > '9' || e > 1000)
                return -1;
            e = e * 10 + (*q - '0');
        }
        if (e > 60)
            return -1;
        exp10 = esign * e;
    } else if (p[1] == '\0') {
        switch (p[0]) {
        case 'n':
            exp10 = -9;
            break;
        case 'u':
            exp10 = -6;
            break;
        case 'm':
            exp10 = -3;
            break;
        case 'k':
            exp10 = 3;
            break;
        case 'M':
            exp10 = 6;
            break;
        case 'G':
            exp10 = 9;
            break;
        case 'T':
            exp10 = 12;
            break;
        case 'P':
            exp10 = 15;
            break;
        case 'E':
            exp10 = 18;
            break;
        default:
            return -1;
        }
    } else {
        return -1;
    }
    /* value = m * 10^(exp10 - frac) * 2^exp2, in nano units. */
    num = m;
    exp10 += 9 - frac;
    if (exp10 >= 0) {
        if (!mul10(&num, exp10))
            return -1;
    } else if (-exp10 > 37) {
        den = 0; /* smaller than any nano amount */
    } else if (!mul10(&den, -exp10)) {
        return -1;
    }
    for (int i = 0; i < exp2; i++)
        if (__builtin_mul_overflow(num, 2, &num))
            return -1;
    if (den == 0)
        num = num > 0 ? 1 : 0;
    else
        num = num / den + (num % den != 0 ? 1 : 0); /* round up, as Kubernetes does */
    if (num > NANO_LIMIT)
        return -1;
    *nano = sign * num;
    return 0;
}
