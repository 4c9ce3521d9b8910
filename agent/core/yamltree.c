#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <yaml.h>

#include "buf.h"
#include "yamltree.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

struct anchor {
    char *name;
    struct sl_ynode *node;
};

struct loader {
    yaml_parser_t parser;
    const char *name;
    struct sl_yaml_limits lim;
    size_t nodes;
    size_t alias_nodes;
    struct anchor *anchors;
    size_t nanchors, capanchors;
    struct sl_error *err;
    bool dup_last_wins; /* sl_yaml_load_lenient: a repeated key replaces the earlier one */
};

void sl_ynode_free(struct sl_ynode *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys != NULL)
            sl_ynode_free(n->keys[i]);
        if (n->items != NULL)
            sl_ynode_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->tag);
    free(n->value);
    free(n);
}

void sl_ystream_free(struct sl_ystream *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->ndocs; i++)
        sl_ynode_free(s->docs[i].root);
    free(s->docs);
    free(s);
}

static int parse_error(struct loader *ld)
{
    yaml_parser_t *p = &ld->parser;
    const char *problem = p->problem != NULL ? p->problem : "malformed YAML";

    if (p->context != NULL)
        return sl_error_set(ld->err, SL_EPARSE, "%s:%zu:%zu: %s %s", ld->name,
                            p->problem_mark.line + 1, p->problem_mark.column + 1, problem,
                            p->context);
    return sl_error_set(ld->err, SL_EPARSE, "%s:%zu:%zu: %s", ld->name, p->problem_mark.line + 1,
                        p->problem_mark.column + 1, problem);
}

static struct sl_ynode *new_node(struct loader *ld, enum sl_ytype t, const yaml_mark_t *m,
                                 const yaml_char_t *tag)
{
    struct sl_ynode *n;

    if (++ld->nodes > ld->lim.max_nodes) {
        sl_error_set(ld->err, SL_ETOOLARGE, "%s:%zu: more than %zu YAML nodes", ld->name,
                     m->line + 1, ld->lim.max_nodes);
        return NULL;
    }
    n = calloc(1, sizeof(*n));
    if (n == NULL) {
        sl_error_set(ld->err, SL_ENOMEM, "out of memory");
        return NULL;
    }
    n->type = t;
    n->line = (int)m->line + 1;
    n->col = (int)m->column + 1;
    if (tag != NULL && strcmp((const char *)tag, "?") != 0 && strcmp((const char *)tag, "!") != 0) {
        n->tag = strdup((const char *)tag);
        if (n->tag == NULL) {
            free(n);
            sl_error_set(ld->err, SL_ENOMEM, "out of memory");
            return NULL;
        }
    }
    return n;
}

static int add_child(struct loader *ld, struct sl_ynode *parent, struct sl_ynode *key,
                     struct sl_ynode *val)
{
    size_t cap = parent->n;
    /* grow in powers of two: capacity is implied by n */
    if ((cap & (cap - 1)) == 0) {
        size_t newcap = cap == 0 ? 4 : cap * 2;
        struct sl_ynode **it = realloc(parent->items, newcap * sizeof(*it));
        if (it == NULL)
            return sl_error_set(ld->err, SL_ENOMEM, "out of memory");
        parent->items = it;
        if (parent->type == SL_Y_MAP) {
            struct sl_ynode **k = realloc(parent->keys, newcap * sizeof(*k));
            if (k == NULL)
                return sl_error_set(ld->err, SL_ENOMEM, "out of memory");
            parent->keys = k;
        }
    } else if (cap < 4) {
        /* cap 3: capacity is 4, fine */
    }
    if (parent->type == SL_Y_MAP)
        parent->keys[parent->n] = key;
    parent->items[parent->n] = val;
    parent->n++;
    return 0;
}

static struct sl_ynode *copy_node(struct loader *ld, const struct sl_ynode *src)
{
    struct sl_ynode *n;

