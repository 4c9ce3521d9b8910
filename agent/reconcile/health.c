#include "health.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *sl_health_name(enum sl_health h)
{
    switch (h) {
    case SL_HEALTH_CURRENT:
        return "Current";
    case SL_HEALTH_IN_PROGRESS:
        return "InProgress";
    case SL_HEALTH_FAILED:
        return "Failed";
    case SL_HEALTH_TERMINATING:
        return "Terminating";
    case SL_HEALTH_NOT_FOUND:
        return "NotFound";
    case SL_HEALTH_UNKNOWN:
        break;
    }
    return "Unknown";
}

static enum sl_health say(enum sl_health h, char *msg, size_t len, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static enum sl_health say(enum sl_health h, char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (msg != NULL && len > 0) {
        va_start(ap, fmt);
        vsnprintf(msg, len, fmt, ap);
        va_end(ap);
    }
    return h;
}

static const json_t *condition(const json_t *obj, const char *type)
{
    const json_t *conds = json_object_get(json_object_get(obj, "status"), "conditions"), *c;
    size_t i;

    json_array_foreach(conds, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t != NULL && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

static const char *cond_field(const json_t *c, const char *f)
{
    const char *s = json_string_value(json_object_get(c, f));
    return s != NULL ? s : "";
}

static bool cond_is(const json_t *obj, const char *type, const char *status)
{
    const json_t *c = condition(obj, type);
    return c != NULL && strcmp(cond_field(c, "status"), status) == 0;
}

/* An integer field (missing = 0; *present tells which). */
static int64_t ival(const json_t *o, const char *key, bool *present)
{
    const json_t *v = json_object_get(o, key);
    if (present != NULL)
        *present = json_is_integer(v);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static int64_t spec_replicas(const json_t *obj)
{
    bool present;
    int64_t r = ival(json_object_get(obj, "spec"), "replicas", &present);
    return present ? r : 1;
}

static enum sl_health deployment(const json_t *obj, char *msg, size_t len)
{
    const json_t *st = json_object_get(obj, "status"), *prog = condition(obj, "Progressing");
    int64_t spec = spec_replicas(obj);
    int64_t replicas = ival(st, "replicas", NULL), updated = ival(st, "updatedReplicas", NULL);
    int64_t ready = ival(st, "readyReplicas", NULL), avail = ival(st, "availableReplicas", NULL);

    if (prog != NULL && strcmp(cond_field(prog, "reason"), "ProgressDeadlineExceeded") == 0)
        return say(SL_HEALTH_FAILED, msg, len, "Deployment: progress deadline exceeded");
    if (spec > replicas)
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "Deployment: %lld of %lld replicas exist",
                   (long long)replicas, (long long)spec);
    if (spec > updated)
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "Deployment: %lld of %lld replicas updated",
                   (long long)updated, (long long)spec);
    if (replicas > spec)
        return say(SL_HEALTH_IN_PROGRESS, msg, len,
                   "Deployment: %lld old replicas still terminating", (long long)(replicas - spec));
    if (updated > avail)
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "Deployment: %lld of %lld replicas available",
                   (long long)avail, (long long)updated);
    if (spec > ready)
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "Deployment: %lld of %lld replicas ready",
                   (long long)ready, (long long)spec);
    if (json_object_get(json_object_get(obj, "spec"), "progressDeadlineSeconds") != NULL &&
        !(prog != NULL && strcmp(cond_field(prog, "status"), "True") == 0 &&
          strcmp(cond_field(prog, "reason"), "NewReplicaSetAvailable") == 0))
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "Deployment: rollout not complete");
    if (!cond_is(obj, "Available", "True"))
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "Deployment: not Available");
    return say(SL_HEALTH_CURRENT, msg, len, "Deployment: %lld replicas ready", (long long)ready);
}

static enum sl_health statefulset(const json_t *obj, char *msg, size_t len)
{
    const json_t *spec_o = json_object_get(obj, "spec"), *st = json_object_get(obj, "status");
    const json_t *strategy = json_object_get(spec_o, "updateStrategy");
    const char *type = json_string_value(json_object_get(strategy, "type"));
    int64_t spec = spec_replicas(obj);
    int64_t replicas = ival(st, "replicas", NULL), ready = ival(st, "readyReplicas", NULL);
    bool has_partition;
    int64_t partition =
            ival(json_object_get(strategy, "rollingUpdate"), "partition", &has_partition);
    const char *cur = json_string_value(json_object_get(st, "currentRevision"));
    const char *upd = json_string_value(json_object_get(st, "updateRevision"));

