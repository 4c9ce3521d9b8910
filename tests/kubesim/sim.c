/*
 * Server-side defaults and the workload simulator.
 *
 * Defaults are the few a client observes (Service clusterIP and ports,
 * Deployment replicas and progressDeadlineSeconds, Secret stringData,
 * CRD conditions); they are unowned, as in the real server. The simulator
 * plays the controllers: after --ready-delay a Deployment, StatefulSet,
 * DaemonSet, ReplicaSet or Job reports ready through its status, as the
 * real controllers write it; a pod template whose image contains the
 * --fail-image pattern never becomes ready, and after --fail-after the
 * Deployment reports Progressing=False/ProgressDeadlineExceeded (a Job
 * reports Failed=True/BackoffLimitExceeded).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "kubesim.h"

static void set_default(json_t *obj, const char *k, json_t *v)
{
    if (json_is_object(obj) && !json_object_get(obj, k))
        json_object_set_new(obj, k, v);
    else
        json_decref(v);
}

static json_t *obj_path(json_t *o, const char *const *path)
{
    for (size_t i = 0; path[i] && o; i++)
        o = json_object_get(o, path[i]);
    return o;
}

static void default_ports(json_t *ports, bool service)
{
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        set_default(p, "protocol", json_string("TCP"));
        if (service && json_object_get(p, "port"))
            set_default(p, "targetPort", json_deep_copy(json_object_get(p, "port")));
    }
}

static void default_podspec(json_t *ps)
{
    if (!json_is_object(ps))
        return;
    static const char *const lists[] = {"containers", "initContainers", NULL};
    for (size_t l = 0; lists[l]; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(ps, lists[l]), i, c)
                default_ports(json_object_get(c, "ports"), false);
    }
}

char *ks_base64(const void *data, size_t n)
{
    size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(len);

    if (out != NULL)
        sodium_bin2base64(out, len, data, n, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

void ks_default_object(struct ks_state *st, const struct ks_resource *r, json_t *obj)
{
    const char *g = r->group, *k = r->kind;
    json_t *spec = json_object_get(obj, "spec");
    if (r->crd)
        return;
    if (!*g && strcmp(k, "Namespace") == 0) {
        json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(json_object_get(obj, "metadata"), "labels", labels);
        }
        json_object_set_new(
                labels, "kubernetes.io/metadata.name",
                json_deep_copy(json_object_get(json_object_get(obj, "metadata"), "name")));
        set_default(obj, "spec", json_pack("{s:[s]}", "finalizers", "kubernetes"));
        if (!json_object_get(obj, "status"))
            json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
    } else if (!*g && strcmp(k, "Service") == 0 && json_is_object(spec)) {
        set_default(spec, "type", json_string("ClusterIP"));
        const char *type = json_string_value(json_object_get(spec, "type"));
        if (strcmp(type ? type : "", "ExternalName") != 0) {
            if (!json_object_get(spec, "clusterIP")) {
                char ip[32];
                uint32_t n = st->next_ip++;
                snprintf(ip, sizeof ip, "10.96.%u.%u", (n >> 8) & 255, n & 255);
                json_object_set_new(spec, "clusterIP", json_string(ip));
            }
            set_default(spec, "clusterIPs", json_pack("[O]", json_object_get(spec, "clusterIP")));
            set_default(spec, "ipFamilies", json_pack("[s]", "IPv4"));
            set_default(spec, "ipFamilyPolicy", json_string("SingleStack"));
            set_default(spec, "internalTrafficPolicy", json_string("Cluster"));
        }
        set_default(spec, "sessionAffinity", json_string("None"));
        default_ports(json_object_get(spec, "ports"), true);
        /* A LoadBalancer gets an address at once (TEST-NET-1, never routed). */
        if (strcmp(type ? type : "", "LoadBalancer") == 0) {
            json_t *lb = json_pack("{s:{s:[{s:s,s:s}]}}", "loadBalancer", "ingress", "ip",
                                   "192.0.2.10", "ipMode", "VIP");
            json_object_set_new(obj, "status", lb);
        } else {
            json_object_set_new(obj, "status", json_pack("{s:{}}", "loadBalancer"));
        }
    } else if (!*g && strcmp(k, "Secret") == 0) {
        set_default(obj, "type", json_string("Opaque"));
        json_t *sd = json_object_get(obj, "stringData");
        if (json_is_object(sd)) {
            json_t *data = json_object_get(obj, "data");
            if (!json_is_object(data)) {
                data = json_object();
                json_object_set_new(obj, "data", data);
            }
            const char *key;
            json_t *v;
            json_object_foreach(sd, key, v)
            {
                const char *s = json_string_value(v);
                char *e = s ? ks_base64(s, strlen(s)) : NULL;
                if (e)
                    json_object_set_new(data, key, json_string(e));
                free(e);
            }
            json_object_del(obj, "stringData");
        }
    } else if (!*g && strcmp(k, "Pod") == 0) {
        default_podspec(spec);
        set_default(obj, "status", json_pack("{s:s}", "phase", "Pending"));
    } else if (!*g && strcmp(k, "PersistentVolumeClaim") == 0) {
        set_default(obj, "status", json_pack("{s:s}", "phase", "Bound"));
    } else if (strcmp(g, "apps") == 0 && json_is_object(spec)) {
        if (strcmp(k, "DaemonSet") != 0)
            set_default(spec, "replicas", json_integer(1));
        set_default(spec, "revisionHistoryLimit", json_integer(10));
        if (strcmp(k, "Deployment") == 0) {
            set_default(spec, "progressDeadlineSeconds", json_integer(600));
            set_default(spec, "strategy",
                        json_pack("{s:s,s:{s:s,s:s}}", "type", "RollingUpdate", "rollingUpdate",
                                  "maxSurge", "25%", "maxUnavailable", "25%"));
        } else if (strcmp(k, "StatefulSet") == 0) {
            set_default(spec, "podManagementPolicy", json_string("OrderedReady"));
            set_default(spec, "updateStrategy",
                        json_pack("{s:s,s:{s:i}}", "type", "RollingUpdate", "rollingUpdate",
                                  "partition", 0));
        } else if (strcmp(k, "DaemonSet") == 0) {
            set_default(spec, "updateStrategy",
                        json_pack("{s:s,s:{s:i,s:i}}", "type", "RollingUpdate", "rollingUpdate",
                                  "maxSurge", 0, "maxUnavailable", 1));
        }
        default_podspec(json_object_get(json_object_get(spec, "template"), "spec"));
    } else if (strcmp(g, "batch") == 0 && json_is_object(spec)) {
        if (strcmp(k, "Job") == 0) {
            set_default(spec, "completions", json_integer(1));
            set_default(spec, "parallelism", json_integer(1));
            set_default(spec, "backoffLimit", json_integer(6));
            default_podspec(json_object_get(json_object_get(spec, "template"), "spec"));
        } else {
            set_default(spec, "concurrencyPolicy", json_string("Allow"));
            set_default(spec, "suspend", json_false());
            static const char *const tp[] = {"jobTemplate", "spec", "template", "spec", NULL};
            default_podspec(obj_path(spec, tp));
        }
    } else if (strcmp(g, "apiextensions.k8s.io") == 0) {
        char ts[40];
        ks_now_rfc3339(ts, sizeof ts);
        json_t *names = json_object_get(spec, "names");
        json_t *stored = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(spec, "versions"), i, v)
        {
            if (json_is_true(json_object_get(v, "storage")))
                json_array_append(stored, json_object_get(v, "name"));
        }
        json_t *status = json_pack(
                "{s:[{s:s,s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s,s:s}],s:o,s:o}", "conditions", "type",
                "NamesAccepted", "status", "True", "reason", "NoConflicts", "message",
                "no conflicts found", "lastTransitionTime", ts, "type", "Established", "status",
                "True", "reason", "InitialNamesAccepted", "message",
                "the initial names have been accepted", "lastTransitionTime", ts, "acceptedNames",
                names ? json_incref(names) : json_object(), "storedVersions", stored);
        json_t *old = json_object_get(obj, "status");
        /* Keep the transition times of an unchanged status (no spurious writes). */
        json_t *oc = json_object_get(old, "conditions");
        if (json_is_array(oc) && json_array_size(oc) == 2)
            json_object_set(status, "conditions", oc);
        json_object_set_new(obj, "status", status);
    }
}

