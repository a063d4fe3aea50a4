/* Handlebars / Mustache `{{...}}` tags: compiler and renderer (see tmpl.h, docs/templates.md). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/tmpl.h"
#include "template/tmpl_impl.h"
#include "util/err.h"
#include "util/tz.h"

enum helper {
    H_NONE, /* a plain value: one argument */
    H_IF,
    H_UNLESS,
    H_EACH,
    H_WITH,
    H_SECTION,  /* {{#path}}: Mustache section */
    H_INVERTED, /* {{^path}} */
    H_EQ,
    H_NE,
    H_GT,
    H_LT,
    H_GE,
    H_LE,
    H_AND,
    H_OR,
    H_NOT,
    H_DEFAULT,
    H_LEN,
    H_LOOKUP,
    H_UPPER, /* the rest write text (HF_STREAM) */
    H_LOWER,
    H_TRIM,
    H_JSON,
    H_TRUNCATE,
    H_DATE,
    H_JOIN,
    H_REPLACE,
};

enum {
    HF_BLOCK = 1, /* only as {{#name}} */
    HF_TEST = 2,  /* may open a block: its result's truthiness decides */
    HF_STREAM = 4,
};

static const struct hdef {
    const char *name;
    uint8_t h, min, max, flags;
} helpers[] = {
    {"if", H_IF, 1, 1, HF_BLOCK},
    {"unless", H_UNLESS, 1, 1, HF_BLOCK},
    {"each", H_EACH, 1, 1, HF_BLOCK},
    {"with", H_WITH, 1, 1, HF_BLOCK},
    {"eq", H_EQ, 2, 2, HF_TEST},
    {"ne", H_NE, 2, 2, HF_TEST},
    {"gt", H_GT, 2, 2, HF_TEST},
    {"lt", H_LT, 2, 2, HF_TEST},
    {"ge", H_GE, 2, 2, HF_TEST},
    {"gte", H_GE, 2, 2, HF_TEST},
    {"le", H_LE, 2, 2, HF_TEST},
    {"lte", H_LE, 2, 2, HF_TEST},
    {"and", H_AND, 2, TMPL_MAX_ARGS, HF_TEST},
    {"or", H_OR, 2, TMPL_MAX_ARGS, HF_TEST},
    {"not", H_NOT, 1, 1, HF_TEST},
    {"default", H_DEFAULT, 2, 2, 0},
    {"len", H_LEN, 1, 1, 0},
    {"length", H_LEN, 1, 1, 0},
    {"lookup", H_LOOKUP, 2, 2, 0},
    {"upper", H_UPPER, 1, 1, HF_STREAM},
    {"lower", H_LOWER, 1, 1, HF_STREAM},
    {"trim", H_TRIM, 1, 1, HF_STREAM},
    {"json", H_JSON, 1, 1, HF_STREAM},
    {"truncate", H_TRUNCATE, 2, 3, HF_STREAM},
    {"date", H_DATE, 1, 3, HF_STREAM},
    {"join", H_JOIN, 1, 2, HF_STREAM},
    {"replace", H_REPLACE, 3, 3, HF_STREAM},
};

#define NHELPERS (sizeof helpers / sizeof helpers[0])

enum data_var { D_KEY, D_INDEX, D_FIRST, D_LAST };

static const struct hdef *helper_by_id(uint8_t h)
{
    size_t i;

    for (i = 0; i < NHELPERS; i++)
        if (helpers[i].h == h)
            return &helpers[i];
    return NULL;
}

/* ==== compiler =============================================================================== */

enum cmode { M_MUSTACHE, M_BLOCK, M_INVERTED, M_ELSE, M_SUB };

static bool is_hname(int c)
{
    return is_alpha(c) || is_digit(c) || c == '_' || c == '$' || c == '-' || c >= 0x80;
}

static bool at_close(const struct parser *p, enum cmode m)
{
    int c = peek(p);

    if (m == M_SUB)
        return c == ')';
    return c == '}' || (c == '~' && peek_at(p, 1) == '}');
}

static bool is_delim(int c)
{
    return c < 0 || is_ws(c) || c == '}' || c == ')' || c == '~' || c == '(';
}

static int hunexpected(struct parser *p, const char *want)
{
    int c = peek(p);

    if (c < 0)
        return tmpl_fail(p, p->tag, "unterminated {{");
    if (c > ' ' && c < 0x7f)
        return tmpl_fail(p, p->pos, "unexpected '%c', expected %s", c, want);
    return tmpl_fail(p, p->pos, "unexpected byte 0x%02x, expected %s", (unsigned)c, want);
}

static bool at_word(const struct parser *p, const char *w)
{
    size_t n = strlen(w);

    return p->pos + n <= p->len && memcmp(p->s + p->pos, w, n) == 0 && is_delim(peek_at(p, n));
}

static bool at_prefix(const struct parser *p, const char *w)
{
    size_t n = strlen(w);

    return p->pos + n <= p->len && memcmp(p->s + p->pos, w, n) == 0;
}

static int add_hseg(struct parser *p, struct arg *a, const struct seg *sg)
{
    struct tmpl *t = p->t;
    struct seg *np;

    if (a->nseg == TMPL_MAX_DEPTH)
        return tmpl_fail(p, sg->off, "path deeper than %d segments", TMPL_MAX_DEPTH);
    np = tmpl_reserve(t->segs, &t->csegs, t->nsegs + 1, sizeof *np);
    if (!np)
        return TOCSIN_ENOMEM;
    t->segs = np;
    np[t->nsegs++] = *sg;
    a->nseg++;
    return TOCSIN_OK;
}

/* Digits only (at most 9): an array index. */
static void classify(const char *s, struct seg *sg)
{
    uint32_t i, v = 0;

    if (sg->len == 0 || sg->len > 9)
        return;
    for (i = 0; i < sg->len; i++) {
        if (!is_digit((unsigned char)s[sg->off + i]))
            return;
        v = v * 10 + (uint32_t)(s[sg->off + i] - '0');
    }
    sg->kind = SEG_INDEX;
    sg->index = v;
}

/* [literal] or ['quoted'] after the '['. */
static int parse_hbracket(struct parser *p, struct seg *sg)
{
    size_t at = p->pos - 1;
    const char *end;
    int rc;

    sg->kind = SEG_KEY;
    if (peek(p) == '\'' || peek(p) == '"') {
        rc = tmpl_parse_string(p, &sg->off, &sg->len);
        if (rc)
            return rc;
        if (peek(p) != ']')
            return hunexpected(p, "']'");
        p->pos++;
        return TOCSIN_OK;
    }
    end = memchr(p->s + p->pos, ']', p->len - p->pos);
    if (!end)
        return tmpl_fail(p, at, "unterminated [ in a path");
    sg->off = (uint32_t)p->pos;
    sg->len = (uint32_t)(end - (p->s + p->pos));
    if (!sg->len)
        return tmpl_fail(p, at, "empty [] in a path");
    classify(p->s, sg);
    p->pos = (size_t)(end - p->s) + 1;
    return TOCSIN_OK;
}

