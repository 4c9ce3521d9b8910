/*
 * kubesim entry point: command line, HTTP(S) server, authentication,
 * fault injection, request accounting, watch streams and the /kubesim/
 * control endpoints. See /work/notes/readme-kubesim.md for usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "kubesim.h"
#include "strparse.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct conn_ctx {
    struct sl_buf body;
    bool too_big;
};

struct server {
    struct ks_state st;
    char *key_pem, *cert_pem, *ca_pem;
    char fail_image[256];
    char basic_user[128], basic_pass[128];
    char readonly_user[256]; /* client-certificate CN that may only read */
};

/* ---- helpers ---------------------------------------------------------- */

static char *read_file_str(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct sl_buf b = SL_BUF_INIT(1 << 20);
    char chunk[4096];
    size_t n;
    struct sl_error err = SL_ERROR_INIT;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (sl_buf_append(&b, chunk, n, &err) != 0) {
            fclose(f);
            sl_buf_release(&b);
            return NULL;
        }
    }
    fclose(f);
    return sl_buf_detach(&b, NULL);
}

static int write_atomic(const char *path, const char *data)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fputs(data, f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- faults ------------------------------------------------------------- */

/*
 * A rule: {"verb","resource","path" (substring), "nth" (fire on the Nth
 * matching request), "every" (every Nth), "rate" (0..1), "times" (max
 * firings, 0 = unlimited), "action": "error"|"delay"|"drop", "code",
 * "retryAfter" (seconds, 429), "delayMs"}. Counters "seen" and "fired".
 */
static int fault_from_spec(const char *spec, json_t **out)
{
    json_t *r = json_object();
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq) {
            json_decref(r);
            return -1;
        }
        *eq = 0;
        const char *k = t, *v = eq + 1;
        if (strcmp(k, "verb") == 0 || strcmp(k, "resource") == 0 || strcmp(k, "path") == 0 ||
            strcmp(k, "action") == 0) {
            json_object_set_new(r, k, json_string(v));
        } else if (strcmp(k, "rate") == 0) {
            json_object_set_new(r, k, json_real(strtod(v, NULL)));
        } else if (strcmp(k, "delay") == 0) {
            int64_t ms;
            if (sl_parse_duration_ms(v, &ms) != 0) {
                json_decref(r);
                return -1;
            }
            json_object_set_new(r, "delayMs", json_integer(ms));
            if (!json_object_get(r, "action"))
                json_object_set_new(r, "action", json_string("delay"));
        } else if (strcmp(k, "nth") == 0 || strcmp(k, "every") == 0 || strcmp(k, "times") == 0 ||
                   strcmp(k, "code") == 0 || strcmp(k, "retry-after") == 0 ||
                   strcmp(k, "retryAfter") == 0) {
            uint64_t n;
            if (sl_parse_u64(v, 1000000000, &n) != 0) {
                json_decref(r);
                return -1;
            }
            json_object_set_new(r, strcmp(k, "retry-after") == 0 ? "retryAfter" : k,
                                json_integer((json_int_t)n));
        } else if (strcmp(k, "drop") == 0) {
            json_object_set_new(r, "action", json_string("drop"));
        } else {
            json_decref(r);
            return -1;
        }
    }
    *out = r;
    return 0;
}

static int fault_normalize(json_t *r)
{
    if (!json_is_object(r))
        return -1;
    const char *action = json_string_value(json_object_get(r, "action"));
    if (!action) {
        action = json_object_get(r, "delayMs") ? "delay" : "error";
        json_object_set_new(r, "action", json_string(action));
    }
    if (strcmp(action, "error") != 0 && strcmp(action, "delay") != 0 && strcmp(action, "drop") != 0)
        return -1;
    if (strcmp(action, "error") == 0 && !json_object_get(r, "code"))
        json_object_set_new(r, "code", json_integer(500));
    json_object_set_new(r, "seen", json_integer(0));
    json_object_set_new(r, "fired", json_integer(0));
    return 0;
}

/* Under the lock: the first rule that fires for this request, or NULL. */
static json_t *fault_check(struct ks_state *st, const struct ks_request *rq)
{
    size_t i;
    json_t *r;
    json_array_foreach(st->faults, i, r)
    {
        const char *verb = json_string_value(json_object_get(r, "verb"));
        const char *res = json_string_value(json_object_get(r, "resource"));
        const char *path = json_string_value(json_object_get(r, "path"));
        if (verb && strcmp(verb, rq->verb) != 0)
            continue;
        if (res && strcmp(res, rq->resource_name) != 0)
            continue;
        if (path && !strstr(rq->path, path))
            continue;
        json_int_t seen = json_integer_value(json_object_get(r, "seen")) + 1;
        json_object_set_new(r, "seen", json_integer(seen));
        json_int_t fired = json_integer_value(json_object_get(r, "fired"));
        json_int_t times = json_integer_value(json_object_get(r, "times"));
        if (times > 0 && fired >= times)
            continue;
        bool fire = false;
        json_int_t nth = json_integer_value(json_object_get(r, "nth"));
        json_int_t every = json_integer_value(json_object_get(r, "every"));
        json_t *rate = json_object_get(r, "rate");
        if (nth > 0)
            fire = seen == nth;
        else if (every > 0)
            fire = seen % every == 0;
        else if (rate) {
            st->rng = st->rng * 1103515245u + 12345u;
            fire = (double)((st->rng >> 8) & 0xffff) / 65536.0 < json_number_value(rate);
        } else
            fire = true;
        if (!fire)
            continue;
        json_object_set_new(r, "fired", json_integer(fired + 1));
        return r;
    }
    return NULL;
}

