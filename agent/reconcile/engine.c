#include "engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "health.h"
#include "log.h"
#include "strparse.h"

/* Batch workers share desired objects (struct batch_item): reference counts must be atomic. */
#if !JSON_HAVE_ATOMIC_BUILTINS && !JSON_HAVE_SYNC_BUILTINS
#error "jansson without atomic reference counts: batch workers would race on desired objects"
#endif

struct run {
    const struct sl_config *cfg;
    const struct sl_env_config *env;
    const struct sl_cluster *cl;
    const struct sl_desired *ds;
    const struct sl_rc_opts *o;
    struct sl_rc_result *res;
    struct sl_state *st;
    json_t *kinds;            /* "apiVersion kind" -> true (namespaced) / false / null (unknown) */
    json_t *deferred;         /* "apiVersion kind" -> true: defined by a CRD of this set */
    json_t *objidx;           /* result object id -> index in res->objects */
    char selector[512];       /* owner labels of this environment */
    char agent_selector[512]; /* this agent (cluster-scoped kinds: shared objects) */
    char cur_source[128];     /* the source revision seen at the start */
    bool unhealthy;           /* the last failure was health (or settle), not the transport */
    void *pool[16];           /* cluster clones for parallel requests, made once per run */
    unsigned npool;
    bool pool_failed;
};

