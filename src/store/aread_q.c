/* q=: Alerta's Lucene-like query syntax (alerta/database/backends/postgres/queryparser.py),
 * parsed by recursive descent straight into SQL with bound values.
 *
 *   query  := or
 *   or     := and ( ["OR" | "||"] and )*          two clauses side by side are an OR
 *   and    := unary ( ("AND" | "&&") unary )*
 *   unary  := ("NOT" | "!" | "-") unary | "+" unary | clause
 *   clause := [field ":"] ( term | "(" or ")" )   a field applies to the terms inside (...)
 *   term   := "[" b "TO" b "]" | "{" b "TO" b "}" | (">=" | ">" | "<=" | "<") b
 *           | "/" regex "/" | "\"" phrase "\"" | word (with * or ?: a wildcard)
 *   field  := name | map "." key | "_exists_"     "_" is attributes, as in Alerta
 *
 * What a term means, as Alerta's SQL: a word is a case-insensitive substring (ILIKE '%w%'); a
 * phrase and a wildcard are case-insensitive regular expressions between word boundaries
 * (\b...\b; * is .*, ? is .?); /re/ is a case-insensitive regular expression; ranges compare
 * (text, numbers, or ISO 8601 times for time fields); _exists_:k is "attributes has key k". On a
 * list field (service, tags, correlate) a word or phrase must equal an item. The default field is
 * text (q.df). As in Alerta, "a OR NOT b" (and so "a -b", "a NOT b") means a AND NOT b.
 *
 * Bounded: AQ_Q_MAX bytes, AQ_Q_MAX_DEPTH nesting, AQ_Q_MAX_TERMS terms. Any error is a 400 with
 * field "q". */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "store/aread_int.h"
#include "util/err.h"

enum tok {
    T_EOF,
    T_LP,
    T_RP,
    T_AND,
    T_OR,
    T_NOT,
    T_PLUS,
    T_MINUS,
    T_WORD,
    T_FIELD,
    T_PHRASE,
    T_REGEX,
    T_LBR,
    T_RBR,
    T_TO,
    T_CMP,
};

struct token {
    enum tok t;
    const char *p; /* raw text (escapes still in), for words, fields, phrases, regexes */
    size_t n;
    size_t at;     /* offset in q, for messages */
    bool wild;     /* a word with an unescaped * or ? */
    bool incl;     /* [ ] rather than { } */
    enum aq_op op; /* T_CMP */
};

struct qp {
    struct aq *q;
    const char *s;
    size_t len, i;
    struct token cur;
    int depth, terms;
    struct verr *err;
};

/* Where a word ends (Alerta's special_characters, plus white space). */
static bool special(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' ||
           (c && strchr("()[]{}\":/^~=<>&|", c));
}

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int syntax(struct qp *p, size_t at, const char *why)
{
    return verr_set(p->err, "q", "Failed to parse query string: %s at offset %zu", why, at);
}

/* A quoted run ("..." or /.../) ending at an unescaped `end`. */
static int lex_quoted(struct qp *p, struct token *t, char end, enum tok type)
{
    size_t i = p->i + 1;

    t->t = type;
    t->p = p->s + i;
    while (i < p->len && p->s[i] != end)
        i += p->s[i] == '\\' && i + 1 < p->len ? 2 : 1;
    if (i >= p->len)
        return syntax(p, t->at, end == '"' ? "unterminated phrase" : "unterminated regex");
    t->n = (size_t)(p->s + i - t->p);
    p->i = i + 1;
    return TOCSIN_OK;
}

static void lex_word(struct qp *p, struct token *t)
{
    size_t i = p->i, j;

    t->t = T_WORD;
    t->p = p->s + i;
    t->wild = false;
    while (i < p->len && !special(p->s[i])) {
        if (p->s[i] == '\\' && i + 1 < p->len) {
            i += 2;
            continue;
        }
        t->wild |= p->s[i] == '*' || p->s[i] == '?';
        i++;
    }
    t->n = (size_t)(p->s + i - t->p);
    p->i = i;
    if (t->n == 2 && !memcmp(t->p, "OR", 2))
        t->t = T_OR;
    else if (t->n == 2 && !memcmp(t->p, "TO", 2))
        t->t = T_TO;
    else if (t->n == 3 && !memcmp(t->p, "AND", 3))
        t->t = T_AND;
    else if (t->n == 3 && !memcmp(t->p, "NOT", 3))
        t->t = T_NOT;
    if (t->t != T_WORD)
        return;
    /* name ":" makes a field (pyparsing skips white space before the colon too) */
    for (j = i; j < p->len && space(p->s[j]); j++)
        ;
    if (j < p->len && p->s[j] == ':') {
        t->t = T_FIELD;
        p->i = j + 1;
    }
}

