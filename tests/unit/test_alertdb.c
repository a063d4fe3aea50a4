/* Unit tests for core/alert + core/alertdb: every row of Alerta's action table, the receive
 * rules, de-duplication and correlation (what changes, what does not), history and its cap,
 * timeouts and housekeeping on the injected clock, retention, and the state column round trip. */
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
#include "util/err.h"
#include "util/sidx.h"

#define T0 1700000000000LL
#define S 1000LL

struct fx {
    struct alertdb *db;
    struct effects fx;
    struct alertdb_cfg cfg;
    int64_t now;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    alertdb_cfg_default(&f->cfg);
    f->now = T0;
    f->db = alertdb_new(&f->cfg, f->now);
    effects_init(&f->fx);
    *state = f;
    return f->db ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    effects_free(&f->fx);
    alertdb_free(f->db);
    free(f);
    return 0;
}

static int sev(const struct fx *f, const char *name)
{
    return sevmap_find(&f->cfg.sev, name, strlen(name));
}

static struct alert_in mk(const struct fx *f, const char *res, const char *ev, const char *sv)
{
    struct alert_in in;

    alert_in_init(&in);
    in.resource = res;
    in.event = ev;
    in.environment = "Production";
    in.severity = sv ? sev(f, sv) : -1;
    return in;
}

static struct alert *recv_in(struct fx *f, const struct alert_in *in, int *kind)
{
    struct alert *a = NULL;
    int k = -1;

    assert_int_equal(alertdb_receive(f->db, in, "test", "test", "u", false, f->now, &f->fx, &a, &k),
                     TOCSIN_OK);
    if (kind)
        *kind = k;
    return a;
}

static struct alert *recv_sev(struct fx *f, const char *res, const char *ev, const char *sv,
                              int *kind)
{
    struct alert_in in = mk(f, res, ev, sv);
    return recv_in(f, &in, kind);
}

static const char *sev_of(const struct fx *f, const struct alert *a)
{
    return f->cfg.sev.name[a->sev_name];
}

static const char *prev_of(const struct fx *f, const struct alert *a)
{
    return f->cfg.sev.name[a->prev_sev_name];
}

/* The history entries written for the alert so far (from the effects), newest last. */
static size_t hist(const struct fx *f, const struct alert *a, const struct hist_entry **out,
                   size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < f->fx.n; i++) {
        const struct alert_change *c = f->fx.v[i].u.achange;
        if (f->fx.v[i].kind != EFF_ACHANGE || c->rid != a->rid)
            continue;
        for (uint32_t k = 0; k < c->nhist && n < max; k++)
            out[n++] = &c->hist[k];
    }
    return n;
}

static int act(struct fx *f, struct alert *a, const char *action)
{
    char why[128];
    return alertdb_action(f->db, a->id, action, "t", -1, "op", f->now, &f->fx, why, sizeof(why));
}

/* ---- model ---------------------------------------------------------------------------------- */

static void test_sevmap(void **state)
{
    struct sevmap m;
    char list[512], why[128];

    (void)state;
    sevmap_default(&m);
    assert_int_equal(m.code[sevmap_find(&m, "security", 8)], 0);
    assert_int_equal(m.code[sevmap_find(&m, "ok", 2)], 7);
    assert_int_equal(sevmap_find(&m, "Critical", 8), -1); /* case-sensitive, as Alerta */
    sevmap_list(&m, list, sizeof(list));
    assert_string_equal(list, "security, critical, major, minor, warning, indeterminate, "
                              "informational, normal, ok, cleared, debug, trace, unknown");
    assert_int_equal(sevmap_parse("fatal=0,normal=5,informational=4,indeterminate=3", &m, why,
                                  sizeof(why)),
                     0);
    assert_int_equal(m.normal, 5);
    assert_int_equal(sevmap_parse("fatal=0", &m, why, sizeof(why)), -1);
    assert_int_equal(sevmap_parse("a=300,normal=1,informational=2,indeterminate=3", &m, why,
                                  sizeof(why)),
                     -1);
    assert_int_equal(sevmap_parse("a=1,a=2", &m, why, sizeof(why)), -1);
}

static void test_uuid_time(void **state)
{
    uint8_t id[16];
    char txt[37], t[32];
    int64_t ms;

    (void)state;
    assert_true(uuid_from_text("0123abcd-4567-89ef-0123-456789abcdef", 36, id));
    uuid_to_text(id, txt);
    assert_string_equal(txt, "0123abcd-4567-89ef-0123-456789abcdef");
    assert_false(uuid_from_text("0123abcd-4567-89ef-0123-456789abcdeg", 36, id));
    assert_false(uuid_from_text("0123abcd", 8, id));
    iso8601_ms(T0 + 123, t);
    assert_string_equal(t, "2023-11-14T22:13:20.123Z");
    assert_true(iso8601_parse(t, strlen(t), &ms));
    assert_int_equal(ms, T0 + 123);
    assert_true(iso8601_parse("2023-11-15T00:13:20+02:00", 25, &ms));
    assert_int_equal(ms, T0);
    assert_true(iso8601_parse("2023-11-14T22:13:20Z", 20, &ms));
    assert_int_equal(ms, T0);
    assert_false(iso8601_parse("2023-13-14T22:13:20Z", 20, &ms));
    assert_false(iso8601_parse("yesterday", 9, &ms));
}

/* iso8601_ms's arithmetic path against gmtime_r and strftime, around leap days, centuries,
 * the epoch and the ends of the years it covers, and on values spread over the whole range */
static void ref_iso(int64_t ms, char out[64])
{
    int64_t sec = ms / 1000, rem = ms % 1000;
    time_t t;
    struct tm tm;
    size_t n;

    if (rem < 0) {
        rem += 1000;
        sec--;
    }
    t = (time_t)sec;
    assert_non_null(gmtime_r(&t, &tm));
    n = strftime(out, 64, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 64 - n, ".%03dZ", (int)rem);
}

static void test_iso8601_ms_matches_gmtime(void **state)
{
    static const int64_t at[] = {
        0,
        -1,
        1,
        999,
        -999,
        -1000,
        -1001,
        86399999,
        86400000,
        -86400000,
        951782400000,    /* 2000-02-29 */
        951868799999,    /* 2000-02-29T23:59:59.999 */
        4107542400000,   /* 2100-03-01 */
        -2203891200000,  /* 1900-02-28 */
        -30610224000000, /* 1000-01-01, the first year done by arithmetic */
        -30610224000001, /* 999-12-31T23:59:59.999: strftime's path */
        253402300799999, /* 9999-12-31T23:59:59.999 */
        253402300800000, /* 10000-01-01: strftime's path */
        T0 + 123,
    };
    char got[32], want[64];
    uint64_t x = 0x9e3779b97f4a7c15u;

    (void)state;
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        iso8601_ms(at[i], got);
        ref_iso(at[i], want);
        assert_string_equal(got, want);
    }
    for (int i = 0; i < 200000; i++) { /* xorshift over -30,610,224,000,000 .. 2.5e14 */
        int64_t ms;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ms = (int64_t)(x % 284012524800000u) - 30610224000000;
        iso8601_ms(ms, got);
        ref_iso(ms, want);
        assert_string_equal(got, want);
    }
}

/* ---- create, duplicate, correlate ----------------------------------------------------------- */

