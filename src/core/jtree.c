#include "core/jtree.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/jscan.h"
#include "util/arena.h"

#define UNESC_STACK 256 /* escaped strings up to this many bytes are unescaped on the stack */

static json_t *value(struct jscan *s);

/* Calls fn(text, len, ud) with the checked string's unescaped bytes: the raw ones when it has no
 * escape, else a copy (escapes only ever shorten a string). */
static json_t *with_text(const struct jstr *str, json_t *(*fn)(const char *, size_t, void *),
                         void *ud)
{
    size_t raw = (size_t)(str->e - str->b), n;
    char stack[UNESC_STACK], *d;
    json_t *v;

    if (!str->esc)
        return fn(str->b, raw, ud);
    d = raw <= sizeof(stack) ? stack : malloc(raw);
    if (!d)
        return NULL;
    n = jscan_unescape(str->b, str->e, d);
    v = fn(d, n, ud);
    if (d != stack)
        free(d);
    return v;
}

static json_t *make_string(const char *p, size_t n, void *ud)
{
    (void)ud;
    return json_stringn_nocheck(p, n);
}

struct member {
    json_t *obj, *val;
};

/* Sets the member (the value is taken either way); returns the object, NULL on a failure. */
static json_t *set_member(const char *key, size_t n, void *ud)
{
    struct member *m = ud;

    return json_object_setn_new_nocheck(m->obj, key, n, m->val) ? NULL : m->obj;
}

static json_t *container(struct jscan *s, bool object)
{
    json_t *c = object ? json_object() : json_array();
    bool more;
    int rc = c ? jscan_enter(s) : TOCSIN_ENOMEM;

    for (bool first = true; !rc; first = false) {
        struct jstr k;
        json_t *v;
        rc = object ? jscan_obj_step(s, first, &more) : jscan_arr_step(s, first, &more);
        if (rc || !more)
            break;
        if (object && ((rc = jscan_string(s, &k)) || (rc = jscan_colon(s))))
            break;
        if (!(v = value(s))) {
            rc = TOCSIN_EINVAL;
            break;
        }
        if (object) {
            struct member m = {c, v};
            if (!with_text(&k, set_member, &m))
                rc = TOCSIN_ENOMEM;
        } else if (json_array_append_new(c, v)) {
            rc = TOCSIN_ENOMEM;
        }
    }
    if (rc) {
        json_decref(c);
        return NULL;
    }
    jscan_leave(s);
    return c;
}

static json_t *value(struct jscan *s)
{
    int ch = jscan_peek(s);

    if (ch == '{' || ch == '[')
        return container(s, ch == '{');
    if (ch == '"') {
        struct jstr str;
        return jscan_string(s, &str) ? NULL : with_text(&str, make_string, NULL);
    }
    if (ch == 't' || ch == 'f' || ch == 'n') {
        const char *t;
        if (jscan_literal(s, &t))
            return NULL;
        return t[0] == 't' ? json_true() : t[0] == 'f' ? json_false() : json_null();
    }
    if (ch == '-' || jscan_is_digit(ch)) {
        struct jnum n;
        if (jscan_number(s, &n))
            return NULL;
        return n.is_int ? json_integer((json_int_t)n.i) : json_real(n.d);
    }
    jscan_syn(s, s->p, ch < 0 ? "unexpected end of input" : "unexpected character");
    return NULL;
}

/* Whether jansson may accept a text jscan refused: past jscan's nesting limit or with a NUL byte
 * in it (the deliberate differences of jscan.h), or when the refusal was no syntax error (memory).
 * Any other text both refuse, so there is no point in parsing it again. */
static bool jansson_may_accept(const struct jscan *s, const char *buf, size_t len)
{
    return !s->syn_at || s->depth >= JSCAN_MAX_NEST || memchr(buf, '\0', len);
}

/* The arena of a scan of len bytes: jscan copies only a real too long for its stack buffer, its
 * own text, so twice the text (8-byte rounding) is room enough. */
static void arena_for(struct arena *a, size_t len)
{
    arena_init(a, 2 * len + 64);
}

/* After a value: only whitespace is left. */
static bool at_end(struct jscan *s)
{
    jscan_ws(s);
    return s->p == s->end;
}

/* The object or array that is all of buf; NULL with *retry when jansson may accept it. */
static json_t *load(const char *buf, size_t len, bool *retry)
{
    struct jscan s;
    struct arena a;
    json_t *v = NULL;
    int ch;

    arena_for(&a, len); /* no string is carved from it: jtree copies into jansson's */
    jscan_init(&s, buf, len, &a);
    jscan_ws(&s);
    ch = jscan_peek(&s);
    if (ch == '{' || ch == '[')
        v = container(&s, ch == '{');
    if (v && !at_end(&s)) {
        json_decref(v);
        v = NULL;
    }
    *retry = !v && jansson_may_accept(&s, buf, len);
    arena_free(&a);
    return v;
}

json_t *jtree_load(const char *buf, size_t len)
{
    bool retry;

    return buf ? load(buf, len, &retry) : NULL;
}

json_t *jtree_load_or_jansson(const char *buf, size_t len)
{
    bool retry = false;
    json_t *v = buf ? load(buf, len, &retry) : NULL;

    return v || !retry ? v : json_loadb(buf, len, 0, NULL);
}

bool jtree_is_json(const char *buf, size_t len)
{
    struct jscan s;
    struct arena a;
    bool ok, retry;
    json_t *v;

    if (!buf)
        return false;
    arena_for(&a, len);
    jscan_init(&s, buf, len, &a);
    jscan_ws(&s);
    ok = !jscan_skip_value(&s) && at_end(&s);
    retry = !ok && jansson_may_accept(&s, buf, len);
    arena_free(&a);
    if (!retry)
        return ok;
    v = json_loadb(buf, len, JSON_DECODE_ANY, NULL);
    ok = v != NULL;
    json_decref(v);
    return ok;
}
