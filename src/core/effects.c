#include "core/effects.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

void effects_init(struct effects *fx)
{
    fx->v = NULL;
    fx->n = fx->cap = 0;
}

void trigger_rec_free(struct trigger_rec *t)
{
    if (!t)
        return;
    free(t->id);
    free(t->json);
    free(t);
}

void object_rec_free(struct object_rec *o)
{
    if (!o)
        return;
    free(o->kind);
    free(o->id);
    free(o->json);
    free(o);
}

struct object_rec *object_rec_new(const char *kind, const char *id, const char *json)
{
    struct object_rec *o = calloc(1, sizeof(*o));

    if (!o)
        return NULL;
    o->kind = strdup(kind);
    o->id = strdup(id);
    o->json = json ? strdup(json) : NULL;
    if (!o->kind || !o->id || (json && !o->json)) {
        object_rec_free(o);
        return NULL;
    }
    return o;
}

static void free_one(enum effect_kind kind, void *rec)
{
    switch (kind) {
    case EFF_ALERT: alert_rec_free(rec); break;
    case EFF_NOTIFY: notify_rec_free(rec); break;
    case EFF_ACHANGE: alert_change_free(rec); break;
    case EFF_OBJECT: object_rec_free(rec); break;
    default: trigger_rec_free(rec); break;
    }
}

int effects_push(struct effects *fx, enum effect_kind kind, void *rec)
{
    if (!rec)
        return TOCSIN_ENOMEM;
    if (fx->n == fx->cap) {
        size_t nc = fx->cap ? fx->cap * 2 : 16;
        struct effect *nv = realloc(fx->v, nc * sizeof(*nv));
        if (!nv) {
            free_one(kind, rec);
            return TOCSIN_ENOMEM;
        }
        fx->v = nv;
        fx->cap = nc;
    }
    fx->v[fx->n].kind = kind;
    fx->v[fx->n].u.alert = rec;
    fx->n++;
    return TOCSIN_OK;
}

void effects_clear(struct effects *fx)
{
    for (size_t i = 0; i < fx->n; i++)
        free_one(fx->v[i].kind, fx->v[i].u.alert);
    fx->n = 0;
}

void effects_free(struct effects *fx)
{
    effects_clear(fx);
    free(fx->v);
    effects_init(fx);
}