static void test_new_alert(void **state)
{
    struct fx *f = *state;
    int kind;
    struct alert *a = recv_sev(f, "web01", "HttpError", "major", &kind);
    const struct hist_entry *h[4];

    assert_int_equal(kind, RECV_NEW);
    assert_int_equal(a->status, AST_OPEN);
    assert_string_equal(sev_of(f, a), "major");
    assert_string_equal(prev_of(f, a), "indeterminate");
    assert_int_equal(a->trend, TREND_MORE);
    assert_int_equal(a->duplicate_count, 0);
    assert_false(a->repeat);
    assert_int_equal(a->timeout_s, 86400);
    assert_int_equal(a->create_ms, f->now);
    assert_memory_equal(a->id, a->last_receive_id, 16);
    assert_int_equal(hist(f, a, h, 4), 1);
    assert_int_equal(h[0]->type, HT_NEW);
    assert_int_equal(h[0]->status, AST_OPEN);
    {
        struct aview g = alert_get(a, AF_GROUP), t = alert_get(a, AF_TYPE);
        assert_int_equal(g.len, 4);
        assert_memory_equal(g.p, "Misc", 4);
        assert_int_equal(t.len, 14);
        assert_true(alert_get(a, AF_VALUE).null);
        assert_true(alert_get(a, AF_CUSTOMER).null);
    }
}

static void test_new_normal_is_closed(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "web01", "HttpError", "normal", NULL);

    assert_int_equal(a->status, AST_CLOSED);
}

static void test_new_with_sent_status(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "web01", "HttpError", "minor");
    struct alert *a;

    in.status = AST_ACK;
    a = recv_in(f, &in, NULL);
    assert_int_equal(a->status, AST_ACK);
    /* never acked by an action: there is no status before the ack, unack opens it */
    assert_int_equal(act(f, a, "unack"), TOCSIN_OK);
    assert_int_equal(a->status, AST_OPEN);
}

static void test_duplicate(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "web01", "HttpError", "major");
    const char *tags1[] = {"a", "b"}, *tags2[] = {"b", "c"};
    struct kv at1[] = {{"x", "1"}, {"y", "\"keep\""}}, at2[] = {{"x", "2"}, {"z", "null"}};
    struct alert *a, *b;
    int64_t created;
    int kind;
    const struct hist_entry *h[8];

    in.tags = (struct strlist){tags1, 2};
    in.attributes = (struct kvlist){at1, 2};
    in.value = "5";
    in.group = "Web";
    a = recv_in(f, &in, NULL);
    created = a->create_ms;
    f->now += 10 * S;
    in.tags = (struct strlist){tags2, 2};
    in.attributes = (struct kvlist){at2, 2};
    in.group = "Other"; /* not taken by a duplicate */
    in.text = "again";
    b = recv_in(f, &in, &kind);
    assert_ptr_equal(a, b);
    assert_int_equal(kind, RECV_DUPLICATE);
    assert_int_equal(b->duplicate_count, 1);
    assert_true(b->repeat);
    assert_int_equal(b->last_receive_ms, f->now);
    assert_int_equal(b->create_ms, created);   /* untouched */
    assert_int_equal(b->update_ms, T0);        /* no status change */
    assert_memory_not_equal(b->id, b->last_receive_id, 16);
    {
        struct aview tags = alert_get(b, AF_TAGS), at = alert_get(b, AF_ATTRIBUTES),
                     g = alert_get(b, AF_GROUP), t = alert_get(b, AF_TEXT);
        uint32_t pos = 0;
        const char *k, *v;
        assert_int_equal(tags.n, 3); /* union */
        assert_true(aview_has(&tags, "c"));
        assert_memory_equal(g.p, "Web", 3);
        assert_memory_equal(t.p, "again", 5);
        assert_int_equal(at.n, 2); /* x replaced, y kept, z (null) not added */
        assert_true(aview_next(&at, &pos, &k, &v));
        assert_string_equal(k, "x");
        assert_string_equal(v, "2");
        assert_true(aview_next(&at, &pos, &k, &v));
        assert_string_equal(k, "y");
    }
    assert_int_equal(hist(f, a, h, 8), 1); /* only "new": same status, same value */
    /* a value change adds a "value" entry (HISTORY_ON_VALUE_CHANGE) */
    in.value = "6";
    recv_in(f, &in, NULL);
    assert_int_equal(hist(f, a, h, 8), 2);
    assert_int_equal(h[1]->type, HT_VALUE);
    assert_int_equal(a->duplicate_count, 2);
}

static void test_duplicate_attribute_null_deletes(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "r", "e", "minor");
    struct kv at1[] = {{"x", "1"}, {"y", "2"}}, at2[] = {{"x", "null"}};
    struct alert *a;

    in.attributes = (struct kvlist){at1, 2};
    a = recv_in(f, &in, NULL);
    in.attributes = (struct kvlist){at2, 1};
    recv_in(f, &in, NULL);
    assert_int_equal(alert_get(a, AF_ATTRIBUTES).n, 1);
}

static void test_correlate_same_event(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "web01", "HttpError", "minor", NULL), *b;
    int kind;
    const struct hist_entry *h[8];

    recv_sev(f, "web01", "HttpError", "minor", NULL); /* a duplicate first */
    assert_int_equal(a->duplicate_count, 1);
    f->now += 5 * S;
    b = recv_sev(f, "web01", "HttpError", "critical", &kind);
    assert_ptr_equal(a, b);
    assert_int_equal(kind, RECV_CORRELATED);
    assert_string_equal(sev_of(f, b), "critical");
    assert_string_equal(prev_of(f, b), "minor");
    assert_int_equal(b->trend, TREND_MORE);
    assert_int_equal(b->duplicate_count, 0);
    assert_false(b->repeat);
    assert_int_equal(b->receive_ms, f->now);
    assert_int_equal(hist(f, a, h, 8), 2);
    assert_int_equal(h[1]->type, HT_SEVERITY);
    /* less severe */
    recv_sev(f, "web01", "HttpError", "warning", NULL);
    assert_int_equal(a->trend, TREND_LESS);
}

static void test_correlate_list(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "node1", "NodeDown", "critical");
    const char *corr[] = {"NodeDown", "NodeUp"};
    struct alert *a, *b;
    int kind;
    struct aview ev, c;

    in.correlate = (struct strlist){corr, 2};
    a = recv_in(f, &in, NULL);
    c = alert_get(a, AF_CORRELATE);
    assert_true(aview_has(&c, "NodeUp"));
    /* NodeUp is in the stored correlate list: same alert, event renamed, closes (normal) */
    b = recv_sev(f, "node1", "NodeUp", "normal", &kind);
    assert_ptr_equal(a, b);
    assert_int_equal(kind, RECV_CORRELATED);
    ev = alert_get(b, AF_EVENT);
    assert_int_equal(ev.len, 6);
    assert_memory_equal(ev.p, "NodeUp", 6);
    assert_int_equal(b->status, AST_CLOSED);
    /* the key moved with the event */
    assert_ptr_equal(alertdb_find_key(f->db, "Production", "node1", "NodeUp", NULL), a);
    assert_null(alertdb_find_key(f->db, "Production", "node1", "NodeDown", NULL));
    /* an event not in the list makes a new alert */
    b = recv_sev(f, "node1", "DiskFull", "major", &kind);
    assert_int_equal(kind, RECV_NEW);
    assert_ptr_not_equal(a, b);
}

static void test_keys_environment_customer(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "r", "e", "major");
    struct alert *a, *b;
    int kind;

    a = recv_in(f, &in, NULL);
    in.environment = "Development";
    b = recv_in(f, &in, &kind);
    assert_int_equal(kind, RECV_NEW);
    assert_ptr_not_equal(a, b);
    in.environment = "Production";
    in.customer = "acme";
    b = recv_in(f, &in, &kind);
    assert_int_equal(kind, RECV_NEW);
    in.customer = NULL;
    b = recv_in(f, &in, &kind);
    assert_int_equal(kind, RECV_DUPLICATE);
    assert_ptr_equal(a, b);
}

