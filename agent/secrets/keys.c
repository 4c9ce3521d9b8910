/* age identities and recipients: Bech32 text forms and secure storage. */
#include <sodium.h>
#include <string.h>

#include "age.h"
#include "file.h"

#define IDENTITY_HRP      "AGE-SECRET-KEY-"
#define RECIPIENT_HRP     "age"
#define IDENTITY_FILE_MAX ((size_t)1 << 20)

const char *sl_scope_name(enum sl_scope_kind k)
{
    switch (k) {
    case SL_SCOPE_STRICT:
        return "strict";
    case SL_SCOPE_NAMESPACE:
        return "namespace";
    case SL_SCOPE_CLUSTER:
        return "cluster";
    default:
        return "none";
    }
}

int sl_scope_parse(const char *s, enum sl_scope_kind *out)
{
    if (strcmp(s, "strict") == 0)
        *out = SL_SCOPE_STRICT;
    else if (strcmp(s, "namespace") == 0)
        *out = SL_SCOPE_NAMESPACE;
    else if (strcmp(s, "cluster") == 0)
        *out = SL_SCOPE_CLUSTER;
    else
        return -1;
    return 0;
}

struct sl_age_identity *sl_age_identity_generate(struct sl_error *err)
{
    struct sl_age_identity *id = sl_secure_alloc(sizeof(*id), err);

    if (id == NULL)
        return NULL;
    randombytes_buf(id->sk, sizeof(id->sk));
    crypto_scalarmult_base(id->pk, id->sk);
    return id;
}

void sl_age_identity_free(struct sl_age_identity *id)
{
    sl_secure_free(id);
}

int sl_age_identity_format(const struct sl_age_identity *id, char *out, size_t outlen)
{
    return sl_bech32_encode(IDENTITY_HRP, id->sk, SL_AGE_KEY_LEN, true, out, outlen);
}

void sl_recipient_format(const unsigned char pk[SL_AGE_KEY_LEN], char *out, size_t outlen)
{
    if (sl_bech32_encode(RECIPIENT_HRP, pk, SL_AGE_KEY_LEN, false, out, outlen) != 0 && outlen > 0)
        out[0] = '\0';
}

int sl_recipient_parse(const char *s, struct sl_recipient *out, struct sl_error *err)
{
    char hrp[16];
    size_t n = 0;
    unsigned char pk[64];

    if (strncmp(s, "age1pq1", 7) == 0 || strncmp(s, "age1tag1", 8) == 0)
        return sl_error_set(err, SL_EUNSUPPORTED,
                            "recipient \"%.20s...\": post-quantum and tag recipients are not "
                            "supported; use an X25519 recipient (age1...)",
                            s);
    if (sl_bech32_decode(s, strlen(s), hrp, sizeof(hrp), pk, sizeof(pk), &n) != 0 ||
        strcmp(hrp, RECIPIENT_HRP) != 0 || n != SL_AGE_KEY_LEN)
        return sl_error_set(err, SL_EINVAL,
                            "\"%.80s\" is not an age X25519 recipient (age1..., 62 characters, "
                            "Bech32 checksum)",
                            s);
    memcpy(out->pk, pk, SL_AGE_KEY_LEN);
    return 0;
}

int sl_identities_add_raw(struct sl_identities *ids, const unsigned char sk[SL_AGE_KEY_LEN],
                          struct sl_error *err)
{
    struct sl_age_identity *id;

    if (ids->n == ids->cap) {
        size_t nc = ids->cap == 0 ? 4 : ids->cap * 2;
        struct sl_age_identity **k = realloc(ids->keys, nc * sizeof(*k));
        if (k == NULL)
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        ids->keys = k;
        ids->cap = nc;
    }
    id = sl_secure_alloc(sizeof(*id), err);
    if (id == NULL)
        return -1;
    memcpy(id->sk, sk, SL_AGE_KEY_LEN);
    crypto_scalarmult_base(id->pk, id->sk);
    ids->keys[ids->n++] = id;
    return 0;
}

void sl_identities_release(struct sl_identities *ids)
{
    for (size_t i = 0; i < ids->n; i++)
        sl_secure_free(ids->keys[i]);
    free(ids->keys);
    ids->keys = NULL;
    ids->n = ids->cap = 0;
}

