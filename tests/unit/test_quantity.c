/*
 * Kubernetes quantities (agent/core/quantity.c): parsing, the API server's canonical
 * form (cases from apimachinery's quantity_test.go), and the planner comparing desired
 * with live by value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"
#include "quantity.h"

static void assert_canonical(const char *in, const char *want)
{
    struct sl_qty q;
    char out[160];

    if (sl_qty_parse(in, &q) != 0)
        fail_msg("\"%s\" did not parse", in);
    assert_int_equal(sl_qty_format(&q, out, sizeof(out)), 0);
    if (strcmp(out, want) != 0)
        fail_msg("\"%s\": got \"%s\", want \"%s\"", in, out, want);
}

static void test_canonical_decimal(void **state)
{
    (void)state;
    assert_canonical("0", "0");
    assert_canonical("0.0", "0");
    assert_canonical("-0", "0");
    assert_canonical("0m", "0");
    assert_canonical("0.5", "500m");
    assert_canonical(".5", "500m");
    assert_canonical("0.1", "100m");
    assert_canonical("1", "1");
    assert_canonical("+1", "1");
    assert_canonical("-0.5", "-500m");
    assert_canonical("1000m", "1");
    assert_canonical("1500m", "1500m");
    assert_canonical("1.5", "1500m");
    assert_canonical("250m", "250m");
    assert_canonical("1000", "1k");
    assert_canonical("1500", "1500");
    assert_canonical("1000000", "1M");
    assert_canonical("1000M", "1G");
    assert_canonical("0.001", "1m");
    assert_canonical("0.0001", "100u");
    assert_canonical("1n", "1n");
    assert_canonical("1000n", "1u");
    assert_canonical("1073741824", "1073741824");
    assert_canonical("5E", "5E");
    /* beyond the largest SI suffix the exponent form keeps the value */
    assert_canonical("1000E", "1e21");
}

static void test_canonical_binary(void **state)
{
    (void)state;
    assert_canonical("1Ki", "1Ki");
    assert_canonical("1024", "1024");
    assert_canonical("1024Mi", "1Gi");
    assert_canonical("1536Mi", "1536Mi");
    assert_canonical("1.5Gi", "1536Mi");
    assert_canonical("0.5Gi", "512Mi");
    assert_canonical("1.5Ki", "1536");
    assert_canonical("0.5Ki", "512");
    assert_canonical("1023Ki", "1023Ki");
    assert_canonical("1Ei", "1Ei");
    assert_canonical("2048Ei", "2048Ei");
    assert_canonical("-1Gi", "-1Gi");
    assert_canonical("0.1Ki", "102400m"); /* 102.4: not whole, DecimalSI */
}

static void test_canonical_exponent(void **state)
{
    (void)state;
    assert_canonical("1e3", "1e3");
    assert_canonical("1e4", "10e3");
    assert_canonical("1E6", "1e6");
    assert_canonical("1.5e3", "1500");
    assert_canonical("1e0", "1");
    assert_canonical("1e-3", "1e-3");
}

static void test_rounding_to_nano(void **state)
{
    (void)state;
    /* more precise than 1n: rounded up (away from zero), as the API server does */
    assert_canonical("0.0000000001", "1n");
    assert_canonical("1.0000000001", "1000000001n");
    assert_canonical("0.9999999999", "1");
    assert_canonical("-0.0000000001", "-1n");
}

static void test_invalid(void **state)
{
    static const char *const bad[] = {"",   "abc", "1.2.3", "1Q",   "1 Gi", "e3",  "1ki",
                                      "1e", "--1", "1Gi1",  "1.5x", ".",    "1e+", "Mi"};
    struct sl_qty q;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sl_qty_parse(bad[i], &q) == 0)
            fail_msg("\"%s\" parsed as a quantity", bad[i]);
    assert_int_equal(sl_qty_parse(NULL, &q), -1);
}

static bool same(const char *a, const char *b)
{
    struct sl_qty qa, qb;

    assert_int_equal(sl_qty_parse(a, &qa), 0);
    assert_int_equal(sl_qty_parse(b, &qb), 0);
    return sl_qty_equal(&qa, &qb);
}

static void test_equal_by_value(void **state)
{
    (void)state;
    assert_true(same("0.5", "500m"));
    assert_true(same("1Gi", "1073741824"));
    assert_true(same("1G", "1000M"));
    assert_true(same("1", "1000m"));
    assert_true(same("1e3", "1k"));
    assert_true(same("2Ki", "2048"));
    assert_false(same("1Gi", "1G"));
    assert_false(same("500m", "501m"));
    assert_false(same("-1", "1"));
}

