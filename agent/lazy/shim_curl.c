/*
 * libcurl shims: every libcurl function sluice calls, forwarded to the real
 * library loaded on first use (see lazy.h). The variadic setopt/getinfo are
 * forwarded by hand below, reading the argument exactly as libcurl does.
 */
/* The type-checking macros would replace the calls defined here. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <stdarg.h>

#include "shim.h"

#define SL_SHIM_LIB SL_LAZY_CURL

#define SL_CURL_FUNCS(X, XV)                                                                       \
    XV(curl_easy_cleanup, (CURL * curl), (curl))                                                   \
    X(CURL *, curl_easy_init, (void), ())                                                          \
    X(CURLcode, curl_easy_perform, (CURL * curl), (curl))                                          \
    XV(curl_easy_reset, (CURL * curl), (curl))                                                     \
    X(const char *, curl_easy_strerror, (CURLcode code), (code))                                   \
    XV(curl_free, (void *p), (p))                                                                  \
    XV(curl_global_cleanup, (void), ())                                                            \
    X(CURLcode, curl_global_init, (long flags), (flags))                                           \
    X(struct curl_slist *, curl_slist_append, (struct curl_slist * list, const char *data),        \
      (list, data))                                                                                \
    XV(curl_slist_free_all, (struct curl_slist * list), (list))                                    \
    X(CURLU *, curl_url, (void), ())                                                               \
    XV(curl_url_cleanup, (CURLU * handle), (handle))                                               \
    X(CURLUcode, curl_url_get, (CURLU * handle, CURLUPart what, char **part, unsigned int flags),  \
      (handle, what, part, flags))                                                                 \
    X(CURLUcode, curl_url_set,                                                                     \
      (CURLU * handle, CURLUPart what, const char *part, unsigned int flags),                      \
      (handle, what, part, flags))                                                                 \
    X(curl_version_info_data *, curl_version_info, (CURLversion age), (age))

#define SL_CURL_EXTRA(R) R(curl_easy_setopt) R(curl_easy_getinfo)

SL_SHIM_TABLE(SL_CURL_FUNCS, SL_CURL_EXTRA)

/* Any function pointer: all of them share one representation, and libcurl
 * reads the argument back as the callback type the option documents. */
typedef void (*sl_curl_fnptr)(void);

/*
 * libcurl's own curl_easy_setopt() reads its one argument by the option's
 * type range (curl.h, CURLOPTTYPE_*): LONG below OBJECTPOINT (also VALUES),
 * a pointer for OBJECTPOINT (also STRINGPOINT, SLISTPOINT, CBPOINT), a
 * function pointer for FUNCTIONPOINT, curl_off_t for OFF_T and a struct
 * curl_blob pointer for BLOB. Read it the same way and pass it on unchanged.
 */
CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
    CURLcode rc;
    va_list ap;

    shim_ready();
    va_start(ap, option);
    if (option < CURLOPTTYPE_OBJECTPOINT)
        rc = fn.curl_easy_setopt(curl, option, va_arg(ap, long));
    else if (option < CURLOPTTYPE_FUNCTIONPOINT)
        rc = fn.curl_easy_setopt(curl, option, va_arg(ap, void *));
    else if (option < CURLOPTTYPE_OFF_T)
        rc = fn.curl_easy_setopt(curl, option, va_arg(ap, sl_curl_fnptr));
    else if (option < CURLOPTTYPE_BLOB)
        rc = fn.curl_easy_setopt(curl, option, va_arg(ap, curl_off_t));
    else if (option < CURLOPTTYPE_BLOB + 10000)
        rc = fn.curl_easy_setopt(curl, option, va_arg(ap, struct curl_blob *));
    else
        rc = CURLE_UNKNOWN_OPTION; /* what libcurl answers for an unknown type range */
    va_end(ap);
    return rc;
}

/* Every CURLINFO_* takes a pointer to where the answer is written. */
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
    CURLcode rc;
    va_list ap;

    shim_ready();
    va_start(ap, info);
    rc = fn.curl_easy_getinfo(curl, info, va_arg(ap, void *));
    va_end(ap);
    return rc;
}
