/* What the engine asks the outside world to do: persist alert changes and trigger changes,
 * deliver notifications. The engine appends; the daemon hands the list to the store writer. */
#ifndef TOCSIN_EFFECTS_H
#define TOCSIN_EFFECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"

/* EFF_ALERT is a trigger's alert (struct alert_rec), which the daemon turns into an alert of
 * core/alertdb.h; EFF_ACHANGE is a change of such an alert for the store. */
enum effect_kind {
    EFF_ALERT = 0, EFF_NOTIFY, EFF_TRIGGER_PUT, EFF_TRIGGER_DEL, EFF_ACHANGE, EFF_OBJECT
};

struct alert_change;                          /* core/alertdb.h */
void alert_change_free(struct alert_change *c); /* core/alertdb.c */

struct trigger_rec {
    char *id;
    char *json; /* NULL for a delete */
    bool enabled;
    int64_t created_ms, updated_ms;
};

/* A small stored object (API key, heartbeat, blackout): its JSON under (kind, id); json NULL
 * deletes it. */
struct object_rec {
    char *kind;
    char *id;
    char *json;
};
void object_rec_free(struct object_rec *o);
struct object_rec *object_rec_new(const char *kind, const char *id, const char *json);

struct effect {
    enum effect_kind kind;
    union {
        struct alert_rec *alert;
        struct notify_rec *notify;
        struct trigger_rec *trig;
        struct alert_change *achange;
        struct object_rec *object;
    } u;
};

struct effects {
    struct effect *v;
    size_t n, cap;
};

void effects_init(struct effects *fx);
/* Takes ownership of rec (freed with the list, or at once if the push fails). */
int effects_push(struct effects *fx, enum effect_kind kind, void *rec);
/* Frees every record and empties the list (keeps the array). */
void effects_clear(struct effects *fx);
void effects_free(struct effects *fx);
void trigger_rec_free(struct trigger_rec *t);

#endif