/* Segments a.b/c.[d e][0] from p->pos. */
static int parse_segs(struct parser *p, struct arg *a)
{
    struct seg sg;
    int rc, c;

    a->x = p->t->nsegs;
    for (;;) {
        memset(&sg, 0, sizeof sg);
        c = peek(p);
        if (c == '[') {
            p->pos++;
            rc = parse_hbracket(p, &sg);
        } else if (is_hname(c)) {
            sg.kind = SEG_NAME;
            sg.off = (uint32_t)p->pos;
            while (is_hname(peek(p)))
                p->pos++;
            sg.len = (uint32_t)(p->pos - sg.off);
            classify(p->s, &sg);
            rc = TOCSIN_OK;
        } else {
            return hunexpected(p, "a name");
        }
        if (!rc)
            rc = add_hseg(p, a, &sg);
        if (rc)
            return rc;
        c = peek(p);
        if (c == '.' || c == '/')
            p->pos++;
        else if (c != '[')
            break;
    }
    tmpl_mark_runs(p, p->t->segs + a->x, a->nseg);
    return TOCSIN_OK;
}

static int parse_data(struct parser *p, struct arg *a)
{
    static const char *const names[] = {"key", "index", "first", "last"};
    size_t at = p->pos, i, n;

    p->pos++;
    while (at_prefix(p, "../")) {
        p->pos += 3;
        a->up++;
    }
    if (at_prefix(p, "root") && !is_hname(peek_at(p, 4))) {
        p->pos += 4;
        a->kind = A_PATH;
        a->flags = ARG_SCOPED | ARG_ROOT;
        if (peek(p) != '.' && peek(p) != '/')
            return TOCSIN_OK;
        p->pos++;
        return parse_segs(p, a);
    }
    for (n = 0; is_hname(peek_at(p, n));)
        n++;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], p->s + p->pos, n) == 0)
            break;
    if (i == sizeof names / sizeof names[0])
        return tmpl_fail(p, at, "unknown @-variable '@%.*s'", n > 40 ? 40 : (int)n, p->s + p->pos);
    p->pos += n;
    a->kind = A_DATA;
    a->data = (uint8_t)i;
    return TOCSIN_OK;
}

/* this . .. ../x ./x this.x x.y */
static int parse_hpath(struct parser *p, struct arg *a)
{
    size_t at = p->pos;

    a->kind = A_PATH;
    while (at_prefix(p, "../")) {
        p->pos += 3;
        a->up++;
        a->flags |= ARG_SCOPED;
    }
    if (at_word(p, "..")) {
        p->pos += 2;
        a->up++;
        a->flags |= ARG_SCOPED;
    } else if (at_word(p, ".") || at_word(p, "this")) {
        p->pos += peek(p) == '.' ? 1 : 4;
        a->flags |= ARG_SCOPED;
    } else {
        if (at_prefix(p, "./") || at_prefix(p, "this.") || at_prefix(p, "this/")) {
            p->pos += peek(p) == '.' ? 2 : 5;
            a->flags |= ARG_SCOPED;
        }
        if (parse_segs(p, a))
            return TOCSIN_EINVAL;
    }
    if (a->up > p->ctx_depth)
        return tmpl_fail(p, at, "'../' goes above the root context");
    return TOCSIN_OK;
}

static int parse_number(struct parser *p, struct arg *a)
{
    size_t at = p->pos, n;
    char tmp[64], *end;

    if (peek(p) == '-')
        p->pos++;
    while (is_digit(peek(p)) || peek(p) == '.' || peek(p) == 'e' || peek(p) == 'E' ||
           ((peek(p) == '+' || peek(p) == '-') && (p->s[p->pos - 1] | 0x20) == 'e'))
        p->pos++;
    n = p->pos - at;
    if (n >= sizeof tmp || !is_delim(peek(p)))
        return tmpl_fail(p, at, "bad number");
    memcpy(tmp, p->s + at, n);
    tmp[n] = '\0';
    a->kind = A_NUM;
    a->d = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(a->d))
        return tmpl_fail(p, at, "bad number");
    if (a->d == floor(a->d) && fabs(a->d) < 9007199254740992.0) {
        a->is_int = true;
        a->i = (json_int_t)a->d;
    }
    return TOCSIN_OK;
}

static int parse_call(struct parser *p, enum cmode m, unsigned sub, uint32_t *ci);

static int parse_operand(struct parser *p, struct arg *a, unsigned sub)
{
    int c = peek(p), rc;

    memset(a, 0, sizeof *a);
    if (c == '(') {
        if (sub == TMPL_MAX_SUBEXPR)
            return tmpl_fail(p, p->pos, "subexpressions nested deeper than %d", TMPL_MAX_SUBEXPR);
        p->pos++;
        a->kind = A_SUB;
        rc = parse_call(p, M_SUB, sub + 1, &a->x);
        if (rc)
            return rc;
        skip_ws(p);
        if (peek(p) != ')')
            return hunexpected(p, "')'");
        p->pos++;
        return TOCSIN_OK;
    }
    if (c == '\'' || c == '"') {
        a->kind = A_STR;
        return tmpl_parse_string(p, &a->x, &a->len);
    }
    if (is_digit(c) || (c == '-' && is_digit(peek_at(p, 1))))
        return parse_number(p, a);
    if (at_word(p, "true") || at_word(p, "false")) {
        a->kind = peek(p) == 't' ? A_TRUE : A_FALSE;
        p->pos += a->kind == A_TRUE ? 4 : 5;
        return TOCSIN_OK;
    }
    if (at_word(p, "null") || at_word(p, "undefined")) {
        p->pos += peek(p) == 'n' ? 4 : 9;
        a->kind = A_NULL;
        return TOCSIN_OK;
    }
    if (c == '@')
        return parse_data(p, a);
    if (c == '.' || c == '[' || is_hname(c))
        return parse_hpath(p, a);
    return hunexpected(p, "a value");
}

static const struct hdef *find_helper(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < NHELPERS; i++)
        if (strlen(helpers[i].name) == n && memcmp(helpers[i].name, s, n) == 0)
            return &helpers[i];
    return NULL;
}

static int add_call(struct parser *p, const struct call *c, const struct arg *a, uint32_t *ci)
{
    struct tmpl *t = p->t;
    struct call *nc;
    struct arg *na;

    na = tmpl_reserve(t->args, &t->cargs, t->nargs + c->nargs + 1u, sizeof *na);
    if (!na)
        return TOCSIN_ENOMEM;
    t->args = na;
    nc = tmpl_reserve(t->calls, &t->ccalls, t->ncalls + 1, sizeof *nc);
    if (!nc)
        return TOCSIN_ENOMEM;
    t->calls = nc;
    memcpy(na + t->nargs, a, c->nargs * sizeof *a);
    nc[t->ncalls] = *c;
    nc[t->ncalls].arg = t->nargs;
    t->nargs += c->nargs;
    *ci = t->ncalls++;
    return TOCSIN_OK;
}

