/* API Status conversion, backoff, Retry-After, rate limit and time parsing of agent/kube. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "kube_internal.h"

static const char conflict_body[] =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"Apply failed with 1 conflict: conflict with \\\"foo\\\" using v1: "
        ".spec.replicas\",\"reason\":\"Conflict\",\"details\":{\"causes\":[{\"reason\":"
        "\"FieldManagerConflict\",\"message\":\"conflict with \\\"foo\\\" using v1\",\"field\":"
        "\".spec.replicas\"}]},\"code\":409}";

static const char invalid_body[] =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
        "\"Deployment.apps \\\"web\\\" is invalid: spec.selector: Invalid value: "
        "v1.LabelSelector{}: field is immutable\",\"reason\":\"Invalid\",\"details\":{\"name\":"
        "\"web\",\"group\":\"apps\",\"kind\":\"Deployment\",\"causes\":[{\"reason\":"
        "\"FieldValueInvalid\",\"message\":\"Invalid value: v1.LabelSelector{}: field is "
        "immutable\",\"field\":\"spec.selector\"}]},\"code\":422}";

static const char fm_required_body[] =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"PatchOptions.meta.k8s.io \\\"\\\" is invalid: fieldManager: Required value: "
        "is required for apply patch\",\"reason\":\"Invalid\",\"details\":{\"group\":"
        "\"meta.k8s.io\",\"kind\":\"PatchOptions\",\"causes\":[{\"reason\":\"FieldValueRequired\","
        "\"message\":\"Required value: is required for apply patch\",\"field\":\"fieldManager\"}]"
        "},\"code\":422}";

static void test_conflict(void **state)
{
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_error err = SL_ERROR_INIT;

    sl_kube_status_fill(&st, 409, conflict_body, strlen(conflict_body), false);
    assert_int_equal(st.http, 409);
    assert_string_equal(st.reason, "Conflict");
    assert_int_equal(st.ncauses, 1);
    assert_string_equal(st.causes[0].field, ".spec.replicas");
    assert_string_equal(st.causes[0].reason, "FieldManagerConflict");
    assert_true(sl_kube_is_conflict(&st));
    assert_false(sl_kube_is_immutable(&st));
    assert_int_equal(sl_kube_status_error(&st, "apply ConfigMap default/demo", &err), -1);
    assert_int_equal(err.code, SL_ECONFLICT);
    assert_non_null(strstr(err.msg, "apply ConfigMap default/demo: 409 Conflict: Apply failed"));
    assert_non_null(strstr(err.msg, "conflict with \"foo\""));
    assert_non_null(strstr(err.msg, ".spec.replicas"));
    assert_non_null(strstr(err.msg, "forceConflicts"));
    sl_kube_status_release(&st);
}

static void test_invalid_immutable(void **state)
{
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_error err = SL_ERROR_INIT;

    sl_kube_status_fill(&st, 422, invalid_body, strlen(invalid_body), false);
    assert_true(sl_kube_is_invalid(&st));
    assert_true(sl_kube_is_immutable(&st));
    assert_string_equal(st.causes[0].field, "spec.selector");
    sl_kube_status_error(&st, "apply Deployment.apps default/web", &err);
    assert_int_equal(err.code, SL_EINVAL);
    assert_non_null(strstr(err.msg, "422 Invalid"));
    assert_non_null(strstr(err.msg, "spec.selector"));
    assert_non_null(strstr(err.msg, "immutable"));
    sl_kube_status_release(&st);

    /* A cause whose field the message does not name is appended. */
    sl_error_clear(&err);
    sl_kube_status_fill(&st, 422, fm_required_body, strlen(fm_required_body), false);
    assert_false(sl_kube_is_immutable(&st));
    sl_kube_status_error(&st, "apply", &err);
    assert_non_null(strstr(err.msg, "fieldManager"));
    sl_kube_status_release(&st);
}

static void test_redacted(void **state)
{
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_error err = SL_ERROR_INIT;
    static const char body[] =
            "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Secret \\\"s\\\" is "
            "invalid: data[k]: Invalid value: \\\"c2VjcmV0\\\"\",\"reason\":\"Invalid\","
            "\"details\":{\"causes\":[{\"reason\":\"FieldValueInvalid\",\"message\":\"Invalid "
            "value: \\\"c2VjcmV0\\\"\",\"field\":\"data[k]\"}]},\"code\":422}";

    sl_kube_status_fill(&st, 422, body, strlen(body), true);
    assert_null(st.message);
    assert_null(st.causes[0].message);
    assert_string_equal(st.causes[0].field, "data[k]");
    sl_kube_status_error(&st, "apply Secret default/s", &err);
    assert_null(strstr(err.msg, "c2VjcmV0"));
    assert_non_null(strstr(err.msg, "data[k]"));
    sl_kube_status_release(&st);
}

