/*
 * The object store and the REST verbs: GET, LIST (label and field
 * selectors, limit/continue), POST, PUT, PATCH (apply, merge, strategic,
 * json), DELETE (propagation, finalizers), deletecollection, the status and
 * scale subresources, and CRD registration. Stored values are never
 * modified in place: a write builds a new value and replaces the old one,
 * so watch events can hold references.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kubesim.h"
#include "quantity.h"
#include "yamltree.h"

#define KS_RES_CAP 1024

struct builtin {
    const char *group, *version, *resource, *kind, *singular, *shorts;
    bool namespaced, status, scale, generation;
};

static const struct builtin builtins[] = {
        {"", "v1", "namespaces", "Namespace", "namespace", "ns", false, true, false, false},
        {"", "v1", "configmaps", "ConfigMap", "configmap", "cm", true, false, false, false},
        {"", "v1", "secrets", "Secret", "secret", NULL, true, false, false, false},
        {"", "v1", "services", "Service", "service", "svc", true, true, false, false},
        {"", "v1", "serviceaccounts", "ServiceAccount", "serviceaccount", "sa", true, false, false,
         false},
        {"", "v1", "pods", "Pod", "pod", "po", true, true, false, false},
        {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", "persistentvolumeclaim",
         "pvc", true, true, false, false},
        {"", "v1", "events", "Event", "event", "ev", true, false, false, false},
        {"", "v1", "resourcequotas", "ResourceQuota", "resourcequota", "quota", true, true, false,
         false},
        {"", "v1", "limitranges", "LimitRange", "limitrange", "limits", true, false, false, false},
        {"apps", "v1", "deployments", "Deployment", "deployment", "deploy", true, true, true, true},
        {"apps", "v1", "statefulsets", "StatefulSet", "statefulset", "sts", true, true, true, true},
        {"apps", "v1", "daemonsets", "DaemonSet", "daemonset", "ds", true, true, false, true},
        {"apps", "v1", "replicasets", "ReplicaSet", "replicaset", "rs", true, true, true, true},
        {"batch", "v1", "jobs", "Job", "job", NULL, true, true, false, true},
        {"batch", "v1", "cronjobs", "CronJob", "cronjob", "cj", true, true, false, true},
        {"networking.k8s.io", "v1", "ingresses", "Ingress", "ingress", "ing", true, true, false,
         true},
        {"networking.k8s.io", "v1", "ingressclasses", "IngressClass", "ingressclass", NULL, false,
         false, false, true},
        {"networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", "networkpolicy", "netpol",
         true, false, false, true},
        {"policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", "poddisruptionbudget",
         "pdb", true, true, false, true},
        {"autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler",
         "horizontalpodautoscaler", "hpa", true, true, false, true},
        {"rbac.authorization.k8s.io", "v1", "roles", "Role", "role", NULL, true, false, false,
         false},
        {"rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", "rolebinding", NULL,
         true, false, false, false},
        {"rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", "clusterrole", NULL,
         false, false, false, false},
        {"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
         "clusterrolebinding", NULL, false, false, false, false},
        {"scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", "priorityclass", "pc",
         false, false, false, false},
        {"storage.k8s.io", "v1", "storageclasses", "StorageClass", "storageclass", "sc", false,
         false, false, false},
        {"coordination.k8s.io", "v1", "leases", "Lease", "lease", NULL, true, false, false, false},
        {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
         "customresourcedefinition", "crd,crds", false, true, false, true},
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void resource_clear(struct ks_resource *r)
{
    free(r->group);
    free(r->version);
    free(r->resource);
    free(r->kind);
    free(r->singular);
    free(r->list_kind);
    free(r->short_names);
    memset(r, 0, sizeof *r);
}

static struct ks_resource *resource_slot(struct ks_state *st)
{
    for (size_t i = 0; i < st->nres; i++) {
        if (!st->res[i].resource)
            return &st->res[i];
    }
    if (st->nres >= st->capres)
        return NULL;
    return &st->res[st->nres++];
}

static int resource_add(struct ks_state *st, const char *group, const char *version,
                        const char *resource, const char *kind, const char *singular,
                        const char *list_kind, const char *shorts, bool namespaced, bool status,
                        bool scale, bool generation, bool crd, bool storage)
{
    struct ks_resource *r = resource_slot(st);
    if (!r)
        return -1;
    char lk[256];
    if (!list_kind) {
        snprintf(lk, sizeof lk, "%sList", kind);
        list_kind = lk;
    }
    r->group = strdup(group);
    r->version = strdup(version);
    r->resource = strdup(resource);
    r->kind = strdup(kind);
    r->singular = strdup(singular && *singular ? singular : "");
    r->list_kind = strdup(list_kind);
    r->short_names = dup_or_null(shorts);
    r->namespaced = namespaced;
    r->has_status = status;
    r->has_scale = scale;
    r->generation = generation;
    r->crd = crd;
    r->storage = storage;
    if (!r->group || !r->version || !r->resource || !r->kind || !r->singular || !r->list_kind) {
        resource_clear(r);
        return -1;
    }
    return 0;
}

int ks_state_init(struct ks_state *st)
{
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->changed, NULL);
    pthread_cond_init(&st->sim_wake, NULL);
    st->capres = KS_RES_CAP;
    st->res = calloc(st->capres, sizeof *st->res);
    st->objects = json_object();
    st->sim = json_object();
    st->events = json_array();
    st->counts = json_object();
    st->reqlog = json_array();
    st->faults = json_array();
    st->tokens = json_array();
    st->ro_tokens = json_array();
    st->rv = 1;
    st->next_ip = 10;
    if (!st->res || !st->objects || !st->sim || !st->events || !st->counts || !st->reqlog ||
        !st->faults || !st->tokens || !st->ro_tokens)
        return -1;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        const struct builtin *b = &builtins[i];
        if (resource_add(st, b->group, b->version, b->resource, b->kind, b->singular, NULL,
                         b->shorts, b->namespaced, b->status, b->scale, b->generation, false,
                         true) != 0)
            return -1;
    }
    /* The namespaces every cluster has. */
    static const char *const system_ns[] = {"default", "kube-system", "kube-public",
                                            "kube-node-lease"};
    const struct ks_resource *nsr = ks_find_resource(st, "", "v1", "namespaces");
    for (size_t i = 0; i < 4; i++) {
        char key[256], ts[40];
        ks_now_rfc3339(ts, sizeof ts);
        ks_object_key(key, sizeof key, nsr, NULL, system_ns[i]);
        char uid[64];
        snprintf(uid, sizeof uid, "00000000-0000-4000-8000-%012llu",
                 (unsigned long long)++st->uid_seq);
        json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:{s:s}},s:{s:[s]},s:{s:s}}", "apiVersion",
                              "v1", "kind", "Namespace", "metadata", "name", system_ns[i], "uid",
                              uid, "creationTimestamp", ts, "labels", "kubernetes.io/metadata.name",
                              system_ns[i], "spec", "finalizers", "kubernetes", "status", "phase",
                              "Active");
        ks_store_put(st, nsr, key, o, "ADDED");
    }
    return 0;
}

void ks_state_free(struct ks_state *st)
{
    for (size_t i = 0; st->res && i < st->nres; i++)
        resource_clear(&st->res[i]);
    free(st->res);
    json_decref(st->objects);
    json_decref(st->sim);
    json_decref(st->events);
    json_decref(st->counts);
    json_decref(st->reqlog);
    json_decref(st->faults);
    json_decref(st->tokens);
    json_decref(st->ro_tokens);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->changed);
}

const struct ks_resource *ks_find_resource(const struct ks_state *st, const char *group,
                                           const char *version, const char *resource)
{
    for (size_t i = 0; i < st->nres; i++) {
        const struct ks_resource *r = &st->res[i];
        if (r->resource && strcmp(r->group, group) == 0 &&
            (!version || strcmp(r->version, version) == 0) && strcmp(r->resource, resource) == 0)
            return r;
    }
    return NULL;
}

const struct ks_resource *ks_find_kind(const struct ks_state *st, const char *group,
                                       const char *kind)
{
    for (size_t i = 0; i < st->nres; i++) {
        const struct ks_resource *r = &st->res[i];
        if (r->resource && strcmp(r->group, group) == 0 && strcmp(r->kind, kind) == 0)
            return r;
    }
    return NULL;
}

void ks_object_key(char *out, size_t outlen, const struct ks_resource *r, const char *ns,
                   const char *name)
{
    snprintf(out, outlen, "%s/%s/%s/%s", r->group, r->resource, ns ? ns : "", name ? name : "");
}

int64_t ks_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ks_now_rfc3339(char *out, size_t outlen)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *ks_status(unsigned code, const char *reason, const char *message)
{
    return json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
                     "metadata", "status", code < 300 ? "Success" : "Failure", "message", message,
                     "reason", reason, "code", (int)code);
}

void ks_reply_status(struct ks_reply *out, unsigned code, const char *reason, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(out->body);
    out->code = code;
    out->body = ks_status(code, reason, msg);
}

static void reply_obj(struct ks_reply *out, unsigned code, json_t *obj)
{
    json_decref(out->body);
    out->code = code;
    out->body = obj;
}

static const char *gv_string(const struct ks_resource *r, char *buf, size_t len)
{
    if (r->group[0])
        snprintf(buf, len, "%s/%s", r->group, r->version);
    else
        snprintf(buf, len, "%s", r->version);
    return buf;
}

/* "Deployment.apps" / "Service": the qualified kind the server uses in messages. */
static const char *qualified_kind(const struct ks_resource *r, char *buf, size_t len)
{
    if (r->group[0])
        snprintf(buf, len, "%s.%s", r->kind, r->group);
    else
        snprintf(buf, len, "%s", r->kind);
    return buf;
}

