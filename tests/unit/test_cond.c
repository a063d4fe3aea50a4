/* Tests for core/cond: every condition type of Gravitee AE, parsed from JSON (enums in any
 * case) and evaluated on single events; parse errors naming their field; parse_duration; the
 * normalised JSON (cond_to_json) round trip. Window conditions are only parsed here (their
 * evaluation is tested end to end in test_engine.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cond.h"
#include "core/event.h"
#include "util/arena.h"
#include "util/err.h"

/* ---- helpers ---- */

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);

    if (!j)
        fail_msg("bad test JSON: %s (%s)", je.text, text);
    return j;
}

/* Parses a condition; on failure the condition is cleared. */
static int parse(const char *text, bool filter, struct condition *c, struct verr *err)
{
    json_t *j = load(text);
    int rc;

    memset(err, 0, sizeof(*err));
    rc = cond_parse(j, filter, c, err);
    json_decref(j);
    if (rc)
        cond_clear(c);
    return rc;
}

static void parse_ok(const char *text, struct condition *c)
{
    struct verr err;

    if (parse(text, false, c, &err) != TOCSIN_OK)
        fail_msg("parse failed: %s: %s (%s)", err.field, err.msg, text);
}

/* Asserts that `text` fails to parse with the error on `field`. */
static void parse_err(const char *text, bool filter, const char *field)
{
    struct condition c;
    struct verr err;

    if (parse(text, filter, &c, &err) != TOCSIN_EINVAL)
        fail_msg("expected an error on '%s' for %s", field, text);
    if (strcmp(err.field, field) != 0)
        fail_msg("error on '%s' (%s), expected '%s', for %s", err.field, err.msg, field, text);
    assert_true(strlen(err.msg) > 0);
    assert_int_equal(err.status, 400);
}

/* An event built from a JSON object of properties; lives in a static arena reset per call. */
static struct arena g_arena;
static struct event g_ev;

static const struct event *ev(const char *props)
{
    char text[2048];
    struct verr err;
    json_t *j;

    snprintf(text, sizeof(text), "{\"type\":\"T\",\"properties\":%s}", props);
    j = load(text);
    arena_free(&g_arena);
    arena_init(&g_arena, 1 << 20);
    memset(&err, 0, sizeof(err));
    if (event_from_json(j, &g_arena, &g_ev, &err))
        fail_msg("bad event: %s: %s", err.field, err.msg);
    json_decref(j);
    return &g_ev;
}

static int group_teardown(void **state)
{
    (void)state;
    arena_free(&g_arena);
    return 0;
}

/* Evaluates the condition `cjson` on each of the `n` property objects and compares with want. */
struct probe {
    const char *props;
    bool want;
};

static void check(const char *cjson, const struct probe *p, size_t n)
{
    struct condition c;

    parse_ok(cjson, &c);
    for (size_t i = 0; i < n; i++) {
        struct cond_result r;
        bool got = cond_eval_event(&c, ev(p[i].props), &r);
        if (got != p[i].want)
            fail_msg("%s on %s: got %d, want %d", cjson, p[i].props, got, p[i].want);
        assert_int_equal(r.ok, got);
    }
    cond_clear(&c);
}

#define CHECK(cjson, ...)                                                                        \
    do {                                                                                         \
        const struct probe p_[] = {__VA_ARGS__};                                                 \
        check(cjson, p_, sizeof(p_) / sizeof(p_[0]));                                            \
    } while (0)

/* ---- STRING ---- */

static void test_string_equals(void **state)
{
    (void)state;
    CHECK("{\"type\":\"STRING\",\"property\":\"api\",\"operator\":\"EQUALS\",\"pattern\":\"Foo\"}",
          {"{\"api\":\"Foo\"}", true}, {"{\"api\":\"foo\"}", false}, {"{\"api\":\"Foo \"}", false},
          {"{\"api\":\"Fo\"}", false}, {"{\"api\":\"\"}", false}, {"{\"other\":\"Foo\"}", false});
    CHECK("{\"type\":\"STRING\",\"property\":\"api\",\"operator\":\"EQUALS\",\"pattern\":\"Foo\","
          "\"ignoreCase\":true}",
          {"{\"api\":\"Foo\"}", true}, {"{\"api\":\"fOO\"}", true}, {"{\"api\":\"fOOd\"}", false},
          {"{}", false});
    /* Numbers and booleans compare by their text. */
    CHECK("{\"type\":\"STRING\",\"property\":\"s\",\"operator\":\"EQUALS\",\"pattern\":\"500\"}",
          {"{\"s\":500}", true}, {"{\"s\":\"500\"}", true}, {"{\"s\":501}", false});
    CHECK("{\"type\":\"STRING\",\"property\":\"b\",\"operator\":\"EQUALS\",\"pattern\":\"true\"}",
          {"{\"b\":true}", true}, {"{\"b\":false}", false});
    /* Nested properties are seen under their dotted name. */
    CHECK("{\"type\":\"STRING\",\"property\":\"node.hostname\",\"operator\":\"EQUALS\","
          "\"pattern\":\"h1\"}",
          {"{\"node\":{\"hostname\":\"h1\"}}", true}, {"{\"node.hostname\":\"h1\"}", true},
          {"{\"node\":{\"hostname\":\"h2\"}}", false});
}

static void test_string_not_equals(void **state)
{
    (void)state;
    CHECK("{\"type\":\"STRING\",\"property\":\"api\",\"operator\":\"NOT_EQUALS\","
          "\"pattern\":\"Foo\"}",
          {"{\"api\":\"Foo\"}", false}, {"{\"api\":\"foo\"}", true}, {"{\"api\":\"Foox\"}", true},
          {"{\"api\":\"\"}", true},
          /* a missing property makes every condition false, NOT_EQUALS too */
          {"{\"x\":\"Foo\"}", false});
    CHECK("{\"type\":\"STRING\",\"property\":\"api\",\"operator\":\"NOT_EQUALS\","
          "\"pattern\":\"Foo\",\"ignoreCase\":true}",
          {"{\"api\":\"FOO\"}", false}, {"{\"api\":\"bar\"}", true});
}

