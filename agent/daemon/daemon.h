/*
 * `sluice run`: the long-running service.
 *
 * One main thread owns all state: it waits in ppoll() for signals (handlers
 * only set flags), the HTTP endpoint, the control socket and the runs'
 * completions, and decides what runs next. Each environment run gets a
 * thread of its own, up to daemon.parallel at once, through the
 * sl_reconcile_env_fn seam (runresult.h); `sluice run` puts the reconcile
 * itself in a short-lived worker process per run. A slow environment (a long
 * health wait) therefore never delays another, and the endpoint, the
 * watchdog and signals stay responsive; a third kind of thread delivers
 * notifications from a bounded queue.
 *
 * Scheduling: each environment is due at its interval plus random jitter;
 * a failure backs off exponentially (daemon.backoffMin doubling to
 * daemon.backoffMax); each environment has its own timer and failure count,
 * so one failing environment never delays another's schedule. A webhook, the
 * control socket ("poll [ENV]") or SIGUSR1 makes environments due now; a
 * trigger that arrives during that environment's run queues one more run.
 *
 * Signals: SIGHUP reloads the configuration (a bad one is rejected with its
 * errors logged and the old one keeps running; a good one takes effect
 * once no run is in progress, and no new run starts until then);
 * SIGTERM/SIGINT stop: no new runs, the running ones are asked to stop at a
 * safe point and given daemon.stopTimeout (then abandoned: worker processes
 * are killed), the daemon state is saved. The state directory is locked (flock) against a second
 * instance. Core dumps are disabled before any secret is read.
 */
#ifndef SL_DAEMON_H
#define SL_DAEMON_H

#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "diag.h"
#include "error.h"
#include "notify.h"
#include "runresult.h"

#define SL_DAEMON_LOCK_FILE      "daemon.lock"
#define SL_DAEMON_CONTROL_SOCKET "control.sock"
#define SL_DAEMON_STATE_FILE     "daemon.json"

struct sl_daemon_opts {
    const char *config_path;
    sl_reconcile_env_fn reconcile;
    void *reconcile_arg;
    /*
     * reconcile is called on several threads at once (one per running
     * environment) and must be safe for that.
     * Optional: called on the main thread, while no run is in progress, just
     * before a configuration given to reconcile is freed (after a reload and
     * at exit), so that state built for it (clients, caches) can be dropped.
     */
    void (*retire)(void *arg, const struct sl_config *cfg);
    /*
     * Optional: deliver one notification outside this process (`sluice run`
     * uses a worker process, so the daemon itself never loads libcurl).
     * config_yaml is the normalised configuration of the run it reports.
     * Called on the notification thread; NULL sends in-process.
     */
    int (*deliver)(void *arg, const char *config_yaml, size_t config_len,
                   const struct sl_notice *no, bool (*cancelled)(void *carg), void *carg,
                   struct sl_error *err);
    const char *version;
    const char *commit;
};

/*
 * Run until SIGTERM/SIGINT. Returns 0 after a clean stop, -1 when startup
 * failed (every configuration problem is in diags) or the stop timed out.
 */
int sl_daemon_run(const struct sl_daemon_opts *opts, struct sl_diags *diags, struct sl_error *err);

/* Disable core dumps and ptrace-style access (prctl + RLIMIT_CORE). */
int sl_daemon_harden(struct sl_error *err);

/*
 * Lock state_dir/daemon.lock exclusively (created 0600) and write our pid.
 * Fails with SL_ECONFLICT naming the holder when another process has it. The
 * lock lasts until *fd_out is closed. `reconcile --once` uses the same lock.
 */
int sl_daemon_lock(const char *state_dir, int *fd_out, struct sl_error *err);

/*
 * Ask a running daemon: "poll", "poll ENV" or "status". The reply (one line;
 * "ok ..." or "error ...", JSON for status) is appended to reply. Fails with
 * SL_ENOTFOUND when no daemon listens on state_dir/control.sock.
 */
int sl_daemon_control(const char *state_dir, const char *request, struct sl_buf *reply,
                      struct sl_error *err);

/*
 * Delay before the next run: the interval plus up to jitter percent after a
 * success; backoffMin * 2^(failures-1), capped at backoffMax, plus the same
 * jitter after failures. rnd is a uniform random 32-bit value.
 */
int64_t sl_daemon_next_delay_ms(const struct sl_daemon_config *dc, int64_t interval_ms,
                                unsigned failures, uint32_t rnd);

#endif
