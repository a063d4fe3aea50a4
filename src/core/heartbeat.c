#include "core/heartbeat.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ajson.h"
#include "util/err.h"
#include "util/smap.h"

#define container_of(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

/* The key is origin NUL customer: both are at most ALERT_MAX_NAME bytes without a NUL inside
 * (jansson refuses "\u0000" when decoding), so the pair is unambiguous. */
#define KEY_MAX (2 * ALERT_MAX_NAME + 2)

static const char *const status_names[HEARTBEAT_STATUS_COUNT] = {"ok", "slow", "expired"};

/* The python-alerta-client convention for heartbeat alerts. */
static const char *const hb_correlate[] = {"HeartbeatFail", "HeartbeatSlow", "HeartbeatOK"};

struct heartbeat_table {
    struct heartbeat_config cfg;
    struct timer_wheel *wheel;
    heartbeat_expired_fn fn;
    void *ud;
    struct smap by_key; /* origin NUL customer -> heartbeat */
    struct smap by_id;
    struct heartbeat *head, *tail;
};

const char *heartbeat_status_name(int s)
{
    return s >= 0 && s < HEARTBEAT_STATUS_COUNT ? status_names[s] : "unknown";
}

int heartbeat_status_parse(const char *s)
{
    for (int i = 0; s && i < HEARTBEAT_STATUS_COUNT; i++)
        if (!strcmp(status_names[i], s))
            return i;
    return -1;
}

void heartbeat_config_default(struct heartbeat_config *c)
{
    memset(c, 0, sizeof(*c));
    c->timeout_s = HEARTBEAT_TIMEOUT_S;
    c->max_latency_ms = HEARTBEAT_MAX_LATENCY_MS;
    c->max_count = HEARTBEAT_MAX_COUNT;
    c->alert_timeout_s = 86400; /* Alerta's ALERT_TIMEOUT */
    snprintf(c->default_origin, sizeof(c->default_origin), "tocsin");
    c->nevents = 1;
    snprintf(c->events[0], sizeof(c->events[0]), "Heartbeat");
    snprintf(c->fail_origin, sizeof(c->fail_origin), "tocsin");
    snprintf(c->fail_severity, sizeof(c->fail_severity), "major");
    c->fail_timeout_s = -1;
}

/* ---- the record ---------------------------------------------------------------------------- */

void heartbeat_free(struct heartbeat *hb)
{
    if (!hb)
        return;
    free(hb->id);
    free(hb->origin);
    free(hb->customer);
    ajson_free_strs(hb->tags, hb->ntags);
    json_decref(hb->attributes);
    free(hb);
}

int64_t heartbeat_latency_ms(const struct heartbeat *hb)
{
    return hb->receive_ms - hb->create_ms;
}

int64_t heartbeat_since_s(const struct heartbeat *hb, int64_t now_ms)
{
    /* Alerta drops the microseconds of the timedelta and serialises int(total_seconds()):
     * truncation towards zero. */
    return (now_ms - hb->receive_ms) / 1000;
}

int heartbeat_status(const struct heartbeat *hb, int64_t max_latency_ms, int64_t now_ms)
{
    if (now_ms - hb->receive_ms > hb->timeout_s * 1000)
        return HEARTBEAT_EXPIRED;
    if (heartbeat_latency_ms(hb) > max_latency_ms)
        return HEARTBEAT_SLOW;
    return HEARTBEAT_OK;
}

int64_t heartbeat_deadline_ms(const struct heartbeat *hb)
{
    return hb->receive_ms + hb->timeout_s * 1000 + 1;
}

/* ---- parsing ------------------------------------------------------------------------------- */

static int check_attributes(const json_t *v, struct verr *err)
{
    const char *k;
    const json_t *val;

    if (json_object_size(v) > ALERT_MAX_ITEMS)
        return verr_set(err, "attributes", "attributes must have at most %d keys", ALERT_MAX_ITEMS);
    json_object_foreach((json_t *)v, k, val) {
        if (strchr(k, '.') || strchr(k, '$')) {
            verr_set(err, "", "Attribute keys must not contain \".\" or \"$\"");
            verr_prefix(err, "attributes");
            return TOCSIN_EINVAL;
        }
        if (strlen(k) > ALERT_MAX_NAME)
            return verr_set(err, "attributes", "attribute keys must be at most %d bytes",
                            ALERT_MAX_NAME);
        /* Sized without building the text (a NULL buffer only counts). */
        if (json_dumpb(val, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY) > ALERT_MAX_ATTR_VALUE) {
            verr_set(err, k, "attribute values must be at most %d bytes of JSON",
                     ALERT_MAX_ATTR_VALUE);
            verr_prefix(err, "attributes");
            return TOCSIN_EINVAL;
        }
    }
    return TOCSIN_OK;
}

