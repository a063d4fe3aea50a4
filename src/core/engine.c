#include "core/engine.h"

#include <math.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "core/timer.h"
#include "core/window.h"
#include "template/tmpl.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/smap.h"

#define KEY_SEP '\x1f'
#define KEY_MAX 1024
#define KEY_IDLE_MS (3600 * 1000LL) /* silence after which a key forgets a dampening run */
#define container_of(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

struct rt;

/* The outcome of evaluating a trigger once. */
struct eval {
    bool ok;
    struct cond_result res;   /* the first condition's result, for notification.result */
    const struct condition *cond;
    const struct event *ev;   /* NULL for timer evaluations */
};

/* State per (trigger, projection key). */
struct group {
    struct rt *rt;
    char *key;                /* projection values joined by KEY_SEP; "" without projections */
    struct damp_state damp;
    struct window **wins;     /* windowed triggers: one per condition */
    struct timer tick;        /* windowed: next evaluation */
    struct timer resolve;     /* open alert: auto-resolve deadline */
    struct alert_rec *alert;  /* the open alert, or NULL */
    int64_t last_event_ms;
    /* An alert fired several times in one engine call is written once, at the end of the call:
     * `last` is the latest firing (its event lives until then), `dirty` is 1 + its place in
     * engine.dirty, 0 when there is nothing to write. */
    struct eval last;
    bool last_pending;
    uint32_t dirty;
};

/* A trigger at run time. */
struct rt {
    struct trigger *t;
    struct rt *next_src;      /* next trigger on the same list of by_source */
    char *lkey;               /* that list's key: the source, or source\0property\0value */
    size_t lklen;
    const char *iprop;        /* the indexed filter's property, NULL if on the plain list */
    struct smap groups;       /* key -> struct group* */
    struct group *single;     /* the group of a trigger without projections, once created */
    uint32_t proj_syms[TRIGGER_MAX_PROJECTIONS];
};

/* The properties used as index keys by a source's triggers, with reference counts. */
struct propset {
    uint32_t n, cap;
    struct pref {
        char *prop;
        uint32_t sym, refs;
    } *v;
};

struct engine {
    struct engine_cfg cfg;
    struct engine_env env;
    struct smap by_id;        /* trigger id -> struct rt* */
    /* Triggers by source: key = source for the plain list; triggers whose filters include a
     * case-sensitive STRING EQUALS are listed under source\0property\0value instead, so an
     * event meets only those whose value it has (APIM's per-API triggers). */
    struct smap by_source;    /* key -> struct rt* (list head) */
    struct smap src_props;    /* source -> struct propset*: the indexed properties */
    struct timer_wheel *wheel;
    struct engine_stats st;
    struct effects *fx;       /* effects of the call in progress */
    int64_t now;
    /* Property names used by any trigger are interned to small ids; the event being evaluated
     * is indexed by id once, so each condition finds its value in O(1), not by name. */
    struct smap syms;         /* name -> id, stored as the pointer value */
    uint32_t nsyms, slot_cap, gen;
    const struct value **slot; /* slot[id]: the current event's value, valid when ... */
    uint32_t *slot_gen;        /* ... slot_gen[id] == gen */
    struct group **dirty;      /* groups whose alert changed during this call (NULL: gone) */
    uint32_t ndirty, capdirty;
};


static void tick_fired(struct timer *tm, void *ud);
static void idle_fired(struct timer *tm, void *ud);
static void resolve_fired(struct timer *tm, void *ud);

/* ---- groups ---------------------------------------------------------------------------- */

static void group_free(struct engine *e, struct group *g)
{
    if (g->dirty)
        e->dirty[g->dirty - 1] = NULL;
    timer_cancel(e->wheel, &g->tick);
    timer_cancel(e->wheel, &g->resolve);
    damp_state_clear(&g->damp);
    if (g->wins) {
        for (size_t i = 0; i < g->rt->t->nconds; i++)
            window_free(g->wins[i]);
        free(g->wins);
    }
    if (g->alert) {
        alert_rec_free(g->alert);
        e->st.alerts_open--;
    }
    if (g->rt->single == g)
        g->rt->single = NULL;
    free(g->key);
    free(g);
    e->st.groups--;
}

static struct group *group_new(struct engine *e, struct rt *rt, const char *key, size_t klen)
{
    struct group *g;
    const struct trigger *t = rt->t;

    if (rt->groups.count >= e->cfg.max_keys_per_trigger) {
        e->st.keys_dropped++;
        return NULL;
    }
    g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->rt = rt;
    g->key = malloc(klen + 1);
    timer_init(&g->tick, t->windowed ? tick_fired : idle_fired);
    timer_init(&g->resolve, resolve_fired);
    e->st.groups++;
    if (!g->key || damp_state_init(&g->damp, &t->damp))
        goto fail;
    memcpy(g->key, key, klen);
    g->key[klen] = '\0';
    if (t->windowed && !t->missing_only) {
        g->wins = calloc(t->nconds, sizeof(*g->wins));
        if (!g->wins)
            goto fail;
        for (size_t i = 0; i < t->nconds; i++) {
            const struct condition *c = &t->conds[i];
            g->wins[i] = window_new(c->duration_ms, c->type == COND_AGGREGATION &&
                                                        c->fn >= AGG_P50);
            if (!g->wins[i])
                goto fail;
        }
    }
    if (smap_put(&rt->groups, key, klen, g, NULL))
        goto fail;
    return g;
fail:
    group_free(e, g);
    return NULL;
}

/* True when nothing in a dampening state can count towards a future fire, so a fresh state
 * behaves the same: no run under way, no true evaluation in the RELAXED_COUNT ring (false ones
 * only fill it), no RELAXED_TIME true recent enough to be among N within T from now on. */
static bool damp_idle(const struct damp_state *s, const struct dampening *d, int64_t now)
{
    switch (d->mode) {
    case DAMP_STRICT_TIME:
        return s->run_start < 0;
    case DAMP_RELAXED_TIME:
        for (uint32_t i = 0; s->times && i < s->trues && i < d->true_evals; i++)
            if (now - s->times[i] <= d->duration_ms)
                return false;
        return true;
    default:
        return s->trues == 0;
    }
}

