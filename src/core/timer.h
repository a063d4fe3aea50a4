/* A hierarchical timing wheel for many timers at millisecond resolution (MISSING_DATA deadlines,
 * auto-resolve deadlines, window expiry).
 *
 * Pure computation: no I/O, no clock (time is passed in), no threads; one wheel and its timers
 * must not be used from two threads at once.
 *
 * Design. Four levels of 256 slots: a level-L slot spans 256^L ms, so level 0 holds the
 * deadlines of the current 256 ms block one per slot, level 1 the rest of the current 65.5 s
 * block, level 2 the rest of the current 4.66 h block and level 3 the rest of the current
 * 49.7-day block. Later deadlines wait in an overflow list, re-sorted into the wheel (O(list
 * length)) when wheel time reaches the 49.7-day block of its earliest deadline. A timer moves
 * down a level when its slot comes due (cascading); a bitmap per level lets
 * timer_wheel_advance() jump straight to the next non-empty slot, so an advance costs
 * O(timers fired + slots cascaded), never O(elapsed ms).
 *
 * Timers are intrusive: embed a struct timer in your own struct, give it a callback with
 * timer_init(), and get your struct back in the callback with container_of / offsetof. The
 * wheel never allocates per timer and never frees a timer.
 *
 * Ordering. Timers fire in order of deadline; timers with equal deadlines fire in the order
 * they were (last) armed. Re-arming counts as a new arm.
 *
 * Deadlines are int64_t ms; INT64_MAX is reserved ("no timer") and is clamped to INT64_MAX - 1.
 */
#ifndef TOCSIN_TIMER_H
#define TOCSIN_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer;
typedef void (*timer_fn)(struct timer *t, void *ud);

/* A list link; the first member of struct timer, also the head of the wheel's lists. */
struct timer_link {
    struct timer_link *next, *prev;
};

/* Owned by the caller (usually embedded in a bigger struct). While armed it is linked into the
 * wheel: do not move, copy or free it, and do not touch the fields. */
struct timer {
    struct timer_link link; /* next/prev are NULL when not armed */
    int64_t deadline;       /* the last deadline it was armed for */
    uint64_t seq;           /* arm order, for ties */
    timer_fn fn;
    uint8_t level; /* where it is linked: 0..3 wheel level, or an internal list id */
    uint8_t slot;
};

struct timer_wheel;

/* A wheel whose time starts at now_ms: a timer armed for now_ms fires at the first advance.
 * Returns NULL if out of memory. Caller frees with timer_wheel_free(). */
struct timer_wheel *timer_wheel_new(int64_t now_ms);
/* Disarms every timer still armed (they remain the caller's memory, timer_armed() becomes
 * false) and frees the wheel. NULL is accepted. Must not be called from a callback. */
void timer_wheel_free(struct timer_wheel *w);

/* Prepares a timer (not armed) with its callback. Call once before first use. */
void timer_init(struct timer *t, timer_fn fn);
/* Arms t for deadline_ms; if t is armed already it is moved (and its tie order renewed).
 * O(1). A deadline earlier than the wheel's time fires at the next advance, before any other
 * timer; one at or before the ms being fired, armed from a callback, also waits for the next
 * advance (so a callback re-arming itself for "now" cannot loop forever). */
void timer_arm(struct timer_wheel *w, struct timer *t, int64_t deadline_ms);
/* Disarms t. O(1). Safe on a timer that is not armed. */
void timer_cancel(struct timer_wheel *w, struct timer *t);
bool timer_armed(const struct timer *t);

/* Fires, in deadline order (ties in arm order), every timer whose deadline <= now_ms, and
 * the timers armed in the past since the last advance. A timer is disarmed just before its
 * callback runs, with `ud` passed through. Callbacks may arm or cancel any timer, including
 * themselves and timers of the same batch; a timer armed by a callback for a deadline in
 * (ms being fired, now_ms] fires in this same advance, in order. Must not be called from a
 * callback (it then does nothing and returns 0). The wheel's time never goes backwards: an
 * earlier now_ms fires only the past-deadline timers. Returns the number of callbacks run. */
size_t timer_wheel_advance(struct timer_wheel *w, int64_t now_ms, void *ud);

/* A lower bound of the earliest deadline of any armed timer, never later than it, or INT64_MAX
 * if none is armed. It is exact when that timer is due within the current 256 ms block of
 * wheel time, or was armed in the past and no earlier past timer was cancelled since the last
 * advance. Otherwise it is the start of the earliest non-empty slot: at most 255 ms early
 * (level 1), 65.5 s (level 2), 4.66 h (level 3), or the earliest overflow deadline ever armed
 * since the last overflow sort. An engine that sleeps until next() and advances wakes at most
 * a few extra times per timer, each time with a tighter bound. */
int64_t timer_wheel_next(const struct timer_wheel *w);

/* Number of armed timers. */
size_t timer_wheel_count(const struct timer_wheel *w);

#endif
