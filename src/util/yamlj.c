#include "util/yamlj.h"

#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

struct frame {
    json_t *node;  /* owned until attached to its parent */
    char *key;     /* a mapping's key waiting for its value, owned */
    char *anchor;  /* this collection's anchor, owned */
    size_t nodes0; /* c->nodes when it opened, to size the anchor */
    size_t height; /* levels of collections, itself included */
    int line;      /* 1-based */
};

struct anchor {
    json_t *value;
    size_t nodes;  /* values in it */
    size_t height; /* collection levels in it (0 for a scalar) */
};

struct ctx {
    const char *name;
    size_t max_nodes, max_depth;
    const struct yamlj_opts *o;
    struct frame *st; /* max_depth frames */
    size_t depth;
    size_t nodes;
    json_t *root;
    int docs;
    json_t *anchor_ix; /* name -> index into anchors */
    struct anchor *anchors;
    size_t nanchors;
    char *err;
    size_t errlen;
    bool failed;
};

__attribute__((format(printf, 3, 4))) static void yerr(struct ctx *c, const struct fy_mark *m,
                                                       const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    int line = m ? m->line + 1 : 0, col = m ? m->column + 1 : 0;

    if (c->failed)
        return;
    c->failed = true;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!c->err || !c->errlen)
        return;
    snprintf(c->err, c->errlen, "%s%s%d:%d: %s", c->name ? c->name : "", c->name ? ":" : "", line,
             col, msg);
}

/* ---- scalars: the YAML 1.2 core schema ----------------------------------------------- */

enum stype { S_STR, S_NULL, S_BOOL, S_INT, S_FLOAT, S_INFNAN };

static bool all_in(const char *s, const char *set)
{
    return *s && strspn(s, set) == strlen(s);
}

static bool is_float_text(const char *s)
{
    size_t n = 0;

    if (*s == '-' || *s == '+')
        s++;
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9')
            s++, n++;
        if (!n)
            return false;
    } else {
        while (*s >= '0' && *s <= '9')
            s++, n++;
        if (!n)
            return false;
        if (*s == '.')
            for (s++; *s >= '0' && *s <= '9'; s++)
                ;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!all_in(s, "0123456789"))
            return false;
        return true;
    }
    return *s == '\0';
}

static enum stype classify(const char *s)
{
    const char *u = (*s == '-' || *s == '+') ? s + 1 : s;

    if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return S_NULL;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "false") ||
        !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return S_BOOL;
    if (all_in(u, "0123456789") || (!strncmp(s, "0o", 2) && all_in(s + 2, "01234567")) ||
        (!strncmp(s, "0x", 2) && all_in(s + 2, "0123456789abcdefABCDEF")))
        return S_INT;
    if (!strcmp(u, ".inf") || !strcmp(u, ".Inf") || !strcmp(u, ".INF") || !strcmp(s, ".nan") ||
        !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))
        return S_INFNAN;
    if (is_float_text(s))
        return S_FLOAT;
    return S_STR;
}

/* The JSON value of scalar text `s` (NUL-terminated) of type t, or NULL with *why set. */
static json_t *make_typed(const char *s, enum stype t, const char **why)
{
    char *end = NULL;

    errno = 0;
    switch (t) {
    case S_NULL:
        return json_null();
    case S_BOOL:
        return json_boolean(s[0] == 't' || s[0] == 'T');
    case S_INT: {
        long long v;
        if (!strncmp(s, "0o", 2))
            v = strtoll(s + 2, &end, 8);
        else if (!strncmp(s, "0x", 2))
            v = strtoll(s + 2, &end, 16);
        else
            v = strtoll(s, &end, 10);
        if (errno == ERANGE || *end) {
            *why = "integer out of the 64-bit range";
            return NULL;
        }
        return json_integer(v);
    }
    case S_FLOAT: {
        double d = strtod(s, &end);
        if (*end || !isfinite(d)) {
            *why = "real number out of range";
            return NULL;
        }
        return json_real(d);
    }
    case S_INFNAN:
        *why = ".inf and .nan have no JSON form (quote them to mean the text)";
        return NULL;
    case S_STR:
        break;
    }
    return NULL;
}

