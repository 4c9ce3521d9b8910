/*
 * age v1 decryption and encryption. The parser is strict as the spec and
 * the C2SP test kit: canonical base64 everywhere, LF-only header lines,
 * 64-column stanza bodies, an exact MAC line, and the STREAM final-chunk
 * rules. Every limit below is there because the input comes from a
 * repository that may be hostile.
 */
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "age.h"

#define VERSION_LINE "age-encryption.org/v1\n"
#define X25519_INFO  "age-encryption.org/v1/X25519"
#define FILE_KEY_LEN 16
#define MAC_LEN      32
#define NONCE_LEN    16
#define CHUNK        65536
#define TAG          16
#define CHUNK_CT     (CHUNK + TAG)
#define MAX_STANZAS  256
#define MAX_ARGS     16
#define MAX_BODY     4096 /* no stanza type we know needs more */

struct stanza {
    const char *args[MAX_ARGS]; /* into the arg line copy, NUL-separated */
    size_t nargs;
    char *argbuf;
    unsigned char *body;
    size_t bodylen;
};

struct header {
    struct stanza *st;
    size_t n, cap;
    size_t mac_input_len; /* bytes up to and including "---" */
    unsigned char mac[MAC_LEN];
    size_t payload_off;
};

static void header_release(struct header *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->st[i].argbuf);
        free(h->st[i].body);
    }
    free(h->st);
    h->st = NULL;
    h->n = h->cap = 0;
}

void sl_hkdf_sha256(unsigned char out[32], const unsigned char *ikm, size_t ikmlen,
                    const unsigned char *salt, size_t saltlen, const char *info)
{
    crypto_auth_hmacsha256_state st;
    unsigned char prk[32];
    static const unsigned char zero[32];
    unsigned char one = 1;

    /* An empty salt means HashLen zero bytes (RFC 5869 2.2). */
    if (saltlen == 0) {
        salt = zero;
        saltlen = sizeof(zero);
    }
    crypto_auth_hmacsha256_init(&st, salt, saltlen);
    crypto_auth_hmacsha256_update(&st, ikm, ikmlen);
    crypto_auth_hmacsha256_final(&st, prk);
    crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)info, strlen(info));
    crypto_auth_hmacsha256_update(&st, &one, 1);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(prk, sizeof(prk));
    sodium_memzero(&st, sizeof(st));
}

static int fail(enum sl_age_status *status, enum sl_age_status s, struct sl_error *err,
                const char *msg)
{
    if (status != NULL)
        *status = s;
    return sl_error_set(err, s == SL_AGE_ENOMATCH ? SL_EAUTH : SL_ECRYPTO, "age: %s", msg);
}

/*
 * Strict canonical standard base64 (RFC 4648 alphabet): padded (length a
 * multiple of 4, at most two '=' at the end) or unpadded (no '=', length not
 * 1 mod 4); the unused bits of the last character must be zero. A table
 * decoder rather than sodium_base642bin: ciphertext is public, so constant
 * time buys nothing here, and it was most of the cost of an unseal.
 */
static int b64_decode(const char *s, size_t n, bool padded, unsigned char *out, size_t cap,
                      size_t *got)
{
    static const signed char tab[256] = {
            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62,
            -1, -1, -1, 63, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1, -1, 0,
            1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
            23, 24, 25, -1, -1, -1, -1, -1, -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38,
            39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1, -1, -1, -1, -1,
            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    };
    size_t full, rem, o = 0;
    unsigned v[4];

    if (padded) {
        if (n % 4 != 0)
            return -1;
        if (n > 0 && s[n - 1] == '=')
            n--;
        if (n > 0 && s[n - 1] == '=' && n % 4 == 3)
            n--;
        if (n % 4 == 1)
            return -1;
    } else if (n % 4 == 1) {
        return -1;
    }
    full = n / 4;
    rem = n % 4;
    if (full * 3 + (rem == 0 ? 0 : rem - 1) > cap)
        return -1;
    for (size_t i = 0; i < full; i++) {
        for (int j = 0; j < 4; j++) {
            int c = tab[(unsigned char)s[4 * i + (size_t)j]];
            if (c < 0)
                return -1;
            v[j] = (unsigned)c;
        }
        out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        out[o++] = (unsigned char)(v[1] << 4 | v[2] >> 2);
        out[o++] = (unsigned char)(v[2] << 6 | v[3]);
    }
    if (rem > 0) {
        for (size_t j = 0; j < rem; j++) {
            int c = tab[(unsigned char)s[4 * full + j]];
            if (c < 0)
                return -1;
            v[j] = (unsigned)c;
        }
        out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        if (rem == 2 && (v[1] & 0x0f) != 0)
            return -1; /* non-canonical: unused bits set */
        if (rem == 3) {
            out[o++] = (unsigned char)(v[1] << 4 | v[2] >> 2);
            if ((v[2] & 0x03) != 0)
                return -1;
        }
    }
    *got = o;
    return 0;
}

