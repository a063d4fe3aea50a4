#include "core/window.h"

#include <math.h>
#include <stdlib.h>

#include "core/sketch.h"
#include "util/err.h"

#define EMPTY INT64_MIN               /* epoch of a slice that holds nothing */
#define TIME_LIMIT (INT64_C(1) << 62) /* times are clamped to +-TIME_LIMIT: no overflow */

/* The samples of one slice_ms-long interval: [epoch * slice_ms, (epoch + 1) * slice_ms). */
struct slice {
    int64_t epoch; /* EMPTY when unused; then count = 0, sum = 0, min = +inf, max = -inf */
    uint64_t count;
    uint64_t matched;
    double sum, min, max;
    struct sketch *sk; /* only with need_q; created on first use, reset (not freed) on reuse */
};

struct window {
    int64_t duration;
    int64_t slice_ms;
    int64_t nring; /* ring entries: enough for every slice that can be live at once */
    bool need_q;
    int64_t clock;       /* largest now_ms seen by any call; INT64_MIN before the first */
    int64_t last_add;    /* largest now_ms given to window_add(); INT64_MIN before the first */
    int64_t next_expiry; /* earliest expiry of a used slice; INT64_MAX when none is used */
    uint64_t count;      /* totals over the used slices */
    uint64_t matched;
    struct sketch *scratch; /* merge target of percentile queries; created on first use */
    struct slice ring[];    /* slice of epoch e lives at ring[e mod nring] */
};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if (a % b != 0 && a < 0)
        q--;
    return q;
}

/* The first time at which slice `epoch` is out of the window: its newest millisecond,
 * epoch * slice_ms + slice_ms - 1, is then duration ms old. */
static int64_t expiry_of(const struct window *w, int64_t epoch)
{
    return epoch * w->slice_ms + w->slice_ms - 1 + w->duration;
}

static int64_t clamp_time(int64_t t)
{
    return t > TIME_LIMIT ? TIME_LIMIT : t < -TIME_LIMIT ? -TIME_LIMIT : t;
}

/* Advances the window's clock to now_ms (never backwards) and returns it. */
static int64_t tick(struct window *w, int64_t now_ms)
{
    now_ms = clamp_time(now_ms);
    if (now_ms > w->clock)
        w->clock = now_ms;
    return w->clock;
}

static void slice_clear(struct window *w, struct slice *s)
{
    if (s->epoch == EMPTY)
        return;
    w->count -= s->count;
    w->matched -= s->matched;
    s->epoch = EMPTY;
    s->count = 0;
    s->matched = 0;
    s->sum = 0.0;
    s->min = INFINITY;
    s->max = -INFINITY;
    if (s->sk)
        sketch_reset(s->sk);
}

/* O(nring), and only when the oldest slice is due: at most once per slice_ms of clock. */
static void expire_at(struct window *w, int64_t now)
{
    int64_t next = INT64_MAX;

    if (now < w->next_expiry)
        return;
    for (int64_t i = 0; i < w->nring; i++) {
        struct slice *s = &w->ring[i];
        if (s->epoch == EMPTY)
            continue;
        if (expiry_of(w, s->epoch) <= now)
            slice_clear(w, s);
        else if (expiry_of(w, s->epoch) < next)
            next = expiry_of(w, s->epoch);
    }
    w->next_expiry = next;
}

struct window *window_new(int64_t duration_ms, bool need_quantiles)
{
    struct window *w;
    int64_t slice_ms, nring;

    if (duration_ms < 1 || duration_ms > WINDOW_MAX_DURATION_MS)
        return NULL;
    slice_ms = (duration_ms + WINDOW_SLICES - 1) / WINDOW_SLICES;
    /* At most floor((duration - 2) / slice_ms) + 2 slices are live at once; this is >= that. */
    nring = (duration_ms + slice_ms - 1) / slice_ms + 1;
    w = calloc(1, sizeof(*w) + (size_t)nring * sizeof(struct slice));
    if (!w)
        return NULL;
    w->duration = duration_ms;
    w->slice_ms = slice_ms;
    w->nring = nring;
    w->need_q = need_quantiles;
    w->clock = INT64_MIN;
    w->last_add = INT64_MIN;
    w->next_expiry = INT64_MAX;
    for (int64_t i = 0; i < nring; i++) {
        w->ring[i].epoch = EMPTY;
        w->ring[i].min = INFINITY;
        w->ring[i].max = -INFINITY;
    }
    return w;
}

