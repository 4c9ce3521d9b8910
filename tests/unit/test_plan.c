#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "secmem.h"

static const struct sl_plan_opts OPTS = {"sluice", "dev", "sluice", true, NULL};

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (j == NULL)
        fail_msg("bad test JSON: %s: %s", e.text, text);
    return j;
}

static void add(struct sl_objlist *l, const char *text)
{
    struct sl_error err = SL_ERROR_INIT;
    json_t *o = J(text);
    assert_int_equal(sl_plan_prepare(o, "sluice", "dev", &err), 0);
    assert_int_equal(sl_objlist_add(l, o, "app/x.yaml", 3, &err), 0);
}

/* A live copy of a desired object as the server would return it. */
static json_t *live_of(const char *text, const char *extra_status)
{
    struct sl_error err = SL_ERROR_INIT;
    json_t *o = J(text), *md;
    assert_int_equal(sl_plan_prepare(o, "sluice", "dev", &err), 0);
    md = json_object_get(o, "metadata");
    json_object_set_new(md, "uid", json_string("u-1"));
    json_object_set_new(md, "resourceVersion", json_string("17"));
    json_object_set_new(md, "creationTimestamp", json_string("2026-01-01T00:00:00Z"));
    if (extra_status != NULL)
        json_object_set_new(o, "status", J(extra_status));
    return o;
}

static const char *DEPLOY =
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
        "\"namespace\":\"shop\"},\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":"
        "[{\"name\":\"web\",\"image\":\"nginx:1\"}]}}}}";
static const char *NS = "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
                        "\"shop\"}}";
static const char *CM = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                        "\"cfg\",\"namespace\":\"shop\"},\"data\":{\"a\":\"1\"}}";

static void test_kind_order(void **s)
{
    (void)s;
    assert_int_equal(sl_kind_stage("CustomResourceDefinition"), 0);
    assert_int_equal(sl_kind_stage("Namespace"), 0);
    assert_int_equal(sl_kind_stage("ClusterRole"), 0);
    assert_int_equal(sl_kind_stage("StorageClass"), 1);
    assert_int_equal(sl_kind_stage("Class"), 2);
    assert_int_equal(sl_kind_stage("Deployment"), 2);
    assert_true(sl_kind_rank("ConfigMap") < sl_kind_rank("Deployment"));
    assert_true(sl_kind_rank("Deployment") < sl_kind_rank("Widget"));
    assert_true(sl_kind_rank("Widget") < sl_kind_rank("ValidatingWebhookConfiguration"));
}

static void test_prepare(void **s)
{
    struct sl_error err = SL_ERROR_INIT;
    json_t *o = J("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\","
                  "\"creationTimestamp\":null,\"labels\":{\"app\":\"x\"}},\"stringData\":{\"pw\":"
                  "\"hunter2\"},\"data\":{\"k\":\"dg==\"},\"status\":{}}");
    json_t *labels;
    (void)s;
    assert_int_equal(sl_plan_prepare(o, "agent1", "prod", &err), 0);
    labels = json_object_get(json_object_get(o, "metadata"), "labels");
    assert_string_equal(json_string_value(json_object_get(labels, "app")), "x");
    assert_string_equal(json_string_value(json_object_get(labels, SL_LABEL_MANAGED_BY)), "sluice");
    assert_string_equal(json_string_value(json_object_get(labels, SL_LABEL_AGENT)), "agent1");
    assert_string_equal(json_string_value(json_object_get(labels, SL_LABEL_ENV)), "prod");
    assert_null(json_object_get(o, "stringData"));
    assert_null(json_object_get(o, "status"));
    assert_null(json_object_get(json_object_get(o, "metadata"), "creationTimestamp"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "data"), "pw")),
                        "aHVudGVyMg==");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "data"), "k")),
                        "dg==");
    assert_true(sl_owned_by(o, "agent1", "prod"));
    assert_false(sl_owned_by(o, "agent1", "dev"));
    json_decref(o);
}

