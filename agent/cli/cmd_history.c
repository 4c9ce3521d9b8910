/* `sluice history ENV`: the bounded reconcile history from the state directory. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "session.h"
#include "state.h"
#include "strparse.h"

const char sl_usage_history[] =
        "Usage: sluice history ENV [--config FILE] [-o text|json]\n\n"
        "Show the last reconciles of ENV that changed something or failed, newest\n"
        "first: revision, result (healthy, failed, rolled-back, rejected), whether it\n"
        "was an automatic rollback, duration and object counts. At most 20 entries\n"
        "are kept. Revisions marked bad are listed after the table.\n\n"
        "Options:\n"
        "  -c, --config FILE    configuration (default $SLUICE_CONFIG, then\n"
        "                       /etc/sluice/sluice.yaml)\n"
        "  -o, --output FORMAT  text (default) or json\n\n"
        "Exit status: 0 shown, 1 error, 2 usage error.\n";

int sl_cmd_history(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    static const char *const hdr[] = {"time",    "revision", "result", "rollback", "duration",
                                      "created", "updated",  "pruned", "drifted",  "message"};
    struct sl_config *cfg = NULL;
    struct sl_state *st = NULL;
    struct sl_error err = SL_ERROR_INIT;
    enum sl_output fmt = SL_OUT_TEXT;
    const char *config = NULL, *env;
    int c, rc = SL_EXIT_FAIL;

    while ((c = getopt_long(argc, argv, "c:o:", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'o') {
            if (sl_cli_parse_output("history", optarg, 1u << SL_OUT_TEXT | 1u << SL_OUT_JSON,
                                    &fmt) != 0)
                return SL_EXIT_USAGE;
        } else
            return sl_cli_usage_error("history", "unknown option");
    }
    if (argc - optind != 1)
        return sl_cli_usage_error("history", "expected one ENV");
    env = argv[optind];
    if (sl_rc_load_config(&cfg, sl_cli_config_path(config), &err) != 0)
        return sl_cli_fail(&err);
    if (sl_config_env(cfg, env) == NULL) {
        rc = sl_cli_usage_error("history", "no environment \"%s\" in the configuration", env);
        goto done;
    }
    if (sl_state_load(cfg->state_dir, env, &st, &err) != 0) {
        sl_cli_fail(&err);
        goto done;
    }
    if (fmt == SL_OUT_JSON) {
        json_t *j = json_pack("{s:s, s:[], s:[]}", "environment", env, "history", "bad");
        for (size_t i = st->nhistory; i-- > 0;)
            json_array_append_new(json_object_get(j, "history"),
                                  sl_history_entry_to_json(&st->history[i]));
        for (size_t i = 0; i < st->nbad; i++)
            json_array_append_new(json_object_get(j, "bad"),
                                  json_pack("{s:s, s:I, s:s?}", "revision", st->bad[i].revision,
                                            "time", (json_int_t)st->bad[i].time, "reason",
                                            st->bad[i].reason));
        sl_cli_print_json(j);
        json_decref(j);
    } else {
        struct sl_table t;
        sl_table_init(&t, 10, hdr);
        for (size_t i = st->nhistory; i-- > 0;) {
            const struct sl_history_entry *h = &st->history[i];
            char when[32], rev[16], dur[32], cr[12], up[12], pr[12], dr[12];
            struct tm tm;
            time_t tt = (time_t)h->started;
            if (gmtime_r(&tt, &tm) != NULL)
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
            else
                snprintf(when, sizeof(when), "-");
            snprintf(rev, sizeof(rev), "%.12s", h->revision ? h->revision : "-");
            sl_format_duration(dur, sizeof(dur), h->duration_ms);
            snprintf(cr, sizeof(cr), "%u", h->created);
            snprintf(up, sizeof(up), "%u", h->updated);
            snprintf(pr, sizeof(pr), "%u", h->pruned);
            snprintf(dr, sizeof(dr), "%u", h->drifted);
            {
                const char *row[] = {when,
                                     rev,
                                     sl_result_name(h->result),
                                     h->rollback ? "yes" : "no",
                                     dur,
                                     cr,
                                     up,
                                     pr,
                                     dr,
                                     h->message ? h->message : ""};
                sl_table_add(&t, row);
            }
        }
        sl_table_print(&t, stdout);
        sl_table_release(&t);
        for (size_t i = 0; i < st->nbad; i++)
            printf("bad: %s: %s\n", st->bad[i].revision,
                   st->bad[i].reason ? st->bad[i].reason : "");
    }
    rc = SL_EXIT_OK;
done:
    sl_state_free(st);
    sl_config_free(cfg);
    return rc;
}
