/* Tests for core/blackout: Alerta's blackout model on an injected clock (parse, priority for
 * every combination Alerta's constructor distinguishes, pending/active/expired and remaining at
 * their boundaries), is_blackout_period's matching for each field, subsets and customers, the
 * plugin's decision under both NOTIFICATION_BLACKOUT policies, updates, tocsin's start/end
 * events, lists, the stored form and the set bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/blackout.h"
#include "util/err.h"

#define T0 1700000000000LL /* 2023-11-14T22:13:20.000Z */
#define MIN 60000LL

/* ---- helpers ---- */

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);

    if (!j)
        fail_msg("bad test JSON: %s (%s)", je.text, text);
    return j;
}

static struct blackout *parse_ok(const char *text, int64_t now)
{
    struct blackout_config cfg;
    json_t *j = load(text);
    struct blackout *b = NULL;
    struct verr err;

    blackout_config_default(&cfg);
    memset(&err, 0, sizeof(err));
    if (blackout_parse(j, &cfg, now, &b, &err) != TOCSIN_OK)
        fail_msg("parse failed: %s: %s (%s)", err.field, err.msg, text);
    json_decref(j);
    return b;
}

static void parse_err(const char *text, const char *field, const char *msg)
{
    struct blackout_config cfg;
    json_t *j = load(text);
    struct blackout *b = NULL;
    struct verr err;

    blackout_config_default(&cfg);
    memset(&err, 0, sizeof(err));
    if (blackout_parse(j, &cfg, T0, &b, &err) != TOCSIN_EINVAL)
        fail_msg("expected an error on '%s' for %s", field, text);
    if (strcmp(err.field, field) != 0)
        fail_msg("error on '%s' (%s), expected '%s', for %s", err.field, err.msg, field, text);
    if (msg && strcmp(err.msg, msg) != 0)
        fail_msg("message '%s', expected '%s', for %s", err.msg, msg, text);
    assert_int_equal(err.status, 400);
    assert_null(b);
    json_decref(j);
}

#define MAX_EVENTS 16

struct events {
    int n;
    int ev[MAX_EVENTS];
    char id[MAX_EVENTS][64];
    int64_t at[MAX_EVENTS];
};

static void on_event(void *ud, int ev, const struct blackout *b, int64_t at)
{
    struct events *e = ud;

    assert_true(e->n < MAX_EVENTS);
    e->ev[e->n] = ev;
    snprintf(e->id[e->n], sizeof(e->id[0]), "%s", b->id);
    e->at[e->n] = at;
    e->n++;
}

/* "S:id@at E:id@at ..." of the events so far, then forgets them. */
static void expect_events(struct events *e, const char *want)
{
    char got[512] = "", one[96];

    for (int i = 0; i < e->n; i++) {
        snprintf(one, sizeof(one), "%s%s:%s@%lld", i ? " " : "",
                 e->ev[i] == BLACKOUT_STARTED ? "S" : "E", e->id[i],
                 (long long)((e->at[i] - T0) / 1000));
        strcat(got, one);
    }
    e->n = 0;
    if (strcmp(got, want))
        fail_msg("events '%s', expected '%s'", got, want);
}

struct fixture {
    struct blackout_config cfg;
    struct timer_wheel *wheel;
    struct blackout_set *s;
    struct events ev;
    struct sevmap m;
};

static void setup_fx(struct fixture *fx, const struct blackout_config *cfg)
{
    memset(fx, 0, sizeof(*fx));
    if (cfg)
        fx->cfg = *cfg;
    else
        blackout_config_default(&fx->cfg);
    sevmap_default(&fx->m);
    fx->wheel = timer_wheel_new(T0);
    assert_non_null(fx->wheel);
    fx->s = blackout_set_new(&fx->cfg, fx->wheel, on_event, &fx->ev);
    assert_non_null(fx->s);
}

static void teardown_fx(struct fixture *fx)
{
    blackout_set_free(fx->s);
    timer_wheel_free(fx->wheel);
}

static struct blackout *add(struct fixture *fx, const char *text, int64_t now, const char *id)
{
    struct verr err;

    memset(&err, 0, sizeof(err));
    if (blackout_set_add(fx->s, parse_ok(text, now), id, now, &err))
        fail_msg("add failed: %s: %s (%s)", err.field, err.msg, text);
    return blackout_set_get(fx->s, id);
}

/* An alert to match. */
struct subj {
    struct blackout_subject s;
    const char *svc[8], *tags[8];
};

static void subj_init(struct subj *x, const char *env, const char *resource, const char *event,
                      int64_t at)
{
    memset(x, 0, sizeof(*x));
    x->s.environment = env;
    x->s.resource = resource;
    x->s.event = event;
    x->s.group = "Misc";
    x->s.origin = "agent/h1";
    x->s.time_ms = at;
    x->s.service.v = x->svc;
    x->s.tags.v = x->tags;
}

static void subj_service(struct subj *x, const char *v)
{
    x->svc[x->s.service.n++] = v;
}

static void subj_tag(struct subj *x, const char *v)
{
    x->tags[x->s.tags.n++] = v;
}

static const char *match_id(const struct fixture *fx, const struct subj *x)
{
    const struct blackout *b = blackout_match(fx->s, &x->s);

    return b ? b->id : "-";
}

/* ---- parsing ---- */

