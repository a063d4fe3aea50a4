#include "core/sketch.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* ln(gamma) for gamma = (1 + 0.01) / (1 - 0.01), and its inverse; test_sketch checks the 1%
 * bound at and around bucket edges over the whole double range. */
#define LN_GAMMA 0.020000666706669435
#define INV_LN_GAMMA 49.99833328888678
#define GROW_STEP 64 /* bucket arrays grow in multiples of this many cells */

/* Dense bucket counts for one sign. Invariant: every cell outside [lo, hi] is zero (every cell
 * when total == 0), and hi - lo < SKETCH_MAX_BUCKETS. */
struct store {
    uint64_t *counts; /* cap cells, counts[i] is key offset + i; NULL until the first sample */
    int32_t offset;
    int32_t cap;
    int32_t lo, hi; /* lowest and highest key in use; meaningful only when total > 0 */
    uint64_t total;
};

struct sketch {
    struct store pos; /* key = ceil(log_gamma(v)) of positive values */
    struct store neg; /* -key of |v| for negative values: low keys are the most negative values,
                         so folding the lowest keys folds the lowest values, as for pos */
    uint64_t zero;
    uint64_t count;
    double min, max; /* exact extremes; +inf / -inf when empty */
};

static int32_t min32(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

static int32_t max32(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

/* mag > 0 and finite; |result| < 37300 for every double. */
static int32_t key_of(double mag)
{
    return (int32_t)ceil(log(mag) * INV_LN_GAMMA);
}

/* The value reported for bucket `key`: within SKETCH_ALPHA of everything in the bucket. */
static double value_of(int32_t key)
{
    return exp((double)key * LN_GAMMA) * (1.0 - SKETCH_ALPHA);
}

static bool store_covers(const struct store *s, int32_t lo, int32_t hi)
{
    return s->counts && lo >= s->offset && hi <= s->offset + s->cap - 1;
}

static int32_t grown_cap(int32_t span)
{
    int32_t cap = span + span / 2;

    cap = (cap + GROW_STEP - 1) / GROW_STEP * GROW_STEP;
    return min32(cap, SKETCH_MAX_BUCKETS);
}

/* Moves the counts of keys below `lo` into key `lo`'s total, zeroing their cells; returns the
 * amount the caller must add to cell `lo` once it is addressable. */
static uint64_t fold_below(struct store *s, int32_t lo)
{
    uint64_t folded = 0;
    int32_t end;

    if (s->total == 0 || s->lo >= lo)
        return 0;
    end = min32(s->hi, lo - 1);
    for (int32_t k = s->lo; k <= end; k++) {
        folded += s->counts[k - s->offset];
        s->counts[k - s->offset] = 0;
    }
    s->lo = lo;
    s->hi = max32(s->hi, lo);
    return folded;
}

/* Puts the live cells into `cells` (cap cells, zeroed if new) at offset `off`; frees the old
 * array if it is a different one. Cells of [lo, hi] outside the old array are zero. */
static void move_cells(struct store *s, uint64_t *cells, int32_t cap, int32_t off)
{
    int32_t from = 0, to = -1;
    size_t n = 0;

    if (s->total > 0 && s->counts) {
        from = max32(s->lo, s->offset);
        to = min32(s->hi, s->offset + s->cap - 1);
    }
    if (from <= to) {
        n = (size_t)(to - from + 1);
        memmove(cells + (from - off), s->counts + (from - s->offset), n * sizeof(*cells));
    }
    if (cells == s->counts) {
        /* In place: everything outside the destination range is zero again. */
        size_t dst = from <= to ? (size_t)(from - off) : 0;
        memset(cells, 0, dst * sizeof(*cells));
        memset(cells + dst + n, 0, ((size_t)cap - dst - n) * sizeof(*cells));
    } else {
        free(s->counts);
    }
    s->counts = cells;
    s->cap = cap;
    s->offset = off;
}

/* A layout change decided before anything is modified, so that a merge touching both stores
 * either fails with nothing changed or cannot fail any more. */
struct plan {
    int32_t lo, hi;  /* keys that must be addressable; keys below lo fold into lo */
    bool refit;      /* the array must be re-laid (moved, grown or folded) */
    uint64_t *cells; /* the array to lay out into: a new zeroed one, or the current one */
    int32_t cap;
};

/* Plans room for the store plus keys [klo, khi]: the range is cut to the maximum width by
 * raising lo (the fold point). Allocates if needed; on failure nothing changed. */
static int store_plan(const struct store *s, int32_t klo, int32_t khi, struct plan *p)
{
    int32_t span;

    p->lo = s->total ? min32(s->lo, klo) : klo;
    p->hi = s->total ? max32(s->hi, khi) : khi;
    if (p->hi - p->lo >= SKETCH_MAX_BUCKETS)
        p->lo = p->hi - SKETCH_MAX_BUCKETS + 1;
    p->refit = !store_covers(s, p->lo, p->hi) || (s->total > 0 && s->lo < p->lo);
    p->cells = s->counts;
    p->cap = s->cap;
    span = p->hi - p->lo + 1;
    if (p->refit && (!p->cells || span > p->cap)) {
        p->cap = grown_cap(span);
        p->cells = calloc((size_t)p->cap, sizeof(*p->cells));
        if (!p->cells)
            return TOCSIN_ENOMEM;
    }
    return TOCSIN_OK;
}

/* Frees what a plan allocated when it is not going to be applied. */
static void plan_drop(const struct store *s, struct plan *p)
{
    if (p->cells != s->counts)
        free(p->cells);
    p->cells = NULL;
}

/* Applies a plan: cannot fail. Afterwards keys [p->lo, p->hi] are addressable and the counts of
 * keys below p->lo have been folded into p->lo. */
static void store_apply(struct store *s, const struct plan *p)
{
    uint64_t folded;

    if (!p->refit)
        return;
    folded = fold_below(s, p->lo);
    move_cells(s, p->cells, p->cap, p->lo - (p->cap - (p->hi - p->lo + 1)) / 2);
    s->counts[p->lo - s->offset] += folded;
}

static int store_add(struct store *s, int32_t key)
{
    struct plan p;
    int rc;

    if (!store_covers(s, key, key)) {
        rc = store_plan(s, key, key, &p);
        if (rc != TOCSIN_OK)
            return rc;
        store_apply(s, &p);
        key = max32(key, p.lo);
    }
    s->counts[key - s->offset]++;
    s->lo = s->total ? min32(s->lo, key) : key;
    s->hi = s->total ? max32(s->hi, key) : key;
    s->total++;
    return TOCSIN_OK;
}

/* Adds src's counts into dst laid out by plan p (from store_plan(dst, src->lo, src->hi)).
 * src may be dst: then the range is already covered and the counts double in place. */
static void store_merge(struct store *dst, const struct store *src, const struct plan *p)
{
    uint64_t n = src->total;
    int32_t slo = src->lo, shi = src->hi;

    if (n == 0)
        return;
    store_apply(dst, p);
    for (int32_t k = slo; k <= shi; k++) {
        uint64_t c = src->counts[k - src->offset];
        if (c)
            dst->counts[max32(k, p->lo) - dst->offset] += c;
    }
    dst->lo = dst->total ? min32(dst->lo, max32(slo, p->lo)) : max32(slo, p->lo);
    dst->hi = dst->total ? max32(dst->hi, shi) : shi;
    dst->total += n;
}

/* Key of the bucket holding the sample of 0-based rank `rank` (rank < total). */
static int32_t store_key_at(const struct store *s, uint64_t rank)
{
    uint64_t seen = 0;

    for (int32_t k = s->lo; k < s->hi; k++) {
        seen += s->counts[k - s->offset];
        if (seen > rank)
            return k;
    }
    return s->hi;
}

static void store_reset(struct store *s)
{
    if (s->total > 0)
        memset(s->counts + (s->lo - s->offset), 0, (size_t)(s->hi - s->lo + 1) * sizeof(uint64_t));
    s->total = 0;
}

struct sketch *sketch_new(void)
{
    struct sketch *s = calloc(1, sizeof(*s));

    if (s) {
        s->min = INFINITY;
        s->max = -INFINITY;
    }
    return s;
}

void sketch_free(struct sketch *s)
{
    if (!s)
        return;
    free(s->pos.counts);
    free(s->neg.counts);
    free(s);
}

void sketch_reset(struct sketch *s)
{
    store_reset(&s->pos);
    store_reset(&s->neg);
    s->zero = 0;
    s->count = 0;
    s->min = INFINITY;
    s->max = -INFINITY;
}

int sketch_add(struct sketch *s, double v)
{
    int rc = TOCSIN_OK;

    if (!isfinite(v))
        return TOCSIN_EINVAL;
    if (v > 0)
        rc = store_add(&s->pos, key_of(v));
    else if (v < 0)
        rc = store_add(&s->neg, -key_of(-v));
    else
        s->zero++;
    if (rc != TOCSIN_OK)
        return rc;
    s->count++;
    s->min = fmin(s->min, v);
    s->max = fmax(s->max, v);
    return TOCSIN_OK;
}

int sketch_merge(struct sketch *dst, const struct sketch *src)
{
    struct plan pp = {0}, pn = {0};
    int rc;

    if (src->pos.total > 0) {
        rc = store_plan(&dst->pos, src->pos.lo, src->pos.hi, &pp);
        if (rc != TOCSIN_OK)
            return rc;
    }
    if (src->neg.total > 0) {
        rc = store_plan(&dst->neg, src->neg.lo, src->neg.hi, &pn);
        if (rc != TOCSIN_OK) {
            if (src->pos.total > 0)
                plan_drop(&dst->pos, &pp);
            return rc;
        }
    }
    /* Nothing below can fail. */
    store_merge(&dst->pos, &src->pos, &pp);
    store_merge(&dst->neg, &src->neg, &pn);
    dst->zero += src->zero;
    dst->count += src->count;
    dst->min = fmin(dst->min, src->min);
    dst->max = fmax(dst->max, src->max);
    return TOCSIN_OK;
}

double sketch_quantile(const struct sketch *s, double q)
{
    uint64_t rank;
    double v;

    if (s->count == 0 || !(q >= 0.0 && q <= 1.0))
        return NAN;
    rank = (uint64_t)floor(q * (double)(s->count - 1));
    if (rank == 0)
        return s->min;
    if (rank >= s->count - 1)
        return s->max;
    if (rank < s->neg.total) {
        v = -value_of(-store_key_at(&s->neg, rank));
    } else if (rank - s->neg.total < s->zero) {
        v = 0.0;
    } else {
        v = value_of(store_key_at(&s->pos, rank - s->neg.total - s->zero));
    }
    return fmin(fmax(v, s->min), s->max);
}

uint64_t sketch_count(const struct sketch *s)
{
    return s->count;
}

size_t sketch_memory(const struct sketch *s)
{
    return sizeof(*s) + ((size_t)s->pos.cap + (size_t)s->neg.cap) * sizeof(uint64_t);
}
