/* Tests for compat/alerta_parse: every field, every error message and its field name, the order
 * in which errors are chosen, arrays, limits, UTF-8 and escapes, repeated keys, the arena bound,
 * and a differential test against a reference built here from jansson (json_loadb + a
 * straightforward conversion of the tree, written from Alerta's Alert.parse / Alert.__init__ and
 * alerta_parse.h) over generated alerts, every truncation of a few bodies and mutated inputs, all
 * from fixed seeds. It prints the time per alert (not an assertion).
 *
 * `test_alerta_parse --bench` instead times alerta_parse against jansson on a ~600-byte alert
 * and on a batch of 1000 (build it with -O2 and no sanitizers for meaningful numbers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat/alerta_parse.h"
#include "core/alert.h"
#include "util/arena.h"
#include "util/err.h"

#include "parse_helpers.h"

#define ARENA_MAX (256u << 20)
#define MAX_ALERTS 10000
#define CLIP 64

static struct sevmap sev;

/* ---- results ---- */

struct res {
    int rc;
    struct verr err;
    struct alert_in *al;
    size_t n;
    bool was_array;
    /* reference only: a real value, compared by its number (alerta_parse keeps the sent text) */
    bool *vreal;
    double *vnum;
};

static void my_parse(const char *buf, size_t len, struct arena *a, size_t max, bool allow_array,
                     struct res *r)
{
    memset(r, 0, sizeof(*r));
    r->rc =
        alerta_parse(buf, len, a, &sev, max, allow_array, &r->al, &r->n, &r->was_array, &r->err);
}

/* ---- the reference: jansson's tree, converted the straightforward way ---- */

static int clip_len(const char *s, size_t len)
{
    size_t max = CLIP;

    if (len <= max)
        return (int)len;
    while (max && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return (int)max;
}

static char *ref_dup(struct arena *a, const char *s, size_t n)
{
    char *d = arena_strndup(a, s, n);

    assert_non_null(d);
    return d;
}

static char *ref_dumps(struct arena *a, const json_t *v, size_t *len)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), *d;

    assert_non_null(t);
    *len = strlen(t);
    d = ref_dup(a, t, *len);
    free(t);
    return d;
}

/* A string field: absent, null and "" give NULL. */
static int ref_str(const json_t *j, const char *name, size_t max, struct arena *a, const char **out,
                   struct verr *err)
{
    const json_t *v = json_object_get(j, name);

    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return verr_set(err, name, "%s must be a string", name);
    if (!json_string_length(v))
        return 0;
    if (json_string_length(v) > max)
        return verr_set(err, name, "%s is longer than %zu bytes", name, max);
    *out = ref_dup(a, json_string_value(v), json_string_length(v));
    return 0;
}

static int ref_required(const json_t *j, const char *name, struct arena *a, const char **out,
                        struct verr *err)
{
    const json_t *v = json_object_get(j, name);

    if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v)))
        return verr_set(err, name, "Missing mandatory value for \"%s\"", name);
    return ref_str(j, name, ALERT_MAX_NAME, a, out, err);
}

static int ref_date(const json_t *j, const char *name, int64_t *out, struct verr *err)
{
    const json_t *v = json_object_get(j, name);

    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || !iso8601_parse(json_string_value(v), json_string_length(v), out))
        return verr_set(err, name, "dates must be ISO 8601 date format YYYY-MM-DDThh:mm:ss.sssZ");
    return 0;
}

static void name_msg(struct verr *err, const char *field, const char *what, const char *s,
                     size_t len, const char *list)
{
    verr_set(err, field, "%s (%.*s) is not one of %s", what, clip_len(s, len), s, list);
}

/* severity or status (the list of names is given). */
static int ref_name(const json_t *j, const char *name, int *out, struct verr *err)
{
    const json_t *v = json_object_get(j, name);
    bool is_sev = strcmp(name, "severity") == 0;
    char list[200] = "";
    const char *s;
    size_t len;

    *out = -1;
    if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v)))
        return 0;
    if (is_sev) {
        sevmap_list(&sev, list, sizeof(list));
    } else {
        for (int i = 0; i < AST_COUNT; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                     astatus_name(i));
    }
    if (!json_is_string(v)) {
        name_msg(err, name, is_sev ? "Severity" : "Status", "?", 1, list);
        err->status = -1; /* the text quoted is alerta_parse's: compare the field only */
        return TOCSIN_EINVAL;
    }
    s = json_string_value(v);
    len = json_string_length(v);
    *out = is_sev ? sevmap_find(&sev, s, len) : astatus_parse(s, len);
    if (*out < 0) {
        name_msg(err, name, is_sev ? "Severity" : "Status", s, len, list);
        return TOCSIN_EINVAL;
    }
    return 0;
}

/* service, tags, correlate: Alert.parse checked that it is an array. */
static int ref_list(const json_t *j, const char *name, struct arena *a, struct strlist *out,
                    struct verr *err)
{
    const json_t *v = json_object_get(j, name), *item;
    size_t i, n = 0;

    out->v = NULL;
    out->n = 0;
    if (!v)
        return 0;
    out->v = arena_alloc(a, (json_array_size(v) + 1) * sizeof(*out->v));
    assert_non_null(out->v);
    json_array_foreach(v, i, item)
    {
        char f[64];
        snprintf(f, sizeof(f), "%s[%zu]", name, i);
        if (!json_is_string(item))
            return verr_set(err, f, "%s must be a string", f);
        if (json_string_length(item) > ALERT_MAX_NAME)
            return verr_set(err, f, "%s is longer than %d bytes", f, ALERT_MAX_NAME);
        if (++n > ALERT_MAX_ITEMS)
            return verr_set(err, name, "%s has more than %d items", name, ALERT_MAX_ITEMS);
        out->v[out->n++] = ref_dup(a, json_string_value(item), json_string_length(item));
    }
    return 0;
}

/* Alert.__init__: event is appended to a non-empty correlate that lacks it. */
static int ref_correlate_event(struct strlist *l, const char *event, struct verr *err)
{
    if (!l->n)
        return 0;
    for (uint32_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], event) == 0)
            return 0;
    if (l->n >= ALERT_MAX_ITEMS)
        return verr_set(err, "correlate", "correlate has more than %d items", ALERT_MAX_ITEMS);
    l->v[l->n++] = event;
    return 0;
}

/* attributes (already known to be an object), labels, annotations. */
static int ref_map(const json_t *j, const char *name, size_t maxv, struct arena *a,
                   struct kvlist *out, struct verr *err)
{
    const json_t *v = json_object_get(j, name), *val;
    bool attrs = strcmp(name, "attributes") == 0;
    const char *key;
    size_t n = 0;

    out->v = NULL;
    out->n = 0;
    if (!v || (!attrs && json_is_null(v)))
        return 0;
    if (!json_is_object(v))
        return verr_set(err, name, "%s must be a JSON object", name);
    json_object_foreach((json_t *)v, key, val)
    {
        if (strlen(key) > ALERT_MAX_NAME)
            return verr_set(err, name, "%s has a key longer than %d bytes", name, ALERT_MAX_NAME);
        if (++n > ALERT_MAX_ITEMS)
            return verr_set(err, name, "%s has more than %d items", name, ALERT_MAX_ITEMS);
    }
    out->v = arena_alloc(a, (n + 1) * sizeof(*out->v));
    assert_non_null(out->v);
    json_object_foreach((json_t *)v, key, val)
    {
        char f[200];
        size_t len;
        const char *text;
        snprintf(f, sizeof(f), "%s.%.*s", name, clip_len(key, strlen(key)), key);
        if (attrs) {
            text = ref_dumps(a, val, &len);
        } else {
            if (!json_is_string(val))
                return verr_set(err, f, "%s must be a string", f);
            len = json_string_length(val);
            text = ref_dup(a, json_string_value(val), len);
        }
        if (len > maxv)
            return verr_set(err, f, "%s is longer than %zu bytes%s", f, maxv,
                            attrs ? " as JSON" : "");
        out->v[out->n++] = (struct kv){ref_dup(a, key, strlen(key)), text};
    }
    return 0;
}

/* Alert.parse's own checks, in its order. */
static int ref_parse_checks(const json_t *j, struct verr *err)
{
    static const char *const lists[] = {"correlate", "service", "tags"};
    const json_t *v;

    for (size_t i = 0; i < 3; i++)
        if ((v = json_object_get(j, lists[i])) && !json_is_array(v))
            return verr_set(err, lists[i], "%s must be a list", lists[i]);
    if ((v = json_object_get(j, "attributes")) && !json_is_object(v))
        return verr_set(err, "attributes", "attributes must be a JSON object");
    if ((v = json_object_get(j, "timeout")) && !json_is_null(v) && !json_is_integer(v))
        return verr_set(err, "timeout", "timeout must be an integer");
    if ((v = json_object_get(j, "customer")) && json_is_string(v) && !json_string_length(v))
        return verr_set(err, "customer", "customer must not be an empty string");
    return 0;
}

/* Then Alert.__init__'s, and the alarm model's severity check. */
static int ref_init_checks(const json_t *j, struct arena *a, struct alert_in *in, struct verr *err)
{
    const json_t *v;
    const char *key;
    json_t *val;

    if (ref_date(j, "createTime", &in->create_ms, err) ||
        ref_required(j, "resource", a, &in->resource, err) ||
        ref_required(j, "event", a, &in->event, err))
        return TOCSIN_EINVAL;
    if ((v = json_object_get(j, "attributes")))
        json_object_foreach((json_t *)v, key, val)
        {
            if (strchr(key, '.') || strchr(key, '$'))
                return verr_set(err, "attributes",
                                "Attribute keys must not contain \".\" or \"$\"");
        }
    if ((v = json_object_get(j, "timeout")) && json_is_integer(v) && json_integer_value(v) < 0)
        return verr_set(err, "timeout", "Invalid negative 'timeout' value (%lld)",
                        (long long)json_integer_value(v));
    return ref_name(j, "severity", &in->severity, err);
}

