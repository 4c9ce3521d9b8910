/* The configuration sections the daemon reads: webhooks, notifications, daemon, http limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"

#define HEAD "source:\n  url: file:///r\n"
#define ENVS "environments:\n  - name: dev\n    path: d\n  - name: stage\n    path: s\n"

static struct sl_config *parse_ok(const char *yaml)
{
    struct sl_config *cfg = NULL;
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;

    if (sl_config_parse(&cfg, yaml, strlen(yaml), "t.yaml", &d, &err) != 0)
        fail_msg("%s", err.msg);
    sl_diags_release(&d);
    return cfg;
}

/* All problems, one per line. */
static void parse_bad(const char *yaml, struct sl_buf *out)
{
    struct sl_config *cfg = NULL;
    struct sl_diags d = SL_DIAGS_INIT;
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_config_parse(&cfg, yaml, strlen(yaml), "t.yaml", &d, &err), -1);
    assert_null(cfg);
    for (size_t i = 0; i < d.n; i++)
        assert_int_equal(sl_buf_printf(out, &err, "%s\n", d.msgs[i]), 0);
    sl_diags_release(&d);
}

static void test_defaults(void **state)
{
    struct sl_config *cfg = parse_ok(HEAD ENVS);

    assert_int_equal(cfg->http.max_body, 1 << 20);
    assert_int_equal(cfg->http.rate_limit, 30);
    assert_int_equal(cfg->nwebhooks, 0);
    assert_false(cfg->notifications.enabled);
    assert_int_equal(cfg->daemon.stop_timeout_ms, 60000);
    assert_int_equal(cfg->daemon.backoff_min_ms, 10000);
    assert_int_equal(cfg->daemon.backoff_max_ms, 600000);
    assert_int_equal(cfg->daemon.jitter_percent, 10);
    sl_config_free(cfg);
}

static void test_full_roundtrip(void **state)
{
    const char *yaml = HEAD "http:\n  listen: 127.0.0.1:0\n  maxBodySize: 4096\n"
                            "  webhookRateLimit: 0\n"
                            "webhooks:\n"
                            "  - name: gh\n    type: github\n    secretFile: /s/gh\n"
                            "  - name: ci_1\n    type: hmac\n    secretFile: /s/ci\n"
                            "    environments: [stage]\n"
                            "  - name: gl\n    type: gitlab\n    secretFile: /s/gl\n"
                            "notifications:\n  url: https://example.invalid/hook\n"
                            "  format: slack\n  timeout: 500ms\n  retries: 0\n"
                            "  events: [rollback]\n"
                            "daemon:\n  stopTimeout: 5s\n  backoffMin: 1s\n  backoffMax: 1m\n"
                            "  jitter: 0\n" ENVS;
    struct sl_config *cfg = parse_ok(yaml), *again;
    struct sl_buf a = SL_BUF_INIT(1 << 20), b = SL_BUF_INIT(1 << 20);
    struct sl_error err = SL_ERROR_INIT;
    json_t *j;

    assert_int_equal(cfg->http.max_body, 4096);
    assert_int_equal(cfg->http.rate_limit, 0);
    assert_int_equal(cfg->nwebhooks, 3);
    assert_int_equal(cfg->webhooks[0].type, SL_WEBHOOK_GITHUB);
    assert_null(cfg->webhooks[0].header);
    assert_int_equal(cfg->webhooks[1].type, SL_WEBHOOK_HMAC);
    assert_string_equal(cfg->webhooks[1].header, "X-Signature"); /* the default */
    assert_int_equal(cfg->webhooks[1].nenvironments, 1);
    assert_int_equal(cfg->webhooks[2].type, SL_WEBHOOK_GITLAB);
    assert_true(cfg->notifications.enabled);
    assert_int_equal(cfg->notifications.format, SL_NOTIFY_SLACK);
    assert_int_equal(cfg->notifications.timeout_ms, 500);
    assert_false(cfg->notifications.on_deploy);
    assert_true(cfg->notifications.on_rollback);
    assert_false(cfg->notifications.on_failure);
    assert_int_equal(cfg->daemon.jitter_percent, 0);

    /* The normalised form loads back to itself. */
    assert_int_equal(sl_config_format(cfg, &a, &err), 0);
    again = parse_ok(a.ptr);
    assert_int_equal(sl_config_format(again, &b, &err), 0);
    assert_string_equal(a.ptr, b.ptr);
    assert_non_null(strstr(a.ptr, "notifications:\n  url: \"https://example.invalid/hook\"\n"
                                  "  urlFile: null\n  format: slack\n  timeout: 500ms\n"
                                  "  retries: 0\n  events:\n    - \"rollback\"\n"));

    j = sl_config_to_json(cfg);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "http"), "maxBodySize")),
                     4096);
    assert_int_equal(json_array_size(json_object_get(j, "webhooks")), 3);
    assert_string_equal(
            json_string_value(json_object_get(json_object_get(j, "notifications"), "format")),
            "slack");
    assert_int_equal(
            json_integer_value(json_object_get(json_object_get(j, "daemon"), "stopTimeoutMs")),
            5000);
    json_decref(j);
    sl_buf_release(&a);
    sl_buf_release(&b);
    sl_config_free(again);
    sl_config_free(cfg);
}

