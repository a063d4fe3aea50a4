/* Tests for core/event: event_from_json (AE's {id, timestamp, type, context, properties}),
 * flattening of nested properties into dotted keys, context copied into properties,
 * value kinds, and the errors naming their field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/err.h"

/* ---- helpers ---- */

struct fx {
    struct arena a;
    struct event ev;
    struct verr err;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    arena_init(&f->a, 1 << 20);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    arena_free(&f->a);
    free(f);
    return 0;
}

/* Parses `text` (JSON) into f->ev; returns event_from_json's code. */
static int parse(struct fx *f, const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    int rc;

    if (!j)
        fail_msg("bad test JSON: %s (%s)", je.text, text);
    memset(&f->err, 0, sizeof(f->err));
    rc = event_from_json(j, &f->a, &f->ev, &f->err);
    json_decref(j);
    return rc;
}

static const struct value *get(const struct fx *f, const char *key)
{
    return event_get(&f->ev, key);
}

static void assert_str_prop(const struct fx *f, const char *key, const char *want)
{
    const struct value *v = get(f, key);

    if (!v)
        fail_msg("property '%s' missing", key);
    assert_int_equal(v->type, VAL_STR);
    assert_string_equal(v->str, want);
    assert_int_equal(v->slen, strlen(want));
}

static void assert_num_prop(const struct fx *f, const char *key, double want, const char *text)
{
    const struct value *v = get(f, key);
    double d = 0;

    if (!v)
        fail_msg("property '%s' missing", key);
    assert_int_equal(v->type, VAL_NUM);
    assert_true(v->num == want);
    assert_string_equal(v->str, text);
    assert_true(value_as_number(v, &d));
    assert_true(d == want);
}

/* ---- header fields ---- */

static void test_minimal(void **state)
{
    struct fx *f = *state;

    assert_int_equal(parse(f, "{\"type\":\"REQUEST\"}"), TOCSIN_OK);
    assert_string_equal(f->ev.type, "REQUEST");
    assert_null(f->ev.id);
    assert_int_equal(f->ev.ts_ms, 0);
    assert_int_equal(f->ev.nprops, 0);
    assert_null(get(f, "anything"));
}

static void test_header_fields(void **state)
{
    struct fx *f = *state;

    assert_int_equal(parse(f, "{\"id\":\"e-1\",\"timestamp\":1700000000123,\"type\":\"REQUEST\","
                              "\"properties\":{}}"),
                     TOCSIN_OK);
    assert_string_equal(f->ev.id, "e-1");
    assert_int_equal(f->ev.ts_ms, 1700000000123LL);
    assert_int_equal(f->ev.nprops, 0);
}

