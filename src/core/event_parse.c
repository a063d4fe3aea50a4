/* A strict, single-pass JSON reader for Gravitee AE events (see event_parse.h).
 *
 * Shape: a recursive-descent reader over [p, end) whose recursion is bounded by MAX_NEST. Every
 * value is read by one of four families of functions:
 *  - skip_*   checks a value that cannot change the result (unknown keys, rejected values);
 *  - scalar_value / props_object / ctx_object read what event_from_json looks at;
 *  - dump_*   rewrite an array property as jansson's json_dumps(JSON_COMPACT) would;
 *  - top-level: event_object, event_array, event_parse.
 * Semantic errors never stop the reader: the state of each top-level field is recorded and the
 * first error is chosen in event_from_json's order when the object closes, and the rest of the
 * body is still checked, so malformed JSON anywhere wins as it does with json_loadb.
 *
 * Duplicate keys: jansson keeps the last value in the first key's place. Keys of every object that
 * can change the result are hashed; a (possible) repeat marks the event, which is then re-read by
 * jansson + event_from_json. A hash collision only costs that slow path, never a wrong answer. */
#include "core/event_parse.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define MAX_NEST EVENT_PARSE_MAX_NEST
#define NAME_MAX_BYTES 511 /* longest dotted property name (event_from_json) */
#define TYPE_MAX_BYTES 256 /* longest event type (event_from_json) */
#define KEY_SLOTS 1024     /* keys of open objects kept for the duplicate check */
#define OBJ_KEYS 128       /* keys of one object checked (past that: jansson decides) */
#define CTX_SLOTS (EVENT_MAX_PROPS + 1) /* context entries that can matter, see ctx_object */
#define DUMP_INLINE 1024 /* array text kept on the stack before it moves to the arena */
#define SUB_MIN 512      /* arena blocks that strings are carved from */
#define SUB_MAX 16384
#define NUM_INLINE 64  /* number text copied on the stack for strtod */
#define EXP_CAP 100000 /* decimal exponents saturate here (strtod reads the text) */
#define TWO_53 9007199254740992.0
#define TWO_63 9223372036854775808.0

enum fstate { F_ABSENT = 0, F_OK, F_BAD, F_LONG };
enum perr { PE_NONE = 0, PE_DEPTH, PE_NAME, PE_MANY };
enum tkey { K_OTHER = 0, K_ID, K_TYPE, K_TS, K_PROPS, K_CTX };
enum lit { LIT_NULL, LIT_TRUE, LIT_FALSE };

/* A checked string: raw bytes between the quotes, and whether they hold escapes. */
struct sref {
    const char *b, *e;
    bool esc;
};

/* A checked number: its text, and its value as jansson would hold it. */
struct num {
    const char *b, *e;
    bool is_int;
    int64_t i;
    double d;
};

/* What one event object said so far; turned into an event or an error when it closes. */
struct evstate {
    const char *begin;
    enum fstate type_st, id_st, ts_st, props_st, ctx_st;
    enum perr perr; /* first flattening error, in document order */
    bool dup;       /* a key may repeat: re-read this event with jansson */
    bool seen_props, seen_ctx;
    const char *type, *id;
    int64_t ts;
    uint32_t nprops, nctx;
};

/* Keys of one open object, for the duplicate check. */
struct kset {
    uint32_t base;
    uint64_t bloom;
};

struct dbuf {
    char *p;
    size_t n, cap;
    bool in_arena;
};

struct pctx {
    const char *buf, *p, *end;
    struct arena *a;
    char *sp; /* free part of the current arena block */
    size_t sleft, sub_size;
    int depth;
    const char *syn_at, *syn_what; /* first syntax error */
    bool has_sem;
    struct verr sem; /* first semantic error */
    struct evstate ev;
    struct event *evs;
    size_t nevs, evcap, nseen, first_cap, max_events;
    uint32_t nkeys;
    char name[NAME_MAX_BYTES + 1];
    uint64_t keys[KEY_SLOTS];
    uint32_t plen[EVENT_MAX_PROPS];
    struct prop props[EVENT_MAX_PROPS];
    uint32_t clen[CTX_SLOTS];
    bool cbad[CTX_SLOTS];
    struct prop ctx[CTX_SLOTS];
    struct dbuf dump;
    char dump_inline[DUMP_INLINE];
};

static int skip_value(struct pctx *c);
static int dump_value(struct pctx *c, struct dbuf *d);
static int props_object(struct pctx *c, size_t plen, int fdepth);

/* ---- errors, cursor ---- */

static int syn(struct pctx *c, const void *at, const char *what)
{
    if (!c->syn_at) {
        c->syn_at = at;
        c->syn_what = what;
    }
    return TOCSIN_EINVAL;
}

static inline int peek(const struct pctx *c)
{
    return c->p < c->end ? (unsigned char)*c->p : -1;
}

