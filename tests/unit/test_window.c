/* Unit tests for core/window: aggregates, slice-precise expiry, gaps, rate, quantiles, memory. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/sketch.h"
#include "core/window.h"
#include "util/err.h"

#define MIN_MS (60LL * 1000)
#define DAY_MS (24LL * 3600 * 1000)
#define TOL (SKETCH_ALPHA + 1e-9)

static uint64_t rng_next(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *st)
{
    return (double)(rng_next(st) >> 11) * 0x1.0p-53;
}

static int64_t rng_range(uint64_t *st, int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rng_next(st) % (uint64_t)(hi - lo + 1));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void check_double(double got, double want, double tol, const char *what, const char *file,
                         int line)
{
    double err = want == 0.0 ? fabs(got) : fabs(got - want) / fabs(want);

    if (!(got == want || err <= tol)) {
        print_error("%s: got %.17g, want %.17g (relative error %.3g > %.3g)\n", what, got, want,
                    err, tol);
        _fail(file, line);
    }
}
#define assert_near(got, want, tol, what)                                                          \
    check_double((got), (want), (tol), (what), __FILE__, __LINE__)
#define assert_dbl(got, want) check_double((got), (want), 0.0, #got, __FILE__, __LINE__)

/* Reads fn and asserts it has a value equal to want (exactly). */
static void check_fn_value(struct window *w, int64_t now, enum window_fn fn, double want,
                           const char *file, int line)
{
    double v = -1.0;

    if (!window_value(w, now, fn, &v)) {
        print_error("fn %d at %lld: no value, want %.17g\n", (int)fn, (long long)now, want);
        _fail(file, line);
    }
    check_double(v, want, 0.0, "window_value", file, line);
}
#define expect_fn(w, now, fn, want) check_fn_value((w), (now), (fn), (want), __FILE__, __LINE__)

static void expect_empty(struct window *w, int64_t now)
{
    double v = 0.0;

    assert_int_equal(window_count(w, now), 0);
    expect_fn(w, now, WIN_COUNT, 0.0);
    assert_false(window_value(w, now, WIN_AVG, &v));
    assert_true(isnan(v));
    assert_false(window_value(w, now, WIN_MIN, &v));
    assert_false(window_value(w, now, WIN_MAX, &v));
    assert_false(window_value(w, now, WIN_P50, &v));
    assert_false(window_rate(w, now, 0, &v));
    assert_true(window_next_expiry_ms(w) == INT64_MAX);
}

/* 60 s window: 60 slices of 1 s. Samples in several slices, then slices expire one by one. */
static void test_fns_across_slices(void **state)
{
    struct window *w = window_new(MIN_MS, true);

    (void)state;
    assert_non_null(w);
    expect_empty(w, 0);
    assert_int_equal(window_add(w, 0, 10.0, false), TOCSIN_OK);     /* slice 0 */
    assert_int_equal(window_add(w, 999, 50.0, true), TOCSIN_OK);    /* slice 0 */
    assert_int_equal(window_add(w, 1000, 20.0, false), TOCSIN_OK);  /* slice 1 */
    assert_int_equal(window_add(w, 30500, 40.0, true), TOCSIN_OK);  /* slice 30 */
    assert_int_equal(window_add(w, 59999, 30.0, false), TOCSIN_OK); /* slice 59 */
    expect_fn(w, 59999, WIN_COUNT, 5.0);
    expect_fn(w, 59999, WIN_AVG, 30.0);
    expect_fn(w, 59999, WIN_MIN, 10.0);
    expect_fn(w, 59999, WIN_MAX, 50.0);
    /* sorted 10 20 30 40 50: P50 = x[2], P90/P95/P99 = x[3] (rank floor(q * 4)). */
    {
        double v;
        assert_true(window_value(w, 59999, WIN_P50, &v));
        assert_near(v, 30.0, TOL, "p50");
        assert_true(window_value(w, 59999, WIN_P90, &v));
        assert_near(v, 40.0, TOL, "p90");
        assert_true(window_value(w, 59999, WIN_P99, &v));
        assert_near(v, 40.0, TOL, "p99");
        assert_true(window_rate(w, 59999, 5, &v));
        assert_dbl(v, 40.0);
    }
    /* Slice 0 (newest ms 999) leaves at 999 + 60000: the 10 and the 50 go. */
    expect_fn(w, 60998, WIN_COUNT, 5.0);
    assert_true(window_next_expiry_ms(w) == 60999);
    expect_fn(w, 60999, WIN_COUNT, 3.0);
    expect_fn(w, 60999, WIN_MIN, 20.0);
    expect_fn(w, 60999, WIN_MAX, 40.0);
    expect_fn(w, 60999, WIN_AVG, 30.0);
    assert_true(window_next_expiry_ms(w) == 61999);
    /* Slice 1 leaves at 61999, slice 30 at 90999, slice 59 at 119999. */
    expect_fn(w, 61999, WIN_MIN, 30.0);
    expect_fn(w, 90998, WIN_MAX, 40.0);
    expect_fn(w, 90999, WIN_MAX, 30.0);
    expect_fn(w, 119998, WIN_COUNT, 1.0);
    expect_empty(w, 119999);
    window_free(w);
}