/* A scalar value: its text, style and tag (NULL when none) to a JSON value. */
static json_t *scalar_value(struct ctx *c, struct fy_event *e)
{
    size_t len = 0, tlen = 0;
    const char *text = fy_token_get_text(e->scalar.value, &len);
    const char *tag = e->scalar.tag ? fy_token_get_text(e->scalar.tag, &tlen) : NULL;
    bool plain = fy_token_scalar_style(e->scalar.value) == FYSS_PLAIN;
    /* Errors about the tag point at the tag, the others at the value. */
    const struct fy_mark *m = tag ? fy_token_start_mark(e->scalar.tag) : fy_event_start_mark(e);
    const char *why = "out of memory";
    enum stype want = S_STR, got;
    char *s;
    json_t *v = NULL;

    if (!text)
        text = "";
    if (tag) {
        char t[64];
        snprintf(t, sizeof(t), "%.*s", (int)(tlen < 63 ? tlen : 63), tag);
        if (!strcmp(t, "!") || !strcmp(t, TAG_PREFIX "str"))
            return json_stringn(text, len);
        if (!strcmp(t, TAG_PREFIX "int"))
            want = S_INT;
        else if (!strcmp(t, TAG_PREFIX "float"))
            want = S_FLOAT;
        else if (!strcmp(t, TAG_PREFIX "bool"))
            want = S_BOOL;
        else if (!strcmp(t, TAG_PREFIX "null"))
            want = S_NULL;
        else {
            yerr(c, m, "unsupported tag %s", t);
            return NULL;
        }
    } else if (!plain) {
        return json_stringn(text, len);
    }
    if (memchr(text, '\0', len)) { /* only an escape in a tagged quoted scalar can do it */
        yerr(c, m, "a tagged scalar cannot hold a NUL");
        return NULL;
    }
    if (!(s = strndup(text, len))) {
        yerr(c, m, "out of memory");
        return NULL;
    }
    got = classify(s);
    if (tag && !(got == want || (want == S_FLOAT && (got == S_INT || got == S_INFNAN)))) {
        yerr(c, m, "\"%.40s\" does not match its tag", s);
    } else if (got == S_STR) {
        v = json_stringn(text, len);
    } else {
        v = make_typed(s, got, &why);
        if (v && want == S_FLOAT && json_is_integer(v)) {
            json_t *r = json_real((double)json_integer_value(v));
            json_decref(v);
            v = r;
        }
        if (!v)
            yerr(c, m, "\"%.40s\": %s", s, why);
    }
    free(s);
    return v;
}

/* ---- building ------------------------------------------------------------------------ */

static char *token_str(struct fy_token *t)
{
    size_t len = 0;
    const char *s = t ? fy_token_get_text(t, &len) : NULL;

    return s ? strndup(s, len) : NULL;
}

static bool count_nodes(struct ctx *c, const struct fy_mark *m, size_t n)
{
    if (n > c->max_nodes || c->nodes > c->max_nodes - n) {
        yerr(c, m, "more than %zu values (aliases expanded)", c->max_nodes);
        return false;
    }
    c->nodes += n;
    return true;
}

static bool add_anchor(struct ctx *c, const struct fy_mark *m, const char *name, json_t *v,
                       size_t nodes, size_t height)
{
    json_t *ix;

    if (!c->anchor_ix && !(c->anchor_ix = json_object()))
        goto nomem;
    if (c->nanchors == YAMLJ_MAX_ANCHORS) {
        yerr(c, m, "more than %d anchors", YAMLJ_MAX_ANCHORS);
        return false;
    }
    if (!c->anchors && !(c->anchors = calloc(YAMLJ_MAX_ANCHORS, sizeof(*c->anchors))))
        goto nomem;
    if (!(ix = json_integer((json_int_t)c->nanchors)) ||
        json_object_set_new(c->anchor_ix, name, ix))
        goto nomem;
    c->anchors[c->nanchors++] = (struct anchor){json_incref(v), nodes, height};
    return true;
nomem:
    yerr(c, m, "out of memory");
    return false;
}