/* ---- receive rules -------------------------------------------------------------------------- */

static void test_reopen_closed(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "r", "e", "critical", NULL);

    recv_sev(f, "r", "e", "normal", NULL); /* correlated: normal closes */
    assert_int_equal(a->status, AST_CLOSED);
    recv_sev(f, "r", "e", "critical", NULL); /* a new non-normal severity re-opens */
    assert_int_equal(a->status, AST_OPEN);
    assert_int_equal(act(f, a, "close"), TOCSIN_OK);
    assert_int_equal(a->status, AST_CLOSED);
    recv_sev(f, "r", "e", "critical", NULL); /* a duplicate of a closed critical re-opens */
    assert_int_equal(a->status, AST_OPEN);
}

static void test_closed_reopens_to_shelved(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "r", "e", "major", NULL);

    assert_int_equal(act(f, a, "shelve"), TOCSIN_OK);
    recv_sev(f, "r", "e", "normal", NULL); /* closes; the entry before says shelved */
    assert_int_equal(a->status, AST_CLOSED);
    recv_sev(f, "r", "e", "major", NULL);
    assert_int_equal(a->status, AST_SHELVED);
}

static void test_ack_reopened_by_increase(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "r", "e", "minor", NULL);

    assert_int_equal(act(f, a, "ack"), TOCSIN_OK);
    recv_sev(f, "r", "e", "minor", NULL); /* duplicate: stays ack */
    assert_int_equal(a->status, AST_ACK);
    recv_sev(f, "r", "e", "warning", NULL); /* less severe: stays ack */
    assert_int_equal(a->status, AST_ACK);
    recv_sev(f, "r", "e", "critical", NULL); /* more severe: re-opened */
    assert_int_equal(a->status, AST_OPEN);
}

static void test_ack_not_reopened_by_duplicate(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "r", "e", "minor", NULL);

    recv_sev(f, "r", "e", "major", NULL); /* correlated: previous minor, now major */
    assert_int_equal(act(f, a, "ack"), TOCSIN_OK);
    recv_sev(f, "r", "e", "major", NULL); /* a duplicate: stays ack */
    assert_int_equal(a->status, AST_ACK);
}

static void test_ack_not_reopened_from_default(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "r", "e", "major");
    struct alert *a;

    in.status = AST_ACK; /* created acked: previousSeverity is the default */
    a = recv_in(f, &in, NULL);
    assert_int_equal(a->status, AST_ACK);
    recv_sev(f, "r", "e", "major", NULL);
    assert_int_equal(a->status, AST_ACK);
}

static void test_normal_closes_any(void **state)
{
    struct fx *f = *state;
    const char *actions[] = {NULL, "ack", "shelve"};

    for (int i = 0; i < 3; i++) {
        char res[16];
        struct alert *a;
        snprintf(res, sizeof(res), "r%d", i);
        a = recv_sev(f, res, "e", "major", NULL);
        if (actions[i])
            assert_int_equal(act(f, a, actions[i]), TOCSIN_OK);
        recv_sev(f, res, "e", "ok", NULL); /* "ok" is normal too, a different name */
        assert_int_equal(a->status, AST_CLOSED);
        assert_string_equal(sev_of(f, a), "ok");
    }
}

static void test_expired_reopens(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "r", "e", "major", NULL);

    assert_int_equal(act(f, a, "expired"), TOCSIN_OK);
    assert_int_equal(a->status, AST_EXPIRED);
    recv_sev(f, "r", "e", "major", NULL);
    assert_int_equal(a->status, AST_OPEN);
}

static void test_sent_status_kept(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "r", "e", "major");
    struct alert *a = recv_in(f, &in, NULL);

    in.status = AST_SHELVED;
    recv_in(f, &in, NULL);
    assert_int_equal(a->status, AST_SHELVED);
    in.severity = sev(f, "normal");
    recv_in(f, &in, NULL); /* a sent status with a normal severity closes */
    assert_int_equal(a->status, AST_CLOSED);
}

/* ---- the action table ----------------------------------------------------------------------- */

/* Puts a fresh alert into `status` by actions. */
static struct alert *in_status(struct fx *f, int status, const char *res)
{
    struct alert *a = recv_sev(f, res, "e", "major", NULL);

    switch (status) {
    case AST_ACK: assert_int_equal(act(f, a, "ack"), TOCSIN_OK); break;
    case AST_SHELVED: assert_int_equal(act(f, a, "shelve"), TOCSIN_OK); break;
    case AST_CLOSED: assert_int_equal(act(f, a, "close"), TOCSIN_OK); break;
    case AST_EXPIRED: assert_int_equal(act(f, a, "expired"), TOCSIN_OK); break;
    default: break;
    }
    assert_int_equal(a->status, status);
    return a;
}

static void test_action_table(void **state)
{
    struct fx *f = *state;
    /* rows: open, ack, shelved, closed, expired; columns: open, ack, unack, shelve, unshelve,
     * close. -1 = 409. */
    static const int states[] = {AST_OPEN, AST_ACK, AST_SHELVED, AST_CLOSED, AST_EXPIRED};
    static const char *const acts[] = {"open", "ack", "unack", "shelve", "unshelve", "close"};
    static const int want[5][6] = {
        {-1, AST_ACK, -1, AST_SHELVED, -1, AST_CLOSED},
        {AST_OPEN, -1, AST_OPEN, AST_SHELVED, -1, AST_CLOSED},
        {AST_OPEN, -1, -1, -1, AST_OPEN, AST_CLOSED},
        {AST_OPEN, -1, -1, -1, -1, -1},
        {AST_OPEN, -1, -1, -1, -1, -1},
    };
    int n = 0;

    for (int s = 0; s < 5; s++) {
        for (int c = 0; c < 6; c++) {
            char res[16];
            struct alert *a;
            int rc;
            snprintf(res, sizeof(res), "cell%d", n++);
            a = in_status(f, states[s], res);
            rc = act(f, a, acts[c]);
            if (want[s][c] < 0) {
                assert_int_equal(rc, TOCSIN_ECONFLICT);
                assert_int_equal(a->status, states[s]);
            } else {
                assert_int_equal(rc, TOCSIN_OK);
                assert_int_equal(a->status, want[s][c]);
            }
        }
    }
}

static void test_close_and_reopen_severity(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "r", "e", "major", NULL);
    char why[128];

    assert_int_equal(act(f, a, "close"), TOCSIN_OK);
    assert_string_equal(sev_of(f, a), "normal");
    assert_string_equal(prev_of(f, a), "major");
    assert_int_equal(act(f, a, "open"), TOCSIN_OK); /* sev -> previousSeverity */
    assert_string_equal(sev_of(f, a), "major");
    assert_int_equal(alertdb_action(f->db, a->id, "open", "", -1, NULL, f->now, &f->fx, why,
                                    sizeof(why)),
                     TOCSIN_ECONFLICT);
    assert_string_equal(why, "alert is already in open status");
}

static void test_unack_unshelve_previous(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "r", "e", "major", NULL);

    assert_int_equal(act(f, a, "ack"), TOCSIN_OK);
    assert_int_equal(act(f, a, "shelve"), TOCSIN_OK);
    assert_int_equal(act(f, a, "unshelve"), TOCSIN_OK); /* back to ack */
    assert_int_equal(a->status, AST_ACK);
    assert_int_equal(act(f, a, "unack"), TOCSIN_OK); /* back to open */
    assert_int_equal(a->status, AST_OPEN);
}

