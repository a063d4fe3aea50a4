/* libFuzzer harness for compat/alerta_parse, the one-pass reader of Alerta alert bodies
 * (POST /alert, one alert or an array of them).
 *
 * The differential test against a jansson-built reference of every field and error lives in
 * tests/unit/test_alerta_parse.c; this harness checks what must hold for any input, and aborts on
 * any breach:
 *  - JSON validity agrees with json_loadb(JSON_DECODE_ANY): alerta_parse calls the body invalid
 *    JSON (field "body", "invalid JSON: ...") exactly when jansson rejects it, except where
 *    alerta_parse.h documents otherwise (nesting deeper than ALERTA_PARSE_MAX_NEST, a NUL byte
 *    right after a number or literal, which jansson drops);
 *  - errors: NUL-terminated texts, status 400/413/503 matching the code, no output, and a field
 *    that names an alert field ("resource", "tags[2]", "[3].labels.k", ...) or "body";
 *  - accepted alerts respect alert.h: required fields, the limits, sevmap and status ranges,
 *    NUL-terminated items, attribute values that jansson reads back and dumps to the same text;
 *  - a round trip: each accepted alert, written back as JSON by jansson from its fields, parses
 *    to the same alert, field by field;
 *  - the arena: the daemon's size (len * 24 + 64 KiB) never refuses, and a smaller arena gives
 *    the same result or TOCSIN_ENOMEM.
 * Everything is freed each run (arenas, jansson trees), so LeakSanitizer sees real leaks. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "compat/alerta_parse.h"
#include "core/alert.h"
#include "core/verr.h"
#include "util/arena.h"
#include "util/err.h"

#include "../unit/parse_helpers.h"

#define FUZZ_MAX_INPUT (64 * 1024)
#define FUZZ_MAX_ALERTS 100

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
    int rc;
    struct verr err;
    struct alert_in *al;
    size_t n;
    bool was_array;
};

static struct sevmap sev;
static const uint8_t *cur_data;
static size_t cur_size;

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
    va_list ap;

    print_input((const char *)cur_data, cur_size);
    fputs("fuzz_alerta: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static void run(const char *buf, size_t len, size_t arena_max, bool allow_array, struct arena *a,
                struct result *r)
{
    memset(r, 0, sizeof(*r));
    arena_init(a, arena_max);
    r->rc = alerta_parse(buf, len, a, &sev, FUZZ_MAX_ALERTS, allow_array, &r->al, &r->n,
                         &r->was_array, &r->err);
}

/* ---- errors ---- */

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* An error field: "body", or "[i]" / "[i]." then a field name, an item or a map entry. */
static bool known_field(const char *f)
{
    static const char *const names[] = {
        "resource", "event",       "environment", "severity",     "correlate", "status",
        "service",  "group",       "value",       "text",         "tags",      "attributes",
        "origin",   "type",        "createTime",  "timeout",      "rawData",   "customer",
        "id",       "fingerprint", "source",      "generatorURL", "labels",    "annotations",
        "startsAt", "endsAt"};

    if (strcmp(f, "body") == 0)
        return true;
    if (f[0] == '[') {
        f++;
        while (*f >= '0' && *f <= '9')
            f++;
        if (*f++ != ']')
            return false;
        if (!*f)
            return true;
        if (*f++ != '.')
            return false;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i]);
        if (strncmp(f, names[i], n) == 0 && (!f[n] || f[n] == '[' || f[n] == '.'))
            return true;
    }
    return false;
}

static void check_error(const struct result *r)
{
    if (!memchr(r->err.field, '\0', sizeof(r->err.field)) ||
        !memchr(r->err.msg, '\0', sizeof(r->err.msg)))
        fail("error text not NUL-terminated");
    if ((r->rc == TOCSIN_EINVAL && r->err.status != 400) ||
        (r->rc == TOCSIN_ETOOBIG && r->err.status != 413) ||
        (r->rc == TOCSIN_ENOMEM && r->err.status != 503))
        fail("rc %d with status %d", r->rc, r->err.status);
    if (r->al || r->n)
        fail("rc %d with %zu alerts", r->rc, r->n);
    if (r->rc != TOCSIN_ENOMEM && !known_field(r->err.field))
        fail("error field '%s' (%s)", r->err.field, r->err.msg);
}

/* ---- accepted alerts ---- */

static void check_str(const char *what, const char *s, size_t max, bool may_be_empty)
{
    if (s && ((!may_be_empty && !s[0]) || strlen(s) > max))
        fail("%s: %zu bytes", what, strlen(s));
}