static const char *qualified_resource(const struct ks_resource *r, char *buf, size_t len)
{
    if (r->group[0])
        snprintf(buf, len, "%s.%s", r->resource, r->group);
    else
        snprintf(buf, len, "%s", r->resource);
    return buf;
}

static void not_found(struct ks_reply *out, const struct ks_resource *r, const char *name)
{
    char qr[256];
    qualified_resource(r, qr, sizeof qr);
    ks_reply_status(out, 404, "NotFound", "%s \"%s\" not found", qr, name);
    json_object_set_new(
            out->body, "details",
            json_pack("{s:s,s:s,s:s}", "name", name, "group", r->group, "kind", r->resource));
}

static void invalid(struct ks_reply *out, const struct ks_resource *r, const char *name,
                    json_t *causes)
{
    char qk[256], msg[2048];
    qualified_kind(r, qk, sizeof qk);
    size_t off = (size_t)snprintf(msg, sizeof msg, "%s \"%s\" is invalid: ", qk, name);
    size_t i;
    json_t *c;
    json_array_foreach(causes, i, c)
    {
        if (off >= sizeof msg)
            break;
        off += (size_t)snprintf(msg + off, sizeof msg - off, "%s%s: %s", i ? ", " : "",
                                json_string_value(json_object_get(c, "field")),
                                json_string_value(json_object_get(c, "message")));
    }
    ks_reply_status(out, 422, "Invalid", "%s", msg);
    json_object_set_new(out->body, "details",
                        json_pack("{s:s,s:s,s:s,s:o}", "name", name, "group", r->group, "kind",
                                  r->kind, "causes", causes));
}

static json_t *cause(const char *reason, const char *field, const char *message)
{
    return json_pack("{s:s,s:s,s:s}", "reason", reason, "message", message, "field", field);
}

/* ---- store -------------------------------------------------------------- */

static void emit_event(struct ks_state *st, const char *type, const char *key, json_t *obj)
{
    json_array_append_new(st->events, json_pack("{s:I,s:s,s:s,s:O}", "rv", (json_int_t)st->rv,
                                                "type", type, "key", key, "object", obj));
    while (json_array_size(st->events) > KS_EVENTS_MAX)
        json_array_remove(st->events, 0);
    pthread_cond_broadcast(&st->changed);
}

json_t *ks_store_put(struct ks_state *st, const struct ks_resource *r, const char *key, json_t *obj,
                     const char *event_type)
{
    char rv[32];
    st->rv++;
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)st->rv);
    json_t *meta = json_object_get(obj, "metadata");
    json_object_set_new(meta, "resourceVersion", json_string(rv));
    json_object_set_new(st->objects, key, obj);
    emit_event(st, event_type, key, obj);
    ks_sim_notify(st, r, key);
    return obj;
}

void ks_store_delete(struct ks_state *st, const char *key, json_t *last)
{
    char rv[32];
    st->rv++;
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)st->rv);
    json_t *copy = json_deep_copy(last);
    json_object_set_new(json_object_get(copy, "metadata"), "resourceVersion", json_string(rv));
    emit_event(st, "DELETED", key, copy);
    json_decref(copy);
    json_object_del(st->sim, key);
    json_object_del(st->objects, key);
}

/* ---- CRD registration ----------------------------------------------------- */

static void unregister_crd(struct ks_state *st, const char *group, const char *plural)
{
    st->disco_gen++;
    for (size_t i = 0; i < st->nres; i++) {
        struct ks_resource *r = &st->res[i];
        if (r->resource && r->crd && strcmp(r->group, group) == 0 &&
            strcmp(r->resource, plural) == 0)
            resource_clear(r);
    }
}

static void register_crd(struct ks_state *st, const json_t *crd)
{
    json_t *spec = json_object_get(crd, "spec");
    json_t *names = json_object_get(spec, "names");
    const char *group = json_string_value(json_object_get(spec, "group"));
    const char *plural = json_string_value(json_object_get(names, "plural"));
    const char *kind = json_string_value(json_object_get(names, "kind"));
    if (!group || !plural || !kind)
        return;
    unregister_crd(st, group, plural);
    const char *singular = json_string_value(json_object_get(names, "singular"));
    char lower[256];
    if (!singular) {
        size_t i = 0;
        for (; kind[i] && i + 1 < sizeof lower; i++)
            lower[i] = (char)tolower((unsigned char)kind[i]);
        lower[i] = 0;
        singular = lower;
    }
    char shorts[512] = "";
    size_t off = 0, i;
    json_t *s;
    json_array_foreach(json_object_get(names, "shortNames"), i, s)
    {
        if (json_is_string(s) && off < sizeof shorts)
            off += (size_t)snprintf(shorts + off, sizeof shorts - off, "%s%s", off ? "," : "",
                                    json_string_value(s));
    }
    bool namespaced = strcmp(json_string_value(json_object_get(spec, "scope")) ?: "Namespaced",
                             "Cluster") != 0;
    json_t *v;
    json_array_foreach(json_object_get(spec, "versions"), i, v)
    {
        if (!json_is_true(json_object_get(v, "served")))
            continue;
        const char *ver = json_string_value(json_object_get(v, "name"));
        if (!ver)
            continue;
        json_t *sub = json_object_get(v, "subresources");
        resource_add(st, group, ver, plural, kind, singular,
                     json_string_value(json_object_get(names, "listKind")), off ? shorts : NULL,
                     namespaced, json_object_get(sub, "status") != NULL,
                     json_object_get(sub, "scale") != NULL, true, true,
                     json_is_true(json_object_get(v, "storage")));
    }
}

/* ---- helpers ------------------------------------------------------------- */

static json_t *parse_body(const struct ks_request *rq, char *err, size_t errlen)
{
    const char *b = rq->body;
    size_t n = rq->body_len;
    while (n > 0 && isspace((unsigned char)*b)) {
        b++;
        n--;
    }
    if (n > 0 && (*b == '{' || *b == '[')) {
        json_error_t je;
        json_t *j = json_loadb(b, n, 0, &je);
        if (!j)
            snprintf(err, errlen, "invalid JSON at line %d: %s", je.line, je.text);
        return j;
    }
    struct sl_ystream *ys = NULL;
    struct sl_error e = SL_ERROR_INIT;
    if (sl_yaml_load(&ys, b, n, "body", NULL, &e) != 0) {
        snprintf(err, errlen, "%s", e.msg);
        return NULL;
    }
    json_t *j = NULL;
    if (ys->ndocs != 1 || !ys->docs[0].root)
        snprintf(err, errlen, "expected exactly one YAML document");
    else if (!(j = sl_ynode_to_json(ys->docs[0].root, "body", &e)))
        snprintf(err, errlen, "%s", e.msg);
    sl_ystream_free(ys);
    return j;
}

void ks_preparse_body(struct ks_request *rq)
{
    const char *b = rq->body;
    size_t n = rq->body_len;
    while (n > 0 && isspace((unsigned char)*b)) {
        b++;
        n--;
    }
    if (rq->json_body || n == 0 || (*b != '{' && *b != '[') ||
        (rq->content_type && strstr(rq->content_type, "protobuf")))
        return;
    rq->json_body = json_loadb(b, n, 0, NULL);
}

static const char *meta_str(const json_t *obj, const char *k)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), k));
}

static json_t *ensure_meta(json_t *obj)
{
    json_t *m = json_object_get(obj, "metadata");
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(obj, "metadata", m);
    }
    return m;
}

static bool dry_run(const struct ks_request *rq)
{
    return rq->q_dry_run && strcmp(rq->q_dry_run, "All") == 0;
}

static const char *manager_of(const struct ks_request *rq, char *buf, size_t len)
{
    if (rq->q_field_manager && *rq->q_field_manager)
        return rq->q_field_manager;
    const char *ua = rq->user_agent ? rq->user_agent : "unknown";
    size_t i = 0;
    for (; ua[i] && ua[i] != '/' && i + 1 < len && i < 128; i++)
        buf[i] = ua[i];
    buf[i] = 0;
    return buf;
}

static bool valid_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' || c == '.'))
            return false;
    }
    return isalnum((unsigned char)n[0]) && isalnum((unsigned char)n[len - 1]);
}

static json_t *without_meta_status(const json_t *obj)
{
    json_t *c = json_deep_copy(obj);
    json_object_del(c, "metadata");
    json_object_del(c, "status");
    return c;
}

static bool spec_changed(const json_t *a, const json_t *b)
{
    json_t *x = without_meta_status(a), *y = without_meta_status(b);
    bool ch = !json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return ch;
}

static bool field_differs(const json_t *a, const json_t *b, const char *p1, const char *p2)
{
    json_t *x = json_object_get(json_object_get(a, p1), p2);
    json_t *y = json_object_get(json_object_get(b, p1), p2);
    if (!x && !y)
        return false;
    return !x || !y || !json_equal(x, y);
}

