#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "yamltree.h"

static struct sl_ystream *load(const char *s, struct sl_error *err)
{
    struct sl_ystream *ys = NULL;

    if (sl_yaml_load(&ys, s, strlen(s), "t.yaml", NULL, err) != 0)
        return NULL;
    return ys;
}

static void test_yamltree__lines_and_docs(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_ystream *ys = load("a: 1\n---\nkind: X\nmeta:\n  name: n\n---\n", &err);
    const struct sl_ynode *name;

    assert_non_null(ys);
    assert_int_equal(ys->ndocs, 3);
    assert_int_equal(ys->docs[0].root->type, SL_Y_MAP);
    assert_int_equal(ys->docs[1].line, 2);
    name = sl_ynode_get(sl_ynode_get(ys->docs[1].root, "meta"), "name");
    assert_non_null(name);
    assert_string_equal(name->value, "n");
    assert_int_equal(name->line, 5);
    assert_int_equal(name->col, 9);
    /* A trailing "---" starts an empty document: its root is a null scalar. */
    assert_true(sl_yscalar_is_null(ys->docs[2].root));
    assert_null(sl_ynode_get(ys->docs[0].root, "missing"));
    sl_ystream_free(ys);
}

static void test_yamltree__malformed_names_line_and_column(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    assert_null(load("a: 1\nb: [1, 2\nc: 3\n", &err));
    assert_int_equal(err.code, SL_EPARSE);
    assert_memory_equal(err.msg, "t.yaml:", 7);
    assert_non_null(strstr(err.msg, "t.yaml:3:"));
}

static void test_yamltree__duplicate_keys(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    assert_null(load("a: 1\nb: 2\na: 3\n", &err));
    assert_string_equal(err.msg, "t.yaml:3:1: duplicate key \"a\" (first at line 1)");
}

static void test_yamltree__alias_bomb_is_bounded(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";

    assert_null(load(bomb, &err));
    assert_int_equal(err.code, SL_ETOOLARGE);
    assert_non_null(strstr(err.msg, "alias expansion"));
}

static void test_yamltree__aliases_expand(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_ystream *ys = load("base: &b {x: 1}\ncopy: *b\n", &err);
    json_t *j;
    char *s;

    assert_non_null(ys);
    j = sl_ynode_to_json(ys->docs[0].root, "t.yaml", &err);
    s = json_dumps(j, JSON_COMPACT);
    assert_string_equal(s, "{\"base\":{\"x\":1},\"copy\":{\"x\":1}}");
    free(s);
    json_decref(j);
    sl_ystream_free(ys);
}

static void test_yamltree__unknown_alias(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    assert_null(load("a: *nope\n", &err));
    assert_int_equal(err.code, SL_EPARSE);
}

