/*
 * kubeconfig loading and merging (every auth mode), in-cluster config, and
 * exec credential plugins (scripts written by the test) of agent/kube.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>

#include "kube_internal.h"
#include "test_kube_util.h"

/* base64("hello-ca"), base64("CERT"), base64("KEY") */
#define CA_B64   "aGVsbG8tY2E="
#define CERT_B64 "Q0VSVA=="
#define KEY_B64  "S0VZ"

static int setup(void **state)
{
    tk_mkdir();
    return tk_dir[0] != '\0' ? 0 : -1;
}

static int teardown(void **state)
{
    tk_rmdir();
    return 0;
}

static struct sl_kubecfg *load_ok(const char *explicit_path, const char *env, const char *ctx)
{
    struct sl_kubecfg *c = NULL;
    struct sl_error err = SL_ERROR_INIT;

    if (sl_kubecfg_load(&c, explicit_path, env, NULL, ctx, &err) != 0)
        fail_msg("load failed: %s", err.msg);
    return c;
}

static void load_fail(const char *explicit_path, const char *env, const char *ctx,
                      enum sl_code code, const char *needle)
{
    struct sl_kubecfg *c = NULL;
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_kubecfg_load(&c, explicit_path, env, NULL, ctx, &err), -1);
    assert_null(c);
    if (err.code != code || strstr(err.msg, needle) == NULL)
        fail_msg("want code %s and \"%s\", got %s: %s", sl_code_name(code), needle,
                 sl_code_name(err.code), err.msg);
}

static void test_token_and_defaults(void **state)
{
    struct sl_kubecfg *c;

    tk_write("config",
             "apiVersion: v1\nkind: Config\n"
             "clusters:\n- name: c1\n  cluster:\n    server: https://10.0.0.1:6443/\n"
             "    certificate-authority-data: " CA_B64 "\n"
             "    tls-server-name: api.example\n    proxy-url: http://proxy:3128\n"
             "    disable-compression: true\n"
             "users:\n- name: u1\n  user:\n    token: s3cr3t\n"
             "    as: alice\n    as-uid: \"42\"\n    as-groups: [dev, ops]\n"
             "contexts:\n- name: ctx1\n  context: {cluster: c1, user: u1}\n"
             "current-context: ctx1\n",
             0600);
    c = load_ok(tk_path("config"), NULL, NULL);
    assert_string_equal(c->context, "ctx1");
    assert_string_equal(c->server, "https://10.0.0.1:6443");
    assert_string_equal(c->ns, "default");
    assert_non_null(c->ca_data);
    assert_memory_equal(c->ca_data->ptr, "hello-ca", 8);
    assert_int_equal(c->ca_data->len, 8);
    assert_string_equal(c->tls_server_name, "api.example");
    assert_string_equal(c->proxy_url, "http://proxy:3128");
    assert_true(c->disable_compression);
    assert_false(c->insecure);
    assert_string_equal((const char *)c->token->ptr, "s3cr3t");
    assert_string_equal(c->as_user, "alice");
    assert_string_equal(c->as_uid, "42");
    assert_int_equal(c->nas_groups, 2);
    assert_string_equal(c->as_groups[1], "ops");
    assert_null(c->exec);
    sl_kubecfg_free(c);

    /* No scheme: https is assumed. */
    tk_write("noscheme",
             "clusters:\n- name: c\n  cluster: {server: \"127.0.0.1:6443\"}\n"
             "contexts:\n- name: x\n  context: {cluster: c, namespace: team}\n"
             "current-context: x\n",
             0600);
    c = load_ok(tk_path("noscheme"), NULL, NULL);
    assert_string_equal(c->server, "https://127.0.0.1:6443");
    assert_string_equal(c->ns, "team");
    assert_null(c->token);
    sl_kubecfg_free(c);
}

