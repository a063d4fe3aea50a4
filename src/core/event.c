#include "core/event.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

struct flat {
    struct arena *a;
    struct prop *props;
    uint32_t n, cap;
    struct verr *err;
};

static int set_value(struct arena *a, const json_t *v, struct value *out)
{
    char num[64];
    const char *s = NULL;
    size_t n = 0;
    char *dump = NULL;

    memset(out, 0, sizeof(*out));
    switch (json_typeof(v)) {
    case JSON_STRING:
        out->type = VAL_STR;
        s = json_string_value(v);
        n = json_string_length(v);
        break;
    case JSON_INTEGER:
        out->type = VAL_NUM;
        out->num = (double)json_integer_value(v);
        n = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
        break;
    case JSON_REAL:
        out->type = VAL_NUM;
        out->num = json_real_value(v);
        if (out->num == floor(out->num) && fabs(out->num) < 9007199254740992.0)
            n = (size_t)snprintf(num, sizeof(num), "%.0f", out->num);
        else
            n = (size_t)snprintf(num, sizeof(num), "%.17g", out->num);
        s = num;
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        out->type = VAL_BOOL;
        out->num = json_is_true(v) ? 1 : 0;
        s = json_is_true(v) ? "true" : "false";
        n = strlen(s);
        break;
    case JSON_NULL:
        out->type = VAL_NULL;
        s = "";
        break;
    default: /* arrays: kept as their JSON text */
        out->type = VAL_STR;
        dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!dump)
            return TOCSIN_ENOMEM;
        s = dump;
        n = strlen(dump);
    }
    if (n > UINT32_MAX) {
        free(dump);
        return TOCSIN_ETOOBIG;
    }
    out->str = arena_strndup(a, s, n);
    out->slen = (uint32_t)n;
    free(dump);
    return out->str ? TOCSIN_OK : TOCSIN_ENOMEM;
}

static int add_prop(struct flat *f, const char *key, size_t klen, const json_t *v)
{
    struct prop *p;

    if (f->n >= f->cap)
        return verr_set(f->err, "properties", "too many properties (max %d)", EVENT_MAX_PROPS);
    p = &f->props[f->n];
    p->key = arena_strndup(f->a, key, klen);
    if (!p->key || set_value(f->a, v, &p->v))
        return TOCSIN_ENOMEM;
    f->n++;
    return TOCSIN_OK;
}

static int flatten(struct flat *f, const json_t *obj, char *prefix, size_t plen, int depth)
{
    const char *k;
    json_t *v;
    int rc;

    if (depth > EVENT_MAX_DEPTH)
        return verr_set(f->err, "properties", "properties nested deeper than %d", EVENT_MAX_DEPTH);
    json_object_foreach((json_t *)obj, k, v) {
        size_t klen = strlen(k), nlen = plen + (plen ? 1 : 0) + klen;
        if (nlen >= 512)
            return verr_set(f->err, "properties", "property name longer than 511 bytes");
        if (plen)
            prefix[plen] = '.';
        memcpy(prefix + plen + (plen ? 1 : 0), k, klen);
        prefix[nlen] = '\0';
        if (json_is_object(v))
            rc = flatten(f, v, prefix, nlen, depth + 1);
        else
            rc = add_prop(f, prefix, nlen, v);
        prefix[plen] = '\0';
        if (rc)
            return rc;
    }
    return TOCSIN_OK;
}

/* Counts the leaves flatten() would produce, so the array is sized exactly. */
static size_t count_leaves(const json_t *obj, int depth)
{
    const char *k;
    json_t *v;
    size_t n = 0;

    if (depth > EVENT_MAX_DEPTH)
        return EVENT_MAX_PROPS + 1;
    json_object_foreach((json_t *)obj, k, v) {
        n += json_is_object(v) ? count_leaves(v, depth + 1) : 1;
        if (n > EVENT_MAX_PROPS)
            break;
    }
    return n;
}

static bool has_key(const struct flat *f, const char *k)
{
    for (uint32_t i = 0; i < f->n; i++)
        if (strcmp(f->props[i].key, k) == 0)
            return true;
    return false;
}

static int parse_context(struct flat *f, const json_t *ctx)
{
    const char *k;
    json_t *v;

    if (!ctx || json_is_null(ctx))
        return TOCSIN_OK;
    if (!json_is_object(ctx))
        return verr_set(f->err, "context", "must be an object of strings");
    json_object_foreach((json_t *)ctx, k, v) {
        if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v) && !json_is_null(v))
            return verr_set(f->err, "context", "context['%.64s'] must be a string", k);
        if (!has_key(f, k)) {
            int rc = add_prop(f, k, strlen(k), v);
            if (rc)
                return rc;
        }
    }
    return TOCSIN_OK;
}

