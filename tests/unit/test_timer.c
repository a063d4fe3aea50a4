/* Unit tests for core/timer: ordering, callbacks that arm and cancel, 100k random timers
 * against a sorted reference, far-future and past deadlines, next(), huge gaps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/timer.h"

#define DAY_MS (24LL * 3600 * 1000)
#define YEAR_MS (365LL * DAY_MS)

/* The caller's object with an embedded timer, found again with offsetof. */
struct item {
    int id;
    struct timer t;
    int fired;          /* times fired */
    int64_t fired_now;  /* `now` of the advance that fired it */
    int64_t fired_prev; /* `now` of the advance before that one */
    int64_t fired_dl;   /* its deadline when it fired */
    uint64_t arm_order; /* reference arm order for ties (renewed on every arm) */
    int action;         /* what its callback does, see on_fire() */
    struct item *other; /* the target of the action */
    int64_t arg;
};

enum { ACT_NONE, ACT_CANCEL_OTHER, ACT_REARM_OTHER, ACT_REARM_SELF, ACT_REARM_SELF_NOW };

/* What the callbacks see: passed as `ud`. */
struct rec {
    struct timer_wheel *w;
    int64_t now;      /* the now of the running advance */
    int64_t prev_now; /* the now of the advance before */
    int *order;       /* ids in firing order */
    size_t n, cap;
    int64_t last_dl; /* for the non-decreasing check */
    int self_rearms; /* ACT_REARM_SELF / ACT_REARM_SELF_NOW budget */
    uint64_t *arm_counter;
};

static struct item *item_of(struct timer *t)
{
    return (struct item *)(void *)((char *)t - offsetof(struct item, t));
}

static void arm(struct rec *r, struct item *it, int64_t deadline)
{
    timer_arm(r->w, &it->t, deadline);
    it->arm_order = (*r->arm_counter)++;
}

static void on_fire(struct timer *t, void *ud)
{
    struct item *it = item_of(t);
    struct rec *r = ud;

    assert_false(timer_armed(t));
    it->fired++;
    it->fired_now = r->now;
    it->fired_prev = r->prev_now;
    it->fired_dl = t->deadline;
    if (r->n < r->cap)
        r->order[r->n++] = it->id;
    switch (it->action) {
    case ACT_CANCEL_OTHER:
        timer_cancel(r->w, &it->other->t);
        timer_cancel(r->w, t); /* itself: not armed any more, must be harmless */
        break;
    case ACT_REARM_OTHER:
        arm(r, it->other, it->arg);
        break;
    case ACT_REARM_SELF:
        if (r->self_rearms-- > 0)
            arm(r, it, t->deadline + it->arg);
        break;
    case ACT_REARM_SELF_NOW:
        if (r->self_rearms-- > 0)
            arm(r, it, t->deadline);
        break;
    default:
        break;
    }
}

static struct rec *rec_new(int64_t start, size_t cap)
{
    struct rec *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->w = timer_wheel_new(start);
    assert_non_null(r->w);
    r->order = calloc(cap ? cap : 1, sizeof(int));
    assert_non_null(r->order);
    r->cap = cap;
    r->now = start;
    r->prev_now = INT64_MIN;
    r->arm_counter = malloc(sizeof(uint64_t));
    assert_non_null(r->arm_counter);
    *r->arm_counter = 0;
    return r;
}

static void rec_free(struct rec *r)
{
    timer_wheel_free(r->w);
    free(r->order);
    free(r->arm_counter);
    free(r);
}

static size_t advance(struct rec *r, int64_t now)
{
    r->prev_now = r->now;
    r->now = now;
    return timer_wheel_advance(r->w, now, r);
}

static struct item *items_new(size_t n)
{
    struct item *it = calloc(n, sizeof(*it));

    assert_non_null(it);
    for (size_t i = 0; i < n; i++) {
        it[i].id = (int)i;
        timer_init(&it[i].t, on_fire);
    }
    return it;
}

