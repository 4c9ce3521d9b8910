/*
 * struct sl_cluster on top of the Kubernetes client (agent/kube): the engine's only way
 * to the API server in the real binary. Built only when the kube module exists.
 */
#ifndef SL_RECONCILE_CLUSTER_KUBE_H
#define SL_RECONCILE_CLUSTER_KUBE_H

#include "engine.h"

struct sl_kube;

/* Wrap k (borrowed: it must outlive the cluster). */
void sl_cluster_from_kube(struct sl_cluster *out, struct sl_kube *k);

#endif
