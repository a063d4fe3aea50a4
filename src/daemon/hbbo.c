/* Heartbeats and blackouts on the engine thread (see hbbo.h). */
#include "daemon/hbbo.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "daemon/app.h"
#include "daemon/nwire.h"
#include "net/authz.h"
#include "net/net.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/err.h"
#include "util/id.h"
#include "util/log.h"

#define OWN_ORIGIN "tocsin"       /* origin of an alert sent without one (alertdb's default) */
#define OWN_SOURCE "heartbeat"    /* source of the alerts heartbeats raise */
#define ALERT_ARENA_MAX (1 << 20) /* bytes of one heartbeat alert or one blackout subject */
#define MSG_MAX 256               /* an error message built here */

struct hbbo {
    struct app *a;
    struct timer_wheel *wheel; /* the heartbeats' deadlines, the blackouts' starts and ends */
    struct heartbeat_table *hbs;
    struct blackout_set *bos;
    struct effects *fx; /* during a call: where changes go */
    int64_t check_ms;   /* during a release: the time blackouts are matched at */
};

void hbbo_req_free(struct hbbo_req *r)
{
    if (!r)
        return;
    free(r->id);
    json_decref(r->body);
    free(r);
}

/* ---- persistence --------------------------------------------------------------------------- */

static void put_object(struct hbbo *h, const char *kind, const char *id, char *json /* owned */)
{
    if (!json || effects_push(h->fx, EFF_OBJECT, object_rec_new(kind, id, json)))
        log_warn("object_not_saved", "kind=%s id=%s reason=\"out of memory\"", kind, id);
    free(json);
}

static void save_hb(struct hbbo *h, const struct heartbeat *hb)
{
    put_object(h, "heartbeat", hb->id, heartbeat_to_store(hb));
}

static void save_bo(struct hbbo *h, const struct blackout *b)
{
    put_object(h, "blackout", b->id, blackout_to_store(b));
}

static void forget(struct hbbo *h, const char *kind, const char *id)
{
    if (effects_push(h->fx, EFF_OBJECT, object_rec_new(kind, id, NULL)))
        log_warn("object_not_deleted", "kind=%s id=%s reason=\"out of memory\"", kind, id);
}

/* ---- alerts of our own --------------------------------------------------------------------- */

static bool is_normal(const struct app *a, const struct alert_in *in)
{
    int s =
        in->severity >= 0 && (size_t)in->severity < a->sev.n ? in->severity : a->sev.normal_name;
    return a->sev.code[s] == a->sev.normal;
}

/* Receives an alert a heartbeat raises, through the blackout plugin as Alerta would receive
 * the alert python-alerta-client sends for it. */
static int receive_own(struct hbbo *h, const struct alert_in *in, int64_t at)
{
    static const struct blackout_defaults d = {.origin = OWN_ORIGIN};
    struct app *a = h->a;
    struct alert *rec;
    int kind;
    enum blackout_decision dec = blackout_decide(h->bos, &a->sev, in, &d, at, NULL);

    if (dec == BLACKOUT_DROP)
        return TOCSIN_OK;
    return alertdb_receive(a->alerts, in, OWN_ORIGIN, OWN_SOURCE, NULL,
                           dec == BLACKOUT_SUPPRESS && !is_normal(a, in), at, h->fx, &rec, &kind);
}

/* The heartbeat came back (or went): its HeartbeatOK alert closes the HeartbeatFail one. Only
 * when that alert exists: a failure dropped by a blackout leaves nothing to close. */
static void resolve_alert(struct hbbo *h, const struct heartbeat *hb, int64_t at)
{
    struct arena ar;
    struct alert_in in;
    int rc;

    arena_init(&ar, ALERT_ARENA_MAX);
    rc = heartbeat_ok_alert(h->hbs, hb, &h->a->sev, at, &ar, &in);
    if (!rc &&
        alertdb_find_key(h->a->alerts, in.environment, in.resource, "HeartbeatFail", in.customer))
        rc = receive_own(h, &in, at);
    if (rc)
        log_warn("heartbeat_alert_failed", "heartbeat=%s alert=HeartbeatOK reason=\"%s\"", hb->id,
                 tocsin_strerror(rc));
    arena_free(&ar);
}

