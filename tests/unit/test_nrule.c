/* Unit tests for core/nrule: parsing and validation, the round trip, every rule feature on the
 * injected clock (kinds, order and continue, trigger rules, delay, grouping as Alertmanager's
 * dispatcher, throttle, periods across midnight, inhibition, idempotency keys, the state
 * snapshot, bounds). `test_nrule --bench` measures ns per change with 1,000 rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/alert.h"
#include "core/alertdb.h"
#include "core/match.h"
#include "core/nrule.h"
#include "util/err.h"
#include "util/tz.h"

#define T0 1700000000000LL
#define S 1000LL
#define M (60 * S)

struct fx {
    struct alertdb *db;
    struct effects fx;
    struct alertdb_cfg cfg;
    struct nrules *rs, *rs2; /* rs2: a second set fed the same changes (keys, snapshot) */
    struct nintents out, out2;
    int64_t now;
};

static const struct tz *tzl(void *ud, const char *name)
{
    (void)ud;
    return tz_get(name);
}

static const struct alert *find(void *ud, const uint8_t id[16])
{
    return alertdb_find(ud, id);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    alertdb_cfg_default(&f->cfg);
    f->now = T0;
    f->db = alertdb_new(&f->cfg, f->now);
    f->rs = nrules_new(&f->cfg.sev, f->now);
    effects_init(&f->fx);
    nintents_init(&f->out);
    nintents_init(&f->out2);
    *state = f;
    return f->db && f->rs ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    effects_free(&f->fx);
    nintents_free(&f->out);
    nintents_free(&f->out2);
    nrules_free(f->rs);
    nrules_free(f->rs2);
    alertdb_free(f->db);
    free(f);
    return 0;
}

static struct nrule *parse(const struct fx *f, const char *text, struct verr *e)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    struct nrule *r = NULL;

    if (!j)
        fail_msg("bad test JSON %s: %s", text, je.text);
    if (nrule_parse(j, &f->cfg.sev, tzl, NULL, &r, e) != TOCSIN_OK)
        r = NULL;
    json_decref(j);
    return r;
}

static void put_in(struct fx *f, struct nrules *rs, const char *text)
{
    struct verr e = {0};
    struct nrule *r = parse(f, text, &e);

    if (!r)
        fail_msg("rule %s: %s: %s", text, e.field, e.msg);
    assert_int_equal(nrules_put(rs, r), TOCSIN_OK);
}

static void put(struct fx *f, const char *text)
{
    put_in(f, f->rs, text);
    if (f->rs2)
        put_in(f, f->rs2, text);
}

/* Hands every alert change in the effects to the rule set(s), then empties the effects. */
static void feed(struct fx *f)
{
    for (size_t i = 0; i < f->fx.n; i++) {
        const struct alert_change *c = f->fx.v[i].u.achange;
        if (f->fx.v[i].kind != EFF_ACHANGE)
            continue;
        nrules_on_change(f->rs, c->snap, c, f->now, &f->out);
        if (f->rs2)
            nrules_on_change(f->rs2, c->snap, c, f->now, &f->out2);
    }
    effects_clear(&f->fx);
}

static void clear(struct fx *f)
{
    nintents_clear(&f->out);
    nintents_clear(&f->out2);
}

struct in_opts {
    const char *env, *team, *origin;
    const char *id; /* the sender's id for a new alert */
    int64_t starts_ms;
};

static struct alert *recv_o(struct fx *f, const char *res, const char *sev,
                            const struct in_opts *o)
{
    struct alert_in in;
    struct alert *a = NULL;
    struct kv labels[1];
    int k;

    alert_in_init(&in);
    in.resource = res;
    in.event = "Down";
    in.environment = o && o->env ? o->env : "Production";
    in.severity = sevmap_find(&f->cfg.sev, sev, strlen(sev));
    if (o && o->team) {
        labels[0] = (struct kv){"team", o->team};
        in.labels = (struct kvlist){labels, 1};
        in.flags |= AIN_LABELS;
    }
    if (o && o->origin)
        in.origin = o->origin;
    if (o)
        in.id = o->id;
    if (o)
        in.starts_ms = o->starts_ms;
    assert_int_equal(alertdb_receive(f->db, &in, "test", "test", NULL, false, f->now, &f->fx, &a,
                                     &k),
                     TOCSIN_OK);
    feed(f);
    return a;
}

static struct alert *recv(struct fx *f, const char *res, const char *sev)
{
    return recv_o(f, res, sev, NULL);
}

/* Deletes alert id and hands the delete to the rule set(s). */
static void del(struct fx *f, const uint8_t id[16])
{
    assert_int_equal(alertdb_delete(f->db, id, &f->fx), TOCSIN_OK);
    feed(f);
}

static void act(struct fx *f, struct alert *a, const char *action)
{
    char why[96];

    assert_int_equal(
        alertdb_action(f->db, a->id, action, "", -1, "op", f->now, &f->fx, why, sizeof(why)),
        TOCSIN_OK);
    feed(f);
}

static void advance(struct fx *f, int64_t to)
{
    f->now = to;
    nrules_advance(f->rs, to, find, f->db, &f->out);
    if (f->rs2)
        nrules_advance(f->rs2, to, find, f->db, &f->out2);
}

static struct nrules_stats stats(const struct fx *f)
{
    struct nrules_stats st;

    nrules_get_stats(f->rs, &st);
    return st;
}

/* ---- parsing -------------------------------------------------------------------------------- */

static void test_parse_defaults(void **state)
{
    struct fx *f = *state;
    struct verr e = {0};
    struct nrule *r = parse(f, "{\"id\":\"r1\",\"channels\":[\"c\"]}", &e);

    assert_non_null(r);
    assert_true(r->enabled);
    assert_false(r->cont);
    assert_true(r->send_resolved);
    assert_int_equal(r->priority, 0);
    assert_int_equal(r->on, CHG_BIT(CHG_CREATE) | CHG_BIT(CHG_REOPEN) | CHG_BIT(CHG_UNBLACKOUT) |
                                CHG_BIT(CHG_STATEINC) | CHG_BIT(CHG_STATEDEC) |
                                CHG_BIT(CHG_RESOLVE) | CHG_BIT(CHG_EXPIRE));
    assert_null(r->match);
    assert_int_equal(r->delay_ms, 0);
    assert_int_equal(r->group_wait_ms, 30 * S);
    assert_int_equal(r->group_interval_ms, 5 * M);
    assert_int_equal(r->repeat_interval_ms, 4 * 60 * M);
    assert_int_equal(r->ngroup_by, 0);
    assert_int_equal(r->throttle_count, 0);
    assert_null(r->inhibit_source);
    assert_null(r->trigger);
    nrule_free(r);
}

static void test_parse_roundtrip(void **state)
{
    struct fx *f = *state;
    struct verr e = {0};
    const char *full =
        "{\"id\":\"r-1\",\"name\":\"ops pager\",\"enabled\":false,\"priority\":-3,"
        "\"on\":[\"create\",\"close\",\"eventscount5\",\"ack\"],"
        "\"match\":[\"severity=~\\\"critical|major\\\"\",\"env!=\\\"dev\\\"\"],"
        "\"periods\":[{\"days\":[1,2,3,4,5],\"zoneId\":\"Europe/Paris\",\"beginHour\":79200,"
        "\"endHour\":21600}],"
        "\"delay\":\"5m\",\"group_by\":[\"labels.team\",\"environment\"],\"group_wait\":45,"
        "\"group_interval\":\"5m\",\"repeat_interval\":\"7m\","
        "\"throttle\":{\"count\":10,\"window\":\"1h\"},\"continue\":true,"
        "\"channels\":[\"slack-ops\",\"pd\"],\"send_resolved\":false,"
        "\"inhibit\":{\"source\":[[{\"field\":\"severity\",\"cond\":{\"type\":\"eq\","
        "\"value\":\"critical\"}}]],\"equal\":[\"environment\",\"resource\"]},"
        "\"trigger\":\"t1\"}";
    struct nrule *r = parse(f, full, &e), *r2;
    json_t *j, *j2;

    if (!r)
        fail_msg("%s: %s", e.field, e.msg);
    assert_false(r->enabled);
    assert_int_equal(r->priority, -3);
    assert_int_equal(r->neventscount, 1);
    assert_int_equal(r->eventscount[0], 5);
    assert_true(r->on & CHG_BIT(CHG_RESOLVE));
    assert_int_equal(r->group_wait_ms, 45 * S);
    assert_int_equal(r->repeat_interval_ms, 10 * M); /* rounded up to the interval */
    assert_int_equal(r->delay_ms, 5 * M);
    assert_int_equal(r->throttle_count, 10);
    assert_string_equal(r->trigger_origin, "trigger/t1");
    j = nrule_to_json(r);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "repeat_interval")), "10m");
    assert_string_equal(json_string_value(json_object_get(j, "group_wait")), "45s");
    /* group_by is kept sorted by name */
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "group_by"), 0)),
                        "environment");
    {
        char *txt = json_dumps(j, 0);
        r2 = parse(f, txt, &e);
        free(txt);
    }
    assert_non_null(r2);
    j2 = nrule_to_json(r2);
    assert_true(json_equal(j, j2));
    json_decref(j);
    json_decref(j2);
    nrule_free(r);
    nrule_free(r2);
}