static int ref_value(const json_t *j, struct arena *a, struct alert_in *in, bool *vreal,
                     double *vnum, struct verr *err)
{
    const json_t *v = json_object_get(j, "value");
    char tmp[32];

    *vreal = false;
    if (!v)
        return 0;
    in->flags |= AIN_VALUE;
    if (json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        if (json_string_length(v) > ALERT_MAX_TEXT)
            return verr_set(err, "value", "value is longer than %d bytes", ALERT_MAX_TEXT);
        in->value = ref_dup(a, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) {
        snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
        in->value = ref_dup(a, tmp, strlen(tmp));
    } else if (json_is_real(v)) {
        *vreal = true;
        *vnum = json_real_value(v);
        in->value = "";
    } else {
        return verr_set(err, "value", "value must be a string, a number or null");
    }
    return 0;
}

static int ref_raw(const json_t *j, struct arena *a, struct alert_in *in, struct verr *err)
{
    const json_t *v = json_object_get(j, "rawData");
    size_t len;
    const char *t;

    if (!v)
        return 0;
    in->flags |= AIN_RAW;
    if (json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        len = json_string_length(v);
        t = len > ALERT_MAX_RAW ? NULL : ref_dup(a, json_string_value(v), len);
    } else {
        t = ref_dumps(a, v, &len);
    }
    if (len > ALERT_MAX_RAW)
        return verr_set(err, "rawData", "rawData is longer than %d bytes", ALERT_MAX_RAW);
    in->raw_data = t;
    return 0;
}

/* tocsin's own checks, in field order, with the conversion. */
static int ref_fields(const json_t *j, struct arena *a, struct alert_in *in, bool *vreal,
                      double *vnum, struct verr *err)
{
    const json_t *v;
    uint8_t id[16];

    if (ref_list(j, "correlate", a, &in->correlate, err) ||
        ref_correlate_event(&in->correlate, in->event, err) ||
        ref_list(j, "service", a, &in->service, err) || ref_list(j, "tags", a, &in->tags, err) ||
        ref_map(j, "attributes", ALERT_MAX_ATTR_VALUE, a, &in->attributes, err))
        return TOCSIN_EINVAL;
    if ((v = json_object_get(j, "timeout")) && json_is_integer(v)) {
        if (json_integer_value(v) > ALERT_MAX_TIMEOUT)
            return verr_set(err, "timeout", "timeout must be at most %lld seconds",
                            (long long)ALERT_MAX_TIMEOUT);
        in->timeout_s = json_integer_value(v);
    }
    if (ref_str(j, "customer", ALERT_MAX_NAME, a, &in->customer, err) ||
        ref_name(j, "status", &in->status, err))
        return TOCSIN_EINVAL;
    v = json_object_get(j, "id");
    if (v && json_is_string(v) && json_string_length(v) &&
        !uuid_from_text(json_string_value(v), json_string_length(v), id))
        return verr_set(err, "id", "id must be a UUID");
    if (ref_str(j, "id", ALERT_MAX_NAME, a, &in->id, err) ||
        ref_str(j, "environment", ALERT_MAX_NAME, a, &in->environment, err) ||
        ref_str(j, "group", ALERT_MAX_NAME, a, &in->group, err) ||
        ref_value(j, a, in, vreal, vnum, err) ||
        ref_str(j, "text", ALERT_MAX_TEXT, a, &in->text, err) ||
        ref_str(j, "origin", ALERT_MAX_NAME, a, &in->origin, err) ||
        ref_str(j, "type", ALERT_MAX_NAME, a, &in->type, err) || ref_raw(j, a, in, err) ||
        ref_str(j, "fingerprint", ALERT_MAX_NAME, a, &in->fingerprint, err) ||
        ref_str(j, "source", ALERT_MAX_NAME, a, &in->source, err) ||
        ref_str(j, "generatorURL", ALERT_MAX_TEXT, a, &in->generator_url, err) ||
        ref_map(j, "labels", ALERT_MAX_NAME, a, &in->labels, err) ||
        ref_map(j, "annotations", ALERT_MAX_TEXT, a, &in->annotations, err) ||
        ref_date(j, "startsAt", &in->starts_ms, err) || ref_date(j, "endsAt", &in->ends_ms, err))
        return TOCSIN_EINVAL;
    return 0;
}

static int ref_alert(const json_t *j, struct arena *a, struct alert_in *in, bool *vreal,
                     double *vnum, struct verr *err)
{
    alert_in_init(in);
    if (ref_parse_checks(j, err) || ref_init_checks(j, a, in, err) ||
        ref_fields(j, a, in, vreal, vnum, err))
        return TOCSIN_EINVAL;
    if (json_object_get(j, "service"))
        in->flags |= AIN_SERVICE;
    if (json_object_get(j, "tags"))
        in->flags |= AIN_TAGS;
    if (json_object_get(j, "correlate"))
        in->flags |= AIN_CORRELATE;
    if (json_object_get(j, "attributes"))
        in->flags |= AIN_ATTRIBUTES;
    if (json_object_get(j, "labels") && !json_is_null(json_object_get(j, "labels")))
        in->flags |= AIN_LABELS;
    if (json_object_get(j, "annotations") && !json_is_null(json_object_get(j, "annotations")))
        in->flags |= AIN_ANNOTATIONS;
    return 0;
}

static void ref_parse(const char *buf, size_t len, struct arena *a, size_t max, bool allow_array,
                      struct res *r)
{
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_DECODE_ANY, &je);
    bool arr;

    memset(r, 0, sizeof(*r));
    if (!j) {
        r->rc = verr_set(&r->err, "body", "invalid JSON: %s", je.text);
        return;
    }
    arr = json_is_array(j) && allow_array;
    r->was_array = arr;
    r->n = arr ? json_array_size(j) : 1;
    if (!arr && !json_is_object(j)) {
        r->rc = verr_set(&r->err, "body", "not an object");
    } else if (r->n > max) {
        verr_set(&r->err, "body", "too many");
        r->err.status = 413;
        r->rc = TOCSIN_ETOOBIG;
    } else if (r->n) {
        r->al = arena_alloc(a, r->n * sizeof(*r->al));
        r->vreal = arena_alloc(a, r->n * sizeof(*r->vreal));
        r->vnum = arena_alloc(a, r->n * sizeof(*r->vnum));
        assert_true(r->al && r->vreal && r->vnum);
        for (size_t i = 0; i < r->n && !r->rc; i++) {
            json_t *al = arr ? json_array_get(j, i) : j;
            if (!json_is_object(al))
                r->rc = verr_set(&r->err, "", "an alert must be a JSON object");
            else
                r->rc = ref_alert(al, a, &r->al[i], &r->vreal[i], &r->vnum[i], &r->err);
            if (r->rc && arr)
                verr_prefix_index(&r->err, "", i);
        }
    }
    if (r->rc)
        r->n = 0;
    json_decref(j);
}

/* ---- comparing ---- */

#define STR_FIELDS(X)                                                                              \
    X(id)                                                                                          \
    X(resource) X(event) X(environment) X(group) X(text) X(origin) X(type) X(customer) X(raw_data) \
        X(fingerprint) X(source) X(generator_url)

static void diff_lists(const char *name, const struct strlist *x, const struct strlist *y,
                       char *why, size_t cap)
{
    if (x->n != y->n) {
        snprintf(why, cap, "%s: %u / %u items", name, x->n, y->n);
        return;
    }
    for (uint32_t i = 0; i < x->n; i++)
        if (!same_str(x->v[i], y->v[i])) {
            snprintf(why, cap, "%s[%u]: '%s' / '%s'", name, i, x->v[i], y->v[i]);
            return;
        }
}

static void diff_maps(const char *name, const struct kvlist *x, const struct kvlist *y, char *why,
                      size_t cap)
{
    if (x->n != y->n) {
        snprintf(why, cap, "%s: %u / %u entries", name, x->n, y->n);
        return;
    }
    for (uint32_t i = 0; i < x->n; i++)
        if (!same_str(x->v[i].k, y->v[i].k) || !same_str(x->v[i].v, y->v[i].v)) {
            snprintf(why, cap, "%s %u: '%s'='%.200s' / '%s'='%.200s'", name, i, x->v[i].k,
                     x->v[i].v ? x->v[i].v : "(null)", y->v[i].k, y->v[i].v ? y->v[i].v : "(null)");
            return;
        }
}

static void diff_value(const struct alert_in *x, bool vreal, double vnum, const struct alert_in *y,
                       char *why, size_t cap)
{
    if (vreal) {
        char *end;
        double d = y->value ? strtod(y->value, &end) : NAN;
        if (!y->value || *end || memcmp(&d, &vnum, sizeof(d)) != 0)
            snprintf(why, cap, "value %.17g / '%s'", vnum, y->value ? y->value : "(null)");
    } else if (!same_str(x->value, y->value)) {
        snprintf(why, cap, "value '%s' / '%s'", x->value ? x->value : "(null)",
                 y->value ? y->value : "(null)");
    }
}

static void diff_alert(const struct alert_in *x, bool vreal, double vnum, const struct alert_in *y,
                       char *why, size_t cap)
{
    why[0] = '\0';
#define CMP_STR(m)                                                                                 \
    if (!why[0] && !same_str(x->m, y->m))                                                          \
        snprintf(why, cap, #m " '%.300s' / '%.300s'", x->m ? x->m : "(null)",                      \
                 y->m ? y->m : "(null)");
    STR_FIELDS(CMP_STR)
#undef CMP_STR
    if (!why[0] && (x->severity != y->severity || x->status != y->status))
        snprintf(why, cap, "severity %d/%d status %d/%d", x->severity, y->severity, x->status,
                 y->status);
    if (!why[0] && (x->create_ms != y->create_ms || x->timeout_s != y->timeout_s ||
                    x->starts_ms != y->starts_ms || x->ends_ms != y->ends_ms))
        snprintf(why, cap, "times %lld %lld %lld %lld / %lld %lld %lld %lld",
                 (long long)x->create_ms, (long long)x->timeout_s, (long long)x->starts_ms,
                 (long long)x->ends_ms, (long long)y->create_ms, (long long)y->timeout_s,
                 (long long)y->starts_ms, (long long)y->ends_ms);
    if (!why[0] && x->flags != y->flags)
        snprintf(why, cap, "flags %#x / %#x", x->flags, y->flags);
    if (!why[0])
        diff_value(x, vreal, vnum, y, why, cap);
    if (!why[0])
        diff_lists("service", &x->service, &y->service, why, cap);
    if (!why[0])
        diff_lists("tags", &x->tags, &y->tags, why, cap);
    if (!why[0])
        diff_lists("correlate", &x->correlate, &y->correlate, why, cap);
    if (!why[0])
        diff_maps("attributes", &x->attributes, &y->attributes, why, cap);
    if (!why[0])
        diff_maps("labels", &x->labels, &y->labels, why, cap);
    if (!why[0])
        diff_maps("annotations", &x->annotations, &y->annotations, why, cap);
}

static void diff_res(const struct res *want, const struct res *got, char *why, size_t cap)
{
    why[0] = '\0';
    if (want->rc != got->rc) {
        snprintf(why, cap, "rc %d/%d (%s: %s | %s: %s)", want->rc, got->rc, want->err.field,
                 want->err.msg, got->err.field, got->err.msg);
    } else if (want->rc) {
        bool loose = want->err.status == -1 || strcmp(want->err.field, "body") == 0;
        if (strcmp(want->err.field, got->err.field) != 0 ||
            (want->err.status != got->err.status && want->err.status != -1) ||
            (!loose && strcmp(want->err.msg, got->err.msg) != 0))
            snprintf(why, cap, "error %s (%s) %d / %s (%s) %d", want->err.field, want->err.msg,
                     want->err.status, got->err.field, got->err.msg, got->err.status);
    } else if (want->n != got->n || want->was_array != got->was_array) {
        snprintf(why, cap, "n %zu/%zu array %d/%d", want->n, got->n, want->was_array,
                 got->was_array);
    } else if ((want->n == 0) != (got->al == NULL)) {
        snprintf(why, cap, "alerts pointer %p for %zu alerts", (void *)got->al, got->n);
    } else {
        for (size_t i = 0; i < want->n && !why[0]; i++)
            diff_alert(&want->al[i], want->vreal[i], want->vnum[i], &got->al[i], why, cap);
    }
}

static int mismatches, nul_quirks, compared;

/* jansson 2.14 drops a NUL byte right after a number or true/false/null; alerta_parse rejects it.
 * True when that explains the difference: alerta_parse on the input without those bytes gives
 * exactly what jansson gave for the original. */
static bool nul_quirk(const char *buf, size_t len, size_t max, bool allow_array,
                      const struct res *want)
{
    char *clean = malloc(len ? len : 1);
    size_t n = 0;
    struct arena a;
    struct res got;
    char why[1024];

    assert_non_null(clean);
    for (size_t i = 0; i < len; i++) {
        unsigned char prev = i ? (unsigned char)buf[i - 1] : 0;
        bool after_token = (prev >= '0' && prev <= '9') || (prev >= 'a' && prev <= 'z');
        if (buf[i] != '\0' || !after_token)
            clean[n++] = buf[i];
    }
    arena_init(&a, ARENA_MAX);
    my_parse(clean, n, &a, max, allow_array, &got);
    diff_res(want, &got, why, sizeof(why));
    arena_free(&a);
    free(clean);
    nul_quirks += n < len && !why[0];
    return n < len && !why[0];
}

/* Compares alerta_parse with the reference on one input; false (after printing) if they differ
 * in a way alerta_parse.h does not document. */
