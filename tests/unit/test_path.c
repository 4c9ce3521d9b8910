#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "path.h"
#include "testutil.h"

static void clean_ok(const char *in, const char *want)
{
    struct sl_buf b = SL_BUF_INIT(8192);
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_path_clean(&b, in, &err), 0);
    assert_string_equal(b.ptr, want);
    sl_buf_release(&b);
}

static void clean_bad(const char *in, enum sl_code code)
{
    struct sl_buf b = SL_BUF_INIT(8192);
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_path_clean(&b, in, &err), -1);
    assert_int_equal(err.code, code);
    sl_buf_release(&b);
}

static void test_path__clean(void **state)
{
    clean_ok("a//b/./c/../d", "a/b/d");
    clean_ok("", ".");
    clean_ok(".", ".");
    clean_ok("./", ".");
    clean_ok("a/..", ".");
    clean_ok("overlays/prod/../../base", "base");
    clean_ok("a/b/", "a/b");
    clean_ok("..a/b..", "..a/b..");
}

static void test_path__clean_refuses_escapes(void **state)
{
    char longpath[5000];

    clean_bad("..", SL_EPERM);
    clean_bad("../etc", SL_EPERM);
    clean_bad("a/../../etc", SL_EPERM);
    clean_bad("/etc/passwd", SL_EPERM);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    clean_bad(longpath, SL_ETOOLARGE);
    clean_bad(NULL, SL_EINVAL);
}

static void test_path__join(void **state)
{
    struct sl_buf b = SL_BUF_INIT(8192);
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_path_join(&b, "overlays/prod", "../../base", &err), 0);
    assert_string_equal(b.ptr, "base");
    assert_int_equal(sl_path_join(&b, ".", "x.yaml", &err), 0);
    assert_string_equal(b.ptr, "x.yaml");
    assert_int_equal(sl_path_join(&b, "", "x.yaml", &err), 0);
    assert_string_equal(b.ptr, "x.yaml");
    assert_int_equal(sl_path_join(&b, "prod", "../../../etc", &err), -1);
    assert_int_equal(err.code, SL_EPERM);
    assert_non_null(strstr(err.msg, "../../../etc: path leaves the repository root (from prod)"));
    sl_error_clear(&err);
    assert_int_equal(sl_path_join(&b, "prod", "/etc/passwd", &err), -1);
    assert_int_equal(err.code, SL_EPERM);
    assert_true(sl_path_is_safe_relative("a/b"));
    assert_false(sl_path_is_safe_relative("../a"));
    sl_buf_release(&b);
}

static void test_path__confine_symlinks(void **state)
{
    char *dir = testutil_mkdtemp();
    struct sl_buf b = SL_BUF_INIT(8192);
    struct sl_error err = SL_ERROR_INIT;
    char p[4096], q[4096];

    assert_non_null(dir);
    snprintf(p, sizeof(p), "%s/sub", dir);
    mkdir(p, 0755);
    testutil_write(dir, "sub/file.yaml", "x: 1\n", 0644);
    snprintf(p, sizeof(p), "%s/inside", dir);
    assert_int_equal(symlink("sub/file.yaml", p), 0);
    snprintf(p, sizeof(p), "%s/escape", dir);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    snprintf(p, sizeof(p), "%s/sub/up", dir);
    assert_int_equal(symlink("../..", p), 0);

    assert_int_equal(sl_path_confine(&b, dir, "inside", &err), 0);
    snprintf(q, sizeof(q), "/sub/file.yaml");
    assert_non_null(strstr(b.ptr, q));
    assert_int_equal(sl_path_confine(&b, dir, "escape", &err), -1);
    assert_int_equal(err.code, SL_EPERM);
    assert_non_null(strstr(err.msg, "escape: resolves outside"));
    sl_error_clear(&err);
    assert_int_equal(sl_path_confine(&b, dir, "sub/up/etc", &err), -1);
    assert_true(err.code == SL_EPERM || err.code == SL_ENOTFOUND);
    sl_error_clear(&err);
    assert_int_equal(sl_path_confine(&b, dir, "sub/up", &err), -1);
    assert_int_equal(err.code, SL_EPERM);
    sl_error_clear(&err);
    assert_int_equal(sl_path_confine(&b, dir, "missing", &err), -1);
    assert_int_equal(err.code, SL_ENOTFOUND);
    sl_error_clear(&err);
    assert_int_equal(sl_path_confine(&b, dir, "../x", &err), -1);
    assert_int_equal(err.code, SL_EPERM);
    sl_error_clear(&err);
    assert_int_equal(sl_path_confine(&b, "/nonexistent-root", "x", &err), -1);
    assert_int_equal(err.code, SL_ENOTFOUND);
    sl_buf_release(&b);
    testutil_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_path__clean),
            cmocka_unit_test(test_path__clean_refuses_escapes),
            cmocka_unit_test(test_path__join),
            cmocka_unit_test(test_path__confine_symlinks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
