/*
 * Renderer units: generator hash suffixes (kustomize's hasher_test vectors),
 * the YAML emitter's style decisions, strategic-merge list order and
 * directives, JSON 6902, label selectors, and object origins / secret marks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "render.h"
#include "render_int.h"

static json_t *parse(const char *json)
{
    json_error_t e;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &e);
    assert_non_null(j);
    return j;
}

static char *emit(const char *json)
{
    struct sl_buf b = SL_BUF_INIT(1 << 20);
    struct sl_error err = SL_ERROR_INIT;
    json_t *j = parse(json);
    assert_int_equal(emit_yaml_doc(j, &b, &err), 0);
    json_decref(j);
    return sl_buf_detach(&b, NULL);
}

static void check_emit(const char *json, const char *want)
{
    char *got = emit(json);
    assert_string_equal(got, want);
    free(got);
}

static void test_emit_styles(void **state)
{
    (void)state;
    /* YAML 1.1 non-strings are double-quoted */
    check_emit("{\"a\":\"yes\",\"b\":\"on\",\"c\":\"123\",\"d\":\"1.5\",\"e\":\"0755\","
               "\"f\":\"2024-01-01\",\"g\":\"null\",\"h\":\"~\",\"i\":\"\"}",
               "a: \"yes\"\nb: \"on\"\nc: \"123\"\nd: \"1.5\"\ne: \"0755\"\nf: \"2024-01-01\"\n"
               "g: \"null\"\nh: \"~\"\ni: \"\"\n");
    /* indicators and edge spaces are single-quoted */
    check_emit("{\"a\":\"*x\",\"b\":\"k: v\",\"c\":\"x #y\",\"d\":\" x\",\"e\":\"@x\"}",
               "a: '*x'\nb: 'k: v'\nc: 'x #y'\nd: ' x'\ne: '@x'\n");
    /* multi-line strings are literal blocks with the right chomping */
    check_emit("{\"a\":\"x\\ny\\n\",\"b\":\"x\\ny\",\"c\":\"x\\n\\n\",\"d\":1}",
               "a: |\n  x\n  y\nb: |-\n  x\n  y\nc: |+\n  x\n\nd: 1\n");
    /* sequences are not indented under keys; empty collections inline; numbers */
    check_emit("{\"l\":[{\"q\":1,\"m\":[1,2]},[3]],\"e\":{},\"f\":[],\"z\":null,\"r\":1.5,"
               "\"t\":true}",
               "e: {}\nf: []\nl:\n- m:\n  - 1\n  - 2\n  q: 1\n- - 3\nr: 1.5\nt: true\nz: null\n");
    /* tabs and other non-printables force double quotes with escapes */
    check_emit("{\"a\":\"x\\ty\"}", "a: \"x\\ty\"\n");
}

static void test_emit_key_order_and_folding(void **state)
{
    (void)state;
    /* go-yaml v2 natural order: non-letters first, digit runs numerically */
    check_emit("{\"a10\":1,\"a2\":1,\"a.1\":1,\"a-1\":1,\"A1\":1,\"_u\":1}",
               "_u: 1\nA1: 1\na-1: 1\na.1: 1\na2: 1\na10: 1\n");
    /* plain scalars fold once past column 80 (checked against kubectl kustomize) */
    char *got = emit("{\"d\":{\"k\":\"aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee "
                     "ffffffffff gggggggggg hhhhhhhhhh\"}}");
    assert_string_equal(got, "d:\n  k: aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee "
                             "ffffffffff gggggggggg\n    hhhhhhhhhh\n");
    free(got);
}

static void test_go_json_marshal(void **state)
{
    struct sl_buf b = SL_BUF_INIT(1 << 20);
    struct sl_error err = SL_ERROR_INIT;
    json_t *j = parse("{\"b\":\"<a href='x'>&amp;</a>\",\"a\":\"\\u2028\\n\"}");
    (void)state;
    assert_int_equal(go_json_marshal(j, &b, &err), 0);
    assert_string_equal(b.ptr,
                        "{\"a\":\"\\u2028\\n\",\"b\":\"\\u003ca href='x'\\u003e\\u0026amp;\\u003c/"
                        "a\\u003e\"}");
    json_decref(j);
    sl_buf_release(&b);
}

static json_t *smp(const char *dst, const char *patch, const char *kind, bool *deleted)
{
    struct sl_error err = SL_ERROR_INIT;
    json_t *d = parse(dst), *p = parse(patch);
    assert_int_equal(smp_apply(&d, p, kind, true, deleted, &err), 0);
    json_decref(p);
    return d;
}

