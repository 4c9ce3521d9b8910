#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dmetrics.h"
#include "metrics.h"

static void test_counter_gauge_render(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_metrics *m = sl_metrics_new();
    struct sl_buf out = SL_BUF_INIT(1 << 20);
    static const char *const labels[] = {"environment", "result", NULL};
    struct sl_metric_family *c, *g;

    c = sl_metrics_register(m, "x_total", "Things.\nWith \\ newline", SL_METRIC_COUNTER, labels,
                            NULL, 0, &err);
    assert_non_null(c);
    g = sl_metrics_register(m, "x_up", "Up.", SL_METRIC_GAUGE, NULL, NULL, 0, &err);
    assert_non_null(g);
    assert_int_equal(sl_metric_inc(c, (const char *[]){"prod", "ok"}, 1, &err), 0);
    assert_int_equal(sl_metric_inc(c, (const char *[]){"prod", "ok"}, 2, &err), 0);
    assert_int_equal(sl_metric_inc(c, (const char *[]){"we\"ird\n\\", "failed"}, 1, &err), 0);
    assert_int_equal(sl_metric_set(g, NULL, 1, &err), 0);
    assert_true(sl_metric_get(c, (const char *[]){"prod", "ok"}) == 3);
    /* Counters only go up; gauges cannot be observed. */
    assert_int_equal(sl_metric_inc(c, (const char *[]){"prod", "ok"}, -1, &err), -1);
    sl_error_clear(&err);
    assert_int_equal(sl_metric_observe(g, NULL, 1, &err), -1);
    sl_error_clear(&err);

    assert_int_equal(sl_metrics_render(m, &out, &err), 0);
    assert_string_equal(out.ptr, "# HELP x_total Things.\\nWith \\\\ newline\n"
                                 "# TYPE x_total counter\n"
                                 "x_total{environment=\"prod\",result=\"ok\"} 3\n"
                                 "x_total{environment=\"we\\\"ird\\n\\\\\",result=\"failed\"} 1\n"
                                 "# HELP x_up Up.\n"
                                 "# TYPE x_up gauge\n"
                                 "x_up 1\n");
    assert_int_equal(sl_metric_remove_where(c, 0, "prod"), 1);
    assert_true(sl_metric_get(c, (const char *[]){"prod", "ok"}) < 0);
    sl_buf_release(&out);
    sl_metrics_free(m);
}

static void test_histogram(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_metrics *m = sl_metrics_new();
    struct sl_buf out = SL_BUF_INIT(1 << 20);
    static const double b[] = {0.5, 1, 5};
    static const char *const labels[] = {"environment", NULL};
    struct sl_metric_family *h;

    h = sl_metrics_register(m, "d_seconds", "Durations.", SL_METRIC_HISTOGRAM, labels, b, 3, &err);
    assert_non_null(h);
    assert_int_equal(sl_metric_observe(h, (const char *[]){"dev"}, 0.25, &err), 0);
    assert_int_equal(sl_metric_observe(h, (const char *[]){"dev"}, 1, &err), 0);
    assert_int_equal(sl_metric_observe(h, (const char *[]){"dev"}, 7.5, &err), 0);
    assert_int_equal(sl_metrics_render(m, &out, &err), 0);
    assert_string_equal(out.ptr, "# HELP d_seconds Durations.\n"
                                 "# TYPE d_seconds histogram\n"
                                 "d_seconds_bucket{environment=\"dev\",le=\"0.5\"} 1\n"
                                 "d_seconds_bucket{environment=\"dev\",le=\"1\"} 2\n"
                                 "d_seconds_bucket{environment=\"dev\",le=\"5\"} 2\n"
                                 "d_seconds_bucket{environment=\"dev\",le=\"+Inf\"} 3\n"
                                 "d_seconds_sum{environment=\"dev\"} 8.75\n"
                                 "d_seconds_count{environment=\"dev\"} 3\n");
    sl_buf_release(&out);
    sl_metrics_free(m);
}

static void test_invalid_registrations(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_metrics *m = sl_metrics_new();
    static const double desc[] = {2, 1};
    static const char *const le[] = {"le", NULL};
    static const char *const bad[] = {"a-b", NULL};

    assert_null(sl_metrics_register(m, "1bad", "h", SL_METRIC_GAUGE, NULL, NULL, 0, &err));
    sl_error_clear(&err);
    assert_null(sl_metrics_register(m, "h", "h", SL_METRIC_HISTOGRAM, NULL, desc, 2, &err));
    sl_error_clear(&err);
    assert_null(sl_metrics_register(m, "h2", "h", SL_METRIC_HISTOGRAM, le, desc, 1, &err));
    sl_error_clear(&err);
    assert_null(sl_metrics_register(m, "g", "h", SL_METRIC_GAUGE, bad, NULL, 0, &err));
    sl_error_clear(&err);
    assert_non_null(sl_metrics_register(m, "g", "h", SL_METRIC_GAUGE, NULL, NULL, 0, &err));
    assert_null(sl_metrics_register(m, "g", "h", SL_METRIC_GAUGE, NULL, NULL, 0, &err));
    assert_int_equal(err.code, SL_EINVAL);
    sl_metrics_free(m);
}