/* ---- simulator ------------------------------------------------------------ */

static bool template_fails(const struct ks_state *st, const json_t *podspec)
{
    if (!st->opt.fail_image || !*st->opt.fail_image)
        return false;
    static const char *const lists[] = {"containers", "initContainers", NULL};
    for (size_t l = 0; lists[l]; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(podspec, lists[l]), i, c)
        {
            const char *img = json_string_value(json_object_get(c, "image"));
            if (img && strstr(img, st->opt.fail_image))
                return true;
        }
    }
    return false;
}

void ks_sim_notify(struct ks_state *st, const struct ks_resource *r, const char *key)
{
    if (r->crd)
        return;
    bool workload = (strcmp(r->group, "apps") == 0) ||
                    (strcmp(r->group, "batch") == 0 && strcmp(r->kind, "Job") == 0) ||
                    (!r->group[0] && strcmp(r->kind, "Pod") == 0);
    if (!workload)
        return;
    json_t *obj = json_object_get(st->objects, key);
    json_int_t gen =
            json_integer_value(json_object_get(json_object_get(obj, "metadata"), "generation"));
    json_t *s = json_object_get(st->sim, key);
    if (s && json_integer_value(json_object_get(s, "gen")) == gen)
        return;
    /* A rolling update keeps the old pods: what was ready stays ready (up to
     * the new replica count) until the new template is. */
    json_t *tmpl = json_object_get(json_object_get(obj, "spec"), "template");
    bool tmpl_changed = !s || !json_equal(json_object_get(s, "template"), tmpl);
    json_int_t prev_ready =
            json_integer_value(json_object_get(json_object_get(obj, "status"), "readyReplicas"));
    json_object_set_new(st->sim, key,
                        json_pack("{s:I,s:I,s:s,s:s,s:b,s:O,s:b,s:I}", "gen", gen, "since",
                                  (json_int_t)ks_now_ms(), "group", r->group, "resource",
                                  r->resource, "done", 0, "template", tmpl ? tmpl : json_null(),
                                  "templateChanged", tmpl_changed, "prevReady", prev_ready));
    pthread_cond_signal(&st->sim_wake);
}

