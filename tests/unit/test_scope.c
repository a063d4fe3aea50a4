/* Unit tests for net/scope: parsing (and its errors), Alerta's implication rules one by one,
 * DELETE_SCOPES, typed scopes, exact membership, the key type rule and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net/scope.h"
#include "util/err.h"

/* A set from a comma-separated list (fails the test on a bad scope). */
static struct scope_set set_of(const char *list)
{
    struct scope_set s;
    char buf[512], err[256], *t = buf, *comma;

    scope_set_clear(&s);
    snprintf(buf, sizeof(buf), "%s", list);
    for (; t; t = comma ? comma + 1 : NULL) {
        comma = strchr(t, ',');
        if (comma)
            *comma = '\0';
        if (scope_set_add(&s, t, err, sizeof(err)) != TOCSIN_OK)
            fail_msg("%s", err);
    }
    return s;
}

static void allows(const char *granted, const char *needed)
{
    struct scope_set g = set_of(granted);

    if (!scope_allows(&g, needed))
        fail_msg("[%s] should allow '%s'", granted, needed);
}

static void refuses(const char *granted, const char *needed)
{
    struct scope_set g = set_of(granted);

    if (scope_allows(&g, needed))
        fail_msg("[%s] should refuse '%s'", granted, needed);
}

static void test_parse_ok(void **state)
{
    static const char *const good[] = {
        "read",
        "write",
        "admin",
        "read:alerts",
        "write:alerts",
        "delete:alerts",
        "admin:alerts",
        "read:blackouts",
        "admin:heartbeats",
        "write:users",
        "admin:groups",
        "read:perms",
        "admin:customers",
        "write:keys",
        "write:webhooks",
        "read:oembed",
        "admin:management",
        "read:userinfo",
        "read:filters",
        "write:triggers",
        "write:events",
        "read:notifications",
        "read:alerts.foo",
        "write:webhooks.cloud_watch",
        "admin:alerts.X9",
    };
    struct scope_set s;
    char err[256];

    (void)state;
    scope_set_clear(&s);
    assert_true(scope_set_empty(&s));
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (scope_set_add(&s, good[i], err, sizeof(err)) != TOCSIN_OK)
            fail_msg("'%s' refused: %s", good[i], err);
        assert_true(scope_set_has(&s, good[i]));
    }
    assert_false(scope_set_empty(&s));
    /* Adding twice changes nothing. */
    {
        struct scope_set before = s;

        assert_int_equal(scope_set_add(&s, "read:alerts.foo", err, sizeof(err)), TOCSIN_OK);
        assert_memory_equal(&before, &s, sizeof(s));
    }
}

static void test_parse_errors(void **state)
{
    static const char *const bad[] = {
        "",
        "delete", /* not a bare scope in Alerta */
        "Read",   /* case matters */
        "read:",
        "read:Alerts",
        "read:alert",
        "read:nothing",
        "exec:alerts",
        ":alerts",
        "read:alerts.",
        "read:alerts.a-b",
        "read:alerts.a.b",
        "read:alerts:x",
        "read alerts",
        " read",
        "read ",
        "read:alerts.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* a 33-byte type */
    };
    struct scope_set s;
    char err[256];

    (void)state;
    scope_set_clear(&s);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (scope_set_add(&s, bad[i], err, sizeof(err)) != TOCSIN_EINVAL)
            fail_msg("'%s' accepted", bad[i]);
        {
            char want[128];

            snprintf(want, sizeof(want), "unknown scope '%s'", bad[i]);
            if (!strstr(err, want))
                fail_msg("error for '%s' does not name it: %s", bad[i], err);
        }
    }
    assert_true(scope_set_empty(&s));
    assert_int_equal(scope_set_add(&s, NULL, err, sizeof(err)), TOCSIN_EINVAL);
    /* A list stops at the first bad scope, names it and leaves the set as it was. */
    {
        const char *list[] = {"read", "write:alerts", "write:alertz", "admin"};

        s = set_of("read:keys");
        assert_int_equal(scope_set_parse_list(&s, list, 4, err, sizeof(err)), TOCSIN_EINVAL);
        assert_non_null(strstr(err, "'write:alertz'"));
        assert_true(scope_set_has(&s, "read:keys"));
        assert_false(scope_set_has(&s, "read"));
        assert_int_equal(scope_set_parse_list(&s, list, 2, err, sizeof(err)), TOCSIN_OK);
        assert_true(scope_set_has(&s, "write:alerts"));
    }
    /* Bounded: typed scopes per set. */
    {
        char name[64];

        scope_set_clear(&s);
        for (int i = 0; i < SCOPE_MAX_CUSTOM; i++) {
            snprintf(name, sizeof(name), "read:alerts.t%d", i);
            assert_int_equal(scope_set_add(&s, name, err, sizeof(err)), TOCSIN_OK);
        }
        assert_int_equal(scope_set_add(&s, "read:alerts.more", err, sizeof(err)), TOCSIN_ETOOBIG);
        assert_non_null(strstr(err, "read:alerts.more"));
        assert_int_equal(scope_set_add(&s, "read:alerts", err, sizeof(err)), TOCSIN_OK);
    }
}

