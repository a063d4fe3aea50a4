/* alertdb: every stored alert, held by the engine thread, with Alerta's de-duplication,
 * correlation, lifecycle and housekeeping.
 *
 * Pure like the rest of src/core: time is passed in, and every change comes out as an
 * `struct alert_change` effect (EFF_ACHANGE) that the store writer applies. The engine is the only
 * writer of alerts, so there is no race between two first inserts of the same key: they arrive
 * in some order on one thread, the first creates, the second is its duplicate (Alerta's own race
 * gives a 500 there).
 *
 * Indexes (intrusive hash chains in struct alert):
 *   key  (environment, resource, event, customer) -> the alert (unique, as Alerta's index);
 *   res  (environment, resource, customer)        -> every alert of that resource (correlation);
 *   id   (UUID)                                   -> the alert.
 * Time: each alert has one timer on the db's wheel, armed for the earliest of its expiry
 * (lastReceiveTime + timeout), the end of its ack or shelve timeout, and its deletion (closed or
 * expired: lastReceiveTime + delete_expired_after; informational: + delete_info_after).
 * Retention: at most max_alerts alerts; a new alert past it evicts the oldest closed or expired
 * one, and when there is none the new alert is refused (TOCSIN_EFULL: the API answers 429).
 * History: at most history_limit entries per alert (the store deletes older ones). */
#ifndef TOCSIN_ALERTDB_H
#define TOCSIN_ALERTDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/alert.h"
#include "core/effects.h"
#include "core/timer.h"

struct facets;
struct sidx;

struct alertdb_cfg {
    struct sevmap sev;
    int64_t default_timeout_s;      /* ALERT_TIMEOUT, 86400 */
    uint32_t history_limit;         /* HISTORY_LIMIT, 100 */
    bool history_on_value_change;   /* HISTORY_ON_VALUE_CHANGE, true */
    int64_t delete_expired_after_s; /* DELETE_EXPIRED_AFTER, 7200 (0: never) */
    int64_t delete_info_after_s;    /* DELETE_INFO_AFTER, 43200 (0: never) */
    int64_t shelve_timeout_s;       /* SHELVE_TIMEOUT, 7200 */
    int64_t ack_timeout_s;          /* ACK_TIMEOUT, 0 (never) */
    uint64_t max_alerts;            /* retention bound */
    struct sidx *sidx;              /* optional: told every alert's id and rid as it enters and
                                       leaves the tables, for the readers (util/sidx.h) */
    struct facets *facets;          /* optional: kept counting every alert by environment,
                                       service, group and tag, for the readers (core/facets.h) */
};

void alertdb_cfg_default(struct alertdb_cfg *c);

/* History entry types, as Alerta names them. */
enum htype {
    HT_NEW = 0, HT_SEVERITY, HT_STATUS, HT_VALUE, HT_ACTION, HT_OPEN, HT_ASSIGN, HT_ACK, HT_UNACK,
    HT_SHELVE, HT_UNSHELVE, HT_CLOSE, HT_NOTE, HT_DISMISS, HT_TIMEOUT, HT_EXPIRED, HT_COUNT
};
const char *htype_name(int t);

struct hist_entry {
    uint32_t seq;
    uint8_t type;     /* enum htype */
    int16_t sev_name; /* -1: none (notes) */
    int16_t status;   /* -1: none */
    int32_t timeout_s;
    int64_t update_ms;
    char *event, *value, *text, *user; /* owned; value and user may be NULL */
};

enum achange_op { ACH_PUT = 0, ACH_DEL, ACH_NOTE };

/* What an ACH_PUT change did to the alert, for notification rules (core/nrule.h), in Canopsis'
 * trigger vocabulary. A change carries a mask of these (bit 1u << CHG_x, CHG_BIT()); several
 * can hold at once (a shelve of an acked alert is shelve + ackremove). Exact meanings:
 *   create      a new alert, unless it is born in blackout or closed (a normal severity);
 *   stateinc    the severity code got lower (more severe), not to the normal code;
 *   statedec    the severity code got higher (less severe), not to the normal code;
 *   changestate an operator set a different status (PUT .../status);
 *   ack         the status became ack (action, PUT status or a sender's status);
 *   ackremove   the status left ack for anything but closed/expired/blackout (unack, open,
 *               assign, shelve, re-open by a severity increase, ack timeout);
 *   unack       the operator action "unack";
 *   shelve      the status became shelved;
 *   unshelve    the status left shelved for anything but closed/expired/blackout (operator or
 *               shelve timeout);
 *   resolve     the status became closed ("close" parses to it);
 *   reopen      a closed or expired alert became active again;
 *   comment     a note was added (on the ACH_PUT; the ACH_NOTE row itself carries 0);
 *   expire      the status became expired (timeout);
 *   eventscount a duplicate was received (a rule's "eventscount<N>" fires when the alert's
 *               duplicateCount + 1 == N after the change, i.e. on the N-th event);
 *   unblackout  the alert left blackout for an active status (tocsin's kind: nothing is
 *               notified while an alert is in blackout, so this is what tells of it after).
 * A change that leaves the alert in blackout carries 0 (except comment). Tag and attribute
 * edits, custom actions and deletions carry 0. */
