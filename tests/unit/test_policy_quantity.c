/* Kubernetes quantities: exact parse, suffixes, exponents, rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy.h"

static __int128 q(const char *s)
{
    __int128 v = 0;
    if (sl_quantity_parse(s, &v) != 0)
        fail_msg("\"%s\" should parse", s);
    return v;
}

#define NANO ((__int128)1000000000)

static void test_values(void **state)
{
    (void)state;
    assert_true(q("0") == 0);
    assert_true(q("1") == NANO);
    assert_true(q("2") == 2 * NANO);
    assert_true(q("500m") == NANO / 2);
    assert_true(q("0.5") == NANO / 2);
    assert_true(q(".5") == NANO / 2);
    assert_true(q("5.") == 5 * NANO);
    assert_true(q("100m") == q("0.1"));
    assert_true(q("1k") == 1000 * NANO);
    assert_true(q("1M") == 1000000 * NANO);
    assert_true(q("1G") == 1000000000 * NANO);
    assert_true(q("1Ki") == 1024 * NANO);
    assert_true(q("1Mi") == 1048576 * NANO);
    assert_true(q("1Gi") == (__int128)1073741824 * NANO);
    assert_true(q("1.5Gi") == (__int128)1610612736 * NANO);
    assert_true(q("4Gi") > q("4G"));
    assert_true(q("1e3") == 1000 * NANO);
    assert_true(q("1E3") == 1000 * NANO);
    assert_true(q("1.5e-3") == q("1.5m"));
    assert_true(q("12e6") == q("12M"));
    assert_true(q("1E") == q("1e18"));
    assert_true(q("1Ei") == ((__int128)1 << 60) * NANO);
    assert_true(q("1n") == 1);
    assert_true(q("1u") == 1000);
    assert_true(q("-1") == -NANO);
    assert_true(q("+2") == 2 * NANO);
    assert_true(q("0.1Ki") == (__int128)1024 * NANO / 10 + 0); /* 102.4, exact in nano */
    /* Below nano precision rounds up, as Kubernetes does. */
    assert_true(q("0.0000000001") == 1);
    assert_true(q("1.0000000001") == NANO + 1);
    assert_true(q("000123") == 123 * NANO);
}

static void test_rejects(void **state)
{
    static const char *const bad[] = {"",
                                      "m",
                                      "1.2.3",
                                      "1x",
                                      "1Ki2",
                                      "1KI",
                                      "1ki",
                                      "Gi",
                                      "1 Gi",
                                      "1e",
                                      "1e+",
                                      "1e3.5",
                                      "1ee3",
                                      "--1",
                                      "1Mii",
                                      "1e1000",
                                      "abc",
                                      "1,5",
                                      "9999999999999999999999999999999999999",
                                      "1e61",
                                      "999999999Ei",
                                      " 1"};
    __int128 v;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sl_quantity_parse(bad[i], &v) == 0)
            fail_msg("\"%s\" should be rejected", bad[i]);
    assert_int_equal(sl_quantity_parse(NULL, &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_values),
            cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
