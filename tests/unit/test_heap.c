/* The allocator the build chose is the one in use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/heap.h"

#ifdef TOCSIN_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

static void test_allocator_in_use(void **state)
{
    char *p;

    (void)state;
#ifdef TOCSIN_JEMALLOC
    {
        const char *v = NULL;
        size_t vl = sizeof(v), allocated = 0, al = sizeof(allocated);
        uint64_t epoch = 1;

        assert_int_equal(strncmp(heap_allocator(), "jemalloc 5.", 11), 0);
        /* jemalloc answers for the process's malloc: what this test allocates shows in its
         * statistics (glibc's malloc would leave them unchanged) */
        assert_int_equal(mallctl("version", &v, &vl, NULL, 0), 0);
        assert_non_null(v);
        p = malloc(1 << 20);
        assert_non_null(p);
        memset(p, 1, 1 << 20);
        assert_int_equal(mallctl("epoch", NULL, NULL, &epoch, sizeof(epoch)), 0);
        assert_int_equal(mallctl("stats.allocated", &allocated, &al, NULL, 0), 0);
        assert_true(allocated >= 1 << 20);
        free(p);
    }
#else
    assert_string_equal(heap_allocator(), "glibc");
#endif
    p = malloc(4 << 20);
    assert_non_null(p);
    memset(p, 2, 4 << 20);
    free(p);
    heap_trim(); /* and the heap is still usable after */
    p = malloc(64);
    assert_non_null(p);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocator_in_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
