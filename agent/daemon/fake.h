/*
 * A scripted stand-in for the reconcile pipeline, for tests and benchmarks
 * of the daemon itself (`sluice run --fake-reconcile FILE`). It never
 * touches git or a cluster. FILE is JSON, re-read on every run so a test can
 * change it while the daemon runs:
 *
 *   {"dev": {"result": "applied", "revision": "abc123", "ref": "main",
 *            "sleepMs": 200, "error": "message", "drifted": 1,
 *            "sourceError": false, "violations": {"rule-name": 2}}}
 *
 * result is one of unchanged, applied, rolled_back, failed, denied; failed
 * returns -1 with "error". An environment missing from the file is
 * unchanged. A sleep is cut short at the daemon's stop request (a safe
 * point), which yields the result canceled, unless "ignoreStop" is true (a
 * run that never reaches a safe point, to test daemon.stopTimeout). When
 * the daemon abandons the run (stop timeout, hang limit) the sleep ends
 * with an error, as a killed worker process would. Runs of different
 * environments overlap (the daemon runs them in parallel).
 */
#ifndef SL_FAKE_H
#define SL_FAKE_H

#include "runresult.h"

/* arg is the path of the JSON file. */
int sl_fake_reconcile(void *arg, struct sl_daemon_ctx *ctx, const struct sl_env_config *env,
                      struct sl_run_result *res, struct sl_error *err);

#endif
