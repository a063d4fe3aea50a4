/* Triggers, Gravitee AE's JSON model plus tocsin's extensions:
 *   "conditionsOperator": "AND" (default) | "OR"
 *   "resolveAfter": {"duration": N, "timeUnit": U}  (false evaluations for this long resolve the
 *                    alert; default from engine.resolve_after)
 *   "notifyOnResolve": true                          (notify again when the alert resolves)
 * Enum values are accepted in any case and stored upper case. */
#ifndef TOCSIN_TRIGGER_H
#define TOCSIN_TRIGGER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/cond.h"
#include "core/damp.h"
#include "core/model.h"
#include "core/period.h"
#include "core/verr.h"

struct tmpl;

#define TRIGGER_MAX_CONDITIONS 32
#define TRIGGER_MAX_NOTIFICATIONS 32
#define TRIGGER_MAX_PERIODS 32
#define TRIGGER_MAX_HEADERS 32
#define TRIGGER_MAX_PROJECTIONS 8

enum notifier_kind { NOTIFIER_WEBHOOK = 0, NOTIFIER_SLACK, NOTIFIER_UNSUPPORTED };

struct notif_header {
    char *name;
    struct tmpl *value;
};

/* One entry of "notifications": {type, periods, configuration}. */
struct notif {
    char *type;                 /* "webhook-notifier", "slack-notifier", ... */
    enum notifier_kind kind;
    struct period *periods;
    size_t nperiods;
    char *method;               /* upper case */
    struct tmpl *url;
    struct notif_header *headers;
    size_t nheaders;
    struct tmpl *body;          /* webhook body, or the slack message */
    char *channel;              /* slack */
    bool use_proxy;
    bool tls_verify;
};

struct trigger {
    char *id, *name, *source, *description;
    bool enabled;
    enum severity severity;
    struct condition *conds;
    size_t nconds;
    bool cond_or;
    struct condition *filters;
    size_t nfilters;
    struct dampening damp;
    struct notif *notifs;
    size_t nnotifs;
    struct period *periods;     /* notificationPeriods */
    size_t nperiods;
    int64_t resolve_after_ms;   /* -1: the engine's default */
    bool notify_on_resolve;
    int64_t created_ms, updated_ms;
    /* Derived */
    char *projections[TRIGGER_MAX_PROJECTIONS]; /* ordered union of the conditions' */
    unsigned nprojections;
    bool windowed;              /* has AGGREGATION / RATE / MISSING_DATA conditions */
    bool missing_only;          /* every condition is MISSING_DATA */
    int64_t tick_ms;            /* windowed: evaluation period (shortest window) */
    json_t *json;               /* the stored form: the input, enums upper-cased, timestamps */
    json_t *conds_json;         /* "conditions" as stored, for alert.conditions in templates */
};

struct trigger_env {
    tz_lookup_fn tz_lookup;
    void *tz_ud;
};

/* Parses and validates; on success *out is a new trigger (free with trigger_free). created_at /
 * updated_at default to now_ms. On failure returns TOCSIN_EINVAL with the field named. */
int trigger_parse(const json_t *j, const struct trigger_env *env, int64_t now_ms,
                  struct trigger **out, struct verr *err);
void trigger_free(struct trigger *t);
/* Sets created_ms (keeping it across replacements) and updates the stored JSON. */
void trigger_set_times(struct trigger *t, int64_t created_ms, int64_t updated_ms);

/* The default tz lookup (tz_get) for trigger_env. */
const struct tz *trigger_tz_lookup(void *ud, const char *name);

#endif