static void expect_order(const struct rec *r, const int *want, size_t n)
{
    assert_int_equal(r->n, n);
    for (size_t i = 0; i < n; i++) {
        if (r->order[i] != want[i])
            fail_msg("position %zu: fired id %d, want %d", i, r->order[i], want[i]);
    }
}

static void test_order_and_ties(void **state)
{
    static const int64_t dl[] = {50, 10, 30, 10, 20, 10};
    static const int want[] = {1, 3, 5, 4, 2, 0};
    struct rec *r = rec_new(0, 16);
    struct item *it = items_new(6);

    (void)state;
    for (int i = 0; i < 6; i++)
        arm(r, &it[i], dl[i]);
    assert_int_equal(timer_wheel_count(r->w), 6);
    assert_int_equal(advance(r, 9), 0);
    assert_int_equal(advance(r, 100), 6);
    expect_order(r, want, 6);
    for (int i = 0; i < 6; i++)
        assert_true(it[i].fired_dl == dl[i]);
    assert_int_equal(timer_wheel_count(r->w), 0);
    rec_free(r); /* disarms what is still armed: before freeing the items */
    free(it);
}

/* Equal deadlines reach level 0 by different paths (armed far ahead and cascaded, or armed
 * late straight into level 0); they still fire in arm order, and a re-arm renews the order. */
static void test_ties_across_levels(void **state)
{
    struct rec *r = rec_new(0, 16);
    struct item *it = items_new(5);
    static const int want[] = {0, 2, 1, 3, 4};

    (void)state;
    arm(r, &it[0], 100000); /* level 2 */
    arm(r, &it[2], 100000);
    arm(r, &it[3], 100000);
    arm(r, &it[4], 3 * YEAR_MS); /* overflow */
    assert_int_equal(advance(r, 99990), 0);
    arm(r, &it[1], 100000); /* straight into level 0 */
    arm(r, &it[3], 100000); /* re-armed: now after 1 */
    assert_int_equal(advance(r, 100000), 4);
    assert_int_equal(advance(r, 3 * YEAR_MS - 1), 0);
    assert_int_equal(advance(r, 3 * YEAR_MS), 1);
    expect_order(r, want, 5);
    rec_free(r); /* disarms what is still armed: before freeing the items */
    free(it);
}

/* A callback fires in the last ms of a block and arms a timer for the first ms of the next
 * block, where an older timer with the same deadline still waits in a higher level (or in the
 * overflow list): the older one must still fire first. */
static void test_ties_at_block_edges(void **state)
{
    static const int64_t edges[] = {512, 65536, INT64_C(1) << 32};
    static const int want[] = {1, 0, 2};

    (void)state;
    for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++) {
        struct rec *r = rec_new(0, 8);
        struct item *it = items_new(3);
        arm(r, &it[0], edges[e]);     /* level >= 1, or overflow */
        arm(r, &it[1], edges[e] - 1); /* its callback arms it[2] for edges[e] */
        it[1].action = ACT_REARM_OTHER;
        it[1].other = &it[2];
        it[1].arg = edges[e];
        assert_int_equal(advance(r, edges[e] + 10), 3);
        expect_order(r, want, 3);
        rec_free(r);
        free(it);
    }
}

static void test_cancel(void **state)
{
    struct rec *r = rec_new(0, 16);
    struct item *it = items_new(5);
    static const int want[] = {0, 3};

    (void)state;
    timer_cancel(r->w, &it[4].t); /* never armed */
    assert_false(timer_armed(&it[4].t));
    arm(r, &it[0], 10); /* cancels 1 (same ms, later in the batch) and 2 (later) */
    arm(r, &it[1], 10);
    arm(r, &it[2], 20);
    arm(r, &it[3], 15);
    arm(r, &it[4], 12);
    timer_cancel(r->w, &it[4].t);
    timer_cancel(r->w, &it[4].t); /* twice */
    it[0].action = ACT_CANCEL_OTHER;
    it[0].other = &it[1];
    it[3].action = ACT_CANCEL_OTHER;
    it[3].other = &it[2];
    assert_true(timer_armed(&it[1].t));
    assert_int_equal(timer_wheel_count(r->w), 4);
    assert_int_equal(advance(r, 100), 2);
    expect_order(r, want, 2);
    assert_int_equal(it[1].fired + it[2].fired + it[4].fired, 0);
    assert_int_equal(timer_wheel_count(r->w), 0);
    assert_true(timer_wheel_next(r->w) == INT64_MAX);
    rec_free(r); /* disarms what is still armed: before freeing the items */
    free(it);
}