/* Compile-time checks of literal arguments. */
static int check_literals(struct parser *p, const struct call *c, const struct arg *a)
{
    char zone[TZ_NAME_MAX + 1], out[64];
    size_t bad = 0;
    long r;

    if (c->helper == H_TRUNCATE && a[1].kind != A_PATH && a[1].kind != A_SUB &&
        (a[1].kind != A_NUM || !a[1].is_int || a[1].i < 0 || a[1].i > 1000000000))
        return tmpl_fail(p, c->off, "truncate: the length must be an integer from 0 to 1e9");
    if (c->helper != H_DATE)
        return TOCSIN_OK;
    if (c->nargs >= 2 && a[1].kind == A_STR) {
        if (a[1].len > TMPL_MAX_DATE_FMT)
            return tmpl_fail(p, a[1].x, "date format longer than %d bytes", TMPL_MAX_DATE_FMT);
        r = tmpl_date_format(out, sizeof out, p->s + a[1].x, a[1].len, 0, NULL, &bad);
        if (r == -1)
            return tmpl_fail(p, a[1].x + bad, "bad date format: unknown conversion '%%%c'",
                             a[1].x + bad + 1 < p->len ? p->s[a[1].x + bad + 1] : ' ');
    }
    if (c->nargs == 3 && a[2].kind == A_STR && a[2].len) {
        if (a[2].len > TZ_NAME_MAX)
            return tmpl_fail(p, a[2].x, "unknown time zone (name too long)");
        memcpy(zone, p->s + a[2].x, a[2].len);
        zone[a[2].len] = '\0';
        if (strlen(zone) != a[2].len || !tz_get(zone))
            return tmpl_fail(p, a[2].x, "unknown time zone '%s'", zone);
    }
    return TOCSIN_OK;
}

static int check_call(struct parser *p, enum cmode m, const struct hdef *h, const struct call *c,
                      size_t name_len)
{
    const char *nm = p->s + c->off;
    int nl = name_len > 40 ? 40 : (int)name_len;

    if (!h) {
        if (m == M_BLOCK || m == M_INVERTED)
            return c->nargs == 1 ? TOCSIN_OK
                                 : tmpl_fail(p, c->off, "unknown helper '%.*s'", nl, nm);
        return c->nargs == 1 ? TOCSIN_OK : tmpl_fail(p, c->off, "unknown helper '%.*s'", nl, nm);
    }
    if ((h->flags & HF_BLOCK) && m != M_BLOCK && !(m == M_ELSE && h->h != H_EACH && h->h != H_WITH))
        return tmpl_fail(p, c->off, "'%s' is a block helper: write {{#%s ...}}", h->name, h->name);
    if (m == M_BLOCK && !(h->flags & (HF_BLOCK | HF_TEST)))
        return tmpl_fail(p, c->off, "'%s' cannot open a block", h->name);
    if (m == M_ELSE && !(h->flags & HF_TEST) && h->h != H_IF && h->h != H_UNLESS)
        return tmpl_fail(p, c->off, "{{else %s}} is not supported", h->name);
    if (c->nargs < h->min || c->nargs > h->max) {
        if (h->min == h->max)
            return tmpl_fail(p, c->off, "'%s' takes %u argument%s, got %u", h->name, h->min,
                             h->min == 1 ? "" : "s", c->nargs);
        return tmpl_fail(p, c->off, "'%s' takes %u to %u arguments, got %u", h->name, h->min,
                         h->max, c->nargs);
    }
    return TOCSIN_OK;
}

/* A helper call or a value, up to (not including) the closing "}}", "~}}" or ")". */
static int parse_call(struct parser *p, enum cmode m, unsigned sub, uint32_t *ci)
{
    struct arg a[TMPL_MAX_ARGS];
    struct call c = {0};
    const struct hdef *h = NULL;
    size_t n = 0, name_len = 0;
    bool name_only = false;
    int rc;

    skip_ws(p);
    c.off = (uint32_t)p->pos;
    while (is_hname(peek_at(p, n)))
        n++;
    if (n && !is_digit(peek(p)) && is_delim(peek_at(p, n)))
        h = find_helper(p->s + p->pos, n);
    if (h) {
        p->pos += n;
        c.helper = h->h;
        name_len = n;
    } else {
        name_only = n && is_delim(peek_at(p, n)) && !is_digit(peek(p));
    }
    for (;;) {
        skip_ws(p);
        if (at_close(p, m) || (m != M_SUB && peek(p) == ')'))
            break;
        if (peek(p) < 0 || (m == M_SUB && peek(p) == '}'))
            return hunexpected(p, m == M_SUB ? "')'" : "'}}'");
        if (!h && c.nargs == 1) {
            if (name_only)
                return tmpl_fail(p, c.off, "unknown helper '%.*s'", n > 40 ? 40 : (int)n,
                                 p->s + c.off);
            return hunexpected(p, m == M_SUB ? "')'" : "'}}'");
        }
        if (c.nargs == TMPL_MAX_ARGS)
            return tmpl_fail(p, p->pos, "more than %d arguments", TMPL_MAX_ARGS);
        rc = parse_operand(p, &a[c.nargs], sub);
        if (rc)
            return rc;
        if (peek(p) == '=')
            return tmpl_fail(p, p->pos, "hash arguments (name=value) are not supported");
        c.nargs++;
        if (!is_delim(peek(p)))
            return hunexpected(p, m == M_SUB ? "')'" : "'}}'");
    }
    if (!h && c.nargs == 0)
        return hunexpected(p, "a value");
    if (!h && m == M_BLOCK) {
        if (a[0].kind != A_PATH)
            return tmpl_fail(p, c.off, "a block needs a helper or a path");
        c.helper = H_SECTION;
    } else if (m == M_INVERTED) {
        if (h || a[0].kind != A_PATH)
            return tmpl_fail(p, c.off, "{{^...}} takes a path");
        c.helper = H_INVERTED;
    }
    rc = check_call(p, m, h, &c, name_len);
    if (!rc)
        rc = check_literals(p, &c, a);
    if (!rc)
        rc = add_call(p, &c, a, ci);
    return rc;
}

/* "}}" (or "}}}" when triple), with an optional '~' before. */
static int close_tag(struct parser *p, bool triple, bool *strip)
{
    skip_ws(p);
    if (triple) {
        if (peek(p) != '}')
            return hunexpected(p, "'}}}'");
        p->pos++;
    }
    *strip = peek(p) == '~';
    if (*strip)
        p->pos++;
    if (p->pos + 2 > p->len)
        return tmpl_fail(p, p->tag, "unterminated {{");
    if (peek(p) != '}' || peek_at(p, 1) != '}')
        return hunexpected(p, triple ? "'}}}'" : "'}}'");
    p->pos += 2;
    p->strip_next = *strip;
    return TOCSIN_OK;
}

/* "{{~": the text just before loses its trailing whitespace. */
static void strip_before(struct parser *p, size_t tag)
{
    struct node *n;

    if (!p->t->nnodes)
        return;
    n = &p->t->nodes[p->t->nnodes - 1];
    if (n->kind != N_TEXT || n->off + n->len != tag)
        return;
    while (n->len && is_ws((unsigned char)p->s[n->off + n->len - 1]))
        n->len--;
}

