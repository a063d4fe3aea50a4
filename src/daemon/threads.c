/* The engine thread and the store writer thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "core/facets.h"
#include "daemon/app.h"
#include "daemon/hbbo.h"
#include "net/net.h"
#include "daemon/nwire.h"
#include "notify/notifier.h"
#include "store/store.h"
#include "store/walbuf.h"
#include "util/err.h"
#include "util/heap.h"
#include "util/log.h"
#include "util/sidx.h"

#define ENGINE_BATCH 64
/* Checkpoints and the WAL's restart. The maintenance thread copies the WAL into the database
 * every CHECKPOINT_EVERY_MS on its own connection, which holds up no commit. The WAL file is
 * only reused from its start when a checkpoint has copied all of it and no reader is on it
 * (SQLite's restart), which a steady load never leaves time for, so:
 *   - a writer idle for TRIM_AFTER_IDLE_MS wakes the maintenance thread at once, and if still
 *     idle RESTART_AFTER_MS later, with a pass started since then done, runs its own RESTART
 *     checkpoint, after which its next commit starts the WAL over: no copy is left, so no
 *     fdatasync, and it costs nothing. It used to checkpoint at
 *     once itself, and when the maintenance thread had not copied everything yet, the copy
 *     and its two fdatasyncs held up the first commits after the pause (50-220 ms in the
 *     notification benchmark, where each run starts after a pause: every such delay counted
 *     in the run's p99);
 *   - a writer that is never idle (a sustained fill) runs that checkpoint between
 *     transactions anyway once the WAL holds WAL_HARD_BYTES, so the WAL file stays bounded
 *     (seen at 1.5 GB after a 40 s fill without). That holds up the commits behind it for the
 *     copy of what the maintenance thread has not copied yet and two fdatasyncs. So past
 *     WAL_HARD_BYTES the writer wakes the maintenance thread and checkpoints within
 *     MAINT_FRESH_NS of the end of its pass, when only what came in during the pass is left;
 *     past WAL_HARD_BYTES + WAL_HARD_BYTES / 4 it checkpoints regardless. SQLite syncs the
 *     database file only in a checkpoint that copies the whole WAL, which under load is this
 *     one: its fdatasync flushed every page the maintenance passes had copied since the last
 *     (64-80 ms in the notification benchmark), until the maintenance thread flushed what each
 *     of its passes copied (store_checkpoint); it now stalls 4-17 ms.
 * Checkpointing continuously on the maintenance thread (every 10 ms while behind) was tried:
 * its fdatasyncs cost more than they saved (one run each: deliveries/s 9,700 without it, 6,300
 * with it). */
#define WAL_RESET_BYTES (8 << 20)
#define RESTART_AFTER_MS 300
#define WAL_HARD_BYTES (256 << 20)
#define MAINT_FRESH_NS (20 * 1000000LL)
#define STORE_BATCH 256
/* A batch made only of delivery outcomes (the notifier's results) waits this long for other
 * work before its transaction, to share it: at 1,000 alert changes/s each change and the outcome
 * of the notification before it went in two transactions, one each, and now go in one (half
 * the commits, 8 % less WAL per change). No answer waits on an outcome's commit: the notifier
 * moves on as soon as the attempt ends. A crash within those 2 ms may send that notification
 * again after the restart, with the same idempotency key, as a crash between the attempt and its
 * commit always could. */
#define OUTCOME_WAIT_MS 2
#define IDLE_WAIT_MS 1000
#define REPLY_MAX (64 * 1024 * 1024) /* bytes of one answer built here */
#define REPLY_RESERVE_MAX (1024 * 1024) /* bytes allocated ahead for an answer, at most */
#define ALERTA_REPLY_GUESS 3072         /* bytes of Alerta's answer for one alert, about */
#define REPLY_ID_BYTES 39               /* one id in the batch answer: "<36>", */
/* Effects handed to the store writer and not yet applied. Past it the engine waits for the
 * writer, so a fast producer cannot make changes pile up in memory (each alert change holds a
 * copy of its alert): back-pressure reaches the network thread through the engine's queue. */
#define STORE_INFLIGHT_MAX 65536
#define TRIM_AFTER_IDLE_MS 200 /* the writer trims the heap after this long without work */

struct emsg *emsg_new(enum emsg_kind kind)
{
    struct emsg *m = calloc(1, sizeof(*m));

    if (m) {
        m->kind = kind;
        arena_init(&m->arena, 0);
    }
    return m;
}

int app_to_store(struct app *a, struct smsg *sm, bool wait)
{
    sm->enq_ns = clock_mono_ns();
    return wait ? queue_push_wait(&a->store_q, sm) : queue_push(&a->store_q, sm);
}

void emsg_free(struct emsg *m)
{
    if (!m)
        return;
    arena_free(&m->arena);
    free(m->evs);
    for (size_t i = 0; i < m->ntrigs; i++)
        trigger_free(m->trigs[i]);
    free(m->trigs);
    free(m->id);
    free(m->text);
    free(m->action);
    free(m->user);
    free(m->href_base);
    free(m->okind);
    free(m->ojson);
    free(m->obody);
    hbbo_req_free(m->hbbo);
    nreq_free(m->nreq);
    free(m);
}

int64_t app_now_ms(struct app *a)
{
    return a->test_clock ? a->test_now_ms : a->real.now_ms(a->real.ud);
}

/* Waits (or, without `wait`, fails with TOCSIN_EFULL) while the engine has too many bytes of
 * events queued, then counts m's. */
static int reserve_bytes(struct app *a, struct emsg *m, bool wait)
{
    size_t limit = a->cfg->engine_queue_bytes;
    int rc = TOCSIN_OK;

    m->bytes = sizeof(*m) + m->arena.reserved + m->evcap * sizeof(struct event);
    pthread_mutex_lock(&a->qb_mu);
    while (a->queued_bytes && a->queued_bytes + m->bytes > limit) {
        if (!wait || queue_is_closed(&a->engine_q)) {
            rc = wait ? TOCSIN_ESHUTDOWN : TOCSIN_EFULL;
            break;
        }
        pthread_cond_wait(&a->qb_cv, &a->qb_mu);
    }
    if (!rc)
        a->queued_bytes += m->bytes;
    pthread_mutex_unlock(&a->qb_mu);
    return rc;
}

static void release_bytes(struct app *a, size_t bytes)
{
    if (!bytes)
        return;
    pthread_mutex_lock(&a->qb_mu);
    a->queued_bytes -= bytes;
    pthread_cond_broadcast(&a->qb_cv);
    pthread_mutex_unlock(&a->qb_mu);
}

int app_to_engine(struct app *a, struct emsg *m, bool wait)
{
    int rc = reserve_bytes(a, m, wait);

    m->enq_ns = clock_mono_ns();
    if (!rc) {
        rc = wait ? queue_push_wait(&a->engine_q, m) : queue_push(&a->engine_q, m);
        if (rc)
            release_bytes(a, m->bytes);
    }
    if (rc)
        emsg_free(m);
    return rc;
}

