#include "daemon/nwire.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "core/alert.h"
#include "core/alertdb.h"
#include "core/nrule.h"
#include "core/verr.h"
#include "daemon/app.h"
#include "daemon/nconf.h"
#include "notify/channel.h"
#include "notify/creq.h"
#include "notify/nctx.h"
#include "notify/notifier.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/id.h"
#include "util/log.h"
#include "util/secrets.h"
#include "util/smap.h"
#include "util/tz.h"

#define CTX_MAX (4 * 1024 * 1024) /* bytes of one notification's context */
#define STATE_SAVE_MS 60000       /* the rules' state (groups, delays) is stored this often */
#define GROUP_CTX_ALERTS 100      /* alerts rendered into a grouped notification's context */
#define CTX_FIXED 4096            /* a context's bytes besides its alerts and its named strings */

/* A channel as configured. The compiled form is immutable; deliveries hold a reference. */
struct chan_entry {
    char *id, *type;
    json_t *doc;        /* the channel as the API shows it, secrets in clear (never shown) */
    struct chan *c;
    unsigned concurrency;
    double rate;
    uint32_t max_attempts;
    bool from_file;
    int refs;           /* under nwire.mu: the table's (1 while listed) + deliveries' */
};

struct nwire {
    struct nrules *rules;   /* engine thread */
    json_t *rule_docs;      /* id -> the rule as stored (engine thread) */
    json_t *file_rules;     /* ids of rules from files (engine thread) */
    struct secrets *sec;
    pthread_mutex_t mu;     /* guards chans, tickets */
    struct smap chans;      /* id -> struct chan_entry * */
    struct smap tickets;    /* "<alert>\x1f<channel>" -> malloc'd ticket JSON (notifier side) */
    char *base_url;
    int64_t state_saved_ms;  /* engine clock of the last save of the rules' state */
    /* each notifier thread's own (ops_setup; notifier_thread_index): */
    struct nctx_cache parsed[NOTIFIER_MAX_THREADS];
    /* an attempt's context text, kept from one attempt to the next (a buffer of 1 KiB or more
     * grown per attempt made glibc consolidate its fast bins each time, 4 % of the thread),
     * given back when it grew past TEXT_KEEP */
    struct buf text[NOTIFIER_MAX_THREADS];
    /* emit()'s scratch (engine thread): the shared alert rendering, the context head and one
     * record's tail, kept from one turn to the next like text[] (three buffers grown from
     * nothing by realloc at each turn were a tenth of the engine thread in the notification
     * benchmark), given back past TEXT_KEEP */
    struct buf e_alert, e_head, e_one;
    /* deleted alerts that were group members (engine thread): a group's flush after the delete
     * renders them from here, oldest first out (tomb_add) */
    struct smap tombs; /* 16-byte id -> struct tomb * */
    struct tomb *tomb_old, *tomb_new;
    size_t ntombs;
};

/* A deleted alert as it was, for the groups that still name it. Kept TOMB_TTL_MS (far past any
 * sensible group_interval), TOMB_MAX at most (about 1 KB each); not across a restart. */
struct tomb {
    struct tomb *next; /* younger */
    int64_t at;
    struct alert *a;
};
#define TOMB_TTL_MS (24LL * 3600 * 1000)
#define TOMB_MAX 10000

#define TEXT_KEEP (64 * 1024)

/* b emptied for the next use, its memory kept unless it grew past TEXT_KEEP */
static void scratch_reset(struct buf *b)
{
    if (b->cap > TEXT_KEEP)
        buf_free(b);
    buf_reset(b);
}

/* What a delivery holds between setup and release. */
struct dstate {
    struct chan_entry *e;
    struct chan_req req;
    struct creq_xfer x;
};

#define SECRET_KEYS_MAX 80

/* The secret key paths of a channel of `type` with this config, for util/secrets.h: the
 * type's own, and "headers.*" (the values of secret-looking headers, channel.h) expanded to
 * one path per such header the config names. keys[] points into `store` and static strings. */
static size_t secret_keys(const char *type, const json_t *cfg, const char **keys,
                          char store[][128])
{
    const char *const *tk = chan_secret_keys(type);
    size_t n = 0, ns = 0;

    for (size_t i = 0; tk && tk[i] && n < SECRET_KEYS_MAX - 1; i++) {
        if (!strcmp(tk[i], "headers.*")) {
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)json_object_get(cfg, "headers"), k, v) {
                if (n >= SECRET_KEYS_MAX - 1 || !secrets_sensitive_header(k) || strchr(k, '.') ||
                    strchr(k, '[') || strlen(k) > 100)
                    continue;
                snprintf(store[ns], 128, "headers.%s", k);
                keys[n++] = store[ns++];
            }
            continue;
        }
        keys[n++] = tk[i];
    }
    keys[n] = NULL;
    return n;
}

void nreq_free(struct nreq *r)
{
    if (!r)
        return;
    free(r->id);
    json_decref(r->body);
    free(r->channel);
    free(r->ticket);
    free(r);
}

static struct nwire *NW(const struct app *a)
{
    return a->nwire;
}

/* ---- channel table ---------------------------------------------------------------------- */

static void entry_unref(struct nwire *nw, struct chan_entry *e)
{
    bool last;

    pthread_mutex_lock(&nw->mu);
    last = --e->refs == 0;
    pthread_mutex_unlock(&nw->mu);
    if (!last)
        return;
    chan_free(e->c);
    json_decref(e->doc);
    free(e->id);
    free(e->type);
    free(e);
}

static struct chan_entry *entry_get(struct nwire *nw, const char *id)
{
    struct chan_entry *e;

    pthread_mutex_lock(&nw->mu);
    e = smap_get(&nw->chans, id, strlen(id));
    if (e)
        e->refs++;
    pthread_mutex_unlock(&nw->mu);
    return e;
}

/* Replaces (or, e NULL, removes) the channel id in the table. */
static void entry_set(struct nwire *nw, const char *id, struct chan_entry *e)
{
    void *old = NULL;

    pthread_mutex_lock(&nw->mu);
    if (e)
        smap_put(&nw->chans, id, strlen(id), e, &old);
    else
        old = smap_del(&nw->chans, id, strlen(id));
    pthread_mutex_unlock(&nw->mu);
    if (old)
        entry_unref(nw, old);
}

static double num_or(const json_t *o, const char *k, double dflt)
{
    const json_t *v = json_object_get(o, k);

    return json_is_number(v) ? json_number_value(v) : dflt;
}

/* Validates and compiles a channel document {"id","type","name"?,"config":{},"concurrency"?,
 * "rate"?,"max_attempts"?}; doc is borrowed (the entry keeps a reference). */