static void ws_slow(struct pctx *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

static inline void ws(struct pctx *c)
{
    if (c->p < c->end && (unsigned char)*c->p <= ' ')
        ws_slow(c);
}

static int enter(struct pctx *c)
{
    if (c->depth >= MAX_NEST)
        return syn(c, c->p, "nesting deeper than 64 levels");
    c->depth++;
    c->p++;
    return TOCSIN_OK;
}

static void leave(struct pctx *c)
{
    c->depth--;
    c->p++;
}

/* Moves to the next key of an object: *more is false at its '}'. */
static inline int obj_step(struct pctx *c, bool first, bool *more)
{
    int ch;

    if (c->end - c->p >= 2 && c->p[first ? 0 : 1] == '"' && (first || c->p[0] == ',')) {
        c->p += first ? 0 : 1; /* compact JSON: no white space before the next key */
        *more = true;
        return TOCSIN_OK;
    }
    ws(c);
    ch = peek(c);
    *more = false;
    if (ch == '}')
        return TOCSIN_OK;
    if (!first) {
        if (ch != ',')
            return syn(c, c->p, ch < 0 ? "unexpected end of input" : "expected ',' or '}'");
        c->p++;
        ws(c);
        ch = peek(c);
    }
    if (ch != '"')
        return syn(c, c->p, ch < 0 ? "unexpected end of input" : "expected a string key");
    *more = true;
    return TOCSIN_OK;
}

/* Moves to the next element of an array: *more is false at its ']'. */
static int arr_step(struct pctx *c, bool first, bool *more)
{
    int ch;

    ws(c);
    ch = peek(c);
    *more = false;
    if (ch == ']')
        return TOCSIN_OK;
    if (!first) {
        if (ch != ',')
            return syn(c, c->p, ch < 0 ? "unexpected end of input" : "expected ',' or ']'");
        c->p++;
        ws(c);
    }
    *more = true;
    return TOCSIN_OK;
}

static inline int colon(struct pctx *c)
{
    if (c->p < c->end && *c->p == ':' && c->p + 1 < c->end &&
        (unsigned char)c->p[1] > ' ') { /* compact JSON */
        c->p++;
        return TOCSIN_OK;
    }
    ws(c);
    if (peek(c) != ':')
        return syn(c, c->p, c->p < c->end ? "expected ':'" : "unexpected end of input");
    c->p++;
    ws(c);
    return TOCSIN_OK;
}

/* ---- arena ---- */

static char *salloc_slow(struct pctx *c, size_t n)
{
    char *b;

    if (n > c->sub_size / 4)
        return arena_alloc(c->a, n);
    b = arena_alloc(c->a, c->sub_size);
    if (!b)
        return arena_alloc(c->a, n);
    c->sp = b + n;
    c->sleft = c->sub_size - n;
    return b;
}

/* Unaligned bytes for strings, carved from arena blocks. */
static inline char *salloc(struct pctx *c, size_t n)
{
    char *r = c->sp;

    if (c->sleft < n)
        return salloc_slow(c, n);
    c->sp += n;
    c->sleft -= n;
    return r;
}

static char *sdup(struct pctx *c, const char *s, size_t n)
{
    char *d = salloc(c, n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* ---- strings ---- */

static inline uint64_t load8(const unsigned char *p)
{
    uint64_t w;

    memcpy(&w, p, sizeof(w));
    return w;
}

/* Non-zero when one of the 8 bytes is '"', '\\', a control character or non-ASCII. */
static inline uint64_t special8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');

    return (((q - ones) & ~q) | ((bs - ones) & ~bs) | ((w - ones * 0x20) & ~w) | w) & highs;
}

static inline bool is_plain(unsigned char b)
{
    return b >= 0x20 && b < 0x80 && b != '"' && b != '\\';
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (unsigned char)(ch | 0x20);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* The 4 hex digits at p (the caller checked they are there), or -1. */
static int32_t hex4(const unsigned char *p)
{
    int32_t v = 0;

    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* End of the well-formed UTF-8 sequence starting at p (a byte >= 0x80), or NULL: no overlongs,
 * no surrogates, nothing above U+10FFFF. */
static const unsigned char *utf8_next(const unsigned char *p, const unsigned char *end)
{
    unsigned b0 = p[0], lo = 0x80, hi = 0xBF;
    size_t n;

    if (b0 < 0xC2)
        return NULL;
    if (b0 < 0xE0) {
        n = 2;
    } else if (b0 < 0xF0) {
        n = 3;
        lo = b0 == 0xE0 ? 0xA0 : lo;
        hi = b0 == 0xED ? 0x9F : hi;
    } else if (b0 < 0xF5) {
        n = 4;
        lo = b0 == 0xF0 ? 0x90 : lo;
        hi = b0 == 0xF4 ? 0x8F : hi;
    } else {
        return NULL;
    }
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return NULL;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return NULL;
    return p + n;
}

/* Checks the escape at *pp ('\\'), surrogate pairs whole, and moves past it. */
static int scan_escape(struct pctx *c, const unsigned char **pp)
{
    const unsigned char *p = *pp, *end = (const unsigned char *)c->end;
    int32_t cp, lo;

    if (end - p < 2)
        return syn(c, end, "unterminated string");
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        *pp = p + 2;
        return TOCSIN_OK;
    case 'u':
        break;
    default:
        return syn(c, p, "invalid escape");
    }
    cp = end - p >= 6 ? hex4(p + 2) : -1;
    if (cp < 0)
        return syn(c, p, "invalid \\u escape");
    if (cp == 0)
        return syn(c, p, "\\u0000 is not allowed");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return syn(c, p, "invalid Unicode: lone low surrogate");
    if (cp < 0xD800 || cp > 0xDBFF) {
        *pp = p + 6;
        return TOCSIN_OK;
    }
    lo = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return syn(c, p, "invalid Unicode: unpaired high surrogate");
    *pp = p + 12;
    return TOCSIN_OK;
}

/* Checks the string whose opening quote is at c->p and moves past its closing quote. */
static int scan_string(struct pctx *c, struct sref *s)
{
    const unsigned char *p = (const unsigned char *)c->p + 1;
    const unsigned char *end = (const unsigned char *)c->end;

    s->b = (const char *)p;
    s->esc = false;
    for (;;) {
        while (end - p >= 8) {
            uint64_t sp = special8(load8(p));
            if (sp) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                p += __builtin_ctzll(sp) >> 3; /* the lowest flag is always exact */
#endif
                break;
            }
            p += 8;
        }
        while (p < end && is_plain(*p))
            p++;
        if (p >= end)
            return syn(c, end, "unterminated string");
        if (*p == '"')
            break;
        if (*p == '\\') {
            s->esc = true;
            if (scan_escape(c, &p))
                return TOCSIN_EINVAL;
        } else if (*p >= 0x80) {
            const unsigned char *q = utf8_next(p, end);
            if (!q)
                return syn(c, p, "invalid UTF-8");
            p = q;
        } else {
            return syn(c, p, "control character in a string");
        }
    }
    s->e = (const char *)p;
    c->p = (const char *)p + 1;
    return TOCSIN_OK;
}

static size_t utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the (already checked) escape at *bp; returns the code point and moves past it. */
static uint32_t escape_cp(const char **bp)
{
    const unsigned char *b = (const unsigned char *)*bp;
    uint32_t cp;

    switch (b[1]) {
    case 'b':
        *bp += 2;
        return '\b';
    case 'f':
        *bp += 2;
        return '\f';
    case 'n':
        *bp += 2;
        return '\n';
    case 'r':
        *bp += 2;
        return '\r';
    case 't':
        *bp += 2;
        return '\t';
    case 'u':
        break;
    default:
        *bp += 2;
        return b[1]; /* '"', '\\', '/' */
    }
    cp = (uint32_t)hex4(b + 2);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(b + 8) - 0xDC00);
        *bp += 12;
    } else {
        *bp += 6;
    }
    return cp;
}

