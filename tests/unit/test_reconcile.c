/*
 * The engine against an in-memory cluster (struct sl_cluster) and an in-memory source:
 * first deploy, no-change run without writes, update, prune with keep, drift, automatic
 * rollback with bad marks and retry, dry-run rejection, transient failures, suspend,
 * pin. kubesim integration tests cover the same paths through the real client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "secmem.h"

/* ---- fake cluster ---- */

struct fake {
    pthread_mutex_t mu; /* f_apply runs on several threads when cloned */
    json_t *objs;       /* key -> object */
    unsigned writes, dry_runs, lists, gets, requests;
    bool fail_all; /* every request fails with SL_EIO */
    uint64_t rv;
};

static void fkey(char *out, size_t n, const char *api, const char *kind, const char *ns,
                 const char *name)
{
    snprintf(out, n, "%s|%s|%s|%s", api, kind, ns ? ns : "", name);
}

static int f_resolve(void *ctx, const char *api, const char *kind, bool *namespaced,
                     struct sl_error *err)
{
    static const char *const cluster_kinds[] = {"Namespace", "CustomResourceDefinition",
                                                "ClusterRole"};
    static const char *const ns_kinds[] = {"ConfigMap",  "Secret",         "Service",
                                           "Deployment", "ServiceAccount", "Pod"};
    struct fake *f = ctx;
    const char *key;
    json_t *o;
    (void)api;
    for (size_t i = 0; i < 3; i++)
        if (strcmp(kind, cluster_kinds[i]) == 0) {
            *namespaced = false;
            return 0;
        }
    for (size_t i = 0; i < 6; i++)
        if (strcmp(kind, ns_kinds[i]) == 0) {
            *namespaced = true;
            return 0;
        }
    json_object_foreach(f->objs, key, o)
    {
        const json_t *spec = json_object_get(o, "spec");
        const char *k = json_string_value(json_object_get(json_object_get(spec, "names"), "kind"));
        if (strstr(key, "CustomResourceDefinition") != NULL && k != NULL && strcmp(k, kind) == 0) {
            *namespaced = true;
            return 0;
        }
    }
    return sl_error_set(err, SL_ENOTFOUND, "no matches for kind \"%s\"", kind);
}

static void f_invalidate(void *ctx)
{
    (void)ctx;
}

static bool matches_selector(const json_t *o, const char *sel)
{
    const json_t *labels = json_object_get(json_object_get(o, "metadata"), "labels");
    char buf[512], *save = NULL, *tok;
    if (sel == NULL)
        return true;
    snprintf(buf, sizeof(buf), "%s", sel);
    for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        const char *v;
        *eq = '\0';
        v = json_string_value(json_object_get(labels, tok));
        if (v == NULL || strcmp(v, eq + 1) != 0)
            return false;
    }
    return true;
}

static int f_list(void *ctx, const char *api, const char *kind, const char *ns, const char *sel,
                  json_t **items, struct sl_error *err)
{
    struct fake *f = ctx;
    const char *key;
    json_t *o;
    f->requests++;
    f->lists++;
    if (f->fail_all)
        return sl_error_set(err, SL_EIO, "connection refused");
    *items = json_array();
    json_object_foreach(f->objs, key, o)
    {
        const json_t *md = json_object_get(o, "metadata");
        const char *ons = json_string_value(json_object_get(md, "namespace"));
        if (strcmp(json_string_value(json_object_get(o, "kind")), kind) != 0 ||
            strcmp(json_string_value(json_object_get(o, "apiVersion")), api) != 0)
            continue;
        if (ns != NULL && (ons == NULL || strcmp(ons, ns) != 0))
            continue;
        if (matches_selector(o, sel))
            json_array_append_new(*items, json_deep_copy(o));
    }
    return 0;
}

static int f_get(void *ctx, const char *api, const char *kind, const char *ns, const char *name,
                 json_t **out, struct sl_error *err)
{
    struct fake *f = ctx;
    char key[512];
    json_t *o;
    f->requests++;
    f->gets++;
    if (f->fail_all)
        return sl_error_set(err, SL_EIO, "connection refused");
    fkey(key, sizeof(key), api, kind, ns, name);
    o = json_object_get(f->objs, key);
    if (o == NULL)
        return sl_error_set(err, SL_ENOTFOUND, "%s \"%s\" not found", kind, name);
    *out = json_deep_copy(o);
    return 0;
}