static void test_parse_defaults(void **state)
{
    struct blackout *b;

    (void)state;
    b = parse_ok("{\"environment\":\"Production\"}", T0);
    assert_string_equal(b->environment, "Production");
    assert_int_equal(b->start_ms, T0);
    assert_int_equal(b->end_ms, T0 + 3600000);
    assert_int_equal(blackout_duration_s(b), 3600);
    assert_int_equal(b->priority, 1);
    assert_int_equal(b->nservice, 0);
    assert_int_equal(b->ntags, 0);
    assert_null(b->resource);
    assert_null(b->event);
    assert_null(b->group);
    assert_null(b->origin);
    assert_null(b->customer);
    assert_null(b->user);
    assert_null(b->text);
    assert_null(b->id);
    assert_int_equal(b->create_ms, T0);
    blackout_free(b);

    /* endTime wins over duration; duration is the whole seconds between them */
    b = parse_ok("{\"environment\":\"P\",\"startTime\":\"2023-11-14T22:13:20.000Z\","
                 "\"endTime\":\"2023-11-14T22:13:21.500Z\",\"duration\":999}",
                 T0 - 5000);
    assert_int_equal(b->start_ms, T0);
    assert_int_equal(b->end_ms, T0 + 1500);
    assert_int_equal(blackout_duration_s(b), 1);
    blackout_free(b);
    b = parse_ok("{\"environment\":\"P\",\"duration\":120,\"startTime\":null,\"endTime\":null}",
                 T0);
    assert_int_equal(b->end_ms, T0 + 120000);
    blackout_free(b);
    /* a "permanent" blackout */
    b = parse_ok("{\"environment\":\"P\",\"endTime\":\"9999-12-31T23:59:59.999Z\"}", T0);
    assert_int_equal(blackout_status(b, T0 + 100 * 366 * 86400000LL), BLACKOUT_ACTIVE);
    blackout_free(b);
    /* 0 is Alerta's `duration or BLACKOUT_DURATION` */
    b = parse_ok("{\"environment\":\"P\",\"duration\":0}", T0);
    assert_int_equal(blackout_duration_s(b), 3600);
    blackout_free(b);

    b = parse_ok("{\"environment\":\"P\",\"service\":[\"Web\",\"Net\"],\"tags\":[\"t\"],"
                 "\"resource\":\"r\",\"event\":\"e\",\"group\":\"g\",\"origin\":\"o\","
                 "\"customer\":\"c\",\"user\":\"u@x\",\"text\":\"maintenance\",\"id\":\"given\","
                 "\"priority\":3,\"status\":\"expired\",\"remaining\":5}",
                 T0);
    assert_int_equal(b->nservice, 2);
    assert_string_equal(b->service[1], "Net");
    assert_string_equal(b->tags[0], "t");
    assert_string_equal(b->resource, "r");
    assert_string_equal(b->event, "e");
    assert_string_equal(b->group, "g");
    assert_string_equal(b->origin, "o");
    assert_string_equal(b->customer, "c");
    assert_string_equal(b->user, "u@x");
    assert_string_equal(b->text, "maintenance");
    assert_string_equal(b->id, "given");
    assert_int_equal(b->priority, 8); /* computed, not read */
    blackout_free(b);
    blackout_free(NULL);
}

static void test_parse_errors(void **state)
{
    const char *missing = "Missing mandatory value for \"environment\"";

    (void)state;
    parse_err("[]", "body", NULL);
    parse_err("{}", "environment", missing);
    parse_err("{\"environment\":\"\"}", "environment", missing);
    parse_err("{\"environment\":null}", "environment", missing);
    parse_err("{\"environment\":5}", "environment", "environment must be a string");
    parse_err("{\"environment\":\"P\",\"service\":\"Web\"}", "service", "service must be a list");
    parse_err("{\"environment\":\"P\",\"service\":null}", "service", "service must be a list");
    parse_err("{\"environment\":\"P\",\"tags\":{}}", "tags", "tags must be a list");
    parse_err("{\"environment\":\"P\",\"tags\":[\"a\",null]}", "tags[1]", NULL);
    parse_err("{\"environment\":\"P\",\"resource\":5}", "resource", "resource must be a string");
    parse_err("{\"environment\":\"P\",\"event\":[]}", "event", NULL);
    parse_err("{\"environment\":\"P\",\"group\":true}", "group", NULL);
    parse_err("{\"environment\":\"P\",\"origin\":1}", "origin", NULL);
    parse_err("{\"environment\":\"P\",\"customer\":1}", "customer", NULL);
    parse_err("{\"environment\":\"P\",\"text\":1}", "text", NULL);
    parse_err("{\"environment\":\"P\",\"id\":\"\"}", "id", NULL);
    parse_err("{\"environment\":\"P\",\"startTime\":\"soon\"}", "startTime",
              "dates must be ISO 8601 date format YYYY-MM-DDThh:mm:ss.sssZ");
    parse_err("{\"environment\":\"P\",\"endTime\":42}", "endTime", NULL);
    parse_err("{\"environment\":\"P\",\"startTime\":\"2023-11-14T22:13:20.000Z\","
              "\"endTime\":\"2023-11-14T22:13:20.000Z\"}",
              "endTime", "endTime must be after startTime");
    parse_err("{\"environment\":\"P\",\"startTime\":\"2023-11-14T22:13:20.000Z\","
              "\"endTime\":\"2023-11-14T22:00:00.000Z\"}",
              "endTime", NULL);
    parse_err("{\"environment\":\"P\",\"duration\":-5}", "duration", NULL);
    parse_err("{\"environment\":\"P\",\"duration\":\"60\"}", "duration",
              "duration must be an integer");
    parse_err("{\"environment\":\"P\",\"duration\":1.5}", "duration", NULL);
    parse_err("{\"environment\":\"P\",\"duration\":99999999999999}", "duration", NULL);
}

/* ---- priority ---- */

static void prio(const char *fields, int want)
{
    char text[512];
    struct blackout *b;

    snprintf(text, sizeof(text), "{\"environment\":\"P\"%s%s}", *fields ? "," : "", fields);
    b = parse_ok(text, T0);
    if (b->priority != want || blackout_priority(b) != want)
        fail_msg("priority %d, expected %d, for %s", b->priority, want, text);
    blackout_free(b);
}