/* Writes the checked raw string [b, e) unescaped to out (room for e - b bytes); returns the
 * length. With `count_only`, out is not touched. */
static size_t unescape(const char *b, const char *e, char *out, bool count_only)
{
    size_t n = 0;

    while (b < e) {
        const char *bs = memchr(b, '\\', (size_t)(e - b));
        size_t run = (size_t)((bs ? bs : e) - b);
        char tmp[4];
        if (!count_only)
            memcpy(out + n, b, run);
        n += run;
        b += run;
        if (!bs)
            break;
        run = utf8_put(tmp, escape_cp(&b));
        if (!count_only)
            memcpy(out + n, tmp, run);
        n += run;
    }
    return n;
}

/* Copies the checked string unescaped into the arena. */
static char *str_copy(struct pctx *c, const struct sref *s, size_t *len)
{
    size_t raw = (size_t)(s->e - s->b);
    bool from_block = c->sleft >= raw + 1;
    char *d = salloc(c, raw + 1);

    if (!d)
        return NULL;
    if (!s->esc) {
        memcpy(d, s->b, raw);
        *len = raw;
    } else {
        *len = unescape(s->b, s->e, d, false);
        if (from_block) { /* give back what unescaping saved */
            c->sp -= raw - *len;
            c->sleft += raw - *len;
        }
    }
    d[*len] = '\0';
    return d;
}

/* Writes the checked raw string [b, e) as json_dumps escapes it (never longer than the raw). */
static size_t dump_escape(const char *b, const char *e, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = out;

    while (b < e) {
        const char *bs = memchr(b, '\\', (size_t)(e - b));
        size_t run = (size_t)((bs ? bs : e) - b);
        uint32_t cp;
        memcpy(o, b, run);
        o += run;
        b += run;
        if (!bs)
            break;
        cp = escape_cp(&b);
        if (cp == '"' || cp == '\\') {
            *o++ = '\\';
            *o++ = (char)cp;
        } else if (cp < 0x20) {
            const char *s = cp == '\b'   ? "b"
                            : cp == '\f' ? "f"
                            : cp == '\n' ? "n"
                            : cp == '\r' ? "r"
                            : cp == '\t' ? "t"
                                         : NULL;
            *o++ = '\\';
            if (s) {
                *o++ = *s;
            } else {
                memcpy(o, "u00", 3);
                o[3] = hex[cp >> 4];
                o[4] = hex[cp & 15];
                o += 5;
            }
        } else {
            o += utf8_put(o, cp);
        }
    }
    return (size_t)(o - out);
}

/* ---- numbers and literals ---- */

static inline bool is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

/* The real value of the checked text [b, e), as strtod (and so jansson) reads it. */
static int real_slow(struct pctx *c, const struct num *n, double *out)
{
    char stack[NUM_INLINE], *t = stack, *end;
    size_t len = (size_t)(n->e - n->b);

    if (len >= sizeof(stack) && !(t = arena_alloc(c->a, len + 1)))
        return TOCSIN_ENOMEM;
    memcpy(t, n->b, len);
    t[len] = '\0';
    errno = 0;
    *out = strtod(t, &end);
    if (end != t + len)
        return syn(c, n->b, "invalid number");
    if (errno == ERANGE && (*out == HUGE_VAL || *out == -HUGE_VAL))
        return syn(c, n->b, "real number overflow");
    return TOCSIN_OK;
}

/* Fraction digits after the '.': the first 19 significant ones go to *m. */
static const char *frac_digits(const char *p, const char *end, uint64_t *m, int *nsig, int *e10)
{
    for (; p < end && is_digit(*p); p++) {
        if (*nsig < 19 && (*m || *p != '0'))
            *m = *m * 10 + (uint64_t)(*p - '0');
        if (*nsig < 19 && *e10 > -EXP_CAP)
            (*e10)--;
        if (*m && *nsig <= 19)
            (*nsig)++;
    }
    return p;
}

static int int_value(struct pctx *c, struct num *n, uint64_t m, int ndig, bool neg)
{
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

    if (ndig > 19 || m > lim)
        return syn(c, n->b, "integer out of range");
    n->is_int = true;
    n->i = !neg ? (int64_t)m : m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
    return TOCSIN_OK;
}

/* Checks the number at c->p (RFC 8259 grammar, int64 integers, finite reals) and reads it. */
static int scan_number(struct pctx *c, struct num *n)
{
    static const double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                         1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                         1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = c->p, *end = c->end;
    uint64_t m = 0;
    int nsig = 0, e10 = 0, x = 0;
    bool neg = false, real = false;

    n->b = p;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= end || !is_digit(*p))
        return syn(c, p, p < end ? "invalid number" : "unexpected end of input");
    if (*p == '0' && ++p < end && is_digit(*p))
        return syn(c, p, "leading zero in a number");
    for (; p < end && is_digit(*p); p++) { /* the first 19 digits go to m */
        if (nsig < 19)
            m = m * 10 + (uint64_t)(*p - '0');
        else if (e10 < EXP_CAP)
            e10++;
        nsig += nsig <= 19;
    }
    if (p < end && *p == '.') {
        real = true;
        if (++p >= end || !is_digit(*p))
            return syn(c, p, "expected a digit after '.'");
        p = frac_digits(p, end, &m, &nsig, &e10);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        bool eneg = false;
        real = true;
        if (++p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p >= end || !is_digit(*p))
            return syn(c, p, "expected a digit in the exponent");
        for (; p < end && is_digit(*p); p++)
            x = x < EXP_CAP ? x * 10 + (*p - '0') : x;
        e10 += eneg ? -x : x;
    }
    n->e = c->p = p;
    if (!real)
        return int_value(c, n, m, nsig, neg);
    n->is_int = false;
    if (m == 0) {
        n->d = 0.0;
    } else if (FLT_EVAL_METHOD == 0 && nsig <= 19 && m <= (1ull << 53) && e10 >= -22 &&
               e10 <= 22) { /* exact operands, one rounding: correctly rounded */
        n->d = e10 >= 0 ? (double)m * exact_pow10[e10] : (double)m / exact_pow10[-e10];
    } else {
        return real_slow(c, n, &n->d);
    }
    n->d = neg ? -n->d : n->d;
    return TOCSIN_OK;
}

