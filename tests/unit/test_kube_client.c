/*
 * The client end to end against a small scripted libmicrohttpd server on
 * loopback: every credential kind on the wire (token, tokenFile re-read,
 * basic, exec plugin cached until expiry and re-run on 401), retries on 500,
 * 429 with Retry-After, dropped connections and timeouts, legacy and
 * aggregated discovery with refresh on a miss, LIST paging, apply requests,
 * and Status errors (with Secret redaction).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kube_internal.h"
#include "log.h"
#include "test_kube_util.h"

/* ---- The scripted server ------------------------------------------------------ */

enum fault { F_NONE = 0, F_500, F_429, F_503_RA, F_DROP, F_DELAY };

#define MAXREQ 256

struct reqlog {
    char method[16];
    char url[512];
    char query[1024];
    char auth[512];
    char ctype[128];
    char accept[512];
    char imp_user[128];
    char imp_group[128];
    char body[4096];
};

static struct {
    pthread_mutex_t mu;
    struct MHD_Daemon *d;
    unsigned port;
    char want_auth[512]; /* exact Authorization header wanted; "" accepts anything */
    bool aggregated;
    bool widgets; /* discovery offers example.com/v1 Widget */
    int nitems;   /* configmaps in default */
    int expire;   /* hand out this many continue tokens that then expire (410) */
    enum fault faults[32];
    int nfaults, fault_at;
    struct reqlog log[MAXREQ];
    int nlog;
} S;

struct upload {
    char body[4096];
    size_t len;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body,
                             const char *ctype)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                                             MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    MHD_add_response_header(r, "Content-Type", ctype != NULL ? ctype : "application/json");
    ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result status_reply(struct MHD_Connection *c, unsigned code, const char *reason,
                                    const char *message, const char *causes)
{
    char buf[2048];

    snprintf(buf, sizeof(buf),
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
             "\"message\":\"%s\",\"reason\":\"%s\",\"details\":{\"causes\":[%s]},\"code\":%u}",
             message, reason, causes != NULL ? causes : "", code);
    return reply(c, code, buf, NULL);
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct reqlog *l = cls;
    size_t n = strlen(l->query);

    snprintf(l->query + n, sizeof(l->query) - n, "%s%s=%s", n > 0 ? "&" : "", key,
             value != NULL ? value : "");
    return MHD_YES;
}

static const char legacy_api[] = "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"]}";
static const char legacy_core[] =
        "{\"kind\":\"APIResourceList\",\"groupVersion\":\"v1\",\"resources\":["
        "{\"name\":\"configmaps\",\"namespaced\":true,\"kind\":\"ConfigMap\",\"verbs\":[\"get\","
        "\"list\",\"patch\",\"delete\"]},"
        "{\"name\":\"secrets\",\"namespaced\":true,\"kind\":\"Secret\",\"verbs\":[\"get\"]},"
        "{\"name\":\"namespaces\",\"namespaced\":false,\"kind\":\"Namespace\",\"verbs\":[\"get\"]},"
        "{\"name\":\"namespaces/status\",\"namespaced\":false,\"kind\":\"Namespace\"}]}";
static const char legacy_apis[] =
        "{\"kind\":\"APIGroupList\",\"groups\":[{\"name\":\"apps\",\"versions\":[{\"groupVersion\":"
        "\"apps/v1\",\"version\":\"v1\"}]}%s]}";
static const char legacy_widgets_group[] =
        ",{\"name\":\"example.com\",\"versions\":[{\"groupVersion\":\"example.com/v1\","
        "\"version\":\"v1\"}]}";
static const char legacy_apps[] =
        "{\"kind\":\"APIResourceList\",\"groupVersion\":\"apps/v1\",\"resources\":[{\"name\":"
        "\"deployments\",\"namespaced\":true,\"kind\":\"Deployment\",\"verbs\":[\"get\"]}]}";
static const char legacy_widgets[] =
        "{\"kind\":\"APIResourceList\",\"groupVersion\":\"example.com/v1\",\"resources\":[{"
        "\"name\":\"widgets\",\"namespaced\":false,\"kind\":\"Widget\",\"verbs\":[\"get\"]}]}";
static const char agg_ctype[] =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
static const char agg_api[] =
        "{\"kind\":\"APIGroupDiscoveryList\",\"apiVersion\":\"apidiscovery.k8s.io/v2\",\"items\":"
        "[{\"metadata\":{\"name\":\"\"},\"versions\":[{\"version\":\"v1\",\"resources\":["
        "{\"resource\":\"configmaps\",\"responseKind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":"
        "\"ConfigMap\"},\"scope\":\"Namespaced\",\"verbs\":[\"get\",\"list\"]},"
        "{\"resource\":\"secrets\",\"responseKind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":"
        "\"Secret\"},\"scope\":\"Namespaced\",\"verbs\":[\"get\"]},"
        "{\"resource\":\"namespaces\",\"responseKind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":"
        "\"Namespace\"},\"scope\":\"Cluster\",\"verbs\":[\"get\"],\"subresources\":[{"
        "\"subresource\":\"status\"}]}]}]}]}";
