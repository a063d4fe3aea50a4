/* Unit tests for core/sketch: accuracy against exact quantiles, merge, bounded memory. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/sketch.h"
#include "util/err.h"

/* The documented bound is 1%; the extra 1e-9 absorbs floating-point rounding in log/exp. */
#define TOL (SKETCH_ALPHA + 1e-9)
#define N_DIST 100000

static const double QS[] = {0.5, 0.9, 0.95, 0.99};

/* splitmix64: a fixed-seed generator so every run sees the same data. */
static uint64_t rng_next(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t *st)
{
    return (double)(rng_next(st) >> 11) * 0x1.0p-53;
}

static double rng_normal(uint64_t *st)
{
    double u1 = 1.0 - rng_unit(st); /* (0, 1] */
    double u2 = rng_unit(st);

    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Same rank definition as sketch_quantile(): x[floor(q * (n - 1))] of the sorted samples. */
static double exact_quantile(const double *sorted, size_t n, double q)
{
    return sorted[(size_t)floor(q * (double)(n - 1))];
}

static void check_rel(double got, double want, double tol, const char *what, const char *file,
                      int line)
{
    double err = want == 0.0 ? fabs(got) : fabs(got - want) / fabs(want);

    if (!(err <= tol)) {
        print_error("%s: got %.17g, want %.17g (relative error %.6g > %.6g)\n", what, got, want,
                    err, tol);
        _fail(file, line);
    }
}
#define assert_rel(got, want, tol, what) check_rel((got), (want), (tol), (what), __FILE__, __LINE__)

static void check_eq_double(double got, double want, const char *file, int line)
{
    if (!(got == want || (isnan(got) && isnan(want)))) {
        print_error("got %.17g, want %.17g\n", got, want);
        _fail(file, line);
    }
}
#define assert_double_eq(got, want) check_eq_double((got), (want), __FILE__, __LINE__)

/* Adds all values, then compares the quantiles in qs with the exact ones. */
static void check_accuracy(double *vals, size_t n, const double *qs, size_t nq, const char *name)
{
    struct sketch *s = sketch_new();

    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sketch_add(s, vals[i]), TOCSIN_OK);
    assert_int_equal(sketch_count(s), n);
    qsort(vals, n, sizeof(*vals), cmp_double);
    for (size_t i = 0; i < nq; i++)
        assert_rel(sketch_quantile(s, qs[i]), exact_quantile(vals, n, qs[i]), TOL, name);
    /* Clamping to the exact extremes makes q = 0 and q = 1 exact. */
    assert_double_eq(sketch_quantile(s, 0.0), vals[0]);
    assert_double_eq(sketch_quantile(s, 1.0), vals[n - 1]);
    sketch_free(s);
}

enum dist { D_UNIFORM, D_EXPONENTIAL, D_LOGNORMAL, D_CONSTANT, D_NORMAL };

static double *make_data(enum dist d, size_t n, uint64_t seed)
{
    double *v = malloc(n * sizeof(*v));
    uint64_t st = seed;

    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        switch (d) {
        case D_UNIFORM:
            v[i] = 1000.0 * rng_unit(&st);
            break;
        case D_EXPONENTIAL:
            v[i] = -log(1.0 - rng_unit(&st)) * 250.0;
            break;
        case D_LOGNORMAL:
            v[i] = exp(3.0 + 1.5 * rng_normal(&st));
            break;
        case D_CONSTANT:
            v[i] = 42.5;
            break;
        case D_NORMAL:
            v[i] = 10.0 * rng_normal(&st); /* both signs */
            break;
        }
    }
    return v;
}

static void run_dist(enum dist d, const char *name)
{
    static const double more[] = {0.5, 0.9, 0.95, 0.99, 0.001, 0.01, 0.1, 0.25, 0.75, 0.999};
    double *v = make_data(d, N_DIST, 0x5eed0000u + (uint64_t)d);

    check_accuracy(v, N_DIST, QS, sizeof(QS) / sizeof(QS[0]), name);
    free(v);
    v = make_data(d, N_DIST, 0x5eed0000u + (uint64_t)d);
    check_accuracy(v, N_DIST, more, sizeof(more) / sizeof(more[0]), name);
    free(v);
}

