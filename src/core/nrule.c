/* Notification rules: parsing and validation, then the rule set (containers, intents, per
 * (rule, alert) state, inhibition, groups, admission, the index, changes, the snapshot). See
 * nrule.h for the semantics. */
#include "core/nrule.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hex.h"

#define DEFAULT_ON                                                                                 \
    (CHG_BIT(CHG_CREATE) | CHG_BIT(CHG_REOPEN) | CHG_BIT(CHG_UNBLACKOUT) |                         \
     CHG_BIT(CHG_STATEINC) | CHG_BIT(CHG_STATEDEC) | CHG_BIT(CHG_RESOLVE) | CHG_BIT(CHG_EXPIRE))
#define RESOLVING (CHG_BIT(CHG_RESOLVE) | CHG_BIT(CHG_EXPIRE))
#define GROUP_KEY_MAX (4u * 1024 * 1024) /* far above what the alert limits allow */

/* ---- parsing --------------------------------------------------------------------------------- */

void nrule_free(struct nrule *r)
{
    if (!r)
        return;
    free(r->name);
    matcher_free(r->match);
    free(r->periods);
    for (size_t i = 0; i < r->ngroup_by; i++)
        mfield_free(&r->group_by[i]);
    free(r->group_by);
    for (size_t i = 0; i < r->nchannels; i++)
        free(r->channels[i]);
    free(r->channels);
    matcher_free(r->inhibit_source);
    for (size_t i = 0; i < r->ninhibit_equal; i++)
        mfield_free(&r->inhibit_equal[i]);
    free(r->inhibit_equal);
    free(r->trigger);
    free(r->trigger_origin);
    free(r);
}

static const struct {
    const char *unit;
    int64_t ms;
} units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};

bool nrule_duration_parse(const json_t *v, int64_t *ms)
{
    const char *p;
    int64_t total = 0;

    if (json_is_integer(v)) {
        long long n = json_integer_value(v);
        if (n < 0 || n > NRULE_DURATION_MAX / 1000)
            return false;
        *ms = n * 1000;
        return true;
    }
    if (!json_is_string(v))
        return false;
    p = json_string_value(v);
    if (!*p)
        return false;
    while (*p) {
        char *end;
        long long n;
        size_t u = 0;
        if (*p < '0' || *p > '9')
            return false;
        errno = 0;
        n = strtoll(p, &end, 10);
        if (errno || end == p || n > NRULE_DURATION_MAX)
            return false;
        p = end;
        while (u < sizeof(units) / sizeof(units[0]) && *p != units[u].unit[0])
            u++;
        if (u == sizeof(units) / sizeof(units[0]))
            return false;
        p++;
        if (n > (NRULE_DURATION_MAX - total) / units[u].ms)
            return false;
        total += n * units[u].ms;
    }
    *ms = total;
    return true;
}

/* "1h30m" (whole seconds); "0s" for 0. */
static void duration_text(int64_t ms, char *out, size_t n)
{
    size_t len = 0;
    int64_t s = ms / 1000;

    out[0] = '\0';
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        int64_t q = s / (units[u].ms / 1000);
        if (!q)
            continue;
        s -= q * (units[u].ms / 1000);
        len += (size_t)snprintf(out + len, n > len ? n - len : 0, "%" PRId64 "%s", q,
                                units[u].unit);
    }
    if (!len)
        snprintf(out, n, "0s");
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);

    if (!n || n > NRULE_ID_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == ':' || *p == '-'))
            return false;
    return true;
}

static int parse_on(struct nrule *r, const json_t *v, struct verr *e)
{
    size_t i;
    const json_t *it;
    char where[32];

    if (!json_is_array(v) || !json_array_size(v))
        return verr_set(e, "on", "on must be a non-empty array of change kinds");
    r->on = 0;
    json_array_foreach(v, i, it)
    {
        const char *s = json_string_value(it);
        int k;
        snprintf(where, sizeof(where), "on[%zu]", i);
        if (!s)
            return verr_set(e, where, "must be a string");
        if (!strncmp(s, "eventscount", 11) && s[11]) {
            char *end;
            long long n;
            errno = 0;
            n = strtoll(s + 11, &end, 10);
            if (errno || *end || n < 2 || n > UINT32_MAX || s[11] < '0' || s[11] > '9')
                return verr_set(e, where, "eventscount<N> needs an integer N >= 2");
            if (r->neventscount == NRULE_MAX_EVENTSCOUNT)
                return verr_set(e, where, "at most %d eventscount kinds", NRULE_MAX_EVENTSCOUNT);
            r->eventscount[r->neventscount++] = (uint32_t)n;
            r->on |= CHG_BIT(CHG_EVENTSCOUNT);
            continue;
        }
        k = achg_parse(s);
        if (k < 0 || k == CHG_EVENTSCOUNT)
            return verr_set(e, where, "unknown change kind \"%.40s\"", s);
        r->on |= CHG_BIT(k);
    }
    return TOCSIN_OK;
}

static int parse_strings(const json_t *v, size_t max, bool ids, char ***out, size_t *n,
                         const char *field, struct verr *e)
{
    size_t i, cnt;
    const json_t *it;
    char where[64];

    if (!json_is_array(v))
        return verr_set(e, field, "must be an array of strings");
    cnt = json_array_size(v);
    if (cnt > max)
        return verr_set(e, field, "at most %zu items", max);
    *out = calloc(cnt ? cnt : 1, sizeof(**out));
    if (!*out)
        return TOCSIN_ENOMEM;
    json_array_foreach(v, i, it)
    {
        const char *s = json_string_value(it);
        snprintf(where, sizeof(where), "%s[%zu]", field, i);
        if (!s || (ids && !valid_id(s)) || (!ids && !*s))
            return verr_set(e, where, ids ? "must be an id (1 to 64 of A-Z a-z 0-9 _ . : -)"
                                          : "must be a non-empty string");
        (*out)[i] = strdup(s);
        if (!(*out)[i])
            return TOCSIN_ENOMEM;
        *n = i + 1;
    }
    return TOCSIN_OK;
}

static int parse_fields(const json_t *v, size_t max, bool allow_all, struct mfield **out,
                        size_t *n, bool *all, const char *field, struct verr *e)
{
    size_t i, cnt;
    const json_t *it;
    char where[64];

    if (!json_is_array(v))
        return verr_set(e, field, "must be an array of field names");
    cnt = json_array_size(v);
    if (cnt > max)
        return verr_set(e, field, "at most %zu fields", max);
    if (allow_all && cnt == 1 && json_is_string(json_array_get(v, 0)) &&
        !strcmp(json_string_value(json_array_get(v, 0)), "...")) {
        *all = true;
        return TOCSIN_OK;
    }
    *out = calloc(cnt ? cnt : 1, sizeof(**out));
    if (!*out)
        return TOCSIN_ENOMEM;
    json_array_foreach(v, i, it)
    {
        int rc;
        snprintf(where, sizeof(where), "%s[%zu]", field, i);
        if (!json_is_string(it))
            return verr_set(e, where, "must be a field name");
        if (!strcmp(json_string_value(it), "..."))
            return verr_set(e, where, "\"...\" (every label) must be alone");
        rc = mfield_parse(json_string_value(it), &(*out)[i]);
        if (rc == TOCSIN_EINVAL)
            return verr_set(e, where, "invalid field name");
        if (rc)
            return rc;
        *n = i + 1;
        for (size_t k = 0; k < i; k++)
            if (mfield_equal(&(*out)[k], &(*out)[i]))
                return verr_set(e, where, "repeated field");
    }
    return TOCSIN_OK;
}

/* group_by is kept sorted by name (the group key lists the names in that order) */
static int mfield_cmp(const void *x, const void *y)
{
    char a[MATCH_FIELD_MAX + 32], b[MATCH_FIELD_MAX + 32];

    mfield_name(x, a, sizeof(a));
    mfield_name(y, b, sizeof(b));
    return strcmp(a, b);
}

static int parse_duration_key(const json_t *v, const char *field, int64_t min_ms, int64_t *out,
                              struct verr *e)
{
    if (!nrule_duration_parse(v, out))
        return verr_set(e, field,
                        "must be a duration (\"30s\", \"5m\", \"4h\", \"1d\", \"1h30m\") or "
                        "integer seconds, at most 366d");
    if (*out < min_ms)
        return verr_set(e, field, "must be at least %" PRId64 "s", min_ms / 1000);
    return TOCSIN_OK;
}

static int parse_matcher(const json_t *v, const struct sevmap *sev, const char *field,
                         struct matcher **out, struct verr *e)
{
    int rc = matcher_compile(v, sev, out, e);

    if (rc == TOCSIN_EINVAL)
        verr_prefix(e, field);
    return rc;
}

static int parse_periods(struct nrule *r, const json_t *v, tz_lookup_fn tz, void *tzud,
                         struct verr *e)
{
    size_t i;
    const json_t *it;
    char where[64], msg[200];

    if (!json_is_array(v))
        return verr_set(e, "periods", "must be an array of periods");
    if (json_array_size(v) > NRULE_MAX_PERIODS)
        return verr_set(e, "periods", "at most %d periods", NRULE_MAX_PERIODS);
    r->periods = calloc(json_array_size(v) + 1, sizeof(*r->periods));
    if (!r->periods)
        return TOCSIN_ENOMEM;
    json_array_foreach(v, i, it)
    {
        const char *f = NULL;
        if (period_from_json(it, tz, tzud, &r->periods[i], &f, msg, sizeof(msg))) {
            if (f && strcmp(f, "period"))
                snprintf(where, sizeof(where), "periods[%zu].%s", i, f);
            else
                snprintf(where, sizeof(where), "periods[%zu]", i);
            return verr_set(e, where, "%s", msg);
        }
        r->nperiods = i + 1;
    }
    return TOCSIN_OK;
}

static int parse_throttle(struct nrule *r, const json_t *v, struct verr *e)
{
    const json_t *c = json_object_get(v, "count"), *w = json_object_get(v, "window");
    const char *k;
    json_t *x;

    if (!json_is_object(v))
        return verr_set(e, "throttle", "must be an object {count, window}");
    json_object_foreach((json_t *)v, k, x)
    {
        if (strcmp(k, "count") && strcmp(k, "window")) {
            char where[64];
            snprintf(where, sizeof(where), "throttle.%.40s", k);
            return verr_set(e, where, "unknown key");
        }
    }
    if (!json_is_integer(c) || json_integer_value(c) < 1 ||
        json_integer_value(c) > NRULE_THROTTLE_MAX)
        return verr_set(e, "throttle.count", "must be an integer from 1 to %d",
                        NRULE_THROTTLE_MAX);
    r->throttle_count = (uint32_t)json_integer_value(c);
    return parse_duration_key(w, "throttle.window", 1000, &r->throttle_window_ms, e);
}

static int parse_inhibit(struct nrule *r, const json_t *v, const struct sevmap *sev,
                         struct verr *e)
{
    const json_t *src = json_object_get(v, "source"), *eq = json_object_get(v, "equal");
    const char *k;
    json_t *x;
    bool all = false;
    int rc;

    if (!json_is_object(v))
        return verr_set(e, "inhibit", "must be an object {source, equal}");
    json_object_foreach((json_t *)v, k, x)
    {
        if (strcmp(k, "source") && strcmp(k, "equal")) {
            char where[64];
            snprintf(where, sizeof(where), "inhibit.%.40s", k);
            return verr_set(e, where, "unknown key");
        }
    }
    if (!src || json_is_null(src) || (json_is_array(src) && !json_array_size(src)))
        return verr_set(e, "inhibit.source", "required: the matchers of the inhibiting alerts");
    rc = parse_matcher(src, sev, "inhibit.source", &r->inhibit_source, e);
    if (!rc && eq && !json_is_null(eq))
        rc = parse_fields(eq, NRULE_MAX_EQUAL, false, &r->inhibit_equal, &r->ninhibit_equal,
                          &all, "inhibit.equal", e);
    return rc;
}