static void test_string_starts_with(void **state)
{
    (void)state;
    CHECK("{\"type\":\"STRING\",\"property\":\"p\",\"operator\":\"STARTS_WITH\","
          "\"pattern\":\"/api\"}",
          {"{\"p\":\"/api/v1\"}", true}, {"{\"p\":\"/api\"}", true}, {"{\"p\":\"/ap\"}", false},
          {"{\"p\":\"/API/v1\"}", false}, {"{\"p\":\"x/api\"}", false}, {"{}", false});
    CHECK("{\"type\":\"STRING\",\"property\":\"p\",\"operator\":\"STARTS_WITH\","
          "\"pattern\":\"/api\",\"ignoreCase\":true}",
          {"{\"p\":\"/API/v1\"}", true}, {"{\"p\":\"/Ap\"}", false});
    /* The empty pattern is a prefix of everything. */
    CHECK("{\"type\":\"STRING\",\"property\":\"p\",\"operator\":\"STARTS_WITH\"}",
          {"{\"p\":\"x\"}", true}, {"{\"p\":\"\"}", true});
    CHECK("{\"type\":\"STRING\",\"property\":\"s\",\"operator\":\"STARTS_WITH\","
          "\"pattern\":\"5\"}",
          {"{\"s\":503}", true}, {"{\"s\":404}", false});
}

static void test_string_ends_with(void **state)
{
    (void)state;
    CHECK("{\"type\":\"STRING\",\"property\":\"h\",\"operator\":\"ENDS_WITH\","
          "\"pattern\":\".example.com\"}",
          {"{\"h\":\"a.example.com\"}", true}, {"{\"h\":\".example.com\"}", true},
          {"{\"h\":\"example.com\"}", false}, {"{\"h\":\"a.EXAMPLE.com\"}", false},
          {"{\"h\":\"a.example.com.\"}", false}, {"{}", false});
    CHECK("{\"type\":\"STRING\",\"property\":\"h\",\"operator\":\"ends_with\","
          "\"pattern\":\".example.com\",\"ignoreCase\":true}",
          {"{\"h\":\"a.EXAMPLE.Com\"}", true}, {"{\"h\":\"m\"}", false});
}

static void test_string_contains(void **state)
{
    (void)state;
    CHECK("{\"type\":\"STRING\",\"property\":\"m\",\"operator\":\"CONTAINS\","
          "\"pattern\":\"err\"}",
          {"{\"m\":\"an error\"}", true}, {"{\"m\":\"err\"}", true}, {"{\"m\":\"ERR\"}", false},
          {"{\"m\":\"e r r\"}", false}, {"{}", false});
    CHECK("{\"type\":\"STRING\",\"property\":\"m\",\"operator\":\"CONTAINS\","
          "\"pattern\":\"err\",\"ignoreCase\":true}",
          {"{\"m\":\"AN ERROR\"}", true}, {"{\"m\":\"fine\"}", false});
}

static void test_string_matches_full(void **state)
{
    (void)state;
    /* Java's String.matches: the whole value must match, not a part of it. */
    CHECK("{\"type\":\"STRING\",\"property\":\"p\",\"operator\":\"MATCHES\","
          "\"pattern\":\"/api/[a-z]+\"}",
          {"{\"p\":\"/api/users\"}", true}, {"{\"p\":\"/api/users/1\"}", false},
          {"{\"p\":\"x/api/users\"}", false}, {"{\"p\":\"/api/Users\"}", false},
          {"{\"p\":\"/api/\"}", false}, {"{}", false});
    CHECK("{\"type\":\"STRING\",\"property\":\"p\",\"operator\":\"MATCHES\",\"pattern\":\"b\"}",
          {"{\"p\":\"b\"}", true}, {"{\"p\":\"abc\"}", false});
    /* A full match is found through alternatives, as with Java's matches(). */
    CHECK("{\"type\":\"STRING\",\"property\":\"p\",\"operator\":\"MATCHES\","
          "\"pattern\":\"a|ab\"}",
          {"{\"p\":\"ab\"}", true}, {"{\"p\":\"a\"}", true}, {"{\"p\":\"abc\"}", false});
    CHECK("{\"type\":\"STRING\",\"property\":\"s\",\"operator\":\"MATCHES\","
          "\"pattern\":\"5\\\\d\\\\d\"}",
          {"{\"s\":503}", true}, {"{\"s\":\"500\"}", true}, {"{\"s\":5000}", false},
          {"{\"s\":404}", false});
    CHECK("{\"type\":\"STRING\",\"property\":\"p\",\"operator\":\"matches\","
          "\"pattern\":\"/api/[a-z]+\",\"ignoreCase\":true}",
          {"{\"p\":\"/API/Users\"}", true}, {"{\"p\":\"/API/Users/\"}", false});
    /* The empty pattern matches only the empty value. */
    CHECK("{\"type\":\"STRING\",\"property\":\"p\",\"operator\":\"MATCHES\",\"pattern\":\"\"}",
          {"{\"p\":\"\"}", true}, {"{\"p\":\"a\"}", false});
}

static void test_string_result(void **state)
{
    struct condition c;
    struct cond_result r;

    (void)state;
    parse_ok("{\"type\":\"STRING\",\"property\":\"api\",\"operator\":\"EQUALS\",\"pattern\":\"a\"}",
             &c);
    assert_true(cond_eval_event(&c, ev("{\"api\":\"a\"}"), &r));
    assert_true(r.ok);
    assert_false(r.has_value);
    assert_non_null(r.text);
    assert_string_equal(r.text, "a");
    /* res may be NULL */
    assert_true(cond_eval_event(&c, ev("{\"api\":\"a\"}"), NULL));
    assert_false(cond_eval_event(&c, ev("{}"), &r));
    assert_false(r.ok);
    assert_null(r.text);
    cond_clear(&c);
}

/* ---- STRING_COMPARE ---- */

