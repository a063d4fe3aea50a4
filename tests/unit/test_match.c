/* Unit tests for core/match: every Canopsis condition type, the Alertmanager operators, field
 * resolution (Alerta fields, labels, attributes as JSON, annotations, bare names), errors that
 * name the spot, the index hints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/alert.h"
#include "core/alertdb.h"
#include "core/match.h"
#include "util/err.h"

#define T0 1700000000000LL

struct fx {
    struct alertdb *db;
    struct effects fx;
    struct alertdb_cfg cfg;
    struct alert *a;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct alert_in in;
    const char *svc[] = {"web", "api"}, *tags[] = {"a", "b"};
    struct kv labels[] = {{"team", "ops"}, {"region", "eu-west"}};
    struct kv attrs[] = {{"count", "42"},
                         {"owner", "\"al\\\"ice\\u00e9\""},
                         {"zones", "[\"z1\",\"z2\",3]"},
                         {"flag", "true"},
                         {"obj", "{\"k\":1}"}};
    struct kv ann[] = {{"summary", "CPU is high"}};
    int k;

    alertdb_cfg_default(&f->cfg);
    f->db = alertdb_new(&f->cfg, T0);
    effects_init(&f->fx);
    alert_in_init(&in);
    in.resource = "web01";
    in.event = "HighCPU";
    in.environment = "Production";
    in.severity = sevmap_find(&f->cfg.sev, "major", 5);
    in.value = "93.5";
    in.text = "cpu high";
    in.service = (struct strlist){svc, 2};
    in.tags = (struct strlist){tags, 2};
    in.labels = (struct kvlist){labels, 2};
    in.attributes = (struct kvlist){attrs, 5};
    in.annotations = (struct kvlist){ann, 1};
    in.flags = AIN_LABELS | AIN_ANNOTATIONS | AIN_ATTRIBUTES | AIN_SERVICE | AIN_TAGS;
    assert_int_equal(alertdb_receive(f->db, &in, "test", "test", NULL, false, T0, &f->fx, &f->a,
                                     &k),
                     TOCSIN_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    effects_free(&f->fx);
    alertdb_free(f->db);
    free(f);
    return 0;
}

/* Compiles `text` (JSON) and matches the fixture's alert; fails the test on a compile error. */
static bool m(const struct fx *f, const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    struct matcher *mt = NULL;
    struct verr e = {0};
    bool r;

    if (!j)
        fail_msg("bad test JSON %s: %s", text, je.text);
    if (matcher_compile(j, &f->cfg.sev, &mt, &e) != TOCSIN_OK)
        fail_msg("compile %s: %s: %s", text, e.field, e.msg);
    json_decref(j);
    r = matcher_match(mt, f->a);
    matcher_free(mt);
    return r;
}

/* One Canopsis condition. */
static bool c1(const struct fx *f, const char *field, const char *type, const char *value)
{
    char t[1024];

    snprintf(t, sizeof(t), "[[{\"field\":\"%s\",\"cond\":{\"type\":\"%s\",\"value\":%s}}]]",
             field, type, value);
    return m(f, t);
}

/* The error field of compiling text (must fail). */
static void err_is(const struct fx *f, const char *text, const char *field)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    struct matcher *mt = NULL;
    struct verr e = {0};

    assert_non_null(j);
    assert_int_equal(matcher_compile(j, &f->cfg.sev, &mt, &e), TOCSIN_EINVAL);
    assert_null(mt);
    assert_string_equal(e.field, field);
    assert_true(e.msg[0] != '\0');
    json_decref(j);
}

