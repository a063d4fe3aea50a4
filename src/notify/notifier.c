#include "notify/notifier.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "notify/backoff.h"
#include "notify/channel.h"
#include "notify/http_channel.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/queue.h"
#include "util/smap.h"

#define INTAKE_BATCH 256
#define POLL_MAX_MS 1000 /* longest sleep of the loop (also bounds a clock that jumps) */
#define CURL_REASON_MAX 256
#define RESP_HEADERS_MAX (8 * 1024) /* response header bytes kept (Retry-After and the like) */
#define RESP_HEADER_LINES 64        /* ... and lines of them handed to the channel's judge */
#define RETRY_AFTER_MAX_MS (3600LL * 1000) /* a longer Retry-After is cut to this */

/* A record waiting for its time. `order` keeps submissions with the same due time FIFO. */
struct sched {
    int64_t due;
    uint64_t order;
    struct notify_rec *rec;
};

struct heap {
    struct sched *v;
    size_t len, cap;
};

/* A channel's own limits and state (channel notifications only). */
struct chst {
    unsigned inflight;
    unsigned conc;         /* 0: no own limit */
    double rate, tokens;   /* starts per second (0: none), the bucket */
    int64_t refill_ms;
    int64_t blocked_until; /* wall ms: the service asked to wait until then */
    struct sched *parked;  /* waiting for one of the channel's transfers to end, FIFO */
    size_t npark, park_head, park_cap;
    bool failing;          /* its last attempt failed and will be retried */
    char id[];             /* the channel id */
};

/* The notifications of one alert through one channel, in order: one at a time, or those of one
 * group (notify_rec.group) together. */
struct lane {
    struct notify_rec **q; /* waiting behind the ones in progress, FIFO */
    size_t head, n, cap;
    uint64_t group;        /* of the ones in progress (0: a record of its own) */
    unsigned active;       /* in progress (launched, or scheduled for a retry) */
};

/* A transfer slot; rec is NULL when the slot is free. */
struct slot {
    struct http_delivery d;
    struct buf hdrs;        /* response headers, bounded */
    struct notify_rec *rec; /* owned while in flight */
    struct chst *ch;        /* its channel's state, or NULL */
    void *state;            /* the channel ops' per-transfer state */
    int64_t start_ms;       /* monotonic */
    int64_t start_wall;
};

/* What one attempt came to. */
struct attempt {
    int http;
    bool ok;
    bool permanent;
    int64_t retry_after_ms;
    char *ticket;           /* taken by conclude() */
    const char *response;   /* excerpt for the attempt record */
    int64_t start_wall;
    const char *reason;     /* for last_error (may hold a response excerpt) */
    const char *log_reason; /* for the log line (never the response) */
    int64_t duration_ms;
};

struct shard {
    struct notifier_cfg cfg;
    struct clock clk;
    notifier_result_fn cb;
    void *ud;
    CURLM *multi;
    struct queue inbox;
    struct heap heap; /* notifier thread only */
    uint64_t order;
    struct slot *slots;
    unsigned nslots, busy;
    struct smap lanes;    /* "<alert id>\x1f<channel>" -> struct lane (notifier thread) */
    struct smap channels; /* channel id -> struct chst (notifier thread) */
    size_t held;          /* records in lanes and parked (bounded with the heap) */
    pthread_t thread;
    bool started, joined, curl_inited;
    atomic_bool stopping;
    _Atomic int64_t drain_deadline; /* monotonic ms */
    _Atomic uint64_t delivered, failed, retried, in_flight;
    _Atomic uint64_t queued; /* from shard_submit() (or a retry) until launched or dropped */
    struct notifier *pool;   /* the shards together (their waits) */
    unsigned index;          /* this shard's, 0-based */
    uint64_t notices_seen;   /* pool->nnotices when this shard last read the notices */
};

#define NOTICES 64
#define NOTICE_FAILING INT64_C(-1) /* a notice's blocked_until: the channel started failing */

/* The notifier: its shards, each a thread with its own libcurl multi, lanes and channel
 * states (notifier_cfg.threads of them). */
struct notifier {
    struct shard *s[NOTIFIER_MAX_THREADS];
    unsigned n;
    bool started;
    struct notifier_channel_ops ops; /* the shards' (and limits() decides where a channel's
                                        records go) */
    void *ops_ud;
    pthread_mutex_t wmu;  /* guards waits */
    struct latring waits; /* first attempts of every shard: submitted -> started */
    /* what one shard learnt of a channel, for the others: it started failing (so that
     * whichever shard sees it deliver again first tells the rest), it delivered again after
     * failing (their records of it waiting for a retry go now too, channel_recovered), or the
     * service asked to wait (Retry-After: none of them starts a transfer of it before then) */
    pthread_mutex_t rmu; /* guards notices */
    struct notice {
        char *id;
        unsigned from;         /* the shard that saw it */
        int64_t blocked_until; /* wall ms; 0: the channel delivered again; NOTICE_FAILING */
    } notices[NOTICES];
    _Atomic uint64_t nnotices; /* notices ever posted; the last NOTICES are kept */
};

static _Thread_local unsigned this_shard; /* set by each shard's thread in run() */

static void shard_free(struct shard *n);

static int64_t now_ms(const struct shard *n)
{
    return n->clk.now_ms(n->clk.ud);
}

static uint64_t random_u64(void)
{
    uint64_t r;

    randombytes_buf(&r, sizeof(r));
    return r;
}

/* ---- the schedule: a min-heap by (due, order) ---- */

static bool before(const struct sched *a, const struct sched *b)
{
    return a->due < b->due || (a->due == b->due && a->order < b->order);
}

