/*
 * Webhook receivers: decide whether one POST is a genuine push notification.
 *
 * GitHub signs the body with HMAC-SHA-256 (X-Hub-Signature-256: sha256=HEX),
 * GitLab sends the shared token as is (X-Gitlab-Token), and the generic form
 * signs the body with HMAC-SHA-256 in a configurable header ("sha256=HEX" or
 * bare HEX). Every comparison is constant-time. The payload is trusted for
 * nothing: a valid push only makes the daemon poll its source now. Secrets
 * are read from private files into sodium memory and never printed.
 */
#ifndef SL_WEBHOOK_H
#define SL_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "secmem.h"

enum sl_hook_type { SL_HOOK_GITHUB, SL_HOOK_GITLAB, SL_HOOK_HMAC };

/* A secret shorter than this is refused: it would be guessable. */
#define SL_HOOK_SECRET_MIN 16
#define SL_HOOK_SECRET_MAX 4096

struct sl_hook {
    char *name;
    enum sl_hook_type type;
    char *header; /* SL_HOOK_HMAC: the signature header */
    struct sl_secbuf secret;
    /* Token bucket for the rate limit; refilled continuously. */
    double tokens;
    int64_t last_ms;
};

enum sl_hook_verdict {
    SL_HOOK_REJECT, /* not authentic: 401, no detail */
    SL_HOOK_ACCEPT, /* authentic push: poll now */
    SL_HOOK_IGNORE, /* authentic, but not a push (ping, other events): 200, no poll */
};

/* Look up a request header by name (case-insensitive); NULL when absent. */
typedef const char *(*sl_header_fn)(void *arg, const char *name);

/* Read the secret from secret_file (private-file check) and build a hook. */
struct sl_hook *sl_hook_new(const char *name, enum sl_hook_type type, const char *header,
                            const char *secret_file, struct sl_error *err);
/* Same with the secret given in memory (tests). */
struct sl_hook *sl_hook_new_mem(const char *name, enum sl_hook_type type, const char *header,
                                const void *secret, size_t len, struct sl_error *err);
void sl_hook_free(struct sl_hook *h);

enum sl_hook_verdict sl_hook_verify(const struct sl_hook *h, sl_header_fn get, void *arg,
                                    const void *body, size_t len);

/*
 * Take one request from the hook's bucket: per_minute requests a minute,
 * bursts of up to min(per_minute, 10). False when the caller must answer 429.
 */
bool sl_hook_take_token(struct sl_hook *h, int64_t now_ms, unsigned per_minute);

const char *sl_hook_type_name(enum sl_hook_type t);

#endif
