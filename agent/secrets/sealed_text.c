/*
 * Writing SealedSecrets as YAML text, and editing existing files line by
 * line so that a changed or re-encrypted value changes only its own armored
 * block (minimal git diffs, comments and other documents untouched).
 */
#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "secrets.h"
#include "yamltree.h"

#define ARMOR_BEGIN "-----BEGIN AGE ENCRYPTED FILE-----"
#define ARMOR_END   "-----END AGE ENCRYPTED FILE-----"

void sl_sealed_doc_release(struct sl_sealed_doc *d)
{
    free(d->name);
    free(d->ns);
    free(d->type);
    json_decref(d->labels);
    json_decref(d->annotations);
    for (size_t i = 0; i < d->nkeys; i++) {
        free(d->keys[i].key);
        free(d->keys[i].armored);
    }
    free(d->keys);
    memset(d, 0, sizeof(*d));
    d->immutable = -1;
}

int sl_sealed_doc_set(struct sl_sealed_doc *d, const char *key, const char *armored,
                      struct sl_error *err)
{
    char *a = strdup(armored), *k;

    if (a == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < d->nkeys; i++) {
        if (strcmp(d->keys[i].key, key) == 0) {
            free(d->keys[i].armored);
            d->keys[i].armored = a;
            return 0;
        }
    }
    if (d->nkeys == d->cap) {
        size_t nc = d->cap == 0 ? 8 : d->cap * 2;
        struct sl_sealed_key *nk = realloc(d->keys, nc * sizeof(*nk));
        if (nk == NULL) {
            free(a);
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        }
        d->keys = nk;
        d->cap = nc;
    }
    k = strdup(key);
    if (k == NULL) {
        free(a);
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    }
    d->keys[d->nkeys].key = k;
    d->keys[d->nkeys].armored = a;
    d->nkeys++;
    return 0;
}

static bool plain_ok(const char *s)
{
    static const char *const special[] = {"true", "false", "null", "yes", "no",
                                          "on",   "off",   "y",    "n"};

    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (const char *c = s; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-' || *c == '/'))
            return false;
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
        if (strcasecmp(s, special[i]) == 0)
            return false;
    return true;
}

/* A scalar as plain YAML when unambiguous, else as a JSON (= YAML double-quoted) string. */
static int put_scalar(struct sl_buf *out, const char *s, struct sl_error *err)
{
    json_t *j;
    char *q;
    int rc;

    if (plain_ok(s))
        return sl_buf_puts(out, s, err);
    j = json_string(s);
    q = j == NULL ? NULL : json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    if (q == NULL)
        return sl_error_set(err, SL_EINVAL, "cannot encode a string (invalid UTF-8?)");
    rc = sl_buf_puts(out, q, err);
    free(q);
    return rc;
}

static int put_block(struct sl_buf *out, const char *armored, int indent, struct sl_error *err)
{
    const char *p = armored;

    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl == NULL ? strlen(p) : (size_t)(nl - p);
        if (sl_buf_printf(out, err, "%*s", indent, "") != 0 || sl_buf_append(out, p, n, err) != 0 ||
            sl_buf_putc(out, '\n', err) != 0)
            return -1;
        p += n + (nl != NULL);
    }
    return 0;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int put_map(struct sl_buf *out, const json_t *m, const char *name, int indent,
                   struct sl_error *err)
{
    const char **keys;
    size_t n = json_object_size(m), i = 0;
    const char *k;
    json_t *v;
    int rc = -1;

    if (n == 0)
        return 0;
    keys = calloc(n, sizeof(*keys));
    if (keys == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    json_object_foreach((json_t *)(uintptr_t)m, k, v)
    {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof(*keys), cmp_cstr);
    if (sl_buf_printf(out, err, "%*s%s:\n", indent, "", name) != 0)
        goto done;
    for (i = 0; i < n; i++) {
        if (sl_buf_printf(out, err, "%*s", indent + 2, "") != 0 || put_scalar(out, keys[i], err) ||
            sl_buf_puts(out, ": ", err) != 0 ||
            put_scalar(out, json_string_value(json_object_get(m, keys[i])), err) != 0 ||
            sl_buf_putc(out, '\n', err) != 0)
            goto done;
    }
    rc = 0;
done:
    free(keys);
    return rc;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const struct sl_sealed_key *)a)->key, ((const struct sl_sealed_key *)b)->key);
}

