/* The SQLite store: schema, writer operations, start-up loading and the JSON read API, each test
 * on a fresh database in its own temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/model.h"
#include "core/alertdb.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"

#include "sqlite_helpers.h"

#define T_ISO "2026-11-24T05:44:27.123Z"
#define T_MS INT64_C(1795499067123)

struct fx {
    char dir[64];
    struct store *w; /* the writer */
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char err[256] = "";

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/tocsin-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(store_open(f->dir, DURABILITY_BATCH, false, &f->w, err, sizeof(err)),
                     TOCSIN_OK);
    *state = f;
    return 0;
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];

    if (!d)
        return;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;

    store_close(f->w);
    rm_tree(f->dir);
    free(f);
    return 0;
}

/* One integer from a raw SQLite connection (to look behind the API). */
static int64_t raw_int(const char *dir, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    db = open_store_db(dir, SQLITE_OPEN_READONLY);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static struct alert_rec *mk_alert(const char *id, const char *fp, const char *trigger,
                                  enum severity sev, enum alert_status status, int64_t last_ms)
{
    struct alert_rec *a = calloc(1, sizeof(*a));

    assert_non_null(a);
    snprintf(a->id, sizeof(a->id), "%s", id);
    a->fingerprint = strdup(fp);
    a->trigger_id = strdup(trigger);
    a->name = strdup("High latency");
    a->source = strdup("REQUEST");
    a->description = strdup("p99 above 500 ms");
    a->severity = sev;
    a->status = status;
    a->count = 3;
    a->first_ms = T_MS - 1000;
    a->last_ms = last_ms;
    a->updated_ms = last_ms;
    a->resolved_ms = status == ALERT_RESOLVED ? last_ms : 0;
    a->projection_json = strdup("{\"api\":\"a1\"}");
    a->properties_json = strdup("{\"response.time\":812}");
    a->message = strdup("latency 812 > 500");
    return a;
}

static struct notify_rec *mk_notify(const char *id, const char *alert, const char *trigger)
{
    struct notify_rec *n = calloc(1, sizeof(*n));

    assert_non_null(n);
    snprintf(n->id, sizeof(n->id), "%s", id);
    snprintf(n->alert_id, sizeof(n->alert_id), "%s", alert);
    n->trigger_id = strdup(trigger);
    n->channel = strdup("webhook-notifier");
    n->method = strdup("POST");
    n->url = strdup("https://user:s3cret@hooks.example.com/x?y=1");
    n->headers_json = strdup("[{\"name\":\"Authorization\",\"value\":\"Bearer TOPSECRET\"},"
                             "{\"name\":\"X-Env\",\"value\":\"prod\"}]");
    n->body = strdup("{\"alert\":\"x\"}");
    n->use_proxy = true;
    n->tls_verify = false;
    n->resolve = true;
    n->status = NOTIFY_PENDING;
    n->max_attempts = 7;
    n->created_ms = T_MS;
    n->next_ms = T_MS + 5;
    n->updated_ms = T_MS;
    return n;
}

/* ---- schema ---- */

static void test_migrations_fresh_and_reopen(void **state)
{
    struct fx *f = *state;
    struct store *again = NULL;
    char path[256], err[256] = "";
    struct stat sb;

    assert_int_equal(raw_int(f->dir, "PRAGMA user_version"), 13);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                                     " AND name IN ('triggers', 'alerts', 'outbox', 'alert',"
                                     " 'alert_history', 'alert_note', 'notify_attempt')"),
                     7);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                     " AND name IN ('alerts_status_last', 'alerts_severity',"
                                     " 'alerts_trigger', 'outbox_pending', 'outbox_alert',"
                                     " 'outbox_id', 'outbox_failed')"),
                     7);
    /* migration 8: the start-up load of pending notifications walks the partial index */
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                     " AND name = 'outbox_pending' AND sql LIKE '%status = 0%'"),
                     1);
    /* migration 11: no index on alert ids (util/sidx.h); new files have 1 KiB pages */
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                     " AND name = 'alert_by_id'"),
                     0);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                     " AND tbl_name = 'alert'"),
                     2);
    assert_int_equal(raw_int(f->dir, "PRAGMA page_size"), 1024);
    snprintf(path, sizeof(path), "%s/tocsin.db", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* A second open of an up-to-date database migrates nothing and works. */
    assert_int_equal(store_open(f->dir, DURABILITY_SYNC, false, &again, err, sizeof(err)),
                     TOCSIN_OK);
    assert_string_equal(store_backend_name(again), "sqlite");
    store_close(again);
    assert_int_equal(raw_int(f->dir, "PRAGMA user_version"), 13);
}

static void test_journal_is_wal(void **state)
{
    struct fx *f = *state;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    db = open_store_db(f->dir, SQLITE_OPEN_READWRITE);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_open_errors(void **state)
{
    struct fx *f = *state;
    struct store *s = (struct store *)1;
    char dir[64], err[256] = "";

    (void)f;
    log_setup(LOG_OFF, NULL);
    snprintf(dir, sizeof(dir), "/tmp/tocsin-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    /* A reader needs the writer to have created the schema. */
    assert_int_not_equal(store_open(dir, DURABILITY_BATCH, true, &s, err, sizeof(err)),
                         TOCSIN_OK);
    assert_null(s);
    assert_true(strlen(err) > 0);
    assert_int_not_equal(store_open("", DURABILITY_BATCH, false, &s, err, sizeof(err)),
                         TOCSIN_OK);
    log_setup(LOG_WARN, NULL);
    rm_tree(dir);
}

/* ---- triggers ---- */

struct ids {
    char v[8][40];
    size_t n;
};

static int collect_trigger(void *ud, const char *id, const char *json)
{
    struct ids *ids = ud;

    assert_non_null(json);
    if (ids->n < 8)
        snprintf(ids->v[ids->n++], sizeof(ids->v[0]), "%s", id);
    return 0;
}

static void test_triggers(void **state)
{
    struct fx *f = *state;
    struct store_page page = {.limit = 2, .offset = 0};
    struct ids ids = {0};
    json_t *j = NULL;

    assert_int_equal(store_trigger_put(f->w, "t1", "{\"id\":\"t1\",\"v\":1}", true, 10, 10), 0);
    assert_int_equal(store_trigger_put(f->w, "t2", "{\"id\":\"t2\",\"v\":1}", true, 20, 20), 0);
    assert_int_equal(store_trigger_put(f->w, "t3", "{\"id\":\"t3\",\"v\":1}", false, 30, 30), 0);
    /* Upsert: new JSON, first created_ms kept, position kept. */
    assert_int_equal(store_trigger_put(f->w, "t2", "{\"id\":\"t2\",\"v\":2}", false, 99, 40), 0);
    assert_int_equal(raw_int(f->dir, "SELECT created_ms FROM triggers WHERE id = 't2'"), 20);
    assert_int_equal(raw_int(f->dir, "SELECT updated_ms FROM triggers WHERE id = 't2'"), 40);
    assert_int_equal(raw_int(f->dir, "SELECT enabled FROM triggers WHERE id = 't2'"), 0);

    assert_int_equal(store_trigger_get_json(f->w, "t2", &j), TOCSIN_OK);
    assert_int_equal(json_integer_value(json_object_get(j, "v")), 2);
    json_decref(j);

    assert_int_equal(store_trigger_list_json(f->w, &page, &j), TOCSIN_OK);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 3);
    assert_int_equal(json_array_size(json_object_get(j, "triggers")), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "triggers"), 1), "id")),
        "t2");
    json_decref(j);
    page.offset = 2;
    assert_int_equal(store_trigger_list_json(f->w, &page, &j), TOCSIN_OK);
    assert_int_equal(json_array_size(json_object_get(j, "triggers")), 1);
    json_decref(j);

    assert_int_equal(store_trigger_delete(f->w, "t2"), TOCSIN_OK);
    assert_int_equal(store_trigger_delete(f->w, "t2"), TOCSIN_ENOTFOUND);
    assert_int_equal(store_trigger_get_json(f->w, "t2", &j), TOCSIN_ENOTFOUND);
    assert_null(j);

    assert_int_equal(store_trigger_load_all(f->w, collect_trigger, &ids), TOCSIN_OK);
    assert_int_equal(ids.n, 2);
    assert_string_equal(ids.v[0], "t1");
    assert_string_equal(ids.v[1], "t3");
}