/* ---- engine thread --------------------------------------------------------------------- */

static int add_completion(struct smsg *sm, uint64_t req_id, int status, char *body)
{
    if (!req_id) {
        free(body);
        return TOCSIN_OK;
    }
    if (sm->ncomps == sm->capcomps) {
        size_t nc = sm->capcomps ? sm->capcomps * 2 : 8;
        struct completion *n = realloc(sm->comps, nc * sizeof(*n));
        if (!n) {
            free(body);
            return TOCSIN_ENOMEM;
        }
        sm->comps = n;
        sm->capcomps = nc;
    }
    sm->comps[sm->ncomps++] = (struct completion){req_id, status, body};
    return TOCSIN_OK;
}

static bool alerta_shaped(const struct emsg *m)
{
    return m->reply == REPLY_ALERTA || m->reply == REPLY_ALERTA_OK;
}

/* An error known on the engine thread: answered at once, not after a commit. */
static void fail_now(struct app *a, const struct emsg *m, int status, const char *field,
                     const char *msg)
{
    char *body;

    if (m->req_id) {
        body = alerta_shaped(m) ? alerta_error_json(status, field, msg)
                                : api_error_json(status, field, msg, false);
        struct http_resp r = {.status = status, .body = body, .body_len = body ? strlen(body) : 0};
        net_complete(a->net, m->req_id, &r);
    } else if (m->ws_conn) {
        api_ws_error(a, m->ws_conn, status, field, msg);
    }
}

static void take_engine_effects(struct app *a, struct effects *tfx, struct smsg *sm,
                                int64_t now);

