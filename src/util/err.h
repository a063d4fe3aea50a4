/* One error enum for the whole code base. */
#ifndef TOCSIN_ERR_H
#define TOCSIN_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum tocsin_err {
    TOCSIN_OK = 0,
    TOCSIN_ENOMEM,    /* allocation failed */
    TOCSIN_EINVAL,    /* invalid input (caller's fault) */
    TOCSIN_ENOTFOUND, /* no such object */
    TOCSIN_ETOOBIG,   /* a configured maximum was exceeded */
    TOCSIN_EFULL,     /* a bounded queue is full: back-pressure */
    TOCSIN_EIO,       /* operating system I/O failed */
    TOCSIN_ESTORE,    /* the store failed */
    TOCSIN_EEXIST,    /* object already exists */
    TOCSIN_ECONFLICT, /* state does not allow the operation */
    TOCSIN_EAUTH,     /* authentication or authorisation failed */
    TOCSIN_ESHUTDOWN, /* the component is stopping */
    TOCSIN_EAGAIN,    /* try again later */
    TOCSIN_ERR_COUNT
};

/* Static string, never NULL. */
const char *tocsin_strerror(int err);

/* Writes a message into a caller's error buffer (err, errlen): nothing when err is NULL or
 * errlen 0; cut to fit, always NUL-terminated. */
void tocsin_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tocsin_vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
