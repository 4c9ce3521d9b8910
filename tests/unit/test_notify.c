#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>

#include "config.h"
#include "notify.h"
#include "secmem.h"

/* A receiver on loopback: answers the first `fail` requests with `fail_status`. */
struct receiver {
    struct MHD_Daemon *d;
    unsigned port;
    int requests;
    int fail;
    unsigned fail_status;
    char body[8192];
    size_t len;
};

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **con_cls)
{
    struct receiver *r = cls;
    static int marker;
    struct MHD_Response *resp;
    enum MHD_Result rc;
    unsigned status;

    if (*con_cls == NULL) {
        *con_cls = &marker;
        r->len = 0;
        return MHD_YES;
    }
    if (*size > 0) {
        size_t n = *size < sizeof(r->body) - 1 - r->len ? *size : sizeof(r->body) - 1 - r->len;
        memcpy(r->body + r->len, data, n);
        r->len += n;
        r->body[r->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    r->requests++;
    status = r->requests <= r->fail ? r->fail_status : 200;
    resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void receiver_start(struct receiver *r, int fail, unsigned fail_status)
{
    memset(r, 0, sizeof(*r));
    r->fail = fail;
    r->fail_status = fail_status;
    r->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_req, r,
                            MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
    assert_non_null(r->d);
    r->port = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static struct sl_config *config_for(const char *notifications)
{
    char yaml[2048];
    struct sl_config *cfg = NULL;
    struct sl_error err = SL_ERROR_INIT;

    snprintf(yaml, sizeof(yaml),
             "source:\n  url: file:///tmp/x\n%s\nenvironments:\n  - name: dev\n    path: d\n",
             notifications);
    if (sl_config_parse(&cfg, yaml, strlen(yaml), "t.yaml", NULL, &err) != 0)
        fail_msg("%s", err.msg);
    return cfg;
}

static void sample(struct sl_run_result *r)
{
    memset(r, 0, sizeof(*r));
    r->outcome = SL_RUN_APPLIED;
    snprintf(r->revision, sizeof(r->revision), "0123456789abcdef0123456789abcdef01234567");
    snprintf(r->previous, sizeof(r->previous), "fedcba");
    snprintf(r->ref, sizeof(r->ref), "v1.2.0");
    r->applied = 4;
}

static void test_disabled(void **state)
{
    struct sl_config *cfg = config_for("");
    struct sl_notifier *n = (void *)1;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_run_result r;
    enum sl_notify_event ev;

    assert_int_equal(sl_notifier_new(cfg, &n, &err), 0);
    assert_null(n);
    sample(&r);
    assert_false(sl_notifier_event(NULL, &r, false, 0, &ev));
    sl_config_free(cfg);
}

static void test_events(void **state)
{
    struct sl_config *cfg =
            config_for("notifications:\n  url: http://127.0.0.1:1/\n  events: [deploy, failure]");
    struct sl_notifier *n = NULL;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_run_result r;
    enum sl_notify_event ev;

    assert_int_equal(sl_notifier_new(cfg, &n, &err), 0);
    sample(&r);
    assert_true(sl_notifier_event(n, &r, false, 0, &ev));
    assert_int_equal(ev, SL_EVENT_DEPLOY);
    /* Re-applying the same revision (drift correction) is not a deploy. */
    snprintf(r.previous, sizeof(r.previous), "%s", r.revision);
    assert_false(sl_notifier_event(n, &r, false, 0, &ev));
    /* Rollbacks were filtered out by events. */
    r.outcome = SL_RUN_ROLLED_BACK;
    assert_false(sl_notifier_event(n, &r, false, 0, &ev));
    /* Failures: only the first of a streak. */
    r.outcome = SL_RUN_FAILED;
    assert_true(sl_notifier_event(n, &r, true, 0, &ev));
    assert_int_equal(ev, SL_EVENT_FAILURE);
    assert_false(sl_notifier_event(n, &r, true, 1, &ev));
    r.outcome = SL_RUN_UNCHANGED;
    assert_false(sl_notifier_event(n, &r, false, 0, &ev));
    sl_notifier_free(n);
    sl_config_free(cfg);
}

static void test_refcount(void **state)
{
    struct sl_config *cfg = config_for("notifications:\n  url: http://127.0.0.1:1/");
    struct sl_notifier *n = NULL, *m;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_run_result r;
    enum sl_notify_event ev;

    assert_int_equal(sl_notifier_new(cfg, &n, &err), 0);
    m = sl_notifier_ref(n);
    assert_ptr_equal(m, n);
    sl_notifier_free(n); /* the queue's reference keeps it alive */
    sample(&r);
    assert_true(sl_notifier_event(m, &r, false, 0, &ev));
    sl_notifier_free(m);
    assert_null(sl_notifier_ref(NULL));
    sl_notifier_free(NULL);
    sl_config_free(cfg);
}

static void test_payloads(void **state)
{
    struct sl_run_result r;
    struct sl_buf out = SL_BUF_INIT(1 << 16);
    struct sl_error err = SL_ERROR_INIT;
    struct sl_notice no = {"sluice", "prod", SL_EVENT_DEPLOY, &r, NULL, 2.5, 1700000000};
    json_t *j;

    sample(&r);
    assert_int_equal(sl_notify_payload(SL_NOTIFY_GENERIC, &no, &out, &err), 0);
    j = json_loads(out.ptr, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "event")), "deploy");
    assert_string_equal(json_string_value(json_object_get(j, "environment")), "prod");
    assert_string_equal(json_string_value(json_object_get(j, "ref")), "v1.2.0");
    assert_true(json_is_null(json_object_get(j, "error")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "counts"), "applied")),
                     4);
    json_decref(j);

    sl_buf_reset(&out);
    assert_int_equal(sl_notify_payload(SL_NOTIFY_SLACK, &no, &out, &err), 0);
    j = json_loads(out.ptr, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "text")),
                        ":rocket: sluice/prod: deployed v1.2.0 (0123456789ab) in 2.5s");
    json_decref(j);

    r.outcome = SL_RUN_ROLLED_BACK;
    snprintf(r.failed_revision, sizeof(r.failed_revision), "badbadbadbadbad");
    snprintf(r.revision, sizeof(r.revision), "600d600d");
    no.event = SL_EVENT_ROLLBACK;
    sl_buf_reset(&out);
    assert_int_equal(sl_notify_payload(SL_NOTIFY_SLACK, &no, &out, &err), 0);
    assert_non_null(strstr(out.ptr, "badbadbadbad failed and was rolled back to 600d600d"));

    r.outcome = SL_RUN_FAILED;
    no.event = SL_EVENT_FAILURE;
    no.error = "fetch: connection refused \"quoted\"";
    sl_buf_reset(&out);
    assert_int_equal(sl_notify_payload(SL_NOTIFY_GENERIC, &no, &out, &err), 0);
    j = json_loads(out.ptr, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "error")), no.error);
    json_decref(j);
    sl_buf_release(&out);
}

