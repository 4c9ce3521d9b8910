/*
 * `sluice suspend ENV` / `sluice resume ENV`: a suspended environment is not
 * reconciled (no request to the cluster, state untouched) until resumed. The flag
 * lives in <stateDir>/<env>/control.json, so it works while a reconcile runs.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "session.h"
#include "state.h"

const char sl_usage_suspend[] =
        "Usage: sluice suspend ENV [--config FILE] [-o text|json]\n\n"
        "Stop reconciling ENV: later reconciles (and the daemon) skip it without\n"
        "contacting the cluster until `sluice resume ENV`. A reconcile already running\n"
        "finishes.\n\n"
        "Options:\n"
        "  -c, --config FILE    configuration (default $SLUICE_CONFIG, then\n"
        "                       /etc/sluice/sluice.yaml)\n"
        "  -o, --output FORMAT  text (default) or json\n\n"
        "Exit status: 0 done, 1 error, 2 usage error.\n";

const char sl_usage_resume[] =
        "Usage: sluice resume ENV [--config FILE] [-o text|json]\n\n"
        "Reconcile ENV again after `sluice suspend ENV`.\n\n"
        "Options:\n"
        "  -c, --config FILE    configuration (default $SLUICE_CONFIG, then\n"
        "                       /etc/sluice/sluice.yaml)\n"
        "  -o, --output FORMAT  text (default) or json\n\n"
        "Exit status: 0 done, 1 error, 2 usage error.\n";

static int set_suspended(const char *verb, int argc, char **argv, bool suspended)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    struct sl_config *cfg = NULL;
    struct sl_control ctl = {0};
    struct sl_error err = SL_ERROR_INIT;
    enum sl_output fmt = SL_OUT_TEXT;
    const char *config = NULL, *env;
    int c, fd = -1, rc = SL_EXIT_FAIL;

    while ((c = getopt_long(argc, argv, "c:o:", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'o') {
            if (sl_cli_parse_output(verb, optarg, 1u << SL_OUT_TEXT | 1u << SL_OUT_JSON, &fmt) != 0)
                return SL_EXIT_USAGE;
        } else
            return sl_cli_usage_error(verb, "unknown option");
    }
    if (argc - optind != 1)
        return sl_cli_usage_error(verb, "expected one ENV");
    env = argv[optind];
    if (sl_rc_load_config(&cfg, sl_cli_config_path(config), &err) != 0)
        return sl_cli_fail(&err);
    if (sl_config_env(cfg, env) == NULL) {
        rc = sl_cli_usage_error(verb, "no environment \"%s\" in the configuration", env);
        goto done;
    }
    if (sl_control_lock(cfg->state_dir, env, 10000, &fd, &err) != 0 ||
        sl_control_load(cfg->state_dir, env, &ctl, &err) != 0) {
        sl_cli_fail(&err);
        goto done;
    }
    ctl.suspended = suspended;
    ctl.suspended_at = suspended ? (int64_t)time(NULL) : 0;
    if (sl_control_save(cfg->state_dir, env, &ctl, &err) != 0) {
        sl_cli_fail(&err);
        goto done;
    }
    if (fmt == SL_OUT_JSON) {
        json_t *j = json_pack("{s:s, s:b}", "environment", env, "suspended", suspended);
        sl_cli_print_json(j);
        json_decref(j);
    } else {
        printf("%s: %s\n", env, suspended ? "suspended" : "resumed");
    }
    rc = SL_EXIT_OK;
done:
    sl_state_unlock(fd);
    sl_control_release(&ctl);
    sl_config_free(cfg);
    return rc;
}

int sl_cmd_suspend(int argc, char **argv)
{
    return set_suspended("suspend", argc, argv, true);
}

int sl_cmd_resume(int argc, char **argv)
{
    return set_suspended("resume", argc, argv, false);
}
