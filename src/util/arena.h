/* A bump allocator for short-lived batches (an event batch and its strings). Everything is freed
 * at once by arena_free(). Bounded by `max` bytes. */
#ifndef TOCSIN_ARENA_H
#define TOCSIN_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
    struct arena_chunk *head;
    size_t used;  /* bytes handed out, all chunks */
    size_t reserved; /* bytes of the chunks themselves (what the arena really holds) */
    size_t max;
};

void arena_init(struct arena *a, size_t max);
void arena_free(struct arena *a);
/* NULL when out of memory or over max. Aligned to 8. */
void *arena_alloc(struct arena *a, size_t n);
/* Copies n bytes and adds a NUL. */
char *arena_strndup(struct arena *a, const char *s, size_t n);

#endif
