#include "core/blackout.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/ajson.h"
#include "util/err.h"
#include "util/smap.h"

#define container_of(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

static const char *const status_names[BLACKOUT_STATUS_COUNT] = {"pending", "active", "expired"};

/* The blackouts of one environment, in creation order. */
struct bucket {
    struct blackout *head, *tail;
};

struct blackout_set {
    struct blackout_config cfg;
    struct timer_wheel *wheel;
    blackout_event_fn fn;
    void *ud;
    struct smap by_id;
    struct smap by_env; /* environment -> struct bucket */
    struct blackout *head, *tail;
};

/* The optional string fields, read the same way by create, update and the stored form. */
static const struct {
    const char *name;
    size_t off;
    size_t max;
    bool update; /* PUT may change it (the user comes from the login instead) */
} str_fields[] = {
    {"resource", offsetof(struct blackout, resource), ALERT_MAX_NAME, true},
    {"event", offsetof(struct blackout, event), ALERT_MAX_NAME, true},
    {"group", offsetof(struct blackout, group), ALERT_MAX_NAME, true},
    {"origin", offsetof(struct blackout, origin), ALERT_MAX_NAME, true},
    {"customer", offsetof(struct blackout, customer), ALERT_MAX_NAME, true},
    {"text", offsetof(struct blackout, text), ALERT_MAX_TEXT, true},
    {"user", offsetof(struct blackout, user), ALERT_MAX_NAME, false},
};
#define NSTR (sizeof(str_fields) / sizeof(str_fields[0]))

static char **str_field(struct blackout *b, size_t i)
{
    return (char **)(void *)((char *)b + str_fields[i].off);
}

const char *blackout_status_name(int s)
{
    return s >= 0 && s < BLACKOUT_STATUS_COUNT ? status_names[s] : "unknown";
}

int blackout_status_parse(const char *s)
{
    for (int i = 0; s && i < BLACKOUT_STATUS_COUNT; i++)
        if (!strcmp(status_names[i], s))
            return i;
    return -1;
}

void blackout_config_default(struct blackout_config *c)
{
    memset(c, 0, sizeof(*c));
    c->duration_s = BLACKOUT_DURATION_S;
    c->max_count = BLACKOUT_MAX_COUNT;
}

/* ---- the record ---------------------------------------------------------------------------- */

void blackout_free(struct blackout *b)
{
    if (!b)
        return;
    free(b->id);
    free(b->environment);
    ajson_free_strs(b->service, b->nservice);
    ajson_free_strs(b->tags, b->ntags);
    for (size_t i = 0; i < NSTR; i++)
        free(*str_field(b, i));
    free(b);
}

static bool set(const char *s)
{
    return s && *s; /* Python truthiness of a string */
}

int blackout_priority(const struct blackout *b)
{
    bool res = set(b->resource), ev = set(b->event);
    int p = 1; /* the environment is always set */

    if (res && !ev)
        p = 2;
    else if (b->nservice)
        p = 3;
    else if (ev && !res)
        p = 4;
    else if (set(b->group))
        p = 5;
    else if (res && ev)
        p = 6;
    else if (b->ntags)
        p = 7;
    if (set(b->origin))
        p = 8;
    return p;
}

int64_t blackout_duration_s(const struct blackout *b)
{
    return (b->end_ms - b->start_ms) / 1000; /* int(total_seconds()) */
}

int blackout_status(const struct blackout *b, int64_t now_ms)
{
    if (b->start_ms <= now_ms && now_ms < b->end_ms)
        return BLACKOUT_ACTIVE;
    return b->start_ms > now_ms ? BLACKOUT_PENDING : BLACKOUT_EXPIRED;
}

int64_t blackout_remaining_s(const struct blackout *b, int64_t now_ms)
{
    int64_t from = b->start_ms > now_ms ? b->start_ms : now_ms;

    return b->end_ms > from ? (b->end_ms - from) / 1000 : 0;
}

/* ---- parsing ------------------------------------------------------------------------------- */

/* duration: *s 0 when absent, null or 0 (Alerta: `duration or BLACKOUT_DURATION`). */
static int opt_duration(const json_t *o, int64_t *s, struct verr *err)
{
    const json_t *v = json_object_get(o, "duration");

    *s = 0;
    if (!v || json_is_null(v))
        return TOCSIN_OK;
    if (!json_is_integer(v))
        return verr_set(err, "duration", "duration must be an integer");
    if (json_integer_value(v) < 0 || json_integer_value(v) > BLACKOUT_MAX_DURATION_S)
        return verr_set(err, "duration",
                        "duration must be a positive integer of at most %lld seconds",
                        (long long)BLACKOUT_MAX_DURATION_S);
    *s = (int64_t)json_integer_value(v);
    return TOCSIN_OK;
}

