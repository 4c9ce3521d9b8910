#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

struct series {
    char *values[SL_METRIC_MAX_LABELS];
    double value;               /* counter or gauge */
    unsigned long long *counts; /* histogram: per bucket (not cumulative), +Inf last */
    unsigned long long count;
    double sum;
};

struct sl_metric_family {
    char *name;
    char *help;
    enum sl_metric_type type;
    size_t nlabels;
    char *labels[SL_METRIC_MAX_LABELS];
    double buckets[SL_METRIC_MAX_BUCKETS];
    size_t nbuckets;
    struct series *series;
    size_t nseries, cap;
};

struct sl_metrics {
    struct sl_metric_family **fams;
    size_t n, cap;
};

struct sl_metrics *sl_metrics_new(void)
{
    return calloc(1, sizeof(struct sl_metrics));
}

static void series_release(struct sl_metric_family *f, struct series *s)
{
    for (size_t i = 0; i < f->nlabels; i++)
        free(s->values[i]);
    free(s->counts);
}

static void family_free(struct sl_metric_family *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->nseries; i++)
        series_release(f, &f->series[i]);
    free(f->series);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f);
}

void sl_metrics_free(struct sl_metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        family_free(m->fams[i]);
    free(m->fams);
    free(m);
}

static bool valid_name(const char *s, bool colon)
{
    if (s == NULL || s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (colon && c == ':')))
            return false;
    }
    return true;
}

struct sl_metric_family *sl_metrics_register(struct sl_metrics *m, const char *name,
                                             const char *help, enum sl_metric_type type,
                                             const char *const *labels, const double *buckets,
                                             size_t nbuckets, struct sl_error *err)
{
    struct sl_metric_family *f = NULL;

    if (!valid_name(name, true)) {
        sl_error_set(err, SL_EINVAL, "metric name \"%s\" is not valid", name);
        return NULL;
    }
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->fams[i]->name, name) == 0) {
            sl_error_set(err, SL_EINVAL, "metric %s registered twice", name);
            return NULL;
        }
    }
    if (type == SL_METRIC_HISTOGRAM && (nbuckets == 0 || nbuckets > SL_METRIC_MAX_BUCKETS)) {
        sl_error_set(err, SL_EINVAL, "metric %s: 1 to %d buckets", name, SL_METRIC_MAX_BUCKETS);
        return NULL;
    }
    for (size_t i = 1; type == SL_METRIC_HISTOGRAM && i < nbuckets; i++) {
        if (!(buckets[i] > buckets[i - 1])) {
            sl_error_set(err, SL_EINVAL, "metric %s: buckets must ascend", name);
            return NULL;
        }
    }
    if (m->n == m->cap) {
        size_t nc = m->cap == 0 ? 16 : m->cap * 2;
        void *p = realloc(m->fams, nc * sizeof(*m->fams));
        if (p == NULL)
            goto oom;
        m->fams = p;
        m->cap = nc;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL)
        goto oom;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help);
    if (f->name == NULL || f->help == NULL)
        goto oom;
    for (size_t i = 0; labels != NULL && labels[i] != NULL; i++) {
        if (i == SL_METRIC_MAX_LABELS || !valid_name(labels[i], false) ||
            strncmp(labels[i], "__", 2) == 0 ||
            (type == SL_METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0)) {
            sl_error_set(err, SL_EINVAL, "metric %s: label \"%s\" is not valid here", name,
                         labels[i]);
            family_free(f);
            return NULL;
        }
        f->labels[i] = strdup(labels[i]);
        if (f->labels[i] == NULL)
            goto oom;
        f->nlabels = i + 1;
    }
    if (type == SL_METRIC_HISTOGRAM) {
        memcpy(f->buckets, buckets, nbuckets * sizeof(double));
        f->nbuckets = nbuckets;
    }
    m->fams[m->n++] = f;
    return f;
oom:
    family_free(f);
    sl_error_set(err, SL_ENOMEM, "out of memory");
    return NULL;
}

