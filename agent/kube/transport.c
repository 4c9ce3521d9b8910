/*
 * The client's transport: one reused curl handle (its connection cache gives
 * keep-alive and HTTP/2 reuse), credentials per attempt, a token-bucket rate
 * limit and bounded retries with backoff. Logs carry method, path (without
 * query), status and duration only.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kube_internal.h"
#include "lazy.h"
#include "log.h"

int64_t sl_kube_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sl_kube_resp_release(struct sl_kube_resp *rs)
{
    sl_buf_release(&rs->body);
    sl_secbuf_release(&rs->sbody);
    rs->http = 0;
    rs->content_type[0] = '\0';
    rs->retry_after_ms = -1;
}

const char *sl_kube_resp_data(const struct sl_kube_resp *rs, size_t *len)
{
    if (rs->secret) {
        *len = rs->sbody.len;
        return rs->sbody.ptr != NULL ? (const char *)rs->sbody.ptr : "";
    }
    *len = rs->body.len;
    return rs->body.ptr;
}

static char *dup_or_null(const char *s, struct sl_error *err)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = strdup(s);
    if (d == NULL)
        sl_error_set(err, SL_ENOMEM, "out of memory");
    return d;
}

/* tls-server-name: talk to the server's address but verify (and send SNI for) the given name. */
static int setup_server_name(struct sl_kube *k, struct sl_error *err)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *url = NULL, entry[1024];
    int rc = -1, n;

    if (u == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, k->cfg->server, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        sl_error_set(err, SL_EINVAL, "cluster server \"%s\" is not a valid URL", k->cfg->server);
        goto out;
    }
    if (curl_url_set(u, CURLUPART_HOST, k->cfg->tls_server_name, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
        sl_error_set(err, SL_EINVAL, "tls-server-name \"%s\" is not a valid host name",
                     k->cfg->tls_server_name);
        goto out;
    }
    n = snprintf(entry, sizeof(entry), "%s:%s:%s:%s", k->cfg->tls_server_name, port, host, port);
    if (n < 0 || (size_t)n >= sizeof(entry)) {
        sl_error_set(err, SL_ETOOLARGE, "tls-server-name too long");
        goto out;
    }
    k->connect_to = curl_slist_append(NULL, entry);
    free(k->base_url);
    k->base_url = dup_or_null(url, err);
    if (k->connect_to == NULL || k->base_url == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    {
        size_t len = strlen(k->base_url);

        while (len > 0 && k->base_url[len - 1] == '/')
            k->base_url[--len] = '\0';
    }
    rc = 0;
out:
    curl_free(host);
    curl_free(port);
    curl_free(url);
    curl_url_cleanup(u);
    return rc;
}

int sl_kube_open(struct sl_kube **out, const struct sl_kube_options *opts, struct sl_error *err)
{
    struct sl_kube_options dflt;
    struct sl_kube *k;
    double qps, burst;
    int rc = -1;

    /* Before anything that may call into libcurl, sl_kube_free() included. */
    if (sl_lazy_require(SL_LAZY_CURL, err) != 0)
        return -1;
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    if (opts == NULL) {
        memset(&dflt, 0, sizeof(dflt));
        opts = &dflt;
    }
    if (opts->in_cluster) {
        if (sl_kubecfg_incluster(&k->cfg, opts->incluster_dir, getenv("KUBERNETES_SERVICE_HOST"),
                                 getenv("KUBERNETES_SERVICE_PORT"), getenv("POD_NAMESPACE"),
                                 err) != 0)
            goto out;
    } else if (sl_kubecfg_load(&k->cfg, opts->kubeconfig, getenv("KUBECONFIG"), getenv("HOME"),
                               opts->context, err) != 0) {
        goto out;
    }
    k->field_manager = dup_or_null(opts->field_manager != NULL && opts->field_manager[0] != '\0'
                                           ? opts->field_manager
                                           : "sluice",
                                   err);
    k->base_url = dup_or_null(k->cfg->server, err);
    if (k->field_manager == NULL || k->base_url == NULL)
        goto out;
    if (k->cfg->tls_server_name != NULL && setup_server_name(k, err) != 0)
        goto out;
    k->timeout_ms = opts->request_timeout_ms > 0 ? opts->request_timeout_ms : 30000;
    k->backoff_base_ms = opts->backoff_base_ms > 0 ? opts->backoff_base_ms : 250;
    k->backoff_max_ms = opts->backoff_max_ms > 0 ? opts->backoff_max_ms : 30000;
    k->exec_timeout_ms = opts->exec_timeout_ms > 0 ? opts->exec_timeout_ms : 60000;
    k->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : 5;
    k->page_size = opts->list_page_size > 0 ? opts->list_page_size : 500;
    k->force_conflicts = opts->force_conflicts;
    k->cancel = opts->cancel;
    qps = opts->qps == 0 ? 20 : opts->qps;
    burst = opts->burst > 0 ? opts->burst : (qps > 0 ? 2 * qps : 1);
    sl_kube_bucket_init(&k->bucket, qps < 0 ? 0 : qps, burst, sl_kube_now_ms());
    k->curl = curl_easy_init();
    if (k->curl == NULL) {
        sl_error_set(err, SL_ENOMEM, "curl_easy_init failed");
        goto out;
    }
    if (k->cfg->insecure)
        sl_log_warn("kube: TLS verification disabled by insecure-skip-tls-verify", "server",
                    k->cfg->server);
    *out = k;
    k = NULL;
    rc = 0;
out:
    sl_kube_free(k);
    return rc;
}

void sl_kube_free(struct sl_kube *k)
{
    if (k == NULL)
        return;
    if (k->curl != NULL)
        curl_easy_cleanup(k->curl);
    curl_slist_free_all(k->connect_to);
    sl_kubecfg_free(k->cfg);
    free(k->base_url);
    free(k->field_manager);
    sl_kube_cred_release(&k->exec_cred);
    sl_secret_free(k->file_token);
    free(k->res);
    free(k);
}

const char *sl_kube_server(const struct sl_kube *k)
{
    return k->cfg->server;
}

const char *sl_kube_namespace(const struct sl_kube *k)
{
    return k->cfg->ns;
}

const char *sl_kube_field_manager(const struct sl_kube *k)
{
    return k->field_manager;
}

/* Re-read tokenFile when it changed (bound service-account tokens rotate) or when forced. */
static int refresh_file_token(struct sl_kube *k, bool force, struct sl_error *err)
{
    struct sl_secbuf sb = SL_SECBUF_INIT(SL_KUBE_TOKEN_MAX);
    unsigned char chunk[4096];
    struct stat stt;
    int fd = -1, rc = -1;
    ssize_t n;
    size_t len;

    if (stat(k->cfg->token_file, &stt) != 0)
        return sl_error_errno(err, errno, "tokenFile %s", k->cfg->token_file);
    if (!force && k->file_token != NULL && stt.st_dev == k->tok_dev && stt.st_ino == k->tok_ino &&
        stt.st_size == k->tok_size && stt.st_mtim.tv_sec == k->tok_mtime.tv_sec &&
        stt.st_mtim.tv_nsec == k->tok_mtime.tv_nsec)
        return 0;
    fd = open(k->cfg->token_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sl_error_errno(err, errno, "tokenFile %s", k->cfg->token_file);
        goto out;
    }
    if (fstat(fd, &stt) != 0) {
        sl_error_errno(err, errno, "tokenFile %s", k->cfg->token_file);
        goto out;
    }
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sl_error_errno(err, errno, "tokenFile %s", k->cfg->token_file);
            goto out;
        }
        if (sl_secbuf_append(&sb, chunk, (size_t)n, err) != 0) {
            sl_error_wrap(err, "tokenFile %s", k->cfg->token_file);
            goto out;
        }
    }
    len = sb.len;
    while (len > 0 && (sb.ptr[len - 1] == '\n' || sb.ptr[len - 1] == '\r' ||
                       sb.ptr[len - 1] == ' ' || sb.ptr[len - 1] == '\t'))
        len--;
    if (len == 0) {
        sl_error_set(err, SL_EAUTH, "tokenFile %s is empty", k->cfg->token_file);
        goto out;
    }
    sl_secret_free(k->file_token);
    k->file_token = sl_secret_new(sb.ptr, len, err);
    if (k->file_token == NULL)
        goto out;
    k->tok_dev = stt.st_dev;
    k->tok_ino = stt.st_ino;
    k->tok_size = stt.st_size;
    k->tok_mtime = stt.st_mtim;
    rc = 0;
