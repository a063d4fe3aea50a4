/* Unit tests for alertdb_blackout_release: alerts in status blackout that nothing covers go back
 * to the status before the blackout (open when it is unknown), with a "blackout ended" history
 * entry; covered ones stay; nothing happens when no alert is in blackout. */
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
#include "util/err.h"

#define T0 1700000000000LL

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

static struct alert *recv(struct fx *f, const char *res, const char *sev, bool blackout)
{
    struct alert_in in;
    struct alert *a = NULL;
    int k;

    alert_in_init(&in);
    in.resource = res;
    in.event = "Down";
    in.environment = "Production";
    in.severity = sevmap_find(&f->cfg.sev, sev, strlen(sev));
    assert_int_equal(alertdb_receive(f->db, &in, "t", "t", NULL, blackout, f->now, &f->fx, &a, &k),
                     TOCSIN_OK);
    return a;
}

/* Covers the alerts whose resource starts with "keep". */
static bool covers_keep(void *ud, const struct alert *a)
{
    struct aview r = alert_get(a, AF_RESOURCE);

    (*(int *)ud)++;
    return r.len >= 4 && !memcmp(r.p, "keep", 4);
}

/* The newest history entry written for alert `a` in the effects. */
static const struct hist_entry *last_hist(const struct fx *f, const struct alert *a)
{
    const struct hist_entry *h = NULL;

    for (size_t i = 0; i < f->fx.n; i++) {
        const struct alert_change *c = f->fx.v[i].u.achange;
        if (f->fx.v[i].kind == EFF_ACHANGE && c->rid == a->rid && c->nhist)
            h = &c->hist[c->nhist - 1];
    }
    return h;
}

static void test_release(void **state)
{
    struct fx *f = *state;
    char why[128];
    int calls = 0;
    size_t n = 99;
    struct alert *born = recv(f, "born", "major", true); /* new in blackout: no status before */
    struct alert *was_open = recv(f, "open", "major", false);
    struct alert *was_ack = recv(f, "acked", "major", false);
    struct alert *kept = recv(f, "keep1", "major", true);
    const struct hist_entry *h;

    assert_int_equal(
        alertdb_action(f->db, was_ack->id, "ack", "", -1, NULL, f->now, &f->fx, why, sizeof(why)),
        TOCSIN_OK);
    recv(f, "open", "major", true); /* duplicates received during the blackout */
    recv(f, "acked", "major", true);
    assert_int_equal(born->status, AST_BLACKOUT);
    assert_int_equal(was_open->status, AST_BLACKOUT);
    assert_int_equal(was_ack->status, AST_BLACKOUT);
    f->now += 1000;
    assert_int_equal(alertdb_blackout_release(f->db, covers_keep, &calls, f->now, &f->fx, &n),
                     TOCSIN_OK);
    assert_int_equal(n, 3);
    assert_int_equal(calls, 4);
    assert_int_equal(born->status, AST_OPEN);
    assert_int_equal(was_open->status, AST_OPEN);
    assert_int_equal(was_ack->status, AST_ACK);
    assert_int_equal(kept->status, AST_BLACKOUT);
    assert_int_equal(was_open->update_ms, f->now);
    h = last_hist(f, was_ack);
    assert_non_null(h);
    assert_string_equal(h->text, "blackout ended");
    assert_int_equal(h->type, HT_STATUS);
    assert_int_equal(h->status, AST_ACK);
    assert_null(h->user);
    {
        struct alertdb_stats st;
        alertdb_get_stats(f->db, &st);
        assert_int_equal(st.by_status[AST_BLACKOUT], 1);
        assert_int_equal(st.by_status[AST_ACK], 1);
        assert_int_equal(st.by_status[AST_OPEN], 2);
    }
}

static void test_nothing_in_blackout(void **state)
{
    struct fx *f = *state;
    int calls = 0;
    size_t n = 99, before;

    recv(f, "a", "major", false);
    before = f->fx.n;
    assert_int_equal(alertdb_blackout_release(f->db, covers_keep, &calls, f->now, &f->fx, &n),
                     TOCSIN_OK);
    assert_int_equal(n, 0);
    assert_int_equal(calls, 0); /* not even walked */
    assert_int_equal(f->fx.n, before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_in_blackout, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