static void test_null_notifications(void **state)
{
    struct sl_config *cfg = parse_ok(HEAD "notifications: null\n" ENVS);
    assert_false(cfg->notifications.enabled);
    sl_config_free(cfg);
}

static void test_errors(void **state)
{
    struct sl_buf out = SL_BUF_INIT(1 << 16);

    parse_bad(HEAD "http:\n  maxBodySize: 12\n  webhookRateLimit: -1\n"
                   "webhooks:\n"
                   "  - name: \"a b\"\n    type: gitea\n    secretFile: rel/path\n"
                   "  - type: hmac\n    secretFile: /x\n    environments: [nope]\n"
                   "  - name: gh\n    type: github\n    secretFile: /x\n    header: X-Sig\n"
                   "  - name: gh\n    type: github\n    secretFile: /x\n    extra: 1\n"
                   "notifications:\n  url: ftp://x\n  urlFile: /u\n  retries: 11\n"
                   "  events: [deploy, party]\n"
                   "daemon:\n  backoffMin: 1m\n  backoffMax: 1s\n  jitter: 101\n" ENVS,
              &out);
    assert_string_equal(
            out.ptr,
            "t.yaml:4: http.maxBodySize: expected a whole number from 1024 to 67108864\n"
            "t.yaml:5: http.webhookRateLimit: expected a whole number from 0 to 100000\n"
            "t.yaml:7: webhooks.name: \"a b\" must be 1-63 letters, digits, '-' or '_' (it is "
            "the URL path /hooks/NAME)\n"
            "t.yaml:8: webhooks.type: expected one of github, gitlab, hmac\n"
            "t.yaml:9: webhooks.secretFile: \"rel/path\" must be an absolute path (the daemon "
            "does not run in a predictable directory)\n"
            "t.yaml:10: webhooks[1]: name is required\n"
            "t.yaml:10: webhooks[1]: unknown environment \"nope\"\n"
            "t.yaml:13: webhook gh: header applies only to type hmac\n"
            "t.yaml:17: duplicate webhook name \"gh\" (first defined at line 13)\n"
            "t.yaml:20: unknown key \"extra\" in webhook gh (known keys: name, type, secretFile, "
            "header, environments)\n"
            "t.yaml:22: notifications.url: expected an http:// or https:// URL\n"
            "t.yaml:22: notifications: set exactly one of url and urlFile\n"
            "t.yaml:24: notifications.retries: expected a whole number from 0 to 10\n"
            "t.yaml:25: notifications.events: expected one of deploy, rollback, failure\n"
            "t.yaml:27: daemon: backoffMax must not be below backoffMin\n"
            "t.yaml:29: daemon.jitter: expected a whole number from 0 to 100\n");
    sl_buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_defaults),
            cmocka_unit_test(test_full_roundtrip),
            cmocka_unit_test(test_null_notifications),
            cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
