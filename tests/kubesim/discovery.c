/*
 * /version, legacy and aggregated discovery, and /openapi/v3.
 *
 * The OpenAPI documents carry what kubectl inspects (paths with
 * x-kubernetes-group-version-kind and the fieldValidation parameter, so it
 * relies on server-side validation) and, per kind, a schema that accepts
 * any object (x-kubernetes-preserve-unknown-fields). kubesim does not know
 * the real schemas of the built-in kinds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kubesim.h"

static const char *const verbs_all[] = {
        "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch", NULL};

static json_t *verbs_json(void)
{
    json_t *a = json_array();
    for (size_t i = 0; verbs_all[i]; i++)
        json_array_append_new(a, json_string(verbs_all[i]));
    return a;
}

static json_t *shorts_json(const struct ks_resource *r)
{
    json_t *a = json_array();
    if (!r->short_names)
        return a;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", r->short_names);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(a, json_string(t));
    return a;
}

/* Distinct groups (with their versions) in registration order. */
static json_t *group_versions(const struct ks_state *st)
{
    json_t *groups = json_array(); /* [{"name":g,"versions":[v...],"preferred":v}] */
    for (size_t i = 0; i < st->nres; i++) {
        const struct ks_resource *r = &st->res[i];
        if (!r->resource)
            continue;
        json_t *g = NULL;
        size_t j;
        json_t *x;
        json_array_foreach(groups, j, x)
        {
            if (strcmp(json_string_value(json_object_get(x, "name")), r->group) == 0)
                g = x;
        }
        if (!g) {
            g = json_pack("{s:s,s:[],s:s}", "name", r->group, "versions", "preferred", r->version);
            json_array_append_new(groups, g);
        }
        json_t *vs = json_object_get(g, "versions");
        bool have = false;
        json_array_foreach(vs, j, x)
        {
            if (strcmp(json_string_value(x), r->version) == 0)
                have = true;
        }
        if (!have)
            json_array_append_new(vs, json_string(r->version));
        if (r->storage)
            json_object_set_new(g, "preferred", json_string(r->version));
    }
    return groups;
}

static bool wants_aggregated(const char *accept)
{
    return accept && strstr(accept, "as=APIGroupDiscoveryList") && strstr(accept, "v=v2") != NULL;
}

static json_t *agg_resources(const struct ks_state *st, const char *group, const char *version)
{
    json_t *res = json_array();
    for (size_t i = 0; i < st->nres; i++) {
        const struct ks_resource *r = &st->res[i];
        if (!r->resource || strcmp(r->group, group) != 0 || strcmp(r->version, version) != 0)
            continue;
        json_t *e = json_pack("{s:s,s:{s:s,s:s,s:s},s:s,s:s,s:o}", "resource", r->resource,
                              "responseKind", "group", r->group, "version", r->version, "kind",
                              r->kind, "scope", r->namespaced ? "Namespaced" : "Cluster",
                              "singularResource", r->singular, "verbs", verbs_json());
        json_t *sn = shorts_json(r);
        if (json_array_size(sn))
            json_object_set_new(e, "shortNames", sn);
        else
            json_decref(sn);
        if (!r->crd && strcmp(r->group, "") == 0 && strcmp(r->resource, "pods") == 0)
            json_object_set_new(e, "categories", json_pack("[s]", "all"));
        if (r->crd || strcmp(r->group, "apps") == 0 || strcmp(r->group, "batch") == 0 ||
            strcmp(r->resource, "services") == 0)
            json_object_set_new(e, "categories", json_pack("[s]", "all"));
        json_t *subs = json_array();
        if (r->has_status)
            json_array_append_new(subs, json_pack("{s:s,s:{s:s,s:s,s:s},s:[s,s,s]}", "subresource",
                                                  "status", "responseKind", "group", r->group,
                                                  "version", r->version, "kind", r->kind, "verbs",
                                                  "get", "patch", "update"));
        if (r->has_scale)
            json_array_append_new(subs, json_pack("{s:s,s:{s:s,s:s,s:s},s:[s,s,s]}", "subresource",
                                                  "scale", "responseKind", "group", "autoscaling",
                                                  "version", "v1", "kind", "Scale", "verbs", "get",
                                                  "patch", "update"));
        if (json_array_size(subs))
            json_object_set_new(e, "subresources", subs);
        else
            json_decref(subs);
        json_array_append_new(res, e);
    }
    return res;
}

