/* Blackouts: Alerta 9's blackout periods (alerta/models/blackout.py), their HTTP bodies, the
 * blackout plugin's decision (alerta/plugins/blackout.py, Alert.is_blackout) and the matching
 * rule of the Postgres backend's is_blackout_period, plus time events Alerta does not have: the
 * set reports when a blackout starts and ends, so that the integrator can re-notify alerts it
 * kept in status "blackout" once nothing covers them any more.
 *
 * Pure: no I/O, no threads, no clock reads (every call that needs the time takes `now_ms`, wall
 * clock ms), no random ids (the caller passes a fresh id). One set must not be used from two
 * threads at once; it shares the caller's timer wheel, so it lives on the thread that advances
 * that wheel.
 *
 * The record, as Alerta serialises it:
 *   id, href, priority, environment, service[], resource, event, group, tags[], origin,
 *   customer, startTime, endTime, duration (s, endTime - startTime), status, remaining (s),
 *   user, createTime, text.
 *   status: "active" if startTime <= now < endTime, "pending" before, "expired" after.
 *   remaining: endTime - max(startTime, now), at least 0 (the Postgres query), whole seconds.
 *   priority (Alerta recomputes it from the fields each time it reads a blackout): 1; then 2 if
 *   resource without event, else 3 if service, else 4 if event without resource, else 5 if
 *   group, else 6 if resource and event, else 7 if tags; 8 if origin, whatever else is set.
 *
 * Matching (is_blackout_period): a blackout covers an alert when
 *   startTime <= the alert's createTime < endTime (Alerta uses createTime, not the time of
 *   receipt: a back-dated alert falls in the blackout of its createTime),
 *   environment is equal, each of resource, event, group and origin is null in the blackout or
 *   equal, the blackout's service and tags are subsets of the alert's (empty = any), and, with
 *   CUSTOMER_VIEWS only, the blackout's customer is null or equal to the alert's.
 * Blackouts are indexed by environment; a lookup scans the blackouts of one environment.
 *
 * How the integrator uses it
 *   start-up:   blackout_set_new(cfg, wheel, on_event, ud), blackout_set_load() for each stored
 *               blackout (no events; timers only for starts and ends still to come), then
 *               re-evaluate once the alerts in status "blackout" (below), since blackouts may
 *               have ended while tocsin was down.
 *   each incoming alert (after the heartbeat check, as Alerta's plugin order): blackout_decide()
 *               -> BLACKOUT_PASS: go on; BLACKOUT_DROP: answer 202 {"status":"ok","message":
 *               "Suppressed alert during blackout period","id":<alert id>} and store nothing;
 *               BLACKOUT_SUPPRESS: set in->status = AST_BLACKOUT (the state machine then keeps
 *               it, or closes it on a normal severity), store it, send no notification.
 *   timer advance: on_event(ud, BLACKOUT_STARTED | BLACKOUT_ENDED, b, at) from inside
 *               timer_wheel_advance(). On ENDED, for each stored alert in status "blackout":
 *               blackout_subject_from_alert(time = now) and if blackout_match() finds nothing,
 *               the alert is no longer covered: notify it (tocsin's re-notification). STARTED
 *               needs no action (Alerta does not touch existing alerts).
 *   POST /blackout: blackout_parse() -> the caller sets b->user and b->customer as Alerta's
 *               view does -> blackout_set_add() -> 201 {"status":"ok","id","blackout":
 *               blackout_to_json()} with Location; persist blackout_to_store().
 *   PUT /blackout/{id}: blackout_set_update(body, login) -> 200 {"status":"ok"} (as Alerta's
 *               view); persist. (Alerta's view first sets body["customer"] = assign_customer(...).)
 *   GET /blackout/{id}, GET /blackouts, DELETE /blackout/{id}: blackout_set_get(),
 *               blackout_list() (status filter, sort-by), blackout_set_delete().
 * Events are also reported by add (a blackout active at once: STARTED), update (ENDED when an
 * active blackout stops being active or changes while active, STARTED when it is active after
 * the update) and delete (ENDED if it was active). A callback run from add, update or delete
 * must not add, update or delete blackouts; one run from a timer may.
 *
 * Differences from Alerta 9, all deliberate:
 *  - the start/end events (Alerta has none).
 *  - stricter bodies: a startTime/endTime that is not a string is a 400 (Alerta takes it as
 *    absent); endTime <= startTime and a negative duration are 400s (Alerta creates a blackout
 *    that is already over); PUT checks the same and needs lists (or null) for service and tags.
 *  - PUT with a duration and no endTime moves endTime (Alerta stores the duration column, then
 *    recomputes duration from the times when reading, so the change is lost).
 *  - remaining is whole seconds (Postgres returns fractional seconds).
 *  - blackout_match returns the first covering blackout in creation order (the SQL takes any).
 *  - sort-by compares strings bytewise (Postgres uses the database collation); "status" sorts
 *    by name (Alerta orders by a "status" column its table does not have).
 *  Expired blackouts are kept and still scanned (Alerta never deletes them, and a back-dated
 *  alert can fall in one); the time test comes first, so they cost little.
 *
 * Limits: the set holds at most cfg.max_count blackouts (TOCSIN_ETOOBIG, HTTP 413, past it);
 * string fields at most ALERT_MAX_NAME bytes (text ALERT_MAX_TEXT), service and tags at most
 * ALERT_MAX_ITEMS entries, duration at most BLACKOUT_MAX_DURATION_S. */