    if (++ld->alias_nodes > ld->lim.max_alias_nodes) {
        sl_error_set(ld->err, SL_ETOOLARGE,
                     "%s:%d: alias expansion creates more than %zu nodes (alias bomb?)", ld->name,
                     src->line, ld->lim.max_alias_nodes);
        return NULL;
    }
    if (++ld->nodes > ld->lim.max_nodes) {
        sl_error_set(ld->err, SL_ETOOLARGE, "%s: more than %zu YAML nodes", ld->name,
                     ld->lim.max_nodes);
        return NULL;
    }
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        goto oom;
    *n = *src;
    n->tag = NULL;
    n->value = NULL;
    n->keys = NULL;
    n->items = NULL;
    n->n = 0;
    if (src->tag != NULL && (n->tag = strdup(src->tag)) == NULL)
        goto oom;
    if (src->value != NULL) {
        n->value = malloc(src->len + 1);
        if (n->value == NULL)
            goto oom;
        memcpy(n->value, src->value, src->len + 1);
    }
    for (size_t i = 0; i < src->n; i++) {
        struct sl_ynode *k = NULL, *v;
        if (src->type == SL_Y_MAP && (k = copy_node(ld, src->keys[i])) == NULL)
            goto fail;
        v = copy_node(ld, src->items[i]);
        if (v == NULL || add_child(ld, n, k, v) != 0) {
            sl_ynode_free(k);
            sl_ynode_free(v);
            goto fail;
        }
    }
    return n;
oom:
    sl_error_set(ld->err, SL_ENOMEM, "out of memory");
fail:
    sl_ynode_free(n);
    return NULL;
}

static int remember_anchor(struct loader *ld, const yaml_char_t *anchor, struct sl_ynode *node)
{
    if (anchor == NULL)
        return 0;
    /* A redefined anchor shadows the earlier one: search from the end. */
    if (ld->nanchors == ld->capanchors) {
        size_t nc = ld->capanchors == 0 ? 8 : ld->capanchors * 2;
        struct anchor *a = realloc(ld->anchors, nc * sizeof(*a));
        if (a == NULL)
            return sl_error_set(ld->err, SL_ENOMEM, "out of memory");
        ld->anchors = a;
        ld->capanchors = nc;
    }
    ld->anchors[ld->nanchors].name = strdup((const char *)anchor);
    if (ld->anchors[ld->nanchors].name == NULL)
        return sl_error_set(ld->err, SL_ENOMEM, "out of memory");
    ld->anchors[ld->nanchors].node = node;
    ld->nanchors++;
    return 0;
}

static void forget_anchors(struct loader *ld)
{
    for (size_t i = 0; i < ld->nanchors; i++)
        free(ld->anchors[i].name);
    ld->nanchors = 0;
}

static bool scalar_eq(const struct sl_ynode *a, const struct sl_ynode *b)
{
    return a->type == SL_Y_SCALAR && b->type == SL_Y_SCALAR && a->len == b->len &&
           memcmp(a->value, b->value, a->len) == 0;
}

/* Parse one node starting with event ev (already consumed). */
static struct sl_ynode *load_node(struct loader *ld, yaml_event_t *ev, size_t depth)
{
    struct sl_ynode *n = NULL;

