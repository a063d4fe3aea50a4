/* jtree: the tree jscan builds is the tree jansson's json_loadb gives, value for value and key
 * order for key order, and it refuses what json_loadb(…, 0) refuses. `test_jtree --bench`
 * times both on a notification context (no assertion on times). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/jtree.h"

#include "parse_helpers.h"

/* Both parsers agree on text: the same tree, dumped the same (key order included). */
static void same(const char *text)
{
    json_t *a = json_loads(text, 0, NULL), *b = jtree_load(text, strlen(text));
    char *da, *db;

    if (!a)
        fail_msg("jansson refused %s", text);
    if (!b)
        fail_msg("jtree refused %s", text);
    assert_true(json_equal(a, b));
    da = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
    db = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(da);
    assert_non_null(db);
    assert_string_equal(da, db);
    free(da);
    free(db);
    json_decref(a);
    json_decref(b);
}

static void refused(const char *text, size_t len)
{
    json_t *a = json_loadb(text, len, 0, NULL), *b = jtree_load(text, len);

    assert_null(a);
    assert_null(b);
}

static void test_values(void **state)
{
    (void)state;
    same("{}");
    same("[]");
    same("  {\"a\" : [1, -0, 0.5, -1.5e-7, 1E+2, 9223372036854775807,"
         " -9223372036854775808, 0.1, 1e300, true, false, null] } ");
    same("{\"s\":\"plain\",\"e\":\"tab\\t nl\\n q\\\" bs\\\\ sl\\/ u\\u00e9 \\ud83d\\ude00\"}");
    same("{\"k\\u00e9y\":1,\"\\n\":2,\"\":3}");
    same("{\"caf\xc3\xa9\":\"\xe2\x82\xac \xf0\x9f\x98\x80\"}");
    same("[[[[]]],{\"a\":{\"b\":{\"c\":[{}]}}}]");
    same("{\"a\":1,\"b\":2,\"a\":3}");        /* the last value, at the first key's place */
    /* reals too long for jscan's stack buffer (copied into its arena) */
    same("[8111111111111111111111111111111111111111111111111111111111111111111.0,"
         "1555555555555555555555555555555555555555555555555555555555555555555e30]");
    same("{\"z\":1,\"y\":2,\"x\":3,\"w\":[\"" /* a string longer than the unescape stack */
         "0123456789012345678901234567890123456789012345678901234567890123456789\\n"
         "0123456789012345678901234567890123456789012345678901234567890123456789\\n"
         "0123456789012345678901234567890123456789012345678901234567890123456789\\n"
         "0123456789012345678901234567890123456789012345678901234567890123456789\\n\"]}");
}

static void test_refusals(void **state)
{
    char deep[200];

    (void)state;
    refused("1", 1); /* a top-level scalar, as json_loadb without JSON_DECODE_ANY */
    refused("\"x\"", 3);
    refused("{} x", 4);
    refused("{\"a\":1,}", 8);
    refused("[1 2]", 5);
    refused("{\"a\" 1}", 7);
    refused("{\"a\":\"\\u0000\"}", 14);
    refused("{\"a\":\"\xc3\"}", 9);          /* a cut UTF-8 sequence */
    refused("{\"a\":\"\xed\xa0\x80\"}", 11); /* an encoded surrogate */
    refused("[99999999999999999999]", 22);   /* over int64 */
    refused("[1e999]", 7);
    refused("[01]", 4);
    refused("{\"a\":\"x", 7);
    refused("", 0);
    assert_null(jtree_load(NULL, 0));
    /* deeper than jscan goes (64): jtree gives up, the fallback is jansson's */
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_null(jtree_load(deep, sizeof(deep)));
    json_t *v = jtree_load_or_jansson(deep, sizeof(deep));
    assert_non_null(v);
    json_decref(v);
    /* a NUL byte right after a number: jansson drops it, jscan refuses, jansson decides */
    assert_null(jtree_load("[1\0]", 4));
    v = json_loadb("[1\0]", 4, 0, NULL);
    assert_non_null(v);
    json_decref(v);
    v = jtree_load_or_jansson("[1\0]", 4);
    assert_non_null(v);
    json_decref(v);
}

/* jtree_is_json says what json_loadb(…, JSON_DECODE_ANY) says, for any top-level value. */
static void is_json_as_jansson(const char *text, size_t len)
{
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, NULL);

    if ((v != NULL) != jtree_is_json(text, len))
        fail_msg("jtree_is_json and jansson differ on %.*s", (int)len, text);
    json_decref(v);
}

static void test_is_json(void **state)
{
    static const char *const texts[] = {"1",   "-0.5e3", "\"x\"",       "true",       " null ",
                                        "{}",  "[1,2]",  "text",        "",           "{",
                                        "1 2", "01",     "\"\\u0000\"", "{\"a\":1}x", "\t[]\n"};
    char deep[200];

    (void)state;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        is_json_as_jansson(texts[i], strlen(texts[i]));
    assert_true(jtree_is_json("\"x\"", 3));
    assert_false(jtree_is_json("hello", 5));
    assert_false(jtree_is_json(NULL, 0));
    memset(deep, '[', 100); /* past jscan's nesting: jansson decides */
    memset(deep + 100, ']', 100);
    assert_true(jtree_is_json(deep, sizeof(deep)));
    is_json_as_jansson(deep, 150); /* cut: not JSON */
    is_json_as_jansson("[1\0]", 4); /* jansson drops the NUL: JSON */
    is_json_as_jansson("[1,\0]", 5);
    is_json_as_jansson("8111111111111111111111111111111111111111111111111111111111111111111.0", 69);
}

/* ---- random documents ---- */