static void test_priority(void **state)
{
    (void)state;
    prio("", 1);
    /* 2: a resource without an event, whatever else (but origin) */
    prio("\"resource\":\"r\"", 2);
    prio("\"resource\":\"r\",\"service\":[\"s\"],\"group\":\"g\",\"tags\":[\"t\"]", 2);
    /* 3: a service, unless resource-without-event came first */
    prio("\"service\":[\"s\"]", 3);
    prio("\"service\":[\"s\"],\"event\":\"e\"", 3);
    prio("\"service\":[\"s\"],\"resource\":\"r\",\"event\":\"e\"", 3);
    prio("\"service\":[\"s\"],\"group\":\"g\",\"tags\":[\"t\"]", 3);
    /* 4: an event without a resource */
    prio("\"event\":\"e\"", 4);
    prio("\"event\":\"e\",\"group\":\"g\",\"tags\":[\"t\"]", 4);
    /* 5: a group */
    prio("\"group\":\"g\"", 5);
    prio("\"group\":\"g\",\"tags\":[\"t\"]", 5);
    prio("\"group\":\"g\",\"resource\":\"r\",\"event\":\"e\"", 5);
    /* 6: resource and event */
    prio("\"resource\":\"r\",\"event\":\"e\"", 6);
    prio("\"resource\":\"r\",\"event\":\"e\",\"tags\":[\"t\"]", 6);
    /* 7: tags only */
    prio("\"tags\":[\"t\"]", 7);
    /* 8: an origin, whatever else */
    prio("\"origin\":\"o\"", 8);
    prio("\"origin\":\"o\",\"resource\":\"r\",\"event\":\"e\",\"service\":[\"s\"]", 8);
    /* empty values count as unset, as Python's truthiness; customer never counts */
    prio("\"resource\":\"\",\"event\":\"\",\"group\":\"\",\"origin\":\"\",\"service\":[],"
         "\"tags\":[],\"customer\":\"c\"",
         1);
}

/* ---- status ---- */

static void test_status_boundaries(void **state)
{
    struct blackout *b;

    (void)state;
    b = parse_ok("{\"environment\":\"P\",\"startTime\":\"2023-11-14T22:23:20.000Z\","
                 "\"duration\":600}",
                 T0); /* starts at T0 + 10 min, ends at T0 + 20 min */
    assert_int_equal(blackout_status(b, T0), BLACKOUT_PENDING);
    assert_int_equal(blackout_remaining_s(b, T0), 600);
    assert_int_equal(blackout_status(b, T0 + 10 * MIN - 1), BLACKOUT_PENDING);
    assert_int_equal(blackout_status(b, T0 + 10 * MIN), BLACKOUT_ACTIVE);
    assert_int_equal(blackout_remaining_s(b, T0 + 10 * MIN), 600);
    assert_int_equal(blackout_remaining_s(b, T0 + 10 * MIN + 1), 599);
    assert_int_equal(blackout_status(b, T0 + 20 * MIN - 1), BLACKOUT_ACTIVE);
    assert_int_equal(blackout_remaining_s(b, T0 + 20 * MIN - 1), 0);
    assert_int_equal(blackout_status(b, T0 + 20 * MIN), BLACKOUT_EXPIRED);
    assert_int_equal(blackout_remaining_s(b, T0 + 20 * MIN), 0);
    assert_int_equal(blackout_remaining_s(b, T0 + 99 * MIN), 0);
    blackout_free(b);
    assert_string_equal(blackout_status_name(BLACKOUT_ACTIVE), "active");
    assert_string_equal(blackout_status_name(-1), "unknown");
    assert_int_equal(blackout_status_parse("pending"), BLACKOUT_PENDING);
    assert_int_equal(blackout_status_parse("Pending"), -1);
}

/* ---- matching ---- */

static void test_match_fields(void **state)
{
    struct fixture fx;
    struct subj x;

    (void)state;
    setup_fx(&fx, NULL);
    add(&fx, "{\"environment\":\"Development\"}", T0, "env");
    add(&fx, "{\"environment\":\"P\",\"resource\":\"r1\"}", T0, "res");
    add(&fx, "{\"environment\":\"P\",\"event\":\"e1\"}", T0, "ev");
    add(&fx, "{\"environment\":\"P\",\"group\":\"g1\"}", T0, "grp");
    add(&fx, "{\"environment\":\"P\",\"origin\":\"o1\"}", T0, "orig");
    add(&fx, "{\"environment\":\"P\",\"service\":[\"Network\",\"Web\"]}", T0, "svc");
    add(&fx, "{\"environment\":\"P\",\"tags\":[\"system:web01\",\"switch:off\"]}", T0, "tags");
    add(&fx, "{\"environment\":\"P\",\"resource\":\"r2\",\"event\":\"e2\",\"group\":\"g2\"}", T0,
        "combo");

    /* environment only: everything in it, nothing elsewhere */
    subj_init(&x, "Development", "any", "any", T0);
    assert_string_equal(match_id(&fx, &x), "env");
    subj_init(&x, "development", "any", "any", T0);
    assert_string_equal(match_id(&fx, &x), "-");
    subj_init(&x, "P", "any", "any", T0);
    assert_string_equal(match_id(&fx, &x), "-");
    /* each scalar field: equal or not */
    subj_init(&x, "P", "r1", "x", T0);
    assert_string_equal(match_id(&fx, &x), "res");
    subj_init(&x, "P", "R1", "x", T0);
    assert_string_equal(match_id(&fx, &x), "-");
    subj_init(&x, "P", "x", "e1", T0);
    assert_string_equal(match_id(&fx, &x), "ev");
    subj_init(&x, "P", "x", "x", T0);
    x.s.group = "g1";
    assert_string_equal(match_id(&fx, &x), "grp");
    subj_init(&x, "P", "x", "x", T0);
    x.s.origin = "o1";
    assert_string_equal(match_id(&fx, &x), "orig");
    /* every non-null field must be equal */
    subj_init(&x, "P", "r2", "e2", T0);
    assert_string_equal(match_id(&fx, &x), "-");
    x.s.group = "g2";
    assert_string_equal(match_id(&fx, &x), "combo");
    x.s.event = "e3";
    assert_string_equal(match_id(&fx, &x), "-");
    /* the blackout's service is a subset of the alert's */
    subj_init(&x, "P", "x", "x", T0);
    subj_service(&x, "Core");
    subj_service(&x, "Web");
    assert_string_equal(match_id(&fx, &x), "-");
    subj_service(&x, "Network");
    assert_string_equal(match_id(&fx, &x), "svc");
    /* and so are its tags */
    subj_init(&x, "P", "x", "x", T0);
    subj_tag(&x, "level=20");
    subj_tag(&x, "switch:off");
    assert_string_equal(match_id(&fx, &x), "-");
    subj_tag(&x, "system:web01");
    assert_string_equal(match_id(&fx, &x), "tags");
    teardown_fx(&fx);

    /* Alerta's test_combination_blackout: resource with services, then group with tags */
    setup_fx(&fx, NULL);
    add(&fx,
        "{\"environment\":\"Production\",\"resource\":\"node404\","
        "\"service\":[\"Network\",\"Web\"]}",
        T0, "b1");
    subj_init(&x, "Production", "node404", "node_down", T0);
    subj_service(&x, "Core");
    subj_service(&x, "Web");
    subj_service(&x, "Network");
    assert_string_equal(match_id(&fx, &x), "b1");
    x.s.resource = "node405";
    assert_string_equal(match_id(&fx, &x), "-");
    teardown_fx(&fx);
}