static int literal(struct pctx *c, enum lit *out)
{
    size_t left = (size_t)(c->end - c->p);

    if (left >= 4 && memcmp(c->p, "true", 4) == 0) {
        *out = LIT_TRUE;
        c->p += 4;
    } else if (left >= 5 && memcmp(c->p, "false", 5) == 0) {
        *out = LIT_FALSE;
        c->p += 5;
    } else if (left >= 4 && memcmp(c->p, "null", 4) == 0) {
        *out = LIT_NULL;
        c->p += 4;
    } else {
        return syn(c, c->p, "invalid literal");
    }
    return TOCSIN_OK;
}

/* Decimal text of v ("-0" when neg_zero); out has room for 21 bytes. */
static size_t fmt_int(int64_t v, bool neg_zero, char *out)
{
    char tmp[24];
    size_t n = 0, len = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0 || neg_zero)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    return len;
}

/* The text event_from_json gives a real: "%.0f" when integral below 2^53, else "%.17g". */
static size_t real_text(double d, char *out, size_t cap)
{
    int r;

    if (fabs(d) < TWO_53 && d == (double)(int64_t)d)
        return fmt_int((int64_t)d, signbit(d) != 0, out);
    r = snprintf(out, cap, "%.17g", d);
    return r > 0 && (size_t)r < cap ? (size_t)r : 0;
}

/* The text json_dumps gives a real: "%.17g", ".0" added when it has no '.' or 'e', and the
 * exponent's '+' and leading zeros dropped. */
static size_t dump_real(double d, char *out, size_t cap)
{
    size_t len = real_text(d, out, cap);
    char *e, *w, *r;

    if (!memchr(out, '.', len) && !memchr(out, 'e', len) && len + 2 < cap) {
        memcpy(out + len, ".0", 2);
        len += 2;
    }
    e = memchr(out, 'e', len);
    if (e) {
        w = e + 1;
        r = w + 1;
        if (*w == '-')
            w++;
        while (r < out + len && *r == '0')
            r++;
        memmove(w, r, (size_t)(out + len - r));
        len -= (size_t)(r - w);
    }
    return len;
}

/* ---- values ---- */

static int num_value(struct pctx *c, const struct num *n, struct value *v)
{
    char tmp[40];
    const char *s = tmp;
    size_t len;

    v->type = VAL_NUM;
    if (n->is_int) {
        v->num = (double)n->i;
        s = n->b;
        len = (size_t)(n->e - n->b);
        if (len == 2 && s[0] == '-' && s[1] == '0') { /* "-0" is the integer 0 */
            s++;
            len--;
        }
    } else {
        v->num = n->d;
        len = real_text(n->d, tmp, sizeof(tmp));
    }
    v->str = sdup(c, s, len);
    v->slen = (uint32_t)len;
    return v->str ? TOCSIN_OK : TOCSIN_ENOMEM;
}

/* Reads a string, number, true, false or null at c->p as set_value() would. */
static int scalar_value(struct pctx *c, struct value *v)
{
    int ch = peek(c), rc;

    v->num = 0;
    if (ch == '"') {
        struct sref s;
        size_t len;
        if ((rc = scan_string(c, &s)))
            return rc;
        v->type = VAL_STR;
        if (!(v->str = str_copy(c, &s, &len)))
            return TOCSIN_ENOMEM;
        if (len > UINT32_MAX)
            return TOCSIN_ETOOBIG;
        v->slen = (uint32_t)len;
        return TOCSIN_OK;
    }
    if (ch == 't' || ch == 'f' || ch == 'n') {
        enum lit l;
        if ((rc = literal(c, &l)))
            return rc;
        v->type = l == LIT_NULL ? VAL_NULL : VAL_BOOL;
        v->num = l == LIT_TRUE ? 1 : 0;
        v->str = l == LIT_NULL ? "" : l == LIT_TRUE ? "true" : "false";
        v->slen = (uint32_t)strlen(v->str);
        return TOCSIN_OK;
    }
    if (ch == '-' || is_digit(ch)) {
        struct num n;
        if ((rc = scan_number(c, &n)))
            return rc;
        return num_value(c, &n, v);
    }
    return syn(c, c->p, ch < 0 ? "unexpected end of input" : "unexpected character");
}

/* ---- values that cannot change the result: checked only ---- */

static int skip_container(struct pctx *c, bool object)
{
    bool more;
    int rc = enter(c);

    for (bool first = true; !rc; first = false) {
        rc = object ? obj_step(c, first, &more) : arr_step(c, first, &more);
        if (rc || !more)
            break;
        if (object) {
            struct sref k;
            if ((rc = scan_string(c, &k)) || (rc = colon(c)))
                break;
        }
        rc = skip_value(c);
    }
    if (!rc)
        leave(c);
    return rc;
}

static int skip_value(struct pctx *c)
{
    int ch = peek(c);

    if (ch == '{' || ch == '[')
        return skip_container(c, ch == '{');
    if (ch == '"') {
        struct sref s;
        return scan_string(c, &s);
    }
    if (ch == 't' || ch == 'f' || ch == 'n') {
        enum lit l;
        return literal(c, &l);
    }
    if (ch == '-' || is_digit(ch)) {
        struct num n;
        return scan_number(c, &n);
    }
    return syn(c, c->p, ch < 0 ? "unexpected end of input" : "unexpected character");
}

/* ---- duplicate keys ---- */

static inline uint32_t load4(const char *p)
{
    uint32_t w;

    memcpy(&w, p, sizeof(w));
    return w;
}

/* A hash of the n bytes at s that reads every byte and nothing past s + n (overlapping loads).
 * Equal keys hash equal; a collision only sends the event down the slow path. */
