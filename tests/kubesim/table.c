/*
 * Server-side printing: meta.k8s.io/v1 Table answers for GET and LIST when
 * the client asks for them (Accept: ...;as=Table;v=v1;g=meta.k8s.io), with
 * the columns `kubectl get` shows for the common kinds. Every other kind
 * gets Name and Age.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kubesim.h"

bool ks_wants_table(const char *accept)
{
    return accept && strstr(accept, "as=Table") && strstr(accept, "g=meta.k8s.io") &&
           strstr(accept, "v=v1");
}

static void human_age(const char *ts, char *out, size_t len)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
        snprintf(out, len, "<unknown>");
        return;
    }
    long long s = (long long)(time(NULL) - timegm(&tm));
    if (s < 0)
        s = 0;
    long long m = s / 60, h = s / 3600, d = s / 86400;
    if (s < 120)
        snprintf(out, len, "%llds", s);
    else if (m < 10)
        snprintf(out, len, "%lldm%llds", m, s % 60);
    else if (h < 3)
        snprintf(out, len, "%lldm", m);
    else if (h < 8)
        snprintf(out, len, "%lldh%lldm", h, m % 60);
    else if (h < 48)
        snprintf(out, len, "%lldh", h);
    else if (d < 8)
        snprintf(out, len, "%lldd%lldh", d, h % 24);
    else
        snprintf(out, len, "%lldd", d);
}

static json_int_t ival(const json_t *o, const char *a, const char *b)
{
    return json_integer_value(json_object_get(json_object_get(o, a), b));
}

static json_t *col(const char *name, const char *type, int priority)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", name, "type", type, "format",
                     strcmp(name, "Name") == 0 ? "name" : "", "description", "", "priority",
                     priority);
}

static const char *cond_status(const json_t *obj, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "type")) ?: "", type) == 0)
            return json_string_value(json_object_get(c, "status"));
    }
    return NULL;
}

static void ports_string(const json_t *svc, char *out, size_t len)
{
    size_t off = 0, i;
    json_t *p;
    out[0] = 0;
    json_array_foreach(json_object_get(json_object_get(svc, "spec"), "ports"), i, p)
    {
        if (off >= len)
            break;
        off += (size_t)snprintf(out + off, len - off, "%s%lld/%s", i ? "," : "",
                                (long long)json_integer_value(json_object_get(p, "port")),
                                json_string_value(json_object_get(p, "protocol")) ?: "TCP");
    }
    if (!out[0])
        snprintf(out, len, "<none>");
}

/* Columns for a kind; cells for one object (NULL obj: columns only). */
static json_t *columns(const struct ks_resource *r)
{
    const char *k = r->kind;
    bool core = !r->group[0], apps = strcmp(r->group, "apps") == 0;
    json_t *c = json_array();
    json_array_append_new(c, col("Name", "string", 0));
    if (apps && strcmp(k, "Deployment") == 0) {
        json_array_append_new(c, col("Ready", "string", 0));
        json_array_append_new(c, col("Up-to-date", "integer", 0));
        json_array_append_new(c, col("Available", "integer", 0));
    } else if (apps && strcmp(k, "StatefulSet") == 0) {
        json_array_append_new(c, col("Ready", "string", 0));
    } else if (apps && (strcmp(k, "DaemonSet") == 0 || strcmp(k, "ReplicaSet") == 0)) {
        json_array_append_new(c, col("Desired", "integer", 0));
        json_array_append_new(c, col("Current", "integer", 0));
        json_array_append_new(c, col("Ready", "integer", 0));
    } else if (strcmp(r->group, "batch") == 0 && strcmp(k, "Job") == 0) {
        json_array_append_new(c, col("Status", "string", 0));
        json_array_append_new(c, col("Completions", "string", 0));
    } else if (core && strcmp(k, "Service") == 0) {
        json_array_append_new(c, col("Type", "string", 0));
        json_array_append_new(c, col("Cluster-IP", "string", 0));
        json_array_append_new(c, col("External-IP", "string", 0));
        json_array_append_new(c, col("Port(s)", "string", 0));
    } else if (core && strcmp(k, "Namespace") == 0) {
        json_array_append_new(c, col("Status", "string", 0));
    } else if (core && strcmp(k, "ConfigMap") == 0) {
        json_array_append_new(c, col("Data", "integer", 0));
    } else if (core && strcmp(k, "Secret") == 0) {
        json_array_append_new(c, col("Type", "string", 0));
        json_array_append_new(c, col("Data", "integer", 0));
    } else if (core && strcmp(k, "PersistentVolumeClaim") == 0) {
        json_array_append_new(c, col("Status", "string", 0));
    } else if (core && strcmp(k, "Pod") == 0) {
        json_array_append_new(c, col("Ready", "string", 0));
        json_array_append_new(c, col("Status", "string", 0));
        json_array_append_new(c, col("Restarts", "string", 0));
    }
    json_array_append_new(c, col("Age", "string", 0));
    return c;
}

