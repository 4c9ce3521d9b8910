/* Unit tests of the semver parser, precedence and ranges (sources/semver.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "semver.h"

static struct ssrc_semver V(const char *s) {
    struct ssrc_semver v;
    struct ssrc_error e = SSRC_ERROR_INIT;

    if (ssrc_semver_parse(s, strlen(s), &v, &e) != 0)
        fail_msg("%s: %s", s, e.msg);
    return v;
}

static void
test_parse_valid(void **state)
{
    static const char *const ok[] = {"0.0.0",
                                     "1.2.3",
                                     "10.20.30",
                                     "1.0.0-rc.1",
                                     "1.0.0-alpha.beta.1",
                                     "1.0.0-0A.is.legal",
                                     "1.0.0+build.1",
                                     "1.0.0-rc.1+build.5",
                                     "18446744073709551615.0.0",
                                     "1.0.0-x-y-z.--",
                                     NULL};
    (void)state;
    for (int i = 0; ok[i] != NULL; i++) {
        struct ssrc_semver v;
        struct ssrc_error e = SSRC_ERROR_INIT;
        assert_int_equal(ssrc_semver_parse(ok[i], strlen(ok[i]), &v, &e), 0);
    }
    {
        struct ssrc_semver v = V("1.2.3-rc.10+meta");
        assert_true(v.major == 1 && v.minor == 2 && v.patch == 3);
        assert_string_equal(v.pre, "rc.10");
        assert_int_equal(ssrc_semver_rc(&v), 10);
    }
}

static void test_parse_invalid(void **state)
{
    static const char *const bad[] = {"",
                                      "1",
                                      "1.2",
                                      "1.2.3.4",
                                      "01.2.3",
                                      "1.02.3",
                                      "1.2.03",
                                      "v1.2.3",
                                      "1.2.3-",
                                      "1.2.3-01",
                                      "1.2.3-rc..1",
                                      "1.2.3+",
                                      "1.2.3-rc.1+",
                                      "1.2.3 ",
                                      "-1.2.3",
                                      "1.2.3-ä",
                                      "18446744073709551616.0.0",
                                      "1.2.3-rc.1+a..b",
                                      NULL};
    (void)state;
    for (int i = 0; bad[i] != NULL; i++) {
        struct ssrc_semver v;
        struct ssrc_error e = SSRC_ERROR_INIT;
        if (ssrc_semver_parse(bad[i], strlen(bad[i]), &v, &e) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_not_equal(e.code, SSRC_OK);
    }
}

static void test_precedence(void **state)
{
    /* semver.org section 11, in ascending order, plus rc.9 < rc.10. */
    static const char *const order[] = {
            "1.0.0-alpha",   "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",  "1.0.0-beta.2",
            "1.0.0-beta.11", "1.0.0-rc.1",    "1.0.0-rc.9",       "1.0.0-rc.10", "1.0.0",
            "1.9.0",         "1.10.0",        "2.0.0-rc.1",       "2.0.0",       NULL};
    (void)state;
    for (int i = 0; order[i + 1] != NULL; i++) {
        struct ssrc_semver a = V(order[i]), b = V(order[i + 1]);
        if (ssrc_semver_cmp(&a, &b) >= 0 || ssrc_semver_cmp(&b, &a) <= 0)
            fail_msg("%s should sort before %s", order[i], order[i + 1]);
    }
    {
        struct ssrc_semver a = V("1.0.0+a"), b = V("1.0.0+b");
        assert_int_equal(ssrc_semver_cmp(&a, &b), 0);
    }
    {
        struct ssrc_semver a = V("1.0.0-99999999999999999999"),
                           b = V("1.0.0-100000000000000000000");
        assert_true(ssrc_semver_cmp(&a, &b) < 0);
    }
}

static void test_rc_number(void **state)
{
    (void)state;
    {
        struct ssrc_semver v = V("1.0.0-rc.0");
        assert_int_equal(ssrc_semver_rc(&v), 0);
    }
    {
        struct ssrc_semver v = V("1.0.0-rc");
        assert_int_equal(ssrc_semver_rc(&v), -1);
    }
    {
        struct ssrc_semver v = V("1.0.0-rc.1.2");
        assert_int_equal(ssrc_semver_rc(&v), -1);
    }
    {
        struct ssrc_semver v = V("1.0.0-beta.1");
        assert_int_equal(ssrc_semver_rc(&v), -1);
    }
    {
        struct ssrc_semver v = V("1.0.0");
        assert_int_equal(ssrc_semver_rc(&v), -1);
    }
}