static const char agg_apis[] =
        "{\"kind\":\"APIGroupDiscoveryList\",\"apiVersion\":\"apidiscovery.k8s.io/v2\",\"items\":"
        "[{\"metadata\":{\"name\":\"apps\"},\"versions\":[{\"version\":\"v1\",\"resources\":[{"
        "\"resource\":\"deployments\",\"responseKind\":{\"group\":\"apps\",\"version\":\"v1\","
        "\"kind\":\"Deployment\"},\"scope\":\"Namespaced\",\"verbs\":[\"get\",\"patch\"]}]}]}%s]}";
static const char agg_widgets[] =
        ",{\"metadata\":{\"name\":\"example.com\"},\"versions\":[{\"version\":\"v1\",\"resources\":"
        "[{\"resource\":\"widgets\",\"responseKind\":{\"group\":\"example.com\",\"version\":"
        "\"v1\",\"kind\":\"Widget\"},\"scope\":\"Cluster\",\"verbs\":[\"get\"]}]}]}";

static enum MHD_Result serve_list(struct MHD_Connection *c)
{
    const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    const char *cont = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continue");
    int limit = lim != NULL ? (int)strtol(lim, NULL, 10) : 1000;
    int start = cont != NULL ? (int)strtol(cont + 3, NULL, 10) : 0;
    char buf[65536];
    size_t n = 0;

    if (cont != NULL && strcmp(cont, "gone") == 0)
        return status_reply(c, 410, "Expired", "continue token expired", NULL);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                          "{\"kind\":\"ConfigMapList\",\"apiVersion\":"
                          "\"v1\",\"metadata\":{\"resourceVersion\":"
                          "\"77\"");
    if (start + limit < S.nitems && S.expire > 0) {
        S.expire--;
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",\"continue\":\"gone\"");
    } else if (start + limit < S.nitems) {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",\"continue\":\"pos%d\"", start + limit);
    }
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "},\"items\":[");
    for (int i = start; i < S.nitems && i < start + limit; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                              "%s{\"metadata\":{\"name\":\"cm%03d\",\"namespace\":\"default\"}}",
                              i > start ? "," : "", i);
    snprintf(buf + n, sizeof(buf) - n, "]}");
    return reply(c, 200, buf, NULL);
}