static int stop_after_one(void *ud, const char *id, const char *json)
{
    (void)id;
    (void)json;
    ++*(int *)ud;
    return 42;
}

static void test_transactions_and_callback_stop(void **state)
{
    struct fx *f = *state;
    json_t *j = NULL;
    int calls = 0;

    assert_int_equal(store_begin(f->w), TOCSIN_OK);
    assert_int_equal(store_trigger_put(f->w, "a", "{}", true, 1, 1), TOCSIN_OK);
    assert_int_equal(store_rollback(f->w), TOCSIN_OK);
    assert_int_equal(store_trigger_get_json(f->w, "a", &j), TOCSIN_ENOTFOUND);

    assert_int_equal(store_begin(f->w), TOCSIN_OK);
    assert_int_equal(store_trigger_put(f->w, "a", "{}", true, 1, 1), TOCSIN_OK);
    assert_int_equal(store_trigger_put(f->w, "b", "{}", true, 1, 1), TOCSIN_OK);
    assert_int_equal(store_commit(f->w), TOCSIN_OK);
    assert_int_equal(store_trigger_get_json(f->w, "b", &j), TOCSIN_OK);
    json_decref(j);

    /* A callback's non-zero return stops the walk and is returned. */
    assert_int_equal(store_trigger_load_all(f->w, stop_after_one, &calls), 42);
    assert_int_equal(calls, 1);
}

/* ---- alerts ---- */

static void put_alerts(struct store *w)
{
    struct alert_rec *a[5] = {
        mk_alert("a1", "t1|x", "t1", SEV_CRITICAL, ALERT_OPEN, T_MS),
        mk_alert("a2", "t1|y", "t1", SEV_WARNING, ALERT_OPEN, T_MS + 10),
        mk_alert("a3", "t2|x", "t2", SEV_CRITICAL, ALERT_RESOLVED, T_MS + 20),
        mk_alert("a4", "t2|y", "t2", SEV_INFO, ALERT_OPEN, T_MS + 30),
        mk_alert("a5", "t3|x", "t3", SEV_CRITICAL, ALERT_OPEN, T_MS + 40),
    };

    for (int i = 0; i < 5; i++) {
        assert_int_equal(store_alert_upsert(w, a[i]), TOCSIN_OK);
        alert_rec_free(a[i]);
    }
}

static int collect_alert(void *ud, struct alert_rec *a)
{
    struct ids *ids = ud;

    if (ids->n < 8)
        snprintf(ids->v[ids->n++], sizeof(ids->v[0]), "%s", a->id);
    assert_string_equal(a->projection_json, "{\"api\":\"a1\"}");
    alert_rec_free(a);
    return 0;
}

static void test_alert_upsert_update_unique_and_load(void **state)
{
    struct fx *f = *state;
    struct alert_rec *a = mk_alert("a1", "t1|x", "t1", SEV_WARNING, ALERT_RESOLVED, T_MS + 99);
    struct alert_rec *dup = mk_alert("other", "t1|y", "t1", SEV_INFO, ALERT_OPEN, T_MS);
    struct alert_rec *again = mk_alert("a6", "t1|x", "t1", SEV_INFO, ALERT_OPEN, T_MS + 100);
    struct ids ids = {0};

    put_alerts(f->w);
    a->count = 9;
    assert_int_equal(store_alert_upsert(f->w, a), TOCSIN_OK);
    assert_int_equal(raw_int(f->dir, "SELECT count FROM alerts WHERE id = 'a1'"), 9);
    assert_int_equal(raw_int(f->dir, "SELECT severity FROM alerts WHERE id = 'a1'"), SEV_WARNING);

    log_setup(LOG_OFF, NULL);
    /* One open alert per fingerprint: a2 holds t1|y. */
    assert_int_equal(store_alert_upsert(f->w, dup), TOCSIN_EEXIST);
    log_setup(LOG_WARN, NULL);
    /* a1 (t1|x) is resolved history: the same fingerprint may open again as a new alert. */
    assert_int_equal(store_alert_upsert(f->w, again), TOCSIN_OK);

    /* a1 and a3 are resolved now: a2, a4, a5, a6 are open, oldest last_ms first. */
    assert_int_equal(store_alert_load_open(f->w, collect_alert, &ids), TOCSIN_OK);
    assert_int_equal(ids.n, 4);
    assert_string_equal(ids.v[0], "a2");
    assert_string_equal(ids.v[3], "a6");
    alert_rec_free(a);
    alert_rec_free(dup);
    alert_rec_free(again);
}

/* Alerta-model alerts: a change written, history trimmed, a note, a delete, and the start-up
 * load giving back the same record. */
static int collect_xalert(void *ud, struct alert *a)
{
    struct alert **slot = ud;

    if (*slot)
        alert_free(*slot);
    *slot = a;
    return 0;
}