static void check_list(const char *what, const struct strlist *l, uint32_t max_n)
{
    if (l->n > max_n || (l->n && !l->v))
        fail("%s: %u items", what, l->n);
    for (uint32_t i = 0; i < l->n; i++)
        if (!l->v[i] || strlen(l->v[i]) > ALERT_MAX_NAME)
            fail("%s[%u]", what, i);
}

static void check_map(const char *what, const struct kvlist *m, size_t maxv, bool attrs)
{
    if (m->n > ALERT_MAX_ITEMS || (m->n && !m->v))
        fail("%s: %u entries", what, m->n);
    for (uint32_t i = 0; i < m->n; i++) {
        const struct kv *e = &m->v[i];
        if (!e->k || !e->v || strlen(e->k) > ALERT_MAX_NAME || strlen(e->v) > maxv)
            fail("%s entry %u", what, i);
        for (uint32_t k = 0; k < i; k++)
            if (strcmp(m->v[k].k, e->k) == 0)
                fail("%s: key '%s' twice", what, e->k);
        if (attrs) {
            json_t *j = json_loads(e->v, JSON_DECODE_ANY, NULL);
            char *t = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            if (!t || strcmp(t, e->v) != 0)
                fail("attribute '%s': '%.200s' dumps as '%.200s'", e->k, e->v, t ? t : "?");
            if (strchr(e->k, '.') || strchr(e->k, '$'))
                fail("attribute key '%s'", e->k);
            free(t);
            json_decref(j);
        }
    }
}

static void check_alert(const struct alert_in *in)
{
    uint8_t id[16];

    if (!in->resource || !in->event)
        fail("no resource or event");
    check_str("resource", in->resource, ALERT_MAX_NAME, false);
    check_str("event", in->event, ALERT_MAX_NAME, false);
    check_str("environment", in->environment, ALERT_MAX_NAME, false);
    check_str("group", in->group, ALERT_MAX_NAME, false);
    check_str("origin", in->origin, ALERT_MAX_NAME, false);
    check_str("type", in->type, ALERT_MAX_NAME, false);
    check_str("customer", in->customer, ALERT_MAX_NAME, false);
    check_str("fingerprint", in->fingerprint, ALERT_MAX_NAME, false);
    check_str("source", in->source, ALERT_MAX_NAME, false);
    check_str("text", in->text, ALERT_MAX_TEXT, false);
    check_str("generatorURL", in->generator_url, ALERT_MAX_TEXT, false);
    check_str("value", in->value, ALERT_MAX_TEXT, true);
    check_str("rawData", in->raw_data, ALERT_MAX_RAW, true);
    if (in->id && !uuid_from_text(in->id, strlen(in->id), id))
        fail("id '%s'", in->id);
    if (in->severity < -1 || in->severity >= (int)sev.n || in->status < -1 ||
        in->status >= AST_COUNT)
        fail("severity %d status %d", in->severity, in->status);
    if (in->timeout_s < -1 || in->timeout_s > ALERT_MAX_TIMEOUT)
        fail("timeout %lld", (long long)in->timeout_s);
    if ((in->value && !(in->flags & AIN_VALUE)) || (in->raw_data && !(in->flags & AIN_RAW)))
        fail("value or rawData without its flag");
    check_list("service", &in->service, ALERT_MAX_ITEMS);
    check_list("tags", &in->tags, ALERT_MAX_ITEMS);
    check_list("correlate", &in->correlate, ALERT_MAX_ITEMS);
    if (in->correlate.n) { /* Alert.__init__ put event in it */
        bool has = false;
        for (uint32_t i = 0; i < in->correlate.n; i++)
            has = has || strcmp(in->correlate.v[i], in->event) == 0;
        if (!has)
            fail("correlate without event");
    }
    check_map("attributes", &in->attributes, ALERT_MAX_ATTR_VALUE, true);
    check_map("labels", &in->labels, ALERT_MAX_NAME, false);
    check_map("annotations", &in->annotations, ALERT_MAX_TEXT, false);
}

/* ---- the round trip ---- */

static void set_str(json_t *o, const char *key, const char *s)
{
    if (s)
        json_object_set_new(o, key, json_string(s));
}

static json_t *list_json(const struct strlist *l)
{
    json_t *a = json_array();

    for (uint32_t i = 0; i < l->n; i++)
        json_array_append_new(a, json_string(l->v[i]));
    return a;
}

static json_t *map_json(const struct kvlist *m, bool attrs)
{
    json_t *o = json_object();

    for (uint32_t i = 0; i < m->n; i++)
        json_object_set_new(o, m->v[i].k,
                            attrs ? json_loads(m->v[i].v, JSON_DECODE_ANY, NULL)
                                  : json_string(m->v[i].v));
    return o;
}

