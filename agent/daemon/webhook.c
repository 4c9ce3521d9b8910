#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "file.h"
#include "webhook.h"

const char *sl_hook_type_name(enum sl_hook_type t)
{
    switch (t) {
    case SL_HOOK_GITHUB:
        return "github";
    case SL_HOOK_GITLAB:
        return "gitlab";
    case SL_HOOK_HMAC:
        return "hmac";
    }
    return "unknown";
}

void sl_hook_free(struct sl_hook *h)
{
    if (h == NULL)
        return;
    sl_secbuf_release(&h->secret);
    free(h->name);
    free(h->header);
    free(h);
}

static struct sl_hook *hook_alloc(const char *name, enum sl_hook_type type, const char *header,
                                  struct sl_error *err)
{
    struct sl_hook *h = calloc(1, sizeof(*h));

    if (h == NULL)
        goto oom;
    h->type = type;
    h->secret.max = SL_HOOK_SECRET_MAX;
    h->name = strdup(name);
    h->header = strdup(header != NULL ? header : "X-Signature");
    if (h->name == NULL || h->header == NULL)
        goto oom;
    h->tokens = -1; /* full on first use */
    return h;
oom:
    sl_hook_free(h);
    sl_error_set(err, SL_ENOMEM, "out of memory");
    return NULL;
}

/* Files written by editors and `echo` end with a newline that is not part of the secret. */
static int finish_secret(struct sl_hook *h, struct sl_error *err)
{
    while (h->secret.len > 0 &&
           (h->secret.ptr[h->secret.len - 1] == '\n' || h->secret.ptr[h->secret.len - 1] == '\r'))
        h->secret.ptr[--h->secret.len] = '\0';
    if (h->secret.len < SL_HOOK_SECRET_MIN)
        return sl_error_set(err, SL_EINVAL,
                            "webhook %s: the secret is shorter than %d bytes (generate one with: "
                            "openssl rand -hex 32)",
                            h->name, SL_HOOK_SECRET_MIN);
    return 0;
}

struct sl_hook *sl_hook_new(const char *name, enum sl_hook_type type, const char *header,
                            const char *secret_file, struct sl_error *err)
{
    struct sl_hook *h = hook_alloc(name, type, header, err);

    if (h == NULL)
        return NULL;
    if (sl_file_read_secret(&h->secret, secret_file, SL_HOOK_SECRET_MAX, err) != 0) {
        sl_error_wrap(err, "webhook %s: secretFile", name);
        sl_hook_free(h);
        return NULL;
    }
    if (finish_secret(h, err) != 0) {
        sl_hook_free(h);
        return NULL;
    }
    return h;
}

struct sl_hook *sl_hook_new_mem(const char *name, enum sl_hook_type type, const char *header,
                                const void *secret, size_t len, struct sl_error *err)
{
    struct sl_hook *h = hook_alloc(name, type, header, err);

    if (h == NULL)
        return NULL;
    if (sl_secbuf_append(&h->secret, secret, len, err) != 0 || finish_secret(h, err) != 0) {
        sl_hook_free(h);
        return NULL;
    }
    return h;
}

/* "sha256=HEX" (or bare HEX when allowed) against HMAC-SHA-256(secret, body). */
static bool check_hmac(const struct sl_hook *h, const char *sig, bool bare_ok, const void *body,
                       size_t len)
{
    unsigned char want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    size_t binlen = 0;
    const char *hex;
    bool ok;

    if (sig == NULL)
        return false;
    if (strncasecmp(sig, "sha256=", 7) == 0)
        hex = sig + 7;
    else if (bare_ok)
        hex = sig;
    else
        return false;
    if (strlen(hex) != 2 * sizeof(got) ||
        sodium_hex2bin(got, sizeof(got), hex, strlen(hex), NULL, &binlen, NULL) != 0 ||
        binlen != sizeof(got))
        return false;
    crypto_auth_hmacsha256_init(&st, h->secret.ptr, h->secret.len);
    crypto_auth_hmacsha256_update(&st, body, len);
    crypto_auth_hmacsha256_final(&st, want);
    ok = sodium_memcmp(want, got, sizeof(want)) == 0;
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(want, sizeof(want));
    return ok;
}

/* Hash both sides first so that neither content nor length shows in the timing. */
static bool check_token(const struct sl_hook *h, const char *token)
{
    unsigned char a[crypto_hash_sha256_BYTES], b[crypto_hash_sha256_BYTES];
    bool ok;

    if (token == NULL)
        return false;
    crypto_hash_sha256(a, (const unsigned char *)token, strlen(token));
    crypto_hash_sha256(b, h->secret.ptr, h->secret.len);
    ok = sodium_memcmp(a, b, sizeof(a)) == 0;
    sodium_memzero(a, sizeof(a));
    sodium_memzero(b, sizeof(b));
    return ok;
}

enum sl_hook_verdict sl_hook_verify(const struct sl_hook *h, sl_header_fn get, void *arg,
                                    const void *body, size_t len)
{
    const char *event;

    switch (h->type) {
    case SL_HOOK_GITHUB:
        if (!check_hmac(h, get(arg, "X-Hub-Signature-256"), false, body, len))
            return SL_HOOK_REJECT;
        event = get(arg, "X-GitHub-Event");
        /* Branch and tag pushes (and tag creation) can change what an environment tracks. */
        if (event != NULL && (strcmp(event, "push") == 0 || strcmp(event, "create") == 0 ||
                              strcmp(event, "delete") == 0))
            return SL_HOOK_ACCEPT;
        return SL_HOOK_IGNORE;
    case SL_HOOK_GITLAB:
        if (!check_token(h, get(arg, "X-Gitlab-Token")))
            return SL_HOOK_REJECT;
        event = get(arg, "X-Gitlab-Event");
        if (event != NULL &&
            (strcmp(event, "Push Hook") == 0 || strcmp(event, "Tag Push Hook") == 0))
            return SL_HOOK_ACCEPT;
        return SL_HOOK_IGNORE;
    case SL_HOOK_HMAC:
        return check_hmac(h, get(arg, h->header), true, body, len) ? SL_HOOK_ACCEPT
                                                                   : SL_HOOK_REJECT;
    }
    return SL_HOOK_REJECT;
}

bool sl_hook_take_token(struct sl_hook *h, int64_t now_ms, unsigned per_minute)
{
    double burst = per_minute < 10 ? (double)per_minute : 10.0;

    if (per_minute == 0)
        return true; /* no limit configured */
    if (h->tokens < 0) {
        h->tokens = burst;
    } else if (now_ms > h->last_ms) {
        h->tokens += (double)(now_ms - h->last_ms) * per_minute / 60000.0;
        if (h->tokens > burst)
            h->tokens = burst;
    }
    h->last_ms = now_ms;
    if (h->tokens < 1)
        return false;
    h->tokens -= 1;
    return true;
}