enum achg {
    CHG_CREATE = 0, CHG_STATEINC, CHG_STATEDEC, CHG_CHANGESTATE, CHG_ACK, CHG_ACKREMOVE,
    CHG_UNACK, CHG_SHELVE, CHG_UNSHELVE, CHG_RESOLVE, CHG_REOPEN, CHG_COMMENT, CHG_EXPIRE,
    CHG_EVENTSCOUNT, CHG_UNBLACKOUT, CHG_COUNT
};
#define CHG_BIT(k) (1u << (k))
#define CHG_ALL ((1u << CHG_COUNT) - 1u)
const char *achg_name(int c);  /* "create", ...; "" if out of range */
int achg_parse(const char *s); /* -1 if unknown; "close" -> CHG_RESOLVE; not "eventscount<N>" */

/* One change for the store. Owned by the effect; freed with alert_change_free(). */
struct alert_change {
    enum achange_op op;
    uint64_t rid;
    uint8_t id[16];           /* the alert's id (every op) */
    uint32_t chg;             /* ACH_PUT: mask of enum achg (see there); 0 for the others */
    uint8_t prev_status;      /* status before the change (AST_UNKNOWN for a new alert) */
    uint8_t prev_severity;    /* severity code before the change (a new alert: the
                                 indeterminate code, as its previousSeverity) */
    struct alert *snap;       /* ACH_PUT: the alert after the change (a copy); ACH_DEL: the
                                 record as it was when deleted (none for a retention eviction) */
    bool raw_set;             /* ACH_PUT: rawData was received (raw may be NULL = null) */
    char *raw;
    struct hist_entry *hist;  /* entries to append */
    uint32_t nhist;
    uint32_t hist_keep_from;  /* delete this alert's history rows with seq < this (0: none) */
    /* ACH_NOTE */
    char note_id[37];
    char *note_text, *note_user;
    int64_t note_ms;
};
void alert_change_free(struct alert_change *c);

struct alertdb;

struct alertdb *alertdb_new(const struct alertdb_cfg *cfg, int64_t now_ms);
void alertdb_free(struct alertdb *db);
const struct alertdb_cfg *alertdb_config(const struct alertdb *db);

/* Timers: fires what is due (expiry, ack/shelve timeouts, deletions). */
void alertdb_advance(struct alertdb *db, int64_t now_ms, struct effects *fx);
int64_t alertdb_next_deadline(const struct alertdb *db); /* INT64_MAX if none */

enum receive_kind { RECV_NEW = 0, RECV_DUPLICATE, RECV_CORRELATED };

/* Receives one validated alert (Alerta's process_alert after the plugins). `origin_default`
 * and `source_default` fill origin/source when the sender gave none; `user` goes into history
 * (may be NULL); `blackout` stores it with status blackout. On success *out is the live record
 * (valid until the next alertdb call) and *kind says what happened. TOCSIN_EFULL when the
 * retention bound is reached and nothing can be evicted; TOCSIN_ENOMEM. */
int alertdb_receive(struct alertdb *db, const struct alert_in *in, const char *origin_default,
                    const char *source_default, const char *user, bool blackout, int64_t now_ms,
                    struct effects *fx, struct alert **out, int *kind);

/* Calls fn for every live alert (in no particular order); fn must not change the db. */
void alertdb_foreach(const struct alertdb *db, void (*fn)(void *ud, const struct alert *a),
                     void *ud);
/* The live record with this id, or NULL. */
struct alert *alertdb_find(struct alertdb *db, const uint8_t id[16]);
/* The live record whose key is this, or NULL (customer NULL: none). */
struct alert *alertdb_find_key(struct alertdb *db, const char *environment, const char *resource,
                               const char *event, const char *customer);