static int check_period(int64_t start, int64_t end, struct verr *err)
{
    if (end <= start)
        return verr_set(err, "endTime", "endTime must be after startTime");
    if ((end - start) / 1000 > BLACKOUT_MAX_DURATION_S)
        return verr_set(err, "endTime", "a blackout lasts at most %lld seconds",
                        (long long)BLACKOUT_MAX_DURATION_S);
    return TOCSIN_OK;
}

static int get_environment(const json_t *o, const char **env, struct verr *err)
{
    const json_t *v = json_object_get(o, "environment");

    *env = NULL;
    if (v && !json_is_null(v) && !json_is_string(v))
        return verr_set(err, "environment", "environment must be a string");
    if (!v || json_is_null(v) || !json_string_length(v))
        return verr_set(err, "environment", "Missing mandatory value for \"environment\"");
    if (json_string_length(v) > ALERT_MAX_NAME)
        return verr_set(err, "environment", "environment must be at most %d bytes", ALERT_MAX_NAME);
    *env = json_string_value(v);
    return TOCSIN_OK;
}

/* The times of a new blackout: Alerta's constructor. */
static int parse_period(const json_t *body, const struct blackout_config *cfg, int64_t now_ms,
                        bool stored, struct blackout *b, struct verr *err)
{
    bool has_start, has_end;
    int64_t dur;
    int rc;

    b->start_ms = now_ms;
    if ((rc = ajson_opt_time(body, "startTime", &b->start_ms, &has_start, err)) ||
        (rc = ajson_opt_time(body, "endTime", &b->end_ms, &has_end, err)))
        return rc;
    if (stored && (!has_start || !has_end))
        return verr_set(err, has_start ? "endTime" : "startTime", "missing in the stored form");
    if (!has_end) {
        if ((rc = opt_duration(body, &dur, err)))
            return rc;
        b->end_ms = b->start_ms + (dur ? dur : cfg->duration_s) * 1000;
    }
    return check_period(b->start_ms, b->end_ms, err);
}

static int parse(const json_t *body, const struct blackout_config *cfg, int64_t now_ms, bool stored,
                 struct blackout **out, struct verr *err)
{
    struct blackout *b = NULL;
    const char *env, *id, *s[NSTR];
    const json_t *v;
    bool has_create;
    int rc;

    *out = NULL;
    if (!json_is_object(body))
        return verr_set(err, "body", "must be a JSON object");
    if ((rc = get_environment(body, &env, err)) ||
        (rc = ajson_opt_str(body, "id", BLACKOUT_MAX_ID, &id, err)))
        return rc;
    if (id && !*id)
        return verr_set(err, "id", "id must not be an empty string");
    if (stored && !id)
        return verr_set(err, "id", "missing in the stored form");
    for (size_t i = 0; i < NSTR; i++)
        if ((rc = ajson_opt_str(body, str_fields[i].name, str_fields[i].max, &s[i], err)))
            return rc;
    if (!(b = calloc(1, sizeof(*b))))
        return TOCSIN_ENOMEM;
    if ((v = json_object_get(body, "service")) &&
        (rc = ajson_str_list(v, "service", false, &b->service, &b->nservice, err)))
        goto out;
    if ((v = json_object_get(body, "tags")) &&
        (rc = ajson_str_list(v, "tags", false, &b->tags, &b->ntags, err)))
        goto out;
    if ((rc = parse_period(body, cfg, now_ms, stored, b, err)))
        goto out;
    b->create_ms = now_ms;
    if (stored) {
        if ((rc = ajson_opt_time(body, "createTime", &b->create_ms, &has_create, err)))
            goto out;
        if (!has_create) {
            rc = verr_set(err, "createTime", "missing in the stored form");
            goto out;
        }
    }
    rc = TOCSIN_ENOMEM;
    if (!(b->environment = strdup(env)) || (id && !(b->id = strdup(id))))
        goto out;
    for (size_t i = 0; i < NSTR; i++)
        if (s[i] && !(*str_field(b, i) = strdup(s[i])))
            goto out;
    b->priority = blackout_priority(b);
    *out = b;
    b = NULL;
    rc = TOCSIN_OK;
out:
    blackout_free(b);
    return rc;
}

int blackout_parse(const json_t *body, const struct blackout_config *cfg, int64_t now_ms,
                   struct blackout **out, struct verr *err)
{
    return parse(body, cfg, now_ms, false, out, err);
}