static void test_from_json(void **state)
{
    struct sl_qty q;
    char out[64];
    json_t *v;

    (void)state;
    v = json_real(0.5);
    assert_int_equal(sl_qty_from_json(v, &q), 0);
    assert_int_equal(sl_qty_format(&q, out, sizeof(out)), 0);
    assert_string_equal(out, "500m");
    json_decref(v);
    v = json_real(0.1); /* the shortest text, not 0.1000000000000000055 */
    assert_int_equal(sl_qty_from_json(v, &q), 0);
    assert_int_equal(sl_qty_format(&q, out, sizeof(out)), 0);
    assert_string_equal(out, "100m");
    json_decref(v);
    v = json_integer(2);
    assert_int_equal(sl_qty_from_json(v, &q), 0);
    assert_int_equal(sl_qty_format(&q, out, sizeof(out)), 0);
    assert_string_equal(out, "2");
    json_decref(v);
    v = json_true();
    assert_int_equal(sl_qty_from_json(v, &q), -1);
    json_decref(v);
    /* a buffer too small is an error, not a truncated quantity */
    assert_int_equal(sl_qty_parse("1536Mi", &q), 0);
    assert_int_equal(sl_qty_format(&q, out, 4), -1);
}

static void test_fields(void **state)
{
    (void)state;
    assert_true(sl_qty_map("requests", "resources"));
    assert_true(sl_qty_map("limits", "resources"));
    assert_true(sl_qty_map("hard", "spec"));
    assert_true(sl_qty_map("max", "limits")); /* LimitRange spec.limits[] */
    assert_true(sl_qty_map("podFixed", "overhead"));
    assert_true(sl_qty_map("capacity", "spec"));
    assert_false(sl_qty_map("limits", "spec"));
    assert_false(sl_qty_map("data", ""));
    assert_false(sl_qty_map("requests", "spec"));
    assert_true(sl_qty_field("cpu", "requests", true));
    assert_true(sl_qty_field("sizeLimit", "emptyDir", false));
    assert_false(sl_qty_field("sizeLimit", "data", false));
    assert_false(sl_qty_field("cpu", "data", false));
}

static void test_canonicalize_object(void **state)
{
    json_t *o = json_loads(
            "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"w\"},"
            "\"spec\":{\"replicas\":2,\"template\":{\"spec\":{"
            "\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":0.5,"
            "\"memory\":\"1024Mi\"},\"limits\":{\"cpu\":1,\"ephemeral-storage\":\"2000M\"}},"
            "\"ports\":[{\"containerPort\":8080}]}],"
            "\"volumes\":[{\"name\":\"t\",\"emptyDir\":{\"sizeLimit\":\"0.5Gi\"}}]}}}}",
            0, NULL);
    json_t *rq = json_loads("{\"kind\":\"ResourceQuota\",\"spec\":{\"hard\":{\"requests.cpu\":"
                            "\"1000m\",\"pods\":10}}}",
                            0, NULL);
    json_t *lr = json_loads("{\"kind\":\"LimitRange\",\"spec\":{\"limits\":[{\"type\":"
                            "\"Container\",\"max\":{\"cpu\":\"2000m\"},\"default\":{\"memory\":"
                            "\"0.5Gi\"}}]}}",
                            0, NULL);
    json_t *cm = json_loads("{\"kind\":\"ConfigMap\",\"data\":{\"cpu\":\"0.5\",\"limits\":"
                            "\"1000m\",\"sizeLimit\":\"0.5Gi\"}}",
                            0, NULL);
    json_t *c;

    (void)state;
    assert_non_null(o);
    assert_non_null(rq);
    assert_non_null(lr);
    assert_non_null(cm);
    sl_qty_canonicalize(o);
    c = json_array_get(
            json_object_get(json_object_get(json_object_get(json_object_get(o, "spec"), "template"),
                                            "spec"),
                            "containers"),
            0);
    assert_string_equal(
            json_string_value(json_object_get(
                    json_object_get(json_object_get(c, "resources"), "requests"), "cpu")),
            "500m");
    assert_string_equal(
            json_string_value(json_object_get(
                    json_object_get(json_object_get(c, "resources"), "requests"), "memory")),
            "1Gi");
    assert_string_equal(json_string_value(json_object_get(
                                json_object_get(json_object_get(c, "resources"), "limits"), "cpu")),
                        "1");
    assert_string_equal(json_string_value(json_object_get(
                                json_object_get(json_object_get(c, "resources"), "limits"),
                                "ephemeral-storage")),
                        "2G");
    /* not quantities: untouched */
    assert_true(json_is_integer(json_object_get(json_object_get(o, "spec"), "replicas")));
    assert_true(json_is_integer(
            json_object_get(json_array_get(json_object_get(c, "ports"), 0), "containerPort")));
    {
        const char *want = "{\"name\":\"t\",\"emptyDir\":{\"sizeLimit\":\"512Mi\"}}";
        json_t *vols = json_object_get(
                json_object_get(json_object_get(json_object_get(o, "spec"), "template"), "spec"),
                "volumes");
        json_t *w = json_loads(want, 0, NULL);
        assert_true(json_equal(json_array_get(vols, 0), w));
        json_decref(w);
    }
    sl_qty_canonicalize(rq);
    assert_string_equal(
            json_string_value(json_object_get(json_object_get(json_object_get(rq, "spec"), "hard"),
                                              "requests.cpu")),
            "1");
    assert_string_equal(json_string_value(json_object_get(
                                json_object_get(json_object_get(rq, "spec"), "hard"), "pods")),
                        "10");
    sl_qty_canonicalize(lr);
    c = json_array_get(json_object_get(json_object_get(lr, "spec"), "limits"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(c, "max"), "cpu")), "2");
    assert_string_equal(json_string_value(json_object_get(json_object_get(c, "default"), "memory")),
                        "512Mi");
    assert_string_equal(json_string_value(json_object_get(c, "type")), "Container");
    sl_qty_canonicalize(cm);
    assert_string_equal(json_string_value(json_object_get(json_object_get(cm, "data"), "cpu")),
                        "0.5");
    assert_string_equal(json_string_value(json_object_get(json_object_get(cm, "data"), "limits")),
                        "1000m");
    assert_string_equal(
            json_string_value(json_object_get(json_object_get(cm, "data"), "sizeLimit")), "0.5Gi");
    json_decref(o);
    json_decref(rq);
    json_decref(lr);
    json_decref(cm);
}

