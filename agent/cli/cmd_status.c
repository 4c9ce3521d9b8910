/*
 * `sluice status`: every environment's state from the state directory (no cluster,
 * no network): revision live, last good, last result and health, drift, suspension.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "session.h"
#include "state.h"

const char sl_usage_status[] =
        "Usage: sluice status [--config FILE] [-o text|json]\n\n"
        "Show every environment: the revision live now, the last good revision, the\n"
        "result and health of the last reconcile, drifted objects, revisions marked bad,\n"
        "and whether the environment is suspended or pinned by a rollback. Reads the\n"
        "state directory only.\n\n"
        "Options:\n"
        "  -c, --config FILE    configuration (default $SLUICE_CONFIG, then\n"
        "                       /etc/sluice/sluice.yaml)\n"
        "  -o, --output FORMAT  text (default) or json\n\n"
        "Exit status: 0 shown, 1 error (unreadable state), 2 usage error.\n";

static void fmt_time(int64_t t, char *out, size_t n)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
        snprintf(out, n, "-");
        return;
    }
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int sl_cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    static const char *const hdr[] = {"environment", "revision", "last-good",
                                      "result",      "health",   "drift",
                                      "bad",         "state",    "last-reconcile"};
    struct sl_config *cfg = NULL;
    struct sl_error err = SL_ERROR_INIT;
    enum sl_output fmt = SL_OUT_TEXT;
    const char *config = NULL;
    json_t *jout = NULL;
    struct sl_table t;
    struct sl_buf notes = SL_BUF_INIT(1 << 20);
    bool failed = false;
    int c;

    while ((c = getopt_long(argc, argv, "c:o:", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'o') {
            if (sl_cli_parse_output("status", optarg, 1u << SL_OUT_TEXT | 1u << SL_OUT_JSON,
                                    &fmt) != 0)
                return SL_EXIT_USAGE;
        } else
            return sl_cli_usage_error("status", "unknown option");
    }
    if (optind < argc)
        return sl_cli_usage_error("status", "unexpected argument \"%s\"", argv[optind]);
    if (sl_rc_load_config(&cfg, sl_cli_config_path(config), &err) != 0)
        return sl_cli_fail(&err);
    jout = json_array();
    sl_table_init(&t, 9, hdr);
    for (size_t i = 0; i < cfg->nenvs; i++) {
        const char *env = cfg->envs[i].name;
        struct sl_state *st = NULL;
        struct sl_control ctl = {0};
        struct sl_error e = SL_ERROR_INIT;
        char rev[16], lg[16], when[32], drift[16], bad[16], state[64];

        if (sl_state_load(cfg->state_dir, env, &st, &e) != 0 ||
            sl_control_load(cfg->state_dir, env, &ctl, &e) != 0) {
            fprintf(stderr, "sluice status: %s: %s\n", env, e.msg);
            failed = true;
            sl_state_free(st);
            continue;
        }
        snprintf(rev, sizeof(rev), "%.12s", st->applied_revision ? st->applied_revision : "-");
        snprintf(lg, sizeof(lg), "%.12s", st->last_good_revision ? st->last_good_revision : "-");
        fmt_time(st->last_time, when, sizeof(when));
        snprintf(drift, sizeof(drift), "%u", st->last_drifted);
        snprintf(bad, sizeof(bad), "%zu", st->nbad);
        if (ctl.suspended)
            snprintf(state, sizeof(state), "suspended");
        else if (ctl.pin_revision != NULL)
            snprintf(state, sizeof(state), "pinned %.12s", ctl.pin_revision);
        else
            snprintf(state, sizeof(state), "active");
        if (fmt == SL_OUT_JSON) {
            json_t *j = sl_state_to_json(st), *badrevs = json_array();
            json_object_del(j, "inventory");
            json_object_del(j, "history");
            json_object_set_new(j, "objects", json_integer((json_int_t)st->inventory.n));
            json_object_set_new(j, "suspended", json_boolean(ctl.suspended));
            json_object_set_new(j, "pinnedRevision",
                                ctl.pin_revision ? json_string(ctl.pin_revision) : json_null());
            for (size_t k = 0; k < st->nbad; k++)
                json_array_append_new(badrevs, json_string(st->bad[k].revision));
            json_object_del(j, "bad");
            json_object_set_new(j, "badRevisions", badrevs);
            json_array_append_new(jout, j);
        } else {
            const char *row[] = {env,
                                 rev,
                                 lg,
                                 st->last_time ? sl_result_name(st->last_result) : "-",
                                 st->last_health ? st->last_health : "-",
                                 drift,
                                 bad,
                                 state,
                                 when};
            sl_table_add(&t, row);
            /* Why it failed, or what did not block it (policy findings), under the table. */
            if (st->last_message != NULL)
                sl_buf_printf(&notes, NULL, "%s: %s\n", env, st->last_message);
        }
        sl_control_release(&ctl);
        sl_state_free(st);
    }
    if (fmt == SL_OUT_JSON)
        sl_cli_print_json(jout);
    else {
        sl_table_print(&t, stdout);
        if (notes.len > 0)
            printf("\n%s", notes.ptr);
    }
    sl_buf_release(&notes);
    sl_table_release(&t);
    json_decref(jout);
    sl_config_free(cfg);
    return failed ? SL_EXIT_FAIL : SL_EXIT_OK;
}