static bool compare_one(const char *buf, size_t len, size_t max, bool allow_array)
{
    struct arena a1, a2;
    struct res want, got;
    char why[1024] = "";

    arena_init(&a1, ARENA_MAX);
    arena_init(&a2, ARENA_MAX);
    ref_parse(buf, len, &a1, max, allow_array, &want);
    my_parse(buf, len, &a2, max, allow_array, &got);
    compared++;
    if (got.rc == TOCSIN_EINVAL && strstr(got.err.msg, "nesting deeper than 64")) {
        if (nesting(buf, len) <= ALERTA_PARSE_MAX_NEST)
            snprintf(why, sizeof(why), "nesting error at depth %d", nesting(buf, len));
    } else if (want.rc != TOCSIN_OK && strcmp(want.err.field, "body") != 0 &&
               got.rc == TOCSIN_EINVAL && strcmp(got.err.field, "body") == 0 &&
               memchr(buf, 0, len) && nul_quirk(buf, len, max, allow_array, &want)) {
        /* the documented NUL difference (jansson read it, then found a semantic error) */
    } else if (want.rc == TOCSIN_OK && got.rc == TOCSIN_EINVAL && memchr(buf, 0, len) &&
               nul_quirk(buf, len, max, allow_array, &want)) {
        /* the documented NUL difference */
    } else {
        diff_res(&want, &got, why, sizeof(why));
    }
    if (got.rc == TOCSIN_EINVAL && got.err.status != 400)
        snprintf(why, sizeof(why), "status %d for EINVAL", got.err.status);
    arena_free(&a1);
    arena_free(&a2);
    if (why[0]) {
        if (mismatches++ < 10) {
            print_input(buf, len);
            fprintf(stderr, "  mismatch (reference/alerta_parse): %s\n", why);
        }
        return false;
    }
    return true;
}

static void assert_same(const char *s)
{
    if (!compare_one(s, strlen(s), MAX_ALERTS, true))
        fail_msg("alerta_parse and the reference differ");
}

/* ---- checking one input by hand ---- */

/* Parses s (an array is allowed) into r, with its own arena the caller frees. */
static void parse_str(const char *s, struct arena *a, struct res *r)
{
    arena_init(a, ARENA_MAX);
    my_parse(s, strlen(s), a, MAX_ALERTS, true, r);
}

/* s gives rc, field and (if not NULL) msg; the reference agrees. */
static void check_err(const char *s, size_t len, int rc, const char *field, const char *msg)
{
    struct arena a;
    struct res r;

    arena_init(&a, ARENA_MAX);
    my_parse(s, len, &a, MAX_ALERTS, true, &r);
    if (r.rc != rc || strcmp(r.err.field, field) != 0 || (msg && strcmp(r.err.msg, msg) != 0)) {
        print_input(s, len);
        fail_msg("want %d '%s' (%s), got %d '%s' (%s)", rc, field, msg ? msg : "-", r.rc,
                 r.err.field, r.err.msg);
    }
    assert_int_equal(r.err.status, rc == TOCSIN_EINVAL ? 400 : rc == TOCSIN_ETOOBIG ? 413 : 503);
    assert_null(r.al);
    assert_int_equal(r.n, 0);
    arena_free(&a);
    if (!compare_one(s, len, MAX_ALERTS, true))
        fail_msg("the reference disagrees");
}

static void bad(const char *s, const char *field, const char *msg)
{
    check_err(s, strlen(s), TOCSIN_EINVAL, field, msg);
}

/* One alert, parsed; the caller frees the arena. */
static const struct alert_in *one(const char *s, struct arena *a)
{
    struct res r;

    parse_str(s, a, &r);
    if (r.rc != TOCSIN_OK)
        fail_msg("%s (%s) for %.300s", r.err.field, r.err.msg, s);
    assert_int_equal(r.n, 1);
    assert_false(r.was_array);
    assert_same(s);
    return &r.al[0];
}

#define BASE "\"resource\":\"r\",\"event\":\"e\""

/* ---- fields ---- */

static const char full_alert[] =
    "{\"id\":\"0b7f5c1e-8a4d-4f7e-9c2b-3d1e5f6a7b8c\",\"resource\":\"web01\",\"event\":"
    "\"HttpError\",\"environment\":\"Production\",\"severity\":\"major\",\"correlate\":["
    "\"HttpError\",\"HttpOK\"],\"status\":\"ack\",\"service\":[\"Web\",\"Shop\"],\"group\":"
    "\"Web\",\"value\":\"503\",\"text\":\"down\",\"tags\":[\"dc1\",\"linux\"],\"attributes\":{"
    "\"region\":\"eu\",\"prio\":2,\"ratio\":0.1,\"on\":true,\"gone\":null,\"list\":[1,\"a\",{"
    "\"b\":[]}]},\"origin\":\"prom\",\"type\":\"prometheusAlert\",\"createTime\":"
    "\"2026-11-24T05:44:27.123Z\",\"timeout\":3600,\"rawData\":\"raw text\",\"customer\":"
    "\"acme\",\"fingerprint\":\"abc\",\"source\":\"am\",\"generatorURL\":\"http://g/x\","
    "\"labels\":{\"alertname\":\"HttpError\",\"team\":\"web\"},\"annotations\":{\"summary\":"
    "\"s\"},\"startsAt\":\"2026-11-24T05:00:00Z\",\"endsAt\":\"2026-11-24T06:00:00+01:00\","
    "\"href\":\"ignored\",\"duplicateCount\":5}";

static void test_all_fields(void **state)
{
    struct arena a;
    const struct alert_in *in = one(full_alert, &a);

    (void)state;
    assert_string_equal(in->id, "0b7f5c1e-8a4d-4f7e-9c2b-3d1e5f6a7b8c");
    assert_string_equal(in->resource, "web01");
    assert_string_equal(in->event, "HttpError");
    assert_string_equal(in->environment, "Production");
    assert_int_equal(in->severity, sevmap_find(&sev, "major", 5));
    assert_int_equal(in->status, AST_ACK);
    assert_string_equal(in->group, "Web");
    assert_string_equal(in->value, "503");
    assert_string_equal(in->text, "down");
    assert_string_equal(in->origin, "prom");
    assert_string_equal(in->type, "prometheusAlert");
    assert_string_equal(in->customer, "acme");
    assert_string_equal(in->raw_data, "raw text");
    assert_string_equal(in->fingerprint, "abc");
    assert_string_equal(in->source, "am");
    assert_string_equal(in->generator_url, "http://g/x");
    assert_int_equal(in->correlate.n, 2);
    assert_string_equal(in->correlate.v[1], "HttpOK");
    assert_int_equal(in->service.n, 2);
    assert_string_equal(in->service.v[0], "Web");
    assert_int_equal(in->tags.n, 2);
    assert_string_equal(in->tags.v[1], "linux");
    assert_int_equal(in->attributes.n, 6);
    assert_string_equal(in->attributes.v[0].k, "region");
    assert_string_equal(in->attributes.v[0].v, "\"eu\"");
    assert_string_equal(in->attributes.v[1].v, "2");
    assert_string_equal(in->attributes.v[2].v, "0.10000000000000001"); /* json_dumps' text */
    assert_string_equal(in->attributes.v[3].v, "true");
    assert_string_equal(in->attributes.v[4].v, "null");
    assert_string_equal(in->attributes.v[5].k, "list");
    assert_string_equal(in->attributes.v[5].v, "[1,\"a\",{\"b\":[]}]");
    assert_int_equal(in->labels.n, 2);
    assert_string_equal(in->labels.v[0].k, "alertname");
    assert_string_equal(in->labels.v[0].v, "HttpError");
    assert_int_equal(in->annotations.n, 1);
    assert_string_equal(in->annotations.v[0].v, "s");
    assert_int_equal(in->create_ms, 1795499067123LL);
    assert_int_equal(in->timeout_s, 3600);
    assert_int_equal(in->starts_ms, 1795496400000LL);
    assert_int_equal(in->ends_ms, 1795496400000LL);
    assert_int_equal(in->flags, AIN_SERVICE | AIN_TAGS | AIN_CORRELATE | AIN_ATTRIBUTES |
                                    AIN_LABELS | AIN_ANNOTATIONS | AIN_VALUE | AIN_RAW);
    arena_free(&a);
}

static void test_defaults(void **state)
{
    struct arena a;
    const struct alert_in *in = one("{" BASE "}", &a);

    (void)state;
    assert_string_equal(in->resource, "r");
    assert_string_equal(in->event, "e");
    assert_null(in->id);
    assert_null(in->environment);
    assert_null(in->group);
    assert_null(in->value);
    assert_null(in->raw_data);
    assert_null(in->customer);
    assert_int_equal(in->severity, -1);
    assert_int_equal(in->status, -1);
    assert_int_equal(in->timeout_s, -1);
    assert_int_equal(in->create_ms, 0);
    assert_int_equal(in->flags, 0);
    assert_int_equal(in->tags.n, 0);
    assert_null(in->tags.v);
    assert_int_equal(in->attributes.n, 0);
    arena_free(&a);

    /* null and "" are absent (Alerta's `x or default`), except for value and rawData */
    in = one("{" BASE ",\"id\":\"\",\"environment\":\"\",\"group\":null,\"text\":\"\",\"origin\":"
             "\"\",\"type\":null,\"fingerprint\":\"\",\"source\":\"\",\"generatorURL\":null,"
             "\"severity\":\"\",\"status\":null,\"timeout\":null,\"createTime\":null,\"customer\":"
             "null,\"labels\":null,\"annotations\":null,\"startsAt\":null,\"endsAt\":null,"
             "\"value\":\"\",\"rawData\":\"\"}",
             &a);
    assert_null(in->id);
    assert_null(in->environment);
    assert_null(in->group);
    assert_null(in->text);
    assert_null(in->origin);
    assert_null(in->type);
    assert_null(in->fingerprint);
    assert_null(in->source);
    assert_null(in->generator_url);
    assert_null(in->customer);
    assert_int_equal(in->severity, -1);
    assert_int_equal(in->status, -1);
    assert_int_equal(in->timeout_s, -1);
    assert_string_equal(in->value, "");
    assert_string_equal(in->raw_data, "");
    assert_int_equal(in->flags, AIN_VALUE | AIN_RAW);
    arena_free(&a);

    in = one("{" BASE ",\"value\":null,\"rawData\":null,\"tags\":[],\"attributes\":{},"
             "\"labels\":{}}",
             &a);
    assert_null(in->value);
    assert_null(in->raw_data);
    assert_int_equal(in->flags, AIN_VALUE | AIN_RAW | AIN_TAGS | AIN_ATTRIBUTES | AIN_LABELS);
    arena_free(&a);
}

static void test_values(void **state)
{
    static const struct {
        const char *in, *want;
    } values[] = {
        {"95", "95"},     {"1.5", "1.5"},
        {"-0", "0"},      {"-0.0", "-0.0"},
        {"1E3", "1E3"},   {"0", "0"},
        {"-12", "-12"},   {"\"x\\ny\"", "x\ny"},
        {"1e-7", "1e-7"}, {"9223372036854775807", "9223372036854775807"},
    };
    struct arena a;
    struct sb b = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        const struct alert_in *in;
        b.n = 0;
        sb_printf(&b, "{" BASE ",\"value\":%s}", values[i].in);
        in = one(b.p, &a);
        assert_string_equal(in->value, values[i].want);
        assert_true(in->flags & AIN_VALUE);
        arena_free(&a);
    }
    free(b.p);
}

static void test_attributes_text(void **state)
{
    static const struct {
        const char *in, *want;
    } attrs[] = {
        {"1", "1"},
        {"-0", "0"},
        {"-0.0", "-0.0"},
        {"1.0", "1.0"},
        {"1e22", "1e22"},
        {"1E+2", "100.0"},
        {"123456789012345678", "123456789012345678"},
        {"1e16", "10000000000000000.0"},
        {"2.5e-5", "2.5000000000000001e-5"},
        {"\"a\\/b\\u00e9\\ud83d\\ude00\"", "\"a/b\xC3\xA9\xF0\x9F\x98\x80\""},
        {"\"\\u001f\\b\\t\\\"\\\\\"", "\"\\u001F\\b\\t\\\"\\\\\""},
        {"[ 1 , { \"a\" : null } , [ ] ]", "[1,{\"a\":null},[]]"},
        {"{\"b\":1,\"a\":2,\"b\":3}", "{\"b\":3,\"a\":2}"}, /* jansson's place for a repeat */
        {"{\"x\":{\"k\":1,\"k\":[2]}}", "{\"x\":{\"k\":[2]}}"},
        {"{\"\\u00e9\":1,\"\xC3\xA9\":2}", "{\"\xC3\xA9\":2}"},
        {"false", "false"},
        {"null", "null"},
    };
    struct arena a;
    struct sb b = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        const struct alert_in *in;
        b.n = 0;
        sb_printf(&b, "{" BASE ",\"attributes\":{\"k\":%s}}", attrs[i].in);
        in = one(b.p, &a);
        assert_int_equal(in->attributes.n, 1);
        assert_string_equal(in->attributes.v[0].k, "k");
        assert_string_equal(in->attributes.v[0].v, attrs[i].want);
        arena_free(&a);
    }
    free(b.p);
}

