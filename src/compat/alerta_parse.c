/* A strict, single-pass reader of Alerta alerts (see alerta_parse.h).
 *
 * Shape: a recursive-descent reader over [p, end) whose recursion is bounded by MAX_NEST, in the
 * manner of core/event_parse.c, whose JSON scanner (strings, numbers, skipping, jansson's number
 * text, the duplicate-key set) this file repeats. Every value is read by one of four families:
 *  - skip_*   check a value that cannot change the result (unknown keys, rejected values);
 *  - dump_*   rewrite an attribute value or rawData as json_dumps(JSON_COMPACT) would;
 *  - *_field  read one top-level field of an alert into c->cur;
 *  - top level: alert_object, alert_array, alerta_parse.
 * Semantic errors never stop the reader: each field keeps its own error (a repeated key replaces
 * it, as the value is replaced), the error Alerta would raise first is chosen when the object
 * closes, and the rest of the body is still checked, so malformed JSON anywhere wins.
 *
 * Lists and maps are gathered in fixed arrays of the context (ALERT_MAX_ITEMS entries), then
 * copied to the arena at their exact size. A map finds repeated keys by hash: a linear look
 * through its first 16 entries, an open-addressing table past that. */
#include "compat/alerta_parse.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/err.h"

#define MAX_NEST ALERTA_PARSE_MAX_NEST
#define KEY_SLOTS 1024 /* keys of open objects inside a dumped value, for the duplicate check */
#define OBJ_KEYS 128   /* keys of one such object checked (past that: jansson re-dumps) */
#define MAP_LINEAR 16  /* map entries looked up linearly before the table is built */
#define MAP_SLOTS 1024 /* table of map entries (a power of 2, > 2 * ALERT_MAX_ITEMS) */
#define SUB_MIN 512    /* arena blocks that strings are carved from */
#define SUB_MAX 16384
#define NUM_INLINE 64  /* number text copied on the stack for strtod */
#define EXP_CAP 100000 /* decimal exponents saturate here (strtod reads the text) */
#define MIN_ALERT 28   /* bytes of the smallest valid alert: {"resource":"r","event":"e"} */
#define MSG_CLIP 64    /* bytes of a sent value or key quoted in an error */
#define TWO_53 9007199254740992.0

/* The fields of an alert. The order is the order in which errors are reported (within a rank,
 * see rank()): Alert.parse's checks first, in its order. */
enum fid {
    F_CORRELATE = 0,
    F_SERVICE,
    F_TAGS,
    F_ATTRIBUTES,
    F_TIMEOUT,
    F_CUSTOMER,
    F_CREATE_TIME,
    F_RESOURCE,
    F_EVENT,
    F_SEVERITY,
    F_STATUS,
    F_ID,
    F_ENVIRONMENT,
    F_GROUP,
    F_VALUE,
    F_TEXT,
    F_ORIGIN,
    F_TYPE,
    F_RAW,
    F_FINGERPRINT,
    F_SOURCE,
    F_GENERATOR_URL,
    F_LABELS,
    F_ANNOTATIONS,
    F_STARTS_AT,
    F_ENDS_AT,
    F_COUNT
};
#define F_OTHER F_COUNT
#define FBIT(f) (1u << (f))

enum kind {
    KD_STR,
    KD_LIST,
    KD_ATTRS,
    KD_MAP,
    KD_SEV,
    KD_STATUS,
    KD_VALUE,
    KD_TIMEOUT,
    KD_DATE,
    KD_RAW
};

enum { O_REQUIRED = 1, O_NONEMPTY = 2, O_UUID = 4 };

struct fdesc {
    const char *name;
    uint8_t kind, opts;
    uint16_t off;  /* of the member in struct alert_in */
    uint32_t max;  /* bytes of a string, list item or map value */
    unsigned flag; /* AIN_* */
};

#define AOFF(m) ((uint16_t)offsetof(struct alert_in, m))

static const struct fdesc fields[F_COUNT] = {
    [F_CORRELATE] = {"correlate", KD_LIST, 0, AOFF(correlate), ALERT_MAX_NAME, AIN_CORRELATE},
    [F_SERVICE] = {"service", KD_LIST, 0, AOFF(service), ALERT_MAX_NAME, AIN_SERVICE},
    [F_TAGS] = {"tags", KD_LIST, 0, AOFF(tags), ALERT_MAX_NAME, AIN_TAGS},
    [F_ATTRIBUTES] = {"attributes", KD_ATTRS, 0, AOFF(attributes), ALERT_MAX_ATTR_VALUE,
                      AIN_ATTRIBUTES},
    [F_TIMEOUT] = {"timeout", KD_TIMEOUT, 0, AOFF(timeout_s), 0, 0},
    [F_CUSTOMER] = {"customer", KD_STR, O_NONEMPTY, AOFF(customer), ALERT_MAX_NAME, 0},
    [F_CREATE_TIME] = {"createTime", KD_DATE, 0, AOFF(create_ms), 0, 0},
    [F_RESOURCE] = {"resource", KD_STR, O_REQUIRED, AOFF(resource), ALERT_MAX_NAME, 0},
    [F_EVENT] = {"event", KD_STR, O_REQUIRED, AOFF(event), ALERT_MAX_NAME, 0},
    [F_SEVERITY] = {"severity", KD_SEV, 0, AOFF(severity), 0, 0},
    [F_STATUS] = {"status", KD_STATUS, 0, AOFF(status), 0, 0},
    [F_ID] = {"id", KD_STR, O_UUID, AOFF(id), ALERT_MAX_NAME, 0},
    [F_ENVIRONMENT] = {"environment", KD_STR, 0, AOFF(environment), ALERT_MAX_NAME, 0},
    [F_GROUP] = {"group", KD_STR, 0, AOFF(group), ALERT_MAX_NAME, 0},
    [F_VALUE] = {"value", KD_VALUE, 0, AOFF(value), ALERT_MAX_TEXT, AIN_VALUE},
    [F_TEXT] = {"text", KD_STR, 0, AOFF(text), ALERT_MAX_TEXT, 0},
    [F_ORIGIN] = {"origin", KD_STR, 0, AOFF(origin), ALERT_MAX_NAME, 0},
    [F_TYPE] = {"type", KD_STR, 0, AOFF(type), ALERT_MAX_NAME, 0},
    [F_RAW] = {"rawData", KD_RAW, 0, AOFF(raw_data), ALERT_MAX_RAW, AIN_RAW},
    [F_FINGERPRINT] = {"fingerprint", KD_STR, 0, AOFF(fingerprint), ALERT_MAX_NAME, 0},
    [F_SOURCE] = {"source", KD_STR, 0, AOFF(source), ALERT_MAX_NAME, 0},
    [F_GENERATOR_URL] = {"generatorURL", KD_STR, 0, AOFF(generator_url), ALERT_MAX_TEXT, 0},
    [F_LABELS] = {"labels", KD_MAP, 0, AOFF(labels), ALERT_MAX_NAME, AIN_LABELS},
    [F_ANNOTATIONS] = {"annotations", KD_MAP, 0, AOFF(annotations), ALERT_MAX_TEXT,
                       AIN_ANNOTATIONS},
    [F_STARTS_AT] = {"startsAt", KD_DATE, 0, AOFF(starts_ms), 0, 0},
    [F_ENDS_AT] = {"endsAt", KD_DATE, 0, AOFF(ends_ms), 0, 0},
};

