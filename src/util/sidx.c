#include "util/sidx.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* A bucket per value of the sid's high 16 bits; in it, entries sorted by (low 16 bits, rid). */
#define SIDX_BUCKETS 65536u
#define SIDX_MIN_CAP 4u

struct sent {
    uint16_t lo;     /* the sid's low 16 bits */
    uint16_t rid_hi; /* rid bits 32-47 */
    uint32_t rid_lo;
};

struct sbucket {
    struct sent *e;
    uint32_t n, cap;
};

struct sidx {
    pthread_mutex_t mu;
    struct sbucket *b;
    atomic_size_t count; /* written under mu; read without it */
    atomic_bool broken;
};

struct sidx *sidx_new(void)
{
    struct sidx *x = calloc(1, sizeof(*x));

    if (!x)
        return NULL;
    if (!(x->b = calloc(SIDX_BUCKETS, sizeof(*x->b)))) {
        free(x);
        return NULL;
    }
    pthread_mutex_init(&x->mu, NULL);
    return x;
}

void sidx_free(struct sidx *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < SIDX_BUCKETS; i++)
        free(x->b[i].e);
    free(x->b);
    pthread_mutex_destroy(&x->mu);
    free(x);
}

static uint32_t sid_of(const uint8_t id[16])
{
    return (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3];
}

/* An entry's place in its bucket's order. */
static uint64_t ekey(const struct sent *e)
{
    return (uint64_t)e->lo << 48 | (uint64_t)e->rid_hi << 32 | e->rid_lo;
}

static uint64_t key_of(uint32_t sid, uint64_t rid)
{
    return (uint64_t)(sid & 0xffffu) << 48 | rid;
}

/* The first entry of b whose key is >= k. */
static uint32_t lower(const struct sbucket *b, uint64_t k)
{
    uint32_t lo = 0, hi = b->n;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ekey(&b->e[mid]) < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int grow(struct sbucket *b)
{
    uint32_t cap = b->cap ? b->cap * 2 : SIDX_MIN_CAP;
    struct sent *e;

    if (b->cap > UINT32_MAX / 2 || !(e = realloc(b->e, (size_t)cap * sizeof(*e))))
        return TOCSIN_ENOMEM;
    b->e = e;
    b->cap = cap;
    return TOCSIN_OK;
}

int sidx_put(struct sidx *x, const uint8_t id[16], uint64_t rid)
{
    uint32_t sid = sid_of(id);
    struct sbucket *b = &x->b[sid >> 16];
    int rc = TOCSIN_OK;

    pthread_mutex_lock(&x->mu);
    if (rid > SIDX_RID_MAX) {
        x->broken = true;
        rc = TOCSIN_EINVAL;
    } else if (!x->broken) {
        uint64_t k = key_of(sid, rid);
        uint32_t at = lower(b, k);
        if (at < b->n && ekey(&b->e[at]) == k) {
            /* there already */
        } else if (b->n == b->cap && (rc = grow(b))) {
            x->broken = true;
        } else {
            memmove(&b->e[at + 1], &b->e[at], (size_t)(b->n - at) * sizeof(*b->e));
            b->e[at] = (struct sent){
                .lo = (uint16_t)sid, .rid_hi = (uint16_t)(rid >> 32), .rid_lo = (uint32_t)rid};
            b->n++;
            x->count++;
        }
    }
    pthread_mutex_unlock(&x->mu);
    return rc;
}

void sidx_del(struct sidx *x, const uint8_t id[16], uint64_t rid)
{
    uint32_t sid = sid_of(id);
    struct sbucket *b = &x->b[sid >> 16];
    uint64_t k = key_of(sid, rid);
    uint32_t at;

    pthread_mutex_lock(&x->mu);
    at = rid <= SIDX_RID_MAX ? lower(b, k) : b->n;
    if (at < b->n && ekey(&b->e[at]) == k) {
        memmove(&b->e[at], &b->e[at + 1], (size_t)(b->n - at - 1) * sizeof(*b->e));
        b->n--;
        x->count--;
        if (!b->n) {
            free(b->e);
            *b = (struct sbucket){0};
        } else if (b->cap > SIDX_MIN_CAP && b->n <= b->cap / 4) {
            struct sent *e = realloc(b->e, (size_t)(b->cap / 2) * sizeof(*e));
            if (e) {
                b->e = e;
                b->cap /= 2;
            }
        }
    }
    pthread_mutex_unlock(&x->mu);
}

bool sidx_usable(struct sidx *x)
{
    return !atomic_load_explicit(&x->broken, memory_order_relaxed);
}

size_t sidx_count(struct sidx *x)
{
    return atomic_load_explicit(&x->count, memory_order_relaxed);
}

bool sidx_prefix_range(const char *prefix, size_t len, uint32_t *lo, uint32_t *hi)
{
    size_t k = len < 8 ? len : 8;
    uint64_t v = 0;

    if (!k)
        return false;
    for (size_t i = 0; i < k; i++) {
        char c = prefix[i];
        if (c >= '0' && c <= '9')
            v = v << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint64_t)(c - 'a' + 10);
        else
            return false;
    }
    v <<= 4 * (8 - k);
    *lo = (uint32_t)v;
    *hi = (uint32_t)(v | ((UINT64_C(1) << (4 * (8 - k))) - 1));
    return true;
}

static struct sidx_hit hit_of(uint32_t bucket, const struct sent *e)
{
    return (struct sidx_hit){.sid = bucket << 16 | e->lo,
                             .rid = (uint64_t)e->rid_hi << 32 | e->rid_lo};
}

/* After a full page of hits: when the entry after the last one (*next) has the last one's sid,
 * the hits of that sid go to the next call, unless they are all the page holds. */
static size_t whole_sids(const struct sidx_hit *out, size_t n, const struct sidx_hit *next)
{
    size_t k = n;

    if (!next || next->sid != out[n - 1].sid)
        return n;
    while (k > 0 && out[k - 1].sid == out[n - 1].sid)
        k--;
    return k ? k : n;
}

size_t sidx_find(struct sidx *x, uint32_t lo, uint32_t hi, const struct sidx_hit *after,
                 struct sidx_hit *out, size_t max)
{
    uint32_t sid0 = lo;
    uint64_t rid0 = 0; /* from (sid0, rid0) on */
    size_t n = 0;

    if (after) {
        if (after->sid > hi || (after->sid == hi && after->rid >= SIDX_RID_MAX))
            return 0;
        if (after->sid >= lo) {
            sid0 = after->rid >= SIDX_RID_MAX ? after->sid + 1 : after->sid;
            rid0 = after->rid >= SIDX_RID_MAX ? 0 : after->rid + 1;
        }
    }
    if (!max || lo > hi)
        return 0;
    pthread_mutex_lock(&x->mu);
    for (uint32_t bk = sid0 >> 16; bk <= hi >> 16; bk++) {
        const struct sbucket *b = &x->b[bk];
        uint32_t i = bk == sid0 >> 16 ? lower(b, key_of(sid0, rid0)) : 0;
        for (; i < b->n; i++) {
            struct sidx_hit h = hit_of(bk, &b->e[i]);
            if (h.sid > hi)
                goto done;
            if (n == max) {
                n = whole_sids(out, n, &h);
                goto done;
            }
            out[n++] = h;
        }
    }
done:
    pthread_mutex_unlock(&x->mu);
    return n;
}
