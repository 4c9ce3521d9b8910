#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <git2.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "repo.h"
#include "sshsig.h"

struct ssrc_repo {
    git_repository *git;
    char *path;
};

static int lib_init(struct ssrc_error *err)
{
    int rc;

    /* Idempotent; needed for sodium_malloc (token header) and randombytes (jitter). */
    if (sodium_init() < 0)
        return ssrc_error_set(err, SSRC_EGENERIC, "libsodium could not be initialised");
    rc = git_libgit2_init();

    if (rc < 0)
        return ssrc_error_git(err, rc, "initialising libgit2");
    return 0;
}

static int wrap_repo(git_repository *g, struct ssrc_repo **out, struct ssrc_error *err)
{
    struct ssrc_repo *r = calloc(1, sizeof(*r));

    if (r == NULL || (r->path = strdup(git_repository_path(g))) == NULL) {
        free(r);
        git_repository_free(g);
        git_libgit2_shutdown();
        return ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
    }
    r->git = g;
    *out = r;
    return 0;
}

int ssrc_cache_open(const char *dir, struct ssrc_repo **out, struct ssrc_error *err)
{
    git_repository *g = NULL;
    int rc;

    *out = NULL;
    if (lib_init(err) != 0)
        return -1;
    rc = git_repository_open_bare(&g, dir);
    if (rc == GIT_ENOTFOUND) {
        git_repository_init_options io;
        git_repository_init_options_init(&io, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
        io.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH |
                   GIT_REPOSITORY_INIT_NO_REINIT;
        io.mode = GIT_REPOSITORY_INIT_SHARED_UMASK;
        rc = git_repository_init_ext(&g, dir, &io);
    }
    if (rc < 0) {
        git_libgit2_shutdown();
        return ssrc_error_git(err, rc, "%s: opening the git cache", dir);
    }
    return wrap_repo(g, out, err);
}

int ssrc_repo_open(const char *path, struct ssrc_repo **out, struct ssrc_error *err)
{
    git_repository *g = NULL;
    int rc;

    *out = NULL;
    if (lib_init(err) != 0)
        return -1;
    rc = git_repository_open_ext(&g, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
    if (rc < 0) {
        git_libgit2_shutdown();
        return ssrc_error_git(err, rc, "%s: opening the repository", path);
    }
    return wrap_repo(g, out, err);
}

void ssrc_repo_free(struct ssrc_repo *r)
{
    if (r == NULL)
        return;
    git_repository_free(r->git);
    free(r->path);
    free(r);
    git_libgit2_shutdown();
}

const char *ssrc_repo_path(const struct ssrc_repo *r)
{
    return r->path;
}

git_repository *ssrc__repo_git(struct ssrc_repo *r);
git_repository *ssrc__repo_git(struct ssrc_repo *r)
{
    return r->git;
}

/* ---- refs ---- */

static int ref_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ssrc_ref *)a)->name, ((const struct ssrc_ref *)b)->name);
}

static bool wanted_ref(const char *name)
{
    return strncmp(name, "refs/heads/", 11) == 0 || strncmp(name, "refs/tags/", 10) == 0;
}

static int refs_push(struct ssrc_refs *out, size_t *cap, const char *name, struct ssrc_error *err)
{
    if (out->n >= SSRC_MAX_REFS)
        return ssrc_error_set(err, SSRC_ETOOLARGE, "more than %d refs", SSRC_MAX_REFS);
    if (out->n == *cap) {
        size_t nc = *cap == 0 ? 64 : *cap * 2;
        struct ssrc_ref *nv = realloc(out->v, nc * sizeof(*nv));
        if (nv == NULL)
            return ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
        out->v = nv;
        *cap = nc;
    }
    memset(&out->v[out->n], 0, sizeof(out->v[0]));
    if ((out->v[out->n].name = strdup(name)) == NULL)
        return ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
    out->n++;
    return 0;
}

int ssrc_refs_list(struct ssrc_repo *r, struct ssrc_refs *out, struct ssrc_error *err)
{
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    size_t cap = 0;
    int rc = -1, grc;

    out->v = NULL;
    out->n = 0;
    if ((grc = git_reference_iterator_new(&it, r->git)) < 0) {
        ssrc_error_git(err, grc, "listing refs");
        goto done;
    }
    while ((grc = git_reference_next(&ref, it)) == 0) {
        const char *name = git_reference_name(ref);
        git_object *peeled = NULL;
        const git_oid *target;
        struct ssrc_ref *e;
        if (!wanted_ref(name) || git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
            git_reference_free(ref);
            ref = NULL;
            continue;
        }
        if (refs_push(out, &cap, name, err) != 0)
            goto done;
        e = &out->v[out->n - 1];
        target = git_reference_target(ref);
        git_oid_tostr(e->oid, sizeof(e->oid), target);
        if (git_reference_peel(&peeled, ref, GIT_OBJECT_COMMIT) == 0) {
            git_oid_tostr(e->commit, sizeof(e->commit), git_object_id(peeled));
            e->annotated = git_oid_cmp(git_object_id(peeled), target) != 0;
            git_object_free(peeled);
        }
        git_error_clear();
        git_reference_free(ref);
        ref = NULL;
    }
    if (grc != GIT_ITEROVER) {
        ssrc_error_git(err, grc, "listing refs");
        goto done;
    }
    if (out->n > 0)
        qsort(out->v, out->n, sizeof(out->v[0]), ref_cmp);
    rc = 0;
done:
    git_reference_free(ref);
    git_reference_iterator_free(it);
    if (rc != 0)
        ssrc_refs_release(out);
    return rc;
}

const struct ssrc_ref *ssrc_refs_find(const struct ssrc_refs *refs, const char *name)
{
    struct ssrc_ref key = {0};

    if (refs == NULL || refs->n == 0)
        return NULL;
    key.name = (char *)(uintptr_t)name;
    return bsearch(&key, refs->v, refs->n, sizeof(refs->v[0]), ref_cmp);
}