static void on_expired(void *ud, struct heartbeat *hb, int64_t deadline_ms)
{
    struct hbbo *h = ud;
    struct arena ar;
    struct alert_in in;
    int rc;

    arena_init(&ar, ALERT_ARENA_MAX);
    rc = heartbeat_fail_alert(h->hbs, hb, &h->a->sev, deadline_ms, &ar, &in);
    if (!rc)
        rc = receive_own(h, &in, deadline_ms);
    if (rc)
        log_warn("heartbeat_alert_failed", "heartbeat=%s alert=HeartbeatFail reason=\"%s\"", hb->id,
                 tocsin_strerror(rc));
    arena_free(&ar);
    save_hb(h, hb); /* "raised" is part of the stored form */
}

/* ---- blackouts' ends ----------------------------------------------------------------------- */

static bool covered(void *ud, const struct alert *al)
{
    struct hbbo *h = ud;
    struct blackout_subject s;
    struct arena ar;
    bool yes = true; /* out of memory: leave the alert where it is */

    arena_init(&ar, ALERT_ARENA_MAX);
    if (!blackout_subject_from_alert(&s, al, h->check_ms, &ar))
        yes = blackout_match(h->bos, &s) != NULL;
    arena_free(&ar);
    return yes;
}

static void release(struct hbbo *h, int64_t at)
{
    size_t n = 0;
    int rc;

    h->check_ms = at;
    rc = alertdb_blackout_release(h->a->alerts, covered, h, at, h->fx, &n);
    if (rc)
        log_warn("blackout_release_failed", "released=%zu reason=\"%s\"", n, tocsin_strerror(rc));
    else if (n)
        log_info("blackout_released", "alerts=%zu", n);
}

static void on_blackout(void *ud, int ev, const struct blackout *b, int64_t at_ms)
{
    struct hbbo *h = ud;

    /* A start changes no stored alert (Alerta does not touch them either). */
    if (ev != BLACKOUT_ENDED)
        return;
    log_debug("blackout_ended", "blackout=%s", b->id);
    release(h, at_ms);
}

/* ---- start-up and timers ------------------------------------------------------------------- */

static int accept_list(const struct app *a, struct blackout_config *c)
{
    const char *p = a->cfg->blackout_accept ? a->cfg->blackout_accept : "";

    c->naccept = 0;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n >= SEV_NAME_MAX || sevmap_find(&a->sev, p, n) < 0 || c->naccept == SEVMAP_MAX) {
            log_error("start_failed", "reason=blackouts.accept detail=\"unknown severity '%.*s'\"",
                      (int)(n < 64 ? n : 64), p);
            return -1;
        }
        memcpy(c->accept[c->naccept], p, n);
        c->accept[c->naccept++][n] = '\0';
        p += n + (p[n] == ',');
    }
    return 0;
}

int hbbo_open(struct app *a)
{
    struct heartbeat_config hc;
    struct blackout_config bc;
    struct hbbo *h = calloc(1, sizeof(*h));

    a->hbbo = h;
    if (!h)
        return -1;
    h->a = a;
    heartbeat_config_default(&hc);
    hc.timeout_s = a->cfg->heartbeat_timeout_ms / 1000;
    hc.max_latency_ms = a->cfg->heartbeat_max_latency_ms;
    hc.alert_timeout_s = a->cfg->alert_timeout_ms / 1000;
    blackout_config_default(&bc);
    bc.duration_s = a->cfg->blackout_duration_ms / 1000;
    bc.notification_blackout = a->cfg->notification_blackout;
    bc.customer_views = a->cfg->customer_views;
    if (accept_list(a, &bc))
        return -1;
    h->wheel = timer_wheel_new(app_now_ms(a));
    if (!h->wheel)
        return -1;
    h->hbs = heartbeat_table_new(&hc, h->wheel, on_expired, h);
    h->bos = blackout_set_new(&bc, h->wheel, on_blackout, h);
    return h->hbs && h->bos ? 0 : -1;
}

void hbbo_close(struct app *a)
{
    struct hbbo *h = a->hbbo;

    if (!h)
        return;
    heartbeat_table_free(h->hbs);
    blackout_set_free(h->bos);
    timer_wheel_free(h->wheel);
    free(h);
    a->hbbo = NULL;
}

struct loading {
    struct hbbo *h;
    int64_t now;
    size_t loaded, skipped;
};