static const char *image_of(const json_t *o)
{
    const json_t *c = json_array_get(
            json_object_get(json_object_get(json_object_get(json_object_get(o, "spec"), "template"),
                                            "spec"),
                            "containers"),
            0);
    return json_string_value(json_object_get(c, "image"));
}

static int f_apply_locked(void *ctx, const json_t *obj, bool dry_run, bool force, json_t **out,
                          bool *immutable, struct sl_error *err)
{
    struct fake *f = ctx;
    const json_t *md = json_object_get(obj, "metadata");
    const char *api = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    char key[512], nskey[512];
    json_t *o, *old, *omd;
    bool namespaced;
    (void)force;
    f->requests++;
    if (immutable != NULL)
        *immutable = false;
    if (f->fail_all)
        return sl_error_set(err, SL_EIO, "connection refused");
    if (json_object_get(json_object_get(md, "annotations"), "test/reject") != NULL)
        return sl_error_set(err, SL_EINVAL, "%s \"%s\" is invalid: spec.x: Invalid value", kind,
                            name);
    if (f_resolve(ctx, api, kind, &namespaced, err) != 0)
        return -1;
    if (namespaced) {
        fkey(nskey, sizeof(nskey), "v1", "Namespace", NULL, ns ? ns : "");
        if (ns == NULL || json_object_get(f->objs, nskey) == NULL)
            return sl_error_set(err, SL_ENOTFOUND, "namespaces \"%s\" not found", ns ? ns : "");
    }
    if (dry_run) {
        f->dry_runs++;
        return 0;
    }
    f->writes++;
    fkey(key, sizeof(key), api, kind, ns, name);
    o = json_deep_copy(obj);
    old = json_object_get(f->objs, key);
    omd = json_object_get(o, "metadata");
    json_object_set_new(omd, "uid", json_string("uid"));
    json_object_set_new(omd, "resourceVersion", json_integer((json_int_t)++f->rv));
    json_object_set_new(
            omd, "generation",
            json_integer(old ? json_integer_value(json_object_get(json_object_get(old, "metadata"),
                                                                  "generation")) +
                                         1
                             : 1));
    if (strcmp(kind, "Deployment") == 0) {
        const char *img = image_of(o);
        json_int_t gen = json_integer_value(json_object_get(omd, "generation"));
        json_int_t rep =
                json_integer_value(json_object_get(json_object_get(o, "spec"), "replicas"));
        if (json_object_get(json_object_get(o, "spec"), "replicas") == NULL)
            rep = 1;
        if (img != NULL && strstr(img, "broken") != NULL)
            json_object_set_new(o, "status",
                                json_pack("{s:I, s:I, s:I, s:I, s:I}", "observedGeneration", gen,
                                          "replicas", rep + 1, "updatedReplicas", (json_int_t)1,
                                          "readyReplicas", rep, "availableReplicas", rep));
        else
            json_object_set_new(o, "status",
                                json_pack("{s:I, s:I, s:I, s:I, s:I, s:[{s:s, s:s}]}",
                                          "observedGeneration", gen, "replicas", rep,
                                          "updatedReplicas", rep, "readyReplicas", rep,
                                          "availableReplicas", rep, "conditions", "type",
                                          "Available", "status", "True"));
    }
    json_object_set_new(f->objs, key, o);
    if (out != NULL)
        *out = json_deep_copy(o);
    return 0;
}

