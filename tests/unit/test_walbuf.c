/* The WAL-coalescing VFS (store/walbuf.c) against SQLite itself: a writer through the VFS and a
 * reader through the default one, with the writer's settings of the daemon (1 KiB pages, WAL,
 * synchronous NORMAL, no automatic checkpoint) and random transactions of inserts, updates and
 * deletes.
 *   - Every commit is visible to the reader as soon as it returns, with the expected content.
 *   - A transaction larger than the page cache (it spills pages before its commit, overwrites
 *     frames in place and rewrites checksums) leaves a WAL that SQLite recovers completely: the
 *     files are copied as a kill -9 would leave them (what was written, not the process's
 *     buffers) and opened elsewhere after every commit.
 *   - A write that fails (the file-size limit) fails the commit and loses nothing committed
 *     before it; the next commit after the limit is lifted succeeds.
 *   - Appends are coalesced: far fewer system writes than SQLite's write calls.
 *   - Checkpoints, whose copies into the database file are coalesced too, between random
 *     transactions leave a database file that holds every row once the WAL is emptied.
 *   - A checkpoint whose writes fail (the file-size limit, in a child process) loses nothing:
 *     it fails, or stops the process before SQLite counts the pages copied (walbuf.c), and
 *     either way every committed row is read back and checkpointed afterwards. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sqlite_helpers.h"
#include "store/walbuf.h"

#define ROWS_MAX 4000 /* keys 0..ROWS_MAX-1 */

struct fixture {
    char dir[64], copy[80];
    char path[128];
    sqlite3 *w, *r;
    int64_t val[ROWS_MAX]; /* expected value of each key; 0 = no row */
    int len[ROWS_MAX];     /* expected blob length */
    uint64_t rng;
};