    if (type != NULL && strcmp(type, "OnDelete") == 0)
        return say(SL_HEALTH_CURRENT, msg, len, "StatefulSet: OnDelete strategy");
    if (spec > replicas)
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "StatefulSet: %lld of %lld replicas exist",
                   (long long)replicas, (long long)spec);
    if (spec > ready)
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "StatefulSet: %lld of %lld replicas ready",
                   (long long)ready, (long long)spec);
    if (replicas > spec)
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "StatefulSet: extra replicas terminating");
    if (has_partition && partition > 0) {
        if (ival(st, "updatedReplicas", NULL) < spec - partition)
            return say(SL_HEALTH_IN_PROGRESS, msg, len, "StatefulSet: partitioned rollout");
        return say(SL_HEALTH_CURRENT, msg, len, "StatefulSet: partitioned rollout complete");
    }
    if (spec > ival(st, "currentReplicas", NULL))
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "StatefulSet: replicas not current");
    if (cur == NULL || upd == NULL || strcmp(cur, upd) != 0)
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "StatefulSet: rolling update in progress");
    return say(SL_HEALTH_CURRENT, msg, len, "StatefulSet: %lld replicas ready", (long long)ready);
}

static enum sl_health daemonset(const json_t *obj, char *msg, size_t len)
{
    const json_t *st = json_object_get(obj, "status");
    bool has_gen, has_obs, has_desired;
    int64_t desired;

    ival(json_object_get(obj, "metadata"), "generation", &has_gen);
    ival(st, "observedGeneration", &has_obs);
    desired = ival(st, "desiredNumberScheduled", &has_desired);
    if (!has_gen || !has_obs || !has_desired)
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "DaemonSet: status not reported yet");
    if (desired > ival(st, "currentNumberScheduled", NULL) ||
        desired > ival(st, "updatedNumberScheduled", NULL))
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "DaemonSet: pods not scheduled/updated");
    if (desired > ival(st, "numberAvailable", NULL) || desired > ival(st, "numberReady", NULL))
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "DaemonSet: pods not ready");
    return say(SL_HEALTH_CURRENT, msg, len, "DaemonSet: %lld pods ready", (long long)desired);
}

static enum sl_health replicaset(const json_t *obj, char *msg, size_t len)
{
    const json_t *st = json_object_get(obj, "status");
    int64_t spec = spec_replicas(obj);

    if (cond_is(obj, "ReplicaFailure", "True"))
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "ReplicaSet: replica failure");
    if (spec > ival(st, "fullyLabeledReplicas", NULL) ||
        spec > ival(st, "availableReplicas", NULL) || spec > ival(st, "readyReplicas", NULL))
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "ReplicaSet: replicas not ready");
    if (ival(st, "replicas", NULL) > spec)
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "ReplicaSet: extra replicas terminating");
    return say(SL_HEALTH_CURRENT, msg, len, "ReplicaSet: ready");
}

static int64_t parse_time(const char *s)
{
    struct tm tm;
    char *end;

    if (s == NULL)
        return -1;
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL)
        return -1;
    return (int64_t)timegm(&tm);
}

static enum sl_health pod(const json_t *obj, int64_t now, char *msg, size_t len)
{
    const json_t *st = json_object_get(obj, "status"), *cs, *c;
    const char *phase = json_string_value(json_object_get(st, "phase"));
    size_t i;

    if (phase != NULL && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0))
        return say(SL_HEALTH_CURRENT, msg, len, "Pod: %s", phase);
    if (phase != NULL && strcmp(phase, "Running") == 0 && cond_is(obj, "Ready", "True"))
        return say(SL_HEALTH_CURRENT, msg, len, "Pod: running and ready");
    cs = json_object_get(st, "containerStatuses");
    json_array_foreach(cs, i, c)
    {
        const char *reason = json_string_value(
                json_object_get(json_object_get(json_object_get(c, "state"), "waiting"), "reason"));
        if (reason != NULL && strcmp(reason, "CrashLoopBackOff") == 0) {
            const char *name = json_string_value(json_object_get(c, "name"));
            return say(SL_HEALTH_FAILED, msg, len, "Pod: container %s in CrashLoopBackOff",
                       name != NULL ? name : "?");
        }
    }
    if (phase != NULL && strcmp(phase, "Pending") == 0) {
        const json_t *sc = condition(obj, "PodScheduled");
        if (sc != NULL && strcmp(cond_field(sc, "status"), "False") == 0 &&
            strcmp(cond_field(sc, "reason"), "Unschedulable") == 0) {
            int64_t t = parse_time(json_string_value(json_object_get(sc, "lastTransitionTime")));
            if (t >= 0 && now - t > 15)
                return say(SL_HEALTH_FAILED, msg, len, "Pod: unschedulable");
        }
    }
    return say(SL_HEALTH_IN_PROGRESS, msg, len, "Pod: %s", phase ? phase : "no phase yet");
}

static enum sl_health job(const json_t *obj, char *msg, size_t len)
{
    const json_t *st = json_object_get(obj, "status");

    if (cond_is(obj, "Complete", "True"))
        return say(SL_HEALTH_CURRENT, msg, len, "Job: complete");
    if (cond_is(obj, "Failed", "True"))
        return say(SL_HEALTH_FAILED, msg, len, "Job: failed");
    if (cond_is(obj, "Suspended", "True") &&
        json_is_true(json_object_get(json_object_get(obj, "spec"), "suspend")))
        return say(SL_HEALTH_CURRENT, msg, len, "Job: suspended");
    if (json_object_get(st, "startTime") == NULL)
        return say(SL_HEALTH_IN_PROGRESS, msg, len, "Job: not started");
    return say(SL_HEALTH_CURRENT, msg, len, "Job: running");
}