static void test_merge_first_wins(void **state)
{
    struct sl_kubecfg *c;
    char env[2048];

    tk_write("a",
             "clusters:\n- name: shared\n  cluster: {server: \"https://a:1\"}\n"
             "users:\n- name: red\n  user: {token: token-a}\n"
             "contexts:\n- name: ctx-a\n  context: {cluster: shared, user: red}\n"
             "current-context: ctx-a\n",
             0600);
    tk_write("b",
             "clusters:\n- name: shared\n  cluster: {server: \"https://b:1\"}\n"
             "- name: only-b\n  cluster: {server: \"https://only-b:2\"}\n"
             "users:\n- name: red\n  user: {token: token-b}\n"
             "- name: blue\n  user: {username: bob, password: pw}\n"
             "contexts:\n- name: ctx-b\n  context: {cluster: only-b, user: red, namespace: "
             "nb}\n- name: ctx-blue\n  context: {cluster: shared, user: blue}\n"
             "current-context: ctx-b\n",
             0600);
    snprintf(env, sizeof(env), "%s:%s:%s", tk_path("a"), tk_path("missing"), tk_path("b"));
    c = load_ok(NULL, env, NULL);
    /* current-context from the first file that sets it; cluster "shared" from a. */
    assert_string_equal(c->context, "ctx-a");
    assert_string_equal(c->server, "https://a:1");
    assert_string_equal((const char *)c->token->ptr, "token-a");
    sl_kubecfg_free(c);
    /* Context from b, but its user "red" is a's (first file to set a map key wins). */
    c = load_ok(NULL, env, "ctx-b");
    assert_string_equal(c->server, "https://only-b:2");
    assert_string_equal(c->ns, "nb");
    assert_string_equal((const char *)c->token->ptr, "token-a");
    sl_kubecfg_free(c);
    /* Basic auth. */
    c = load_ok(NULL, env, "ctx-blue");
    assert_string_equal(c->username, "bob");
    assert_string_equal((const char *)c->password->ptr, "pw");
    assert_null(c->token);
    sl_kubecfg_free(c);
    /* Order reversed: b wins. */
    snprintf(env, sizeof(env), "%s:%s", tk_path("b"), tk_path("a"));
    c = load_ok(NULL, env, "ctx-a");
    assert_string_equal(c->server, "https://b:1");
    assert_string_equal((const char *)c->token->ptr, "token-b");
    sl_kubecfg_free(c);
    /* An explicit file wins over $KUBECONFIG entirely. */
    c = load_ok(tk_path("b"), env, NULL);
    assert_string_equal(c->context, "ctx-b");
    sl_kubecfg_free(c);
}

static void test_home_default(void **state)
{
    struct sl_kubecfg *c = NULL;
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(mkdir(tk_path(".kube"), 0700), 0);
    tk_write(".kube/config",
             "clusters:\n- name: c\n  cluster: {server: \"https://home:1\"}\n"
             "contexts:\n- name: x\n  context: {cluster: c}\n"
             "current-context: x\n",
             0600);
    assert_int_equal(sl_kubecfg_load(&c, NULL, NULL, tk_dir, NULL, &err), 0);
    assert_string_equal(c->server, "https://home:1");
    sl_kubecfg_free(c);
    /* An empty $KUBECONFIG falls back to HOME too. */
    assert_int_equal(sl_kubecfg_load(&c, NULL, "", tk_dir, NULL, &err), 0);
    sl_kubecfg_free(c);
}