static uint64_t rnd(struct fixture *f)
{
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    return f->rng;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    strcpy(f->dir, "/tmp/test_walbuf.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->copy, sizeof(f->copy), "%s/copy", f->dir);
    assert_int_equal(mkdir(f->copy, 0700), 0);
    snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
    f->rng = 0x9e3779b97f4a7c15u;
    assert_int_equal(walbuf_register(), SQLITE_OK);
    assert_int_equal(
        sqlite3_open_v2(f->path, &f->w,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        WALBUF_VFS),
        SQLITE_OK);
    exec_ok(f->w, "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL;"
                  " PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;"
                  " CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL, b BLOB NOT NULL);"
                  " CREATE INDEX t_v ON t(v);");
    assert_int_equal(
        sqlite3_open_v2(f->path, &f->r, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL),
        SQLITE_OK);
    *state = f;
    return 0;
}

static void rm_files(const char *dir)
{
    static const char *const sfx[] = {"", "-wal", "-shm"};
    char p[160];

    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/t.db%s", dir, sfx[i]);
        unlink(p);
    }
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    sqlite3_close(f->r);
    sqlite3_close(f->w);
    rm_files(f->copy);
    rmdir(f->copy);
    rm_files(f->dir);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* One random transaction of n changes on the writer; the expectations follow only if commit. */
static int transaction(struct fixture *f, int n, bool commit)
{
    int64_t val[ROWS_MAX];
    int len[ROWS_MAX], rc = SQLITE_OK;
    sqlite3_stmt *put, *del;
    unsigned char blob[900];

    memcpy(val, f->val, sizeof(val));
    memcpy(len, f->len, sizeof(len));
    assert_int_equal(sqlite3_prepare_v2(f->w, "INSERT OR REPLACE INTO t (k, v, b) VALUES (?, ?, ?)",
                                        -1, &put, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(f->w, "DELETE FROM t WHERE k = ?", -1, &del, NULL),
                     SQLITE_OK);
    exec_ok(f->w, "BEGIN");
    for (int i = 0; i < n && rc == SQLITE_OK; i++) {
        int k = (int)(rnd(f) % ROWS_MAX);

        if (rnd(f) % 8 == 0) {
            sqlite3_bind_int(del, 1, k);
            rc = sqlite3_step(del) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(f->w);
            sqlite3_reset(del);
            val[k] = 0;
            continue;
        }
        val[k] = (int64_t)(rnd(f) >> 2) + 1;
        len[k] = 1 + (int)(rnd(f) % sizeof(blob));
        memset(blob, (int)(val[k] & 0xff), (size_t)len[k]);
        sqlite3_bind_int(put, 1, k);
        sqlite3_bind_int64(put, 2, val[k]);
        sqlite3_bind_blob(put, 3, blob, len[k], SQLITE_STATIC);
        rc = sqlite3_step(put) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(f->w);
        sqlite3_reset(put);
    }
    sqlite3_finalize(put);
    sqlite3_finalize(del);
    if (rc == SQLITE_OK && commit)
        rc = sqlite3_exec(f->w, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK || !commit) {
        if (!sqlite3_get_autocommit(f->w))
            exec_ok(f->w, "ROLLBACK");
        return rc;
    }
    memcpy(f->val, val, sizeof(val));
    memcpy(f->len, len, sizeof(len));
    return SQLITE_OK;
}

/* The database behind `db` holds exactly the expected rows. */
static void check_content(struct fixture *f, sqlite3 *db)
{
    sqlite3_stmt *st;
    int64_t rows = 0, want_rows = 0;
    bool seen[ROWS_MAX] = {false};

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT k, v, length(b), substr(b, length(b), 1)"
                                        " FROM t ORDER BY k",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int k = sqlite3_column_int(st, 0);
        const unsigned char *last = sqlite3_column_blob(st, 3);

        assert_true(k >= 0 && k < ROWS_MAX);
        assert_int_equal(sqlite3_column_int64(st, 1), f->val[k]);
        assert_int_equal(sqlite3_column_int(st, 2), f->len[k]);
        assert_non_null(last);
        assert_int_equal(last[0], (unsigned char)(f->val[k] & 0xff));
        seen[k] = true;
        rows++;
    }
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    for (int k = 0; k < ROWS_MAX; k++) {
        want_rows += f->val[k] != 0;
        if (f->val[k])
            assert_true(seen[k]);
    }
    assert_int_equal(rows, want_rows);
}

static void copy_file(const char *from, const char *to)
{
    char buf[65536];
    int in = open(from, O_RDONLY), out;
    ssize_t n;

    if (in < 0)
        return; /* no WAL yet */
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(out >= 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    assert_int_equal(n, 0);
    close(in);
    close(out);
}

/* The files as a kill -9 now would leave them (no -shm: SQLite rebuilds the index from the WAL,
 * checking every frame's checksum), opened through the default VFS. */
static void check_crash_image(struct fixture *f)
{
    char from[160], to[160];
    sqlite3 *db;

    rm_files(f->copy);
    snprintf(from, sizeof(from), "%s/t.db", f->dir);
    snprintf(to, sizeof(to), "%s/t.db", f->copy);
    copy_file(from, to);
    snprintf(from, sizeof(from), "%s/t.db-wal", f->dir);
    snprintf(to, sizeof(to), "%s/t.db-wal", f->copy);
    copy_file(from, to);
    snprintf(to, sizeof(to), "%s/t.db", f->copy);
    assert_int_equal(sqlite3_open_v2(to, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    integrity_ok(db);
    check_content(f, db);
    sqlite3_close(db);
}

static void test_commits_visible(void **state)
{
    struct fixture *f = *state;
    struct walbuf_stats before, after;

    walbuf_stats(&before);
    for (int i = 0; i < 150; i++) {
        int n = 1 + (int)(rnd(f) % (i % 10 == 0 ? 2000 : 40));

        assert_int_equal(transaction(f, n, rnd(f) % 10 != 0), SQLITE_OK);
        check_content(f, f->r);
    }
    integrity_ok(f->r);
    check_crash_image(f);
    walbuf_stats(&after);
    assert_true(after.commits - before.commits >= 100);
    /* a WAL write is a frame header (24 bytes), a page or the file header (32) */
    assert_true(after.bytes - before.bytes >= (after.writes - before.writes) * 24);
    /* about two write calls per frame, one system write per 64 KiB or commit */
    assert_true((after.flushes - before.flushes) * 4 < after.writes - before.writes);
}

static void test_checkpoints_copy_everything(void **state)
{
    struct fixture *f = *state;
    struct walbuf_stats before, after;
    sqlite3 *ck;
    int logged, copied;

    assert_int_equal(
        sqlite3_open_v2(f->path, &ck, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, WALBUF_VFS),
        SQLITE_OK);
    walbuf_stats(&before);
    for (int i = 0; i < 60; i++) {
        int n = 1 + (int)(rnd(f) % (i % 10 == 0 ? 2000 : 40));

        assert_int_equal(transaction(f, n, rnd(f) % 10 != 0), SQLITE_OK);
        if (i % 3 == 0) /* the maintenance thread's kind, and the reader sees the copy */
            assert_int_equal(
                sqlite3_wal_checkpoint_v2(ck, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL),
                SQLITE_OK);
        check_content(f, f->r);
    }
    /* the writer's kind; then the reader reads the database file alone */
    assert_int_equal(
        sqlite3_wal_checkpoint_v2(f->w, NULL, SQLITE_CHECKPOINT_TRUNCATE, &logged, &copied),
        SQLITE_OK);
    assert_int_equal(logged, 0);
    check_content(f, f->r);
    integrity_ok(f->r);
    check_crash_image(f);
    walbuf_stats(&after);
    assert_true(after.ckpt_pages - before.ckpt_pages > 1000);
    assert_true((after.ckpt_writes - before.ckpt_writes) * 2 <
                after.ckpt_pages - before.ckpt_pages);
    sqlite3_close(ck);
}

static void test_spills_recover(void **state)
{
    struct fixture *f = *state;

    /* a page cache of 20 pages: every transaction below spills before its commit, and updates
     * rewrite frames it already wrote */
    exec_ok(f->w, "PRAGMA cache_size = 20");
    for (int i = 0; i < 40; i++) {
        assert_int_equal(transaction(f, 200 + (int)(rnd(f) % 1500), true), SQLITE_OK);
        check_content(f, f->r);
        check_crash_image(f);
    }
    /* a checkpoint lets the next transaction start the WAL over, at offset 0 */
    exec_ok(f->w, "PRAGMA wal_checkpoint(TRUNCATE)");
    for (int i = 0; i < 5; i++) {
        assert_int_equal(transaction(f, 1000, true), SQLITE_OK);
        check_crash_image(f);
    }
    check_content(f, f->r);
}

static void test_failed_write(void **state)
{
    struct fixture *f = *state;
    struct rlimit old, lim;
    struct stat sb;
    char wal[160];
    int rc;

    assert_int_equal(transaction(f, 500, true), SQLITE_OK);
    snprintf(wal, sizeof(wal), "%s/t.db-wal", f->dir);
    assert_int_equal(stat(wal, &sb), 0);
    signal(SIGXFSZ, SIG_IGN); /* a write past the limit then fails with EFBIG */
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)sb.st_size + 4096;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    rc = transaction(f, 1500, true);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    assert_int_not_equal(rc, SQLITE_OK);
    check_content(f, f->r); /* what was committed before, nothing of the failed one */
    check_crash_image(f);
    assert_int_equal(transaction(f, 800, true), SQLITE_OK);
    check_content(f, f->r);
    check_crash_image(f);
}

/* A PASSIVE checkpoint by a fresh connection in a child process whose files may not grow past
 * `limit` bytes; its wait status. The child exits 1 when the checkpoint fails, 2 when it does not
 * (the test is then void), 3 when it could not start. */
static int checkpoint_in_child(struct fixture *f, off_t limit)
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) { /* SQLite's connections must not cross a fork: a new one */
        struct rlimit lim, nocore = {0, 0};
        sqlite3 *ck;
        int rc;

        signal(SIGABRT, SIG_DFL); /* not the test runner's handler, and no core file */
        (void)setrlimit(RLIMIT_CORE, &nocore);
        signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails (EFBIG, or short) */
        lim.rlim_cur = lim.rlim_max = (rlim_t)limit;
        if (setrlimit(RLIMIT_FSIZE, &lim) ||
            sqlite3_open_v2(f->path, &ck, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                            WALBUF_VFS) != SQLITE_OK ||
            sqlite3_exec(ck, "SELECT count(*) FROM t", NULL, NULL, NULL) != SQLITE_OK)
            _exit(3); /* (a connection knows the WAL only once it has read) */
        rc = sqlite3_wal_checkpoint_v2(ck, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        _exit(rc == SQLITE_OK ? 2 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* Every committed row is there, from the WAL and then, after a checkpoint that succeeds, from
 * the database file alone. */
static void check_then_checkpoint(struct fixture *f)
{
    check_content(f, f->r);
    assert_int_equal(sqlite3_wal_checkpoint_v2(f->w, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL),
                     SQLITE_OK);
    check_content(f, f->r);
    integrity_ok(f->r);
    check_crash_image(f);
}

static int64_t page_count(struct fixture *f)
{
    sqlite3_stmt *st;
    int64_t n;

    assert_int_equal(sqlite3_prepare_v2(f->w, "PRAGMA page_count", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void test_failed_checkpoint(void **state)
{
    struct fixture *f = *state;
    struct stat sb;
    int status;

    /* a write in the middle of the copy fails: so does the checkpoint (the WAL keeps it all) */
    for (int i = 0; i < 8; i++)
        assert_int_equal(transaction(f, 400, true), SQLITE_OK);
    assert_int_equal(stat(f->path, &sb), 0);
    status = checkpoint_in_child(f, sb.st_size + 8192);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    check_then_checkpoint(f);
    /* only the copy's last run, written at its end, fails: the process stops before SQLite
     * counts the pages copied, and they are copied again afterwards */
    for (int i = 0; i < 8; i++)
        assert_int_equal(transaction(f, 400, true), SQLITE_OK);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_true(page_count(f) * 1024 > sb.st_size + 65536); /* the file grows by far */
    status = checkpoint_in_child(f, (off_t)(page_count(f) * 1024 - 512));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    check_then_checkpoint(f);
}

/* The daemon opens its readers and its checkpointer through the VFS too (store/sqlite.c). A
 * connection opened between the writer's database file and its WAL must not take the writer's
 * link, nor a buffer of its own; the checkpointer's copy, on a thread that asked for it, yields
 * (walbuf_yield_every), and no thread that did not ask ever yields. */
static void test_other_connections(void **state)
{
    struct fixture *f = *state;
    struct walbuf_stats a, b, c;
    sqlite3 *w2, *rd, *ck;
    int logged = -1, copied = -1;

    /* a second writer connection whose WAL opens (its first statement) only after two more
     * connections opened their database files: it must link to its own */
    assert_int_equal(
        sqlite3_open_v2(f->path, &w2, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, WALBUF_VFS),
        SQLITE_OK);
    assert_int_equal(
        sqlite3_open_v2(f->path, &rd, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, WALBUF_VFS),
        SQLITE_OK);
    assert_int_equal(
        sqlite3_open_v2(f->path, &ck, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, WALBUF_VFS),
        SQLITE_OK);
    walbuf_stats(&a);
    for (int i = 0; i < 60; i++) {
        exec_ok(w2, "BEGIN");
        exec_ok(w2, "INSERT INTO t(v, b) VALUES (random(), zeroblob(900))");
        exec_ok(w2, "INSERT INTO t(v, b) VALUES (random(), zeroblob(900))");
        exec_ok(w2, "COMMIT");
        exec_ok(rd, "SELECT count(*) FROM t");
    }
    exec_ok(rd, "PRAGMA query_only = 1");
    exec_ok(ck, "SELECT count(*) FROM t"); /* it knows the WAL only once it has read */
    walbuf_stats(&b);
    /* w2's appends were coalesced: its WAL is linked to its own database file */
    assert_true(b.commits - a.commits >= 60);
    assert_true((b.flushes - a.flushes) * 3 < b.writes - a.writes);
    assert_int_equal(b.yields, a.yields); /* nobody asked */
    walbuf_yield_every(1);                /* every YIELD_CHECK_WRITES page writes */
    assert_int_equal(
        sqlite3_wal_checkpoint_v2(ck, NULL, SQLITE_CHECKPOINT_PASSIVE, &logged, &copied),
        SQLITE_OK);
    walbuf_yield_every(0);
    walbuf_stats(&c);
    /* 120 rows of 900 bytes: over 100 distinct pages copied, one yield per 16 page writes; the
     * rows' pages follow one another, so the copy took far fewer system writes than pages */
    assert_true(copied > 100);
    assert_true(c.yields - b.yields >= 100 / YIELD_CHECK_WRITES - 1);
    assert_true(c.ckpt_pages - b.ckpt_pages > 100);
    assert_true((c.ckpt_writes - b.ckpt_writes) * 4 < c.ckpt_pages - b.ckpt_pages);
    exec_ok(w2, "INSERT INTO t(v, b) VALUES (1, x'00')");
    assert_int_equal(sqlite3_wal_checkpoint_v2(ck, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL),
                     SQLITE_OK);
    walbuf_stats(&b);
    assert_int_equal(b.yields, c.yields);
    integrity_ok(rd);
    sqlite3_close(ck);
    sqlite3_close(rd);
    sqlite3_close(w2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commits_visible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spills_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoints_copy_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_connections, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