int sl_sealed_doc_format(const struct sl_sealed_doc *d, struct sl_buf *out, struct sl_error *err)
{
    struct sl_sealed_key *keys = NULL;
    int rc = -1;

    if (d->nkeys > 0) {
        keys = calloc(d->nkeys, sizeof(*keys));
        if (keys == NULL)
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        memcpy(keys, d->keys, d->nkeys * sizeof(*keys));
        qsort(keys, d->nkeys, sizeof(*keys), cmp_key);
    }
    if (sl_buf_puts(out,
                    "apiVersion: " SL_SEALED_API_VERSION "\nkind: " SL_SEALED_KIND
                    "\nmetadata:\n  name: ",
                    err) != 0 ||
        put_scalar(out, d->name, err) != 0 || sl_buf_putc(out, '\n', err) != 0)
        goto done;
    if (d->ns != NULL && (sl_buf_puts(out, "  namespace: ", err) != 0 ||
                          put_scalar(out, d->ns, err) != 0 || sl_buf_putc(out, '\n', err) != 0))
        goto done;
    if (sl_buf_printf(out, err, "spec:\n  scope: %s\n  template:\n    type: ",
                      sl_scope_name(d->scope)) != 0 ||
        put_scalar(out, d->type != NULL ? d->type : "Opaque", err) != 0 ||
        sl_buf_putc(out, '\n', err) != 0)
        goto done;
    if (d->immutable >= 0 &&
        sl_buf_printf(out, err, "    immutable: %s\n", d->immutable ? "true" : "false") != 0)
        goto done;
    if (json_object_size(d->labels) + json_object_size(d->annotations) > 0) {
        if (sl_buf_puts(out, "    metadata:\n", err) != 0 ||
            put_map(out, d->labels, "labels", 6, err) != 0 ||
            put_map(out, d->annotations, "annotations", 6, err) != 0)
            goto done;
    }
    if (sl_buf_puts(out, "  encryptedData:\n", err) != 0)
        goto done;
    for (size_t i = 0; i < d->nkeys; i++) {
        if (sl_buf_puts(out, "    ", err) != 0 || put_scalar(out, keys[i].key, err) != 0 ||
            sl_buf_puts(out, ": |\n", err) != 0 || put_block(out, keys[i].armored, 6, err) != 0)
            goto done;
    }
    rc = 0;
done:
    free(keys);
    return rc;
}

/* ---------------------------------------------------------- text edits */

struct line {
    const char *p;
    size_t len; /* including '\n' when present */
};

struct edit {
    size_t first, last; /* 1-based inclusive line range replaced; last = first - 1 inserts */
    struct sl_buf text;
};

struct edits {
    struct edit *v;
    size_t n, cap;
};

static void edits_release(struct edits *e)
{
    for (size_t i = 0; i < e->n; i++)
        sl_buf_release(&e->v[i].text);
    free(e->v);
    e->v = NULL;
    e->n = e->cap = 0;
}

static struct edit *edits_add(struct edits *e, size_t first, size_t last, struct sl_error *err)
{
    if (e->n == e->cap) {
        size_t nc = e->cap == 0 ? 8 : e->cap * 2;
        struct edit *nv = realloc(e->v, nc * sizeof(*nv));
        if (nv == NULL) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            return NULL;
        }
        e->v = nv;
        e->cap = nc;
    }
    e->v[e->n].first = first;
    e->v[e->n].last = last;
    sl_buf_init(&e->v[e->n].text, SL_BUF_DEFAULT_MAX);
    return &e->v[e->n++];
}

static int split_lines(const char *text, size_t len, struct line **out, size_t *n,
                       struct sl_error *err)
{
    size_t cap = 64, cnt = 0;
    struct line *v = malloc(cap * sizeof(*v));

    if (v == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(text + p, '\n', len - p);
        size_t ll = nl == NULL ? len - p : (size_t)(nl - (text + p)) + 1;
        if (cnt == cap) {
            struct line *nv = realloc(v, cap * 2 * sizeof(*nv));
            if (nv == NULL) {
                free(v);
                return sl_error_set(err, SL_ENOMEM, "out of memory");
            }
            v = nv;
            cap *= 2;
        }
        v[cnt].p = text + p;
        v[cnt].len = ll;
        cnt++;
        p += ll;
    }
    *out = v;
    *n = cnt;
    return 0;
}

