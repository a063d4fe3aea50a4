/* Heartbeats: Alerta 9's heartbeat model (alerta/models/heartbeat.py), its HTTP bodies, the
 * heartbeat plugin (an alert whose event is "Heartbeat" becomes a heartbeat), the healthcheck,
 * and one thing Alerta does not do: when a heartbeat's deadline passes, tocsin raises an alert
 * (the one `alerta heartbeats --alert` of python-alerta-client would send) and resolves it when
 * the heartbeat comes back.
 *
 * Pure: no I/O, no threads, no clock reads (every call that needs the time takes `now_ms`, wall
 * clock ms), no random ids (the caller passes a fresh id). One table must not be used from two
 * threads at once; it shares the caller's timer wheel, so it lives on the thread that advances
 * that wheel.
 *
 * The record, as Alerta serialises it:
 *   id, href, origin, tags, attributes, type ("Heartbeat"), createTime, timeout (s),
 *   maxLatency (ms, HEARTBEAT_MAX_LATENCY, a server setting), receiveTime, customer,
 *   latency (ms) = receiveTime - createTime, since (s) = now - receiveTime (whole seconds),
 *   status: "expired" if now - receiveTime > timeout, else "slow" if latency > maxLatency,
 *           else "ok" (Alerta 9 checks expired first).
 * A heartbeat is keyed by (origin, customer) (Alerta's unique index uses COALESCE(customer,
 * '')): a second heartbeat from the same origin and customer updates tags, attributes,
 * createTime, timeout and receiveTime and keeps the stored id.
 *
 * How the integrator uses it
 *   start-up:   heartbeat_table_new(cfg, wheel, on_expired, ud), then heartbeat_table_load() for
 *               each stored heartbeat. A loaded heartbeat already past its deadline, not yet
 *               raised, reports on_expired at the next timer_wheel_advance().
 *   POST /heartbeat: heartbeat_parse() -> (assign the customer as Alerta's assign_customer does)
 *               -> heartbeat_table_upsert() -> 201 {"status":"ok","id","heartbeat":
 *               heartbeat_to_json()}; persist heartbeat_to_store(); if res.resolved, receive
 *               heartbeat_ok_alert() as an alert.
 *   POST /alert: if heartbeat_is_event(), heartbeat_from_alert() -> upsert as above, and answer
 *               202 {"status":"ok","message":<the heartbeat's id>,"id":<the alert's id>}
 *               (Alerta's HeartbeatReceived) instead of storing the alert. Alerta runs this
 *               plugin after `reject` and before `blackout`.
 *   timer advance: on_expired(ud, hb, deadline) runs inside timer_wheel_advance(); receive
 *               heartbeat_fail_alert() as an alert and persist heartbeat_to_store() (the record
 *               now says "raised"). The callback may delete the heartbeat.
 *   GET /heartbeat/{id}: heartbeat_table_get() (exact id, else the first id with that prefix,
 *               as Alerta's `id LIKE 'x%'`) -> {"status":"ok","total":1,"heartbeat":...}; 404.
 *   GET /heartbeats: heartbeat_list() with the status filter and sort-by parsed by
 *               heartbeat_status_parse() / heartbeat_sort_parse() (Alerta ignores unknown
 *               status values); the caller pages: {"status":"ok","page","pageSize","pages",
 *               "more","heartbeats","total"}, plus "message":"not found" when empty.
 *   DELETE /heartbeat/{id}: heartbeat_table_delete(); delete the stored row.
 *   GET /management/healthcheck: heartbeat_healthcheck() -> 200 "OK" or 503
 *               "HEARTBEAT_STALE: <origin>" (text/plain).
 *
 * Differences from Alerta 9, all deliberate:
 *  - raising HeartbeatFail / HeartbeatOK alerts from the server (Alerta leaves it to a cron job
 *    running the CLI); the "raised" flag is part of the stored form. HeartbeatSlow is not
 *    raised: "slow" stays a status.
 *  - stricter bodies: a createTime that is not a string, a boolean timeout and non-string tags
 *    are 400s (Alerta ignores the first and accepts the others), and the limits below.
 *  - the healthcheck compares the whole age (Alerta's timedelta.seconds wraps every day, so a
 *    heartbeat stale for more than a day can pass) and looks at every heartbeat (Alerta's
 *    find_all reads the first 1000).
 *  - sort-by compares strings bytewise (Postgres uses the database collation) and attributes
 *    by their compact JSON text (Postgres: jsonb order).
 *
 * Limits: the table holds at most cfg.max_count heartbeats (TOCSIN_ETOOBIG, HTTP 413, past it);
 * each string field is at most ALERT_MAX_NAME bytes, tags and attribute keys at most
 * ALERT_MAX_ITEMS, one attribute value at most ALERT_MAX_ATTR_VALUE bytes of compact JSON,
 * timeout at most ALERT_MAX_TIMEOUT. */
