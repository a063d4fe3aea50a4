/* The engine: triggers indexed by source, per-projection-key state (windows, dampening, timers),
 * the alerts they raise, and the notifications those alerts call for.
 *
 * A pure library: no sockets, no files, no threads, no clock. Every call takes `now` (wall-clock
 * ms from the caller's injectable clock) and appends what must happen to `fx`. One thread owns an
 * engine. */
#ifndef TOCSIN_ENGINE_H
#define TOCSIN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/effects.h"
#include "core/event.h"
#include "core/trigger.h"

struct engine;

struct engine_cfg {
    int64_t resolve_after_ms;    /* default for triggers without resolveAfter */
    size_t max_triggers;
    size_t max_keys_per_trigger; /* projection keys tracked per trigger; more are dropped */
    unsigned notify_max_attempts;
    size_t max_render;           /* bytes of one rendered url/header/body */
};

struct engine_env {
    /* Fills a new unique id (a UUID in text form). */
    void (*new_id)(void *ud, char out[TOCSIN_ID_LEN + 1]);
    void *ud;
};

struct engine_stats {
    uint64_t events;         /* events offered */
    uint64_t evaluations;    /* trigger evaluations */
    uint64_t fired;          /* dampening said fire */
    uint64_t notifications;  /* notifications produced */
    uint64_t keys_dropped;   /* events ignored because a trigger had too many keys */
    uint64_t render_errors;
    size_t triggers, groups, alerts_open;
};

struct engine *engine_new(const struct engine_cfg *cfg, const struct engine_env *env,
                          int64_t now_ms);
void engine_free(struct engine *e);

/* Installs or replaces (same id) a trigger; takes ownership of t in every case. Emits
 * EFF_TRIGGER_PUT. Open alerts of a replaced trigger are kept; disabling resolves them.
 * TOCSIN_ETOOBIG when max_triggers is reached. */
int engine_put_trigger(struct engine *e, struct trigger *t, int64_t now_ms, struct effects *fx);
/* Removes a trigger, resolving its open alerts. TOCSIN_ENOTFOUND if absent. */
int engine_delete_trigger(struct engine *e, const char *id, int64_t now_ms, struct effects *fx);
bool engine_has_trigger(const struct engine *e, const char *id);

/* Evaluates a batch of events (borrowed for the call). */
void engine_ingest(struct engine *e, const struct event *evs, size_t n, int64_t now_ms,
                   struct effects *fx);
/* Fires every timer due at now_ms (window evaluations, MISSING_DATA, auto-resolve). */
void engine_advance(struct engine *e, int64_t now_ms, struct effects *fx);
/* When engine_advance should next be called (INT64_MAX if nothing is scheduled). */
int64_t engine_next_deadline(const struct engine *e);

/* At start-up, after the triggers: re-attaches an open alert from the store (takes ownership).
 * TOCSIN_ENOTFOUND if its trigger is gone (the alert is freed). */
int engine_restore_alert(struct engine *e, struct alert_rec *a);
/* Loads a stored trigger at start-up without emitting EFF_TRIGGER_PUT. */
int engine_load_trigger(struct engine *e, struct trigger *t, int64_t now_ms);

void engine_get_stats(const struct engine *e, struct engine_stats *out);

#endif
