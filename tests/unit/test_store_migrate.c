/* The SQLite store's outbox across schema versions: a database made at schema version 5 (the
 * context in the outbox row, attempts keyed by the notification id) is migrated on open and
 * keeps every notification with its context and attempts; on the migrated schema, contexts and
 * attempts are written by the outbox row's seq. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlite_helpers.h"
#include "core/model.h"
#include "store/alert_schema.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"

#define T_MS INT64_C(1795499067123)
#define CTX_LEN 2500 /* a context spills to overflow pages, as in the daemon */

/* Schema version 5 as it was shipped (store/sqlite.c's migrations 1 to 5), frozen here: the
 * test must keep making the old layout whatever the current one becomes. */
static const char *const v5_sql[] = {
    "CREATE TABLE triggers ("
    " id TEXT PRIMARY KEY, json TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1,"
    " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
    "CREATE TABLE alerts ("
    " id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, trigger_id TEXT, name TEXT,"
    " source TEXT, description TEXT, severity INTEGER NOT NULL, status INTEGER NOT NULL,"
    " count INTEGER NOT NULL DEFAULT 0, first_ms INTEGER, last_ms INTEGER, updated_ms INTEGER,"
    " resolved_ms INTEGER, projection TEXT, properties TEXT, message TEXT);"
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
    ALERT_SCHEMA_SQL,
    "CREATE TABLE object (kind TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL,"
    " PRIMARY KEY (kind, id)) WITHOUT ROWID;",
    ALERT_SCHEMA_V4_SQL,
    "ALTER TABLE outbox ADD COLUMN rule_id TEXT;"
    "ALTER TABLE outbox ADD COLUMN channel_id TEXT;"
    "ALTER TABLE outbox ADD COLUMN change TEXT;"
    "ALTER TABLE outbox ADD COLUMN ctx TEXT;"
    "ALTER TABLE outbox ADD COLUMN ticket TEXT;"
    "CREATE TABLE notify_attempt (seq INTEGER PRIMARY KEY, notification TEXT NOT NULL,"
    " n INTEGER NOT NULL, at_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL,"
    " http_status INTEGER, error TEXT, response TEXT);"
    "CREATE INDEX notify_attempt_notification ON notify_attempt(notification, n);",
    "PRAGMA user_version = 5",
};

/* Version-5 rows: p1 and p2 pending, d1 delivered, f1 failed; p1 and d1 are a rule's (with a
 * context), f1 and p2 a trigger's own; one attempt of a notification that is gone. ?1 is the
 * context of p1, ?2 of d1. */
static const char v5_rows[] =
    "INSERT INTO outbox (seq, id, alert_id, trigger_id, channel, method, url, headers, body,"
    " use_proxy, tls_verify, resolve, status, attempts, max_attempts, created_ms, next_ms,"
    " updated_ms, last_http_status, last_error, rule_id, channel_id, change, ctx, ticket) VALUES"
    " (3, 'd1', 'a1', NULL, 'webhook', '', '', '[]', '', 0, 1, 0, 1, 2, 5, 1000, 0, 2000, 200,"
    "  NULL, 'r1', 'hook', 'create', ?2, '{\"number\":\"INC1\"}'),"
    " (5, 'f1', 'a2', 't1', 'webhook-notifier', 'POST', 'http://h/x', '[]', '{}', 0, 1, 0, 2,"
    "  1, 1, 1100, 0, 2100, 500, 'HTTP 500', NULL, NULL, NULL, NULL, NULL),"
    " (7, 'p1', 'a1', NULL, 'webhook', '', '', '[]', '', 0, 1, 1, 0, 1, 5, 1200, 3000, 2200,"
    "  503, 'HTTP 503', 'r1', 'hook', 'resolve', ?1, NULL),"
    " (8, 'p2', 'a3', 't1', 'webhook-notifier', 'POST', 'http://h/y', '[]', '{}', 0, 1, 0, 0,"
    "  0, 5, 1300, 0, 1300, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"
    "INSERT INTO notify_attempt (notification, n, at_ms, duration_ms, http_status, error,"
    " response) VALUES ('d1', 1, 1500, 4, 502, 'HTTP 502', 'bad gateway'),"
    " ('d1', 2, 2000, 3, 200, NULL, 'ok'), ('f1', 1, 2100, 5, 500, 'HTTP 500', NULL),"
    " ('gone', 1, 900, 1, NULL, 'timeout', NULL), ('p1', 1, 2200, 6, 503, 'HTTP 503', 'busy');";

