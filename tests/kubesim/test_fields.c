/* Unit tests of kubesim's write algebra: field sets, server-side apply, patches, store verbs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kubesim.h"

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fail_msg("bad fixture at %d: %s", e.line, e.text);
    return j;
}

static json_t *at(json_t *o, const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save)) {
        if (json_is_array(o))
            o = json_array_get(o, strtoul(t, NULL, 10));
        else
            o = json_object_get(o, t);
    }
    return o;
}

static json_t *entry(json_t *obj, const char *manager)
{
    size_t i;
    json_t *e;
    json_array_foreach(at(obj, "metadata.managedFields"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "manager")), manager) == 0)
            return e;
    }
    return NULL;
}

#define DEPLOY                                                                                     \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","          \
    "\"labels\":{\"a\":\"1\"}},\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":"   \
    "[{\"name\":\"web\",\"image\":\"w:1\",\"ports\":[{\"containerPort\":80}]}]}}}}"

static void test_fieldset_keys(void **state)
{
    (void)state;
    json_t *d = J(DEPLOY);
    json_t *fs = ks_fieldset(d, true, false);
    json_t *c = at(fs, "f:spec.f:template.f:spec.f:containers");
    json_t *item = json_object_get(c, "k:{\"name\":\"web\"}");
    assert_non_null(item);
    assert_non_null(json_object_get(item, "."));
    assert_non_null(json_object_get(json_object_get(item, "f:ports"),
                                    "k:{\"containerPort\":80,\"protocol\":\"TCP\"}"));
    assert_null(at(fs, "f:metadata.f:name"));
    assert_non_null(at(fs, "f:metadata.f:labels.f:a"));
    /* Without a schema (custom resources) the list is one atomic leaf. */
    json_t *fs2 = ks_fieldset(d, false, false);
    assert_int_equal(json_object_size(at(fs2, "f:spec.f:template.f:spec.f:containers")), 0);
    json_decref(fs);
    json_decref(fs2);
    json_decref(d);
}

static void test_apply_create_and_noop(void **state)
{
    (void)state;
    json_t *d = J(DEPLOY), *out = NULL, *confl = NULL, *again = NULL;
    assert_int_equal(ks_apply(NULL, d, "m1", false, true, "apps/v1", &out, &confl), 0);
    json_t *e = entry(out, "m1");
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "operation")), "Apply");
    assert_int_equal(ks_apply(out, d, "m1", false, true, "apps/v1", &again, &confl), 0);
    assert_true(ks_equal_ignoring_times(out, again));
    json_decref(again);
    json_decref(out);
    json_decref(d);
}

static void test_apply_conflict_and_force(void **state)
{
    (void)state;
    json_t *d = J(DEPLOY), *live = NULL, *confl = NULL, *out = NULL;
    ks_apply(NULL, d, "m1", false, true, "apps/v1", &live, &confl);
    json_t *other = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
                      "\"web\"},\"spec\":{\"replicas\":5}}");
    assert_int_equal(ks_apply(live, other, "m2", false, true, "apps/v1", &out, &confl), 409);
    assert_null(out);
    assert_int_equal(json_array_size(confl), 1);
    assert_string_equal(json_string_value(at(confl, "0.field")), ".spec.replicas");
    assert_string_equal(json_string_value(at(confl, "0.manager")), "m1");
    json_decref(confl);
    confl = NULL;
    /* Same value: shared ownership, no conflict. */
    json_t *same = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
                     "\"web\"},\"spec\":{\"replicas\":2}}");
    assert_int_equal(ks_apply(live, same, "m2", false, true, "apps/v1", &out, &confl), 0);
    assert_non_null(at(entry(out, "m1"), "fieldsV1.f:spec.f:replicas"));
    assert_non_null(at(entry(out, "m2"), "fieldsV1.f:spec.f:replicas"));
    json_decref(out);
    assert_int_equal(ks_apply(live, other, "m2", true, true, "apps/v1", &out, &confl), 0);
    assert_int_equal(json_integer_value(at(out, "spec.replicas")), 5);
    assert_null(at(entry(out, "m1"), "fieldsV1.f:spec.f:replicas"));
    assert_non_null(at(entry(out, "m2"), "fieldsV1.f:spec.f:replicas"));
    json_decref(out);
    json_decref(same);
    json_decref(other);
    json_decref(live);
    json_decref(d);
}