static uint64_t key_hash(const char *s, size_t n)
{
    const uint64_t k1 = 0x9E3779B97F4A7C15ull, k2 = 0xC2B2AE3D27D4EB4Full;
    uint64_t a, b, h;

    if (n >= 8) {
        a = load8((const unsigned char *)s);
        b = load8((const unsigned char *)s + n - 8);
        for (size_t i = 8; i + 8 < n; i += 8)
            a = (a ^ load8((const unsigned char *)s + i)) * k1;
    } else if (n >= 4) {
        a = load4(s);
        b = load4(s + n - 4);
    } else {
        a = n ? (unsigned char)s[0] | (unsigned)(unsigned char)s[n / 2] << 8 |
                    (unsigned)(unsigned char)s[n - 1] << 16
              : 0;
        b = 0;
    }
    h = (a * k1) ^ ((b ^ n) * k2);
    h ^= h >> 31;
    h *= 0x94D049BB133111EBull;
    return h ^ (h >> 29);
}

static inline void kset_begin(struct pctx *c, struct kset *k)
{
    k->base = c->nkeys;
    k->bloom = 0;
}

/* Notes key hash h in the object; marks the event for the slow path on a (possible) repeat, or
 * when the object has too many keys to check cheaply. */
static void kset_add(struct pctx *c, struct kset *k, uint64_t h)
{
    uint64_t bit = 1ull << (h >> 58);

    if (c->ev.dup)
        return; /* decided already */
    if (c->nkeys - k->base >= OBJ_KEYS || c->nkeys >= KEY_SLOTS) {
        c->ev.dup = true; /* cannot tell cheaply: let jansson decide */
        return;
    }
    if (k->bloom & bit)
        for (uint32_t i = k->base; i < c->nkeys; i++)
            if (c->keys[i] == h) {
                c->ev.dup = true;
                break;
            }
    k->bloom |= bit;
    c->keys[c->nkeys++] = h;
}

static inline void kset_end(struct pctx *c, const struct kset *k)
{
    c->nkeys = k->base;
}

/* ---- array properties: jansson's compact text ---- */

static int dreserve(struct pctx *c, struct dbuf *d, size_t need)
{
    size_t cap;
    char *np;

    if (d->cap - d->n >= need)
        return TOCSIN_OK;
    cap = d->cap * 2 > d->n + need ? d->cap * 2 : d->n + need;
    if (cap < d->n || !(np = arena_alloc(c->a, cap)))
        return TOCSIN_ENOMEM;
    memcpy(np, d->p, d->n);
    d->p = np;
    d->cap = cap;
    d->in_arena = true;
    return TOCSIN_OK;
}

static int dump_string(struct pctx *c, struct dbuf *d, uint64_t *hash)
{
    struct sref s;
    size_t start;
    int rc = scan_string(c, &s);

    if (rc || (rc = dreserve(c, d, (size_t)(s.e - s.b) + 2)))
        return rc;
    d->p[d->n++] = '"';
    start = d->n;
    if (s.esc) {
        d->n += dump_escape(s.b, s.e, d->p + d->n);
    } else {
        memcpy(d->p + d->n, s.b, (size_t)(s.e - s.b));
        d->n += (size_t)(s.e - s.b);
    }
    if (hash)
        *hash = key_hash(d->p + start, d->n - start);
    d->p[d->n++] = '"';
    return TOCSIN_OK;
}

static int dump_number(struct pctx *c, struct dbuf *d)
{
    struct num n;
    char tmp[40];
    const char *s = tmp;
    size_t len;
    int rc = scan_number(c, &n);

    if (rc)
        return rc;
    if (n.is_int) {
        s = n.b;
        len = (size_t)(n.e - n.b);
        if (len == 2 && s[0] == '-' && s[1] == '0') {
            s++;
            len--;
        }
    } else {
        len = dump_real(n.d, tmp, sizeof(tmp));
    }
    if ((rc = dreserve(c, d, len)))
        return rc;
    memcpy(d->p + d->n, s, len);
    d->n += len;
    return TOCSIN_OK;
}

static int dump_container(struct pctx *c, struct dbuf *d, bool object)
{
    struct kset ks;
    bool more;
    int rc = enter(c);

    kset_begin(c, &ks);
    if (!rc)
        rc = dreserve(c, d, 1);
    if (!rc)
        d->p[d->n++] = object ? '{' : '[';
    for (bool first = true; !rc; first = false) {
        rc = object ? obj_step(c, first, &more) : arr_step(c, first, &more);
        if (rc || !more || (!first && (rc = dreserve(c, d, 1))))
            break;
        if (!first)
            d->p[d->n++] = ',';
        if (object) {
            uint64_t h;
            if ((rc = dump_string(c, d, &h)) || (rc = colon(c)) || (rc = dreserve(c, d, 1)))
                break;
            kset_add(c, &ks, h);
            d->p[d->n++] = ':';
        }
        rc = dump_value(c, d);
    }
    kset_end(c, &ks);
    if (!rc && !(rc = dreserve(c, d, 1))) {
        d->p[d->n++] = object ? '}' : ']';
        leave(c);
    }
    return rc;
}

static int dump_value(struct pctx *c, struct dbuf *d)
{
    int ch = peek(c), rc;

    if (ch == '{' || ch == '[')
        return dump_container(c, d, ch == '{');
    if (ch == '"')
        return dump_string(c, d, NULL);
    if (ch == 't' || ch == 'f' || ch == 'n') {
        enum lit l;
        const char *s;
        if ((rc = literal(c, &l)) || (rc = dreserve(c, d, 5)))
            return rc;
        s = l == LIT_NULL ? "null" : l == LIT_TRUE ? "true" : "false";
        memcpy(d->p + d->n, s, strlen(s));
        d->n += strlen(s);
        return TOCSIN_OK;
    }
    if (ch == '-' || is_digit(ch))
        return dump_number(c, d);
    return syn(c, c->p, ch < 0 ? "unexpected end of input" : "unexpected character");
}

/* An array property: a VAL_STR holding its compact JSON text. */
static int array_value(struct pctx *c, struct value *v)
{
    struct dbuf *d = &c->dump;
    int rc;

    d->p = c->dump_inline;
    d->n = 0;
    d->cap = sizeof(c->dump_inline);
    d->in_arena = false;
    if ((rc = dump_container(c, d, false)) || (rc = dreserve(c, d, 1)))
        return rc;
    d->p[d->n] = '\0';
    if (d->n > UINT32_MAX)
        return TOCSIN_ETOOBIG;
    v->type = VAL_STR;
    v->num = 0;
    v->slen = (uint32_t)d->n;
    v->str = d->in_arena ? d->p : sdup(c, d->p, d->n);
    return v->str ? TOCSIN_OK : TOCSIN_ENOMEM;
}

