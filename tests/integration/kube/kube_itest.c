/*
 * Integration driver for agent/kube against kubesim over HTTPS (started by
 * kube_client.sh, which passes KS_PORT, KS_DIR with the generated
 * certificates, KS_TOKEN and KS_RO_TOKEN). Covers every TLS/auth path on a
 * real TLS stack, in-cluster config, discovery refresh after a CRD, paging,
 * server-side apply create/update/no-op/dry-run/conflict/immutable, delete,
 * and each injected fault retried and then failing cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "kube.h"
#include "kube_internal.h"
#include "log.h"

static const char *port, *dir, *token, *ro_token, *proxy_port;

static const char *p(const char *rel)
{
    static char bufs[8][1024];
    static int i;

    i = (i + 1) % 8;
    snprintf(bufs[i], sizeof(bufs[i]), "%s/%s", dir, rel);
    return bufs[i];
}

static void write_file(const char *rel, const char *data, mode_t mode)
{
    struct sl_error err = SL_ERROR_INIT;

    if (sl_file_write_atomic(p(rel), data, strlen(data), mode, &err) != 0)
        fail_msg("%s", err.msg);
}

/* base64 of a whole file, for *-data fields. */
static char *b64_file(const char *rel)
{
    struct sl_buf b = SL_BUF_INIT(1 << 20);
    struct sl_error err = SL_ERROR_INIT;
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s;
    char *out;
    size_t o = 0;

    if (sl_file_read(&b, p(rel), 1 << 20, &err) != 0)
        fail_msg("%s", err.msg);
    out = malloc(b.len * 4 / 3 + 8);
    s = (const unsigned char *)b.ptr;
    for (size_t i = 0; i < b.len; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < b.len ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < b.len ? s[i + 2] : 0);

        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = i + 1 < b.len ? tbl[v >> 6 & 63] : '=';
        out[o++] = i + 2 < b.len ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    sl_buf_release(&b);
    return out;
}

/* A kubeconfig with the given cluster extras and user body; returns its path. */
static const char *kubeconfig(const char *name, const char *server_host, const char *cluster_extra,
                              const char *user_body)
{
    char buf[16384];

    snprintf(buf, sizeof(buf),
             "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n"
             "    server: https://%s:%s\n%s"
             "users:\n- name: u\n  user:\n%s"
             "contexts:\n- name: sim\n  context: {cluster: sim, user: u}\n"
             "current-context: sim\n",
             server_host, port, cluster_extra, user_body);
    write_file(name, buf, 0600);
    return p(name);
}

static struct sl_kube *open_kc(const char *kc, int attempts, int64_t timeout_ms)
{
    struct sl_kube_options o = {0};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = NULL;

    o.kubeconfig = kc;
    o.max_attempts = attempts;
    o.request_timeout_ms = timeout_ms;
    o.backoff_base_ms = 20;
    o.backoff_max_ms = 3000;
    o.qps = -1;
    o.list_page_size = 10;
    if (sl_kube_open(&k, &o, &err) != 0)
        fail_msg("open %s: %s", kc, err.msg);
    return k;
}

static struct sl_kube *admin(void)
{
    char user[256];

    snprintf(user, sizeof(user), "    token: %s\n", token);
    return open_kc(kubeconfig("admin.kubeconfig", "127.0.0.1",
                              "    certificate-authority: ca.crt\n", user),
                   3, 5000);
}

static int whoami(struct sl_kube *k, struct sl_error *err)
{
    json_t *v = NULL;
    int rc = sl_kube_request(k, "GET", "/version", NULL, NULL, 0, &v, NULL, err);

    if (rc == 0 && json_string_value(json_object_get(v, "gitVersion")) == NULL)
        rc = sl_error_set(err, SL_EPARSE, "no gitVersion");
    json_decref(v);
    return rc;
}

static json_t *cm(const char *name, const char *key, const char *value)
{
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s}}", "apiVersion", "v1", "kind",
                     "ConfigMap", "metadata", "name", name, "namespace", "default", "labels",
                     "suite", "kube-it", "data", key, value);
}