/* Strict unpadded base64 of exactly outlen bytes. */
static int b64_exact(const char *s, size_t slen, unsigned char *out, size_t outlen)
{
    size_t got = 0;

    return b64_decode(s, slen, false, out, outlen, &got) == 0 && got == outlen ? 0 : -1;
}

static bool is_b64char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* The line starting at p (excluding '\n'); -1 when there is no '\n'. */
static ssize_t line_len(const unsigned char *p, size_t avail)
{
    const unsigned char *nl = memchr(p, '\n', avail);

    return nl == NULL ? -1 : (ssize_t)(nl - p);
}

static int parse_stanza(const unsigned char *d, size_t len, size_t *pos, struct stanza *st,
                        const char **why)
{
    size_t p = *pos + 3, argstart;
    ssize_t ll = line_len(d + p, len - p);
    char *a;
    size_t b64cap = 0, b64len = 0;
    char *b64 = NULL;
    size_t got = 0;

    if (ll < 0)
        return *why = "stanza line without end of line", -1;
    argstart = p;
    st->argbuf = malloc((size_t)ll + 1);
    if (st->argbuf == NULL)
        return *why = "out of memory", -1;
    memcpy(st->argbuf, d + argstart, (size_t)ll);
    st->argbuf[ll] = '\0';
    /* Arguments: one or more runs of VCHAR separated by single spaces. */
    a = st->argbuf;
    for (;;) {
        char *sp = strchr(a, ' ');
        if (sp != NULL)
            *sp = '\0';
        if (*a == '\0')
            return *why = "empty stanza argument", -1;
        for (char *c = a; *c != '\0'; c++)
            if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
                return *why = "invalid character in stanza argument", -1;
        if (st->nargs == MAX_ARGS)
            return *why = "too many stanza arguments", -1;
        st->args[st->nargs++] = a;
        if (sp == NULL)
            break;
        a = sp + 1;
    }
    p = argstart + (size_t)ll + 1;
    /* Body: 64-column lines, ending with the first shorter (maybe empty) line. */
    for (;;) {
        ssize_t bl = line_len(d + p, len - p);
        if (bl < 0) {
            free(b64);
            return *why = "stanza body without final line", -1;
        }
        if (bl > 64) {
            free(b64);
            return *why = "stanza body line longer than 64 columns", -1;
        }
        for (ssize_t i = 0; i < bl; i++)
            if (!is_b64char(d[p + (size_t)i])) {
                free(b64);
                return *why = "invalid character in stanza body", -1;
            }
        if (b64len + (size_t)bl > MAX_BODY * 2) {
            free(b64);
            return *why = "stanza body too large", -1;
        }
        if (b64len + (size_t)bl + 1 > b64cap) {
            char *nb;
            b64cap = (b64len + (size_t)bl + 1) * 2;
            nb = realloc(b64, b64cap);
            if (nb == NULL) {
                free(b64);
                return *why = "out of memory", -1;
            }
            b64 = nb;
        }
        memcpy(b64 + b64len, d + p, (size_t)bl);
        b64len += (size_t)bl;
        p += (size_t)bl + 1;
        if (bl < 64)
            break;
    }
    st->body = malloc(b64len / 4 * 3 + 3);
    if (st->body == NULL) {
        free(b64);
        return *why = "out of memory", -1;
    }
    if (b64len > 0 && b64_decode(b64, b64len, false, st->body, b64len / 4 * 3 + 3, &got) != 0) {
        free(b64);
        return *why = "stanza body is not canonical base64", -1;
    }
    free(b64);
    st->bodylen = got;
    *pos = p;
    return 0;
}