static void test_match_time_and_customers(void **state)
{
    struct blackout_config cfg;
    struct fixture fx;
    struct subj x;

    (void)state;
    setup_fx(&fx, NULL);
    add(&fx,
        "{\"environment\":\"P\",\"startTime\":\"2023-11-14T22:23:20.000Z\",\"duration\":600,"
        "\"customer\":\"acme\"}",
        T0, "b");
    /* start <= createTime < end */
    subj_init(&x, "P", "r", "e", T0 + 10 * MIN - 1);
    assert_string_equal(match_id(&fx, &x), "-");
    x.s.time_ms = T0 + 10 * MIN;
    assert_string_equal(match_id(&fx, &x), "b");
    x.s.time_ms = T0 + 20 * MIN - 1;
    assert_string_equal(match_id(&fx, &x), "b");
    x.s.time_ms = T0 + 20 * MIN;
    assert_string_equal(match_id(&fx, &x), "-");
    /* without CUSTOMER_VIEWS the customer plays no part */
    x.s.time_ms = T0 + 15 * MIN;
    x.s.customer = "other";
    assert_string_equal(match_id(&fx, &x), "b");
    teardown_fx(&fx);

    blackout_config_default(&cfg);
    cfg.customer_views = true;
    setup_fx(&fx, &cfg);
    add(&fx, "{\"environment\":\"P\",\"customer\":\"acme\"}", T0, "acme");
    subj_init(&x, "P", "r", "e", T0);
    assert_string_equal(match_id(&fx, &x), "-"); /* no customer: customer=NULL is false */
    x.s.customer = "other";
    assert_string_equal(match_id(&fx, &x), "-");
    x.s.customer = "acme";
    assert_string_equal(match_id(&fx, &x), "acme");
    add(&fx, "{\"environment\":\"P\"}", T0, "all");
    x.s.customer = "other";
    assert_string_equal(match_id(&fx, &x), "all"); /* customer IS NULL covers everyone */
    x.s.customer = NULL;
    assert_string_equal(match_id(&fx, &x), "all");
    teardown_fx(&fx);
}

static void test_match_alert_in(void **state)
{
    struct fixture fx;
    struct alert_in in;
    struct blackout_subject s;
    struct blackout_defaults d = {"Production", NULL, "adapter/x", "tenant"};
    const char *svc[] = {"Web"};

    (void)state;
    setup_fx(&fx, NULL);
    add(&fx, "{\"environment\":\"Production\",\"group\":\"Misc\",\"origin\":\"adapter/x\"}", T0,
        "b");
    alert_in_init(&in);
    in.resource = "r";
    in.event = "e";
    in.service = (struct strlist){svc, 1};
    in.customer = "sent";
    blackout_subject_from_in(&s, &in, &d, T0 + 5);
    assert_string_equal(s.environment, "Production");
    assert_string_equal(s.group, "Misc");
    assert_string_equal(s.origin, "adapter/x");
    assert_string_equal(s.customer, "tenant");
    assert_int_equal(s.service.n, 1);
    assert_int_equal(s.time_ms, T0 + 5);
    assert_string_equal(blackout_match(fx.s, &s)->id, "b");

    /* Alerta's defaults without the server's: environment "" matches nothing here */
    blackout_subject_from_in(&s, &in, NULL, T0);
    assert_string_equal(s.environment, "");
    assert_string_equal(s.origin, "");
    assert_string_equal(s.customer, "sent");
    assert_null(blackout_match(fx.s, &s));

    /* the alert's own createTime is what counts: a back-dated alert inside an expired blackout
     * is still covered, and one created before it is not */
    in.environment = "Production";
    in.origin = "adapter/x";
    in.create_ms = T0 + 30 * MIN;
    blackout_subject_from_in(&s, &in, NULL, T0 + 5 * 3600000LL);
    assert_non_null(blackout_match(fx.s, &s));
    in.create_ms = T0 - 1;
    blackout_subject_from_in(&s, &in, NULL, T0 + 10);
    assert_null(blackout_match(fx.s, &s));
    teardown_fx(&fx);
}

