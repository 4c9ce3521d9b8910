#include "quantity.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Multiply the decimal digit string d (len *n, most significant first) by m, in place. */
static int mul_small(char *d, size_t *n, size_t cap, unsigned m)
{
    unsigned carry = 0;
    char tmp[SL_QTY_DIGITS + 32];
    size_t len = *n, out = 0;

    for (size_t i = len; i-- > 0;) {
        unsigned v = (unsigned)(d[i] - '0') * m + carry;
        d[i] = (char)('0' + v % 10);
        carry = v / 10;
    }
    while (carry > 0) {
        if (out >= sizeof(tmp))
            return -1;
        tmp[out++] = (char)('0' + carry % 10);
        carry /= 10;
    }
    if (len + out > cap)
        return -1;
    memmove(d + out, d, len);
    for (size_t i = 0; i < out; i++)
        d[i] = tmp[out - 1 - i];
    *n = len + out;
    return 0;
}

/* Divide the digit string d by m in place when it divides exactly; false (d unchanged) else. */
static bool div_exact(char *d, size_t *n, unsigned m)
{
    char q[SL_QTY_DIGITS + 32];
    unsigned rem = 0;
    size_t qn = 0;

    if (*n > sizeof(q))
        return false;
    for (size_t i = 0; i < *n; i++) {
        unsigned v = rem * 10 + (unsigned)(d[i] - '0');
        if (qn > 0 || v / m > 0)
            q[qn++] = (char)('0' + v / m);
        rem = v % m;
    }
    if (rem != 0 || qn == 0)
        return false;
    memcpy(d, q, qn);
    *n = qn;
    return true;
}

/* Strip leading zeros and move trailing zeros into the exponent; "0" stays "0". */
static void normalize(struct sl_qty *q, char *d, size_t n)
{
    size_t lead = 0;

    while (lead < n && d[lead] == '0')
        lead++;
    d += lead;
    n -= lead;
    if (n == 0) {
        q->neg = false;
        q->exp = 0;
        snprintf(q->digits, sizeof(q->digits), "0");
        return;
    }
    while (n > 1 && d[n - 1] == '0') {
        n--;
        q->exp++;
    }
    memcpy(q->digits, d, n);
    q->digits[n] = '\0';
}

static bool is_zero(const struct sl_qty *q)
{
    return strcmp(q->digits, "0") == 0;
}

int sl_qty_parse(const char *s, struct sl_qty *q)
{
    static const struct {
        char c;
        int exp;
    } dec[] = {{'n', -9}, {'u', -6}, {'m', -3}, {'k', 3}, {'M', 6},
               {'G', 9},  {'T', 12}, {'P', 15}, {'E', 18}};
    static const char bin[] = "KMGTPE";
    char d[SL_QTY_DIGITS + 32];
    size_t n = 0;
    int frac = 0, binpow = 0;
    bool dot = false, any = false;
    const char *p = s;

    memset(q, 0, sizeof(*q));
    if (s == NULL)
        return -1;
    if (*p == '+' || *p == '-')
        q->neg = *p++ == '-';
    for (;; p++) {
        if (isdigit((unsigned char)*p)) {
            any = true;
            if (dot)
                frac++;
            if (n == 0 && *p == '0')
                continue; /* leading zero */
            if (n >= SL_QTY_DIGITS)
                return -1;
            d[n++] = *p;
        } else if (*p == '.' && !dot) {
            dot = true;
        } else {
            break;
        }
    }
    if (!any)
        return -1;
    q->exp = -frac;
    q->format = SL_QFMT_DECIMAL_SI;
    if (*p == '\0') {
        /* no suffix */
    } else if (p[1] == '\0' && strchr("numkMGTPE", *p) != NULL) {
        for (size_t i = 0; i < sizeof(dec) / sizeof(dec[0]); i++)
            if (dec[i].c == *p)
                q->exp += dec[i].exp;
    } else if (p[1] == 'i' && p[2] == '\0' && *p != '\0' && strchr(bin, *p) != NULL) {
        q->format = SL_QFMT_BINARY_SI;
        binpow = (int)(strchr(bin, *p) - bin) + 1;
    } else if ((*p == 'e' || *p == 'E') && p[1] != '\0') {
        char *end;
        long e = strtol(p + 1, &end, 10);
        if (*end != '\0' || !(isdigit((unsigned char)p[1]) || p[1] == '+' || p[1] == '-') ||
            e > 1000 || e < -1000)
            return -1;
        q->format = SL_QFMT_DECIMAL_EXP;
        q->exp += (int)e;
    } else {
        return -1;
    }
    for (int i = 0; i < binpow * 10 && n > 0; i++) /* 1024^k = 2^(10k) */
        if (mul_small(d, &n, SL_QTY_DIGITS, 2) != 0)
            return -1;
    normalize(q, d, n);
    /* Round away from zero to a multiple of 1n, as the API server does. */
    if (!is_zero(q) && q->exp < -9) {
        size_t len = strlen(q->digits), drop = (size_t)(-9 - q->exp);
        bool up = false;
        if (drop >= len) {
            snprintf(q->digits, sizeof(q->digits), "1");
            q->exp = -9;
        } else {
            for (size_t i = len - drop; i < len; i++)
                up = up || q->digits[i] != '0';
            len -= drop;
            memcpy(d, q->digits, len);
            q->exp = -9;
            for (size_t i = len; up && i-- > 0;) {
                if (d[i] == '9') {
                    d[i] = '0';
                    continue;
                }
                d[i]++;
                up = false;
            }
            if (up) { /* 999 -> 1000 */
                memmove(d + 1, d, len);
                d[0] = '1';
                len++;
            }
            normalize(q, d, len);
        }
    }
    return 0;
}