static void test_uniform(void **state)
{
    (void)state;
    run_dist(D_UNIFORM, "uniform");
}

static void test_exponential(void **state)
{
    (void)state;
    run_dist(D_EXPONENTIAL, "exponential");
}

static void test_lognormal(void **state)
{
    (void)state;
    run_dist(D_LOGNORMAL, "lognormal");
}

static void test_constant(void **state)
{
    (void)state;
    run_dist(D_CONSTANT, "constant");
}

static void test_normal_both_signs(void **state)
{
    (void)state;
    run_dist(D_NORMAL, "normal");
}

/* The bound holds at, just inside and just outside every bucket edge across the double range.
 * The probe sits between two values a factor 2 away, so min/max clamping does not hide it. */
static void test_bucket_edges(void **state)
{
    const double gamma = (1.0 + SKETCH_ALPHA) / (1.0 - SKETCH_ALPHA);
    const double f[] = {1.0 - 1e-12, 1.0, 1.0 + 1e-12, 1.0 + SKETCH_ALPHA, 1.01, 1.02};
    struct sketch *s = sketch_new();

    (void)state;
    assert_non_null(s);
    for (int k = -36000; k <= 35000; k += 37) {
        for (size_t j = 0; j < sizeof(f) / sizeof(f[0]); j++) {
            double v = pow(gamma, k) * f[j];
            if (!(v > 0.0 && isfinite(v * 2.0)) || v < DBL_MIN * 4.0)
                continue;
            sketch_reset(s);
            assert_int_equal(sketch_add(s, v / 2.0), TOCSIN_OK);
            assert_int_equal(sketch_add(s, v), TOCSIN_OK);
            assert_int_equal(sketch_add(s, v * 2.0), TOCSIN_OK);
            assert_rel(sketch_quantile(s, 0.5), v, TOL, "edge");
            sketch_reset(s);
            assert_int_equal(sketch_add(s, -v / 2.0), TOCSIN_OK);
            assert_int_equal(sketch_add(s, -v), TOCSIN_OK);
            assert_int_equal(sketch_add(s, -v * 2.0), TOCSIN_OK);
            assert_rel(sketch_quantile(s, 0.5), -v, TOL, "negative edge");
        }
    }
    sketch_free(s);
}

static void check_same(const struct sketch *a, const struct sketch *b)
{
    assert_int_equal(sketch_count(a), sketch_count(b));
    for (int i = 0; i <= 1000; i++) {
        double q = (double)i / 1000.0;
        assert_double_eq(sketch_quantile(a, q), sketch_quantile(b, q));
    }
}

