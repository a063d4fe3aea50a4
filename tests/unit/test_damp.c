/* Tests for core/damp: Gravitee AE's four dampening modes fed sequences of evaluations at
 * chosen times, parse errors naming their field, and the default (STRICT_COUNT 1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/damp.h"
#include "util/err.h"

/* ---- helpers ---- */

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);

    if (!j)
        fail_msg("bad test JSON: %s (%s)", je.text, text);
    return j;
}

static void parse_ok(const char *text, struct dampening *d)
{
    json_t *j = text ? load(text) : NULL;
    struct verr err;

    memset(&err, 0, sizeof(err));
    if (damp_parse(j, d, &err) != TOCSIN_OK)
        fail_msg("parse failed: %s: %s (%s)", err.field, err.msg, text);
    json_decref(j);
}

static void parse_err(const char *text, const char *field)
{
    json_t *j = load(text);
    struct dampening d;
    struct verr err;

    memset(&err, 0, sizeof(err));
    if (damp_parse(j, &d, &err) != TOCSIN_EINVAL)
        fail_msg("expected an error on '%s' for %s", field, text);
    if (strcmp(err.field, field) != 0)
        fail_msg("error on '%s' (%s), expected '%s', for %s", err.field, err.msg, field, text);
    assert_true(strlen(err.msg) > 0);
    json_decref(j);
}

/* One step of a sequence: the evaluation, its time, and whether the dampening must fire. */
struct step {
    bool value;
    int64_t at;
    bool fire;
};

static void run(const char *text, const struct step *s, size_t n)
{
    struct dampening d;
    struct damp_state st;

    parse_ok(text, &d);
    assert_int_equal(damp_state_init(&st, &d), TOCSIN_OK);
    for (size_t i = 0; i < n; i++) {
        bool got = damp_feed(&st, &d, s[i].value, s[i].at);
        if (got != s[i].fire)
            fail_msg("%s: step %zu (%s at %lld): fired=%d, want %d", text, i,
                     s[i].value ? "true" : "false", (long long)s[i].at, got, s[i].fire);
    }
    damp_state_clear(&st);
}

#define RUN(text, ...)                                                                           \
    do {                                                                                         \
        const struct step s_[] = {__VA_ARGS__};                                                  \
        run(text, s_, sizeof(s_) / sizeof(s_[0]));                                               \
    } while (0)

#define T(at, fire) {true, at, fire}
#define F(at) {false, at, false}

/* ---- default ---- */

static void test_default(void **state)
{
    struct dampening d;

    (void)state;
    parse_ok(NULL, &d);
    assert_int_equal(d.mode, DAMP_STRICT_COUNT);
    assert_int_equal(d.true_evals, 1);
    assert_int_equal(d.total_evals, 1);
    parse_ok("null", &d);
    assert_int_equal(d.mode, DAMP_STRICT_COUNT);
    assert_int_equal(d.true_evals, 1);

    /* STRICT_COUNT 1: every true evaluation fires, falses never do. */
    RUN("null", T(0, true), T(1, true), F(2), T(3, true), F(4), F(5));
}

/* ---- STRICT_COUNT ---- */

static void test_strict_count(void **state)
{
    (void)state;
    RUN("{\"mode\":\"STRICT_COUNT\",\"trueEvaluations\":3}",
        T(0, false), T(1, false), F(2),                /* a false resets the run */
        T(3, false), T(4, false), T(5, true),          /* 3 consecutive: fires */
        T(6, false), T(7, false), T(8, true),          /* the state was reset: 3 more */
        T(9, false), F(10), T(11, false), T(12, false), F(13), F(14), T(15, false),
        T(16, false), T(17, true));
    RUN("{\"mode\":\"strict_count\",\"trueEvaluations\":1}", T(0, true), F(1), T(2, true));
}

/* ---- RELAXED_COUNT ---- */

static void test_relaxed_count(void **state)
{
    (void)state;
    /* 2 true out of the last 4. */
    RUN("{\"mode\":\"RELAXED_COUNT\",\"trueEvaluations\":2,\"totalEvaluations\":4}",
        T(0, false) /* 1 */, T(1, true) /* 2 of the last 2: fires, reset */, T(2, false));
    RUN("{\"mode\":\"RELAXED_COUNT\",\"trueEvaluations\":2,\"totalEvaluations\":4}",
        T(0, false), F(1), F(2), F(3),   /* ring: T F F F */
        F(4),                            /* the T slides out: F F F F */
        T(5, false),                     /* F F F T: only one true in the last 4 */
        F(6), T(7, true));               /* F F T F T -> last 4: F T F T: fires */
    /* Non-consecutive trues within the window fire; after the fire, the ring starts empty. */
    RUN("{\"mode\":\"RELAXED_COUNT\",\"trueEvaluations\":3,\"totalEvaluations\":5}",
        T(0, false), F(1), T(2, false), F(3), T(4, true),
        T(5, false), T(6, false), F(7), F(8), F(9), /* ring T T F F F */
        F(10),                                      /* the first T leaves: T F F F F */
        T(11, false),                               /* F F F F T */
        F(12), T(13, false),                        /* F F T F T */
        T(14, true));                               /* F T F T T: 3 of 5 */
    /* N = M: that many trues in a row (a false in the ring blocks until it slides out). */
    RUN("{\"mode\":\"RELAXED_COUNT\",\"trueEvaluations\":3,\"totalEvaluations\":3}",
        T(0, false), F(1), T(2, false), T(3, false), T(4, true));
}

