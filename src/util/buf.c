#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

void buf_init(struct buf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

/* Room for extra more bytes (and the NUL): the capacity doubled up to it from 64 bytes, or,
 * exact, just what is asked. */
static int room_for(struct buf *b, size_t extra, bool exact)
{
    size_t need, ncap;
    char *np;

    if (extra > b->max || b->len > b->max - extra)
        return TOCSIN_ETOOBIG;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return TOCSIN_OK;
    ncap = exact ? need : b->cap ? b->cap : 64;
    while (ncap < need)
        ncap *= 2;
    if (b->max < SIZE_MAX && ncap > b->max + 1) /* SIZE_MAX: no bound but memory's */
        ncap = b->max + 1;
    np = realloc(b->p, ncap);
    if (!np)
        return TOCSIN_ENOMEM;
    if (!b->p)
        np[0] = '\0'; /* empty, as buf_str() shows it */
    b->p = np;
    b->cap = ncap;
    return TOCSIN_OK;
}

static int grow(struct buf *b, size_t extra)
{
    return room_for(b, extra, false);
}

int buf_reserve(struct buf *b, size_t n)
{
    return room_for(b, n, true);
}

int buf_append(struct buf *b, const void *data, size_t n)
{
    int rc = grow(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return TOCSIN_OK;
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    size_t room = b->p ? b->cap - b->len : 0;
    va_list cp;
    int n, rc;

    /* one pass when it fits in the room there is (measuring first was a second parse of the
     * format every time); else measure, grow and write */
    va_copy(cp, ap);
    n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, cp);
    va_end(cp);
    if (n >= 0 && (size_t)n < room && (size_t)n <= b->max - b->len) {
        b->len += (size_t)n;
        return TOCSIN_OK;
    }
    if (b->p)
        b->p[b->len] = '\0'; /* what the attempt wrote is not kept */
    if (n < 0)
        return TOCSIN_EINVAL;
    rc = grow(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return TOCSIN_OK;
}

int buf_put_i64(struct buf *b, int64_t v)
{
    char t[21];
    size_t i = sizeof(t);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        t[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        t[--i] = '-';
    return buf_append(b, t + i, sizeof(t) - i);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int buf_html_escape(struct buf *b, const char *s, bool quotes)
{
    int rc = TOCSIN_OK;

    for (; s && *s && !rc; s++) {
        const char *ent = *s == '&'              ? "&amp;"
                          : *s == '<'            ? "&lt;"
                          : *s == '>'            ? "&gt;"
                          : quotes && *s == '"'  ? "&quot;"
                          : quotes && *s == '\'' ? "&#39;"
                                                 : NULL;
        rc = ent ? buf_puts(b, ent) : buf_putc(b, *s);
    }
    return rc;
}

int buf_json_escape(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, start = 0;
    int rc = TOCSIN_OK;

    for (i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t elen = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = buf_append(b, s + start, i - start);
        start = i + 1;
        esc[0] = '\\';
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        if (!rc)
            rc = buf_append(b, esc, elen);
    }
    if (!rc)
        rc = buf_append(b, s + start, n - start);
    return rc;
}

char *buf_steal(struct buf *b)
{
    char *p = b->p;

    if (!p)
        p = calloc(1, 1);
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

const char *buf_str(const struct buf *b)
{
    return b->p ? b->p : "";
}

size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0x80                    ? 1
                 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
                 : (p[0] & 0xf0) == 0xe0        ? 3
                 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
                                                : 0;

    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
        return 0;
    return len;
}