void window_free(struct window *w)
{
    if (!w)
        return;
    for (int64_t i = 0; i < w->nring; i++)
        sketch_free(w->ring[i].sk);
    sketch_free(w->scratch);
    free(w);
}

int window_add(struct window *w, int64_t now_ms, double value, bool matched)
{
    int64_t now, epoch;
    struct slice *s;
    int rc;

    if (!isfinite(value))
        return TOCSIN_EINVAL;
    now = tick(w, now_ms);
    expire_at(w, now);
    epoch = floor_div(now, w->slice_ms);
    s = &w->ring[(epoch % w->nring + w->nring) % w->nring];
    if (s->epoch != epoch)
        slice_clear(w, s); /* already expired in practice: the ring outlasts the window */
    if (w->need_q) {
        if (!s->sk && !(s->sk = sketch_new()))
            return TOCSIN_ENOMEM;
        rc = sketch_add(s->sk, value);
        if (rc != TOCSIN_OK)
            return rc;
    }
    if (s->epoch != epoch) {
        s->epoch = epoch;
        if (expiry_of(w, epoch) < w->next_expiry)
            w->next_expiry = expiry_of(w, epoch);
    }
    s->count++;
    s->matched += matched;
    s->sum += value;
    s->min = fmin(s->min, value);
    s->max = fmax(s->max, value);
    w->count++;
    w->matched += matched;
    if (clamp_time(now_ms) > w->last_add)
        w->last_add = clamp_time(now_ms);
    return TOCSIN_OK;
}

void window_expire(struct window *w, int64_t now_ms)
{
    expire_at(w, tick(w, now_ms));
}

/* Merges the live slices' sketches into the scratch sketch and reads quantile q. */
static bool quantile(struct window *w, double q, double *out)
{
    if (!w->need_q)
        return false;
    if (!w->scratch && !(w->scratch = sketch_new()))
        return false;
    sketch_reset(w->scratch);
    for (int64_t i = 0; i < w->nring; i++) {
        const struct slice *s = &w->ring[i];
        if (s->epoch != EMPTY && s->sk && sketch_merge(w->scratch, s->sk) != TOCSIN_OK)
            return false;
    }
    *out = sketch_quantile(w->scratch, q);
    return true;
}

/* Sum, min and max over the live slices. */
static void scan(const struct window *w, double *sum, double *min, double *max)
{
    *sum = 0.0;
    *min = INFINITY;
    *max = -INFINITY;
    for (int64_t i = 0; i < w->nring; i++) {
        const struct slice *s = &w->ring[i];
        if (s->epoch == EMPTY)
            continue;
        *sum += s->sum;
        *min = fmin(*min, s->min);
        *max = fmax(*max, s->max);
    }
}

bool window_value(struct window *w, int64_t now_ms, enum window_fn fn, double *out)
{
    double sum, min, max;

    window_expire(w, now_ms);
    *out = NAN;
    if (fn == WIN_COUNT) {
        *out = (double)w->count;
        return true;
    }
    if (w->count == 0)
        return false;
    scan(w, &sum, &min, &max);
    switch (fn) {
    case WIN_AVG:
        *out = sum / (double)w->count;
        return true;
    case WIN_MIN:
        *out = min;
        return true;
    case WIN_MAX:
        *out = max;
        return true;
    case WIN_P50:
        return quantile(w, 0.50, out);
    case WIN_P90:
        return quantile(w, 0.90, out);
    case WIN_P95:
        return quantile(w, 0.95, out);
    case WIN_P99:
        return quantile(w, 0.99, out);
    case WIN_COUNT:
        break;
    }
    return false;
}

uint64_t window_count(struct window *w, int64_t now_ms)
{
    window_expire(w, now_ms);
    return w->count;
}

bool window_rate(struct window *w, int64_t now_ms, uint64_t min_samples, double *out_pct)
{
    window_expire(w, now_ms);
    *out_pct = NAN;
    if (w->count == 0 || w->count < min_samples)
        return false;
    *out_pct = 100.0 * (double)w->matched / (double)w->count;
    return true;
}

int64_t window_last_add_ms(const struct window *w)
{
    return w->last_add;
}

int64_t window_next_expiry_ms(const struct window *w)
{
    return w->next_expiry;
}

size_t window_memory(const struct window *w)
{
    size_t n = sizeof(*w) + (size_t)w->nring * sizeof(struct slice);

    for (int64_t i = 0; i < w->nring; i++) {
        if (w->ring[i].sk)
            n += sketch_memory(w->ring[i].sk);
    }
    if (w->scratch)
        n += sketch_memory(w->scratch);
    return n;
}