static int entry_build(json_t *doc, bool from_file, struct chan_entry **out, struct verr *err)
{
    const char *id = json_string_value(json_object_get(doc, "id"));
    const char *type = json_string_value(json_object_get(doc, "type"));
    json_t *cfg = json_object_get(doc, "config");
    const json_t *v;
    struct chan_entry *e;
    double conc = num_or(doc, "concurrency", 0), rate = num_or(doc, "rate", 0);
    double attempts = num_or(doc, "max_attempts", 0);
    int rc;

    *out = NULL;
    if (!id || !*id || strlen(id) > 128)
        return verr_set(err, "id", "must be a string of 1 to 128 characters");
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("-_.:", *p)))
            return verr_set(err, "id", "may hold letters, digits and - _ . : only");
    if (!type)
        return verr_set(err, "type", "is required: one of the channel types");
    if (cfg && !json_is_object(cfg))
        return verr_set(err, "config", "must be an object");
    if ((v = json_object_get(doc, "concurrency")) && (!json_is_integer(v) || conc < 0 ||
                                                      conc > NOTIFIER_MAX_CONCURRENCY))
        return verr_set(err, "concurrency", "must be an integer from 0 to %d",
                        NOTIFIER_MAX_CONCURRENCY);
    if ((v = json_object_get(doc, "rate")) && (!json_is_number(v) || rate < 0 || rate > 1e6))
        return verr_set(err, "rate", "must be a number of notifications per second, 0 to 1e6");
    if ((v = json_object_get(doc, "max_attempts")) &&
        (!json_is_integer(v) || attempts < 1 || attempts > 1000))
        return verr_set(err, "max_attempts", "must be an integer from 1 to 1000");
    e = calloc(1, sizeof(*e));
    if (!e)
        return TOCSIN_ENOMEM;
    e->id = strdup(id);
    e->type = strdup(type);
    if (!e->id || !e->type) {
        rc = TOCSIN_ENOMEM;
        goto fail;
    }
    if (!cfg) {
        cfg = json_object();
        if (!cfg || json_object_set_new(doc, "config", cfg)) {
            rc = TOCSIN_ENOMEM;
            goto fail;
        }
    }
    rc = chan_compile(id, type, cfg, &e->c, err);
    if (rc)
        goto fail; /* err names the field: "type", "config.url", ... */
    e->doc = json_incref(doc);
    e->concurrency = (unsigned)conc;
    e->rate = rate;
    e->max_attempts = (uint32_t)attempts;
    e->from_file = from_file;
    e->refs = 1;
    *out = e;
    return TOCSIN_OK;
fail:
    free(e->id);
    free(e->type);
    free(e);
    return rc;
}

/* The channel as the API shows it: secrets masked. */
static json_t *entry_public(const struct chan_entry *e)
{
    json_t *o = json_deep_copy(e->doc);
    json_t *cfg = json_object_get(o, "config");

    if (cfg)
        json_object_set_new(o, "config", chan_mask_config(e->type, cfg));
    json_object_set_new(o, "source", json_string(e->from_file ? "file" : "api"));
    return o;
}

/* The channel as stored: secrets sealed with the channel id as associated data. */
static char *entry_stored(struct nwire *nw, const struct chan_entry *e)
{
    json_t *o = json_deep_copy(e->doc);
    json_t *cfg = json_object_get(o, "config");
    char *s = NULL;
    char err[200] = "";
    const char *keys[SECRET_KEYS_MAX];
    char store[SECRET_KEYS_MAX][128];

    secret_keys(e->type, cfg, keys, store);
    if (o && (!cfg || secrets_seal(nw->sec, e->id, cfg, keys, err, sizeof(err)) == 0))
        s = json_dumps(o, JSON_COMPACT);
    else
        log_error("channel_not_stored", "channel=%s reason=\"%s\"", e->id, o ? err : "memory");
    json_decref(o);
    return s;
}

/* ---- the notifier's side: render at each attempt, judge the answer ---------------------- */