static json_t *aggregated(const struct ks_state *st, bool legacy)
{
    json_t *items = json_array();
    json_t *groups = group_versions(st);
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g)
    {
        const char *name = json_string_value(json_object_get(g, "name"));
        if (legacy != (name[0] == 0))
            continue;
        json_t *versions = json_array();
        const char *pref = json_string_value(json_object_get(g, "preferred"));
        /* The preferred version comes first. */
        json_array_append_new(versions,
                              json_pack("{s:s,s:o,s:s}", "version", pref, "resources",
                                        agg_resources(st, name, pref), "freshness", "Current"));
        size_t j;
        json_t *v;
        json_array_foreach(json_object_get(g, "versions"), j, v)
        {
            if (strcmp(json_string_value(v), pref) == 0)
                continue;
            json_array_append_new(versions, json_pack("{s:s,s:o,s:s}", "version",
                                                      json_string_value(v), "resources",
                                                      agg_resources(st, name, json_string_value(v)),
                                                      "freshness", "Current"));
        }
        json_array_append_new(
                items, json_pack("{s:{s:s},s:o}", "metadata", "name", name, "versions", versions));
    }
    json_decref(groups);
    return json_pack("{s:s,s:s,s:{},s:o}", "kind", "APIGroupDiscoveryList", "apiVersion",
                     "apidiscovery.k8s.io/v2", "metadata", "items", items);
}

static json_t *api_group(json_t *g)
{
    const char *name = json_string_value(json_object_get(g, "name"));
    const char *pref = json_string_value(json_object_get(g, "preferred"));
    json_t *vers = json_array();
    char gv[300];
    snprintf(gv, sizeof gv, "%s/%s", name, pref);
    json_array_append_new(vers, json_pack("{s:s,s:s}", "groupVersion", gv, "version", pref));
    size_t j;
    json_t *v;
    json_array_foreach(json_object_get(g, "versions"), j, v)
    {
        if (strcmp(json_string_value(v), pref) == 0)
            continue;
        snprintf(gv, sizeof gv, "%s/%s", name, json_string_value(v));
        json_array_append_new(
                vers, json_pack("{s:s,s:s}", "groupVersion", gv, "version", json_string_value(v)));
    }
    snprintf(gv, sizeof gv, "%s/%s", name, pref);
    return json_pack("{s:s,s:s,s:s,s:o,s:{s:s,s:s}}", "kind", "APIGroup", "apiVersion", "v1",
                     "name", name, "versions", vers, "preferredVersion", "groupVersion", gv,
                     "version", pref);
}