static const char *rv_of(const json_t *obj)
{
    const char *rv =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

    return rv != NULL ? rv : "";
}

/* ---- TLS and authentication ------------------------------------------------ */

static void test_tls_token_ca_file(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = admin();

    assert_int_equal(whoami(k, &err), 0);
    sl_kube_free(k);
}

/* The kubeconfig kubesim writes for kubectl works unchanged (CA data, token, namespace). */
static void test_kubesim_kubeconfig(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = open_kc(p("kubesim.kubeconfig"), 1, 5000);

    assert_int_equal(whoami(k, &err), 0);
    assert_string_equal(sl_kube_namespace(k), "default");
    sl_kube_free(k);
}

static void test_tls_ca_data_and_server_name(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    char cluster[8192], user[256];
    char *ca = b64_file("ca.crt");
    struct sl_kube *k;

    snprintf(user, sizeof(user), "    token: %s\n", token);
    /* The server is addressed by IP, verified as kubesim.test (a SAN of its certificate). */
    snprintf(cluster, sizeof(cluster),
             "    certificate-authority-data: %s\n    tls-server-name: kubesim.test\n", ca);
    k = open_kc(kubeconfig("sni.kubeconfig", "127.0.0.1", cluster, user), 1, 5000);
    assert_int_equal(whoami(k, &err), 0);
    sl_kube_free(k);
    /* A name the certificate does not carry fails verification. */
    snprintf(cluster, sizeof(cluster),
             "    certificate-authority-data: %s\n    tls-server-name: other.test\n", ca);
    k = open_kc(kubeconfig("badsni.kubeconfig", "127.0.0.1", cluster, user), 3, 5000);
    assert_int_equal(whoami(k, &err), -1);
    assert_int_equal(err.code, SL_EIO);
    sl_kube_free(k);
    free(ca);
}

static void test_tls_wrong_ca_and_insecure(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    char user[256];
    struct sl_kube *k;

    snprintf(user, sizeof(user), "    token: %s\n", token);
    k = open_kc(kubeconfig("wrongca.kubeconfig", "127.0.0.1",
                           "    certificate-authority: other-ca.crt\n", user),
                4, 5000);
    assert_int_equal(sl_kube_request(k, "GET", "/version", NULL, NULL, 0, NULL, &st, &err), -1);
    assert_int_equal(err.code, SL_EIO);
    assert_int_equal(st.attempts, 1); /* a verification failure is not retried */
    assert_non_null(strstr(err.msg, "certificate"));
    sl_kube_free(k);
    sl_error_clear(&err);
    k = open_kc(kubeconfig("insecure.kubeconfig", "127.0.0.1",
                           "    insecure-skip-tls-verify: true\n", user),
                1, 5000);
    assert_int_equal(whoami(k, &err), 0);
    sl_kube_free(k);
    sl_kube_status_release(&st);
}

static void test_client_cert_files_and_data(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    char user[16384];
    char *cert = b64_file("client.crt"), *key = b64_file("client.key");
    struct sl_kube *k;
    struct sl_kube_ref ref = {"v1", "Namespace", NULL, "default"};
    json_t *ns = NULL;

    k = open_kc(kubeconfig("certfile.kubeconfig", "127.0.0.1",
                           "    certificate-authority: ca.crt\n",
                           "    client-certificate: client.crt\n    client-key: client.key\n"),
                1, 5000);
    assert_int_equal(sl_kube_get(k, &ref, &ns, NULL, &err), 0);
    json_decref(ns);
    sl_kube_free(k);
    snprintf(user, sizeof(user), "    client-certificate-data: %s\n    client-key-data: %s\n", cert,
             key);
    k = open_kc(kubeconfig("certdata.kubeconfig", "127.0.0.1",
                           "    certificate-authority: ca.crt\n", user),
                1, 5000);
    assert_int_equal(sl_kube_get(k, &ref, &ns, NULL, &err), 0);
    json_decref(ns);
    sl_kube_free(k);
    /* No credentials at all: 401. */
    k = open_kc(kubeconfig("anon.kubeconfig", "127.0.0.1", "    certificate-authority: ca.crt\n",
                           "    {}\n"),
                1, 5000);
    assert_int_equal(sl_kube_get(k, &ref, &ns, NULL, &err), -1);
    assert_int_equal(err.code, SL_EAUTH);
    sl_kube_free(k);
    free(cert);
    free(key);
}

