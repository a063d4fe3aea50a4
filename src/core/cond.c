#define PCRE2_CODE_UNIT_WIDTH 8
#include "core/cond.h"
#include "core/jfield.h"

#include <math.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/err.h"

static const char *const type_names[COND_TYPE_COUNT] = {
    "STRING", "STRING_COMPARE", "THRESHOLD", "THRESHOLD_RANGE",
    "COMPARE", "AGGREGATION", "RATE", "MISSING_DATA"};
static const char *const str_op_names[STR_OP_COUNT] = {
    "EQUALS", "NOT_EQUALS", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "MATCHES"};
static const char *const num_op_names[NUM_OP_COUNT] = {"LT", "LTE", "GTE", "GT"};
static const char *const range_op_names[RANGE_OP_COUNT] = {"INCLUSIVE", "EXCLUSIVE"};
static const char *const agg_fn_names[AGG_FN_COUNT] = {"COUNT", "AVG", "MIN", "MAX",
                                                        "P50", "P90", "P95", "P99"};

struct unit {
    const char *name;
    double ms;
};
static const struct unit units[] = {
    {"NANOSECONDS", 1e-6}, {"MICROSECONDS", 1e-3}, {"MILLISECONDS", 1}, {"SECONDS", 1e3},
    {"MINUTES", 6e4},      {"HOURS", 3.6e6},       {"DAYS", 8.64e7},
};

const char *cond_type_name(enum cond_type t)
{
    return (unsigned)t < COND_TYPE_COUNT ? type_names[t] : "?";
}
const char *num_op_name(enum num_op op)
{
    return (unsigned)op < NUM_OP_COUNT ? num_op_names[op] : "?";
}
const char *str_op_name(enum str_op op)
{
    return (unsigned)op < STR_OP_COUNT ? str_op_names[op] : "?";
}
const char *agg_fn_name(enum agg_fn fn)
{
    return (unsigned)fn < AGG_FN_COUNT ? agg_fn_names[fn] : "?";
}

bool cond_is_window(enum cond_type t)
{
    return t == COND_AGGREGATION || t == COND_RATE || t == COND_MISSING_DATA;
}

static int enum_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcasecmp(names[i], s) == 0)
            return i;
    return -1;
}

/* Reads an enum field: required string, one of names (any case). */
static int get_enum(const json_t *j, const char *field, const char *const *names, int n,
                    int *out, struct verr *err)
{
    const json_t *v = json_object_get(j, field);

    if (!v || json_is_null(v))
        return verr_set(err, field, "missing required field");
    if (!json_is_string(v))
        return verr_set(err, field, "must be a string");
    *out = enum_index(names, n, json_string_value(v));
    if (*out < 0)
        return verr_set(err, field, "unknown value '%.64s'", json_string_value(v));
    return TOCSIN_OK;
}

static int get_number(const json_t *j, const char *field, bool required, double *out,
                      struct verr *err)
{
    const json_t *v = json_object_get(j, field);

    if (!v || json_is_null(v))
        return required ? verr_set(err, field, "missing required field") : TOCSIN_OK;
    if (!json_is_number(v))
        return verr_set(err, field, "must be a number");
    *out = json_number_value(v);
    if (!isfinite(*out))
        return verr_set(err, field, "must be finite");
    return TOCSIN_OK;
}

int parse_duration(const json_t *obj, const char *dur_field, const char *unit_field,
                   int64_t *out_ms, struct verr *err)
{
    const json_t *d = json_object_get(obj, dur_field), *u = json_object_get(obj, unit_field);
    double ms_per = 1, v;
    int idx;

    if (!d || json_is_null(d))
        return verr_set(err, dur_field, "missing required field");
    if (!json_is_integer(d) && !(json_is_real(d) && json_real_value(d) == floor(json_real_value(d))))
        return verr_set(err, dur_field, "must be an integer");
    v = json_number_value(d);
    if (u && !json_is_null(u)) {
        if (!json_is_string(u))
            return verr_set(err, unit_field, "must be a string");
        idx = -1;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strcasecmp(units[i].name, json_string_value(u)) == 0)
                idx = (int)i;
        if (idx < 0)
            return verr_set(err, unit_field, "unknown time unit '%.32s'", json_string_value(u));
        ms_per = units[idx].ms;
    }
    v *= ms_per;
    if (!(v >= 1) || v > (double)COND_MAX_DURATION_MS)
        return verr_set(err, dur_field, "must be between 1 ms and 31 days");
    *out_ms = (int64_t)v;
    return TOCSIN_OK;
}

