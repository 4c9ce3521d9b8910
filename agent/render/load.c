/*
 * Reading: files through the tree (with the renderer's budget) and YAML to
 * JSON the way kustomize resolves plain scalars. Resources are read by
 * kyaml (go-yaml v3: only true/false are booleans, 0x/0o/leading-0 octal
 * integers, timestamps stay strings); kustomization files by
 * sigs.k8s.io/yaml (go-yaml v2, YAML 1.1: yes/no/on/off are booleans).
 * Merge keys (<<) are expanded; explicit keys win.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render_int.h"

#define TAGP "tag:yaml.org,2002:"

static bool is_null_plain(const char *v)
{
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static int bool_plain(const char *v, bool yaml11)
{
    static const char *const t12[] = {"true", "True", "TRUE", NULL};
    static const char *const f12[] = {"false", "False", "FALSE", NULL};
    static const char *const t11[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", NULL};
    static const char *const f11[] = {"n", "N", "no", "No", "NO", "off", "Off", "OFF", NULL};
    for (size_t i = 0; t12[i]; i++)
        if (strcmp(v, t12[i]) == 0)
            return 1;
    for (size_t i = 0; f12[i]; i++)
        if (strcmp(v, f12[i]) == 0)
            return 0;
    if (yaml11) {
        for (size_t i = 0; t11[i]; i++)
            if (strcmp(v, t11[i]) == 0)
                return 1;
        for (size_t i = 0; f11[i]; i++)
            if (strcmp(v, f11[i]) == 0)
                return 0;
    }
    return -1;
}

/*
 * Go strconv.ParseInt(s, 0, 64) after removing underscores: RL_INT_OK with
 * *out set (out may be NULL), RL_INT_RANGE when it is an integer literal that
 * does not fit in 64 bits (go-yaml then reads it as a float: still not a
 * string), RL_INT_NO otherwise. The loader and the emitter share it, so what
 * is read as a number and what is quoted on output agree.
 */
int rl_go_int(const char *in, json_int_t *out)
{
    char s[128];
    size_t j = 0;
    const char *p;
    int base = 10;
    bool neg = false, range = false;
    unsigned long long v = 0;

    for (const char *q = in; *q; q++) {
        if (*q == '_')
            continue;
        if (j + 1 >= sizeof(s))
            return RL_INT_NO;
        s[j++] = *q;
    }
    s[j] = '\0';
    p = s;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
        base = 8;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
        base = 2;
        p += 2;
    } else if (p[0] == '0' && p[1] != '\0') {
        base = 8;
        p += 1;
    }
    if (*p == '\0')
        return RL_INT_NO;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            return RL_INT_NO;
        if (d >= base)
            return RL_INT_NO;
        if (v > (0xFFFFFFFFFFFFFFFFULL - (unsigned)d) / (unsigned)base)
            range = true;
        else
            v = v * (unsigned)base + (unsigned)d;
    }
    if (range || (!neg && v > (unsigned long long)INT64_MAX) ||
        (neg && v > (unsigned long long)INT64_MAX + 1ULL))
        return RL_INT_RANGE;
    if (out != NULL)
        *out = neg ? (json_int_t)(0 - v) : (json_int_t)v;
    return RL_INT_OK;
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool yaml_style_float(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    } else {
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
        if (*p == '.') {
            p++;
            while (isdigit((unsigned char)*p))
                p++;
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

static bool digits(const char *p, size_t min, size_t max, int *out, const char **end)
{
    size_t n = 0;
    int v = 0;
    while (p[n] >= '0' && p[n] <= '9' && n < max) {
        v = v * 10 + (p[n] - '0');
        n++;
    }
    if (n < min)
        return false;
    *out = v;
    *end = p + n;
    return true;
}

/*
 * go-yaml v3 reads an unquoted timestamp as a time.Time, and kustomize writes
 * it back through JSON as RFC 3339 ("2024-01-01" becomes "2024-01-01T00:00:00Z").
 * Formats: 2006-1-2, 2006-1-2 15:4:5.999999999 (UTC), 2006-1-2T15:4:5.999999999Z07:00.
 */
json_t *rl_timestamp(const char *v)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0;
    const char *p, *frac = NULL;
    size_t fl = 0;
    char tz[8] = "Z", out[64];
    if (!digits(v, 4, 4, &y, &p) || *p != '-' || !digits(p + 1, 1, 2, &mo, &p) || *p != '-' ||
        !digits(p + 1, 1, 2, &d, &p))
        return NULL;
    if (mo < 1 || mo > 12 || d < 1)
        return NULL;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return NULL;
    if (*p != '\0') {
        bool space = *p == ' ';
        if (*p != 'T' && *p != 't' && *p != ' ')
            return NULL;
        if (!digits(p + 1, 1, 2, &h, &p) || *p != ':' || !digits(p + 1, 1, 2, &mi, &p) ||
            *p != ':' || !digits(p + 1, 1, 2, &sec, &p))
            return NULL;
        if (h > 23 || mi > 59 || sec > 59)
            return NULL;
        if (*p == '.') {
            frac = ++p;
            while (*p >= '0' && *p <= '9')
                p++;
            fl = (size_t)(p - frac);
            if (fl == 0 || fl > 9)
                return NULL;
        }
        if (space) {
            if (*p != '\0')
                return NULL;
        } else if (*p == 'Z' && p[1] == '\0') {
            /* UTC */
        } else if (*p == '+' || *p == '-') {
            char sign = *p;
            if (!digits(p + 1, 2, 2, &oh, &p) || *p != ':' || !digits(p + 1, 2, 2, &om, &p) ||
                *p != '\0' || oh > 23 || om > 59)
                return NULL;
            if (oh != 0 || om != 0)
                snprintf(tz, sizeof(tz), "%c%02d:%02d", sign, oh, om);
        } else {
            return NULL;
        }
    }
    while (fl > 0 && frac[fl - 1] == '0')
        fl--;
    snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d%s%.*s%s", y, mo, d, h, mi, sec,
             fl ? "." : "", (int)fl, frac ? frac : "", tz);
    return json_string(out);
}