static size_t ticket_key(const char *alert, const char *channel, char *k, size_t cap)
{
    int n = snprintf(k, cap, "%s\x1f%s", alert, channel);

    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* The ticket this channel learnt for the alert, if any (new reference). */
static json_t *find_ticket(struct nwire *nw, const struct notify_rec *rec)
{
    char k[TOCSIN_ID_LEN + 200];
    size_t kl = ticket_key(rec->alert_id, rec->channel_id, k, sizeof(k));
    json_t *t = NULL;
    const char *txt;

    if (!kl)
        return NULL;
    pthread_mutex_lock(&nw->mu);
    txt = smap_get(&nw->tickets, k, kl);
    if (txt)
        t = json_loads(txt, 0, NULL);
    pthread_mutex_unlock(&nw->mu);
    if (!t && rec->ticket)
        t = json_loads(rec->ticket, 0, NULL);
    return t;
}

/* Puts ticket t of this channel into ctx.alert: tickets.<channel>, ticket and ticketUrl. */
static void inject_ticket(const struct notify_rec *rec, json_t *t, json_t *ctx)
{
    json_t *alert = json_object_get(ctx, "alert"), *tickets;

    if (!json_is_object(alert))
        return;
    tickets = json_object_get(alert, "tickets");
    if (!json_is_object(tickets)) {
        tickets = json_object();
        json_object_set_new(alert, "tickets", tickets);
    }
    json_object_set(tickets, rec->channel_id, t);
    if (json_is_string(json_object_get(t, "id")))
        json_object_set(alert, "ticket", json_object_get(t, "id"));
    if (json_is_string(json_object_get(t, "url")))
        json_object_set(alert, "ticketUrl", json_object_get(t, "url"));
}

static void remember_ticket(struct nwire *nw, const struct notify_rec *rec, const char *ticket)
{
    char k[TOCSIN_ID_LEN + 200];
    size_t kl = ticket_key(rec->alert_id, rec->channel_id, k, sizeof(k));
    char *copy = strdup(ticket);
    void *old = NULL;

    if (!kl || !copy) {
        free(copy);
        return;
    }
    pthread_mutex_lock(&nw->mu);
    if (nw->tickets.count >= NWIRE_MAX_TICKETS && !smap_get(&nw->tickets, k, kl)) {
        /* full: forget one (the alert keeps its tickets in its attributes) */
        size_t it;
        struct smap_entry *first = smap_first(&nw->tickets, &it);
        if (first)
            free(smap_del(&nw->tickets, first->key, first->klen));
    }
    if (smap_put(&nw->tickets, k, kl, copy, &old))
        free(copy);
    pthread_mutex_unlock(&nw->mu);
    free(old);
}

/* Lifts each alert's tickets (attributes ticket, ticketUrl, tickets) to the alert itself, as
 * templates read them ({{alert.ticket}}). */
static void lift_tickets(json_t *alert)
{
    static const char *const lift[] = {"ticket", "ticketUrl", "tickets"};
    json_t *attrs = json_object_get(alert, "attributes");

    for (size_t i = 0; attrs && i < sizeof(lift) / sizeof(lift[0]); i++) {
        json_t *v = json_object_get(attrs, lift[i]);
        if (v && !json_object_get(alert, lift[i]))
            json_object_set(alert, lift[i], v);
    }
}

/* The context a channel renders at this attempt, from the stored text: "alerts" put back, the
 * attempt number, the alerts' tickets lifted and this channel's injected. *text is its text too
 * when the stored text still stands for it (no ticket changed the alert), else empty. NULL when
 * the stored context is unreadable (*rc EINVAL) or out of memory (*rc ENOMEM). */
static json_t *attempt_ctx(struct nwire *nw, const struct notify_rec *rec, struct buf *text,
                           int *rc)
{
    json_t *ctx, *ticket;
    bool pristine, has_alerts, shared;

    *rc = TOCSIN_EINVAL;
    ctx = rec->ctx
              ? nctx_parse(&nw->parsed[notifier_thread_index()], rec->ctx, rec->ctx_alen, &shared)
              : NULL;
    if (!ctx)
        return NULL;
    /* The stored text stands for the tree (and the alert may be shared with the parse cache)
     * only while no ticket is lifted from the alerts' attributes and none is injected. */
    ticket = find_ticket(nw, rec);
    pristine = !ticket && !strstr(rec->ctx, "\"ticket");
    if (!pristine && shared && !nctx_own_alert(ctx)) {
        json_decref(ticket);
        json_decref(ctx);
        *rc = TOCSIN_ENOMEM;
        return NULL;
    }
    has_alerts = json_object_get(ctx, "alerts") != NULL;
    lift_tickets(json_object_get(ctx, "alert"));
    if (!has_alerts && json_is_object(json_object_get(ctx, "alert"))) {
        json_object_set_new(ctx, "alerts", /* stored without it: [alert] (context_head) */
                            json_pack("[O]", json_object_get(ctx, "alert")));
    } else {
        size_t i;
        json_t *al;
        json_array_foreach(json_object_get(ctx, "alerts"), i, al)
            lift_tickets(al);
    }
    json_object_set_new(json_object_get(ctx, "notification"), "attempt",
                        json_integer((json_int_t)rec->attempts + 1));
    if (ticket)
        inject_ticket(rec, ticket, ctx);
    json_decref(ticket);
    if (!pristine ||
        nctx_attempt_text(rec->ctx, rec->ctx_alen, rec->id, rec->attempts + 1, has_alerts, text))
        text->len = 0;
    *rc = TOCSIN_OK;
    return ctx;
}

static int ops_setup(void *ud, const struct notify_rec *rec, CURL *easy, void **state, char *err,
                     size_t errlen)
{
    struct app *a = ud;
    struct nwire *nw = NW(a);
    struct dstate *d;
    struct buf *text = &nw->text[notifier_thread_index()];
    json_t *ctx;
    int rc;

    *state = NULL;
    d = calloc(1, sizeof(*d));
    if (!d)
        return TOCSIN_ENOMEM;
    d->e = entry_get(nw, rec->channel_id);
    if (!d->e) {
        free(d);
        snprintf(err, errlen, "channel '%.64s' does not exist (any more)", rec->channel_id);
        return TOCSIN_EINVAL;
    }
    *state = d;
    scratch_reset(text);
    ctx = attempt_ctx(nw, rec, text, &rc);
    if (!ctx) {
        snprintf(err, errlen, "%s", rc == TOCSIN_ENOMEM ? "out of memory"
                                                        : "the notification's context is unreadable");
        return rc;
    }
    rc = chan_render_text(d->e->c, ctx, text->len ? text->p : NULL, text->len,
                          a->real.now_ms(a->real.ud), &d->req, err, errlen);
    json_decref(ctx);
    if (rc)
        return rc == TOCSIN_ENOMEM ? rc : TOCSIN_EINVAL;
    if (d->req.noop)
        return NOTIFIER_NOTHING_TO_SEND; /* err says why */
    if (!json_object_get(json_object_get(d->e->doc, "config"), "timeout") &&
        a->cfg->notify_timeout_ms > 0)
        d->req.timeout_ms = a->cfg->notify_timeout_ms; /* notify.timeout unless the channel says */
    creq_xfer_init(&d->x);
    return creq_setup_fresh(easy, &d->req, &d->x, err, errlen); /* the notifier reset it */
}

static void ops_judge(void *ud, const struct notify_rec *rec, void *state, int curl_code,
                      const struct chan_resp *resp, struct notify_verdict *v)
{
    struct app *a = ud;
    struct dstate *d = state;
    struct chan_outcome o = {0};

    (void)curl_code;
    if (!d || !d->e)
        return;
    if (chan_check(d->e->c, &d->req, resp, a->real.now_ms(a->real.ud), &o) != TOCSIN_OK)
        return; /* out of memory: the notifier's own verdict stands */
    v->ok = o.verdict == CHAN_DELIVERED;
    v->permanent = o.verdict == CHAN_FAILED;
    if (o.retry_after_ms > v->retry_after_ms)
        v->retry_after_ms = o.retry_after_ms;
    if (o.reason[0])
        snprintf(v->reason, sizeof(v->reason), "%s", o.reason);
    if (o.ticket) {
        v->ticket = json_dumps(o.ticket, JSON_COMPACT);
        if (v->ticket)
            remember_ticket(NW(a), rec, v->ticket);
    }
    chan_outcome_clear(&o);
}

static void ops_release(void *ud, void *state)
{
    struct app *a = ud;
    struct dstate *d = state;

    if (!d)
        return;
    creq_xfer_clear(&d->x);
    chan_req_free(&d->req);
    if (d->e)
        entry_unref(NW(a), d->e);
    free(d);
}

static void ops_limits(void *ud, const char *channel_id, unsigned *concurrency, double *rate)
{
    struct app *a = ud;
    struct nwire *nw = NW(a);
    struct chan_entry *e;

    pthread_mutex_lock(&nw->mu);
    e = smap_get(&nw->chans, channel_id, strlen(channel_id));
    *concurrency = e ? e->concurrency : 0;
    *rate = e ? e->rate : 0;
    pthread_mutex_unlock(&nw->mu);
}

const struct notifier_channel_ops nwire_channel_ops = {
    .setup = ops_setup, .judge = ops_judge, .release = ops_release, .limits = ops_limits};

/* ---- contexts and records ---------------------------------------------------------------- */

/* A JSON string (quoted) of s, or null. */
static int put_jstr(struct buf *b, const char *s)
{
    if (!s)
        return buf_puts(b, "null");
    return buf_putc(b, '"') || buf_json_escape(b, s, strlen(s)) || buf_putc(b, '"');
}

static void uuid_of(const char *key, const char *channel, char out[TOCSIN_ID_LEN + 1])
{
    uint8_t h[16];
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const unsigned char *)key, strlen(key));
    crypto_generichash_update(&st, (const unsigned char *)"\x1f", 1);
    crypto_generichash_update(&st, (const unsigned char *)channel, strlen(channel));
    crypto_generichash_final(&st, h, sizeof(h));
    h[6] = (uint8_t)((h[6] & 0x0f) | 0x80); /* version 8: a name-derived id of our own */
    h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
    uuid_to_text(h, out);
}

/* The last alert rendered during one emit(): the rules that fire on one change (one intent
 * each) share its rendering. Alerts do not change during emit(). */
struct rcache {
    const struct alert *al;
    struct buf text;
    uint64_t hash; /* of text: the records' group (notify_rec.group) */
};

/* al's JSON in c->text: rendered once for all the rules that fire on one change. */
static int render_alert(struct app *a, struct rcache *c, const struct alert *al)
{
    if (c->al != al) {
        c->al = NULL;
        c->text.len = 0;
        if (alert_render_json(&c->text, &a->sev, al, NW(a)->base_url))
            return TOCSIN_ENOMEM;
        c->al = al;
        c->hash = smap_hash(c->text.p, c->text.len) | 1; /* never 0: 0 is no group */
    }
    return TOCSIN_OK;
}

/* Bytes of a context besides its alerts, at most: what follows them (rule, group key and base
 * URL, each at most 6 bytes per byte once JSON-escaped) and CTX_FIXED for the rest and the
 * record's own part. */
static size_t ctx_tail_max(const struct nwire *nw, const struct nintent *in,
                           const struct nrule *rule)
{
    return CTX_FIXED + 6 * (strlen(in->rule_id) + (rule && rule->name ? strlen(rule->name) : 0) +
                            (in->group_key ? strlen(in->group_key) : 0) +
                            (nw->base_url ? strlen(nw->base_url) : 0));
}

static void tomb_drop_oldest(struct nwire *nw)
{
    struct tomb *t = nw->tomb_old;

    if (smap_get(&nw->tombs, (const char *)t->a->id, 16) == t)
        smap_del(&nw->tombs, (const char *)t->a->id, 16);
    nw->tomb_old = t->next;
    if (!nw->tomb_old)
        nw->tomb_new = NULL;
    nw->ntombs--;
    alert_free(t->a);
    free(t);
}

/* Keeps a copy of a, deleted at `now` while a member of a group; out of memory: not kept (the
 * group's flush then leaves it out, as it did before). */
