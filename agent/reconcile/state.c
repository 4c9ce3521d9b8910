#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"

#define STATE_FORMAT 1

static char *xstrdup(const char *s, struct sl_error *err)
{
    char *p;

    if (s == NULL)
        return NULL;
    p = strdup(s);
    if (p == NULL)
        sl_error_set(err, SL_ENOMEM, "out of memory");
    return p;
}

/* Copy src into *dst (NULL stays NULL); -1 only when allocation fails. */
static int dup_field(char **dst, const char *src, struct sl_error *err)
{
    *dst = NULL;
    if (src == NULL)
        return 0;
    *dst = xstrdup(src, err);
    return *dst == NULL ? -1 : 0;
}

static int replace_str(char **dst, const char *src, struct sl_error *err)
{
    char *p = NULL;

    if (dup_field(&p, src, err) != 0)
        return -1;
    free(*dst);
    *dst = p;
    return 0;
}

void sl_ref_release(struct sl_ref *r)
{
    if (r == NULL)
        return;
    free(r->group);
    free(r->version);
    free(r->kind);
    free(r->ns);
    free(r->name);
    free(r->digest);
    memset(r, 0, sizeof(*r));
}

void sl_inventory_release(struct sl_inventory *inv)
{
    if (inv == NULL)
        return;
    for (size_t i = 0; i < inv->n; i++)
        sl_ref_release(&inv->items[i]);
    free(inv->items);
    free(inv->index);
    memset(inv, 0, sizeof(*inv));
}

static void history_release(struct sl_history_entry *h)
{
    free(h->revision);
    free(h->digest);
    free(h->message);
    memset(h, 0, sizeof(*h));
}

static void bad_release(struct sl_bad_rev *b)
{
    free(b->revision);
    free(b->reason);
    memset(b, 0, sizeof(*b));
}

void sl_state_free(struct sl_state *st)
{
    if (st == NULL)
        return;
    free(st->env);
    free(st->last_good_revision);
    free(st->last_good_digest);
    free(st->applied_revision);
    sl_inventory_release(&st->inventory);
    for (size_t i = 0; i < st->nbad; i++)
        bad_release(&st->bad[i]);
    free(st->bad);
    for (size_t i = 0; i < st->nhistory; i++)
        history_release(&st->history[i]);
    free(st->history);
    free(st->last_health);
    free(st->last_message);
    free(st);
}

void sl_control_release(struct sl_control *c)
{
    if (c == NULL)
        return;
    free(c->pin_revision);
    free(c->pin_source_revision);
    memset(c, 0, sizeof(*c));
}

struct sl_state *sl_state_new(const char *env, struct sl_error *err)
{
    struct sl_state *st = calloc(1, sizeof(*st));

    if (st == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        return NULL;
    }
    st->env = xstrdup(env, err);
    if (st->env == NULL) {
        free(st);
        return NULL;
    }
    return st;
}

static bool same_id(const struct sl_ref *r, const char *group, const char *kind, const char *ns,
                    const char *name)
{
    return strcmp(r->group, group) == 0 && strcmp(r->kind, kind) == 0 && strcmp(r->ns, ns) == 0 &&
           strcmp(r->name, name) == 0;
}

/* Below this many entries a scan is as fast as the index. */
#define INDEX_MIN 32

static uint64_t id_hash(const char *group, const char *kind, const char *ns, const char *name)
{
    const char *parts[4] = {group, kind, ns, name};
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (size_t p = 0; p < 4; p++) {
        for (const unsigned char *c = (const unsigned char *)parts[p]; *c != '\0'; c++)
            h = (h ^ *c) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull; /* separator: ("ab","c") != ("a","bc") */
    }
    return h;
}

static void index_put(struct sl_inventory *inv, size_t i)
{
    const struct sl_ref *r = &inv->items[i];
    size_t mask = inv->index_cap - 1;
    size_t at = (size_t)id_hash(r->group, r->kind, r->ns, r->name) & mask;

    while (inv->index[at] != 0)
        at = (at + 1) & mask;
    inv->index[at] = i + 1;
}

