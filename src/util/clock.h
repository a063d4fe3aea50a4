/* Clocks. The engine never reads these itself: the threads that drive it pass `now` in. */
#ifndef TOCSIN_CLOCK_H
#define TOCSIN_CLOCK_H

#include <stdint.h>

int64_t clock_wall_ms(void);  /* CLOCK_REALTIME in ms */
int64_t clock_mono_ns(void);  /* CLOCK_MONOTONIC in ns */
int64_t clock_mono_ms(void);

/* An injectable source of wall-clock milliseconds. */
struct clock {
    int64_t (*now_ms)(void *ud);
    void *ud;
};

/* The real clock: wall time at creation advanced by the monotonic clock, so it never jumps. */
struct clock clock_real(void);

#endif
