/*
 * The one growable byte buffer.
 *
 * ptr is never NULL and always NUL-terminated, so a buffer can be printed
 * at any time. Every buffer has a hard cap (max, in bytes, excluding the
 * terminator): an append that would pass it fails with SL_ETOOLARGE and
 * leaves the contents as they were. Size arithmetic is overflow-checked.
 * The owner releases it with sl_buf_release() (safe on an unused buffer).
 */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct sl_buf {
    char *ptr;
    size_t len;
    size_t cap; /* 0 while ptr points at the shared empty string */
    size_t max;
};

extern char sl_buf__empty[1];

#define SL_BUF_INIT(maxbytes)                                                                      \
    {                                                                                              \
        sl_buf__empty, 0, 0, (maxbytes)                                                            \
    }

/* Default cap for buffers without a more specific limit: 64 MiB. */
#define SL_BUF_DEFAULT_MAX ((size_t)64 << 20)

void sl_buf_init(struct sl_buf *b, size_t max);
int sl_buf_grow(struct sl_buf *b, size_t extra, struct sl_error *err);
int sl_buf_append(struct sl_buf *b, const void *data, size_t len, struct sl_error *err);
int sl_buf_puts(struct sl_buf *b, const char *s, struct sl_error *err);
int sl_buf_putc(struct sl_buf *b, char c, struct sl_error *err);
int sl_buf_printf(struct sl_buf *b, struct sl_error *err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int sl_buf_vprintf(struct sl_buf *b, struct sl_error *err, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
/* Empty the buffer but keep its memory. */
void sl_buf_reset(struct sl_buf *b);
/* Shorten to len bytes (len <= b->len). */
void sl_buf_truncate(struct sl_buf *b, size_t len);
/* Free the memory; the buffer is empty and reusable afterwards. */
void sl_buf_release(struct sl_buf *b);
/*
 * Hand the contents to the caller (malloc'ed, NUL-terminated, free() it);
 * the buffer is empty afterwards. Returns NULL only on allocation failure.
 */
char *sl_buf_detach(struct sl_buf *b, size_t *len_out);

/* Checked size arithmetic: return false on overflow. */
static inline bool sl_size_add(size_t *out, size_t a, size_t b)
{
    return !__builtin_add_overflow(a, b, out);
}
static inline bool sl_size_mul(size_t *out, size_t a, size_t b)
{
    return !__builtin_mul_overflow(a, b, out);
}

#endif