static void test_parse_errors(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *json, *field;
    } cases[] = {
        {"{\"channels\":[\"c\"]}", "id"},
        {"{\"id\":\"a b\"}", "id"},
        {"{\"id\":\"r\",\"on\":[]}", "on"},
        {"{\"id\":\"r\",\"on\":[\"create\",\"bogus\"]}", "on[1]"},
        {"{\"id\":\"r\",\"on\":[\"eventscount1\"]}", "on[0]"},
        {"{\"id\":\"r\",\"on\":[\"eventscountx\"]}", "on[0]"},
        {"{\"id\":\"r\",\"match\":[[{\"field\":\"x\",\"cond\":{\"type\":\"gt\",\"value\":\"a\"}}]]}",
         "match[0][0].cond.value"},
        {"{\"id\":\"r\",\"match\":[\"a=b\",\"c\"]}", "match[1]"},
        {"{\"id\":\"r\",\"periods\":[{\"zoneId\":\"Mars/Olympus\"}]}", "periods[0].zoneId"},
        {"{\"id\":\"r\",\"periods\":[{\"beginHour\":90000}]}", "periods[0].beginHour"},
        {"{\"id\":\"r\",\"delay\":\"5x\"}", "delay"},
        {"{\"id\":\"r\",\"delay\":-1}", "delay"},
        {"{\"id\":\"r\",\"delay\":\"400d\"}", "delay"},
        {"{\"id\":\"r\",\"group_interval\":\"0s\"}", "group_interval"},
        {"{\"id\":\"r\",\"group_by\":[\"...\",\"a\"]}", "group_by[0]"},
        {"{\"id\":\"r\",\"group_by\":[\"a\",\"labels.a\"]}", "group_by[1]"},
        {"{\"id\":\"r\",\"throttle\":{\"count\":0,\"window\":\"1m\"}}", "throttle.count"},
        {"{\"id\":\"r\",\"throttle\":{\"count\":1,\"window\":\"x\"}}", "throttle.window"},
        {"{\"id\":\"r\",\"throttle\":{\"count\":1,\"window\":\"1m\",\"per\":1}}", "throttle.per"},
        {"{\"id\":\"r\",\"inhibit\":{}}", "inhibit.source"},
        {"{\"id\":\"r\",\"inhibit\":{\"source\":[\"a=b\",\"=\"]}}", "inhibit.source[1]"},
        {"{\"id\":\"r\",\"inhibit\":{\"source\":[\"a=b\"],\"equal\":[3]}}", "inhibit.equal[0]"},
        {"{\"id\":\"r\",\"channels\":[\"\"]}", "channels[0]"},
        {"{\"id\":\"r\",\"channels\":\"c\"}", "channels"},
        {"{\"id\":\"r\",\"foo\":1}", "foo"},
        {"{\"id\":\"r\",\"priority\":\"x\"}", "priority"},
        {"{\"id\":\"r\",\"enabled\":1}", "enabled"},
        {"{\"id\":\"r\",\"trigger\":\"\"}", "trigger"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct verr e = {0};
        struct nrule *r = parse(f, cases[i].json, &e);
        if (r)
            fail_msg("accepted %s", cases[i].json);
        if (strcmp(e.field, cases[i].field))
            fail_msg("%s: field \"%s\" (%s), expected \"%s\"", cases[i].json, e.field, e.msg,
                     cases[i].field);
    }
}

static void test_durations(void **state)
{
    int64_t ms;
    json_t *v;

    (void)state;
    v = json_string("1h30m");
    assert_true(nrule_duration_parse(v, &ms));
    assert_int_equal(ms, 90 * M);
    json_decref(v);
    v = json_string("1d");
    assert_true(nrule_duration_parse(v, &ms));
    assert_int_equal(ms, 86400 * S);
    json_decref(v);
    v = json_integer(30);
    assert_true(nrule_duration_parse(v, &ms));
    assert_int_equal(ms, 30 * S);
    json_decref(v);
    v = json_string("5");
    assert_false(nrule_duration_parse(v, &ms));
    json_decref(v);
    v = json_string("");
    assert_false(nrule_duration_parse(v, &ms));
    json_decref(v);
    v = json_real(1.5);
    assert_false(nrule_duration_parse(v, &ms));
    json_decref(v);
}

/* ---- ungrouped rules ------------------------------------------------------------------------ */

static void test_ungrouped_kinds(void **state)
{
    struct fx *f = *state;
    struct alert *a;

    put(f, "{\"id\":\"r\",\"channels\":[\"c1\",\"c2\"]}");
    put(f, "{\"id\":\"ec\",\"priority\":1,\"on\":[\"eventscount3\"],\"channels\":[\"c\"]}");
    a = recv(f, "h1", "major");
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.v[0].rule_id, "r");
    assert_int_equal(f->out.v[0].chg, CHG_CREATE);
    assert_int_equal(f->out.v[0].nchannels, 2);
    assert_string_equal(f->out.v[0].channels[1], "c2");
    assert_string_equal(f->out.v[0].group_key, "");
    assert_int_equal(f->out.v[0].nalerts, 1);
    assert_int_equal(f->out.v[0].nfiring, 1);
    assert_false(f->out.v[0].resolved);
    assert_memory_equal(f->out.v[0].alert_ids[0], a->id, 16);
    assert_int_equal(strlen(f->out.v[0].key), 64);
    clear(f);
    recv(f, "h1", "major"); /* 2nd event: r does not want eventscount; ec wants the 3rd */
    assert_int_equal(f->out.n, 0);
    recv(f, "h1", "major");
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.v[0].rule_id, "ec");
    assert_int_equal(f->out.v[0].chg, CHG_EVENTSCOUNT);
    clear(f);
    recv(f, "h1", "major");
    assert_int_equal(f->out.n, 0);
    recv(f, "h1", "critical");
    assert_int_equal(f->out.n, 1);
    assert_int_equal(f->out.v[0].chg, CHG_STATEINC);
    clear(f);
    act(f, a, "ack"); /* not in the default on */
    assert_int_equal(f->out.n, 0);
    act(f, a, "close");
    assert_int_equal(f->out.n, 1);
    assert_int_equal(f->out.v[0].chg, CHG_RESOLVE);
    assert_true(f->out.v[0].resolved);
    assert_int_equal(f->out.v[0].nfiring, 0);
    clear(f);
    act(f, a, "open");
    assert_int_equal(f->out.n, 1);
    assert_int_equal(f->out.v[0].chg, CHG_REOPEN);
    assert_int_equal(f->out.v[0].chg_mask, CHG_BIT(CHG_REOPEN) | CHG_BIT(CHG_STATEINC));
}

/* A rule that sent the firing sends the resolve although the closed alert (severity normal) no
 * longer matches; a rule that never sent it does not. */
static void test_owed_resolve(void **state)
{
    struct fx *f = *state;
    struct alert *a;

    put(f, "{\"id\":\"crit\",\"on\":[\"create\",\"resolve\"],\"continue\":true,"
           "\"match\":[\"severity=critical\"],\"channels\":[\"c\"]}");
    put(f, "{\"id\":\"late\",\"on\":[\"resolve\"],\"match\":[\"severity=critical\"],"
           "\"channels\":[\"c\"]}");
    a = recv(f, "h1", "critical");
    assert_int_equal(f->out.n, 1);
    clear(f);
    act(f, a, "close");
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.v[0].rule_id, "crit");
    assert_true(f->out.v[0].resolved);
    clear(f);
    act(f, a, "open");
    act(f, a, "close"); /* reopened: crit's on has no reopen, so nothing is owed */
    assert_int_equal(f->out.n, 0);
}

static void test_order_continue(void **state)
{
    struct fx *f = *state;

    put(f, "{\"id\":\"b\",\"channels\":[\"c\"]}");
    put(f, "{\"id\":\"a\",\"channels\":[\"c\"]}");
    put(f, "{\"id\":\"z\",\"priority\":-5,\"channels\":[\"c\"]}");
    put(f, "{\"id\":\"0\",\"priority\":-9,\"match\":[\"team=none\"],\"channels\":[\"c\"]}");
    recv(f, "h1", "major");
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.v[0].rule_id, "z");
    clear(f);
    put(f, "{\"id\":\"z\",\"priority\":-5,\"continue\":true,\"channels\":[\"c\"]}");
    recv(f, "h2", "major");
    assert_int_equal(f->out.n, 2);
    assert_string_equal(f->out.v[0].rule_id, "z");
    assert_string_equal(f->out.v[1].rule_id, "a"); /* same priority: by id */
    clear(f);
    /* a blackhole rule (no channels) matches and ends the walk */
    put(f, "{\"id\":\"hole\",\"priority\":-7,\"match\":[\"resource=h3\"]}");
    recv(f, "h3", "major");
    assert_int_equal(f->out.n, 0);
    assert_string_equal(nrules_at(f->rs, 0)->id, "0");
    assert_string_equal(nrules_at(f->rs, 1)->id, "hole");
    assert_null(nrules_at(f->rs, 5));
    assert_int_equal(nrules_del(f->rs, "hole"), TOCSIN_OK);
    assert_int_equal(nrules_del(f->rs, "hole"), TOCSIN_ENOTFOUND);
    assert_null(nrules_get(f->rs, "hole"));
    assert_non_null(nrules_get(f->rs, "a"));
}

