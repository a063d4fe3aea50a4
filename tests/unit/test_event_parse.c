/* Tests for core/event_parse: the single-pass event reader must give exactly what
 * json_loadb(JSON_DECODE_ANY) + event_from_json() give (as compat/gravitee.c uses them): the same
 * events, the same validity, the same error fields. Differential over a hand-written corpus,
 * 20,000 generated events, a table of malformed inputs, every truncation of an event and 200,000
 * mutated inputs, all from fixed seeds.
 *
 * `test_event_parse --bench` instead times event_parse against jansson on a ~190-byte event
 * (build it with -O2 and no sanitizers for meaningful numbers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/event.h"
#include "core/event_parse.h"
#include "util/arena.h"
#include "util/err.h"

#include "parse_helpers.h"

#define ARENA_MAX (64u << 20)
#define MAX_EVENTS 10000

/* ---- the two readers ---- */

struct res {
    int rc;
    struct verr err;
    struct event *evs;
    size_t n;
    bool was_array;
};

/* The documented difference: event_from_json casts a real timestamp to int64 without a range
 * check (undefined behaviour); event_parse rejects it. Give the reference the same rule. */
static void guard_ts(json_t *ev)
{
    json_t *ts = json_object_get(ev, "timestamp");

    if (json_is_real(ts) && !(json_real_value(ts) >= -9223372036854775808.0 &&
                              json_real_value(ts) < 9223372036854775808.0))
        json_object_set_new(ev, "timestamp", json_string("out of range"));
}

/* What compat/gravitee.c does with json_loadb + event_from_json. */
static void ref_parse(const char *buf, size_t len, struct arena *a, size_t max, struct res *r)
{
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_DECODE_ANY, &je);
    bool arr;

    memset(r, 0, sizeof(*r));
    if (!j) {
        r->rc = verr_set(&r->err, "body", "invalid JSON: %s", je.text);
        return;
    }
    arr = json_is_array(j);
    r->was_array = arr;
    r->n = arr ? json_array_size(j) : 1;
    if (!arr && !json_is_object(j)) {
        r->rc = verr_set(&r->err, "body", "expected an event object or an array of events");
    } else if (r->n > max) {
        verr_set(&r->err, "body", "too many");
        r->err.status = 413;
        r->rc = TOCSIN_ETOOBIG;
    } else if (r->n) {
        r->evs = arena_alloc(a, r->n * sizeof(*r->evs));
        assert_non_null(r->evs);
        for (size_t i = 0; i < r->n && !r->rc; i++) {
            json_t *ev = arr ? json_array_get(j, i) : j;
            if (json_is_object(ev))
                guard_ts(ev);
            r->rc = event_from_json(ev, a, &r->evs[i], &r->err);
            if (r->rc == TOCSIN_EINVAL && arr)
                verr_prefix_index(&r->err, "", i);
        }
    }
    if (r->rc)
        r->n = 0;
    json_decref(j);
}

static void my_parse(const char *buf, size_t len, struct arena *a, size_t max, struct res *r)
{
    memset(r, 0, sizeof(*r));
    r->rc = event_parse(buf, len, a, max, &r->evs, &r->n, &r->was_array, &r->err);
}

/* Empty when equal, else what differs. */
static void diff_event(const struct event *x, const struct event *y, char *why, size_t cap)
{
    why[0] = '\0';
    if (!same_str(x->id, y->id) || strcmp(x->type, y->type) != 0 || x->ts_ms != y->ts_ms) {
        snprintf(why, cap, "header: id %s/%s type %s/%s ts %lld/%lld", x->id ? x->id : "NULL",
                 y->id ? y->id : "NULL", x->type, y->type, (long long)x->ts_ms,
                 (long long)y->ts_ms);
        return;
    }
    if (x->nprops != y->nprops) {
        snprintf(why, cap, "nprops %u/%u", x->nprops, y->nprops);
        return;
    }
    for (uint32_t i = 0; i < x->nprops; i++) {
        const struct prop *p = &x->props[i], *q = &y->props[i];
        if (strcmp(p->key, q->key) != 0 || p->v.type != q->v.type || p->v.slen != q->v.slen ||
            memcmp(p->v.str, q->v.str, p->v.slen + 1) != 0 ||
            memcmp(&p->v.num, &q->v.num, sizeof(double)) != 0) {
            snprintf(why, cap, "prop %u: '%s' t%d [%s] %.17g / '%s' t%d [%s] %.17g", i, p->key,
                     p->v.type, p->v.str, p->v.num, q->key, q->v.type, q->v.str, q->v.num);
            return;
        }
    }
}

static int mismatches, nul_quirks;

/* jansson 2.14 drops one NUL byte that directly follows a number or true/false/null (its
 * look-ahead byte is pushed back and lost); event_parse rejects it, as RFC 8259 does. Returns true
 * when that explains the difference: event_parse, given the input without those bytes, gives
 * exactly what jansson gave for the original. */
static bool nul_quirk(const char *buf, size_t len, size_t max, const struct res *want)
{
    char *clean = malloc(len ? len : 1);
    size_t n = 0;
    struct arena a;
    struct res got;
    bool same;

    assert_non_null(clean);
    for (size_t i = 0; i < len; i++) {
        unsigned char prev = i ? (unsigned char)buf[i - 1] : 0;
        bool after_token = (prev >= '0' && prev <= '9') || (prev >= 'a' && prev <= 'z');
        if (buf[i] != '\0' || !after_token)
            clean[n++] = buf[i];
    }
    arena_init(&a, ARENA_MAX);
    my_parse(clean, n, &a, max, &got);
    same = n < len && got.rc == want->rc && got.n == want->n;
    for (size_t i = 0; same && i < got.n; i++) {
        char why[1024];
        diff_event(&want->evs[i], &got.evs[i], why, sizeof(why));
        same = !why[0];
    }
    arena_free(&a);
    free(clean);
    nul_quirks += same;
    return same;
}

/* Compares both readers on one input; returns false (after printing) if they differ in a way the
 * documented differences do not explain. */