/* What is wrong with a field. */
enum ecode {
    E_NONE = 0,
    E_NOT_LIST,   /* "x must be a list" */
    E_NOT_OBJECT, /* "x must be a JSON object" */
    E_NOT_INT,    /* "timeout must be an integer" */
    E_EMPTY,      /* "customer must not be an empty string" */
    E_DATE,       /* Alerta's ISO 8601 message */
    E_MISSING,    /* Missing mandatory value for "x" */
    E_ATTR_KEY,   /* Attribute keys must not contain "." or "$" */
    E_NEGATIVE,   /* Invalid negative 'timeout' value (n) */
    E_SEVERITY,   /* Severity (x) is not one of ... */
    E_STATUS,     /* Status (x) is not one of ... */
    E_NOT_STRING, /* "x must be a string" */
    E_UUID,       /* "id must be a UUID" */
    E_VALUE,      /* "value must be a string, a number or null" */
    E_LONG,       /* "x is longer than N bytes" */
    E_MANY,       /* "x has more than N items" */
    E_RANGE,      /* "timeout must be at most N" */
    E_ITEM_TYPE,  /* "tags[i] must be a string", "labels.k must be a string" */
    E_ITEM_LONG,  /* "tags[i] is longer than N bytes" */
    E_KEY_LONG,   /* "x has a key longer than N bytes" */
};

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

/* The error of one field. */
struct ferr {
    uint8_t code;  /* enum ecode */
    bool json;     /* s..s+slen is a JSON value's text (not a string's content) */
    bool esc;      /* s..s+slen is a string's raw content, with escapes */
    uint32_t idx;  /* list item */
    int64_t num;   /* negative timeout */
    const char *s; /* the sent value or the map key */
    size_t slen;
};

/* One entry of a map being read. */
struct mapent {
    const char *k, *v;
    uint64_t h;
    uint32_t klen;
    uint8_t bad; /* enum ecode of the value */
};

/* Output of a dump: bytes past cap are counted, not written (n is always the full length). */
struct dbuf {
    char *p;
    size_t n, cap;
};

struct kset {
    uint32_t base;
    uint64_t bloom;
};

struct pctx {
    const char *buf, *p, *end;
    struct arena *a;
    const struct sevmap *sev;
    char *sp; /* free part of the current arena block */
    size_t sleft, sub_size;
    int depth;
    const char *syn_at, *syn_what; /* first syntax error */
    bool has_sem;
    struct verr sem; /* first semantic error */
    /* the alert being read */
    struct alert_in cur;
    uint32_t errmask; /* FBIT(f): fe[f] holds an error */
    struct ferr fe[F_COUNT];
    /* the alerts read */
    struct alert_in *outs;
    size_t nout, outcap, nseen, first_cap, max_alerts;
    /* dumps */
    bool ddup; /* the dumped value may repeat a key: jansson re-dumps it */
    uint32_t nkeys;
    uint64_t keys[KEY_SLOTS];
    /* lists and maps */
    const char *items[ALERT_MAX_ITEMS];
    struct mapent ents[ALERT_MAX_ITEMS];
    uint16_t slot[MAP_SLOTS]; /* entry index + 1, 0: free */
    char scratch[ALERT_MAX_ATTR_VALUE + 1];
};

static int skip_value(struct pctx *c);
static int dump_value(struct pctx *c, struct dbuf *d);

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

