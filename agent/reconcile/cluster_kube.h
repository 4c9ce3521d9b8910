/*
 * struct sl_cluster on top of the Kubernetes client (agent/kube): the engine's only way
 * to the API server in the real binary. Built only when the kube module exists.
 * The adapter can clone itself (one more client from the same options, for another
 * thread); clones share the configured request rate.
 */
#ifndef SL_RECONCILE_CLUSTER_KUBE_H
#define SL_RECONCILE_CLUSTER_KUBE_H

#include "engine.h"
#include "kube.h"

struct sl_kube_cluster {
    struct sl_kube *kube;
    struct sl_kube_options opts; /* strings borrowed from the configuration */
};

/* Open a client from opts (copied; its strings must outlive the cluster). */
int sl_kube_cluster_open(struct sl_kube_cluster **out, const struct sl_kube_options *opts,
                         struct sl_error *err);
void sl_kube_cluster_free(struct sl_kube_cluster *kc);

/* Wrap kc (borrowed: it must outlive the cluster). */
void sl_cluster_from_kube(struct sl_cluster *out, struct sl_kube_cluster *kc);

#endif
