/* The WAL-coalescing VFS (see walbuf.h).
 *
 * Every file this VFS opens is a `struct wb_file` followed by the default VFS's own file object,
 * to which every method is passed on. A WAL file additionally has a buffer, flushed at two
 * points of a commit:
 *   - when the commit frame's page is written (the frame header before it carried the database
 *     size). A flush that fails fails that write, so SQLite fails the commit. From there until
 *     the commit is published the WAL is written through: SQLite may still rewrite checksums of
 *     earlier frames of the transaction (one that spilled pages before its commit).
 *   - when the commit is published. SQLite writes the WAL index header twice with xShmBarrier,
 *     a call on the database file, between the two copies, and a reader takes the header only
 *     when both agree; so the main database file of the same connection is linked to its WAL
 *     (the WAL's name is the database's name plus "-wal", as SQLite builds it) and its
 *     xShmBarrier flushes the WAL and ends the write-through. Nothing SQLite wrote before a
 *     commit is visible to another connection can be left in the buffer.
 * A WAL file with no database file linked (none found) is written through.
 *
 * A database file also has a buffer, for checkpoints only (between SQLITE_FCNTL_CKPT_START and
 * SQLITE_FCNTL_CKPT_DONE): SQLite copies the WAL's pages in ascending page order, one 1 KiB
 * write each, and the pages a load appends are mostly consecutive, so runs of consecutive pages
 * go out in one write. A run is written when the next page does not follow it, when the buffer
 * is full, and at CKPT_DONE. A write that fails inside the copy fails the write SQLite is making,
 * so the checkpoint fails and its pages stay in the WAL (the run is dropped: the next checkpoint
 * copies them again). SQLite ignores what CKPT_DONE returns, and counts the copied frames as in
 * the database file right after it: a last run that cannot be written there is retried, and
 * if it still fails the process stops (abort), as PostgreSQL stops when a checkpoint's write
 * fails, so that the recovery at the next start reads those pages from the WAL, which still
 * holds them (readers after a partial checkpoint would read the file's stale pages instead). So
 * that this cannot be a full disk, the space a growing database file needs is reserved
 * (fallocate, keeping the size) when SQLite announces it (SQLITE_FCNTL_SIZE_HINT); if it cannot
 * be, that checkpoint writes every page through as before.
 *
 * A `struct wb_file` is used by the one thread of its connection (SQLITE_OPEN_NOMUTEX, store.h);
 * only the registry that links the two files is shared and has a mutex. */
#include "store/walbuf.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"

/* Bytes for consecutive offsets of a file, held to go out in one write. */
struct run {
    unsigned char *p;  /* WALBUF_SIZE bytes, or NULL until first needed */
    size_t len;        /* bytes held */
    sqlite3_int64 off; /* file offset of p[0] */
};

/* Whether amt bytes written at off can join r: it is empty, or they follow it and fit. */
static bool run_takes(const struct run *r, sqlite3_int64 off, size_t amt)
{
    return !r->len || (off == r->off + (sqlite3_int64)r->len && r->len + amt <= WALBUF_SIZE);
}

/* Adds them (run_takes said they join). */
static void run_add(struct run *r, const void *data, size_t amt, sqlite3_int64 off)
{
    if (!r->len)
        r->off = off;
    memcpy(r->p + r->len, data, amt);
    r->len += amt;
}

struct wb_file {
    sqlite3_file base;
    sqlite3_file *real; /* the default VFS's file, right after this struct */
    const char *name;   /* as given to xOpen (SQLite keeps it alive while open) */
    bool is_wal, is_db;
    bool commit_hdr;      /* the last write was a commit frame's header */
    bool through;         /* a commit's frames are out: write through until it is published */
    struct wb_file *peer; /* db <-> its WAL while both are open (under reg_mu) */
    struct wb_file *next; /* in the registry of open database files */
    /* WAL only: its appends, the buffer from its first write (a reader's connection never
     * writes its WAL) */
    struct run w;
    /* database files, during a checkpoint (see the top of the file): its run of pages, the
     * buffer from the first checkpoint */
    bool in_ckpt; /* between CKPT_START and CKPT_DONE, with room reserved */
    struct run c;
};

static sqlite3_vfs wb_vfs;
static sqlite3_vfs *real_vfs;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static int reg_rc = SQLITE_ERROR;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct wb_file *open_dbs;
static atomic_ullong n_writes, n_bytes, n_flushes, n_commits, n_yields, n_ckpt_pages, n_ckpt_writes;