/* ISO 8601 of ms, or false outside years 0..9999 (not written back then). */
static bool date_text(int64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
    int rem = (int)(ms - (int64_t)t * 1000);
    struct tm tm;

    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return false;
    snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rem);
    return true;
}

static void set_date(json_t *o, const char *key, int64_t ms, int64_t *want)
{
    char t[40];

    if (ms && date_text(ms, t))
        json_object_set_new(o, key, json_string(t));
    else
        *want = 0;
}

/* The alert as JSON; *want becomes what parsing that JSON must give. */
static json_t *alert_json(const struct alert_in *in, struct alert_in *want)
{
    json_t *o = json_object();

    *want = *in;
    set_str(o, "id", in->id);
    set_str(o, "resource", in->resource);
    set_str(o, "event", in->event);
    set_str(o, "environment", in->environment);
    if (in->severity >= 0)
        json_object_set_new(o, "severity", json_string(sev.name[in->severity]));
    if (in->status >= 0)
        json_object_set_new(o, "status", json_string(astatus_name(in->status)));
    set_str(o, "group", in->group);
    if (in->flags & AIN_VALUE)
        json_object_set_new(o, "value", in->value ? json_string(in->value) : json_null());
    set_str(o, "text", in->text);
    set_str(o, "origin", in->origin);
    set_str(o, "type", in->type);
    set_str(o, "customer", in->customer);
    if (in->flags & AIN_RAW)
        json_object_set_new(o, "rawData", in->raw_data ? json_string(in->raw_data) : json_null());
    set_str(o, "fingerprint", in->fingerprint);
    set_str(o, "source", in->source);
    set_str(o, "generatorURL", in->generator_url);
    if (in->flags & AIN_SERVICE)
        json_object_set_new(o, "service", list_json(&in->service));
    if (in->flags & AIN_TAGS)
        json_object_set_new(o, "tags", list_json(&in->tags));
    if (in->flags & AIN_CORRELATE)
        json_object_set_new(o, "correlate", list_json(&in->correlate));
    if (in->flags & AIN_ATTRIBUTES)
        json_object_set_new(o, "attributes", map_json(&in->attributes, true));
    if (in->flags & AIN_LABELS)
        json_object_set_new(o, "labels", map_json(&in->labels, false));
    if (in->flags & AIN_ANNOTATIONS)
        json_object_set_new(o, "annotations", map_json(&in->annotations, false));
    if (in->timeout_s >= 0)
        json_object_set_new(o, "timeout", json_integer(in->timeout_s));
    set_date(o, "createTime", in->create_ms, &want->create_ms);
    set_date(o, "startsAt", in->starts_ms, &want->starts_ms);
    set_date(o, "endsAt", in->ends_ms, &want->ends_ms);
    return o;
}

static bool same_list(const struct strlist *x, const struct strlist *y)
{
    if (x->n != y->n)
        return false;
    for (uint32_t i = 0; i < x->n; i++)
        if (!same_str(x->v[i], y->v[i]))
            return false;
    return true;
}

static bool same_map(const struct kvlist *x, const struct kvlist *y)
{
    if (x->n != y->n)
        return false;
    for (uint32_t i = 0; i < x->n; i++)
        if (!same_str(x->v[i].k, y->v[i].k) || !same_str(x->v[i].v, y->v[i].v))
            return false;
    return true;
}

/* The first field where x and y differ, or NULL. */
static const char *alert_diff(const struct alert_in *x, const struct alert_in *y)
{
    static const struct {
        const char *name;
        size_t off;
    } strs[] = {
        {"id", offsetof(struct alert_in, id)},
        {"resource", offsetof(struct alert_in, resource)},
        {"event", offsetof(struct alert_in, event)},
        {"environment", offsetof(struct alert_in, environment)},
        {"group", offsetof(struct alert_in, group)},
        {"value", offsetof(struct alert_in, value)},
        {"text", offsetof(struct alert_in, text)},
        {"origin", offsetof(struct alert_in, origin)},
        {"type", offsetof(struct alert_in, type)},
        {"customer", offsetof(struct alert_in, customer)},
        {"raw_data", offsetof(struct alert_in, raw_data)},
        {"fingerprint", offsetof(struct alert_in, fingerprint)},
        {"source", offsetof(struct alert_in, source)},
        {"generator_url", offsetof(struct alert_in, generator_url)},
    };

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (!same_str(*(const char *const *)(const void *)((const char *)x + strs[i].off),
                      *(const char *const *)(const void *)((const char *)y + strs[i].off)))
            return strs[i].name;
    if (x->severity != y->severity || x->status != y->status)
        return "severity/status";
    if (x->create_ms != y->create_ms || x->starts_ms != y->starts_ms || x->ends_ms != y->ends_ms)
        return "dates";
    if (x->timeout_s != y->timeout_s)
        return "timeout";
    if (x->flags != y->flags)
        return "flags";
    if (!same_list(&x->service, &y->service) || !same_list(&x->tags, &y->tags) ||
        !same_list(&x->correlate, &y->correlate))
        return "lists";
    if (!same_map(&x->attributes, &y->attributes) || !same_map(&x->labels, &y->labels) ||
        !same_map(&x->annotations, &y->annotations))
        return "maps";
    return NULL;
}