static enum sl_health crd(const json_t *obj, char *msg, size_t len)
{
    const json_t *est = condition(obj, "Established");

    if (cond_is(obj, "NamesAccepted", "False"))
        return say(SL_HEALTH_FAILED, msg, len, "CRD: names not accepted");
    if (est != NULL && strcmp(cond_field(est, "status"), "True") == 0)
        return say(SL_HEALTH_CURRENT, msg, len, "CRD: established");
    if (est != NULL && strcmp(cond_field(est, "status"), "False") == 0 &&
        strcmp(cond_field(est, "reason"), "Installing") != 0)
        return say(SL_HEALTH_FAILED, msg, len, "CRD: not established (%s)",
                   cond_field(est, "reason"));
    return say(SL_HEALTH_IN_PROGRESS, msg, len, "CRD: not established yet");
}

enum sl_health sl_health_compute(const json_t *obj, int64_t now, char *msg, size_t msglen)
{
    const json_t *md = json_object_get(obj, "metadata"), *st = json_object_get(obj, "status");
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *api = json_string_value(json_object_get(obj, "apiVersion"));
    const char *slash = api != NULL ? strchr(api, '/') : NULL;
    bool core = api != NULL && slash == NULL;
    bool apps = slash != NULL && strncmp(api, "apps/", 5) == 0;
    bool has_gen, has_obs;
    int64_t gen, obs;

    if (msg != NULL && msglen > 0)
        msg[0] = '\0';
    if (!json_is_object(obj) || kind == NULL)
        return say(SL_HEALTH_UNKNOWN, msg, msglen, "not a Kubernetes object");
    if (json_object_get(md, "deletionTimestamp") != NULL &&
        !json_is_null(json_object_get(md, "deletionTimestamp")))
        return say(SL_HEALTH_TERMINATING, msg, msglen, "being deleted");
    gen = ival(md, "generation", &has_gen);
    obs = ival(st, "observedGeneration", &has_obs);
    if (has_gen && has_obs && gen != obs)
        return say(SL_HEALTH_IN_PROGRESS, msg, msglen,
                   "generation %lld not observed yet (observed %lld)", (long long)gen,
                   (long long)obs);
    if (cond_is(obj, "Reconciling", "True"))
        return say(SL_HEALTH_IN_PROGRESS, msg, msglen, "Reconciling");
    if (cond_is(obj, "Stalled", "True"))
        return say(SL_HEALTH_FAILED, msg, msglen, "Stalled: %s",
                   cond_field(condition(obj, "Stalled"), "message"));
    if (apps && strcmp(kind, "Deployment") == 0)
        return deployment(obj, msg, msglen);
    if (apps && strcmp(kind, "StatefulSet") == 0)
        return statefulset(obj, msg, msglen);
    if (apps && strcmp(kind, "DaemonSet") == 0)
        return daemonset(obj, msg, msglen);
    if (apps && strcmp(kind, "ReplicaSet") == 0)
        return replicaset(obj, msg, msglen);
    if (core && strcmp(kind, "Pod") == 0)
        return pod(obj, now, msg, msglen);
    if (slash != NULL && strncmp(api, "batch/", 6) == 0 && strcmp(kind, "Job") == 0)
        return job(obj, msg, msglen);
    if (core && strcmp(kind, "PersistentVolumeClaim") == 0) {
        const char *phase = json_string_value(json_object_get(st, "phase"));
        if (phase != NULL && strcmp(phase, "Bound") == 0)
            return say(SL_HEALTH_CURRENT, msg, msglen, "PVC: bound");
        return say(SL_HEALTH_IN_PROGRESS, msg, msglen, "PVC: %s", phase ? phase : "not bound");
    }
    if (core && strcmp(kind, "Service") == 0) {
        const json_t *spec = json_object_get(obj, "spec");
        const char *type = json_string_value(json_object_get(spec, "type"));
        const char *ip = json_string_value(json_object_get(spec, "clusterIP"));
        if (type != NULL && strcmp(type, "LoadBalancer") == 0 && (ip == NULL || ip[0] == '\0'))
            return say(SL_HEALTH_IN_PROGRESS, msg, msglen, "Service: no cluster IP yet");
        return say(SL_HEALTH_CURRENT, msg, msglen, "Service: ready");
    }
    if (strcmp(kind, "CustomResourceDefinition") == 0 && slash != NULL &&
        strncmp(api, "apiextensions.k8s.io/", 21) == 0)
        return crd(obj, msg, msglen);
    if (condition(obj, "Ready") != NULL) {
        if (cond_is(obj, "Ready", "True"))
            return say(SL_HEALTH_CURRENT, msg, msglen, "Ready");
        return say(SL_HEALTH_IN_PROGRESS, msg, msglen, "not Ready: %s",
                   cond_field(condition(obj, "Ready"), "message"));
    }
    return say(SL_HEALTH_CURRENT, msg, msglen, "exists");
}
