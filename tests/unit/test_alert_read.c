/* The read side of alerts (store/alert_read.h): Alerta's query API over an in-memory SQLite
 * database holding ALERT_SCHEMA_SQL and rows inserted here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alert.h"
#include "core/facets.h"
#include "store/alert_read.h"
#include "store/alert_schema.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/sidx.h"

#define T0 INT64_C(1795499067123) /* 2026-11-24T05:44:27.123Z */
#define NOW (T0 + 10000)
#define BASE "http://127.0.0.1:8072/alerta"
#define AQ_BIG 6000 /* past the 4096-byte limit of a value */

struct spec {
    int n; /* 1..: id 0000000n-..., lastReceiveId f000000n-... */
    const char *resource, *event, *env, *sev;
    int sevcode;
    const char *status, *service, *group, *value, *text, *tags, *attrs, *customer;
    int64_t lrt;
    int dup;
    int repeat;
    const char *labels;
    const char *raw;
};

static const struct spec rows[] = {
    {1, "web01", "HttpError", "Production", "critical", 1, "open", "[\"Web\",\"Api\"]", "Web",
     "500", "HTTP 500 on /login", "[\"london\",\"dc1\"]", "{\"region\":\"eu\",\"count\":5}", NULL,
     T0 + 1000, 3, 0, "{\"team\":\"core\"}", "{\"raw\":1}"},
    {2, "web02", "HttpError", "Production", "major", 2, "open", "[\"Web\"]", "Web", "503",
     "HTTP 503 upstream", "[\"paris\"]", "{\"region\":\"us\"}", "acme", T0 + 2000, 0, 0, "{}",
     NULL},
    {3, "db01", "DiskFull", "Development", "warning", 4, "ack", "[\"Db\"]", "Database", NULL,
     "disk full on /var", "[]", "{}", "acme", T0 + 3000, 1, 1, "{}", NULL},
    {4, "db02", "DiskFull", "Development", "minor", 3, "closed", "[\"Db\"]", "Database", "90%", "",
     "[\"dc1\"]", "{}", "other", T0 + 4000, 0, 0, "{}", NULL},
    {5, "app01", "Heartbeat", "Production", "normal", 7, "closed", "[]", "System", NULL,
     "heartbeat ok", "[]", "{}", NULL, T0 + 5000, 10, 1, "{}", NULL},
    {6, "web03", "HttpError", "Production", "critical", 1, "open", "[\"Web\"]", "Web", "500",
     "HTTP 500 again", "[]", "{}", NULL, T0 + 6000, 0, 0, "{}", NULL},
    {7, "web04", "LinkDown", "Production", "major", 2, "open", "[\"Net\"]", "Network", NULL,
     "link down", "[]", "{}", NULL, T0 + 7000, 5, 0, "{}", NULL},
    {8, "app02", "LongText", "Staging", "ok", 7, "open", "[\"App\"]", "System", NULL, NULL, "[]",
     "{}", NULL, T0 + 500, 0, 0, "{}", NULL},
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

struct fx {
    sqlite3 *db;
    struct sidx *sidx; /* every row's id, as the engine keeps them */
    struct sevmap sev;
    struct aread_opts o;
    char longtext[5002];
};

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

static void ids_of(int n, char id[37], char lrid[37])
{
    snprintf(id, 37, "%08d-0000-4000-8000-%012d", n, n);
    snprintf(lrid, 37, "f%07d-1111-4000-8000-%012d", n, n);
}

static void insert_row(struct fx *f, const struct spec *s)
{
    static const char sql[] =
        "INSERT INTO alert (rid, id, resource, event, environment, severity, sevcode, status,"
        " service, grp, value, text, tags, attributes, origin, type, customer, correlate,"
        " timeout, create_time, receive_time, last_receive_time, last_receive_id, update_time,"
        " duplicate_count, repeat, previous_severity, trend, fingerprint, labels, annotations,"
        " source, generator_url, starts_at, ends_at, raw_data) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
        " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 'nagios', 'exceptionAlert', ?15, '[]', 86400,"
        " ?16, ?17, ?18, ?19, ?20, ?21, ?22, 'indeterminate', 'moreSevere', ?23, ?24,"
        " '{\"summary\":\"s\"}', 'alerta', ?25, ?26, ?28, ?27)";
    sqlite3_stmt *st = NULL;
    char id[37], lrid[37], fp[32];
    uint8_t u[16];

    ids_of(s->n, id, lrid);
    assert_true(uuid_from_text(id, 36, u));
    assert_int_equal(sidx_put(f->sidx, u, (uint64_t)s->n), TOCSIN_OK);
    snprintf(fp, sizeof(fp), "fp%d", s->n);
    assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int(st, 1, s->n);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, s->resource, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, s->event, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, s->env, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, s->sev, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, s->sevcode);
    sqlite3_bind_text(st, 8, s->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, s->service, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, s->group, -1, SQLITE_STATIC);
    if (s->value)
        sqlite3_bind_text(st, 11, s->value, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, s->text ? s->text : f->longtext, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, s->tags, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 14, s->attrs, -1, SQLITE_STATIC);
    if (s->customer)
        sqlite3_bind_text(st, 15, s->customer, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 16, s->lrt - 500);
    sqlite3_bind_int64(st, 17, s->lrt - 400);
    sqlite3_bind_int64(st, 18, s->lrt);
    sqlite3_bind_text(st, 19, lrid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 20, s->lrt);
    sqlite3_bind_int(st, 21, s->dup);
    sqlite3_bind_int(st, 22, s->repeat);
    sqlite3_bind_text(st, 23, fp, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 24, s->labels, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 25, s->n == 1 ? "http://prom/graph" : "", -1, SQLITE_STATIC);
    if (s->n == 2)
        sqlite3_bind_int64(st, 26, T0 + 1);
    if (s->raw)
        sqlite3_bind_text(st, 27, s->raw, -1, SQLITE_STATIC);
    if (s->n == 3)
        sqlite3_bind_int64(st, 28, T0 + 9000);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

static void history(struct fx *f, int rid, int seq, const char *type, const char *sev,
                    const char *status, int64_t t)
{
    char sql[512], id[37], lrid[37];

    ids_of(rid, id, lrid);
    snprintf(sql, sizeof(sql),
             "INSERT INTO alert_history (" ALERT_HISTORY_NAMES ") VALUES (%d, %d, '%s', 'Ev%d',"
             " %s%s%s, %s%s%s, 'v',"
             " 'h%d', '%s', %lld, %s, %s)",
             rid, seq, id, rid, sev ? "'" : "", sev ? sev : "NULL", sev ? "'" : "",
             status ? "'" : "", status ? status : "NULL", status ? "'" : "", seq, type,
             (long long)t, seq == 2 ? "'bob'" : "NULL", seq == 2 ? "3600" : "NULL");
    exec(f->db, sql);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    memset(f->longtext, 'a', 5000);
    f->longtext[5000] = '!';
    assert_int_equal(sqlite3_open(":memory:", &f->db), SQLITE_OK);
    exec(f->db, ALERT_SCHEMA_SQL);
    exec(f->db, ALERT_HISTORY_V12_SQL); /* the history's layout since migration 12 */
    exec(f->db, ALERT_SCHEMA_V13_SQL);  /* and the list's index since 13 */
    assert_int_equal(aread_init_db(f->db), TOCSIN_OK);
    assert_non_null(f->sidx = sidx_new());
    f->o.sidx = f->sidx;
    for (size_t i = 0; i < NROWS; i++)
        insert_row(f, &rows[i]);
    history(f, 1, 1, "new", "major", "open", T0);
    history(f, 1, 2, "ack", NULL, "ack", T0 + 100);
    history(f, 1, 3, "severity", "critical", "open", T0 + 900);
    history(f, 7, 1, "new", "major", "open", NOW - 3600000);
    for (int s = 2; s <= 5; s++)
        history(f, 7, s, "severity", s % 2 ? "major" : "critical", "open", NOW - 70000 + s);
    for (int s = 1; s <= 2; s++)
        history(f, 2, s, "severity", "major", "open", NOW - 1000 + s);
    exec(f->db, "INSERT INTO alert_note VALUES ('n2', 1, 'second', 'ann', "
                "1795499067200,"
                " 1795499067300, '{}'), ('n1', 1, 'first', NULL, 1795499067100, 1795499067100,"
                " '{\"k\":\"v\"}')");
    sevmap_default(&f->sev);
    f->o.now_ms = NOW;
    f->o.href_base = BASE;
    f->o.sev = &f->sev;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    sqlite3_close(f->db);
    sidx_free(f->sidx);
    free(f);
    return 0;
}

/* ---- calling the API ------------------------------------------------------------------------- */

enum ep { EP_ALERTS, EP_COUNT, EP_HISTORY, EP_TOP, EP_FACET };

struct call {
    int rc;
    json_t *body;
    struct verr err;
};

static struct call run(struct fx *f, enum ep ep, const char *arg, const char *qs)
{
    struct qparam p[64];
    char *scratch = malloc(strlen(qs) + 1);
    size_t n;
    struct call c;

    memset(&c, 0, sizeof(c));
    assert_non_null(scratch);
    n = aread_split_query(qs, scratch, p, 64);
    switch (ep) {
    case EP_ALERTS:
        c.rc = aread_alerts(f->db, p, n, &f->o, &c.body, &c.err);
        break;
    case EP_COUNT:
        c.rc = aread_count(f->db, p, n, &f->o, &c.body, &c.err);
        break;
    case EP_HISTORY:
        c.rc = aread_history(f->db, p, n, &f->o, &c.body, &c.err);
        break;
    case EP_TOP:
        c.rc = aread_top10(f->db, arg, p, n, &f->o, &c.body, &c.err);
        break;
    case EP_FACET:
        c.rc = aread_facet(f->db, arg, p, n, &f->o, &c.body, &c.err);
        break;
    }
    free(scratch);
    if (c.rc)
        assert_null(c.body);
    /* no call leaves a transaction open */
    assert_true(sqlite3_get_autocommit(f->db));
    return c;
}

static json_t *ok(struct fx *f, enum ep ep, const char *arg, const char *qs)
{
    struct call c = run(f, ep, arg, qs);

    if (c.rc)
        fail_msg("%s: rc=%d status=%d field=%s msg=%s", qs, c.rc, c.err.status, c.err.field,
                 c.err.msg);
    return c.body;
}

static void bad(struct fx *f, enum ep ep, const char *qs, int status, const char *field)
{
    struct call c = run(f, ep, "count", qs);

    if (!c.rc)
        fail_msg("%s: expected %d, got a body", qs, status);
    assert_int_equal(c.rc, status == 503 ? TOCSIN_EAGAIN : TOCSIN_EINVAL);
    assert_int_equal(c.err.status, status);
    assert_string_equal(c.err.field, field);
    assert_true(strlen(c.err.msg) > 0);
}

/* The resources of body[key], comma-joined, in order. */
static const char *resources(json_t *body, const char *key)
{
    static char out[512];
    json_t *arr = json_object_get(body, key), *a;
    size_t i, o = 0;

    out[0] = '\0';
    json_array_foreach(arr, i, a) {
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", i ? "," : "",
                              json_string_value(json_object_get(a, "resource")));
    }
    return out;
}