/* Drops a group with nothing worth keeping, so keys that come and go do not pile up. Returns
 * true if g was freed. */
static bool group_maybe_evict(struct engine *e, struct group *g)
{
    const struct trigger *t = g->rt->t;

    if (g->alert || timer_armed(&g->resolve) || !damp_idle(&g->damp, &t->damp, e->now))
        return false;
    if (t->windowed) {
        if (t->missing_only || !t->nprojections)
            return false; /* the timer is the point: keep watching */
        for (size_t i = 0; i < t->nconds; i++)
            if (window_count(g->wins[i], e->now))
                return false;
    }
    smap_del(&g->rt->groups, g->key, strlen(g->key));
    group_free(e, g);
    return true;
}

/* A key of a single-event trigger that went silent in the middle of a dampening run: after
 * KEY_IDLE_MS without events it forgets the run and goes. */
static void idle_fired(struct timer *tm, void *ud)
{
    struct engine *e = ud;
    struct group *g = container_of(tm, struct group, tick);

    if (g->alert)
        return;
    damp_state_reset(&g->damp, &g->rt->t->damp);
    group_maybe_evict(e, g);
}

/* After an evaluation of a keyed single-event trigger: evict the key, or watch it for silence. */
static void keep_or_evict(struct engine *e, struct group *g)
{
    const struct dampening *d = &g->rt->t->damp;

    if (group_maybe_evict(e, g) || g->alert)
        return;
    timer_arm(e->wheel, &g->tick, e->now + (d->duration_ms > KEY_IDLE_MS ? d->duration_ms
                                                                          : KEY_IDLE_MS));
}

/* ---- interned property names ----------------------------------------------------------- */

static uint32_t intern(struct engine *e, const char *name)
{
    size_t len = strlen(name);
    void *v = smap_get(&e->syms, name, len);

    if (v)
        return (uint32_t)(uintptr_t)v;
    if (e->nsyms + 1 >= e->slot_cap) {
        uint32_t nc = e->slot_cap ? e->slot_cap * 2 : 64;
        const struct value **ns = realloc(e->slot, nc * sizeof(*ns));
        uint32_t *ng;
        if (!ns)
            return 0;
        e->slot = ns;
        ng = realloc(e->slot_gen, nc * sizeof(*ng));
        if (!ng)
            return 0;
        memset(ng + e->slot_cap, 0, (nc - e->slot_cap) * sizeof(*ng));
        e->slot_gen = ng;
        e->slot_cap = nc;
    }
    if (smap_put(&e->syms, name, len, (void *)(uintptr_t)(e->nsyms + 1), NULL))
        return 0;
    return ++e->nsyms;
}

static void intern_cond(struct engine *e, struct condition *c)
{
    if (c->property)
        c->sym = intern(e, c->property);
    if (c->property2)
        c->sym2 = intern(e, c->property2);
    if (c->comparison)
        intern_cond(e, c->comparison);
}

static void intern_trigger(struct engine *e, struct rt *rt)
{
    struct trigger *t = rt->t;

    for (size_t i = 0; i < t->nconds; i++)
        intern_cond(e, &t->conds[i]);
    for (size_t i = 0; i < t->nfilters; i++)
        intern_cond(e, &t->filters[i]);
    for (unsigned i = 0; i < t->nprojections; i++)
        rt->proj_syms[i] = intern(e, t->projections[i]);
}

/* Points the slots of the names some trigger uses at this event's values (first one wins, as
 * event_get does). */
static void index_event(struct engine *e, const struct event *ev)
{
    if (++e->gen == 0) {
        memset(e->slot_gen, 0, e->slot_cap * sizeof(*e->slot_gen));
        e->gen = 1;
    }
    for (uint32_t i = 0; i < ev->nprops; i++) {
        const char *k = ev->props[i].key;
        uint32_t id = (uint32_t)(uintptr_t)smap_get(&e->syms, k, strlen(k));
        if (id && e->slot_gen[id] != e->gen) {
            e->slot[id] = &ev->props[i].v;
            e->slot_gen[id] = e->gen;
        }
    }
}

static inline const struct value *lookup(const struct engine *e, uint32_t id)
{
    return id && e->slot_gen[id] == e->gen ? e->slot[id] : NULL;
}

static bool eval_cond(const struct engine *e, const struct condition *c, struct cond_result *r)
{
    return cond_eval_values(c, lookup(e, c->sym), c->sym2 ? lookup(e, c->sym2) : NULL, r);
}

/* Builds the projection key of the current event; returns its length or -1 if too long. */
static ssize_t build_key(const struct engine *e, const struct rt *rt, char *key)
{
    const struct trigger *t = rt->t;
    size_t n = 0;

    for (unsigned i = 0; i < t->nprojections; i++) {
        const struct value *v = lookup(e, rt->proj_syms[i]);
        size_t l = v ? v->slen : 0;
        if (n + l + 1 >= KEY_MAX)
            return -1;
        if (i)
            key[n++] = KEY_SEP;
        if (l)
            memcpy(key + n, v->str, l);
        n += l;
    }
    key[n] = '\0';
    return (ssize_t)n;
}

static struct group *group_get(struct engine *e, struct rt *rt, const char *key, size_t klen)
{
    struct group *g = smap_get(&rt->groups, key, klen);

    return g ? g : group_new(e, rt, key, klen);
}

/* ---- alerts and notifications ---------------------------------------------------------- */

static void fingerprint(const struct trigger *t, const char *key, char out[33])
{
    unsigned char h[16];
    crypto_generichash_state st;
    static const char hex[] = "0123456789abcdef";

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const unsigned char *)t->id, strlen(t->id) + 1);
    crypto_generichash_update(&st, (const unsigned char *)key, strlen(key));
    crypto_generichash_final(&st, h, sizeof(h));
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[32] = '\0';
}

static json_t *projection_json(const struct trigger *t, const char *key)
{
    json_t *o = json_object();
    const char *p = key;

    for (unsigned i = 0; o && i < t->nprojections; i++) {
        const char *end = strchr(p, KEY_SEP);
        size_t l = end ? (size_t)(end - p) : strlen(p);
        json_object_set_new(o, t->projections[i], json_stringn(p, l));
        p = end ? end + 1 : p + l;
    }
    return o;
}