static struct series *find(const struct sl_metric_family *f, const char *const *values)
{
    for (size_t i = 0; i < f->nseries; i++) {
        size_t j;
        for (j = 0; j < f->nlabels; j++)
            if (strcmp(f->series[i].values[j], values[j]) != 0)
                break;
        if (j == f->nlabels)
            return &f->series[i];
    }
    return NULL;
}

static struct series *get(struct sl_metric_family *f, const char *const *values,
                          struct sl_error *err)
{
    struct series *s = find(f, values);

    if (s != NULL)
        return s;
    if (f->nseries >= SL_METRIC_MAX_SERIES) {
        sl_error_set(err, SL_ETOOLARGE, "metric %s: more than %d series", f->name,
                     SL_METRIC_MAX_SERIES);
        return NULL;
    }
    if (f->nseries == f->cap) {
        size_t nc = f->cap == 0 ? 8 : f->cap * 2;
        void *p = realloc(f->series, nc * sizeof(*f->series));
        if (p == NULL)
            goto oom;
        f->series = p;
        f->cap = nc;
    }
    s = &f->series[f->nseries];
    memset(s, 0, sizeof(*s));
    for (size_t j = 0; j < f->nlabels; j++) {
        s->values[j] = strdup(values[j] != NULL ? values[j] : "");
        if (s->values[j] == NULL) {
            series_release(f, s);
            goto oom;
        }
    }
    if (f->type == SL_METRIC_HISTOGRAM) {
        s->counts = calloc(f->nbuckets + 1, sizeof(*s->counts));
        if (s->counts == NULL) {
            series_release(f, s);
            goto oom;
        }
    }
    f->nseries++;
    return s;
oom:
    sl_error_set(err, SL_ENOMEM, "out of memory");
    return NULL;
}

int sl_metric_inc(struct sl_metric_family *f, const char *const *values, double delta,
                  struct sl_error *err)
{
    struct series *s;

    if (f->type == SL_METRIC_HISTOGRAM || (f->type == SL_METRIC_COUNTER && !(delta >= 0)))
        return sl_error_set(err, SL_EINVAL, "metric %s: invalid increment", f->name);
    s = get(f, values, err);
    if (s == NULL)
        return -1;
    s->value += delta;
    return 0;
}

int sl_metric_set(struct sl_metric_family *f, const char *const *values, double v,
                  struct sl_error *err)
{
    struct series *s;

    if (f->type != SL_METRIC_GAUGE)
        return sl_error_set(err, SL_EINVAL, "metric %s: set on a non-gauge", f->name);
    s = get(f, values, err);
    if (s == NULL)
        return -1;
    s->value = v;
    return 0;
}

int sl_metric_observe(struct sl_metric_family *f, const char *const *values, double v,
                      struct sl_error *err)
{
    struct series *s;
    size_t b;

    if (f->type != SL_METRIC_HISTOGRAM || isnan(v))
        return sl_error_set(err, SL_EINVAL, "metric %s: invalid observation", f->name);
    s = get(f, values, err);
    if (s == NULL)
        return -1;
    for (b = 0; b < f->nbuckets && v > f->buckets[b]; b++)
        ;
    s->counts[b]++;
    s->count++;
    s->sum += v;
    return 0;
}

static void remove_at(struct sl_metric_family *f, size_t i)
{
    series_release(f, &f->series[i]);
    memmove(&f->series[i], &f->series[i + 1], (f->nseries - i - 1) * sizeof(*f->series));
    f->nseries--;
}

int sl_metric_remove(struct sl_metric_family *f, const char *const *values)
{
    struct series *s = find(f, values);

    if (s == NULL)
        return 0;
    remove_at(f, (size_t)(s - f->series));
    return 1;
}

size_t sl_metric_remove_where(struct sl_metric_family *f, size_t idx, const char *value)
{
    size_t removed = 0;

    if (idx >= f->nlabels)
        return 0;
    for (size_t i = 0; i < f->nseries;) {
        if (strcmp(f->series[i].values[idx], value) == 0) {
            remove_at(f, i);
            removed++;
        } else {
            i++;
        }
    }
    return removed;
}

double sl_metric_get(const struct sl_metric_family *f, const char *const *values)
{
    const struct series *s = find(f, values);

    if (s == NULL)
        return -1;
    return f->type == SL_METRIC_HISTOGRAM ? (double)s->count : s->value;
}