static void do_triggers(struct app *a, struct emsg *m, struct smsg *sm, int64_t now)
{
    size_t fresh = 0;
    char *reply = NULL;
    int status;

    for (size_t i = 0; i < m->ntrigs; i++)
        fresh += !engine_has_trigger(a->engine, m->trigs[i]->id);
    /* /api/v1/triggers answers 201 for a new trigger, 200 for a replaced one. */
    status = m->reply == REPLY_TRIGGER && fresh ? 201 : 200;
    {
        struct engine_stats st;
        engine_get_stats(a->engine, &st);
        if (st.triggers + fresh > a->cfg->max_triggers) {
            fail_now(a, m, 413, "body", "too many triggers (engine.max_triggers)");
            return;
        }
    }
    for (size_t i = 0; i < m->ntrigs; i++) {
        struct trigger *t = m->trigs[i];
        m->trigs[i] = NULL;
        struct effects tfx;
        int prc;
        effects_init(&tfx);
        prc = engine_put_trigger(a->engine, t, now, &tfx);
        take_engine_effects(a, &tfx, sm, now);
        effects_free(&tfx);
        if (prc == TOCSIN_OK &&
            m->reply == REPLY_TRIGGER && i + 1 == m->ntrigs)
            reply = json_dumps(t->json, JSON_COMPACT); /* t is the engine's now, still alive */
    }
    if (m->reply == REPLY_COUNT) {
        json_t *o = json_pack("{s:I}", "triggers", (json_int_t)m->ntrigs);
        reply = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    add_completion(sm, m->req_id, status, reply);
}

/* Fires the engine's and the alert store's timers up to now. */
static void advance_all(struct app *a, int64_t now, struct smsg *sm)
{
    struct effects tfx;

    effects_init(&tfx);
    engine_advance(a->engine, now, &tfx);
    take_engine_effects(a, &tfx, sm, now);
    effects_free(&tfx);
    hbbo_advance(a, now, &sm->fx); /* first: the alert changes it makes may be due already */
    alertdb_advance(a->alerts, now, &sm->fx);
    nwire_advance(a, now, &sm->fx);
}

static void record_latency(struct app *a, int64_t enq_ns, int64_t now_ms)
{
    pthread_mutex_lock(&a->stats_mu);
    latring_add(&a->lat, (clock_mono_ns() - enq_ns) / 1000, now_ms);
    pthread_mutex_unlock(&a->stats_mu);
}

/* Evaluates the events of messages batch[0..nmsgs) (gathered in evs) and counts them. */
static void ingest(struct app *a, const struct event *evs, size_t n, void *const *batch,
                   size_t nmsgs, struct smsg *sm)
{
    int64_t done_ms, now = app_now_ms(a);
    struct effects tfx;

    effects_init(&tfx);
    engine_ingest(a->engine, evs, n, now, &tfx);
    take_engine_effects(a, &tfx, sm, now);
    effects_free(&tfx);
    atomic_fetch_add(&a->events_processed, n);
    atomic_fetch_add(&a->batches, nmsgs);
    done_ms = clock_mono_ms();
    for (size_t k = 0; k < nmsgs; k++)
        record_latency(a, ((const struct emsg *)batch[k])->enq_ns, done_ms);
}

/* ---- alerts ---------------------------------------------------------------------------- */

static char *ok_json(void)
{
    return strdup("{\"status\":\"ok\"}");
}

/* The buffer of do_alerts' answer, sized at once for what it will hold about (not doubled up
 * from 64 bytes: six copies for one alert in Alerta's answer), at most REPLY_RESERVE_MAX
 * ahead; a failure here shows in the appends. */
static void reply_init(struct buf *b, const struct emsg *m)
{
    size_t per = m->reply == REPLY_ALERTA ? ALERTA_REPLY_GUESS
                 : m->reply == REPLY_ALERTS ? REPLY_ID_BYTES
                                            : 0;

    buf_init(b, REPLY_MAX);
    if (per)
        (void)buf_reserve(b, m->nains < REPLY_RESERVE_MAX / per ? 16 + m->nains * per
                                                                 : REPLY_RESERVE_MAX);
    if (m->reply == REPLY_ALERTS)
        buf_puts(b, "\"ids\":[");
}

/* Receives the alerts of m; answers as m->reply says once they are committed. */
static void do_alerts(struct app *a, struct emsg *m, struct smsg *sm, int64_t now)
{
    struct buf b;
    uint64_t kinds[3] = {0, 0, 0}, taken[2] = {0, 0}; /* heartbeats, dropped by a blackout */
    size_t done = 0, stored = 0;
    struct hbbo_verdict v = {0};
    int rc = TOCSIN_OK;

    reply_init(&b, m);
    for (; done < m->nains; done++) {
        struct alert *rec = NULL;
        int kind = RECV_NEW;
        char id[37];
        /* Alerta's heartbeat and blackout plugins come first: either may take the alert */
        rc = hbbo_incoming(a, &m->ains[done], now, &sm->fx, &v);
        if (rc)
            break;
        if (v.kind == HBBO_HEARTBEAT || v.kind == HBBO_DROPPED) {
            taken[v.kind == HBBO_DROPPED]++;
            if (m->reply == REPLY_ALERTA)
                buf_puts(&b, v.body);
            free(v.body);
            continue;
        }
        rc = alertdb_receive(a->alerts, &m->ains[done], NULL, NULL, m->user,
                             v.kind == HBBO_BLACKOUT, now, &sm->fx, &rec, &kind);
        if (rc)
            break;
        kinds[kind]++;
        uuid_to_text(rec->id, id);
        if (m->reply == REPLY_ALERTS) {
            buf_printf(&b, "%s\"%s\"", stored++ ? "," : "", id);
        } else if (m->reply == REPLY_ALERTA) {
            stored++;
            buf_printf(&b, "{\"status\":\"ok\",\"id\":\"%s\",\"alert\":", id);
            alert_render_json(&b, &a->sev, rec, m->href_base);
            buf_putc(&b, '}');
        }
    }
    if (rc && !done) {
        buf_free(&b);
        if (v.err.status)
            fail_now(a, m, v.err.status, v.err.field[0] ? v.err.field : NULL, v.err.msg);
        else
            fail_now(a, m, rc == TOCSIN_EFULL ? 429 : 503, "body",
                     rc == TOCSIN_EFULL
                         ? "too many alerts stored (alerts.max) and none can be deleted"
                         : "out of memory");
        return;
    }
    if (m->reply == REPLY_ALERTS) {
        struct buf o;
        buf_init(&o, REPLY_MAX);
        buf_printf(&o,
                   "{\"status\":\"%s\",\"count\":%zu,\"created\":%lu,\"duplicates\":%lu,"
                   "\"correlated\":%lu,\"heartbeats\":%lu,\"suppressed\":%lu,%s]",
                   rc ? "error" : "ok", done, (unsigned long)kinds[RECV_NEW],
                   (unsigned long)kinds[RECV_DUPLICATE], (unsigned long)kinds[RECV_CORRELATED],
                   (unsigned long)taken[0], (unsigned long)taken[1], buf_str(&b));
        if (rc && v.err.status) {
            buf_puts(&o, ",\"message\":\"");
            buf_json_escape(&o, v.err.msg, strlen(v.err.msg));
            buf_puts(&o, "; the rest were refused\"");
        } else if (rc) {
            buf_puts(&o, ",\"message\":\"too many alerts stored (alerts.max); the rest were "
                         "refused\"");
        }
        buf_putc(&o, '}');
        buf_free(&b);
        add_completion(sm, m->req_id, rc ? (v.err.status ? v.err.status : 429) : stored ? 201 : 202,
                       buf_steal(&o));
        return;
    }
    add_completion(sm, m->req_id, stored ? 201 : 202, buf_steal(&b));
}

static char *note_json(const struct emsg *m, const char *note_id, int64_t now)
{
    char t[32], aid[37];
    json_t *o;
    char *s;

    iso8601_ms(now, t);
    uuid_to_text(m->alert_id, aid);
    o = json_pack("{s:s,s:{s:s,s:s,s:s?,s:{},s:s,s:s,s:s,s:{s:s},s:n}}", "status", "ok", "note",
                  "id", note_id, "text", m->text ? m->text : "", "user", m->user, "attributes",
                  "type", "alert", "createTime", t, "updateTime", t, "related", "alert", aid,
                  "customer");
    if (o && m->href_base) {
        char href[600];
        snprintf(href, sizeof(href), "%s/alert/%s/note/%s", m->href_base, aid, note_id);
        json_object_set_new(json_object_get(o, "note"), "href", json_string(href));
    }
    s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static void do_alert_op(struct app *a, struct emsg *m, struct smsg *sm, int64_t now)
{
    char why[160] = "", note_id[37];
    struct housekeeping_counts hk;
    int rc = TOCSIN_OK, status = 200;
    char *body = NULL;

    switch (m->op) {
    case AOP_ACTION:
        rc = alertdb_action(a->alerts, m->alert_id, m->action, m->text, m->timeout_s, m->user,
                            now, &sm->fx, why, sizeof(why));
        break;
    case AOP_STATUS:
        rc = alertdb_set_status(a->alerts, m->alert_id, m->status, m->text, m->timeout_s, m->user,
                                now, &sm->fx);
        break;
    case AOP_TAG:
    case AOP_UNTAG:
        rc = alertdb_tag(a->alerts, m->alert_id, &m->tags, m->op == AOP_UNTAG, now, &sm->fx);
        break;
    case AOP_ATTRIBUTES:
        rc = alertdb_attributes(a->alerts, m->alert_id, &m->attrs, now, &sm->fx);
        break;
    case AOP_NOTE:
        rc = alertdb_note(a->alerts, m->alert_id, m->text ? m->text : "", m->user, now, &sm->fx,
                          note_id);
        if (!rc) {
            status = 201;
            body = note_json(m, note_id, now);
        }
        break;
    case AOP_DELETE:
        rc = alertdb_delete(a->alerts, m->alert_id, &sm->fx);
        break;
    case AOP_HOUSEKEEPING:
        alertdb_housekeeping(a->alerts, m->hk_expired_s, m->hk_info_s, now, &sm->fx, &hk);
        {
            json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "status", "ok", "expired",
                                  (json_int_t)hk.expired, "unshelve", (json_int_t)hk.unshelved,
                                  "unack", (json_int_t)hk.unacked, "deleted",
                                  (json_int_t)hk.deleted, "count",
                                  (json_int_t)(hk.expired + hk.unshelved + hk.unacked +
                                               hk.deleted));
            body = o ? json_dumps(o, JSON_COMPACT) : NULL;
            json_decref(o);
        }
        break;
    }
    if (rc == TOCSIN_ENOTFOUND) {
        fail_now(a, m, 404, "id", "not found");
        return;
    }
    if (rc == TOCSIN_ECONFLICT) {
        fail_now(a, m, 409, "action", why);
        return;
    }
    if (rc) {
        fail_now(a, m, 503, NULL, "out of memory");
        return;
    }
    add_completion(sm, m->req_id, status, body ? body : ok_json());
}

/* A trigger's alert (core/engine.c) becomes an alert of the alert store: resource = the
 * projection's values (or the trigger's source), event = the trigger's name, severity from the
 * trigger's, and normal once it resolves, which closes it. Returns the alert's id. */
static const char *const trigger_sev[] = {"informational", "warning", "critical"};

#define TRIGGER_LABELS_MAX 64

/* Splits the projection's names and values (each joined by '\x1f') into labels, and joins the
 * values with ',' into resource. Writes into scratch (names and values, NUL-separated). */
static uint32_t projection_labels(const struct alert_rec *r, char *scratch, size_t cap,
                                  struct kv *labels, char *resource, size_t rcap)
{
    const char *names = r->projection_names ? r->projection_names : "";
    const char *values = r->projection_values ? r->projection_values : "";
    size_t nl = strlen(names), vl = strlen(values), used = 0;
    uint32_t n = 0;
    char *np, *vp;

    resource[0] = '\0';
    if (!nl || nl + vl + 2 > cap)
        return 0;
    memcpy(scratch, names, nl + 1);
    memcpy(scratch + nl + 1, values, vl + 1);
    np = scratch;
    vp = scratch + nl + 1;
    while (np && n < TRIGGER_LABELS_MAX) {
        char *ne = strchr(np, '\x1f'), *ve = vp ? strchr(vp, '\x1f') : NULL;
        if (ne)
            *ne = '\0';
        if (ve)
            *ve = '\0';
        labels[n].k = np;
        labels[n].v = vp ? vp : "";
        n++;
        if (used < rcap) {
            int w = snprintf(resource + used, rcap - used, "%s%s", used ? "," : "",
                             vp ? vp : "");
            used += w > 0 ? (size_t)w : 0;
        }
        np = ne ? ne + 1 : NULL;
        vp = ve ? ve + 1 : NULL;
    }
    return n;
}

static int absorb_trigger_alert(struct app *a, const struct alert_rec *r, int64_t now,
                                struct effects *fx, uint8_t id_out[16], bool *suppressed)
{
    struct hbbo_verdict verdict = {0};
    struct alert_in in;
    struct kv labels[TRIGGER_LABELS_MAX];
    struct kv attrs[2];
    char resource[1024], scratch[4096], origin[300], count[32];
    const char *sev = r->status == ALERT_RESOLVED ? "normal" : trigger_sev[r->severity];
    struct buf trig;
    struct alert *rec = NULL;
    int kind, rc;

    alert_in_init(&in);
    in.labels.v = labels;
    in.labels.n = projection_labels(r, scratch, sizeof(scratch), labels, resource,
                                    sizeof(resource));
    in.resource = resource[0] ? resource : (r->source ? r->source : "trigger");
    in.environment = a->cfg->alert_trigger_env;
    in.event = r->name && r->name[0] ? r->name : (r->trigger_id ? r->trigger_id : "trigger");
    in.severity = sevmap_find(&a->sev, sev, strlen(sev));
    in.text = r->message;
    snprintf(origin, sizeof(origin), "trigger/%s", r->trigger_id ? r->trigger_id : "");
    in.origin = origin;
    in.source = "trigger";
    in.type = "triggerAlert";
    in.group = r->source;
    in.fingerprint = r->fingerprint;
    in.raw_data = r->properties_json;
    in.flags |= AIN_RAW | AIN_LABELS | AIN_ATTRIBUTES;
    /* attribute values are JSON text: the trigger id is escaped (ids come from the API) */
    buf_init(&trig, 4 * 256 + 8);
    rc = buf_putc(&trig, '"') | buf_json_escape(&trig, r->trigger_id ? r->trigger_id : "",
                                                r->trigger_id ? strlen(r->trigger_id) : 0) |
         buf_putc(&trig, '"');
    snprintf(count, sizeof(count), "%lu", (unsigned long)r->count);
    attrs[0] = (struct kv){"trigger", buf_str(&trig)};
    attrs[1] = (struct kv){"count", count};
    in.attributes.v = attrs;
    in.attributes.n = 2;
    in.create_ms = r->last_ms;
    *suppressed = false;
    if (!rc)
        rc = in.severity < 0 ? TOCSIN_EINVAL : hbbo_incoming(a, &in, now, fx, &verdict);
    free(verdict.body);
    if (!rc && (verdict.kind == HBBO_DROPPED || verdict.kind == HBBO_HEARTBEAT)) {
        /* inside a blackout (Alerta's default policy): neither stored nor notified */
        *suppressed = true;
        rc = TOCSIN_ENOTFOUND;
    } else if (!rc) {
        *suppressed = verdict.kind == HBBO_BLACKOUT; /* stored as blackout, not notified */
        rc = alertdb_receive(a->alerts, &in, NULL, NULL, NULL, verdict.kind == HBBO_BLACKOUT, now,
                             fx, &rec, &kind);
    }
    buf_free(&trig);
    if (!rc)
        memcpy(id_out, rec->id, 16);
    return rc;
}

/* Moves the effects of an engine call into sm, turning the triggers' alerts into alert-store
 * alerts (the firing state itself is still written: it is what the engine reloads), and giving
 * notifications the alert-store id. */
static void take_engine_effects(struct app *a, struct effects *tfx, struct smsg *sm, int64_t now)
{
    struct idmap {
        char rec_id[TOCSIN_ID_LEN + 1];
        char id[37];
        bool suppressed; /* a blackout holds it: its notifications are not sent */
    } *map = NULL;
    size_t nmap = 0, capmap = 0;

    for (size_t i = 0; i < tfx->n; i++) {
        uint8_t id[16] = {0};
        struct idmap *nm;
        bool suppressed = false;
        int rc;
        if (tfx->v[i].kind != EFF_ALERT)
            continue;
        rc = absorb_trigger_alert(a, tfx->v[i].u.alert, now, &sm->fx, id, &suppressed);
        if (rc && !suppressed)
            continue;
        if (nmap == capmap) {
            size_t nc = capmap ? capmap * 2 : 16;
            if (!(nm = realloc(map, nc * sizeof(*map))))
                continue;
            map = nm;
            capmap = nc;
        }
        memcpy(map[nmap].rec_id, tfx->v[i].u.alert->id, sizeof(map[nmap].rec_id));
        uuid_to_text(id, map[nmap].id);
        map[nmap].suppressed = suppressed;
        nmap++;
    }
    for (size_t i = 0; i < tfx->n; i++) {
        struct effect *e = &tfx->v[i];
        bool drop = false;
        if (e->kind == EFF_NOTIFY) {
            for (size_t k = 0; k < nmap; k++) {
                if (strcmp(map[k].rec_id, e->u.notify->alert_id) != 0)
                    continue;
                memcpy(e->u.notify->alert_id, map[k].id, 37);
                drop = map[k].suppressed;
            }
        }
        if (drop) {
            log_info("notification_suppressed", "alert=%s trigger=%s reason=blackout",
                     e->u.notify->alert_id, e->u.notify->trigger_id ? e->u.notify->trigger_id : "");
            notify_rec_free(e->u.notify);
            e->u.notify = NULL;
            continue;
        }
        if (effects_push(&sm->fx, e->kind, e->u.alert) == TOCSIN_OK)
            e->u.alert = NULL;
    }
    tfx->n = 0; /* every record moved (or freed by a failed push) */
    free(map);
}

static void handle(struct app *a, struct emsg *m, struct smsg *sm)
{
    int64_t now = app_now_ms(a);
    char *body;
    int rc;

    switch (m->kind) {
    case EM_EVENTS:
        ingest(a, m->evs, m->nevs, (void *const[]){m}, 1, sm);
        break;
    case EM_TRIGGERS:
        do_triggers(a, m, sm, now);
        break;
    case EM_TRIGGER_DEL: {
        struct effects tfx;
        effects_init(&tfx);
        rc = engine_delete_trigger(a->engine, m->id, now, &tfx);
        take_engine_effects(a, &tfx, sm, now);
        effects_free(&tfx);
        if (rc == TOCSIN_ENOTFOUND)
            fail_now(a, m, 404, "id", "no such trigger");
        else
            add_completion(sm, m->req_id, 204, NULL);
        break;
    }
    case EM_ALERTS:
        do_alerts(a, m, sm, now);
        break;
    case EM_ALERT_OP:
        do_alert_op(a, m, sm, now);
        break;
    case EM_OBJECT:
        if (effects_push(&sm->fx, EFF_OBJECT, object_rec_new(m->okind, m->id, m->ojson))) {
            fail_now(a, m, 503, NULL, "out of memory");
            break;
        }
        add_completion(sm, m->req_id, m->ostatus, m->obody);
        m->obody = NULL;
        break;
    case EM_HBBO:
        if (hbbo_handle(a, m, &sm->fx, now, &rc, &body))
            add_completion(sm, m->req_id, rc, body);
        break;
    case EM_NOTIFY:
        if (nwire_handle(a, m, &sm->fx, now, &rc, &body))
            add_completion(sm, m->req_id, rc, body);
        break;
    case EM_CLOCK:
        a->test_now_ms += m->advance_ms;
        now = a->test_now_ms;
        advance_all(a, now, sm);
        {
            json_t *o = json_pack("{s:I}", "now", (json_int_t)now);
            body = json_dumps(o, JSON_COMPACT);
            json_decref(o);
        }
        add_completion(sm, m->req_id, 200, body);
        break;
    }
}

/* Runs of event messages are evaluated in one engine call, so an alert that fires on many of
 * them is written once per turn, not once per message. The messages (whose arenas hold the
 * events) live until the call is over. */
struct scratch {
    struct event *evs; /* the events of a run of messages, side by side; engine thread only */
    size_t cap;
};

static void handle_all(struct app *a, void **batch, size_t n, struct smsg *sm, struct scratch *sc)
{
    size_t i = 0;

    while (i < n) {
        struct emsg *m = batch[i];
        size_t j = i, total = 0;

        if (m->kind != EM_EVENTS) {
            handle(a, m, sm);
            i++;
            continue;
        }
        while (j < n && ((struct emsg *)batch[j])->kind == EM_EVENTS)
            total += ((struct emsg *)batch[j++])->nevs;
        if (total > sc->cap) {
            struct event *ne = realloc(sc->evs, total * sizeof(*ne));
            if (!ne) { /* evaluate them one message at a time instead */
                for (; i < j; i++)
                    handle(a, batch[i], sm);
                continue;
            }
            sc->evs = ne;
            sc->cap = total;
        }
        total = 0;
        for (size_t k = i; k < j; k++) {
            struct emsg *e = batch[k];
            if (e->nevs)
                memcpy(sc->evs + total, e->evs, e->nevs * sizeof(*sc->evs));
            total += e->nevs;
        }
        ingest(a, sc->evs, total, batch + i, j - i, sm);
        i = j;
    }
    for (i = 0; i < n; i++) {
        release_bytes(a, ((struct emsg *)batch[i])->bytes);
        emsg_free(batch[i]);
    }
}

/* Logs a facet kind that became incomplete (a value found it full: /services and the like
 * count rows for it) or complete again; shortof[] is what was said last. */
static void say_facets(struct app *a, bool shortof[FK_COUNT])
{
    struct facets_stats fs;

    facets_get_stats(a->facets, &fs);
    for (int k = 0; k < FK_COUNT; k++) {
        bool now = fs.missed[k] > 0;
        if (now == shortof[k])
            continue;
        shortof[k] = now;
        if (now)
            log_warn("alert_facets_incomplete",
                     "kind=%s entries=%llu effect=\"its facet counts rows until fewer distinct"
                     " values are held\"",
                     facet_kind_name((enum facet_kind)k), (unsigned long long)fs.entries[k]);
        else
            log_info("alert_facets_complete", "kind=%s entries=%llu",
                     facet_kind_name((enum facet_kind)k), (unsigned long long)fs.entries[k]);
    }
}

static void *engine_main(void *arg)
{
    struct app *a = arg;
    void *batch[ENGINE_BATCH];
    struct scratch sc = {0};
    bool sidx_lost = false; /* said that the short id index missed a put */
    bool facets_short[FK_COUNT] = {0}; /* said that a facet kind is incomplete */

    for (;;) {
        int64_t now = app_now_ms(a), next = engine_next_deadline(a->engine), wait;
        int64_t anext = alertdb_next_deadline(a->alerts), hnext = hbbo_next_deadline(a);
        struct smsg *sm;
        size_t n;

        wait = IDLE_WAIT_MS;
        if (anext < next)
            next = anext;
        if (hnext < next)
            next = hnext;
        if ((hnext = nwire_next_deadline(a)) < next)
            next = hnext;
        if (!a->test_clock && next != INT64_MAX)
            wait = next <= now ? 0 : (next - now < IDLE_WAIT_MS ? next - now : IDLE_WAIT_MS);
        n = queue_pop_batch(&a->engine_q, batch, ENGINE_BATCH, wait);
        if (!n && queue_is_closed(&a->engine_q) && !queue_len(&a->engine_q))
            break;
        sm = calloc(1, sizeof(*sm));
        if (!sm) {
            for (size_t i = 0; i < n; i++)
                emsg_free(batch[i]);
            continue;
        }
        effects_init(&sm->fx);
        if (!a->test_clock)
            advance_all(a, app_now_ms(a), sm);
        handle_all(a, batch, n, sm, &sc);
        nwire_after_turn(a, &sm->fx, 0, app_now_ms(a));
        app_publish_stats(a);
        if (!sidx_lost && n && !sidx_usable(a->sidx)) {
            log_error("alert_id_index_lost", "effect=\"look-ups by id scan the store until a"
                                             " restart\"");
            sidx_lost = true;
        }
        if (n)
            say_facets(a, facets_short);
        if (!sm->fx.n && !sm->ncomps) {
            free(sm->comps);
            effects_free(&sm->fx);
            free(sm);
        } else {
            size_t nfx = sm->fx.n;
            pthread_mutex_lock(&a->sf_mu);
            a->store_inflight += nfx;
            pthread_mutex_unlock(&a->sf_mu);
            if (app_to_store(a, sm, true)) {
                log_error("engine_stalled", "reason=\"store queue closed\"");
                continue;
            }
            pthread_mutex_lock(&a->sf_mu);
            while (a->store_inflight > STORE_INFLIGHT_MAX && !queue_is_closed(&a->store_q))
                pthread_cond_wait(&a->sf_cv, &a->sf_mu);
            pthread_mutex_unlock(&a->sf_mu);
        }
    }
    free(sc.evs);
    return NULL;
}

/* ---- store writer ---------------------------------------------------------------------- */

/* A retry asked through the API: a failed notification is pending again with a new budget. */
static int apply_retry(struct app *a, struct store *s, struct smsg *m)
{
    struct notify_rec *r = NULL;
    int rc = store_outbox_get(s, m->retry_id, &r);

    if (rc == TOCSIN_ENOTFOUND) {
        m->retry_status = 404;
        return TOCSIN_OK;
    }
    if (rc)
        return rc;
    if (r->status != NOTIFY_FAILED) {
        m->retry_status = 409;
        notify_rec_free(r);
        return TOCSIN_OK;
    }
    r->status = NOTIFY_PENDING;
    r->max_attempts = r->attempts + a->cfg->notify_max_attempts;
    r->next_ms = 0;
    r->updated_ms = a->real.now_ms(a->real.ud);
    rc = store_outbox_update(s, r);
    if (rc) {
        notify_rec_free(r);
        return rc;
    }
    m->retry_status = 200;
    m->retry_rec = r;
    return TOCSIN_OK;
}

static int apply(struct app *a, struct store *s, struct smsg *m)
{
    int rc = TOCSIN_OK;

    if (m->retry_id)
        return apply_retry(a, s, m);
    if (m->result) {
        rc = store_outbox_update(s, m->result);
        if (!rc && m->att.n) {
            m->att.outbox_seq = m->result->seq; /* the row just updated: no lookup by id */
            rc = store_attempt_insert(s, &m->att);
        }
        return rc;
    }
    for (size_t i = 0; !rc && i < m->fx.n; i++) {
        struct effect *e = &m->fx.v[i];
        switch (e->kind) {
        case EFF_ALERT: rc = store_alert_upsert(s, e->u.alert); break;
        case EFF_NOTIFY:
            rc = store_outbox_insert(s, e->u.notify);
            if (rc == TOCSIN_EEXIST) { /* made before under the same key: never sent twice */
                log_info("notify_duplicate", "notification=%s", e->u.notify->id);
                notify_rec_free(e->u.notify);
                e->u.notify = NULL;
                rc = TOCSIN_OK;
            }
            break;
        case EFF_TRIGGER_PUT:
            rc = store_trigger_put(s, e->u.trig->id, e->u.trig->json, e->u.trig->enabled,
                                   e->u.trig->created_ms, e->u.trig->updated_ms);
            break;
        case EFF_TRIGGER_DEL:
            rc = store_trigger_delete(s, e->u.trig->id);
            if (rc == TOCSIN_ENOTFOUND)
                rc = TOCSIN_OK;
            break;
        case EFF_ACHANGE: rc = store_achange_apply(s, e->u.achange); break;
        case EFF_OBJECT:
            rc = store_object_put(s, e->u.object->kind, e->u.object->id, e->u.object->json);
            break;
        }
    }
    return rc;
}

/* Notifications the notifier could not take yet (its queue was full), oldest first. Store
 * writer thread only. Bounded by the outbox itself: they are committed rows. */
struct backlog {
    struct notify_rec **v;
    size_t head, n, cap;
};

static void backlog_push(struct backlog *b, struct notify_rec *r)
{
    if (b->head + b->n == b->cap) {
        if (b->head) {
            memmove(b->v, b->v + b->head, b->n * sizeof(*b->v));
            b->head = 0;
        } else {
            size_t nc = b->cap ? b->cap * 2 : 256;
            struct notify_rec **nv = realloc(b->v, nc * sizeof(*nv));
            if (!nv) {
                notify_rec_free(r); /* still pending in the outbox: retried at next start */
                return;
            }
            b->v = nv;
            b->cap = nc;
        }
    }
    b->v[b->head + b->n++] = r;
}

static void backlog_drain(struct app *a, struct backlog *b)
{
    while (b->n && notifier_submit(a->notifier, b->v[b->head]) == TOCSIN_OK) {
        b->head++;
        b->n--;
    }
    if (!b->n)
        b->head = 0;
}

static void backlog_free(struct backlog *b)
{
    for (size_t i = 0; i < b->n; i++)
        notify_rec_free(b->v[b->head + i]);
    free(b->v);
}

/* A delivered notification found a ticket: the engine stores it on the alert. */
static void forward_ticket(struct app *a, const struct notify_rec *r)
{
    struct nreq *q;
    struct emsg *m;

    if (r->status != NOTIFY_DELIVERED || !r->ticket || !r->channel_id || !r->alert_id[0])
        return;
    q = calloc(1, sizeof(*q));
    m = q ? emsg_new(EM_NOTIFY) : NULL;
    if (!m || !(q->id = strdup(r->alert_id)) || !(q->channel = strdup(r->channel_id)) ||
        !(q->ticket = strdup(r->ticket))) {
        nreq_free(q);
        if (m)
            emsg_free(m);
        return;
    }
    q->op = NR_TICKET;
    m->nreq = q;
    if (app_to_engine(a, m, false))
        log_warn("ticket_dropped", "alert=%s channel=%s reason=\"engine busy\"", r->alert_id,
                 r->channel_id);
}

static void dispatch(struct app *a, struct smsg *m, bool committed, struct backlog *bl)
{
    if (m->retry_req) {
        struct http_resp r = {.status = committed ? m->retry_status : 503};
        r.body = r.status == 200   ? strdup("{\"status\":\"ok\"}")
                 : r.status == 404 ? api_error_json(404, "id", "no such notification", false)
                 : r.status == 409 ? api_error_json(409, "id", "only a failed notification can be retried", false)
                                   : api_error_json(503, NULL, "the store could not commit; try again", false);
        r.body_len = r.body ? strlen(r.body) : 0;
        net_complete(a->net, m->retry_req, &r);
        if (committed && m->retry_rec) {
            if (bl->n || notifier_submit(a->notifier, m->retry_rec) != TOCSIN_OK)
                backlog_push(bl, m->retry_rec);
            m->retry_rec = NULL;
        }
        return;
    }
    if (committed && m->result)
        forward_ticket(a, m->result);
    for (size_t i = 0; i < m->ncomps; i++) {
        struct http_resp r = {.status = m->comps[i].status, .body = m->comps[i].body};
        if (!committed) {
            free(r.body);
            r.status = 503;
            r.body = api_error_json(503, NULL, "the store could not commit; try again", false);
            snprintf(r.extra_headers, sizeof(r.extra_headers), "Retry-After: 1\r\n");
        }
        r.body_len = r.body ? strlen(r.body) : 0;
        net_complete(a->net, m->comps[i].req_id, &r);
    }
    for (size_t i = 0; committed && i < m->fx.n; i++) {
        struct effect *e = &m->fx.v[i];
        if (e->kind != EFF_NOTIFY || !e->u.notify || e->u.notify->status != NOTIFY_PENDING)
            continue;
        if (bl->n || notifier_submit(a->notifier, e->u.notify) != TOCSIN_OK)
            backlog_push(bl, e->u.notify); /* keeps the order */
        e->u.notify = NULL;                /* the notifier or the backlog owns it now */
    }
}

/* One transaction of the n messages' effects on the writer's connection: committed, or rolled
 * back and said. */
static int store_tx(struct app *a, void *const *batch, size_t n)
{
    int rc = store_begin(a->wstore);

    for (size_t i = 0; !rc && i < n; i++)
        rc = apply(a, a->wstore, batch[i]);
    if (!rc)
        rc = store_commit(a->wstore);
    if (rc) {
        store_rollback(a->wstore);
        log_error("store_commit_failed", "batch=%zu reason=\"%s\"", n, tocsin_strerror(rc));
    }
    return rc;
}

int app_store_now(struct app *a, struct smsg *sm)
{
    void *one = sm;

    return store_tx(a, &one, 1);
}

static void smsg_free(struct smsg *m)
{
    free(m->comps);
    effects_free(&m->fx); /* records handed on were set to NULL; freeing NULL is a no-op */
    notify_rec_free(m->result);
    free(m->retry_id);
    notify_rec_free(m->retry_rec);
    free((char *)m->att.error);
    free((char *)m->att.response);
    free(m);
}

/* Every PURGE_EVERY_MS, between transactions: finished notifications older than notify.keep
 * go, PURGE_BATCH at a time (their own small transaction), so the outbox stays bounded. */
#define PURGE_EVERY_MS 10000
#define PURGE_BATCH 20000
/* after a full batch: so at most 20,000 notifications/s are purged while catching up */
#define PURGE_AGAIN_MS 1000

static void purge_outbox(struct app *a, int64_t *last)
{
    int64_t now = a->real.now_ms(a->real.ud), deleted = 0;

    if (now - *last < PURGE_EVERY_MS || a->cfg->notify_keep_ms <= 0)
        return;
    *last = now;
    if (store_begin(a->wstore))
        return;
    if (store_outbox_purge(a->wstore, now - a->cfg->notify_keep_ms, PURGE_BATCH, &deleted) ||
        store_commit(a->wstore)) {
        store_rollback(a->wstore);
        log_warn("outbox_purge_failed", "reason=store");
        return;
    }
    if (deleted)
        log_info("outbox_purged", "notifications=%lld", (long long)deleted);
    if (deleted >= PURGE_BATCH) /* more are due: the next pass in PURGE_AGAIN_MS */
        *last = now - PURGE_EVERY_MS + PURGE_AGAIN_MS;
}

/* One transaction of batch[0..n), begun at t0 (mono ns), for the stats. */
static void writer_count(struct app *a, void *const *batch, size_t n, int rc, int64_t t0)
{
    int64_t now = clock_mono_ns(), oldest = t0;

    for (size_t i = 0; i < n; i++) {
        int64_t q = ((const struct smsg *)batch[i])->enq_ns;
        if (q < oldest)
            oldest = q;
    }
    pthread_mutex_lock(&a->stats_mu);
    a->wst.commits += rc == TOCSIN_OK;
    a->wst.failed += rc != TOCSIN_OK;
    a->wst.messages += n;
    latring_add(&a->tx_lat, (now - t0) / 1000, now / 1000000);
    latring_add(&a->store_wait, (t0 - oldest) / 1000, now / 1000000);
    pthread_mutex_unlock(&a->stats_mu);
}

static void writer_checkpoint(struct app *a, int64_t min_bytes)
{
    int64_t t0 = clock_mono_ns(), us;
    bool ran;

    store_writer_checkpoint(a->wstore, min_bytes, &ran);
    if (!ran)
        return;
    us = (clock_mono_ns() - t0) / 1000;
    pthread_mutex_lock(&a->stats_mu);
    a->wst.checkpoints++;
    if ((uint64_t)us > a->wst.checkpoint_us_max)
        a->wst.checkpoint_us_max = (uint64_t)us;
    pthread_mutex_unlock(&a->stats_mu);
}

/* Between two transactions of a writer that is not idle (see WAL_HARD_BYTES). */
static void hard_checkpoint(struct app *a)
{
    int64_t since = clock_mono_ns() - atomic_load(&a->maint_pass_ns);

    if (since < MAINT_FRESH_NS) {
        writer_checkpoint(a, WAL_HARD_BYTES);
        return;
    }
    if (store_wal_bytes(a->wstore) >= WAL_HARD_BYTES)
        queue_push(&a->maint_q, a); /* full: a wake-up is pending already */
    writer_checkpoint(a, WAL_HARD_BYTES + WAL_HARD_BYTES / 4);
}

/* The writer has been idle for TRIM_AFTER_IDLE_MS: a good moment to let the WAL start over
 * (see WAL_RESET_BYTES), once a maintenance pass that started after this moment has copied the
 * whole WAL: a pass's start is published with its end. A pass already running may take longer
 * than RESTART_AFTER_MS (one that follows a heavy load copies and flushes for up to ~0.3 s), so
 * the writer keeps waiting for that while idle; it gave up after one try before, and the next
 * load then began with a full WAL. Waits for the next batch and returns its size (0: closed). */
static size_t writer_idle(struct app *a, void **batch)
{
    int64_t woke = clock_mono_ns();
    size_t n;

    queue_push(&a->maint_q, a); /* full: a wake-up is pending already */
    while (!(n = queue_pop_batch(&a->store_q, batch, STORE_BATCH, RESTART_AFTER_MS))) {
        if (queue_is_closed(&a->store_q))
            return 0;
        if (atomic_load(&a->maint_pass_start_ns) > woke) {
            /* no copy is left, so no fdatasync: the restart costs nothing */
            writer_checkpoint(a, WAL_RESET_BYTES);
            return queue_pop_batch(&a->store_q, batch, STORE_BATCH, -1);
        }
    }
    return n;
}

/* Whether every message of a batch is the outcome of a delivery attempt (see OUTCOME_WAIT_MS). */
static bool only_outcomes(void *const *batch, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct smsg *m = batch[i];
        if (!m->result || m->fx.n || m->ncomps || m->retry_id)
            return false;
    }
    return true;
}

