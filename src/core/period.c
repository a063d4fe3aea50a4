#include "core/period.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/err.h"

#define ZONE_ECHO_MAX 64 /* bytes of a bad zone name quoted back in an error message */

static int fail(const char **field, const char *name, char *msg, size_t msglen, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

static int fail(const char **field, const char *name, char *msg, size_t msglen, const char *fmt,
                ...)
{
    va_list ap;

    if (field)
        *field = name;
    if (msg && msglen > 0) {
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return TOCSIN_EINVAL;
}

/* The value of `key`, matched exactly first, then case-insensitively; NULL if absent. */
static const json_t *get_key(const json_t *obj, const char *key)
{
    const json_t *exact = json_object_get(obj, key);
    const char *k;
    json_t *v;

    if (exact)
        return exact;
    /* The iteration does not modify the object; jansson's macro just takes no const. */
    json_object_foreach((json_t *)obj, k, v)
    {
        if (!strcasecmp(k, key))
            return v;
    }
    return NULL;
}

/* An integer, or a real without a fractional part, within [min, max]. */
static bool int_in(const json_t *v, long long min, long long max, long long *out)
{
    long long n;

    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= (double)min && d <= (double)max))
            return false;
        n = (long long)d;
        if ((double)n != d)
            return false;
    } else {
        return false;
    }
    if (n < min || n > max)
        return false;
    *out = n;
    return true;
}

static int parse_days(const json_t *v, uint8_t *mask, const char **field, char *msg, size_t msglen)
{
    size_t i;
    const json_t *e;
    long long d;
    unsigned m = 0;

    if (!json_is_array(v))
        return fail(field, "days", msg, msglen,
                    "days must be an array of ISO days (1 = Monday .. 7 = Sunday) or null");
    json_array_foreach(v, i, e)
    {
        if (!int_in(e, 1, 7, &d))
            return fail(field, "days", msg, msglen,
                        "days[%zu] must be an integer from 1 (Monday) to 7 (Sunday)", i);
        m |= 1u << d;
    }
    *mask = (uint8_t)m;
    return TOCSIN_OK;
}

static int parse_second(const json_t *obj, const char *key, int32_t dflt, int32_t *out,
                        const char **field, char *msg, size_t msglen)
{
    const json_t *v = get_key(obj, key);
    long long n;

    if (!v || json_is_null(v)) {
        *out = dflt;
        return TOCSIN_OK;
    }
    if (!int_in(v, 0, PERIOD_END_MAX, &n))
        return fail(field, key, msg, msglen,
                    "%s must be an integer number of seconds since midnight, 0 to %d", key,
                    PERIOD_END_MAX);
    *out = (int32_t)n;
    return TOCSIN_OK;
}

static int parse_zone(const json_t *obj, tz_lookup_fn lookup, void *ud, const struct tz **out,
                      const char **field, char *msg, size_t msglen)
{
    const json_t *v = get_key(obj, "zoneId");
    const char *name = "UTC";

    if (v && !json_is_null(v)) {
        if (!json_is_string(v))
            return fail(field, "zoneId", msg, msglen, "zoneId must be a time zone name");
        name = json_string_value(v);
    }
    *out = lookup ? lookup(ud, name) : NULL;
    if (!*out)
        return fail(field, "zoneId", msg, msglen, "unknown time zone \"%.*s\"", ZONE_ECHO_MAX,
                    name);
    return TOCSIN_OK;
}

int period_from_json(const json_t *j, tz_lookup_fn lookup, void *ud, struct period *p,
                     const char **field, char *msg, size_t msglen)
{
    struct period np = {
        .days_mask = PERIOD_ALL_DAYS, .tz = NULL, .begin_s = 0, .end_s = PERIOD_END_MAX};
    const json_t *days;
    int rc;

    if (!json_is_object(j))
        return fail(field, "period", msg, msglen, "a notification period must be an object");
    days = get_key(j, "days");
    if (days && !json_is_null(days)) {
        rc = parse_days(days, &np.days_mask, field, msg, msglen);
        if (rc)
            return rc;
    }
    rc = parse_zone(j, lookup, ud, &np.tz, field, msg, msglen);
    if (!rc)
        rc = parse_second(j, "beginHour", 0, &np.begin_s, field, msg, msglen);
    if (!rc)
        rc = parse_second(j, "endHour", PERIOD_END_MAX, &np.end_s, field, msg, msglen);
    if (!rc)
        *p = np;
    return rc;
}

json_t *period_to_json(const struct period *p)
{
    json_t *o = json_object();
    json_t *days = NULL;

    if (!o)
        return NULL;
    if ((p->days_mask & PERIOD_ALL_DAYS) == PERIOD_ALL_DAYS) {
        days = json_null();
    } else {
        days = json_array();
        for (unsigned d = 1; days && d <= 7; d++) {
            if (((unsigned)p->days_mask >> d & 1u) &&
                json_array_append_new(days, json_integer(d)) != 0) {
                json_decref(days);
                days = NULL;
            }
        }
    }
    /* json_object_set_new() takes the value's reference even when it fails (or it is NULL). */
    if (json_object_set_new(o, "days", days) != 0 ||
        json_object_set_new(o, "zoneId", json_string(tz_name(p->tz))) != 0 ||
        json_object_set_new(o, "beginHour", json_integer(p->begin_s)) != 0 ||
        json_object_set_new(o, "endHour", json_integer(p->end_s)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static bool day_allowed(uint8_t mask, int iso_wday)
{
    return iso_wday >= 1 && iso_wday <= 7 && ((unsigned)mask >> (unsigned)iso_wday & 1u);
}

bool period_includes(const struct period *p, int64_t utc_ms)
{
    struct tz_local l;
    int prev;

    tz_localtime(p->tz, utc_ms, &l);
    if (p->begin_s <= p->end_s)
        return day_allowed(p->days_mask, l.iso_wday) && l.sec_of_day >= p->begin_s &&
               l.sec_of_day <= p->end_s;
    /* Across midnight: the evening part belongs to today's range, the morning part to the
     * range that started yesterday, so the day test is on yesterday. */
    if (l.sec_of_day >= p->begin_s)
        return day_allowed(p->days_mask, l.iso_wday);
    if (l.sec_of_day <= p->end_s) {
        prev = l.iso_wday == 1 ? 7 : l.iso_wday - 1;
        return day_allowed(p->days_mask, prev);
    }
    return false;
}

bool periods_include(const struct period *ps, size_t n, int64_t utc_ms)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        if (period_includes(&ps[i], utc_ms))
            return true;
    }
    return false;
}
