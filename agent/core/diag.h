/*
 * A list of diagnostics ("file:line: message"), for parsers that report every
 * problem before failing (config, kustomizations, policies) instead of
 * stopping at the first.
 */
#ifndef SL_DIAG_H
#define SL_DIAG_H

#include <stddef.h>

#include "error.h"

struct sl_diags {
    char **msgs;
    size_t n, cap;
    size_t max; /* further messages are counted in dropped, not stored */
    size_t dropped;
    int oom;
};

#define SL_DIAGS_INIT                                                                              \
    {                                                                                              \
        NULL, 0, 0, 1000, 0, 0                                                                     \
    }

void sl_diags_add(struct sl_diags *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl_diags_release(struct sl_diags *d);
/* Total number of problems, stored or dropped. */
size_t sl_diags_count(const struct sl_diags *d);
/*
 * Turn the list into one error: SL_EINVAL with the first message and
 * "(and N more)". Returns -1. Callers that print all of them iterate msgs.
 */
int sl_diags_to_error(const struct sl_diags *d, struct sl_error *err);

#endif