static void test_custom_and_expired_actions(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "r", "e", "major", NULL);
    const struct hist_entry *h[8];

    assert_int_equal(act(f, a, "escalate"), TOCSIN_OK);
    assert_int_equal(a->status, AST_OPEN);
    assert_string_equal(sev_of(f, a), "major");
    assert_int_equal(hist(f, a, h, 8), 2);
    assert_int_equal(h[1]->type, HT_ACTION);
    assert_int_equal(act(f, a, "expired"), TOCSIN_OK);
    assert_int_equal(a->status, AST_EXPIRED);
    assert_int_equal(act(f, a, "ack"), TOCSIN_ECONFLICT);
}

static void test_not_found(void **state)
{
    struct fx *f = *state;
    uint8_t id[16] = {1};
    char why[64];
    struct strlist none = {NULL, 0};

    assert_int_equal(alertdb_action(f->db, id, "ack", "", -1, NULL, f->now, &f->fx, why,
                                    sizeof(why)),
                     TOCSIN_ENOTFOUND);
    assert_int_equal(alertdb_tag(f->db, id, &none, false, f->now, &f->fx), TOCSIN_ENOTFOUND);
    assert_int_equal(alertdb_delete(f->db, id, &f->fx), TOCSIN_ENOTFOUND);
}

/* ---- tags, attributes, notes, delete -------------------------------------------------------- */

static void test_tags_attributes_notes(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "r", "e", "major", NULL);
    const char *t1[] = {"x", "y", "x"}, *t2[] = {"x"};
    struct kv at[] = {{"k", "{\"a\":1}"}, {"gone", "null"}};
    char note[37];

    assert_int_equal(alertdb_tag(f->db, a->id, &(struct strlist){t1, 3}, false, f->now, &f->fx),
                     TOCSIN_OK);
    assert_int_equal(alert_get(a, AF_TAGS).n, 2);
    assert_int_equal(alertdb_tag(f->db, a->id, &(struct strlist){t2, 1}, true, f->now, &f->fx),
                     TOCSIN_OK);
    assert_int_equal(alert_get(a, AF_TAGS).n, 1);
    assert_int_equal(alertdb_attributes(f->db, a->id, &(struct kvlist){at, 2}, f->now, &f->fx),
                     TOCSIN_OK);
    assert_int_equal(alert_get(a, AF_ATTRIBUTES).n, 1);
    assert_int_equal(alertdb_note(f->db, a->id, "looking", "bob", f->now, &f->fx, note),
                     TOCSIN_OK);
    assert_int_equal(strlen(note), 36);
    assert_int_equal(f->fx.v[f->fx.n - 1].u.achange->op, ACH_NOTE);
    assert_int_equal(alertdb_delete(f->db, a->id, &f->fx), TOCSIN_OK);
    assert_null(alertdb_find_key(f->db, "Production", "r", "e", NULL));
    assert_int_equal(f->fx.v[f->fx.n - 1].u.achange->op, ACH_DEL);
}

/* ---- history cap ---------------------------------------------------------------------------- */

static void test_history_cap(void **state)
{
    struct fx *f = *state;
    struct alertdb_cfg c = f->cfg;
    struct alertdb *db;
    struct alert *a = NULL;
    struct alert_in in = mk(f, "r", "e", "major");
    int kind;
    uint32_t keep_from = 0;

    c.history_limit = 5;
    db = alertdb_new(&c, f->now);
    assert_int_equal(alertdb_receive(db, &in, NULL, NULL, NULL, false, f->now, &f->fx, &a, &kind),
                     0);
    for (int i = 0; i < 20; i++) {
        char why[64];
        assert_int_equal(alertdb_action(db, a->id, i % 2 ? "unack" : "ack", "", -1, NULL, f->now,
                                        &f->fx, why, sizeof(why)),
                         TOCSIN_OK);
        keep_from = f->fx.v[f->fx.n - 1].u.achange->hist_keep_from;
    }
    assert_int_equal(a->hist_n, 5);
    assert_int_equal(a->hist_seq, 21);
    assert_int_equal(keep_from, 17); /* rows 17..21 are the 5 kept */
    alertdb_free(db);
}

/* ---- time ----------------------------------------------------------------------------------- */

static void test_expiry_timer(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "r", "e", "major");
    struct alert *a;
    uint8_t id[16];

    in.timeout_s = 60;
    a = recv_in(f, &in, NULL);
    memcpy(id, a->id, 16);
    alertdb_advance(f->db, f->now + 59 * S, &f->fx);
    assert_int_equal(a->status, AST_OPEN);
    f->now += 30 * S;
    recv_in(f, &in, NULL); /* a duplicate moves lastReceiveTime */
    alertdb_advance(f->db, T0 + 61 * S, &f->fx);
    assert_int_equal(a->status, AST_OPEN);
    alertdb_advance(f->db, T0 + 91 * S, &f->fx);
    assert_int_equal(a->status, AST_EXPIRED);
    /* expired alerts are deleted 2 h after their last receive */
    alertdb_advance(f->db, T0 + 30 * S + 7200 * S - 1, &f->fx);
    assert_non_null(alertdb_find(f->db, id));
    alertdb_advance(f->db, T0 + 30 * S + 7200 * S, &f->fx);
    assert_null(alertdb_find(f->db, id));
}

static void test_timeout_zero_never_expires(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "r", "e", "major");
    struct alert *a;

    in.timeout_s = 0;
    a = recv_in(f, &in, NULL);
    alertdb_advance(f->db, T0 + 3650LL * 86400 * S, &f->fx);
    assert_int_equal(a->status, AST_OPEN);
}

static void test_shelve_timeout(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "r", "e", "major");
    struct alert *a;
    char why[64];

    in.timeout_s = 0;
    a = recv_in(f, &in, NULL);
    assert_int_equal(act(f, a, "ack"), TOCSIN_OK);
    assert_int_equal(alertdb_action(f->db, a->id, "shelve", "", 300, NULL, f->now, &f->fx, why,
                                    sizeof(why)),
                     TOCSIN_OK);
    alertdb_advance(f->db, T0 + 299 * S, &f->fx);
    assert_int_equal(a->status, AST_SHELVED);
    alertdb_advance(f->db, T0 + 300 * S, &f->fx);
    assert_int_equal(a->status, AST_ACK); /* timeout goes back to ack */
    /* the default shelve timeout is 2 h */
    f->now = T0 + 400 * S;
    assert_int_equal(act(f, a, "unack"), TOCSIN_OK);
    assert_int_equal(act(f, a, "shelve"), TOCSIN_OK);
    alertdb_advance(f->db, f->now + 7200 * S, &f->fx);
    assert_int_equal(a->status, AST_OPEN);
}

static void test_ack_timeout(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "r", "e", "major");
    struct alert *a;
    char why[64];

    in.timeout_s = 0;
    a = recv_in(f, &in, NULL);
    assert_int_equal(act(f, a, "ack"), TOCSIN_OK); /* ACK_TIMEOUT 0: stays */
    alertdb_advance(f->db, T0 + 30LL * 86400 * S, &f->fx);
    assert_int_equal(a->status, AST_ACK);
    f->now = T0 + 30LL * 86400 * S;
    assert_int_equal(act(f, a, "unack"), TOCSIN_OK);
    assert_int_equal(alertdb_action(f->db, a->id, "ack", "", 60, NULL, f->now, &f->fx, why,
                                    sizeof(why)),
                     TOCSIN_OK);
    alertdb_advance(f->db, f->now + 60 * S, &f->fx);
    assert_int_equal(a->status, AST_OPEN);
}

