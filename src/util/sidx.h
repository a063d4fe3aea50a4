/* The short id index: which store rows (rids) hold an alert whose id starts with given 8 hex
 * characters (Alerta's short id, the first 4 bytes of the UUID), kept in memory for the readers'
 * look-ups by id or id prefix (store/alert_read.c).
 *
 * It replaces an SQLite index on those 8 characters. Ids are random, so every new alert inserted
 * into a random page of that index: with a million alerts, one more page per new alert in each
 * commit's WAL frames and in each checkpoint's writes. Here an entry is 8 bytes in one of 65,536
 * sorted arrays (by the id's first 2 bytes), about 12 bytes per alert in all at a million (the
 * arrays double).
 *
 * The engine thread puts and deletes entries as alerts enter and leave its tables (at start-up
 * it puts every stored one); any thread looks up. One mutex; a look-up holds it while it copies
 * at most the entries it asked for. The index may run ahead of a reader's snapshot (an entry
 * whose row is not committed yet, or an alert deleted that the snapshot still holds): readers
 * check the rows they are given, and an alert being created or deleted is found or not either
 * way. Rids up to 2^48; a larger one makes the index unusable (sidx_usable), and readers then
 * scan. */
#ifndef TOCSIN_SIDX_H
#define TOCSIN_SIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIDX_RID_MAX ((UINT64_C(1) << 48) - 1)

struct sidx;

struct sidx_hit {
    uint32_t sid; /* the id's first 4 bytes, big-endian (its first 8 characters, as a number) */
    uint64_t rid;
};

struct sidx *sidx_new(void);
void sidx_free(struct sidx *x);

/* id: the 16 bytes of the UUID. TOCSIN_ENOMEM (the index is then unusable). Putting an entry
 * that is there already adds nothing. */
int sidx_put(struct sidx *x, const uint8_t id[16], uint64_t rid);
void sidx_del(struct sidx *x, const uint8_t id[16], uint64_t rid);

/* False once a put failed (no memory, a rid past SIDX_RID_MAX): from then on it misses rows. */
bool sidx_usable(struct sidx *x);
size_t sidx_count(struct sidx *x);

/* The sid range [*lo, *hi] of ids that start with the `len` characters `prefix` (lower-case hex
 * for the first min(len, 8); anything after them is not looked at). False when no id can start
 * so (a character that is not lower-case hex, or len 0). */
bool sidx_prefix_range(const char *prefix, size_t len, uint32_t *lo, uint32_t *hi);

/* Up to `max` (> 0) entries with lo <= sid <= hi, in (sid, rid) order, after the entry *after
 * (NULL: from the start). Does not split the entries of one sid between two calls unless one sid
 * has more than `max` of them. Returns the count, 0 when there are no more. */
size_t sidx_find(struct sidx *x, uint32_t lo, uint32_t hi, const struct sidx_hit *after,
                 struct sidx_hit *out, size_t max);

#endif