static void tomb_add(struct nwire *nw, const struct alert *a, int64_t now)
{
    struct tomb *t;

    while (nw->tomb_old && (nw->ntombs >= TOMB_MAX || nw->tomb_old->at < now - TOMB_TTL_MS))
        tomb_drop_oldest(nw);
    t = calloc(1, sizeof(*t));
    if (!t || !(t->a = alert_clone(a))) {
        free(t);
        return;
    }
    t->at = now;
    if (smap_put(&nw->tombs, (const char *)t->a->id, 16, t, NULL)) {
        alert_free(t->a);
        free(t);
        return;
    }
    if (nw->tomb_new)
        nw->tomb_new->next = t;
    else
        nw->tomb_old = t;
    nw->tomb_new = t;
    nw->ntombs++;
}

static const struct alert *tomb_find(const struct nwire *nw, const uint8_t id[16])
{
    const struct tomb *t = smap_get(&nw->tombs, (const char *)id, 16);

    return t ? t->a : NULL;
}

/* The context every channel of an intent shares, as JSON text without its closing brace:
 * {"alert":A,"alerts":[A,...],"change","status","rule","group","tocsin" (see channel.h). The
 * alerts' JSON is the API's rendering, spliced in as it is (no parse and dump again); "alerts"
 * is left out when it would be [alert] (ops_setup puts it back). The first alert may take the
 * context up to CTX_MAX; the others are added while it stays within a channel's body
 * (CHAN_MAX_BODY: a webhook's default body is the context itself), GROUP_CTX_ALERTS at most,
 * firing first; group.firing and group.resolved count them all. TOCSIN_OK, TOCSIN_ENOTFOUND
 * when every alert is gone (nothing to send), TOCSIN_ETOOBIG when not even the first alert
 * fits, TOCSIN_ENOMEM. */
static int context_head(struct app *a, const struct nintent *in, struct rcache *cache,
                        struct buf *b, char alert_id[TOCSIN_ID_LEN + 1], uint64_t *group,
                        size_t *alen)
{
    struct nwire *nw = NW(a);
    const struct nrule *rule = nrules_get(nw->rules, in->rule_id);
    size_t shown = 0, first_len = 0, tail = ctx_tail_max(nw, in, rule);
    /* room for the alerts: the first one's, then all of them (0: none fits) */
    size_t room1 = tail < CTX_MAX ? CTX_MAX - tail : 0,
           room = tail < CHAN_MAX_BODY ? CHAN_MAX_BODY - tail : 0;
    int rc = buf_puts(b, "{\"alert\":");

    for (size_t i = 0; !rc && i < in->nalerts && shown < GROUP_CTX_ALERTS; i++) {
        const struct alert *al = alertdb_find(a->alerts, in->alert_ids[i]);
        if (!al && in->gone && !memcmp(in->gone->id, in->alert_ids[i], 16))
            al = in->gone; /* a resolve owed at its delete, in this turn */
        if (!al && !(al = tomb_find(nw, in->alert_ids[i]))) /* a deleted group member */
            continue;
        if ((rc = render_alert(a, cache, al)))
            break;
        /* this alert, a comma, and the second time the list's opening with the first again */
        if (b->len + cache->text.len + 16 + (shown == 1 ? first_len : 0) > (shown ? room : room1)) {
            if (!shown)
                rc = TOCSIN_ETOOBIG;
            break; /* the others are left out, counted in group.firing/resolved */
        }
        if (shown == 1) { /* the list opens with the first again (b grows: copy it first) */
            char *first = malloc(first_len);
            rc = !first;
            if (first)
                memcpy(first, b->p + 9, first_len);
            rc = rc || buf_puts(b, ",\"alerts\":[") || buf_append(b, first, first_len);
            free(first);
        }
        if (!rc && shown)
            rc = buf_putc(b, ',');
        if (!rc)
            rc = buf_append(b, cache->text.p, cache->text.len);
        if (!shown) {
            first_len = b->len - 9; /* after {"alert": */
            uuid_to_text(al->id, alert_id);
        }
        shown++;
    }
    if (rc)
        return rc == TOCSIN_ETOOBIG ? rc : TOCSIN_ENOMEM;
    if (!shown)
        return TOCSIN_ENOTFOUND;
    *group = shown == 1 ? cache->hash : 0; /* one alert's notifications of one state */
    *alen = shown == 1 ? first_len : 0;    /* {"alert":A, with A first_len bytes */
    if (shown > 1)
        rc = buf_putc(b, ']');
    /* puts, not printf: this runs for every rule that fires, and printf's parse of its format
     * was 8 % of the engine thread */
    rc = rc || buf_puts(b, ",\"change\":\"") || buf_puts(b, achg_name(in->chg)) ||
         buf_puts(b, in->resolved ? "\",\"status\":\"resolved\"" : "\",\"status\":\"firing\"") ||
         buf_puts(b, ",\"rule\":{\"id\":") || put_jstr(b, in->rule_id) ||
         buf_puts(b, ",\"name\":") || put_jstr(b, rule ? rule->name : NULL) ||
         buf_puts(b, "},\"group\":{\"key\":") || put_jstr(b, in->group_key ? in->group_key : "") ||
         buf_puts(b, ",\"firing\":") || buf_put_i64(b, (int64_t)in->nfiring) ||
         buf_puts(b, ",\"resolved\":") || buf_put_i64(b, (int64_t)(in->nalerts - in->nfiring)) ||
         buf_puts(b, "},\"tocsin\":{\"url\":") || put_jstr(b, nw->base_url) || buf_putc(b, '}');
    return rc ? TOCSIN_ENOMEM : TOCSIN_OK;
}

/* A new string: head's bytes, then tail's. */
static char *concat(const struct buf *head, const struct buf *tail)
{
    char *s = malloc(head->len + tail->len + 1);

    if (s) {
        memcpy(s, head->p, head->len);
        memcpy(s + head->len, tail->p, tail->len);
        s[head->len + tail->len] = '\0';
    }
    return s;
}

/* One outbox record per channel of the intent, appended to fx. head and one are the caller's
 * scratch buffers (emptied here), kept across intents so that they do not grow again each time. */
static void intent_records(struct app *a, const struct nintent *in, struct rcache *cache,
                           struct buf *head, struct buf *one, struct effects *fx)
{
    struct nwire *nw = NW(a);
    char alert_id[TOCSIN_ID_LEN + 1];
    int64_t wall = a->real.now_ms(a->real.ud);
    uint64_t group = 0;
    size_t alen = 0;
    int rc;