/* A Secret's 422 keeps no server text, only the fact that a field is immutable. */
static void test_redacted_immutable(void **state)
{
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_error err = SL_ERROR_INIT;
    static const char body[] =
            "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Secret \\\"s\\\" is "
            "invalid: data: Forbidden: field is immutable when `immutable` is set; was "
            "c2VjcmV0\",\"reason\":\"Invalid\",\"details\":{\"causes\":[{\"reason\":"
            "\"FieldValueForbidden\",\"message\":\"Forbidden: field is immutable (c2VjcmV0)\","
            "\"field\":\"data\"}]},\"code\":422}";

    sl_kube_status_fill(&st, 422, body, strlen(body), true);
    assert_string_equal(st.message, SL_KUBE_REDACTED_IMMUTABLE);
    assert_string_equal(st.causes[0].message, SL_KUBE_REDACTED_IMMUTABLE);
    assert_true(sl_kube_is_immutable(&st));
    sl_kube_status_error(&st, "apply Secret default/s", &err);
    assert_null(strstr(err.msg, "c2VjcmV0"));
    assert_null(strstr(err.msg, "immutable` is set"));
    sl_kube_status_release(&st);
}

static void test_codes_without_status(void **state)
{
    static const struct {
        long http;
        enum sl_code code;
        const char *reason;
    } cases[] = {
            {400, SL_EINVAL, "BadRequest"},  {401, SL_EAUTH, "Unauthorized"},
            {403, SL_EAUTH, "Forbidden"},    {404, SL_ENOTFOUND, "NotFound"},
            {409, SL_ECONFLICT, "Conflict"}, {415, SL_EUNSUPPORTED, "UnsupportedMediaType"},
            {422, SL_EINVAL, "Invalid"},     {429, SL_EIO, "TooManyRequests"},
            {500, SL_EIO, "InternalError"},  {503, SL_EIO, "ServiceUnavailable"},
            {504, SL_ETIMEOUT, "Timeout"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_kube_status st = SL_KUBE_STATUS_INIT;
        struct sl_error err = SL_ERROR_INIT;

        sl_kube_status_fill(&st, cases[i].http, "<html>oops</html>", 17, false);
        assert_string_equal(st.reason, cases[i].reason);
        assert_null(st.message);
        sl_kube_status_error(&st, "GET /x", &err);
        assert_int_equal(err.code, cases[i].code);
        sl_kube_status_release(&st);
    }
}

static void test_not_found_status(void **state)
{
    struct sl_kube_status st = SL_KUBE_STATUS_INIT;
    struct sl_error err = SL_ERROR_INIT;
    static const char body[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                               "\"message\":\"configmaps \\\"demo\\\" not found\",\"reason\":"
                               "\"NotFound\",\"details\":{\"name\":\"demo\",\"kind\":"
                               "\"configmaps\"},\"code\":404}";

    sl_kube_status_fill(&st, 404, body, strlen(body), false);
    assert_true(sl_kube_is_not_found(&st));
    assert_int_equal(st.ncauses, 0);
    sl_kube_status_error(&st, "GET ConfigMap default/demo", &err);
    assert_int_equal(err.code, SL_ENOTFOUND);
    assert_string_equal(err.msg,
                        "GET ConfigMap default/demo: 404 NotFound: configmaps \"demo\" not found");
    /* Success keeps only the HTTP code. */
    sl_kube_status_fill(&st, 200, "{}", 2, false);
    assert_int_equal(st.http, 200);
    assert_null(st.reason);
    sl_kube_status_release(&st);
}

static void test_backoff(void **state)
{
    /* base 100 ms: 100, 200, 400, 800, capped at 1000; equal jitter keeps [d/2, d]. */
    static const int64_t expect[] = {100, 200, 400, 800, 1000, 1000, 1000};

    for (int r = 0; r < 7; r++) {
        int64_t lo = sl_kube_backoff_ms(r, 100, 1000, 0);
        int64_t hi = sl_kube_backoff_ms(r, 100, 1000, UINT64_MAX - 1);

        assert_int_equal(lo, expect[r] / 2);
        assert_true(hi <= expect[r]);
        assert_true(hi >= expect[r] / 2);
        for (uint64_t x = 0; x < 2000; x += 37) {
            int64_t d = sl_kube_backoff_ms(r, 100, 1000, x);

            assert_true(d >= expect[r] / 2 && d <= expect[r]);
        }
    }
    assert_int_equal(sl_kube_backoff_ms(0, 100, 1000, 50), 100);
    /* Large retry numbers do not overflow. */
    assert_true(sl_kube_backoff_ms(1000, 250, 30000, 12345) <= 30000);
}

static void test_retry_after(void **state)
{
    time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

    assert_int_equal(sl_kube_retry_after_ms("3", now), 3000);
    assert_int_equal(sl_kube_retry_after_ms(" 0 ", now), 0);
    assert_int_equal(sl_kube_retry_after_ms("Sun, 06 Nov 1994 08:49:40 GMT", now), 3000);
    assert_int_equal(sl_kube_retry_after_ms("Sun, 06 Nov 1994 08:49:30 GMT", now), 0);
    /* Far-future dates: capped like the delta form, never overflowing (found by fuzzing). */
    assert_int_equal(sl_kube_retry_after_ms("Sun, 06 Nov 2094 08:49:37 GMT", now), 86400000);
    assert_int_equal(sl_kube_retry_after_ms("Sun, 01 Jan 999999999 00:00:00 GMT", now), -1);
    assert_int_equal(sl_kube_retry_after_ms("soon", now), -1);
    assert_int_equal(sl_kube_retry_after_ms("-1", now), -1);
    assert_int_equal(sl_kube_retry_after_ms("1.5", now), -1);
    assert_int_equal(sl_kube_retry_after_ms(NULL, now), -1);
}

static void test_bucket(void **state)
{
    struct sl_kube_bucket b;

    /* 10 qps, burst 2: two immediate, then one every 100 ms. */
    sl_kube_bucket_init(&b, 10, 2, 1000);
    assert_int_equal(sl_kube_bucket_take(&b, 1000), 0);
    assert_int_equal(sl_kube_bucket_take(&b, 1000), 0);
    assert_int_equal(sl_kube_bucket_take(&b, 1000), 100);
    assert_int_equal(sl_kube_bucket_take(&b, 1000), 200);
    /* After 1 s the debt is paid and the bucket refilled up to burst. */
    assert_int_equal(sl_kube_bucket_take(&b, 2000), 0);
    assert_int_equal(sl_kube_bucket_take(&b, 2000), 0);
    assert_int_equal(sl_kube_bucket_take(&b, 2000), 100);
    /* Unlimited. */
    sl_kube_bucket_init(&b, 0, 1, 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(sl_kube_bucket_take(&b, 0), 0);
}

static void test_rfc3339(void **state)
{
    time_t t;

    assert_int_equal(sl_kube_parse_rfc3339("1994-11-06T08:49:37Z", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(sl_kube_parse_rfc3339("1994-11-06T08:49:37.123456Z", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(sl_kube_parse_rfc3339("1994-11-06T10:49:37+02:00", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(sl_kube_parse_rfc3339("1994-11-06T03:49:37-05:00", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(sl_kube_parse_rfc3339("1994-11-06 08:49:37", &t), -1);
    assert_int_equal(sl_kube_parse_rfc3339("1994-13-06T08:49:37Z", &t), -1);
    assert_int_equal(sl_kube_parse_rfc3339("yesterday", &t), -1);
    assert_int_equal(sl_kube_parse_rfc3339("1994-11-06T08:49:37Zjunk", &t), -1);
}

static void test_escape(void **state)
{
    char out[64];
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_kube_escape("app in (a,b),tier!=x", out, sizeof(out), &err), 0);
    assert_string_equal(out, "app%20in%20%28a%2Cb%29%2Ctier%21%3Dx");
    assert_int_equal(sl_kube_escape("sluice.io/env=prod", out, sizeof(out), &err), 0);
    assert_string_equal(out, "sluice.io%2Fenv%3Dprod");
    assert_int_equal(sl_kube_escape("////////////////////////", out, 16, &err), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_conflict),
            cmocka_unit_test(test_invalid_immutable),
            cmocka_unit_test(test_redacted),
            cmocka_unit_test(test_redacted_immutable),
            cmocka_unit_test(test_codes_without_status),
            cmocka_unit_test(test_not_found_status),
            cmocka_unit_test(test_backoff),
            cmocka_unit_test(test_retry_after),
            cmocka_unit_test(test_bucket),
            cmocka_unit_test(test_rfc3339),
            cmocka_unit_test(test_escape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