/* ---- accounting ------------------------------------------------------------ */

static void count_request(struct ks_state *st, const struct ks_request *rq, unsigned code)
{
    char key[256];
    st->nreq++;
    snprintf(key, sizeof key, "%s %s", rq->verb[0] ? rq->verb : rq->method,
             rq->resource_name[0] ? rq->resource_name : "unknown");
    json_int_t n = json_integer_value(json_object_get(st->counts, key));
    json_object_set_new(st->counts, key, json_integer(n + 1));
    json_t *e = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:i}", "seq", (json_int_t)st->nreq, "atMs",
                          (json_int_t)ks_now_ms(), "method", rq->method, "path", rq->path, "verb",
                          rq->verb, "resource", rq->resource_name, "code", (int)code);
    if (rq->q_field_manager)
        json_object_set_new(e, "fieldManager", json_string(rq->q_field_manager));
    if (rq->q_dry_run)
        json_object_set_new(e, "dryRun", json_string(rq->q_dry_run));
    if (rq->q_force)
        json_object_set_new(e, "force", json_string(rq->q_force));
    if (rq->q_label_selector)
        json_object_set_new(e, "labelSelector", json_string(rq->q_label_selector));
    if (rq->q_limit)
        json_object_set_new(e, "limit", json_string(rq->q_limit));
    if (rq->q_continue)
        json_object_set_new(e, "continue", json_string(rq->q_continue));
    if (rq->content_type)
        json_object_set_new(e, "contentType", json_string(rq->content_type));
    if (rq->user)
        json_object_set_new(e, "user", json_string(rq->user));
    json_array_append_new(st->reqlog, e);
    while (json_array_size(st->reqlog) > KS_REQLOG_MAX)
        json_array_remove(st->reqlog, 0);
}

static json_t *requests_report(struct ks_state *st)
{
    json_t *by_verb = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(st->counts, k, v)
    {
        char verb[64];
        const char *sp = strchr(k, ' ');
        snprintf(verb, sizeof verb, "%.*s", sp ? (int)(sp - k) : (int)strlen(k), k);
        json_int_t n = json_integer_value(json_object_get(by_verb, verb));
        json_object_set_new(by_verb, verb, json_integer(n + json_integer_value(v)));
    }
    return json_pack("{s:I,s:o,s:O,s:O}", "total", (json_int_t)st->nreq, "byVerb", by_verb,
                     "counts", st->counts, "log", st->reqlog);
}

/* ---- watch ---------------------------------------------------------------- */

struct watch_ctx {
    struct ks_state *st;
    char prefix[512];
    bool ns_scoped;
    char *label_sel, *field_sel;
    uint64_t last_rv;
    int64_t deadline_ms;
    struct sl_buf out;
    size_t off;
    bool initial_pending;
    bool done;
    bool table, table_object; /* events carry Table objects (kubectl get -w) */
    char group[256], resource[256];
};

static void watch_free(void *cls)
{
    struct watch_ctx *w = cls;
    if (!w)
        return;
    free(w->label_sel);
    free(w->field_sel);
    sl_buf_release(&w->out);
    free(w);
}

static bool watch_key_match(const struct watch_ctx *w, const char *key)
{
    size_t n = strlen(w->prefix);
    if (strncmp(key, w->prefix, n) != 0)
        return false;
    return !w->ns_scoped || key[n] == '/';
}

static void watch_emit(struct watch_ctx *w, const char *type, const json_t *obj)
{
    json_t *ev;
    const struct ks_resource *r =
            w->table ? ks_find_resource(w->st, w->group, NULL, w->resource) : NULL;
    if (r && strcmp(type, "ERROR") != 0) {
        json_t *items = json_pack("[O]", obj);
        ev = json_pack("{s:s,s:o}", "type", type, "object",
                       ks_table(r, items, NULL, w->table_object));
        json_decref(items);
    } else {
        ev = json_pack("{s:s,s:O}", "type", type, "object", obj);
    }
    char *s = json_dumps(ev, JSON_COMPACT);
    struct sl_error err = SL_ERROR_INIT;
    if (s) {
        sl_buf_puts(&w->out, s, &err);
        sl_buf_putc(&w->out, '\n', &err);
    }
    free(s);
    json_decref(ev);
}