static void test_exec_plugin_client_cert(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    char script[2048], user[2048];
    struct sl_kube *k;

    /* The plugin hands out the client certificate and key as PEM (in-memory blobs). */
    snprintf(script, sizeof(script),
             "#!/bin/sh\nexec python3 -c 'import json,sys; d=sys.argv[1]; "
             "print(json.dumps({\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
             "\"kind\":\"ExecCredential\",\"status\":{\"clientCertificateData\":"
             "open(d+\"/client.crt\").read(),\"clientKeyData\":open(d+\"/client.key\").read()}}))'"
             " \"%s\"\n",
             dir);
    write_file("certplugin.sh", script, 0700);
    snprintf(user, sizeof(user),
             "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
             "      command: ./certplugin.sh\n");
    k = open_kc(kubeconfig("execcert.kubeconfig", "127.0.0.1",
                           "    certificate-authority: ca.crt\n", user),
                1, 5000);
    {
        struct sl_kube_ref ref = {"v1", "Namespace", NULL, "default"};
        json_t *ns = NULL;

        assert_int_equal(sl_kube_get(k, &ref, &ns, NULL, &err), 0);
        json_decref(ns);
    }
    sl_kube_free(k);
}

static void test_readonly_forbidden(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    char user[256];
    struct sl_kube *k;
    json_t *obj = cm("ro-denied", "a", "1");

    snprintf(user, sizeof(user), "    token: %s\n", ro_token);
    k = open_kc(
            kubeconfig("ro.kubeconfig", "127.0.0.1", "    certificate-authority: ca.crt\n", user),
            1, 5000);
    assert_int_equal(sl_kube_apply(k, obj, NULL, NULL, NULL, &st, &err), -1);
    assert_int_equal(st.http, 403);
    assert_int_equal(err.code, SL_EAUTH);
    json_decref(obj);
    sl_kube_status_release(&st);
    sl_kube_free(k);
}

static void test_in_cluster(void **state)
{
    struct sl_kube_options o = {0};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_buf ca = SL_BUF_INIT(1 << 20);
    struct sl_kube *k = NULL;

    mkdir(p("sa"), 0700);
    write_file("sa/token", token, 0600);
    assert_int_equal(sl_file_read(&ca, p("ca.crt"), 1 << 20, &err), 0);
    write_file("sa/ca.crt", ca.ptr, 0600);
    write_file("sa/namespace", "kube-it\n", 0600);
    sl_buf_release(&ca);
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", port, 1);
    unsetenv("POD_NAMESPACE");
    o.in_cluster = true;
    o.incluster_dir = p("sa");
    assert_int_equal(sl_kube_open(&k, &o, &err), 0);
    assert_string_equal(sl_kube_namespace(k), "kube-it");
    assert_int_equal(whoami(k, &err), 0);
    /* The token rotates on disk: the new one is used (and the old one refused by nobody). */
    write_file("sa/token", "rotated-but-invalid", 0600);
    assert_int_equal(whoami(k, &err), -1);
    assert_int_equal(err.code, SL_EAUTH);
    sl_kube_free(k);
}

