/* The SQLite backend of the store (see store.h).
 *
 * File: <data_dir>/tocsin.db in WAL mode (plus its -wal and -shm files, created with the
 * database file's mode 0600). Durability maps to PRAGMA synchronous:
 *   DURABILITY_SYNC  -> FULL:   every commit is fsynced; survives kill -9 and power loss.
 *   DURABILITY_BATCH -> NORMAL: in WAL mode a commit is written to the WAL (the OS page cache)
 *                      before it returns, so it survives kill -9 of the process fully; only a
 *                      power loss or OS crash can lose the last commits (never corrupts).
 *   DURABILITY_NONE  -> OFF:    no fsync at all; survives kill -9, a power loss can corrupt.
 *
 * Connections are opened with SQLITE_OPEN_NOMUTEX: each struct store belongs to ONE thread.
 * Readers are opened read-write (a read-only WAL connection would need an existing -shm file and
 * write access to it anyway) but with PRAGMA query_only, so they can only ever run SELECTs.
 *
 * Schema migrations are an array of SQL scripts; PRAGMA user_version counts those applied.
 * All pending ones run in one transaction. Prepared statements are cached per connection. Every
 * value goes through a bound parameter. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/ajson.h"
#include "core/alertdb.h"
#include "store/alert_read.h"
#include "store/alert_schema.h"
#include "store/pcache.h"
#include "store/store.h"
#include "store/walbuf.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fnv.h"
#include "util/log.h"

#define DB_FILE "tocsin.db"
#define BUSY_TIMEOUT_MS 5000
#define SQL_MAX 4096 /* bytes of a generated query */
#define WRITER_CACHE "-32768"      /* KiB: see setup_writer */
#define WRITER_SPILL_PAGES "65536" /* see setup_writer */
#define CTX_ALERT_MAX (1 << 20)    /* bytes of an alert's JSON shared by contexts (ctx_insert) */
/* The SQL function of the outbox's keys (migration 9, store_outbox_key), on every connection. */
#define OUTBOX_KEY_SQL "tocsin_key"
/* An outbox row by its notification id ?1, through the index on its key */
#define OUTBOX_BY_ID "idk = " OUTBOX_KEY_SQL "(?1) AND id = ?1"

