#include "util/latring.h"

#include <stdlib.h>
#include <string.h>

void latring_add(struct latring *r, int64_t us, int64_t now_ms)
{
    r->us[r->next] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    r->at_ms[r->next] = now_ms;
    r->next = (r->next + 1) % LATRING_SAMPLES;
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

    return (a > b) - (a < b);
}

void latring_summary(const struct latring *r, int64_t since_ms, struct latring_summary *out)
{
    uint32_t v[LATRING_SAMPLES]; /* 16 KiB of stack: callers are the daemon's threads */
    size_t n = 0;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < LATRING_SAMPLES; i++)
        if (r->at_ms[i] && r->at_ms[i] >= since_ms)
            v[n++] = r->us[i];
    if (!n)
        return;
    qsort(v, n, sizeof(v[0]), cmp_u32);
    out->p50 = v[(n - 1) / 2];
    out->p99 = v[(n * 99 - 1) / 100];
    out->max = v[n - 1];
    out->samples = n;
}