static void test_digest(void **s)
{
    struct sl_error err = SL_ERROR_INIT;
    char d1[SL_DIGEST_LEN], d2[SL_DIGEST_LEN], d3[SL_DIGEST_LEN];
    json_t *a = J("{\"a\":1,\"b\":{\"c\":[1,2]}}"), *b = J("{\"b\":{\"c\":[1,2]},\"a\":1}"),
           *c = J("{\"b\":{\"c\":[2,1]},\"a\":1}");
    struct sl_objlist l1 = SL_OBJLIST_INIT, l2 = SL_OBJLIST_INIT;
    (void)s;
    assert_int_equal(sl_object_digest(a, d1, &err), 0);
    assert_int_equal(sl_object_digest(b, d2, &err), 0);
    assert_int_equal(sl_object_digest(c, d3, &err), 0);
    assert_string_equal(d1, d2);
    assert_string_not_equal(d1, d3);
    assert_int_equal(strncmp(d1, "sha256:", 7), 0);
    assert_int_equal(strlen(d1), 71);
    /* set digest does not depend on order */
    add(&l1, DEPLOY);
    add(&l1, CM);
    add(&l2, CM);
    add(&l2, DEPLOY);
    assert_int_equal(sl_set_digest(&l1, d1, &err), 0);
    assert_int_equal(sl_set_digest(&l2, d2, &err), 0);
    assert_string_equal(d1, d2);
    sl_objlist_release(&l2);
    add(&l2, CM);
    assert_int_equal(sl_set_digest(&l2, d3, &err), 0);
    assert_string_not_equal(d1, d3);
    sl_objlist_release(&l1);
    sl_objlist_release(&l2);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void test_compare(void **s)
{
    char why[256];
    json_t *d = J(DEPLOY), *l;
    struct sl_error err = SL_ERROR_INIT;
    (void)s;
    assert_int_equal(sl_plan_prepare(d, "sluice", "dev", &err), 0);
    l = live_of(DEPLOY, "{\"readyReplicas\":2}");
    /* server defaults inside lists are fine */
    json_object_set_new(
            json_array_get(
                    json_object_get(
                            json_object_get(json_object_get(json_object_get(l, "spec"), "template"),
                                            "spec"),
                            "containers"),
                    0),
            "imagePullPolicy", json_string("IfNotPresent"));
    assert_true(sl_plan_compare(d, l, "sluice", why, sizeof(why)));
    json_object_set_new(json_object_get(l, "spec"), "replicas", json_integer(5));
    assert_false(sl_plan_compare(d, l, "sluice", why, sizeof(why)));
    assert_string_equal(why, ".spec.replicas");
    json_object_set_new(json_object_get(l, "spec"), "replicas", json_real(2.0));
    assert_true(sl_plan_compare(d, l, "sluice", why, sizeof(why)));
    /* a label sluice applied earlier but no longer wants is a change */
    json_object_set_new(json_object_get(json_object_get(l, "metadata"), "labels"), "old",
                        json_string("x"));
    assert_true(sl_plan_compare(d, l, "sluice", why, sizeof(why))); /* no managedFields */
    json_object_set_new(json_object_get(l, "metadata"), "managedFields",
                        J("[{\"manager\":\"other\",\"operation\":\"Apply\",\"fieldsV1\":{}},"
                          "{\"manager\":\"sluice\",\"operation\":\"Apply\",\"fieldsV1\":{"
                          "\"f:metadata\":{\"f:labels\":{\".\":{},\"f:old\":{}}},"
                          "\"f:spec\":{\"f:replicas\":{},\"f:template\":{\"f:spec\":{"
                          "\"f:containers\":{\"k:{\\\"name\\\":\\\"web\\\"}\":{\".\":{},"
                          "\"f:image\":{},\"f:name\":{}}}}}}}}]"));
    assert_false(sl_plan_compare(d, l, "sluice", why, sizeof(why)));
    assert_non_null(strstr(why, ".metadata.labels.old"));
    /* the label owned by another manager does not matter */
    assert_true(sl_plan_compare(d, l, "someone-else", why, sizeof(why)));
    json_decref(l);
    /* a keyed list entry sluice owns but no longer wants */
    l = live_of(DEPLOY, NULL);
    json_object_set_new(json_object_get(l, "metadata"), "managedFields",
                        J("[{\"manager\":\"sluice\",\"operation\":\"Apply\",\"fieldsV1\":{"
                          "\"f:spec\":{\"f:template\":{\"f:spec\":{\"f:containers\":{"
                          "\"k:{\\\"name\\\":\\\"sidecar\\\"}\":{}}}}}}}]"));
    assert_false(sl_plan_compare(d, l, "sluice", why, sizeof(why)));
    json_decref(l);
    /* another manager added a container: named lists are matched by name */
    l = live_of(DEPLOY, NULL);
    json_array_append_new(
            json_object_get(json_object_get(json_object_get(json_object_get(l, "spec"), "template"),
                                            "spec"),
                            "containers"),
            J("{\"name\":\"injected\",\"image\":\"proxy\"}"));
    assert_true(sl_plan_compare(d, l, "sluice", why, sizeof(why)));
    json_decref(l);
    json_decref(d);
}

static const struct sl_action *find(const struct sl_plan *p, const char *kind, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].ref.kind, kind) == 0 && strcmp(p->items[i].ref.name, name) == 0)
            return &p->items[i];
    fail_msg("no action for %s %s", kind, name);
    return NULL;
}