static int parse_projections(const json_t *j, struct condition *c, struct verr *err)
{
    const json_t *arr = json_object_get(j, "projections"), *p;
    size_t i;

    if (!arr || json_is_null(arr))
        return TOCSIN_OK;
    if (!json_is_array(arr))
        return verr_set(err, "projections", "must be an array");
    if (json_array_size(arr) > COND_MAX_PROJECTIONS)
        return verr_set(err, "projections", "at most %d projections", COND_MAX_PROJECTIONS);
    json_array_foreach(arr, i, p) {
        const json_t *t = json_object_get(p, "type"), *prop = json_object_get(p, "property");
        char f[64];
        snprintf(f, sizeof(f), "projections[%zu]", i);
        if (!json_is_object(p))
            return verr_set(err, f, "must be an object");
        if (t && !json_is_null(t) &&
            (!json_is_string(t) || strcasecmp(json_string_value(t), "PROPERTY") != 0))
            return verr_set(err, f, "unknown projection type (only PROPERTY)");
        if (!json_is_string(prop) || !json_string_length(prop) || json_string_length(prop) > 256)
            return verr_set(err, f, "property must be a non-empty string");
        c->projections[i] = strdup(json_string_value(prop));
        if (!c->projections[i])
            return TOCSIN_ENOMEM;
        c->nprojections = (unsigned)i + 1;
    }
    return TOCSIN_OK;
}