/* Keep the index at most half full; on failure drop it (find falls back to a scan). */
static void index_grow(struct sl_inventory *inv)
{
    size_t ncap = inv->index_cap ? inv->index_cap : 64, *p;

    if (inv->n < INDEX_MIN || (inv->index != NULL && (inv->n + 1) * 2 <= inv->index_cap))
        return;
    while ((inv->n + 1) * 2 > ncap)
        ncap *= 2;
    p = calloc(ncap, sizeof(*p));
    free(inv->index);
    inv->index = p;
    inv->index_cap = p != NULL ? ncap : 0;
    for (size_t i = 0; p != NULL && i < inv->n; i++)
        index_put(inv, i);
}

long sl_inventory_find(const struct sl_inventory *inv, const char *group, const char *kind,
                       const char *ns, const char *name)
{
    group = group ? group : "";
    ns = ns ? ns : "";
    if (inv->index != NULL) {
        size_t mask = inv->index_cap - 1;
        size_t at = (size_t)id_hash(group, kind, ns, name) & mask;

        for (; inv->index[at] != 0; at = (at + 1) & mask)
            if (same_id(&inv->items[inv->index[at] - 1], group, kind, ns, name))
                return (long)(inv->index[at] - 1);
        return -1;
    }
    for (size_t i = 0; i < inv->n; i++)
        if (same_id(&inv->items[i], group, kind, ns, name))
            return (long)i;
    return -1;
}

static int ref_copy(struct sl_ref *dst, const struct sl_ref *src, struct sl_error *err)
{
    memset(dst, 0, sizeof(*dst));
    if (dup_field(&dst->group, src->group ? src->group : "", err) != 0 ||
        dup_field(&dst->version, src->version ? src->version : "", err) != 0 ||
        dup_field(&dst->kind, src->kind, err) != 0 ||
        dup_field(&dst->ns, src->ns ? src->ns : "", err) != 0 ||
        dup_field(&dst->name, src->name, err) != 0 ||
        dup_field(&dst->digest, src->digest, err) != 0) {
        sl_ref_release(dst);
        return -1;
    }
    return 0;
}

int sl_inventory_add(struct sl_inventory *inv, const struct sl_ref *r, struct sl_error *err)
{
    long at;

    if (r->kind == NULL || r->name == NULL)
        return sl_error_set(err, SL_EINVAL, "inventory entry without kind or name");
    at = sl_inventory_find(inv, r->group, r->kind, r->ns, r->name);
    if (at >= 0) {
        struct sl_ref *e = &inv->items[at];
        if (replace_str(&e->version, r->version ? r->version : "", err) != 0 ||
            replace_str(&e->digest, r->digest, err) != 0)
            return -1;
        return 0;
    }
    if (inv->n == inv->cap) {
        size_t ncap = inv->cap ? inv->cap * 2 : 16, bytes;
        struct sl_ref *p;
        if (!sl_size_mul(&bytes, ncap, sizeof(*p)))
            return sl_error_set(err, SL_ETOOLARGE, "inventory too large");
        p = realloc(inv->items, bytes);
        if (p == NULL)
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        inv->items = p;
        inv->cap = ncap;
    }
    if (ref_copy(&inv->items[inv->n], r, err) != 0)
        return -1;
    inv->n++;
    if (inv->index != NULL && inv->n * 2 <= inv->index_cap)
        index_put(inv, inv->n - 1);
    else
        index_grow(inv);
    return 0;
}

int sl_inventory_copy(struct sl_inventory *dst, const struct sl_inventory *src,
                      struct sl_error *err)
{
    memset(dst, 0, sizeof(*dst));
    for (size_t i = 0; i < src->n; i++) {
        if (sl_inventory_add(dst, &src->items[i], err) != 0) {
            sl_inventory_release(dst);
            return -1;
        }
    }
    return 0;
}

void sl_ref_id(const struct sl_ref *r, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s_%s_%s_%s", r->ns ? r->ns : "", r->name ? r->name : "",
             r->group ? r->group : "", r->kind ? r->kind : "");
}

int sl_ref_from_object(struct sl_ref *r, const json_t *obj, struct sl_error *err)
{
    const char *api = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const json_t *md = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *slash;
    struct sl_ref tmp = {0};

    memset(r, 0, sizeof(*r));
    if (api == NULL || kind == NULL || name == NULL || api[0] == '\0' || kind[0] == '\0' ||
        name[0] == '\0')
        return sl_error_set(err, SL_EINVAL, "object without apiVersion, kind or metadata.name");
    slash = strchr(api, '/');
    if (slash != NULL) {
        tmp.group = strndup(api, (size_t)(slash - api));
        tmp.version = strdup(slash + 1);
    } else {
        tmp.group = strdup("");
        tmp.version = strdup(api);
    }
    tmp.kind = strdup(kind);
    tmp.ns = strdup(ns ? ns : "");
    tmp.name = strdup(name);
    if (!tmp.group || !tmp.version || !tmp.kind || !tmp.ns || !tmp.name) {
        sl_ref_release(&tmp);
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    }
    *r = tmp;
    return 0;
}