    buf_reset(head);
    rc = context_head(a, in, cache, head, alert_id, &group, &alen);
    if (rc) { /* every alert gone: nothing to tell; the others are said */
        if (rc != TOCSIN_ENOTFOUND)
            log_warn("notify_skipped", "rule=%s reason=\"%s\"", in->rule_id,
                     rc == TOCSIN_ETOOBIG ? "the alert's JSON is over the context's 4 MiB"
                                          : "out of memory");
        return;
    }
    for (size_t c = 0; c < in->nchannels; c++) {
        struct chan_entry *e = entry_get(nw, in->channels[c]);
        struct notify_rec *r;
        if (!e) {
            log_warn("notify_skipped", "rule=%s channel=%s reason=\"no such channel\"",
                     in->rule_id, in->channels[c]);
            continue;
        }
        r = calloc(1, sizeof(*r));
        if (!r) {
            entry_unref(nw, e);
            break;
        }
        uuid_of(in->key, e->id, r->id);
        buf_reset(one); /* what follows the head */
        if (!buf_puts(one, ",\"notification\":{\"id\":\"") && !buf_puts(one, r->id) &&
            !buf_puts(one, "\"},\"channel\":{\"id\":") && !put_jstr(one, e->id) &&
            !buf_puts(one, ",\"type\":") && !put_jstr(one, e->type) && !buf_puts(one, "}}") &&
            head->len + one->len <= CTX_MAX)
            r->ctx = concat(head, one);
        r->ctx_alen = alen;
        memcpy(r->alert_id, alert_id, sizeof(r->alert_id));
        r->rule_id = strdup(in->rule_id);
        r->channel_id = strdup(e->id);
        r->channel = strdup(e->type);
        r->change = strdup(achg_name(in->chg));
        r->method = strdup("");
        r->url = strdup("");
        r->headers_json = strdup("[]");
        r->body = strdup("");
        r->resolve = in->resolved;
        r->tls_verify = true;
        r->status = NOTIFY_PENDING;
        r->max_attempts = e->max_attempts ? e->max_attempts : a->cfg->notify_max_attempts;
        r->created_ms = r->updated_ms = wall;
        r->next_ms = 0;
        /* a channel that keeps tickets sends even one change's notifications one by one: the
         * second rule's must see the ticket the first one's declared */
        r->group = chan_keeps_tickets(e->c) ? 0 : group;
        entry_unref(nw, e);
        if (!r->rule_id || !r->channel_id || !r->channel || !r->change || !r->ctx ||
            !r->method || !r->url || !r->headers_json || !r->body) {
            notify_rec_free(r);
            continue;
        }
        effects_push(fx, EFF_NOTIFY, r);
    }
}

static void emit(struct app *a, struct nintents *ins, struct effects *fx)
{
    struct nwire *nw = NW(a);
    struct rcache cache = {.al = NULL};

    if (!ins->n)
        return;
    cache.text = nw->e_alert;
    for (size_t i = 0; i < ins->n; i++)
        intent_records(a, &ins->v[i], &cache, &nw->e_head, &nw->e_one, fx);
    nw->e_alert = cache.text;
    scratch_reset(&nw->e_alert);
    scratch_reset(&nw->e_head);
    scratch_reset(&nw->e_one);
    nintents_clear(ins);
}

void nwire_after_turn(struct app *a, struct effects *fx, size_t from, int64_t now_ms)
{
    struct nwire *nw = NW(a);
    struct nintents ins;
    size_t end = fx->n;

    if (!nw || !nrules_count(nw->rules))
        return;
    nintents_init(&ins);
    for (size_t i = from; i < end; i++) {
        const struct effect *e = &fx->v[i];
        const struct alert_change *c;
        if (e->kind != EFF_ACHANGE)
            continue;
        c = e->u.achange;
        if (c->op == ACH_DEL) { /* its states go (delays, groups, inhibition), owed resolves out */
            if (c->snap && nrules_in_group(nw->rules, c->id))
                tomb_add(nw, c->snap, now_ms);
            nrules_on_change(nw->rules, c->snap, c, now_ms, &ins);
            continue;
        }
        if (!c->snap || !c->chg)
            continue;
        nrules_on_change(nw->rules, c->snap, c, now_ms, &ins);
    }
    emit(a, &ins, fx);
    nintents_free(&ins);
}

static const struct alert *find_alert(void *ud, const uint8_t id[16])
{
    return alertdb_find(((struct app *)ud)->alerts, id);
}

static void store_obj(struct effects *fx, const char *kind, const char *id, char *json)
{
    struct object_rec *o = object_rec_new(kind, id, json);

    free(json);
    if (o)
        effects_push(fx, EFF_OBJECT, o);
}

/* The rules' state (groups with their timers and what they last sent, pending delays, owed
 * resolves) as one stored object, so a restart resumes it. */
static char *state_text(struct nwire *nw)
{
    json_t *st = nrules_state_json(nw->rules);
    char *s = st ? json_dumps(st, JSON_COMPACT) : NULL;

    json_decref(st);
    return s;
}

void nwire_advance(struct app *a, int64_t now_ms, struct effects *fx)
{
    struct nwire *nw = NW(a);
    struct nintents ins;

    if (!nw)
        return;
    nintents_init(&ins);
    nrules_advance(nw->rules, now_ms, find_alert, a, &ins);
    emit(a, &ins, fx);
    nintents_free(&ins);
    if (now_ms - nw->state_saved_ms >= STATE_SAVE_MS) {
        struct nrules_stats st;
        nrules_get_stats(nw->rules, &st);
        nw->state_saved_ms = now_ms;
        if (st.groups || st.delayed || st.alert_states)
            store_obj(fx, "nrules", "state", state_text(nw));
    }
}

void nwire_get_stats(const struct app *a, struct nrules_stats *out)
{
    const struct nwire *nw = NW(a);

    memset(out, 0, sizeof(*out));
    if (nw)
        nrules_get_stats(nw->rules, out);
}

int64_t nwire_next_deadline(const struct app *a)
{
    return NW(a) ? nrules_next_deadline(NW(a)->rules) : INT64_MAX;
}

/* ---- requests ---------------------------------------------------------------------------- */

static char *err_body(int status, const struct verr *e)
{
    return api_error_json(status, e->field[0] ? e->field : NULL, e->msg, false);
}

static char *dump(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return s;
}

static const struct tz *tz_lookup(void *ud, const char *name)
{
    (void)ud;
    return tz_get(name);
}

/* Every rule's channels must exist. */
static int rule_channels_exist(struct nwire *nw, const json_t *doc, struct verr *err)
{
    const json_t *chs = json_object_get(doc, "channels"), *v;
    size_t i;

    json_array_foreach(chs, i, v) {
        const char *id = json_string_value(v);
        bool ok;
        if (!id)
            continue; /* the rule parser reports the type */
        pthread_mutex_lock(&nw->mu);
        ok = smap_get(&nw->chans, id, strlen(id)) != NULL;
        pthread_mutex_unlock(&nw->mu);
        if (!ok) {
            char field[32];
            snprintf(field, sizeof(field), "channels[%zu]", i);
            return verr_set(err, field, "no channel '%.64s'", id);
        }
    }
    return TOCSIN_OK;
}

static void track_one(void *ud, const struct alert *al)
{
    nrules_track(ud, al);
}

static int rule_apply(struct app *a, json_t *doc, bool from_file, struct verr *err)
{
    struct nwire *nw = NW(a);
    struct nrule *r = NULL;
    int rc;

    json_object_del(doc, "source"); /* where a file item came from: not part of the rule */
    rc = rule_channels_exist(nw, doc, err);
    if (!rc)
        rc = nrule_parse(doc, &a->sev, tz_lookup, NULL, &r, err);
    if (rc)
        return rc;
    {
        bool inhibits = r->inhibit_source != NULL;
        rc = nrules_put(nw->rules, r);
        if (rc)
            return rc == TOCSIN_ETOOBIG ? verr_set(err, "id", "too many rules") : rc;
        if (inhibits) /* its source index starts empty: every live alert may be a source */
            alertdb_foreach(a->alerts, track_one, nw->rules);
    }
    json_object_set(nw->rule_docs, json_string_value(json_object_get(doc, "id")), doc);
    if (from_file)
        json_object_set_new(nw->file_rules, json_string_value(json_object_get(doc, "id")),
                            json_true());
    return TOCSIN_OK;
}