static void test_series_cap(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_metrics *m = sl_metrics_new();
    static const char *const labels[] = {"k", NULL};
    struct sl_metric_family *g =
            sl_metrics_register(m, "g", "h", SL_METRIC_GAUGE, labels, NULL, 0, &err);
    char v[32];
    int i;

    for (i = 0; i < SL_METRIC_MAX_SERIES; i++) {
        snprintf(v, sizeof(v), "%d", i);
        assert_int_equal(sl_metric_set(g, (const char *[]){v}, 1, &err), 0);
    }
    assert_int_equal(sl_metric_set(g, (const char *[]){"one-more"}, 1, &err), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
    sl_metrics_free(m);
}

static int system_has_promtool(void)
{
    const char *path = getenv("PATH");
    char buf[4096], cand[4200];

    if (path == NULL)
        return 0;
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save = NULL, *d = strtok_r(buf, ":", &save); d != NULL;
         d = strtok_r(NULL, ":", &save)) {
        snprintf(cand, sizeof(cand), "%s/promtool", d);
        if (access(cand, X_OK) == 0)
            return 1;
    }
    fprintf(stderr, "SKIPPED: promtool not found (install the Debian package prometheus); "
                    "the exposition was not validated\n");
    return 0;
}

/* The daemon's whole metric set, with data in every family, must pass promtool's linter. */
static void test_daemon_metrics_promtool(void **state)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_dmetrics dm;
    struct sl_buf out = SL_BUF_INIT(1 << 20);
    struct sl_run_result r;
    char path[] = "/tmp/sl-metrics-XXXXXX";
    char cmd[256];
    int fd, status;
    pid_t pid;

    assert_int_equal(sl_dmetrics_init(&dm, "0.1.0", "abc123", &err), 0);
    memset(&r, 0, sizeof(r));
    r.outcome = SL_RUN_APPLIED;
    snprintf(r.revision, sizeof(r.revision), "1111111111111111111111111111111111111111");
    snprintf(r.ref, sizeof(r.ref), "v1.0.0");
    r.drifted = 2;
    r.nviolations = 1;
    snprintf(r.violations[0].rule, sizeof(r.violations[0].rule), "no-latest-tag");
    r.violations[0].count = 3;
    assert_int_equal(sl_dmetrics_record(&dm, "prod", &r, 1.5, 1700000000.0, &err), 0);
    r.outcome = SL_RUN_ROLLED_BACK;
    assert_int_equal(sl_dmetrics_record(&dm, "prod", &r, 3, 1700000100.0, &err), 0);
    memset(&r, 0, sizeof(r));
    r.outcome = SL_RUN_FAILED;
    r.source_error = true;
    assert_int_equal(sl_dmetrics_record(&dm, "dev", &r, 0.1, 1700000200.0, &err), 0);
    assert_int_equal(sl_dmetrics_webhook(&dm, "github", "accepted", &err), 0);
    assert_int_equal(sl_dmetrics_notification(&dm, "ok", &err), 0);
    assert_int_equal(sl_dmetrics_set_ready(&dm, true, &err), 0);
    assert_true(sl_metric_get(dm.rollbacks, (const char *[]){"prod"}) == 1);
    assert_true(sl_metric_get(dm.poll_errors, (const char *[]){"dev"}) == 1);
    assert_true(sl_metric_get(dm.reconciles, (const char *[]){"prod", "applied"}) == 1);
    assert_true(sl_metric_get(dm.last_success, (const char *[]){"prod"}) == 1700000100.0);
    assert_true(sl_metric_get(dm.last_success, (const char *[]){"dev"}) < 0);
    /* A new revision replaces the info series instead of adding one. */
    memset(&r, 0, sizeof(r));
    r.outcome = SL_RUN_APPLIED;
    snprintf(r.revision, sizeof(r.revision), "2222");
    assert_int_equal(sl_dmetrics_record(&dm, "prod", &r, 1, 1700000300.0, &err), 0);
    assert_true(sl_metric_get(dm.revision_info, (const char *[]){"prod", "2222", ""}) == 1);
    assert_true(sl_metric_get(dm.revision_info,
                              (const char *[]){"prod", "1111111111111111111111111111111111111111",
                                               "v1.0.0"}) < 0);
    assert_int_equal(sl_metrics_render(dm.reg, &out, &err), 0);
    assert_non_null(strstr(out.ptr, "sluice_build_info{version=\"0.1.0\",commit=\"abc123\"} 1\n"));
    assert_non_null(strstr(out.ptr, "sluice_reconcile_duration_seconds_bucket{environment="
                                    "\"prod\",result=\"rolled_back\",le=\"+Inf\"} 1\n"));
    assert_non_null(strstr(out.ptr, "sluice_policy_violations_total{environment=\"prod\","
                                    "rule=\"no-latest-tag\"} 6\n"));

    if (system_has_promtool() == 0) {
        sl_buf_release(&out);
        sl_dmetrics_release(&dm);
        skip();
    }
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, out.ptr, out.len), (ssize_t)out.len);
    close(fd);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
    pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    assert_true(waitpid(pid, &status, 0) == pid);
    unlink(path);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("promtool check metrics rejected the output:\n%s", out.ptr);
    sl_buf_release(&out);
    sl_dmetrics_release(&dm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_counter_gauge_render),    cmocka_unit_test(test_histogram),
            cmocka_unit_test(test_invalid_registrations),   cmocka_unit_test(test_series_cap),
            cmocka_unit_test(test_daemon_metrics_promtool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