/* The trigger's projection property names joined by KEY_SEP, as the key joins their values. */
static char *projection_names(const struct trigger *t)
{
    size_t len = 1;
    char *out, *w;

    for (unsigned i = 0; i < t->nprojections; i++)
        len += strlen(t->projections[i]) + 1;
    out = w = malloc(len);
    if (!out)
        return NULL;
    for (unsigned i = 0; i < t->nprojections; i++) {
        size_t l = strlen(t->projections[i]);
        if (i)
            *w++ = KEY_SEP;
        memcpy(w, t->projections[i], l);
        w += l;
    }
    *w = '\0';
    return out;
}

/* Gives a the projection of group key `key` in both forms it carries. */
static int set_projection(struct alert_rec *a, const struct trigger *t, const char *key)
{
    free(a->projection_names);
    free(a->projection_values);
    a->projection_names = projection_names(t);
    a->projection_values = strdup(key);
    return a->projection_names && a->projection_values ? TOCSIN_OK : TOCSIN_ENOMEM;
}

static char *dump(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    return s ? s : strdup("{}");
}

static void fmt_num(char *dst, size_t n, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(dst, n, "%.0f", v);
    else
        snprintf(dst, n, "%.6g", v);
}

/* notification.message: what held, in words. No double quotes, so it embeds in JSON as is. */
static char *eval_message(const struct trigger *t, const struct eval *ev, bool resolved)
{
    char a[40], b[40], msg[512];
    const struct condition *c = ev->cond;
    const char *prefix = resolved ? "Resolved: " : "";

    if (resolved && !c) {
        snprintf(msg, sizeof(msg), "Resolved: trigger '%s' no longer holds", t->name);
        return strdup(msg);
    }
    fmt_num(a, sizeof(a), ev->res.value);
    fmt_num(b, sizeof(b), ev->res.threshold);
    if (!c)
        snprintf(msg, sizeof(msg), "%sTrigger '%s' fired", prefix, t->name);
    else if (c->type == COND_MISSING_DATA)
        snprintf(msg, sizeof(msg), "%sNo event received for %lld ms", prefix,
                 (long long)c->duration_ms);
    else if (c->type == COND_AGGREGATION)
        snprintf(msg, sizeof(msg), "%s%s(%s) = %s %s %s", prefix, agg_fn_name(c->fn),
                 c->property ? c->property : "events", a, num_op_name(c->op), b);
    else if (c->type == COND_RATE)
        snprintf(msg, sizeof(msg), "%sRate = %s%% %s %s%%", prefix, a, num_op_name(c->op), b);
    else if (ev->res.has_value)
        snprintf(msg, sizeof(msg), "%s%s = %s %s %s", prefix, c->property, a,
                 c->type == COND_THRESHOLD_RANGE ? "in range from" : num_op_name(c->op), b);
    else
        snprintf(msg, sizeof(msg), "%s%s %s '%.200s'", prefix, c->property,
                 str_op_name(c->str_op), ev->res.text ? ev->res.text : "");
    return strdup(msg);
}

static json_t *render_ctx(const struct group *g, const struct eval *ev, const char *message,
                          json_t *props)
{
    const struct trigger *t = g->rt->t;
    const struct alert_rec *a = g->alert;
    json_t *alert, *notif, *result;

    alert = json_pack("{s:s,s:s,s:s,s:s,s:s,s:O,s:s,s:s,s:s,s:I}", "id", t->id, "name",
                      t->name, "source", t->source, "description", t->description, "severity",
                      severity_name(t->severity), "conditions",
                      t->conds_json ? t->conds_json : json_null(), "status",
                      alert_status_name(a->status), "alertId", a->id, "fingerprint",
                      a->fingerprint, "count", (json_int_t)a->count);
    if (alert && json_object_get(t->json, "metadata"))
        json_object_set(alert, "metadata", json_object_get(t->json, "metadata"));
    result = json_object();
    if (result && ev->res.has_value) {
        json_object_set_new(result, "value", json_real(ev->res.value));
        json_object_set_new(result, "threshold", json_real(ev->res.threshold));
    }
    notif = json_pack("{s:I,s:s,s:o,s:O}", "timestamp", (json_int_t)a->updated_ms, "message",
                      message, "result", result, "properties", props);
    return json_pack("{s:o,s:o}", "alert", alert, "notification", notif);
}

static int render(const struct tmpl *tp, const json_t *ctx, enum tmpl_escape esc, size_t max,
                  char **out)
{
    struct buf b;
    int rc;

    buf_init(&b, max);
    rc = tmpl_render(tp, ctx, esc, &b);
    if (rc) {
        buf_free(&b);
        return rc;
    }
    *out = buf_steal(&b);
    return TOCSIN_OK;
}

static bool header_says_json(const struct notif *n, const json_t *ctx, size_t max)
{
    for (size_t i = 0; i < n->nheaders; i++) {
        char *v = NULL;
        bool json;
        if (strcasecmp(n->headers[i].name, "Content-Type") != 0)
            continue;
        if (render(n->headers[i].value, ctx, TMPL_ESC_NONE, max, &v))
            return false;
        json = strstr(v, "json") != NULL;
        free(v);
        return json;
    }
    return false;
}

static int render_headers(const struct notif *n, const json_t *ctx, size_t max, char **out)
{
    json_t *arr = json_array();
    int rc = TOCSIN_OK;

    for (size_t i = 0; arr && !rc && i < n->nheaders; i++) {
        char *v = NULL;
        rc = render(n->headers[i].value, ctx, TMPL_ESC_NONE, max, &v);
        if (rc)
            break;
        for (char *p = v; *p; p++) /* no header injection through a value */
            if (*p == '\r' || *p == '\n')
                *p = ' ';
        json_array_append_new(arr, json_pack("{s:s,s:s}", "name", n->headers[i].name, "value", v));
        free(v);
    }
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = dump(arr);
    return TOCSIN_OK;
}