static void check_smp(const char *dst, const char *patch, const char *want)
{
    bool deleted;
    json_t *got = smp(dst, patch, "Deployment", &deleted), *w = parse(want);
    assert_false(deleted);
    if (!json_equal(got, w)) {
        char *s = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("got %s", s);
    }
    json_decref(got);
    json_decref(w);
}

static void test_smp(void **state)
{
    (void)state;
    /* elements named in the patch first, in patch order; deletes; null removes */
    check_smp("{\"containers\":[{\"name\":\"e1\"},{\"name\":\"e2\"}]}",
              "{\"containers\":[{\"name\":\"e2\",\"$patch\":\"delete\"},{\"name\":\"e3\"}]}",
              "{\"containers\":[{\"name\":\"e3\"},{\"name\":\"e1\"}]}");
    check_smp("{\"env\":[{\"name\":\"A\",\"value\":\"1\"}],\"x\":{\"y\":1,\"z\":2}}",
              "{\"env\":[{\"name\":\"A\",\"value\":\"2\"},{\"name\":\"B\"}],\"x\":{\"y\":null}}",
              "{\"env\":[{\"name\":\"A\",\"value\":\"2\"},{\"name\":\"B\"}],\"x\":{\"z\":2}}");
    /* lists without a merge key are replaced; $patch: replace on a map */
    check_smp("{\"args\":[\"a\",\"b\"],\"m\":{\"k\":1,\"j\":2}}",
              "{\"args\":[\"c\"],\"m\":{\"$patch\":\"replace\",\"n\":3}}",
              "{\"args\":[\"c\"],\"m\":{\"n\":3}}");
    /* {$patch: replace} as a list element replaces the whole keyed list */
    check_smp("{\"volumes\":[{\"name\":\"a\"},{\"name\":\"b\"}]}",
              "{\"volumes\":[{\"$patch\":\"replace\"},{\"name\":\"c\"}]}",
              "{\"volumes\":[{\"name\":\"c\"}]}");
    bool deleted;
    json_t *d = smp("{\"kind\":\"X\"}", "{\"$patch\":\"delete\"}", "X", &deleted);
    assert_true(deleted);
    json_decref(d);
}

static void test_jsonpatch(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    json_t *doc = parse("{\"a\":[1,2],\"b\":{\"c\":1}}");
    json_t *ops = parse("[{\"op\":\"add\",\"path\":\"/a/1\",\"value\":9},"
                        "{\"op\":\"add\",\"path\":\"/a/-\",\"value\":3},"
                        "{\"op\":\"replace\",\"path\":\"/b/c\",\"value\":2},"
                        "{\"op\":\"copy\",\"from\":\"/b\",\"path\":\"/d\"},"
                        "{\"op\":\"remove\",\"path\":\"/b\"},"
                        "{\"op\":\"test\",\"path\":\"/d/c\",\"value\":2}]");
    json_t *want = parse("{\"a\":[1,9,2,3],\"d\":{\"c\":2}}");
    (void)state;
    assert_int_equal(jsonpatch_apply(&doc, ops, "p", &err), 0);
    assert_true(json_equal(doc, want));
    json_decref(ops);
    /* add needs the parent to exist */
    ops = parse("[{\"op\":\"add\",\"path\":\"/x/y\",\"value\":1}]");
    assert_int_equal(jsonpatch_apply(&doc, ops, "p", &err), -1);
    assert_non_null(strstr(err.msg, "/x/y"));
    json_decref(ops);
    json_decref(want);
    json_decref(doc);
}

static void test_label_selector(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    json_t *l = parse("{\"app\":\"web\",\"tier\":\"backend\"}");
    bool m;
    (void)state;
    assert_int_equal(label_selector_match("app=web,tier in (backend, x)", l, &m, &err), 0);
    assert_true(m);
    assert_int_equal(label_selector_match("app!=web", l, &m, &err), 0);
    assert_false(m);
    assert_int_equal(label_selector_match("!gone,tier,env notin (prod)", l, &m, &err), 0);
    assert_true(m);
    assert_int_equal(label_selector_match("app==db", l, &m, &err), 0);
    assert_false(m);
    assert_int_equal(label_selector_match("in (", l, &m, &err), -1);
    json_decref(l);
}