const char *sl_rc_phase_name(enum sl_rc_phase p)
{
    static const char *const names[] = {"resolve", "render", "plan",     "dry-run", "apply",
                                        "prune",   "health", "rollback", "done"};
    return (size_t)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* snprintf that may truncate on purpose (messages), without -Wformat-truncation noise. */
static void msgf(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void msgf(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

static void progress(struct run *r, enum sl_rc_phase ph, const char *obj, const char *what)
{
    if (r->o->progress != NULL)
        r->o->progress(r->o->progress_ctx, ph, obj, what);
}

static bool canceled(const struct run *r)
{
    return (r->o->cancel != NULL && *r->o->cancel != 0) ||
           (r->o->stopping != NULL && r->o->stopping(r->o->stopping_ctx));
}

static void sleep_ms(const struct run *r, int64_t ms)
{
    while (ms > 0 && !canceled(r)) {
        int64_t step = ms > 100 ? 100 : ms;
        struct timespec ts = {(time_t)(step / 1000), (long)(step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

void sl_rc_result_release(struct sl_rc_result *r)
{
    if (r == NULL)
        return;
    free(r->objects);
    r->objects = NULL;
    r->nobjects = r->capobjects = 0;
}

/* The result row of object id, added when new (found through r->objidx: thousands of rows). */
static struct sl_rc_object *result_object(struct run *r, const char *id)
{
    struct sl_rc_result *res = r->res;
    const json_t *at = r->objidx != NULL ? json_object_get(r->objidx, id) : NULL;

    if (at != NULL && (size_t)json_integer_value(at) < res->nobjects)
        return &res->objects[json_integer_value(at)];
    for (size_t i = 0; r->objidx == NULL && i < res->nobjects; i++)
        if (strcmp(res->objects[i].id, id) == 0)
            return &res->objects[i];
    if (res->nobjects == res->capobjects) {
        size_t ncap = res->capobjects ? res->capobjects * 2 : 32;
        struct sl_rc_object *p = realloc(res->objects, ncap * sizeof(*p));
        if (p == NULL)
            return NULL;
        res->objects = p;
        res->capobjects = ncap;
    }
    memset(&res->objects[res->nobjects], 0, sizeof(res->objects[0]));
    snprintf(res->objects[res->nobjects].id, sizeof(res->objects[0].id), "%s", id);
    if (r->objidx != NULL)
        json_object_set_new(r->objidx, id, json_integer((json_int_t)res->nobjects));
    return &res->objects[res->nobjects++];
}

static void set_object(struct run *r, const char *id, const char *action, const char *health,
                       const char *detail)
{
    struct sl_rc_object *o = result_object(r, id);

    if (o == NULL)
        return;
    if (action != NULL)
        msgf(o->action, sizeof(o->action), "%s", action);
    if (health != NULL)
        msgf(o->health, sizeof(o->health), "%s", health);
    if (detail != NULL)
        msgf(o->detail, sizeof(o->detail), "%s", detail); /* error messages may be longer */
}

json_t *sl_rc_result_to_json(const struct sl_rc_result *r)
{
    json_t *o, *objs = json_array();

    for (size_t i = 0; objs != NULL && i < r->nobjects; i++) {
        const struct sl_rc_object *x = &r->objects[i];
        json_array_append_new(objs, json_pack("{s:s, s:s, s:s, s:s}", "object", x->id, "action",
                                              x->action, "health", x->health, "detail", x->detail));
    }
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:i, "
                  "s:b, s:I, s:s, s:s, s:o}",
                  "result", sl_result_name(r->result), "revision", r->revision, "target", r->target,
                  "ref", r->ref, "failedRevision", r->failed_revision, "digest", r->digest,
                  "counts", "created", (int)r->created, "updated", (int)r->updated, "unchanged",
                  (int)r->unchanged, "pruned", (int)r->pruned, "drifted", (int)r->drifted, "kept",
                  (int)r->kept, "failed", (int)r->failed, "shared", (int)r->shared, "writes",
                  (int)r->writes, "driftReportedOnly", r->drift_reported_only, "durationMs",
                  (json_int_t)r->duration_ms, "health", r->health, "message", r->message, "objects",
                  objs != NULL ? objs : json_array());
    return o;
}

void sl_inventory_configmap_name(const char *env, char *out, size_t outlen)
{
    snprintf(out, outlen, "sluice-inventory-%s", env);
}

static const char *mirror_namespace(const struct sl_env_config *env)
{
    return env->namespace != NULL ? env->namespace : "default";
}

/* ---- kinds ---- */

static void api_version_of(const struct sl_ref *ref, char *out, size_t outlen)
{
    if (ref->group[0] != '\0')
        snprintf(out, outlen, "%s/%s", ref->group, ref->version);
    else
        snprintf(out, outlen, "%s", ref->version);
}

static void kind_key(const char *api, const char *kind, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s %s", api, kind);
}

/* 1 namespaced, 0 cluster-scoped, -1 with err (SL_ENOTFOUND for an unknown kind). */
static int kind_scope(struct run *r, const char *api, const char *kind, struct sl_error *err)
{
    char key[512];
    const json_t *v;
    bool ns = false;

    kind_key(api, kind, key, sizeof(key));
    v = json_object_get(r->kinds, key);
    if (v != NULL)
        return json_is_true(v) ? 1 : 0;
    if (r->cl->ops->resolve(r->cl->ctx, api, kind, &ns, err) != 0)
        return -1;
    json_object_set_new(r->kinds, key, json_boolean(ns));
    return ns ? 1 : 0;
}

/* Kinds that CRDs of this set define: "group/version Kind" -> namespaced. */
static void collect_crd_kinds(struct run *r, const struct sl_objlist *objs)
{
    for (size_t i = 0; i < objs->n; i++) {
        const json_t *o = objs->items[i].json, *spec, *vers, *v;
        const char *kind = json_string_value(json_object_get(o, "kind"));
        const char *group, *ckind, *scope;
        size_t j;

        if (kind == NULL || strcmp(kind, "CustomResourceDefinition") != 0)
            continue;
        spec = json_object_get(o, "spec");
        group = json_string_value(json_object_get(spec, "group"));
        ckind = json_string_value(json_object_get(json_object_get(spec, "names"), "kind"));
        scope = json_string_value(json_object_get(spec, "scope"));
        vers = json_object_get(spec, "versions");
        if (group == NULL || ckind == NULL)
            continue;
        json_array_foreach(vers, j, v)
        {
            const char *name = json_string_value(json_object_get(v, "name"));
            char api[300], key[512];
            if (name == NULL)
                continue;
            snprintf(api, sizeof(api), "%s/%s", group, name);
            kind_key(api, ckind, key, sizeof(key));
            json_object_set_new(r->deferred, key,
                                json_boolean(scope == NULL || strcmp(scope, "Namespaced") == 0));
        }
    }
}

/*
 * Owner labels, namespace defaulting, scope check. Objects of kinds that only a CRD of
 * this set defines are accepted (checked again after the CRD is applied).
 */
static int prepare_objects(struct run *r, struct sl_objlist *objs, struct sl_error *err)
{
    collect_crd_kinds(r, objs);
    for (size_t i = 0; i < objs->n; i++) {
        json_t *o = objs->items[i].json, *md;
        const char *api = json_string_value(json_object_get(o, "apiVersion"));
        const char *kind = json_string_value(json_object_get(o, "kind"));
        char where[300], id[320], key[512];
        struct sl_error kerr = SL_ERROR_INIT;
        int scope;

        sl_origin_str(&objs->items[i].origin, where, sizeof(where));
        sl_object_id(o, id, sizeof(id));
        if (api == NULL || kind == NULL)
            return sl_error_set(err, SL_EINVAL, "%s: object without apiVersion or kind", where);
        if (sl_plan_prepare(o, r->o->agent, r->env->name, err) != 0)
            return sl_error_wrap(err, "%s: %s", where, id);
        scope = kind_scope(r, api, kind, &kerr);
        if (scope < 0) {
            const json_t *d;
            kind_key(api, kind, key, sizeof(key));
            d = json_object_get(r->deferred, key);
            if (kerr.code != SL_ENOTFOUND || d == NULL) {
                sl_error_set(err, kerr.code, "%s: %s: %s", where, id, kerr.msg);
                return -1;
            }
            scope = json_is_true(d) ? 1 : 0;
        }
        md = json_object_get(o, "metadata");
        if (scope == 1) {
            const char *ns = json_string_value(json_object_get(md, "namespace"));
            if (ns == NULL || ns[0] == '\0') {
                if (r->env->namespace == NULL)
                    return sl_error_set(err, SL_EINVAL,
                                        "%s: %s has no namespace and environment %s sets none",
                                        where, id, r->env->name);
                json_object_set_new(md, "namespace", json_string(r->env->namespace));
            }
        } else {
            json_object_del(md, "namespace");
        }
    }
    return 0;
}

/* ---- live objects ---- */

struct kindset {
    json_t *map; /* "apiVersion kind" -> [apiVersion, kind] */
};

static void kindset_add(struct kindset *ks, const char *api, const char *kind)
{
    char key[512];
    kind_key(api, kind, key, sizeof(key));
    if (json_object_get(ks->map, key) == NULL)
        json_object_set_new(ks->map, key, json_pack("[s,s]", api, kind));
}

/* LIST (owner-label selected) every kind of objs and the inventory into one array. */
static int list_live(struct run *r, const struct sl_objlist *objs, const struct sl_inventory *inv,
                     json_t **out, struct sl_error *err)
{
    struct kindset ks = {json_object()};
    json_t *all = json_array(), *pair;
    const char *key;
    int rc = -1;

    *out = NULL;
    for (size_t i = 0; i < objs->n; i++)
        kindset_add(&ks, json_string_value(json_object_get(objs->items[i].json, "apiVersion")),
                    json_string_value(json_object_get(objs->items[i].json, "kind")));
    for (size_t i = 0; i < inv->n; i++) {
        char api[300];
        api_version_of(&inv->items[i], api, sizeof(api));
        kindset_add(&ks, api, inv->items[i].kind);
    }
    json_object_foreach(ks.map, key, pair)
    {
        const char *api = json_string_value(json_array_get(pair, 0));
        const char *kind = json_string_value(json_array_get(pair, 1));
        struct sl_error kerr = SL_ERROR_INIT;
        json_t *items = NULL;
        size_t i;
        json_t *e;

        int scope = kind_scope(r, api, kind, &kerr);

        if (scope < 0) {
            if (kerr.code == SL_ENOTFOUND)
                continue; /* not served (yet): nothing of it is live */
            sl_error_set(err, kerr.code, "%s", kerr.msg);
            goto done;
        }
        if (r->cl->ops->list(r->cl->ctx, api, kind, NULL,
                             scope == 0 ? r->agent_selector : r->selector, &items, err) != 0) {
            sl_error_wrap(err, "list %s", kind);
            goto done;
        }
        json_array_foreach(items, i, e)
        {
            /* lists may omit apiVersion/kind on items */
            if (json_object_get(e, "apiVersion") == NULL)
                json_object_set_new(e, "apiVersion", json_string(api));
            if (json_object_get(e, "kind") == NULL)
                json_object_set_new(e, "kind", json_string(kind));
        }
        json_array_extend(all, items);
        json_decref(items);
    }
    *out = all;
    all = NULL;
    rc = 0;
done:
    json_decref(all);
    json_decref(ks.map);
    return rc;
}

/* Kinds looked at when deciding whether a Namespace is empty enough to delete. */
static const char *const ns_probe_kinds[][2] = {
        {"v1", "Pod"},
        {"v1", "ConfigMap"},
        {"v1", "Secret"},
        {"v1", "Service"},
        {"v1", "ServiceAccount"},
        {"v1", "PersistentVolumeClaim"},
        {"apps/v1", "Deployment"},
        {"apps/v1", "StatefulSet"},
        {"apps/v1", "DaemonSet"},
        {"batch/v1", "Job"},
        {"batch/v1", "CronJob"},
};

static bool ignorable_ns_object(const json_t *o)
{
    const char *kind = json_string_value(json_object_get(o, "kind"));
    const char *name = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
    const char *type = json_string_value(json_object_get(o, "type"));

    if (kind == NULL || name == NULL)
        return false;
    /* objects the control plane creates in every namespace */
    if (strcmp(kind, "ConfigMap") == 0 && strcmp(name, "kube-root-ca.crt") == 0)
        return true;
    if (strcmp(kind, "ServiceAccount") == 0 && strcmp(name, "default") == 0)
        return true;
    if (strcmp(kind, "Secret") == 0 && type != NULL &&
        strcmp(type, "kubernetes.io/service-account-token") == 0)
        return true;
    return false;
}

/* Unselected LISTs of the namespaces that are prune candidates, for the safety rule. */
static int namespace_contents(struct run *r, const struct sl_plan *plan,
                              const struct sl_inventory *inv, json_t **out, struct sl_error *err)
{
    json_t *contents = json_object();
    struct kindset ks = {json_object()};

    *out = NULL;
    for (size_t i = 0; i < sizeof(ns_probe_kinds) / sizeof(ns_probe_kinds[0]); i++)
        kindset_add(&ks, ns_probe_kinds[i][0], ns_probe_kinds[i][1]);
    for (size_t i = 0; i < inv->n; i++) {
        char api[300];
        api_version_of(&inv->items[i], api, sizeof(api));
        if (inv->items[i].ns[0] != '\0')
            kindset_add(&ks, api, inv->items[i].kind);
    }
    for (size_t i = 0; i < plan->n; i++) {
        const struct sl_action *a = &plan->items[i];
        json_t *arr, *pair;
        const char *key;
        if (a->type != SL_ACT_PRUNE || strcmp(a->ref.kind, "Namespace") != 0 ||
            a->ref.group[0] != '\0')
            continue;
        arr = json_array();
        json_object_set_new(contents, a->ref.name, arr);
        json_object_foreach(ks.map, key, pair)
        {
            const char *api = json_string_value(json_array_get(pair, 0));
            const char *kind = json_string_value(json_array_get(pair, 1));
            struct sl_error kerr = SL_ERROR_INIT;
            json_t *items = NULL, *e;
            size_t j;
            if (kind_scope(r, api, kind, &kerr) != 1)
                continue;
            if (r->cl->ops->list(r->cl->ctx, api, kind, a->ref.name, NULL, &items, err) != 0) {
                json_decref(contents);
                json_decref(ks.map);
                return sl_error_wrap(err, "list %s in namespace %s", kind, a->ref.name);
            }
            json_array_foreach(items, j, e)
            {
                if (json_object_get(e, "apiVersion") == NULL)
                    json_object_set_new(e, "apiVersion", json_string(api));
                if (json_object_get(e, "kind") == NULL)
                    json_object_set_new(e, "kind", json_string(kind));
                if (!ignorable_ns_object(e))
                    json_array_append(arr, e);
            }
            json_decref(items);
        }
    }
    json_decref(ks.map);
    *out = contents;
    return 0;
}

static int build_plan(struct run *r, const struct sl_objlist *objs, const struct sl_inventory *inv,
                      struct sl_plan *plan, struct sl_error *err)
{
    struct sl_plan_opts po = {r->o->agent, r->env->name, r->o->field_manager, r->env->prune, NULL};
    json_t *live = NULL, *contents = NULL;
    int rc = -1;
    bool ns_prune = false;

    if (list_live(r, objs, inv, &live, err) != 0)
        return -1;
    if (sl_plan_build(plan, objs, live, inv, &po, err) != 0)
        goto done;
    for (size_t i = 0; i < plan->n; i++)
        if (plan->items[i].type == SL_ACT_KEEP &&
            strcmp(plan->items[i].ref.kind, "Namespace") == 0 &&
            strcmp(plan->items[i].reason, "namespace contents not verified") == 0)
            ns_prune = true;
    if (ns_prune) {
        struct sl_plan first = *plan;
        /* rebuild with the candidates' contents; the first plan says which namespaces */
        for (size_t i = 0; i < first.n; i++)
            if (first.items[i].type == SL_ACT_KEEP &&
                strcmp(first.items[i].reason, "namespace contents not verified") == 0)
                first.items[i].type = SL_ACT_PRUNE;
        if (namespace_contents(r, &first, inv, &contents, err) != 0) {
            sl_plan_release(plan);
            goto done;
        }
        sl_plan_release(plan);
        po.ns_contents = contents;
        if (sl_plan_build(plan, objs, live, inv, &po, err) != 0)
            goto done;
    }
    rc = 0;
done:
    json_decref(live);
    json_decref(contents);
    return rc;
}

/* ---- writes ---- */

static bool is_transient(enum sl_code c)
{
    return c == SL_EIO || c == SL_ETIMEOUT || c == SL_EAUTH || c == SL_ECANCELED || c == SL_ENOMEM;
}

static bool wants_write(const struct run *r, const struct sl_action *a)
{
    if (a->type == SL_ACT_CREATE || a->type == SL_ACT_UPDATE)
        return true;
    return a->type == SL_ACT_DRIFT && r->env->drift == SL_DRIFT_CORRECT;
}

static bool force_recreate(const struct run *r, const json_t *obj)
{
    const json_t *md = json_object_get(obj, "metadata");
    const char *a =
            json_string_value(json_object_get(json_object_get(md, "annotations"), SL_ANNOT_FORCE));
    return r->o->recreate_immutable || (a != NULL && strcmp(a, "enabled") == 0);
}

/* The Namespaces this plan creates: name -> true (looked up once per object). */
static json_t *new_namespaces(const struct sl_plan *plan)
{
    json_t *set = json_object();

    for (size_t i = 0; set != NULL && i < plan->n; i++) {
        const struct sl_action *n = &plan->items[i];
        if (n->type == SL_ACT_CREATE && strcmp(n->ref.kind, "Namespace") == 0 &&
            n->ref.group[0] == '\0')
            json_object_set_new(set, n->ref.name, json_true());
    }
    return set;
}

static bool kind_deferred(const struct run *r, const struct sl_action *a)
{
    char api[300], key[512];
    api_version_of(&a->ref, api, sizeof(api));
    kind_key(api, a->ref.kind, key, sizeof(key));
    return json_object_get(r->kinds, key) == NULL && json_object_get(r->deferred, key) != NULL;
}

static void object_where(const struct sl_action *a, char *out, size_t outlen)
{
    char id[320], origin[300] = "generated";
    if (a->desired != NULL)
        sl_object_id(a->desired, id, sizeof(id));
    else
        snprintf(id, sizeof(id), "%s %s%s%s", a->ref.kind, a->ref.ns, a->ref.ns[0] ? "/" : "",
                 a->ref.name);
    if (a->origin != NULL)
        sl_origin_str(a->origin, origin, sizeof(origin));
    snprintf(out, outlen, "%s (%s)", id, origin);
}

/* ---- parallel requests ---- */

struct batch_item {
    size_t idx; /* into the plan */
    /*
     * The plan's desired object, shared read-only: during a batch nothing changes desired
     * objects, each one goes to one worker, and jansson's reference counts are atomic (the
     * client's json_copy of it from a worker is safe). Not a deep copy per request: that
     * was a tenth of the client's time before the first request of an apply.
     */
    json_t *obj;
    char where[700];
    int rc;
    bool immutable;
    struct sl_error err;
    /* applies: the kstatus of the object the server returned (the first health look) */
    enum sl_health health;
    char health_msg[256];
};

struct batch {
    struct run *r;
    struct batch_item *items;
    size_t n, next;
    bool dry;
    enum sl_rc_phase phase;
    const char *what;
    pthread_mutex_t mu;
};

static void batch_one(struct batch *b, void *ctx, struct batch_item *it, bool locked)
{
    struct run *r = b->r;

    if (!locked)
        pthread_mutex_lock(&b->mu);
    progress(r, b->phase, it->where, b->what);
    if (!b->dry)
        r->res->writes++;
    if (!locked)
        pthread_mutex_unlock(&b->mu);
    if (canceled(r)) {
        it->rc = sl_error_set(&it->err, SL_ECANCELED, "canceled");
        return;
    }
    if (b->dry) {
        it->rc = r->cl->ops->apply(ctx, it->obj, true, r->o->force_conflicts, NULL, &it->immutable,
                                   &it->err);
        return;
    }
    {
        json_t *answer = NULL;
        it->health = SL_HEALTH_UNKNOWN;
        it->rc = r->cl->ops->apply(ctx, it->obj, false, r->o->force_conflicts, &answer,
                                   &it->immutable, &it->err);
        if (answer != NULL) {
            /*
             * The server's answer is the object as stored: the first health look,
             * taken here on the worker thread instead of one LIST per kind after
             * the last apply (most kinds are Current at once).
             */
            it->health =
                    sl_health_compute(answer, time(NULL), it->health_msg, sizeof(it->health_msg));
            sl_plan_wipe_secret(answer);
            json_decref(answer);
        }
    }
}

struct worker {
    struct batch *b;
    void *ctx;
};

static void *batch_worker(void *arg)
{
    struct worker *w = arg;
    struct batch *b = w->b;

    for (;;) {
        size_t i;
        pthread_mutex_lock(&b->mu);
        i = b->next++;
        pthread_mutex_unlock(&b->mu);
        if (i >= b->n)
            break;
        batch_one(b, w->ctx, &b->items[i], false);
    }
    return NULL;
}

/*
 * Send every item (apply or dry run); results are in the items. Objects of one kind do
 * not depend on each other, so they go out over several connections when the cluster
 * adapter can clone itself. Falls back to one connection on any setup problem.
 */
static unsigned nworkers(const struct run *r)
{
    unsigned nw = r->o->workers ? r->o->workers : 4;
    return nw > 16 ? 16 : nw;
}

/* Make the clones (workers - 1 of them) once; on failure stay sequential. */
static void pool_fill(struct run *r)
{
    unsigned want = nworkers(r);

    if (r->npool > 0 || r->pool_failed || r->cl->ops->clone == NULL || want < 2)
        return;
    for (unsigned t = 0; t + 1 < want; t++) {
        struct sl_error cerr = SL_ERROR_INIT;
        void *c = r->cl->ops->clone(r->cl->ctx, want, &cerr);
        if (c == NULL) {
            sl_log_warn("parallel requests disabled", "error", cerr.msg);
            r->pool_failed = true;
            break;
        }
        r->pool[r->npool++] = c;
    }
}

static void pool_release(struct run *r)
{
    for (unsigned t = 0; t < r->npool; t++)
        r->cl->ops->release_clone(r->pool[t]);
    r->npool = 0;
}

static void batch_run(struct batch *b)
{
    struct run *r = b->r;
    struct worker w[17];
    pthread_t tid[17];
    unsigned started = 0, nw;

    if (b->n >= 8)
        pool_fill(r);
    nw = r->npool + 1;
    if (b->n < (size_t)nw * 2)
        nw = (unsigned)(b->n / 2);
    if (nw < 2) {
        for (size_t i = 0; i < b->n; i++)
            batch_one(b, r->cl->ctx, &b->items[i], true);
        return;
    }
    pthread_mutex_init(&b->mu, NULL);
    w[0].b = b;
    w[0].ctx = r->cl->ctx;
    for (unsigned t = 1; t < nw; t++) {
        w[t].b = b;
        w[t].ctx = r->pool[t - 1];
        if (pthread_create(&tid[t], NULL, batch_worker, &w[t]) != 0)
            break;
        started = t;
    }
    /* this thread is worker 0, on the original connection */
    batch_worker(&w[0]);
    for (unsigned t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
    pthread_mutex_destroy(&b->mu);
}

static void batch_free(struct batch_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(items[i].obj); /* shared: Secret values are wiped with the desired list */
    free(items);
}

/* Items for plan indices idx[0..n). */
static struct batch_item *batch_items(const struct sl_plan *plan, const size_t *idx, size_t n,
                                      struct sl_error *err)
{
    struct batch_item *items = calloc(n ? n : 1, sizeof(*items));

    if (items == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        items[i].idx = idx[i];
        items[i].obj = json_incref(plan->items[idx[i]].desired);
        object_where(&plan->items[idx[i]], items[i].where, sizeof(items[i].where));
        if (items[i].obj == NULL) {
            batch_free(items, n);
            sl_error_set(err, SL_ENOMEM, "out of memory");
            return NULL;
        }
    }
    return items;
}

/*
 * Server-side dry run of every object to be written. Objects in a Namespace or of a kind
 * this set creates cannot be checked before that Namespace/CRD exists: they are marked
 * (deferred[i] = true) and checked after stage 0, still before any of them is written.
 */
static int dry_run(struct run *r, const struct sl_plan *plan, bool *deferred, bool only_deferred,
                   struct sl_error *err)
{
    size_t *idx = calloc(plan->n + 1, sizeof(*idx)), n = 0;
    json_t *newns = only_deferred ? NULL : new_namespaces(plan);
    struct batch b;
    struct batch_item *items;
    int rc = -1;

    if (idx == NULL || (!only_deferred && newns == NULL)) {
        free(idx);
        json_decref(newns);
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < plan->n; i++) {
        const struct sl_action *a = &plan->items[i];
        if (a->desired == NULL || !wants_write(r, a))
            continue;
        if (only_deferred && !deferred[i])
            continue;
        if (!only_deferred &&
            (kind_deferred(r, a) ||
             (a->stage > 0 && a->ref.ns[0] != '\0' && json_object_get(newns, a->ref.ns) != NULL))) {
            deferred[i] = true;
            continue;
        }
        idx[n++] = i;
    }
    json_decref(newns);
    items = batch_items(plan, idx, n, err);
    free(idx);
    if (items == NULL)
        return -1;
    memset(&b, 0, sizeof(b));
    b.r = r;
    b.items = items;
    b.n = n;
    b.dry = true;
    b.phase = SL_PHASE_DRYRUN;
    b.what = "validate";
    batch_run(&b);
    for (size_t i = 0; i < n; i++) {
        const struct sl_action *a = &plan->items[items[i].idx];
        if (items[i].rc == 0 || (items[i].immutable && force_recreate(r, a->desired)))
            continue; /* accepted, or will be recreated */
        sl_error_set(err, items[i].err.code, "dry run rejected %s: %s", items[i].where,
                     items[i].err.msg);
        goto done;
    }
    rc = 0;
done:
    batch_free(items, n);
    return rc;
}

/* Wait until every stage-0 object just applied is Current (CRDs established). */
static int settle(struct run *r, const struct sl_plan *plan, struct sl_error *err)
{
    int64_t deadline = now_ms() + (r->o->settle_timeout_ms > 0 ? r->o->settle_timeout_ms : 60000);
    bool crd = false;

    for (size_t i = 0; i < plan->n; i++) {
        const struct sl_action *a = &plan->items[i];
        char api[300], msg[256], where[700];
        if (a->desired == NULL || a->stage != 0 || !wants_write(r, a))
            continue;
        if (strcmp(a->ref.kind, "CustomResourceDefinition") == 0)
            crd = true;
        api_version_of(&a->ref, api, sizeof(api));
        for (;;) {
            json_t *live = NULL;
            struct sl_error gerr = SL_ERROR_INIT;
            enum sl_health h = SL_HEALTH_NOT_FOUND;
            if (r->cl->ops->get(r->cl->ctx, api, a->ref.kind, a->ref.ns, a->ref.name, &live,
                                &gerr) == 0) {
                h = sl_health_compute(live, time(NULL), msg, sizeof(msg));
                json_decref(live);
            } else if (gerr.code != SL_ENOTFOUND) {
                sl_error_set(err, gerr.code, "%s", gerr.msg);
                return -1;
            }
            if (h == SL_HEALTH_CURRENT)
                break;
            object_where(a, where, sizeof(where));
            if (h == SL_HEALTH_FAILED)
                return sl_error_set(err, SL_EINVAL, "%s failed: %s", where, msg);
            if (now_ms() > deadline)
                return sl_error_set(err, SL_ETIMEOUT, "%s did not become ready", where);
            if (canceled(r))
                return sl_error_set(err, SL_ECANCELED, "canceled");
            sleep_ms(r, 500);
        }
    }
    if (crd && r->cl->ops->invalidate != NULL) {
        r->cl->ops->invalidate(r->cl->ctx);
        json_object_clear(r->kinds);
    }
    return 0;
}

static int apply_one(struct run *r, struct sl_action *a, struct sl_error *err)
{
    struct sl_error aerr = SL_ERROR_INIT;
    bool immutable = false;
    char where[700], api[300];

    object_where(a, where, sizeof(where));
    progress(r, SL_PHASE_APPLY, where, sl_action_name(a->type));
    r->res->writes++;
    if (r->cl->ops->apply(r->cl->ctx, a->desired, false, r->o->force_conflicts, NULL, &immutable,
                          &aerr) == 0)
        return 0;
    if (!(immutable && force_recreate(r, a->desired))) {
        sl_error_set(err, aerr.code, "apply %s: %s", where, aerr.msg);
        return -1;
    }
    /* immutable field changed and recreation is allowed: delete, wait for 404, apply */
    progress(r, SL_PHASE_APPLY, where, "recreate (immutable field)");
    api_version_of(&a->ref, api, sizeof(api));
    sl_error_clear(&aerr);
    r->res->writes++;
    if (r->cl->ops->del(r->cl->ctx, api, a->ref.kind, a->ref.ns, a->ref.name, &aerr) != 0 &&
        aerr.code != SL_ENOTFOUND) {
        sl_error_set(err, aerr.code, "recreate %s: delete: %s", where, aerr.msg);
        return -1;
    }
    for (int i = 0; i < 600 && !canceled(r); i++) {
        json_t *live = NULL;
        sl_error_clear(&aerr);
        if (r->cl->ops->get(r->cl->ctx, api, a->ref.kind, a->ref.ns, a->ref.name, &live, &aerr) !=
                    0 &&
            aerr.code == SL_ENOTFOUND)
            break;
        json_decref(live);
        sleep_ms(r, 100);
    }
    sl_error_clear(&aerr);
    r->res->writes++;
    if (r->cl->ops->apply(r->cl->ctx, a->desired, false, r->o->force_conflicts, NULL, NULL,
                          &aerr) != 0) {
        sl_error_set(err, aerr.code, "recreate %s: %s", where, aerr.msg);
        return -1;
    }
    return 0;
}

/* Delete one prune candidate after a fresh GET; false = keep it in the inventory. */
static bool prune_one(struct run *r, const struct sl_action *a)
{
    struct sl_error e = SL_ERROR_INIT;
    json_t *live = NULL;
    char api[300], where[700];
    const json_t *md;
    const char *keep;

    object_where(a, where, sizeof(where));
    api_version_of(&a->ref, api, sizeof(api));
    if (r->cl->ops->get(r->cl->ctx, api, a->ref.kind, a->ref.ns, a->ref.name, &live, &e) != 0) {
        if (e.code == SL_ENOTFOUND)
            return true;
        set_object(r, where, "prune", "", e.msg);
        sl_log_warn("prune failed", "env", r->env->name, "object", where, "error", e.msg);
        return false;
    }
    md = json_object_get(live, "metadata");
    keep = json_string_value(json_object_get(json_object_get(md, "annotations"), SL_ANNOT_PRUNE));
    if (!sl_owned_by(live, r->o->agent, r->env->name) ||
        (keep != NULL && strcmp(keep, "disabled") == 0)) {
        json_decref(live);
        return true; /* changed hands since the LIST: not ours to delete */
    }
    json_decref(live);
    progress(r, SL_PHASE_PRUNE, where, "delete");
    r->res->writes++;
    if (r->cl->ops->del(r->cl->ctx, api, a->ref.kind, a->ref.ns, a->ref.name, &e) != 0 &&
        e.code != SL_ENOTFOUND) {
        set_object(r, where, "prune", "", e.msg);
        sl_log_warn("prune failed", "env", r->env->name, "object", where, "error", e.msg);
        return false;
    }
    r->res->pruned++;
    return true;
}

/* One kind's LIST on its own connection. */
struct list_job {
    struct run *r;
    void *ctx;
    const char *api, *kind, *selector;
    json_t *items;
    int rc;
    struct sl_error err;
};

static void *list_job_run(void *arg)
{
    struct list_job *j = arg;

    j->rc = j->r->cl->ops->list(j->ctx, j->api, j->kind, NULL, j->selector, &j->items, &j->err);
    return NULL;
}

/*
 * list_live for a health look: the kinds of objs listed at once over the pool's
 * connections (a look at Deployments and StatefulSets takes as long as the slower LIST,
 * not both). One kind, or more kinds than connections: one after the other.
 */
static int list_live_parallel(struct run *r, const struct sl_objlist *objs, json_t **out,
                              struct sl_error *err)
{
    struct sl_inventory none = {0};
    struct kindset ks = {json_object()};
    struct list_job jobs[17];
    pthread_t tid[17];
    bool started[17] = {false}, failed = false;
    json_t *all = NULL, *pair;
    const char *key;
    size_t n = 0;
    int rc = -1;

    *out = NULL;
    for (size_t i = 0; i < objs->n; i++)
        kindset_add(&ks, json_string_value(json_object_get(objs->items[i].json, "apiVersion")),
                    json_string_value(json_object_get(objs->items[i].json, "kind")));
    if (json_object_size(ks.map) >= 2)
        pool_fill(r);
    if (json_object_size(ks.map) < 2 || json_object_size(ks.map) > r->npool + 1) {
        json_decref(ks.map);
        return list_live(r, objs, &none, out, err);
    }
    json_object_foreach(ks.map, key, pair)
    {
        struct sl_error kerr = SL_ERROR_INIT;
        const char *api = json_string_value(json_array_get(pair, 0));
        const char *kind = json_string_value(json_array_get(pair, 1));
        int scope = kind_scope(r, api, kind, &kerr);

        if (scope < 0) {
            if (kerr.code == SL_ENOTFOUND)
                continue; /* not served (yet): nothing of it is live */
            sl_error_set(err, kerr.code, "%s", kerr.msg);
            goto done;
        }
        memset(&jobs[n], 0, sizeof(jobs[n]));
        jobs[n].r = r;
        jobs[n].ctx = n == 0 ? r->cl->ctx : r->pool[n - 1];
        jobs[n].api = api;
        jobs[n].kind = kind;
        jobs[n].selector = scope == 0 ? r->agent_selector : r->selector;
        n++;
    }
    for (size_t i = 1; i < n; i++)
        started[i] = pthread_create(&tid[i], NULL, list_job_run, &jobs[i]) == 0;
    if (n > 0)
        list_job_run(&jobs[0]);
    for (size_t i = 1; i < n; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            list_job_run(&jobs[i]);
    }
    all = json_array();
    for (size_t i = 0; i < n; i++) {
        size_t j;
        json_t *e;
        if (jobs[i].rc != 0) {
            if (!failed)
                sl_error_set(err, jobs[i].err.code, "list %s: %s", jobs[i].kind, jobs[i].err.msg);
            failed = true;
            continue;
        }
        json_array_foreach(jobs[i].items, j, e)
        {
            if (json_object_get(e, "apiVersion") == NULL)
                json_object_set_new(e, "apiVersion", json_string(jobs[i].api));
            if (json_object_get(e, "kind") == NULL)
                json_object_set_new(e, "kind", json_string(jobs[i].kind));
        }
        json_array_extend(all, jobs[i].items);
    }
    if (failed)
        goto done;
    *out = all;
    all = NULL;
    rc = 0;
done:
    for (size_t i = 0; i < n; i++)
        json_decref(jobs[i].items);
    json_decref(all);
    json_decref(ks.map);
    return rc;
}

/* ---- health ---- */

/*
 * The pause before the next health look, elapsed ms into the wait: 10 ms for the first
 * quarter second (workloads applied last are often ready within it, and a look that comes
 * late delays the whole result by as much), then a quarter of the time waited so far (a
 * look is never later than a quarter of the wait, and a slow rollout on a real cluster
 * costs a few LISTs, not one every 10 ms), at most the poll interval. The client's rate
 * limit (cluster.qps) applies to these LISTs as to every request.
 */
static int64_t health_delay(int64_t elapsed, int64_t poll)
{
    int64_t d = elapsed < 250 ? 10 : elapsed / 4;

    return d < poll ? d : poll;
}

/* The first health look at one object, before any request of the health wait. */
struct first_look {
    enum sl_health h; /* SL_HEALTH_UNKNOWN: not known (no answer kept) */
    char msg[256];
};

/*
 * Wait until every desired object is Current. Round 0 needs no request: it looks at
 * what the apply answers said (first[i]) and, for objects not written, at the objects
 * the plan listed; later rounds LIST the kinds with objects not yet Current.
 */
static int wait_health_rounds(struct run *r, const struct sl_plan *plan,
                              const struct first_look *first, bool *done, struct sl_error *err)
{
    int64_t timeout = r->env->health_timeout_ms > 0 ? r->env->health_timeout_ms : 300000;
    int64_t start = now_ms(), last_check = start;
    int64_t poll = r->o->poll_interval_ms > 0 ? r->o->poll_interval_ms : 2000;

    progress(r, SL_PHASE_HEALTH, NULL, "waiting for health");
    for (int round = 0;; round++) {
        json_t *live = NULL, *idx = json_object();
        char worst[700] = "", msg[256], where[700];
        enum sl_health worst_h = SL_HEALTH_CURRENT;
        size_t i, j;
        json_t *e;

        if (round == 0) {
            live = json_array();
            for (i = 0; i < plan->n; i++)
                if (plan->items[i].live != NULL && first[i].h == SL_HEALTH_UNKNOWN &&
                    !wants_write(r, &plan->items[i]))
                    json_array_append(live, plan->items[i].live);
        } else {
            /*
             * Only the kinds of objects not yet Current are listed again: once
             * ConfigMaps and Services are Current, a look at a slow Deployment
             * costs one LIST instead of one per kind.
             */
            struct sl_objlist pending = SL_OBJLIST_INIT;
            int lrc = 0;
            for (i = 0; i < plan->n && lrc == 0; i++)
                if (plan->items[i].desired != NULL && !done[i])
                    lrc = sl_objlist_add(&pending, json_incref(plan->items[i].desired), NULL, 0,
                                         err);
            if (lrc == 0)
                lrc = list_live_parallel(r, &pending, &live, err);
            sl_objlist_release(&pending);
            if (lrc != 0) {
                json_decref(idx);
                return -1;
            }
        }
        json_array_foreach(live, j, e)
        {
            struct sl_ref ref;
            char key[768];
            if (sl_ref_from_object(&ref, e, NULL) != 0)
                continue;
            snprintf(key, sizeof(key), "%s_%s_%s_%s", ref.ns, ref.name, ref.group, ref.kind);
            sl_ref_release(&ref);
            json_object_set(idx, key, e);
        }
        for (i = 0; i < plan->n; i++) {
            const struct sl_action *a = &plan->items[i];
            char key[768];
            const json_t *l;
            enum sl_health h;
            if (a->desired == NULL || done[i])
                continue;
            snprintf(key, sizeof(key), "%s_%s_%s_%s", a->ref.ns, a->ref.name, a->ref.group,
                     a->ref.kind);
            l = json_object_get(idx, key);
            object_where(a, where, sizeof(where));
            if (round == 0 && first[i].h != SL_HEALTH_UNKNOWN) {
                h = first[i].h;
                snprintf(msg, sizeof(msg), "%s", first[i].msg);
            } else if (round == 0 && l == NULL && wants_write(r, a)) {
                h = SL_HEALTH_UNKNOWN; /* written, answer not kept: the next round lists it */
                snprintf(msg, sizeof(msg), "not looked at yet");
            } else if (l == NULL) {
                h = SL_HEALTH_NOT_FOUND;
                snprintf(msg, sizeof(msg), "not found");
            } else {
                h = sl_health_compute(l, time(NULL), msg, sizeof(msg));
            }
            {
                struct sl_rc_object *ro = result_object(r, where);
                if (ro != NULL) {
                    snprintf(ro->health, sizeof(ro->health), "%s", sl_health_name(h));
                    if (h != SL_HEALTH_CURRENT)
                        snprintf(ro->detail, sizeof(ro->detail), "%s", msg);
                    else if (a->type != SL_ACT_DRIFT)
                        ro->detail[0] = '\0'; /* an earlier round's health message */
                }
            }
            if (h == SL_HEALTH_CURRENT)
                done[i] = true;
            if (h != SL_HEALTH_CURRENT && (worst_h == SL_HEALTH_CURRENT || h == SL_HEALTH_FAILED)) {
                if (worst_h != SL_HEALTH_FAILED) {
                    worst_h = h;
                    msgf(worst, sizeof(worst), "%s: %s", where, msg);
                }
            }
        }
        json_decref(live);
        json_decref(idx);
        snprintf(r->res->health, sizeof(r->res->health), "%s", sl_health_name(worst_h));
        if (worst_h == SL_HEALTH_CURRENT)
            return 0;
        if (worst_h == SL_HEALTH_FAILED)
            return sl_error_set(err, SL_EINVAL, "health check failed: %s", worst);
        if (now_ms() - start >= timeout) {
            char d[32];
            sl_format_duration(d, sizeof(d), timeout);
            return sl_error_set(err, SL_ETIMEOUT, "not healthy after %s: %s", d, worst);
        }
        if (canceled(r))
            return sl_error_set(err, SL_ECANCELED, "canceled while waiting for health");
        if (r->o->new_revision_check_ms > 0 &&
            now_ms() - last_check >= r->o->new_revision_check_ms && r->cur_source[0] != '\0') {
            char *rev = NULL, *ref = NULL;
            struct sl_error rerr = SL_ERROR_INIT;
            last_check = now_ms();
            if (r->ds->refresh != NULL)
                r->ds->refresh(r->ds->ctx);
            if (r->ds->resolve(r->ds->ctx, r->env, &rev, &ref, &rerr) == 0 && rev != NULL &&
                strcmp(rev, r->cur_source) != 0) {
                sl_error_set(err, SL_ECANCELED,
                             "a newer revision %s appeared while waiting for "
                             "health",
                             rev);
                free(rev);
                free(ref);
                return -1;
            }
            free(rev);
            free(ref);
        }
        if (round == 0 || round % 5 == 0)
            progress(r, SL_PHASE_HEALTH, NULL, worst);
        /*
         * Look again soon at first: most rollouts are quick, and every look that
         * comes late costs the whole wait the time it was late. A look is one
         * LIST per kind with objects not yet Current.
         */
        sleep_ms(r, health_delay(now_ms() - start, poll));
    }
}

/* ---- one revision ---- */

static void record_plan(struct run *r, const struct sl_plan *plan)
{
    for (size_t i = 0; i < plan->n; i++) {
        const struct sl_action *a = &plan->items[i];
        char where[700];
        object_where(a, where, sizeof(where));
        set_object(r, where, sl_action_name(a->type), "", a->reason);
        switch (a->type) {
        case SL_ACT_CREATE:
            r->res->created++;
            break;
        case SL_ACT_UPDATE:
            r->res->updated++;
            break;
        case SL_ACT_DRIFT:
            r->res->drifted++;
            break;
        case SL_ACT_UNCHANGED:
            r->res->unchanged++;
            break;
        case SL_ACT_KEEP:
            r->res->kept++;
            break;
        case SL_ACT_SHARED:
            r->res->shared++;
            break;
        default:
            break;
        }
    }
}

static void reset_counts(struct run *r)
{
    struct sl_rc_result *res = r->res;

    json_object_clear(r->objidx);
    res->created = res->updated = res->unchanged = res->pruned = res->drifted = res->kept =
            res->failed = res->shared = 0;
    res->nobjects = 0;
}

/*
 * Apply objs (a prepared, rendered revision) and wait for health. *applied_any tells the
 * caller whether the cluster may have changed. On failure err says why; *rejected is set
 * when nothing at all was written (render, plan or dry run refused it).
 */
static int apply_revision(struct run *r, struct sl_objlist *objs, bool *rejected,
                          struct sl_error *err)
{
    struct sl_plan plan = {0};
    struct sl_inventory next = {0};
    struct first_look *first = NULL;
    bool *deferred = NULL, *healthy = NULL, need_write = false;
    int rc = -1;

    *rejected = true;
    r->unhealthy = false;
    reset_counts(r);
    if (prepare_objects(r, objs, err) != 0)
        return -1;
    progress(r, SL_PHASE_PLAN, NULL, "listing live objects");
    if (build_plan(r, objs, &r->st->inventory, &plan, err) != 0)
        return -1;
    first = calloc(plan.n + 1, sizeof(*first));
    healthy = calloc(plan.n + 1, sizeof(*healthy));
    if (first == NULL || healthy == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < plan.n; i++)
        first[i].h = SL_HEALTH_UNKNOWN;
    snprintf(r->res->digest, sizeof(r->res->digest), "%s", plan.digest);
    record_plan(r, &plan);
    for (size_t i = 0; i < plan.n; i++)
        if ((plan.items[i].desired != NULL && wants_write(r, &plan.items[i])) ||
            plan.items[i].type == SL_ACT_PRUNE)
            need_write = true;
    r->res->drift_reported_only = r->env->drift == SL_DRIFT_REPORT && plan.ndrift > 0;
    if (need_write) {
        deferred = calloc(plan.n + 1, sizeof(*deferred));
        if (deferred == NULL) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            goto done;
        }
        if (dry_run(r, &plan, deferred, false, err) != 0)
            goto done;
        /* everything this run may create is in the inventory before the first write */
        if (sl_inventory_copy(&next, &r->st->inventory, err) != 0)
            goto done;
        for (size_t i = 0; i < plan.n; i++) {
            struct sl_ref ref;
            if (plan.items[i].desired == NULL ||
                sl_inventory_find(&next, plan.items[i].ref.group, plan.items[i].ref.kind,
                                  plan.items[i].ref.ns, plan.items[i].ref.name) >= 0)
                continue;
            ref = plan.items[i].ref;
            ref.digest = NULL;
            if (sl_inventory_add(&next, &ref, err) != 0)
                goto done;
        }
        sl_inventory_release(&r->st->inventory);
        r->st->inventory = next;
        memset(&next, 0, sizeof(next));
        if (sl_state_save(r->cfg->state_dir, r->st, err) != 0)
            goto done;
        *rejected = false;
        /* apply stage by stage; inside a stage kind by kind, each kind in parallel */
        for (int stage = 0; stage <= 2; stage++) {
            size_t i = 0;
            while (i < plan.n) {
                size_t j = i, n = 0, *idx;
                struct batch_item *items;
                struct batch b;
                int brc = 0;
                if (plan.items[i].desired == NULL || plan.items[i].stage != stage) {
                    i++;
                    continue;
                }
                /* the group: same stage and kind rank (the plan is sorted) */
                while (j < plan.n && plan.items[j].desired != NULL &&
                       plan.items[j].stage == stage &&
                       sl_kind_rank(plan.items[j].ref.kind) == sl_kind_rank(plan.items[i].ref.kind))
                    j++;
                idx = calloc(j - i + 1, sizeof(*idx));
                if (idx == NULL) {
                    sl_error_set(err, SL_ENOMEM, "out of memory");
                    goto done;
                }
                for (size_t k = i; k < j; k++)
                    if (wants_write(r, &plan.items[k]))
                        idx[n++] = k;
                items = batch_items(&plan, idx, n, err);
                free(idx);
                if (items == NULL)
                    goto done;
                if (canceled(r)) {
                    batch_free(items, n);
                    sl_error_set(err, SL_ECANCELED, "canceled during apply");
                    goto done;
                }
                memset(&b, 0, sizeof(b));
                b.r = r;
                b.items = items;
                b.n = n;
                b.phase = SL_PHASE_APPLY;
                b.what = "apply";
                batch_run(&b);
                for (size_t k = 0; k < n && brc == 0; k++) {
                    struct sl_action *a = &plan.items[items[k].idx];
                    if (items[k].rc == 0) {
                        first[items[k].idx].h = items[k].health;
                        memcpy(first[items[k].idx].msg, items[k].health_msg, sizeof(first[0].msg));
                    } else {
                        if (items[k].immutable && force_recreate(r, a->desired)) {
                            brc = apply_one(r, a, err);
                        } else {
                            sl_error_set(err, items[k].err.code, "apply %s: %s", items[k].where,
                                         items[k].err.msg);
                            brc = -1;
                        }
                        if (brc != 0) {
                            set_object(r, items[k].where, "failed", "", err->msg);
                            r->res->failed++;
                        }
                    }
                }
                batch_free(items, n);
                if (brc != 0)
                    goto done;
                /* what is live now matches these digests */
                for (size_t k = i; k < j; k++) {
                    struct sl_action *a = &plan.items[k];
                    long at;
                    if (a->type == SL_ACT_DRIFT && !wants_write(r, a))
                        continue; /* report only: what was applied last is unknown now */
                    if (a->type == SL_ACT_SHARED)
                        continue;
                    at = sl_inventory_find(&r->st->inventory, a->ref.group, a->ref.kind, a->ref.ns,
                                           a->ref.name);
                    if (at >= 0 && sl_inventory_add(&r->st->inventory, &a->ref, err) != 0)
                        goto done;
                }
                i = j;
            }
            if (stage == 0) {
                if (settle(r, &plan, err) != 0) {
                    r->unhealthy = err->code == SL_ETIMEOUT || err->code == SL_EINVAL;
                    goto done;
                }
                if (dry_run(r, &plan, deferred, true, err) != 0)
                    goto done;
            }
        }
        /* prune in reverse order (the plan lists prunes last, reversed) */
        for (size_t i = 0; i < plan.n; i++) {
            struct sl_action *a = &plan.items[i];
            if (a->type != SL_ACT_PRUNE)
                continue;
            if (canceled(r)) {
                sl_error_set(err, SL_ECANCELED, "canceled during prune");
                goto done;
            }
            if (prune_one(r, a))
                a->type = SL_ACT_GONE; /* deleted: leaves the inventory */
        }
    } else {
        *rejected = false;
    }
    /* the inventory is now: desired objects + prune survivors + kept namespaces */
    for (size_t i = 0; i < plan.n; i++) {
        const struct sl_action *a = &plan.items[i];
        if (a->desired != NULL) {
            struct sl_ref ref = a->ref;
            long at = sl_inventory_find(&r->st->inventory, ref.group, ref.kind, ref.ns, ref.name);
            if (a->type == SL_ACT_DRIFT && !wants_write(r, a) && at >= 0)
                ref.digest = r->st->inventory.items[at].digest;
            if (sl_inventory_add(&next, &ref, err) != 0)
                goto done;
        } else if (a->type == SL_ACT_PRUNE ||
                   (a->type == SL_ACT_KEEP && strcmp(a->ref.kind, "Namespace") == 0 &&
                    strncmp(a->reason, "namespace", 9) == 0)) {
            if (sl_inventory_add(&next, &a->ref, err) != 0)
                goto done;
        }
    }
    sl_inventory_release(&r->st->inventory);
    r->st->inventory = next;
    memset(&next, 0, sizeof(next));
    if (need_write && sl_state_save(r->cfg->state_dir, r->st, err) != 0)
        goto done;
    if (wait_health_rounds(r, &plan, first, healthy, err) != 0) {
        r->unhealthy = err->code != SL_ECANCELED && err->code != SL_EIO && err->code != SL_EAUTH;
        goto done;
    }
    rc = 0;
done:
    free(deferred);
    free(first);
    free(healthy);
    sl_inventory_release(&next);
    sl_plan_release(&plan);
    return rc;
}

/* ---- inventory mirror ---- */

static int mirror_write(struct run *r, struct sl_error *err)
{
    char name[300];
    json_t *inv = sl_inventory_to_json(&r->st->inventory), *cm, *e;
    char *text;
    size_t i;
    int rc;

    if (inv == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    /*
     * Digests stay local (a digest of a Secret is a hash of its values): the mirror only
     * lists what sluice owns; after a recovery objects are compared with live instead.
     */
    json_array_foreach(inv, i, e)
    {
        json_object_del(e, "digest");
    }
    text = json_dumps(inv, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(inv);
    if (text == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    sl_inventory_configmap_name(r->env->name, name, sizeof(name));
    cm = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s, s:s}}, s:{s:s, s:s?, s:s?}}", "apiVersion",
                   "v1", "kind", "ConfigMap", "metadata", "name", name, "namespace",
                   mirror_namespace(r->env), "labels", SL_LABEL_MANAGED_BY, SL_LABEL_MANAGED_VALUE,
                   SL_LABEL_AGENT, r->o->agent, "sluice.dev/inventory", r->env->name, "data",
                   "inventory", text, "lastGoodRevision", r->st->last_good_revision,
                   "lastGoodDigest", r->st->last_good_digest);
    free(text);
    if (cm == NULL)
        return sl_error_set(err, SL_ENOMEM, "out of memory");
    r->res->writes++;
    rc = r->cl->ops->apply(r->cl->ctx, cm, false, true, NULL, NULL, err);
    json_decref(cm);
    if (rc != 0)
        sl_error_wrap(err, "inventory ConfigMap %s/%s", mirror_namespace(r->env), name);
    return rc;
}

/* A new machine: no local state yet, recover the inventory from the cluster's mirror. */
static int mirror_recover(struct run *r, struct sl_error *err)
{
    char name[300];
    json_t *cm = NULL, *inv = NULL;
    struct sl_error gerr = SL_ERROR_INIT;
    const json_t *data;
    const char *text, *lg, *lgd;
    int rc = -1;

    sl_inventory_configmap_name(r->env->name, name, sizeof(name));
    if (r->cl->ops->get(r->cl->ctx, "v1", "ConfigMap", mirror_namespace(r->env), name, &cm,
                        &gerr) != 0) {
        if (gerr.code == SL_ENOTFOUND)
            return 0;
        sl_error_set(err, gerr.code, "read inventory ConfigMap: %s", gerr.msg);
        return -1;
    }
    data = json_object_get(cm, "data");
    text = json_string_value(json_object_get(data, "inventory"));
    lg = json_string_value(json_object_get(data, "lastGoodRevision"));
    lgd = json_string_value(json_object_get(data, "lastGoodDigest"));
    if (text != NULL) {
        inv = json_loads(text, 0, NULL);
        if (inv == NULL || sl_inventory_from_json(&r->st->inventory, inv, err) != 0) {
            sl_error_set(err, SL_EPARSE, "inventory ConfigMap %s is corrupt", name);
            goto done;
        }
    }
    if (lg != NULL && (r->st->last_good_revision = strdup(lg)) == NULL)
        goto done;
    if (lgd != NULL && (r->st->last_good_digest = strdup(lgd)) == NULL)
        goto done;
    sl_log_info("recovered inventory from the cluster", "env", r->env->name, "configmap", name);
    rc = 0;
done:
    json_decref(inv);
    json_decref(cm);
    return rc;
}

/* ---- the run ---- */

static void add_history(struct run *r, const char *revision, enum sl_result result, bool rollback,
                        int64_t started, int64_t dur, const char *msg)
{
    struct sl_history_entry h = {0};
    struct sl_error e = SL_ERROR_INIT;

    h.revision = (char *)(uintptr_t)revision;
    h.digest = r->res->digest[0] ? r->res->digest : NULL;
    h.result = result;
    h.rollback = rollback;
    h.started = started;
    h.duration_ms = dur;
    h.created = r->res->created;
    h.updated = r->res->updated;
    h.unchanged = r->res->unchanged;
    h.pruned = r->res->pruned;
    h.drifted = r->res->drifted;
    h.message = msg != NULL && msg[0] ? (char *)(uintptr_t)msg : NULL;
    if (r->st->nhistory > 0) {
        /* the same outcome again (a rejected revision every interval): one entry, updated */
        struct sl_history_entry *last = &r->st->history[r->st->nhistory - 1];
        if (!rollback && !last->rollback && last->result == result && last->revision != NULL &&
            revision != NULL && strcmp(last->revision, revision) == 0 &&
            result != SL_RESULT_HEALTHY) {
            last->started = started;
            last->duration_ms = dur;
            return;
        }
    }
    if (sl_state_add_history(r->st, &h, &e) != 0)
        sl_log_warn("history entry dropped", "env", r->env->name, "error", e.msg);
}

static void release_objs(struct run *r, struct sl_objlist *objs)
{
    if (r->ds->release != NULL)
        r->ds->release(r->ds->ctx, objs);
    else
        sl_objlist_release(objs);
}

static int render(struct run *r, const char *revision, struct sl_objlist *objs,
                  struct sl_error *err)
{
    progress(r, SL_PHASE_RENDER, NULL, revision);
    if (r->ds->render(r->ds->ctx, r->env, revision, objs, err) != 0)
        return sl_error_wrap(err, "render %s", revision);
    return 0;
}

static int set_str(char **dst, const char *src)
{
    char *p = src != NULL ? strdup(src) : NULL;
    if (src != NULL && p == NULL)
        return -1;
    free(*dst);
    *dst = p;
    return 0;
}

static void finish_last(struct run *r, const char *msg)
{
    r->st->last_time = time(NULL);
    r->st->last_result = r->res->result;
    r->st->last_drifted = r->res->drifted;
    set_str(&r->st->last_health, r->res->health[0] ? r->res->health : NULL);
    set_str(&r->st->last_message, msg != NULL && msg[0] ? msg : NULL);
}

static int load_control(struct run *r, struct sl_control *ctl, struct sl_error *err)
{
    int fd = -1, rc;

    if (sl_control_lock(r->cfg->state_dir, r->env->name, 10000, &fd, err) != 0)
        return -1;
    rc = sl_control_load(r->cfg->state_dir, r->env->name, ctl, err);
    if (rc == 0 && ctl->retry) {
        /* `sluice retry`: forget bad marks once */
        sl_state_clear_bad(r->st);
        ctl->retry = false;
        rc = sl_control_save(r->cfg->state_dir, r->env->name, ctl, err);
    }
    sl_state_unlock(fd);
    return rc;
}

static int clear_pin(struct run *r, struct sl_error *err)
{
    struct sl_control c = {0};
    int fd = -1, rc = -1;

    if (sl_control_lock(r->cfg->state_dir, r->env->name, 10000, &fd, err) != 0)
        return -1;
    if (sl_control_load(r->cfg->state_dir, r->env->name, &c, err) == 0) {
        free(c.pin_revision);
        free(c.pin_source_revision);
        c.pin_revision = c.pin_source_revision = NULL;
        rc = sl_control_save(r->cfg->state_dir, r->env->name, &c, err);
    }
    sl_control_release(&c);
    sl_state_unlock(fd);
    return rc;
}

int sl_reconcile_env(const struct sl_config *cfg, const struct sl_env_config *env,
                     const struct sl_cluster *cluster, const struct sl_desired *desired,
                     const struct sl_rc_opts *opts, struct sl_rc_result *res, struct sl_error *err)
{
    struct run r = {.cfg = cfg,
                    .env = env,
                    .cl = cluster,
                    .ds = desired,
                    .o = opts,
                    .res = res,
                    .kinds = json_object(),
                    .deferred = json_object(),
                    .objidx = json_object()};
    struct sl_control ctl = {0};
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_error aerr = SL_ERROR_INIT;
    char *cur = NULL, *ref = NULL, *mirror_before = NULL, *mirror_after = NULL;
    char target[128]; /* a copy: the state strings it may come from are replaced below */
    int64_t t0 = now_ms(), started = time(NULL);
    int lockfd = -1, rc = -1;
    bool rejected = false, fresh_state;
    char prev_applied[128] = "";

    memset(res, 0, sizeof(*res));
    snprintf(r.selector, sizeof(r.selector), "%s=%s,%s=%s,%s=%s", SL_LABEL_MANAGED_BY,
             SL_LABEL_MANAGED_VALUE, SL_LABEL_AGENT, opts->agent, SL_LABEL_ENV, env->name);
    snprintf(r.agent_selector, sizeof(r.agent_selector), "%s=%s,%s=%s", SL_LABEL_MANAGED_BY,
             SL_LABEL_MANAGED_VALUE, SL_LABEL_AGENT, opts->agent);
    if (r.kinds == NULL || r.deferred == NULL) {
        sl_error_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    if (sl_state_lock(cfg->state_dir, env->name, &lockfd, err) != 0)
        goto out;
    if (sl_state_load(cfg->state_dir, env->name, &r.st, err) != 0)
        goto out;
    fresh_state = r.st->last_good_revision == NULL && r.st->inventory.n == 0 && r.st->nhistory == 0;
    if (load_control(&r, &ctl, err) != 0)
        goto out;
    if (ctl.suspended) {
        res->result = SL_RESULT_SKIPPED;
        msgf(res->message, sizeof(res->message), "environment %s is suspended", env->name);
        snprintf(res->revision, sizeof(res->revision), "%s",
                 r.st->applied_revision ? r.st->applied_revision : "");
        rc = 0;
        goto out; /* a suspended environment is not touched, not even its state */
    }
    if (fresh_state && mirror_recover(&r, err) != 0)
        goto out;
    {
        json_t *m = sl_inventory_to_json(&r.st->inventory);
        mirror_before = m ? json_dumps(m, JSON_COMPACT) : NULL;
        json_decref(m);
    }
    if (r.st->applied_revision != NULL)
        snprintf(prev_applied, sizeof(prev_applied), "%s", r.st->applied_revision);

    progress(&r, SL_PHASE_RESOLVE, NULL, env->name);
    if (desired->resolve(desired->ctx, env, &cur, &ref, &aerr) != 0) {
        res->result = SL_RESULT_FAILED;
        msgf(res->message, sizeof(res->message), "resolve revision: %s", aerr.msg);
        finish_last(&r, res->message);
        sl_state_save(cfg->state_dir, r.st, NULL);
        sl_error_set(err, aerr.code, "%s", res->message);
        goto out;
    }
    snprintf(r.cur_source, sizeof(r.cur_source), "%s", cur);
    snprintf(res->ref, sizeof(res->ref), "%s", ref ? ref : "");
    snprintf(target, sizeof(target), "%s", cur);
    if (ctl.pin_revision != NULL) {
        if (ctl.pin_source_revision != NULL && strcmp(ctl.pin_source_revision, cur) != 0) {
            sl_log_notice("pin released: a newer revision appeared", "env", env->name, "pin",
                          ctl.pin_revision, "revision", cur);
            if (clear_pin(&r, err) != 0)
                goto out;
        } else {
            snprintf(target, sizeof(target), "%s", ctl.pin_revision);
            snprintf(res->ref, sizeof(res->ref), "pinned by rollback");
        }
    }
    if (sl_state_is_bad(r.st, target)) {
        if (r.st->last_good_revision == NULL) {
            res->result = SL_RESULT_FAILED;
            msgf(res->message, sizeof(res->message),
                 "revision %s is marked bad and there is no good revision; waiting for a "
                 "newer revision or `sluice retry %s`",
                 target, env->name);
            snprintf(res->target, sizeof(res->target), "%s", target);
            finish_last(&r, res->message);
            if (sl_state_save(cfg->state_dir, r.st, err) != 0)
                goto out;
            rc = 0;
            goto out;
        }
        /* keep the last good revision in sync (drift, prune) until git moves on */
        sl_log_info("revision marked bad, holding the last good one", "env", env->name, "revision",
                    target, "last_good", r.st->last_good_revision);
        snprintf(target, sizeof(target), "%s", r.st->last_good_revision);
    }
    snprintf(res->target, sizeof(res->target), "%s", target);

    if (render(&r, target, &objs, &aerr) != 0) {
        res->result = SL_RESULT_REJECTED;
        msgf(res->message, sizeof(res->message), "%s", aerr.msg);
        snprintf(res->revision, sizeof(res->revision), "%s", prev_applied);
        add_history(&r, target, SL_RESULT_REJECTED, false, started, now_ms() - t0, aerr.msg);
        finish_last(&r, aerr.msg);
        if (sl_state_save(cfg->state_dir, r.st, err) != 0)
            goto out;
        rc = 0;
        goto out;
    }
    if (apply_revision(&r, &objs, &rejected, &aerr) == 0) {
        bool changed = strcmp(prev_applied, target) != 0 || res->writes > 0 ||
                       r.st->last_result != SL_RESULT_HEALTHY;
        res->result = SL_RESULT_HEALTHY;
        snprintf(res->revision, sizeof(res->revision), "%s", target);
        if (set_str(&r.st->last_good_revision, target) != 0 ||
            set_str(&r.st->last_good_digest, res->digest) != 0 ||
            set_str(&r.st->applied_revision, target) != 0) {
            sl_error_set(err, SL_ENOMEM, "out of memory");
            goto out;
        }
        if (changed) {
            r.st->last_good_time = time(NULL);
            add_history(&r, target, SL_RESULT_HEALTHY, false, started, now_ms() - t0, NULL);
        }
        {
            char found[sizeof(res->message)] = "";
            if (r.ds->findings != NULL)
                r.ds->findings(r.ds->ctx, env, target, found, sizeof(found));
            if (found[0] != '\0')
                msgf(res->message, sizeof(res->message), "%s%s",
                     res->drift_reported_only ? "drift reported, not corrected; " : "", found);
            else if (res->drift_reported_only)
                msgf(res->message, sizeof(res->message), "drift reported, not corrected");
            finish_last(&r, res->message[0] != '\0' ? res->message : NULL);
        }
    } else if (aerr.code == SL_ECANCELED) {
        res->result = SL_RESULT_FAILED;
        msgf(res->message, sizeof(res->message), "%s", aerr.msg);
        snprintf(res->revision, sizeof(res->revision), "%s", rejected ? prev_applied : target);
        if (!rejected && set_str(&r.st->applied_revision, target) != 0)
            goto out;
        finish_last(&r, aerr.msg);
    } else if (is_transient(aerr.code) && !r.unhealthy) {
        /* the cluster is unreachable or overloaded: fail cleanly, retry next time */
        res->result = SL_RESULT_FAILED;
        msgf(res->message, sizeof(res->message), "%s", aerr.msg);
        snprintf(res->revision, sizeof(res->revision), "%s", rejected ? prev_applied : target);
        if (!rejected && set_str(&r.st->applied_revision, target) != 0)
            goto out;
        add_history(&r, target, SL_RESULT_FAILED, false, started, now_ms() - t0, aerr.msg);
        finish_last(&r, aerr.msg);
    } else {
        char failmsg[SL_ERROR_MSG_MAX];
        bool is_last_good =
                r.st->last_good_revision != NULL && strcmp(r.st->last_good_revision, target) == 0;
        snprintf(failmsg, sizeof(failmsg), "%s", aerr.msg);
        msgf(res->message, sizeof(res->message), "%s", failmsg);
        add_history(&r, target, rejected ? SL_RESULT_REJECTED : SL_RESULT_FAILED, false, started,
                    now_ms() - t0, failmsg);
        if (!is_last_good && sl_state_mark_bad(r.st, target, failmsg, time(NULL), err) != 0)
            goto out;
        if (rejected) {
            res->result = SL_RESULT_REJECTED;
            snprintf(res->revision, sizeof(res->revision), "%s", prev_applied);
            finish_last(&r, failmsg);
        } else if (r.st->last_good_revision == NULL || is_last_good) {
            res->result = SL_RESULT_FAILED;
            snprintf(res->revision, sizeof(res->revision), "%s", target);
            if (set_str(&r.st->applied_revision, target) != 0)
                goto out;
            finish_last(&r, failmsg);
        } else {
            /* roll back: re-render the last good revision and apply it the same way */
            char lg[128];
            int64_t t1 = now_ms(), started1 = time(NULL);
            bool rej2 = false;
            snprintf(lg, sizeof(lg), "%s", r.st->last_good_revision);
            snprintf(res->failed_revision, sizeof(res->failed_revision), "%s", target);
            progress(&r, SL_PHASE_ROLLBACK, NULL, lg);
            sl_log_warn("release failed, rolling back", "env", env->name, "revision", target,
                        "last_good", lg, "error", failmsg);
            release_objs(&r, &objs);
            sl_error_clear(&aerr);
            if (render(&r, lg, &objs, &aerr) == 0 && apply_revision(&r, &objs, &rej2, &aerr) == 0) {
                res->result = SL_RESULT_ROLLED_BACK;
                snprintf(res->revision, sizeof(res->revision), "%s", lg);
                msgf(res->message, sizeof(res->message),
                     "revision %s failed (%s); rolled back to %s", target, failmsg, lg);
                if (set_str(&r.st->applied_revision, lg) != 0)
                    goto out;
                add_history(&r, lg, SL_RESULT_HEALTHY, true, started1, now_ms() - t1, NULL);
            } else {
                res->result = SL_RESULT_FAILED;
                snprintf(res->revision, sizeof(res->revision), "%s", lg);
                msgf(res->message, sizeof(res->message),
                     "revision %s failed (%s); rollback to %s failed too: %s", target, failmsg, lg,
                     aerr.msg);
                if (set_str(&r.st->applied_revision, lg) != 0)
                    goto out;
                add_history(&r, lg, SL_RESULT_FAILED, true, started1, now_ms() - t1, aerr.msg);
            }
            finish_last(&r, res->message);
            /* the run's outcome is ROLLED_BACK/FAILED even though the rollback is healthy */
            r.st->last_result = res->result;
        }
    }
    if (sl_state_save(cfg->state_dir, r.st, err) != 0)
        goto out;
    {
        json_t *m = sl_inventory_to_json(&r.st->inventory);
        mirror_after = m ? json_dumps(m, JSON_COMPACT) : NULL;
        json_decref(m);
    }
    if (res->result != SL_RESULT_REJECTED &&
        (mirror_before == NULL || mirror_after == NULL ||
         strcmp(mirror_before, mirror_after) != 0 ||
         (res->result == SL_RESULT_HEALTHY && strcmp(prev_applied, target) != 0))) {
        struct sl_error merr = SL_ERROR_INIT;
        if (mirror_write(&r, &merr) != 0)
            sl_log_warn("inventory mirror not written", "env", env->name, "error", merr.msg);
    }
    rc = 0;
out:
    res->duration_ms = now_ms() - t0;
    progress(&r, SL_PHASE_DONE, NULL, sl_result_name(res->result));
    free(mirror_before);
    free(mirror_after);
    free(cur);
    free(ref);
    release_objs(&r, &objs);
    sl_control_release(&ctl);
    sl_state_free(r.st);
    pool_release(&r);
    json_decref(r.kinds);
    json_decref(r.deferred);
    json_decref(r.objidx);
    sl_state_unlock(lockfd);
    return rc;
}

int sl_reconcile_plan(const struct sl_config *cfg, const struct sl_env_config *env,
                      const struct sl_cluster *cluster, const struct sl_desired *desired,
                      const struct sl_rc_opts *opts, const char *revision, struct sl_objlist *objs,
                      struct sl_plan *plan, char **revision_out, struct sl_error *err)
{
    struct sl_rc_result res;
    struct run r = {.cfg = cfg,
                    .env = env,
                    .cl = cluster,
                    .ds = desired,
                    .o = opts,
                    .res = &res,
                    .kinds = json_object(),
                    .deferred = json_object(),
                    .objidx = json_object()};
    char *cur = NULL, *ref = NULL;
    int rc = -1;

    memset(&res, 0, sizeof(res));
    memset(plan, 0, sizeof(*plan));
    *revision_out = NULL;
    snprintf(r.selector, sizeof(r.selector), "%s=%s,%s=%s,%s=%s", SL_LABEL_MANAGED_BY,
             SL_LABEL_MANAGED_VALUE, SL_LABEL_AGENT, opts->agent, SL_LABEL_ENV, env->name);
    snprintf(r.agent_selector, sizeof(r.agent_selector), "%s=%s,%s=%s", SL_LABEL_MANAGED_BY,
             SL_LABEL_MANAGED_VALUE, SL_LABEL_AGENT, opts->agent);
    if (sl_state_load(cfg->state_dir, env->name, &r.st, err) != 0)
        goto done;
    if (revision == NULL) {
        if (desired->resolve(desired->ctx, env, &cur, &ref, err) != 0)
            goto done;
        revision = cur;
    }
    if (render(&r, revision, objs, err) != 0 || prepare_objects(&r, objs, err) != 0 ||
        build_plan(&r, objs, &r.st->inventory, plan, err) != 0)
        goto done;
    *revision_out = strdup(revision);
    rc = 0;
done:
    free(cur);
    free(ref);
    sl_state_free(r.st);
    json_decref(r.kinds);
    json_decref(r.deferred);
    json_decref(r.objidx);
    sl_rc_result_release(&res);
    return rc;
}