static void test_trigger_rules(void **state)
{
    struct fx *f = *state;
    struct in_opts t1 = {.origin = "trigger/t1"}, t2 = {.origin = "trigger/t2"};

    put(f, "{\"id\":\"t\",\"trigger\":\"t1\",\"continue\":true,\"channels\":[\"c\"]}");
    put(f, "{\"id\":\"u\",\"match\":[\"environment=Production\"],\"channels\":[\"c\"]}");
    recv_o(f, "h1", "major", &t1);
    assert_int_equal(f->out.n, 2);
    assert_string_equal(f->out.v[0].rule_id, "t");
    assert_string_equal(f->out.v[1].rule_id, "u");
    clear(f);
    recv_o(f, "h2", "major", &t2);
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.v[0].rule_id, "u");
    clear(f);
    recv(f, "h3", "major");
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.v[0].rule_id, "u");
}

static void test_delay(void **state)
{
    struct fx *f = *state;
    struct alert *a, *b, *c;
    char key[65];

    put(f, "{\"id\":\"d\",\"delay\":\"5m\",\"match\":[\"severity=~\\\"major|critical\\\"\"],"
           "\"on\":[\"create\",\"stateinc\",\"statedec\",\"resolve\"],\"channels\":[\"c\"]}");
    a = recv(f, "h1", "major");
    assert_int_equal(f->out.n, 0);
    assert_true(nrules_next_deadline(f->rs) <= T0 + 5 * M);
    f->now = T0 + M;
    recv(f, "h1", "critical"); /* only updates the pending kind */
    advance(f, T0 + 5 * M - 1);
    assert_int_equal(f->out.n, 0);
    advance(f, T0 + 5 * M);
    assert_int_equal(f->out.n, 1);
    assert_memory_equal(f->out.v[0].alert_ids[0], a->id, 16);
    assert_int_equal(f->out.v[0].chg, CHG_STATEINC);
    snprintf(key, sizeof(key), "%s", f->out.v[0].key);
    clear(f);
    /* resolved during the delay: nothing at all */
    b = recv(f, "h2", "major");
    f->now += M;
    act(f, b, "close");
    advance(f, f->now + 10 * M);
    assert_int_equal(f->out.n, 0);
    assert_int_equal(stats(f).delay_cancelled, 1);
    /* no longer matching when it ends */
    c = recv(f, "h3", "major");
    recv(f, "h3", "minor");
    advance(f, f->now + 5 * M);
    assert_int_equal(f->out.n, 0);
    assert_int_equal(stats(f).delay_cancelled, 2);
    assert_int_equal(stats(f).delay_fired, 1);
    assert_int_equal(stats(f).delayed, 0);
    (void)c;
    /* the firing was sent, so its resolve is owed */
    act(f, a, "close");
    assert_int_equal(f->out.n, 1);
    assert_true(f->out.v[0].resolved);
    assert_string_not_equal(f->out.v[0].key, key);
}

static void test_throttle(void **state)
{
    struct fx *f = *state;
    struct alert *a;

    put(f, "{\"id\":\"t\",\"throttle\":{\"count\":2,\"window\":\"1h\"},\"channels\":[\"c\"]}");
    a = recv(f, "h1", "major");
    recv(f, "h1", "critical");
    recv(f, "h1", "major");
    assert_int_equal(f->out.n, 2);
    assert_int_equal(stats(f).throttled, 1);
    act(f, a, "close"); /* a resolve is never throttled */
    assert_int_equal(f->out.n, 3);
    assert_true(f->out.v[2].resolved);
    f->now = T0 + 60 * M - 1;
    recv(f, "h1", "major"); /* reopen, still inside the window */
    assert_int_equal(f->out.n, 3);
    assert_int_equal(stats(f).throttled, 2);
    f->now = T0 + 60 * M;
    recv(f, "h1", "critical");
    assert_int_equal(f->out.n, 4);
    recv(f, "h2", "major"); /* another alert: its own window */
    assert_int_equal(f->out.n, 5);
}

static int64_t at(const char *iso)
{
    int64_t ms = 0;

    assert_true(iso8601_parse(iso, strlen(iso), &ms));
    return ms;
}

static void test_periods_midnight(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *when;
        bool in;
    } cases[] = {
        {"2024-01-05T21:00:00Z", true},  /* Friday 22:00 Paris */
        {"2024-01-05T22:00:00Z", true},  /* Friday 23:00 */
        {"2024-01-06T04:00:00Z", true},  /* Saturday 05:00 */
        {"2024-01-06T05:00:00Z", true},  /* Saturday 06:00:00, inclusive */
        {"2024-01-06T05:00:01Z", false}, /* Saturday 06:00:01 */
        {"2024-01-05T04:00:00Z", false}, /* Friday 05:00 (Thursday's range) */
        {"2024-01-06T22:00:00Z", false}, /* Saturday 23:00 */
        {"2024-01-05T20:59:59Z", false}, /* Friday 21:59:59 */
    };
    char res[16];

    put(f, "{\"id\":\"p\",\"periods\":[{\"days\":[5],\"zoneId\":\"Europe/Paris\","
           "\"beginHour\":79200,\"endHour\":21600}],\"channels\":[\"c\"]}");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f->now = at(cases[i].when);
        snprintf(res, sizeof(res), "h%zu", i);
        clear(f);
        recv(f, res, "major");
        if ((f->out.n == 1) != cases[i].in)
            fail_msg("%s: %zu intents", cases[i].when, f->out.n);
    }
    assert_int_equal(stats(f).out_of_period, 4);
}

static void test_inhibition(void **state)
{
    struct fx *f = *state;
    struct in_opts p = {.env = "P"}, q = {.env = "Q"};
    struct alert *s;

    put(f, "{\"id\":\"t\",\"match\":[\"severity=warning\"],\"channels\":[\"c\"],"
           "\"inhibit\":{\"source\":[\"severity=critical\"],\"equal\":[\"environment\"]}}");
    s = recv_o(f, "db", "critical", &p); /* a source; the rule does not match it */
    assert_int_equal(f->out.n, 0);
    recv_o(f, "web", "warning", &p);
    assert_int_equal(f->out.n, 0);
    assert_int_equal(stats(f).inhibited, 1);
    recv_o(f, "web", "warning", &q);
    assert_int_equal(f->out.n, 1);
    clear(f);
    act(f, s, "close"); /* the source is no longer active */
    recv_o(f, "app", "warning", &p);
    assert_int_equal(f->out.n, 1);
    clear(f);
    act(f, s, "open"); /* active again (severity back to critical) */
    recv_o(f, "app2", "warning", &p);
    assert_int_equal(f->out.n, 0);
    assert_int_equal(stats(f).inhibited, 2);
}

/* An alert that matches both sides is only muted by sources that do not. */
static void test_inhibition_both_sides(void **state)
{
    struct fx *f = *state;
    struct in_opts x = {.team = "x"}, y = {.team = "y"};
    struct alert *z;

    put(f, "{\"id\":\"t\",\"match\":[\"team=x\"],\"channels\":[\"c\"],"
           "\"inhibit\":{\"source\":[\"severity=critical\"],\"equal\":[\"environment\"]}}");
    recv_o(f, "x1", "critical", &x); /* both sides; no other source yet */
    assert_int_equal(f->out.n, 1);
    recv_o(f, "x2", "critical", &x); /* both sides; x1 matches both too: not muted */
    assert_int_equal(f->out.n, 2);
    recv_o(f, "w1", "warning", &x); /* target only: muted by x1/x2 */
    assert_int_equal(f->out.n, 2);
    z = recv_o(f, "z1", "critical", &y); /* source only */
    recv_o(f, "x3", "critical", &x);     /* both sides, muted by z1 */
    assert_int_equal(f->out.n, 2);
    assert_int_equal(stats(f).inhibited, 2);
    act(f, z, "close");
    recv_o(f, "x4", "critical", &x);
    assert_int_equal(f->out.n, 3);
    nrules_on_delete(f->rs, z->id);
}

/* ---- grouping ------------------------------------------------------------------------------- */