static void test_apply_removes_dropped_fields(void **state)
{
    (void)state;
    json_t *d = J(DEPLOY), *live = NULL, *confl = NULL, *out = NULL;
    ks_apply(NULL, d, "m1", false, true, "apps/v1", &live, &confl);
    /* m2 co-owns label a; m1 drops label a and the ports of its container. */
    json_t *m2 = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
                   "\"web\",\"labels\":{\"a\":\"1\"}}}");
    json_t *live2 = NULL;
    assert_int_equal(ks_apply(live, m2, "m2", false, true, "apps/v1", &live2, &confl), 0);
    json_t *less = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
                     "\"web\"},\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":"
                     "[{\"name\":\"web\",\"image\":\"w:1\"}]}}}}");
    assert_int_equal(ks_apply(live2, less, "m1", false, true, "apps/v1", &out, &confl), 0);
    assert_string_equal(json_string_value(at(out, "metadata.labels.a")), "1");
    assert_null(at(out, "spec.template.spec.containers.0.ports"));
    assert_string_equal(json_string_value(at(out, "spec.template.spec.containers.0.image")), "w:1");
    json_decref(out);
    /* Dropping the whole container removes the list item. */
    json_t *none = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
                     "\"web\"},\"spec\":{\"replicas\":2}}");
    assert_int_equal(ks_apply(live2, none, "m1", false, true, "apps/v1", &out, &confl), 0);
    assert_int_equal(json_array_size(at(out, "spec.template.spec.containers")), 0);
    json_decref(out);
    json_decref(none);
    json_decref(less);
    json_decref(m2);
    json_decref(live2);
    json_decref(live);
    json_decref(d);
}

static void test_finalizers_are_a_set(void **state)
{
    (void)state;
    json_t *a = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
                  "\"finalizers\":[\"a.io/x\"]}}");
    json_t *b = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
                  "\"finalizers\":[\"b.io/y\"]}}");
    json_t *none = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                     "\"c\"}}");
    json_t *l1 = NULL, *l2 = NULL, *l3 = NULL, *confl = NULL;
    assert_int_equal(ks_apply(NULL, a, "ma", false, false, "v1", &l1, &confl), 0);
    assert_int_equal(ks_apply(l1, b, "mb", false, false, "v1", &l2, &confl), 0);
    assert_int_equal(json_array_size(at(l2, "metadata.finalizers")), 2);
    assert_non_null(at(entry(l2, "mb"), "fieldsV1.f:metadata.f:finalizers"));
    assert_non_null(json_object_get(at(entry(l2, "mb"), "fieldsV1.f:metadata.f:finalizers"),
                                    "v:\"b.io/y\""));
    assert_int_equal(ks_apply(l2, none, "ma", false, false, "v1", &l3, &confl), 0);
    assert_int_equal(json_array_size(at(l3, "metadata.finalizers")), 1);
    assert_string_equal(json_string_value(at(l3, "metadata.finalizers.0")), "b.io/y");
    json_decref(l1);
    json_decref(l2);
    json_decref(l3);
    json_decref(a);
    json_decref(b);
    json_decref(none);
}

static void test_update_transfers_ownership(void **state)
{
    (void)state;
    json_t *d = J(DEPLOY), *live = NULL, *confl = NULL;
    ks_apply(NULL, d, "m1", false, true, "apps/v1", &live, &confl);
    json_t *obj = json_deep_copy(live);
    json_object_set_new(at(obj, "spec"), "replicas", json_integer(7));
    ks_update_managed(live, obj, "scaler", "scale", true, "apps/v1");
    json_t *e = entry(obj, "scaler");
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "operation")), "Update");
    assert_string_equal(json_string_value(json_object_get(e, "subresource")), "scale");
    assert_non_null(at(e, "fieldsV1.f:spec.f:replicas"));
    assert_null(at(entry(obj, "m1"), "fieldsV1.f:spec.f:replicas"));
    json_decref(obj);
    json_decref(live);
    json_decref(d);
}

static void test_merge_patch(void **state)
{
    (void)state;
    json_t *t = J("{\"a\":{\"b\":1,\"c\":2},\"l\":[1,2]}");
    json_t *p = J("{\"a\":{\"b\":null,\"d\":3},\"l\":[3]}");
    json_t *r = ks_merge_patch(t, p);
    json_t *want = J("{\"a\":{\"c\":2,\"d\":3},\"l\":[3]}");
    assert_true(json_equal(r, want));
    json_decref(t);
    json_decref(p);
    json_decref(r);
    json_decref(want);
}

static void test_strategic_patch(void **state)
{
    (void)state;
    char err[256];
    json_t *t = J("{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"a:1\"},{\"name\":\"b\","
                  "\"image\":\"b:1\"}],\"x\":1}}");
    json_t *p = J("{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"}],\"containers\":"
                  "[{\"name\":\"a\",\"image\":\"a:2\"},{\"name\":\"b\",\"$patch\":\"delete\"},"
                  "{\"name\":\"c\",\"image\":\"c:1\"}],\"x\":null}}");
    assert_int_equal(ks_strategic_patch(t, p, true, err, sizeof err), 0);
    json_t *want = J("{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"a:2\"},{\"name\":"
                     "\"c\",\"image\":\"c:1\"}]}}");
    assert_true(json_equal(t, want));
    json_decref(t);
    json_decref(p);
    json_decref(want);
}