static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE triggers ("
    " id TEXT PRIMARY KEY, json TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1,"
    " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
    "CREATE TABLE alerts ("
    " id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, trigger_id TEXT, name TEXT,"
    " source TEXT, description TEXT, severity INTEGER NOT NULL, status INTEGER NOT NULL,"
    " count INTEGER NOT NULL DEFAULT 0, first_ms INTEGER, last_ms INTEGER, updated_ms INTEGER,"
    " resolved_ms INTEGER, projection TEXT, properties TEXT, message TEXT);"
    /* One open alert per fingerprint; resolved ones are history. */
    "CREATE UNIQUE INDEX alerts_fingerprint_open ON alerts(fingerprint) WHERE status = 0;"
    "CREATE INDEX alerts_fingerprint ON alerts(fingerprint);"
    "CREATE INDEX alerts_status_last ON alerts(status, last_ms);"
    "CREATE INDEX alerts_severity ON alerts(severity);"
    "CREATE INDEX alerts_trigger ON alerts(trigger_id);"
    "CREATE TABLE outbox ("
    " seq INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, alert_id TEXT,"
    " trigger_id TEXT, channel TEXT, method TEXT NOT NULL, url TEXT NOT NULL, headers TEXT,"
    " body TEXT, use_proxy INTEGER, tls_verify INTEGER, resolve INTEGER,"
    " status INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " max_attempts INTEGER NOT NULL DEFAULT 0, created_ms INTEGER, next_ms INTEGER,"
    " updated_ms INTEGER, last_http_status INTEGER, last_error TEXT);"
    "CREATE INDEX outbox_status_next ON outbox(status, next_ms);"
    "CREATE INDEX outbox_alert ON outbox(alert_id);",
    /* 2: Alerta-model alerts, their history and notes (store/alert_schema.h). The first
     * schema's `alerts` table stays: it holds the triggers' firing state. */
    ALERT_SCHEMA_SQL,
    /* 3: small objects kept whole as JSON: API keys, heartbeats, blackouts */
    ("CREATE TABLE object (kind TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL,"
     " PRIMARY KEY (kind, id)) WITHOUT ROWID;"),
    /* 4: alert_by_id on the id's first 8 characters (store/alert_schema.h) */
    ALERT_SCHEMA_V4_SQL,
    /* 5: rules' notifications through channels (rendered at each attempt from ctx), and every
     * attempt of every notification */
    ("ALTER TABLE outbox ADD COLUMN rule_id TEXT;"
     "ALTER TABLE outbox ADD COLUMN channel_id TEXT;"
     "ALTER TABLE outbox ADD COLUMN change TEXT;"
     "ALTER TABLE outbox ADD COLUMN ctx TEXT;"
     "ALTER TABLE outbox ADD COLUMN ticket TEXT;"
     "CREATE TABLE notify_attempt (seq INTEGER PRIMARY KEY, notification TEXT NOT NULL,"
     " n INTEGER NOT NULL, at_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL,"
     " http_status INTEGER, error TEXT, response TEXT);"
     "CREATE INDEX notify_attempt_notification ON notify_attempt(notification, n);"),
    /* 6: cheaper writes per notification. Each UPDATE of an outbox row rewrites the whole record,
     * and the ~2.5 KB context (overflow pages with 1 KiB pages) went into the WAL again with it:
     * the context moves to an insert-only table keyed by the outbox row's seq (appends). Attempts
     * are keyed by that seq too, not by the notification's random id, so their index is appended
     * to as well. Attempts of no outbox row (none are made) keep a NULL outbox_seq. */
    ("CREATE TABLE notify_ctx (seq INTEGER PRIMARY KEY, ctx TEXT NOT NULL);"
     "INSERT INTO notify_ctx (seq, ctx) SELECT seq, ctx FROM outbox WHERE ctx IS NOT NULL"
     " ORDER BY seq;"
     "ALTER TABLE outbox DROP COLUMN ctx;"
     "CREATE TABLE notify_attempt6 (seq INTEGER PRIMARY KEY, outbox_seq INTEGER,"
     " n INTEGER NOT NULL, at_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL,"
     " http_status INTEGER, error TEXT, response TEXT);"
     "INSERT INTO notify_attempt6 (seq, outbox_seq, n, at_ms, duration_ms, http_status, error,"
     " response) SELECT a.seq, o.seq, a.n, a.at_ms, a.duration_ms, a.http_status, a.error,"
     " a.response FROM notify_attempt a LEFT JOIN outbox o ON o.id = a.notification"
     " ORDER BY a.seq;"
     "DROP TABLE notify_attempt;"
     "ALTER TABLE notify_attempt6 RENAME TO notify_attempt;"
     "CREATE INDEX notify_attempt_outbox ON notify_attempt(outbox_seq, n);"),
    /* 7: the rules that fire on one change make one notification each, and each context held
     * a copy of the same alert's JSON (most of its ~2.5 KB). A context may now keep only what
     * follows that JSON, with `base` the seq of a context row of the same transaction that
     * holds it whole and `alen` its length in bytes (ctx_insert, OUTBOX_CTX). The index finds
     * the rows that still need a base when contexts are purged; only such rows are in it. */
    ("ALTER TABLE notify_ctx ADD COLUMN base INTEGER;"
     "ALTER TABLE notify_ctx ADD COLUMN alen INTEGER;"
     "CREATE INDEX notify_ctx_base ON notify_ctx(base) WHERE base IS NOT NULL;"),
    /* 8: (status, next_ms) moved each notification's entry twice: in at the pending ones, out
     * and in again among the finished ones when its attempt ended, 3 WAL pages per change in
     * the notification benchmark. Only the pending ones are looked up by status (the start-up
     * load, in seq order): a partial index holds them alone, an entry in and then out. The
     * API's lists by status scan the outbox in seq order (it is purged after notify.keep). */
    ("DROP INDEX outbox_status_next;"
     "CREATE INDEX outbox_pending ON outbox(seq) WHERE status = 0;"),
    /* 9: the outbox's two indexes on random 36-character text, the notification id (UNIQUE)
     * and the alert id, took ~45-byte entries: each new notification wrote about two pages
     * into each, and descending them was a third of the store writer's time per delivery in
     * the notification benchmark. They are now on a 64-bit key of each text (`idk`, `alertk`:
     * OUTBOX_KEY_SQL of the text, set by the writer's statements), 15-byte entries; every
     * look-up names the key and the text, so a collision of keys only costs a compare. The id
     * stays unique: the writer looks it up before each insert (ST_OUTBOX_EXISTS). Removing the
     * UNIQUE constraint takes a copy of the table. */
    ("CREATE TABLE outbox9 (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, alert_id TEXT,"
     " trigger_id TEXT, channel TEXT, method TEXT NOT NULL, url TEXT NOT NULL, headers TEXT,"
     " body TEXT, use_proxy INTEGER, tls_verify INTEGER, resolve INTEGER,"
     " status INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
     " max_attempts INTEGER NOT NULL DEFAULT 0, created_ms INTEGER, next_ms INTEGER,"
     " updated_ms INTEGER, last_http_status INTEGER, last_error TEXT, rule_id TEXT,"
     " channel_id TEXT, change TEXT, ticket TEXT, idk INTEGER NOT NULL, alertk INTEGER);"
     "INSERT INTO outbox9 SELECT seq, id, alert_id, trigger_id, channel, method, url, headers,"
     " body, use_proxy, tls_verify, resolve, status, attempts, max_attempts, created_ms, next_ms,"
     " updated_ms, last_http_status, last_error, rule_id, channel_id, change, ticket,"
     " " OUTBOX_KEY_SQL "(id), " OUTBOX_KEY_SQL "(alert_id) FROM outbox ORDER BY seq;"
     "DROP TABLE outbox;"
     "ALTER TABLE outbox9 RENAME TO outbox;"
     "CREATE INDEX outbox_id ON outbox(idk);"
     "CREATE INDEX outbox_alert ON outbox(alertk);"
     "CREATE INDEX outbox_pending ON outbox(seq) WHERE status = 0;"),
    /* 10: the failed notifications in a partial index too: the API's list and count of them
     * (GET /api/v1/notifications?status=failed, what an operator looks for) scanned the whole
     * outbox, 0.46 s at a million rows and the outbox keeps notify.keep (7 days) of them. A
     * row enters it once, when its last attempt fails. SQLite uses it for "status = ?" bound
     * to 2 (it prepares again when a bound value decides a partial index). Delivered ones,
     * nearly every row, are left to the scan. */
    "CREATE INDEX outbox_failed ON outbox(seq) WHERE status = 2;",
    /* 11: no SQLite index on alert ids. Ids are random, so each new alert wrote a random page of
     * alert_by_id, in the commit's WAL frames and again in the checkpoint: at a million alerts
     * as many pages as new alerts. Look-ups by id now take their rows from the engine's short
     * id index in memory (util/sidx.h), which start-up rebuilds from the alerts it loads. */
    "DROP INDEX IF EXISTS alert_by_id;",
    /* 12: history rows in the order written (store/alert_schema.h) */
    ALERT_HISTORY_V12_SQL,
    /* 13: the environment in alert_by_status_sev (store/alert_schema.h) */
    ALERT_SCHEMA_V13_SQL,
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define ALERT_COLS                                                                                 \
    "id, fingerprint, trigger_id, name, source, description, severity, status, count, first_ms,"  \
    " last_ms, updated_ms, resolved_ms, projection, properties, message"
/* An outbox row's columns in notify_from_row's order, with `ctx` the expression of column 23:
 * the context from notify_ctx where the record is needed whole, NULL where it is not read. */
#define OUTBOX_COLS_CTX(ctx)                                                                       \
    "seq, id, alert_id, trigger_id, channel, method, url, headers, body, use_proxy, tls_verify,"  \
    " resolve, status, attempts, max_attempts, created_ms, next_ms, updated_ms,"                  \
    " last_http_status, last_error, rule_id, channel_id, change, " ctx ", ticket"
/* An outbox row's context: its notify_ctx row whole, or {"alert": then the alert's JSON (alen
 * bytes after the 9 of {"alert": in the base row's context) then the rest it holds. */
#define OUTBOX_CTX                                                                                 \
    "(SELECT CASE WHEN c.base IS NULL THEN c.ctx ELSE '{\"alert\":' ||"                            \
    " (SELECT CAST(substr(CAST(b.ctx AS BLOB), 10, c.alen) AS TEXT) FROM notify_ctx b"             \
    " WHERE b.seq = c.base) || c.ctx END FROM notify_ctx c WHERE c.seq = outbox.seq)"
#define OUTBOX_COLS OUTBOX_COLS_CTX(OUTBOX_CTX)
/* an attempt's outcome on its row (?1 the notification id; the WHERE follows) */
#define OUTBOX_UPDATE                                                                              \
    "UPDATE outbox SET status = ?2, attempts = ?3, next_ms = ?4, updated_ms = ?5,"                 \
    " last_http_status = ?6, last_error = ?7, max_attempts = ?8, ticket = coalesce(?9, ticket)"
/* housekeeping's bounded batch: the oldest finished notifications past the keep time, among
 * the rows before ?3 (purge_bound). Without that bound the walk in seq order went on to the end
 * of the outbox whenever fewer than ?2 rows were due: the whole table, four times per pass
 * (116 ms per statement at 300,000 rows, bench/outbox_schema.py --purge). */
#define PURGED_SEQS                                                                                \
    "(SELECT seq FROM outbox WHERE seq < ?3 AND status <> 0 AND updated_ms < ?1 ORDER BY seq"      \
    " LIMIT ?2)"

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_READ_BEGIN,
    ST_TRIGGER_PUT,
    ST_TRIGGER_DELETE,
    ST_TRIGGER_GET,
    ST_TRIGGER_ALL,
    ST_TRIGGER_PAGE,
    ST_TRIGGER_COUNT,
    ST_ALERT_UPSERT,
    ST_ALERT_OPEN,
    ST_OUTBOX_INSERT,
    ST_OUTBOX_EXISTS,
    ST_CTX_INSERT,
    ST_OUTBOX_UPDATE,
    ST_OUTBOX_UPDATE_SEQ,
    ST_OUTBOX_GET,
    ST_ATTEMPT_INSERT,
    ST_ATTEMPT_LIST,
    ST_OUTBOX_SEQ_RANGE,
    ST_OUTBOX_SEQ_AT,
    ST_OUTBOX_PURGE_ATTEMPTS,
    ST_OUTBOX_PURGE_BASES,
    ST_OUTBOX_PURGE_CTX,
    ST_OUTBOX_PURGE,
    ST_OUTBOX_PENDING,
    ST_ACH_PUT,
    ST_ACH_DEL,
    ST_ACH_DEL_HIST,
    ST_ACH_DEL_NOTES,
    ST_HIST_INSERT,
    ST_HIST_TRIM,
    ST_NOTE_INSERT,
    ST_ACH_LOAD,
    ST_ACH_LOAD_DESC,
    ST_OBJ_PUT,
    ST_OBJ_DEL,
    ST_OBJ_LOAD,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_READ_BEGIN] = "BEGIN",
    [ST_TRIGGER_PUT] =
        "INSERT INTO triggers (id, json, enabled, created_ms, updated_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO UPDATE SET json = excluded.json,"
        " enabled = excluded.enabled, updated_ms = excluded.updated_ms",
    [ST_TRIGGER_DELETE] = "DELETE FROM triggers WHERE id = ?1",
    [ST_TRIGGER_GET] = "SELECT json FROM triggers WHERE id = ?1",
    [ST_TRIGGER_ALL] = "SELECT id, json FROM triggers ORDER BY rowid",
    [ST_TRIGGER_PAGE] = "SELECT json FROM triggers ORDER BY rowid LIMIT ?1 OFFSET ?2",
    [ST_TRIGGER_COUNT] = "SELECT count(*) FROM triggers",
    [ST_ALERT_UPSERT] =
        "INSERT INTO alerts (" ALERT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
        " ?11, ?12, ?13, ?14, ?15, ?16) ON CONFLICT(id) DO UPDATE SET"
        " fingerprint = excluded.fingerprint, trigger_id = excluded.trigger_id,"
        " name = excluded.name, source = excluded.source, description = excluded.description,"
        " severity = excluded.severity, status = excluded.status, count = excluded.count,"
        " first_ms = excluded.first_ms, last_ms = excluded.last_ms,"
        " updated_ms = excluded.updated_ms, resolved_ms = excluded.resolved_ms,"
        " projection = excluded.projection, properties = excluded.properties,"
        " message = excluded.message",
    [ST_ALERT_OPEN] = "SELECT " ALERT_COLS " FROM alerts WHERE status = ?1 ORDER BY last_ms",
    [ST_OUTBOX_INSERT] =
        "INSERT INTO outbox (id, alert_id, trigger_id, channel, method, url, headers, body,"
        " use_proxy, tls_verify, resolve, status, attempts, max_attempts, created_ms, next_ms,"
        " updated_ms, last_http_status, last_error, rule_id, channel_id, change, ticket, idk,"
        " alertk) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
        " ?17, ?18, ?19, ?20, ?21, ?22, ?23, " OUTBOX_KEY_SQL "(?1), " OUTBOX_KEY_SQL "(?2))",
    /* the idempotency key's row, if any (an INSERT ... SELECT ... WHERE NOT EXISTS on the same
     * table would go through a temporary table) */
    [ST_OUTBOX_EXISTS] = "SELECT 1 FROM outbox WHERE " OUTBOX_BY_ID,
    [ST_CTX_INSERT] = "INSERT INTO notify_ctx (seq, ctx, base, alen) VALUES (?1, ?2, ?3, ?4)",
    [ST_OUTBOX_UPDATE] = OUTBOX_UPDATE " WHERE " OUTBOX_BY_ID,
    /* the same by the row's seq (?10) where the record knows it: no descent of the id index */
    [ST_OUTBOX_UPDATE_SEQ] = OUTBOX_UPDATE " WHERE seq = ?10 AND id = ?1",
    /* by seq: the notifier keeps the order of each alert's notifications through a channel */
    /* status = 0 (NOTIFY_PENDING) written out, so that SQLite uses the partial index */
    [ST_OUTBOX_PENDING] = "SELECT " OUTBOX_COLS " FROM outbox WHERE status = 0 ORDER BY seq",
    [ST_OUTBOX_GET] = "SELECT " OUTBOX_COLS " FROM outbox WHERE " OUTBOX_BY_ID,
    /* the outbox row's seq (?8), or without one the seq of the notification id (?1) */
    [ST_ATTEMPT_INSERT] =
        "INSERT INTO notify_attempt (outbox_seq, n, at_ms, duration_ms, http_status, error,"
        " response) VALUES (coalesce(?8, (SELECT seq FROM outbox WHERE " OUTBOX_BY_ID ")), ?2,"
        " ?3, ?4, ?5, ?6, ?7)",
    /* housekeeping's bound (purge_bound): the outbox's first and last seq, and the first row
     * at or after a seq, each one descent of the table's B-tree */
    [ST_OUTBOX_SEQ_RANGE] = "SELECT (SELECT min(seq) FROM outbox), (SELECT max(seq) FROM outbox)",
    [ST_OUTBOX_SEQ_AT] = "SELECT seq, created_ms FROM outbox WHERE seq >= ?1 ORDER BY seq LIMIT 1",
    /* housekeeping: the oldest finished notifications past the keep time, a bounded batch;
     * attempts and contexts first, while their outbox rows still say which they are */
    [ST_OUTBOX_PURGE_ATTEMPTS] = "DELETE FROM notify_attempt WHERE outbox_seq IN " PURGED_SEQS,
    /* contexts kept only as the base of others (their outbox rows are gone) once the last of
     * those goes; then the purged rows' own contexts but those still a base of a row kept */
    [ST_OUTBOX_PURGE_BASES] =
        "DELETE FROM notify_ctx WHERE seq IN (SELECT c.base FROM notify_ctx c WHERE c.seq IN"
        " " PURGED_SEQS " AND c.base IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM outbox o"
        " WHERE o.seq = notify_ctx.seq) AND NOT EXISTS (SELECT 1 FROM notify_ctx r"
        " WHERE r.base = notify_ctx.seq AND r.seq NOT IN " PURGED_SEQS ")",
    [ST_OUTBOX_PURGE_CTX] =
        "DELETE FROM notify_ctx WHERE seq IN " PURGED_SEQS " AND NOT EXISTS (SELECT 1"
        " FROM notify_ctx r WHERE r.base = notify_ctx.seq AND r.seq NOT IN " PURGED_SEQS ")",
    [ST_OUTBOX_PURGE] = "DELETE FROM outbox WHERE seq IN " PURGED_SEQS,
    [ST_ATTEMPT_LIST] =
        "SELECT n, at_ms, duration_ms, http_status, error, response FROM notify_attempt"
        " WHERE outbox_seq = (SELECT seq FROM outbox WHERE " OUTBOX_BY_ID ") ORDER BY n",
    [ST_ACH_PUT] =
        "INSERT INTO alert (rid, id, resource, event, environment, severity, sevcode, status,"
        " service, grp, value, text, tags, attributes, origin, type, customer, correlate,"
        " timeout, create_time, receive_time, last_receive_time, last_receive_id, update_time,"
        " duplicate_count, repeat, previous_severity, trend, fingerprint, labels, annotations,"
        " source, generator_url, starts_at, ends_at, raw_data, state) VALUES (?1, ?2, ?3, ?4,"
        " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22,"
        " ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37)"
        " ON CONFLICT(rid) DO UPDATE SET resource = excluded.resource,"
        " event = excluded.event, environment = excluded.environment,"
        " severity = excluded.severity, sevcode = excluded.sevcode, status = excluded.status,"
        " service = excluded.service, grp = excluded.grp, value = excluded.value,"
        " text = excluded.text, tags = excluded.tags, attributes = excluded.attributes,"
        " origin = excluded.origin, type = excluded.type, customer = excluded.customer,"
        " correlate = excluded.correlate, timeout = excluded.timeout,"
        " create_time = excluded.create_time, receive_time = excluded.receive_time,"
        " last_receive_time = excluded.last_receive_time,"
        " last_receive_id = excluded.last_receive_id, update_time = excluded.update_time,"
        " duplicate_count = excluded.duplicate_count, repeat = excluded.repeat,"
        " previous_severity = excluded.previous_severity, trend = excluded.trend,"
        " fingerprint = excluded.fingerprint, labels = excluded.labels,"
        " annotations = excluded.annotations, source = excluded.source,"
        " generator_url = excluded.generator_url, starts_at = excluded.starts_at,"
        " ends_at = excluded.ends_at,"
        " raw_data = CASE WHEN ?38 THEN excluded.raw_data ELSE alert.raw_data END,"
        " state = excluded.state",
    [ST_ACH_DEL] = "DELETE FROM alert WHERE rid = ?1",
    [ST_ACH_DEL_HIST] = "DELETE FROM alert_history WHERE rid = ?1",
    [ST_ACH_DEL_NOTES] = "DELETE FROM alert_note WHERE rid = ?1",
    [ST_HIST_INSERT] =
        "INSERT OR REPLACE INTO alert_history (" ALERT_HISTORY_NAMES ") VALUES (?1, ?2, ?3, ?4,"
        " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_HIST_TRIM] = "DELETE FROM alert_history WHERE rid = ?1 AND seq < ?2",
    [ST_NOTE_INSERT] = ("INSERT INTO alert_note (id, rid, text, user, create_time, update_time)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?5)"),
    [ST_ACH_LOAD] = "SELECT state FROM alert ORDER BY rid",
    [ST_ACH_LOAD_DESC] = "SELECT state FROM alert ORDER BY rid DESC",
    [ST_OBJ_PUT] = "INSERT OR REPLACE INTO object (kind, id, json) VALUES (?1, ?2, ?3)",
    [ST_OBJ_DEL] = "DELETE FROM object WHERE kind = ?1 AND id = ?2",
    [ST_OBJ_LOAD] = "SELECT id, json FROM object WHERE kind = ?1 ORDER BY id",
};