static int render_body(const struct notif *n, const json_t *ctx, size_t max, char **out)
{
    char *msg = NULL;
    int rc;

    if (n->kind == NOTIFIER_WEBHOOK)
        return render(n->body, ctx, header_says_json(n, ctx, max) ? TMPL_ESC_JSON : TMPL_ESC_NONE,
                      max, out);
    rc = render(n->body, ctx, TMPL_ESC_NONE, max, &msg);
    if (rc)
        return rc;
    *out = dump(n->headers ? json_pack("{s:s,s:s}", "channel", n->channel, "text", msg)
                           : json_pack("{s:s}", "text", msg));
    free(msg);
    return TOCSIN_OK;
}

static struct notify_rec *notify_new(struct engine *e, const struct group *g,
                                     const struct notif *n, bool resolve)
{
    struct notify_rec *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    e->env.new_id(e->env.ud, r->id);
    memcpy(r->alert_id, g->alert->id, sizeof(r->alert_id));
    r->trigger_id = strdup(g->rt->t->id);
    r->channel = strdup(n->type);
    r->method = strdup(n->method ? n->method : "POST");
    r->use_proxy = n->use_proxy;
    r->tls_verify = n->tls_verify;
    r->resolve = resolve;
    r->status = NOTIFY_PENDING;
    r->max_attempts = e->cfg.notify_max_attempts;
    r->created_ms = r->updated_ms = e->now;
    r->next_ms = 0; /* due at once: the notifier runs on the real clock, not the engine's */
    if (!r->trigger_id || !r->channel || !r->method) {
        notify_rec_free(r);
        return NULL;
    }
    return r;
}

static void notify_one(struct engine *e, const struct group *g, const struct notif *n,
                       const json_t *ctx, bool resolve)
{
    struct notify_rec *r = notify_new(e, g, n, resolve);
    int rc = TOCSIN_OK;

    if (!r)
        return;
    if (n->kind == NOTIFIER_UNSUPPORTED) {
        char msg[200];
        snprintf(msg, sizeof(msg), "notifier type '%.64s' is not supported", n->type);
        r->status = NOTIFY_FAILED;
        r->last_error = strdup(msg);
        r->url = strdup("");
        r->headers_json = strdup("[]");
        r->body = strdup("");
    } else {
        rc = render(n->url, ctx, TMPL_ESC_URL, e->cfg.max_render, &r->url);
        if (!rc)
            rc = render_headers(n, ctx, e->cfg.max_render, &r->headers_json);
        if (!rc)
            rc = render_body(n, ctx, e->cfg.max_render, &r->body);
    }
    if (rc || !r->url || !r->headers_json || !r->body) {
        /* Kept, as failed, so the loss is visible in the API. */
        e->st.render_errors++;
        r->status = NOTIFY_FAILED;
        free(r->last_error);
        r->last_error = strdup(rc == TOCSIN_ETOOBIG ? "rendered notification too large"
                                                    : "rendering failed");
        if (!r->url)
            r->url = strdup("");
        if (!r->headers_json)
            r->headers_json = strdup("[]");
        if (!r->body)
            r->body = strdup("");
    }
    e->st.notifications++;
    effects_push(e->fx, EFF_NOTIFY, r);
}

static void notify_all(struct engine *e, const struct group *g, const struct eval *ev,
                       json_t *props, bool resolve)
{
    const struct trigger *t = g->rt->t;
    json_t *ctx;

    if (!t->nnotifs || !periods_include(t->periods, t->nperiods, e->now)) {
        json_decref(props);
        return;
    }
    ctx = render_ctx(g, ev, g->alert->message, props);
    json_decref(props);
    if (!ctx)
        return;
    for (size_t i = 0; i < t->nnotifs; i++)
        if (periods_include(t->notifs[i].periods, t->notifs[i].nperiods, e->now))
            notify_one(e, g, &t->notifs[i], ctx, resolve);
    json_decref(ctx);
}

static json_t *eval_props(const struct group *g, const struct eval *ev)
{
    return ev->ev ? event_props_json(ev->ev) : projection_json(g->rt->t, g->key);
}

static struct alert_rec *alert_open(struct engine *e, struct group *g)
{
    const struct trigger *t = g->rt->t;
    struct alert_rec *a = calloc(1, sizeof(*a));
    char fp[33];

    if (!a)
        return NULL;
    e->env.new_id(e->env.ud, a->id);
    fingerprint(t, g->key, fp);
    a->fingerprint = strdup(fp);
    a->trigger_id = strdup(t->id);
    a->name = strdup(t->name);
    a->source = strdup(t->source);
    a->description = strdup(t->description);
    a->projection_json = dump(projection_json(t, g->key));
    a->status = ALERT_OPEN;
    a->first_ms = e->now;
    if (!a->fingerprint || !a->trigger_id || !a->name || !a->source || !a->description ||
        set_projection(a, t, g->key)) {
        alert_rec_free(a);
        return NULL;
    }
    e->st.alerts_open++;
    return a;
}

static void emit_alert(struct engine *e, const struct alert_rec *a)
{
    effects_push(e->fx, EFF_ALERT, alert_rec_dup(a));
}

/* Builds the alert's message and properties from its latest firing, once. */
static void settle(struct group *g)
{
    struct alert_rec *a = g->alert;
    json_t *props;

    if (!g->last_pending || !a)
        return;
    g->last_pending = false;
    props = eval_props(g, &g->last);
    free(a->message);
    a->message = eval_message(g->rt->t, &g->last, false);
    free(a->properties_json);
    a->properties_json = props ? json_dumps(props, JSON_COMPACT) : NULL;
    if (!a->properties_json)
        a->properties_json = strdup("{}");
    json_decref(props);
}

static void mark_dirty(struct engine *e, struct group *g)
{
    if (g->dirty)
        return;
    if (e->ndirty == e->capdirty) {
        uint32_t nc = e->capdirty ? e->capdirty * 2 : 64;
        struct group **nd = realloc(e->dirty, nc * sizeof(*nd));
        if (!nd) { /* write it now instead */
            settle(g);
            emit_alert(e, g->alert);
            return;
        }
        e->dirty = nd;
        e->capdirty = nc;
    }
    e->dirty[e->ndirty++] = g;
    g->dirty = e->ndirty;
}