static int opt_timeout(const json_t *o, int64_t dflt, int64_t *out, struct verr *err)
{
    const json_t *v = json_object_get(o, "timeout");

    *out = dflt;
    if (!v || json_is_null(v))
        return TOCSIN_OK;
    if (!json_is_integer(v))
        return verr_set(err, "timeout", "timeout must be an integer");
    if (json_integer_value(v) < 0)
        return verr_set(err, "timeout", "Invalid negative 'timeout' value (%" PRId64 ")",
                        (int64_t)json_integer_value(v));
    if (json_integer_value(v) > ALERT_MAX_TIMEOUT)
        return verr_set(err, "timeout", "timeout must be at most %lld seconds",
                        (long long)ALERT_MAX_TIMEOUT);
    *out = (int64_t)json_integer_value(v);
    return TOCSIN_OK;
}

/* A body (stored == false) or a stored form (stored == true: id and receiveTime required, the
 * raised flag read). */
static int parse(const json_t *body, const struct heartbeat_config *cfg, int64_t now_ms,
                 bool stored, struct heartbeat **out, struct verr *err)
{
    struct heartbeat *hb = NULL;
    const char *origin, *customer, *id;
    const json_t *attrs, *raised;
    int rc;

    *out = NULL;
    if (!json_is_object(body))
        return verr_set(err, "body", "must be a JSON object");
    if ((rc = ajson_opt_str(body, "origin", ALERT_MAX_NAME, &origin, err)) ||
        (rc = ajson_opt_str(body, "customer", ALERT_MAX_NAME, &customer, err)) ||
        (rc = ajson_opt_str(body, "id", HEARTBEAT_MAX_ID, &id, err)))
        return rc;
    if (customer && !*customer)
        return verr_set(err, "customer", "customer must not be an empty string");
    if (id && !*id)
        return verr_set(err, "id", "id must not be an empty string");
    if (stored && !id)
        return verr_set(err, "id", "missing in the stored form");
    attrs = json_object_get(body, "attributes");
    if (attrs && !json_is_object(attrs))
        return verr_set(err, "attributes", "attributes must be a JSON object");
    if (attrs && (rc = check_attributes(attrs, err)))
        return rc;
    hb = calloc(1, sizeof(*hb));
    if (!hb)
        return TOCSIN_ENOMEM;
    hb->create_ms = hb->receive_ms = now_ms;
    /* Alerta checks isinstance(json.get('tags', []), list): absent is empty, null an error. */
    if ((rc = ajson_str_list(json_object_get(body, "tags"), "tags", false, &hb->tags, &hb->ntags,
                             err)) ||
        (rc = opt_timeout(body, cfg->timeout_s, &hb->timeout_s, err)) ||
        (rc = ajson_opt_time(body, "createTime", &hb->create_ms, NULL, err)))
        goto out;
    if (stored) {
        if (!json_object_get(body, "receiveTime")) {
            rc = verr_set(err, "receiveTime", "missing in the stored form");
            goto out;
        }
        if ((rc = ajson_opt_time(body, "receiveTime", &hb->receive_ms, NULL, err)))
            goto out;
        raised = json_object_get(body, "raised");
        hb->raised = json_is_true(raised);
    }
    rc = TOCSIN_ENOMEM;
    hb->origin = strdup(origin && *origin ? origin : cfg->default_origin);
    hb->attributes = attrs ? json_deep_copy(attrs) : json_object();
    if (!hb->origin || !hb->attributes || (id && !(hb->id = strdup(id))) ||
        (customer && !(hb->customer = strdup(customer))))
        goto out;
    *out = hb;
    hb = NULL;
    rc = TOCSIN_OK;
out:
    heartbeat_free(hb);
    return rc;
}

int heartbeat_parse(const json_t *body, const struct heartbeat_config *cfg, int64_t now_ms,
                    struct heartbeat **out, struct verr *err)
{
    return parse(body, cfg, now_ms, false, out, err);
}