static int compile_regex(struct condition *c, struct verr *err)
{
    int errcode;
    PCRE2_SIZE off;
    pcre2_code *re;
    uint32_t opts = PCRE2_UTF | (c->ignore_case ? PCRE2_CASELESS : 0);

    if (strlen(c->pattern) > 4096)
        return verr_set(err, "pattern", "regular expression longer than 4096 bytes");
    re = pcre2_compile((PCRE2_SPTR)c->pattern, PCRE2_ZERO_TERMINATED, opts, &errcode, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(errcode, msg, sizeof(msg));
        return verr_set(err, "pattern", "invalid regular expression at offset %zu: %s",
                        (size_t)off, (const char *)msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort: interpreted if JIT is missing */
    c->re = re;
    c->md = pcre2_match_data_create_from_pattern(re, NULL);
    return c->md ? TOCSIN_OK : TOCSIN_ENOMEM;
}

static int parse_single(const json_t *j, struct condition *c, struct verr *err)
{
    int rc = TOCSIN_OK, v;

    switch (c->type) {
    case COND_STRING:
    case COND_STRING_COMPARE:
        if ((rc = jf_string(j, "property", true, 1024, &c->property, err)) ||
            (rc = get_enum(j, "operator", str_op_names, STR_OP_COUNT, &v, err)) ||
            (rc = jf_bool(j, "ignoreCase", &c->ignore_case, err)))
            return rc;
        c->str_op = (enum str_op)v;
        if (c->type == COND_STRING_COMPARE)
            return jf_string(j, "property2", true, 1024, &c->property2, err);
        if ((rc = jf_string(j, "pattern", false, 1024, &c->pattern, err)))
            return rc;
        if (!c->pattern && !(c->pattern = strdup("")))
            return TOCSIN_ENOMEM;
        if (c->str_op == STR_MATCHES)
            rc = compile_regex(c, err);
        return rc;
    case COND_THRESHOLD:
        if ((rc = jf_string(j, "property", true, 1024, &c->property, err)) ||
            (rc = get_enum(j, "operator", num_op_names, NUM_OP_COUNT, &v, err)))
            return rc;
        c->op = (enum num_op)v;
        return get_number(j, "threshold", true, &c->threshold, err);
    case COND_COMPARE:
        if ((rc = jf_string(j, "property", true, 1024, &c->property, err)) ||
            (rc = get_enum(j, "operator", num_op_names, NUM_OP_COUNT, &v, err)) ||
            (rc = get_number(j, "multiplier", true, &c->multiplier, err)))
            return rc;
        c->op = (enum num_op)v;
        return jf_string(j, "property2", true, 1024, &c->property2, err);
    default:
        return TOCSIN_OK;
    }
}

/* operatorLow/High: INCLUSIVE|EXCLUSIVE, and the LT/LTE/GTE/GT spelling AE's docs use. */
static int get_range_op(const json_t *j, const char *field, bool low, enum range_op *out,
                        struct verr *err)
{
    const json_t *v = json_object_get(j, field);
    const char *s;

    *out = RANGE_INCLUSIVE;
    if (!v || json_is_null(v))
        return TOCSIN_OK;
    if (!json_is_string(v))
        return verr_set(err, field, "must be a string");
    s = json_string_value(v);
    if (!strcasecmp(s, "INCLUSIVE") || !strcasecmp(s, low ? "GTE" : "LTE"))
        return TOCSIN_OK;
    if (!strcasecmp(s, "EXCLUSIVE") || !strcasecmp(s, low ? "GT" : "LT")) {
        *out = RANGE_EXCLUSIVE;
        return TOCSIN_OK;
    }
    return verr_set(err, field, "unknown value '%.64s' (INCLUSIVE or EXCLUSIVE)", s);
}

static int parse_range(const json_t *j, struct condition *c, struct verr *err)
{
    int rc;

    if ((rc = jf_string(j, "property", true, 1024, &c->property, err)) ||
        (rc = get_range_op(j, "operatorLow", true, &c->op_low, err)) ||
        (rc = get_range_op(j, "operatorHigh", false, &c->op_high, err)) ||
        (rc = get_number(j, "thresholdLow", true, &c->low, err)) ||
        (rc = get_number(j, "thresholdHigh", true, &c->high, err)))
        return rc;
    if (c->low > c->high)
        return verr_set(err, "thresholdLow", "must not be greater than thresholdHigh");
    return TOCSIN_OK;
}

static int parse_window(const json_t *j, struct condition *c, struct verr *err)
{
    int rc, v;
    double ss = 1;
    const json_t *cmp;

    if ((rc = parse_duration(j, "duration", "timeUnit", &c->duration_ms, err)))
        return rc;
    if (c->type == COND_MISSING_DATA)
        return TOCSIN_OK;
    if ((rc = get_enum(j, "operator", num_op_names, NUM_OP_COUNT, &v, err)))
        return rc;
    c->op = (enum num_op)v;
    if ((rc = get_number(j, "threshold", true, &c->threshold, err)))
        return rc;
    if (c->type == COND_AGGREGATION) {
        if ((rc = get_enum(j, "function", agg_fn_names, AGG_FN_COUNT, &v, err)))
            return rc;
        c->fn = (enum agg_fn)v;
        return jf_string(j, "property", c->fn != AGG_COUNT, 1024, &c->property, err);
    }
    if ((rc = get_number(j, "sampleSize", false, &ss, err)))
        return rc;
    if (ss < 1 || ss > COND_MAX_SAMPLE_SIZE || ss != floor(ss))
        return verr_set(err, "sampleSize", "must be an integer from 1 to %d", COND_MAX_SAMPLE_SIZE);
    c->sample_size = (uint64_t)ss;
    cmp = json_object_get(j, "comparison");
    if (!cmp || json_is_null(cmp))
        return verr_set(err, "comparison", "missing required field");
    c->comparison = calloc(1, sizeof(*c->comparison));
    if (!c->comparison)
        return TOCSIN_ENOMEM;
    rc = cond_parse(cmp, true, c->comparison, err);
    if (rc == TOCSIN_EINVAL)
        verr_prefix(err, "comparison");
    return rc;
}

int cond_parse(const json_t *j, bool filter, struct condition *c, struct verr *err)
{
    int rc, t;

    memset(c, 0, sizeof(*c));
    c->sample_size = 1;
    if (!json_is_object(j))
        return verr_set(err, "", "a condition must be an object");
    if ((rc = get_enum(j, "type", type_names, COND_TYPE_COUNT, &t, err)))
        return rc;
    c->type = (enum cond_type)t;
    if (filter && (c->type == COND_AGGREGATION || c->type == COND_RATE))
        return verr_set(err, "type", "%s cannot be used here (single-value conditions only)",
                        type_names[t]);
    if (c->type == COND_THRESHOLD_RANGE)
        rc = parse_range(j, c, err);
    else if (cond_is_window(c->type))
        rc = parse_window(j, c, err);
    else
        rc = parse_single(j, c, err);
    if (!rc)
        rc = parse_projections(j, c, err);
    return rc;
}

void cond_clear(struct condition *c)
{
    if (!c)
        return;
    free(c->property);
    free(c->property2);
    free(c->pattern);
    if (c->md)
        pcre2_match_data_free(c->md);
    if (c->re)
        pcre2_code_free(c->re);
    if (c->comparison) {
        cond_clear(c->comparison);
        free(c->comparison);
    }
    for (unsigned i = 0; i < c->nprojections; i++)
        free(c->projections[i]);
    memset(c, 0, sizeof(*c));
}

static void put_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

json_t *cond_to_json(const struct condition *c)
{
    json_t *o = json_object();

    json_object_set_new(o, "type", json_string(type_names[c->type]));
    put_str(o, "property", c->property);
    switch (c->type) {
    case COND_STRING:
    case COND_STRING_COMPARE:
        json_object_set_new(o, "operator", json_string(str_op_names[c->str_op]));
        put_str(o, c->type == COND_STRING ? "pattern" : "property2",
                c->type == COND_STRING ? c->pattern : c->property2);
        json_object_set_new(o, "ignoreCase", json_boolean(c->ignore_case));
        break;
    case COND_THRESHOLD_RANGE:
        json_object_set_new(o, "operatorLow", json_string(range_op_names[c->op_low]));
        json_object_set_new(o, "thresholdLow", json_real(c->low));
        json_object_set_new(o, "operatorHigh", json_string(range_op_names[c->op_high]));
        json_object_set_new(o, "thresholdHigh", json_real(c->high));
        break;
    case COND_COMPARE:
        json_object_set_new(o, "multiplier", json_real(c->multiplier));
        put_str(o, "property2", c->property2);
        __attribute__((fallthrough)); /* clang wants the attribute, not a comment */
    case COND_THRESHOLD:
        json_object_set_new(o, "operator", json_string(num_op_names[c->op]));
        if (c->type == COND_THRESHOLD)
            json_object_set_new(o, "threshold", json_real(c->threshold));
        break;
    case COND_AGGREGATION:
    case COND_RATE:
        json_object_set_new(o, "operator", json_string(num_op_names[c->op]));
        json_object_set_new(o, "threshold", json_real(c->threshold));
        if (c->type == COND_AGGREGATION)
            json_object_set_new(o, "function", json_string(agg_fn_names[c->fn]));
        else {
            json_object_set_new(o, "sampleSize", json_integer((json_int_t)c->sample_size));
            json_object_set_new(o, "comparison", cond_to_json(c->comparison));
        }
        __attribute__((fallthrough)); /* clang wants the attribute, not a comment */
    case COND_MISSING_DATA:
        json_object_set_new(o, "duration", json_integer(c->duration_ms));
        json_object_set_new(o, "timeUnit", json_string("MILLISECONDS"));
        break;
    default:
        break;
    }
    if (c->nprojections) {
        json_t *a = json_array();
        for (unsigned i = 0; i < c->nprojections; i++)
            json_array_append_new(a, json_pack("{s:s,s:s}", "type", "PROPERTY", "property",
                                               c->projections[i]));
        json_object_set_new(o, "projections", a);
    }
    return o;
}

bool num_op_holds(enum num_op op, double value, double threshold)
{
    switch (op) {
    case NUM_LT: return value < threshold;
    case NUM_LTE: return value <= threshold;
    case NUM_GTE: return value >= threshold;
    case NUM_GT: return value > threshold;
    default: return false;
    }
}

static bool ends_with(const char *s, size_t n, const char *suf, size_t m, bool icase)
{
    if (m > n)
        return false;
    return icase ? strncasecmp(s + n - m, suf, m) == 0 : memcmp(s + n - m, suf, m) == 0;
}

/* STRING_COMPARE + MATCHES: the other property's value is the regular expression, compiled for
 * this evaluation only (as AE compiles it per call). An invalid one does not match. */
static bool matches_dynamic(const struct condition *c, const struct value *v, const char *pat)
{
    int errcode, rc;
    PCRE2_SIZE off;
    pcre2_code *re;
    pcre2_match_data *md;

    if (strlen(pat) > 4096)
        return false;
    re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                       PCRE2_UTF | (c->ignore_case ? PCRE2_CASELESS : 0), &errcode, &off, NULL);
    if (!re)
        return false;
    md = pcre2_match_data_create_from_pattern(re, NULL);
    rc = md ? pcre2_match(re, (PCRE2_SPTR)v->str, v->slen, 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED,
                          md, NULL)
            : -1;
    if (md)
        pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc >= 0;
}

static bool str_holds(const struct condition *c, const struct value *v, const char *pat)
{
    size_t n = v->slen, m = strlen(pat);
    bool ic = c->ignore_case;

    switch (c->str_op) {
    case STR_EQUALS:
        return n == m && (ic ? strncasecmp(v->str, pat, n) == 0 : memcmp(v->str, pat, n) == 0);
    case STR_NOT_EQUALS:
        return !(n == m && (ic ? strncasecmp(v->str, pat, n) == 0 : memcmp(v->str, pat, n) == 0));
    case STR_STARTS_WITH:
        return m <= n && (ic ? strncasecmp(v->str, pat, m) == 0 : memcmp(v->str, pat, m) == 0);
    case STR_ENDS_WITH:
        return ends_with(v->str, n, pat, m, ic);
    case STR_CONTAINS:
        return ic ? strcasestr(v->str, pat) != NULL : strstr(v->str, pat) != NULL;
    case STR_MATCHES:
        if (c->type == COND_STRING_COMPARE)
            return matches_dynamic(c, v, pat);
        if (!c->re || !c->md)
            return false;
        /* Java's String.matches: the whole value must match. */
        return pcre2_match(c->re, (PCRE2_SPTR)v->str, n, 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED,
                           c->md, NULL) >= 0;
    default:
        return false;
    }
}

bool cond_eval_event(const struct condition *c, const struct event *ev, struct cond_result *res)
{
    return cond_eval_values(c, c->property ? event_get(ev, c->property) : NULL,
                            c->property2 ? event_get(ev, c->property2) : NULL, res);
}

bool cond_eval_values(const struct condition *c, const struct value *v, const struct value *v2,
                      struct cond_result *res)
{
    double a, b;
    struct cond_result dummy;

    if (!res)
        res = &dummy;
    /* Hot path (every trigger, every event): set the fields, do not clear the struct. */
    res->ok = res->has_value = false;
    res->value = res->threshold = 0;
    res->text = NULL;
    if (!v)
        return false;
    switch (c->type) {
    case COND_STRING:
        res->text = v->str;
        return res->ok = str_holds(c, v, c->pattern);
    case COND_STRING_COMPARE:
        res->text = v->str;
        return res->ok = (v2 && str_holds(c, v, v2->str));
    case COND_THRESHOLD:
        if (!value_number(v, &a))
            return false;
        res->has_value = true;
        res->value = a;
        res->threshold = c->threshold;
        return res->ok = num_op_holds(c->op, a, c->threshold);
    case COND_THRESHOLD_RANGE:
        if (!value_number(v, &a))
            return false;
        res->has_value = true;
        res->value = a;
        res->threshold = c->low;
        return res->ok = (c->op_low == RANGE_INCLUSIVE ? a >= c->low : a > c->low) &&
                         (c->op_high == RANGE_INCLUSIVE ? a <= c->high : a < c->high);
    case COND_COMPARE:
        if (!value_number(v, &a) || !value_number(v2, &b))
            return false;
        res->has_value = true;
        res->value = a;
        res->threshold = b * c->multiplier;
        return res->ok = num_op_holds(c->op, a, res->threshold);
    default:
        return false;
    }
}