static void test_xalert_apply_and_load(void **state)
{
    struct fx *f = *state;
    struct alertdb_cfg cfg;
    struct alertdb *db;
    struct effects fx;
    struct alert_in in;
    struct alert *a = NULL, *back = NULL;
    struct buf j1, j2;
    char note[37], why[64];
    int kind;

    alertdb_cfg_default(&cfg);
    cfg.history_limit = 2;
    db = alertdb_new(&cfg, T_MS);
    effects_init(&fx);
    alert_in_init(&in);
    in.resource = "web01";
    in.event = "HttpError";
    in.severity = sevmap_find(&cfg.sev, "major", 5);
    in.raw_data = "raw!";
    in.flags |= AIN_RAW;
    assert_int_equal(alertdb_receive(db, &in, NULL, NULL, "bob", false, T_MS, &fx, &a, &kind), 0);
    assert_int_equal(alertdb_action(db, a->id, "ack", "mine", -1, "bob", T_MS, &fx, why,
                                    sizeof(why)),
                     0);
    assert_int_equal(alertdb_action(db, a->id, "unack", "", -1, "bob", T_MS, &fx, why,
                                    sizeof(why)),
                     0);
    assert_int_equal(alertdb_note(db, a->id, "a note", "bob", T_MS, &fx, note), 0);
    assert_int_equal(store_begin(f->w), TOCSIN_OK);
    for (size_t i = 0; i < fx.n; i++)
        assert_int_equal(store_achange_apply(f->w, fx.v[i].u.achange), TOCSIN_OK);
    assert_int_equal(store_commit(f->w), TOCSIN_OK);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM alert"), 1);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM alert_history"), 2); /* capped */
    assert_int_equal(raw_int(f->dir, "SELECT min(seq) FROM alert_history"), 3);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM alert_note"), 1);
    assert_int_equal(raw_int(f->dir, "SELECT length(raw_data) FROM alert"), 4);
    assert_int_equal(raw_int(f->dir, "SELECT sevcode FROM alert"), 2);
    /* a duplicate without rawData sets it to null (Alerta overwrites it) */
    effects_clear(&fx);
    in.flags &= ~(unsigned)AIN_RAW;
    in.raw_data = NULL;
    assert_int_equal(alertdb_receive(db, &in, NULL, NULL, "bob", false, T_MS, &fx, &a, &kind), 0);
    for (size_t i = 0; i < fx.n; i++)
        assert_int_equal(store_achange_apply(f->w, fx.v[i].u.achange), TOCSIN_OK);
    assert_int_equal(raw_int(f->dir, "SELECT raw_data IS NULL FROM alert"), 1);
    assert_int_equal(raw_int(f->dir, "SELECT duplicate_count FROM alert"), 1);
    /* the state column gives back the same record */
    assert_int_equal(store_alert_load(f->w, false, collect_xalert, &back), TOCSIN_OK);
    assert_non_null(back);
    buf_init(&j1, 1 << 20);
    buf_init(&j2, 1 << 20);
    alert_render_json(&j1, &cfg.sev, a, NULL);
    alert_render_json(&j2, &cfg.sev, back, NULL);
    assert_string_equal(buf_str(&j1), buf_str(&j2));
    buf_free(&j1);
    buf_free(&j2);
    alert_free(back);
    /* a delete takes history and notes with it */
    effects_clear(&fx);
    assert_int_equal(alertdb_delete(db, a->id, &fx), 0);
    assert_int_equal(store_achange_apply(f->w, fx.v[0].u.achange), TOCSIN_OK);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM alert"), 0);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM alert_history"), 0);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM alert_note"), 0);
    effects_free(&fx);
    alertdb_free(db);
}

/* The start-up load's count, and its loads either way, on another connection too. */
struct rids {
    uint64_t v[8];
    size_t n;
};

static int collect_rid(void *ud, struct alert *a)
{
    struct rids *r = ud;

    if (r->n < 8)
        r->v[r->n++] = a->rid;
    alert_free(a);
    return 0;
}

static int stop_at_first(void *ud, struct alert *a)
{
    (void)ud;
    alert_free(a);
    return TOCSIN_ENOMEM;
}

/* Stores n alerts (resources host0.., rids 1..n), then deletes those for which gone(rid) says
 * so, in one transaction of the writer. */
static void store_hosts(struct fx *f, int n, bool (*gone)(uint64_t rid))
{
    struct alertdb_cfg cfg;
    struct alertdb *db;
    struct effects fx;
    struct alert_in in;
    struct alert *a = NULL;
    uint8_t(*ids)[16] = calloc((size_t)n, 16);
    char res[16];
    int kind;

    assert_non_null(ids);
    alertdb_cfg_default(&cfg);
    db = alertdb_new(&cfg, T_MS);
    effects_init(&fx);
    alert_in_init(&in);
    in.event = "Down";
    in.severity = sevmap_find(&cfg.sev, "major", 5);
    for (int i = 0; i < n; i++) {
        snprintf(res, sizeof(res), "host%d", i);
        in.resource = res;
        assert_int_equal(alertdb_receive(db, &in, NULL, NULL, NULL, false, T_MS, &fx, &a, &kind),
                         0);
        assert_int_equal(a->rid, i + 1);
        memcpy(ids[i], a->id, 16);
    }
    for (int i = 0; i < n; i++)
        if (gone((uint64_t)i + 1))
            assert_int_equal(alertdb_delete(db, ids[i], &fx), 0);
    assert_int_equal(store_begin(f->w), TOCSIN_OK);
    for (size_t i = 0; i < fx.n; i++)
        assert_int_equal(store_achange_apply(f->w, fx.v[i].u.achange), TOCSIN_OK);
    assert_int_equal(store_commit(f->w), TOCSIN_OK);
    effects_free(&fx);
    alertdb_free(db);
    free(ids);
}

