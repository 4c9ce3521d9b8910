/* What the fake libcurl (lazy_fake_curl.c) recorded, for test_lazy.c. */
#ifndef LAZY_FAKE_CURL_H
#define LAZY_FAKE_CURL_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

struct fake_curl_record {
    unsigned calls; /* curl_easy_setopt calls that reached the fake */
    CURLoption option;
    long lval;
    const void *pval;
    curl_write_callback fval;
    curl_off_t oval;
};

const struct fake_curl_record *fake_curl_record(void);

#endif
