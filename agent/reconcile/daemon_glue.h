/*
 * The reconcile engine behind the daemon's seam (agent/daemon/runresult.h):
 * sl_rc_daemon_reconcile is an sl_reconcile_env_fn and sl_rc_daemon_retire the
 * daemon's retire callback, both with an struct sl_rc_daemon as their arg.
 * The kube client and the source pipeline are opened on the first run for a
 * configuration and kept until the daemon retires that configuration; the
 * source is fetched again at every run. Built when agent/daemon exists.
 */
#ifndef SL_RECONCILE_DAEMON_GLUE_H
#define SL_RECONCILE_DAEMON_GLUE_H

#include "config.h"
#include "error.h"
#include "runresult.h"

struct sl_rc_daemon;

struct sl_rc_daemon *sl_rc_daemon_new(void);
void sl_rc_daemon_free(struct sl_rc_daemon *d);

int sl_rc_daemon_reconcile(void *arg, struct sl_daemon_ctx *ctx, const struct sl_env_config *env,
                           struct sl_run_result *res, struct sl_error *err);
void sl_rc_daemon_retire(void *arg, const struct sl_config *cfg);

#endif