static void test_relative_paths_and_files(void **state)
{
    struct sl_kubecfg *c;

    assert_int_equal(mkdir(tk_path("sub"), 0700), 0);
    tk_write("sub/ca.pem", "CA", 0600);
    tk_write("sub/cert.pem", "CERT", 0600);
    tk_write("sub/key.pem", "KEY", 0600);
    tk_write("sub/tok", "filetoken\n", 0600);
    tk_write("sub/config",
             "clusters:\n- name: c\n  cluster:\n    server: https://x:1\n"
             "    certificate-authority: ca.pem\n"
             "users:\n- name: certuser\n  user:\n    client-certificate: cert.pem\n"
             "    client-key: key.pem\n"
             "- name: fileuser\n  user:\n    tokenFile: tok\n"
             "- name: execuser\n  user:\n    exec:\n      apiVersion: "
             "client.authentication.k8s.io/v1\n      command: ./bin/plugin\n"
             "      args: [--flag, x]\n      env: [{name: FOO, value: bar}]\n"
             "      installHint: install it\n      provideClusterInfo: true\n"
             "- name: pathuser\n  user:\n    exec: {apiVersion: "
             "client.authentication.k8s.io/v1beta1, command: aws-iam-authenticator}\n"
             "contexts:\n- name: cert\n  context: {cluster: c, user: certuser}\n"
             "- name: file\n  context: {cluster: c, user: fileuser}\n"
             "- name: exec\n  context: {cluster: c, user: execuser}\n"
             "- name: path\n  context: {cluster: c, user: pathuser}\n",
             0600);
    c = load_ok(tk_path("sub/config"), NULL, "cert");
    assert_string_equal(c->ca_file, tk_path("sub/ca.pem"));
    assert_string_equal(c->cert_file, tk_path("sub/cert.pem"));
    assert_string_equal(c->key_file, tk_path("sub/key.pem"));
    sl_kubecfg_free(c);
    c = load_ok(tk_path("sub/config"), NULL, "file");
    assert_string_equal(c->token_file, tk_path("sub/tok"));
    sl_kubecfg_free(c);
    c = load_ok(tk_path("sub/config"), NULL, "exec");
    assert_non_null(c->exec);
    assert_string_equal(c->exec->command, tk_path("sub/./bin/plugin"));
    assert_string_equal(c->exec->api_version, "client.authentication.k8s.io/v1");
    assert_int_equal(c->exec->nargs, 2);
    assert_string_equal(c->exec->args[0], "--flag");
    assert_int_equal(c->exec->nenv, 1);
    assert_string_equal(c->exec->env[0], "FOO=bar");
    assert_string_equal(c->exec->install_hint, "install it");
    assert_true(c->exec->provide_cluster_info);
    sl_kubecfg_free(c);
    /* A bare command name is looked up in PATH, not resolved. */
    c = load_ok(tk_path("sub/config"), NULL, "path");
    assert_string_equal(c->exec->command, "aws-iam-authenticator");
    sl_kubecfg_free(c);
}

static void test_cert_data(void **state)
{
    struct sl_kubecfg *c;

    tk_write("config",
             "clusters:\n- name: c\n  cluster: {server: \"https://x:1\", "
             "insecure-skip-tls-verify: true}\n"
             "users:\n- name: u\n  user:\n    client-certificate-data: " CERT_B64 "\n"
             "    client-key-data: |\n      " KEY_B64 "\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
             "current-context: x\n",
             0600);
    c = load_ok(tk_path("config"), NULL, NULL);
    assert_true(c->insecure);
    assert_int_equal(c->cert_data->len, 4);
    assert_memory_equal(c->cert_data->ptr, "CERT", 4);
    assert_int_equal(c->key_data->len, 3);
    assert_memory_equal(c->key_data->ptr, "KEY", 3);
    sl_kubecfg_free(c);
}

