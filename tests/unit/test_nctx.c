/* Unit tests for notify/nctx: the attempt's context text spliced from the stored text must be
 * the same JSON value as the tree the notifier builds (parse, "alerts":[alert] put back,
 * notification.attempt added), for ungrouped and grouped contexts, for alerts whose text holds
 * everything that could fool a splice (quotes, backslashes, braces in strings, a nested
 * "notification" object of the same id), and for random alerts; and a stored text in another
 * shape is refused, never spliced wrongly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "notify/nctx.h"
#include "util/buf.h"
#include "util/err.h"

#define NID "0b5f4a3c-1d2e-8f00-9a1b-2c3d4e5f6a7b"

/* The stored text of a context with these alerts (the first is "alert"), as context_head
 * writes it: "alerts" only when grouped. */
static char *stored_of(json_t *alerts, bool grouped)
{
    json_t *c = json_object();
    char *s;

    json_object_set(c, "alert", json_array_get(alerts, 0));
    if (grouped)
        json_object_set(c, "alerts", alerts);
    json_object_set_new(c, "change", json_string("create"));
    json_object_set_new(c, "status", json_string("firing"));
    json_object_set_new(c, "rule", json_pack("{s:s,s:n}", "id", "r1", "name"));
    json_object_set_new(c, "group",
                        json_pack("{s:s,s:i,s:i}", "key", "", "firing", 1, "resolved", 0));
    json_object_set_new(c, "tocsin", json_pack("{s:n}", "url"));
    json_object_set_new(c, "notification", json_pack("{s:s}", "id", NID));
    json_object_set_new(c, "channel", json_pack("{s:s,s:s}", "id", "ch \"1\"", "type", "webhook"));
    s = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return s;
}

/* What the notifier's tree is for this stored text at this attempt. */
static json_t *tree_of(const char *stored, unsigned attempt)
{
    json_t *c = json_loads(stored, 0, NULL);

    assert_non_null(c);
    if (!json_object_get(c, "alerts"))
        json_object_set_new(c, "alerts", json_pack("[O]", json_object_get(c, "alert")));
    json_object_set_new(json_object_get(c, "notification"), "attempt", json_integer(attempt));
    return c;
}

static void check_same(json_t *alerts, bool grouped, unsigned attempt)
{
    char *stored = stored_of(alerts, grouped);
    json_t *want = tree_of(stored, attempt), *got;
    struct buf b;
    json_error_t je;

    /* the alert's length: not known (scanned), the engine's count, and two the text does not
     * bear out (one short, one past the end: scanned) */
    size_t al = nctx_object_len(stored + 9, strlen(stored) - 9);
    const size_t alens[] = {0, al, al - 1, strlen(stored)};

    assert_true(al > 2);
    buf_init(&b, 1 << 20);
    for (size_t i = 0; i < sizeof(alens) / sizeof(alens[0]); i++) {
        buf_reset(&b);
        assert_int_equal(nctx_attempt_text(stored, alens[i], NID, attempt, grouped, &b), TOCSIN_OK);
        got = json_loadb(b.p, b.len, 0, &je);
        if (!got)
            fail_msg("spliced text is not JSON (%s): %.*s", je.text, (int)b.len, b.p);
        if (!json_equal(got, want)) {
            char *g = json_dumps(got, JSON_COMPACT), *w = json_dumps(want, JSON_COMPACT);
            fail_msg("spliced (alen %zu):\n%s\nwanted:\n%s", alens[i], g, w);
        }
        json_decref(got);
    }
    json_decref(want);
    buf_free(&b);
    free(stored);
}

static json_t *alert_with(const char *text)
{
    return json_pack("{s:s,s:s,s:{s:s,s:[s,i]},s:s}", "id", "a-1", "text", text, "attributes",
                     "note", text, "list", text, 3, "severity", "critical");
}

