#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_object__list_and_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
