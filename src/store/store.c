#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alertdb.h"
#include "util/err.h"

int store_open(const char *data_dir, enum durability d, bool readonly, struct store **out,
               char *err, size_t errlen)
{
    return store_open_ops(&store_sqlite_ops, data_dir, d, readonly, out, err, errlen);
}

int store_open_ops(const struct store_ops *ops, const char *data_dir, enum durability d,
                   bool readonly, struct store **out, char *err, size_t errlen)
{
    if (!out)
        return TOCSIN_EINVAL;
    *out = NULL;
    if (!ops || !ops->open) {
        if (err && errlen)
            snprintf(err, errlen, "no store backend");
        return TOCSIN_EINVAL;
    }
    return ops->open(data_dir, d, readonly, out, err, errlen);
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

const char *store_backend_name(const struct store *s)
{
    return s ? s->ops->name : "none";
}

int store_begin(struct store *s)
{
    return s->ops->begin(s);
}

int store_commit(struct store *s)
{
    return s->ops->commit(s);
}

int store_rollback(struct store *s)
{
    return s->ops->rollback(s);
}

int store_trigger_put(struct store *s, const char *id, const char *json, bool enabled,
                      int64_t created_ms, int64_t updated_ms)
{
    return s->ops->trigger_put(s, id, json, enabled, created_ms, updated_ms);
}

int store_trigger_delete(struct store *s, const char *id)
{
    return s->ops->trigger_delete(s, id);
}

int store_alert_upsert(struct store *s, const struct alert_rec *a)
{
    return s->ops->alert_upsert(s, a);
}

int store_outbox_insert(struct store *s, struct notify_rec *n)
{
    return s->ops->outbox_insert(s, n);
}

int store_outbox_update(struct store *s, const struct notify_rec *n)
{
    return s->ops->outbox_update(s, n);
}

int store_attempt_insert(struct store *s, const struct notify_attempt_rec *a)
{
    return s->ops->attempt_insert(s, a);
}

int store_outbox_purge(struct store *s, int64_t before_ms, int64_t max_rows, int64_t *deleted)
{
    return s->ops->outbox_purge(s, before_ms, max_rows, deleted);
}

int store_outbox_get(struct store *s, const char *id, struct notify_rec **out)
{
    return s->ops->outbox_get(s, id, out);
}

int store_notify_get_json(struct store *s, const char *id, json_t **out)
{
    return s->ops->notify_get_json(s, id, out);
}

int store_trigger_load_all(struct store *s, store_trigger_cb cb, void *ud)
{
    return s->ops->trigger_load_all(s, cb, ud);
}

int store_alert_load_open(struct store *s, store_alert_cb cb, void *ud)
{
    return s->ops->alert_load_open(s, cb, ud);
}

int store_outbox_load_pending(struct store *s, store_notify_cb cb, void *ud)
{
    return s->ops->outbox_load_pending(s, cb, ud);
}

int store_trigger_list_json(struct store *s, const struct store_page *p, json_t **out)
{
    return s->ops->trigger_list_json(s, p, out);
}

int store_trigger_get_json(struct store *s, const char *id, json_t **out)
{
    return s->ops->trigger_get_json(s, id, out);
}

int store_achange_apply(struct store *s, const struct alert_change *c)
{
    return s->ops->achange_apply(s, c);
}

int store_alert_count(struct store *s, uint64_t *n)
{
    return s->ops->alert_count(s, n);
}

int store_alert_load(struct store *s, bool desc, store_xalert_cb cb, void *ud)
{
    return s->ops->alert_load(s, desc, cb, ud);
}

/* ---- the load from both ends ---- */

/* Where the two scans are: `up` is the highest rid the ascending one took (0: none), `down` the
 * lowest the descending one took (UINT64_MAX: none). A rid is taken, under the mutex, only if it
 * lies strictly between them, so each row goes to one side; a side stops at its first refusal,
 * the other having taken everything beyond it. */
struct meet {
    pthread_mutex_t mu;
    uint64_t up, down;
};

/* What a refused row returns to end a scan; the side's `stopped` tells it from cb's errors. */
#define MEET_STOP TOCSIN_EEXIST

struct meet_up {
    struct meet *m;
    store_xalert_cb cb;
    void *ud;
    bool stopped;
};

struct meet_down {
    struct meet *m;
    struct store *st;
    struct alert **v; /* highest rid first */
    size_t n, cap;
    int rc;
    bool stopped;
};

static bool take(struct meet *m, uint64_t rid, bool up)
{
    bool ok;

    pthread_mutex_lock(&m->mu);
    ok = rid > m->up && rid < m->down;
    if (ok && up)
        m->up = rid;
    else if (ok)
        m->down = rid;
    pthread_mutex_unlock(&m->mu);
    return ok;
}

/* Whether a's row is this side's; if not, a is freed and the side stopped. */
static bool claimed(struct meet *m, struct alert *a, bool up, bool *stopped)
{
    if (take(m, a->rid, up))
        return true;
    alert_free(a);
    *stopped = true;
    return false;
}

static int take_up(void *ud, struct alert *a)
{
    struct meet_up *u = ud;

    return claimed(u->m, a, true, &u->stopped) ? u->cb(u->ud, a) : MEET_STOP;
}

static int take_down(void *ud, struct alert *a)
{
    struct meet_down *d = ud;

    if (!claimed(d->m, a, false, &d->stopped))
        return MEET_STOP;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4096;
        struct alert **v = realloc(d->v, cap * sizeof(*v));
        if (!v) {
            alert_free(a);
            return TOCSIN_ENOMEM;
        }
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = a;
    return TOCSIN_OK;
}

static void *down_main(void *arg)
{
    struct meet_down *d = arg;

    d->rc = store_alert_load(d->st, true, take_down, d);
    store_close(d->st); /* its page cache with it */
    return NULL;
}

int store_alert_load_meet(struct store *up, struct store *down, store_xalert_cb cb, void *ud,
                          uint64_t *helper_rows)
{
    struct meet m = {.up = 0, .down = UINT64_MAX};
    struct meet_up u = {.m = &m, .cb = cb, .ud = ud};
    struct meet_down d = {.m = &m, .st = down};
    pthread_t thr;
    int rc;

    if (helper_rows)
        *helper_rows = 0;
    pthread_mutex_init(&m.mu, NULL);
    if (pthread_create(&thr, NULL, down_main, &d)) {
        store_close(down);
        pthread_mutex_destroy(&m.mu);
        return store_alert_load(up, false, cb, ud);
    }
    pthread_setname_np(thr, "tocsin-load");
    rc = store_alert_load(up, false, take_up, &u);
    pthread_join(thr, NULL);
    pthread_mutex_destroy(&m.mu);
    if (u.stopped)
        rc = TOCSIN_OK;
    if (!rc && !d.stopped)
        rc = d.rc;
    if (helper_rows)
        *helper_rows = d.n;
    while (d.n > 0) { /* the helper's rows, lowest rid first */
        struct alert *a = d.v[--d.n];
        if (rc)
            alert_free(a);
        else
            rc = cb(ud, a);
    }
    free(d.v);
    return rc;
}

void store_set_sevmap(struct store *s, const struct sevmap *m)
{
    s->ops->set_sevmap(s, m);
}

void *store_native(struct store *s)
{
    return s->ops->native(s);
}

int store_notify_query_json(struct store *s, const struct notify_query *q, json_t **out)
{
    return s->ops->notify_query_json(s, q, out);
}

int store_manual_checkpoints(struct store *writer)
{
    return writer->ops->manual_checkpoints(writer);
}

int store_checkpoint(struct store *s)
{
    return s->ops->checkpoint(s);
}

int64_t store_wal_bytes(struct store *writer)
{
    return writer->ops->wal_bytes(writer);
}

int store_writer_checkpoint(struct store *writer, int64_t min_bytes, bool *ran)
{
    *ran = false;
    return writer->ops->writer_checkpoint(writer, min_bytes, ran);
}

int store_object_put(struct store *s, const char *kind, const char *id, const char *json)
{
    return s->ops->object_put(s, kind, id, json);
}

int store_object_load(struct store *s, const char *kind, store_trigger_cb cb, void *ud)
{
    return s->ops->object_load(s, kind, cb, ud);
}