/* Known immutable fields: returns causes or NULL. */
static json_t *immutable_violations(const struct ks_resource *r, const json_t *live,
                                    const json_t *obj)
{
    json_t *causes = json_array();
    const char *g = r->group, *k = r->kind;
    char msg[1200];
    if (strcmp(g, "apps") == 0 && field_differs(live, obj, "spec", "selector")) {
        char *v =
                json_dumps(json_object_get(json_object_get(obj, "spec"), "selector"), JSON_COMPACT);
        snprintf(msg, sizeof msg, "Invalid value: %s: field is immutable", v ? v : "null");
        free(v);
        json_array_append_new(causes, cause("FieldValueInvalid", "spec.selector", msg));
    }
    if (strcmp(g, "") == 0 && strcmp(k, "Service") == 0) {
        const char *a =
                json_string_value(json_object_get(json_object_get(live, "spec"), "clusterIP"));
        const char *b =
                json_string_value(json_object_get(json_object_get(obj, "spec"), "clusterIP"));
        if (a && b && strcmp(a, b) != 0 && strcmp(a, "None") != 0 && *a) {
            snprintf(msg, sizeof msg, "Invalid value: \"%s\": field is immutable", b);
            json_array_append_new(causes, cause("FieldValueInvalid", "spec.clusterIP", msg));
        }
    }
    if (strcmp(g, "batch") == 0 && strcmp(k, "Job") == 0) {
        if (field_differs(live, obj, "spec", "template"))
            json_array_append_new(causes, cause("FieldValueInvalid", "spec.template",
                                                "Invalid value: field is immutable"));
        if (field_differs(live, obj, "spec", "completions"))
            json_array_append_new(causes, cause("FieldValueInvalid", "spec.completions",
                                                "Invalid value: field is immutable"));
    }
    if (strcmp(g, "apps") == 0 && strcmp(k, "StatefulSet") == 0) {
        static const char *const fixed[] = {"serviceName", "volumeClaimTemplates",
                                            "podManagementPolicy", NULL};
        for (size_t i = 0; fixed[i]; i++) {
            if (field_differs(live, obj, "spec", fixed[i])) {
                json_array_append_new(
                        causes,
                        cause("FieldValueForbidden", "spec",
                              "Forbidden: updates to statefulset spec for fields other than "
                              "'replicas', 'ordinals', 'template', 'updateStrategy', "
                              "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
                              "are forbidden"));
                break;
            }
        }
    }
    if (strcmp(g, "rbac.authorization.k8s.io") == 0 &&
        (strcmp(k, "RoleBinding") == 0 || strcmp(k, "ClusterRoleBinding") == 0) &&
        json_object_get(live, "roleRef") &&
        !json_equal(json_object_get(live, "roleRef"), json_object_get(obj, "roleRef")))
        json_array_append_new(causes, cause("FieldValueInvalid", "roleRef",
                                            "Invalid value: cannot change roleRef"));
    if (strcmp(g, "") == 0 && (strcmp(k, "ConfigMap") == 0 || strcmp(k, "Secret") == 0) &&
        json_is_true(json_object_get(live, "immutable"))) {
        if (!json_equal(json_object_get(live, "data"), json_object_get(obj, "data")) ||
            !json_equal(json_object_get(live, "binaryData"), json_object_get(obj, "binaryData")))
            json_array_append_new(causes, cause("FieldValueForbidden", "data",
                                                "Forbidden: field is immutable when `immutable` "
                                                "is set"));
    }
    if (json_array_size(causes) == 0) {
        json_decref(causes);
        return NULL;
    }
    return causes;
}

static bool valid_label_value(const char *v)
{
    size_t n = strlen(v);
    if (n == 0)
        return true;
    if (n > 63 || !isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)v[i]) && v[i] != '-' && v[i] != '_' && v[i] != '.')
            return false;
    }
    return true;
}

static void check_podspec(const json_t *ps, const char *at, json_t *causes)
{
    char f[512], m[512];
    json_t *cs = json_object_get(ps, "containers");
    if (json_array_size(cs) == 0) {
        snprintf(f, sizeof f, "%s.containers", at);
        json_array_append_new(causes, cause("FieldValueRequired", f, "Required value"));
        return;
    }
    size_t i;
    json_t *c;
    json_array_foreach(cs, i, c)
    {
        static const char *const req[] = {"name", "image", NULL};
        for (size_t k = 0; req[k]; k++) {
            const char *v = json_string_value(json_object_get(c, req[k]));
            if (!v || !*v) {
                snprintf(f, sizeof f, "%s.containers[%zu].%s", at, i, req[k]);
                snprintf(m, sizeof m, "Required value");
                json_array_append_new(causes, cause("FieldValueRequired", f, m));
            }
        }
    }
}

/* The validation a client meets most often; returns causes or NULL. */
static json_t *validate(const struct ks_resource *r, const json_t *obj)
{
    json_t *causes = json_array();
    char f[512], m[1024];
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(obj, "metadata"), "labels"), k, v)
    {
        const char *s = json_string_value(v);
        if (!s || !valid_label_value(s)) {
            snprintf(f, sizeof f, "metadata.labels");
            snprintf(m, sizeof m,
                     "Invalid value: \"%.200s\": a valid label must be an empty string or "
                     "consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                     "with an alphanumeric character",
                     s ? s : "");
            json_array_append_new(causes, cause("FieldValueInvalid", f, m));
        }
    }
    json_t *spec = json_object_get(obj, "spec");
    if (!r->crd && strcmp(r->group, "apps") == 0) {
        json_t *sel = json_object_get(spec, "selector");
        json_t *tl = json_object_get(json_object_get(json_object_get(spec, "template"), "metadata"),
                                     "labels");
        if (!json_is_object(sel)) {
            json_array_append_new(causes,
                                  cause("FieldValueRequired", "spec.selector", "Required value"));
        } else {
            json_object_foreach(json_object_get(sel, "matchLabels"), k, v)
            {
                if (!json_equal(json_object_get(tl, k), v)) {
                    json_array_append_new(causes, cause("FieldValueInvalid",
                                                        "spec.template.metadata.labels",
                                                        "Invalid value: `selector` does not "
                                                        "match template `labels`"));
                    break;
                }
            }
        }
        check_podspec(json_object_get(json_object_get(spec, "template"), "spec"),
                      "spec.template.spec", causes);
    } else if (!r->crd && strcmp(r->group, "batch") == 0 && strcmp(r->kind, "Job") == 0) {
        check_podspec(json_object_get(json_object_get(spec, "template"), "spec"),
                      "spec.template.spec", causes);
    } else if (!r->crd && !r->group[0] && strcmp(r->kind, "Pod") == 0) {
        check_podspec(spec, "spec", causes);
    } else if (!r->crd && !r->group[0] && strcmp(r->kind, "Service") == 0) {
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(spec, "ports"), i, p)
        {
            json_int_t port = json_integer_value(json_object_get(p, "port"));
            if (port < 1 || port > 65535) {
                snprintf(f, sizeof f, "spec.ports[%zu].port", i);
                json_array_append_new(causes, cause("FieldValueInvalid", f,
                                                    "Invalid value: must be between 1 and 65535, "
                                                    "inclusive"));
            }
        }
    } else if (strcmp(r->group, "apiextensions.k8s.io") == 0) {
        const char *g = json_string_value(json_object_get(spec, "group"));
        const char *pl =
                json_string_value(json_object_get(json_object_get(spec, "names"), "plural"));
        const char *name = meta_str(obj, "name");
        snprintf(m, sizeof m, "%s.%s", pl ? pl : "", g ? g : "");
        if (!g || !pl || !name || strcmp(name, m) != 0)
            json_array_append_new(causes, cause("FieldValueInvalid", "metadata.name",
                                                "Invalid value: must be spec.names.plural+\".\"+"
                                                "spec.group"));
    }
    if (json_array_size(causes) == 0) {
        json_decref(causes);
        return NULL;
    }
    return causes;
}

static json_t *ns_object(struct ks_state *st, const char *ns)
{
    const struct ks_resource *nsr = ks_find_resource(st, "", "v1", "namespaces");
    char key[512];
    ks_object_key(key, sizeof key, nsr, NULL, ns);
    return json_object_get(st->objects, key);
}

static void new_uid(struct ks_state *st, char *out, size_t len)
{
    uint64_t n = ++st->uid_seq;
    st->rng = st->rng * 1103515245u + 12345u;
    snprintf(out, len, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(st->rng ^ 0x5a5a5a5au),
             (unsigned)(n & 0xffff), (unsigned)((n >> 16) & 0xfff), (unsigned)(st->rng & 0xfff),
             (unsigned long long)n);
}

/*
 * Finish a write: server-owned metadata, validation, defaults, no-op
 * detection, finalizer completion, dry run, store. Takes obj.
 */
static void commit(struct ks_state *st, const struct ks_resource *r, const char *key,
                   const json_t *live, json_t *obj, const struct ks_request *rq,
                   struct ks_reply *out)
{
    char gv[256], ts[40];
    gv_string(r, gv, sizeof gv);
    json_object_set_new(obj, "apiVersion", json_string(gv));
    json_object_set_new(obj, "kind", json_string(r->kind));
    /* Typed objects store quantities in canonical form (cpu: 0.5 reads back as "500m"). */
    if (!r->crd)
        sl_qty_canonicalize(obj);
    json_t *meta = ensure_meta(obj);
    const char *name = meta_str(obj, "name");
    if (live) {
        static const char *const keep[] = {"uid",
                                           "creationTimestamp",
                                           "deletionTimestamp",
                                           "deletionGracePeriodSeconds",
                                           "generation",
                                           "resourceVersion",
                                           NULL};
        json_t *lm = json_object_get(live, "metadata");
        for (size_t i = 0; keep[i]; i++) {
            json_t *v = json_object_get(lm, keep[i]);
            if (v)
                json_object_set(meta, keep[i], v);
            else
                json_object_del(meta, keep[i]);
        }
        json_t *causes = immutable_violations(r, live, obj);
        if (causes) {
            invalid(out, r, name, causes);
            json_decref(obj);
            return;
        }
        if (r->generation && spec_changed(live, obj)) {
            json_int_t g = json_integer_value(json_object_get(lm, "generation"));
            json_object_set_new(meta, "generation", json_integer(g + 1));
        }
    } else {
        char uid[64];
        new_uid(st, uid, sizeof uid);
        ks_now_rfc3339(ts, sizeof ts);
        json_object_set_new(meta, "uid", json_string(uid));
        json_object_set_new(meta, "creationTimestamp", json_string(ts));
        json_object_del(meta, "deletionTimestamp");
        json_object_del(meta, "resourceVersion");
        if (r->generation)
            json_object_set_new(meta, "generation", json_integer(1));
        else
            json_object_del(meta, "generation");
    }
    ks_default_object(st, r, obj);
    if (!r->has_status && !r->crd)
        json_object_del(obj, "status");
    json_t *vcauses = validate(r, obj);
    if (vcauses) {
        invalid(out, r, name ? name : "", vcauses);
        json_decref(obj);
        return;
    }