static const char *const rule_keys[] = {
    "id",      "name",           "enabled",         "priority",      "on",
    "match",   "periods",        "delay",           "group_by",      "group_wait",
    "group_interval", "repeat_interval", "throttle", "continue",     "channels",
    "send_resolved",  "inhibit",  "trigger",
};

static int parse_bool(const json_t *v, const char *field, bool dflt, bool *out, struct verr *e)
{
    if (!v || json_is_null(v)) {
        *out = dflt;
        return TOCSIN_OK;
    }
    if (!json_is_boolean(v))
        return verr_set(e, field, "must be a boolean");
    *out = json_is_true(v);
    return TOCSIN_OK;
}

/* get, with null meaning absent */
static const json_t *opt(const json_t *j, const char *k)
{
    const json_t *v = json_object_get(j, k);
    return v && !json_is_null(v) ? v : NULL;
}

static int parse_scalars(struct nrule *r, const json_t *j, struct verr *e)
{
    const json_t *v;
    int rc;

    v = json_object_get(j, "id");
    if (!json_is_string(v) || !valid_id(json_string_value(v)))
        return verr_set(e, "id", "required: 1 to 64 of A-Z a-z 0-9 _ . : -");
    snprintf(r->id, sizeof(r->id), "%s", json_string_value(v));
    v = opt(j, "name");
    if (v && (!json_is_string(v) || json_string_length(v) > NRULE_NAME_MAX))
        return verr_set(e, "name", "must be a string of at most %d bytes", NRULE_NAME_MAX);
    r->name = strdup(v ? json_string_value(v) : "");
    if (!r->name)
        return TOCSIN_ENOMEM;
    if ((rc = parse_bool(json_object_get(j, "enabled"), "enabled", true, &r->enabled, e)) ||
        (rc = parse_bool(json_object_get(j, "continue"), "continue", false, &r->cont, e)) ||
        (rc = parse_bool(json_object_get(j, "send_resolved"), "send_resolved", true,
                         &r->send_resolved, e)))
        return rc;
    v = opt(j, "priority");
    if (v && (!json_is_integer(v) || json_integer_value(v) < -NRULE_MAX_PRIORITY ||
              json_integer_value(v) > NRULE_MAX_PRIORITY))
        return verr_set(e, "priority", "must be an integer from %d to %d", -NRULE_MAX_PRIORITY,
                        NRULE_MAX_PRIORITY);
    r->priority = v ? (int)json_integer_value(v) : 0;
    v = opt(j, "trigger");
    if (v) {
        if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 256)
            return verr_set(e, "trigger", "must be a trigger id");
        r->trigger = strdup(json_string_value(v));
        r->trigger_origin = malloc(json_string_length(v) + 9);
        if (!r->trigger || !r->trigger_origin)
            return TOCSIN_ENOMEM;
        snprintf(r->trigger_origin, json_string_length(v) + 9, "trigger/%s", r->trigger);
    }
    return TOCSIN_OK;
}

static int parse_timing(struct nrule *r, const json_t *j, struct verr *e)
{
    const json_t *v;
    int rc = TOCSIN_OK;

    r->group_wait_ms = 30000;
    r->group_interval_ms = 300000;
    r->repeat_interval_ms = 4 * 3600000;
    if ((v = opt(j, "delay")))
        rc = parse_duration_key(v, "delay", 0, &r->delay_ms, e);
    if (!rc && (v = opt(j, "group_wait")))
        rc = parse_duration_key(v, "group_wait", 0, &r->group_wait_ms, e);
    if (!rc && (v = opt(j, "group_interval")))
        rc = parse_duration_key(v, "group_interval", 1000, &r->group_interval_ms, e);
    if (!rc && (v = opt(j, "repeat_interval")))
        rc = parse_duration_key(v, "repeat_interval", 1000, &r->repeat_interval_ms, e);
    if (rc)
        return rc;
    /* AM: repeats happen at flushes, so the interval is rounded up to a multiple of them */
    if (r->repeat_interval_ms % r->group_interval_ms)
        r->repeat_interval_ms += r->group_interval_ms - r->repeat_interval_ms % r->group_interval_ms;
    return TOCSIN_OK;
}

int nrule_parse(const json_t *j, const struct sevmap *sev, tz_lookup_fn tz, void *tzud,
                struct nrule **out, struct verr *e)
{
    struct nrule *r = calloc(1, sizeof(*r));
    const json_t *v;
    const char *k;
    json_t *x;
    int rc;

    *out = NULL;
    if (!r)
        return TOCSIN_ENOMEM;
    if (!json_is_object(j)) {
        rc = verr_set(e, "", "a rule must be a JSON object");
        goto out;
    }
    json_object_foreach((json_t *)j, k, x)
    {
        size_t i = 0;
        while (i < sizeof(rule_keys) / sizeof(rule_keys[0]) && strcmp(k, rule_keys[i]))
            i++;
        if (i == sizeof(rule_keys) / sizeof(rule_keys[0])) {
            char where[64];
            snprintf(where, sizeof(where), "%.60s", k);
            rc = verr_set(e, where, "unknown key");
            goto out;
        }
    }
    if ((rc = parse_scalars(r, j, e)) || (rc = parse_timing(r, j, e)))
        goto out;
    r->on = DEFAULT_ON;
    if ((v = opt(j, "on")) && (rc = parse_on(r, v, e)))
        goto out;
    if ((v = opt(j, "match")) && (rc = parse_matcher(v, sev, "match", &r->match, e)))
        goto out;
    if ((v = opt(j, "periods")) && (rc = parse_periods(r, v, tz, tzud, e)))
        goto out;
    if ((v = opt(j, "group_by")) &&
        (rc = parse_fields(v, NRULE_MAX_GROUP_BY, true, &r->group_by, &r->ngroup_by,
                           &r->group_all, "group_by", e)))
        goto out;
    if (r->ngroup_by > 1)
        qsort(r->group_by, r->ngroup_by, sizeof(*r->group_by), mfield_cmp);
    if ((v = opt(j, "throttle")) && (rc = parse_throttle(r, v, e)))
        goto out;
    if ((v = opt(j, "channels")) &&
        (rc = parse_strings(v, NRULE_MAX_CHANNELS, true, &r->channels, &r->nchannels,
                            "channels", e)))
        goto out;
    if ((v = opt(j, "inhibit")) && (rc = parse_inhibit(r, v, sev, e)))
        goto out;
out:
    if (rc) {
        nrule_free(r);
        return rc;
    }
    *out = r;
    return TOCSIN_OK;
}

static bool grouped(const struct nrule *r)
{
    return r->group_all || r->ngroup_by > 0;
}

static int set_dur(json_t *o, const char *k, int64_t ms)
{
    char t[64];

    duration_text(ms, t, sizeof(t));
    return json_object_set_new(o, k, json_string(t));
}