static void test_proxy_url(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_buf log = SL_BUF_INIT(1 << 20);
    char cluster[512], user[256], want[64];
    struct sl_kube *k;

    snprintf(user, sizeof(user), "    token: %s\n", token);
    snprintf(cluster, sizeof(cluster),
             "    certificate-authority: ca.crt\n    proxy-url: http://127.0.0.1:%s\n", proxy_port);
    k = open_kc(kubeconfig("proxy.kubeconfig", "127.0.0.1", cluster, user), 1, 5000);
    assert_int_equal(whoami(k, &err), 0);
    sl_kube_free(k);
    assert_int_equal(sl_file_read(&log, p("proxy.log"), 1 << 20, &err), 0);
    snprintf(want, sizeof(want), "CONNECT 127.0.0.1:%s", port);
    assert_non_null(strstr(log.ptr, want));
    sl_buf_release(&log);
}

/* Keep-alive: many requests share one connection; prints the figure for the README. */
static void test_keepalive(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = admin();
    struct sl_kube_ref ref = {"v1", "Namespace", NULL, "default"};
    int64_t t0;
    const int n = 500;

    for (int i = 0; i < 5; i++) {
        json_t *o = NULL;

        assert_int_equal(sl_kube_get(k, &ref, &o, NULL, &err), 0);
        json_decref(o);
    }
    assert_int_equal(k->nconnects, 1);
    t0 = sl_kube_now_ms();
    for (int i = 0; i < n; i++) {
        json_t *o = NULL;

        assert_int_equal(sl_kube_get(k, &ref, &o, NULL, &err), 0);
        json_decref(o);
    }
    printf("keep-alive: %d GETs over HTTPS in %lld ms on %llu connection(s)\n", n,
           (long long)(sl_kube_now_ms() - t0), (unsigned long long)k->nconnects);
    assert_int_equal(k->nconnects, 1);
    sl_kube_free(k);
}

/* ---- Discovery and operations ------------------------------------------------ */

static const char crd_json[] =
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
        "\"names\":{\"kind\":\"Widget\",\"plural\":\"widgets\",\"singular\":\"widget\","
        "\"listKind\":\"WidgetList\"},\"scope\":\"Namespaced\",\"versions\":[{\"name\":\"v1\","
        "\"served\":true,\"storage\":true,\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\","
        "\"x-kubernetes-preserve-unknown-fields\":true}}}]}}";

static void test_discovery_after_crd(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = admin();
    struct sl_kube_resource r;
    json_t *crd = json_loads(crd_json, 0, NULL), *w, *out = NULL;
    bool created = false;

    assert_int_equal(sl_kube_resolve(k, "apps/v1", "Deployment", &r, &err), 0);
    assert_string_equal(r.plural, "deployments");
    assert_int_equal(sl_kube_resolve(k, "example.com/v1", "Widget", &r, &err), -1);
    assert_int_equal(err.code, SL_ENOTFOUND);
    sl_error_clear(&err);
    assert_int_equal(sl_kube_apply(k, crd, NULL, &out, &created, NULL, &err), 0);
    assert_true(created);
    json_decref(out);
    out = NULL;
    /* As the reconcile layer does after applying CRDs. */
    sl_kube_discovery_invalidate(k);
    assert_int_equal(sl_kube_resolve(k, "example.com/v1", "Widget", &r, &err), 0);
    assert_string_equal(r.plural, "widgets");
    assert_true(r.namespaced);
    w = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:i}}", "apiVersion", "example.com/v1", "kind", "Widget",
                  "metadata", "name", "w1", "namespace", "default", "spec", "size", 3);
    assert_int_equal(sl_kube_apply(k, w, NULL, &out, &created, NULL, &err), 0);
    assert_true(created);
    json_decref(out);
    json_decref(w);
    json_decref(crd);
    sl_kube_free(k);
}