/* Attaches v (taken) to the open collection, or makes it the root. */
static bool attach(struct ctx *c, const struct fy_mark *m, json_t *v, size_t height)
{
    struct frame *f = c->depth ? &c->st[c->depth - 1] : NULL;
    int r;

    if (!v) {
        yerr(c, m, "out of memory or invalid UTF-8");
        return false;
    }
    if (!f) {
        c->root = v;
        return true;
    }
    if (f->height < height + 1)
        f->height = height + 1;
    if (json_is_object(f->node)) {
        r = json_object_set_new(f->node, f->key, v);
        free(f->key);
        f->key = NULL;
    } else {
        r = json_array_append_new(f->node, v);
    }
    if (r) {
        yerr(c, m, "out of memory");
        return false;
    }
    return true;
}

static bool want_key(const struct ctx *c)
{
    return c->depth && json_is_object(c->st[c->depth - 1].node) && !c->st[c->depth - 1].key;
}

static bool on_key(struct ctx *c, struct fy_event *e)
{
    struct frame *f = &c->st[c->depth - 1];
    const struct fy_mark *m = fy_event_start_mark(e);
    size_t len = 0;
    const char *text = fy_token_get_text(e->scalar.value, &len);

    if (!text)
        text = "";
    if (memchr(text, '\0', len)) {
        yerr(c, m, "a key cannot hold a NUL");
        return false;
    }
    if (!(f->key = strndup(text, len))) {
        yerr(c, m, "out of memory");
        return false;
    }
    if (fy_token_scalar_style(e->scalar.value) == FYSS_PLAIN && !strcmp(f->key, "<<")) {
        yerr(c, m, "merge keys (<<) are not supported");
        return false;
    }
    if (json_object_get(f->node, f->key)) {
        yerr(c, m, "duplicate key \"%.80s\"", f->key);
        return false;
    }
    return true;
}

static bool on_scalar(struct ctx *c, struct fy_event *e)
{
    const struct fy_mark *m = fy_event_start_mark(e);
    json_t *v;
    char *anchor;

    if (want_key(c))
        return on_key(c, e);
    if (!count_nodes(c, m, 1) || !(v = scalar_value(c, e)))
        return false;
    if (e->scalar.anchor) {
        bool ok = (anchor = token_str(e->scalar.anchor)) && add_anchor(c, m, anchor, v, 1, 0);
        free(anchor);
        if (!ok) {
            json_decref(v);
            yerr(c, m, "out of memory");
            return false;
        }
    }
    return attach(c, m, v, 0);
}

static bool on_alias(struct ctx *c, struct fy_event *e)
{
    const struct fy_mark *m = fy_event_start_mark(e);
    char *name = token_str(e->alias.anchor);
    json_t *ix = name && c->anchor_ix ? json_object_get(c->anchor_ix, name) : NULL;
    const struct anchor *a;
    json_t *v;

    if (want_key(c)) {
        yerr(c, m, "an alias cannot be a key");
        free(name);
        return false;
    }
    if (!ix) {
        yerr(c, m, "alias *%.60s: no such anchor before it (or a recursive one)",
             name ? name : "?");
        free(name);
        return false;
    }
    free(name);
    a = &c->anchors[json_integer_value(ix)];
    if (c->depth + a->height > c->max_depth) {
        yerr(c, m, "nested deeper than %zu (aliases expanded)", c->max_depth);
        return false;
    }
    if (!count_nodes(c, m, a->nodes))
        return false;
    v = json_is_object(a->value) || json_is_array(a->value) ? json_deep_copy(a->value)
                                                            : json_incref(a->value);
    return attach(c, m, v, a->height);
}

static bool collection_tag_ok(struct ctx *c, struct fy_event *e, struct fy_token *tag, bool map)
{
    size_t tlen = 0;
    const char *t = tag ? fy_token_get_text(tag, &tlen) : NULL;
    const char *ok = map ? TAG_PREFIX "map" : TAG_PREFIX "seq";

    if (!t || (tlen == strlen(ok) && !memcmp(t, ok, tlen)) || (tlen == 1 && t[0] == '!'))
        return true;
    yerr(c, fy_event_start_mark(e), "unsupported tag %.*s", (int)(tlen < 60 ? tlen : 60), t);
    return false;
}

