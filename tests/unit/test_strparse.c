#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "strparse.h"

static void test_strparse__durations(void **state)
{
    int64_t ms;

    assert_int_equal(sl_parse_duration_ms("30s", &ms), 0);
    assert_int_equal(ms, 30000);
    assert_int_equal(sl_parse_duration_ms("1h30m", &ms), 0);
    assert_int_equal(ms, 5400000);
    assert_int_equal(sl_parse_duration_ms("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(sl_parse_duration_ms("-1m", &ms), 0);
    assert_int_equal(ms, -60000);
    assert_int_equal(sl_parse_duration_ms("0", &ms), 0);
    assert_int_equal(ms, 0);
}

static void test_strparse__bad_durations(void **state)
{
    int64_t ms;
    const char *bad[] = {"", "s", "10", "10x", "1.5s", "m5", "99999999999999999999h", "-", "5 s"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sl_parse_duration_ms(bad[i], &ms), -1);
}

static void test_strparse__format_roundtrip(void **state)
{
    const int64_t vals[] = {0, 250, 1000, 90000, 5400000, 3723004, -60000};
    char out[32];

    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        int64_t back;
        sl_format_duration(out, sizeof(out), vals[i]);
        assert_int_equal(sl_parse_duration_ms(out, &back), 0);
        assert_int_equal(back, vals[i]);
    }
    sl_format_duration(out, sizeof(out), 5400000);
    assert_string_equal(out, "1h30m");
}

static void test_strparse__u64(void **state)
{
    uint64_t v;

    assert_int_equal(sl_parse_u64("65535", 65535, &v), 0);
    assert_int_equal(v, 65535);
    assert_int_equal(sl_parse_u64("65536", 65535, &v), -1);
    assert_int_equal(sl_parse_u64("", 10, &v), -1);
    assert_int_equal(sl_parse_u64("-1", 10, &v), -1);
    assert_int_equal(sl_parse_u64("18446744073709551616", UINT64_MAX, &v), -1);
    assert_int_equal(sl_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_strparse__durations),
            cmocka_unit_test(test_strparse__bad_durations),
            cmocka_unit_test(test_strparse__format_roundtrip),
            cmocka_unit_test(test_strparse__u64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