static void test_errors(void **state)
{
    static const char head[] = "clusters:\n- name: c\n  cluster: {server: \"https://x:1\"}\n";
    char buf[2048];

    load_fail(tk_path("nope"), NULL, NULL, SL_ENOTFOUND, "nope");
    load_fail(NULL, tk_path("nope"), NULL, SL_ENOTFOUND, "no kubeconfig found");

    snprintf(buf, sizeof(buf), "%scontexts:\n- name: x\n  context: {cluster: c}\n", head);
    tk_write("k", buf, 0600);
    load_fail(tk_path("k"), NULL, NULL, SL_EINVAL, "no current-context");
    load_fail(tk_path("k"), NULL, "other", SL_ENOTFOUND, "context \"other\" not found");

    tk_write("k", "contexts:\n- name: x\n  context: {cluster: gone}\ncurrent-context: x\n", 0600);
    load_fail(tk_path("k"), NULL, NULL, SL_ENOTFOUND, "cluster \"gone\" not found");

    snprintf(buf, sizeof(buf),
             "%scontexts:\n- name: x\n  context: {cluster: c, user: ghost}\ncurrent-context: x\n",
             head);
    tk_write("k", buf, 0600);
    load_fail(tk_path("k"), NULL, NULL, SL_ENOTFOUND, "user \"ghost\" not found");

    tk_write("k",
             "clusters:\n- name: c\n  cluster: {server: \"https://x:1\", "
             "certificate-authority: /etc/hostname, certificate-authority-data: " CA_B64 "}\n"
             "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
             0600);
    load_fail(tk_path("k"), NULL, NULL, SL_EINVAL, "both");

    tk_write("k",
             "clusters:\n- name: c\n  cluster: {server: \"https://x:1\", "
             "insecure-skip-tls-verify: true, certificate-authority-data: " CA_B64 "}\n"
             "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
             0600);
    load_fail(tk_path("k"), NULL, NULL, SL_EINVAL, "insecure-skip-tls-verify");

    tk_write("k",
             "clusters:\n- name: c\n  cluster: {certificate-authority-data: " CA_B64 "}\n"
             "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
             0600);
    load_fail(tk_path("k"), NULL, NULL, SL_EINVAL, "no server");

    snprintf(buf, sizeof(buf),
             "%susers:\n- name: u\n  user: {auth-provider: {name: gcp}}\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
             head);
    tk_write("k", buf, 0600);
    load_fail(tk_path("k"), NULL, NULL, SL_EUNSUPPORTED, "auth-provider");

    snprintf(buf, sizeof(buf),
             "%susers:\n- name: u\n  user: {client-certificate-data: \"!!notbase64\", "
             "client-key-data: " KEY_B64 "}\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
             head);
    tk_write("k", buf, 0600);
    load_fail(tk_path("k"), NULL, NULL, SL_EPARSE, "base64");

    snprintf(buf, sizeof(buf),
             "%susers:\n- name: u\n  user: {client-certificate-data: " CERT_B64 "}\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
             head);
    tk_write("k", buf, 0600);
    load_fail(tk_path("k"), NULL, NULL, SL_EINVAL, "both certificate and key");

    snprintf(buf, sizeof(buf),
             "%susers:\n- name: u\n  user: {token: t, username: a, password: b}\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
             head);
    tk_write("k", buf, 0600);
    load_fail(tk_path("k"), NULL, NULL, SL_EINVAL, "more than one authentication method");

    snprintf(buf, sizeof(buf),
             "%susers:\n- name: u\n  user: {tokenFile: /nonexistent/token}\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
             head);
    tk_write("k", buf, 0600);
    load_fail(tk_path("k"), NULL, NULL, SL_ENOTFOUND, "tokenFile");

    snprintf(buf, sizeof(buf),
             "%susers:\n- name: u\n  user: {exec: {apiVersion: "
             "client.authentication.k8s.io/v1alpha1, command: x}}\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
             head);
    tk_write("k", buf, 0600);
    load_fail(tk_path("k"), NULL, NULL, SL_EUNSUPPORTED, "v1alpha1");

    tk_write("k", "clusters: [\n", 0600);
    load_fail(tk_path("k"), NULL, NULL, SL_EPARSE, "");
    tk_write("k", "clusters: {c: 1}\n", 0600);
    load_fail(tk_path("k"), NULL, NULL, SL_EPARSE, "clusters must be a list");
}

static void test_incluster(void **state)
{
    struct sl_kubecfg *c = NULL;
    struct sl_error err = SL_ERROR_INIT;

    tk_write("token", "sa-token\n", 0600);
    tk_write("ca.crt", "CA", 0600);
    tk_write("namespace", "team-a\n", 0600);
    assert_int_equal(sl_kubecfg_incluster(&c, tk_dir, "10.96.0.1", "443", NULL, &err), 0);
    assert_string_equal(c->server, "https://10.96.0.1:443");
    assert_string_equal(c->token_file, tk_path("token"));
    assert_string_equal(c->ca_file, tk_path("ca.crt"));
    assert_string_equal(c->ns, "team-a");
    sl_kubecfg_free(c);
    c = NULL;
    /* IPv6 gets brackets; POD_NAMESPACE wins over the file. */
    assert_int_equal(sl_kubecfg_incluster(&c, tk_dir, "fd00::1", "6443", "env-ns", &err), 0);
    assert_string_equal(c->server, "https://[fd00::1]:6443");
    assert_string_equal(c->ns, "env-ns");
    sl_kubecfg_free(c);
    c = NULL;
    unlink(tk_path("namespace"));
    assert_int_equal(sl_kubecfg_incluster(&c, tk_dir, "h", "1", NULL, &err), 0);
    assert_string_equal(c->ns, "default");
    sl_kubecfg_free(c);
    c = NULL;
    assert_int_equal(sl_kubecfg_incluster(&c, tk_dir, NULL, "443", NULL, &err), -1);
    assert_non_null(strstr(err.msg, "KUBERNETES_SERVICE_HOST"));
    sl_error_clear(&err);
    unlink(tk_path("token"));
    assert_int_equal(sl_kubecfg_incluster(&c, tk_dir, "h", "1", NULL, &err), -1);
    assert_non_null(strstr(err.msg, "token"));
}

