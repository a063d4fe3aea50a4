/* Retry delays for failed deliveries: exponential backoff with "equal jitter". Pure. */
#ifndef TOCSIN_BACKOFF_H
#define TOCSIN_BACKOFF_H

#include <stdint.h>

/* The delay before the next attempt after `attempt` failures (1 = after the first failure).
 * The ceiling is e = min(max, base * 2^(attempt-1)); the delay is e/2 plus a part of `random`
 * in [0, e - e/2], so it lies in [e/2, e] and never exceeds `max`. attempt 0 counts as 1;
 * base <= 0 gives 0; max < base caps at max. `random` is any uniformly random number. */
int64_t backoff_delay_ms(unsigned attempt, int64_t base, int64_t max, uint64_t random);

#endif
