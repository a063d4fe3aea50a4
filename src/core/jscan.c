/* The out-of-line part of the JSON scanner (see jscan.h): escapes and UTF-8, numbers, skipping,
 * compact dumps and jansson's number text. */
#include "core/jscan.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/hex.h"

#define SUB_MIN 512 /* arena blocks that strings are carved from */
#define SUB_MAX 16384
#define NUM_INLINE 64  /* number text copied on the stack for strtod */
#define EXP_CAP 100000 /* decimal exponents saturate here (strtod reads the text) */
#define TWO_53 9007199254740992.0

void jscan_init(struct jscan *s, const char *buf, size_t len, struct arena *a)
{
    s->buf = s->p = buf;
    s->end = buf + len;
    s->a = a;
    s->sp = NULL;
    s->sleft = 0;
    s->sub_size = len < SUB_MIN / 2 ? SUB_MIN : len > SUB_MAX / 2 ? SUB_MAX : len * 2;
    s->depth = 0;
    s->syn_at = s->syn_what = NULL;
    s->dup = false;
    s->nkeys = 0;
}

int jscan_syn(struct jscan *s, const void *at, const char *what)
{
    if (!s->syn_at) {
        s->syn_at = at;
        s->syn_what = what;
    }
    return TOCSIN_EINVAL;
}