static ssize_t watch_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct watch_ctx *w = cls;
    struct ks_state *st = w->st;
    for (;;) {
        if (w->off < w->out.len) {
            size_t n = w->out.len - w->off;
            if (n > max)
                n = max;
            memcpy(buf, w->out.ptr + w->off, n);
            w->off += n;
            if (w->off == w->out.len) {
                sl_buf_reset(&w->out);
                w->off = 0;
            }
            return (ssize_t)n;
        }
        if (w->done || st->stop || stop_flag)
            return MHD_CONTENT_READER_END_OF_STREAM;
        pthread_mutex_lock(&st->mu);
        if (w->initial_pending) {
            w->initial_pending = false;
            const char *k;
            json_t *v;
            json_object_foreach(st->objects, k, v)
            {
                if (watch_key_match(w, k) && ks_selector_match(v, w->label_sel, w->field_sel))
                    watch_emit(w, "ADDED", v);
            }
            w->last_rv = st->rv;
        }
        size_t i;
        json_t *ev;
        json_t *first = json_array_get(st->events, 0);
        if (first && w->last_rv + 1 < (uint64_t)json_integer_value(json_object_get(first, "rv")) &&
            json_array_size(st->events) >= KS_EVENTS_MAX) {
            json_t *stj = ks_status(410, "Expired", "too old resource version");
            watch_emit(w, "ERROR", stj);
            json_decref(stj);
            w->done = true;
        }
        json_array_foreach(st->events, i, ev)
        {
            uint64_t rv = (uint64_t)json_integer_value(json_object_get(ev, "rv"));
            if (rv <= w->last_rv || w->done)
                continue;
            w->last_rv = rv;
            const char *key = json_string_value(json_object_get(ev, "key"));
            json_t *obj = json_object_get(ev, "object");
            if (watch_key_match(w, key) && ks_selector_match(obj, w->label_sel, w->field_sel))
                watch_emit(w, json_string_value(json_object_get(ev, "type")), obj);
        }
        if (w->out.len == 0 && !w->done) {
            int64_t now = ks_now_ms();
            if (now >= w->deadline_ms) {
                w->done = true;
            } else {
                int64_t until = now + 500 < w->deadline_ms ? now + 500 : w->deadline_ms;
                struct timespec ts = {until / 1000, (long)(until % 1000) * 1000000L};
                pthread_cond_timedwait(&st->changed, &st->mu, &ts);
            }
        }
        pthread_mutex_unlock(&st->mu);
    }
}

/* ---- authentication -------------------------------------------------------- */

static bool client_cert_user(struct MHD_Connection *conn, char *user, size_t len)
{
    const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return false;
    gnutls_session_t sess = (gnutls_session_t)ci->tls_session;
    unsigned status = 0;
    if (gnutls_certificate_verify_peers2(sess, &status) != GNUTLS_E_SUCCESS || status != 0)
        return false;
    unsigned n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(sess, &n);
    if (!certs || n == 0)
        return false;
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS)
        return false;
    bool ok = false;
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == GNUTLS_E_SUCCESS) {
        size_t sz = len;
        if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, user, &sz) ==
            GNUTLS_E_SUCCESS)
            ok = true;
        else
            ok = snprintf(user, len, "client-cert") > 0;
    }
    gnutls_x509_crt_deinit(crt);
    return ok;
}

static bool token_in(const json_t *list, const char *t)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *s = json_string_value(v);
        if (s && strcmp(s, t) == 0)
            return true;
    }
    return false;
}

/* 0 = authenticated (user filled), 401 otherwise. Called with the state lock held. */
static unsigned authenticate(struct server *srv, struct MHD_Connection *conn, struct ks_request *rq,
                             char *user, size_t ulen)
{
    struct ks_state *st = &srv->st;
    bool have_tokens = json_array_size(st->tokens) + json_array_size(st->ro_tokens) > 0;
    bool any = have_tokens || srv->ca_pem || srv->basic_user[0];
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (auth && strncmp(auth, "Bearer ", 7) == 0) {
        const char *t = auth + 7;
        bool rw = token_in(st->tokens, t), ro = token_in(st->ro_tokens, t);
        if (rw) {
            snprintf(user, ulen, "token-user");
            return 0;
        }
        if (ro) {
            snprintf(user, ulen, "readonly-user");
            rq->readonly = true;
            return 0;
        }
        return 401;
    }
    if (auth && strncmp(auth, "Basic ", 6) == 0 && srv->basic_user[0]) {
        char *pass = NULL;
        char *u = MHD_basic_auth_get_username_password(conn, &pass);
        bool ok =
                u && pass && strcmp(u, srv->basic_user) == 0 && strcmp(pass, srv->basic_pass) == 0;
        if (ok)
            snprintf(user, ulen, "%s", u);
        MHD_free(u);
        MHD_free(pass);
        return ok ? 0 : 401;
    }
    if (auth)
        return 401;
    if (srv->ca_pem && client_cert_user(conn, user, ulen)) {
        if (srv->readonly_user[0] && strcmp(user, srv->readonly_user) == 0)
            rq->readonly = true;
        return 0;
    }
    if (!any) {
        snprintf(user, ulen, "system:anonymous");
        return 0;
    }
    return 401;
}

/* ---- control endpoints ------------------------------------------------------ */