/* The resources of GET /alerts?qs (a fresh call), after checking the total agrees. */
static const char *list(struct fx *f, const char *qs)
{
    static char out[512];
    json_t *b = ok(f, EP_ALERTS, NULL, qs);

    snprintf(out, sizeof(out), "%s", resources(b, "alerts"));
    assert_true(json_integer_value(json_object_get(b, "total")) >=
                (json_int_t)json_array_size(json_object_get(b, "alerts")));
    json_decref(b);
    return out;
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

    assert_non_null(s);
    return s;
}

static void assert_json(json_t *j, const char *expect)
{
    char *s = dump(j);

    assert_string_equal(s, expect);
    free(s);
}

/* Two answers that must be the same, byte for byte (both released). */
static void assert_same(json_t *a, json_t *b, const char *what)
{
    char *x = dump(a), *y = dump(b);

    if (strcmp(x, y))
        fail_msg("%s: %s against %s", what, x, y);
    free(x);
    free(y);
    json_decref(a);
    json_decref(b);
}

/* ---- the query string ------------------------------------------------------------------------ */

static void test_split_query(void **state)
{
    static const char q[] = "a=1&b=%20x%2B&c&&d=+y%zz%4&status!=open&e=%41=b";
    struct qparam p[8];
    char *scratch = malloc(sizeof(q)); /* exactly strlen + 1: ASan checks the bound */
    size_t n;

    (void)state;
    assert_non_null(scratch);
    n = aread_split_query(q, scratch, p, 8);
    assert_int_equal(n, 6);
    assert_string_equal(p[0].k, "a");
    assert_string_equal(p[0].v, "1");
    assert_string_equal(p[1].v, " x+");
    assert_string_equal(p[2].k, "c");
    assert_string_equal(p[2].v, "");
    assert_string_equal(p[3].k, "d");
    assert_string_equal(p[3].v, " y%zz%4");
    assert_string_equal(p[4].k, "status!");
    assert_string_equal(p[4].v, "open");
    assert_string_equal(p[5].k, "e");
    assert_string_equal(p[5].v, "A=b");
    /* at most max */
    assert_int_equal(aread_split_query(q, scratch, p, 2), 2);
    assert_int_equal(aread_split_query("", scratch, p, 2), 0);
    assert_int_equal(aread_split_query("k", scratch, p, 2), 1);
    assert_string_equal(p[0].v, "");
    free(scratch);
}

/* ---- GET /alerts ----------------------------------------------------------------------------- */

static void test_list_default_and_body(void **state)
{
    struct fx *f = *state;
    json_t *b = ok(f, EP_ALERTS, NULL, "");
    char *s;

    /* SORT_LIST_BY: most severe first, then newest */
    assert_string_equal(resources(b, "alerts"), "web03,web01,web04,web02,db02,db01,app01,app02");
    assert_int_equal(json_integer_value(json_object_get(b, "total")), 8);
    assert_int_equal(json_integer_value(json_object_get(b, "page")), 1);
    assert_int_equal(json_integer_value(json_object_get(b, "pageSize")), 50);
    assert_int_equal(json_integer_value(json_object_get(b, "pages")), 1);
    assert_true(json_is_false(json_object_get(b, "more")));
    assert_true(json_is_true(json_object_get(b, "autoRefresh")));
    assert_null(json_object_get(b, "message"));
    assert_json(json_object_get(b, "statusCounts"), "{\"ack\":1,\"closed\":2,\"open\":5}");
    assert_json(json_object_get(b, "severityCounts"),
                "{\"critical\":2,\"major\":2,\"minor\":1,\"normal\":1,\"ok\":1,\"warning\":1}");
    assert_string_equal(json_string_value(json_object_get(b, "lastTime")),
                        "2026-11-24T05:44:34.123Z");
    /* the keys in the order of alert_read.h */
    s = dump(b);
    assert_non_null(strstr(s, "{\"status\":\"ok\",\"alerts\":["));
    assert_non_null(strstr(s, "],\"total\":8,\"page\":1,\"pageSize\":50,\"pages\":1,\"more\":false,"
                              "\"statusCounts\":"));
    free(s);
    json_decref(b);

    /* nothing matches: Alerta's "not found" form, lastTime is the query time */
    b = ok(f, EP_ALERTS, NULL, "status=blackout");
    assert_string_equal(json_string_value(json_object_get(b, "message")), "not found");
    assert_int_equal(json_integer_value(json_object_get(b, "total")), 0);
    assert_int_equal(json_integer_value(json_object_get(b, "pages")), 0);
    assert_int_equal(json_array_size(json_object_get(b, "alerts")), 0);
    assert_string_equal(json_string_value(json_object_get(b, "lastTime")),
                        "2026-11-24T05:44:37.123Z");
    json_decref(b);
}

/* A struct alert holding spec 1, for alert_render_json. */
static void pack_list(const char *json, struct buf *out, struct aview *v)
{
    json_t *a = json_loads(json, 0, NULL), *x;
    size_t i;

    assert_non_null(a);
    json_array_foreach(a, i, x) {
        buf_append(out, json_string_value(x), json_string_length(x) + 1);
    }
    v->p = out->p ? out->p : "";
    v->len = (uint32_t)out->len;
    json_decref(a);
}

