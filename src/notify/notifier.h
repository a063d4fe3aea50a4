/* The notifier: cfg.threads shards, each a thread running a libcurl multi loop that delivers
 * rendered notify_recs over HTTP (http_channel.h), retries failures with exponential backoff
 * and jitter (backoff.h), and reports the outcome of every attempt.
 *
 * Flow: notifier_submit() (any thread) -> the record's shard: the one its lane (alert,
 * channel) hashes to, or for a channel with limits of its own the one its id hashes to ->
 * that shard's bounded queue -> its loop wakes (curl_multi_wakeup) -> a lane per (alert,
 * channel) -> a min-heap by next_ms -> the channel's own limits -> at most the shard's share
 * of `concurrency` transfers in flight -> result callback (on that shard's thread).
 * A Retry-After a shard gets, and a failing channel that delivers again, are posted to the
 * other shards (the last 64 such notices), which apply them at their loop's next turn.
 *
 * Order: the notifications of one alert through one channel are attempted one at a time, in
 * submission order: the next starts when the one before is delivered or has failed for good
 * (a retry keeps the lane waiting). So a resolve never overtakes its create, and a step that
 * needs a ticket learnt by the step before finds it.
 * Channel limits (channel notifications): at most `concurrency` transfers of the channel at
 * once, at most `rate` starts per second (a token bucket of 10 ms worth, at least one token:
 * starts are paced, not sent in a burst of a second's worth), and after an
 * answer that asks to wait (429/503 with Retry-After, or the channel's judge saying so) no
 * transfer of that channel starts before the time it gave.
 *
 * Outcome of an attempt (every attempt, successful or not, counts in rec->attempts):
 *   2xx                                -> NOTIFY_DELIVERED
 *   a URL/method/headers that can never be sent, a malformed URL or an unsupported protocol
 *                                      -> NOTIFY_FAILED at once
 *   any other failure (non-2xx answer, connect/TLS/timeout error)
 *       attempts >= max_attempts       -> NOTIFY_FAILED
 *       otherwise                      -> NOTIFY_PENDING, next_ms = now + backoff_delay_ms()
 * last_http_status is the last HTTP status (0 if none); last_error is "HTTP <code>: <excerpt of
 * the response>" or libcurl's error text, NULL after a delivery. The budget is
 * rec->max_attempts, or cfg.max_attempts when the record has 0 (the record is then given it).
 *
 * The notifier does not write to the store: the result callback does that (outbox update). It
 * keeps pending records in memory only; on notifier_stop() those not yet attempted are dropped
 * (they are durable in the outbox and reloaded at the next start). */
#ifndef TOCSIN_NOTIFIER_H
#define TOCSIN_NOTIFIER_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "util/latring.h"
#include "notify/channel.h"
#include "util/clock.h"

#define NOTIFIER_QUEUE_CAP 4096        /* submissions waiting for the loop; then TOCSIN_EFULL */
#define NOTIFIER_MAX_SCHEDULED 100000  /* records held in memory (scheduled + in flight) */
#define NOTIFIER_MAX_CONCURRENCY 1024
#define NOTIFIER_MAX_THREADS 8

/* Zero fields take the defaults shown. */
struct notifier_cfg {
    unsigned threads;        /* shards (threads), default 1, at most NOTIFIER_MAX_THREADS */
    unsigned concurrency;    /* transfers in flight, default 64, at most 1024, shared out
                                among the shards (each ceil(concurrency / threads)) */
    int64_t timeout_ms;      /* per attempt (whole transfer), default 10 s */
    int64_t backoff_base_ms; /* default 1 s */
    int64_t backoff_max_ms;  /* default 1 min */
    unsigned max_attempts;   /* default 30 (used when a record carries 0) */
    size_t max_excerpt;      /* bytes of response kept in last_error on failure, default 256 */
};

/* One attempt, as the result callback sees it (strings valid for the call only). */
struct notify_attempt_info {
    uint32_t n;              /* 1-based: rec->attempts after this one */
    int64_t at_ms;           /* wall time the attempt started */
    int64_t duration_ms;
    int http;                /* 0: no HTTP answer */
    const char *error;       /* NULL when delivered */
    const char *response;    /* bounded, cleaned excerpt of the answer body ("" if none) */
};

/* Called on the notifier thread after EVERY attempt with a record the callee owns (free with
 * notify_rec_free): status is DELIVERED, FAILED or PENDING (will be retried at next_ms); a
 * ticket found in the answer is in rec->ticket. It must not block for long: deliveries wait
 * while it runs. Never called after notifier_stop() has returned. */