static void test_eq_neq(void **state)
{
    struct fx *f = *state;

    assert_true(c1(f, "resource", "eq", "\"web01\""));
    assert_false(c1(f, "resource", "eq", "\"web0\""));
    assert_true(c1(f, "resource", "neq", "\"web02\""));
    assert_false(c1(f, "environment", "neq", "\"Production\""));
    assert_true(c1(f, "value", "eq", "93.5")); /* numeric */
    assert_false(c1(f, "value", "eq", "93"));
    assert_true(c1(f, "attributes.count", "eq", "42"));
    assert_true(c1(f, "attributes.count", "eq", "\"42\""));
    assert_true(c1(f, "attributes.flag", "eq", "true"));
    assert_false(c1(f, "attributes.flag", "eq", "false"));
    assert_true(c1(f, "attributes.owner", "eq", "\"al\\\"ice\\u00e9\"")); /* decoded */
    assert_true(c1(f, "duplicateCount", "eq", "0"));
    assert_true(c1(f, "repeat", "eq", "false"));
    assert_true(c1(f, "status", "eq", "\"open\""));
    assert_true(c1(f, "severity", "eq", "\"major\""));
    assert_true(c1(f, "previousSeverity", "eq", "\"indeterminate\""));
    assert_true(c1(f, "trendIndication", "eq", "\"moreSevere\""));
    assert_true(c1(f, "labels.team", "eq", "\"ops\""));
    assert_true(c1(f, "team", "eq", "\"ops\"")); /* a bare name is a label */
    assert_true(c1(f, "annotations.summary", "eq", "\"CPU is high\""));
    assert_true(c1(f, "tags", "eq", "\"b\"")); /* any item */
    assert_false(c1(f, "tags", "neq", "\"b\"")); /* no item */
    assert_true(c1(f, "labels.nope", "eq", "\"\"")); /* missing is "" */
    assert_true(c1(f, "labels.nope", "neq", "\"x\""));
    assert_true(c1(f, "timeout", "eq", "86400"));
}

static void test_severity_aliases_and_order(void **state)
{
    struct fx *f = *state;

    assert_true(c1(f, "severity", "gt", "\"minor\""));  /* major is more severe */
    assert_false(c1(f, "severity", "gt", "\"major\""));
    assert_false(c1(f, "severity", "gt", "\"critical\""));
    assert_true(c1(f, "severity", "lt", "\"critical\""));
    assert_false(c1(f, "severity", "lt", "\"warning\""));
    assert_true(c1(f, "previousSeverity", "lt", "\"major\""));
    assert_false(c1(f, "severity", "eq", "\"ok\""));
    assert_true(c1(f, "severity", "neq", "\"normal\""));
}

static void test_gt_lt(void **state)
{
    struct fx *f = *state;

    assert_true(c1(f, "value", "gt", "90"));
    assert_false(c1(f, "value", "gt", "93.5"));
    assert_true(c1(f, "value", "lt", "100"));
    assert_true(c1(f, "attributes.count", "gt", "41"));
    assert_false(c1(f, "attributes.count", "lt", "42"));
    assert_false(c1(f, "resource", "gt", "1"));      /* not a number */
    assert_false(c1(f, "labels.nope", "lt", "1"));   /* missing */
    assert_true(c1(f, "createTime", "gt", "1699999999999"));
    assert_true(c1(f, "duplicateCount", "lt", "1"));
}

static void test_strings(void **state)
{
    struct fx *f = *state;

    assert_true(c1(f, "text", "contain", "\"u hi\""));
    assert_false(c1(f, "text", "contain", "\"xyz\""));
    assert_true(c1(f, "text", "not_contain", "\"xyz\""));
    assert_false(c1(f, "text", "not_contain", "\"cpu\""));
    assert_true(c1(f, "resource", "begin_with", "\"web\""));
    assert_false(c1(f, "resource", "begin_with", "\"01\""));
    assert_true(c1(f, "resource", "not_begin_with", "\"db\""));
    assert_false(c1(f, "resource", "not_begin_with", "\"w\""));
    assert_true(c1(f, "resource", "end_with", "\"01\""));
    assert_false(c1(f, "resource", "end_with", "\"web\""));
    assert_true(c1(f, "resource", "not_end_with", "\"02\""));
    assert_false(c1(f, "resource", "not_end_with", "\"1\""));
    assert_true(c1(f, "service", "begin_with", "\"ap\"")); /* any item */
    assert_true(c1(f, "region", "contain", "\"west\""));
}

