/*
 * libFuzzer target: the policy rule-file parser, then the evaluator with
 * whatever rules parsed, on a fixed object list that has every shape the
 * evaluator walks (pod template, containers, lists, maps); plus the
 * quantity parser on the input's first line.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "object.h"
#include "policy.h"
#include "quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char OBJECTS[] =
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"w\","
        "\"namespace\":\"n\",\"labels\":{\"app\":\"w\"},\"annotations\":{"
        "\"sluice.dev/policy-exception.x\":\"why\"}},\"spec\":{\"template\":{\"spec\":{"
        "\"securityContext\":{\"runAsNonRoot\":true},\"initContainers\":[{\"name\":\"i\","
        "\"image\":\"a:1\"}],\"containers\":[{\"name\":\"c\",\"image\":\"b\",\"ports\":[{"
        "\"hostPort\":1}],\"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"}},"
        "\"securityContext\":{\"capabilities\":{\"add\":[\"SYS_ADMIN\"],\"drop\":[]}}}],"
        "\"volumes\":[{\"name\":\"v\",\"hostPath\":{\"path\":\"/\"}}]}}}}";
static const char NAMESPACE[] = "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{"
                                "\"name\":\"n\",\"labels\":{\"a\":\"b\"}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_policy_set *set = NULL;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_policy_report rep = SL_POLICY_REPORT_INIT;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_diags d = SL_DIAGS_INIT;
    char line[128];
    size_t n = 0;
    struct sl_qty q;
    char canon[160];

    while (n < size && n < sizeof(line) - 1 && data[n] != '\n') {
        line[n] = (char)data[n];
        n++;
    }
    line[n] = '\0';
    /* The first line as a quantity: parse, print canonically, read back, same value. */
    if (sl_qty_parse(line, &q) == 0 && sl_qty_format(&q, canon, sizeof(canon)) == 0) {
        struct sl_qty back;
        if (sl_qty_parse(canon, &back) != 0 || !sl_qty_equal(&q, &back) ||
            sl_qty_cmp(&q, &back) != 0)
            __builtin_trap();
    }

    if (sl_policy_set_new(&set, &err) != 0)
        return 0;
    if (sl_policy_parse(set, (const char *)data, size, "fuzz.yaml", &d, &err) == 0) {
        json_error_t je;
        json_t *a = json_loads(OBJECTS, 0, &je), *b = json_loads(NAMESPACE, 0, &je);
        if (sl_objlist_add(&objs, a, "a.yaml", 1, &err) == 0 &&
            sl_objlist_add(&objs, b, "b.yaml", 3, &err) == 0) {
            struct sl_buf out = SL_BUF_INIT(1 << 20);
            json_t *j;
            (void)sl_policy_check(set, &objs, "prod", SL_POLICY_ENFORCE, &rep, &err);
            (void)sl_policy_report_format(&rep, &out, &err);
            j = sl_policy_report_json(&rep);
            json_decref(j);
            sl_buf_release(&out);
        }
    }
    sl_policy_report_release(&rep);
    sl_objlist_release(&objs);
    sl_diags_release(&d);
    sl_policy_set_free(set);
    return 0;
}