/* Operator changes; each returns TOCSIN_ENOTFOUND for an unknown id. */
/* PUT /alert/{id}/action. `action` is any string (a custom one changes nothing but history).
 * timeout_s -1: the default for the action. TOCSIN_ECONFLICT with a reason in why (409). */
int alertdb_action(struct alertdb *db, const uint8_t id[16], const char *action, const char *text,
                   int64_t timeout_s, const char *user, int64_t now_ms, struct effects *fx,
                   char *why, size_t whylen);
/* PUT /alert/{id}/status: sets the status directly (Alerta's status_change). */
int alertdb_set_status(struct alertdb *db, const uint8_t id[16], int status, const char *text,
                       int64_t timeout_s, const char *user, int64_t now_ms, struct effects *fx);
/* PUT /alert/{id}/tag and /untag. */
int alertdb_tag(struct alertdb *db, const uint8_t id[16], const struct strlist *tags, bool untag,
                int64_t now_ms, struct effects *fx);
/* PUT /alert/{id}/attributes: merge, a "null" value deletes. */
int alertdb_attributes(struct alertdb *db, const uint8_t id[16], const struct kvlist *attrs,
                       int64_t now_ms, struct effects *fx);
/* PUT /alert/{id}/note: a note row and a history entry. note_id_out gets its id. */
int alertdb_note(struct alertdb *db, const uint8_t id[16], const char *text, const char *user,
                 int64_t now_ms, struct effects *fx, char note_id_out[37]);
int alertdb_delete(struct alertdb *db, const uint8_t id[16], struct effects *fx);

/* POST /management/housekeeping: runs what is due now, with thresholds overridden when >= 0
 * (Alerta's `expired` and `info` parameters, in seconds here). Counts what it did. */
struct housekeeping_counts {
    uint64_t expired, unshelved, unacked, deleted;
};
void alertdb_housekeeping(struct alertdb *db, int64_t expired_after_s, int64_t info_after_s,
                          int64_t now_ms, struct effects *fx, struct housekeeping_counts *out);

/* A blackout ended (tocsin's event; Alerta has none): each alert in status blackout for which
 * `covered(ud, alert)` is false goes back to the status it had before the blackout, as Alerta's
 * transition does for an alert in blackout (rule BLK-2: the previous history entry's status,
 * open when there is none), with a "status" history entry "blackout ended". When that status
 * is blackout too, the alert opens (Alerta's BLK-* would keep it in blackout for good).
 * `covered` must not change the db. Cost: one walk over the id index, O(alerts), skipped when
 * no alert is in blackout: blackouts end rarely, and keeping a per-status index for them would
 * tax every status change instead. *released (may be NULL) counts the alerts changed.
 * TOCSIN_ENOMEM (alerts changed before the failure stay changed). */
typedef bool (*alertdb_covered_fn)(void *ud, const struct alert *a);
int alertdb_blackout_release(struct alertdb *db, alertdb_covered_fn covered, void *ud,
                             int64_t now_ms, struct effects *fx, size_t *released);

/* Start-up: takes a record read back from the store (alert_from_state), indexes it and arms
 * its timer. TOCSIN_EEXIST if its key or id is already held (the record is freed). */
int alertdb_restore(struct alertdb *db, struct alert *a, int64_t now_ms);
/* Start-up: sizes the tables for n alerts before they are restored (each would otherwise double
 * its array on the way, moving every alert it holds). Out of memory: they grow as they go. */
void alertdb_reserve(struct alertdb *db, size_t n);

struct alertdb_stats {
    uint64_t alerts;
    uint64_t by_status[AST_COUNT];
    /* alerts by status and severity (index in the sevmap): what Alerta's statusCounts and
     * severityCounts of an unfiltered or status-only list add up, kept here because counting a
     * million rows in the store takes 0.1-0.4 s */
    uint64_t by_status_sev[AST_COUNT][SEVMAP_MAX];
    uint64_t heap_bytes;  /* records and their blobs */
    uint64_t received, duplicates, correlated, created, evicted, refused, deleted, expired;
};
void alertdb_get_stats(const struct alertdb *db, struct alertdb_stats *out);

/* Serialises the engine's bookkeeping plus the record (what alert_from_state reads back), for
 * the `state` column. Caller frees. */
void *alert_state_pack(const struct alert *a, size_t *len);
struct alert *alert_from_state(const void *p, size_t len);

#endif