static void test_rearm_in_callback(void **state)
{
    struct rec *r = rec_new(0, 64);
    struct item *it = items_new(4);

    (void)state;
    /* A periodic timer: every 10 ms, all within one advance, each at its own deadline. */
    it[0].action = ACT_REARM_SELF;
    it[0].arg = 10;
    r->self_rearms = 1000;
    arm(r, &it[0], 10);
    assert_int_equal(advance(r, 95), 9);
    assert_true(it[0].fired_dl == 90);
    assert_true(timer_armed(&it[0].t));
    timer_cancel(r->w, &it[0].t);

    /* Re-arming itself for the ms being fired waits for the next advance: no endless loop. */
    it[1].action = ACT_REARM_SELF_NOW;
    r->self_rearms = 1000;
    arm(r, &it[1], 200);
    assert_int_equal(advance(r, 300), 1);
    assert_int_equal(advance(r, 300), 1);
    assert_int_equal(advance(r, 300), 1);
    assert_int_equal(it[1].fired, 3);
    timer_cancel(r->w, &it[1].t);

    /* A callback moves a timer of its own batch 2 ms later: it fires after the 401 one. */
    r->n = 0;
    it[2].action = ACT_REARM_OTHER;
    it[2].other = &it[3];
    it[2].arg = 402;
    arm(r, &it[2], 400);
    arm(r, &it[3], 400);
    arm(r, &it[0], 401);
    it[0].action = ACT_NONE;
    assert_int_equal(advance(r, 500), 3);
    {
        static const int want[] = {2, 0, 3};
        expect_order(r, want, 3);
    }
    assert_true(it[3].fired_dl == 402);

    /* A callback arms a timer in the past: it fires first at the next advance. */
    r->n = 0;
    it[2].arg = 450;
    arm(r, &it[2], 600);
    arm(r, &it[1], 601);
    it[1].action = ACT_NONE;
    assert_int_equal(advance(r, 700), 2);
    assert_true(timer_armed(&it[3].t));
    assert_int_equal(advance(r, 700), 1);
    assert_true(it[3].fired_dl == 450);
    rec_free(r); /* disarms what is still armed: before freeing the items */
    free(it);
}

