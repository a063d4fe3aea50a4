/* Unit tests for util/sidx, the alerts' short id index: exact and prefix look-ups in (sid, rid)
 * order across bucket boundaries, a repeated put and deletes, paging without splitting a sid,
 * the prefix ranges, the rid bound, and a large random set checked against a sorted copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/err.h"
#include "util/sidx.h"

static void id_of(uint32_t sid, uint8_t id[16])
{
    memset(id, 0xab, 16);
    id[0] = (uint8_t)(sid >> 24);
    id[1] = (uint8_t)(sid >> 16);
    id[2] = (uint8_t)(sid >> 8);
    id[3] = (uint8_t)sid;
}

static void put(struct sidx *x, uint32_t sid, uint64_t rid)
{
    uint8_t id[16];

    id_of(sid, id);
    assert_int_equal(sidx_put(x, id, rid), TOCSIN_OK);
}

static void del(struct sidx *x, uint32_t sid, uint64_t rid)
{
    uint8_t id[16];

    id_of(sid, id);
    sidx_del(x, id, rid);
}

static void expect(const struct sidx_hit *h, size_t n, const uint32_t *sids, const uint64_t *rids,
                   size_t want)
{
    assert_int_equal(n, want);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(h[i].sid, sids[i]);
        assert_int_equal(h[i].rid, rids[i]);
    }
}

static void test_order_and_ranges(void **state)
{
    struct sidx *x = sidx_new();
    struct sidx_hit h[16];
    (void)state;

    assert_non_null(x);
    put(x, 0x12345678, 5);
    put(x, 0x12345678, 1);
    put(x, 0x12345679, 2);
    put(x, 0x1234ffff, 7); /* the last of one bucket ... */
    put(x, 0x12350000, 8); /* ... and the first of the next */
    put(x, 0x00000000, 3);
    put(x, 0xffffffff, 4);
    put(x, 0x12345678, 5); /* there already */
    assert_int_equal(sidx_count(x), 7);
    assert_true(sidx_usable(x));

    expect(h, sidx_find(x, 0x12345678, 0x12345678, NULL, h, 16),
           (const uint32_t[]){0x12345678, 0x12345678}, (const uint64_t[]){1, 5}, 2);
    expect(h, sidx_find(x, 0x12340000, 0x1234ffff, NULL, h, 16),
           (const uint32_t[]){0x12345678, 0x12345678, 0x12345679, 0x1234ffff},
           (const uint64_t[]){1, 5, 2, 7}, 4);
    expect(h, sidx_find(x, 0x1234fff0, 0x1235000f, NULL, h, 16),
           (const uint32_t[]){0x1234ffff, 0x12350000}, (const uint64_t[]){7, 8}, 2);
    expect(h, sidx_find(x, 0, UINT32_MAX, NULL, h, 16),
           (const uint32_t[]){0, 0x12345678, 0x12345678, 0x12345679, 0x1234ffff, 0x12350000,
                              0xffffffff},
           (const uint64_t[]){3, 1, 5, 2, 7, 8, 4}, 7);
    assert_int_equal(sidx_find(x, 0x12345680, 0x1234fffe, NULL, h, 16), 0);
    assert_int_equal(sidx_find(x, 5, 4, NULL, h, 16), 0);

    del(x, 0x12345678, 1);
    del(x, 0x12345678, 99); /* not there */
    del(x, 0x00000001, 3);  /* another sid */
    assert_int_equal(sidx_count(x), 6);
    expect(h, sidx_find(x, 0x12345678, 0x12345678, NULL, h, 16), (const uint32_t[]){0x12345678},
           (const uint64_t[]){5}, 1);
    del(x, 0xffffffff, 4);
    assert_int_equal(sidx_find(x, 0xffffffff, 0xffffffff, NULL, h, 16), 0);
    sidx_free(x);
}

static void test_paging_keeps_sids_whole(void **state)
{
    struct sidx *x = sidx_new();
    struct sidx_hit h[4], last;
    (void)state;

    assert_non_null(x);
    for (uint64_t r = 1; r <= 3; r++)
        put(x, 0xa0000001, r);
    put(x, 0xa0000002, 10);
    put(x, 0xa0000002, 11);
    for (uint64_t r = 20; r < 26; r++)
        put(x, 0xa0000003, r);

    /* 3 of sid 1 fit, sid 2's two would not: they start the next page */
    expect(h, sidx_find(x, 0xa0000000, 0xafffffff, NULL, h, 4),
           (const uint32_t[]){0xa0000001, 0xa0000001, 0xa0000001}, (const uint64_t[]){1, 2, 3}, 3);
    last = h[2];
    expect(h, sidx_find(x, 0xa0000000, 0xafffffff, &last, h, 4),
           (const uint32_t[]){0xa0000002, 0xa0000002}, (const uint64_t[]){10, 11}, 2);
    last = h[1];
    /* one sid with more entries than a page: split */
    expect(h, sidx_find(x, 0xa0000000, 0xafffffff, &last, h, 4),
           (const uint32_t[]){0xa0000003, 0xa0000003, 0xa0000003, 0xa0000003},
           (const uint64_t[]){20, 21, 22, 23}, 4);
    last = h[3];
    expect(h, sidx_find(x, 0xa0000000, 0xafffffff, &last, h, 4),
           (const uint32_t[]){0xa0000003, 0xa0000003}, (const uint64_t[]){24, 25}, 2);
    last = h[1];
    assert_int_equal(sidx_find(x, 0xa0000000, 0xafffffff, &last, h, 4), 0);
    /* a cursor before the range starts at the range */
    last = (struct sidx_hit){.sid = 0x10000000, .rid = 5};
    assert_int_equal(sidx_find(x, 0xa0000002, 0xa0000002, &last, h, 4), 2);
    /* the last possible entry as the cursor */
    last = (struct sidx_hit){.sid = 0xafffffff, .rid = SIDX_RID_MAX};
    assert_int_equal(sidx_find(x, 0xa0000000, 0xafffffff, &last, h, 4), 0);
    sidx_free(x);
}