bool heartbeat_is_event(const struct heartbeat_config *cfg, const char *event)
{
    for (size_t i = 0; event && i < cfg->nevents && i < HEARTBEAT_MAX_EVENTS; i++)
        if (!strcmp(cfg->events[i], event))
            return true;
    return false;
}

int heartbeat_from_alert(const struct alert_in *in, const struct sevmap *m,
                         const struct heartbeat_config *cfg, const char *default_origin,
                         const char *customer, int64_t now_ms, struct heartbeat **out,
                         struct verr *err)
{
    struct heartbeat *hb;
    const char *origin = in->origin ? in->origin : default_origin;
    const char *cust = customer ? customer : in->customer;
    int sev = in->severity >= 0 && (size_t)in->severity < m->n ? in->severity : m->normal_name;
    int rc = TOCSIN_ENOMEM;

    *out = NULL;
    if (in->tags.n > ALERT_MAX_ITEMS)
        return verr_set(err, "tags", "tags must have at most %d items", ALERT_MAX_ITEMS);
    hb = calloc(1, sizeof(*hb));
    if (!hb)
        return TOCSIN_ENOMEM;
    hb->create_ms = hb->receive_ms = now_ms;
    hb->timeout_s = in->timeout_s >= 0 ? in->timeout_s : cfg->alert_timeout_s;
    hb->origin = strdup(origin && *origin ? origin : cfg->default_origin);
    if (!hb->origin || (cust && !(hb->customer = strdup(cust))))
        goto out;
    if (in->tags.n) {
        hb->tags = calloc(in->tags.n, sizeof(char *));
        if (!hb->tags)
            goto out;
        for (uint32_t i = 0; i < in->tags.n; i++, hb->ntags++)
            if (!(hb->tags[i] = strdup(in->tags.v[i])))
                goto out;
    }
    hb->attributes = json_pack("{s:s, s:s, s:o, s:s}", "environment",
                               in->environment ? in->environment : "", "severity", m->name[sev],
                               "service", ajson_str_array(in->service.v, in->service.n), "group",
                               in->group ? in->group : "Misc");
    if (!hb->attributes)
        goto out;
    *out = hb;
    hb = NULL;
    rc = TOCSIN_OK;
out:
    heartbeat_free(hb);
    return rc;
}

/* ---- the table ----------------------------------------------------------------------------- */

static size_t make_key(char *key, const char *origin, const char *customer)
{
    size_t o = strlen(origin), c = customer ? strlen(customer) : 0;

    if (o > ALERT_MAX_NAME || c > ALERT_MAX_NAME)
        return 0;
    memcpy(key, origin, o);
    key[o] = '\0';
    if (c)
        memcpy(key + o + 1, customer, c);
    return o + 1 + c;
}

static void expired(struct timer *tm, void *unused)
{
    struct heartbeat *hb = container_of(tm, struct heartbeat, tm);
    struct heartbeat_table *t = hb->table;

    (void)unused;
    hb->raised = true;
    /* Last use of hb here: the callback may delete it. */
    if (t->fn)
        t->fn(t->ud, hb, tm->deadline);
}

struct heartbeat_table *heartbeat_table_new(const struct heartbeat_config *cfg,
                                            struct timer_wheel *wheel, heartbeat_expired_fn fn,
                                            void *ud)
{
    struct heartbeat_table *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;
    t->cfg = *cfg;
    if (t->cfg.nevents > HEARTBEAT_MAX_EVENTS)
        t->cfg.nevents = HEARTBEAT_MAX_EVENTS;
    t->wheel = wheel;
    t->fn = fn;
    t->ud = ud;
    smap_init(&t->by_key);
    smap_init(&t->by_id);
    return t;
}

void heartbeat_table_free(struct heartbeat_table *t)
{
    struct heartbeat *hb, *next;

    if (!t)
        return;
    for (hb = t->head; hb; hb = next) {
        next = hb->next;
        timer_cancel(t->wheel, &hb->tm);
        heartbeat_free(hb);
    }
    smap_free(&t->by_key);
    smap_free(&t->by_id);
    free(t);
}

const struct heartbeat_config *heartbeat_table_config(const struct heartbeat_table *t)
{
    return &t->cfg;
}

size_t heartbeat_table_count(const struct heartbeat_table *t)
{
    return t->by_key.count;
}

