#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"
#include "testutil.h"

static int setup(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    *state = testutil_mkdtemp();
    return *state == NULL || sl_secmem_init(&err) != 0;
}

static int teardown(void **state)
{
    testutil_rmrf(*state);
    return 0;
}

static void path_of(char *out, size_t n, void **state, const char *rel)
{
    snprintf(out, n, "%s/%s", (char *)*state, rel);
}

static void test_file__read_ok(void **state)
{
    struct sl_buf b = SL_BUF_INIT(SL_FILE_MAX);
    struct sl_error err = SL_ERROR_INIT;
    char p[4096];

    testutil_write(*state, "a.txt", "hello\n", 0644);
    path_of(p, sizeof(p), state, "a.txt");
    assert_int_equal(sl_file_read(&b, p, 100, &err), 0);
    assert_string_equal(b.ptr, "hello\n");
    sl_buf_release(&b);
}

static void test_file__missing_file(void **state)
{
    struct sl_buf b = SL_BUF_INIT(SL_FILE_MAX);
    struct sl_error err = SL_ERROR_INIT;
    char p[4096];

    path_of(p, sizeof(p), state, "nope");
    assert_int_equal(sl_file_read(&b, p, 100, &err), -1);
    assert_int_equal(err.code, SL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "nope: No such file"));
}

