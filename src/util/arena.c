#include "util/arena.h"

#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    struct arena_chunk *next;
    size_t cap, off;
    _Alignas(8) unsigned char data[];
};

#define CHUNK_MIN 4096

void arena_init(struct arena *a, size_t max)
{
    a->head = NULL;
    a->used = a->reserved = 0;
    a->max = max;
}

void arena_free(struct arena *a)
{
    struct arena_chunk *c = a->head, *next;

    while (c) {
        next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = a->reserved = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
    struct arena_chunk *c = a->head;
    size_t need = (n + 7) & ~(size_t)7;
    void *p;

    if (need < n || need > a->max || a->used > a->max - need)
        return NULL;
    if (!c || c->cap - c->off < need) {
        size_t cap = need > CHUNK_MIN ? need : CHUNK_MIN;
        if (c && c->cap * 2 > cap && c->cap < 1024 * 1024)
            cap = c->cap * 2;
        c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->off = 0;
        a->reserved += sizeof(*c) + cap;
        c->next = a->head;
        a->head = c;
    }
    p = c->data + c->off;
    c->off += need;
    a->used += need;
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *d = arena_alloc(a, n + 1);

    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}
