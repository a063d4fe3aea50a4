/* The durable store: triggers, alerts (and the triggers' firing state), the notification outbox.
 *
 * One interface, several backends behind an ops table: store/sqlite.c fills `store_sqlite_ops`
 * (a later store/pg.c fills its own). The store_* functions below are thin wrappers that call
 * `s->ops->...`.
 *
 * Threads and connections. A `struct store` is one database connection and is used by ONE thread
 * only (SQLite connections are opened with SQLITE_OPEN_NOMUTEX). The daemon opens:
 *   - one writer (readonly = false) for the store-writer thread. It creates the data directory
 *     and the schema, and is the only connection that ever writes. It loads the start-up state
 *     (store_*_load_*) before the other threads start.
 *   - any number of readers (readonly = true), one per thread that serves queries, opened after
 *     the writer. A reader only ever runs SELECTs (it is refused writes), and sees committed data.
 *
 * Errors: functions return TOCSIN_OK or an enum tocsin_err. A database failure is TOCSIN_ESTORE
 * and is logged ("store_error", with SQLite's message); a uniqueness violation is TOCSIN_EEXIST,
 * another constraint violation TOCSIN_EINVAL. Lookups of a missing object give TOCSIN_ENOTFOUND.
 * Strings passed in are borrowed for the call only. */
#ifndef TOCSIN_STORE_H
#define TOCSIN_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "util/config.h"

#define STORE_PAGE_DEFAULT 50
#define STORE_PAGE_MAX 1000

/* A page of a listing. limit 0 means STORE_PAGE_DEFAULT; above STORE_PAGE_MAX it is cut to it. */
struct store_page {
    size_t limit;
    size_t offset;
};

struct notify_query {
    int status;             /* enum notify_status, -1 any */
    const char *alert_id;   /* NULL any */
    const char *trigger_id; /* NULL any */
    const char *rule_id;    /* NULL any */
    const char *channel_id; /* NULL any */
    bool attempts;          /* add each notification's attempts */
    struct store_page page;
};

/* One attempt of a notification (notify_attempt row). Strings borrowed. */
struct notify_attempt_rec {
    const char *notification; /* the notification id */
    int64_t outbox_seq;       /* its outbox row's seq when known (0: found by the id) */
    uint32_t n;               /* 1-based */
    int64_t at_ms, duration_ms;
    int http_status;          /* 0: no HTTP answer */
    const char *error;        /* NULL when delivered */
    const char *response;     /* bounded excerpt of the answer, or NULL */
};

/* Start-up loading callbacks. Returning non-zero stops the walk; the load function then returns
 * that value. A callback must not call the store it is being fed from. */
typedef int (*store_trigger_cb)(void *ud, const char *id, const char *json); /* borrowed */
typedef int (*store_alert_cb)(void *ud, struct alert_rec *a);  /* callee owns a, always */
typedef int (*store_notify_cb)(void *ud, struct notify_rec *n); /* callee owns n, always */
struct alert;
struct alert_change;
struct sevmap;
typedef int (*store_xalert_cb)(void *ud, struct alert *a); /* callee owns a, always */

struct store;

/* A backend. Every member is required. See the store_* wrappers for each contract. */
struct store_ops {
    const char *name; /* "sqlite" */
    int (*open)(const char *data_dir, enum durability d, bool readonly, struct store **out,
                char *err, size_t errlen);
    void (*close)(struct store *s);

    int (*begin)(struct store *s);
    int (*commit)(struct store *s);
    int (*rollback)(struct store *s);
    int (*trigger_put)(struct store *s, const char *id, const char *json, bool enabled,
                       int64_t created_ms, int64_t updated_ms);
    int (*trigger_delete)(struct store *s, const char *id);
    int (*alert_upsert)(struct store *s, const struct alert_rec *a);
    int (*outbox_insert)(struct store *s, struct notify_rec *n);
    int (*outbox_update)(struct store *s, const struct notify_rec *n);

    int (*trigger_load_all)(struct store *s, store_trigger_cb cb, void *ud);
    int (*alert_load_open)(struct store *s, store_alert_cb cb, void *ud);
    int (*outbox_load_pending)(struct store *s, store_notify_cb cb, void *ud);