struct rcase {
    const char *range, *version;
    bool match;
};

static void test_ranges(void **state)
{
    static const struct rcase cases[] = {
            {">=1.2.3", "1.2.3", true},
            {">=1.2.3", "1.2.2", false},
            {">1.2.3", "1.2.3", false},
            {"<2.0.0", "1.99.0", true},
            {"<2.0.0", "2.0.0", false},
            {"<=2.0.0", "2.0.0", true},
            {"=1.2.3", "1.2.3", true},
            {"1.2.3", "1.2.4", false},
            {"!=1.2.3", "1.2.4", true},
            {"!=1.2.3", "1.2.3", false},
            {"~1.2.3", "1.2.9", true},
            {"~1.2.3", "1.3.0", false},
            {"~1.2", "1.2.0", true},
            {"~1", "1.9.9", true},
            {"~1", "2.0.0", false},
            {"^1.2.3", "1.9.0", true},
            {"^1.2.3", "2.0.0", false},
            {"^0.2.3", "0.2.9", true},
            {"^0.2.3", "0.3.0", false},
            {"^0.0.3", "0.0.4", false},
            {"1.2.x", "1.2.7", true},
            {"1.2.x", "1.3.0", false},
            {"1.x", "1.9.0", true},
            {"1", "2.0.0", false},
            {"*", "7.0.0", true},
            {">1.2", "1.2.9", false},
            {">1.2", "1.3.0", true},
            {"<=1.2", "1.2.9", true},
            {"<=1.2", "1.3.0", false},
            {">=1.0.0 <1.4.0", "1.3.9", true},
            {">=1.0.0, <1.4.0", "1.4.0", false},
            {"<1.0.0 || >=2.0.0", "2.1.0", true},
            {"<1.0.0 || >=2.0.0", "1.5.0", false},
            {"1.2 - 1.4", "1.4.9", true},
            {"1.2 - 1.4", "1.5.0", false},
            {"1.2.3 - 2.3.4", "2.3.4", true},
            {"1.2.3 - 2.3.4", "1.2.2", false},
            {">= 1.2.0", "1.2.0", true},
            {"v1.2.x", "1.2.1", true},
            {">=1.0.0", "1.0.0-rc.1", false},
            {">=1.0.0-0", "1.0.0-rc.1", true},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ssrc_range *r = NULL;
        struct ssrc_error e = SSRC_ERROR_INIT;
        struct ssrc_semver v = V(cases[i].version);
        if (ssrc_range_parse(cases[i].range, &r, &e) != 0)
            fail_msg("range \"%s\": %s", cases[i].range, e.msg);
        if (ssrc_range_match(r, &v) != cases[i].match)
            fail_msg("\"%s\" vs %s: expected %s", cases[i].range, cases[i].version,
                     cases[i].match ? "match" : "no match");
        ssrc_range_free(r);
    }
}

static void test_range_errors(void **state)
{
    static const char *const bad[] = {"",           ">=",       "1.2.3.4", "abc",
                                      ">=1.2.3 ||", "|| 1.0.0", "1.2.3-",  "!=1.2",
                                      "~>",         "1.2.3 - ", "\x01",    NULL};
    (void)state;
    for (int i = 0; bad[i] != NULL; i++) {
        struct ssrc_range *r = NULL;
        struct ssrc_error e = SSRC_ERROR_INIT;
        if (ssrc_range_parse(bad[i], &r, &e) == 0) {
            ssrc_range_free(r);
            fail_msg("accepted range \"%s\"", bad[i]);
        }
        assert_null(r);
        assert_int_not_equal(e.code, SSRC_OK);
    }
    {
        char big[2048];
        struct ssrc_range *r = NULL;
        struct ssrc_error e = SSRC_ERROR_INIT;
        memset(big, '1', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(ssrc_range_parse(big, &r, &e), -1);
        assert_int_equal(e.code, SSRC_ETOOLARGE);
    }
    {
        char many[1024];
        size_t off = 0;
        struct ssrc_range *r = NULL;
        struct ssrc_error e = SSRC_ERROR_INIT;
        for (int i = 0; i < 70; i++)
            off += (size_t)snprintf(many + off, sizeof(many) - off, ">1.0.0 ");
        assert_int_equal(ssrc_range_parse(many, &r, &e), -1);
        assert_int_equal(e.code, SSRC_ETOOLARGE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_valid), cmocka_unit_test(test_parse_invalid),
            cmocka_unit_test(test_precedence),  cmocka_unit_test(test_rc_number),
            cmocka_unit_test(test_ranges),      cmocka_unit_test(test_range_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