static int parse_header(const unsigned char *d, size_t len, struct header *h, const char **why)
{
    size_t p = sizeof(VERSION_LINE) - 1;

    if (len < p || memcmp(d, VERSION_LINE, p) != 0)
        return *why = "not an age v1 file (unsupported version line)", -1;
    for (;;) {
        if (len - p >= 3 && memcmp(d + p, "-> ", 3) == 0) {
            if (h->n == MAX_STANZAS)
                return *why = "too many stanzas", -1;
            if (h->n == h->cap) {
                size_t nc = h->cap == 0 ? 4 : h->cap * 2;
                struct stanza *ns = realloc(h->st, nc * sizeof(*ns));
                if (ns == NULL)
                    return *why = "out of memory", -1;
                h->st = ns;
                h->cap = nc;
            }
            memset(&h->st[h->n], 0, sizeof(h->st[0]));
            h->n++;
            if (parse_stanza(d, len, &p, &h->st[h->n - 1], why) != 0)
                return -1;
            continue;
        }
        if (len - p >= 3 && memcmp(d + p, "---", 3) == 0) {
            const unsigned char *m = d + p;
            h->mac_input_len = p + 3;
            if (len - p < 4 + 43 + 1 || m[3] != ' ' || m[4 + 43] != '\n')
                return *why = "malformed header MAC line", -1;
            if (b64_exact((const char *)m + 4, 43, h->mac, MAC_LEN) != 0)
                return *why = "malformed header MAC line", -1;
            h->payload_off = p + 4 + 43 + 1;
            break;
        }
        return *why = "malformed header line", -1;
    }
    if (h->n == 0)
        return *why = "header has no recipient stanza", -1;
    return 0;
}

/*
 * Binary files start with the version line; anything else is read as armor
 * (which allows leading whitespace), so garbage is an armor failure.
 */
static bool is_binary_age(const unsigned char *d, size_t len)
{
    static const char prefix[] = "age-encryption.org/";

    return len >= sizeof(prefix) - 1 && memcmp(d, prefix, sizeof(prefix) - 1) == 0;
}

#define ARMOR_BEGIN  "-----BEGIN AGE ENCRYPTED FILE-----"
#define ARMOR_END    "-----END AGE ENCRYPTED FILE-----"
#define ARMOR_WS_MAX 1024

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int sl_age_dearmor(const char *in, size_t len, struct sl_buf *out, struct sl_error *err)
{
    struct sl_buf b64 = SL_BUF_INIT((size_t)1 << 30);
    size_t p = 0, ws = 0, start = out->len;
    bool short_seen = false, ended = false;
    size_t dec = 0;
    int rc = -1;

    while (p < len && is_ws(in[p]))
        p++;
    if (p > ARMOR_WS_MAX) {
        sl_error_set(err, SL_EPARSE, "age armor: too much whitespace before the armor");
        goto done;
    }
    {
        size_t bl = sizeof(ARMOR_BEGIN) - 1;
        if (len - p < bl || memcmp(in + p, ARMOR_BEGIN, bl) != 0) {
            sl_error_set(err, SL_EPARSE,
                         "age: not an age file (neither binary \"age-encryption.org/v1\" nor "
                         "armored \"-----BEGIN AGE ENCRYPTED FILE-----\")");
            goto done;
        }
        p += bl;
        if (p < len && in[p] == '\r')
            p++;
        if (p >= len || in[p] != '\n') {
            sl_error_set(err, SL_EPARSE, "age armor: malformed BEGIN line");
            goto done;
        }
        p++;
    }
    while (p < len) {
        const char *nl = memchr(in + p, '\n', len - p);
        size_t ll = nl == NULL ? len - p : (size_t)(nl - (in + p));
        size_t next = nl == NULL ? len : p + ll + 1;

        if (ll > 0 && in[p + ll - 1] == '\r')
            ll--;
        if (ll == sizeof(ARMOR_END) - 1 && memcmp(in + p, ARMOR_END, ll) == 0) {
            ended = true;
            p = next;
            break;
        }
        if (ll == 0) {
            sl_error_set(err, SL_EPARSE, "age armor: empty line inside the armor");
            goto done;
        }
        if (short_seen) {
            sl_error_set(err, SL_EPARSE, "age armor: short line before the last line");
            goto done;
        }
        if (ll > 64) {
            sl_error_set(err, SL_EPARSE, "age armor: line longer than 64 columns");
            goto done;
        }
        /* A short line, or one with padding, must be the last before END. */
        if (ll < 64 || memchr(in + p, '=', ll) != NULL)
            short_seen = true;
        if (sl_buf_append(&b64, in + p, ll, err) != 0)
            goto done;
        p = next;
    }
    if (!ended) {
        sl_error_set(err, SL_EPARSE, "age armor: missing END AGE ENCRYPTED FILE line");
        goto done;
    }
    for (; p < len; p++, ws++) {
        if (!is_ws(in[p]) || ws >= ARMOR_WS_MAX) {
            sl_error_set(err, SL_EPARSE, "age armor: data after the END line");
            goto done;
        }
    }
    if (b64.len % 4 != 0) {
        sl_error_set(err, SL_EPARSE, "age armor: base64 is not padded");
        goto done;
    }
    if (sl_buf_grow(out, b64.len / 4 * 3 + 1, err) != 0)
        goto done;
    if (b64_decode(b64.ptr, b64.len, true, (unsigned char *)out->ptr + out->len,
                   out->cap - out->len - 1, &dec) != 0) {
        sl_error_set(err, SL_EPARSE, "age armor: invalid or non-canonical base64");
        goto done;
    }
    out->len += dec;
    out->ptr[out->len] = '\0';
    rc = 0;
done:
    if (rc != 0)
        sl_buf_truncate(out, start);
    sl_buf_release(&b64);
    return rc;
}