/* A sample in the last ms of its slice leaves exactly duration ms later; one in the first ms
 * stays slice_ms - 1 ms longer. */
static void test_expiry_after_exactly_duration(void **state)
{
    const int64_t durations[] = {1, 2, 59, 60, 61, 1000, MIN_MS, 7 * DAY_MS};

    (void)state;
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        int64_t d = durations[i];
        int64_t slice = (d + WINDOW_SLICES - 1) / WINDOW_SLICES;
        int64_t base = 1000 * slice; /* a slice start */
        struct window *w = window_new(d, false);

        assert_non_null(w);
        assert_int_equal(window_add(w, base + slice - 1, 1.0, false), TOCSIN_OK);
        assert_int_equal(window_count(w, base + slice - 1 + d - 1), 1);
        assert_int_equal(window_count(w, base + slice - 1 + d), 0);
        window_free(w);

        w = window_new(d, false);
        assert_non_null(w);
        assert_int_equal(window_add(w, base, 1.0, false), TOCSIN_OK);
        assert_true(window_next_expiry_ms(w) == base + d + slice - 1);
        assert_int_equal(window_count(w, base + d + slice - 2), 1);
        assert_int_equal(window_count(w, base + d + slice - 1), 0);
        window_free(w);
    }
}

/* Reference model of the documented semantics: the clock is the largest time seen; a sample
 * belongs to the slice of the clock at its add; a slice leaves at its newest ms + duration. */
struct ref {
    int64_t duration, slice, clock;
    int64_t *expiry; /* per sample, non-decreasing because the clock is */
    double *value;
    bool *matched;
    size_t n, head;
};

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && a < 0);
}

static void model_tick(struct ref *m, int64_t now)
{
    if (now > m->clock)
        m->clock = now;
    while (m->head < m->n && m->expiry[m->head] <= m->clock)
        m->head++;
}

static void model_check(struct ref *m, struct window *w, int64_t now)
{
    uint64_t count = 0, matched = 0;
    double sum = 0.0, min = INFINITY, max = -INFINITY, v;
    bool has;

    model_tick(m, now);
    for (size_t i = m->head; i < m->n; i++) {
        count++;
        matched += m->matched[i];
        sum += m->value[i];
        min = fmin(min, m->value[i]);
        max = fmax(max, m->value[i]);
    }
    assert_int_equal(window_count(w, now), count);
    has = window_value(w, now, WIN_AVG, &v);
    assert_int_equal(has, count > 0);
    if (has) {
        assert_dbl(v, sum / (double)count);
        assert_true(window_value(w, now, WIN_MIN, &v));
        assert_dbl(v, min);
        assert_true(window_value(w, now, WIN_MAX, &v));
        assert_dbl(v, max);
    }
    has = window_rate(w, now, 3, &v);
    assert_int_equal(has, count >= 3);
    if (has)
        assert_dbl(v, 100.0 * (double)matched / (double)count);
    assert_true(window_next_expiry_ms(w) == (count ? m->expiry[m->head] : INT64_MAX));
}

static int64_t random_step(uint64_t *st, int64_t d)
{
    int r = (int)rng_range(st, 0, 99);

    if (r < 75)
        return rng_range(st, 0, d / 20 + 1);
    if (r < 85)
        return -rng_range(st, 0, d / 10 + 1); /* time goes backwards a little */
    if (r < 90)
        return rng_range(st, d / 2, 3 * d);
    if (r < 92)
        return rng_range(st, 1, 5) * DAY_MS * 365; /* years */
    return 0;
}