static void test_informational_deleted(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "r", "e", "informational");
    struct alert *a;
    uint8_t id[16];

    in.timeout_s = 0;
    a = recv_in(f, &in, NULL);
    memcpy(id, a->id, 16);
    alertdb_advance(f->db, T0 + 43200 * S - 1, &f->fx);
    assert_non_null(alertdb_find(f->db, id));
    alertdb_advance(f->db, T0 + 43200 * S, &f->fx);
    assert_null(alertdb_find(f->db, id));
}

static void test_housekeeping_override(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "r", "e", "major", NULL);
    struct housekeeping_counts hk;
    uint8_t id[16];

    memcpy(id, a->id, 16);
    assert_int_equal(act(f, a, "close"), TOCSIN_OK);
    alertdb_housekeeping(f->db, -1, -1, T0 + 60 * S, &f->fx, &hk);
    assert_int_equal(hk.deleted, 0);
    assert_non_null(alertdb_find(f->db, id));
    alertdb_housekeeping(f->db, 0 /* hours->s: now */, -1, T0 + 60 * S, &f->fx, &hk);
    /* 0 means "never" for a threshold, as the configured value does */
    assert_non_null(alertdb_find(f->db, id));
    alertdb_housekeeping(f->db, 30, -1, T0 + 60 * S, &f->fx, &hk);
    assert_int_equal(hk.deleted, 1);
    assert_null(alertdb_find(f->db, id));
}

/* ---- retention ------------------------------------------------------------------------------ */

static void test_retention(void **state)
{
    struct fx *f = *state;
    struct alertdb_cfg c = f->cfg;
    struct alertdb *db;
    struct alert *a = NULL;
    int kind;
    char res[16];

    c.max_alerts = 3;
    db = alertdb_new(&c, f->now);
    for (int i = 0; i < 3; i++) {
        struct alert_in in = mk(f, res, "e", i == 0 ? "normal" : "major"); /* #0 is closed */
        snprintf(res, sizeof(res), "r%d", i);
        in.resource = res;
        assert_int_equal(alertdb_receive(db, &in, NULL, NULL, NULL, false, f->now, &f->fx, &a,
                                         &kind),
                         0);
    }
    {
        struct alert_in in = mk(f, "r3", "e", "major");
        assert_int_equal(alertdb_receive(db, &in, NULL, NULL, NULL, false, f->now, &f->fx, &a,
                                         &kind),
                         0); /* evicts the closed r0 */
        assert_null(alertdb_find_key(db, "Production", "r0", "e", NULL));
        in.resource = "r4";
        assert_int_equal(alertdb_receive(db, &in, NULL, NULL, NULL, false, f->now, &f->fx, &a,
                                         &kind),
                         TOCSIN_EFULL); /* nothing closed left: refused */
        in.resource = "r3"; /* a duplicate is still taken */
        assert_int_equal(alertdb_receive(db, &in, NULL, NULL, NULL, false, f->now, &f->fx, &a,
                                         &kind),
                         0);
    }
    alertdb_free(db);
}

/* ---- start-up ------------------------------------------------------------------------------- */

static void test_state_roundtrip(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "web01", "HttpError", "major");
    const char *tags[] = {"t1"};
    struct kv at[] = {{"a", "[1,2]"}};
    struct alert *a, *b;
    struct alertdb *db2;
    struct buf j1, j2;
    size_t len;
    void *st;

    in.tags = (struct strlist){tags, 1};
    in.attributes = (struct kvlist){at, 1};
    in.value = "42";
    a = recv_in(f, &in, NULL);
    assert_int_equal(act(f, a, "ack"), TOCSIN_OK);
    st = alert_state_pack(a, &len);
    assert_non_null(st);
    b = alert_from_state(st, len);
    assert_non_null(b);
    assert_null(alert_from_state(st, len - 1));
    ((char *)st)[len - 1] = 'x'; /* a map item without its NUL */
    assert_null(alert_from_state(st, len));
    free(st);
    buf_init(&j1, 1 << 20);
    buf_init(&j2, 1 << 20);
    alert_render_json(&j1, &f->cfg.sev, a, "http://h/alerta");
    alert_render_json(&j2, &f->cfg.sev, b, "http://h/alerta");
    assert_string_equal(buf_str(&j1), buf_str(&j2));
    assert_non_null(strstr(buf_str(&j1), "\"attributes\":{\"a\":[1,2]}"));
    assert_non_null(strstr(buf_str(&j1), "\"value\":\"42\""));
    assert_non_null(strstr(buf_str(&j1), "\"status\":\"ack\""));
    db2 = alertdb_new(&f->cfg, f->now);
    assert_int_equal(alertdb_restore(db2, b, f->now), TOCSIN_OK);
    assert_ptr_equal(alertdb_find_key(db2, "Production", "web01", "HttpError", NULL), b);
    assert_int_equal(b->before_ack, AST_OPEN);
    {
        char why[64];
        struct effects fx2;
        effects_init(&fx2);
        assert_int_equal(alertdb_action(db2, b->id, "unack", "", -1, NULL, f->now, &fx2, why,
                                        sizeof(why)),
                         TOCSIN_OK);
        assert_int_equal(b->status, AST_OPEN);
        effects_free(&fx2);
    }
    alertdb_free(db2);
    buf_free(&j1);
    buf_free(&j2);
}

/* ---- the short id index ---------------------------------------------------------------------- */

/* The rids the index holds for the short id of id. */
static size_t sids_of(struct sidx *x, const uint8_t id[16], uint64_t *rid)
{
    uint32_t sid = (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3];
    struct sidx_hit h[4];
    size_t n = sidx_find(x, sid, sid, NULL, h, 4);

    if (n && rid)
        *rid = h[0].rid;
    return n;
}

/* What start-up reads back for a: a copy from its state column. */
static struct alert *restored_copy(const struct alert *a)
{
    size_t len;
    void *st = alert_state_pack(a, &len);
    struct alert *r = st ? alert_from_state(st, len) : NULL;

    free(st);
    return r;
}

/* The engine tells the index of every alert entering its tables (new, restored) and leaving
 * them (deleted, evicted); a restored rid past the index's bound makes it unusable. */
