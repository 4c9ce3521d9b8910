/* SealedSecret -> Secret, masking and wiping of unsealed values. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "secrets.h"
#include "yamltree.h"

bool sl_is_sealed_secret(const json_t *obj)
{
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));

    return av != NULL && kind != NULL && strcmp(av, SL_SEALED_API_VERSION) == 0 &&
           strcmp(kind, SL_SEALED_KIND) == 0;
}

bool sl_secret_key_valid(const char *key)
{
    size_t n = strlen(key);

    if (n == 0 || n > 253 || strcmp(key, ".") == 0 || strcmp(key, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

int sl_scope_make(enum sl_scope_kind kind, const char *ns, const char *name,
                  struct sl_age_scope *out, struct sl_error *err)
{
    int n = 0;

    memset(out, 0, sizeof(*out));
    out->kind = kind;
    switch (kind) {
    case SL_SCOPE_STRICT:
        if (ns == NULL || ns[0] == '\0' || name == NULL || name[0] == '\0')
            return sl_error_set(err, SL_EINVAL,
                                "strict scope needs the Secret's namespace and name");
        n = snprintf(out->bound, sizeof(out->bound), "%s/%s", ns, name);
        break;
    case SL_SCOPE_NAMESPACE:
        if (ns == NULL || ns[0] == '\0')
            return sl_error_set(err, SL_EINVAL, "namespace scope needs the Secret's namespace");
        n = snprintf(out->bound, sizeof(out->bound), "%s", ns);
        break;
    case SL_SCOPE_CLUSTER:
        break;
    default:
        return sl_error_set(err, SL_EINVAL, "unknown scope");
    }
    if (n < 0 || (size_t)n >= sizeof(out->bound))
        return sl_error_set(err, SL_ETOOLARGE, "namespace/name too long for a scope");
    return 0;
}

int sl_seal_value(const void *pt, size_t len, const struct sl_recipient *rcpts, size_t nrcpts,
                  const struct sl_age_scope *scope, struct sl_buf *out, struct sl_error *err)
{
    return sl_age_encrypt(pt, len, rcpts, nrcpts, scope, true, out, err);
}

int sl_age_decrypt_buffer(const void *in, size_t len, const struct sl_identities *ids,
                          struct sl_secbuf *out, struct sl_error *err)
{
    out->max = out->max == 0 ? SL_SECRET_MAX : out->max;
    return sl_age_decrypt(in, len, ids, out, NULL, NULL, err);
}

static int unseal_value(const char *armored, size_t len, const struct sl_identities *ids,
                        struct sl_age_cache *cache, const char *ns, const char *name,
                        enum sl_scope_kind expect_kind, struct sl_secbuf *out,
                        struct sl_age_scope *scope_out, struct sl_error *err)
{
    struct sl_age_scope got, want;
    struct sl_error serr = SL_ERROR_INIT;
    int rc = -1;

    if (out->max == 0)
        out->max = SL_SECRET_MAX;
    if (sl_age_decrypt_cached(armored, len, ids, cache, out, &got, NULL, err) != 0)
        return -1;
    if (got.kind == SL_SCOPE_NONE) {
        sl_error_set(err, SL_ECRYPTO,
                     "value has no scope binding (not written by sluice seal); seal it again "
                     "with sluice seal");
        goto done;
    }
    if (expect_kind != SL_SCOPE_NONE && expect_kind != got.kind) {
        sl_error_set(err, SL_ECRYPTO,
                     "spec.scope says %s but the value is sealed with %s scope (scope edited?)",
                     sl_scope_name(expect_kind), sl_scope_name(got.kind));
        goto done;
    }
    if (sl_scope_make(got.kind, ns, name, &want, &serr) != 0) {
        sl_error_set(err, SL_ECRYPTO, "value is sealed with %s scope to \"%s\", but %s",
                     sl_scope_name(got.kind), got.bound, serr.msg);
        goto done;
    }
    if (strcmp(want.bound, got.bound) != 0) {
        sl_error_set(err, SL_ECRYPTO,
                     "value is sealed with %s scope to \"%s\" and cannot be used in \"%s\" "
                     "(moved or renamed? seal it again for this object)",
                     sl_scope_name(got.kind), got.bound, want.bound);
        goto done;
    }
    if (scope_out != NULL)
        *scope_out = got;
    rc = 0;
done:
    if (rc != 0)
        sl_secbuf_release(out);
    return rc;
}

int sl_unseal_value(const char *armored, size_t len, const struct sl_identities *ids,
                    const char *ns, const char *name, enum sl_scope_kind expect_kind,
                    struct sl_secbuf *out, struct sl_age_scope *scope_out, struct sl_error *err)
{
    return unseal_value(armored, len, ids, NULL, ns, name, expect_kind, out, scope_out, err);
}

/* Per-run state: one age cache and two secure buffers reused for every value. */
struct unseal_ctx {
    struct sl_age_cache *cache;
    struct sl_secbuf pt, b64;
};

