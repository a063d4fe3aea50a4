#include "util/clock.h"

#include <time.h>

int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_mono_ms(void)
{
    return clock_mono_ns() / 1000000;
}

static int64_t base_wall_ms;
static int64_t base_mono_ms;

static int64_t real_now(void *ud)
{
    (void)ud;
    return base_wall_ms + (clock_mono_ms() - base_mono_ms);
}

struct clock clock_real(void)
{
    if (!base_wall_ms) {
        base_wall_ms = clock_wall_ms();
        base_mono_ms = clock_mono_ms();
    }
    return (struct clock){.now_ms = real_now, .ud = NULL};
}