static json_t *condition(const char *type, const char *status, const char *reason,
                         const char *message, const char *ts)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", status, "reason", reason,
                     "message", message, "lastUpdateTime", ts, "lastTransitionTime", ts);
}

static void record_status_write(json_t *live, json_t *obj, const char *gv)
{
    ks_update_managed(live, obj, "kube-controller-manager", "status", true, gv);
}

/* ---- ReplicaSets and Pods (--pods) --------------------------------------- */

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static bool owned_by(const json_t *obj, const char *uid)
{
    size_t i;
    json_t *ref;
    json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "ownerReferences"), i, ref)
    {
        if (strcmp(json_string_value(json_object_get(ref, "uid")) ?: "", uid) == 0)
            return true;
    }
    return false;
}

static json_t *owner_ref(const json_t *owner, const char *api_version, const char *kind)
{
    json_t *m = json_object_get(owner, "metadata");
    return json_pack("[{s:s,s:s,s:O,s:O,s:b,s:b}]", "apiVersion", api_version, "kind", kind, "name",
                     json_object_get(m, "name"), "uid", json_object_get(m, "uid"), "controller", 1,
                     "blockOwnerDeletion", 1);
}

/* Keys (owned copies) of objects of group/resource in ns owned by uid. */
static json_t *owned_keys(struct ks_state *st, const char *group, const char *resource,
                          const char *ns, const char *uid)
{
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/%s/%s/", group, resource, ns);
    json_t *keys = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(st->objects, k, v)
    {
        if (strncmp(k, prefix, strlen(prefix)) == 0 && owned_by(v, uid))
            json_array_append_new(keys, json_string(k));
    }
    return keys;
}

