#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "object.h"

static void test_object__list_and_ids(void **state)
{
    struct sl_objlist l = SL_OBJLIST_INIT;
    struct sl_error err = SL_ERROR_INIT;
    char id[128], origin[128];

    for (int i = 0; i < 40; i++) {
        json_t *o = json_pack("{s:s, s:{s:s, s:s}}", "kind", "ConfigMap", "metadata", "name", "cm",
                              "namespace", "shop");
        assert_int_equal(sl_objlist_add(&l, o, "base/cm.yaml", i + 1, &err), 0);
    }
    assert_int_equal(l.n, 40);
    sl_object_id(l.items[3].json, id, sizeof(id));
    assert_string_equal(id, "ConfigMap shop/cm");
    sl_origin_str(&l.items[3].origin, origin, sizeof(origin));
    assert_string_equal(origin, "base/cm.yaml:4");
    assert_int_equal(sl_objlist_add(&l,
                                    json_pack("{s:s, s:{s:s}}", "kind", "Namespace", "metadata",
                                              "name", "shop"),
                                    NULL, 0, &err),
                     0);
    sl_object_id(l.items[40].json, id, sizeof(id));
    assert_string_equal(id, "Namespace shop");
    sl_origin_str(&l.items[40].origin, origin, sizeof(origin));
    assert_string_equal(origin, "generated");
    sl_object_id(json_object_get(l.items[0].json, "missing"), id, sizeof(id));
    assert_string_equal(id, "? ?");
    sl_objlist_release(&l);
    assert_int_equal(l.n, 0);
    sl_objlist_release(&l);
}

/* Objects of every block size, built and torn down in a mixed order, come back intact. */
static void *slab_churn(void *arg)
{
    size_t *bad = arg;
    json_t *keep = json_array();

    for (int round = 0; round < 200; round++) {
        json_t *o = json_object();
        char key[300], val[300];
        for (int i = 0; i < 40; i++) {
            int kl = 1 + (round * 7 + i * 13) % 120, vl = (round + i * 31) % 290;
            memset(key, 'a' + i % 26, (size_t)kl);
            key[kl] = '\0';
            memset(val, 'A' + round % 26, (size_t)vl);
            val[vl] = '\0';
            json_object_set_new(o, key, json_string(val));
            json_object_set_new(o, "n", json_integer(round * i));
        }
        if (round % 3 == 0)
            json_array_append(keep, o);
        if (round % 5 == 0 && json_array_size(keep) > 2)
            json_array_remove(keep, 1);
        json_decref(o);
    }
    for (size_t i = 0; i < json_array_size(keep); i++) {
        char *dump = json_dumps(json_array_get(keep, i), JSON_COMPACT | JSON_SORT_KEYS);
        json_t *back = dump ? json_loads(dump, 0, NULL) : NULL;
        if (back == NULL || !json_equal(back, json_array_get(keep, i)) ||
            json_object_size(back) != 41)
            (*bad)++;
        json_decref(back);
        free(dump);
    }
    json_decref(keep);
    return NULL;
}

static void test_object__json_slabs(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    /* made by malloc, freed after the switch: must go back to free() */
    json_t *before =
            json_pack("{s:s, s:[i, i], s:{s:s}}", "kind", "ConfigMap", "list", 1, 2, "m", "k", "v");
    char *before_text = json_dumps(before, JSON_SORT_KEYS);
    pthread_t th[4];
    size_t bad[4] = {0};
    (void)state;

    assert_int_equal(sl_json_use_slabs(&err), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, slab_churn, &bad[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(bad[i], 0);
    }
    json_t *again = json_loads(before_text, 0, NULL);
    assert_true(json_equal(again, before));
    json_decref(again);
    json_decref(before);
    free(before_text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_object__list_and_ids),
            /* last: it switches jansson's allocator for the rest of the process */
            cmocka_unit_test(test_object__json_slabs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