static void *store_main(void *arg)
{
    struct app *a = arg;
    uint64_t committed = 0, trimmed_after = 0; /* batches committed; at the last trim */
    int64_t purged_at = 0;
    void *batch[STORE_BATCH];
    struct backlog bl = {0};

    for (;;) {
        size_t n;
        int64_t t0;
        int rc;

        backlog_drain(a, &bl);
        n = queue_pop_batch(&a->store_q, batch, STORE_BATCH, 0);
        if (!n) /* a gap between two commits of a steady load is not idleness */
            n = queue_pop_batch(&a->store_q, batch, STORE_BATCH, bl.n ? 50 : TRIM_AFTER_IDLE_MS);
        if (!n && !bl.n) {
            /* Quiet for a while: hand back to the system what a burst of changes made the heap
             * hold (the allocator keeps freed memory in its arenas: RSS would stay at the peak
             * or decay slowly). Not between two busy commits: it walks the whole heap. */
            if (trimmed_after != committed) {
                heap_trim();
                trimmed_after = committed;
            }
            n = writer_idle(a, batch);
        }
        if (!n) {
            if (queue_is_closed(&a->store_q))
                break;
            continue;
        }
        if (n < STORE_BATCH && only_outcomes(batch, n))
            n += queue_pop_batch(&a->store_q, batch + n, STORE_BATCH - n, OUTCOME_WAIT_MS);
        t0 = clock_mono_ns();
        rc = store_tx(a, batch, n);
        committed++;
        writer_count(a, batch, n, rc, t0);
        /* answers and notifications first: the commit made them durable, and a checkpoint
         * or a purge must not hold them up */
        for (size_t i = 0; i < n; i++) {
            size_t nfx = ((struct smsg *)batch[i])->fx.n;
            dispatch(a, batch[i], rc == TOCSIN_OK, &bl);
            smsg_free(batch[i]);
            pthread_mutex_lock(&a->sf_mu);
            a->store_inflight -= nfx < a->store_inflight ? nfx : a->store_inflight;
            pthread_cond_broadcast(&a->sf_cv);
            pthread_mutex_unlock(&a->sf_mu);
        }
        if (!rc)
            hard_checkpoint(a);
        purge_outbox(a, &purged_at);
    }
    backlog_free(&bl);
    return NULL;
}