static void control(struct server *srv, struct ks_request *rq, struct ks_reply *out)
{
    struct ks_state *st = &srv->st;
    const char *p = rq->path + strlen("/kubesim");
    const char *m = rq->method;
    out->code = 200;
    if (strcmp(p, "/requests") == 0) {
        if (strcmp(m, "DELETE") == 0) {
            json_object_clear(st->counts);
            json_array_clear(st->reqlog);
            st->nreq = 0;
        }
        out->body = requests_report(st);
        return;
    }
    if (strcmp(p, "/faults") == 0) {
        if (strcmp(m, "DELETE") == 0) {
            json_array_clear(st->faults);
        } else if (strcmp(m, "POST") == 0) {
            json_error_t je;
            json_t *b = json_loadb(rq->body, rq->body_len, 0, &je);
            if (!b) {
                ks_reply_status(out, 400, "BadRequest", "invalid JSON at line %d: %s", je.line,
                                je.text);
                return;
            }
            json_t *list = json_is_object(b) && json_object_get(b, "faults")
                                   ? json_incref(json_object_get(b, "faults"))
                                   : (json_is_array(b) ? json_incref(b) : json_pack("[O]", b));
            json_decref(b);
            size_t i;
            json_t *r;
            json_array_foreach(list, i, r)
            {
                if (fault_normalize(r) != 0) {
                    json_decref(list);
                    ks_reply_status(out, 400, "BadRequest",
                                    "invalid fault rule %zu (action error|delay|drop)", i);
                    return;
                }
            }
            json_array_extend(st->faults, list);
            json_decref(list);
        }
        out->body = json_pack("{s:O}", "faults", st->faults);
        return;
    }
    if (strcmp(p, "/objects") == 0) {
        json_t *items = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(st->objects, k, v) json_array_append(items, v);
        out->body = json_pack("{s:I,s:o}", "resourceVersion", (json_int_t)st->rv, "items", items);
        return;
    }
    if (strcmp(p, "/config") == 0) {
        if (strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0) {
            json_t *b = json_loadb(rq->body, rq->body_len, 0, NULL);
            json_t *v;
            if ((v = json_object_get(b, "readyDelayMs")) && json_is_integer(v))
                st->opt.ready_delay_ms = json_integer_value(v);
            if ((v = json_object_get(b, "failAfterMs")) && json_is_integer(v))
                st->opt.fail_after_ms = json_integer_value(v);
            if ((v = json_object_get(b, "tokens")) && json_is_array(v)) {
                json_array_clear(st->tokens);
                json_array_extend(st->tokens, v);
            }
            if ((v = json_object_get(b, "readonlyTokens")) && json_is_array(v)) {
                json_array_clear(st->ro_tokens);
                json_array_extend(st->ro_tokens, v);
            }
            if ((v = json_object_get(b, "failImage")) && json_is_string(v)) {
                snprintf(srv->fail_image, sizeof srv->fail_image, "%s", json_string_value(v));
                st->opt.fail_image = srv->fail_image;
            }
            json_decref(b);
        }
        out->body = json_pack("{s:I,s:I,s:s,s:i,s:I}", "readyDelayMs",
                              (json_int_t)st->opt.ready_delay_ms, "failAfterMs",
                              (json_int_t)st->opt.fail_after_ms, "failImage",
                              st->opt.fail_image ? st->opt.fail_image : "", "nodes", st->opt.nodes,
                              "resourceVersion", (json_int_t)st->rv);
        return;
    }
    ks_reply_status(out, 404, "NotFound", "unknown control endpoint %s", rq->path);
}

/* ---- request dispatch -------------------------------------------------------- */

/*
 * Serialise the reply body now, under the state lock: replies share values with the
 * store (no deep copy of every object read or written), and the store may change as
 * soon as the lock is released.
 */
static void serialise_reply(struct ks_reply *rep)
{
    if (rep->raw || !rep->body)
        return;
    rep->raw = json_dumps(rep->body, JSON_COMPACT | JSON_ENCODE_ANY);
    rep->raw_len = 0;
    if (rep->raw) {
        json_decref(rep->body);
        rep->body = NULL;
    }
}

/* One request under the state lock (held by the caller): answer, count, serialise. */
static void handle_locked(struct ks_state *st, struct ks_request *rq, struct ks_reply *rep)
{
    bool handled = false;

    ks_handle_discovery(st, rq, rep, &handled);
    if (!handled)
        ks_handle_api(st, rq, rep);
    count_request(st, rq, rep->code);
    serialise_reply(rep);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct ks_reply *rep)
{
    char *s;
    size_t len;
    if (rep->raw) {
        s = rep->raw;
        rep->raw = NULL;
        len = rep->raw_len ? rep->raw_len : strlen(s);
    } else {
        s = json_dumps(rep->body ? rep->body : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
        len = s ? strlen(s) : 0;
    }
    if (!s)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, s, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            rep->content_type ? rep->content_type : "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-cache, private");
    if (rep->warning[0])
        MHD_add_response_header(resp, "Warning", rep->warning);
    if (rep->retry_after[0])
        MHD_add_response_header(resp, "Retry-After", rep->retry_after);
    enum MHD_Result r = MHD_queue_response(conn, rep->code ? rep->code : 500, resp);
    MHD_destroy_response(resp);
    return r;
}

static const char *qarg(struct MHD_Connection *c, const char *k)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