static void inv_add(struct sl_inventory *inv, const char *g, const char *k, const char *ns,
                    const char *n, const char *digest)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_ref r = {strdup(g),  strdup("v1"), strdup(k),
                       strdup(ns), strdup(n),    digest ? strdup(digest) : NULL};
    assert_int_equal(sl_inventory_add(inv, &r, &err), 0);
    sl_ref_release(&r);
}

static void test_plan_actions(void **s)
{
    struct sl_objlist desired = SL_OBJLIST_INIT;
    struct sl_inventory inv = {0};
    struct sl_plan plan;
    struct sl_error err = SL_ERROR_INIT;
    json_t *live = json_array(), *old_cm, *kept, *foreign;
    char ddig[SL_DIGEST_LEN], cdig[SL_DIGEST_LEN];
    (void)s;

    add(&desired, DEPLOY);
    add(&desired, CM);
    add(&desired, NS);
    add(&desired, "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\","
                  "\"namespace\":\"shop\"},\"spec\":{\"ports\":[{\"port\":80}]}}");
    assert_int_equal(sl_object_digest(desired.items[0].json, ddig, &err), 0);
    assert_int_equal(sl_object_digest(desired.items[1].json, cdig, &err), 0);
    /* Deployment: live drifted (replicas), digest recorded => drift */
    json_array_append_new(live, live_of(DEPLOY, NULL));
    json_object_set_new(json_object_get(json_array_get(live, 0), "spec"), "replicas",
                        json_integer(9));
    inv_add(&inv, "apps", "Deployment", "shop", "web", ddig);
    /* ConfigMap: live equals, digest differs => update (git changed) */
    json_array_append_new(live, live_of(CM, NULL));
    inv_add(&inv, "", "ConfigMap", "shop", "cfg", "sha256:old");
    /* Namespace: live equals, no digest => unchanged */
    json_array_append_new(live, live_of(NS, NULL));
    /* Service: not live => create */
    /* inventory leftovers */
    old_cm = live_of("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                     "\"old\",\"namespace\":\"shop\"}}",
                     NULL);
    json_array_append_new(live, old_cm);
    inv_add(&inv, "", "ConfigMap", "shop", "old", "x");
    kept = live_of("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                   "\"kept\",\"namespace\":\"shop\",\"annotations\":{\"sluice.dev/prune\":"
                   "\"disabled\"}}}",
                   NULL);
    json_array_append_new(live, kept);
    inv_add(&inv, "", "ConfigMap", "shop", "kept", "x");
    foreign = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"foreign\","
                "\"namespace\":\"shop\",\"labels\":{\"app.kubernetes.io/managed-by\":\"sluice\","
                "\"sluice.dev/agent\":\"sluice\",\"sluice.dev/environment\":\"prod\"}}}");
    json_array_append_new(live, foreign);
    inv_add(&inv, "", "ConfigMap", "shop", "foreign", "x");
    inv_add(&inv, "apps", "Deployment", "shop", "gone", "x");

    assert_int_equal(sl_plan_build(&plan, &desired, live, &inv, &OPTS, &err), 0);
    assert_int_equal(find(&plan, "Deployment", "web")->type, SL_ACT_DRIFT);
    assert_string_equal(find(&plan, "Deployment", "web")->reason, ".spec.replicas");
    assert_int_equal(find(&plan, "ConfigMap", "cfg")->type, SL_ACT_UPDATE);
    assert_int_equal(find(&plan, "Namespace", "shop")->type, SL_ACT_UNCHANGED);
    assert_int_equal(find(&plan, "Service", "web")->type, SL_ACT_CREATE);
    assert_int_equal(find(&plan, "ConfigMap", "old")->type, SL_ACT_PRUNE);
    assert_int_equal(find(&plan, "ConfigMap", "kept")->type, SL_ACT_KEEP);
    assert_int_equal(find(&plan, "ConfigMap", "foreign")->type, SL_ACT_KEEP);
    assert_int_equal(find(&plan, "Deployment", "gone")->type, SL_ACT_GONE);
    assert_int_equal(plan.ncreate, 1);
    assert_int_equal(plan.nupdate, 1);
    assert_int_equal(plan.ndrift, 1);
    assert_int_equal(plan.nunchanged, 1);
    assert_int_equal(plan.nprune, 1);
    assert_int_equal(plan.nkeep, 2);
    assert_int_equal(plan.ngone, 1);
    /* apply order: Namespace, ConfigMap, Service, Deployment; then prunes */
    assert_string_equal(plan.items[0].ref.kind, "Namespace");
    assert_string_equal(plan.items[1].ref.kind, "ConfigMap");
    assert_string_equal(plan.items[2].ref.kind, "Service");
    assert_string_equal(plan.items[3].ref.kind, "Deployment");
    assert_string_equal(plan.items[4].ref.kind, "Deployment"); /* prunes: reverse order */
    assert_non_null(plan.items[0].origin);
    assert_int_equal(plan.items[0].origin->line, 3);
    sl_plan_release(&plan);

    /* prune disabled for the environment */
    {
        struct sl_plan_opts o = OPTS;
        o.prune = false;
        assert_int_equal(sl_plan_build(&plan, &desired, live, &inv, &o, &err), 0);
        assert_int_equal(find(&plan, "ConfigMap", "old")->type, SL_ACT_KEEP);
        assert_int_equal(plan.nprune, 0);
        sl_plan_release(&plan);
    }
    /* no drift after a successful apply: same digest, live equal */
    sl_inventory_release(&inv);
    inv_add(&inv, "apps", "Deployment", "shop", "web", ddig);
    json_object_set_new(json_object_get(json_array_get(live, 0), "spec"), "replicas",
                        json_integer(2));
    assert_int_equal(sl_plan_build(&plan, &desired, live, &inv, &OPTS, &err), 0);
    assert_int_equal(find(&plan, "Deployment", "web")->type, SL_ACT_UNCHANGED);
    sl_plan_release(&plan);

    sl_inventory_release(&inv);
    sl_objlist_release(&desired);
    json_decref(live);
}

