/*
 * Bounded parsers for small values written by people: durations ("90s",
 * "1h30m", "500ms"), unsigned integers. They accept the whole string or
 * fail; they never read past the terminator.
 */
#ifndef SL_STRPARSE_H
#define SL_STRPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Go-style duration: sequence of <number><unit>, units ms s m h; optional leading '-'. */
int sl_parse_duration_ms(const char *s, int64_t *out_ms);
/* Shortest form that parses back to the same value ("1h30m", "90s", "250ms", "0s"). */
void sl_format_duration(char *out, size_t outlen, int64_t ms);
/* Decimal unsigned integer no greater than max. */
int sl_parse_u64(const char *s, uint64_t max, uint64_t *out);

#endif
