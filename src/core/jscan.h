/* jscan: the strict, one-pass JSON scanner under core/event_parse.c and compat/alerta_parse.c.
 *
 * A cursor over [p, end) that checks one JSON token at a time, for recursive-descent readers that
 * build their own results without a JSON tree: a string is checked in place (struct jstr: the raw
 * bytes between the quotes) and unescaped only when the reader wants it, straight into arena
 * blocks; a number is checked and valued as jansson would hold it (struct jnum); a value that
 * cannot change the result is checked and skipped; any value can be rewritten as the text
 * json_dumps(JSON_COMPACT) gives it, number formatting included (jscan_dump_value).
 *
 * JSON is checked as strictly as jansson does (RFC 8259, UTF-8 without overlongs, surrogates or
 * code points above U+10FFFF, no "\u0000", 64-bit integers, finite reals read with strtod in the
 * "C" numeric locale). Known differences, all deliberate:
 *  - containers nested deeper than JSCAN_MAX_NEST (64) are invalid JSON (jansson allows 2048),
 *    so no input can make a reader use unbounded stack;
 *  - a raw NUL byte right after a number or true/false/null is rejected; jansson 2.14 silently
 *    drops it (its look-ahead byte is lost). Anywhere else both reject NUL bytes.
 * The first syntax error is kept (where, and what in a few words); jscan_body_error() turns it
 * into "invalid JSON: <what> (line L, column C)", the columns counted in UTF-8 characters.
 *
 * Repeated keys: a reader opens a key set (struct jkset) per object whose keys matter and notes
 * each key's hash; a possible repeat, an object of more than JSCAN_OBJ_KEYS keys or more than
 * JSCAN_KEY_SLOTS keys open at once sets `dup`, and the reader takes its slow path through
 * jansson. A hash collision only costs that slow path, never a wrong answer.
 *
 * Cost: struct jscan is about 8.3 KiB (the key slots); nothing is malloc'd. Strings are carved
 * from arena blocks of 512 B to 16 KiB sized from the body; a real is valued without strtod when
 * its digits and exponent are exact in a double (else strtod on a stack copy) and formatted as
 * "%.17g" without printf when 128-bit integers hold it exactly (else snprintf). The hot paths
 * (cursor moves, the 8-bytes-at-a-time plain-string scan, key hashing, arena carving) are static
 * inline here; the rest lives in jscan.c. Thread-safe: no global state. A struct jscan borrows
 * the body and the arena for its life. */
#ifndef TOCSIN_JSCAN_H
#define TOCSIN_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/verr.h"
#include "util/arena.h"
#include "util/err.h"

#define JSCAN_MAX_NEST 64    /* containers open at once */
#define JSCAN_KEY_SLOTS 1024 /* keys of open objects kept for the repeated-key check */
#define JSCAN_OBJ_KEYS 128   /* keys of one object checked (past that: dup) */
#define JSCAN_NUM_TEXT 40    /* room for the text of any number (jscan_num_text, _real_text) */

/* A checked string: the raw bytes between the quotes, and whether they hold escapes. */
struct jstr {
    const char *b, *e;
    bool esc;
};

/* A checked number: its text, and its value as jansson would hold it. */
struct jnum {
    const char *b, *e;
    bool is_int;
    int64_t i;
    double d;
};

/* The keys of one open object, for the repeated-key check. */
struct jkset {
    uint32_t base;
    uint64_t bloom;
};

/* Output of jscan_dump_value. With `grow`, the text moves to an arena block twice the size when
 * it outgrows cap (in_arena tells it did) and always fits. Without, bytes past cap are counted,
 * not written: n is the full length, and the text is whole only if n <= cap. */
struct jdump {
    char *p;
    size_t n, cap;
    bool grow, in_arena;
};

struct jscan {
    const char *buf, *p, *end;
    struct arena *a;
    char *sp; /* free part of the current string block */
    size_t sleft, sub_size;
    int depth;
    const char *syn_at, *syn_what; /* first syntax error */
    bool dup;                      /* a key may repeat (see above); the reader clears it */
    uint32_t nkeys;
    uint64_t keys[JSCAN_KEY_SLOTS];
};

/* Starts a scan of the `len` bytes at buf (no NUL needed) whose strings go to `a`. */
void jscan_init(struct jscan *s, const char *buf, size_t len, struct arena *a);

/* Records the first syntax error: `what` (static text) at `at`. Returns TOCSIN_EINVAL. */
int jscan_syn(struct jscan *s, const void *at, const char *what);

/* Sets err from the first syntax error: field "body", message "invalid JSON: <what> (line L,
 * column C)", err->status 0 (verr_set then makes it 400). Returns TOCSIN_EINVAL. */