static json_t *fields_json(const struct mfield *f, size_t n, bool all)
{
    json_t *a = json_array();
    char name[MATCH_FIELD_MAX + 32];

    if (a && all)
        json_array_append_new(a, json_string("..."));
    for (size_t i = 0; a && i < n; i++) {
        mfield_name(&f[i], name, sizeof(name));
        if (json_array_append_new(a, json_string(name))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *on_json(const struct nrule *r)
{
    json_t *a = json_array();
    char t[32];

    for (int k = 0; a && k < CHG_COUNT; k++) {
        if (!(r->on & CHG_BIT(k)) || k == CHG_EVENTSCOUNT)
            continue;
        json_array_append_new(a, json_string(achg_name(k)));
    }
    for (size_t i = 0; a && i < r->neventscount; i++) {
        snprintf(t, sizeof(t), "eventscount%" PRIu32, r->eventscount[i]);
        json_array_append_new(a, json_string(t));
    }
    return a;
}

json_t *nrule_to_json(const struct nrule *r)
{
    json_t *o = json_object(), *a;
    int rc = 0;

    if (!o)
        return NULL;
    rc |= json_object_set_new(o, "id", json_string(r->id));
    rc |= json_object_set_new(o, "name", json_string(r->name));
    rc |= json_object_set_new(o, "enabled", json_boolean(r->enabled));
    rc |= json_object_set_new(o, "priority", json_integer(r->priority));
    rc |= json_object_set_new(o, "on", on_json(r));
    rc |= json_object_set_new(o, "match", r->match ? matcher_to_json(r->match) : json_array());
    a = json_array();
    for (size_t i = 0; a && i < r->nperiods; i++)
        json_array_append_new(a, period_to_json(&r->periods[i]));
    rc |= json_object_set_new(o, "periods", a);
    rc |= set_dur(o, "delay", r->delay_ms);
    rc |= json_object_set_new(o, "group_by", fields_json(r->group_by, r->ngroup_by, r->group_all));
    rc |= set_dur(o, "group_wait", r->group_wait_ms);
    rc |= set_dur(o, "group_interval", r->group_interval_ms);
    rc |= set_dur(o, "repeat_interval", r->repeat_interval_ms);
    if (r->throttle_count) {
        json_t *t = json_object();
        char w[64];
        duration_text(r->throttle_window_ms, w, sizeof(w));
        rc |= json_object_set_new(t, "count", json_integer(r->throttle_count));
        rc |= json_object_set_new(t, "window", json_string(w));
        rc |= json_object_set_new(o, "throttle", t);
    }
    rc |= json_object_set_new(o, "continue", json_boolean(r->cont));
    a = json_array();
    for (size_t i = 0; a && i < r->nchannels; i++)
        json_array_append_new(a, json_string(r->channels[i]));
    rc |= json_object_set_new(o, "channels", a);
    rc |= json_object_set_new(o, "send_resolved", json_boolean(r->send_resolved));
    if (r->inhibit_source) {
        json_t *in = json_object();
        rc |= json_object_set_new(in, "source", matcher_to_json(r->inhibit_source));
        rc |= json_object_set_new(in, "equal",
                                  fields_json(r->inhibit_equal, r->ninhibit_equal, false));
        rc |= json_object_set_new(o, "inhibit", in);
    }
    if (r->trigger)
        rc |= json_object_set_new(o, "trigger", json_string(r->trigger));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- the rule set: containers ------------------------------------------------------------------ */

/* Chained hash table keyed by 16 bytes (alert ids, 128-bit hashes). */
struct hnode {
    struct hnode *next;
    uint8_t key[16];
};

struct htab16 {
    struct hnode **b;
    size_t mask, n;
};

#define HT_MIN 64

static int ht_init(struct htab16 *t)
{
    t->b = calloc(HT_MIN, sizeof(*t->b));
    t->mask = HT_MIN - 1;
    t->n = 0;
    return t->b ? TOCSIN_OK : TOCSIN_ENOMEM;
}

static size_t ht_slot(const struct htab16 *t, const uint8_t k[16])
{
    uint64_t h;

    memcpy(&h, k, 8);
    return (size_t)(h & t->mask);
}

static struct hnode *ht_find(const struct htab16 *t, const uint8_t k[16])
{
    for (struct hnode *n = t->b[ht_slot(t, k)]; n; n = n->next)
        if (!memcmp(n->key, k, 16))
            return n;
    return NULL;
}

static void ht_add(struct htab16 *t, struct hnode *n)
{
    size_t s = ht_slot(t, n->key);

    n->next = t->b[s];
    t->b[s] = n;
    if (++t->n > (t->mask + 1) * 2) {
        size_t nb = (t->mask + 1) * 4;
        struct hnode **b = calloc(nb, sizeof(*b));
        if (!b)
            return; /* longer chains, still correct */
        for (size_t i = 0; i <= t->mask; i++) {
            for (struct hnode *x = t->b[i], *nx; x; x = nx) {
                uint64_t h;
                nx = x->next;
                memcpy(&h, x->key, 8);
                x->next = b[h & (nb - 1)];
                b[h & (nb - 1)] = x;
            }
        }
        free(t->b);
        t->b = b;
        t->mask = nb - 1;
    }
}

static void ht_del(struct htab16 *t, struct hnode *n)
{
    struct hnode **pp = &t->b[ht_slot(t, n->key)];

    while (*pp && *pp != n)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = n->next;
        t->n--;
    }
}

/* A 128-bit non-cryptographic hash (two FNV-1a style lanes with different multipliers, then
 * mixed): index keys, where a collision costs a wrong answer with probability 2^-128. */
struct h128 {
    uint64_t a, b;
};

static void h128_init(struct h128 *h)
{
    h->a = 14695981039346656037ULL;
    h->b = 0x9E3779B97F4A7C15ULL;
}

static void h128_add(struct h128 *h, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++) {
        h->a = (h->a ^ s[i]) * 1099511628211ULL;
        h->b = (h->b ^ s[i]) * 0xff51afd7ed558ccdULL;
    }
    h->a = (h->a ^ 0x1ff) * 1099511628211ULL; /* a separator no byte can be */
    h->b = (h->b ^ 0x1ff) * 0xff51afd7ed558ccdULL;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void h128_final(const struct h128 *h, uint8_t out[16])
{
    uint64_t a = mix64(h->a ^ (h->b >> 17)), b = mix64(h->b ^ (h->a << 13));

    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
}

struct rentry;
struct group;

struct aentry {
    struct hnode h; /* key: the alert id */
    struct ra *ras;
};

/* The state of one (rule, alert). */
struct ra {
    struct ra *anext;        /* in the alert's list */
    struct ra *rprev, *rnext; /* in the rule's list */
    struct aentry *ae;
    struct rentry *re;
    struct timer delay; /* armed: a delayed intent is pending */
    uint32_t d_chg, d_hseq, d_dup;
    bool notified; /* an intent went out; its resolve is owed */
    bool src, src_both;
    uint8_t src_key[16];
    struct group *g;
    uint32_t gidx;
    int64_t thr_start;
    uint32_t thr_n;
};

struct member {
    uint8_t id[16];
    struct ra *ra; /* NULL once the alert is deleted */
    bool firing, both;
    uint8_t eq[16];
};

struct group {
    struct hnode h; /* key: h128(rule id, key) */
    struct group *rprev, *rnext;
    struct rentry *re;
    char *key;
    struct timer tm;
    int64_t created_ms;
    uint64_t nonce, seq;
    bool flushed;
    struct member *m;
    uint32_t n, cap;
    bool has_last;
    int64_t last_ms;
    uint8_t (*lf)[16], (*lr)[16];
    uint32_t nlf, nlr;
    int last_chg;
    uint32_t last_mask;
    int64_t thr_start;
    uint32_t thr_n;
};

struct inode {
    struct hnode h; /* key: the equal values' hash */
    uint32_t n_only, n_both;
};

/* Index tags: 0.. rule fields (slots), 0x40.. inhibition sources, 0xff triggers; a slot's tag
 * | SIDX_ANY (key "") lists every rule of an attribute slot, for alerts whose attribute is an
 * array (its items are compared, not its text). */
#define SIDX_SOURCE 0x40
#define SIDX_ANY 0x80

struct rvec {
    struct rentry **v;
    size_t n, cap;
};

struct snode { /* index bucket: a trigger id or (field, value) -> rules in walk order */
    struct hnode h;
    struct rvec v;
};

struct rentry {
    struct hnode h; /* key: h128(id) */
    struct nrule *r;
    size_t ord;
    uint64_t stamp, istamp;
    struct ra *ras;
    struct group *groups;
    struct htab16 inh;
};

struct nrules {
    const struct sevmap *sev;
    struct nrules_limits lim;
    struct nrules_stats st;
    struct timer_wheel *wheel;
    struct htab16 by_id, alerts, groups;
    struct rentry **rules;
    size_t nrules, caprules;
    bool dirty;
    /* the index, rebuilt after put/del */
    struct rentry **order;
    struct rvec global[CHG_COUNT];
    struct htab16 sidx;
    const struct mfield *ifields[NRULE_INDEX_FIELDS];
    size_t nifields;
    struct rvec inh_rules; /* inhibiting rules whose source has no indexable equality */
    bool any_inh;
    struct rvec acted; /* during a change: enabled rules that acted on it in resolve_duties, in
                          walk order; room for every rule is reserved by index_build */
    uint64_t nonce, stamp;
    /* during a call */
    nrules_find_fn find;
    void *find_ud;
    struct nintents *out;
    int64_t now;
};

static int rvec_push(struct rvec *v, struct rentry *re)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 8;
        struct rentry **nv = realloc(v->v, nc * sizeof(*nv));
        if (!nv)
            return TOCSIN_ENOMEM;
        v->v = nv;
        v->cap = nc;
    }
    v->v[v->n++] = re;
    return TOCSIN_OK;
}

static void id_key(const char *id, uint8_t out[16])
{
    struct h128 h;

    h128_init(&h);
    h128_add(&h, id, strlen(id));
    h128_final(&h, out);
}

static bool active(const struct alert *a)
{
    return a->status != AST_CLOSED && a->status != AST_EXPIRED;
}

/* ---- intents ----------------------------------------------------------------------------------- */

void nintents_init(struct nintents *l)
{
    memset(l, 0, sizeof(*l));
}

void nintents_clear(struct nintents *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct nintent *it = &l->v[i];
        for (size_t k = 0; k < it->nchannels; k++)
            free(it->channels[k]);
        free(it->channels);
        free(it->group_key);
        free(it->alert_ids);
    }
    l->n = 0;
}

void nintents_free(struct nintents *l)
{
    nintents_clear(l);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* The kind an intent is about, when a change has several. */
static const int chg_rank[] = {
    CHG_CREATE,  CHG_REOPEN,   CHG_RESOLVE,   CHG_EXPIRE,      CHG_UNBLACKOUT,
    CHG_STATEINC, CHG_STATEDEC, CHG_ACK,      CHG_ACKREMOVE,   CHG_UNACK,
    CHG_SHELVE,  CHG_UNSHELVE, CHG_CHANGESTATE, CHG_COMMENT,   CHG_EVENTSCOUNT,
};

static int main_kind(uint32_t mask)
{
    for (size_t i = 0; i < sizeof(chg_rank) / sizeof(chg_rank[0]); i++)
        if (mask & CHG_BIT(chg_rank[i]))
            return chg_rank[i];
    return CHG_RESOLVE;
}

static void hex_of(const unsigned char *h, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[h[i] >> 4];
        out[2 * i + 1] = hx[h[i] & 15];
    }
    out[2 * n] = '\0';
}

static void put_u64(crypto_generichash_state *st, uint64_t v)
{
    unsigned char b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    crypto_generichash_update(st, b, 8);
}

/* The idempotency key of rule's notification of one change of alert a: the change is named by
 * the alert's history sequence and duplicate count, and the alert by its id and incarnation
 * (rid and createTime). Without the incarnation, an alert deleted and sent again with the same
 * id (Alerta lets the sender choose it) repeated its first keys, and the outbox, which keeps
 * delivered notifications for notify.keep, took its notifications for ones already sent:
 * nothing was sent. The rid alone may come back after a restart (the engine numbers from the
 * largest stored); with the creation time as well it does not. */
static void key_alert(const char *rule, const struct alert *a, uint32_t hseq, uint32_t dup,
                      char out[65])
{
    crypto_generichash_state st;
    unsigned char h[32];

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const unsigned char *)"tocsin-u2", 10);
    crypto_generichash_update(&st, (const unsigned char *)rule, strlen(rule) + 1);
    crypto_generichash_update(&st, a->id, 16);
    put_u64(&st, a->rid);
    put_u64(&st, (uint64_t)a->create_ms);
    put_u64(&st, hseq);
    put_u64(&st, dup);
    crypto_generichash_final(&st, h, sizeof(h));
    hex_of(h, sizeof(h), out);
}

static void key_group(const char *rule, const struct group *g, char out[65])
{
    crypto_generichash_state st;
    unsigned char h[32];

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const unsigned char *)"tocsin-g", 9);
    crypto_generichash_update(&st, (const unsigned char *)rule, strlen(rule) + 1);
    crypto_generichash_update(&st, (const unsigned char *)g->key, strlen(g->key) + 1);
    put_u64(&st, (uint64_t)g->created_ms);
    put_u64(&st, g->nonce);
    put_u64(&st, g->seq);
    crypto_generichash_final(&st, h, sizeof(h));
    hex_of(h, sizeof(h), out);
}

/* A new intent of rule r with nalerts ids, or NULL (counted) when memory runs out. */
static struct nintent *intent_new(struct nrules *rs, const struct nrule *r, size_t nalerts,
                                  const char *group_key)
{
    struct nintents *l = rs->out;
    struct nintent *it;

    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        struct nintent *nv = realloc(l->v, nc * sizeof(*nv));
        if (!nv)
            goto oom;
        l->v = nv;
        l->cap = nc;
    }
    it = &l->v[l->n];
    memset(it, 0, sizeof(*it));
    _Static_assert(sizeof(it->rule_id) == sizeof(r->id), "an intent names its rule whole");
    memcpy(it->rule_id, r->id, sizeof(it->rule_id)); /* NUL-terminated in r */
    it->channels = calloc(r->nchannels ? r->nchannels : 1, sizeof(*it->channels));
    it->group_key = strdup(group_key);
    it->alert_ids = calloc(nalerts ? nalerts : 1, 16);
    if (!it->channels || !it->group_key || !it->alert_ids)
        goto fail;
    for (size_t i = 0; i < r->nchannels; i++) {
        it->channels[i] = strdup(r->channels[i]);
        if (!it->channels[i])
            goto fail;
        it->nchannels = i + 1;
    }
    it->nalerts = nalerts;
    l->n++;
    rs->st.intents++;
    return it;
fail:
    for (size_t i = 0; i < it->nchannels; i++)
        free(it->channels[i]);
    free(it->channels);
    free(it->group_key);
    free(it->alert_ids);
oom:
    rs->st.oom++;
    return NULL;
}

static void emit_alert(struct nrules *rs, const struct nrule *r, const struct alert *a,
                       uint32_t hseq, uint32_t dup, uint32_t mask, bool firing)
{
    struct nintent *it = intent_new(rs, r, 1, "");

    if (!it)
        return;
    memcpy(it->alert_ids[0], a->id, 16);
    it->nfiring = firing;
    it->resolved = !firing;
    it->chg = main_kind(mask);
    it->chg_mask = mask;
    key_alert(r->id, a, hseq, dup, it->key);
}

/* ---- per (rule, alert) state -------------------------------------------------------------------- */

static struct aentry *ae_get(struct nrules *rs, const uint8_t id[16], bool create)
{
    struct aentry *ae = (struct aentry *)(void *)ht_find(&rs->alerts, id);