/* Validate the X25519 stanzas (fatal errors whatever identity is used). */
static int check_stanzas(const struct header *h, const char **why, bool *scrypt, bool *pq)
{
    for (size_t i = 0; i < h->n; i++) {
        const struct stanza *st = &h->st[i];
        unsigned char share[32];

        if (strcmp(st->args[0], "scrypt") == 0) {
            if (h->n != 1)
                return *why = "an scrypt stanza must be the only one", -1;
            *scrypt = true;
        }
        if (strcmp(st->args[0], "mlkem768x25519") == 0)
            *pq = true;
        if (strcmp(st->args[0], "X25519") != 0)
            continue;
        if (st->nargs != 2)
            return *why = "X25519 stanza needs exactly one argument", -1;
        if (strlen(st->args[1]) != 43 || b64_exact(st->args[1], 43, share, 32) != 0)
            return *why = "X25519 share is not 32 bytes of canonical base64", -1;
        if (st->bodylen != FILE_KEY_LEN + TAG)
            return *why = "X25519 stanza body is not 32 bytes", -1;
    }
    return 0;
}

/* 1: unwrapped, 0: not for this identity, -1: fatal (low-order share). */
static int x25519_unwrap(const struct sl_age_identity *id, const struct stanza *st,
                         unsigned char *file_key)
{
    unsigned char share[32], shared[32], salt[64], key[32];
    static const unsigned char nonce[12];
    unsigned long long mlen = 0;
    int rc;

    if (b64_exact(st->args[1], 43, share, 32) != 0)
        return -1;
    if (crypto_scalarmult_curve25519(shared, id->sk, share) != 0)
        return -1;
    memcpy(salt, share, 32);
    memcpy(salt + 32, id->pk, 32);
    sl_hkdf_sha256(key, shared, 32, salt, 64, X25519_INFO);
    rc = crypto_aead_chacha20poly1305_ietf_decrypt(file_key, &mlen, NULL, st->body, st->bodylen,
                                                   NULL, 0, nonce, key) == 0 &&
                         mlen == FILE_KEY_LEN
                 ? 1
                 : 0;
    sodium_memzero(shared, sizeof(shared));
    sodium_memzero(key, sizeof(key));
    return rc;
}

static void stream_nonce(unsigned char n[12], uint64_t counter, bool last)
{
    memset(n, 0, 12);
    for (int i = 0; i < 8; i++)
        n[10 - i] = (unsigned char)(counter >> (8 * i));
    n[11] = last ? 1 : 0;
}

static int decrypt_payload(const unsigned char *d, size_t len, const unsigned char *file_key,
                           struct sl_secbuf *out, const char **why, struct sl_error *err)
{
    unsigned char key[32], nonce[12];
    size_t nchunks, ptlen, p = NONCE_LEN, o = 0;
    int rc = -1;