static void pack_map(const char *json, bool raw, struct buf *out, struct aview *v)
{
    json_t *o = json_loads(json, 0, NULL), *x;
    const char *k;

    assert_non_null(o);
    json_object_foreach(o, k, x) {
        char *t = raw ? json_dumps(x, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        buf_append(out, k, strlen(k) + 1);
        buf_append(out, raw ? t : json_string_value(x), strlen(raw ? t : json_string_value(x)) + 1);
        free(t);
    }
    v->p = out->p ? out->p : "";
    v->len = (uint32_t)out->len;
    json_decref(o);
}

static void str_part(struct aview *v, const char *s)
{
    v->p = s ? s : "";
    v->len = s ? (uint32_t)strlen(s) : 0;
    v->null = !s;
}

static char *render_spec1(struct fx *f)
{
    const struct spec *s = &rows[0];
    struct alert a;
    struct ablob_parts parts;
    struct buf lists[6], out;
    char id[37], lrid[37];
    char *res;

    memset(&a, 0, sizeof(a));
    memset(&parts, 0, sizeof(parts));
    for (int i = 0; i < 6; i++)
        buf_init(&lists[i], 1 << 16);
    ids_of(1, id, lrid);
    assert_true(uuid_from_text(id, 36, a.id));
    assert_true(uuid_from_text(lrid, 36, a.last_receive_id));
    a.create_ms = s->lrt - 500;
    a.receive_ms = s->lrt - 400;
    a.last_receive_ms = a.update_ms = s->lrt;
    a.timeout_s = 86400;
    a.duplicate_count = (uint32_t)s->dup;
    a.sev_name = (uint8_t)sevmap_find(&f->sev, s->sev, strlen(s->sev));
    a.prev_sev_name = (uint8_t)sevmap_find(&f->sev, "indeterminate", 13);
    a.status = AST_OPEN;
    a.trend = TREND_MORE;
    str_part(&parts.f[AF_RESOURCE], s->resource);
    str_part(&parts.f[AF_EVENT], s->event);
    str_part(&parts.f[AF_ENVIRONMENT], s->env);
    str_part(&parts.f[AF_GROUP], s->group);
    str_part(&parts.f[AF_VALUE], s->value);
    str_part(&parts.f[AF_TEXT], s->text);
    str_part(&parts.f[AF_ORIGIN], "nagios");
    str_part(&parts.f[AF_TYPE], "exceptionAlert");
    str_part(&parts.f[AF_CUSTOMER], s->customer);
    str_part(&parts.f[AF_SOURCE], "alerta");
    str_part(&parts.f[AF_FINGERPRINT], "fp1");
    str_part(&parts.f[AF_GENERATOR_URL], "http://prom/graph");
    pack_list(s->service, &lists[0], &parts.f[AF_SERVICE]);
    pack_list(s->tags, &lists[1], &parts.f[AF_TAGS]);
    pack_list("[]", &lists[2], &parts.f[AF_CORRELATE]);
    pack_map(s->attrs, true, &lists[3], &parts.f[AF_ATTRIBUTES]);
    pack_map(s->labels, false, &lists[4], &parts.f[AF_LABELS]);
    pack_map("{\"summary\":\"s\"}", false, &lists[5], &parts.f[AF_ANNOTATIONS]);
    assert_int_equal(alert_set_blob(&a, &parts), TOCSIN_OK);
    buf_init(&out, 1 << 20);
    assert_int_equal(alert_render_json(&out, &f->sev, &a, BASE), TOCSIN_OK);
    res = buf_steal(&out);
    free(a.blob);
    for (int i = 0; i < 6; i++)
        buf_free(&lists[i]);
    return res;
}

static void test_alert_json_matches_engine(void **state)
{
    struct fx *f = *state;
    json_t *b = ok(f, EP_ALERTS, NULL, "resource=web01");
    char *mine = dump(json_array_get(json_object_get(b, "alerts"), 0));
    char *engine = render_spec1(f);

    assert_string_equal(mine, engine);
    assert_non_null(strstr(mine, "\"createTime\":\"2026-11-24T05:44:27.623Z\",\"timeout\":86400,"
                                 "\"customer\":null,\"duplicateCount\":3,\"repeat\":false,"));
    assert_non_null(strstr(mine, "\"href\":\"" BASE "/alert/00000001-0000-4000-8000-"));
    free(mine);
    free(engine);
    json_decref(b);

    /* value null, generatorURL "" -> null, startsAt from starts_at, no href without a base */
    f->o.href_base = NULL;
    b = ok(f, EP_ALERTS, NULL, "resource=web02&resource=db01&sort-by=resource");
    mine = dump(json_object_get(b, "alerts"));
    assert_null(strstr(mine, "\"href\""));
    assert_non_null(strstr(mine, "\"value\":null"));
    assert_non_null(strstr(mine, "\"generatorURL\":null,\"startsAt\":\"2026-11-24T05:44:29.623Z\""
                                 ",\"endsAt\":\"2026-11-24T05:44:36.123Z\"}"));
    assert_non_null(strstr(mine, "\"generatorURL\":null,\"startsAt\":\"2026-11-24T05:44:27.124Z\""
                                 ",\"endsAt\":null}"));
    assert_null(strstr(mine, "rawData"));
    assert_null(strstr(mine, "history"));
    free(mine);
    json_decref(b);
    f->o.href_base = BASE;
}

static void test_show_history_and_raw(void **state)
{
    struct fx *f = *state;
    json_t *b = ok(f, EP_ALERTS, NULL, "resource=web01&show-history=true&show-raw-data=1");
    json_t *a = json_array_get(json_object_get(b, "alerts"), 0);
    char *s = dump(a);

    assert_non_null(strstr(s, "\"timeout\":86400,\"rawData\":\"{\\\"raw\\\":1}\",\"customer\":"));
    assert_non_null(strstr(s, "\"updateTime\":\"2026-11-24T05:44:28.123Z\",\"history\":[{"));
    assert_non_null(strstr(s, "\"history\":[{\"id\":\"00000001-0000-4000-8000-000000000001\","
                              "\"href\":\"" BASE "/alert/00000001-0000-4000-8000-000000000001\","
                              "\"event\":\"Ev1\",\"severity\":\"critical\",\"status\":\"open\","
                              "\"value\":\"v\",\"text\":\"h3\",\"type\":\"severity\","
                              "\"updateTime\":\"2026-11-24T05:44:28.023Z\",\"user\":null,"
                              "\"timeout\":null},"));
    assert_non_null(strstr(s, "\"type\":\"ack\",\"updateTime\":\"2026-11-24T05:44:27.223Z\","
                              "\"user\":\"bob\",\"timeout\":3600},"));
    assert_non_null(strstr(s, "\"severity\":null,\"status\":\"ack\""));
    free(s);
    json_decref(b);
}

/* Several alerts of one page each get their own history (none for an alert without one), and
 * no rawData or history unless asked. */
static void test_history_per_alert(void **state)
{
    static const size_t want[] = {0, 3, 2, 0, 5}; /* app02, web01, web02, web03, web04 */
    struct fx *f = *state;
    json_t *b = ok(f, EP_ALERTS, NULL, "status=open&sort-by=resource&show-history=1");
    json_t *alerts = json_object_get(b, "alerts"), *a, *h, *e;
    size_t i, j;

    assert_int_equal(json_array_size(alerts), 5);
    json_array_foreach(alerts, i, a) {
        h = json_object_get(a, "history");
        assert_true(json_is_array(h));
        assert_int_equal(json_array_size(h), want[i]);
        json_array_foreach(h, j, e) {
            assert_string_equal(json_string_value(json_object_get(e, "id")),
                                json_string_value(json_object_get(a, "id")));
        }
        assert_null(json_object_get(a, "rawData"));
    }
    json_decref(b);
    b = ok(f, EP_ALERTS, NULL, "status=open");
    json_array_foreach(json_object_get(b, "alerts"), i, a) {
        assert_null(json_object_get(a, "history"));
        assert_null(json_object_get(a, "rawData"));
    }
    json_decref(b);
}

/* ---- filters --------------------------------------------------------------------------------- */

static void test_filters_fields(void **state)
{
    struct fx *f = *state;

    assert_string_equal(list(f, "resource=web01"), "web01");
    assert_string_equal(list(f, "event=HttpError&event=DiskFull&sort-by=resource"),
                        "db01,db02,web01,web02,web03");
    assert_string_equal(list(f, "event!=HttpError&sort-by=resource"),
                        "app01,app02,db01,db02,web04");
    assert_string_equal(list(f, "event!=HttpError&event!=DiskFull&sort-by=resource"),
                        "app01,app02,web04");
    assert_string_equal(list(f, "status=open&environment=Production&sort-by=resource"),
                        "web01,web02,web03,web04");
    assert_string_equal(list(f, "severity=critical&sort-by=resource"), "web01,web03");
    assert_string_equal(list(f, "group=Database&sort-by=resource"), "db01,db02");
    assert_string_equal(list(f, "value=500&sort-by=resource"), "web01,web03");
    assert_string_equal(list(f, "value!=500&sort-by=resource"),
                        "db02,web02"); /* NULL is no match */
    assert_string_equal(list(f, "text=link%20down"), "web04");
    assert_string_equal(list(f, "customer=acme&sort-by=resource"), "db01,web02");
    assert_string_equal(list(f, "origin=nagios&type=exceptionAlert&status=closed&sort-by=resource"),
                        "app01,db02");
    assert_string_equal(list(f, "duplicateCount=3"), "web01");
    assert_string_equal(list(f, "repeat=true&sort-by=resource"), "app01,db01");
    assert_string_equal(list(f, "timeout=86400&status=ack"), "db01");
    assert_string_equal(list(f, "lastReceiveTime=2026-11-24T05:44:29.123Z"), "web02");
    assert_string_equal(list(f, "createTime=2026-11-24T05:44:29.623Z"), "db01");
    assert_string_equal(list(f, "fingerprint=fp4"), "db02");
    assert_string_equal(list(f, "source=alerta&status=ack"), "db01");
    assert_string_equal(list(f, "trendIndication=moreSevere&previousSeverity=indeterminate"
                                "&status=ack"),
                        "db01");
    /* an injection attempt is only a value */
    assert_string_equal(list(f, "resource=%27%20OR%201%3D1%20--"), "");
}

static void test_filters_regex(void **state)
{
    struct fx *f = *state;

    assert_string_equal(list(f, "resource=~%5Eweb0%5B12%5D%24&sort-by=resource"), "web01,web02");
    assert_string_equal(list(f, "resource=~WEB01"), "web01"); /* case-insensitive */
    assert_string_equal(list(f, "resource!=~%5E(web|app)&sort-by=resource"), "db01,db02");
    /* several values with a ~: one alternation, as Alerta joins them */
    assert_string_equal(list(f, "resource=~web01&resource=db01&sort-by=resource"), "db01,web01");
    assert_string_equal(list(f, "service=~%5EN&sort-by=resource"), "web04");
    assert_string_equal(list(f, "attributes.region=~%5Ee"), "web01");
    bad(f, EP_ALERTS, "resource=~(", 400, "resource");
    bad(f, EP_ALERTS, "duplicateCount=~3", 400, "duplicateCount");
}

/* How many statements a request runs whose SQL holds `needle` (SQLite's statement trace). */
struct traced {
    const char *needle;
    int n;
};

static int trace_stmt(unsigned type, void *ud, void *p, void *x)
{
    struct traced *t = ud;
    const char *sql = sqlite3_sql(p);

    (void)type;
    (void)x;
    if (sql && strstr(sql, t->needle))
        t->n++;
    return 0;
}

static int runs_with(struct fx *f, enum ep ep, const char *arg, const char *qs, const char *needle)
{
    struct traced t = {needle, 0};

    sqlite3_trace_v2(f->db, SQLITE_TRACE_STMT, trace_stmt, &t);
    json_decref(ok(f, ep, arg, qs));
    sqlite3_trace_v2(f->db, 0, NULL, NULL);
    return t.n;
}

/* A request that reads rows' later columns beyond its page maps the file for its length and
 * drops the mapping after (the statements that do it; the fixture's database is in memory, which
 * SQLite never maps); one the index answers, or that reads only a row's first columns, reads
 * with pread. */
static void test_scan_mapping(void **state)
{
    struct fx *f = *state;
    static const char *const cust[] = {"acme"};
    static const char map[] = "mmap_size = 8589934592", unmap[] = "mmap_size = 0";

    assert_int_equal(runs_with(f, EP_ALERTS, NULL, "q=text:disk", map), 1);
    assert_int_equal(runs_with(f, EP_ALERTS, NULL, "q=text:disk", unmap), 1);
    assert_int_equal(runs_with(f, EP_COUNT, NULL, "tags=dc1", map), 1);
    assert_int_equal(runs_with(f, EP_ALERTS, NULL, "group=Web&status=open", map), 1);
    assert_int_equal(runs_with(f, EP_ALERTS, NULL, "status=open", "mmap_size"), 0);
    assert_int_equal(runs_with(f, EP_ALERTS, NULL, "environment=Production", "mmap_size"), 0);
    assert_int_equal(runs_with(f, EP_COUNT, NULL, "resource=web01&event=HttpError", "mmap_size"),
                     0);
    f->o.customers = cust;
    f->o.ncustomers = 1;
    assert_int_equal(runs_with(f, EP_ALERTS, NULL, "status=open", map), 1);
    assert_int_equal(runs_with(f, EP_ALERTS, NULL, "status=open", unmap), 1);
    f->o.customers = NULL;
    f->o.ncustomers = 0;
}

/* Filters on the columns alert_by_status_sev holds (environment, severity; migration 13) are
 * decided on the index: the default order, paging and counts must come out as from the rows. */
static void test_filters_on_the_index(void **state)
{
    struct fx *f = *state;
    json_t *b;

    assert_string_equal(list(f, "environment=Production"), "web03,web01,web04,web02,app01");
    assert_string_equal(list(f, "environment!=Production"), "db02,db01,app02");
    assert_string_equal(list(f, "environment=~%5Edev"), "db02,db01");
    assert_string_equal(list(f, "environment=Staging&environment=Development"), "db02,db01,app02");
    assert_string_equal(list(f, "status=open&environment=Production&severity=major"),
                        "web04,web02");
    assert_string_equal(list(f, "severity!=critical&status=open"), "web04,web02,app02");
    assert_string_equal(list(f, "environment=Production&page=2&page-size=2"), "web04,web02");
    assert_string_equal(list(f, "environment=Production&sort-by=lastReceiveTime"),
                        "web04,web03,app01,web02,web01");
    b = ok(f, EP_ALERTS, NULL, "environment=Production&status=open&page-size=1");
    assert_int_equal(json_integer_value(json_object_get(b, "total")), 4);
    assert_int_equal(json_integer_value(json_object_get(b, "pages")), 4);
    assert_json(json_object_get(b, "statusCounts"), "{\"open\":4}");
    assert_json(json_object_get(b, "severityCounts"), "{\"critical\":2,\"major\":2}");
    json_decref(b);
    /* the counts stream over the index ("+" hides it when the rows must decide) */
    assert_int_equal(runs_with(f, EP_ALERTS, NULL, "environment=Production", "+alert.status"), 0);
    assert_int_equal(runs_with(f, EP_ALERTS, NULL, "severity!=major", "+alert.status"), 0);
    assert_int_equal(runs_with(f, EP_ALERTS, NULL, "group=Web", "+alert.status"), 1);
    b = ok(f, EP_COUNT, NULL, "environment=Development&severity=minor&severity=warning");
    assert_json(b, "{\"status\":\"ok\",\"total\":2,\"statusCounts\":{\"ack\":1,\"closed\":1},"
                   "\"severityCounts\":{\"minor\":1,\"warning\":1},\"autoRefresh\":true}");
    json_decref(b);
}

static void test_filters_lists_maps_ids(void **state)
{
    struct fx *f = *state;
    char qs[128];

    assert_string_equal(list(f, "service=Web&sort-by=resource"), "web01,web02,web03");
    assert_string_equal(list(f, "service=Api&service=Db&sort-by=resource"), "db01,db02,web01");
    assert_string_equal(list(f, "service!=Web&sort-by=resource"), "app01,app02,db01,db02,web04");
    assert_string_equal(list(f, "tag=dc1&sort-by=resource"), "db02,web01");
    assert_string_equal(list(f, "tags=paris"), "web02");
    assert_string_equal(list(f, "attributes.region=eu"), "web01");
    assert_string_equal(list(f, "attributes.region!=eu"), "web02"); /* absent key: no match */
    assert_string_equal(list(f, "labels.team=core"), "web01");
    assert_string_equal(list(f, "id=00000001"), "web01");
    assert_string_equal(list(f, "id=f0000002"), "web02"); /* a lastReceiveId prefix */
    assert_string_equal(list(f, "id=00000003&id=f0000004&sort-by=resource"), "db01,db02");
    assert_string_equal(list(f, "id=0000000&status=ack"), "db01");
    assert_string_equal(list(f, "id=zz"), "");
    snprintf(qs, sizeof(qs), "from-date=%s&to-date=%s&sort-by=resource", "2026-11-24T05:44:29.123Z",
             "2026-11-24T05:44:31.123Z");
    assert_string_equal(list(f, qs), "db01,db02"); /* (from, to] */
    assert_string_equal(list(f, "from-date=2026-11-24T07:44:33.123%2B02:00"), "web04");
    bad(f, EP_ALERTS, "foo=1", 400, "foo");
    bad(f, EP_ALERTS, "status.x=open", 400, "status.x");
    bad(f, EP_ALERTS, "attributes=x", 400, "attributes");
    bad(f, EP_ALERTS, "attributes.a%22b=x", 400, "attributes.a\"b");
    bad(f, EP_ALERTS, "duplicateCount=abc", 400, "duplicateCount");
    bad(f, EP_ALERTS, "from-date=yesterday", 400, "from-date");
    bad(f, EP_ALERTS, "to-date=2026-13-01", 400, "to-date");
    /* parameters Alerta ignores are not filters */
    assert_string_equal(list(f, "resource=web01&callback=x&_=1&api-key=k&q.df=text"), "web01");
}

static void test_customer_restriction(void **state)
{
    struct fx *f = *state;
    const char *const acme[] = {"acme"};
    json_t *b;
    char out[37];

    f->o.customers = acme;
    f->o.ncustomers = 1;
    assert_string_equal(list(f, "sort-by=resource"), "db01,web02");
    assert_string_equal(list(f, "customer=other"), "");
    b = ok(f, EP_COUNT, NULL, "");
    assert_int_equal(json_integer_value(json_object_get(b, "total")), 2);
    json_decref(b);
    b = ok(f, EP_FACET, "environments", "");
    assert_json(json_object_get(b, "environments"),
                "[{\"environment\":\"Development\",\"count\":1,\"severityCounts\":{\"warning\":1},"
                "\"statusCounts\":{\"ack\":1}},{\"environment\":\"Production\",\"count\":1,"
                "\"severityCounts\":{\"major\":1},\"statusCounts\":{\"open\":1}}]");
    json_decref(b);
    assert_int_equal(aread_resolve_id(f->db, "00000001", &f->o, out), TOCSIN_ENOTFOUND);
    assert_int_equal(aread_resolve_id(f->db, "00000002", &f->o, out), TOCSIN_OK);
    /* a restriction to no customer shows nothing */
    f->o.ncustomers = 0;
    assert_string_equal(list(f, ""), "");
    f->o.customers = NULL;
}

/* ---- q= -------------------------------------------------------------------------------------- */

static void test_q_grammar(void **state)
{
    struct fx *f = *state;

    assert_string_equal(list(f, "q=resource:web01"), "web01");
    assert_string_equal(list(f, "q=http&sort-by=resource"), "web01,web02,web03");  /* text ILIKE */
    assert_string_equal(list(f, "q=503%20login&sort-by=resource"), "web01,web02"); /* implicit OR */
    assert_string_equal(list(f, "q=%22HTTP%20500%22&sort-by=resource"), "web01,web03");
    assert_string_equal(list(f, "q=text:%22disk%20full%22"), "db01");
    assert_string_equal(list(f, "q=%22disk%20ful%22"), ""); /* a phrase stops at word bounds */
    assert_string_equal(list(f, "q=resource:web0*&sort-by=resource"), "web01,web02,web03,web04");
    assert_string_equal(list(f, "q=resource:db0?&sort-by=resource"), "db01,db02");
    assert_string_equal(list(f, "q=resource:/%5Edb0[12]$/&sort-by=resource"), "db01,db02");
    assert_string_equal(list(f, "q=duplicate_count:[3%20TO%205]&sort-by=resource"), "web01,web04");
    assert_string_equal(list(f, "q=duplicateCount:{3%20TO%205]"), "web04");
    assert_string_equal(list(f, "q=duplicateCount:[*%20TO%201}&status=ack"), "");
    assert_string_equal(list(f, "q=duplicateCount:%3E%3D5&sort-by=resource"), "app01,web04");
    assert_string_equal(list(f, "q=duplicateCount:%3C1&environment=Development"), "db02");
    assert_string_equal(list(f, "q=resource:[db01%20TO%20db02]&sort-by=resource"), "db01,db02");
    assert_string_equal(list(f, "q=lastReceiveTime:[%222026-11-24T05:44:33.123Z%22%20TO%20*]"
                                "&sort-by=resource"),
                        "web03,web04");
    assert_string_equal(list(f, "q=_exists_:region&sort-by=resource"), "web01,web02");
    assert_string_equal(list(f, "q=_exists_:labels.team"), "web01");
    assert_string_equal(list(f, "q=attributes.region:eu"), "web01");
    assert_string_equal(list(f, "q=_.region:us"), "web02");
    assert_string_equal(list(f, "q=service:Web&sort-by=resource"), "web01,web02,web03");
    assert_string_equal(list(f, "q=tags:%22dc1%22&sort-by=resource"), "db02,web01");
    assert_string_equal(list(f, "q=resource:web01%20OR%20resource:db01&sort-by=resource"),
                        "db01,web01");
    assert_string_equal(list(f, "q=resource:web01%20%7C%7C%20resource:db01&sort-by=resource"),
                        "db01,web01");
    assert_string_equal(list(f, "q=event:HttpError%20AND%20NOT%20resource:web01&sort-by=resource"),
                        "web02,web03");
    assert_string_equal(list(f, "q=event:HttpError%20%26%26%20!resource:web01&sort-by=resource"),
                        "web02,web03");
    assert_string_equal(list(f, "q=event:HttpError%20-resource:web01&sort-by=resource"),
                        "web02,web03");
    /* Alerta's SearchOr: a OR NOT b is a AND NOT b */
    assert_string_equal(list(f, "q=event:HttpError%20OR%20NOT%20resource:web01&sort-by=resource"),
                        "web02,web03");
    assert_string_equal(list(f, "q=%2Bresource:web01"), "web01");
    assert_string_equal(list(f, "q=resource:(web01%20OR%20db01)&sort-by=resource"), "db01,web01");
    assert_string_equal(list(f, "q=(resource:web01)"), "web01");
    assert_string_equal(list(f, "q=(event:HttpError%20OR%20event:LinkDown)%20AND%20severity:major"
                                "&sort-by=resource"),
                        "web02,web04");
    assert_string_equal(list(f, "q=status:open%20AND%20severity:critical&sort-by=resource"),
                        "web01,web03");
    assert_string_equal(list(f, "q=web0*&q.df=resource&sort-by=resource"),
                        "web01,web02,web03,web04");
    assert_string_equal(list(f, "q=resource:web01.example"), ""); /* dots are word chars */
    assert_string_equal(list(f, "q=text:%2Flogin%2F"), "web01");  /* a / starts a regex */
    assert_string_equal(list(f, "q=text:\\%2Flogin"), "web01");   /* escaped */
    assert_string_equal(list(f, "q=text:50%25"), "");             /* % is literal */
    assert_string_equal(list(f, "q=value:90%25"), "db02");
    assert_string_equal(list(f, "q=text:*&status=closed&sort-by=resource"), "app01,db02");
    /* injection: the phrase is a bound value */
    assert_string_equal(list(f, "q=%22%27)%3B%20DROP%20TABLE%20alert%3B%20--%22"), "");
    assert_string_equal(list(f, "q=resource:web01"), "web01");
    /* combined with URL filters */
    assert_string_equal(list(f, "q=HttpError&q.df=event&severity=major"), "web02");
}

static void test_q_errors(void **state)
{
    struct fx *f = *state;
    static const char *const bads[] = {
        "q=(resource:web01",
        "q=resource:web01)",
        "q=resource:",
        "q=foo:bar",
        "q=a%20AND",
        "q=%22open",
        "q=/open",
        "q=a~2",
        "q=a^2",
        "q=a%20%26%20b",
        "q=[a%20b]",
        "q=[a%20TO%20b",
        "q=_exists_:",
        "q=text:/(/",
        "q=duplicate_count:abc",
        "q=createTime:[x%20TO%20*]",
        "q=%3E",
        "q=AND",
        "q=)",
        "q=%20",
        "q=repeat:%3E1",
        "q=resource:web0*%20TO",
        "q=text:%2Flogin",
    };
    char *deep, *many, *huge;

    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
        bad(f, EP_ALERTS, bads[i], 400, "q");
    bad(f, EP_ALERTS, "q=x&q.df=nope", 400, "q.df");
    /* bounds: nesting, terms, length */
    deep = calloc(1, 200);
    many = calloc(1, 1000);
    huge = calloc(1, 5000);
    assert_true(deep && many && huge);
    strcpy(deep, "q=");
    for (int i = 0; i < 40; i++)
        strcat(deep, "(");
    strcat(deep, "a");
    for (int i = 0; i < 40; i++)
        strcat(deep, ")");
    bad(f, EP_ALERTS, deep, 400, "q");
    strcpy(deep, "q=");
    for (int i = 0; i < 40; i++)
        strcat(deep, "-");
    strcat(deep, "a");
    bad(f, EP_ALERTS, deep, 400, "q");
    strcpy(many, "q=");
    for (int i = 0; i < 70; i++)
        strcat(many, "a%20");
    bad(f, EP_ALERTS, many, 400, "q");
    strcpy(huge, "q=");
    memset(huge + 2, 'a', 4200);
    bad(f, EP_ALERTS, huge, 400, "q");
    free(deep);
    free(many);
    free(huge);
    /* the table is still there */
    assert_string_equal(list(f, "resource=web01"), "web01");
}

static void test_regex_bounds(void **state)
{
    struct fx *f = *state;
    char *long_re = calloc(1, 1200), *parens = calloc(1, 400);

    assert_true(long_re && parens);
    /* catastrophic backtracking on a 5001-byte text stops at the match limit: a 400 */
    bad(f, EP_ALERTS, "text=~(a%2B)%2B%24&resource=app02", 400, "text");
    bad(f, EP_ALERTS, "q=text:/(a%2B)%2B$/", 400, "q");
    /* the same pattern on short texts is fine */
    assert_string_equal(list(f, "text=~(a%2B)%2B%24&status=ack"), "");
    strcpy(long_re, "resource=~");
    memset(long_re + 10, 'a', 1100);
    bad(f, EP_ALERTS, long_re, 400, "resource");
    strcpy(parens, "resource=~");
    for (int i = 0; i < 100; i++)
        strcat(parens, "(");
    strcat(parens, "a");
    for (int i = 0; i < 100; i++)
        strcat(parens, ")");
    bad(f, EP_ALERTS, parens, 400, "resource");
    free(long_re);
    free(parens);
}

/* ---- sort and paging ------------------------------------------------------------------------- */

static void test_sort(void **state)
{
    struct fx *f = *state;

    assert_string_equal(list(f, "sort-by=resource"),
                        "app01,app02,db01,db02,web01,web02,web03,web04");
    assert_string_equal(list(f, "sort-by=-resource"),
                        "web04,web03,web02,web01,db02,db01,app02,app01");
    assert_string_equal(list(f, "sort-by=resource&reverse=true"),
                        "web04,web03,web02,web01,db02,db01,app02,app01");
    /* times are newest first by default */
    assert_string_equal(list(f, "sort-by=lastReceiveTime"),
                        "web04,web03,app01,db02,db01,web02,web01,app02");
    assert_string_equal(list(f, "sort-by=-lastReceiveTime"),
                        "app02,web01,web02,db01,db02,app01,web03,web04");
    assert_string_equal(list(f, "reverse=1"), "app02,app01,db01,db02,web02,web04,web01,web03");
    assert_string_equal(list(f, "sort-by=severity&sort-by=resource"),
                        "web01,web03,web02,web04,db02,db01,app01,app02");
    assert_string_equal(list(f, "sort-by=status&sort-by=resource"),
                        "app02,web01,web02,web03,web04,db01,app01,db02");
    assert_string_equal(list(f, "sort-by=duplicateCount&sort-by=-resource&status=open"),
                        "web03,web02,app02,web01,web04");
    assert_string_equal(
        list(f, "sort-by=attributes.region&sort-by=resource&environment=Production"),
        "app01,web03,web04,web01,web02");
    bad(f, EP_ALERTS, "sort-by=foo", 400, "sort-by");
    bad(f, EP_ALERTS, "sort-by=tag", 400, "sort-by");
    bad(f, EP_ALERTS, "sort-by=id", 400, "sort-by");
}

static void test_paging(void **state)
{
    struct fx *f = *state;
    json_t *b = ok(f, EP_ALERTS, NULL, "page-size=3&page=2");

    assert_string_equal(resources(b, "alerts"), "web02,db02,db01");
    assert_int_equal(json_integer_value(json_object_get(b, "total")), 8);
    assert_int_equal(json_integer_value(json_object_get(b, "pages")), 3);
    assert_true(json_is_true(json_object_get(b, "more")));
    json_decref(b);
    b = ok(f, EP_ALERTS, NULL, "page-size=3&page=3");
    assert_string_equal(resources(b, "alerts"), "app01,app02");
    assert_true(json_is_false(json_object_get(b, "more")));
    json_decref(b);
    assert_string_equal(list(f, "limit=2"), "web03,web01"); /* Alerta's older name */
    b = ok(f, EP_ALERTS, NULL, "page-size=0");
    assert_int_equal(json_integer_value(json_object_get(b, "pageSize")), 50);
    json_decref(b);
    bad(f, EP_ALERTS, "page-size=3&page=4", 416, "page");
    bad(f, EP_ALERTS, "page=0", 416, "page");
    bad(f, EP_ALERTS, "page=-1", 416, "page");
    bad(f, EP_ALERTS, "page=abc", 400, "page");
    bad(f, EP_ALERTS, "page-size=-1", 400, "page-size");
    bad(f, EP_ALERTS, "page-size=10001", 400, "page-size");
    bad(f, EP_ALERTS, "page-size=99999999999999999999", 400, "page-size");
    /* Alerta: with nothing to show, a page past the end is not a 416 */
    b = ok(f, EP_ALERTS, NULL, "status=blackout&page=5");
    assert_int_equal(json_integer_value(json_object_get(b, "page")), 5);
    assert_string_equal(json_string_value(json_object_get(b, "message")), "not found");
    json_decref(b);
    bad(f, EP_ALERTS, "status=blackout&page=0", 416, "page");
}

/* ---- counts, top10, history, facets ---------------------------------------------------------- */

static void test_count(void **state)
{
    struct fx *f = *state;
    json_t *b = ok(f, EP_COUNT, NULL, "environment=Production");

    assert_json(b, "{\"status\":\"ok\",\"total\":5,\"statusCounts\":{\"closed\":1,\"open\":4},"
                   "\"severityCounts\":{\"critical\":2,\"major\":2,\"normal\":1},"
                   "\"autoRefresh\":true}");
    json_decref(b);
    b = ok(f, EP_COUNT, NULL, "status=blackout");
    assert_json(b, "{\"status\":\"ok\",\"total\":0,\"statusCounts\":{},\"severityCounts\":{},"
                   "\"autoRefresh\":true}");
    json_decref(b);
    bad(f, EP_COUNT, "q=(", 400, "q");
}

/* severityCounts name the codes the map shares (normal, ok, cleared) row by row; a name or a
 * code the map does not know, or no map at all, is still counted by name. */
static void test_counts_by_name(void **state)
{
    struct fx *f = *state;
    static const char *const expect =
        "{\"critical\":2,\"custom\":1,\"major\":2,\"minor\":1,\"normal\":1,\"ok\":1,"
        "\"warning\":1,\"weird\":1}";
    json_t *b;

    exec(f->db, "UPDATE alert SET severity = 'weird' WHERE rid = 5;"
                "INSERT INTO alert SELECT 9, 'x9', 'app03', event, environment, 'custom', 99,"
                " status, service, grp, value, text, tags, attributes, origin, type, customer,"
                " correlate, timeout, create_time, receive_time, last_receive_time,"
                " last_receive_id, update_time, duplicate_count, repeat, previous_severity,"
                " trend, fingerprint, labels, annotations, source, generator_url, starts_at,"
                " ends_at, raw_data, state FROM alert WHERE rid = 8;"
                "INSERT INTO alert SELECT 10, 'x10', 'app04', event, environment, 'normal', 7,"
                " 'closed', service, grp, value, text, tags, attributes, origin, type, customer,"
                " correlate, timeout, create_time, receive_time, last_receive_time,"
                " last_receive_id, update_time, duplicate_count, repeat, previous_severity,"
                " trend, fingerprint, labels, annotations, source, generator_url, starts_at,"
                " ends_at, raw_data, state FROM alert WHERE rid = 8;");
    b = ok(f, EP_COUNT, NULL, "");
    assert_json(json_object_get(b, "severityCounts"), expect);
    assert_int_equal(json_integer_value(json_object_get(b, "total")), 10);
    json_decref(b);
    f->o.sev = NULL;
    b = ok(f, EP_COUNT, NULL, "");
    assert_json(json_object_get(b, "severityCounts"), expect);
    json_decref(b);
    f->o.sev = &f->sev;
    /* only known names, with a filter the index does not decide */
    b = ok(f, EP_COUNT, NULL, "status=closed&environment=Development");
    assert_json(b, "{\"status\":\"ok\",\"total\":1,\"statusCounts\":{\"closed\":1},"
                   "\"severityCounts\":{\"minor\":1},\"autoRefresh\":true}");
    json_decref(b);
    b = ok(f, EP_COUNT, NULL, "status=closed");
    assert_json(json_object_get(b, "severityCounts"), "{\"minor\":1,\"normal\":1,\"weird\":1}");
    json_decref(b);
}

static void test_top10(void **state)
{
    struct fx *f = *state;
    json_t *b = ok(f, EP_TOP, "count", "");
    json_t *t = json_object_get(b, "top10"), *e;

    assert_int_equal(json_integer_value(json_object_get(b, "total")), 5);
    e = json_array_get(t, 0);
    /* the lists in byte order, as Alerta's array_agg(DISTINCT ...) */
    assert_json(e, "{\"count\":3,\"duplicateCount\":3,\"environments\":[\"Production\"],"
                   "\"services\":[\"Api\",\"Web\"],\"event\":\"HttpError\",\"resources\":["
                   "{\"id\":\"00000001-0000-4000-8000-000000000001\",\"resource\":\"web01\","
                   "\"href\":\"" BASE "/alert/00000001-0000-4000-8000-000000000001\"},"
                   "{\"id\":\"00000002-0000-4000-8000-000000000002\",\"resource\":\"web02\","
                   "\"href\":\"" BASE "/alert/00000002-0000-4000-8000-000000000002\"},"
                   "{\"id\":\"00000006-0000-4000-8000-000000000006\",\"resource\":\"web03\","
                   "\"href\":\"" BASE "/alert/00000006-0000-4000-8000-000000000006\"}]}");
    /* an alert without a service still counts */
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 1), "event")),
                        "DiskFull");
    json_decref(b);

    b = ok(f, EP_TOP, "count", "group-by=environment&status=open");
    t = json_object_get(b, "top10");
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "environment")),
                        "Production");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(t, 0), "count")), 4);
    json_decref(b);

    /* flapping: web04 has 4 severity changes in the last 30 minutes, web02 only 2 */
    b = ok(f, EP_TOP, "flapping", "");
    t = json_object_get(b, "top10");
    assert_int_equal(json_array_size(t), 1);
    assert_json(json_array_get(t, 0),
                "{\"count\":4,\"duplicateCount\":5,\"environments\":[\"Production\"],"
                "\"services\":[\"Net\"],\"event\":\"LinkDown\",\"resources\":[{\"id\":"
                "\"00000007-0000-4000-8000-000000000007\",\"resource\":\"web04\",\"href\":\"" BASE
                "/alert/00000007-0000-4000-8000-000000000007\"}]}");
    json_decref(b);
    f->o.now_ms = NOW + 3600000; /* an hour later nothing flaps */
    b = ok(f, EP_TOP, "flapping", "");
    assert_string_equal(json_string_value(json_object_get(b, "message")), "not found");
    assert_int_equal(json_array_size(json_object_get(b, "top10")), 0);
    json_decref(b);
    f->o.now_ms = NOW;

    b = ok(f, EP_TOP, "standing", "group-by=resource");
    t = json_object_get(b, "top10");
    assert_int_equal(json_array_size(t), 8);
    assert_true(json_is_string(json_object_get(json_array_get(t, 0), "resource")));
    json_decref(b);
    /* a NULL group (value) is a group too */
    b = ok(f, EP_TOP, "count", "group-by=value");
    t = json_object_get(b, "top10");
    assert_true(json_is_null(json_object_get(json_array_get(t, 0), "value")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(t, 0), "count")), 4);
    assert_int_equal(json_array_size(json_object_get(json_array_get(t, 0), "resources")), 4);
    json_decref(b);

    bad(f, EP_TOP, "group-by=foo", 400, "group-by");
    bad(f, EP_TOP, "group-by=attributes", 400, "group-by");
    {
        struct call c = run(f, EP_TOP, "sideways", "");
        assert_int_equal(c.rc, TOCSIN_ENOTFOUND);
        assert_int_equal(c.err.status, 404);
    }
}