/* A block, else, close or comment tag alone on its line: the line goes (Handlebars' rule). */
static void standalone(struct parser *p, size_t tag)
{
    size_t ls = tag, q = p->pos, end;
    struct node *n;
    uint32_t i;

    while (ls > 0 && (p->s[ls - 1] == ' ' || p->s[ls - 1] == '\t'))
        ls--;
    if (ls > 0 && p->s[ls - 1] != '\n')
        return;
    while (q < p->len && (p->s[q] == ' ' || p->s[q] == '\t'))
        q++;
    if (q + 1 < p->len && p->s[q] == '\r' && p->s[q + 1] == '\n')
        q += 2;
    else if (q < p->len && p->s[q] == '\n')
        q++;
    else if (q != p->len)
        return;
    i = p->t->nnodes;
    if (i && p->t->nodes[i - 1].off == tag)
        i--; /* the tag's own node */
    if (i) {
        n = &p->t->nodes[i - 1];
        if (n->kind == N_TEXT && n->off + n->len == tag) {
            end = ls > n->off ? ls : n->off;
            n->len = (uint32_t)(end - n->off);
        }
    }
    p->pos = q;
}

static int parse_comment(struct parser *p, size_t tag, bool tilde)
{
    bool dashes = at_prefix(p, "!--");
    const char *s = p->s, *hit = NULL;
    size_t i;

    p->pos += dashes ? 3 : 1;
    for (i = p->pos; i + 1 < p->len && !hit; i++) {
        if (s[i] != '}' || s[i + 1] != '}')
            continue;
        if (!dashes)
            hit = s + i;
        else if (i >= p->pos + 2 && s[i - 1] == '-' && s[i - 2] == '-')
            hit = s + i;
        else if (i >= p->pos + 3 && s[i - 1] == '~' && s[i - 2] == '-' && s[i - 3] == '-')
            hit = s + i;
    }
    if (!hit)
        return tmpl_fail(p, tag, "unterminated comment");
    p->strip_next = hit > s + p->pos && hit[-1] == '~';
    p->pos = (size_t)(hit - s) + 2;
    if (!tilde && !p->strip_next)
        standalone(p, tag);
    return TOCSIN_OK;
}

static int add_hnode(struct parser *p, uint8_t kind, size_t tag, uint32_t arg, uint32_t *idx)
{
    int rc = tmpl_add_node(p, kind, tag, p->pos - tag, arg);

    *idx = p->t->nnodes - 1;
    return rc;
}

static int parse_open(struct parser *p, size_t tag, bool tilde, bool inverted)
{
    struct pblock *b;
    uint32_t ci, idx;
    size_t name_at, name_end;
    bool strip;
    const struct call *c;
    int rc;

    p->pos++;
    skip_ws(p);
    name_at = p->pos;
    if (p->depth == TMPL_MAX_NEST)
        return tmpl_fail(p, tag, "blocks nested deeper than %d", TMPL_MAX_NEST);
    rc = parse_call(p, inverted ? M_INVERTED : M_BLOCK, 0, &ci);
    if (rc)
        return rc;
    c = &p->t->calls[ci];
    name_end = p->pos;
    if (c->helper != H_SECTION && c->helper != H_INVERTED)
        for (name_end = name_at; is_hname((unsigned char)p->s[name_end]);)
            name_end++; /* the helper's name as written: {{#gte}} closes with {{/gte}} */
    while (name_end > name_at && is_ws((unsigned char)p->s[name_end - 1]))
        name_end--;
    rc = close_tag(p, false, &strip);
    if (!rc)
        rc = add_hnode(p, N_BLOCK, tag, ci, &idx);
    if (rc)
        return rc;
    b = &p->open[p->depth++];
    b->node = b->last = idx;
    b->name_off = (uint32_t)name_at;
    b->name_len = (uint32_t)(name_end - name_at);
    b->pushes = c->helper == H_EACH || c->helper == H_WITH || c->helper == H_SECTION;
    b->has_else = false;
    p->ctx_depth += b->pushes;
    if (!tilde && !strip)
        standalone(p, tag);
    return TOCSIN_OK;
}

static int parse_else(struct parser *p, size_t tag, bool tilde, size_t kw)
{
    struct pblock *b;
    uint32_t ci = NO_CALL, idx;
    bool strip;
    int rc;

    p->pos += kw;
    if (!p->depth)
        return tmpl_fail(p, tag, "{{else}} outside a block");
    b = &p->open[p->depth - 1];
    if (b->has_else)
        return tmpl_fail(p, tag, "{{else}} after the block's final {{else}}");
    if (b->pushes) { /* the else branches run in the block's outer context */
        b->pushes = false;
        p->ctx_depth--;
    }
    skip_ws(p);
    if (!at_close(p, M_ELSE)) {
        rc = parse_call(p, M_ELSE, 0, &ci);
        if (rc)
            return rc;
    }
    rc = close_tag(p, false, &strip);
    if (!rc)
        rc = add_hnode(p, N_ELSE, tag, ci, &idx);
    if (rc)
        return rc;
    p->t->nodes[b->last].next = idx;
    b->last = idx;
    b->has_else = ci == NO_CALL;
    if (!tilde && !strip)
        standalone(p, tag);
    return TOCSIN_OK;
}

static int parse_close(struct parser *p, size_t tag, bool tilde)
{
    struct pblock *b;
    size_t at, n;
    uint32_t idx, i;
    bool strip;
    int rc;

    p->pos++;
    skip_ws(p);
    at = p->pos;
    while (p->pos < p->len && !is_ws(peek(p)) && peek(p) != '}' && peek(p) != '~')
        p->pos++;
    n = p->pos - at;
    if (!p->depth)
        return tmpl_fail(p, tag, "{{/%.*s}} without an open block", n > 40 ? 40 : (int)n,
                         p->s + at);
    b = &p->open[p->depth - 1];
    if (n != b->name_len || memcmp(p->s + at, p->s + b->name_off, n) != 0)
        return tmpl_fail(p, tag, "{{/%.*s}} does not close {{#%.*s}} (offset %u)",
                         n > 40 ? 40 : (int)n, p->s + at, b->name_len > 40 ? 40 : (int)b->name_len,
                         p->s + b->name_off, p->t->nodes[b->node].off);
    rc = close_tag(p, false, &strip);
    if (!rc)
        rc = add_hnode(p, N_END, tag, 0, &idx);
    if (rc)
        return rc;
    p->t->nodes[b->last].next = idx;
    for (i = b->node; i != idx; i = p->t->nodes[i].next)
        p->t->nodes[i].end = idx;
    p->ctx_depth -= b->pushes;
    p->depth--;
    if (!tilde && !strip)
        standalone(p, tag);
    return TOCSIN_OK;
}

static int parse_mustache(struct parser *p, size_t tag, bool triple, bool amp)
{
    uint32_t ci, idx;
    bool strip;
    int rc;

    p->pos += triple || amp;
    rc = parse_call(p, M_MUSTACHE, 0, &ci);
    if (!rc)
        rc = close_tag(p, triple, &strip);
    if (!rc)
        rc = add_hnode(p, N_MUS, tag, ci, &idx);
    if (!rc && (triple || amp))
        p->t->nodes[idx].flags |= MUS_RAW;
    return rc;
}