/* ---- matching ------------------------------------------------------------------------------ */

static const char *pick(const char *v, const char *dflt, const char *alerta)
{
    return v ? v : dflt ? dflt : alerta;
}

void blackout_subject_from_in(struct blackout_subject *s, const struct alert_in *in,
                              const struct blackout_defaults *d, int64_t now_ms)
{
    static const struct blackout_defaults none;

    if (!d)
        d = &none;
    memset(s, 0, sizeof(*s));
    s->environment = pick(in->environment, d->environment, "");
    s->resource = in->resource ? in->resource : "";
    s->event = in->event ? in->event : "";
    s->group = pick(in->group, d->group, "Misc");
    s->origin = pick(in->origin, d->origin, "");
    s->customer = d->customer ? d->customer : in->customer;
    s->service = in->service;
    s->tags = in->tags;
    s->time_ms = in->create_ms ? in->create_ms : now_ms;
}

static const char *view_str(const struct alert *a, enum afield f, struct arena *ar)
{
    struct aview v = alert_get(a, f);

    return v.null ? NULL : arena_strndup(ar, v.p, v.len);
}

static int view_list(const struct alert *a, enum afield f, struct strlist *l, struct arena *ar)
{
    struct aview v = alert_get(a, f);
    uint32_t pos = 0;
    const char *item;

    l->n = 0;
    l->v = arena_alloc(ar, (v.n + 1) * sizeof(char *));
    if (!l->v)
        return TOCSIN_ENOMEM;
    while (l->n < v.n && aview_next(&v, &pos, &item, NULL))
        if (!(l->v[l->n++] = arena_strndup(ar, item, strlen(item))))
            return TOCSIN_ENOMEM;
    return TOCSIN_OK;
}

int blackout_subject_from_alert(struct blackout_subject *s, const struct alert *a, int64_t time_ms,
                                struct arena *ar)
{
    struct aview cust = alert_get(a, AF_CUSTOMER);
    int rc;

    memset(s, 0, sizeof(*s));
    s->environment = view_str(a, AF_ENVIRONMENT, ar);
    s->resource = view_str(a, AF_RESOURCE, ar);
    s->event = view_str(a, AF_EVENT, ar);
    s->group = view_str(a, AF_GROUP, ar);
    s->origin = view_str(a, AF_ORIGIN, ar);
    s->customer = cust.null ? NULL : view_str(a, AF_CUSTOMER, ar);
    if (!s->environment || !s->resource || !s->event || !s->group || !s->origin ||
        (!cust.null && !s->customer))
        return TOCSIN_ENOMEM;
    if ((rc = view_list(a, AF_SERVICE, &s->service, ar)) ||
        (rc = view_list(a, AF_TAGS, &s->tags, ar)))
        return rc;
    s->time_ms = time_ms;
    return TOCSIN_OK;
}

static bool in_list(const struct strlist *l, const char *s)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s))
            return true;
    return false;
}

/* Postgres `blackout <@ alert`: every element of the blackout's list is in the alert's. */
static bool subset(char *const *v, uint32_t n, const struct strlist *of)
{
    for (uint32_t i = 0; i < n; i++)
        if (!in_list(of, v[i]))
            return false;
    return true;
}

static bool field_ok(const char *want, const char *have)
{
    return !want || (have && !strcmp(want, have));
}

bool blackout_covers(const struct blackout *b, const struct blackout_subject *s,
                     bool customer_views)
{
    return !strcmp(b->environment, s->environment ? s->environment : "") &&
           field_ok(b->resource, s->resource) && field_ok(b->event, s->event) &&
           field_ok(b->group, s->group) && field_ok(b->origin, s->origin) &&
           subset(b->service, b->nservice, &s->service) && subset(b->tags, b->ntags, &s->tags) &&
           (!customer_views || field_ok(b->customer, s->customer));
}

/* ---- the set ------------------------------------------------------------------------------- */

static void report(struct blackout_set *s, int ev, const struct blackout *b, int64_t at)
{
    if (s->fn)
        s->fn(s->ud, ev, b, at);
}

static void start_fired(struct timer *tm, void *unused)
{
    struct blackout *b = container_of(tm, struct blackout, tm_start);

    (void)unused;
    report(b->set, BLACKOUT_STARTED, b, tm->deadline);
}

static void end_fired(struct timer *tm, void *unused)
{
    struct blackout *b = container_of(tm, struct blackout, tm_end);

    (void)unused;
    report(b->set, BLACKOUT_ENDED, b, tm->deadline);
}