/* Copy a string-to-string map (labels, annotations) into dst, validating. */
static int merge_string_map(json_t *dst, const json_t *src, const char *what, struct sl_error *err)
{
    const char *k;
    json_t *v;

    if (src == NULL || json_is_null(src))
        return 0;
    if (!json_is_object(src))
        return sl_error_set(err, SL_EINVAL, "%s must be a mapping", what);
    json_object_foreach((json_t *)(uintptr_t)src, k, v)
    {
        if (!json_is_string(v))
            return sl_error_set(err, SL_EINVAL, "%s.%s must be a string", what, k);
        if (json_object_set(dst, k, v) != 0)
            return sl_error_set(err, SL_ENOMEM, "out of memory");
    }
    return 0;
}

static void wipe_json_string(json_t *s)
{
    const char *v = json_string_value(s);

    /* jansson owns a malloc'ed copy; overwrite it before it is freed. */
    if (v != NULL)
        sodium_memzero((void *)(uintptr_t)v, json_string_length(s));
}

static void wipe_map(json_t *m)
{
    const char *k;
    json_t *v;

    if (!json_is_object(m))
        return;
    json_object_foreach(m, k, v)
    {
        wipe_json_string(v);
    }
}

void sl_secret_json_wipe(json_t *obj)
{
    json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");

    wipe_map(json_object_get(obj, "data"));
    wipe_map(json_object_get(obj, "stringData"));
    json_object_del(obj, "data");
    json_object_del(obj, "stringData");
    /* client-side apply would keep a plaintext copy here */
    wipe_json_string(json_object_get(ann, "kubectl.kubernetes.io/last-applied-configuration"));
    json_object_del(ann, "kubectl.kubernetes.io/last-applied-configuration");
}

void sl_objlist_wipe_secrets(struct sl_objlist *objs)
{
    for (size_t i = 0; i < objs->n; i++)
        if (objs->items[i].secret)
            sl_secret_json_wipe(objs->items[i].json);
}

static void mask_map(json_t *m)
{
    const char *k;
    json_t *v;

    if (!json_is_object(m))
        return;
    json_object_foreach(m, k, v)
    {
        json_object_set_new(m, k, json_string(SL_SECRET_MASK));
    }
}

json_t *sl_secret_masked(const json_t *secret)
{
    json_t *copy = json_deep_copy(secret);
    json_t *ann;

    if (copy == NULL)
        return NULL;
    /* The deep copy duplicated the values: mask the copy's strings in place first. */
    wipe_map(json_object_get(copy, "data"));
    wipe_map(json_object_get(copy, "stringData"));
    mask_map(json_object_get(copy, "data"));
    mask_map(json_object_get(copy, "stringData"));
    ann = json_object_get(json_object_get(copy, "metadata"), "annotations");
    if (json_object_get(ann, "kubectl.kubernetes.io/last-applied-configuration") != NULL) {
        wipe_json_string(json_object_get(ann, "kubectl.kubernetes.io/last-applied-configuration"));
        json_object_set_new(ann, "kubectl.kubernetes.io/last-applied-configuration",
                            json_string(SL_SECRET_MASK));
    }
    return copy;
}

