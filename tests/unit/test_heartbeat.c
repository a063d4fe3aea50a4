/* Tests for core/heartbeat: Alerta's heartbeat model on an injected clock (parse, upsert by
 * origin and customer, ok/slow/expired at their boundaries), tocsin's expiry timer raising a
 * HeartbeatFail alert and the return resolving it, the healthcheck, lists, the stored form and
 * the table bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/heartbeat.h"
#include "util/err.h"

#define T0 1700000000000LL /* 2023-11-14T22:13:20.000Z */

/* ---- helpers ---- */

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);

    if (!j)
        fail_msg("bad test JSON: %s (%s)", je.text, text);
    return j;
}

static struct heartbeat *parse_ok(const struct heartbeat_config *cfg, const char *text, int64_t now)
{
    json_t *j = load(text);
    struct heartbeat *hb = NULL;
    struct verr err;

    memset(&err, 0, sizeof(err));
    if (heartbeat_parse(j, cfg, now, &hb, &err) != TOCSIN_OK)
        fail_msg("parse failed: %s: %s (%s)", err.field, err.msg, text);
    json_decref(j);
    return hb;
}

static void parse_err(const char *text, const char *field, const char *msg)
{
    struct heartbeat_config cfg;
    json_t *j = load(text);
    struct heartbeat *hb = NULL;
    struct verr err;

    heartbeat_config_default(&cfg);
    memset(&err, 0, sizeof(err));
    if (heartbeat_parse(j, &cfg, T0, &hb, &err) != TOCSIN_EINVAL)
        fail_msg("expected an error on '%s' for %s", field, text);
    if (strcmp(err.field, field) != 0)
        fail_msg("error on '%s' (%s), expected '%s', for %s", err.field, err.msg, field, text);
    if (msg && strcmp(err.msg, msg) != 0)
        fail_msg("message '%s', expected '%s', for %s", err.msg, msg, text);
    assert_int_equal(err.status, 400);
    assert_null(hb);
    json_decref(j);
}

/* What the expiry callback saw. */
struct seen {
    int calls;
    struct heartbeat *last;
    int64_t deadline;
    bool delete_it;
    struct heartbeat_table *table;
};

static void on_expired(void *ud, struct heartbeat *hb, int64_t deadline)
{
    struct seen *s = ud;

    s->calls++;
    s->last = hb;
    s->deadline = deadline;
    assert_true(hb->raised);
    if (s->delete_it)
        assert_int_equal(heartbeat_table_delete(s->table, hb->id, NULL), TOCSIN_OK);
}

struct fixture {
    struct heartbeat_config cfg;
    struct timer_wheel *wheel;
    struct heartbeat_table *t;
    struct seen seen;
};

static void setup_fx(struct fixture *fx, const struct heartbeat_config *cfg)
{
    memset(fx, 0, sizeof(*fx));
    if (cfg)
        fx->cfg = *cfg;
    else
        heartbeat_config_default(&fx->cfg);
    fx->wheel = timer_wheel_new(T0);
    assert_non_null(fx->wheel);
    fx->t = heartbeat_table_new(&fx->cfg, fx->wheel, on_expired, &fx->seen);
    assert_non_null(fx->t);
    fx->seen.table = fx->t;
}

static void teardown_fx(struct fixture *fx)
{
    heartbeat_table_free(fx->t);
    timer_wheel_free(fx->wheel);
}

/* Parses and upserts; returns the stored record. */
static struct heartbeat *put(struct fixture *fx, const char *text, int64_t now, const char *id,
                             struct heartbeat_upsert *res)
{
    struct heartbeat_upsert r;
    struct verr err;

    memset(&err, 0, sizeof(err));
    if (!res)
        res = &r;
    if (heartbeat_table_upsert(fx->t, parse_ok(&fx->cfg, text, now), id, res, &err))
        fail_msg("upsert failed: %s: %s (%s)", err.field, err.msg, text);
    return res->hb;
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);

    assert_non_null(s);
    return s;
}

static const char *attr(const struct alert_in *in, const char *k)
{
    for (uint32_t i = 0; i < in->attributes.n; i++)
        if (!strcmp(in->attributes.v[i].k, k))
            return in->attributes.v[i].v;
    return NULL;
}

/* ---- parsing ---- */

