#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sshsig.h"

/* A reader over SSH wire encoding (RFC 4251 uint32 and string). */
struct rd {
    const unsigned char *p;
    size_t left;
};

static int rd_u32(struct rd *r, uint32_t *v)
{
    if (r->left < 4)
        return -1;
    *v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    r->left -= 4;
    return 0;
}

static int rd_string(struct rd *r, const unsigned char **s, size_t *len)
{
    uint32_t n;

    if (rd_u32(r, &n) != 0 || n > r->left)
        return -1;
    *s = r->p;
    *len = n;
    r->p += n;
    r->left -= n;
    return 0;
}

static int copy_cstr(char *dst, size_t size, const unsigned char *s, size_t len)
{
    if (len >= size || memchr(s, '\0', len) != NULL)
        return -1;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 0;
}

static void fingerprint(const unsigned char *blob, size_t len, char *out, size_t size)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
                                       sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];

    crypto_hash_sha256(h, blob, len);
    sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    snprintf(out, size, "SHA256:%s", b64);
}

int ssrc_sshsig_parse(const unsigned char *blob, size_t len, struct ssrc_sshsig *out,
                      struct ssrc_error *err)
{
    struct rd r = {blob, len}, k, sg;
    const unsigned char *pk, *ns, *res, *ha, *sig, *kt, *kd, *st, *sd;
    size_t pkl, nsl, resl, hal, sigl, ktl, kdl, stl, sdl;
    uint32_t version;

    memset(out, 0, sizeof(*out));
    if (len > SSRC_SSHSIG_MAX)
        return ssrc_error_set(err, SSRC_ETOOLARGE, "SSH signature larger than %d bytes",
                              SSRC_SSHSIG_MAX);
    if (len < 6 || memcmp(blob, "SSHSIG", 6) != 0)
        return ssrc_error_set(err, SSRC_EPARSE, "not an SSH signature (no SSHSIG magic)");
    r.p += 6;
    r.left -= 6;
    if (rd_u32(&r, &version) != 0 || rd_string(&r, &pk, &pkl) != 0 ||
        rd_string(&r, &ns, &nsl) != 0 || rd_string(&r, &res, &resl) != 0 ||
        rd_string(&r, &ha, &hal) != 0 || rd_string(&r, &sig, &sigl) != 0 || r.left != 0)
        return ssrc_error_set(err, SSRC_EPARSE, "malformed SSH signature");
    if (version != 1)
        return ssrc_error_set(err, SSRC_EUNSUPPORTED, "SSH signature version %u is not supported",
                              version);
    if (copy_cstr(out->ns, sizeof(out->ns), ns, nsl) != 0 ||
        copy_cstr(out->hashalg, sizeof(out->hashalg), ha, hal) != 0)
        return ssrc_error_set(err, SSRC_EPARSE, "malformed SSH signature (namespace or hash)");
    if (strcmp(out->hashalg, "sha512") != 0 && strcmp(out->hashalg, "sha256") != 0)
        return ssrc_error_set(err, SSRC_EUNSUPPORTED, "SSH signature hash \"%s\" is not supported",
                              out->hashalg);
    k.p = pk;
    k.left = pkl;
    if (rd_string(&k, &kt, &ktl) != 0 ||
        copy_cstr(out->keytype, sizeof(out->keytype), kt, ktl) != 0)
        return ssrc_error_set(err, SSRC_EPARSE, "malformed public key in SSH signature");
    if (strcmp(out->keytype, "ssh-ed25519") != 0)
        return ssrc_error_set(err, SSRC_EUNSUPPORTED,
                              "SSH signature key type \"%s\" is not supported (only ssh-ed25519)",
                              out->keytype);
    if (rd_string(&k, &kd, &kdl) != 0 || kdl != 32 || k.left != 0 || pkl > sizeof(out->keyblob))
        return ssrc_error_set(err, SSRC_EPARSE, "malformed ed25519 public key in SSH signature");
    memcpy(out->pubkey, kd, 32);
    memcpy(out->keyblob, pk, pkl);
    out->keyblob_len = pkl;
    sg.p = sig;
    sg.left = sigl;
    if (rd_string(&sg, &st, &stl) != 0 ||
        copy_cstr(out->sigtype, sizeof(out->sigtype), st, stl) != 0 ||
        strcmp(out->sigtype, "ssh-ed25519") != 0 || rd_string(&sg, &sd, &sdl) != 0 || sdl != 64 ||
        sg.left != 0)
        return ssrc_error_set(err, SSRC_EPARSE, "malformed ed25519 signature in SSH signature");
    memcpy(out->sig, sd, 64);
    return 0;
}