static void test_parse_json(void **state)
{
    struct scope_set s;
    char err[256];
    json_t *j;

    (void)state;
    scope_set_clear(&s);
    j = json_loads("[\"read\",\"write:alerts\"]", 0, NULL);
    assert_int_equal(scope_set_parse_json(&s, j, err, sizeof(err)), TOCSIN_OK);
    json_decref(j);
    assert_true(scope_set_has(&s, "read"));
    assert_true(scope_set_has(&s, "write:alerts"));
    j = json_loads("[\"read\",7]", 0, NULL);
    assert_int_equal(scope_set_parse_json(&s, j, err, sizeof(err)), TOCSIN_EINVAL);
    assert_string_equal(err, "scopes must be a list of strings");
    json_decref(j);
    j = json_loads("\"read\"", JSON_DECODE_ANY, NULL);
    assert_int_equal(scope_set_parse_json(&s, j, err, sizeof(err)), TOCSIN_EINVAL);
    json_decref(j);
    j = json_loads("[\"read\",\"root\"]", 0, NULL);
    assert_int_equal(scope_set_parse_json(&s, j, err, sizeof(err)), TOCSIN_EINVAL);
    assert_non_null(strstr(err, "'root'"));
    json_decref(j);
}

/* admin:x => write:x => read:x, per resource, and nothing across resources. */
static void test_resource_chain(void **state)
{
    (void)state;
    allows("read:alerts", "read:alerts");
    refuses("read:alerts", "write:alerts");
    refuses("read:alerts", "admin:alerts");
    refuses("read:alerts", "delete:alerts");

    allows("write:alerts", "read:alerts");
    allows("write:alerts", "write:alerts");
    refuses("write:alerts", "admin:alerts");

    allows("admin:alerts", "read:alerts");
    allows("admin:alerts", "write:alerts");
    allows("admin:alerts", "admin:alerts");

    refuses("admin:alerts", "read:blackouts");
    refuses("admin:alerts", "read");
    refuses("admin:keys", "write:alerts");
    allows("admin:keys", "read:keys");
    allows("write:heartbeats", "read:heartbeats");
    refuses("read:heartbeats,read:blackouts", "write:heartbeats");
}

/* A bare verb grants it (and what it implies) on every resource; resource scopes never grant a
 * bare one. */
static void test_bare_verbs(void **state)
{
    (void)state;
    allows("read", "read:alerts");
    allows("read", "read:management");
    allows("read", "read");
    refuses("read", "write:alerts");
    refuses("read", "write");

    allows("write", "write:alerts");
    allows("write", "read:alerts");
    allows("write", "read");
    allows("write", "write:keys");
    refuses("write", "admin:alerts");
    refuses("write", "admin");

    allows("admin", "admin:management");
    allows("admin", "write:alerts");
    allows("admin", "read:alerts");
    allows("admin", "read");
    allows("admin", "write");
    allows("admin", "delete:alerts");

    refuses("read:alerts,read:blackouts", "read");
    refuses("admin:alerts", "admin");
}

/* delete:x: write:x suffices unless x is listed in DELETE_SCOPES, then admin:x. */
static void test_delete(void **state)
{
    struct scope_set admin_deletes = set_of("delete:alerts"), g;

    (void)state;
    allows("delete:alerts", "delete:alerts");
    allows("write:alerts", "delete:alerts");
    allows("admin:alerts", "delete:alerts");
    allows("write", "delete:alerts");
    refuses("read:alerts", "delete:alerts");
    refuses("write:blackouts", "delete:alerts");
    refuses("delete:alerts", "write:alerts");
    refuses("delete:alerts", "read:alerts"); /* Alerta: delete implies nothing */

    g = set_of("write:alerts");
    assert_false(scope_allows_ex(&g, "delete:alerts", &admin_deletes));
    assert_false(scope_allows_ex(&g, "delete:blackouts", &admin_deletes));
    g = set_of("write:blackouts");
    assert_true(scope_allows_ex(&g, "delete:blackouts", &admin_deletes));
    g = set_of("write");
    assert_false(scope_allows_ex(&g, "delete:alerts", &admin_deletes));
    g = set_of("admin:alerts");
    assert_true(scope_allows_ex(&g, "delete:alerts", &admin_deletes));
    g = set_of("admin");
    assert_true(scope_allows_ex(&g, "delete:alerts", &admin_deletes));
    g = set_of("delete:alerts");
    assert_true(scope_allows_ex(&g, "delete:alerts", &admin_deletes));
}

/* verb:x.type is its own scope: only the same type (or a stronger verb on it, or a bare verb)
 * grants it. */
