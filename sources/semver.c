#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "semver.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* A numeric component without leading zeros; advances *p. */
static int parse_num(const char *s, size_t len, size_t *p, uint64_t *out)
{
    size_t i = *p, start = i;
    uint64_t v = 0;

    while (i < len && is_digit(s[i])) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        i++;
    }
    if (i == start || (s[start] == '0' && i - start > 1))
        return -1;
    *p = i;
    *out = v;
    return 0;
}

/* Dot-separated identifiers up to end; numeric ones may not have leading zeros. */
static int check_idents(const char *s, size_t len, bool numeric_rule)
{
    size_t i = 0;

    if (len == 0)
        return -1;
    while (i <= len) {
        size_t start = i;
        bool all_digits = true;
        while (i < len && s[i] != '.') {
            if (!is_ident_char(s[i]))
                return -1;
            if (!is_digit(s[i]))
                all_digits = false;
            i++;
        }
        if (i == start)
            return -1;
        if (numeric_rule && all_digits && s[start] == '0' && i - start > 1)
            return -1;
        i++;
    }
    return 0;
}

int ssrc_semver_parse(const char *s, size_t len, struct ssrc_semver *v, struct ssrc_error *err)
{
    size_t p = 0, pre_start, pre_end;

    memset(v, 0, sizeof(*v));
    if (len > SSRC_SEMVER_MAX_LEN)
        return ssrc_error_set(err, SSRC_ETOOLARGE, "version longer than %d bytes",
                              SSRC_SEMVER_MAX_LEN);
    if (parse_num(s, len, &p, &v->major) != 0 || p >= len || s[p++] != '.' ||
        parse_num(s, len, &p, &v->minor) != 0 || p >= len || s[p++] != '.' ||
        parse_num(s, len, &p, &v->patch) != 0)
        goto bad;
    if (p < len && s[p] == '-') {
        pre_start = ++p;
        while (p < len && s[p] != '+')
            p++;
        pre_end = p;
        if (check_idents(s + pre_start, pre_end - pre_start, true) != 0)
            goto bad;
        if (pre_end - pre_start > SSRC_SEMVER_PRE_MAX)
            return ssrc_error_set(err, SSRC_ETOOLARGE, "prerelease longer than %d bytes",
                                  SSRC_SEMVER_PRE_MAX);
        memcpy(v->pre, s + pre_start, pre_end - pre_start);
        v->pre[pre_end - pre_start] = '\0';
    }
    if (p < len && s[p] == '+') {
        p++;
        if (check_idents(s + p, len - p, false) != 0)
            goto bad;
        p = len;
    }
    if (p != len)
        goto bad;
    return 0;
bad:
    memset(v, 0, sizeof(*v));
    return ssrc_error_set(err, SSRC_EPARSE, "not a semantic version (MAJOR.MINOR.PATCH)");
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static int cmp_ident(const char *a, size_t al, const char *b, size_t bl)
{
    bool an = true, bn = true;
    int c;

    for (size_t i = 0; i < al; i++)
        an = an && is_digit(a[i]);
    for (size_t i = 0; i < bl; i++)
        bn = bn && is_digit(b[i]);
    if (an && bn) {
        /* No leading zeros, so longer means larger; works for any length. */
        if (al != bl)
            return al < bl ? -1 : 1;
        c = memcmp(a, b, al);
        return c < 0 ? -1 : c > 0;
    }
    if (an != bn)
        return an ? -1 : 1;
    c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return al < bl ? -1 : al > bl;
}

int ssrc_semver_cmp(const struct ssrc_semver *a, const struct ssrc_semver *b)
{
    const char *pa = a->pre, *pb = b->pre;
    int c;

    if ((c = cmp_u64(a->major, b->major)) != 0 || (c = cmp_u64(a->minor, b->minor)) != 0 ||
        (c = cmp_u64(a->patch, b->patch)) != 0)
        return c;
    if (*pa == '\0' || *pb == '\0')
        return (*pa == '\0') - (*pb == '\0');
    for (;;) {
        size_t al = strcspn(pa, "."), bl = strcspn(pb, ".");
        if ((c = cmp_ident(pa, al, pb, bl)) != 0)
            return c;
        pa += al;
        pb += bl;
        if (*pa == '\0' || *pb == '\0')
            return (*pa != '\0') - (*pb != '\0');
        pa++;
        pb++;
    }
}

void ssrc_semver_format(const struct ssrc_semver *v, char *buf, size_t size)
{
    snprintf(buf, size, "%llu.%llu.%llu%s%s", (unsigned long long)v->major,
             (unsigned long long)v->minor, (unsigned long long)v->patch, v->pre[0] ? "-" : "",
             v->pre);
}

int64_t ssrc_semver_rc(const struct ssrc_semver *v)
{
    const char *p = v->pre;
    int64_t n = 0;

    if (strncmp(p, "rc.", 3) != 0)
        return -1;
    p += 3;
    if (*p == '\0' || (p[0] == '0' && p[1] != '\0'))
        return -1;
    for (; *p != '\0'; p++) {
        if (!is_digit(*p) || n > (INT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (*p - '0');
    }
    return n;
}

/* ---- ranges ---- */

enum cmp_op { OP_EQ, OP_NE, OP_GT, OP_GE, OP_LT, OP_LE };

struct prim {
    enum cmp_op op;
    struct ssrc_semver v;
};

struct ssrc_range {
    struct prim p[SSRC_RANGE_MAX_CMP];
    size_t np;
    /* Alternatives: set i covers p[set_start[i] .. set_start[i+1]) */
    size_t set_start[SSRC_RANGE_MAX_CMP + 1];
    size_t nsets;
};

/* A partial version: up to three numbers, each possibly a wildcard. */
struct partial {
    int nparts; /* numbers given before any wildcard (0..3) */
    uint64_t n[3];
    char pre[SSRC_SEMVER_PRE_MAX + 1];
};

static int add_prim(struct ssrc_range *r, enum cmp_op op, uint64_t ma, uint64_t mi, uint64_t pa,
                    const char *pre, struct ssrc_error *err)
{
    struct prim *p;

    if (r->np >= SSRC_RANGE_MAX_CMP)
        return ssrc_error_set(err, SSRC_ETOOLARGE, "range has more than %d comparators",
                              SSRC_RANGE_MAX_CMP);
    p = &r->p[r->np++];
    memset(p, 0, sizeof(*p));
    p->op = op;
    p->v.major = ma;
    p->v.minor = mi;
    p->v.patch = pa;
    if (pre != NULL)
        snprintf(p->v.pre, sizeof(p->v.pre), "%s", pre);
    return 0;
}

static int parse_partial(const char *s, size_t len, struct partial *pv, struct ssrc_error *err)
{
    size_t p = 0;
    bool wild = false;

    memset(pv, 0, sizeof(*pv));
    if (p < len && (s[p] == 'v' || s[p] == 'V'))
        p++;
    for (int i = 0; i < 3; i++) {
        if (p >= len)
            break;
        if (s[p] == 'x' || s[p] == 'X' || s[p] == '*') {
            wild = true;
            p++;
        } else if (!wild && parse_num(s, len, &p, &pv->n[i]) == 0) {
            pv->nparts = i + 1;
        } else {
            goto bad;
        }
        if (i < 2 && p < len && s[p] == '.') {
            p++;
            if (p >= len)
                goto bad;
        } else {
            break;
        }
    }
    if (p < len && s[p] == '-') {
        size_t start = ++p;
        if (pv->nparts != 3 || len - start > SSRC_SEMVER_PRE_MAX ||
            check_idents(s + start, len - start, true) != 0)
            goto bad;
        memcpy(pv->pre, s + start, len - start);
        pv->pre[len - start] = '\0';
        p = len;
    }
    if (p < len && s[p] == '+')
        p = len; /* build metadata is ignored */
    if (p != len || (pv->nparts == 0 && !wild))
        goto bad;
    return 0;
bad:
    return ssrc_error_set(err, SSRC_EPARSE, "\"%.*s\" is not a version", (int)(len > 64 ? 64 : len),
                          s);
}

/* Smallest version above every version matching the partial (exclusive upper bound). */
static void partial_next(const struct partial *pv, uint64_t out[3])
{
    out[0] = pv->n[0];
    out[1] = pv->n[1];
    out[2] = 0;
    if (pv->nparts == 1) {
        out[0]++;
        out[1] = 0;
    } else {
        out[1]++;
    }
}

static int add_comparator(struct ssrc_range *r, const char *s, size_t len, struct ssrc_error *err)
{
    enum cmp_op op = OP_EQ;
    int kind = 0; /* 0 plain op, 1 tilde, 2 caret */
    struct partial pv;
    uint64_t hi[3];
    size_t p = 0;

    if (len >= 2 && memcmp(s, ">=", 2) == 0) {
        op = OP_GE;
        p = 2;
    } else if (len >= 2 && memcmp(s, "<=", 2) == 0) {
        op = OP_LE;
        p = 2;
    } else if (len >= 2 && memcmp(s, "!=", 2) == 0) {
        op = OP_NE;
        p = 2;
    } else if (len >= 2 && memcmp(s, "~>", 2) == 0) {
        kind = 1;
        p = 2;
    } else if (len >= 1 && s[0] == '>') {
        op = OP_GT;
        p = 1;
    } else if (len >= 1 && s[0] == '<') {
        op = OP_LT;
        p = 1;
    } else if (len >= 1 && s[0] == '=') {
        p = 1;
    } else if (len >= 1 && s[0] == '~') {
        kind = 1;
        p = 1;
    } else if (len >= 1 && s[0] == '^') {
        kind = 2;
        p = 1;
    }
    while (p < len && s[p] == ' ')
        p++;
    if (parse_partial(s + p, len - p, &pv, err) != 0)
        return -1;
    if (pv.nparts == 0) /* "*": anything, except for != and < which match nothing useful */
        return op == OP_NE || op == OP_LT || op == OP_GT ? add_prim(r, OP_LT, 0, 0, 0, "0", err)
                                                         : 0;
    if (kind == 1) { /* ~1.2.3 := >=1.2.3 <1.3.0; ~1 := >=1.0.0 <2.0.0 */
        struct partial t = pv;
        if (t.nparts == 3)
            t.nparts = 2;
        partial_next(&t, hi);
        return add_prim(r, OP_GE, pv.n[0], pv.n[1], pv.n[2], pv.pre, err) ||
               add_prim(r, OP_LT, hi[0], hi[1], hi[2], "", err);
    }
    if (kind == 2) { /* ^: the leftmost non-zero component may not change */
        if (pv.n[0] > 0 || pv.nparts == 1) {
            hi[0] = pv.n[0] + 1;
            hi[1] = hi[2] = 0;
        } else if (pv.n[1] > 0 || pv.nparts == 2) {
            hi[0] = 0;
            hi[1] = pv.n[1] + 1;
            hi[2] = 0;
        } else {
            hi[0] = hi[1] = 0;
            hi[2] = pv.n[2] + 1;
        }
        return add_prim(r, OP_GE, pv.n[0], pv.n[1], pv.n[2], pv.pre, err) ||
               add_prim(r, OP_LT, hi[0], hi[1], hi[2], "", err);
    }
    if (pv.nparts == 3)
        return add_prim(r, op, pv.n[0], pv.n[1], pv.n[2], pv.pre, err);
    partial_next(&pv, hi);
    switch (op) {
    case OP_EQ:
        return add_prim(r, OP_GE, pv.n[0], pv.n[1], 0, "", err) ||
               add_prim(r, OP_LT, hi[0], hi[1], hi[2], "", err);
    case OP_NE:
        return ssrc_error_set(err, SSRC_EPARSE, "!= needs a full version");
    case OP_GT:
    case OP_LE:
        return add_prim(r, op == OP_GT ? OP_GE : OP_LT, hi[0], hi[1], hi[2], "", err);
    case OP_GE:
    case OP_LT:
        return add_prim(r, op, pv.n[0], pv.n[1], 0, "", err);
    }
    return 0;
}

static int parse_set(struct ssrc_range *r, const char *s, size_t len, struct ssrc_error *err)
{
    size_t p = 0;
    const char *hy;

    /* Hyphen range: "A - B" */
    for (hy = s; (hy = memchr(hy, '-', len - (size_t)(hy - s))) != NULL; hy++) {
        if (hy > s && hy[-1] == ' ' && (size_t)(hy - s) + 1 < len && hy[1] == ' ') {
            size_t al = (size_t)(hy - s) - 1, bs = (size_t)(hy - s) + 2;
            struct partial a, b;
            uint64_t hi[3];
            while (al > 0 && s[al - 1] == ' ')
                al--;
            while (bs < len && s[bs] == ' ')
                bs++;
            if (parse_partial(s, al, &a, err) != 0 || parse_partial(s + bs, len - bs, &b, err) != 0)
                return -1;
            if (add_prim(r, OP_GE, a.n[0], a.n[1], a.n[2], a.pre, err) != 0)
                return -1;
            if (b.nparts == 3)
                return add_prim(r, OP_LE, b.n[0], b.n[1], b.n[2], b.pre, err);
            if (b.nparts == 0)
                return 0;
            partial_next(&b, hi);
            return add_prim(r, OP_LT, hi[0], hi[1], hi[2], "", err);
        }
    }
    while (p < len) {
        size_t start;
        while (p < len && (s[p] == ' ' || s[p] == ','))
            p++;
        if (p >= len)
            break;
        start = p;
        /* An operator may be followed by spaces before its version. */
        while (p < len && strchr("<>=!~^", s[p]) != NULL)
            p++;
        while (p > start && p < len && s[p] == ' ')
            p++;
        while (p < len && s[p] != ' ' && s[p] != ',')
            p++;
        if (add_comparator(r, s + start, p - start, err) != 0)
            return -1;
    }
    return 0;
}

int ssrc_range_parse(const char *s, struct ssrc_range **out, struct ssrc_error *err)
{
    struct ssrc_range *r = NULL;
    size_t len = strlen(s), p = 0;
    int rc = -1;

    *out = NULL;
    if (len > SSRC_RANGE_MAX_LEN)
        return ssrc_error_set(err, SSRC_ETOOLARGE, "range longer than %d bytes",
                              SSRC_RANGE_MAX_LEN);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return ssrc_error_set(err, SSRC_EPARSE, "range has a control or non-ASCII byte");
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
    for (;;) {
        const char *bar = strstr(s + p, "||");
        size_t end = bar != NULL ? (size_t)(bar - s) : len, a = p, b = end;
        while (a < b && s[a] == ' ')
            a++;
        while (b > a && s[b - 1] == ' ')
            b--;
        if (a == b) {
            ssrc_error_set(err, SSRC_EPARSE, "empty alternative in range");
            goto done;
        }
        if (r->nsets >= SSRC_RANGE_MAX_CMP) {
            ssrc_error_set(err, SSRC_ETOOLARGE, "too many alternatives in range");
            goto done;
        }
        r->set_start[r->nsets++] = r->np;
        if (parse_set(r, s + a, b - a, err) != 0)
            goto done;
        if (bar == NULL)
            break;
        p = end + 2;
    }
    r->set_start[r->nsets] = r->np;
    *out = r;
    r = NULL;
    rc = 0;
done:
    if (rc != 0)
        ssrc_error_wrap(err, "range \"%.64s\"", s);
    free(r);
    return rc;
}

static bool prim_match(const struct prim *p, const struct ssrc_semver *v)
{
    int c = ssrc_semver_cmp(v, &p->v);

    switch (p->op) {
    case OP_EQ:
        return c == 0;
    case OP_NE:
        return c != 0;
    case OP_GT:
        return c > 0;
    case OP_GE:
        return c >= 0;
    case OP_LT:
        return c < 0;
    case OP_LE:
        return c <= 0;
    }
    return false;
}

bool ssrc_range_match(const struct ssrc_range *r, const struct ssrc_semver *v)
{
    for (size_t s = 0; s < r->nsets; s++) {
        bool ok = true;
        for (size_t i = r->set_start[s]; i < r->set_start[s + 1] && ok; i++)
            ok = prim_match(&r->p[i], v);
        if (ok)
            return true;
    }
    return false;
}

void ssrc_range_free(struct ssrc_range *r)
{
    free(r);
}