static uint64_t rng_next(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t random_deadline(uint64_t *st)
{
    unsigned r = (unsigned)(rng_next(st) % 10);

    if (r < 3)
        return (int64_t)(rng_next(st) % 1000); /* many ties */
    if (r < 6)
        return (int64_t)(rng_next(st) % (1u << 20));
    if (r < 9)
        return (int64_t)(rng_next(st) % (UINT64_C(1) << 34));
    return (int64_t)(rng_next(st) % (UINT64_C(1) << 40)); /* ~35 years: overflow list */
}

static const struct item *g_items; /* for the qsort comparator only */

static int cmp_ref(const void *a, const void *b)
{
    const struct item *x = &g_items[*(const int *)a], *y = &g_items[*(const int *)b];

    if (x->t.deadline != y->t.deadline)
        return x->t.deadline < y->t.deadline ? -1 : 1;
    return (x->arm_order > y->arm_order) - (x->arm_order < y->arm_order);
}

/* 100k timers, some cancelled, some re-armed; advanced in random steps from 1 ms to days. Each
 * fires exactly once, in the order of a sorted reference, in the advance that covers it. */
static void test_random_100k(void **state)
{
    const size_t n = 100000;
    struct rec *r = rec_new(0, n);
    struct item *it = items_new(n);
    int *ref = malloc(n * sizeof(*ref));
    bool *cancelled = calloc(n, sizeof(*cancelled));
    size_t nref = 0, fired = 0;
    uint64_t st = 12345;
    int64_t now = 0;

    (void)state;
    assert_true(ref && cancelled);
    for (size_t i = 0; i < n; i++)
        arm(r, &it[i], random_deadline(&st));
    for (size_t k = 0; k < n / 5; k++) {
        size_t i = (size_t)(rng_next(&st) % n);
        if (k % 2 == 0) {
            timer_cancel(r->w, &it[i].t);
            cancelled[i] = true;
        } else {
            arm(r, &it[i], random_deadline(&st)); /* re-arm, maybe after a cancel */
            cancelled[i] = false;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!cancelled[i])
            ref[nref++] = (int)i;
    }
    assert_int_equal(timer_wheel_count(r->w), nref);
    g_items = it;
    qsort(ref, nref, sizeof(*ref), cmp_ref);
    r->now = -1; /* the wheel starts at 0: deadline 0 is due at the first advance */
    while (fired < nref) {
        int64_t next = timer_wheel_next(r->w);
        assert_true(next <= it[ref[fired]].t.deadline); /* a lower bound of the earliest */
        now += (int64_t)(rng_next(&st) % 4 == 0 ? rng_next(&st) % (UINT64_C(1) << 33)
                                                : rng_next(&st) % 5000);
        fired += advance(r, now);
        assert_int_equal(timer_wheel_count(r->w), nref - fired);
    }
    assert_int_equal(r->n, nref);
    for (size_t k = 0; k < nref; k++) {
        const struct item *x = &it[ref[k]];
        if (r->order[k] != ref[k])
            fail_msg("position %zu: fired id %d, want %d", k, r->order[k], ref[k]);
        assert_int_equal(x->fired, 1);
        /* In the first advance whose now reaches the deadline: not early, not late. */
        assert_true(x->fired_dl <= x->fired_now);
        assert_true(x->fired_dl > x->fired_prev);
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(it[i].fired, cancelled[i] ? 0 : 1);
    assert_true(timer_wheel_next(r->w) == INT64_MAX);
    free(ref);
    free(cancelled);
    rec_free(r); /* disarms what is still armed: before freeing the items */
    free(it);
}

/* Callbacks that arm new timers and cancel others while 20k timers fire: the firing sequence
 * stays sorted by (deadline, arm order) and every armed timer fires exactly once. */
static void on_fire_chaos(struct timer *t, void *ud);

struct chaos {
    struct rec r;
    struct item *it;
    size_t n, next_free;
    uint64_t st;
    int64_t last_dl;
    uint64_t last_order;
    size_t fired, armed_total, cancelled_total;
};

static void on_fire_chaos(struct timer *t, void *ud)
{
    struct chaos *c = ud;
    struct item *x = item_of(t);
    uint64_t roll = rng_next(&c->st) % 8;

    assert_true(x->fired == 0);
    x->fired = 1;
    assert_true(t->deadline <= c->r.now);
    assert_true(t->deadline > c->last_dl ||
                (t->deadline == c->last_dl && x->arm_order > c->last_order));
    c->last_dl = t->deadline;
    c->last_order = x->arm_order;
    c->fired++;
    if (roll < 3 && c->next_free < c->n) { /* arm a fresh timer a little later */
        struct item *y = &c->it[c->next_free++];
        arm(&c->r, y, t->deadline + 1 + (int64_t)(rng_next(&c->st) % 3000));
        c->armed_total++;
    } else if (roll == 3) { /* cancel a random other timer */
        struct item *y = &c->it[rng_next(&c->st) % c->next_free];
        if (timer_armed(&y->t)) {
            timer_cancel(c->r.w, &y->t);
            y->fired = -1;
            c->cancelled_total++;
        }
    }
}

static void test_callbacks_arm_and_cancel(void **state)
{
    struct chaos *c = calloc(1, sizeof(*c));
    uint64_t counter = 0;
    int64_t now = 0;

    (void)state;
    assert_non_null(c);
    c->n = 40000;
    c->it = calloc(c->n, sizeof(*c->it));
    assert_non_null(c->it);
    c->r.w = timer_wheel_new(0);
    assert_non_null(c->r.w);
    c->r.arm_counter = &counter;
    c->st = 7;
    c->last_dl = INT64_MIN;
    for (size_t i = 0; i < c->n; i++)
        timer_init(&c->it[i].t, on_fire_chaos);
    for (c->next_free = 0; c->next_free < 20000; c->next_free++)
        arm(&c->r, &c->it[c->next_free], (int64_t)(rng_next(&c->st) % 2000000));
    c->armed_total = 20000;
    while (timer_wheel_count(c->r.w) > 0) {
        now += (int64_t)(rng_next(&c->st) % 20000);
        c->r.now = now;
        timer_wheel_advance(c->r.w, now, c);
    }
    assert_int_equal(c->fired + c->cancelled_total, c->armed_total);
    for (size_t i = 0; i < c->next_free; i++)
        assert_true(c->it[i].fired == 1 || c->it[i].fired == -1);
    timer_wheel_free(c->r.w);
    free(c->it);
    free(c);
}

/* Far-future deadlines fire exactly when reached, across the overflow list. */
static void test_far_future(void **state)
{
    static const int64_t dl[] = {100 * DAY_MS,    3 * YEAR_MS,
                                 3 * YEAR_MS + 1, (INT64_C(1) << 40) + 12345,
                                 300 * YEAR_MS,   INT64_MAX - 1};
    const size_t n = sizeof(dl) / sizeof(dl[0]);
    struct rec *r = rec_new(0, 16);
    struct item *it = items_new(n + 1);

    (void)state;
    for (size_t i = 0; i < n; i++)
        arm(r, &it[i], dl[i]);
    arm(r, &it[n], INT64_MAX); /* clamped to INT64_MAX - 1: fires after it[n - 1] */
    for (size_t i = 0; i < n - 1; i++) {
        assert_int_equal(advance(r, dl[i] - 1), 0);
        assert_true(timer_wheel_next(r->w) <= dl[i]);
        assert_int_equal(advance(r, dl[i]), 1);
        assert_int_equal(it[i].fired, 1);
    }
    assert_int_equal(advance(r, INT64_MAX - 2), 0);
    assert_int_equal(advance(r, INT64_MAX), 2);
    assert_true(it[n].fired_dl == INT64_MAX - 1);
    {
        static const int want[] = {0, 1, 2, 3, 4, 5, 6};
        expect_order(r, want, 7);
    }
    rec_free(r); /* disarms what is still armed: before freeing the items */
    free(it);
}

static void test_past_deadlines(void **state)
{
    struct rec *r = rec_new(-5000, 16);
    struct item *it = items_new(6);
    static const int want[] = {5, 1, 0, 2, 3, 4};

    (void)state;
    assert_int_equal(advance(r, 1000), 0);
    arm(r, &it[0], 500);
    arm(r, &it[1], 200);
    arm(r, &it[2], 999);
    arm(r, &it[3], 1001); /* future: fires after the past ones */
    arm(r, &it[4], 1500);
    arm(r, &it[5], INT64_MIN);
    assert_true(timer_wheel_next(r->w) == INT64_MIN);
    /* Past deadlines fire at the next advance even if now did not move (or went back). */
    assert_int_equal(advance(r, 900), 4);
    assert_int_equal(advance(r, 1001), 1);
    assert_int_equal(advance(r, 1499), 0);
    assert_int_equal(advance(r, 1500), 1);
    expect_order(r, want, 6);
    /* Armed at exactly the wheel's time: not in the past, fires at the next advance too. */
    arm(r, &it[0], 1501);
    assert_int_equal(advance(r, 1501), 1);
    rec_free(r); /* disarms what is still armed: before freeing the items */
    free(it);
}

/* next(): INT64_MAX when empty, exact in the current 256 ms block, otherwise a lower bound
 * that an engine can sleep to; sleeping to next() and advancing fires each timer exactly at
 * its deadline, after a handful of wake-ups. */
static void test_next(void **state)
{
    static const int64_t dl[] = {1000 + 10,          1000 + 200,         1000 + 5000,
                                 1000 + 5000,        1000 + 70000,       1000 + 3 * 3600 * 1000,
                                 1000 + 20 * DAY_MS, 1000 + 60 * DAY_MS, 1000 + 9 * YEAR_MS};
    const size_t n = sizeof(dl) / sizeof(dl[0]);
    struct rec *r = rec_new(1000, 16);
    struct item *it = items_new(n);
    size_t fired = 0, wakeups = 0;

    (void)state;
    assert_true(timer_wheel_next(r->w) == INT64_MAX);
    arm(r, &it[0], dl[0]);
    assert_true(timer_wheel_next(r->w) == dl[0]); /* level 0: exact */
    timer_cancel(r->w, &it[0].t);
    assert_true(timer_wheel_next(r->w) == INT64_MAX);
    for (size_t i = n; i-- > 0;)
        arm(r, &it[i], dl[i]);
    assert_true(timer_wheel_next(r->w) == dl[0]);
    while (fired < n) {
        int64_t next = timer_wheel_next(r->w);
        size_t k;
        assert_true(next <= dl[fired]);
        k = advance(r, next);
        wakeups++;
        for (size_t i = fired; i < fired + k; i++)
            assert_true(it[i].fired_now == dl[i]); /* fired exactly at its deadline */
        fired += k;
    }
    assert_true(wakeups <= 4 * n);
    assert_true(timer_wheel_next(r->w) == INT64_MAX);

    /* A past timer makes next() a time in the past: "fire now". */
    arm(r, &it[0], 5);
    assert_true(timer_wheel_next(r->w) == 5);
    rec_free(r); /* disarms what is still armed: before freeing the items */
    free(it);
}

/* Advances over days and centuries cost per timer, not per ms. */
static void test_huge_gap(void **state)
{
    struct rec *r = rec_new(0, 2000);
    struct item *it = items_new(1000);
    uint64_t st = 3;

    (void)state;
    assert_int_equal(advance(r, 30 * DAY_MS), 0); /* nothing armed */
    for (size_t i = 0; i < 1000; i++)
        arm(r, &it[i], 30 * DAY_MS + (int64_t)(rng_next(&st) % (uint64_t)(100 * YEAR_MS)));
    assert_int_equal(advance(r, 30 * DAY_MS + 100 * YEAR_MS), 1000);
    for (size_t k = 1; k < 1000; k++)
        assert_true(it[r->order[k - 1]].t.deadline <= it[r->order[k]].t.deadline);
    assert_int_equal(advance(r, INT64_MAX), 0);
    rec_free(r); /* disarms what is still armed: before freeing the items */
    free(it);
}

static void on_fire_reenter(struct timer *t, void *ud)
{
    struct rec *r = ud;

    (void)t;
    assert_int_equal(timer_wheel_advance(r->w, r->now + 1000, r), 0);
    r->n++;
}

static void test_reentry_and_free(void **state)
{
    struct rec *r = rec_new(0, 4);
    struct item *it = items_new(3);

    (void)state;
    timer_init(&it[0].t, on_fire_reenter);
    arm(r, &it[0], 1);
    assert_int_equal(advance(r, 1), 1);
    assert_int_equal(r->n, 1);
    arm(r, &it[1], 10);
    arm(r, &it[2], 10 * YEAR_MS);
    assert_true(timer_armed(&it[1].t) && timer_armed(&it[2].t));
    timer_wheel_free(r->w);
    r->w = NULL;
    assert_false(timer_armed(&it[1].t));
    assert_false(timer_armed(&it[2].t));
    timer_wheel_free(NULL);
    rec_free(r); /* disarms what is still armed: before freeing the items */
    free(it);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_ties),
        cmocka_unit_test(test_ties_across_levels),
        cmocka_unit_test(test_ties_at_block_edges),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_rearm_in_callback),
        cmocka_unit_test(test_random_100k),
        cmocka_unit_test(test_callbacks_arm_and_cancel),
        cmocka_unit_test(test_far_future),
        cmocka_unit_test(test_past_deadlines),
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_huge_gap),
        cmocka_unit_test(test_reentry_and_free),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