struct fx {
    char dir[64];
    char ctx_p1[CTX_LEN + 1], ctx_d1[CTX_LEN + 1];
    struct store *w;
};

static void fill_ctx(char *dst, char c)
{
    int n = snprintf(dst, CTX_LEN + 1, "{\"alerts\":\"");

    memset(dst + n, c, (size_t)(CTX_LEN - n - 2));
    memcpy(dst + CTX_LEN - 2, "\"}", 3);
}

/* Writes <dir>/tocsin.db at schema version 5 with the rows above. */
static void make_v5(struct fx *f)
{
    char path[256];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    const char *attempts = NULL;

    snprintf(path, sizeof(path), "%s/tocsin.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_ok(db, "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL; BEGIN");
    for (size_t i = 0; i < sizeof(v5_sql) / sizeof(v5_sql[0]); i++)
        exec_ok(db, v5_sql[i]);
    assert_int_equal(sqlite3_prepare_v2(db, v5_rows, -1, &st, &attempts), SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 1, f->ctx_p1, -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 2, f->ctx_d1, -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    exec_ok(db, attempts); /* the second statement of v5_rows */
    exec_ok(db, "INSERT INTO alert_history VALUES"
                " (1, 1, 'x1', 'Ev', 'major', 'open', NULL, 'new one', 'new', 2000, NULL, NULL),"
                " (1, 2, 'x1', 'Ev', 'critical', 'open', 'v', 'worse', 'severity', 3000,"
                "  'bob', 60),"
                " (2, 1, 'x2', 'Ev', 'minor', 'open', NULL, 'older', 'new', 1000, NULL, NULL)");
    exec_ok(db, "COMMIT");
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/tocsin-migrate-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    fill_ctx(f->ctx_p1, 'p');
    fill_ctx(f->ctx_d1, 'd');
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char path[512];

    store_close(f->w);
    while (d && (e = readdir(d))) {
        snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void open_writer(struct fx *f)
{
    char err[256] = "";

    assert_int_equal(store_open(f->dir, DURABILITY_BATCH, false, &f->w, err, sizeof(err)),
                     TOCSIN_OK);
}

/* The first value of a query on a raw connection (to look behind the API), as text ("" for
 * no row or NULL). */
static void raw_text(const char *dir, const char *sql, char *out, size_t outlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    const unsigned char *t = NULL;

    db = open_store_db(dir, SQLITE_OPEN_READONLY);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        t = sqlite3_column_text(st, 0);
    snprintf(out, outlen, "%s", t ? (const char *)t : "");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static int64_t raw_int(const char *dir, const char *sql)
{
    char t[32];

    raw_text(dir, sql, t, sizeof(t));
    return strtoll(t, NULL, 10);
}

struct loaded {
    struct notify_rec *n[4];
    size_t count;
};

static int collect(void *ud, struct notify_rec *n)
{
    struct loaded *l = ud;

    if (l->count < 4)
        l->n[l->count++] = n;
    else
        notify_rec_free(n);
    return 0;
}

/* The "deliveryAttempts" of notification id, as "n:httpStatus:error" joined by spaces. */
static void attempts_of(struct store *s, const char *id, char *out, size_t outlen)
{
    json_t *o = NULL, *a;
    size_t i, len = 0;

    assert_int_equal(store_notify_get_json(s, id, &o), TOCSIN_OK);
    out[0] = '\0';
    json_array_foreach(json_object_get(o, "deliveryAttempts"), i, a) {
        const char *e = json_string_value(json_object_get(a, "error"));
        len += (size_t)snprintf(out + len, outlen - len, "%s%lld:%lld:%s", i ? " " : "",
                                json_integer_value(json_object_get(a, "attempt")),
                                json_integer_value(json_object_get(a, "httpStatus")),
                                e ? e : "-");
        assert_true(len < outlen);
    }
    json_decref(o);
}

/* Every outbox row holds the keys of its id and alert id (migration 9 computed them). */
static void check_keys(const char *dir)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rows = 0;

    db = open_store_db(dir, SQLITE_OPEN_READONLY);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT id, idk, alert_id, alertk FROM outbox", -1, &st, NULL),
        SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *alert = (const char *)sqlite3_column_text(st, 2);
        assert_true(sqlite3_column_int64(st, 1) == store_outbox_key(id, strlen(id)));
        if (alert)
            assert_true(sqlite3_column_int64(st, 3) == store_outbox_key(alert, strlen(alert)));
        else
            assert_int_equal(sqlite3_column_type(st, 3), SQLITE_NULL);
        rows++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_true(rows > 0);
}

static void check_layout(const char *dir)
{
    char ok[16];

    assert_int_equal(raw_int(dir, "PRAGMA user_version"), 13);
    /* migration 13: the list's index carries the environment, last */
    assert_int_equal(raw_int(dir, "SELECT count(*) FROM pragma_index_info('alert_by_status_sev')"),
                     5);
    assert_int_equal(raw_int(dir, "SELECT seqno FROM pragma_index_info('alert_by_status_sev')"
                                  " WHERE name = 'environment'"),
                     4);
    /* migration 12: history rows in the order written, by alert through a unique index */
    assert_int_equal(raw_int(dir, "SELECT count(*) FROM pragma_table_info('alert_history')"
                                  " WHERE name = 'hseq' AND pk = 1"),
                     1);
    assert_int_equal(raw_int(dir, "SELECT \"unique\" FROM pragma_index_list('alert_history')"
                                  " WHERE name = 'alert_history_by_rid'"),
                     1);
    assert_int_equal(raw_int(dir, "SELECT count(*) FROM pragma_index_list('alert_history')"
                                  " WHERE name = 'alert_history_by_time'"),
                     1);
    /* migration 11: the id index is the engine's, in memory */
    assert_int_equal(raw_int(dir, "SELECT count(*) FROM sqlite_master WHERE name = 'alert_by_id'"),
                     0);
    assert_int_equal(raw_int(dir, "SELECT count(*) FROM pragma_table_info('notify_ctx')"
                                  " WHERE name IN ('base', 'alen')"),
                     2);
    assert_int_equal(raw_int(dir, "SELECT count(*) FROM pragma_table_info('outbox')"
                                  " WHERE name = 'ctx'"),
                     0);
    assert_int_equal(raw_int(dir, "SELECT count(*) FROM pragma_table_info('notify_attempt')"
                                  " WHERE name = 'notification'"),
                     0);
    assert_int_equal(raw_int(dir, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                  " AND name IN ('notify_attempt_outbox', 'outbox_pending',"
                                  " 'outbox_alert', 'notify_ctx_base', 'outbox_id',"
                                  " 'outbox_failed')"),
                     6);
    assert_int_equal(raw_int(dir, "SELECT count(*) FROM sqlite_master"
                                  " WHERE name LIKE 'sqlite_autoindex_outbox%'"),
                     0);
    check_keys(dir);
    assert_int_equal(raw_int(dir, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                  " AND name = 'outbox_status_next'"),
                     0);
    raw_text(dir, "PRAGMA integrity_check", ok, sizeof(ok));
    assert_string_equal(ok, "ok");
}

/* Every version-5 notification is there, with its context and attempts; the pending ones load
 * in seq order, whole. Hands the loaded ones to l. */
static void check_v5_contents(struct fx *f, struct loaded *l)
{
    struct notify_rec *r = NULL;
    char att[256];

    /* the history rows, whole, numbered in their time order */
    raw_text(f->dir,
             "SELECT group_concat(r, ' ') FROM (SELECT rid || ':' || seq || ':' || id || ':' ||"
             " severity || ':' || status || ':' || ifnull(value, '-') || ':' || text || ':' ||"
             " type || ':' || update_time || ':' || ifnull(user, '-') || ':' ||"
             " ifnull(timeout, '-') AS r FROM alert_history ORDER BY hseq)",
             att, sizeof(att));
    assert_string_equal(att, "2:1:x2:minor:open:-:older:new:1000:-:- "
                             "1:1:x1:major:open:-:new one:new:2000:-:- "
                             "1:2:x1:critical:open:v:worse:severity:3000:bob:60");
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM outbox"), 4);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM notify_ctx"), 2);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM notify_attempt"), 5);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM notify_attempt"
                                     " WHERE outbox_seq IS NULL"),
                     1); /* the attempt of no notification is kept */
    assert_int_equal(store_outbox_load_pending(f->w, collect, l), TOCSIN_OK);
    assert_int_equal(l->count, 2);
    assert_string_equal(l->n[0]->id, "p1");
    assert_int_equal(l->n[0]->seq, 7);
    assert_string_equal(l->n[0]->ctx, f->ctx_p1);
    assert_string_equal(l->n[0]->channel_id, "hook");
    assert_string_equal(l->n[0]->change, "resolve");
    assert_int_equal(l->n[0]->attempts, 1);
    assert_int_equal(l->n[0]->next_ms, 3000);
    assert_string_equal(l->n[1]->id, "p2");
    assert_null(l->n[1]->ctx);
    assert_string_equal(l->n[1]->url, "http://h/y");
    assert_int_equal(store_outbox_get(f->w, "d1", &r), TOCSIN_OK);
    assert_string_equal(r->ctx, f->ctx_d1);
    assert_string_equal(r->ticket, "{\"number\":\"INC1\"}");
    assert_int_equal(r->status, NOTIFY_DELIVERED);
    notify_rec_free(r);
    attempts_of(f->w, "d1", att, sizeof(att));
    assert_string_equal(att, "1:502:HTTP 502 2:200:-");
    attempts_of(f->w, "f1", att, sizeof(att));
    assert_string_equal(att, "1:500:HTTP 500");
    attempts_of(f->w, "p1", att, sizeof(att));
    assert_string_equal(att, "1:503:HTTP 503");
}