    if (len < NONCE_LEN)
        return *why = "missing payload nonce", -2; /* the test kit calls this a header failure */
    sl_hkdf_sha256(key, file_key, FILE_KEY_LEN, d, NONCE_LEN, "payload");
    len -= NONCE_LEN;
    if (len == 0) {
        *why = "payload has no chunks";
        goto done;
    }
    nchunks = (len + CHUNK_CT - 1) / CHUNK_CT;
    if (len - (nchunks - 1) * CHUNK_CT < TAG) {
        *why = "payload chunk shorter than its tag";
        goto done;
    }
    ptlen = len - nchunks * TAG;
    if (sl_secbuf_resize(out, ptlen, err) != 0) {
        *why = NULL;
        goto done;
    }
    for (size_t i = 0; i < nchunks; i++) {
        bool last = i + 1 == nchunks;
        size_t clen = last ? len - i * CHUNK_CT : CHUNK_CT;
        unsigned long long mlen = 0;

        if (last && clen == TAG && i > 0) {
            *why = "final payload chunk is empty";
            goto done;
        }
        stream_nonce(nonce, i, last);
        if (crypto_aead_chacha20poly1305_ietf_decrypt(out->ptr + o, &mlen, NULL, d + p, clen, NULL,
                                                      0, nonce, key) != 0) {
            *why = last ? "payload final chunk does not authenticate (truncated, extended or "
                          "corrupted)"
                        : "payload chunk does not authenticate";
            goto done;
        }
        o += (size_t)mlen;
        p += clen;
    }
    rc = 0;
done:
    sodium_memzero(key, sizeof(key));
    if (rc != 0)
        sl_secbuf_release(out);
    return rc;
}

static int parse_scope(const struct header *h, struct sl_age_scope *scope, const char **why)
{
    bool seen = false;

    memset(scope, 0, sizeof(*scope));
    for (size_t i = 0; i < h->n; i++) {
        const struct stanza *st = &h->st[i];
        if (strcmp(st->args[0], SL_AGE_SCOPE_TYPE) != 0)
            continue;
        if (seen)
            return *why = "more than one scope stanza", -1;
        seen = true;
        if (st->nargs != 2 || sl_scope_parse(st->args[1], &scope->kind) != 0)
            return *why = "malformed scope stanza", -1;
        if (st->bodylen > SL_AGE_SCOPE_MAX || memchr(st->body, '\0', st->bodylen) != NULL)
            return *why = "malformed scope stanza", -1;
        memcpy(scope->bound, st->body, st->bodylen);
        scope->bound[st->bodylen] = '\0';
    }
    return 0;
}

struct sl_age_cache *sl_age_cache_new(struct sl_error *err)
{
    struct sl_age_cache *c = sl_secure_alloc(sizeof(*c), err);

    return c; /* zeroed: no entries, hint 0 */
}

void sl_age_cache_free(struct sl_age_cache *c)
{
    sl_secure_free(c);
}

/* The file key of a header seen before (byte for byte, MAC line included). */
static bool cache_lookup(const struct sl_age_cache *c, const unsigned char digest[32],
                         unsigned char *file_key)
{
    for (size_t i = 0; c != NULL && i < c->n; i++) {
        if (sodium_memcmp(c->e[i].digest, digest, 32) == 0) {
            memcpy(file_key, c->e[i].file_key, FILE_KEY_LEN);
            return true;
        }
    }
    return false;
}

static void cache_store(struct sl_age_cache *c, const unsigned char digest[32],
                        const unsigned char *file_key)
{
    size_t slot;

    if (c == NULL)
        return;
    slot = c->n < SL_AGE_CACHE_ENTRIES ? c->n++ : c->next;
    c->next = (slot + 1) % SL_AGE_CACHE_ENTRIES;
    memcpy(c->e[slot].digest, digest, 32);
    memcpy(c->e[slot].file_key, file_key, FILE_KEY_LEN);
}

int sl_age_decrypt_cached(const void *in, size_t len, const struct sl_identities *ids,
                          struct sl_age_cache *cache, struct sl_secbuf *out,
                          struct sl_age_scope *scope, enum sl_age_status *status,
                          struct sl_error *err)
{
    struct sl_buf bin = SL_BUF_INIT((size_t)1 << 30);
    struct header *h = NULL;
    const unsigned char *d = in;
    unsigned char *file_key = NULL, *own_key = NULL;
    unsigned char mackey[32], mac[32], digest[32];
    const char *why = NULL;
    bool scrypt = false, pq = false, found = false;
    int rc = -1, prc;

