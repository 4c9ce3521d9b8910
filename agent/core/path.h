/*
 * Path confinement. Repository content is untrusted: every path it names is
 * relative to a root and must stay inside it. Lexical checks refuse
 * absolute paths and ".." that climbs above the root; sl_path_confine()
 * also resolves symlinks on disk and refuses a result outside the root.
 */
#ifndef SL_PATH_H
#define SL_PATH_H

#include "buf.h"
#include "error.h"

/*
 * Normalise a relative path lexically ("a//b/./c/../d" -> "a/b/d", "" or
 * "." -> "."). Fails with SL_EPERM for absolute paths and for ".." that
 * leaves the root, SL_EINVAL for empty components that hide NUL or
 * over-long input. out is replaced.
 */
int sl_path_clean(struct sl_buf *out, const char *rel, struct sl_error *err);

/*
 * Join a relative base directory and a relative path, then clean:
 * ("overlays/prod", "../../base") -> "base". Same failures as sl_path_clean.
 */
int sl_path_join(struct sl_buf *out, const char *base, const char *rel, struct sl_error *err);

/*
 * Resolve rel under the directory root on disk, following symlinks, and
 * require the result to stay inside root. out receives the absolute real
 * path. Missing files are SL_ENOTFOUND.
 */
int sl_path_confine(struct sl_buf *out, const char *root, const char *rel, struct sl_error *err);

/* True when path has .. or is absolute (a quick pre-check for config values). */
int sl_path_is_safe_relative(const char *rel);

#endif