/* POST /channels (create) and PUT /channels/{id} (replace; "********" keeps a secret). */
static bool channel_write(struct app *a, struct nreq *r, struct effects *fx, int *status,
                          char **body)
{
    struct nwire *nw = NW(a);
    struct verr err = {0};
    struct chan_entry *e, *old;
    json_t *doc;
    int rc;

    doc = r->body;
    if (!json_is_object(doc)) {
        *status = 400;
        *body = api_error_json(400, NULL, "the body must be a JSON object", false);
        return true;
    }
    if (r->op == NR_CH_PUT) {
        const char *bid = json_string_value(json_object_get(doc, "id"));
        if (bid && strcmp(bid, r->id) != 0) {
            *status = 400;
            *body = api_error_json(400, "id", "differs from the id in the path", false);
            return true;
        }
        json_object_set_new(doc, "id", json_string(r->id));
    }
    {
        const char *id = json_string_value(json_object_get(doc, "id"));
        old = id ? entry_get(nw, id) : NULL;
    }
    if (old && (r->op == NR_CH_POST || old->from_file)) {
        *status = 409;
        *body = api_error_json(409, "id",
                               old->from_file ? "this channel is defined in a file"
                                              : "a channel with this id exists",
                               false);
        entry_unref(nw, old);
        return true;
    }
    if (old && json_is_object(json_object_get(doc, "config"))) {
        char merr[200] = "";
        const char *keys[SECRET_KEYS_MAX];
        char store[SECRET_KEYS_MAX][128];
        secret_keys(old->type, json_object_get(doc, "config"), keys, store);
        if (secrets_merge_masked(json_object_get(doc, "config"),
                                 json_object_get(old->doc, "config"), keys, merr,
                                 sizeof(merr))) {
            entry_unref(nw, old);
            *status = 400;
            *body = api_error_json(400, "config", merr, false);
            return true;
        }
    }
    if (old)
        entry_unref(nw, old);
    json_object_del(doc, "source");
    rc = entry_build(doc, false, &e, &err);
    if (rc) {
        *status = rc == TOCSIN_ENOMEM ? 503 : 400;
        *body = rc == TOCSIN_ENOMEM ? api_error_json(503, NULL, "out of memory", false)
                                    : err_body(400, &err);
        return true;
    }
    store_obj(fx, "channel", e->id, entry_stored(nw, e));
    *status = old ? 200 : 201;
    *body = dump(entry_public(e));
    entry_set(nw, e->id, e);
    return true;
}

/* The id of a rule that sends to channel id, or NULL. */
static const char *rule_sending_to(struct nwire *nw, const char *id)
{
    const char *rid;
    json_t *rd, *v;
    size_t i;

    json_object_foreach(nw->rule_docs, rid, rd) {
        json_array_foreach(json_object_get(rd, "channels"), i, v)
            if (json_is_string(v) && !strcmp(json_string_value(v), id))
                return rid;
    }
    return NULL;
}

static bool handle_channel(struct app *a, struct nreq *r, struct effects *fx, int *status,
                           char **body)
{
    struct nwire *nw = NW(a);
    const char *rid;
    struct chan_entry *e;

    switch (r->op) {
    case NR_CH_LIST: {
        json_t *arr = json_array();
        size_t it;
        pthread_mutex_lock(&nw->mu);
        for (struct smap_entry *s = smap_first(&nw->chans, &it); s;
             s = smap_next(&nw->chans, s, &it))
            json_array_append_new(arr, entry_public(s->value));
        pthread_mutex_unlock(&nw->mu);
        *status = 200;
        *body = dump(json_pack("{s:o,s:I}", "channels", arr, "total",
                               (json_int_t)json_array_size(arr)));
        return true;
    }
    case NR_CH_GET:
        e = entry_get(nw, r->id);
        if (!e)
            break;
        *status = 200;
        *body = dump(entry_public(e));
        entry_unref(nw, e);
        return true;
    case NR_CH_DEL:
        e = entry_get(nw, r->id);
        if (!e)
            break;
        if (e->from_file) {
            entry_unref(nw, e);
            *status = 409;
            *body = api_error_json(409, "id", "this channel is defined in a file", false);
            return true;
        }
        entry_unref(nw, e);
        if ((rid = rule_sending_to(nw, r->id))) {
            char msg[200];
            snprintf(msg, sizeof(msg), "rule '%.64s' sends to this channel", rid);
            *status = 409;
            *body = api_error_json(409, "id", msg, false);
            return true;
        }
        entry_set(nw, r->id, NULL);
        store_obj(fx, "channel", r->id, NULL);
        *status = 200;
        *body = dump(json_pack("{s:s}", "status", "ok"));
        return true;
    case NR_CH_POST:
    case NR_CH_PUT: return channel_write(a, r, fx, status, body);
    default: break;
    }
    *status = 404;
    *body = api_error_json(404, "id", "no such channel", false);
    return true;
}

/* POST /rules (create; an id is made when none is given) and PUT /rules/{id} (replace). */
static bool rule_write(struct app *a, struct nreq *r, struct effects *fx, int *status,
                       char **body)
{
    struct nwire *nw = NW(a);
    struct verr err = {0};
    json_t *doc, *have;
    const char *id;
    int rc;

    doc = r->body;
    if (!json_is_object(doc)) {
        *status = 400;
        *body = api_error_json(400, NULL, "the body must be a JSON object", false);
        return true;
    }
    if (r->op == NR_RU_PUT) {
        const char *bid = json_string_value(json_object_get(doc, "id"));
        if (bid && strcmp(bid, r->id) != 0) {
            *status = 400;
            *body = api_error_json(400, "id", "differs from the id in the path", false);
            return true;
        }
        json_object_set_new(doc, "id", json_string(r->id));
    } else if (!json_object_get(doc, "id")) {
        char uid[TOCSIN_ID_LEN + 1];
        id_uuid4(uid);
        json_object_set_new(doc, "id", json_string(uid));
    }
    json_object_del(doc, "source");
    id = json_string_value(json_object_get(doc, "id"));
    if (!id) {
        *status = 400;
        *body = api_error_json(400, "id", "must be a string", false);
        return true;
    }
    have = json_object_get(nw->rule_docs, id);
    if (have && (r->op == NR_RU_POST || json_object_get(nw->file_rules, id))) {
        *status = 409;
        *body = api_error_json(409, "id",
                               json_object_get(nw->file_rules, id)
                                   ? "this rule is defined in a file"
                                   : "a rule with this id exists",
                               false);
        return true;
    }
    rc = rule_apply(a, doc, false, &err);
    if (rc) {
        *status = rc == TOCSIN_ENOMEM ? 503 : 400;
        *body = rc == TOCSIN_ENOMEM ? api_error_json(503, NULL, "out of memory", false)
                                    : err_body(400, &err);
        return true;
    }
    store_obj(fx, "rule", id, json_dumps(doc, JSON_COMPACT));
    *status = have ? 200 : 201;
    *body = dump(json_deep_copy(doc));
    return true;
}

static bool handle_rule(struct app *a, struct nreq *r, struct effects *fx, int *status,
                        char **body)
{
    struct nwire *nw = NW(a);
    json_t *have;

    switch (r->op) {
    case NR_RU_LIST: {
        json_t *arr = json_array(), *v;
        const char *k;
        json_object_foreach(nw->rule_docs, k, v) {
            json_t *c = json_deep_copy(v);
            json_object_set_new(c, "source",
                                json_string(json_object_get(nw->file_rules, k) ? "file" : "api"));
            json_array_append_new(arr, c);
        }
        *status = 200;
        *body = dump(json_pack("{s:o,s:I}", "rules", arr, "total",
                               (json_int_t)json_array_size(arr)));
        return true;
    }
    case NR_RU_GET:
        have = json_object_get(nw->rule_docs, r->id);
        if (!have)
            break;
        *status = 200;
        *body = dump(json_deep_copy(have));
        return true;
    case NR_RU_DEL:
        if (!json_object_get(nw->rule_docs, r->id))
            break;
        if (json_object_get(nw->file_rules, r->id)) {
            *status = 409;
            *body = api_error_json(409, "id", "this rule is defined in a file", false);
            return true;
        }
        nrules_del(nw->rules, r->id);
        json_object_del(nw->rule_docs, r->id);
        store_obj(fx, "rule", r->id, NULL);
        *status = 200;
        *body = dump(json_pack("{s:s}", "status", "ok"));
        return true;
    case NR_RU_POST:
    case NR_RU_PUT: return rule_write(a, r, fx, status, body);
    default: break;
    }
    *status = 404;
    *body = api_error_json(404, "id", "no such rule", false);
    return true;
}