static int lex_op(struct qp *p, struct token *t)
{
    const char *s = p->s + p->i;
    char c = *s, d = p->i + 1 < p->len ? s[1] : '\0';
    static const char singles[] = "()[]{}!+-";
    static const enum tok stoks[] = {T_LP,  T_RP,  T_LBR,  T_RBR,  T_LBR,
                                     T_RBR, T_NOT, T_PLUS, T_MINUS};
    const char *k = strchr(singles, c);

    if (c && k) {
        t->t = stoks[k - singles];
        t->incl = c == '[' || c == ']';
        p->i++;
        return TOCSIN_OK;
    }
    if ((c == '&' || c == '|') && d == c) {
        t->t = c == '&' ? T_AND : T_OR;
        p->i += 2;
        return TOCSIN_OK;
    }
    if (c == '<' || c == '>') {
        t->t = T_CMP;
        t->op = c == '<' ? (d == '=' ? AQO_LE : AQO_LT) : (d == '=' ? AQO_GE : AQO_GT);
        p->i += d == '=' ? 2 : 1;
        return TOCSIN_OK;
    }
    return syntax(p, p->i, "unexpected character");
}

/* Reads the next token into p->cur. */
static int next(struct qp *p)
{
    struct token *t = &p->cur;
    char c;

    while (p->i < p->len && space(p->s[p->i]))
        p->i++;
    memset(t, 0, sizeof(*t));
    t->at = p->i;
    if (p->i >= p->len) {
        t->t = T_EOF;
        return TOCSIN_OK;
    }
    c = p->s[p->i];
    if (c == '"')
        return lex_quoted(p, t, '"', T_PHRASE);
    if (c == '/')
        return lex_quoted(p, t, '/', T_REGEX);
    if (!special(c) && !strchr("!+-", c)) {
        lex_word(p, t);
        return TOCSIN_OK;
    }
    return lex_op(p, t);
}

static int expect(struct qp *p, enum tok t, const char *what)
{
    if (p->cur.t != t)
        return syntax(p, p->cur.at, what);
    return next(p);
}

/* ---- values of tokens ------------------------------------------------------------------------ */

/* The text of a word or phrase with its backslash escapes removed. */
static char *unescape(struct qp *p, const struct token *t)
{
    char *d = aq_strdup(p->q, t->p, t->n);
    size_t o = 0;

    if (!d)
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        if (t->p[i] == '\\' && i + 1 < t->n)
            i++;
        d[o++] = t->p[i];
    }
    d[o] = '\0';
    return d;
}

/* \b + the literal (or, for a wildcard, * as .* and ? as .?) + \b, as Alerta's ~* '\y...\y'. */
static char *bounded_regex(struct qp *p, const struct token *t, bool wildcard)
{
    char *d = aq_alloc(p->q, 2 * t->n + 5);
    size_t o = 0;

    if (!d)
        return NULL;
    memcpy(d, "\\b", 2);
    o = 2;
    for (size_t i = 0; i < t->n; i++) {
        unsigned char c = (unsigned char)t->p[i];
        if (c == '\\' && i + 1 < t->n) {
            c = (unsigned char)t->p[++i];
        } else if (wildcard && (c == '*' || c == '?')) {
            d[o++] = '.';
            d[o++] = c == '*' ? '*' : '?';
            continue;
        }
        if (c < 0x80 && !isalnum(c))
            d[o++] = '\\';
        d[o++] = (char)c;
    }
    memcpy(d + o, "\\b", 3); /* with the NUL */
    return d;
}

/* ---- terms ----------------------------------------------------------------------------------- */

static int cond1(struct qp *p, struct buf *out, const struct fref *f, enum aq_op op, const char *v)
{
    if (!v)
        return p->q->rc ? aq_check(p->q, "q", p->err) : TOCSIN_ENOMEM;
    return aq_cond(p->q, out, f, op, &v, 1, false, "q", p->err);
}

/* A range bound: a word, a phrase, or * (open: *v stays NULL). */
static int bound(struct qp *p, const char **v)
{
    struct token t = p->cur;

    *v = NULL;
    if (t.t == T_WORD && t.n == 1 && t.p[0] == '*')
        return next(p);
    if (!((t.t == T_WORD && !t.wild) || t.t == T_PHRASE))
        return syntax(p, t.at, "expected a range bound");
    if (!(*v = unescape(p, &t)))
        return aq_check(p->q, "q", p->err);
    return next(p);
}

