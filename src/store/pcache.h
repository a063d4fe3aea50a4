/* SQLite's own page cache, wrapped so that a commit does not scan it whole (store/pcache.c).
 *
 * At the end of every transaction SQLite asks its page cache to drop the pages past the end of
 * the database (xTruncate). The default cache (pcache1) keeps the largest page number it has held
 * since its last truncation and, when that is past the end, walks every bucket of its hash
 * table. B-tree page splits that put sibling pages back in ascending order swap two pages'
 * numbers through a temporary one, the page after SQLite's lock byte (page 1,048,577 with 1 KiB
 * pages, never a data page): from then on every commit that split such a page walked the whole
 * table, whose size only grows (8,192 buckets in the notification benchmark, more after large
 * transactions). It was 17 % of the store writer's time in that benchmark.
 *
 * The wrapper forwards every call to the default cache and keeps its own largest page number,
 * leaving out that temporary one, and forwards a truncation only when a page at or past its
 * limit can be in the cache. Rolled-back transactions, which do leave such pages, are still
 * truncated. */
#ifndef TOCSIN_PCACHE_H
#define TOCSIN_PCACHE_H

/* Installs the wrapper for the whole process, once, before SQLite is initialised. Returns a
 * SQLite result code: SQLITE_MISUSE when SQLite was initialised already (the default cache then
 * stays, which is only slower). Thread-safe. */
int pcache_install(void);

/* Counters (relaxed atomics, for tests): truncations asked for, those forwarded, and pages
 * moved to the B-tree's temporary page number. */
struct pcache_stats {
    unsigned long long truncates, forwarded, swaps;
};
void pcache_stats(struct pcache_stats *out);

#endif