static int f_apply(void *ctx, const json_t *obj, bool dry_run, bool force, json_t **out,
                   bool *immutable, struct sl_error *err)
{
    struct fake *f = ctx;
    int rc;
    pthread_mutex_lock(&f->mu);
    rc = f_apply_locked(ctx, obj, dry_run, force, out, immutable, err);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static unsigned clones;

static void *f_clone(void *ctx, unsigned share, struct sl_error *err)
{
    (void)share;
    (void)err;
    clones++;
    return ctx;
}

static void f_release_clone(void *c)
{
    (void)c;
    clones--;
}

static int f_del(void *ctx, const char *api, const char *kind, const char *ns, const char *name,
                 struct sl_error *err)
{
    struct fake *f = ctx;
    char key[512];
    f->requests++;
    if (f->fail_all)
        return sl_error_set(err, SL_EIO, "connection refused");
    fkey(key, sizeof(key), api, kind, ns, name);
    if (json_object_get(f->objs, key) == NULL)
        return sl_error_set(err, SL_ENOTFOUND, "not found");
    f->writes++;
    json_object_del(f->objs, key);
    return 0;
}

static const struct sl_cluster_ops fake_ops = {f_resolve, f_invalidate, f_list, f_get,
                                               f_apply,   f_del,        NULL,   NULL};
static const struct sl_cluster_ops fake_parallel_ops = {
        f_resolve, f_invalidate, f_list, f_get, f_apply, f_del, f_clone, f_release_clone};

/* ---- fake source: revision -> JSON array of objects ---- */

struct source {
    const char *current;
    const char *next; /* becomes current at the second resolve (a push during a run) */
    unsigned resolves;
    json_t *revs;
    unsigned renders;
};

static int s_resolve(void *ctx, const struct sl_env_config *env, char **rev, char **ref,
                     struct sl_error *err)
{
    struct source *s = ctx;
    (void)env;
    (void)err;
    if (s->resolves++ > 0 && s->next != NULL)
        s->current = s->next;
    *rev = strdup(s->current);
    *ref = strdup("refs/heads/main");
    return 0;
}

static int s_render(void *ctx, const struct sl_env_config *env, const char *rev,
                    struct sl_objlist *out, struct sl_error *err)
{
    struct source *s = ctx;
    const json_t *arr = json_object_get(s->revs, rev), *o;
    size_t i;
    (void)env;
    s->renders++;
    if (arr == NULL)
        return sl_error_set(err, SL_ENOTFOUND, "no revision %s", rev);
    json_array_foreach(arr, i, o)
    {
        if (sl_objlist_add(out, json_deep_copy(o), "environments/dev/app.yaml", (int)i + 1, err))
            return -1;
    }
    return 0;
}

/* ---- fixture ---- */

struct fx {
    char dir[64];
    struct fake f;
    struct source s;
    struct sl_cluster cl;
    struct sl_desired ds;
    struct sl_config cfg;
    struct sl_env_config env;
    struct sl_rc_opts opts;
    struct sl_rc_result res;
};

#define NSOBJ "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"shop\"}}"
#define CMOBJ(name, val, extra)                                                                    \
    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" name "\"" extra      \
    "},\"data\":{\"v\":\"" val "\"}}"
#define DEPOBJ(image)                                                                              \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"         \
    "\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\","          \
    "\"image\":\"" image "\"}]}}}}"

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));
    snprintf(x->dir, sizeof(x->dir), "/tmp/sl-test-rc-XXXXXX");
    if (mkdtemp(x->dir) == NULL)
        return -1;
    x->f.objs = json_object();
    pthread_mutex_init(&x->f.mu, NULL);
    x->s.revs = json_pack(
            "{s:o, s:o, s:o, s:o, s:o}", "r1",
            json_loads("[" NSOBJ "," CMOBJ("cfg", "1", "") "," CMOBJ("old", "1", "") "," CMOBJ(
                               "kept", "1",
                               ",\"annotations\":{"
                               "\"sluice.dev/prune\":"
                               "\"disabled\"}") "," DEPOBJ("web:1") "]",
                       0, NULL),
            "r2", json_loads("[" NSOBJ "," CMOBJ("cfg", "2", "") "," DEPOBJ("web:2") "]", 0, NULL),
            "r3",
            json_loads("[" NSOBJ "," CMOBJ("cfg", "3", "") "," CMOBJ("new", "3", "") "," DEPOBJ(
                               "web:broken") "]",
                       0, NULL),
            "r4",
            json_loads("[" NSOBJ "," CMOBJ("cfg", "4",
                                           ",\"annotations\":{\"test/reject\":"
                                           "\"x\"}") "," DEPOBJ("web:4") "]",
                       0, NULL),
            "r5", json_loads("[" NSOBJ "," CMOBJ("cfg", "5", "") "," DEPOBJ("web:5") "]", 0, NULL));
    assert_non_null(x->s.revs);
    x->s.current = "r1";
    x->cl.ops = &fake_ops;
    x->cl.ctx = &x->f;
    x->ds.resolve = s_resolve;
    x->ds.render = s_render;
    x->ds.ctx = &x->s;
    x->cfg.state_dir = x->dir;
    x->cfg.name = "sluice";
    x->env.name = "dev";
    x->env.namespace = "shop";
    x->env.prune = true;
    x->env.drift = SL_DRIFT_CORRECT;
    x->env.health_timeout_ms = 300;
    x->opts.agent = "sluice";
    x->opts.field_manager = "sluice";
    x->opts.force_conflicts = true;
    x->opts.poll_interval_ms = 20;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    char *argv[] = {"rm", "-rf", x->dir, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        execvp("rm", argv);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
    json_decref(x->f.objs);
    json_decref(x->s.revs);
    sl_rc_result_release(&x->res);
    free(x);
    return 0;
}