static enum MHD_Result start_watch(struct server *srv, struct MHD_Connection *conn,
                                   struct ks_request *rq)
{
    struct ks_state *st = &srv->st;
    struct watch_ctx *w = calloc(1, sizeof *w);
    if (!w)
        return MHD_NO;
    w->st = st;
    sl_buf_init(&w->out, (size_t)64 << 20);
    /* prefix from the resource path: reuse the classifier's result */
    const char *ns = rq->resource_name[0] ? NULL : NULL;
    (void)ns;
    if (ks_watch_prefix(st, rq->path, w->prefix, sizeof w->prefix, &w->ns_scoped) != 0) {
        watch_free(w);
        struct ks_reply rep = {0};
        ks_reply_status(&rep, 404, "NotFound", "the server could not find the requested resource");
        enum MHD_Result r = send_reply(conn, &rep);
        json_decref(rep.body);
        return r;
    }
    const char *slash = strchr(w->prefix, '/');
    if (slash) {
        snprintf(w->group, sizeof w->group, "%.*s", (int)(slash - w->prefix), w->prefix);
        snprintf(w->resource, sizeof w->resource, "%.*s", (int)strcspn(slash + 1, "/"), slash + 1);
    }
    w->table = ks_wants_table(rq->accept);
    w->table_object = rq->q_include_object && strcmp(rq->q_include_object, "Object") == 0;
    w->label_sel = rq->q_label_selector ? strdup(rq->q_label_selector) : NULL;
    w->field_sel = rq->q_field_selector ? strdup(rq->q_field_selector) : NULL;
    int64_t timeout_s = 1800;
    if (rq->q_timeout_seconds)
        timeout_s = strtol(rq->q_timeout_seconds, NULL, 10);
    w->deadline_ms = ks_now_ms() + timeout_s * 1000;
    const char *rv = rq->q_resource_version;
    if (!rv || !*rv || strcmp(rv, "0") == 0) {
        w->initial_pending = true;
    } else {
        w->last_rv = strtoull(rv, NULL, 10);
    }
    struct MHD_Response *resp =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 8192, watch_reader, w, watch_free);
    if (!resp) {
        watch_free(w);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            w->table ? "application/json;as=Table;v=v1;g=meta.k8s.io"
                                     : "application/json");
    enum MHD_Result r = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    struct server *srv = cls;
    struct ks_state *st = &srv->st;
    struct conn_ctx *cc = *con_cls;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        if (!cc)
            return MHD_NO;
        sl_buf_init(&cc->body, KS_BODY_MAX);
        *con_cls = cc;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        struct sl_error err = SL_ERROR_INIT;
        if (!cc->too_big && sl_buf_append(&cc->body, upload, *upload_size, &err) != 0)
            cc->too_big = true;
        *upload_size = 0;
        return MHD_YES;
    }

    struct ks_request rq;
    memset(&rq, 0, sizeof rq);
    rq.method = method;
    rq.path = url;
    rq.accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
    rq.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    rq.user_agent = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "User-Agent");
    rq.body = cc->body.ptr;
    rq.body_len = cc->body.len;
    rq.q_field_manager = qarg(conn, "fieldManager");
    rq.q_force = qarg(conn, "force");
    rq.q_dry_run = qarg(conn, "dryRun");
    rq.q_label_selector = qarg(conn, "labelSelector");
    rq.q_field_selector = qarg(conn, "fieldSelector");
    rq.q_limit = qarg(conn, "limit");
    rq.q_continue = qarg(conn, "continue");
    rq.q_watch = qarg(conn, "watch");
    rq.q_resource_version = qarg(conn, "resourceVersion");
    rq.q_timeout_seconds = qarg(conn, "timeoutSeconds");
    rq.q_propagation = qarg(conn, "propagationPolicy");
    rq.q_field_validation = qarg(conn, "fieldValidation");
    rq.q_include_object = qarg(conn, "includeObject");

    struct ks_reply rep;
    memset(&rep, 0, sizeof rep);
    char user[256] = "";
    enum MHD_Result result;

    ks_preparse_body(&rq); /* outside the lock: the one piece of work that needs no state */
    /*
     * One hold of the state lock for the common request: authenticate, classify, handle,
     * count, serialise (every extra hold is a futex round trip under load).
     */
    pthread_mutex_lock(&st->mu);
    unsigned acode = authenticate(srv, conn, &rq, user, sizeof user);
    /* As with the real server's anonymous access: /version and the health
     * checks are public (the kubectl dispatcher asks /version first). */
    bool public_path = strcmp(url, "/version") == 0 || strcmp(url, "/healthz") == 0 ||
                       strcmp(url, "/livez") == 0 || strcmp(url, "/readyz") == 0;
    if (acode && public_path &&
        !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization")) {
        acode = 0;
        snprintf(user, sizeof user, "system:anonymous");
    }
    if (acode) {
        pthread_mutex_unlock(&st->mu);
        ks_reply_status(&rep, 401, "Unauthorized", "Unauthorized");
        goto send;
    }
    rq.user = user;
    if (cc->too_big) {
        pthread_mutex_unlock(&st->mu);
        ks_reply_status(&rep, 413, "RequestEntityTooLarge",
                        "request entity too large: limit is "
                        "3145728");
        goto send;
    }
    if (strncmp(url, "/kubesim/", 9) == 0) {
        control(srv, &rq, &rep);
        serialise_reply(&rep);
        pthread_mutex_unlock(&st->mu);
        goto send;
    }

    ks_classify(st, &rq);
    json_t *fault = fault_check(st, &rq);
    if (!fault && strcmp(rq.verb, "watch") != 0) {
        handle_locked(st, &rq, &rep);
        pthread_mutex_unlock(&st->mu);
        goto send;
    }
    json_t *fcopy = fault ? json_deep_copy(fault) : NULL;
    pthread_mutex_unlock(&st->mu);
    if (fcopy) {
        const char *action = json_string_value(json_object_get(fcopy, "action"));
        if (strcmp(action, "drop") == 0) {
            json_decref(fcopy);
            pthread_mutex_lock(&st->mu);
            count_request(st, &rq, 0);
            pthread_mutex_unlock(&st->mu);
            if (st->opt.verbose)
                fprintf(stderr, "kubesim: %s %s -> dropped (fault)\n", method, url);
            json_decref(rq.json_body);
            return MHD_NO;
        }
        if (strcmp(action, "delay") == 0) {
            int64_t ms = json_integer_value(json_object_get(fcopy, "delayMs"));
            struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        } else {
            unsigned code = (unsigned)json_integer_value(json_object_get(fcopy, "code"));
            const char *reason = code == 429   ? "TooManyRequests"
                                 : code == 503 ? "ServiceUnavailable"
                                 : code == 504 ? "Timeout"
                                               : "InternalError";
            ks_reply_status(&rep, code, reason, "kubesim injected fault: %u", code);
            if (code == 429) {
                json_int_t ra = json_integer_value(json_object_get(fcopy, "retryAfter"));
                snprintf(rep.retry_after, sizeof rep.retry_after, "%lld",
                         (long long)(ra > 0 ? ra : 1));
                json_object_set_new(rep.body, "details",
                                    json_pack("{s:I}", "retryAfterSeconds", ra > 0 ? ra : 1));
            }
            json_decref(fcopy);
            pthread_mutex_lock(&st->mu);
            count_request(st, &rq, code);
            pthread_mutex_unlock(&st->mu);
            goto send;
        }
        json_decref(fcopy);
    }

    if (strcmp(rq.verb, "watch") == 0) {
        pthread_mutex_lock(&st->mu);
        count_request(st, &rq, 200);
        pthread_mutex_unlock(&st->mu);
        if (st->opt.verbose)
            fprintf(stderr, "kubesim: %s %s -> watch\n", method, url);
        json_decref(rq.json_body);
        rq.json_body = NULL;
        return start_watch(srv, conn, &rq);
    }

    pthread_mutex_lock(&st->mu); /* after a delay fault */
    handle_locked(st, &rq, &rep);
    pthread_mutex_unlock(&st->mu);