static void test_subject_from_alert(void **state)
{
    struct alert a;
    struct ablob_parts p;
    struct blackout_subject s;
    struct arena ar;
    struct fixture fx;

    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&p, 0, sizeof(p));
    p.f[AF_RESOURCE] = (struct aview){"node404", 7, 0, false};
    p.f[AF_EVENT] = (struct aview){"node_down", 9, 0, false};
    p.f[AF_ENVIRONMENT] = (struct aview){"Production", 10, 0, false};
    p.f[AF_GROUP] = (struct aview){"Network", 7, 0, false};
    p.f[AF_ORIGIN] = (struct aview){"agent", 5, 0, false};
    p.f[AF_CUSTOMER] = (struct aview){NULL, 0, 0, true};
    p.f[AF_SERVICE] = (struct aview){"Core\0Web\0Network", 17, 3, false};
    p.f[AF_TAGS] = (struct aview){"switch:off", 11, 1, false};
    assert_int_equal(alert_set_blob(&a, &p), TOCSIN_OK);
    arena_init(&ar, 1 << 16);
    assert_int_equal(blackout_subject_from_alert(&s, &a, T0, &ar), TOCSIN_OK);
    assert_string_equal(s.resource, "node404");
    assert_string_equal(s.environment, "Production");
    assert_string_equal(s.group, "Network");
    assert_null(s.customer);
    assert_int_equal(s.service.n, 3);
    assert_string_equal(s.service.v[2], "Network");
    assert_int_equal(s.tags.n, 1);
    assert_string_equal(s.tags.v[0], "switch:off");
    setup_fx(&fx, NULL);
    add(&fx,
        "{\"environment\":\"Production\",\"service\":[\"Web\",\"Network\"],"
        "\"tags\":[\"switch:off\"],\"group\":\"Network\"}",
        T0, "b");
    assert_non_null(blackout_match(fx.s, &s));
    teardown_fx(&fx);
    arena_free(&ar);
    free(a.blob);
}

/* ---- the plugin's decision ---- */

static enum blackout_decision decide(struct fixture *fx, const char *severity)
{
    struct alert_in in;
    const struct blackout *b = NULL;
    enum blackout_decision d;

    alert_in_init(&in);
    in.resource = "r";
    in.event = "e";
    in.environment = "Production";
    in.severity = severity ? sevmap_find(&fx->m, severity, strlen(severity)) : -1;
    d = blackout_decide(fx->s, &fx->m, &in, NULL, T0 + 1, &b);
    assert_true(d == BLACKOUT_PASS ? b == NULL : b != NULL);
    return d;
}

static void test_decide_policies(void **state)
{
    struct blackout_config cfg;
    struct fixture fx;

    (void)state;
    /* NOTIFICATION_BLACKOUT = False (Alerta's default): dropped, 202 */
    blackout_config_default(&cfg);
    assert_false(cfg.notification_blackout);
    cfg.naccept = 2;
    snprintf(cfg.accept[0], SEV_NAME_MAX, "normal");
    snprintf(cfg.accept[1], SEV_NAME_MAX, "ok");
    setup_fx(&fx, &cfg);
    assert_int_equal(decide(&fx, "major"), BLACKOUT_PASS); /* no blackout yet */
    add(&fx, "{\"environment\":\"Production\"}", T0, "b");
    assert_int_equal(decide(&fx, "major"), BLACKOUT_DROP);
    assert_int_equal(decide(&fx, "ok"), BLACKOUT_PASS); /* BLACKOUT_ACCEPT */
    assert_int_equal(decide(&fx, "normal"), BLACKOUT_PASS);
    assert_int_equal(decide(&fx, NULL), BLACKOUT_PASS);      /* the default is "normal" */
    assert_int_equal(decide(&fx, "cleared"), BLACKOUT_DROP); /* names, not codes */
    teardown_fx(&fx);

    /* NOTIFICATION_BLACKOUT = True: kept with status blackout; BLACKOUT_ACCEPT plays no part */
    cfg.notification_blackout = true;
    setup_fx(&fx, &cfg);
    add(&fx, "{\"environment\":\"Production\"}", T0, "b");
    assert_int_equal(decide(&fx, "major"), BLACKOUT_SUPPRESS);
    assert_int_equal(decide(&fx, "ok"), BLACKOUT_SUPPRESS);
    assert_int_equal(blackout_set_delete(fx.s, "b", T0 + 2), TOCSIN_OK);
    assert_int_equal(decide(&fx, "major"), BLACKOUT_PASS);
    teardown_fx(&fx);
}

/* ---- events ---- */