static int heap_push(struct heap *h, struct sched s)
{
    size_t i;

    if (h->len == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 64;
        struct sched *nv;
        if (ncap > NOTIFIER_MAX_SCHEDULED)
            ncap = NOTIFIER_MAX_SCHEDULED;
        if (h->len >= ncap)
            return TOCSIN_EFULL;
        nv = realloc(h->v, ncap * sizeof(*nv));
        if (!nv)
            return TOCSIN_ENOMEM;
        h->v = nv;
        h->cap = ncap;
    }
    for (i = h->len++; i > 0 && before(&s, &h->v[(i - 1) / 2]); i = (i - 1) / 2)
        h->v[i] = h->v[(i - 1) / 2];
    h->v[i] = s;
    return TOCSIN_OK;
}

static struct sched heap_pop(struct heap *h)
{
    struct sched top = h->v[0], last = h->v[--h->len];
    size_t i = 0, c;

    while ((c = 2 * i + 1) < h->len) {
        if (c + 1 < h->len && before(&h->v[c + 1], &h->v[c]))
            c++;
        if (!before(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->len)
        h->v[i] = last;
    return top;
}

/* Takes rec, already counted in n->queued (frees it if it cannot be held). */
static void schedule_at(struct shard *n, struct notify_rec *rec, int64_t due)
{
    char qi[64];
    struct sched s = {.due = due, .order = n->order++, .rec = rec};

    if (heap_push(&n->heap, s)) {
        log_error("notify_dropped", "notification=%s reason=\"cannot schedule\"",
                  log_quote(qi, sizeof(qi), rec->id));
        notify_rec_free(rec);
        atomic_fetch_sub(&n->queued, 1);
    }
}

static void schedule(struct shard *n, struct notify_rec *rec)
{
    schedule_at(n, rec, rec->next_ms);
}

/* ---- lanes: one alert's notifications through one channel, in order ---- */

/* The lane key of rec into k; 0 when rec has no lane (no alert). */
static size_t lane_key(const struct notify_rec *rec, char *k, size_t cap)
{
    const char *ch = rec->channel_id ? rec->channel_id : rec->channel ? rec->channel : "";
    size_t al = strlen(rec->alert_id), cl = strlen(ch);

    if (!al || al + 1 + cl >= cap)
        return 0;
    memcpy(k, rec->alert_id, al); /* "<alert>\x1f<channel>" (snprintf's parse of the format
                                     was 1.4 % of the thread) */
    k[al] = '\x1f';
    memcpy(k + al + 1, ch, cl + 1);
    return al + 1 + cl;
}

/* A record arrives (counted in n->queued): it goes first if its lane is idle, or with the
 * ones in progress when it is of their group and nothing waits; else it waits. */
static void admit(struct shard *n, struct notify_rec *rec)
{
    char k[TOCSIN_ID_LEN + 300];
    size_t kl = lane_key(rec, k, sizeof(k));
    struct lane *l;

    if (!kl) {
        schedule(n, rec);
        return;
    }
    l = smap_get(&n->lanes, k, kl);
    if (!l) {
        l = calloc(1, sizeof(*l));
        if (!l || smap_put(&n->lanes, k, kl, l, NULL)) {
            free(l);
            schedule(n, rec); /* out of memory: no ordering rather than no delivery */
            return;
        }
        l->group = rec->group;
        l->active = 1;
        schedule(n, rec);
        return;
    }
    if (!l->n && rec->group && rec->group == l->group) {
        l->active++;
        schedule(n, rec);
        return;
    }
    if (l->head + l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 4;
        struct notify_rec **nq;
        if (l->head) {
            memmove(l->q, l->q + l->head, l->n * sizeof(*l->q));
            l->head = 0;
        }
        if (l->n == l->cap) {
            nq = realloc(l->q, ncap * sizeof(*nq));
            if (!nq) {
                schedule(n, rec);
                return;
            }
            l->q = nq;
            l->cap = ncap;
        }
    }
    l->q[l->head + l->n++] = rec;
    n->held++;
}

/* A record in progress in its lane is done (delivered or failed for good): when it was the
 * last of its group, the next goes, with the ones of its group right behind it. */
static void lane_next(struct shard *n, const struct notify_rec *done_rec)
{
    char k[TOCSIN_ID_LEN + 300];
    size_t kl = lane_key(done_rec, k, sizeof(k));
    struct lane *l = kl ? smap_get(&n->lanes, k, kl) : NULL;
    int64_t now;

    if (!l || (l->active && --l->active))
        return;
    if (!l->n) {
        smap_del(&n->lanes, k, kl);
        free(l->q);
        free(l);
        return;
    }
    now = now_ms(n);
    l->group = l->q[l->head]->group;
    do {
        struct notify_rec *next = l->q[l->head++];
        l->n--;
        n->held--;
        l->active++;
        schedule_at(n, next, next->next_ms > now ? next->next_ms : now);
    } while (l->n && l->group && l->q[l->head]->group == l->group);
}

static void lanes_free(struct shard *n, size_t *dropped)
{
    size_t it;
    struct smap_entry *e = smap_first(&n->lanes, &it);

    while (e) {
        struct lane *l = e->value;
        for (size_t i = 0; i < l->n; i++, (*dropped)++)
            notify_rec_free(l->q[l->head + i]);
        free(l->q);
        free(l);
        e = smap_next(&n->lanes, e, &it);
    }
    smap_free(&n->lanes);
    smap_init(&n->lanes);
}

/* ---- channels' own limits ---- */

/* The size of a channel's token bucket: 10 ms worth of starts, at least one. A bucket of a
 * whole second would let its burst plus a second of refill start nearly 2 * rate in one
 * second; this keeps any second within rate (+ rate / 100) and still allows high rates. */
static double rate_burst(double rate)
{
    return rate / 100 > 1 ? rate / 100 : 1;
}

static struct chst *channel_state(struct shard *n, const char *id)
{
    size_t kl = strlen(id);
    struct chst *c = smap_get(&n->channels, id, kl);

    if (!c) {
        c = calloc(1, sizeof(*c) + kl + 1);
        if (c)
            memcpy(c->id, id, kl + 1);
        if (!c || smap_put(&n->channels, id, kl, c, NULL)) {
            free(c);
            return NULL;
        }
        c->refill_ms = now_ms(n);
    }
    if (n->pool->ops.limits) {
        double rate = 0;
        n->pool->ops.limits(n->pool->ops_ud, id, &c->conc, &rate);
        if (rate != c->rate) {
            c->rate = rate;
            c->tokens = rate_burst(rate);
        }
    }
    return c;
}

static int park(struct chst *c, struct sched s)
{
    if (c->park_head + c->npark == c->park_cap) {
        if (c->park_head) {
            memmove(c->parked, c->parked + c->park_head, c->npark * sizeof(*c->parked));
            c->park_head = 0;
        }
        if (c->npark == c->park_cap) {
            size_t ncap = c->park_cap ? c->park_cap * 2 : 16;
            struct sched *nv = realloc(c->parked, ncap * sizeof(*nv));
            if (!nv)
                return TOCSIN_ENOMEM;
            c->parked = nv;
            c->park_cap = ncap;
        }
    }
    c->parked[c->park_head + c->npark++] = s;
    return TOCSIN_OK;
}

static void channels_free(struct shard *n, size_t *dropped)
{
    size_t it;
    struct smap_entry *e = smap_first(&n->channels, &it);

    while (e) {
        struct chst *c = e->value;
        for (size_t i = 0; i < c->npark; i++, (*dropped)++)
            notify_rec_free(c->parked[c->park_head + i].rec);
        free(c->parked);
        free(c);
        e = smap_next(&n->channels, e, &it);
    }
    smap_free(&n->channels);
    smap_init(&n->channels);
}

/* 0 if s may start now on channel c (a token is taken), else the wall time to try again, or
 * -1 when it must wait for one of the channel's transfers to end. */
static int64_t channel_gate(struct shard *n, struct chst *c, int64_t now)
{
    if (now < c->blocked_until)
        return c->blocked_until;
    if (c->conc && c->inflight >= c->conc)
        return -1;
    if (c->rate > 0) {
        double cap = rate_burst(c->rate);
        if (now > c->refill_ms) {
            c->tokens += (double)(now - c->refill_ms) * c->rate / 1000.0;
            if (c->tokens > cap)
                c->tokens = cap;
            c->refill_ms = now;
        }
        if (c->tokens < 1)
            return now + 1 + (int64_t)((1 - c->tokens) * 1000.0 / c->rate);
        c->tokens -= 1;
    }
    (void)n;
    return 0;
}

/* One of c's transfers ended: the first parked record may go. */
static void channel_release(struct shard *n, struct chst *c)
{
    if (c->inflight)
        c->inflight--;
    if (c->npark) {
        struct sched s = c->parked[c->park_head++];
        c->npark--;
        n->held--;
        if (heap_push(&n->heap, s)) {
            notify_rec_free(s.rec);
            atomic_fetch_sub(&n->queued, 1);
        }
    }
}

/* ---- outcome of an attempt ---- */

static void log_attempt(const struct notify_rec *rec, const struct attempt *at)
{
    char qi[64], qa[64], qc[128], qe[CURL_REASON_MAX + 16];
    bool ok = rec->status == NOTIFY_DELIVERED;

    if ((ok ? LOG_INFO : LOG_WARN) < log_min_level())
        return;
    log_quote(qi, sizeof(qi), rec->id);
    log_quote(qa, sizeof(qa), rec->alert_id);
    log_quote(qc, sizeof(qc), rec->channel ? rec->channel : "");
    if (ok) {
        log_emit(LOG_INFO, "notify_attempt",
                 "notification=%s alert=%s channel=%s status=%d attempt=%u duration_ms=%lld"
                 " result=%s",
                 qi, qa, qc, at->http, rec->attempts, (long long)at->duration_ms,
                 notify_status_name(rec->status));
        return;
    }
    log_quote(qe, sizeof(qe), at->log_reason ? at->log_reason : "");
    log_emit(LOG_WARN, "notify_attempt",
             "notification=%s alert=%s channel=%s status=%d attempt=%u duration_ms=%lld"
             " result=%s error=%s",
             qi, qa, qc, at->http, rec->attempts, (long long)at->duration_ms,
             notify_status_name(rec->status), qe);
}

/* Applies an attempt to rec, reports it and keeps rec for a retry or hands it to the callback.
 * Takes rec. */
static void conclude(struct shard *n, struct notify_rec *rec, struct attempt *at)
{
    int64_t now = now_ms(n);
    struct notify_rec *copy;
    struct notify_attempt_info info;

    if (rec->max_attempts == 0)
        rec->max_attempts = n->cfg.max_attempts;
    rec->attempts++;
    rec->updated_ms = now;
    rec->last_http_status = at->http;
    free(rec->last_error);
    rec->last_error = NULL;
    if (at->ticket) {
        free(rec->ticket);
        rec->ticket = at->ticket;
        at->ticket = NULL;
    }
    if (at->ok) {
        rec->status = NOTIFY_DELIVERED;
    } else {
        rec->last_error = strdup(at->reason ? at->reason : "");
        if (at->permanent || rec->attempts >= rec->max_attempts) {
            rec->status = NOTIFY_FAILED;
        } else {
            int64_t wait = backoff_delay_ms(rec->attempts, n->cfg.backoff_base_ms,
                                            n->cfg.backoff_max_ms, random_u64());
            rec->status = NOTIFY_PENDING;
            rec->next_ms = now + (at->retry_after_ms > wait ? at->retry_after_ms : wait);
        }
    }
    log_attempt(rec, at);
    info = (struct notify_attempt_info){.n = rec->attempts,
                                        .at_ms = at->start_wall ? at->start_wall : now,
                                        .duration_ms = at->duration_ms,
                                        .http = at->http,
                                        .error = at->ok ? NULL : rec->last_error,
                                        .response = at->response ? at->response : ""};
    if (rec->status != NOTIFY_PENDING) {
        atomic_fetch_add(rec->status == NOTIFY_DELIVERED ? &n->delivered : &n->failed, 1);
        lane_next(n, rec);
        n->cb(n->ud, rec, &info);
        return;
    }
    atomic_fetch_add(&n->retried, 1);
    copy = notify_rec_dup(rec);
    if (copy)
        n->cb(n->ud, copy, &info);
    else
        log_error("notify_result_lost", "reason=\"out of memory\"");
    if (atomic_load(&n->stopping)) {
        notify_rec_free(rec);
        return;
    }
    atomic_fetch_add(&n->queued, 1);
    schedule(n, rec);
}

/* Appends up to max bytes of p as printable UTF-8: control characters become spaces, bytes that
 * are not UTF-8 become '?', and a character is never cut. */
static void append_clean(struct buf *out, const char *p, size_t n, size_t max)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0, used = 0;

    while (i < n) {
        size_t len = 1, need = 0;
        unsigned char c = s[i];
        if (c >= 0xc2 && c <= 0xdf)
            need = 2;
        else if (c >= 0xe0 && c <= 0xef)
            need = 3;
        else if (c >= 0xf0 && c <= 0xf4)
            need = 4;
        if (need) {
            bool good = i + need <= n;
            for (size_t k = 1; good && k < need; k++)
                good = (s[i + k] & 0xc0) == 0x80;
            good = good && !(c == 0xe0 && s[i + 1] < 0xa0) && !(c == 0xed && s[i + 1] >= 0xa0) &&
                   !(c == 0xf0 && s[i + 1] < 0x90) && !(c == 0xf4 && s[i + 1] >= 0x90);
            len = good ? need : 1;
        }
        if (used + len > max)
            break;
        if (len > 1)
            buf_append(out, s + i, len);
        else
            buf_putc(out, (char)(c < 0x20 || c == 0x7f ? ' ' : c >= 0x80 ? '?' : c));
        used += len;
        i += len;
    }
}

/* A channel that was failing delivered again: its records waiting for a retry go now (as the
 * service allows: the channel's limits still apply when they start), instead of each waiting
 * out its own backoff, which after a long outage is minutes. O(records held). */
static void channel_recovered(struct shard *n, struct chst *c, int64_t now)
{
    bool moved = false;

    c->failing = false;
    for (size_t i = 0; i < n->heap.len; i++) {
        struct sched *s = &n->heap.v[i];
        if (s->due > now && s->rec->attempts > 0 && s->rec->channel_id &&
            !strcmp(s->rec->channel_id, c->id)) {
            s->due = now;
            moved = true;
        }
    }
    if (!moved)
        return;
    for (size_t i = n->heap.len / 2; i-- > 0;) { /* heapify again: lowered keys sift up */
        size_t j = i;
        struct sched x = n->heap.v[j];
        for (size_t k; (k = 2 * j + 1) < n->heap.len; j = k) {
            if (k + 1 < n->heap.len && before(&n->heap.v[k + 1], &n->heap.v[k]))
                k++;
            if (!before(&n->heap.v[k], &x))
                break;
            n->heap.v[j] = n->heap.v[k];
        }
        n->heap.v[j] = x;
    }
    log_info("channel_recovered", "channel=%s", c->id);
}

/* Tells the other shards that channel id delivered again (blocked_until 0) or is to be left
 * alone until blocked_until. */
static void post_notice(struct shard *n, const char *id, int64_t blocked_until)
{
    struct notifier *p = n->pool;
    char *copy;
    uint64_t k;

    if (p->n < 2 || !(copy = strdup(id)))
        return; /* out of memory: the others find out from their own transfers */
    pthread_mutex_lock(&p->rmu);
    k = atomic_load(&p->nnotices);
    free(p->notices[k % NOTICES].id);
    p->notices[k % NOTICES] =
        (struct notice){.id = copy, .from = n->index, .blocked_until = blocked_until};
    atomic_store(&p->nnotices, k + 1);
    pthread_mutex_unlock(&p->rmu);
    for (unsigned i = 0; i < p->n; i++)
        if (i != n->index)
            curl_multi_wakeup(p->s[i]->multi);
}

/* Applies the notices posted since the last read (the last NOTICES at most) to this shard's
 * channels. */
static void read_notices(struct shard *n)
{
    struct notifier *p = n->pool;
    uint64_t end = atomic_load(&p->nnotices), k;
    int64_t now;

    if (end == n->notices_seen)
        return;
    now = now_ms(n);
    pthread_mutex_lock(&p->rmu);
    end = atomic_load(&p->nnotices);
    k = end - n->notices_seen > NOTICES ? end - NOTICES : n->notices_seen;
    for (; k < end; k++) {
        const struct notice *r = &p->notices[k % NOTICES];
        struct chst *c;
        if (r->from == n->index)
            continue;
        if (r->blocked_until == NOTICE_FAILING) {
            if ((c = channel_state(n, r->id)))
                c->failing = true;
        } else if (r->blocked_until) { /* the channel's state is made if this shard has none */
            c = channel_state(n, r->id);
            if (c && r->blocked_until > c->blocked_until)
                c->blocked_until = r->blocked_until;
        } else if ((c = smap_get(&n->channels, r->id, strlen(r->id))) && c->failing) {
            channel_recovered(n, c, now);
        }
    }
    pthread_mutex_unlock(&p->rmu);
    n->notices_seen = end;
}

/* What an attempt through channel c tells of the channel: a wait the service asked for,
 * that it fails, or that it delivers again; posted to the other shards too. Then the
 * attempt's place in the channel's limits is given back. */
static void channel_outcome(struct shard *n, struct chst *c, const struct attempt *at, int64_t now)
{
    if (at->retry_after_ms > 0 && now + at->retry_after_ms > c->blocked_until) {
        c->blocked_until = now + at->retry_after_ms;
        post_notice(n, c->id, c->blocked_until);
    }
    if (at->ok && c->failing) {
        channel_recovered(n, c, now);
        post_notice(n, c->id, 0);
    } else if (!at->ok && !at->permanent && !c->failing) {
        /* the others must know: the first of them to deliver through it again may have no
         * failure of its own to go by (another alert's record, another shard) */
        c->failing = true;
        post_notice(n, c->id, NOTICE_FAILING);
    }
    channel_release(n, c);
}

/* Frees the channel ops' per-transfer state of slot sl, if any. */
static void release_state(struct shard *n, struct slot *sl)
{
    if (n->pool->ops.release && sl->state)
        n->pool->ops.release(n->pool->ops_ud, sl->state);
    sl->state = NULL;
}

/* A finished transfer of slot sl: frees the slot and concludes the attempt. */
static void finish(struct shard *n, struct slot *sl, CURLcode res)
{
    struct notify_rec *rec = sl->rec;
    struct attempt at = {0};
    struct notify_verdict v = {0};
    struct buf reason, excerpt;
    char logr[CURL_REASON_MAX];
    long http = 0;
    int64_t now = now_ms(n);
    const char *hl[RESP_HEADER_LINES];
    struct chan_resp cr = {0};

    curl_easy_getinfo(sl->d.easy, CURLINFO_RESPONSE_CODE, &http);
    at.http = (int)http;
    at.duration_ms = clock_mono_ms() - sl->start_ms;
    at.start_wall = sl->start_wall;
    v.ok = res == CURLE_OK && http >= 200 && http <= 299;
    v.permanent = res == CURLE_URL_MALFORMAT || res == CURLE_UNSUPPORTED_PROTOCOL;
    cr.status = res == CURLE_OK ? http : 0;
    cr.headers = hl;
    cr.nheaders = chan_header_lines(sl->hdrs.p, hl, RESP_HEADER_LINES);
    cr.body = buf_str(&sl->d.resp);
    cr.body_len = sl->d.resp.len;
    if (res == CURLE_OK && (http == 429 || http == 503))
        v.retry_after_ms = chan_retry_after(&cr, now);
    if (rec->channel_id && n->pool->ops.judge)
        n->pool->ops.judge(n->pool->ops_ud, rec, sl->state, (int)res, &cr, &v);
    at.ok = v.ok;
    at.permanent = !v.ok && v.permanent;
    /* one bound for every record, whatever the service or the channel's judge asked */
    at.retry_after_ms = v.ok || v.retry_after_ms < 0 ? 0
                        : v.retry_after_ms > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS
                                                                : v.retry_after_ms;
    at.ticket = v.ticket;
    buf_init(&reason, n->cfg.max_excerpt + CURL_REASON_MAX);
    buf_init(&excerpt, n->cfg.max_excerpt + 1);
    append_clean(&excerpt, buf_str(&sl->d.resp), sl->d.resp.len, n->cfg.max_excerpt);
    if (!at.ok && res == CURLE_OK) {
        if (v.reason[0])
            snprintf(logr, sizeof(logr), "HTTP %ld: %.200s", http, v.reason);
        else
            snprintf(logr, sizeof(logr), "HTTP %ld", http);
        buf_puts(&reason, logr);
        if (!v.reason[0] && sl->d.resp.len && buf_puts(&reason, ": ") == TOCSIN_OK)
            append_clean(&reason, buf_str(&sl->d.resp), sl->d.resp.len, n->cfg.max_excerpt);
    } else if (!at.ok) {
        const char *txt = sl->d.errbuf[0] ? sl->d.errbuf : curl_easy_strerror(res);
        append_clean(&reason, txt, strlen(txt), CURL_REASON_MAX - 1);
        snprintf(logr, sizeof(logr), "%s", buf_str(&reason));
    }
    at.reason = buf_str(&reason);
    at.log_reason = at.ok ? NULL : logr;
    at.response = buf_str(&excerpt);
    if (sl->ch)
        channel_outcome(n, sl->ch, &at, now);
    release_state(n, sl);
    sl->ch = NULL;
    sl->rec = NULL;
    n->busy--;
    atomic_store(&n->in_flight, n->busy);
    http_delivery_clear(&sl->d);
    buf_free(&sl->hdrs);
    buf_init(&sl->hdrs, RESP_HEADERS_MAX);
    conclude(n, rec, &at);
    free(at.ticket);
    buf_free(&reason);
    buf_free(&excerpt);
}

/* ---- the loop ---- */

static struct slot *free_slot(struct shard *n)
{
    for (unsigned i = 0; i < n->nslots; i++)
        if (!n->slots[i].rec)
            return &n->slots[i];
    return NULL;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t n = size * nmemb;
    size_t room = b->max > b->len ? b->max - b->len : 0;