struct heartbeat *heartbeat_table_first(const struct heartbeat_table *t)
{
    return t->head;
}

struct heartbeat *heartbeat_table_find(const struct heartbeat_table *t, const char *origin,
                                       const char *customer)
{
    char key[KEY_MAX];
    size_t klen = origin ? make_key(key, origin, customer) : 0;

    return klen ? smap_get(&t->by_key, key, klen) : NULL;
}

struct heartbeat *heartbeat_table_get(const struct heartbeat_table *t, const char *id)
{
    struct heartbeat *hb;
    size_t n = id ? strlen(id) : 0;

    if (!n)
        return NULL;
    if ((hb = smap_get(&t->by_id, id, n)))
        return hb;
    for (hb = t->head; hb; hb = hb->next)
        if (!strncmp(hb->id, id, n))
            return hb;
    return NULL;
}

static void arm(struct heartbeat_table *t, struct heartbeat *hb)
{
    if (hb->raised)
        timer_cancel(t->wheel, &hb->tm);
    else
        timer_arm(t->wheel, &hb->tm, heartbeat_deadline_ms(hb));
}

/* Moves what an upsert changes (Alerta's ON CONFLICT ... SET tags, attributes, create_time,
 * timeout, receive_time) from `from` into `to`. */
static void take_update(struct heartbeat *to, struct heartbeat *from)
{
    ajson_free_strs(to->tags, to->ntags);
    json_decref(to->attributes);
    to->tags = from->tags;
    to->ntags = from->ntags;
    to->attributes = from->attributes;
    to->create_ms = from->create_ms;
    to->receive_ms = from->receive_ms;
    to->timeout_s = from->timeout_s;
    from->tags = NULL;
    from->ntags = 0;
    from->attributes = NULL;
}

static int insert(struct heartbeat_table *t, struct heartbeat *hb, const char *key, size_t klen,
                  struct verr *err)
{
    int rc;

    if (smap_get(&t->by_id, hb->id, strlen(hb->id))) {
        verr_set(err, "id", "id '%.64s' is used by another heartbeat", hb->id);
        if (err)
            err->status = 409;
        return TOCSIN_EEXIST;
    }
    if ((rc = smap_put(&t->by_key, key, klen, hb, NULL)))
        return rc;
    if ((rc = smap_put(&t->by_id, hb->id, strlen(hb->id), hb, NULL))) {
        smap_del(&t->by_key, key, klen);
        return rc;
    }
    hb->table = t;
    hb->prev = t->tail;
    hb->next = NULL;
    if (t->tail)
        t->tail->next = hb;
    else
        t->head = hb;
    t->tail = hb;
    timer_init(&hb->tm, expired);
    arm(t, hb);
    return TOCSIN_OK;
}

/* loading: the stored raised flag is kept; an upsert clears it (the heartbeat came back). */
static int upsert(struct heartbeat_table *t, struct heartbeat *hb, const char *fresh_id,
                  bool loading, struct heartbeat_upsert *res, struct verr *err)
{
    char key[KEY_MAX];
    size_t klen = make_key(key, hb->origin, hb->customer);
    struct heartbeat *old;
    int rc = TOCSIN_EINVAL;

    memset(res, 0, sizeof(*res));
    if (!klen) {
        verr_set(err, "origin", "origin and customer must be at most %d bytes", ALERT_MAX_NAME);
        goto out;
    }
    if ((old = smap_get(&t->by_key, key, klen))) {
        take_update(old, hb);
        if (loading) {
            old->raised = hb->raised;
        } else {
            res->resolved = old->raised;
            old->raised = false;
        }
        arm(t, old);
        res->hb = old;
        rc = TOCSIN_OK;
        goto out;
    }
    if (t->by_key.count >= t->cfg.max_count) {
        verr_set(err, "", "too many heartbeats (at most %zu)", t->cfg.max_count);
        if (err)
            err->status = 413;
        rc = TOCSIN_ETOOBIG;
        goto out;
    }
    if (!hb->id) {
        if (!fresh_id || !*fresh_id) {
            verr_set(err, "id", "no id for a new heartbeat");
            goto out;
        }
        rc = TOCSIN_ENOMEM;
        if (!(hb->id = strdup(fresh_id)))
            goto out;
    }
    if (!loading)
        hb->raised = false;
    if ((rc = insert(t, hb, key, klen, err)))
        goto out;
    res->hb = hb;
    res->created = true;
    return TOCSIN_OK;
out:
    heartbeat_free(hb);
    return rc;
}