static bool compare_one(const char *buf, size_t len, size_t max)
{
    struct arena a1, a2;
    struct res want, got;
    char why[1024] = "";

    arena_init(&a1, ARENA_MAX);
    arena_init(&a2, ARENA_MAX);
    ref_parse(buf, len, &a1, max, &want);
    my_parse(buf, len, &a2, max, &got);
    if (got.rc == TOCSIN_EINVAL && strstr(got.err.msg, "nesting deeper than 64")) {
        if (nesting(buf, len) <= EVENT_PARSE_MAX_NEST)
            snprintf(why, sizeof(why), "nesting error at depth %d", nesting(buf, len));
    } else if (want.rc == TOCSIN_OK && got.rc == TOCSIN_EINVAL && memchr(buf, 0, len) &&
               nul_quirk(buf, len, max, &want)) {
        /* the documented NUL difference */
    } else if (want.rc != got.rc) {
        snprintf(why, sizeof(why), "rc %d/%d (%s: %s | %s: %s)", want.rc, got.rc, want.err.field,
                 want.err.msg, got.err.field, got.err.msg);
    } else if (want.rc) {
        if (strcmp(want.err.field, got.err.field) != 0 || want.err.status != got.err.status ||
            (strcmp(want.err.field, "body") != 0 && strcmp(want.err.msg, got.err.msg) != 0))
            snprintf(why, sizeof(why), "error %s (%s) %d / %s (%s) %d", want.err.field,
                     want.err.msg, want.err.status, got.err.field, got.err.msg, got.err.status);
    } else if (want.n != got.n || want.was_array != got.was_array) {
        snprintf(why, sizeof(why), "n %zu/%zu array %d/%d", want.n, got.n, want.was_array,
                 got.was_array);
    } else {
        for (size_t i = 0; i < want.n && !why[0]; i++)
            diff_event(&want.evs[i], &got.evs[i], why, sizeof(why));
    }
    arena_free(&a1);
    arena_free(&a2);
    if (why[0]) {
        if (mismatches++ < 10) {
            print_input(buf, len);
            fprintf(stderr, "  mismatch (reference/event_parse): %s\n", why);
        }
        return false;
    }
    return true;
}

static void assert_same(const char *s)
{
    if (!compare_one(s, strlen(s), MAX_EVENTS))
        fail_msg("readers differ");
}

/* ---- random inputs ---- */

static void gen_ws(struct sb *b)
{
    static const char ws[] = " \n\t\r";

    if (rn(8) == 0)
        for (unsigned n = 1 + rn(3); n; n--)
            sb_putc(b, ws[rn(4)]);
}

static void gen_char(struct sb *b)
{
    static const char *esc[] = {"\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"};
    static const char *utf8[] = {"\xC3\xA9",     "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xDF\xBF",
                                 "\xE0\xA0\x80", "\xEF\xBF\xBF", "\xF4\x8F\xBF\xBF", "\x7F"};
    unsigned k = rn(20);

    if (k < 6) {
        sb_putc(b, (char)('a' + rn(26)));
    } else if (k < 12) {
        sb_putc(b, "a1_-. :x/$"[rn(10)]);
    } else if (k < 14) {
        sb_puts(b, esc[rn(8)]);
    } else if (k < 16) {
        unsigned cp = rn(3) == 0 ? 1 + rn(0x1F) : 0x20 + rn(0xD7DF);
        sb_printf(b, rn(2) ? "\\u%04x" : "\\u%04X", cp);
    } else if (k < 17) {
        unsigned hi = 0xD800 + rn(0x400), lo = 0xDC00 + rn(0x400);
        sb_printf(b, "\\u%04X\\u%04x", hi, lo);
    } else {
        sb_puts(b, utf8[rn(8)]);
    }
}

static void gen_string(struct sb *b, unsigned maxlen)
{
    sb_putc(b, '"');
    for (unsigned n = rn(maxlen + 1); n; n--)
        gen_char(b);
    sb_putc(b, '"');
}

static void gen_key(struct sb *b)
{
    static const char *vocab[] = {
        "\"a\"",        "\"b\"",   "\"api\"",     "\"status\"",   "\"node.id\"",
        "\"response\"", "\"x.y\"", "\"\\u0061\"", "\"\xC3\xA9\"", "\"response.status\"",
        "\"c\"",        "\"\""};

    if (rn(5) == 0) /* shared names: context overlaps properties, some keys repeat */
        sb_puts(b, vocab[rn(sizeof(vocab) / sizeof(vocab[0]))]);
    else
        gen_string(b, 12);
}

static void gen_digits(struct sb *b, unsigned n, bool lead)
{
    for (unsigned i = 0; i < n; i++)
        sb_putc(b, (char)('0' + (i == 0 && lead ? 1 + rn(9) : rn(10))));
}

static void gen_number(struct sb *b)
{
    static const char *fixed[] = {"0",
                                  "-0",
                                  "1e3",
                                  "1.5",
                                  "9007199254740993",
                                  "-1",
                                  "1E-7",
                                  "-0.0",
                                  "0.1",
                                  "1e16",
                                  "9223372036854775807",
                                  "-9223372036854775808",
                                  "1e22",
                                  "1e23",
                                  "5e-324",
                                  "1e-400",
                                  "1.7976931348623157e308",
                                  "2.2250738585072014E-308",
                                  "123456789012345678",
                                  "0e99999",
                                  "1.00000000000000000000000000001",
                                  "9007199254740992.0",
                                  "-9007199254740991.0",
                                  "4503599627370496.5",
                                  "1e+2",
                                  "1E-02",
                                  "0.000001234",
                                  "1234567.0e-3",
                                  "100e-2"};
    bool frac = rn(2), exp = rn(3) == 0;

    if (rn(4) == 0) {
        sb_puts(b, fixed[rn(sizeof(fixed) / sizeof(fixed[0]))]);
        return;
    }
    if (rn(3) == 0)
        sb_putc(b, '-');
    if (rn(4) == 0) /* integers stay within int64: at most 18 digits */
        sb_putc(b, '0');
    else
        gen_digits(b, 1 + rn(frac || exp ? (rn(8) == 0 ? 25 : 12) : 18), true);
    if (frac) {
        sb_putc(b, '.');
        gen_digits(b, 1 + rn(rn(8) == 0 ? 80 : 10), false);
    }
    if (exp) {
        sb_putc(b, "eE"[rn(2)]);
        if (rn(2))
            sb_putc(b, "+-"[rn(2)]);
        gen_digits(b, 1 + rn(2), false);
    }
}

static void gen_scalar(struct sb *b)
{
    switch (rn(6)) {
    case 0:
    case 1:
        gen_string(b, 10);
        break;
    case 2:
    case 3:
        gen_number(b);
        break;
    case 4:
        sb_puts(b, rn(2) ? "true" : "false");
        break;
    default:
        sb_puts(b, "null");
    }
}

static void gen_any(struct sb *b, int depth);

static void gen_container(struct sb *b, int depth, bool object)
{
    unsigned n = rn(5);

    sb_putc(b, object ? '{' : '[');
    for (unsigned i = 0; i < n; i++) {
        if (i)
            sb_putc(b, ',');
        gen_ws(b);
        if (object) {
            gen_key(b);
            gen_ws(b);
            sb_putc(b, ':');
            gen_ws(b);
        }
        gen_any(b, depth + 1);
        gen_ws(b);
    }
    sb_putc(b, object ? '}' : ']');
}

static void gen_any(struct sb *b, int depth)
{
    unsigned k = rn(depth > 4 ? 4 : 7);

    if (k >= 4)
        gen_container(b, depth, k == 4);
    else
        gen_scalar(b);
}

