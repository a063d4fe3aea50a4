/* The SQL schema of alerts, their history and notes (SQLite). Shared by the store writer
 * (store/sqlite.c), the read side (store/alert_read.c) and their tests.
 *
 * Times are INTEGER milliseconds since the epoch (UTC). Lists (service, tags, correlate) are JSON
 * arrays of strings and maps (attributes, labels, annotations) JSON objects, as TEXT; attribute
 * values are any JSON. `severity` keeps the name the sender used ("ok" stays "ok"); `sevcode` is
 * its code in the severity map (lower is more severe), for sorting. `status` is the status name.
 * `rid` is assigned by the engine and never changes; `id` is the alert's UUID. `state` holds the
 * engine's own bookkeeping (history positions, action timeouts) and is not part of the API.
 *
 * Indexes: by last_receive_time (time filters and sorts), and by
 * (status, sevcode, last_receive_time, severity, environment since migration 13) (Alerta's
 * default list of a status, its counts, and the filters and counts on those columns). Each
 * index costs every write: there is no other once migration 11 has dropped alert_by_id below
 * (ids are looked up through util/sidx.h).
 *
 * History: one row per entry, newest has the highest seq, at most alerts.history_limit rows per
 * alert (the writer deletes older ones); since migration 12 stored in the order written
 * (ALERT_HISTORY_V12_SQL below). Notes: Alerta's notes on an alert.
 *
 * alert_by_status_sev serves the read side's default list (Alerta's SORT_LIST_BY: most severe
 * first, then newest) of a status as an index walk that stops after the page, and holds every
 * column its counts by (status, sevcode) and by severity read. sevcode is DESC so that the list
 * (sevcode ASC, last_receive_time DESC) is one backward walk; the cost is one more index entry
 * to move when last_receive_time changes. */
#ifndef TOCSIN_ALERT_SCHEMA_H
#define TOCSIN_ALERT_SCHEMA_H

/* A history entry's columns (besides the table's own key), as created and as named. */
#define ALERT_HISTORY_COLS                                                                         \
    " rid INTEGER NOT NULL,"                                                                       \
    " seq INTEGER NOT NULL,"                                                                       \
    " id TEXT NOT NULL,"                                                                           \
    " event TEXT NOT NULL,"                                                                        \
    " severity TEXT,"                                                                              \
    " status TEXT,"                                                                                \
    " value TEXT,"                                                                                 \
    " text TEXT,"                                                                                  \
    " type TEXT NOT NULL,"                                                                         \
    " update_time INTEGER NOT NULL,"                                                               \
    " user TEXT,"                                                                                  \
    " timeout INTEGER"
#define ALERT_HISTORY_NAMES                                                                        \
    "rid, seq, id, event, severity, status, value, text, type, update_time, user, timeout"