    if (n >= 5 && !memcmp(p, "HTTP/", 5))
        b->len = 0; /* a new response (after a redirect or a 100): keep the last one's */
    if (room)
        buf_append(b, p, n < room ? n : room);
    return n;
}

/* A first attempt's wait since shard_submit(), for the stats. */
static void note_wait(struct shard *n, const struct notify_rec *rec)
{
    int64_t now;

    if (rec->attempts || !rec->ready_ns)
        return;
    now = clock_mono_ns();
    pthread_mutex_lock(&n->pool->wmu);
    latring_add(&n->pool->waits, (now - rec->ready_ns) / 1000, now / 1000000);
    pthread_mutex_unlock(&n->pool->wmu);
}

/* Starts the transfer of rec (takes it). A record that cannot be set up is concluded at once. */
static void launch(struct shard *n, struct slot *sl, struct notify_rec *rec, struct chst *ch)
{
    char err[CURL_REASON_MAX] = "";
    struct attempt at = {0};
    int rc;

    if (rec->channel_id) {
        if (!n->pool->ops.setup) {
            snprintf(err, sizeof(err), "channel '%.64s' is not available", rec->channel_id);
            rc = TOCSIN_EAGAIN;
        } else {
            http_delivery_clear(&sl->d);
            curl_easy_reset(sl->d.easy);
            rc = n->pool->ops.setup(n->pool->ops_ud, rec, sl->d.easy, &sl->state, err, sizeof(err));
            if (!rc) {
                CURLcode c = curl_easy_setopt(sl->d.easy, CURLOPT_ERRORBUFFER, sl->d.errbuf);
                c |= curl_easy_setopt(sl->d.easy, CURLOPT_WRITEFUNCTION, http_channel_on_body);
                c |= curl_easy_setopt(sl->d.easy, CURLOPT_WRITEDATA, &sl->d.resp);
                if (c) {
                    snprintf(err, sizeof(err), "cannot set up the transfer");
                    rc = TOCSIN_EIO;
                }
            }
        }
    } else {
        rc = http_channel_setup(&sl->d, rec, n->cfg.timeout_ms, err, sizeof(err));
    }
    if (!rc && (curl_easy_setopt(sl->d.easy, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
                curl_easy_setopt(sl->d.easy, CURLOPT_HEADERDATA, &sl->hdrs) != CURLE_OK ||
                curl_easy_setopt(sl->d.easy, CURLOPT_PRIVATE, (void *)sl) != CURLE_OK ||
                curl_multi_add_handle(n->multi, sl->d.easy) != CURLM_OK)) {
        snprintf(err, sizeof(err), "cannot start the transfer");
        rc = TOCSIN_EIO;
    }
    if (rc) {
        release_state(n, sl);
        http_delivery_clear(&sl->d);
        if (rc == NOTIFIER_NOTHING_TO_SEND) {
            at.ok = true;
            at.response = err; /* the reason, in the attempt record */
        }
        at.permanent = rc == TOCSIN_EINVAL;
        at.reason = at.log_reason = err;
        at.start_wall = now_ms(n);
        if (ch)
            channel_release(n, ch);
        conclude(n, rec, &at);
        return;
    }
    sl->rec = rec;
    sl->ch = ch;
    sl->start_ms = clock_mono_ms();
    sl->start_wall = now_ms(n);
    note_wait(n, rec);
    n->busy++;
    atomic_store(&n->in_flight, n->busy);
}

static void launch_due(struct shard *n)
{
    int64_t now = now_ms(n);
    struct slot *sl;

    while (n->heap.len && n->heap.v[0].due <= now && (sl = free_slot(n))) {
        struct sched s = heap_pop(&n->heap);
        struct chst *ch = NULL;
        if (s.rec->channel_id && (ch = channel_state(n, s.rec->channel_id))) {
            int64_t gate = channel_gate(n, ch, now);
            if (gate < 0 && park(ch, s) == TOCSIN_OK) {
                n->held++;
                continue;
            }
            if (gate > 0) {
                s.due = gate;
                s.order = n->order++;
                if (heap_push(&n->heap, s) == TOCSIN_OK)
                    continue;
            }
            ch->inflight++;
        }
        atomic_fetch_sub(&n->queued, 1);
        launch(n, sl, s.rec, ch);
    }
}

/* Moves submissions into the lanes and the schedule while there is room (retries of the
 * transfers in flight always find room: they are counted). */
static void intake(struct shard *n)
{
    void *batch[INTAKE_BATCH];
    size_t got;

    do {
        size_t held = n->heap.len + n->busy + n->held;
        size_t room = held < NOTIFIER_MAX_SCHEDULED ? NOTIFIER_MAX_SCHEDULED - held : 0;
        got = queue_pop_batch(&n->inbox, batch, room < INTAKE_BATCH ? room : INTAKE_BATCH, 0);
        for (size_t i = 0; i < got; i++)
            admit(n, batch[i]);
    } while (got > 0);
}

static void reap(struct shard *n)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(n->multi, &left))) {
        CURL *easy = m->easy_handle;
        CURLcode res = m->data.result;
        char *priv = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        curl_multi_remove_handle(n->multi, easy);
        if (priv)
            finish(n, (struct slot *)(void *)priv, res);
    }
}