/* walbuf_yield_every(): this thread's slice (0: never yields) and when it last yielded. */
static _Thread_local int64_t yield_every_ns, yielded_ns;
static _Thread_local unsigned writes_since_check;

/* The WAL file format (sqlite.org/fileformat.html#the_write_ahead_log): a 32-byte header, then
 * frames of a 24-byte header and a page. Bytes 4..7 of a frame header hold the database size in
 * pages after a commit for a commit's last frame, and 0 for every other frame. */
#define WAL_HDR 32
#define WAL_FRAME_HDR 24

#define REAL(f) (((struct wb_file *)(f))->real)
#define WB(f) ((struct wb_file *)(f))

static int flush(struct wb_file *f)
{
    int rc;

    if (!f->w.len)
        return SQLITE_OK;
    rc = f->real->pMethods->xWrite(f->real, f->w.p, (int)f->w.len, f->w.off);
    if (rc != SQLITE_OK)
        return rc; /* kept: the caller's call fails, a later one tries again */
    f->w.len = 0;
    atomic_fetch_add_explicit(&n_flushes, 1, memory_order_relaxed);
    return SQLITE_OK;
}

/* The WAL linked to a database file, flushed and out of write-through. */
static void flush_peer(struct wb_file *db)
{
    struct wb_file *w;

    pthread_mutex_lock(&reg_mu);
    w = db->peer;
    pthread_mutex_unlock(&reg_mu);
    if (w && flush(w) == SQLITE_OK) {
        w->through = false;
        w->commit_hdr = false;
    }
}

/* ---- io methods ---------------------------------------------------------------------- */

static void unlink_file(struct wb_file *f)
{
    pthread_mutex_lock(&reg_mu);
    if (f->peer)
        f->peer->peer = NULL;
    f->peer = NULL;
    if (f->is_db) {
        for (struct wb_file **pp = &open_dbs; *pp; pp = &(*pp)->next)
            if (*pp == f) {
                *pp = f->next;
                break;
            }
    }
    pthread_mutex_unlock(&reg_mu);
}

static int wb_close(sqlite3_file *p)
{
    struct wb_file *f = WB(p);
    int rc = f->is_wal ? flush(f) : SQLITE_OK, rc2;

    unlink_file(f);
    rc2 = f->real->pMethods->xClose(f->real);
    free(f->w.p);
    free(f->c.p);
    f->w.p = f->c.p = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int wb_read(sqlite3_file *p, void *out, int amt, sqlite3_int64 off)
{
    int rc = flush(WB(p));

    return rc != SQLITE_OK ? SQLITE_IOERR_READ : REAL(p)->pMethods->xRead(REAL(p), out, amt, off);
}

/* For a thread that asked (walbuf_yield_every): yields the CPU now and then while it writes a
 * database file, counted in SQLite's page writes. */
static void maybe_yield(void)
{
    int64_t now;

    if (!yield_every_ns || ++writes_since_check < YIELD_CHECK_WRITES)
        return;
    writes_since_check = 0;
    now = clock_mono_ns();
    if (now - yielded_ns >= yield_every_ns) {
        sched_yield();
        yielded_ns = clock_mono_ns();
        atomic_fetch_add_explicit(&n_yields, 1, memory_order_relaxed);
    }
}

/* A write that goes straight to the file: a database file's, or an unbuffered WAL's. */
static int write_through(struct wb_file *f, const void *data, int amt, sqlite3_int64 off)
{
    if (f->is_wal)
        atomic_fetch_add_explicit(&n_flushes, 1, memory_order_relaxed); /* a system write too */
    return f->real->pMethods->xWrite(f->real, data, amt, off);
}

/* One system write of a checkpoint's pages. */
static int ckpt_put(struct wb_file *f, const void *data, size_t n, sqlite3_int64 off)
{
    atomic_fetch_add_explicit(&n_ckpt_writes, 1, memory_order_relaxed);
    return write_through(f, data, (int)n, off);
}

/* Writes a checkpoint's run; it is gone either way (see the top of the file). */
static int ckpt_flush(struct wb_file *f)
{
    size_t n = f->c.len;

    f->c.len = 0;
    return n ? ckpt_put(f, f->c.p, n, f->c.off) : SQLITE_OK;
}

static int ckpt_write(struct wb_file *f, const void *data, int amt, sqlite3_int64 off)
{
    int rc;

    atomic_fetch_add_explicit(&n_ckpt_pages, 1, memory_order_relaxed);
    if (!run_takes(&f->c, off, (size_t)amt) && (rc = ckpt_flush(f)) != SQLITE_OK)
        return rc;
    if ((size_t)amt > WALBUF_SIZE)
        return ckpt_put(f, data, (size_t)amt, off);
    run_add(&f->c, data, (size_t)amt, off);
    return SQLITE_OK;
}

#define CKPT_DONE_TRIES 3

/* SQLITE_FCNTL_CKPT_DONE: the last run must reach the file (see the top of the file). */
static void ckpt_done(struct wb_file *f)
{
    size_t n = f->c.len;
    int rc = SQLITE_OK;

    f->in_ckpt = false;
    if (!n)
        return;
    f->c.len = 0;
    for (int i = 0; i < CKPT_DONE_TRIES; i++)
        if ((rc = ckpt_put(f, f->c.p, n, f->c.off)) == SQLITE_OK)
            return;
    log_error(
        "store_checkpoint_write_failed",
        "rc=%d bytes=%zu action=abort reason=\"the pages are copied again from the WAL at the "
        "next start\"",
        rc, n);
    abort();
}

/* SQLITE_FCNTL_CKPT_START, and SQLITE_FCNTL_SIZE_HINT within a checkpoint: the space for the
 * database file's new pages is reserved, or the checkpoint writes through. */
static void ckpt_start(struct wb_file *f)
{
    f->in_ckpt = f->c.p || (f->c.p = malloc(WALBUF_SIZE));
    f->c.len = 0;
}

static void ckpt_reserve(struct wb_file *f, sqlite3_int64 size)
{
    sqlite3_int64 cur = 0;
    int fd;

    if (!f->in_ckpt)
        return;
    if (f->real->pMethods->xFileSize(f->real, &cur) != SQLITE_OK) {
        f->in_ckpt = false;
        return;
    }
    if (size <= cur)
        return; /* SQLite only hints a size larger than the file's */
    fd = open(f->name, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)cur, (off_t)(size - cur)))
        f->in_ckpt = false;
    if (fd >= 0)
        close(fd);
}