void app_publish_stats(struct app *a)
{
    pthread_mutex_lock(&a->stats_mu);
    engine_get_stats(a->engine, &a->est);
    alertdb_get_stats(a->alerts, &a->ast);
    nwire_get_stats(a, &a->rst);
    pthread_mutex_unlock(&a->stats_mu);
}

/* ---- readers ------------------------------------------------------------------------- */

#define READ_QUEUE 1024

struct reader_arg {
    struct app *a;
    struct store *rs;
};

static void rjob_free(struct rjob *j)
{
    if (j->free_ctx)
        j->free_ctx(j->ctx);
    free(j);
}

int app_to_reader(struct app *a, struct rjob *j)
{
    int rc = queue_push(&a->read_q, j);

    if (rc)
        rjob_free(j);
    return rc;
}

static void *reader_main(void *arg)
{
    struct reader_arg *ra = arg;
    void *batch[8];

    for (;;) {
        size_t n = queue_pop_batch(&ra->a->read_q, batch, 8, -1);
        if (!n && queue_is_closed(&ra->a->read_q))
            break;
        for (size_t i = 0; i < n; i++) {
            struct rjob *j = batch[i];
            struct http_resp r;
            memset(&r, 0, sizeof(r));
            r.status = 500;
            j->fn(ra->a, ra->rs, j, &r);
            if (r.body && !r.body_len)
                r.body_len = strlen(r.body);
            if (r.status) /* 0: handed on to the engine, which answers */
                net_complete(ra->a->net, j->req_id, &r);
            else
                free(r.body);
            rjob_free(j);
        }
    }
    free(ra);
    return NULL;
}

