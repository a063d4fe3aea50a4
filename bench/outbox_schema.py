#!/usr/bin/env python3
"""The store writer's per-notification SQL, replayed against the outbox schema of several
migrations (src/store/sqlite.c): v5, the context in the outbox row; v6, the context in its own
insert-only table and attempts keyed by the outbox row's seq; v8, with migrations 7 and 8 (shared
contexts' columns, pending notifications in a partial index); v9, the look-ups by notification
id and alert id through 64-bit keys of them instead of indexes on the texts.

Per notification, as the daemon's writer does it: an INSERT of the outbox row (and, new schema,
of its context), then later an UPDATE of the row and an INSERT of its attempt. A transaction
holds the inserts of GROUP notifications and the update + attempt of GROUP notifications inserted
LAG transactions earlier (a steady delivery load). 1 KiB pages, WAL, synchronous=NORMAL, no
automatic checkpoint (the daemon checkpoints from another thread; here the WAL only grows, so its
size is the bytes written). Each run starts from a fresh file pre-filled with PREFILL delivered
notifications, so the B-trees are not tiny. Runs alternate old/new (a shared, noisy machine);
the figures are medians.

    python3 bench/outbox_schema.py [-n 20000] [--prefill 20000] [--runs 3] [--dir /tmp]
                                   [--layouts v5,v6] [--cache-kib 2000] [--purge]

Prints, per schema: µs per notification (wall time of the replay, Python's own cost included,
the same for both) and WAL bytes per notification. Uses Python's sqlite3 module, i.e. the
system's libsqlite3, the one the daemon links. Needs nothing else.

--purge: instead, after the prefill (every row delivered), times the housekeeping's choice of
rows to purge, ms per statement, with none past notify.keep and with all of them (a backlog
purged a batch at a time): the walk in seq order as it was before
it ended at the first row created after the cutoff (to the end of the table when fewer than a
batch are due) and as it is now (purge_bound's binary search over seq, then the walk up to
it)."""

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid

GROUP = 16  # notifications per group commit
LAG = 2     # transactions between a notification's insert and its delivery's update
CTX_BYTES = 2500
ALERTS = 1000  # distinct alert ids the notifications are about

OUTBOX_V1 = (
    "CREATE TABLE outbox (seq INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, alert_id TEXT,"
    " trigger_id TEXT, channel TEXT, method TEXT NOT NULL, url TEXT NOT NULL, headers TEXT,"
    " body TEXT, use_proxy INTEGER, tls_verify INTEGER, resolve INTEGER,"
    " status INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " max_attempts INTEGER NOT NULL DEFAULT 0, created_ms INTEGER, next_ms INTEGER,"
    " updated_ms INTEGER, last_http_status INTEGER, last_error TEXT);"
    "CREATE INDEX outbox_status_next ON outbox(status, next_ms);"
    "CREATE INDEX outbox_alert ON outbox(alert_id);")
# migration 5, the "old" layout
V5 = OUTBOX_V1 + (
    "ALTER TABLE outbox ADD COLUMN rule_id TEXT;"
    "ALTER TABLE outbox ADD COLUMN channel_id TEXT;"
    "ALTER TABLE outbox ADD COLUMN change TEXT;"
    "ALTER TABLE outbox ADD COLUMN ctx TEXT;"
    "ALTER TABLE outbox ADD COLUMN ticket TEXT;"
    "CREATE TABLE notify_attempt (seq INTEGER PRIMARY KEY, notification TEXT NOT NULL,"
    " n INTEGER NOT NULL, at_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL,"
    " http_status INTEGER, error TEXT, response TEXT);"
    "CREATE INDEX notify_attempt_notification ON notify_attempt(notification, n);")
# migration 6 on top of it, the "new" layout
V6 = V5 + (
    "CREATE TABLE notify_ctx (seq INTEGER PRIMARY KEY, ctx TEXT NOT NULL);"
    "ALTER TABLE outbox DROP COLUMN ctx;"
    "DROP TABLE notify_attempt;"
    "CREATE TABLE notify_attempt (seq INTEGER PRIMARY KEY, outbox_seq INTEGER,"
    " n INTEGER NOT NULL, at_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL,"
    " http_status INTEGER, error TEXT, response TEXT);"
    "CREATE INDEX notify_attempt_outbox ON notify_attempt(outbox_seq, n);")