static void run_model(int64_t d, uint64_t seed, size_t ops)
{
    struct ref m = {.duration = d, .slice = (d + WINDOW_SLICES - 1) / WINDOW_SLICES};
    struct window *w = window_new(d, false);
    uint64_t st = seed;
    int64_t now = -5 * d; /* negative times work too */

    assert_non_null(w);
    m.clock = INT64_MIN;
    m.expiry = malloc(ops * sizeof(*m.expiry));
    m.value = malloc(ops * sizeof(*m.value));
    m.matched = malloc(ops * sizeof(*m.matched));
    assert_true(m.expiry && m.value && m.matched);
    for (size_t i = 0; i < ops; i++) {
        now += random_step(&st, d);
        if (rng_range(&st, 0, 9) < 7) {
            double v = (double)rng_range(&st, -1000, 1000);
            bool hit = rng_range(&st, 0, 2) == 0;
            assert_int_equal(window_add(w, now, v, hit), TOCSIN_OK);
            model_tick(&m, now);
            m.expiry[m.n] = floor_div(m.clock, m.slice) * m.slice + m.slice - 1 + d;
            m.value[m.n] = v;
            m.matched[m.n++] = hit;
        }
        model_check(&m, w, now);
    }
    free(m.expiry);
    free(m.value);
    free(m.matched);
    window_free(w);
}

/* Every aggregate against the reference model, for windows from 1 ms to 7 days, with time
 * steps that cross slices, go backwards and jump by years. */
static void test_against_model(void **state)
{
    const int64_t durations[] = {1, 2, 7, 59, 60, 61, 100, 1000, 59999, MIN_MS, 7 * DAY_MS};

    (void)state;
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++)
        run_model(durations[i], 1000 + i, 20000);
}

/* A jump by days (or centuries) costs O(slices): this would never finish if it were O(gap). */
static void test_huge_gaps(void **state)
{
    struct window *w = window_new(MIN_MS, true);
    int64_t now = 0;
    double v;

    (void)state;
    assert_non_null(w);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(window_add(w, now, 1.0, true), TOCSIN_OK);
        now += 700;
    }
    assert_int_equal(window_count(w, now), 85); /* t >= 10500: slices 10.. */
    now += 3 * DAY_MS;
    expect_empty(w, now);
    assert_int_equal(window_add(w, now, 7.0, false), TOCSIN_OK);
    expect_fn(w, now, WIN_COUNT, 1.0);
    assert_true(window_value(w, now, WIN_P50, &v));
    assert_dbl(v, 7.0);
    now += 100000LL * 365 * DAY_MS; /* a hundred thousand years */
    expect_empty(w, now);
    assert_int_equal(window_add(w, now, 8.0, false), TOCSIN_OK);
    expect_fn(w, now, WIN_MAX, 8.0);
    /* The far end of the clamped time range. */
    assert_int_equal(window_add(w, INT64_MAX, 9.0, false), TOCSIN_OK);
    expect_fn(w, INT64_MAX, WIN_MAX, 9.0);
    expect_fn(w, INT64_MAX, WIN_COUNT, 1.0);
    window_free(w);
}

static void test_rate_min_samples(void **state)
{
    struct window *w = window_new(10 * 1000, false);
    double pct = 0.0;

    (void)state;
    assert_non_null(w);
    assert_false(window_rate(w, 0, 0, &pct)); /* no samples: no rate even with min 0 */
    assert_true(isnan(pct));
    for (int i = 0; i < 10; i++)
        assert_int_equal(window_add(w, i * 1000, 0.0, i % 10 < 3), TOCSIN_OK);
    assert_true(window_rate(w, 9000, 10, &pct));
    assert_dbl(pct, 30.0);
    assert_false(window_rate(w, 9000, 11, &pct));
    assert_true(isnan(pct));
    assert_true(window_rate(w, 9000, 0, &pct));
    assert_dbl(pct, 30.0);
    /* At 10166 the sample of t = 0 (slice [0, 167)) has left: 2 of 9 matched. */
    assert_true(window_rate(w, 10166, 9, &pct));
    assert_near(pct, 200.0 / 9.0, 1e-12, "rate");
    assert_false(window_rate(w, 10166, 10, &pct));
    /* All matched, none matched. */
    assert_true(window_rate(w, 12166, 7, &pct));
    assert_dbl(pct, 0.0);
    for (int i = 0; i < 7; i++)
        assert_int_equal(window_add(w, 30000, 0.0, true), TOCSIN_OK);
    assert_true(window_rate(w, 30000, 7, &pct));
    assert_dbl(pct, 100.0);
    window_free(w);
}