int heartbeat_table_upsert(struct heartbeat_table *t, struct heartbeat *hb, const char *fresh_id,
                           struct heartbeat_upsert *res, struct verr *err)
{
    return upsert(t, hb, fresh_id, false, res, err);
}

int heartbeat_table_load(struct heartbeat_table *t, const char *stored, size_t len,
                         struct verr *err)
{
    json_error_t je;
    json_t *j = json_loadb(stored, len, 0, &je);
    struct heartbeat *hb;
    struct heartbeat_upsert res;
    int rc;

    if (!j)
        return verr_set(err, "body", "invalid JSON: %s", je.text);
    rc = parse(j, &t->cfg, 0, true, &hb, err);
    json_decref(j);
    if (rc)
        return rc;
    return upsert(t, hb, NULL, true, &res, err);
}

int heartbeat_table_delete(struct heartbeat_table *t, const char *id, bool *was_raised)
{
    struct heartbeat *hb = heartbeat_table_get(t, id);
    char key[KEY_MAX];

    if (!hb)
        return TOCSIN_ENOTFOUND;
    if (was_raised)
        *was_raised = hb->raised;
    timer_cancel(t->wheel, &hb->tm);
    smap_del(&t->by_key, key, make_key(key, hb->origin, hb->customer));
    smap_del(&t->by_id, hb->id, strlen(hb->id));
    if (hb->prev)
        hb->prev->next = hb->next;
    else
        t->head = hb->next;
    if (hb->next)
        hb->next->prev = hb->prev;
    else
        t->tail = hb->prev;
    heartbeat_free(hb);
    return TOCSIN_OK;
}

/* ---- lists --------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    enum heartbeat_sort_field field;
    bool desc; /* Alerta's default direction -1 */
} sort_fields[] = {
    {"origin", HBS_ORIGIN, false},           {"tags", HBS_TAGS, false},
    {"attributes", HBS_ATTRIBUTES, false},   {"type", HBS_TYPE, false},
    {"createTime", HBS_CREATE_TIME, true},   {"timeout", HBS_TIMEOUT, false},
    {"receiveTime", HBS_RECEIVE_TIME, true}, {"customer", HBS_CUSTOMER, false},
    {"latency", HBS_LATENCY, false},         {"since", HBS_SINCE, true},
};

int heartbeat_sort_parse(const char *const *values, size_t n, struct heartbeat_sort *out,
                         size_t *nout, struct verr *err)
{
    *nout = 0;
    if (n > HEARTBEAT_SORT_MAX)
        return verr_set(err, "sort-by", "at most %d sort-by keys", HEARTBEAT_SORT_MAX);
    for (size_t i = 0; i < n; i++) {
        const char *s = values[i], *dot;
        bool reverse = *s == '-';
        size_t len, k;
        struct heartbeat_sort *o = &out[*nout];

        s += reverse;
        memset(o, 0, sizeof(*o));
        len = strlen(s);
        if (!strncmp(s, "attributes.", 11)) {
            /* Alerta takes sort_by.split('.')[1]: the segment after "attributes." */
            const char *a = s + 11;
            dot = strchr(a, '.');
            snprintf(o->attr, sizeof(o->attr), "%.*s", (int)(dot ? (size_t)(dot - a) : strlen(a)),
                     a);
            len = 10;
        }
        for (k = 0; k < sizeof(sort_fields) / sizeof(sort_fields[0]); k++)
            if (strlen(sort_fields[k].name) == len && !strncmp(sort_fields[k].name, s, len))
                break;
        if (k == sizeof(sort_fields) / sizeof(sort_fields[0]))
            return verr_set(err, "sort-by", "Sorting by '%.64s' field not supported.", s);
        o->field = sort_fields[k].field;
        o->desc = sort_fields[k].desc != reverse;
        (*nout)++;
    }
    return TOCSIN_OK;
}

struct item {
    struct heartbeat *hb;
    size_t pos; /* table order, the last tie-break */
    const struct heartbeat_query *q;
    int64_t now;
};