int sl_qty_from_json(const json_t *v, struct sl_qty *q)
{
    char buf[64];

    if (json_is_string(v))
        return sl_qty_parse(json_string_value(v), q);
    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        return sl_qty_parse(buf, q);
    }
    if (json_is_real(v)) {
        double x = json_real_value(v);
        /* the shortest text that reads back as x, as a YAML or JSON encoder writes it */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, x);
            if (strtod(buf, NULL) == x)
                break;
        }
        return sl_qty_parse(buf, q);
    }
    return -1;
}

bool sl_qty_equal(const struct sl_qty *a, const struct sl_qty *b)
{
    return a->neg == b->neg && a->exp == b->exp && strcmp(a->digits, b->digits) == 0;
}

int sl_qty_cmp(const struct sl_qty *a, const struct sl_qty *b)
{
    int sign = a->neg ? -1 : 1;
    size_t na = strlen(a->digits), nb = strlen(b->digits);
    long ma, mb;

    if (is_zero(a) || is_zero(b)) {
        /* zero is never negative here (normalize clears the sign) */
        if (is_zero(a) && is_zero(b))
            return 0;
        if (is_zero(a))
            return b->neg ? 1 : -1;
        return a->neg ? -1 : 1;
    }
    if (a->neg != b->neg)
        return a->neg ? -1 : 1;
    /* The power of ten of the leading digit decides; then the digits, left to right. */
    ma = (long)na + a->exp;
    mb = (long)nb + b->exp;
    if (ma != mb)
        return ma > mb ? sign : -sign;
    for (size_t i = 0; i < na || i < nb; i++) {
        char da = i < na ? a->digits[i] : '0', db = i < nb ? b->digits[i] : '0';
        if (da != db)
            return da > db ? sign : -sign;
    }
    return 0;
}