static void test_parse_defaults(void **state)
{
    struct heartbeat_config cfg;
    struct heartbeat *hb;

    (void)state;
    heartbeat_config_default(&cfg);
    assert_int_equal(cfg.timeout_s, 86400);
    assert_int_equal(cfg.max_latency_ms, 2000);
    hb = parse_ok(&cfg, "{\"origin\":\"cron/host1\",\"tags\":[\"a\",\"b\"]}", T0);
    assert_string_equal(hb->origin, "cron/host1");
    assert_int_equal(hb->ntags, 2);
    assert_string_equal(hb->tags[1], "b");
    assert_int_equal(hb->timeout_s, 86400);
    assert_int_equal(hb->create_ms, T0);
    assert_int_equal(hb->receive_ms, T0);
    assert_int_equal(json_object_size(hb->attributes), 0);
    assert_null(hb->customer);
    assert_null(hb->id);
    heartbeat_free(hb);

    /* origin absent, null or "": the server's default (Alerta: `origin or default`) */
    hb = parse_ok(&cfg, "{}", T0);
    assert_string_equal(hb->origin, "tocsin");
    heartbeat_free(hb);
    hb = parse_ok(&cfg, "{\"origin\":\"\",\"timeout\":null,\"createTime\":null}", T0);
    assert_string_equal(hb->origin, "tocsin");
    assert_int_equal(hb->timeout_s, 86400);
    assert_int_equal(hb->create_ms, T0);
    heartbeat_free(hb);

    hb = parse_ok(&cfg,
                  "{\"origin\":\"x\",\"timeout\":0,\"createTime\":\"2023-11-14T22:13:18.500Z\","
                  "\"customer\":\"acme\",\"id\":\"given\",\"type\":\"ignored\",\"unknown\":1,"
                  "\"attributes\":{\"environment\":\"Production\",\"n\":[1,{\"x\":null}]}}",
                  T0);
    assert_int_equal(hb->timeout_s, 0);
    assert_int_equal(hb->create_ms, T0 - 1500);
    assert_int_equal(heartbeat_latency_ms(hb), 1500);
    assert_string_equal(hb->customer, "acme");
    assert_string_equal(hb->id, "given");
    assert_string_equal(json_string_value(json_object_get(hb->attributes, "environment")),
                        "Production");
    heartbeat_free(hb);
    heartbeat_free(NULL);
}

static void test_parse_errors(void **state)
{
    (void)state;
    parse_err("[]", "body", NULL);
    parse_err("{\"origin\":5}", "origin", "origin must be a string");
    parse_err("{\"tags\":\"a\"}", "tags", "tags must be a list");
    parse_err("{\"tags\":null}", "tags", "tags must be a list");
    parse_err("{\"tags\":[\"a\",2]}", "tags[1]", NULL);
    parse_err("{\"attributes\":[]}", "attributes", "attributes must be a JSON object");
    parse_err("{\"attributes\":null}", "attributes", NULL);
    parse_err("{\"attributes\":{\"a.b\":1}}", "attributes",
              "Attribute keys must not contain \".\" or \"$\"");
    parse_err("{\"attributes\":{\"$a\":1}}", "attributes", NULL);
    parse_err("{\"timeout\":\"60\"}", "timeout", "timeout must be an integer");
    parse_err("{\"timeout\":1.5}", "timeout", "timeout must be an integer");
    parse_err("{\"timeout\":true}", "timeout", NULL);
    parse_err("{\"timeout\":-1}", "timeout", "Invalid negative 'timeout' value (-1)");
    parse_err("{\"timeout\":99999999999}", "timeout", NULL);
    parse_err("{\"createTime\":\"yesterday\"}", "createTime",
              "dates must be ISO 8601 date format YYYY-MM-DDThh:mm:ss.sssZ");
    parse_err("{\"createTime\":1700000000}", "createTime", NULL);
    parse_err("{\"customer\":\"\"}", "customer", "customer must not be an empty string");
    parse_err("{\"customer\":1}", "customer", NULL);
    parse_err("{\"id\":\"\"}", "id", NULL);
    parse_err("{\"id\":7}", "id", NULL);
}

static void test_parse_limits(void **state)
{
    struct heartbeat_config cfg;
    char *big = malloc(ALERT_MAX_ATTR_VALUE + 64);
    char *text;
    size_t n;

    (void)state;
    heartbeat_config_default(&cfg);
    assert_non_null(big);
    memset(big, 'x', ALERT_MAX_ATTR_VALUE + 1);
    big[ALERT_MAX_ATTR_VALUE + 1] = '\0';
    n = strlen(big) + 64;
    text = malloc(n);
    assert_non_null(text);
    snprintf(text, n, "{\"attributes\":{\"k\":\"%s\"}}", big);
    parse_err(text, "attributes.k", NULL);
    /* The bound is on the value's compact JSON, quotes included: exactly at it passes. */
    big[ALERT_MAX_ATTR_VALUE - 1] = '\0';
    snprintf(text, n, "{\"attributes\":{\"k\":\"%s\"}}", big);
    parse_err(text, "attributes.k", "attribute values must be at most 16384 bytes of JSON");
    big[ALERT_MAX_ATTR_VALUE - 2] = '\0';
    snprintf(text, n, "{\"attributes\":{\"k\":\"%s\"}}", big);
    heartbeat_free(parse_ok(&cfg, text, T0));
    snprintf(text, n, "{\"origin\":\"%s\"}", big);
    parse_err(text, "origin", NULL);
    free(text);
    free(big);
}

/* ---- upsert ---- */