static void test_typed(void **state)
{
    (void)state;
    allows("read:alerts.foo", "read:alerts.foo");
    allows("write:alerts.foo", "read:alerts.foo");
    allows("admin:alerts.foo", "write:alerts.foo");
    allows("write", "write:alerts.foo");
    allows("admin", "admin:alerts.foo");
    refuses("admin:alerts", "read:alerts.foo");
    refuses("read:alerts.foo", "read:alerts");
    refuses("read:alerts.foo", "read:alerts.bar");
    refuses("write:alerts.foo", "write:blackouts.foo");
    allows("write:webhooks.cloud_watch", "delete:webhooks.cloud_watch");
}

static void test_needed_edge_cases(void **state)
{
    struct scope_set none;

    (void)state;
    scope_set_clear(&none);
    /* Alerta: no wanted scope is always in scope. */
    assert_true(scope_allows(&none, NULL));
    assert_true(scope_allows(&none, ""));
    assert_true(scope_allows(NULL, NULL));
    refuses("admin", "nonsense");
    refuses("admin", "read:nothing");
    assert_false(scope_allows(NULL, "read"));
    assert_false(scope_allows(&none, "read:alerts"));
}

static void test_exact_and_type(void **state)
{
    struct scope_set s = set_of("admin:keys,read");

    (void)state;
    /* Exact membership is not implication (Alerta's `'admin:keys' in g.scopes`). */
    assert_true(scope_set_has(&s, "admin:keys"));
    assert_false(scope_set_has(&s, "write:keys"));
    assert_false(scope_set_has(&s, "read:alerts"));
    assert_false(scope_set_has(&s, "garbage"));
    assert_false(scope_set_is_admin(&s));
    assert_true(scope_set_is_admin(&(struct scope_set){.bare = 1 << SCOPE_ADMIN}));
    /* The key type: read-write if any write or admin scope. */
    assert_true(scope_set_is_read_write(&s));
    s = set_of("read,read:alerts,delete:alerts");
    assert_false(scope_set_is_read_write(&s));
    s = set_of("read:alerts.x,write:alerts.y");
    assert_true(scope_set_is_read_write(&s));
    s = set_of("write");
    assert_true(scope_set_is_read_write(&s));
    scope_set_clear(&s);
    assert_false(scope_set_is_read_write(&s));
}

static void test_format_and_within(void **state)
{
    struct scope_set s = set_of("read:alerts.x,admin:keys,write,read,delete:alerts,read:alerts");
    struct scope_set have = set_of("write:alerts,read"), want;
    char out[256], small[12], denied[64];
    json_t *j;
    char *text;

    (void)state;
    assert_int_equal(scope_set_format(&s, ",", out, sizeof(out)),
                     strlen("read,write,read:alerts,delete:alerts,admin:keys,read:alerts.x"));
    assert_string_equal(out, "read,write,read:alerts,delete:alerts,admin:keys,read:alerts.x");
    /* Truncated output stays terminated; the return value is the full length. */
    assert_int_equal(scope_set_format(&s, ",", small, sizeof(small)), strlen(out));
    assert_string_equal(small, "read,write,");
    j = scope_set_to_json(&s);
    text = json_dumps(j, JSON_COMPACT);
    assert_string_equal(
        text,
        "[\"read\",\"write\",\"read:alerts\",\"delete:alerts\",\"admin:keys\",\"read:alerts.x\"]");
    free(text);
    /* Round trip through JSON. */
    scope_set_clear(&want);
    assert_int_equal(scope_set_parse_json(&want, j, NULL, 0), TOCSIN_OK);
    assert_memory_equal(&want, &s, sizeof(s));
    json_decref(j);
    /* A key's scopes must lie within its creator's. */
    want = set_of("read:alerts,write:alerts,delete:alerts,read:keys");
    assert_true(scope_set_within(&want, &have, NULL, denied, sizeof(denied)));
    want = set_of("read,admin:alerts");
    assert_false(scope_set_within(&want, &have, NULL, denied, sizeof(denied)));
    assert_string_equal(denied, "admin:alerts");
    want = set_of("delete:alerts");
    have = set_of("delete:alerts");
    assert_true(scope_set_within(&want, &have, NULL, NULL, 0));
    /* Union. */
    want = set_of("read:alerts.a");
    scope_set_union(&want, &s);
    assert_true(scope_set_has(&want, "admin:keys"));
    assert_true(scope_set_has(&want, "read:alerts.a"));
    assert_true(scope_set_has(&want, "read:alerts.x"));
    assert_string_equal(scope_verb_name(SCOPE_DELETE), "delete");
    assert_string_equal(scope_res_name(SCOPE_NOTIFICATIONS), "notifications");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),       cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_json),     cmocka_unit_test(test_resource_chain),
        cmocka_unit_test(test_bare_verbs),     cmocka_unit_test(test_delete),
        cmocka_unit_test(test_typed),          cmocka_unit_test(test_needed_edge_cases),
        cmocka_unit_test(test_exact_and_type), cmocka_unit_test(test_format_and_within),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