static int load_hb(void *ud, const char *id, const char *text)
{
    struct loading *l = ud;
    struct verr err = {0};

    if (heartbeat_table_load(l->h->hbs, text, strlen(text), &err)) {
        log_warn("heartbeat_skipped", "heartbeat=%s field=%s", id, err.field);
        l->skipped++;
    } else {
        l->loaded++;
    }
    return TOCSIN_OK;
}

static int load_bo(void *ud, const char *id, const char *text)
{
    struct loading *l = ud;
    struct verr err = {0};

    if (blackout_set_load(l->h->bos, text, strlen(text), l->now, &err)) {
        log_warn("blackout_skipped", "blackout=%s field=%s", id, err.field);
        l->skipped++;
    } else {
        l->loaded++;
    }
    return TOCSIN_OK;
}

int hbbo_load(struct app *a)
{
    struct loading l = {.h = a->hbbo, .now = app_now_ms(a)};
    struct smsg *sm;
    int rc;

    if (store_object_load(a->wstore, "heartbeat", load_hb, &l))
        return -1;
    log_info("heartbeats_loaded", "heartbeats=%zu skipped=%zu", l.loaded, l.skipped);
    l.loaded = l.skipped = 0;
    if (store_object_load(a->wstore, "blackout", load_bo, &l))
        return -1;
    log_info("blackouts_loaded", "blackouts=%zu skipped=%zu", l.loaded, l.skipped);
    sm = calloc(1, sizeof(*sm));
    if (!sm)
        return -1;
    effects_init(&sm->fx);
    a->hbbo->fx = &sm->fx;
    release(a->hbbo, l.now);
    a->hbbo->fx = NULL;
    /* The released alerts go through the rules like a blackout's end at run time (their
     * notifications are outbox rows that the start-up's outbox load hands to the notifier),
     * and are committed now: served after, never a status the store has not caught up with. */
    nwire_after_turn(a, &sm->fx, 0, l.now);
    rc = sm->fx.n ? app_store_now(a, sm) : 0;
    effects_free(&sm->fx);
    free(sm);
    return rc ? -1 : 0;
}

void hbbo_advance(struct app *a, int64_t now_ms, struct effects *fx)
{
    a->hbbo->fx = fx;
    timer_wheel_advance(a->hbbo->wheel, now_ms, NULL);
    a->hbbo->fx = NULL;
}

int64_t hbbo_next_deadline(const struct app *a)
{
    return timer_wheel_next(a->hbbo->wheel);
}

/* ---- incoming alerts ----------------------------------------------------------------------- */

static int verr_status(int rc, struct verr *err)
{
    if (!err->status)
        err->status = rc == TOCSIN_ENOMEM ? 503 : 400;
    if (rc == TOCSIN_ENOMEM && !err->msg[0])
        verr_set(err, NULL, "out of memory");
    return rc;
}

/* Upserts a heartbeat (taking it), persists it and closes its alert if it had failed. */
static int upsert_hb(struct hbbo *h, struct heartbeat *hb, int64_t now,
                     struct heartbeat_upsert *res, struct verr *err)
{
    char fresh[37];
    int rc;

    id_uuid4(fresh);
    rc = heartbeat_table_upsert(h->hbs, hb, fresh, res, err);
    if (rc)
        return verr_status(rc, err);
    save_hb(h, res->hb);
    if (res->resolved)
        resolve_alert(h, res->hb, now);
    return TOCSIN_OK;
}

/* Takes o; NULL when o is NULL or out of memory. */
static char *dump(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return s;
}

/* Alerta's 202 for an alert it did not store: {"status":"ok","message","id":<alert id>}. */
static char *accepted_json(const struct alert_in *in, const char *message)
{
    char id[37];
    uint8_t bin[16];

    if (in->id && uuid_from_text(in->id, strlen(in->id), bin))
        uuid_to_text(bin, id);
    else
        id_uuid4(id);
    return dump(json_pack("{s:s,s:s,s:s}", "status", "ok", "message", message, "id", id));
}

int hbbo_incoming(struct app *a, const struct alert_in *in, int64_t now_ms, struct effects *fx,
                  struct hbbo_verdict *v)
{
    static const struct blackout_defaults d = {.origin = OWN_ORIGIN};
    struct hbbo *h = a->hbbo;
    const struct heartbeat_config *hc = heartbeat_table_config(h->hbs);
    int rc = TOCSIN_OK;

