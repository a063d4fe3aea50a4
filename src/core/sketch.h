/* A quantile sketch with a bounded relative error (log buckets, DDSketch-style).
 *
 * Pure computation: no I/O, no clock, no threads; one sketch must not be used from two threads
 * at once.
 *
 * Accuracy. A value v > 0 is counted in the bucket key = ceil(log_gamma(v)) with
 * gamma = (1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA); the bucket (gamma^(key-1), gamma^key] is
 * reported as gamma^key * (1 - SKETCH_ALPHA), which is within SKETCH_ALPHA (1%) of every value in
 * the bucket (up to floating-point rounding, below 1e-12 relative). Negative values are counted
 * by magnitude in a mirrored store; zeros (and -0.0) have their own count. The exact minimum
 * and maximum are kept: ranks 0 and n-1 return them, other results are clamped to them.
 *
 * Rank definition. For n samples sorted ascending as x[0] <= ... <= x[n-1],
 * sketch_quantile(s, q) estimates x[floor(q * (n - 1))] (the lower nearest rank).
 *
 * Memory bound. Each sign keeps at most SKETCH_MAX_BUCKETS buckets (dense array with an offset,
 * grown on demand), i.e. a range of gamma^2048 ~ 6.2e17 (about 17.8 decades) between the
 * smallest and the largest magnitude of that sign. When a value would widen the range past that,
 * the buckets at the low end of the value axis are folded into one: for positives the smallest
 * magnitudes, for negatives the largest magnitudes (the most negative values). Values in the
 * folded bucket are reported as the folded bucket's value, so only the lowest quantiles of that
 * sign lose the 1% guarantee; everything from the fold point up keeps it. With mixed signs, a
 * fold of the positive store affects the positive values closest to zero.
 * Worst case: sizeof(struct sketch) + 2 * SKETCH_MAX_BUCKETS * 8 bytes (about 32 KiB).
 */
#ifndef TOCSIN_SKETCH_H
#define TOCSIN_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#define SKETCH_ALPHA 0.01
#define SKETCH_MAX_BUCKETS 2048 /* per sign */

struct sketch;

/* Returns an empty sketch (no bucket memory yet), or NULL if out of memory.
 * Caller frees with sketch_free(). */
struct sketch *sketch_new(void);
/* Frees the sketch and its buckets; NULL is accepted. */
void sketch_free(struct sketch *s);
/* Empties the sketch; keeps its bucket memory for reuse. Cost is proportional to the number of
 * buckets in use, not to the number of samples. */
void sketch_reset(struct sketch *s);

/* Adds one sample. Returns TOCSIN_OK, TOCSIN_EINVAL for NaN or an infinity (the sketch is left
 * unchanged), or TOCSIN_ENOMEM if growing the buckets failed (sketch unchanged). */
int sketch_add(struct sketch *s, double v);

/* Adds every sample of `src` to `dst` (borrows src for the call; src may equal dst). The result
 * is the same sketch as adding all samples to dst directly (bucket for bucket, including the
 * folding rule). Returns TOCSIN_OK or TOCSIN_ENOMEM (dst then unchanged). */
int sketch_merge(struct sketch *dst, const struct sketch *src);

/* Estimated quantile q in [0, 1] (rank definition above). Returns NAN if the sketch is empty or
 * q is outside [0, 1] or NaN. */
double sketch_quantile(const struct sketch *s, double q);

/* Number of samples added (including merged ones) since creation or the last reset. */
uint64_t sketch_count(const struct sketch *s);

/* Bytes in use: the struct plus the allocated bucket arrays. */
size_t sketch_memory(const struct sketch *s);

#endif