static enum MHD_Result route(struct MHD_Connection *c, const char *method, const char *url,
                             const struct upload *up)
{
    char buf[8192];

    if (strcmp(url, "/api") == 0)
        return S.aggregated ? reply(c, 200, agg_api, agg_ctype) : reply(c, 200, legacy_api, NULL);
    if (strcmp(url, "/apis") == 0) {
        snprintf(buf, sizeof(buf), S.aggregated ? agg_apis : legacy_apis,
                 S.widgets ? (S.aggregated ? agg_widgets : legacy_widgets_group) : "");
        return reply(c, 200, buf, S.aggregated ? agg_ctype : NULL);
    }
    if (strcmp(url, "/api/v1") == 0)
        return reply(c, 200, legacy_core, NULL);
    if (strcmp(url, "/apis/apps/v1") == 0)
        return reply(c, 200, legacy_apps, NULL);
    if (strcmp(url, "/apis/example.com/v1") == 0 && S.widgets)
        return reply(c, 200, legacy_widgets, NULL);
    if (strcmp(url, "/warn") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)(uintptr_t) "{}",
                                                                 MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        MHD_add_response_header(r, "Warning", "299 - \"batch/v1beta1 CronJob is deprecated\"");
        ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/version") == 0)
        return reply(c, 200, "{\"major\":\"1\",\"minor\":\"32\",\"gitVersion\":\"v1.32.0\"}", NULL);
    if (strcmp(url, "/api/v1/namespaces/default/configmaps") == 0 && strcmp(method, "GET") == 0)
        return serve_list(c);
    if (strcmp(url, "/api/v1/namespaces/default/configmaps/demo") == 0) {
        if (strcmp(method, "GET") == 0)
            return status_reply(c, 404, "NotFound", "configmaps \\\"demo\\\" not found", NULL);
        if (strcmp(method, "PATCH") == 0)
            return reply(c, 201, up->len > 0 ? up->body : "{}", NULL);
        if (strcmp(method, "DELETE") == 0)
            return reply(c, 200, "{\"kind\":\"Status\",\"status\":\"Success\"}", NULL);
    }
    if (strcmp(url, "/api/v1/namespaces/default/configmaps/taken") == 0)
        return status_reply(c, 409, "Conflict",
                            "Apply failed with 1 conflict: conflict with \\\"kubectl\\\" using "
                            "v1: .data.a",
                            "{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with "
                            "\\\"kubectl\\\" using v1\",\"field\":\".data.a\"}");
    if (strcmp(url, "/api/v1/namespaces/default/secrets/s") == 0)
        return status_reply(c, 422, "Invalid",
                            "Secret \\\"s\\\" is invalid: data[k]: Invalid value: "
                            "\\\"hunter2\\\"",
                            "{\"reason\":\"FieldValueInvalid\",\"message\":\"Invalid value: "
                            "\\\"hunter2\\\"\",\"field\":\"data[k]\"}");
    if (strcmp(url, "/api/v1/namespaces") == 0 && strcmp(method, "POST") == 0)
        return status_reply(c, 409, "AlreadyExists", "namespaces \\\"x\\\" already exists", NULL);
    return status_reply(c, 404, "NotFound", "the server could not find the requested resource",
                        NULL);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **ctx)
{
    struct upload *up = *ctx;
    struct reqlog *l = NULL;
    const char *v;
    enum fault f = F_NONE;

    if (up == NULL) {
        up = calloc(1, sizeof(*up));
        *ctx = up;
        return MHD_YES;
    }
    if (*size > 0) {
        size_t room = sizeof(up->body) - 1 - up->len, n = *size < room ? *size : room;

        memcpy(up->body + up->len, data, n);
        up->len += n;
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&S.mu);
    if (S.nlog < MAXREQ) {
        l = &S.log[S.nlog++];
        memset(l, 0, sizeof(*l));
        snprintf(l->method, sizeof(l->method), "%s", method);
        snprintf(l->url, sizeof(l->url), "%s", url);
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, l);
        v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        snprintf(l->auth, sizeof(l->auth), "%s", v != NULL ? v : "");
        v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        snprintf(l->ctype, sizeof(l->ctype), "%s", v != NULL ? v : "");
        v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Impersonate-User");
        snprintf(l->imp_user, sizeof(l->imp_user), "%s", v != NULL ? v : "");
        v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Impersonate-Group");
        snprintf(l->imp_group, sizeof(l->imp_group), "%s", v != NULL ? v : "");
        v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
        snprintf(l->accept, sizeof(l->accept), "%s", v != NULL ? v : "");
        snprintf(l->body, sizeof(l->body), "%.*s", (int)up->len, up->body);
    }
    if (S.fault_at < S.nfaults)
        f = S.faults[S.fault_at++];
    pthread_mutex_unlock(&S.mu);
    v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (S.want_auth[0] != '\0' && (v == NULL || strcmp(v, S.want_auth) != 0))
        return status_reply(c, 401, "Unauthorized", "Unauthorized", NULL);
    switch (f) {
    case F_500:
        return status_reply(c, 500, "InternalError", "injected", NULL);
    case F_429: {
        struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)(uintptr_t) "{}",
                                                                 MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        MHD_add_response_header(r, "Retry-After", "1");
        ret = MHD_queue_response(c, 429, r);
        MHD_destroy_response(r);
        return ret;
    }
    case F_503_RA: {
        struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)(uintptr_t) "{}",
                                                                 MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        MHD_add_response_header(r, "Retry-After", "0");
        ret = MHD_queue_response(c, 503, r);
        MHD_destroy_response(r);
        return ret;
    }
    case F_DROP:
        return MHD_NO;
    case F_DELAY: {
        struct timespec ts = {0, 700 * 1000000L};

        nanosleep(&ts, NULL);
        break;
    }
    case F_NONE:
        break;
    }
    return route(c, method, url, up);
}

static void completed(void *cls, struct MHD_Connection *c, void **ctx,
                      enum MHD_RequestTerminationCode toe)
{
    free(*ctx);
    *ctx = NULL;
}

static void server_reset(void)
{
    pthread_mutex_lock(&S.mu);
    S.want_auth[0] = '\0';
    S.aggregated = false;
    S.widgets = false;
    S.nitems = 0;
    S.expire = 0;
    S.nfaults = S.fault_at = 0;
    S.nlog = 0;
    pthread_mutex_unlock(&S.mu);
}

static void set_faults(int n, ...)
{
    va_list ap;

    pthread_mutex_lock(&S.mu);
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        S.faults[i] = (enum fault)va_arg(ap, int);
    va_end(ap);
    S.nfaults = n;
    S.fault_at = 0;
    pthread_mutex_unlock(&S.mu);
}

static int count_url(const char *method, const char *url)
{
    int n = 0;

    pthread_mutex_lock(&S.mu);
    for (int i = 0; i < S.nlog; i++)
        if (strcmp(S.log[i].method, method) == 0 && strcmp(S.log[i].url, url) == 0)
            n++;
    pthread_mutex_unlock(&S.mu);
    return n;
}

static const struct reqlog *last_req(void)
{
    return S.nlog > 0 ? &S.log[S.nlog - 1] : NULL;
}

/* ---- Client helpers --------------------------------------------------------- */

