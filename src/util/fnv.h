/* fnv: 64-bit FNV-1a, the hash of the engine's alert tables, its facet counts and the outbox's
 * stored keys. Header-only: it sits in the engine's per-alert path. */
#ifndef TOCSIN_FNV_H
#define TOCSIN_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_BASIS UINT64_C(14695981039346656037)
#define FNV1A_PRIME UINT64_C(1099511628211)

/* FNV-1a of p[0..n), continuing from h (FNV1A_BASIS to start). */
static inline uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * FNV1A_PRIME;
    return h;
}

/* One field of a key of several: its bytes, then a separator byte (0xff) that no UTF-8 string
 * holds, so ("ab", "c") and ("a", "bc") differ. */
static inline uint64_t fnv1a_field(uint64_t h, const char *p, size_t n)
{
    return (fnv1a(h, p, n) ^ 0xff) * FNV1A_PRIME;
}

#endif