static void test_history(void **state)
{
    struct fx *f = *state;
    json_t *b = ok(f, EP_HISTORY, NULL, "");
    json_t *h = json_object_get(b, "history");

    assert_int_equal(json_integer_value(json_object_get(b, "total")), 10);
    /* newest first: web02's two entries, then web04's */
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "text")), "h2");
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "resource")),
                        "web02");
    json_decref(b);

    b = ok(f, EP_HISTORY, NULL, "resource=web01");
    h = json_object_get(b, "history");
    assert_int_equal(json_array_size(h), 3);
    assert_json(json_array_get(h, 1),
                "{\"id\":\"00000001-0000-4000-8000-000000000001\",\"href\":\"" BASE
                "/alert/00000001-0000-4000-8000-000000000001\",\"resource\":\"web01\","
                "\"event\":\"Ev1\",\"environment\":\"Production\",\"service\":[\"Web\",\"Api\"],"
                "\"group\":\"Web\",\"text\":\"h2\",\"tags\":[\"london\",\"dc1\"],"
                "\"attributes\":{\"region\":\"eu\",\"count\":5},\"origin\":\"nagios\","
                "\"updateTime\":\"2026-11-24T05:44:27.223Z\",\"user\":\"bob\",\"timeout\":3600,"
                "\"type\":\"ack\",\"customer\":null,\"status\":\"ack\"}");
    json_decref(b);

    b = ok(f, EP_HISTORY, NULL, "page-size=4&page=3");
    assert_int_equal(json_array_size(json_object_get(b, "history")), 2);
    json_decref(b);
    b = ok(f, EP_HISTORY, NULL, "page=9223372036854775807&page-size=10000");
    assert_int_equal(json_array_size(json_object_get(b, "history")), 0);
    json_decref(b);
    b = ok(f, EP_HISTORY, NULL, "page=9");
    assert_json(b, "{\"status\":\"ok\",\"message\":\"not found\",\"history\":[],\"total\":0}");
    json_decref(b);
    bad(f, EP_HISTORY, "page=0", 416, "page");
}