static int wait_ms(const struct shard *n, bool stopping)
{
    int64_t w = POLL_MAX_MS;

    if (stopping)
        w = atomic_load(&n->drain_deadline) - clock_mono_ms();
    else if (n->heap.len && n->busy < n->nslots)
        w = n->heap.v[0].due - now_ms(n);
    if (w < 0)
        w = 0;
    return (int)(w < POLL_MAX_MS ? w : POLL_MAX_MS);
}

/* Frees every record still held: aborted transfers, the schedule, the queue. */
static void drop_all(struct shard *n)
{
    void *batch[INTAKE_BATCH];
    size_t got, dropped = 0;
    unsigned aborted = 0;

    for (unsigned i = 0; i < n->nslots; i++) {
        struct slot *sl = &n->slots[i];
        if (!sl->rec)
            continue;
        curl_multi_remove_handle(n->multi, sl->d.easy);
        http_delivery_clear(&sl->d);
        release_state(n, sl);
        sl->ch = NULL;
        notify_rec_free(sl->rec);
        sl->rec = NULL;
        aborted++;
    }
    n->busy = 0;
    lanes_free(n, &dropped);
    channels_free(n, &dropped);
    n->held = 0;
    while (n->heap.len) {
        notify_rec_free(heap_pop(&n->heap).rec);
        dropped++;
    }
    while ((got = queue_pop_batch(&n->inbox, batch, INTAKE_BATCH, 0)) > 0)
        for (size_t i = 0; i < got; i++, dropped++)
            notify_rec_free(batch[i]);
    atomic_store(&n->in_flight, 0);
    atomic_fetch_sub(&n->queued, dropped);
    if (aborted || dropped)
        log_info("notifier_dropped", "aborted=%u pending=%zu", aborted, dropped);
}