static json_t *resolve_plain(const char *v, size_t len, bool yaml11)
{
    json_int_t iv;
    int b;

    if (is_null_plain(v))
        return json_null();
    if ((b = bool_plain(v, yaml11)) >= 0)
        return json_boolean(b);
    if (strcmp(v, ".inf") == 0 || strcmp(v, ".Inf") == 0 || strcmp(v, ".INF") == 0 ||
        strcmp(v, "+.inf") == 0 || strcmp(v, "+.Inf") == 0 || strcmp(v, "+.INF") == 0 ||
        strcmp(v, "-.inf") == 0 || strcmp(v, "-.Inf") == 0 || strcmp(v, "-.INF") == 0 ||
        strcmp(v, ".nan") == 0 || strcmp(v, ".NaN") == 0 || strcmp(v, ".NAN") == 0)
        return json_stringn(v, len); /* JSON cannot carry them; kustomize fails too */
    if (!yaml11 && v[0] >= '0' && v[0] <= '9') {
        json_t *t = rl_timestamp(v);
        if (t != NULL)
            return t;
    }
    if (strchr("+-.0123456789", v[0]) != NULL && v[0] != '\0') {
        if (rl_go_int(v, &iv) == RL_INT_OK)
            return json_integer(iv);
        char tmp[128];
        size_t j = 0;
        for (const char *q = v; *q && j + 1 < sizeof(tmp); q++)
            if (*q != '_')
                tmp[j++] = *q;
        tmp[j] = '\0';
        if (strlen(v) < sizeof(tmp) && yaml_style_float(tmp)) {
            errno = 0;
            double d = strtod(tmp, NULL);
            if (errno == 0 && isfinite(d))
                return json_real(d);
        }
    }
    return json_stringn(v, len);
}