/* Unfiltered, /environments and /services take their entries from the counts' pass alone; a
 * filter that every alert passes goes the two-pass way: both must give the same answer. */
static void test_facets_unfiltered(void **state)
{
    struct fx *f = *state;
    static const char *const what[] = {"environments", "services"};
    json_t *b;

    for (int i = 0; i < 2; i++) {
        json_t *one, *two;
        /* one pass without a filter; the second pass (DISTINCT) with one */
        assert_int_equal(runs_with(f, EP_FACET, what[i], "", "DISTINCT"), 0);
        assert_int_equal(runs_with(f, EP_FACET, what[i], "resource!=zz", "DISTINCT"), 1);
        one = ok(f, EP_FACET, what[i], "");
        two = ok(f, EP_FACET, what[i], "resource!=zz");
        assert_same(one, two, what[i]);
    }
    b = ok(f, EP_FACET, "services", "");
    assert_json(json_object_get(b, "services"),
                "[{\"environment\":\"Development\",\"service\":\"Db\",\"count\":2,"
                "\"severityCounts\":{\"minor\":1,\"warning\":1},"
                "\"statusCounts\":{\"ack\":1,\"closed\":1}},"
                "{\"environment\":\"Production\",\"service\":\"Api\",\"count\":1,"
                "\"severityCounts\":{\"critical\":1},\"statusCounts\":{\"open\":1}},"
                "{\"environment\":\"Production\",\"service\":\"Net\",\"count\":1,"
                "\"severityCounts\":{\"major\":1},\"statusCounts\":{\"open\":1}},"
                "{\"environment\":\"Production\",\"service\":\"Web\",\"count\":3,"
                "\"severityCounts\":{\"critical\":2,\"major\":1},\"statusCounts\":{\"open\":3}},"
                "{\"environment\":\"Staging\",\"service\":\"App\",\"count\":1,"
                "\"severityCounts\":{\"ok\":1},\"statusCounts\":{\"open\":1}}]");
    json_decref(b);
}