/* Filtered listings: a query per combination of filters (so each can use its index), built and
 * prepared on first use. Index = kind * DYN_MASKS + mask of the filters present. */
enum dyn_kind { DYN_NOTIFY_COUNT, DYN_NOTIFY_LIST, DYN_KINDS };
#define DYN_FILTERS 5
#define DYN_MASKS (1 << DYN_FILTERS)

struct dyn_spec {
    const char *head;
    const char *tail;
    const char *conds[DYN_FILTERS];
};

/* The notification list's filters, in qargs mask order (sq_notify_query_json): its count and its
 * page take the same. */
#define NOTIFY_FILTERS                                                                             \
    {                                                                                              \
        "status = :status", "alertk = " OUTBOX_KEY_SQL "(:alert) AND alert_id = :alert",           \
            "trigger_id = :trigger", "rule_id = :rule", "channel_id = :channel"                    \
    }

static const struct dyn_spec dyn_specs[DYN_KINDS] = {
    [DYN_NOTIFY_COUNT] = {"SELECT count(*) FROM outbox", "", NOTIFY_FILTERS},
    [DYN_NOTIFY_LIST] = {"SELECT " OUTBOX_COLS_CTX("NULL") " FROM outbox",
                         " ORDER BY seq DESC LIMIT :limit OFFSET :offset", NOTIFY_FILTERS},
};

struct sqlite_store {
    struct store base; /* first: a struct store * points here */
    sqlite3 *db;
    int wal_frames;    /* frames in the WAL after the last commit (writer, manual checkpoints) */
    int page_size;     /* bytes (the writer's, read once the file exists) */
    bool readonly;
    enum durability dur;
    /* checkpoints on this connection (the maintenance thread's, sq_checkpoint): a descriptor of
     * the database file of its own to fdatasync (-1: not open yet, -2: cannot be), and the WAL
     * frames copied as of its last checkpoint */
    int db_fd;
    int ckpt_copied;
    sqlite3_stmt *st[ST_COUNT];
    sqlite3_stmt *dyn[DYN_KINDS * DYN_MASKS];
    struct sevmap sev; /* severity names of alerts (Alerta's default until set) */
    /* the writer's scratch for the JSON texts of an alert's list and map fields, kept across
     * rows (reset, not freed) so writing a row allocates nothing for them */
    struct buf ftext[AF_COUNT];
    /* the writer's last context written whole in this transaction (ctx_insert): its seq (0:
     * none) and its alert's JSON */
    int64_t ctx_base;
    struct buf ctx_alert;
};

/* The bound values of a filtered listing. */
struct qargs {
    int status, severity;
    const char *alert_id, *trigger_id, *rule_id, *channel_id;
    int64_t limit, offset;
};

typedef json_t *(*row_json_fn)(sqlite3_stmt *st);

static struct sqlite_store *S(struct store *s)
{
    return (struct sqlite_store *)s;
}

/* ---- errors, statements, binding ---- */

