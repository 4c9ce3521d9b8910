#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "daemon.h"
#include "fake.h"
#include "version.h"

const char sl_usage_run[] =
        "Usage: sluice run [--config FILE]\n\n"
        "Run as a service: poll every environment on its interval, reconcile it,\n"
        "serve /metrics, /healthz, /readyz and webhooks on http.listen, and send\n"
        "notifications. Logs go to stderr in logfmt, one line per reconcile.\n\n"
        "  SIGHUP   reload the configuration (a bad one is rejected and logged)\n"
        "  SIGTERM  stop gracefully (SIGINT too); the current run stops at a safe point\n"
        "  SIGUSR1  poll every environment now\n\n"
        "A running daemon also polls on request through its control socket,\n"
        "STATE_DIR/control.sock (`sluice reconcile` uses it when a daemon runs).\n"
        "Under systemd it speaks the notify protocol (Type=notify, WatchdogSec=).\n\n"
        "Options:\n"
        "  -c, --config FILE         configuration (default $SLUICE_CONFIG, then\n"
        "                            /etc/sluice/sluice.yaml)\n"
        "      --fake-reconcile FILE for tests and benchmarks of the service itself:\n"
        "                            simulate every reconcile from a JSON script\n"
        "                            instead of touching git or a cluster\n\n"
        "Exit status: 0 after a clean stop, 1 on a startup error or a stop timeout,\n"
        "2 usage error.\n";

int sl_cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"fake-reconcile", required_argument, NULL, 'F'},
                                         {NULL, 0, NULL, 0}};
    struct sl_daemon_opts o = {0};
    struct sl_diags diags = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;
    const char *config = NULL;
    char *fake = NULL;
    int c, rc = SL_EXIT_FAIL;

    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 'F')
            fake = optarg;
        else
            return sl_cli_usage_error("run", "unknown option");
    }
    if (optind < argc)
        return sl_cli_usage_error("run", "unexpected argument \"%s\"", argv[optind]);
    o.config_path = sl_cli_config_path(config);
    o.version = SLUICE_VERSION;
    o.commit = SLUICE_GIT_COMMIT;
    if (fake != NULL) {
        o.reconcile = sl_fake_reconcile;
        o.reconcile_arg = fake;
    }
    /*
     * The reconcile pipeline (sl_reconcile_env_fn, see runresult.h) is wired
     * in here. Until it is part of the build the daemon refuses to start
     * rather than pretend to reconcile.
     */
    if (o.reconcile == NULL) {
        sl_error_set(&err, SL_EUNSUPPORTED,
                     "run: the reconcile pipeline is not part of this build yet; not supported");
        return sl_cli_fail(&err);
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sl_error_set(&err, SL_EGENERIC, "curl_global_init failed");
        return sl_cli_fail(&err);
    }
    if (sl_daemon_run(&o, &diags, &err) == 0) {
        rc = SL_EXIT_OK;
    } else {
        for (size_t i = 0; i < diags.n; i++)
            fprintf(stderr, "%s\n", diags.msgs[i]);
        if (diags.n == 0)
            sl_cli_fail(&err);
    }
    sl_diags_release(&diags);
    /* After a stop timeout the worker may still be inside libcurl: leave it to exit. */
    if (err.code != SL_ETIMEOUT)
        curl_global_cleanup();
    return rc;
}