int jscan_body_error(const struct jscan *s, struct verr *err);

/* Sets err for a scan the reader gave up with rc: TOCSIN_EINVAL, the syntax error (as
 * jscan_body_error); TOCSIN_ETOOBIG, field "body", "value too large", status 413; anything else
 * is the arena refusing: field "", "out of memory", status 503, TOCSIN_ENOMEM. Returns the code
 * set. */
int jscan_fail(const struct jscan *s, int rc, struct verr *err);

/* Sets err for a batch of n elements when at most max are allowed: field "body", "<n> <what> in
 * one batch (max <max>)", status 413. Returns TOCSIN_ETOOBIG. */
int jscan_batch_error(struct verr *err, size_t n, size_t max, const char *what);

/* ---- the cursor ---- */

void jscan_ws_slow(struct jscan *s);

static inline int jscan_peek(const struct jscan *s)
{
    return s->p < s->end ? (unsigned char)*s->p : -1;
}

/* Skips white space. */
static inline void jscan_ws(struct jscan *s)
{
    if (s->p < s->end && (unsigned char)*s->p <= ' ')
        jscan_ws_slow(s);
}

static inline bool jscan_is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

/* True if `null` is at the cursor (not yet checked as a token). */
static inline bool jscan_at_null(const struct jscan *s)
{
    return s->end - s->p >= 4 && memcmp(s->p, "null", 4) == 0;
}

/* Moves into the container whose '{' or '[' is at the cursor. */
static inline int jscan_enter(struct jscan *s)
{
    if (s->depth >= JSCAN_MAX_NEST)
        return jscan_syn(s, s->p, "nesting deeper than 64 levels");
    s->depth++;
    s->p++;
    return TOCSIN_OK;
}

/* Moves past the '}' or ']' at the cursor (jscan_*_step found it). */
static inline void jscan_leave(struct jscan *s)
{
    s->depth--;
    s->p++;
}

/* Moves to the next key of an object: *more is false at its '}'. */
static inline int jscan_obj_step(struct jscan *s, bool first, bool *more)
{
    int ch;

    if (s->end - s->p >= 2 && s->p[first ? 0 : 1] == '"' && (first || s->p[0] == ',')) {
        s->p += first ? 0 : 1; /* compact JSON: no white space before the next key */
        *more = true;
        return TOCSIN_OK;
    }
    jscan_ws(s);
    ch = jscan_peek(s);
    *more = false;
    if (ch == '}')
        return TOCSIN_OK;
    if (!first) {
        if (ch != ',')
            return jscan_syn(s, s->p, ch < 0 ? "unexpected end of input" : "expected ',' or '}'");
        s->p++;
        jscan_ws(s);
        ch = jscan_peek(s);
    }
    if (ch != '"')
        return jscan_syn(s, s->p, ch < 0 ? "unexpected end of input" : "expected a string key");
    *more = true;
    return TOCSIN_OK;
}

/* Moves to the next element of an array: *more is false at its ']'. */
static inline int jscan_arr_step(struct jscan *s, bool first, bool *more)
{
    int ch;

    if (!first && s->end - s->p >= 2 && s->p[0] == ',' && (unsigned char)s->p[1] > ' ') {
        s->p++; /* compact JSON */
        *more = true;
        return TOCSIN_OK;
    }
    jscan_ws(s);
    ch = jscan_peek(s);
    *more = false;
    if (ch == ']')
        return TOCSIN_OK;
    if (!first) {
        if (ch != ',')
            return jscan_syn(s, s->p, ch < 0 ? "unexpected end of input" : "expected ',' or ']'");
        s->p++;
        jscan_ws(s);
    }
    *more = true;
    return TOCSIN_OK;
}

/* Moves past the ':' after a key, and the white space around it. */
static inline int jscan_colon(struct jscan *s)
{
    if (s->p < s->end && *s->p == ':' && s->p + 1 < s->end &&
        (unsigned char)s->p[1] > ' ') { /* compact JSON */
        s->p++;
        return TOCSIN_OK;
    }
    jscan_ws(s);
    if (jscan_peek(s) != ':')
        return jscan_syn(s, s->p, s->p < s->end ? "expected ':'" : "unexpected end of input");
    s->p++;
    jscan_ws(s);
    return TOCSIN_OK;
}

/* ---- arena ---- */

char *jscan_salloc_slow(struct jscan *s, size_t n);

/* n unaligned bytes for strings, carved from arena blocks; NULL if the arena refused. */
static inline char *jscan_salloc(struct jscan *s, size_t n)
{
    char *r = s->sp;

    if (s->sleft < n)
        return jscan_salloc_slow(s, n);
    s->sp += n;
    s->sleft -= n;
    return r;
}