#ifndef TOCSIN_HEARTBEAT_H
#define TOCSIN_HEARTBEAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/alert.h"
#include "core/timer.h"
#include "core/verr.h"
#include "util/arena.h"

#define HEARTBEAT_TIMEOUT_S 86400        /* Alerta's HEARTBEAT_TIMEOUT */
#define HEARTBEAT_MAX_LATENCY_MS 2000    /* Alerta's HEARTBEAT_MAX_LATENCY */
#define HEARTBEAT_MAX_COUNT 100000       /* default table bound */
#define HEARTBEAT_STALE_FACTOR 4         /* healthcheck: stale when older than 4 x timeout */
#define HEARTBEAT_MAX_ID 128             /* bytes of an id given in a body */
#define HEARTBEAT_MAX_EVENTS 16          /* entries of HEARTBEAT_EVENTS */
#define HEARTBEAT_NAME_MAX 256           /* bytes (with NUL) of a configured name */
#define HEARTBEAT_SORT_MAX 8             /* sort-by keys in one query */

enum heartbeat_status {
    HEARTBEAT_OK = 0, HEARTBEAT_SLOW, HEARTBEAT_EXPIRED, HEARTBEAT_STATUS_COUNT
};
const char *heartbeat_status_name(int s); /* "ok", "slow", "expired" */
int heartbeat_status_parse(const char *s); /* -1 if unknown */

/* Settings, copied by heartbeat_table_new(). heartbeat_config_default() gives Alerta's. */
struct heartbeat_config {
    int64_t timeout_s;       /* HEARTBEAT_TIMEOUT: a heartbeat sent without one */
    int64_t max_latency_ms;  /* HEARTBEAT_MAX_LATENCY */
    size_t max_count;        /* table bound */
    int64_t alert_timeout_s; /* the server's alert timeout (Alerta's ALERT_TIMEOUT, tocsin's
                                alerts.timeout): a heartbeat alert sent without a timeout */
    char default_origin[HEARTBEAT_NAME_MAX]; /* a heartbeat sent without origin (Alerta:
                                                "<program>/<hostname>"); default "tocsin" */
    size_t nevents;                          /* HEARTBEAT_EVENTS, default {"Heartbeat"} */
    char events[HEARTBEAT_MAX_EVENTS][HEARTBEAT_NAME_MAX];
    /* The alert raised for an expired heartbeat (python-alerta-client's `heartbeats --alert`): */
    char fail_origin[HEARTBEAT_NAME_MAX];   /* its origin, default "tocsin" (the client sends
                                               its own "<program>/<hostname>") */
    char fail_severity[SEV_NAME_MAX];       /* --severity, default "major" */
    int64_t fail_timeout_s;                 /* --timeout; -1 (default): the server's */
};

void heartbeat_config_default(struct heartbeat_config *c);

/* One heartbeat. Inside a table the table owns it: read the fields, change nothing. Outside a
 * table (what heartbeat_parse() and heartbeat_from_alert() return) the caller owns it and frees
 * it with heartbeat_free() unless it hands it to heartbeat_table_upsert(). */
struct heartbeat {
    /* table-owned */
    struct heartbeat *prev, *next; /* the table's list, in order of first arrival */
    struct timer tm;               /* armed for the deadline while not raised */
    struct heartbeat_table *table;
    /* the record */
    char *id;       /* NULL until stored, unless the body gave one */
    char *origin;
    char *customer; /* NULL: none */
    char **tags;
    uint32_t ntags;
    json_t *attributes; /* an object, owned (never NULL) */
    int64_t create_ms, receive_ms;
    int64_t timeout_s;
    bool raised;    /* tocsin: the deadline passed and the alert was raised; cleared (and the
                       alert resolved) when the heartbeat comes back */
};

void heartbeat_free(struct heartbeat *hb); /* a heartbeat the caller owns; NULL is accepted */

/* Computed fields. */
int64_t heartbeat_latency_ms(const struct heartbeat *hb);           /* receive - create */
int64_t heartbeat_since_s(const struct heartbeat *hb, int64_t now_ms); /* whole seconds */
int heartbeat_status(const struct heartbeat *hb, int64_t max_latency_ms, int64_t now_ms);
/* The first ms at which the heartbeat is expired: receive + timeout * 1000 + 1. */
int64_t heartbeat_deadline_ms(const struct heartbeat *hb);

/* ---- bodies ------------------------------------------------------------------------------ */