/* A properties object: nested objects up to `max_depth` flatten levels. */
static void gen_props(struct sb *b, int depth, int max_depth)
{
    unsigned n = rn(depth == 0 ? 8 : 4);

    sb_putc(b, '{');
    for (unsigned i = 0; i < n; i++) {
        unsigned k = rn(10);
        if (i)
            sb_putc(b, ',');
        gen_ws(b);
        gen_key(b);
        sb_putc(b, ':');
        gen_ws(b);
        if (k < 2 && depth < max_depth)
            gen_props(b, depth + 1, max_depth);
        else if (k < 4)
            gen_container(b, 3, false);
        else
            gen_scalar(b);
    }
    sb_putc(b, '}');
}

static void gen_context(struct sb *b)
{
    unsigned n = rn(4);

    sb_putc(b, '{');
    for (unsigned i = 0; i < n; i++) {
        if (i)
            sb_putc(b, ',');
        gen_key(b);
        sb_putc(b, ':');
        gen_scalar(b);
    }
    sb_putc(b, '}');
}

static void gen_field(struct sb *b, unsigned which)
{
    switch (which) {
    case 0:
        sb_puts(b, "\"type\":");
        sb_puts(b, rn(2) ? "\"REQUEST\"" : "\"t\\u00e9\\ud83d\\ude00\"");
        break;
    case 1:
        sb_puts(b, "\"id\":");
        if (rn(5))
            gen_string(b, 20);
        else
            sb_puts(b, "null");
        break;
    case 2:
        sb_puts(b, "\"timestamp\":");
        if (rn(4))
            sb_printf(b, "%llu", 1764000000000ull + rn(1000000));
        else
            sb_puts(b, rn(2) ? "1764000000000.75" : rn(2) ? "null" : "-1.5e3");
        break;
    case 3:
        sb_puts(b, "\"context\":");
        gen_context(b);
        break;
    case 4:
        sb_puts(b, "\"properties\":");
        gen_props(b, 0, EVENT_MAX_DEPTH);
        break;
    default: /* an unknown key, never one of the five above */
        sb_puts(b, "\"x-");
        for (unsigned n = rn(6); n; n--)
            gen_char(b);
        sb_puts(b, "\":");
        gen_any(b, 2);
    }
}