/* ---- properties and context ---- */

/* Writes the key's component of the dotted name at c->name + off; false if the name would pass
 * 511 bytes (event_from_json's limit). */
static bool name_part(struct pctx *c, const struct sref *k, size_t off, size_t *klen)
{
    size_t raw = (size_t)(k->e - k->b), room;

    if (off > NAME_MAX_BYTES)
        return false;
    room = NAME_MAX_BYTES - off;
    if (raw > room && (!k->esc || unescape(k->b, k->e, NULL, true) > room))
        return false;
    if (k->esc) {
        *klen = unescape(k->b, k->e, c->name + off, false);
    } else {
        memcpy(c->name + off, k->b, raw);
        *klen = raw;
    }
    return true;
}

/* A non-object value of a property: stored while no flattening error has been seen. */
static int prop_leaf(struct pctx *c, size_t nlen)
{
    struct evstate *e = &c->ev;
    struct prop *p;
    int rc;

    if (e->perr)
        return skip_value(c);
    if (e->nprops >= EVENT_MAX_PROPS) {
        e->perr = PE_MANY;
        return skip_value(c);
    }
    p = &c->props[e->nprops];
    if (!(p->key = sdup(c, c->name, nlen)))
        return TOCSIN_ENOMEM;
    rc = peek(c) == '[' ? array_value(c, &p->v) : scalar_value(c, &p->v);
    if (rc)
        return rc;
    c->plen[e->nprops++] = (uint32_t)nlen;
    return TOCSIN_OK;
}

/* One key of a properties object, as flatten() treats it. */
static int prop_member(struct pctx *c, struct kset *ks, size_t plen, int fdepth)
{
    struct sref k;
    size_t off = plen + (plen ? 1 : 0), klen = 0;
    bool fits;
    int rc = scan_string(c, &k);

    if (rc)
        return rc;
    if (plen)
        c->name[plen] = '.';
    fits = name_part(c, &k, off, &klen);
    if (fits)
        kset_add(c, ks, key_hash(c->name + off, klen));
    if ((rc = colon(c)))
        return rc;
    if (!fits) {
        c->ev.perr = c->ev.perr ? c->ev.perr : PE_NAME;
        return skip_value(c);
    }
    if (peek(c) != '{')
        return prop_leaf(c, off + klen);
    if (fdepth + 1 > EVENT_MAX_DEPTH) {
        c->ev.perr = c->ev.perr ? c->ev.perr : PE_DEPTH;
        return skip_value(c);
    }
    return props_object(c, off + klen, fdepth + 1);
}

/* A properties object at c->p, flattened under the first `plen` bytes of c->name. */
static int props_object(struct pctx *c, size_t plen, int fdepth)
{
    struct kset ks;
    bool more;
    int rc = enter(c);

    kset_begin(c, &ks);
    for (bool first = true; !rc; first = false) {
        if ((rc = obj_step(c, first, &more)) || !more)
            break;
        rc = prop_member(c, &ks, plen, fdepth);
    }
    kset_end(c, &ks);
    if (!rc)
        leave(c);
    return rc;
}

/* One context entry. Only the first CTX_SLOTS entries are kept: with at most 256 properties and
 * no repeated key, entry 257 is always reached only after an error (a bad value or the 257th
 * property), so later entries cannot change the result. */
static int ctx_member(struct pctx *c, struct kset *ks)
{
    struct evstate *e = &c->ev;
    struct sref k;
    size_t klen;
    const char *key;
    int rc = scan_string(c, &k), ch;

    if (rc)
        return rc;
    if (!(key = str_copy(c, &k, &klen)))
        return TOCSIN_ENOMEM;
    kset_add(c, ks, key_hash(key, klen));
    if ((rc = colon(c)))
        return rc;
    ch = peek(c);
    if (e->nctx >= CTX_SLOTS)
        return skip_value(c);
    c->ctx[e->nctx].key = key;
    c->clen[e->nctx] = (uint32_t)klen;
    c->cbad[e->nctx] = ch == '{' || ch == '[';
    rc = c->cbad[e->nctx] ? skip_value(c) : scalar_value(c, &c->ctx[e->nctx].v);
    e->nctx++;
    return rc;
}

static int ctx_object(struct pctx *c)
{
    struct kset ks;
    bool more;
    int rc = enter(c);

    kset_begin(c, &ks);
    for (bool first = true; !rc; first = false) {
        if ((rc = obj_step(c, first, &more)) || !more)
            break;
        rc = ctx_member(c, &ks);
    }
    kset_end(c, &ks);
    if (!rc)
        leave(c);
    return rc;
}

/* ---- the event object ---- */

static enum tkey top_key(const struct sref *k)
{
    char tmp[64];
    const char *s = k->b;
    size_t n = (size_t)(k->e - k->b);

    if (k->esc) {
        if (n > sizeof(tmp))
            return K_OTHER;
        n = unescape(k->b, k->e, tmp, false);
        s = tmp;
    }
    switch (n) {
    case 2:
        return memcmp(s, "id", 2) == 0 ? K_ID : K_OTHER;
    case 4:
        return memcmp(s, "type", 4) == 0 ? K_TYPE : K_OTHER;
    case 7:
        return memcmp(s, "context", 7) == 0 ? K_CTX : K_OTHER;
    case 9:
        return memcmp(s, "timestamp", 9) == 0 ? K_TS : K_OTHER;
    case 10:
        return memcmp(s, "properties", 10) == 0 ? K_PROPS : K_OTHER;
    default:
        return K_OTHER;
    }
}