static enum sl_result run(struct fx *x)
{
    struct sl_error err = SL_ERROR_INIT;
    int rc;
    sl_rc_result_release(&x->res);
    x->f.writes = x->f.requests = x->f.dry_runs = 0;
    rc = sl_reconcile_env(&x->cfg, &x->env, &x->cl, &x->ds, &x->opts, &x->res, &err);
    if (rc != 0)
        fail_msg("reconcile failed: %s", err.msg);
    return x->res.result;
}

static const json_t *live(struct fx *x, const char *api, const char *kind, const char *ns,
                          const char *name)
{
    char key[512];
    fkey(key, sizeof(key), api, kind, ns, name);
    return json_object_get(x->f.objs, key);
}

static struct sl_state *load(struct fx *x)
{
    struct sl_state *st = NULL;
    struct sl_error err = SL_ERROR_INIT;
    assert_int_equal(sl_state_load(x->dir, "dev", &st, &err), 0);
    return st;
}

static void test_first_deploy_then_no_writes(void **state)
{
    struct fx *x = *state;
    struct sl_state *st;
    const json_t *d;

    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_int_equal(x->res.created, 5);
    assert_string_equal(x->res.revision, "r1");
    assert_true(x->f.dry_runs >= 1);
    d = live(x, "apps/v1", "Deployment", "shop", "web");
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(
                                json_object_get(json_object_get(d, "metadata"), "labels"),
                                "sluice.dev/environment")),
                        "dev");
    assert_non_null(live(x, "v1", "ConfigMap", "shop", "sluice-inventory-dev"));
    st = load(x);
    assert_string_equal(st->last_good_revision, "r1");
    assert_int_equal(st->inventory.n, 5);
    assert_int_equal(st->nhistory, 1);
    sl_state_free(st);

    /* nothing changed: no write, no dry run, no GET; one LIST per kind (3 kinds) */
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_int_equal(x->res.unchanged, 5);
    assert_int_equal(x->f.writes, 0);
    assert_int_equal(x->f.dry_runs, 0);
    assert_int_equal(x->f.requests, 3);
    st = load(x);
    assert_int_equal(st->nhistory, 1); /* no-op runs do not flood the history */
    sl_state_free(st);
}

static void test_update_prune_keep_drift(void **state)
{
    struct fx *x = *state;
    json_t *d;

    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    x->s.current = "r2";
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_int_equal(x->res.updated, 2);
    assert_int_equal(x->res.pruned, 1);
    assert_int_equal(x->res.kept, 1);
    assert_null(live(x, "v1", "ConfigMap", "shop", "old"));
    assert_non_null(live(x, "v1", "ConfigMap", "shop", "kept"));
    assert_string_equal(image_of(live(x, "apps/v1", "Deployment", "shop", "web")), "web:2");

    /* drift: someone scales the Deployment */
    d = json_object_get(x->f.objs, "apps/v1|Deployment|shop|web");
    json_object_set_new(json_object_get(d, "spec"), "replicas", json_integer(7));
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_int_equal(x->res.drifted, 1);
    assert_int_equal(x->f.writes, 1);
    assert_int_equal(
            json_integer_value(json_object_get(
                    json_object_get(live(x, "apps/v1", "Deployment", "shop", "web"), "spec"),
                    "replicas")),
            2);
    /* report-only drift */
    d = json_object_get(x->f.objs, "v1|ConfigMap|shop|cfg");
    json_object_set_new(json_object_get(d, "data"), "v", json_string("edited"));
    x->env.drift = SL_DRIFT_REPORT;
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_int_equal(x->res.drifted, 1);
    assert_true(x->res.drift_reported_only);
    assert_int_equal(x->f.writes, 0);
}

