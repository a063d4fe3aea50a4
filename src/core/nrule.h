/* nrule: notification rules, the pure core. Alert changes in, notification intents out, on the
 * injected clock; no threads, no I/O, no wall clock (docs/rules.md has the user's view).
 *
 * A rule (JSON, every key optional but `id`):
 *   id (1..64 of [A-Za-z0-9_.:-]), name (""), enabled (true), priority (0),
 *   on (["create","reopen","unblackout","stateinc","statedec","resolve","expire"]): enum achg
 *     names, "close" = "resolve", and "eventscount<N>" (N >= 2: the N-th event of the alert,
 *     i.e. duplicateCount + 1 == N after a duplicate);
 *   match (every alert): core/match.h, either shape;
 *   periods ([] = always): core/period.h objects (AE's shape; begin > end crosses midnight);
 *   delay (0), group_by ([] = not grouped; ["..."] = every label), group_wait (30s),
 *   group_interval (5m), repeat_interval (4h, rounded up to a multiple of group_interval):
 *     durations "30s", "5m", "4h", "1d", "1h30m" or integer seconds, at most NRULE_DURATION_MAX;
 *   throttle ({count >= 1, window > 0}; none), continue (false), channels ([]: a rule that
 *   matches and sends nothing, Alertmanager's blackhole), send_resolved (true),
 *   inhibit ({source: matcher, equal: [fields]}), trigger (a trigger id: the rule only sees
 *   alerts whose origin is "trigger/<id>").
 *
 * Order: rules are walked by (priority ascending, then id in byte order). For one change, a rule
 * MATCHES when it is enabled, `on` has one of the change's kinds, its trigger (if any) is the
 * alert's and `match` holds. A matching rule with continue false ends the walk. Periods,
 * inhibition, delay, grouping and throttle act after matching: a muted rule still ends the walk
 * (as Alertmanager's time intervals and inhibitions do not re-route).
 *
 * Ungrouped rules emit one intent per (alert, change). Grouped rules put the alert into the
 * group of its group_by values (as firing) and emit at flushes, as Alertmanager's dispatcher:
 * first flush group_wait after the group is created (at once when the alert's startsAt, if it
 * has one, is older than group_wait and the group never flushed), then a flush every
 * group_interval; a flush sends if AM's needsUpdate says so (new firing alerts not in the last
 * notification; all resolved after something firing; new resolved ones with send_resolved; or
 * repeat_interval since the last notification, ">=" where AM's is ">"). Resolved alerts leave the
 * group after each flush; an empty group is destroyed.
 *
 * Resolves: an alert that becomes closed or expired (or is deleted) resolves its membership in
 * every group, whatever `on` and `match` say then (closing sets the severity to normal, which
 * `match` often excludes). An ungrouped rule that sent a firing intent for an alert sends its
 * resolve when `on` has resolve (or expire) even if `match` no longer holds; such an owed resolve
 * is never muted by periods, throttle or inhibition. A resolve during a `delay` cancels it and
 * nothing is sent.
 *
 * Delay: the first matching change of an active alert arms a delay of the rule for that alert;
 * later changes during it only update its kind. When it ends, the alert must still exist, be
 * active (not closed/expired) and match the rule; then it goes on as if it had just matched
 * (periods, inhibition, then throttle or the group).
 *
 * Inhibition: while an active alert S matches `inhibit.source`, this rule's firing intents for
 * alerts T with the same values of `inhibit.equal` (missing = "") are muted; if T matches both
 * source and `match`, only sources that do not also match `match` mute it. Sources are indexed
 * by a 128-bit hash of their equal values: a check is O(1). Grouped rules apply it at flush time
 * (muted members are left out of the notification, firing or resolved, as AM's mute stage).
 *
 * Throttle: at most `count` intents per fixed window (starting at the first intent counted) per
 * group, or per alert for ungrouped rules; resolved-only intents are not counted nor dropped. An
 * ungrouped intent over the limit is dropped and counted; a group notification over it is
 * counted and not recorded as sent, so the next flush after the window sends the group's state.
 *
 * Idempotency keys (64 hex chars, BLAKE2b-256): ungrouped = (rule id, alert id, the alert's
 * history sequence and duplicate count after the change that caused the intent: unique per
 * change of an alert and persisted with it); grouped = (rule id, group key, the group's creation
 * time and nonce, the group's flush sequence). The group part is in the state snapshot.
 *
 * Memory: everything is bounded by struct nrules_limits; at a bound a rule is refused
 * (TOCSIN_ETOOBIG) or the item is dropped and counted in struct nrules_stats, never silently.
 *
 * Threading: one engine thread owns a struct nrules and the rules in it. */