    switch (ev->type) {
    case YAML_ALIAS_EVENT: {
        const char *a = (const char *)ev->data.alias.anchor;
        for (size_t i = ld->nanchors; i > 0; i--) {
            if (strcmp(ld->anchors[i - 1].name, a) == 0)
                return copy_node(ld, ld->anchors[i - 1].node);
        }
        sl_error_set(ld->err, SL_EPARSE, "%s:%zu:%zu: unknown alias *%s", ld->name,
                     ev->start_mark.line + 1, ev->start_mark.column + 1, a);
        return NULL;
    }
    case YAML_SCALAR_EVENT:
        n = new_node(ld, SL_Y_SCALAR, &ev->start_mark, ev->data.scalar.tag);
        if (n == NULL)
            return NULL;
        n->value = malloc(ev->data.scalar.length + 1);
        if (n->value == NULL) {
            sl_error_set(ld->err, SL_ENOMEM, "out of memory");
            goto fail;
        }
        memcpy(n->value, ev->data.scalar.value, ev->data.scalar.length);
        n->value[ev->data.scalar.length] = '\0';
        n->len = ev->data.scalar.length;
        switch (ev->data.scalar.style) {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE:
            n->style = SL_YS_SINGLE;
            break;
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
            n->style = SL_YS_DOUBLE;
            break;
        case YAML_LITERAL_SCALAR_STYLE:
            n->style = SL_YS_LITERAL;
            break;
        case YAML_FOLDED_SCALAR_STYLE:
            n->style = SL_YS_FOLDED;
            break;
        default:
            n->style = SL_YS_PLAIN;
        }
        if (remember_anchor(ld, ev->data.scalar.anchor, n) != 0)
            goto fail;
        return n;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool is_map = ev->type == YAML_MAPPING_START_EVENT;
        const yaml_char_t *anchor =
                is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
        char *anchor_copy = NULL;

        if (depth >= ld->lim.max_depth) {
            sl_error_set(ld->err, SL_ETOOLARGE, "%s:%zu:%zu: nesting deeper than %zu levels",
                         ld->name, ev->start_mark.line + 1, ev->start_mark.column + 1,
                         ld->lim.max_depth);
            return NULL;
        }
        n = new_node(ld, is_map ? SL_Y_MAP : SL_Y_SEQ, &ev->start_mark,
                     is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
        if (n == NULL)
            return NULL;
        /* The anchor becomes usable when the collection ends (aliases inside it
         * would be recursive, which YAML forbids and libyaml reports as unknown). */
        if (anchor != NULL && (anchor_copy = strdup((const char *)anchor)) == NULL) {
            sl_error_set(ld->err, SL_ENOMEM, "out of memory");
            goto fail;
        }
        for (;;) {
            yaml_event_t child;
            struct sl_ynode *k = NULL, *v = NULL;

            if (!yaml_parser_parse(&ld->parser, &child)) {
                parse_error(ld);
                free(anchor_copy);
                goto fail;
            }
            if (child.type == YAML_SEQUENCE_END_EVENT || child.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&child);
                break;
            }
            if (is_map) {
                k = load_node(ld, &child, depth + 1);
                yaml_event_delete(&child);
                if (k == NULL) {
                    free(anchor_copy);
                    goto fail;
                }
                if (k->type != SL_Y_SCALAR) {
                    sl_error_set(ld->err, SL_EPARSE, "%s:%d:%d: mapping keys must be scalars",
                                 ld->name, k->line, k->col);
                    sl_ynode_free(k);
                    free(anchor_copy);
                    goto fail;
                }
                for (size_t i = 0; i < n->n; i++) {
                    if (scalar_eq(n->keys[i], k) && strcmp(k->value, "<<") != 0 &&
                        ld->dup_last_wins) {
                        sl_ynode_free(n->keys[i]);
                        sl_ynode_free(n->items[i]);
                        memmove(&n->keys[i], &n->keys[i + 1], (n->n - i - 1) * sizeof(*n->keys));
                        memmove(&n->items[i], &n->items[i + 1], (n->n - i - 1) * sizeof(*n->items));
                        n->n--;
                        break;
                    }
                    if (scalar_eq(n->keys[i], k) && strcmp(k->value, "<<") != 0) {
                        sl_error_set(ld->err, SL_EPARSE,
                                     "%s:%d:%d: duplicate key \"%s\" (first at line %d)", ld->name,
                                     k->line, k->col, k->value, n->keys[i]->line);
                        sl_ynode_free(k);
                        free(anchor_copy);
                        goto fail;
                    }
                }
                if (!yaml_parser_parse(&ld->parser, &child)) {
                    parse_error(ld);
                    sl_ynode_free(k);
                    free(anchor_copy);
                    goto fail;
                }
            }
            v = load_node(ld, &child, depth + 1);
            yaml_event_delete(&child);
            if (v == NULL || add_child(ld, n, k, v) != 0) {
                sl_ynode_free(k);
                sl_ynode_free(v);
                free(anchor_copy);
                goto fail;
            }
        }
        if (anchor_copy != NULL) {
            int rc = remember_anchor(ld, (const yaml_char_t *)anchor_copy, n);
            free(anchor_copy);
            if (rc != 0)
                goto fail;
        }
        return n;
    }
    default:
        sl_error_set(ld->err, SL_EPARSE, "%s:%zu:%zu: unexpected YAML event", ld->name,
                     ev->start_mark.line + 1, ev->start_mark.column + 1);
        return NULL;
    }