    if (live && ks_equal_ignoring_times(live, obj)) {
        json_decref(obj);
        reply_obj(out, 200, json_incref(ks_mut(live))); /* serialised under the lock */
        return;
    }
    json_t *fin = json_object_get(meta, "finalizers");
    bool finishing = json_object_get(meta, "deletionTimestamp") && json_array_size(fin) == 0;
    if (dry_run(rq)) {
        if (!live)
            json_object_set_new(meta, "resourceVersion", json_string(""));
        reply_obj(out, live ? 200 : 201, obj);
        return;
    }
    if (finishing) {
        ks_store_delete(st, key, obj);
        reply_obj(out, 200, obj);
        return;
    }
    if (strcmp(r->group, "apiextensions.k8s.io") == 0)
        register_crd(st, obj);
    ks_store_put(st, r, key, obj, live ? "MODIFIED" : "ADDED");
    reply_obj(out, live ? 200 : 201, json_incref(obj)); /* serialised under the lock */
}

/* ---- label and field selectors ------------------------------------------- */

static bool label_match_one(const json_t *labels, const char *req)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", req);
    char *s = buf;
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = 0;
    if (*s == 0)
        return true;
    if (*s == '!') {
        s++;
        while (isspace((unsigned char)*s))
            s++;
        return json_object_get(labels, s) == NULL;
    }
    char *op = strpbrk(s, "=!");
    char *sp = strchr(s, ' ');
    if (sp && (!op || sp < op)) {
        /* set-based: key in (a,b) / key notin (a,b) */
        *sp = 0;
        const char *key = s;
        char *rest = sp + 1;
        while (isspace((unsigned char)*rest))
            rest++;
        bool notin = strncmp(rest, "notin", 5) == 0;
        bool in = !notin && strncmp(rest, "in", 2) == 0;
        if (!in && !notin)
            return false;
        char *lp = strchr(rest, '('), *rp = strrchr(rest, ')');
        if (!lp || !rp)
            return false;
        *rp = 0;
        const char *have = json_string_value(json_object_get(labels, key));
        bool found = false;
        char *save = NULL;
        for (char *t = strtok_r(lp + 1, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (isspace((unsigned char)*t))
                t++;
            char *te = t + strlen(t);
            while (te > t && isspace((unsigned char)te[-1]))
                *--te = 0;
            if (have && strcmp(have, t) == 0)
                found = true;
        }
        return in ? found : !found;
    }
    if (!op)
        return json_object_get(labels, s) != NULL;
    bool neg = *op == '!';
    *op = 0;
    char *val = op + 1;
    if (*val == '=')
        val++;
    char *ke = op;
    while (ke > s && isspace((unsigned char)ke[-1]))
        *--ke = 0;
    while (isspace((unsigned char)*val))
        val++;
    const char *have = json_string_value(json_object_get(labels, s));
    bool eq = have && strcmp(have, val) == 0;
    return neg ? !eq : eq;
}

static bool label_match(const json_t *obj, const char *sel)
{
    if (!sel || !*sel)
        return true;
    json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    char req[1024];
    size_t n = 0;
    int depth = 0;
    for (const char *p = sel;; p++) {
        if (*p == '(')
            depth++;
        if (*p == ')')
            depth--;
        if (*p == 0 || (*p == ',' && depth == 0)) {
            req[n] = 0;
            if (!label_match_one(labels, req))
                return false;
            n = 0;
            if (*p == 0)
                break;
            continue;
        }
        if (n + 1 < sizeof req)
            req[n++] = *p;
    }
    return true;
}

static bool field_match(const json_t *obj, const char *sel)
{
    if (!sel || !*sel)
        return true;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", sel);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *op = strstr(t, "!=");
        bool neg = op != NULL;
        if (!op)
            op = strchr(t, '=');
        if (!op)
            return false;
        *op = 0;
        const char *want = op + (neg ? 2 : 1);
        if (*want == '=')
            want++;
        const json_t *cur = obj;
        char path[512];
        snprintf(path, sizeof path, "%s", t);
        char *s2 = NULL;
        for (char *seg = strtok_r(path, ".", &s2); seg && cur; seg = strtok_r(NULL, ".", &s2))
            cur = json_object_get(cur, seg);
        const char *have = json_string_value(cur);
        bool eq = strcmp(have ? have : "", want) == 0;
        if (neg ? eq : !eq)
            return false;
    }
    return true;
}

/* ---- verbs ---------------------------------------------------------------- */

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void hex_encode(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    for (; *s && o + 3 < outlen; s++)
        o += (size_t)snprintf(out + o, outlen - o, "%02x", (unsigned char)*s);
    out[o] = 0;
}

static void hex_decode(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    for (; s[0] && s[1] && o + 1 < outlen; s += 2) {
        char b[3] = {s[0], s[1], 0};
        out[o++] = (char)strtol(b, NULL, 16);
    }
    out[o] = 0;
}

/*
 * What a read returns: a shallow copy (its members are the stored values), so it must be
 * serialised before the state lock is released, as the handler does with every reply.
 */
static json_t *output_copy(const struct ks_resource *r, const json_t *obj, bool in_list)
{
    json_t *c = json_copy(ks_mut(obj));
    char gv[256];
    if (in_list && !r->crd) {
        /* Typed lists of the real server carry no kind/apiVersion per item. */
        json_object_del(c, "kind");
        json_object_del(c, "apiVersion");
    } else {
        json_object_set_new(c, "apiVersion", json_string(gv_string(r, gv, sizeof gv)));
    }
    return c;
}

static void do_list(struct ks_state *st, const struct ks_resource *r, const char *ns,
                    const struct ks_request *rq, struct ks_reply *out)
{
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/%s/%s", r->group, r->resource, ns ? ns : "");
    size_t plen = strlen(prefix);
    size_t n = 0, cap = json_object_size(st->objects);
    const char **keys = calloc(cap ? cap : 1, sizeof *keys);
    const char *k;
    json_t *v;
    json_object_foreach(st->objects, k, v)
    {
        if (strncmp(k, prefix, plen) != 0 || (ns && k[plen] != '/'))
            continue;
        if (!ns) {
            /* prefix ends with "/" only for namespaced lookups; check resource match */
            size_t rl = strlen(r->group) + strlen(r->resource) + 2;
            if (strncmp(k, prefix, rl - 1) != 0)
                continue;
        }
        if (!label_match(v, rq->q_label_selector) || !field_match(v, rq->q_field_selector))
            continue;
        keys[n++] = k;
    }
    qsort(keys, n, sizeof *keys, cmp_keys);
    size_t start = 0;
    if (rq->q_continue && *rq->q_continue) {
        char after[1024];
        hex_decode(rq->q_continue, after, sizeof after);
        while (start < n && strcmp(keys[start], after) <= 0)
            start++;
    }
    size_t limit = 0;
    if (rq->q_limit)
        limit = strtoul(rq->q_limit, NULL, 10);
    size_t endi = n;
    if (limit > 0 && start + limit < n)
        endi = start + limit;
    json_t *items = json_array();
    for (size_t i = start; i < endi; i++)
        json_array_append_new(items, output_copy(r, json_object_get(st->objects, keys[i]), true));
    char gv[256], rv[32];
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)st->rv);
    json_t *meta = json_pack("{s:s}", "resourceVersion", rv);
    if (endi < n) {
        char tok[2100];
        hex_encode(keys[endi - 1], tok, sizeof tok);
        json_object_set_new(meta, "continue", json_string(tok));
        json_object_set_new(meta, "remainingItemCount", json_integer((json_int_t)(n - endi)));
    }
    free(keys);
    if (ks_wants_table(rq->accept)) {
        bool full = rq->q_include_object && strcmp(rq->q_include_object, "Object") == 0;
        reply_obj(out, 200, ks_table(r, items, meta, full));
        out->content_type = "application/json;as=Table;v=v1;g=meta.k8s.io";
        json_decref(items);
        json_decref(meta);
        return;
    }
    reply_obj(out, 200,
              json_pack("{s:s,s:s,s:o,s:o}", "kind", r->list_kind, "apiVersion",
                        gv_string(r, gv, sizeof gv), "metadata", meta, "items", items));
}

static json_t *to_scale(const struct ks_resource *r, const json_t *obj)
{
    json_t *meta = json_object_get(obj, "metadata");
    json_t *spec = json_object_get(obj, "spec");
    json_t *status = json_object_get(obj, "status");
    json_t *sm = json_object();
    static const char *const mk[] = {
            "name", "namespace", "uid", "resourceVersion", "creationTimestamp", NULL};
    for (size_t i = 0; mk[i]; i++) {
        json_t *v = json_object_get(meta, mk[i]);
        if (v)
            json_object_set(sm, mk[i], v);
    }
    char sel[1024] = "";
    size_t off = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(spec, "selector"), "matchLabels"), k, v)
    {
        if (off < sizeof sel)
            off += (size_t)snprintf(sel + off, sizeof sel - off, "%s%s=%s", off ? "," : "", k,
                                    json_string_value(v) ?: "");
    }
    json_t *rep = json_object_get(spec, "replicas");
    json_t *srep = json_object_get(status, "replicas");
    (void)r;
    return json_pack("{s:s,s:s,s:o,s:{s:I},s:{s:I,s:s}}", "kind", "Scale", "apiVersion",
                     "autoscaling/v1", "metadata", sm, "spec", "replicas",
                     rep ? json_integer_value(rep) : (json_int_t)1, "status", "replicas",
                     srep ? json_integer_value(srep) : (json_int_t)0, "selector", sel);
}