void ssrc_refs_release(struct ssrc_refs *refs)
{
    if (refs == NULL)
        return;
    for (size_t i = 0; i < refs->n; i++)
        free(refs->v[i].name);
    free(refs->v);
    refs->v = NULL;
    refs->n = 0;
}

int ssrc_is_ancestor(struct ssrc_repo *r, const char *anc, const char *desc)
{
    git_oid a, d;
    int rc;

    if (git_oid_fromstr(&a, anc) != 0 || git_oid_fromstr(&d, desc) != 0)
        return 0;
    if (git_oid_equal(&a, &d))
        return 1;
    rc = git_graph_descendant_of(r->git, &d, &a);
    git_error_clear();
    return rc == 1;
}

/* ---- known_hosts ---- */

static bool kh_host_match(const char *list, size_t len, const char *host)
{
    const char *p = list, *end = list + len;
    bool ok = false;

    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *pe = c != NULL ? c : end;
        bool neg = *p == '!';
        if (ssrc_glob(p + neg, pe, host)) {
            if (neg)
                return false;
            ok = true;
        }
        p = c != NULL ? c + 1 : end;
    }
    return ok;
}

/*
 * SHA-1 and HMAC-SHA1, only to match hashed known_hosts entries
 * ("|1|salt|hash", what `ssh-keygen -H` and HashKnownHosts write); libsodium
 * has no SHA-1. Not used for anything that needs collision resistance.
 */
struct sha1 {
    uint32_t h[5];
    uint64_t len;
    unsigned char buf[64];
    size_t n;
};

static uint32_t rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(struct sha1 *c, const unsigned char *p)
{
    uint32_t w[80], a = c->h[0], b = c->h[1], d = c->h[3], e = c->h[4], cc = c->h[2], t;

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & cc) | (~b & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = b ^ cc ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (b & cc) | (b & d) | (cc & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ cc ^ d;
            k = 0xCA62C1D6;
        }
        t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = cc;
        cc = rol(b, 30);
        b = a;
        a = t;
    }
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
}

static void sha1_init(struct sha1 *c)
{
    static const uint32_t iv[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};

    memcpy(c->h, iv, sizeof(iv));
    c->len = 0;
    c->n = 0;
}

static void sha1_update(struct sha1 *c, const void *data, size_t len)
{
    const unsigned char *p = data;

    c->len += len;
    while (len > 0) {
        size_t take = 64 - c->n < len ? 64 - c->n : len;
        memcpy(c->buf + c->n, p, take);
        c->n += take;
        p += take;
        len -= take;
        if (c->n == 64) {
            sha1_block(c, c->buf);
            c->n = 0;
        }
    }
}