fail:
    /* n may be referenced by an anchor of this document; anchors are only
     * used while loading, and loading stops on the first error. */
    for (size_t i = 0; i < ld->nanchors; i++)
        if (ld->anchors[i].node == n)
            ld->anchors[i].node = NULL;
    sl_ynode_free(n);
    return NULL;
}

typedef int (*doc_fn)(void *ctx, const struct sl_ydoc *doc, struct sl_error *err);
static int load_stream(struct sl_ystream **out, const char *data, size_t len, const char *name,
                       const struct sl_yaml_limits *limits, bool dup_last_wins, doc_fn each,
                       void *each_ctx, bool consume, struct sl_error *err);

int sl_yaml_load(struct sl_ystream **out, const char *data, size_t len, const char *name,
                 const struct sl_yaml_limits *limits, struct sl_error *err)
{
    return load_stream(out, data, len, name, limits, false, NULL, NULL, false, err);
}

int sl_yaml_load_lenient(struct sl_ystream **out, const char *data, size_t len, const char *name,
                         const struct sl_yaml_limits *limits, struct sl_error *err)
{
    return load_stream(out, data, len, name, limits, true, NULL, NULL, false, err);
}

int sl_yaml_load_each(const char *data, size_t len, const char *name,
                      const struct sl_yaml_limits *limits,
                      int (*each)(void *ctx, const struct sl_ydoc *doc, struct sl_error *err),
                      void *ctx, struct sl_error *err)
{
    return load_stream(NULL, data, len, name, limits, false, each, ctx, false, err);
}

int sl_yaml_load_each_consume(char *data, size_t len, const char *name,
                              const struct sl_yaml_limits *limits,
                              int (*each)(void *ctx, const struct sl_ydoc *doc,
                                          struct sl_error *err),
                              void *ctx, struct sl_error *err)
{
    return load_stream(NULL, data, len, name, limits, false, each, ctx, true, err);
}

/*
 * Give the whole pages of data that libyaml has already copied in (it reads
 * the input ahead of the events, never back) to the kernel: they read as
 * zeros from now on. Only pages strictly inside [data, data + len) are
 * touched, so whoever allocated data (malloc) still owns its bookkeeping.
 */
static void release_consumed(const yaml_parser_t *p, const char *data, size_t *released)
{
    long ps = sysconf(_SC_PAGESIZE);
    size_t page = ps > 0 ? (size_t)ps : 4096;
    uintptr_t start, end;

    start = ((uintptr_t)data + *released + page - 1) & ~(uintptr_t)(page - 1);
    end = (uintptr_t)p->input.string.current & ~(uintptr_t)(page - 1);
    if (end <= start || end - start < 16 * page)
        return; /* a syscall per 64 KiB at most */
    /* advisory: if the kernel refuses, the bytes simply stay resident */
    if (madvise((void *)start, end - start, MADV_DONTNEED) == 0)
        *released = (size_t)(end - (uintptr_t)data);
}