/* Reals in attribute values get json_dumps' text ("%.17g" and its rewrites), which alerta_parse
 * computes without printf where it can: random doubles, sent at random precisions. */
static void test_reals(void **state)
{
    struct sb b = {0};
    int bad_n = 0;

    (void)state;
    rng_state = 0xA1E47A03;
    mismatches = 0;
    for (int round = 0; round < 400; round++) {
        b.n = 0;
        sb_puts(&b, "{" BASE ",\"attributes\":{\"k\":[");
        for (int i = 0; i < 500; i++) {
            uint64_t bits = rnd();
            double d;
            char tmp[40];
            switch (rn(4)) {
            case 0: /* any finite double */
                memcpy(&d, &bits, sizeof(d));
                if (!isfinite(d))
                    d = 1.5;
                break;
            case 1: /* human-sized values */
                d = (double)(bits % 2000000) / 1000.0 - 1000.0;
                break;
            case 2: /* around the edges of the fast path: 1e-7 .. 1e40 */
                d = ldexp((double)(bits >> 11), (int)rn(190) - 100 - 53);
                break;
            default: /* near powers of ten */
                d = pow(10.0, (int)rn(60) - 25) * (1.0 + ((int)rn(3) - 1) * 1e-16);
            }
            snprintf(tmp, sizeof(tmp), "%.*g", 1 + (int)rn(17), d);
            if (!strpbrk(tmp, ".e"))
                strcat(tmp, ".0"); /* keep it a real */
            sb_printf(&b, "%s%s", i ? "," : "", tmp);
        }
        sb_puts(&b, "]}}");
        bad_n += !compare_one(b.p, b.n, MAX_ALERTS, true);
    }
    free(b.p);
    assert_int_equal(bad_n, 0);
}

static void test_raw_data(void **state)
{
    struct arena a;
    const struct alert_in *in;

    (void)state;
    in = one("{" BASE ",\"rawData\":\"line1\\nline2\"}", &a);
    assert_string_equal(in->raw_data, "line1\nline2");
    arena_free(&a);
    in = one("{" BASE ",\"rawData\":{ \"a\" : [1, 2.50, true] }}", &a);
    assert_string_equal(in->raw_data, "{\"a\":[1,2.5,true]}");
    arena_free(&a);
    in = one("{" BASE ",\"rawData\":12}", &a);
    assert_string_equal(in->raw_data, "12");
    arena_free(&a);
    in = one("{" BASE ",\"rawData\":false}", &a);
    assert_string_equal(in->raw_data, "false");
    arena_free(&a);
}

static void test_names_and_dates(void **state)
{
    static const char *const statuses[] = {"open",     "assign", "ack",     "shelved",
                                           "blackout", "closed", "expired", "unknown"};
    struct arena a;
    struct sb b = {0};
    const struct alert_in *in;

    (void)state;
    for (size_t i = 0; i < sev.n; i++) {
        b.n = 0;
        sb_printf(&b, "{" BASE ",\"severity\":\"%s\"}", sev.name[i]);
        in = one(b.p, &a);
        assert_int_equal(in->severity, (int)i);
        arena_free(&a);
    }
    for (int i = 0; i < AST_COUNT; i++) {
        b.n = 0;
        sb_printf(&b, "{" BASE ",\"status\":\"%s\"}", statuses[i]);
        in = one(b.p, &a);
        assert_int_equal(in->status, i);
        arena_free(&a);
    }
    in = one("{" BASE ",\"severity\":\"\\u006dajor\",\"createTime\":\"2026-11-24T05:44:27Z\"}", &a);
    assert_int_equal(in->severity, sevmap_find(&sev, "major", 5));
    assert_int_equal(in->create_ms, 1795499067000LL);
    arena_free(&a);
    in = one("{" BASE ",\"createTime\":\"2026-11-24T05:44:27.5+02:00\",\"timeout\":0}", &a);
    assert_int_equal(in->create_ms, 1795499067500LL - 7200000);
    assert_int_equal(in->timeout_s, 0);
    arena_free(&a);
    in =
        one("{" BASE ",\"timeout\":316224000,\"id\":\"0B7F5C1E-8A4D-4F7E-9C2B-3D1E5F6A7B8C\"}", &a);
    assert_int_equal(in->timeout_s, ALERT_MAX_TIMEOUT);
    assert_string_equal(in->id, "0B7F5C1E-8A4D-4F7E-9C2B-3D1E5F6A7B8C");
    arena_free(&a);
    free(b.p);
}

static void test_correlate(void **state)
{
    struct arena a;
    const struct alert_in *in;

    (void)state;
    in = one("{" BASE ",\"correlate\":[\"x\",\"y\"]}", &a);
    assert_int_equal(in->correlate.n, 3);
    assert_string_equal(in->correlate.v[2], "e");
    arena_free(&a);
    in = one("{" BASE ",\"correlate\":[\"e\",\"y\"]}", &a);
    assert_int_equal(in->correlate.n, 2);
    arena_free(&a);
    in = one("{\"correlate\":[\"y\"]," BASE "}", &a);
    assert_int_equal(in->correlate.n, 2);
    assert_string_equal(in->correlate.v[1], "e");
    arena_free(&a);
    in = one("{" BASE ",\"correlate\":[]}", &a);
    assert_int_equal(in->correlate.n, 0);
    assert_true(in->flags & AIN_CORRELATE);
    arena_free(&a);
}

/* ---- errors ---- */

#define SEVS                                                                                       \
    "security, critical, major, minor, warning, indeterminate, informational, normal, ok, "        \
    "cleared, debug, trace, unknown"
#define STATUSES "open, assign, ack, shelved, blackout, closed, expired, unknown"
#define DATES "dates must be ISO 8601 date format YYYY-MM-DDThh:mm:ss.sssZ"

static void test_errors(void **state)
{
    static const char *const strs[] = {"environment", "group",       "text",
                                       "origin",      "type",        "customer",
                                       "source",      "fingerprint", "generatorURL"};
    static const char *const lists[] = {"service", "tags", "correlate"};
    static const char *const dates[] = {"createTime", "startsAt", "endsAt"};
    struct sb b = {0}, f = {0};

    (void)state;
    bad("{\"event\":\"e\"}", "resource", "Missing mandatory value for \"resource\"");
    bad("{\"resource\":\"\",\"event\":\"e\"}", "resource",
        "Missing mandatory value for \"resource\"");
    bad("{\"resource\":null,\"event\":\"e\"}", "resource",
        "Missing mandatory value for \"resource\"");
    bad("{\"resource\":\"r\"}", "event", "Missing mandatory value for \"event\"");
    bad("{\"resource\":\"r\",\"event\":\"\"}", "event", "Missing mandatory value for \"event\"");
    bad("{\"resource\":5,\"event\":\"e\"}", "resource", "resource must be a string");
    bad("{\"resource\":\"r\",\"event\":[]}", "event", "event must be a string");
    bad("{}", "resource", "Missing mandatory value for \"resource\"");
    bad("{" BASE ",\"severity\":\"bogus\"}", "severity", "Severity (bogus) is not one of " SEVS);
    bad("{" BASE ",\"severity\":\"Major\"}", "severity", "Severity (Major) is not one of " SEVS);
    bad("{" BASE ",\"severity\":\"caf\\u00e9\"}", "severity",
        "Severity (caf\xC3\xA9) is not one of " SEVS);
    bad("{" BASE ",\"severity\":3}", "severity", "Severity (3) is not one of " SEVS);
    bad("{" BASE ",\"severity\":[ 1 ]}", "severity", "Severity ([ 1 ]) is not one of " SEVS);
    bad("{" BASE ",\"status\":\"bogus\"}", "status", "Status (bogus) is not one of " STATUSES);
    bad("{" BASE ",\"status\":\"OPEN\"}", "status", "Status (OPEN) is not one of " STATUSES);
    bad("{" BASE ",\"status\":true}", "status", "Status (true) is not one of " STATUSES);
    bad("{" BASE ",\"customer\":\"\"}", "customer", "customer must not be an empty string");
    bad("{" BASE ",\"id\":\"x\"}", "id", "id must be a UUID");
    bad("{" BASE ",\"id\":\"0b7f5c1e-8a4d-4f7e-9c2b-3d1e5f6a7b8\"}", "id", "id must be a UUID");
    bad("{" BASE ",\"id\":\"0b7f5c1e08a4d-4f7e-9c2b-3d1e5f6a7b8c\"}", "id", "id must be a UUID");
    bad("{" BASE ",\"id\":5}", "id", "id must be a string");
    bad("{" BASE ",\"value\":true}", "value", "value must be a string, a number or null");
    bad("{" BASE ",\"value\":[]}", "value", "value must be a string, a number or null");
    bad("{" BASE ",\"value\":{}}", "value", "value must be a string, a number or null");
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        b.n = f.n = 0;
        sb_printf(&b, "{" BASE ",\"%s\":5}", strs[i]);
        sb_printf(&f, "%s must be a string", strs[i]);
        bad(b.p, strs[i], f.p);
        b.n = 0;
        sb_printf(&b, "{" BASE ",\"%s\":{\"a\":\"b\"}}", strs[i]);
        bad(b.p, strs[i], f.p);
    }
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        static const char *const notlists[] = {"\"x\"", "null", "{}", "5"};
        for (size_t k = 0; k < 4; k++) {
            b.n = f.n = 0;
            sb_printf(&b, "{" BASE ",\"%s\":%s}", lists[i], notlists[k]);
            sb_printf(&f, "%s must be a list", lists[i]);
            bad(b.p, lists[i], f.p);
        }
        for (int k = 0; k < 2; k++) {
            char field[32];
            b.n = f.n = 0;
            sb_printf(&b, "{" BASE ",\"%s\":%s}", lists[i], k ? "[null]" : "[\"a\",\"b\",1]");
            snprintf(field, sizeof(field), "%s[%d]", lists[i], k ? 0 : 2);
            sb_printf(&f, "%s must be a string", field);
            bad(b.p, field, f.p);
        }
    }
    bad("{" BASE ",\"attributes\":[]}", "attributes", "attributes must be a JSON object");
    bad("{" BASE ",\"attributes\":null}", "attributes", "attributes must be a JSON object");
    bad("{" BASE ",\"attributes\":\"x\"}", "attributes", "attributes must be a JSON object");
    bad("{" BASE ",\"attributes\":{\"a.b\":1}}", "attributes",
        "Attribute keys must not contain \".\" or \"$\"");
    bad("{" BASE ",\"attributes\":{\"ok\":1,\"$a\":1}}", "attributes",
        "Attribute keys must not contain \".\" or \"$\"");
    bad("{" BASE ",\"attributes\":{\"a\\u002eb\":1}}", "attributes",
        "Attribute keys must not contain \".\" or \"$\"");
    bad("{" BASE ",\"labels\":\"x\"}", "labels", "labels must be a JSON object");
    bad("{" BASE ",\"labels\":[]}", "labels", "labels must be a JSON object");
    bad("{" BASE ",\"labels\":{\"a\":\"b\",\"k\":1}}", "labels.k", "labels.k must be a string");
    bad("{" BASE ",\"labels\":{\"k\":null}}", "labels.k", "labels.k must be a string");
    bad("{" BASE ",\"annotations\":5}", "annotations", "annotations must be a JSON object");
    bad("{" BASE ",\"annotations\":{\"s\":{}}}", "annotations.s", "annotations.s must be a string");
    bad("{" BASE ",\"timeout\":1.5}", "timeout", "timeout must be an integer");
    bad("{" BASE ",\"timeout\":1.0}", "timeout", "timeout must be an integer");
    bad("{" BASE ",\"timeout\":\"5\"}", "timeout", "timeout must be an integer");
    bad("{" BASE ",\"timeout\":true}", "timeout", "timeout must be an integer");
    bad("{" BASE ",\"timeout\":-5}", "timeout", "Invalid negative 'timeout' value (-5)");
    bad("{" BASE ",\"timeout\":316224001}", "timeout", "timeout must be at most 316224000 seconds");
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        static const char *const notdates[] = {
            "\"yesterday\"", "5", "\"2026-13-01T00:00:00Z\"", "\"2026-11-24T05:44:27Zx\"",
            "\"\"",          "[]"};
        for (size_t k = 0; k < sizeof(notdates) / sizeof(notdates[0]); k++) {
            b.n = 0;
            sb_printf(&b, "{" BASE ",\"%s\":%s}", dates[i], notdates[k]);
            bad(b.p, dates[i], DATES);
        }
    }
    free(b.p);
    free(f.p);
}

