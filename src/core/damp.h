/* Dampening, Gravitee AE's four modes: how many true evaluations make a trigger fire.
 *   STRICT_COUNT  N consecutive true evaluations
 *   RELAXED_COUNT N true evaluations out of the last M
 *   RELAXED_TIME  N true evaluations within T
 *   STRICT_TIME   only true evaluations for at least T (fires on the first true evaluation at or
 *                 after T since the run of trues began)
 * After firing, the state resets, as in AE. */
#ifndef TOCSIN_DAMP_H
#define TOCSIN_DAMP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/verr.h"

enum damp_mode { DAMP_STRICT_COUNT = 0, DAMP_RELAXED_COUNT, DAMP_RELAXED_TIME, DAMP_STRICT_TIME,
                 DAMP_MODE_COUNT };

#define DAMP_MAX_EVALUATIONS 1024

struct dampening {
    enum damp_mode mode;
    uint32_t true_evals;  /* N */
    uint32_t total_evals; /* M (RELAXED_COUNT) */
    int64_t duration_ms;  /* T (RELAXED_TIME, STRICT_TIME) */
};

/* Per (trigger, projection key) state. Zero-initialise with damp_state_init. */
struct damp_state {
    uint32_t trues;     /* STRICT_COUNT: run length; RELAXED_COUNT: trues in the ring */
    uint32_t evals;     /* RELAXED_COUNT: evaluations in the ring */
    uint32_t head;      /* ring position */
    int64_t run_start;  /* STRICT_TIME: time of the first true of the run, -1 if none */
    uint64_t *bits;     /* RELAXED_COUNT: ring of M bits */
    int64_t *times;     /* RELAXED_TIME: ring of the last N true times */
};

/* Parses {mode, trueEvaluations, totalEvaluations, duration, timeUnit}; absent means
 * STRICT_COUNT 1 (AE's default). */
int damp_parse(const json_t *j, struct dampening *d, struct verr *err);
json_t *damp_to_json(const struct dampening *d);
const char *damp_mode_name(enum damp_mode m);

int damp_state_init(struct damp_state *s, const struct dampening *d);
void damp_state_clear(struct damp_state *s);
void damp_state_reset(struct damp_state *s, const struct dampening *d);
/* Feeds one evaluation; returns true when the trigger fires (the state is then reset). */
bool damp_feed(struct damp_state *s, const struct dampening *d, bool value, int64_t now_ms);

#endif