static json_t *resource_list(const struct ks_state *st, const char *group, const char *version)
{
    json_t *res = json_array();
    bool any = false;
    for (size_t i = 0; i < st->nres; i++) {
        const struct ks_resource *r = &st->res[i];
        if (!r->resource || strcmp(r->group, group) != 0 || strcmp(r->version, version) != 0)
            continue;
        any = true;
        json_t *e =
                json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", r->resource, "singularName", r->singular,
                          "namespaced", r->namespaced, "kind", r->kind, "verbs", verbs_json());
        json_t *sn = shorts_json(r);
        if (json_array_size(sn))
            json_object_set_new(e, "shortNames", sn);
        else
            json_decref(sn);
        json_array_append_new(res, e);
        char sub[300];
        if (r->has_status) {
            snprintf(sub, sizeof sub, "%s/status", r->resource);
            json_array_append_new(res,
                                  json_pack("{s:s,s:s,s:b,s:s,s:[s,s,s]}", "name", sub,
                                            "singularName", "", "namespaced", r->namespaced, "kind",
                                            r->kind, "verbs", "get", "patch", "update"));
        }
        if (r->has_scale) {
            snprintf(sub, sizeof sub, "%s/scale", r->resource);
            json_array_append_new(res, json_pack("{s:s,s:s,s:b,s:s,s:s,s:s,s:[s,s,s]}", "name", sub,
                                                 "singularName", "", "namespaced", r->namespaced,
                                                 "group", "autoscaling", "version", "v1", "kind",
                                                 "Scale", "verbs", "get", "patch", "update"));
        }
    }
    if (!any) {
        json_decref(res);
        return NULL;
    }
    char gv[300];
    if (group[0])
        snprintf(gv, sizeof gv, "%s/%s", group, version);
    else
        snprintf(gv, sizeof gv, "%s", version);
    return json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                     "groupVersion", gv, "resources", res);
}

static json_t *openapi_param(const char *name, const char *in)
{
    return json_pack("{s:s,s:s,s:{s:s,s:b}}", "name", name, "in", in, "schema", "type", "string",
                     "uniqueItems", 1);
}

static json_t *openapi_op(const struct ks_resource *r, const char *op_id)
{
    json_t *params = json_array();
    json_array_append_new(params, openapi_param("dryRun", "query"));
    json_array_append_new(params, openapi_param("fieldManager", "query"));
    json_array_append_new(params, openapi_param("fieldValidation", "query"));
    json_array_append_new(params, openapi_param("force", "query"));
    return json_pack("{s:s,s:o,s:{s:s,s:s,s:s},s:s,s:{s:{s:s}}}", "operationId", op_id,
                     "parameters", params, "x-kubernetes-group-version-kind", "group", r->group,
                     "version", r->version, "kind", r->kind, "x-kubernetes-action", "patch",
                     "responses", "200", "description", "OK");
}

static void schema_name(const struct ks_resource *r, char *out, size_t len)
{
    /* io.k8s.kubesim.<group>.<version>.<Kind> */
    snprintf(out, len, "io.k8s.kubesim.%s.%s.%s", r->group[0] ? r->group : "core", r->version,
             r->kind);
}

static json_t *openapi_doc(const struct ks_state *st, const char *group, const char *version)
{
    json_t *paths = json_object();
    json_t *schemas = json_object();
    bool any = false;
    for (size_t i = 0; i < st->nres; i++) {
        const struct ks_resource *r = &st->res[i];
        if (!r->resource || strcmp(r->group, group) != 0 || strcmp(r->version, version) != 0)
            continue;
        any = true;
        char base[512], item[800], col[700], sn[400];
        if (group[0])
            snprintf(base, sizeof base, "/apis/%s/%s", group, version);
        else
            snprintf(base, sizeof base, "/api/%s", version);
        if (r->namespaced)
            snprintf(col, sizeof col, "%s/namespaces/{namespace}/%s", base, r->resource);
        else
            snprintf(col, sizeof col, "%s/%s", base, r->resource);
        snprintf(item, sizeof item, "%s/{name}", col);
        json_t *ip = json_object();
        json_object_set_new(ip, "get", openapi_op(r, "read"));
        json_object_set_new(ip, "put", openapi_op(r, "replace"));
        json_object_set_new(ip, "patch", openapi_op(r, "patch"));
        json_object_set_new(ip, "delete", openapi_op(r, "delete"));
        json_object_set_new(paths, item, ip);
        json_t *cp = json_object();
        json_object_set_new(cp, "get", openapi_op(r, "list"));
        json_object_set_new(cp, "post", openapi_op(r, "create"));
        json_object_set_new(paths, col, cp);
        schema_name(r, sn, sizeof sn);
        json_object_set_new(schemas, sn,
                            json_pack("{s:s,s:s,s:b,s:[{s:s,s:s,s:s}]}", "type", "object",
                                      "description", "kubesim: any object of this kind",
                                      "x-kubernetes-preserve-unknown-fields", 1,
                                      "x-kubernetes-group-version-kind", "group", r->group,
                                      "version", r->version, "kind", r->kind));
    }
    if (!any) {
        json_decref(paths);
        json_decref(schemas);
        return NULL;
    }
    return json_pack("{s:s,s:{s:s,s:s},s:o,s:{s:o}}", "openapi", "3.0.0", "info", "title",
                     "Kubernetes", "version", "v1.32.4", "paths", paths, "components", "schemas",
                     schemas);
}