static void *run(void *arg)
{
    struct shard *n = arg;
    int running = 0;

    this_shard = n->index;
    for (;;) {
        bool stopping = atomic_load(&n->stopping);
        if (!stopping) {
            intake(n);
            read_notices(n);
            launch_due(n);
        }
        curl_multi_perform(n->multi, &running);
        reap(n);
        if (stopping &&
            (n->busy == 0 || clock_mono_ms() >= atomic_load(&n->drain_deadline)))
            break;
        curl_multi_poll(n->multi, NULL, 0, wait_ms(n, stopping), NULL);
    }
    drop_all(n);
    return NULL;
}

/* ---- public ---- */

static void wake(void *ud)
{
    struct shard *n = ud;

    curl_multi_wakeup(n->multi);
}

static void apply_defaults(struct notifier_cfg *c)
{
    if (c->threads == 0)
        c->threads = 1;
    if (c->threads > NOTIFIER_MAX_THREADS)
        c->threads = NOTIFIER_MAX_THREADS;
    if (c->concurrency == 0)
        c->concurrency = 64;
    if (c->concurrency > NOTIFIER_MAX_CONCURRENCY)
        c->concurrency = NOTIFIER_MAX_CONCURRENCY;
    if (c->timeout_ms <= 0)
        c->timeout_ms = 10000;
    if (c->backoff_base_ms <= 0)
        c->backoff_base_ms = 1000;
    if (c->backoff_max_ms <= 0)
        c->backoff_max_ms = 60000;
    if (c->max_attempts == 0)
        c->max_attempts = 30;
    if (c->max_excerpt == 0)
        c->max_excerpt = 256;
}