static void test_regexp(void **state)
{
    struct fx *f = *state;

    assert_true(c1(f, "event", "regexp", "\"CPU\"")); /* a search, not anchored */
    assert_false(c1(f, "event", "regexp", "\"^CPU\""));
    assert_true(c1(f, "event", "regexp", "\"^High(CPU|Mem)$\""));
    assert_false(c1(f, "event", "regexp", "\"cpu\"")); /* case-sensitive */
    assert_true(c1(f, "tags", "regexp", "\"^[ab]$\""));
    assert_true(c1(f, "attributes.owner", "regexp", "\"^al\\\"ice\""));
}

static void test_lists(void **state)
{
    struct fx *f = *state;

    assert_true(c1(f, "tags", "has_every", "[\"a\",\"b\"]"));
    assert_false(c1(f, "tags", "has_every", "[\"a\",\"c\"]"));
    assert_true(c1(f, "tags", "has_one_of", "[\"c\",\"b\"]"));
    assert_false(c1(f, "tags", "has_one_of", "[\"c\",\"d\"]"));
    assert_true(c1(f, "tags", "has_not", "[\"c\",\"d\"]"));
    assert_false(c1(f, "tags", "has_not", "[\"c\",\"a\"]"));
    assert_true(c1(f, "service", "has_every", "[\"api\"]"));
    /* an attribute holding a JSON array is a list; numbers are their text */
    assert_true(c1(f, "attributes.zones", "has_every", "[\"z1\",\"z2\",3]"));
    assert_true(c1(f, "attributes.zones", "eq", "\"z2\""));
    assert_true(c1(f, "resource", "has_one_of", "[\"web01\"]")); /* scalar: one item */
    assert_true(c1(f, "labels.nope", "has_not", "[\"x\"]"));
    assert_false(c1(f, "labels.nope", "has_one_of", "[\"x\"]"));
    assert_true(c1(f, "correlate", "is_empty", "true"));
    assert_true(c1(f, "tags", "is_empty", "false"));
}

static void test_is_one_of_empty_exist(void **state)
{
    struct fx *f = *state;

    assert_true(c1(f, "environment", "is_one_of", "[\"Staging\",\"Production\"]"));
    assert_false(c1(f, "environment", "is_one_of", "[\"Staging\"]"));
    assert_true(c1(f, "environment", "is_not_one_of", "[\"Staging\"]"));
    assert_false(c1(f, "environment", "is_not_one_of", "[\"Production\"]"));
    assert_true(c1(f, "tags", "is_one_of", "[\"x\",\"a\"]"));
    assert_true(c1(f, "attributes.count", "is_one_of", "[42]"));
    assert_true(c1(f, "labels.team", "exist", "true"));
    assert_false(c1(f, "labels.nope", "exist", "true"));
    assert_true(c1(f, "labels.nope", "exist", "false"));
    assert_true(c1(f, "labels.nope", "is_empty", "true"));
    assert_false(c1(f, "labels.team", "is_empty", "true"));
    assert_true(c1(f, "customer", "is_empty", "true"));
    assert_true(c1(f, "attributes.obj", "contain", "\"\\\"k\\\"\"")); /* objects as JSON */
}

static void test_or_and(void **state)
{
    struct fx *f = *state;

    assert_true(m(f, "[]")); /* no pattern: every alert */
    assert_true(m(f, "[[{\"field\":\"resource\",\"cond\":{\"type\":\"eq\",\"value\":\"web01\"}},"
                     "{\"field\":\"severity\",\"cond\":{\"type\":\"eq\",\"value\":\"major\"}}]]"));
    assert_false(m(f, "[[{\"field\":\"resource\",\"cond\":{\"type\":\"eq\",\"value\":\"web01\"}},"
                      "{\"field\":\"severity\",\"cond\":{\"type\":\"eq\",\"value\":\"minor\"}}]]"));
    assert_true(m(f, "[[{\"field\":\"resource\",\"cond\":{\"type\":\"eq\",\"value\":\"x\"}}],"
                     "[{\"field\":\"severity\",\"cond\":{\"type\":\"eq\",\"value\":\"major\"}}]]"));
    assert_true(m(f, "[[{\"field\":\"attributes.count\",\"field_type\":\"int\","
                     "\"cond\":{\"type\":\"gt\",\"value\":3}}]]"));
}

