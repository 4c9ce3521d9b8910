/*
 * libFuzzer target: webhook verification (sl_hook_verify) with
 * attacker-controlled headers and body, and the per-hook rate limit.
 *
 * Input: byte 0 = hook type (bits 0-1) and how the signature header is
 * made (bits 2-3: taken from the input, or computed correctly by this
 * harness as "sha256=HEX", bare HEX, or the GitLab token), then three lines
 * (signature header value, event header value, a header name that the HMAC
 * hook is configured to read), then the body. The oracle: a request is
 * never accepted unless its signature (or token) is genuinely right, and a
 * correctly signed one is never rejected.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "secmem.h"
#include "webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char secret[] = "0123456789abcdef0123456789abcdef";

struct req {
    const char *sig_name, *event_name, *custom_name;
    char *sig, *event, *custom;
};

/* Header lookup as libmicrohttpd does it: case-insensitive names. */
static const char *get(void *arg, const char *name)
{
    const struct req *r = arg;

    if (r->custom_name != NULL && r->custom_name[0] != '\0' &&
        strcasecmp(name, r->custom_name) == 0)
        return r->custom;
    if (strcasecmp(name, r->sig_name) == 0)
        return r->sig;
    if (strcasecmp(name, r->event_name) == 0)
        return r->event;
    return NULL;
}

/* Split off one line of data[*pos..size) as a new NUL-terminated string. */
static char *take_line(const uint8_t *data, size_t size, size_t *pos)
{
    size_t start = *pos, end = start;
    char *s;

    while (end < size && data[end] != '\n')
        end++;
    s = malloc(end - start + 1);
    if (s == NULL)
        __builtin_trap();
    memcpy(s, data + start, end - start);
    s[end - start] = '\0';
    *pos = end < size ? end + 1 : end;
    return s;
}

/* Does value (as the hook reads it) carry the right MAC of body? */
static bool genuine_hmac(const char *value, bool bare_ok, const unsigned char *mac)
{
    char hex[2 * crypto_auth_hmacsha256_BYTES + 1];

    if (value == NULL)
        return false;
    if (strncasecmp(value, "sha256=", 7) == 0)
        value += 7;
    else if (!bare_ok)
        return false;
    sodium_bin2hex(hex, sizeof(hex), mac, crypto_auth_hmacsha256_BYTES);
    return strcasecmp(value, hex) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types_hdr[] = {"X-Hub-Signature-256", "X-Gitlab-Token", NULL};
    static bool init;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char hex[sizeof("sha256=") + 2 * sizeof(mac)];
    struct req r = {NULL, NULL, NULL, NULL, NULL, NULL};
    char *hname;
    struct sl_hook *h;
    enum sl_hook_type type;
    enum sl_hook_verdict v;
    size_t pos = 1, blen;
    unsigned mode;
    uint8_t *body;
    bool genuine;

    if (!init) {
        if (sl_secmem_init(NULL) != 0)
            __builtin_trap();
        sl_log_setup(SL_LOG_ERR, NULL);
        init = true;
    }
    if (size < 1)
        return 0;
    type = (enum sl_hook_type)((data[0] & 3) % 3);
    mode = (data[0] >> 2) & 3;
    r.sig = take_line(data, size, &pos);
    r.event = take_line(data, size, &pos);
    hname = take_line(data, size, &pos);
    r.custom_name = hname;
    blen = size - pos;
    body = malloc(blen + 1); /* exact size (+1 so that 0 bytes is not NULL) */
    if (body == NULL)
        __builtin_trap();
    memcpy(body, data + pos, blen);

    h = sl_hook_new_mem("fuzz", type, hname[0] != '\0' ? hname : NULL, secret, sizeof(secret) - 1,
                        NULL);
    if (h == NULL)
        __builtin_trap();
    r.sig_name =
            type == SL_HOOK_HMAC ? (hname[0] != '\0' ? hname : "X-Signature") : types_hdr[type];
    r.event_name = type == SL_HOOK_GITLAB ? "X-Gitlab-Event" : "X-GitHub-Event";
    r.custom = r.sig;
    crypto_auth_hmacsha256(mac, body, blen, (const unsigned char *)secret);
    if (mode != 0) {
        if (type == SL_HOOK_GITLAB)
            snprintf(hex, sizeof(hex), "%s", secret);
        else if (mode == 2 && type == SL_HOOK_HMAC)
            sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
        else {
            memcpy(hex, "sha256=", 7);
            sodium_bin2hex(hex + 7, sizeof(hex) - 7, mac, sizeof(mac));
        }
        free(r.sig);
        r.sig = strdup(hex);
        if (r.sig == NULL)
            __builtin_trap();
        r.custom = r.sig;
    }
    if (type == SL_HOOK_GITLAB)
        genuine = strcmp(r.sig, secret) == 0;
    else
        genuine = genuine_hmac(r.sig, type == SL_HOOK_HMAC, mac);

    v = sl_hook_verify(h, get, &r, body, blen);
    if (v != SL_HOOK_REJECT && !genuine)
        __builtin_trap(); /* accepted without the secret */
    if (v == SL_HOOK_REJECT && genuine)
        __builtin_trap(); /* a genuine request refused */
    if (type == SL_HOOK_HMAC && v == SL_HOOK_IGNORE)
        __builtin_trap();

    /* The rate limit never lets through more than the burst plus the refill. */
    {
        unsigned per_minute = data[0] >> 4, taken = 0;
        int64_t now = 1000;

        for (size_t i = 0; i < blen && i < 64; i++) {
            now += body[i] * 100;
            taken += sl_hook_take_token(h, now, per_minute);
        }
        if (per_minute > 0 && (double)taken > (per_minute < 10 ? per_minute : 10) +
                                                      (now - 1000) * per_minute / 60000.0 + 1e-6)
            __builtin_trap();
    }
    sl_hook_free(h);
    free(body);
    free(r.sig);
    free(r.event);
    free(hname);
    return 0;
}
