/*
 * A fake libcurl for test_lazy: the functions sluice's shims resolve, with
 * curl_easy_setopt() reading its argument by the documented type of each
 * option the test sets, as the real libcurl does, and recording it.
 */
#include <stdarg.h>
#include <stddef.h>

#include "lazy_fake_curl.h"

static struct fake_curl_record rec;
static char handle_storage;

const struct fake_curl_record *fake_curl_record(void)
{
    return &rec;
}

CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
    CURLcode rc = CURLE_OK;
    va_list ap;

    (void)curl;
    rec.calls++;
    rec.option = option;
    va_start(ap, option);
    switch (option) {
    case CURLOPT_TIMEOUT_MS:
        rec.lval = va_arg(ap, long);
        break;
    case CURLOPT_URL:
        rec.pval = va_arg(ap, char *);
        break;
    case CURLOPT_WRITEFUNCTION:
        rec.fval = va_arg(ap, curl_write_callback);
        break;
    case CURLOPT_INFILESIZE_LARGE:
        rec.oval = va_arg(ap, curl_off_t);
        break;
    case CURLOPT_SSLCERT_BLOB:
        rec.pval = va_arg(ap, struct curl_blob *);
        break;
    default:
        rc = CURLE_UNKNOWN_OPTION;
        break;
    }
    va_end(ap);
    return rc;
}

CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
    va_list ap;
    long *out;

    (void)curl;
    if (info != CURLINFO_RESPONSE_CODE)
        return CURLE_UNKNOWN_OPTION;
    va_start(ap, info);
    out = va_arg(ap, long *);
    va_end(ap);
    *out = 418;
    return CURLE_OK;
}

CURL *curl_easy_init(void)
{
    return &handle_storage;
}

void curl_easy_cleanup(CURL *curl)
{
    (void)curl;
}

CURLcode curl_easy_perform(CURL *curl)
{
    (void)curl;
    return CURLE_COULDNT_CONNECT;
}

void curl_easy_reset(CURL *curl)
{
    (void)curl;
}

const char *curl_easy_strerror(CURLcode code)
{
    return code == CURLE_OK ? "fake: ok" : "fake: error";
}

void curl_free(void *p)
{
    (void)p;
}

void curl_global_cleanup(void)
{
}

CURLcode curl_global_init(long flags)
{
    (void)flags;
    return CURLE_OK;
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *data)
{
    (void)data;
    return list;
}

void curl_slist_free_all(struct curl_slist *list)
{
    (void)list;
}

CURLU *curl_url(void)
{
    return NULL;
}

void curl_url_cleanup(CURLU *handle)
{
    (void)handle;
}

CURLUcode curl_url_get(CURLU *handle, CURLUPart what, char **part, unsigned int flags)
{
    (void)handle, (void)what, (void)part, (void)flags;
    return CURLUE_BAD_HANDLE;
}

CURLUcode curl_url_set(CURLU *handle, CURLUPart what, const char *part, unsigned int flags)
{
    (void)handle, (void)what, (void)part, (void)flags;
    return CURLUE_BAD_HANDLE;
}

curl_version_info_data *curl_version_info(CURLversion age)
{
    static curl_version_info_data d = {.version = "0.0.0-fake"};

    (void)age;
    return &d;
}