static void test_timestamp_types(void **state)
{
    struct fx *f = *state;

    /* An integral real is accepted and truncated to ms. */
    assert_int_equal(parse(f, "{\"type\":\"T\",\"timestamp\":1700000000123.0}"), TOCSIN_OK);
    assert_int_equal(f->ev.ts_ms, 1700000000123LL);
    assert_int_equal(parse(f, "{\"type\":\"T\",\"timestamp\":1500.9}"), TOCSIN_OK);
    assert_int_equal(f->ev.ts_ms, 1500);
    /* null = absent */
    assert_int_equal(parse(f, "{\"type\":\"T\",\"timestamp\":null}"), TOCSIN_OK);
    assert_int_equal(f->ev.ts_ms, 0);
    /* strings, booleans, objects are refused, naming the field */
    assert_int_equal(parse(f, "{\"type\":\"T\",\"timestamp\":\"1700000000123\"}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "timestamp");
    assert_int_equal(f->err.status, 400);
    assert_int_equal(parse(f, "{\"type\":\"T\",\"timestamp\":true}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "timestamp");
    assert_int_equal(parse(f, "{\"type\":\"T\",\"timestamp\":{}}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "timestamp");
    /* reals outside the int64 range cannot be converted: refused, not undefined behaviour */
    assert_int_equal(parse(f, "{\"type\":\"T\",\"timestamp\":1e300}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "timestamp");
    assert_int_equal(parse(f, "{\"type\":\"T\",\"timestamp\":-1e19}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "timestamp");
    assert_int_equal(parse(f, "{\"type\":\"T\",\"timestamp\":-5.0}"), TOCSIN_OK);
    assert_int_equal(f->ev.ts_ms, -5);
}

static void test_type_errors(void **state)
{
    struct fx *f = *state;
    char big[400];

    assert_int_equal(parse(f, "{\"properties\":{\"a\":1}}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "type");
    assert_true(strlen(f->err.msg) > 0);
    assert_int_equal(parse(f, "{\"type\":null}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "type");
    assert_int_equal(parse(f, "{\"type\":42}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "type");
    assert_int_equal(parse(f, "{\"type\":\"\"}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "type");
    assert_int_equal(parse(f, "{\"type\":[\"REQUEST\"]}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "type");

    snprintf(big, sizeof(big), "{\"type\":\"%0300d\"}", 7);
    assert_int_equal(parse(f, big), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "type");
}

static void test_id_error(void **state)
{
    struct fx *f = *state;

    assert_int_equal(parse(f, "{\"type\":\"T\",\"id\":12}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "id");
}

static void test_not_an_object(void **state)
{
    struct fx *f = *state;
    json_t *arr = json_array();

    memset(&f->err, 0, sizeof(f->err));
    assert_int_equal(event_from_json(arr, &f->a, &f->ev, &f->err), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "");
    json_decref(arr);
}

/* ---- properties ---- */

static void test_flat_properties(void **state)
{
    struct fx *f = *state;

    assert_int_equal(parse(f, "{\"type\":\"REQUEST\",\"properties\":{"
                              "\"response.status\":500,\"api\":\"a1\"}}"),
                     TOCSIN_OK);
    assert_int_equal(f->ev.nprops, 2);
    assert_num_prop(f, "response.status", 500, "500");
    assert_str_prop(f, "api", "a1");
}

static void test_nested_properties(void **state)
{
    struct fx *f = *state;

    assert_int_equal(parse(f, "{\"type\":\"REQUEST\",\"properties\":{"
                              "\"response\":{\"response_time\":500,\"status\":200,"
                              "\"headers\":{\"ct\":\"json\"}},"
                              "\"node\":{\"hostname\":\"h1\"},\"api\":\"x\",\"empty\":{}}}"),
                     TOCSIN_OK);
    assert_int_equal(f->ev.nprops, 5);
    assert_num_prop(f, "response.response_time", 500, "500");
    assert_num_prop(f, "response.status", 200, "200");
    assert_str_prop(f, "response.headers.ct", "json");
    assert_str_prop(f, "node.hostname", "h1");
    assert_str_prop(f, "api", "x");
    /* Intermediate objects are not properties themselves; empty objects produce none. */
    assert_null(get(f, "response"));
    assert_null(get(f, "response.headers"));
    assert_null(get(f, "empty"));
}

static void test_value_kinds(void **state)
{
    struct fx *f = *state;
    const struct value *v;
    double d = -1;

    assert_int_equal(parse(f, "{\"type\":\"T\",\"properties\":{"
                              "\"i\":-42,\"r\":1.5,\"ri\":3.0,\"t\":true,\"f\":false,\"n\":null,"
                              "\"arr\":[1,\"a\",{\"k\":2}],\"s\":\"12.5\",\"e\":\"\","
                              "\"word\":\"12x\",\"big\":1e300}}"),
                     TOCSIN_OK);
    assert_num_prop(f, "i", -42, "-42");
    assert_num_prop(f, "r", 1.5, "1.5");
    assert_num_prop(f, "ri", 3, "3");

    v = get(f, "t");
    assert_non_null(v);
    assert_int_equal(v->type, VAL_BOOL);
    assert_string_equal(v->str, "true");
    assert_true(value_as_number(v, &d));
    assert_true(d == 1);
    v = get(f, "f");
    assert_non_null(v);
    assert_int_equal(v->type, VAL_BOOL);
    assert_string_equal(v->str, "false");
    assert_true(value_as_number(v, &d));
    assert_true(d == 0);

    v = get(f, "n");
    assert_non_null(v);
    assert_int_equal(v->type, VAL_NULL);
    assert_string_equal(v->str, "");
    assert_false(value_as_number(v, &d));

    /* Arrays are kept as their compact JSON text, and never read as numbers. */
    assert_str_prop(f, "arr", "[1,\"a\",{\"k\":2}]");
    assert_false(value_as_number(get(f, "arr"), &d));

    /* Numeric strings read as numbers; others do not. */
    assert_true(value_as_number(get(f, "s"), &d));
    assert_true(d == 12.5);
    assert_false(value_as_number(get(f, "e"), &d));
    assert_false(value_as_number(get(f, "word"), &d));
    assert_false(value_as_number(NULL, &d));

    v = get(f, "big");
    assert_non_null(v);
    assert_int_equal(v->type, VAL_NUM);
    assert_true(v->num == 1e300);
    assert_true(strtod(v->str, NULL) == 1e300);
}

static void test_props_json(void **state)
{
    struct fx *f = *state;
    json_t *o;
    char *s;

    assert_int_equal(parse(f, "{\"type\":\"T\",\"properties\":{\"a\":{\"b\":1},\"r\":2.5,"
                              "\"t\":true,\"n\":null,\"s\":\"x\"}}"),
                     TOCSIN_OK);
    o = event_props_json(&f->ev);
    assert_non_null(o);
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"a.b\":1,\"n\":null,\"r\":2.5,\"s\":\"x\",\"t\":true}");
    free(s);
    json_decref(o);
}

/* ---- context ---- */

static void test_context_copied(void **state)
{
    struct fx *f = *state;

    assert_int_equal(parse(f, "{\"type\":\"T\",\"context\":{\"node.id\":\"n1\","
                              "\"node.hostname\":\"host-a\",\"installation\":\"i1\"},"
                              "\"properties\":{\"api\":\"a\"}}"),
                     TOCSIN_OK);
    assert_int_equal(f->ev.nprops, 4);
    assert_str_prop(f, "node.id", "n1");
    assert_str_prop(f, "node.hostname", "host-a");
    assert_str_prop(f, "installation", "i1");
    assert_str_prop(f, "api", "a");
}

static void test_context_does_not_override(void **state)
{
    struct fx *f = *state;

    /* The property wins, whether given flat or nested. */
    assert_int_equal(parse(f, "{\"type\":\"T\",\"context\":{\"node.hostname\":\"ctx\","
                              "\"tenant\":\"t1\",\"api\":\"ctx-api\"},"
                              "\"properties\":{\"node\":{\"hostname\":\"prop\"},\"api\":\"p\"}}"),
                     TOCSIN_OK);
    assert_int_equal(f->ev.nprops, 3);
    assert_str_prop(f, "node.hostname", "prop");
    assert_str_prop(f, "api", "p");
    assert_str_prop(f, "tenant", "t1");
}

static void test_context_without_properties(void **state)
{
    struct fx *f = *state;

    assert_int_equal(parse(f, "{\"type\":\"T\",\"context\":{\"tenant\":\"t1\",\"n\":3}}"),
                     TOCSIN_OK);
    assert_int_equal(f->ev.nprops, 2);
    assert_str_prop(f, "tenant", "t1");
    assert_num_prop(f, "n", 3, "3");
}

static void test_context_errors(void **state)
{
    struct fx *f = *state;

    assert_int_equal(parse(f, "{\"type\":\"T\",\"context\":[\"a\"]}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "context");
    assert_int_equal(parse(f, "{\"type\":\"T\",\"context\":{\"a\":{\"b\":1}}}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "context");
    assert_int_equal(parse(f, "{\"type\":\"T\",\"context\":null}"), TOCSIN_OK);
}

/* ---- errors in properties ---- */

static void test_properties_not_object(void **state)
{
    struct fx *f = *state;

    assert_int_equal(parse(f, "{\"type\":\"T\",\"properties\":[1,2]}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "properties");
    assert_int_equal(parse(f, "{\"type\":\"T\",\"properties\":\"a=b\"}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "properties");
    assert_int_equal(parse(f, "{\"type\":\"T\",\"properties\":5}"), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "properties");
    assert_int_equal(parse(f, "{\"type\":\"T\",\"properties\":null}"), TOCSIN_OK);
    assert_int_equal(f->ev.nprops, 0);
}

/* Builds {"type":"T","properties":{ n flat keys }, "context": {c keys}}. */
static char *many_props(int n, int nested_every, int nctx)
{
    struct buf b;

    buf_init(&b, 1 << 20);
    buf_puts(&b, "{\"type\":\"T\",\"properties\":{");
    for (int i = 0; i < n; i++) {
        if (nested_every && i % nested_every == 0)
            buf_printf(&b, "%s\"g%d\":{\"k\":%d}", i ? "," : "", i, i);
        else
            buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    }
    buf_puts(&b, "},\"context\":{");
    for (int i = 0; i < nctx; i++)
        buf_printf(&b, "%s\"c%d\":\"v\"", i ? "," : "", i);
    buf_puts(&b, "}}");
    return buf_steal(&b);
}

static void test_too_many_properties(void **state)
{
    struct fx *f = *state;
    char *s;

    s = many_props(EVENT_MAX_PROPS, 0, 0);
    assert_int_equal(parse(f, s), TOCSIN_OK);
    assert_int_equal(f->ev.nprops, EVENT_MAX_PROPS);
    free(s);

    s = many_props(EVENT_MAX_PROPS + 1, 0, 0);
    assert_int_equal(parse(f, s), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "properties");
    free(s);

    /* Leaves of nested objects count too. */
    s = many_props(EVENT_MAX_PROPS + 1, 3, 0);
    assert_int_equal(parse(f, s), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "properties");
    free(s);

    /* Context entries copied in count as well. */
    s = many_props(EVENT_MAX_PROPS - 1, 0, 2);
    assert_int_equal(parse(f, s), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "properties");
    free(s);
    s = many_props(EVENT_MAX_PROPS - 2, 0, 2);
    assert_int_equal(parse(f, s), TOCSIN_OK);
    assert_int_equal(f->ev.nprops, EVENT_MAX_PROPS);
    free(s);
}

/* properties nested `levels` objects deep: {"properties":{"a":{"a":...{"a":1}}}}. */
static char *nested(int levels)
{
    struct buf b;

    buf_init(&b, 1 << 16);
    buf_puts(&b, "{\"type\":\"T\",\"properties\":");
    for (int i = 0; i < levels; i++)
        buf_puts(&b, "{\"a\":");
    buf_puts(&b, "1");
    for (int i = 0; i < levels; i++)
        buf_putc(&b, '}');
    buf_putc(&b, '}');
    return buf_steal(&b);
}

static void test_too_deep(void **state)
{
    struct fx *f = *state;
    char *s;
    char key[64];
    size_t kl = 0;

    /* The properties object plus EVENT_MAX_DEPTH nested objects are fine... */
    s = nested(EVENT_MAX_DEPTH + 1);
    assert_int_equal(parse(f, s), TOCSIN_OK);
    free(s);
    key[kl++] = 'a';
    for (int i = 0; i < EVENT_MAX_DEPTH; i++) {
        key[kl++] = '.';
        key[kl++] = 'a';
    }
    key[kl] = '\0';
    assert_num_prop(f, key, 1, "1");

    /* ...one more is refused, and so is anything far deeper. */
    s = nested(EVENT_MAX_DEPTH + 2);
    assert_int_equal(parse(f, s), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "properties");
    free(s);
    s = nested(200);
    assert_int_equal(parse(f, s), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "properties");
    free(s);
}

static void test_long_key(void **state)
{
    struct fx *f = *state;
    struct buf b;
    char *s;

    buf_init(&b, 1 << 16);
    buf_puts(&b, "{\"type\":\"T\",\"properties\":{\"");
    for (int i = 0; i < 600; i++)
        buf_putc(&b, 'k');
    buf_puts(&b, "\":1}}");
    s = buf_steal(&b);
    assert_int_equal(parse(f, s), TOCSIN_EINVAL);
    assert_string_equal(f->err.field, "properties");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_minimal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamp_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_an_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flat_properties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_properties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_props_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_copied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_does_not_override, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_without_properties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_properties_not_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_properties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_deep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_key, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