out:
    sl_secure_wipe(chunk, sizeof(chunk));
    sl_secbuf_release(&sb);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int ensure_creds(struct sl_kube *k, bool force, struct sl_error *err)
{
    if (k->cfg->exec != NULL) {
        time_t now = time(NULL);

        /* Renew a little before expiry so a request does not race the deadline. */
        if (force || !k->have_exec_cred ||
            (k->exec_cred.expiry != 0 && now + 5 >= k->exec_cred.expiry)) {
            sl_kube_cred_release(&k->exec_cred);
            k->have_exec_cred = false;
            if (sl_kube_exec_run(k->cfg, k->exec_timeout_ms, &k->exec_cred, err) != 0)
                return -1;
            k->have_exec_cred = true;
            sl_log_debug("kube: exec credential obtained", "plugin", k->cfg->exec->command);
        }
    }
    if (k->cfg->token_file != NULL && refresh_file_token(k, force, err) != 0)
        return -1;
    return 0;
}

static const struct sl_secret *bearer_token(const struct sl_kube *k)
{
    if (k->have_exec_cred && k->exec_cred.token != NULL)
        return k->exec_cred.token;
    if (k->cfg->token != NULL)
        return k->cfg->token;
    return k->file_token;
}

struct xfer {
    struct sl_kube_resp *rs;
    size_t max;
    bool too_large;
    const volatile sig_atomic_t *cancel;
    /* Warning headers (deprecated APIs, ignored fields): logged, as kubectl prints them. */
    char warnings[4][256];
    int nwarn;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    size_t n = size * nmemb;
    int r;

