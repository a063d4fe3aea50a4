/* Gravitee Alert Engine's connector protocol: POST /http/triggers, POST /http/events,
 * WS /ws/triggers and WS /ws/events, one object or an array per request or frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "core/event_parse.h"
#include "util/err.h"
#include "util/id.h"
#include "util/log.h"

int gravitee_triggers_msg(struct app *a, const json_t *j, bool allow_array, struct emsg **out,
                          struct verr *err)
{
    bool arr = json_is_array(j);
    size_t n = arr ? json_array_size(j) : 1;
    struct emsg *m;
    int64_t now = app_now_ms(a);

    *out = NULL;
    if (arr && !allow_array)
        return verr_set(err, "body", "expected one trigger object");
    if (!arr && !json_is_object(j))
        return verr_set(err, "body", "expected a trigger object or an array of triggers");
    if (n == 0)
        return verr_set(err, "body", "empty array");
    if (n > a->cfg->max_batch) {
        verr_set(err, "body", "%zu triggers in one batch (http.max_batch is %zu)", n,
                 a->cfg->max_batch);
        err->status = 413;
        return TOCSIN_ETOOBIG;
    }
    m = emsg_new(EM_TRIGGERS);
    if (!m || !(m->trigs = calloc(n, sizeof(*m->trigs)))) {
        emsg_free(m);
        return TOCSIN_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = trigger_parse(arr ? json_array_get(j, i) : j, &a->tenv, now, &m->trigs[i], err);
        if (rc) {
            if (arr && rc == TOCSIN_EINVAL)
                verr_prefix_index(err, "", i);
            emsg_free(m);
            return rc;
        }
        m->ntrigs = i + 1;
    }
    *out = m;
    return TOCSIN_OK;
}

#define WS_BATCH_EVENTS 1024          /* a gathered WebSocket batch is flushed at this size */
#define WS_BATCH_BYTES (8 * 1024 * 1024) /* ... or when its strings take this much */

/* Parses one event or an array of them (core/event_parse.c: one pass, straight into m's arena)
 * and appends them to m. On error m keeps the events it had (the arena keeps what was copied;
 * it is bounded by the flush sizes). */
static int append_events(struct app *a, const char *body, size_t len, struct emsg *m,
                         struct verr *err)
{
    struct event *evs = NULL;
    size_t n = 0;
    bool arr;
    int rc;

    if (len == 0)
        return verr_set(err, "body", "empty body: a JSON document is required");
    rc = event_parse(body, len, &m->arena, a->cfg->max_batch, &evs, &n, &arr, err);
    if (rc == TOCSIN_ETOOBIG) {
        verr_set(err, "body", "more than %zu events in one batch (http.max_batch)",
                 a->cfg->max_batch);
        err->status = 413;
    }
    if (rc)
        return rc;
    if (m->nevs + n > m->evcap) {
        size_t nc = m->evcap ? m->evcap : 16;
        struct event *ne;
        while (nc < m->nevs + n)
            nc *= 2;
        ne = realloc(m->evs, nc * sizeof(*ne));
        if (!ne)
            return TOCSIN_ENOMEM;
        m->evs = ne;
        m->evcap = nc;
    }
    if (n)
        memcpy(m->evs + m->nevs, evs, n * sizeof(*evs));
    m->nevs += n;
    return TOCSIN_OK;
}

static struct emsg *events_emsg(size_t arena_max)
{
    struct emsg *m = emsg_new(EM_EVENTS);

    if (m)
        arena_init(&m->arena, arena_max);
    return m;
}

/* Parses a body into a new message (triggers) or into `into` (events). */
static int parse(struct app *a, const char *body, size_t len, bool triggers, struct emsg **out,
                 struct emsg *into, struct verr *err)
{
    json_t *j = NULL;
    int rc;

    if (triggers) {
        rc = api_parse_json(body, len, &j, err);
        if (!rc)
            rc = gravitee_triggers_msg(a, j, true, out, err);
        json_decref(j);
    } else {
        rc = append_events(a, body, len, into, err);
    }
    if (rc == TOCSIN_ENOMEM) {
        verr_set(err, NULL, "out of memory");
        err->status = 503;
    }
    return rc;
}

enum http_outcome gravitee_http_triggers(struct app *a, const struct http_req *req,
                                         struct http_resp *resp)
{
    struct verr err = {0};
    struct emsg *m;

