#include "util/err.h"

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