#ifndef TOCSIN_NRULE_H
#define TOCSIN_NRULE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/alert.h"
#include "core/alertdb.h"
#include "core/match.h"
#include "core/period.h"
#include "core/verr.h"

#define NRULE_ID_MAX 64
#define NRULE_NAME_MAX 256
#define NRULE_MAX_CHANNELS 32
#define NRULE_MAX_GROUP_BY 32
#define NRULE_MAX_EQUAL 32
#define NRULE_MAX_PERIODS 32
#define NRULE_MAX_EVENTSCOUNT 16
#define NRULE_MAX_PRIORITY 1000000
#define NRULE_DURATION_MAX (366LL * 86400 * 1000) /* ms */
#define NRULE_THROTTLE_MAX 1000000
#define NRULE_INDEX_FIELDS 8 /* distinct fields the rule index keys on */

/* Defaults of struct nrules_limits. */
#define NRULE_MAX_RULES 10000          /* nrules_put past it: TOCSIN_ETOOBIG */
#define NRULE_MAX_GROUPS 100000        /* a new group past it: dropped, stats.groups_full */
#define NRULE_MAX_GROUP_ALERTS 10000   /* a new member past it: dropped, stats.group_alerts_full */
#define NRULE_MAX_DELAYED 100000       /* a delay past it: sent at once, stats.delay_overflow */
#define NRULE_MAX_ALERT_STATES 1000000 /* (rule, alert) states past it: stats.states_full; the
                                          intent goes on without state (no throttle, no owed
                                          resolve, no delay: sent at once; grouped: dropped) */

struct nrule {
    char id[NRULE_ID_MAX + 1];
    char *name;
    bool enabled;
    int priority;
    uint32_t on;                                  /* CHG_BIT mask */
    uint32_t eventscount[NRULE_MAX_EVENTSCOUNT]; /* the N of each eventscount<N> */
    size_t neventscount;
    struct matcher *match; /* NULL: every alert */
    struct period *periods;
    size_t nperiods;
    int64_t delay_ms;
    struct mfield *group_by;
    size_t ngroup_by;
    bool group_all; /* ["..."] */
    int64_t group_wait_ms, group_interval_ms, repeat_interval_ms;
    uint32_t throttle_count; /* 0: none */
    int64_t throttle_window_ms;
    bool cont, send_resolved;
    char **channels;
    size_t nchannels;
    struct matcher *inhibit_source; /* NULL: no inhibition */
    struct mfield *inhibit_equal;
    size_t ninhibit_equal;
    char *trigger;        /* NULL: not attached */
    char *trigger_origin; /* "trigger/<id>" */
};

/* Parses and validates a rule (j borrowed). `sev` is borrowed and must outlive the rule (the
 * matchers read it); `tz` resolves period zones. TOCSIN_EINVAL with e naming the field
 * ("on[2]", "match[0][1].cond.value", "periods[0].zoneId", "throttle.window"), TOCSIN_ENOMEM.
 * The caller owns *out (nrule_free, or hands it to nrules_put). */
int nrule_parse(const json_t *j, const struct sevmap *sev, tz_lookup_fn tz, void *tzud,
                struct nrule **out, struct verr *e);
void nrule_free(struct nrule *r);
/* The rule as JSON, every field with its value (durations as "1h30m"); parses back to the same
 * rule. A new reference, NULL if out of memory. */
json_t *nrule_to_json(const struct nrule *r);
/* Duration text ("30s", "1h30m", integer seconds) to ms; false if invalid. */
bool nrule_duration_parse(const json_t *v, int64_t *ms);

/* ---- intents ---------------------------------------------------------------------------------- */

struct nintent {
    char rule_id[NRULE_ID_MAX + 1];
    char **channels; /* owned copies */
    size_t nchannels;
    char *group_key;  /* "" when the rule does not group; else "<rule id>:{name=\"v\",...}" */
    uint8_t (*alert_ids)[16]; /* firing first, then resolved */
    size_t nalerts, nfiring;
    int chg;          /* the kind that caused it (grouped: the latest admitted; all resolved:
                         resolve) */
    uint32_t chg_mask; /* every kind of that change the rule wanted */
    bool resolved;    /* nothing in it is firing */
    uint64_t seq;     /* grouped: the group's flush sequence; 0 otherwise */
    char key[65];     /* idempotency key, hex */
    const struct alert *gone; /* a resolve owed at a delete: alert_ids[0] as it was (borrowed
                                 from the delete's change, valid while that change is) */
};