/* Logs the connection's last error and maps the SQLite code to a tocsin error. */
static int db_err(struct sqlite_store *s, const char *op, int code)
{
    char q[512];
    int ext = sqlite3_extended_errcode(s->db);

    log_error("store_error", "op=%s code=%d msg=%s", op, ext,
              log_quote(q, sizeof(q), sqlite3_errmsg(s->db)));
    if ((code & 0xff) == SQLITE_NOMEM)
        return TOCSIN_ENOMEM;
    if ((code & 0xff) == SQLITE_CONSTRAINT)
        return (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
                   ? TOCSIN_EEXIST
                   : TOCSIN_EINVAL;
    return TOCSIN_ESTORE;
}

static int prep(struct sqlite_store *s, sqlite3_stmt **slot, const char *sql, sqlite3_stmt **out)
{
    int rc;

    if (!*slot) {
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (rc != SQLITE_OK) {
            *slot = NULL;
            return db_err(s, "prepare", rc);
        }
    }
    *out = *slot;
    return TOCSIN_OK;
}

static int stmt(struct sqlite_store *s, enum stmt_id id, sqlite3_stmt **out)
{
    return prep(s, &s->st[id], stmt_sql[id], out);
}

/* Makes a cached statement ready for its next use. */
static void done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static int bind_i64(sqlite3_stmt *st, int i, int64_t v)
{
    return sqlite3_bind_int64(st, i, v);
}

static int64_t u64_to_i64(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* ---- the outbox's keys ---- */

/* The key of an outbox text (migration 9): its 64-bit FNV-1a hash, as a signed integer. Keys are
 * stored (columns idk and alertk), so this must never change. */
int64_t store_outbox_key(const void *p, size_t n)
{
    uint64_t h = fnv1a(FNV1A_BASIS, p, n);
    int64_t k;

    memcpy(&k, &h, sizeof(k)); /* every bit: the key space is all of int64 */
    return k;
}

/* tocsin_key(text): store_outbox_key of it, NULL for NULL. Deterministic, so SQLite computes it
 * once per statement for a bound parameter. */
static void sql_outbox_key(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    const unsigned char *t;

    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(cx);
        return;
    }
    t = sqlite3_value_text(argv[0]);
    if (!t) {
        sqlite3_result_error_nomem(cx);
        return;
    }
    sqlite3_result_int64(cx, store_outbox_key(t, (size_t)sqlite3_value_bytes(argv[0])));
}

/* Runs a statement that returns no rows. */
static int run_done(struct sqlite_store *s, sqlite3_stmt *st, const char *op)
{
    int rc = sqlite3_step(st);

    return rc == SQLITE_DONE ? TOCSIN_OK : db_err(s, op, rc);
}

static int run_simple(struct sqlite_store *s, enum stmt_id id, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc = stmt(s, id, &st);

    if (!rc)
        rc = run_done(s, st, op);
    done(st);
    return rc;
}

/* ---- opening ---- */

/* Writes a reason into err (and the log) and returns rc. */
static int set_err(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int set_err(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    char msg[512], q[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    log_error("store_error", "op=open msg=%s", log_quote(q, sizeof(q), msg));
    return rc;
}

/* Runs SQL text with no parameters (schema, pragmas). */
static int exec_sql(struct sqlite_store *s, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        set_err(err, errlen, 0, "%s: %s", sql, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return TOCSIN_ESTORE;
    }
    return TOCSIN_OK;
}

/* Runs a one-row, one-column query and returns its text (or integer) into out. */
static int query_one(struct sqlite_store *s, const char *sql, char *out, size_t outlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, outlen, "%s", t ? (const char *)t : "");
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? TOCSIN_OK : TOCSIN_ESTORE;
}

/* The non-negative integer a one-value query answers (a PRAGMA). */
static int query_int(struct sqlite_store *s, const char *sql, int *v)
{
    char t[32];
    char *end;
    long n;

    if (query_one(s, sql, t, sizeof(t)))
        return TOCSIN_ESTORE;
    errno = 0;
    n = strtol(t, &end, 10);
    if (errno || end == t || *end || n < 0 || n > INT_MAX)
        return TOCSIN_ESTORE;
    *v = (int)n;
    return TOCSIN_OK;
}

static int user_version(struct sqlite_store *s, int *v)
{
    return query_int(s, "PRAGMA user_version", v);
}

/* Applies every migration past the stored user_version, in one transaction. */
static int migrate(struct sqlite_store *s, char *err, size_t errlen)
{
    char sql[64];
    int rc, v = 0;

    rc = exec_sql(s, "BEGIN IMMEDIATE", err, errlen);
    if (rc)
        return rc;
    rc = user_version(s, &v);
    if (rc) {
        set_err(err, errlen, 0, "%s: %s", "reading user_version", sqlite3_errmsg(s->db));
        goto out;
    }
    if (v > SCHEMA_VERSION) {
        rc = set_err(err, errlen, TOCSIN_ESTORE,
                     "database schema version %d is newer than this tocsin's %d", v,
                     SCHEMA_VERSION);
        goto out;
    }
    if (v > 0 && v < SCHEMA_VERSION) /* some rebuild tables: 20 s at a million alerts */
        log_info("store_migrating", "from=%d to=%d", v, SCHEMA_VERSION);
    for (int i = v; i < SCHEMA_VERSION && !rc; i++)
        rc = exec_sql(s, migrations[i], err, errlen);
    if (!rc && v < SCHEMA_VERSION) {
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
        rc = exec_sql(s, sql, err, errlen);
    }
    if (!rc)
        rc = exec_sql(s, "COMMIT", err, errlen);
    if (!rc && v < SCHEMA_VERSION)
        log_info("store_migrated", "from=%d to=%d", v, SCHEMA_VERSION);
out:
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int setup_writer(struct sqlite_store *s, enum durability d, char *err, size_t errlen)
{
    static const char *const sync_sql[] = {
        [DURABILITY_SYNC] = "PRAGMA synchronous = FULL",
        [DURABILITY_BATCH] = "PRAGMA synchronous = NORMAL",
        [DURABILITY_NONE] = "PRAGMA synchronous = OFF",
    };
    char mode[16];
    int rc;

    if ((unsigned)d > DURABILITY_NONE)
        return set_err(err, errlen, TOCSIN_EINVAL, "bad durability mode %d", (int)d);
    /* 1 KiB pages (only takes effect when the file is created). 4 KiB pages made batches of
     * 1,000 alerts 33% faster on a fresh store (9% with 1M stored) but single-alert commits 3x
     * slower at p99 (10 -> 50-120 ms): each small commit writes as many pages, each 4x larger,
     * and the WAL reaches its checkpoint (an fdatasync) 3x as often. Latency wins here: an
     * alert change must reach a webhook within a few ms (docs/performance.md). */
    if (exec_sql(s, "PRAGMA page_size = 1024", err, errlen))
        return TOCSIN_ESTORE;
    if (query_one(s, "PRAGMA journal_mode = WAL", mode, sizeof(mode)) || strcmp(mode, "wal"))
        return set_err(err, errlen, TOCSIN_ESTORE, "cannot switch to WAL mode: %s",
                       sqlite3_errmsg(s->db));
    if (query_int(s, "PRAGMA page_size", &s->page_size) || s->page_size <= 0)
        return set_err(err, errlen, TOCSIN_ESTORE, "reading page_size: %s",
                       sqlite3_errmsg(s->db));
    rc = exec_sql(s, sync_sql[d], err, errlen);
    if (!rc)
        rc = exec_sql(s, "PRAGMA foreign_keys = ON", err, errlen);
    /* The writer's page cache is WRITER_CACHE (32 MiB). It was SQLite's default 2 MiB while
     * nearly every commit walked the whole cache's hash table (pcache1TruncateUnsafe, 100 vs
     * 165 us per small commit with 64 MiB); store/pcache.c ended that walk, and then 32 MiB
     * made batches of 1,000 alerts after 300,000 stored 1.21-1.31x faster and took nothing
     * from single POSTs (bench/ab.sh, docs/performance.md). */
    /* A transaction may hold up to WRITER_SPILL_PAGES dirty pages (64 MiB) before SQLite
     * spills some to the WAL ahead of its commit. A spill costs far more than the memory: the
     * commit then overwrites the frames it spilled and rereads and rewrites the checksum of
     * every frame after the first one (measured with batches of 1,000 alerts: 225,000 24-byte
     * writes and as many frame reads per 93,000 alerts; with the WAL appends coalesced too,
     * batch ingest 1.14-1.20x, docs/performance.md). The pages above the cache size are freed
     * once the commit is done. */
    if (!rc)
        rc = exec_sql(s, "PRAGMA cache_size = " WRITER_CACHE, err, errlen);
    if (!rc)
        rc = exec_sql(s, "PRAGMA cache_spill = " WRITER_SPILL_PAGES, err, errlen);
    if (!rc)
        rc = migrate(s, err, errlen);
    return rc;
}

static int setup_reader(struct sqlite_store *s, char *err, size_t errlen)
{
    int rc, v = 0;

    rc = exec_sql(s, "PRAGMA foreign_keys = ON; PRAGMA query_only = ON; PRAGMA cache_size = -16384",
                  err, errlen);
    if (rc)
        return rc;
    if (user_version(s, &v))
        return set_err(err, errlen, TOCSIN_ESTORE, "reading user_version: %s",
                       sqlite3_errmsg(s->db));
    if (v != SCHEMA_VERSION)
        return set_err(err, errlen, TOCSIN_ESTORE,
                       "schema version %d, expected %d (open the writer first)", v,
                       SCHEMA_VERSION);
    return TOCSIN_OK;
}

/* The writer creates the data directory and an empty database file with private modes (SQLite
 * gives the -wal and -shm files the mode of the database file). */
static int make_files(const char *dir, const char *path, char *err, size_t errlen)
{
    int fd;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return set_err(err, errlen, TOCSIN_EIO, "mkdir %s: %s", dir, strerror(errno));
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return set_err(err, errlen, TOCSIN_EIO, "open %s: %s", path, strerror(errno));
    close(fd);
    return TOCSIN_OK;
}

static void sq_close(struct store *base)
{
    struct sqlite_store *s = S(base);

    if (!s)
        return;
    for (size_t i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    for (size_t i = 0; i < DYN_KINDS * DYN_MASKS; i++)
        sqlite3_finalize(s->dyn[i]);
    if (s->db && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(s->db);
    if (s->db_fd >= 0)
        close(s->db_fd);
    for (int f = 0; f < AF_COUNT; f++)
        buf_free(&s->ftext[f]);
    buf_free(&s->ctx_alert);
    free(s);
}

/* SQLite's own busy handler sleeps 1, 2, 5, 10 ms...: a commit that meets the background
 * checkpoint for a few microseconds would wait milliseconds. Wait in 20 µs steps first, then
 * 1 ms steps, BUSY_TIMEOUT_MS in all. */
static int on_busy(void *ud, int count)
{
    struct timespec ts = {0, count < 200 ? 20000 : 1000000};

    (void)ud;
    if (count >= 200 + BUSY_TIMEOUT_MS)
        return 0;
    nanosleep(&ts, NULL);
    return 1;
}

/* The writer's RESTART checkpoint waits for readers in 20 µs steps, RESTART_WAIT_MS at most: a
 * long read (a filtered list of a million alerts) is not waited for; the next one tries again. */
#define RESTART_WAIT_MS 20
static int on_busy_restart(void *ud, int count)
{
    struct timespec ts = {0, 20000};

    (void)ud;
    if (count >= RESTART_WAIT_MS * 50)
        return 0;
    nanosleep(&ts, NULL);
    return 1;
}

static int sq_open(const char *dir, enum durability d, bool readonly, struct store **out,
                   char *err, size_t errlen)
{
    struct sqlite_store *s = NULL;
    char path[PATH_MAX];
    int n, flags, rc;

    *out = NULL;
    if (!dir || !*dir)
        return set_err(err, errlen, TOCSIN_EINVAL, "empty data directory");
    n = snprintf(path, sizeof(path), "%s/%s", dir, DB_FILE);
    if (n < 0 || (size_t)n >= sizeof(path))
        return set_err(err, errlen, TOCSIN_ETOOBIG, "data directory path too long");
    if (!readonly && (rc = make_files(dir, path, err, errlen)))
        return rc;
    s = calloc(1, sizeof(*s));
    if (!s)
        return set_err(err, errlen, TOCSIN_ENOMEM, "out of memory");
    s->base.ops = &store_sqlite_ops;
    s->readonly = readonly;
    s->dur = d;
    s->db_fd = -1;
    sevmap_default(&s->sev);
    for (int f = 0; f < AF_COUNT; f++)
        buf_init(&s->ftext[f], ALERT_BLOB_MAX);
    buf_init(&s->ctx_alert, CTX_ALERT_MAX);
    flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (readonly ? 0 : SQLITE_OPEN_CREATE);
    /* before anything initialises SQLite (store/pcache.h); when something did, the default
     * page cache stays, which is only slower */
    (void)pcache_install();
    /* The writer's WAL appends are coalesced (store/walbuf.h); the other connections never
     * write their WAL, so they hold no buffer, but the one that checkpoints writes the
     * database file through it (walbuf_yield_every). */
    if (walbuf_register() != SQLITE_OK) {
        rc = set_err(err, errlen, TOCSIN_ESTORE, "cannot register the %s VFS", WALBUF_VFS);
        goto out;
    }
    if (sqlite3_open_v2(path, &s->db, flags, WALBUF_VFS) != SQLITE_OK) {
        rc = set_err(err, errlen, TOCSIN_ESTORE, "%s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_handler(s->db, on_busy, NULL);
    if (sqlite3_create_function(s->db, OUTBOX_KEY_SQL, 1,
                                SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                sql_outbox_key, NULL, NULL) != SQLITE_OK) {
        rc = set_err(err, errlen, TOCSIN_ESTORE, "%s: cannot register %s", path, OUTBOX_KEY_SQL);
        goto out;
    }
    rc = readonly ? setup_reader(s, err, errlen) : setup_writer(s, d, err, errlen);
    if (!rc && aread_init_db(s->db) != TOCSIN_OK)
        rc = set_err(err, errlen, TOCSIN_ESTORE, "%s: cannot register query functions", path);
out:
    if (rc)
        sq_close(&s->base);
    else
        *out = &s->base;
    return rc;
}

/* ---- writer ---- */

static int sq_begin(struct store *base)
{
    S(base)->ctx_base = 0;
    return run_simple(S(base), ST_BEGIN, "begin");
}

static int sq_commit(struct store *base)
{
    return run_simple(S(base), ST_COMMIT, "commit");
}

static int sq_rollback(struct store *base)
{
    S(base)->ctx_base = 0;
    return run_simple(S(base), ST_ROLLBACK, "rollback");
}

static int sq_trigger_put(struct store *base, const char *id, const char *json, bool enabled,
                          int64_t created_ms, int64_t updated_ms)
{
    struct sqlite_store *s = S(base);
    sqlite3_stmt *st = NULL;
    int rc;

    if (!id || !json)
        return TOCSIN_EINVAL;
    rc = stmt(s, ST_TRIGGER_PUT, &st);
    if (rc)
        return rc;
    if (bind_text(st, 1, id) | bind_text(st, 2, json) | sqlite3_bind_int(st, 3, enabled) |
        bind_i64(st, 4, created_ms) | bind_i64(st, 5, updated_ms))
        rc = db_err(s, "trigger_put", SQLITE_ERROR);
    else
        rc = run_done(s, st, "trigger_put");
    done(st);
    return rc;
}

static int sq_trigger_delete(struct store *base, const char *id)
{
    struct sqlite_store *s = S(base);
    sqlite3_stmt *st = NULL;
    int rc;

    if (!id)
        return TOCSIN_EINVAL;
    rc = stmt(s, ST_TRIGGER_DELETE, &st);
    if (rc)
        return rc;
    if (bind_text(st, 1, id))
        rc = db_err(s, "trigger_delete", SQLITE_ERROR);
    else
        rc = run_done(s, st, "trigger_delete");
    if (!rc && sqlite3_changes(s->db) == 0)
        rc = TOCSIN_ENOTFOUND;
    done(st);
    return rc;
}

static int sq_alert_upsert(struct store *base, const struct alert_rec *a)
{
    struct sqlite_store *s = S(base);
    sqlite3_stmt *st = NULL;
    int rc, b;

    if (!a || !a->id[0] || !a->fingerprint)
        return TOCSIN_EINVAL;
    rc = stmt(s, ST_ALERT_UPSERT, &st);
    if (rc)
        return rc;
    b = bind_text(st, 1, a->id) | bind_text(st, 2, a->fingerprint) |
        bind_text(st, 3, a->trigger_id) | bind_text(st, 4, a->name) |
        bind_text(st, 5, a->source) | bind_text(st, 6, a->description) |
        sqlite3_bind_int(st, 7, (int)a->severity) | sqlite3_bind_int(st, 8, (int)a->status) |
        bind_i64(st, 9, u64_to_i64(a->count)) | bind_i64(st, 10, a->first_ms) |
        bind_i64(st, 11, a->last_ms) | bind_i64(st, 12, a->updated_ms) |
        bind_i64(st, 13, a->resolved_ms) | bind_text(st, 14, a->projection_json) |
        bind_text(st, 15, a->properties_json) | bind_text(st, 16, a->message);
    rc = b ? db_err(s, "alert_upsert", SQLITE_ERROR) : run_done(s, st, "alert_upsert");
    done(st);
    return rc;
}

/* Binds an outbox row's columns but its context. */
static int bind_outbox(sqlite3_stmt *st, const struct notify_rec *n)
{
    return bind_text(st, 1, n->id) | bind_text(st, 2, n->alert_id[0] ? n->alert_id : NULL) |
           bind_text(st, 3, n->trigger_id) | bind_text(st, 4, n->channel) |
           bind_text(st, 5, n->method) | bind_text(st, 6, n->url) |
           bind_text(st, 7, n->headers_json) | bind_text(st, 8, n->body) |
           sqlite3_bind_int(st, 9, n->use_proxy) | sqlite3_bind_int(st, 10, n->tls_verify) |
           sqlite3_bind_int(st, 11, n->resolve) | sqlite3_bind_int(st, 12, (int)n->status) |
           bind_i64(st, 13, n->attempts) | bind_i64(st, 14, n->max_attempts) |
           bind_i64(st, 15, n->created_ms) | bind_i64(st, 16, n->next_ms) |
           bind_i64(st, 17, n->updated_ms) |
           (n->last_http_status ? sqlite3_bind_int(st, 18, n->last_http_status)
                                : sqlite3_bind_null(st, 18)) |
           bind_text(st, 19, n->last_error) | bind_text(st, 20, n->rule_id) |
           bind_text(st, 21, n->channel_id) | bind_text(st, 22, n->change) |
           bind_text(st, 23, n->ticket);
}

#define CTX_ALERT "{\"alert\":"
#define CTX_ALERT_LEN (sizeof(CTX_ALERT) - 1)

/* The alert JSON at the start of a context of alen bytes (notify_rec.ctx_alen), if the context
 * has the shape that says: {"alert": then that JSON then a comma. */
static bool ctx_alert(const char *ctx, size_t alen, size_t *len)
{
    *len = strlen(ctx);
    return alen && *len > CTX_ALERT_LEN + alen && !memcmp(ctx, CTX_ALERT, CTX_ALERT_LEN) &&
           ctx[CTX_ALERT_LEN + alen] == ',';
}

/* The context of the outbox row seq, in its own table: written once, never updated. Inside a
 * transaction, a context whose alert JSON is the one of the last context written whole in it
 * keeps only what follows that JSON and names that row as its base (migration 7): the rules
 * that fire on one change share one copy. Only within one transaction, so that a base is never
 * a row a rollback took back. */
static int ctx_insert(struct sqlite_store *s, int64_t seq, const char *ctx, size_t alen)
{
    sqlite3_stmt *st = NULL;
    size_t len;
    bool shape = ctx_alert(ctx, alen, &len), shared = false;
    int rc = stmt(s, ST_CTX_INSERT, &st), b;

    if (rc)
        return rc;
    if (!shape || sqlite3_get_autocommit(s->db))
        s->ctx_base = 0;
    else if (s->ctx_base && s->ctx_alert.len == alen &&
             !memcmp(s->ctx_alert.p, ctx + CTX_ALERT_LEN, alen))
        shared = true;
    b = bind_i64(st, 1, seq);
    if (shared) /* what follows the alert's JSON, on the base */
        b |= bind_text(st, 2, ctx + CTX_ALERT_LEN + alen) | bind_i64(st, 3, s->ctx_base) |
             bind_i64(st, 4, (int64_t)alen);
    else
        b |= sqlite3_bind_text(st, 2, ctx, (int)len, SQLITE_STATIC) | sqlite3_bind_null(st, 3) |
             sqlite3_bind_null(st, 4);
    if (b)
        rc = db_err(s, "outbox_insert", SQLITE_ERROR);
    else
        rc = run_done(s, st, "outbox_insert");
    done(st);
    if (!rc && shape && !shared && !sqlite3_get_autocommit(s->db)) {
        s->ctx_alert.len = 0; /* this row is the base of the next ones with the same alert */
        s->ctx_base = buf_append(&s->ctx_alert, ctx + CTX_ALERT_LEN, alen) ? 0 : seq;
    }
    return rc;
}

static int sq_outbox_insert(struct store *base, struct notify_rec *n)
{
    struct sqlite_store *s = S(base);
    sqlite3_stmt *st = NULL;
    int64_t seq = 0;
    int rc;

    if (!n || !n->id[0])
        return TOCSIN_EINVAL;
    rc = stmt(s, ST_OUTBOX_EXISTS, &st);
    if (rc)
        return rc;
    if (bind_text(st, 1, n->id)) {
        rc = db_err(s, "outbox_insert", SQLITE_ERROR);
    } else {
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW)
            rc = TOCSIN_EEXIST; /* this idempotency key is already in the outbox */
        else if (src != SQLITE_DONE)
            rc = db_err(s, "outbox_insert", src);
    }
    done(st);
    if (rc)
        return rc;
    rc = stmt(s, ST_OUTBOX_INSERT, &st);
    if (rc)
        return rc;
    rc = bind_outbox(st, n) ? db_err(s, "outbox_insert", SQLITE_ERROR)
                            : run_done(s, st, "outbox_insert");
    if (!rc)
        seq = sqlite3_last_insert_rowid(s->db);
    done(st);
    if (!rc && n->ctx)
        rc = ctx_insert(s, seq, n->ctx, n->ctx_alen);
    if (!rc)
        n->seq = seq;
    return rc;
}

static int sq_outbox_update(struct store *base, const struct notify_rec *n)
{
    struct sqlite_store *s = S(base);
    sqlite3_stmt *st = NULL;
    int rc, b;

    if (!n || !n->id[0])
        return TOCSIN_EINVAL;
    rc = stmt(s, n->seq > 0 ? ST_OUTBOX_UPDATE_SEQ : ST_OUTBOX_UPDATE, &st);
    if (rc)
        return rc;
    b = (n->seq > 0 ? bind_i64(st, 10, n->seq) : SQLITE_OK) | bind_text(st, 1, n->id) |
        sqlite3_bind_int(st, 2, (int)n->status) | bind_i64(st, 3, n->attempts) |
        bind_i64(st, 4, n->next_ms) | bind_i64(st, 5, n->updated_ms) |
        (n->last_http_status ? sqlite3_bind_int(st, 6, n->last_http_status)
                             : sqlite3_bind_null(st, 6)) |
        bind_text(st, 7, n->last_error) | bind_i64(st, 8, n->max_attempts) |
        bind_text(st, 9, n->ticket);
    rc = b ? db_err(s, "outbox_update", SQLITE_ERROR) : run_done(s, st, "outbox_update");
    if (!rc && sqlite3_changes(s->db) == 0)
        rc = TOCSIN_ENOTFOUND;
    done(st);
    return rc;
}

/* ---- rows to records ---- */

/* Copies column i (NULL stays NULL) into *out. */
static int col_dup(sqlite3_stmt *st, int i, char **out)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    *out = NULL;
    if (!t)
        return TOCSIN_OK;
    *out = strdup((const char *)t);
    return *out ? TOCSIN_OK : TOCSIN_ENOMEM;
}

static void col_id(sqlite3_stmt *st, int i, char dst[TOCSIN_ID_LEN + 1])
{
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t n = t ? strnlen((const char *)t, TOCSIN_ID_LEN) : 0;

    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

static int alert_from_row(sqlite3_stmt *st, struct alert_rec **out)
{
    struct alert_rec *a = calloc(1, sizeof(*a));
    int rc;

    *out = NULL;
    if (!a)
        return TOCSIN_ENOMEM;
    col_id(st, 0, a->id);
    rc = col_dup(st, 1, &a->fingerprint) | col_dup(st, 2, &a->trigger_id) |
         col_dup(st, 3, &a->name) | col_dup(st, 4, &a->source) |
         col_dup(st, 5, &a->description) | col_dup(st, 13, &a->projection_json) |
         col_dup(st, 14, &a->properties_json) | col_dup(st, 15, &a->message);
    a->severity = (enum severity)sqlite3_column_int(st, 6);
    a->status = (enum alert_status)sqlite3_column_int(st, 7);
    a->count = (uint64_t)sqlite3_column_int64(st, 8);
    a->first_ms = sqlite3_column_int64(st, 9);
    a->last_ms = sqlite3_column_int64(st, 10);
    a->updated_ms = sqlite3_column_int64(st, 11);
    a->resolved_ms = sqlite3_column_int64(st, 12);
    if (rc) {
        alert_rec_free(a);
        return TOCSIN_ENOMEM;
    }
    *out = a;
    return TOCSIN_OK;
}

static int notify_from_row(sqlite3_stmt *st, struct notify_rec **out)
{
    struct notify_rec *n = calloc(1, sizeof(*n));
    int rc;

    *out = NULL;
    if (!n)
        return TOCSIN_ENOMEM;
    n->seq = sqlite3_column_int64(st, 0);
    col_id(st, 1, n->id);
    col_id(st, 2, n->alert_id);
    rc = col_dup(st, 3, &n->trigger_id) | col_dup(st, 4, &n->channel) |
         col_dup(st, 5, &n->method) | col_dup(st, 6, &n->url) |
         col_dup(st, 7, &n->headers_json) | col_dup(st, 8, &n->body) |
         col_dup(st, 19, &n->last_error) | col_dup(st, 20, &n->rule_id) |
         col_dup(st, 21, &n->channel_id) | col_dup(st, 22, &n->change) |
         col_dup(st, 23, &n->ctx) | col_dup(st, 24, &n->ticket);
    n->use_proxy = sqlite3_column_int(st, 9) != 0;
    n->tls_verify = sqlite3_column_int(st, 10) != 0;
    n->resolve = sqlite3_column_int(st, 11) != 0;
    n->status = (enum notify_status)sqlite3_column_int(st, 12);
    n->attempts = (uint32_t)sqlite3_column_int64(st, 13);
    n->max_attempts = (uint32_t)sqlite3_column_int64(st, 14);
    n->created_ms = sqlite3_column_int64(st, 15);
    n->next_ms = sqlite3_column_int64(st, 16);
    n->updated_ms = sqlite3_column_int64(st, 17);
    n->last_http_status = sqlite3_column_int(st, 18);
    if (rc) {
        notify_rec_free(n);
        return TOCSIN_ENOMEM;
    }
    *out = n;
    return TOCSIN_OK;
}

/* ---- start-up loading ---- */

static int sq_trigger_load_all(struct store *base, store_trigger_cb cb, void *ud)
{
    struct sqlite_store *s = S(base);
    sqlite3_stmt *st = NULL;
    int rc, src = SQLITE_DONE;

    rc = stmt(s, ST_TRIGGER_ALL, &st);
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW)
        rc = cb(ud, (const char *)sqlite3_column_text(st, 0),
                (const char *)sqlite3_column_text(st, 1));
    if (!rc && src != SQLITE_DONE)
        rc = db_err(s, "trigger_load_all", src);
    done(st);
    return rc;
}

static int sq_alert_load_open(struct store *base, store_alert_cb cb, void *ud)
{
    struct sqlite_store *s = S(base);
    sqlite3_stmt *st = NULL;
    struct alert_rec *a;
    int rc, src = SQLITE_DONE;

    rc = stmt(s, ST_ALERT_OPEN, &st);
    if (!rc && sqlite3_bind_int(st, 1, ALERT_OPEN))
        rc = db_err(s, "alert_load_open", SQLITE_ERROR);
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        rc = alert_from_row(st, &a);
        if (!rc)
            rc = cb(ud, a);
    }
    if (!rc && src != SQLITE_DONE)
        rc = db_err(s, "alert_load_open", src);
    done(st);
    return rc;
}

static int sq_outbox_load_pending(struct store *base, store_notify_cb cb, void *ud)
{
    struct sqlite_store *s = S(base);
    sqlite3_stmt *st = NULL;
    struct notify_rec *n;
    int rc, src = SQLITE_DONE;

    _Static_assert(NOTIFY_PENDING == 0, "ST_OUTBOX_PENDING and outbox_pending say status = 0");
    rc = stmt(s, ST_OUTBOX_PENDING, &st);
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        rc = notify_from_row(st, &n);
        if (!rc)
            rc = cb(ud, n);
    }
    if (!rc && src != SQLITE_DONE)
        rc = db_err(s, "outbox_load_pending", src);
    done(st);
    return rc;
}

/* ---- JSON ---- */

/* Sets o[k] = v, taking v; a NULL v (allocation failed) is an error. */
static int put(json_t *o, const char *k, json_t *v)
{
    if (!v)
        return TOCSIN_ENOMEM;
    return json_object_set_new_nocheck(o, k, v) ? TOCSIN_ENOMEM : TOCSIN_OK;
}

/* Text column as a JSON string; SQL NULL (or text that is not UTF-8) as null. */
static json_t *col_jstr(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    json_t *v;

    if (!t)
        return json_null();
    v = json_stringn((const char *)t, (size_t)sqlite3_column_bytes(st, i));
    return v ? v : json_null();
}

/* The names of a headers_json array; never the values. */
static json_t *header_names(const char *headers_json)
{
    json_t *names = json_array(), *arr, *h;
    size_t i;

    if (!names || !headers_json)
        return names;
    arr = json_loads(headers_json, 0, NULL);
    json_array_foreach(arr, i, h) {
        const char *name = json_string_value(json_object_get(h, "name"));
        if (name && json_array_append_new(names, json_string(name))) {
            json_decref(names);
            names = NULL;
            break;
        }
    }
    json_decref(arr);
    return names;
}

/* The URL with any user-info ("user:pass@") shown as "***@". */
static json_t *url_json(const char *url)
{
    const char *auth, *at = NULL;
    struct buf b;
    json_t *v;
    size_t alen;

    if (!url)
        return json_null();
    auth = strstr(url, "://");
    if (!auth)
        return json_string(url);
    auth += 3;
    alen = strcspn(auth, "/?#");
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            at = auth + i;
    if (!at)
        return json_string(url);
    buf_init(&b, strlen(url) + 8);
    if (buf_append(&b, url, (size_t)(auth - url)) || buf_puts(&b, "***") || buf_puts(&b, at)) {
        buf_free(&b);
        return NULL;
    }
    v = json_string(buf_str(&b));
    buf_free(&b);
    return v;
}

/* A text column holding JSON, parsed; SQL NULL or unreadable JSON as null. */
static json_t *col_json(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    json_t *v = t ? json_loadb(t, (size_t)sqlite3_column_bytes(st, i), JSON_DECODE_ANY, NULL)
                  : NULL;

    return v ? v : json_null();
}

static json_t *notify_row_json(sqlite3_stmt *st)
{
    json_t *o = json_object();
    int status = sqlite3_column_int(st, 12);
    int http = sqlite3_column_int(st, 18);
    int rc;

    if (!o)
        return NULL;
    rc = put(o, "id", col_jstr(st, 1));
    rc |= put(o, "alert", col_jstr(st, 2));
    rc |= put(o, "trigger", col_jstr(st, 3));
    rc |= put(o, "channel", col_jstr(st, 4));
    rc |= put(o, "method", col_jstr(st, 5));
    rc |= put(o, "url", url_json((const char *)sqlite3_column_text(st, 6)));
    rc |= put(o, "headers", header_names((const char *)sqlite3_column_text(st, 7)));
    rc |= put(o, "status", json_string(notify_status_name((enum notify_status)status)));
    rc |= put(o, "attempts", json_integer(sqlite3_column_int64(st, 13)));
    rc |= put(o, "maxAttempts", json_integer(sqlite3_column_int64(st, 14)));
    rc |= put(o, "resolve", json_boolean(sqlite3_column_int(st, 11)));
    rc |= put(o, "createdTime", ajson_time(sqlite3_column_int64(st, 15)));
    rc |= put(o, "nextAttemptTime",
              status == NOTIFY_PENDING ? ajson_time(sqlite3_column_int64(st, 16)) : json_null());
    rc |= put(o, "updatedTime", ajson_time(sqlite3_column_int64(st, 17)));
    rc |= put(o, "lastHttpStatus", http ? json_integer(http) : json_null());
    rc |= put(o, "lastError", col_jstr(st, 19));
    rc |= put(o, "rule", col_jstr(st, 20));
    rc |= put(o, "channelId", col_jstr(st, 21));
    rc |= put(o, "change", col_jstr(st, 22));
    rc |= put(o, "ticket", col_json(st, 24));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- reader ---- */

static void page_norm(const struct store_page *p, int64_t *limit, int64_t *offset)
{
    size_t l = p ? p->limit : 0, o = p ? p->offset : 0;

    if (l == 0)
        l = STORE_PAGE_DEFAULT;
    if (l > STORE_PAGE_MAX)
        l = STORE_PAGE_MAX;
    *limit = (int64_t)l;
    *offset = o > (size_t)INT64_MAX ? INT64_MAX : (int64_t)o;
}

/* Count and page read in one snapshot: a read transaction unless one is already open. */
static int read_begin(struct sqlite_store *s, bool *began)
{
    int rc;

    *began = false;
    if (!sqlite3_get_autocommit(s->db))
        return TOCSIN_OK;
    rc = run_simple(s, ST_READ_BEGIN, "read_begin");
    *began = (rc == TOCSIN_OK);
    return rc;
}

static void read_end(struct sqlite_store *s, bool began)
{
    if (began)
        run_simple(s, ST_COMMIT, "read_end");
}

/* Steps a one-row count query. */
static int count_rows(struct sqlite_store *s, sqlite3_stmt *st, int64_t *total)
{
    int rc = sqlite3_step(st);

    if (rc != SQLITE_ROW)
        return db_err(s, "count", rc);
    *total = sqlite3_column_int64(st, 0);
    return TOCSIN_OK;
}

/* Appends fn(row) for every row of st to arr. */
static int collect_rows(struct sqlite_store *s, sqlite3_stmt *st, row_json_fn fn, json_t *arr)
{
    int src;

    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *v = fn(st);
        if (!v)
            return TOCSIN_ESTORE;
        if (json_array_append_new(arr, v))
            return TOCSIN_ENOMEM;
    }
    return src == SQLITE_DONE ? TOCSIN_OK : db_err(s, "list", src);
}

static int dyn_stmt(struct sqlite_store *s, int kind, unsigned mask, sqlite3_stmt **out)
{
    const struct dyn_spec *d = &dyn_specs[kind];
    sqlite3_stmt **slot = &s->dyn[(unsigned)kind * DYN_MASKS + mask];
    struct buf b;
    int rc, nc = 0;

    if (*slot) {
        *out = *slot;
        return TOCSIN_OK;
    }
    buf_init(&b, SQL_MAX);
    rc = buf_puts(&b, d->head);
    for (unsigned i = 0; i < DYN_FILTERS && !rc; i++)
        if (mask & (1u << i))
            rc = buf_printf(&b, "%s%s", nc++ ? " AND " : " WHERE ", d->conds[i]);
    if (!rc)
        rc = buf_puts(&b, d->tail);
    if (!rc)
        rc = prep(s, slot, buf_str(&b), out);
    buf_free(&b);
    return rc;
}

static int bind_args(sqlite3_stmt *st, const struct qargs *q)
{
    int i, rc = SQLITE_OK;

    if ((i = sqlite3_bind_parameter_index(st, ":status")))
        rc |= sqlite3_bind_int(st, i, q->status);
    if ((i = sqlite3_bind_parameter_index(st, ":severity")))
        rc |= sqlite3_bind_int(st, i, q->severity);
    if ((i = sqlite3_bind_parameter_index(st, ":alert")))
        rc |= bind_text(st, i, q->alert_id);
    if ((i = sqlite3_bind_parameter_index(st, ":trigger")))
        rc |= bind_text(st, i, q->trigger_id);
    if ((i = sqlite3_bind_parameter_index(st, ":rule")))
        rc |= bind_text(st, i, q->rule_id);
    if ((i = sqlite3_bind_parameter_index(st, ":channel")))
        rc |= bind_text(st, i, q->channel_id);
    if ((i = sqlite3_bind_parameter_index(st, ":limit")))
        rc |= bind_i64(st, i, q->limit);
    if ((i = sqlite3_bind_parameter_index(st, ":offset")))
        rc |= bind_i64(st, i, q->offset);
    return rc;
}

/* {key:[rows], "total", "limit", "offset"} for one filtered listing. */
static int paged_query(struct sqlite_store *s, int kind, unsigned mask, const struct qargs *q,
                       row_json_fn fn, const char *key, json_t **out)
{
    sqlite3_stmt *cst = NULL, *lst = NULL;
    json_t *res = NULL, *arr = NULL;
    int64_t total = 0;
    bool began = false;
    int rc;

    *out = NULL;
    rc = dyn_stmt(s, kind, mask, &cst);
    if (!rc)
        rc = dyn_stmt(s, kind + 1, mask, &lst);
    if (!rc)
        rc = read_begin(s, &began);
    if (rc)
        goto out;
    if (bind_args(cst, q) || bind_args(lst, q)) {
        rc = db_err(s, "bind", SQLITE_ERROR);
        goto out;
    }
    rc = count_rows(s, cst, &total);
    arr = json_array();
    if (!rc && !arr)
        rc = TOCSIN_ENOMEM;
    if (!rc)
        rc = collect_rows(s, lst, fn, arr);
    if (!rc && !(res = json_object()))
        rc = TOCSIN_ENOMEM;
    if (!rc) {
        rc = put(res, key, json_incref(arr));
        rc |= put(res, "total", json_integer(total));
        rc |= put(res, "limit", json_integer(q->limit));
        rc |= put(res, "offset", json_integer(q->offset));
    }
out:
    done(cst);
    done(lst);
    read_end(s, began);
    json_decref(arr);
    if (rc)
        json_decref(res);
    else
        *out = res;
    return rc;
}

static int get_one(struct sqlite_store *s, enum stmt_id id, const char *key, row_json_fn fn,
                   json_t **out);

/* Adds "deliveryAttempts":[{"attempt","time","durationMs","httpStatus","error","response"}] to each
 * notification of arr, oldest first. */
static int add_attempts(struct sqlite_store *s, json_t *arr)
{
    sqlite3_stmt *st = NULL;
    size_t i;
    json_t *n;
    int rc = stmt(s, ST_ATTEMPT_LIST, &st);

    json_array_foreach(arr, i, n) {
        json_t *list = json_array();
        int src;
        if (rc || !list || bind_text(st, 1, json_string_value(json_object_get(n, "id")))) {
            json_decref(list);
            rc = rc ? rc : TOCSIN_ENOMEM;
            break;
        }
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            json_t *o = json_object();
            int http = sqlite3_column_int(st, 3);
            if (!o || json_array_append_new(list, o)) {
                rc = TOCSIN_ENOMEM;
                break;
            }
            rc |= put(o, "attempt", json_integer(sqlite3_column_int64(st, 0)));
            rc |= put(o, "time", ajson_time(sqlite3_column_int64(st, 1)));
            rc |= put(o, "durationMs", json_integer(sqlite3_column_int64(st, 2)));
            rc |= put(o, "httpStatus", http ? json_integer(http) : json_null());
            rc |= put(o, "error", col_jstr(st, 4));
            rc |= put(o, "response", col_jstr(st, 5));
        }
        if (!rc && src != SQLITE_DONE)
            rc = db_err(s, "attempt_list", src);
        sqlite3_reset(st);
        rc |= put(n, "deliveryAttempts", list);
    }
    done(st);
    return rc;
}

static int sq_notify_query_json(struct store *base, const struct notify_query *nq, json_t **out)
{
    struct qargs q = {.status = -1, .severity = -1};
    unsigned mask = 0;
    int rc;

    *out = NULL;
    if (nq) {
        if (nq->status < -1 || nq->status >= NOTIFY_STATUS_COUNT)
            return TOCSIN_EINVAL;
        q.status = nq->status;
        q.alert_id = nq->alert_id;
        q.trigger_id = nq->trigger_id;
        q.rule_id = nq->rule_id;
        q.channel_id = nq->channel_id;
    }
    mask = (q.status >= 0 ? 1u : 0u) | (q.alert_id ? 2u : 0u) | (q.trigger_id ? 4u : 0u) |
           (q.rule_id ? 8u : 0u) | (q.channel_id ? 16u : 0u);
    page_norm(nq ? &nq->page : NULL, &q.limit, &q.offset);
    rc = paged_query(S(base), DYN_NOTIFY_COUNT, mask, &q, notify_row_json, "notifications", out);
    if (!rc && (!nq || nq->attempts))
        rc = add_attempts(S(base), json_object_get(*out, "notifications"));
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* One notification with its attempts; TOCSIN_ENOTFOUND. */
static int sq_notify_get_json(struct store *base, const char *id, json_t **out)
{
    int rc = get_one(S(base), ST_OUTBOX_GET, id, notify_row_json, out);
    json_t *one;

    if (rc)
        return rc;
    one = json_array();
    rc = one && !json_array_append(one, *out) ? add_attempts(S(base), one) : TOCSIN_ENOMEM;
    json_decref(one);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* The stored record with this id (for a retry); TOCSIN_ENOTFOUND. */
static int sq_outbox_get(struct store *base, const char *id, struct notify_rec **out)
{
    struct sqlite_store *s = S(base);
    sqlite3_stmt *st = NULL;
    int rc, src;

    *out = NULL;
    rc = stmt(s, ST_OUTBOX_GET, &st);
    if (rc)
        return rc;
    if (bind_text(st, 1, id))
        rc = db_err(s, "outbox_get", SQLITE_ERROR);
    else if ((src = sqlite3_step(st)) == SQLITE_DONE)
        rc = TOCSIN_ENOTFOUND;
    else if (src != SQLITE_ROW)
        rc = db_err(s, "outbox_get", src);
    else
        rc = notify_from_row(st, out);
    done(st);
    return rc;
}

/* The first seq of a row created at or after cutoff_ms (the last seq + 1 if none), into
 * *bound. Rows are numbered in the order they are created, and a row is updated after it is
 * created, so none from there on is due for the purge. A binary search over seq, one B-tree
 * descent per step: a walk from the start (the first version) passed every old row at each
 * pass, which, while a backlog is purged 20,000 at a time, is millions of rows per pass. Where
 * the clock stepped back the order is not quite monotonic: the bound may then fall a little
 * early or late, which only delays a row's purge (the statements still test updated_ms). */
static int purge_bound(struct sqlite_store *s, int64_t cutoff_ms, int64_t *bound)
{
    sqlite3_stmt *st = NULL;
    int64_t lo, hi;
    int rc, src;

    *bound = INT64_MAX;
    rc = stmt(s, ST_OUTBOX_SEQ_RANGE, &st);
    if (rc)
        return rc;
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        done(st);
        return db_err(s, "outbox_purge", src);
    }
    if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
        done(st);
        return TOCSIN_OK; /* empty */
    }
    lo = sqlite3_column_int64(st, 0);
    hi = sqlite3_column_int64(st, 1);
    done(st);
    if (hi == INT64_MAX)
        return TOCSIN_OK; /* no seq after the last one: no bound */
    hi++;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2, seq;
        bool old;

        rc = stmt(s, ST_OUTBOX_SEQ_AT, &st);
        if (rc)
            return rc;
        if (bind_i64(st, 1, mid)) {
            done(st);
            return db_err(s, "outbox_purge", SQLITE_ERROR);
        }
        src = sqlite3_step(st);
        if (src == SQLITE_DONE) { /* nothing at or after mid */
            done(st);
            hi = mid;
            continue;
        }
        if (src != SQLITE_ROW) {
            done(st);
            return db_err(s, "outbox_purge", src);
        }
        seq = sqlite3_column_int64(st, 0);
        old = sqlite3_column_type(st, 1) == SQLITE_NULL || sqlite3_column_int64(st, 1) < cutoff_ms;
        done(st);
        if (old)
            lo = seq + 1; /* the first new row, if any, is after seq */
        else
            hi = mid; /* it is seq or before: nothing lies in [mid, seq) */
    }
    *bound = lo;
    return TOCSIN_OK;
}

static int sq_outbox_purge(struct store *base, int64_t before_ms, int64_t max_rows,
                           int64_t *deleted)
{
    static const enum stmt_id order[] = {ST_OUTBOX_PURGE_ATTEMPTS, ST_OUTBOX_PURGE_BASES,
                                         ST_OUTBOX_PURGE_CTX, ST_OUTBOX_PURGE};
    struct sqlite_store *s = S(base);
    sqlite3_stmt *st = NULL;
    int64_t bound;
    int rc;

    *deleted = 0;
    rc = purge_bound(s, before_ms, &bound);
    for (size_t i = 0; !rc && i < sizeof(order) / sizeof(order[0]); i++) {
        rc = stmt(s, order[i], &st);
        if (rc)
            break;
        if (bind_i64(st, 1, before_ms) | bind_i64(st, 2, max_rows) | bind_i64(st, 3, bound))
            rc = db_err(s, "outbox_purge", SQLITE_ERROR);
        else
            rc = run_done(s, st, "outbox_purge");
        if (!rc && order[i] == ST_OUTBOX_PURGE)
            *deleted = sqlite3_changes(s->db);
        done(st);
    }
    return rc;
}

static int sq_attempt_insert(struct store *base, const struct notify_attempt_rec *a)
{
    struct sqlite_store *s = S(base);
    sqlite3_stmt *st = NULL;
    int rc, b;

    rc = stmt(s, ST_ATTEMPT_INSERT, &st);
    if (rc)
        return rc;
    b = bind_text(st, 1, a->notification) | bind_i64(st, 2, a->n) | bind_i64(st, 3, a->at_ms) |
        bind_i64(st, 4, a->duration_ms) |
        (a->http_status ? sqlite3_bind_int(st, 5, a->http_status) : sqlite3_bind_null(st, 5)) |
        bind_text(st, 6, a->error) | bind_text(st, 7, a->response) |
        (a->outbox_seq > 0 ? bind_i64(st, 8, a->outbox_seq) : sqlite3_bind_null(st, 8));
    rc = b ? db_err(s, "attempt_insert", SQLITE_ERROR) : run_done(s, st, "attempt_insert");
    done(st);
    return rc;
}

/* Runs a one-row lookup by id and converts the row. */
static int get_one(struct sqlite_store *s, enum stmt_id id, const char *key, row_json_fn fn,
                   json_t **out)
{
    sqlite3_stmt *st = NULL;
    int rc, src;

    *out = NULL;
    if (!key)
        return TOCSIN_EINVAL;
    rc = stmt(s, id, &st);
    if (rc)
        return rc;
    if (bind_text(st, 1, key)) {
        rc = db_err(s, "get", SQLITE_ERROR);
        goto out;
    }
    src = sqlite3_step(st);
    if (src == SQLITE_DONE)
        rc = TOCSIN_ENOTFOUND;
    else if (src != SQLITE_ROW)
        rc = db_err(s, "get", src);
    else if (!(*out = fn(st)))
        rc = TOCSIN_ESTORE;
out:
    done(st);
    return rc;
}

/* The stored trigger JSON of column 0. */
static json_t *trigger_row_json(sqlite3_stmt *st)
{
    const char *t = (const char *)sqlite3_column_text(st, 0);
    json_t *v = t ? json_loadb(t, (size_t)sqlite3_column_bytes(st, 0), JSON_DECODE_ANY, NULL)
                  : NULL;

    if (!v)
        log_error("store_error", "op=trigger_json msg=\"stored trigger JSON is unreadable\"");
    return v;
}

static int sq_trigger_get_json(struct store *base, const char *id, json_t **out)
{
    return get_one(S(base), ST_TRIGGER_GET, id, trigger_row_json, out);
}

static int sq_trigger_list_json(struct store *base, const struct store_page *p, json_t **out)
{
    struct sqlite_store *s = S(base);
    sqlite3_stmt *cst = NULL, *lst = NULL;
    json_t *res = NULL, *arr = NULL;
    int64_t total = 0, limit, offset;
    bool began = false;
    int rc;

    *out = NULL;
    page_norm(p, &limit, &offset);
    rc = stmt(s, ST_TRIGGER_COUNT, &cst);
    if (!rc)
        rc = stmt(s, ST_TRIGGER_PAGE, &lst);
    if (!rc)
        rc = read_begin(s, &began);
    if (!rc && (bind_i64(lst, 1, limit) | bind_i64(lst, 2, offset)))
        rc = db_err(s, "trigger_list", SQLITE_ERROR);
    if (!rc)
        rc = count_rows(s, cst, &total);
    if (!rc && !(arr = json_array()))
        rc = TOCSIN_ENOMEM;
    if (!rc)
        rc = collect_rows(s, lst, trigger_row_json, arr);
    if (!rc && !(res = json_object()))
        rc = TOCSIN_ENOMEM;
    if (!rc) {
        rc = put(res, "triggers", json_incref(arr));
        rc |= put(res, "total", json_integer(total));
    }
    done(cst);
    done(lst);
    read_end(s, began);
    json_decref(arr);
    if (rc)
        json_decref(res);
    else
        *out = res;
    return rc;
}

static int on_wal(void *ud, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    ((struct sqlite_store *)ud)->wal_frames = frames;
    return SQLITE_OK;
}

static int sq_manual_checkpoints(struct store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int rc = exec_sql(s, "PRAGMA wal_autocheckpoint = 0", NULL, 0);

    if (!rc)
        sqlite3_wal_hook(s->db, on_wal, s);
    return rc;
}

static int64_t sq_wal_bytes(struct store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;

    return (int64_t)s->wal_frames * s->page_size;
}

static int sq_writer_checkpoint(struct store *base, int64_t min_bytes, bool *ran)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int rc, log = -1, copied = -1;

    if (sq_wal_bytes(base) < min_bytes)
        return TOCSIN_OK;
    /* Between transactions of the only writer, so the copy completes, and RESTART: it also
     * waits (RESTART_WAIT_MS at most) until no reader is on the WAL, so that the next commit
     * starts the WAL over for sure (a reader that begins meanwhile reads the database file
     * alone). After a PASSIVE one, the next commit does not start over when a reader is on the
     * WAL at that moment, and the WAL then grows until another checkpoint. The maintenance
     * thread has copied most pages. */
    sqlite3_busy_handler(s->db, on_busy_restart, NULL);
    rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_RESTART, &log, &copied);
    sqlite3_busy_handler(s->db, on_busy, NULL);
    *ran = log >= 0; /* -1: another checkpoint (the maintenance thread's) is running */
    s->wal_frames = 0;
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
        log_warn("store_checkpoint_failed", "rc=%d reason=\"%s\"", rc, sqlite3_errmsg(s->db));
        return TOCSIN_ESTORE;
    }
    return TOCSIN_OK;
}