/* A valid event: "type" always, the other fields in a random order, some more than once. */
static void gen_event(struct sb *b)
{
    unsigned order[8], n = 0;

    order[n++] = 0;
    for (unsigned f = 1; f < 6; f++)
        if (rn(4))
            order[n++] = f;
    if (rn(16) == 0)
        order[n++] = rn(6); /* a repeated top-level key */
    for (unsigned i = n - 1; i > 0; i--) {
        unsigned j = rn(i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    gen_ws(b);
    sb_putc(b, '{');
    for (unsigned i = 0; i < n; i++) {
        if (i)
            sb_putc(b, ',');
        gen_ws(b);
        gen_field(b, order[i]);
        gen_ws(b);
    }
    sb_putc(b, '}');
    gen_ws(b);
}

static void gen_body(struct sb *b)
{
    if (rn(5)) {
        gen_event(b);
        return;
    }
    sb_putc(b, '[');
    for (unsigned i = 0, n = rn(5); i < n; i++) {
        if (i)
            sb_putc(b, ',');
        gen_event(b);
    }
    sb_putc(b, ']');
}

/* ---- hand-written corpus ---- */

static const char *const corpus[] = {
    "{\"id\":\"e1\",\"timestamp\":1764000000000,\"type\":\"REQUEST\",\"context\":{\"node.id\":"
    "\"n1\"},\"properties\":{\"response.response_time\":500,\"api\":\"a1\",\"response\":"
    "{\"status\":200}}}",
    "{\"type\":\"t\",\"properties\":{\"a\":{\"b\":{\"c\":{\"d\":1}},\"e\":\"x\"},\"f\":[1,"
    "{\"g\":[true,null]},\"s\\n\\u00e9\"]}}",
    "{\"context\":{\"api\":\"ctx\",\"node.id\":\"n\",\"n\":5,\"b\":true,\"z\":null},\"type\":"
    "\"t\",\"properties\":{\"api\":\"prop\",\"node\":{\"id\":\"nested\"}}}",
    "{\"type\":\"t\",\"properties\":{\"arr\":[],\"arr2\":[[],{}],\"o\":{},\"deep\":{\"e\":{}}}}",
    "{\"type\":\"t\",\"properties\":{\"u\":\"\\ud83d\\ude00 \\u20AC \\u00e9 \\u0041\","
    "\"raw\":\"\xF0\x9F\x98\x80\xE2\x82\xAC\xC3\xA9\",\"ctl\":\"\\u001f\\u0001\\b\\f\\n\\r\\t"
    "\\\"\\\\\\/\",\"a\":[\"\\u001f\\u0001\\b\\f\\n\\r\\t\\\"\\\\\\/\\u00e9\\ud83d\\ude00\"]}}",
    "{\"type\":\"t\",\"properties\":{\"n0\":0,\"n1\":-0,\"n2\":1e3,\"n3\":1.5,\"n4\":"
    "9007199254740993,\"n5\":-1,\"n6\":1E-7,\"n7\":-0.0,\"n8\":0.1,\"n9\":1e300,\"n10\":"
    "-9223372036854775808,\"n11\":9223372036854775807,\"n12\":1e-400,\"n13\":5e-324,"
    "\"n14\":123456789.123456789,\"n15\":1e16,\"n16\":2.5e-5}}",
    "{\"type\":\"t\",\"properties\":{\"a\":[-0,-0.0,1e3,1E-7,1e300,1e16,5e-324,1e22,0.1]}}",
    "{\"type\":\"t\",\"properties\":{\"a\":[0,1.5,9007199254740993,-1,1e-5,123.456e-300,1e100,"
    "-1e-100,1.7976931348623157e308,0.30000000000000004,2e-7,1e17,123456789012345680000]}}",
    "{\"type\":\"t\",\"timestamp\":1.5e12}",
    "{\"type\":\"t\",\"timestamp\":-0.0,\"id\":null}",
    "{\"type\":\"t\",\"timestamp\":null,\"properties\":null,\"context\":null}",
    "  \r\n\t{ \"type\" : \"t\" , \"properties\" : { \"a\" : [ 1 , 2 ] } }  \n",
    "[]",
    " [ ] ",
    "[{\"type\":\"a\"},{\"type\":\"b\",\"properties\":{\"x\":1}}]",
    "{\"type\":\"t\",\"unknown\":{\"x\":[1,2,{\"y\":null}],\"x\":1},\"other\":[[[[]]]]}",
    "{\"\\u0074ype\":\"escaped key\",\"propert\\u0069es\":{\"\\u0061\":1}}",
    /* repeated keys: the last value, in the first key's place */
    "{\"type\":\"a\",\"type\":\"b\",\"id\":\"x\",\"id\":null,\"timestamp\":1,\"timestamp\":2}",
    "{\"type\":\"t\",\"properties\":{\"a\":{\"b\":1},\"c\":2,\"a\":{\"d\":3}}}",
    "{\"type\":\"t\",\"properties\":{\"a\":1,\"b\":2,\"a\":3}}",
    "{\"type\":\"t\",\"properties\":{\"a\":1},\"properties\":{\"b\":2}}",
    "{\"type\":\"t\",\"context\":{\"a\":1,\"a\":2},\"properties\":{\"z\":0}}",
    "{\"type\":\"t\",\"properties\":{\"a\":[{\"x\":1,\"x\":2,\"y\":[]}]}}",
    "{\"type\":\"t\",\"properties\":{\"a\":\"1\",\"\\u0061\":\"2\"}}",
    "{\"type\":\"t\",\"properties\":{\"a.b\":1,\"a\":{\"b\":2}},\"context\":{\"a.b\":3}}",
    "{\"type\":\"t\",\"properties\":{\"long\":\"" /* a string past the arena block size */
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
    "890123456789012345678901234567890123456789012345678901234567890123456789\"}}",
};

/* ---- tests: corpus and generated events ---- */

static void test_corpus(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++)
        assert_same(corpus[i]);
}

static void test_values(void **state)
{
    struct arena a;
    struct res r;
    const char *s = corpus[5];

    (void)state;
    arena_init(&a, ARENA_MAX);
    my_parse(s, strlen(s), &a, MAX_EVENTS, &r);
    assert_int_equal(r.rc, TOCSIN_OK);
    assert_int_equal(r.n, 1);
    assert_false(r.was_array);
    assert_string_equal(event_get(&r.evs[0], "n1")->str, "0");
    assert_string_equal(event_get(&r.evs[0], "n2")->str, "1000");
    assert_string_equal(event_get(&r.evs[0], "n4")->str, "9007199254740993");
    assert_true(event_get(&r.evs[0], "n4")->num == 9007199254740992.0);
    assert_string_equal(event_get(&r.evs[0], "n6")->str, "9.9999999999999995e-08");
    assert_string_equal(event_get(&r.evs[0], "n7")->str, "-0");
    assert_true(signbit(event_get(&r.evs[0], "n7")->num));
    s = corpus[6];
    my_parse(s, strlen(s), &a, MAX_EVENTS, &r);
    assert_int_equal(r.rc, TOCSIN_OK);
    assert_string_equal(r.evs[0].props[0].v.str, /* as json_dumps prints it */
                        "[0,-0.0,1000.0,9.9999999999999995e-8,1.0000000000000001e300,"
                        "10000000000000000.0,4.9406564584124654e-324,1e22,0.10000000000000001]");
    arena_free(&a);
}

static void test_shapes_and_dups(void **state)
{
    struct arena a;
    struct res r;
    const char *s;

    (void)state;
    arena_init(&a, ARENA_MAX);
    my_parse("[]", 2, &a, MAX_EVENTS, &r);
    assert_int_equal(r.rc, TOCSIN_OK);
    assert_int_equal(r.n, 0);
    assert_null(r.evs);
    assert_true(r.was_array);
    s = "[{\"type\":\"a\"},{\"type\":\"b\",\"properties\":{\"x\":1}}]";
    my_parse(s, strlen(s), &a, MAX_EVENTS, &r);
    assert_int_equal(r.rc, TOCSIN_OK);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.evs[1].type, "b");
    s = "{\"type\":\"t\",\"properties\":{\"a\":{\"b\":1},\"c\":2,\"a\":{\"d\":3}}}";
    my_parse(s, strlen(s), &a, MAX_EVENTS, &r);
    assert_int_equal(r.rc, TOCSIN_OK);
    assert_int_equal(r.evs[0].nprops, 2);
    assert_string_equal(r.evs[0].props[0].key, "a.d");
    assert_string_equal(r.evs[0].props[1].key, "c");
    s = "{\"type\":\"a\",\"type\":\"b\",\"id\":\"x\",\"id\":null,\"timestamp\":1,"
        "\"timestamp\":2}";
    my_parse(s, strlen(s), &a, MAX_EVENTS, &r);
    assert_int_equal(r.rc, TOCSIN_OK);
    assert_string_equal(r.evs[0].type, "b");
    assert_null(r.evs[0].id);
    assert_int_equal(r.evs[0].ts_ms, 2);
    s = corpus[2]; /* context comes first but is merged after, without overriding */
    assert_non_null(strstr(s, "\"context\":{\"api\""));
    my_parse(s, strlen(s), &a, MAX_EVENTS, &r);
    assert_int_equal(r.rc, TOCSIN_OK);
    assert_string_equal(event_get(&r.evs[0], "api")->str, "prop");
    assert_string_equal(event_get(&r.evs[0], "node.id")->str, "nested");
    assert_string_equal(r.evs[0].props[r.evs[0].nprops - 1].key, "z");
    arena_free(&a);
}

static void test_random_valid(void **state)
{
    struct sb b = {0};
    int bad = 0;

    (void)state;
    rng_state = 0x5EED0001;
    for (int i = 0; i < 20000; i++) {
        struct arena a;
        struct res r;
        b.n = 0;
        gen_body(&b);
        arena_init(&a, ARENA_MAX);
        ref_parse(b.p, b.n, &a, MAX_EVENTS, &r);
        arena_free(&a);
        if (r.rc != TOCSIN_OK) {
            print_input(b.p, b.n);
            fail_msg("generated event rejected by the reference: %s %s", r.err.field, r.err.msg);
        }
        bad += !compare_one(b.p, b.n, MAX_EVENTS);
    }
    free(b.p);
    assert_int_equal(bad, 0);
}

/* ---- tests: errors ---- */

struct bad_case {
    const char *in;
    size_t len; /* 0: strlen */
    int rc;
    const char *field;
};

#define WITH_NUL(s) s, sizeof(s) - 1 /* a literal holding NUL bytes, with its real length */

#define EV(props) "{\"type\":\"t\",\"properties\":" props "}"
#define STRV(s) EV("{\"s\":\"" s "\"}")

