#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

char sl_buf__empty[1];

void sl_buf_init(struct sl_buf *b, size_t max)
{
    b->ptr = sl_buf__empty;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

int sl_buf_grow(struct sl_buf *b, size_t extra, struct sl_error *err)
{
    size_t need, newcap;
    char *p;

    if (!sl_size_add(&need, b->len, extra) || need > b->max)
        return sl_error_set(err, SL_ETOOLARGE, "buffer limit of %zu bytes reached", b->max);
    if (need < b->cap)
        return 0;
    newcap = b->cap < 64 ? 64 : b->cap;
    while (newcap <= need) {
        if (!sl_size_mul(&newcap, newcap, 2)) {
            newcap = need + 1;
            break;
        }
    }
    /* Never allocate past the cap (max + 1 for the terminator, without wrapping). */
    if (b->max < SIZE_MAX && newcap > b->max + 1)
        newcap = b->max + 1;
    p = realloc(b->cap == 0 ? NULL : b->ptr, newcap);
    if (p == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory growing a buffer to %zu bytes", newcap);
    if (b->cap == 0)
        p[0] = '\0';
    b->ptr = p;
    b->cap = newcap;
    return 0;
}

int sl_buf_append(struct sl_buf *b, const void *data, size_t len, struct sl_error *err)
{
    if (len == 0)
        return 0;
    if (sl_buf_grow(b, len, err) != 0)
        return -1;
    memmove(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
    return 0;
}

int sl_buf_puts(struct sl_buf *b, const char *s, struct sl_error *err)
{
    return sl_buf_append(b, s, strlen(s), err);
}

int sl_buf_putc(struct sl_buf *b, char c, struct sl_error *err)
{
    return sl_buf_append(b, &c, 1, err);
}

int sl_buf_vprintf(struct sl_buf *b, struct sl_error *err, const char *fmt, va_list ap)
{
    va_list cp;
    int n;

    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return sl_error_set(err, SL_EINVAL, "invalid format string");
    if (sl_buf_grow(b, (size_t)n, err) != 0)
        return -1;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int sl_buf_printf(struct sl_buf *b, struct sl_error *err, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = sl_buf_vprintf(b, err, fmt, ap);
    va_end(ap);
    return rc;
}

void sl_buf_reset(struct sl_buf *b)
{
    b->len = 0;
    b->ptr[0] = '\0';
}

void sl_buf_truncate(struct sl_buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->ptr[len] = '\0';
    }
}

void sl_buf_release(struct sl_buf *b)
{
    if (b->cap != 0)
        free(b->ptr);
    b->ptr = sl_buf__empty;
    b->len = 0;
    b->cap = 0;
}

char *sl_buf_detach(struct sl_buf *b, size_t *len_out)
{
    char *p;

    if (b->cap == 0) {
        p = calloc(1, 1);
    } else {
        p = b->ptr;
    }
    if (len_out != NULL)
        *len_out = p == NULL ? 0 : b->len;
    b->ptr = sl_buf__empty;
    b->len = 0;
    b->cap = 0;
    return p;
}