/* Parses a POST /heartbeat body into a new heartbeat the caller owns, received at now_ms.
 * Alerta's rules: origin (string; absent, null or "" -> cfg.default_origin), tags (list of
 * strings), attributes (object; keys without '.' or '$'), timeout (integer >= 0; absent or null
 * -> cfg.timeout_s), createTime (ISO 8601 string; absent or null -> now), customer (string, not
 * ""), id (string, used only if the heartbeat is new). "type" and unknown fields are ignored.
 * `body` is borrowed. Errors: TOCSIN_EINVAL with err naming the field (err->status 400, the
 * message is Alerta's where it has one), TOCSIN_ENOMEM. */
int heartbeat_parse(const json_t *body, const struct heartbeat_config *cfg, int64_t now_ms,
                    struct heartbeat **out, struct verr *err);

/* True if an alert with this event is a heartbeat (HEARTBEAT_EVENTS, exact match). */
bool heartbeat_is_event(const struct heartbeat_config *cfg, const char *event);

/* Alerta's heartbeat plugin: a heartbeat from an incoming alert, received at now_ms, with
 * origin = in->origin (NULL: `default_origin`, the adapter's default, or cfg.default_origin if
 * that is NULL too), tags = in->tags, attributes = {"environment", "severity" (its name in `m`),
 * "service", "group"} with Alerta's defaults ("", "normal", [], "Misc"), timeout = in->timeout_s
 * (-1: cfg.alert_timeout_s), customer = in->customer (or `customer` if the caller assigned one).
 * createTime is now: Alerta does not pass the alert's createTime on, so latency is 0. `in` is
 * borrowed. TOCSIN_EINVAL (attribute or tag limits), TOCSIN_ENOMEM. */
int heartbeat_from_alert(const struct alert_in *in, const struct sevmap *m,
                         const struct heartbeat_config *cfg, const char *default_origin,
                         const char *customer, int64_t now_ms, struct heartbeat **out,
                         struct verr *err);

/* ---- the table --------------------------------------------------------------------------- */

struct heartbeat_table;

/* Called from inside timer_wheel_advance() when a heartbeat's deadline passes (hb->raised is
 * already true). `deadline_ms` is the deadline, not the advance's now. The callback may delete
 * hb (heartbeat_table_delete) or upsert others; it must not free the table. */
typedef void (*heartbeat_expired_fn)(void *ud, struct heartbeat *hb, int64_t deadline_ms);

/* A table on the caller's wheel, which must outlive it. Returns NULL if out of memory. Caller
 * frees with heartbeat_table_free(). */
struct heartbeat_table *heartbeat_table_new(const struct heartbeat_config *cfg,
                                            struct timer_wheel *wheel, heartbeat_expired_fn fn,
                                            void *ud);
/* Cancels the timers and frees every heartbeat. NULL is accepted. Not from a callback. */
void heartbeat_table_free(struct heartbeat_table *t);
const struct heartbeat_config *heartbeat_table_config(const struct heartbeat_table *t);

struct heartbeat_upsert {
    struct heartbeat *hb; /* the stored record (borrowed from the table) */
    bool created;         /* a new (origin, customer) */
    bool resolved;        /* it had been raised: receive heartbeat_ok_alert() */
};

/* Inserts or updates by (origin, customer), taking ownership of `hb` in every case (it is
 * freed, or becomes the record). A new record gets hb->id if the body gave one, else `fresh_id`
 * (a new UUID from the caller); an update keeps the stored id. The timer is (re)armed for the
 * new deadline. Errors: TOCSIN_ETOOBIG (err->status 413) when the table is full;
 * TOCSIN_EEXIST (409) when a new record's given id is another heartbeat's; TOCSIN_EINVAL when
 * `fresh_id` is needed and NULL; TOCSIN_ENOMEM. */
int heartbeat_table_upsert(struct heartbeat_table *t, struct heartbeat *hb, const char *fresh_id,
                           struct heartbeat_upsert *res, struct verr *err);
/* Start-up: adds one heartbeat from its stored form (heartbeat_to_store), keeping its id,
 * receiveTime and raised flag; arms its timer unless raised. Same errors as upsert, and
 * TOCSIN_EINVAL for a bad stored form. */
int heartbeat_table_load(struct heartbeat_table *t, const char *stored, size_t len,
                         struct verr *err);
/* The heartbeat with this id, else the first (in table order) whose id starts with it; NULL if
 * none or `id` is empty. */
struct heartbeat *heartbeat_table_get(const struct heartbeat_table *t, const char *id);
struct heartbeat *heartbeat_table_find(const struct heartbeat_table *t, const char *origin,
                                       const char *customer);
/* Removes and frees the heartbeat with this id (exact or prefix, as get). *was_raised (may be
 * NULL) says whether its alert was left raised. TOCSIN_ENOTFOUND. */
int heartbeat_table_delete(struct heartbeat_table *t, const char *id, bool *was_raised);
size_t heartbeat_table_count(const struct heartbeat_table *t);
/* Table order (first arrival): for (hb = heartbeat_table_first(t); hb; hb = hb->next). */
struct heartbeat *heartbeat_table_first(const struct heartbeat_table *t);