static int load_stream(struct sl_ystream **out, const char *data, size_t len, const char *name,
                       const struct sl_yaml_limits *limits, bool dup_last_wins, doc_fn each,
                       void *each_ctx, bool consume, struct sl_error *err)
{
    size_t released = 0;
    static const struct sl_yaml_limits defaults = SL_YAML_LIMITS_DEFAULT;
    struct loader ld;
    struct sl_ystream *s = NULL;
    size_t capdocs = 0, ndone = 0;
    int rc = -1;

    if (out != NULL)
        *out = NULL;
    memset(&ld, 0, sizeof(ld));
    ld.name = name != NULL ? name : "<input>";
    ld.lim = limits != NULL ? *limits : defaults;
    ld.err = err;
    ld.dup_last_wins = dup_last_wins;
    if (!yaml_parser_initialize(&ld.parser))
        return sl_error_set(err, SL_ENOMEM, "out of memory initialising the YAML parser");
    yaml_parser_set_input_string(&ld.parser, (const unsigned char *)data, len);
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    for (;;) {
        yaml_event_t ev;
        struct sl_ydoc doc = {NULL, 0};

        if (!yaml_parser_parse(&ld.parser, &ev)) {
            parse_error(&ld);
            goto done;
        }
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type != YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue; /* STREAM_START */
        }
        doc.line = (int)ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (!yaml_parser_parse(&ld.parser, &ev)) {
            parse_error(&ld);
            goto done;
        }
        if (ev.type != YAML_DOCUMENT_END_EVENT) {
            doc.root = load_node(&ld, &ev, 0);
            yaml_event_delete(&ev);
            if (doc.root == NULL)
                goto done;
            if (!yaml_parser_parse(&ld.parser, &ev)) {
                parse_error(&ld);
                sl_ynode_free(doc.root);
                goto done;
            }
        }
        yaml_event_delete(&ev);
        forget_anchors(&ld);
        if (s->ndocs + ndone >= ld.lim.max_docs) {
            sl_ynode_free(doc.root);
            sl_error_set(err, SL_ETOOLARGE, "%s: more than %zu YAML documents", ld.name,
                         ld.lim.max_docs);
            goto done;
        }
        if (each != NULL) {
            /* one document at a time: memory stays bounded by the largest document */
            int erc = each(each_ctx, &doc, err);
            sl_ynode_free(doc.root);
            if (erc != 0)
                goto done;
            ndone++;
            if (consume)
                release_consumed(&ld.parser, data, &released);
            continue;
        }
        if (s->ndocs == capdocs) {
            size_t nc = capdocs == 0 ? 4 : capdocs * 2;
            struct sl_ydoc *d = realloc(s->docs, nc * sizeof(*d));
            if (d == NULL) {
                sl_ynode_free(doc.root);
                sl_error_set(err, SL_ENOMEM, "out of memory");
                goto done;
            }
            s->docs = d;
            capdocs = nc;
        }
        s->docs[s->ndocs++] = doc;
    }
    if (out != NULL) {
        *out = s;
        s = NULL;
    }
    rc = 0;
done:
    forget_anchors(&ld);
    free(ld.anchors);
    yaml_parser_delete(&ld.parser);
    sl_ystream_free(s);
    return rc;
}

struct sl_ynode *sl_ynode_get(const struct sl_ynode *map, const char *key)
{
    size_t kl;

    if (map == NULL || map->type != SL_Y_MAP)
        return NULL;
    kl = strlen(key);
    for (size_t i = 0; i < map->n; i++) {
        if (map->keys[i]->len == kl && memcmp(map->keys[i]->value, key, kl) == 0)
            return map->items[i];
    }
    return NULL;
}

bool sl_yscalar_is_null(const struct sl_ynode *n)
{
    if (n == NULL)
        return true;
    if (n->type != SL_Y_SCALAR)
        return false;
    if (n->tag != NULL)
        return strcmp(n->tag, TAG_PREFIX "null") == 0;
    if (n->style != SL_YS_PLAIN)
        return false;
    return n->len == 0 || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
           strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0;
}

static bool parse_int(const char *s, json_int_t *out)
{
    const char *p = s;
    int base = 10;
    char *end;
    long long v;

    if (*p == '+' || *p == '-')
        p++;
    if (p[0] == '0' && p[1] == 'x') {
        if (p != s)
            return false;
        base = 16;
        p += 2;
    } else if (p[0] == '0' && p[1] == 'o') {
        if (p != s)
            return false;
        base = 8;
        p += 2;
    }
    if (*p == '\0')
        return false;
    for (const char *q = p; *q != '\0'; q++) {
        bool ok = base == 16 ? ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') ||
                                (*q >= 'A' && *q <= 'F'))
                             : (*q >= '0' && *q <= (base == 8 ? '7' : '9'));
        if (!ok)
            return false;
    }
    errno = 0;
    v = strtoll(p, &end, base);
    if (errno != 0 || *end != '\0')
        return false;
    *out = s[0] == '-' ? -v : v;
    return true;
}