/* A 7-day window of 100k lognormal samples; percentiles within 1% of the exact ones, first
 * with everything in the window, then after the oldest part has left. */
static void test_quantiles_vs_exact(void **state)
{
    const size_t n = 100000;
    const double qs[] = {0.5, 0.9, 0.95, 0.99};
    const enum window_fn fns[] = {WIN_P50, WIN_P90, WIN_P95, WIN_P99};
    const int64_t d = 7 * DAY_MS, slice = d / WINDOW_SLICES;
    struct window *w = window_new(d, true);
    double *vals = malloc(n * sizeof(*vals)), *live = malloc(n * sizeof(*live)), v;
    int64_t *ts = malloc(n * sizeof(*ts));
    uint64_t st = 4242;
    int64_t at;
    size_t nlive;

    (void)state;
    assert_true(w && vals && live && ts);
    for (size_t i = 0; i < n; i++) {
        double u1 = 1.0 - rng_unit(&st), u2 = rng_unit(&st);
        vals[i] = exp(4.0 + sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
        ts[i] = (int64_t)((double)i / (double)n * (double)d); /* spread over the 7 days */
        assert_int_equal(window_add(w, ts[i], vals[i], false), TOCSIN_OK);
    }
    for (int pass = 0; pass < 2; pass++) {
        at = pass == 0 ? ts[n - 1] : ts[n - 1] + 4 * DAY_MS;
        nlive = 0;
        for (size_t i = 0; i < n; i++) {
            if (floor_div(ts[i], slice) * slice + slice - 1 + d > at)
                live[nlive++] = vals[i];
        }
        assert_true(pass == 0 ? nlive == n : nlive < n * 6 / 10);
        qsort(live, nlive, sizeof(*live), cmp_double);
        expect_fn(w, at, WIN_COUNT, (double)nlive);
        for (size_t k = 0; k < 4; k++) {
            assert_true(window_value(w, at, fns[k], &v));
            assert_near(v, live[(size_t)floor(qs[k] * (double)(nlive - 1))], TOL, "window pXX");
        }
    }
    free(vals);
    free(live);
    free(ts);
    window_free(w);
}

static void test_one_ms_window(void **state)
{
    struct window *w = window_new(1, false);

    (void)state;
    assert_non_null(w);
    assert_int_equal(window_add(w, 5, 1.0, true), TOCSIN_OK);
    assert_int_equal(window_add(w, 5, 3.0, false), TOCSIN_OK);
    expect_fn(w, 5, WIN_COUNT, 2.0);
    expect_fn(w, 5, WIN_AVG, 2.0);
    assert_true(window_next_expiry_ms(w) == 6);
    expect_empty(w, 6);
    assert_int_equal(window_add(w, 7, 4.0, false), TOCSIN_OK);
    assert_int_equal(window_add(w, 6, 5.0, false), TOCSIN_OK); /* backwards: counts at 7 */
    expect_fn(w, 7, WIN_COUNT, 2.0);
    expect_fn(w, 7, WIN_MIN, 4.0);
    assert_int_equal(window_count(w, 8), 0);
    assert_true(window_last_add_ms(w) == 7);
    window_free(w);
}

/* 7 days = 60 slices of 2.8 h. One sample per hour for 14 days. */
static void test_seven_day_window(void **state)
{
    const int64_t d = 7 * DAY_MS, slice = d / WINDOW_SLICES, hour = 3600 * 1000;
    struct window *w = window_new(d, true);
    double v;

    (void)state;
    assert_non_null(w);
    assert_int_equal(slice, 10080000);
    for (int64_t h = 0; h < 14 * 24; h++) {
        int64_t now = h * hour, oldest = 0;
        assert_int_equal(window_add(w, now, (double)h, h % 2 == 0), TOCSIN_OK);
        /* Oldest sample still counted: the first hour whose slice's newest ms is in the
         * window. */
        while (floor_div(oldest * hour, slice) * slice + slice - 1 + d <= now)
            oldest++;
        expect_fn(w, now, WIN_COUNT, (double)(h - oldest + 1));
        expect_fn(w, now, WIN_MIN, (double)oldest);
        expect_fn(w, now, WIN_MAX, (double)h);
        assert_true(h < 7 * 24 || (h - oldest + 1 >= 7 * 24 && h - oldest + 1 <= 7 * 24 + 3));
    }
    assert_true(window_value(w, 14 * DAY_MS, WIN_P50, &v));
    assert_true(v > 9.0 * 24 && v < 12.0 * 24);
    assert_int_equal(window_count(w, 14 * DAY_MS + d + slice), 0);
    window_free(w);
}

static void test_time_backwards(void **state)
{
    struct window *w = window_new(MIN_MS, false);

    (void)state;
    assert_non_null(w);
    assert_true(window_last_add_ms(w) == INT64_MIN);
    assert_int_equal(window_add(w, 100000, 1.0, false), TOCSIN_OK);
    /* 40 s earlier: belongs to the newest slice, so it lives as long as the 100000 sample. */
    assert_int_equal(window_add(w, 60000, 2.0, false), TOCSIN_OK);
    assert_true(window_last_add_ms(w) == 100000);
    assert_int_equal(window_count(w, 50000), 2); /* a query in the past sees the present */
    assert_int_equal(window_count(w, 160998), 2);
    assert_int_equal(window_count(w, 160999), 0);
    /* A query moved the clock: a later add at an earlier time joins the clock's slice. */
    assert_int_equal(window_add(w, 170000, 3.0, false), TOCSIN_OK);
    assert_int_equal(window_count(w, 200000), 1);
    assert_int_equal(window_add(w, 180000, 4.0, false), TOCSIN_OK);
    assert_true(window_last_add_ms(w) == 180000);
    assert_int_equal(window_count(w, 200000), 2);
    /* The 170000 slice leaves first; the 180000 sample went into the 200000 slice. */
    assert_true(window_next_expiry_ms(w) == 230999);
    window_free(w);
}

/* Memory stays bounded over 1M samples (~14 h, ~20 per second): the ring is fixed and the
 * sketches are reused. */
static void test_memory_bounded(void **state)
{
    struct window *w = window_new(MIN_MS, true);
    const size_t sketch_max = sizeof(uint64_t) * 2 * SKETCH_MAX_BUCKETS + 512;
    const size_t bound = 4096 + (WINDOW_SLICES + 2) * (sketch_max + 128);
    uint64_t st = 9;
    size_t after_warmup = 0;
    int64_t now = 0;
    double v;

    (void)state;
    assert_non_null(w);
    for (int i = 0; i < 1000000; i++) {
        now += rng_range(&st, 0, 100);
        assert_int_equal(window_add(w, now, exp(10.0 * rng_unit(&st)), false), TOCSIN_OK);
        if (i % 1000 == 0)
            assert_true(window_value(w, now, WIN_P99, &v));
        if (i == 100000)
            after_warmup = window_memory(w);
        assert_true(window_memory(w) <= bound);
    }
    /* Same value range throughout: the reused sketches hardly grow after warm-up. */
    assert_true(window_memory(w) <= after_warmup + after_warmup / 4);
    window_free(w);
}

static void test_invalid_and_no_quantiles(void **state)
{
    struct window *w;
    double v = 0.0;

    (void)state;
    assert_null(window_new(0, false));
    assert_null(window_new(-5, true));
    assert_null(window_new(WINDOW_MAX_DURATION_MS + 1, false));
    w = window_new(WINDOW_MAX_DURATION_MS, false);
    assert_non_null(w);
    window_free(w);
    window_free(NULL);

    w = window_new(1000, false);
    assert_non_null(w);
    assert_int_equal(window_add(w, 0, NAN, true), TOCSIN_EINVAL);
    assert_int_equal(window_add(w, 0, INFINITY, true), TOCSIN_EINVAL);
    assert_int_equal(window_count(w, 0), 0);
    assert_true(window_last_add_ms(w) == INT64_MIN);
    assert_int_equal(window_add(w, 0, 2.0, true), TOCSIN_OK);
    expect_fn(w, 0, WIN_AVG, 2.0);
    assert_false(window_value(w, 0, WIN_P50, &v)); /* created without need_quantiles */
    assert_true(isnan(v));
    assert_false(window_value(w, 0, WIN_P99, &v));
    assert_true(window_memory(w) < 8192); /* no sketches without need_quantiles */
    window_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fns_across_slices),
        cmocka_unit_test(test_expiry_after_exactly_duration),
        cmocka_unit_test(test_against_model),
        cmocka_unit_test(test_huge_gaps),
        cmocka_unit_test(test_rate_min_samples),
        cmocka_unit_test(test_quantiles_vs_exact),
        cmocka_unit_test(test_one_ms_window),
        cmocka_unit_test(test_seven_day_window),
        cmocka_unit_test(test_time_backwards),
        cmocka_unit_test(test_memory_bounded),
        cmocka_unit_test(test_invalid_and_no_quantiles),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