    if (x->rs->secret)
        r = sl_secbuf_append(&x->rs->sbody, data, n, NULL);
    else
        r = sl_buf_append(&x->rs->body, data, n, NULL);
    if (r != 0) {
        x->too_large = true;
        return 0;
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    size_t n = size * nmemb, vlen;
    const char *v;

    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        x->rs->content_type[0] = '\0';
        x->rs->retry_after_ms = -1;
        x->nwarn = 0;
        return n;
    }
    if (n > 8 && strncasecmp(data, "warning:", 8) == 0 && x->nwarn < 4) {
        char *w = x->warnings[x->nwarn++];

        snprintf(w, sizeof(x->warnings[0]), "%.*s", (int)(n - 8), data + 8);
        w[strcspn(w, "\r\n")] = '\0';
        return n;
    }
    if (n > 13 && strncasecmp(data, "content-type:", 13) == 0) {
        v = data + 13;
        vlen = n - 13;
        while (vlen > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }
        while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            vlen--;
        snprintf(x->rs->content_type, sizeof(x->rs->content_type), "%.*s", (int)vlen, v);
    } else if (n > 12 && strncasecmp(data, "retry-after:", 12) == 0) {
        char val[128];

        snprintf(val, sizeof(val), "%.*s", (int)(n - 12), data + 12);
        val[strcspn(val, "\r\n")] = '\0';
        x->rs->retry_after_ms = sl_kube_retry_after_ms(val, time(NULL));
    }
    return n;
}

static int on_progress(void *userp, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const struct xfer *x = userp;

    return (x->cancel != NULL && *x->cancel) ? 1 : 0;
}

