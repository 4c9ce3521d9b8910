#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "log.h"

static char *capture(enum sl_log_level level, int journal)
{
    FILE *f = tmpfile();
    static char out[4096];
    size_t n;

    if (journal)
        setenv("JOURNAL_STREAM", "8:1234", 1);
    else
        unsetenv("JOURNAL_STREAM");
    sl_log_setup(SL_LOG_INFO, f);
    sl_log(level, "reconciled env", "env", "prod", "rev", "a b\"c", "empty", "", NULL);
    fflush(f);
    rewind(f);
    n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    fclose(f);
    sl_log_setup(SL_LOG_INFO, NULL);
    return out;
}

static void test_log__logfmt_line(void **state)
{
    char *line = capture(SL_LOG_INFO, 0);

    assert_memory_equal(line, "ts=", 3);
    assert_non_null(strstr(line, " level=info msg=\"reconciled env\" env=prod rev=\"a b\\\"c\" "
                                 "empty=\"\"\n"));
}

static void test_log__journal_prefix_and_no_timestamp(void **state)
{
    char *line = capture(SL_LOG_WARN, 1);

    assert_string_equal(line, "<4>level=warn msg=\"reconciled env\" env=prod rev=\"a b\\\"c\" "
                              "empty=\"\"\n");
}

static void test_log__below_level_is_dropped(void **state)
{
    char *line = capture(SL_LOG_DEBUG, 0);

    assert_string_equal(line, "");
}

static void test_log__escaping(void **state)
{
    struct sl_buf b = SL_BUF_INIT(1024);
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_logfmt_pair(&b, "k y", "line1\nline2\t\x01=\\", &err), 0);
    assert_string_equal(b.ptr, "k_y=\"line1\\nline2\\t\\x01=\\\\\"");
    sl_buf_release(&b);
}

static void test_log__cap_reached(void **state)
{
    struct sl_buf b = SL_BUF_INIT(8);
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_logfmt_pair(&b, "key", "a long value", &err), -1);
    assert_int_equal(err.code, SL_ETOOLARGE);
    sl_buf_release(&b);
}

static void test_log__parse_level(void **state)
{
    enum sl_log_level l;

    assert_int_equal(sl_log_parse_level("debug", &l), 0);
    assert_int_equal(l, SL_LOG_DEBUG);
    assert_int_equal(sl_log_parse_level("WARN", &l), 0);
    assert_int_equal(l, SL_LOG_WARN);
    assert_int_equal(sl_log_parse_level("error", &l), 0);
    assert_int_equal(l, SL_LOG_ERR);
    assert_int_equal(sl_log_parse_level("loud", &l), -1);
    assert_string_equal(sl_log_level_name(SL_LOG_NOTICE), "notice");
    assert_string_equal(sl_log_level_name((enum sl_log_level)1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_log__logfmt_line),
            cmocka_unit_test(test_log__journal_prefix_and_no_timestamp),
            cmocka_unit_test(test_log__below_level_is_dropped),
            cmocka_unit_test(test_log__escaping),
            cmocka_unit_test(test_log__cap_reached),
            cmocka_unit_test(test_log__parse_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