static void test_events(void **state)
{
    struct fixture fx;
    struct verr err;
    struct subj x;
    json_t *j;

    (void)state;
    setup_fx(&fx, NULL);
    /* pending: started and ended by the timers */
    add(&fx, "{\"environment\":\"P\",\"startTime\":\"2023-11-14T22:23:20.000Z\",\"duration\":60}",
        T0, "p");
    /* active at once: STARTED from add */
    add(&fx, "{\"environment\":\"P\",\"duration\":300}", T0, "a");
    expect_events(&fx.ev, "S:a@0");
    assert_int_equal(timer_wheel_count(fx.wheel), 3);
    timer_wheel_advance(fx.wheel, T0 + 5 * MIN - 1, NULL);
    expect_events(&fx.ev, "");
    timer_wheel_advance(fx.wheel, T0 + 5 * MIN, NULL);
    expect_events(&fx.ev, "E:a@300");
    timer_wheel_advance(fx.wheel, T0 + 10 * MIN, NULL);
    expect_events(&fx.ev, "S:p@600");
    timer_wheel_advance(fx.wheel, T0 + 11 * MIN, NULL);
    expect_events(&fx.ev, "E:p@660");
    assert_int_equal(timer_wheel_count(fx.wheel), 0);
    /* after the end, the re-evaluation finds nothing covering the alert any more */
    subj_init(&x, "P", "r", "e", T0 + 11 * MIN);
    assert_string_equal(match_id(&fx, &x), "-");

    /* delete: ENDED only if it was active */
    add(&fx, "{\"environment\":\"P\",\"duration\":300}", T0 + 11 * MIN, "d1");
    add(&fx, "{\"environment\":\"P\",\"startTime\":\"2030-01-01T00:00:00Z\"}", T0 + 11 * MIN, "d2");
    expect_events(&fx.ev, "S:d1@660");
    assert_int_equal(blackout_set_delete(fx.s, "d1", T0 + 12 * MIN), TOCSIN_OK);
    assert_int_equal(blackout_set_delete(fx.s, "d2", T0 + 12 * MIN), TOCSIN_OK);
    assert_int_equal(blackout_set_delete(fx.s, "d2", T0 + 12 * MIN), TOCSIN_ENOTFOUND);
    expect_events(&fx.ev, "E:d1@720");
    assert_int_equal(timer_wheel_count(fx.wheel), 0);

    /* update: a change while active is an end and a start; text alone is nothing; moving the
     * end into the past ends it; moving the start into the past starts it */
    add(&fx, "{\"environment\":\"P\",\"duration\":3600}", T0 + 12 * MIN, "u");
    add(&fx, "{\"environment\":\"P\",\"startTime\":\"2030-01-01T00:00:00Z\"}", T0 + 12 * MIN, "v");
    expect_events(&fx.ev, "S:u@720");
    memset(&err, 0, sizeof(err));
    j = load("{\"text\":\"still down\"}");
    assert_int_equal(blackout_set_update(fx.s, "u", j, "ops", T0 + 13 * MIN, &err), TOCSIN_OK);
    json_decref(j);
    expect_events(&fx.ev, "");
    j = load("{\"resource\":\"r\"}");
    assert_int_equal(blackout_set_update(fx.s, "u", j, NULL, T0 + 13 * MIN, &err), TOCSIN_OK);
    json_decref(j);
    expect_events(&fx.ev, "E:u@780 S:u@780");
    j = load("{\"endTime\":\"2023-11-14T22:26:20.000Z\"}"); /* T0 + 13 min */
    assert_int_equal(blackout_set_update(fx.s, "u", j, NULL, T0 + 14 * MIN, &err), TOCSIN_OK);
    json_decref(j);
    expect_events(&fx.ev, "E:u@840");
    j = load("{\"startTime\":\"2023-11-14T22:13:20.000Z\"}");
    assert_int_equal(blackout_set_update(fx.s, "v", j, NULL, T0 + 14 * MIN, &err), TOCSIN_OK);
    json_decref(j);
    expect_events(&fx.ev, "S:v@840");
    /* the end timer follows the update */
    timer_wheel_advance(fx.wheel, T0 + 14 * MIN, NULL);
    expect_events(&fx.ev, "");
    teardown_fx(&fx);
}

static void on_event_delete(void *ud, int ev, const struct blackout *b, int64_t at)
{
    struct blackout_set **s = ud;

    (void)at;
    if (ev == BLACKOUT_ENDED)
        assert_int_equal(blackout_set_delete(*s, b->id, at), TOCSIN_OK);
}

static void test_timer_callback_may_delete(void **state)
{
    struct blackout_config cfg;
    struct timer_wheel *w = timer_wheel_new(T0);
    struct blackout_set *s;
    struct verr err;

    (void)state;
    blackout_config_default(&cfg);
    s = blackout_set_new(&cfg, w, on_event_delete, &s);
    memset(&err, 0, sizeof(err));
    assert_int_equal(
        blackout_set_add(s, parse_ok("{\"environment\":\"P\",\"duration\":1}", T0), "a", T0, &err),
        TOCSIN_OK);
    assert_int_equal(
        blackout_set_add(s, parse_ok("{\"environment\":\"P\",\"duration\":1}", T0), "b", T0, &err),
        TOCSIN_OK);
    timer_wheel_advance(w, T0 + 1000, NULL);
    assert_int_equal(blackout_set_count(s), 0);
    blackout_set_free(s);
    timer_wheel_free(w);
}

/* ---- update ---- */