static const char *write_config(const char *user_yaml)
{
    char buf[4096];

    snprintf(buf, sizeof(buf),
             "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n"
             "    server: http://127.0.0.1:%u\n"
             "users:\n- name: u\n  user:\n%s"
             "contexts:\n- name: sim\n  context: {cluster: sim, user: u, namespace: default}\n"
             "current-context: sim\n",
             S.port, user_yaml);
    tk_write("kubeconfig", buf, 0600);
    return tk_path("kubeconfig");
}

static struct sl_kube *open_client(const char *user_yaml, int attempts)
{
    struct sl_kube_options o = {0};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = NULL;

    o.kubeconfig = write_config(user_yaml);
    o.request_timeout_ms = 400;
    o.backoff_base_ms = 10;
    o.backoff_max_ms = 2000;
    o.max_attempts = attempts;
    o.qps = -1;
    o.list_page_size = 7;
    if (sl_kube_open(&k, &o, &err) != 0)
        fail_msg("open: %s", err.msg);
    return k;
}

static int setup(void **state)
{
    tk_mkdir();
    server_reset();
    return tk_dir[0] != '\0' ? 0 : -1;
}

static int teardown(void **state)
{
    tk_rmdir();
    return 0;
}

static int version_ok(struct sl_kube *k, struct sl_error *err)
{
    json_t *v = NULL;
    int rc = sl_kube_request(k, "GET", "/version", NULL, NULL, 0, &v, NULL, err);

    if (rc == 0 && strcmp(json_string_value(json_object_get(v, "minor")), "32") != 0)
        rc = -1;
    json_decref(v);
    return rc;
}

/* ---- Auth modes --------------------------------------------------------------- */

static void test_token(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = open_client("    token: abc123\n", 1);

    snprintf(S.want_auth, sizeof(S.want_auth), "Bearer abc123");
    assert_int_equal(version_ok(k, &err), 0);
    assert_string_equal(last_req()->auth, "Bearer abc123");
    assert_string_equal(sl_kube_namespace(k), "default");
    assert_string_equal(sl_kube_field_manager(k), "sluice");
    sl_kube_free(k);

    /* A wrong token is an authentication error. */
    k = open_client("    token: wrong\n", 3);
    assert_int_equal(version_ok(k, &err), -1);
    assert_int_equal(err.code, SL_EAUTH);
    assert_non_null(strstr(err.msg, "401"));
    assert_int_equal(count_url("GET", "/version"), 2); /* 401 is not retried */
    sl_kube_free(k);
}

static void test_impersonation(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = open_client("    token: t\n    as: alice\n    as-groups: [devs]\n", 1);

    assert_int_equal(version_ok(k, &err), 0);
    assert_string_equal(last_req()->imp_user, "alice");
    assert_string_equal(last_req()->imp_group, "devs");
    sl_kube_free(k);
}

static void test_basic(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = open_client("    username: admin\n    password: s3cret\n", 1);

    /* base64("admin:s3cret") */
    snprintf(S.want_auth, sizeof(S.want_auth), "Basic YWRtaW46czNjcmV0");
    assert_int_equal(version_ok(k, &err), 0);
    sl_kube_free(k);
}

static void test_token_file_reread(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k;
    char user[1024];

    tk_write("tok", "first-token\n", 0600);
    snprintf(user, sizeof(user), "    tokenFile: %s\n", tk_path("tok"));
    k = open_client(user, 1);
    snprintf(S.want_auth, sizeof(S.want_auth), "Bearer first-token");
    assert_int_equal(version_ok(k, &err), 0);
    assert_int_equal(version_ok(k, &err), 0);
    /* Rotated on disk: the next request uses the new token. */
    tk_write("tok", "second-token-longer", 0600);
    snprintf(S.want_auth, sizeof(S.want_auth), "Bearer second-token-longer");
    assert_int_equal(version_ok(k, &err), 0);
    assert_string_equal(last_req()->auth, "Bearer second-token-longer");
    sl_kube_free(k);
}

static const char *exec_user(const char *expiry)
{
    static char user[2048];
    char script[2048];

    /* Each run hands out tok-N, N counting runs (kept in a file next to the script). */
    snprintf(script, sizeof(script),
             "#!/bin/sh\nn=$(cat \"$COUNTER\" 2>/dev/null || echo 0)\nn=$((n+1))\n"
             "echo $n > \"$COUNTER\"\n"
             "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
             "\"ExecCredential\",\"status\":{\"token\":\"tok-%%s\",\"expirationTimestamp\":"
             "\"%s\"}}' \"$n\"\n",
             expiry);
    tk_write("plugin.sh", script, 0700);
    unlink(tk_path("counter"));
    snprintf(user, sizeof(user),
             "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
             "      command: %s\n      env: [{name: COUNTER, value: %s}]\n"
             "      interactiveMode: Never\n",
             tk_path("plugin.sh"), tk_path("counter"));
    return user;
}