static bool on_start(struct ctx *c, struct fy_event *e, bool map)
{
    const struct fy_mark *m = fy_event_start_mark(e);
    struct fy_token *tag = map ? e->mapping_start.tag : e->sequence_start.tag;
    struct fy_token *anchor = map ? e->mapping_start.anchor : e->sequence_start.anchor;
    struct frame *f;

    if (want_key(c)) {
        yerr(c, m, "a key must be a scalar");
        return false;
    }
    if (!collection_tag_ok(c, e, tag, map))
        return false;
    if (c->depth == c->max_depth) {
        yerr(c, m, "nested deeper than %zu", c->max_depth);
        return false;
    }
    if (!count_nodes(c, m, 1))
        return false;
    f = &c->st[c->depth];
    *f = (struct frame){.node = map ? json_object() : json_array(),
                        .nodes0 = c->nodes - 1,
                        .height = 1,
                        .line = m ? m->line + 1 : 0};
    if (!f->node || (anchor && !(f->anchor = token_str(anchor)))) {
        json_decref(f->node);
        yerr(c, m, "out of memory");
        return false;
    }
    c->depth++;
    return true;
}

static bool on_end(struct ctx *c, struct fy_event *e)
{
    const struct fy_mark *m = fy_event_start_mark(e);
    struct frame f = c->st[--c->depth];
    bool ok = true;

    if (f.anchor)
        ok = add_anchor(c, m, f.anchor, f.node, c->nodes - f.nodes0, f.height);
    free(f.anchor);
    if (ok && c->o && c->o->on_collection)
        c->o->on_collection(c->o->ud, f.node, c->depth + 1, f.line);
    if (!ok) {
        json_decref(f.node);
        return false;
    }
    return attach(c, m, f.node, f.height);
}

static bool step(struct ctx *c, struct fy_event *e)
{
    switch (e->type) {
    case FYET_DOCUMENT_START:
        if (++c->docs > 1) {
            yerr(c, fy_event_start_mark(e), "more than one document (one is expected)");
            return false;
        }
        return true;
    case FYET_MAPPING_START:
        return on_start(c, e, true);
    case FYET_SEQUENCE_START:
        return on_start(c, e, false);
    case FYET_MAPPING_END:
    case FYET_SEQUENCE_END:
        return on_end(c, e);
    case FYET_SCALAR:
        return on_scalar(c, e);
    case FYET_ALIAS:
        return on_alias(c, e);
    default:
        return true;
    }
}

static void syntax_error(struct ctx *c, struct fy_diag *diag)
{
    void *it = NULL;
    struct fy_diag_error *de = diag ? fy_diag_errors_iterate(diag, &it) : NULL;
    struct fy_mark m = {0, 0, 0};

    if (!de) {
        yerr(c, NULL, "YAML syntax error");
        return;
    }
    m.line = de->line - 1;
    m.column = de->column - 1;
    yerr(c, &m, "%.*s", YAMLJ_ERR_MSG, de->msg ? de->msg : "YAML syntax error");
}

static void ctx_clear(struct ctx *c)
{
    while (c->depth) {
        struct frame *f = &c->st[--c->depth];
        json_decref(f->node);
        free(f->key);
        free(f->anchor);
    }
    for (size_t i = 0; i < c->nanchors; i++)
        json_decref(c->anchors[i].value);
    free(c->anchors);
    json_decref(c->anchor_ix);
    free(c->st);
}

/* True, with its position in *m, if the text holds a byte that is not UTF-8. YAML is UTF-8, and
 * libfyaml 0.7 loops forever on a directive holding invalid UTF-8 ("%l\x96i"), so the text is
 * checked before the parser sees it. */