send:
    if (st->opt.verbose)
        fprintf(stderr, "kubesim: %s %s [%s] [%s] -> %u\n", method, url,
                rq.content_type ? rq.content_type : "", rq.accept ? rq.accept : "", rep.code);
    result = send_reply(conn, &rep);
    json_decref(rq.json_body);
    json_decref(rep.body);
    free(rep.raw);
    return result;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct conn_ctx *cc = *con_cls;
    if (cc) {
        sl_buf_release(&cc->body);
        free(cc);
    }
    *con_cls = NULL;
}

/* ---- kubeconfig ------------------------------------------------------------------ */

static int write_kubeconfig(struct server *srv, const char *path, const char *url)
{
    const struct ks_options *o = &srv->st.opt;
    struct sl_buf b = SL_BUF_INIT(1 << 20);
    struct sl_error err = SL_ERROR_INIT;
    int rc = -1;
    char *ca = NULL, *ccert = NULL, *ckey = NULL, *ca64 = NULL, *cc64 = NULL, *ck64 = NULL;
    sl_buf_printf(&b, &err,
                  "apiVersion: v1\nkind: Config\nclusters:\n- name: kubesim\n  cluster:\n"
                  "    server: %s\n",
                  url);
    if (o->tls_cert) {
        ca = read_file_str(o->ca_out ? o->ca_out : o->tls_cert);
        if (!ca)
            goto out;
        ca64 = ks_base64(ca, strlen(ca));
        sl_buf_printf(&b, &err, "    certificate-authority-data: %s\n", ca64);
    }
    sl_buf_printf(&b, &err,
                  "contexts:\n- name: kubesim\n  context:\n    cluster: kubesim\n"
                  "    user: kubesim\n    namespace: default\ncurrent-context: kubesim\n"
                  "preferences: {}\nusers:\n- name: kubesim\n  user:\n");
    if (o->kc_client_cert && o->kc_client_key) {
        ccert = read_file_str(o->kc_client_cert);
        ckey = read_file_str(o->kc_client_key);
        if (!ccert || !ckey)
            goto out;
        cc64 = ks_base64(ccert, strlen(ccert));
        ck64 = ks_base64(ckey, strlen(ckey));
        sl_buf_printf(&b, &err, "    client-certificate-data: %s\n    client-key-data: %s\n", cc64,
                      ck64);
    } else if (o->token) {
        sl_buf_printf(&b, &err, "    token: %s\n", o->token);
    } else if (srv->basic_user[0]) {
        sl_buf_printf(&b, &err, "    username: %s\n    password: %s\n", srv->basic_user,
                      srv->basic_pass);
    } else {
        sl_buf_printf(&b, &err, "    {}\n");
    }
    if (err.code != SL_OK)
        goto out;
    rc = write_atomic(path, b.ptr);
out:
    free(ca);
    free(ccert);
    free(ckey);
    free(ca64);
    free(cc64);
    free(ck64);
    sl_buf_release(&b);
    return rc;
}

/* ---- main -------------------------------------------------------------------------- */

static const char usage[] =
        "usage: kubesim [options]\n"
        "  --listen HOST:PORT      address (default 127.0.0.1:0, port 0 = any free port)\n"
        "  --port-file FILE        write the chosen port to FILE once listening\n"
        "  --tls-cert FILE --tls-key FILE   serve HTTPS (PEM)\n"
        "  --client-ca FILE        accept client certificates signed by this CA\n"
        "  --token TOKEN           accept this bearer token (repeatable)\n"
        "  --readonly-token TOKEN  bearer token that may read but not write (403; repeatable)\n"
        "  --basic-auth USER:PASS  accept HTTP basic authentication\n"
        "  --readonly-user CN      client certificate CN that may read but not write (403)\n"
        "  --kubeconfig-out FILE   write a kubeconfig for this server\n"
        "  --kubeconfig-ca FILE    CA to put in it (default: the --tls-cert itself)\n"
        "  --kubeconfig-client-cert FILE --kubeconfig-client-key FILE  client cert for it\n"
        "  --ready-delay DUR       workloads become ready after DUR (default 1s)\n"
        "  --fail-image PATTERN    pod images containing PATTERN never become ready\n"
        "  --fail-after DUR        when such a Deployment reports ProgressDeadlineExceeded\n"
        "                          (default: the ready delay)\n"
        "  --nodes N               nodes a DaemonSet is scheduled to (default 1)\n"
        "  --pods                  Deployments get ReplicaSets and Pods (kubectl get pods)\n"
        "  --fault SPEC            inject a fault, e.g. verb=list,nth=2,code=500 (repeatable)\n"
        "  --seed N                seed for rate-based faults\n"
        "  --verbose               log every request to stderr\n"
        "No authentication option means anonymous access (plain loopback use only).\n";

