#include "util/heap.h"

#include <malloc.h>
#include <stdio.h>

#ifdef TOCSIN_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

const char *heap_allocator(void)
{
#ifdef TOCSIN_JEMALLOC
    return "jemalloc " JEMALLOC_VERSION;
#else
    return "glibc";
#endif
}

void heap_trim(void)
{
#ifdef TOCSIN_JEMALLOC
    char name[64];

    snprintf(name, sizeof(name), "arena.%d.purge", MALLCTL_ARENAS_ALL);
    (void)mallctl(name, NULL, NULL, NULL, 0); /* nothing to do on failure: memory stays kept */
#else
    malloc_trim(0);
#endif
}