ROW_COLS = ("id, alert_id, trigger_id, channel, method, url, headers, body, use_proxy,"
            " tls_verify, resolve, status, attempts, max_attempts, created_ms, next_ms,"
            " updated_ms, last_http_status, last_error, rule_id, channel_id, change")
UPDATE_SET = ("UPDATE outbox SET status = ?2, attempts = ?3, next_ms = ?4, updated_ms = ?5,"
              " last_http_status = ?6, last_error = ?7, max_attempts = ?8,"
              " ticket = coalesce(?9, ticket)")
ATTEMPT_VALS = "?2, ?3, ?4, ?5, ?6, ?7)"

# migrations 7 and 8 on top of it
V8 = V6 + (
    "ALTER TABLE notify_ctx ADD COLUMN base INTEGER;"
    "ALTER TABLE notify_ctx ADD COLUMN alen INTEGER;"
    "CREATE INDEX notify_ctx_base ON notify_ctx(base) WHERE base IS NOT NULL;"
    "DROP INDEX outbox_status_next;"
    "CREATE INDEX outbox_pending ON outbox(seq) WHERE status = 0;")
# migration 9: the keys (tocsin_key, the daemon's store_outbox_key: 64-bit FNV-1a)
V9 = V8 + (
    "CREATE TABLE outbox9 (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, alert_id TEXT,"
    " trigger_id TEXT, channel TEXT, method TEXT NOT NULL, url TEXT NOT NULL, headers TEXT,"
    " body TEXT, use_proxy INTEGER, tls_verify INTEGER, resolve INTEGER,"
    " status INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " max_attempts INTEGER NOT NULL DEFAULT 0, created_ms INTEGER, next_ms INTEGER,"
    " updated_ms INTEGER, last_http_status INTEGER, last_error TEXT, rule_id TEXT,"
    " channel_id TEXT, change TEXT, ticket TEXT, idk INTEGER NOT NULL, alertk INTEGER);"
    "DROP TABLE outbox;"
    "ALTER TABLE outbox9 RENAME TO outbox;"
    "CREATE INDEX outbox_id ON outbox(idk);"
    "CREATE INDEX outbox_alert ON outbox(alertk);"
    "CREATE INDEX outbox_pending ON outbox(seq) WHERE status = 0;")
BY_ID = "idk = tocsin_key(?1) AND id = ?1"


def tocsin_key(text):
    """The key of a text. The daemon's is 64-bit FNV-1a (store_outbox_key); here Python's own
    string hash, also 64 bits and stable within the process that makes and reads the file,
    because an FNV loop in Python would cost more than the SQL it stands in."""
    return None if text is None else hash(text)


# The writer's statements, as src/store/sqlite.c has them at each layout.
OLD = {
    "schema": V5,
    "insert": f"INSERT INTO outbox ({ROW_COLS}, ctx, ticket) VALUES ("
              + ", ".join(f"?{i}" for i in range(1, 25)) + ") ON CONFLICT(id) DO NOTHING",
    "ctx": None,
    "update": UPDATE_SET + " WHERE id = ?1",
    "attempt": "INSERT INTO notify_attempt (notification, n, at_ms, duration_ms, http_status,"
               " error, response) VALUES (?1, " + ATTEMPT_VALS,
}
NEW = {
    "schema": V6,
    "insert": f"INSERT INTO outbox ({ROW_COLS}, ticket) VALUES ("
              + ", ".join(f"?{i}" for i in range(1, 24)) + ") ON CONFLICT(id) DO NOTHING",
    "ctx": "INSERT INTO notify_ctx (seq, ctx) VALUES (?1, ?2)",
    "update": UPDATE_SET + " WHERE id = ?1",
    "attempt": "INSERT INTO notify_attempt (outbox_seq, n, at_ms, duration_ms, http_status,"
               " error, response) VALUES (coalesce(?8, (SELECT seq FROM outbox WHERE id = ?1)),"
               " " + ATTEMPT_VALS,
}


V8_SQL = dict(NEW, schema=V8)
V9_SQL = dict(
    NEW, schema=V9,
    exists=f"SELECT 1 FROM outbox WHERE {BY_ID}",
    insert=f"INSERT INTO outbox ({ROW_COLS}, ticket, idk, alertk) VALUES ("
           + ", ".join(f"?{i}" for i in range(1, 24)) + ", tocsin_key(?1), tocsin_key(?2))",
    update=UPDATE_SET + " WHERE " + BY_ID,
    attempt="INSERT INTO notify_attempt (outbox_seq, n, at_ms, duration_ms, http_status,"
            f" error, response) VALUES (coalesce(?8, (SELECT seq FROM outbox WHERE {BY_ID})),"
            " " + ATTEMPT_VALS)