    if (strcmp(req->method, "POST") != 0) {
        http_resp_error(resp, 405, NULL, "use POST");
        return HTTP_DONE;
    }
    if (parse(a, req->body, req->body_len, true, &m, NULL, &err)) {
        api_fail(resp, &err);
        return HTTP_DONE;
    }
    m->req_id = req->id;
    m->reply = REPLY_COUNT;
    if (app_to_engine(a, m, false)) {
        http_resp_error(resp, 503, NULL, "engine busy, try again");
        snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Retry-After: 1\r\n");
        return HTTP_DONE;
    }
    return HTTP_DEFERRED;
}

enum http_outcome gravitee_http_events(struct app *a, const struct http_req *req,
                                       struct http_resp *resp)
{
    struct verr err = {0};
    struct emsg *m;
    size_t n;

    if (strcmp(req->method, "POST") != 0) {
        http_resp_error(resp, 405, NULL, "use POST");
        return HTTP_DONE;
    }
    m = events_emsg(req->body_len * 8 + 64 * 1024);
    if (!m) {
        http_resp_error(resp, 503, NULL, "out of memory");
        return HTTP_DONE;
    }
    if (parse(a, req->body, req->body_len, false, NULL, m, &err)) {
        emsg_free(m);
        atomic_fetch_add(&a->events_rejected, 1);
        api_fail(resp, &err);
        return HTTP_DONE;
    }
    n = m->nevs;
    if (app_to_engine(a, m, false)) {
        http_resp_error(resp, 503, NULL, "engine busy, try again");
        snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Retry-After: 1\r\n");
        return HTTP_DONE;
    }
    atomic_fetch_add(&a->events_received, n);
    api_json(resp, 202, json_pack("{s:I}", "events", (json_int_t)n));
    return HTTP_DONE;
}

void gravitee_ws_open(struct app *a, uint64_t conn, bool triggers)
{
    char id[37], *s;
    json_t *o;

    id_uuid4(id);
    o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "action", "CHANGE", "member", a->node_id, "endpoint",
                  a->endpoint, "id", id, "type", "NODE_DISCOVERY");
    s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s)
        net_ws_send(a->net, conn, s, strlen(s));
    free(s);
    json_decref(o);
    log_debug("ws_open", "conn=%llu socket=%s", (unsigned long long)conn,
              triggers ? "triggers" : "events");
}

static void ws_error(struct app *a, uint64_t conn, const struct verr *err)
{
    api_ws_error(a, conn, err->status ? err->status : 400, err->field, err->msg);
}

void gravitee_ws_flush(struct app *a)
{
    struct emsg *m = a->ws_pending;
    size_t n;

    a->ws_pending = NULL;
    if (!m || !m->nevs) {
        emsg_free(m);
        return;
    }
    n = m->nevs;
    /* WebSocket producers get back-pressure: block until the engine has room. */
    if (app_to_engine(a, m, true) == TOCSIN_OK)
        atomic_fetch_add(&a->events_received, n);
}

static void ws_triggers(struct app *a, uint64_t conn, const char *data, size_t len)
{
    struct verr err = {0};
    struct emsg *m;

    if (parse(a, data, len, true, &m, NULL, &err)) {
        ws_error(a, conn, &err);
        return;
    }
    m->ws_conn = conn;
    m->reply = REPLY_NONE;
    gravitee_ws_flush(a); /* events sent before the trigger are evaluated before it changes */
    if (app_to_engine(a, m, true)) {
        verr_set(&err, NULL, "shutting down");
        err.status = 503;
        ws_error(a, conn, &err);
    }
}

void gravitee_ws_message(struct app *a, uint64_t conn, bool triggers, const char *data,
                         size_t len)
{
    struct verr err = {0};

    if (triggers) {
        ws_triggers(a, conn, data, len);
        return;
    }
    if (!a->ws_pending && !(a->ws_pending = events_emsg(WS_BATCH_BYTES + 2 * a->cfg->ws_max_frame * 8))) {
        verr_set(&err, NULL, "out of memory");
        err.status = 503;
        ws_error(a, conn, &err);
        return;
    }
    if (parse(a, data, len, false, NULL, a->ws_pending, &err)) {
        atomic_fetch_add(&a->events_rejected, 1);
        ws_error(a, conn, &err);
        return;
    }
    if (a->ws_pending->nevs >= WS_BATCH_EVENTS || a->ws_pending->arena.used >= WS_BATCH_BYTES)
        gravitee_ws_flush(a);
}