static void test_upsert_by_origin_customer(void **state)
{
    struct fixture fx;
    struct heartbeat_upsert res;
    struct heartbeat *a, *b, *c;

    (void)state;
    setup_fx(&fx, NULL);
    a = put(&fx, "{\"origin\":\"o1\",\"tags\":[\"x\"],\"timeout\":60}", T0, "id-a", &res);
    assert_true(res.created);
    assert_false(res.resolved);
    assert_string_equal(a->id, "id-a");
    assert_int_equal(heartbeat_table_count(fx.t), 1);

    /* same origin, no customer: the same record, id kept (even if the body names another),
     * tags, timeout, createTime and receiveTime replaced */
    b = put(&fx, "{\"origin\":\"o1\",\"tags\":[\"y\",\"z\"],\"timeout\":120,\"id\":\"other\"}",
            T0 + 5000, "id-unused", &res);
    assert_ptr_equal(a, b);
    assert_false(res.created);
    assert_string_equal(b->id, "id-a");
    assert_int_equal(b->ntags, 2);
    assert_string_equal(b->tags[0], "y");
    assert_int_equal(b->timeout_s, 120);
    assert_int_equal(b->receive_ms, T0 + 5000);
    assert_int_equal(heartbeat_table_count(fx.t), 1);

    /* the same origin for a customer is another heartbeat; a body id is used when new */
    c = put(&fx, "{\"origin\":\"o1\",\"customer\":\"acme\",\"id\":\"chosen\"}", T0, "id-c", &res);
    assert_true(res.created);
    assert_ptr_not_equal(a, c);
    assert_string_equal(c->id, "chosen");
    assert_int_equal(heartbeat_table_count(fx.t), 2);
    assert_ptr_equal(heartbeat_table_find(fx.t, "o1", NULL), a);
    assert_ptr_equal(heartbeat_table_find(fx.t, "o1", "acme"), c);
    assert_null(heartbeat_table_find(fx.t, "o1", "other"));
    assert_null(heartbeat_table_find(fx.t, "o2", NULL));

    /* get: exact, else prefix (Alerta's id LIKE 'x%') */
    assert_ptr_equal(heartbeat_table_get(fx.t, "id-a"), a);
    assert_ptr_equal(heartbeat_table_get(fx.t, "cho"), c);
    assert_null(heartbeat_table_get(fx.t, "nope"));
    assert_null(heartbeat_table_get(fx.t, ""));
    assert_ptr_equal(heartbeat_table_first(fx.t), a);
    assert_ptr_equal(a->next, c);

    assert_int_equal(heartbeat_table_delete(fx.t, "id-a", NULL), TOCSIN_OK);
    assert_int_equal(heartbeat_table_delete(fx.t, "id-a", NULL), TOCSIN_ENOTFOUND);
    assert_null(heartbeat_table_find(fx.t, "o1", NULL));
    assert_int_equal(heartbeat_table_count(fx.t), 1);
    assert_int_equal(timer_wheel_count(fx.wheel), 1);
    assert_ptr_equal(heartbeat_table_first(fx.t), c);
    teardown_fx(&fx);
}

static void test_limits(void **state)
{
    struct heartbeat_config cfg;
    struct fixture fx;
    struct heartbeat_upsert res;
    struct verr err;

    (void)state;
    heartbeat_config_default(&cfg);
    cfg.max_count = 2;
    setup_fx(&fx, &cfg);
    put(&fx, "{\"origin\":\"a\"}", T0, "1", NULL);
    put(&fx, "{\"origin\":\"b\"}", T0, "2", NULL);
    memset(&err, 0, sizeof(err));
    assert_int_equal(
        heartbeat_table_upsert(fx.t, parse_ok(&cfg, "{\"origin\":\"c\"}", T0), "3", &res, &err),
        TOCSIN_ETOOBIG);
    assert_int_equal(err.status, 413);
    assert_non_null(strstr(err.msg, "too many heartbeats"));
    /* an update of a known key is not a new heartbeat */
    put(&fx, "{\"origin\":\"a\",\"timeout\":5}", T0, "4", NULL);
    assert_int_equal(heartbeat_table_count(fx.t), 2);

    /* a new heartbeat whose given id is another's */
    assert_int_equal(heartbeat_table_delete(fx.t, "2", NULL), TOCSIN_OK);
    memset(&err, 0, sizeof(err));
    assert_int_equal(heartbeat_table_upsert(fx.t,
                                            parse_ok(&cfg, "{\"origin\":\"d\",\"id\":\"1\"}", T0),
                                            "5", &res, &err),
                     TOCSIN_EEXIST);
    assert_int_equal(err.status, 409);
    assert_string_equal(err.field, "id");
    /* no id at all */
    memset(&err, 0, sizeof(err));
    assert_int_equal(
        heartbeat_table_upsert(fx.t, parse_ok(&cfg, "{\"origin\":\"d\"}", T0), NULL, &res, &err),
        TOCSIN_EINVAL);
    assert_int_equal(heartbeat_table_count(fx.t), 1);
    teardown_fx(&fx);
}

/* ---- status ---- */