/* The migrated rows work on: p1 is delivered at its second attempt, its id is still taken,
 * and the purge takes the finished ones with their contexts and attempts. */
static void work_on(struct fx *f, struct notify_rec *p1)
{
    struct notify_attempt_rec a2 = {.notification = "p1", .outbox_seq = p1->seq, .n = 2,
                                    .at_ms = 4000, .duration_ms = 2, .http_status = 200};
    int64_t deleted = 0;
    char att[256];

    p1->status = NOTIFY_DELIVERED;
    p1->attempts = 2;
    p1->updated_ms = 4000;
    assert_int_equal(store_outbox_update(f->w, p1), TOCSIN_OK);
    assert_int_equal(store_attempt_insert(f->w, &a2), TOCSIN_OK);
    attempts_of(f->w, "p1", att, sizeof(att));
    assert_string_equal(att, "1:503:HTTP 503 2:200:-");
    log_setup(LOG_OFF, NULL);
    assert_int_equal(store_outbox_insert(f->w, p1), TOCSIN_EEXIST);
    log_setup(LOG_WARN, NULL);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM notify_ctx"), 2); /* no second one */
    assert_int_equal(store_outbox_purge(f->w, 5000, 100, &deleted), TOCSIN_OK);
    assert_int_equal(deleted, 3);
    raw_text(f->dir, "SELECT group_concat(id) FROM outbox", att, sizeof(att));
    assert_string_equal(att, "p2");
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM notify_ctx"), 0);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM notify_attempt"), 1);
}

