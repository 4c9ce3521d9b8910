#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static void store(struct sl_error *err, const char *prefix, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));

static void store(struct sl_error *err, const char *prefix, const char *fmt, va_list ap)
{
    char tmp[SL_ERROR_MSG_MAX];
    size_t off = 0;
    int n;

    if (prefix != NULL) {
        n = snprintf(tmp, sizeof(tmp), "%s", prefix);
        off = n < 0 ? 0 : ((size_t)n >= sizeof(tmp) ? sizeof(tmp) - 1 : (size_t)n);
    }
    n = vsnprintf(tmp + off, sizeof(tmp) - off, fmt, ap);
    if (n >= 0 && (size_t)n >= sizeof(tmp) - off && sizeof(tmp) > 4)
        memcpy(tmp + sizeof(tmp) - 4, "...", 4);
    memcpy(err->msg, tmp, sizeof(tmp));
}

int sl_error_vset(struct sl_error *err, enum sl_code code, const char *fmt, va_list ap)
{
    if (err == NULL || err->code != SL_OK)
        return -1;
    err->code = code == SL_OK ? SL_EGENERIC : code;
    store(err, NULL, fmt, ap);
    return -1;
}

int sl_error_set(struct sl_error *err, enum sl_code code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sl_error_vset(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

int sl_error_errno(struct sl_error *err, int errnum, const char *fmt, ...)
{
    char what[SL_ERROR_MSG_MAX];
    va_list ap;
    enum sl_code code = SL_EIO;

    if (err == NULL || err->code != SL_OK)
        return -1;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (errnum == ENOENT || errnum == ENOTDIR)
        code = SL_ENOTFOUND;
    else if (errnum == EACCES || errnum == EPERM)
        code = SL_EPERM;
    else if (errnum == ENOMEM)
        code = SL_ENOMEM;
    else if (errnum == EFBIG)
        code = SL_ETOOLARGE;
    return sl_error_set(err, code, "%s: %s", what, strerror(errnum));
}

int sl_error_wrap(struct sl_error *err, const char *fmt, ...)
{
    char ctx[SL_ERROR_MSG_MAX];
    char old[SL_ERROR_MSG_MAX];
    va_list ap;

    if (err == NULL || err->code == SL_OK)
        return -1;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof(ctx), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    if (snprintf(err->msg, sizeof(err->msg), "%s: %s", ctx, old) >= (int)sizeof(err->msg))
        memcpy(err->msg + sizeof(err->msg) - 4, "...", 4);
    return -1;
}

void sl_error_clear(struct sl_error *err)
{
    if (err == NULL)
        return;
    err->code = SL_OK;
    err->msg[0] = '\0';
}

const char *sl_code_name(enum sl_code code)
{
    static const char *const names[] = {
            [SL_OK] = "ok",
            [SL_EGENERIC] = "error",
            [SL_ENOMEM] = "nomem",
            [SL_EIO] = "io",
            [SL_ENOTFOUND] = "notfound",
            [SL_EPARSE] = "parse",
            [SL_EINVAL] = "invalid",
            [SL_ETOOLARGE] = "toolarge",
            [SL_EPERM] = "perm",
            [SL_EUNSUPPORTED] = "unsupported",
            [SL_EAUTH] = "auth",
            [SL_ETIMEOUT] = "timeout",
            [SL_ECONFLICT] = "conflict",
            [SL_ECRYPTO] = "crypto",
            [SL_ECANCELED] = "canceled",
    };

    if ((size_t)code >= sizeof(names) / sizeof(names[0]) || names[code] == NULL)
        return "error";
    return names[code];
}
