#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "diag.h"

void sl_diags_add(struct sl_diags *d, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;
    int n;

    if (d->n >= d->max) {
        d->dropped++;
        return;
    }
    va_start(ap, fmt);
    n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0) {
        d->oom = 1;
        d->dropped++;
        return;
    }
    if (d->n == d->cap) {
        size_t nc = d->cap == 0 ? 8 : d->cap * 2;
        char **m = realloc(d->msgs, nc * sizeof(*m));
        if (m == NULL) {
            free(msg);
            d->oom = 1;
            d->dropped++;
            return;
        }
        d->msgs = m;
        d->cap = nc;
    }
    d->msgs[d->n++] = msg;
}

void sl_diags_release(struct sl_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->msgs[i]);
    free(d->msgs);
    d->msgs = NULL;
    d->n = d->cap = 0;
    d->dropped = 0;
    d->oom = 0;
}

size_t sl_diags_count(const struct sl_diags *d)
{
    return d->n + d->dropped;
}

int sl_diags_to_error(const struct sl_diags *d, struct sl_error *err)
{
    size_t total = sl_diags_count(d);

    if (total == 0)
        return sl_error_set(err, SL_EGENERIC, "unknown error");
    if (d->n == 0)
        return sl_error_set(err, SL_ENOMEM, "out of memory while reporting %zu problems", total);
    if (total == 1)
        return sl_error_set(err, SL_EINVAL, "%s", d->msgs[0]);
    return sl_error_set(err, SL_EINVAL, "%s (and %zu more)", d->msgs[0], total - 1);
}