static void test_origin_and_secret(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_tree *t = sl_tree_open_dir(SLUICE_TEST_DATA "/render", &err);
    (void)state;
    assert_non_null(t);
    assert_int_equal(sl_render(t, "origin", NULL, &objs, &err), 0);
    assert_int_equal(objs.n, 3);
    /* legacy order: Secret, Service, Deployment */
    assert_string_equal(json_string_value(json_object_get(objs.items[0].json, "kind")), "Secret");
    assert_true(objs.items[0].secret);
    assert_string_equal(objs.items[0].origin.file, "origin/kustomization.yaml");
    assert_string_equal(json_string_value(json_object_get(objs.items[1].json, "kind")), "Service");
    assert_false(objs.items[1].secret);
    assert_string_equal(objs.items[1].origin.file, "origin/base/web.yaml");
    assert_int_equal(objs.items[1].origin.line, 2);
    assert_string_equal(objs.items[2].origin.file, "origin/base/web.yaml");
    assert_int_equal(objs.items[2].origin.line, 10);
    /* the secret's value never shows up in the error-free path, but is base64 data */
    const char *pw = json_string_value(
            json_object_get(json_object_get(objs.items[0].json, "data"), "password"));
    assert_string_equal(pw, "aHVudGVyMg==");
    sl_objlist_release(&objs);
    sl_tree_free(t);
}

/*
 * Equal scalars of the resources are one shared value (memory), but a
 * secret object's values are its own: they are wiped in place after use.
 */
static void test_shared_scalars(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_tree *t = sl_tree_open_dir(SLUICE_TEST_DATA "/render", &err);
    (void)state;
    assert_non_null(t);
    assert_int_equal(sl_render(t, "share", NULL, &objs, &err), 0);
    assert_int_equal(objs.n, 3);
    json_t *d1 = json_object_get(objs.items[0].json, "data");
    json_t *d2 = json_object_get(objs.items[1].json, "data");
    assert_string_equal(json_string_value(json_object_get(d1, "k")), "shared-value");
    assert_ptr_equal(json_object_get(d1, "k"), json_object_get(d2, "k"));
    assert_ptr_equal(json_object_get(d1, "port"), json_object_get(d2, "port"));
    assert_ptr_equal(json_object_get(objs.items[0].json, "apiVersion"),
                     json_object_get(objs.items[1].json, "apiVersion"));
    /* a patch's value is shared by the objects it patched... */
    json_t *e1 = json_object_get(json_object_get(objs.items[0].json, "stringData"), "extra");
    assert_ptr_equal(e1,
                     json_object_get(json_object_get(objs.items[1].json, "stringData"), "extra"));
    assert_int_equal(e1->refcount, 2);
    /* ...but not by a Secret made by secretGenerator */
    assert_true(objs.items[2].secret);
    json_t *extra = json_object_get(json_object_get(objs.items[2].json, "stringData"), "extra");
    assert_string_equal(json_string_value(extra), "same");
    assert_int_equal(extra->refcount, 1);
    sl_objlist_release(&objs);
    sl_tree_free(t);
}

/* The JSON array printed element by element is the array json_dumps prints. */
static void test_json_items(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_buf got = SL_BUF_INIT(1 << 20);
    json_t *arr = json_array();
    (void)state;
    assert_int_equal(sl_render_format_json_item(&objs, 0, &got, &err), 0);
    assert_string_equal(got.ptr, "[]\n");
    sl_buf_reset(&got);
    for (int i = 0; i < 3; i++) {
        json_t *o = json_pack("{s:s, s:{s:i, s:[s, {}, []], s:{}}, s:s}", "kind", "ConfigMap",
                              "data", "n", i, "l", "a\nb", "e", "z", "x");
        json_array_append(arr, o);
        assert_int_equal(sl_objlist_add(&objs, o, "f.yaml", i, &err), 0);
    }
    for (size_t i = 0; i < objs.n; i++)
        assert_int_equal(sl_render_format_json_item(&objs, i, &got, &err), 0);
    char *want = json_dumps(arr, JSON_INDENT(2) | JSON_SORT_KEYS);
    assert_int_equal(got.len, strlen(want) + 1);
    assert_memory_equal(got.ptr, want, strlen(want));
    assert_int_equal(got.ptr[got.len - 1], '\n');
    assert_int_not_equal(sl_render_format_json_item(&objs, 3, &got, &err), 0);
    free(want);
    json_decref(arr);
    sl_buf_release(&got);
    sl_objlist_release(&objs);
}

/* Names with kustomize's hash suffix, checked against kubectl kustomize (the Secret
 * vectors are api/hasher/hasher_test.go's; an empty ConfigMap hashes data as ""). */