static void test_merge_equals_adding_all(void **state)
{
    struct sketch *all = sketch_new(), *part[3], *merged = sketch_new();
    uint64_t st = 77;

    (void)state;
    assert_non_null(all);
    assert_non_null(merged);
    for (int i = 0; i < 3; i++) {
        part[i] = sketch_new();
        assert_non_null(part[i]);
    }
    for (int i = 0; i < N_DIST; i++) {
        double v = exp(2.0 * rng_normal(&st));
        if (i % 7 == 0)
            v = -v;
        if (i % 11 == 0)
            v = 0.0;
        assert_int_equal(sketch_add(all, v), TOCSIN_OK);
        assert_int_equal(sketch_add(part[i % 3], v), TOCSIN_OK);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(sketch_merge(merged, part[i]), TOCSIN_OK);
    check_same(merged, all);

    /* Merging an empty sketch changes nothing; merging into an empty one copies. */
    sketch_reset(part[0]);
    assert_int_equal(sketch_merge(merged, part[0]), TOCSIN_OK);
    check_same(merged, all);
    assert_int_equal(sketch_merge(part[0], all), TOCSIN_OK);
    check_same(part[0], all);

    /* Merging a sketch into itself doubles every count. */
    assert_int_equal(sketch_merge(part[0], part[0]), TOCSIN_OK);
    assert_int_equal(sketch_merge(all, merged), TOCSIN_OK);
    check_same(part[0], all);

    for (int i = 0; i < 3; i++)
        sketch_free(part[i]);
    sketch_free(all);
    sketch_free(merged);
}

/* Merge also equals adding all when the parts force folding in different places. */
static void test_merge_with_folding(void **state)
{
    struct sketch *all = sketch_new(), *lo = sketch_new(), *hi = sketch_new();
    struct sketch *merged = sketch_new();
    uint64_t st = 99;

    (void)state;
    assert_true(all && lo && hi && merged);
    for (int i = 0; i < 200000; i++) {
        double v = pow(10.0, -15.0 + 30.0 * rng_unit(&st)); /* 30 decades */
        if (i % 5 == 0)
            v = -v;
        assert_int_equal(sketch_add(all, v), TOCSIN_OK);
        assert_int_equal(sketch_add(fabs(v) < 1.0 ? lo : hi, v), TOCSIN_OK);
    }
    assert_int_equal(sketch_merge(merged, lo), TOCSIN_OK);
    assert_int_equal(sketch_merge(merged, hi), TOCSIN_OK);
    check_same(merged, all);
    sketch_reset(merged);
    assert_int_equal(sketch_merge(merged, hi), TOCSIN_OK);
    assert_int_equal(sketch_merge(merged, lo), TOCSIN_OK);
    check_same(merged, all);
    sketch_free(all);
    sketch_free(lo);
    sketch_free(hi);
    sketch_free(merged);
}

static const size_t MEM_BOUND = 2 * SKETCH_MAX_BUCKETS * sizeof(uint64_t) + 256;

/* 1M values over 20 decades: memory stays bounded and only the lowest quantiles are folded. */
static void run_wide(double sign, const double *good, size_t ngood, double folded_q)
{
    const size_t n = 1000000;
    struct sketch *s = sketch_new();
    double *v = malloc(n * sizeof(*v));
    uint64_t st = 2024;

    assert_non_null(s);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        v[i] = sign * pow(10.0, -10.0 + 20.0 * rng_unit(&st));
        assert_int_equal(sketch_add(s, v[i]), TOCSIN_OK);
        if (i % 65536 == 0)
            assert_true(sketch_memory(s) <= MEM_BOUND);
    }
    assert_true(sketch_memory(s) <= MEM_BOUND);
    qsort(v, n, sizeof(*v), cmp_double);
    for (size_t i = 0; i < ngood; i++)
        assert_rel(sketch_quantile(s, good[i]), exact_quantile(v, n, good[i]), TOL, "wide");
    /* A folded quantile is reported too high (the fold point), never below the true value. */
    assert_true(sketch_quantile(s, folded_q) >= exact_quantile(v, n, folded_q));
    assert_double_eq(sketch_quantile(s, 0.0), v[0]);
    assert_double_eq(sketch_quantile(s, 1.0), v[n - 1]);
    free(v);
    sketch_free(s);
}

static void test_memory_bounded_positive(void **state)
{
    /* The fold point is ~6.2e17 below the max (1e10): ~11% of the values are folded. */
    static const double good[] = {0.15, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999};

    (void)state;
    run_wide(1.0, good, sizeof(good) / sizeof(good[0]), 0.01);
}

static void test_memory_bounded_negative(void **state)
{
    /* Negatives fold the most negative values: the lowest quantiles again. */
    static const double good[] = {0.15, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999};

    (void)state;
    run_wide(-1.0, good, sizeof(good) / sizeof(good[0]), 0.01);
}

static void test_rejects_and_empty(void **state)
{
    struct sketch *s = sketch_new();

    (void)state;
    assert_non_null(s);
    assert_true(isnan(sketch_quantile(s, 0.5)));
    assert_int_equal(sketch_add(s, NAN), TOCSIN_EINVAL);
    assert_int_equal(sketch_add(s, INFINITY), TOCSIN_EINVAL);
    assert_int_equal(sketch_add(s, -INFINITY), TOCSIN_EINVAL);
    assert_int_equal(sketch_count(s), 0);
    assert_true(isnan(sketch_quantile(s, 0.5)));
    assert_int_equal(sketch_add(s, 5.0), TOCSIN_OK);
    assert_true(isnan(sketch_quantile(s, -0.1)));
    assert_true(isnan(sketch_quantile(s, 1.1)));
    assert_true(isnan(sketch_quantile(s, NAN)));
    assert_double_eq(sketch_quantile(s, 0.5), 5.0);
    sketch_free(s);
    sketch_free(NULL);
}