static void test_yamltree__depth_is_bounded(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_buf b = SL_BUF_INIT(1 << 20);
    struct sl_ystream *ys = NULL;

    for (int i = 0; i < 500; i++)
        sl_buf_putc(&b, '[', NULL);
    for (int i = 0; i < 500; i++)
        sl_buf_putc(&b, ']', NULL);
    assert_int_equal(sl_yaml_load(&ys, b.ptr, b.len, "deep.yaml", NULL, &err), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
    assert_non_null(strstr(err.msg, "deep.yaml:1:"));
    assert_non_null(strstr(err.msg, "nesting deeper than 128"));
    sl_buf_release(&b);
}

static void test_yamltree__node_and_doc_limits(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_yaml_limits lim = {10, 5, 10, 2};
    struct sl_ystream *ys = NULL;
    const char *many = "[1, 2, 3, 4, 5, 6]";
    const char *docs = "a\n---\nb\n---\nc\n";

    assert_int_equal(sl_yaml_load(&ys, many, strlen(many), "n.yaml", &lim, &err), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
    sl_error_clear(&err);
    assert_int_equal(sl_yaml_load(&ys, docs, strlen(docs), "d.yaml", &lim, &err), -1);
    assert_non_null(strstr(err.msg, "more than 2 YAML documents"));
}

static void test_yamltree__core_schema(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_ystream *ys =
            load("n: null\nt: true\nf: False\ni: 42\nneg: -7\nhex: 0x1F\noct: 0o17\nfl: 1.5\n"
                 "exp: 1e3\ns: hello\nq: \"42\"\nsq: 'true'\nyes: yes\nempty:\ntil: ~\n"
                 "str: !!str 12\nver: 1.10\nlead: 012\nlit: |\n  a\n  b\n",
                 &err);
    json_t *j;
    char *s;

    assert_non_null(ys);
    j = sl_ynode_to_json(ys->docs[0].root, "t.yaml", &err);
    assert_non_null(j);
    s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
    assert_string_equal(s, "{\"n\":null,\"t\":true,\"f\":false,\"i\":42,\"neg\":-7,\"hex\":31,"
                           "\"oct\":15,\"fl\":1.5,\"exp\":1000.0,\"s\":\"hello\",\"q\":\"42\","
                           "\"sq\":\"true\",\"yes\":\"yes\",\"empty\":null,\"til\":null,"
                           "\"str\":\"12\",\"ver\":1.1,\"lead\":12,\"lit\":\"a\\nb\\n\"}");
    free(s);
    json_decref(j);
    sl_ystream_free(ys);
}

static void test_yamltree__bad_explicit_tag(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_ystream *ys = load("a: !!int abc\n", &err);

    assert_non_null(ys);
    assert_null(sl_ynode_to_json(ys->docs[0].root, "t.yaml", &err));
    assert_int_equal(err.code, SL_EPARSE);
    assert_non_null(strstr(err.msg, "t.yaml:1:4"));
    sl_ystream_free(ys);
}

static void test_yamltree__non_scalar_key(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    assert_null(load("? [a]\n: b\n", &err));
    assert_non_null(strstr(err.msg, "mapping keys must be scalars"));
}

struct consume_seen {
    size_t ndocs;
    bool values_ok;
};

static int consume_doc(void *ctx, const struct sl_ydoc *doc, struct sl_error *err)
{
    struct consume_seen *seen = ctx;
    char want[32];
    const struct sl_ynode *v = sl_ynode_get(doc->root, "id");

    (void)err;
    snprintf(want, sizeof(want), "doc-%zu", seen->ndocs);
    if (v == NULL || strcmp(v->value, want) != 0)
        seen->values_ok = false;
    seen->ndocs++;
    return 0;
}

/* A consumed buffer parses like any other, and its parsed pages are given back (read as 0). */
static void test_yamltree__load_each_consume(void **state)
{
    struct sl_buf b = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct sl_error err = SL_ERROR_INIT;
    struct consume_seen seen = {0, true};
    size_t n = 20000, zeros = 0;
    (void)state;

    for (size_t i = 0; i < n; i++)
        assert_int_equal(sl_buf_printf(&b, &err, "%sid: doc-%zu\npad: xxxxxxxxxxxxxxxxxxxx\n",
                                       i > 0 ? "---\n" : "", i),
                         0);
    assert_true(b.len > 512 * 1024);
    assert_int_equal(
            sl_yaml_load_each_consume(b.ptr, b.len, "big.yaml", NULL, consume_doc, &seen, &err), 0);
    assert_int_equal(seen.ndocs, n);
    assert_true(seen.values_ok);
    for (size_t i = 0; i < b.len / 2; i++)
        zeros += b.ptr[i] == '\0';
    assert_true(zeros > b.len / 4);
    sl_buf_release(&b);
}

static void test_yamltree__null_checks(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_ystream *ys = load("a: ~\nb: 'null'\nc: NULL\n", &err);

    assert_true(sl_yscalar_is_null(sl_ynode_get(ys->docs[0].root, "a")));
    assert_false(sl_yscalar_is_null(sl_ynode_get(ys->docs[0].root, "b")));
    assert_true(sl_yscalar_is_null(sl_ynode_get(ys->docs[0].root, "c")));
    assert_true(sl_yscalar_is_null(NULL));
    assert_false(sl_yscalar_is_null(ys->docs[0].root));
    sl_ystream_free(ys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_yamltree__lines_and_docs),
            cmocka_unit_test(test_yamltree__malformed_names_line_and_column),
            cmocka_unit_test(test_yamltree__duplicate_keys),
            cmocka_unit_test(test_yamltree__alias_bomb_is_bounded),
            cmocka_unit_test(test_yamltree__aliases_expand),
            cmocka_unit_test(test_yamltree__unknown_alias),
            cmocka_unit_test(test_yamltree__depth_is_bounded),
            cmocka_unit_test(test_yamltree__node_and_doc_limits),
            cmocka_unit_test(test_yamltree__core_schema),
            cmocka_unit_test(test_yamltree__bad_explicit_tag),
            cmocka_unit_test(test_yamltree__non_scalar_key),
            cmocka_unit_test(test_yamltree__null_checks),
            cmocka_unit_test(test_yamltree__load_each_consume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