#ifndef TOCSIN_BLACKOUT_H
#define TOCSIN_BLACKOUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/alert.h"
#include "core/timer.h"
#include "core/verr.h"
#include "util/arena.h"

#define BLACKOUT_DURATION_S 3600                          /* Alerta's BLACKOUT_DURATION */
#define BLACKOUT_MAX_COUNT 10000                          /* default set bound */
#define BLACKOUT_MAX_DURATION_S (10000LL * 366 * 86400)   /* ~10000 years: any ISO 8601 end */
#define BLACKOUT_MAX_ID 128                               /* bytes of an id given in a body */
#define BLACKOUT_SORT_MAX 8                               /* sort-by keys in one query */

enum blackout_status { BLACKOUT_PENDING = 0, BLACKOUT_ACTIVE, BLACKOUT_EXPIRED,
                       BLACKOUT_STATUS_COUNT };
const char *blackout_status_name(int s); /* "pending", "active", "expired" */
int blackout_status_parse(const char *s); /* -1 if unknown */

/* Settings, copied by blackout_set_new(). blackout_config_default() gives Alerta's. */
struct blackout_config {
    int64_t duration_s;         /* BLACKOUT_DURATION: a blackout with neither endTime nor
                                   duration */
    size_t max_count;           /* set bound */
    bool notification_blackout; /* NOTIFICATION_BLACKOUT (default false): true keeps matching
                                   alerts in status "blackout", false drops them (202) */
    size_t naccept;             /* BLACKOUT_ACCEPT (default empty): severity names never
                                   dropped (only when notification_blackout is false) */
    char accept[SEVMAP_MAX][SEV_NAME_MAX];
    bool customer_views;        /* CUSTOMER_VIEWS (default false): match customers */
};

void blackout_config_default(struct blackout_config *c);

/* One blackout. Inside a set the set owns it: read the fields, change nothing. Outside a set
 * (what blackout_parse() returns) the caller owns it and frees it with blackout_free() unless it
 * hands it to blackout_set_add(). Strings may be set by the caller before add (user, customer:
 * malloc'd, freed by blackout_free). */
struct blackout {
    /* set-owned */
    struct blackout *prev, *next;         /* the set's list, in order of creation */
    struct blackout *env_prev, *env_next; /* the blackouts of one environment */
    struct timer tm_start, tm_end;
    struct blackout_set *set;
    /* the record */
    char *id; /* NULL until stored, unless the body gave one */
    int priority;
    char *environment;
    char **service;
    uint32_t nservice;
    char *resource, *event, *group; /* NULL: any */
    char **tags;
    uint32_t ntags;
    char *origin;                   /* NULL: any */
    char *customer;                 /* NULL: none (matches every customer) */
    int64_t start_ms, end_ms;       /* end_ms > start_ms */
    char *user;                     /* NULL: none */
    int64_t create_ms;
    char *text;                     /* NULL: none */
};

void blackout_free(struct blackout *b); /* a blackout the caller owns; NULL is accepted */

/* Computed fields. */
int blackout_priority(const struct blackout *b);
int64_t blackout_duration_s(const struct blackout *b);
int blackout_status(const struct blackout *b, int64_t now_ms);
int64_t blackout_remaining_s(const struct blackout *b, int64_t now_ms);