/* A JSON list of strings as a record's list view ("a\0b\0"). */
static void list_of(const char *json, char *buf, size_t cap, struct aview *v)
{
    json_t *arr = json_loads(json, 0, NULL), *it;
    size_t i, len = 0;

    assert_non_null(arr);
    json_array_foreach(arr, i, it)
    {
        size_t n = strlen(json_string_value(it)) + 1;
        assert_true(len + n <= cap);
        memcpy(buf + len, json_string_value(it), n);
        len += n;
    }
    *v = (struct aview){buf, (uint32_t)len, (uint32_t)json_array_size(arr), false};
    json_decref(arr);
}

/* The facet counts the engine would keep for the fixture's rows. */
static struct facets *facets_of_rows(const struct fx *f)
{
    struct facets *fc = facets_new(f->sev.n);

    assert_non_null(fc);
    for (size_t i = 0; i < NROWS; i++) {
        const struct spec *s = &rows[i];
        struct aview v[AF_COUNT] = {0};
        char svc[128], tags[128];
        v[AF_ENVIRONMENT] = (struct aview){s->env, (uint32_t)strlen(s->env), 0, false};
        v[AF_GROUP] = (struct aview){s->group, (uint32_t)strlen(s->group), 0, false};
        list_of(s->service, svc, sizeof(svc), &v[AF_SERVICE]);
        list_of(s->tags, tags, sizeof(tags), &v[AF_TAGS]);
        v[AF_EVENT] = (struct aview){s->event, (uint32_t)strlen(s->event), 0, false};
        facets_add(fc, v, astatus_parse(s->status, strlen(s->status)),
                   sevmap_find(&f->sev, s->sev, strlen(s->sev)), (uint32_t)s->dup, 1);
    }
    return fc;
}

