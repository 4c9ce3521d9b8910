#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"

static void test_error__set_returns_minus_one_and_records(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_error_set(&err, SL_EPARSE, "bad %s at %d", "thing", 3), -1);
    assert_int_equal(err.code, SL_EPARSE);
    assert_string_equal(err.msg, "bad thing at 3");
}

static void test_error__first_error_wins(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    sl_error_set(&err, SL_ENOTFOUND, "inner");
    sl_error_set(&err, SL_EGENERIC, "outer overwrites?");
    assert_int_equal(err.code, SL_ENOTFOUND);
    assert_string_equal(err.msg, "inner");
}

static void test_error__wrap_adds_context_keeps_code(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    sl_error_set(&err, SL_EPARSE, "line 3: bad");
    assert_int_equal(sl_error_wrap(&err, "%s", "kustomization.yaml"), -1);
    assert_string_equal(err.msg, "kustomization.yaml: line 3: bad");
    assert_int_equal(err.code, SL_EPARSE);
}

static void test_error__wrap_without_error_does_nothing(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    sl_error_wrap(&err, "ctx");
    assert_int_equal(err.code, SL_OK);
    assert_string_equal(err.msg, "");
}

static void test_error__null_is_accepted(void **state)
{
    assert_int_equal(sl_error_set(NULL, SL_EIO, "x"), -1);
    assert_int_equal(sl_error_wrap(NULL, "x"), -1);
    sl_error_clear(NULL);
}

static void test_error__long_messages_truncate_with_ellipsis(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    char big[3000];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sl_error_set(&err, SL_EINVAL, "%s", big);
    assert_int_equal(strlen(err.msg), SL_ERROR_MSG_MAX - 1);
    assert_string_equal(err.msg + SL_ERROR_MSG_MAX - 4, "...");
    sl_error_wrap(&err, "context");
    assert_int_equal(strlen(err.msg), SL_ERROR_MSG_MAX - 1);
    assert_memory_equal(err.msg, "context: aaa", 12);
    assert_string_equal(err.msg + SL_ERROR_MSG_MAX - 4, "...");
}

static void test_error__errno_maps_codes(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    sl_error_errno(&err, ENOENT, "%s", "/x");
    assert_int_equal(err.code, SL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/x: "));
    sl_error_clear(&err);
    sl_error_errno(&err, EACCES, "f");
    assert_int_equal(err.code, SL_EPERM);
    sl_error_clear(&err);
    sl_error_errno(&err, EIO, "f");
    assert_int_equal(err.code, SL_EIO);
}

static void test_error__code_names(void **state)
{
    assert_string_equal(sl_code_name(SL_OK), "ok");
    assert_string_equal(sl_code_name(SL_ETOOLARGE), "toolarge");
    assert_string_equal(sl_code_name((enum sl_code)999), "error");
}

static void test_error__set_ok_code_becomes_generic(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    sl_error_set(&err, SL_OK, "oops");
    assert_int_equal(err.code, SL_EGENERIC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_error__set_returns_minus_one_and_records),
            cmocka_unit_test(test_error__first_error_wins),
            cmocka_unit_test(test_error__wrap_adds_context_keeps_code),
            cmocka_unit_test(test_error__wrap_without_error_does_nothing),
            cmocka_unit_test(test_error__null_is_accepted),
            cmocka_unit_test(test_error__long_messages_truncate_with_ellipsis),
            cmocka_unit_test(test_error__errno_maps_codes),
            cmocka_unit_test(test_error__code_names),
            cmocka_unit_test(test_error__set_ok_code_becomes_generic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
