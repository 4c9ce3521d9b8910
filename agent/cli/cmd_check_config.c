#include <getopt.h>

#include "cli.h"
#include "config.h"
#include "source.h"

const char sl_usage_check_config[] =
        "Usage: sluice check-config [-o yaml|json] [FILE]\n\n"
        "Validate a configuration file and print it normalized, with every default\n"
        "filled in. Every problem is reported as FILE:LINE: MESSAGE before exiting.\n"
        "FILE defaults to $SLUICE_CONFIG, then /etc/sluice/sluice.yaml.\n\n"
        "Options:\n"
        "  -o, --output FORMAT  yaml (default) or json\n\n"
        "Exit status: 0 valid, 1 invalid or unreadable, 2 usage error.\n";

int sl_cmd_check_config(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    struct sl_diags diags = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_buf out = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct sl_config *cfg = NULL;
    enum sl_output fmt = SL_OUT_YAML;
    const char *path;
    int c, rc = SL_EXIT_FAIL;

    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'o') {
            if (sl_cli_parse_output("check-config", optarg,
                                    1u << SL_OUT_YAML | 1u << SL_OUT_JSON | 1u << SL_OUT_TEXT,
                                    &fmt) != 0)
                return SL_EXIT_USAGE;
        } else {
            return sl_cli_usage_error("check-config", "unknown option");
        }
    }
    if (argc - optind > 1)
        return sl_cli_usage_error("check-config", "expected at most one FILE");
    path = sl_cli_config_path(optind < argc ? argv[optind] : NULL);
    if (sl_config_load(&cfg, path, &diags, &err) != 0) {
        for (size_t i = 0; i < diags.n; i++)
            fprintf(stderr, "%s\n", diags.msgs[i]);
        if (diags.dropped > 0)
            fprintf(stderr, "%s: %zu more problems not shown\n", path, diags.dropped);
        if (diags.n == 0)
            fprintf(stderr, "%s\n", err.msg);
        goto done;
    }
    /* What the config module cannot judge alone: semver ranges, signature prerequisites. */
    if (sl_source_check_config(cfg, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        goto done;
    }
    if (fmt == SL_OUT_JSON) {
        json_t *j = sl_config_to_json(cfg);
        if (j == NULL || sl_cli_print_json(j) != 0) {
            json_decref(j);
            goto done;
        }
        json_decref(j);
    } else {
        if (sl_config_format(cfg, &out, &err) != 0) {
            sl_cli_fail(&err);
            goto done;
        }
        fputs(out.ptr, stdout);
    }
    rc = SL_EXIT_OK;
done:
    sl_buf_release(&out);
    sl_diags_release(&diags);
    sl_config_free(cfg);
    return rc;
}