static void test_duplicates(void **s)
{
    struct sl_objlist desired = SL_OBJLIST_INIT;
    struct sl_inventory inv = {0};
    struct sl_plan plan;
    struct sl_error err = SL_ERROR_INIT;
    json_t *live = json_array();
    (void)s;
    add(&desired, CM);
    add(&desired, CM);
    assert_int_equal(sl_plan_build(&plan, &desired, live, &inv, &OPTS, &err), -1);
    assert_non_null(strstr(err.msg, "app/x.yaml:3"));
    assert_non_null(strstr(err.msg, "defined twice"));
    sl_objlist_release(&desired);
    json_decref(live);
}

static void test_namespace_prune(void **s)
{
    struct sl_objlist desired = SL_OBJLIST_INIT;
    struct sl_inventory inv = {0};
    struct sl_plan plan;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_plan_opts o = OPTS;
    json_t *live = json_array(), *contents;
    json_t *ns = live_of("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
                         "\"old\"}}",
                         NULL);
    json_t *cm = live_of("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                         "\"c\",\"namespace\":\"old\"}}",
                         NULL);
    (void)s;
    json_array_append(live, ns);
    json_array_append(live, cm);
    inv_add(&inv, "", "Namespace", "", "old", "x");
    inv_add(&inv, "", "ConfigMap", "old", "c", "x");
    /* contents unknown: keep */
    assert_int_equal(sl_plan_build(&plan, &desired, live, &inv, &o, &err), 0);
    assert_int_equal(find(&plan, "Namespace", "old")->type, SL_ACT_KEEP);
    assert_int_equal(find(&plan, "ConfigMap", "c")->type, SL_ACT_PRUNE);
    sl_plan_release(&plan);
    /* contents: only our ConfigMap, also pruned: delete, ConfigMap first */
    contents = json_pack("{s:[O]}", "old", cm);
    o.ns_contents = contents;
    assert_int_equal(sl_plan_build(&plan, &desired, live, &inv, &o, &err), 0);
    assert_int_equal(find(&plan, "Namespace", "old")->type, SL_ACT_PRUNE);
    assert_string_equal(plan.items[0].ref.kind, "ConfigMap");
    assert_string_equal(plan.items[1].ref.kind, "Namespace");
    sl_plan_release(&plan);
    /* a foreign Pod in it: keep */
    json_array_append_new(json_object_get(contents, "old"),
                          J("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
                            "\"p\",\"namespace\":\"old\"}}"));
    assert_int_equal(sl_plan_build(&plan, &desired, live, &inv, &o, &err), 0);
    assert_int_equal(find(&plan, "Namespace", "old")->type, SL_ACT_KEEP);
    assert_non_null(strstr(find(&plan, "Namespace", "old")->reason, "Pod old/p"));
    sl_plan_release(&plan);
    json_decref(contents);
    json_decref(ns);
    json_decref(cm);
    json_decref(live);
    sl_inventory_release(&inv);
}