static int dump_cb(const char *buf, size_t size, void *data)
{
    return sl_secbuf_append(data, buf, size, NULL) == 0 ? 0 : -1;
}

int sl_secret_json_dump(const json_t *obj, struct sl_secbuf *out, struct sl_error *err)
{
    if (out->max == 0)
        out->max = SL_BUF_DEFAULT_MAX;
    if (json_dump_callback(obj, dump_cb, out, JSON_COMPACT) != 0)
        return sl_error_set(err, SL_ETOOLARGE, "cannot serialise a Secret (over %zu bytes?)",
                            out->max);
    return 0;
}

/* Build the Secret for one SealedSecret; problems go to diags. Returns NULL on any. */
static json_t *unseal_one(const struct sl_object *o, const struct sl_identities *ids,
                          struct unseal_ctx *ctx, struct sl_diags *diags, size_t *nproblems)
{
    const json_t *sealed = o->json;
    const json_t *md = json_object_get(sealed, "metadata");
    const json_t *spec = json_object_get(sealed, "spec");
    const json_t *tmpl = json_object_get(spec, "template");
    const json_t *tmd = json_object_get(tmpl, "metadata");
    const json_t *enc = json_object_get(spec, "encryptedData");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *scope_s = json_string_value(json_object_get(spec, "scope"));
    enum sl_scope_kind expect = SL_SCOPE_NONE;
    struct sl_secbuf *pt = &ctx->pt, *b64 = &ctx->b64;
    struct sl_error err = SL_ERROR_INIT;
    char id[600], origin[512];
    json_t *secret = NULL, *nmd, *data, *labels, *anns, *v;
    const char *k;
    size_t before = *nproblems;