static const struct bad_case bad_cases[] = {
    {"", 0, TOCSIN_EINVAL, "body"},
    {"   \n", 0, TOCSIN_EINVAL, "body"},
    {"5", 0, TOCSIN_EINVAL, "body"},
    {"\"str\"", 0, TOCSIN_EINVAL, "body"},
    {"null", 0, TOCSIN_EINVAL, "body"},
    {"{\"type\":\"t\"}x", 0, TOCSIN_EINVAL, "body"},
    {"{\"type\":\"t\"}{}", 0, TOCSIN_EINVAL, "body"},
    {"{\"type\":\"t\"},", 0, TOCSIN_EINVAL, "body"},
    {"\xEF\xBB\xBF{\"type\":\"t\"}", 0, TOCSIN_EINVAL, "body"},
    /* invalid UTF-8 */
    {STRV("\xC0\xAF"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\xC1\xBF"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\xE0\x80\xAF"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\xED\xA0\x80"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\xED\xBF\xBF"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\xF0\x80\x80\xAF"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\xF4\x90\x80\x80"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\xF5\x80\x80\x80"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\xFF"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\x80"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\xE2\x82"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\xC3"), 0, TOCSIN_EINVAL, "body"},
    {"{\"type\":\"\xC3\x28\"}", 0, TOCSIN_EINVAL, "body"},
    {"{\"type\":\"t\",\"\xFE\":1}", 0, TOCSIN_EINVAL, "body"},
    {"{\"type\":\"t\"}\xC3\xA9", 0, TOCSIN_EINVAL, "body"},
    /* control characters and NUL */
    {STRV("\x01"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\x1F"), 0, TOCSIN_EINVAL, "body"},
    {STRV("a\nb"), 0, TOCSIN_EINVAL, "body"},
    {STRV("a\tb"), 0, TOCSIN_EINVAL, "body"},
    {WITH_NUL("{\"type\":\"a\0b\"}"), TOCSIN_EINVAL, "body"},
    {WITH_NUL("{\"type\":\"t\"}\0"), TOCSIN_EINVAL, "body"},
    {WITH_NUL("{\"type\":\"t\",\0\"x\":1}"), TOCSIN_EINVAL, "body"},
    {WITH_NUL("\0{\"type\":\"t\"}"), TOCSIN_EINVAL, "body"},
    {WITH_NUL(EV("{\"n\":1\0}")), TOCSIN_EINVAL, "body"},    /* jansson drops that NUL */
    {WITH_NUL(EV("{\"n\":true\0}")), TOCSIN_EINVAL, "body"}, /* (see nul_quirk) */
    /* escapes */
    {STRV("\\x"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\\U0041"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\\u12"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\\u12G4"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\\u0000"), 0, TOCSIN_EINVAL, "body"},
    {"{\"type\":\"t\",\"properties\":{\"\\u0000\":1}}", 0, TOCSIN_EINVAL, "body"},
    {"{\"type\":\"t\",\"x\":\"\\u0000\"}", 0, TOCSIN_EINVAL, "body"},
    {STRV("\\ud800"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\\ud800x"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\\udc00"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\\udfff\\ud800"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\\ud800\\u0041"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\\ud800\\ud800"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\\ud800\\n"), 0, TOCSIN_EINVAL, "body"},
    {STRV("\\"), 0, TOCSIN_EINVAL, "body"},
    /* numbers */
    {EV("{\"n\":01}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":-01}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":00}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":1.}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":.5}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":1e}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":1e+}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":+1}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":-}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":--1}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":1.5.2}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":0x10}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":NaN}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":Infinity}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":-Infinity}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":1e400}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":-1e400}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":9223372036854775808}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":-9223372036854775809}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":123456789012345678901234567890}"), 0, TOCSIN_EINVAL, "body"},
    {"{\"type\":\"t\",\"x\":[99999999999999999999]}", 0, TOCSIN_EINVAL, "body"},
    {"{\"type\":\"t\",\"x\":[1e999]}", 0, TOCSIN_EINVAL, "body"},
    /* literals, structure */
    {EV("{\"n\":tru}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":True}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":nul}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":truex}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":[1,]}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":1,}"), 0, TOCSIN_EINVAL, "body"},
    {"[{\"type\":\"t\"},]", 0, TOCSIN_EINVAL, "body"},
    {"[,{\"type\":\"t\"}]", 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\" 1}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{n:1}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{'n':1}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":1 \"m\":2}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":[1 2]}"), 0, TOCSIN_EINVAL, "body"},
    {EV("{\"n\":[1}"), 0, TOCSIN_EINVAL, "body"},
    {"{\"type\":\"t\"]", 0, TOCSIN_EINVAL, "body"},
    {"{\"type\":\"t\",\"x\":{\"a\":1]}", 0, TOCSIN_EINVAL, "body"},
    /* semantic errors: the field event_from_json names */
    {"{}", 0, TOCSIN_EINVAL, "type"},
    {"{\"properties\":{}}", 0, TOCSIN_EINVAL, "type"},
    {"{\"type\":null}", 0, TOCSIN_EINVAL, "type"},
    {"{\"type\":5}", 0, TOCSIN_EINVAL, "type"},
    {"{\"type\":\"\"}", 0, TOCSIN_EINVAL, "type"},
    {"{\"type\":[\"t\"]}", 0, TOCSIN_EINVAL, "type"},
    {"{\"type\":{\"a\":1,\"a\":2}}", 0, TOCSIN_EINVAL, "type"},
    {"{\"type\":\"t\",\"type\":false}", 0, TOCSIN_EINVAL, "type"},
    {"{\"type\":\"t\",\"id\":5}", 0, TOCSIN_EINVAL, "id"},
    {"{\"type\":\"t\",\"timestamp\":\"1\"}", 0, TOCSIN_EINVAL, "timestamp"},
    {"{\"type\":\"t\",\"timestamp\":true}", 0, TOCSIN_EINVAL, "timestamp"},
    {"{\"type\":\"t\",\"timestamp\":1e300}", 0, TOCSIN_EINVAL, "timestamp"},
    {"{\"type\":\"t\",\"timestamp\":-9.3e18}", 0, TOCSIN_EINVAL, "timestamp"},
    {"{\"id\":5,\"timestamp\":\"x\"}", 0, TOCSIN_EINVAL, "type"},
    {"{\"type\":\"t\",\"properties\":[]}", 0, TOCSIN_EINVAL, "properties"},
    {"{\"type\":\"t\",\"properties\":\"x\"}", 0, TOCSIN_EINVAL, "properties"},
    {"{\"type\":\"t\",\"properties\":5}", 0, TOCSIN_EINVAL, "properties"},
    {"{\"type\":\"t\",\"properties\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{"
     "\"i\":1}}}}}}}}}}",
     0, TOCSIN_OK, NULL}, /* 8 nested objects are allowed, 9 are not */
    {"{\"type\":\"t\",\"properties\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{"
     "\"i\":{\"j\":1}}}}}}}}}}}",
     0, TOCSIN_EINVAL, "properties"},
    {"{\"type\":\"t\",\"properties\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{"
     "\"i\":{}}}}}}}}}}}",
     0, TOCSIN_EINVAL, "properties"}, /* even an empty object is too deep */
    {"{\"type\":\"t\",\"context\":[]}", 0, TOCSIN_EINVAL, "context"},
    {"{\"type\":\"t\",\"context\":\"x\"}", 0, TOCSIN_EINVAL, "context"},
    {"{\"type\":\"t\",\"context\":{\"a\":{\"b\":1}}}", 0, TOCSIN_EINVAL, "context"},
    {"{\"type\":\"t\",\"context\":{\"a\":[1]}}", 0, TOCSIN_EINVAL, "context"},
    {"{\"context\":{\"a\":[1]},\"type\":\"t\",\"properties\":[]}", 0, TOCSIN_EINVAL, "properties"},
    {"[{\"type\":\"a\"},{\"type\":\"b\"},{\"typ\":\"c\"},{\"id\":1}]", 0, TOCSIN_EINVAL,
     "[2].type"},
    {"[{\"type\":\"a\"},5,{\"id\":1}]", 0, TOCSIN_EINVAL, "[1]"},
    {"[{\"type\":\"a\"},{\"type\":\"b\",\"properties\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\""
     ":{\"g\":{\"h\":{\"i\":{}}}}}}}}}}}]",
     0, TOCSIN_EINVAL, "[1].properties"},
    {"[{\"typ\":\"a\"},{\"type\":\"b\"}", 0, TOCSIN_EINVAL, "body"},
    /* repeats that hide or cause errors */
    {"{\"type\":\"t\",\"properties\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{"
     "\"i\":{}}}}}}}}},\"a\":1}}",
     0, TOCSIN_OK, NULL},
    {"{\"type\":\"t\",\"properties\":{\"a\":1,\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{"
     "\"h\":{\"i\":{}}}}}}}}}}}",
     0, TOCSIN_EINVAL, "properties"},
    {"{\"type\":\"t\",\"properties\":[],\"properties\":{}}", 0, TOCSIN_OK, NULL},
    {"{\"type\":\"t\",\"context\":{\"a\":{}},\"context\":null}", 0, TOCSIN_OK, NULL},
    {"{\"type\":\"t\",\"context\":{\"a\":{},\"a\":1}}", 0, TOCSIN_OK, NULL},
    {"{\"type\":5,\"type\":\"t\"}", 0, TOCSIN_OK, NULL},
};