static int range(struct qp *p, struct buf *out, const struct fref *f)
{
    bool lo_incl = p->cur.incl;
    const char *lo, *hi;
    int rc;

    if ((rc = next(p)) || (rc = bound(p, &lo)) || (rc = expect(p, T_TO, "expected TO")) ||
        (rc = bound(p, &hi)))
        return rc;
    if (p->cur.t != T_RBR)
        return syntax(p, p->cur.at, "expected ] or }");
    aq_cat(p->q, out, "(1");
    if (lo) {
        aq_cat(p->q, out, " AND ");
        if ((rc = cond1(p, out, f, lo_incl ? AQO_GE : AQO_GT, lo)))
            return rc;
    }
    if (hi) {
        aq_cat(p->q, out, " AND ");
        if ((rc = cond1(p, out, f, p->cur.incl ? AQO_LE : AQO_LT, hi)))
            return rc;
    }
    aq_cat(p->q, out, ")");
    return next(p);
}

static int exists(struct qp *p, struct buf *out)
{
    struct token t = p->cur;
    struct fref f;
    char *k, *full;
    size_t n;
    int rc;

    if (t.t != T_WORD || t.wild)
        return syntax(p, t.at, "expected a key after _exists_:");
    if (!(k = unescape(p, &t)))
        return aq_check(p->q, "q", p->err);
    /* labels.<k> / annotations.<k>; anything else is an attribute's key, as in Alerta */
    if (!strchr(k, '.') || !qfield_resolve(k, strlen(k), &p->q->ar, &f)) {
        n = strlen(k) + 12;
        if (!(full = aq_alloc(p->q, n)))
            return aq_check(p->q, "q", p->err);
        snprintf(full, n, "attributes.%s", k);
        if (!qfield_resolve(full, strlen(full), &p->q->ar, &f))
            return syntax(p, t.at, "invalid key after _exists_:");
    }
    if (++p->terms > AQ_Q_MAX_TERMS)
        return syntax(p, t.at, "too many terms");
    if ((rc = aq_cond(p->q, out, &f, AQO_PRESENT, NULL, 0, false, "q", p->err)))
        return rc;
    return next(p);
}

static int term(struct qp *p, struct buf *out, const struct fref *f)
{
    struct token t = p->cur;
    enum aq_op cmp = t.op;
    bool list = f->f->kind == FK_LIST;
    const char *v = NULL;
    int rc;

    if (++p->terms > AQ_Q_MAX_TERMS)
        return syntax(p, t.at, "too many terms");
    switch (t.t) {
    case T_LBR:
        return range(p, out, f);
    case T_CMP:
        if ((rc = next(p)) || (rc = bound(p, &v)))
            return rc;
        if (!v)
            return syntax(p, t.at, "expected a bound");
        return cond1(p, out, f, cmp, v);
    case T_REGEX:
        v = aq_strdup(p->q, t.p, t.n);
        rc = cond1(p, out, f, AQO_REGEX, v);
        break;
    case T_PHRASE:
        v = list ? unescape(p, &t) : bounded_regex(p, &t, false);
        rc = cond1(p, out, f, list ? AQO_EQ : AQO_REGEX, v);
        break;
    case T_WORD:
        if (t.wild && t.n == 1) /* a lone * matches any value */
            rc = aq_cond(p->q, out, f, AQO_PRESENT, NULL, 0, false, "q", p->err);
        else if (t.wild)
            rc = cond1(p, out, f, AQO_REGEX, bounded_regex(p, &t, true));
        else
            rc = cond1(p, out, f, list ? AQO_EQ : AQO_LIKE, unescape(p, &t));
        break;
    default:
        return syntax(p, t.at, "expected a term");
    }
    return rc ? rc : next(p);
}

/* ---- expressions ----------------------------------------------------------------------------- */

static int p_or(struct qp *p, const struct fref *df, struct buf *out, bool *neg);

