/* Unit tests for core/facets, the engine's counts of alerts by environment, service, group and
 * tag: counting in and out, moves between (status, severity) cells, reads by status mask with and
 * without empty entries, their order, the bound on entries per kind (a missed value makes the
 * kind incomplete until it leaves, and no entry is made meanwhile), and the counts an alertdb
 * keeps through a long random run of receives, actions, tags, deletes, evictions and expiries,
 * checked against a recount of every live alert. */
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
#include "core/facets.h"
#include "util/err.h"

#define NSEV 11

/* Views of an alert with these values; lists are "a\0b\0". */
struct vals {
    struct aview v[AF_COUNT];
    char svc[256], tags[256];
};

static void list_view(struct aview *v, char *buf, const char *csv)
{
    size_t len = 0;

    v->n = 0;
    for (const char *p = csv; p && *p;) {
        size_t k = strcspn(p, ",");
        memcpy(buf + len, p, k);
        buf[len + k] = '\0';
        len += k + 1;
        v->n++;
        p += k + (p[k] == ',');
    }
    v->p = buf;
    v->len = (uint32_t)len;
}

static struct vals *mkv(struct vals *x, const char *env, const char *grp, const char *svc,
                        const char *tags)
{
    memset(x, 0, sizeof(*x));
    x->v[AF_EVENT] = (struct aview){"Ev", 2, 0, false};
    x->v[AF_ENVIRONMENT] = (struct aview){env, (uint32_t)strlen(env), 0, false};
    x->v[AF_GROUP] = (struct aview){grp, (uint32_t)strlen(grp), 0, false};
    list_view(&x->v[AF_SERVICE], x->svc, svc);
    list_view(&x->v[AF_TAGS], x->tags, tags);
    return x;
}

static struct facet_rows rows_of(struct facets *f, enum facet_kind k, uint32_t mask, bool zeros)
{
    struct facet_rows r;

    assert_int_equal(facets_read(f, k, mask, zeros, &r), TOCSIN_OK);
    return r;
}

static void test_count_move_read(void **state)
{
    struct facets *f = facets_new(NSEV);
    struct vals a, b;
    struct facet_rows r;

    (void)state;
    assert_non_null(f);
    mkv(&a, "Production", "Web", "svc-b,svc-a", "t1");
    mkv(&b, "Dev", "Web", "svc-a", "");
    facets_add(f, a.v, AST_OPEN, 2, 0, 1);
    facets_add(f, b.v, AST_ACK, 5, 0, 1);
    facets_add(f, b.v, AST_ACK, 5, 0, 1); /* a second alert with the same values */

    r = rows_of(f, FK_SERVICE, 0, true); /* sorted by (env, value) in byte order */
    assert_int_equal(r.n, 3);
    assert_string_equal(r.r[0].env, "Dev");
    assert_string_equal(r.r[0].value, "svc-a");
    assert_int_equal(r.r[0].count, 2);
    assert_int_equal(r.r[0].by_status[AST_ACK], 2);
    assert_int_equal(r.r[0].by_sev[5], 2);
    assert_string_equal(r.r[1].env, "Production");
    assert_string_equal(r.r[1].value, "svc-a");
    assert_string_equal(r.r[2].value, "svc-b");
    facet_rows_free(&r);

    /* a status mask: with zeros every entry stays, counted 0 outside the mask */
    r = rows_of(f, FK_ENVIRONMENT, 1u << AST_OPEN, true);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.r[0].env, "Dev");
    assert_string_equal(r.r[0].value, "");
    assert_int_equal(r.r[0].count, 0);
    assert_int_equal(r.r[1].count, 1);
    assert_int_equal(r.r[1].by_status[AST_OPEN], 1);
    facet_rows_free(&r);
    r = rows_of(f, FK_ENVIRONMENT, 1u << AST_OPEN, false);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.r[0].env, "Production");
    facet_rows_free(&r);

    /* a move changes the cells, not the entries */
    facets_move(f, b.v, AST_ACK, 5, AST_CLOSED, 7, 0);
    r = rows_of(f, FK_GROUP, 0, false);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.r[0].value, "Web");
    assert_int_equal(r.r[0].by_status[AST_ACK], 1);
    assert_int_equal(r.r[0].by_status[AST_CLOSED], 1);
    assert_int_equal(r.r[0].by_sev[5], 1);
    assert_int_equal(r.r[0].by_sev[7], 1);
    facet_rows_free(&r);

    /* a severity past the map is in the totals and in no severity */
    facets_add(f, a.v, AST_OPEN, 40, 0, 1);
    r = rows_of(f, FK_TAG, 0, false);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.r[0].count, 2);
    assert_int_equal(r.r[0].by_sev[2], 1);
    for (size_t i = 3; i < SEVMAP_MAX; i++)
        assert_int_equal(r.r[0].by_sev[i], 0);
    facet_rows_free(&r);
    facets_add(f, a.v, AST_OPEN, 40, 0, -1);

    /* out again: an entry with no alert left is gone */
    facets_add(f, a.v, AST_OPEN, 2, 0, -1);
    r = rows_of(f, FK_TAG, 0, true);
    assert_int_equal(r.n, 0);
    facet_rows_free(&r);
    r = rows_of(f, FK_SERVICE, 0, true);
    assert_int_equal(r.n, 1);
    facet_rows_free(&r);
    assert_int_equal(facets_read(f, FK_COUNT, 0, true, &r), TOCSIN_EINVAL);
    facets_free(f);
}