/* Of the `got` bytes jscan_salloc just returned at `from`, keeps `used` and gives the rest back
 * (when they are the end of the current block). */
static inline void jscan_sgive(struct jscan *s, const char *from, size_t got, size_t used)
{
    if (from + got == s->sp) {
        s->sp -= got - used;
        s->sleft += got - used;
    }
}

/* A NUL-terminated arena copy of the n bytes at p; NULL if the arena refused. */
static inline char *jscan_sdup(struct jscan *s, const char *p, size_t n)
{
    char *d = jscan_salloc(s, n + 1);

    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

/* ---- strings ---- */

static inline uint64_t jscan_load8(const unsigned char *p)
{
    uint64_t w;

    memcpy(&w, p, sizeof(w));
    return w;
}

/* Non-zero when one of the 8 bytes is '"', '\\', a control character or non-ASCII; the lowest
 * flag (in memory order) is always exact. */
static inline uint64_t jscan_special8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');

    return (((q - ones) & ~q) | ((bs - ones) & ~bs) | ((w - ones * 0x20) & ~w) | w) & highs;
}

/* The rest of jscan_string from p, where its fast path stopped. */
int jscan_string_slow(struct jscan *s, struct jstr *str, const unsigned char *p);

/* Checks the string whose opening quote is at the cursor and moves past its closing quote.
 * Inline: a plain string ends at the first special byte, found 8 bytes at a time. */
static inline int jscan_string(struct jscan *s, struct jstr *str)
{
    const unsigned char *p = (const unsigned char *)s->p + 1;

    str->b = (const char *)p;
    str->esc = false;
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (s->end - (const char *)p >= 8) {
        uint64_t w = jscan_load8(p), sp = jscan_special8(w);
        if (sp) {
            unsigned k = (unsigned)__builtin_ctzll(sp) & ~7u;
            if (((w >> k) & 0xFF) != '"')
                break;
            p += k >> 3;
            str->e = (const char *)p;
            s->p = (const char *)p + 1;
            return TOCSIN_OK;
        }
        p += 8;
    }
#endif
    return jscan_string_slow(s, str, p);
}

/* Decodes the (checked) escape at *bp; returns its code point and moves past it. */
uint32_t jscan_escape_cp(const char **bp);

/* Writes the checked raw string [b, e) unescaped to out (room for e - b bytes; NULL: count
 * only); returns the length. */
size_t jscan_unescape(const char *b, const char *e, char *out);

/* Writes the checked raw string [b, e) as json_dumps escapes it (never longer than the raw; out
 * NULL: count only); returns the length. */
size_t jscan_dump_escape(const char *b, const char *e, char *out);

/* Bytes of the string once unescaped. */
static inline size_t jscan_str_len(const struct jstr *str)
{
    return str->esc ? jscan_unescape(str->b, str->e, NULL) : (size_t)(str->e - str->b);
}

/* True if the string unescaped is longer than max bytes. */
static inline bool jscan_str_longer(const struct jstr *str, size_t max)
{
    return (size_t)(str->e - str->b) > max && (!str->esc || jscan_str_len(str) > max);
}

/* The checked string unescaped into the arena (NUL-terminated, *len bytes); NULL if the arena
 * refused. */
static inline char *jscan_str_copy(struct jscan *s, const struct jstr *str, size_t *len)
{
    size_t raw = (size_t)(str->e - str->b);
    char *d = jscan_salloc(s, raw + 1);

    if (!d)
        return NULL;
    if (!str->esc) {
        memcpy(d, str->b, raw);
        *len = raw;
    } else {
        *len = jscan_unescape(str->b, str->e, d);
        jscan_sgive(s, d, raw + 1, *len + 1);
    }
    d[*len] = '\0';
    return d;
}

/* ---- numbers, literals, skipping ---- */

/* Checks the number at the cursor (RFC 8259 grammar, int64 integers, finite reals), values it
 * and moves past it. TOCSIN_ENOMEM if a very long real needs an arena copy that is refused. */
int jscan_number(struct jscan *s, struct jnum *n);

/* Checks true, false or null at the cursor and moves past it; *text is its (static) text ("" on
 * an error). */
static inline int jscan_literal(struct jscan *s, const char **text)
{
    size_t left = (size_t)(s->end - s->p);

    if (left >= 4 && memcmp(s->p, "true", 4) == 0)
        *text = "true";
    else if (left >= 5 && memcmp(s->p, "false", 5) == 0)
        *text = "false";
    else if (left >= 4 && memcmp(s->p, "null", 4) == 0)
        *text = "null";
    else
        *text = "";
    if (!**text)
        return jscan_syn(s, s->p, "invalid literal");
    s->p += strlen(*text);
    return TOCSIN_OK;
}