static void test_group_sequence(void **state)
{
    struct fx *f = *state;
    struct alert *a, *b, *c;
    struct in_opts dev = {.env = "Dev"};

    put(f, "{\"id\":\"g\",\"group_by\":[\"environment\"],\"group_wait\":\"30s\","
           "\"group_interval\":\"5m\",\"repeat_interval\":\"1h\",\"channels\":[\"c\"]}");
    a = recv(f, "a", "major");
    f->now = T0 + 10 * S;
    b = recv(f, "b", "major");
    recv_o(f, "d", "major", &dev); /* another group */
    assert_int_equal(f->out.n, 0);
    assert_int_equal(stats(f).groups, 2);
    advance(f, T0 + 30 * S - 1);
    assert_int_equal(f->out.n, 0);
    advance(f, T0 + 30 * S); /* group_wait after the group's first alert */
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.v[0].group_key, "g:{environment=\"Production\"}");
    assert_int_equal(f->out.v[0].nfiring, 2);
    assert_int_equal(f->out.v[0].seq, 1);
    assert_int_equal(f->out.v[0].chg, CHG_CREATE);
    clear(f);
    advance(f, T0 + 40 * S); /* the Dev group (created at +10 s) */
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.v[0].group_key, "g:{environment=\"Dev\"}");
    clear(f);
    f->now = T0 + M;
    c = recv(f, "c", "major");
    advance(f, T0 + 5 * M + 29 * S);
    assert_int_equal(f->out.n, 0);
    advance(f, T0 + 5 * M + 30 * S); /* next group_interval tick */
    assert_int_equal(f->out.n, 1);
    assert_int_equal(f->out.v[0].nfiring, 3);
    assert_int_equal(f->out.v[0].seq, 2);
    clear(f);
    advance(f, T0 + 10 * M + 30 * S); /* nothing new, repeat not due */
    assert_int_equal(f->out.n, 0);
    f->now = T0 + 11 * M;
    act(f, a, "close");
    advance(f, T0 + 15 * M + 30 * S); /* some resolved, send_resolved */
    assert_int_equal(f->out.n, 1);
    assert_int_equal(f->out.v[0].nfiring, 2);
    assert_int_equal(f->out.v[0].nalerts, 3);
    assert_memory_equal(f->out.v[0].alert_ids[2], a->id, 16); /* resolved last */
    assert_false(f->out.v[0].resolved);
    clear(f);
    advance(f, T0 + 20 * M + 30 * S); /* a left the group after the flush */
    assert_int_equal(f->out.n, 0);
    advance(f, T0 + 75 * M + 29 * S); /* a late advance: the Dev group's one flush repeats */
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.v[0].group_key, "g:{environment=\"Dev\"}");
    clear(f);
    advance(f, T0 + 75 * M + 30 * S); /* repeat_interval after the last notification */
    assert_int_equal(f->out.n, 1);
    assert_int_equal(f->out.v[0].nfiring, 2);
    assert_string_equal(f->out.v[0].group_key, "g:{environment=\"Production\"}");
    clear(f);
    f->now = T0 + 76 * M;
    act(f, b, "close");
    act(f, c, "close");
    advance(f, T0 + 80 * M + 30 * S); /* all resolved */
    assert_int_equal(f->out.n, 1);
    assert_int_equal(f->out.v[0].nfiring, 0);
    assert_true(f->out.v[0].resolved);
    assert_int_equal(f->out.v[0].chg, CHG_RESOLVE);
    assert_int_equal(stats(f).groups, 1); /* destroyed; the Dev group is left */
    clear(f);
    advance(f, T0 + 200 * M);
    assert_int_equal(f->out.n, 1); /* the Dev group repeats */
}

static void test_group_resolved_within_wait(void **state)
{
    struct fx *f = *state;
    struct alert *a;

    put(f, "{\"id\":\"g\",\"group_by\":[\"...\"],\"channels\":[\"c\"],\"send_resolved\":false}");
    a = recv(f, "a", "major");
    act(f, a, "close");
    advance(f, T0 + 30 * S); /* fired and resolved before anything was sent: nothing */
    assert_int_equal(f->out.n, 0);
    assert_int_equal(stats(f).groups, 0);
    f->now = T0 + M;
    a = recv(f, "b", "major");
    advance(f, T0 + M + 30 * S);
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.v[0].group_key, "g:{}");
    clear(f);
    act(f, a, "close");
    advance(f, T0 + 6 * M + 30 * S); /* all resolved, send_resolved false: recorded, not sent */
    assert_int_equal(f->out.n, 0);
    assert_int_equal(stats(f).groups, 0);
}

static void test_group_starts_at(void **state)
{
    struct fx *f = *state;
    struct in_opts old = {.team = "x", .starts_ms = T0 - 10 * M};

    put(f, "{\"id\":\"g\",\"group_by\":[\"team\"],\"channels\":[\"c\"]}");
    recv_o(f, "a", "major", &old);
    advance(f, T0); /* older than group_wait: flushed at once */
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.v[0].group_key, "g:{labels.team=\"x\"}");
}

static void test_group_throttle_and_inhibit(void **state)
{
    struct fx *f = *state;

    put(f, "{\"id\":\"g\",\"group_by\":[\"environment\"],\"group_interval\":\"1m\","
           "\"match\":[\"severity=warning\"],\"throttle\":{\"count\":1,\"window\":\"10m\"},"
           "\"inhibit\":{\"source\":[\"severity=critical\"],\"equal\":[\"resource\"]},"
           "\"channels\":[\"c\"]}");
    recv(f, "a", "warning");
    advance(f, T0 + 30 * S);
    assert_int_equal(f->out.n, 1);
    clear(f);
    f->now = T0 + 40 * S;
    recv(f, "b", "warning");
    advance(f, T0 + 90 * S); /* a new alert, but throttled: kept unsent */
    assert_int_equal(f->out.n, 0);
    assert_int_equal(stats(f).throttled, 1);
    advance(f, T0 + 10 * M + 30 * S); /* the window is over: the state goes out */
    assert_int_equal(f->out.n, 1);
    assert_int_equal(f->out.v[0].nfiring, 2);
    clear(f);
    /* inhibition at flush time: a critical alert on resource "a" (another event) mutes
     * member a; b alone is no news */
    f->now = T0 + 11 * M;
    {
        struct alert_in in;
        struct alert *x = NULL;
        int k;
        alert_in_init(&in);
        in.resource = "a";
        in.event = "Other";
        in.environment = "Production";
        in.severity = sevmap_find(&f->cfg.sev, "critical", 8);
        assert_int_equal(alertdb_receive(f->db, &in, "t", "t", NULL, false, f->now, &f->fx, &x,
                                         &k),
                         TOCSIN_OK);
        feed(f);
    }
    advance(f, T0 + 11 * M + 30 * S);
    assert_int_equal(f->out.n, 0);
    assert_int_equal(stats(f).inhibited, 1);
}

static void test_group_delete_and_move(void **state)
{
    struct fx *f = *state;
    struct alert *a;
    uint8_t id[16];

    put(f, "{\"id\":\"g\",\"group_by\":[\"environment\"],\"channels\":[\"c\"]}");
    a = recv(f, "a", "major");
    memcpy(id, a->id, 16);
    advance(f, T0 + 30 * S);
    assert_int_equal(f->out.n, 1);
    clear(f);
    del(f, id); /* resolved in its group */
    advance(f, T0 + 5 * M + 30 * S);
    assert_int_equal(f->out.n, 1);
    assert_true(f->out.v[0].resolved);
    assert_memory_equal(f->out.v[0].alert_ids[0], id, 16);
    assert_int_equal(stats(f).groups, 0);
    assert_int_equal(stats(f).alert_states, 0);
}

/* ---- keys, snapshot, replace, bounds ------------------------------------------------------------ */

static void test_keys(void **state)
{
    struct fx *f = *state;
    char k[4][65];

    f->rs2 = nrules_new(&f->cfg.sev, f->now);
    put(f, "{\"id\":\"r\",\"continue\":true,\"on\":[\"create\",\"eventscount2\",\"eventscount3\"],"
           "\"channels\":[\"c\"]}");
    put(f, "{\"id\":\"s\",\"on\":[\"create\"],\"channels\":[\"c\"]}");
    recv(f, "h", "major");
    recv(f, "h", "major");
    recv(f, "h", "major");
    assert_int_equal(f->out.n, 4);
    assert_int_equal(f->out2.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(f->out.v[i].key, f->out2.v[i].key); /* stable */
        snprintf(k[i], sizeof(k[i]), "%s", f->out.v[i].key);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(k[i], k[j]); /* distinct */
    }
    assert_string_equal(f->out.v[1].rule_id, "s"); /* same change, other rule: other key */
}

/* Alert a has just made one notification: its key and a's id are kept, the intents cleared,
 * and a deleted (what the delete makes is in f->out). */
static void deleted_after_one(struct fx *f, const struct alert *a, char key[65], uint8_t id[16])
{
    assert_int_equal(f->out.n, 1);
    snprintf(key, 65, "%s", f->out.v[0].key);
    memcpy(id, a->id, 16);
    clear(f);
    del(f, id);
}

/* An alert deleted and sent again with the same id (the sender chose it) is a new alert: its
 * notifications get new keys, or the outbox would take them for the first one's, already sent. */
static void test_keys_recreated(void **state)
{
    struct fx *f = *state;
    struct in_opts o = {.id = "11111111-2222-4333-8444-555555555555"};
    struct alert *a;
    char k1[65];
    uint8_t id[16];

    put(f, "{\"id\":\"r\",\"on\":[\"create\"],\"channels\":[\"c\"]}");
    deleted_after_one(f, recv_o(f, "h", "major", &o), k1, id);
    assert_int_equal(f->out.n, 0);
    a = recv_o(f, "h", "major", &o);
    assert_int_equal(f->out.n, 1);
    assert_memory_equal(a->id, id, 16); /* the same id, the same first change */
    assert_string_not_equal(f->out.v[0].key, k1);
}

/* A delete while an ungrouped rule owes the alert its resolve: the resolve goes, once, with a
 * key of its own; a rule without resolve in `on` owes nothing. */
static void test_delete_sends_the_owed_resolve(void **state)
{
    struct fx *f = *state;
    char k1[65];
    uint8_t id[16];

    put(f, "{\"id\":\"r\",\"on\":[\"create\",\"resolve\"],\"channels\":[\"c\"],"
           "\"match\":[\"resource=\\\"h\\\"\"]}");
    put(f, "{\"id\":\"s\",\"on\":[\"create\"],\"channels\":[\"c\"],"
           "\"match\":[\"resource=\\\"k\\\"\"]}");
    deleted_after_one(f, recv(f, "h", "major"), k1, id);
    assert_int_equal(f->out.n, 1);
    assert_true(f->out.v[0].resolved);
    assert_int_equal(f->out.v[0].chg, CHG_RESOLVE);
    assert_memory_equal(f->out.v[0].alert_ids[0], id, 16);
    assert_string_not_equal(f->out.v[0].key, k1);
    assert_int_equal(stats(f).alert_states, 0);
    clear(f);
    deleted_after_one(f, recv(f, "k", "major"), k1, id); /* rule s: no resolve in on */
    assert_int_equal(f->out.n, 0);
}

