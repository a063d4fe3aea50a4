#include "util/smap.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

uint64_t smap_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, 8 bytes at a time, then a final mix */

    for (; n >= 8; s += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    while (n--)
        h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

void smap_init(struct smap *m)
{
    m->buckets = NULL;
    m->nbuckets = m->count = 0;
}

void smap_free(struct smap *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct smap_entry *e = m->buckets[i], *n;
        while (e) {
            n = e->next;
            free(e);
            e = n;
        }
    }
    free(m->buckets);
    smap_init(m);
}

static struct smap_entry **find(const struct smap *m, const char *key, size_t klen, uint64_t h)
{
    struct smap_entry **pp;

    if (!m->nbuckets)
        return NULL;
    pp = &m->buckets[h & (m->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && (*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0)
            return pp;
    return pp;
}

void *smap_get(const struct smap *m, const char *key, size_t klen)
{
    struct smap_entry **pp = find(m, key, klen, smap_hash(key, klen));

    return pp && *pp ? (*pp)->value : NULL;
}

static int grow(struct smap *m)
{
    size_t nb = m->nbuckets ? m->nbuckets * 2 : 16;
    struct smap_entry **b = calloc(nb, sizeof(*b));

    if (!b)
        return TOCSIN_ENOMEM;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct smap_entry *e = m->buckets[i], *n;
        while (e) {
            n = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = n;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
    return TOCSIN_OK;
}

int smap_put(struct smap *m, const char *key, size_t klen, void *value, void **old)
{
    uint64_t h = smap_hash(key, klen);
    struct smap_entry **pp, *e;

    if (old)
        *old = NULL;
    if (m->count >= m->nbuckets && grow(m))
        return TOCSIN_ENOMEM;
    pp = find(m, key, klen, h);
    if (!pp) /* cannot happen after grow(); says so to the compiler (-O3 -Wnull-dereference) */
        return TOCSIN_ENOMEM;
    if (*pp) {
        if (old)
            *old = (*pp)->value;
        (*pp)->value = value;
        return TOCSIN_OK;
    }
    e = malloc(sizeof(*e) + klen + 1);
    if (!e)
        return TOCSIN_ENOMEM;
    e->next = NULL;
    e->hash = h;
    e->value = value;
    e->klen = klen;
    memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    *pp = e;
    m->count++;
    return TOCSIN_OK;
}

void *smap_del(struct smap *m, const char *key, size_t klen)
{
    struct smap_entry **pp = find(m, key, klen, smap_hash(key, klen)), *e;
    void *v;

    if (!pp || !*pp)
        return NULL;
    e = *pp;
    *pp = e->next;
    v = e->value;
    free(e);
    m->count--;
    return v;
}

struct smap_entry *smap_first(const struct smap *m, size_t *it)
{
    for (*it = 0; *it < m->nbuckets; (*it)++)
        if (m->buckets[*it])
            return m->buckets[*it];
    return NULL;
}

struct smap_entry *smap_next(const struct smap *m, struct smap_entry *e, size_t *it)
{
    if (e->next)
        return e->next;
    for ((*it)++; *it < m->nbuckets; (*it)++)
        if (m->buckets[*it])
            return m->buckets[*it];
    return NULL;
}