static void sha1_final(struct sha1 *c, unsigned char out[20])
{
    uint64_t bits = c->len * 8;
    unsigned char pad = 0x80, zero = 0, lenb[8];

    sha1_update(c, &pad, 1);
    while (c->n != 56)
        sha1_update(c, &zero, 1);
    for (int i = 0; i < 8; i++)
        lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_update(c, lenb, 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
}

static void hmac_sha1(const unsigned char *key, size_t klen, const char *msg, size_t mlen,
                      unsigned char out[20])
{
    unsigned char k[64] = {0}, ipad[64], opad[64], inner[20];
    struct sha1 c;

    if (klen > 64) {
        sha1_init(&c);
        sha1_update(&c, key, klen);
        sha1_final(&c, k);
    } else {
        memcpy(k, key, klen);
    }
    for (int i = 0; i < 64; i++) {
        ipad[i] = k[i] ^ 0x36;
        opad[i] = k[i] ^ 0x5c;
    }
    sha1_init(&c);
    sha1_update(&c, ipad, 64);
    sha1_update(&c, msg, mlen);
    sha1_final(&c, inner);
    sha1_init(&c);
    sha1_update(&c, opad, 64);
    sha1_update(&c, inner, 20);
    sha1_final(&c, out);
}

/* "|1|base64(salt)|base64(hmac)": does it name host? */
static bool kh_hashed_match(const char *f, size_t len, const char *host)
{
    unsigned char salt[64], want[64], got[20];
    size_t sl = 0, wl = 0;
    const char *bar;

    if (len < 3 || memcmp(f, "|1|", 3) != 0)
        return false;
    bar = memchr(f + 3, '|', len - 3);
    if (bar == NULL ||
        sodium_base642bin(salt, sizeof(salt), f + 3, (size_t)(bar - f - 3), NULL, &sl, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        sodium_base642bin(want, sizeof(want), bar + 1, len - (size_t)(bar + 1 - f), NULL, &wl, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        wl != 20)
        return false;
    hmac_sha1(salt, sl, host, strlen(host), got);
    return sodium_memcmp(got, want, 20) == 0;
}

int ssrc_known_hosts_check(const char *text, size_t len, const char *host, int port,
                           const unsigned char *key, size_t keylen, struct ssrc_error *err)
{
    char name[300];
    const char *p = text, *end = text + len;
    bool seen_host = false;

    if (port == 22 || port <= 0)
        snprintf(name, sizeof(name), "%s", host);
    else
        snprintf(name, sizeof(name), "[%s]:%d", host, port);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl != NULL ? nl : end;
        const char *f[5];
        size_t fl[5], nf = 0;
        const char *q = p;
        bool revoked = false;
        unsigned char blob[2048];
        size_t bloblen = 0;
        p = nl != NULL ? nl + 1 : end;
        while (nf < 5) {
            while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
                q++;
            if (q >= le || (nf == 0 && *q == '#'))
                break;
            f[nf] = q;
            while (q < le && *q != ' ' && *q != '\t' && *q != '\r')
                q++;
            fl[nf] = (size_t)(q - f[nf]);
            nf++;
        }
        if (nf > 0 && f[0][0] == '@') {
            if (fl[0] == 8 && memcmp(f[0], "@revoked", 8) == 0)
                revoked = true;
            else
                continue; /* @cert-authority: certificates are not supported */
            memmove(f, f + 1, sizeof(f[0]) * 4);
            memmove(fl, fl + 1, sizeof(fl[0]) * 4);
            nf--;
        }
        if (nf < 3)
            continue;
        if (f[0][0] == '|' ? !kh_hashed_match(f[0], fl[0], name)
                           : !kh_host_match(f[0], fl[0], name))
            continue;
        if (sodium_base642bin(blob, sizeof(blob), f[2], fl[2], NULL, &bloblen, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0)
            continue;
        if (bloblen == keylen && memcmp(blob, key, keylen) == 0) {
            if (revoked)
                return ssrc_error_set(err, SSRC_EAUTH, "host key of %s is marked @revoked", name);
            return 0;
        }
        if (!revoked)
            seen_host = true;
    }
    if (seen_host)
        return ssrc_error_set(err, SSRC_EAUTH,
                              "host key of %s does not match known_hosts (changed host key?): "
                              "refusing to connect",
                              name);
    return ssrc_error_set(err, SSRC_EAUTH, "host %s is not in known_hosts: refusing to connect",
                          name);
}

/* ---- polling ---- */

struct poll_ctx {
    const struct ssrc_remote_opts *o;
    int64_t deadline_ms;
    int cred_tries;
    char host[256];
    int port;
    char *known_hosts;
    size_t known_hosts_len;
    struct ssrc_error cb_err; /* the reason a callback gave up */
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int check_deadline(struct poll_ctx *c)
{
    if (now_ms() > c->deadline_ms) {
        ssrc_error_set(&c->cb_err, SSRC_ETIMEOUT, "timed out after %lld ms",
                       (long long)c->o->timeout_ms);
        return -1;
    }
    return 0;
}

static int cb_progress(const git_indexer_progress *stats, void *payload)
{
    (void)stats;
    return check_deadline(payload);
}

static int cb_sideband(const char *str, int len, void *payload)
{
    (void)str;
    (void)len;
    return check_deadline(payload);
}

static int cb_cred(git_credential **out, const char *url, const char *user_from_url,
                   unsigned int allowed, void *payload)
{
    struct poll_ctx *c = payload;
    const struct ssrc_remote_opts *o = c->o;

    (void)url;
    if (check_deadline(c) != 0)
        return GIT_EUSER;
    if (allowed & GIT_CREDENTIAL_USERNAME)
        return git_credential_username_new(out, user_from_url != NULL ? user_from_url : "git");
    if (c->cred_tries++ > 0) {
        ssrc_error_set(&c->cb_err, SSRC_EAUTH,
                       "authentication failed: the server rejected the configured credentials");
        return GIT_EAUTH;
    }
    if ((allowed & GIT_CREDENTIAL_SSH_KEY) && o->ssh_key_file != NULL)
        return git_credential_ssh_key_new(out, user_from_url != NULL ? user_from_url : "git", NULL,
                                          o->ssh_key_file, NULL);
    if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && o->username != NULL && o->password != NULL)
        return git_credential_userpass_plaintext_new(out, o->username, o->password);
    if (o->token != NULL)
        ssrc_error_set(&c->cb_err, SSRC_EAUTH,
                       "authentication failed: the server rejected the token");
    else
        ssrc_error_set(&c->cb_err, SSRC_EAUTH,
                       "the server asks for credentials and none are configured for this URL");
    return GIT_EAUTH;
}

static int cb_cert(git_cert *cert, int valid, const char *host, void *payload)
{
    struct poll_ctx *c = payload;

    if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) {
        const git_cert_hostkey *hk = (const git_cert_hostkey *)cert;
        if (!(hk->type & GIT_CERT_SSH_RAW)) {
            ssrc_error_set(&c->cb_err, SSRC_EAUTH, "ssh: the host key of %s is not available",
                           host);
            return GIT_ECERTIFICATE;
        }
        if (c->known_hosts == NULL) {
            ssrc_error_set(&c->cb_err, SSRC_EAUTH,
                           "ssh: no known_hosts file configured (source.knownHostsFile)");
            return GIT_ECERTIFICATE;
        }
        if (ssrc_known_hosts_check(c->known_hosts, c->known_hosts_len, host, c->port,
                                   (const unsigned char *)hk->hostkey, hk->hostkey_len,
                                   &c->cb_err) != 0)
            return GIT_ECERTIFICATE;
        return 0;
    }
    if (valid)
        return 0;
    if (c->o->insecure)
        return 0;
    ssrc_error_set(&c->cb_err, SSRC_EAUTH,
                   "TLS certificate of %s is not trusted (set source.caFile, or source.insecure "
                   "to skip verification)",
                   host);
    return GIT_ECERTIFICATE;
}

/* Host and port of an ssh URL ("ssh://u@h:p/x" or "u@h:x"). */
static void ssh_host_port(const char *url, char *host, size_t size, int *port)
{
    const char *p = url, *at, *end;

    *port = 22;
    host[0] = '\0';
    if (strncmp(p, "ssh://", 6) == 0 || strncmp(p, "git+ssh://", 10) == 0 ||
        strncmp(p, "ssh+git://", 10) == 0) {
        p = strstr(p, "://") + 3;
        end = p + strcspn(p, "/");
        at = memchr(p, '@', (size_t)(end - p));
        if (at != NULL)
            p = at + 1;
        if (*p == '[') {
            const char *rb = memchr(p, ']', (size_t)(end - p));
            if (rb != NULL) {
                snprintf(host, size, "%.*s", (int)(rb - p - 1), p + 1);
                if (rb[1] == ':')
                    *port = (int)strtol(rb + 2, NULL, 10);
                return;
            }
        }
        {
            const char *colon = memchr(p, ':', (size_t)(end - p));
            const char *he = colon != NULL ? colon : end;
            snprintf(host, size, "%.*s", (int)(he - p), p);
            if (colon != NULL)
                *port = (int)strtol(colon + 1, NULL, 10);
        }
        return;
    }
    end = p + strcspn(p, ":");
    at = memchr(p, '@', (size_t)(end - p));
    if (at != NULL)
        p = at + 1;
    snprintf(host, size, "%.*s", (int)(end - p), p);
}

static bool is_ssh_url(const char *url)
{
    const char *colon, *slash;

    if (strncmp(url, "ssh://", 6) == 0 || strncmp(url, "git+ssh://", 10) == 0 ||
        strncmp(url, "ssh+git://", 10) == 0)
        return true;
    if (strstr(url, "://") != NULL || url[0] == '/' || url[0] == '.')
        return false;
    colon = strchr(url, ':');
    slash = strchr(url, '/');
    return colon != NULL && (slash == NULL || colon < slash);
}

static int read_small_file(const char *path, size_t max, char **out, size_t *len,
                           struct ssrc_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char *buf = NULL;
    size_t got = 0;

    if (fd < 0)
        return ssrc_error_set(err, SSRC_EIO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        close(fd);
        return ssrc_error_set(err, SSRC_EIO, "%s: not a regular file of at most %zu bytes", path,
                              max);
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

struct adv {
    char *name;
    git_oid oid;
};

static int adv_cmp(const void *a, const void *b)
{
    return strcmp(((const struct adv *)a)->name, ((const struct adv *)b)->name);
}

static void adv_free(struct adv *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i].name);
    free(v);
}

static int adv_push(struct adv **v, size_t *n, size_t *cap, const char *name, const git_oid *oid,
                    struct ssrc_error *err)
{
    if (*n >= SSRC_MAX_REFS)
        return ssrc_error_set(err, SSRC_ETOOLARGE, "more than %d refs", SSRC_MAX_REFS);
    if (*n == *cap) {
        size_t nc = *cap == 0 ? 64 : *cap * 2;
        struct adv *nv = realloc(*v, nc * sizeof(*nv));
        if (nv == NULL)
            return ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
        *v = nv;
        *cap = nc;
    }
    if (((*v)[*n].name = strdup(name)) == NULL)
        return ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
    git_oid_cpy(&(*v)[*n].oid, oid);
    (*n)++;
    return 0;
}

/*
 * Branches and tags of a repository with their direct targets, sorted. No
 * peeling: that would read every annotated tag object, and a poll only
 * needs to know whether anything changed.
 */
static int list_direct(git_repository *g, struct adv **out, size_t *n, struct ssrc_error *err)
{
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    struct adv *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = -1, grc;

    if ((grc = git_reference_iterator_new(&it, g)) < 0) {
        ssrc_error_git(err, grc, "listing refs");
        goto done;
    }
    while ((grc = git_reference_next(&ref, it)) == 0) {
        if (wanted_ref(git_reference_name(ref)) &&
            git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
            adv_push(&v, &cnt, &cap, git_reference_name(ref), git_reference_target(ref), err) != 0)
            goto done;
        git_reference_free(ref);
        ref = NULL;
    }
    if (grc != GIT_ITEROVER) {
        ssrc_error_git(err, grc, "listing refs");
        goto done;
    }
    if (cnt > 0)
        qsort(v, cnt, sizeof(*v), adv_cmp);
    *out = v;
    *n = cnt;
    v = NULL;
    cnt = 0;
    rc = 0;
done:
    git_reference_free(ref);
    git_reference_iterator_free(it);
    adv_free(v, cnt);
    return rc;
}

static bool same_refs(const struct adv *a, size_t na, const struct adv *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].name, b[i].name) != 0 || !git_oid_equal(&a[i].oid, &b[i].oid))
            return false;
    return true;
}

