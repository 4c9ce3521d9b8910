/*
 * Memory for secrets (plaintext, keys): sodium_malloc pages that are
 * guarded, locked where possible, excluded from core dumps, and wiped on
 * free. Never mix with malloc/free. sl_secmem_init() must be called once
 * before anything else here (the CLI's main does it).
 */
#ifndef SL_SECMEM_H
#define SL_SECMEM_H

#include <stddef.h>

#include "error.h"

int sl_secmem_init(struct sl_error *err);

/* A growable secret byte string with a hard cap; always NUL-terminated. */
struct sl_secbuf {
    unsigned char *ptr; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max;
};

#define SL_SECBUF_INIT(maxbytes)                                                                   \
    {                                                                                              \
        NULL, 0, 0, (maxbytes)                                                                     \
    }

void *sl_secure_alloc(size_t size, struct sl_error *err);
/* Wipes and frees; accepts NULL. */
void sl_secure_free(void *p);
/* Wipe plain (non-sodium) memory such as stack copies. */
void sl_secure_wipe(void *p, size_t len);

int sl_secbuf_append(struct sl_secbuf *b, const void *data, size_t len, struct sl_error *err);
/* Allocates exactly len bytes (+ NUL) of zeroed capacity and sets len. */
int sl_secbuf_resize(struct sl_secbuf *b, size_t len, struct sl_error *err);
void sl_secbuf_release(struct sl_secbuf *b);

/* Heap-owned secret with a length (e.g. one decrypted value). */
struct sl_secret {
    unsigned char *ptr;
    size_t len;
};
struct sl_secret *sl_secret_new(const void *data, size_t len, struct sl_error *err);
void sl_secret_free(struct sl_secret *s);

/* Constant-time equality of two byte strings of the same length. */
int sl_secure_equal(const void *a, const void *b, size_t len);

#endif