    if (status != NULL)
        *status = SL_AGE_EOTHER;
    /* Keep the caller's secure buffer (allocating one costs several system calls). */
    if (out->ptr != NULL)
        sodium_memzero(out->ptr, out->len);
    out->len = 0;
    if (!is_binary_age(d, len)) {
        if (sl_age_dearmor(in, len, &bin, err) != 0) {
            if (status != NULL)
                *status = SL_AGE_EARMOR;
            goto done;
        }
        d = (const unsigned char *)bin.ptr;
        len = bin.len;
    }
    h = calloc(1, sizeof(*h));
    if (cache != NULL)
        file_key = cache->scratch;
    else
        file_key = own_key = sl_secure_alloc(FILE_KEY_LEN, err);
    if (h == NULL || file_key == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    if (parse_header(d, len, h, &why) != 0 || check_stanzas(h, &why, &scrypt, &pq) != 0) {
        fail(status, SL_AGE_EHEADER, err, why);
        goto done;
    }
    if (scrypt) {
        fail(status, SL_AGE_EUNSUPPORTED, err,
             "passphrase (scrypt) files are not supported; encrypt to an X25519 recipient");
        goto done;
    }
    /* A header identical to one already opened and verified has the same file key. */
    crypto_hash_sha256(digest, d, h->payload_off);
    if (cache_lookup(cache, digest, file_key))
        goto verified;
    /* Try the identity that matched last first: after a rotation most files share one. */
    for (size_t j = 0; ids != NULL && j < ids->n && !found; j++) {
        size_t k = (j + (cache != NULL ? cache->hint : 0)) % ids->n;
        for (size_t i = 0; i < h->n && !found; i++) {
            if (strcmp(h->st[i].args[0], "X25519") != 0)
                continue;
            prc = x25519_unwrap(ids->keys[k], &h->st[i], file_key);
            if (prc < 0) {
                fail(status, SL_AGE_EHEADER, err, "X25519 share is a low-order point");
                goto done;
            }
            found = prc == 1;
        }
        if (found && cache != NULL)
            cache->hint = k;
    }
    if (!found) {
        if (pq)
            fail(status, SL_AGE_EUNSUPPORTED, err,
                 "no X25519 identity matched and post-quantum identities are not supported");
        else
            fail(status, SL_AGE_ENOMATCH, err, "no identity matched any recipient of the file");
        goto done;
    }
    sl_hkdf_sha256(mackey, file_key, FILE_KEY_LEN, NULL, 0, "header");
    crypto_auth_hmacsha256(mac, d, h->mac_input_len, mackey);
    if (sodium_memcmp(mac, h->mac, MAC_LEN) != 0) {
        fail(status, SL_AGE_EHMAC, err, "header MAC does not verify (the header was altered)");
        goto done;
    }
    cache_store(cache, digest, file_key);
verified:
    if (scope != NULL && parse_scope(h, scope, &why) != 0) {
        fail(status, SL_AGE_EHEADER, err, why);
        goto done;
    }
    prc = decrypt_payload(d + h->payload_off, len - h->payload_off, file_key, out, &why, err);
    if (prc != 0) {
        if (why != NULL)
            fail(status, prc == -2 ? SL_AGE_EHEADER : SL_AGE_EPAYLOAD, err, why);
        goto done;
    }
    if (status != NULL)
        *status = SL_AGE_OK;
    rc = 0;
done:
    sodium_memzero(mackey, sizeof(mackey));
    if (file_key != NULL)
        sodium_memzero(file_key, FILE_KEY_LEN);
    sl_secure_free(own_key);
    if (h != NULL)
        header_release(h);
    free(h);
    sl_buf_release(&bin);
    if (rc != 0)
        sl_secbuf_release(out);
    return rc;
}

int sl_age_decrypt(const void *in, size_t len, const struct sl_identities *ids,
                   struct sl_secbuf *out, struct sl_age_scope *scope, enum sl_age_status *status,
                   struct sl_error *err)
{
    return sl_age_decrypt_cached(in, len, ids, NULL, out, scope, status, err);
}

int sl_age_parse_header_only(const void *in, size_t len, struct sl_error *err)
{
    struct header *h = calloc(1, sizeof(*h));
    const char *why = NULL;
    bool scrypt = false, pq = false;
    int rc = -1;

    if (h == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    if (parse_header(in, len, h, &why) != 0 || check_stanzas(h, &why, &scrypt, &pq) != 0)
        sl_error_set(err, SL_ECRYPTO, "age: %s", why);
    else
        rc = 0;
    header_release(h);
    free(h);
    return rc;
}

/* ---------------------------------------------------------------- encrypt */

static int put_b64_lines(struct sl_buf *out, const unsigned char *body, size_t len,
                         struct sl_error *err)
{
    char line[65];

    /* 48 bytes per 64-column line; the last line is short, maybe empty. */
    for (size_t off = 0;; off += 48) {
        size_t n = len - off < 48 ? len - off : 48;
        sodium_bin2base64(line, sizeof(line), body + off, n,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
        if (sl_buf_puts(out, line, err) != 0 || sl_buf_putc(out, '\n', err) != 0)
            return -1;
        if (n < 48)
            return 0;
    }
}

static int put_x25519_stanza(struct sl_buf *out, const struct sl_recipient *r,
                             const unsigned char *file_key, struct sl_error *err)
{
    unsigned char eph[32], share[32], shared[32], salt[64], key[32], body[FILE_KEY_LEN + TAG];
    static const unsigned char nonce[12];
    char b64[45];
    int rc = -1;

    randombytes_buf(eph, sizeof(eph));
    crypto_scalarmult_base(share, eph);
    if (crypto_scalarmult_curve25519(shared, eph, r->pk) != 0) {
        sl_error_set(err, SL_EINVAL, "age: recipient is a low-order point");
        goto done;
    }
    memcpy(salt, share, 32);
    memcpy(salt + 32, r->pk, 32);
    sl_hkdf_sha256(key, shared, 32, salt, 64, X25519_INFO);
    crypto_aead_chacha20poly1305_ietf_encrypt(body, NULL, file_key, FILE_KEY_LEN, NULL, 0, NULL,
                                              nonce, key);
    sodium_bin2base64(b64, sizeof(b64), share, 32, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    if (sl_buf_printf(out, err, "-> X25519 %s\n", b64) != 0 ||
        put_b64_lines(out, body, sizeof(body), err) != 0)
        goto done;
    rc = 0;
done:
    sodium_memzero(eph, sizeof(eph));
    sodium_memzero(shared, sizeof(shared));
    sodium_memzero(key, sizeof(key));
    return rc;
}

static int armor(const unsigned char *bin, size_t len, struct sl_buf *out, struct sl_error *err)
{
    char line[65 + 4];

    if (sl_buf_puts(out, ARMOR_BEGIN "\n", err) != 0)
        return -1;
    for (size_t off = 0; off < len; off += 48) {
        size_t n = len - off < 48 ? len - off : 48;
        sodium_bin2base64(line, sizeof(line), bin + off, n, sodium_base64_VARIANT_ORIGINAL);
        if (sl_buf_puts(out, line, err) != 0 || sl_buf_putc(out, '\n', err) != 0)
            return -1;
    }
    return sl_buf_puts(out, ARMOR_END "\n", err);
}

int sl_age_sealer_init(struct sl_age_sealer *s, const struct sl_recipient *rcpts, size_t nrcpts,
                       const struct sl_age_scope *scope, struct sl_error *err)
{
    unsigned char mackey[32], mac[32];
    char macb64[45];
    int rc = -1;

    sl_buf_init(&s->header, (size_t)1 << 20);
    s->file_key = NULL;
    if (nrcpts == 0 || nrcpts > SL_AGE_MAX_RECIPIENTS)
        return sl_error_set(err, SL_EINVAL, "age: need 1 to %d recipients", SL_AGE_MAX_RECIPIENTS);
    s->file_key = sl_secure_alloc(FILE_KEY_LEN, err);
    if (s->file_key == NULL)
        return -1;
    randombytes_buf(s->file_key, FILE_KEY_LEN);
    if (sl_buf_puts(&s->header, VERSION_LINE, err) != 0)
        goto done;
    for (size_t i = 0; i < nrcpts; i++)
        if (put_x25519_stanza(&s->header, &rcpts[i], s->file_key, err) != 0)
            goto done;
    if (scope != NULL && scope->kind != SL_SCOPE_NONE) {
        size_t bl = strlen(scope->bound);
        if (bl > SL_AGE_SCOPE_MAX) {
            sl_error_set(err, SL_EINVAL, "scope longer than %d bytes", SL_AGE_SCOPE_MAX);
            goto done;
        }
        if (sl_buf_printf(&s->header, err, "-> %s %s\n", SL_AGE_SCOPE_TYPE,
                          sl_scope_name(scope->kind)) != 0 ||
            put_b64_lines(&s->header, (const unsigned char *)scope->bound, bl, err) != 0)
            goto done;
    }
    if (sl_buf_puts(&s->header, "---", err) != 0)
        goto done;
    sl_hkdf_sha256(mackey, s->file_key, FILE_KEY_LEN, NULL, 0, "header");
    crypto_auth_hmacsha256(mac, (const unsigned char *)s->header.ptr, s->header.len, mackey);
    sodium_bin2base64(macb64, sizeof(macb64), mac, 32, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    if (sl_buf_printf(&s->header, err, " %s\n", macb64) != 0)
        goto done;
    rc = 0;
done:
    sodium_memzero(mackey, sizeof(mackey));
    if (rc != 0)
        sl_age_sealer_release(s);
    return rc;
}

void sl_age_sealer_release(struct sl_age_sealer *s)
{
    sl_secure_free(s->file_key);
    s->file_key = NULL;
    sl_buf_release(&s->header);
}

int sl_age_seal_with(const struct sl_age_sealer *s, const void *pt, size_t len, bool do_armor,
                     struct sl_buf *out, struct sl_error *err)
{
    struct sl_buf bin = SL_BUF_INIT(SL_BUF_DEFAULT_MAX * 4);
    unsigned char nonce[NONCE_LEN], key[32], cn[12];
    size_t nchunks, start;
    int rc = -1;

    if (s->file_key == NULL)
        return sl_error_set(err, SL_EINVAL, "age: sealer not initialised");
    if (sl_buf_append(&bin, s->header.ptr, s->header.len, err) != 0)
        goto done;
    /* A fresh nonce per file: files sharing a header never share a payload key. */
    randombytes_buf(nonce, sizeof(nonce));
    if (sl_buf_append(&bin, nonce, sizeof(nonce), err) != 0)
        goto done;
    sl_hkdf_sha256(key, s->file_key, FILE_KEY_LEN, nonce, sizeof(nonce), "payload");
    /* An empty plaintext is one empty final chunk; a multiple of 64 KiB ends with a full one. */
    nchunks = len == 0 ? 1 : (len + CHUNK - 1) / CHUNK;
    for (size_t i = 0; i < nchunks; i++) {
        size_t n = i + 1 == nchunks ? len - i * CHUNK : CHUNK;
        start = bin.len;
        if (sl_buf_grow(&bin, n + TAG, err) != 0)
            goto done;
        stream_nonce(cn, i, i + 1 == nchunks);
        crypto_aead_chacha20poly1305_ietf_encrypt((unsigned char *)bin.ptr + start, NULL,
                                                  (const unsigned char *)pt + i * CHUNK, n, NULL, 0,
                                                  NULL, cn, key);
        bin.len += n + TAG;
        bin.ptr[bin.len] = '\0';
    }
    if (do_armor)
        rc = armor((const unsigned char *)bin.ptr, bin.len, out, err);
    else
        rc = sl_buf_append(out, bin.ptr, bin.len, err);
done:
    sodium_memzero(key, sizeof(key));
    sl_buf_release(&bin);
    return rc;
}

int sl_age_encrypt(const void *pt, size_t len, const struct sl_recipient *rcpts, size_t nrcpts,
                   const struct sl_age_scope *scope, bool do_armor, struct sl_buf *out,
                   struct sl_error *err)
{
    struct sl_age_sealer s;
    int rc;

    if (sl_age_sealer_init(&s, rcpts, nrcpts, scope, err) != 0)
        return -1;
    rc = sl_age_seal_with(&s, pt, len, do_armor, out, err);
    sl_age_sealer_release(&s);
    return rc;
}