/* event_parse gives rc and field on in[0..len), and the reference agrees. */
static void check_input(const char *in, size_t len, int rc, const char *field)
{
    struct arena a;
    struct res r;

    arena_init(&a, ARENA_MAX);
    my_parse(in, len, &a, MAX_EVENTS, &r);
    if (r.rc != rc || (field && strcmp(r.err.field, field) != 0)) {
        print_input(in, len);
        fail_msg("want rc %d field %s, got rc %d field %s (%s)", rc, field ? field : "-", r.rc,
                 r.err.field, r.err.msg);
    }
    if (r.rc == TOCSIN_EINVAL)
        assert_int_equal(r.err.status, 400);
    if (r.rc == TOCSIN_EINVAL && strcmp(r.err.field, "body") == 0 &&
        strncmp(r.err.msg, "invalid JSON: ", 14) == 0)
        assert_non_null(strstr(r.err.msg, "(line "));
    arena_free(&a);
    if (!compare_one(in, len, MAX_EVENTS))
        fail_msg("reference disagrees");
}

static void check_bad(const struct bad_case *bc)
{
    check_input(bc->in, bc->len ? bc->len : strlen(bc->in), bc->rc, bc->field);
}

static void test_bad_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
        check_bad(&bad_cases[i]);
}

/* An event with n properties (and m new context keys). */
static void many_props(struct sb *b, unsigned n, unsigned m, bool ctx_dup)
{
    b->n = 0;
    sb_puts(b, "{\"type\":\"t\",\"context\":{");
    for (unsigned i = 0; i < m; i++)
        sb_printf(b, "%s\"c%u\":%u", i ? "," : "", i, i);
    if (ctx_dup)
        sb_printf(b, "%s\"nest.p0\":\"ctx\"", m ? "," : "");
    sb_puts(b, "},\"properties\":{\"nest\":{");
    for (unsigned i = 0; i < n; i++)
        sb_printf(b, "%s\"p%u\":%u", i ? "," : "", i, i);
    sb_puts(b, "}}}");
}

static void test_limits(void **state)
{
    struct sb b = {0};
    struct bad_case bc = {0};
    static const char head[] = "{\"type\":\"t\",\"properties\":{\"a\":";
    const size_t h = sizeof(head) - 1;
    char deep[20100];

    (void)state;
    bc.in = deep;
    memcpy(deep, head, h);
    /* 10,000 levels: rejected by both */
    memset(deep + h, '[', 10000);
    memset(deep + h + 10000, ']', 10000);
    memcpy(deep + h + 20000, "}}", 3);
    bc.rc = TOCSIN_EINVAL;
    bc.field = "body";
    check_bad(&bc);
    /* 64 levels in all are fine (2 objects + 62 arrays), 65 are not; jansson allows 2048, a
     * documented difference that compare_one() accepts only past 64 levels */
    memset(deep + h, '[', 62);
    memset(deep + h + 62, ']', 62);
    memcpy(deep + h + 124, "}}", 3);
    bc.rc = TOCSIN_OK;
    bc.field = NULL;
    check_bad(&bc);
    memset(deep + h, '[', 63);
    memset(deep + h + 63, ']', 63);
    memcpy(deep + h + 126, "}}", 3);
    bc.rc = TOCSIN_EINVAL;
    bc.field = "body";
    check_bad(&bc);
    /* 256 properties are fine; one more (from properties or context) is not */
    many_props(&b, 256, 0, false);
    check_input(b.p, b.n, TOCSIN_OK, NULL);
    many_props(&b, 256, 0, true); /* a context key that is already a property is skipped */
    check_input(b.p, b.n, TOCSIN_OK, NULL);
    many_props(&b, 257, 0, false);
    check_input(b.p, b.n, TOCSIN_EINVAL, "properties");
    many_props(&b, 255, 2, false);
    check_input(b.p, b.n, TOCSIN_EINVAL, "properties");
    many_props(&b, 0, 300, false);
    check_input(b.p, b.n, TOCSIN_EINVAL, "properties");
    many_props(&b, 600, 600, false);
    check_input(b.p, b.n, TOCSIN_EINVAL, "properties");
    many_props(&b, 10, 1100, false); /* more context keys than the duplicate check keeps */
    check_input(b.p, b.n, TOCSIN_EINVAL, "properties");
    /* names: 511 bytes fine, 512 not */
    b.n = 0;
    sb_puts(&b, "{\"type\":\"t\",\"properties\":{\"abc\":{\"");
    for (int i = 0; i < 507; i++)
        sb_putc(&b, 'k');
    sb_puts(&b, "\":1}}}");
    check_input(b.p, b.n, TOCSIN_OK, NULL);
    b.n -= 6;
    sb_puts(&b, "k\":1}}}");
    check_input(b.p, b.n, TOCSIN_EINVAL, "properties");
    /* type: 256 bytes fine, 257 not */
    b.n = 0;
    sb_puts(&b, "{\"type\":\"");
    for (int i = 0; i < 256; i++)
        sb_putc(&b, 't');
    sb_puts(&b, "\"}");
    check_input(b.p, b.n, TOCSIN_OK, NULL);
    b.n -= 2;
    sb_puts(&b, "\\u0074\"}");
    check_input(b.p, b.n, TOCSIN_EINVAL, "type");
    free(b.p);
}