static void test_group_keys_distinct(void **state)
{
    struct fx *f = *state;
    struct alert *a;
    char k1[65];

    put(f, "{\"id\":\"g\",\"group_by\":[\"environment\"],\"channels\":[\"c\"]}");
    a = recv(f, "a", "major");
    advance(f, T0 + 30 * S);
    snprintf(k1, sizeof(k1), "%s", f->out.v[0].key);
    clear(f);
    act(f, a, "close");
    advance(f, T0 + 5 * M + 30 * S);
    assert_int_equal(f->out.n, 1);
    assert_string_not_equal(f->out.v[0].key, k1);
    clear(f);
    /* the group is gone; a new one with the same key gets new keys (sequence restarts) */
    act(f, a, "open");
    advance(f, T0 + 6 * M + 30 * S);
    assert_int_equal(f->out.n, 1);
    assert_int_equal(f->out.v[0].seq, 1);
    assert_string_not_equal(f->out.v[0].key, k1);
}

static void test_snapshot_roundtrip(void **state)
{
    struct fx *f = *state;
    struct nrules *copy;
    json_t *snap, *snap2;
    struct verr e = {0};
    struct alert *a;

    put(f, "{\"id\":\"g\",\"continue\":true,\"group_by\":[\"environment\"],"
           "\"channels\":[\"c\"]}");
    put(f, "{\"id\":\"d\",\"continue\":true,\"priority\":1,\"delay\":\"10m\","
           "\"channels\":[\"c\"]}");
    put(f, "{\"id\":\"u\",\"priority\":2,\"match\":[\"resource=x\"],\"on\":[\"create\",\"resolve\"],"
           "\"throttle\":{\"count\":5,\"window\":\"1h\"},\"channels\":[\"c\"]}");
    a = recv(f, "a", "major");
    advance(f, T0 + 30 * S);
    assert_int_equal(f->out.n, 1);
    clear(f);
    f->now = T0 + M;
    recv(f, "b", "major");
    a = recv(f, "x", "major"); /* u: owed resolve, throttle window */
    assert_int_equal(f->out.n, 1);
    clear(f);
    {
        /* a second set fed from the snapshot alone */
        snap = nrules_state_json(f->rs);
        assert_non_null(snap);
        copy = nrules_new(&f->cfg.sev, f->now);
        f->rs2 = copy;
        put_in(f, copy,
               "{\"id\":\"g\",\"continue\":true,\"group_by\":[\"environment\"],"
               "\"channels\":[\"c\"]}");
        put_in(f, copy,
               "{\"id\":\"d\",\"continue\":true,\"priority\":1,\"delay\":\"10m\","
               "\"channels\":[\"c\"]}");
        put_in(f, copy,
               "{\"id\":\"u\",\"priority\":2,\"match\":[\"resource=x\"],\"on\":[\"create\","
               "\"resolve\"],\"throttle\":{\"count\":5,\"window\":\"1h\"},\"channels\":[\"c\"]}");
        assert_int_equal(nrules_state_load(copy, snap, &e), TOCSIN_OK);
        snap2 = nrules_state_json(copy);
        assert_true(json_equal(json_object_get(snap, "groups"), json_object_get(snap2, "groups")));
        assert_int_equal(json_array_size(json_object_get(snap2, "alerts")),
                         json_array_size(json_object_get(snap, "alerts")));
        json_decref(snap);
        json_decref(snap2);
    }
    advance(f, T0 + 11 * M + 30 * S); /* group tick with b, and d's delays for a, b */
    assert_int_equal(f->out.n, f->out2.n);
    assert_true(f->out.n >= 2);
    for (size_t i = 0; i < f->out.n; i++) { /* the same intents (timers tied: any order) */
        size_t j = 0;
        while (j < f->out2.n && strcmp(f->out.v[i].key, f->out2.v[j].key))
            j++;
        assert_true(j < f->out2.n);
        assert_string_equal(f->out.v[i].rule_id, f->out2.v[j].rule_id);
        assert_int_equal(f->out.v[i].nalerts, f->out2.v[j].nalerts);
    }
    clear(f);
    act(f, a, "close"); /* d's and u's owed resolves survived the restart */
    assert_int_equal(f->out.n, f->out2.n);
    assert_int_equal(f->out.n, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(f->out.v[i].rule_id, f->out2.v[i].rule_id);
        assert_string_equal(f->out.v[i].key, f->out2.v[i].key);
        assert_true(f->out.v[i].resolved);
    }
    /* bad snapshots name the spot */
    snap = json_loads("{\"version\":1,\"groups\":[{\"rule\":\"g\"}],\"alerts\":[]}", 0, NULL);
    assert_int_equal(nrules_state_load(copy, snap, &e), TOCSIN_EINVAL);
    assert_string_equal(e.field, "groups[0]");
    json_decref(snap);
    snap = json_loads("{\"version\":2,\"groups\":[],\"alerts\":[]}", 0, NULL);
    assert_int_equal(nrules_state_load(copy, snap, &e), TOCSIN_EINVAL);
    json_decref(snap);
    snap = json_loads("{\"version\":1,\"groups\":[],\"alerts\":[{\"rule\":\"gone\",\"id\":"
                      "\"4a7c3f1e-3b2d-4c5e-9f8a-1b2c3d4e5f60\",\"notified\":true,"
                      "\"throttle\":[0,0]}]}",
                      0, NULL);
    assert_int_equal(nrules_state_load(copy, snap, &e), TOCSIN_OK);
    json_decref(snap);
    {
        struct nrules_stats st;
        nrules_get_stats(copy, &st);
        assert_int_equal(st.state_skipped, 1);
    }
}

static void test_replace_rule(void **state)
{
    struct fx *f = *state;

    put(f, "{\"id\":\"g\",\"group_by\":[\"environment\"],\"channels\":[\"c\"]}");
    recv(f, "a", "major");
    put(f, "{\"id\":\"g\",\"name\":\"renamed\",\"group_by\":[\"environment\"],"
           "\"channels\":[\"c\"]}");
    assert_int_equal(stats(f).groups, 1);
    put(f, "{\"id\":\"g\",\"group_by\":[\"resource\"],\"channels\":[\"c\"]}");
    assert_int_equal(stats(f).groups, 0);
    assert_int_equal(stats(f).groups_dropped, 1);
    assert_int_equal(nrules_count(f->rs), 1);
}

static void test_bounds(void **state)
{
    struct fx *f = *state;
    struct nrules_limits l;
    struct verr e = {0};
    struct in_opts q = {.env = "Q"};

    nrules_limits_default(&l);
    assert_int_equal(l.max_rules, NRULE_MAX_RULES);
    l.max_rules = 3;
    l.max_groups = 1;
    l.max_group_alerts = 1;
    l.max_delayed = 1;
    nrules_set_limits(f->rs, &l);
    put(f, "{\"id\":\"g\",\"continue\":true,\"group_by\":[\"environment\"],\"channels\":[\"c\"]}");
    put(f, "{\"id\":\"h\",\"continue\":true,\"delay\":\"1m\",\"channels\":[\"c\"]}");
    put(f, "{\"id\":\"i\",\"channels\":[\"c\"]}");
    assert_int_equal(nrules_put(f->rs, parse(f, "{\"id\":\"j\"}", &e)), TOCSIN_ETOOBIG);
    assert_int_equal(nrules_count(f->rs), 3);
    recv(f, "a", "major");          /* group 1, delay 1, intent from i */
    recv(f, "b", "major");          /* group full of alerts; delay overflow: sent at once */
    recv_o(f, "c", "major", &q);    /* second group refused */
    assert_int_equal(stats(f).group_alerts_full, 1);
    assert_int_equal(stats(f).groups_full, 1);
    assert_int_equal(stats(f).delay_overflow, 2);
    assert_int_equal(f->out.n, 3 + 2);
    clear(f);
    l.max_alert_states = stats(f).alert_states; /* no new state: i still sends (no throttle) */
    nrules_set_limits(f->rs, &l);
    recv(f, "d", "major");
    assert_true(stats(f).states_full >= 1);
    assert_true(f->out.n >= 1);
}

static void test_change_without_kinds(void **state)
{
    struct fx *f = *state;
    struct alert *a;
    const char *tv[] = {"x"};
    struct strlist tags = {tv, 1};
    char nid[37];

    put(f, "{\"id\":\"r\",\"on\":[\"comment\"],\"channels\":[\"c\"]}");
    a = recv(f, "a", "major");
    assert_int_equal(alertdb_tag(f->db, a->id, &tags, false, f->now, &f->fx), TOCSIN_OK);
    feed(f);
    assert_int_equal(f->out.n, 0);
    assert_int_equal(alertdb_note(f->db, a->id, "hello", "op", f->now, &f->fx, nid), TOCSIN_OK);
    feed(f); /* one intent for the note: the ACH_NOTE row carries no kind */
    assert_int_equal(f->out.n, 1);
    assert_int_equal(f->out.v[0].chg, CHG_COMMENT);
}

/* ---- the index ------------------------------------------------------------------------------ */

