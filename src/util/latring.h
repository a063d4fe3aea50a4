/* A ring of the last LATRING_SAMPLES durations (µs), each with when it was taken (ms on the
 * caller's clock), and their p50/p99/max over a recent window: how the daemon reports the time
 * of a stage (/api/v1/stats) without a histogram per stage. A stage that runs more than
 * LATRING_SAMPLES times in the window is summarised over its last LATRING_SAMPLES only (about
 * 2 s of store commits under a heavy load). Not locked: the caller guards a ring used from two
 * threads. About 48 KiB. */
#ifndef TOCSIN_LATRING_H
#define TOCSIN_LATRING_H

#include <stddef.h>
#include <stdint.h>

#define LATRING_SAMPLES 4096

struct latring {
    uint32_t us[LATRING_SAMPLES];
    int64_t at_ms[LATRING_SAMPLES];
    size_t next;
};

struct latring_summary {
    uint32_t p50, p99, max; /* µs; meaningless when samples is 0 */
    size_t samples;
};

/* Notes a duration of us microseconds (clamped to 0..UINT32_MAX) taken at now_ms (> 0). */
void latring_add(struct latring *r, int64_t us, int64_t now_ms);
/* The samples taken at or after since_ms. */
void latring_summary(const struct latring *r, int64_t since_ms, struct latring_summary *out);

#endif
