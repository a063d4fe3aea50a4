/* Sliding-window aggregates over the last `duration_ms`, for AE's AGGREGATION (COUNT, AVG, MIN,
 * MAX, P50..P99) and RATE conditions.
 *
 * Pure computation: no I/O, no clock (every call takes `now_ms`), no threads; one window must
 * not be used from two threads at once.
 *
 * Design. The window is cut into slices of slice_ms = ceil(duration_ms / WINDOW_SLICES) ms
 * (at least 1 ms), aligned on multiples of slice_ms. Each slice keeps count, sum, min, max,
 * matched count and, only if quantiles were asked for, a quantile sketch (core/sketch.h, 1%
 * relative error) created on first use and reused when the slice is recycled. The slices live
 * in a fixed ring of at most WINDOW_SLICES + 1 entries, so memory is bounded by the ring plus
 * one sketch per slice and one scratch sketch for queries (see sketch.h for a sketch's bound).
 *
 * Precision of the edge. A slice is dropped once its newest millisecond is older than the
 * window, i.e. a sample taken at t is counted until at least t + duration_ms - 1 and at most
 * t + duration_ms + slice_ms - 2, then dropped. So a query at `now` sees every sample with
 * t > now - duration_ms, plus possibly samples up to slice_ms - 1 ms older than that (those that
 * share a slice with a sample still in the window): the edge is precise to one slice. A sample
 * taken in the last millisecond of its slice is dropped exactly duration_ms after it was taken.
 *
 * Time. The window keeps its own clock: the largest `now_ms` it has been given (by any call).
 * A call with an earlier `now_ms` (time went backwards) is treated as happening at that clock:
 * its sample goes into the newest slice and nothing "un-expires". Times are clamped to
 * +-2^62 ms. A jump forward of any size costs O(WINDOW_SLICES), never O(gap).
 *
 * Costs. add: O(1) (plus O(WINDOW_SLICES) at most once per slice_ms, when a slice expires).
 * window_count / window_rate: O(1) after expiry. window_value: O(WINDOW_SLICES) for COUNT..MAX,
 * plus merging up to WINDOW_SLICES + 1 sketches for the percentiles.
 */
#ifndef TOCSIN_WINDOW_H
#define TOCSIN_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WINDOW_SLICES 60
#define WINDOW_MAX_DURATION_MS (366LL * 24 * 3600 * 1000) /* one (leap) year */

enum window_fn { WIN_COUNT, WIN_AVG, WIN_MIN, WIN_MAX, WIN_P50, WIN_P90, WIN_P95, WIN_P99 };

struct window;

/* duration_ms in [1, WINDOW_MAX_DURATION_MS]. need_quantiles: keep sketches so that WIN_P50..P99
 * work (costs memory per slice); without it those functions report "no value". Returns NULL on
 * an invalid duration or out of memory. Caller frees with window_free(). */
struct window *window_new(int64_t duration_ms, bool need_quantiles);
/* Frees the window and its sketches; NULL is accepted. */
void window_free(struct window *w);

/* Expires old slices, then adds one sample at now_ms. `value` must be finite (pass 0 when only
 * COUNT or RATE is used); `matched` is the outcome of the RATE comparison for this sample.
 * Returns TOCSIN_OK, TOCSIN_EINVAL for a NaN/infinite value, or TOCSIN_ENOMEM if the slice's
 * sketch could not be created or grown (the window is then unchanged, apart from expiry). */
int window_add(struct window *w, int64_t now_ms, double value, bool matched);

/* Drops the slices that fell out of the window at now_ms. Every other call does this itself. */
void window_expire(struct window *w, int64_t now_ms);

/* Fills *out with fn over the samples in the window at now_ms. Returns false, with *out = NAN,
 * if the window holds no sample, or for a percentile if the window was created without
 * need_quantiles or memory for the merge ran out. WIN_COUNT always returns true (0 if empty). */
bool window_value(struct window *w, int64_t now_ms, enum window_fn fn, double *out);

/* Number of samples in the window at now_ms. */
uint64_t window_count(struct window *w, int64_t now_ms);

/* Percentage 0..100 of the samples in the window at now_ms that were added with matched = true.
 * Returns false (and *out_pct = NAN) if there are fewer than min_samples samples, or none. */
bool window_rate(struct window *w, int64_t now_ms, uint64_t min_samples, double *out_pct);

/* The largest now_ms given to a successful window_add() (the newest sample), or INT64_MIN if
 * none. Not cleared when that sample expires. */
int64_t window_last_add_ms(const struct window *w);

/* The earliest time at which a sample now in the window will be dropped (when the value of the
 * window can next change without a new sample), or INT64_MAX if the window is empty: the time to
 * arm an expiry timer for. */
int64_t window_next_expiry_ms(const struct window *w);

/* Bytes in use: the window, its ring and every sketch it holds. */
size_t window_memory(const struct window *w);

#endif