static void test_string_compare(void **state)
{
    (void)state;
    CHECK("{\"type\":\"STRING_COMPARE\",\"property\":\"a\",\"operator\":\"EQUALS\","
          "\"property2\":\"b\"}",
          {"{\"a\":\"x\",\"b\":\"x\"}", true}, {"{\"a\":\"x\",\"b\":\"X\"}", false},
          {"{\"a\":\"x\"}", false}, {"{\"b\":\"x\"}", false}, {"{\"a\":5,\"b\":\"5\"}", true});
    CHECK("{\"type\":\"STRING_COMPARE\",\"property\":\"a\",\"operator\":\"EQUALS\","
          "\"property2\":\"b\",\"ignoreCase\":true}",
          {"{\"a\":\"x\",\"b\":\"X\"}", true}, {"{\"a\":\"x\",\"b\":\"y\"}", false});
    CHECK("{\"type\":\"STRING_COMPARE\",\"property\":\"a\",\"operator\":\"NOT_EQUALS\","
          "\"property2\":\"b\"}",
          {"{\"a\":\"x\",\"b\":\"y\"}", true}, {"{\"a\":\"x\",\"b\":\"x\"}", false},
          {"{\"a\":\"x\"}", false});
    CHECK("{\"type\":\"STRING_COMPARE\",\"property\":\"url\",\"operator\":\"STARTS_WITH\","
          "\"property2\":\"base\"}",
          {"{\"url\":\"/api/v1\",\"base\":\"/api\"}", true},
          {"{\"url\":\"/v1\",\"base\":\"/api\"}", false});
    CHECK("{\"type\":\"STRING_COMPARE\",\"property\":\"url\",\"operator\":\"ENDS_WITH\","
          "\"property2\":\"suf\",\"ignoreCase\":true}",
          {"{\"url\":\"/api/V1\",\"suf\":\"v1\"}", true},
          {"{\"url\":\"/api/v2\",\"suf\":\"v1\"}", false});
    CHECK("{\"type\":\"string_compare\",\"property\":\"m\",\"operator\":\"contains\","
          "\"property2\":\"w\"}",
          {"{\"m\":\"hello world\",\"w\":\"o w\"}", true},
          {"{\"m\":\"hello world\",\"w\":\"O W\"}", false});
    /* MATCHES: the second property's value is the regular expression (a full match); an
     * invalid expression does not match. */
    CHECK("{\"type\":\"STRING_COMPARE\",\"property\":\"p\",\"operator\":\"MATCHES\","
          "\"property2\":\"re\"}",
          {"{\"p\":\"/api/users\",\"re\":\"/api/[a-z]+\"}", true},
          {"{\"p\":\"/api/users/1\",\"re\":\"/api/[a-z]+\"}", false},
          {"{\"p\":\"/API/users\",\"re\":\"/api/[a-z]+\"}", false},
          {"{\"p\":\"x\",\"re\":\"(\"}", false}, {"{\"p\":\"x\"}", false});
    CHECK("{\"type\":\"STRING_COMPARE\",\"property\":\"p\",\"operator\":\"MATCHES\","
          "\"property2\":\"re\",\"ignoreCase\":true}",
          {"{\"p\":\"/API/users\",\"re\":\"/api/[a-z]+\"}", true});
}

/* ---- THRESHOLD ---- */

static void test_threshold_ops(void **state)
{
    (void)state;
    CHECK("{\"type\":\"THRESHOLD\",\"property\":\"rt\",\"operator\":\"LT\",\"threshold\":1500}",
          {"{\"rt\":1499}", true}, {"{\"rt\":1499.999}", true}, {"{\"rt\":1500}", false},
          {"{\"rt\":1500.001}", false}, {"{\"rt\":-3}", true}, {"{}", false});
    CHECK("{\"type\":\"THRESHOLD\",\"property\":\"rt\",\"operator\":\"LTE\",\"threshold\":1500}",
          {"{\"rt\":1499}", true}, {"{\"rt\":1500}", true}, {"{\"rt\":1500.5}", false},
          {"{\"rt\":1501}", false});
    CHECK("{\"type\":\"THRESHOLD\",\"property\":\"rt\",\"operator\":\"GTE\",\"threshold\":1500}",
          {"{\"rt\":1499}", false}, {"{\"rt\":1499.5}", false}, {"{\"rt\":1500}", true},
          {"{\"rt\":1501}", true});
    CHECK("{\"type\":\"THRESHOLD\",\"property\":\"rt\",\"operator\":\"GT\",\"threshold\":1500}",
          {"{\"rt\":1499}", false}, {"{\"rt\":1500}", false}, {"{\"rt\":1500.001}", true},
          {"{\"rt\":1e9}", true});
    /* Lower-case enums, fractional thresholds. */
    CHECK("{\"type\":\"threshold\",\"property\":\"x\",\"operator\":\"gt\",\"threshold\":0.5}",
          {"{\"x\":0.5}", false}, {"{\"x\":0.51}", true}, {"{\"x\":0}", false});
}

static void test_threshold_numeric_strings(void **state)
{
    (void)state;
    /* Numeric strings count as numbers; other strings, nulls and arrays make it false. */
    CHECK("{\"type\":\"THRESHOLD\",\"property\":\"rt\",\"operator\":\"LT\",\"threshold\":1500}",
          {"{\"rt\":\"500\"}", true}, {"{\"rt\":\"1500\"}", false}, {"{\"rt\":\"1e2\"}", true},
          {"{\"rt\":\"-7.5\"}", true}, {"{\"rt\":\"500ms\"}", false}, {"{\"rt\":\"\"}", false},
          {"{\"rt\":\"abc\"}", false}, {"{\"rt\":null}", false}, {"{\"rt\":[1]}", false},
          {"{\"rt\":\"nan\"}", false});
    /* Booleans read as 0/1. */
    CHECK("{\"type\":\"THRESHOLD\",\"property\":\"b\",\"operator\":\"GTE\",\"threshold\":1}",
          {"{\"b\":true}", true}, {"{\"b\":false}", false});
}