static void test_am(void **state)
{
    struct fx *f = *state;

    assert_true(m(f, "[\"severity=major\"]"));
    assert_true(m(f, "[\"severity=\\\"major\\\"\"]"));
    assert_true(m(f, "[\"severity =~ \\\"critical|major\\\"\"]"));
    assert_false(m(f, "[\"severity=~\\\"maj\\\"\"]")); /* anchored */
    assert_true(m(f, "[\"severity!~\\\"maj\\\"\"]"));
    assert_false(m(f, "[\"severity!~\\\"ma.*\\\"\"]"));
    assert_true(m(f, "[\"environment!=\\\"dev\\\"\", \"team=ops\"]"));
    assert_false(m(f, "[\"environment!=Production\", \"team=ops\"]"));
    assert_true(m(f, "[[\"team=dev\"], [\"team=ops\"]]")); /* OR of ANDs */
    assert_false(m(f, "[[\"team=dev\"], [\"team=qa\"]]"));
    assert_true(m(f, "[\"nope=\\\"\\\"\"]"));  /* a missing label is "" */
    assert_true(m(f, "[\"nope=~\\\".*\\\"\"]"));
    assert_false(m(f, "[\"nope!=\\\"\\\"\"]"));
    assert_true(m(f, "[\"labels.region=eu-west\"]"));
    assert_true(m(f, "\"team=ops\"")); /* a single string */
    assert_true(m(f, "[\"tags=a\"]"));  /* lists: any item */
    assert_true(m(f, "[\"tags!=c\"]"));
    assert_true(m(f, "[\"text=\\\"cpu high\\\"\"]"));
    assert_true(m(f, "[\"annotations.summary=~\\\"CPU.*\\\"\"]"));
    assert_true(m(f, "[\"text!=\\\"a\\\\\\\"b\\\"\"]")); /* an escaped quote in the value */
}

