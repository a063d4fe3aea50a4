/* A SQLite VFS that coalesces the writer's WAL appends (store/walbuf.c).
 *
 * SQLite writes each WAL frame with two pwrite calls (its 24-byte header, then the page): with
 * 1 KiB pages a commit of a thousand alerts made thousands of small system calls, which cost the
 * writer more than the copying they do. This VFS wraps the system's default one and, for WAL files
 * only, gathers appends in a buffer of WALBUF_SIZE bytes that reaches the file:
 *   - when a commit's last frame has been written (the frame whose header carries the database
 *     size), and again when SQLite publishes the commit in the WAL index: a commit is in the
 *     OS's page cache when it returns, as without this VFS, so `synchronous = NORMAL` keeps
 *     surviving kill -9, and other connections read every frame they are told about;
 *   - before anything that looks at the file (read, sync, truncate, size, lock, file control,
 *     close), before a write that does not follow the buffered bytes, and when it is full.
 * A failed flush keeps the bytes and fails the call that needed them (a commit's last write fails
 * its commit). A checkpoint's copy of pages into the database file is coalesced the same way,
 * runs of consecutive pages in one write (see walbuf.c for what a failed write does). The
 * shared-memory index and every other file go straight through. */
#ifndef TOCSIN_WALBUF_H
#define TOCSIN_WALBUF_H

#include <stddef.h>
#include <stdint.h>

#define WALBUF_VFS "tocsin-walbuf"
/* Bytes buffered per open WAL file, flushed in one xWrite: the unix VFS writes at most
 * 128 KiB - 1 bytes in one call (it masks the length: a 1 MiB write writes nothing). */
#define WALBUF_SIZE (64u << 10)

/* Registers the VFS (not as the default) once per process; later calls do nothing. Returns a
 * SQLite result code. Thread-safe. */
int walbuf_register(void);

/* Counters over every WAL file of the process (relaxed atomics, for tests and stats): write
 * calls received and their bytes, system writes made (flushes, and the writes that went
 * straight through), commits seen, the yields of walbuf_yield_every(), and the pages that
 * checkpoints wrote into database files and the system writes that took them. */
struct walbuf_stats {
    unsigned long long writes, bytes, flushes, commits, yields, ckpt_pages, ckpt_writes;
};
void walbuf_stats(struct walbuf_stats *out);

/* For the calling thread only: while it writes database files (not WALs), it calls
 * sched_yield() once per `ns` of writing, looked at every YIELD_CHECK_WRITES writes; 0 stops.
 * For the maintenance thread, whose checkpoint copies thousands of pages in one call, so that
 * the threads that answer requests and deliver notifications, woken on its CPU meanwhile, do
 * not wait for the whole copy (the kernel's scheduler let them wait up to 3.9 ms). */
#define YIELD_CHECK_WRITES 16
void walbuf_yield_every(int64_t ns);

#endif