static void test_v5_database_migrates(void **state)
{
    struct fx *f = *state;
    struct loaded l = {0};

    make_v5(f);
    open_writer(f);
    check_layout(f->dir);
    check_v5_contents(f, &l);
    work_on(f, l.n[0]);
    for (size_t i = 0; i < l.count; i++)
        notify_rec_free(l.n[i]);
    /* a second open migrates nothing */
    store_close(f->w);
    f->w = NULL;
    open_writer(f);
    check_layout(f->dir);
}

static struct notify_rec *mk_rule_notify(const char *id, const char *ctx)
{
    struct notify_rec *n = calloc(1, sizeof(*n));

    assert_non_null(n);
    snprintf(n->id, sizeof(n->id), "%s", id);
    snprintf(n->alert_id, sizeof(n->alert_id), "a1");
    n->channel = strdup("webhook");
    n->method = strdup("");
    n->url = strdup("");
    n->headers_json = strdup("[]");
    n->body = strdup("");
    n->rule_id = strdup("r1");
    n->channel_id = strdup("hook");
    n->change = strdup("create");
    n->ctx = ctx ? strdup(ctx) : NULL;
    n->max_attempts = 5;
    n->created_ms = n->updated_ms = T_MS;
    return n;
}

/* A new notification's context goes to notify_ctx under its seq, written once; its attempts
 * are keyed by that seq whether the caller knows it or only the id. */