static int64_t mmap_size(struct store *s)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    assert_int_equal(sqlite3_prepare_v2(store_native(s), "PRAGMA mmap_size", -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The load reads through a mapping of the file while it runs, and drops it at the end. */
struct mapped {
    struct store *s;
    int64_t during;
};

static int note_mapping(void *ud, struct alert *a)
{
    struct mapped *m = ud;

    m->during = mmap_size(m->s);
    alert_free(a);
    return 0;
}

static bool gone_1_and_4(uint64_t rid)
{
    return rid == 1 || rid == 4;
}

static void test_xalert_count_and_load(void **state)
{
    struct fx *f = *state;
    uint64_t count = 9;
    struct store *r;
    struct rids got = {0};
    char err[256];

    assert_int_equal(store_alert_count(f->w, &count), TOCSIN_OK);
    assert_int_equal(count, 0);
    store_hosts(f, 5, gone_1_and_4);
    assert_int_equal(store_alert_count(f->w, &count), TOCSIN_OK);
    assert_int_equal(count, 3);
    /* rows come in rid order, on the writer's connection and on a reader's */
    assert_int_equal(store_alert_load(f->w, false, collect_rid, &got), TOCSIN_OK);
    assert_int_equal(got.n, 3);
    assert_true(got.v[0] == 2 && got.v[1] == 3 && got.v[2] == 5);
    assert_int_equal(store_open(f->dir, DURABILITY_BATCH, true, &r, err, sizeof(err)), TOCSIN_OK);
    got.n = 0; /* descending */
    assert_int_equal(store_alert_load(r, true, collect_rid, &got), TOCSIN_OK);
    assert_int_equal(got.n, 3);
    assert_true(got.v[0] == 5 && got.v[1] == 3 && got.v[2] == 2);
    /* the callback's error ends the load and is returned */
    assert_int_equal(store_alert_load(r, false, stop_at_first, NULL), TOCSIN_ENOMEM);
    assert_int_equal(mmap_size(r), 0); /* the mapping is dropped either way */
    store_close(r);
    {
        struct mapped m = {f->w, -1};
        assert_int_equal(mmap_size(f->w), 0);
        assert_int_equal(store_alert_load(f->w, false, note_mapping, &m), TOCSIN_OK);
        assert_true(m.during > 0);
        assert_int_equal(mmap_size(f->w), 0);
    }
}

/* The load from both ends (start-up's, two threads): every row once, in rid order, whatever the
 * rids' spread; a callback's error ends it and is returned, every record freed either way. */
struct seen {
    uint64_t *rid;
    size_t n, fail_at;
};

static int see_rid(void *ud, struct alert *a)
{
    struct seen *s = ud;

    if (s->n == s->fail_at) {
        alert_free(a);
        return TOCSIN_ENOMEM;
    }
    s->rid[s->n++] = a->rid;
    alert_free(a);
    return 0;
}

static bool gone_2_to_4000(uint64_t rid)
{
    return rid >= 2 && rid <= 4000;
}

static void test_xalert_load_from_both_ends(void **state)
{
    struct fx *f = *state;
    struct store *down;
    struct seen seen = {calloc(9000, sizeof(uint64_t)), 0, SIZE_MAX};
    uint64_t helper = 0;
    char err[256];

    store_hosts(f, 9000, gone_2_to_4000); /* rid 1, then 4001..9000: the top is dense */
    assert_non_null(seen.rid);
    for (int round = 0; round < 3; round++) { /* where they meet varies; the outcome may not */
        seen.n = 0;
        assert_int_equal(store_open(f->dir, DURABILITY_BATCH, true, &down, err, sizeof(err)),
                         TOCSIN_OK);
        assert_int_equal(store_alert_load_meet(f->w, down, see_rid, &seen, &helper), TOCSIN_OK);
        assert_int_equal(seen.n, 5001);
        assert_int_equal(seen.rid[0], 1);
        for (size_t i = 1; i < seen.n; i++)
            assert_int_equal(seen.rid[i], 4000 + i);
        assert_true(helper <= 5001);
    }
    /* an error from the callback, in the helper's part or the main thread's */
    for (size_t i = 0; i < 2; i++) {
        seen.n = 0;
        seen.fail_at = i ? 0 : 4000;
        assert_int_equal(store_open(f->dir, DURABILITY_BATCH, true, &down, err, sizeof(err)),
                         TOCSIN_OK);
        assert_int_equal(store_alert_load_meet(f->w, down, see_rid, &seen, NULL), TOCSIN_ENOMEM);
        assert_int_equal(seen.n, seen.fail_at);
    }
    free(seen.rid);
}

/* ---- outbox ---- */

struct loaded {
    struct notify_rec *n[4];
    size_t count;
};

static int collect_notify(void *ud, struct notify_rec *n)
{
    struct loaded *l = ud;

    if (l->count < 4)
        l->n[l->count++] = n;
    else
        notify_rec_free(n);
    return 0;
}

static void put_outbox(struct store *w, struct notify_rec *n[3])
{
    n[0] = mk_notify("n1", "a1", "t1");
    n[1] = mk_notify("n2", "a1", "t1");
    n[2] = mk_notify("n3", "a2", "t2");
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_outbox_insert(w, n[i]), TOCSIN_OK);
}

/* Finished notifications past the keep time go with their attempts, oldest first, bounded. */
static void test_outbox_purge(void **state)
{
    struct fx *f = *state;
    struct notify_rec *n[3];
    int64_t deleted = -1;

    put_outbox(f->w, n);
    for (int i = 0; i < 3; i++) {
        struct notify_attempt_rec at = {.notification = n[i]->id, .n = 1, .at_ms = T_MS,
                                        .duration_ms = 3, .http_status = 500,
                                        .error = "HTTP 500", .response = "no"};
        assert_int_equal(store_attempt_insert(f->w, &at), TOCSIN_OK);
        n[i]->status = i == 2 ? NOTIFY_PENDING : i == 0 ? NOTIFY_DELIVERED : NOTIFY_FAILED;
        n[i]->updated_ms = T_MS + i;
        assert_int_equal(store_outbox_update(f->w, n[i]), TOCSIN_OK);
    }
    /* nothing is older than T_MS */
    assert_int_equal(store_outbox_purge(f->w, T_MS, 100, &deleted), TOCSIN_OK);
    assert_int_equal(deleted, 0);
    /* a batch of one: the oldest finished one */
    assert_int_equal(store_outbox_purge(f->w, T_MS + 10, 1, &deleted), TOCSIN_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM outbox WHERE id = 'n1'"), 0);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM notify_attempt"), 2);
    /* then the other finished one; the pending one stays, with its attempt */
    assert_int_equal(store_outbox_purge(f->w, T_MS + 10, 100, &deleted), TOCSIN_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM outbox"), 1);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM outbox WHERE id = 'n3'"), 1);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM notify_attempt"), 1);
    for (int i = 0; i < 3; i++)
        notify_rec_free(n[i]);
}

/* The purge considers only the rows created before the cutoff: its bound, found by a binary
 * search over seq, is the first row created at or after it (rows are numbered in the order they
 * are created). Every row here says updated_ms T_MS + 1, which no real row created later could,
 * so a bound one row early or late, or none, changes what goes. Seqs with gaps (rows already
 * purged, pending ones kept) included. */
#define PB_ROWS 37

static void pb_mark(struct store *w, struct notify_rec *n, enum notify_status status)
{
    n->status = status;
    n->updated_ms = T_MS + 1;
    assert_int_equal(store_outbox_update(w, n), TOCSIN_OK);
}