/* SQLite syncs the database file only at the end of a checkpoint that copied the whole WAL: a
 * pass that copies part of it (every pass of a steady load) leaves its pages to the kernel.
 * The store writer's checkpoint that lets the WAL start over is then the first to copy
 * everything, and its fdatasync flushed all that the passes copied since the last one: 64-80 ms
 * of stalled commits in the notification benchmark (perf trace), whatever few frames it copied
 * itself. So this connection flushes what its pass copied, off the writer's path. Syncing more
 * often than SQLite never makes the database less durable. */
static void sync_copied(struct sqlite_store *s, int copied)
{
    bool more = copied > 0 && copied != s->ckpt_copied;

    s->ckpt_copied = copied;
    if (!more || s->dur == DURABILITY_NONE || s->db_fd == -2)
        return;
    if (s->db_fd < 0) {
        const char *path = sqlite3_db_filename(s->db, "main");
        s->db_fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        if (s->db_fd < 0) { /* SQLite's own syncs still happen: said once */
            log_warn("store_sync_failed", "op=open errno=%d", errno);
            s->db_fd = -2;
            return;
        }
    }
    /* an I/O error here may have dropped pages the kernel will not write again: said loudly */
    if (fdatasync(s->db_fd))
        log_error("store_sync_failed", "op=fdatasync errno=%d", errno);
}