static int wb_write(sqlite3_file *p, const void *data, int amt, sqlite3_int64 off)
{
    struct wb_file *f = WB(p);
    int rc;

    /* A linked WAL's first write takes its buffer. Without memory it is unlinked, so it is
     * written through from then on. */
    if (!f->w.p && f->is_wal && f->peer && !(f->w.p = malloc(WALBUF_SIZE)))
        unlink_file(f);
    if (f->is_wal) {
        atomic_fetch_add_explicit(&n_writes, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&n_bytes, (unsigned long long)(amt > 0 ? amt : 0),
                                  memory_order_relaxed);
    }
    if (!f->is_wal)
        maybe_yield();
    if (f->in_ckpt && amt > 0)
        return ckpt_write(f, data, amt, off);
    if (!f->w.p) /* not a WAL, or one with no database file */
        return write_through(f, data, amt, off);
    if ((f->through || !run_takes(&f->w, off, (size_t)amt)) && (rc = flush(f)) != SQLITE_OK)
        return rc;
    if (f->through || amt < 0 || (size_t)amt > WALBUF_SIZE)
        return write_through(f, data, amt, off);
    run_add(&f->w, data, (size_t)amt, off);
    if (f->commit_hdr) { /* the commit frame's page: the commit is complete */
        f->commit_hdr = false;
        if ((rc = flush(f)) != SQLITE_OK) {
            f->w.len -= (size_t)amt; /* this write failed; the frames before it stay */
            return rc;
        }
        f->through = true;
        atomic_fetch_add_explicit(&n_commits, 1, memory_order_relaxed);
    } else if (amt == WAL_FRAME_HDR && off >= WAL_HDR) {
        const unsigned char *h = data;

        f->commit_hdr = (h[4] | h[5] | h[6] | h[7]) != 0; /* the database size: a commit */
    }
    return SQLITE_OK;
}

static int wb_truncate(sqlite3_file *p, sqlite3_int64 size)
{
    int rc = flush(WB(p));

    return rc != SQLITE_OK ? rc : REAL(p)->pMethods->xTruncate(REAL(p), size);
}