static void test_status_boundaries(void **state)
{
    struct heartbeat_config cfg;
    struct heartbeat *hb;

    (void)state;
    heartbeat_config_default(&cfg);
    /* latency = receive - create; slow only past maxLatency */
    hb = parse_ok(&cfg, "{\"timeout\":10,\"createTime\":\"2023-11-14T22:13:18.000Z\"}", T0);
    assert_int_equal(heartbeat_latency_ms(hb), 2000);
    assert_int_equal(heartbeat_status(hb, 2000, T0), HEARTBEAT_OK);
    assert_int_equal(heartbeat_status(hb, 1999, T0), HEARTBEAT_SLOW);
    heartbeat_free(hb);
    hb = parse_ok(&cfg, "{\"timeout\":10,\"createTime\":\"2023-11-14T22:13:17.999Z\"}", T0);
    assert_int_equal(heartbeat_status(hb, 2000, T0), HEARTBEAT_SLOW);
    /* expired once now - receive > timeout, and it wins over slow (Alerta 9's order) */
    assert_int_equal(heartbeat_status(hb, 2000, T0 + 10000), HEARTBEAT_SLOW);
    assert_int_equal(heartbeat_status(hb, 2000, T0 + 10001), HEARTBEAT_EXPIRED);
    assert_int_equal(heartbeat_deadline_ms(hb), T0 + 10001);
    /* since: whole seconds, truncated */
    assert_int_equal(heartbeat_since_s(hb, T0 + 999), 0);
    assert_int_equal(heartbeat_since_s(hb, T0 + 10999), 10);
    heartbeat_free(hb);

    /* timeout 0 is kept (not the default): expired one ms after receipt */
    hb = parse_ok(&cfg, "{\"timeout\":0}", T0);
    assert_int_equal(heartbeat_status(hb, 2000, T0), HEARTBEAT_OK);
    assert_int_equal(heartbeat_status(hb, 2000, T0 + 1), HEARTBEAT_EXPIRED);
    heartbeat_free(hb);

    assert_string_equal(heartbeat_status_name(HEARTBEAT_SLOW), "slow");
    assert_string_equal(heartbeat_status_name(99), "unknown");
    assert_int_equal(heartbeat_status_parse("expired"), HEARTBEAT_EXPIRED);
    assert_int_equal(heartbeat_status_parse("stale"), -1);
}

/* ---- expiry, raise, resolve ---- */

static void test_expiry_raises_and_return_resolves(void **state)
{
    struct fixture fx;
    struct heartbeat_upsert res;
    struct heartbeat *hb;
    struct sevmap m;
    struct arena a;
    struct alert_in in;

    (void)state;
    sevmap_default(&m);
    setup_fx(&fx, NULL);
    hb = put(&fx,
             "{\"origin\":\"cron/db1\",\"timeout\":60,\"tags\":[\"nightly\"],\"customer\":\"acme\","
             "\"attributes\":{\"environment\":\"Development\",\"group\":\"Backup\","
             "\"service\":[\"DB\"],\"region\":\"eu\"}}",
             T0, "hb-1", NULL);
    assert_int_equal(timer_wheel_count(fx.wheel), 1);

    /* at the deadline - 1 (now - receive == timeout): nothing */
    timer_wheel_advance(fx.wheel, T0 + 60000, NULL);
    assert_int_equal(fx.seen.calls, 0);
    assert_false(hb->raised);
    /* one ms later: expired, reported once */
    timer_wheel_advance(fx.wheel, T0 + 60001, NULL);
    assert_int_equal(fx.seen.calls, 1);
    assert_ptr_equal(fx.seen.last, hb);
    assert_int_equal(fx.seen.deadline, T0 + 60001);
    assert_true(hb->raised);
    assert_int_equal(heartbeat_status(hb, fx.cfg.max_latency_ms, T0 + 60001), HEARTBEAT_EXPIRED);
    timer_wheel_advance(fx.wheel, T0 + 10 * 60000, NULL);
    assert_int_equal(fx.seen.calls, 1);
    assert_int_equal(timer_wheel_count(fx.wheel), 0);

    /* the alert python-alerta-client's `heartbeats --alert` sends */
    arena_init(&a, 1 << 20);
    assert_int_equal(heartbeat_fail_alert(fx.t, hb, &m, T0 + 61500, &a, &in), TOCSIN_OK);
    assert_string_equal(in.resource, "cron/db1");
    assert_string_equal(in.event, "HeartbeatFail");
    assert_string_equal(in.environment, "Development");
    assert_string_equal(m.name[in.severity], "major");
    assert_string_equal(in.group, "Backup");
    assert_int_equal(in.service.n, 1);
    assert_string_equal(in.service.v[0], "DB");
    assert_int_equal(in.correlate.n, 3);
    assert_string_equal(in.correlate.v[0], "HeartbeatFail");
    assert_string_equal(in.correlate.v[1], "HeartbeatSlow");
    assert_string_equal(in.correlate.v[2], "HeartbeatOK");
    assert_string_equal(in.value, "61");
    assert_string_equal(in.text, "Heartbeat not received in 60 seconds");
    assert_int_equal(in.tags.n, 1);
    assert_string_equal(in.tags.v[0], "nightly");
    assert_int_equal(in.attributes.n, 1); /* environment, group, service popped */
    assert_string_equal(attr(&in, "region"), "\"eu\"");
    assert_string_equal(in.origin, "tocsin");
    assert_string_equal(in.type, "heartbeatAlert");
    assert_string_equal(in.customer, "acme");
    assert_int_equal(in.timeout_s, -1);
    assert_int_equal(in.create_ms, T0 + 61500);
    assert_true(in.flags & AIN_CORRELATE);

    /* the heartbeat comes back: resolved, timer armed for the new deadline */
    put(&fx,
        "{\"origin\":\"cron/db1\",\"timeout\":30,\"customer\":\"acme\","
        "\"attributes\":{\"environment\":\"Development\"}}",
        T0 + 700000, "unused", &res);
    assert_ptr_equal(res.hb, hb);
    assert_true(res.resolved);
    assert_false(hb->raised);
    assert_int_equal(timer_wheel_count(fx.wheel), 1);
    assert_int_equal(heartbeat_ok_alert(fx.t, hb, &m, T0 + 700000, &a, &in), TOCSIN_OK);
    assert_string_equal(in.resource, "cron/db1");
    assert_string_equal(in.event, "HeartbeatOK");
    assert_string_equal(in.environment, "Development");
    assert_int_equal(in.severity, m.normal_name);
    assert_string_equal(m.name[in.severity], "normal");
    assert_string_equal(in.value, "");
    assert_string_equal(in.text, "Heartbeat OK");
    assert_int_equal(in.correlate.n, 3);
    assert_string_equal(in.group, "System");
    assert_string_equal(in.service.v[0], "Alerta");

    /* a second heartbeat while it is fine resolves nothing */
    put(&fx, "{\"origin\":\"cron/db1\",\"timeout\":30,\"customer\":\"acme\"}", T0 + 710000, "x",
        &res);
    assert_false(res.resolved);
    /* and the new deadline raises again */
    timer_wheel_advance(fx.wheel, T0 + 710000 + 30000, NULL);
    assert_int_equal(fx.seen.calls, 1);
    timer_wheel_advance(fx.wheel, T0 + 710000 + 30001, NULL);
    assert_int_equal(fx.seen.calls, 2);
    arena_free(&a);
    teardown_fx(&fx);
}

