#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void test_buf__init_is_empty_string(void **state)
{
    struct sl_buf b = SL_BUF_INIT(16);

    assert_non_null(b.ptr);
    assert_string_equal(b.ptr, "");
    assert_int_equal(b.len, 0);
    sl_buf_release(&b);
    assert_string_equal(b.ptr, "");
}

static void test_buf__append_and_printf(void **state)
{
    struct sl_buf b = SL_BUF_INIT(1024);
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_buf_puts(&b, "hello", &err), 0);
    assert_int_equal(sl_buf_putc(&b, ' ', &err), 0);
    assert_int_equal(sl_buf_printf(&b, &err, "%s %d", "world", 42), 0);
    assert_string_equal(b.ptr, "hello world 42");
    assert_int_equal(b.len, 14);
    sl_buf_truncate(&b, 5);
    assert_string_equal(b.ptr, "hello");
    sl_buf_reset(&b);
    assert_string_equal(b.ptr, "");
    sl_buf_release(&b);
}

static void test_buf__cap_reached_leaves_contents(void **state)
{
    struct sl_buf b = SL_BUF_INIT(8);
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_buf_puts(&b, "12345678", &err), 0);
    assert_int_equal(sl_buf_putc(&b, '9', &err), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
    assert_string_equal(b.ptr, "12345678");
    sl_error_clear(&err);
    assert_int_equal(sl_buf_printf(&b, &err, "%d", 1), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
    sl_buf_release(&b);
}

static void test_buf__size_overflow_is_refused(void **state)
{
    struct sl_buf b = SL_BUF_INIT(SIZE_MAX);
    struct sl_error err = SL_ERROR_INIT;
    size_t out;

    assert_int_equal(sl_buf_puts(&b, "x", &err), 0);
    assert_int_equal(sl_buf_grow(&b, SIZE_MAX, &err), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
    assert_false(sl_size_add(&out, SIZE_MAX, 1));
    assert_false(sl_size_mul(&out, SIZE_MAX / 2 + 1, 2));
    assert_true(sl_size_mul(&out, 3, 4));
    assert_int_equal(out, 12);
    sl_buf_release(&b);
}

static void test_buf__detach_transfers_ownership(void **state)
{
    struct sl_buf b = SL_BUF_INIT(64);
    struct sl_error err = SL_ERROR_INIT;
    size_t len = 99;
    char *p;

    p = sl_buf_detach(&b, &len);
    assert_string_equal(p, "");
    assert_int_equal(len, 0);
    free(p);
    sl_buf_puts(&b, "abc", &err);
    p = sl_buf_detach(&b, &len);
    assert_string_equal(p, "abc");
    assert_int_equal(len, 3);
    assert_string_equal(b.ptr, "");
    free(p);
    sl_buf_release(&b);
}

static void test_buf__binary_and_growth(void **state)
{
    struct sl_buf b = SL_BUF_INIT(1 << 20);
    struct sl_error err = SL_ERROR_INIT;
    char chunk[1000];

    memset(chunk, 0, sizeof(chunk));
    for (int i = 0; i < 500; i++)
        assert_int_equal(sl_buf_append(&b, chunk, sizeof(chunk), &err), 0);
    assert_int_equal(b.len, 500000);
    assert_int_equal(b.ptr[b.len], '\0');
    assert_true(b.cap <= (1 << 20) + 1);
    sl_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_buf__init_is_empty_string),
            cmocka_unit_test(test_buf__append_and_printf),
            cmocka_unit_test(test_buf__cap_reached_leaves_contents),
            cmocka_unit_test(test_buf__size_overflow_is_refused),
            cmocka_unit_test(test_buf__detach_transfers_ownership),
            cmocka_unit_test(test_buf__binary_and_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
