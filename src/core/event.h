/* Events as Gravitee AE defines them: {id, timestamp (ms), type, context{}, properties{}}.
 * Nested property objects are flattened to dotted keys ({"response":{"status":500}} is the
 * property "response.status"), and context entries are copied into the properties when absent,
 * as AE's connector does, so conditions only ever look at properties. */
#ifndef TOCSIN_EVENT_H
#define TOCSIN_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/verr.h"
#include "util/arena.h"

enum val_type { VAL_NULL = 0, VAL_STR, VAL_NUM, VAL_BOOL };

/* A property value. `str` is always set (numbers and booleans carry their text form, so string
 * conditions and projections see "500" / "true"); `num` is set for VAL_NUM (and 0/1 for bools). */
struct value {
    enum val_type type;
    uint32_t slen;
    const char *str;
    double num;
};

struct prop {
    const char *key;
    struct value v;
};

struct event {
    const char *id;   /* may be NULL */
    const char *type; /* never NULL */
    int64_t ts_ms;    /* 0 if absent */
    struct prop *props;
    uint32_t nprops;
};

#define EVENT_MAX_PROPS 256
#define EVENT_MAX_DEPTH 8

/* Parses one event object into arena-allocated memory. On error returns TOCSIN_EINVAL with the
 * field named in err (or TOCSIN_ENOMEM). */
int event_from_json(const json_t *j, struct arena *a, struct event *out, struct verr *err);
/* Linear look-up by key; NULL if absent. */
const struct value *event_get(const struct event *ev, const char *key);
/* The properties as a JSON object (new reference), for alerts and templates. */
json_t *event_props_json(const struct event *ev);

/* Converts a value to a number: VAL_NUM as is, VAL_STR if it parses fully, bools as 0/1. */
bool value_as_number(const struct value *v, double *out);

/* value_as_number with the common case inline. */
static inline bool value_number(const struct value *v, double *out)
{
    if (v && v->type == VAL_NUM) {
        *out = v->num;
        return true;
    }
    return value_as_number(v, out);
}

#endif