static void test_outbox_purge_bound(void **state)
{
    struct fx *f = *state;
    struct notify_rec *n[PB_ROWS];
    int64_t deleted = -1;

    for (int i = 0; i < PB_ROWS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "b%d", i);
        n[i] = mk_notify(id, "a1", "t1");
        n[i]->created_ms = T_MS + 10 * i; /* b<i> at T_MS + 10 i */
        assert_int_equal(store_outbox_insert(f->w, n[i]), TOCSIN_OK);
        pb_mark(f->w, n[i], i >= 5 && i <= 9 ? NOTIFY_PENDING : NOTIFY_DELIVERED);
    }
    /* cutoff T_MS + 205: b0..b20 were created before it, but b5..b9 are pending */
    assert_int_equal(store_outbox_purge(f->w, T_MS + 205, 100, &deleted), TOCSIN_OK);
    assert_int_equal(deleted, 16);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM outbox"), PB_ROWS - 16);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM outbox WHERE id = 'b20'"), 0);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM outbox WHERE id = 'b21'"), 1);
    /* the pending ones end; cutoff T_MS + 305 (bound b31), in batches of 3 */
    for (int i = 5; i <= 9; i++)
        pb_mark(f->w, n[i], NOTIFY_FAILED);
    assert_int_equal(store_outbox_purge(f->w, T_MS + 305, 3, &deleted), TOCSIN_OK);
    assert_int_equal(deleted, 3);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM outbox WHERE id IN ('b5','b6','b7')"),
                     0);
    assert_int_equal(store_outbox_purge(f->w, T_MS + 305, 100, &deleted), TOCSIN_OK);
    assert_int_equal(deleted, 12); /* b8, b9, b21..b30 */
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM outbox"), 6);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM outbox WHERE id = 'b31'"), 1);
    /* past every row: no bound */
    assert_int_equal(store_outbox_purge(f->w, T_MS + 1000, 100, &deleted), TOCSIN_OK);
    assert_int_equal(deleted, 6);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM outbox"), 0);
    /* and an empty outbox */
    assert_int_equal(store_outbox_purge(f->w, T_MS + 1000, 100, &deleted), TOCSIN_OK);
    assert_int_equal(deleted, 0);
    for (int i = 0; i < PB_ROWS; i++)
        notify_rec_free(n[i]);
}

/* ---- contexts sharing their alert (migration 7) ---- */

#define SH_A                                                                                       \
    "{\"id\":\"a1\",\"text\":\"h\\u00e9llo \xc3\xbc"                                               \
    "n\xc3\xaf"                                                                                    \
    "code \xe2\x82\xac\"}"
#define SH_B "{\"id\":\"a2\",\"text\":\"other\"}"
#define SH_MAX 8

struct sh_loaded {
    struct notify_rec *n[SH_MAX];
    size_t count;
};

static int sh_collect(void *ud, struct notify_rec *n)
{
    struct sh_loaded *l = ud;

    assert_true(l->count < SH_MAX);
    l->n[l->count++] = n;
    return 0;
}

/* A pending notification whose context is {"alert":<alert>,"rule":...} with ctx_alen set. */
static struct notify_rec *sh_rec(const char *id, const char *alert)
{
    struct notify_rec *n = mk_notify(id, "a1", "t1");
    char ctx[512];

    snprintf(ctx, sizeof(ctx),
             "{\"alert\":%s,\"rule\":{\"id\":\"r-%s\"},"
             "\"notification\":{\"id\":\"%s\"}}",
             alert, id, id);
    n->ctx = strdup(ctx);
    n->ctx_alen = strlen(alert);
    n->rule_id = strdup("r1");
    n->channel_id = strdup("c1");
    return n;
}

static int64_t ctx_based(const char *dir, int64_t seq)
{
    char sql[128];

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM notify_ctx WHERE seq = %lld"
             " AND base IS NOT NULL",
             (long long)seq);
    return raw_int(dir, sql);
}

/* Every pending notification loads with the context it was inserted with, byte for byte. */
static void sh_check_loads(struct store *w, struct notify_rec **want, size_t nwant)
{
    struct sh_loaded l = {.count = 0};

    assert_int_equal(store_outbox_load_pending(w, sh_collect, &l), TOCSIN_OK);
    assert_int_equal(l.count, nwant);
    for (size_t i = 0; i < l.count; i++) {
        assert_string_equal(l.n[i]->id, want[i]->id);
        assert_string_equal(l.n[i]->ctx, want[i]->ctx);
        notify_rec_free(l.n[i]);
    }
}