static void test_short_id_index(void **state)
{
    struct fx *f = *state;
    struct alertdb_cfg c = f->cfg;
    struct sidx *x = sidx_new();
    struct alertdb *db, *db2;
    struct alert_in in = mk(f, "web01", "HttpError", "major");
    struct alert *a, *b, *r;
    uint64_t rid = 0;
    uint8_t bid[16];
    char why[64];
    int kind;

    assert_non_null(x);
    c.sidx = x;
    c.max_alerts = 2;
    assert_non_null(db = alertdb_new(&c, f->now));
    assert_int_equal(alertdb_receive(db, &in, NULL, NULL, NULL, false, f->now, &f->fx, &a, &kind),
                     TOCSIN_OK);
    assert_int_equal(sids_of(x, a->id, &rid), 1);
    assert_int_equal(rid, a->rid);
    in.resource = "web02";
    assert_int_equal(alertdb_receive(db, &in, NULL, NULL, NULL, false, f->now, &f->fx, &b, &kind),
                     TOCSIN_OK);
    assert_int_equal(sidx_count(x), 2);
    assert_int_equal(alertdb_delete(db, a->id, &f->fx), TOCSIN_OK);
    assert_int_equal(sidx_count(x), 1);
    assert_int_equal(sids_of(x, b->id, NULL), 1);
    /* a closed alert evicted for a new one past alerts.max leaves the index too */
    memcpy(bid, b->id, sizeof(bid));
    assert_int_equal(
        alertdb_action(db, b->id, "close", "", -1, NULL, f->now, &f->fx, why, sizeof(why)),
        TOCSIN_OK);
    in.resource = "web03";
    assert_int_equal(alertdb_receive(db, &in, NULL, NULL, NULL, false, f->now, &f->fx, &a, &kind),
                     TOCSIN_OK);
    in.resource = "web04";
    assert_int_equal(alertdb_receive(db, &in, NULL, NULL, NULL, false, f->now, &f->fx, &r, &kind),
                     TOCSIN_OK);
    assert_int_equal(sidx_count(x), 2);
    assert_int_equal(sids_of(x, a->id, NULL), 1);
    assert_int_equal(sids_of(x, r->id, NULL), 1);
    assert_int_equal(sids_of(x, bid, NULL), 0);
    /* restored at start-up: in the index (the same rid and id: one entry) */
    assert_non_null(r = restored_copy(a));
    c.max_alerts = 10;
    assert_non_null(db2 = alertdb_new(&c, f->now));
    assert_int_equal(alertdb_restore(db2, r, f->now), TOCSIN_OK);
    assert_int_equal(sidx_count(x), 2);
    alertdb_free(db2);
    /* a stored rid past the index's bound makes it unusable: readers then scan */
    assert_non_null(r = restored_copy(a));
    r->rid = SIDX_RID_MAX + 1;
    assert_true(sidx_usable(x));
    assert_non_null(db2 = alertdb_new(&c, f->now));
    assert_int_equal(alertdb_restore(db2, r, f->now), TOCSIN_OK);
    assert_false(sidx_usable(x));
    alertdb_free(db2);
    alertdb_free(db);
    sidx_free(x);
}

/* Start-up: a stored record whose id or key is already held is refused (and freed); the key
 * compares the records' own fields, customer included (null and "acme" are two keys). The
 * tables sized ahead for the load keep finding every alert. */
static void test_restore_clash_and_reserve(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "web01", "HttpError", "major");
    struct alert *a, *c, *r;
    struct alertdb *db2;
    char res[16];

    a = recv_in(f, &in, NULL);
    in.customer = "acme";
    c = recv_in(f, &in, NULL);
    in.customer = NULL;
    assert_non_null(db2 = alertdb_new(&f->cfg, f->now));
    assert_non_null(r = restored_copy(a));
    assert_int_equal(alertdb_restore(db2, r, f->now), TOCSIN_OK);
    assert_non_null(r = restored_copy(a)); /* the same id again */
    r->rid += 100;
    assert_int_equal(alertdb_restore(db2, r, f->now), TOCSIN_EEXIST);
    assert_non_null(r = restored_copy(a)); /* another id, the same key */
    r->id[0] ^= 0xff;
    assert_int_equal(alertdb_restore(db2, r, f->now), TOCSIN_EEXIST);
    assert_non_null(r = restored_copy(c)); /* the same resource and event for a customer */
    assert_int_equal(alertdb_restore(db2, r, f->now), TOCSIN_OK);
    assert_ptr_equal(alertdb_find_key(db2, "Production", "web01", "HttpError", "acme"), r);
    /* sized for 5,000 with two held: both still found, then 3,000 more restored and found */
    alertdb_reserve(db2, 5000);
    assert_non_null(alertdb_find(db2, a->id));
    assert_ptr_equal(alertdb_find(db2, c->id), r);
    for (int i = 0; i < 3000; i++) {
        snprintf(res, sizeof(res), "host%d", i);
        in.resource = res;
        a = recv_in(f, &in, NULL);
        assert_non_null(r = restored_copy(a));
        assert_int_equal(alertdb_restore(db2, r, f->now), TOCSIN_OK);
    }
    for (int i = 0; i < 3000; i += 7) {
        snprintf(res, sizeof(res), "host%d", i);
        assert_non_null(r = alertdb_find_key(db2, "Production", res, "HttpError", NULL));
        assert_ptr_equal(alertdb_find(db2, r->id), r);
    }
    alertdb_free(db2);
}

/* ---- many alerts ---------------------------------------------------------------------------- */

static void test_many(void **state)
{
    struct fx *f = *state;
    struct alertdb_stats st;
    char res[32];

    for (int i = 0; i < 20000; i++) {
        struct alert_in in = mk(f, res, "e", i % 3 ? "major" : "minor");
        snprintf(res, sizeof(res), "host-%d", i % 5000);
        in.resource = res;
        recv_in(f, &in, NULL);
        if (f->fx.n > 1000)
            effects_clear(&f->fx);
    }
    alertdb_get_stats(f->db, &st);
    assert_int_equal(st.alerts, 5000);
    assert_int_equal(st.received, 20000);
    assert_int_equal(st.created + st.duplicates + st.correlated, 20000);
    assert_int_equal(st.by_status[AST_OPEN], 5000);
    {
        uint64_t major = 0, minor = 0, total = 0;
        for (int s2 = 0; s2 < AST_COUNT; s2++)
            for (int i = 0; i < SEVMAP_MAX; i++)
                total += st.by_status_sev[s2][i];
        major = st.by_status_sev[AST_OPEN][sev(f, "major")];
        minor = st.by_status_sev[AST_OPEN][sev(f, "minor")];
        assert_int_equal(total, 5000);
        assert_int_equal(major + minor, 5000);
    }
}

/* The indexes double a few buckets at a time (core/alertdb.c, struct htab): while an index
 * is between its old and new bucket arrays, every look-up (by id, by key, by resource for a
 * correlation), a re-key, a delete and the walk over every alert still find each alert once.
 * Checked right after each doubling (1,025, 2,049 and 4,097 alerts), in the middle of a move
 * and after it. */
struct walk_count {
    size_t n;
};

static void count_one(void *ud, const struct alert *a)
{
    (void)a;
    ((struct walk_count *)ud)->n++;
}

static void check_all(struct fx *f, struct alert **v, uint8_t (*ids)[16], const bool *gone,
                      size_t upto)
{
    struct walk_count wc = {0};
    size_t live = 0;
    char res[32];

    for (size_t k = 0; k < upto; k++) {
        if (gone[k]) {
            assert_null(alertdb_find(f->db, ids[k]));
            continue;
        }
        live++;
        snprintf(res, sizeof(res), "h-%zu", k);
        assert_ptr_equal(alertdb_find(f->db, v[k]->id), v[k]);
        assert_ptr_equal(alertdb_find_key(f->db, "Production", res, k % 7 ? "Down" : "Up", NULL),
                         v[k]);
    }
    alertdb_foreach(f->db, count_one, &wc);
    assert_int_equal(wc.n, live);
}