/* Timers only for what is still to come: a start or end at or before now_ms has happened. */
static void rearm(struct blackout_set *s, struct blackout *b, int64_t now_ms)
{
    if (b->start_ms > now_ms)
        timer_arm(s->wheel, &b->tm_start, b->start_ms);
    else
        timer_cancel(s->wheel, &b->tm_start);
    if (b->end_ms > now_ms)
        timer_arm(s->wheel, &b->tm_end, b->end_ms);
    else
        timer_cancel(s->wheel, &b->tm_end);
}

struct blackout_set *blackout_set_new(const struct blackout_config *cfg, struct timer_wheel *wheel,
                                      blackout_event_fn fn, void *ud)
{
    struct blackout_set *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->cfg = *cfg;
    if (s->cfg.naccept > SEVMAP_MAX)
        s->cfg.naccept = SEVMAP_MAX;
    s->wheel = wheel;
    s->fn = fn;
    s->ud = ud;
    smap_init(&s->by_id);
    smap_init(&s->by_env);
    return s;
}

void blackout_set_free(struct blackout_set *s)
{
    struct blackout *b, *next;
    struct smap_entry *e;
    size_t it;

    if (!s)
        return;
    for (b = s->head; b; b = next) {
        next = b->next;
        timer_cancel(s->wheel, &b->tm_start);
        timer_cancel(s->wheel, &b->tm_end);
        blackout_free(b);
    }
    for (e = smap_first(&s->by_env, &it); e; e = smap_next(&s->by_env, e, &it))
        free(e->value);
    smap_free(&s->by_env);
    smap_free(&s->by_id);
    free(s);
}

const struct blackout_config *blackout_set_config(const struct blackout_set *s)
{
    return &s->cfg;
}

size_t blackout_set_count(const struct blackout_set *s)
{
    return s->by_id.count;
}

struct blackout *blackout_set_first(const struct blackout_set *s)
{
    return s->head;
}

struct blackout *blackout_set_get(const struct blackout_set *s, const char *id)
{
    return id ? smap_get(&s->by_id, id, strlen(id)) : NULL;
}

/* The bucket of env, created if absent. NULL if out of memory. */
static struct bucket *bucket_for(struct blackout_set *s, const char *env)
{
    struct bucket *k = smap_get(&s->by_env, env, strlen(env));

    if (k)
        return k;
    if (!(k = calloc(1, sizeof(*k))))
        return NULL;
    if (smap_put(&s->by_env, env, strlen(env), k, NULL)) {
        free(k);
        return NULL;
    }
    return k;
}

static void bucket_link(struct bucket *k, struct blackout *b)
{
    b->env_prev = k->tail;
    b->env_next = NULL;
    if (k->tail)
        k->tail->env_next = b;
    else
        k->head = b;
    k->tail = b;
}

/* Unlinks b from its environment's bucket; an empty bucket goes. */
static void bucket_unlink(struct blackout_set *s, struct blackout *b)
{
    struct bucket *k = smap_get(&s->by_env, b->environment, strlen(b->environment));

    if (!k)
        return;
    if (b->env_prev)
        b->env_prev->env_next = b->env_next;
    else
        k->head = b->env_next;
    if (b->env_next)
        b->env_next->env_prev = b->env_prev;
    else
        k->tail = b->env_prev;
    b->env_prev = b->env_next = NULL;
    if (!k->head) {
        smap_del(&s->by_env, b->environment, strlen(b->environment));
        free(k);
    }
}

static int add(struct blackout_set *s, struct blackout *b, const char *fresh_id, int64_t now_ms,
               bool events, struct verr *err)
{
    struct bucket *k;
    int rc = TOCSIN_EINVAL;

    if (s->by_id.count >= s->cfg.max_count) {
        verr_set(err, "", "too many blackouts (at most %zu)", s->cfg.max_count);
        if (err)
            err->status = 413;
        rc = TOCSIN_ETOOBIG;
        goto out;
    }
    if (!b->id) {
        if (!fresh_id || !*fresh_id) {
            verr_set(err, "id", "no id for a new blackout");
            goto out;
        }
        rc = TOCSIN_ENOMEM;
        if (!(b->id = strdup(fresh_id)))
            goto out;
    }
    if (smap_get(&s->by_id, b->id, strlen(b->id))) {
        verr_set(err, "id", "id '%.64s' is used by another blackout", b->id);
        if (err)
            err->status = 409;
        rc = TOCSIN_EEXIST;
        goto out;
    }
    rc = TOCSIN_ENOMEM;
    if (!(k = bucket_for(s, b->environment)))
        goto out;
    if (smap_put(&s->by_id, b->id, strlen(b->id), b, NULL)) {
        if (!k->head) {
            smap_del(&s->by_env, b->environment, strlen(b->environment));
            free(k);
        }
        goto out;
    }
    bucket_link(k, b);
    b->set = s;
    b->prev = s->tail;
    b->next = NULL;
    if (s->tail)
        s->tail->next = b;
    else
        s->head = b;
    s->tail = b;
    b->priority = blackout_priority(b);
    timer_init(&b->tm_start, start_fired);
    timer_init(&b->tm_end, end_fired);
    rearm(s, b, now_ms);
    if (events && blackout_status(b, now_ms) == BLACKOUT_ACTIVE)
        report(s, BLACKOUT_STARTED, b, now_ms);
    return TOCSIN_OK;
out:
    blackout_free(b);
    return rc;
}

