/*
 * Kubernetes resource quantities ("500m", "1Gi", "0.5", 2), exactly as the API server
 * reads and prints them (apimachinery pkg/api/resource): parsed to an exact decimal value,
 * rounded up to a multiple of 1n, and printed in the server's canonical form ("0.5" ->
 * "500m", "1024Mi" -> "1Gi", "1000" -> "1k", "1.5Gi" -> "1536Mi").
 *
 * The planner compares quantities by value (a manifest that says cpu: 0.5 is not drift
 * against a live "500m"), policies order them (limits.cpu <= 2), and kubesim
 * canonicalises them on write as the real server does. Pure functions, no allocation,
 * no I/O.
 */
#ifndef SL_CORE_QUANTITY_H
#define SL_CORE_QUANTITY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SL_QTY_DIGITS 96 /* significant digits kept; larger inputs are refused */

enum sl_qty_format {
    SL_QFMT_DECIMAL_SI,  /* no suffix, or n u m k M G T P E */
    SL_QFMT_BINARY_SI,   /* Ki Mi Gi Ti Pi Ei */
    SL_QFMT_DECIMAL_EXP, /* e3, E-6 */
};

/* value = (neg ? -1 : 1) * digits * 10^exp; digits has no leading or trailing zeros. */
struct sl_qty {
    bool neg;
    char digits[SL_QTY_DIGITS + 1]; /* "0" for zero */
    int exp;
    enum sl_qty_format format;
};

/* Parse a quantity string. Returns 0, or -1 when s is not a quantity. */
int sl_qty_parse(const char *s, struct sl_qty *q);
/* A JSON string, integer or real (a manifest's cpu: 0.5) as a quantity; -1 otherwise. */
int sl_qty_from_json(const json_t *v, struct sl_qty *q);
/* Same value (the format does not matter: 1Gi equals 1073741824). */
bool sl_qty_equal(const struct sl_qty *a, const struct sl_qty *b);
/* Order by value: negative, 0 or positive as a is below, equal to or above b. */
int sl_qty_cmp(const struct sl_qty *a, const struct sl_qty *b);
/* The API server's canonical text of q; -1 when out is too small. */
int sl_qty_format(const struct sl_qty *q, char *out, size_t outlen);

/*
 * Is the value under key a quantity? key names the value in its parent, parent_key
 * names the parent in its own parent (array items take the key of their array), and
 * in_quantity_map says whether the parent itself was found to be a quantity map
 * (sl_qty_map). Only these places count, never a key that merely looks right (a
 * ConfigMap's data.sizeLimit is text). Covers resources.requests/limits (containers, pod overhead,
 * PVC and volume claim templates), ResourceQuota hard, LimitRange limits[].max/min/default/
 * defaultRequest/maxLimitRequestRatio, capacity/allocatable, RuntimeClass
 * overhead.podFixed and emptyDir sizeLimit.
 */
bool sl_qty_field(const char *key, const char *parent_key, bool in_quantity_map);
/* Is the object under key (in a parent under parent_key) a map of quantities? */
bool sl_qty_map(const char *key, const char *parent_key);

/*
 * Rewrite every quantity of a built-in object in place into its canonical text (what the
 * API server stores and returns). Values that are not quantities are left alone.
 */
void sl_qty_canonicalize(json_t *obj);

#endif