const char *sl_result_name(enum sl_result r)
{
    switch (r) {
    case SL_RESULT_HEALTHY:
        return "healthy";
    case SL_RESULT_FAILED:
        return "failed";
    case SL_RESULT_ROLLED_BACK:
        return "rolled-back";
    case SL_RESULT_REJECTED:
        return "rejected";
    case SL_RESULT_SKIPPED:
        return "skipped";
    case SL_RESULT_NONE:
        break;
    }
    return "none";
}

static enum sl_result result_from_name(const char *s)
{
    static const enum sl_result all[] = {SL_RESULT_HEALTHY, SL_RESULT_FAILED, SL_RESULT_ROLLED_BACK,
                                         SL_RESULT_REJECTED, SL_RESULT_SKIPPED};
    for (size_t i = 0; s != NULL && i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(s, sl_result_name(all[i])) == 0)
            return all[i];
    return SL_RESULT_NONE;
}

/* ---- JSON ---- */

static int set_str(json_t *o, const char *key, const char *v)
{
    return json_object_set_new(o, key, v != NULL ? json_string(v) : json_null());
}

json_t *sl_inventory_to_json(const struct sl_inventory *inv)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < inv->n; i++) {
        const struct sl_ref *r = &inv->items[i];
        json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s}", "group", r->group, "version",
                              r->version ? r->version : "", "kind", r->kind, "namespace", r->ns,
                              "name", r->name);
        if (e == NULL || (r->digest != NULL && set_str(e, "digest", r->digest) != 0) ||
            json_array_append_new(a, e) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *sl_history_entry_to_json(const struct sl_history_entry *h)
{
    json_t *e = json_object();

    if (e == NULL)
        return NULL;
    if (set_str(e, "revision", h->revision) != 0 || set_str(e, "digest", h->digest) != 0 ||
        set_str(e, "result", sl_result_name(h->result)) != 0 ||
        json_object_set_new(e, "rollback", json_boolean(h->rollback)) != 0 ||
        json_object_set_new(e, "started", json_integer(h->started)) != 0 ||
        json_object_set_new(e, "durationMs", json_integer(h->duration_ms)) != 0 ||
        json_object_set_new(e, "created", json_integer(h->created)) != 0 ||
        json_object_set_new(e, "updated", json_integer(h->updated)) != 0 ||
        json_object_set_new(e, "unchanged", json_integer(h->unchanged)) != 0 ||
        json_object_set_new(e, "pruned", json_integer(h->pruned)) != 0 ||
        json_object_set_new(e, "drifted", json_integer(h->drifted)) != 0 ||
        (h->message != NULL && set_str(e, "message", h->message) != 0)) {
        json_decref(e);
        return NULL;
    }
    return e;
}

json_t *sl_state_to_json(const struct sl_state *st)
{
    json_t *o = json_object(), *inv = NULL, *bad = NULL, *hist = NULL, *last = NULL;

    if (o == NULL)
        return NULL;
    if (json_object_set_new(o, "format", json_integer(STATE_FORMAT)) != 0 ||
        set_str(o, "environment", st->env) != 0)
        goto fail;
    if (st->last_good_revision != NULL) {
        json_t *lg = json_pack("{s:s, s:s?, s:I}", "revision", st->last_good_revision, "digest",
                               st->last_good_digest, "time", (json_int_t)st->last_good_time);
        if (lg == NULL || json_object_set_new(o, "lastGood", lg) != 0)
            goto fail;
    } else if (json_object_set_new(o, "lastGood", json_null()) != 0) {
        goto fail;
    }
    if (set_str(o, "appliedRevision", st->applied_revision) != 0)
        goto fail;
    inv = sl_inventory_to_json(&st->inventory);
    if (inv == NULL || json_object_set_new(o, "inventory", inv) != 0)
        goto fail;
    bad = json_array();
    if (bad == NULL || json_object_set_new(o, "bad", bad) != 0)
        goto fail;
    for (size_t i = 0; i < st->nbad; i++) {
        json_t *b = json_pack("{s:s, s:I, s:s?}", "revision", st->bad[i].revision, "time",
                              (json_int_t)st->bad[i].time, "reason", st->bad[i].reason);
        if (b == NULL || json_array_append_new(bad, b) != 0)
            goto fail;
    }
    hist = json_array();
    if (hist == NULL || json_object_set_new(o, "history", hist) != 0)
        goto fail;
    for (size_t i = 0; i < st->nhistory; i++) {
        json_t *h = sl_history_entry_to_json(&st->history[i]);
        if (h == NULL || json_array_append_new(hist, h) != 0)
            goto fail;
    }
    last = json_pack("{s:I, s:s, s:s?, s:i, s:s?}", "time", (json_int_t)st->last_time, "result",
                     sl_result_name(st->last_result), "health", st->last_health, "drifted",
                     (int)st->last_drifted, "message", st->last_message);
    if (last == NULL || json_object_set_new(o, "last", last) != 0)
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

/* Optional string member: absent or null gives NULL; any other non-string is an error. */
static int get_opt_str(const json_t *o, const char *key, char **out, struct sl_error *err)
{
    const json_t *v = json_object_get(o, key);

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return sl_error_set(err, SL_EPARSE, "\"%s\" must be a string", key);
    return dup_field(out, json_string_value(v), err);
}

static int get_req_str(const json_t *o, const char *key, char **out, struct sl_error *err)
{
    if (get_opt_str(o, key, out, err) != 0)
        return -1;
    if (*out == NULL)
        return sl_error_set(err, SL_EPARSE, "missing \"%s\"", key);
    return 0;
}

static int64_t get_int(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

int sl_inventory_from_json(struct sl_inventory *inv, const json_t *j, struct sl_error *err)
{
    size_t i;
    const json_t *e;

    memset(inv, 0, sizeof(*inv));
    if (!json_is_array(j))
        return sl_error_set(err, SL_EPARSE, "inventory must be an array");
    json_array_foreach(j, i, e)
    {
        struct sl_ref r = {0};
        int rc;
        if (!json_is_object(e)) {
            sl_inventory_release(inv);
            return sl_error_set(err, SL_EPARSE, "inventory entry %zu is not an object", i);
        }
        rc = get_opt_str(e, "group", &r.group, err) || get_opt_str(e, "version", &r.version, err) ||
             get_req_str(e, "kind", &r.kind, err) || get_opt_str(e, "namespace", &r.ns, err) ||
             get_req_str(e, "name", &r.name, err) || get_opt_str(e, "digest", &r.digest, err);
        if (rc == 0)
            rc = sl_inventory_add(inv, &r, err);
        sl_ref_release(&r);
        if (rc != 0) {
            sl_inventory_release(inv);
            return sl_error_wrap(err, "inventory entry %zu", i);
        }
    }
    return 0;
}

int sl_state_from_json(struct sl_state **out, const char *env, const json_t *j,
                       struct sl_error *err)
{
    struct sl_state *st = NULL;
    const json_t *v, *e;
    size_t i;
    char *file_env = NULL;
    int rc = -1;

    *out = NULL;
    if (!json_is_object(j))
        return sl_error_set(err, SL_EPARSE, "state is not a JSON object");
    if (get_int(j, "format") != STATE_FORMAT)
        return sl_error_set(err, SL_EPARSE, "unknown state format %lld",
                            (long long)get_int(j, "format"));
    if (get_opt_str(j, "environment", &file_env, err) != 0)
        return -1;
    if (file_env != NULL && strcmp(file_env, env) != 0) {
        sl_error_set(err, SL_EPARSE, "state belongs to environment \"%s\", not \"%s\"", file_env,
                     env);
        free(file_env);
        return -1;
    }
    free(file_env);
    st = sl_state_new(env, err);
    if (st == NULL)
        return -1;
    v = json_object_get(j, "lastGood");
    if (json_is_object(v)) {
        if (get_req_str(v, "revision", &st->last_good_revision, err) != 0 ||
            get_opt_str(v, "digest", &st->last_good_digest, err) != 0)
            goto done;
        st->last_good_time = get_int(v, "time");
    } else if (v != NULL && !json_is_null(v)) {
        sl_error_set(err, SL_EPARSE, "\"lastGood\" must be an object");
        goto done;
    }
    if (get_opt_str(j, "appliedRevision", &st->applied_revision, err) != 0)
        goto done;
    v = json_object_get(j, "inventory");
    if (v != NULL && sl_inventory_from_json(&st->inventory, v, err) != 0)
        goto done;
    v = json_object_get(j, "bad");
    if (v != NULL && !json_is_array(v)) {
        sl_error_set(err, SL_EPARSE, "\"bad\" must be an array");
        goto done;
    }
    json_array_foreach(v, i, e)
    {
        char *rev = NULL, *reason = NULL;
        if (get_req_str(e, "revision", &rev, err) != 0 ||
            get_opt_str(e, "reason", &reason, err) != 0 ||
            sl_state_mark_bad(st, rev, reason, get_int(e, "time"), err) != 0) {
            free(rev);
            free(reason);
            goto done;
        }
        free(rev);
        free(reason);
    }
    v = json_object_get(j, "history");
    if (v != NULL && !json_is_array(v)) {
        sl_error_set(err, SL_EPARSE, "\"history\" must be an array");
        goto done;
    }
    json_array_foreach(v, i, e)
    {
        struct sl_history_entry h = {0};
        char *res = NULL;
        int r = get_opt_str(e, "revision", &h.revision, err) ||
                get_opt_str(e, "digest", &h.digest, err) ||
                get_opt_str(e, "message", &h.message, err) || get_opt_str(e, "result", &res, err);
        if (r == 0) {
            h.result = result_from_name(res);
            h.rollback = json_is_true(json_object_get(e, "rollback"));
            h.started = get_int(e, "started");
            h.duration_ms = get_int(e, "durationMs");
            h.created = (unsigned)get_int(e, "created");
            h.updated = (unsigned)get_int(e, "updated");
            h.unchanged = (unsigned)get_int(e, "unchanged");
            h.pruned = (unsigned)get_int(e, "pruned");
            h.drifted = (unsigned)get_int(e, "drifted");
            r = sl_state_add_history(st, &h, err);
        }
        free(res);
        history_release(&h);
        if (r != 0)
            goto done;
    }
    v = json_object_get(j, "last");
    if (json_is_object(v)) {
        char *res = NULL;
        st->last_time = get_int(v, "time");
        if (get_opt_str(v, "result", &res, err) != 0)
            goto done;
        st->last_result = result_from_name(res);
        free(res);
        st->last_drifted = (unsigned)get_int(v, "drifted");
        if (get_opt_str(v, "health", &st->last_health, err) != 0 ||
            get_opt_str(v, "message", &st->last_message, err) != 0)
            goto done;
    }
    *out = st;
    st = NULL;
    rc = 0;
done:
    sl_state_free(st);
    return rc;
}

/* ---- history and bad marks ---- */

int sl_state_add_history(struct sl_state *st, const struct sl_history_entry *h,
                         struct sl_error *err)
{
    struct sl_history_entry c = *h;

    c.revision = c.digest = c.message = NULL;
    if (dup_field(&c.revision, h->revision, err) != 0 ||
        dup_field(&c.digest, h->digest, err) != 0 || dup_field(&c.message, h->message, err) != 0) {
        history_release(&c);
        return -1;
    }
    if (st->history == NULL) {
        st->history = calloc(SL_STATE_HISTORY_MAX, sizeof(*st->history));
        if (st->history == NULL) {
            history_release(&c);
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        }
    }
    if (st->nhistory == SL_STATE_HISTORY_MAX) {
        history_release(&st->history[0]);
        memmove(&st->history[0], &st->history[1],
                (SL_STATE_HISTORY_MAX - 1) * sizeof(*st->history));
        st->nhistory--;
    }
    st->history[st->nhistory++] = c;
    return 0;
}

bool sl_state_is_bad(const struct sl_state *st, const char *revision)
{
    for (size_t i = 0; revision != NULL && i < st->nbad; i++)
        if (strcmp(st->bad[i].revision, revision) == 0)
            return true;
    return false;
}

int sl_state_mark_bad(struct sl_state *st, const char *revision, const char *reason, int64_t now,
                      struct sl_error *err)
{
    struct sl_bad_rev b = {0};

    if (revision == NULL)
        return sl_error_set(err, SL_EINVAL, "no revision to mark bad");
    if (sl_state_is_bad(st, revision))
        return 0;
    if (dup_field(&b.revision, revision, err) != 0 || dup_field(&b.reason, reason, err) != 0) {
        bad_release(&b);
        return -1;
    }
    b.time = now;
    if (st->bad == NULL) {
        st->bad = calloc(SL_STATE_BAD_MAX, sizeof(*st->bad));
        if (st->bad == NULL) {
            bad_release(&b);
            return sl_error_set(err, SL_ENOMEM, "out of memory");
        }
    }
    if (st->nbad == SL_STATE_BAD_MAX) {
        bad_release(&st->bad[0]);
        memmove(&st->bad[0], &st->bad[1], (SL_STATE_BAD_MAX - 1) * sizeof(*st->bad));
        st->nbad--;
    }
    st->bad[st->nbad++] = b;
    return 0;
}

void sl_state_clear_bad(struct sl_state *st)
{
    for (size_t i = 0; i < st->nbad; i++)
        bad_release(&st->bad[i]);
    st->nbad = 0;
}

/* ---- files ---- */

int sl_state_env_dir(const char *state_dir, const char *env, char *out, size_t outlen,
                     struct sl_error *err)
{
    if (env == NULL || env[0] == '\0' || env[0] == '.' || strchr(env, '/') != NULL)
        return sl_error_set(err, SL_EINVAL, "invalid environment name \"%s\"", env ? env : "");
    if (state_dir == NULL || state_dir[0] == '\0')
        return sl_error_set(err, SL_EINVAL, "no state directory configured");
    if ((size_t)snprintf(out, outlen, "%s/%s", state_dir, env) >= outlen)
        return sl_error_set(err, SL_ETOOLARGE, "state path too long");
    return 0;
}

static int env_file(const char *state_dir, const char *env, const char *file, char *out,
                    size_t outlen, struct sl_error *err)
{
    char dir[3072];

    if (sl_state_env_dir(state_dir, env, dir, sizeof(dir), err) != 0)
        return -1;
    if ((size_t)snprintf(out, outlen, "%s/%s", dir, file) >= outlen)
        return sl_error_set(err, SL_ETOOLARGE, "state path too long");
    return 0;
}

/* Read and parse a JSON file; *out stays NULL when the file does not exist. */
static int read_json_file(const char *path, json_t **out, struct sl_error *err)
{
    struct sl_buf b = SL_BUF_INIT(SL_STATE_FILE_MAX);
    struct sl_error rerr = SL_ERROR_INIT;
    json_error_t jerr;
    int rc = -1;

    *out = NULL;
    if (sl_file_read(&b, path, SL_STATE_FILE_MAX, &rerr) != 0) {
        if (access(path, F_OK) != 0 && errno == ENOENT) {
            rc = 0;
            goto done;
        }
        sl_error_set(err, rerr.code, "%s", rerr.msg);
        goto done;
    }
    *out = json_loadb(b.ptr, b.len, JSON_REJECT_DUPLICATES, &jerr);
    if (*out == NULL) {
        sl_error_set(err, SL_EPARSE,
                     "%s:%d: corrupt state file (%s); move it away to start from an empty "
                     "state, the cluster inventory ConfigMap is used to recover",
                     path, jerr.line, jerr.text);
        goto done;
    }
    rc = 0;
done:
    sl_buf_release(&b);
    return rc;
}

static int write_json_file(const char *state_dir, const char *env, const char *file,
                           const json_t *j, struct sl_error *err)
{
    char dir[3072], path[4096];
    char *text = NULL;
    int rc = -1;

    if (sl_state_env_dir(state_dir, env, dir, sizeof(dir), err) != 0 ||
        env_file(state_dir, env, file, path, sizeof(path), err) != 0)
        return -1;
    if (sl_mkdir_p(dir, 0700, err) != 0)
        return -1;
    text = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (text == NULL)
        return sl_error_set(err, SL_ENOMEM, "cannot serialise %s", path);
    if (sl_file_write_atomic(path, text, strlen(text), 0600, err) != 0)
        goto done;
    rc = 0;
done:
    free(text);
    return rc;
}

int sl_state_load(const char *state_dir, const char *env, struct sl_state **out,
                  struct sl_error *err)
{
    char path[4096];
    json_t *j = NULL;
    int rc = -1;

    *out = NULL;
    if (env_file(state_dir, env, "state.json", path, sizeof(path), err) != 0)
        return -1;
    if (read_json_file(path, &j, err) != 0)
        return -1;
    if (j == NULL) {
        *out = sl_state_new(env, err);
        return *out == NULL ? -1 : 0;
    }
    if (sl_state_from_json(out, env, j, err) != 0) {
        sl_error_wrap(err, "%s", path);
        goto done;
    }
    rc = 0;
done:
    json_decref(j);
    return rc;
}

int sl_state_save(const char *state_dir, const struct sl_state *st, struct sl_error *err)
{
    json_t *j = sl_state_to_json(st);
    int rc;

    if (j == NULL)
        return sl_error_set(err, SL_ENOMEM, "cannot build state JSON");
    rc = write_json_file(state_dir, st->env, "state.json", j, err);
    json_decref(j);
    return rc;
}

int sl_control_load(const char *state_dir, const char *env, struct sl_control *out,
                    struct sl_error *err)
{
    char path[4096];
    json_t *j = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (env_file(state_dir, env, "control.json", path, sizeof(path), err) != 0 ||
        read_json_file(path, &j, err) != 0)
        return -1;
    if (j == NULL)
        return 0;
    if (!json_is_object(j)) {
        sl_error_set(err, SL_EPARSE, "%s: not a JSON object", path);
        goto done;
    }
    out->suspended = json_is_true(json_object_get(j, "suspended"));
    out->suspended_at = get_int(j, "suspendedAt");
    out->retry = json_is_true(json_object_get(j, "retry"));
    if (get_opt_str(j, "pinRevision", &out->pin_revision, err) != 0 ||
        get_opt_str(j, "pinSourceRevision", &out->pin_source_revision, err) != 0) {
        sl_error_wrap(err, "%s", path);
        sl_control_release(out);
        goto done;
    }
    rc = 0;
done:
    json_decref(j);
    return rc;
}

int sl_control_save(const char *state_dir, const char *env, const struct sl_control *c,
                    struct sl_error *err)
{
    json_t *j = json_pack("{s:b, s:I, s:b, s:s?, s:s?}", "suspended", c->suspended, "suspendedAt",
                          (json_int_t)c->suspended_at, "retry", c->retry, "pinRevision",
                          c->pin_revision, "pinSourceRevision", c->pin_source_revision);
    int rc;

    if (j == NULL)
        return sl_error_set(err, SL_ENOMEM, "cannot build control JSON");
    rc = write_json_file(state_dir, env, "control.json", j, err);
    json_decref(j);
    return rc;
}

static int open_lock(const char *state_dir, const char *env, const char *file, int *fd_out,
                     struct sl_error *err)
{
    char dir[3072], path[4096];
    int fd;

    *fd_out = -1;
    if (sl_state_env_dir(state_dir, env, dir, sizeof(dir), err) != 0 ||
        env_file(state_dir, env, file, path, sizeof(path), err) != 0 ||
        sl_mkdir_p(dir, 0700, err) != 0)
        return -1;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return sl_error_errno(err, errno, "%s", path);
    *fd_out = fd;
    return 0;
}

int sl_state_lock(const char *state_dir, const char *env, int *fd_out, struct sl_error *err)
{
    int fd;

    if (open_lock(state_dir, env, "lock", &fd, err) != 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return sl_error_set(err, SL_ECONFLICT,
                                "environment %s is being reconciled by another sluice process "
                                "(%s/%s/lock is held)",
                                env, state_dir, env);
        return sl_error_errno(err, e, "flock %s/%s/lock", state_dir, env);
    }
    *fd_out = fd;
    return 0;
}

int sl_control_lock(const char *state_dir, const char *env, int64_t timeout_ms, int *fd_out,
                    struct sl_error *err)
{
    int fd;
    int64_t waited = 0;

    if (open_lock(state_dir, env, "control.lock", &fd, err) != 0)
        return -1;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            close(fd);
            return sl_error_errno(err, e, "flock %s/%s/control.lock", state_dir, env);
        }
        if (waited >= timeout_ms) {
            close(fd);
            return sl_error_set(err, SL_ETIMEOUT, "timed out waiting for %s/%s/control.lock",
                                state_dir, env);
        }
        nanosleep(&ts, NULL);
        waited += 20;
    }
    *fd_out = fd;
    return 0;
}

void sl_state_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}