/* ---- lists ------------------------------------------------------------------------------- */

enum heartbeat_sort_field {
    HBS_ORIGIN = 0, HBS_TAGS, HBS_ATTRIBUTES, HBS_TYPE, HBS_CREATE_TIME, HBS_TIMEOUT,
    HBS_RECEIVE_TIME, HBS_CUSTOMER, HBS_LATENCY, HBS_SINCE
};

struct heartbeat_sort {
    enum heartbeat_sort_field field;
    bool desc;
    char attr[HEARTBEAT_NAME_MAX]; /* HBS_ATTRIBUTES with "attributes.<key>": the key */
};

/* Parses sort-by values as Alerta: "f" or "-f"; createTime, receiveTime and since sort
 * descending by default and "-" reverses. Unknown: TOCSIN_EINVAL, field "sort-by", message
 * "Sorting by '<f>' field not supported." More than HEARTBEAT_SORT_MAX keys: TOCSIN_EINVAL. */
int heartbeat_sort_parse(const char *const *values, size_t n, struct heartbeat_sort *out,
                         size_t *nout, struct verr *err);

struct heartbeat_query {
    unsigned status_mask;           /* 1u << HEARTBEAT_OK | ...; 0: any status */
    const char *const *customers;   /* non-NULL: only heartbeats whose customer is one of these */
    size_t ncustomers;
    const struct heartbeat_sort *sort; /* NULL/0: table order (Alerta: unordered) */
    size_t nsort;
};

/* The heartbeats matching q at now_ms, sorted (ties in table order). *out is a malloc'd array
 * of *n borrowed pointers (NULL when n == 0); caller frees the array. TOCSIN_ENOMEM. */
int heartbeat_list(const struct heartbeat_table *t, const struct heartbeat_query *q,
                   int64_t now_ms, struct heartbeat ***out, size_t *n);

/* ---- JSON -------------------------------------------------------------------------------- */

/* Alerta's serialize at now_ms. `href_base` (e.g. "http://host:8080/api") makes "href" =
 * href_base + "/heartbeat/" + id; NULL leaves it out. Returns a new object (caller decrefs) or
 * NULL if out of memory. */
json_t *heartbeat_to_json(const struct heartbeat_table *t, const struct heartbeat *hb,
                          int64_t now_ms, const char *href_base);
/* The stored form: {"id","origin","tags","attributes","type","createTime","timeout",
 * "receiveTime","customer","raised"}, compact JSON. Caller frees; NULL if out of memory. */
char *heartbeat_to_store(const struct heartbeat *hb);

/* ---- alerts and health -------------------------------------------------------------------- */

/* Fills `out` (strings and lists in `a`) with the alert python-alerta-client's
 * `alerta heartbeats --alert` sends for an expired heartbeat:
 *   resource = origin, event "HeartbeatFail", correlate [HeartbeatFail, HeartbeatSlow,
 *   HeartbeatOK], environment = attributes.environment or "Production", severity =
 *   attributes.severity or cfg.fail_severity, service = attributes.service or ["Alerta"],
 *   group = attributes.group or "System", value = since (s), text "Heartbeat not received in
 *   <timeout> seconds", tags, the other attributes, origin = cfg.fail_origin, type
 *   "heartbeatAlert", timeout = cfg.fail_timeout_s, customer, createTime = now.
 * An attribute of the wrong type, an empty environment or service, or a severity that is
 * unknown to `m` or normal falls back to the default. TOCSIN_ENOMEM (arena); TOCSIN_EINVAL if
 * cfg.fail_severity is unknown to `m` or normal. */
int heartbeat_fail_alert(const struct heartbeat_table *t, const struct heartbeat *hb,
                         const struct sevmap *m, int64_t now_ms, struct arena *a,
                         struct alert_in *out);
/* The client's "HeartbeatOK" alert (same resource, environment and correlate list, severity
 * normal, value "", text "Heartbeat OK"): correlated with the HeartbeatFail alert, its normal
 * severity closes it by Alerta's state machine. */
int heartbeat_ok_alert(const struct heartbeat_table *t, const struct heartbeat *hb,
                       const struct sevmap *m, int64_t now_ms, struct arena *a,
                       struct alert_in *out);

/* GET /management/healthcheck: 503 with "HEARTBEAT_STALE: <origin>" for the first heartbeat (in
 * table order) whose receiveTime is more than HEARTBEAT_STALE_FACTOR x its timeout in whole
 * seconds ago, else 200 with "OK". Returns the HTTP status; `out` gets the text (truncated to
 * outlen). */
int heartbeat_healthcheck(const struct heartbeat_table *t, int64_t now_ms, char *out,
                          size_t outlen);

#endif