/* One shard: the state and thread of the notifier as it was whole before it had threads. */
static struct shard *shard_new(const struct notifier_cfg *cfg, struct clock clk,
                               notifier_result_fn cb, void *ud, struct notifier *pool,
                               unsigned index)
{
    struct shard *n;

    n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->pool = pool;
    n->index = index;
    n->cfg = *cfg;
    n->clk = clk;
    n->cb = cb;
    n->ud = ud;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        goto fail;
    n->curl_inited = true;
    n->multi = curl_multi_init();
    if (!n->multi || queue_init(&n->inbox, NOTIFIER_QUEUE_CAP))
        goto fail;
    queue_set_wake(&n->inbox, wake, n);
    n->slots = calloc(n->cfg.concurrency, sizeof(*n->slots));
    if (!n->slots)
        goto fail;
    n->nslots = n->cfg.concurrency;
    smap_init(&n->lanes);
    smap_init(&n->channels);
    for (unsigned i = 0; i < n->nslots; i++) {
        buf_init(&n->slots[i].hdrs, RESP_HEADERS_MAX);
        if (http_delivery_init(&n->slots[i].d))
            goto fail;
    }
    return n;
fail:
    shard_free(n);
    return NULL;
}

static int shard_start(struct shard *n)
{
    char name[16];

    if (n->started || atomic_load(&n->stopping))
        return TOCSIN_EINVAL;
    if (pthread_create(&n->thread, NULL, run, n) != 0)
        return TOCSIN_EIO;
    /* for top -H, perf and gdb: tocsin-notify, then tocsin-notify2, ... */
    if (n->index)
        snprintf(name, sizeof(name), "tocsin-notify%u", n->index + 1);
    else
        snprintf(name, sizeof(name), "tocsin-notify");
    pthread_setname_np(n->thread, name);
    n->started = true;
    return TOCSIN_OK;
}

