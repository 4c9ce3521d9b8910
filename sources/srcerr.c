#include <git2.h>
#include <stdio.h>
#include <string.h>

#include "srcerr.h"

static int vset(struct ssrc_error *e, enum ssrc_code code, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
static int vset(struct ssrc_error *e, enum ssrc_code code, const char *fmt, va_list ap)
{
    int n;

    if (e == NULL || e->code != SSRC_OK)
        return -1;
    e->code = code == SSRC_OK ? SSRC_EGENERIC : code;
    n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    if (n >= (int)sizeof(e->msg))
        memcpy(e->msg + sizeof(e->msg) - 4, "...", 4);
    return -1;
}

int ssrc_error_set(struct ssrc_error *e, enum ssrc_code code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vset(e, code, fmt, ap);
    va_end(ap);
    return -1;
}

int ssrc_error_wrap(struct ssrc_error *e, const char *fmt, ...)
{
    char ctx[SSRC_ERROR_MSG_MAX], old[SSRC_ERROR_MSG_MAX];
    va_list ap;
    int n;

    if (e == NULL || e->code == SSRC_OK)
        return -1;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof(ctx), fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof(old));
    n = snprintf(e->msg, sizeof(e->msg), "%s: %s", ctx, old);
    if (n >= (int)sizeof(e->msg))
        memcpy(e->msg + sizeof(e->msg) - 4, "...", 4);
    return -1;
}

void ssrc_error_clear(struct ssrc_error *e)
{
    if (e != NULL) {
        e->code = SSRC_OK;
        e->msg[0] = '\0';
    }
}

static enum ssrc_code classify(int rc, const git_error *ge)
{
    switch (rc) {
    case GIT_ENOTFOUND:
        return SSRC_ENOTFOUND;
    case GIT_EAUTH:
        return SSRC_EAUTH;
    case GIT_ECERTIFICATE:
        return SSRC_EAUTH;
    case GIT_EINVALIDSPEC:
        return SSRC_EINVAL;
    case GIT_EUSER:
        return SSRC_EGENERIC;
    default:
        break;
    }
    if (ge == NULL)
        return SSRC_EGENERIC;
    switch (ge->klass) {
    case GIT_ERROR_NOMEMORY:
        return SSRC_ENOMEM;
    case GIT_ERROR_OS:
    case GIT_ERROR_FILESYSTEM:
        return SSRC_EIO;
    case GIT_ERROR_NET:
    case GIT_ERROR_SSL:
    case GIT_ERROR_HTTP:
    case GIT_ERROR_SSH:
    case GIT_ERROR_CALLBACK:
        return SSRC_ENET;
    case GIT_ERROR_ODB:
    case GIT_ERROR_ZLIB:
    case GIT_ERROR_INDEXER:
    case GIT_ERROR_OBJECT:
        return SSRC_EPARSE;
    default:
        return SSRC_EGENERIC;
    }
}

int ssrc_error_git(struct ssrc_error *e, int rc, const char *fmt, ...)
{
    const git_error *ge = git_error_last();
    char ctx[SSRC_ERROR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx, sizeof(ctx), fmt, ap);
    va_end(ap);
    return ssrc_error_set(e, classify(rc, ge), "%s: %s", ctx,
                          ge != NULL && ge->message != NULL ? ge->message : "libgit2 error");
}