/* A ticket learnt by a delivery goes into the alert's attributes: ticket, ticketUrl and
 * tickets.<channel>. */
static void handle_ticket(struct app *a, struct nreq *r, int64_t now_ms, struct effects *fx)
{
    uint8_t id[16];
    struct alert *al;
    json_t *t = r->ticket ? json_loads(r->ticket, 0, NULL) : NULL, *all = NULL;
    struct kv kv[3];
    struct kvlist attrs = {.v = kv, .n = 0};
    char *s_id = NULL, *s_url = NULL, *s_all = NULL;

    if (!t || !r->id || !uuid_from_text(r->id, strlen(r->id), id) ||
        !(al = alertdb_find(a->alerts, id)))
        goto out;
    {
        struct aview v = alert_get(al, AF_ATTRIBUTES);
        uint32_t pos = 0;
        const char *k, *val;
        while (aview_next(&v, &pos, &k, &val))
            if (!strcmp(k, "tickets"))
                all = json_loads(val, 0, NULL);
    }
    if (!json_is_object(all)) {
        json_decref(all);
        all = json_object();
    }
    json_object_set(all, r->channel, t);
    if (json_is_string(json_object_get(t, "id")))
        s_id = json_dumps(json_object_get(t, "id"), JSON_ENCODE_ANY);
    if (json_is_string(json_object_get(t, "url")))
        s_url = json_dumps(json_object_get(t, "url"), JSON_ENCODE_ANY);
    s_all = json_dumps(all, JSON_COMPACT);
    if (s_id)
        kv[attrs.n++] = (struct kv){.k = "ticket", .v = s_id};
    if (s_url)
        kv[attrs.n++] = (struct kv){.k = "ticketUrl", .v = s_url};
    if (s_all)
        kv[attrs.n++] = (struct kv){.k = "tickets", .v = s_all};
    alertdb_attributes(a->alerts, id, &attrs, now_ms, fx);
out:
    free(s_id);
    free(s_url);
    free(s_all);
    json_decref(t);
    json_decref(all);
}

/* A sample notification through the channel, delivered once and never stored. */
static bool handle_test(struct app *a, struct emsg *m, struct nreq *r, int *status, char **body)
{
    struct nwire *nw = NW(a);
    struct chan_entry *e = entry_get(nw, r->id);
    struct notify_rec *rec;
    json_t *ctx;

    if (!e) {
        *status = 404;
        *body = api_error_json(404, "id", "no such channel", false);
        return true;
    }
    ctx = chan_sample_context();
    rec = calloc(1, sizeof(*rec));
    if (!ctx || !rec) {
        json_decref(ctx);
        free(rec);
        entry_unref(nw, e);
        *status = 503;
        *body = api_error_json(503, NULL, "out of memory", false);
        return true;
    }
    id_uuid4(rec->id);
    json_object_set_new(ctx, "notification", json_pack("{s:s,s:b}", "id", rec->id, "test", 1));
    json_object_set_new(ctx, "channel", json_pack("{s:s,s:s}", "id", e->id, "type", e->type));
    rec->ctx = json_dumps(ctx, JSON_COMPACT);
    rec->channel_id = strdup(e->id);
    rec->channel = strdup(e->type);
    rec->change = strdup("test");
    rec->max_attempts = 1;
    rec->tls_verify = true;
    rec->test_req = m->req_id;
    json_decref(ctx);
    entry_unref(nw, e);
    if (!rec->ctx || !rec->channel_id || !rec->channel || !rec->change ||
        notifier_submit(a->notifier, rec) != TOCSIN_OK) {
        notify_rec_free(rec);
        *status = 503;
        *body = api_error_json(503, NULL, "the notifier is busy; try again", false);
        return true;
    }
    return false; /* the notifier's result answers */
}

bool nwire_is_test(const struct notify_rec *rec)
{
    return rec->test_req != 0;
}

void nwire_test_done(struct app *a, struct notify_rec *rec, const struct notify_attempt_info *at)
{
    struct http_resp resp = {.status = 200};
    json_t *o = json_pack("{s:b,s:s?,s:I,s:s?,s:s?,s:o}", "delivered",
                          rec->status == NOTIFY_DELIVERED, "notification", rec->id,
                          "durationMs", (json_int_t)at->duration_ms, "error", at->error,
                          "response", at->response, "httpStatus",
                          at->http ? json_integer(at->http) : json_null());

    if (rec->ticket && o)
        json_object_set_new(o, "ticket", json_loads(rec->ticket, 0, NULL));
    resp.body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    resp.body_len = resp.body ? strlen(resp.body) : 0;
    json_decref(o);
    net_complete(a->net, rec->test_req, &resp);
    notify_rec_free(rec);
}

bool nwire_handle(struct app *a, struct emsg *m, struct effects *fx, int64_t now_ms,
                  int *status, char **body)
{
    struct nreq *r = m->nreq;

    *status = 0;
    *body = NULL;
    if (!r || !NW(a)) {
        *status = 503;
        *body = api_error_json(503, NULL, "notifications are not available", false);
        return true;
    }
    switch (r->op) {
    case NR_TICKET: handle_ticket(a, r, now_ms, fx); return false;
    case NR_RELOAD: nwire_reload_files(a); return false;
    case NR_CH_TEST: return handle_test(a, m, r, status, body);
    case NR_RU_LIST:
    case NR_RU_GET:
    case NR_RU_POST:
    case NR_RU_PUT:
    case NR_RU_DEL: return handle_rule(a, r, fx, status, body);
    default: return handle_channel(a, r, fx, status, body);
    }
}

/* ---- start-up, files, shutdown ------------------------------------------------------------ */

int nwire_open(struct app *a)
{
    struct nwire *nw = calloc(1, sizeof(*nw));
    char err[256];

    if (!nw)
        return -1;
    pthread_mutex_init(&nw->mu, NULL);
    smap_init(&nw->chans);
    smap_init(&nw->tickets);
    smap_init(&nw->tombs);
    for (size_t i = 0; i < NOTIFIER_MAX_THREADS; i++)
        buf_init(&nw->text[i], CTX_MAX);
    buf_init(&nw->e_alert, CTX_MAX);
    buf_init(&nw->e_head, CTX_MAX);
    buf_init(&nw->e_one, CTX_MAX);
    a->nwire = nw;
    nw->rules = nrules_new(&a->sev, app_now_ms(a));
    nw->rule_docs = json_object();
    nw->file_rules = json_object();
    nw->base_url = strdup(a->cfg->notify_base_url && *a->cfg->notify_base_url
                              ? a->cfg->notify_base_url
                              : "");
    if (!nw->rules || !nw->rule_docs || !nw->file_rules || !nw->base_url) {
        log_error("start_failed", "reason=\"out of memory\" part=notifications");
        return -1;
    }
    if (secrets_load(a->cfg->data_dir, &nw->sec, err, sizeof(err))) {
        log_error("start_failed", "reason=\"%s\" part=secrets", err);
        return -1;
    }
    return 0;
}