static void test_threshold_result(void **state)
{
    struct condition c;
    struct cond_result r;

    (void)state;
    parse_ok("{\"type\":\"THRESHOLD\",\"property\":\"rt\",\"operator\":\"LT\",\"threshold\":1500}",
             &c);
    assert_true(cond_eval_event(&c, ev("{\"rt\":500}"), &r));
    assert_true(r.ok);
    assert_true(r.has_value);
    assert_true(r.value == 500);
    assert_true(r.threshold == 1500);
    assert_false(cond_eval_event(&c, ev("{\"rt\":2000}"), &r));
    assert_false(r.ok);
    assert_true(r.has_value);
    assert_true(r.value == 2000);
    cond_clear(&c);
}

/* ---- THRESHOLD_RANGE ---- */

static void test_range_inclusive(void **state)
{
    (void)state;
    CHECK("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"operatorLow\":\"INCLUSIVE\","
          "\"thresholdLow\":10,\"operatorHigh\":\"INCLUSIVE\",\"thresholdHigh\":20}",
          {"{\"v\":9.99}", false}, {"{\"v\":10}", true}, {"{\"v\":15}", true},
          {"{\"v\":20}", true}, {"{\"v\":20.01}", false}, {"{\"v\":\"15\"}", true},
          {"{}", false});
    /* Operators default to INCLUSIVE (AE's between()). */
    CHECK("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"thresholdLow\":10,"
          "\"thresholdHigh\":20}",
          {"{\"v\":10}", true}, {"{\"v\":20}", true}, {"{\"v\":21}", false});
}

static void test_range_exclusive(void **state)
{
    (void)state;
    CHECK("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"operatorLow\":\"EXCLUSIVE\","
          "\"thresholdLow\":10,\"operatorHigh\":\"EXCLUSIVE\",\"thresholdHigh\":20}",
          {"{\"v\":10}", false}, {"{\"v\":10.001}", true}, {"{\"v\":19.999}", true},
          {"{\"v\":20}", false});
    CHECK("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"operatorLow\":\"inclusive\","
          "\"thresholdLow\":10,\"operatorHigh\":\"exclusive\",\"thresholdHigh\":20}",
          {"{\"v\":10}", true}, {"{\"v\":20}", false}, {"{\"v\":19}", true});
    CHECK("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"operatorLow\":\"EXCLUSIVE\","
          "\"thresholdLow\":10,\"operatorHigh\":\"INCLUSIVE\",\"thresholdHigh\":20}",
          {"{\"v\":10}", false}, {"{\"v\":20}", true});
    /* A degenerate range [5, 5]. */
    CHECK("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"thresholdLow\":5,"
          "\"thresholdHigh\":5}",
          {"{\"v\":5}", true}, {"{\"v\":5.0001}", false});
}

static void test_range_aliases(void **state)
{
    (void)state;
    /* AE's docs spell the bounds LT/LTE/GTE/GT: low GT = exclusive, GTE = inclusive;
     * high LT = exclusive, LTE = inclusive. */
    CHECK("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"operatorLow\":\"GT\","
          "\"thresholdLow\":10,\"operatorHigh\":\"LT\",\"thresholdHigh\":20}",
          {"{\"v\":10}", false}, {"{\"v\":11}", true}, {"{\"v\":20}", false});
    CHECK("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"operatorLow\":\"gte\","
          "\"thresholdLow\":10,\"operatorHigh\":\"lte\",\"thresholdHigh\":20}",
          {"{\"v\":10}", true}, {"{\"v\":20}", true}, {"{\"v\":9}", false});
}

static void test_range_parse_errors(void **state)
{
    (void)state;
    parse_err("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"operatorLow\":\"BETWEEN\","
              "\"thresholdLow\":1,\"thresholdHigh\":2}",
              false, "operatorLow");
    /* LT makes no sense as a low bound. */
    parse_err("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"operatorLow\":\"LT\","
              "\"thresholdLow\":1,\"thresholdHigh\":2}",
              false, "operatorLow");
    parse_err("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"operatorHigh\":7,"
              "\"thresholdLow\":1,\"thresholdHigh\":2}",
              false, "operatorHigh");
    parse_err("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"thresholdHigh\":2}", false,
              "thresholdLow");
    parse_err("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"thresholdLow\":1}", false,
              "thresholdHigh");
    parse_err("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"thresholdLow\":\"1\","
              "\"thresholdHigh\":2}",
              false, "thresholdLow");
    parse_err("{\"type\":\"THRESHOLD_RANGE\",\"property\":\"v\",\"thresholdLow\":3,"
              "\"thresholdHigh\":2}",
              false, "thresholdLow");
    parse_err("{\"type\":\"THRESHOLD_RANGE\",\"thresholdLow\":1,\"thresholdHigh\":2}", false,
              "property");
}

/* ---- COMPARE ---- */

static void test_compare(void **state)
{
    struct condition c;
    struct cond_result r;

    (void)state;
    /* property OP multiplier * property2 */
    CHECK("{\"type\":\"COMPARE\",\"property\":\"rt\",\"operator\":\"GT\",\"multiplier\":2,"
          "\"property2\":\"avg\"}",
          {"{\"rt\":201,\"avg\":100}", true}, {"{\"rt\":200,\"avg\":100}", false},
          {"{\"rt\":150,\"avg\":100}", false}, {"{\"rt\":\"300\",\"avg\":\"100\"}", true},
          {"{\"rt\":300}", false}, {"{\"avg\":1}", false}, {"{\"rt\":300,\"avg\":\"x\"}", false});
    CHECK("{\"type\":\"COMPARE\",\"property\":\"a\",\"operator\":\"LTE\",\"multiplier\":0.5,"
          "\"property2\":\"b\"}",
          {"{\"a\":5,\"b\":10}", true}, {"{\"a\":5.01,\"b\":10}", false},
          {"{\"a\":-1,\"b\":0}", true});
    CHECK("{\"type\":\"compare\",\"property\":\"a\",\"operator\":\"gte\",\"multiplier\":1,"
          "\"property2\":\"b\"}",
          {"{\"a\":5,\"b\":5}", true}, {"{\"a\":4,\"b\":5}", false});
    CHECK("{\"type\":\"COMPARE\",\"property\":\"a\",\"operator\":\"LT\",\"multiplier\":3,"
          "\"property2\":\"b\"}",
          {"{\"a\":8.99,\"b\":3}", true}, {"{\"a\":9,\"b\":3}", false});

    parse_ok("{\"type\":\"COMPARE\",\"property\":\"a\",\"operator\":\"GT\",\"multiplier\":1.5,"
             "\"property2\":\"b\"}",
             &c);
    assert_true(cond_eval_event(&c, ev("{\"a\":40,\"b\":20}"), &r));
    assert_true(r.has_value);
    assert_true(r.value == 40);
    assert_true(r.threshold == 30);
    cond_clear(&c);
}

