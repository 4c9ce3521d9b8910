#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"
#include "tree.h"
#include "testutil.h"

static int setup(void **state)
{
    char *dir = testutil_mkdtemp();
    char p[4096];

    if (dir == NULL)
        return -1;
    snprintf(p, sizeof(p), "%s/base", dir);
    mkdir(p, 0755);
    testutil_write(dir, "base/kustomization.yaml", "resources: [a.yaml]\n", 0644);
    testutil_write(dir, "base/a.yaml", "kind: A\n", 0644);
    testutil_write(dir, "base/b.yaml", "kind: B\n", 0644);
    snprintf(p, sizeof(p), "%s/base/evil", dir);
    if (symlink("/etc/hostname", p) != 0)
        return -1;
    snprintf(p, sizeof(p), "%s/base/good", dir);
    if (symlink("a.yaml", p) != 0)
        return -1;
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    testutil_rmrf(*state);
    return 0;
}

static void test_tree__dir_read_stat_list(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_tree *t = sl_tree_open_dir(*state, &err);
    struct sl_buf b = SL_BUF_INIT(SL_FILE_MAX);
    enum sl_tree_kind kind;
    char **names;
    size_t n, size;

    assert_non_null(t);
    assert_int_equal(sl_tree_read(t, "base/./a.yaml", &b, &err), 0);
    assert_string_equal(b.ptr, "kind: A\n");
    sl_buf_reset(&b);
    assert_int_equal(sl_tree_read(t, "base/good", &b, &err), 0);
    assert_string_equal(b.ptr, "kind: A\n");
    assert_int_equal(t->bytes_read, 16);
    assert_int_equal(sl_tree_stat(t, "base", &kind, &size, &err), 0);
    assert_int_equal(kind, SL_TREE_DIR);
    assert_int_equal(sl_tree_stat(t, "base/b.yaml", &kind, &size, &err), 0);
    assert_int_equal(kind, SL_TREE_FILE);
    assert_int_equal(size, 8);
    assert_int_equal(sl_tree_stat(t, "nope", &kind, &size, &err), 0);
    assert_int_equal(kind, SL_TREE_NONE);
    assert_int_equal(sl_tree_list(t, "base", &names, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_string_equal(names[0], "a.yaml");
    assert_string_equal(names[1], "b.yaml");
    assert_string_equal(names[2], "evil");
    sl_tree_names_free(names, n);
    sl_buf_release(&b);
    sl_tree_free(t);
}

static void test_tree__escapes_are_refused(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_tree *t = sl_tree_open_dir(*state, &err);
    struct sl_buf b = SL_BUF_INIT(SL_FILE_MAX);
    enum sl_tree_kind kind;
    size_t size;

    assert_int_equal(sl_tree_read(t, "base/evil", &b, &err), -1);
    assert_int_equal(err.code, SL_EPERM);
    assert_non_null(strstr(err.msg, "base/evil: resolves outside"));
    sl_error_clear(&err);
    assert_int_equal(sl_tree_read(t, "../etc/passwd", &b, &err), -1);
    assert_int_equal(err.code, SL_EPERM);
    sl_error_clear(&err);
    assert_int_equal(sl_tree_stat(t, "base/evil", &kind, &size, &err), -1);
    assert_int_equal(err.code, SL_EPERM);
    sl_error_clear(&err);
    assert_int_equal(sl_tree_read(t, "base/missing.yaml", &b, &err), -1);
    assert_int_equal(err.code, SL_ENOTFOUND);
    sl_buf_release(&b);
    sl_tree_free(t);
}

static void test_tree__budget(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_tree *t = sl_tree_open_dir(*state, &err);
    struct sl_buf b = SL_BUF_INIT(SL_FILE_MAX);

    t->max_bytes = 12;
    assert_int_equal(sl_tree_read(t, "base/a.yaml", &b, &err), 0);
    assert_int_equal(sl_tree_read(t, "base/b.yaml", &b, &err), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
    assert_non_null(strstr(err.msg, "limit of 12 bytes read from one tree"));
    sl_buf_release(&b);
    sl_tree_free(t);
}

static void test_tree__open_errors(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    char p[4096];

    assert_null(sl_tree_open_dir("/nonexistent/dir", &err));
    assert_int_equal(err.code, SL_ENOTFOUND);
    sl_error_clear(&err);
    snprintf(p, sizeof(p), "%s/base/a.yaml", (char *)*state);
    assert_null(sl_tree_open_dir(p, &err));
    assert_int_equal(err.code, SL_EINVAL);
    sl_tree_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_tree__dir_read_stat_list, setup, teardown),
            cmocka_unit_test_setup_teardown(test_tree__escapes_are_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_tree__budget, setup, teardown),
            cmocka_unit_test_setup_teardown(test_tree__open_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