/* "type" or "id": a string (kept), null (absent) or anything else (rejected). */
static int str_field(struct pctx *c, enum fstate *st, const char **out, bool is_type)
{
    int ch = peek(c), rc;
    struct sref s;
    size_t len;

    *out = NULL;
    if (ch != '"') {
        *st = ch == 'n' && c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0 ? F_ABSENT : F_BAD;
        return skip_value(c);
    }
    if ((rc = scan_string(c, &s)))
        return rc;
    if (!(*out = str_copy(c, &s, &len)))
        return TOCSIN_ENOMEM;
    *st = !is_type ? F_OK : len == 0 ? F_BAD : len > TYPE_MAX_BYTES ? F_LONG : F_OK;
    return TOCSIN_OK;
}

static int ts_field(struct pctx *c)
{
    struct evstate *e = &c->ev;
    int ch = peek(c), rc;
    struct num n;

    e->ts = 0;
    if (ch != '-' && !is_digit(ch)) {
        e->ts_st =
            ch == 'n' && c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0 ? F_ABSENT : F_BAD;
        return skip_value(c);
    }
    if ((rc = scan_number(c, &n)))
        return rc;
    e->ts_st = F_OK;
    if (n.is_int)
        e->ts = n.i;
    else if (n.d >= -TWO_63 && n.d < TWO_63)
        e->ts = (int64_t)n.d;
    else
        e->ts_st = F_BAD; /* event_from_json's cast would be undefined */
    return TOCSIN_OK;
}

/* "properties" or "context": an object, null, or anything else (rejected). A second one means
 * the first must be forgotten: leave that to jansson. */
static int obj_field(struct pctx *c, bool props)
{
    struct evstate *e = &c->ev;
    enum fstate *st = props ? &e->props_st : &e->ctx_st;
    bool *seen = props ? &e->seen_props : &e->seen_ctx;
    int ch = peek(c);

    if (*seen)
        e->dup = true;
    *seen = true;
    if (ch == '{') {
        *st = F_OK;
        return props ? props_object(c, 0, 0) : ctx_object(c);
    }
    *st = ch == 'n' && c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0 ? F_ABSENT : F_BAD;
    return skip_value(c);
}

static int top_member(struct pctx *c, bool live)
{
    struct sref k;
    int rc = scan_string(c, &k);

    if (rc || (rc = colon(c)))
        return rc;
    if (!live)
        return skip_value(c);
    switch (top_key(&k)) {
    case K_TYPE:
        return str_field(c, &c->ev.type_st, &c->ev.type, true);
    case K_ID:
        return str_field(c, &c->ev.id_st, &c->ev.id, false);
    case K_TS:
        return ts_field(c);
    case K_PROPS:
        return obj_field(c, true);
    case K_CTX:
        return obj_field(c, false);
    default:
        return skip_value(c);
    }
}

/* An event object at c->p; with !live it is only checked. */
static int event_object(struct pctx *c, bool live)
{
    bool more;
    int rc;

    memset(&c->ev, 0, sizeof(c->ev));
    c->ev.begin = c->p;
    c->nkeys = 0;
    rc = enter(c);
    for (bool first = true; !rc; first = false) {
        if ((rc = obj_step(c, first, &more)) || !more)
            break;
        rc = top_member(c, live);
    }
    if (!rc)
        leave(c);
    return rc;
}

static bool has_key(const struct pctx *c, uint32_t n, const char *key, uint32_t klen)
{
    for (uint32_t i = 0; i < n; i++)
        if (c->plen[i] == klen && memcmp(c->props[i].key, key, klen) == 0)
            return true;
    return false;
}

/* Copies the context entries that are not properties yet, after them, as parse_context(). */
static int merge_context(struct pctx *c, uint32_t *np)
{
    uint32_t n = *np;

    for (uint32_t i = 0; i < c->ev.nctx; i++) {
        if (c->cbad[i])
            return verr_set(&c->sem, "context", "context['%.64s'] must be a string", c->ctx[i].key);
        if (has_key(c, n, c->ctx[i].key, c->clen[i]))
            continue;
        if (n >= EVENT_MAX_PROPS)
            return verr_set(&c->sem, "properties", "too many properties (max %d)", EVENT_MAX_PROPS);
        c->props[n] = c->ctx[i];
        c->plen[n++] = c->clen[i];
    }
    *np = n;
    return TOCSIN_OK;
}

/* Turns the closed object's state into *out, or the error event_from_json would report first. */
static int finish_event(struct pctx *c, struct event *out)
{
    const struct evstate *e = &c->ev;
    struct verr *err = &c->sem;
    uint32_t n = e->nprops;
    int rc;

    if (e->type_st != F_OK)
        return e->type_st == F_ABSENT ? verr_set(err, "type", "missing required field")
               : e->type_st == F_BAD  ? verr_set(err, "type", "must be a non-empty string")
                                      : verr_set(err, "type", "longer than 256 bytes");
    if (e->id_st == F_BAD)
        return verr_set(err, "id", "must be a string");
    if (e->ts_st == F_BAD)
        return verr_set(err, "timestamp", "must be a number (epoch milliseconds)");
    if (e->props_st == F_BAD)
        return verr_set(err, "properties", "must be an object");
    if (e->perr == PE_DEPTH)
        return verr_set(err, "properties", "properties nested deeper than %d", EVENT_MAX_DEPTH);
    if (e->perr == PE_NAME)
        return verr_set(err, "properties", "property name longer than 511 bytes");
    if (e->perr == PE_MANY)
        return verr_set(err, "properties", "too many properties (max %d)", EVENT_MAX_PROPS);
    if (e->ctx_st == F_BAD)
        return verr_set(err, "context", "must be an object of strings");
    if ((rc = merge_context(c, &n)))
        return rc;
    out->props = arena_alloc(c->a, sizeof(struct prop) * (n ? n : 1));
    if (!out->props)
        return TOCSIN_ENOMEM;
    memcpy(out->props, c->props, sizeof(struct prop) * n);
    out->nprops = n;
    out->type = e->type;
    out->id = e->id;
    out->ts_ms = e->ts;
    return TOCSIN_OK;
}

/* The slow path for an event with a repeated key: jansson's own tree and event_from_json. */
static int reread(struct pctx *c, struct event *out)
{
    json_error_t je;
    json_t *j = json_loadb(c->ev.begin, (size_t)(c->p - c->ev.begin), 0, &je), *ts;
    int rc;

    if (!j)
        return syn(c, c->ev.begin, "rejected by jansson");
    ts = json_object_get(j, "timestamp");
    if (json_is_real(ts) && !(json_real_value(ts) >= -TWO_63 && json_real_value(ts) < TWO_63))
        json_object_set_new(j, "timestamp", json_string("out of range"));
    rc = event_from_json(j, c->a, out, &c->sem);
    json_decref(j);
    return rc;
}

