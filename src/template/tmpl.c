#include "template/tmpl.h"
#include "template/tmpl_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/hex.h"

static const struct {
    const char *name;
    uint8_t op;
} builtins[] = {
    {"upper_case", OP_UPPER},
    {"lower_case", OP_LOWER},
    {"cap_first", OP_CAP_FIRST},
    {"uncap_first", OP_UNCAP_FIRST},
    {"json_string", OP_ESC_JSON},
    {"html", OP_ESC_HTML},
    {"url", OP_ESC_URL},
    {"trim", OP_TRIM},
    {"c", OP_C},
    {"string", OP_STRING},
};

/* ---- compiler ----------------------------------------------------------------------------- */

int tmpl_fail(struct parser *p, size_t off, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!p->err || !p->errlen)
        return TOCSIN_EINVAL;
    n = snprintf(p->err, p->errlen, "offset %zu: ", off);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return TOCSIN_EINVAL;
}

static bool is_name_start(int c)
{
    return is_alpha(c) || c == '_' || c == '$' || c == '@' || c >= 0x80;
}

static bool is_quote(int c)
{
    return c == '"' || c == '\'';
}

static bool at_string(const struct parser *p)
{
    return is_quote(peek(p)) || (peek(p) == 'r' && is_quote(peek_at(p, 1)));
}

static int unexpected(struct parser *p, const char *want)
{
    int c = peek(p);

    if (c < 0)
        return tmpl_fail(p, p->tag, "unterminated ${");
    if (c > ' ' && c < 0x7f)
        return tmpl_fail(p, p->pos, "unexpected '%c', expected %s", c, want);
    return tmpl_fail(p, p->pos, "unexpected byte 0x%02x, expected %s", (unsigned)c, want);
}

/* Returns arr, grown to hold `need` elements, or NULL (arr untouched) if that fails. */
void *tmpl_reserve(void *arr, uint32_t *cap, uint32_t need, size_t size)
{
    uint32_t ncap = *cap ? *cap : 16;
    void *np;

    if (need <= *cap)
        return arr;
    while (ncap < need)
        ncap *= 2;
    np = realloc(arr, (size_t)ncap * size);
    if (np)
        *cap = ncap;
    return np;
}

int tmpl_add_node(struct parser *p, uint8_t kind, size_t off, size_t len, uint32_t arg)
{
    struct tmpl *t = p->t;
    struct node *np;

    if (t->nnodes == TMPL_MAX_NODES)
        return tmpl_fail(p, off, "more than %d text spans and substitutions", TMPL_MAX_NODES);
    np = tmpl_reserve(t->nodes, &t->cnodes, t->nnodes + 1, sizeof *np);
    if (!np)
        return TOCSIN_ENOMEM;
    t->nodes = np;
    np[t->nnodes++] =
        (struct node){.kind = kind, .off = (uint32_t)off, .len = (uint32_t)len, .arg = arg};
    return TOCSIN_OK;
}

static int add_seg(struct parser *p, struct expr *e, const struct seg *sg)
{
    struct tmpl *t = p->t;
    struct seg *np = tmpl_reserve(t->segs, &t->csegs, t->nsegs + 1, sizeof *np);

    if (!np)
        return TOCSIN_ENOMEM;
    t->segs = np;
    np[t->nsegs++] = *sg;
    e->nseg++;
    return TOCSIN_OK;
}

static int parse_name(struct parser *p, uint32_t *off, uint32_t *len, const char *want)
{
    size_t start = p->pos;

    if (!is_name_start(peek(p)))
        return unexpected(p, want);
    while (is_name_start(peek(p)) || is_digit(peek(p)))
        p->pos++;
    *off = (uint32_t)start;
    *len = (uint32_t)(p->pos - start);
    return TOCSIN_OK;
}

