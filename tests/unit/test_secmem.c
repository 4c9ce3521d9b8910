#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "secmem.h"

static int setup(void **state)
{
    return sl_secmem_init(NULL);
}

static void test_secmem__secbuf_grows_and_terminates(void **state)
{
    struct sl_secbuf b = SL_SECBUF_INIT(1 << 20);
    struct sl_error err = SL_ERROR_INIT;
    char chunk[100];

    memset(chunk, 's', sizeof(chunk));
    for (int i = 0; i < 50; i++)
        assert_int_equal(sl_secbuf_append(&b, chunk, sizeof(chunk), &err), 0);
    assert_int_equal(b.len, 5000);
    assert_int_equal(b.ptr[5000], '\0');
    assert_int_equal(b.ptr[4999], 's');
    sl_secbuf_release(&b);
    assert_null(b.ptr);
    sl_secbuf_release(&b); /* twice is fine */
}

static void test_secmem__secbuf_cap(void **state)
{
    struct sl_secbuf b = SL_SECBUF_INIT(10);
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_secbuf_append(&b, "0123456789", 10, &err), 0);
    assert_int_equal(sl_secbuf_append(&b, "x", 1, &err), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
    assert_int_equal(b.len, 10);
    sl_error_clear(&err);
    assert_int_equal(sl_secbuf_resize(&b, 11, &err), -1);
    assert_int_equal(sl_secbuf_resize(&b, 4, &err), 0);
    assert_int_equal(b.len, 4);
    assert_int_equal(b.ptr[4], '\0');
    sl_secbuf_release(&b);
}

static void test_secmem__secret_and_equal(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_secret *s = sl_secret_new("hunter2", 7, &err);

    assert_non_null(s);
    assert_int_equal(s->len, 7);
    assert_true(sl_secure_equal(s->ptr, "hunter2", 7));
    assert_false(sl_secure_equal(s->ptr, "hunter3", 7));
    sl_secret_free(s);
    sl_secret_free(NULL);
    sl_secure_free(NULL);
}

static void test_secmem__wipe(void **state)
{
    char buf[16] = "sensitive";

    sl_secure_wipe(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0);
    sl_secure_wipe(NULL, 10);
}

static void test_secmem__huge_allocation_fails_cleanly(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    void *p = sl_secure_alloc((size_t)1 << 62, &err);

    assert_null(p);
    assert_int_equal(err.code, SL_ENOMEM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_secmem__secbuf_grows_and_terminates),
            cmocka_unit_test(test_secmem__secbuf_cap),
            cmocka_unit_test(test_secmem__secret_and_equal),
            cmocka_unit_test(test_secmem__wipe),
            cmocka_unit_test(test_secmem__huge_allocation_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