static void delete_object(struct ks_state *st, const struct ks_resource *r, const char *key,
                          const char *propagation, json_t **last);

/* Garbage collection of dependents (ownerReferences) and namespace contents. */
static void collect_dependents(struct ks_state *st, const json_t *owner, const char *propagation)
{
    const char *uid = meta_str(owner, "uid");
    bool is_ns =
            strcmp(json_string_value(json_object_get(owner, "kind")) ?: "", "Namespace") == 0 &&
            strcmp(json_string_value(json_object_get(owner, "apiVersion")) ?: "", "v1") == 0;
    const char *nsname = meta_str(owner, "name");
    json_t *todo = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(st->objects, k, v)
    {
        bool dep = false;
        size_t i;
        json_t *ref;
        json_array_foreach(json_object_get(json_object_get(v, "metadata"), "ownerReferences"), i,
                           ref)
        {
            if (uid && strcmp(json_string_value(json_object_get(ref, "uid")) ?: "", uid) == 0)
                dep = true;
        }
        const char *ons = meta_str(v, "namespace");
        if (is_ns && ons && nsname && strcmp(ons, nsname) == 0)
            dep = true;
        if (dep)
            json_array_append_new(todo, json_string(k));
    }
    size_t i;
    json_t *kj;
    json_array_foreach(todo, i, kj)
    {
        const char *dk = json_string_value(kj);
        json_t *dobj = json_object_get(st->objects, dk);
        if (!dobj)
            continue;
        /* find the resource of this key: group/resource/ns/name */
        char grp[256], res[256];
        const char *s1 = strchr(dk, '/');
        const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
        if (!s1 || !s2)
            continue;
        snprintf(grp, sizeof grp, "%.*s", (int)(s1 - dk), dk);
        snprintf(res, sizeof res, "%.*s", (int)(s2 - s1 - 1), s1 + 1);
        const struct ks_resource *dr = ks_find_resource(st, grp, NULL, res);
        if (!dr)
            continue;
        if (!is_ns && propagation && strcmp(propagation, "Orphan") == 0) {
            json_t *c = json_deep_copy(dobj);
            json_t *refs = json_object_get(json_object_get(c, "metadata"), "ownerReferences");
            for (size_t j = 0; j < json_array_size(refs);) {
                if (strcmp(json_string_value(json_object_get(json_array_get(refs, j), "uid")) ?: "",
                           uid) == 0)
                    json_array_remove(refs, j);
                else
                    j++;
            }
            ks_store_put(st, dr, dk, c, "MODIFIED");
            continue;
        }
        json_t *last = NULL;
        delete_object(st, dr, dk, "Background", &last);
        json_decref(last);
    }
    json_decref(todo);
}

/* Delete or mark for deletion; *last receives the final state (owned). */
static void delete_object(struct ks_state *st, const struct ks_resource *r, const char *key,
                          const char *propagation, json_t **last)
{
    json_t *obj = json_object_get(st->objects, key);
    *last = NULL;
    if (!obj)
        return;
    json_t *fin = json_object_get(json_object_get(obj, "metadata"), "finalizers");
    if (json_array_size(fin) > 0) {
        if (meta_str(obj, "deletionTimestamp")) {
            *last = json_deep_copy(obj);
            return;
        }
        json_t *c = json_deep_copy(obj);
        char ts[40];
        ks_now_rfc3339(ts, sizeof ts);
        json_t *m = json_object_get(c, "metadata");
        json_object_set_new(m, "deletionTimestamp", json_string(ts));
        json_object_set_new(m, "deletionGracePeriodSeconds", json_integer(0));
        if (strcmp(r->kind, "Namespace") == 0 && !r->crd)
            json_object_set_new(c, "status", json_pack("{s:s}", "phase", "Terminating"));
        ks_store_put(st, r, key, c, "MODIFIED");
        *last = json_deep_copy(c);
        return;
    }
    json_t *keep = json_deep_copy(obj);
    collect_dependents(st, keep, propagation);
    if (strcmp(r->group, "apiextensions.k8s.io") == 0) {
        json_t *spec = json_object_get(keep, "spec");
        const char *grp = json_string_value(json_object_get(spec, "group"));
        const char *plural =
                json_string_value(json_object_get(json_object_get(spec, "names"), "plural"));
        if (grp && plural) {
            char prefix[512];
            snprintf(prefix, sizeof prefix, "%s/%s/", grp, plural);
            json_t *gone = json_array();
            const char *k;
            json_t *v;
            json_object_foreach(st->objects, k, v)
            {
                if (strncmp(k, prefix, strlen(prefix)) == 0)
                    json_array_append_new(gone, json_string(k));
            }
            size_t i;
            json_t *kj;
            json_array_foreach(gone, i, kj)
            {
                json_t *o = json_object_get(st->objects, json_string_value(kj));
                ks_store_delete(st, json_string_value(kj), o);
            }
            json_decref(gone);
            unregister_crd(st, grp, plural);
        }
    }
    ks_store_delete(st, key, keep);
    *last = keep;
}

void ks_create_internal(struct ks_state *st, const struct ks_resource *r, json_t *obj)
{
    char gv[256], uid[64], ts[40], key[1024];
    gv_string(r, gv, sizeof gv);
    json_object_set_new(obj, "apiVersion", json_string(gv));
    json_object_set_new(obj, "kind", json_string(r->kind));
    json_t *meta = ensure_meta(obj);
    new_uid(st, uid, sizeof uid);
    ks_now_rfc3339(ts, sizeof ts);
    json_object_set_new(meta, "uid", json_string(uid));
    json_object_set_new(meta, "creationTimestamp", json_string(ts));
    if (r->generation)
        json_object_set_new(meta, "generation", json_integer(1));
    ks_update_managed(NULL, obj, "kube-controller-manager", "", true, gv);
    ks_default_object(st, r, obj);
    ks_object_key(key, sizeof key, r, meta_str(obj, "namespace"), meta_str(obj, "name"));
    ks_store_put(st, r, key, obj, "ADDED");
}

void ks_update_internal(struct ks_state *st, const struct ks_resource *r, const char *key,
                        json_t *obj)
{
    char gv[256];
    json_t *live = json_object_get(st->objects, key);
    if (!live) {
        json_decref(obj);
        return;
    }
    json_incref(live);
    gv_string(r, gv, sizeof gv);
    if (r->generation && spec_changed(live, obj)) {
        json_int_t g = json_integer_value(
                json_object_get(json_object_get(live, "metadata"), "generation"));
        json_object_set_new(ensure_meta(obj), "generation", json_integer(g + 1));
    }
    ks_update_managed(live, obj, "kube-controller-manager", "", true, gv);
    json_decref(live);
    ks_store_put(st, r, key, obj, "MODIFIED");
}

void ks_delete_internal(struct ks_state *st, const struct ks_resource *r, const char *key)
{
    json_t *last = NULL;
    delete_object(st, r, key, "Background", &last);
    json_decref(last);
}

static void do_get(struct ks_state *st, const struct ks_resource *r, const char *key,
                   const char *name, const char *sub, const struct ks_request *rq,
                   struct ks_reply *out)
{
    json_t *obj = json_object_get(st->objects, key);
    if (!obj) {
        not_found(out, r, name);
        return;
    }
    if (sub && strcmp(sub, "scale") == 0) {
        reply_obj(out, 200, to_scale(r, obj));
    } else if (!sub && ks_wants_table(rq->accept)) {
        json_t *items = json_pack("[O]", obj);
        bool full = rq->q_include_object && strcmp(rq->q_include_object, "Object") == 0;
        json_t *meta =
                json_pack("{s:O}", "resourceVersion",
                          json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
        reply_obj(out, 200, ks_table(r, items, meta, full));
        out->content_type = "application/json;as=Table;v=v1;g=meta.k8s.io";
        json_decref(items);
        json_decref(meta);
    } else {
        reply_obj(out, 200, output_copy(r, obj, false));
    }
}

static int check_identity(const struct ks_resource *r, const json_t *obj, const char *ns,
                          const char *name, struct ks_reply *out)
{
    char gv[256];
    gv_string(r, gv, sizeof gv);
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (!json_is_object(obj)) {
        ks_reply_status(out, 400, "BadRequest", "the body must be a JSON object");
        return -1;
    }
    if ((av && strcmp(av, gv) != 0) || (kind && strcmp(kind, r->kind) != 0)) {
        ks_reply_status(out, 400, "BadRequest",
                        "the API version in the data (%s) does not match the expected API "
                        "version (%s) or kind %s",
                        av ? av : "", gv, kind ? kind : "");
        return -1;
    }
    const char *bns = meta_str(obj, "namespace");
    if (r->namespaced && bns && ns && *bns && strcmp(bns, ns) != 0) {
        ks_reply_status(out, 400, "BadRequest",
                        "the namespace of the provided object does not match the namespace "
                        "sent on the request");
        return -1;
    }
    const char *bname = meta_str(obj, "name");
    if (name && bname && strcmp(bname, name) != 0) {
        ks_reply_status(out, 400, "BadRequest",
                        "the name of the object (%s) does not match the name on the URL (%s)",
                        bname, name);
        return -1;
    }
    return 0;
}

static int prepare_meta(json_t *obj, const struct ks_resource *r, const char *ns, const char *name)
{
    json_t *m = ensure_meta(obj);
    if (name)
        json_object_set_new(m, "name", json_string(name));
    if (r->namespaced && ns)
        json_object_set_new(m, "namespace", json_string(ns));
    if (!r->namespaced)
        json_object_del(m, "namespace");
    return 0;
}

static int need_namespace(struct ks_state *st, const struct ks_resource *r, const char *ns,
                          struct ks_reply *out)
{
    if (!r->namespaced)
        return 0;
    if (!ns || !*ns) {
        ks_reply_status(out, 400, "BadRequest",
                        "the server could not find the requested "
                        "resource: a namespace is required");
        return -1;
    }
    if (!ns_object(st, ns)) {
        ks_reply_status(out, 404, "NotFound", "namespaces \"%s\" not found", ns);
        json_object_set_new(out->body, "details",
                            json_pack("{s:s,s:s}", "name", ns, "kind", "namespaces"));
        return -1;
    }
    return 0;
}

static void reply_conflicts(struct ks_reply *out, const struct ks_resource *r, const char *name,
                            json_t *conflicts)
{
    char msg[4096];
    size_t n = json_array_size(conflicts);
    json_t *causes = json_array();
    size_t off;
    /* The wording of apimachinery's managedfields conflict error. */
    const char *first_mgr =
            json_string_value(json_object_get(json_array_get(conflicts, 0), "manager"));
    bool one_mgr = true;
    size_t i;
    json_t *c;
    json_array_foreach(conflicts, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "manager")), first_mgr) != 0)
            one_mgr = false;
        char cm[512];
        snprintf(cm, sizeof cm, "conflict with \"%s\" using %s",
                 json_string_value(json_object_get(c, "manager")), r->group[0] ? "" : "v1");
        if (r->group[0])
            snprintf(cm, sizeof cm, "conflict with \"%s\" using %s/%s",
                     json_string_value(json_object_get(c, "manager")), r->group, r->version);
        json_array_append_new(causes, json_pack("{s:s,s:s,s:s}", "reason", "FieldManagerConflict",
                                                "message", cm, "field",
                                                json_string_value(json_object_get(c, "field"))));
    }
    if (n == 1) {
        json_t *c0 = json_array_get(causes, 0);
        snprintf(msg, sizeof msg, "Apply failed with 1 conflict: %s: %s",
                 json_string_value(json_object_get(c0, "message")),
                 json_string_value(json_object_get(c0, "field")));
    } else {
        off = (size_t)snprintf(msg, sizeof msg, "Apply failed with %zu conflicts: ", n);
        if (one_mgr) {
            off += (size_t)snprintf(msg + off, sizeof msg - off, "conflicts with \"%s\"",
                                    first_mgr);
            json_array_foreach(conflicts, i, c)
            {
                if (off < sizeof msg)
                    off += (size_t)snprintf(msg + off, sizeof msg - off, "\n- %s",
                                            json_string_value(json_object_get(c, "field")));
            }
        } else {
            json_array_foreach(causes, i, c)
            {
                if (off < sizeof msg)
                    off += (size_t)snprintf(msg + off, sizeof msg - off, "\n- %s: %s",
                                            json_string_value(json_object_get(c, "message")),
                                            json_string_value(json_object_get(c, "field")));
            }
        }
    }
    ks_reply_status(out, 409, "Conflict", "%s", msg);
    json_object_set_new(out->body, "details",
                        json_pack("{s:s,s:s,s:s,s:o}", "name", name, "group", r->group, "kind",
                                  r->resource, "causes", causes));
}