    if (ae || !create)
        return ae;
    ae = calloc(1, sizeof(*ae));
    if (!ae)
        return NULL;
    memcpy(ae->h.key, id, 16);
    ht_add(&rs->alerts, &ae->h);
    return ae;
}

static void ae_release(struct nrules *rs, struct aentry *ae)
{
    if (ae && !ae->ras) {
        ht_del(&rs->alerts, &ae->h);
        free(ae);
    }
}

static void on_delay(struct timer *t, void *ud);

static struct ra *ra_get(struct nrules *rs, struct rentry *re, const uint8_t id[16], bool create)
{
    struct aentry *ae = ae_get(rs, id, false);
    struct ra *ra;

    for (ra = ae ? ae->ras : NULL; ra; ra = ra->anext)
        if (ra->re == re)
            return ra;
    if (!create)
        return NULL;
    if (rs->st.alert_states >= rs->lim.max_alert_states) {
        rs->st.states_full++;
        return NULL;
    }
    ae = ae ? ae : ae_get(rs, id, true);
    ra = ae ? calloc(1, sizeof(*ra)) : NULL;
    if (!ra) {
        ae_release(rs, ae);
        rs->st.oom++;
        return NULL;
    }
    timer_init(&ra->delay, on_delay);
    ra->ae = ae;
    ra->re = re;
    ra->anext = ae->ras;
    ae->ras = ra;
    ra->rnext = re->ras;
    if (re->ras)
        re->ras->rprev = ra;
    re->ras = ra;
    rs->st.alert_states++;
    return ra;
}

static void inh_count(struct nrules *rs, struct rentry *re, const uint8_t key[16], bool both,
                      int delta)
{
    struct inode *n = (struct inode *)(void *)ht_find(&re->inh, key);

    if (!n) {
        if (delta < 0)
            return;
        n = calloc(1, sizeof(*n));
        if (!n) {
            rs->st.oom++;
            return;
        }
        memcpy(n->h.key, key, 16);
        ht_add(&re->inh, &n->h);
    }
    if (both)
        n->n_both = (uint32_t)((int64_t)n->n_both + delta);
    else
        n->n_only = (uint32_t)((int64_t)n->n_only + delta);
    if (!n->n_both && !n->n_only) {
        ht_del(&re->inh, &n->h);
        free(n);
    }
}

static void member_drop(struct nrules *rs, struct ra *ra);

static void ra_free(struct nrules *rs, struct ra *ra)
{
    struct ra **pp = &ra->ae->ras;

    if (timer_armed(&ra->delay)) {
        timer_cancel(rs->wheel, &ra->delay);
        rs->st.delayed--;
        rs->st.delay_cancelled++;
    }
    if (ra->g) { /* the member stays (resolved) until the next flush */
        ra->g->m[ra->gidx].ra = NULL;
        ra->g->m[ra->gidx].firing = false;
        ra->g = NULL;
    }
    if (ra->src)
        inh_count(rs, ra->re, ra->src_key, ra->src_both, -1);
    while (*pp && *pp != ra)
        pp = &(*pp)->anext;
    if (*pp)
        *pp = ra->anext;
    if (ra->rprev)
        ra->rprev->rnext = ra->rnext;
    else
        ra->re->ras = ra->rnext;
    if (ra->rnext)
        ra->rnext->rprev = ra->rprev;
    ae_release(rs, ra->ae);
    rs->st.alert_states--;
    free(ra);
}

/* Frees ra when it holds nothing any more. */
static void ra_maybe_free(struct nrules *rs, struct ra *ra, int64_t now)
{
    const struct nrule *r = ra->re->r;

    if (ra->notified || timer_armed(&ra->delay) || ra->g || ra->src)
        return;
    if (ra->thr_n && now < ra->thr_start + r->throttle_window_ms)
        return;
    ra_free(rs, ra);
}

static bool throttle_take(int64_t *start, uint32_t *n, const struct nrule *r, int64_t now)
{
    if (!r->throttle_count)
        return true;
    if (!*n || now >= *start + r->throttle_window_ms) {
        *start = now;
        *n = 0;
    }
    if (*n >= r->throttle_count)
        return false;
    (*n)++;
    return true;
}

/* ---- inhibition ---------------------------------------------------------------------------------- */

static void eq_key(const struct nrules *rs, const struct nrule *r, const struct alert *a,
                   uint8_t out[16])
{
    char buf[MATCH_TEXT_MAX];
    struct h128 h;
    size_t len;

    h128_init(&h);
    for (size_t i = 0; i < r->ninhibit_equal; i++) {
        const char *t = mfield_text(&r->inhibit_equal[i], rs->sev, a, buf, &len);
        h128_add(&h, t, len);
    }
    h128_final(&h, out);
}

static bool inhibited(const struct rentry *re, const uint8_t key[16], bool both)
{
    const struct inode *n = (const struct inode *)(const void *)ht_find(&re->inh, key);

    if (!n)
        return false;
    return both ? n->n_only > 0 : n->n_only + n->n_both > 0;
}

static bool origin_is(const struct alert *a, const char *origin)
{
    struct aview o = alert_get(a, AF_ORIGIN);
    return o.len == strlen(origin) && !memcmp(o.p, origin, o.len);
}

static bool rule_matches(const struct nrule *r, const struct alert *a)
{
    if (r->trigger && !origin_is(a, r->trigger_origin))
        return false;
    return matcher_match(r->match, a);
}

/* Keeps a's entry in the source index of one inhibiting rule right. */
static void track_one(struct nrules *rs, struct rentry *re, const struct alert *a, int64_t now)
{
    const struct nrule *r = re->r;
    struct ra *ra;
    uint8_t key[16];
    bool want, both = false;

    if (re->istamp == rs->stamp)
        return; /* done for this change */
    re->istamp = rs->stamp;
    want = active(a) && matcher_match(r->inhibit_source, a);
    ra = ra_get(rs, re, a->id, want);
    if (!ra)
        return;
    if (want) {
        eq_key(rs, r, a, key);
        both = rule_matches(r, a);
    }
    if (ra->src && (!want || both != ra->src_both || memcmp(key, ra->src_key, 16))) {
        inh_count(rs, re, ra->src_key, ra->src_both, -1);
        ra->src = false;
    }
    if (want && !ra->src) {
        memcpy(ra->src_key, key, 16);
        ra->src_both = both;
        ra->src = true;
        inh_count(rs, re, key, both, 1);
    }
    ra_maybe_free(rs, ra, now);
}

static const struct rvec *slot_get(const struct nrules *rs, int tag, const struct mfield *f,
                                   const struct alert *a, char *buf);

/* Keeps a's entries in the source indexes right: the rules it is a source of now, and the
 * inhibiting rules whose source matcher it may match (unindexed ones, and those whose required
 * equality it has). */
static void track_sources(struct nrules *rs, const struct alert *a, int64_t now)
{
    struct aentry *ae = ae_get(rs, a->id, false);
    char buf[MATCH_TEXT_MAX];
    const struct rvec *v;

    for (struct ra *ra = ae ? ae->ras : NULL, *next; ra; ra = next) {
        next = ra->anext; /* track_one may free ra (and ae with the last one) */
        if (ra->src)
            track_one(rs, ra->re, a, now);
    }
    for (size_t i = 0; i < rs->inh_rules.n; i++)
        track_one(rs, rs->inh_rules.v[i], a, now);
    for (size_t fi = 0; fi < rs->nifields; fi++)
        if ((v = slot_get(rs, SIDX_SOURCE + (int)fi, rs->ifields[fi], a, buf)))
            for (size_t i = 0; i < v->n; i++)
                track_one(rs, v->v[i], a, now);
}

static int index_build(struct nrules *rs);

void nrules_track(struct nrules *rs, const struct alert *a)
{
    if (!index_build(rs) && rs->any_inh) {
        rs->stamp++;
        track_sources(rs, a, rs->now);
    }
}

/* ---- groups ---------------------------------------------------------------------------------------- */

static int put_quoted(struct buf *b, const char *p, size_t n)
{
    int rc = buf_putc(b, '"');

    for (size_t i = 0; i < n && !rc; i++) {
        char c = p[i];
        if (c == '"' || c == '\\')
            rc = buf_putc(b, '\\') | buf_putc(b, c);
        else if (c == '\n')
            rc = buf_puts(b, "\\n");
        else
            rc = buf_putc(b, c);
    }
    return rc | buf_putc(b, '"');
}

struct kvp {
    const char *k, *v;
};

static int kvp_cmp(const void *x, const void *y)
{
    return strcmp(((const struct kvp *)x)->k, ((const struct kvp *)y)->k);
}