static void test_rollback_and_bad_marks(void **state)
{
    struct fx *x = *state;
    struct sl_state *st;
    struct sl_control c = {0};
    struct sl_error err = SL_ERROR_INIT;

    x->s.current = "r2";
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    x->s.current = "r3"; /* broken image never becomes ready */
    assert_int_equal(run(x), SL_RESULT_ROLLED_BACK);
    assert_string_equal(x->res.failed_revision, "r3");
    assert_string_equal(x->res.revision, "r2");
    assert_non_null(strstr(x->res.message, "not healthy"));
    assert_string_equal(image_of(live(x, "apps/v1", "Deployment", "shop", "web")), "web:2");
    assert_null(live(x, "v1", "ConfigMap", "shop", "new")); /* added by r3: pruned */
    st = load(x);
    assert_true(sl_state_is_bad(st, "r3"));
    assert_string_equal(st->last_good_revision, "r2");
    assert_int_equal(st->history[st->nhistory - 2].result, SL_RESULT_FAILED);
    assert_true(st->history[st->nhistory - 1].rollback);
    assert_int_equal(st->last_result, SL_RESULT_ROLLED_BACK);
    sl_state_free(st);

    /* not tried again: the last good revision is kept in sync, nothing written */
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_string_equal(x->res.revision, "r2");
    assert_int_equal(x->f.writes, 0);

    /* sluice retry: tried once more (and rolled back again) */
    c.retry = true;
    assert_int_equal(sl_control_save(x->dir, "dev", &c, &err), 0);
    assert_int_equal(run(x), SL_RESULT_ROLLED_BACK);
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_int_equal(x->f.writes, 0);

    /* a newer revision is applied */
    x->s.current = "r5";
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_string_equal(image_of(live(x, "apps/v1", "Deployment", "shop", "web")), "web:5");
}

static void test_no_good_revision_no_flapping(void **state)
{
    struct fx *x = *state;
    x->s.current = "r3";
    assert_int_equal(run(x), SL_RESULT_FAILED);
    assert_int_equal(run(x), SL_RESULT_FAILED);
    assert_int_equal(x->f.requests, 0);
    assert_non_null(strstr(x->res.message, "marked bad"));
}

static void test_dry_run_rejection(void **state)
{
    struct fx *x = *state;
    json_t *before;
    char *a, *b;
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    before = json_deep_copy(x->f.objs);
    x->s.current = "r4";
    assert_int_equal(run(x), SL_RESULT_REJECTED);
    assert_int_equal(x->f.writes, 0);
    assert_non_null(strstr(x->res.message, "ConfigMap shop/cfg"));
    assert_non_null(strstr(x->res.message, "environments/dev/app.yaml:2"));
    a = json_dumps(before, JSON_SORT_KEYS);
    b = json_dumps(x->f.objs, JSON_SORT_KEYS);
    assert_string_equal(a, b);
    free(a);
    free(b);
    json_decref(before);
    assert_int_equal(run(x), SL_RESULT_HEALTHY); /* holds r1, r4 is bad */
    assert_string_equal(x->res.revision, "r1");
}

static void test_transient_failure(void **state)
{
    struct fx *x = *state;
    struct sl_state *st;
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    x->s.current = "r2";
    x->f.fail_all = true;
    assert_int_equal(run(x), SL_RESULT_FAILED);
    st = load(x);
    assert_false(sl_state_is_bad(st, "r2")); /* not the revision's fault */
    assert_string_equal(st->last_good_revision, "r1");
    sl_state_free(st);
    x->f.fail_all = false;
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_string_equal(x->res.revision, "r2");
}

static void test_suspend_and_pin(void **state)
{
    struct fx *x = *state;
    struct sl_control c = {0};
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    x->s.current = "r2";
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    c.suspended = true;
    assert_int_equal(sl_control_save(x->dir, "dev", &c, &err), 0);
    x->s.current = "r5";
    assert_int_equal(run(x), SL_RESULT_SKIPPED);
    assert_int_equal(x->f.requests, 0);
    /* rollback pin: r1 while the source still says r5 */
    c.suspended = false;
    c.pin_revision = "r1";
    c.pin_source_revision = "r5";
    assert_int_equal(sl_control_save(x->dir, "dev", &c, &err), 0);
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_string_equal(x->res.revision, "r1");
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_string_equal(x->res.revision, "r1");
    /* the source moves on: pin released */
    x->s.current = "r2";
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_string_equal(x->res.revision, "r2");
    memset(&c, 0, sizeof(c));
    assert_int_equal(sl_control_load(x->dir, "dev", &c, &err), 0);
    assert_null(c.pin_revision);
}