static void test_callback_may_delete(void **state)
{
    struct fixture fx;
    bool raised = false;

    (void)state;
    setup_fx(&fx, NULL);
    put(&fx, "{\"origin\":\"a\",\"timeout\":1}", T0, "a", NULL);
    put(&fx, "{\"origin\":\"b\",\"timeout\":1}", T0, "b", NULL);
    put(&fx, "{\"origin\":\"c\",\"timeout\":5}", T0, "c", NULL);
    fx.seen.delete_it = true;
    timer_wheel_advance(fx.wheel, T0 + 1001, NULL);
    assert_int_equal(fx.seen.calls, 2);
    assert_int_equal(heartbeat_table_count(fx.t), 1);
    fx.seen.delete_it = false;
    timer_wheel_advance(fx.wheel, T0 + 5001, NULL);
    assert_int_equal(fx.seen.calls, 3);
    assert_int_equal(heartbeat_table_delete(fx.t, "c", &raised), TOCSIN_OK);
    assert_true(raised);
    teardown_fx(&fx);
}

static void test_fail_alert_defaults(void **state)
{
    struct fixture fx;
    struct heartbeat *hb;
    struct sevmap m;
    struct arena a;
    struct alert_in in;

    (void)state;
    sevmap_default(&m);
    setup_fx(&fx, NULL);
    arena_init(&a, 1 << 20);
    /* no attributes: Production, System, [Alerta], the configured severity */
    hb = put(&fx, "{\"origin\":\"o\",\"timeout\":5}", T0, "1", NULL);
    assert_int_equal(heartbeat_fail_alert(fx.t, hb, &m, T0 + 9000, &a, &in), TOCSIN_OK);
    assert_string_equal(in.environment, "Production");
    assert_string_equal(in.group, "System");
    assert_int_equal(in.service.n, 1);
    assert_string_equal(in.service.v[0], "Alerta");
    assert_string_equal(m.name[in.severity], "major");
    assert_null(in.customer);
    assert_int_equal(in.attributes.n, 0);
    assert_string_equal(in.value, "9");

    /* attributes of the wrong type, empty, or a normal/unknown severity fall back; a real
     * severity is used */
    hb = put(&fx,
             "{\"origin\":\"p\",\"attributes\":{\"environment\":\"\",\"group\":7,"
             "\"service\":[\"a\",1],\"severity\":\"normal\"}}",
             T0, "2", NULL);
    assert_int_equal(heartbeat_fail_alert(fx.t, hb, &m, T0, &a, &in), TOCSIN_OK);
    assert_string_equal(in.environment, "Production");
    assert_string_equal(in.group, "System");
    assert_string_equal(in.service.v[0], "Alerta");
    assert_string_equal(m.name[in.severity], "major");
    hb = put(&fx, "{\"origin\":\"q\",\"attributes\":{\"severity\":\"bogus\",\"service\":[]}}", T0,
             "3", NULL);
    assert_int_equal(heartbeat_fail_alert(fx.t, hb, &m, T0, &a, &in), TOCSIN_OK);
    assert_string_equal(m.name[in.severity], "major");
    assert_int_equal(in.service.n, 1); /* [] would be rejected: the default */
    assert_string_equal(in.service.v[0], "Alerta");
    hb = put(&fx, "{\"origin\":\"r\",\"attributes\":{\"severity\":\"critical\"}}", T0, "4", NULL);
    assert_int_equal(heartbeat_fail_alert(fx.t, hb, &m, T0, &a, &in), TOCSIN_OK);
    assert_string_equal(m.name[in.severity], "critical");
    arena_free(&a);
    teardown_fx(&fx);

    /* configured origin, severity and timeout */
    {
        struct heartbeat_config cfg;
        heartbeat_config_default(&cfg);
        snprintf(cfg.fail_origin, sizeof(cfg.fail_origin), "tocsin/host9");
        snprintf(cfg.fail_severity, sizeof(cfg.fail_severity), "critical");
        cfg.fail_timeout_s = 600;
        setup_fx(&fx, &cfg);
        arena_init(&a, 1 << 20);
        hb = put(&fx, "{\"origin\":\"o\"}", T0, "1", NULL);
        assert_int_equal(heartbeat_fail_alert(fx.t, hb, &m, T0, &a, &in), TOCSIN_OK);
        assert_string_equal(in.origin, "tocsin/host9");
        assert_string_equal(m.name[in.severity], "critical");
        assert_int_equal(in.timeout_s, 600);
        /* a configured severity that is unknown cannot raise */
        snprintf(fx.cfg.fail_severity, sizeof(fx.cfg.fail_severity), "nope");
        heartbeat_table_free(fx.t);
        fx.t = heartbeat_table_new(&fx.cfg, fx.wheel, on_expired, &fx.seen);
        hb = put(&fx, "{\"origin\":\"o\"}", T0, "1", NULL);
        assert_int_equal(heartbeat_fail_alert(fx.t, hb, &m, T0, &a, &in), TOCSIN_EINVAL);
        arena_free(&a);
        teardown_fx(&fx);
    }
}