static json_t *scalar_json(const struct sl_ynode *n, bool yaml11, const char *name,
                           struct sl_error *err)
{
    if (n->tag != NULL && n->tag[0] != '\0' && strcmp(n->tag, "!") != 0) {
        if (strcmp(n->tag, TAGP "str") == 0 || strncmp(n->tag, TAGP, strlen(TAGP)) != 0)
            return json_stringn(n->value, n->len);
        if (strcmp(n->tag, TAGP "null") == 0)
            return json_null();
        json_t *j = resolve_plain(n->value, n->len, yaml11);
        if (strcmp(n->tag, TAGP "int") == 0 && !json_is_integer(j))
            goto bad;
        if (strcmp(n->tag, TAGP "bool") == 0 && !json_is_boolean(j))
            goto bad;
        if (strcmp(n->tag, TAGP "float") == 0) {
            if (json_is_integer(j)) {
                json_t *r = json_real((double)json_integer_value(j));
                json_decref(j);
                return r;
            }
            if (!json_is_real(j))
                goto bad;
        }
        return j;
    bad:
        json_decref(j);
        sl_error_set(err, SL_EPARSE, "%s:%d:%d: value is not a valid %s", name, n->line, n->col,
                     n->tag);
        return NULL;
    }
    if (n->style != SL_YS_PLAIN || n->tag != NULL)
        return json_stringn(n->value, n->len);
    return resolve_plain(n->value, n->len, yaml11);
}

/* Longer strings rarely repeat; hashing them would only cost time. */
#define INTERN_MAX_LEN 128
/* Bounds the table (8 bytes a slot) whatever the input. */
#define INTERN_MAX_SLOTS ((size_t)1 << 20)

static uint64_t intern_hash(const json_t *v)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    const unsigned char *p;
    size_t len;
    json_int_t i;

    if (json_is_string(v)) {
        p = (const unsigned char *)json_string_value(v);
        len = json_string_length(v);
    } else {
        i = json_integer_value(v);
        p = (const unsigned char *)&i;
        len = sizeof(i);
        h ^= 0xff; /* keep "8080" and 8080 apart */
    }
    for (size_t k = 0; k < len; k++) {
        h ^= p[k];
        h *= 1099511628211ull;
    }
    return h;
}

static bool intern_same(const json_t *a, const json_t *b)
{
    if (json_is_string(a))
        return json_is_string(b) && json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    return json_is_integer(b) && json_integer_value(a) == json_integer_value(b);
}

static int intern_grow(struct rl_intern *t)
{
    size_t nc = t->cap == 0 ? 1024 : t->cap * 2;
    json_t **ns;

    if (nc > INTERN_MAX_SLOTS || (ns = calloc(nc, sizeof(*ns))) == NULL)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i] == NULL)
            continue;
        size_t j = (size_t)intern_hash(t->slots[i]) & (nc - 1);
        while (ns[j] != NULL)
            j = (j + 1) & (nc - 1);
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = nc;
    return 0;
}

/*
 * Takes v (a new reference) and returns a new reference to the shared equal
 * value, or v itself. A full table only stops the sharing, never the load.
 */
static json_t *intern(struct rl_intern *t, json_t *v)
{
    size_t j;

    if (t == NULL || v == NULL ||
        !(json_is_integer(v) || (json_is_string(v) && json_string_length(v) <= INTERN_MAX_LEN)))
        return v;
    if (t->cap == 0 && intern_grow(t) != 0)
        return v;
    j = (size_t)intern_hash(v) & (t->cap - 1);
    for (; t->slots[j] != NULL; j = (j + 1) & (t->cap - 1)) {
        if (intern_same(v, t->slots[j])) {
            json_decref(v);
            return json_incref(t->slots[j]);
        }
    }
    if ((t->n + 1) * 2 > t->cap) {
        if (intern_grow(t) != 0)
            return v;
        j = (size_t)intern_hash(v) & (t->cap - 1);
        while (t->slots[j] != NULL)
            j = (j + 1) & (t->cap - 1);
    }
    t->slots[j] = json_incref(v);
    t->n++;
    return v;
}

json_t *rl_intern_string(struct rl_intern *t, const char *s)
{
    return intern(t, json_string(s));
}

void rl_intern_release(struct rl_intern *t)
{
    for (size_t i = 0; i < t->cap; i++)
        json_decref(t->slots[i]);
    free(t->slots);
    t->slots = NULL;
    t->cap = t->n = 0;
}

static int merge_into(json_t *obj, const json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach(unconst(src), k, v)
    {
        if (json_object_get(obj, k) == NULL && json_object_set(obj, k, v) != 0)
            return -1;
    }
    return 0;
}