static void test_discovery_refresh_on_miss(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = admin(), *k2 = admin();
    struct sl_kube_resource r;
    json_t *crd = json_loads(crd_json, 0, NULL);

    /* k caches discovery before a second client adds a kind; k's miss refreshes. */
    assert_int_equal(sl_kube_resolve(k, "v1", "ConfigMap", &r, &err), 0);
    json_object_set_new(json_object_get(crd, "metadata"), "name",
                        json_string("gadgets.example.org"));
    json_object_set_new(json_object_get(crd, "spec"), "group", json_string("example.org"));
    json_object_set_new(json_object_get(crd, "spec"), "names",
                        json_pack("{s:s,s:s,s:s,s:s}", "kind", "Gadget", "plural", "gadgets",
                                  "singular", "gadget", "listKind", "GadgetList"));
    json_object_set_new(json_object_get(crd, "spec"), "scope", json_string("Cluster"));
    assert_int_equal(sl_kube_apply(k2, crd, NULL, NULL, NULL, NULL, &err), 0);
    assert_int_equal(sl_kube_resolve(k, "example.org/v1", "Gadget", &r, &err), 0);
    assert_false(r.namespaced);
    json_decref(crd);
    sl_kube_free(k);
    sl_kube_free(k2);
}

static json_t *request_log(struct sl_kube *k)
{
    struct sl_error err = SL_ERROR_INIT;
    json_t *v = NULL;

    if (sl_kube_request(k, "GET", "/kubesim/requests", NULL, NULL, 0, &v, NULL, &err) != 0)
        fail_msg("%s", err.msg);
    return v;
}

static void reset_requests(struct sl_kube *k)
{
    struct sl_error err = SL_ERROR_INIT;

    if (sl_kube_request(k, "DELETE", "/kubesim/requests", NULL, NULL, 0, NULL, NULL, &err) != 0)
        fail_msg("%s", err.msg);
}

static long count(json_t *report, const char *key)
{
    return (long)json_integer_value(json_object_get(json_object_get(report, "counts"), key));
}

static void test_paging(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = admin();
    struct sl_kube_ref ref = {"v1", "ConfigMap", "default", NULL};
    struct sl_kube_list_opts lo = {"page=yes", NULL, 0};
    json_t *items = NULL, *rep;
    char name[32];

    for (int i = 0; i < 25; i++) {
        json_t *o;

        snprintf(name, sizeof(name), "page-%02d", i);
        o = cm(name, "i", name);
        json_object_set_new(json_object_get(json_object_get(o, "metadata"), "labels"), "page",
                            json_string("yes"));
        assert_int_equal(sl_kube_apply(k, o, NULL, NULL, NULL, NULL, &err), 0);
        json_decref(o);
    }
    reset_requests(k);
    assert_int_equal(sl_kube_list(k, &ref, &lo, &items, NULL, NULL, &err), 0);
    assert_int_equal(json_array_size(items), 25);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 3), "kind")),
                        "ConfigMap");
    json_decref(items);
    rep = request_log(k);
    assert_int_equal(count(rep, "list configmaps"), 3); /* pages of 10 */
    json_decref(rep);
    /* A selector that matches nothing, across all namespaces. */
    ref.ns = NULL;
    lo.label_selector = "page=no";
    assert_int_equal(sl_kube_list(k, &ref, &lo, &items, NULL, NULL, &err), 0);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    sl_kube_free(k);
}