    memset(v, 0, sizeof(*v));
    h->fx = fx;
    if (heartbeat_is_event(hc, in->event)) { /* Alerta's heartbeat plugin, before blackout */
        struct heartbeat *hb = NULL;
        struct heartbeat_upsert res = {0};
        rc = heartbeat_from_alert(in, &a->sev, hc, OWN_ORIGIN, NULL, now_ms, &hb, &v->err);
        if (rc)
            verr_status(rc, &v->err);
        else
            rc = upsert_hb(h, hb, now_ms, &res, &v->err);
        if (!rc) {
            v->kind = HBBO_HEARTBEAT;
            v->body = accepted_json(in, res.hb->id);
        }
    } else {
        switch (blackout_decide(h->bos, &a->sev, in, &d, now_ms, NULL)) {
        case BLACKOUT_PASS:
            v->kind = HBBO_PASS;
            break;
        case BLACKOUT_DROP:
            v->kind = HBBO_DROPPED;
            v->body = accepted_json(in, "Suppressed alert during blackout period");
            break;
        case BLACKOUT_SUPPRESS:
            /* Alerta sets the status to blackout, and its state machine still closes a normal
             * severity: that alert is received as it is. */
            v->kind = is_normal(a, in) ? HBBO_PASS : HBBO_BLACKOUT;
            break;
        }
    }
    h->fx = NULL;
    if (!rc && (v->kind == HBBO_HEARTBEAT || v->kind == HBBO_DROPPED) && !v->body) {
        verr_set(&v->err, NULL, "out of memory");
        v->err.status = 503;
        rc = TOCSIN_ENOMEM;
    }
    return rc;
}

/* ---- HTTP requests ------------------------------------------------------------------------- */

/* What a handler did: answered already (an error, the healthcheck), left *status and *body
 * (NULL: out of memory) to answer now (a read), or made a change to answer once committed. */
enum outcome { ANSWERED, ANSWER_NOW, ANSWER_LATER };

static void answer_now(struct app *a, const struct emsg *m, int status, const char *ctype,
                       char *body)
{
    struct http_resp r = {.status = status, .content_type = ctype, .body = body};

    r.body_len = body ? strlen(body) : 0;
    net_complete(a->net, m->req_id, &r);
}

static void fail_req(struct app *a, const struct emsg *m, int status, const char *field,
                     const char *msg)
{
    answer_now(a, m, status, NULL,
               m->hbbo->alerta ? alerta_error_json(status, field, msg)
                               : api_error_json(status, field, msg, false));
}

static void fail_err(struct app *a, const struct emsg *m, int rc, struct verr *err)
{
    verr_status(rc, err);
    fail_req(a, m, err->status, err->field[0] ? err->field : NULL, err->msg);
}

/* tocsin's own paths name the collection ("/api/v1/heartbeats/<id>"), Alerta's the record
 * ("/alerta/heartbeat/<id>"): the core modules make Alerta's. */
static void native_href(json_t *o, const struct emsg *m, const char *coll, const char *id)
{
    char href[512];

    if (!o || m->hbbo->alerta || !m->href_base)
        return;
    snprintf(href, sizeof(href), "%s/%s/%s", m->href_base, coll, id);
    json_object_set_new(o, "href", json_string(href));
}

static json_t *hb_json(struct hbbo *h, const struct emsg *m, const struct heartbeat *hb,
                       int64_t now)
{
    json_t *o = heartbeat_to_json(h->hbs, hb, now, m->hbbo->alerta ? m->href_base : NULL);

    native_href(o, m, "heartbeats", hb->id);
    return o;
}

static json_t *bo_json(const struct emsg *m, const struct blackout *b, int64_t now)
{
    json_t *o = blackout_to_json(b, now, m->hbbo->alerta ? m->href_base : NULL);

    native_href(o, m, "blackouts", b->id);
    return o;
}

/* Replaces *slot (a malloc'd string or NULL) with a copy of `v` (may be *slot itself). */
static int set_str(char **slot, const char *v)
{
    char *c;

    if (v == *slot)
        return TOCSIN_OK;
    c = v ? strdup(v) : NULL;
    if (v && !c)
        return TOCSIN_ENOMEM;
    free(*slot);
    *slot = c;
    return TOCSIN_OK;
}

static bool is_blackout_admin(const struct principal *p)
{
    return p->is_admin || scope_set_has(&p->scopes, "admin:blackouts");
}