static void round_trip(const struct alert_in *in)
{
    struct alert_in want;
    json_t *o = alert_json(in, &want);
    char *text = json_dumps(o, JSON_COMPACT);
    struct arena a;
    struct result r;
    const char *diff;

    if (!text)
        fail("json_dumps failed");
    run(text, strlen(text), strlen(text) * 24 + 64 * 1024, false, &a, &r);
    if (r.rc != TOCSIN_OK)
        fail("round trip of '%.500s': rc %d %s (%s)", text, r.rc, r.err.field, r.err.msg);
    if ((diff = alert_diff(&want, &r.al[0])))
        fail("round trip of '%.500s' changes %s", text, diff);
    arena_free(&a);
    free(text);
    json_decref(o);
}

/* ---- JSON validity ---- */

/* True when jansson would drop a NUL of the input (then alerta_parse may call valid-to-jansson
 * JSON invalid). */
static bool has_dropped_nul(const char *s, size_t size)
{
    for (size_t i = 1; i < size; i++)
        if (jansson_drops_nul(s, i))
            return true;
    return false;
}

static void check_validity(const uint8_t *data, size_t size, const struct result *got)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
    bool mine_bad = got->rc == TOCSIN_EINVAL && strcmp(got->err.field, "body") == 0 &&
                    starts(got->err.msg, "invalid JSON: ");

    if (!j && !mine_bad)
        fail("jansson rejects (%s), alerta_parse gives rc %d %s (%s)", je.text, got->rc,
             got->err.field, got->err.msg);
    if (j && mine_bad && nesting((const char *)data, size) <= ALERTA_PARSE_MAX_NEST &&
        !has_dropped_nul((const char *)data, size))
        fail("jansson reads it, alerta_parse says %s", got->err.msg);
    json_decref(j);
}

/* ---- the arena ---- */

static void check_smaller_arena(const char *buf, size_t len, bool allow_array,
                                const struct result *full, size_t used)
{
    struct arena a;
    struct result r;
    size_t max = used / 2;

    run(buf, len, max, allow_array, &a, &r);
    if (r.rc == TOCSIN_ENOMEM) {
        check_error(&r);
    } else if (r.rc != full->rc || r.n != full->n ||
               (r.rc && strcmp(r.err.field, full->err.field) != 0)) {
        fail("arena of %zu bytes: rc %d n %zu (%s), full: rc %d n %zu (%s)", max, r.rc, r.n,
             r.err.field, full->rc, full->n, full->err.field);
    } else {
        for (size_t i = 0; i < r.n; i++)
            if (alert_diff(&full->al[i], &r.al[i]))
                fail("arena of %zu bytes: alert %zu differs", max, i);
    }
    arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    bool allow_array = !(size && data[0] == ' '); /* a leading space: objects only */
    struct arena a;
    struct result got;

    if (size > FUZZ_MAX_INPUT)
        return -1; /* not added to the corpus */
    if (!sev.n)
        sevmap_default(&sev);
    cur_data = data;
    cur_size = size;
    run(buf, size, size * 24 + 64 * 1024, allow_array, &a, &got);
    if (got.rc == TOCSIN_ENOMEM)
        fail("the arena sized as the daemon sizes it refused");
    if (got.rc != TOCSIN_OK) {
        check_error(&got);
    } else {
        if ((!got.was_array && got.n != 1) || (got.n == 0) != (got.al == NULL) ||
            (got.was_array && !allow_array))
            fail("accepted with n %zu, array %d", got.n, got.was_array);
        for (size_t i = 0; i < got.n; i++) {
            check_alert(&got.al[i]);
            round_trip(&got.al[i]);
        }
    }
    check_validity(data, size, &got);
    check_smaller_arena(buf, size, allow_array, &got, a.used);
    arena_free(&a);
    return 0;
}