/* ---- parse errors ---- */

static void test_parse_errors_common(void **state)
{
    (void)state;
    parse_err("{\"type\":\"FREQUENCY\",\"property\":\"a\"}", false, "type");
    parse_err("{\"type\":\"NOPE\"}", false, "type");
    parse_err("{\"property\":\"a\",\"operator\":\"LT\",\"threshold\":1}", false, "type");
    parse_err("{\"type\":3}", false, "type");
    parse_err("[]", false, "");
    parse_err("{\"type\":\"THRESHOLD\",\"property\":\"a\",\"operator\":\"LESS\","
              "\"threshold\":1}",
              false, "operator");
    parse_err("{\"type\":\"THRESHOLD\",\"property\":\"a\",\"operator\":\"EQUALS\","
              "\"threshold\":1}",
              false, "operator");
    parse_err("{\"type\":\"THRESHOLD\",\"property\":\"a\",\"threshold\":1}", false, "operator");
    parse_err("{\"type\":\"THRESHOLD\",\"property\":\"a\",\"operator\":\"LT\","
              "\"threshold\":\"1500\"}",
              false, "threshold");
    parse_err("{\"type\":\"THRESHOLD\",\"property\":\"a\",\"operator\":\"LT\"}", false,
              "threshold");
    parse_err("{\"type\":\"THRESHOLD\",\"operator\":\"LT\",\"threshold\":1}", false, "property");
    parse_err("{\"type\":\"THRESHOLD\",\"property\":\"\",\"operator\":\"LT\",\"threshold\":1}",
              false, "property");
    parse_err("{\"type\":\"THRESHOLD\",\"property\":5,\"operator\":\"LT\",\"threshold\":1}", false,
              "property");
    parse_err("{\"type\":\"STRING\",\"property\":\"a\",\"operator\":\"LT\",\"pattern\":\"x\"}",
              false, "operator");
    parse_err("{\"type\":\"STRING\",\"property\":\"a\",\"operator\":\"EQUALS\",\"pattern\":1}",
              false, "pattern");
    parse_err("{\"type\":\"STRING\",\"property\":\"a\",\"operator\":\"EQUALS\","
              "\"pattern\":\"x\",\"ignoreCase\":\"yes\"}",
              false, "ignoreCase");
    parse_err("{\"type\":\"STRING\",\"operator\":\"EQUALS\",\"pattern\":\"x\"}", false,
              "property");
    parse_err("{\"type\":\"STRING_COMPARE\",\"property\":\"a\",\"operator\":\"EQUALS\"}", false,
              "property2");
    parse_err("{\"type\":\"COMPARE\",\"property\":\"a\",\"operator\":\"LT\",\"property2\":\"b\"}",
              false, "multiplier");
    parse_err("{\"type\":\"COMPARE\",\"property\":\"a\",\"operator\":\"LT\",\"multiplier\":\"2\","
              "\"property2\":\"b\"}",
              false, "multiplier");
    parse_err("{\"type\":\"COMPARE\",\"property\":\"a\",\"operator\":\"LT\",\"multiplier\":2}",
              false, "property2");
}

static void test_parse_bad_regex(void **state)
{
    (void)state;
    parse_err("{\"type\":\"STRING\",\"property\":\"a\",\"operator\":\"MATCHES\","
              "\"pattern\":\"(unclosed\"}",
              false, "pattern");
    parse_err("{\"type\":\"STRING\",\"property\":\"a\",\"operator\":\"MATCHES\","
              "\"pattern\":\"[a-\"}",
              false, "pattern");
    /* The same text is a fine literal for the other operators. */
    CHECK("{\"type\":\"STRING\",\"property\":\"a\",\"operator\":\"CONTAINS\","
          "\"pattern\":\"(unclosed\"}",
          {"{\"a\":\"x(unclosed\"}", true}, {"{\"a\":\"x\"}", false});
}

static void test_projections(void **state)
{
    struct condition c;

    (void)state;
    parse_ok("{\"type\":\"THRESHOLD\",\"property\":\"a\",\"operator\":\"LT\",\"threshold\":1,"
             "\"projections\":[{\"type\":\"PROPERTY\",\"property\":\"api\"},"
             "{\"type\":\"property\",\"property\":\"node.hostname\"},{\"property\":\"x\"}]}",
             &c);
    assert_int_equal(c.nprojections, 3);
    assert_string_equal(c.projections[0], "api");
    assert_string_equal(c.projections[1], "node.hostname");
    assert_string_equal(c.projections[2], "x");
    cond_clear(&c);

    parse_err("{\"type\":\"THRESHOLD\",\"property\":\"a\",\"operator\":\"LT\",\"threshold\":1,"
              "\"projections\":{\"property\":\"api\"}}",
              false, "projections");
    parse_err("{\"type\":\"THRESHOLD\",\"property\":\"a\",\"operator\":\"LT\",\"threshold\":1,"
              "\"projections\":[{\"type\":\"SCRIPT\",\"property\":\"api\"}]}",
              false, "projections[0]");
    parse_err("{\"type\":\"THRESHOLD\",\"property\":\"a\",\"operator\":\"LT\",\"threshold\":1,"
              "\"projections\":[{\"property\":\"api\"},{\"type\":\"PROPERTY\"}]}",
              false, "projections[1]");
    parse_err("{\"type\":\"THRESHOLD\",\"property\":\"a\",\"operator\":\"LT\",\"threshold\":1,"
              "\"projections\":[\"api\"]}",
              false, "projections[0]");
    parse_err("{\"type\":\"THRESHOLD\",\"property\":\"a\",\"operator\":\"LT\",\"threshold\":1,"
              "\"projections\":[{\"property\":\"a\"},{\"property\":\"b\"},{\"property\":\"c\"},"
              "{\"property\":\"d\"},{\"property\":\"e\"},{\"property\":\"f\"},"
              "{\"property\":\"g\"},{\"property\":\"h\"},{\"property\":\"i\"}]}",
              false, "projections");
}

