#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "config.h"

static struct sl_config *parse(const char *yaml, struct sl_diags *d, struct sl_error *err)
{
    struct sl_config *cfg = NULL;

    sl_config_parse(&cfg, yaml, strlen(yaml), "t.yaml", d, err);
    return cfg;
}

static void test_config__defaults(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_config *cfg = parse("source: {url: /srv/git/x}\n"
                                  "environments:\n"
                                  "  - {name: dev, path: envs/dev}\n"
                                  "  - {name: stage, path: envs/stage}\n"
                                  "  - {name: prod, path: envs/prod}\n",
                                  NULL, &err);
    const struct sl_env_config *dev, *stage, *prod;

    assert_non_null(cfg);
    assert_string_equal(cfg->name, "sluice");
    assert_string_equal(cfg->state_dir, "/var/lib/sluice");
    assert_string_equal(cfg->http.listen, "127.0.0.1:9402");
    assert_string_equal(cfg->cluster.field_manager, "sluice");
    assert_true(cfg->cluster.force_conflicts);
    assert_int_equal(cfg->source.timeout_ms, 60000);
    dev = sl_config_env(cfg, "dev");
    stage = sl_config_env(cfg, "stage");
    prod = sl_config_env(cfg, "prod");
    assert_non_null(dev);
    assert_int_equal(dev->track.type, SL_TRACK_BRANCH);
    assert_string_equal(dev->track.branch, "main");
    assert_int_equal(dev->policy, SL_POLICY_WARN);
    assert_int_equal(stage->track.type, SL_TRACK_RC);
    assert_int_equal(stage->policy, SL_POLICY_ENFORCE);
    assert_int_equal(prod->track.type, SL_TRACK_RELEASE);
    assert_true(prod->track.require_rc);
    assert_false(prod->track.allow_downgrade);
    assert_int_equal(prod->interval_ms, 60000);
    assert_int_equal(prod->health_timeout_ms, 300000);
    assert_true(prod->prune);
    assert_null(sl_config_env(cfg, "qa"));
    sl_config_free(cfg);
}

static void test_config__collects_every_error(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_config *cfg = parse("source: {url: nope, extra: 1}\n"
                                  "environments:\n"
                                  "  - {name: dev, path: ../x, interval: 0s}\n",
                                  &d, &err);

    assert_null(cfg);
    assert_int_equal(d.n, 4);
    assert_string_equal(d.msgs[0], "t.yaml:1: source.url: \"nope\" is not a git URL (file://, "
                                   "https://, ssh://, user@host:path or an absolute path)");
    assert_non_null(strstr(d.msgs[2], "path \"../x\" leaves the repository"));
    assert_non_null(strstr(d.msgs[3], "environment dev: interval: must be positive, got 0s"));
    assert_int_equal(err.code, SL_EINVAL);
    assert_non_null(strstr(err.msg, "(and 3 more)"));
    sl_diags_release(&d);
}

static void test_config__json_and_format(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_buf out = SL_BUF_INIT(1 << 20);
    struct sl_config *cfg = parse("source: {url: /srv/git/x}\n"
                                  "environments: [{name: dev, path: d, interval: 90s}]\n",
                                  NULL, &err);
    json_t *j;

    assert_non_null(cfg);
    j = sl_config_to_json(cfg);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(
                             json_array_get(json_object_get(j, "environments"), 0), "intervalMs")),
                     90000);
    json_decref(j);
    assert_int_equal(sl_config_format(cfg, &out, &err), 0);
    assert_non_null(strstr(out.ptr, "    interval: 1m30s\n"));
    sl_buf_release(&out);
    sl_config_free(cfg);
}

static void test_config__missing_file(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_config *cfg = NULL;

    assert_int_equal(sl_config_load(&cfg, "/nonexistent/sluice.yaml", NULL, &err), -1);
    assert_null(cfg);
    assert_int_equal(err.code, SL_ENOTFOUND);
    assert_string_equal(err.msg, "/nonexistent/sluice.yaml: No such file or directory");
    sl_config_free(NULL);
}

static void test_config__example_config_loads(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_config *cfg = NULL;

    assert_int_equal(sl_config_load(&cfg, SLUICE_SOURCE_DIR "/systemd/sluice.yaml", NULL, &err), 0);
    assert_int_equal(cfg->nenvs, 3);
    assert_int_equal(cfg->envs[2].signatures, SL_SIG_BOTH);
    sl_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_config__defaults),
            cmocka_unit_test(test_config__collects_every_error),
            cmocka_unit_test(test_config__json_and_format),
            cmocka_unit_test(test_config__missing_file),
            cmocka_unit_test(test_config__example_config_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