typedef void (*notifier_result_fn)(void *ud, struct notify_rec *rec,
                                   const struct notify_attempt_info *at);

/* What an answer comes to, as a channel judges it. */
struct notify_verdict {
    bool ok;                /* delivered */
    bool permanent;         /* failed for good: no retry */
    int64_t retry_after_ms; /* > 0: the service asked to wait at least this long */
    char *ticket;           /* malloc'd JSON object (id, url, ...) found in the answer, or NULL */
    char reason[256];       /* why not ok ("" when ok) */
};

/* Channel notifications (rec->channel_id set) go through these; records without a channel id
 * are sent as they are (http_channel.h). Every function is called on a notifier thread
 * (but see limits).
 *   setup:   prepares `easy` (already reset; the notifier sets the write/header callbacks and
 *            CURLOPT_PRIVATE after it) and may keep per-transfer state in *state. TOCSIN_EINVAL
 *            (reason in err) fails the record for good; other errors are retried.
 *   judge:   the answer (resp->status 0 when there was none: curl_code says why; its header
 *            lines and body, bounded) -> verdict. The notifier fills ok/permanent/
 *            retry_after_ms by default (2xx ok, Retry-After on 429 and 503) before calling
 *            it; whatever the judge asks, a wait is cut to one hour.
 *   release: frees *state after the transfer (also when setup failed).
 *   limits:  the channel's concurrency (0: no own limit) and rate in notifications/s (0: none).
 *            Also called by notifier_submit() on its caller's thread (with more than one
 *            shard: a channel with limits keeps to one shard), so it must be thread-safe.
 */
#define NOTIFIER_NOTHING_TO_SEND 1000 /* setup: nothing is to be sent (delivered; err says why) */

struct notifier_channel_ops {
    int (*setup)(void *ud, const struct notify_rec *rec, CURL *easy, void **state, char *err,
                 size_t errlen);
    void (*judge)(void *ud, const struct notify_rec *rec, void *state, int curl_code,
                  const struct chan_resp *resp, struct notify_verdict *v);
    void (*release)(void *ud, void *state);
    void (*limits)(void *ud, const char *channel_id, unsigned *concurrency, double *rate);
};

struct notifier;

/* clk gives wall ms (next_ms, updated_ms). Returns NULL if out of memory. Free with
 * notifier_free(). Calls curl_global_init() (thread-safe in libcurl >= 7.84). */
struct notifier *notifier_new(const struct notifier_cfg *cfg, struct clock clk,
                              notifier_result_fn cb, void *ud);
/* Sets the channel operations; before notifier_start(). */
void notifier_set_channel_ops(struct notifier *n, const struct notifier_channel_ops *ops,
                              void *ud);
/* Spawns the thread. TOCSIN_EINVAL if already started or stopped, TOCSIN_EIO if it can't. */
int notifier_start(struct notifier *n);
/* Thread-safe. Hands `rec` over to be attempted at or after rec->next_ms (0 = now). On
 * TOCSIN_OK the notifier owns rec; on failure the caller still does: TOCSIN_EFULL (queue full:
 * back-pressure, the record stays in the outbox), TOCSIN_ESHUTDOWN (stopping), TOCSIN_EINVAL. */
int notifier_submit(struct notifier *n, struct notify_rec *rec);
/* Stops taking submissions, lets in-flight transfers finish for up to drain_ms (their results
 * are reported; a PENDING one is not retried), drops the rest, and joins the threads (the
 * shards drain at the same time, to one deadline). Transfers
 * still running after drain_ms are aborted without a result (the outbox row stays as it was and
 * is retried after a restart: the receiver may see it twice, with the same
 * X-Tocsin-Notification). Safe to call more than once and without start. */
void notifier_stop(struct notifier *n, int64_t drain_ms);
/* Stops (drain 0) if still running, frees everything still held. NULL is fine. */
void notifier_free(struct notifier *n);

struct notifier_stats {
    uint64_t delivered; /* attempts that delivered */
    uint64_t failed;    /* records that ended FAILED */
    uint64_t retried;   /* attempts that ended PENDING */
    uint64_t in_flight; /* transfers now */
    uint64_t queued;    /* records waiting (submitted or scheduled, not in flight) */
    /* first attempts over the last minute: from notifier_submit() to the transfer's start (its
     * queue, the channel's lane and limits, the set-up and rendering) */
    struct latring_summary wait;
};

void notifier_get_stats(struct notifier *n, struct notifier_stats *out); /* thread-safe */

/* On a notifier thread (the channel ops), its shard's index, 0..threads-1, for state the ops
 * keep per thread; 0 on any other thread. */
unsigned notifier_thread_index(void);

#endif