/* The Deployment controller: one ReplicaSet per pod template, old ones scaled down. */
static void sync_replicasets(struct ks_state *st, const json_t *dep, json_int_t want, bool ready)
{
    const struct ks_resource *rsr = ks_find_resource(st, "apps", "v1", "replicasets");
    json_t *meta = json_object_get(dep, "metadata");
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *uid = json_string_value(json_object_get(meta, "uid"));
    json_t *spec = json_object_get(dep, "spec");
    json_t *tmpl = json_object_get(spec, "template");
    if (!rsr || !ns || !name || !uid || !json_is_object(tmpl))
        return;
    char *dump = json_dumps(tmpl, JSON_COMPACT | JSON_SORT_KEYS);
    char hash[16], rsname[300], key[1024];
    snprintf(hash, sizeof hash, "%08x", dump ? fnv1a(dump) : 0u);
    free(dump);
    snprintf(rsname, sizeof rsname, "%s-%s", name, hash);
    ks_object_key(key, sizeof key, rsr, ns, rsname);
    json_t *keys = owned_keys(st, "apps", "replicasets", ns, uid);
    long revision = 0;
    size_t i;
    json_t *kj;
    json_array_foreach(keys, i, kj)
    {
        json_t *o = json_object_get(st->objects, json_string_value(kj));
        const char *rev = json_string_value(
                json_object_get(json_object_get(json_object_get(o, "metadata"), "annotations"),
                                "deployment.kubernetes.io/revision"));
        long n = rev ? strtol(rev, NULL, 10) : 0;
        if (n > revision)
            revision = n;
    }
    json_t *cur = json_object_get(st->objects, key);
    if (!cur) {
        char revs[32];
        snprintf(revs, sizeof revs, "%ld", revision + 1);
        json_t *t = json_deep_copy(tmpl);
        json_t *tm = json_object_get(t, "metadata");
        if (!json_is_object(tm)) {
            tm = json_object();
            json_object_set_new(t, "metadata", tm);
        }
        json_t *tl = json_object_get(tm, "labels");
        if (!json_is_object(tl)) {
            tl = json_object();
            json_object_set_new(tm, "labels", tl);
        }
        json_object_set_new(tl, "pod-template-hash", json_string(hash));
        json_t *sel = json_deep_copy(json_object_get(spec, "selector"));
        if (!json_is_object(sel)) {
            json_decref(sel);
            sel = json_object();
        }
        json_t *ml = json_object_get(sel, "matchLabels");
        if (!json_is_object(ml)) {
            ml = json_object();
            json_object_set_new(sel, "matchLabels", ml);
        }
        json_object_set_new(ml, "pod-template-hash", json_string(hash));
        json_t *rs = json_pack("{s:{s:s,s:s,s:o,s:{s:s},s:o},s:{s:I,s:o,s:o}}", "metadata", "name",
                               rsname, "namespace", ns, "labels", json_deep_copy(tl), "annotations",
                               "deployment.kubernetes.io/revision", revs, "ownerReferences",
                               owner_ref(dep, "apps/v1", "Deployment"), "spec", "replicas", want,
                               "selector", sel, "template", t);
        ks_create_internal(st, rsr, rs);
    } else if (json_integer_value(json_object_get(json_object_get(cur, "spec"), "replicas")) !=
               want) {
        json_t *c = json_deep_copy(cur);
        json_object_set_new(json_object_get(c, "spec"), "replicas", json_integer(want));
        ks_update_internal(st, rsr, key, c);
    }
    /* Old ReplicaSets keep serving until the new one is ready. */
    json_array_foreach(keys, i, kj)
    {
        const char *k = json_string_value(kj);
        json_t *o = json_object_get(st->objects, k);
        if (!o || strcmp(k, key) == 0 || !ready ||
            json_integer_value(json_object_get(json_object_get(o, "spec"), "replicas")) == 0)
            continue;
        json_t *c = json_deep_copy(o);
        json_object_set_new(json_object_get(c, "spec"), "replicas", json_integer(0));
        ks_update_internal(st, rsr, k, c);
    }
    json_decref(keys);
}