static enum outcome hb_post(struct hbbo *h, struct emsg *m, int64_t now, int *status, char **body)
{
    struct hbbo_req *r = m->hbbo;
    struct heartbeat *hb = NULL;
    struct heartbeat_upsert res = {0};
    struct verr err = {0};
    const char *cust = NULL;
    char msg[MSG_MAX];
    int rc = heartbeat_parse(r->body, heartbeat_table_config(h->hbs), now, &hb, &err);

    if (rc) {
        fail_err(h->a, m, rc, &err);
        return ANSWERED;
    }
    if (authz_assign_customer(&r->who, hb->customer, "admin:heartbeats", &cust, msg, sizeof(msg))) {
        heartbeat_free(hb);
        fail_req(h->a, m, 400, "customer", msg);
        return ANSWERED;
    }
    if (set_str(&hb->customer, cust) || (rc = upsert_hb(h, hb, now, &res, &err))) {
        if (!rc)
            heartbeat_free(hb);
        fail_err(h->a, m, rc ? rc : TOCSIN_ENOMEM, &err);
        return ANSWERED;
    }
    *status = 201;
    *body = dump(json_pack("{s:s,s:s,s:o*}", "status", "ok", "id", res.hb->id, "heartbeat",
                           hb_json(h, m, res.hb, now)));
    return ANSWER_LATER;
}

/* The heartbeat the path names, if the principal may see it. */
static struct heartbeat *hb_visible(struct hbbo *h, const struct hbbo_req *r)
{
    struct heartbeat *hb = heartbeat_table_get(h->hbs, r->id);

    return hb && principal_sees_customer(&r->who, hb->customer) ? hb : NULL;
}

static enum outcome hb_delete(struct hbbo *h, struct emsg *m, int64_t now, int *status, char **body)
{
    struct heartbeat *hb = hb_visible(h, m->hbbo);
    char *id;

    if (!hb) {
        fail_req(h->a, m, 404, "id", "not found");
        return ANSWERED;
    }
    id = strdup(hb->id);
    if (!id) {
        fail_req(h->a, m, 503, NULL, "out of memory");
        return ANSWERED;
    }
    /* Its failure would otherwise stay open with nothing left to close it. */
    if (hb->raised)
        resolve_alert(h, hb, now);
    heartbeat_table_delete(h->hbs, id, NULL);
    forget(h, "heartbeat", id);
    free(id);
    *status = 200;
    *body = strdup("{\"status\":\"ok\"}");
    return ANSWER_LATER;
}

static enum outcome hb_get(struct hbbo *h, struct emsg *m, int64_t now, int *status, char **body)
{
    struct heartbeat *hb = hb_visible(h, m->hbbo);

    if (!hb) {
        fail_req(h->a, m, 404, "id", "not found");
        return ANSWERED;
    }
    *status = 200;
    *body = dump(json_pack("{s:s,s:i,s:o*}", "status", "ok", "total", 1, "heartbeat",
                           hb_json(h, m, hb, now)));
    return ANSWER_NOW;
}

static enum outcome hb_list(struct hbbo *h, struct emsg *m, int64_t now, int *status, char **body)
{
    struct hbbo_req *r = m->hbbo;
    const char *custs[PRINCIPAL_MAX_CUSTOMERS];
    size_t nc = principal_customers(&r->who, custs, PRINCIPAL_MAX_CUSTOMERS), n = 0;
    struct heartbeat_query q = {.status_mask = r->status_mask,
                                .customers = nc ? custs : NULL,
                                .ncustomers = nc,
                                .sort = r->hsort,
                                .nsort = r->nhsort};
    struct heartbeat **v = NULL;
    int64_t ps = r->page_size, pages, first;
    json_t *o, *arr;
    char msg[64];