    sl_object_id(sealed, id, sizeof(id));
    sl_origin_str(&o->origin, origin, sizeof(origin));
#define PROBLEM(...)                                                                               \
    do {                                                                                           \
        (*nproblems)++;                                                                            \
        if (diags != NULL)                                                                         \
            sl_diags_add(diags, __VA_ARGS__);                                                      \
    } while (0)
    if (name == NULL || name[0] == '\0') {
        PROBLEM("%s: %s: metadata.name is missing", origin, id);
        return NULL;
    }
    if (!json_is_object(enc)) {
        PROBLEM("%s: %s: spec.encryptedData must be a mapping of key to age file", origin, id);
        return NULL;
    }
    if (json_object_get(spec, "scope") != NULL &&
        (scope_s == NULL || sl_scope_parse(scope_s, &expect) != 0)) {
        PROBLEM("%s: %s: spec.scope must be strict, namespace or cluster", origin, id);
        return NULL;
    }
    secret = json_pack("{s:s, s:s, s:{s:s}, s:{}}", "apiVersion", "v1", "kind", "Secret",
                       "metadata", "name", name, "data");
    if (secret == NULL) {
        PROBLEM("%s: %s: out of memory", origin, id);
        return NULL;
    }
    nmd = json_object_get(secret, "metadata");
    data = json_object_get(secret, "data");
    if (ns != NULL)
        json_object_set_new(nmd, "namespace", json_string(ns));
    labels = json_object();
    anns = json_object();
    json_object_set_new(nmd, "labels", labels);
    json_object_set_new(nmd, "annotations", anns);
    /* The SealedSecret's own labels (e.g. from commonLabels), then the template's. */
    if (merge_string_map(labels, json_object_get(md, "labels"), "metadata.labels", &err) != 0 ||
        merge_string_map(labels, json_object_get(tmd, "labels"), "spec.template.metadata.labels",
                         &err) != 0 ||
        merge_string_map(anns, json_object_get(md, "annotations"), "metadata.annotations", &err) !=
                0 ||
        merge_string_map(anns, json_object_get(tmd, "annotations"),
                         "spec.template.metadata.annotations", &err) != 0) {
        PROBLEM("%s: %s: %s", origin, id, err.msg);
        goto done;
    }
    if (json_object_size(labels) == 0)
        json_object_del(nmd, "labels");
    if (json_object_size(anns) == 0)
        json_object_del(nmd, "annotations");
    v = json_object_get(tmpl, "type");
    if (v != NULL && !json_is_string(v)) {
        PROBLEM("%s: %s: spec.template.type must be a string", origin, id);
        goto done;
    }
    json_object_set_new(secret, "type", json_string(v != NULL ? json_string_value(v) : "Opaque"));
    v = json_object_get(tmpl, "immutable");
    if (v != NULL) {
        if (!json_is_boolean(v)) {
            PROBLEM("%s: %s: spec.template.immutable must be true or false", origin, id);
            goto done;
        }
        json_object_set(secret, "immutable", v);
    }
    json_object_foreach((json_t *)(uintptr_t)enc, k, v)
    {
        const char *a = json_string_value(v);
        size_t need;

        err = (struct sl_error)SL_ERROR_INIT;
        if (!sl_secret_key_valid(k)) {
            PROBLEM("%s: %s: key \"%.64s\": not a valid Secret key ([-._a-zA-Z0-9]+)", origin, id,
                    k);
            continue;
        }
        if (a == NULL) {
            PROBLEM("%s: %s: key \"%s\": value must be an armored age file (a string)", origin, id,
                    k);
            continue;
        }
        if (unseal_value(a, json_string_length(v), ids, ctx->cache, ns, name, expect, pt, NULL,
                         &err) != 0) {
            PROBLEM("%s: %s: key \"%s\": %s", origin, id, k, err.msg);
            continue;
        }
        need = sodium_base64_ENCODED_LEN(pt->len, sodium_base64_VARIANT_ORIGINAL);
        if (sl_secbuf_resize(b64, need, &err) != 0) {
            PROBLEM("%s: %s: key \"%s\": %s", origin, id, k, err.msg);
            sodium_memzero(pt->ptr, pt->len);
            continue;
        }
        sodium_bin2base64((char *)b64->ptr, need, pt->ptr, pt->len, sodium_base64_VARIANT_ORIGINAL);
        sodium_memzero(pt->ptr, pt->len);
        /* From here the base64 is also in jansson's malloc'ed copy (see secrets.h). */
        if (json_object_set_new(data, k, json_stringn((const char *)b64->ptr, need - 1)) != 0)
            PROBLEM("%s: %s: key \"%s\": out of memory", origin, id, k);
        sodium_memzero(b64->ptr, b64->len);
    }
done:
    if (pt->ptr != NULL)
        sodium_memzero(pt->ptr, pt->len);
    if (*nproblems != before) {
        sl_secret_json_wipe(secret);
        json_decref(secret);
        return NULL;
    }
    return secret;
#undef PROBLEM
}

int sl_unseal_objects_all(struct sl_objlist *objs, const struct sl_identities *ids,
                          struct sl_diags *diags, struct sl_error *err)
{
    size_t problems = 0;
    struct sl_diags local = SL_DIAGS_INIT;
    struct sl_diags *d = diags != NULL ? diags : &local;
    size_t first = d->n;
    struct unseal_ctx ctx = {NULL, SL_SECBUF_INIT(SL_SECRET_MAX),
                             SL_SECBUF_INIT(SL_SECRET_MAX * 2)};
    int rc = -1;

    ctx.cache = sl_age_cache_new(err);
    if (ctx.cache == NULL)
        goto done;
    for (size_t i = 0; i < objs->n; i++) {
        json_t *secret;

        if (!sl_is_sealed_secret(objs->items[i].json))
            continue;
        secret = unseal_one(&objs->items[i], ids, &ctx, d, &problems);
        if (secret == NULL)
            continue;
        json_decref(objs->items[i].json);
        objs->items[i].json = secret;
        objs->items[i].secret = true;
    }
    if (problems > 0) {
        sl_objlist_wipe_secrets(objs);
        if (d->n > first && problems > 1)
            sl_error_set(err, SL_ECRYPTO, "%s (and %zu more sealed values that cannot be unsealed)",
                         d->msgs[first], problems - 1);
        else if (d->n > first)
            sl_error_set(err, SL_ECRYPTO, "%s", d->msgs[first]);
        else
            sl_error_set(err, SL_ECRYPTO, "%zu sealed values could not be unsealed", problems);
        goto done;
    }
    rc = 0;
done:
    sl_age_cache_free(ctx.cache);
    sl_secbuf_release(&ctx.pt);
    sl_secbuf_release(&ctx.b64);
    sl_diags_release(&local);
    return rc;
}