/* "<rule id>:{name=\"value\",...}", names sorted (group_by is kept sorted). NULL: no memory. */
static char *group_key(const struct nrules *rs, const struct nrule *r, const struct alert *a)
{
    struct buf b;
    char buf[MATCH_TEXT_MAX], name[MATCH_FIELD_MAX + 32];
    int rc;

    buf_init(&b, GROUP_KEY_MAX);
    rc = buf_puts(&b, r->id) | buf_puts(&b, ":{");
    if (r->group_all) {
        struct aview m = alert_get(a, AF_LABELS);
        struct kvp *v = calloc(m.n ? m.n : 1, sizeof(*v));
        uint32_t pos = 0, n = 0;
        if (!v) {
            buf_free(&b);
            return NULL;
        }
        while (n < m.n && aview_next(&m, &pos, &v[n].k, &v[n].v))
            n++;
        qsort(v, n, sizeof(*v), kvp_cmp);
        for (uint32_t i = 0; i < n; i++) {
            rc |= i ? buf_putc(&b, ',') : 0;
            rc |= buf_puts(&b, v[i].k) | buf_putc(&b, '=');
            rc |= put_quoted(&b, v[i].v, strlen(v[i].v));
        }
        free(v);
    } else {
        for (size_t i = 0; i < r->ngroup_by; i++) {
            size_t len;
            const char *t = mfield_text(&r->group_by[i], rs->sev, a, buf, &len);
            mfield_name(&r->group_by[i], name, sizeof(name));
            rc |= i ? buf_putc(&b, ',') : 0;
            rc |= buf_puts(&b, name) | buf_putc(&b, '=');
            rc |= put_quoted(&b, t, len);
        }
    }
    rc |= buf_putc(&b, '}');
    if (rc) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static void group_hkey(const struct nrule *r, const char *key, uint8_t out[16])
{
    struct h128 h;

    h128_init(&h);
    h128_add(&h, r->id, strlen(r->id));
    h128_add(&h, key, strlen(key));
    h128_final(&h, out);
}

static struct group *group_find(struct nrules *rs, const struct rentry *re, const char *key)
{
    uint8_t k[16];
    struct group *g;

    group_hkey(re->r, key, k);
    g = (struct group *)(void *)ht_find(&rs->groups, k);
    return g && g->re == re && !strcmp(g->key, key) ? g : NULL;
}

static void on_group(struct timer *t, void *ud);

/* A new group (takes key), or NULL (counted). */
static struct group *group_new(struct nrules *rs, struct rentry *re, char *key, int64_t now)
{
    struct group *g;

    if (rs->st.groups >= rs->lim.max_groups) {
        rs->st.groups_full++;
        free(key);
        return NULL;
    }
    g = calloc(1, sizeof(*g));
    if (!g) {
        rs->st.oom++;
        free(key);
        return NULL;
    }
    g->key = key;
    g->re = re;
    group_hkey(re->r, key, g->h.key);
    ht_add(&rs->groups, &g->h);
    g->rnext = re->groups;
    if (re->groups)
        re->groups->rprev = g;
    re->groups = g;
    g->created_ms = now;
    g->nonce = ++rs->nonce;
    timer_init(&g->tm, on_group);
    rs->st.groups++;
    return g;
}

static void group_free(struct nrules *rs, struct group *g)
{
    timer_cancel(rs->wheel, &g->tm);
    for (uint32_t i = 0; i < g->n; i++) {
        struct ra *ra = g->m[i].ra;
        if (ra) {
            ra->g = NULL;
            ra_maybe_free(rs, ra, rs->now);
        }
    }
    ht_del(&rs->groups, &g->h);
    if (g->rprev)
        g->rprev->rnext = g->rnext;
    else
        g->re->groups = g->rnext;
    if (g->rnext)
        g->rnext->rprev = g->rprev;
    rs->st.groups--;
    free(g->key);
    free(g->m);
    free(g->lf);
    free(g->lr);
    free(g);
}

/* Removes member i (swap with the last). */
static void member_remove(struct group *g, uint32_t i)
{
    if (g->m[i].ra)
        g->m[i].ra->g = NULL;
    g->m[i] = g->m[--g->n];
    if (i < g->n && g->m[i].ra)
        g->m[i].ra->gidx = i;
}

static void member_drop(struct nrules *rs, struct ra *ra)
{
    struct group *g = ra->g;

    (void)rs;
    if (g)
        member_remove(g, ra->gidx);
}

static int member_add(struct nrules *rs, struct group *g, struct ra *ra)
{
    if (g->n >= rs->lim.max_group_alerts) {
        rs->st.group_alerts_full++;
        return TOCSIN_EFULL;
    }
    if (g->n == g->cap) {
        uint32_t nc = g->cap ? g->cap * 2 : 4;
        struct member *nm = realloc(g->m, nc * sizeof(*nm));
        if (!nm) {
            rs->st.oom++;
            return TOCSIN_ENOMEM;
        }
        g->m = nm;
        g->cap = nc;
    }
    memset(&g->m[g->n], 0, sizeof(g->m[0]));
    memcpy(g->m[g->n].id, ra->ae->h.key, 16);
    g->m[g->n].ra = ra;
    ra->g = g;
    ra->gidx = g->n++;
    return TOCSIN_OK;
}

static void group_admit(struct nrules *rs, struct rentry *re, const struct alert *a,
                        struct ra *ra, uint32_t mask, int64_t now)
{
    const struct nrule *r = re->r;
    char *key = group_key(rs, r, a);
    struct group *g;
    struct member *m;

    if (!key) {
        rs->st.oom++;
        return;
    }
    g = group_find(rs, re, key);
    if (g) {
        free(key);
    } else {
        g = group_new(rs, re, key, now);
        if (!g)
            return;
        timer_arm(rs->wheel, &g->tm, now + r->group_wait_ms);
    }
    if (!ra)
        ra = ra_get(rs, re, a->id, true);
    if (ra && ra->g && ra->g != g)
        member_drop(rs, ra); /* its group_by values changed: it moves */
    if (!ra || (!ra->g && member_add(rs, g, ra))) {
        if (!g->n)
            group_free(rs, g);
        if (ra)
            ra_maybe_free(rs, ra, now);
        return;
    }
    m = &g->m[ra->gidx];
    m->firing = true;
    if (r->inhibit_source) {
        eq_key(rs, r, a, m->eq);
        m->both = matcher_match(r->inhibit_source, a);
    }
    g->last_chg = main_kind(mask);
    g->last_mask = mask;
    /* AM: an alert older than group_wait flushes a group that never flushed at once */
    if (!g->flushed && a->starts_ms && a->starts_ms + r->group_wait_ms <= now)
        timer_arm(rs->wheel, &g->tm, now);
}

static int id_cmp(const void *x, const void *y)
{
    return memcmp(x, y, 16);
}

/* Every id of x (n) is in the sorted s (ns). */
static bool subset(uint8_t (*x)[16], uint32_t n, uint8_t (*s)[16], uint32_t ns)
{
    for (uint32_t i = 0; i < n; i++)
        if (!ns || !bsearch(x[i], s, ns, 16, id_cmp))
            return false;
    return true;
}

/* Alertmanager's needsUpdate (notify/dedup_stage.go), repeat with >=. */
static bool needs_update(const struct group *g, const struct nrule *r, uint8_t (*f)[16],
                         uint32_t nf, uint8_t (*rv)[16], uint32_t nr, int64_t at)
{
    if (!g->has_last)
        return nf > 0;
    if (!subset(f, nf, g->lf, g->nlf))
        return true;
    if (!nf)
        return g->nlf > 0;
    if (r->send_resolved && !subset(rv, nr, g->lr, g->nlr))
        return true;
    return at - g->last_ms >= r->repeat_interval_ms;
}

static void group_emit(struct nrules *rs, struct group *g, uint8_t (*f)[16], uint32_t nf,
                       uint8_t (*rv)[16], uint32_t nr)
{
    const struct nrule *r = g->re->r;
    size_t n = nf + (r->send_resolved ? nr : 0);
    struct nintent *it;

    if (!n)
        return; /* all resolved without send_resolved: recorded, not sent (as AM) */
    it = intent_new(rs, r, n, g->key);
    if (!it)
        return;
    memcpy(it->alert_ids, f, (size_t)nf * 16);
    if (r->send_resolved)
        memcpy(it->alert_ids + nf, rv, (size_t)nr * 16);
    it->nfiring = nf;
    it->resolved = nf == 0;
    it->chg = nf ? g->last_chg : CHG_RESOLVE;
    it->chg_mask = nf ? g->last_mask : CHG_BIT(CHG_RESOLVE);
    it->seq = ++g->seq;
    key_group(r->id, g, it->key);
}

static void flush(struct nrules *rs, struct group *g, int64_t at)
{
    const struct rentry *re = g->re;
    const struct nrule *r = re->r;
    uint8_t (*f)[16] = malloc((size_t)(g->n ? g->n : 1) * 16);
    uint8_t (*rv)[16] = malloc((size_t)(g->n ? g->n : 1) * 16);
    uint32_t nf = 0, nr = 0;
    bool notify;

    if (!f || !rv) {
        rs->st.oom++;
        goto out;
    }
    for (uint32_t i = 0; i < g->n; i++) {
        const struct member *m = &g->m[i];
        if (r->inhibit_source && inhibited(re, m->eq, m->both)) {
            rs->st.inhibited += m->firing;
            continue;
        }
        memcpy(m->firing ? f[nf++] : rv[nr++], m->id, 16);
    }
    qsort(f, nf, 16, id_cmp);
    qsort(rv, nr, 16, id_cmp);
    notify = needs_update(g, r, f, nf, rv, nr, at);
    if (notify && !periods_include(r->periods, r->nperiods, at) && !(nf == 0 && g->nlf > 0)) {
        rs->st.out_of_period++;
        notify = false;
    }
    if (notify && nf && !throttle_take(&g->thr_start, &g->thr_n, r, at)) {
        rs->st.throttled++;
        notify = false;
    }
    if (notify) {
        group_emit(rs, g, f, nf, rv, nr);
        free(g->lf);
        free(g->lr);
        g->lf = f;
        g->lr = rv;
        g->nlf = nf;
        g->nlr = nr;
        g->last_ms = at;
        g->has_last = true;
        f = rv = NULL;
    }
out:
    free(f);
    free(rv);
    g->flushed = true;
    for (uint32_t i = g->n; i-- > 0;) { /* resolved alerts leave after a flush */
        if (!g->m[i].firing) {
            struct ra *ra = g->m[i].ra;
            member_remove(g, i);
            if (ra)
                ra_maybe_free(rs, ra, at);
        }
    }
}

static void on_group(struct timer *t, void *ud)
{
    struct nrules *rs = ud;
    struct group *g = (struct group *)(void *)((char *)t - offsetof(struct group, tm));
    int64_t gi = g->re->r->group_interval_ms, due = t->deadline, at = rs->now;

    /* Timers act at the time of the advance that fires them. The next tick keeps the phase of
     * this one; a late advance flushes once for the ticks it missed. */
    timer_arm(rs->wheel, &g->tm, due + gi * (1 + (at > due ? (at - due) / gi : 0)));
    flush(rs, g, at);
    if (!g->n)
        group_free(rs, g);
}

/* ---- admission --------------------------------------------------------------------------------- */

/* The rule matched an active alert (now, or when its delay ended): periods, inhibition, then the
 * group or throttle and the intent. (hseq, dup) identify the change it stems from. */
static void admit(struct nrules *rs, struct rentry *re, const struct alert *a, struct ra *ra,
                  uint32_t mask, uint32_t hseq, uint32_t dup, int64_t now)
{
    const struct nrule *r = re->r;
    uint8_t key[16];

    if (grouped(r)) {
        group_admit(rs, re, a, ra, mask, now);
        return;
    }
    if (!periods_include(r->periods, r->nperiods, now)) {
        rs->st.out_of_period++;
        return;
    }
    if (r->inhibit_source) {
        eq_key(rs, r, a, key);
        if (inhibited(re, key, matcher_match(r->inhibit_source, a))) {
            rs->st.inhibited++;
            return;
        }
    }
    if (!ra)
        ra = ra_get(rs, re, a->id, true); /* NULL (counted): no throttle, no owed resolve */
    if (ra && !throttle_take(&ra->thr_start, &ra->thr_n, r, now)) {
        rs->st.throttled++;
        return;
    }
    emit_alert(rs, r, a, hseq, dup, mask, true);
    if (ra)
        ra->notified = true;
}

static void on_delay(struct timer *t, void *ud)
{
    struct nrules *rs = ud;
    struct ra *ra = (struct ra *)(void *)((char *)t - offsetof(struct ra, delay));
    struct rentry *re = ra->re;
    const struct alert *a = rs->find ? rs->find(rs->find_ud, ra->ae->h.key) : NULL;

    rs->st.delayed--;
    (void)t;
    if (!a || !active(a) || !re->r->enabled || !rule_matches(re->r, a)) {
        rs->st.delay_cancelled++;
        ra_maybe_free(rs, ra, rs->now);
        return;
    }
    rs->st.delay_fired++;
    admit(rs, re, a, ra, ra->d_chg, ra->d_hseq, ra->d_dup, rs->now);
    ra_maybe_free(rs, ra, rs->now);
}

/* A matching rule: what it does with this change. */
static void process(struct nrules *rs, struct rentry *re, const struct alert *a, uint32_t mask,
                    int64_t now)
{
    const struct nrule *r = re->r;
    struct ra *ra;

    if (!r->nchannels)
        return; /* a blackhole rule: matches, sends nothing */
    if (!active(a)) {
        /* a resolve nobody was told the firing of: grouped rules have nothing to resolve (AM);
         * an ungrouped rule that asks for it sends it */
        if (grouped(r))
            return;
        if (!periods_include(r->periods, r->nperiods, now)) {
            rs->st.out_of_period++;
            return;
        }
        emit_alert(rs, r, a, a->hist_seq, a->duplicate_count, mask, false);
        return;
    }
    if (r->delay_ms <= 0) {
        admit(rs, re, a, NULL, mask, a->hist_seq, a->duplicate_count, now);
        return;
    }
    ra = ra_get(rs, re, a->id, true);
    if (ra && timer_armed(&ra->delay)) {
        ra->d_chg = mask; /* the kind sent when it ends is the latest */
        return;
    }
    if (!ra || rs->st.delayed >= rs->lim.max_delayed) {
        rs->st.delay_overflow++; /* sent at once rather than never */
        admit(rs, re, a, ra, mask, a->hist_seq, a->duplicate_count, now);
        return;
    }
    ra->d_chg = mask;
    ra->d_hseq = a->hist_seq;
    ra->d_dup = a->duplicate_count;
    timer_arm(rs->wheel, &ra->delay, now + r->delay_ms);
    rs->st.delayed++;
    rs->st.delay_started++;
}

/* re acted on this change (an owed resolve, a cancelled delay, a resolved membership): the walk
 * visits it, whatever the index says, and it ends the walk there as a match would. */
static void acted(struct nrules *rs, struct rentry *re)
{
    size_t i;

    if (re->stamp == rs->stamp)
        return;
    re->stamp = rs->stamp;
    if (!re->r->enabled || rs->acted.n == rs->acted.cap)
        return; /* disabled rules are never walked; the room is reserved for every rule */
    for (i = rs->acted.n++; i > 0 && rs->acted.v[i - 1]->ord > re->ord; i--)
        rs->acted.v[i] = rs->acted.v[i - 1];
    rs->acted.v[i] = re;
}

/* The alert is closed, expired (chg: that change) or deleted (chg: a resolve): delays
 * cancelled, memberships resolved, owed resolves sent under the key of the change with history
 * sequence hseq (a deleted alert has none: the one after its last). */
static void resolve_duties(struct nrules *rs, const struct alert *a, uint32_t chg, uint32_t hseq,
                           int64_t now)
{
    struct aentry *ae = ae_get(rs, a->id, false);
    struct ra *ra, *next;

    for (ra = ae ? ae->ras : NULL; ra; ra = next) {
        struct rentry *re = ra->re;
        const struct nrule *r = re->r;
        next = ra->anext;
        if (timer_armed(&ra->delay)) {
            timer_cancel(rs->wheel, &ra->delay);
            rs->st.delayed--;
            rs->st.delay_cancelled++;
            acted(rs, re);
        }
        if (ra->g) {
            ra->g->m[ra->gidx].firing = false;
            acted(rs, re);
        }
        if (ra->notified) {
            ra->notified = false;
            if (!grouped(r) && (chg & r->on & RESOLVING) && r->enabled && r->nchannels) {
                emit_alert(rs, r, a, hseq, a->duplicate_count, chg & r->on & RESOLVING, false);
                acted(rs, re);
            }
        }
        ra_maybe_free(rs, ra, now);
    }
}

/* ---- the index ----------------------------------------------------------------------------------- */

static int rentry_cmp(const void *x, const void *y)
{
    const struct rentry *a = *(struct rentry *const *)x, *b = *(struct rentry *const *)y;

    if (a->r->priority != b->r->priority)
        return a->r->priority < b->r->priority ? -1 : 1;
    return strcmp(a->r->id, b->r->id);
}

static void sidx_key(int fi, const char *s, size_t n, uint8_t out[16])
{
    struct h128 h;
    unsigned char tag = (unsigned char)fi;

    h128_init(&h);
    h128_add(&h, &tag, 1);
    h128_add(&h, s, n);
    h128_final(&h, out);
}

static void index_free(struct nrules *rs)
{
    free(rs->order);
    rs->order = NULL;
    for (int k = 0; k < CHG_COUNT; k++) {
        free(rs->global[k].v);
        memset(&rs->global[k], 0, sizeof(rs->global[k]));
    }
    if (rs->sidx.b) {
        for (size_t i = 0; i <= rs->sidx.mask; i++) {
            for (struct hnode *n = rs->sidx.b[i], *nx; n; n = nx) {
                nx = n->next;
                free(((struct snode *)(void *)n)->v.v);
                free(n);
            }
            rs->sidx.b[i] = NULL;
        }
        rs->sidx.n = 0;
    }
    free(rs->inh_rules.v);
    memset(&rs->inh_rules, 0, sizeof(rs->inh_rules));
    free(rs->acted.v);
    memset(&rs->acted, 0, sizeof(rs->acted));
    rs->nifields = 0;
    rs->any_inh = false;
}

/* Files re under (tag, s); once, as a rule's values are filed one after the other. */
static int sidx_push(struct nrules *rs, int tag, const char *s, size_t n, struct rentry *re)
{
    uint8_t k[16];
    struct snode *sn;

    sidx_key(tag, s, n, k);
    sn = (struct snode *)(void *)ht_find(&rs->sidx, k);
    if (!sn) {
        sn = calloc(1, sizeof(*sn));
        if (!sn)
            return TOCSIN_ENOMEM;
        memcpy(sn->h.key, k, 16);
        ht_add(&rs->sidx, &sn->h);
    }
    if (sn->v.n && sn->v.v[sn->v.n - 1] == re)
        return TOCSIN_OK; /* a value given twice ("a|a") */
    return rvec_push(&sn->v, re);
}

/* How many enabled rules need one (field, value), to key each rule on its rarest need. Rule
 * matchers and inhibition sources are counted apart, as they are indexed apart; a rule attached
 * to a trigger is keyed on it, so its matcher is not counted. */
struct cnode {
    struct hnode h; /* key: count_key() */
    size_t n;
};

static void count_key(bool src, const struct mfield *f, const char *v, size_t n, uint8_t out[16])
{
    unsigned char kind[3] = {src, (unsigned char)f->kind, (unsigned char)f->af};
    struct h128 h;

    h128_init(&h);
    h128_add(&h, kind, sizeof(kind));
    h128_add(&h, f->key ? f->key : "", f->key ? strlen(f->key) : 0);
    h128_add(&h, v, n);
    h128_final(&h, out);
}

static size_t count_of(const struct htab16 *t, bool src, const struct mfield *f, const char *v,
                       size_t n)
{
    uint8_t k[16];
    const struct cnode *c;

    count_key(src, f, v, n, k);
    c = (const struct cnode *)(const void *)ht_find(t, k);
    return c ? c->n : 0;
}

static int count_matcher(struct nrules *rs, struct htab16 *t, bool src, const struct matcher *mt)
{
    struct mreq q;
    size_t pos = 0;
    uint8_t k[16];

    while (matcher_next_required(mt, rs->sev, &pos, &q)) {
        for (size_t i = 0; i < q.n; i++) {
            struct cnode *c;
            count_key(src, q.f, q.v[i], q.len[i], k);
            c = (struct cnode *)(void *)ht_find(t, k);
            if (!c) {
                if (!(c = calloc(1, sizeof(*c))))
                    return TOCSIN_ENOMEM;
                memcpy(c->h.key, k, 16);
                ht_add(t, &c->h);
            }
            c->n++;
        }
    }
    return TOCSIN_OK;
}

static int count_all(struct nrules *rs, struct htab16 *t)
{
    int rc = TOCSIN_OK;

    for (size_t i = 0; i < rs->nrules && !rc; i++) {
        const struct nrule *r = rs->order[i]->r;
        if (!r->enabled)
            continue;
        if (r->inhibit_source)
            rc = count_matcher(rs, t, true, r->inhibit_source);
        if (!rc && !r->trigger)
            rc = count_matcher(rs, t, false, r->match);
    }
    return rc;
}

static void counts_free(struct htab16 *t)
{
    for (size_t i = 0; t->b && i <= t->mask; i++) {
        for (struct hnode *n = t->b[i], *nx; n; n = nx) {
            nx = n->next;
            free(n);
        }
    }
    free(t->b);
}

/* The slot of field f: its own, else a free one (not taken yet), else -1. */
static int slot_of(const struct nrules *rs, const struct mfield *f)
{
    size_t fi;

    for (fi = 0; fi < rs->nifields && !mfield_equal(rs->ifields[fi], f); fi++)
        ;
    return fi < NRULE_INDEX_FIELDS ? (int)fi : -1;
}

/* The hint of mt (core/match.h) to key it on, in *best: the one the fewest rules share (ties:
 * the first), so a rule needing both environment="prod", like hundreds, and resource="db1" is
 * keyed on resource="db1". A set scores the sum of its values' counts: it is visited by the
 * alerts of each value, so its cost adds up (the max would rate 64 rare values as one). Once
 * the NRULE_INDEX_FIELDS slots are taken, only fields with a slot are chosen. Returns the slot
 * (taken), or -1: no hint. */
static int choose(struct nrules *rs, const struct htab16 *counts, bool src,
                  const struct matcher *mt, struct mreq *best)
{
    struct mreq q;
    size_t pos = 0, score, best_score = SIZE_MAX;
    int fi, best_fi = -1;

    while (matcher_next_required(mt, rs->sev, &pos, &q)) {
        if ((fi = slot_of(rs, q.f)) < 0)
            continue;
        score = 0;
        for (size_t i = 0; i < q.n; i++)
            score += count_of(counts, src, q.f, q.v[i], q.len[i]);
        if (score < best_score) {
            best_score = score;
            best_fi = fi;
            *best = q;
        }
    }
    if (best_fi == (int)rs->nifields)
        rs->ifields[rs->nifields++] = best->f;
    return best_fi;
}

/* Files re under each value of its hint; an attribute rule also under the slot's SIDX_ANY. */
static int push_set(struct nrules *rs, int tag, const struct mreq *q, struct rentry *re)
{
    int rc = TOCSIN_OK;

    for (size_t i = 0; i < q->n && !rc; i++)
        rc = sidx_push(rs, tag, q->v[i], q->len[i], re);
    if (!rc && q->f->kind == MF_ATTR)
        rc = sidx_push(rs, tag | SIDX_ANY, "", 0, re);
    return rc;
}

/* Where a rule goes: its trigger, the values of a hint on an index field, or the lists of its
 * change kinds; and its inhibition source likewise. */
static int index_one(struct nrules *rs, const struct htab16 *counts, struct rentry *re)
{
    const struct nrule *r = re->r;
    struct mreq q;
    int rc = TOCSIN_OK, fi;

    if (r->inhibit_source) {
        rs->any_inh = true;
        fi = choose(rs, counts, true, r->inhibit_source, &q);
        rc = fi >= 0 ? push_set(rs, SIDX_SOURCE + fi, &q, re) : rvec_push(&rs->inh_rules, re);
        if (rc)
            return rc;
    }
    if (r->trigger)
        return sidx_push(rs, 0xff, r->trigger, strlen(r->trigger), re);
    if ((fi = choose(rs, counts, false, r->match, &q)) >= 0)
        return push_set(rs, fi, &q, re);
    for (int k = 0; k < CHG_COUNT && !rc; k++)
        if (r->on & CHG_BIT(k))
            rc = rvec_push(&rs->global[k], re);
    return rc;
}

static int index_build(struct nrules *rs)
{
    struct htab16 counts = {0};
    size_t n = rs->nrules ? rs->nrules : 1;
    int rc;

    if (!rs->dirty)
        return TOCSIN_OK;
    index_free(rs);
    rs->order = malloc(n * sizeof(*rs->order));
    if (!rs->order)
        return TOCSIN_ENOMEM;
    memcpy(rs->order, rs->rules, rs->nrules * sizeof(*rs->order));
    qsort(rs->order, rs->nrules, sizeof(*rs->order), rentry_cmp);
    for (size_t i = 0; i < rs->nrules; i++)
        rs->order[i]->ord = i;
    rs->acted.v = malloc(n * sizeof(*rs->acted.v));
    rs->acted.cap = rs->acted.v ? rs->nrules : 0;
    rc = !rs->acted.v || ht_init(&counts) ? TOCSIN_ENOMEM : count_all(rs, &counts);
    for (size_t i = 0; i < rs->nrules && !rc; i++)
        if (rs->order[i]->r->enabled)
            rc = index_one(rs, &counts, rs->order[i]);
    counts_free(&counts);
    if (rc) {
        rs->st.oom++;
        return rc;
    }
    rs->dirty = false;
    return TOCSIN_OK;
}

/* ---- changes ------------------------------------------------------------------------------------ */

struct cursor {
    const struct rvec *v;
    size_t i;
};

static const struct rvec *sidx_get(const struct nrules *rs, int tag, const char *s, size_t n)
{
    uint8_t k[16];
    const struct snode *sn;

    sidx_key(tag, s, n, k);
    sn = (const struct snode *)(const void *)ht_find(&rs->sidx, k);
    return sn ? &sn->v : NULL;
}

/* The rules of slot `tag` for a's text of f; for an attribute holding an array (its items are
 * compared, and the text of one may start with '[' too), every rule of the slot. */
static const struct rvec *slot_get(const struct nrules *rs, int tag, const struct mfield *f,
                                   const struct alert *a, char *buf)
{
    size_t len;
    const char *t = mfield_text(f, rs->sev, a, buf, &len);

    if (f->kind == MF_ATTR && len && t[0] == '[')
        return sidx_get(rs, tag | SIDX_ANY, "", 0);
    return sidx_get(rs, tag, t, len);
}

static bool ec_hit(const struct nrule *r, const struct alert *a)
{
    for (size_t i = 0; i < r->neventscount; i++)
        if ((uint64_t)a->duplicate_count + 1 == r->eventscount[i])
            return true;
    return false;
}

/* The candidate lists of this change: the kinds' global lists, its trigger's rules, the rules
 * keyed on a value the alert has, and those that acted on it while resolving. */
static size_t candidates(struct nrules *rs, const struct alert *a, uint32_t chg,
                         struct cursor *cur)
{
    char buf[MATCH_TEXT_MAX];
    struct aview o = alert_get(a, AF_ORIGIN);
    const struct rvec *v;
    size_t n = 0;

    for (int k = 0; k < CHG_COUNT; k++)
        if ((chg & CHG_BIT(k)) && rs->global[k].n)
            cur[n++] = (struct cursor){&rs->global[k], 0};
    if (o.len > 8 && !memcmp(o.p, "trigger/", 8) && (v = sidx_get(rs, 0xff, o.p + 8, o.len - 8)))
        cur[n++] = (struct cursor){v, 0};
    for (size_t fi = 0; fi < rs->nifields; fi++)
        if ((v = slot_get(rs, (int)fi, rs->ifields[fi], a, buf)))
            cur[n++] = (struct cursor){v, 0};
    if (rs->acted.n)
        cur[n++] = (struct cursor){&rs->acted, 0};
    return n;
}

/* The next rule in walk order over the cursors (each rule once). */
static struct rentry *next_candidate(struct cursor *cur, size_t n)
{
    struct rentry *best = NULL;

    for (size_t i = 0; i < n; i++)
        if (cur[i].i < cur[i].v->n && (!best || cur[i].v->v[cur[i].i]->ord < best->ord))
            best = cur[i].v->v[cur[i].i];
    for (size_t i = 0; best && i < n; i++)
        if (cur[i].i < cur[i].v->n && cur[i].v->v[cur[i].i] == best)
            cur[i].i++;
    return best;
}

static void begin_change(struct nrules *rs, int64_t now_ms, struct nintents *out)
{
    rs->now = now_ms;
    rs->out = out;
    rs->stamp++;
    rs->acted.n = 0;
}

void nrules_on_change(struct nrules *rs, const struct alert *a, const struct alert_change *c,
                      int64_t now_ms, struct nintents *out)
{
    struct cursor cur[CHG_COUNT + 2 + NRULE_INDEX_FIELDS]; /* + the trigger's, acted */
    struct rentry *re;
    size_t n;

    if (c->op == ACH_DEL) { /* a: the record as it was (none for a retention eviction) */
        size_t from = out->n;
        if (a && !index_build(rs)) {
            begin_change(rs, now_ms, out);
            resolve_duties(rs, a, CHG_BIT(CHG_RESOLVE), a->hist_seq + 1, now_ms);
        }
        for (size_t i = from; i < out->n; i++)
            out->v[i].gone = a; /* the engine no longer has it to render */
        nrules_on_delete(rs, c->id);
        return;
    }
    if (c->op != ACH_PUT || index_build(rs))
        return;
    begin_change(rs, now_ms, out);
    if (rs->any_inh)
        track_sources(rs, a, now_ms);
    if (!active(a))
        resolve_duties(rs, a, c->chg, a->hist_seq, now_ms);
    if (!c->chg)
        return;
    n = candidates(rs, a, c->chg, cur);
    while ((re = next_candidate(cur, n))) {
        const struct nrule *r = re->r;
        uint32_t hit = c->chg & r->on;
        if (re->stamp == rs->stamp) { /* it acted on this change already (a resolve it owed) */
            if (!r->cont)
                break;
            continue;
        }
        if ((hit & CHG_BIT(CHG_EVENTSCOUNT)) && !ec_hit(r, a))
            hit &= ~CHG_BIT(CHG_EVENTSCOUNT);
        if (!hit)
            continue;
        rs->st.evaluated++;
        if (!rule_matches(r, a))
            continue;
        process(rs, re, a, hit, now_ms);
        if (!r->cont)
            break;
    }
}

void nrules_on_delete(struct nrules *rs, const uint8_t id[16])
{
    struct aentry *ae = ae_get(rs, id, false);

    while (ae && ae->ras) {
        struct ra *ra = ae->ras;
        bool last = !ra->anext;
        ra_free(rs, ra); /* frees ae with the last one */
        if (last)
            break;
    }
}

void nrules_advance(struct nrules *rs, int64_t now_ms, nrules_find_fn find, void *ud,
                    struct nintents *out)
{
    if (index_build(rs))
        return;
    rs->find = find;
    rs->find_ud = ud;
    rs->out = out;
    rs->now = now_ms;
    timer_wheel_advance(rs->wheel, now_ms, rs);
    rs->find = NULL;
}

int64_t nrules_next_deadline(const struct nrules *rs)
{
    return timer_wheel_next(rs->wheel);
}

/* ---- the set ------------------------------------------------------------------------------------ */

void nrules_limits_default(struct nrules_limits *l)
{
    l->max_rules = NRULE_MAX_RULES;
    l->max_groups = NRULE_MAX_GROUPS;
    l->max_group_alerts = NRULE_MAX_GROUP_ALERTS;
    l->max_delayed = NRULE_MAX_DELAYED;
    l->max_alert_states = NRULE_MAX_ALERT_STATES;
}

struct nrules *nrules_new(const struct sevmap *sev, int64_t now_ms)
{
    struct nrules *rs = calloc(1, sizeof(*rs));

    if (!rs)
        return NULL;
    rs->sev = sev;
    rs->now = now_ms;
    nrules_limits_default(&rs->lim);
    rs->wheel = timer_wheel_new(now_ms);
    if (!rs->wheel || ht_init(&rs->by_id) || ht_init(&rs->alerts) || ht_init(&rs->groups) ||
        ht_init(&rs->sidx)) {
        nrules_free(rs);
        return NULL;
    }
    return rs;
}

static void rentry_clear_state(struct nrules *rs, struct rentry *re, bool groups_too)
{
    while (groups_too && re->groups) {
        rs->st.groups_dropped++;
        group_free(rs, re->groups);
    }
    for (struct ra *ra = re->ras; ra; ra = ra->rnext) {
        if (ra->src) {
            inh_count(rs, re, ra->src_key, ra->src_both, -1);
            ra->src = false;
        }
    }
}

static void rentry_free(struct nrules *rs, struct rentry *re)
{
    rentry_clear_state(rs, re, true);
    while (re->ras)
        ra_free(rs, re->ras);
    free(re->inh.b);
    nrule_free(re->r);
    free(re);
}

void nrules_free(struct nrules *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->nrules; i++)
        rentry_free(rs, rs->rules[i]);
    index_free(rs);
    free(rs->rules);
    free(rs->by_id.b);
    free(rs->alerts.b);
    free(rs->groups.b);
    free(rs->sidx.b);
    timer_wheel_free(rs->wheel);
    free(rs);
}