static int wb_sync(sqlite3_file *p, int flags)
{
    int rc = flush(WB(p));

    return rc != SQLITE_OK ? rc : REAL(p)->pMethods->xSync(REAL(p), flags);
}

static int wb_file_size(sqlite3_file *p, sqlite3_int64 *size)
{
    int rc = flush(WB(p));

    return rc != SQLITE_OK ? rc : REAL(p)->pMethods->xFileSize(REAL(p), size);
}

static int wb_lock(sqlite3_file *p, int level)
{
    int rc = flush(WB(p));

    return rc != SQLITE_OK ? rc : REAL(p)->pMethods->xLock(REAL(p), level);
}

static int wb_unlock(sqlite3_file *p, int level)
{
    int rc = flush(WB(p));

    return rc != SQLITE_OK ? rc : REAL(p)->pMethods->xUnlock(REAL(p), level);
}

static int wb_check_reserved(sqlite3_file *p, int *out)
{
    return REAL(p)->pMethods->xCheckReservedLock(REAL(p), out);
}

static int wb_file_control(sqlite3_file *p, int op, void *arg)
{
    struct wb_file *f = WB(p);
    int rc;

    if (f->is_db && op == SQLITE_FCNTL_CKPT_START)
        ckpt_start(f);
    else if (f->is_db && op == SQLITE_FCNTL_CKPT_DONE)
        ckpt_done(f);
    else if (f->is_db && op == SQLITE_FCNTL_SIZE_HINT && arg)
        ckpt_reserve(f, *(sqlite3_int64 *)arg);
    rc = flush(f);

    return rc != SQLITE_OK ? rc : REAL(p)->pMethods->xFileControl(REAL(p), op, arg);
}

static int wb_sector_size(sqlite3_file *p)
{
    return REAL(p)->pMethods->xSectorSize(REAL(p));
}

static int wb_device_chars(sqlite3_file *p)
{
    return REAL(p)->pMethods->xDeviceCharacteristics(REAL(p));
}

static int wb_shm_map(sqlite3_file *p, int pg, int pgsz, int extend, void volatile **pp)
{
    return REAL(p)->pMethods->xShmMap(REAL(p), pg, pgsz, extend, pp);
}

static int wb_shm_lock(sqlite3_file *p, int offset, int n, int flags)
{
    return REAL(p)->pMethods->xShmLock(REAL(p), offset, n, flags);
}

/* Where a commit is published (see the top of the file). The commit's last frame has normally
 * flushed the buffer already (wb_write), so that a failed write fails the commit; what can be
 * left is only what SQLite writes after that frame, which goes through. xShmBarrier returns
 * nothing: a flush that fails here keeps its bytes, and every later read, write or sync of the
 * WAL fails until it succeeds. */
static void wb_shm_barrier(sqlite3_file *p)
{
    struct wb_file *f = WB(p);

    if (f->is_db)
        flush_peer(f);
    f->real->pMethods->xShmBarrier(f->real);
}

static int wb_shm_unmap(sqlite3_file *p, int del)
{
    return REAL(p)->pMethods->xShmUnmap(REAL(p), del);
}

static int wb_fetch(sqlite3_file *p, sqlite3_int64 off, int amt, void **pp)
{
    int rc;

    *pp = NULL;
    if (REAL(p)->pMethods->iVersion < 3)
        return SQLITE_OK;
    if ((rc = flush(WB(p))) != SQLITE_OK)
        return rc;
    return REAL(p)->pMethods->xFetch(REAL(p), off, amt, pp);
}

static int wb_unfetch(sqlite3_file *p, sqlite3_int64 off, void *ptr)
{
    if (REAL(p)->pMethods->iVersion < 3)
        return SQLITE_OK;
    return REAL(p)->pMethods->xUnfetch(REAL(p), off, ptr);
}

static const sqlite3_io_methods wb_methods = {
    .iVersion = 3,
    .xClose = wb_close,
    .xRead = wb_read,
    .xWrite = wb_write,
    .xTruncate = wb_truncate,
    .xSync = wb_sync,
    .xFileSize = wb_file_size,
    .xLock = wb_lock,
    .xUnlock = wb_unlock,
    .xCheckReservedLock = wb_check_reserved,
    .xFileControl = wb_file_control,
    .xSectorSize = wb_sector_size,
    .xDeviceCharacteristics = wb_device_chars,
    .xShmMap = wb_shm_map,
    .xShmLock = wb_shm_lock,
    .xShmBarrier = wb_shm_barrier,
    .xShmUnmap = wb_shm_unmap,
    .xFetch = wb_fetch,
    .xUnfetch = wb_unfetch,
};