static json_t *rnd_string(void)
{
    static const char *const pieces[] = {"a",
                                         "Z",
                                         " ",
                                         "\"",
                                         "\\",
                                         "/",
                                         "\n",
                                         "\t",
                                         "\x01",
                                         "\x1f",
                                         "\x7f",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         "key",
                                         "0"};
    char buf[64];
    size_t n = 0, parts = rn(8);

    for (size_t i = 0; i < parts; i++) {
        const char *p = pieces[rn(sizeof(pieces) / sizeof(pieces[0]))];
        memcpy(buf + n, p, strlen(p));
        n += strlen(p);
    }
    return json_stringn(buf, n);
}

static json_t *rnd_value(int depth)
{
    unsigned k = rn(depth > 4 ? 6 : 8);
    json_t *c;

    switch (k) {
    case 0:
        return json_integer((json_int_t)(rnd() >> (1 + rn(63))) * (rn(2) ? 1 : -1));
    case 1:
        return json_real((double)(int64_t)(rnd() >> 11) / (double)(1ull << rn(60)));
    case 2:
        return rnd_string();
    case 3:
        return rn(2) ? json_true() : json_false();
    case 4:
        return json_null();
    case 5:
        return json_integer(rn(10));
    case 6:
        c = json_array();
        for (unsigned i = rn(5); i > 0; i--)
            json_array_append_new(c, rnd_value(depth + 1));
        return c;
    default:
        c = json_object();
        for (unsigned i = rn(6); i > 0; i--) {
            json_t *key = rnd_string();
            json_object_set_new(c, json_string_value(key), rnd_value(depth + 1));
            json_decref(key);
        }
        return c;
    }
}

static void test_random_documents(void **state)
{
    static const size_t flags[] = {JSON_COMPACT, JSON_INDENT(2), JSON_ENSURE_ASCII,
                                   JSON_ESCAPE_SLASH | JSON_COMPACT, 0};

    (void)state;
    rng_state = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 3000; i++) {
        json_t *doc = rn(2) ? json_object() : json_array(), *v;
        char *text;
        for (unsigned j = rn(6) + 1; j > 0; j--) {
            v = rnd_value(0);
            if (json_is_object(doc))
                json_object_set_new(doc, rn(2) ? "k" : "other", v);
            else
                json_array_append_new(doc, v);
        }
        text = json_dumps(doc, flags[rn(sizeof(flags) / sizeof(flags[0]))]);
        assert_non_null(text);
        same(text);
        assert_true(jtree_is_json(text, strlen(text)));
        free(text);
        json_decref(doc);
    }
}

/* ---- bench ---- */

/* A notification context of the notification benchmark's shape (about 1.2 KB). */
static const char BENCH_CTX[] =
    "{\"alert\":{\"id\":\"fd8049ec-7b21-4ef8-af62-f2e37a56e0c2\",\"href\":\"/alert/fd8049ec-7b21-"
    "4ef8-af62-f2e37a56e0c2\",\"resource\":\"nb1-649\",\"event\":\"BenchLatency\",\"environment\":"
    "\"Production\",\"severity\":\"major\",\"correlate\":[],\"status\":\"open\",\"service\":"
    "[\"bench\"],\"group\":\"Misc\",\"value\":null,\"text\":\"\",\"tags\":[],\"attributes\":{"
    "\"seq\":\"7\",\"sent_ns\":\"1795552487042699703\"},\"origin\":\"tocsin-loadgen\",\"type\":"
    "\"exceptionAlert\",\"createTime\":\"2026-11-24T20:34:47.042Z\",\"timeout\":86400,\"customer\":"
    "null,\"duplicateCount\":0,\"repeat\":false,\"previousSeverity\":\"critical\",\"trendIndication"
    "\":\"lessSevere\",\"receiveTime\":\"2026-11-24T20:34:47.042Z\",\"lastReceiveId\":\"8242113a-"
    "0504-48b7-ac75-059f3ee0b805\",\"lastReceiveTime\":\"2026-11-24T20:34:47.042Z\",\"updateTime\":"
    "\"2026-11-24T20:34:47.042Z\",\"fingerprint\":\"82626e12a92e7da9099cccaa9f406a43\",\"labels\":{"
    "},"
    "\"annotations\":{},\"source\":\"alerta\",\"generatorURL\":null,\"startsAt\":\"2026-11-24T20:"
    "34:"
    "47.042Z\",\"endsAt\":null},\"change\":\"statedec\",\"status\":\"firing\",\"rule\":{\"id\":"
    "\"r0000\",\"name\":\"\"},\"group\":{\"key\":\"\",\"firing\":1,\"resolved\":0},\"tocsin\":{"
    "\"url\":"
    "\"\"},\"notification\":{\"id\":\"b7213677-2d84-84ba-b0b9-6472c8acf664\"},\"channel\":{\"id\":"
    "\"bench\",\"type\":\"webhook\"}}";

static int bench(void)
{
    const int n = 100000;
    size_t len = strlen(BENCH_CTX);
    double t0, t1, t2, t3;

    same(BENCH_CTX);
    t0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < n; i++)
        json_decref(json_loadb(BENCH_CTX, len, 0, NULL));
    t1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < n; i++)
        json_decref(jtree_load(BENCH_CTX, len));
    t2 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < n; i++)
        if (!jtree_is_json(BENCH_CTX, len))
            return 1;
    t3 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    printf("bench: a %zu-byte context loaded and freed, %d times: json_loadb %.2f us, jtree_load"
           " %.2f us; told JSON (a body's default Content-Type): jtree_is_json %.2f us\n",
           len, n, (t1 - t0) / 1e3 / n, (t2 - t1) / 1e3 / n, (t3 - t2) / 1e3 / n);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_is_json),
        cmocka_unit_test(test_random_documents),
    };

    if (argc > 1 && strcmp(argv[1], "--bench") == 0)
        return bench();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