void nrules_set_limits(struct nrules *rs, const struct nrules_limits *l)
{
    rs->lim = *l;
}

void nrules_get_stats(const struct nrules *rs, struct nrules_stats *out)
{
    *out = rs->st;
    out->rules = rs->nrules;
}

static struct rentry *rentry_find(const struct nrules *rs, const char *id)
{
    uint8_t k[16];
    struct rentry *re;

    id_key(id, k);
    re = (struct rentry *)(void *)ht_find(&rs->by_id, k);
    return re && !strcmp(re->r->id, id) ? re : NULL;
}

static bool same_grouping(const struct nrule *a, const struct nrule *b)
{
    if (a->group_all != b->group_all || a->ngroup_by != b->ngroup_by)
        return false;
    for (size_t i = 0; i < a->ngroup_by; i++)
        if (!mfield_equal(&a->group_by[i], &b->group_by[i]))
            return false;
    return true;
}

int nrules_put(struct nrules *rs, struct nrule *r)
{
    struct rentry *re = rentry_find(rs, r->id);

    if (re) {
        rentry_clear_state(rs, re, !same_grouping(re->r, r));
        nrule_free(re->r);
        re->r = r;
        rs->dirty = true;
        return TOCSIN_OK;
    }
    if (rs->nrules >= rs->lim.max_rules) {
        nrule_free(r);
        return TOCSIN_ETOOBIG;
    }
    if (rs->nrules == rs->caprules) {
        size_t nc = rs->caprules ? rs->caprules * 2 : 16;
        struct rentry **nv = realloc(rs->rules, nc * sizeof(*nv));
        if (!nv) {
            nrule_free(r);
            return TOCSIN_ENOMEM;
        }
        rs->rules = nv;
        rs->caprules = nc;
    }
    re = calloc(1, sizeof(*re));
    if (!re || ht_init(&re->inh)) {
        free(re);
        nrule_free(r);
        return TOCSIN_ENOMEM;
    }
    re->r = r;
    id_key(r->id, re->h.key);
    ht_add(&rs->by_id, &re->h);
    rs->rules[rs->nrules++] = re;
    rs->dirty = true;
    return TOCSIN_OK;
}