static void test_hash_suffixes(void **state)
{
    static const char *const want[] = {"empty-6ct58987ht", "html-64gdtgtt82",   "one-9g67k2htb6",
                                       "three-f5h7t85m9b", "sempty-t75bgf6ctb", "sone-74bd68bm66",
                                       "sthree-dgcb6h9tmk"};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_tree *t = sl_tree_open_dir(SLUICE_TEST_DATA "/render", &err);
    (void)state;
    assert_non_null(t);
    assert_int_equal(sl_render(t, "hash", NULL, &objs, &err), 0);
    assert_int_equal(objs.n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < objs.n; i++) {
        const char *name = json_string_value(
                json_object_get(json_object_get(objs.items[i].json, "metadata"), "name"));
        assert_string_equal(name, want[i]);
    }
    sl_objlist_release(&objs);
    sl_tree_free(t);
}

/* The tree's byte budget (256 MiB by default) stops a render that reads too much. */
static void test_tree_budget(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_tree *t = sl_tree_open_dir(SLUICE_TEST_DATA "/render", &err);
    (void)state;
    assert_non_null(t);
    t->max_bytes = 200;
    assert_int_equal(sl_render(t, "origin", NULL, &objs, &err), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
    assert_int_equal(objs.n, 0);
    sl_tree_free(t);
}

/* Object and nesting limits from sl_render_opts. */
static void test_render_limits(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_render_opts opts = SL_RENDER_OPTS_DEFAULT;
    struct sl_tree *t = sl_tree_open_dir(SLUICE_TEST_DATA "/render", &err);
    (void)state;
    opts.max_objects = 2;
    assert_int_equal(sl_render(t, "origin", &opts, &objs, &err), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
    assert_non_null(strstr(err.msg, "more than 2 objects"));
    sl_error_clear(&err);
    opts = (struct sl_render_opts)SL_RENDER_OPTS_DEFAULT;
    opts.max_depth = 0;
    assert_int_equal(sl_render(t, "origin", &opts, &objs, &err), -1);
    assert_non_null(strstr(err.msg, "nested deeper"));
    assert_int_equal(objs.n, 0);
    sl_tree_free(t);
}

static void test_errors_name_files(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_tree *t = sl_tree_open_dir(SLUICE_TEST_DATA "/render", &err);
    (void)state;
    assert_int_equal(sl_render(t, "nonexistent", NULL, &objs, &err), -1);
    assert_int_equal(err.code, SL_ENOTFOUND);
    sl_error_clear(&err);
    /* a path that leaves the tree is refused before anything is read */
    assert_int_equal(sl_render(t, "../render", NULL, &objs, &err), -1);
    assert_int_equal(err.code, SL_EPERM);
    sl_error_clear(&err);
    /* a directory without a kustomization names the directory */
    assert_int_equal(sl_render(t, "origin/base/..", NULL, &objs, &err), 0);
    sl_objlist_release(&objs);
    sl_tree_free(t);
}

/* One integer reader for the loader and the emitter (Go's ParseInt(s, 0, 64)). */
static void test_go_int(void **state)
{
    json_int_t v = 0;

    (void)state;
    assert_int_equal(rl_go_int("0x1F", &v), RL_INT_OK);
    assert_int_equal(v, 31);
    assert_int_equal(rl_go_int("0o17", &v), RL_INT_OK);
    assert_int_equal(v, 15);
    assert_int_equal(rl_go_int("017", &v), RL_INT_OK);
    assert_int_equal(v, 15);
    assert_int_equal(rl_go_int("-1_000", &v), RL_INT_OK);
    assert_int_equal(v, -1000);
    assert_int_equal(rl_go_int("-9223372036854775808", &v), RL_INT_OK);
    assert_int_equal(rl_go_int("9223372036854775808", &v), RL_INT_RANGE);
    assert_int_equal(rl_go_int("123456789012345678901234567890", NULL), RL_INT_RANGE);
    assert_int_equal(rl_go_int("08", NULL), RL_INT_NO);
    assert_int_equal(rl_go_int("0x", NULL), RL_INT_NO);
    assert_int_equal(rl_go_int("1.5", NULL), RL_INT_NO);
    assert_int_equal(rl_go_int("v1", NULL), RL_INT_NO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_emit_styles),
            cmocka_unit_test(test_go_int),
            cmocka_unit_test(test_emit_key_order_and_folding),
            cmocka_unit_test(test_go_json_marshal),
            cmocka_unit_test(test_smp),
            cmocka_unit_test(test_jsonpatch),
            cmocka_unit_test(test_label_selector),
            cmocka_unit_test(test_origin_and_secret),
            cmocka_unit_test(test_shared_scalars),
            cmocka_unit_test(test_json_items),
            cmocka_unit_test(test_hash_suffixes),
            cmocka_unit_test(test_tree_budget),
            cmocka_unit_test(test_render_limits),
            cmocka_unit_test(test_errors_name_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