/* One alert of any shape, received; its changes are left in f->fx (feed() or check_walk()). */
struct xalert {
    const char *res, *event, *env, *sev, *origin;
    struct kv labels[6], attrs[2], ann[1];
    uint32_t nlabels, nattrs, nann;
    const char *tags[2];
    uint32_t ntags;
};

static struct alert *recv_x(struct fx *f, struct xalert *x)
{
    struct alert_in in;
    struct alert *a = NULL;
    int k;

    alert_in_init(&in);
    in.resource = x->res;
    in.event = x->event ? x->event : "Down";
    in.environment = x->env ? x->env : "Production";
    in.severity = sevmap_find(&f->cfg.sev, x->sev ? x->sev : "major",
                              strlen(x->sev ? x->sev : "major"));
    in.origin = x->origin;
    in.labels = (struct kvlist){x->labels, x->nlabels};
    in.attributes = (struct kvlist){x->attrs, x->nattrs};
    in.annotations = (struct kvlist){x->ann, x->nann};
    in.tags = (struct strlist){x->tags, x->ntags};
    in.flags = AIN_LABELS | AIN_ATTRIBUTES | AIN_ANNOTATIONS | AIN_TAGS;
    assert_int_equal(alertdb_receive(f->db, &in, "test", "test", NULL, false, f->now, &f->fx, &a,
                                     &k),
                     TOCSIN_OK);
    return a;
}

/* Rules evaluated by the change(s) of receiving x. */
static uint64_t evaluated_by(struct fx *f, struct xalert *x)
{
    uint64_t n = stats(f).evaluated;

    recv_x(f, x);
    feed(f);
    return stats(f).evaluated - n;
}

static void intents_are(const struct fx *f, const char *const *ids, size_t n)
{
    assert_int_equal(f->out.n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(f->out.v[i].rule_id, ids[i]);
}

/* The rule mix of bench/notify.sh's daemon: 10 rules that match Production alerts (an event
 * equality or a literal alternation of events) and 990 that never match, of four shapes keyed on
 * a Production equality plus a rarer one, a label, a severity alternation, an attribute. */
static void mix_rules(struct fx *f)
{
    static const char on[] = "\"on\":[\"create\",\"stateinc\",\"statedec\",\"resolve\"]";
    char rule[512], m[256];

    for (int i = 0; i < 1000; i++) {
        if (i < 2)
            snprintf(m, sizeof(m), "\"environment=\\\"Production\\\"\",\"event=\\\"%s\\\"\"",
                     i ? "BenchOrder" : "BenchLatency");
        else if (i < 10)
            snprintf(m, sizeof(m),
                     "\"environment=\\\"Production\\\"\","
                     "\"event=~\\\"HighCPU|DiskFull|NodeDown|HighLatency\\\"\","
                     "\"severity!=\\\"fanout-%d\\\"\"",
                     i);
        else if (i % 4 == 0)
            snprintf(m, sizeof(m),
                     "\"environment=\\\"Production\\\"\",\"resource=\\\"no-such-resource-%d\\\"\"",
                     i);
        else if (i % 4 == 1)
            snprintf(m, sizeof(m), "\"team=\\\"nobody-%d\\\"\"", i);
        else if (i % 4 == 2)
            snprintf(m, sizeof(m),
                     "\"severity=~\\\"sev%da|sev%db\\\"\",\"environment!=\\\"Development\\\"\"", i,
                     i);
        else
            snprintf(m, sizeof(m),
                     "\"environment=\\\"Production\\\"\",\"attributes.region=\\\"nowhere-%d\\\"\"",
                     i);
        snprintf(rule, sizeof(rule),
                 "{\"id\":\"r%04d\",%s,\"continue\":true,\"match\":[%s],\"channels\":[\"c\"]}", i,
                 i >= 2 && i < 10 ? "\"on\":[\"stateinc\",\"statedec\"]" : on, m);
        put(f, rule);
    }
}

/* With bench/notify.sh's 1,000 rules, a change evaluates the rules keyed on a value it has:
 * each rule is keyed on its rarest need (not environment="Production", which ~500 share), and a
 * literal alternation keys its rule on each alternative. */
static void test_index_prunes(void **state)
{
    struct fx *f = *state;
    struct xalert x = {.res = "h1", .event = "BenchLatency", .sev = "critical"};
    static const char *const r0[] = {"r0000"}, *const r12[] = {"r0012"},
                             *const r13[] = {"r0013"}, *const r15[] = {"r0015"},
                             *const fan[] = {"r0002", "r0003", "r0004", "r0005",
                                             "r0006", "r0007", "r0008", "r0009"};

    mix_rules(f);
    assert_int_equal(evaluated_by(f, &x), 1);
    intents_are(f, r0, 1);
    clear(f);
    x.sev = "major"; /* statedec */
    assert_int_equal(evaluated_by(f, &x), 1);
    intents_are(f, r0, 1);
    clear(f);
    x = (struct xalert){.res = "h2", .event = "HighCPU", .sev = "major"};
    assert_int_equal(evaluated_by(f, &x), 0); /* the fan-out rules want stateinc/statedec */
    x.sev = "critical";
    assert_int_equal(evaluated_by(f, &x), 8);
    intents_are(f, fan, 8);
    clear(f);
    x = (struct xalert){.res = "no-such-resource-12"};
    assert_int_equal(evaluated_by(f, &x), 1);
    intents_are(f, r12, 1);
    clear(f);
    x = (struct xalert){.res = "h3", .env = "Staging", .labels = {{"team", "nobody-13"}},
                        .nlabels = 1};
    assert_int_equal(evaluated_by(f, &x), 1);
    intents_are(f, r13, 1);
    clear(f);
    x = (struct xalert){.res = "h4", .attrs = {{"region", "\"nowhere-15\""}}, .nattrs = 1};
    assert_int_equal(evaluated_by(f, &x), 1);
    intents_are(f, r15, 1);
    clear(f);
    /* an attribute holding an array compares its items: every rule keyed on it is visited */
    x = (struct xalert){.res = "h5", .attrs = {{"region", "[\"x\",\"nowhere-15\"]"}},
                        .nattrs = 1};
    assert_int_equal(evaluated_by(f, &x), 248);
    intents_are(f, r15, 1);
}

/* A rule that acted on a change while resolving the alert (an owed resolve, a resolved group
 * membership) ends the walk as a match does, though its index key no longer fits the alert
 * (closing sets the severity to normal). */
static void test_index_acted(void **state)
{
    struct fx *f = *state;
    struct alert *a, *b;

    put(f, "{\"id\":\"a-crit\",\"on\":[\"create\",\"resolve\"],"
           "\"match\":[\"severity=~\\\"critical|major\\\"\"],\"channels\":[\"c\"]}");
    put(f, "{\"id\":\"b-group\",\"on\":[\"create\"],\"group_by\":[\"resource\"],"
           "\"match\":[\"severity=~\\\"minor|warning\\\"\"],\"channels\":[\"c\"]}");
    put(f, "{\"id\":\"z-late\",\"on\":[\"resolve\"],\"match\":[\"environment=Production\"],"
           "\"channels\":[\"c\"]}");
    a = recv(f, "h1", "critical");
    b = recv(f, "h2", "minor");
    assert_int_equal(f->out.n, 1);
    clear(f);
    act(f, a, "close"); /* a-crit sends its owed resolve and ends the walk */
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.v[0].rule_id, "a-crit");
    assert_true(f->out.v[0].resolved);
    clear(f);
    act(f, b, "close"); /* b-group resolved its member: z-late does not see the close */
    assert_int_equal(f->out.n, 0);
}

/* Inhibition sources are keyed like matchers: a literal alternation, an attribute. */
static void test_index_sources(void **state)
{
    struct fx *f = *state;
    struct xalert src = {.res = "db", .sev = "critical", .labels = {{"alertname", "HostDown"}},
                         .nlabels = 1},
                  asrc = {.res = "db2", .sev = "critical", .env = "Q",
                          .attrs = {{"kind", "[\"outage\"]"}}, .nattrs = 1},
                  t = {.res = "web", .sev = "warning"};

    put(f, "{\"id\":\"t\",\"continue\":true,\"match\":[\"severity=warning\"],"
           "\"channels\":[\"c\"],\"inhibit\":{\"source\":[\"alertname=~\\\"NodeDown|HostDown\\\"\"],"
           "\"equal\":[\"environment\"]}}");
    put(f, "{\"id\":\"u\",\"match\":[\"severity=warning\"],\"channels\":[\"c\"],"
           "\"inhibit\":{\"source\":[\"attributes.kind=~\\\"outage|maintenance\\\"\"],"
           "\"equal\":[\"environment\"]}}");
    recv_x(f, &src);
    feed(f);
    recv_x(f, &t); /* t is muted by the HostDown source, u is not muted */
    feed(f);
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.v[0].rule_id, "u");
    assert_int_equal(stats(f).inhibited, 1);
    clear(f);
    recv_x(f, &asrc); /* an array attribute: its item "outage" makes it a source of u */
    feed(f);
    t.env = "Q";
    t.res = "web2";
    recv_x(f, &t);
    feed(f);
    assert_int_equal(f->out.n, 1);
    assert_string_equal(f->out.v[0].rule_id, "t");
    assert_int_equal(stats(f).inhibited, 2);
}

/* ---- the index: equivalence with a walk of every rule ---------------------------------------- */

static unsigned rnd(uint64_t *s, unsigned n) /* xorshift64: the same cases on every run */
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (unsigned)(*s % n);
}