static int counter(void)
{
    FILE *f = fopen(tk_path("counter"), "r");
    int n = -1;

    if (f != NULL) {
        if (fscanf(f, "%d", &n) != 1)
            n = -1;
        fclose(f);
    }
    return n;
}

static void test_exec_cache_and_401(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = open_client(exec_user("2099-01-01T00:00:00Z"), 1);

    /* The server wants the second credential: the first is refused with 401, the client
     * runs the plugin again and retries once. */
    snprintf(S.want_auth, sizeof(S.want_auth), "Bearer tok-2");
    assert_int_equal(version_ok(k, &err), 0);
    assert_int_equal(counter(), 2);
    assert_int_equal(count_url("GET", "/version"), 2);
    /* Cached until expiry: no further runs. */
    assert_int_equal(version_ok(k, &err), 0);
    assert_int_equal(version_ok(k, &err), 0);
    assert_int_equal(counter(), 2);
    /* Revoked and the fresh one is refused too: a clean 401 after exactly one re-run. */
    snprintf(S.want_auth, sizeof(S.want_auth), "Bearer nobody");
    assert_int_equal(version_ok(k, &err), -1);
    assert_int_equal(err.code, SL_EAUTH);
    assert_int_equal(counter(), 3);
    sl_kube_free(k);
}

static void test_exec_expired(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = open_client(exec_user("2000-01-01T00:00:00Z"), 1);

    /* An already expired credential is fetched again for every request. */
    assert_int_equal(version_ok(k, &err), 0);
    assert_int_equal(version_ok(k, &err), 0);
    assert_int_equal(version_ok(k, &err), 0);
    assert_int_equal(counter(), 3);
    assert_string_equal(last_req()->auth, "Bearer tok-3");
    sl_kube_free(k);
}

/* ---- Retries ---------------------------------------------------------------- */

static void test_retry_500_then_ok(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_kube *k = open_client("    token: t\n", 4);
    json_t *v = NULL;

    set_faults(3, F_500, F_500, F_500);
    assert_int_equal(sl_kube_request(k, "GET", "/version", NULL, NULL, 0, &v, &st, &err), 0);
    assert_int_equal(st.attempts, 4);
    assert_int_equal(st.http, 200);
    assert_int_equal(count_url("GET", "/version"), 4);
    json_decref(v);
    /* Always failing: bounded attempts, then a clean error carrying the last status. */
    server_reset();
    set_faults(4, F_500, F_500, F_500, F_500);
    assert_int_equal(sl_kube_request(k, "GET", "/version", NULL, NULL, 0, NULL, &st, &err), -1);
    assert_int_equal(st.http, 500);
    assert_int_equal(st.attempts, 4);
    assert_int_equal(err.code, SL_EIO);
    assert_non_null(strstr(err.msg, "500 InternalError: injected"));
    assert_int_equal(count_url("GET", "/version"), 4);
    sl_kube_status_release(&st);
    sl_kube_free(k);
}

static void test_retry_429_retry_after(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_kube *k = open_client("    token: t\n", 3);
    int64_t t0;

    set_faults(1, F_429);
    t0 = sl_kube_now_ms();
    assert_int_equal(sl_kube_request(k, "GET", "/version", NULL, NULL, 0, NULL, &st, &err), 0);
    /* Retry-After: 1 is honoured (backoff alone would be ~10 ms). */
    assert_true(sl_kube_now_ms() - t0 >= 950);
    assert_int_equal(st.attempts, 2);
    server_reset();
    set_faults(3, F_503_RA, F_429, F_503_RA);
    assert_int_equal(sl_kube_request(k, "GET", "/version", NULL, NULL, 0, NULL, &st, &err), -1);
    assert_int_equal(st.http, 503);
    assert_int_equal(st.attempts, 3);
    sl_kube_status_release(&st);
    sl_kube_free(k);
}

static void test_retry_drop_and_timeout(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_kube *k = open_client("    token: t\n", 3);

    set_faults(2, F_DROP, F_DELAY);
    assert_int_equal(sl_kube_request(k, "GET", "/version", NULL, NULL, 0, NULL, &st, &err), 0);
    assert_int_equal(st.attempts, 3);
    server_reset();
    set_faults(3, F_DELAY, F_DELAY, F_DELAY);
    assert_int_equal(sl_kube_request(k, "GET", "/version", NULL, NULL, 0, NULL, &st, &err), -1);
    assert_int_equal(err.code, SL_ETIMEOUT);
    assert_int_equal(st.http, 0);
    assert_non_null(strstr(err.msg, "after 3 attempts"));
    server_reset();
    sl_error_clear(&err);
    set_faults(3, F_DROP, F_DROP, F_DROP);
    assert_int_equal(sl_kube_request(k, "GET", "/version", NULL, NULL, 0, NULL, &st, &err), -1);
    assert_int_equal(err.code, SL_EIO);
    /* POST is not retried once it may have reached the server. */
    server_reset();
    sl_error_clear(&err);
    set_faults(1, F_DROP);
    assert_int_equal(sl_kube_request(k, "POST", "/api/v1/namespaces", "application/json", "{}", 2,
                                     NULL, &st, &err),
                     -1);
    assert_int_equal(st.attempts, 1);
    sl_kube_status_release(&st);
    sl_kube_free(k);
}

