/*
 * A small Prometheus metrics registry and its text exposition format
 * (version 0.0.4): counters, gauges and histograms with up to four labels.
 *
 * Families are registered once with fixed label names; series appear when
 * first touched and can be removed (an environment dropped on reload, an old
 * revision in an *_info gauge). The number of series per family is capped so
 * that no input can grow the registry without bound. The registry is not
 * locked: the daemon's main loop is its only user.
 */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

enum sl_metric_type { SL_METRIC_COUNTER, SL_METRIC_GAUGE, SL_METRIC_HISTOGRAM };

#define SL_METRIC_MAX_LABELS  4
#define SL_METRIC_MAX_SERIES  4096
#define SL_METRIC_MAX_BUCKETS 32

struct sl_metrics;
struct sl_metric_family;

struct sl_metrics *sl_metrics_new(void);
void sl_metrics_free(struct sl_metrics *m);

/*
 * Register a family. labels is NULL-terminated (NULL or {NULL} for none);
 * buckets (ascending upper bounds, +Inf is implied) only for histograms.
 * The returned family is owned by the registry.
 */
struct sl_metric_family *sl_metrics_register(struct sl_metrics *m, const char *name,
                                             const char *help, enum sl_metric_type type,
                                             const char *const *labels, const double *buckets,
                                             size_t nbuckets, struct sl_error *err);

/* values has one entry per label, in registration order. */
int sl_metric_inc(struct sl_metric_family *f, const char *const *values, double delta,
                  struct sl_error *err);
int sl_metric_set(struct sl_metric_family *f, const char *const *values, double v,
                  struct sl_error *err);
int sl_metric_observe(struct sl_metric_family *f, const char *const *values, double v,
                      struct sl_error *err);
/* Remove one series; returns 1 when it existed. */
int sl_metric_remove(struct sl_metric_family *f, const char *const *values);
/* Remove every series whose label number idx equals value; returns how many. */
size_t sl_metric_remove_where(struct sl_metric_family *f, size_t idx, const char *value);
/* Current value of a counter or gauge series, or the count of a histogram; -1 if absent. */
double sl_metric_get(const struct sl_metric_family *f, const char *const *values);

/* Append the text exposition of every family (in registration order). */
int sl_metrics_render(const struct sl_metrics *m, struct sl_buf *out, struct sl_error *err);

#define SL_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
