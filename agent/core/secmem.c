#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "secmem.h"

int sl_secmem_init(struct sl_error *err)
{
    if (sodium_init() < 0)
        return sl_error_set(err, SL_ECRYPTO, "libsodium failed to initialise");
    return 0;
}

void *sl_secure_alloc(size_t size, struct sl_error *err)
{
    void *p = sodium_malloc(size == 0 ? 1 : size);

    if (p == NULL)
        sl_error_set(err, SL_ENOMEM, "out of secure memory (%zu bytes)", size);
    else
        sodium_memzero(p, size == 0 ? 1 : size);
    return p;
}

void sl_secure_free(void *p)
{
    /* sodium_free wipes the region before unmapping it. */
    if (p != NULL)
        sodium_free(p);
}

void sl_secure_wipe(void *p, size_t len)
{
    if (p != NULL && len > 0)
        sodium_memzero(p, len);
}

static int secbuf_reserve(struct sl_secbuf *b, size_t need, struct sl_error *err)
{
    size_t newcap, alloc;
    unsigned char *p;

    if (need > b->max)
        return sl_error_set(err, SL_ETOOLARGE, "secret larger than %zu bytes", b->max);
    if (b->ptr != NULL && need < b->cap)
        return 0;
    newcap = b->cap < 64 ? 64 : b->cap;
    while (newcap <= need)
        if (!sl_size_mul(&newcap, newcap, 2))
            return sl_error_set(err, SL_ETOOLARGE, "secret size overflow");
    if (b->max < SIZE_MAX && newcap > b->max + 1)
        newcap = b->max + 1;
    alloc = newcap;
    p = sl_secure_alloc(alloc, err);
    if (p == NULL)
        return -1;
    if (b->ptr != NULL)
        memcpy(p, b->ptr, b->len + 1);
    sl_secure_free(b->ptr);
    b->ptr = p;
    b->cap = newcap;
    return 0;
}

int sl_secbuf_append(struct sl_secbuf *b, const void *data, size_t len, struct sl_error *err)
{
    size_t need;

    if (!sl_size_add(&need, b->len, len))
        return sl_error_set(err, SL_ETOOLARGE, "secret size overflow");
    if (secbuf_reserve(b, need, err) != 0)
        return -1;
    if (len > 0)
        memcpy(b->ptr + b->len, data, len);
    b->len = need;
    b->ptr[b->len] = '\0';
    return 0;
}

int sl_secbuf_resize(struct sl_secbuf *b, size_t len, struct sl_error *err)
{
    if (secbuf_reserve(b, len, err) != 0)
        return -1;
    if (len > b->len)
        sodium_memzero(b->ptr + b->len, len - b->len);
    b->len = len;
    b->ptr[len] = '\0';
    return 0;
}

void sl_secbuf_release(struct sl_secbuf *b)
{
    sl_secure_free(b->ptr);
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
}

struct sl_secret *sl_secret_new(const void *data, size_t len, struct sl_error *err)
{
    struct sl_secret *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        return NULL;
    }
    s->ptr = sl_secure_alloc(len + 1, err);
    if (s->ptr == NULL) {
        free(s);
        return NULL;
    }
    if (len > 0)
        memcpy(s->ptr, data, len);
    s->len = len;
    return s;
}

void sl_secret_free(struct sl_secret *s)
{
    if (s == NULL)
        return;
    sl_secure_free(s->ptr);
    free(s);
}

int sl_secure_equal(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}
