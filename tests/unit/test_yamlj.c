/* Unit tests for util/yamlj: core-schema typing of scalars, tags, nesting, errors with
 * line:column, bounded aliases (billion laughs), duplicate keys, multi-document streams, size
 * and depth limits, files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/yamlj.h"

static char err[512];

static json_t *y(const char *text)
{
    err[0] = '\0';
    return yamlj_load_string(text, strlen(text), 0, err, sizeof(err));
}

/* Parses text, compares with the expected JSON. */
static void same(const char *text, const char *expect_json)
{
    json_t *got = y(text), *want = json_loads(expect_json, JSON_DECODE_ANY, NULL);
    char *g;

    if (!got)
        fail_msg("yaml %s: %s", text, err);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        g = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
        fail_msg("yaml %s: got %s, want %s", text, g, expect_json);
    }
    json_decref(got);
    json_decref(want);
}

/* Parsing fails with a message containing `msg` (and `pos` if not NULL). */
static void fails(const char *text, const char *pos, const char *msg)
{
    json_t *got = y(text);

    if (got)
        fail_msg("yaml %s: parsed, expected an error with %s", text, msg);
    if (pos && strncmp(err, pos, strlen(pos)))
        fail_msg("yaml %s: error \"%s\" not at %s", text, err, pos);
    if (!strstr(err, msg))
        fail_msg("yaml %s: error \"%s\" lacks \"%s\"", text, err, msg);
}

static void test_scalars(void **state)
{
    (void)state;
    same("a: ~\nb: null\nc: NULL\nd:\ne: Null", "{\"a\":null,\"b\":null,\"c\":null,\"d\":null,"
                                                "\"e\":null}");
    same("[true, True, TRUE, false, FALSE, yes, no, on, off]",
         "[true,true,true,false,false,\"yes\",\"no\",\"on\",\"off\"]");
    same("[0, -12, +7, 0x1F, 0o17, 012, 9223372036854775807]",
         "[0,-12,7,31,15,12,9223372036854775807]");
    same("[1.5, -0.5, .5, 1., 1e3, 2.5E-1]", "[1.5,-0.5,0.5,1.0,1000.0,0.25]");
    same("[\"1\", '2', \"true\", 'null', \"~\", \"0x10\"]",
         "[\"1\",\"2\",\"true\",\"null\",\"~\",\"0x10\"]");
    same("[1_000, 0b101, 0X1F, 1:30, 12e, v1.2, .]",
         "[\"1_000\",\"0b101\",\"0X1F\",\"1:30\",\"12e\",\"v1.2\",\".\"]");
    same("t: |\n  line 1\n  line 2\nf: >\n  a\n  b\n", "{\"t\":\"line 1\\nline 2\\n\","
                                                       "\"f\":\"a b\\n\"}");
    same("s: \"caf\\u00e9 \\t\"", "{\"s\":\"caf\\u00e9 \\t\"}");
    same("\"\"", "\"\"");
    same("", "null");
    same("42", "42");
    fails("a: .inf", "1:4", "no JSON form");
    fails("a: [-.inf]", "1:5", "no JSON form");
    fails("a: .nan", NULL, "no JSON form");
    same("a: '.inf'", "{\"a\":\".inf\"}");
    fails("a: 9223372036854775808", "1:4", "64-bit");
    fails("a: 1e999", "1:4", "out of range");
}

static void test_tags(void **state)
{
    (void)state;
    same("[!!str 12, ! 12, !!str true, !!int \"12\", !!float 3, !!bool 'true', !!null '']",
         "[\"12\",\"12\",\"true\",12,3.0,true,null]");
    same("!!map {a: !!seq [1]}", "{\"a\":[1]}");
    fails("a: !!int abc", "1:4", "does not match its tag");
    fails("a: !foo 3", "1:4", "unsupported tag !foo");
    fails("a: !!binary aGk=", NULL, "unsupported tag");
    fails("a: !!seq {b: 1}", NULL, "unsupported tag");
}

static void test_nesting(void **state)
{
    (void)state;
    same("channels:\n  - id: a\n    type: webhook\n    config: {url: \"http://x\", "
         "headers: [{name: A, value: b}]}\nrules: []\n",
         "{\"channels\":[{\"id\":\"a\",\"type\":\"webhook\",\"config\":{\"url\":\"http://x\","
         "\"headers\":[{\"name\":\"A\",\"value\":\"b\"}]}}],\"rules\":[]}");
    same("1: a\ntrue: b\n~: c", "{\"1\":\"a\",\"true\":\"b\",\"~\":\"c\"}");
    same("- - - x\n", "[[[\"x\"]]]");
}