static void test_error_order(void **state)
{
    (void)state;
    /* Alert.parse's checks come first, in its order */
    bad("{\"tags\":5,\"correlate\":5,\"resource\":\"\"}", "correlate", "correlate must be a list");
    bad("{\"tags\":5,\"service\":5}", "service", "service must be a list");
    bad("{\"customer\":\"\",\"timeout\":\"x\",\"attributes\":[]}", "attributes",
        "attributes must be a JSON object");
    bad("{\"customer\":\"\",\"timeout\":\"x\"}", "timeout", "timeout must be an integer");
    bad("{\"customer\":\"\",\"createTime\":\"x\"}", "customer",
        "customer must not be an empty string");
    /* then createTime (evaluated for the constructor call), resource, event */
    bad("{\"createTime\":\"x\",\"event\":\"\"}", "createTime", DATES);
    bad("{\"event\":\"\",\"severity\":\"x\",\"attributes\":{\"a.b\":1}}", "resource",
        "Missing mandatory value for \"resource\"");
    bad("{\"resource\":\"r\",\"severity\":\"x\",\"attributes\":{\"a.b\":1}}", "event",
        "Missing mandatory value for \"event\"");
    /* then attribute keys, a negative timeout, the severity */
    bad("{" BASE ",\"timeout\":-1,\"attributes\":{\"a$\":1}}", "attributes",
        "Attribute keys must not contain \".\" or \"$\"");
    bad("{" BASE ",\"severity\":\"x\",\"timeout\":-1}", "timeout",
        "Invalid negative 'timeout' value (-1)");
    bad("{" BASE ",\"status\":\"x\",\"severity\":\"x\"}", "severity",
        "Severity (x) is not one of " SEVS);
    /* then tocsin's checks, in field order */
    bad("{" BASE ",\"labels\":1,\"status\":\"x\",\"tags\":[1]}", "tags[0]",
        "tags[0] must be a string");
    bad("{" BASE ",\"labels\":1,\"status\":\"x\"}", "status", "Status (x) is not one of " STATUSES);
    bad("{" BASE ",\"endsAt\":1,\"labels\":1}", "labels", "labels must be a JSON object");
    /* within a field, the first in the document; attribute keys before values */
    bad("{" BASE ",\"tags\":[\"a\",[],1]}", "tags[1]", "tags[1] must be a string");
    bad("{" BASE ",\"labels\":{\"b\":1,\"a\":2}}", "labels.b", "labels.b must be a string");
    {
        struct sb b = {0}; /* a value too long, then a bad key: the key comes first */
        sb_puts(&b, "{" BASE ",\"attributes\":{\"v\":\"");
        sb_repeat(&b, 'x', ALERT_MAX_ATTR_VALUE);
        sb_puts(&b, "\",\"a.b\":1}}");
        bad(b.p, "attributes", "Attribute keys must not contain \".\" or \"$\"");
        free(b.p);
    }
}

static void test_repeated_keys(void **state)
{
    struct arena a;
    const struct alert_in *in;

    (void)state;
    /* the last value wins, its errors only */
    in = one("{\"resource\":5,\"event\":\"e\",\"resource\":\"r2\",\"severity\":\"bogus\","
             "\"severity\":\"minor\",\"tags\":5,\"tags\":[\"t\"],\"timeout\":-1,\"timeout\":7}",
             &a);
    assert_string_equal(in->resource, "r2");
    assert_int_equal(in->severity, sevmap_find(&sev, "minor", 5));
    assert_int_equal(in->tags.n, 1);
    assert_int_equal(in->timeout_s, 7);
    arena_free(&a);
    bad("{" BASE ",\"severity\":\"minor\",\"severity\":\"bogus\"}", "severity",
        "Severity (bogus) is not one of " SEVS);
    bad("{" BASE ",\"labels\":{},\"labels\":5}", "labels", "labels must be a JSON object");
    in = one("{" BASE ",\"labels\":{\"a\":\"1\"},\"labels\":null,\"value\":1,\"value\":null}", &a);
    assert_int_equal(in->labels.n, 0);
    assert_int_equal(in->flags, AIN_VALUE);
    assert_null(in->value);
    arena_free(&a);
    /* in a map: the last value, in the first key's place; a bad value replaced is forgotten */
    in = one("{" BASE ",\"labels\":{\"a\":1,\"b\":\"x\",\"a\":\"y\",\"\\u0062\":\"z\"}}", &a);
    assert_int_equal(in->labels.n, 2);
    assert_string_equal(in->labels.v[0].k, "a");
    assert_string_equal(in->labels.v[0].v, "y");
    assert_string_equal(in->labels.v[1].k, "b");
    assert_string_equal(in->labels.v[1].v, "z");
    arena_free(&a);
    bad("{" BASE ",\"labels\":{\"a\":\"y\",\"a\":1}}", "labels.a", "labels.a must be a string");
    in = one("{" BASE ",\"attributes\":{\"a\":{\"x\":1,\"x\":2},\"a\":[1]}}", &a);
    assert_int_equal(in->attributes.n, 1);
    assert_string_equal(in->attributes.v[0].v, "[1]");
    arena_free(&a);
    in = one("{" BASE ",\"rawData\":{\"x\":1,\"y\":{\"z\":0.5,\"z\":1e2},\"x\":[]}}", &a);
    assert_string_equal(in->raw_data, "{\"x\":[],\"y\":{\"z\":100.0}}");
    arena_free(&a);
}

/* A map of n distinct keys (labels or attributes), past MAP_LINEAR; repeats in it. */
static void test_big_maps(void **state)
{
    struct sb b = {0};
    struct arena a;
    const struct alert_in *in;

    (void)state;
    sb_puts(&b, "{" BASE ",\"labels\":{");
    for (unsigned i = 0; i < 256; i++)
        sb_printf(&b, "%s\"k%u\":\"v%u\"", i ? "," : "", i, i);
    for (unsigned i = 0; i < 256; i += 3)
        sb_printf(&b, ",\"k%u\":\"w%u\"", i, i);
    sb_puts(&b, "}}");
    in = one(b.p, &a);
    assert_int_equal(in->labels.n, 256);
    assert_string_equal(in->labels.v[255].k, "k255");
    assert_string_equal(in->labels.v[255].v, "w255");
    assert_string_equal(in->labels.v[254].v, "v254");
    arena_free(&a);
    b.n = 0;
    sb_puts(&b, "{" BASE ",\"labels\":{");
    for (unsigned i = 0; i < 257; i++)
        sb_printf(&b, "%s\"k%u\":\"v%u\"", i ? "," : "", i, i);
    sb_puts(&b, "}}");
    bad(b.p, "labels", "labels has more than 256 items");
    free(b.p);
}

/* ---- limits ---- */

/* {BASE, "key": <prefix><n times ch><suffix>} */
static void with_long(struct sb *b, const char *key, const char *prefix, char ch, size_t n,
                      const char *suffix)
{
    b->n = 0;
    sb_printf(b, "{" BASE ",\"%s\":%s", key, prefix);
    sb_repeat(b, ch, n);
    sb_puts(b, suffix);
    sb_puts(b, "}");
}

static void ok_long(struct sb *b)
{
    struct arena a;

    one(b->p, &a);
    arena_free(&a);
}

static void test_limits(void **state)
{
    static const struct {
        const char *key;
        size_t max;
    } strs[] = {
        {"environment", ALERT_MAX_NAME},  {"group", ALERT_MAX_NAME},  {"text", ALERT_MAX_TEXT},
        {"origin", ALERT_MAX_NAME},       {"type", ALERT_MAX_NAME},   {"customer", ALERT_MAX_NAME},
        {"fingerprint", ALERT_MAX_NAME},  {"source", ALERT_MAX_NAME}, {"value", ALERT_MAX_TEXT},
        {"generatorURL", ALERT_MAX_TEXT}, {"rawData", ALERT_MAX_RAW}};
    struct sb b = {0}, m = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        with_long(&b, strs[i].key, "\"", 'x', strs[i].max, "\"");
        ok_long(&b);
        with_long(&b, strs[i].key, "\"", 'x', strs[i].max + 1, "\"");
        m.n = 0;
        sb_printf(&m, "%s is longer than %zu bytes", strs[i].key, strs[i].max);
        bad(b.p, strs[i].key, m.p);
    }
    /* escapes count once unescaped: 1024 bytes sent as 6 each */
    b.n = 0;
    sb_puts(&b, "{\"event\":\"e\",\"resource\":\"");
    for (int i = 0; i < ALERT_MAX_NAME; i++)
        sb_puts(&b, "\\u0041");
    sb_puts(&b, "\"}");
    ok_long(&b);
    with_long(&b, "resource", "\"", 'x', ALERT_MAX_NAME + 1, "\"");
    bad(b.p, "resource", "resource is longer than 1024 bytes");
    /* lists and maps */
    with_long(&b, "tags", "[\"", 'x', ALERT_MAX_NAME, "\"]");
    ok_long(&b);
    with_long(&b, "tags", "[\"a\",\"", 'x', ALERT_MAX_NAME + 1, "\"]");
    bad(b.p, "tags[1]", "tags[1] is longer than 1024 bytes");
    b.n = 0;
    sb_puts(&b, "{" BASE ",\"service\":[");
    for (int i = 0; i < ALERT_MAX_ITEMS; i++)
        sb_printf(&b, "%s\"s%d\"", i ? "," : "", i);
    sb_puts(&b, "]}");
    ok_long(&b);
    b.n -= 2;
    sb_puts(&b, ",\"x\"]}");
    bad(b.p, "service", "service has more than 256 items");
    b.n = 0; /* 256 items without event: appending it is one too many */
    sb_puts(&b, "{" BASE ",\"correlate\":[");
    for (int i = 0; i < ALERT_MAX_ITEMS; i++)
        sb_printf(&b, "%s\"s%d\"", i ? "," : "", i);
    sb_puts(&b, "]}");
    bad(b.p, "correlate", "correlate has more than 256 items");
    b.n = 0;
    sb_puts(&b, "{" BASE ",\"attributes\":{");
    for (int i = 0; i < ALERT_MAX_ITEMS + 1; i++)
        sb_printf(&b, "%s\"a%d\":%d", i ? "," : "", i, i);
    sb_puts(&b, "}}");
    bad(b.p, "attributes", "attributes has more than 256 items");
    with_long(&b, "attributes", "{\"k\":\"", 'x', ALERT_MAX_ATTR_VALUE - 2, "\"}");
    ok_long(&b);
    with_long(&b, "attributes", "{\"k\":\"", 'x', ALERT_MAX_ATTR_VALUE - 1, "\"}");
    bad(b.p, "attributes.k", "attributes.k is longer than 16384 bytes as JSON");
    with_long(&b, "attributes", "{\"k\":[\"", 'x', ALERT_MAX_ATTR_VALUE - 4, "\"]}");
    ok_long(&b);
    with_long(&b, "attributes", "{\"k\":[\"", 'x', ALERT_MAX_ATTR_VALUE - 3, "\"]}");
    bad(b.p, "attributes.k", "attributes.k is longer than 16384 bytes as JSON");
    b.n = 0; /* escapes shrink: \/ is / */
    sb_puts(&b, "{" BASE ",\"attributes\":{\"k\":[\"");
    for (int i = 0; i < ALERT_MAX_ATTR_VALUE - 4; i++)
        sb_puts(&b, "\\/");
    sb_puts(&b, "\"]}}");
    ok_long(&b);
    with_long(&b, "attributes", "{\"", 'k', ALERT_MAX_NAME + 1, "\":1}");
    bad(b.p, "attributes", "attributes has a key longer than 1024 bytes");
    with_long(&b, "labels", "{\"", 'k', ALERT_MAX_NAME, "\":\"v\"}");
    ok_long(&b);
    with_long(&b, "labels", "{\"", 'k', ALERT_MAX_NAME + 1, "\":\"v\"}");
    bad(b.p, "labels", "labels has a key longer than 1024 bytes");
    with_long(&b, "labels", "{\"k\":\"", 'x', ALERT_MAX_NAME, "\"}");
    ok_long(&b);
    with_long(&b, "labels", "{\"k\":\"", 'x', ALERT_MAX_NAME + 1, "\"}");
    bad(b.p, "labels.k", "labels.k is longer than 1024 bytes");
    with_long(&b, "annotations", "{\"k\":\"", 'x', ALERT_MAX_TEXT, "\"}");
    ok_long(&b);
    with_long(&b, "annotations", "{\"k\":\"", 'x', ALERT_MAX_TEXT + 1, "\"}");
    bad(b.p, "annotations.k", "annotations.k is longer than 65536 bytes");
    /* rawData as JSON text: exactly at the limit, then one past it (past the scratch buffer) */
    with_long(&b, "rawData", "[\"", 'x', ALERT_MAX_RAW - 4, "\"]");
    ok_long(&b);
    with_long(&b, "rawData", "[\"", 'x', ALERT_MAX_RAW - 3, "\"]");
    bad(b.p, "rawData", "rawData is longer than 1048576 bytes");
    free(b.p);
    free(m.p);
}