static int start_readers(struct app *a)
{
    a->read_thr = calloc(a->nreaders, sizeof(*a->read_thr));
    if (!a->read_thr)
        return -1;
    for (unsigned i = 0; i < a->nreaders; i++) {
        struct reader_arg *ra = malloc(sizeof(*ra));
        if (!ra)
            return -1;
        ra->a = a;
        ra->rs = a->rstores[i];
        if (pthread_create(&a->read_thr[i], NULL, reader_main, ra)) {
            free(ra);
            return -1;
        }
        pthread_setname_np(a->read_thr[i], "tocsin-reader");
        a->nread_started++;
    }
    return 0;
}

static void stop_readers(struct app *a)
{
    queue_close(&a->read_q);
    for (unsigned i = 0; i < a->nread_started; i++)
        pthread_join(a->read_thr[i], NULL);
    a->nread_started = 0;
    free(a->read_thr);
    a->read_thr = NULL;
    {
        void *left[64];
        size_t n;
        while ((n = queue_pop_batch(&a->read_q, left, 64, 0)) > 0)
            for (size_t i = 0; i < n; i++)
                rjob_free(left[i]);
    }
}

/* ---- maintenance ----------------------------------------------------------------------- */

#define CHECKPOINT_EVERY_MS 250
/* A checkpoint copies the WAL's new frames into the database file, 2.5-5 ms of CPU in one call
 * at 1,000 alert changes/s; the kernel let it run on while the store writer, the notifier or the
 * network thread, woken on the same CPU, waited behind it for up to 3.9 ms (perf sched
 * timehist), the tail of the change-to-delivery delay on two cores. It yields every
 * MAINT_YIELD_NS of copying instead (store/walbuf.h). */
