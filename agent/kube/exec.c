/*
 * Exec credential plugins (client.authentication.k8s.io v1 and v1beta1):
 * the plugin runs from an argv array (never a shell) with stdin on
 * /dev/null, stderr passed through, and a time limit; its stdout is read into
 * secure memory and parsed as an ExecCredential.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "kube_internal.h"

extern char **environ;

void sl_kube_cred_release(struct sl_kube_cred *c)
{
    if (c == NULL)
        return;
    sl_secret_free(c->token);
    sl_secret_free(c->cert);
    sl_secret_free(c->key);
    memset(c, 0, sizeof(*c));
}

static int secret_field(struct sl_secret **dst, const json_t *status, const char *key,
                        struct sl_error *err)
{
    const char *s = json_string_value(json_object_get(status, key));

    if (s == NULL || s[0] == '\0')
        return 0;
    *dst = sl_secret_new(s, strlen(s), err);
    return *dst == NULL ? -1 : 0;
}

int sl_kube_exec_parse(const char *api_version, const char *data, size_t len,
                       struct sl_kube_cred *out, struct sl_error *err)
{
    struct sl_kube_cred c = {NULL, NULL, NULL, 0};
    json_t *root = json_loadb(data, len, 0, NULL), *status;
    const char *kind, *api, *exp;
    int rc = -1;

    if (!json_is_object(root)) {
        sl_error_set(err, SL_EPARSE, "exec plugin output is not a JSON object");
        goto out;
    }
    kind = json_string_value(json_object_get(root, "kind"));
    api = json_string_value(json_object_get(root, "apiVersion"));
    if (kind == NULL || strcmp(kind, "ExecCredential") != 0) {
        sl_error_set(err, SL_EPARSE, "exec plugin output is not an ExecCredential");
        goto out;
    }
    if (api == NULL || strcmp(api, api_version) != 0) {
        sl_error_set(err, SL_EINVAL,
                     "exec plugin answered apiVersion \"%s\", the kubeconfig asks for \"%s\"",
                     api != NULL ? api : "", api_version);
        goto out;
    }
    status = json_object_get(root, "status");
    if (!json_is_object(status)) {
        sl_error_set(err, SL_EINVAL, "exec plugin output has no status");
        goto out;
    }
    if (secret_field(&c.token, status, "token", err) != 0 ||
        secret_field(&c.cert, status, "clientCertificateData", err) != 0 ||
        secret_field(&c.key, status, "clientKeyData", err) != 0)
        goto out;
    if ((c.cert == NULL) != (c.key == NULL)) {
        sl_error_set(err, SL_EINVAL,
                     "exec plugin returned only one of clientCertificateData and "
                     "clientKeyData");
        goto out;
    }
    if (c.token == NULL && c.cert == NULL) {
        sl_error_set(err, SL_EINVAL,
                     "exec plugin returned neither a token nor a client certificate");
        goto out;
    }
    exp = json_string_value(json_object_get(status, "expirationTimestamp"));
    if (exp != NULL && exp[0] != '\0' && sl_kube_parse_rfc3339(exp, &c.expiry) != 0) {
        sl_error_set(err, SL_EPARSE, "exec plugin expirationTimestamp \"%s\" is not RFC 3339", exp);
        goto out;
    }
    *out = c;
    memset(&c, 0, sizeof(c));
    rc = 0;
out:
    sl_kube_cred_release(&c);
    if (root != NULL) {
        sl_kube_json_wipe(root);
        json_decref(root);
    }
    return rc;
}

/* base64 of the cluster CA: client-go sends it as data even when the kubeconfig names a file. */
static int ca_b64(const struct sl_kubecfg *cfg, char **out, struct sl_error *err)
{
    struct sl_buf ca = SL_BUF_INIT((size_t)1 << 20);
    const unsigned char *bin = cfg->ca_data != NULL ? cfg->ca_data->ptr : NULL;
    size_t binlen = cfg->ca_data != NULL ? cfg->ca_data->len : 0, n;
    int rc = -1;

    if (bin == NULL) {
        if (sl_file_read(&ca, cfg->ca_file, (size_t)1 << 20, err) != 0)
            goto out;
        bin = (const unsigned char *)ca.ptr;
        binlen = ca.len;
    }
    n = sodium_base64_encoded_len(binlen, sodium_base64_VARIANT_ORIGINAL);
    *out = malloc(n);
    if (*out == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    sodium_bin2base64(*out, n, bin, binlen, sodium_base64_VARIANT_ORIGINAL);
    rc = 0;
out:
    sl_buf_release(&ca);
    return rc;
}

/* KUBERNETES_EXEC_INFO: what the plugin may know about the request. */
static char *exec_info(const struct sl_kubecfg *cfg, struct sl_error *err)
{
    json_t *info =
            json_pack("{s:s,s:s}", "apiVersion", cfg->exec->api_version, "kind", "ExecCredential");
    json_t *spec = json_pack("{s:b}", "interactive", 0), *cluster = NULL;
    char *s = NULL, *ca = NULL;

    if (info == NULL || spec == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    if (cfg->exec->provide_cluster_info) {
        cluster = json_pack("{s:s}", "server", cfg->server);
        if (cluster == NULL) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
        if (cfg->tls_server_name != NULL)
            json_object_set_new(cluster, "tls-server-name", json_string(cfg->tls_server_name));
        if (cfg->insecure)
            json_object_set_new(cluster, "insecure-skip-tls-verify", json_true());
        if (cfg->proxy_url != NULL)
            json_object_set_new(cluster, "proxy-url", json_string(cfg->proxy_url));
        if (cfg->ca_data != NULL || cfg->ca_file != NULL) {
            if (ca_b64(cfg, &ca, err) != 0)
                goto out;
            json_object_set_new(cluster, "certificate-authority-data", json_string(ca));
        }
        json_object_set(spec, "cluster", cluster);
    }
    json_object_set(info, "spec", spec);
    s = json_dumps(info, JSON_COMPACT);
    if (s == NULL)
        sl_error_set(err, SL_ENOMEM, "out of memory");
out:
    free(ca);
    json_decref(cluster);
    json_decref(spec);
    json_decref(info);
    return s;
}

static bool env_overridden(const struct sl_kube_exec *e, const char *entry)
{
    const char *eq = strchr(entry, '=');
    size_t n = eq != NULL ? (size_t)(eq - entry) : strlen(entry);

    if (n == strlen("KUBERNETES_EXEC_INFO") && strncmp(entry, "KUBERNETES_EXEC_INFO", n) == 0)
        return true;
    for (size_t i = 0; i < e->nenv; i++)
        if (strncmp(e->env[i], entry, n) == 0 && e->env[i][n] == '=')
            return true;
    return false;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sl_kube_exec_run(const struct sl_kubecfg *cfg, int64_t timeout_ms, struct sl_kube_cred *out,
                     struct sl_error *err)
{
    const struct sl_kube_exec *e = cfg->exec;
    struct sl_secbuf outbuf = SL_SECBUF_INIT(SL_KUBE_EXEC_OUTPUT_MAX);
    posix_spawn_file_actions_t fa;
    bool fa_init = false;
    char **argv = NULL, **envp = NULL, *info = NULL, *infoenv = NULL;
    size_t nenv = 0, ne = 0;
    int pipefd[2] = {-1, -1}, status = 0, rc = -1, sperr;
    pid_t pid = -1;
    int64_t deadline;

    if (e->interactive_always)
        return sl_error_set(err, SL_EUNSUPPORTED,
                            "exec plugin %s needs interactiveMode Always; sluice runs without "
                            "a terminal",
                            e->command);
    argv = calloc(e->nargs + 2, sizeof(char *));
    while (environ != NULL && environ[nenv] != NULL)
        nenv++;
    envp = calloc(nenv + e->nenv + 2, sizeof(char *));
    info = exec_info(cfg, err);
    if (argv == NULL || envp == NULL || info == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    argv[0] = e->command;
    for (size_t i = 0; i < e->nargs; i++)
        argv[i + 1] = e->args[i];
    for (size_t i = 0; i < nenv; i++)
        if (!env_overridden(e, environ[i]))
            envp[ne++] = environ[i];
    for (size_t i = 0; i < e->nenv; i++)
        envp[ne++] = e->env[i];
    {
        size_t len = strlen(info) + sizeof("KUBERNETES_EXEC_INFO=");

        infoenv = malloc(len);
        if (infoenv == NULL) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
        snprintf(infoenv, len, "KUBERNETES_EXEC_INFO=%s", info);
        envp[ne++] = infoenv;
    }
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        sl_error_errno(err, errno, "exec plugin: pipe");
        goto out;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    fa_init = true;
    if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1) != 0) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    if (strchr(e->command, '/') != NULL)
        sperr = posix_spawn(&pid, e->command, &fa, NULL, argv, envp);
    else
        sperr = posix_spawnp(&pid, e->command, &fa, NULL, argv, envp);
    if (sperr != 0) {
        pid = -1;
        if (e->install_hint != NULL)
            sl_error_set(err, SL_EAUTH, "exec plugin %s: %s; %s", e->command, strerror(sperr),
                         e->install_hint);
        else
            sl_error_errno(err, sperr, "exec plugin %s", e->command);
        goto out;
    }
    close(pipefd[1]);
    pipefd[1] = -1;
    deadline = mono_ms() + timeout_ms;
    for (;;) {
        unsigned char chunk[4096];
        struct pollfd p = {pipefd[0], POLLIN, 0};
        int64_t left = deadline - mono_ms();
        ssize_t n;
        int pr;

        if (left <= 0) {
            sl_error_set(err, SL_ETIMEOUT, "exec plugin %s did not finish within %lld ms",
                         e->command, (long long)timeout_ms);
            goto out;
        }
        pr = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            sl_error_errno(err, errno, "exec plugin: poll");
            goto out;
        }
        if (pr == 0)
            continue;
        n = read(pipefd[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sl_error_errno(err, errno, "exec plugin: read");
            goto out;
        }
        if (n == 0)
            break;
        if (sl_secbuf_append(&outbuf, chunk, (size_t)n, err) != 0) {
            sl_secure_wipe(chunk, sizeof(chunk));
            sl_error_wrap(err, "exec plugin %s output", e->command);
            goto out;
        }
        sl_secure_wipe(chunk, sizeof(chunk));
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            sl_error_errno(err, errno, "exec plugin: waitpid");
            goto out;
        }
    }
    pid = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status))
            sl_error_set(err, SL_EAUTH, "exec plugin %s exited with status %d%s%s", e->command,
                         WEXITSTATUS(status), e->install_hint != NULL ? ": " : "",
                         e->install_hint != NULL ? e->install_hint : "");
        else
            sl_error_set(err, SL_EAUTH, "exec plugin %s was killed by signal %d", e->command,
                         WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        goto out;
    }
    if (sl_kube_exec_parse(e->api_version, (const char *)outbuf.ptr, outbuf.len, out, err) != 0) {
        sl_error_wrap(err, "exec plugin %s", e->command);
        goto out;
    }
    rc = 0;
out:
    if (pid > 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    sl_secbuf_release(&outbuf);
    free(argv);
    free(envp);
    free(info);
    free(infoenv);
    return rc;
}
