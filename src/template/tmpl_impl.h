/* Internals shared by tmpl.c (the FreeMarker `${...}` part, output, values), tmpl_hbs.c
 * (Handlebars `{{...}}`) and tmpl_date.c (the date helper). Not a public header: include
 * template/tmpl.h instead. */
#ifndef TOCSIN_TMPL_IMPL_H
#define TOCSIN_TMPL_IMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "template/tmpl.h"
#include "util/buf.h"

#define LOOKUP_BUDGET 256 /* object lookups for one path, flat-key fallbacks included */
#define NO_CALL UINT32_MAX

/* ---- compiled form ------------------------------------------------------------------------ */

/* A template is a flat array of nodes rendered in order; literal text points into the owned copy
 * of the source. A block node records the index of its first {{else}} (or its end) in `next` and
 * of its N_END in `end`; an N_ELSE does the same for the rest of the chain. render_range() renders
 * any [first, end) range, so a block renders a section by recursing on a sub-range and then
 * skips past its end. */
enum node_kind {
    N_TEXT,  /* src[off, off + len) */
    N_EXPR,  /* ${...}: exprs[arg]; off/len is the tag in the source */
    N_MUS,   /* {{x}} / {{{x}}}: calls[arg]; flags MUS_RAW */
    N_BLOCK, /* {{#x ...}} / {{^x}}: calls[arg] */
    N_ELSE,  /* {{else}} (arg NO_CALL) or {{else if ...}} (calls[arg]) */
    N_END,   /* {{/x}} */
};

enum { MUS_RAW = 1 };

struct node {
    uint8_t kind;
    uint8_t flags;
    uint32_t off, len;
    uint32_t arg;
    uint32_t next, end; /* N_BLOCK, N_ELSE */
};

enum seg_kind {
    SEG_NAME,  /* the first name or .name */
    SEG_KEY,   /* ['key'] or ["key"], decoded; Handlebars [literal] */
    SEG_INDEX, /* [n]; Handlebars .0 */
};

struct seg {
    uint8_t kind;
    uint8_t run_end;   /* SEG_NAME: last segment (index in the path) of the names written a.b.c
                          with nothing between them; src[off .. end of run] is the flat key */
    uint32_t off, len; /* the name, key or digits, in src */
    uint32_t index;    /* SEG_INDEX */
};

/* Built-ins of ${}. Stream ops transform the bytes on their way out, in order; value ops apply to
 * the value before any stream op. */
enum op {
    OP_NONE,
    OP_UPPER,
    OP_LOWER,
    OP_CAP_FIRST,
    OP_UNCAP_FIRST,
    OP_ESC_JSON,
    OP_ESC_HTML,
    OP_ESC_URL,
    OP_TRIM,      /* value op */
    OP_C,         /* value op: computer number format */
    OP_STRING,    /* value op: nothing to do */
    OP_ESC_HTML2, /* Handlebars' HTML escape: & < > " ' ` = */
};

/* ops[0, nval) apply to a value found at the path, the next ndef to the default, the last nout
 * (written after a parenthesised expression) to either. */
struct expr {
    uint32_t seg; /* first of nseg in t->segs */
    uint8_t nseg;
    uint8_t nval, ndef, nout;
    uint8_t ops[TMPL_MAX_BUILTINS];
    bool has_default;
    uint32_t def_off, def_len; /* default text in src */
};

/* Handlebars: a helper call (or a plain value, helper H_NONE with one argument). */
struct call {
    uint8_t helper; /* enum helper in tmpl_hbs.c */
    uint8_t nargs;
    uint32_t arg; /* first of nargs in t->args */
    uint32_t off; /* in src, for messages */
};

enum arg_kind { A_PATH, A_STR, A_NUM, A_TRUE, A_FALSE, A_NULL, A_SUB, A_DATA };

struct arg {
    uint8_t kind;
    uint8_t up;    /* A_PATH / A_DATA: ../ count */
    uint8_t nseg;  /* A_PATH: segments, 0 for this */
    uint8_t flags; /* A_PATH: ARG_SCOPED (this/./../@root: no lookup in outer contexts), ARG_ROOT */
    uint8_t data;  /* A_DATA: which @-variable */
    uint32_t x;    /* A_PATH: first seg; A_STR: off; A_SUB: call index */
    uint32_t len;  /* A_STR */
    json_int_t i;  /* A_NUM when integral */
    double d;      /* A_NUM */
    bool is_int;
};

enum { ARG_SCOPED = 1, ARG_ROOT = 2 };

struct tmpl {
    char *src; /* owned copy of the source; quoted keys inside tags are decoded in place */
    size_t len;
    struct node *nodes;
    struct expr *exprs;
    struct seg *segs;
    struct call *calls;
    struct arg *args;
    uint32_t nnodes, nexprs, nsegs, ncalls, nargs;
    uint32_t cnodes, cexprs, csegs, ccalls, cargs; /* capacities */
    bool literal;                                  /* no tag and no escape: renders as its source */
};