/* Appends to the events array. When it is full, the new size is estimated from the bytes read
 * per event so far, so a batch of like events is allocated once. */
static int push_event(struct pctx *c, const struct event *ev)
{
    if (c->nevs == c->evcap) {
        size_t read = (size_t)(c->p - c->buf), left = (size_t)(c->end - c->p);
        size_t per = left / (read ? read : 1), seen = c->nevs + 1;
        size_t est = per < (c->max_events - seen) / seen ? seen * (per + 1) : c->max_events;
        size_t cap = c->evcap ? c->evcap + c->evcap / 2 : c->first_cap;
        struct event *ne;
        est = est < SIZE_MAX / 2 ? est + est / 8 : est;
        cap = est > cap ? est : cap;
        cap = cap > c->max_events ? c->max_events : cap;
        if (cap <= c->nevs || cap > SIZE_MAX / sizeof(*ne))
            return TOCSIN_ENOMEM;
        ne = arena_alloc(c->a, cap * sizeof(*ne));
        if (!ne)
            return TOCSIN_ENOMEM;
        if (c->nevs)
            memcpy(ne, c->evs, c->nevs * sizeof(*ne));
        c->evs = ne;
        c->evcap = cap;
    }
    c->evs[c->nevs++] = *ev;
    return TOCSIN_OK;
}

/* One event (element `index` of an array when in_array); semantic errors are recorded. */
static int one_event(struct pctx *c, bool live, size_t index, bool in_array)
{
    struct event ev;
    int rc = event_object(c, live);

    if (rc || !live)
        return rc;
    memset(&ev, 0, sizeof(ev));
    rc = c->ev.dup ? reread(c, &ev) : finish_event(c, &ev);
    if (rc == TOCSIN_EINVAL && !c->syn_at) { /* a semantic error: keep checking the body */
        if (in_array)
            verr_prefix_index(&c->sem, "", index);
        c->has_sem = true;
        return TOCSIN_OK;
    }
    return rc ? rc : push_event(c, &ev);
}

static int event_array(struct pctx *c, size_t max_events)
{
    bool more;
    int rc = enter(c);

    for (bool first = true; !rc; first = false) {
        bool live;
        if ((rc = arr_step(c, first, &more)) || !more)
            break;
        live = !c->has_sem && c->nseen < max_events;
        if (peek(c) == '{') {
            rc = one_event(c, live, c->nseen, true);
        } else {
            if (live) {
                verr_set(&c->sem, "", "an event must be a JSON object");
                verr_prefix_index(&c->sem, "", c->nseen);
                c->has_sem = true;
            }
            rc = skip_value(c);
        }
        c->nseen++;
    }
    if (!rc)
        leave(c);
    return rc;
}

/* ---- entry point ---- */

static int body_error(const struct pctx *c, struct verr *err)
{
    const char *at = c->syn_at ? c->syn_at : c->end, *what = c->syn_what ? c->syn_what : "error";
    int line = 1, col = 1;

    if (at > c->end)
        at = c->end;
    for (const char *q = c->buf; q < at; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)*q & 0xC0) != 0x80) {
            col++;
        }
    }
    err->status = 0;
    return verr_set(err, "body", "invalid JSON: %s (line %d, column %d)", what, line, col);
}

static void ctx_init(struct pctx *c, const char *buf, size_t len, struct arena *a,
                     size_t max_events)
{
    c->buf = c->p = buf;
    c->end = buf + len;
    c->a = a;
    c->sp = NULL;
    c->sleft = 0;
    c->sub_size = len < SUB_MIN / 2 ? SUB_MIN : len > SUB_MAX / 2 ? SUB_MAX : len * 2;
    c->depth = 0;
    c->syn_at = c->syn_what = NULL;
    c->has_sem = false;
    c->sem.status = 0;
    c->evs = NULL;
    c->nevs = c->evcap = c->nseen = 0;
    c->first_cap = 1;
    c->max_events = max_events;
    c->nkeys = 0;
}

static int parse_body(struct pctx *c, size_t max_events, bool *was_array)
{
    int rc, ch;

    ws(c);
    ch = peek(c);
    if (ch == '{') {
        rc = one_event(c, max_events >= 1, 0, false);
        c->nseen = 1;
    } else if (ch == '[') {
        *was_array = true;
        c->first_cap = 8;
        rc = event_array(c, max_events);
    } else {
        rc = skip_value(c);
        if (!rc && !c->has_sem) {
            verr_set(&c->sem, "body", "expected an event object or an array of events");
            c->has_sem = true;
        }
    }
    if (!rc) {
        ws(c);
        if (c->p != c->end)
            rc = syn(c, c->p, "unexpected data after the JSON value");
    }
    return rc;
}

int event_parse(const char *buf, size_t len, struct arena *a, size_t max_events, struct event **evs,
                size_t *n, bool *was_array, struct verr *err)
{
    struct pctx c;
    int rc;

    *evs = NULL;
    *n = 0;
    *was_array = false;
    ctx_init(&c, buf, len, a, max_events);
    rc = parse_body(&c, max_events, was_array);
    if (rc == TOCSIN_EINVAL)
        return body_error(&c, err);
    if (rc) {
        err->status = 0;
        verr_set(err, rc == TOCSIN_ENOMEM ? "" : "body", "%s",
                 rc == TOCSIN_ENOMEM ? "out of memory" : "value too large");
        err->status = rc == TOCSIN_ENOMEM ? 503 : 413;
        return rc;
    }
    if (c.nseen > max_events) {
        err->status = 0;
        verr_set(err, "body", "%zu events in one batch (max %zu)", c.nseen, max_events);
        err->status = 413;
        return TOCSIN_ETOOBIG;
    }
    if (c.has_sem) {
        *err = c.sem;
        return TOCSIN_EINVAL;
    }
    *evs = c.nevs ? c.evs : NULL;
    *n = c.nevs;
    return TOCSIN_OK;
}
