/* Trigger conditions and filters, Gravitee AE's model: parsed from JSON (enums in any case),
 * compiled (regexes with PCRE2 JIT), evaluated on one event (single-value conditions) or on a
 * window (AGGREGATION, RATE, MISSING_DATA, evaluated by the engine with core/window.h). */
#ifndef TOCSIN_COND_H
#define TOCSIN_COND_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/event.h"
#include "core/verr.h"

enum cond_type {
    COND_STRING = 0,
    COND_STRING_COMPARE,
    COND_THRESHOLD,
    COND_THRESHOLD_RANGE,
    COND_COMPARE,
    COND_AGGREGATION,
    COND_RATE,
    COND_MISSING_DATA,
    COND_TYPE_COUNT
};

enum str_op { STR_EQUALS = 0, STR_NOT_EQUALS, STR_STARTS_WITH, STR_ENDS_WITH, STR_CONTAINS,
              STR_MATCHES, STR_OP_COUNT };
enum num_op { NUM_LT = 0, NUM_LTE, NUM_GTE, NUM_GT, NUM_OP_COUNT };
enum range_op { RANGE_INCLUSIVE = 0, RANGE_EXCLUSIVE, RANGE_OP_COUNT };
enum agg_fn { AGG_COUNT = 0, AGG_AVG, AGG_MIN, AGG_MAX, AGG_P50, AGG_P90, AGG_P95, AGG_P99,
              AGG_FN_COUNT };

#define COND_MAX_PROJECTIONS 8
#define COND_MAX_SAMPLE_SIZE 1000000
#define COND_MAX_DURATION_MS (31LL * 24 * 3600 * 1000) /* 31 days */

struct condition {
    enum cond_type type;
    char *property;  /* all but COUNT aggregation and MISSING_DATA */
    char *property2; /* STRING_COMPARE, COMPARE */
    char *pattern;   /* STRING */
    enum str_op str_op;
    bool ignore_case;
    void *re;        /* pcre2_code* for MATCHES */
    void *md;        /* its pcre2_match_data, reused (conditions are used by one thread) */
    enum num_op op;  /* THRESHOLD, COMPARE, AGGREGATION, RATE */
    double threshold;
    enum range_op op_low, op_high;
    double low, high;
    double multiplier;
    enum agg_fn fn;
    int64_t duration_ms;            /* window conditions */
    uint64_t sample_size;           /* RATE, default 1 */
    struct condition *comparison;   /* RATE: a single-value condition */
    char *projections[COND_MAX_PROJECTIONS];
    unsigned nprojections;
    uint32_t sym, sym2; /* the engine's interned ids of property / property2 (0: none yet) */
};

/* The outcome of one evaluation, for notification.result.* and the message. */
struct cond_result {
    bool ok;           /* the condition held */
    bool has_value;
    double value;      /* the number compared (property, aggregate, rate) */
    double threshold;  /* what it was compared with */
    const char *text;  /* for string conditions: the property's value (borrowed), or NULL */
};

const char *cond_type_name(enum cond_type t);
bool cond_is_window(enum cond_type t); /* AGGREGATION, RATE, MISSING_DATA */

/* Parses a condition object. `filter` restricts to single-value types (filters and RATE's
 * comparison). Errors name the field relative to the condition ("operator"). */
int cond_parse(const json_t *j, bool filter, struct condition *c, struct verr *err);
/* Frees what a condition owns (not `c` itself). */
void cond_clear(struct condition *c);
/* The normalized JSON (enums upper case), new reference. */
json_t *cond_to_json(const struct condition *c);

/* Evaluates a single-value condition on an event. A missing property makes it false. */
bool cond_eval_event(const struct condition *c, const struct event *ev, struct cond_result *res);
/* The same, given the values of property and property2 already looked up (NULL if absent). */
bool cond_eval_values(const struct condition *c, const struct value *v, const struct value *v2,
                      struct cond_result *res);
/* Compares a number with the condition's operator and threshold. */
bool num_op_holds(enum num_op op, double value, double threshold);
const char *num_op_name(enum num_op op);
const char *str_op_name(enum str_op op);
const char *agg_fn_name(enum agg_fn fn);

/* Parses AE's duration + timeUnit (NANOSECONDS..DAYS, default MILLISECONDS) into ms.
 * `dur_field` / `unit_field` name the JSON keys. */
int parse_duration(const json_t *obj, const char *dur_field, const char *unit_field,
                   int64_t *out_ms, struct verr *err);

#endif