static bool parse_float(const char *s, double *out)
{
    const char *p = s;
    bool digits = false, dot = false, exp = false;
    char *end;

    if (strcmp(s, ".inf") == 0 || strcmp(s, "+.inf") == 0 || strcmp(s, ".Inf") == 0 ||
        strcmp(s, "+.Inf") == 0 || strcmp(s, ".INF") == 0 || strcmp(s, "+.INF") == 0) {
        *out = INFINITY;
        return true;
    }
    if (strcmp(s, "-.inf") == 0 || strcmp(s, "-.Inf") == 0 || strcmp(s, "-.INF") == 0) {
        *out = -INFINITY;
        return true;
    }
    if (*p == '+' || *p == '-')
        p++;
    for (; *p != '\0'; p++) {
        if (*p >= '0' && *p <= '9') {
            digits = true;
        } else if (*p == '.' && !dot && !exp) {
            dot = true;
        } else if ((*p == 'e' || *p == 'E') && digits && !exp) {
            exp = true;
            if (p[1] == '+' || p[1] == '-')
                p++;
            if (p[1] == '\0')
                return false;
        } else {
            return false;
        }
    }
    if (!digits || (!dot && !exp))
        return false;
    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && *end == '\0';
}

static json_t *scalar_to_json(const struct sl_ynode *n, const char *name, struct sl_error *err)
{
    const char *v = n->value;
    const char *tag = n->tag;
    json_int_t iv;
    double dv;

    if (tag != NULL && strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) == 0) {
        const char *t = tag + strlen(TAG_PREFIX);
        if (strcmp(t, "str") == 0 || strcmp(t, "binary") == 0 || strcmp(t, "timestamp") == 0)
            return json_stringn(v, n->len);
        if (strcmp(t, "null") == 0)
            return json_null();
        if (strcmp(t, "bool") == 0) {
            if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0)
                return json_true();
            if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0)
                return json_false();
        } else if (strcmp(t, "int") == 0) {
            if (parse_int(v, &iv))
                return json_integer(iv);
        } else if (strcmp(t, "float") == 0) {
            if (parse_float(v, &dv) || (parse_int(v, &iv) && ((dv = (double)iv), true)))
                return json_real(dv);
        } else {
            return json_stringn(v, n->len);
        }
        sl_error_set(err, SL_EPARSE, "%s:%d:%d: \"%s\" is not a valid %s", name, n->line, n->col, v,
                     tag);
        return NULL;
    }
    if (n->style != SL_YS_PLAIN || tag != NULL)
        return json_stringn(v, n->len);
    if (sl_yscalar_is_null(n))
        return json_null();
    if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0)
        return json_true();
    if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0)
        return json_false();
    if (parse_int(v, &iv))
        return json_integer(iv);
    if (parse_float(v, &dv) && isfinite(dv))
        return json_real(dv);
    return json_stringn(v, n->len);
}

json_t *sl_ynode_to_json(const struct sl_ynode *n, const char *name, struct sl_error *err)
{
    json_t *out = NULL;

    if (n == NULL)
        return json_null();
    switch (n->type) {
    case SL_Y_SCALAR:
        out = scalar_to_json(n, name, err);
        if (out == NULL && err != NULL && err->code == SL_OK)
            sl_error_set(err, SL_ENOMEM, "out of memory");
        return out;
    case SL_Y_SEQ:
        out = json_array();
        if (out == NULL)
            goto oom;
        for (size_t i = 0; i < n->n; i++) {
            json_t *v = sl_ynode_to_json(n->items[i], name, err);
            if (v == NULL || json_array_append_new(out, v) != 0)
                goto fail;
        }
        return out;
    case SL_Y_MAP:
        out = json_object();
        if (out == NULL)
            goto oom;
        for (size_t i = 0; i < n->n; i++) {
            json_t *v;
            if (memchr(n->keys[i]->value, '\0', n->keys[i]->len) != NULL) {
                sl_error_set(err, SL_EPARSE, "%s:%d: mapping key contains a NUL byte", name,
                             n->keys[i]->line);
                goto fail;
            }
            v = sl_ynode_to_json(n->items[i], name, err);
            if (v == NULL || json_object_set_new(out, n->keys[i]->value, v) != 0)
                goto fail;
        }
        return out;
    }
oom:
    sl_error_set(err, SL_ENOMEM, "out of memory");
fail:
    json_decref(out);
    return NULL;
}
