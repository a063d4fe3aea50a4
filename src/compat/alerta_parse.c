/* A strict, single-pass reader of Alerta alerts (see alerta_parse.h).
 *
 * Shape: a recursive-descent reader over the body, on the JSON scanner core/jscan.h shares with
 * core/event_parse.c (cursor, strings, numbers, skipping, compact dumps, the repeated-key set);
 * its recursion is bounded by JSCAN_MAX_NEST. Every value is read by one of four families:
 *  - jscan_skip_value  checks a value that cannot change the result (unknown keys, rejected ones);
 *  - dump_json  rewrites an attribute value or rawData as json_dumps(JSON_COMPACT) would;
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

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/jscan.h"
#include "util/err.h"

#define MAP_LINEAR 16  /* map entries looked up linearly before the table is built */
#define MAP_SLOTS 1024 /* table of map entries (a power of 2, > 2 * ALERT_MAX_ITEMS) */
#define MIN_ALERT 28   /* bytes of the smallest valid alert: {"resource":"r","event":"e"} */
#define MSG_CLIP 64    /* bytes of a sent value or key quoted in an error */

_Static_assert(ALERTA_PARSE_MAX_NEST == JSCAN_MAX_NEST, "the scanner bounds the nesting");

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

struct pctx {
    struct jscan js; /* dup: the dumped value may repeat a key, jansson re-dumps it */
    const struct sevmap *sev;
    bool has_sem;
    struct verr sem; /* first semantic error */
    /* the alert being read */
    struct alert_in cur;
    uint32_t errmask; /* FBIT(f): fe[f] holds an error */
    struct ferr fe[F_COUNT];
    /* the alerts read */
    struct alert_in *outs;
    size_t nout, outcap, nseen, first_cap, max_alerts;
    /* lists and maps */
    const char *items[ALERT_MAX_ITEMS];
    struct mapent ents[ALERT_MAX_ITEMS];
    uint16_t slot[MAP_SLOTS]; /* entry index + 1, 0: free */
    char scratch[ALERT_MAX_ATTR_VALUE + 1];
};

/* ---- dumps: jansson's compact text ---- */

/* The value [b, e) (checked) re-dumped by jansson, for a repeated key: jansson keeps the last
 * value in the first key's place, as Python does. */
static int redump(struct pctx *c, const char *b, const char *e, struct jdump *d)
{
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    json_error_t je;
    json_t *j = json_loadb(b, (size_t)(e - b), JSON_DECODE_ANY, &je);
    size_t need;

    if (!j)
        return jscan_syn(&c->js, b, "rejected by jansson");
    need = json_dumpb(j, NULL, 0, flags);
    d->n = need;
    if (need && need <= d->cap)
        json_dumpb(j, d->p, d->cap, flags);
    json_decref(j);
    return need ? TOCSIN_OK : TOCSIN_ENOMEM;
}

