/*
 * What the reconcile-related CLI verbs share: the configuration, the kube client
 * wrapped as struct sl_cluster, the source/render pipeline wrapped as struct
 * sl_desired, and the engine options derived from the configuration.
 */
#ifndef SL_RECONCILE_SESSION_H
#define SL_RECONCILE_SESSION_H

#include <signal.h>
#include <stdbool.h>

#include "config.h"
#include "engine.h"
#include "error.h"

struct sl_kube_cluster;
struct sl_pipeline;

enum {
    SL_SESSION_CLUSTER = 1u << 0, /* open the kube client */
    SL_SESSION_SOURCE = 1u << 1,  /* open the source pipeline */
    SL_SESSION_NO_POLL = 1u << 2, /* resolve from the local git cache, no fetch */
};

struct sl_rc_session {
    struct sl_config *cfg; /* owned unless opened with sl_rc_session_open_config */
    bool borrowed_cfg;
    struct sl_kube_cluster *kube;
    struct sl_pipeline *pipeline;
    struct sl_cluster cluster;
    struct sl_desired desired;
    struct sl_rc_opts opts;
};

/* Load config_path and open what flags ask for. cancel may be NULL. */
int sl_rc_session_open(struct sl_rc_session *s, const char *config_path, unsigned flags,
                       const volatile sig_atomic_t *cancel, struct sl_error *err);
/*
 * Same with a configuration the caller keeps (the daemon): cfg must outlive the session.
 * A long-running caller calls sl_rc_session_new_round() before each round so that the
 * source is fetched again.
 */
int sl_rc_session_open_config(struct sl_rc_session *s, const struct sl_config *cfg, unsigned flags,
                              const volatile sig_atomic_t *cancel, struct sl_error *err);
void sl_rc_session_new_round(struct sl_rc_session *s);

/* Record the source's resolutions (after reconciling). */
int sl_rc_session_finish(struct sl_rc_session *s, struct sl_error *err);
void sl_rc_session_close(struct sl_rc_session *s);

/* Print every config diagnostic to stderr (for load failures). */
int sl_rc_load_config(struct sl_config **out, const char *config_path, struct sl_error *err);

#endif