static int put_number(struct sl_buf *o, double v, struct sl_error *err)
{
    if (isnan(v))
        return sl_buf_puts(o, "NaN", err);
    if (isinf(v))
        return sl_buf_puts(o, v > 0 ? "+Inf" : "-Inf", err);
    if (v == floor(v) && fabs(v) < 1e15)
        return sl_buf_printf(o, err, "%.0f", v);
    return sl_buf_printf(o, err, "%.17g", v);
}

/* Label values escape backslash, double quote and newline; HELP text escapes backslash and newline.
 */
static int put_escaped(struct sl_buf *o, const char *s, bool quote, struct sl_error *err)
{
    for (const char *p = s; *p != '\0'; p++) {
        int rc;
        if (*p == '\\')
            rc = sl_buf_puts(o, "\\\\", err);
        else if (*p == '\n')
            rc = sl_buf_puts(o, "\\n", err);
        else if (quote && *p == '"')
            rc = sl_buf_puts(o, "\\\"", err);
        else
            rc = sl_buf_putc(o, *p, err);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* name{a="x",b="y"[,le="..."]} */
static int put_series_head(struct sl_buf *o, const struct sl_metric_family *f,
                           const struct series *s, const char *suffix, const char *le,
                           struct sl_error *err)
{
    bool any = f->nlabels > 0 || le != NULL;

    if (sl_buf_printf(o, err, "%s%s", f->name, suffix) != 0)
        return -1;
    if (any && sl_buf_putc(o, '{', err) != 0)
        return -1;
    for (size_t j = 0; j < f->nlabels; j++) {
        if (sl_buf_printf(o, err, "%s%s=\"", j ? "," : "", f->labels[j]) != 0 ||
            put_escaped(o, s->values[j], true, err) != 0 || sl_buf_putc(o, '"', err) != 0)
            return -1;
    }
    if (le != NULL && sl_buf_printf(o, err, "%sle=\"%s\"", f->nlabels ? "," : "", le) != 0)
        return -1;
    if (any && sl_buf_putc(o, '}', err) != 0)
        return -1;
    return sl_buf_putc(o, ' ', err);
}

static int render_family(const struct sl_metric_family *f, struct sl_buf *o, struct sl_error *err)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};

    if (sl_buf_printf(o, err, "# HELP %s ", f->name) != 0 ||
        put_escaped(o, f->help, false, err) != 0 ||
        sl_buf_printf(o, err, "\n# TYPE %s %s\n", f->name, types[f->type]) != 0)
        return -1;
    for (size_t i = 0; i < f->nseries; i++) {
        const struct series *s = &f->series[i];
        if (f->type != SL_METRIC_HISTOGRAM) {
            if (put_series_head(o, f, s, "", NULL, err) != 0 || put_number(o, s->value, err) != 0 ||
                sl_buf_putc(o, '\n', err) != 0)
                return -1;
            continue;
        }
        unsigned long long cum = 0;
        for (size_t b = 0; b <= f->nbuckets; b++) {
            char le[48];
            if (b == f->nbuckets)
                snprintf(le, sizeof(le), "+Inf");
            else
                snprintf(le, sizeof(le), "%g", f->buckets[b]);
            cum += s->counts[b];
            if (put_series_head(o, f, s, "_bucket", le, err) != 0 ||
                sl_buf_printf(o, err, "%llu\n", cum) != 0)
                return -1;
        }
        if (put_series_head(o, f, s, "_sum", NULL, err) != 0 || put_number(o, s->sum, err) != 0 ||
            sl_buf_putc(o, '\n', err) != 0 || put_series_head(o, f, s, "_count", NULL, err) != 0 ||
            sl_buf_printf(o, err, "%llu\n", s->count) != 0)
            return -1;
    }
    return 0;
}

int sl_metrics_render(const struct sl_metrics *m, struct sl_buf *out, struct sl_error *err)
{
    for (size_t i = 0; i < m->n; i++)
        if (render_family(m->fams[i], out, err) != 0)
            return -1;
    return 0;
}