/* rawData past the scratch buffer is dumped twice; with repeats and escapes (jansson decides). */
static void test_big_raw(void **state)
{
    struct sb b = {0};
    struct arena a;
    const struct alert_in *in;

    (void)state;
    sb_puts(&b, "{" BASE ",\"rawData\":{\"list\":[");
    for (int i = 0; i < 5000; i++)
        sb_printf(&b, "%s%d.5", i ? ", " : "", i);
    sb_puts(&b, "],\"s\":\"\\u00e9\",\"k\\n\":1}}");
    in = one(b.p, &a);
    assert_true(strlen(in->raw_data) > ALERT_MAX_ATTR_VALUE);
    assert_int_equal(strncmp(in->raw_data, "{\"list\":[0.5,1.5,", 17), 0);
    arena_free(&a);
    b.n -= 2;
    sb_puts(&b, ",\"k\\n\":2}}"); /* a repeated escaped key past the scratch buffer */
    in = one(b.p, &a);
    assert_non_null(strstr(in->raw_data, "\"k\\n\":2}"));
    arena_free(&a);
    free(b.p);
}

/* ---- UTF-8, escapes, JSON strictness ---- */

static void test_strings(void **state)
{
    struct arena a;
    const struct alert_in *in;

    (void)state;
    in = one("{\"res\\u006furce\":\"caf\\u00e9 \\ud83d\\ude00 \xE2\x82\xAC\",\"event\":"
             "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
             &a);
    assert_string_equal(in->resource, "caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x82\xAC");
    assert_string_equal(in->event, "\"\\/\b\f\n\r\t");
    arena_free(&a);
    in = one(" \n\t{ \"resource\" : \"r\" ,\r\n \"event\" : \"e\" , \"tags\" : [ \"a\" , \"b\" ] "
             "}\n ",
             &a);
    assert_int_equal(in->tags.n, 2);
    arena_free(&a);
    /* a key sent with escapes only: 12 escapes for generatorURL */
    in = one("{" BASE ",\"\\u0067\\u0065\\u006e\\u0065\\u0072\\u0061\\u0074\\u006f\\u0072\\u0055"
             "\\u0052\\u004c\":\"u\"}",
             &a);
    assert_string_equal(in->generator_url, "u");
    arena_free(&a);
}

static void test_bad_json(void **state)
{
    static const struct {
        const char *in;
        size_t len;
    } cases[] = {
        {"", 0},
        {"{", 0},
        {"{" BASE ",}", 0},
        {"{" BASE "", 0},
        {"{" BASE "}x", 0},
        {"{" BASE ",\"text\":\"\\u0000\"}", 0},
        {"{" BASE ",\"text\":\"\\ud800\"}", 0},
        {"{" BASE ",\"text\":\"\\udc00\\ud800\"}", 0},
        {"{" BASE ",\"text\":\"\\ud800\\u0041\"}", 0},
        {"{" BASE ",\"text\":\"\xC0\xAF\"}", 0},
        {"{" BASE ",\"text\":\"\xED\xA0\x80\"}", 0},
        {"{" BASE ",\"text\":\"\xF4\x90\x80\x80\"}", 0},
        {"{" BASE ",\"text\":\"\x80\"}", 0},
        {"{" BASE ",\"text\":\"a\x01\"}", 0},
        {"{" BASE ",\"text\":\"\\x\"}", 0},
        {"{" BASE ",\"value\":01}", 0},
        {"{" BASE ",\"value\":1.}", 0},
        {"{" BASE ",\"value\":1e}", 0},
        {"{" BASE ",\"value\":1e400}", 0},
        {"{" BASE ",\"value\":9223372036854775808}", 0},
        {"{" BASE ",\"value\":+1}", 0},
        {"{" BASE ",\"value\":tru}", 0},
        {"{" BASE ",\"value\":NaN}", 0},
        {"{" BASE ",\"x\":[1,]}", 0},
        {"{" BASE ",\"x\":{\"a\"}}", 0},
        {"{" BASE ",\"x\":'a'}", 0},
        {"{\"resource\":\"r\",\"event\":\"e\",\"x\":1\0}", 35},
        {"[{" BASE "},]", 0},
        {"{" BASE ",\"severity\":\"bogus\",\"x\":[}", 0}, /* malformed JSON wins */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        char *copy = malloc(len ? len : 1); /* exact size so ASan sees any over-read */
        assert_non_null(copy);
        memcpy(copy, cases[i].in, len);
        check_err(copy, len, TOCSIN_EINVAL, "body", NULL);
        free(copy);
    }
}

static void test_error_position(void **state)
{
    static const char in[] = "{\n  \"resource\": \"r\",\n  \"x\": tru\n}";
    struct arena a;
    struct res r;

    (void)state;
    parse_str(in, &a, &r);
    assert_int_equal(r.rc, TOCSIN_EINVAL);
    assert_string_equal(r.err.field, "body");
    assert_string_equal(r.err.msg, "invalid JSON: invalid literal (line 3, column 8)");
    arena_free(&a);
}

static void test_nesting(void **state)
{
    struct sb b = {0};
    struct arena a;
    struct res r;

    (void)state;
    for (int depth = 62; depth <= 66; depth++) { /* the alert object is level 1 */
        b.n = 0;
        sb_puts(&b, "{" BASE ",\"attributes\":{\"k\":");
        sb_repeat(&b, '[', (size_t)depth - 2);
        sb_repeat(&b, ']', (size_t)depth - 2);
        sb_puts(&b, "}}");
        parse_str(b.p, &a, &r);
        assert_int_equal(r.rc, depth <= 64 ? TOCSIN_OK : TOCSIN_EINVAL);
        if (r.rc)
            assert_string_equal(r.err.field, "body");
        arena_free(&a);
        assert_true(compare_one(b.p, b.n, MAX_ALERTS, true));
    }
    b.n = 0;
    sb_repeat(&b, '[', 100000); /* never deeper than the limit on the stack */
    parse_str(b.p, &a, &r);
    assert_int_equal(r.rc, TOCSIN_EINVAL);
    arena_free(&a);
    free(b.p);
}

/* ---- arrays ---- */

static void test_arrays(void **state)
{
    struct arena a;
    struct res r;

    (void)state;
    parse_str("[{" BASE "},{\"resource\":\"r2\",\"event\":\"e2\",\"severity\":\"minor\"}]", &a, &r);
    assert_int_equal(r.rc, TOCSIN_OK);
    assert_true(r.was_array);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.al[1].resource, "r2");
    arena_free(&a);
    parse_str(" [ ] ", &a, &r);
    assert_int_equal(r.rc, TOCSIN_OK);
    assert_true(r.was_array);
    assert_int_equal(r.n, 0);
    assert_null(r.al);
    arena_free(&a);
    bad("[{" BASE "},{" BASE ",\"severity\":\"x\"}]", "[1].severity",
        "Severity (x) is not one of " SEVS);
    bad("[{" BASE "},{\"event\":\"e\"},{}]", "[1].resource",
        "Missing mandatory value for \"resource\"");
    bad("[{" BASE "},{" BASE ",\"tags\":[1]}]", "[1].tags[0]", "tags[0] must be a string");
    bad("[{" BASE ",\"labels\":{\"k\":1}}]", "[0].labels.k", "labels.k must be a string");
    bad("[{" BASE "},5]", "[1]", "an alert must be a JSON object");
    bad("[{" BASE "},[]]", "[1]", "an alert must be a JSON object");
    bad("5", "body", "expected an alert object or an array of alerts");
    bad("\"x\"", "body", "expected an alert object or an array of alerts");
    bad("null", "body", "expected an alert object or an array of alerts");
    /* no array allowed */
    arena_init(&a, ARENA_MAX);
    my_parse("[{" BASE "}]", strlen("[{" BASE "}]"), &a, MAX_ALERTS, false, &r);
    assert_int_equal(r.rc, TOCSIN_EINVAL);
    assert_string_equal(r.err.field, "body");
    assert_string_equal(r.err.msg, "expected an alert object");
    assert_false(r.was_array);
    arena_free(&a);
    assert_true(compare_one("[{" BASE "}]", strlen("[{" BASE "}]"), MAX_ALERTS, false));
    assert_true(compare_one("[{" BASE "},]", strlen("[{" BASE "},]"), MAX_ALERTS, false));
}

static void test_batch_limit(void **state)
{
    const char *three = "[{" BASE "},{" BASE "},{" BASE "}]", *bad3 = "[{},{},{" BASE "},]";
    struct arena a;
    struct res r;

    (void)state;
    for (size_t max = 0; max <= 4; max++) {
        arena_init(&a, ARENA_MAX);
        my_parse(three, strlen(three), &a, max, true, &r);
        if (max >= 3) {
            assert_int_equal(r.rc, TOCSIN_OK);
            assert_int_equal(r.n, 3);
        } else {
            assert_int_equal(r.rc, TOCSIN_ETOOBIG);
            assert_int_equal(r.err.status, 413);
            assert_string_equal(r.err.field, "body");
            assert_null(r.al);
        }
        arena_free(&a);
        assert_true(compare_one(three, strlen(three), max, true));
        assert_true(compare_one("{" BASE "}", strlen("{" BASE "}"), max, true));
        assert_true(compare_one("[{},{}]", 7, max, true)); /* too many before semantic errors */
        assert_true(compare_one(bad3, strlen(bad3), max, true)); /* malformed JSON first */
    }
    arena_init(&a, ARENA_MAX);
    my_parse(three, strlen(three), &a, 2, true, &r);
    assert_string_equal(r.err.msg, "3 alerts in one batch (max 2)");
    arena_free(&a);
}

/* ---- arena ---- */