static void test_prefix_range(void **state)
{
    uint32_t lo = 0, hi = 0;
    (void)state;

    assert_false(sidx_prefix_range("", 0, &lo, &hi));
    assert_false(sidx_prefix_range("g", 1, &lo, &hi));
    assert_false(sidx_prefix_range("A", 1, &lo, &hi)); /* callers lower-case */
    assert_false(sidx_prefix_range("1234-678", 8, &lo, &hi));
    assert_true(sidx_prefix_range("1", 1, &lo, &hi));
    assert_int_equal(lo, 0x10000000);
    assert_int_equal(hi, 0x1fffffff);
    assert_true(sidx_prefix_range("1234567", 7, &lo, &hi));
    assert_int_equal(lo, 0x12345670);
    assert_int_equal(hi, 0x1234567f);
    assert_true(sidx_prefix_range("9abcdef0", 8, &lo, &hi));
    assert_int_equal(lo, 0x9abcdef0);
    assert_int_equal(hi, 0x9abcdef0);
    assert_true(sidx_prefix_range("ffffffff-zz", 11, &lo, &hi)); /* past 8: not looked at */
    assert_int_equal(lo, 0xffffffff);
    assert_int_equal(hi, 0xffffffff);
}

static void test_rid_bound(void **state)
{
    struct sidx *x = sidx_new();
    uint8_t id[16];
    (void)state;

    assert_non_null(x);
    id_of(7, id);
    assert_int_equal(sidx_put(x, id, SIDX_RID_MAX), TOCSIN_OK);
    assert_true(sidx_usable(x));
    assert_int_equal(sidx_put(x, id, SIDX_RID_MAX + 1), TOCSIN_EINVAL);
    assert_false(sidx_usable(x));
    sidx_free(x);
}

struct ref {
    uint32_t sid;
    uint64_t rid;
    bool live;
};

static int ref_cmp(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;

    if (x->sid != y->sid)
        return x->sid < y->sid ? -1 : 1;
    return x->rid < y->rid ? -1 : x->rid > y->rid;
}

/* Every page of [lo, hi], 7 at a time, against the live entries of the sorted reference. */
static void check_range(struct sidx *x, const struct ref *ref, size_t n, uint32_t lo, uint32_t hi)
{
    struct sidx_hit h[7], last;
    size_t got, at = 0;
    bool first = true;

    while ((got = sidx_find(x, lo, hi, first ? NULL : &last, h, 7)) > 0) {
        for (size_t i = 0; i < got; i++) {
            while (at < n && (!ref[at].live || ref[at].sid < lo || ref[at].sid > hi))
                at++;
            assert_true(at < n);
            assert_int_equal(h[i].sid, ref[at].sid);
            assert_int_equal(h[i].rid, ref[at].rid);
            at++;
        }
        last = h[got - 1];
        first = false;
    }
    while (at < n && (!ref[at].live || ref[at].sid < lo || ref[at].sid > hi))
        at++;
    assert_int_equal(at, n);
}

static void test_random_against_sorted(void **state)
{
    enum { N = 60000 };
    struct ref *ref = calloc(N, sizeof(*ref));
    struct sidx *x = sidx_new();
    uint64_t s = 88172645463325252ULL;
    size_t live = N;
    (void)state;

    assert_non_null(ref);
    assert_non_null(x);
    for (size_t i = 0; i < N; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        /* a few hot sids, so that some hold several rids */
        ref[i] = (struct ref){.sid = i % 50 ? (uint32_t)s : 0x5eed0000u + (uint32_t)(i % 3),
                              .rid = i + 1,
                              .live = true};
        put(x, ref[i].sid, ref[i].rid);
    }
    qsort(ref, N, sizeof(*ref), ref_cmp);
    assert_int_equal(sidx_count(x), N);
    check_range(x, ref, N, 0, UINT32_MAX);
    check_range(x, ref, N, 0x5eed0000u, 0x5eed0002u);
    check_range(x, ref, N, 0x30000000u, 0x3fffffffu);
    for (size_t i = 0; i < N; i += 1 + i % 3) { /* about half, emptying and shrinking buckets */
        del(x, ref[i].sid, ref[i].rid);
        ref[i].live = false;
        live--;
    }
    assert_int_equal(sidx_count(x), live);
    check_range(x, ref, N, 0, UINT32_MAX);
    check_range(x, ref, N, 0xc0000000u, 0xcfffffffu);
    sidx_free(x);
    free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_ranges),
        cmocka_unit_test(test_paging_keeps_sids_whole),
        cmocka_unit_test(test_prefix_range),
        cmocka_unit_test(test_rid_bound),
        cmocka_unit_test(test_random_against_sorted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