/* Top-level fields each built-in kind has besides apiVersion, kind, metadata. */
static const char *const *kind_fields(const struct ks_resource *r)
{
    static const char *const spec_status[] = {"spec", "status", NULL};
    static const char *const cm[] = {"data", "binaryData", "immutable", NULL};
    static const char *const secret[] = {"data", "stringData", "type", "immutable", NULL};
    static const char *const sa[] = {"secrets", "imagePullSecrets", "automountServiceAccountToken",
                                     NULL};
    static const char *const role[] = {"rules", "aggregationRule", NULL};
    static const char *const binding[] = {"subjects", "roleRef", NULL};
    static const char *const pc[] = {"value", "globalDefault", "description", "preemptionPolicy",
                                     NULL};
    static const char *const sc[] = {
            "provisioner",          "parameters",        "reclaimPolicy",     "mountOptions",
            "allowVolumeExpansion", "volumeBindingMode", "allowedTopologies", NULL};
    static const char *const ev[] = {"involvedObject",
                                     "reason",
                                     "message",
                                     "source",
                                     "firstTimestamp",
                                     "lastTimestamp",
                                     "count",
                                     "type",
                                     "eventTime",
                                     "series",
                                     "action",
                                     "related",
                                     "reportingComponent",
                                     "reportingInstance",
                                     NULL};
    const char *k = r->kind;
    if (strcmp(k, "ConfigMap") == 0)
        return cm;
    if (strcmp(k, "Secret") == 0)
        return secret;
    if (strcmp(k, "ServiceAccount") == 0)
        return sa;
    if (strcmp(k, "Role") == 0 || strcmp(k, "ClusterRole") == 0)
        return role;
    if (strcmp(k, "RoleBinding") == 0 || strcmp(k, "ClusterRoleBinding") == 0)
        return binding;
    if (strcmp(k, "PriorityClass") == 0)
        return pc;
    if (strcmp(k, "StorageClass") == 0)
        return sc;
    if (strcmp(k, "Event") == 0)
        return ev;
    return spec_status;
}

static bool in_list(const char *const *l, const char *k)
{
    for (size_t i = 0; l[i]; i++) {
        if (strcmp(l[i], k) == 0)
            return true;
    }
    return false;
}

/*
 * fieldValidation: kubesim knows no schemas, so only unknown top-level and
 * metadata fields of built-in kinds are found. Strict (kubectl's default)
 * rejects with 400, Warn adds a Warning header, Ignore does nothing.
 */
static int field_validation(const struct ks_resource *r, const json_t *obj,
                            const struct ks_request *rq, struct ks_reply *out)
{
    const char *mode = rq->q_field_validation ? rq->q_field_validation : "Warn";
    if (r->crd || strcmp(mode, "Ignore") == 0 || !json_is_object(obj))
        return 0;
    static const char *const meta_fields[] = {"name",
                                              "generateName",
                                              "namespace",
                                              "selfLink",
                                              "uid",
                                              "resourceVersion",
                                              "generation",
                                              "creationTimestamp",
                                              "deletionTimestamp",
                                              "deletionGracePeriodSeconds",
                                              "labels",
                                              "annotations",
                                              "ownerReferences",
                                              "finalizers",
                                              "managedFields",
                                              NULL};
    const char *const *allowed = kind_fields(r);
    char unknown[256] = "";
    const char *k;
    json_t *v;
    json_object_foreach(ks_mut(obj), k, v)
    {
        if (strcmp(k, "apiVersion") == 0 || strcmp(k, "kind") == 0 || strcmp(k, "metadata") == 0 ||
            in_list(allowed, k))
            continue;
        snprintf(unknown, sizeof unknown, "%s", k);
        break;
    }
    if (!unknown[0]) {
        json_object_foreach(json_object_get(obj, "metadata"), k, v)
        {
            if (!in_list(meta_fields, k)) {
                snprintf(unknown, sizeof unknown, "metadata.%s", k);
                break;
            }
        }
    }
    if (!r->group[0] && (strcmp(r->kind, "ConfigMap") == 0 || strcmp(r->kind, "Secret") == 0)) {
        static const char *const maps[] = {"data", "binaryData", "stringData", NULL};
        for (size_t i = 0; maps[i]; i++) {
            json_object_foreach(json_object_get(obj, maps[i]), k, v)
            {
                if (!json_is_string(v)) {
                    ks_reply_status(out, 400, "BadRequest",
                                    "%s in version \"v1\" cannot be handled as a %s: json: "
                                    "cannot unmarshal %s into Go struct field %s.%s of type "
                                    "string",
                                    r->kind, r->kind, json_is_number(v) ? "number" : "value",
                                    r->kind, maps[i]);
                    return -1;
                }
            }
        }
    }
    if (!unknown[0])
        return 0;
    if (strcmp(mode, "Strict") == 0) {
        char gv[256];
        ks_reply_status(out, 400, "BadRequest",
                        "%s in version \"%s\" cannot be handled as a %s: strict decoding "
                        "error: unknown field \"%s\"",
                        r->kind, gv_string(r, gv, sizeof gv), r->kind, unknown);
        return -1;
    }
    snprintf(out->warning, sizeof out->warning, "299 - \"unknown field \\\"%s\\\"\"", unknown);
    return 0;
}