static void test_connection_refused(void **state)
{
    struct sl_kube_options o = {0};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_kube *k = NULL;

    tk_write("dead",
             "clusters:\n- name: c\n  cluster: {server: \"http://127.0.0.1:1\"}\n"
             "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
             0600);
    o.kubeconfig = tk_path("dead");
    o.max_attempts = 3;
    o.backoff_base_ms = 5;
    assert_int_equal(sl_kube_open(&k, &o, &err), 0);
    assert_int_equal(sl_kube_request(k, "GET", "/version", NULL, NULL, 0, NULL, &st, &err), -1);
    assert_int_equal(st.attempts, 3);
    assert_int_equal(err.code, SL_EIO);
    assert_non_null(strstr(err.msg, "127.0.0.1:1"));
    sl_kube_status_release(&st);
    sl_kube_free(k);
}

static void test_rate_limit(void **state)
{
    struct sl_kube_options o = {0};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = NULL;
    int64_t t0;

    o.kubeconfig = write_config("    token: t\n");
    o.qps = 20;
    o.burst = 1;
    assert_int_equal(sl_kube_open(&k, &o, &err), 0);
    t0 = sl_kube_now_ms();
    for (int i = 0; i < 6; i++)
        assert_int_equal(version_ok(k, &err), 0);
    /* One token up front, then 20/s: five waits of 50 ms. */
    assert_true(sl_kube_now_ms() - t0 >= 240);
    sl_kube_free(k);
}

/* ---- Discovery, LIST, apply, errors ---------------------------------------------- */

static void discovery_case(bool aggregated)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube_resource r;
    struct sl_kube *k = open_client("    token: t\n", 1);

    S.aggregated = aggregated;
    assert_int_equal(sl_kube_resolve(k, "apps/v1", "Deployment", &r, &err), 0);
    assert_string_equal(r.plural, "deployments");
    assert_string_equal(r.group, "apps");
    assert_true(r.namespaced);
    assert_int_equal(sl_kube_resolve(k, "v1", "Namespace", &r, &err), 0);
    assert_false(r.namespaced);
    assert_string_equal(r.plural, "namespaces");
    assert_true(r.verbs & SL_KUBE_VERB_GET);
    /* Cached: no further discovery requests. */
    assert_int_equal(sl_kube_resolve(k, "v1", "ConfigMap", &r, &err), 0);
    assert_int_equal(count_url("GET", "/api"), 1);
    if (aggregated) {
        assert_int_equal(count_url("GET", "/api/v1"), 0);
        assert_non_null(strstr(S.log[0].accept, "as=APIGroupDiscoveryList"));
    } else {
        assert_int_equal(count_url("GET", "/api/v1"), 1);
    }
    /* A miss refreshes once and then fails with a clear message. */
    assert_int_equal(sl_kube_resolve(k, "example.com/v1", "Widget", &r, &err), -1);
    assert_int_equal(err.code, SL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no matches for kind \"Widget\""));
    assert_int_equal(count_url("GET", "/api"), 2);
    /* The CRD arrives: the next miss refresh finds it. */
    S.widgets = true;
    sl_error_clear(&err);
    assert_int_equal(sl_kube_resolve(k, "example.com/v1", "Widget", &r, &err), 0);
    assert_string_equal(r.plural, "widgets");
    assert_false(r.namespaced);
    assert_int_equal(count_url("GET", "/api"), 3);
    /* Invalidate forces a refetch even for a hit. */
    sl_kube_discovery_invalidate(k);
    assert_int_equal(sl_kube_resolve(k, "v1", "ConfigMap", &r, &err), 0);
    assert_int_equal(count_url("GET", "/api"), 4);
    sl_kube_free(k);
}

static void test_discovery_legacy(void **state)
{
    discovery_case(false);
}

static void test_discovery_aggregated(void **state)
{
    discovery_case(true);
}