#define ALERT_SCHEMA_SQL                                                                           \
    "CREATE TABLE IF NOT EXISTS alert ("                                                           \
    " rid INTEGER PRIMARY KEY,"                                                                    \
    " id TEXT NOT NULL,"                                                                           \
    " resource TEXT NOT NULL,"                                                                     \
    " event TEXT NOT NULL,"                                                                        \
    " environment TEXT NOT NULL,"                                                                  \
    " severity TEXT NOT NULL,"                                                                     \
    " sevcode INTEGER NOT NULL,"                                                                   \
    " status TEXT NOT NULL,"                                                                       \
    " service TEXT NOT NULL,"                                                                      \
    " grp TEXT NOT NULL,"                                                                          \
    " value TEXT,"                                                                                 \
    " text TEXT NOT NULL,"                                                                         \
    " tags TEXT NOT NULL,"                                                                         \
    " attributes TEXT NOT NULL,"                                                                   \
    " origin TEXT NOT NULL,"                                                                       \
    " type TEXT NOT NULL,"                                                                         \
    " customer TEXT,"                                                                              \
    " correlate TEXT NOT NULL,"                                                                    \
    " timeout INTEGER NOT NULL,"                                                                   \
    " create_time INTEGER NOT NULL,"                                                               \
    " receive_time INTEGER NOT NULL,"                                                              \
    " last_receive_time INTEGER NOT NULL,"                                                         \
    " last_receive_id TEXT NOT NULL,"                                                              \
    " update_time INTEGER NOT NULL,"                                                               \
    " duplicate_count INTEGER NOT NULL,"                                                           \
    " repeat INTEGER NOT NULL,"                                                                    \
    " previous_severity TEXT NOT NULL,"                                                            \
    " trend TEXT NOT NULL,"                                                                        \
    " fingerprint TEXT NOT NULL,"                                                                  \
    " labels TEXT NOT NULL,"                                                                       \
    " annotations TEXT NOT NULL,"                                                                  \
    " source TEXT NOT NULL,"                                                                       \
    " generator_url TEXT,"                                                                         \
    " starts_at INTEGER,"                                                                          \
    " ends_at INTEGER,"                                                                            \
    " raw_data TEXT,"                                                                              \
    " state BLOB);"                                                                                \
    "CREATE UNIQUE INDEX IF NOT EXISTS alert_by_id ON alert(id);"                                  \
    "CREATE INDEX IF NOT EXISTS alert_by_lrt ON alert(last_receive_time);"                         \
    "CREATE INDEX IF NOT EXISTS alert_by_status_sev"                                               \
    " ON alert(status, sevcode DESC, last_receive_time, severity);"                                \
    "CREATE TABLE IF NOT EXISTS alert_history (" ALERT_HISTORY_COLS ","                            \
    " PRIMARY KEY (rid, seq)) WITHOUT ROWID;"                                                      \
    "CREATE INDEX IF NOT EXISTS alert_history_by_time ON alert_history(update_time);"              \
    "CREATE TABLE IF NOT EXISTS alert_note ("                                                      \
    " id TEXT PRIMARY KEY,"                                                                        \
    " rid INTEGER NOT NULL,"                                                                       \
    " text TEXT NOT NULL,"                                                                         \
    " user TEXT,"                                                                                  \
    " create_time INTEGER NOT NULL,"                                                               \
    " update_time INTEGER NOT NULL,"                                                               \
    " attributes TEXT NOT NULL DEFAULT '{}');"                                                     \
    "CREATE INDEX IF NOT EXISTS alert_note_by_rid ON alert_note(rid, create_time);"

/* Migration 4: alert_by_id indexed the first 8 characters of the id (Alerta's short id) instead
 * of the whole 36-character UUID (13-byte entries instead of 45). Migration 11 (store/sqlite.c)
 * drops it: look-ups by id take their rows from the engine's index in memory (util/sidx.h). */
#define ALERT_SCHEMA_V4_SQL                                                                      \
    "DROP INDEX IF EXISTS alert_by_id;"                                                          \
    "CREATE INDEX alert_by_id ON alert(substr(id, 1, 8));"

/* Migration 12: history rows in the order they are written (a rowid table, hseq), found by
 * alert through a unique index on (rid, seq), instead of clustered by (rid, seq). A correlated
 * or re-opened alert added a row to its own run of rows, somewhere in the middle of the table,
 * so each commit wrote as many scattered 1 KiB history pages as alerts it changed (and split
 * the full ones). Now the row goes at the end, next to the others of the same commit, and only
 * the index's 15-byte entry lands in the middle: 4.5 us less of the writer's and the
 * checkpointer's CPU per correlated alert (docs/performance.md). The copy keeps the rows'
 * time order. */
#define ALERT_HISTORY_V12_SQL                                                                      \
    "CREATE TABLE alert_history12 (hseq INTEGER PRIMARY KEY," ALERT_HISTORY_COLS ");"              \
    "INSERT INTO alert_history12 (" ALERT_HISTORY_NAMES ") SELECT " ALERT_HISTORY_NAMES            \
    " FROM alert_history ORDER BY update_time, rid, seq;"                                          \
    "DROP TABLE alert_history;"                                                                    \
    "ALTER TABLE alert_history12 RENAME TO alert_history;"                                         \
    "CREATE UNIQUE INDEX alert_history_by_rid ON alert_history(rid, seq);"                         \
    "CREATE INDEX alert_history_by_time ON alert_history(update_time);"

/* Migration 13: alert_by_status_sev carries the environment too, last, so that a filter on it
 * (a console's environment tab) and Alerta's /environments are decided and counted on the index
 * alone: at a million alerts they read every row (1.1 GB of pages, 2.7-3.6 s a query, two of
 * them for /environments, which then passed the read side's 5 s budget); over the index they
 * take 0.2-1.4 s. Last, it leaves the list's walk (sevcode, last_receive_time within a status)
 * and the counts' (status, sevcode) order as they were. docs/performance.md, eighth pass. */
#define ALERT_SCHEMA_V13_SQL                                                                       \
    "DROP INDEX alert_by_status_sev;"                                                              \
    "CREATE INDEX alert_by_status_sev"                                                             \
    " ON alert(status, sevcode DESC, last_receive_time, severity, environment);"

#endif