static void test_update(void **state)
{
    struct fixture fx;
    struct blackout *b;
    struct verr err;
    struct subj x;
    json_t *j;
    char *before, *after;

    (void)state;
    setup_fx(&fx, NULL);
    /* Alerta's test_edit_blackout */
    b = add(&fx,
            "{\"environment\":\"Production\",\"resource\":\"node404\","
            "\"service\":[\"Network\",\"Web\"],\"startTime\":\"2019-01-01T00:00:00.000Z\","
            "\"endTime\":\"2049-12-31T23:59:59.999Z\",\"event\":\"e\",\"tags\":[\"t\"]}",
            T0, "b");
    assert_int_equal(b->priority, 3);
    j = load("{\"environment\":\"Development\",\"event\":null,\"tags\":[],"
             "\"endTime\":\"2099-12-31T23:59:59.999Z\"}");
    memset(&err, 0, sizeof(err));
    assert_int_equal(blackout_set_update(fx.s, "b", j, "admin@alerta.io", T0, &err), TOCSIN_OK);
    json_decref(j);
    assert_string_equal(b->environment, "Development");
    assert_string_equal(b->resource, "node404");
    assert_int_equal(b->nservice, 2);
    assert_null(b->event);
    assert_int_equal(b->ntags, 0);
    assert_null(b->group);
    assert_string_equal(b->user, "admin@alerta.io");
    assert_int_equal(b->priority, 2); /* recomputed: a resource without an event */
    {
        json_t *o = blackout_to_json(b, T0, NULL);
        assert_string_equal(json_string_value(json_object_get(o, "startTime")),
                            "2019-01-01T00:00:00.000Z");
        assert_string_equal(json_string_value(json_object_get(o, "endTime")),
                            "2099-12-31T23:59:59.999Z");
        json_decref(o);
    }
    /* the environment index follows */
    subj_init(&x, "Development", "node404", "node_marginal", T0);
    subj_service(&x, "Core");
    subj_service(&x, "Web");
    subj_service(&x, "Network");
    assert_string_equal(match_id(&fx, &x), "b");
    x.s.environment = "Production";
    assert_string_equal(match_id(&fx, &x), "-");

    /* null clears; service null is []; duration moves endTime from startTime */
    j = load("{\"resource\":null,\"service\":null,\"duration\":60,"
             "\"startTime\":\"2023-11-14T22:13:20.000Z\"}");
    assert_int_equal(blackout_set_update(fx.s, "b", j, NULL, T0, &err), TOCSIN_OK);
    json_decref(j);
    assert_null(b->resource);
    assert_int_equal(b->nservice, 0);
    assert_int_equal(b->start_ms, T0);
    assert_int_equal(b->end_ms, T0 + 60000);
    assert_int_equal(blackout_duration_s(b), 60);
    assert_string_equal(b->user, "admin@alerta.io"); /* COALESCE(user, "user") */
    assert_int_equal(b->priority, 1);

    /* errors change nothing */
    before = blackout_to_store(b);
    j = load("{}");
    memset(&err, 0, sizeof(err));
    assert_int_equal(blackout_set_update(fx.s, "b", j, NULL, T0, &err), TOCSIN_EINVAL);
    assert_string_equal(err.msg, "nothing to change");
    json_decref(j);
    j = load("{\"resource\":\"x\",\"environment\":\"Other\",\"endTime\":\"2020-01-01T00:00:00Z\"}");
    memset(&err, 0, sizeof(err));
    assert_int_equal(blackout_set_update(fx.s, "b", j, "u", T0, &err), TOCSIN_EINVAL);
    assert_string_equal(err.field, "endTime");
    json_decref(j);
    j = load("{\"resource\":\"x\",\"environment\":\"\"}");
    memset(&err, 0, sizeof(err));
    assert_int_equal(blackout_set_update(fx.s, "b", j, NULL, T0, &err), TOCSIN_EINVAL);
    assert_string_equal(err.field, "environment");
    json_decref(j);
    j = load("{\"tags\":\"t\"}");
    memset(&err, 0, sizeof(err));
    assert_int_equal(blackout_set_update(fx.s, "b", j, NULL, T0, &err), TOCSIN_EINVAL);
    assert_string_equal(err.field, "tags");
    json_decref(j);
    after = blackout_to_store(b);
    assert_string_equal(before, after);
    free(before);
    free(after);
    x.s.environment = "Other";
    assert_string_equal(match_id(&fx, &x), "-");

    j = load("{\"text\":\"x\"}");
    memset(&err, 0, sizeof(err));
    assert_int_equal(blackout_set_update(fx.s, "nope", j, NULL, T0, &err), TOCSIN_ENOTFOUND);
    assert_int_equal(err.status, 404);
    json_decref(j);
    teardown_fx(&fx);
}

/* ---- bound, JSON, stored form, lists ---- */

static void test_limits(void **state)
{
    struct blackout_config cfg;
    struct fixture fx;
    struct verr err;

    (void)state;
    blackout_config_default(&cfg);
    cfg.max_count = 2;
    setup_fx(&fx, &cfg);
    add(&fx, "{\"environment\":\"P\"}", T0, "1");
    add(&fx, "{\"environment\":\"Q\"}", T0, "2");
    memset(&err, 0, sizeof(err));
    assert_int_equal(blackout_set_add(fx.s, parse_ok("{\"environment\":\"P\"}", T0), "3", T0, &err),
                     TOCSIN_ETOOBIG);
    assert_int_equal(err.status, 413);
    assert_int_equal(blackout_set_delete(fx.s, "2", T0), TOCSIN_OK);
    memset(&err, 0, sizeof(err));
    assert_int_equal(
        blackout_set_add(fx.s, parse_ok("{\"environment\":\"P\",\"id\":\"1\"}", T0), "3", T0, &err),
        TOCSIN_EEXIST);
    assert_int_equal(err.status, 409);
    memset(&err, 0, sizeof(err));
    assert_int_equal(
        blackout_set_add(fx.s, parse_ok("{\"environment\":\"P\"}", T0), NULL, T0, &err),
        TOCSIN_EINVAL);
    assert_int_equal(blackout_set_count(fx.s), 1);
    expect_events(&fx.ev, "S:1@0 S:2@0 E:2@0");
    teardown_fx(&fx);
}