static void test_bound(void **state)
{
    struct facets *f = facets_new(NSEV);
    struct facets_stats fs;
    struct vals v;
    struct facet_rows r;
    char tag[32];

    (void)state;
    for (int i = 0; i < FACETS_KEYS_MAX; i++) {
        snprintf(tag, sizeof(tag), "t%05d", i);
        facets_add(f, mkv(&v, "P", "G", "", tag)->v, AST_OPEN, 1, 0, 1);
    }
    r = rows_of(f, FK_TAG, 0, true);
    assert_int_equal(r.n, FACETS_KEYS_MAX);
    facet_rows_free(&r);

    /* one more value: missed, the kind incomplete; the other kinds answer */
    facets_add(f, mkv(&v, "P", "G", "", "x")->v, AST_OPEN, 1, 0, 1);
    facets_get_stats(f, &fs);
    assert_int_equal(fs.entries[FK_TAG], FACETS_KEYS_MAX);
    assert_int_equal(fs.missed[FK_TAG], 1);
    assert_int_equal(fs.entries[FK_ENVIRONMENT], 1);
    assert_int_equal(fs.missed[FK_ENVIRONMENT], 0);
    assert_string_equal(facet_kind_name(FK_TAG), "tag");
    assert_int_equal(facets_read(f, FK_TAG, 0, true, &r), TOCSIN_EAGAIN);
    assert_null(r.r);
    r = rows_of(f, FK_ENVIRONMENT, 0, true);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.r[0].count, FACETS_KEYS_MAX + 1);
    facet_rows_free(&r);

    /* room again, but "x" has a missed holder: a second holder is missed too, not kept (the
     * entry would count one of its two holders); moving a missed value changes nothing */
    facets_add(f, mkv(&v, "P", "G", "", "t00000")->v, AST_OPEN, 1, 0, -1);
    facets_add(f, mkv(&v, "P", "G", "", "x")->v, AST_OPEN, 1, 0, 1);
    facets_move(f, mkv(&v, "P", "G", "", "x")->v, AST_OPEN, 1, AST_ACK, 1, 0);
    facets_move(f, mkv(&v, "P", "G", "", "x")->v, AST_ACK, 1, AST_OPEN, 1, 0);
    assert_int_equal(facets_read(f, FK_TAG, 0, true, &r), TOCSIN_EAGAIN);
    facets_add(f, mkv(&v, "P", "G", "", "x")->v, AST_OPEN, 1, 0, -1);
    assert_int_equal(facets_read(f, FK_TAG, 0, true, &r), TOCSIN_EAGAIN);
    facets_add(f, mkv(&v, "P", "G", "", "x")->v, AST_OPEN, 1, 0, -1);

    /* every missed holder gone: complete again, and "x" is not there */
    facets_get_stats(f, &fs);
    assert_int_equal(fs.missed[FK_TAG], 0);
    r = rows_of(f, FK_TAG, 0, true);
    assert_int_equal(r.n, FACETS_KEYS_MAX - 1);
    for (size_t i = 0; i < r.n; i++)
        assert_string_not_equal(r.r[i].value, "x");
    facet_rows_free(&r);
    facets_add(f, mkv(&v, "P", "G", "", "x")->v, AST_OPEN, 1, 0, 1);
    r = rows_of(f, FK_TAG, 0, true);
    assert_int_equal(r.n, FACETS_KEYS_MAX);
    assert_string_equal(r.r[0].value, "t00001");
    assert_string_equal(r.r[r.n - 1].value, "x");
    facet_rows_free(&r);
    facets_free(f);
}

/* ---- an alertdb's counts against a recount -------------------------------------------------- */