int nrules_del(struct nrules *rs, const char *id)
{
    struct rentry *re = rentry_find(rs, id);

    if (!re)
        return TOCSIN_ENOTFOUND;
    for (size_t i = 0; i < rs->nrules; i++) {
        if (rs->rules[i] == re) {
            rs->rules[i] = rs->rules[--rs->nrules];
            break;
        }
    }
    ht_del(&rs->by_id, &re->h);
    rentry_free(rs, re);
    rs->dirty = true;
    return TOCSIN_OK;
}

const struct nrule *nrules_get(const struct nrules *rs, const char *id)
{
    const struct rentry *re = rentry_find(rs, id);
    return re ? re->r : NULL;
}

size_t nrules_count(const struct nrules *rs)
{
    return rs->nrules;
}

bool nrules_in_group(struct nrules *rs, const uint8_t id[16])
{
    struct aentry *ae = ae_get(rs, id, false);

    for (struct ra *ra = ae ? ae->ras : NULL; ra; ra = ra->anext)
        if (ra->g)
            return true;
    return false;
}

const struct nrule *nrules_at(struct nrules *rs, size_t i)
{
    if (index_build(rs) || i >= rs->nrules)
        return NULL;
    return rs->order[i]->r;
}

/* ---- the state snapshot ------------------------------------------------------------------------- */

