/*
 * Health of one live object by the kstatus rules (cli-utils pkg/kstatus): pure
 * functions on the JSON the API server returned, no I/O.
 *
 * Order: deletionTimestamp -> Terminating; generation != observedGeneration ->
 * InProgress; Reconciling=True -> InProgress, Stalled=True -> Failed; the kind rule
 * (Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, Job, PVC, Service, CRD); then a
 * Ready condition (True -> Current, otherwise InProgress); otherwise Current.
 */
#ifndef SL_RECONCILE_HEALTH_H
#define SL_RECONCILE_HEALTH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum sl_health {
    SL_HEALTH_CURRENT,
    SL_HEALTH_IN_PROGRESS,
    SL_HEALTH_FAILED,
    SL_HEALTH_TERMINATING,
    SL_HEALTH_NOT_FOUND,
    SL_HEALTH_UNKNOWN,
};

/*
 * Compute the status of obj; msg (may be NULL) gets a short human reason
 * ("Deployment: 1 of 3 replicas available"). now is unix seconds (for the Pod
 * "unschedulable for more than 15s" rule).
 */
enum sl_health sl_health_compute(const json_t *obj, int64_t now, char *msg, size_t msglen);

/* "Current", "InProgress", "Failed", "Terminating", "NotFound", "Unknown" */
const char *sl_health_name(enum sl_health h);

#endif