static void test_context_and_attempts_by_seq(void **state)
{
    struct fx *f = *state;
    struct notify_rec *n1 = mk_rule_notify("n1", f->ctx_p1), *n2 = mk_rule_notify("n2", NULL);
    struct notify_rec *back = NULL;
    struct notify_attempt_rec by_seq = {.notification = "n1", .n = 2, .at_ms = T_MS,
                                        .http_status = 200};
    struct notify_attempt_rec by_id = {.notification = "n1", .n = 1, .at_ms = T_MS,
                                       .http_status = 500, .error = "HTTP 500"};
    char att[256];

    open_writer(f);
    assert_int_equal(store_begin(f->w), TOCSIN_OK);
    assert_int_equal(store_outbox_insert(f->w, n1), TOCSIN_OK);
    assert_int_equal(store_outbox_insert(f->w, n2), TOCSIN_OK);
    assert_int_equal(store_commit(f->w), TOCSIN_OK);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM notify_ctx"), 1);
    assert_int_equal(raw_int(f->dir, "SELECT seq FROM notify_ctx"), n1->seq);

    n1->status = NOTIFY_DELIVERED;
    n1->attempts = 2;
    assert_int_equal(store_outbox_update(f->w, n1), TOCSIN_OK);
    by_seq.outbox_seq = n1->seq;
    assert_int_equal(store_attempt_insert(f->w, &by_seq), TOCSIN_OK);
    assert_int_equal(store_attempt_insert(f->w, &by_id), TOCSIN_OK);
    attempts_of(f->w, "n1", att, sizeof(att));
    assert_string_equal(att, "1:500:HTTP 500 2:200:-");
    attempts_of(f->w, "n2", att, sizeof(att));
    assert_string_equal(att, "");
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM notify_attempt a"
                                     " JOIN outbox o ON o.seq = a.outbox_seq WHERE o.id = 'n1'"),
                     2);

    /* the update rewrote the row, not the context; the record reads back whole */
    assert_int_equal(store_outbox_get(f->w, "n1", &back), TOCSIN_OK);
    assert_string_equal(back->ctx, f->ctx_p1);
    assert_int_equal(back->status, NOTIFY_DELIVERED);
    notify_rec_free(back);
    notify_rec_free(n1);
    notify_rec_free(n2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_v5_database_migrates, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_context_and_attempts_by_seq, fx_setup,
                                        fx_teardown),
    };

    log_setup(LOG_WARN, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