/* Checks the value at the cursor and moves past it. */
int jscan_skip_value(struct jscan *s);

/* ---- number text ---- */

/* The text event_from_json gives a real: "%.0f" when integral below 2^53, else "%.17g". out has
 * room for JSCAN_NUM_TEXT bytes (cap); no NUL is written. */
size_t jscan_real_text(double d, char *out, size_t cap);

/* The text json_dumps gives a real: "%.17g", ".0" added when it has no '.' or 'e', and the
 * exponent's '+' and leading zeros dropped. Same room. */
size_t jscan_dump_real(double d, char *out, size_t cap);

/* The text json_dumps gives the checked number n ("-0" is the integer 0). Same room. */
size_t jscan_num_text(const struct jnum *n, char *out, size_t cap);

/* ---- repeated keys ---- */

static inline uint32_t jscan_load4(const char *p)
{
    uint32_t w;

    memcpy(&w, p, sizeof(w));
    return w;
}

/* A hash of the n bytes at p that reads every byte and nothing past p + n (overlapping loads).
 * Equal keys hash equal. */
static inline uint64_t jscan_key_hash(const char *p, size_t n)
{
    const uint64_t k1 = 0x9E3779B97F4A7C15ull, k2 = 0xC2B2AE3D27D4EB4Full;
    uint64_t a, b, h;

    if (n >= 8) {
        a = jscan_load8((const unsigned char *)p);
        b = jscan_load8((const unsigned char *)p + n - 8);
        for (size_t i = 8; i + 8 < n; i += 8)
            a = (a ^ jscan_load8((const unsigned char *)p + i)) * k1;
    } else if (n >= 4) {
        a = jscan_load4(p);
        b = jscan_load4(p + n - 4);
    } else {
        a = n ? (unsigned char)p[0] | (unsigned)(unsigned char)p[n / 2] << 8 |
                    (unsigned)(unsigned char)p[n - 1] << 16
              : 0;
        b = 0;
    }
    h = (a * k1) ^ ((b ^ n) * k2);
    h ^= h >> 31;
    h *= 0x94D049BB133111EBull;
    return h ^ (h >> 29);
}

/* Opens the key set of an object. */
static inline void jscan_kset_begin(const struct jscan *s, struct jkset *k)
{
    k->base = s->nkeys;
    k->bloom = 0;
}

/* Notes key hash h in the object; sets s->dup on a (possible) repeat, or when there are too many
 * keys to check cheaply. */
static inline void jscan_kset_add(struct jscan *s, struct jkset *k, uint64_t h)
{
    uint64_t bit = 1ull << (h >> 58);

    if (s->dup)
        return; /* decided already */
    if (s->nkeys - k->base >= JSCAN_OBJ_KEYS || s->nkeys >= JSCAN_KEY_SLOTS) {
        s->dup = true; /* cannot tell cheaply */
        return;
    }
    if (k->bloom & bit)
        for (uint32_t i = k->base; i < s->nkeys; i++)
            if (s->keys[i] == h) {
                s->dup = true;
                break;
            }
    k->bloom |= bit;
    s->keys[s->nkeys++] = h;
}

/* Closes the key set of an object (the last one opened). */
static inline void jscan_kset_end(struct jscan *s, const struct jkset *k)
{
    s->nkeys = k->base;
}

/* ---- compact dumps ---- */

int jscan_dump_grow(struct jscan *s, struct jdump *d, size_t need);

/* Makes room for `need` more bytes in a growing dump (TOCSIN_ENOMEM if the arena refused); does
 * nothing for a counting one. */
static inline int jscan_droom(struct jscan *s, struct jdump *d, size_t need)
{
    if (!d->grow || d->cap - d->n >= need)
        return TOCSIN_OK;
    return jscan_dump_grow(s, d, need);
}

/* Appends n bytes: written if they fit, counted always (once a write missed, d->n > cap and
 * every later one misses). */
static inline void jscan_dput(struct jdump *d, const char *p, size_t n)
{
    if (d->n + n <= d->cap)
        memcpy(d->p + d->n, p, n);
    d->n += n;
}

static inline void jscan_dputc(struct jdump *d, char ch)
{
    if (d->n < d->cap)
        d->p[d->n] = ch;
    d->n++;
}

/* Checks the value at the cursor and appends its json_dumps(JSON_COMPACT) text to d (no NUL).
 * The keys of each object it holds go through a key set: s->dup set means a key may repeat, and
 * only jansson can tell the exact text (it keeps the last value in the first key's place). */
int jscan_dump_value(struct jscan *s, struct jdump *d);

#endif
