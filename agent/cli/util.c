#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int sl_cli_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "sluice %s: ", verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'sluice %s --help' for usage.\n", verb);
    return SL_EXIT_USAGE;
}

int sl_cli_fail(const struct sl_error *err)
{
    fprintf(stderr, "sluice: %s\n", err->msg[0] != '\0' ? err->msg : "failed");
    return SL_EXIT_FAIL;
}

int sl_cli_parse_output(const char *verb, const char *arg, unsigned allowed, enum sl_output *out)
{
    static const char *const names[] = {"text", "json", "yaml"};

    for (unsigned i = 0; i < 3; i++) {
        if ((allowed & (1u << i)) && strcmp(arg, names[i]) == 0) {
            *out = (enum sl_output)i;
            return 0;
        }
    }
    if (strcmp(arg, "table") == 0 && (allowed & (1u << SL_OUT_TEXT))) {
        *out = SL_OUT_TEXT;
        return 0;
    }
    sl_cli_usage_error(verb, "-o: unsupported output format \"%s\"", arg);
    return -1;
}

int sl_cli_print_json(const json_t *v)
{
    if (json_dumpf(v, stdout, JSON_INDENT(2)) != 0)
        return -1;
    fputc('\n', stdout);
    return 0;
}

static char *dup_or_die(const char *s)
{
    char *p = strdup(s != NULL ? s : "");
    if (p == NULL)
        abort();
    return p;
}

void sl_table_init(struct sl_table *t, size_t ncols, const char *const *headers)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
    sl_table_add(t, headers);
    for (size_t i = 0; i < ncols; i++)
        for (char *p = t->cells[i]; *p != '\0'; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
}

void sl_table_add(struct sl_table *t, const char *const *row)
{
    if ((t->nrows + 1) * t->ncols > t->cap) {
        size_t nc = t->cap == 0 ? t->ncols * 8 : t->cap * 2;
        char **c = realloc(t->cells, nc * sizeof(*c));
        if (c == NULL)
            abort();
        t->cells = c;
        t->cap = nc;
    }
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = dup_or_die(row[i]);
    t->nrows++;
}

void sl_table_print(const struct sl_table *t, FILE *out)
{
    size_t widths[32] = {0};
    size_t ncols = t->ncols < 32 ? t->ncols : 32;

    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < ncols; c++) {
            size_t w = strlen(t->cells[r * t->ncols + c]);
            if (w > widths[c])
                widths[c] = w;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            if (c + 1 == ncols)
                fprintf(out, "%s\n", cell);
            else
                fprintf(out, "%-*s   ", (int)widths[c], cell);
        }
    }
}

void sl_table_release(struct sl_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

const char *sl_cli_config_path(const char *flag_value)
{
    const char *env = getenv("SLUICE_CONFIG");

    if (flag_value != NULL)
        return flag_value;
    if (env != NULL && env[0] != '\0')
        return env;
    return "/etc/sluice/sluice.yaml";
}

bool sl_cli_color(FILE *f)
{
    const char *nc = getenv("NO_COLOR");
    return isatty(fileno(f)) && (nc == NULL || nc[0] == '\0');
}