/* Line content without indentation and line end. */
static bool line_is(const struct line *l, const char *s, size_t *indent)
{
    size_t i = 0, n = l->len, sl = strlen(s);

    while (i < n && l->p[i] == ' ')
        i++;
    while (n > i && (l->p[n - 1] == '\n' || l->p[n - 1] == '\r'))
        n--;
    if (indent != NULL)
        *indent = i;
    return n - i == sl && memcmp(l->p + i, s, sl) == 0;
}

/*
 * The armored literal block that is the value of the key on line keyline:
 * lines keyline+1 .. *endline; checked against the parsed value.
 */
static int find_block(const struct line *lines, size_t nlines, size_t keyline,
                      const struct sl_ynode *v, size_t *endline, size_t *indent,
                      struct sl_error *err)
{
    struct sl_buf re = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    int rc = -1;

    if (v->type != SL_Y_SCALAR || v->style != SL_YS_LITERAL || keyline >= nlines ||
        !line_is(&lines[keyline], ARMOR_BEGIN, indent)) {
        sl_error_set(err, SL_EINVAL,
                     "line %zu: the value is not an armored literal block (\"key: |\" followed by "
                     "the armor, as sluice seal writes it)",
                     keyline);
        goto done;
    }
    for (size_t i = keyline; i < nlines; i++) {
        size_t ind = 0, n = lines[i].len;
        bool end = line_is(&lines[i], ARMOR_END, &ind);
        while (n > 0 && (lines[i].p[n - 1] == '\n' || lines[i].p[n - 1] == '\r'))
            n--;
        if (n > ind && (sl_buf_append(&re, lines[i].p + ind, n - ind, err) != 0 ||
                        sl_buf_putc(&re, '\n', err) != 0))
            goto done;
        if (end) {
            *endline = i + 1;
            if (re.len != v->len || memcmp(re.ptr, v->value, re.len) != 0) {
                sl_error_set(err, SL_EINVAL,
                             "line %zu: cannot match the armored block to its "
                             "parsed value (unusual indentation?)",
                             keyline + 1);
                goto done;
            }
            rc = 0;
            goto done;
        }
    }
    sl_error_set(err, SL_EINVAL, "line %zu: armored block without END line", keyline + 1);
done:
    sl_buf_release(&re);
    return rc;
}

static int cmp_edit(const void *a, const void *b)
{
    const struct edit *x = a, *y = b;

    return x->first < y->first ? -1 : x->first > y->first;
}

static int apply_edits(const struct line *lines, size_t nlines, struct edits *e, struct sl_buf *out,
                       struct sl_error *err)
{
    size_t ln = 1;

    qsort(e->v, e->n, sizeof(*e->v), cmp_edit);
    for (size_t i = 0; i < e->n; i++) {
        for (; ln < e->v[i].first && ln <= nlines; ln++)
            if (sl_buf_append(out, lines[ln - 1].p, lines[ln - 1].len, err) != 0)
                return -1;
        if (sl_buf_append(out, e->v[i].text.ptr, e->v[i].text.len, err) != 0)
            return -1;
        ln = e->v[i].last + 1;
    }
    for (; ln <= nlines; ln++)
        if (sl_buf_append(out, lines[ln - 1].p, lines[ln - 1].len, err) != 0)
            return -1;
    return 0;
}

static const char *yscalar(const struct sl_ynode *map, const char *key)
{
    const struct sl_ynode *n = sl_ynode_get(map, key);

    return n != NULL && n->type == SL_Y_SCALAR ? n->value : NULL;
}

static bool ydoc_is_sealed(const struct sl_ynode *root)
{
    const char *av = yscalar(root, "apiVersion"), *kind = yscalar(root, "kind");

    return root != NULL && root->type == SL_Y_MAP && av != NULL && kind != NULL &&
           strcmp(av, SL_SEALED_API_VERSION) == 0 && strcmp(kind, SL_SEALED_KIND) == 0;
}