int blackout_set_add(struct blackout_set *s, struct blackout *b, const char *fresh_id,
                     int64_t now_ms, struct verr *err)
{
    return add(s, b, fresh_id, now_ms, true, err);
}

int blackout_set_load(struct blackout_set *s, const char *stored, size_t len, int64_t now_ms,
                      struct verr *err)
{
    json_error_t je;
    json_t *j = json_loadb(stored, len, 0, &je);
    struct blackout *b;
    int rc;

    if (!j)
        return verr_set(err, "body", "invalid JSON: %s", je.text);
    rc = parse(j, &s->cfg, now_ms, true, &b, err);
    json_decref(j);
    if (rc)
        return rc;
    return add(s, b, NULL, now_ms, false, err);
}

/* What a PUT changes, staged so that it applies all or nothing. */
struct staged {
    char *environment; /* NULL: unchanged */
    bool has_service, has_tags;
    char **service, **tags;
    uint32_t nservice, ntags;
    bool has_str[NSTR];
    char *str[NSTR];
    int64_t start_ms, end_ms;
    bool criteria; /* something matching depends on is in the body */
};

static void staged_clear(struct staged *st)
{
    free(st->environment);
    ajson_free_strs(st->service, st->nservice);
    ajson_free_strs(st->tags, st->ntags);
    for (size_t i = 0; i < NSTR; i++)
        free(st->str[i]);
}

static int stage_strings(const json_t *body, struct staged *st, struct verr *err)
{
    const char *v;
    int rc;

    for (size_t i = 0; i < NSTR; i++) {
        if (!str_fields[i].update || !json_object_get(body, str_fields[i].name))
            continue;
        if ((rc = ajson_opt_str(body, str_fields[i].name, str_fields[i].max, &v, err)))
            return rc;
        st->has_str[i] = true;
        st->criteria |= strcmp(str_fields[i].name, "text") != 0;
        if (v && !(st->str[i] = strdup(v)))
            return TOCSIN_ENOMEM;
    }
    return TOCSIN_OK;
}

static int stage(const json_t *body, const struct blackout *b, struct staged *st, struct verr *err)
{
    const json_t *v;
    const char *env;
    bool has_start, has_end;
    int64_t dur;
    int rc;

    v = json_object_get(body, "environment");
    if (v && !json_is_null(v)) { /* Alerta: `if kwargs.get('environment') is not None` */
        if ((rc = get_environment(body, &env, err)))
            return rc;
        if (!(st->environment = strdup(env)))
            return TOCSIN_ENOMEM;
        st->criteria = true;
    }
    if ((v = json_object_get(body, "service"))) {
        if ((rc = ajson_str_list(v, "service", true, &st->service, &st->nservice, err)))
            return rc;
        st->has_service = st->criteria = true;
    }
    if ((v = json_object_get(body, "tags"))) {
        if ((rc = ajson_str_list(v, "tags", true, &st->tags, &st->ntags, err)))
            return rc;
        st->has_tags = st->criteria = true;
    }
    if ((rc = stage_strings(body, st, err)))
        return rc;
    st->start_ms = b->start_ms;
    st->end_ms = b->end_ms;
    if ((rc = ajson_opt_time(body, "startTime", &st->start_ms, &has_start, err)) ||
        (rc = ajson_opt_time(body, "endTime", &st->end_ms, &has_end, err)) ||
        (rc = opt_duration(body, &dur, err)))
        return rc;
    /* Alerta stores a new duration without moving endTime, and recomputes duration from the
     * times when it reads the blackout back, so the change is lost; tocsin moves endTime. */
    if (!has_end && dur)
        st->end_ms = st->start_ms + dur * 1000;
    st->criteria |= has_start || has_end || dur != 0;
    return check_period(st->start_ms, st->end_ms, err);
}