int jscan_body_error(const struct jscan *s, struct verr *err)
{
    const char *at = s->syn_at ? s->syn_at : s->end, *what = s->syn_what ? s->syn_what : "error";
    int line = 1, col = 1;

    if (at > s->end)
        at = s->end;
    for (const char *q = s->buf; q < at; q++) {
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

int jscan_fail(const struct jscan *s, int rc, struct verr *err)
{
    if (rc == TOCSIN_EINVAL)
        return jscan_body_error(s, err);
    err->status = 0;
    if (rc == TOCSIN_ETOOBIG) {
        verr_set(err, "body", "value too large");
        err->status = 413;
        return TOCSIN_ETOOBIG;
    }
    verr_set(err, "", "out of memory");
    err->status = 503;
    return TOCSIN_ENOMEM;
}

int jscan_batch_error(struct verr *err, size_t n, size_t max, const char *what)
{
    err->status = 0;
    verr_set(err, "body", "%zu %s in one batch (max %zu)", n, what, max);
    err->status = 413;
    return TOCSIN_ETOOBIG;
}

void jscan_ws_slow(struct jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

char *jscan_salloc_slow(struct jscan *s, size_t n)
{
    char *b;

    if (n > s->sub_size / 4)
        return arena_alloc(s->a, n);
    b = arena_alloc(s->a, s->sub_size);
    if (!b)
        return arena_alloc(s->a, n);
    s->sp = b + n;
    s->sleft = s->sub_size - n;
    return b;
}

/* ---- strings ---- */

static inline bool is_plain(unsigned char b)
{
    return b >= 0x20 && b < 0x80 && b != '"' && b != '\\';
}

/* The 4 hex digits at p (the caller checked they are there), or -1. */
static int32_t hex4(const unsigned char *p)
{
    int32_t v = 0;

    for (int i = 0; i < 4; i++) {
        int h = hex_digit(p[i]);
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
static int scan_escape(struct jscan *s, const unsigned char **pp)
{
    const unsigned char *p = *pp, *end = (const unsigned char *)s->end;
    int32_t cp, lo;

    if (end - p < 2)
        return jscan_syn(s, end, "unterminated string");
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
        return jscan_syn(s, p, "invalid escape");
    }
    cp = end - p >= 6 ? hex4(p + 2) : -1;
    if (cp < 0)
        return jscan_syn(s, p, "invalid \\u escape");
    if (cp == 0)
        return jscan_syn(s, p, "\\u0000 is not allowed");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return jscan_syn(s, p, "invalid Unicode: lone low surrogate");
    if (cp < 0xD800 || cp > 0xDBFF) {
        *pp = p + 6;
        return TOCSIN_OK;
    }
    lo = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return jscan_syn(s, p, "invalid Unicode: unpaired high surrogate");
    *pp = p + 12;
    return TOCSIN_OK;
}

int jscan_string_slow(struct jscan *s, struct jstr *str, const unsigned char *p)
{
    const unsigned char *end = (const unsigned char *)s->end;

    for (;;) {
        while (end - p >= 8) {
            uint64_t sp = jscan_special8(jscan_load8(p));
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
            return jscan_syn(s, end, "unterminated string");
        if (*p == '"')
            break;
        if (*p == '\\') {
            str->esc = true;
            if (scan_escape(s, &p))
                return TOCSIN_EINVAL;
        } else if (*p >= 0x80) {
            const unsigned char *q = utf8_next(p, end);
            if (!q)
                return jscan_syn(s, p, "invalid UTF-8");
            p = q;
        } else {
            return jscan_syn(s, p, "control character in a string");
        }
    }
    str->e = (const char *)p;
    s->p = (const char *)p + 1;
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

uint32_t jscan_escape_cp(const char **bp)
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

/* The text json_dumps gives code point cp inside a string; tmp has room for 6 bytes. */
static size_t json_escape(uint32_t cp, char *tmp)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *c;

    if (cp == '"' || cp == '\\') {
        tmp[0] = '\\';
        tmp[1] = (char)cp;
        return 2;
    }
    if (cp >= 0x20)
        return utf8_put(tmp, cp);
    c = cp == '\b'   ? "b"
        : cp == '\f' ? "f"
        : cp == '\n' ? "n"
        : cp == '\r' ? "r"
        : cp == '\t' ? "t"
                     : NULL;
    tmp[0] = '\\';
    if (c) {
        tmp[1] = *c;
        return 2;
    }
    memcpy(tmp + 1, "u00", 3);
    tmp[4] = hex[cp >> 4];
    tmp[5] = hex[cp & 15];
    return 6;
}

/* Copies the checked raw string [b, e) to out (NULL: count only) with each escape rewritten:
 * decoded to UTF-8, or (json) as json_dumps writes it. Returns the length, never more than the
 * raw one. */
static inline size_t rewrite(const char *b, const char *e, char *out, bool json)
{
    size_t n = 0;

    while (b < e) {
        const char *bs = memchr(b, '\\', (size_t)(e - b));
        size_t run = (size_t)((bs ? bs : e) - b);
        char tmp[8];
        uint32_t cp;
        if (out)
            memcpy(out + n, b, run);
        n += run;
        b += run;
        if (!bs)
            break;
        cp = jscan_escape_cp(&b);
        run = json ? json_escape(cp, tmp) : utf8_put(tmp, cp);
        if (out)
            memcpy(out + n, tmp, run);
        n += run;
    }
    return n;
}

size_t jscan_unescape(const char *b, const char *e, char *out)
{
    return rewrite(b, e, out, false);
}

size_t jscan_dump_escape(const char *b, const char *e, char *out)
{
    return rewrite(b, e, out, true);
}

/* ---- numbers ---- */

/* The real value of the checked text [b, e), as strtod (and so jansson) reads it. */
static int real_slow(struct jscan *s, const struct jnum *n, double *out)
{
    char stack[NUM_INLINE], *t = stack, *end;
    size_t len = (size_t)(n->e - n->b);

    if (len >= sizeof(stack) && !(t = arena_alloc(s->a, len + 1)))
        return TOCSIN_ENOMEM;
    memcpy(t, n->b, len);
    t[len] = '\0';
    errno = 0;
    *out = strtod(t, &end);
    if (end != t + len)
        return jscan_syn(s, n->b, "invalid number");
    if (errno == ERANGE && (*out == HUGE_VAL || *out == -HUGE_VAL))
        return jscan_syn(s, n->b, "real number overflow");
    return TOCSIN_OK;
}

/* Fraction digits after the '.': the first 19 significant ones go to *m. */
static const char *frac_digits(const char *p, const char *end, uint64_t *m, int *nsig, int *e10)
{
    for (; p < end && jscan_is_digit(*p); p++) {
        if (*nsig < 19 && (*m || *p != '0'))
            *m = *m * 10 + (uint64_t)(*p - '0');
        if (*nsig < 19 && *e10 > -EXP_CAP)
            (*e10)--;
        if (*m && *nsig <= 19)
            (*nsig)++;
    }
    return p;
}

static int int_value(struct jscan *s, struct jnum *n, uint64_t m, int ndig, bool neg)
{
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

    if (ndig > 19 || m > lim)
        return jscan_syn(s, n->b, "integer out of range");
    n->is_int = true;
    n->i = !neg ? (int64_t)m : m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
    return TOCSIN_OK;
}

int jscan_number(struct jscan *s, struct jnum *n)
{
    static const double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                         1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                         1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = s->p, *end = s->end;
    uint64_t m = 0;
    int nsig = 0, e10 = 0, x = 0;
    bool neg = false, real = false;

    n->b = p;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= end || !jscan_is_digit(*p))
        return jscan_syn(s, p, p < end ? "invalid number" : "unexpected end of input");
    if (*p == '0' && ++p < end && jscan_is_digit(*p))
        return jscan_syn(s, p, "leading zero in a number");
    for (; p < end && jscan_is_digit(*p); p++) { /* the first 19 digits go to m */
        if (nsig < 19)
            m = m * 10 + (uint64_t)(*p - '0');
        else if (e10 < EXP_CAP)
            e10++;
        nsig += nsig <= 19;
    }
    if (p < end && *p == '.') {
        real = true;
        if (++p >= end || !jscan_is_digit(*p))
            return jscan_syn(s, p, "expected a digit after '.'");
        p = frac_digits(p, end, &m, &nsig, &e10);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        bool eneg = false;
        real = true;
        if (++p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p >= end || !jscan_is_digit(*p))
            return jscan_syn(s, p, "expected a digit in the exponent");
        for (; p < end && jscan_is_digit(*p); p++)
            x = x < EXP_CAP ? x * 10 + (*p - '0') : x;
        e10 += eneg ? -x : x;
    }
    n->e = s->p = p;
    if (!real)
        return int_value(s, n, m, nsig, neg);
    n->is_int = false;
    if (m == 0) {
        n->d = 0.0;
    } else if (FLT_EVAL_METHOD == 0 && nsig <= 19 && m <= (1ull << 53) && e10 >= -22 &&
               e10 <= 22) { /* exact operands, one rounding: correctly rounded */
        n->d = e10 >= 0 ? (double)m * exact_pow10[e10] : (double)m / exact_pow10[-e10];
    } else {
        return real_slow(s, n, &n->d);
    }
    n->d = neg ? -n->d : n->d;
    return TOCSIN_OK;
}

/* ---- skipping ---- */

static int skip_container(struct jscan *s, bool object)
{
    bool more;
    int rc = jscan_enter(s);

    for (bool first = true; !rc; first = false) {
        rc = object ? jscan_obj_step(s, first, &more) : jscan_arr_step(s, first, &more);
        if (rc || !more)
            break;
        if (object) {
            struct jstr k;
            if ((rc = jscan_string(s, &k)) || (rc = jscan_colon(s)))
                break;
        }
        rc = jscan_skip_value(s);
    }
    if (!rc)
        jscan_leave(s);
    return rc;
}

int jscan_skip_value(struct jscan *s)
{
    int ch = jscan_peek(s);

    if (ch == '{' || ch == '[')
        return skip_container(s, ch == '{');
    if (ch == '"') {
        struct jstr str;
        return jscan_string(s, &str);
    }
    if (ch == 't' || ch == 'f' || ch == 'n') {
        const char *t;
        return jscan_literal(s, &t);
    }
    if (ch == '-' || jscan_is_digit(ch)) {
        struct jnum n;
        return jscan_number(s, &n);
    }
    return jscan_syn(s, s->p, ch < 0 ? "unexpected end of input" : "unexpected character");
}

/* ---- number text ---- */

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

/* floor(num / 2^shift) (shift > 0) or floor(num / div); *up tells whether rounding to nearest,
 * ties to even (as printf rounds), adds one. */
static uint64_t div_floor(unsigned __int128 num, int shift, uint64_t div, bool *up)
{
    unsigned __int128 q, r, half;

    if (shift) {
        q = num >> shift;
        r = num & (((unsigned __int128)1 << shift) - 1);
        half = (unsigned __int128)1 << (shift - 1);
    } else if (div > 1) {
        q = num / div;
        r = num % div;
        half = div / 2; /* div is a power of 10: even */
    } else {
        *up = false;
        return (uint64_t)num;
    }
    *up = r > half || (r == half && (q & 1));
    return (uint64_t)q;
}

/* The 17 significant digits "%.17g" prints for v = m * 2^e (2^52 <= m < 2^53) when the exact
 * product m * 2^e * 10^(16 - x) fits in 128 bits: *dig in [1e16, 1e17), *x the decimal exponent
 * of the first digit. False when it does not fit (the caller uses snprintf). */
static bool digits17(uint64_t m, int e, int *x, uint64_t *dig)
{
    static const uint64_t p10[] = {1ull,
                                   10ull,
                                   100ull,
                                   1000ull,
                                   10000ull,
                                   100000ull,
                                   1000000ull,
                                   10000000ull,
                                   100000000ull,
                                   1000000000ull,
                                   10000000000ull,
                                   100000000000ull,
                                   1000000000000ull,
                                   10000000000000ull,
                                   100000000000000ull,
                                   1000000000000000ull,
                                   10000000000000000ull,
                                   100000000000000000ull,
                                   1000000000000000000ull,
                                   10000000000000000000ull};
    int l2 = 52 + e, xe; /* v in [2^l2, 2^(l2+1)): floor(l2 * log10(2)) is x or x - 1 */

    xe = l2 >= 0 ? (l2 * 78913) >> 18 : -((-l2 * 78913 + (1 << 18) - 1) >> 18);

    for (int tries = 0; tries < 3; tries++) {
        int k = 16 - xe;
        unsigned __int128 num = m;
        uint64_t d;
        bool up;
        if (k > 22 || k < -19 || e > 74 || (e < 0 && (k < 0 || -e > 127)))
            return false;
        num <<= e > 0 ? e : 0;
        if (k > 0) { /* m * 10^k < 2^53 * 10^22 < 2^127; a shifted m is < 2^64 with k <= 19 */
            if (e > 0 && (num >> 64 || k > 19))
                return false;
            num *= k > 19 ? (unsigned __int128)p10[19] * p10[k - 19] : p10[k];
        }
        d = div_floor(num, e < 0 ? -e : 0, k < 0 ? p10[-k] : 1, &up);
        if (num >> 64 && e >= 0 && k >= 0)
            return false;                  /* d would not hold it */
        if (d < p10[16] || d >= p10[17]) { /* the estimate was one off */
            xe += d < p10[16] ? -1 : 1;
            continue;
        }
        d += up;
        *x = d == p10[17] ? xe + 1 : xe; /* rounded up to one more digit: 1e(x+1) */
        *dig = d == p10[17] ? p10[16] : d;
        return true;
    }
    return false;
}

/* "%.17g" of v > 0 (m * 2^e) without printf; 0 when digits17 cannot tell. */
static size_t fmt_g17(uint64_t m, int e, char *out)
{
    char dg[17];
    uint64_t d;
    int x, nd = 17;
    size_t n = 0;

    if (!digits17(m, e, &x, &d))
        return 0;
    for (int i = 16; i >= 0; i--, d /= 10)
        dg[i] = (char)('0' + d % 10);
    while (nd > 1 && dg[nd - 1] == '0')
        nd--;
    if (x < -4 || x >= 17) { /* d.ddde+XX */
        out[n++] = dg[0];
        if (nd > 1) {
            out[n++] = '.';
            memcpy(out + n, dg + 1, (size_t)nd - 1);
            n += (size_t)nd - 1;
        }
        int ax = x < 0 ? -x : x;
        out[n++] = 'e';
        out[n++] = x < 0 ? '-' : '+';
        if (ax >= 100)
            out[n++] = (char)('0' + ax / 100);
        out[n++] = (char)('0' + ax / 10 % 10);
        out[n++] = (char)('0' + ax % 10);
    } else if (x >= 0) {
        for (int i = 0; i <= x; i++)
            out[n++] = i < nd ? dg[i] : '0';
        if (nd > x + 1) {
            out[n++] = '.';
            memcpy(out + n, dg + x + 1, (size_t)(nd - x - 1));
            n += (size_t)(nd - x - 1);
        }
    } else {
        out[n++] = '0';
        out[n++] = '.';
        for (int i = -1; i > x; i--)
            out[n++] = '0';
        memcpy(out + n, dg, (size_t)nd);
        n += (size_t)nd;
    }
    return n;
}

/* "%.17g" of d (finite); out has room for JSCAN_NUM_TEXT bytes. */
static size_t g17(double d, char *out, size_t cap)
{
    uint64_t bits, m;
    int be, k;
    size_t n = 0;

    memcpy(&bits, &d, sizeof(bits));
    be = (int)((bits >> 52) & 0x7FF);
    m = bits & ((1ull << 52) - 1);
    if (be && be != 0x7FF) { /* normal: subnormals and the rest go to snprintf */
        if (d < 0)
            out[n++] = '-';
        k = (int)fmt_g17(m | (1ull << 52), be - 1075, out + n);
        if (k)
            return n + (size_t)k;
    }
    k = snprintf(out, cap, "%.17g", d);
    return k > 0 && (size_t)k < cap ? (size_t)k : 0;
}

size_t jscan_real_text(double d, char *out, size_t cap)
{
    if (fabs(d) < TWO_53 && d == (double)(int64_t)d) /* what "%.17g" prints, faster */
        return fmt_int((int64_t)d, signbit(d) != 0, out);
    return g17(d, out, cap);
}

size_t jscan_dump_real(double d, char *out, size_t cap)
{
    size_t len = jscan_real_text(d, out, cap);
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

size_t jscan_num_text(const struct jnum *n, char *out, size_t cap)
{
    size_t len = (size_t)(n->e - n->b);

    if (!n->is_int)
        return jscan_dump_real(n->d, out, cap);
    if (len == 2 && n->b[0] == '-' && n->b[1] == '0') { /* "-0" is the integer 0 */
        out[0] = '0';
        return 1;
    }
    memcpy(out, n->b, len); /* at most 20 bytes: 19 digits and a sign */
    return len;
}

/* ---- compact dumps ---- */

int jscan_dump_grow(struct jscan *s, struct jdump *d, size_t need)
{
    size_t cap = d->cap * 2 > d->n + need ? d->cap * 2 : d->n + need;
    char *np;

    if (cap < d->n || !(np = arena_alloc(s->a, cap)))
        return TOCSIN_ENOMEM;
    memcpy(np, d->p, d->n);
    d->p = np;
    d->cap = cap;
    d->in_arena = true;
    return TOCSIN_OK;
}

/* A string as json_dumps writes it; *hash (if asked) is that of its canonical (dumped) text. */
static int dump_string(struct jscan *s, struct jdump *d, uint64_t *hash)
{
    struct jstr str;
    size_t raw, start, n;
    int rc = jscan_string(s, &str);

    if (rc || (rc = jscan_droom(s, d, (size_t)(str.e - str.b) + 2)))
        return rc;
    raw = (size_t)(str.e - str.b);
    jscan_dputc(d, '"');
    start = d->n;
    if (!str.esc) {
        jscan_dput(d, str.b, raw);
    } else if (d->n + raw <= d->cap) { /* the escaped text is never longer than the raw */
        d->n += jscan_dump_escape(str.b, str.e, d->p + d->n);
    } else { /* exactly what fits is written, so count first */
        n = jscan_dump_escape(str.b, str.e, NULL);
        if (d->n + n <= d->cap)
            jscan_dump_escape(str.b, str.e, d->p + d->n);
        d->n += n;
    }
    if (hash) {
        if (d->n <= d->cap)
            *hash = jscan_key_hash(d->p + start, d->n - start);
        else if (!str.esc)
            *hash = jscan_key_hash(str.b, raw);
        else
            s->dup = true; /* not written, no canonical text: let jansson decide */
    }
    jscan_dputc(d, '"');
    return TOCSIN_OK;
}

static int dump_container(struct jscan *s, struct jdump *d, bool object)
{
    struct jkset ks;
    bool more;
    int rc = jscan_enter(s);

    jscan_kset_begin(s, &ks);
    if (!rc && !(rc = jscan_droom(s, d, 1)))
        jscan_dputc(d, object ? '{' : '[');
    for (bool first = true; !rc; first = false) {
        rc = object ? jscan_obj_step(s, first, &more) : jscan_arr_step(s, first, &more);
        if (rc || !more || (!first && (rc = jscan_droom(s, d, 1))))
            break;
        if (!first)
            jscan_dputc(d, ',');
        if (object) {
            uint64_t h = 0;
            if ((rc = dump_string(s, d, &h)) || (rc = jscan_colon(s)) ||
                (rc = jscan_droom(s, d, 1)))
                break;
            jscan_kset_add(s, &ks, h);
            jscan_dputc(d, ':');
        }
        rc = jscan_dump_value(s, d);
    }
    jscan_kset_end(s, &ks);
    if (!rc && !(rc = jscan_droom(s, d, 1))) {
        jscan_dputc(d, object ? '}' : ']');
        jscan_leave(s);
    }
    return rc;
}

int jscan_dump_value(struct jscan *s, struct jdump *d)
{
    int ch = jscan_peek(s), rc;

    if (ch == '{' || ch == '[')
        return dump_container(s, d, ch == '{');
    if (ch == '"')
        return dump_string(s, d, NULL);
    if (ch == 't' || ch == 'f' || ch == 'n') {
        const char *t;
        if ((rc = jscan_literal(s, &t)) || (rc = jscan_droom(s, d, 5)))
            return rc;
        jscan_dput(d, t, strlen(t));
        return TOCSIN_OK;
    }
    if (ch == '-' || jscan_is_digit(ch)) {
        struct jnum n;
        char tmp[JSCAN_NUM_TEXT];
        size_t len;
        if ((rc = jscan_number(s, &n)))
            return rc;
        len = jscan_num_text(&n, tmp, sizeof(tmp));
        if ((rc = jscan_droom(s, d, len)))
            return rc;
        jscan_dput(d, tmp, len);
        return TOCSIN_OK;
    }
    return jscan_syn(s, s->p, ch < 0 ? "unexpected end of input" : "unexpected character");
}