/* ---- compiler ----------------------------------------------------------------------------- */

struct pblock {          /* an open Handlebars block */
    uint32_t node, last; /* the N_BLOCK, the last node of its chain (itself or an N_ELSE) */
    uint32_t name_off, name_len;
    bool pushes;   /* the current section changes the context (each, with, sections) */
    bool has_else; /* a plain {{else}} was seen */
};

struct parser {
    struct tmpl *t;
    char *s; /* t->src */
    size_t len, pos;
    size_t tag; /* offset of the "${" or "{{" being parsed */
    char *err;
    size_t errlen;
    bool strip_next;           /* ~}}: trim the whitespace that starts the next text */
    unsigned depth, ctx_depth; /* open blocks; those of them that push a context */
    struct pblock open[TMPL_MAX_NEST];
};

int tmpl_fail(struct parser *p, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void *tmpl_reserve(void *arr, uint32_t *cap, uint32_t need, size_t size);
int tmpl_add_node(struct parser *p, uint8_t kind, size_t off, size_t len, uint32_t arg);
int tmpl_parse_string(struct parser *p, uint32_t *off, uint32_t *len);
void tmpl_mark_runs(const struct parser *p, struct seg *sg, unsigned n);

/* Parses the "{{" tag at p->pos; leaves p->pos after it (and after a standalone line's end). */
int hbs_parse_tag(struct parser *p);
/* At the end of the source: every block closed. */
int hbs_finish(struct parser *p);

static inline int peek_at(const struct parser *p, size_t k)
{
    return p->pos + k < p->len ? (unsigned char)p->s[p->pos + k] : -1;
}

static inline int peek(const struct parser *p)
{
    return peek_at(p, 0);
}

static inline bool is_ws(int c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static inline bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static inline bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline void skip_ws(struct parser *p)
{
    while (is_ws(peek(p)))
        p->pos++;
}

/* ---- output ------------------------------------------------------------------------------- */

/* Bytes pass through stages op[0..n) and then land in out. */
struct sink {
    struct buf *out;
    unsigned n;
    uint8_t op[TMPL_MAX_BUILTINS + 1];
    bool pending[TMPL_MAX_BUILTINS + 1]; /* cap_first/uncap_first: first letter still to come */
};

enum numfmt {
    NUM_TEXT, /* integral reals below 2^53 as integers */
    NUM_C,    /* as NUM_TEXT, and integral reals below 1e21 in full digits */
    NUM_JSON, /* reals keep a fraction or an exponent, like jansson's "1.0" */
};

int tmpl_emit(struct sink *k, unsigned i, const char *p, size_t n);
int tmpl_emit_str(struct sink *k, const char *s);
int tmpl_emit_value(struct sink *k, const json_t *v, unsigned flags);
int tmpl_emit_json(struct sink *k, const json_t *v, unsigned depth);
/* s[0, n) as a quoted JSON string. */
int tmpl_emit_json_string(struct sink *k, const char *s, size_t n);
void tmpl_fmt_real(char *b, size_t cap, double x, enum numfmt f);

/* ---- render ------------------------------------------------------------------------------- */

struct frame {
    const json_t *ctx;
    const char *key; /* {{#each}} over an object: the key; NULL otherwise */
    size_t keylen;
    size_t index, count;
    bool each;
};

/* What a render needs besides the template. */
struct rctx {
    const json_t *root;
    enum tmpl_escape esc;
    struct buf *out;
    struct frame frames[TMPL_MAX_NEST + 1];
    unsigned top;        /* frames[0, top] are live; frames[0].ctx is root */
    unsigned long iters; /* {{#each}} iterations so far */
    struct buf scratch;  /* subexpression results, over scratch_mem (never reallocated) */
    char *err;           /* first soft failure ("offset N: ..."), for tmpl_render_check */
    size_t errlen;
    bool failed;
};

const json_t *tmpl_walk(const struct tmpl *t, const struct seg *sg, unsigned i, unsigned n,
                        const json_t *v, unsigned *budget);
int tmpl_render_range(const struct tmpl *t, struct rctx *r, uint32_t first, uint32_t end);
int hbs_render_mustache(const struct tmpl *t, struct rctx *r, const struct node *n);
/* Renders the block at nodes[i]. */
int hbs_render_block(const struct tmpl *t, struct rctx *r, uint32_t i);

/* ---- dates (tmpl_date.c) ------------------------------------------------------------------ */

struct tz;
/* Formats instant ms in zone z (NULL: UTC) by fmt (strftime-like, or "iso"/"rfc3339") into
 * out[0, cap). Returns the length, or -1 with *bad = offset in fmt of a bad conversion, or -2 if
 * the result does not fit. */
long tmpl_date_format(char *out, size_t cap, const char *fmt, size_t flen, int64_t ms,
                      const struct tz *z, size_t *bad);
/* ISO-8601 / RFC 3339 date-time (or date) to ms since the epoch. */
bool tmpl_date_parse(const char *s, size_t n, int64_t *ms);

#endif