/* ---- bodies ------------------------------------------------------------------------------ */

/* Parses a POST /blackout body into a new blackout the caller owns, created at now_ms.
 * environment (required, non-empty string), service and tags (lists of strings; null is an
 * error as in Alerta), resource, event, group, origin, customer, user, text, id (strings or
 * null), startTime (ISO 8601; absent or null -> now), endTime (ISO 8601) or else duration
 * (integer seconds > 0; absent, null or 0 -> cfg.duration_s). endTime <= startTime is an error.
 * Unknown fields (priority, status, remaining, ...) are ignored. `body` is borrowed. Errors:
 * TOCSIN_EINVAL with err naming the field (err->status 400), TOCSIN_ENOMEM. */
int blackout_parse(const json_t *body, const struct blackout_config *cfg, int64_t now_ms,
                   struct blackout **out, struct verr *err);

/* ---- matching ---------------------------------------------------------------------------- */

/* What a blackout is matched against: one alert. Strings are borrowed; NULL customer: none. */
struct blackout_subject {
    const char *environment, *resource, *event, *group, *origin;
    const char *customer;
    struct strlist service, tags;
    int64_t time_ms; /* the alert's createTime */
};

/* What the server fills in for an incoming alert that lacks a field (NULL members: Alerta's
 * defaults "" environment, "Misc" group, "" origin). `customer`, when not NULL, is the
 * customer the server assigned and replaces the alert's. */
struct blackout_defaults {
    const char *environment, *group, *origin, *customer;
};

/* The subject for an incoming alert; time is in->create_ms, or now_ms when it is 0. Borrows
 * from `in` and `d`. `d` may be NULL. */
void blackout_subject_from_in(struct blackout_subject *s, const struct alert_in *in,
                              const struct blackout_defaults *d, int64_t now_ms);
/* The subject for a stored alert, at time_ms (use now when re-evaluating after an ENDED
 * event). Strings and lists are copied into `ar`. TOCSIN_ENOMEM. */
int blackout_subject_from_alert(struct blackout_subject *s, const struct alert *a,
                                int64_t time_ms, struct arena *ar);

/* Whether b covers s, times aside. */
bool blackout_covers(const struct blackout *b, const struct blackout_subject *s,
                     bool customer_views);

/* ---- the set ----------------------------------------------------------------------------- */

struct blackout_set;

enum blackout_event { BLACKOUT_STARTED = 0, BLACKOUT_ENDED };

/* `at_ms` is the start or end time for timer events, and now_ms for add, update and delete.
 * `b` is borrowed for the call (on a delete it is no longer in the set and is freed after). */
typedef void (*blackout_event_fn)(void *ud, int ev, const struct blackout *b, int64_t at_ms);

/* A set on the caller's wheel, which must outlive it. Returns NULL if out of memory. Caller
 * frees with blackout_set_free(). */
struct blackout_set *blackout_set_new(const struct blackout_config *cfg, struct timer_wheel *wheel,
                                      blackout_event_fn fn, void *ud);
/* Cancels the timers and frees every blackout; no events. NULL is accepted. */
void blackout_set_free(struct blackout_set *s);
const struct blackout_config *blackout_set_config(const struct blackout_set *s);

/* Adds `b`, taking ownership in every case (freed on error). Its id is b->id if the body gave
 * one, else `fresh_id` (a new UUID from the caller). Arms the timers for a start and an end
 * after now_ms; reports STARTED if it is active at now_ms. Errors: TOCSIN_ETOOBIG (413) when
 * the set is full, TOCSIN_EEXIST (409) for an id in use, TOCSIN_EINVAL when `fresh_id` is needed
 * and NULL, TOCSIN_ENOMEM. */
int blackout_set_add(struct blackout_set *s, struct blackout *b, const char *fresh_id,
                     int64_t now_ms, struct verr *err);
/* Start-up: adds one blackout from its stored form (blackout_to_store), without events. Same
 * errors as add, and TOCSIN_EINVAL for a bad stored form. */
int blackout_set_load(struct blackout_set *s, const char *stored, size_t len, int64_t now_ms,
                      struct verr *err);