static void test_json_patch(void **state)
{
    (void)state;
    char err[256];
    json_t *t = J("{\"metadata\":{\"finalizers\":[\"x\"],\"labels\":{\"a/b\":\"1\"}}}");
    json_t *p = J("[{\"op\":\"test\",\"path\":\"/metadata/labels/a~1b\",\"value\":\"1\"},"
                  "{\"op\":\"remove\",\"path\":\"/metadata/finalizers\"},"
                  "{\"op\":\"add\",\"path\":\"/metadata/labels/c\",\"value\":\"2\"},"
                  "{\"op\":\"replace\",\"path\":\"/metadata/labels/a~1b\",\"value\":\"3\"}]");
    assert_int_equal(ks_json_patch(&t, p, err, sizeof err), 0);
    json_t *want = J("{\"metadata\":{\"labels\":{\"a/b\":\"3\",\"c\":\"2\"}}}");
    assert_true(json_equal(t, want));
    json_t *bad = J("[{\"op\":\"test\",\"path\":\"/metadata/labels/c\",\"value\":\"9\"}]");
    assert_int_equal(ks_json_patch(&t, bad, err, sizeof err), -1);
    json_decref(bad);
    json_decref(t);
    json_decref(p);
    json_decref(want);
}

static void test_selectors(void **state)
{
    (void)state;
    json_t *o = J("{\"metadata\":{\"name\":\"n\",\"namespace\":\"ns\",\"labels\":{\"app\":\"web\","
                  "\"tier\":\"front\"}}}");
    assert_true(ks_selector_match(o, "app=web", NULL));
    assert_true(ks_selector_match(o, "app==web,tier", NULL));
    assert_false(ks_selector_match(o, "app!=web", NULL));
    assert_true(ks_selector_match(o, "tier in (front, back)", NULL));
    assert_false(ks_selector_match(o, "tier notin (front)", NULL));
    assert_true(ks_selector_match(o, "!missing", NULL));
    assert_false(ks_selector_match(o, "missing", NULL));
    assert_true(ks_selector_match(o, NULL, "metadata.name=n,metadata.namespace!=other"));
    assert_false(ks_selector_match(o, NULL, "metadata.name=m"));
    json_decref(o);
}

static void test_store_apply_and_list(void **state)
{
    (void)state;
    struct ks_state st;
    memset(&st, 0, sizeof st);
    assert_int_equal(ks_state_init(&st), 0);
    for (int i = 0; i < 3; i++) {
        char path[128], body[256];
        snprintf(path, sizeof path, "/api/v1/namespaces/default/configmaps/c%d", i);
        snprintf(body, sizeof body,
                 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c%d\","
                 "\"labels\":{\"i\":\"%d\"}}}",
                 i, i);
        struct ks_request rq = {.method = "PATCH",
                                .path = path,
                                .content_type = "application/apply-patch+yaml",
                                .body = body,
                                .body_len = strlen(body),
                                .q_field_manager = "t"};
        struct ks_reply out = {0};
        ks_handle_api(&st, &rq, &out);
        assert_int_equal(out.code, 201);
        assert_string_equal(rq.verb, "apply");
        json_decref(out.body);
    }
    struct ks_request lrq = {.method = "GET",
                             .path = "/api/v1/namespaces/default/configmaps",
                             .q_limit = "2",
                             .q_label_selector = "i!=1"};
    struct ks_reply out = {0};
    ks_handle_api(&st, &lrq, &out);
    assert_int_equal(out.code, 200);
    assert_int_equal(json_array_size(at(out.body, "items")), 2);
    assert_null(at(out.body, "metadata.continue"));
    json_decref(out.body);
    struct ks_request nrq = {.method = "GET", .path = "/api/v1/namespaces/nope/configmaps/x"};
    struct ks_reply nout = {0};
    ks_handle_api(&st, &nrq, &nout);
    assert_int_equal(nout.code, 404);
    json_decref(nout.body);
    ks_state_free(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_fieldset_keys),
            cmocka_unit_test(test_apply_create_and_noop),
            cmocka_unit_test(test_apply_conflict_and_force),
            cmocka_unit_test(test_apply_removes_dropped_fields),
            cmocka_unit_test(test_finalizers_are_a_set),
            cmocka_unit_test(test_update_transfers_ownership),
            cmocka_unit_test(test_merge_patch),
            cmocka_unit_test(test_strategic_patch),
            cmocka_unit_test(test_json_patch),
            cmocka_unit_test(test_selectors),
            cmocka_unit_test(test_store_apply_and_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