/* ---- window conditions: parsing only ---- */

static void test_window_parse(void **state)
{
    struct condition c;

    (void)state;
    parse_ok("{\"type\":\"AGGREGATION\",\"function\":\"p99\",\"property\":\"rt\","
             "\"operator\":\"gt\",\"threshold\":800,\"duration\":5,\"timeUnit\":\"minutes\","
             "\"projections\":[{\"property\":\"api\"}]}",
             &c);
    assert_int_equal(c.type, COND_AGGREGATION);
    assert_int_equal(c.fn, AGG_P99);
    assert_int_equal(c.op, NUM_GT);
    assert_true(c.threshold == 800);
    assert_int_equal(c.duration_ms, 300000);
    assert_string_equal(c.property, "rt");
    assert_int_equal(c.nprojections, 1);
    assert_true(cond_is_window(c.type));
    /* A window condition never holds on one event. */
    assert_false(cond_eval_event(&c, ev("{\"rt\":900}"), NULL));
    cond_clear(&c);

    /* COUNT needs no property; no timeUnit means milliseconds. */
    parse_ok("{\"type\":\"AGGREGATION\",\"function\":\"COUNT\",\"operator\":\"GTE\","
             "\"threshold\":3,\"duration\":1500}",
             &c);
    assert_int_equal(c.fn, AGG_COUNT);
    assert_null(c.property);
    assert_int_equal(c.duration_ms, 1500);
    cond_clear(&c);

    parse_ok("{\"type\":\"RATE\",\"operator\":\"LT\",\"threshold\":40,\"duration\":1,"
             "\"timeUnit\":\"MINUTES\",\"sampleSize\":20,\"comparison\":{\"type\":\"THRESHOLD\","
             "\"property\":\"rt\",\"operator\":\"GTE\",\"threshold\":500}}",
             &c);
    assert_int_equal(c.type, COND_RATE);
    assert_int_equal(c.sample_size, 20);
    assert_int_equal(c.duration_ms, 60000);
    assert_non_null(c.comparison);
    assert_int_equal(c.comparison->type, COND_THRESHOLD);
    assert_true(cond_eval_event(c.comparison, ev("{\"rt\":500}"), NULL));
    cond_clear(&c);

    /* sampleSize defaults to 1 */
    parse_ok("{\"type\":\"RATE\",\"operator\":\"GT\",\"threshold\":1,\"duration\":10,"
             "\"comparison\":{\"type\":\"STRING\",\"property\":\"s\",\"operator\":\"EQUALS\","
             "\"pattern\":\"KO\"}}",
             &c);
    assert_int_equal(c.sample_size, 1);
    cond_clear(&c);

    parse_ok("{\"type\":\"missing_data\",\"duration\":2,\"timeUnit\":\"SECONDS\"}", &c);
    assert_int_equal(c.type, COND_MISSING_DATA);
    assert_int_equal(c.duration_ms, 2000);
    assert_null(c.property);
    cond_clear(&c);
}

static void test_window_parse_errors(void **state)
{
    (void)state;
    parse_err("{\"type\":\"AGGREGATION\",\"function\":\"AVG\",\"operator\":\"GT\","
              "\"threshold\":1,\"duration\":10}",
              false, "property");
    parse_err("{\"type\":\"AGGREGATION\",\"function\":\"MEDIAN\",\"property\":\"x\","
              "\"operator\":\"GT\",\"threshold\":1,\"duration\":10}",
              false, "function");
    parse_err("{\"type\":\"AGGREGATION\",\"property\":\"x\",\"operator\":\"GT\","
              "\"threshold\":1,\"duration\":10}",
              false, "function");
    parse_err("{\"type\":\"AGGREGATION\",\"function\":\"MAX\",\"property\":\"x\","
              "\"operator\":\"GT\",\"threshold\":1}",
              false, "duration");
    parse_err("{\"type\":\"AGGREGATION\",\"function\":\"MAX\",\"property\":\"x\","
              "\"operator\":\"GT\",\"threshold\":\"1\",\"duration\":3}",
              false, "threshold");
    parse_err("{\"type\":\"RATE\",\"operator\":\"LT\",\"threshold\":40,\"duration\":10}", false,
              "comparison");
    parse_err("{\"type\":\"RATE\",\"operator\":\"LT\",\"threshold\":40,\"duration\":10,"
              "\"comparison\":{\"type\":\"THRESHOLD\",\"property\":\"rt\",\"operator\":\"BIG\","
              "\"threshold\":5}}",
              false, "comparison.operator");
    /* RATE's comparison must be a single-value condition. */
    parse_err("{\"type\":\"RATE\",\"operator\":\"LT\",\"threshold\":40,\"duration\":10,"
              "\"comparison\":{\"type\":\"AGGREGATION\",\"function\":\"COUNT\","
              "\"operator\":\"GT\",\"threshold\":1,\"duration\":5}}",
              false, "comparison.type");
    parse_err("{\"type\":\"RATE\",\"operator\":\"LT\",\"threshold\":40,\"duration\":10,"
              "\"sampleSize\":0,\"comparison\":{\"type\":\"STRING\",\"property\":\"s\","
              "\"operator\":\"EQUALS\",\"pattern\":\"x\"}}",
              false, "sampleSize");
    parse_err("{\"type\":\"RATE\",\"operator\":\"LT\",\"threshold\":40,\"duration\":10,"
              "\"sampleSize\":2.5,\"comparison\":{\"type\":\"STRING\",\"property\":\"s\","
              "\"operator\":\"EQUALS\",\"pattern\":\"x\"}}",
              false, "sampleSize");
}