static void test_batch_limit(void **state)
{
    static const char three[] = "[{\"type\":\"a\"},{\"type\":\"b\"},{\"typ\":\"c\"}]";
    struct arena a;
    struct res r;

    (void)state;
    arena_init(&a, ARENA_MAX);
    my_parse(three, strlen(three), &a, 2, &r);
    assert_int_equal(r.rc, TOCSIN_ETOOBIG);
    assert_int_equal(r.err.status, 413);
    assert_string_equal(r.err.field, "body");
    assert_string_equal(r.err.msg, "3 events in one batch (max 2)");
    assert_null(r.evs);
    assert_true(compare_one(three, strlen(three), 2));
    my_parse(three, strlen(three) - 1, &a, 2, &r); /* malformed JSON wins */
    assert_int_equal(r.rc, TOCSIN_EINVAL);
    assert_string_equal(r.err.field, "body");
    my_parse(three, strlen(three), &a, 3, &r); /* then the element's own error */
    assert_int_equal(r.rc, TOCSIN_EINVAL);
    assert_string_equal(r.err.field, "[2].type");
    my_parse("{\"type\":\"a\"}", 12, &a, 0, &r);
    assert_int_equal(r.rc, TOCSIN_ETOOBIG);
    arena_free(&a);
    /* an arena that refuses */
    arena_init(&a, 64);
    my_parse(corpus[0], strlen(corpus[0]), &a, 10, &r);
    assert_int_equal(r.rc, TOCSIN_ENOMEM);
    assert_int_equal(r.err.status, 503);
    assert_string_equal(r.err.msg, "out of memory");
    arena_free(&a);
}

/* Paths the corpus does not reach: array text past the inline buffer, events array growth. */
static void test_big_values(void **state)
{
    struct sb b = {0};
    struct arena a;
    struct res r;

    (void)state;
    sb_puts(&b, "{\"type\":\"t\",\"properties\":{\"arr\":[");
    for (int i = 0; i < 300; i++)
        sb_printf(&b, "%s{\"k%d\":[%d.25,\"s\\u00e9\\n%d\",-0.0,1e%d]}", i ? "," : "", i, i, i,
                  i % 300);
    sb_puts(&b, "]}}");
    assert_same(b.p);
    b.n = 0;
    sb_putc(&b, '[');
    for (int i = 0; i < 100; i++)
        sb_printf(&b, "%s{\"type\":\"t%d\",\"properties\":{\"i\":%d}}", i ? "," : "", i, i);
    sb_putc(&b, ']');
    assert_same(b.p);
    arena_init(&a, ARENA_MAX);
    my_parse(b.p, b.n, &a, MAX_EVENTS, &r);
    assert_int_equal(r.rc, TOCSIN_OK);
    assert_int_equal(r.n, 100);
    assert_string_equal(r.evs[99].type, "t99");
    arena_free(&a);
    free(b.p);
}

/* With every arena limit, the result is either the full one or TOCSIN_ENOMEM. */
static void test_arena_limits(void **state)
{
    static const char *inputs[] = {NULL,
                                   "{\"type\":\"t\",\"properties\":{\"a\":[1,2,[3,\"x\"]],"
                                   "\"a2\":\"\\u00e9\",\"n\":1.5}}",
                                   "[{\"type\":\"a\"},{\"type\":\"b\",\"context\":{\"c\":1}}]",
                                   "{\"type\":\"t\",\"properties\":{\"a\":1,\"a\":2}}"};

    (void)state;
    inputs[0] = corpus[0];
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        size_t refused = 0, done = 0; /* the sweep must see both outcomes */
        for (size_t max = 0; max <= 6000; max += 8) {
            struct arena a;
            struct res r;
            arena_init(&a, max);
            my_parse(inputs[i], strlen(inputs[i]), &a, MAX_EVENTS, &r);
            if (r.rc != TOCSIN_OK) {
                assert_int_equal(r.rc, TOCSIN_ENOMEM);
                assert_int_equal(r.err.status, 503);
                assert_string_equal(r.err.field, "");
                assert_string_equal(r.err.msg, "out of memory");
                assert_null(r.evs);
                refused++;
            } else {
                done++;
            }
            arena_free(&a);
        }
        assert_true(refused > 0 && done > 0);
    }
}

static void test_error_position(void **state)
{
    static const char in[] = "{\n  \"type\": \"t\",\n  \"x\": tru\n}";
    struct arena a;
    struct res r;

    (void)state;
    arena_init(&a, ARENA_MAX);
    my_parse(in, strlen(in), &a, MAX_EVENTS, &r);
    assert_int_equal(r.rc, TOCSIN_EINVAL);
    assert_string_equal(r.err.field, "body");
    assert_string_equal(r.err.msg, "invalid JSON: invalid literal (line 3, column 8)");
    arena_free(&a);
}

/* Every prefix of valid bodies is rejected, as jansson rejects it. */
static void test_truncations(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        size_t len = strlen(corpus[i]), end = len;
        while (end && strchr(" \r\n\t", corpus[i][end - 1]))
            end--; /* cuts in trailing white space leave a valid body */
        for (size_t cut = 0; cut < end; cut++) {
            char *copy = malloc(cut ? cut : 1); /* exact size so ASan sees any over-read */
            assert_non_null(copy);
            memcpy(copy, corpus[i], cut);
            check_input(copy, cut, TOCSIN_EINVAL, "body");
            free(copy);
        }
    }
}

/* ---- fuzzing ---- */

