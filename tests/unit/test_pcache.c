/* The page cache wrapper (store/pcache.c) against SQLite itself, with the store writer's
 * settings (1 KiB pages, WAL, synchronous NORMAL):
 *   - it installs when nothing has initialised SQLite yet;
 *   - small transactions into an index on random keys (B-tree splits that swap page numbers
 *     through SQLite's temporary page) keep their content and the database sound, and their
 *     commits' truncations are not forwarded to the default cache (the whole-table scans the
 *     wrapper exists to avoid);
 *   - a rolled-back transaction that grew the database is truncated, and what follows it is
 *     sound and seen by another connection. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlite_helpers.h"
#include "store/pcache.h"

struct fixture {
    char dir[64];
    char path[128];
    sqlite3 *db;
    uint64_t rng;
};

/* Inserts n rows with a random 16-hex-digit key and a 200-byte value, in one statement loop. */
static void insert_rows(struct fixture *f, int n)
{
    sqlite3_stmt *st = NULL;
    char key[17];
    char val[200];

    memset(val, 'v', sizeof(val));
    assert_int_equal(
        sqlite3_prepare_v2(f->db, "INSERT INTO t (k, v) VALUES (?1, ?2)", -1, &st, NULL),
        SQLITE_OK);
    for (int i = 0; i < n; i++) {
        f->rng ^= f->rng << 13;
        f->rng ^= f->rng >> 7;
        f->rng ^= f->rng << 17;
        snprintf(key, sizeof(key), "%016llx", (unsigned long long)f->rng);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, val, (int)sizeof(val), SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/tocsin-pcache.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
    f->rng = 0x9e3779b97f4a7c15ull;
    if (sqlite3_open(f->path, &f->db) != SQLITE_OK)
        return -1;
    exec_ok(f->db, "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL;"
                   " PRAGMA synchronous = NORMAL;"
                   " CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v BLOB);"
                   " CREATE INDEX t_k ON t(k);");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char p[160];

    sqlite3_close(f->db);
    snprintf(p, sizeof(p), "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", f->path);
    unlink(p);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void test_installs(void **state)
{
    (void)state;
    /* main() made no SQLite call before this one */
    assert_int_equal(pcache_install(), SQLITE_OK);
    assert_int_equal(pcache_install(), SQLITE_OK); /* once */
}

static void test_commits_not_scanned(void **state)
{
    struct fixture *f = *state;
    struct pcache_stats s0, s1;
    const int txns = 2000, per = 10;

    pcache_stats(&s0);
    for (int i = 0; i < txns; i++) {
        exec_ok(f->db, "BEGIN");
        insert_rows(f, per);
        exec_ok(f->db, "COMMIT");
    }
    pcache_stats(&s1);
    assert_true(s1.swaps > s0.swaps);                 /* the case this is about happened */
    assert_true(s1.truncates - s0.truncates >= txns); /* one per commit at least */
    /* none of them needed the default cache's truncation */
    assert_true((s1.forwarded - s0.forwarded) * 100 < s1.truncates - s0.truncates);
    assert_int_equal(query_i64(f->db, "SELECT count(*) FROM t"), txns * per);
    assert_int_equal(query_i64(f->db, "SELECT count(DISTINCT k) FROM t"), txns * per);
    assert_int_equal(query_i64(f->db, "SELECT sum(length(v)) FROM t"), txns * per * 200);
    integrity_ok(f->db);
}

static void test_rollback_truncated(void **state)
{
    struct fixture *f = *state;
    struct pcache_stats s0, s1;
    sqlite3 *other = NULL;
    int64_t pages;

    exec_ok(f->db, "BEGIN");
    insert_rows(f, 500);
    exec_ok(f->db, "COMMIT");
    pages = query_i64(f->db, "PRAGMA page_count");
    pcache_stats(&s0);
    exec_ok(f->db, "BEGIN");
    insert_rows(f, 5000); /* grows the database by hundreds of pages */
    assert_true(query_i64(f->db, "PRAGMA page_count") > pages + 100);
    exec_ok(f->db, "ROLLBACK");
    pcache_stats(&s1);
    assert_true(s1.forwarded > s0.forwarded); /* the pages past the end were dropped */
    assert_int_equal(query_i64(f->db, "PRAGMA page_count"), pages);
    assert_int_equal(query_i64(f->db, "SELECT count(*) FROM t"), 500);
    exec_ok(f->db, "BEGIN");
    insert_rows(f, 3000); /* reuses the page numbers the rollback gave back */
    exec_ok(f->db, "COMMIT");
    integrity_ok(f->db);
    assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
    assert_int_equal(query_i64(other, "SELECT count(*) FROM t"), 3500);
    assert_int_equal(query_i64(other, "SELECT sum(length(v)) FROM t"), 3500 * 200);
    integrity_ok(other);
    sqlite3_close(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_installs),
        cmocka_unit_test_setup_teardown(test_commits_not_scanned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_truncated, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