#define STATE_VERSION 1

static json_t *ids_json(uint8_t (*ids)[16], uint32_t n)
{
    json_t *a = json_array();
    char t[37];

    for (uint32_t i = 0; a && i < n; i++) {
        uuid_to_text(ids[i], t);
        json_array_append_new(a, json_string(t));
    }
    return a;
}

static json_t *group_json(const struct group *g)
{
    json_t *o = json_object(), *ms = json_array(), *last = json_null();
    char id[37], eq[33];
    int rc = 0;

    if (!o || !ms) {
        json_decref(o);
        json_decref(ms);
        return NULL;
    }
    for (uint32_t i = 0; i < g->n; i++) {
        uuid_to_text(g->m[i].id, id);
        hex_of(g->m[i].eq, 16, eq);
        rc |= json_array_append_new(ms, json_pack("[sbbs]", id, g->m[i].firing, g->m[i].both, eq));
    }
    if (g->has_last)
        last = json_pack("{sIsoso}", "at", (json_int_t)g->last_ms, "firing",
                         ids_json(g->lf, g->nlf), "resolved", ids_json(g->lr, g->nlr));
    rc |= json_object_set_new(o, "rule", json_string(g->re->r->id));
    rc |= json_object_set_new(o, "key", json_string(g->key));
    rc |= json_object_set_new(o, "created", json_integer(g->created_ms));
    rc |= json_object_set_new(o, "nonce", json_integer((json_int_t)g->nonce));
    rc |= json_object_set_new(o, "seq", json_integer((json_int_t)g->seq));
    rc |= json_object_set_new(o, "next", timer_armed(&g->tm) ? json_integer(g->tm.deadline)
                                                              : json_null());
    rc |= json_object_set_new(o, "flushed", json_boolean(g->flushed));
    rc |= json_object_set_new(o, "last_chg", json_integer(g->last_chg));
    rc |= json_object_set_new(o, "last_mask", json_integer(g->last_mask));
    rc |= json_object_set_new(o, "throttle", json_pack("[Ii]", (json_int_t)g->thr_start,
                                                       (int)g->thr_n));
    rc |= json_object_set_new(o, "members", ms);
    rc |= json_object_set_new(o, "last", last);
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *ra_json(const struct ra *ra)
{
    json_t *o;
    char id[37];

    if (!ra->notified && !timer_armed(&ra->delay) && !ra->thr_n)
        return NULL; /* nothing a restart needs (memberships are in the groups) */
    uuid_to_text(ra->ae->h.key, id);
    o = json_pack("{sssssbs[Ii]}", "rule", ra->re->r->id, "id", id, "notified", ra->notified,
                  "throttle", (json_int_t)ra->thr_start, (int)ra->thr_n);
    if (o && timer_armed(&ra->delay) &&
        json_object_set_new(o, "delay",
                            json_pack("{sIsisisi}", "due", (json_int_t)ra->delay.deadline, "chg",
                                      (int)ra->d_chg, "hseq", (int)ra->d_hseq, "dup",
                                      (int)ra->d_dup))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *nrules_state_json(const struct nrules *rs)
{
    json_t *o = json_object(), *gs = json_array(), *as = json_array();
    int rc = !o || !gs || !as;

    for (size_t i = 0; !rc && i < rs->nrules; i++) {
        const struct rentry *re = rs->rules[i];
        for (const struct group *g = re->groups; !rc && g; g = g->rnext) {
            json_t *x = group_json(g);
            rc = !x || json_array_append_new(gs, x);
        }
        for (const struct ra *ra = re->ras; !rc && ra; ra = ra->rnext) {
            json_t *x = ra_json(ra);
            if (x)
                rc = json_array_append_new(as, x);
        }
    }
    if (!rc)
        rc = json_object_set_new(o, "version", json_integer(STATE_VERSION)) ||
             json_object_set_new(o, "nonce", json_integer((json_int_t)rs->nonce)) ||
             json_object_set_new(o, "groups", gs) || json_object_set_new(o, "alerts", as);
    else {
        json_decref(gs);
        json_decref(as);
    }
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static bool uuid_json(const json_t *v, uint8_t out[16])
{
    return json_is_string(v) && uuid_from_text(json_string_value(v), json_string_length(v), out);
}

static bool hex16(const char *s, uint8_t out[16])
{
    if (!s || strlen(s) != 32)
        return false;
    for (int i = 0; i < 16; i++) {
        int h = hex_digit((unsigned char)s[2 * i]), l = hex_digit((unsigned char)s[2 * i + 1]);
        if (h < 0 || l < 0)
            return false;
        out[i] = (uint8_t)(h << 4 | l);
    }
    return true;
}

static int ids_load(const json_t *a, uint8_t (**out)[16], uint32_t *n)
{
    size_t i, cnt = json_array_size(a);
    const json_t *v;

    if (!json_is_array(a))
        return TOCSIN_EINVAL;
    *out = malloc((cnt ? cnt : 1) * 16);
    if (!*out)
        return TOCSIN_ENOMEM;
    json_array_foreach(a, i, v)
    {
        if (!uuid_json(v, (*out)[i]))
            return TOCSIN_EINVAL;
    }
    *n = (uint32_t)cnt;
    qsort(*out, cnt, 16, id_cmp);
    return TOCSIN_OK;
}

static int member_load(struct nrules *rs, struct group *g, const json_t *m)
{
    uint8_t id[16];
    int firing = 0, both = 0;
    const char *ids = NULL, *eq = NULL;
    struct ra *ra;

    if (json_unpack((json_t *)m, "[sbbs]", &ids, &firing, &both, &eq) ||
        !uuid_from_text(ids, strlen(ids), id))
        return TOCSIN_EINVAL;
    ra = ra_get(rs, g->re, id, true);
    if (!ra || ra->g)
        return TOCSIN_OK; /* counted (states_full), or a duplicate */
    if (member_add(rs, g, ra)) {
        ra_maybe_free(rs, ra, rs->now);
        return TOCSIN_OK;
    }
    g->m[ra->gidx].firing = firing;
    g->m[ra->gidx].both = both;
    if (!hex16(eq, g->m[ra->gidx].eq))
        return TOCSIN_EINVAL;
    return TOCSIN_OK;
}

static int group_load(struct nrules *rs, const json_t *o)
{
    const char *rule = NULL, *key = NULL;
    json_int_t created = 0, nonce = 0, seq = 0, tstart = 0, lchg = 0, lmask = 0;
    int flushed = 0, tn = 0;
    json_t *next = NULL, *members = NULL, *last = NULL, *m;
    struct rentry *re;
    struct group *g;
    char *k;
    size_t i;
    int rc = TOCSIN_OK;

    if (json_unpack((json_t *)o, "{sssssIsIsIsosbsIsIs[Ii]sosO}", "rule", &rule, "key", &key,
                    "created", &created, "nonce", &nonce, "seq", &seq, "next", &next, "flushed",
                    &flushed, "last_chg", &lchg, "last_mask", &lmask, "throttle", &tstart, &tn,
                    "members", &members, "last", &last) ||
        !json_is_array(members))
        return TOCSIN_EINVAL;
    re = rentry_find(rs, rule);
    if (!re || !grouped(re->r) || group_find(rs, re, key)) {
        rs->st.state_skipped++;
        goto out;
    }
    k = strdup(key);
    g = k ? group_new(rs, re, k, created) : NULL;
    if (!g)
        goto out; /* counted */
    g->nonce = (uint64_t)nonce;
    g->seq = (uint64_t)seq;
    g->flushed = flushed;
    g->last_chg = lchg >= 0 && lchg < CHG_COUNT ? (int)lchg : CHG_CREATE;
    g->last_mask = (uint32_t)lmask & CHG_ALL;
    g->thr_start = tstart;
    g->thr_n = (uint32_t)(tn > 0 ? tn : 0);
    json_array_foreach(members, i, m)
    {
        if ((rc = member_load(rs, g, m)))
            goto out;
    }
    if (json_is_object(last)) {
        json_t *at = json_object_get(last, "at");
        g->has_last = true;
        g->last_ms = json_integer_value(at);
        if ((rc = ids_load(json_object_get(last, "firing"), &g->lf, &g->nlf)) ||
            (rc = ids_load(json_object_get(last, "resolved"), &g->lr, &g->nlr)))
            goto out;
    }
    timer_arm(rs->wheel, &g->tm,
              json_is_integer(next) ? json_integer_value(next) : created + re->r->group_wait_ms);
out:
    json_decref(last);
    return rc;
}

static int ra_load(struct nrules *rs, const json_t *o)
{
    const char *rule = NULL, *ids = NULL;
    int notified = 0, tn = 0;
    json_int_t tstart = 0;
    json_t *delay = NULL;
    uint8_t id[16];
    struct rentry *re;
    struct ra *ra;

    if (json_unpack((json_t *)o, "{sssssbs[Ii]s?o}", "rule", &rule, "id", &ids, "notified",
                    &notified, "throttle", &tstart, &tn, "delay", &delay) ||
        !uuid_from_text(ids, strlen(ids), id))
        return TOCSIN_EINVAL;
    re = rentry_find(rs, rule);
    if (!re) {
        rs->st.state_skipped++;
        return TOCSIN_OK;
    }
    ra = ra_get(rs, re, id, true);
    if (!ra)
        return TOCSIN_OK; /* counted */
    ra->notified = notified;
    ra->thr_start = tstart;
    ra->thr_n = (uint32_t)(tn > 0 ? tn : 0);
    if (json_is_object(delay) && !timer_armed(&ra->delay)) {
        json_int_t due = 0, chg = 0, hseq = 0, dup = 0;
        if (json_unpack(delay, "{sIsIsIsI}", "due", &due, "chg", &chg, "hseq", &hseq, "dup",
                        &dup))
            return TOCSIN_EINVAL;
        ra->d_chg = (uint32_t)chg & CHG_ALL;
        ra->d_hseq = (uint32_t)hseq;
        ra->d_dup = (uint32_t)dup;
        timer_arm(rs->wheel, &ra->delay, due);
        rs->st.delayed++;
    }
    ra_maybe_free(rs, ra, rs->now);
    return TOCSIN_OK;
}

int nrules_state_load(struct nrules *rs, const json_t *j, struct verr *e)
{
    const json_t *gs = json_object_get(j, "groups"), *as = json_object_get(j, "alerts"), *v;
    json_t *ver = json_object_get(j, "version");
    size_t i;
    int rc;
    char where[48];

    if (!json_is_object(j) || json_integer_value(ver) != STATE_VERSION || !json_is_array(gs) ||
        !json_is_array(as))
        return verr_set(e, "", "not a version %d rule state", STATE_VERSION);
    if ((rc = index_build(rs)))
        return rc;
    if (json_integer_value(json_object_get(j, "nonce")) > (json_int_t)rs->nonce)
        rs->nonce = (uint64_t)json_integer_value(json_object_get(j, "nonce"));
    json_array_foreach(gs, i, v)
    {
        if ((rc = group_load(rs, v))) {
            snprintf(where, sizeof(where), "groups[%zu]", i);
            return rc == TOCSIN_EINVAL ? verr_set(e, where, "invalid group state") : rc;
        }
    }
    json_array_foreach(as, i, v)
    {
        if ((rc = ra_load(rs, v))) {
            snprintf(where, sizeof(where), "alerts[%zu]", i);
            return rc == TOCSIN_EINVAL ? verr_set(e, where, "invalid alert state") : rc;
        }
    }
    return TOCSIN_OK;
}