/* Sleep ms, waking early (returning -1) when cancelled. */
static int nap(const struct sl_kube *k, int64_t ms)
{
    while (ms > 0) {
        int64_t step = ms > 100 ? 100 : ms;
        struct timespec ts = {(time_t)(step / 1000), (long)(step % 1000) * 1000000L};

        if (k->cancel != NULL && *k->cancel)
            return -1;
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return (k->cancel != NULL && *k->cancel) ? -1 : 0;
}

static void wipe_slist(struct curl_slist *l)
{
    for (; l != NULL; l = l->next)
        if (l->data != NULL)
            sl_secure_wipe(l->data, strlen(l->data));
}

static bool curl_retryable(CURLcode c, bool non_idempotent)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return true;
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return !non_idempotent;
    default:
        return false;
    }
}

static bool http_retryable(long http, bool non_idempotent)
{
    if (http == 429)
        return true;
    if (non_idempotent)
        return http == 503;
    return http >= 500 && http <= 599 && http != 501;
}

static int add_header(struct curl_slist **h, const char *line, struct sl_error *err)
{
    struct curl_slist *n = curl_slist_append(*h, line);

    if (n == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    *h = n;
    return 0;
}

/* Set up the handle for one attempt; *hdrs receives the header list (caller frees, wiped). */
static int prepare(struct sl_kube *k, const struct sl_kube_req *rq, struct xfer *x,
                   struct curl_slist **hdrs, char *errbuf, struct sl_error *err)
{
    CURL *c = k->curl;
    const struct sl_secret *tok = bearer_token(k);
    struct sl_buf line = SL_BUF_INIT(SL_KUBE_TOKEN_MAX + 64);
    struct curl_slist *h = NULL;
    char url[8192];
    int n, rc = -1;

    n = snprintf(url, sizeof(url), "%s%s", k->base_url, rq->path);
    if (n < 0 || (size_t)n >= sizeof(url))
        return sl_error_set(err, SL_ETOOLARGE, "request URL too long");
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)k->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(k->timeout_ms < 10000 ? k->timeout_ms : 10000));
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "sluice");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    if (!k->cfg->disable_compression)
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (k->connect_to != NULL)
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, k->connect_to);
    if (k->cfg->proxy_url != NULL) {
        curl_easy_setopt(c, CURLOPT_PROXY, k->cfg->proxy_url);
        curl_easy_setopt(c, CURLOPT_NOPROXY, "");
    }
    /* TLS */
    if (k->cfg->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (k->cfg->ca_data != NULL) {
        struct curl_blob b = {k->cfg->ca_data->ptr, k->cfg->ca_data->len, CURL_BLOB_COPY};

        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
    } else if (k->cfg->ca_file != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, k->cfg->ca_file);
    }
    if (k->have_exec_cred && k->exec_cred.cert != NULL) {
        struct curl_blob cb = {k->exec_cred.cert->ptr, k->exec_cred.cert->len, CURL_BLOB_COPY};
        struct curl_blob kb = {k->exec_cred.key->ptr, k->exec_cred.key->len, CURL_BLOB_COPY};

        curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
    } else if (k->cfg->cert_data != NULL || k->cfg->cert_file != NULL) {
        if (k->cfg->cert_data != NULL) {
            struct curl_blob cb = {k->cfg->cert_data->ptr, k->cfg->cert_data->len, CURL_BLOB_COPY};

            curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
        } else {
            curl_easy_setopt(c, CURLOPT_SSLCERT, k->cfg->cert_file);
        }
        if (k->cfg->key_data != NULL) {
            struct curl_blob kb = {k->cfg->key_data->ptr, k->cfg->key_data->len, CURL_BLOB_COPY};

            curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
        } else {
            curl_easy_setopt(c, CURLOPT_SSLKEY, k->cfg->key_file);
        }
        curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    /* Authentication */
    if (tok != NULL) {
        if (sl_buf_puts(&line, "Authorization: Bearer ", err) != 0 ||
            sl_buf_append(&line, tok->ptr, tok->len, err) != 0)
            goto out;
        if (add_header(&h, line.ptr, err) != 0)
            goto out;
    } else if (k->cfg->username != NULL || k->cfg->password != NULL) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, k->cfg->username != NULL ? k->cfg->username : "");
        curl_easy_setopt(c, CURLOPT_PASSWORD,
                         k->cfg->password != NULL ? (const char *)k->cfg->password->ptr : "");
    }
    if (k->cfg->as_user != NULL) {
        sl_buf_reset(&line);
        if (sl_buf_printf(&line, err, "Impersonate-User: %s", k->cfg->as_user) != 0)
            goto out;
        if (add_header(&h, line.ptr, err) != 0)
            goto out;
    }
    if (k->cfg->as_uid != NULL) {
        sl_buf_reset(&line);
        if (sl_buf_printf(&line, err, "Impersonate-Uid: %s", k->cfg->as_uid) != 0)
            goto out;
        if (add_header(&h, line.ptr, err) != 0)
            goto out;
    }
    for (size_t i = 0; i < k->cfg->nas_groups; i++) {
        sl_buf_reset(&line);
        if (sl_buf_printf(&line, err, "Impersonate-Group: %s", k->cfg->as_groups[i]) != 0)
            goto out;
        if (add_header(&h, line.ptr, err) != 0)
            goto out;
    }
    sl_buf_reset(&line);
    if (sl_buf_printf(&line, err, "Accept: %s",
                      rq->accept != NULL ? rq->accept : "application/json") != 0)
        goto out;
    if (add_header(&h, line.ptr, err) != 0)
        goto out;
    if (add_header(&h, "Expect:", err) != 0)
        goto out;
    if (rq->content_type != NULL) {
        sl_buf_reset(&line);
        if (sl_buf_printf(&line, err, "Content-Type: %s", rq->content_type) != 0)
            goto out;
        if (add_header(&h, line.ptr, err) != 0)
            goto out;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (strcmp(rq->method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    if (rq->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0 ||
               strcmp(rq->method, "PATCH") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    *hdrs = h;
    h = NULL;
    rc = 0;
out:
    wipe_slist(h);
    curl_slist_free_all(h);
    sl_secure_wipe(line.ptr, line.len);
    sl_buf_release(&line);
    return rc;
}

static void path_only(const char *path, char *out, size_t outlen)
{
    snprintf(out, outlen, "%.*s", (int)strcspn(path, "?"), path);
}

int sl_kube_do(struct sl_kube *k, const struct sl_kube_req *rq, struct sl_kube_resp *rs,
               struct sl_kube_status *st, struct sl_error *err)
{
    struct sl_kube_status local = SL_KUBE_STATUS_INIT;
    char errbuf[CURL_ERROR_SIZE], logpath[512], num[32], ms[32];
    bool reauthed = false;
    int attempt = 0, rc = -1;
    CURLcode cc = CURLE_OK;

    if (st == NULL)
        st = &local;
    sl_kube_status_release(st);
    path_only(rq->path, logpath, sizeof(logpath));
    for (;;) {
        struct xfer x = {rs,    rq->max_body != 0 ? rq->max_body : SL_KUBE_BODY_MAX,
                         false, k->cancel,
                         {{0}}, 0};
        struct curl_slist *hdrs = NULL;
        int64_t wait, t0, delay = -1;
        long http = 0;
        const char *why = NULL;

        sl_kube_resp_release(rs);
        rs->secret = rq->secret;
        sl_buf_init(&rs->body, x.max);
        rs->sbody.max = x.max;
        attempt++;
        st->attempts = attempt;
        wait = sl_kube_bucket_take(&k->bucket, sl_kube_now_ms());
        if (wait > 0 && nap(k, wait) != 0) {
            sl_error_set(err, SL_ECANCELED, "%s %s: cancelled", rq->method, logpath);
            goto out;
        }
        if (ensure_creds(k, false, err) != 0) {
            sl_error_wrap(err, "%s %s", rq->method, logpath);
            goto out;
        }
        errbuf[0] = '\0';
        if (prepare(k, rq, &x, &hdrs, errbuf, err) != 0)
            goto out;
        t0 = sl_kube_now_ms();
        cc = curl_easy_perform(k->curl);
        wipe_slist(hdrs);
        curl_slist_free_all(hdrs);
        {
            long nconn = 0;

            if (curl_easy_getinfo(k->curl, CURLINFO_NUM_CONNECTS, &nconn) == CURLE_OK && nconn > 0)
                k->nconnects += (uint64_t)nconn;
            k->nrequests++;
        }
        if (cc == CURLE_OK)
            curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &http);
        rs->http = http;
        snprintf(num, sizeof(num), "%ld", http);
        snprintf(ms, sizeof(ms), "%lld", (long long)(sl_kube_now_ms() - t0));
        {
            char at[16];
            long ver = 0;

            snprintf(at, sizeof(at), "%d", attempt);
            curl_easy_getinfo(k->curl, CURLINFO_HTTP_VERSION, &ver);
            sl_log_debug("kube request", "method", rq->method, "path", logpath, "status",
                         cc == CURLE_OK ? num : curl_easy_strerror(cc), "ms", ms, "attempt", at,
                         "proto",
                         ver == CURL_HTTP_VERSION_2_0   ? "h2"
                         : ver == CURL_HTTP_VERSION_1_0 ? "http/1.0"
                                                        : "http/1.1");
        }
        for (int i = 0; i < x.nwarn; i++)
            sl_log_warn("kube: server warning", "method", rq->method, "path", logpath, "warning",
                        x.warnings[i] + strspn(x.warnings[i], " \t"));
        if (x.too_large) {
            sl_error_set(err, SL_ETOOLARGE, "%s %s: response larger than %zu bytes", rq->method,
                         logpath, x.max);
            goto out;
        }
        if (cc == CURLE_ABORTED_BY_CALLBACK) {
            sl_error_set(err, SL_ECANCELED, "%s %s: cancelled", rq->method, logpath);
            goto out;
        }
        if (cc == CURLE_OK && http == 401 && !reauthed &&
            (k->cfg->exec != NULL || k->cfg->token_file != NULL)) {
            /* The credential may have been revoked or rotated: fetch a fresh one, once. */
            reauthed = true;
            attempt--;
            if (ensure_creds(k, true, err) != 0) {
                sl_error_wrap(err, "%s %s: after 401", rq->method, logpath);
                goto out;
            }
            continue;
        }
        if (cc == CURLE_OK && !http_retryable(http, rq->non_idempotent))
            break;
        if (cc != CURLE_OK && !curl_retryable(cc, rq->non_idempotent))
            break;
        if (attempt >= k->max_attempts)
            break;
        if (cc == CURLE_OK && rs->retry_after_ms >= 0)
            delay = rs->retry_after_ms < k->backoff_max_ms ? rs->retry_after_ms : k->backoff_max_ms;
        if (delay < 0)
            delay = sl_kube_backoff_ms(attempt - 1, k->backoff_base_ms, k->backoff_max_ms,
                                       randombytes_random());
        why = cc == CURLE_OK ? num : curl_easy_strerror(cc);
        snprintf(ms, sizeof(ms), "%lld", (long long)delay);
        sl_log_info("kube request retry", "method", rq->method, "path", logpath, "reason", why,
                    "delay_ms", ms);
        if (nap(k, delay) != 0) {
            sl_error_set(err, SL_ECANCELED, "%s %s: cancelled", rq->method, logpath);
            goto out;
        }
    }
    if (cc != CURLE_OK) {
        sl_error_set(err, cc == CURLE_OPERATION_TIMEDOUT ? SL_ETIMEOUT : SL_EIO,
                     "%s %s%s: %s%s%s (after %d attempt%s)", rq->method, k->cfg->server, logpath,
                     curl_easy_strerror(cc), errbuf[0] != '\0' ? ": " : "", errbuf, attempt,
                     attempt == 1 ? "" : "s");
        goto out;
    }
    {
        size_t len;
        const char *data = sl_kube_resp_data(rs, &len);

        sl_kube_status_fill(st, rs->http, data, len, rq->secret);
    }
    rc = 0;
out:
    sl_kube_status_release(&local);
    return rc;
}