/* A file:// URL or a plain path: the path, else NULL. */
static const char *local_path(const char *url)
{
    if (strncmp(url, "file://", 7) == 0)
        return url + 7;
    if (url[0] == '/')
        return url;
    return NULL;
}

/*
 * Local remotes (file:// and paths) are read directly rather than through
 * libgit2's local transport, which peels every tag while connecting and
 * packs every tag's whole tree again on each fetch: with thousands of tags
 * an idle poll would be far slower than `git ls-remote` and one new commit
 * would take seconds.
 */
static int local_list(git_repository *src, struct adv **out, size_t *n, struct ssrc_error *err)
{
    return list_direct(src, out, n, err);
}

/* Copy what the cache lacks for the wanted refs as one pack: new commits
 * (minus history the cache has), their new trees and blobs, and tag objects. */
static int local_fetch(struct ssrc_repo *cache, git_repository *src, const struct adv *want,
                       size_t nwant, const struct adv *have, size_t nhave, size_t *bytes,
                       struct ssrc_error *err)
{
    git_packbuilder *pb = NULL;
    git_revwalk *walk = NULL;
    git_odb *codb = NULL, *sodb = NULL;
    char packdir[4096];
    int rc = -1, grc;

    if ((grc = git_repository_odb(&codb, cache->git)) < 0 ||
        (grc = git_repository_odb(&sodb, src)) < 0 || (grc = git_packbuilder_new(&pb, src)) < 0 ||
        (grc = git_revwalk_new(&walk, src)) < 0) {
        ssrc_error_git(err, grc, "preparing a local fetch");
        goto done;
    }
    for (size_t i = 0; i < nhave; i++) {
        /*
         * History the cache already has: its branches, and the old position of
         * moved refs. Hiding every tag would peel thousands of tag objects on
         * each poll; tags are nearly always on a branch's history, and one that
         * is not only costs a larger pack. Failures mean "not in the source".
         */
        const struct adv *w = bsearch(&have[i], want, nwant, sizeof(*want), adv_cmp);
        if (strncmp(have[i].name, "refs/heads/", 11) != 0 &&
            (w == NULL || git_oid_equal(&w->oid, &have[i].oid)))
            continue;
        if (git_revwalk_hide(walk, &have[i].oid) < 0)
            git_error_clear();
    }
    for (size_t i = 0; i < nwant; i++) {
        git_oid id;
        git_oid_cpy(&id, &want[i].oid);
        for (int depth = 0; depth < 16 && !git_odb_exists(codb, &id); depth++) {
            git_object *obj = NULL;
            git_object_t type;
            if ((grc = git_object_lookup(&obj, src, &id, GIT_OBJECT_ANY)) < 0) {
                ssrc_error_git(err, grc, "%s", want[i].name);
                goto done;
            }
            type = git_object_type(obj);
            if (type == GIT_OBJECT_COMMIT) {
                grc = git_revwalk_push(walk, &id);
            } else if (type == GIT_OBJECT_TAG) {
                grc = git_packbuilder_insert(pb, &id, want[i].name);
                if (grc >= 0) {
                    git_oid_cpy(&id, git_tag_target_id((git_tag *)obj));
                    git_object_free(obj);
                    continue; /* the tag's target may be missing too */
                }
            } else {
                grc = git_packbuilder_insert_recur(pb, &id, want[i].name);
            }
            git_object_free(obj);
            if (grc < 0) {
                ssrc_error_git(err, grc, "%s", want[i].name);
                goto done;
            }
            break;
        }
    }
    if ((grc = git_packbuilder_insert_walk(pb, walk)) < 0) {
        ssrc_error_git(err, grc, "collecting objects");
        goto done;
    }
    snprintf(packdir, sizeof(packdir), "%sobjects/pack", cache->path);
    if (git_packbuilder_object_count(pb) > 0 &&
        (grc = git_packbuilder_write(pb, packdir, 0, NULL, NULL)) < 0) {
        ssrc_error_git(err, grc, "writing the pack");
        goto done;
    }
    *bytes = git_packbuilder_written(pb);
    if ((grc = git_odb_refresh(codb)) < 0) {
        ssrc_error_git(err, grc, "refreshing the object database");
        goto done;
    }
    rc = 0;
done:
    git_revwalk_free(walk);
    git_packbuilder_free(pb);
    git_odb_free(sodb);
    git_odb_free(codb);
    return rc;
}