/* The ReplicaSet controller: spec.replicas Pods from the template. */
static void sync_pods(struct ks_state *st, const json_t *rs, json_int_t want)
{
    const struct ks_resource *pr = ks_find_resource(st, "", "v1", "pods");
    json_t *meta = json_object_get(rs, "metadata");
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *uid = json_string_value(json_object_get(meta, "uid"));
    json_t *tmpl = json_object_get(json_object_get(rs, "spec"), "template");
    if (!pr || !ns || !name || !uid)
        return;
    json_t *keys = owned_keys(st, "", "pods", ns, uid);
    json_int_t have = (json_int_t)json_array_size(keys);
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    for (; have < want; have++) {
        char pname[320], key[1024];
        do {
            char sfx[6];
            for (int i = 0; i < 5; i++) {
                st->rng = st->rng * 1103515245u + 12345u;
                sfx[i] = alphabet[(st->rng >> 16) % (sizeof alphabet - 1)];
            }
            sfx[5] = 0;
            snprintf(pname, sizeof pname, "%s-%s", name, sfx);
            ks_object_key(key, sizeof key, pr, ns, pname);
        } while (json_object_get(st->objects, key));
        json_t *labels = json_object_get(json_object_get(tmpl, "metadata"), "labels");
        json_t *pspec = json_object_get(tmpl, "spec");
        json_t *pod = json_pack("{s:{s:s,s:s,s:o,s:o},s:o}", "metadata", "name", pname, "namespace",
                                ns, "labels", labels ? json_deep_copy(labels) : json_object(),
                                "ownerReferences", owner_ref(rs, "apps/v1", "ReplicaSet"), "spec",
                                pspec ? json_deep_copy(pspec) : json_object());
        if (pod)
            ks_create_internal(st, pr, pod);
    }
    for (size_t i = json_array_size(keys); have > want && i > 0; i--, have--)
        ks_delete_internal(st, pr, json_string_value(json_array_get(keys, i - 1)));
    json_decref(keys);
}