/* (ep, arg, qs) answered counting rows and from the counts fc: byte for byte the same, and the
 * second runs no statement holding `needle`, which the first does. Leaves fc in use. */
static void same_from_counts(struct fx *f, struct facets *fc, enum ep ep, const char *arg,
                             const char *qs, const char *needle)
{
    json_t *rows_b;
    char what[256];

    f->o.facets = NULL;
    rows_b = ok(f, ep, arg, qs);
    assert_true(runs_with(f, ep, arg, qs, needle) > 0);
    f->o.facets = fc;
    assert_int_equal(runs_with(f, ep, arg, qs, needle), 0);
    snprintf(what, sizeof(what), "%s?%s counting rows, then from the counts", arg, qs);
    assert_same(rows_b, ok(f, ep, arg, qs), what);
}

/* With the engine's counts, a facet filtered by exact statuses and environments alone runs no
 * SQL that reads the alerts, and answers what counting the rows answers; any other filter, or a
 * customer restriction, still counts rows. */
static void test_facets_kept(void **state)
{
    struct fx *f = *state;
    static const char *const what[] = {"environments", "services", "groups", "tags"};
    static const char *const qs[] = {"",
                                     "status=open",
                                     "status=ack&status=closed",
                                     "status=expired",
                                     "status=open&page=2&sort-by=resource",
                                     "environment=Production",
                                     "status=open&environment=Production&environment=Staging",
                                     "environment=Nowhere"};
    static const char *const cust[] = {"acme"};
    struct facets *fc = facets_of_rows(f);

    for (size_t w = 0; w < 4; w++)
        for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
            same_from_counts(f, fc, EP_FACET, what[w], qs[i], "FROM alert");
            /* other filters count rows */
            assert_true(runs_with(f, EP_FACET, what[w], "resource!=zz", "FROM alert") > 0);
            assert_true(runs_with(f, EP_FACET, what[w], "environment!=Staging", "FROM alert") > 0);
            assert_true(runs_with(f, EP_FACET, what[w], "environment=~Stag", "FROM alert") > 0);
            assert_true(runs_with(f, EP_FACET, what[w], "severity=major", "FROM alert") > 0);
            assert_true(runs_with(f, EP_FACET, what[w], "status=bogus", "FROM alert") > 0);
            f->o.customers = cust;
            f->o.ncustomers = 1;
            assert_true(runs_with(f, EP_FACET, what[w], "", "FROM alert") > 0);
            f->o.customers = NULL;
            f->o.ncustomers = 0;
        }
    /* top10 by event: the groups, counts, duplicate sums and lists from the counts, only the
     * resources from the rows (no GROUP BY); other kinds, groupings and filters count rows */
    {
        static const char *const tq[] = {"", "status=open", "status=ack&status=closed",
                                         "status=expired", "group-by=event&status=open"};
        for (size_t i = 0; i < sizeof(tq) / sizeof(tq[0]); i++)
            same_from_counts(f, fc, EP_TOP, "count", tq[i], "GROUP BY");
        assert_true(runs_with(f, EP_TOP, "count", "group-by=resource", "GROUP BY") > 0);
        assert_true(runs_with(f, EP_TOP, "standing", "", "GROUP BY") > 0);
        assert_true(runs_with(f, EP_TOP, "count", "environment=Production", "GROUP BY") > 0);
        f->o.facets = NULL;
    }
    /* a kind with a missed value (more values than the engine keeps: tags and events here)
     * counts rows; the others still answer from the counts */
    for (int i = 0; i < FACETS_KEYS_MAX + 1; i++) {
        char tag[16];
        struct aview v[AF_COUNT] = {0};
        snprintf(tag, sizeof(tag), "x%d", i);
        v[AF_ENVIRONMENT] = (struct aview){"Nowhere", 7, 0, false};
        v[AF_GROUP] = (struct aview){"G", 1, 0, false};
        v[AF_TAGS] = (struct aview){tag, (uint32_t)strlen(tag) + 1, 1, false};
        v[AF_EVENT] = (struct aview){tag, (uint32_t)strlen(tag), 0, false}; /* events too */
        facets_add(fc, v, AST_OPEN, 0, 0, 1);
    }
    f->o.facets = fc;
    assert_true(runs_with(f, EP_FACET, "tags", "", "FROM alert") > 0);
    assert_true(runs_with(f, EP_TOP, "count", "", "GROUP BY") > 0);
    assert_int_equal(runs_with(f, EP_FACET, "groups", "", "FROM alert"), 0);
    f->o.facets = NULL;
    facets_free(fc);
}

static void test_facets(void **state)
{
    struct fx *f = *state;
    json_t *b = ok(f, EP_FACET, "environments", "status=open");

    /* every environment is listed, with the counts of the filtered alerts */
    assert_json(b, "{\"status\":\"ok\",\"environments\":["
                   "{\"environment\":\"Development\",\"count\":0,\"severityCounts\":{},"
                   "\"statusCounts\":{}},"
                   "{\"environment\":\"Production\",\"count\":4,\"severityCounts\":{\"critical\":2,"
                   "\"major\":2},\"statusCounts\":{\"open\":4}},"
                   "{\"environment\":\"Staging\",\"count\":1,\"severityCounts\":{\"ok\":1},"
                   "\"statusCounts\":{\"open\":1}}],\"total\":3}");
    json_decref(b);
    b = ok(f, EP_FACET, "services", "environment=Production");
    assert_json(json_object_get(b, "services"),
                "[{\"environment\":\"Development\",\"service\":\"Db\",\"count\":0,"
                "\"severityCounts\":{},\"statusCounts\":{}},"
                "{\"environment\":\"Production\",\"service\":\"Api\",\"count\":1,"
                "\"severityCounts\":{\"critical\":1},\"statusCounts\":{\"open\":1}},"
                "{\"environment\":\"Production\",\"service\":\"Net\",\"count\":1,"
                "\"severityCounts\":{\"major\":1},\"statusCounts\":{\"open\":1}},"
                "{\"environment\":\"Production\",\"service\":\"Web\",\"count\":3,"
                "\"severityCounts\":{\"critical\":2,\"major\":1},\"statusCounts\":{\"open\":3}},"
                "{\"environment\":\"Staging\",\"service\":\"App\",\"count\":0,"
                "\"severityCounts\":{},\"statusCounts\":{}}]");
    json_decref(b);
    b = ok(f, EP_FACET, "groups", "environment=Development");
    assert_json(b, "{\"status\":\"ok\",\"groups\":[{\"environment\":\"Development\","
                   "\"group\":\"Database\",\"count\":2}],\"total\":1}");
    json_decref(b);
    b = ok(f, EP_FACET, "tags", "");
    assert_json(json_object_get(b, "tags"),
                "[{\"environment\":\"Development\",\"tag\":\"dc1\",\"count\":1},"
                "{\"environment\":\"Production\",\"tag\":\"dc1\",\"count\":1},"
                "{\"environment\":\"Production\",\"tag\":\"london\",\"count\":1},"
                "{\"environment\":\"Production\",\"tag\":\"paris\",\"count\":1}]");
    json_decref(b);
    b = ok(f, EP_FACET, "tags", "status=blackout");
    assert_json(b, "{\"status\":\"ok\",\"message\":\"not found\",\"tags\":[],\"total\":0}");
    json_decref(b);
    {
        struct call c = run(f, EP_FACET, "colours", "");
        assert_int_equal(c.rc, TOCSIN_ENOTFOUND);
        assert_int_equal(c.err.status, 404);
    }
    bad(f, EP_FACET, "q=foo:bar", 400, "q");
}