#define REF_MAX 512

struct ref {
    struct {
        int kind;
        char env[16], val[16];
        uint64_t cells[AST_COUNT][SEVMAP_MAX];
        uint64_t dups[AST_COUNT];
    } e[REF_MAX];
    size_t n;
};

static void ref_add(struct ref *r, int kind, const char *env, size_t envn, const char *val,
                    const struct alert *a)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        if (r->e[i].kind == kind && strlen(r->e[i].env) == envn &&
            !memcmp(r->e[i].env, env, envn) && !strcmp(r->e[i].val, val))
            break;
    if (i == r->n) {
        assert_true(r->n < REF_MAX);
        memset(&r->e[i], 0, sizeof(r->e[i]));
        r->e[i].kind = kind;
        memcpy(r->e[i].env, env, envn);
        snprintf(r->e[i].val, sizeof(r->e[i].val), "%s", val);
        r->n++;
    }
    r->e[i].cells[a->status][a->sev_name]++;
    r->e[i].dups[a->status] += a->duplicate_count;
}

static void recount(void *ud, const struct alert *a)
{
    struct ref *r = ud;
    struct aview v[AF_COUNT];
    char grp[16], env[16];
    uint32_t pos = 0;
    const char *item;

    alert_views(a, v);
    snprintf(grp, sizeof(grp), "%.*s", (int)v[AF_GROUP].len, v[AF_GROUP].p);
    snprintf(env, sizeof(env), "%.*s", (int)v[AF_ENVIRONMENT].len, v[AF_ENVIRONMENT].p);
    ref_add(r, FK_ENVIRONMENT, v[AF_ENVIRONMENT].p, v[AF_ENVIRONMENT].len, "", a);
    ref_add(r, FK_GROUP, v[AF_ENVIRONMENT].p, v[AF_ENVIRONMENT].len, grp, a);
    ref_add(r, FK_EVENT, v[AF_EVENT].p, v[AF_EVENT].len, "", a);
    ref_add(r, FK_EVENT_ENVIRONMENT, v[AF_EVENT].p, v[AF_EVENT].len, env, a);
    while (aview_next(&v[AF_SERVICE], &pos, &item, NULL)) {
        ref_add(r, FK_SERVICE, v[AF_ENVIRONMENT].p, v[AF_ENVIRONMENT].len, item, a);
        ref_add(r, FK_EVENT_SERVICE, v[AF_EVENT].p, v[AF_EVENT].len, item, a);
    }
    pos = 0;
    while (aview_next(&v[AF_TAGS], &pos, &item, NULL))
        ref_add(r, FK_TAG, v[AF_ENVIRONMENT].p, v[AF_ENVIRONMENT].len, item, a);
}

/* Every kind, under a few masks, with and without empty entries, against the recount. */
static void check_against(struct facets *f, const struct alertdb *db)
{
    static const uint32_t masks[] = {0, 1u << AST_OPEN, 1u << AST_ACK | 1u << AST_CLOSED,
                                     1u << AST_EXPIRED};
    struct ref *ref = calloc(1, sizeof(*ref));

    alertdb_foreach(db, recount, ref);
    for (int k = 0; k < FK_COUNT; k++)
        for (size_t m = 0; m < sizeof(masks) / sizeof(masks[0]); m++)
            for (int zeros = 0; zeros < 2; zeros++) {
                struct facet_rows r = rows_of(f, (enum facet_kind)k, masks[m], zeros);
                size_t want = 0;
                for (size_t i = 0; i < ref->n; i++) {
                    uint64_t n = 0;
                    size_t j;
                    if (ref->e[i].kind != k)
                        continue;
                    for (int st = 0; st < AST_COUNT; st++)
                        for (int s = 0; s < SEVMAP_MAX; s++)
                            if (!masks[m] || masks[m] & (1u << st))
                                n += ref->e[i].cells[st][s];
                    if (!n && !zeros)
                        continue;
                    want++;
                    for (j = 0; j < r.n; j++)
                        if (!strcmp(r.r[j].env, ref->e[i].env) &&
                            !strcmp(r.r[j].value, ref->e[i].val))
                            break;
                    assert_true(j < r.n);
                    assert_int_equal(r.r[j].count, n);
                    if (k == FK_EVENT) { /* the duplicateCount sum in the statuses asked */
                        uint64_t d = 0;
                        for (int st = 0; st < AST_COUNT; st++)
                            if (!masks[m] || masks[m] & (1u << st))
                                d += ref->e[i].dups[st];
                        assert_int_equal(r.r[j].dups, d);
                    }
                    for (int st = 0; st < AST_COUNT; st++) {
                        uint64_t in_st = 0;
                        for (int s = 0; s < SEVMAP_MAX; s++)
                            in_st += ref->e[i].cells[st][s];
                        assert_int_equal(r.r[j].by_status[st],
                                         !masks[m] || masks[m] & (1u << st) ? in_st : 0);
                    }
                }
                assert_int_equal(r.n, want);
                facet_rows_free(&r);
            }
    free(ref);
}