static void test_ssa_lifecycle(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_kube *k = admin();
    struct sl_kube_apply_opts dry = {NULL, -1, true};
    struct sl_kube_ref ref = {"v1", "ConfigMap", "default", "life"};
    json_t *obj = cm("life", "a", "1"), *out = NULL, *got = NULL;
    bool created = false;
    char rv1[64];

    /* Dry-run create: reported as created, nothing stored. */
    assert_int_equal(sl_kube_apply(k, obj, &dry, &out, &created, &st, &err), 0);
    assert_true(created);
    assert_string_equal(rv_of(out), "");
    json_decref(out);
    assert_int_equal(sl_kube_get(k, &ref, &got, &st, &err), -1);
    assert_true(sl_kube_is_not_found(&st));
    sl_error_clear(&err);
    /* Create. */
    assert_int_equal(sl_kube_apply(k, obj, NULL, &out, &created, &st, &err), 0);
    assert_true(created);
    assert_int_equal(st.http, 201);
    snprintf(rv1, sizeof(rv1), "%s", rv_of(out));
    assert_true(rv1[0] != '\0');
    json_decref(out);
    /* No-op: same resourceVersion. */
    assert_int_equal(sl_kube_apply(k, obj, NULL, &out, &created, &st, &err), 0);
    assert_false(created);
    assert_int_equal(st.http, 200);
    assert_string_equal(rv_of(out), rv1);
    json_decref(out);
    /* Dry-run update: not created, not stored. */
    json_object_set_new(json_object_get(obj, "data"), "a", json_string("2"));
    assert_int_equal(sl_kube_apply(k, obj, &dry, &out, &created, &st, &err), 0);
    assert_false(created);
    json_decref(out);
    assert_int_equal(sl_kube_get(k, &ref, &got, &st, &err), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(got, "data"), "a")), "1");
    json_decref(got);
    /* Update. */
    assert_int_equal(sl_kube_apply(k, obj, NULL, &out, &created, &st, &err), 0);
    assert_false(created);
    assert_string_not_equal(rv_of(out), rv1);
    json_decref(out);
    /* Merge patch as another manager (drift), then delete. */
    {
        json_t *patch = json_pack("{s:{s:s}}", "data", "b", "x");

        assert_int_equal(sl_kube_patch(k, &ref, SL_KUBE_PATCH_MERGE, patch, false, &got, &st, &err),
                         0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(got, "data"), "b")),
                            "x");
        json_decref(got);
        json_decref(patch);
    }
    assert_int_equal(sl_kube_delete(k, &ref, SL_KUBE_PROPAGATION_BACKGROUND, false, &st, &err), 0);
    assert_int_equal(sl_kube_get(k, &ref, &got, &st, &err), -1);
    assert_true(sl_kube_is_not_found(&st));
    sl_error_clear(&err);
    assert_int_equal(sl_kube_delete(k, &ref, SL_KUBE_PROPAGATION_FOREGROUND, false, &st, &err), -1);
    assert_int_equal(err.code, SL_ENOTFOUND);
    json_decref(obj);
    sl_kube_status_release(&st);
    sl_kube_free(k);
}

static void test_conflict_and_force(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_kube *k = admin();
    struct sl_kube_apply_opts other = {"other-team", 0, false};
    json_t *mine = cm("contested", "a", "1"), *theirs = cm("contested", "a", "2");

    assert_int_equal(sl_kube_apply(k, mine, NULL, NULL, NULL, &st, &err), 0);
    assert_int_equal(sl_kube_apply(k, theirs, &other, NULL, NULL, &st, &err), -1);
    assert_int_equal(err.code, SL_ECONFLICT);
    assert_true(sl_kube_is_conflict(&st));
    assert_true(st.ncauses >= 1);
    assert_string_equal(st.causes[0].field, ".data.a");
    assert_non_null(strstr(err.msg, "sluice"));
    assert_non_null(strstr(err.msg, ".data.a"));
    sl_error_clear(&err);
    other.force = 1;
    assert_int_equal(sl_kube_apply(k, theirs, &other, NULL, NULL, &st, &err), 0);
    json_decref(mine);
    json_decref(theirs);
    sl_kube_status_release(&st);
    sl_kube_free(k);
}

static void test_immutable(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_kube *k = admin();
    json_t *d = json_loads(
            "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"imm\","
            "\"namespace\":\"default\"},\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{"
            "\"app\":\"a\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"a\"}},\"spec\":{"
            "\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}}}}",
            0, NULL);

    assert_non_null(d);
    assert_int_equal(sl_kube_apply(k, d, NULL, NULL, NULL, &st, &err), 0);
    json_object_set_new(
            json_object_get(json_object_get(json_object_get(d, "spec"), "selector"), "matchLabels"),
            "app", json_string("b"));
    json_object_set_new(
            json_object_get(json_object_get(json_object_get(json_object_get(d, "spec"), "template"),
                                            "metadata"),
                            "labels"),
            "app", json_string("b"));
    assert_int_equal(sl_kube_apply(k, d, NULL, NULL, NULL, &st, &err), -1);
    assert_int_equal(st.http, 422);
    assert_int_equal(err.code, SL_EINVAL);
    assert_true(sl_kube_is_immutable(&st));
    assert_non_null(strstr(err.msg, "spec.selector"));
    json_decref(d);
    sl_kube_status_release(&st);
    sl_kube_free(k);
}