static json_t *openapi_index(const struct ks_state *st)
{
    json_t *paths = json_object();
    char key[300], url[400];
    for (size_t i = 0; i < st->nres; i++) {
        const struct ks_resource *r = &st->res[i];
        if (!r->resource)
            continue;
        if (r->group[0])
            snprintf(key, sizeof key, "apis/%s/%s", r->group, r->version);
        else
            snprintf(key, sizeof key, "api/%s", r->version);
        /* The hash changes when the set of resources does (CRDs). */
        snprintf(url, sizeof url, "/openapi/v3/%s?hash=%016llX", key,
                 (unsigned long long)st->disco_gen);
        json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url));
    }
    return json_pack("{s:o}", "paths", paths);
}

void ks_handle_discovery(struct ks_state *st, struct ks_request *rq, struct ks_reply *out,
                         bool *handled)
{
    const char *p = rq->path;
    *handled = true;
    if (strcmp(rq->method, "GET") != 0 &&
        (strcmp(p, "/api") == 0 || strcmp(p, "/apis") == 0 || strcmp(p, "/version") == 0 ||
         strncmp(p, "/openapi", 8) == 0)) {
        ks_reply_status(out, 405, "MethodNotAllowed", "method not allowed");
        return;
    }
    snprintf(rq->verb, sizeof rq->verb, "get");
    if (strcmp(p, "/version") == 0) {
        snprintf(rq->resource_name, sizeof rq->resource_name, "version");
        out->code = 200;
        out->body =
                json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major", "1", "minor", "32",
                          "gitVersion", "v1.32.4-kubesim", "gitCommit", "kubesim", "gitTreeState",
                          "clean", "buildDate", "2026-01-01T00:00:00Z", "goVersion", "go1.23.0",
                          "compiler", "gc", "platform", "linux/amd64", "emulationMajor", "1");
        json_object_set_new(out->body, "emulationMinor", json_string("32"));
        return;
    }
    if (strcmp(p, "/healthz") == 0 || strcmp(p, "/readyz") == 0 || strcmp(p, "/livez") == 0) {
        snprintf(rq->resource_name, sizeof rq->resource_name, "health");
        out->code = 200;
        out->raw = strdup("ok");
        out->content_type = "text/plain";
        return;
    }
    if (strcmp(p, "/api") == 0 || strcmp(p, "/apis") == 0) {
        bool legacy = strcmp(p, "/api") == 0;
        snprintf(rq->resource_name, sizeof rq->resource_name, "discovery");
        out->code = 200;
        if (wants_aggregated(rq->accept)) {
            out->body = aggregated(st, legacy);
            out->content_type = "application/json;g=apidiscovery.k8s.io;v=v2;"
                                "as=APIGroupDiscoveryList";
            return;
        }
        if (legacy) {
            out->body = json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions",
                                  "v1", "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0",
                                  "serverAddress", st->opt.listen);
            return;
        }
        json_t *groups = group_versions(st);
        json_t *list = json_array();
        size_t i;
        json_t *g;
        json_array_foreach(groups, i, g)
        {
            if (json_string_value(json_object_get(g, "name"))[0] == 0)
                continue;
            json_t *ag = api_group(g);
            json_object_del(ag, "kind");
            json_object_del(ag, "apiVersion");
            json_array_append_new(list, ag);
        }
        json_decref(groups);
        out->body = json_pack("{s:s,s:s,s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
                              list);
        return;
    }
    if (strcmp(p, "/openapi/v2") == 0) {
        /*
         * A minimal OpenAPI v2 document in gnostic protobuf (swagger "2.0",
         * info, empty paths): with it kubectl skips client-side validation of
         * kinds it has no schema for, as with a real server, and reports an
         * unknown kind as "no matches for kind ... ensure CRDs are installed
         * first" instead of a validation error.
         */
        snprintf(rq->resource_name, sizeof rq->resource_name, "openapi");
        static const char doc[] = "\x0a\x03"
                                  "2.0"
                                  "\x12\x15\x0a\x0a"
                                  "Kubernetes"
                                  "\x12\x07"
                                  "v1.32.4"
                                  "\x42\x00";
        out->code = 200;
        out->raw = malloc(sizeof doc);
        if (out->raw)
            memcpy(out->raw, doc, sizeof doc);
        out->raw_len = sizeof doc - 1;
        out->content_type = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
        return;
    }
    if (strncmp(p, "/openapi/v3", 11) == 0) {
        snprintf(rq->resource_name, sizeof rq->resource_name, "openapi");
        const char *rest = p + 11;
        if (*rest == 0 || strcmp(rest, "/") == 0) {
            out->code = 200;
            out->body = openapi_index(st);
            return;
        }
        char g[256] = "", v[64] = "";
        if (strncmp(rest, "/api/", 5) == 0) {
            snprintf(v, sizeof v, "%s", rest + 5);
        } else if (strncmp(rest, "/apis/", 6) == 0) {
            const char *sl = strchr(rest + 6, '/');
            if (sl) {
                snprintf(g, sizeof g, "%.*s", (int)(sl - rest - 6), rest + 6);
                snprintf(v, sizeof v, "%s", sl + 1);
            }
        }
        json_t *doc = v[0] ? openapi_doc(st, g, v) : NULL;
        if (!doc) {
            ks_reply_status(out, 404, "NotFound",
                            "the server could not find the requested resource");
            return;
        }
        out->code = 200;
        out->body = doc;
        return;
    }
    /* Group and group-version discovery documents. */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", p);
    char *segs[4];
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, "/", &save); t && n < 4; t = strtok_r(NULL, "/", &save))
        segs[n++] = t;
    if (n == 2 && strcmp(segs[0], "api") == 0) {
        snprintf(rq->resource_name, sizeof rq->resource_name, "discovery");
        json_t *rl = resource_list(st, "", segs[1]);
        if (rl) {
            out->code = 200;
            out->body = rl;
            return;
        }
    } else if (n == 2 && strcmp(segs[0], "apis") == 0) {
        snprintf(rq->resource_name, sizeof rq->resource_name, "discovery");
        json_t *groups = group_versions(st);
        size_t i;
        json_t *g;
        json_array_foreach(groups, i, g)
        {
            if (strcmp(json_string_value(json_object_get(g, "name")), segs[1]) == 0) {
                out->code = 200;
                out->body = api_group(g);
            }
        }
        json_decref(groups);
        if (out->body)
            return;
    } else if (n == 3 && strcmp(segs[0], "apis") == 0) {
        snprintf(rq->resource_name, sizeof rq->resource_name, "discovery");
        json_t *rl = resource_list(st, segs[1], segs[2]);
        if (rl) {
            out->code = 200;
            out->body = rl;
            return;
        }
    } else if (strncmp(p, "/api/", 5) == 0 || strncmp(p, "/apis/", 6) == 0) {
        *handled = false;
        rq->verb[0] = 0;
        return;
    }
    ks_reply_status(out, 404, "NotFound", "the server could not find the requested resource");
}