static void test_filter_restriction(void **state)
{
    struct condition c;
    struct verr err;

    (void)state;
    /* Filters (and RATE's comparison) only take single-value conditions... */
    parse_err("{\"type\":\"AGGREGATION\",\"function\":\"COUNT\",\"operator\":\"GT\","
              "\"threshold\":1,\"duration\":5}",
              true, "type");
    parse_err("{\"type\":\"RATE\",\"operator\":\"LT\",\"threshold\":40,\"duration\":10,"
              "\"comparison\":{\"type\":\"STRING\",\"property\":\"s\",\"operator\":\"EQUALS\","
              "\"pattern\":\"x\"}}",
              true, "type");
    /* ...of which MISSING_DATA is one in AE. */
    assert_int_equal(parse("{\"type\":\"MISSING_DATA\",\"duration\":5}", true, &c, &err),
                     TOCSIN_OK);
    cond_clear(&c);
    assert_int_equal(parse("{\"type\":\"THRESHOLD\",\"property\":\"a\",\"operator\":\"LT\","
                           "\"threshold\":1}",
                           true, &c, &err),
                     TOCSIN_OK);
    cond_clear(&c);
}

/* ---- durations ---- */

static void duration_case(const char *text, int rc, int64_t want, const char *field)
{
    json_t *j = load(text);
    struct verr err;
    int64_t ms = -1;

    memset(&err, 0, sizeof(err));
    if (parse_duration(j, "duration", "timeUnit", &ms, &err) != rc)
        fail_msg("%s: rc != %d (%s: %s)", text, rc, err.field, err.msg);
    if (rc == TOCSIN_OK && ms != want)
        fail_msg("%s: %lld ms, want %lld", text, (long long)ms, (long long)want);
    if (rc != TOCSIN_OK && strcmp(err.field, field) != 0)
        fail_msg("%s: error on '%s', want '%s'", text, err.field, field);
    json_decref(j);
}

static void test_durations(void **state)
{
    (void)state;
    duration_case("{\"duration\":250}", TOCSIN_OK, 250, NULL);
    duration_case("{\"duration\":250,\"timeUnit\":null}", TOCSIN_OK, 250, NULL);
    duration_case("{\"duration\":3,\"timeUnit\":\"MILLISECONDS\"}", TOCSIN_OK, 3, NULL);
    duration_case("{\"duration\":3,\"timeUnit\":\"SECONDS\"}", TOCSIN_OK, 3000, NULL);
    duration_case("{\"duration\":3,\"timeUnit\":\"seconds\"}", TOCSIN_OK, 3000, NULL);
    duration_case("{\"duration\":2,\"timeUnit\":\"Minutes\"}", TOCSIN_OK, 120000, NULL);
    duration_case("{\"duration\":1,\"timeUnit\":\"HOURS\"}", TOCSIN_OK, 3600000, NULL);
    duration_case("{\"duration\":1,\"timeUnit\":\"DAYS\"}", TOCSIN_OK, 86400000, NULL);
    duration_case("{\"duration\":31,\"timeUnit\":\"DAYS\"}", TOCSIN_OK, 31LL * 86400000, NULL);
    duration_case("{\"duration\":5000,\"timeUnit\":\"MICROSECONDS\"}", TOCSIN_OK, 5, NULL);
    duration_case("{\"duration\":2000000,\"timeUnit\":\"NANOSECONDS\"}", TOCSIN_OK, 2, NULL);
    duration_case("{\"duration\":4.0}", TOCSIN_OK, 4, NULL);

    duration_case("{\"duration\":0}", TOCSIN_EINVAL, 0, "duration");
    duration_case("{\"duration\":0,\"timeUnit\":\"SECONDS\"}", TOCSIN_EINVAL, 0, "duration");
    duration_case("{\"duration\":-5}", TOCSIN_EINVAL, 0, "duration");
    duration_case("{\"duration\":1.5}", TOCSIN_EINVAL, 0, "duration");
    duration_case("{\"duration\":\"5\"}", TOCSIN_EINVAL, 0, "duration");
    duration_case("{}", TOCSIN_EINVAL, 0, "duration");
    duration_case("{\"duration\":32,\"timeUnit\":\"DAYS\"}", TOCSIN_EINVAL, 0, "duration");
    duration_case("{\"duration\":999,\"timeUnit\":\"MICROSECONDS\"}", TOCSIN_EINVAL, 0,
                  "duration");
    duration_case("{\"duration\":5,\"timeUnit\":\"WEEKS\"}", TOCSIN_EINVAL, 0, "timeUnit");
    duration_case("{\"duration\":5,\"timeUnit\":\"\"}", TOCSIN_EINVAL, 0, "timeUnit");
    duration_case("{\"duration\":5,\"timeUnit\":1}", TOCSIN_EINVAL, 0, "timeUnit");

    /* Through cond_parse, the fields are the condition's. */
    parse_err("{\"type\":\"MISSING_DATA\",\"duration\":0}", false, "duration");
    parse_err("{\"type\":\"MISSING_DATA\",\"duration\":10,\"timeUnit\":\"FORTNIGHTS\"}", false,
              "timeUnit");
}

/* ---- normalised JSON ---- */

static void roundtrip(const char *text, const char *want_type, const char *want_op_key,
                      const char *want_op)
{
    struct condition c1, c2;
    json_t *j1, *j2;
    char *s1, *s2;
    struct verr err;

    parse_ok(text, &c1);
    j1 = cond_to_json(&c1);
    assert_non_null(j1);
    assert_string_equal(json_string_value(json_object_get(j1, "type")), want_type);
    if (want_op_key)
        assert_string_equal(json_string_value(json_object_get(j1, want_op_key)), want_op);
    memset(&err, 0, sizeof(err));
    if (cond_parse(j1, false, &c2, &err))
        fail_msg("re-parse of %s failed: %s: %s", text, err.field, err.msg);
    j2 = cond_to_json(&c2);
    s1 = json_dumps(j1, JSON_COMPACT | JSON_SORT_KEYS);
    s2 = json_dumps(j2, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s1, s2);
    assert_int_equal(c1.type, c2.type);
    assert_int_equal(c1.str_op, c2.str_op);
    assert_int_equal(c1.op, c2.op);
    assert_int_equal(c1.ignore_case, c2.ignore_case);
    assert_true(c1.threshold == c2.threshold);
    assert_true(c1.low == c2.low && c1.high == c2.high);
    assert_int_equal(c1.op_low, c2.op_low);
    assert_int_equal(c1.op_high, c2.op_high);
    assert_true(c1.multiplier == c2.multiplier);
    assert_int_equal(c1.fn, c2.fn);
    assert_int_equal(c1.duration_ms, c2.duration_ms);
    assert_int_equal(c1.sample_size, c2.sample_size);
    assert_int_equal(c1.nprojections, c2.nprojections);
    free(s1);
    free(s2);
    json_decref(j1);
    json_decref(j2);
    cond_clear(&c1);
    cond_clear(&c2);
}