static int clause(struct qp *p, const struct fref *df, struct buf *out)
{
    struct token t = p->cur;
    struct fref f = *df;
    bool neg;
    int rc;

    if (t.t == T_FIELD) {
        char *name = unescape(p, &t);
        if (!name)
            return aq_check(p->q, "q", p->err);
        if ((rc = next(p)))
            return rc;
        if (!strcmp(name, "_exists_"))
            return exists(p, out);
        if (!qfield_resolve(name, strlen(name), &p->q->ar, &f))
            return verr_set(p->err, "q", "Failed to parse query string: unknown field '%.64s'",
                            name);
        t = p->cur;
    }
    if (t.t != T_LP)
        return term(p, out, &f);
    if (++p->depth > AQ_Q_MAX_DEPTH)
        return syntax(p, t.at, "nested too deeply");
    if ((rc = next(p)) || (rc = p_or(p, &f, out, &neg)) || (rc = expect(p, T_RP, "expected )")))
        return rc;
    p->depth--;
    return TOCSIN_OK;
}

static int unary(struct qp *p, const struct fref *df, struct buf *out, bool *neg)
{
    enum tok t = p->cur.t;
    bool inner;
    int rc;

    *neg = false;
    if (t != T_NOT && t != T_MINUS && t != T_PLUS)
        return clause(p, df, out);
    if (++p->depth > AQ_Q_MAX_DEPTH)
        return syntax(p, p->cur.at, "nested too deeply");
    if ((rc = next(p)))
        return rc;
    if (t != T_PLUS)
        aq_cat(p->q, out, "(NOT ");
    if ((rc = unary(p, df, out, &inner)))
        return rc;
    if (t != T_PLUS)
        aq_cat(p->q, out, ")");
    *neg = t == T_PLUS ? inner : true;
    p->depth--;
    return TOCSIN_OK;
}

/* Joins l and r into l: "(l op r)". */
static void join(struct qp *p, struct buf *l, const char *op, const struct buf *r)
{
    struct buf j;

    buf_init(&j, AQ_SQL_MAX);
    aq_cat(p->q, &j, "(");
    aq_cat(p->q, &j, buf_str(l));
    aq_cat(p->q, &j, op);
    aq_cat(p->q, &j, buf_str(r));
    aq_cat(p->q, &j, ")");
    buf_free(l);
    *l = j;
}

static int p_and(struct qp *p, const struct fref *df, struct buf *out, bool *neg)
{
    struct buf r;
    bool rn;
    int rc = unary(p, df, out, neg);

    while (!rc && p->cur.t == T_AND) {
        buf_init(&r, AQ_SQL_MAX);
        if (!(rc = next(p)) && !(rc = unary(p, df, &r, &rn))) {
            join(p, out, " AND ", &r);
            *neg = false;
        }
        buf_free(&r);
    }
    return rc;
}

static bool starts_clause(enum tok t)
{
    return t == T_WORD || t == T_FIELD || t == T_PHRASE || t == T_REGEX || t == T_LP ||
           t == T_NOT || t == T_PLUS || t == T_MINUS || t == T_LBR || t == T_CMP;
}

static int p_or(struct qp *p, const struct fref *df, struct buf *out, bool *neg)
{
    struct buf l, r;
    bool rn;
    int rc;

    buf_init(&l, AQ_SQL_MAX);
    rc = p_and(p, df, &l, neg);
    while (!rc && (p->cur.t == T_OR || starts_clause(p->cur.t))) {
        if (p->cur.t == T_OR && (rc = next(p)))
            break;
        buf_init(&r, AQ_SQL_MAX);
        if (!(rc = p_and(p, df, &r, &rn))) {
            /* Alerta's SearchOr: "a OR NOT b" is a AND NOT b */
            join(p, &l, rn ? " AND " : " OR ", &r);
            *neg = false;
        }
        buf_free(&r);
    }
    if (!rc)
        aq_cat(p->q, out, buf_str(&l));
    buf_free(&l);
    return rc;
}

int aq_lucene(struct aq *q, const char *qs, const char *df, struct verr *err)
{
    struct qp p = {.q = q, .s = qs, .len = strlen(qs), .err = err};
    struct fref f;
    bool neg;
    int rc;

    if (p.len > AQ_Q_MAX)
        return verr_set(err, "q", "longer than %d bytes", AQ_Q_MAX);
    if (!df || !*df)
        df = "text";
    if (!qfield_resolve(df, strlen(df), &q->ar, &f))
        return verr_set(err, "q.df", "unknown field '%.64s'", df);
    aq_cat(q, &q->where, " AND ");
    if ((rc = next(&p)) || (rc = p_or(&p, &f, &q->where, &neg)))
        return rc;
    if (p.cur.t != T_EOF)
        return syntax(&p, p.cur.at, p.cur.t == T_RP ? "unbalanced )" : "unexpected token");
    return aq_check(q, "q", err);
}