int sl_sealed_merge_text(const char *text, size_t len, const char *name_for_msgs, const char *key,
                         const void *pt, size_t ptlen, const struct sl_recipient *rcpts,
                         size_t nrcpts, enum sl_scope_kind scope, struct sl_buf *out,
                         struct sl_error *err)
{
    struct sl_ystream *ys = NULL;
    struct line *lines = NULL;
    size_t nlines = 0, found = 0;
    struct edits e = {NULL, 0, 0};
    struct sl_buf armored = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    const struct sl_ynode *root = NULL, *spec, *enc, *md;
    const char *file_scope;
    enum sl_scope_kind kind = SL_SCOPE_STRICT;
    struct sl_age_scope sc;
    struct edit *ed;
    size_t keyind, insert_at = 0;
    int rc = -1;

    if (!sl_secret_key_valid(key)) {
        sl_error_set(err, SL_EINVAL, "\"%.64s\" is not a valid Secret key ([-._a-zA-Z0-9]+)", key);
        goto done;
    }
    if (sl_yaml_load(&ys, text, len, name_for_msgs, NULL, err) != 0 ||
        split_lines(text, len, &lines, &nlines, err) != 0)
        goto done;
    for (size_t i = 0; i < ys->ndocs; i++)
        if (ydoc_is_sealed(ys->docs[i].root)) {
            root = ys->docs[i].root;
            found++;
        }
    if (found != 1) {
        sl_error_set(err, SL_EINVAL, "%s: expected exactly one SealedSecret (%s), found %zu",
                     name_for_msgs, SL_SEALED_API_VERSION, found);
        goto done;
    }
    md = sl_ynode_get(root, "metadata");
    spec = sl_ynode_get(root, "spec");
    enc = sl_ynode_get(spec, "encryptedData");
    file_scope = yscalar(spec, "scope");
    if (file_scope != NULL && sl_scope_parse(file_scope, &kind) != 0) {
        sl_error_set(err, SL_EINVAL, "%s: spec.scope must be strict, namespace or cluster",
                     name_for_msgs);
        goto done;
    }
    if (scope != SL_SCOPE_NONE) {
        if (file_scope != NULL && scope != kind) {
            sl_error_set(err, SL_EINVAL,
                         "%s: the file's spec.scope is %s; --scope %s would mix scopes (reseal "
                         "the whole object instead)",
                         name_for_msgs, file_scope, sl_scope_name(scope));
            goto done;
        }
        kind = scope;
    }
    if (enc == NULL || enc->type != SL_Y_MAP || enc->n == 0) {
        sl_error_set(err, SL_EINVAL, "%s: spec.encryptedData must be a non-empty mapping",
                     name_for_msgs);
        goto done;
    }
    if (sl_scope_make(kind, yscalar(md, "namespace"), yscalar(md, "name"), &sc, err) != 0) {
        sl_error_wrap(err, "%s", name_for_msgs);
        goto done;
    }
    if (sl_seal_value(pt, ptlen, rcpts, nrcpts, &sc, &armored, err) != 0)
        goto done;
    keyind = (size_t)enc->keys[0]->col - 1;
    for (size_t i = 0; i < enc->n; i++) {
        size_t endline, ind;
        if (strcmp(enc->keys[i]->value, key) == 0) {
            if (find_block(lines, nlines, (size_t)enc->keys[i]->line, enc->items[i], &endline, &ind,
                           err) != 0) {
                sl_error_wrap(err, "%s: key \"%s\"", name_for_msgs, key);
                goto done;
            }
            ed = edits_add(&e, (size_t)enc->keys[i]->line + 1, endline, err);
            if (ed == NULL || put_block(&ed->text, armored.ptr, (int)ind, err) != 0)
                goto done;
            goto apply;
        }
        if (insert_at == 0 && strcmp(enc->keys[i]->value, key) > 0)
            insert_at = (size_t)enc->keys[i]->line;
    }
    if (insert_at == 0) {
        size_t last = enc->n - 1, endline, ind;
        if (find_block(lines, nlines, (size_t)enc->keys[last]->line, enc->items[last], &endline,
                       &ind, err) != 0) {
            sl_error_wrap(err, "%s: key \"%s\"", name_for_msgs, enc->keys[last]->value);
            goto done;
        }
        insert_at = endline + 1;
    }
    ed = edits_add(&e, insert_at, insert_at - 1, err);
    if (ed == NULL || sl_buf_printf(&ed->text, err, "%*s", (int)keyind, "") != 0 ||
        put_scalar(&ed->text, key, err) != 0 || sl_buf_puts(&ed->text, ": |\n", err) != 0 ||
        put_block(&ed->text, armored.ptr, (int)keyind + 2, err) != 0)
        goto done;
apply:
    if (apply_edits(lines, nlines, &e, out, err) != 0)
        goto done;
    rc = 0;
done:
    edits_release(&e);
    sl_buf_release(&armored);
    free(lines);
    sl_ystream_free(ys);
    return rc;
}