static void mutate(struct sb *out, const struct sb *seed, const struct sb *other)
{
    static const char *tokens[] = {"\"",        "\\",
                                   "{",         "}",
                                   "[",         "]",
                                   ",",         ":",
                                   "0",         "-",
                                   ".",         "e",
                                   "\\u",       "\\ud800",
                                   "\\udc00",   "null",
                                   "true",      "1e999",
                                   "\xC3",      "\xED\xA0\x80",
                                   "\xF4\x90",  "\x80",
                                   "\x01",      " ",
                                   "\"type\":", "\"properties\":{",
                                   "{\"a\":",   "\"a\":1,"};
    unsigned ops = rn(2) ? 1 : 1 + rn(4);

    out->n = 0;
    sb_put(out, seed->p, seed->n);
    for (unsigned k = 0; k < ops; k++) {
        size_t len = out->n, at = len ? rn((unsigned)len) : 0;
        switch (rn(10)) {
        case 7: /* a digit for a digit, a letter for a letter: often still valid */
            if (len && out->p[at] >= '0' && out->p[at] <= '9')
                out->p[at] = (char)('0' + rn(10));
            else if (len && out->p[at] >= 'a' && out->p[at] <= 'z')
                out->p[at] = (char)('a' + rn(26));
            break;
        case 8: { /* white space */
            char *rest = malloc(len - at + 1);
            memcpy(rest, out->p + at, len - at);
            out->n = at;
            sb_putc(out, " \n\t\r"[rn(4)]);
            sb_put(out, rest, len - at);
            free(rest);
            break;
        }
        case 0: /* bit flip */
            if (len)
                out->p[at] = (char)(out->p[at] ^ (1 << rn(8)));
            break;
        case 1: /* truncate */
            out->n = at;
            break;
        case 2: { /* splice: our prefix, another's suffix */
            size_t from = other->n ? rn((unsigned)other->n) : 0;
            char *tail = malloc(other->n - from + 1);
            memcpy(tail, other->p + from, other->n - from);
            out->n = at;
            sb_put(out, tail, other->n - from);
            free(tail);
            break;
        }
        case 3: { /* insert a token */
            const char *t = tokens[rn(sizeof(tokens) / sizeof(tokens[0]))];
            char *rest = malloc(len - at + 1);
            memcpy(rest, out->p + at, len - at);
            out->n = at;
            sb_puts(out, t);
            sb_put(out, rest, len - at);
            free(rest);
            break;
        }
        case 4: /* delete a few bytes */
            if (len) {
                size_t d = 1 + rn(4);
                d = d > len - at ? len - at : d;
                memmove(out->p + at, out->p + at + d, len - at - d);
                out->n -= d;
            }
            break;
        case 5: /* set a byte */
            if (len)
                out->p[at] = (char)rn(256);
            break;
        default: { /* duplicate a range */
            size_t d = rn(32);
            char *dup;
            d = d > len - at ? len - at : d;
            dup = malloc(d + 1);
            memcpy(dup, out->p + at, d);
            sb_put(out, dup, d);
            free(dup);
        }
        }
    }
}

static void test_fuzz(void **state)
{
    enum { NSEEDS = 64 };
    struct sb seeds[NSEEDS + sizeof(corpus) / sizeof(corpus[0])], m = {0};
    size_t nseeds = 0;
    int bad = 0, accepted = 0;

    (void)state;
    memset(seeds, 0, sizeof(seeds));
    rng_state = 0xF0220002;
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++)
        sb_puts(&seeds[nseeds++], corpus[i]);
    for (int i = 0; i < NSEEDS; i++)
        gen_body(&seeds[nseeds++]);
    for (int i = 0; i < 200000; i++) {
        char *exact;
        size_t s1 = rn((unsigned)nseeds), s2 = rn((unsigned)nseeds);
        mutate(&m, &seeds[s1], &seeds[s2]);
        exact = malloc(m.n ? m.n : 1); /* exact size so ASan sees any over-read */
        assert_non_null(exact);
        memcpy(exact, m.p, m.n);
        bad += !compare_one(exact, m.n, 4);
        {
            struct arena a;
            struct res r;
            arena_init(&a, ARENA_MAX);
            my_parse(exact, m.n, &a, 4, &r);
            accepted += r.rc == TOCSIN_OK;
            arena_free(&a);
        }
        free(exact);
    }
    for (size_t i = 0; i < nseeds; i++)
        free(seeds[i].p);
    free(m.p);
    print_message("fuzz: 200000 inputs, %d accepted, %d mismatches, %d explained by jansson's "
                  "NUL quirk\n",
                  accepted, bad, nul_quirks);
    assert_int_equal(bad, 0);
}

/* ---- benchmark (not a test) ---- */

static const char bench_event[] =
    "{\"id\":\"0b7f5c1e-8a4d-4f7e-9c2b-3d1e5f6a7b8c\",\"timestamp\":1764000000000,\"type\":"
    "\"REQUEST\",\"context\":{\"node.id\":\"n1\"},\"properties\":{\"response.response_time\":"
    "500,\"api\":\"a1\",\"response\":{\"status\":200}}}";

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;

    return a < b ? -1 : a > b;
}

/* One run over `iters` events, each with its own arena as compat/gravitee.c gives each frame:
 * wall and CPU nanoseconds per event. */
static void bench_run(bool jansson, int iters, double *wall, double *cpu)
{
    size_t len = strlen(bench_event);
    double w0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);

    for (int i = 0; i < iters; i++) {
        struct event *evs, one;
        struct arena a;
        size_t n;
        bool arr;
        struct verr err;
        int rc;
        arena_init(&a, 64 * 1024 + len * 8);
        if (jansson) {
            json_t *j = json_loadb(bench_event, len, JSON_DECODE_ANY, NULL);
            rc = event_from_json(j, &a, &one, &err);
            json_decref(j);
        } else {
            err.status = 0;
            rc = event_parse(bench_event, len, &a, MAX_EVENTS, &evs, &n, &arr, &err);
        }
        if (rc)
            abort();
        arena_free(&a);
    }
    *wall = (now_ns(CLOCK_MONOTONIC) - w0) / iters;
    *cpu = (now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / iters;
}

static void bench(void)
{
    for (int j = 0; j < 2; j++) {
        double wall[5], cpu[5];
        int iters = j ? 200000 : 1000000;
        for (int r = 0; r < 5; r++)
            bench_run(j == 1, iters, &wall[r], &cpu[r]);
        qsort(wall, 5, sizeof(wall[0]), cmp_double);
        qsort(cpu, 5, sizeof(cpu[0]), cmp_double);
        printf("%-26s %zu-byte event, %d events x 5 runs: median %.0f ns/event wall "
               "(%.0f..%.0f), %.0f ns/event CPU (%.0f..%.0f)\n",
               j ? "json_loadb+event_from_json" : "event_parse", strlen(bench_event), iters,
               wall[2], wall[0], wall[4], cpu[2], cpu[0], cpu[4]);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),          cmocka_unit_test(test_values),
        cmocka_unit_test(test_shapes_and_dups), cmocka_unit_test(test_random_valid),
        cmocka_unit_test(test_bad_table),       cmocka_unit_test(test_limits),
        cmocka_unit_test(test_batch_limit),     cmocka_unit_test(test_big_values),
        cmocka_unit_test(test_arena_limits),    cmocka_unit_test(test_error_position),
        cmocka_unit_test(test_truncations),     cmocka_unit_test(test_fuzz),
    };

    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        bench();
        return 0;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