/* Returns true when the workload reached its final state for this generation. */
static bool sim_step(struct ks_state *st, const char *key, json_t *s)
{
    json_t *live = json_object_get(st->objects, key);
    if (!live)
        return true;
    const char *group = json_string_value(json_object_get(s, "group"));
    const char *resource = json_string_value(json_object_get(s, "resource"));
    const struct ks_resource *r = ks_find_resource(st, group, NULL, resource);
    if (!r)
        return true;
    json_t *meta = json_object_get(live, "metadata");
    if (json_object_get(meta, "deletionTimestamp"))
        return true;
    json_int_t gen = json_integer_value(json_object_get(meta, "generation"));
    int64_t age = ks_now_ms() - json_integer_value(json_object_get(s, "since"));
    json_t *spec = json_object_get(live, "spec");
    json_t *podspec = json_object_get(json_object_get(spec, "template"), "spec");
    bool fails = template_fails(st, podspec);
    bool ready = !fails && age >= st->opt.ready_delay_ms;
    bool failed = fails && age >= st->opt.fail_after_ms;
    json_int_t want = json_is_integer(json_object_get(spec, "replicas"))
                              ? json_integer_value(json_object_get(spec, "replicas"))
                              : 1;
    char ts[40], gv[256], msg[512];
    ks_now_rfc3339(ts, sizeof ts);
    snprintf(gv, sizeof gv, "%s/%s", r->group, r->version);
    const char *name = json_string_value(json_object_get(meta, "name"));
    json_t *status = NULL;
    bool final = ready || failed;
    const char *k = r->kind;
    if (st->opt.pods && strcmp(k, "Deployment") == 0)
        sync_replicasets(st, live, want, ready);
    if (st->opt.pods && strcmp(k, "ReplicaSet") == 0)
        sync_pods(st, live, want);
    /* sync_* wrote other objects; this one may have been replaced meanwhile. */
    live = json_object_get(st->objects, key);
    if (!live)
        return true;
    if (strcmp(k, "Deployment") == 0 || strcmp(k, "ReplicaSet") == 0) {
        json_int_t prev = json_integer_value(json_object_get(s, "prevReady"));
        bool tchanged = json_is_true(json_object_get(s, "templateChanged"));
        json_int_t rdy = ready ? want : (prev < want ? prev : want);
        json_int_t updated = ready || !tchanged ? want : 0;
        status = json_pack("{s:I,s:I,s:I,s:I,s:I}", "observedGeneration", gen, "replicas", want,
                           "updatedReplicas", updated, "readyReplicas", rdy, "availableReplicas",
                           rdy);
        if (rdy < want)
            json_object_set_new(status, "unavailableReplicas", json_integer(want - rdy));
        /* maxUnavailable 25%, rounded down, as the controller computes it */
        bool available = rdy >= want - want / 4;
        if (rdy == 0) {
            json_object_del(status, "readyReplicas");
            json_object_del(status, "availableReplicas");
        }
        if (strcmp(k, "ReplicaSet") == 0) {
            json_object_del(status, "updatedReplicas");
            json_object_del(status, "unavailableReplicas");
            json_object_set_new(status, "fullyLabeledReplicas", json_integer(want));
        } else {
            json_t *conds = json_array();
            if (available)
                json_array_append_new(conds,
                                      condition("Available", "True", "MinimumReplicasAvailable",
                                                "Deployment has minimum availability.", ts));
            else
                json_array_append_new(conds,
                                      condition("Available", "False", "MinimumReplicasUnavailable",
                                                "Deployment does not have minimum "
                                                "availability.",
                                                ts));
            if (failed) {
                snprintf(msg, sizeof msg, "ReplicaSet \"%s-sim\" has timed out progressing.", name);
                json_array_append_new(conds, condition("Progressing", "False",
                                                       "ProgressDeadlineExceeded", msg, ts));
            } else if (ready) {
                snprintf(msg, sizeof msg, "ReplicaSet \"%s-sim\" has successfully progressed.",
                         name);
                json_array_append_new(
                        conds, condition("Progressing", "True", "NewReplicaSetAvailable", msg, ts));
            } else {
                snprintf(msg, sizeof msg, "ReplicaSet \"%s-sim\" is progressing.", name);
                json_array_append_new(
                        conds, condition("Progressing", "True", "ReplicaSetUpdated", msg, ts));
            }
            json_object_set_new(status, "conditions", conds);
        }
    } else if (strcmp(k, "StatefulSet") == 0) {
        char rev[300];
        snprintf(rev, sizeof rev, "%s-%llx", name, (unsigned long long)(gen * 2654435761u));
        json_int_t rdy = ready ? want : 0;
        status = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:s,s:I}", "observedGeneration", gen,
                           "replicas", want, "readyReplicas", rdy, "currentReplicas",
                           ready ? want : 0, "updatedReplicas", want, "availableReplicas", rdy,
                           "currentRevision", rev, "updateRevision", rev, "collisionCount",
                           (json_int_t)0);
    } else if (strcmp(k, "DaemonSet") == 0) {
        json_int_t nodes = st->opt.nodes;
        json_int_t rdy = ready ? nodes : 0;
        status = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "observedGeneration", gen,
                           "desiredNumberScheduled", nodes, "currentNumberScheduled", nodes,
                           "updatedNumberScheduled", nodes, "numberReady", rdy, "numberAvailable",
                           rdy, "numberMisscheduled", (json_int_t)0);
        if (!ready)
            json_object_set_new(status, "numberUnavailable", json_integer(nodes));
    } else if (!r->group[0] && strcmp(k, "Pod") == 0) {
        json_t *podspec_p = spec;
        fails = template_fails(st, podspec_p);
        ready = !fails && age >= st->opt.ready_delay_ms;
        failed = fails && age >= st->opt.fail_after_ms;
        final = ready || failed;
        json_t *old = json_object_get(live, "status");
        const char *start = json_string_value(json_object_get(old, "startTime"));
        json_t *cstat = json_array();
        size_t ci;
        json_t *c;
        json_array_foreach(json_object_get(spec, "containers"), ci, c)
        {
            json_t *state;
            if (ready)
                state = json_pack("{s:{s:s}}", "running", "startedAt", start ? start : ts);
            else if (failed)
                state = json_pack("{s:{s:s,s:s}}", "waiting", "reason", "CrashLoopBackOff",
                                  "message", "back-off restarting failed container");
            else
                state = json_pack("{s:{s:s}}", "waiting", "reason", "ContainerCreating");
            json_array_append_new(
                    cstat,
                    json_pack("{s:s,s:s,s:b,s:b,s:i,s:o}", "name",
                              json_string_value(json_object_get(c, "name")) ?: "", "image",
                              json_string_value(json_object_get(c, "image")) ?: "", "ready", ready,
                              "started", ready, "restartCount", failed ? 5 : 0, "state", state));
        }
        const char *rs = ready ? "True" : "False";
        status = json_pack("{s:s,s:s,s:s,s:[{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s}],s:o}",
                           "phase", ready || failed ? "Running" : "Pending", "startTime",
                           start ? start : ts, "podIP", "10.244.0.10", "conditions", "type",
                           "PodScheduled", "status", "True", "lastTransitionTime", ts, "type",
                           "Ready", "status", rs, "lastTransitionTime", ts, "type",
                           "ContainersReady", "status", rs, "lastTransitionTime", ts,
                           "containerStatuses", cstat);
    } else if (strcmp(k, "Job") == 0) {
        json_t *old = json_object_get(live, "status");
        const char *start = json_string_value(json_object_get(old, "startTime"));
        json_int_t comp = json_is_integer(json_object_get(spec, "completions"))
                                  ? json_integer_value(json_object_get(spec, "completions"))
                                  : 1;
        status = json_pack("{s:s,s:I}", "startTime", start ? start : ts, "active",
                           final ? (json_int_t)0 : (json_int_t)1);
        if (ready) {
            json_object_set_new(status, "succeeded", json_integer(comp));
            json_object_set_new(status, "completionTime", json_string(ts));
            json_object_set_new(
                    status, "conditions",
                    json_pack("[o,o]",
                              condition("SuccessCriteriaMet", "True", "CompletionsReached",
                                        "Reached expected number of succeeded pods", ts),
                              condition("Complete", "True", "CompletionsReached",
                                        "Reached expected number of succeeded pods", ts)));
            json_object_set_new(status, "ready", json_integer(0));
        } else if (failed) {
            json_object_set_new(status, "failed", json_integer(1));
            json_object_set_new(
                    status, "conditions",
                    json_pack("[o,o]",
                              condition("FailureTarget", "True", "BackoffLimitExceeded",
                                        "Job has reached the specified backoff limit", ts),
                              condition("Failed", "True", "BackoffLimitExceeded",
                                        "Job has reached the specified backoff limit", ts)));
        }
        json_object_set_new(status, "ready", json_integer(0));
    } else {
        return true;
    }
    json_t *old = json_object_get(live, "status");
    /* Only write when something other than timestamps changed. */
    json_t *cmp_old = json_deep_copy(old ? old : json_null());
    json_t *cmp_new = json_deep_copy(status);
    json_t *conds_old = json_object_get(cmp_old, "conditions");
    json_t *conds_new = json_object_get(cmp_new, "conditions");
    size_t i;
    json_t *c;
    json_array_foreach(conds_old, i, c)
    {
        json_object_del(c, "lastUpdateTime");
        json_object_del(c, "lastTransitionTime");
    }
    json_array_foreach(conds_new, i, c)
    {
        json_object_del(c, "lastUpdateTime");
        json_object_del(c, "lastTransitionTime");
    }
    json_object_del(cmp_old, "completionTime");
    json_object_del(cmp_new, "completionTime");
    bool same = json_equal(cmp_old, cmp_new);
    json_decref(cmp_old);
    json_decref(cmp_new);
    if (same) {
        json_decref(status);
        return final;
    }
    /*
     * The new version shares everything but metadata and status with the old one: stored
     * objects are never changed in place (writes replace them), and metadata is copied
     * because the store sets resourceVersion and managedFields on it.
     */
    json_t *obj = json_copy(live);
    json_object_set_new(obj, "metadata", json_copy(json_object_get(live, "metadata")));
    json_object_set_new(obj, "status", status);
    record_status_write(live, obj, gv);
    ks_store_put(st, r, key, obj, "MODIFIED");
    return final;
}