/* jsonb ordering is approximated by the compact JSON text (keys sorted). */
static int cmp_json(const json_t *a, const json_t *b)
{
    char *sa = a ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    char *sb = b ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    int c = ajson_cmp_str(sa, sb);

    free(sa);
    free(sb);
    return c;
}

static int cmp_key(const struct heartbeat *a, const struct heartbeat *b,
                   const struct heartbeat_sort *s, int64_t now)
{
    switch (s->field) {
    case HBS_ORIGIN:
        return strcmp(a->origin, b->origin);
    case HBS_TAGS:
        return ajson_cmp_strs(a->tags, a->ntags, b->tags, b->ntags);
    case HBS_ATTRIBUTES:
        if (s->attr[0])
            return cmp_json(json_object_get(a->attributes, s->attr),
                            json_object_get(b->attributes, s->attr));
        return cmp_json(a->attributes, b->attributes);
    case HBS_TYPE:
        return 0;
    case HBS_CREATE_TIME:
        return ajson_cmp_i64(a->create_ms, b->create_ms);
    case HBS_TIMEOUT:
        return ajson_cmp_i64(a->timeout_s, b->timeout_s);
    case HBS_RECEIVE_TIME:
        return ajson_cmp_i64(a->receive_ms, b->receive_ms);
    case HBS_CUSTOMER:
        return ajson_cmp_str(a->customer, b->customer);
    case HBS_LATENCY:
        return ajson_cmp_i64(heartbeat_latency_ms(a), heartbeat_latency_ms(b));
    case HBS_SINCE:
        return ajson_cmp_i64(heartbeat_since_s(a, now), heartbeat_since_s(b, now));
    }
    return 0;
}

static int cmp_items(const void *pa, const void *pb)
{
    const struct item *a = pa, *b = pb;

    for (size_t i = 0; i < a->q->nsort; i++) {
        int c = cmp_key(a->hb, b->hb, &a->q->sort[i], a->now);
        if (c)
            return a->q->sort[i].desc ? -c : c;
    }
    return ajson_cmp_i64((int64_t)a->pos, (int64_t)b->pos);
}

int heartbeat_list(const struct heartbeat_table *t, const struct heartbeat_query *q, int64_t now_ms,
                   struct heartbeat ***out, size_t *n)
{
    struct item *items;
    struct heartbeat *hb;
    size_t k = 0, pos = 0;

