/*
 * One error type for the whole agent.
 *
 * Functions return 0 on success and -1 on failure, and fill a caller-owned
 * struct sl_error. The first error set wins: a lower layer's message is never
 * overwritten on the way up; callers add context in front of it with
 * sl_error_wrap() ("environments/prod/kustomization.yaml: ...").
 * Library errors (libyaml, jansson, libcurl, libgit2) are converted at the
 * boundary into one of these codes.
 */
#ifndef SL_ERROR_H
#define SL_ERROR_H

#include <stdarg.h>
#include <stddef.h>

enum sl_code {
    SL_OK = 0,
    SL_EGENERIC,     /* anything not listed below */
    SL_ENOMEM,       /* allocation failed */
    SL_EIO,          /* a system call failed (errno text in the message) */
    SL_ENOTFOUND,    /* a file, key, object or ref does not exist */
    SL_EPARSE,       /* malformed input (YAML, JSON, age, tags, ...) */
    SL_EINVAL,       /* well-formed input with an invalid value */
    SL_ETOOLARGE,    /* a size, count or depth cap was reached */
    SL_EPERM,        /* refused for safety: path escape, key file mode */
    SL_EUNSUPPORTED, /* valid, but sluice does not do it (and says so) */
    SL_EAUTH,        /* authentication or authorisation failed */
    SL_ETIMEOUT,     /* an operation ran out of time */
    SL_ECONFLICT,    /* a conflict (API 409, moved tag, held lock) */
    SL_ECRYPTO,      /* decryption or signature verification failed */
    SL_ECANCELED,    /* stopped on request (signal, newer revision) */
};

#define SL_ERROR_MSG_MAX 1024

struct sl_error {
    enum sl_code code;
    char msg[SL_ERROR_MSG_MAX];
};

#define SL_ERROR_INIT                                                                              \
    {                                                                                              \
        SL_OK,                                                                                     \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

/*
 * Record an error unless one is already recorded. Always returns -1 so that
 * callers can write `return sl_error_set(err, SL_EINVAL, "...")`. err may be
 * NULL (the error is then dropped). Messages that do not fit are truncated
 * with "...".
 */
int sl_error_set(struct sl_error *err, enum sl_code code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int sl_error_vset(struct sl_error *err, enum sl_code code, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));

/* Like sl_error_set, appending ": strerror(errnum)". Returns -1. */
int sl_error_errno(struct sl_error *err, int errnum, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/*
 * Add context in front of an already recorded message: "ctx: old message".
 * The code is kept. Does nothing when no error is recorded. Returns -1.
 */
int sl_error_wrap(struct sl_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Forget the recorded error (for callers that handled it). */
void sl_error_clear(struct sl_error *err);

/* Stable lower-case name of a code, for logs and JSON ("parse", "perm"). */
const char *sl_code_name(enum sl_code code);

#endif