/* ---- the heartbeat plugin ---- */

static void test_from_alert(void **state)
{
    struct heartbeat_config cfg;
    struct heartbeat *hb;
    struct sevmap m;
    struct alert_in in;
    struct verr err;
    const char *tags[] = {"t1"}, *svc[] = {"Web", "API"};
    char *s;

    (void)state;
    heartbeat_config_default(&cfg);
    sevmap_default(&m);
    assert_true(heartbeat_is_event(&cfg, "Heartbeat"));
    assert_false(heartbeat_is_event(&cfg, "heartbeat"));
    assert_false(heartbeat_is_event(&cfg, NULL));

    alert_in_init(&in);
    in.resource = "r";
    in.event = "Heartbeat";
    in.environment = "Production";
    in.severity = sevmap_find(&m, "major", 5);
    in.origin = "agent/h1";
    in.tags = (struct strlist){tags, 1};
    in.service = (struct strlist){svc, 2};
    in.timeout_s = 300;
    in.customer = "acme";
    in.create_ms = T0 - 60000; /* Alerta does not pass it on */
    memset(&err, 0, sizeof(err));
    assert_int_equal(heartbeat_from_alert(&in, &m, &cfg, NULL, NULL, T0, &hb, &err), TOCSIN_OK);
    assert_string_equal(hb->origin, "agent/h1");
    assert_int_equal(hb->ntags, 1);
    assert_int_equal(hb->timeout_s, 300);
    assert_string_equal(hb->customer, "acme");
    assert_int_equal(hb->create_ms, T0);
    assert_int_equal(heartbeat_latency_ms(hb), 0);
    s = json_dumps(hb->attributes, JSON_COMPACT);
    assert_string_equal(s, "{\"environment\":\"Production\",\"severity\":\"major\","
                           "\"service\":[\"Web\",\"API\"],\"group\":\"Misc\"}");
    free(s);
    heartbeat_free(hb);

    /* Alerta's defaults: environment "", severity normal, service [], the alert timeout; an
     * origin from the adapter; a customer the server assigned */
    alert_in_init(&in);
    in.resource = "r";
    in.event = "Heartbeat";
    in.group = "G";
    assert_int_equal(heartbeat_from_alert(&in, &m, &cfg, "prometheus/x", "tenant", T0, &hb, &err),
                     TOCSIN_OK);
    assert_string_equal(hb->origin, "prometheus/x");
    assert_int_equal(hb->timeout_s, 86400);
    assert_string_equal(hb->customer, "tenant");
    s = json_dumps(hb->attributes, JSON_COMPACT);
    assert_string_equal(s, "{\"environment\":\"\",\"severity\":\"normal\",\"service\":[],"
                           "\"group\":\"G\"}");
    free(s);
    heartbeat_free(hb);
    assert_int_equal(heartbeat_from_alert(&in, &m, &cfg, NULL, NULL, T0, &hb, &err), TOCSIN_OK);
    assert_string_equal(hb->origin, "tocsin");
    heartbeat_free(hb);

    /* a configured list of heartbeat events */
    cfg.nevents = 2;
    snprintf(cfg.events[1], sizeof(cfg.events[1]), "Watchdog");
    assert_true(heartbeat_is_event(&cfg, "Watchdog"));
}

/* ---- healthcheck ---- */

static void test_healthcheck(void **state)
{
    struct fixture fx;
    char msg[128];

    (void)state;
    setup_fx(&fx, NULL);
    assert_int_equal(heartbeat_healthcheck(fx.t, T0, msg, sizeof(msg)), 200);
    assert_string_equal(msg, "OK");
    put(&fx, "{\"origin\":\"first\",\"timeout\":10}", T0, "1", NULL);
    put(&fx, "{\"origin\":\"second\",\"timeout\":5}", T0, "2", NULL);
    /* 4 x 5 s = 20 s: stale when more than 20 whole seconds old */
    assert_int_equal(heartbeat_healthcheck(fx.t, T0 + 20999, msg, sizeof(msg)), 200);
    assert_string_equal(msg, "OK");
    assert_int_equal(heartbeat_healthcheck(fx.t, T0 + 21000, msg, sizeof(msg)), 503);
    assert_string_equal(msg, "HEARTBEAT_STALE: second");
    /* both stale: the first in table order */
    assert_int_equal(heartbeat_healthcheck(fx.t, T0 + 41000, msg, sizeof(msg)), 503);
    assert_string_equal(msg, "HEARTBEAT_STALE: first");
    /* more than a day old still counts (Alerta's timedelta.seconds would wrap) */
    assert_int_equal(heartbeat_healthcheck(fx.t, T0 + 86400000LL + 1000, msg, sizeof(msg)), 503);
    teardown_fx(&fx);
}