/* ---- the VFS ------------------------------------------------------------------------- */

/* Links a WAL that is being opened to its database file: the one SQLite names for it
 * (sqlite3_filename_database returns the very name pointer the connection's database file was
 * opened with, so that with several connections to one database each WAL finds its own). */
static void link_wal(struct wb_file *w)
{
    sqlite3_filename db = sqlite3_filename_database(w->name);

    if (!db)
        return;
    pthread_mutex_lock(&reg_mu);
    for (struct wb_file *d = open_dbs; d; d = d->next)
        if (!d->peer && d->name == db) {
            d->peer = w;
            w->peer = d;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
}

static int wb_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *p, int flags,
                   int *out_flags)
{
    struct wb_file *f = WB(p);
    int rc;

    (void)vfs;
    memset(f, 0, sizeof(*f));
    f->real = (sqlite3_file *)(f + 1);
    rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK || !f->real->pMethods) {
        f->base.pMethods = NULL; /* SQLite calls no method of a file that failed to open */
        return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
    }
    f->base.pMethods = &wb_methods;
    f->name = name;
    if (name && (flags & SQLITE_OPEN_MAIN_DB)) {
        f->is_db = true;
        pthread_mutex_lock(&reg_mu);
        f->next = open_dbs;
        open_dbs = f;
        pthread_mutex_unlock(&reg_mu);
    } else if (name && (flags & SQLITE_OPEN_WAL)) {
        f->is_wal = true;
        link_wal(f);
    }
    return SQLITE_OK;
}

static int wb_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
    (void)v;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int wb_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int wb_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *wb_dlopen(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return real_vfs->xDlOpen(real_vfs, name);
}

static void wb_dlerror(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    real_vfs->xDlError(real_vfs, n, out);
}

static void (*wb_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return real_vfs->xDlSym(real_vfs, h, sym);
}

static void wb_dlclose(sqlite3_vfs *v, void *h)
{
    (void)v;
    real_vfs->xDlClose(real_vfs, h);
}

static int wb_randomness(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int wb_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return real_vfs->xSleep(real_vfs, us);
}

static int wb_current_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int wb_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, n, out) : 0;
}

static int wb_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    double d;
    int rc;

    (void)v;
    if (real_vfs->iVersion >= 2 && real_vfs->xCurrentTimeInt64)
        return real_vfs->xCurrentTimeInt64(real_vfs, out);
    rc = real_vfs->xCurrentTime(real_vfs, &d);
    *out = (sqlite3_int64)(d * 86400000.0);
    return rc;
}

static void do_register(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs)
        return;
    wb_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(struct wb_file) + real_vfs->szOsFile,
        .mxPathname = real_vfs->mxPathname,
        .zName = WALBUF_VFS,
        .xOpen = wb_open,
        .xDelete = wb_delete,
        .xAccess = wb_access,
        .xFullPathname = wb_full_pathname,
        .xDlOpen = wb_dlopen,
        .xDlError = wb_dlerror,
        .xDlSym = wb_dlsym,
        .xDlClose = wb_dlclose,
        .xRandomness = wb_randomness,
        .xSleep = wb_sleep,
        .xCurrentTime = wb_current_time,
        .xGetLastError = wb_last_error,
        .xCurrentTimeInt64 = wb_current_time64,
    };
    reg_rc = sqlite3_vfs_register(&wb_vfs, 0);
}

int walbuf_register(void)
{
    pthread_once(&reg_once, do_register);
    return reg_rc;
}

void walbuf_stats(struct walbuf_stats *out)
{
    out->writes = atomic_load_explicit(&n_writes, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&n_bytes, memory_order_relaxed);
    out->flushes = atomic_load_explicit(&n_flushes, memory_order_relaxed);
    out->commits = atomic_load_explicit(&n_commits, memory_order_relaxed);
    out->yields = atomic_load_explicit(&n_yields, memory_order_relaxed);
    out->ckpt_pages = atomic_load_explicit(&n_ckpt_pages, memory_order_relaxed);
    out->ckpt_writes = atomic_load_explicit(&n_ckpt_writes, memory_order_relaxed);
}

void walbuf_yield_every(int64_t ns)
{
    yield_every_ns = ns > 0 ? ns : 0;
    writes_since_check = 0;
}