    int (*trigger_list_json)(struct store *s, const struct store_page *p, json_t **out);
    int (*trigger_get_json)(struct store *s, const char *id, json_t **out);
    /* Alerta-model alerts (core/alertdb.h): writes, start-up load; reads go through the
     * backend's native handle (store/alert_read.h for SQLite). */
    int (*achange_apply)(struct store *s, const struct alert_change *c);
    int (*alert_count)(struct store *s, uint64_t *n);
    int (*alert_load)(struct store *s, bool desc, store_xalert_cb cb, void *ud);
    void (*set_sevmap)(struct store *s, const struct sevmap *m);
    void *(*native)(struct store *s);
    int (*object_put)(struct store *s, const char *kind, const char *id, const char *json);
    int (*object_load)(struct store *s, const char *kind, store_trigger_cb cb, void *ud);
    int (*notify_query_json)(struct store *s, const struct notify_query *q, json_t **out);
    int (*notify_get_json)(struct store *s, const char *id, json_t **out);
    int (*outbox_get)(struct store *s, const char *id, struct notify_rec **out);
    int (*attempt_insert)(struct store *s, const struct notify_attempt_rec *a);
    int (*outbox_purge)(struct store *s, int64_t before_ms, int64_t max_rows, int64_t *deleted);
    /* Maintenance: stop checkpointing inside commits (the writer), and checkpoint from another
     * connection (any reader) so commits never wait for a checkpoint's fsync. */
    int (*manual_checkpoints)(struct store *s);
    int (*writer_checkpoint)(struct store *s, int64_t min_bytes, bool *ran);
    int64_t (*wal_bytes)(struct store *s);
    int (*checkpoint)(struct store *s);
};

/* The common head of every backend's connection struct (a backend embeds it as its first
 * member). Callers treat struct store as opaque. */
struct store {
    const struct store_ops *ops;
};

extern const struct store_ops store_sqlite_ops;

/* Opens the SQLite store `<data_dir>/tocsin.db` (see store_open_ops). */
int store_open(const char *data_dir, enum durability d, bool readonly, struct store **out,
               char *err, size_t errlen);
/* Opens a connection through the given backend. The writer (readonly = false) creates data_dir
 * (mode 0700) and the database file (mode 0600) if missing and migrates the schema; a reader
 * needs the schema to exist. On failure returns non-zero, sets *out = NULL and writes a reason
 * into err. Caller frees with store_close(). */
int store_open_ops(const struct store_ops *ops, const char *data_dir, enum durability d,
                   bool readonly, struct store **out, char *err, size_t errlen);
void store_close(struct store *s); /* NULL is fine; an open transaction is rolled back */
const char *store_backend_name(const struct store *s);

/* Writer API (the writer connection's thread only). Operations outside begin/commit are
 * committed one by one; the writer groups many in one transaction. */
int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);
/* Inserts or replaces a trigger (an update keeps the first created_ms). */
int store_trigger_put(struct store *s, const char *id, const char *json, bool enabled,
                      int64_t created_ms, int64_t updated_ms);
int store_trigger_delete(struct store *s, const char *id); /* TOCSIN_ENOTFOUND if absent */
/* Inserts or replaces the alert with a->id. The fingerprint is unique: another alert with the
 * same fingerprint gives TOCSIN_EEXIST. */
int store_alert_upsert(struct store *s, const struct alert_rec *a);
/* Inserts a new outbox row and sets n->seq. n->id is the idempotency key: when a row with it
 * exists already nothing is written and TOCSIN_EEXIST is returned (the notification was made
 * before: it must not be sent again). */
int store_outbox_insert(struct store *s, struct notify_rec *n);
/* The outbox's index key of a notification or alert id (n bytes): its 64-bit FNV-1a hash as a
 * signed integer, stored with each row (columns idk and alertk) and known to SQL on every store
 * connection as tocsin_key(text). Part of the file format: it never changes. */
int64_t store_outbox_key(const void *p, size_t n);
/* Updates the row with n->id (looked up by n->seq when that is set): status, attempts,
 * max_attempts, next_ms, updated_ms, last_http_status, last_error, and ticket when n has one.
 * TOCSIN_ENOTFOUND if absent. */
int store_outbox_update(struct store *s, const struct notify_rec *n);
/* Appends one attempt. */
int store_attempt_insert(struct store *s, const struct notify_attempt_rec *a);
/* Deletes at most max_rows of the oldest delivered or failed notifications last updated
 * before before_ms, with their attempts; *deleted says how many notifications went. */
int store_outbox_purge(struct store *s, int64_t before_ms, int64_t max_rows, int64_t *deleted);
/* The stored record (writer or reader); TOCSIN_ENOTFOUND. */
int store_outbox_get(struct store *s, const char *id, struct notify_rec **out);