/* Dumps the value at the cursor into d: d->n is its full length, written only if <= d->cap. */
static int dump_json(struct pctx *c, struct jdump *d)
{
    const char *b = c->js.p;
    int rc;

    c->js.dup = false;
    c->js.nkeys = 0;
    if ((rc = jscan_dump_value(&c->js, d)))
        return rc;
    return c->js.dup ? redump(c, b, c->js.p, d) : TOCSIN_OK;
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
static void ferr_quote(struct pctx *c, enum fid f, enum ecode code, const struct jstr *s,
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
    struct jstr s;
    uint8_t id[16];
    size_t len;
    int rc;

    *out = NULL;
    if (jscan_peek(&c->js) != '"') {
        bool null = jscan_at_null(&c->js);
        rc = jscan_skip_value(&c->js);
        if (!null)
            ferr(c, f, E_NOT_STRING);
        else if (d->opts & O_REQUIRED)
            ferr(c, f, E_MISSING);
        return rc;
    }
    if ((rc = jscan_string(&c->js, &s)))
        return rc;
    if (s.b == s.e) { /* "" is absent (Alerta's `or`), except where it is an error */
        if (d->opts & (O_REQUIRED | O_NONEMPTY))
            ferr(c, f, d->opts & O_REQUIRED ? E_MISSING : E_EMPTY);
        return TOCSIN_OK;
    }
    if (jscan_str_longer(&s, d->max)) {
        ferr(c, f, (d->opts & O_UUID) ? E_UUID : E_LONG);
        return TOCSIN_OK;
    }
    if (!(*out = jscan_str_copy(&c->js, &s, &len)))
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
    const char *b = c->js.p;
    struct jstr s;
    size_t len;
    int rc;

    *out = -1;
    if (jscan_peek(&c->js) != '"') {
        bool null = jscan_at_null(&c->js);
        if ((rc = jscan_skip_value(&c->js)) || null)
            return rc;
        ferr_quote(c, f, f == F_SEVERITY ? E_SEVERITY : E_STATUS, NULL, b, c->js.p);
        return TOCSIN_OK;
    }
    if ((rc = jscan_string(&c->js, &s)) || s.b == s.e)
        return rc;
    if ((size_t)(s.e - s.b) < sizeof(tmp)) {
        len = s.esc ? jscan_unescape(s.b, s.e, tmp) : (size_t)(s.e - s.b);
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
    int ch = jscan_peek(&c->js), rc;
    size_t len;

    *out = NULL;
    c->cur.flags |= AIN_VALUE;
    if (ch == '"') {
        struct jstr s;
        if ((rc = jscan_string(&c->js, &s)))
            return rc;
        if (jscan_str_longer(&s, ALERT_MAX_TEXT))
            ferr(c, F_VALUE, E_LONG);
        else if (!(*out = jscan_str_copy(&c->js, &s, &len)))
            return TOCSIN_ENOMEM;
        return TOCSIN_OK;
    }
    if (ch == '-' || jscan_is_digit(ch)) {
        struct jnum n;
        if ((rc = jscan_number(&c->js, &n)))
            return rc;
        len = (size_t)(n.e - n.b);
        if (len > ALERT_MAX_TEXT)
            ferr(c, F_VALUE, E_LONG);
        else if (!(*out = n.is_int && len == 2 && n.b[0] == '-' && n.b[1] == '0'
                              ? "0"
                              : jscan_sdup(&c->js, n.b, len)))
            return TOCSIN_ENOMEM;
        return TOCSIN_OK;
    }
    if (jscan_at_null(&c->js))
        return jscan_skip_value(&c->js);
    rc = jscan_skip_value(&c->js);
    ferr(c, F_VALUE, E_VALUE);
    return rc;
}

static int timeout_field(struct pctx *c)
{
    int ch = jscan_peek(&c->js), rc;
    struct jnum n;
    struct ferr *e;

    c->cur.timeout_s = -1;
    if (ch != '-' && !jscan_is_digit(ch)) {
        bool null = jscan_at_null(&c->js);
        rc = jscan_skip_value(&c->js);
        if (!null)
            ferr(c, F_TIMEOUT, E_NOT_INT);
        return rc;
    }
    if ((rc = jscan_number(&c->js, &n)))
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
    struct jstr s;
    size_t len;
    int rc;

    *out = 0;
    if (jscan_peek(&c->js) != '"') {
        bool null = jscan_at_null(&c->js);
        rc = jscan_skip_value(&c->js);
        if (!null)
            ferr(c, f, E_DATE);
        return rc;
    }
    if ((rc = jscan_string(&c->js, &s)))
        return rc;
    if ((size_t)(s.e - s.b) >= sizeof(tmp)) {
        ferr(c, f, E_DATE);
        return TOCSIN_OK;
    }
    len = s.esc ? jscan_unescape(s.b, s.e, tmp) : (size_t)(s.e - s.b);
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
    const char *b = c->js.p;
    struct jdump d = {c->scratch, 0, sizeof(c->scratch) - 1, false, false};
    struct jstr s;
    size_t len;
    int rc;

    *out = NULL;
    c->cur.flags |= AIN_RAW;
    if (jscan_peek(&c->js) == '"') {
        if ((rc = jscan_string(&c->js, &s)))
            return rc;
        if (jscan_str_longer(&s, ALERT_MAX_RAW))
            ferr(c, F_RAW, E_LONG);
        else if (!(*out = jscan_str_copy(&c->js, &s, &len)))
            return TOCSIN_ENOMEM;
        return TOCSIN_OK;
    }
    if (jscan_at_null(&c->js))
        return jscan_skip_value(&c->js);
    if ((rc = dump_json(c, &d)))
        return rc;
    if (d.n > ALERT_MAX_RAW) {
        ferr(c, F_RAW, E_LONG);
        return TOCSIN_OK;
    }
    if (d.n <= d.cap) {
        *out = jscan_sdup(&c->js, d.p, d.n);
        return *out ? TOCSIN_OK : TOCSIN_ENOMEM;
    }
    len = d.n;
    if (!(d.p = arena_alloc(c->js.a, len + 1)))
        return TOCSIN_ENOMEM;
    d.n = 0;
    d.cap = len;
    c->js.p = b;
    if ((rc = dump_json(c, &d)))
        return rc;
    d.p[len] = '\0';
    *out = d.p;
    return TOCSIN_OK;
}

/* ---- lists ---- */

static int list_item(struct pctx *c, enum fid f, uint32_t idx, uint32_t *n)
{
    struct jstr s;
    size_t len;
    int rc;

    if (jscan_peek(&c->js) != '"') {
        rc = jscan_skip_value(&c->js);
        ferr_item(c, f, E_ITEM_TYPE, idx);
        return rc;
    }
    if ((rc = jscan_string(&c->js, &s)))
        return rc;
    if (jscan_str_longer(&s, fields[f].max)) {
        ferr_item(c, f, E_ITEM_LONG, idx);
    } else if (*n >= ALERT_MAX_ITEMS) {
        ferr(c, f, E_MANY);
    } else if (!(c->items[(*n)++] = jscan_str_copy(&c->js, &s, &len))) {
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
    if (jscan_peek(&c->js) != '[') {
        rc = jscan_skip_value(&c->js);
        ferr(c, f, E_NOT_LIST);
        return rc;
    }
    rc = jscan_enter(&c->js);
    for (bool first = true; !rc; first = false, idx++) {
        if ((rc = jscan_arr_step(&c->js, first, &more)) || !more)
            break;
        rc = list_item(c, f, idx, &n);
    }
    if (rc)
        return rc;
    jscan_leave(&c->js);
    if (n) {
        if (!(out->v = arena_alloc(c->js.a, (n + spare) * sizeof(*out->v))))
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

static bool has_dot_or_dollar(const struct jstr *k)
{
    const char *p = k->b;

    if (!k->esc)
        return memchr(p, '.', (size_t)(k->e - p)) || memchr(p, '$', (size_t)(k->e - p));
    while (p < k->e) {
        uint32_t cp = *p == '\\' ? jscan_escape_cp(&p) : (unsigned char)*p++;
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
    int ch = jscan_peek(&c->js), rc;
    struct jstr s;
    size_t len;

    e->bad = E_NONE;
    e->v = NULL;
    if (f != F_ATTRIBUTES) {
        if (ch != '"') {
            e->bad = E_ITEM_TYPE;
            return jscan_skip_value(&c->js);
        }
        if ((rc = jscan_string(&c->js, &s)))
            return rc;
        if (jscan_str_longer(&s, max))
            e->bad = E_ITEM_LONG;
        else if (!(e->v = jscan_str_copy(&c->js, &s, &len)))
            return TOCSIN_ENOMEM;
        return TOCSIN_OK;
    }
    if (ch == 't' || ch == 'f' || ch == 'n')
        return jscan_literal(&c->js, &e->v);
    if (ch == '"') { /* fast path: the text is the raw string, or its escapes rewritten */
        size_t raw;
        char *o;
        if ((rc = jscan_string(&c->js, &s)))
            return rc;
        raw = (size_t)(s.e - s.b);
        len = raw + 2 <= max ? raw : s.esc ? jscan_dump_escape(s.b, s.e, NULL) : raw;
        if (len + 2 > max) {
            e->bad = E_ITEM_LONG;
            return TOCSIN_OK;
        }
        if (!(o = jscan_salloc(&c->js, raw + 3)))
            return TOCSIN_ENOMEM;
        o[0] = '"';
        len = s.esc ? jscan_dump_escape(s.b, s.e, o + 1) : raw;
        if (!s.esc)
            memcpy(o + 1, s.b, raw);
        o[len + 1] = '"';
        o[len + 2] = '\0';
        jscan_sgive(&c->js, o, raw + 3, len + 3);
        e->v = o;
        return TOCSIN_OK;
    }
    {
        struct jdump d = {c->scratch, 0, max, false, false};
        if ((rc = dump_json(c, &d)))
            return rc;
        if (d.n > max)
            e->bad = E_ITEM_LONG;
        else if (!(e->v = jscan_sdup(&c->js, d.p, d.n)))
            return TOCSIN_ENOMEM;
    }
    return TOCSIN_OK;
}

/* One key of a map: a repeated key replaces the value in place, as Python's dict does. */
static int map_member(struct pctx *c, enum fid f, uint32_t *n)
{
    struct jstr k;
    const char *key;
    size_t klen, slot = 0;
    uint64_t h;
    int rc = jscan_string(&c->js, &k), i;

    if (rc || (rc = jscan_colon(&c->js)))
        return rc;
    if (f == F_ATTRIBUTES && has_dot_or_dollar(&k))
        ferr(c, f, E_ATTR_KEY);
    if (jscan_str_longer(&k, ALERT_MAX_NAME)) {
        ferr(c, f, E_KEY_LONG);
        return jscan_skip_value(&c->js);
    }
    if (k.esc) {
        if (!(key = jscan_str_copy(&c->js, &k, &klen)))
            return TOCSIN_ENOMEM;
    } else {
        key = k.b;
        klen = (size_t)(k.e - k.b);
    }
    h = jscan_key_hash(key, klen);
    i = map_find(c, *n, h, key, klen, &slot);
    if (i < 0) {
        if (*n >= ALERT_MAX_ITEMS) {
            ferr(c, f, E_MANY);
            return jscan_skip_value(&c->js);
        }
        if (!k.esc && !(key = jscan_sdup(&c->js, key, klen)))
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
    if (jscan_peek(&c->js) != '{') {
        bool null = jscan_at_null(&c->js);
        rc = jscan_skip_value(&c->js);
        if (!null || f == F_ATTRIBUTES) {
            c->cur.flags |= fields[f].flag;
            ferr(c, f, E_NOT_OBJECT);
        }
        return rc;
    }
    c->cur.flags |= fields[f].flag;
    rc = jscan_enter(&c->js);
    for (bool first = true; !rc; first = false) {
        if ((rc = jscan_obj_step(&c->js, first, &more)) || !more)
            break;
        rc = map_member(c, f, &n);
    }
    if (rc)
        return rc;
    jscan_leave(&c->js);
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
    if (!(out->v = arena_alloc(c->js.a, n * sizeof(*out->v))))
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

static enum fid key_field(const struct jstr *k)
{
    char tmp[80];
    size_t n = (size_t)(k->e - k->b);

    if (!k->esc)
        return field_of(k->b, n);
    if (n > 72) /* each escape gives a byte or more from at most 6: longer than any name */
        return F_OTHER;
    n = jscan_unescape(k->b, k->e, tmp);
    return field_of(tmp, n);
}

static int alert_member(struct pctx *c)
{
    struct jstr k;
    enum fid f;
    int rc = jscan_string(&c->js, &k);

    if (rc || (rc = jscan_colon(&c->js)))
        return rc;
    if ((f = key_field(&k)) == F_OTHER)
        return jscan_skip_value(&c->js);
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
        char *u = jscan_salloc(&c->js, len + 1);
        if (!u)
            return TOCSIN_ENOMEM;
        len = jscan_unescape(e->s, e->s + len, u);
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

/* An alert object at the cursor, read into c->cur; with !live it is only checked. */
static int alert_object(struct pctx *c, bool live)
{
    bool more;
    int rc;

    if (!live)
        return jscan_skip_value(&c->js);
    alert_in_init(&c->cur);
    c->errmask = 0;
    rc = jscan_enter(&c->js);
    for (bool first = true; !rc; first = false) {
        if ((rc = jscan_obj_step(&c->js, first, &more)) || !more)
            break;
        rc = alert_member(c);
    }
    if (rc)
        return rc;
    jscan_leave(&c->js);
    return finish_alert(c);
}

/* Appends c->cur to the alerts. When the array is full, its new size is estimated from the
 * bytes read per alert so far (a batch of like alerts is allocated once), never past what the
 * rest of the body can hold. */
static int push_alert(struct pctx *c)
{
    if (c->nout == c->outcap) {
        size_t read = (size_t)(c->js.p - c->js.buf), left = (size_t)(c->js.end - c->js.p);
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
        if (!(na = arena_alloc(c->js.a, cap * sizeof(*na))))
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

    if (rc == TOCSIN_EINVAL && !c->js.syn_at) { /* a semantic error: keep checking the body */
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
    int rc = jscan_enter(&c->js);

    for (bool first = true; !rc; first = false) {
        bool live;
        if ((rc = jscan_arr_step(&c->js, first, &more)) || !more)
            break;
        live = !c->has_sem && c->nseen < c->max_alerts;
        if (jscan_peek(&c->js) == '{') {
            rc = one_alert(c, live, c->nseen, true);
        } else {
            if (live) {
                verr_set(&c->sem, "", "an alert must be a JSON object");
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

static int parse_body(struct pctx *c, bool allow_array, bool *was_array)
{
    int rc, ch;

    jscan_ws(&c->js);
    ch = jscan_peek(&c->js);
    if (ch == '{') {
        rc = one_alert(c, c->max_alerts >= 1, 0, false);
        c->nseen = 1;
    } else if (ch == '[' && allow_array) {
        *was_array = true;
        c->first_cap = 8;
        rc = alert_array(c);
    } else {
        rc = jscan_skip_value(&c->js);
        if (!rc) {
            verr_set(&c->sem, "body", "%s",
                     allow_array ? "expected an alert object or an array of alerts"
                                 : "expected an alert object");
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

int alerta_parse(const char *buf, size_t len, struct arena *a, const struct sevmap *sev,
                 size_t max_alerts, bool allow_array, struct alert_in **out, size_t *n,
                 bool *was_array, struct verr *err)
{
    struct pctx c;
    int rc;

    *out = NULL;
    *n = 0;
    *was_array = false;
    jscan_init(&c.js, buf, len, a);
    c.sev = sev;
    c.has_sem = false;
    c.sem.status = 0;
    c.outs = NULL;
    c.nout = c.outcap = c.nseen = 0;
    c.first_cap = 1;
    c.max_alerts = max_alerts;
    rc = parse_body(&c, allow_array, was_array);
    if (rc) /* nothing in alerta_parse gives TOCSIN_ETOOBIG: the arena refused */
        return jscan_fail(&c.js, rc, err);
    if (c.nseen > max_alerts)
        return jscan_batch_error(err, c.nseen, max_alerts, "alerts");
    if (c.has_sem) {
        *err = c.sem;
        return TOCSIN_EINVAL;
    }
    *out = c.nout ? c.outs : NULL;
    *n = c.nout;
    return TOCSIN_OK;
}