/* Writes a group's pending alert change now (before a resolve, a move or a free). */
static void flush_group(struct engine *e, struct group *g)
{
    if (!g->dirty)
        return;
    e->dirty[g->dirty - 1] = NULL;
    g->dirty = 0;
    settle(g);
    if (g->alert)
        emit_alert(e, g->alert);
}

/* End of an engine call: one EFF_ALERT per alert that changed. */
static void flush_dirty(struct engine *e)
{
    for (uint32_t i = 0; i < e->ndirty; i++) {
        struct group *g = e->dirty[i];
        if (!g)
            continue;
        g->dirty = 0;
        settle(g);
        if (g->alert)
            emit_alert(e, g->alert);
    }
    e->ndirty = 0;
}

static void raise_alert(struct engine *e, struct group *g, const struct eval *ev)
{
    const struct trigger *t = g->rt->t;
    struct alert_rec *a = g->alert;

    e->st.fired++;
    if (!a && !(a = g->alert = alert_open(e, g)))
        return;
    a->count++;
    a->severity = t->severity;
    a->last_ms = a->updated_ms = e->now;
    g->last = *ev;
    g->last_pending = true;
    mark_dirty(e, g);
    if (t->nnotifs) {
        settle(g); /* the message is part of the notification */
        notify_all(e, g, ev, eval_props(g, ev), false);
    }
}

static void resolve_alert(struct engine *e, struct group *g, const char *why)
{
    const struct trigger *t = g->rt->t;
    struct alert_rec *a = g->alert;
    struct eval ev = {0};

    if (!a)
        return;
    if (g->dirty) { /* resolved in the same call it fired in: one write, the final state */
        e->dirty[g->dirty - 1] = NULL;
        g->dirty = 0;
    }
    settle(g);
    timer_cancel(e->wheel, &g->resolve);
    a->status = ALERT_RESOLVED;
    a->resolved_ms = a->updated_ms = e->now;
    free(a->message);
    if (why) {
        char msg[512];
        snprintf(msg, sizeof(msg), "Resolved: %s", why);
        a->message = strdup(msg);
    } else {
        a->message = eval_message(t, &ev, true);
    }
    emit_alert(e, a);
    if (t->notify_on_resolve)
        notify_all(e, g, &ev, projection_json(t, g->key), true);
    alert_rec_free(a);
    g->alert = NULL;
    e->st.alerts_open--;
}

/* ---- evaluation ------------------------------------------------------------------------ */

static int64_t resolve_after(const struct engine *e, const struct trigger *t)
{
    return t->resolve_after_ms >= 0 ? t->resolve_after_ms : e->cfg.resolve_after_ms;
}

/* One evaluation of a trigger for a group: dampening, raise, or the auto-resolve clock. */
static void evaluated(struct engine *e, struct group *g, const struct eval *ev)
{
    const struct trigger *t = g->rt->t;

    e->st.evaluations++;
    if (ev->ok) {
        timer_cancel(e->wheel, &g->resolve);
    } else if (g->alert && !timer_armed(&g->resolve)) {
        int64_t after = resolve_after(e, t);
        if (after <= 0) {
            resolve_alert(e, g, NULL);
        } else {
            timer_arm(e->wheel, &g->resolve, e->now + after);
        }
    }
    if (damp_feed(&g->damp, &t->damp, ev->ok, e->now))
        raise_alert(e, g, ev);
}

static bool filters_pass(const struct engine *e, const struct trigger *t)
{
    for (size_t i = 0; i < t->nfilters; i++)
        if (!eval_cond(e, &t->filters[i], NULL))
            return false;
    return true;
}

/* True when a false evaluation would change nothing for g: no open alert, and a dampening state
 * that a false evaluation leaves as it is (RELAXED_COUNT must record every evaluation). */
static bool quiet(const struct group *g)
{
    const struct damp_state *d = &g->damp;

    if (g->alert)
        return false;
    switch (g->rt->t->damp.mode) {
    case DAMP_STRICT_COUNT: return d->trues == 0;
    case DAMP_STRICT_TIME: return d->run_start < 0;
    case DAMP_RELAXED_TIME: return true;
    default: return false;
    }
}