static void test_ungrouped_and_grouped(void **st)
{
    json_t *one = json_pack("[o]", alert_with("disk full"));
    json_t *two = json_pack("[o,o]", alert_with("a"), alert_with("b"));

    (void)st;
    check_same(one, false, 1);
    check_same(one, false, 30);
    check_same(two, true, 2);
    json_decref(one);
    json_decref(two);
}

/* Strings that hold every character a splice could trip on, and a nested object that looks
 * like the context's own notification object. */
static void test_tricky_alerts(void **st)
{
    static const char *const texts[] = {
        "}",
        "{",
        "]",
        "[",
        "\"",
        "\\",
        "\\\"",
        "\"}",
        "a\\\\\"b}",
        ",\"notification\":{\"id\":\"" NID "\"}",
        "ünïcødé ✓ \u2028",
        "",
    };
    (void)st;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        json_t *a = json_pack("[o]", alert_with(texts[i]));
        check_same(a, false, 1);
        check_same(a, true, 1);
        json_decref(a);
    }
    /* a nested {"notification":{"id":NID}} inside the alert, not first in its object */
    json_t *n = json_pack("[{s:s,s:{s:s,s:{s:s}}}]", "id", "x", "attributes", "k", "v",
                          "notification", "id", NID);
    check_same(n, false, 4);
    check_same(n, true, 4);
    json_decref(n);
}

static void test_other_shapes_refused(void **st)
{
    static const char *const bad[] = {
        "",
        "{}",
        "{\"alerts\":[],\"alert\":{}}",
        "{\"alert\":{\"id\":\"x\"},\"change\":\"create\"}",                  /* no notification */
        "{\"alert\":{\"id\":\"x\",\"change\":\"create\"",                    /* cut */
        "{\"alert\":{\"id\":\"x\"},\"notification\":{\"id\":\"other\"}}",    /* another id */
        "{\"alert\": {\"id\":\"x\"},\"notification\":{\"id\":\"" NID "\"}}", /* not compact */
    };
    struct buf b;

    (void)st;
    buf_init(&b, 1 << 16);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b.len = 0;
        assert_int_equal(nctx_attempt_text(bad[i], 0, NID, 1, false, &b), TOCSIN_EINVAL);
    }
    buf_free(&b);
}

static void test_object_len(void **st)
{
    (void)st;
    assert_int_equal(nctx_object_len("{}", 2), 2);
    assert_int_equal(nctx_object_len("{\"a\":\"}\"},", 10), 9);
    assert_int_equal(nctx_object_len("{\"a\":[{},{}]}x", 14), 13);
    assert_int_equal(nctx_object_len("{\"a\":\"\\\"}\"}", 11), 11);
    assert_int_equal(nctx_object_len("{\"a\":1", 6), 0);
    assert_int_equal(nctx_object_len("[1]", 3), 0);
    assert_int_equal(nctx_object_len("", 0), 0);
}

/* Random alerts: strings from an alphabet of the characters that matter, nested objects and
 * arrays, several alerts per group. Fixed seed. */
static uint64_t rng = 0x9e3779b97f4a7c15u;

