/*
 * Errors of the git source layer. sources/ never includes agent headers, so
 * it carries its own small error record; the agent adapter (agent/source)
 * converts it to struct sl_error at the boundary. Same rules as sl_error:
 * functions return 0 or -1, the first error recorded wins, context is added
 * in front with ssrc_error_wrap().
 */
#ifndef SSRC_ERROR_H
#define SSRC_ERROR_H

#include <stdarg.h>

enum ssrc_code {
    SSRC_OK = 0,
    SSRC_EGENERIC,
    SSRC_ENOMEM,
    SSRC_EIO,
    SSRC_ENOTFOUND,
    SSRC_EPARSE,
    SSRC_EINVAL,
    SSRC_ETOOLARGE,
    SSRC_EPERM,
    SSRC_EUNSUPPORTED,
    SSRC_EAUTH,
    SSRC_ETIMEOUT,
    SSRC_ECONFLICT,
    SSRC_ECRYPTO,
    SSRC_ENET,      /* the remote could not be reached or the transfer broke */
    SSRC_ECANCELED, /* stopped on request (the caller's cancel callback) */
};

#define SSRC_ERROR_MSG_MAX 1024

struct ssrc_error {
    enum ssrc_code code;
    char msg[SSRC_ERROR_MSG_MAX];
};

#define SSRC_ERROR_INIT                                                                            \
    {                                                                                              \
        SSRC_OK,                                                                                   \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

int ssrc_error_set(struct ssrc_error *e, enum ssrc_code code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int ssrc_error_wrap(struct ssrc_error *e, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void ssrc_error_clear(struct ssrc_error *e);
/*
 * Record the last libgit2 error (rc is libgit2's return code), classified
 * into a code, with fmt as context in front. Returns -1.
 */
int ssrc_error_git(struct ssrc_error *e, int rc, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