static void do_write(struct ks_state *st, const struct ks_resource *r, const char *ns,
                     const char *name, const char *sub, struct ks_request *rq, struct ks_reply *out)
{
    char err[1200], key[1024], mgrbuf[160], gv[256];
    gv_string(r, gv, sizeof gv);
    const char *manager = manager_of(rq, mgrbuf, sizeof mgrbuf);
    if (rq->readonly) {
        ks_reply_status(out, 403, "Forbidden",
                        "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group "
                        "\"%s\"",
                        r->resource, rq->user ? rq->user : "", rq->verb, r->resource, r->group);
        return;
    }
    err[0] = 0;
    json_t *body = NULL;
    if (rq->content_type && strstr(rq->content_type, "protobuf")) {
        body = ks_proto_decode(rq->body, rq->body_len, err, sizeof err);
        if (!body) {
            ks_reply_status(out, 415, "UnsupportedMediaType", "%s", err);
            return;
        }
    } else if (strcmp(rq->method, "DELETE") != 0 && rq->json_body) {
        body = rq->json_body; /* taken: do_write may change it */
        rq->json_body = NULL;
    } else if (strcmp(rq->method, "DELETE") != 0) {
        body = parse_body(rq, err, sizeof err);
        if (!body) {
            ks_reply_status(out, 400, "BadRequest", "error decoding request body: %s", err);
            return;
        }
    }
    const char *ct = rq->content_type ? rq->content_type : "";
    bool is_patch = strcmp(rq->method, "PATCH") == 0 && !strstr(ct, "application/apply-patch");
    if (!is_patch && !(sub && strcmp(sub, "scale") == 0) && field_validation(r, body, rq, out) != 0)
        goto done;

    if (strcmp(rq->method, "POST") == 0) {
        if (name) {
            ks_reply_status(out, 405, "MethodNotAllowed", "POST is not allowed on a named URL");
            goto done;
        }
        if (check_identity(r, body, ns, NULL, out) != 0 || need_namespace(st, r, ns, out) != 0)
            goto done;
        const char *bn = meta_str(body, "name");
        char gen[300];
        if ((!bn || !*bn) && meta_str(body, "generateName")) {
            snprintf(gen, sizeof gen, "%s%05llx", meta_str(body, "generateName"),
                     (unsigned long long)(st->uid_seq * 2654435761u) & 0xfffffu);
            bn = gen;
        }
        if (!bn || !*bn) {
            invalid(out, r, "",
                    json_pack("[o]", cause("FieldValueRequired", "metadata.name",
                                           "Required value: name or generateName is required")));
            goto done;
        }
        if (!valid_name(bn)) {
            invalid(out, r, bn,
                    json_pack("[o]", cause("FieldValueInvalid", "metadata.name",
                                           "Invalid value: a lowercase RFC 1123 subdomain "
                                           "must consist of lower case alphanumeric "
                                           "characters, '-' or '.'")));
            goto done;
        }
        char bnc[300];
        snprintf(bnc, sizeof bnc, "%s", bn);
        ks_object_key(key, sizeof key, r, r->namespaced ? ns : NULL, bnc);
        if (json_object_get(st->objects, key)) {
            char qr[256];
            ks_reply_status(out, 409, "AlreadyExists", "%s \"%s\" already exists",
                            qualified_resource(r, qr, sizeof qr), bnc);
            json_object_set_new(out->body, "details",
                                json_pack("{s:s,s:s,s:s}", "name", bnc, "group", r->group, "kind",
                                          r->resource));
            goto done;
        }
        json_t *obj = body; /* not used below */
        body = NULL;
        prepare_meta(obj, r, ns, bnc);
        json_object_del(json_object_get(obj, "metadata"), "managedFields");
        ks_update_managed(NULL, obj, manager, "", !r->crd, gv);
        commit(st, r, key, NULL, obj, rq, out);
        goto done;
    }

    if (!name) {
        ks_reply_status(out, 405, "MethodNotAllowed", "the server does not allow this method");
        goto done;
    }
    if (need_namespace(st, r, ns, out) != 0)
        goto done;
    ks_object_key(key, sizeof key, r, r->namespaced ? ns : NULL, name);
    json_t *live = json_object_get(st->objects, key);
    if (live)
        json_incref(live);

    if (sub && strcmp(sub, "scale") == 0) {
        if (!r->has_scale || !live) {
            if (!live)
                not_found(out, r, name);
            else
                ks_reply_status(out, 404, "NotFound",
                                "the server could not find the requested resource");
            json_decref(live);
            goto done;
        }
        json_t *scale = to_scale(r, live);
        json_t *ns_scale = NULL;
        if (strcmp(rq->method, "PUT") == 0) {
            ns_scale = json_incref(body);
        } else if (strstr(ct, "merge-patch") || strstr(ct, "strategic-merge-patch")) {
            ns_scale = ks_merge_patch(scale, body);
        } else if (strstr(ct, "json-patch")) {
            ns_scale = json_deep_copy(scale);
            if (ks_json_patch(&ns_scale, body, err, sizeof err) != 0) {
                ks_reply_status(out, 422, "Invalid", "%s", err);
                json_decref(ns_scale);
                json_decref(scale);
                json_decref(live);
                goto done;
            }
        } else {
            ks_reply_status(out, 415, "UnsupportedMediaType",
                            "the body of the request was in "
                            "an unknown format");
            json_decref(scale);
            json_decref(live);
            goto done;
        }
        json_t *rep = json_object_get(json_object_get(ns_scale, "spec"), "replicas");
        json_t *obj = json_deep_copy(live);
        json_t *spec = json_object_get(obj, "spec");
        if (!json_is_object(spec)) {
            spec = json_object();
            json_object_set_new(obj, "spec", spec);
        }
        json_object_set_new(spec, "replicas",
                            json_integer(rep ? json_integer_value(rep) : (json_int_t)0));
        ks_update_managed(live, obj, manager, "scale", !r->crd, gv);
        json_decref(ns_scale);
        json_decref(scale);
        commit(st, r, key, live, obj, rq, out);
        if (out->code < 300) {
            json_t *s = to_scale(r, out->body);
            reply_obj(out, out->code, s);
        }
        json_decref(live);
        goto done;
    }

    json_t *obj = NULL;
    bool status_sub = sub && strcmp(sub, "status") == 0;
    if (sub && !status_sub) {
        ks_reply_status(out, 404, "NotFound", "the server could not find the requested resource");
        json_decref(live);
        goto done;
    }
    if (strcmp(rq->method, "PUT") == 0) {
        if (!live) {
            not_found(out, r, name);
            goto done;
        }
        if (check_identity(r, body, ns, name, out) != 0) {
            json_decref(live);
            goto done;
        }
        const char *brv = meta_str(body, "resourceVersion");
        if (brv && *brv && strcmp(brv, meta_str(live, "resourceVersion")) != 0) {
            char qr[256];
            ks_reply_status(out, 409, "Conflict",
                            "Operation cannot be fulfilled on %s \"%s\": the object has been "
                            "modified; please apply your changes to the latest version and try "
                            "again",
                            qualified_resource(r, qr, sizeof qr), name);
            json_decref(live);
            goto done;
        }
        obj = json_deep_copy(body);
        /* The body's managedFields are the client's copy; ownership comes from live. */
        json_t *lmf = json_object_get(json_object_get(live, "metadata"), "managedFields");
        if (lmf)
            json_object_set(ensure_meta(obj), "managedFields", lmf);
        else
            json_object_del(ensure_meta(obj), "managedFields");
    } else if (strstr(ct, "application/apply-patch")) {
        if (status_sub) {
            ks_reply_status(out, 415, "UnsupportedMediaType",
                            "apply is not supported on the status subresource by kubesim");
            json_decref(live);
            goto done;
        }
        if (!rq->q_field_manager || !*rq->q_field_manager) {
            ks_reply_status(out, 422, "Invalid",
                            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required "
                            "value: is required for apply patch");
            json_object_set_new(out->body, "details",
                                json_pack("{s:s,s:s,s:[{s:s,s:s,s:s}]}", "group", "meta.k8s.io",
                                          "kind", "PatchOptions", "causes", "reason",
                                          "FieldValueRequired", "message",
                                          "Required value: is required for apply patch", "field",
                                          "fieldManager"));
            json_decref(live);
            goto done;
        }
        if (check_identity(r, body, ns, name, out) != 0) {
            json_decref(live);
            goto done;
        }
        if (!json_object_get(body, "apiVersion") || !json_object_get(body, "kind")) {
            ks_reply_status(out, 400, "BadRequest", "apply patch must carry apiVersion and kind");
            json_decref(live);
            goto done;
        }
        if (!live && !valid_name(name)) {
            invalid(out, r, name,
                    json_pack("[o]", cause("FieldValueInvalid", "metadata.name",
                                           "Invalid value: a lowercase RFC 1123 subdomain "
                                           "must consist of lower case alphanumeric "
                                           "characters, '-' or '.'")));
            goto done;
        }
        json_t *applied = body; /* not used below */
        body = NULL;
        prepare_meta(applied, r, ns, name);
        if (!r->crd) /* compared with live for conflicts: the same form as stored */
            sl_qty_canonicalize(applied);
        json_t *conflicts = NULL;
        bool force = rq->q_force && strcmp(rq->q_force, "true") == 0;
        int rc = ks_apply(live, applied, manager, force, !r->crd, gv, &obj, &conflicts);
        json_decref(applied);
        if (rc == 409) {
            reply_conflicts(out, r, name, conflicts);
            json_decref(conflicts);
            json_decref(live);
            goto done;
        }
        json_decref(conflicts);
        commit(st, r, key, live, obj, rq, out);
        json_decref(live);
        goto done;
    } else {
        if (!live) {
            not_found(out, r, name);
            goto done;
        }
        json_t *base = json_deep_copy(live);
        if (strstr(ct, "application/merge-patch+json")) {
            obj = ks_merge_patch(base, body);
        } else if (strstr(ct, "application/strategic-merge-patch+json")) {
            if (r->crd) {
                ks_reply_status(out, 415, "UnsupportedMediaType",
                                "strategic merge patch is not supported for custom resources");
                json_decref(base);
                json_decref(live);
                goto done;
            }
            obj = json_deep_copy(base);
            if (ks_strategic_patch(obj, body, true, err, sizeof err) != 0) {
                ks_reply_status(out, 422, "Invalid", "%s", err);
                json_decref(obj);
                json_decref(base);
                json_decref(live);
                goto done;
            }
        } else if (strstr(ct, "application/json-patch+json")) {
            obj = json_deep_copy(base);
            if (ks_json_patch(&obj, body, err, sizeof err) != 0) {
                ks_reply_status(out, 422, "Invalid",
                                "the server rejected our request due to "
                                "an error in our request: %s",
                                err);
                json_decref(obj);
                json_decref(base);
                json_decref(live);
                goto done;
            }
        } else {
            ks_reply_status(out, 415, "UnsupportedMediaType",
                            "the body of the request was in an unknown format - accepted media "
                            "types include: application/json-patch+json, "
                            "application/merge-patch+json, application/apply-patch+yaml");
            json_decref(base);
            json_decref(live);
            goto done;
        }
        json_decref(base);
        if (!json_is_object(obj)) {
            ks_reply_status(out, 422, "Invalid", "patch result is not an object");
            json_decref(obj);
            json_decref(live);
            goto done;
        }
    }
    /* PUT and non-apply patches share this tail. */
    if (is_patch && field_validation(r, obj, rq, out) != 0) {
        json_decref(obj);
        json_decref(live);
        goto done;
    }
    if (status_sub) {
        json_t *st_new = json_object_get(obj, "status");
        json_t *merged = json_deep_copy(live);
        if (st_new)
            json_object_set(merged, "status", st_new);
        else
            json_object_del(merged, "status");
        json_decref(obj);
        obj = merged;
    } else if (r->has_status && json_object_get(live, "status")) {
        json_object_set(obj, "status", json_object_get(live, "status"));
    }
    prepare_meta(obj, r, ns, name);
    ks_update_managed(live, obj, manager, status_sub ? "status" : "", !r->crd, gv);
    commit(st, r, key, live, obj, rq, out);
    json_decref(live);
done:
    json_decref(body);
}