int sl_unseal_objects(struct sl_objlist *objs, const struct sl_identities *ids,
                      struct sl_error *err)
{
    return sl_unseal_objects_all(objs, ids, NULL, err);
}

void sl_ynode_wipe(struct sl_ynode *n)
{
    if (n == NULL)
        return;
    if (n->value != NULL)
        sodium_memzero(n->value, n->len);
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys != NULL)
            sl_ynode_wipe(n->keys[i]);
        if (n->items != NULL)
            sl_ynode_wipe(n->items[i]);
    }
}

int sl_unseal_age_resource(const char *name, const void *data, size_t len,
                           const struct sl_identities *ids, struct sl_objlist *out,
                           struct sl_error *err)
{
    struct sl_secbuf pt = SL_SECBUF_INIT(SL_SECRET_MAX);
    struct sl_ystream *ys = NULL;
    size_t first = out->n;
    int rc = -1;

    if (sl_age_decrypt_buffer(data, len, ids, &pt, err) != 0) {
        sl_error_wrap(err, "%s", name);
        goto done;
    }
    if (sl_yaml_load(&ys, pt.ptr == NULL ? "" : (const char *)pt.ptr, pt.len, name, NULL, err) != 0)
        goto done;
    for (size_t i = 0; i < ys->ndocs; i++) {
        json_t *j;
        const char *av, *kind;

        if (ys->docs[i].root == NULL)
            continue;
        j = sl_ynode_to_json(ys->docs[i].root, name, err);
        if (j == NULL)
            goto done;
        av = json_string_value(json_object_get(j, "apiVersion"));
        kind = json_string_value(json_object_get(j, "kind"));
        if (av == NULL || kind == NULL || strcmp(av, "v1") != 0 || strcmp(kind, "Secret") != 0) {
            sl_secret_json_wipe(j);
            json_decref(j);
            sl_error_set(err, SL_EINVAL,
                         "%s:%d: an encrypted (.age) resource may only contain v1 Secrets", name,
                         ys->docs[i].line);
            goto done;
        }
        if (sl_objlist_add(out, j, name, ys->docs[i].line, err) != 0)
            goto done;
        out->items[out->n - 1].secret = true;
    }
    rc = 0;
done:
    if (ys != NULL) {
        for (size_t i = 0; i < ys->ndocs; i++)
            sl_ynode_wipe(ys->docs[i].root);
        sl_ystream_free(ys);
    }
    sl_secbuf_release(&pt);
    if (rc != 0) {
        for (size_t i = first; i < out->n; i++) {
            sl_secret_json_wipe(out->items[i].json);
            json_decref(out->items[i].json);
            free(out->items[i].origin.file);
        }
        out->n = first;
    }
    return rc;
}

int sl_secret_read_input(const char *path, struct sl_secbuf *out, size_t max, struct sl_error *err)
{
    unsigned char chunk[4096];
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    int rc = -1;

    if (fd < 0)
        return sl_error_errno(err, errno, "%s", path);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sl_error_errno(err, errno, "%s: read", is_stdin ? "stdin" : path);
            goto done;
        }
        if (n == 0)
            break;
        if (out->len + (size_t)n > max) {
            sl_error_set(err, SL_ETOOLARGE, "%s: over the limit of %zu bytes",
                         is_stdin ? "stdin" : path, max);
            goto done;
        }
        if (sl_secbuf_append(out, chunk, (size_t)n, err) != 0)
            goto done;
    }
    if (out->ptr == NULL && sl_secbuf_resize(out, 0, err) != 0)
        goto done;
    rc = 0;
done:
    sodium_memzero(chunk, sizeof(chunk));
    if (!is_stdin)
        close(fd);
    return rc;
}