static void test_to_json_roundtrip(void **state)
{
    struct condition c;
    json_t *j;

    (void)state;
    roundtrip("{\"type\":\"string\",\"property\":\"a\",\"operator\":\"matches\","
              "\"pattern\":\"x.*\",\"ignoreCase\":true}",
              "STRING", "operator", "MATCHES");
    roundtrip("{\"type\":\"string_compare\",\"property\":\"a\",\"operator\":\"not_equals\","
              "\"property2\":\"b\"}",
              "STRING_COMPARE", "operator", "NOT_EQUALS");
    roundtrip("{\"type\":\"threshold\",\"property\":\"a\",\"operator\":\"lte\",\"threshold\":1.5,"
              "\"projections\":[{\"type\":\"property\",\"property\":\"api\"}]}",
              "THRESHOLD", "operator", "LTE");
    roundtrip("{\"type\":\"threshold_range\",\"property\":\"a\",\"operatorLow\":\"gt\","
              "\"thresholdLow\":1,\"operatorHigh\":\"inclusive\",\"thresholdHigh\":9}",
              "THRESHOLD_RANGE", "operatorLow", "EXCLUSIVE");
    roundtrip("{\"type\":\"compare\",\"property\":\"a\",\"operator\":\"gt\",\"multiplier\":2.5,"
              "\"property2\":\"b\"}",
              "COMPARE", "operator", "GT");
    roundtrip("{\"type\":\"aggregation\",\"function\":\"p95\",\"property\":\"rt\","
              "\"operator\":\"gte\",\"threshold\":10,\"duration\":2,\"timeUnit\":\"seconds\","
              "\"projections\":[{\"property\":\"a\"},{\"property\":\"b\"}]}",
              "AGGREGATION", "function", "P95");
    roundtrip("{\"type\":\"aggregation\",\"function\":\"count\",\"operator\":\"gt\","
              "\"threshold\":10,\"duration\":2}",
              "AGGREGATION", "operator", "GT");
    roundtrip("{\"type\":\"rate\",\"operator\":\"lt\",\"threshold\":40,\"duration\":1,"
              "\"timeUnit\":\"minutes\",\"sampleSize\":20,\"comparison\":{\"type\":\"threshold\","
              "\"property\":\"rt\",\"operator\":\"gte\",\"threshold\":500}}",
              "RATE", "operator", "LT");
    roundtrip("{\"type\":\"missing_data\",\"duration\":5,\"timeUnit\":\"seconds\"}",
              "MISSING_DATA", NULL, NULL);

    /* Durations are normalised to milliseconds; the RATE comparison is upper-cased too. */
    parse_ok("{\"type\":\"rate\",\"operator\":\"lt\",\"threshold\":40,\"duration\":1,"
             "\"timeUnit\":\"minutes\",\"comparison\":{\"type\":\"string\",\"property\":\"s\","
             "\"operator\":\"equals\",\"pattern\":\"KO\"}}",
             &c);
    j = cond_to_json(&c);
    assert_int_equal(json_integer_value(json_object_get(j, "duration")), 60000);
    assert_string_equal(json_string_value(json_object_get(j, "timeUnit")), "MILLISECONDS");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "comparison"), "operator")),
        "EQUALS");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "comparison"), "type")), "STRING");
    json_decref(j);
    cond_clear(&c);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(cond_type_name(COND_THRESHOLD_RANGE), "THRESHOLD_RANGE");
    assert_string_equal(cond_type_name(COND_TYPE_COUNT), "?");
    assert_string_equal(num_op_name(NUM_GTE), "GTE");
    assert_string_equal(str_op_name(STR_ENDS_WITH), "ENDS_WITH");
    assert_string_equal(agg_fn_name(AGG_P90), "P90");
    assert_true(num_op_holds(NUM_LT, 1, 2));
    assert_false(num_op_holds(NUM_LT, 2, 2));
    assert_true(num_op_holds(NUM_LTE, 2, 2));
    assert_true(num_op_holds(NUM_GTE, 2, 2));
    assert_false(num_op_holds(NUM_GT, 2, 2));
    assert_false(num_op_holds(NUM_GT, NAN, 2));
    assert_false(cond_is_window(COND_COMPARE));
    assert_true(cond_is_window(COND_MISSING_DATA));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_equals),
        cmocka_unit_test(test_string_not_equals),
        cmocka_unit_test(test_string_starts_with),
        cmocka_unit_test(test_string_ends_with),
        cmocka_unit_test(test_string_contains),
        cmocka_unit_test(test_string_matches_full),
        cmocka_unit_test(test_string_result),
        cmocka_unit_test(test_string_compare),
        cmocka_unit_test(test_threshold_ops),
        cmocka_unit_test(test_threshold_numeric_strings),
        cmocka_unit_test(test_threshold_result),
        cmocka_unit_test(test_range_inclusive),
        cmocka_unit_test(test_range_exclusive),
        cmocka_unit_test(test_range_aliases),
        cmocka_unit_test(test_range_parse_errors),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_parse_errors_common),
        cmocka_unit_test(test_parse_bad_regex),
        cmocka_unit_test(test_projections),
        cmocka_unit_test(test_window_parse),
        cmocka_unit_test(test_window_parse_errors),
        cmocka_unit_test(test_filter_restriction),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_to_json_roundtrip),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