static int parse_header(const json_t *j, struct arena *a, struct event *out, struct verr *err)
{
    const json_t *id = json_object_get(j, "id"), *type = json_object_get(j, "type");
    const json_t *ts = json_object_get(j, "timestamp");

    if (!type || json_is_null(type))
        return verr_set(err, "type", "missing required field");
    if (!json_is_string(type) || json_string_length(type) == 0)
        return verr_set(err, "type", "must be a non-empty string");
    if (json_string_length(type) > 256)
        return verr_set(err, "type", "longer than 256 bytes");
    out->type = arena_strndup(a, json_string_value(type), json_string_length(type));
    if (id && !json_is_null(id)) {
        if (!json_is_string(id))
            return verr_set(err, "id", "must be a string");
        out->id = arena_strndup(a, json_string_value(id), json_string_length(id));
    }
    if (ts && !json_is_null(ts)) {
        if (json_is_integer(ts))
            out->ts_ms = json_integer_value(ts);
        else if (json_is_real(ts) && json_real_value(ts) >= -9223372036854775808.0 &&
                 json_real_value(ts) < 9223372036854775808.0) /* converting is defined */
            out->ts_ms = (int64_t)json_real_value(ts);
        else
            return verr_set(err, "timestamp", "must be a number (epoch milliseconds)");
    }
    return out->type ? TOCSIN_OK : TOCSIN_ENOMEM;
}

int event_from_json(const json_t *j, struct arena *a, struct event *out, struct verr *err)
{
    struct flat f = {.a = a, .err = err};
    const json_t *props;
    char prefix[512];
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(j))
        return verr_set(err, "", "an event must be a JSON object");
    rc = parse_header(j, a, out, err);
    if (rc)
        return rc;
    props = json_object_get(j, "properties");
    {
        const json_t *ctx = json_object_get(j, "context");
        size_t cap = (json_is_object(props) ? count_leaves(props, 0) : 0) +
                     (json_is_object(ctx) ? json_object_size(ctx) : 0);
        if (cap > EVENT_MAX_PROPS)
            cap = EVENT_MAX_PROPS;
        f.props = arena_alloc(a, sizeof(struct prop) * (cap ? cap : 1));
        if (!f.props)
            return TOCSIN_ENOMEM;
        f.cap = (uint32_t)cap;
    }
    if (props && !json_is_null(props)) {
        if (!json_is_object(props))
            return verr_set(err, "properties", "must be an object");
        prefix[0] = '\0';
        rc = flatten(&f, props, prefix, 0, 0);
        if (rc) {
            if (rc == TOCSIN_EINVAL && strcmp(err->field, "properties") != 0)
                verr_prefix(err, "properties");
            return rc;
        }
    }
    rc = parse_context(&f, json_object_get(j, "context"));
    if (rc)
        return rc;
    out->props = f.props;
    out->nprops = f.n;
    return TOCSIN_OK;
}

const struct value *event_get(const struct event *ev, const char *key)
{
    for (uint32_t i = 0; i < ev->nprops; i++)
        if (strcmp(ev->props[i].key, key) == 0)
            return &ev->props[i].v;
    return NULL;
}

json_t *event_props_json(const struct event *ev)
{
    json_t *o = json_object();

    for (uint32_t i = 0; o && i < ev->nprops; i++) {
        const struct value *v = &ev->props[i].v;
        json_t *jv;
        switch (v->type) {
        case VAL_NUM:
            jv = (v->num == floor(v->num) && fabs(v->num) < 9007199254740992.0)
                     ? json_integer((json_int_t)v->num)
                     : json_real(v->num);
            break;
        case VAL_BOOL: jv = json_boolean(v->num != 0); break;
        case VAL_NULL: jv = json_null(); break;
        default: jv = json_stringn(v->str, v->slen);
        }
        json_object_set_new(o, ev->props[i].key, jv);
    }
    return o;
}

bool value_as_number(const struct value *v, double *out)
{
    char *end;
    double d;

    if (!v)
        return false;
    switch (v->type) {
    case VAL_NUM:
    case VAL_BOOL:
        *out = v->num;
        return true;
    case VAL_STR:
        if (v->slen == 0 || v->slen > 64)
            return false;
        errno = 0;
        d = strtod(v->str, &end);
        if (errno || *end != '\0' || !isfinite(d))
            return false;
        *out = d;
        return true;
    default:
        return false;
    }
}