LAYOUTS = {"v5": OLD, "v6": NEW, "v8": V8_SQL, "v9": V9_SQL}


def context(rng, nid, alert):
    """A rule notification's context: ~CTX_BYTES of JSON, like nwire's."""
    head = (f'{{"alert":{{"id":"{alert}","resource":"web01","event":"HttpDown",'
            f'"environment":"Production","severity":"critical","text":"')
    tail = f'"}},"notification":{{"id":"{nid}"}},"channel":{{"id":"hook","type":"webhook"}}}}'
    fill = CTX_BYTES - len(head) - len(tail)
    return head + rng.randbytes(fill // 2 + 1).hex()[:fill] + tail


def make_notification(rng, alerts, now):
    nid, alert = str(uuid.UUID(int=rng.getrandbits(128), version=4)), rng.choice(alerts)
    row = (nid, alert, None, "webhook", "", "", "[]", "", 0, 1, 0, 0, 0, 5, now, 0, now, None,
           None, "r1", "hook", "create")
    return nid, row, context(rng, nid, alert)


def insert(db, sql, n):
    nid, row, ctx = n
    if sql.get("exists") and db.execute(sql["exists"], (nid,)).fetchone():
        return None  # the daemon's TOCSIN_EEXIST (never here: the ids are all new)
    if sql["ctx"] is None:
        db.execute(sql["insert"], row + (ctx, None))
        return db.execute("SELECT last_insert_rowid()").fetchone()[0]
    db.execute(sql["insert"], row + (None,))
    seq = db.execute("SELECT last_insert_rowid()").fetchone()[0]  # sqlite3_last_insert_rowid
    db.execute(sql["ctx"], (seq, ctx))
    return seq


def deliver(db, sql, nid, seq, now):
    db.execute(sql["update"], (nid, 1, 1, 0, now, 200, None, 5, None))
    if sql["ctx"] is None:
        db.execute(sql["attempt"], (nid, 1, now, 3, 200, None, "ok"))
    else:
        db.execute(sql["attempt"], (nid, 1, now, 3, 200, None, "ok", seq))


def replay(db, sql, notes, now):
    """Group commits: GROUP inserts plus the deliveries of the group LAG commits before."""
    groups = [notes[i:i + GROUP] for i in range(0, len(notes), GROUP)]
    inserted = []
    for k in range(len(groups) + LAG):
        db.execute("BEGIN IMMEDIATE")
        if k < len(groups):
            inserted.append([(n[0], insert(db, sql, n)) for n in groups[k]])
        if k >= LAG:
            for nid, seq in inserted[k - LAG]:
                deliver(db, sql, nid, seq, now)
        db.execute("COMMIT")


def open_db(path, sql, cache_kib):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA cache_size = -{cache_kib}")
    db.create_function("tocsin_key", 1, tocsin_key, deterministic=True)
    db.execute("PRAGMA page_size = 1024")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.executescript(sql["schema"])
    return db


# the purge's choice of rows (src/store/sqlite.c: PURGED_SEQS, purge_bound)
PURGE_OLD = "SELECT seq FROM outbox WHERE status <> 0 AND updated_ms < ?1 ORDER BY seq LIMIT ?2"
SEQ_RANGE = "SELECT (SELECT min(seq) FROM outbox), (SELECT max(seq) FROM outbox)"
SEQ_AT = "SELECT seq, created_ms FROM outbox WHERE seq >= ?1 ORDER BY seq LIMIT 1"
PURGE_NEW = ("SELECT seq FROM outbox WHERE seq < ?3 AND status <> 0 AND updated_ms < ?1"
             " ORDER BY seq LIMIT ?2")
PURGE_BATCH = 20000
WEEK_MS = 7 * 86400 * 1000


def purge_bound(db, cutoff):
    """purge_bound of src/store/sqlite.c: the first seq created at or after cutoff."""
    lo, hi = db.execute(SEQ_RANGE).fetchone()
    if lo is None:
        return 2**63 - 1
    hi += 1
    while lo < hi:
        mid = lo + (hi - lo) // 2
        row = db.execute(SEQ_AT, (mid,)).fetchone()
        if row is None:
            hi = mid
        elif row[1] is None or row[1] < cutoff:
            lo = row[0] + 1
        else:
            hi = mid
    return lo


def purge_run(workdir, sql, prefill, seed, cache_kib):
    rng = random.Random(seed)
    alerts = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(ALERTS)]
    now = 1795499067123
    d = tempfile.mkdtemp(prefix="outbox-bench-", dir=workdir)
    try:
        db = open_db(os.path.join(d, "tocsin.db"), sql, cache_kib)
        replay(db, sql, [make_notification(rng, alerts, now) for _ in range(prefill)], now)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        times = []
        for cutoff, due in ((now - WEEK_MS, 0), (now + 1, min(PURGE_BATCH, prefill))):
            t0 = time.perf_counter()
            old = db.execute(PURGE_OLD, (cutoff, PURGE_BATCH)).fetchall()
            t1 = time.perf_counter()
            new = db.execute(PURGE_NEW, (cutoff, PURGE_BATCH, purge_bound(db, cutoff))).fetchall()
            t2 = time.perf_counter()
            assert old == new and len(new) == due
            times += [(t1 - t0) * 1e3, (t2 - t1) * 1e3]
        db.close()
        return times
    finally:
        shutil.rmtree(d)