struct blackout *blackout_set_get(const struct blackout_set *s, const char *id); /* exact */
/* PUT /blackout/{id}: Alerta's update_blackout. Fields present in `body` replace the stored
 * ones: environment (non-empty string), service, tags (lists of strings or null = []),
 * resource, event, group, origin, customer, text (strings or null), startTime, endTime (ISO
 * 8601), duration (integer seconds > 0: sets endTime = startTime + duration when endTime is not
 * given). `user`, when not NULL, replaces the user (Alerta: the login). An empty body is "nothing
 * to change". The result must still end after it starts. Priority and duration follow. All or
 * nothing: on error nothing changed. Errors: TOCSIN_ENOTFOUND (404), TOCSIN_EINVAL (400),
 * TOCSIN_ENOMEM. */
int blackout_set_update(struct blackout_set *s, const char *id, const json_t *body,
                        const char *user, int64_t now_ms, struct verr *err);
/* Removes and frees the blackout; reports ENDED first if it was active. TOCSIN_ENOTFOUND. */
int blackout_set_delete(struct blackout_set *s, const char *id, int64_t now_ms);
size_t blackout_set_count(const struct blackout_set *s);
/* Creation order: for (b = blackout_set_first(s); b; b = b->next). */
struct blackout *blackout_set_first(const struct blackout_set *s);

/* The first blackout (in creation order within the environment) covering s at s->time_ms, or
 * NULL. */
const struct blackout *blackout_match(const struct blackout_set *s,
                                      const struct blackout_subject *subj);

enum blackout_decision {
    BLACKOUT_PASS = 0, /* not in a blackout (or its severity is accepted): process it */
    BLACKOUT_DROP,     /* NOTIFICATION_BLACKOUT false: 202, not stored */
    BLACKOUT_SUPPRESS, /* NOTIFICATION_BLACKOUT true: store with status "blackout", no
                          notification */
};

/* The blackout plugin for one incoming alert: with notification_blackout false, a severity in
 * BLACKOUT_ACCEPT (its name in `m`, exact: "ok" is not "normal") passes without a lookup;
 * otherwise a covering blackout gives DROP or SUPPRESS and is returned in *matched (may be
 * NULL). */
enum blackout_decision blackout_decide(const struct blackout_set *s, const struct sevmap *m,
                                       const struct alert_in *in,
                                       const struct blackout_defaults *d, int64_t now_ms,
                                       const struct blackout **matched);

/* ---- lists ------------------------------------------------------------------------------- */

enum blackout_sort_field {
    BOS_PRIORITY = 0, BOS_ENVIRONMENT, BOS_SERVICE, BOS_RESOURCE, BOS_EVENT, BOS_GROUP, BOS_TAGS,
    BOS_CUSTOMER, BOS_START_TIME, BOS_END_TIME, BOS_DURATION, BOS_STATUS, BOS_REMAINING,
    BOS_USER, BOS_CREATE_TIME, BOS_TEXT
};

struct blackout_sort {
    enum blackout_sort_field field;
    bool desc;
};

/* Parses sort-by values as Alerta: "f" or "-f"; startTime, endTime, remaining and createTime
 * sort descending by default and "-" reverses. Unknown: TOCSIN_EINVAL, field "sort-by",
 * "Sorting by '<f>' field not supported." */
int blackout_sort_parse(const char *const *values, size_t n, struct blackout_sort *out,
                        size_t *nout, struct verr *err);

struct blackout_query {
    unsigned status_mask;         /* 1u << BLACKOUT_ACTIVE | ...; 0: any */
    const char *const *customers; /* non-NULL: only blackouts whose customer is one of these */
    size_t ncustomers;
    const struct blackout_sort *sort; /* NULL/0: creation order (Alerta: unordered) */
    size_t nsort;
};

/* The blackouts matching q at now_ms, sorted (ties in creation order). *out is a malloc'd array
 * of *n borrowed pointers (NULL when n == 0); caller frees the array. TOCSIN_ENOMEM. */
int blackout_list(const struct blackout_set *s, const struct blackout_query *q, int64_t now_ms,
                  struct blackout ***out, size_t *n);

/* ---- JSON -------------------------------------------------------------------------------- */

/* Alerta's serialize at now_ms; `href_base` makes "href" = href_base + "/blackout/" + id (NULL
 * leaves it out). A new object (caller decrefs) or NULL if out of memory. */
json_t *blackout_to_json(const struct blackout *b, int64_t now_ms, const char *href_base);
/* The stored form: the serialised fields without href, status and remaining, compact JSON.
 * Caller frees; NULL if out of memory. */
char *blackout_to_store(const struct blackout *b);

#endif
