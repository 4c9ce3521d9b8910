/*
 * agent/lazy: sl_lazy_require()'s error for a library that cannot be loaded,
 * and the libcurl shims' forwarding of variadic arguments by option type,
 * checked against a fake libcurl that reads each option's documented type.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lazy.h"
#include "lazy_fake_curl.h"

static const struct fake_curl_record *record(void)
{
    /* The same handle as the loader's: dlopen counts references. */
    void *h = dlopen(SL_LAZY_SONAME_CURL, RTLD_NOW | RTLD_LOCAL);
    const struct fake_curl_record *(*get)(void);

    assert_non_null(h);
    get = (const struct fake_curl_record *(*)(void))dlsym(h, "fake_curl_record");
    assert_non_null(get);
    return get();
}

static CURL *handle(void)
{
    struct sl_error err = SL_ERROR_INIT;
    CURL *c;

    assert_int_equal(sl_lazy_require(SL_LAZY_CURL, &err), 0);
    c = curl_easy_init();
    assert_non_null(c);
    return c;
}

static void test_lazy__require_missing_library_says_what_and_why(void **state)
{
    struct sl_error err = SL_ERROR_INIT;

    assert_int_equal(sl_lazy_require(SL_LAZY_MHD, &err), -1);
    assert_int_equal(err.code, SL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "cannot load libsluice-test-missing.so.0 (needed to serve "
                                    "metrics and webhooks over HTTP)"));
    /* dlerror()'s reason follows. */
    assert_non_null(strstr(err.msg, "): libsluice-test-missing.so.0"));
    /* Asking again gives the same answer (loaded once per process). */
    sl_error_clear(&err);
    assert_int_equal(sl_lazy_require(SL_LAZY_MHD, &err), -1);
    assert_non_null(strstr(err.msg, "cannot load libsluice-test-missing.so.0"));
    assert_string_equal(sl_lazy_soname(SL_LAZY_MHD), "libsluice-test-missing.so.0");
}

static void test_lazy__setopt_long(void **state)
{
    CURL *c = handle();

    assert_int_equal(curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 123456789L), CURLE_OK);
    assert_int_equal(record()->option, CURLOPT_TIMEOUT_MS);
    assert_int_equal(record()->lval, 123456789L);
}

static void test_lazy__setopt_object_pointer(void **state)
{
    static const char url[] = "https://127.0.0.1:6443/api";
    CURL *c = handle();

    assert_int_equal(curl_easy_setopt(c, CURLOPT_URL, url), CURLE_OK);
    assert_int_equal(record()->option, CURLOPT_URL);
    assert_ptr_equal(record()->pval, url);
}

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    *(size_t *)arg = size * n;
    return size * n + (p[0] == 'x' ? 1000 : 0);
}

static void test_lazy__setopt_function_pointer(void **state)
{
    CURL *c = handle();
    char data[] = "xyz";
    size_t seen = 0;

    assert_int_equal(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write), CURLE_OK);
    assert_int_equal(record()->option, CURLOPT_WRITEFUNCTION);
    assert_non_null(record()->fval);
    /* The callback arrives intact and can be called as libcurl would. */
    assert_int_equal(record()->fval(data, 1, 3, &seen), 1003);
    assert_int_equal(seen, 3);
}

static void test_lazy__setopt_off_t(void **state)
{
    CURL *c = handle();
    curl_off_t big = ((curl_off_t)1 << 40) + 5;

    assert_int_equal(curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, big), CURLE_OK);
    assert_int_equal(record()->option, CURLOPT_INFILESIZE_LARGE);
    assert_true(record()->oval == big);
}

static void test_lazy__setopt_blob(void **state)
{
    static char pem[] = "-----BEGIN CERTIFICATE-----";
    struct curl_blob blob = {pem, sizeof(pem) - 1, CURL_BLOB_NOCOPY};
    CURL *c = handle();

    assert_int_equal(curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &blob), CURLE_OK);
    assert_int_equal(record()->option, CURLOPT_SSLCERT_BLOB);
    assert_ptr_equal(record()->pval, &blob);
}

static void test_lazy__setopt_unknown_type_range_is_refused_before_libcurl(void **state)
{
    CURL *c = handle();
    unsigned calls;

    assert_int_equal(curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1L), CURLE_OK);
    calls = record()->calls;
    assert_int_equal(curl_easy_setopt(c, (CURLoption)(CURLOPTTYPE_BLOB + 10000 + 1), 1L),
                     CURLE_UNKNOWN_OPTION);
    assert_int_equal(record()->calls, calls);
}

static void test_lazy__getinfo_passes_the_pointer(void **state)
{
    CURL *c = handle();
    long code = 0;

    assert_int_equal(curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code), CURLE_OK);
    assert_int_equal(code, 418);
}

static void test_lazy__plain_functions_forward(void **state)
{
    CURL *c = handle();

    assert_string_equal(curl_version_info(CURLVERSION_NOW)->version, "0.0.0-fake");
    assert_string_equal(curl_easy_strerror(CURLE_OK), "fake: ok");
    assert_int_equal(curl_easy_perform(c), CURLE_COULDNT_CONNECT);
    curl_easy_cleanup(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_lazy__require_missing_library_says_what_and_why),
            cmocka_unit_test(test_lazy__setopt_long),
            cmocka_unit_test(test_lazy__setopt_object_pointer),
            cmocka_unit_test(test_lazy__setopt_function_pointer),
            cmocka_unit_test(test_lazy__setopt_off_t),
            cmocka_unit_test(test_lazy__setopt_blob),
            cmocka_unit_test(test_lazy__setopt_unknown_type_range_is_refused_before_libcurl),
            cmocka_unit_test(test_lazy__getinfo_passes_the_pointer),
            cmocka_unit_test(test_lazy__plain_functions_forward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