static int sq_checkpoint(struct store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int copied = -1;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, &copied);

    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
        log_warn("store_checkpoint_failed", "rc=%d reason=\"%s\"", rc, sqlite3_errmsg(s->db));
        return TOCSIN_ESTORE;
    }
    sync_copied(s, copied);
    return TOCSIN_OK;
}

/* ---- Alerta-model alerts (core/alertdb.h changes) ---- */

static const struct sevmap *sevmap_of(struct sqlite_store *s)
{
    return &s->sev;
}

static void sq_set_sevmap(struct store *base, const struct sevmap *m)
{
    S(base)->sev = *m;
}

static int bind_view(sqlite3_stmt *st, int i, const struct aview *v)
{
    if (v->null)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, v->p, (int)v->len, SQLITE_STATIC);
}

static int bind_json(sqlite3_stmt *st, int i, struct sqlite_store *s, const struct aview *v,
                     enum afield f)
{
    struct buf *b = &s->ftext[f];

    buf_reset(b);
    if (alert_view_json(b, &v[f], f))
        return SQLITE_NOMEM;
    return sqlite3_bind_text(st, i, buf_str(b), (int)b->len, SQLITE_STATIC);
}

static int bind_time(sqlite3_stmt *st, int i, int64_t ms)
{
    return ms ? bind_i64(st, i, ms) : sqlite3_bind_null(st, i);
}