static void eval_single(struct engine *e, struct group *g, const struct event *event)
{
    const struct trigger *t = g->rt->t;
    struct eval ev;

    if (t->nconds == 1) { /* the common shape, without the bookkeeping of several */
        ev.ok = eval_cond(e, &t->conds[0], &ev.res);
        if (!ev.ok && quiet(g)) {
            e->st.evaluations++;
            return;
        }
        ev.cond = &t->conds[0];
        ev.ev = event;
        evaluated(e, g, &ev);
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.ok = !t->cond_or;
    ev.ev = event;

    for (size_t i = 0; i < t->nconds; i++) {
        struct cond_result r;
        bool ok = eval_cond(e, &t->conds[i], &r);
        if (!ev.cond || (ok && t->cond_or && !ev.res.ok)) {
            ev.cond = &t->conds[i]; /* report the first, or the first that held for OR */
            ev.res = r;
        }
        if (t->cond_or && ok) {
            ev.ok = true;
            break;
        }
        if (!t->cond_or && !ok) {
            ev.ok = false;
            break;
        }
    }
    if (!ev.ok && quiet(g)) {
        e->st.evaluations++; /* nothing to remember: the common case, kept cheap */
        return;
    }
    evaluated(e, g, &ev);
}

/* Feeds an event into a windowed group's windows (evaluation happens on the tick). */
static void feed_windows(struct engine *e, struct group *g)
{
    const struct trigger *t = g->rt->t;

    g->last_event_ms = e->now;
    if (t->missing_only) {
        struct eval r = {.ok = false, .cond = &t->conds[0]};
        timer_arm(e->wheel, &g->tick, e->now + t->tick_ms);
        evaluated(e, g, &r); /* data is here: the condition is false */
        return;
    }
    for (size_t i = 0; i < t->nconds; i++) {
        const struct condition *c = &t->conds[i];
        double v = 0;
        bool matched = false;
        if (c->type == COND_AGGREGATION && c->fn != AGG_COUNT &&
            !value_as_number(lookup(e, c->sym), &v))
            continue;
        if (c->type == COND_RATE)
            matched = eval_cond(e, c->comparison, NULL);
        window_add(g->wins[i], e->now, v, matched);
    }
    if (!timer_armed(&g->tick))
        timer_arm(e->wheel, &g->tick, e->now + t->tick_ms);
}

/* Evaluates window condition i as of `at`, the time the tick was due. The windows are read at
 * at - 1: timers fire before the events of the same ms are ingested, so no sample is at `at`
 * yet, and the sample taken exactly one duration before the tick (the one that opened the key,
 * whose tick is armed one duration later) is still counted, whatever the slice alignment. */
static bool eval_window_cond(struct group *g, size_t i, int64_t at, struct cond_result *r)
{
    const struct condition *c = &g->rt->t->conds[i];
    static const enum window_fn fns[AGG_FN_COUNT] = {WIN_COUNT, WIN_AVG, WIN_MIN, WIN_MAX,
                                                     WIN_P50,   WIN_P90, WIN_P95, WIN_P99};
    double v;

    memset(r, 0, sizeof(*r));
    if (c->type == COND_MISSING_DATA) {
        /* Its own duration since the last event (or since watching began), even when a
         * shorter window of another condition sets the tick. */
        r->ok = at - g->last_event_ms >= c->duration_ms;
        return r->ok;
    }
    if (c->type == COND_RATE) {
        if (!window_rate(g->wins[i], at - 1, c->sample_size, &v))
            return false;
    } else if (c->fn == AGG_COUNT) {
        v = (double)window_count(g->wins[i], at - 1);
    } else if (!window_value(g->wins[i], at - 1, fns[c->fn], &v)) {
        return false;
    }
    r->has_value = true;
    r->value = v;
    r->threshold = c->threshold;
    return r->ok = num_op_holds(c->op, v, c->threshold);
}

static void tick_fired(struct timer *tm, void *ud)
{
    struct engine *e = ud;
    struct group *g = container_of(tm, struct group, tick);
    const struct trigger *t = g->rt->t;
    struct eval ev = {.ok = !t->cond_or};
    int64_t at = tm->deadline < e->now ? tm->deadline : e->now;

    for (size_t i = 0; i < t->nconds; i++) {
        struct cond_result r;
        bool ok = eval_window_cond(g, i, at, &r);
        if (!ev.cond || (ok && t->cond_or && !ev.res.ok)) {
            ev.cond = &t->conds[i];
            ev.res = r;
        }
        ev.ok = t->cond_or ? (ev.ok || ok) : (ev.ok && ok);
    }
    timer_arm(e->wheel, &g->tick, e->now + t->tick_ms);
    evaluated(e, g, &ev);
    group_maybe_evict(e, g);
}

static void resolve_fired(struct timer *tm, void *ud)
{
    struct engine *e = ud;
    struct group *g = container_of(tm, struct group, resolve);

    resolve_alert(e, g, NULL);
    group_maybe_evict(e, g);
}

/* ---- public API ------------------------------------------------------------------------ */

struct engine *engine_new(const struct engine_cfg *cfg, const struct engine_env *env,
                          int64_t now_ms)
{
    struct engine *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->cfg = *cfg;
    if (!e->cfg.max_render)
        e->cfg.max_render = 1024 * 1024;
    if (!e->cfg.notify_max_attempts)
        e->cfg.notify_max_attempts = 10;
    e->env = *env;
    e->now = now_ms;
    smap_init(&e->by_id);
    smap_init(&e->by_source);
    smap_init(&e->syms);
    smap_init(&e->src_props);
    e->wheel = timer_wheel_new(now_ms);
    if (!e->wheel || sodium_init() < 0) {
        engine_free(e);
        return NULL;
    }
    return e;
}

static void rt_free(struct engine *e, struct rt *rt)
{
    size_t it;
    struct smap_entry *s = smap_first(&rt->groups, &it);

    while (s) {
        struct group *g = s->value;
        s = smap_next(&rt->groups, s, &it);
        group_free(e, g);
    }
    smap_free(&rt->groups);
    free(rt->lkey);
    trigger_free(rt->t);
    free(rt);
}

void engine_free(struct engine *e)
{
    size_t it;
    struct smap_entry *s;

    if (!e)
        return;
    for (s = smap_first(&e->by_id, &it); s; s = smap_next(&e->by_id, s, &it))
        rt_free(e, s->value);
    smap_free(&e->by_id);
    smap_free(&e->by_source);
    for (s = smap_first(&e->src_props, &it); s; s = smap_next(&e->src_props, s, &it)) {
        struct propset *ps = s->value;
        for (uint32_t i = 0; i < ps->n; i++)
            free(ps->v[i].prop);
        free(ps->v);
        free(ps);
    }
    smap_free(&e->src_props);
    smap_free(&e->syms);
    free(e->dirty);
    free(e->slot);
    free(e->slot_gen);
    timer_wheel_free(e->wheel);
    free(e);
}


static const struct condition *index_filter(const struct trigger *t)
{
    for (size_t i = 0; i < t->nfilters; i++) {
        const struct condition *f = &t->filters[i];
        if (f->type == COND_STRING && f->str_op == STR_EQUALS && !f->ignore_case && f->pattern)
            return f;
    }
    return NULL;
}

static int propset_ref(struct engine *e, const char *src, const struct condition *f)
{
    struct propset *ps = smap_get(&e->src_props, src, strlen(src));

    if (!ps) {
        ps = calloc(1, sizeof(*ps));
        if (!ps || smap_put(&e->src_props, src, strlen(src), ps, NULL)) {
            free(ps);
            return TOCSIN_ENOMEM;
        }
    }
    for (uint32_t i = 0; i < ps->n; i++) {
        if (strcmp(ps->v[i].prop, f->property) == 0) {
            ps->v[i].refs++;
            return TOCSIN_OK;
        }
    }
    if (ps->n == ps->cap) {
        uint32_t nc = ps->cap ? ps->cap * 2 : 4;
        struct pref *nv = realloc(ps->v, nc * sizeof(*nv));
        if (!nv)
            return TOCSIN_ENOMEM;
        ps->v = nv;
        ps->cap = nc;
    }
    ps->v[ps->n].prop = strdup(f->property);
    if (!ps->v[ps->n].prop)
        return TOCSIN_ENOMEM;
    ps->v[ps->n].sym = f->sym;
    ps->v[ps->n].refs = 1;
    ps->n++;
    return TOCSIN_OK;
}

static void propset_unref(struct engine *e, const char *src, const char *prop)
{
    struct propset *ps = smap_get(&e->src_props, src, strlen(src));

    for (uint32_t i = 0; ps && i < ps->n; i++) {
        if (strcmp(ps->v[i].prop, prop) != 0 || --ps->v[i].refs)
            continue;
        free(ps->v[i].prop);
        ps->v[i] = ps->v[--ps->n];
        if (!ps->n) {
            smap_del(&e->src_props, src, strlen(src));
            free(ps->v);
            free(ps);
        }
        return;
    }
}

/* Writes source\0property\0value into key (at most KEY_MAX); returns the length, or 0 if it
 * does not fit. */
static size_t index_key(char *key, const char *src, const char *prop, const char *val,
                        size_t vlen)
{
    size_t sl = strlen(src), pl = strlen(prop);

    if (sl + pl + vlen + 2 > KEY_MAX)
        return 0;
    memcpy(key, src, sl + 1);
    memcpy(key + sl + 1, prop, pl + 1);
    memcpy(key + sl + pl + 2, val, vlen);
    return sl + pl + 2 + vlen;
}

static void source_unlink(struct engine *e, struct rt *rt)
{
    struct rt *head = smap_get(&e->by_source, rt->lkey, rt->lklen), **pp = &head;

    while (*pp && *pp != rt)
        pp = &(*pp)->next_src;
    if (*pp)
        *pp = rt->next_src;
    if (head)
        smap_put(&e->by_source, rt->lkey, rt->lklen, head, NULL);
    else
        smap_del(&e->by_source, rt->lkey, rt->lklen);
    if (rt->iprop)
        propset_unref(e, rt->t->source, rt->iprop);
    free(rt->lkey);
    rt->lkey = NULL;
    rt->iprop = NULL;
}

static int source_link(struct engine *e, struct rt *rt)
{
    const struct trigger *t = rt->t;
    const struct condition *f = index_filter(t);
    char key[KEY_MAX];
    size_t n = f ? index_key(key, t->source, f->property, f->pattern, strlen(f->pattern)) : 0;

    if (n && f->sym && propset_ref(e, t->source, f) == TOCSIN_OK) {
        rt->iprop = f->property;
    } else {
        n = strlen(t->source);
        memcpy(key, t->source, n);
    }
    rt->lkey = malloc(n);
    if (!rt->lkey) {
        if (rt->iprop)
            propset_unref(e, t->source, rt->iprop);
        rt->iprop = NULL;
        return TOCSIN_ENOMEM;
    }
    memcpy(rt->lkey, key, n);
    rt->lklen = n;
    rt->next_src = smap_get(&e->by_source, key, n);
    return smap_put(&e->by_source, key, n, rt, NULL);
}

/* A group given an alert without an event (a replaced trigger's, or one restored from the store):
 * a windowed trigger evaluates it on its tick, so that it can resolve without new data. */
static void watch_group(struct engine *e, struct group *g)
{
    const struct trigger *t = g->rt->t;

    if (!t->enabled || !t->windowed || timer_armed(&g->tick))
        return;
    if (!g->last_event_ms)
        g->last_event_ms = e->now;
    timer_arm(e->wheel, &g->tick, e->now + t->tick_ms);
}

/* Moves the open alerts of `old` into `rt` (same keys), resolving those it cannot keep. */
static void carry_alerts(struct engine *e, struct rt *old, struct rt *rt)
{
    size_t it;
    struct smap_entry *s;

    for (s = smap_first(&old->groups, &it); s; s = smap_next(&old->groups, s, &it)) {
        struct group *og = s->value, *ng;
        if (!og->alert)
            continue;
        flush_group(e, og); /* its pending change belongs to the old trigger's firing */
        if (!rt->t->enabled) {
            resolve_alert(e, og, "trigger disabled");
            continue;
        }
        ng = group_get(e, rt, og->key, strlen(og->key));
        if (!ng) {
            resolve_alert(e, og, "trigger replaced");
            continue;
        }
        ng->alert = og->alert; /* the count of open alerts does not change */
        set_projection(ng->alert, rt->t, ng->key); /* the names may have changed */
        og->alert = NULL;
        ng->last_event_ms = og->last_event_ms;
        watch_group(e, ng);
    }
}

static void start_unkeyed(struct engine *e, struct rt *rt)
{
    const struct trigger *t = rt->t;
    struct group *g;

    if (!t->enabled || !t->windowed || t->nprojections)
        return;
    g = group_get(e, rt, "", 0);
    if (g && !timer_armed(&g->tick)) {
        g->last_event_ms = e->now;
        timer_arm(e->wheel, &g->tick, e->now + t->tick_ms);
    }
}

static int install(struct engine *e, struct trigger *t, int64_t now_ms, bool emit)
{
    struct rt *rt, *old;
    int rc;

    e->now = now_ms;
    old = smap_get(&e->by_id, t->id, strlen(t->id));
    if (!old && e->by_id.count >= e->cfg.max_triggers) {
        trigger_free(t);
        return TOCSIN_ETOOBIG;
    }
    rt = calloc(1, sizeof(*rt));
    if (!rt) {
        trigger_free(t);
        return TOCSIN_ENOMEM;
    }
    rt->t = t;
    intern_trigger(e, rt);
    smap_init(&rt->groups);
    if (old)
        trigger_set_times(t, old->t->created_ms, now_ms);
    if (emit) {
        struct trigger_rec *r = calloc(1, sizeof(*r));
        if (r) {
            r->id = strdup(t->id);
            r->json = json_dumps(t->json, JSON_COMPACT);
            r->enabled = t->enabled;
            r->created_ms = t->created_ms;
            r->updated_ms = t->updated_ms;
        }
        if (!r || !r->id || !r->json) {
            trigger_rec_free(r);
            rt_free(e, rt);
            return TOCSIN_ENOMEM;
        }
        effects_push(e->fx, EFF_TRIGGER_PUT, r);
    }
    if (old) {
        carry_alerts(e, old, rt);
        source_unlink(e, old);
        rt_free(e, old);
    }
    rc = smap_put(&e->by_id, t->id, strlen(t->id), rt, NULL);
    if (!rc)
        rc = source_link(e, rt);
    if (!rc)
        start_unkeyed(e, rt);
    return rc;
}

int engine_put_trigger(struct engine *e, struct trigger *t, int64_t now_ms, struct effects *fx)
{
    int rc;

    e->fx = fx;
    rc = install(e, t, now_ms, true);
    e->st.triggers = e->by_id.count;
    return rc;
}

int engine_load_trigger(struct engine *e, struct trigger *t, int64_t now_ms)
{
    struct effects none;
    int rc;

    effects_init(&none);
    e->fx = &none;
    rc = install(e, t, now_ms, false);
    effects_free(&none);
    e->st.triggers = e->by_id.count;
    return rc;
}

int engine_delete_trigger(struct engine *e, const char *id, int64_t now_ms, struct effects *fx)
{
    struct rt *rt = smap_get(&e->by_id, id, strlen(id));
    struct trigger_rec *r;
    size_t it;
    struct smap_entry *s;

    if (!rt)
        return TOCSIN_ENOTFOUND;
    e->fx = fx;
    e->now = now_ms;
    for (s = smap_first(&rt->groups, &it); s; s = smap_next(&rt->groups, s, &it))
        resolve_alert(e, s->value, "trigger deleted");
    r = calloc(1, sizeof(*r));
    if (r && !(r->id = strdup(id))) {
        free(r);
        r = NULL;
    }
    effects_push(fx, EFF_TRIGGER_DEL, r);
    smap_del(&e->by_id, id, strlen(id));
    source_unlink(e, rt);
    rt_free(e, rt);
    e->st.triggers = e->by_id.count;
    return TOCSIN_OK;
}

bool engine_has_trigger(const struct engine *e, const char *id)
{
    return smap_get(&e->by_id, id, strlen(id)) != NULL;
}

/* Evaluates the triggers of one list (plain or indexed) on the current event. */
static void visit(struct engine *e, struct rt *rt, const struct event *ev)
{
    char key[KEY_MAX];

    for (; rt; rt = rt->next_src) {
        const struct trigger *t = rt->t;
        struct group *g;
        ssize_t klen;

        if (!t->enabled || !filters_pass(e, t))
            continue;
        if (!t->nprojections) {
            g = rt->single ? rt->single : (rt->single = group_get(e, rt, "", 0));
        } else {
            klen = build_key(e, rt, key);
            if (klen < 0) {
                e->st.keys_dropped++;
                continue;
            }
            g = group_get(e, rt, key, (size_t)klen);
        }
        if (!g)
            continue;
        if (t->windowed) {
            feed_windows(e, g);
        } else {
            eval_single(e, g, ev);
            if (t->nprojections)
                keep_or_evict(e, g);
        }
    }
}

static void ingest_one(struct engine *e, const struct event *ev)
{
    size_t tl = strlen(ev->type);
    struct rt *plain = smap_get(&e->by_source, ev->type, tl);
    const struct propset *ps = smap_get(&e->src_props, ev->type, tl);
    char key[KEY_MAX];

    if (!plain && !ps)
        return;
    index_event(e, ev);
    visit(e, plain, ev);
    for (uint32_t i = 0; ps && i < ps->n; i++) {
        const struct value *v = lookup(e, ps->v[i].sym);
        size_t n = v ? index_key(key, ev->type, ps->v[i].prop, v->str, v->slen) : 0;
        if (n)
            visit(e, smap_get(&e->by_source, key, n), ev);
    }
}

void engine_ingest(struct engine *e, const struct event *evs, size_t n, int64_t now_ms,
                   struct effects *fx)
{
    engine_advance(e, now_ms, fx);
    for (size_t i = 0; i < n; i++)
        ingest_one(e, &evs[i]);
    e->st.events += n;
    flush_dirty(e); /* while the events, which the pending firings point into, still live */
}

void engine_advance(struct engine *e, int64_t now_ms, struct effects *fx)
{
    e->fx = fx;
    if (now_ms > e->now)
        e->now = now_ms;
    timer_wheel_advance(e->wheel, e->now, e);
    flush_dirty(e);
}

int64_t engine_next_deadline(const struct engine *e)
{
    return timer_wheel_next(e->wheel);
}

int engine_restore_alert(struct engine *e, struct alert_rec *a)
{
    struct rt *rt = a->trigger_id ? smap_get(&e->by_id, a->trigger_id, strlen(a->trigger_id))
                                  : NULL;
    json_t *proj;
    char key[KEY_MAX];
    size_t n = 0;
    struct group *g;

    if (!rt || !rt->t->enabled) {
        alert_rec_free(a);
        return TOCSIN_ENOTFOUND;
    }
    proj = json_loads(a->projection_json ? a->projection_json : "{}", 0, NULL);
    for (unsigned i = 0; i < rt->t->nprojections; i++) {
        const char *v = json_string_value(json_object_get(proj, rt->t->projections[i]));
        size_t l = v ? strlen(v) : 0;
        if (n + l + 1 >= KEY_MAX)
            break;
        if (i)
            key[n++] = KEY_SEP;
        memcpy(key + n, v ? v : "", l);
        n += l;
    }
    key[n] = '\0';
    json_decref(proj);
    g = group_get(e, rt, key, n);
    if (!g || g->alert || set_projection(a, rt->t, g->key)) {
        alert_rec_free(a);
        return g && g->alert ? TOCSIN_EEXIST : TOCSIN_ENOMEM;
    }
    g->alert = a;
    e->st.alerts_open++;
    watch_group(e, g);
    return TOCSIN_OK;
}

void engine_get_stats(const struct engine *e, struct engine_stats *out)
{
    *out = e->st;
    out->triggers = e->by_id.count;
}