int main(int argc, char **argv)
{
    struct server srv;
    memset(&srv, 0, sizeof srv);
    struct ks_options *o = &srv.st.opt;
    int rc = 1;
    struct MHD_Daemon *d = NULL;
    pthread_t sim;
    bool sim_started = false;
    json_t *cli_faults = json_array();
    json_t *cli_tokens = json_array(), *cli_ro_tokens = json_array();
    o->listen = "127.0.0.1:0";
    o->ready_delay_ms = 1000;
    /*
     * Every connection has its own thread, so most allocations come from glibc's per-thread
     * arenas, which give memory back (mprotect) as soon as a request's objects are freed
     * and take it again for the next request: a tenth of the server's time went there.
     */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    o->fail_after_ms = -1;
    o->nodes = 1;
    o->seed = 1;
    enum {
        O_LISTEN = 1000,
        O_PORTFILE,
        O_CERT,
        O_KEY,
        O_CLIENTCA,
        O_TOKEN,
        O_ROTOKEN,
        O_BASIC,
        O_ROUSER,
        O_KCOUT,
        O_KCCA,
        O_KCCERT,
        O_KCKEY,
        O_READY,
        O_FAILIMG,
        O_FAILAFTER,
        O_NODES,
        O_FAULT,
        O_SEED,
        O_VERBOSE,
        O_PODS,
        O_HELP
    };
    static const struct option lopts[] = {
            {"listen", required_argument, NULL, O_LISTEN},
            {"port-file", required_argument, NULL, O_PORTFILE},
            {"tls-cert", required_argument, NULL, O_CERT},
            {"tls-key", required_argument, NULL, O_KEY},
            {"client-ca", required_argument, NULL, O_CLIENTCA},
            {"token", required_argument, NULL, O_TOKEN},
            {"readonly-token", required_argument, NULL, O_ROTOKEN},
            {"basic-auth", required_argument, NULL, O_BASIC},
            {"readonly-user", required_argument, NULL, O_ROUSER},
            {"kubeconfig-out", required_argument, NULL, O_KCOUT},
            {"kubeconfig-ca", required_argument, NULL, O_KCCA},
            {"kubeconfig-client-cert", required_argument, NULL, O_KCCERT},
            {"kubeconfig-client-key", required_argument, NULL, O_KCKEY},
            {"ready-delay", required_argument, NULL, O_READY},
            {"fail-image", required_argument, NULL, O_FAILIMG},
            {"fail-after", required_argument, NULL, O_FAILAFTER},
            {"nodes", required_argument, NULL, O_NODES},
            {"fault", required_argument, NULL, O_FAULT},
            {"seed", required_argument, NULL, O_SEED},
            {"verbose", no_argument, NULL, O_VERBOSE},
            {"pods", no_argument, NULL, O_PODS},
            {"help", no_argument, NULL, O_HELP},
            {NULL, 0, NULL, 0},
    };
    int c;
    uint64_t u;
    while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            o->listen = optarg;
            break;
        case O_PORTFILE:
            o->port_file = optarg;
            break;
        case O_CERT:
            o->tls_cert = optarg;
            break;
        case O_KEY:
            o->tls_key = optarg;
            break;
        case O_CLIENTCA:
            o->client_ca = optarg;
            break;
        case O_TOKEN:
            if (!o->token)
                o->token = optarg;
            json_array_append_new(cli_tokens, json_string(optarg));
            break;
        case O_ROTOKEN:
            json_array_append_new(cli_ro_tokens, json_string(optarg));
            break;
        case O_ROUSER:
            snprintf(srv.readonly_user, sizeof srv.readonly_user, "%s", optarg);
            break;
        case O_BASIC: {
            const char *colon = strchr(optarg, ':');
            if (!colon) {
                fprintf(stderr, "kubesim: --basic-auth wants USER:PASS\n");
                goto out;
            }
            snprintf(srv.basic_user, sizeof srv.basic_user, "%.*s", (int)(colon - optarg), optarg);
            snprintf(srv.basic_pass, sizeof srv.basic_pass, "%s", colon + 1);
            break;
        }
        case O_KCOUT:
            o->kubeconfig_out = optarg;
            break;
        case O_KCCA:
            o->ca_out = optarg;
            break;
        case O_KCCERT:
            o->kc_client_cert = optarg;
            break;
        case O_KCKEY:
            o->kc_client_key = optarg;
            break;
        case O_READY:
            if (sl_parse_duration_ms(optarg, &o->ready_delay_ms) != 0 || o->ready_delay_ms < 0) {
                fprintf(stderr, "kubesim: bad --ready-delay %s\n", optarg);
                goto out;
            }
            break;
        case O_FAILAFTER:
            if (sl_parse_duration_ms(optarg, &o->fail_after_ms) != 0 || o->fail_after_ms < 0) {
                fprintf(stderr, "kubesim: bad --fail-after %s\n", optarg);
                goto out;
            }
            break;
        case O_FAILIMG:
            snprintf(srv.fail_image, sizeof srv.fail_image, "%s", optarg);
            o->fail_image = srv.fail_image;
            break;
        case O_NODES:
            if (sl_parse_u64(optarg, 1000, &u) != 0) {
                fprintf(stderr, "kubesim: bad --nodes %s\n", optarg);
                goto out;
            }
            o->nodes = (int)u;
            break;
        case O_SEED:
            if (sl_parse_u64(optarg, UINT32_MAX, &u) != 0) {
                fprintf(stderr, "kubesim: bad --seed %s\n", optarg);
                goto out;
            }
            o->seed = (uint32_t)u;
            break;
        case O_FAULT: {
            json_t *f = NULL;
            if (fault_from_spec(optarg, &f) != 0 || fault_normalize(f) != 0) {
                json_decref(f);
                fprintf(stderr, "kubesim: bad --fault %s\n", optarg);
                goto out;
            }
            json_array_append_new(cli_faults, f);
            break;
        }
        case O_PODS:
            o->pods = true;
            break;
        case O_VERBOSE:
            o->verbose = true;
            break;
        case O_HELP:
            fputs(usage, stdout);
            rc = 0;
            goto out;
        default:
            fputs(usage, stderr);
            goto out;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        goto out;
    }
    if (o->fail_after_ms < 0)
        o->fail_after_ms = o->ready_delay_ms;
    if (!!o->tls_cert != !!o->tls_key) {
        fprintf(stderr, "kubesim: --tls-cert and --tls-key go together\n");
        goto out;
    }
    if (o->client_ca && !o->tls_cert) {
        fprintf(stderr, "kubesim: --client-ca needs --tls-cert/--tls-key\n");
        goto out;
    }

    char host[64];
    unsigned port = 0;
    const char *colon = strrchr(o->listen, ':');
    if (!colon || (size_t)(colon - o->listen) >= sizeof host ||
        sl_parse_u64(colon + 1, 65535, &u) != 0) {
        fprintf(stderr, "kubesim: bad --listen %s (want HOST:PORT)\n", o->listen);
        goto out;
    }
    port = (unsigned)u;
    snprintf(host, sizeof host, "%.*s", (int)(colon - o->listen), o->listen);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        fprintf(stderr, "kubesim: --listen wants an IPv4 address, got %s\n", host);
        goto out;
    }

    if (ks_state_init(&srv.st) != 0) {
        fprintf(stderr, "kubesim: out of memory\n");
        goto out;
    }
    srv.st.rng = o->seed;
    json_array_extend(srv.st.faults, cli_faults);
    json_array_extend(srv.st.tokens, cli_tokens);
    json_array_extend(srv.st.ro_tokens, cli_ro_tokens);

    unsigned flags =
            MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem opts[8];
    size_t no = 0;
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &sin};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, NULL};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, 120, NULL};
    if (o->tls_cert) {
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
            fprintf(stderr, "kubesim: libmicrohttpd was built without TLS\n");
            goto out;
        }
        srv.cert_pem = read_file_str(o->tls_cert);
        srv.key_pem = read_file_str(o->tls_key);
        if (!srv.cert_pem || !srv.key_pem) {
            fprintf(stderr, "kubesim: cannot read %s or %s\n", o->tls_cert, o->tls_key);
            goto out;
        }
        flags |= MHD_USE_TLS;
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, srv.cert_pem};
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, srv.key_pem};
        if (o->client_ca) {
            srv.ca_pem = read_file_str(o->client_ca);
            if (!srv.ca_pem) {
                fprintf(stderr, "kubesim: cannot read %s\n", o->client_ca);
                goto out;
            }
            opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, srv.ca_pem};
        }
    }
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    d = MHD_start_daemon(flags, 0, NULL, NULL, handler, &srv, MHD_OPTION_ARRAY, opts,
                         MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "kubesim: cannot listen on %s: %s\n", o->listen, strerror(errno));
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = di ? di->port : port;
    char listen_addr[96], url[128];
    snprintf(listen_addr, sizeof listen_addr, "%s:%u", host, bound);
    o->listen = listen_addr;
    snprintf(url, sizeof url, "%s://%s", o->tls_cert ? "https" : "http", listen_addr);

    if (pthread_create(&sim, NULL, ks_sim_thread, &srv.st) != 0) {
        fprintf(stderr, "kubesim: cannot start the simulator thread\n");
        goto out;
    }
    sim_started = true;
    if (o->kubeconfig_out && write_kubeconfig(&srv, o->kubeconfig_out, url) != 0) {
        fprintf(stderr, "kubesim: cannot write kubeconfig %s\n", o->kubeconfig_out);
        goto out;
    }
    if (o->port_file) {
        char pb[16];
        snprintf(pb, sizeof pb, "%u\n", bound);
        if (write_atomic(o->port_file, pb) != 0) {
            fprintf(stderr, "kubesim: cannot write %s\n", o->port_file);
            goto out;
        }
    }
    fprintf(stderr, "kubesim: serving %s\n", url);
    while (!stop_flag) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    rc = 0;
out:
    srv.st.stop = 1;
    if (sim_started) {
        pthread_mutex_lock(&srv.st.mu);
        pthread_cond_broadcast(&srv.st.changed);
        pthread_cond_broadcast(&srv.st.sim_wake);
        pthread_mutex_unlock(&srv.st.mu);
    }
    if (d)
        MHD_stop_daemon(d);
    if (sim_started)
        pthread_join(sim, NULL);
    if (srv.st.res)
        ks_state_free(&srv.st);
    json_decref(cli_faults);
    json_decref(cli_tokens);
    json_decref(cli_ro_tokens);
    free(srv.cert_pem);
    free(srv.key_pem);
    free(srv.ca_pem);
    return rc;
}
