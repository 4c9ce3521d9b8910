/*
 * `sluice retry ENV`: forget the bad marks of ENV so that its current revision is
 * tried again, then reconcile it once (unless --no-reconcile).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "session.h"
#include "state.h"

const char sl_usage_retry[] =
        "Usage: sluice retry ENV [--no-reconcile] [--config FILE]\n\n"
        "A revision that failed (and was rolled back) is marked bad and not tried again\n"
        "until a newer revision appears. `retry` clears the marks of ENV and reconciles\n"
        "it once, so the current revision is tried again.\n\n"
        "Options:\n"
        "      --no-reconcile   only clear the marks; the next reconcile tries again\n"
        "  -c, --config FILE    configuration (default $SLUICE_CONFIG, then\n"
        "                       /etc/sluice/sluice.yaml)\n\n"
        "Exit status: as `sluice reconcile` (0 healthy, 1 failed or rolled back), or 0\n"
        "with --no-reconcile; 2 usage error.\n";

int sl_cmd_retry(int argc, char **argv)
{
    enum { OPT_NO_RECONCILE = 1000 };
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"no-reconcile", no_argument, NULL, OPT_NO_RECONCILE},
                                         {NULL, 0, NULL, 0}};
    struct sl_config *cfg = NULL;
    struct sl_control ctl = {0};
    struct sl_error err = SL_ERROR_INIT;
    const char *config = NULL;
    char env[256];
    bool reconcile = true;
    int c, fd = -1, rc = SL_EXIT_FAIL;

    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == OPT_NO_RECONCILE)
            reconcile = false;
        else
            return sl_cli_usage_error("retry", "unknown option");
    }
    if (argc - optind != 1)
        return sl_cli_usage_error("retry", "expected one ENV");
    snprintf(env, sizeof(env), "%s", argv[optind]);
    config = sl_cli_config_path(config);
    if (sl_rc_load_config(&cfg, config, &err) != 0)
        return sl_cli_fail(&err);
    if (sl_config_env(cfg, env) == NULL) {
        rc = sl_cli_usage_error("retry", "no environment \"%s\" in the configuration", env);
        goto done;
    }
    if (sl_control_lock(cfg->state_dir, env, 10000, &fd, &err) != 0 ||
        sl_control_load(cfg->state_dir, env, &ctl, &err) != 0) {
        sl_cli_fail(&err);
        goto done;
    }
    ctl.retry = true;
    if (sl_control_save(cfg->state_dir, env, &ctl, &err) != 0) {
        sl_cli_fail(&err);
        goto done;
    }
    sl_state_unlock(fd);
    fd = -1;
    printf("%s: bad revisions will be retried\n", env);
    fflush(stdout);
    rc = SL_EXIT_OK;
    if (reconcile) {
        char *rargv[] = {"reconcile", env, "--once", "--config", (char *)(uintptr_t)config, NULL};
        optind = 0;
        rc = sl_cmd_reconcile(5, rargv);
    }
done:
    sl_state_unlock(fd);
    sl_control_release(&ctl);
    sl_config_free(cfg);
    return rc;
}