/* ---- exec plugins ----------------------------------------------------------- */

static struct sl_kubecfg *exec_cfg(const char *api, const char *script_body)
{
    char cfg[4096], script[4096];
    struct sl_kubecfg *c;

    snprintf(script, sizeof(script), "#!/bin/sh\n%s", script_body);
    tk_write("plugin.sh", script, 0700);
    snprintf(cfg, sizeof(cfg),
             "clusters:\n- name: c\n  cluster: {server: \"https://x:1\", "
             "certificate-authority-data: " CA_B64 "}\n"
             "users:\n- name: u\n  user:\n    exec:\n      apiVersion: %s\n"
             "      command: ./plugin.sh\n      args: [\"arg one\", \"$HOME\"]\n"
             "      env: [{name: PLUGIN_GREETING, value: hi}]\n"
             "      provideClusterInfo: true\n      installHint: get the plugin\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
             api);
    tk_write("config", cfg, 0600);
    c = load_ok(tk_path("config"), NULL, NULL);
    return c;
}

static void test_exec_v1(void **state)
{
    struct sl_kubecfg *c;
    struct sl_kube_cred cred = {0};
    struct sl_error err = SL_ERROR_INIT;

    /* The token carries what the plugin saw: argv (unexpanded, no shell), env, exec info. */
    c = exec_cfg("client.authentication.k8s.io/v1",
                 "case \"$KUBERNETES_EXEC_INFO\" in\n"
                 "*'\"interactive\":false'*'\"server\":\"https://x:1\"'*) info=ok;;\n"
                 "*) info=bad;;\nesac\n"
                 "case \"$KUBERNETES_EXEC_INFO\" in *certificate-authority-data*" CA_B64
                 "*) ca=ok;; *) ca=bad;; esac\n"
                 "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
                 "\"ExecCredential\",\"status\":{\"token\":\"%s|%s|%s|%s|%s\","
                 "\"expirationTimestamp\":\"2099-01-01T00:00:00Z\"}}' "
                 "\"$1\" \"$2\" \"$PLUGIN_GREETING\" \"$info\" \"$ca\"\n");
    assert_int_equal(sl_kube_exec_run(c, 5000, &cred, &err), 0);
    assert_string_equal((const char *)cred.token->ptr, "arg one|$HOME|hi|ok|ok");
    assert_int_equal(cred.expiry, 4070908800);
    assert_null(cred.cert);
    sl_kube_cred_release(&cred);
    sl_kubecfg_free(c);
}

static void test_exec_v1beta1_cert(void **state)
{
    struct sl_kubecfg *c;
    struct sl_kube_cred cred = {0};
    struct sl_error err = SL_ERROR_INIT;

    c = exec_cfg("client.authentication.k8s.io/v1beta1",
                 "printf '%s' '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":"
                 "\"ExecCredential\",\"status\":{\"clientCertificateData\":\"-----BEGIN "
                 "CERTIFICATE-----\\n\",\"clientKeyData\":\"-----BEGIN PRIVATE KEY-----\\n\"}}'\n");
    assert_int_equal(sl_kube_exec_run(c, 5000, &cred, &err), 0);
    assert_null(cred.token);
    assert_string_equal((const char *)cred.cert->ptr, "-----BEGIN CERTIFICATE-----\n");
    assert_string_equal((const char *)cred.key->ptr, "-----BEGIN PRIVATE KEY-----\n");
    assert_int_equal(cred.expiry, 0);
    sl_kube_cred_release(&cred);
    sl_kubecfg_free(c);
}

static void exec_fails(const char *api, const char *body, enum sl_code code, const char *needle)
{
    struct sl_kubecfg *c = exec_cfg(api, body);
    struct sl_kube_cred cred = {0};
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_kube_exec_run(c, 1500, &cred, &err), -1);
    if (err.code != code || strstr(err.msg, needle) == NULL)
        fail_msg("want %s \"%s\", got %s: %s", sl_code_name(code), needle, sl_code_name(err.code),
                 err.msg);
    assert_null(cred.token);
    sl_kubecfg_free(c);
}