int sl_sealed_reseal_text(const char *text, size_t len, const char *name_for_msgs,
                          const struct sl_identities *ids, const struct sl_recipient *rcpts,
                          size_t nrcpts, struct sl_buf *out, size_t *nvalues, struct sl_error *err)
{
    struct sl_ystream *ys = NULL;
    struct line *lines = NULL;
    size_t nlines = 0;
    struct edits e = {NULL, 0, 0};
    struct sl_secbuf pt = SL_SECBUF_INIT(SL_SECRET_MAX);
    struct sl_age_sealer sealer = {NULL, SL_BUF_INIT(0)};
    int rc = -1;

    *nvalues = 0;
    if (sl_yaml_load(&ys, text, len, name_for_msgs, NULL, err) != 0 ||
        split_lines(text, len, &lines, &nlines, err) != 0)
        goto done;
    for (size_t d = 0; d < ys->ndocs; d++) {
        const struct sl_ynode *root = ys->docs[d].root, *enc;
        struct sl_age_scope cur = {SL_SCOPE_NONE, {0}};
        if (!ydoc_is_sealed(root))
            continue;
        enc = sl_ynode_get(sl_ynode_get(root, "spec"), "encryptedData");
        if (enc == NULL || enc->type != SL_Y_MAP) {
            sl_error_set(err, SL_EINVAL, "%s:%d: spec.encryptedData must be a mapping",
                         name_for_msgs, ys->docs[d].line);
            goto done;
        }
        for (size_t i = 0; i < enc->n; i++) {
            const struct sl_ynode *v = enc->items[i];
            size_t keyline = (size_t)enc->keys[i]->line, endline, ind;
            struct sl_age_scope sc;
            struct sl_buf armored = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
            struct edit *ed;
            int r;

            if (find_block(lines, nlines, keyline, v, &endline, &ind, err) != 0 ||
                sl_age_decrypt(v->value, v->len, ids, &pt, &sc, NULL, err) != 0) {
                sl_error_wrap(err, "%s:%zu: key \"%s\"", name_for_msgs, keyline,
                              enc->keys[i]->value);
                goto done;
            }
            if (sc.kind == SL_SCOPE_NONE) {
                sl_error_set(err, SL_EINVAL,
                             "%s:%zu: key \"%s\": value has no scope binding (not written by "
                             "sluice seal)",
                             name_for_msgs, keyline, enc->keys[i]->value);
                goto done;
            }
            /* One header per object and scope, as sluice seal writes them. */
            if (sealer.file_key == NULL || cur.kind != sc.kind ||
                strcmp(cur.bound, sc.bound) != 0) {
                sl_age_sealer_release(&sealer);
                if (sl_age_sealer_init(&sealer, rcpts, nrcpts, &sc, err) != 0)
                    goto done;
                cur = sc;
            }
            ed = edits_add(&e, keyline + 1, endline, err);
            if (ed == NULL)
                goto done;
            r = sl_age_seal_with(&sealer, pt.ptr, pt.len, true, &armored, err);
            if (r == 0)
                r = put_block(&ed->text, armored.ptr, (int)ind, err);
            sl_buf_release(&armored);
            if (r != 0)
                goto done;
            sodium_memzero(pt.ptr, pt.len);
            (*nvalues)++;
        }
        sl_age_sealer_release(&sealer);
    }
    if (apply_edits(lines, nlines, &e, out, err) != 0)
        goto done;
    rc = 0;
done:
    sl_age_sealer_release(&sealer);
    sl_secbuf_release(&pt);
    edits_release(&e);
    free(lines);
    sl_ystream_free(ys);
    return rc;
}