def one_run(workdir, sql, n, prefill, seed, cache_kib):
    rng = random.Random(seed)
    alerts = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(ALERTS)]
    now = 1795499067123
    d = tempfile.mkdtemp(prefix="outbox-bench-", dir=workdir)
    try:
        path = os.path.join(d, "tocsin.db")
        db = open_db(path, sql, cache_kib)
        replay(db, sql, [make_notification(rng, alerts, now) for _ in range(prefill)], now)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        notes = [make_notification(rng, alerts, now) for _ in range(n)]
        t0 = time.perf_counter()
        replay(db, sql, notes, now)
        elapsed = time.perf_counter() - t0
        wal = os.path.getsize(path + "-wal")
        db.close()
        return elapsed * 1e6 / n, wal / n
    finally:
        shutil.rmtree(d)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=20000, help="notifications measured per run")
    ap.add_argument("--prefill", type=int, default=20000, help="notifications already stored")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where the databases go (default: TMPDIR)")
    ap.add_argument("--layouts", default="v5,v6", help="which, of " + ",".join(LAYOUTS))
    ap.add_argument("--cache-kib", type=int, default=2000,
                    help="page cache (SQLite's default; the daemon's writer has 32768)")
    ap.add_argument("--purge", action="store_true",
                    help="time the purge's choice of rows instead (last layout of --layouts)")
    a = ap.parse_args()
    names = a.layouts.split(",")
    if any(n not in LAYOUTS for n in names):
        ap.error("--layouts: each of " + ", ".join(LAYOUTS))
    if a.purge:
        res = [purge_run(a.dir, LAYOUTS[names[-1]], a.prefill, r, a.cache_kib)
               for r in range(a.runs)]
        med = [statistics.median(x[i] for x in res) for i in range(4)]
        print(f"purge, {names[-1]}, {a.prefill} rows, median of {a.runs}, ms per statement:"
              f" none due: walk to the end {med[0]:.2f}, search and walk to the bound {med[1]:.3f};"
              f" all due (a batch of {PURGE_BATCH} chosen): {med[2]:.2f} and {med[3]:.2f}")
        return
    res = {name: [] for name in names}
    for r in range(a.runs):
        for name in names:
            sql = LAYOUTS[name]
            us, wal = one_run(a.dir, sql, a.n, a.prefill, seed=r, cache_kib=a.cache_kib)
            res[name].append((us, wal))
            print(f"run {r + 1} {name}: {us:7.1f} us/notification, {wal:7.0f} WAL bytes/notification",
                  flush=True)
    print(f"median of {a.runs}, n={a.n}, prefill={a.prefill}, group={GROUP}, ctx={CTX_BYTES} B,"
          f" cache {a.cache_kib} KiB, sqlite {sqlite3.sqlite_version}:")
    for name in names:
        us = statistics.median(x[0] for x in res[name])
        wal = statistics.median(x[1] for x in res[name])
        print(f"  {name}: {us:7.1f} us/notification, {wal:7.0f} WAL bytes/notification")


if __name__ == "__main__":
    main()