static void test_exec_failures(void **state)
{
    const char *v1 = "client.authentication.k8s.io/v1";

    exec_fails(v1, "echo nope >&2\nexit 3\n", SL_EAUTH, "exited with status 3: get the plugin");
    exec_fails(v1,
               "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":"
               "\"ExecCredential\",\"status\":{\"token\":\"t\"}}'\n",
               SL_EINVAL, "apiVersion");
    exec_fails(v1,
               "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
               "\"ExecCredential\",\"status\":{}}'\n",
               SL_EINVAL, "neither a token");
    exec_fails(v1, "echo 'not json'\n", SL_EPARSE, "not a JSON object");
    exec_fails(v1,
               "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
               "\"ExecCredential\",\"status\":{\"token\":\"t\",\"expirationTimestamp\":"
               "\"tomorrow\"}}'\n",
               SL_EPARSE, "RFC 3339");
    exec_fails(v1, "exec sleep 30\n", SL_ETIMEOUT, "did not finish");
    exec_fails(v1, "head -c 2000000 /dev/zero\n", SL_ETOOLARGE, "output");
}

static void test_exec_cluster_info_ca_file(void **state)
{
    struct sl_kubecfg *c;
    struct sl_kube_cred cred = {0};
    struct sl_error err = SL_ERROR_INIT;

    /* The CA named by file still reaches the plugin as certificate-authority-data. */
    tk_write("ca.pem", "hello-ca", 0600);
    tk_write("plugin.sh",
             "#!/bin/sh\ncase \"$KUBERNETES_EXEC_INFO\" in\n"
             "*'\"certificate-authority-data\":\"" CA_B64 "\"'*) t=ca-ok;;\n*) t=ca-missing;;\n"
             "esac\nprintf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
             "\"ExecCredential\",\"status\":{\"token\":\"%s\"}}' \"$t\"\n",
             0700);
    tk_write("config",
             "clusters:\n- name: c\n  cluster: {server: \"https://x:1\", "
             "certificate-authority: ca.pem}\n"
             "users:\n- name: u\n  user:\n    exec: {apiVersion: "
             "client.authentication.k8s.io/v1, command: ./plugin.sh, "
             "provideClusterInfo: true}\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
             "current-context: x\n",
             0600);
    c = load_ok(tk_path("config"), NULL, NULL);
    assert_int_equal(sl_kube_exec_run(c, 5000, &cred, &err), 0);
    assert_string_equal((const char *)cred.token->ptr, "ca-ok");
    sl_kube_cred_release(&cred);
    sl_kubecfg_free(c);
}

static void test_exec_missing_command(void **state)
{
    struct sl_kubecfg *c;
    struct sl_kube_cred cred = {0};
    struct sl_error err = SL_ERROR_INIT;

    tk_write("config",
             "clusters:\n- name: c\n  cluster: {server: \"https://x:1\"}\n"
             "users:\n- name: u\n  user:\n    exec: {apiVersion: "
             "client.authentication.k8s.io/v1, command: sluice-no-such-plugin, "
             "installHint: \"brew install it\"}\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
             "current-context: x\n",
             0600);
    c = load_ok(tk_path("config"), NULL, NULL);
    assert_int_equal(sl_kube_exec_run(c, 1000, &cred, &err), -1);
    assert_non_null(strstr(err.msg, "sluice-no-such-plugin"));
    assert_non_null(strstr(err.msg, "brew install it"));
    sl_kubecfg_free(c);
}

int main(void)
{
    struct sl_error err = SL_ERROR_INIT;
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_token_and_defaults, setup, teardown),
            cmocka_unit_test_setup_teardown(test_merge_first_wins, setup, teardown),
            cmocka_unit_test_setup_teardown(test_home_default, setup, teardown),
            cmocka_unit_test_setup_teardown(test_relative_paths_and_files, setup, teardown),
            cmocka_unit_test_setup_teardown(test_cert_data, setup, teardown),
            cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
            cmocka_unit_test_setup_teardown(test_incluster, setup, teardown),
            cmocka_unit_test_setup_teardown(test_exec_v1, setup, teardown),
            cmocka_unit_test_setup_teardown(test_exec_v1beta1_cert, setup, teardown),
            cmocka_unit_test_setup_teardown(test_exec_failures, setup, teardown),
            cmocka_unit_test_setup_teardown(test_exec_cluster_info_ca_file, setup, teardown),
            cmocka_unit_test_setup_teardown(test_exec_missing_command, setup, teardown),
    };

    if (sl_secmem_init(&err) != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
