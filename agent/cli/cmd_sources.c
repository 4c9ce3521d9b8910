#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "source.h"

const char sl_usage_sources[] =
        "Usage: sluice sources [--config FILE] [-o text|json] [--offline] [--no-record]\n"
        "                      [--accept-moved]\n\n"
        "Fetch the configured git source and show, per environment, the revision its\n"
        "tracking rule selects: name, rule, ref, commit, signature status and why.\n"
        "History changes since the last run (moved or deleted tags, a force-pushed\n"
        "branch) are reported; a moved release tag is refused until accepted.\n\n"
        "Options:\n"
        "      --config FILE    configuration (default $SLUICE_CONFIG, then\n"
        "                       /etc/sluice/sluice.yaml)\n"
        "  -o, --output FORMAT  text (default) or json\n"
        "      --offline        do not fetch; resolve from the cache as it is\n"
        "      --no-record      do not update the last-seen state (<stateDir>/sources/state)\n"
        "      --accept-moved   accept the current position of moved release tags\n\n"
        "Exit status: 0 every environment resolved, 1 a fetch failed or an environment\n"
        "cannot be resolved (or its signature is refused), 2 usage error.\n";

static json_t *notices_json(const char *s)
{
    json_t *a = json_array();

    while (a != NULL && *s != '\0') {
        const char *e = strstr(s, "; ");
        size_t l = e != NULL ? (size_t)(e - s) : strlen(s);
        json_array_append_new(a, json_stringn(s, l));
        s += l;
        if (e != NULL)
            s += 2;
    }
    return a;
}

int sl_cmd_sources(int argc, char **argv)
{
    enum { OPT_CONFIG = 256, OPT_OFFLINE, OPT_NORECORD, OPT_ACCEPT };
    static const struct option opts[] = {{"config", required_argument, NULL, OPT_CONFIG},
                                         {"output", required_argument, NULL, 'o'},
                                         {"offline", no_argument, NULL, OPT_OFFLINE},
                                         {"no-record", no_argument, NULL, OPT_NORECORD},
                                         {"accept-moved", no_argument, NULL, OPT_ACCEPT},
                                         {NULL, 0, NULL, 0}};
    static const char *const headers[] = {"env", "rule", "ref", "commit", "signature", "reason"};
    struct sl_diags diags = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT, fetch_err = SL_ERROR_INIT;
    struct sl_config *cfg = NULL;
    struct sl_source *src = NULL;
    struct sl_source_result *res = NULL;
    struct sl_source_poll poll = {0};
    struct sl_table table;
    enum sl_output fmt = SL_OUT_TEXT;
    const char *config = NULL;
    bool offline = false, record = true, accept = false, fetched = false, all_ok = true;
    json_t *j = NULL;
    int c, rc = SL_EXIT_FAIL;

    sl_table_init(&table, 6, headers);
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (sl_cli_parse_output("sources", optarg, 1u << SL_OUT_TEXT | 1u << SL_OUT_JSON,
                                    &fmt) != 0) {
                rc = SL_EXIT_USAGE;
                goto done;
            }
            break;
        case OPT_CONFIG:
            config = optarg;
            break;
        case OPT_OFFLINE:
            offline = true;
            break;
        case OPT_NORECORD:
            record = false;
            break;
        case OPT_ACCEPT:
            accept = true;
            break;
        default:
            rc = sl_cli_usage_error("sources", "unknown option");
            goto done;
        }
    }
    if (optind < argc) {
        rc = sl_cli_usage_error("sources", "unexpected argument \"%s\"", argv[optind]);
        goto done;
    }
    config = sl_cli_config_path(config);
    if (sl_config_load(&cfg, config, &diags, &err) != 0) {
        for (size_t i = 0; i < diags.n; i++)
            fprintf(stderr, "%s\n", diags.msgs[i]);
        if (diags.n == 0)
            sl_cli_fail(&err);
        goto done;
    }
    if (sl_source_open(cfg, NULL, &src, &err) != 0) {
        sl_cli_fail(&err);
        goto done;
    }
    if (!offline) {
        if (sl_source_poll(src, &poll, &fetch_err) != 0) {
            /* Keep going from the last good cache, but say so and fail. */
            sl_cli_fail(&fetch_err);
            all_ok = false;
        } else {
            fetched = true;
        }
    }
    res = calloc(cfg->nenvs + 1, sizeof(*res));
    if (res == NULL) {
        sl_error_set(&err, SL_ENOMEM, "out of memory");
        sl_cli_fail(&err);
        goto done;
    }
    for (size_t i = 0; i < cfg->nenvs; i++) {
        if (sl_source_resolve(src, &cfg->envs[i], &res[i], &err) != 0) {
            sl_cli_fail(&err);
            goto done;
        }
        if (!res[i].ok)
            all_ok = false;
    }
    if (record && (fetched || offline) && sl_source_save_state(src, accept, &err) != 0) {
        sl_cli_fail(&err);
        goto done;
    }
    if (fmt == SL_OUT_JSON) {
        json_t *envs = json_array();
        j = json_pack("{s:{s:s, s:b, s:b, s:I, s:s?}, s:o}", "source", "url", cfg->source.url,
                      "fetched", fetched, "changed", poll.changed, "refs", (json_int_t)poll.nrefs,
                      "error", fetch_err.code != SL_OK ? fetch_err.msg : NULL, "environments",
                      envs);
        for (size_t i = 0; j != NULL && i < cfg->nenvs; i++) {
            const struct sl_source_result *r = &res[i];
            json_array_append_new(
                    envs,
                    json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s, s:o, s:b, s:b, s:s?}", "name",
                              r->env, "rule", r->rule, "ref", r->commit[0] ? r->ref : NULL,
                              "commit", r->commit[0] ? r->commit : NULL, "tag",
                              r->tag[0] ? r->tag : NULL, "signature", r->signature, "reason",
                              r->reason, "notices", notices_json(r->notices), "ok", r->ok, "kept",
                              r->kept, "error", r->ok ? NULL : r->err.msg));
        }
        if (j == NULL || sl_cli_print_json(j) != 0)
            goto done;
    } else {
        for (size_t i = 0; i < cfg->nenvs; i++) {
            const struct sl_source_result *r = &res[i];
            char commit[16], reason[3200];
            const char *row[6];
            snprintf(commit, sizeof(commit), "%.12s", r->commit[0] ? r->commit : "-");
            snprintf(reason, sizeof(reason), "%s%s%s%s", r->ok ? r->reason : r->err.msg,
                     r->notices[0] ? " [" : "", r->notices, r->notices[0] ? "]" : "");
            row[0] = r->env;
            row[1] = r->rule;
            row[2] = r->ref[0] ? r->ref : "-";
            row[3] = commit;
            row[4] = r->signature;
            row[5] = reason;
            sl_table_add(&table, row);
        }
        sl_table_print(&table, stdout);
    }
    rc = all_ok ? SL_EXIT_OK : SL_EXIT_FAIL;
done:
    json_decref(j);
    sl_table_release(&table);
    free(res);
    sl_source_free(src);
    sl_config_free(cfg);
    sl_diags_release(&diags);
    return rc;
}