/* The planner: desired as written in git, live as the API server returns it. */
static void test_plan_compare_normalised(void **state)
{
    static const char *desired_text =
            "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"w\","
            "\"namespace\":\"n\"},\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":"
            "\"a\",\"image\":\"x\",\"resources\":{\"requests\":{\"cpu\":0.5,\"memory\":"
            "\"1073741824\"},\"limits\":{\"cpu\":\"1000m\"}}}]}},\"strategy\":{\"rollingUpdate\":"
            "{\"maxSurge\":\"1\"}}}}";
    static const char *live_text =
            "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"w\","
            "\"namespace\":\"n\",\"uid\":\"u\"},\"spec\":{\"replicas\":1,\"template\":{\"spec\":"
            "{\"containers\":[{\"name\":\"a\",\"image\":\"x\",\"resources\":{\"requests\":"
            "{\"cpu\":\"500m\",\"memory\":\"1Gi\"},\"limits\":{\"cpu\":\"1\"}}}]}},\"strategy\":"
            "{\"rollingUpdate\":{\"maxSurge\":1}}},\"status\":{}}";
    json_t *d = json_loads(desired_text, 0, NULL), *l = json_loads(live_text, 0, NULL), *lc;
    char reason[256];

    (void)state;
    assert_non_null(d);
    assert_non_null(l);
    /* replicas omitted in git and defaulted by the server: not a difference either */
    assert_true(sl_plan_compare(d, l, "sluice", reason, sizeof(reason)));
    /* a real change of value still is */
    lc = json_deep_copy(l);
    json_object_set_new(
            json_object_get(
                    json_object_get(
                            json_array_get(
                                    json_object_get(
                                            json_object_get(
                                                    json_object_get(json_object_get(lc, "spec"),
                                                                    "template"),
                                                    "spec"),
                                            "containers"),
                                    0),
                            "resources"),
                    "requests"),
            "cpu", json_string("600m"));
    assert_false(sl_plan_compare(d, lc, "sluice", reason, sizeof(reason)));
    assert_non_null(strstr(reason, "requests.cpu"));
    json_decref(lc);
    /* quantity text outside quantity fields is compared as text */
    {
        json_t *cd = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
                                "{\"name\":\"c\"},\"data\":{\"cpu\":\"0.5\"}}",
                                0, NULL);
        json_t *cl = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
                                "{\"name\":\"c\"},\"data\":{\"cpu\":\"500m\"}}",
                                0, NULL);
        assert_false(sl_plan_compare(cd, cl, "sluice", reason, sizeof(reason)));
        json_decref(cd);
        json_decref(cl);
    }
    json_decref(d);
    json_decref(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_canonical_decimal),
            cmocka_unit_test(test_canonical_binary),
            cmocka_unit_test(test_canonical_exponent),
            cmocka_unit_test(test_rounding_to_nano),
            cmocka_unit_test(test_invalid),
            cmocka_unit_test(test_equal_by_value),
            cmocka_unit_test(test_from_json),
            cmocka_unit_test(test_fields),
            cmocka_unit_test(test_canonicalize_object),
            cmocka_unit_test(test_plan_compare_normalised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
