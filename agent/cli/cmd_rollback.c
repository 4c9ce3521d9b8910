/*
 * `sluice rollback ENV [REVISION]`: pin ENV to an earlier good revision until the
 * source moves to a newer one, then reconcile it once (unless --no-reconcile).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "session.h"
#include "state.h"

const char sl_usage_rollback[] =
        "Usage: sluice rollback ENV [REVISION] [--no-reconcile] [--config FILE]\n\n"
        "Deploy an earlier good revision of ENV and hold it there until the source\n"
        "moves to a newer revision (a new commit on the branch, a new tag). REVISION is\n"
        "a commit id (or a unique prefix of at least 7 characters) that was healthy in\n"
        "ENV before (see `sluice history ENV`); without it, the most recent healthy\n"
        "revision other than the one live now is used. Then ENV is reconciled once.\n\n"
        "Options:\n"
        "      --no-reconcile   only record the pin; the next reconcile applies it\n"
        "  -c, --config FILE    configuration (default $SLUICE_CONFIG, then\n"
        "                       /etc/sluice/sluice.yaml)\n\n"
        "Exit status: as `sluice reconcile` (0 healthy, 1 failed), or 0 with\n"
        "--no-reconcile; 1 when REVISION was never healthy; 2 usage error.\n";

/* The full revision of a healthy history entry matching want (prefix), or NULL. */
static const char *find_good(const struct sl_state *st, const char *want, bool *ambiguous)
{
    const char *found = NULL;
    size_t n = want != NULL ? strlen(want) : 0;

    *ambiguous = false;
    for (size_t i = st->nhistory; i-- > 0;) {
        const struct sl_history_entry *h = &st->history[i];
        if (h->result != SL_RESULT_HEALTHY || h->revision == NULL)
            continue;
        if (want == NULL) {
            if (st->applied_revision == NULL || strcmp(h->revision, st->applied_revision) != 0)
                return h->revision;
            continue;
        }
        if (strncmp(h->revision, want, n) == 0) {
            if (found != NULL && strcmp(found, h->revision) != 0)
                *ambiguous = true;
            found = h->revision;
        }
    }
    return found;
}

int sl_cmd_rollback(int argc, char **argv)
{
    enum { OPT_NO_RECONCILE = 1000 };
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"no-reconcile", no_argument, NULL, OPT_NO_RECONCILE},
                                         {NULL, 0, NULL, 0}};
    struct sl_rc_session s;
    struct sl_state *st = NULL;
    struct sl_control ctl = {0};
    struct sl_error err = SL_ERROR_INIT;
    const struct sl_env_config *envc;
    const char *config = NULL, *want = NULL, *good;
    char env[256], *cur = NULL, *ref = NULL;
    bool reconcile = true, ambiguous, opened = false;
    int c, fd = -1, rc = SL_EXIT_FAIL;

    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == OPT_NO_RECONCILE)
            reconcile = false;
        else
            return sl_cli_usage_error("rollback", "unknown option");
    }
    if (argc - optind < 1 || argc - optind > 2)
        return sl_cli_usage_error("rollback", "expected ENV [REVISION]");
    snprintf(env, sizeof(env), "%s", argv[optind]);
    if (argc - optind == 2) {
        want = argv[optind + 1];
        if (strlen(want) < 7)
            return sl_cli_usage_error("rollback", "REVISION needs at least 7 characters");
    }
    config = sl_cli_config_path(config);
    /* the source's current revision (from the local cache) decides when the pin ends */
    if (sl_rc_session_open(&s, config, SL_SESSION_SOURCE | SL_SESSION_NO_POLL, NULL, &err) != 0)
        return sl_cli_fail(&err);
    opened = true;
    envc = sl_config_env(s.cfg, env);
    if (envc == NULL) {
        rc = sl_cli_usage_error("rollback", "no environment \"%s\" in the configuration", env);
        goto done;
    }
    if (sl_state_load(s.cfg->state_dir, env, &st, &err) != 0) {
        sl_cli_fail(&err);
        goto done;
    }
    good = find_good(st, want, &ambiguous);
    if (ambiguous) {
        fprintf(stderr, "sluice rollback: %s: revision prefix %s is ambiguous\n", env, want);
        goto done;
    }
    if (good == NULL) {
        if (want != NULL)
            fprintf(stderr,
                    "sluice rollback: %s: %s was never healthy here (see `sluice history %s`)\n",
                    env, want, env);
        else
            fprintf(stderr, "sluice rollback: %s: no earlier healthy revision in the history\n",
                    env);
        goto done;
    }
    if (s.desired.resolve(s.desired.ctx, envc, &cur, &ref, &err) != 0) {
        sl_error_wrap(&err, "current revision of %s", env);
        sl_cli_fail(&err);
        goto done;
    }
    if (sl_control_lock(s.cfg->state_dir, env, 10000, &fd, &err) != 0 ||
        sl_control_load(s.cfg->state_dir, env, &ctl, &err) != 0) {
        sl_cli_fail(&err);
        goto done;
    }
    free(ctl.pin_revision);
    free(ctl.pin_source_revision);
    ctl.pin_revision = strdup(good);
    ctl.pin_source_revision = strdup(cur);
    if (ctl.pin_revision == NULL || ctl.pin_source_revision == NULL ||
        sl_control_save(s.cfg->state_dir, env, &ctl, &err) != 0) {
        sl_cli_fail(&err);
        goto done;
    }
    sl_state_unlock(fd);
    fd = -1;
    printf("%s: pinned to %s until a revision newer than %.12s appears\n", env, good, cur);
    fflush(stdout);
    sl_rc_session_close(&s);
    opened = false;
    rc = SL_EXIT_OK;
    if (reconcile) {
        char *rargv[] = {"reconcile", env, "--once", "--config", (char *)(uintptr_t)config, NULL};
        optind = 0;
        rc = sl_cmd_reconcile(5, rargv);
    }
done:
    sl_state_unlock(fd);
    free(cur);
    free(ref);
    sl_control_release(&ctl);
    sl_state_free(st);
    if (opened)
        sl_rc_session_close(&s);
    return rc;
}