static void test_errors(void **state)
{
    (void)state;
    fails("a: 1\nb: [1, 2\nc: 3\n", NULL, "");
    assert_non_null(strchr(err, ':'));
    fails("a: b: c\n", "1:5", "");
    fails("a: 1\nb: 2\na: 3\n", "3:1", "duplicate key \"a\"");
    fails("x:\n  k: 1\n  k: 2\n", "3:3", "duplicate key");
    fails("a: 1\n---\nb: 2\n", "2:1", "more than one document");
    fails("? [a]\n: 1\n", NULL, "a key must be a scalar");
    fails("a: &x 1\n*x : 2\n", NULL, "alias cannot be a key");
    fails("base: &b {a: 1}\nc:\n  <<: *b\n", "3:3", "merge keys");
    fails("a: *nope\n", "1:", "no such anchor");
    fails("a: &r [1, *r]\n", NULL, "no such anchor");
    /* Not UTF-8: refused before libfyaml, which loops forever on the directive case. */
    fails("%l\x96i", "1:3", "invalid UTF-8");
    fails("a: 1\nb: \"x\xc3\"\n", "2:6", "invalid UTF-8");
    fails("# \xed\xa0\x80\n", "1:3", "invalid UTF-8"); /* a surrogate */
    same("a: \"\xc3\xa9\xf0\x9f\x98\x80\"\n", "{\"a\": \"\\u00e9\\ud83d\\ude00\"}");
    /* Named errors carry the name. */
    {
        struct yamlj_opts o = {0};
        assert_null(yamlj_load_ex("f.yml", "a: [", 4, &o, err, sizeof(err)));
        assert_int_equal(strncmp(err, "f.yml:", 6), 0);
    }
}

static void test_aliases(void **state)
{
    (void)state;
    same("base: &b {a: 1, l: [x]}\nc: *b\nd: &s str\ne: *s\n",
         "{\"base\":{\"a\":1,\"l\":[\"x\"]},\"c\":{\"a\":1,\"l\":[\"x\"]},\"d\":\"str\","
         "\"e\":\"str\"}");
    /* Copies, not shared: changing one leaves the other. */
    {
        json_t *j = y("a: &b {k: 1}\nc: *b\n");
        assert_non_null(j);
        json_object_set_new(json_object_get(j, "c"), "k", json_integer(2));
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "a"), "k")), 1);
        json_decref(j);
    }
    /* Redefinition: the latest anchor wins. */
    same("[&a 1, *a, &a 2, *a]", "[1,1,2,2]");
    /* Billion laughs: stops at the node bound without building the expansion. */
    fails("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
          "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
          "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
          "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
          "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
          "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
          "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n",
          NULL, "more than 100000 values");
    /* A lower bound through the options, and depth through aliases. */
    {
        struct yamlj_opts o = {.max_nodes = 10};
        const char *t = "a: &a [1, 2, 3, 4]\nb: *a\nc: *a\n";
        assert_null(yamlj_load_ex(NULL, t, strlen(t), &o, err, sizeof(err)));
        assert_non_null(strstr(err, "more than 10 values"));
        o = (struct yamlj_opts){.max_depth = 3};
        t = "a: &a [[1]]\nb: [*a]\n";
        assert_null(yamlj_load_ex(NULL, t, strlen(t), &o, err, sizeof(err)));
        assert_non_null(strstr(err, "deeper than 3"));
        t = "a: &a [[1]]\nb: *a\n";
        json_t *j = yamlj_load_ex(NULL, t, strlen(t), &o, err, sizeof(err));
        assert_non_null(j);
        json_decref(j);
    }
}

static void test_limits(void **state)
{
    char deep[400];
    size_t i;

    (void)state;
    for (i = 0; i < 100; i++)
        deep[i] = '[';
    deep[i] = '\0';
    fails(deep, NULL, "deeper than 64");
    assert_null(yamlj_load_string("a: 12345", 8, 4, err, sizeof(err)));
    assert_non_null(strstr(err, "larger than 4 bytes"));
}

static void line_cb(void *ud, const json_t *node, size_t depth, int line)
{
    int *lines = ud;

    if (depth == 3 && json_is_object(node))
        lines[json_integer_value(json_object_get(node, "n"))] = line;
}

static void test_lines_and_files(void **state)
{
    char dir[] = "/tmp/tocsin-yamlj-XXXXXX", path[256];
    int lines[3] = {0};
    struct yamlj_opts o = {.on_collection = line_cb, .ud = lines};
    const char *t = "rules:\n  - n: 0\n  - n: 1\n\n  - {n: 2}\n";
    json_t *j;
    FILE *f;

    (void)state;
    j = yamlj_load_ex(NULL, t, strlen(t), &o, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(lines[0], 2);
    assert_int_equal(lines[1], 3);
    assert_int_equal(lines[2], 5);
    json_decref(j);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/a.yml", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("a: [1, 2]\nb: x: y\n", f);
    fclose(f);
    assert_null(yamlj_load_file(path, 0, err, sizeof(err)));
    assert_int_equal(strncmp(err, path, strlen(path)), 0);
    assert_non_null(strstr(err, ":2:"));
    assert_null(yamlj_load_file(path, 5, err, sizeof(err)));
    assert_non_null(strstr(err, "larger than"));
    f = fopen(path, "w");
    fputs("{\"json\": [1, 2.5, null]}", f);
    fclose(f);
    j = yamlj_load_file(path, 0, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "json")), 3);
    json_decref(j);
    unlink(path);
    assert_null(yamlj_load_file(path, 0, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot open"));
    assert_null(yamlj_load_file(dir, 0, err, sizeof(err)));
    assert_non_null(strstr(err, "not a regular file"));
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),         cmocka_unit_test(test_tags),
        cmocka_unit_test(test_nesting),         cmocka_unit_test(test_errors),
        cmocka_unit_test(test_aliases),         cmocka_unit_test(test_limits),
        cmocka_unit_test(test_lines_and_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