/* ---- JSON, stored form ---- */

static void test_json(void **state)
{
    struct fixture fx;
    struct heartbeat *hb;
    json_t *j;
    char *s;

    (void)state;
    setup_fx(&fx, NULL);
    hb = put(&fx,
             "{\"origin\":\"o\",\"tags\":[\"a\"],\"attributes\":{\"k\":1},\"timeout\":100,"
             "\"createTime\":\"2023-11-14T22:13:17.000Z\"}",
             T0, "11111111-2222-4333-8444-555555555555", NULL);
    j = heartbeat_to_json(fx.t, hb, T0 + 7500, "http://h:8080/api");
    s = dump(j);
    assert_string_equal(s, "{\"id\":\"11111111-2222-4333-8444-555555555555\","
                           "\"href\":\"http://h:8080/api/heartbeat/"
                           "11111111-2222-4333-8444-555555555555\","
                           "\"origin\":\"o\",\"tags\":[\"a\"],\"attributes\":{\"k\":1},"
                           "\"type\":\"Heartbeat\",\"createTime\":\"2023-11-14T22:13:17.000Z\","
                           "\"timeout\":100,\"maxLatency\":2000,"
                           "\"receiveTime\":\"2023-11-14T22:13:20.000Z\",\"customer\":null,"
                           "\"latency\":3000,\"since\":7,\"status\":\"slow\"}");
    free(s);
    json_decref(j);
    j = heartbeat_to_json(fx.t, hb, T0 + 100001, NULL);
    assert_null(json_object_get(j, "href"));
    assert_string_equal(json_string_value(json_object_get(j, "status")), "expired");
    assert_int_equal(json_integer_value(json_object_get(j, "since")), 100);
    json_decref(j);
    teardown_fx(&fx);
}

static void test_store_roundtrip(void **state)
{
    struct fixture fx, fy;
    struct heartbeat *hb;
    struct heartbeat_upsert res;
    struct verr err;
    char *s1, *s2, *s3;

    (void)state;
    setup_fx(&fx, NULL);
    put(&fx,
        "{\"origin\":\"a\",\"tags\":[\"x\"],\"attributes\":{\"e\":\"P\"},\"timeout\":10,"
        "\"customer\":\"c\",\"createTime\":\"2023-11-14T22:13:19.000Z\"}",
        T0, "id-a", NULL);
    put(&fx, "{\"origin\":\"b\",\"timeout\":1000}", T0, "id-b", NULL);
    timer_wheel_advance(fx.wheel, T0 + 10001, NULL); /* a is raised */
    assert_int_equal(fx.seen.calls, 1);
    s1 = heartbeat_to_store(heartbeat_table_get(fx.t, "id-a"));
    s2 = heartbeat_to_store(heartbeat_table_get(fx.t, "id-b"));
    assert_string_equal(s1, "{\"id\":\"id-a\",\"origin\":\"a\",\"tags\":[\"x\"],"
                            "\"attributes\":{\"e\":\"P\"},\"type\":\"Heartbeat\","
                            "\"createTime\":\"2023-11-14T22:13:19.000Z\",\"timeout\":10,"
                            "\"receiveTime\":\"2023-11-14T22:13:20.000Z\",\"customer\":\"c\","
                            "\"raised\":true}");

    /* restart much later: a (raised) is not raised again; b, past its deadline, is raised at
     * the first advance */
    fx.seen.calls = 0;
    setup_fx(&fy, NULL);
    memset(&err, 0, sizeof(err));
    assert_int_equal(heartbeat_table_load(fy.t, s1, strlen(s1), &err), TOCSIN_OK);
    assert_int_equal(heartbeat_table_load(fy.t, s2, strlen(s2), &err), TOCSIN_OK);
    assert_int_equal(heartbeat_table_count(fy.t), 2);
    assert_int_equal(timer_wheel_count(fy.wheel), 1);
    hb = heartbeat_table_get(fy.t, "id-a");
    assert_true(hb->raised);
    assert_int_equal(hb->create_ms, T0 - 1000);
    assert_int_equal(hb->receive_ms, T0);
    s3 = heartbeat_to_store(hb);
    assert_string_equal(s1, s3);
    free(s3);
    timer_wheel_advance(fy.wheel, T0 + 2000000, NULL);
    assert_int_equal(fy.seen.calls, 1);
    assert_string_equal(fy.seen.last->id, "id-b");
    /* the raised one comes back: resolved */
    put(&fy, "{\"origin\":\"a\",\"customer\":\"c\"}", T0 + 2000000, "n", &res);
    assert_true(res.resolved);
    assert_string_equal(res.hb->id, "id-a");

    /* bad stored forms */
    memset(&err, 0, sizeof(err));
    assert_int_equal(heartbeat_table_load(fy.t, "{", 1, &err), TOCSIN_EINVAL);
    assert_string_equal(err.field, "body");
    memset(&err, 0, sizeof(err));
    assert_int_equal(heartbeat_table_load(fy.t, "{\"origin\":\"z\"}", 14, &err), TOCSIN_EINVAL);
    assert_string_equal(err.field, "id");
    memset(&err, 0, sizeof(err));
    assert_int_equal(heartbeat_table_load(fy.t, "{\"id\":\"z\"}", 10, &err), TOCSIN_EINVAL);
    assert_string_equal(err.field, "receiveTime");
    free(s1);
    free(s2);
    teardown_fx(&fx);
    teardown_fx(&fy);
}