static void test_secret_roundtrip(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube *k = admin();
    struct sl_kube_ref ref = {"v1", "Secret", "default", "creds"};
    json_t *s = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s}}", "apiVersion", "v1", "kind", "Secret",
                          "metadata", "name", "creds", "namespace", "default", "data", "pw",
                          "aHVudGVyMg==");
    json_t *got = NULL;

    assert_int_equal(sl_kube_apply(k, s, NULL, NULL, NULL, NULL, &err), 0);
    assert_int_equal(sl_kube_get(k, &ref, &got, NULL, &err), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(got, "data"), "pw")),
                        "aHVudGVyMg==");
    json_decref(got);
    json_decref(s);
    assert_int_equal(sl_kube_ensure_namespace(k, "kube-it-ns", NULL, &err), 0);
    sl_kube_free(k);
}

/* ---- Faults ------------------------------------------------------------------ */

static void add_fault(struct sl_kube *k, const char *rule)
{
    struct sl_error err = SL_ERROR_INIT;

    if (sl_kube_request(k, "POST", "/kubesim/faults", "application/json", rule, strlen(rule), NULL,
                        NULL, &err) != 0)
        fail_msg("%s", err.msg);
}

static void clear_faults(struct sl_kube *k)
{
    struct sl_error err = SL_ERROR_INIT;

    if (sl_kube_request(k, "DELETE", "/kubesim/faults", NULL, NULL, 0, NULL, NULL, &err) != 0)
        fail_msg("%s", err.msg);
}

static long fault_fired(struct sl_kube *k)
{
    struct sl_error err = SL_ERROR_INIT;
    json_t *v = NULL;
    long n;

    if (sl_kube_request(k, "GET", "/kubesim/faults", NULL, NULL, 0, &v, NULL, &err) != 0)
        fail_msg("%s", err.msg);
    n = (long)json_integer_value(
            json_object_get(json_array_get(json_object_get(v, "faults"), 0), "fired"));
    json_decref(v);
    return n;
}

static int get_cm(struct sl_kube *k, struct sl_kube_status *st, struct sl_error *err)
{
    struct sl_kube_ref ref = {"v1", "ConfigMap", "default", "faulty"};
    json_t *got = NULL;
    int rc = sl_kube_get(k, &ref, &got, st, err);

    json_decref(got);
    return rc;
}

static void fault_case(const char *transient, const char *permanent, enum sl_code code, long http,
                       int64_t min_ms)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_kube *ctl = admin(), *k;
    char user[256];
    json_t *obj = cm("faulty", "a", "1");
    int64_t t0;

    snprintf(user, sizeof(user), "    token: %s\n", token);
    k = open_kc(kubeconfig("fault.kubeconfig", "127.0.0.1", "    certificate-authority: ca.crt\n",
                           user),
                3, 600);
    assert_int_equal(sl_kube_apply(ctl, obj, NULL, NULL, NULL, NULL, &err), 0);
    assert_int_equal(get_cm(k, &st, &err), 0); /* warm discovery and the connection */
    /* Transient: fires once, retried, succeeds. */
    add_fault(ctl, transient);
    t0 = sl_kube_now_ms();
    assert_int_equal(get_cm(k, &st, &err), 0);
    /* curl itself re-sends once when a reused connection turns out dead, so a dropped
     * connection may cost no attempt of ours. */
    if (strstr(transient, "drop") != NULL)
        assert_true(st.attempts >= 1 && st.attempts <= 2);
    else
        assert_int_equal(st.attempts, 2);
    assert_true(sl_kube_now_ms() - t0 >= min_ms);
    assert_int_equal(fault_fired(ctl), 1);
    clear_faults(ctl);
    /* Permanent: bounded attempts, then a clean error. */
    add_fault(ctl, permanent);
    assert_int_equal(get_cm(k, &st, &err), -1);
    clear_faults(ctl);
    if (err.code != code)
        fail_msg("want %s, got %s: %s", sl_code_name(code), sl_code_name(err.code), err.msg);
    assert_int_equal(st.http, http);
    assert_int_equal(st.attempts, 3);
    /* The client is healthy afterwards. */
    sl_error_clear(&err);
    assert_int_equal(get_cm(k, &st, &err), 0);
    json_decref(obj);
    sl_kube_status_release(&st);
    sl_kube_free(k);
    sl_kube_free(ctl);
}