/* More fields than NRULE_INDEX_FIELDS, so the slot limit is reached; tags is a list (not
 * indexed). */
static const char *const eq_fields[] = {"environment", "resource", "event", "team", "alertname",
                                        "attributes.region", "severity", "labels.x0",
                                        "labels.x1", "labels.x2", "annotations.summary", "tags"};
static const char *const eq_vals[] = {"a", "b", "c", "A", "ab", ""}; /* "" last */
static const char *const eq_sevs[] = {"critical", "major", "minor", "warning", "Critical"};

static const char *rnd_val(uint64_t *s, const char *field)
{
    return strcmp(field, "severity") ? eq_vals[rnd(s, 6)] : eq_sevs[rnd(s, 5)];
}

/* One condition: an AM string or a Canopsis object, of every shape the index reads or not. */
static json_t *rnd_cond(uint64_t *s, bool am_only)
{
    const char *fl = eq_fields[rnd(s, sizeof(eq_fields) / sizeof(eq_fields[0]))];
    const char *v = rnd_val(s, fl), *w = rnd_val(s, fl), *x = rnd_val(s, fl);
    static const char *const lists[] = {"is_one_of", "is_not_one_of"}, *const scalars[] = {"eq",
                                                                                          "neq"};
    char m[128];

    switch (rnd(s, am_only ? 8 : 11)) {
    case 0: snprintf(m, sizeof(m), "%s=\"%s\"", fl, v); break;
    case 1: snprintf(m, sizeof(m), "%s=~\"%s|%s|%s\"", fl, v, w, x); break;
    case 2: snprintf(m, sizeof(m), "%s=~\"%s|%s\"", fl, v, w); break;
    case 3: snprintf(m, sizeof(m), "%s=~\"%s.*\"", fl, v); break; /* not literal */
    case 4: snprintf(m, sizeof(m), "%s=~\"(%s|%s)\"", fl, v, w); break;
    case 5: snprintf(m, sizeof(m), "%s!=\"%s\"", fl, v); break;
    case 6: snprintf(m, sizeof(m), "%s!~\"%s|%s\"", fl, v, w); break;
    case 7: snprintf(m, sizeof(m), "%s=~\"%s|.\"", fl, v); break; /* not literal */
    case 8: /* searched, not anchored: "a|c" holds on "ab" */
        snprintf(m, sizeof(m), "%s|%s", v, w);
        return json_pack("{s:s, s:{s:s, s:s}}", "field", fl, "cond", "type", "regexp", "value", m);
    case 9:
        return json_pack("{s:s, s:{s:s, s:[ss]}}", "field", fl, "cond", "type", lists[rnd(s, 2)],
                         "value", v, w);
    default:
        return json_pack("{s:s, s:{s:s, s:s}}", "field", fl, "cond", "type", scalars[rnd(s, 2)],
                         "value", v);
    }
    return json_string(m);
}

/* A matcher: every alert, AM strings (AND), or Canopsis' OR of ANDs mixing both. */
static json_t *rnd_match(uint64_t *s)
{
    unsigned shape = rnd(s, 6), ng = shape == 5 ? 2 : 1;
    json_t *m = json_array(), *g;

    if (shape == 0)
        return m;
    if (shape == 1) {
        for (unsigned i = rnd(s, 3) + 1; i > 0; i--)
            json_array_append_new(m, rnd_cond(s, true));
        return m;
    }
    for (unsigned k = 0; k < ng; k++) {
        g = json_array();
        for (unsigned i = rnd(s, 3) + 1; i > 0; i--)
            json_array_append_new(g, rnd_cond(s, false));
        json_array_append_new(m, g);
    }
    return m;
}

static void rnd_rule(struct fx *f, uint64_t *s, int i)
{
    static const char *const kinds[] = {"create", "stateinc", "statedec", "ack"};
    json_t *r = json_object(), *on = json_array(), *ch = json_array();
    char id[16], *text;

    snprintf(id, sizeof(id), "r%02d", i);
    for (unsigned k = 0, pick = rnd(s, 15) + 1; k < 4; k++)
        if (pick & (1u << k))
            json_array_append_new(on, json_string(kinds[k]));
    if (rnd(s, 10))
        json_array_append_new(ch, json_string("c"));
    json_object_set_new(r, "id", json_string(id));
    json_object_set_new(r, "priority", json_integer((json_int_t)rnd(s, 3) - 1));
    json_object_set_new(r, "continue", json_boolean(rnd(s, 4)));
    json_object_set_new(r, "enabled", json_boolean(rnd(s, 8)));
    json_object_set_new(r, "on", on);
    json_object_set_new(r, "channels", ch);
    json_object_set_new(r, "match", rnd_match(s));
    if (!rnd(s, 8))
        json_object_set_new(r, "trigger", json_string("t0"));
    text = json_dumps(r, JSON_COMPACT);
    put(f, text);
    free(text);
    json_decref(r);
}

/* A random alert among 8 identities (so later ones are duplicates, with new severities). */
static void rnd_alert(uint64_t *s, struct xalert *x)
{
    static const char *const res[] = {"a", "b", "c", "A"}, *const sevs[] = {"critical", "major",
                                                                             "minor", "warning"};
    static const char *const attrs[] = {"\"a\"", "[\"b\",\"a\"]", "\"[a]\"", "3", "[]",
                                        "\"ab\""};
    static const char *const labels[] = {"team", "alertname", "x0", "x1", "x2"};
    unsigned id = rnd(s, 8);

    memset(x, 0, sizeof(*x));
    x->res = res[id % 4];
    x->event = id < 4 ? "a" : "b";
    x->env = eq_vals[rnd(s, 5)];
    x->sev = sevs[rnd(s, 4)];
    x->origin = rnd(s, 4) ? NULL : "trigger/t0";
    for (size_t i = 0; i < 5; i++)
        if (rnd(s, 3))
            x->labels[x->nlabels++] = (struct kv){labels[i], eq_vals[rnd(s, 6)]};
    if (rnd(s, 4))
        x->attrs[x->nattrs++] = (struct kv){"region", attrs[rnd(s, 6)]};
    if (rnd(s, 2))
        x->ann[x->nann++] = (struct kv){"summary", eq_vals[rnd(s, 5)]};
    for (unsigned i = rnd(s, 3); i > 0; i--)
        x->tags[x->ntags++] = eq_vals[rnd(s, 5)];
}

/* The change as a walk of every rule in order would handle it, from the public API: the rules
 * that send (ids, in order) must be the intents. The alerts stay active: no owed resolves. */
static void check_walk(struct fx *f, const struct alert_change *c, unsigned round)
{
    const struct nrule *r;
    const char *want[64];
    size_t n = 0;

    for (size_t i = 0; (r = nrules_at(f->rs, i)); i++) {
        struct aview o = alert_get(c->snap, AF_ORIGIN);
        if (!r->enabled || !(c->chg & r->on))
            continue;
        if (r->trigger && (o.len != strlen(r->trigger_origin) ||
                           memcmp(o.p, r->trigger_origin, o.len)))
            continue;
        if (!matcher_match(r->match, c->snap))
            continue;
        if (r->nchannels)
            want[n++] = r->id;
        if (!r->cont)
            break;
    }
    nintents_clear(&f->out);
    nrules_on_change(f->rs, c->snap, c, f->now, &f->out);
    if (f->out.n != n)
        fail_msg("round %u: %zu intents, a walk of every rule gives %zu", round, f->out.n, n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(f->out.v[i].rule_id, want[i]))
            fail_msg("round %u: intent %zu is %s, not %s", round, i, f->out.v[i].rule_id,
                     want[i]);
}

/* Random rule sets and alerts: the index changes no outcome. */
static void test_index_equivalence(void **state)
{
    struct fx *f = *state;
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    struct xalert x;
    size_t changes = 0, intents = 0;

    for (unsigned round = 0; round < 300; round++) {
        nrules_free(f->rs);
        alertdb_free(f->db);
        f->rs = nrules_new(&f->cfg.sev, f->now);
        f->db = alertdb_new(&f->cfg, f->now);
        for (int i = 0; i < 30; i++)
            rnd_rule(f, &seed, i);
        for (int k = 0; k < 20; k++) {
            f->now += S;
            rnd_alert(&seed, &x);
            recv_x(f, &x);
            for (size_t e = 0; e < f->fx.n; e++) {
                if (f->fx.v[e].kind != EFF_ACHANGE)
                    continue;
                check_walk(f, f->fx.v[e].u.achange, round);
                changes++;
                intents += f->out.n;
            }
            effects_clear(&f->fx);
        }
    }
    assert_true(changes >= 6000);
    assert_true(intents > changes / 4); /* the cases do match, often */
}

/* ---- bench ---------------------------------------------------------------------------------- */

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* 1,000 rules (most keyed on an environment, some on labels and regexes, a tenth grouped, some
 * with inhibition), 100,000 active alerts, then changes (duplicates, severity changes, acks):
 * the time spent in nrules_on_change per change. */