static void test_relaxed_count_large_ring(void **state)
{
    struct dampening d;
    struct damp_state st;
    int fired = 0, at = -1;

    (void)state;
    /* A ring of 100 (two 64-bit words): 10 trues spread over exactly the last 100. */
    parse_ok("{\"mode\":\"RELAXED_COUNT\",\"trueEvaluations\":10,\"totalEvaluations\":100}", &d);
    assert_int_equal(damp_state_init(&st, &d), TOCSIN_OK);
    for (int i = 0; i < 400; i++) {
        bool v = i % 11 == 0; /* one true every 11 evaluations: 9 or 10 in any 100 */
        if (damp_feed(&st, &d, v, i)) {
            fired++;
            if (at < 0)
                at = i;
        }
    }
    /* trues at 0, 11, ..., 99: the 10th is at 99 with all 10 in the last 100 (0..99). */
    assert_int_equal(at, 99);
    assert_true(fired >= 2);
    damp_state_reset(&st, &d);
    assert_false(damp_feed(&st, &d, true, 1000));
    damp_state_clear(&st);
}

/* ---- RELAXED_TIME ---- */

static void test_relaxed_time(void **state)
{
    (void)state;
    /* 3 true evaluations within 1000 ms. */
    RUN("{\"mode\":\"RELAXED_TIME\",\"trueEvaluations\":3,\"duration\":1000}",
        T(0, false), T(400, false),
        T(1200, false),            /* the true at 0 is older than 1000 ms: only 2 count */
        F(1250),                   /* falses neither count nor reset */
        T(1300, true),             /* 400, 1200, 1300: within 900 ms */
        T(1400, false), T(1500, false), /* the state was reset: 2 so far */
        T(2400, true));                 /* 1400..2400: exactly 1000 ms: fires */
    RUN("{\"mode\":\"relaxed_time\",\"trueEvaluations\":2,\"duration\":1,"
        "\"timeUnit\":\"SECONDS\"}",
        T(0, false), F(10), F(20), T(1000, true),
        T(5000, false), T(6001, false), /* 1001 ms apart: too slow */
        T(6500, true));
    /* Trues that keep ageing out never fire. */
    RUN("{\"mode\":\"RELAXED_TIME\",\"trueEvaluations\":2,\"duration\":100}",
        T(0, false), T(101, false), T(202, false), T(303, false), T(350, true));
}

/* ---- STRICT_TIME ---- */

static void test_strict_time(void **state)
{
    (void)state;
    /* Only true evaluations for at least 1000 ms. */
    RUN("{\"mode\":\"STRICT_TIME\",\"duration\":1000}",
        T(0, false), T(500, false), T(999, false),
        T(1000, true),                  /* the run began at 0: 1000 ms of trues */
        T(1100, false),                 /* a new run begins */
        T(2099, false), T(2100, true));
    RUN("{\"mode\":\"STRICT_TIME\",\"duration\":1000}",
        T(0, false), T(900, false),
        F(950),                         /* a false resets */
        T(1000, false),                 /* the run restarts at 1000 */
        T(1999, false), T(2000, true));
    /* A single true after a long gap starts a run; it does not fire by itself. */
    RUN("{\"mode\":\"strict_time\",\"duration\":2,\"timeUnit\":\"seconds\"}",
        F(0), T(100000, false), T(101999, false), T(102000, true));
}

/* ---- parsing ---- */

static void test_parse_fields(void **state)
{
    struct dampening d;

    (void)state;
    parse_ok("{\"mode\":\"relaxed_count\",\"trueEvaluations\":2,\"totalEvaluations\":5}", &d);
    assert_int_equal(d.mode, DAMP_RELAXED_COUNT);
    assert_int_equal(d.true_evals, 2);
    assert_int_equal(d.total_evals, 5);
    parse_ok("{\"mode\":\"RELAXED_TIME\",\"trueEvaluations\":4,\"duration\":3,"
             "\"timeUnit\":\"MINUTES\"}",
             &d);
    assert_int_equal(d.mode, DAMP_RELAXED_TIME);
    assert_int_equal(d.true_evals, 4);
    assert_int_equal(d.duration_ms, 180000);
    parse_ok("{\"mode\":\"Strict_Time\",\"duration\":30,\"timeUnit\":\"SECONDS\"}", &d);
    assert_int_equal(d.mode, DAMP_STRICT_TIME);
    assert_int_equal(d.duration_ms, 30000);
    parse_ok("{\"mode\":\"STRICT_COUNT\",\"trueEvaluations\":7}", &d);
    assert_int_equal(d.true_evals, 7);
    assert_int_equal(d.total_evals, 7);
    parse_ok("{\"mode\":\"STRICT_COUNT\",\"trueEvaluations\":2.0}", &d);
    assert_int_equal(d.true_evals, 2);
    parse_ok("{\"mode\":\"RELAXED_COUNT\",\"trueEvaluations\":1024,\"totalEvaluations\":1024}",
             &d);
    assert_int_equal(d.total_evals, DAMP_MAX_EVALUATIONS);
}