/* rec ends with status and is purged alone; then notify_ctx holds ctx_rows rows */
static void sh_finish_purge(struct fx *f, struct notify_rec *rec, enum notify_status status,
                            int64_t ctx_rows)
{
    int64_t deleted = 0;

    rec->status = status;
    assert_int_equal(store_outbox_update(f->w, rec), TOCSIN_OK);
    assert_int_equal(store_outbox_purge(f->w, T_MS + 10, 100, &deleted), TOCSIN_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM notify_ctx"), ctx_rows);
}

static void test_outbox_shared_contexts(void **state)
{
    struct fx *f = *state;
    static const char *const ids[] = {"s1", "s2", "s3", "s4", "s5", "s6", "s7"};
    static const char *const alerts[] = {SH_A, SH_A, SH_B, SH_A, SH_A, SH_A, SH_A};
    struct notify_rec *n[7], *pending[7];
    int64_t deleted = 0;

    for (size_t i = 0; i < 7; i++)
        n[i] = sh_rec(ids[i], alerts[i]);
    /* s1 whole; s2 on s1; s3 another alert, whole; s4 the first alert again after another
     * one: whole (only the last whole one is a base) */
    assert_int_equal(store_begin(f->w), TOCSIN_OK);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(store_outbox_insert(f->w, n[i]), TOCSIN_OK);
    assert_int_equal(store_commit(f->w), TOCSIN_OK);
    assert_int_equal(ctx_based(f->dir, n[0]->seq), 0);
    assert_int_equal(ctx_based(f->dir, n[1]->seq), 1);
    assert_int_equal(ctx_based(f->dir, n[2]->seq), 0);
    assert_int_equal(ctx_based(f->dir, n[3]->seq), 0);
    /* a base never outlives its transaction: s5 is rolled back, s6 is then whole */
    assert_int_equal(store_begin(f->w), TOCSIN_OK);
    assert_int_equal(store_outbox_insert(f->w, n[4]), TOCSIN_OK);
    assert_int_equal(store_rollback(f->w), TOCSIN_OK);
    assert_int_equal(store_begin(f->w), TOCSIN_OK);
    assert_int_equal(store_outbox_insert(f->w, n[5]), TOCSIN_OK);
    assert_int_equal(store_commit(f->w), TOCSIN_OK);
    assert_int_equal(ctx_based(f->dir, n[5]->seq), 0);
    /* outside a transaction nothing is shared */
    assert_int_equal(store_outbox_insert(f->w, n[6]), TOCSIN_OK);
    assert_int_equal(ctx_based(f->dir, n[6]->seq), 0);
    pending[0] = n[0], pending[1] = n[1], pending[2] = n[2], pending[3] = n[3];
    pending[4] = n[5], pending[5] = n[6];
    sh_check_loads(f->w, pending, 6);

    /* s1 (the base) is purged, s2 is still pending: s1's context stays for s2 */
    sh_finish_purge(f, n[0], NOTIFY_DELIVERED, 6);
    sh_check_loads(f->w, pending + 1, 5);
    /* s2 goes too: both contexts go */
    sh_finish_purge(f, n[1], NOTIFY_FAILED, 4);
    sh_check_loads(f->w, pending + 2, 4);
    /* a base and the row on it purged in one batch */
    for (size_t i = 0; i < 7; i++)
        notify_rec_free(n[i]);
    for (size_t i = 0; i < 2; i++) {
        n[i] = sh_rec(ids[i], SH_B);
        snprintf(n[i]->id, sizeof(n[i]->id), "b%zu", i);
    }
    assert_int_equal(store_begin(f->w), TOCSIN_OK);
    assert_int_equal(store_outbox_insert(f->w, n[0]), TOCSIN_OK);
    assert_int_equal(store_outbox_insert(f->w, n[1]), TOCSIN_OK);
    assert_int_equal(store_commit(f->w), TOCSIN_OK);
    assert_int_equal(ctx_based(f->dir, n[1]->seq), 1);
    for (size_t i = 0; i < 2; i++) {
        n[i]->status = NOTIFY_DELIVERED;
        assert_int_equal(store_outbox_update(f->w, n[i]), TOCSIN_OK);
    }
    assert_int_equal(store_outbox_purge(f->w, T_MS + 10, 100, &deleted), TOCSIN_OK);
    assert_int_equal(deleted, 2);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM notify_ctx"), 4);
    for (size_t i = 0; i < 2; i++)
        notify_rec_free(n[i]);
}

/* ---- the writer's checkpoint: it starts the WAL over, waiting a bounded time for readers ---- */

/* n more outbox rows with contexts of about 2 KB, in one transaction */
static void wal_fill(struct store *w, int from, int n)
{
    char ctx[2100];

    memset(ctx, 'x', sizeof(ctx) - 1);
    ctx[sizeof(ctx) - 1] = '\0';
    assert_int_equal(store_begin(w), TOCSIN_OK);
    for (int i = from; i < from + n; i++) {
        char id[16];
        struct notify_rec *r;

        snprintf(id, sizeof(id), "w%d", i);
        r = mk_notify(id, "a1", "t1");
        r->ctx = strdup(ctx);
        assert_int_equal(store_outbox_insert(w, r), TOCSIN_OK);
        notify_rec_free(r);
    }
    assert_int_equal(store_commit(w), TOCSIN_OK);
}

static void test_writer_checkpoint_restarts(void **state)
{
    struct fx *f = *state;
    char path[128];
    sqlite3 *rd;
    sqlite3_stmt *st;
    bool ran = false;
    int64_t big;

    assert_int_equal(store_manual_checkpoints(f->w), TOCSIN_OK);
    wal_fill(f->w, 0, 500);
    big = store_wal_bytes(f->w);
    assert_true(big > 1000 * 1024);
    /* below the threshold nothing happens */
    assert_int_equal(store_writer_checkpoint(f->w, big + 1, &ran), TOCSIN_OK);
    assert_false(ran);
    wal_fill(f->w, 500, 1);
    assert_true(store_wal_bytes(f->w) > big);

    /* a reader on an old snapshot: the WAL cannot start over, and the writer does not wait
     * for it past its bound */
    snprintf(path, sizeof(path), "%s/tocsin.db", f->dir);
    assert_int_equal(sqlite3_open_v2(path, &rd, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(rd, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(rd, "SELECT count(*) FROM outbox", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 501);
    sqlite3_finalize(st);
    wal_fill(f->w, 501, 10);
    big = store_wal_bytes(f->w);
    assert_int_equal(store_writer_checkpoint(f->w, 1, &ran), TOCSIN_OK);
    assert_true(ran);
    wal_fill(f->w, 511, 1);
    assert_true(store_wal_bytes(f->w) > big); /* appended: no restart */

    /* the reader gone, the WAL starts over: the next commit is at its start */
    assert_int_equal(sqlite3_exec(rd, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(rd);
    assert_int_equal(store_writer_checkpoint(f->w, 1, &ran), TOCSIN_OK);
    assert_true(ran);
    wal_fill(f->w, 512, 1);
    assert_true(store_wal_bytes(f->w) > 0);
    assert_true(store_wal_bytes(f->w) < 64 * 1024);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM outbox"), 513);
}

/* Descriptors of this process open on the data directory's database file. */
static int db_fds(const char *dir)
{
    char want[160], link[PATH_MAX], path[300];
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    snprintf(want, sizeof(want), "%s/tocsin.db", dir);
    while ((e = readdir(d))) {
        ssize_t len;
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        len = readlink(path, link, sizeof(link) - 1);
        if (len <= 0)
            continue;
        link[len] = '\0';
        n += !strcmp(link, want);
    }
    closedir(d);
    return n;
}

/* The maintenance thread's checkpoints flush what they copied (SQLite leaves that to the
 * checkpoint that copies the whole WAL, the writer's, which then stalled every commit behind it):
 * once a checkpoint of that connection has copied frames, it holds a descriptor of its own for
 * its fdatasync; without durability it never opens one. */
static void test_checkpoint_flushes_what_it_copied(void **state)
{
    struct fx *f = *state;
    struct store *m = NULL, *none = NULL;
    char err[256] = "";
    int base;

    assert_int_equal(store_manual_checkpoints(f->w), TOCSIN_OK);
    assert_int_equal(store_open(f->dir, DURABILITY_BATCH, true, &m, err, sizeof(err)), TOCSIN_OK);
    assert_int_equal(store_open(f->dir, DURABILITY_NONE, true, &none, err, sizeof(err)),
                     TOCSIN_OK);
    base = db_fds(f->dir);
    wal_fill(f->w, 0, 50);
    assert_int_equal(store_checkpoint(none), TOCSIN_OK); /* copies, never flushes */
    assert_int_equal(db_fds(f->dir), base);
    wal_fill(f->w, 50, 50);
    assert_int_equal(store_checkpoint(m), TOCSIN_OK);
    assert_int_equal(db_fds(f->dir), base + 1);
    wal_fill(f->w, 100, 50);
    assert_int_equal(store_checkpoint(m), TOCSIN_OK); /* the same descriptor again */
    assert_int_equal(db_fds(f->dir), base + 1);
    wal_fill(f->w, 150, 50);
    assert_int_equal(store_checkpoint(none), TOCSIN_OK);
    assert_int_equal(db_fds(f->dir), base + 1);
    store_close(none);
    store_close(m);
    assert_int_equal(db_fds(f->dir), base);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM outbox"), 200);
}

static void test_outbox_insert_update_load(void **state)
{
    struct fx *f = *state;
    struct notify_rec *n[3];
    struct loaded l = {0};

    put_outbox(f->w, n);
    assert_true(n[0]->seq > 0 && n[1]->seq > n[0]->seq && n[2]->seq > n[1]->seq);
    log_setup(LOG_OFF, NULL);
    assert_int_equal(store_outbox_insert(f->w, n[0]), TOCSIN_EEXIST);
    log_setup(LOG_WARN, NULL);

    n[0]->status = NOTIFY_DELIVERED;
    n[0]->attempts = 1;
    n[0]->last_http_status = 200;
    n[0]->updated_ms = T_MS + 100;
    assert_int_equal(store_outbox_update(f->w, n[0]), TOCSIN_OK);
    n[1]->status = NOTIFY_FAILED;
    n[1]->attempts = 7;
    n[1]->last_http_status = 503;
    n[1]->last_error = strdup("HTTP 503: busy");
    n[1]->seq = 0; /* found by its id, as a record without its row's seq */
    assert_int_equal(store_outbox_update(f->w, n[1]), TOCSIN_OK);
    assert_int_equal(raw_int(f->dir, "SELECT status FROM outbox WHERE id = 'n2'"), NOTIFY_FAILED);
    n[2]->attempts = 2;
    n[2]->next_ms = T_MS + 2000;
    n[2]->last_error = strdup("Connection refused");
    assert_int_equal(store_outbox_update(f->w, n[2]), TOCSIN_OK);

    assert_int_equal(store_outbox_load_pending(f->w, collect_notify, &l), TOCSIN_OK);
    assert_int_equal(l.count, 1);
    assert_int_equal(l.n[0]->seq, n[2]->seq);
    assert_string_equal(l.n[0]->id, "n3");
    assert_string_equal(l.n[0]->alert_id, "a2");
    assert_string_equal(l.n[0]->trigger_id, "t2");
    assert_string_equal(l.n[0]->channel, "webhook-notifier");
    assert_string_equal(l.n[0]->method, "POST");
    assert_string_equal(l.n[0]->url, n[2]->url);
    assert_string_equal(l.n[0]->headers_json, n[2]->headers_json);
    assert_string_equal(l.n[0]->body, "{\"alert\":\"x\"}");
    assert_true(l.n[0]->use_proxy && !l.n[0]->tls_verify && l.n[0]->resolve);
    assert_int_equal(l.n[0]->status, NOTIFY_PENDING);
    assert_int_equal(l.n[0]->attempts, 2);
    assert_int_equal(l.n[0]->max_attempts, 7);
    assert_int_equal(l.n[0]->created_ms, T_MS);
    assert_int_equal(l.n[0]->next_ms, T_MS + 2000);
    assert_int_equal(l.n[0]->last_http_status, 0);
    assert_string_equal(l.n[0]->last_error, "Connection refused");
    notify_rec_free(l.n[0]);

    snprintf(n[0]->id, sizeof(n[0]->id), "missing");
    assert_int_equal(store_outbox_update(f->w, n[0]),
                     TOCSIN_ENOTFOUND); /* by seq: the id differs */
    n[0]->seq = 0;
    assert_int_equal(store_outbox_update(f->w, n[0]), TOCSIN_ENOTFOUND); /* by the id */
    assert_int_equal(raw_int(f->dir, "SELECT status FROM outbox WHERE id = 'n1'"),
                     NOTIFY_DELIVERED);
    for (int i = 0; i < 3; i++)
        notify_rec_free(n[i]);
}

static json_t *notif_at(json_t *res, size_t i)
{
    return json_array_get(json_object_get(res, "notifications"), i);
}

static size_t notify_count(struct store *s, int status, const char *alert, const char *trigger)
{
    struct notify_query q = {.status = status, .alert_id = alert, .trigger_id = trigger};
    json_t *res = NULL;
    size_t total;

    assert_int_equal(store_notify_query_json(s, &q, &res), TOCSIN_OK);
    total = (size_t)json_integer_value(json_object_get(res, "total"));
    json_decref(res);
    return total;
}

static void test_notify_query_json(void **state)
{
    struct fx *f = *state;
    struct notify_query q = {.status = -1};
    struct notify_rec *n[3];
    json_t *res = NULL, *o;
    char *dump;

    put_outbox(f->w, n);
    n[0]->status = NOTIFY_DELIVERED;
    n[0]->attempts = 1;
    n[0]->last_http_status = 200;
    n[0]->updated_ms = T_MS + 100;
    assert_int_equal(store_outbox_update(f->w, n[0]), TOCSIN_OK);

    assert_int_equal(notify_count(f->w, -1, NULL, NULL), 3);
    assert_int_equal(notify_count(f->w, NOTIFY_PENDING, NULL, NULL), 2);
    assert_int_equal(notify_count(f->w, -1, "a1", NULL), 2);
    assert_int_equal(notify_count(f->w, -1, NULL, "t2"), 1);
    assert_int_equal(notify_count(f->w, NOTIFY_DELIVERED, "a1", "t1"), 1);

    assert_int_equal(store_notify_query_json(f->w, &q, &res), TOCSIN_OK);
    assert_string_equal(json_string_value(json_object_get(notif_at(res, 0), "id")), "n3");
    o = notif_at(res, 2); /* n1, the oldest, delivered */
    assert_string_equal(json_string_value(json_object_get(o, "id")), "n1");
    assert_string_equal(json_string_value(json_object_get(o, "alert")), "a1");
    assert_string_equal(json_string_value(json_object_get(o, "trigger")), "t1");
    assert_string_equal(json_string_value(json_object_get(o, "channel")), "webhook-notifier");
    assert_string_equal(json_string_value(json_object_get(o, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(o, "url")),
                        "https://***@hooks.example.com/x?y=1");
    assert_string_equal(json_string_value(json_object_get(o, "status")), "delivered");
    assert_int_equal(json_integer_value(json_object_get(o, "attempts")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "maxAttempts")), 7);
    assert_true(json_is_true(json_object_get(o, "resolve")));
    assert_string_equal(json_string_value(json_object_get(o, "createdTime")), T_ISO);
    assert_true(json_is_null(json_object_get(o, "nextAttemptTime")));
    assert_string_equal(json_string_value(json_object_get(o, "updatedTime")),
                        "2026-11-24T05:44:27.223Z");
    assert_int_equal(json_integer_value(json_object_get(o, "lastHttpStatus")), 200);
    assert_true(json_is_null(json_object_get(o, "lastError")));
    assert_int_equal(json_array_size(json_object_get(o, "headers")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "headers"), 0)),
                        "Authorization");
    o = notif_at(res, 0); /* n3, pending, never attempted */
    assert_string_equal(json_string_value(json_object_get(o, "nextAttemptTime")),
                        "2026-11-24T05:44:27.128Z");
    assert_true(json_is_null(json_object_get(o, "lastHttpStatus")));
    /* No secret anywhere in the answer. */
    dump = json_dumps(res, 0);
    assert_non_null(dump);
    assert_null(strstr(dump, "TOPSECRET"));
    assert_null(strstr(dump, "s3cret"));
    assert_null(strstr(dump, "prod"));
    free(dump);
    json_decref(res);
    for (int i = 0; i < 3; i++)
        notify_rec_free(n[i]);
}

/* The key stored with a row (idk, or alertk) is store_outbox_key of its text. */
static void assert_row_key(const char *dir, const char *col, const char *id, const char *text)
{
    char sql[160];

    snprintf(sql, sizeof(sql), "SELECT %s FROM outbox WHERE id = '%s'", col, id);
    assert_true(raw_int(dir, sql) == store_outbox_key(text, strlen(text)));
}

/* The outbox is indexed on 64-bit keys of its ids (migration 9), not on the ids: each row holds
 * them, no UNIQUE index is left, and two ids with one key (forged here: FNV-1a collisions are
 * not found by chance) stay two notifications, each found, updated and de-duplicated by its own
 * id. */
static void test_outbox_keys(void **state)
{
    struct fx *f = *state;
    struct notify_rec *n[3], *n4 = mk_notify("n4", "a4", "t4"), *got = NULL;
    char sql[256];
    sqlite3 *db = NULL;

    put_outbox(f->w, n);
    assert_row_key(f->dir, "idk", "n1", "n1");
    assert_row_key(f->dir, "idk", "n3", "n3");
    assert_row_key(f->dir, "alertk", "n3", "a2");
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM sqlite_master"
                                     " WHERE name LIKE 'sqlite_autoindex_outbox%'"),
                     0);
    /* FNV-1a's published values, every bit kept (not clamped to a positive int64) */
    assert_true((uint64_t)store_outbox_key("", 0) == 0xcbf29ce484222325ULL);
    assert_true((uint64_t)store_outbox_key("a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true((uint64_t)store_outbox_key("foobar", 6) == 0x85944171f73967e8ULL);

    db = open_store_db(f->dir, SQLITE_OPEN_READWRITE);
    snprintf(sql, sizeof(sql),
             "INSERT INTO outbox (id, idk, alert_id, alertk, method, url, status)"
             " VALUES ('forged', %lld, 'a9', %lld, 'POST', 'http://forged/', 1)",
             (long long)store_outbox_key("n4", 2), (long long)store_outbox_key("a4", 2));
    exec_ok(db, sql);
    sqlite3_close(db);

    assert_int_equal(store_outbox_insert(f->w, n4), TOCSIN_OK);
    log_setup(LOG_OFF, NULL);
    assert_int_equal(store_outbox_insert(f->w, n4), TOCSIN_EEXIST);
    log_setup(LOG_WARN, NULL);
    assert_int_equal(store_outbox_get(f->w, "n4", &got), TOCSIN_OK);
    assert_string_equal(got->id, "n4");
    assert_string_equal(got->url, n4->url);
    notify_rec_free(got);
    n4->status = NOTIFY_DELIVERED;
    n4->attempts = 1;
    assert_int_equal(store_outbox_update(f->w, n4), TOCSIN_OK);
    assert_int_equal(raw_int(f->dir, "SELECT status FROM outbox WHERE id = 'n4'"),
                     NOTIFY_DELIVERED);
    assert_int_equal(raw_int(f->dir, "SELECT status + attempts FROM outbox WHERE id = 'forged'"),
                     1);
    assert_int_equal(notify_count(f->w, -1, "a4", NULL), 1);
    assert_int_equal(store_outbox_get(f->w, "forged", &got), TOCSIN_ENOTFOUND);
    notify_rec_free(n4);
    for (int i = 0; i < 3; i++)
        notify_rec_free(n[i]);
}

/* The query plan of "SELECT count(*) FROM outbox WHERE status = ?1" with ?1 bound to status,
 * as SQLite makes it once the value is bound (its details joined by "; "). */
static void status_plan(const char *dir, int status, char *out, size_t outlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    size_t len = 0;

    db = open_store_db(dir, SQLITE_OPEN_READONLY);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "EXPLAIN QUERY PLAN SELECT count(*) FROM outbox"
                                        " WHERE status = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_int(st, 1, status), SQLITE_OK);
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW)
        len += (size_t)snprintf(out + len, len < outlen ? outlen - len : 0, "%s; ",
                                (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_true(len < outlen);
}

/* Failed and pending notifications are counted and listed through their partial indexes
 * (migrations 8 and 10), with the status a bound value as the API's queries have it. */
static void test_outbox_status_indexes(void **state)
{
    struct fx *f = *state;
    struct notify_rec *n[3];
    char plan[256];

    put_outbox(f->w, n);
    n[1]->status = NOTIFY_FAILED;
    n[1]->attempts = 7;
    assert_int_equal(store_outbox_update(f->w, n[1]), TOCSIN_OK);
    assert_int_equal(notify_count(f->w, NOTIFY_FAILED, NULL, NULL), 1);
    assert_int_equal(notify_count(f->w, NOTIFY_PENDING, NULL, NULL), 2);
    status_plan(f->dir, NOTIFY_FAILED, plan, sizeof(plan));
    assert_non_null(strstr(plan, "outbox_failed"));
    status_plan(f->dir, NOTIFY_PENDING, plan, sizeof(plan));
    assert_non_null(strstr(plan, "outbox_pending"));
    for (int i = 0; i < 3; i++)
        notify_rec_free(n[i]);
}

/* ---- reopening, readers ---- */

static void test_reopen_and_reader(void **state)
{
    struct fx *f = *state;
    struct store *r = NULL;
    struct notify_rec *n[3];
    char err[256] = "";
    json_t *j = NULL;

    assert_int_equal(store_trigger_put(f->w, "t1", "{\"id\":\"t1\"}", true, 1, 1), TOCSIN_OK);
    put_alerts(f->w);
    put_outbox(f->w, n);
    for (int i = 0; i < 3; i++)
        notify_rec_free(n[i]);
    store_close(f->w);
    f->w = NULL;
    assert_int_equal(store_open(f->dir, DURABILITY_NONE, false, &f->w, err, sizeof(err)),
                     TOCSIN_OK);
    assert_int_equal(store_open(f->dir, DURABILITY_BATCH, true, &r, err, sizeof(err)),
                     TOCSIN_OK);

    assert_int_equal(store_trigger_get_json(r, "t1", &j), TOCSIN_OK);
    json_decref(j);
    assert_int_equal(raw_int(f->dir, "SELECT count(*) FROM alerts"), 5);
    assert_int_equal(notify_count(r, -1, NULL, NULL), 3);

    /* The reader sees the writer's later commits. */
    assert_int_equal(store_trigger_put(f->w, "t9", "{\"id\":\"t9\"}", true, 2, 2), TOCSIN_OK);
    assert_int_equal(store_trigger_get_json(r, "t9", &j), TOCSIN_OK);
    json_decref(j);

    /* A reader never writes. */
    log_setup(LOG_OFF, NULL);
    assert_int_equal(store_trigger_put(r, "t2", "{}", true, 1, 1), TOCSIN_ESTORE);
    log_setup(LOG_WARN, NULL);
    store_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations_fresh_and_reopen, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_journal_is_wal, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_triggers, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_transactions_and_callback_stop, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_xalert_apply_and_load, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_xalert_count_and_load, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_xalert_load_from_both_ends, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_alert_upsert_update_unique_and_load, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_insert_update_load, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_keys, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_status_indexes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_purge, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_purge_bound, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_shared_contexts, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_writer_checkpoint_restarts, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_flushes_what_it_copied, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_notify_query_json, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_and_reader, fx_setup, fx_teardown),
    };

    log_setup(LOG_WARN, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