int sl_identities_add_text(struct sl_identities *ids, const char *text, size_t len,
                           const char *name, struct sl_error *err)
{
    struct sl_secbuf key = SL_SECBUF_INIT(256);
    unsigned char *sk = NULL;
    size_t p = 0, lineno = 0, added = 0;
    char hrp[32];
    int rc = -1;

    sk = sl_secure_alloc(64, err);
    if (sk == NULL)
        goto done;
    while (p < len) {
        const char *nl = memchr(text + p, '\n', len - p);
        size_t ll = nl == NULL ? len - p : (size_t)(nl - (text + p));
        size_t next = nl == NULL ? len : p + ll + 1, n = 0;
        const char *line = text + p;

        lineno++;
        p = next;
        while (ll > 0 && (line[ll - 1] == '\r' || line[ll - 1] == ' ' || line[ll - 1] == '\t'))
            ll--;
        if (ll == 0 || line[0] == '#')
            continue;
        if (ll >= 18 && memcmp(line, "AGE-SECRET-KEY-PQ-", 18) == 0) {
            sl_error_set(err, SL_EUNSUPPORTED,
                         "%s:%zu: post-quantum identities are not supported; use an X25519 "
                         "identity (sluice keygen or age-keygen)",
                         name, lineno);
            goto done;
        }
        if (ll >= 11 && memcmp(line, "AGE-PLUGIN-", 11) == 0) {
            sl_error_set(err, SL_EUNSUPPORTED, "%s:%zu: age plugin identities are not supported",
                         name, lineno);
            goto done;
        }
        /* Copy into secure memory so the decoder never works on a malloc'ed key. */
        key.len = 0;
        if (ll > key.max || sl_secbuf_append(&key, line, ll, NULL) != 0 ||
            sl_bech32_decode((const char *)key.ptr, key.len, hrp, sizeof(hrp), sk, 64, &n) != 0 ||
            strcmp(hrp, IDENTITY_HRP) != 0 || n != SL_AGE_KEY_LEN) {
            sl_error_set(err, SL_EINVAL,
                         "%s:%zu: not an age X25519 identity (expected AGE-SECRET-KEY-1..., "
                         "upper case, valid Bech32 checksum)",
                         name, lineno);
            goto done;
        }
        if (sl_identities_add_raw(ids, sk, err) != 0)
            goto done;
        added++;
    }
    if (added == 0) {
        sl_error_set(err, SL_EINVAL, "%s: no identity (AGE-SECRET-KEY-1...) found", name);
        goto done;
    }
    rc = 0;
done:
    sl_secure_free(sk);
    sl_secbuf_release(&key);
    return rc;
}

int sl_identities_load_file(struct sl_identities *ids, const char *path, struct sl_error *err)
{
    struct sl_secbuf text = SL_SECBUF_INIT(IDENTITY_FILE_MAX);
    int rc;

    if (sl_file_read_secret(&text, path, IDENTITY_FILE_MAX, err) != 0)
        return -1;
    rc = sl_identities_add_text(ids, text.ptr == NULL ? "" : (const char *)text.ptr, text.len, path,
                                err);
    sl_secbuf_release(&text);
    return rc;
}

int sl_recipients_add(struct sl_recipient **v, size_t *n, const char *s, struct sl_error *err)
{
    struct sl_recipient r, *nv;

    if (sl_recipient_parse(s, &r, err) != 0)
        return -1;
    if (*n >= SL_AGE_MAX_RECIPIENTS)
        return sl_error_set(err, SL_ETOOLARGE, "more than %d recipients", SL_AGE_MAX_RECIPIENTS);
    nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (nv == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    nv[(*n)++] = r;
    *v = nv;
    return 0;
}

int sl_recipients_load_file(struct sl_recipient **v, size_t *n, const char *path,
                            struct sl_error *err)
{
    struct sl_buf text = SL_BUF_INIT(IDENTITY_FILE_MAX);
    size_t p = 0, lineno = 0;
    int rc = -1;

    if (sl_file_read(&text, path, IDENTITY_FILE_MAX, err) != 0)
        return -1;
    while (p < text.len) {
        char *nl = memchr(text.ptr + p, '\n', text.len - p);
        char *line = text.ptr + p;
        size_t ll = nl == NULL ? text.len - p : (size_t)(nl - line);

        lineno++;
        p += ll + (nl != NULL);
        while (ll > 0 && (line[ll - 1] == '\r' || line[ll - 1] == ' ' || line[ll - 1] == '\t'))
            ll--;
        line[ll] = '\0';
        if (ll == 0 || line[0] == '#')
            continue;
        if (sl_recipients_add(v, n, line, err) != 0) {
            sl_error_wrap(err, "%s:%zu", path, lineno);
            goto done;
        }
    }
    rc = 0;
done:
    sl_buf_release(&text);
    return rc;
}

int sl_identities_load_files(struct sl_identities *ids, char *const *paths, size_t n,
                             struct sl_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (sl_identities_load_file(ids, paths[i], err) != 0)
            return -1;
    return 0;
}