static void test_list_paging(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = open_client("    token: t\n", 1);
    struct sl_kube_ref ref = {"v1", "ConfigMap", "default", NULL};
    struct sl_kube_list_opts lo = {"app=web,tier in (a,b)", NULL, 0};
    json_t *items = NULL;
    char *rv = NULL;

    S.nitems = 23;
    assert_int_equal(sl_kube_list(k, &ref, &lo, &items, &rv, NULL, &err), 0);
    assert_int_equal(json_array_size(items), 23);
    assert_string_equal(json_string_value(json_object_get(
                                json_object_get(json_array_get(items, 22), "metadata"), "name")),
                        "cm022");
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "kind")),
                        "ConfigMap");
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "apiVersion")),
                        "v1");
    assert_string_equal(rv, "77");
    /* 23 items in pages of 7: 4 requests, each with the selector. */
    assert_int_equal(count_url("GET", "/api/v1/namespaces/default/configmaps"), 4);
    assert_non_null(strstr(last_req()->query, "labelSelector=app=web,tier in (a,b)"));
    assert_non_null(strstr(last_req()->query, "continue=pos21"));
    json_decref(items);
    free(rv);
    /* An expired continue token restarts the list once; twice in a row is an error. */
    S.nitems = 10;
    S.expire = 1;
    assert_int_equal(sl_kube_list(k, &ref, NULL, &items, NULL, NULL, &err), 0);
    assert_int_equal(json_array_size(items), 10);
    json_decref(items);
    S.expire = 2;
    assert_int_equal(sl_kube_list(k, &ref, NULL, &items, NULL, NULL, &err), -1);
    assert_int_equal(err.code, SL_ECONFLICT);
    assert_non_null(strstr(err.msg, "continue token expired"));
    sl_error_clear(&err);
    /* An empty list. */
    S.nitems = 0;
    assert_int_equal(sl_kube_list(k, &ref, NULL, &items, NULL, NULL, &err), 0);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    sl_kube_free(k);
}

static void test_apply_and_errors(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_kube *k = open_client("    token: t\n", 1);
    struct sl_kube_apply_opts ao = {NULL, -1, true};
    struct sl_kube_ref ref = {"v1", "ConfigMap", "default", "demo"};
    json_t *obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:[{s:s}]},s:{s:s}}", "apiVersion", "v1", "kind",
                            "ConfigMap", "metadata", "name", "demo", "namespace", "default",
                            "managedFields", "manager", "old", "data", "a", "1");
    json_t *out = NULL;
    bool created = false;
    const struct reqlog *l;

    assert_int_equal(sl_kube_apply(k, obj, &ao, &out, &created, &st, &err), 0);
    assert_true(created);
    l = last_req();
    assert_string_equal(l->method, "PATCH");
    assert_string_equal(l->url, "/api/v1/namespaces/default/configmaps/demo");
    assert_string_equal(l->ctype, "application/apply-patch+yaml");
    assert_string_equal(l->query, "fieldManager=sluice&dryRun=All&force=false&fieldValidation="
                                  "Strict");
    assert_null(strstr(l->body, "managedFields"));
    assert_non_null(strstr(l->body, "\"data\":{\"a\":\"1\"}"));
    /* The caller's object still has its managedFields (shallow copies only). */
    assert_non_null(json_object_get(json_object_get(obj, "metadata"), "managedFields"));
    json_decref(out);
    out = NULL;
    ao.dry_run = false;
    ao.force = 1;
    ao.field_manager = "other";
    assert_int_equal(sl_kube_apply(k, obj, &ao, NULL, NULL, &st, &err), 0);
    assert_string_equal(last_req()->query, "fieldManager=other&force=true&fieldValidation=Strict");

    /* 404 GET */
    assert_int_equal(sl_kube_get(k, &ref, &out, &st, &err), -1);
    assert_true(sl_kube_is_not_found(&st));
    assert_int_equal(err.code, SL_ENOTFOUND);
    assert_string_equal(err.msg,
                        "GET ConfigMap default/demo: 404 NotFound: configmaps \"demo\" not found");
    /* DELETE with propagation */
    sl_error_clear(&err);
    assert_int_equal(sl_kube_delete(k, &ref, SL_KUBE_PROPAGATION_BACKGROUND, false, &st, &err), 0);
    assert_string_equal(last_req()->body, "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
                                          "\"propagationPolicy\":\"Background\"}");
    /* 409 conflict names the field and manager */
    json_object_set_new(json_object_get(obj, "metadata"), "name", json_string("taken"));
    assert_int_equal(sl_kube_apply(k, obj, NULL, NULL, NULL, &st, &err), -1);
    assert_int_equal(err.code, SL_ECONFLICT);
    assert_true(sl_kube_is_conflict(&st));
    assert_string_equal(st.causes[0].field, ".data.a");
    assert_non_null(strstr(err.msg, "conflict with \"kubectl\""));
    /* 422 on a Secret: the value the server echoed never reaches the error. */
    sl_error_clear(&err);
    json_decref(obj);
    obj = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s}}", "apiVersion", "v1", "kind", "Secret",
                    "metadata", "name", "s", "namespace", "default", "data", "k", "aHVudGVyMg==");
    assert_int_equal(sl_kube_apply(k, obj, NULL, NULL, NULL, &st, &err), -1);
    assert_int_equal(err.code, SL_EINVAL);
    assert_null(strstr(err.msg, "hunter2"));
    assert_non_null(strstr(err.msg, "data[k]"));
    assert_null(st.message);
    /* Namespaced kind without namespace: refused before any request. */
    sl_error_clear(&err);
    json_object_del(json_object_get(obj, "metadata"), "namespace");
    assert_int_equal(sl_kube_apply(k, obj, NULL, NULL, NULL, &st, &err), -1);
    assert_non_null(strstr(err.msg, "metadata.namespace is required"));
    /* Unknown kind. */
    sl_error_clear(&err);
    json_object_set_new(obj, "kind", json_string("Gadget"));
    assert_int_equal(sl_kube_apply(k, obj, NULL, NULL, NULL, &st, &err), -1);
    assert_int_equal(err.code, SL_ENOTFOUND);
    json_decref(obj);
    sl_kube_status_release(&st);
    sl_kube_free(k);
}