int hbs_parse_tag(struct parser *p)
{
    size_t tag = p->pos;
    bool tilde;
    int c;

    p->tag = tag;
    p->pos += 2;
    tilde = peek(p) == '~';
    if (tilde) {
        p->pos++;
        strip_before(p, tag);
    }
    c = peek(p);
    switch (c) {
    case '!':
        return parse_comment(p, tag, tilde);
    case '#':
        return parse_open(p, tag, tilde, false);
    case '^':
        p->pos++;
        skip_ws(p);
        if (at_close(p, M_MUSTACHE))
            return parse_else(p, tag, tilde, 0);
        p->pos--;
        return parse_open(p, tag, tilde, true);
    case '/':
        return parse_close(p, tag, tilde);
    case '>':
        return tmpl_fail(p, tag, "partials ({{> ...}}) are not supported");
    case '{':
    case '&':
        return parse_mustache(p, tag, c == '{', c == '&');
    default:
        break;
    }
    skip_ws(p);
    if (at_word(p, "else"))
        return parse_else(p, tag, tilde, 4);
    return parse_mustache(p, tag, false, false);
}

int hbs_finish(struct parser *p)
{
    const struct pblock *b;

    if (!p->depth)
        return TOCSIN_OK;
    b = &p->open[p->depth - 1];
    return tmpl_fail(p, p->t->nodes[b->node].off, "unclosed {{#%.*s}}",
                     b->name_len > 40 ? 40 : (int)b->name_len, p->s + b->name_off);
}

/* ==== renderer =============================================================================== */

enum vkind { V_MISSING, V_JSON, V_STR, V_INT, V_REAL, V_BOOL };

struct val {
    uint8_t kind;
    bool b;
    const json_t *j; /* V_JSON, never NULL */
    const char *s;   /* V_STR */
    size_t n;
    json_int_t i;
    double d;
};

static const struct val missing = {0};

static struct val jval(const json_t *j)
{
    struct val v = {0};

    if (j && !json_is_null(j)) {
        v.kind = V_JSON;
        v.j = j;
    }
    return v;
}

static struct val sval(const char *s, size_t n)
{
    struct val v = {0};

    v.kind = V_STR;
    v.s = s;
    v.n = n;
    return v;
}

static struct val ival(json_int_t i)
{
    struct val v = {0};

    v.kind = V_INT;
    v.i = i;
    return v;
}

static struct val bval(bool b)
{
    struct val v = {0};

    v.kind = V_BOOL;
    v.b = b;
    return v;
}

