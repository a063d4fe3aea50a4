/* A strict, single-pass JSON reader for Gravitee AE events (see event_parse.h).
 *
 * Shape: a recursive-descent reader over the body, on the JSON scanner core/jscan.h shares with
 * compat/alerta_parse.c (cursor, strings, numbers, skipping, compact dumps, the repeated-key set);
 * its recursion is bounded by JSCAN_MAX_NEST. Every value is read by one of four families:
 *  - jscan_skip_value  checks a value that cannot change the result (unknown keys, rejected ones);
 *  - scalar_value / props_object / ctx_object read what event_from_json looks at;
 *  - array_value rewrites an array property as jansson's json_dumps(JSON_COMPACT) would;
 *  - top-level: event_object, event_array, event_parse.
 * Semantic errors never stop the reader: the state of each top-level field is recorded and the
 * first error is chosen in event_from_json's order when the object closes, and the rest of the
 * body is still checked, so malformed JSON anywhere wins as it does with json_loadb.
 *
 * Duplicate keys: jansson keeps the last value in the first key's place. Keys of every object that
 * can change the result go through the scanner's key sets; a (possible) repeat sets c->js.dup,
 * and the event is then re-read by jansson + event_from_json. A hash collision only costs that
 * slow path, never a wrong answer. */
#include "core/event_parse.h"

#include <stdint.h>
#include <string.h>

#include "core/jscan.h"
#include "util/err.h"

#define NAME_MAX_BYTES 511              /* longest dotted property name (event_from_json) */
#define TYPE_MAX_BYTES 256              /* longest event type (event_from_json) */
#define CTX_SLOTS (EVENT_MAX_PROPS + 1) /* context entries that can matter, see ctx_object */
#define DUMP_INLINE 1024 /* array text kept on the stack before it moves to the arena */
#define TWO_63 9223372036854775808.0

_Static_assert(EVENT_PARSE_MAX_NEST == JSCAN_MAX_NEST, "the scanner bounds the nesting");

enum fstate { F_ABSENT = 0, F_OK, F_BAD, F_LONG };
enum perr { PE_NONE = 0, PE_DEPTH, PE_NAME, PE_MANY };
enum tkey { K_OTHER = 0, K_ID, K_TYPE, K_TS, K_PROPS, K_CTX };

/* What one event object said so far; turned into an event or an error when it closes. A key that
 * may repeat sets c->js.dup: the event is re-read with jansson. */
struct evstate {
    const char *begin;
    enum fstate type_st, id_st, ts_st, props_st, ctx_st;
    enum perr perr; /* first flattening error, in document order */
    bool seen_props, seen_ctx;
    const char *type, *id;
    int64_t ts;
    uint32_t nprops, nctx;
};

struct pctx {
    struct jscan js;
    bool has_sem;
    struct verr sem; /* first semantic error */
    struct evstate ev;
    struct event *evs;
    size_t nevs, evcap, nseen, first_cap, max_events;
    char name[NAME_MAX_BYTES + 1];
    uint32_t plen[EVENT_MAX_PROPS];
    struct prop props[EVENT_MAX_PROPS];
    uint32_t clen[CTX_SLOTS];
    bool cbad[CTX_SLOTS];
    struct prop ctx[CTX_SLOTS];
    struct jdump dump;
    char dump_inline[DUMP_INLINE];
};

static int props_object(struct pctx *c, size_t plen, int fdepth);

/* ---- values ---- */

static int num_value(struct pctx *c, const struct jnum *n, struct value *v)
{
    char tmp[JSCAN_NUM_TEXT];
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
        len = jscan_real_text(n->d, tmp, sizeof(tmp));
    }
    v->str = jscan_sdup(&c->js, s, len);
    v->slen = (uint32_t)len;
    return v->str ? TOCSIN_OK : TOCSIN_ENOMEM;
}

/* Reads a string, number, true, false or null at the cursor as set_value() would. */
static int scalar_value(struct pctx *c, struct value *v)
{
    int ch = jscan_peek(&c->js), rc;

    v->num = 0;
    if (ch == '"') {
        struct jstr s;
        size_t len;
        if ((rc = jscan_string(&c->js, &s)))
            return rc;
        v->type = VAL_STR;
        if (!(v->str = jscan_str_copy(&c->js, &s, &len)))
            return TOCSIN_ENOMEM;
        if (len > UINT32_MAX)
            return TOCSIN_ETOOBIG;
        v->slen = (uint32_t)len;
        return TOCSIN_OK;
    }
    if (ch == 't' || ch == 'f' || ch == 'n') {
        const char *t;
        if ((rc = jscan_literal(&c->js, &t)))
            return rc;
        v->type = *t == 'n' ? VAL_NULL : VAL_BOOL;
        v->num = *t == 't' ? 1 : 0;
        v->str = *t == 'n' ? "" : t;
        v->slen = (uint32_t)strlen(v->str);
        return TOCSIN_OK;
    }
    if (ch == '-' || jscan_is_digit(ch)) {
        struct jnum n;
        if ((rc = jscan_number(&c->js, &n)))
            return rc;
        return num_value(c, &n, v);
    }
    return jscan_syn(&c->js, c->js.p, ch < 0 ? "unexpected end of input" : "unexpected character");
}