    *out = NULL;
    *n = 0;
    if (!t->by_key.count)
        return TOCSIN_OK;
    items = calloc(t->by_key.count, sizeof(*items));
    if (!items)
        return TOCSIN_ENOMEM;
    for (hb = t->head; hb; hb = hb->next, pos++) {
        int st = heartbeat_status(hb, t->cfg.max_latency_ms, now_ms);
        if (q->status_mask && !(q->status_mask & (1u << st)))
            continue;
        if (!ajson_customer_in(q->customers, q->ncustomers, hb->customer))
            continue;
        items[k++] = (struct item){hb, pos, q, now_ms};
    }
    if (k && q->nsort)
        qsort(items, k, sizeof(*items), cmp_items);
    if (k) {
        *out = calloc(k, sizeof(**out));
        if (!*out) {
            free(items);
            return TOCSIN_ENOMEM;
        }
        for (size_t i = 0; i < k; i++)
            (*out)[i] = items[i].hb;
    }
    *n = k;
    free(items);
    return TOCSIN_OK;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

json_t *heartbeat_to_json(const struct heartbeat_table *t, const struct heartbeat *hb,
                          int64_t now_ms, const char *href_base)
{
    json_t *o = json_object();
    int rc = 0;

    if (!o)
        return NULL;
    rc |= ajson_put(o, "id", json_string(hb->id ? hb->id : ""));
    if (href_base)
        rc |= ajson_put_href(o, href_base, "/heartbeat/", hb->id ? hb->id : "");
    rc |= ajson_put(o, "origin", json_string(hb->origin));
    rc |= ajson_put(o, "tags", ajson_str_array((const char *const *)hb->tags, hb->ntags));
    rc |= ajson_put(o, "attributes", json_deep_copy(hb->attributes));
    rc |= ajson_put(o, "type", json_string("Heartbeat"));
    rc |= ajson_put(o, "createTime", ajson_time(hb->create_ms));
    rc |= ajson_put(o, "timeout", json_integer(hb->timeout_s));
    rc |= ajson_put(o, "maxLatency", json_integer(t->cfg.max_latency_ms));
    rc |= ajson_put(o, "receiveTime", ajson_time(hb->receive_ms));
    rc |= ajson_put(o, "customer", ajson_nullable(hb->customer));
    rc |= ajson_put(o, "latency", json_integer(heartbeat_latency_ms(hb)));
    rc |= ajson_put(o, "since", json_integer(heartbeat_since_s(hb, now_ms)));
    rc |= ajson_put(
        o, "status",
        json_string(heartbeat_status_name(heartbeat_status(hb, t->cfg.max_latency_ms, now_ms))));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *heartbeat_to_store(const struct heartbeat *hb)
{
    json_t *o = json_object();
    char *s = NULL;
    int rc = 0;

    if (!o)
        return NULL;
    rc |= ajson_put(o, "id", json_string(hb->id ? hb->id : ""));
    rc |= ajson_put(o, "origin", json_string(hb->origin));
    rc |= ajson_put(o, "tags", ajson_str_array((const char *const *)hb->tags, hb->ntags));
    rc |= ajson_put(o, "attributes", json_deep_copy(hb->attributes));
    rc |= ajson_put(o, "type", json_string("Heartbeat"));
    rc |= ajson_put(o, "createTime", ajson_time(hb->create_ms));
    rc |= ajson_put(o, "timeout", json_integer(hb->timeout_s));
    rc |= ajson_put(o, "receiveTime", ajson_time(hb->receive_ms));
    rc |= ajson_put(o, "customer", ajson_nullable(hb->customer));
    rc |= ajson_put(o, "raised", json_boolean(hb->raised));
    if (!rc)
        s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* ---- alerts -------------------------------------------------------------------------------- */

static const char *astr(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

static int set_list(struct arena *a, struct strlist *l, const char *const *v, uint32_t n)
{
    l->n = 0;
    l->v = NULL;
    if (!n)
        return TOCSIN_OK;
    l->v = arena_alloc(a, n * sizeof(char *));
    if (!l->v)
        return TOCSIN_ENOMEM;
    for (uint32_t i = 0; i < n; i++, l->n++)
        if (!(l->v[i] = astr(a, v[i])))
            return TOCSIN_ENOMEM;
    return TOCSIN_OK;
}

/* attributes.service as the client reads it: a list of strings, else ["Alerta"]. An empty list
 * also gives ["Alerta"] (the client would send []): Alerta's reject plugin refuses an alert
 * without a service, and tocsin must not raise an alert that its own policy drops. */
static int set_service(struct arena *a, struct strlist *l, const json_t *v)
{
    static const char *const dflt[] = {"Alerta"};
    const json_t *item;
    size_t i;

    if (!json_is_array(v) || !json_array_size(v) || json_array_size(v) > ALERT_MAX_ITEMS)
        return set_list(a, l, dflt, 1);
    json_array_foreach(v, i, item)
        if (!json_is_string(item))
            return set_list(a, l, dflt, 1);
    l->n = 0;
    l->v = arena_alloc(a, json_array_size(v) * sizeof(char *));
    if (!l->v)
        return TOCSIN_ENOMEM;
    json_array_foreach(v, i, item) {
        if (!(l->v[i] = astr(a, json_string_value(item))))
            return TOCSIN_ENOMEM;
        l->n++;
    }
    return TOCSIN_OK;
}

/* The attributes the client does not pop (environment, severity, service, group), as compact
 * JSON values. */
static int set_attributes(struct arena *a, struct kvlist *l, const json_t *attrs)
{
    static const char *const popped[] = {"environment", "severity", "service", "group"};
    const char *k;
    json_t *v;

    l->n = 0;
    l->v = arena_alloc(a, (json_object_size(attrs) + 1) * sizeof(struct kv));
    if (!l->v)
        return TOCSIN_ENOMEM;
    json_object_foreach((json_t *)attrs, k, v) {
        bool skip = false;
        char *dump;
        for (size_t i = 0; i < sizeof(popped) / sizeof(popped[0]); i++)
            skip |= !strcmp(k, popped[i]);
        if (skip)
            continue;
        if (!(dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)))
            return TOCSIN_ENOMEM;
        l->v[l->n].k = astr(a, k);
        l->v[l->n].v = astr(a, dump);
        free(dump);
        if (!l->v[l->n].k || !l->v[l->n].v)
            return TOCSIN_ENOMEM;
        l->n++;
    }
    return TOCSIN_OK;
}

static const char *nonempty_attr(const json_t *attrs, const char *k, const char *dflt)
{
    const json_t *v = json_object_get(attrs, k);

    return json_is_string(v) && json_string_length(v) ? json_string_value(v) : dflt;
}

/* What the HeartbeatFail and HeartbeatOK alerts share. */
static int common_alert(const struct heartbeat_table *t, const struct heartbeat *hb, int64_t now_ms,
                        struct arena *a, struct alert_in *out)
{
    int rc;

    alert_in_init(out);
    out->resource = astr(a, hb->origin);
    out->environment = astr(a, nonempty_attr(hb->attributes, "environment", "Production"));
    out->group = astr(a, nonempty_attr(hb->attributes, "group", "System"));
    out->origin = astr(a, t->cfg.fail_origin);
    out->type = "heartbeatAlert";
    out->customer = hb->customer ? astr(a, hb->customer) : NULL;
    if (!out->resource || !out->environment || !out->group || !out->origin ||
        (hb->customer && !out->customer))
        return TOCSIN_ENOMEM;
    if ((rc = set_list(a, &out->correlate, hb_correlate, 3)) ||
        (rc = set_list(a, &out->tags, (const char *const *)hb->tags, hb->ntags)) ||
        (rc = set_service(a, &out->service, json_object_get(hb->attributes, "service"))) ||
        (rc = set_attributes(a, &out->attributes, hb->attributes)))
        return rc;
    out->timeout_s = t->cfg.fail_timeout_s;
    out->create_ms = now_ms;
    out->flags = AIN_SERVICE | AIN_TAGS | AIN_CORRELATE | AIN_ATTRIBUTES | AIN_VALUE;
    return TOCSIN_OK;
}

static int usable_severity(const struct sevmap *m, const char *name)
{
    int i = name ? sevmap_find(m, name, strlen(name)) : -1;

    return i >= 0 && m->code[i] != m->normal ? i : -1;
}

int heartbeat_fail_alert(const struct heartbeat_table *t, const struct heartbeat *hb,
                         const struct sevmap *m, int64_t now_ms, struct arena *a,
                         struct alert_in *out)
{
    char text[96], value[32];
    int sev, rc;

    if ((rc = common_alert(t, hb, now_ms, a, out)))
        return rc;
    sev = usable_severity(m, json_string_value(json_object_get(hb->attributes, "severity")));
    if (sev < 0)
        sev = usable_severity(m, t->cfg.fail_severity);
    if (sev < 0)
        return TOCSIN_EINVAL;
    out->severity = sev;
    out->event = "HeartbeatFail";
    snprintf(value, sizeof(value), "%" PRId64, heartbeat_since_s(hb, now_ms));
    snprintf(text, sizeof(text), "Heartbeat not received in %" PRId64 " seconds", hb->timeout_s);
    out->value = astr(a, value);
    out->text = astr(a, text);
    return out->value && out->text ? TOCSIN_OK : TOCSIN_ENOMEM;
}

int heartbeat_ok_alert(const struct heartbeat_table *t, const struct heartbeat *hb,
                       const struct sevmap *m, int64_t now_ms, struct arena *a,
                       struct alert_in *out)
{
    int rc;

    if ((rc = common_alert(t, hb, now_ms, a, out)))
        return rc;
    out->severity = m->normal_name;
    out->event = "HeartbeatOK";
    out->value = "";
    out->text = "Heartbeat OK";
    return TOCSIN_OK;
}

/* ---- health -------------------------------------------------------------------------------- */

int heartbeat_healthcheck(const struct heartbeat_table *t, int64_t now_ms, char *out, size_t outlen)
{
    for (const struct heartbeat *hb = t->head; hb; hb = hb->next) {
        int64_t age = now_ms - hb->receive_ms;
        /* whole seconds, floored, as Python's timedelta.seconds for ages under a day */
        int64_t secs = age >= 0 ? age / 1000 : -((-age + 999) / 1000);
        if (secs > hb->timeout_s * HEARTBEAT_STALE_FACTOR) {
            snprintf(out, outlen, "HEARTBEAT_STALE: %s", hb->origin);
            return 503;
        }
    }
    snprintf(out, outlen, "OK");
    return 200;
}