/* Moves the staged values into b (cannot fail; the new bucket exists already). */
static void commit(struct blackout_set *s, struct blackout *b, struct staged *st,
                   struct bucket *newk)
{
    if (st->environment) {
        bucket_unlink(s, b);
        free(b->environment);
        b->environment = st->environment;
        st->environment = NULL;
        bucket_link(newk, b);
    }
    if (st->has_service) {
        ajson_free_strs(b->service, b->nservice);
        b->service = st->service;
        b->nservice = st->nservice;
        st->service = NULL;
        st->nservice = 0;
    }
    if (st->has_tags) {
        ajson_free_strs(b->tags, b->ntags);
        b->tags = st->tags;
        b->ntags = st->ntags;
        st->tags = NULL;
        st->ntags = 0;
    }
    for (size_t i = 0; i < NSTR; i++) {
        if (!st->has_str[i])
            continue;
        free(*str_field(b, i));
        *str_field(b, i) = st->str[i];
        st->str[i] = NULL;
    }
    b->start_ms = st->start_ms;
    b->end_ms = st->end_ms;
    b->priority = blackout_priority(b);
}

int blackout_set_update(struct blackout_set *s, const char *id, const json_t *body,
                        const char *user, int64_t now_ms, struct verr *err)
{
    struct blackout *b = blackout_set_get(s, id);
    struct staged st;
    struct bucket *newk = NULL;
    char *new_user = NULL;
    bool was_active, is_active;
    int rc;

    if (!b) {
        verr_set(err, "id", "not found");
        if (err)
            err->status = 404;
        return TOCSIN_ENOTFOUND;
    }
    if (!json_is_object(body) || !json_object_size(body))
        return verr_set(err, "body", "nothing to change");
    memset(&st, 0, sizeof(st));
    if ((rc = stage(body, b, &st, err)))
        goto out;
    rc = TOCSIN_ENOMEM;
    if (st.environment && strcmp(st.environment, b->environment) &&
        !(newk = bucket_for(s, st.environment)))
        goto out;
    if (user && !(new_user = strdup(user)))
        goto out;
    if (st.environment && !newk) { /* the same environment: nothing to move */
        free(st.environment);
        st.environment = NULL;
    }
    was_active = blackout_status(b, now_ms) == BLACKOUT_ACTIVE;
    commit(s, b, &st, newk);
    if (new_user) {
        free(b->user);
        b->user = new_user;
    }
    rearm(s, b, now_ms);
    is_active = blackout_status(b, now_ms) == BLACKOUT_ACTIVE;
    if (was_active && (!is_active || st.criteria))
        report(s, BLACKOUT_ENDED, b, now_ms);
    if (is_active && (!was_active || st.criteria))
        report(s, BLACKOUT_STARTED, b, now_ms);
    rc = TOCSIN_OK;
out:
    if (rc && newk && !newk->head) {
        smap_del(&s->by_env, st.environment, strlen(st.environment));
        free(newk);
    }
    staged_clear(&st);
    return rc;
}

int blackout_set_delete(struct blackout_set *s, const char *id, int64_t now_ms)
{
    struct blackout *b = blackout_set_get(s, id);

    if (!b)
        return TOCSIN_ENOTFOUND;
    timer_cancel(s->wheel, &b->tm_start);
    timer_cancel(s->wheel, &b->tm_end);
    bucket_unlink(s, b);
    smap_del(&s->by_id, b->id, strlen(b->id));
    if (b->prev)
        b->prev->next = b->next;
    else
        s->head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        s->tail = b->prev;
    b->prev = b->next = NULL;
    if (blackout_status(b, now_ms) == BLACKOUT_ACTIVE)
        report(s, BLACKOUT_ENDED, b, now_ms);
    blackout_free(b);
    return TOCSIN_OK;
}

const struct blackout *blackout_match(const struct blackout_set *s,
                                      const struct blackout_subject *subj)
{
    const char *env = subj->environment ? subj->environment : "";
    const struct bucket *k = smap_get(&s->by_env, env, strlen(env));

    for (const struct blackout *b = k ? k->head : NULL; b; b = b->env_next)
        if (b->start_ms <= subj->time_ms && subj->time_ms < b->end_ms &&
            blackout_covers(b, subj, s->cfg.customer_views))
            return b;
    return NULL;
}