/* With every arena limit, the result is the full one or TOCSIN_ENOMEM (503). */
static void test_arena_limits(void **state)
{
    const char *inputs[] = {full_alert, "[{" BASE ",\"severity\":\"bogus\"},{" BASE "}]",
                            "[{" BASE ",\"tags\":[\"a\",\"b\"]},{" BASE ",\"rawData\":[1.5,{}]}]"};

    (void)state;
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        size_t refused = 0, done = 0; /* the sweep must see both outcomes */
        for (size_t max = 0; max <= 6000; max += 8) {
            struct arena a;
            struct res r;
            arena_init(&a, max);
            my_parse(inputs[i], strlen(inputs[i]), &a, MAX_ALERTS, true, &r);
            if (r.rc != TOCSIN_OK && !(i == 1 && r.rc == TOCSIN_EINVAL)) {
                assert_int_equal(r.rc, TOCSIN_ENOMEM);
                assert_int_equal(r.err.status, 503);
                assert_string_equal(r.err.field, "");
                assert_string_equal(r.err.msg, "out of memory");
                assert_null(r.al);
                refused++;
            } else {
                assert_int_equal(r.rc, i == 1 ? TOCSIN_EINVAL : TOCSIN_OK);
                done++;
            }
            arena_free(&a);
        }
        assert_true(refused > 0 && done > 0);
    }
}

/* The documented bound, len * 24 + 64 KiB, holds for the worst bodies there are. */
static void test_arena_bound(void **state)
{
    struct sb b = {0};
    double worst = 0;

    (void)state;
    for (int kind = 0; kind < 8; kind++) {
        struct arena a;
        struct res r;
        double ratio;
        b.n = 0;
        switch (kind) {
        case 0: /* minimal alerts */
            sb_putc(&b, '[');
            for (int i = 0; i < 5000; i++)
                sb_printf(&b, "%s{\"resource\":\"r\",\"event\":\"e\"}", i ? "," : "");
            sb_putc(&b, ']');
            break;
        case 1: /* a big first alert, then minimal ones: the array estimate is too low */
            sb_puts(&b, "[{" BASE ",\"text\":\"");
            sb_repeat(&b, 'x', 20000);
            sb_puts(&b, "\"}");
            for (int i = 0; i < 5000; i++)
                sb_puts(&b, ",{\"resource\":\"r\",\"event\":\"e\"}");
            sb_putc(&b, ']');
            break;
        case 2: /* lists of empty strings */
            sb_putc(&b, '[');
            for (int i = 0; i < 50; i++) {
                sb_printf(&b, "%s{" BASE ",\"tags\":[\"\"", i ? "," : "");
                for (int k = 1; k < 256; k++)
                    sb_puts(&b, ",\"\"");
                sb_puts(&b, "]}");
            }
            sb_putc(&b, ']');
            break;
        case 3: /* attributes of short reals, whose text is longer */
            sb_putc(&b, '[');
            for (int i = 0; i < 50; i++) {
                sb_printf(&b, "%s{" BASE ",\"attributes\":{", i ? "," : "");
                for (int k = 0; k < 256; k++)
                    sb_printf(&b, "%s\"%c%c\":0.1", k ? "," : "", 'a' + k % 26, 'a' + k / 26);
                sb_puts(&b, "}}");
            }
            sb_putc(&b, ']');
            break;
        case 4: /* arrays of short reals in attributes and rawData */
            sb_puts(&b, "{" BASE ",\"attributes\":{\"k\":[0.1");
            for (int k = 0; k < 700; k++)
                sb_puts(&b, ",0.1");
            sb_puts(&b, "]},\"rawData\":[1e-7");
            for (int k = 0; k < 40000; k++)
                sb_puts(&b, ",1e-7");
            sb_puts(&b, "]}");
            break;
        case 5: /* maps of empty strings */
            sb_putc(&b, '[');
            for (int i = 0; i < 50; i++) {
                sb_printf(&b, "%s{" BASE ",\"labels\":{", i ? "," : "");
                for (int k = 0; k < 256; k++)
                    sb_printf(&b, "%s\"%c%c\":\"\"", k ? "," : "", 'a' + k % 26, 'a' + k / 26);
                sb_puts(&b, "}}");
            }
            sb_putc(&b, ']');
            break;
        case 6: /* correlate with a spare slot, minimal */
            sb_putc(&b, '[');
            for (int i = 0; i < 3000; i++)
                sb_printf(&b, "%s{" BASE ",\"correlate\":[\"\"]}", i ? "," : "");
            sb_putc(&b, ']');
            break;
        default: /* one minimal alert */
            sb_puts(&b, "{\"resource\":\"r\",\"event\":\"e\"}");
        }
        arena_init(&a, ARENA_MAX);
        my_parse(b.p, b.n, &a, MAX_ALERTS, true, &r);
        assert_int_equal(r.rc, TOCSIN_OK);
        ratio = (double)a.used / (double)b.n;
        if (b.n > 64 * 1024) /* below that the 64 KiB covers it */
            worst = ratio > worst ? ratio : worst;
        if (getenv("ALERTA_ARENA_VERBOSE"))
            print_message("  body kind %d: %zu bytes, arena %zu (%.2fx)\n", kind, b.n, a.used,
                          ratio);
        if (a.used > b.n * 24 + 64 * 1024)
            fail_msg("body kind %d: %zu bytes used for %zu", kind, a.used, b.n);
        arena_free(&a);
    }
    print_message("arena: worst %.1f bytes per body byte (bodies over 64 KiB)\n", worst);
    free(b.p);
}

/* ---- generated inputs ---- */

static void gen_ws(struct sb *b)
{
    if (rn(10) == 0)
        for (unsigned n = 1 + rn(3); n; n--)
            sb_putc(b, " \n\t\r"[rn(4)]);
}

static void gen_char(struct sb *b)
{
    static const char *const chars[] = {
        "a",
        "b",
        "Z",
        "0",
        " ",
        ".",
        "$",
        "\\n",
        "\\\"",
        "\\\\",
        "\\/",
        "\\t",
        "\\u00e9",
        "\\u001f",
        "\\u2028",
        "\\ud83d\\ude00",
        "\xC3\xA9",
        "\xF0\x9F\x98\x80",
        "\xE2\x82\xAC",
        "\\u0041",
        "-",
        ":",
    };
    sb_puts(b, chars[rn(sizeof(chars) / sizeof(chars[0]))]);
}

static void gen_string(struct sb *b, unsigned maxlen)
{
    unsigned n = rn(maxlen + 1);

    sb_putc(b, '"');
    while (n--)
        gen_char(b);
    sb_putc(b, '"');
}

static void gen_name(struct sb *b)
{
    static const char *const names[] = {"\"a\"", "\"b\"",       "\"x\"",   "\"e\"", "\"web01\"",
                                        "\"\"",  "\"\\u0061\"", "\"a.b\"", "\"$x\""};

    if (rn(3) == 0)
        gen_string(b, 4);
    else
        sb_puts(b, names[rn(sizeof(names) / sizeof(names[0]))]);
}

static void gen_number(struct sb *b)
{
    static const char *const nums[] = {"0",
                                       "-0",
                                       "1",
                                       "-5",
                                       "42",
                                       "0.1",
                                       "1.5",
                                       "-0.0",
                                       "1e5",
                                       "1E-7",
                                       "2.50",
                                       "1e22",
                                       "1e16",
                                       "123456789012345678",
                                       "-9223372036854775808",
                                       "3600",
                                       "316224000",
                                       "316224001",
                                       "1e300",
                                       "5e-324"};

    sb_puts(b, nums[rn(sizeof(nums) / sizeof(nums[0]))]);
}

static void gen_any(struct sb *b, int depth);

static void gen_container(struct sb *b, int depth, bool object)
{
    unsigned n = rn(4);

    sb_putc(b, object ? '{' : '[');
    for (unsigned i = 0; i < n; i++) {
        if (i)
            sb_putc(b, ',');
        gen_ws(b);
        if (object) {
            gen_name(b);
            sb_putc(b, ':');
        }
        gen_any(b, depth + 1);
        gen_ws(b);
    }
    sb_putc(b, object ? '}' : ']');
}

static void gen_any(struct sb *b, int depth)
{
    unsigned k = rn(depth > 3 ? 6 : 8);

    if (k < 2)
        gen_string(b, 6);
    else if (k < 4)
        gen_number(b);
    else if (k < 6)
        sb_puts(b, rn(3) == 0 ? "null" : rn(2) ? "true" : "false");
    else
        gen_container(b, depth, k == 6);
}

static void gen_list(struct sb *b)
{
    unsigned n = rn(5);

    if (rn(12) == 0) {
        gen_any(b, 3);
        return;
    }
    sb_putc(b, '[');
    for (unsigned i = 0; i < n; i++) {
        if (i)
            sb_putc(b, ',');
        if (rn(15) == 0)
            gen_any(b, 3);
        else
            gen_name(b);
    }
    sb_putc(b, ']');
}

static void gen_map(struct sb *b, bool attrs)
{
    unsigned n = rn(6);

    if (rn(12) == 0) {
        gen_any(b, 3);
        return;
    }
    sb_putc(b, '{');
    for (unsigned i = 0; i < n; i++) {
        if (i)
            sb_putc(b, ',');
        gen_ws(b);
        gen_name(b);
        sb_putc(b, ':');
        if (attrs || rn(15) == 0)
            gen_any(b, 1);
        else
            gen_string(b, 5);
    }
    sb_putc(b, '}');
}

static void gen_scalar_choice(struct sb *b, const char *const *good, size_t ngood)
{
    switch (rn(10)) {
    case 0:
        sb_puts(b, "null");
        break;
    case 1:
        sb_puts(b, "\"\"");
        break;
    case 2:
        gen_any(b, 3);
        break;
    default:
        sb_puts(b, good[rn((unsigned)ngood)]);
    }
}

static void gen_field(struct sb *b, unsigned which)
{
    static const char *const keys[] = {
        "resource", "event",       "environment", "severity",     "correlate", "status",
        "service",  "group",       "value",       "text",         "tags",      "attributes",
        "origin",   "type",        "createTime",  "timeout",      "rawData",   "customer",
        "id",       "fingerprint", "source",      "generatorURL", "labels",    "annotations",
        "startsAt", "endsAt",      "href",        "\\u0074ext",   "other"};
    static const char *const sevs[] = {"\"major\"", "\"critical\"", "\"ok\"",         "\"normal\"",
                                       "\"bogus\"", "\"Major\"",    "\"ma\\u006aor\""};
    static const char *const stats[] = {"\"open\"", "\"ack\"", "\"closed\"", "\"bogus\""};
    static const char *const dates[] = {"\"2026-11-24T05:44:27.123Z\"", "\"2026-11-24\"",
                                        "\"2026-11-24T05:44:27+02:00\"", "\"nope\"",
                                        "\"2026-02-30T00:00:00Z\""};
    static const char *const ids[] = {"\"0b7f5c1e-8a4d-4f7e-9c2b-3d1e5f6a7b8c\"", "\"x\"",
                                      "\"0B7F5C1E-8A4D-4F7E-9C2B-3D1E5F6A7B8C\""};
    static const char *const timeouts[] = {"0",   "3600",  "-5",   "316224001",
                                           "1.5", "\"5\"", "true", "86400"};
    const char *key = keys[which % (sizeof(keys) / sizeof(keys[0]))];

    sb_printf(b, "\"%s\":", key);
    gen_ws(b);
    if (!strcmp(key, "severity"))
        gen_scalar_choice(b, sevs, sizeof(sevs) / sizeof(sevs[0]));
    else if (!strcmp(key, "status"))
        gen_scalar_choice(b, stats, sizeof(stats) / sizeof(stats[0]));
    else if (!strcmp(key, "createTime") || !strcmp(key, "startsAt") || !strcmp(key, "endsAt"))
        gen_scalar_choice(b, dates, sizeof(dates) / sizeof(dates[0]));
    else if (!strcmp(key, "id"))
        gen_scalar_choice(b, ids, sizeof(ids) / sizeof(ids[0]));
    else if (!strcmp(key, "timeout"))
        gen_scalar_choice(b, timeouts, sizeof(timeouts) / sizeof(timeouts[0]));
    else if (!strcmp(key, "correlate") || !strcmp(key, "service") || !strcmp(key, "tags"))
        gen_list(b);
    else if (!strcmp(key, "attributes") || !strcmp(key, "labels") || !strcmp(key, "annotations"))
        gen_map(b, key[0] == 'a' && key[1] == 't');
    else if (!strcmp(key, "value") || !strcmp(key, "rawData") || rn(12) == 0)
        gen_any(b, 1);
    else if (rn(12) == 0)
        sb_puts(b, rn(2) ? "null" : "\"\"");
    else
        gen_name(b);
}

