/* Helpers shared by the parser tests (test_alerta_parse.c, test_event_parse.c): a growable string
 * for building inputs, a fixed-seed PRNG, and small comparison and diagnostic helpers; the
 * fuzzers of tests/fuzz use the comparing and reporting ones too.
 * Header-only: each tests/unit/test_*.c is its own executable, so everything here is static. */
#ifndef TOCSIN_TEST_PARSE_HELPERS_H
#define TOCSIN_TEST_PARSE_HELPERS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a growable string for building inputs (always NUL-terminated; aborts on OOM) ---- */

struct sb {
    char *p;
    size_t n, cap;
};

static inline void sb_put(struct sb *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np)
            abort();
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static inline void sb_puts(struct sb *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static inline void sb_putc(struct sb *b, char ch)
{
    sb_put(b, &ch, 1);
}

__attribute__((format(printf, 2, 3))) static inline void sb_printf(struct sb *b, const char *fmt,
                                                                   ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        abort();
    sb_put(b, tmp, (size_t)n);
}

static inline void sb_repeat(struct sb *b, char ch, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sb_putc(b, ch);
}

/* ---- fixed-seed PRNG (splitmix64); tests set rng_state to their seed ---- */

static uint64_t rng_state;

static inline uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline unsigned rn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* ---- comparing and reporting ---- */

/* Equal strings, or both NULL. */
static inline bool same_str(const char *x, const char *y)
{
    return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

/* Deepest nesting of brackets outside strings (the input may be malformed). */
static inline int nesting(const char *s, size_t len)
{
    int d = 0, max = 0;
    bool in_str = false;

    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '[' || ch == '{') {
            max = ++d > max ? d : max;
        } else if (ch == ']' || ch == '}') {
            d--;
        }
    }
    return max;
}

/* jansson 2.14 silently drops a NUL byte right after a number or true/false/null (its look-ahead
 * byte is lost; a number ends with a digit, the literals with 'e' or 'l'): true for such a byte at
 * s[i]. The parsers reject it, so the differential checks must allow for it. */
static inline bool jansson_drops_nul(const char *s, size_t i)
{
    char prev = i ? s[i - 1] : '\0';

    return s[i] == '\0' && ((prev >= '0' && prev <= '9') || prev == 'e' || prev == 'l');
}

/* The first 4096 bytes of a failing input on stderr, '\\' and non-printable bytes as \xHH. */
static inline void print_input(const char *s, size_t len)
{
    fprintf(stderr, "input (%zu bytes): ", len);
    for (size_t i = 0; i < len && i < 4096; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7F && ch != '\\')
            fputc(ch, stderr);
        else
            fprintf(stderr, "\\x%02X", ch);
    }
    fputc('\n', stderr);
}

/* ---- timing ---- */

static inline double now_ns(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#endif
