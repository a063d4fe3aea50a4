#include "store/store.h"

#include <stdio.h>

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

int store_alert_span(struct store *s, struct store_span *out)
{
    return s->ops->alert_span(s, out);
}

int store_alert_load(struct store *s, uint64_t lo, uint64_t hi, store_xalert_cb cb, void *ud)
{
    return s->ops->alert_load(s, lo, hi, cb, ud);
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
