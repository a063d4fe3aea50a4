/* Helpers shared by the unit tests that drive SQLite directly (test_walbuf.c, test_pcache.c,
 * test_store.c, test_store_migrate.c): open a store's database, run SQL that must succeed, read
 * one integer, check integrity.
 * Header-only (each tests/unit/test_*.c is its own executable); include after <cmocka.h>. */
#ifndef TOCSIN_TEST_SQLITE_HELPERS_H
#define TOCSIN_TEST_SQLITE_HELPERS_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

/* The database of a store directory on a raw connection of its own (flags: SQLITE_OPEN_READONLY
 * or SQLITE_OPEN_READWRITE), to look behind the store's API. */
static inline sqlite3 *open_store_db(const char *dir, int flags)
{
    char path[512];
    sqlite3 *db = NULL;

    snprintf(path, sizeof(path), "%s/tocsin.db", dir);
    assert_int_equal(sqlite3_open_v2(path, &db, flags, NULL), SQLITE_OK);
    return db;
}

static inline void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_free(msg);
}

/* The first column of the first row of sql, which must have one. */
static inline int64_t query_i64(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static inline void integrity_ok(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;

    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

#endif