static void test_zero_and_extremes(void **state)
{
    struct sketch *s = sketch_new();

    (void)state;
    assert_non_null(s);
    assert_int_equal(sketch_add(s, 0.0), TOCSIN_OK);
    assert_int_equal(sketch_add(s, -0.0), TOCSIN_OK);
    assert_int_equal(sketch_add(s, 0.0), TOCSIN_OK);
    assert_double_eq(sketch_quantile(s, 0.5), 0.0);
    assert_int_equal(sketch_add(s, DBL_MAX), TOCSIN_OK);
    assert_int_equal(sketch_add(s, -DBL_MAX), TOCSIN_OK);
    assert_int_equal(sketch_add(s, 4.9e-324), TOCSIN_OK);
    assert_int_equal(sketch_add(s, DBL_MIN), TOCSIN_OK);
    assert_int_equal(sketch_count(s), 7);
    /* sorted: -DBL_MAX, -0, 0, 0, 4.9e-324, DBL_MIN, DBL_MAX */
    assert_double_eq(sketch_quantile(s, 0.0), -DBL_MAX);
    assert_double_eq(sketch_quantile(s, 1.0), DBL_MAX);
    assert_double_eq(sketch_quantile(s, 0.5), 0.0);
    assert_true(isfinite(sketch_quantile(s, 5.0 / 6.0)));
    assert_true(sketch_quantile(s, 5.0 / 6.0) > 0.0);
    assert_true(sketch_memory(s) <= MEM_BOUND);
    sketch_free(s);
}

static void test_reset_keeps_memory(void **state)
{
    struct sketch *s = sketch_new();
    size_t empty, used;

    (void)state;
    assert_non_null(s);
    empty = sketch_memory(s);
    for (int i = 1; i <= 1000; i++)
        assert_int_equal(sketch_add(s, (double)i), TOCSIN_OK);
    used = sketch_memory(s);
    assert_true(used > empty);
    sketch_reset(s);
    assert_int_equal(sketch_count(s), 0);
    assert_true(isnan(sketch_quantile(s, 0.5)));
    assert_int_equal(sketch_memory(s), used);
    for (int i = 1; i <= 1000; i++)
        assert_int_equal(sketch_add(s, (double)i), TOCSIN_OK);
    assert_int_equal(sketch_memory(s), used);
    assert_rel(sketch_quantile(s, 0.5), 500.0, TOL, "after reset");
    sketch_free(s);
}

/* A slowly rising series keeps moving the fold point; the top 17.8 decades stay exact. */
static void test_drifting_series(void **state)
{
    struct sketch *s = sketch_new();
    double *v = malloc(50000 * sizeof(*v));
    size_t n = 0;

    (void)state;
    assert_non_null(s);
    assert_non_null(v);
    for (double x = 1e-300; x < 1e300; x *= 1.03) {
        assert_true(n < 50000);
        v[n++] = x;
        assert_int_equal(sketch_add(s, x), TOCSIN_OK);
    }
    assert_true(sketch_memory(s) <= MEM_BOUND);
    /* 600 decades, the top ~17.8 are kept: q >= 0.971 is exact to 1%, lower ones fold up. */
    assert_rel(sketch_quantile(s, 0.99), exact_quantile(v, n, 0.99), TOL, "drift");
    assert_rel(sketch_quantile(s, 0.975), exact_quantile(v, n, 0.975), TOL, "drift");
    assert_true(sketch_quantile(s, 0.5) > exact_quantile(v, n, 0.5));
    assert_double_eq(sketch_quantile(s, 0.0), v[0]);
    free(v);
    sketch_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_exponential),
        cmocka_unit_test(test_lognormal),
        cmocka_unit_test(test_constant),
        cmocka_unit_test(test_normal_both_signs),
        cmocka_unit_test(test_bucket_edges),
        cmocka_unit_test(test_merge_equals_adding_all),
        cmocka_unit_test(test_merge_with_folding),
        cmocka_unit_test(test_memory_bounded_positive),
        cmocka_unit_test(test_memory_bounded_negative),
        cmocka_unit_test(test_rejects_and_empty),
        cmocka_unit_test(test_zero_and_extremes),
        cmocka_unit_test(test_reset_keeps_memory),
        cmocka_unit_test(test_drifting_series),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