static void test_file__over_the_cap(void **state)
{
    struct sl_buf b = SL_BUF_INIT(SL_FILE_MAX);
    struct sl_error err = SL_ERROR_INIT;
    char p[4096];

    testutil_write(*state, "big", "0123456789", 0644);
    path_of(p, sizeof(p), state, "big");
    assert_int_equal(sl_file_read(&b, p, 9, &err), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
    assert_non_null(strstr(err.msg, "over the limit of 9"));
    assert_int_equal(b.len, 0);
    sl_buf_release(&b);
}

static void test_file__buffer_cap_smaller_than_file(void **state)
{
    struct sl_buf b = SL_BUF_INIT(4);
    struct sl_error err = SL_ERROR_INIT;
    char p[4096];

    testutil_write(*state, "mid", "0123456789", 0644);
    path_of(p, sizeof(p), state, "mid");
    assert_int_equal(sl_file_read(&b, p, 100, &err), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
    sl_buf_release(&b);
}

static void test_file__directory_is_refused(void **state)
{
    struct sl_buf b = SL_BUF_INIT(SL_FILE_MAX);
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_file_read(&b, *state, 100, &err), -1);
    assert_int_equal(err.code, SL_EINVAL);
    assert_non_null(strstr(err.msg, "is a directory"));
}

static void test_file__unreadable(void **state)
{
    struct sl_buf b = SL_BUF_INIT(SL_FILE_MAX);
    struct sl_error err = SL_ERROR_INIT;
    char p[4096];

    if (geteuid() == 0)
        skip(); /* root reads mode 000 files */
    testutil_write(*state, "locked", "x", 0000);
    path_of(p, sizeof(p), state, "locked");
    assert_int_equal(sl_file_read(&b, p, 100, &err), -1);
    assert_int_equal(err.code, SL_EPERM);
}

static void test_file__read_error_is_reported(void **state)
{
    struct sl_buf b = SL_BUF_INIT(SL_FILE_MAX);
    struct sl_error err = SL_ERROR_INIT;

    /* Reading /proc/self/mem at offset 0 fails with EIO, even for root. */
    assert_int_equal(sl_file_read(&b, "/proc/self/mem", 100, &err), -1);
    assert_int_equal(err.code, SL_EIO);
    assert_non_null(strstr(err.msg, "/proc/self/mem: read"));
    assert_int_equal(b.len, 0);
    sl_buf_release(&b);
}

static void test_file__private_check(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_secbuf s = SL_SECBUF_INIT(1024);
    char p[4096];

    testutil_write(*state, "key", "AGE-SECRET-KEY-1XYZ\n", 0600);
    path_of(p, sizeof(p), state, "key");
    assert_int_equal(sl_file_check_private(p, &err), 0);
    assert_int_equal(sl_file_read_secret(&s, p, 1024, &err), 0);
    assert_int_equal(s.len, 20);
    assert_memory_equal(s.ptr, "AGE-SECRET-KEY-1XYZ\n", 20);
    sl_secbuf_release(&s);

    chmod(p, 0640);
    assert_int_equal(sl_file_check_private(p, &err), -1);
    assert_int_equal(err.code, SL_EPERM);
    assert_non_null(strstr(err.msg, "readable by group or others (mode 0640)"));
    assert_non_null(strstr(err.msg, "chmod 600"));
    sl_error_clear(&err);
    assert_int_equal(sl_file_read_secret(&s, p, 1024, &err), -1);
    assert_null(s.ptr);
    chmod(p, 0604);
    sl_error_clear(&err);
    assert_int_equal(sl_file_check_private(p, &err), -1);
}

static void test_file__secret_over_cap(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_secbuf s = SL_SECBUF_INIT(4);
    char p[4096];

    testutil_write(*state, "key2", "0123456789", 0600);
    path_of(p, sizeof(p), state, "key2");
    assert_int_equal(sl_file_read_secret(&s, p, 4, &err), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
    sl_secbuf_release(&s);
}

static void test_file__atomic_write_replaces(void **state)
{
    struct sl_buf b = SL_BUF_INIT(SL_FILE_MAX);
    struct sl_error err = SL_ERROR_INIT;
    struct stat st;
    char p[4096];

    path_of(p, sizeof(p), state, "state.json");
    assert_int_equal(sl_file_write_atomic(p, "{\"a\":1}", 7, 0600, &err), 0);
    assert_int_equal(sl_file_write_atomic(p, "{}", 2, 0600, &err), 0);
    assert_int_equal(sl_file_read(&b, p, 100, &err), 0);
    assert_string_equal(b.ptr, "{}");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    sl_buf_release(&b);
}

static void test_file__atomic_write_missing_dir(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    char p[4096];

    path_of(p, sizeof(p), state, "no/such/dir/state.json");
    assert_int_equal(sl_file_write_atomic(p, "x", 1, 0600, &err), -1);
    assert_int_equal(err.code, SL_ENOTFOUND);
}

static void test_file__write_new_never_overwrites(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_buf b = SL_BUF_INIT(100);
    char p[4096];

    path_of(p, sizeof(p), state, "identity");
    assert_int_equal(sl_file_write_new(p, "one", 3, 0600, &err), 0);
    assert_int_equal(sl_file_write_new(p, "two", 3, 0600, &err), -1);
    assert_int_equal(err.code, SL_ECONFLICT);
    assert_non_null(strstr(err.msg, "refusing to overwrite"));
    assert_int_equal(sl_file_read(&b, p, 100, NULL), 0);
    assert_string_equal(b.ptr, "one");
    sl_buf_release(&b);
}

static void test_file__mkdir_p(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct stat st;
    char p[4096];

    path_of(p, sizeof(p), state, "x/y/z");
    assert_int_equal(sl_mkdir_p(p, 0700, &err), 0);
    assert_int_equal(sl_mkdir_p(p, 0700, &err), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    testutil_write(*state, "plain", "x", 0600);
    path_of(p, sizeof(p), state, "plain/sub");
    assert_int_equal(sl_mkdir_p(p, 0700, &err), -1);
    sl_error_clear(&err);
    assert_int_equal(sl_mkdir_p("", 0700, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_file__read_ok, setup, teardown),
            cmocka_unit_test_setup_teardown(test_file__missing_file, setup, teardown),
            cmocka_unit_test_setup_teardown(test_file__over_the_cap, setup, teardown),
            cmocka_unit_test_setup_teardown(test_file__buffer_cap_smaller_than_file, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_file__directory_is_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_file__unreadable, setup, teardown),
            cmocka_unit_test_setup_teardown(test_file__read_error_is_reported, setup, teardown),
            cmocka_unit_test_setup_teardown(test_file__private_check, setup, teardown),
            cmocka_unit_test_setup_teardown(test_file__secret_over_cap, setup, teardown),
            cmocka_unit_test_setup_teardown(test_file__atomic_write_replaces, setup, teardown),
            cmocka_unit_test_setup_teardown(test_file__atomic_write_missing_dir, setup, teardown),
            cmocka_unit_test_setup_teardown(test_file__write_new_never_overwrites, setup, teardown),
            cmocka_unit_test_setup_teardown(test_file__mkdir_p, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