int sl_qty_format(const struct sl_qty *q, char *out, size_t outlen)
{
    static const char *const dec_suffix[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
    static const char *const bin_suffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    char d[SL_QTY_DIGITS + 32];
    size_t n = strlen(q->digits);
    enum sl_qty_format fmt = q->format;
    int exp = q->exp, w;

    if (is_zero(q)) {
        w = snprintf(out, outlen, "0");
        return w < 0 || (size_t)w >= outlen ? -1 : 0;
    }
    if (fmt == SL_QFMT_BINARY_SI) {
        /* below 1024, or not a whole number: printed as DecimalSI (apimachinery) */
        if (exp < 0 || n + (size_t)exp < 4 || n + (size_t)exp > sizeof(d) - 1)
            fmt = SL_QFMT_DECIMAL_SI;
        else if (n + (size_t)exp == 4) {
            char whole[8];
            memcpy(whole, q->digits, n);
            memset(whole + n, '0', (size_t)exp);
            whole[4] = '\0';
            if (strtol(whole, NULL, 10) < 1024)
                fmt = SL_QFMT_DECIMAL_SI;
        }
    }
    memcpy(d, q->digits, n);
    if (fmt == SL_QFMT_BINARY_SI) {
        size_t k = 0;
        for (int i = 0; i < exp; i++)
            d[n++] = '0';
        while (k < 6 && div_exact(d, &n, 1024))
            k++;
        w = snprintf(out, outlen, "%s%.*s%s", q->neg ? "-" : "", (int)n, d, bin_suffix[k]);
        return w < 0 || (size_t)w >= outlen ? -1 : 0;
    }
    /* the largest exponent that is a multiple of 3 with a whole mantissa */
    {
        int r = ((exp % 3) + 3) % 3;
        if (n + (size_t)r > sizeof(d) - 1)
            return -1;
        for (int i = 0; i < r; i++)
            d[n++] = '0';
        exp -= r;
    }
    if (fmt == SL_QFMT_DECIMAL_SI && exp >= -9 && exp <= 18)
        w = snprintf(out, outlen, "%s%.*s%s", q->neg ? "-" : "", (int)n, d,
                     dec_suffix[(exp + 9) / 3]);
    else if (exp == 0)
        w = snprintf(out, outlen, "%s%.*s", q->neg ? "-" : "", (int)n, d);
    else
        w = snprintf(out, outlen, "%s%.*se%d", q->neg ? "-" : "", (int)n, d, exp);
    return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

bool sl_qty_map(const char *key, const char *parent_key)
{
    static const char *const lr[] = {"max", "min", "default", "defaultRequest",
                                     "maxLimitRequestRatio"};

    if (key == NULL || parent_key == NULL)
        return false;
    if ((strcmp(key, "requests") == 0 || strcmp(key, "limits") == 0) &&
        strcmp(parent_key, "resources") == 0)
        return true; /* containers, pods, PVCs, volume claim templates */
    if (strcmp(key, "hard") == 0 || strcmp(key, "capacity") == 0 || strcmp(key, "allocatable") == 0)
        return true; /* ResourceQuota, PV, PVC and node status */
    if (strcmp(key, "used") == 0 && strcmp(parent_key, "status") == 0)
        return true; /* ResourceQuota status */
    if ((strcmp(key, "podFixed") == 0 && strcmp(parent_key, "overhead") == 0) ||
        (strcmp(key, "overhead") == 0 && strcmp(parent_key, "spec") == 0))
        return true;                       /* RuntimeClass overhead, pod overhead */
    if (strcmp(parent_key, "limits") == 0) /* LimitRange spec.limits[] items */
        for (size_t i = 0; i < sizeof(lr) / sizeof(lr[0]); i++)
            if (strcmp(key, lr[i]) == 0)
                return true;
    return false;
}

bool sl_qty_field(const char *key, const char *parent_key, bool in_quantity_map)
{
    return in_quantity_map || (key != NULL && parent_key != NULL && strcmp(key, "sizeLimit") == 0 &&
                               strcmp(parent_key, "emptyDir") == 0);
}

static void canon_rec(json_t *node, const char *key, const char *parent_key, int depth)
{
    const char *k;
    json_t *v;
    size_t i;

    if (depth > 64)
        return;
    if (json_is_array(node)) {
        json_array_foreach(node, i, v)
        {
            if (json_is_object(v) || json_is_array(v))
                canon_rec(v, key, parent_key, depth + 1); /* items take the array's key */
        }
        return;
    }
    if (!json_is_object(node))
        return;
    {
        bool is_map = sl_qty_map(key, parent_key);
        json_object_foreach(node, k, v)
        {
            struct sl_qty q;
            char text[SL_QTY_DIGITS + 48];
            if (json_is_object(v) || json_is_array(v)) {
                canon_rec(v, k, key, depth + 1);
                continue;
            }
            if (!sl_qty_field(k, key, is_map) || sl_qty_from_json(v, &q) != 0 ||
                sl_qty_format(&q, text, sizeof(text)) != 0)
                continue;
            if (!json_is_string(v) || strcmp(json_string_value(v), text) != 0)
                json_object_set_new(node, k, json_string(text));
        }
    }
}

void sl_qty_canonicalize(json_t *obj)
{
    canon_rec(obj, "", "", 0);
}