static void gen_alert(struct sb *b)
{
    unsigned n = rn(12);

    sb_putc(b, '{');
    gen_ws(b);
    if (rn(8)) {
        sb_puts(b, BASE);
        n += 2;
    }
    for (unsigned i = rn(8) ? 2 : 0; i < n; i++) {
        if (i)
            sb_putc(b, ',');
        gen_ws(b);
        gen_field(b, rn(29));
        gen_ws(b);
    }
    sb_putc(b, '}');
}

static void gen_body(struct sb *b)
{
    b->n = 0;
    gen_ws(b);
    if (rn(4)) {
        gen_alert(b);
    } else {
        unsigned n = rn(4);
        sb_putc(b, '[');
        for (unsigned i = 0; i < n; i++) {
            if (i)
                sb_putc(b, ',');
            if (rn(30) == 0)
                gen_any(b, 3);
            else
                gen_alert(b);
        }
        sb_putc(b, ']');
    }
    gen_ws(b);
}

static void test_generated(void **state)
{
    struct sb b = {0};
    int bad_n = 0, ok = 0;

    (void)state;
    rng_state = 0xA1E47A01;
    mismatches = 0;
    for (int i = 0; i < 6000; i++) {
        struct arena a;
        struct res r;
        gen_body(&b);
        bad_n += !compare_one(b.p, b.n, 3, i % 7 != 0);
        parse_str(b.p, &a, &r);
        ok += r.rc == TOCSIN_OK;
        arena_free(&a);
    }
    print_message("generated: 6000 bodies, %d accepted, %d mismatches\n", ok, bad_n);
    free(b.p);
    assert_int_equal(bad_n, 0);
    assert_true(ok > 300);
}

static void test_truncations(void **state)
{
    const char *bodies[] = {full_alert, "[{" BASE ",\"attributes\":{\"a\":[1,{\"b\":2.5}]}}]"};

    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        size_t len = strlen(bodies[i]);
        for (size_t cut = 0; cut < len; cut++) {
            char *copy = malloc(cut ? cut : 1);
            assert_non_null(copy);
            memcpy(copy, bodies[i], cut);
            check_err(copy, cut, TOCSIN_EINVAL, "body", NULL);
            free(copy);
        }
    }
}

static void mutate(struct sb *out, const struct sb *seed, const struct sb *other)
{
    static const char *tokens[] = {"\"",
                                   "\\",
                                   "{",
                                   "}",
                                   "[",
                                   "]",
                                   ",",
                                   ":",
                                   "0",
                                   "-",
                                   ".",
                                   "e",
                                   "\\u",
                                   "\\ud800",
                                   "\\udc00",
                                   "null",
                                   "true",
                                   "1e999",
                                   "\xC3",
                                   "\xED\xA0\x80",
                                   "\x80",
                                   "\x01",
                                   " ",
                                   "\"\"",
                                   "\"severity\":",
                                   "\"tags\":[",
                                   "\"attributes\":{",
                                   "{\"a\":",
                                   "\"a\":1,",
                                   "\"resource\":",
                                   "\"event\":\"e\","};
    unsigned ops = rn(2) ? 1 : 1 + rn(4);

    out->n = 0;
    sb_put(out, seed->p, seed->n);
    for (unsigned k = 0; k < ops; k++) {
        size_t len = out->n, at = len ? rn((unsigned)len) : 0;
        char *rest;
        switch (rn(8)) {
        case 0: /* bit flip */
            if (len)
                out->p[at] = (char)(out->p[at] ^ (1 << rn(8)));
            break;
        case 1: /* truncate */
            out->n = at;
            break;
        case 2: /* splice: our prefix, another's suffix */
        {
            size_t from = other->n ? rn((unsigned)other->n) : 0;
            rest = malloc(other->n - from + 1);
            memcpy(rest, other->p + from, other->n - from);
            out->n = at;
            sb_put(out, rest, other->n - from);
            free(rest);
            break;
        }
        case 3: /* insert a token */
        case 4:
            rest = malloc(len - at + 1);
            memcpy(rest, out->p + at, len - at);
            out->n = at;
            sb_puts(out, tokens[rn(sizeof(tokens) / sizeof(tokens[0]))]);
            sb_put(out, rest, len - at);
            free(rest);
            break;
        case 5: /* delete a few bytes */
            if (len) {
                size_t d = 1 + rn(4);
                d = d > len - at ? len - at : d;
                memmove(out->p + at, out->p + at + d, len - at - d);
                out->n -= d;
            }
            break;
        case 6: /* a digit for a digit, a letter for a letter */
            if (len && out->p[at] >= '0' && out->p[at] <= '9')
                out->p[at] = (char)('0' + rn(10));
            else if (len && out->p[at] >= 'a' && out->p[at] <= 'z')
                out->p[at] = (char)('a' + rn(26));
            break;
        default: /* duplicate a range */
        {
            size_t d = rn(32);
            d = d > len - at ? len - at : d;
            rest = malloc(d + 1);
            memcpy(rest, out->p + at, d);
            sb_put(out, rest, d);
            free(rest);
        }
        }
    }
}

static void test_mutated(void **state)
{
    enum { NSEEDS = 64, NRUNS = 30000 };
    struct sb seeds[NSEEDS + 1], m = {0};
    int bad_n = 0;

    (void)state;
    memset(seeds, 0, sizeof(seeds));
    rng_state = 0xA1E47A02;
    mismatches = nul_quirks = 0;
    sb_puts(&seeds[0], full_alert);
    for (int i = 1; i <= NSEEDS; i++)
        gen_body(&seeds[i]);
    for (int i = 0; i < NRUNS; i++) {
        char *exact;
        mutate(&m, &seeds[rn(NSEEDS + 1)], &seeds[rn(NSEEDS + 1)]);
        exact = malloc(m.n ? m.n : 1); /* exact size so ASan sees any over-read */
        assert_non_null(exact);
        memcpy(exact, m.p, m.n);
        bad_n += !compare_one(exact, m.n, 3, i % 5 != 0);
        free(exact);
    }
    for (int i = 0; i <= NSEEDS; i++)
        free(seeds[i].p);
    free(m.p);
    print_message("mutated: %d inputs, %d mismatches, %d explained by jansson's NUL quirk\n", NRUNS,
                  bad_n, nul_quirks);
    assert_int_equal(bad_n, 0);
}

/* ---- timing ---- */

/* About 600 bytes: 5 attributes, 5 labels, what Alertmanager-fed senders post. */
static const char bench_alert[] =
    "{\"resource\":\"web01.example.com\",\"event\":\"HttpServerError\","
    "\"environment\":\"Production\",\"severity\":\"major\",\"correlate\":[\"HttpServerError\","
    "\"HttpServerOK\"],\"status\":\"open\",\"service\":[\"Web\"],\"group\":\"Web\","
    "\"value\":\"503\",\"text\":\"web01 returns 503 on /cart\",\"tags\":[\"dc1\",\"nginx\"],"
    "\"attributes\":{\"region\":\"eu-west-1\",\"priority\":2,"
    "\"runbook\":\"https://wiki.example.com/rb/5xx\",\"ratio\":0.25,\"owner\":\"team-web\"},"
    "\"origin\":\"prometheus\",\"type\":\"prometheusAlert\",\"timeout\":3600,"
    "\"createTime\":\"2026-11-24T05:44:27.123Z\",\"labels\":{\"alertname\":\"HttpServerError\","
    "\"instance\":\"web01:9100\",\"job\":\"node\",\"severity\":\"major\",\"team\":\"web\"},"
    "\"rawData\":\"code=\\\"503\\\"\"}";

/* A batch of n copies of bench_alert (n == 0: the single object). */
static void bench_body(struct sb *b, int n)
{
    b->n = 0;
    if (!n) {
        sb_puts(b, bench_alert);
        return;
    }
    sb_putc(b, '[');
    for (int i = 0; i < n; i++) {
        if (i)
            sb_putc(b, ',');
        sb_puts(b, bench_alert);
    }
    sb_putc(b, ']');
}

/* CPU nanoseconds per alert over `iters` calls, each with its own arena sized by the rule. */
static double bench_run(const struct sb *body, int alerts, bool jansson, int iters)
{
    double c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);

    for (int i = 0; i < iters; i++) {
        struct arena a;
        struct res r;
        arena_init(&a, body->n * 24 + 64 * 1024);
        if (jansson) {
            json_t *j = json_loadb(body->p, body->n, JSON_DECODE_ANY, NULL);
            if (!j)
                abort();
            json_decref(j);
        } else {
            my_parse(body->p, body->n, &a, MAX_ALERTS, true, &r);
            if (r.rc)
                abort();
        }
        arena_free(&a);
    }
    return (now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / iters / (alerts ? alerts : 1);
}

/* Arena bytes used per body byte for the typical alert, alone and in a batch of 1000. */
static double arena_ratio(const struct sb *body)
{
    struct arena a;
    struct res r;
    double ratio;

    arena_init(&a, ARENA_MAX);
    my_parse(body->p, body->n, &a, MAX_ALERTS, true, &r);
    assert_int_equal(r.rc, TOCSIN_OK);
    ratio = (double)a.used / (double)body->n;
    arena_free(&a);
    return ratio;
}

static void test_timing(void **state)
{
    struct sb b = {0};
    double one_ns, batch_ns, one_arena, batch_arena;

    (void)state;
    bench_body(&b, 0);
    one_ns = bench_run(&b, 0, false, 2000);
    one_arena = arena_ratio(&b);
    bench_body(&b, 1000);
    batch_ns = bench_run(&b, 1000, false, 3);
    batch_arena = arena_ratio(&b);
    print_message("timing (this build, not an assertion): %zu-byte alert %.2f us, in a batch of "
                  "1000 %.2f us per alert; arena %.2fx / %.2fx the body\n",
                  strlen(bench_alert), one_ns / 1000, batch_ns / 1000, one_arena, batch_arena);
    free(b.p);
}

static void bench(void)
{
    struct sb b = {0};

    for (int k = 0; k < 4; k++) {
        int n = k & 1 ? 1000 : 0;
        bool jansson = k >= 2;
        double best = 1e30;
        bench_body(&b, n);
        for (int r = 0; r < 5; r++) {
            double t = bench_run(&b, n, jansson, n ? 200 : 200000);
            best = t < best ? t : best;
        }
        printf("%-28s %zu-byte alert%s: %.0f ns per alert (best of 5)\n",
               jansson ? "json_loadb (tree only)" : "alerta_parse", strlen(bench_alert),
               n ? ", batch of 1000" : "", best);
    }
    free(b.p);
}

static int setup(void **state)
{
    (void)state;
    sevmap_default(&sev);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_fields),      cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),          cmocka_unit_test(test_attributes_text),
        cmocka_unit_test(test_reals),           cmocka_unit_test(test_raw_data),
        cmocka_unit_test(test_names_and_dates), cmocka_unit_test(test_correlate),
        cmocka_unit_test(test_errors),          cmocka_unit_test(test_error_order),
        cmocka_unit_test(test_repeated_keys),   cmocka_unit_test(test_big_maps),
        cmocka_unit_test(test_limits),          cmocka_unit_test(test_big_raw),
        cmocka_unit_test(test_strings),         cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_error_position),  cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_arrays),          cmocka_unit_test(test_batch_limit),
        cmocka_unit_test(test_arena_limits),    cmocka_unit_test(test_arena_bound),
        cmocka_unit_test(test_generated),       cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_mutated),         cmocka_unit_test(test_timing),
    };

    sevmap_default(&sev);
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        bench();
        return 0;
    }
    return cmocka_run_group_tests(tests, setup, NULL);
}