static int bench(void)
{
    struct fx fx0, *f = &fx0;
    void *st = NULL;
    char rule[768], res[32], env[16], team[16];
    static const char *sevs[] = {"critical", "major", "minor", "warning"};
    int64_t ns = 0, t;
    size_t changes = 0, intents = 0;
    uint8_t(*ids)[16];
    const size_t nalerts = 100000, nchanges = 200000;

    setup(&st);
    f = st;
    for (int i = 0; i < 1000; i++) {
        if (i % 10 == 0)
            snprintf(rule, sizeof(rule),
                     "{\"id\":\"r%04d\",\"continue\":true,\"group_by\":[\"resource\"],"
                     "\"match\":[\"environment=env%d\",\"severity=~\\\"critical|major\\\"\"],"
                     "\"channels\":[\"c\"]}",
                     i, i % 50);
        else if (i % 10 == 1)
            snprintf(rule, sizeof(rule),
                     "{\"id\":\"r%04d\",\"on\":[\"create\",\"ack\",\"resolve\"],"
                     "\"match\":[[{\"field\":\"labels.team\",\"cond\":{\"type\":\"eq\","
                     "\"value\":\"t%d\"}},{\"field\":\"text\",\"cond\":{\"type\":\"regexp\","
                     "\"value\":\"disk|cpu\"}}]],\"channels\":[\"c\"]}",
                     i, i % 100);
        else if (i % 10 == 2)
            snprintf(rule, sizeof(rule),
                     "{\"id\":\"r%04d\",\"match\":[\"environment=env%d\"],\"channels\":[\"c\"],"
                     "\"inhibit\":{\"source\":[\"severity=critical\",\"environment=env%d\"],"
                     "\"equal\":[\"resource\"]}}",
                     i, i % 50, i % 50);
        else
            snprintf(rule, sizeof(rule),
                     "{\"id\":\"r%04d\",\"continue\":%s,\"on\":[\"create\",\"stateinc\","
                     "\"resolve\",\"eventscount%d\"],\"match\":[\"environment=env%d\","
                     "\"service=~\\\"svc%d.*\\\"\"],\"channels\":[\"c\"]}",
                     i, i % 3 ? "true" : "false", 2 + i % 20, i % 50, i % 7);
        put(f, rule);
    }
    ids = malloc(nalerts * 16);
    for (size_t i = 0; i < nalerts; i++) {
        struct alert_in in;
        struct alert *a = NULL;
        struct kv labels[1];
        const char *svc[1];
        char sv[16];
        int k;
        snprintf(res, sizeof(res), "host%zu", i);
        snprintf(env, sizeof(env), "env%zu", i % 60);
        snprintf(team, sizeof(team), "t%zu", i % 120);
        snprintf(sv, sizeof(sv), "svc%zu", i % 9);
        svc[0] = sv;
        alert_in_init(&in);
        in.resource = res;
        in.event = "Down";
        in.environment = env;
        in.text = i % 2 ? "disk full" : "slow";
        in.severity = sevmap_find(&f->cfg.sev, sevs[i % 4], strlen(sevs[i % 4]));
        labels[0] = (struct kv){"team", team};
        in.labels = (struct kvlist){labels, 1};
        in.service = (struct strlist){svc, 1};
        in.flags = AIN_LABELS | AIN_SERVICE;
        in.timeout_s = 0;
        alertdb_receive(f->db, &in, "t", "t", NULL, false, f->now, &f->fx, &a, &k);
        memcpy(ids[i], a->id, 16);
        for (size_t e = 0; e < f->fx.n; e++) {
            const struct alert_change *c = f->fx.v[e].u.achange;
            t = mono_ns();
            nrules_on_change(f->rs, c->snap, c, f->now, &f->out);
            ns += mono_ns() - t;
            changes++;
        }
        effects_clear(&f->fx);
        intents += f->out.n;
        nintents_clear(&f->out);
    }
    printf("bench: %zu creates: %.0f ns/change\n", changes, (double)ns / (double)changes);
    ns = 0;
    changes = 0;
    srand(7);
    for (size_t i = 0; i < nchanges; i++) {
        struct alert *a = alertdb_find(f->db, ids[(size_t)rand() % nalerts]);
        char why[64];
        int r = rand() % 10;
        f->now += 1;
        if (r < 6) { /* a duplicate */
            struct alert_in in;
            struct aview rv = alert_get(a, AF_RESOURCE), ev = alert_get(a, AF_ENVIRONMENT);
            struct alert *o = NULL;
            int k;
            snprintf(res, sizeof(res), "%.*s", (int)rv.len, rv.p);
            snprintf(env, sizeof(env), "%.*s", (int)ev.len, ev.p);
            alert_in_init(&in);
            in.resource = res;
            in.event = "Down";
            in.environment = env;
            in.severity = a->sev_name;
            in.timeout_s = 0;
            alertdb_receive(f->db, &in, "t", "t", NULL, false, f->now, &f->fx, &o, &k);
        } else if (r < 9) {
            alertdb_action(f->db, a->id, a->status == AST_ACK ? "unack" : "ack", "", -1, NULL,
                           f->now, &f->fx, why, sizeof(why));
        } else {
            alertdb_action(f->db, a->id, a->status == AST_CLOSED ? "open" : "close", "", -1, NULL,
                           f->now, &f->fx, why, sizeof(why));
        }
        for (size_t e = 0; e < f->fx.n; e++) {
            const struct alert_change *c = f->fx.v[e].u.achange;
            if (f->fx.v[e].kind != EFF_ACHANGE)
                continue;
            t = mono_ns();
            nrules_on_change(f->rs, c->snap, c, f->now, &f->out);
            ns += mono_ns() - t;
            changes++;
        }
        effects_clear(&f->fx);
        intents += f->out.n;
        nintents_clear(&f->out);
    }
    printf("bench: %zu changes on 100000 alerts, 1000 rules: %.0f ns/change (%zu intents in "
           "all)\n",
           changes, (double)ns / (double)changes, intents);
    free(ids);
    teardown(&st);
    tz_cache_clear();
    return 0;
}

/* Alert i of the mix (its severity flips between changes): mostly Production, the bench's
 * event or a load generator's, an attribute. Feeds its changes to the rules; returns the ns. */
static int64_t mix_change(struct fx *f, size_t i, size_t round, size_t *changes)
{
    static const char *events[] = {"BenchLatency", "HighCPU", "DiskFull", "NodeDown",
                                   "HighLatency"};
    static const char *envs[] = {"Production", "Production", "Production", "Staging"};
    const char *sev = (i + round) % 2 ? "major" : "critical";
    struct alert_in in;
    struct alert *a = NULL;
    struct kv attrs[1];
    char res[32], seq[24];
    int64_t ns = 0, t;
    int k;

    snprintf(res, sizeof(res), "bench-%zu", i);
    snprintf(seq, sizeof(seq), "%zu", round);
    attrs[0] = (struct kv){"seq", seq};
    alert_in_init(&in);
    in.resource = res;
    in.event = events[i % 5];
    in.environment = envs[i % 4];
    in.severity = sevmap_find(&f->cfg.sev, sev, strlen(sev));
    in.attributes = (struct kvlist){attrs, 1};
    in.flags = AIN_ATTRIBUTES;
    in.timeout_s = 0;
    alertdb_receive(f->db, &in, "t", "t", NULL, false, f->now, &f->fx, &a, &k);
    for (size_t e = 0; e < f->fx.n; e++) {
        const struct alert_change *c = f->fx.v[e].u.achange;
        if (f->fx.v[e].kind != EFF_ACHANGE)
            continue;
        t = mono_ns();
        nrules_on_change(f->rs, c->snap, c, f->now, &f->out);
        ns += mono_ns() - t;
        (*changes)++;
    }
    effects_clear(&f->fx);
    nintents_clear(&f->out);
    return ns;
}

/* bench/notify.sh's rule mix: 1,000 rules, 10,000 alerts, each changed 10 times. */
static int bench_mix(void)
{
    void *st = NULL;
    struct fx *f;
    int64_t ns = 0;
    size_t changes = 0;

    if (setup(&st))
        return 1;
    f = st;
    mix_rules(f);
    for (size_t round = 0; round < 10; round++) {
        for (size_t i = 0; i < 10000; i++) {
            f->now += 1;
            ns += mix_change(f, i, round, &changes);
        }
    }
    printf("bench: notify.sh's rule mix, %zu changes, 1000 rules: %.0f ns/change, %.1f rules "
           "evaluated/change\n",
           changes, (double)ns / (double)changes, (double)stats(f).evaluated / (double)changes);
    teardown(&st);
    return 0;
}

int main(int argc, char **argv)
{
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_parse_defaults),
        T(test_parse_roundtrip),
        T(test_parse_errors),
        cmocka_unit_test(test_durations),
        T(test_ungrouped_kinds),
        T(test_owed_resolve),
        T(test_order_continue),
        T(test_trigger_rules),
        T(test_delay),
        T(test_throttle),
        T(test_periods_midnight),
        T(test_inhibition),
        T(test_inhibition_both_sides),
        T(test_group_sequence),
        T(test_group_resolved_within_wait),
        T(test_group_starts_at),
        T(test_group_throttle_and_inhibit),
        T(test_group_delete_and_move),
        T(test_keys),
        T(test_keys_recreated),
        T(test_delete_sends_the_owed_resolve),
        T(test_group_keys_distinct),
        T(test_snapshot_roundtrip),
        T(test_replace_rule),
        T(test_bounds),
        T(test_change_without_kinds),
        T(test_index_prunes),
        T(test_index_acted),
        T(test_index_sources),
        T(test_index_equivalence),
    };
    int rc;

    if (argc > 1 && !strcmp(argv[1], "--bench"))
        return bench() || bench_mix();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    tz_cache_clear();
    return rc;
}
