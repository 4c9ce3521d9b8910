/*
 * Semantic versions (semver 2.0.0) and version ranges, for tag conventions.
 *
 * ssrc_semver_parse() is strict: MAJOR.MINOR.PATCH with no leading zeros,
 * optional -PRERELEASE (dot-separated identifiers, numeric ones without
 * leading zeros) and +BUILD (ignored for precedence). Input is untrusted
 * (tag names): lengths are capped and nothing is allocated.
 *
 * Ranges follow the usual npm/Masterminds syntax: comparators
 * (=, !=, >, >=, <, <=, ~, ^, and x-ranges such as 1.2.x or 1.2) joined by
 * spaces or commas (all must hold), alternatives joined by "||", and
 * hyphen ranges "1.2 - 1.4". Matching uses full semver precedence; callers
 * decide what version they test (see resolve.h for rc tags).
 */
#ifndef SSRC_SEMVER_H
#define SSRC_SEMVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "srcerr.h"

#define SSRC_SEMVER_MAX_LEN 256 /* whole string */
#define SSRC_SEMVER_PRE_MAX 128 /* prerelease part */
#define SSRC_RANGE_MAX_LEN  1024
#define SSRC_RANGE_MAX_CMP  64

struct ssrc_semver {
    uint64_t major, minor, patch;
    char pre[SSRC_SEMVER_PRE_MAX + 1]; /* "" when none */
};

int ssrc_semver_parse(const char *s, size_t len, struct ssrc_semver *v, struct ssrc_error *err);
/* <0, 0, >0 by semver precedence (build metadata ignored). */
int ssrc_semver_cmp(const struct ssrc_semver *a, const struct ssrc_semver *b);
/* "1.2.3" or "1.2.3-rc.1" into buf (always NUL-terminated). */
void ssrc_semver_format(const struct ssrc_semver *v, char *buf, size_t size);
/* The rc number when pre is exactly "rc.N"; -1 otherwise. */
int64_t ssrc_semver_rc(const struct ssrc_semver *v);

struct ssrc_range;
int ssrc_range_parse(const char *s, struct ssrc_range **out, struct ssrc_error *err);
bool ssrc_range_match(const struct ssrc_range *r, const struct ssrc_semver *v);
void ssrc_range_free(struct ssrc_range *r);

#endif
