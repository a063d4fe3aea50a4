#include "core/damp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cond.h"
#include "util/err.h"

static const char *const mode_names[DAMP_MODE_COUNT] = {"STRICT_COUNT", "RELAXED_COUNT",
                                                         "RELAXED_TIME", "STRICT_TIME"};

const char *damp_mode_name(enum damp_mode m)
{
    return (unsigned)m < DAMP_MODE_COUNT ? mode_names[m] : "?";
}

static int get_count(const json_t *j, const char *field, bool required, uint32_t *out,
                     struct verr *err)
{
    const json_t *v = json_object_get(j, field);
    double d;

    if (!v || json_is_null(v))
        return required ? verr_set(err, field, "missing required field") : TOCSIN_OK;
    if (!json_is_number(v))
        return verr_set(err, field, "must be an integer");
    d = json_number_value(v);
    if (d != floor(d) || d < 1 || d > DAMP_MAX_EVALUATIONS)
        return verr_set(err, field, "must be an integer from 1 to %d", DAMP_MAX_EVALUATIONS);
    *out = (uint32_t)d;
    return TOCSIN_OK;
}

int damp_parse(const json_t *j, struct dampening *d, struct verr *err)
{
    const json_t *m;
    int rc, idx = -1;

    memset(d, 0, sizeof(*d));
    d->mode = DAMP_STRICT_COUNT;
    d->true_evals = d->total_evals = 1;
    if (!j || json_is_null(j))
        return TOCSIN_OK;
    if (!json_is_object(j))
        return verr_set(err, "", "must be an object");
    m = json_object_get(j, "mode");
    if (!json_is_string(m))
        return verr_set(err, "mode", m ? "must be a string" : "missing required field");
    for (int i = 0; i < DAMP_MODE_COUNT; i++)
        if (strcasecmp(mode_names[i], json_string_value(m)) == 0)
            idx = i;
    if (idx < 0)
        return verr_set(err, "mode", "unknown value '%.64s'", json_string_value(m));
    d->mode = (enum damp_mode)idx;
    switch (d->mode) {
    case DAMP_STRICT_COUNT:
        rc = get_count(j, "trueEvaluations", true, &d->true_evals, err);
        d->total_evals = d->true_evals;
        return rc;
    case DAMP_RELAXED_COUNT:
        if ((rc = get_count(j, "trueEvaluations", true, &d->true_evals, err)) ||
            (rc = get_count(j, "totalEvaluations", true, &d->total_evals, err)))
            return rc;
        if (d->true_evals > d->total_evals)
            return verr_set(err, "trueEvaluations", "must not exceed totalEvaluations");
        return TOCSIN_OK;
    case DAMP_RELAXED_TIME:
        if ((rc = get_count(j, "trueEvaluations", true, &d->true_evals, err)))
            return rc;
        return parse_duration(j, "duration", "timeUnit", &d->duration_ms, err);
    default:
        return parse_duration(j, "duration", "timeUnit", &d->duration_ms, err);
    }
}

json_t *damp_to_json(const struct dampening *d)
{
    json_t *o = json_pack("{s:s}", "mode", mode_names[d->mode]);

    if (d->mode != DAMP_STRICT_TIME)
        json_object_set_new(o, "trueEvaluations", json_integer(d->true_evals));
    if (d->mode == DAMP_RELAXED_COUNT)
        json_object_set_new(o, "totalEvaluations", json_integer(d->total_evals));
    if (d->mode == DAMP_RELAXED_TIME || d->mode == DAMP_STRICT_TIME) {
        json_object_set_new(o, "duration", json_integer(d->duration_ms));
        json_object_set_new(o, "timeUnit", json_string("MILLISECONDS"));
    }
    return o;
}

int damp_state_init(struct damp_state *s, const struct dampening *d)
{
    memset(s, 0, sizeof(*s));
    s->run_start = -1;
    if (d->mode == DAMP_RELAXED_COUNT) {
        s->bits = calloc((d->total_evals + 63) / 64, sizeof(uint64_t));
        if (!s->bits)
            return TOCSIN_ENOMEM;
    } else if (d->mode == DAMP_RELAXED_TIME) {
        s->times = calloc(d->true_evals, sizeof(int64_t));
        if (!s->times)
            return TOCSIN_ENOMEM;
    }
    return TOCSIN_OK;
}

void damp_state_clear(struct damp_state *s)
{
    free(s->bits);
    free(s->times);
    memset(s, 0, sizeof(*s));
    s->run_start = -1;
}

void damp_state_reset(struct damp_state *s, const struct dampening *d)
{
    s->trues = s->evals = s->head = 0;
    s->run_start = -1;
    if (s->bits)
        memset(s->bits, 0, (d->total_evals + 63) / 64 * sizeof(uint64_t));
}

static bool relaxed_count(struct damp_state *s, const struct dampening *d, bool value)
{
    uint32_t pos = s->head, w = pos / 64;
    uint64_t mask = (uint64_t)1 << (pos % 64);

    if (s->evals == d->total_evals) { /* ring full: the oldest evaluation leaves */
        if (s->bits[w] & mask)
            s->trues--;
    } else {
        s->evals++;
    }
    if (value) {
        s->bits[w] |= mask;
        s->trues++;
    } else {
        s->bits[w] &= ~mask;
    }
    s->head = (pos + 1) % d->total_evals;
    return s->trues >= d->true_evals;
}

static bool relaxed_time(struct damp_state *s, const struct dampening *d, bool value, int64_t now)
{
    uint32_t oldest;

    if (!value)
        return false;
    s->times[s->head] = now;
    s->head = (s->head + 1) % d->true_evals;
    if (s->trues < d->true_evals)
        s->trues++;
    if (s->trues < d->true_evals)
        return false;
    oldest = s->head; /* ring full: head points at the oldest of the last N trues */
    return now - s->times[oldest] <= d->duration_ms;
}

bool damp_feed(struct damp_state *s, const struct dampening *d, bool value, int64_t now_ms)
{
    bool fire = false;

    switch (d->mode) {
    case DAMP_STRICT_COUNT:
        s->trues = value ? s->trues + 1 : 0;
        fire = s->trues >= d->true_evals;
        break;
    case DAMP_RELAXED_COUNT:
        fire = relaxed_count(s, d, value);
        break;
    case DAMP_RELAXED_TIME:
        fire = relaxed_time(s, d, value, now_ms);
        break;
    case DAMP_STRICT_TIME:
        if (!value) {
            s->run_start = -1;
        } else if (s->run_start < 0) {
            s->run_start = now_ms;
        }
        fire = value && now_ms - s->run_start >= d->duration_ms;
        break;
    default:
        break;
    }
    if (fire)
        damp_state_reset(s, d);
    return fire;
}