static json_t *cells(const struct ks_resource *r, const json_t *o)
{
    const char *k = r->kind;
    bool core = !r->group[0], apps = strcmp(r->group, "apps") == 0;
    json_t *meta = json_object_get(o, "metadata");
    json_t *c = json_array();
    char buf[512];
    json_array_append_new(c, json_string(json_string_value(json_object_get(meta, "name")) ?: ""));
    json_int_t want = json_is_integer(json_object_get(json_object_get(o, "spec"), "replicas"))
                              ? ival(o, "spec", "replicas")
                              : 1;
    if (apps && strcmp(k, "Deployment") == 0) {
        snprintf(buf, sizeof buf, "%lld/%lld", (long long)ival(o, "status", "readyReplicas"),
                 (long long)want);
        json_array_append_new(c, json_string(buf));
        json_array_append_new(c, json_integer(ival(o, "status", "updatedReplicas")));
        json_array_append_new(c, json_integer(ival(o, "status", "availableReplicas")));
    } else if (apps && strcmp(k, "StatefulSet") == 0) {
        snprintf(buf, sizeof buf, "%lld/%lld", (long long)ival(o, "status", "readyReplicas"),
                 (long long)want);
        json_array_append_new(c, json_string(buf));
    } else if (apps && strcmp(k, "DaemonSet") == 0) {
        json_array_append_new(c, json_integer(ival(o, "status", "desiredNumberScheduled")));
        json_array_append_new(c, json_integer(ival(o, "status", "currentNumberScheduled")));
        json_array_append_new(c, json_integer(ival(o, "status", "numberReady")));
    } else if (apps && strcmp(k, "ReplicaSet") == 0) {
        json_array_append_new(c, json_integer(want));
        json_array_append_new(c, json_integer(ival(o, "status", "replicas")));
        json_array_append_new(c, json_integer(ival(o, "status", "readyReplicas")));
    } else if (strcmp(r->group, "batch") == 0 && strcmp(k, "Job") == 0) {
        const char *s = "Running";
        if (cond_status(o, "Complete") && strcmp(cond_status(o, "Complete"), "True") == 0)
            s = "Complete";
        else if (cond_status(o, "Failed") && strcmp(cond_status(o, "Failed"), "True") == 0)
            s = "Failed";
        json_array_append_new(c, json_string(s));
        json_int_t comp =
                json_is_integer(json_object_get(json_object_get(o, "spec"), "completions"))
                        ? ival(o, "spec", "completions")
                        : 1;
        snprintf(buf, sizeof buf, "%lld/%lld", (long long)ival(o, "status", "succeeded"),
                 (long long)comp);
        json_array_append_new(c, json_string(buf));
    } else if (core && strcmp(k, "Service") == 0) {
        json_t *spec = json_object_get(o, "spec");
        json_array_append_new(
                c, json_string(json_string_value(json_object_get(spec, "type")) ?: "ClusterIP"));
        json_array_append_new(
                c, json_string(json_string_value(json_object_get(spec, "clusterIP")) ?: "<none>"));
        json_array_append_new(c, json_string("<none>"));
        ports_string(o, buf, sizeof buf);
        json_array_append_new(c, json_string(buf));
    } else if (core && (strcmp(k, "Namespace") == 0 || strcmp(k, "PersistentVolumeClaim") == 0)) {
        json_array_append_new(c, json_string(json_string_value(json_object_get(
                                                     json_object_get(o, "status"), "phase"))
                                                     ?: ""));
    } else if (core && strcmp(k, "Pod") == 0) {
        json_t *status = json_object_get(o, "status");
        size_t total = json_array_size(json_object_get(json_object_get(o, "spec"), "containers"));
        size_t ready = 0;
        json_int_t restarts = 0;
        const char *reason = json_string_value(json_object_get(status, "phase")) ?: "Pending";
        size_t i;
        json_t *cs;
        json_array_foreach(json_object_get(status, "containerStatuses"), i, cs)
        {
            if (json_is_true(json_object_get(cs, "ready")))
                ready++;
            restarts += json_integer_value(json_object_get(cs, "restartCount"));
            const char *w = json_string_value(json_object_get(
                    json_object_get(json_object_get(cs, "state"), "waiting"), "reason"));
            if (w)
                reason = w;
        }
        snprintf(buf, sizeof buf, "%zu/%zu", ready, total);
        json_array_append_new(c, json_string(buf));
        json_array_append_new(c, json_string(reason));
        snprintf(buf, sizeof buf, "%lld", (long long)restarts);
        json_array_append_new(c, json_string(buf));
    } else if (core && strcmp(k, "ConfigMap") == 0) {
        json_array_append_new(
                c, json_integer((json_int_t)(json_object_size(json_object_get(o, "data")) +
                                             json_object_size(json_object_get(o, "binaryData")))));
    } else if (core && strcmp(k, "Secret") == 0) {
        json_array_append_new(
                c, json_string(json_string_value(json_object_get(o, "type")) ?: "Opaque"));
        json_array_append_new(
                c, json_integer((json_int_t)json_object_size(json_object_get(o, "data"))));
    }
    human_age(json_string_value(json_object_get(meta, "creationTimestamp")), buf, sizeof buf);
    json_array_append_new(c, json_string(buf));
    return c;
}

json_t *ks_table(const struct ks_resource *r, const json_t *items, const json_t *list_meta,
                 bool include_object)
{
    json_t *rows = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        json_t *obj;
        if (include_object) {
            obj = json_deep_copy(o);
            if (!json_object_get(obj, "kind"))
                json_object_set_new(obj, "kind", json_string(r->kind));
            char gv[256];
            if (r->group[0])
                snprintf(gv, sizeof gv, "%s/%s", r->group, r->version);
            else
                snprintf(gv, sizeof gv, "%s", r->version);
            json_object_set_new(obj, "apiVersion", json_string(gv));
        } else {
            obj = json_pack("{s:s,s:s,s:O}", "kind", "PartialObjectMetadata", "apiVersion",
                            "meta.k8s.io/v1", "metadata", json_object_get(o, "metadata"));
        }
        json_array_append_new(rows, json_pack("{s:o,s:o}", "cells", cells(r, o), "object", obj));
    }
    return json_pack("{s:s,s:s,s:o,s:o,s:o}", "kind", "Table", "apiVersion", "meta.k8s.io/v1",
                     "metadata", list_meta ? json_deep_copy(list_meta) : json_object(),
                     "columnDefinitions", columns(r), "rows", rows);
}
