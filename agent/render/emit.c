/*
 * Output exactly as kustomize prints: each object goes JSON -> go-yaml v2
 * (sigs.k8s.io/yaml.JSONToYAML), so keys are in go-yaml's "natural" order,
 * strings take go-yaml's style decisions (plain, quoted when they would
 * read back as another type, literal blocks for multi-line text) and the
 * libyaml-derived emitter folds long plain and quoted scalars at 80
 * columns. Also Go's json.Marshal (for the generator hash) and kustomize's
 * legacy kind order.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render_int.h"

#define BEST_WIDTH  80
#define BEST_INDENT 2

/* ---------- natural key order (go-yaml v2 sorter.go) ---------- */

static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    if (s[0] < 0x80 || len < 2) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0) {
        *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if ((s[0] & 0xF0) == 0xE0 && len >= 3) {
        *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    if ((s[0] & 0xF8) == 0xF0 && len >= 4) {
        *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
              ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        return 4;
    }
    *cp = 0xFFFD;
    return 1;
}

static bool is_letter(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    /* Approximation of unicode.IsLetter for non-ASCII: most are letters. */
    return c >= 0xC0 && c != 0xD7 && c != 0xF7;
}

static bool is_digit(uint32_t c)
{
    return c >= '0' && c <= '9';
}

/* Decode into buf when it fits, else into a malloc'ed array (*heap). */
static size_t to_runes(const char *s, uint32_t *buf, size_t bufn, uint32_t **out, uint32_t **heap)
{
    size_t len = strlen(s), n = 0;
    uint32_t *r = buf;
    *heap = NULL;
    if (len + 1 > bufn) {
        r = malloc((len + 1) * sizeof(*r));
        if (r == NULL)
            return (size_t)-1;
        *heap = r;
    }
    for (size_t i = 0; i < len;) {
        i += utf8_decode((const unsigned char *)s + i, len - i, &r[n]);
        n++;
    }
    *out = r;
    return n;
}

static bool natural_less(const char *a, const char *b)
{
    uint32_t abuf[128], bbuf[128];
    uint32_t *ar = NULL, *br = NULL, *ah = NULL, *bh = NULL;
    size_t an_ = to_runes(a, abuf, 128, &ar, &ah), bn_ = to_runes(b, bbuf, 128, &br, &bh);
    bool res;

    if (an_ == (size_t)-1 || bn_ == (size_t)-1) {
        free(ah);
        free(bh);
        return strcmp(a, b) < 0;
    }
    for (size_t i = 0; i < an_ && i < bn_; i++) {
        if (ar[i] == br[i])
            continue;
        bool al = is_letter(ar[i]), bl = is_letter(br[i]);
        if (al && bl) {
            res = ar[i] < br[i];
            goto done;
        }
        if (al || bl) {
            res = bl;
            goto done;
        }
        long long an = 0, bn = 0;
        size_t ai, bi;
        if (ar[i] == '0' || br[i] == '0') {
            for (size_t j = i; j-- > 0 && is_digit(ar[j]);) {
                if (ar[j] != '0') {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        for (ai = i; ai < an_ && is_digit(ar[ai]); ai++)
            an = (long long)((unsigned long long)an * 10u + (ar[ai] - '0')); /* Go int64 wraps */
        for (bi = i; bi < bn_ && is_digit(br[bi]); bi++)
            bn = (long long)((unsigned long long)bn * 10u + (br[bi] - '0'));
        if (an != bn) {
            res = an < bn;
            goto done;
        }
        if (ai != bi) {
            res = ai < bi;
            goto done;
        }
        res = ar[i] < br[i];
        goto done;
    }
    res = an_ < bn_;
done:
    free(ah);
    free(bh);
    return res;
}

static int cmp_natural(const void *x, const void *y)
{
    const char *a = *(const char *const *)x, *b = *(const char *const *)y;
    if (strcmp(a, b) == 0)
        return 0;
    return natural_less(a, b) ? -1 : 1;
}

/* ---------- scalar analysis (libyaml yaml_emitter_analyze_scalar) ---------- */

struct analysis {
    bool multiline, flow_plain, block_plain, single_ok, block_ok;
};

static size_t width_at(const unsigned char *s)
{
    if ((s[0] & 0x80) == 0)
        return 1;
    if ((s[0] & 0xE0) == 0xC0)
        return 2;
    if ((s[0] & 0xF0) == 0xE0)
        return 3;
    if ((s[0] & 0xF8) == 0xF0)
        return 4;
    return 1;
}

static bool is_printable(const unsigned char *b, size_t rem)
{
    unsigned char b1 = rem > 1 ? b[1] : 0, b2 = rem > 2 ? b[2] : 0;
    return b[0] == 0x0A || (b[0] >= 0x20 && b[0] <= 0x7E) || (b[0] == 0xC2 && b1 >= 0xA0) ||
           (b[0] > 0xC2 && b[0] < 0xED) || (b[0] == 0xED && b1 < 0xA0) || b[0] == 0xEE ||
           (b[0] == 0xEF && !(b1 == 0xBB && b2 == 0xBF) &&
            !(b1 == 0xBF && (b2 == 0xBE || b2 == 0xBF)));
}

static bool is_break(const unsigned char *b, size_t rem)
{
    return b[0] == '\r' || b[0] == '\n' || (rem > 1 && b[0] == 0xC2 && b[1] == 0x85) ||
           (rem > 2 && b[0] == 0xE2 && b[1] == 0x80 && (b[2] == 0xA8 || b[2] == 0xA9));
}

static bool is_blankz(const unsigned char *b, size_t rem)
{
    return rem == 0 || b[0] == ' ' || b[0] == '\t' || b[0] == '\0' || is_break(b, rem);
}

static void analyze(const char *str, size_t len, struct analysis *a)
{
    const unsigned char *s = (const unsigned char *)str, *p = s, *end = s + len;
    bool block_ind = false, flow_ind = false, line_breaks = false, special = false;
    bool lead_space = false, lead_break = false, trail_space = false, trail_break = false;
    bool break_space = false, space_break = false, prev_space = false, prev_break = false;
    bool preceded_ws = true, followed_ws;

    if (len == 0) {
        a->multiline = false;
        a->flow_plain = false;
        a->block_plain = true;
        a->single_ok = true;
        a->block_ok = false;
        return;
    }
    if (len >= 3 && ((s[0] == '-' && s[1] == '-' && s[2] == '-') ||
                     (s[0] == '.' && s[1] == '.' && s[2] == '.'))) {
        block_ind = true;
        flow_ind = true;
    }
    followed_ws = is_blankz(s + width_at(s), (size_t)(end - (s + width_at(s))));
    while (p < end) {
        size_t rem = (size_t)(end - p);
        unsigned char ch = *p;
        if (p == s) {
            if (strchr("#,[]{}&*!|>'\"%@`", ch) != NULL && ch != 0) {
                flow_ind = true;
                block_ind = true;
            }
            if (ch == '?' || ch == ':') {
                flow_ind = true;
                if (followed_ws)
                    block_ind = true;
            }
            if (ch == '-' && followed_ws) {
                flow_ind = true;
                block_ind = true;
            }
        } else {
            if (ch != 0 && strchr(",?[]{}", ch) != NULL)
                flow_ind = true;
            if (ch == ':') {
                flow_ind = true;
                if (followed_ws)
                    block_ind = true;
            }
            if (ch == '#' && preceded_ws) {
                flow_ind = true;
                block_ind = true;
            }
        }
        if (!is_printable(p, rem))
            special = true;
        if (is_break(p, rem))
            line_breaks = true;
        size_t w = width_at(p);
        if (w > rem)
            w = rem;
        if (ch == ' ') {
            if (p == s)
                lead_space = true;
            if (p + w == end)
                trail_space = true;
            if (prev_break)
                break_space = true;
            prev_space = true;
            prev_break = false;
        } else if (is_break(p, rem)) {
            if (p == s)
                lead_break = true;
            if (p + w == end)
                trail_break = true;
            if (prev_space)
                space_break = true;
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_ws = is_blankz(p, rem);
        p += w;
        if (p < end) {
            const unsigned char *q = p + width_at(p);
            followed_ws = q >= end ? true : is_blankz(q, (size_t)(end - q));
        }
    }
    a->multiline = line_breaks;
    a->flow_plain = a->block_plain = a->single_ok = a->block_ok = true;
    if (lead_space || lead_break || trail_space || trail_break)
        a->flow_plain = a->block_plain = false;
    if (trail_space)
        a->block_ok = false;
    if (break_space)
        a->flow_plain = a->block_plain = a->single_ok = false;
    if (space_break || special)
        a->flow_plain = a->block_plain = a->single_ok = a->block_ok = false;
    if (line_breaks)
        a->flow_plain = a->block_plain = false;
    if (flow_ind)
        a->flow_plain = false;
    if (block_ind)
        a->block_plain = false;
}

/* ---------- go-yaml v2 resolve(): would this plain string read back as non-string? ---------- */

static bool v2_float(const char *in)
{
    char s[128];
    size_t j = 0;
    const char *p;
    for (const char *q = in; *q; q++) {
        if (*q == '_')
            continue;
        if (j + 1 >= sizeof(s))
            return false;
        s[j++] = *q;
    }
    s[j] = '\0';
    p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    } else {
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9')
                p++;
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

/* go-yaml v2 parseTimestamp accepts the same formats as v3 (and validates the date). */
static bool v2_timestamp(const char *s)
{
    json_t *t = rl_timestamp(s);
    bool ok = t != NULL;
    json_decref(t);
    return ok;
}

/* ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$ */
static bool base60_float(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!(*p >= '0' && *p <= '9'))
        return false;
    while ((*p >= '0' && *p <= '9') || *p == '_')
        p++;
    int groups = 0;
    while (*p == ':') {
        p++;
        if (*p >= '0' && *p <= '5' && p[1] >= '0' && p[1] <= '9')
            p += 2;
        else if (*p >= '0' && *p <= '9')
            p += 1;
        else
            return false;
        groups++;
    }
    if (groups == 0)
        return false;
    if (*p == '.') {
        p++;
        while ((*p >= '0' && *p <= '9') || *p == '_')
            p++;
    }
    return *p == '\0';
}

static bool v2_resolves_non_string(const char *s)
{
    static const char *const special[] = {
            "",      "~",     "null",  "Null", "NULL", "y",    "Y",     "yes",   "Yes",
            "YES",   "n",     "N",     "no",   "No",   "NO",   "true",  "True",  "TRUE",
            "false", "False", "FALSE", "on",   "On",   "ON",   "off",   "Off",   "OFF",
            ".nan",  ".NaN",  ".NAN",  ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
            "-.inf", "-.Inf", "-.INF", "<<",   NULL};
    for (size_t i = 0; special[i]; i++)
        if (strcmp(s, special[i]) == 0)
            return true;
    char c = s[0];
    if (c == '.') {
        /* strconv.ParseFloat */
        return v2_float(s);
    }
    if ((c >= '0' && c <= '9') || c == '+' || c == '-') {
        if (v2_timestamp(s))
            return true;
        if (rl_go_int(s, NULL) != RL_INT_NO)
            return true;
        if (v2_float(s))
            return true;
    }
    return false;
}

/* ---------- the emitter ---------- */

struct em {
    struct sl_buf *out;
    struct sl_error *err;
    int column;
    bool whitespace, indention;
    int indent;
    int rc;
};

static void put(struct em *e, const char *s, size_t n)
{
    if (e->rc == 0 && sl_buf_append(e->out, s, n, e->err) != 0)
        e->rc = -1;
}

static void put_char(struct em *e, char ch)
{
    put(e, &ch, 1);
    e->column++;
}

static void put_break(struct em *e)
{
    put(e, "\n", 1);
    e->column = 0;
}

static void write_indent(struct em *e, int indent)
{
    if (!e->indention || e->column > indent || (e->column == indent && !e->whitespace))
        put_break(e);
    while (e->column < indent)
        put_char(e, ' ');
    e->whitespace = true;
    e->indention = true;
}

/* Write one UTF-8 character, counting one column. */
static size_t write_ch(struct em *e, const unsigned char *p, size_t rem)
{
    size_t w = width_at(p);
    if (w > rem)
        w = rem;
    put(e, (const char *)p, w);
    e->column++;
    return w;
}

static void write_indicator(struct em *e, const char *ind, bool need_ws, bool is_ws, bool is_ind)
{
    if (need_ws && !e->whitespace)
        put_char(e, ' ');
    for (const char *q = ind; *q; q++)
        put_char(e, *q);
    e->whitespace = is_ws;
    e->indention = e->indention && is_ind;
}

static void write_plain(struct em *e, const char *str, size_t len, bool allow_breaks, int indent)
{
    const unsigned char *p = (const unsigned char *)str, *end = p + len;
    bool spaces = false;
    if (!e->whitespace)
        put_char(e, ' ');
    while (p < end) {
        size_t rem = (size_t)(end - p);
        if (*p == ' ') {
            if (allow_breaks && !spaces && e->column > BEST_WIDTH && !(rem > 1 && p[1] == ' ')) {
                write_indent(e, indent);
                p++;
            } else {
                p += write_ch(e, p, rem);
            }
            spaces = true;
        } else {
            p += write_ch(e, p, rem);
            e->indention = false;
            spaces = false;
        }
    }
    e->whitespace = false;
    e->indention = false;
}

static void write_single(struct em *e, const char *str, size_t len, bool allow_breaks, int indent)
{
    const unsigned char *s = (const unsigned char *)str, *p = s, *end = s + len;
    bool spaces = false, breaks = false;
    write_indicator(e, "'", true, false, false);
    while (p < end) {
        size_t rem = (size_t)(end - p);
        if (*p == ' ') {
            if (allow_breaks && !spaces && e->column > BEST_WIDTH && p != s && p != end - 1 &&
                !(rem > 1 && p[1] == ' ')) {
                write_indent(e, indent);
                p++;
            } else {
                p += write_ch(e, p, rem);
            }
            spaces = true;
        } else if (is_break(p, rem)) {
            /* only U+2028/U+2029 get here (other breaks force double quotes); libyaml
             * copies them and indents the next character */
            if (!breaks && *p == '\n')
                put_break(e);
            size_t w = width_at(p);
            if (*p == '\n') {
                put_break(e);
                p++;
            } else {
                put(e, (const char *)p, w);
                e->column = 0;
                p += w;
            }
            e->indention = true;
            breaks = true;
        } else {
            if (breaks) {
                write_indent(e, indent);
                breaks = false;
            }
            if (*p == '\'')
                put(e, "'", 1), e->column++;
            p += write_ch(e, p, rem);
            e->indention = false;
            spaces = false;
        }
    }
    write_indicator(e, "'", false, false, false);
}

static void write_double(struct em *e, const char *str, size_t len, bool allow_breaks, int indent)
{
    const unsigned char *s = (const unsigned char *)str, *p = s, *end = s + len;
    bool spaces = false;
    write_indicator(e, "\"", true, false, false);
    while (p < end) {
        size_t rem = (size_t)(end - p);
        bool bom = rem >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF;
        if (!is_printable(p, rem) || bom || is_break(p, rem) || *p == '"' || *p == '\\') {
            uint32_t v;
            size_t w = utf8_decode(p, rem, &v);
            char tmp[16];
            p += w;
            put_char(e, '\\');
            switch (v) {
            case 0x00:
                put_char(e, '0');
                break;
            case 0x07:
                put_char(e, 'a');
                break;
            case 0x08:
                put_char(e, 'b');
                break;
            case 0x09:
                put_char(e, 't');
                break;
            case 0x0A:
                put_char(e, 'n');
                break;
            case 0x0B:
                put_char(e, 'v');
                break;
            case 0x0C:
                put_char(e, 'f');
                break;
            case 0x0D:
                put_char(e, 'r');
                break;
            case 0x1B:
                put_char(e, 'e');
                break;
            case 0x22:
                put_char(e, '"');
                break;
            case 0x5C:
                put_char(e, '\\');
                break;
            case 0x85:
                put_char(e, 'N');
                break;
            case 0xA0:
                put_char(e, '_');
                break;
            case 0x2028:
                put_char(e, 'L');
                break;
            case 0x2029:
                put_char(e, 'P');
                break;
            default:
                if (v <= 0xFF)
                    snprintf(tmp, sizeof(tmp), "x%02X", (unsigned)v);
                else if (v <= 0xFFFF)
                    snprintf(tmp, sizeof(tmp), "u%04X", (unsigned)v);
                else
                    snprintf(tmp, sizeof(tmp), "U%08X", (unsigned)v);
                for (char *q = tmp; *q; q++)
                    put_char(e, *q);
            }
            e->indention = false;
            spaces = false;
        } else if (*p == ' ') {
            if (allow_breaks && !spaces && e->column > BEST_WIDTH && p != s && p != end - 1) {
                write_indent(e, indent);
                if (rem > 1 && p[1] == ' ')
                    put_char(e, '\\');
                p++;
            } else {
                p += write_ch(e, p, rem);
            }
            spaces = true;
        } else {
            p += write_ch(e, p, rem);
            e->indention = false;
            spaces = false;
        }
    }
    write_indicator(e, "\"", false, false, false);
}

static void write_literal(struct em *e, const char *str, size_t len, int indent)
{
    const unsigned char *s = (const unsigned char *)str, *p = s, *end = s + len;
    char hints[8];
    size_t h = 0;
    bool breaks = true;

    hints[h++] = '|';
    if (len > 0 && (s[0] == ' ' || is_break(s, len)))
        hints[h++] = '0' + BEST_INDENT;
    if (len == 0) {
        hints[h++] = '-';
    } else {
        const unsigned char *q = end;
        do
            q--;
        while (q > s && (*q & 0xC0) == 0x80);
        if (!is_break(q, (size_t)(end - q))) {
            hints[h++] = '-';
        } else if (q == s) {
            hints[h++] = '+';
        } else {
            do
                q--;
            while (q > s && (*q & 0xC0) == 0x80);
            if (is_break(q, (size_t)(end - q)))
                hints[h++] = '+';
        }
    }
    hints[h] = '\0';
    write_indicator(e, hints, true, false, false);
    put_break(e);
    e->indention = true;
    e->whitespace = true;
    while (p < end) {
        size_t rem = (size_t)(end - p);
        if (is_break(p, rem)) {
            size_t w = width_at(p);
            if (*p == '\r' || *p == '\n') {
                put_break(e);
                p++;
            } else {
                put(e, (const char *)p, w);
                e->column = 0;
                p += w;
            }
            e->indention = true;
            breaks = true;
        } else {
            if (breaks) {
                write_indent(e, indent);
                breaks = false;
            }
            p += write_ch(e, p, rem);
            e->indention = false;
        }
    }
}

static bool valid_utf8(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n > len)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n;
    }
    return true;
}

/* Emit a string scalar; key = simple key context. indent = scalar's indent. */
static void emit_string(struct em *e, const char *s, size_t len, bool key, int indent)
{
    struct analysis a;
    enum { PLAIN, SINGLE, DOUBLE, LITERAL } style;
    bool can_plain;

    if (!valid_utf8(s, len)) {
        /* go-yaml v2 emits !!binary; JSON strings are always valid UTF-8, so unreachable */
        style = DOUBLE;
    }
    can_plain = !v2_resolves_non_string(s) && !base60_float(s);
    if (memchr(s, '\n', len) != NULL)
        style = LITERAL;
    else if (can_plain)
        style = PLAIN;
    else
        style = DOUBLE;
    analyze(s, len, &a);
    if (style == PLAIN) {
        if (!a.block_plain)
            style = SINGLE;
        if (len == 0 && key)
            style = SINGLE;
    }
    if (style == SINGLE && !a.single_ok)
        style = DOUBLE;
    if (style == LITERAL && (!a.block_ok || key))
        style = DOUBLE;
    if (key && a.multiline && style != DOUBLE)
        style = DOUBLE;
    switch (style) {
    case PLAIN:
        write_plain(e, s, len, !key, indent);
        break;
    case SINGLE:
        write_single(e, s, len, !key, indent);
        break;
    case DOUBLE:
        write_double(e, s, len, !key, indent);
        break;
    case LITERAL:
        write_literal(e, s, len, indent);
        break;
    }
}

static void format_float(double d, char *out, size_t outlen)
{
    /* JSON -> go-yaml: integral values that fit an int64/uint64 read back as ints. */
    if (d == floor(d) && d > -9223372036854775808.0 && d < 18446744073709551616.0) {
        snprintf(out, outlen, "%.0f", d);
        if (strcmp(out, "-0") == 0)
            snprintf(out, outlen, "0");
        return;
    }
    /* strconv.FormatFloat(f, 'g', -1, 64): shortest representation that round-trips. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    /* Go writes exponents with at least two digits, like C. */
}

static void emit_scalar(struct em *e, const json_t *v, int indent)
{
    char tmp[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        emit_string(e, json_string_value(v), json_string_length(v), false, indent);
        return;
    case JSON_INTEGER:
        snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        format_float(json_real_value(v), tmp, sizeof(tmp));
        break;
    case JSON_TRUE:
        snprintf(tmp, sizeof(tmp), "true");
        break;
    case JSON_FALSE:
        snprintf(tmp, sizeof(tmp), "false");
        break;
    default:
        snprintf(tmp, sizeof(tmp), "null");
        break;
    }
    write_plain(e, tmp, strlen(tmp), false, indent);
}

static int sorted_keys(const json_t *obj, const char ***keys_out, size_t *n_out)
{
    size_t n = json_object_size(obj), i = 0;
    const char **keys = malloc((n ? n : 1) * sizeof(*keys));
    const char *k;
    json_t *v;
    if (keys == NULL)
        return -1;
    json_object_foreach(unconst(obj), k, v)
    {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof(*keys), cmp_natural);
    *keys_out = keys;
    *n_out = n;
    return 0;
}

static bool is_empty_coll(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

static void emit_node(struct em *e, const json_t *v, int indent, bool in_seq_item,
                      bool mapping_value);

static void emit_mapping(struct em *e, const json_t *obj, int indent)
{
    const char **keys = NULL;
    size_t n = 0;
    if (sorted_keys(obj, &keys, &n) != 0) {
        e->rc = -1;
        sl_error_set(e->err, SL_ENOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < n && e->rc == 0; i++) {
        const json_t *val = json_object_get(obj, keys[i]);
        write_indent(e, indent);
        emit_string(e, keys[i], strlen(keys[i]), true, indent);
        write_indicator(e, ":", false, false, false);
        emit_node(e, val, indent, false, true);
    }
    free(keys);
}

static void emit_sequence(struct em *e, const json_t *arr, int indent)
{
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        if (e->rc != 0)
            return;
        write_indent(e, indent);
        write_indicator(e, "-", true, false, true);
        emit_node(e, item, indent, true, false);
    }
}

/*
 * indent is the indentation of the owning key (mapping value) or dash
 * (sequence item) or -1 for the document root.
 */
static void emit_node(struct em *e, const json_t *v, int indent, bool in_seq_item,
                      bool mapping_value)
{
    if (is_empty_coll(v)) {
        write_indicator(e, json_is_object(v) ? "{}" : "[]", true, false, false);
        return;
    }
    if (json_is_object(v)) {
        int ni = indent < 0 ? 0 : indent + BEST_INDENT;
        if (in_seq_item) {
            /* first key goes right after "- " */
            e->indention = true;
            e->whitespace = true;
        }
        emit_mapping(e, v, ni);
    } else if (json_is_array(v)) {
        int ni;
        if (indent < 0)
            ni = 0;
        else if (mapping_value)
            ni = indent; /* sequences are not indented under a key */
        else
            ni = indent + BEST_INDENT;
        if (in_seq_item) {
            e->indention = true;
            e->whitespace = true;
        }
        emit_sequence(e, v, ni);
    } else {
        emit_scalar(e, v, indent < 0 ? 0 : indent + BEST_INDENT);
    }
}

int emit_yaml_doc(const json_t *v, struct sl_buf *out, struct sl_error *err)
{
    struct em e = {out, err, 0, true, true, -1, 0};
    emit_node(&e, v, -1, false, false);
    /* like libyaml's document end: a block scalar may already end the line */
    if (e.rc == 0 && (e.column > 0 || !e.indention))
        put_break(&e);
    return e.rc;
}

/* ---------- Go json.Marshal ---------- */

static int go_json_string(const char *s, size_t len, struct sl_buf *out, struct sl_error *err)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    if (sl_buf_putc(out, '"', err) != 0)
        return -1;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        char tmp[8];
        if (c < 0x80) {
            if (c == '"' || c == '\\') {
                tmp[0] = '\\';
                tmp[1] = (char)c;
                if (sl_buf_append(out, tmp, 2, err) != 0)
                    return -1;
            } else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
                tmp[0] = '\\';
                tmp[1] = c == '\n'   ? 'n'
                         : c == '\r' ? 'r'
                         : c == '\t' ? 't'
                         : c == '\b' ? 'b'
                                     : 'f';
                if (sl_buf_append(out, tmp, 2, err) != 0)
                    return -1;
            } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                snprintf(tmp, sizeof(tmp), "\\u00%c%c", hex[c >> 4], hex[c & 15]);
                if (sl_buf_append(out, tmp, 6, err) != 0)
                    return -1;
            } else if (sl_buf_putc(out, (char)c, err) != 0) {
                return -1;
            }
            i++;
            continue;
        }
        /* multi-byte: validate, escape U+2028/2029, replace invalid with U+FFFD */
        size_t w = width_at(p + i);
        if (i + w > len || !valid_utf8(s + i, w)) {
            if (sl_buf_puts(out, "\\ufffd", err) != 0)
                return -1;
            i++;
            continue;
        }
        if (w == 3 && p[i] == 0xE2 && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
            if (sl_buf_puts(out, p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", err) != 0)
                return -1;
        } else if (sl_buf_append(out, s + i, w, err) != 0) {
            return -1;
        }
        i += w;
    }
    return sl_buf_putc(out, '"', err);
}

static int cmp_bytes(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

int go_json_marshal(const json_t *v, struct sl_buf *out, struct sl_error *err)
{
    char tmp[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        const char **keys = malloc((n ? n : 1) * sizeof(*keys));
        const char *k;
        json_t *val;
        int rc = 0;
        if (keys == NULL)
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        json_object_foreach(unconst(v), k, val)
        {
            keys[i++] = k;
        }
        qsort(keys, n, sizeof(*keys), cmp_bytes);
        rc = sl_buf_putc(out, '{', err);
        for (i = 0; i < n && rc == 0; i++) {
            if (i > 0)
                rc = sl_buf_putc(out, ',', err);
            if (rc == 0)
                rc = go_json_string(keys[i], strlen(keys[i]), out, err);
            if (rc == 0)
                rc = sl_buf_putc(out, ':', err);
            if (rc == 0)
                rc = go_json_marshal(json_object_get(v, keys[i]), out, err);
        }
        free(keys);
        return rc == 0 ? sl_buf_putc(out, '}', err) : -1;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *item;
        if (sl_buf_putc(out, '[', err) != 0)
            return -1;
        json_array_foreach(v, i, item)
        {
            if (i > 0 && sl_buf_putc(out, ',', err) != 0)
                return -1;
            if (go_json_marshal(item, out, err) != 0)
                return -1;
        }
        return sl_buf_putc(out, ']', err);
    }
    case JSON_STRING:
        return go_json_string(json_string_value(v), json_string_length(v), out, err);
    case JSON_INTEGER:
        snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return sl_buf_puts(out, tmp, err);
    case JSON_REAL:
        format_float(json_real_value(v), tmp, sizeof(tmp));
        return sl_buf_puts(out, tmp, err);
    case JSON_TRUE:
        return sl_buf_puts(out, "true", err);
    case JSON_FALSE:
        return sl_buf_puts(out, "false", err);
    default:
        return sl_buf_puts(out, "null", err);
    }
}

/* ---------- legacy order ---------- */

static const char *const order_first[] = {"Namespace",
                                          "ResourceQuota",
                                          "StorageClass",
                                          "CustomResourceDefinition",
                                          "ServiceAccount",
                                          "PodSecurityPolicy",
                                          "Role",
                                          "ClusterRole",
                                          "RoleBinding",
                                          "ClusterRoleBinding",
                                          "ConfigMap",
                                          "Secret",
                                          "Endpoints",
                                          "Service",
                                          "LimitRange",
                                          "PriorityClass",
                                          "PersistentVolume",
                                          "PersistentVolumeClaim",
                                          "Deployment",
                                          "StatefulSet",
                                          "CronJob",
                                          "PodDisruptionBudget",
                                          NULL};
static const char *const order_last[] = {"MutatingWebhookConfiguration",
                                         "ValidatingWebhookConfiguration", NULL};

/* Rank by kustomize's default lists, or by a kustomization's legacySortOptions. */
static int kind_rank(const char *k, const json_t *first, const json_t *last)
{
    if (first != NULL || last != NULL) {
        size_t nf = json_array_size(first), i;
        json_t *e;
        json_array_foreach(unconst(first), i, e)
        {
            if (json_is_string(e) && strcmp(json_string_value(e), k) == 0)
                return (int)i - (int)nf;
        }
        json_array_foreach(unconst(last), i, e)
        {
            if (json_is_string(e) && strcmp(json_string_value(e), k) == 0)
                return (int)i + 1;
        }
        return 0;
    }
    size_t nf = 0;
    while (order_first[nf])
        nf++;
    for (size_t i = 0; order_first[i]; i++)
        if (strcmp(k, order_first[i]) == 0)
            return (int)i - (int)nf;
    for (size_t i = 0; order_last[i]; i++)
        if (strcmp(k, order_last[i]) == 0)
            return (int)i + 1;
    return 0;
}

struct sortkey {
    struct res *r;
    int rank;
    char *gvk;
    char *idstr;
    size_t pos;
    bool is_ns_nogroup;
};

static int cmp_sortkey(const void *x, const void *y)
{
    const struct sortkey *a = x, *b = y;
    int c;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    c = strcmp(a->gvk, b->gvk);
    if (c != 0) {
        if (strcmp(res_kind(a->r), "Namespace") == 0 && strcmp(res_kind(b->r), "Namespace") == 0 &&
            (a->is_ns_nogroup || b->is_ns_nogroup))
            return -c;
        return c;
    }
    c = strcmp(a->idstr, b->idstr);
    if (c != 0)
        return c;
    return a->pos < b->pos ? -1 : a->pos > b->pos ? 1 : 0; /* stable */
}

void sort_legacy(struct res **items, size_t n, const json_t *first, const json_t *last)
{
    struct sortkey *keys = calloc(n ? n : 1, sizeof(*keys));
    if (keys == NULL)
        return; /* order is cosmetic; keep input order on OOM */
    for (size_t i = 0; i < n; i++) {
        char g[256], v[256];
        const char *k = res_kind(items[i]);
        const char *ns = res_ns(items[i]);
        res_group_version(items[i], g, sizeof(g), v, sizeof(v));
        keys[i].r = items[i];
        keys[i].rank = kind_rank(k, first, last);
        keys[i].pos = i;
        keys[i].is_ns_nogroup = g[0] == '\0';
        size_t gl = strlen(g) + strlen(v) + strlen(k) + 16;
        keys[i].gvk = malloc(gl);
        if (keys[i].gvk)
            snprintf(keys[i].gvk, gl, "%s_%s_%s", g[0] ? g : "~G", v[0] ? v : "~V",
                     k[0] ? k : "~K");
        size_t il = strlen(ns) + strlen(res_name(items[i])) + 8;
        keys[i].idstr = malloc(il);
        if (keys[i].idstr)
            snprintf(keys[i].idstr, il, "%s|%s", ns[0] ? ns : "~X", res_name(items[i]));
        if (keys[i].gvk == NULL || keys[i].idstr == NULL) {
            for (size_t j = 0; j <= i; j++) {
                free(keys[j].gvk);
                free(keys[j].idstr);
            }
            free(keys);
            return;
        }
    }
    qsort(keys, n, sizeof(*keys), cmp_sortkey);
    for (size_t i = 0; i < n; i++) {
        items[i] = keys[i].r;
        free(keys[i].gvk);
        free(keys[i].idstr);
    }
    free(keys);
}