static bool bad_utf8(const char *text, size_t len, struct fy_mark *m)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t bol = 0;

    memset(m, 0, sizeof(*m));
    for (size_t i = 0, n; i < len; i += n) {
        n = utf8_seq_len(p + i, len - i);
        if (n == 0) {
            m->input_pos = i;
            m->column = (int)(i - bol);
            return true;
        }
        if (p[i] == '\n') {
            m->line++;
            bol = i + 1;
        }
    }
    return false;
}

json_t *yamlj_load_ex(const char *name, const char *text, size_t len, const struct yamlj_opts *opts,
                      char *err, size_t errlen)
{
    size_t max_bytes = opts && opts->max_bytes ? opts->max_bytes : YAMLJ_MAX_BYTES;
    struct ctx c = {.name = name, .o = opts, .err = err, .errlen = errlen};
    struct fy_diag_cfg dcfg;
    struct fy_diag *diag = NULL;
    struct fy_parse_cfg pcfg = {0};
    struct fy_parser *p = NULL;
    struct fy_event *e;
    struct fy_mark bad;
    json_t *out = NULL;

    c.max_nodes = opts && opts->max_nodes ? opts->max_nodes : YAMLJ_MAX_NODES;
    c.max_depth = opts && opts->max_depth ? opts->max_depth : YAMLJ_MAX_DEPTH;
    if (len > max_bytes) {
        yerr(&c, NULL, "larger than %zu bytes", max_bytes);
        return NULL;
    }
    if (bad_utf8(text, len, &bad)) {
        yerr(&c, &bad, "invalid UTF-8");
        return NULL;
    }
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = NULL;
    dcfg.level = FYET_ERROR;
    if (!(c.st = calloc(c.max_depth, sizeof(*c.st))) || !(diag = fy_diag_create(&dcfg))) {
        yerr(&c, NULL, "out of memory");
        goto out;
    }
    fy_diag_set_collect_errors(diag, true);
    pcfg.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_JSON_NONE;
    pcfg.diag = diag;
    if (!(p = fy_parser_create(&pcfg)) || fy_parser_set_string(p, text, len) != 0) {
        yerr(&c, NULL, "cannot start the YAML parser");
        goto out;
    }
    while (!c.failed && (e = fy_parser_parse(p))) {
        bool ok = step(&c, e);
        fy_parser_event_free(p, e);
        if (!ok)
            break;
    }
    if (!c.failed && fy_parser_get_stream_error(p))
        syntax_error(&c, diag);
    if (!c.failed) {
        out = c.root ? c.root : json_null();
        c.root = NULL;
    }
out:
    json_decref(c.root);
    ctx_clear(&c);
    if (p)
        fy_parser_destroy(p);
    if (diag)
        fy_diag_destroy(diag);
    return out;
}

json_t *yamlj_load_string(const char *text, size_t len, size_t max_bytes, char *err, size_t errlen)
{
    struct yamlj_opts o = {.max_bytes = max_bytes};

    return yamlj_load_ex(NULL, text, len, &o, err, errlen);
}

json_t *yamlj_load_file_ex(const char *path, const struct yamlj_opts *opts, char *err,
                           size_t errlen)
{
    size_t max_bytes = opts && opts->max_bytes ? opts->max_bytes : YAMLJ_MAX_BYTES, n = 0;
    char *buf = NULL;
    json_t *out = NULL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || (uintmax_t)st.st_size > max_bytes) {
        snprintf(err, errlen, "%s: %s", path,
                 S_ISREG(st.st_mode) ? "larger than the limit" : "not a regular file");
        goto out;
    }
    /* One byte more than fstat said, to notice a file that grew meanwhile. */
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    while (n <= (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n != (size_t)st.st_size) {
        snprintf(err, errlen, "%s: changed while being read", path);
        goto out;
    }
    out = yamlj_load_ex(path, buf, n, opts, err, errlen);
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return out;
}

json_t *yamlj_load_file(const char *path, size_t max_bytes, char *err, size_t errlen)
{
    struct yamlj_opts o = {.max_bytes = max_bytes};

    return yamlj_load_file_ex(path, &o, err, errlen);
}