json_t *rl_yaml_to_json(const struct sl_ynode *n, bool yaml11, const char *name,
                        struct rl_intern *in, struct sl_error *err)
{
    bool nomem = false;
    json_t *out = NULL;

    if (n == NULL)
        return json_null();
    switch (n->type) {
    case SL_Y_SCALAR:
        out = intern(in, scalar_json(n, yaml11, name, err));
        if (out == NULL && err != NULL && err->code == SL_OK)
            sl_error_set(err, SL_ENOMEM, "out of memory");
        return out;
    case SL_Y_SEQ:
        if ((out = json_array()) == NULL) {
            nomem = true;
            goto fail;
        }
        for (size_t i = 0; i < n->n; i++) {
            json_t *v = rl_yaml_to_json(n->items[i], yaml11, name, in, err);
            if (v == NULL || json_array_append_new(out, v) != 0)
                goto fail;
        }
        return out;
    case SL_Y_MAP: {
        json_t *merges = NULL;
        if ((out = json_object()) == NULL) {
            nomem = true;
            goto fail;
        }
        for (size_t i = 0; i < n->n; i++) {
            const struct sl_ynode *k = n->keys[i];
            json_t *v;
            if (memchr(k->value, '\0', k->len) != NULL) {
                sl_error_set(err, SL_EPARSE, "%s:%d: mapping key contains a NUL byte", name,
                             k->line);
                goto fail;
            }
            v = rl_yaml_to_json(n->items[i], yaml11, name, in, err);
            if (v == NULL)
                goto fail;
            if (k->style == SL_YS_PLAIN && strcmp(k->value, "<<") == 0 && k->tag == NULL) {
                if (merges == NULL && (merges = json_array()) == NULL) {
                    json_decref(v);
                    {
                        nomem = true;
                        goto fail;
                    }
                }
                if (json_is_object(v)) {
                    json_array_append_new(merges, v);
                } else if (json_is_array(v)) {
                    size_t idx;
                    json_t *e;
                    json_array_foreach(v, idx, e)
                    {
                        if (!json_is_object(e)) {
                            json_decref(v);
                            json_decref(merges);
                            sl_error_set(err, SL_EPARSE,
                                         "%s:%d: merge key << needs a mapping or a list of "
                                         "mappings",
                                         name, k->line);
                            goto fail;
                        }
                        json_array_append(merges, e);
                    }
                    json_decref(v);
                } else {
                    json_decref(v);
                    json_decref(merges);
                    sl_error_set(err, SL_EPARSE, "%s:%d: merge key << needs a mapping", name,
                                 k->line);
                    goto fail;
                }
                continue;
            }
            /* Mapping keys are strings in JSON; kustomize stringifies them too. */
            if (json_object_set_new(out, k->value, v) != 0) {
                json_decref(merges);
                {
                    nomem = true;
                    goto fail;
                }
            }
        }
        if (merges != NULL) {
            size_t idx;
            json_t *e;
            json_array_foreach(merges, idx, e)
            {
                if (merge_into(out, e) != 0) {
                    json_decref(merges);
                    {
                        nomem = true;
                        goto fail;
                    }
                }
            }
            json_decref(merges);
        }
        return out;
    }
    }
fail:
    if (nomem)
        sl_error_set(err, SL_ENOMEM, "out of memory");
    json_decref(out);
    return NULL;
}

int rl_read_file(struct render_ctx *c, const char *path, struct sl_buf *out)
{
    return sl_tree_read(c->tree, path, out, c->err);
}

int rl_load_docs(struct render_ctx *c, const char *path, const char *data, size_t len, bool lenient,
                 struct sl_ystream **out)
{
    struct sl_yaml_limits lim = SL_YAML_LIMITS_DEFAULT;
    lim.max_depth = c->opts.max_yaml_depth;
    lim.max_alias_nodes = c->opts.max_yaml_alias_nodes;
    return lenient ? sl_yaml_load_lenient(out, data, len, path, &lim, c->err)
                   : sl_yaml_load(out, data, len, path, &lim, c->err);
}