static void test_shared_cluster_object(void **s)
{
    struct sl_objlist desired = SL_OBJLIST_INIT;
    struct sl_inventory inv = {0};
    struct sl_plan plan;
    struct sl_error err = SL_ERROR_INIT;
    json_t *live = json_array(), *crd, *labels;
    static const char *CRD = "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":"
                             "\"CustomResourceDefinition\",\"metadata\":{\"name\":\"w.x.io\","
                             "\"labels\":{\"tier\":\"dev\"}},\"spec\":{\"group\":\"x.io\"}}";
    (void)s;
    /* applied first by environment prod */
    crd = J(CRD);
    assert_int_equal(sl_plan_prepare(crd, "sluice", "prod", &err), 0);
    json_array_append_new(live, crd);
    add(&desired, CRD);
    inv_add(&inv, "apiextensions.k8s.io", "CustomResourceDefinition", "", "w.x.io", NULL);
    assert_int_equal(sl_plan_build(&plan, &desired, live, &inv, &OPTS, &err), 0);
    assert_int_equal(find(&plan, "CustomResourceDefinition", "w.x.io")->type, SL_ACT_UNCHANGED);
    labels = json_object_get(json_object_get(desired.items[0].json, "metadata"), "labels");
    assert_string_equal(json_string_value(json_object_get(labels, SL_LABEL_ENV)), "prod");
    sl_plan_release(&plan);
    /* dev renders it differently: not applied, reported */
    json_object_set_new(labels, "tier", json_string("other"));
    assert_int_equal(sl_plan_build(&plan, &desired, live, &inv, &OPTS, &err), 0);
    assert_int_equal(find(&plan, "CustomResourceDefinition", "w.x.io")->type, SL_ACT_SHARED);
    assert_non_null(strstr(find(&plan, "CustomResourceDefinition", "w.x.io")->reason, "prod"));
    assert_int_equal(plan.nshared, 1);
    sl_plan_release(&plan);
    /* dev drops it from git: prod's object is not pruned by dev */
    sl_objlist_release(&desired);
    assert_int_equal(sl_plan_build(&plan, &desired, live, &inv, &OPTS, &err), 0);
    assert_int_equal(find(&plan, "CustomResourceDefinition", "w.x.io")->type, SL_ACT_KEEP);
    sl_plan_release(&plan);
    sl_inventory_release(&inv);
    json_decref(live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_kind_order),      cmocka_unit_test(test_prepare),
            cmocka_unit_test(test_digest),          cmocka_unit_test(test_compare),
            cmocka_unit_test(test_plan_actions),    cmocka_unit_test(test_duplicates),
            cmocka_unit_test(test_namespace_prune), cmocka_unit_test(test_shared_cluster_object),
    };
    struct sl_error err = SL_ERROR_INIT;
    if (sl_secmem_init(&err) != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