static void do_delete(struct ks_state *st, const struct ks_resource *r, const char *ns,
                      const char *name, struct ks_request *rq, struct ks_reply *out)
{
    if (rq->readonly) {
        ks_reply_status(out, 403, "Forbidden", "%s is forbidden: User \"%s\" cannot delete",
                        r->resource, rq->user ? rq->user : "");
        return;
    }
    const char *prop = rq->q_propagation;
    json_t *opts = NULL;
    char err[512];
    if (rq->body_len > 0) {
        opts = parse_body(rq, err, sizeof err);
        const char *p = json_string_value(json_object_get(opts, "propagationPolicy"));
        if (p)
            prop = p;
        json_t *dr = json_object_get(opts, "dryRun");
        if (json_is_array(dr) && json_array_size(dr) > 0)
            rq->q_dry_run = "All";
    }
    if (!prop)
        prop = "Background";
    if (strcmp(prop, "Background") != 0 && strcmp(prop, "Foreground") != 0 &&
        strcmp(prop, "Orphan") != 0) {
        ks_reply_status(out, 400, "BadRequest", "invalid propagationPolicy %s", prop);
        json_decref(opts);
        return;
    }
    if (!name) {
        /* deletecollection */
        char prefix[512];
        snprintf(prefix, sizeof prefix, "%s/%s/%s/", r->group, r->resource,
                 r->namespaced && ns ? ns : "");
        json_t *victims = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(st->objects, k, v)
        {
            bool in = r->namespaced && !ns ? strncmp(k, prefix, strlen(prefix) - 1) == 0
                                           : strncmp(k, prefix, strlen(prefix)) == 0;
            if (in && label_match(v, rq->q_label_selector) && field_match(v, rq->q_field_selector))
                json_array_append_new(victims, json_string(k));
        }
        size_t i;
        json_t *kj;
        json_array_foreach(victims, i, kj)
        {
            json_t *last = NULL;
            if (!dry_run(rq))
                delete_object(st, r, json_string_value(kj), prop, &last);
            json_decref(last);
        }
        json_decref(victims);
        reply_obj(out, 200, ks_status(200, "", "deleted"));
        json_object_del(out->body, "reason");
        json_decref(opts);
        return;
    }
    char key[1024];
    ks_object_key(key, sizeof key, r, r->namespaced ? ns : NULL, name);
    json_t *obj = json_object_get(st->objects, key);
    if (!obj) {
        not_found(out, r, name);
        json_decref(opts);
        return;
    }
    json_t *pre = json_object_get(opts, "preconditions");
    const char *puid = json_string_value(json_object_get(pre, "uid"));
    const char *prv = json_string_value(json_object_get(pre, "resourceVersion"));
    if ((puid && strcmp(puid, meta_str(obj, "uid")) != 0) ||
        (prv && strcmp(prv, meta_str(obj, "resourceVersion")) != 0)) {
        char qr[256];
        ks_reply_status(out, 409, "Conflict",
                        "Operation cannot be fulfilled on %s \"%s\": precondition failed",
                        qualified_resource(r, qr, sizeof qr), name);
        json_decref(opts);
        return;
    }
    if (dry_run(rq)) {
        reply_obj(out, 200, output_copy(r, obj, false));
        json_decref(opts);
        return;
    }
    json_t *last = NULL;
    delete_object(st, r, key, prop, &last);
    reply_obj(out, 200, last ? last : ks_status(200, "", "deleted"));
    json_decref(opts);
}

struct route {
    const struct ks_resource *r;
    char buf[2048];
    const char *ns, *name, *sub;
};

/* 0: a resource path; 404 otherwise. */
static int parse_route(struct ks_state *st, const char *path, struct route *rt)
{
    snprintf(rt->buf, sizeof rt->buf, "%s", path);
    char *segs[16];
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(rt->buf, "/", &save); t && n < 16; t = strtok_r(NULL, "/", &save))
        segs[n++] = t;
    const char *group, *version;
    size_t i;
    rt->ns = rt->name = rt->sub = NULL;
    rt->r = NULL;
    if (n >= 2 && strcmp(segs[0], "api") == 0) {
        group = "";
        version = segs[1];
        i = 2;
    } else if (n >= 3 && strcmp(segs[0], "apis") == 0) {
        group = segs[1];
        version = segs[2];
        i = 3;
    } else {
        return 404;
    }
    size_t rest = n - i;
    if (rest >= 3 && strcmp(segs[i], "namespaces") == 0 &&
        !(rest == 3 &&
          (strcmp(segs[i + 2], "status") == 0 || strcmp(segs[i + 2], "finalize") == 0))) {
        rt->ns = segs[i + 1];
        i += 2;
        rest -= 2;
    }
    if (rest < 1 || rest > 3)
        return 404;
    const char *resname = segs[i];
    if (rest >= 2)
        rt->name = segs[i + 1];
    if (rest == 3)
        rt->sub = segs[i + 2];
    const struct ks_resource *r = ks_find_resource(st, group, version, resname);
    if (!r || (rt->ns && !r->namespaced))
        return 404;
    if (rt->sub && strcmp(rt->sub, "finalize") == 0)
        rt->sub = NULL; /* namespaces/NAME/finalize behaves as an update */
    if (rt->sub && !((strcmp(rt->sub, "status") == 0 && r->has_status) ||
                     (strcmp(rt->sub, "scale") == 0 && r->has_scale)))
        return 404;
    rt->r = r;
    return 0;
}

void ks_classify(struct ks_state *st, struct ks_request *rq)
{
    struct route rt;
    const char *p = rq->path;
    const char *m = rq->method;
    if (parse_route(st, p, &rt) != 0) {
        snprintf(rq->verb, sizeof rq->verb, "%s", strcmp(m, "GET") == 0 ? "get" : m);
        const char *what = strncmp(p, "/openapi", 8) == 0 ? "openapi"
                           : strcmp(p, "/version") == 0   ? "version"
                           : strncmp(p, "/api", 4) == 0   ? "discovery"
                                                          : "other";
        snprintf(rq->resource_name, sizeof rq->resource_name, "%s", what);
        return;
    }
    const struct ks_resource *r = rt.r;
    bool watch = rq->q_watch && (strcmp(rq->q_watch, "1") == 0 || strcmp(rq->q_watch, "true") == 0);
    if (strcmp(m, "GET") == 0)
        snprintf(rq->verb, sizeof rq->verb, "%s", rt.name ? "get" : (watch ? "watch" : "list"));
    else if (strcmp(m, "POST") == 0)
        snprintf(rq->verb, sizeof rq->verb, "create");
    else if (strcmp(m, "PUT") == 0)
        snprintf(rq->verb, sizeof rq->verb, "update");
    else if (strcmp(m, "PATCH") == 0)
        snprintf(rq->verb, sizeof rq->verb, "%s",
                 rq->content_type && strstr(rq->content_type, "apply-patch") ? "apply" : "patch");
    else if (strcmp(m, "DELETE") == 0)
        snprintf(rq->verb, sizeof rq->verb, "%s", rt.name ? "delete" : "deletecollection");
    else
        snprintf(rq->verb, sizeof rq->verb, "%s", m);
    snprintf(rq->resource_name, sizeof rq->resource_name, "%s%s%s%s%s", r->group,
             r->group[0] ? "/" : "", r->resource, rt.sub ? "/" : "", rt.sub ? rt.sub : "");
}

int ks_watch_prefix(struct ks_state *st, const char *path, char *out, size_t outlen,
                    bool *ns_scoped)
{
    struct route rt;
    if (parse_route(st, path, &rt) != 0 || rt.name)
        return -1;
    if (rt.ns) {
        snprintf(out, outlen, "%s/%s/%s", rt.r->group, rt.r->resource, rt.ns);
        *ns_scoped = true;
    } else {
        snprintf(out, outlen, "%s/%s/", rt.r->group, rt.r->resource);
        *ns_scoped = false;
    }
    return 0;
}

bool ks_selector_match(const json_t *obj, const char *labels, const char *fields)
{
    return label_match(obj, labels) && field_match(obj, fields);
}

void ks_handle_api(struct ks_state *st, struct ks_request *rq, struct ks_reply *out)
{
    struct route rt;
    if (parse_route(st, rq->path, &rt) != 0) {
        ks_reply_status(out, 404, "NotFound", "the server could not find the requested resource");
        return;
    }
    const struct ks_resource *r = rt.r;
    const char *ns = rt.ns, *name = rt.name, *sub = rt.sub;
    const char *m = rq->method;
    if (!rq->verb[0])
        ks_classify(st, rq);
    if (strcmp(m, "GET") == 0) {
        if (name) {
            char key[1024];
            ks_object_key(key, sizeof key, r, r->namespaced ? ns : NULL, name);
            do_get(st, r, key, name, sub, rq, out);
        } else {
            do_list(st, r, ns, rq, out);
        }
    } else if (strcmp(m, "DELETE") == 0) {
        do_delete(st, r, ns, name, rq, out);
    } else if (strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0) {
        do_write(st, r, ns, name, sub, rq, out);
    } else {
        ks_reply_status(out, 405, "MethodNotAllowed", "method %s not allowed", m);
    }
}