enum blackout_decision blackout_decide(const struct blackout_set *s, const struct sevmap *m,
                                       const struct alert_in *in, const struct blackout_defaults *d,
                                       int64_t now_ms, const struct blackout **matched)
{
    int sev = in->severity >= 0 && (size_t)in->severity < m->n ? in->severity : m->normal_name;
    struct blackout_subject subj;
    const struct blackout *b;

    if (matched)
        *matched = NULL;
    if (!s->by_id.count) /* every incoming alert comes here: nothing to do without blackouts */
        return BLACKOUT_PASS;
    if (!s->cfg.notification_blackout)
        for (size_t i = 0; i < s->cfg.naccept; i++)
            if (!strcmp(s->cfg.accept[i], m->name[sev]))
                return BLACKOUT_PASS;
    blackout_subject_from_in(&subj, in, d, now_ms);
    if (!(b = blackout_match(s, &subj)))
        return BLACKOUT_PASS;
    if (matched)
        *matched = b;
    return s->cfg.notification_blackout ? BLACKOUT_SUPPRESS : BLACKOUT_DROP;
}

/* ---- lists --------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    enum blackout_sort_field field;
    bool desc; /* Alerta's default direction -1 */
} sort_fields[] = {
    {"priority", BOS_PRIORITY, false},
    {"environment", BOS_ENVIRONMENT, false},
    {"service", BOS_SERVICE, false},
    {"resource", BOS_RESOURCE, false},
    {"event", BOS_EVENT, false},
    {"group", BOS_GROUP, false},
    {"tags", BOS_TAGS, false},
    {"customer", BOS_CUSTOMER, false},
    {"startTime", BOS_START_TIME, true},
    {"endTime", BOS_END_TIME, true},
    {"duration", BOS_DURATION, false},
    {"status", BOS_STATUS, false},
    {"remaining", BOS_REMAINING, true},
    {"user", BOS_USER, false},
    {"createTime", BOS_CREATE_TIME, true},
    {"text", BOS_TEXT, false},
};

int blackout_sort_parse(const char *const *values, size_t n, struct blackout_sort *out,
                        size_t *nout, struct verr *err)
{
    *nout = 0;
    if (n > BLACKOUT_SORT_MAX)
        return verr_set(err, "sort-by", "at most %d sort-by keys", BLACKOUT_SORT_MAX);
    for (size_t i = 0; i < n; i++) {
        const char *v = values[i];
        bool reverse = *v == '-';
        size_t k;

        v += reverse;
        for (k = 0; k < sizeof(sort_fields) / sizeof(sort_fields[0]); k++)
            if (!strcmp(sort_fields[k].name, v))
                break;
        if (k == sizeof(sort_fields) / sizeof(sort_fields[0]))
            return verr_set(err, "sort-by", "Sorting by '%.64s' field not supported.", v);
        out[*nout].field = sort_fields[k].field;
        out[*nout].desc = sort_fields[k].desc != reverse;
        (*nout)++;
    }
    return TOCSIN_OK;
}

struct item {
    struct blackout *b;
    size_t pos;
    const struct blackout_query *q;
    int64_t now;
};

static int cmp_key(const struct blackout *a, const struct blackout *b, enum blackout_sort_field f,
                   int64_t now)
{
    switch (f) {
    case BOS_PRIORITY:
        return ajson_cmp_i64(a->priority, b->priority);
    case BOS_ENVIRONMENT:
        return strcmp(a->environment, b->environment);
    case BOS_SERVICE:
        return ajson_cmp_strs(a->service, a->nservice, b->service, b->nservice);
    case BOS_RESOURCE:
        return ajson_cmp_str(a->resource, b->resource);
    case BOS_EVENT:
        return ajson_cmp_str(a->event, b->event);
    case BOS_GROUP:
        return ajson_cmp_str(a->group, b->group);
    case BOS_TAGS:
        return ajson_cmp_strs(a->tags, a->ntags, b->tags, b->ntags);
    case BOS_CUSTOMER:
        return ajson_cmp_str(a->customer, b->customer);
    case BOS_START_TIME:
        return ajson_cmp_i64(a->start_ms, b->start_ms);
    case BOS_END_TIME:
        return ajson_cmp_i64(a->end_ms, b->end_ms);
    case BOS_DURATION:
        return ajson_cmp_i64(blackout_duration_s(a), blackout_duration_s(b));
    case BOS_STATUS:
        return strcmp(blackout_status_name(blackout_status(a, now)),
                      blackout_status_name(blackout_status(b, now)));
    case BOS_REMAINING:
        return ajson_cmp_i64(blackout_remaining_s(a, now), blackout_remaining_s(b, now));
    case BOS_USER:
        return ajson_cmp_str(a->user, b->user);
    case BOS_CREATE_TIME:
        return ajson_cmp_i64(a->create_ms, b->create_ms);
    case BOS_TEXT:
        return ajson_cmp_str(a->text, b->text);
    }
    return 0;
}

