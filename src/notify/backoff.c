#include "notify/backoff.h"

int64_t backoff_delay_ms(unsigned attempt, int64_t base, int64_t max, uint64_t random)
{
    unsigned shift = attempt > 1 ? attempt - 1 : 0;
    int64_t ceiling, half;

    if (base <= 0 || max <= 0)
        return 0;
    if (base >= max || shift >= 62 || base > (max >> shift))
        ceiling = max;
    else
        ceiling = base << shift;
    half = ceiling / 2;
    return half + (int64_t)(random % (uint64_t)(ceiling - half + 1));
}