static void test_errors(void **state)
{
    struct fx *f = *state;

    err_is(f, "{}", "");
    err_is(f, "[[]]", "[0]");
    err_is(f, "[[{\"field\":\"x\",\"cond\":{\"type\":\"eq\",\"value\":1}}],[1]]", "[1][0]");
    err_is(f, "[[{\"cond\":{\"type\":\"eq\",\"value\":1}}]]", "[0][0].field");
    err_is(f, "[[{\"field\":\"x\"}]]", "[0][0].cond");
    err_is(f, "[[{\"field\":\"x\",\"cond\":{\"type\":\"like\",\"value\":1}}]]", "[0][0].cond.type");
    err_is(f, "[[{\"field\":\"x\",\"cond\":{\"type\":\"eq\"}}]]", "[0][0].cond.value");
    err_is(f,
           "[[{\"field\":\"x\",\"cond\":{\"type\":\"eq\",\"value\":1}},"
           "{\"field\":\"y\",\"cond\":{\"type\":\"gt\",\"value\":\"a\"}}]]",
           "[0][1].cond.value");
    err_is(f, "[[{\"field\":\"x\",\"cond\":{\"type\":\"regexp\",\"value\":\"(\"}}]]",
           "[0][0].cond.value");
    err_is(f, "[[{\"field\":\"x\",\"cond\":{\"type\":\"has_every\",\"value\":[]}}]]",
           "[0][0].cond.value");
    err_is(f, "[[{\"field\":\"x\",\"cond\":{\"type\":\"has_every\",\"value\":[true]}}]]",
           "[0][0].cond.value");
    err_is(f, "[[{\"field\":\"x\",\"cond\":{\"type\":\"exist\",\"value\":\"yes\"}}]]",
           "[0][0].cond.value");
    err_is(f, "[[{\"field\":\"x\",\"cond\":{\"type\":\"contain\",\"value\":3}}]]",
           "[0][0].cond.value");
    err_is(f, "[[{\"field\":\"severity\",\"cond\":{\"type\":\"gt\",\"value\":\"huge\"}}]]",
           "[0][0].cond.value");
    err_is(f, "[[{\"field\":\"x\",\"field_type\":\"float\",\"cond\":{\"type\":\"eq\",\"value\":1}}]]",
           "[0][0].field_type");
    err_is(f, "[[{\"field\":\"x\",\"field_type\":\"int\",\"cond\":{\"type\":\"eq\",\"value\":\"a\"}}]]",
           "[0][0].cond.type");
    err_is(f, "[[{\"field\":\"x\",\"cond\":{\"type\":\"eq\",\"value\":1},\"extra\":1}]]",
           "[0][0].extra");
    err_is(f, "[[{\"field\":\"labels.\",\"cond\":{\"type\":\"eq\",\"value\":1}}]]", "[0][0].field");
    err_is(f, "[\"team=ops\", \"severity\"]", "[1]");
    err_is(f, "[\"team==ops\", \"x=\\\"unterminated\"]", "[1]");
    err_is(f, "[\"team=~\\\"(\\\"\"]", "[0]");
    err_is(f, "[\"a=b\\\"c\"]", "[0]");
    err_is(f, "[[\"a=b\"], [\"=b\"]]", "[1][0]");
    err_is(f, "[\"a=b\", [\"c=d\"]]", "[1]");
}