/*
 * Make the cache's refs equal to adv (both lists sorted by name), once every
 * advertised object is present: write what is new or moved, remove what is
 * gone, then pack the refs.
 */
static int update_refs(struct ssrc_repo *cache, const struct adv *adv, size_t nadv,
                       const struct adv *local, size_t nlocal, struct ssrc_error *err)
{
    git_refdb *refdb = NULL;
    git_odb *odb = NULL;
    size_t li = 0;
    int rc = -1, grc;

    if ((grc = git_repository_odb(&odb, cache->git)) < 0) {
        ssrc_error_git(err, grc, "opening the object database");
        goto done;
    }
    /* Every advertised object must be here before any ref moves. */
    for (size_t i = 0; i < nadv; i++) {
        if (!git_odb_exists(odb, &adv[i].oid)) {
            char hex[SSRC_OID_HEX];
            git_oid_tostr(hex, sizeof(hex), &adv[i].oid);
            ssrc_error_set(err, SSRC_EPARSE, "fetch incomplete: %s (%s) was not received",
                           adv[i].name, hex);
            goto done;
        }
    }
    /* Both lists are sorted: write what is new or moved, remove what is gone. */
    for (size_t i = 0; i < nadv; i++) {
        git_reference *ref = NULL;
        int cmp = 1;
        while (li < nlocal && (cmp = strcmp(local[li].name, adv[i].name)) < 0) {
            if ((grc = git_reference_remove(cache->git, local[li].name)) < 0) {
                ssrc_error_git(err, grc, "removing %s", local[li].name);
                goto done;
            }
            li++;
        }
        if (cmp == 0 && git_oid_equal(&local[li].oid, &adv[i].oid)) {
            li++;
            continue;
        }
        if (cmp == 0)
            li++;
        grc = git_reference_create(&ref, cache->git, adv[i].name, &adv[i].oid, 1, "sluice fetch");
        git_reference_free(ref);
        if (grc < 0) {
            ssrc_error_git(err, grc, "updating %s", adv[i].name);
            goto done;
        }
    }
    for (; li < nlocal; li++) {
        if ((grc = git_reference_remove(cache->git, local[li].name)) < 0) {
            ssrc_error_git(err, grc, "removing %s", local[li].name);
            goto done;
        }
    }
    /* Thousands of loose ref files make every later listing slow: pack them. */
    if ((grc = git_repository_refdb(&refdb, cache->git)) < 0 ||
        (grc = git_refdb_compress(refdb)) < 0) {
        ssrc_error_git(err, grc, "packing refs");
        goto done;
    }
    rc = 0;
done:
    git_refdb_free(refdb);
    git_odb_free(odb);
    return rc;
}

static bool has_credentials(const struct ssrc_remote_opts *o)
{
    return o->token != NULL || o->password != NULL;
}

/* One connect + ls (+ download + ref update when changed). */
static int poll_once(struct ssrc_repo *cache, struct poll_ctx *c, const git_strarray *headers,
                     struct ssrc_poll_result *res, struct ssrc_error *err)
{
    static char spec_heads[] = "+refs/heads/*:refs/heads/*",
                spec_tags[] = "+refs/tags/*:refs/tags/*";
    char *specs[] = {spec_heads, spec_tags};
    git_strarray refspecs = {specs, 2};
    git_remote *remote = NULL;
    git_remote_callbacks cbs;
    git_proxy_options proxy;
    git_fetch_options fo;
    git_remote_create_options co;
    git_remote_connect_options cop;
    const git_remote_head **heads = NULL;
    struct adv *local = NULL, *adv = NULL;
    size_t nheads = 0, nadv = 0, nlocal = 0, advcap = 0;
    const char *lpath = local_path(c->o->url);
    git_repository *src = NULL;
    int rc = -1, grc;

