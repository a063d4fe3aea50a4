#include "util/err.h"

#include <stdio.h>

static const char *const msgs[TOCSIN_ERR_COUNT] = {
    [TOCSIN_OK] = "ok",
    [TOCSIN_ENOMEM] = "out of memory",
    [TOCSIN_EINVAL] = "invalid argument",
    [TOCSIN_ENOTFOUND] = "not found",
    [TOCSIN_ETOOBIG] = "too big",
    [TOCSIN_EFULL] = "queue full",
    [TOCSIN_EIO] = "i/o error",
    [TOCSIN_ESTORE] = "store error",
    [TOCSIN_EEXIST] = "already exists",
    [TOCSIN_ECONFLICT] = "conflict",
    [TOCSIN_EAUTH] = "authentication failed",
    [TOCSIN_ESHUTDOWN] = "shutting down",
    [TOCSIN_EAGAIN] = "try again",
};

const char *tocsin_strerror(int err)
{
    if (err < 0 || err >= TOCSIN_ERR_COUNT || !msgs[err])
        return "unknown error";
    return msgs[err];
}

void tocsin_vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
}

void tocsin_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tocsin_vseterr(err, errlen, fmt, ap);
    va_end(ap);
}