static int ach_put(struct sqlite_store *s, const struct alert_change *c)
{
    const struct alert *a = c->snap;
    const struct sevmap *m = sevmap_of(s);
    sqlite3_stmt *st = NULL;
    struct aview v[AF_COUNT];
    char id[37], lrid[37];
    void *state;
    size_t state_len = 0;
    int rc, b;

    rc = stmt(s, ST_ACH_PUT, &st);
    if (rc)
        return rc;
    state = alert_state_pack(a, &state_len);
    if (!state)
        return TOCSIN_ENOMEM;
    uuid_to_text(a->id, id);
    uuid_to_text(a->last_receive_id, lrid);
    alert_views(a, v);
    b = bind_i64(st, 1, u64_to_i64(a->rid)) | bind_text(st, 2, id) |
        bind_view(st, 3, &v[AF_RESOURCE]) | bind_view(st, 4, &v[AF_EVENT]) |
        bind_view(st, 5, &v[AF_ENVIRONMENT]) | bind_text(st, 6, m->name[a->sev_name]) |
        sqlite3_bind_int(st, 7, a->severity) | bind_text(st, 8, astatus_name(a->status)) |
        bind_json(st, 9, s, v, AF_SERVICE) | bind_view(st, 10, &v[AF_GROUP]) |
        bind_view(st, 11, &v[AF_VALUE]) | bind_view(st, 12, &v[AF_TEXT]) |
        bind_json(st, 13, s, v, AF_TAGS) | bind_json(st, 14, s, v, AF_ATTRIBUTES) |
        bind_view(st, 15, &v[AF_ORIGIN]) | bind_view(st, 16, &v[AF_TYPE]) |
        bind_view(st, 17, &v[AF_CUSTOMER]) | bind_json(st, 18, s, v, AF_CORRELATE) |
        bind_i64(st, 19, a->timeout_s) | bind_i64(st, 20, a->create_ms) |
        bind_i64(st, 21, a->receive_ms) | bind_i64(st, 22, a->last_receive_ms) |
        bind_text(st, 23, lrid) | bind_i64(st, 24, a->update_ms) |
        bind_i64(st, 25, a->duplicate_count) | sqlite3_bind_int(st, 26, a->repeat) |
        bind_text(st, 27, m->name[a->prev_sev_name]) | bind_text(st, 28, trend_name(a->trend)) |
        bind_view(st, 29, &v[AF_FINGERPRINT]) | bind_json(st, 30, s, v, AF_LABELS) |
        bind_json(st, 31, s, v, AF_ANNOTATIONS) | bind_view(st, 32, &v[AF_SOURCE]) |
        bind_view(st, 33, &v[AF_GENERATOR_URL]) | bind_time(st, 34, a->starts_ms) |
        bind_time(st, 35, a->ends_ms) | bind_text(st, 36, c->raw_set ? c->raw : NULL) |
        sqlite3_bind_blob(st, 37, state, (int)state_len, SQLITE_STATIC) |
        sqlite3_bind_int(st, 38, c->raw_set);
    rc = b ? db_err(s, "alert_put", SQLITE_ERROR) : run_done(s, st, "alert_put");
    done(st);
    free(state);
    return rc;
}