static void test_index_growth(void **state)
{
    struct fx *f = *state;
    enum { N = 4200 };
    struct alert **v = calloc(N, sizeof(*v));
    bool *gone = calloc(N, sizeof(*gone));
    uint8_t(*ids)[16] = calloc(N, sizeof(*ids));
    const char *corr[] = {"Down", "Up"};
    const size_t checks[] = {1025, 1026, 1030, 1090, 1160, 2049, 2050, 2300, 4097, 4098, N};
    size_t ci = 0;
    char res[32];

    assert_non_null(v);
    assert_non_null(gone);
    assert_non_null(ids);
    for (size_t i = 0; i < N; i++) {
        struct alert_in in = mk(f, res, "Down", "major");
        int kind;
        snprintf(res, sizeof(res), "h-%zu", i);
        in.resource = res;
        in.correlate = (struct strlist){corr, 2};
        v[i] = recv_in(f, &in, &kind);
        assert_int_equal(kind, RECV_NEW);
        memcpy(ids[i], v[i]->id, 16);
        if (i % 7 == 0) { /* correlated by the other event: re-keyed, found by the new one */
            struct alert *b = recv_sev(f, res, "Up", "minor", &kind);
            assert_int_equal(kind, RECV_CORRELATED);
            assert_ptr_equal(b, v[i]);
        }
        if (i % 11 == 5) {
            assert_int_equal(alertdb_delete(f->db, ids[i - 3], &f->fx), TOCSIN_OK);
            gone[i - 3] = true;
        }
        if (f->fx.n > 1000)
            effects_clear(&f->fx);
        if (ci < sizeof(checks) / sizeof(checks[0]) && i + 1 == checks[ci]) {
            check_all(f, v, ids, gone, i + 1);
            ci++;
        }
    }
    assert_int_equal(ci, sizeof(checks) / sizeof(checks[0]));
    free(v);
    free(gone);
    free(ids);
}

/* The counts by status and severity follow every kind of change. */
static void test_counts_follow_changes(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "r", "e", "major", NULL);
    struct alertdb_stats st;

    recv_sev(f, "r", "e", "critical", NULL); /* correlated */
    assert_int_equal(act(f, a, "ack"), TOCSIN_OK);
    assert_int_equal(act(f, a, "close"), TOCSIN_OK);
    recv_sev(f, "r2", "e", "minor", NULL);
    alertdb_get_stats(f->db, &st);
    assert_int_equal(st.by_status_sev[AST_CLOSED][sev(f, "normal")], 1);
    assert_int_equal(st.by_status_sev[AST_OPEN][sev(f, "minor")], 1);
    assert_int_equal(st.by_status_sev[AST_OPEN][sev(f, "critical")], 0);
    assert_int_equal(st.by_status_sev[AST_ACK][sev(f, "critical")], 0);
    assert_int_equal(alertdb_delete(f->db, a->id, &f->fx), TOCSIN_OK);
    alertdb_get_stats(f->db, &st);
    assert_int_equal(st.by_status_sev[AST_CLOSED][sev(f, "normal")], 0);
    assert_int_equal(st.by_status[AST_CLOSED], 0);
}


static bool cover_none(void *ud, const struct alert *a)
{
    (void)ud;
    (void)a;
    return false;
}
#define NULL_COVER cover_none

/* ---- change kinds (core/alertdb.h enum achg) ------------------------------------------------- */

#define B(k) CHG_BIT(CHG_##k)

/* The newest change of the given op in the effects (NULL if none). */
static const struct alert_change *last_change(const struct fx *f, enum achange_op op)
{
    for (size_t i = f->fx.n; i-- > 0;) {
        const struct alert_change *c = f->fx.v[i].u.achange;
        if (f->fx.v[i].kind == EFF_ACHANGE && c->op == op)
            return c;
    }
    return NULL;
}

static uint32_t last_chg(const struct fx *f)
{
    const struct alert_change *c = last_change(f, ACH_PUT);

    assert_non_null(c);
    return c->chg;
}

static void test_chg_names(void **state)
{
    (void)state;
    for (int k = 0; k < CHG_COUNT; k++)
        assert_int_equal(achg_parse(achg_name(k)), k);
    assert_string_equal(achg_name(CHG_RESOLVE), "resolve");
    assert_int_equal(achg_parse("close"), CHG_RESOLVE);
    assert_int_equal(achg_parse("eventscount"), CHG_EVENTSCOUNT);
    assert_int_equal(achg_parse("eventscount3"), -1);
    assert_int_equal(achg_parse("Create"), -1);
    assert_string_equal(achg_name(CHG_COUNT), "");
    assert_string_equal(achg_name(-1), "");
}

static void test_chg_receive(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "r", "e", "major", NULL);
    const struct alert_change *c = last_change(f, ACH_PUT);
    uint8_t code_major = a->severity;

    assert_int_equal(c->chg, B(CREATE));
    assert_int_equal(c->prev_status, AST_UNKNOWN);
    assert_int_equal(c->prev_severity, f->cfg.sev.indeterminate);
    assert_memory_equal(c->id, a->id, 16);
    recv_sev(f, "r", "e", "major", NULL); /* duplicate */
    c = last_change(f, ACH_PUT);
    assert_int_equal(c->chg, B(EVENTSCOUNT));
    assert_int_equal(c->prev_status, AST_OPEN);
    assert_int_equal(c->prev_severity, code_major);
    recv_sev(f, "r", "e", "critical", NULL); /* correlated, more severe */
    assert_int_equal(last_chg(f), B(STATEINC));
    recv_sev(f, "r", "e", "minor", NULL);
    c = last_change(f, ACH_PUT);
    assert_int_equal(c->chg, B(STATEDEC));
    assert_int_equal(c->prev_severity, 1); /* critical */
    recv_sev(f, "r", "e", "normal", NULL); /* closes: resolve only, not statedec */
    assert_int_equal(last_chg(f), B(RESOLVE));
    recv_sev(f, "r", "e", "normal", NULL); /* a duplicate of the closed alert */
    assert_int_equal(last_chg(f), B(EVENTSCOUNT));
    recv_sev(f, "r", "e", "major", NULL);  /* re-opens */
    c = last_change(f, ACH_PUT);
    assert_int_equal(c->chg, B(REOPEN) | B(STATEINC));
    assert_int_equal(c->prev_status, AST_CLOSED);
    /* born closed or in blackout: no create */
    recv_sev(f, "r2", "e", "normal", NULL);
    assert_int_equal(last_chg(f), 0);
}

static void test_chg_blackout_receive(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "r", "e", "major");
    struct alert *a = NULL;
    int k;

    assert_int_equal(
        alertdb_receive(f->db, &in, "t", "t", NULL, true, f->now, &f->fx, &a, &k), TOCSIN_OK);
    assert_int_equal(a->status, AST_BLACKOUT);
    assert_int_equal(last_chg(f), 0);
    assert_int_equal(
        alertdb_receive(f->db, &in, "t", "t", NULL, true, f->now, &f->fx, &a, &k), TOCSIN_OK);
    assert_int_equal(last_chg(f), 0); /* no eventscount while in blackout */
    recv_in(f, &in, NULL);            /* after the blackout: back to open */
    assert_int_equal(a->status, AST_OPEN);
    assert_int_equal(last_chg(f), B(UNBLACKOUT) | B(EVENTSCOUNT));
}

