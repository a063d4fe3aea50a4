#include "notify/notifier.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "notify/backoff.h"
#include "notify/http_channel.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/queue.h"

#define INTAKE_BATCH 256
#define POLL_MAX_MS 1000 /* longest sleep of the loop (also bounds a clock that jumps) */
#define CURL_REASON_MAX 256

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

/* A transfer slot; rec is NULL when the slot is free. */
struct slot {
    struct http_delivery d;
    struct notify_rec *rec; /* owned while in flight */
    int64_t start_ms;       /* monotonic */
};

/* What one attempt came to. */
struct attempt {
    int http;
    bool ok;
    bool permanent;
    const char *reason;     /* for last_error (may hold a response excerpt) */
    const char *log_reason; /* for the log line (never the response) */
    int64_t duration_ms;
};

struct notifier {
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
    pthread_t thread;
    bool started, joined, curl_inited;
    atomic_bool stopping;
    _Atomic int64_t drain_deadline; /* monotonic ms */
    _Atomic uint64_t delivered, failed, retried, in_flight;
    _Atomic uint64_t queued; /* from notifier_submit() (or a retry) until launched or dropped */
};

static int64_t now_ms(const struct notifier *n)
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
static void schedule(struct notifier *n, struct notify_rec *rec)
{
    char qi[64];
    struct sched s = {.due = rec->next_ms, .order = n->order++, .rec = rec};

    if (heap_push(&n->heap, s)) {
        log_error("notify_dropped", "notification=%s reason=\"cannot schedule\"",
                  log_quote(qi, sizeof(qi), rec->id));
        notify_rec_free(rec);
        atomic_fetch_sub(&n->queued, 1);
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
static void conclude(struct notifier *n, struct notify_rec *rec, const struct attempt *at)
{
    int64_t now = now_ms(n);
    struct notify_rec *copy;

    if (rec->max_attempts == 0)
        rec->max_attempts = n->cfg.max_attempts;
    rec->attempts++;
    rec->updated_ms = now;
    rec->last_http_status = at->http;
    free(rec->last_error);
    rec->last_error = NULL;
    if (at->ok) {
        rec->status = NOTIFY_DELIVERED;
    } else {
        rec->last_error = strdup(at->reason ? at->reason : "");
        if (at->permanent || rec->attempts >= rec->max_attempts) {
            rec->status = NOTIFY_FAILED;
        } else {
            rec->status = NOTIFY_PENDING;
            rec->next_ms = now + backoff_delay_ms(rec->attempts, n->cfg.backoff_base_ms,
                                                  n->cfg.backoff_max_ms, random_u64());
        }
    }
    log_attempt(rec, at);
    if (rec->status != NOTIFY_PENDING) {
        atomic_fetch_add(rec->status == NOTIFY_DELIVERED ? &n->delivered : &n->failed, 1);
        n->cb(n->ud, rec);
        return;
    }
    atomic_fetch_add(&n->retried, 1);
    copy = notify_rec_dup(rec);
    if (copy)
        n->cb(n->ud, copy);
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

/* A finished transfer of slot sl: frees the slot and concludes the attempt. */
static void finish(struct notifier *n, struct slot *sl, CURLcode res)
{
    struct notify_rec *rec = sl->rec;
    struct attempt at = {0};
    struct buf reason;
    char logr[CURL_REASON_MAX];
    long http = 0;

    curl_easy_getinfo(sl->d.easy, CURLINFO_RESPONSE_CODE, &http);
    at.http = (int)http;
    at.duration_ms = clock_mono_ms() - sl->start_ms;
    at.ok = res == CURLE_OK && http >= 200 && http <= 299;
    buf_init(&reason, n->cfg.max_excerpt + CURL_REASON_MAX);
    if (!at.ok && res == CURLE_OK) {
        snprintf(logr, sizeof(logr), "HTTP %ld", http);
        buf_puts(&reason, logr);
        if (sl->d.resp.len && buf_puts(&reason, ": ") == TOCSIN_OK)
            append_clean(&reason, buf_str(&sl->d.resp), sl->d.resp.len, n->cfg.max_excerpt);
    } else if (!at.ok) {
        const char *txt = sl->d.errbuf[0] ? sl->d.errbuf : curl_easy_strerror(res);
        append_clean(&reason, txt, strlen(txt), CURL_REASON_MAX - 1);
        snprintf(logr, sizeof(logr), "%s", buf_str(&reason));
        at.permanent = res == CURLE_URL_MALFORMAT || res == CURLE_UNSUPPORTED_PROTOCOL;
    }
    at.reason = buf_str(&reason);
    at.log_reason = at.ok ? NULL : logr;
    sl->rec = NULL;
    n->busy--;
    atomic_store(&n->in_flight, n->busy);
    http_delivery_clear(&sl->d);
    conclude(n, rec, &at);
    buf_free(&reason);
}

/* ---- the loop ---- */

static struct slot *free_slot(struct notifier *n)
{
    for (unsigned i = 0; i < n->nslots; i++)
        if (!n->slots[i].rec)
            return &n->slots[i];
    return NULL;
}

/* Starts the transfer of rec (takes it). A record that cannot be set up is concluded at once. */
static void launch(struct notifier *n, struct slot *sl, struct notify_rec *rec)
{
    char err[CURL_REASON_MAX] = "";
    struct attempt at = {0};
    int rc;

    rc = http_channel_setup(&sl->d, rec, n->cfg.timeout_ms, err, sizeof(err));
    if (!rc && (curl_easy_setopt(sl->d.easy, CURLOPT_PRIVATE, (void *)sl) != CURLE_OK ||
                curl_multi_add_handle(n->multi, sl->d.easy) != CURLM_OK)) {
        snprintf(err, sizeof(err), "cannot start the transfer");
        rc = TOCSIN_EIO;
    }
    if (rc) {
        http_delivery_clear(&sl->d);
        at.permanent = rc == TOCSIN_EINVAL;
        at.reason = at.log_reason = err;
        conclude(n, rec, &at);
        return;
    }
    sl->rec = rec;
    sl->start_ms = clock_mono_ms();
    n->busy++;
    atomic_store(&n->in_flight, n->busy);
}

static void launch_due(struct notifier *n)
{
    int64_t now = now_ms(n);
    struct slot *sl;

    while (n->heap.len && n->heap.v[0].due <= now && (sl = free_slot(n))) {
        atomic_fetch_sub(&n->queued, 1);
        launch(n, sl, heap_pop(&n->heap).rec);
    }
}

/* Moves submissions into the schedule while it has room (retries of the transfers in flight
 * always find room: they are counted). */
static void intake(struct notifier *n)
{
    void *batch[INTAKE_BATCH];
    size_t got;

    do {
        size_t held = n->heap.len + n->busy;
        size_t room = held < NOTIFIER_MAX_SCHEDULED ? NOTIFIER_MAX_SCHEDULED - held : 0;
        got = queue_pop_batch(&n->inbox, batch, room < INTAKE_BATCH ? room : INTAKE_BATCH, 0);
        for (size_t i = 0; i < got; i++)
            schedule(n, batch[i]);
    } while (got > 0);
}

static void reap(struct notifier *n)
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

static int wait_ms(const struct notifier *n, bool stopping)
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
static void drop_all(struct notifier *n)
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
        notify_rec_free(sl->rec);
        sl->rec = NULL;
        aborted++;
    }
    n->busy = 0;
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
    struct notifier *n = arg;
    int running = 0;

    for (;;) {
        bool stopping = atomic_load(&n->stopping);
        if (!stopping) {
            intake(n);
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
    struct notifier *n = ud;

    curl_multi_wakeup(n->multi);
}

static void apply_defaults(struct notifier_cfg *c)
{
    if (c->concurrency == 0)
        c->concurrency = 64;
    if (c->concurrency > NOTIFIER_MAX_CONCURRENCY)
        c->concurrency = NOTIFIER_MAX_CONCURRENCY;
    if (c->timeout_ms <= 0)
        c->timeout_ms = 10000;
    if (c->backoff_base_ms <= 0)
        c->backoff_base_ms = 1000;
    if (c->backoff_max_ms <= 0)
        c->backoff_max_ms = 300000;
    if (c->max_attempts == 0)
        c->max_attempts = 10;
    if (c->max_excerpt == 0)
        c->max_excerpt = 256;
}

struct notifier *notifier_new(const struct notifier_cfg *cfg, struct clock clk,
                              notifier_result_fn cb, void *ud)
{
    struct notifier *n;

    if (!cb || sodium_init() < 0)
        return NULL;
    n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    if (cfg)
        n->cfg = *cfg;
    apply_defaults(&n->cfg);
    n->clk = clk.now_ms ? clk : clock_real();
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
    for (unsigned i = 0; i < n->nslots; i++)
        if (http_delivery_init(&n->slots[i].d))
            goto fail;
    return n;
fail:
    notifier_free(n);
    return NULL;
}

int notifier_start(struct notifier *n)
{
    if (!n || n->started || atomic_load(&n->stopping))
        return TOCSIN_EINVAL;
    if (pthread_create(&n->thread, NULL, run, n) != 0)
        return TOCSIN_EIO;
    n->started = true;
    return TOCSIN_OK;
}

int notifier_submit(struct notifier *n, struct notify_rec *rec)
{
    int rc;

    if (!n || !rec)
        return TOCSIN_EINVAL;
    atomic_fetch_add(&n->queued, 1); /* before the push: the loop may take it at once */
    rc = queue_push(&n->inbox, rec);
    if (rc)
        atomic_fetch_sub(&n->queued, 1);
    return rc;
}

void notifier_stop(struct notifier *n, int64_t drain_ms)
{
    if (!n || !n->inbox.items)
        return;
    atomic_store(&n->drain_deadline, clock_mono_ms() + (drain_ms > 0 ? drain_ms : 0));
    /* Close first: every submission that succeeded is then in the queue before the loop sees
     * `stopping` and empties it. */
    queue_close(&n->inbox);
    atomic_store(&n->stopping, true);
    if (n->started && !n->joined) {
        curl_multi_wakeup(n->multi);
        pthread_join(n->thread, NULL);
        n->joined = true;
    }
}

void notifier_free(struct notifier *n)
{
    if (!n)
        return;
    notifier_stop(n, 0);
    if (n->inbox.items)
        drop_all(n);
    for (unsigned i = 0; i < n->nslots; i++)
        http_delivery_free(&n->slots[i].d);
    free(n->slots);
    free(n->heap.v);
    queue_destroy(&n->inbox);
    if (n->multi)
        curl_multi_cleanup(n->multi);
    if (n->curl_inited)
        curl_global_cleanup();
    free(n);
}

void notifier_get_stats(struct notifier *n, struct notifier_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!n)
        return;
    out->delivered = atomic_load(&n->delivered);
    out->failed = atomic_load(&n->failed);
    out->retried = atomic_load(&n->retried);
    out->in_flight = atomic_load(&n->in_flight);
    out->queued = atomic_load(&n->queued);
}
