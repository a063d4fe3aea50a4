/* Helpers shared by the unit tests that drive SQLite directly (test_walbuf.c, test_pcache.c,
 * test_store_migrate.c): run SQL that must succeed, read one integer, check integrity.
 * Header-only (each tests/unit/test_*.c is its own executable); include after <cmocka.h>. */
#ifndef TOCSIN_TEST_SQLITE_HELPERS_H
#define TOCSIN_TEST_SQLITE_HELPERS_H

#include <sqlite3.h>
#include <stdint.h>

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