/* \xH to \xHHHH at p->pos (the backslash): writes the UTF-8 at *w, never past the input read. */
static int parse_hex_escape(struct parser *p, size_t *w)
{
    size_t at = p->pos, n;
    unsigned cp = 0;
    char *d;

    p->pos += 2;
    for (n = 0; n < 4 && hex_digit(peek(p)) >= 0; n++, p->pos++)
        cp = cp * 16 + (unsigned)hex_digit(peek(p));
    if (n == 0 || cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
        return tmpl_fail(p, at, "bad \\x escape in string");
    d = p->s + *w;
    if (cp < 0x80) {
        d[0] = (char)cp;
        *w += 1;
    } else if (cp < 0x800) {
        d[0] = (char)(0xc0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3f));
        *w += 2;
    } else {
        d[0] = (char)(0xe0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        *w += 3;
    }
    return TOCSIN_OK;
}

/* FreeMarker string escapes; p->pos is at the backslash, which is not the last byte. */
static int parse_escape(struct parser *p, size_t *w)
{
    static const char from[] = "\"'\\{=nrtbflga", to[] = "\"'\\{=\n\r\t\b\f<>&";
    int c = peek_at(p, 1);
    const char *hit;

    if (c == 'x')
        return parse_hex_escape(p, w);
    hit = c > 0 ? strchr(from, c) : NULL;
    if (!hit)
        return tmpl_fail(p, p->pos, "unknown escape in string");
    p->s[(*w)++] = to[hit - from];
    p->pos += 2;
    return TOCSIN_OK;
}

/* A quoted string at p->pos, decoded in place: its text ends up at src[*off, *off + *len). */
int tmpl_parse_string(struct parser *p, uint32_t *off, uint32_t *len)
{
    size_t start = p->pos, w;
    bool raw = peek(p) == 'r';
    char q;
    int rc;

    p->pos += raw ? 2 : 1;
    q = p->s[p->pos - 1];
    w = p->pos;
    *off = (uint32_t)w;
    for (;;) {
        if (p->pos >= p->len)
            return tmpl_fail(p, start, "unterminated string");
        if (p->s[p->pos] == q)
            break;
        if (p->s[p->pos] == '\\' && !raw) {
            if (p->pos + 1 >= p->len)
                return tmpl_fail(p, start, "unterminated string");
            rc = parse_escape(p, &w);
            if (rc)
                return rc;
        } else {
            p->s[w++] = p->s[p->pos++];
        }
    }
    p->pos++;
    *len = (uint32_t)(w - *off);
    return TOCSIN_OK;
}

/* The inside of [...], p->pos just after the '['. */
static int parse_bracket(struct parser *p, struct seg *sg)
{
    size_t at;
    int rc;

    skip_ws(p);
    at = p->pos;
    if (at_string(p)) {
        sg->kind = SEG_KEY;
        rc = tmpl_parse_string(p, &sg->off, &sg->len);
        if (rc)
            return rc;
    } else if (is_digit(peek(p))) {
        sg->kind = SEG_INDEX;
        for (sg->index = 0; is_digit(peek(p)); p->pos++) {
            if (p->pos - at == 9)
                return tmpl_fail(p, at, "array index too large");
            sg->index = sg->index * 10 + (uint32_t)(peek(p) - '0');
        }
        sg->off = (uint32_t)at;
        sg->len = (uint32_t)(p->pos - at);
    } else {
        return unexpected(p, "a quoted key or an index");
    }
    skip_ws(p);
    if (peek(p) != ']')
        return unexpected(p, "']'");
    p->pos++;
    return TOCSIN_OK;
}

/* Marks runs of names written as a.b.c (no spaces, no brackets) for the flat-key fallback. */
void tmpl_mark_runs(const struct parser *p, struct seg *sg, unsigned n)
{
    unsigned i = n;

    while (i-- > 0) {
        const struct seg *nx = &sg[i + 1];

        sg[i].run_end = (uint8_t)i;
        if (sg[i].kind != SEG_NAME || i + 1 == n || nx->kind != SEG_NAME)
            continue;
        if (sg[i].off + sg[i].len + 1 == nx->off && p->s[nx->off - 1] == '.')
            sg[i].run_end = nx->run_end;
    }
}

static int parse_path(struct parser *p, struct expr *e)
{
    struct seg sg = {0};
    size_t save;
    int c, rc;

    e->seg = p->t->nsegs;
    sg.kind = SEG_NAME;
    rc = parse_name(p, &sg.off, &sg.len, "a name");
    if (!rc)
        rc = add_seg(p, e, &sg);
    while (!rc) {
        save = p->pos;
        skip_ws(p);
        c = peek(p);
        if (c != '.' && c != '[') {
            p->pos = save;
            break;
        }
        if (e->nseg == TMPL_MAX_DEPTH)
            return tmpl_fail(p, p->pos, "path deeper than %d segments", TMPL_MAX_DEPTH);
        p->pos++;
        memset(&sg, 0, sizeof sg);
        if (c == '.') {
            skip_ws(p);
            rc = parse_name(p, &sg.off, &sg.len, "a name");
        } else {
            rc = parse_bracket(p, &sg);
        }
        if (!rc)
            rc = add_seg(p, e, &sg);
    }
    if (!rc)
        tmpl_mark_runs(p, p->t->segs + e->seg, e->nseg);
    return rc;
}

static uint8_t find_builtin(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (strlen(builtins[i].name) == n && memcmp(builtins[i].name, s, n) == 0)
            return builtins[i].op;
    return OP_NONE;
}

/* Zero or more ?name, appended to e->ops and counted in *count. */
static int parse_ops(struct parser *p, struct expr *e, uint8_t *count)
{
    uint32_t off, len;
    uint8_t op;
    int rc;

    for (;;) {
        skip_ws(p);
        if (peek(p) != '?')
            return TOCSIN_OK;
        p->pos++;
        skip_ws(p);
        rc = parse_name(p, &off, &len, "a built-in name");
        if (rc)
            return rc;
        op = find_builtin(p->s + off, len);
        if (op == OP_NONE)
            return tmpl_fail(p, off, "unknown built-in '%.*s'", len > 40 ? 40 : (int)len,
                             p->s + off);
        if (e->nval + e->ndef + e->nout == TMPL_MAX_BUILTINS)
            return tmpl_fail(p, off, "more than %d built-ins", TMPL_MAX_BUILTINS);
        e->ops[e->nval + e->ndef + e->nout] = op;
        (*count)++;
    }
}

/* After '!': nothing, a string or a number, then built-ins for the default. */
static int parse_default(struct parser *p, struct expr *e)
{
    size_t at;
    int rc = TOCSIN_OK;

    e->has_default = true;
    skip_ws(p);
    at = p->pos;
    if (at_string(p)) {
        rc = tmpl_parse_string(p, &e->def_off, &e->def_len);
    } else if (is_digit(peek(p)) || (peek(p) == '-' && is_digit(peek_at(p, 1)))) {
        p->pos++;
        while (is_digit(peek(p)) || (peek(p) == '.' && is_digit(peek_at(p, 1))))
            p->pos++;
        e->def_off = (uint32_t)at;
        e->def_len = (uint32_t)(p->pos - at);
    } else {
        return TOCSIN_OK; /* x! : empty default */
    }
    if (!rc)
        rc = parse_ops(p, e, &e->ndef);
    return rc;
}

/* Built-ins, then '!' and a default with its own built-ins. */
static int parse_tail(struct parser *p, struct expr *e)
{
    int rc = parse_ops(p, e, &e->nval);

    if (!rc && peek(p) == '!') {
        p->pos++;
        rc = parse_default(p, e);
    }
    return rc;
}

/* The inside of ${...}, p->pos just after "${"; consumes the '}'. Forms: path tail, and
 * (path tail) followed by built-ins for either result if the parentheses hold a default, else by
 * a further tail: (a.b)!"x" guards the whole path as in FreeMarker. */
static int parse_expr(struct parser *p, struct expr *e)
{
    bool paren;
    int rc;

    skip_ws(p);
    paren = peek(p) == '(';
    if (paren)
        p->pos++;
    skip_ws(p);
    rc = parse_path(p, e);
    if (!rc)
        rc = parse_tail(p, e);
    if (!rc && paren) {
        skip_ws(p);
        if (peek(p) != ')')
            return unexpected(p, "')'");
        p->pos++;
        rc = e->has_default ? parse_ops(p, e, &e->nout) : parse_tail(p, e);
    }
    if (rc)
        return rc;
    skip_ws(p);
    if (peek(p) != '}')
        return unexpected(p, e->has_default ? "'}'" : "'}', '!' or '?'");
    p->pos++;
    return TOCSIN_OK;
}

static int parse_tag(struct parser *p)
{
    struct tmpl *t = p->t;
    struct expr *e;
    int rc;

    p->tag = p->pos;
    p->pos += 2;
    if (t->nnodes == TMPL_MAX_NODES)
        return tmpl_fail(p, p->tag, "more than %d text spans and substitutions", TMPL_MAX_NODES);
    e = tmpl_reserve(t->exprs, &t->cexprs, t->nexprs + 1, sizeof *e);
    if (!e)
        return TOCSIN_ENOMEM;
    t->exprs = e;
    e += t->nexprs;
    memset(e, 0, sizeof *e);
    rc = parse_expr(p, e);
    if (!rc)
        rc = tmpl_add_node(p, N_EXPR, p->tag, p->pos - p->tag, t->nexprs++);
    return rc;
}

/* Offset of the next "${" or "{{" at or after `from`, or p->len. */
static size_t find_tag(const struct parser *p, size_t from)
{
    size_t i;

    for (i = from; i + 1 < p->len; i++)
        if ((p->s[i] == '$' || p->s[i] == '{') && p->s[i + 1] == '{')
            return i;
    return p->len;
}

/* Text [off, off + len), after the whitespace a "~}}" before it strips. */
static int add_text(struct parser *p, size_t off, size_t len)
{
    if (p->strip_next) {
        while (len && is_ws((unsigned char)p->s[off])) {
            off++;
            len--;
        }
        p->strip_next = false;
    }
    return len ? tmpl_add_node(p, N_TEXT, off, len, 0) : TOCSIN_OK;
}

/* "\{{" is a literal "{{" (the backslash goes); "\\{{" is a backslash and a tag. */
static bool escaped_mustache(const struct parser *p, size_t text, size_t tag)
{
    return tag > text && p->s[tag - 1] == '\\' && !(tag - 1 > text && p->s[tag - 2] == '\\');
}

static int parse_all(struct parser *p)
{
    size_t text = 0, from = 0, tag;
    int rc = TOCSIN_OK;

    while (!rc && text < p->len) {
        tag = find_tag(p, from);
        if (tag < p->len && p->s[tag] == '{' && escaped_mustache(p, text, tag)) {
            rc = add_text(p, text, tag - 1 - text);
            p->t->literal = false;
            text = tag;
            from = tag + 2;
            continue;
        }
        if (tag < p->len && p->s[tag] == '{' && tag > text && p->s[tag - 1] == '\\')
            rc = add_text(p, text, tag - 1 - text); /* "\\{{": one backslash stays */
        else if (tag > text)
            rc = add_text(p, text, tag - text);
        p->pos = tag;
        if (!rc && tag < p->len) {
            p->t->literal = false;
            rc = p->s[tag] == '$' ? parse_tag(p) : hbs_parse_tag(p);
        }
        text = from = p->pos;
    }
    return rc ? rc : hbs_finish(p);
}

int tmpl_compile(const char *src, size_t len, struct tmpl **out, char *err, size_t errlen)
{
    struct parser p = {.err = err, .errlen = errlen};
    struct tmpl *t = NULL;
    int rc;

    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return TOCSIN_EINVAL;
    *out = NULL;
    if (!src && len)
        return tmpl_fail(&p, 0, "no source");
    if (len > TMPL_MAX_SRC)
        return tmpl_fail(&p, TMPL_MAX_SRC, "template larger than %d bytes", TMPL_MAX_SRC);
    rc = TOCSIN_ENOMEM;
    t = calloc(1, sizeof *t);
    if (!t || !(t->src = malloc(len + 1)))
        goto out;
    if (len)
        memcpy(t->src, src, len);
    t->src[len] = '\0';
    t->len = len;
    t->literal = true;
    p.t = t;
    p.s = t->src;
    p.len = len;
    rc = parse_all(&p);
    if (!rc) {
        *out = t;
        t = NULL;
    }
out:
    if (rc == TOCSIN_ENOMEM && err && errlen)
        snprintf(err, errlen, "out of memory");
    tmpl_free(t);
    return rc;
}

void tmpl_free(struct tmpl *t)
{
    if (!t)
        return;
    free(t->src);
    free(t->nodes);
    free(t->exprs);
    free(t->segs);
    free(t->calls);
    free(t->args);
    free(t);
}

bool tmpl_is_literal(const struct tmpl *t)
{
    return !t || t->literal;
}

/* ---- lookup ------------------------------------------------------------------------------- */

static const json_t *step(const struct tmpl *t, const struct seg *sg, const json_t *v)
{
    if (sg->kind == SEG_INDEX && json_is_array(v))
        return json_array_get(v, sg->index);
    if (json_is_object(v))
        return json_object_getn(v, t->src + sg->off, sg->len);
    return NULL;
}

/* Resolves sg[i, n) from v. At each object, a segment that leads nowhere is retried as the flat
 * key "seg.seg..." (longest first) made of the following names, so a.b.c also finds {"a.b":{"c"}}
 * and {"a":{"b.c"}}. Null counts as missing. *budget bounds the lookups. */
const json_t *tmpl_walk(const struct tmpl *t, const struct seg *sg, unsigned i, unsigned n,
                        const json_t *v, unsigned *budget)
{
    const json_t *child, *r;
    unsigned j;

    if (i == n)
        return json_is_null(v) ? NULL : v;
    if (*budget == 0)
        return NULL;
    (*budget)--;
    child = step(t, &sg[i], v);
    if (child && (r = tmpl_walk(t, sg, i + 1, n, child, budget)))
        return r;
    if (sg[i].kind != SEG_NAME || !json_is_object(v))
        return NULL;
    for (j = sg[i].run_end; j > i && *budget; j--) {
        (*budget)--;
        child = json_object_getn(v, t->src + sg[i].off, sg[j].off + sg[j].len - sg[i].off);
        if (child && (r = tmpl_walk(t, sg, j + 1, n, child, budget)))
            return r;
    }
    return NULL;
}

/* ---- output ------------------------------------------------------------------------------- */

enum { VF_TRIM = 1, VF_C = 2 };

static char ascii_case(char c, bool upper)
{
    if (upper && c >= 'a' && c <= 'z')
        return (char)(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c;
}

static int emit_case(struct sink *k, unsigned i, const char *p, size_t n)
{
    char tmp[256];
    size_t m, j;
    int rc = TOCSIN_OK;

    while (n && !rc) {
        m = n < sizeof tmp ? n : sizeof tmp;
        while (m < n && m > 1 && ((unsigned char)p[m] & 0xc0) == 0x80)
            m--; /* never split a UTF-8 sequence: a later JSON stage checks each piece */
        for (j = 0; j < m; j++)
            tmp[j] = ascii_case(p[j], k->op[i] == OP_UPPER);
        rc = tmpl_emit(k, i + 1, tmp, m);
        p += m;
        n -= m;
    }
    return rc;
}

static int emit_first(struct sink *k, unsigned i, const char *p, size_t n)
{
    size_t j = 0;
    char c;
    int rc;

    if (k->pending[i])
        while (j < n && is_ws((unsigned char)p[j]))
            j++;
    if (!k->pending[i] || j == n)
        return tmpl_emit(k, i + 1, p, n);
    k->pending[i] = false;
    if ((unsigned char)p[j] >= 0x80) /* not an ASCII letter: nothing to change */
        return tmpl_emit(k, i + 1, p, n);
    c = ascii_case(p[j], k->op[i] == OP_CAP_FIRST);
    rc = tmpl_emit(k, i + 1, p, j);
    if (!rc)
        rc = tmpl_emit(k, i + 1, &c, 1);
    if (!rc)
        rc = tmpl_emit(k, i + 1, p + j + 1, n - j - 1);
    return rc;
}

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

/* Each esc_* writes the replacement of c into rep (8 bytes) and returns its length, 0 to keep c. */
static size_t esc_json(unsigned char c, char *rep)
{
    static const char from[] = "\"\\\n\r\t\b\f", to[] = "\"\\nrtbf";
    const char *hit;

    if (c >= 0x20 && c != '"' && c != '\\')
        return 0;
    rep[0] = '\\';
    hit = c ? strchr(from, c) : NULL;
    if (hit) {
        rep[1] = to[hit - from];
        return 2;
    }
    memcpy(rep + 1, "u00", 3);
    rep[4] = hex_lower[c >> 4];
    rep[5] = hex_lower[c & 15];
    return 6;
}

static size_t esc_html(unsigned char c, char *rep)
{
    const char *s;

    switch (c) {
    case '&':
        s = "&amp;";
        break;
    case '<':
        s = "&lt;";
        break;
    case '>':
        s = "&gt;";
        break;
    case '"':
        s = "&quot;";
        break;
    case '\'':
        s = "&#39;";
        break;
    default:
        return 0;
    }
    memcpy(rep, s, strlen(s));
    return strlen(s);
}

/* Handlebars escapes two more, for unquoted attribute values. */
static size_t esc_html2(unsigned char c, char *rep)
{
    if (c == '`' || c == '=') {
        memcpy(rep, c == '`' ? "&#x60;" : "&#x3D;", 6);
        return 6;
    }
    return esc_html(c, rep);
}

static size_t esc_url(unsigned char c, char *rep)
{
    if (is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~')
        return 0;
    rep[0] = '%';
    rep[1] = hex_upper[c >> 4];
    rep[2] = hex_upper[c & 15];
    return 3;
}

/* p[0, n) escaped as inside a JSON string, emitted at stage `to`; a byte that does not start a
 * valid UTF-8 sequence becomes \ufffd, so the result is always valid JSON text. */
static int json_escape_into(struct sink *k, unsigned to, const char *p, size_t n)
{
    size_t start = 0, j = 0, m;
    char rep[8];
    int rc = TOCSIN_OK;

    while (j < n && !rc) {
        if ((unsigned char)p[j] >= 0x80) {
            m = utf8_seq_len((const unsigned char *)p + j, n - j);
            if (m) {
                j += m;
                continue;
            }
            memcpy(rep, "\\ufffd", 6);
            m = 6;
        } else {
            m = esc_json((unsigned char)p[j], rep);
            if (!m) {
                j++;
                continue;
            }
        }
        rc = tmpl_emit(k, to, p + start, j - start);
        if (!rc)
            rc = tmpl_emit(k, to, rep, m);
        start = ++j;
    }
    if (!rc)
        rc = tmpl_emit(k, to, p + start, n - start);
    return rc;
}

static int emit_escaped(struct sink *k, unsigned i, const char *p, size_t n)
{
    size_t (*esc)(unsigned char, char *) = k->op[i] == OP_ESC_HTML    ? esc_html
                                           : k->op[i] == OP_ESC_HTML2 ? esc_html2
                                                                      : esc_url;
    size_t start = 0, j, m;
    char rep[8];
    int rc = TOCSIN_OK;

    for (j = 0; j < n && !rc; j++) {
        m = esc((unsigned char)p[j], rep);
        if (!m)
            continue;
        rc = tmpl_emit(k, i + 1, p + start, j - start);
        if (!rc)
            rc = tmpl_emit(k, i + 1, rep, m);
        start = j + 1;
    }
    if (!rc)
        rc = tmpl_emit(k, i + 1, p + start, n - start);
    return rc;
}

int tmpl_emit(struct sink *k, unsigned i, const char *p, size_t n)
{
    if (!n)
        return TOCSIN_OK;
    if (i == k->n)
        return buf_append(k->out, p, n);
    switch (k->op[i]) {
    case OP_UPPER:
    case OP_LOWER:
        return emit_case(k, i, p, n);
    case OP_CAP_FIRST:
    case OP_UNCAP_FIRST:
        return emit_first(k, i, p, n);
    case OP_ESC_JSON:
        return json_escape_into(k, i + 1, p, n);
    default:
        return emit_escaped(k, i, p, n);
    }
}

int tmpl_emit_str(struct sink *k, const char *s)
{
    return tmpl_emit(k, 0, s, strlen(s));
}

/* ---- values ------------------------------------------------------------------------------- */

/* Formats x into b (at least 48 bytes): the shortest of %.15g, %.16g, %.17g that reads back. */
void tmpl_fmt_real(char *b, size_t cap, double x, enum numfmt f)
{
    int prec;

    if (isfinite(x) && x == floor(x) && f != NUM_JSON) {
        if (fabs(x) < 9007199254740992.0) {
            snprintf(b, cap, "%lld", (long long)x);
            return;
        }
        if (f == NUM_C && fabs(x) < 1e21) {
            snprintf(b, cap, "%.0f", x);
            return;
        }
    }
    for (prec = 15; prec <= 17; prec++) {
        snprintf(b, cap, "%.*g", prec, x);
        if (!isfinite(x) || strtod(b, NULL) == x)
            break;
    }
    if (f == NUM_JSON && !strpbrk(b, ".eEni") && strlen(b) + 3 <= cap)
        memcpy(b + strlen(b), ".0", 3);
}

static int emit_number(struct sink *k, const json_t *v, enum numfmt f)
{
    char b[48];

    if (json_is_integer(v))
        snprintf(b, sizeof b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        tmpl_fmt_real(b, sizeof b, json_real_value(v), f);
    return tmpl_emit_str(k, b);
}

int tmpl_emit_json_string(struct sink *k, const char *s, size_t n)
{
    int rc = tmpl_emit(k, 0, "\"", 1);

    if (!rc)
        rc = json_escape_into(k, 0, s, n);
    if (!rc)
        rc = tmpl_emit(k, 0, "\"", 1);
    return rc;
}

static int emit_container(struct sink *k, const json_t *v, unsigned depth)
{
    bool obj = json_is_object(v);
    void *it = obj ? json_object_iter((json_t *)v) : NULL;
    size_t i, n = obj ? 0 : json_array_size(v);
    int rc;

    if (depth >= TMPL_MAX_JSON_DEPTH)
        return TOCSIN_ETOOBIG;
    rc = tmpl_emit_str(k, obj ? "{" : "[");
    for (i = 0; !rc && (obj ? it != NULL : i < n); i++) {
        if (i)
            rc = tmpl_emit_str(k, ",");
        if (!rc && obj) {
            rc = tmpl_emit_json_string(k, json_object_iter_key(it), json_object_iter_key_len(it));
            if (!rc)
                rc = tmpl_emit_str(k, ":");
            if (!rc)
                rc = tmpl_emit_json(k, json_object_iter_value(it), depth + 1);
            it = json_object_iter_next((json_t *)v, it);
        } else if (!rc) {
            rc = tmpl_emit_json(k, json_array_get(v, i), depth + 1);
        }
    }
    if (!rc)
        rc = tmpl_emit_str(k, obj ? "}" : "]");
    return rc;
}

int tmpl_emit_json(struct sink *k, const json_t *v, unsigned depth)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        return emit_container(k, v, depth);
    case JSON_STRING:
        return tmpl_emit_json_string(k, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
    case JSON_REAL:
        return emit_number(k, v, NUM_JSON);
    case JSON_TRUE:
        return tmpl_emit_str(k, "true");
    case JSON_FALSE:
        return tmpl_emit_str(k, "false");
    default:
        return tmpl_emit_str(k, "null");
    }
}

static int emit_text(struct sink *k, const char *s, size_t n, unsigned flags)
{
    if (flags & VF_TRIM) {
        while (n && (unsigned char)s[0] <= ' ') {
            s++;
            n--;
        }
        while (n && (unsigned char)s[n - 1] <= ' ')
            n--;
    }
    return tmpl_emit(k, 0, s, n);
}

int tmpl_emit_value(struct sink *k, const json_t *v, unsigned flags)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return emit_text(k, json_string_value(v), json_string_length(v), flags);
    case JSON_INTEGER:
    case JSON_REAL:
        return emit_number(k, v, (flags & VF_C) ? NUM_C : NUM_TEXT);
    case JSON_TRUE:
        return tmpl_emit_str(k, "true");
    case JSON_FALSE:
        return tmpl_emit_str(k, "false");
    case JSON_OBJECT:
    case JSON_ARRAY:
        return emit_container(k, v, 0);
    default:
        return TOCSIN_OK;
    }
}

/* ---- render ------------------------------------------------------------------------------- */

static unsigned add_stage(struct sink *k, uint8_t op)
{
    if (op == OP_TRIM)
        return VF_TRIM;
    if (op == OP_C)
        return VF_C;
    if (op != OP_STRING) {
        k->pending[k->n] = true;
        k->op[k->n++] = op;
    }
    return 0;
}

/* Sets up the sink for ops[first, first + count), the outer ops and the output escape; returns
 * the value flags. */
static unsigned sink_init(struct sink *k, const struct rctx *r, const struct expr *e,
                          unsigned first, unsigned count)
{
    static const uint8_t esc_op[] = {OP_NONE, OP_ESC_JSON, OP_ESC_HTML, OP_ESC_URL};
    unsigned flags = 0, i, outer = (unsigned)e->nval + e->ndef;

    k->out = r->out;
    k->n = 0;
    for (i = first; i < first + count; i++)
        flags |= add_stage(k, e->ops[i]);
    for (i = outer; i < outer + e->nout; i++)
        flags |= add_stage(k, e->ops[i]);
    if (r->esc != TMPL_ESC_NONE)
        add_stage(k, esc_op[r->esc]);
    return flags;
}

static int render_expr(const struct tmpl *t, const struct expr *e, struct rctx *r)
{
    struct sink k;
    const json_t *v;
    unsigned budget = LOOKUP_BUDGET, flags;

    v = tmpl_walk(t, t->segs + e->seg, 0, e->nseg, r->root, &budget);
    if (v) {
        flags = sink_init(&k, r, e, 0, e->nval);
        return tmpl_emit_value(&k, v, flags);
    }
    if (!e->def_len)
        return TOCSIN_OK;
    flags = sink_init(&k, r, e, e->nval, e->ndef);
    return emit_text(&k, t->src + e->def_off, e->def_len, flags);
}

int tmpl_render_range(const struct tmpl *t, struct rctx *r, uint32_t first, uint32_t end)
{
    const struct node *n;
    uint32_t i;
    int rc = TOCSIN_OK;

    for (i = first; i < end && !rc; i++) {
        n = &t->nodes[i];
        switch (n->kind) {
        case N_TEXT:
            rc = buf_append(r->out, t->src + n->off, n->len);
            break;
        case N_EXPR:
            rc = render_expr(t, &t->exprs[n->arg], r);
            break;
        case N_MUS:
            rc = hbs_render_mustache(t, r, n);
            break;
        case N_BLOCK:
            rc = hbs_render_block(t, r, i);
            i = n->end; /* the loop steps past the N_END */
            break;
        default: /* N_ELSE and N_END are only reached through their block */
            break;
        }
    }
    return rc;
}

static int render(const struct tmpl *t, const json_t *ctx, enum tmpl_escape esc, struct buf *out,
                  char *err, size_t errlen)
{
    char scratch[TMPL_SCRATCH];
    struct rctx r;
    size_t start;
    int rc;

    if (!t || !out || (unsigned)esc > TMPL_ESC_URL)
        return TOCSIN_EINVAL;
    memset(&r, 0, sizeof r);
    r.root = ctx;
    r.esc = esc;
    r.out = out;
    r.frames[0].ctx = ctx;
    /* Never reallocated: appends stop at max, one byte short of the array (buf's NUL). */
    r.scratch.p = scratch;
    r.scratch.cap = sizeof scratch;
    r.scratch.max = sizeof scratch - 1;
    r.err = err;
    r.errlen = errlen;
    start = out->len;
    rc = tmpl_render_range(t, &r, 0, t->nnodes);
    if (rc) {
        out->len = start;
        if (out->p)
            out->p[start] = '\0';
    }
    return rc;
}

int tmpl_render(const struct tmpl *t, const json_t *ctx, enum tmpl_escape esc, struct buf *out)
{
    return render(t, ctx, esc, out, NULL, 0);
}

int tmpl_render_check(const struct tmpl *t, const json_t *sample, enum tmpl_escape esc,
                      struct buf *out, char *err, size_t errlen)
{
    struct buf own;
    char msg[256] = "";
    int rc;

    buf_init(&own, TMPL_CHECK_MAX_OUT);
    rc = render(t, sample, esc, out ? out : &own, msg, sizeof msg);
    buf_free(&own);
    if (!rc && msg[0])
        rc = TOCSIN_EINVAL;
    if (err && errlen) {
        if (msg[0])
            snprintf(err, errlen, "%s", msg);
        else
            snprintf(err, errlen, "%s", rc ? tocsin_strerror(rc) : "");
    }
    return rc;
}

int tmpl_render_string(const char *src, const json_t *ctx, enum tmpl_escape esc, struct buf *out,
                       char *err, size_t errlen)
{
    struct tmpl *t = NULL;
    int rc;

    if (!src) {
        if (err && errlen)
            snprintf(err, errlen, "no source");
        return TOCSIN_EINVAL;
    }
    rc = tmpl_compile(src, strnlen(src, TMPL_MAX_SRC + 1), &t, err, errlen);
    if (rc)
        goto out;
    rc = tmpl_render(t, ctx, esc, out);
    if (rc && err && errlen)
        snprintf(err, errlen, "render: %s", tocsin_strerror(rc));
out:
    tmpl_free(t);
    return rc;
}