int ssrc_sshsig_parse_armored(const char *text, size_t len, struct ssrc_sshsig *out,
                              struct ssrc_error *err)
{
    static const char begin[] = SSRC_SSHSIG_ARMOR_BEGIN, end[] = SSRC_SSHSIG_ARMOR_END;
    unsigned char bin[SSRC_SSHSIG_MAX];
    const char *b, *e, *body;
    size_t binlen = 0;

    memset(out, 0, sizeof(*out));
    if (len > 2 * SSRC_SSHSIG_MAX)
        return ssrc_error_set(err, SSRC_ETOOLARGE, "armored SSH signature too large");
    b = memmem(text, len, begin, sizeof(begin) - 1);
    if (b == NULL)
        return ssrc_error_set(err, SSRC_EPARSE, "no \"%s\" line", begin);
    body = b + sizeof(begin) - 1;
    e = memmem(body, len - (size_t)(body - text), end, sizeof(end) - 1);
    if (e == NULL)
        return ssrc_error_set(err, SSRC_EPARSE, "no \"%s\" line", end);
    if (sodium_base642bin(bin, sizeof(bin), body, (size_t)(e - body), " \t\r\n", &binlen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return ssrc_error_set(err, SSRC_EPARSE, "SSH signature is not valid base64");
    return ssrc_sshsig_parse(bin, binlen, out, err);
}

static void put_string(unsigned char **p, const void *s, size_t len)
{
    (*p)[0] = (unsigned char)(len >> 24);
    (*p)[1] = (unsigned char)(len >> 16);
    (*p)[2] = (unsigned char)(len >> 8);
    (*p)[3] = (unsigned char)len;
    memcpy(*p + 4, s, len);
    *p += 4 + len;
}

int ssrc_sshsig_verify(const struct ssrc_sshsig *sig, const void *msg, size_t len, const char *ns,
                       struct ssrc_error *err)
{
    unsigned char h[crypto_hash_sha512_BYTES];
    unsigned char tbs[6 + 4 + sizeof(sig->ns) + 4 + 4 + sizeof(sig->hashalg) + 4 + sizeof(h)];
    unsigned char *p = tbs;
    size_t hl;

    if (strcmp(sig->keytype, "ssh-ed25519") != 0)
        return ssrc_error_set(err, SSRC_EUNSUPPORTED, "key type \"%s\" is not supported",
                              sig->keytype);
    if (strcmp(sig->ns, ns) != 0)
        return ssrc_error_set(err, SSRC_ECRYPTO, "signature namespace is \"%s\", expected \"%s\"",
                              sig->ns, ns);
    if (strcmp(sig->hashalg, "sha512") == 0) {
        crypto_hash_sha512(h, msg, len);
        hl = crypto_hash_sha512_BYTES;
    } else if (strcmp(sig->hashalg, "sha256") == 0) {
        crypto_hash_sha256(h, msg, len);
        hl = crypto_hash_sha256_BYTES;
    } else {
        return ssrc_error_set(err, SSRC_EUNSUPPORTED, "hash \"%s\" is not supported", sig->hashalg);
    }
    memcpy(p, "SSHSIG", 6);
    p += 6;
    put_string(&p, sig->ns, strlen(sig->ns));
    put_string(&p, "", 0); /* reserved: always empty when verifying, as OpenSSH */
    put_string(&p, sig->hashalg, strlen(sig->hashalg));
    put_string(&p, h, hl);
    if (crypto_sign_verify_detached(sig->sig, tbs, (size_t)(p - tbs), sig->pubkey) != 0)
        return ssrc_error_set(err, SSRC_ECRYPTO, "bad signature (content does not match)");
    return 0;
}

/* ---- allowed_signers ---- */

static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

int ssrc_parse_ssh_time(const char *s, int64_t *out)
{
    size_t len = strlen(s);
    bool utc = false;
    struct tm tm;
    time_t t;

    if (len > 0 && (s[len - 1] == 'Z' || s[len - 1] == 'z')) {
        utc = true;
        len--;
    }
    if (len != 8 && len != 12 && len != 14)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = two(s) * 100 + two(s + 2) - 1900;
    tm.tm_mon = two(s + 4) - 1;
    tm.tm_mday = two(s + 6);
    if (len >= 12) {
        tm.tm_hour = two(s + 8);
        tm.tm_min = two(s + 10);
    }
    if (len == 14)
        tm.tm_sec = two(s + 12);
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_isdst = -1;
    t = utc ? timegm(&tm) : mktime(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = (int64_t)t;
    return 0;
}

/* Next whitespace-delimited token; double quotes group (and are kept). */
static int next_token(const char **p, const char *end, const char **tok, size_t *len)
{
    const char *s = *p;
    bool q = false;

    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (s >= end)
        return -1;
    *tok = s;
    while (s < end && (q || (*s != ' ' && *s != '\t'))) {
        if (*s == '"')
            q = !q;
        s++;
    }
    if (q)
        return -2;
    *len = (size_t)(s - *tok);
    *p = s;
    return 0;
}

static bool is_key_type(const char *t, size_t len)
{
    static const char *const prefixes[] = {"ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-", NULL};

    for (int i = 0; prefixes[i] != NULL; i++)
        if (len > strlen(prefixes[i]) && strncmp(t, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

static char *unquote_dup(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    size_t o = 0;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if (s[i] != '"')
            out[o++] = s[i];
    out[o] = '\0';
    return out;
}

static int parse_options(struct ssrc_signer *sg, const char *s, size_t len, char *why,
                         size_t whysize)
{
    size_t i = 0;

    while (i < len) {
        size_t start = i, eq = 0;
        bool q = false;
        char *val = NULL;
        while (i < len && (q || s[i] != ',')) {
            if (s[i] == '"')
                q = !q;
            else if (s[i] == '=' && eq == 0 && !q)
                eq = i;
            i++;
        }
        if (eq == 0) {
            if (i - start == 14 && strncasecmp(s + start, "cert-authority", 14) == 0) {
                sg->cert_authority = true;
            } else {
                snprintf(why, whysize, "unknown option \"%.*s\"", (int)(i - start), s + start);
                return -1;
            }
        } else {
            size_t nl = eq - start;
            val = unquote_dup(s + eq + 1, i - eq - 1);
            if (val == NULL) {
                snprintf(why, whysize, "out of memory");
                return -1;
            }
            if (nl == 10 && strncasecmp(s + start, "namespaces", nl) == 0) {
                free(sg->namespaces);
                sg->namespaces = val;
                val = NULL;
            } else if ((nl == 11 && strncasecmp(s + start, "valid-after", nl) == 0) ||
                       (nl == 12 && strncasecmp(s + start, "valid-before", nl) == 0)) {
                int64_t *dst = nl == 11 ? &sg->valid_after : &sg->valid_before;
                if (ssrc_parse_ssh_time(val, dst) != 0) {
                    snprintf(why, whysize, "invalid time \"%.32s\" (want YYYYMMDD[HHMM[SS]][Z])",
                             val);
                    free(val);
                    return -1;
                }
            } else {
                snprintf(why, whysize, "unknown option \"%.*s\"", (int)nl, s + start);
                free(val);
                return -1;
            }
            free(val);
        }
        if (i < len)
            i++;
    }
    return 0;
}

static void signer_release(struct ssrc_signer *sg)
{
    free(sg->principals);
    free(sg->namespaces);
    free(sg->keyblob);
}

static int parse_line(struct ssrc_signer *sg, const char *s, const char *end, char *why,
                      size_t whysize)
{
    const char *tok, *p = s;
    size_t len, cap;
    struct rd r;
    const unsigned char *kt;
    size_t ktl;

    memset(sg, 0, sizeof(*sg));
    sg->valid_after = INT64_MIN;
    sg->valid_before = INT64_MAX;
    if (next_token(&p, end, &tok, &len) != 0) {
        snprintf(why, whysize, "missing principals");
        return -1;
    }
    if ((sg->principals = unquote_dup(tok, len)) == NULL) {
        snprintf(why, whysize, "out of memory");
        return -1;
    }
    if (next_token(&p, end, &tok, &len) != 0) {
        snprintf(why, whysize, "missing key");
        return -1;
    }
    if (!is_key_type(tok, len)) {
        if (parse_options(sg, tok, len, why, whysize) != 0)
            return -1;
        if (next_token(&p, end, &tok, &len) != 0) {
            snprintf(why, whysize, "missing key");
            return -1;
        }
        if (!is_key_type(tok, len)) {
            snprintf(why, whysize, "unknown key type \"%.*s\"", (int)(len > 40 ? 40 : len), tok);
            return -1;
        }
    }
    if (len >= sizeof(sg->keytype)) {
        snprintf(why, whysize, "key type too long");
        return -1;
    }
    memcpy(sg->keytype, tok, len);
    sg->keytype[len] = '\0';
    if (next_token(&p, end, &tok, &len) != 0) {
        snprintf(why, whysize, "missing base64 key");
        return -1;
    }
    cap = len / 4 * 3 + 3;
    if ((sg->keyblob = malloc(cap)) == NULL) {
        snprintf(why, whysize, "out of memory");
        return -1;
    }
    if (sodium_base642bin(sg->keyblob, cap, tok, len, NULL, &sg->keyblob_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        snprintf(why, whysize, "key is not valid base64");
        return -1;
    }
    r.p = sg->keyblob;
    r.left = sg->keyblob_len;
    if (rd_string(&r, &kt, &ktl) != 0 || ktl != strlen(sg->keytype) ||
        memcmp(kt, sg->keytype, ktl) != 0) {
        snprintf(why, whysize, "key blob does not match its type %s", sg->keytype);
        return -1;
    }
    return 0;
}

int ssrc_signers_parse(const char *data, size_t len, const char *name, struct ssrc_signers **out,
                       struct ssrc_error *err)
{
    struct ssrc_signers *s = NULL;
    const char *p = data, *end = data + len;
    size_t cap = 0;
    int line = 0, rc = -1;

    *out = NULL;
    if (len > SSRC_SIGNERS_MAX)
        return ssrc_error_set(err, SSRC_ETOOLARGE, "%s: larger than %d bytes", name,
                              SSRC_SIGNERS_MAX);
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl != NULL ? nl : end;
        const char *b = p, *e = le;
        char why[256];
        line++;
        p = nl != NULL ? nl + 1 : end;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (b == e || *b == '#')
            continue;
        if (memchr(b, '\0', (size_t)(e - b)) != NULL) {
            ssrc_error_set(err, SSRC_EPARSE, "%s:%d: NUL byte", name, line);
            goto done;
        }
        if (s->n == cap) {
            size_t nc = cap == 0 ? 8 : cap * 2;
            struct ssrc_signer *nv = realloc(s->v, nc * sizeof(*nv));
            if (nv == NULL) {
                ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
                goto done;
            }
            s->v = nv;
            cap = nc;
        }
        if (parse_line(&s->v[s->n], b, e, why, sizeof(why)) != 0) {
            signer_release(&s->v[s->n]);
            ssrc_error_set(err, SSRC_EPARSE, "%s:%d: %s", name, line, why);
            goto done;
        }
        s->v[s->n].line = line;
        s->n++;
    }
    *out = s;
    s = NULL;
    rc = 0;
done:
    ssrc_signers_free(s);
    return rc;
}

void ssrc_signers_free(struct ssrc_signers *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        signer_release(&s->v[i]);
    free(s->v);
    free(s);
}

bool ssrc_glob(const char *p, const char *pe, const char *s)
{
    while (p < pe) {
        if (*p == '*') {
            p++;
            if (p == pe)
                return true;
            for (; *s != '\0'; s++)
                if (ssrc_glob(p, pe, s))
                    return true;
            return false;
        }
        if (*s == '\0' || (*p != '?' && *p != *s))
            return false;
        p++;
        s++;
    }
    return *s == '\0';
}

/* Comma-separated patterns, "!" negates (a negated match refuses outright). */
static bool match_list(const char *list, const char *s)
{
    bool ok = false;

    while (*list != '\0') {
        const char *e = strchr(list, ',');
        const char *pe = e != NULL ? e : list + strlen(list);
        bool neg = *list == '!';
        if (ssrc_glob(list + neg, pe, s)) {
            if (neg)
                return false;
            ok = true;
        }
        list = e != NULL ? e + 1 : pe;
    }
    return ok;
}

int ssrc_signers_check(const struct ssrc_signers *s, const struct ssrc_sshsig *sig, const char *ns,
                       int64_t when, const char **principals, struct ssrc_error *err)
{
    char fp[64], why[256] = "";

    fingerprint(sig->keyblob, sig->keyblob_len, fp, sizeof(fp));
    for (size_t i = 0; s != NULL && i < s->n; i++) {
        const struct ssrc_signer *e = &s->v[i];
        if (e->cert_authority || e->keyblob_len != sig->keyblob_len ||
            memcmp(e->keyblob, sig->keyblob, sig->keyblob_len) != 0)
            continue;
        if (e->namespaces != NULL && !match_list(e->namespaces, ns)) {
            snprintf(why, sizeof(why), "key %s (%s) is not allowed for namespace \"%s\"", fp,
                     e->principals, ns);
            continue;
        }
        if (when < e->valid_after) {
            snprintf(why, sizeof(why), "key %s (%s) is not yet valid at the signing time", fp,
                     e->principals);
            continue;
        }
        if (when > e->valid_before) {
            snprintf(why, sizeof(why), "key %s (%s) expired before the signing time", fp,
                     e->principals);
            continue;
        }
        *principals = e->principals;
        return 0;
    }
    if (why[0] != '\0')
        return ssrc_error_set(err, SSRC_ECRYPTO, "%s", why);
    return ssrc_error_set(err, SSRC_ECRYPTO, "unknown signer: key %s is not in allowed_signers",
                          fp);
}