static void test_chg_actions(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "r", "e", "major", NULL);
    char why[64];

    assert_int_equal(act(f, a, "ack"), TOCSIN_OK);
    assert_int_equal(last_chg(f), B(ACK));
    assert_int_equal(last_change(f, ACH_PUT)->prev_status, AST_OPEN);
    assert_int_equal(act(f, a, "unack"), TOCSIN_OK);
    assert_int_equal(last_chg(f), B(UNACK) | B(ACKREMOVE));
    assert_int_equal(act(f, a, "ack"), TOCSIN_OK);
    assert_int_equal(act(f, a, "shelve"), TOCSIN_OK);
    assert_int_equal(last_chg(f), B(SHELVE) | B(ACKREMOVE));
    assert_int_equal(act(f, a, "unshelve"), TOCSIN_OK); /* back to ack */
    assert_int_equal(a->status, AST_ACK);
    assert_int_equal(last_chg(f), B(UNSHELVE) | B(ACK));
    assert_int_equal(act(f, a, "open"), TOCSIN_OK);
    assert_int_equal(last_chg(f), B(ACKREMOVE));
    assert_int_equal(act(f, a, "assign"), TOCSIN_OK);
    assert_int_equal(last_chg(f), 0);
    assert_int_equal(act(f, a, "custom-thing"), TOCSIN_OK);
    assert_int_equal(last_chg(f), 0);
    assert_int_equal(act(f, a, "close"), TOCSIN_OK);
    assert_int_equal(last_chg(f), B(RESOLVE));
    assert_int_equal(act(f, a, "open"), TOCSIN_OK); /* severity back to major */
    assert_int_equal(last_chg(f), B(REOPEN) | B(STATEINC));
    /* an ack re-opened by a real severity increase */
    assert_int_equal(act(f, a, "ack"), TOCSIN_OK);
    recv_sev(f, "r", "e", "critical", NULL);
    assert_int_equal(a->status, AST_OPEN);
    assert_int_equal(last_chg(f), B(ACKREMOVE) | B(STATEINC));
    /* operator status changes */
    assert_int_equal(alertdb_set_status(f->db, a->id, AST_ACK, "", -1, "op", f->now, &f->fx),
                     TOCSIN_OK);
    assert_int_equal(last_chg(f), B(CHANGESTATE) | B(ACK));
    assert_int_equal(alertdb_set_status(f->db, a->id, AST_ACK, "", -1, "op", f->now, &f->fx),
                     TOCSIN_OK);
    assert_int_equal(last_chg(f), 0); /* the same status */
    assert_int_equal(alertdb_set_status(f->db, a->id, AST_CLOSED, "", -1, "op", f->now, &f->fx),
                     TOCSIN_OK);
    assert_int_equal(last_chg(f), B(CHANGESTATE) | B(RESOLVE));
    assert_int_equal(alertdb_set_status(f->db, a->id, AST_BLACKOUT, "", -1, "op", f->now, &f->fx),
                     TOCSIN_OK);
    assert_int_equal(last_chg(f), 0);
    assert_int_equal(alertdb_action(f->db, a->id, "ack", "", -1, NULL, f->now, &f->fx, why,
                                    sizeof(why)),
                     TOCSIN_OK); /* out of blackout to the status before it (closed) */
    assert_int_equal(a->status, AST_CLOSED);
    assert_int_equal(last_chg(f), B(RESOLVE));
}

static void test_chg_timers(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "r", "e", "major");
    struct alert *a;
    char why[64];

    in.timeout_s = 60;
    a = recv_in(f, &in, NULL);
    alertdb_advance(f->db, T0 + 60 * S, &f->fx);
    assert_int_equal(a->status, AST_EXPIRED);
    assert_int_equal(last_chg(f), B(EXPIRE));
    f->now = T0 + 61 * S;
    recv_in(f, &in, NULL); /* a duplicate re-opens it */
    assert_int_equal(last_chg(f), B(REOPEN) | B(EVENTSCOUNT));
    in.timeout_s = 0;
    recv_in(f, &in, NULL);
    assert_int_equal(alertdb_action(f->db, a->id, "ack", "", 30, NULL, f->now, &f->fx, why,
                                    sizeof(why)),
                     TOCSIN_OK);
    alertdb_advance(f->db, f->now + 30 * S, &f->fx);
    assert_int_equal(a->status, AST_OPEN);
    assert_int_equal(last_chg(f), B(ACKREMOVE));
    f->now += 30 * S;
    assert_int_equal(alertdb_action(f->db, a->id, "shelve", "", 30, NULL, f->now, &f->fx, why,
                                    sizeof(why)),
                     TOCSIN_OK);
    alertdb_advance(f->db, f->now + 30 * S, &f->fx);
    assert_int_equal(last_chg(f), B(UNSHELVE));
}

static void test_chg_note_tag_delete(void **state)
{
    struct fx *f = *state;
    struct alert *a = recv_sev(f, "r", "e", "major", NULL);
    const char *tv[] = {"x"};
    struct strlist tags = {tv, 1};
    const struct alert_change *c;
    uint8_t id[16];
    char nid[37];

    memcpy(id, a->id, 16);
    assert_int_equal(alertdb_note(f->db, a->id, "hi", "op", f->now, &f->fx, nid), TOCSIN_OK);
    assert_int_equal(last_chg(f), B(COMMENT));
    c = last_change(f, ACH_NOTE);
    assert_int_equal(c->chg, 0);
    assert_memory_equal(c->id, id, 16);
    assert_int_equal(alertdb_tag(f->db, a->id, &tags, false, f->now, &f->fx), TOCSIN_OK);
    assert_int_equal(last_chg(f), 0);
    assert_int_equal(act(f, a, "ack"), TOCSIN_OK);
    assert_int_equal(alertdb_delete(f->db, id, &f->fx), TOCSIN_OK);
    c = last_change(f, ACH_DEL);
    assert_int_equal(c->chg, 0);
    assert_int_equal(c->prev_status, AST_ACK);
    assert_memory_equal(c->id, id, 16);
}

static void test_chg_release(void **state)
{
    struct fx *f = *state;
    struct alert_in in = mk(f, "r", "e", "major");
    struct alert *a = recv_in(f, &in, NULL);
    size_t n = 0;
    int k;

    assert_int_equal(act(f, a, "ack"), TOCSIN_OK);
    assert_int_equal(
        alertdb_receive(f->db, &in, "t", "t", NULL, true, f->now, &f->fx, &a, &k), TOCSIN_OK);
    assert_int_equal(a->status, AST_BLACKOUT);
    assert_int_equal(last_chg(f), 0);
    assert_int_equal(alertdb_blackout_release(f->db, NULL_COVER, NULL, f->now, &f->fx, &n),
                     TOCSIN_OK);
    assert_int_equal(n, 1);
    assert_int_equal(a->status, AST_ACK);
    assert_int_equal(last_chg(f), B(UNBLACKOUT)); /* not "ack": that is old news */
    assert_int_equal(last_change(f, ACH_PUT)->prev_status, AST_BLACKOUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sevmap),
        cmocka_unit_test(test_uuid_time),
        cmocka_unit_test(test_iso8601_ms_matches_gmtime),
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
        T(test_new_alert),
        T(test_new_normal_is_closed),
        T(test_new_with_sent_status),
        T(test_duplicate),
        T(test_duplicate_attribute_null_deletes),
        T(test_correlate_same_event),
        T(test_correlate_list),
        T(test_keys_environment_customer),
        T(test_reopen_closed),
        T(test_closed_reopens_to_shelved),
        T(test_ack_reopened_by_increase),
        T(test_ack_not_reopened_by_duplicate),
        T(test_ack_not_reopened_from_default),
        T(test_normal_closes_any),
        T(test_expired_reopens),
        T(test_sent_status_kept),
        T(test_action_table),
        T(test_close_and_reopen_severity),
        T(test_unack_unshelve_previous),
        T(test_custom_and_expired_actions),
        T(test_not_found),
        T(test_tags_attributes_notes),
        T(test_history_cap),
        T(test_expiry_timer),
        T(test_timeout_zero_never_expires),
        T(test_shelve_timeout),
        T(test_ack_timeout),
        T(test_informational_deleted),
        T(test_housekeeping_override),
        T(test_retention),
        T(test_state_roundtrip),
        T(test_many),
        T(test_index_growth),
        T(test_counts_follow_changes),
        cmocka_unit_test(test_chg_names),
        T(test_short_id_index),
        T(test_restore_clash_and_reserve),
        T(test_chg_receive),
        T(test_chg_blackout_receive),
        T(test_chg_actions),
        T(test_chg_timers),
        T(test_chg_note_tag_delete),
        T(test_chg_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