static int cmp_items(const void *pa, const void *pb)
{
    const struct item *a = pa, *b = pb;

    for (size_t i = 0; i < a->q->nsort; i++) {
        int c = cmp_key(a->b, b->b, a->q->sort[i].field, a->now);
        if (c)
            return a->q->sort[i].desc ? -c : c;
    }
    return ajson_cmp_i64((int64_t)a->pos, (int64_t)b->pos);
}

int blackout_list(const struct blackout_set *s, const struct blackout_query *q, int64_t now_ms,
                  struct blackout ***out, size_t *n)
{
    struct item *items;
    size_t k = 0, pos = 0;

    *out = NULL;
    *n = 0;
    if (!s->by_id.count)
        return TOCSIN_OK;
    if (!(items = calloc(s->by_id.count, sizeof(*items))))
        return TOCSIN_ENOMEM;
    for (struct blackout *b = s->head; b; b = b->next, pos++) {
        if (q->status_mask && !(q->status_mask & (1u << blackout_status(b, now_ms))))
            continue;
        if (!ajson_customer_in(q->customers, q->ncustomers, b->customer))
            continue;
        items[k++] = (struct item){b, pos, q, now_ms};
    }
    if (k && q->nsort)
        qsort(items, k, sizeof(*items), cmp_items);
    if (k && !(*out = calloc(k, sizeof(**out)))) {
        free(items);
        return TOCSIN_ENOMEM;
    }
    for (size_t i = 0; i < k; i++)
        (*out)[i] = items[i].b;
    *n = k;
    free(items);
    return TOCSIN_OK;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

/* The fields both forms share, in Alerta's order, from "priority" to "duration". */
static int put_common(json_t *o, const struct blackout *b)
{
    int rc = 0;

    rc |= ajson_put(o, "priority", json_integer(b->priority));
    rc |= ajson_put(o, "environment", json_string(b->environment));
    rc |= ajson_put(o, "service", ajson_str_array((const char *const *)b->service, b->nservice));
    rc |= ajson_put(o, "resource", ajson_nullable(b->resource));
    rc |= ajson_put(o, "event", ajson_nullable(b->event));
    rc |= ajson_put(o, "group", ajson_nullable(b->group));
    rc |= ajson_put(o, "tags", ajson_str_array((const char *const *)b->tags, b->ntags));
    rc |= ajson_put(o, "origin", ajson_nullable(b->origin));
    rc |= ajson_put(o, "customer", ajson_nullable(b->customer));
    rc |= ajson_put(o, "startTime", ajson_time(b->start_ms));
    rc |= ajson_put(o, "endTime", ajson_time(b->end_ms));
    rc |= ajson_put(o, "duration", json_integer(blackout_duration_s(b)));
    return rc;
}

json_t *blackout_to_json(const struct blackout *b, int64_t now_ms, const char *href_base)
{
    const char *id = b->id ? b->id : "";
    json_t *o = json_object();
    int rc = 0;

    if (!o)
        return NULL;
    rc |= ajson_put(o, "id", json_string(id));
    if (href_base)
        rc |= ajson_put_href(o, href_base, "/blackout/", id);
    rc |= put_common(o, b);
    rc |= ajson_put(o, "status", json_string(blackout_status_name(blackout_status(b, now_ms))));
    rc |= ajson_put(o, "remaining", json_integer(blackout_remaining_s(b, now_ms)));
    rc |= ajson_put(o, "user", ajson_nullable(b->user));
    rc |= ajson_put(o, "createTime", ajson_time(b->create_ms));
    rc |= ajson_put(o, "text", ajson_nullable(b->text));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *blackout_to_store(const struct blackout *b)
{
    json_t *o = json_object();
    char *out = NULL;
    int rc = 0;

    if (!o)
        return NULL;
    rc |= ajson_put(o, "id", json_string(b->id ? b->id : ""));
    rc |= put_common(o, b);
    rc |= ajson_put(o, "user", ajson_nullable(b->user));
    rc |= ajson_put(o, "createTime", ajson_time(b->create_ms));
    rc |= ajson_put(o, "text", ajson_nullable(b->text));
    if (!rc)
        out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}
