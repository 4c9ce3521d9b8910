/*
 * The sluice command line: one binary, verbs dispatched from a table.
 *
 * A verb is one file cmd_<verb>.c defining `int sl_cmd_<verb>(int argc,
 * char **argv)` (argv[0] is the verb) and its usage text; verbs.def lists
 * them, so adding a verb touches no other verb. `--help`/`-h` anywhere
 * before `--` prints the verb's usage and exits 0, handled centrally.
 *
 * Exit codes: 0 success, 1 failure (or "changes" for diff), 2 usage error.
 * Verbs return them; only main() exits.
 */
#ifndef SL_CLI_H
#define SL_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "buf.h"
#include "error.h"

#define SL_EXIT_OK    0
#define SL_EXIT_FAIL  1
#define SL_EXIT_USAGE 2

struct sl_verb {
    const char *name;
    const char *summary;
    const char *usage; /* full help text, starting with "Usage: sluice VERB ..." */
    int (*run)(int argc, char **argv);
};

#define SL_VERB(name, summary, usage, fn)                                                          \
    extern const char usage[];                                                                     \
    int fn(int argc, char **argv);
#include "verbs.def"
#undef SL_VERB

/* Print "sluice VERB: message" and the usage hint to stderr; returns SL_EXIT_USAGE. */
int sl_cli_usage_error(const char *verb, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Print an error ("sluice: message") to stderr; returns SL_EXIT_FAIL. */
int sl_cli_fail(const struct sl_error *err);

enum sl_output { SL_OUT_TEXT, SL_OUT_JSON, SL_OUT_YAML };
/* Parse the argument of -o/--output; allowed is a mask of 1 << SL_OUT_*. */
int sl_cli_parse_output(const char *verb, const char *arg, unsigned allowed, enum sl_output *out);

/* Print a JSON value (indented, newline-terminated) to stdout. */
int sl_cli_print_json(const json_t *v);

/*
 * A human table: columns are left-aligned to the widest cell; the header is
 * upper-case. Cells are copied.
 */
struct sl_table {
    size_t ncols;
    size_t nrows; /* including the header row */
    char **cells; /* nrows * ncols */
    size_t cap;
};
void sl_table_init(struct sl_table *t, size_t ncols, const char *const *headers);
void sl_table_add(struct sl_table *t, const char *const *row);
void sl_table_print(const struct sl_table *t, FILE *out);
void sl_table_release(struct sl_table *t);

/* The config file a verb uses: --config, else $SLUICE_CONFIG, else the default. */
const char *sl_cli_config_path(const char *flag_value);

/* True when stdout is a terminal and NO_COLOR is unset. */
bool sl_cli_color(FILE *f);

#endif
