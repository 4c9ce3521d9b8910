#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "diag.h"

static void test_diag__collects_and_summarises(void **state)
{
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;

    sl_diags_add(&d, "f.yaml:%d: one", 1);
    sl_diags_add(&d, "f.yaml:%d: two", 2);
    assert_int_equal(sl_diags_count(&d), 2);
    assert_string_equal(d.msgs[1], "f.yaml:2: two");
    assert_int_equal(sl_diags_to_error(&d, &err), -1);
    assert_string_equal(err.msg, "f.yaml:1: one (and 1 more)");
    sl_diags_release(&d);
}

static void test_diag__cap_counts_dropped(void **state)
{
    struct sl_diags d = SL_DIAGS_INIT;

    d.max = 3;
    for (int i = 0; i < 10; i++)
        sl_diags_add(&d, "m%d", i);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.dropped, 7);
    assert_int_equal(sl_diags_count(&d), 10);
    sl_diags_release(&d);
}

static void test_diag__empty_and_single(void **state)
{
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;

    sl_diags_to_error(&d, &err);
    assert_string_equal(err.msg, "unknown error");
    sl_error_clear(&err);
    sl_diags_add(&d, "only");
    sl_diags_to_error(&d, &err);
    assert_string_equal(err.msg, "only");
    sl_diags_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_diag__collects_and_summarises),
            cmocka_unit_test(test_diag__cap_counts_dropped),
            cmocka_unit_test(test_diag__empty_and_single),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