static void test_fault_500(void **state)
{
    fault_case("{\"verb\":\"get\",\"resource\":\"configmaps\",\"nth\":1,\"code\":500}",
               "{\"verb\":\"get\",\"resource\":\"configmaps\",\"code\":500}", SL_EIO, 500, 0);
}

static void test_fault_429(void **state)
{
    /* Retry-After: 1 is honoured. */
    fault_case("{\"verb\":\"get\",\"resource\":\"configmaps\",\"nth\":1,\"code\":429,"
               "\"retryAfter\":1}",
               "{\"verb\":\"get\",\"resource\":\"configmaps\",\"code\":503}", SL_EIO, 503, 950);
}

static void test_fault_delay(void **state)
{
    fault_case("{\"verb\":\"get\",\"resource\":\"configmaps\",\"nth\":1,\"action\":\"delay\","
               "\"delayMs\":1500}",
               "{\"verb\":\"get\",\"resource\":\"configmaps\",\"action\":\"delay\",\"delayMs\":"
               "1500}",
               SL_ETIMEOUT, 0, 550);
}

static void test_fault_drop(void **state)
{
    fault_case("{\"verb\":\"get\",\"resource\":\"configmaps\",\"nth\":1,\"action\":\"drop\"}",
               "{\"verb\":\"get\",\"resource\":\"configmaps\",\"action\":\"drop\"}", SL_EIO, 0, 0);
}

int main(void)
{
    struct sl_error err = SL_ERROR_INIT;
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_tls_token_ca_file),
            cmocka_unit_test(test_kubesim_kubeconfig),
            cmocka_unit_test(test_tls_ca_data_and_server_name),
            cmocka_unit_test(test_tls_wrong_ca_and_insecure),
            cmocka_unit_test(test_client_cert_files_and_data),
            cmocka_unit_test(test_exec_plugin_client_cert),
            cmocka_unit_test(test_readonly_forbidden),
            cmocka_unit_test(test_in_cluster),
            cmocka_unit_test(test_proxy_url),
            cmocka_unit_test(test_keepalive),
            cmocka_unit_test(test_discovery_after_crd),
            cmocka_unit_test(test_discovery_refresh_on_miss),
            cmocka_unit_test(test_paging),
            cmocka_unit_test(test_ssa_lifecycle),
            cmocka_unit_test(test_conflict_and_force),
            cmocka_unit_test(test_immutable),
            cmocka_unit_test(test_secret_roundtrip),
            cmocka_unit_test(test_fault_500),
            cmocka_unit_test(test_fault_429),
            cmocka_unit_test(test_fault_delay),
            cmocka_unit_test(test_fault_drop),
    };

    port = getenv("KS_PORT");
    dir = getenv("KS_DIR");
    token = getenv("KS_TOKEN");
    ro_token = getenv("KS_RO_TOKEN");
    proxy_port = getenv("KS_PROXY_PORT");
    if (port == NULL || dir == NULL || token == NULL || ro_token == NULL || proxy_port == NULL) {
        fprintf(stderr, "kube_itest: run through kube_client.sh (KS_PORT, KS_DIR, KS_TOKEN)\n");
        return 2;
    }
    if (chdir(dir) != 0 || sl_secmem_init(&err) != 0)
        return 2;
    sl_log_setup(SL_LOG_WARN, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