static int open_secrets(struct nwire *nw, const char *id, const char *type, json_t *cfg,
                        char *why, size_t n)
{
    const char *keys[SECRET_KEYS_MAX];
    char store[SECRET_KEYS_MAX][128];

    if (!type)
        return 0; /* entry_build says what is wrong */
    secret_keys(type, cfg, keys, store);
    return secrets_open_json(nw->sec, id, cfg, keys, why, n);
}

static int load_channel(void *ud, const char *id, const char *json)
{
    struct app *a = ud;
    struct nwire *nw = NW(a);
    json_t *doc = json_loads(json, 0, NULL);
    json_t *cfg = json_object_get(doc, "config");
    struct chan_entry *e = NULL;
    struct verr err = {0};
    char why[512] = "";

    if (!doc) {
        snprintf(why, sizeof(why), "stored JSON is unreadable");
    } else if (cfg && open_secrets(nw, id, json_string_value(json_object_get(doc, "type")), cfg,
                                   why, sizeof(why))) {
        /* why says it */
    } else if (entry_build(doc, false, &e, &err)) {
        snprintf(why, sizeof(why), "%s: %s", err.field, err.msg);
    }
    if (e)
        entry_set(nw, e->id, e);
    else
        log_warn("channel_skipped", "channel=%s reason=\"%s\"", id, why);
    json_decref(doc);
    return TOCSIN_OK;
}

static int load_rule(void *ud, const char *id, const char *json)
{
    struct app *a = ud;
    json_t *doc = json_loads(json, 0, NULL);
    struct verr err = {0};

    if (!doc || rule_apply(a, doc, false, &err))
        log_warn("rule_skipped", "rule=%s field=%s reason=\"%s\"", id, err.field,
                 doc ? err.msg : "stored JSON is unreadable");
    json_decref(doc);
    return TOCSIN_OK;
}

/* notify.files ("path,path", at most 64) through daemon/nconf.h. */
static json_t *load_files(const char *list, char *err, size_t errlen)
{
    char *copy = strdup(list), *save = NULL;
    const char *paths[64];
    size_t np = 0;
    json_t *all;

    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (char *t = strtok_r(copy, ",", &save); t && np < 64; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (*t)
            paths[np++] = t;
    }
    all = nconf_load(paths, np, err, errlen);
    free(copy);
    return all;
}

/* Reads notify.files again: their channels and rules replace those they defined
 * before; an item that fails is logged and skipped (the others still load). */
void nwire_reload_files(struct app *a)
{
    struct nwire *nw = NW(a);
    char err[512];
    json_t *all, *items, *v;
    size_t i;
    const char *k;
    void *tmp;
    json_t *gone_rules;

    if (!a->cfg->notify_files || !*a->cfg->notify_files)
        return;
    all = load_files(a->cfg->notify_files, err, sizeof(err));
    if (!all) {
        log_error("notify_files_failed", "reason=\"%s\"", err);
        return;
    }
    /* channels first: rules name them */
    items = json_object_get(all, "channels");
    json_array_foreach(items, i, v) {
        struct chan_entry *e = NULL, *old;
        struct verr ve = {0};
        const char *id = json_string_value(json_object_get(v, "id"));
        old = id ? entry_get(nw, id) : NULL;
        if (old && !old->from_file) {
            log_warn("channel_skipped", "channel=%s source=%s reason=\"defined through the API\"",
                     id, json_string_value(json_object_get(v, "source")));
            entry_unref(nw, old);
            continue;
        }
        if (old)
            entry_unref(nw, old);
        if (entry_build(v, true, &e, &ve)) {
            log_error("channel_invalid", "source=%s field=%s reason=\"%s\"",
                      json_string_value(json_object_get(v, "source")), ve.field, ve.msg);
            continue;
        }
        entry_set(nw, e->id, e);
    }
    items = json_object_get(all, "rules");
    gone_rules = json_deep_copy(nw->file_rules);
    json_array_foreach(items, i, v) {
        struct verr ve = {0};
        const char *id = json_string_value(json_object_get(v, "id"));
        if (id && json_object_get(nw->rule_docs, id) && !json_object_get(nw->file_rules, id)) {
            log_warn("rule_skipped", "rule=%s reason=\"defined through the API\"", id);
            continue;
        }
        if (rule_apply(a, v, true, &ve)) {
            log_error("rule_invalid", "source=%s field=%s reason=\"%s\"",
                      json_string_value(json_object_get(v, "source")), ve.field, ve.msg);
            continue;
        }
        json_object_del(gone_rules, id);
    }
    json_object_foreach_safe(gone_rules, tmp, k, v) {
        nrules_del(nw->rules, k);
        json_object_del(nw->rule_docs, k);
        json_object_del(nw->file_rules, k);
    }
    log_info("notify_files_loaded", "channels=%zu rules=%zu",
             json_array_size(json_object_get(all, "channels")), json_array_size(items));
    json_decref(gone_rules);
    json_decref(all);
}

static int load_state(void *ud, const char *id, const char *json)
{
    struct app *a = ud;
    json_t *st = json_loads(json, 0, NULL);
    struct verr err = {0};

    if (!st || nrules_state_load(NW(a)->rules, st, &err))
        log_warn("rules_state_skipped", "id=%s field=%s reason=\"%s\"", id, err.field,
                 st ? err.msg : "unreadable");
    json_decref(st);
    return TOCSIN_OK;
}

int nwire_load(struct app *a)
{
    if (store_object_load(a->wstore, "channel", load_channel, a) ||
        store_object_load(a->wstore, "rule", load_rule, a)) {
        log_error("start_failed", "reason=\"cannot read the stored channels and rules\"");
        return -1;
    }
    nwire_reload_files(a);
    /* every live alert may be an inhibition source; then the state of groups and delays */
    alertdb_foreach(a->alerts, track_one, NW(a)->rules);
    if (store_object_load(a->wstore, "nrules", load_state, a))
        return -1;
    NW(a)->state_saved_ms = app_now_ms(a);
    return 0;
}

void nwire_save_state(struct app *a)
{
    struct nwire *nw = a ? NW(a) : NULL;
    char *s;

    if (!nw || !a->wstore || !nrules_count(nw->rules))
        return;
    s = state_text(nw);
    if (s && !store_begin(a->wstore)) {
        if (store_object_put(a->wstore, "nrules", "state", s) || store_commit(a->wstore)) {
            store_rollback(a->wstore);
            log_warn("rules_state_not_saved", "reason=\"store\"");
        }
    }
    free(s);
}

void nwire_close(struct app *a)
{
    struct nwire *nw = a ? NW(a) : NULL;
    size_t it;

    if (!nw)
        return;
    for (struct smap_entry *e = smap_first(&nw->chans, &it); e; e = smap_next(&nw->chans, e, &it))
        entry_unref(nw, e->value);
    smap_free(&nw->chans);
    for (struct smap_entry *e = smap_first(&nw->tickets, &it); e;
         e = smap_next(&nw->tickets, e, &it))
        free(e->value);
    smap_free(&nw->tickets);
    for (size_t i = 0; i < NOTIFIER_MAX_THREADS; i++) {
        nctx_cache_clear(&nw->parsed[i]);
        buf_free(&nw->text[i]);
    }
    buf_free(&nw->e_alert);
    buf_free(&nw->e_head);
    buf_free(&nw->e_one);
    while (nw->tomb_old)
        tomb_drop_oldest(nw);
    smap_free(&nw->tombs);
    nrules_free(nw->rules);
    json_decref(nw->rule_docs);
    json_decref(nw->file_rules);
    secrets_free(nw->sec);
    free(nw->base_url);
    pthread_mutex_destroy(&nw->mu);
    free(nw);
    a->nwire = NULL;
}