static void test_parse_errors(void **state)
{
    (void)state;
    parse_err("{\"trueEvaluations\":1}", "mode");
    parse_err("{}", "mode");
    parse_err("{\"mode\":null,\"trueEvaluations\":1}", "mode");
    parse_err("{\"mode\":\"SOMETIMES\",\"trueEvaluations\":1}", "mode");
    parse_err("{\"mode\":3}", "mode");
    parse_err("[1]", "");
    parse_err("\"STRICT_COUNT\"", "");
    parse_err("{\"mode\":\"RELAXED_COUNT\",\"trueEvaluations\":5,\"totalEvaluations\":4}",
              "trueEvaluations");
    parse_err("{\"mode\":\"RELAXED_COUNT\",\"trueEvaluations\":2}", "totalEvaluations");
    parse_err("{\"mode\":\"RELAXED_COUNT\",\"totalEvaluations\":2}", "trueEvaluations");
    parse_err("{\"mode\":\"RELAXED_COUNT\",\"trueEvaluations\":2,\"totalEvaluations\":1025}",
              "totalEvaluations");
    parse_err("{\"mode\":\"STRICT_COUNT\"}", "trueEvaluations");
    parse_err("{\"mode\":\"STRICT_COUNT\",\"trueEvaluations\":0}", "trueEvaluations");
    parse_err("{\"mode\":\"STRICT_COUNT\",\"trueEvaluations\":-1}", "trueEvaluations");
    parse_err("{\"mode\":\"STRICT_COUNT\",\"trueEvaluations\":1.5}", "trueEvaluations");
    parse_err("{\"mode\":\"STRICT_COUNT\",\"trueEvaluations\":\"3\"}", "trueEvaluations");
    parse_err("{\"mode\":\"RELAXED_TIME\",\"trueEvaluations\":2}", "duration");
    parse_err("{\"mode\":\"RELAXED_TIME\",\"duration\":5}", "trueEvaluations");
    parse_err("{\"mode\":\"RELAXED_TIME\",\"trueEvaluations\":2,\"duration\":5,"
              "\"timeUnit\":\"AGES\"}",
              "timeUnit");
    parse_err("{\"mode\":\"STRICT_TIME\"}", "duration");
    parse_err("{\"mode\":\"STRICT_TIME\",\"duration\":0}", "duration");
}

static void test_to_json(void **state)
{
    struct dampening d, d2;
    json_t *j;
    char *s;
    struct verr err;

    (void)state;
    parse_ok(NULL, &d);
    j = damp_to_json(&d);
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"mode\":\"STRICT_COUNT\",\"trueEvaluations\":1}");
    free(s);
    json_decref(j);

    parse_ok("{\"mode\":\"relaxed_count\",\"trueEvaluations\":2,\"totalEvaluations\":5}", &d);
    j = damp_to_json(&d);
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"mode\":\"RELAXED_COUNT\",\"totalEvaluations\":5,"
                           "\"trueEvaluations\":2}");
    free(s);
    json_decref(j);

    parse_ok("{\"mode\":\"relaxed_time\",\"trueEvaluations\":2,\"duration\":3,"
             "\"timeUnit\":\"SECONDS\"}",
             &d);
    j = damp_to_json(&d);
    memset(&err, 0, sizeof(err));
    assert_int_equal(damp_parse(j, &d2, &err), TOCSIN_OK);
    assert_int_equal(d2.mode, DAMP_RELAXED_TIME);
    assert_int_equal(d2.true_evals, 2);
    assert_int_equal(d2.duration_ms, 3000);
    json_decref(j);

    parse_ok("{\"mode\":\"STRICT_TIME\",\"duration\":5}", &d);
    j = damp_to_json(&d);
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"duration\":5,\"mode\":\"STRICT_TIME\",\"timeUnit\":"
                           "\"MILLISECONDS\"}");
    free(s);
    json_decref(j);

    assert_string_equal(damp_mode_name(DAMP_RELAXED_TIME), "RELAXED_TIME");
    assert_string_equal(damp_mode_name(DAMP_MODE_COUNT), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_strict_count),
        cmocka_unit_test(test_relaxed_count),
        cmocka_unit_test(test_relaxed_count_large_ring),
        cmocka_unit_test(test_relaxed_time),
        cmocka_unit_test(test_strict_time),
        cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_to_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