/* Start-up loading (writer connection, before the threads start). Triggers in insertion order;
 * open alerts; pending notifications by next_ms. */
int store_trigger_load_all(struct store *s, store_trigger_cb cb, void *ud);
int store_alert_load_open(struct store *s, store_alert_cb cb, void *ud);
int store_outbox_load_pending(struct store *s, store_notify_cb cb, void *ud);

/* Reader API for the REST API. On success *out is a new reference the caller decrefs.
 * Times are ISO 8601 UTC with milliseconds ("2026-11-24T05:44:27.123Z").
 *
 * {"triggers":[<stored trigger JSON>...],"total":N}, in insertion order. */
int store_trigger_list_json(struct store *s, const struct store_page *p, json_t **out);
/* The stored trigger JSON; TOCSIN_ENOTFOUND. */
int store_trigger_get_json(struct store *s, const char *id, json_t **out);
/* Alerts of core/alertdb.h. The writer applies changes (inside begin/commit); the start-up
 * load hands every stored alert to cb in rid order (descending if desc), on any connection,
 * until cb returns an error, which it returns; set_sevmap gives the severity
 * names (call on every connection before use; Alerta's default otherwise). store_native is the
 * backend's own handle (sqlite3 * for SQLite), for the read side of store/alert_read.h. */
int store_achange_apply(struct store *s, const struct alert_change *c);
int store_alert_count(struct store *s, uint64_t *n); /* how many are stored */
int store_alert_load(struct store *s, bool desc, store_xalert_cb cb, void *ud);
/* The same load on two connections and two threads, for start-up: this thread reads rows up
 * from the lowest rid on `up` and hands each to cb as it reads it, while a helper thread reads
 * down from the highest on `down` (which it closes when done) into a list; the two stop where
 * they meet, whatever the rids' spread, and cb then gets the helper's rows. So cb sees every
 * row once, in rid order, as from store_alert_load. If the helper cannot be started, this
 * thread reads them all (and closes `down`). *helper_rows (may be NULL): the rows the helper
 * read. TOCSIN_OK, cb's error, or the store's. */
int store_alert_load_meet(struct store *up, struct store *down, store_xalert_cb cb, void *ud,
                          uint64_t *helper_rows);
void store_set_sevmap(struct store *s, const struct sevmap *m);
void *store_native(struct store *s);
/* Small objects kept whole as JSON under (kind, id): API keys, heartbeats, blackouts. json NULL
 * deletes (absent is fine). The load gives every object of a kind, by id. */
int store_object_put(struct store *s, const char *kind, const char *id, const char *json);
int store_object_load(struct store *s, const char *kind, store_trigger_cb cb, void *ud);
/* {"notifications":[...],"total":N,"limit":L,"offset":O}, newest first. A notification is
 * {"id","alert","trigger","channel","method","url","headers":[names only],"status","attempts",
 *  "maxAttempts","resolve","createdTime","nextAttemptTime"(null unless pending),"updatedTime",
 *  "lastHttpStatus"(null if none),"lastError","rule","channelId","change","ticket"} and, when
 *  q->attempts, "deliveryAttempts":[{"attempt","time","durationMs","httpStatus","error","response"}]. Header values are never returned, and the
 * user-info part of the URL ("user:pass@") is shown as "***@". */
int store_notify_query_json(struct store *s, const struct notify_query *q, json_t **out);
/* One notification as above with "attempts"; TOCSIN_ENOTFOUND. */
int store_notify_get_json(struct store *s, const char *id, json_t **out);

/* Checkpoints (the daemon's maintenance thread): on the writer, store_manual_checkpoints() turns
 * off SQLite's automatic checkpoint at commit; then store_checkpoint() on a separate connection
 * copies the WAL into the database in the background (PASSIVE: never blocks the writer).
 * Without them (tests, tools) SQLite checkpoints by itself. */
int store_manual_checkpoints(struct store *writer);
/* On the writer, between transactions: checkpoints if the WAL holds at least min_bytes of
 * pages, so that the WAL is started over and its file stays bounded; *ran says whether it
 * did. */
int store_writer_checkpoint(struct store *writer, int64_t min_bytes, bool *ran);
/* On the writer with manual checkpoints: bytes of pages in the WAL after its last commit. */
int64_t store_wal_bytes(struct store *writer);
int store_checkpoint(struct store *s);

#endif
