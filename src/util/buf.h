/* A growable byte buffer with a hard maximum, always NUL-terminated (curl's dynbuf). */
#ifndef TOCSIN_BUF_H
#define TOCSIN_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    char *p;    /* NULL until the first append */
    size_t len; /* bytes used, excluding the NUL */
    size_t cap;
    size_t max; /* appends that would exceed this fail with TOCSIN_ETOOBIG */
};

void buf_init(struct buf *b, size_t max);
/* Frees the memory; the buffer can be reused after buf_init(). */
void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps memory */
/* Room for n more bytes in one allocation (where the size to come is known: no doubling up
 * to it, each a copy); TOCSIN_ETOOBIG past the maximum. */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends v in decimal, as "%" PRId64 would (without printf's parse of a format). */
int buf_put_i64(struct buf *b, int64_t v);
/* Appends `s` JSON-escaped, without the surrounding quotes. */
int buf_json_escape(struct buf *b, const char *s, size_t n);
/* Appends s (NUL-terminated; NULL appends nothing) with & < > as entities, and " ' too when
 * quotes (HTML text and attribute values; without: Slack's mrkdwn, which wants only three). */
int buf_html_escape(struct buf *b, const char *s, bool quotes);
/* Length of the UTF-8 sequence at p (at most n bytes, n >= 1), or 0 if it is not valid UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF included). */
size_t utf8_seq_len(const unsigned char *p, size_t n);
/* Returns the contents (never NULL, "" if empty); caller frees; the buffer is left empty. */
char *buf_steal(struct buf *b);
/* Contents or "" (borrowed). */
const char *buf_str(const struct buf *b);

#endif
