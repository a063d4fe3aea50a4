/* A string-keyed hash map (chained, power-of-two buckets, grows at load 1). Keys are copied;
 * values are borrowed pointers. Not thread-safe. */
#ifndef TOCSIN_SMAP_H
#define TOCSIN_SMAP_H

#include <stddef.h>
#include <stdint.h>

struct smap_entry {
    struct smap_entry *next;
    uint64_t hash;
    void *value;
    size_t klen;
    char key[]; /* NUL-terminated */
};

struct smap {
    struct smap_entry **buckets;
    size_t nbuckets; /* 0 or a power of two */
    size_t count;
};

/* A 64-bit hash of n bytes (not cryptographic): the map's, and any other in-memory use (the
 * notifier's parse cache, the engine's notification groups). Not stable across versions. */
uint64_t smap_hash(const char *s, size_t n);
void smap_init(struct smap *m);
/* Frees the entries (not the values). */
void smap_free(struct smap *m);
void *smap_get(const struct smap *m, const char *key, size_t klen);
/* Inserts or replaces; the old value (or NULL) is returned through *old if given. */
int smap_put(struct smap *m, const char *key, size_t klen, void *value, void **old);
/* Removes; returns the value or NULL. */
void *smap_del(struct smap *m, const char *key, size_t klen);

/* Iteration: for (e = smap_first(m, &i); e; e = smap_next(m, e, &i)). Do not modify the map
 * while iterating, except smap_del of the current entry after smap_next has been called. */
struct smap_entry *smap_first(const struct smap *m, size_t *it);
struct smap_entry *smap_next(const struct smap *m, struct smap_entry *e, size_t *it);

#endif