static int run_rid(struct sqlite_store *s, enum stmt_id id, uint64_t rid, int64_t arg2,
                   const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc = stmt(s, id, &st);

    if (rc)
        return rc;
    if (bind_i64(st, 1, u64_to_i64(rid)) || (arg2 && bind_i64(st, 2, arg2)))
        rc = db_err(s, op, SQLITE_ERROR);
    else
        rc = run_done(s, st, op);
    done(st);
    return rc;
}

static int hist_put(struct sqlite_store *s, const struct alert_change *c, const char *id,
                    const struct hist_entry *h)
{
    const struct sevmap *m = sevmap_of(s);
    sqlite3_stmt *st = NULL;
    int rc = stmt(s, ST_HIST_INSERT, &st), b;

    if (rc)
        return rc;
    b = bind_i64(st, 1, u64_to_i64(c->rid)) | bind_i64(st, 2, h->seq) | bind_text(st, 3, id) |
        bind_text(st, 4, h->event) |
        bind_text(st, 5, h->sev_name >= 0 && (size_t)h->sev_name < m->n ? m->name[h->sev_name]
                                                                        : NULL) |
        bind_text(st, 6, h->status >= 0 ? astatus_name(h->status) : NULL) |
        bind_text(st, 7, h->value) | bind_text(st, 8, h->text) |
        bind_text(st, 9, htype_name(h->type)) | bind_i64(st, 10, h->update_ms) |
        bind_text(st, 11, h->user) | bind_i64(st, 12, h->timeout_s);
    rc = b ? db_err(s, "history_put", SQLITE_ERROR) : run_done(s, st, "history_put");
    done(st);
    return rc;
}

static int note_put(struct sqlite_store *s, const struct alert_change *c)
{
    sqlite3_stmt *st = NULL;
    int rc = stmt(s, ST_NOTE_INSERT, &st), b;

    if (rc)
        return rc;
    b = bind_text(st, 1, c->note_id) | bind_i64(st, 2, u64_to_i64(c->rid)) |
        bind_text(st, 3, c->note_text) | bind_text(st, 4, c->note_user) |
        bind_i64(st, 5, c->note_ms);
    rc = b ? db_err(s, "note_put", SQLITE_ERROR) : run_done(s, st, "note_put");
    done(st);
    return rc;
}

static int sq_achange_apply(struct store *base, const struct alert_change *c)
{
    struct sqlite_store *s = S(base);
    char id[37];
    int rc = TOCSIN_OK;

    switch (c->op) {
    case ACH_DEL:
        rc = run_rid(s, ST_ACH_DEL, c->rid, 0, "alert_delete");
        if (!rc)
            rc = run_rid(s, ST_ACH_DEL_HIST, c->rid, 0, "alert_delete");
        if (!rc)
            rc = run_rid(s, ST_ACH_DEL_NOTES, c->rid, 0, "alert_delete");
        return rc;
    case ACH_NOTE:
        return note_put(s, c);
    case ACH_PUT:
        break;
    }
    if (!c->snap)
        return TOCSIN_EINVAL;
    rc = ach_put(s, c);
    uuid_to_text(c->snap->id, id);
    for (uint32_t i = 0; !rc && i < c->nhist; i++)
        rc = hist_put(s, c, id, &c->hist[i]);
    if (!rc && c->hist_keep_from)
        rc = run_rid(s, ST_HIST_TRIM, c->rid, c->hist_keep_from, "history_trim");
    return rc;
}

/* alerts.max keeps the count within an int */
static int sq_alert_count(struct store *base, uint64_t *n)
{
    struct sqlite_store *s = S(base);
    int v = 0;

    if (query_int(s, "SELECT count(*) FROM alert", &v))
        return db_err(s, "alert_count", SQLITE_ERROR);
    *n = (uint64_t)v;
    return TOCSIN_OK;
}

/* The start-up load reads the file through a mapping (aread_map: a system call or two per row
 * saved), dropped when it ends: its drawbacks last only as long as the load, before any request,
 * on a file the daemon holds locked. */
static int sq_alert_load(struct store *base, bool desc, store_xalert_cb cb, void *ud)
{
    struct sqlite_store *s = S(base);
    sqlite3_stmt *st = NULL;
    int rc, src = SQLITE_DONE;

    aread_map(s->db, true);
    rc = stmt(s, desc ? ST_ACH_LOAD_DESC : ST_ACH_LOAD, &st);
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        struct alert *a = alert_from_state(sqlite3_column_blob(st, 0),
                                           (size_t)sqlite3_column_bytes(st, 0));
        if (!a) {
            log_warn("alert_unreadable", "reason=\"bad state column\"");
            continue;
        }
        rc = cb(ud, a);
    }
    if (!rc && src != SQLITE_DONE)
        rc = db_err(s, "alert_load", src);
    done(st);
    aread_map(s->db, false);
    return rc;
}

static int sq_object_put(struct store *base, const char *kind, const char *id, const char *json)
{
    struct sqlite_store *s = S(base);
    sqlite3_stmt *st = NULL;
    int rc = stmt(s, json ? ST_OBJ_PUT : ST_OBJ_DEL, &st), b;

    if (rc)
        return rc;
    b = bind_text(st, 1, kind) | bind_text(st, 2, id) | (json ? bind_text(st, 3, json) : 0);
    rc = b ? db_err(s, "object_put", SQLITE_ERROR) : run_done(s, st, "object_put");
    done(st);
    return rc;
}

static int sq_object_load(struct store *base, const char *kind, store_trigger_cb cb, void *ud)
{
    struct sqlite_store *s = S(base);
    sqlite3_stmt *st = NULL;
    int rc, src = SQLITE_DONE;

    rc = stmt(s, ST_OBJ_LOAD, &st);
    if (!rc && bind_text(st, 1, kind))
        rc = db_err(s, "object_load", SQLITE_ERROR);
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW)
        rc = cb(ud, (const char *)sqlite3_column_text(st, 0),
                (const char *)sqlite3_column_text(st, 1));
    if (!rc && src != SQLITE_DONE)
        rc = db_err(s, "object_load", src);
    done(st);
    return rc;
}

static void *sq_native(struct store *base)
{
    return S(base)->db;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .trigger_put = sq_trigger_put,
    .trigger_delete = sq_trigger_delete,
    .alert_upsert = sq_alert_upsert,
    .outbox_insert = sq_outbox_insert,
    .outbox_update = sq_outbox_update,
    .trigger_load_all = sq_trigger_load_all,
    .alert_load_open = sq_alert_load_open,
    .outbox_load_pending = sq_outbox_load_pending,
    .trigger_list_json = sq_trigger_list_json,
    .trigger_get_json = sq_trigger_get_json,
    .achange_apply = sq_achange_apply,
    .alert_count = sq_alert_count,
    .alert_load = sq_alert_load,
    .set_sevmap = sq_set_sevmap,
    .native = sq_native,
    .object_put = sq_object_put,
    .object_load = sq_object_load,
    .notify_query_json = sq_notify_query_json,
    .notify_get_json = sq_notify_get_json,
    .outbox_get = sq_outbox_get,
    .attempt_insert = sq_attempt_insert,
    .outbox_purge = sq_outbox_purge,
    .manual_checkpoints = sq_manual_checkpoints,
    .writer_checkpoint = sq_writer_checkpoint,
    .wal_bytes = sq_wal_bytes,
    .checkpoint = sq_checkpoint,
};