/* ---- one alert, notes ------------------------------------------------------------------------ */

/* The look-ups by id and id prefix every way of finding ids must answer the same. */
static void check_ids(struct fx *f)
{
    struct verr err = {0};
    json_t *b = NULL;
    char full[37];

    assert_int_equal(aread_alert(f->db, "00000009", &f->o, &b, &err), TOCSIN_ENOTFOUND);
    assert_int_equal(err.status, 404);
    assert_null(b);
    assert_int_equal(aread_alert(f->db, "", &f->o, &b, &err), TOCSIN_ENOTFOUND);
    assert_int_equal(aread_alert(f->db, "%", &f->o, &b, &err), TOCSIN_ENOTFOUND);
    assert_int_equal(aread_resolve_id(f->db, "00000006-0000", &f->o, full), TOCSIN_OK);
    assert_string_equal(full, "00000006-0000-4000-8000-000000000006");
    assert_int_equal(aread_resolve_id(f->db, "00000006-0000-4000-8000-000000000006", &f->o, full),
                     TOCSIN_OK);
    assert_string_equal(full, "00000006-0000-4000-8000-000000000006");
    assert_int_equal(aread_resolve_id(f->db, "00000006-0001", &f->o, full), TOCSIN_ENOTFOUND);
    assert_int_equal(aread_resolve_id(f->db, "0000000", &f->o, full), TOCSIN_OK); /* the first */
    assert_string_equal(full, "00000001-0000-4000-8000-000000000001");
    assert_int_equal(aread_resolve_id(f->db, "00000002", &f->o, full), TOCSIN_OK);
    assert_string_equal(full, "00000002-0000-4000-8000-000000000002");
    assert_int_equal(aread_resolve_id(f->db, "F0000004", &f->o, full), TOCSIN_OK); /* lrid */
    assert_string_equal(full, "00000004-0000-4000-8000-000000000004");
}

static void test_alert_by_id(void **state)
{
    struct fx *f = *state;
    struct verr err = {0};
    json_t *b = NULL, *a;

    assert_int_equal(aread_alert(f->db, "00000001", &f->o, &b, &err), TOCSIN_OK);
    assert_string_equal(json_string_value(json_object_get(b, "status")), "ok");
    assert_int_equal(json_integer_value(json_object_get(b, "total")), 1);
    a = json_object_get(b, "alert");
    assert_string_equal(json_string_value(json_object_get(a, "resource")), "web01");
    assert_string_equal(json_string_value(json_object_get(a, "rawData")), "{\"raw\":1}");
    assert_int_equal(json_array_size(json_object_get(a, "history")), 3);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(a, "history"), 0), "type")),
                        "severity");
    json_decref(b);
    /* a prefix of lastReceiveId, in capitals */
    assert_int_equal(aread_alert(f->db, "F0000004", &f->o, &b, &err), TOCSIN_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "alert"), "resource")),
                        "db02");
    assert_true(json_is_null(json_object_get(json_object_get(b, "alert"), "rawData")));
    json_decref(b);
    check_ids(f);
}

/* Without the engine's short id index (or with one that missed a put) ids are found by a scan. */
static void test_alert_by_id_scan(void **state)
{
    struct fx *f = *state;
    uint8_t id[16] = {0};

    f->o.sidx = NULL;
    check_ids(f);
    f->o.sidx = f->sidx;
    assert_int_equal(sidx_put(f->sidx, id, SIDX_RID_MAX + 1), TOCSIN_EINVAL);
    check_ids(f);
}

/* Ids are looked up among the rows the index names, a page of them at a time, least id first. */
static void test_alert_by_id_follows_index(void **state)
{
    struct fx *f = *state;
    uint8_t id[16];
    char full[37];

    assert_true(uuid_from_text("00000006-0000-4000-8000-000000000006", 36, id));
    sidx_del(f->sidx, id, 6);
    assert_int_equal(aread_resolve_id(f->db, "00000006-0000", &f->o, full), TOCSIN_ENOTFOUND);
    assert_int_equal(sidx_put(f->sidx, id, 6), TOCSIN_OK);
    /* 100 entries of sid 00000000 whose rows are not committed yet: two pages without a match */
    memset(id, 0, sizeof(id));
    for (uint64_t rid = 1000; rid < 1100; rid++)
        assert_int_equal(sidx_put(f->sidx, id, rid), TOCSIN_OK);
    assert_int_equal(aread_resolve_id(f->db, "0000000", &f->o, full), TOCSIN_OK);
    assert_string_equal(full, "00000001-0000-4000-8000-000000000001");
    check_ids(f);
}

static void test_notes(void **state)
{
    struct fx *f = *state;
    struct verr err = {0};
    json_t *b = NULL;

    assert_int_equal(aread_notes(f->db, "00000001", &f->o, &b, &err), TOCSIN_OK);
    assert_json(b, "{\"status\":\"ok\",\"notes\":[{\"id\":\"n1\",\"href\":\"" BASE
                   "/alert/00000001-0000-4000-8000-000000000001/note/n1\",\"text\":\"first\","
                   "\"user\":null,\"attributes\":{\"k\":\"v\"},\"type\":\"alert\","
                   "\"createTime\":\"2026-11-24T05:44:27.100Z\","
                   "\"updateTime\":\"2026-11-24T05:44:27.100Z\",\"_links\":{\"alert\":\"" BASE
                   "/alert/00000001-0000-4000-8000-000000000001\"},\"customer\":null},"
                   "{\"id\":\"n2\",\"href\":\"" BASE
                   "/alert/00000001-0000-4000-8000-000000000001/note/n2\",\"text\":\"second\","
                   "\"user\":\"ann\",\"attributes\":{},\"type\":\"alert\","
                   "\"createTime\":\"2026-11-24T05:44:27.200Z\","
                   "\"updateTime\":\"2026-11-24T05:44:27.300Z\",\"_links\":{\"alert\":\"" BASE
                   "/alert/00000001-0000-4000-8000-000000000001\"},\"customer\":null}],"
                   "\"total\":2}");
    json_decref(b);
    assert_int_equal(aread_notes(f->db, "00000002", &f->o, &b, &err), TOCSIN_OK);
    assert_json(b, "{\"status\":\"ok\",\"message\":\"not found\",\"notes\":[],\"total\":0}");
    json_decref(b);
    b = NULL;
    assert_int_equal(aread_notes(f->db, "deadbeef", &f->o, &b, &err), TOCSIN_ENOTFOUND);
    assert_int_equal(err.status, 404);
    assert_null(b);
}

/* Bad values everywhere: bounded sizes, no crash, a 400 naming the parameter. */
static void test_hostile_params(void **state)
{
    struct fx *f = *state;
    char *big = malloc(AQ_BIG);
    struct qparam p[3];
    struct call c;

    assert_non_null(big);
    strcpy(big, "resource=");
    memset(big + 9, 'x', AQ_BIG - 10);
    big[AQ_BIG - 1] = '\0';
    bad(f, EP_ALERTS, big, 400, "resource");
    free(big);
    /* a NULL name or value from a careless caller */
    p[0].k = "status";
    p[0].v = NULL;
    memset(&c, 0, sizeof(c));
    c.rc = aread_alerts(f->db, p, 1, &f->o, &c.body, &c.err);
    assert_int_equal(c.rc, TOCSIN_EINVAL);
    assert_null(c.body);
    assert_string_equal(c.err.field, "query");
    /* many values of one filter */
    {
        struct qparam many[101];
        for (int i = 0; i < 101; i++) {
            many[i].k = "event";
            many[i].v = "x";
        }
        memset(&c, 0, sizeof(c));
        c.rc = aread_alerts(f->db, many, 101, &f->o, &c.body, &c.err);
        assert_int_equal(c.rc, TOCSIN_EINVAL);
        assert_string_equal(c.err.field, "event");
        c.rc = aread_alerts(f->db, many, 100, &f->o, &c.body, &c.err);
        assert_int_equal(c.rc, TOCSIN_OK);
        assert_int_equal(json_integer_value(json_object_get(c.body, "total")), 0);
        json_decref(c.body);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_query),
        cmocka_unit_test_setup_teardown(test_list_default_and_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_json_matches_engine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_history_and_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_per_alert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters_regex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters_on_the_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters_lists_maps_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_customer_restriction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_q_grammar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_q_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regex_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_top10, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_facets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_facets_unfiltered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_facets_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_by_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_by_id_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_by_id_follows_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_params, setup, teardown),
    };

    log_setup(LOG_OFF, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