static int shard_submit(struct shard *n, struct notify_rec *rec)
{
    int rc;

    atomic_fetch_add(&n->queued, 1); /* before the push: the loop may take it at once */
    rec->ready_ns = clock_mono_ns();
    rc = queue_push(&n->inbox, rec);
    if (rc)
        atomic_fetch_sub(&n->queued, 1);
    return rc;
}

/* Closes the shard's queue and tells its loop to drain until deadline (monotonic ms). */
static void shard_begin_stop(struct shard *n, int64_t deadline)
{
    if (!n->inbox.items)
        return;
    atomic_store(&n->drain_deadline, deadline);
    /* Close first: every submission that succeeded is then in the queue before the loop sees
     * `stopping` and empties it. */
    queue_close(&n->inbox);
    atomic_store(&n->stopping, true);
    if (n->started && !n->joined)
        curl_multi_wakeup(n->multi);
}

static void shard_join(struct shard *n)
{
    if (n->started && !n->joined) {
        pthread_join(n->thread, NULL);
        n->joined = true;
    }
}

static void shard_free(struct shard *n)
{
    if (!n)
        return;
    shard_begin_stop(n, clock_mono_ms());
    shard_join(n);
    if (n->inbox.items)
        drop_all(n);
    for (unsigned i = 0; i < n->nslots; i++) {
        http_delivery_free(&n->slots[i].d);
        buf_free(&n->slots[i].hdrs);
    }
    free(n->slots);
    smap_free(&n->lanes);
    smap_free(&n->channels);
    free(n->heap.v);
    queue_destroy(&n->inbox);
    if (n->multi)
        curl_multi_cleanup(n->multi);
    if (n->curl_inited)
        curl_global_cleanup();
    free(n);
}