static inline bool at_null(const struct pctx *c)
{
    return c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0;
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
static inline int arr_step(struct pctx *c, bool first, bool *more)
{
    int ch;

    if (!first && c->end - c->p >= 2 && c->p[0] == ',' && (unsigned char)c->p[1] > ' ') {
        c->p++; /* compact JSON */
        *more = true;
        return TOCSIN_OK;
    }
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

/* Of the `got` bytes salloc just returned at `from`, keeps `used` and gives the rest back. */
static inline void sgive(struct pctx *c, const char *from, size_t got, size_t used)
{
    if (from + got == c->sp) {
        c->sp -= got - used;
        c->sleft += got - used;
    }
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

/* The rest of scan_string from p, where the fast path stopped. */
static int scan_string_slow(struct pctx *c, struct sref *s, const unsigned char *p)
{
    const unsigned char *end = (const unsigned char *)c->end;

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

/* Checks the string whose opening quote is at c->p and moves past its closing quote. Inline: a
 * plain string ends at the first special byte, found 8 bytes at a time. */
static inline int scan_string(struct pctx *c, struct sref *s)
{
    const unsigned char *p = (const unsigned char *)c->p + 1;

    s->b = (const char *)p;
    s->esc = false;
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (c->end - (const char *)p >= 8) {
        uint64_t w = load8(p), sp = special8(w);
        if (sp) {
            unsigned k = (unsigned)__builtin_ctzll(sp) & ~7u;
            if (((w >> k) & 0xFF) != '"')
                break;
            p += k >> 3;
            s->e = (const char *)p;
            c->p = (const char *)p + 1;
            return TOCSIN_OK;
        }
        p += 8;
    }
#endif
    return scan_string_slow(c, s, p);
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

/* Writes the checked raw string [b, e) unescaped to out (room for e - b bytes; NULL: count
 * only); returns the length. */
static size_t unescape(const char *b, const char *e, char *out)
{
    size_t n = 0;

    while (b < e) {
        const char *bs = memchr(b, '\\', (size_t)(e - b));
        size_t run = (size_t)((bs ? bs : e) - b);
        char tmp[4];
        if (out)
            memcpy(out + n, b, run);
        n += run;
        b += run;
        if (!bs)
            break;
        run = utf8_put(tmp, escape_cp(&b));
        if (out)
            memcpy(out + n, tmp, run);
        n += run;
    }
    return n;
}

/* Bytes of the string once unescaped. */
static inline size_t str_len(const struct sref *s)
{
    return s->esc ? unescape(s->b, s->e, NULL) : (size_t)(s->e - s->b);
}

/* True if the string unescaped is longer than max bytes. */
static inline bool str_longer(const struct sref *s, size_t max)
{
    return (size_t)(s->e - s->b) > max && (!s->esc || str_len(s) > max);
}

/* Copies the checked string unescaped into the arena. */
static char *str_copy(struct pctx *c, const struct sref *s, size_t *len)
{
    size_t raw = (size_t)(s->e - s->b);
    char *d = salloc(c, raw + 1);

    if (!d)
        return NULL;
    if (!s->esc) {
        memcpy(d, s->b, raw);
        *len = raw;
    } else {
        *len = unescape(s->b, s->e, d);
        sgive(c, d, raw + 1, *len + 1);
    }
    d[*len] = '\0';
    return d;
}

/* Writes the checked raw string [b, e) as json_dumps escapes it (never longer than the raw;
 * out NULL: count only); returns the length. */
static size_t dump_escape(const char *b, const char *e, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    while (b < e) {
        const char *bs = memchr(b, '\\', (size_t)(e - b));
        size_t run = (size_t)((bs ? bs : e) - b);
        char tmp[8];
        size_t k = 0;
        uint32_t cp;
        if (out)
            memcpy(out + n, b, run);
        n += run;
        b += run;
        if (!bs)
            break;
        cp = escape_cp(&b);
        if (cp == '"' || cp == '\\') {
            tmp[k++] = '\\';
            tmp[k++] = (char)cp;
        } else if (cp < 0x20) {
            const char *s = cp == '\b'   ? "b"
                            : cp == '\f' ? "f"
                            : cp == '\n' ? "n"
                            : cp == '\r' ? "r"
                            : cp == '\t' ? "t"
                                         : NULL;
            tmp[k++] = '\\';
            if (s) {
                tmp[k++] = *s;
            } else {
                memcpy(tmp + k, "u00", 3);
                tmp[k + 3] = hex[cp >> 4];
                tmp[k + 4] = hex[cp & 15];
                k += 5;
            }
        } else {
            k = utf8_put(tmp, cp);
        }
        if (out)
            memcpy(out + n, tmp, k);
        n += k;
    }
    return n;
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

/* Checks true, false or null at c->p; returns its text (static). */
static int literal(struct pctx *c, const char **text)
{
    size_t left = (size_t)(c->end - c->p);

    if (left >= 4 && memcmp(c->p, "true", 4) == 0)
        *text = "true";
    else if (left >= 5 && memcmp(c->p, "false", 5) == 0)
        *text = "false";
    else if (left >= 4 && memcmp(c->p, "null", 4) == 0)
        *text = "null";
    else
        return syn(c, c->p, "invalid literal");
    c->p += strlen(*text);
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

/* "%.17g" of d (finite); out has room for 40 bytes. */
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

/* The text json_dumps gives a real: "%.17g", ".0" added when it has no '.' or 'e', and the
 * exponent's '+' and leading zeros dropped. out has room for 40 bytes. */
static size_t dump_real(double d, char *out, size_t cap)
{
    size_t len;
    char *e, *w, *r;

    if (fabs(d) < TWO_53 && d == (double)(int64_t)d) /* what "%.17g" prints, faster */
        len = fmt_int((int64_t)d, signbit(d) != 0, out);
    else
        len = g17(d, out, cap);
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

/* The text json_dumps gives the checked number n; out has room for 40 bytes. */
static size_t num_text(const struct num *n, char *out, size_t cap)
{
    size_t len = (size_t)(n->e - n->b);

    if (!n->is_int)
        return dump_real(n->d, out, cap);
    if (len == 2 && n->b[0] == '-' && n->b[1] == '0') { /* "-0" is the integer 0 */
        out[0] = '0';
        return 1;
    }
    memcpy(out, n->b, len); /* at most 20 bytes: 19 digits and a sign */
    return len;
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
        const char *t;
        return literal(c, &t);
    }
    if (ch == '-' || is_digit(ch)) {
        struct num n;
        return scan_number(c, &n);
    }
    return syn(c, c->p, ch < 0 ? "unexpected end of input" : "unexpected character");
}

/* ---- hashing keys ---- */

static inline uint32_t load4(const char *p)
{
    uint32_t w;

    memcpy(&w, p, sizeof(w));
    return w;
}

/* A hash of the n bytes at s that reads every byte and nothing past s + n (overlapping loads). */
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

/* ---- dumps: jansson's compact text ---- */

static inline void dput(struct dbuf *d, const char *s, size_t n)
{
    if (d->n + n <= d->cap) /* once a write missed, d->n > cap and every later one misses */
        memcpy(d->p + d->n, s, n);
    d->n += n;
}

static inline void dputc(struct dbuf *d, char ch)
{
    if (d->n < d->cap)
        d->p[d->n] = ch;
    d->n++;
}

static inline void kset_begin(const struct pctx *c, struct kset *k)
{
    k->base = c->nkeys;
    k->bloom = 0;
}

/* Notes key hash h in the object; marks the dump for jansson on a (possible) repeat, or when
 * there are too many keys to check cheaply. A hash collision only costs that slow path. */
static void kset_add(struct pctx *c, struct kset *k, uint64_t h)
{
    uint64_t bit = 1ull << (h >> 58);

    if (c->ddup)
        return;
    if (c->nkeys - k->base >= OBJ_KEYS || c->nkeys >= KEY_SLOTS) {
        c->ddup = true;
        return;
    }
    if (k->bloom & bit)
        for (uint32_t i = k->base; i < c->nkeys; i++)
            if (c->keys[i] == h) {
                c->ddup = true;
                break;
            }
    k->bloom |= bit;
    c->keys[c->nkeys++] = h;
}

static inline void kset_end(struct pctx *c, const struct kset *k)
{
    c->nkeys = k->base;
}

/* A string as json_dumps writes it; *hash (if asked) is that of its canonical (dumped) text. */
static int dump_string(struct pctx *c, struct dbuf *d, uint64_t *hash)
{
    struct sref s;
    size_t raw, start, n;
    int rc = scan_string(c, &s);

    if (rc)
        return rc;
    raw = (size_t)(s.e - s.b);
    dputc(d, '"');
    start = d->n;
    if (!s.esc) {
        dput(d, s.b, raw);
    } else if (d->n + raw <= d->cap) { /* the escaped text is never longer than the raw */
        n = dump_escape(s.b, s.e, d->p + d->n);
        d->n += n;
    } else { /* exactly what fits is written, so count first */
        n = dump_escape(s.b, s.e, NULL);
        if (d->n + n <= d->cap)
            dump_escape(s.b, s.e, d->p + d->n);
        d->n += n;
    }
    if (hash) {
        if (d->n <= d->cap)
            *hash = key_hash(d->p + start, d->n - start);
        else if (!s.esc)
            *hash = key_hash(s.b, raw);
        else
            c->ddup = true; /* not written, no canonical text: let jansson decide */
    }
    dputc(d, '"');
    return TOCSIN_OK;
}

static int dump_container(struct pctx *c, struct dbuf *d, bool object)
{
    struct kset ks;
    bool more;
    int rc = enter(c);

    kset_begin(c, &ks);
    if (!rc)
        dputc(d, object ? '{' : '[');
    for (bool first = true; !rc; first = false) {
        rc = object ? obj_step(c, first, &more) : arr_step(c, first, &more);
        if (rc || !more)
            break;
        if (!first)
            dputc(d, ',');
        if (object) {
            uint64_t h = 0;
            if ((rc = dump_string(c, d, &h)) || (rc = colon(c)))
                break;
            kset_add(c, &ks, h);
            dputc(d, ':');
        }
        rc = dump_value(c, d);
    }
    kset_end(c, &ks);
    if (!rc) {
        dputc(d, object ? '}' : ']');
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
        const char *t;
        if ((rc = literal(c, &t)))
            return rc;
        dput(d, t, strlen(t));
        return TOCSIN_OK;
    }
    if (ch == '-' || is_digit(ch)) {
        struct num n;
        char tmp[40];
        if ((rc = scan_number(c, &n)))
            return rc;
        dput(d, tmp, num_text(&n, tmp, sizeof(tmp)));
        return TOCSIN_OK;
    }
    return syn(c, c->p, ch < 0 ? "unexpected end of input" : "unexpected character");
}

/* The value [b, e) (checked) re-dumped by jansson, for a repeated key: jansson keeps the last
 * value in the first key's place, as Python does. */
static int redump(struct pctx *c, const char *b, const char *e, struct dbuf *d)
{
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    json_error_t je;
    json_t *j = json_loadb(b, (size_t)(e - b), JSON_DECODE_ANY, &je);
    size_t need;

    if (!j)
        return syn(c, b, "rejected by jansson");
    need = json_dumpb(j, NULL, 0, flags);
    d->n = need;
    if (need && need <= d->cap)
        json_dumpb(j, d->p, d->cap, flags);
    json_decref(j);
    return need ? TOCSIN_OK : TOCSIN_ENOMEM;
}

/* Dumps the value at c->p into d: d->n is its full length, written only if it is <= d->cap. */
static int dump_json(struct pctx *c, struct dbuf *d)
{
    const char *b = c->p;
    int rc;

    c->ddup = false;
    c->nkeys = 0;
    if ((rc = dump_value(c, d)))
        return rc;
    return c->ddup ? redump(c, b, c->p, d) : TOCSIN_OK;
}

/* ---- field errors ---- */

/* Which error Alerta raises first: Alert.parse's type checks (0), createTime (1), resource and
 * event (2), attribute keys (3), a negative timeout (4), severity (5, the alarm model), then
 * tocsin's own checks (6). */
static int rank(enum fid f, unsigned code)
{
    switch (code) {
    case E_NOT_LIST:
    case E_NOT_INT:
    case E_EMPTY:
        return 0;
    case E_NOT_OBJECT:
        return f == F_ATTRIBUTES ? 0 : 6;
    case E_DATE:
        return f == F_CREATE_TIME ? 1 : 6;
    case E_ATTR_KEY:
        return 3;
    case E_NEGATIVE:
        return 4;
    case E_SEVERITY:
        return 5;
    default:
        return f == F_RESOURCE || f == F_EVENT ? 2 : 6;
    }
}

/* Records an error of field f unless it already has one that comes first. */
static struct ferr *ferr(struct pctx *c, enum fid f, enum ecode code)
{
    struct ferr *e = &c->fe[f];

    if ((c->errmask & FBIT(f)) && rank(f, e->code) <= rank(f, code))
        return NULL;
    c->errmask |= FBIT(f);
    memset(e, 0, sizeof(*e));
    e->code = (uint8_t)code;
    return e;
}

static void ferr_item(struct pctx *c, enum fid f, enum ecode code, uint32_t idx)
{
    struct ferr *e = ferr(c, f, code);

    if (e)
        e->idx = idx;
}

/* The error quotes the string s or the JSON text [b, e). */
static void ferr_quote(struct pctx *c, enum fid f, enum ecode code, const struct sref *s,
                       const char *b, const char *e)
{
    struct ferr *r = ferr(c, f, code);

    if (!r)
        return;
    r->s = s ? s->b : b;
    r->slen = (size_t)(s ? s->e - s->b : e - b);
    r->esc = s && s->esc;
    r->json = !s;
}

/* ---- scalar fields ---- */

static inline void *member(struct pctx *c, enum fid f)
{
    return (char *)&c->cur + fields[f].off;
}

static int str_field(struct pctx *c, enum fid f)
{
    const struct fdesc *d = &fields[f];
    const char **out = member(c, f);
    struct sref s;
    uint8_t id[16];
    size_t len;
    int rc;

    *out = NULL;
    if (peek(c) != '"') {
        bool null = at_null(c);
        rc = skip_value(c);
        if (!null)
            ferr(c, f, E_NOT_STRING);
        else if (d->opts & O_REQUIRED)
            ferr(c, f, E_MISSING);
        return rc;
    }
    if ((rc = scan_string(c, &s)))
        return rc;
    if (s.b == s.e) { /* "" is absent (Alerta's `or`), except where it is an error */
        if (d->opts & (O_REQUIRED | O_NONEMPTY))
            ferr(c, f, d->opts & O_REQUIRED ? E_MISSING : E_EMPTY);
        return TOCSIN_OK;
    }
    if (str_longer(&s, d->max)) {
        ferr(c, f, (d->opts & O_UUID) ? E_UUID : E_LONG);
        return TOCSIN_OK;
    }
    if (!(*out = str_copy(c, &s, &len)))
        return TOCSIN_ENOMEM;
    if ((d->opts & O_UUID) && !uuid_from_text(*out, len, id))
        ferr(c, f, E_UUID);
    return TOCSIN_OK;
}

/* severity or status: a name, "" or null (the default), else an error quoting what was sent. */
static int name_field(struct pctx *c, enum fid f)
{
    int *out = member(c, f);
    char tmp[256];
    const char *b = c->p;
    struct sref s;
    size_t len;
    int rc;

    *out = -1;
    if (peek(c) != '"') {
        bool null = at_null(c);
        if ((rc = skip_value(c)) || null)
            return rc;
        ferr_quote(c, f, f == F_SEVERITY ? E_SEVERITY : E_STATUS, NULL, b, c->p);
        return TOCSIN_OK;
    }
    if ((rc = scan_string(c, &s)) || s.b == s.e)
        return rc;
    if ((size_t)(s.e - s.b) < sizeof(tmp)) {
        len = s.esc ? unescape(s.b, s.e, tmp) : (size_t)(s.e - s.b);
        *out = f == F_SEVERITY ? sevmap_find(c->sev, s.esc ? tmp : s.b, len)
                               : astatus_parse(s.esc ? tmp : s.b, len);
    }
    if (*out < 0)
        ferr_quote(c, f, f == F_SEVERITY ? E_SEVERITY : E_STATUS, &s, NULL, NULL);
    return TOCSIN_OK;
}

/* value: a string (kept, "" included), a number (its text), or null. */
static int value_field(struct pctx *c)
{
    const char **out = &c->cur.value;
    int ch = peek(c), rc;
    size_t len;

    *out = NULL;
    c->cur.flags |= AIN_VALUE;
    if (ch == '"') {
        struct sref s;
        if ((rc = scan_string(c, &s)))
            return rc;
        if (str_longer(&s, ALERT_MAX_TEXT))
            ferr(c, F_VALUE, E_LONG);
        else if (!(*out = str_copy(c, &s, &len)))
            return TOCSIN_ENOMEM;
        return TOCSIN_OK;
    }
    if (ch == '-' || is_digit(ch)) {
        struct num n;
        if ((rc = scan_number(c, &n)))
            return rc;
        len = (size_t)(n.e - n.b);
        if (len > ALERT_MAX_TEXT)
            ferr(c, F_VALUE, E_LONG);
        else if (!(*out = n.is_int && len == 2 && n.b[0] == '-' && n.b[1] == '0'
                              ? "0"
                              : sdup(c, n.b, len)))
            return TOCSIN_ENOMEM;
        return TOCSIN_OK;
    }
    if (at_null(c))
        return skip_value(c);
    rc = skip_value(c);
    ferr(c, F_VALUE, E_VALUE);
    return rc;
}

static int timeout_field(struct pctx *c)
{
    int ch = peek(c), rc;
    struct num n;
    struct ferr *e;

    c->cur.timeout_s = -1;
    if (ch != '-' && !is_digit(ch)) {
        bool null = at_null(c);
        rc = skip_value(c);
        if (!null)
            ferr(c, F_TIMEOUT, E_NOT_INT);
        return rc;
    }
    if ((rc = scan_number(c, &n)))
        return rc;
    if (!n.is_int) {
        ferr(c, F_TIMEOUT, E_NOT_INT);
    } else if (n.i < 0) {
        if ((e = ferr(c, F_TIMEOUT, E_NEGATIVE)))
            e->num = n.i;
    } else if (n.i > ALERT_MAX_TIMEOUT) {
        ferr(c, F_TIMEOUT, E_RANGE);
    } else {
        c->cur.timeout_s = n.i;
    }
    return TOCSIN_OK;
}

static int date_field(struct pctx *c, enum fid f)
{
    int64_t *out = member(c, f);
    char tmp[80];
    struct sref s;
    size_t len;
    int rc;

    *out = 0;
    if (peek(c) != '"') {
        bool null = at_null(c);
        rc = skip_value(c);
        if (!null)
            ferr(c, f, E_DATE);
        return rc;
    }
    if ((rc = scan_string(c, &s)))
        return rc;
    if ((size_t)(s.e - s.b) >= sizeof(tmp)) {
        ferr(c, f, E_DATE);
        return TOCSIN_OK;
    }
    len = s.esc ? unescape(s.b, s.e, tmp) : (size_t)(s.e - s.b);
    if (!iso8601_parse(s.esc ? tmp : s.b, len, out)) {
        *out = 0;
        ferr(c, f, E_DATE);
    }
    return TOCSIN_OK;
}

/* rawData: a string as is, null, or any other value as its compact JSON text. A dump too long
 * for the scratch buffer is counted first, then dumped again into an arena block of its size. */
static int raw_field(struct pctx *c)
{
    const char **out = &c->cur.raw_data;
    const char *b = c->p;
    struct dbuf d = {c->scratch, 0, sizeof(c->scratch) - 1};
    struct sref s;
    size_t len;
    int rc;

    *out = NULL;
    c->cur.flags |= AIN_RAW;
    if (peek(c) == '"') {
        if ((rc = scan_string(c, &s)))
            return rc;
        if (str_longer(&s, ALERT_MAX_RAW))
            ferr(c, F_RAW, E_LONG);
        else if (!(*out = str_copy(c, &s, &len)))
            return TOCSIN_ENOMEM;
        return TOCSIN_OK;
    }
    if (at_null(c))
        return skip_value(c);
    if ((rc = dump_json(c, &d)))
        return rc;
    if (d.n > ALERT_MAX_RAW) {
        ferr(c, F_RAW, E_LONG);
        return TOCSIN_OK;
    }
    if (d.n <= d.cap) {
        *out = sdup(c, d.p, d.n);
        return *out ? TOCSIN_OK : TOCSIN_ENOMEM;
    }
    len = d.n;
    if (!(d.p = arena_alloc(c->a, len + 1)))
        return TOCSIN_ENOMEM;
    d.n = 0;
    d.cap = len;
    c->p = b;
    if ((rc = dump_json(c, &d)))
        return rc;
    d.p[len] = '\0';
    *out = d.p;
    return TOCSIN_OK;
}

/* ---- lists ---- */

static int list_item(struct pctx *c, enum fid f, uint32_t idx, uint32_t *n)
{
    struct sref s;
    size_t len;
    int rc;

    if (peek(c) != '"') {
        rc = skip_value(c);
        ferr_item(c, f, E_ITEM_TYPE, idx);
        return rc;
    }
    if ((rc = scan_string(c, &s)))
        return rc;
    if (str_longer(&s, fields[f].max)) {
        ferr_item(c, f, E_ITEM_LONG, idx);
    } else if (*n >= ALERT_MAX_ITEMS) {
        ferr(c, f, E_MANY);
    } else if (!(c->items[(*n)++] = str_copy(c, &s, &len))) {
        return TOCSIN_ENOMEM;
    }
    return TOCSIN_OK;
}

/* service, tags, correlate: an array of strings (correlate gets a spare slot for event). */
static int list_field(struct pctx *c, enum fid f)
{
    struct strlist *out = member(c, f);
    uint32_t n = 0, idx = 0;
    size_t spare = f == F_CORRELATE;
    bool more;
    int rc;

    out->v = NULL;
    out->n = 0;
    c->cur.flags |= fields[f].flag;
    if (peek(c) != '[') {
        rc = skip_value(c);
        ferr(c, f, E_NOT_LIST);
        return rc;
    }
    rc = enter(c);
    for (bool first = true; !rc; first = false, idx++) {
        if ((rc = arr_step(c, first, &more)) || !more)
            break;
        rc = list_item(c, f, idx, &n);
    }
    if (rc)
        return rc;
    leave(c);
    if (n) {
        if (!(out->v = arena_alloc(c->a, (n + spare) * sizeof(*out->v))))
            return TOCSIN_ENOMEM;
        memcpy(out->v, c->items, n * sizeof(*out->v));
        out->n = n;
    }
    return TOCSIN_OK;
}

/* Alert.__init__: a non-empty correlate gets event appended if it lacks it (list_field left a
 * spare slot). */
static void correlate_event(struct pctx *c)
{
    struct strlist *l = &c->cur.correlate;

    if (!l->n || !c->cur.event || (c->errmask & FBIT(F_CORRELATE)))
        return;
    for (uint32_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], c->cur.event) == 0)
            return;
    if (l->n >= ALERT_MAX_ITEMS)
        ferr(c, F_CORRELATE, E_MANY);
    else
        l->v[l->n++] = c->cur.event;
}

/* ---- maps ---- */

static bool has_dot_or_dollar(const struct sref *k)
{
    const char *p = k->b;

    if (!k->esc)
        return memchr(p, '.', (size_t)(k->e - p)) || memchr(p, '$', (size_t)(k->e - p));
    while (p < k->e) {
        uint32_t cp = *p == '\\' ? escape_cp(&p) : (unsigned char)*p++;
        if (cp == '.' || cp == '$')
            return true;
    }
    return false;
}

static bool same_key(const struct mapent *e, uint64_t h, const char *k, size_t klen)
{
    return e->h == h && e->klen == klen && memcmp(e->k, k, klen) == 0;
}

/* Builds the table from the first entries when a map grows past MAP_LINEAR. */
static void map_table(struct pctx *c, uint32_t n)
{
    memset(c->slot, 0, sizeof(c->slot));
    for (uint32_t i = 0; i < n; i++) {
        size_t j = c->ents[i].h & (MAP_SLOTS - 1);
        while (c->slot[j])
            j = (j + 1) & (MAP_SLOTS - 1);
        c->slot[j] = (uint16_t)(i + 1);
    }
}

/* Index of the entry with key k, or -1; past MAP_LINEAR entries *slot is then the free table slot
 * where k goes. */
static int map_find(const struct pctx *c, uint32_t n, uint64_t h, const char *k, size_t klen,
                    size_t *slot)
{
    size_t j;

    if (n <= MAP_LINEAR) {
        for (uint32_t i = 0; i < n; i++)
            if (same_key(&c->ents[i], h, k, klen))
                return (int)i;
        return -1;
    }
    for (j = h & (MAP_SLOTS - 1); c->slot[j]; j = (j + 1) & (MAP_SLOTS - 1))
        if (same_key(&c->ents[c->slot[j] - 1], h, k, klen))
            return c->slot[j] - 1;
    *slot = j;
    return -1;
}

/* A map value: an attribute's compact JSON text, or a label/annotation string. */
static int map_value(struct pctx *c, enum fid f, struct mapent *e)
{
    const size_t max = fields[f].max;
    int ch = peek(c), rc;
    struct sref s;
    size_t len;

    e->bad = E_NONE;
    e->v = NULL;
    if (f != F_ATTRIBUTES) {
        if (ch != '"') {
            e->bad = E_ITEM_TYPE;
            return skip_value(c);
        }
        if ((rc = scan_string(c, &s)))
            return rc;
        if (str_longer(&s, max))
            e->bad = E_ITEM_LONG;
        else if (!(e->v = str_copy(c, &s, &len)))
            return TOCSIN_ENOMEM;
        return TOCSIN_OK;
    }
    if (ch == 't' || ch == 'f' || ch == 'n')
        return literal(c, &e->v);
    if (ch == '"') { /* fast path: the text is the raw string, or its escapes rewritten */
        size_t raw;
        char *o;
        if ((rc = scan_string(c, &s)))
            return rc;
        raw = (size_t)(s.e - s.b);
        len = raw + 2 <= max ? raw : s.esc ? dump_escape(s.b, s.e, NULL) : raw;
        if (len + 2 > max) {
            e->bad = E_ITEM_LONG;
            return TOCSIN_OK;
        }
        if (!(o = salloc(c, raw + 3)))
            return TOCSIN_ENOMEM;
        o[0] = '"';
        len = s.esc ? dump_escape(s.b, s.e, o + 1) : raw;
        if (!s.esc)
            memcpy(o + 1, s.b, raw);
        o[len + 1] = '"';
        o[len + 2] = '\0';
        sgive(c, o, raw + 3, len + 3);
        e->v = o;
        return TOCSIN_OK;
    }
    {
        struct dbuf d = {c->scratch, 0, max};
        if ((rc = dump_json(c, &d)))
            return rc;
        if (d.n > max)
            e->bad = E_ITEM_LONG;
        else if (!(e->v = sdup(c, d.p, d.n)))
            return TOCSIN_ENOMEM;
    }
    return TOCSIN_OK;
}

/* One key of a map: a repeated key replaces the value in place, as Python's dict does. */
static int map_member(struct pctx *c, enum fid f, uint32_t *n)
{
    struct sref k;
    const char *key;
    size_t klen, slot = 0;
    uint64_t h;
    int rc = scan_string(c, &k), i;

    if (rc || (rc = colon(c)))
        return rc;
    if (f == F_ATTRIBUTES && has_dot_or_dollar(&k))
        ferr(c, f, E_ATTR_KEY);
    if (str_longer(&k, ALERT_MAX_NAME)) {
        ferr(c, f, E_KEY_LONG);
        return skip_value(c);
    }
    if (k.esc) {
        if (!(key = str_copy(c, &k, &klen)))
            return TOCSIN_ENOMEM;
    } else {
        key = k.b;
        klen = (size_t)(k.e - k.b);
    }
    h = key_hash(key, klen);
    i = map_find(c, *n, h, key, klen, &slot);
    if (i < 0) {
        if (*n >= ALERT_MAX_ITEMS) {
            ferr(c, f, E_MANY);
            return skip_value(c);
        }
        if (!k.esc && !(key = sdup(c, key, klen)))
            return TOCSIN_ENOMEM;
        i = (int)(*n)++;
        c->ents[i] = (struct mapent){.k = key, .h = h, .klen = (uint32_t)klen};
        if (*n == MAP_LINEAR + 1)
            map_table(c, *n);
        else if (*n > MAP_LINEAR + 1)
            c->slot[slot] = (uint16_t)(i + 1);
    }
    return map_value(c, f, &c->ents[i]);
}

/* attributes, labels, annotations: an object (labels and annotations may be null). */
static int map_field(struct pctx *c, enum fid f)
{
    struct kvlist *out = member(c, f);
    uint32_t n = 0;
    bool more;
    int rc;

    out->v = NULL;
    out->n = 0;
    if (peek(c) != '{') {
        bool null = at_null(c);
        rc = skip_value(c);
        if (!null || f == F_ATTRIBUTES) {
            c->cur.flags |= fields[f].flag;
            ferr(c, f, E_NOT_OBJECT);
        }
        return rc;
    }
    c->cur.flags |= fields[f].flag;
    rc = enter(c);
    for (bool first = true; !rc; first = false) {
        if ((rc = obj_step(c, first, &more)) || !more)
            break;
        rc = map_member(c, f, &n);
    }
    if (rc)
        return rc;
    leave(c);
    for (uint32_t i = 0; i < n; i++) { /* the first bad value left, in key order */
        struct ferr *e;
        if (c->ents[i].bad && (e = ferr(c, f, (enum ecode)c->ents[i].bad))) {
            e->s = c->ents[i].k;
            e->slen = c->ents[i].klen;
            break;
        }
    }
    if (!n)
        return TOCSIN_OK;
    if (!(out->v = arena_alloc(c->a, n * sizeof(*out->v))))
        return TOCSIN_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        out->v[i] = (struct kv){c->ents[i].k, c->ents[i].v};
    out->n = n;
    return TOCSIN_OK;
}

/* ---- the alert object ---- */

static inline bool eq(const char *s, const char *lit, size_t n)
{
    return memcmp(s, lit, n) == 0;
}

static enum fid field_of(const char *s, size_t n)
{
    switch (n) {
    case 2:
        return eq(s, "id", 2) ? F_ID : F_OTHER;
    case 4:
        return eq(s, "type", 4)   ? F_TYPE
               : eq(s, "tags", 4) ? F_TAGS
               : eq(s, "text", 4) ? F_TEXT
                                  : F_OTHER;
    case 5:
        return eq(s, "event", 5)   ? F_EVENT
               : eq(s, "group", 5) ? F_GROUP
               : eq(s, "value", 5) ? F_VALUE
                                   : F_OTHER;
    case 6:
        return eq(s, "labels", 6)   ? F_LABELS
               : eq(s, "origin", 6) ? F_ORIGIN
               : eq(s, "status", 6) ? F_STATUS
               : eq(s, "source", 6) ? F_SOURCE
               : eq(s, "endsAt", 6) ? F_ENDS_AT
                                    : F_OTHER;
    case 7:
        return eq(s, "service", 7)   ? F_SERVICE
               : eq(s, "rawData", 7) ? F_RAW
               : eq(s, "timeout", 7) ? F_TIMEOUT
                                     : F_OTHER;
    case 8:
        return eq(s, "resource", 8)   ? F_RESOURCE
               : eq(s, "severity", 8) ? F_SEVERITY
               : eq(s, "customer", 8) ? F_CUSTOMER
               : eq(s, "startsAt", 8) ? F_STARTS_AT
                                      : F_OTHER;
    case 9:
        return eq(s, "correlate", 9) ? F_CORRELATE : F_OTHER;
    case 10:
        return eq(s, "attributes", 10)   ? F_ATTRIBUTES
               : eq(s, "createTime", 10) ? F_CREATE_TIME
                                         : F_OTHER;
    case 11:
        return eq(s, "environment", 11)   ? F_ENVIRONMENT
               : eq(s, "annotations", 11) ? F_ANNOTATIONS
               : eq(s, "fingerprint", 11) ? F_FINGERPRINT
                                          : F_OTHER;
    case 12:
        return eq(s, "generatorURL", 12) ? F_GENERATOR_URL : F_OTHER;
    default:
        return F_OTHER;
    }
}

static enum fid key_field(const struct sref *k)
{
    char tmp[80];
    size_t n = (size_t)(k->e - k->b);

    if (!k->esc)
        return field_of(k->b, n);
    if (n > 72) /* each escape gives a byte or more from at most 6: longer than any name */
        return F_OTHER;
    n = unescape(k->b, k->e, tmp);
    return field_of(tmp, n);
}

static int alert_member(struct pctx *c)
{
    struct sref k;
    enum fid f;
    int rc = scan_string(c, &k);

    if (rc || (rc = colon(c)))
        return rc;
    if ((f = key_field(&k)) == F_OTHER)
        return skip_value(c);
    c->errmask &= ~FBIT(f); /* a repeated key: only the last value counts */
    c->cur.flags &= ~fields[f].flag;
    switch (fields[f].kind) {
    case KD_STR:
        return str_field(c, f);
    case KD_LIST:
        return list_field(c, f);
    case KD_ATTRS:
    case KD_MAP:
        return map_field(c, f);
    case KD_SEV:
    case KD_STATUS:
        return name_field(c, f);
    case KD_VALUE:
        return value_field(c);
    case KD_TIMEOUT:
        return timeout_field(c);
    case KD_DATE:
        return date_field(c, f);
    default:
        return raw_field(c);
    }
}

/* ---- the error of an alert ---- */

/* Length of s[0..len) cut to at most max bytes without splitting a UTF-8 sequence. */
static int clip(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return (int)len;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return (int)max;
}

/* "Severity (x) is not one of ..." / "Status (x) ...", x cut to MSG_CLIP bytes. */
static int name_error(struct pctx *c, const struct ferr *e, const char *field)
{
    char list[200] = "";
    const char *s = e->s;
    size_t len = e->slen;

    if (e->esc) {
        char *u = salloc(c, len + 1);
        if (!u)
            return TOCSIN_ENOMEM;
        len = unescape(e->s, e->s + len, u);
        s = u;
    }
    if (e->code == E_SEVERITY) {
        sevmap_list(c->sev, list, sizeof(list));
    } else {
        for (int i = 0, used = 0; i < AST_COUNT && used >= 0 && (size_t)used < sizeof(list); i++)
            used += snprintf(list + used, sizeof(list) - (size_t)used, "%s%s", i ? ", " : "",
                             astatus_name(i));
    }
    return verr_set(&c->sem, field, "%s (%.*s) is not one of %s",
                    e->code == E_SEVERITY ? "Severity" : "Status", clip(s, len, MSG_CLIP), s, list);
}

/* Sets c->sem from field f's error. */
static int report(struct pctx *c, enum fid f)
{
    const struct ferr *e = &c->fe[f];
    const char *name = fields[f].name;
    char field[160];
    size_t max = fields[f].max;

    if (e->code == E_ITEM_TYPE || e->code == E_ITEM_LONG) {
        if (e->s)
            snprintf(field, sizeof(field), "%s.%.*s", name, clip(e->s, e->slen, MSG_CLIP), e->s);
        else
            snprintf(field, sizeof(field), "%s[%u]", name, e->idx);
    } else {
        snprintf(field, sizeof(field), "%s", name);
    }
    switch (e->code) {
    case E_NOT_LIST:
        return verr_set(&c->sem, field, "%s must be a list", name);
    case E_NOT_OBJECT:
        return verr_set(&c->sem, field, "%s must be a JSON object", name);
    case E_NOT_INT:
        return verr_set(&c->sem, field, "timeout must be an integer");
    case E_EMPTY:
        return verr_set(&c->sem, field, "%s must not be an empty string", name);
    case E_DATE:
        return verr_set(&c->sem, field,
                        "dates must be ISO 8601 date format YYYY-MM-DDThh:mm:ss.sssZ");
    case E_MISSING:
        return verr_set(&c->sem, field, "Missing mandatory value for \"%s\"", name);
    case E_ATTR_KEY:
        return verr_set(&c->sem, field, "Attribute keys must not contain \".\" or \"$\"");
    case E_NEGATIVE:
        return verr_set(&c->sem, field, "Invalid negative 'timeout' value (%lld)",
                        (long long)e->num);
    case E_SEVERITY:
    case E_STATUS:
        return name_error(c, e, field);
    case E_NOT_STRING:
    case E_ITEM_TYPE:
        return verr_set(&c->sem, field, "%s must be a string", field);
    case E_UUID:
        return verr_set(&c->sem, field, "%s must be a UUID", name);
    case E_VALUE:
        return verr_set(&c->sem, field, "value must be a string, a number or null");
    case E_LONG:
    case E_ITEM_LONG:
        return verr_set(&c->sem, field, "%s is longer than %zu bytes%s", field, max,
                        f == F_ATTRIBUTES ? " as JSON" : "");
    case E_MANY:
        return verr_set(&c->sem, field, "%s has more than %d items", name, ALERT_MAX_ITEMS);
    case E_RANGE:
        return verr_set(&c->sem, field, "timeout must be at most %lld seconds",
                        (long long)ALERT_MAX_TIMEOUT);
    default:
        return verr_set(&c->sem, field, "%s has a key longer than %d bytes", name, ALERT_MAX_NAME);
    }
}

/* Completes the closed alert, or sets the error Alerta would raise first. */
static int finish_alert(struct pctx *c)
{
    enum fid best = F_COUNT;
    int best_rank = 100;

    if (!c->cur.resource && !(c->errmask & FBIT(F_RESOURCE)))
        ferr(c, F_RESOURCE, E_MISSING);
    if (!c->cur.event && !(c->errmask & FBIT(F_EVENT)))
        ferr(c, F_EVENT, E_MISSING);
    correlate_event(c);
    if (!c->errmask)
        return TOCSIN_OK;
    for (enum fid f = 0; f < F_COUNT; f++) {
        int r;
        if (!(c->errmask & FBIT(f)) || (r = rank(f, c->fe[f].code)) >= best_rank)
            continue;
        best = f;
        best_rank = r;
    }
    return report(c, best);
}

/* An alert object at c->p, read into c->cur; with !live it is only checked. */
static int alert_object(struct pctx *c, bool live)
{
    bool more;
    int rc;

    if (!live)
        return skip_value(c);
    alert_in_init(&c->cur);
    c->errmask = 0;
    rc = enter(c);
    for (bool first = true; !rc; first = false) {
        if ((rc = obj_step(c, first, &more)) || !more)
            break;
        rc = alert_member(c);
    }
    if (rc)
        return rc;
    leave(c);
    return finish_alert(c);
}

/* Appends c->cur to the alerts. When the array is full, its new size is estimated from the
 * bytes read per alert so far (a batch of like alerts is allocated once), never past what the
 * rest of the body can hold. */
static int push_alert(struct pctx *c)
{
    if (c->nout == c->outcap) {
        size_t read = (size_t)(c->p - c->buf), left = (size_t)(c->end - c->p);
        size_t per = left / (read ? read : 1), seen = c->nout + 1;
        size_t est = per < (c->max_alerts - seen) / seen ? seen * (per + 1) : c->max_alerts;
        size_t cap = c->outcap ? c->outcap * 2 : c->first_cap;
        size_t most = c->nout + 1 + left / (MIN_ALERT + 1);
        struct alert_in *na;
        est = est < SIZE_MAX / 2 ? est + est / 8 : est;
        cap = est > cap ? est : cap;
        cap = cap > most ? most : cap;
        cap = cap > c->max_alerts ? c->max_alerts : cap;
        if (cap <= c->nout || cap > SIZE_MAX / sizeof(*na))
            return TOCSIN_ENOMEM;
        if (!(na = arena_alloc(c->a, cap * sizeof(*na))))
            return TOCSIN_ENOMEM;
        if (c->nout)
            memcpy(na, c->outs, c->nout * sizeof(*na));
        c->outs = na;
        c->outcap = cap;
    }
    c->outs[c->nout++] = c->cur;
    return TOCSIN_OK;
}

/* One alert (element `index` of an array when in_array); semantic errors are recorded. */
static int one_alert(struct pctx *c, bool live, size_t index, bool in_array)
{
    int rc = alert_object(c, live);

    if (rc == TOCSIN_EINVAL && !c->syn_at) { /* a semantic error: keep checking the body */
        if (in_array)
            verr_prefix_index(&c->sem, "", index);
        c->has_sem = true;
        return TOCSIN_OK;
    }
    return rc || !live ? rc : push_alert(c);
}

static int alert_array(struct pctx *c)
{
    bool more;
    int rc = enter(c);

    for (bool first = true; !rc; first = false) {
        bool live;
        if ((rc = arr_step(c, first, &more)) || !more)
            break;
        live = !c->has_sem && c->nseen < c->max_alerts;
        if (peek(c) == '{') {
            rc = one_alert(c, live, c->nseen, true);
        } else {
            if (live) {
                verr_set(&c->sem, "", "an alert must be a JSON object");
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

static int parse_body(struct pctx *c, bool allow_array, bool *was_array)
{
    int rc, ch;

    ws(c);
    ch = peek(c);
    if (ch == '{') {
        rc = one_alert(c, c->max_alerts >= 1, 0, false);
        c->nseen = 1;
    } else if (ch == '[' && allow_array) {
        *was_array = true;
        c->first_cap = 8;
        rc = alert_array(c);
    } else {
        rc = skip_value(c);
        if (!rc) {
            verr_set(&c->sem, "body", "%s",
                     allow_array ? "expected an alert object or an array of alerts"
                                 : "expected an alert object");
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

int alerta_parse(const char *buf, size_t len, struct arena *a, const struct sevmap *sev,
                 size_t max_alerts, bool allow_array, struct alert_in **out, size_t *n,
                 bool *was_array, struct verr *err)
{
    struct pctx c;
    int rc;

    *out = NULL;
    *n = 0;
    *was_array = false;
    c.buf = c.p = buf;
    c.end = buf + len;
    c.a = a;
    c.sev = sev;
    c.sp = NULL;
    c.sleft = 0;
    c.sub_size = len < SUB_MIN / 2 ? SUB_MIN : len > SUB_MAX / 2 ? SUB_MAX : len * 2;
    c.depth = 0;
    c.syn_at = c.syn_what = NULL;
    c.has_sem = false;
    c.sem.status = 0;
    c.outs = NULL;
    c.nout = c.outcap = c.nseen = 0;
    c.first_cap = 1;
    c.max_alerts = max_alerts;
    c.nkeys = 0;
    rc = parse_body(&c, allow_array, was_array);
    if (rc == TOCSIN_EINVAL)
        return body_error(&c, err);
    if (rc) {
        err->status = 0;
        verr_set(err, "", "out of memory");
        err->status = 503;
        return TOCSIN_ENOMEM;
    }
    if (c.nseen > max_alerts) {
        err->status = 0;
        verr_set(err, "body", "%zu alerts in one batch (max %zu)", c.nseen, max_alerts);
        err->status = 413;
        return TOCSIN_ETOOBIG;
    }
    if (c.has_sem) {
        *err = c.sem;
        return TOCSIN_EINVAL;
    }
    *out = c.nout ? c.outs : NULL;
    *n = c.nout;
    return TOCSIN_OK;
}
