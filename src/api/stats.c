/* /api/v1/stats and, with engine.test_clock, /api/v1/admin/clock. */
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "core/facets.h"
#include "notify/notifier.h"
#include "store/walbuf.h"
#include "util/err.h"

#define LAT_WINDOW_MS 60000

static json_t *latency_json(const struct latring_summary *m)
{
    if (!m->samples)
        return json_pack("{s:n,s:n,s:n,s:i}", "p50", "p99", "max", "samples", 0);
    return json_pack("{s:I,s:I,s:I,s:I}", "p50", (json_int_t)m->p50, "p99", (json_int_t)m->p99,
                     "max", (json_int_t)m->max, "samples", (json_int_t)m->samples);
}

/* p50/p99/max of a ring's samples of the last minute (under stats_mu). */
static json_t *latency(struct app *a, const struct latring *r)
{
    struct latring_summary m;

    pthread_mutex_lock(&a->stats_mu);
    latring_summary(r, clock_mono_ms() - LAT_WINDOW_MS, &m);
    pthread_mutex_unlock(&a->stats_mu);
    return latency_json(&m);
}

/* The notification rules: sizes, what they made, what their settings held back, what a bound
 * dropped (each counted in docs/rules.md's terms). */
static json_t *rules_stats(const struct nrules_stats *r)
{
    uint64_t dropped = r->delay_overflow + r->groups_full + r->group_alerts_full +
                       r->states_full + r->groups_dropped + r->oom;

    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "count", (json_int_t)r->rules,
                     "groups", (json_int_t)r->groups, "alertStates", (json_int_t)r->alert_states,
                     "delayed", (json_int_t)r->delayed, "intents", (json_int_t)r->intents,
                     "evaluated", (json_int_t)r->evaluated, "outOfPeriod",
                     (json_int_t)r->out_of_period, "inhibited", (json_int_t)r->inhibited,
                     "throttled", (json_int_t)r->throttled, "dropped", (json_int_t)dropped);
}

/* The store writer: transactions and what they held, their time, its own checkpoints, the
 * bytes it wrote to the WAL (store/walbuf.c counts them). */
static json_t *store_stats(struct app *a)
{
    struct writer_stats w;
    struct walbuf_stats wb;

    pthread_mutex_lock(&a->stats_mu);
    w = a->wst;
    pthread_mutex_unlock(&a->stats_mu);
    walbuf_stats(&wb);
    return json_pack("{s:I,s:I,s:I,s:o,s:o,s:I,s:I,s:I}", "commits", (json_int_t)w.commits,
                     "messages", (json_int_t)w.messages, "failedCommits", (json_int_t)w.failed,
                     "commitUs", latency(a, &a->tx_lat), "waitUs", latency(a, &a->store_wait),
                     "checkpoints", (json_int_t)w.checkpoints, "checkpointUsMax",
                     (json_int_t)w.checkpoint_us_max, "walBytes", (json_int_t)wb.bytes);
}

/* {"environment":{"entries","missed"},...}: the engine's facet counts (core/facets.h); a kind
 * with missed values answers by counting rows. */
static json_t *facets_json(struct facets *f)
{
    struct facets_stats fs;
    json_t *o = json_object();

    if (!f || !o)
        return o;
    facets_get_stats(f, &fs);
    for (int k = 0; k < FK_COUNT; k++)
        json_object_set_new(o, facet_kind_name((enum facet_kind)k),
                            json_pack("{s:I,s:I}", "entries", (json_int_t)fs.entries[k], "missed",
                                      (json_int_t)fs.missed[k]));
    return o;
}

enum http_outcome api_stats(struct app *a, const struct http_req *req, struct http_resp *resp)
{
    struct engine_stats es;
    struct alertdb_stats as;
    struct notifier_stats ns;
    struct nrules_stats rs;
    json_t *o, *by;

    if (strcmp(req->method, "GET") != 0) {
        http_resp_error(resp, 405, NULL, "method %s not allowed here", req->method);
        return HTTP_DONE;
    }
    size_t qbytes;