    if (heartbeat_list(h->hbs, &q, now, &v, &n))
        return ANSWER_NOW;                     /* no body: out of memory */
    pages = n ? ((int64_t)n - 1) / ps + 1 : 0; /* Alerta's ((items - 1) // size) + 1 */
    if (n && r->page > pages) {
        free(v);
        snprintf(msg, sizeof(msg), "page out of range: 1-%" PRId64, pages);
        fail_req(h->a, m, 416, "page", msg);
        return ANSWERED;
    }
    first = (r->page - 1) * ps;
    arr = json_array();
    for (int64_t i = first; arr && i < (int64_t)n && i < first + ps; i++)
        if (json_array_append_new(arr, hb_json(h, m, v[i], now))) {
            json_decref(arr);
            arr = NULL;
        }
    free(v);
    o = json_pack("{s:s,s:I,s:I,s:I,s:b,s:o*,s:I}", "status", "ok", "page", (json_int_t)r->page,
                  "pageSize", (json_int_t)ps, "pages", (json_int_t)pages, "more", r->page < pages,
                  "heartbeats", arr, "total", (json_int_t)n);
    if (o && !n)
        json_object_set_new(o, "message", json_string("not found"));
    *status = 200;
    *body = dump(o);
    return ANSWER_NOW;
}

static enum outcome health(struct hbbo *h, struct emsg *m, int64_t now, int *status, char **body)
{
    char text[ALERT_MAX_NAME + 32];
    char *s;

    (void)body;
    *status = heartbeat_healthcheck(h->hbs, now, text, sizeof(text));
    if (!(s = strdup(text)))
        return ANSWER_NOW;                         /* no body: out of memory */
    answer_now(h->a, m, *status, "text/plain", s); /* not JSON */
    return ANSWERED;
}

static enum outcome bo_post(struct hbbo *h, struct emsg *m, int64_t now, int *status, char **body)
{
    struct hbbo_req *r = m->hbbo;
    struct blackout *b = NULL;
    struct verr err = {0};
    const char *cust;
    char msg[MSG_MAX], fresh[37];
    int rc = blackout_parse(r->body, blackout_set_config(h->bos), now, &b, &err);

    if (rc) {
        fail_err(h->a, m, rc, &err);
        return ANSWERED;
    }
    /* Alerta's view: an admin may name the user, anybody else is the user. */
    if ((!is_blackout_admin(&r->who) || !b->user) && set_str(&b->user, principal_user(&r->who)))
        rc = TOCSIN_ENOMEM;
    if (!rc &&
        authz_assign_customer(&r->who, b->customer, "admin:blackouts", &cust, msg, sizeof(msg))) {
        blackout_free(b);
        fail_req(h->a, m, 400, "customer", msg);
        return ANSWERED;
    }
    if (rc || set_str(&b->customer, cust)) {
        blackout_free(b);
        fail_req(h->a, m, 503, NULL, "out of memory");
        return ANSWERED;
    }
    id_uuid4(fresh);
    rc = blackout_set_add(h->bos, b, fresh, now, &err); /* takes b */
    if (rc) {
        fail_err(h->a, m, rc, &err);
        return ANSWERED;
    }
    save_bo(h, b);
    *status = 201;
    *body = dump(
        json_pack("{s:s,s:s,s:o*}", "status", "ok", "id", b->id, "blackout", bo_json(m, b, now)));
    return ANSWER_LATER;
}

/* The blackout the path names, if the principal may see it (or, writing, is an admin). */
static struct blackout *bo_visible(struct hbbo *h, const struct hbbo_req *r, bool admin_any)
{
    struct blackout *b = blackout_set_get(h->bos, r->id);

    if (b && admin_any && is_blackout_admin(&r->who))
        return b;
    return b && principal_sees_customer(&r->who, b->customer) ? b : NULL;
}

static enum outcome bo_get(struct hbbo *h, struct emsg *m, int64_t now, int *status, char **body)
{
    struct blackout *b = bo_visible(h, m->hbbo, false);

    if (!b) {
        fail_req(h->a, m, 404, "id", "not found");
        return ANSWERED;
    }
    *status = 200;
    *body = dump(
        json_pack("{s:s,s:i,s:o*}", "status", "ok", "total", 1, "blackout", bo_json(m, b, now)));
    return ANSWER_NOW;
}

static enum outcome bo_list(struct hbbo *h, struct emsg *m, int64_t now, int *status, char **body)
{
    struct hbbo_req *r = m->hbbo;
    const char *custs[PRINCIPAL_MAX_CUSTOMERS];
    size_t nc = principal_customers(&r->who, custs, PRINCIPAL_MAX_CUSTOMERS), n = 0;
    struct blackout_query q = {.status_mask = r->status_mask,
                               .customers = nc ? custs : NULL,
                               .ncustomers = nc,
                               .sort = r->bsort,
                               .nsort = r->nbsort};
    struct blackout **v = NULL;
    json_t *o, *arr;