static const char *pick(const char *const *from, size_t n)
{
    return from[(size_t)rand() % n];
}

/* A random subset of `from` into out (up to n items). */
static struct strlist subset(const char **out, const char *const *from, size_t n)
{
    struct strlist l = {out, 0};

    for (size_t i = 0; i < n; i++)
        if (rand() % 3 == 0)
            out[l.n++] = from[i];
    return l;
}

static void test_alertdb_keeps_them(void **state)
{
    static const char *const envs[] = {"Production", "Dev", "QA"};
    static const char *const grps[] = {"Web", "DB", "Misc"};
    static const char *const svcs[] = {"api", "www", "pay", "search"};
    static const char *const tags[] = {"a", "b", "c", "d", "e"};
    static const char *const sevs[] = {"critical", "major",  "minor",
                                       "warning",  "normal", "informational"};
    static const char *const acts[] = {"ack",   "close",    "shelve", "open",
                                       "unack", "unshelve", "assign", "custom"};
    struct alertdb_cfg cfg;
    struct alertdb *db;
    struct effects fx;
    struct facets *f;
    uint8_t ids[256][16];
    size_t nids = 0;
    int64_t now = 1700000000000LL;

    (void)state;
    srand(7);
    alertdb_cfg_default(&cfg);
    cfg.max_alerts = 150; /* evictions of closed and expired alerts */
    cfg.default_timeout_s = 600;
    assert_non_null(f = facets_new(cfg.sev.n));
    cfg.facets = f;
    assert_non_null(db = alertdb_new(&cfg, now));
    effects_init(&fx);
    for (int op = 0; op < 6000; op++) {
        int what = rand() % 10;
        const uint8_t *id = nids ? ids[(size_t)rand() % nids] : NULL;
        char why[128], res[16];
        const char *sl[8], *tl[8];
        now += 1000 * (rand() % 5);
        if (what < 5 || !id) { /* receive: new, duplicate or correlated */
            struct alert_in in;
            struct alert *a = NULL;
            const char *sv;
            int kind = -1, rc;
            alert_in_init(&in);
            snprintf(res, sizeof(res), "r%d", rand() % 60);
            in.resource = res;
            in.event = rand() % 2 ? "up" : "down";
            in.environment = pick(envs, 3);
            in.group = rand() % 4 ? pick(grps, 3) : NULL;
            sv = pick(sevs, 6);
            in.severity = sevmap_find(&cfg.sev, sv, strlen(sv));
            in.service = subset(sl, svcs, 4);
            in.tags = subset(tl, tags, 5);
            if (rand() % 2 == 0) {
                static const char *const corr[] = {"up", "down"};
                in.correlate = (struct strlist){(const char **)(uintptr_t)corr, 2};
            }
            rc = alertdb_receive(db, &in, "t", "t", NULL, rand() % 20 == 0, now, &fx, &a, &kind);
            assert_true(rc == TOCSIN_OK || rc == TOCSIN_EFULL);
            if (!rc && kind == RECV_NEW && nids < 256)
                memcpy(ids[nids++], a->id, 16);
        } else if (what < 7) {
            (void)alertdb_action(db, id, pick(acts, 8), "t", -1, NULL, now, &fx, why, sizeof(why));
        } else if (what == 7) {
            const char *one[1] = {pick(tags, 5)};
            struct strlist l = {one, 1};
            (void)alertdb_tag(db, id, &l, rand() % 2, now, &fx);
        } else if (what == 8) {
            if (rand() % 4 == 0)
                (void)alertdb_delete(db, id, &fx);
            else
                (void)alertdb_set_status(db, id, rand() % AST_UNKNOWN, "s", -1, NULL, now, &fx);
        } else {
            now += 300 * 1000LL; /* expiries and deletions come due */
            alertdb_advance(db, now, &fx);
        }
        effects_clear(&fx);
        if (op % 500 == 499)
            check_against(f, db);
    }
    check_against(f, db);
    effects_free(&fx);
    alertdb_free(db);
    facets_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_move_read),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_alertdb_keeps_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