    pthread_mutex_lock(&a->stats_mu);
    es = a->est;
    as = a->ast;
    rs = a->rst;
    pthread_mutex_unlock(&a->stats_mu);
    pthread_mutex_lock(&a->qb_mu);
    qbytes = a->queued_bytes;
    pthread_mutex_unlock(&a->qb_mu);
    notifier_get_stats(a->notifier, &ns);
    o = json_pack("{s:{s:I,s:I,s:I},s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:o},"
                       "s:{s:I,s:I,s:I,s:I,s:I}}",
                       "events", "received", (json_int_t)a->events_received, "processed",
                       (json_int_t)a->events_processed, "rejected",
                       (json_int_t)a->events_rejected, "triggers", (json_int_t)es.triggers,
                       "alertsOpen", (json_int_t)es.alerts_open, "keys", (json_int_t)es.groups,
                       "engine", "batches", (json_int_t)a->batches, "queuedBatches",
                       (json_int_t)queue_len(&a->engine_q), "queuedBytes", (json_int_t)qbytes,
                       "evaluations",
                       (json_int_t)es.evaluations, "fired", (json_int_t)es.fired, "keysDropped",
                       (json_int_t)es.keys_dropped, "latencyUs", latency(a, &a->lat), "notifications",
                       "delivered", (json_int_t)ns.delivered, "failed", (json_int_t)ns.failed,
                       "retried", (json_int_t)ns.retried, "inFlight", (json_int_t)ns.in_flight,
                       "queued", (json_int_t)ns.queued);
    by = json_object();
    for (int i = 0; i < AST_COUNT; i++)
        json_object_set_new(by, astatus_name(i), json_integer((json_int_t)as.by_status[i]));
    json_object_set_new(o, "alerts",
                        json_pack("{s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "stored",
                                  (json_int_t)as.alerts, "byStatus", by, "heapBytes",
                                  (json_int_t)as.heap_bytes, "received",
                                  (json_int_t)as.received, "created", (json_int_t)as.created,
                                  "duplicates", (json_int_t)as.duplicates, "correlated",
                                  (json_int_t)as.correlated, "expired", (json_int_t)as.expired,
                                  "deleted", (json_int_t)as.deleted, "evicted",
                                  (json_int_t)as.evicted, "refused", (json_int_t)as.refused));
    json_object_set_new(json_object_get(o, "alerts"), "facets", facets_json(a->facets));
    json_object_set_new(o, "store", store_stats(a));
    json_object_set_new(o, "rules", rules_stats(&rs));
    json_object_set_new(json_object_get(o, "notifications"), "waitUs", latency_json(&ns.wait));
    api_json(resp, 200, o);
    return HTTP_DONE;
}

enum http_outcome api_admin_clock(struct app *a, const struct http_req *req,
                                  struct http_resp *resp)
{
    struct verr err = {0};
    json_t *j = NULL;
    const json_t *adv;
    struct emsg *m;

    if (!a->test_clock) {
        http_resp_error(resp, 404, NULL, "no such resource (engine.test_clock is off)");
        return HTTP_DONE;
    }
    if (strcmp(req->method, "POST") != 0) {
        http_resp_error(resp, 405, NULL, "use POST");
        return HTTP_DONE;
    }
    if (api_parse_json(req->body, req->body_len, &j, &err)) {
        api_fail(resp, &err);
        return HTTP_DONE;
    }
    adv = json_object_get(j, "advance");
    if (!json_is_integer(adv) || json_integer_value(adv) < 0 ||
        json_integer_value(adv) > 366LL * 24 * 3600 * 1000) {
        json_decref(j);
        http_resp_error(resp, 400, "advance", "must be an integer number of ms (0 .. 1 year)");
        return HTTP_DONE;
    }
    m = emsg_new(EM_CLOCK);
    if (!m) {
        json_decref(j);
        http_resp_error(resp, 503, NULL, "out of memory");
        return HTTP_DONE;
    }
    m->advance_ms = json_integer_value(adv);
    m->req_id = req->id;
    json_decref(j);
    if (app_to_engine(a, m, false)) {
        http_resp_error(resp, 503, NULL, "engine busy, try again");
        return HTTP_DONE;
    }
    return HTTP_DEFERRED;
}