#define MAINT_YIELD_NS 250000

/* Checkpoints the WAL from its own connection, so that the store writer's commits never wait
 * for a checkpoint's fsync: every CHECKPOINT_EVERY_MS, and at once when the writer queues a
 * wake-up (idle, or past WAL_HARD_BYTES). Publishes when its last pass started and ended. */
static void *maint_main(void *arg)
{
    struct app *a = arg;
    void *wake;
    int64_t t0;

    walbuf_yield_every(MAINT_YIELD_NS);
    for (;;) {
        queue_pop_batch(&a->maint_q, &wake, 1, CHECKPOINT_EVERY_MS);
        if (queue_is_closed(&a->maint_q))
            break;
        t0 = clock_mono_ns();
        store_checkpoint(a->mstore);
        atomic_store(&a->maint_pass_start_ns, t0);
        atomic_store(&a->maint_pass_ns, clock_mono_ns());
    }
    store_checkpoint(a->mstore);
    return NULL;
}

int app_start_threads(struct app *a)
{
    /* what was loaded, before the first request: the engine's first turn may be a second away */
    app_publish_stats(a);
    if (pthread_create(&a->store_thr, NULL, store_main, a))
        return -1;
    if (pthread_create(&a->engine_thr, NULL, engine_main, a)) {
        queue_close(&a->store_q);
        pthread_join(a->store_thr, NULL);
        return -1;
    }
    if (pthread_create(&a->maint_thr, NULL, maint_main, a)) {
        queue_close(&a->maint_q); /* no thread to join */
        app_stop_threads(a);
        return -1;
    }
    if (start_readers(a)) {
        app_stop_threads(a);
        return -1;
    }
    /* names for top -H, perf and gdb (15 characters at most) */
    pthread_setname_np(a->store_thr, "tocsin-store");
    pthread_setname_np(a->engine_thr, "tocsin-engine");
    pthread_setname_np(a->maint_thr, "tocsin-maint");
    return 0;
}

void app_stop_threads(struct app *a)
{
    stop_readers(a); /* the network loop has stopped: nobody queues reads any more */
    queue_close(&a->engine_q);
    pthread_mutex_lock(&a->qb_mu); /* wake producers waiting for room */
    pthread_cond_broadcast(&a->qb_cv);
    pthread_mutex_unlock(&a->qb_mu);
    pthread_join(a->engine_thr, NULL);
    notifier_stop(a->notifier, 5000);
    queue_close(&a->store_q);
    pthread_join(a->store_thr, NULL);
    if (!queue_is_closed(&a->maint_q)) {
        queue_close(&a->maint_q);
        pthread_join(a->maint_thr, NULL);
    }
}