static void test_fields_text_and_index(void **state)
{
    struct fx *f = *state;
    struct mfield fl;
    char buf[MATCH_TEXT_MAX], name[64];
    size_t len;
    const char *t;
    json_t *j;
    struct matcher *mt = NULL;
    struct verr e = {0};

    assert_int_equal(mfield_parse("tags", &fl), TOCSIN_OK);
    t = mfield_text(&fl, &f->cfg.sev, f->a, buf, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(t, "a,b", 3);
    mfield_free(&fl);
    assert_int_equal(mfield_parse("team", &fl), TOCSIN_OK);
    mfield_name(&fl, name, sizeof(name));
    assert_string_equal(name, "labels.team");
    t = mfield_text(&fl, &f->cfg.sev, f->a, buf, &len);
    assert_memory_equal(t, "ops", 3);
    mfield_free(&fl);
    assert_int_equal(mfield_parse("attributes.owner", &fl), TOCSIN_OK);
    t = mfield_text(&fl, &f->cfg.sev, f->a, buf, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(t, "al\"ice\xc3\xa9", 8);
    mfield_free(&fl);
    assert_int_equal(mfield_parse("labels.missing", &fl), TOCSIN_OK);
    mfield_text(&fl, &f->cfg.sev, f->a, buf, &len);
    assert_int_equal(len, 0);
    mfield_free(&fl);
    assert_int_equal(mfield_parse("", &fl), TOCSIN_EINVAL);
    /* A bare name is "labels.<name>": that canonical form must fit, or it would not parse back. */
    {
        char longname[MATCH_FIELD_MAX + 1], cname[MATCH_FIELD_MAX + 32];
        size_t bare = MATCH_FIELD_MAX - strlen("labels.");
        struct mfield fl2;
        memset(longname, 'k', bare);
        longname[bare] = '\0';
        assert_int_equal(mfield_parse(longname, &fl), TOCSIN_OK);
        mfield_name(&fl, cname, sizeof(cname));
        assert_int_equal(strlen(cname), MATCH_FIELD_MAX);
        assert_int_equal(mfield_parse(cname, &fl2), TOCSIN_OK);
        assert_true(mfield_equal(&fl, &fl2));
        mfield_free(&fl);
        mfield_free(&fl2);
        longname[bare] = 'k';
        longname[bare + 1] = '\0';
        assert_int_equal(mfield_parse(longname, &fl), TOCSIN_EINVAL);
    }

    j = json_loads("[\"severity=~\\\"a|b\\\"\", \"environment=Production\"]", 0, NULL);
    assert_int_equal(matcher_compile(j, &f->cfg.sev, &mt, &e), TOCSIN_OK);
    {
        struct mreq h;
        size_t pos = 0;
        assert_true(matcher_next_required(mt, &f->cfg.sev, &pos, &h)); /* severity: a, b */
        assert_true(matcher_next_required(mt, &f->cfg.sev, &pos, &h));
        mfield_name(h.f, name, sizeof(name));
        assert_string_equal(name, "environment");
        assert_int_equal(h.n, 1);
        assert_memory_equal(h.v[0], "Production", h.len[0]);
        assert_false(matcher_next_required(mt, &f->cfg.sev, &pos, &h));
    }
    matcher_free(mt);
    json_decref(j);
    j = json_loads("[[\"environment=P\"],[\"environment=Q\"]]", 0, NULL);
    assert_int_equal(matcher_compile(j, &f->cfg.sev, &mt, &e), TOCSIN_OK);
    {
        struct mreq h;
        size_t pos = 0;
        assert_false(matcher_next_required(mt, &f->cfg.sev, &pos, &h)); /* two branches */
    }
    matcher_free(mt);
    json_decref(j);
}

/* The index hints of `text`, as "field:v1|v2;field:v" (sev: the map the caller reads with). */
static void hints(const struct fx *f, const char *text, const struct sevmap *sev, char *out,
                  size_t cap)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    struct matcher *mt = NULL;
    struct verr e = {0};
    struct mreq q;
    size_t pos = 0, n = 0;
    char name[64];

    assert_non_null(j);
    if (matcher_compile(j, &f->cfg.sev, &mt, &e) != TOCSIN_OK)
        fail_msg("compile %s: %s: %s", text, e.field, e.msg);
    out[0] = '\0';
    while (matcher_next_required(mt, sev, &pos, &q)) {
        assert_true(q.n >= 1 && q.n <= MATCH_SET_MAX);
        mfield_name(q.f, name, sizeof(name));
        n += (size_t)snprintf(out + n, cap - n, "%s%s:", n ? ";" : "", name);
        for (size_t i = 0; i < q.n && n < cap; i++)
            n += (size_t)snprintf(out + n, cap - n, "%s%.*s", i ? "|" : "", (int)q.len[i],
                                  q.v[i]);
        assert_true(n < cap);
    }
    matcher_free(mt);
    json_decref(j);
}

static void hints_are(const struct fx *f, const char *text, const char *want)
{
    char got[1024];

    hints(f, text, &f->cfg.sev, got, sizeof(got));
    if (strcmp(got, want))
        fail_msg("hints of %s: \"%s\", not \"%s\"", text, got, want);
}

/* n alternatives "v0|v1|..." as an AM regex on team. */
static void alternatives(char *out, size_t cap, int n)
{
    size_t k = (size_t)snprintf(out, cap, "[\"team=~\\\"");

    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(out + k, cap - k, "%sv%d", i ? "|" : "", i);
    snprintf(out + k, cap - k, "\\\"\"]");
}

static void test_index_hints(void **state)
{
    struct fx *f = *state;
    struct sevmap other = f->cfg.sev;
    char text[1024], got[1024];

    hints_are(f, "[\"severity=~\\\"critical|major\\\"\", \"environment=Production\"]",
              "severity:critical|major;environment:Production");
    hints_are(f, "[\"team=~\\\"Ops|ops|ops\\\"\"]", "labels.team:Ops|ops|ops"); /* case kept */
    hints_are(f, "[\"team=~\\\"a.b|c\\\"\"]", ""); /* metacharacters, escapes: not literal */
    hints_are(f, "[\"team=~\\\"(a|b)\\\"\"]", "");
    hints_are(f, "[\"team=~\\\"a\\\\\\\\|b\\\"\"]", "");
    hints_are(f, "[\"team=~\\\"a+\\\"\"]", "");
    hints_are(f, "[\"team=~\\\"a|\\\"\"]", ""); /* an empty alternative */
    hints_are(f, "[\"team=~\\\"|a\\\"\"]", "");
    hints_are(f, "[\"team=~\\\"a||b\\\"\"]", "");
    hints_are(f, "[\"team=~\\\"\\\"\"]", "");
    hints_are(f, "[\"team!=a\", \"team!~\\\"a|b\\\"\", \"tags=a\"]", ""); /* negations, a list */
    hints_are(f, "[[\"team=a\"], [\"team=a\"]]", "");                  /* two branches */
    hints_are(f, "[\"team=\\\"\\\"\", \"attributes.region=eu\", \"status=open\"]",
              "labels.team:;attributes.region:eu;status:open");
    hints_are(f,
              "[[{\"field\":\"team\",\"cond\":{\"type\":\"is_one_of\",\"value\":[\"a\",\"b\",3]}},"
              "{\"field\":\"severity\",\"cond\":{\"type\":\"eq\",\"value\":\"major\"}},"
              "{\"field\":\"severity\",\"cond\":{\"type\":\"eq\",\"value\":\"nosuch\"}},"
              "{\"field\":\"text\",\"cond\":{\"type\":\"regexp\",\"value\":\"a|b\"}},"
              "{\"field\":\"duplicateCount\",\"cond\":{\"type\":\"eq\",\"value\":\"1\"}},"
              "{\"field\":\"resource\",\"cond\":{\"type\":\"eq\",\"value\":3}}]]",
              "labels.team:a|b|3;severity:nosuch"); /* eq "major" compares severity codes */
    alternatives(text, sizeof(text), MATCH_SET_MAX);
    hints(f, text, &f->cfg.sev, got, sizeof(got));
    assert_int_equal(strncmp(got, "labels.team:v0|v1|", 18), 0);
    alternatives(text, sizeof(text), MATCH_SET_MAX + 1);
    hints_are(f, text, "");
    /* severity text is read through a sevmap: only the matcher's own gives hints */
    hints(f, "[\"severity=major\", \"team=a\"]", &other, got, sizeof(got));
    assert_string_equal(got, "labels.team:a");
    hints_are(f, "[\"severity=major\", \"team=a\"]", "severity:major;labels.team:a");
    /* what makes an alternation a set: anchored at both ends, case-sensitive */
    assert_true(m(f, "[\"region=~\\\"x|eu-west\\\"\"]"));
    assert_false(m(f, "[\"region=~\\\"x|eu\\\"\"]"));
    assert_false(m(f, "[\"region=~\\\"x|west\\\"\"]"));
    assert_false(m(f, "[\"region=~\\\"x|EU-WEST\\\"\"]"));
}

static void test_to_json(void **state)
{
    struct fx *f = *state;
    json_t *j = json_loads("[\"a=b\"]", 0, NULL), *back;
    struct matcher *mt = NULL;
    struct verr e = {0};

    assert_int_equal(matcher_compile(j, &f->cfg.sev, &mt, &e), TOCSIN_OK);
    back = matcher_to_json(mt);
    assert_true(json_equal(j, back));
    json_decref(back);
    json_decref(j);
    matcher_free(mt);
}

int main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_eq_neq),     T(test_severity_aliases_and_order),
        T(test_gt_lt),      T(test_strings),
        T(test_regexp),     T(test_lists),
        T(test_is_one_of_empty_exist), T(test_or_and),
        T(test_am),         T(test_errors),
        T(test_fields_text_and_index), T(test_index_hints),
        T(test_to_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