/* An array property: a VAL_STR holding its compact JSON text. */
static int array_value(struct pctx *c, struct value *v)
{
    struct jdump *d = &c->dump;
    int rc;

    d->p = c->dump_inline;
    d->n = 0;
    d->cap = sizeof(c->dump_inline);
    d->grow = true;
    d->in_arena = false;
    if ((rc = jscan_dump_value(&c->js, d)) || (rc = jscan_droom(&c->js, d, 1)))
        return rc;
    d->p[d->n] = '\0';
    if (d->n > UINT32_MAX)
        return TOCSIN_ETOOBIG;
    v->type = VAL_STR;
    v->num = 0;
    v->slen = (uint32_t)d->n;
    v->str = d->in_arena ? d->p : jscan_sdup(&c->js, d->p, d->n);
    return v->str ? TOCSIN_OK : TOCSIN_ENOMEM;
}

/* ---- properties and context ---- */

/* Writes the key's component of the dotted name at c->name + off; false if the name would pass
 * 511 bytes (event_from_json's limit). */
static bool name_part(struct pctx *c, const struct jstr *k, size_t off, size_t *klen)
{
    size_t raw = (size_t)(k->e - k->b), room;

    if (off > NAME_MAX_BYTES)
        return false;
    room = NAME_MAX_BYTES - off;
    if (raw > room && (!k->esc || jscan_unescape(k->b, k->e, NULL) > room))
        return false;
    if (k->esc) {
        *klen = jscan_unescape(k->b, k->e, c->name + off);
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
        return jscan_skip_value(&c->js);
    if (e->nprops >= EVENT_MAX_PROPS) {
        e->perr = PE_MANY;
        return jscan_skip_value(&c->js);
    }
    p = &c->props[e->nprops];
    if (!(p->key = jscan_sdup(&c->js, c->name, nlen)))
        return TOCSIN_ENOMEM;
    rc = jscan_peek(&c->js) == '[' ? array_value(c, &p->v) : scalar_value(c, &p->v);
    if (rc)
        return rc;
    c->plen[e->nprops++] = (uint32_t)nlen;
    return TOCSIN_OK;
}

/* One key of a properties object, as flatten() treats it. */
static int prop_member(struct pctx *c, struct jkset *ks, size_t plen, int fdepth)
{
    struct jstr k;
    size_t off = plen + (plen ? 1 : 0), klen = 0;
    bool fits;
    int rc = jscan_string(&c->js, &k);

    if (rc)
        return rc;
    if (plen)
        c->name[plen] = '.';
    fits = name_part(c, &k, off, &klen);
    if (fits)
        jscan_kset_add(&c->js, ks, jscan_key_hash(c->name + off, klen));
    if ((rc = jscan_colon(&c->js)))
        return rc;
    if (!fits) {
        c->ev.perr = c->ev.perr ? c->ev.perr : PE_NAME;
        return jscan_skip_value(&c->js);
    }
    if (jscan_peek(&c->js) != '{')
        return prop_leaf(c, off + klen);
    if (fdepth + 1 > EVENT_MAX_DEPTH) {
        c->ev.perr = c->ev.perr ? c->ev.perr : PE_DEPTH;
        return jscan_skip_value(&c->js);
    }
    return props_object(c, off + klen, fdepth + 1);
}

/* A properties object at the cursor, flattened under the first `plen` bytes of c->name. */
static int props_object(struct pctx *c, size_t plen, int fdepth)
{
    struct jkset ks;
    bool more;
    int rc = jscan_enter(&c->js);

    jscan_kset_begin(&c->js, &ks);
    for (bool first = true; !rc; first = false) {
        if ((rc = jscan_obj_step(&c->js, first, &more)) || !more)
            break;
        rc = prop_member(c, &ks, plen, fdepth);
    }
    jscan_kset_end(&c->js, &ks);
    if (!rc)
        jscan_leave(&c->js);
    return rc;
}

/* One context entry. Only the first CTX_SLOTS entries are kept: with at most 256 properties and
 * no repeated key, entry 257 is always reached only after an error (a bad value or the 257th
 * property), so later entries cannot change the result. */
static int ctx_member(struct pctx *c, struct jkset *ks)
{
    struct evstate *e = &c->ev;
    struct jstr k;
    size_t klen;
    const char *key;
    int rc = jscan_string(&c->js, &k), ch;

    if (rc)
        return rc;
    if (!(key = jscan_str_copy(&c->js, &k, &klen)))
        return TOCSIN_ENOMEM;
    jscan_kset_add(&c->js, ks, jscan_key_hash(key, klen));
    if ((rc = jscan_colon(&c->js)))
        return rc;
    ch = jscan_peek(&c->js);
    if (e->nctx >= CTX_SLOTS)
        return jscan_skip_value(&c->js);
    c->ctx[e->nctx].key = key;
    c->clen[e->nctx] = (uint32_t)klen;
    c->cbad[e->nctx] = ch == '{' || ch == '[';
    rc = c->cbad[e->nctx] ? jscan_skip_value(&c->js) : scalar_value(c, &c->ctx[e->nctx].v);
    e->nctx++;
    return rc;
}

static int ctx_object(struct pctx *c)
{
    struct jkset ks;
    bool more;
    int rc = jscan_enter(&c->js);

    jscan_kset_begin(&c->js, &ks);
    for (bool first = true; !rc; first = false) {
        if ((rc = jscan_obj_step(&c->js, first, &more)) || !more)
            break;
        rc = ctx_member(c, &ks);
    }
    jscan_kset_end(&c->js, &ks);
    if (!rc)
        jscan_leave(&c->js);
    return rc;
}

/* ---- the event object ---- */

static enum tkey top_key(const struct jstr *k)
{
    char tmp[64];
    const char *s = k->b;
    size_t n = (size_t)(k->e - k->b);

    if (k->esc) {
        if (n > sizeof(tmp))
            return K_OTHER;
        n = jscan_unescape(k->b, k->e, tmp);
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
    int ch = jscan_peek(&c->js), rc;
    struct jstr s;
    size_t len;

    *out = NULL;
    if (ch != '"') {
        *st = jscan_at_null(&c->js) ? F_ABSENT : F_BAD;
        return jscan_skip_value(&c->js);
    }
    if ((rc = jscan_string(&c->js, &s)))
        return rc;
    if (!(*out = jscan_str_copy(&c->js, &s, &len)))
        return TOCSIN_ENOMEM;
    *st = !is_type ? F_OK : len == 0 ? F_BAD : len > TYPE_MAX_BYTES ? F_LONG : F_OK;
    return TOCSIN_OK;
}

static int ts_field(struct pctx *c)
{
    struct evstate *e = &c->ev;
    int ch = jscan_peek(&c->js), rc;
    struct jnum n;

    e->ts = 0;
    if (ch != '-' && !jscan_is_digit(ch)) {
        e->ts_st = jscan_at_null(&c->js) ? F_ABSENT : F_BAD;
        return jscan_skip_value(&c->js);
    }
    if ((rc = jscan_number(&c->js, &n)))
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
    int ch = jscan_peek(&c->js);

    if (*seen)
        c->js.dup = true;
    *seen = true;
    if (ch == '{') {
        *st = F_OK;
        return props ? props_object(c, 0, 0) : ctx_object(c);
    }
    *st = jscan_at_null(&c->js) ? F_ABSENT : F_BAD;
    return jscan_skip_value(&c->js);
}

static int top_member(struct pctx *c, bool live)
{
    struct jstr k;
    int rc = jscan_string(&c->js, &k);

    if (rc || (rc = jscan_colon(&c->js)))
        return rc;
    if (!live)
        return jscan_skip_value(&c->js);
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
        return jscan_skip_value(&c->js);
    }
}

/* An event object at the cursor; with !live it is only checked. */
static int event_object(struct pctx *c, bool live)
{
    bool more;
    int rc;

    memset(&c->ev, 0, sizeof(c->ev));
    c->ev.begin = c->js.p;
    c->js.dup = false;
    c->js.nkeys = 0;
    rc = jscan_enter(&c->js);
    for (bool first = true; !rc; first = false) {
        if ((rc = jscan_obj_step(&c->js, first, &more)) || !more)
            break;
        rc = top_member(c, live);
    }
    if (!rc)
        jscan_leave(&c->js);
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
    out->props = arena_alloc(c->js.a, sizeof(struct prop) * (n ? n : 1));
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
    json_t *j = json_loadb(c->ev.begin, (size_t)(c->js.p - c->ev.begin), 0, &je), *ts;
    int rc;

    if (!j)
        return jscan_syn(&c->js, c->ev.begin, "rejected by jansson");
    ts = json_object_get(j, "timestamp");
    if (json_is_real(ts) && !(json_real_value(ts) >= -TWO_63 && json_real_value(ts) < TWO_63))
        json_object_set_new(j, "timestamp", json_string("out of range"));
    rc = event_from_json(j, c->js.a, out, &c->sem);
    json_decref(j);
    return rc;
}

/* Appends to the events array. When it is full, the new size is estimated from the bytes read
 * per event so far, so a batch of like events is allocated once. */
static int push_event(struct pctx *c, const struct event *ev)
{
    if (c->nevs == c->evcap) {
        size_t read = (size_t)(c->js.p - c->js.buf), left = (size_t)(c->js.end - c->js.p);
        size_t per = left / (read ? read : 1), seen = c->nevs + 1;
        size_t est = per < (c->max_events - seen) / seen ? seen * (per + 1) : c->max_events;
        size_t cap = c->evcap ? c->evcap + c->evcap / 2 : c->first_cap;
        struct event *ne;
        est = est < SIZE_MAX / 2 ? est + est / 8 : est;
        cap = est > cap ? est : cap;
        cap = cap > c->max_events ? c->max_events : cap;
        if (cap <= c->nevs || cap > SIZE_MAX / sizeof(*ne))
            return TOCSIN_ENOMEM;
        ne = arena_alloc(c->js.a, cap * sizeof(*ne));
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
    rc = c->js.dup ? reread(c, &ev) : finish_event(c, &ev);
    if (rc == TOCSIN_EINVAL && !c->js.syn_at) { /* a semantic error: keep checking the body */
        if (in_array)
            verr_prefix_index(&c->sem, "", index);
        c->has_sem = true;
        return TOCSIN_OK;
    }
    return rc ? rc : push_event(c, &ev);
}

static int event_array(struct pctx *c)
{
    bool more;
    int rc = jscan_enter(&c->js);

    for (bool first = true; !rc; first = false) {
        bool live;
        if ((rc = jscan_arr_step(&c->js, first, &more)) || !more)
            break;
        live = !c->has_sem && c->nseen < c->max_events;
        if (jscan_peek(&c->js) == '{') {
            rc = one_event(c, live, c->nseen, true);
        } else {
            if (live) {
                verr_set(&c->sem, "", "an event must be a JSON object");
                verr_prefix_index(&c->sem, "", c->nseen);
                c->has_sem = true;
            }
            rc = jscan_skip_value(&c->js);
        }
        c->nseen++;
    }
    if (!rc)
        jscan_leave(&c->js);
    return rc;
}

/* ---- entry point ---- */

static void ctx_init(struct pctx *c, const char *buf, size_t len, struct arena *a,
                     size_t max_events)
{
    jscan_init(&c->js, buf, len, a);
    c->has_sem = false;
    c->sem.status = 0;
    c->evs = NULL;
    c->nevs = c->evcap = c->nseen = 0;
    c->first_cap = 1;
    c->max_events = max_events;
}

static int parse_body(struct pctx *c, bool *was_array)
{
    int rc, ch;

    jscan_ws(&c->js);
    ch = jscan_peek(&c->js);
    if (ch == '{') {
        rc = one_event(c, c->max_events >= 1, 0, false);
        c->nseen = 1;
    } else if (ch == '[') {
        *was_array = true;
        c->first_cap = 8;
        rc = event_array(c);
    } else {
        rc = jscan_skip_value(&c->js);
        if (!rc && !c->has_sem) {
            verr_set(&c->sem, "body", "expected an event object or an array of events");
            c->has_sem = true;
        }
    }
    if (!rc) {
        jscan_ws(&c->js);
        if (c->js.p != c->js.end)
            rc = jscan_syn(&c->js, c->js.p, "unexpected data after the JSON value");
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
    rc = parse_body(&c, was_array);
    if (rc)
        return jscan_fail(&c.js, rc, err);
    if (c.nseen > max_events)
        return jscan_batch_error(err, c.nseen, max_events, "events");
    if (c.has_sem) {
        *err = c.sem;
        return TOCSIN_EINVAL;
    }
    *evs = c.nevs ? c.evs : NULL;
    *n = c.nevs;
    return TOCSIN_OK;
}