/*
 * When entry s needs its next step, in ms since the epoch. A workload's status changes
 * only when it is first seen and when its age crosses the ready delay or the fail
 * delay, so it is stepped exactly then (as a controller reacting to the event would)
 * rather than on a fixed tick: a status is not late by up to a tick, and hundreds of
 * waiting workloads cost nothing between their transitions. With --pods a Deployment
 * also follows the Pods it created: those are stepped on every pass.
 */
static int64_t sim_due(const struct ks_state *st, const json_t *s)
{
    int64_t since = json_integer_value(json_object_get(s, "since"));
    const json_t *stepped = json_object_get(s, "stepped");
    int64_t last, t[2] = {st->opt.ready_delay_ms, st->opt.fail_after_ms}, due = INT64_MAX;

    if (st->opt.pods)
        return 0;
    if (!json_is_integer(stepped)) /* first seen: a few ms later, to take a burst in one pass */
        return since + (st->opt.ready_delay_ms < 10 ? st->opt.ready_delay_ms : 10);
    last = json_integer_value(stepped) - since; /* the age at the last step */
    for (size_t i = 0; i < 2; i++)
        if (t[i] > last && since + t[i] < due)
            due = since + t[i];
    return due;
}

void *ks_sim_thread(void *arg)
{
    struct ks_state *st = arg;
    pthread_mutex_lock(&st->mu);
    while (!st->stop) {
        int64_t now = ks_now_ms(), next = now + 1000;
        json_t *keys = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(st->sim, k, v)
        {
            if (json_is_true(json_object_get(v, "done")))
                continue;
            int64_t due = sim_due(st, v);
            if (due <= now)
                json_array_append_new(keys, json_string(k));
            else if (due < next)
                next = due;
        }
        size_t i;
        json_t *kj;
        json_array_foreach(keys, i, kj)
        {
            const char *key = json_string_value(kj);
            json_t *s = json_object_get(st->sim, key);
            if (!s)
                continue;
            json_incref(s);
            bool fin = sim_step(st, key, s);
            /* sim_step may have re-armed the entry through a store write. */
            json_t *now_s = json_object_get(st->sim, key);
            if (now_s && json_integer_value(json_object_get(now_s, "gen")) ==
                                 json_integer_value(json_object_get(s, "gen"))) {
                if (fin)
                    json_object_set_new(now_s, "done", json_true());
                json_object_set_new(now_s, "stepped", json_integer(now));
            }
            json_decref(s);
        }
        json_decref(keys);
        if (st->opt.pods && next > now + 50)
            next = now + 50;
        if (next > now && !st->stop) {
            /* steps that come due together are taken in one pass */
            struct timespec ts = {(time_t)((next + 1) / 1000),
                                  (long)((next + 1) % 1000) * 1000000L};
            pthread_cond_timedwait(&st->sim_wake, &st->mu, &ts);
        }
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}