static void test_recover_from_mirror(void **state)
{
    struct fx *x = *state;
    char path[128];
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    /* a new machine: no local state */
    snprintf(path, sizeof(path), "%s/dev/state.json", x->dir);
    assert_int_equal(unlink(path), 0);
    x->s.current = "r2";
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_int_equal(x->res.pruned, 1); /* "old" came from the mirrored inventory */
    assert_null(live(x, "v1", "ConfigMap", "shop", "old"));
}

static void test_lock_conflict(void **state)
{
    struct fx *x = *state;
    struct sl_error err = SL_ERROR_INIT;
    int fd;
    assert_int_equal(sl_state_lock(x->dir, "dev", &fd, &err), 0);
    assert_int_equal(sl_reconcile_env(&x->cfg, &x->env, &x->cl, &x->ds, &x->opts, &x->res, &err),
                     -1);
    assert_int_equal(err.code, SL_ECONFLICT);
    sl_state_unlock(fd);
}

static void test_parallel_apply(void **state)
{
    struct fx *x = *state;
    json_t *arr = json_array();
    char buf[256];

    json_array_append_new(arr, json_loads(NSOBJ, 0, NULL));
    for (int i = 0; i < 40; i++) {
        snprintf(buf, sizeof(buf),
                 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                 "\"cm-%d\"},\"data\":{\"v\":\"%d\"}}",
                 i, i);
        json_array_append_new(arr, json_loads(buf, 0, NULL));
    }
    json_object_set_new(x->s.revs, "many", arr);
    x->s.current = "many";
    x->cl.ops = &fake_parallel_ops;
    x->opts.workers = 4;
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_int_equal(x->res.created, 41);
    assert_int_equal(x->f.dry_runs, 41); /* the Namespace, then the ConfigMaps in it */
    assert_int_equal(clones, 0);         /* every clone released */
    for (int i = 0; i < 40; i++) {
        snprintf(buf, sizeof(buf), "cm-%d", i);
        assert_non_null(live(x, "v1", "ConfigMap", "shop", buf));
    }
    /* one rejected object among many: nothing written */
    arr = json_object_get(x->s.revs, "many");
    json_array_append_new(arr, json_loads(CMOBJ("cfg", "x",
                                                ",\"annotations\":{\"test/reject\":"
                                                "\"x\"}"),
                                          0, NULL));
    x->s.current = "many";
    json_object_set(x->s.revs, "many2", arr);
    x->s.current = "many2";
    assert_int_equal(run(x), SL_RESULT_REJECTED);
    assert_int_equal(x->f.writes, 0);
    assert_non_null(strstr(x->res.message, "ConfigMap shop/cfg"));
}

static void test_newer_revision_cancels_wait(void **state)
{
    struct fx *x = *state;
    struct sl_state *st;

    x->s.current = "r2";
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    x->s.current = "r3"; /* never healthy */
    x->s.next = "r5";    /* pushed while sluice waits */
    x->s.resolves = 0;
    x->env.health_timeout_ms = 5000;
    x->opts.new_revision_check_ms = 50;
    assert_int_equal(run(x), SL_RESULT_FAILED);
    assert_non_null(strstr(x->res.message, "newer revision r5"));
    st = load(x);
    assert_false(sl_state_is_bad(st, "r3")); /* superseded, not judged */
    sl_state_free(st);
    x->s.next = NULL;
    assert_int_equal(run(x), SL_RESULT_HEALTHY);
    assert_string_equal(x->res.revision, "r5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_first_deploy_then_no_writes, setup, teardown),
            cmocka_unit_test_setup_teardown(test_update_prune_keep_drift, setup, teardown),
            cmocka_unit_test_setup_teardown(test_rollback_and_bad_marks, setup, teardown),
            cmocka_unit_test_setup_teardown(test_no_good_revision_no_flapping, setup, teardown),
            cmocka_unit_test_setup_teardown(test_dry_run_rejection, setup, teardown),
            cmocka_unit_test_setup_teardown(test_transient_failure, setup, teardown),
            cmocka_unit_test_setup_teardown(test_suspend_and_pin, setup, teardown),
            cmocka_unit_test_setup_teardown(test_recover_from_mirror, setup, teardown),
            cmocka_unit_test_setup_teardown(test_lock_conflict, setup, teardown),
            cmocka_unit_test_setup_teardown(test_parallel_apply, setup, teardown),
            cmocka_unit_test_setup_teardown(test_newer_revision_cancels_wait, setup, teardown),
    };
    struct sl_error err = SL_ERROR_INIT;
    if (sl_secmem_init(&err) != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