    if (list_direct(cache->git, &local, &nlocal, err) != 0)
        goto done;
    if (lpath != NULL) {
        if ((grc = git_repository_open_ext(&src, lpath, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL)) < 0) {
            ssrc_error_git(err, grc, "%s", lpath);
            goto done;
        }
        if (local_list(src, &adv, &nadv, err) != 0)
            goto done;
        res->nrefs = nadv;
        res->changed = !same_refs(adv, nadv, local, nlocal);
        if (!res->changed) {
            rc = 0;
            goto done;
        }
        if (check_deadline(c) != 0) {
            ssrc_error_set(err, c->cb_err.code, "%s", c->cb_err.msg);
            goto done;
        }
        if (local_fetch(cache, src, adv, nadv, local, nlocal, &res->received_bytes, err) != 0 ||
            update_refs(cache, adv, nadv, local, nlocal, err) != 0)
            goto done;
        rc = 0;
        goto done;
    }
    git_remote_init_callbacks(&cbs, GIT_REMOTE_CALLBACKS_VERSION);
    git_proxy_options_init(&proxy, GIT_PROXY_OPTIONS_VERSION);
    git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
    cbs.credentials = cb_cred;
    cbs.certificate_check = cb_cert;
    cbs.transfer_progress = cb_progress;
    cbs.sideband_progress = cb_sideband;
    cbs.payload = c;
    c->cred_tries = 0;
    ssrc_error_clear(&c->cb_err);
    git_remote_create_options_init(&co, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    co.repository = cache->git;
    /* No url.insteadOf rewriting: the URL is exactly what was configured. */
    co.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    if ((grc = git_remote_create_with_opts(&remote, c->o->url, &co)) < 0) {
        ssrc_error_git(err, grc, "%s", c->o->url);
        goto done;
    }
    git_remote_connect_options_init(&cop, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
    cop.callbacks = cbs;
    cop.proxy_opts = proxy;
    cop.custom_headers = *headers;
    /*
     * Credentials (the bearer header above all: libgit2 sends custom headers
     * on every request) must never follow a redirect to another host.
     */
    cop.follow_redirects =
            has_credentials(c->o) ? GIT_REMOTE_REDIRECT_NONE : GIT_REMOTE_REDIRECT_INITIAL;
    if ((grc = git_remote_connect_ext(remote, GIT_DIRECTION_FETCH, &cop)) < 0 ||
        (grc = git_remote_ls(&heads, &nheads, remote)) < 0) {
        const git_error *ge = git_error_last();
        if (c->cb_err.code != SSRC_OK)
            ssrc_error_set(err, c->cb_err.code, "%s", c->cb_err.msg);
        else if (ge != NULL && ge->message != NULL &&
                 (strstr(ge->message, "authentication") != NULL ||
                  strstr(ge->message, "401") != NULL))
            /* An auth refusal the credential callback never saw (a rejected bearer token). */
            ssrc_error_set(err, SSRC_EAUTH, "authentication failed%s: %s",
                           c->o->token != NULL ? " (the server rejected the token)" : "",
                           ge->message);
        else
            ssrc_error_git(err, grc, "listing remote refs");
        goto done;
    }
    if (nheads > SSRC_MAX_REFS) {
        ssrc_error_set(err, SSRC_ETOOLARGE, "the remote advertises more than %d refs",
                       SSRC_MAX_REFS);
        goto done;
    }
    for (size_t i = 0; i < nheads; i++) {
        const char *n = heads[i]->name;
        size_t l = strlen(n);
        int valid = 0;
        if (!wanted_ref(n) || (l > 3 && strcmp(n + l - 3, "^{}") == 0))
            continue;
        if (git_reference_name_is_valid(&valid, n) < 0 || !valid)
            continue;
        if (adv_push(&adv, &nadv, &advcap, n, &heads[i]->oid, err) != 0)
            goto done;
    }
    if (nadv > 0)
        qsort(adv, nadv, sizeof(*adv), adv_cmp);
    res->nrefs = nadv;
    res->changed = !same_refs(adv, nadv, local, nlocal);
    if (!res->changed) {
        rc = 0;
        goto done;
    }
    fo.callbacks = cbs;
    fo.prune = GIT_FETCH_NO_PRUNE;
    fo.update_fetchhead = 0;
    fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    fo.custom_headers = *headers;
    fo.follow_redirects = cop.follow_redirects;
    if ((grc = git_remote_download(remote, &refspecs, &fo)) < 0) {
        if (c->cb_err.code != SSRC_OK)
            ssrc_error_set(err, c->cb_err.code, "%s", c->cb_err.msg);
        else
            ssrc_error_git(err, grc, "fetching");
        goto done;
    }
    res->received_bytes = git_remote_stats(remote)->received_bytes;
    if (update_refs(cache, adv, nadv, local, nlocal, err) != 0)
        goto done;
    rc = 0;
done:
    git_repository_free(src);
    adv_free(local, nlocal);
    adv_free(adv, nadv);
    if (remote != NULL) {
        git_remote_disconnect(remote);
        git_remote_free(remote);
    }
    return rc;
}

/* Reopen after another process (the fetch child) changed the repository. */
static int reopen(struct ssrc_repo *r, struct ssrc_error *err)
{
    git_repository *g = NULL;
    int grc = git_repository_open_bare(&g, r->path);

    if (grc < 0)
        return ssrc_error_git(err, grc, "%s: reopening the git cache", r->path);
    git_repository_free(r->git);
    r->git = g;
    return 0;
}

struct child_report {
    int rc;
    struct ssrc_poll_result res;
    struct ssrc_error err;
};

/*
 * libgit2 1.5 has no socket timeouts, so a server that stops answering
 * would hang a poll forever. Each attempt therefore runs in a forked child
 * that reports back through a pipe; past the deadline the child is killed.
 * Refs only move after a complete download, so killing it is safe.
 */
static int poll_in_child(struct ssrc_repo *cache, struct poll_ctx *c, const git_strarray *headers,
                         struct ssrc_poll_result *res, struct ssrc_error *err)
{
    struct child_report rep;
    int fds[2], status = 0;
    size_t got = 0;
    pid_t pid;
    int rc = -1;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return ssrc_error_set(err, SSRC_EIO, "pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return ssrc_error_set(err, SSRC_EIO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        ssize_t n;
        close(fds[0]);
        memset(&rep, 0, sizeof(rep));
        rep.rc = poll_once(cache, c, headers, &rep.res, &rep.err);
        do {
            n = write(fds[1], &rep, sizeof(rep));
        } while (n < 0 && errno == EINTR);
        _exit(0); /* the child never returns into the caller's code */
    }
    close(fds[1]);
    while (got < sizeof(rep)) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int64_t left = c->deadline_ms - now_ms();
        ssize_t n;
        int pr;
        if (left <= 0) {
            kill(pid, SIGKILL);
            ssrc_error_set(err, SSRC_ETIMEOUT, "timed out after %lld ms",
                           (long long)c->o->timeout_ms);
            goto done;
        }
        if (c->o->cancel != NULL && c->o->cancel(c->o->cancel_arg)) {
            kill(pid, SIGKILL);
            ssrc_error_set(err, SSRC_ECANCELED, "cancelled");
            goto done;
        }
        pr = poll(&pfd, 1, left > 250 ? 250 : (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            continue;
        if (pr < 0) {
            kill(pid, SIGKILL);
            ssrc_error_set(err, SSRC_EIO, "poll: %s", strerror(errno));
            goto done;
        }
        n = read(fds[0], (char *)&rep + got, sizeof(rep) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ssrc_error_set(err, SSRC_ENET, "the fetch process ended without a result");
            goto done;
        }
        got += (size_t)n;
    }
    rep.err.msg[sizeof(rep.err.msg) - 1] = '\0';
    rep.res.attempts = res->attempts;
    *res = rep.res;
    if (rep.rc != 0)
        ssrc_error_set(err, rep.err.code, "%s", rep.err.msg);
    rc = rep.rc == 0 ? 0 : -1;
done:
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return rc;
}

static bool retryable(enum ssrc_code code)
{
    return code == SSRC_ENET || code == SSRC_EGENERIC || code == SSRC_EIO;
}

int ssrc_poll(struct ssrc_repo *cache, const struct ssrc_remote_opts *o,
              struct ssrc_poll_result *res, struct ssrc_error *err)
{
    struct poll_ctx c;
    char *hdr = NULL;
    char *hdrs[1];
    git_strarray headers = {hdrs, 0};
    unsigned attempts = o->attempts != 0 ? o->attempts : 3;
    int64_t backoff = o->backoff_ms > 0 ? o->backoff_ms : 500;
    int64_t timeout = o->timeout_ms > 0 ? o->timeout_ms : 60000;
    struct ssrc_error last = SSRC_ERROR_INIT;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    memset(&c, 0, sizeof(c));
    c.o = o;
    c.deadline_ms = now_ms() + timeout;
    if (o->url == NULL || o->url[0] == '\0')
        return ssrc_error_set(err, SSRC_EINVAL, "no source URL configured");
    if (is_ssh_url(o->url)) {
        ssh_host_port(o->url, c.host, sizeof(c.host), &c.port);
        if (o->known_hosts_file == NULL)
            return ssrc_error_set(err, SSRC_EINVAL,
                                  "%s: ssh needs source.knownHostsFile (unknown host keys are "
                                  "refused)",
                                  o->url);
        if (read_small_file(o->known_hosts_file, 1 << 20, &c.known_hosts, &c.known_hosts_len,
                            err) != 0)
            return -1;
    }
    if (o->ca_file != NULL) {
        int grc = git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, o->ca_file, NULL);
        if (grc < 0) {
            ssrc_error_git(err, grc, "%s: loading the CA file", o->ca_file);
            goto done;
        }
    }
    if (o->token != NULL) {
        size_t n = strlen(o->token) + sizeof("Authorization: Bearer ");
        /* The header holds the token: keep it in guarded memory, wiped on free. */
        hdr = sodium_malloc(n);
        if (hdr == NULL) {
            ssrc_error_set(err, SSRC_ENOMEM, "out of memory");
            goto done;
        }
        snprintf(hdr, n, "Authorization: Bearer %s", o->token);
        hdrs[0] = hdr;
        headers.count = 1;
    }
    for (unsigned i = 0; i < attempts; i++) {
        int64_t delay, left;
        ssrc_error_clear(&last);
        res->attempts = i + 1;
        /* Local remotes cannot hang on a socket: no need for a child there. */
        bool local = local_path(o->url) != NULL;
        if ((local ? poll_once(cache, &c, &headers, res, &last)
                   : poll_in_child(cache, &c, &headers, res, &last)) == 0) {
            /* The child wrote packs and refs: drop this process's cached view. */
            if (!local && res->changed && reopen(cache, &last) != 0)
                break;
            rc = 0;
            goto done;
        }
        if (!retryable(last.code) || i + 1 == attempts)
            break;
        delay = backoff << i;
        delay += (int64_t)randombytes_uniform((uint32_t)(delay / 2 + 1));
        left = c.deadline_ms - now_ms();
        if (left <= delay)
            break;
        /* Sleep in slices so that a cancel request is seen promptly. */
        for (int64_t until = now_ms() + delay; now_ms() < until && last.code != SSRC_ECANCELED;) {
            int64_t slice = until - now_ms() > 250 ? 250 : until - now_ms();
            struct timespec ts = {(time_t)(slice / 1000), (long)(slice % 1000) * 1000000L};
            if (o->cancel != NULL && o->cancel(o->cancel_arg)) {
                ssrc_error_clear(&last);
                ssrc_error_set(&last, SSRC_ECANCELED, "cancelled");
            } else {
                nanosleep(&ts, NULL);
            }
        }
        if (last.code == SSRC_ECANCELED)
            break;
    }
    ssrc_error_set(err, last.code, "%s", last.msg);
    if (res->attempts > 1)
        ssrc_error_wrap(err, "%s (after %u attempts)", o->url, res->attempts);
    else
        ssrc_error_wrap(err, "%s", o->url);
done:
    sodium_free(hdr);
    free(c.known_hosts);
    return rc;
}

/* ---- signatures ---- */

static void who_copy(char *who, size_t size, const char *p)
{
    if (who != NULL && size > 0)
        snprintf(who, size, "%s", p);
}

static int verify_blob(const char *sigtext, size_t siglen, const void *data, size_t len,
                       int64_t when, const struct ssrc_signers *signers, char *who, size_t whosize,
                       struct ssrc_error *err)
{
    struct ssrc_sshsig sig;
    const char *principals = NULL;

    if (memmem(sigtext, siglen, SSRC_SSHSIG_ARMOR_BEGIN, strlen(SSRC_SSHSIG_ARMOR_BEGIN)) == NULL) {
        if (memmem(sigtext, siglen, "-----BEGIN PGP", 14) != NULL)
            return ssrc_error_set(err, SSRC_EUNSUPPORTED,
                                  "OpenPGP signatures are not supported (only SSH ed25519)");
        return ssrc_error_set(err, SSRC_EUNSUPPORTED, "unknown signature format");
    }
    if (ssrc_sshsig_parse_armored(sigtext, siglen, &sig, err) != 0 ||
        ssrc_sshsig_verify(&sig, data, len, "git", err) != 0 ||
        ssrc_signers_check(signers, &sig, "git", when, &principals, err) != 0)
        return -1;
    who_copy(who, whosize, principals);
    return 0;
}

int ssrc_verify_commit(struct ssrc_repo *r, const char *commit, const struct ssrc_signers *signers,
                       char *who, size_t whosize, struct ssrc_error *err)
{
    git_buf sig = GIT_BUF_INIT, data = GIT_BUF_INIT;
    git_commit *c = NULL;
    git_oid oid;
    int rc = -1, grc;
    char shortid[8];

    snprintf(shortid, sizeof(shortid), "%.7s", commit);
    if (git_oid_fromstr(&oid, commit) != 0)
        return ssrc_error_set(err, SSRC_EINVAL, "commit %s: not an object id", shortid);
    if ((grc = git_commit_lookup(&c, r->git, &oid)) < 0) {
        ssrc_error_git(err, grc, "commit %s", shortid);
        goto done;
    }
    grc = git_commit_extract_signature(&sig, &data, r->git, &oid, NULL);
    if (grc == GIT_ENOTFOUND) {
        git_error_clear();
        ssrc_error_set(err, SSRC_ECRYPTO, "commit %s is not signed", shortid);
        goto done;
    }
    if (grc < 0) {
        ssrc_error_git(err, grc, "commit %s", shortid);
        goto done;
    }
    if (verify_blob(sig.ptr, sig.size, data.ptr, data.size,
                    (int64_t)git_commit_committer(c)->when.time, signers, who, whosize, err) != 0) {
        ssrc_error_wrap(err, "commit %s", shortid);
        goto done;
    }
    rc = 0;
done:
    git_commit_free(c);
    git_buf_dispose(&sig);
    git_buf_dispose(&data);
    return rc;
}

static bool is_sig_start(const char *p, size_t left)
{
    static const char *const starts[] = {
            "-----BEGIN PGP SIGNATURE-----", "-----BEGIN PGP MESSAGE-----",
            "-----BEGIN SIGNED MESSAGE-----", SSRC_SSHSIG_ARMOR_BEGIN, NULL};

    for (int i = 0; starts[i] != NULL; i++)
        if (left >= strlen(starts[i]) && memcmp(p, starts[i], strlen(starts[i])) == 0)
            return true;
    return false;
}

int ssrc_verify_tag(struct ssrc_repo *r, const char *tag_oid, const struct ssrc_signers *signers,
                    char *who, size_t whosize, struct ssrc_error *err)
{
    git_odb *odb = NULL;
    git_odb_object *obj = NULL;
    git_tag *tag = NULL;
    git_oid oid;
    const char *data;
    size_t size, pos = 0, match;
    int64_t when;
    int rc = -1, grc;
    char shortid[8];

    snprintf(shortid, sizeof(shortid), "%.7s", tag_oid);
    if (git_oid_fromstr(&oid, tag_oid) != 0)
        return ssrc_error_set(err, SSRC_EINVAL, "tag %s: not an object id", shortid);
    if ((grc = git_repository_odb(&odb, r->git)) < 0 || (grc = git_odb_read(&obj, odb, &oid)) < 0) {
        ssrc_error_git(err, grc, "tag object %s", shortid);
        goto done;
    }
    if (git_odb_object_type(obj) != GIT_OBJECT_TAG) {
        ssrc_error_set(err, SSRC_ECRYPTO,
                       "tag is lightweight (no tag object to carry a signature)");
        goto done;
    }
    if ((grc = git_tag_lookup(&tag, r->git, &oid)) < 0) {
        ssrc_error_git(err, grc, "tag object %s", shortid);
        goto done;
    }
    when = git_tag_tagger(tag) != NULL ? (int64_t)git_tag_tagger(tag)->when.time
                                       : (int64_t)time(NULL);
    data = git_odb_object_data(obj);
    size = git_odb_object_size(obj);
    match = size;
    /* As git's parse_signed_buffer: the last line that starts a signature. */
    while (pos < size) {
        const char *eol = memchr(data + pos, '\n', size - pos);
        if (is_sig_start(data + pos, size - pos))
            match = pos;
        pos += eol != NULL ? (size_t)(eol - (data + pos)) + 1 : size - pos;
    }
    if (match == size) {
        ssrc_error_set(err, SSRC_ECRYPTO, "tag %s is not signed", git_tag_name(tag));
        goto done;
    }
    if (verify_blob(data + match, size - match, data, match, when, signers, who, whosize, err) !=
        0) {
        ssrc_error_wrap(err, "tag %s", git_tag_name(tag));
        goto done;
    }
    rc = 0;
done:
    git_tag_free(tag);
    git_odb_object_free(obj);
    git_odb_free(odb);
    return rc;
}