__attribute__((format(printf, 3, 4))) static void soft_fail(struct rctx *r, uint32_t off,
                                                            const char *fmt, ...)
{
    va_list ap;
    int n;

    if (r->failed)
        return;
    r->failed = true;
    if (!r->err || !r->errlen)
        return;
    n = snprintf(r->err, r->errlen, "offset %u: ", off);
    if (n >= 0 && (size_t)n < r->errlen) {
        va_start(ap, fmt);
        vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
}

/* Views of a value. */
static bool as_str(const struct val *v, const char **s, size_t *n)
{
    if (v->kind == V_STR) {
        *s = v->s;
        *n = v->n;
        return true;
    }
    if (v->kind == V_JSON && json_is_string(v->j)) {
        *s = json_string_value(v->j);
        *n = json_string_length(v->j);
        return true;
    }
    return false;
}

static bool as_num(const struct val *v, double *d, json_int_t *i, bool *is_int)
{
    *is_int = v->kind == V_INT || (v->kind == V_JSON && json_is_integer(v->j));
    if (v->kind == V_INT)
        *i = v->i;
    else if (v->kind == V_REAL)
        *d = v->d;
    else if (v->kind == V_JSON && json_is_integer(v->j))
        *i = json_integer_value(v->j);
    else if (v->kind == V_JSON && json_is_real(v->j))
        *d = json_real_value(v->j);
    else
        return false;
    if (*is_int)
        *d = (double)*i;
    return true;
}

/* A string holding a whole decimal number. */
static bool str_num(const char *s, size_t n, double *d)
{
    char tmp[64], *end;

    if (!n || n >= sizeof tmp || !(is_digit((unsigned char)s[0]) || s[0] == '-' || s[0] == '.'))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    *d = strtod(tmp, &end);
    return end == tmp + n && isfinite(*d);
}

static bool truthy(const struct val *v)
{
    switch (v->kind) {
    case V_STR:
        return v->n > 0;
    case V_INT:
        return v->i != 0;
    case V_REAL:
        return v->d != 0 && !isnan(v->d);
    case V_BOOL:
        return v->b;
    case V_JSON:
        switch (json_typeof(v->j)) {
        case JSON_OBJECT:
        case JSON_TRUE:
            return true;
        case JSON_ARRAY:
            return json_array_size(v->j) > 0;
        case JSON_STRING:
            return json_string_length(v->j) > 0;
        case JSON_INTEGER:
            return json_integer_value(v->j) != 0;
        case JSON_REAL:
            return json_real_value(v->j) != 0;
        default:
            return false;
        }
    default:
        return false;
    }
}

static bool is_nothing(const struct val *v)
{
    return v->kind == V_MISSING;
}

static bool as_bool(const struct val *v, bool *b)
{
    if (v->kind == V_BOOL)
        *b = v->b;
    else if (v->kind == V_JSON && json_is_boolean(v->j))
        *b = json_is_true(v->j);
    else
        return false;
    return true;
}

enum { CMP_NONE, CMP_EQ_ONLY, CMP_ORDER };

/* Compares a and b: numbers numerically (a string that is a whole number counts when the other
 * side is a number), strings bytewise, booleans and nothing (missing/null) for equality, objects
 * and arrays structurally. *res < 0, 0, > 0. */
static int compare(const struct val *a, const struct val *b, int *res)
{
    double da, db;
    json_int_t ia = 0, ib = 0;
    bool na, nb, ba, bb, inta, intb;
    const char *sa, *sb;
    size_t la, lb;

    na = as_num(a, &da, &ia, &inta);
    nb = as_num(b, &db, &ib, &intb);
    if (!na && nb && as_str(a, &sa, &la) && str_num(sa, la, &da))
        na = true, inta = false;
    if (na && !nb && as_str(b, &sb, &lb) && str_num(sb, lb, &db))
        nb = true, intb = false;
    if (na && nb) {
        if (inta && intb)
            *res = ia < ib ? -1 : ia > ib;
        else
            *res = da < db ? -1 : da > db;
        return CMP_ORDER;
    }
    if (as_str(a, &sa, &la) && as_str(b, &sb, &lb)) {
        int c = memcmp(sa, sb, la < lb ? la : lb);
        *res = c ? c : (la < lb ? -1 : la > lb);
        return CMP_ORDER;
    }
    if (as_bool(a, &ba) && as_bool(b, &bb)) {
        *res = ba != bb;
        return CMP_EQ_ONLY;
    }
    if (is_nothing(a) || is_nothing(b)) {
        *res = !(is_nothing(a) && is_nothing(b));
        return CMP_EQ_ONLY;
    }
    if (a->kind == V_JSON && b->kind == V_JSON) {
        *res = !json_equal((json_t *)a->j, (json_t *)b->j);
        return CMP_EQ_ONLY;
    }
    *res = 1;
    return CMP_EQ_ONLY;
}

static struct val cmp_helper(uint8_t h, const struct val *a)
{
    int res = 0, kind = compare(&a[0], &a[1], &res);

    switch (h) {
    case H_EQ:
        return bval(res == 0);
    case H_NE:
        return bval(res != 0);
    default:
        break;
    }
    if (kind != CMP_ORDER)
        return bval(false);
    switch (h) {
    case H_GT:
        return bval(res > 0);
    case H_LT:
        return bval(res < 0);
    case H_GE:
        return bval(res >= 0);
    default:
        return bval(res <= 0);
    }
}

/* ---- lookup ---- */

static struct val lookup_in(const struct tmpl *t, const struct arg *a, const json_t *base)
{
    unsigned budget = LOOKUP_BUDGET;

    if (!base)
        return missing;
    return jval(a->nseg ? tmpl_walk(t, t->segs + a->x, 0, a->nseg, base, &budget) : base);
}

static struct val resolve(const struct tmpl *t, const struct rctx *r, const struct arg *a)
{
    unsigned level;
    struct val v;

    if (a->flags & ARG_ROOT)
        return lookup_in(t, a, r->root);
    if (a->up > r->top)
        return missing;
    level = r->top - a->up;
    v = lookup_in(t, a, r->frames[level].ctx);
    if (v.kind != V_MISSING || (a->flags & ARG_SCOPED))
        return v;
    while (level-- > 0) { /* Mustache: a name not found here is looked up in outer contexts */
        v = lookup_in(t, a, r->frames[level].ctx);
        if (v.kind != V_MISSING)
            return v;
    }
    return missing;
}

static struct val data_var(const struct rctx *r, const struct arg *a)
{
    unsigned level, skip = a->up;
    const struct frame *f;

    for (level = r->top; level > 0; level--) {
        if (!r->frames[level].each)
            continue;
        if (skip-- == 0)
            break;
    }
    if (level == 0)
        return missing;
    f = &r->frames[level];
    switch (a->data) {
    case D_KEY:
        return f->key ? sval(f->key, f->keylen) : ival((json_int_t)f->index);
    case D_INDEX:
        return ival((json_int_t)f->index);
    case D_FIRST:
        return bval(f->index == 0);
    default:
        return bval(f->index + 1 == f->count);
    }
}

static struct val eval_call(const struct tmpl *t, struct rctx *r, const struct call *c);

static struct val eval_arg(const struct tmpl *t, struct rctx *r, const struct arg *a)
{
    struct val v = {0};

    switch (a->kind) {
    case A_STR:
        return sval(t->src + a->x, a->len);
    case A_NUM:
        if (a->is_int)
            return ival(a->i);
        v.kind = V_REAL;
        v.d = a->d;
        return v;
    case A_TRUE:
    case A_FALSE:
        return bval(a->kind == A_TRUE);
    case A_SUB:
        return eval_call(t, r, &t->calls[a->x]);
    case A_DATA:
        return data_var(r, a);
    case A_PATH:
        return resolve(t, r, a);
    default:
        return missing;
    }
}

/* ---- output of values ---- */

static int emit_num(struct sink *k, const struct val *v, enum numfmt f)
{
    char b[48];

    if (v->kind == V_INT)
        snprintf(b, sizeof b, "%" JSON_INTEGER_FORMAT, v->i);
    else
        tmpl_fmt_real(b, sizeof b, v->d, f);
    return tmpl_emit_str(k, b);
}

static int emit_val(struct sink *k, const struct val *v)
{
    switch (v->kind) {
    case V_JSON:
        return tmpl_emit_value(k, v->j, 0);
    case V_STR:
        return tmpl_emit(k, 0, v->s, v->n);
    case V_INT:
    case V_REAL:
        return emit_num(k, v, NUM_TEXT);
    case V_BOOL:
        return tmpl_emit_str(k, v->b ? "true" : "false");
    default:
        return TOCSIN_OK;
    }
}

static int emit_val_json(struct sink *k, const struct val *v)
{
    switch (v->kind) {
    case V_JSON:
        return tmpl_emit_json(k, v->j, 0);
    case V_STR:
        return tmpl_emit_json_string(k, v->s, v->n);
    case V_INT:
    case V_REAL:
        return emit_num(k, v, NUM_JSON);
    case V_BOOL:
        return tmpl_emit_str(k, v->b ? "true" : "false");
    default:
        return tmpl_emit_str(k, "null");
    }
}

static void scratch_sink(struct rctx *r, struct sink *k)
{
    memset(k, 0, sizeof *k);
    k->out = &r->scratch;
}

/* The text of v: strings as they are, scalars formatted into tmp (48 bytes), objects and arrays as
 * JSON in the scratch buffer. False if that does not fit. */
static bool val_text(struct rctx *r, const struct val *v, char *tmp, const char **s, size_t *n)
{
    struct sink k;
    size_t mark;

    if (as_str(v, s, n))
        return true;
    *s = tmp;
    tmp[0] = '\0';
    if (v->kind == V_INT || v->kind == V_REAL) {
        if (v->kind == V_INT)
            snprintf(tmp, 48, "%" JSON_INTEGER_FORMAT, v->i);
        else
            tmpl_fmt_real(tmp, 48, v->d, NUM_TEXT);
    } else if (v->kind == V_BOOL || (v->kind == V_JSON && json_is_boolean(v->j))) {
        snprintf(tmp, 48, "%s", truthy(v) ? "true" : "false");
    } else if (v->kind == V_JSON && json_is_number(v->j)) {
        if (json_is_integer(v->j))
            snprintf(tmp, 48, "%" JSON_INTEGER_FORMAT, json_integer_value(v->j));
        else
            tmpl_fmt_real(tmp, 48, json_real_value(v->j), NUM_TEXT);
    } else if (v->kind == V_JSON) {
        scratch_sink(r, &k);
        mark = r->scratch.len;
        if (tmpl_emit_json(&k, v->j, 0)) {
            r->scratch.len = mark;
            return false;
        }
        *s = r->scratch.p + mark;
        *n = r->scratch.len - mark;
        return true;
    }
    *n = strlen(tmp);
    return true;
}

/* Number of code points (an invalid byte counts as one), and the byte length of the first
 * `keep` of them in *cut. */
static size_t cp_count(const char *s, size_t n, size_t keep, size_t *cut)
{
    size_t i = 0, cps = 0, m;

    *cut = n;
    while (i < n) {
        if (cps == keep)
            *cut = i;
        m = utf8_seq_len((const unsigned char *)s + i, n - i);
        i += m ? m : 1;
        cps++;
    }
    return cps;
}

/* ---- helpers ---- */

static int h_truncate(struct rctx *r, const struct call *c, const struct val *a, struct sink *k)
{
    char tmp[48], tmp2[48];
    const char *s, *suf = "";
    size_t n, nsuf = 0, cut, cps, scps = 0, keep, dummy;
    double d;
    json_int_t lim;
    bool is_int;

    if (!as_num(&a[1], &d, &lim, &is_int) || !is_int || lim < 0) {
        soft_fail(r, c->off, "truncate: the length is not a non-negative integer");
        return TOCSIN_OK;
    }
    if (!val_text(r, &a[0], tmp, &s, &n) ||
        (c->nargs == 3 && !val_text(r, &a[2], tmp2, &suf, &nsuf))) {
        soft_fail(r, c->off, "truncate: value longer than %d bytes as text", TMPL_SCRATCH);
        return TOCSIN_OK;
    }
    cps = cp_count(s, n, (size_t)lim, &cut);
    if (cps <= (size_t)lim)
        return tmpl_emit(k, 0, s, n);
    if (nsuf)
        scps = cp_count(suf, nsuf, 0, &dummy);
    if (scps >= (size_t)lim)
        return tmpl_emit(k, 0, s, cut);
    keep = (size_t)lim - scps;
    cp_count(s, n, keep, &cut);
    if (tmpl_emit(k, 0, s, cut))
        return TOCSIN_ETOOBIG;
    return tmpl_emit(k, 0, suf, nsuf);
}

/* Milliseconds since the epoch: numbers below 1e11 in absolute value are seconds. */
static bool to_instant(const struct val *v, int64_t *ms)
{
    const char *s;
    size_t n;
    double d;
    json_int_t i;
    bool is_int;

    if (as_str(v, &s, &n)) {
        if (str_num(s, n, &d) && d == floor(d))
            is_int = false;
        else
            return tmpl_date_parse(s, n, ms);
    } else if (!as_num(v, &d, &i, &is_int)) {
        return false;
    }
    if (!isfinite(d))
        return false;
    if (fabs(d) < 1e11)
        d *= 1000;
    if (fabs(d) > 253402300799999.0) /* year 9999 */
        return false;
    *ms = (int64_t)floor(d);
    return true;
}

static int h_date(struct rctx *r, const struct call *c, const struct val *a, struct sink *k)
{
    char out[2304], zone[TZ_NAME_MAX + 1], tmp[48];
    const char *fmt = "iso", *zn = "";
    size_t flen = 3, zlen = 0, bad = 0;
    const struct tz *z = NULL;
    int64_t ms;
    long len;

    if (a[0].kind == V_MISSING)
        return TOCSIN_OK;
    if (!to_instant(&a[0], &ms)) {
        soft_fail(r, c->off,
                  "date: the value is not a date (ms or s since the epoch, or ISO-8601)");
        return TOCSIN_OK;
    }
    if (c->nargs >= 2 && !val_text(r, &a[1], tmp, &fmt, &flen))
        flen = TMPL_MAX_DATE_FMT + 1;
    if (flen > TMPL_MAX_DATE_FMT) {
        soft_fail(r, c->off, "date: format longer than %d bytes", TMPL_MAX_DATE_FMT);
        return TOCSIN_OK;
    }
    if (c->nargs == 3 && as_str(&a[2], &zn, &zlen) && zlen) {
        if (zlen <= TZ_NAME_MAX) {
            memcpy(zone, zn, zlen);
            zone[zlen] = '\0';
            if (strlen(zone) == zlen)
                z = tz_get(zone);
        }
        if (!z) {
            soft_fail(r, c->off, "date: unknown time zone '%.*s'",
                      zlen > TZ_NAME_MAX ? TZ_NAME_MAX : (int)zlen, zn);
            return TOCSIN_OK;
        }
    }
    len = tmpl_date_format(out, sizeof out, fmt, flen, ms, z, &bad);
    if (len < 0) {
        soft_fail(r, c->off, "date: bad format at byte %zu", bad);
        return TOCSIN_OK;
    }
    return tmpl_emit(k, 0, out, (size_t)len);
}

static int h_join(struct rctx *r, const struct call *c, const struct val *a, struct sink *k)
{
    char tmp[48];
    const char *sep = ", ";
    size_t nsep = 2, i, n;
    const json_t *j = a[0].kind == V_JSON ? a[0].j : NULL;
    void *it;
    struct val e;
    int rc = TOCSIN_OK;

    if (c->nargs == 2 && !val_text(r, &a[1], tmp, &sep, &nsep))
        nsep = 0;
    if (json_is_array(j)) {
        n = json_array_size(j);
        for (i = 0; i < n && !rc; i++) {
            e = jval(json_array_get(j, i));
            if (i)
                rc = tmpl_emit(k, 0, sep, nsep);
            if (!rc)
                rc = emit_val(k, &e);
        }
        return rc;
    }
    if (json_is_object(j)) {
        for (i = 0, it = json_object_iter((json_t *)j); it && !rc; i++) {
            e = jval(json_object_iter_value(it));
            if (i)
                rc = tmpl_emit(k, 0, sep, nsep);
            if (!rc)
                rc = emit_val(k, &e);
            it = json_object_iter_next((json_t *)j, it);
        }
        return rc;
    }
    return emit_val(k, &a[0]);
}

static int h_replace(struct rctx *r, const struct call *c, const struct val *a, struct sink *k)
{
    char t0[48], t1[48], t2[48];
    const char *s, *from, *to, *hit;
    size_t n, nf, nt;
    int rc = TOCSIN_OK;

    if (!val_text(r, &a[0], t0, &s, &n) || !val_text(r, &a[1], t1, &from, &nf) ||
        !val_text(r, &a[2], t2, &to, &nt)) {
        soft_fail(r, c->off, "replace: value longer than %d bytes as text", TMPL_SCRATCH);
        return TOCSIN_OK;
    }
    if (a[0].kind == V_MISSING)
        return TOCSIN_OK;
    if (!nf)
        return tmpl_emit(k, 0, s, n);
    while (!rc && (hit = memmem(s, n, from, nf)) != NULL) {
        rc = tmpl_emit(k, 0, s, (size_t)(hit - s));
        if (!rc)
            rc = tmpl_emit(k, 0, to, nt);
        n -= (size_t)(hit - s) + nf;
        s = hit + nf;
    }
    return rc ? rc : tmpl_emit(k, 0, s, n);
}

/* Puts a stage in front of k's. */
static void sink_prepend(struct sink *k, uint8_t op)
{
    memmove(k->op + 1, k->op, k->n);
    memmove(k->pending + 1, k->pending, k->n * sizeof k->pending[0]);
    k->op[0] = op;
    k->pending[0] = true;
    k->n++;
}

/* The text-writing helpers, into sink k. */
static int run_stream(const struct tmpl *t, struct rctx *r, const struct call *c,
                      const struct val *a, struct sink *k)
{
    char tmp[48];
    const char *s;
    size_t n;

    (void)t;
    switch (c->helper) {
    case H_UPPER:
    case H_LOWER:
        sink_prepend(k, c->helper == H_UPPER ? OP_UPPER : OP_LOWER);
        return emit_val(k, &a[0]);
    case H_TRIM:
        if (!val_text(r, &a[0], tmp, &s, &n)) {
            soft_fail(r, c->off, "trim: value longer than %d bytes as text", TMPL_SCRATCH);
            return TOCSIN_OK;
        }
        while (n && (unsigned char)s[0] <= ' ')
            s++, n--;
        while (n && (unsigned char)s[n - 1] <= ' ')
            n--;
        return tmpl_emit(k, 0, s, n);
    case H_JSON:
        return emit_val_json(k, &a[0]);
    case H_TRUNCATE:
        return h_truncate(r, c, a, k);
    case H_DATE:
        return h_date(r, c, a, k);
    case H_JOIN:
        return h_join(r, c, a, k);
    default:
        return h_replace(r, c, a, k);
    }
}

static void eval_args(const struct tmpl *t, struct rctx *r, const struct call *c, struct val *a)
{
    unsigned i;

    for (i = 0; i < c->nargs; i++)
        a[i] = eval_arg(t, r, &t->args[c->arg + i]);
}

static struct val lookup_helper(struct rctx *r, const struct val *a)
{
    char tmp[48];
    const char *s;
    size_t n;
    double d;
    json_int_t i;
    bool is_int;

    if (a[0].kind != V_JSON)
        return missing;
    if (json_is_array(a[0].j) && as_num(&a[1], &d, &i, &is_int))
        return is_int && i >= 0 ? jval(json_array_get(a[0].j, (size_t)i)) : missing;
    if (!json_is_object(a[0].j) || !val_text(r, &a[1], tmp, &s, &n))
        return missing;
    return jval(json_object_getn(a[0].j, s, n));
}

static struct val eval_call(const struct tmpl *t, struct rctx *r, const struct call *c)
{
    struct val a[TMPL_MAX_ARGS], v;
    struct sink k;
    size_t mark, n;
    const char *s;
    unsigned i;

    if (c->helper == H_NONE)
        return eval_arg(t, r, &t->args[c->arg]);
    eval_args(t, r, c, a);
    switch (c->helper) {
    case H_EQ:
    case H_NE:
    case H_GT:
    case H_LT:
    case H_GE:
    case H_LE:
        return cmp_helper(c->helper, a);
    case H_AND:
    case H_OR:
        for (i = 0; i + 1 < c->nargs; i++)
            if (truthy(&a[i]) == (c->helper == H_OR))
                return a[i];
        return a[c->nargs - 1];
    case H_NOT:
        return bval(!truthy(&a[0]));
    case H_DEFAULT:
        return a[0].kind == V_MISSING || (as_str(&a[0], &s, &n) && n == 0) ? a[1] : a[0];
    case H_LEN:
        if (as_str(&a[0], &s, &n))
            return ival((json_int_t)cp_count(s, n, 0, &mark));
        if (a[0].kind == V_JSON && json_is_array(a[0].j))
            return ival((json_int_t)json_array_size(a[0].j));
        if (a[0].kind == V_JSON && json_is_object(a[0].j))
            return ival((json_int_t)json_object_size(a[0].j));
        return ival(0);
    case H_LOOKUP:
        return lookup_helper(r, a);
    default:
        break;
    }
    /* A text helper inside a subexpression: its text goes to the scratch buffer. */
    scratch_sink(r, &k);
    mark = r->scratch.len;
    if (run_stream(t, r, c, a, &k)) {
        r->scratch.len = mark;
        soft_fail(r, c->off, "subexpression result longer than %d bytes", TMPL_SCRATCH);
        return missing;
    }
    v = sval(r->scratch.p + mark, r->scratch.len - mark);
    return v;
}

int hbs_render_mustache(const struct tmpl *t, struct rctx *r, const struct node *n)
{
    static const uint8_t esc_op[] = {OP_NONE, OP_ESC_JSON, OP_ESC_HTML2, OP_ESC_URL};
    const struct call *c = &t->calls[n->arg];
    const struct hdef *h = helper_by_id(c->helper);
    struct val a[TMPL_MAX_ARGS], v;
    struct sink k;

    r->scratch.len = 0;
    memset(&k, 0, sizeof k);
    k.out = r->out;
    if (!(n->flags & MUS_RAW) && r->esc != TMPL_ESC_NONE &&
        !(c->helper == H_JSON && r->esc == TMPL_ESC_JSON)) {
        k.op[0] = esc_op[r->esc];
        k.n = 1;
    }
    if (h && (h->flags & HF_STREAM)) {
        eval_args(t, r, c, a);
        return run_stream(t, r, c, a, &k);
    }
    v = eval_call(t, r, c);
    return emit_val(&k, &v);
}

/* ---- blocks ---- */

static int push(struct rctx *r, const json_t *ctx, bool each)
{
    struct frame *f;

    if (r->top == TMPL_MAX_NEST)
        return TOCSIN_ETOOBIG; /* cannot happen: the compiler bounds the nesting */
    f = &r->frames[++r->top];
    memset(f, 0, sizeof *f);
    f->ctx = ctx;
    f->each = each;
    return TOCSIN_OK;
}

static bool test(const struct tmpl *t, struct rctx *r, const struct call *c)
{
    struct val v;

    if (c->helper == H_IF || c->helper == H_UNLESS || c->helper == H_INVERTED) {
        v = eval_arg(t, r, &t->args[c->arg]);
        return truthy(&v) == (c->helper == H_IF);
    }
    v = eval_call(t, r, c);
    return truthy(&v);
}

/* The else chain starting at nodes[j] (an N_ELSE or the N_END). */
static int render_else(const struct tmpl *t, struct rctx *r, uint32_t j)
{
    const struct node *n;

    while ((n = &t->nodes[j])->kind == N_ELSE) {
        r->scratch.len = 0;
        if (n->arg == NO_CALL || test(t, r, &t->calls[n->arg]))
            return tmpl_render_range(t, r, j + 1, n->next);
        j = n->next;
    }
    return TOCSIN_OK;
}

static int render_each(const struct tmpl *t, struct rctx *r, uint32_t i, const json_t *v)
{
    const struct node *n = &t->nodes[i];
    size_t cnt = json_is_array(v)    ? json_array_size(v)
                 : json_is_object(v) ? json_object_size(v)
                                     : 0;
    void *it = json_is_object(v) ? json_object_iter((json_t *)v) : NULL;
    struct frame *f;
    size_t k;
    int rc = TOCSIN_OK;

    if (!cnt)
        return render_else(t, r, n->next);
    for (k = 0; k < cnt && !rc; k++) {
        if (++r->iters > TMPL_MAX_EACH)
            return TOCSIN_ETOOBIG;
        if (it && !json_object_iter_key(it))
            break;
        rc = push(r, it ? json_object_iter_value(it) : json_array_get(v, k), true);
        if (rc)
            return rc;
        f = &r->frames[r->top];
        f->index = k;
        f->count = cnt;
        if (it) {
            f->key = json_object_iter_key(it);
            f->keylen = json_object_iter_key_len(it);
            it = json_object_iter_next((json_t *)v, it);
        }
        rc = tmpl_render_range(t, r, i + 1, n->next);
        r->top--;
    }
    return rc;
}

int hbs_render_block(const struct tmpl *t, struct rctx *r, uint32_t i)
{
    const struct node *n = &t->nodes[i];
    const struct call *c = &t->calls[n->arg];
    struct val v;
    int rc;

    r->scratch.len = 0;
    if (c->helper == H_EACH || c->helper == H_WITH || c->helper == H_SECTION) {
        v = eval_arg(t, r, &t->args[c->arg]);
        if (c->helper == H_EACH ||
            (c->helper == H_SECTION && v.kind == V_JSON && json_is_array(v.j)))
            return render_each(t, r, i, v.kind == V_JSON ? v.j : NULL);
        if (!truthy(&v) || (c->helper == H_WITH && v.kind != V_JSON))
            return render_else(t, r, n->next);
        rc = push(r, v.kind == V_JSON ? v.j : r->frames[r->top].ctx, false);
        if (rc)
            return rc;
        rc = tmpl_render_range(t, r, i + 1, n->next);
        r->top--;
        return rc;
    }
    if (test(t, r, c))
        return tmpl_render_range(t, r, i + 1, n->next);
    return render_else(t, r, n->next);
}