static void test_send_with_retries(void **state)
{
    struct receiver rcv;
    char section[256];
    struct sl_config *cfg;
    struct sl_notifier *n = NULL;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_run_result r;
    struct sl_notice no = {"sluice", "dev", SL_EVENT_DEPLOY, &r, NULL, 1, 1700000000};

    sample(&r);
    receiver_start(&rcv, 2, 503);
    snprintf(section, sizeof(section),
             "notifications:\n  url: http://127.0.0.1:%u/hook\n  retries: 2\n  timeout: 2s",
             rcv.port);
    cfg = config_for(section);
    assert_int_equal(sl_notifier_new(cfg, &n, &err), 0);
    /* Two 503s, then 200 on the third attempt (pauses of 1 s and 2 s). */
    assert_int_equal(sl_notifier_send(n, &no, NULL, NULL, &err), 0);
    assert_int_equal(rcv.requests, 3);
    assert_non_null(strstr(rcv.body, "\"event\":\"deploy\""));
    MHD_stop_daemon(rcv.d);
    sl_notifier_free(n);
    sl_config_free(cfg);

    /* A 4xx other than 429 is not retried, and the error does not contain the URL. */
    receiver_start(&rcv, 5, 404);
    snprintf(section, sizeof(section),
             "notifications:\n  url: http://127.0.0.1:%u/secret-token-path\n  retries: 3",
             rcv.port);
    cfg = config_for(section);
    assert_int_equal(sl_notifier_new(cfg, &n, &err), 0);
    assert_int_equal(sl_notifier_send(n, &no, NULL, NULL, &err), -1);
    assert_int_equal(rcv.requests, 1);
    assert_non_null(strstr(err.msg, "HTTP 404"));
    assert_null(strstr(err.msg, "secret-token-path"));
    MHD_stop_daemon(rcv.d);
    sl_notifier_free(n);
    sl_config_free(cfg);
}

static bool always(void *arg)
{
    return true;
}

static void test_send_unreachable_cancelled(void **state)
{
    struct sl_config *cfg =
            config_for("notifications:\n  url: http://127.0.0.1:1/x\n  retries: 10");
    struct sl_notifier *n = NULL;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_run_result r;
    struct sl_notice no = {"sluice", "dev", SL_EVENT_FAILURE, &r, "boom", 1, 1700000000};

    sample(&r);
    assert_int_equal(sl_notifier_new(cfg, &n, &err), 0);
    /* Stopping: the first failed attempt is the last. */
    assert_int_equal(sl_notifier_send(n, &no, always, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "after 1 attempts"));
    assert_null(strstr(err.msg, "127.0.0.1"));
    sl_notifier_free(n);
    sl_config_free(cfg);
}

static void test_url_file(void **state)
{
    char path[64], section[256];
    struct sl_config *cfg;
    struct sl_notifier *n = NULL;
    struct sl_error err = SL_ERROR_INIT;
    FILE *f;

    snprintf(path, sizeof(path), "/tmp/sl-notify-url-%d", (int)getpid());
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a url with a s3cret\n", f);
    fclose(f);
    chmod(path, 0600);
    snprintf(section, sizeof(section), "notifications:\n  urlFile: %s\n  format: slack", path);
    cfg = config_for(section);
    assert_int_equal(sl_notifier_new(cfg, &n, &err), -1);
    assert_null(strstr(err.msg, "s3cret"));
    sl_error_clear(&err);
    chmod(path, 0644);
    assert_int_equal(sl_notifier_new(cfg, &n, &err), -1);
    assert_int_equal(err.code, SL_EPERM);
    sl_error_clear(&err);
    f = fopen(path, "w");
    fputs("https://hooks.slack.example/services/T/B/X\n", f);
    fclose(f);
    chmod(path, 0600);
    assert_int_equal(sl_notifier_new(cfg, &n, &err), 0);
    assert_non_null(n);
    sl_notifier_free(n);
    sl_config_free(cfg);
    unlink(path);
}

static int setup(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return sl_secmem_init(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_disabled),
            cmocka_unit_test(test_events),
            cmocka_unit_test(test_refcount),
            cmocka_unit_test(test_payloads),
            cmocka_unit_test(test_send_with_retries),
            cmocka_unit_test(test_send_unreachable_cancelled),
            cmocka_unit_test(test_url_file),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