static void test_json_and_store(void **state)
{
    struct fixture fx, fy;
    struct blackout *b;
    struct verr err;
    json_t *j;
    char *s, *s2;

    (void)state;
    setup_fx(&fx, NULL);
    b = add(&fx,
            "{\"environment\":\"Production\",\"service\":[\"Web\"],\"group\":\"Net\","
            "\"startTime\":\"2023-11-14T22:23:20.000Z\",\"duration\":600,\"user\":\"ops\","
            "\"text\":\"upgrade\"}",
            T0, "bid");
    j = blackout_to_json(b, T0 + 15 * MIN, "http://h/api");
    s = json_dumps(j, JSON_COMPACT);
    assert_string_equal(s, "{\"id\":\"bid\",\"href\":\"http://h/api/blackout/bid\","
                           "\"priority\":3,\"environment\":\"Production\",\"service\":[\"Web\"],"
                           "\"resource\":null,\"event\":null,\"group\":\"Net\",\"tags\":[],"
                           "\"origin\":null,\"customer\":null,"
                           "\"startTime\":\"2023-11-14T22:23:20.000Z\","
                           "\"endTime\":\"2023-11-14T22:33:20.000Z\",\"duration\":600,"
                           "\"status\":\"active\",\"remaining\":300,\"user\":\"ops\","
                           "\"createTime\":\"2023-11-14T22:13:20.000Z\",\"text\":\"upgrade\"}");
    free(s);
    json_decref(j);
    j = blackout_to_json(b, T0, NULL);
    assert_null(json_object_get(j, "href"));
    assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
    assert_int_equal(json_integer_value(json_object_get(j, "remaining")), 600);
    json_decref(j);

    s = blackout_to_store(b);
    assert_string_equal(s, "{\"id\":\"bid\",\"priority\":3,\"environment\":\"Production\","
                           "\"service\":[\"Web\"],\"resource\":null,\"event\":null,"
                           "\"group\":\"Net\",\"tags\":[],\"origin\":null,\"customer\":null,"
                           "\"startTime\":\"2023-11-14T22:23:20.000Z\","
                           "\"endTime\":\"2023-11-14T22:33:20.000Z\",\"duration\":600,"
                           "\"user\":\"ops\",\"createTime\":\"2023-11-14T22:13:20.000Z\","
                           "\"text\":\"upgrade\"}");

    /* load: no events, timers only for what is to come */
    setup_fx(&fy, NULL);
    memset(&err, 0, sizeof(err));
    assert_int_equal(blackout_set_load(fy.s, s, strlen(s), T0 + 15 * MIN, &err), TOCSIN_OK);
    expect_events(&fy.ev, "");
    assert_int_equal(timer_wheel_count(fy.wheel), 1); /* the end */
    s2 = blackout_to_store(blackout_set_get(fy.s, "bid"));
    assert_string_equal(s, s2);
    free(s2);
    timer_wheel_advance(fy.wheel, T0 + 20 * MIN, NULL);
    expect_events(&fy.ev, "E:bid@1200");
    teardown_fx(&fy);
    setup_fx(&fy, NULL);
    assert_int_equal(blackout_set_load(fy.s, s, strlen(s), T0 + 30 * MIN, &err), TOCSIN_OK);
    assert_int_equal(timer_wheel_count(fy.wheel), 0);
    assert_int_equal(blackout_set_count(fy.s), 1);
    /* bad stored forms */
    memset(&err, 0, sizeof(err));
    assert_int_equal(blackout_set_load(fy.s, "nope", 4, T0, &err), TOCSIN_EINVAL);
    assert_string_equal(err.field, "body");
    memset(&err, 0, sizeof(err));
    assert_int_equal(blackout_set_load(fy.s, "{\"environment\":\"P\"}", 19, T0, &err),
                     TOCSIN_EINVAL);
    assert_string_equal(err.field, "id");
    memset(&err, 0, sizeof(err));
    assert_int_equal(blackout_set_load(fy.s, "{\"environment\":\"P\",\"id\":\"x\"}", 28, T0, &err),
                     TOCSIN_EINVAL);
    assert_string_equal(err.field, "startTime");
    teardown_fx(&fy);
    free(s);
    teardown_fx(&fx);
}

static void check_order(struct fixture *fx, const struct blackout_query *q, int64_t now,
                        const char *want)
{
    struct blackout **v;
    size_t n;
    char got[256] = "";

    assert_int_equal(blackout_list(fx->s, q, now, &v, &n), TOCSIN_OK);
    for (size_t i = 0; i < n; i++) {
        strcat(got, v[i]->id);
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
    struct blackout_query q;
    struct blackout_sort sort[BLACKOUT_SORT_MAX];
    struct verr err;
    size_t ns;
    const char *by_prio[] = {"priority"}, *by_start[] = {"startTime"}, *by_rem[] = {"-remaining"},
               *by_res[] = {"resource", "-priority"}, *bad[] = {"origin"};
    const char *custs[] = {"acme"};

    (void)state;
    setup_fx(&fx, NULL);
    add(&fx, "{\"environment\":\"P\",\"event\":\"e\",\"duration\":100}", T0, "x"); /* 4 */
    add(&fx,
        "{\"environment\":\"P\",\"resource\":\"r\",\"customer\":\"acme\","
        "\"startTime\":\"2023-11-14T22:23:20.000Z\"}",
        T0, "y"); /* 2, pending */
    add(&fx, "{\"environment\":\"P\",\"duration\":50,\"startTime\":\"2023-11-14T22:00:00.000Z\"}",
        T0, "z"); /* 1, expired (ended 22:00:50) */
    memset(&q, 0, sizeof(q));
    check_order(&fx, &q, T0, "x,y,z");
    memset(&err, 0, sizeof(err));
    assert_int_equal(blackout_sort_parse(by_prio, 1, sort, &ns, &err), TOCSIN_OK);
    q.sort = sort;
    q.nsort = ns;
    check_order(&fx, &q, T0, "z,y,x");
    assert_int_equal(blackout_sort_parse(by_start, 1, sort, &ns, &err), TOCSIN_OK);
    check_order(&fx, &q, T0, "y,x,z"); /* descending by default */
    assert_int_equal(blackout_sort_parse(by_rem, 1, sort, &ns, &err), TOCSIN_OK);
    check_order(&fx, &q, T0, "z,x,y"); /* "-" on a descending field: ascending */
    assert_int_equal(blackout_sort_parse(by_res, 2, sort, &ns, &err), TOCSIN_OK);
    q.nsort = ns;
    check_order(&fx, &q, T0, "y,x,z"); /* NULL resources last, then priority descending */
    assert_int_equal(blackout_sort_parse(bad, 1, sort, &ns, &err), TOCSIN_EINVAL);
    assert_string_equal(err.msg, "Sorting by 'origin' field not supported.");

    memset(&q, 0, sizeof(q));
    q.status_mask = 1u << BLACKOUT_ACTIVE;
    check_order(&fx, &q, T0, "x");
    q.status_mask = 1u << BLACKOUT_PENDING | 1u << BLACKOUT_EXPIRED;
    check_order(&fx, &q, T0, "y,z");
    memset(&q, 0, sizeof(q));
    q.customers = custs;
    q.ncustomers = 1;
    check_order(&fx, &q, T0, "y");
    teardown_fx(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_defaults),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_priority),
        cmocka_unit_test(test_status_boundaries),
        cmocka_unit_test(test_match_fields),
        cmocka_unit_test(test_match_time_and_customers),
        cmocka_unit_test(test_match_alert_in),
        cmocka_unit_test(test_subject_from_alert),
        cmocka_unit_test(test_decide_policies),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_timer_callback_may_delete),
        cmocka_unit_test(test_update),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_json_and_store),
        cmocka_unit_test(test_list),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