/* Debug logging names requests, never credentials or Secret contents. */
static void test_no_secrets_in_debug_log(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = open_client("    token: tok-SENSITIVE\n", 2);
    json_t *obj =
            json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s}}", "apiVersion", "v1", "kind", "Secret",
                      "metadata", "name", "s", "namespace", "default", "data", "k", "aHVudGVyMg==");
    FILE *f = tmpfile();
    char buf[65536];
    size_t n;

    assert_non_null(f);
    sl_log_setup(SL_LOG_DEBUG, f);
    set_faults(1, F_500);
    assert_int_equal(sl_kube_apply(k, obj, NULL, NULL, NULL, NULL, &err), -1);
    sl_log_setup(SL_LOG_WARN, NULL);
    rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "path=/api/v1/namespaces/default/secrets/s"));
    assert_non_null(strstr(buf, "kube request retry"));
    assert_null(strstr(buf, "SENSITIVE"));
    assert_null(strstr(buf, "aHVudGVyMg"));
    assert_null(strstr(buf, "hunter2"));
    assert_null(strstr(err.msg, "hunter2"));
    json_decref(obj);
    sl_kube_free(k);
}

static void test_server_warning_logged(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = open_client("    token: t\n", 1);
    FILE *f = tmpfile();
    char buf[8192];
    size_t n;

    assert_non_null(f);
    sl_log_setup(SL_LOG_WARN, f);
    assert_int_equal(sl_kube_request(k, "GET", "/warn", NULL, NULL, 0, NULL, NULL, &err), 0);
    sl_log_setup(SL_LOG_WARN, NULL);
    rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "kube: server warning"));
    assert_non_null(strstr(buf, "CronJob is deprecated"));
    sl_kube_free(k);
}

static void test_cancel(void **state)
{
    static volatile sig_atomic_t stop;
    struct sl_kube_options o = {0};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = NULL;

    o.kubeconfig = write_config("    token: t\n");
    o.cancel = &stop;
    assert_int_equal(sl_kube_open(&k, &o, &err), 0);
    stop = 1;
    assert_int_equal(version_ok(k, &err), -1);
    assert_int_equal(err.code, SL_ECANCELED);
    stop = 0;
    sl_kube_free(k);
}

int main(void)
{
    struct sl_error err = SL_ERROR_INIT;
    const union MHD_DaemonInfo *info;
    int rc;
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_token, setup, teardown),
            cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
            cmocka_unit_test_setup_teardown(test_impersonation, setup, teardown),
            cmocka_unit_test_setup_teardown(test_token_file_reread, setup, teardown),
            cmocka_unit_test_setup_teardown(test_exec_cache_and_401, setup, teardown),
            cmocka_unit_test_setup_teardown(test_exec_expired, setup, teardown),
            cmocka_unit_test_setup_teardown(test_retry_500_then_ok, setup, teardown),
            cmocka_unit_test_setup_teardown(test_retry_429_retry_after, setup, teardown),
            cmocka_unit_test_setup_teardown(test_retry_drop_and_timeout, setup, teardown),
            cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
            cmocka_unit_test_setup_teardown(test_discovery_legacy, setup, teardown),
            cmocka_unit_test_setup_teardown(test_discovery_aggregated, setup, teardown),
            cmocka_unit_test_setup_teardown(test_list_paging, setup, teardown),
            cmocka_unit_test_setup_teardown(test_apply_and_errors, setup, teardown),
            cmocka_unit_test_setup_teardown(test_no_secrets_in_debug_log, setup, teardown),
            cmocka_unit_test_setup_teardown(test_server_warning_logged, setup, teardown),
            cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
    };

    if (sl_secmem_init(&err) != 0)
        return 1;
    pthread_mutex_init(&S.mu, NULL);
    sl_log_setup(SL_LOG_WARN, NULL);
    struct sockaddr_in sa;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    S.d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL,
                           NULL, handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                           MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    if (S.d == NULL) {
        fprintf(stderr, "cannot start the test server\n");
        return 1;
    }
    info = MHD_get_daemon_info(S.d, MHD_DAEMON_INFO_BIND_PORT);
    S.port = info->port;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    MHD_stop_daemon(S.d);
    return rc;
}