struct nintents {
    struct nintent *v;
    size_t n, cap;
};
void nintents_init(struct nintents *l);
void nintents_clear(struct nintents *l); /* frees the intents, keeps the array */
void nintents_free(struct nintents *l);

/* ---- the rule set ------------------------------------------------------------------------------ */

struct nrules_limits {
    size_t max_rules, max_groups, max_group_alerts, max_delayed, max_alert_states;
};
void nrules_limits_default(struct nrules_limits *l);

struct nrules_stats {
    uint64_t rules, groups, alert_states, delayed; /* gauges */
    uint64_t intents;                              /* emitted */
    uint64_t evaluated; /* rules whose trigger and match a change's walk tested (index misses) */
    uint64_t out_of_period, inhibited, throttled;  /* muted or dropped by a rule's setting */
    uint64_t delay_started, delay_fired, delay_cancelled, delay_overflow;
    uint64_t groups_full, group_alerts_full, states_full, groups_dropped;
    uint64_t state_skipped; /* snapshot entries of unknown rules or alerts */
    uint64_t oom;           /* intents lost to a failed allocation */
};

struct nrules;

/* A new empty set; `sev` is borrowed (must outlive it). NULL if out of memory. */
struct nrules *nrules_new(const struct sevmap *sev, int64_t now_ms);
void nrules_free(struct nrules *rs);
void nrules_set_limits(struct nrules *rs, const struct nrules_limits *l);
void nrules_get_stats(const struct nrules *rs, struct nrules_stats *out);

/* Adds r, or replaces the rule with its id (its groups survive when group_by is unchanged,
 * else they are dropped and counted; pending delays and per-alert state survive; its
 * inhibition sources start empty: call nrules_track for the live alerts). Takes r, also on
 * failure. TOCSIN_ETOOBIG past max_rules. */
int nrules_put(struct nrules *rs, struct nrule *r);
int nrules_del(struct nrules *rs, const char *id); /* TOCSIN_ENOTFOUND */
const struct nrule *nrules_get(const struct nrules *rs, const char *id);
size_t nrules_count(const struct nrules *rs);
/* Whether alert id is a member of some rule's group (its next flushes will name it). */
bool nrules_in_group(struct nrules *rs, const uint8_t id[16]);
/* The i-th rule in walk order (NULL past the end). Invalidated by put/del. */
const struct nrule *nrules_at(struct nrules *rs, size_t i);

/* One alert changed: a is the live record after the change (borrowed for the call), c the
 * change (ACH_PUT; ACH_NOTE is ignored). For an ACH_DEL, a is the record as it was (or NULL):
 * the resolves owed to it are sent (nintent.gone = a), then nrules_on_delete. Appends the
 * intents due now to out. */
void nrules_on_change(struct nrules *rs, const struct alert *a, const struct alert_change *c,
                      int64_t now_ms, struct nintents *out);
/* The alert is gone: resolved in its groups, delays cancelled, its state freed. */
void nrules_on_delete(struct nrules *rs, const uint8_t id[16]);
/* Updates the inhibition sources for a (no intents): call for every live alert at start-up and
 * after putting a rule with `inhibit`. */
void nrules_track(struct nrules *rs, const struct alert *a);

/* Fires what is due (delays, group flushes). `find` looks an alert up by id (alertdb_find). */
typedef const struct alert *(*nrules_find_fn)(void *ud, const uint8_t id[16]);
void nrules_advance(struct nrules *rs, int64_t now_ms, nrules_find_fn find, void *ud,
                    struct nintents *out);
int64_t nrules_next_deadline(const struct nrules *rs); /* INT64_MAX if none (a lower bound) */

/* What must survive a restart: groups (members, last notification, timers, sequence numbers,
 * throttle windows) and per-alert state (owed resolves, pending delays, throttle windows), as
 * JSON (a new reference; NULL if out of memory). Load it after putting the rules and before
 * any change: entries of unknown rules are skipped and counted. TOCSIN_EINVAL (e names the
 * spot) leaves the set as it was before the call only for the entries not yet loaded. */
json_t *nrules_state_json(const struct nrules *rs);
int nrules_state_load(struct nrules *rs, const json_t *j, struct verr *e);

#endif