    if (blackout_list(h->bos, &q, now, &v, &n))
        return ANSWER_NOW; /* no body: out of memory */
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, bo_json(m, v[i], now))) {
            json_decref(arr);
            arr = NULL;
        }
    free(v);
    o = json_pack("{s:s,s:o*,s:I}", "status", "ok", "blackouts", arr, "total", (json_int_t)n);
    if (o && !n)
        json_object_set_new(o, "message", json_string("not found"));
    *status = 200;
    *body = dump(o);
    return ANSWER_NOW;
}

static enum outcome bo_put(struct hbbo *h, struct emsg *m, int64_t now, int *status, char **body)
{
    struct hbbo_req *r = m->hbbo;
    struct blackout *b = bo_visible(h, r, true);
    struct verr err = {0};
    json_t *given = json_object_get(r->body, "customer");
    const char *cust;
    char msg[MSG_MAX];
    int rc;

    if (!b) {
        fail_req(h->a, m, 404, "id", "not found");
        return ANSWERED;
    }
    /* Alerta's view assigns the customer of every update; tocsin writes it into the update only
     * when it was given or the principal forces one, so an update that does not mention it
     * keeps it. A customer of the wrong type is left to the update's own 400. */
    if (json_object_size(r->body) && (!given || json_is_string(given) || json_is_null(given))) {
        if (authz_assign_customer(&r->who, json_string_value(given), "admin:blackouts", &cust, msg,
                                  sizeof(msg))) {
            fail_req(h->a, m, 400, "customer", msg);
            return ANSWERED;
        }
        if ((given || cust) &&
            json_object_set_new(r->body, "customer", cust ? json_string(cust) : json_null())) {
            fail_req(h->a, m, 503, NULL, "out of memory");
            return ANSWERED;
        }
    }
    rc = blackout_set_update(h->bos, r->id, r->body, principal_user(&r->who), now, &err);
    if (rc) {
        if (rc == TOCSIN_ENOTFOUND && !err.status)
            err.status = 404;
        fail_err(h->a, m, rc, &err);
        return ANSWERED;
    }
    save_bo(h, blackout_set_get(h->bos, r->id));
    *status = 200;
    *body = strdup("{\"status\":\"ok\"}");
    return ANSWER_LATER;
}

static enum outcome bo_delete(struct hbbo *h, struct emsg *m, int64_t now, int *status, char **body)
{
    struct blackout *b = bo_visible(h, m->hbbo, false);

    if (!b) {
        fail_req(h->a, m, 404, "id", "not found");
        return ANSWERED;
    }
    forget(h, "blackout", m->hbbo->id);
    blackout_set_delete(h->bos, m->hbbo->id, now); /* releases what it held, if it was active */
    *status = 200;
    *body = strdup("{\"status\":\"ok\"}");
    return ANSWER_LATER;
}

typedef enum outcome (*handler)(struct hbbo *, struct emsg *, int64_t, int *, char **);

static const handler handlers[] = {
    [HBBO_HB_POST] = hb_post,     [HBBO_HB_GET] = hb_get,   [HBBO_HB_LIST] = hb_list,
    [HBBO_HB_DELETE] = hb_delete, [HBBO_HEALTH] = health,   [HBBO_BO_POST] = bo_post,
    [HBBO_BO_GET] = bo_get,       [HBBO_BO_LIST] = bo_list, [HBBO_BO_PUT] = bo_put,
    [HBBO_BO_DELETE] = bo_delete,
};

bool hbbo_handle(struct app *a, struct emsg *m, struct effects *fx, int64_t now_ms, int *status,
                 char **body)
{
    struct hbbo *h = a->hbbo;
    enum outcome out;

    *body = NULL;
    if (!m->hbbo || (size_t)m->hbbo->op >= sizeof(handlers) / sizeof(handlers[0]))
        return false;
    h->fx = fx;
    out = handlers[m->hbbo->op](h, m, now_ms, status, body);
    h->fx = NULL;
    if (out == ANSWER_NOW) {
        if (*body)
            answer_now(a, m, *status, NULL, *body);
        else
            fail_req(a, m, 503, NULL, "out of memory");
        *body = NULL;
        return false;
    }
    if (out == ANSWER_LATER && !*body) { /* the change stands; only its answer could not be built */
        *status = 200;
        *body = strdup("{\"status\":\"ok\"}");
    }
    return out == ANSWER_LATER;
}