/* ---- lists ---- */

static void check_order(struct fixture *fx, const struct heartbeat_query *q, int64_t now,
                        const char *want)
{
    struct heartbeat **v;
    size_t n;
    char got[256] = "";

    assert_int_equal(heartbeat_list(fx->t, q, now, &v, &n), TOCSIN_OK);
    for (size_t i = 0; i < n; i++) {
        strcat(got, v[i]->origin);
        if (i + 1 < n)
            strcat(got, ",");
    }
    free(v);
    if (strcmp(got, want))
        fail_msg("order '%s', expected '%s'", got, want);
}

static void test_list(void **state)
{
    struct fixture fx;
    struct heartbeat_query q;
    struct heartbeat_sort sort[HEARTBEAT_SORT_MAX];
    struct verr err;
    size_t ns;
    const char *by_origin[] = {"origin"}, *by_receive[] = {"receiveTime"},
               *by_receive_asc[] = {"-receiveTime"}, *by_cust[] = {"customer", "-origin"},
               *by_attr[] = {"attributes.rank"}, *bad[] = {"status"}, *bad2[] = {"-nope"};
    const char *custs[] = {"acme"};

    (void)state;
    setup_fx(&fx, NULL);
    put(&fx, "{\"origin\":\"b\",\"timeout\":100,\"attributes\":{\"rank\":2}}", T0, "1", NULL);
    put(&fx, "{\"origin\":\"c\",\"timeout\":5,\"customer\":\"acme\",\"attributes\":{\"rank\":1}}",
        T0 + 1000, "2", NULL);
    put(&fx, "{\"origin\":\"a\",\"timeout\":100,\"createTime\":\"2023-11-14T22:13:00.000Z\"}",
        T0 + 2000, "3", NULL);
    memset(&q, 0, sizeof(q));
    check_order(&fx, &q, T0 + 3000, "b,c,a"); /* table order */

    memset(&err, 0, sizeof(err));
    assert_int_equal(heartbeat_sort_parse(by_origin, 1, sort, &ns, &err), TOCSIN_OK);
    q.sort = sort;
    q.nsort = ns;
    check_order(&fx, &q, T0 + 3000, "a,b,c");
    /* time fields are descending by default, "-" reverses */
    assert_int_equal(heartbeat_sort_parse(by_receive, 1, sort, &ns, &err), TOCSIN_OK);
    check_order(&fx, &q, T0 + 3000, "a,c,b");
    assert_int_equal(heartbeat_sort_parse(by_receive_asc, 1, sort, &ns, &err), TOCSIN_OK);
    check_order(&fx, &q, T0 + 3000, "b,c,a");
    /* NULL customers sort last ascending; then origin descending */
    assert_int_equal(heartbeat_sort_parse(by_cust, 2, sort, &ns, &err), TOCSIN_OK);
    q.nsort = ns;
    check_order(&fx, &q, T0 + 3000, "c,b,a");
    /* attributes.<key>; a missing key is NULL, last */
    assert_int_equal(heartbeat_sort_parse(by_attr, 1, sort, &ns, &err), TOCSIN_OK);
    q.nsort = ns;
    check_order(&fx, &q, T0 + 3000, "c,b,a");

    assert_int_equal(heartbeat_sort_parse(bad, 1, sort, &ns, &err), TOCSIN_EINVAL);
    assert_string_equal(err.field, "sort-by");
    assert_string_equal(err.msg, "Sorting by 'status' field not supported.");
    assert_int_equal(heartbeat_sort_parse(bad2, 1, sort, &ns, &err), TOCSIN_EINVAL);
    assert_string_equal(err.msg, "Sorting by 'nope' field not supported.");

    /* status filter: at T0 + 7000, c (timeout 5) is expired and a is slow (latency 22 s) */
    memset(&q, 0, sizeof(q));
    q.status_mask = 1u << HEARTBEAT_EXPIRED;
    check_order(&fx, &q, T0 + 7000, "c");
    q.status_mask = 1u << HEARTBEAT_SLOW;
    check_order(&fx, &q, T0 + 7000, "a");
    q.status_mask = 1u << HEARTBEAT_OK | 1u << HEARTBEAT_SLOW;
    check_order(&fx, &q, T0 + 7000, "b,a");
    /* customer views: only the listed customers (NULL customer excluded) */
    memset(&q, 0, sizeof(q));
    q.customers = custs;
    q.ncustomers = 1;
    check_order(&fx, &q, T0 + 7000, "c");
    teardown_fx(&fx);

    /* an empty table */
    setup_fx(&fx, NULL);
    memset(&q, 0, sizeof(q));
    check_order(&fx, &q, T0, "");
    teardown_fx(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_defaults),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_upsert_by_origin_customer),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_status_boundaries),
        cmocka_unit_test(test_expiry_raises_and_return_resolves),
        cmocka_unit_test(test_callback_may_delete),
        cmocka_unit_test(test_fail_alert_defaults),
        cmocka_unit_test(test_from_alert),
        cmocka_unit_test(test_healthcheck),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_store_roundtrip),
        cmocka_unit_test(test_list),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
