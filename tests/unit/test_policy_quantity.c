/*
 * Quantities as policies compare them (lt, le, gt, ge): agent/core/quantity.c's exact
 * parse and order, with the relations a policy relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "quantity.h"

static struct sl_qty q(const char *s)
{
    struct sl_qty v;
    if (sl_qty_parse(s, &v) != 0)
        fail_msg("\"%s\" should parse", s);
    return v;
}

static int cmp(const char *a, const char *b)
{
    struct sl_qty x = q(a), y = q(b);
    int c = sl_qty_cmp(&x, &y), r = sl_qty_cmp(&y, &x);
    /* antisymmetric, and equal exactly when sl_qty_equal says so */
    assert_true((c < 0 && r > 0) || (c > 0 && r < 0) || (c == 0 && r == 0));
    assert_true((c == 0) == sl_qty_equal(&x, &y));
    return c;
}

#define EQ(a, b) assert_int_equal(cmp(a, b), 0)
#define LT(a, b) assert_true(cmp(a, b) < 0)

static void test_values(void **state)
{
    (void)state;
    EQ("0", "0m");
    EQ("0", "-0");
    EQ("1", "1000m");
    EQ("500m", "0.5");
    EQ(".5", "0.5");
    EQ("5.", "5");
    EQ("100m", "0.1");
    EQ("1k", "1000");
    EQ("1M", "1e6");
    EQ("1G", "1000000000");
    EQ("1Ki", "1024");
    EQ("1Mi", "1048576");
    EQ("1Gi", "1073741824");
    EQ("1.5Gi", "1610612736");
    EQ("1e3", "1E3");
    EQ("1.5e-3", "1.5m");
    EQ("12e6", "12M");
    EQ("1E", "1e18");
    EQ("1Ei", "1152921504606846976");
    EQ("1u", "1000n");
    EQ("+2", "2");
    EQ("0.1Ki", "102.4");
    EQ("000123", "123");
    /* below nano precision rounds up, as Kubernetes does */
    EQ("0.0000000001", "1n");
    EQ("1.0000000001", "1000000001n");
}

static void test_order(void **state)
{
    (void)state;
    LT("4G", "4Gi");
    LT("999m", "1");
    LT("1", "1001m");
    LT("-1", "0");
    LT("-2", "-1");
    LT("-1Gi", "-1G");
    LT("0", "1n");
    LT("1n", "1u");
    LT("2", "10");
    LT("9", "10");
    LT("0.99", "1");
    LT("1.5", "1.55");
    LT("100Mi", "1Gi");
    EQ("512Mi", "0.5Gi");
    LT("1e21", "1e22");
}

static void test_rejects(void **state)
{
    static const char *const bad[] = {"",     "m",   "1.2.3", "1x",  "1Ki2", "1KI",
                                      "1ki",  "Gi",  "1 Gi",  "1e",  "1e+",  "1e3.5",
                                      "1ee3", "--1", "1Mii",  "abc", "1,5",  " 1"};
    struct sl_qty v;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sl_qty_parse(bad[i], &v) == 0)
            fail_msg("\"%s\" should be rejected", bad[i]);
    assert_int_equal(sl_qty_parse(NULL, &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_values),
            cmocka_unit_test(test_order),
            cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