/* ---- the shards together ---- */

unsigned notifier_thread_index(void)
{
    return this_shard;
}

struct notifier *notifier_new(const struct notifier_cfg *cfg, struct clock clk,
                              notifier_result_fn cb, void *ud)
{
    struct notifier_cfg c = {0};
    struct notifier *p;

    if (!cb || sodium_init() < 0)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->wmu, NULL);
    pthread_mutex_init(&p->rmu, NULL);
    if (cfg)
        c = *cfg;
    apply_defaults(&c);
    p->n = c.threads;
    /* each shard its share of the transfers in flight, at least one */
    c.concurrency = (c.concurrency + p->n - 1) / p->n;
    for (unsigned i = 0; i < p->n; i++) {
        p->s[i] = shard_new(&c, clk.now_ms ? clk : clock_real(), cb, ud, p, i);
        if (!p->s[i]) {
            notifier_free(p);
            return NULL;
        }
    }
    return p;
}

void notifier_set_channel_ops(struct notifier *p, const struct notifier_channel_ops *ops, void *ud)
{
    if (!p || p->started)
        return;
    if (ops)
        p->ops = *ops;
    else
        memset(&p->ops, 0, sizeof(p->ops));
    p->ops_ud = ud;
}

int notifier_start(struct notifier *p)
{
    int rc = TOCSIN_OK;

    if (!p || p->started || atomic_load(&p->s[0]->stopping))
        return TOCSIN_EINVAL;
    for (unsigned i = 0; !rc && i < p->n; i++)
        rc = shard_start(p->s[i]);
    p->started = true; /* the ones started are stopped by notifier_stop */
    return rc;
}

/* The shard of rec. The notifications of one lane (alert, channel) always go to one shard, so
 * their order holds; so do all those of a channel with limits of its own, so its concurrency,
 * rate and Retry-After are kept whole by one shard. */
static unsigned shard_of(struct notifier *p, const struct notify_rec *rec)
{
    char k[TOCSIN_ID_LEN + 300];
    unsigned conc = 0;
    double rate = 0;
    size_t kl;

    if (p->n == 1)
        return 0;
    if (rec->channel_id && p->ops.limits) {
        p->ops.limits(p->ops_ud, rec->channel_id, &conc, &rate);
        if (conc || rate > 0)
            return (unsigned)(smap_hash(rec->channel_id, strlen(rec->channel_id)) % p->n);
    }
    kl = lane_key(rec, k, sizeof(k));
    if (kl)
        return (unsigned)(smap_hash(k, kl) % p->n);
    return (unsigned)(smap_hash(rec->id, strlen(rec->id)) % p->n);
}

int notifier_submit(struct notifier *p, struct notify_rec *rec)
{
    if (!p || !rec)
        return TOCSIN_EINVAL;
    return shard_submit(p->s[shard_of(p, rec)], rec);
}

void notifier_stop(struct notifier *p, int64_t drain_ms)
{
    int64_t deadline = clock_mono_ms() + (drain_ms > 0 ? drain_ms : 0);

    if (!p)
        return;
    for (unsigned i = 0; i < p->n; i++) /* all drain at once */
        if (p->s[i])
            shard_begin_stop(p->s[i], deadline);
    for (unsigned i = 0; i < p->n; i++)
        if (p->s[i])
            shard_join(p->s[i]);
}

void notifier_free(struct notifier *p)
{
    if (!p)
        return;
    notifier_stop(p, 0);
    for (unsigned i = 0; i < p->n; i++)
        shard_free(p->s[i]);
    for (size_t i = 0; i < NOTICES; i++)
        free(p->notices[i].id);
    pthread_mutex_destroy(&p->rmu);
    pthread_mutex_destroy(&p->wmu);
    free(p);
}

void notifier_get_stats(struct notifier *p, struct notifier_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!p)
        return;
    for (unsigned i = 0; i < p->n; i++) {
        const struct shard *n = p->s[i];
        out->delivered += atomic_load(&n->delivered);
        out->failed += atomic_load(&n->failed);
        out->retried += atomic_load(&n->retried);
        out->in_flight += atomic_load(&n->in_flight);
        out->queued += atomic_load(&n->queued);
    }
    pthread_mutex_lock(&p->wmu);
    latring_summary(&p->waits, clock_mono_ms() - 60000, &out->wait);
    pthread_mutex_unlock(&p->wmu);
}