static unsigned next(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static json_t *rnd_str(void)
{
    static const char alpha[] = "ab{}[]\",:\\ /";
    char s[24];
    unsigned n = next(sizeof(s) - 1);

    for (unsigned i = 0; i < n; i++)
        s[i] = alpha[next(sizeof(alpha) - 1)];
    s[n] = '\0';
    return json_string(s);
}

static json_t *rnd_value(int depth)
{
    unsigned k = next(depth > 2 ? 3 : 5);

    if (k == 0)
        return rnd_str();
    if (k == 1)
        return json_integer((json_int_t)next(1000));
    if (k == 2)
        return json_null();
    if (k == 3) {
        json_t *o = json_object();
        for (unsigned i = next(4); i > 0; i--) {
            json_t *key = rnd_str();
            json_object_set_new(o, json_string_value(key), rnd_value(depth + 1));
            json_decref(key);
        }
        return o;
    }
    json_t *a = json_array();
    for (unsigned i = next(4); i > 0; i--)
        json_array_append_new(a, rnd_value(depth + 1));
    return a;
}

static void test_random_alerts(void **st)
{
    (void)st;
    for (int round = 0; round < 500; round++) {
        json_t *alerts = json_array();
        unsigned n = 1 + next(3);
        for (unsigned i = 0; i < n; i++) {
            json_t *a = json_object();
            json_object_set_new(a, "id", rnd_str());
            json_object_set_new(a, "attributes", rnd_value(1));
            json_object_set_new(a, "tags", rnd_value(2));
            json_array_append_new(alerts, a);
        }
        check_same(alerts, n > 1, 1 + next(30));
        json_decref(alerts);
    }
}

/* nctx_parse gives the tree json_loads gives; the second context of the same alert shares the
 * cached alert; one of another alert replaces it; a grouped one is parsed whole; an alert made
 * the context's own can be changed without touching the cache. */
static void test_parse_cache(void **st)
{
    json_t *one = json_pack("[o]", alert_with("x \"}"));
    json_t *other = json_pack("[o]", alert_with("y"));
    json_t *two = json_pack("[o,o]", alert_with("a"), alert_with("b"));
    char *s1 = stored_of(one, false), *s2 = stored_of(other, false), *sg = stored_of(two, true);
    struct nctx_cache *c = calloc(1, sizeof(*c));
    json_t *p1, *p2, *p3, *p4, *pg, *want;
    bool shared;

    (void)st;
    p1 = nctx_parse(c, s1, 0, &shared);
    want = json_loads(s1, 0, NULL);
    assert_true(json_equal(p1, want));
    assert_true(shared); /* cached, so shared already */
    assert_int_equal(c->misses, 1);
    p2 = nctx_parse(c, s1, 0, &shared);
    assert_true(json_equal(p2, want) && shared);
    assert_int_equal(c->hits, 1);
    assert_ptr_equal(json_object_get(p1, "alert"), json_object_get(p2, "alert"));
    assert_true(nctx_own_alert(p2));
    assert_ptr_not_equal(json_object_get(p1, "alert"), json_object_get(p2, "alert"));
    json_object_set_new(json_object_get(p2, "alert"), "ticket", json_string("T-1"));
    assert_true(json_equal(json_object_get(p1, "alert"), json_object_get(want, "alert")));
    json_decref(want);
    /* another alert in between: both stay cached */
    p3 = nctx_parse(c, s2, 0, &shared);
    want = json_loads(s2, 0, NULL);
    assert_true(json_equal(p3, want));
    assert_int_equal(c->misses, 2);
    json_decref(want);
    p4 = nctx_parse(c, s1, nctx_object_len(s1 + 9, strlen(s1) - 9), &shared); /* known length */
    assert_int_equal(c->hits, 2);
    assert_ptr_equal(json_object_get(p1, "alert"), json_object_get(p4, "alert"));
    pg = nctx_parse(c, sg, 0, &shared);
    assert_false(shared); /* grouped: parsed whole */
    want = json_loads(sg, 0, NULL);
    assert_true(json_equal(pg, want));
    json_decref(want);
    assert_null(nctx_parse(c, "{\"alert\":{},", 0, &shared));
    assert_null(nctx_parse(c, "not json", 0, &shared));
    json_decref(p1);
    json_decref(p2);
    json_decref(p3);
    json_decref(p4);
    json_decref(pg);
    nctx_cache_clear(c);
    free(c);
    free(s1);
    free(s2);
    free(sg);
    json_decref(one);
    json_decref(other);
    json_decref(two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ungrouped_and_grouped), cmocka_unit_test(test_tricky_alerts),
        cmocka_unit_test(test_other_shapes_refused),  cmocka_unit_test(test_object_len),
        cmocka_unit_test(test_random_alerts),         cmocka_unit_test(test_parse_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
