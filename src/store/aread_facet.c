/* GET /alerts/top10/{count,flapping,standing}, /environments, /services, /alerts/groups and
 * /alerts/tags: Alerta's shapes (postgres/base.py get_topn_*, get_environments, get_services,
 * get_alert_groups, get_alert_tags) over the filtered alerts.
 *
 * top10 groups the alerts by group-by (default event) and keeps ten groups:
 *   count     by the number of alerts;
 *   flapping  alerts with more than FLAP_COUNT severity changes in the last FLAP_WINDOW_MS (the
 *             engine's definition), by the number of those changes;
 *   standing  by the summed lifetime (lastReceiveTime - createTime) of the alerts.
 * Alerta joins every alert with each of its services (UNNEST), so an alert without a service is
 * left out and one with two services counts twice; tocsin counts each alert once. The lists of a
 * group (environments, services, resources) are cut at TOP_LIST_MAX entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/facets.h"
#include "store/aread_int.h"
#include "util/err.h"

#define TOP_N 10
#define TOP_LIST_MAX 100
#define FLAP_WINDOW_MS (1800 * 1000LL)
#define FLAP_COUNT 2
#define FACET_ROWS_MAX 100000 /* rows of counts read for /environments and /services */
#define FACET_MAX 1000        /* entries of a facet (Alerta's topn) */

struct tgroup {
    json_t *key; /* the group-by value (null for a NULL column) */
    int64_t count, dup;
    json_t *envs, *svcs, *res;
};

/* ---- top10
 * ---------------------------------------------------------------------------------------- */

enum top_kind { TOP_COUNT, TOP_FLAPPING, TOP_STANDING };

/* The join that keeps flapping alerts only, with the start of the window bound. */
static void flap_join(struct aq *q, struct buf *sql, const struct aread_opts *o)
{
    aq_cat(q, sql,
           " JOIN (SELECT rid, COUNT(*) AS n FROM alert_history WHERE type = 'severity'"
           " AND update_time > ");
    aq_int(q, sql, o->now_ms - FLAP_WINDOW_MS);
    aq_catf(q, sql, " GROUP BY rid HAVING COUNT(*) > %d) AS f ON f.rid = alert.rid", FLAP_COUNT);
}

static void top_sql(struct aq *q, struct buf *sql, enum top_kind k, const char *g,
                    const struct aread_opts *o)
{
    aq_catf(q, sql, "SELECT %s, %s, SUM(alert.duplicate_count)", g,
            k == TOP_FLAPPING ? "SUM(f.n)" : "COUNT(*)");
    if (k == TOP_STANDING)
        aq_cat(q, sql, ", SUM(alert.last_receive_time - alert.create_time)");
    aq_cat(q, sql, " FROM alert");
    if (k == TOP_FLAPPING)
        flap_join(q, sql, o);
    aq_catf(q, sql, " WHERE %s GROUP BY 1 ORDER BY %d DESC, 1 LIMIT %d", buf_str(&q->where),
            k == TOP_STANDING ? 4 : 2, TOP_N);
}

static void groups_free(struct tgroup *gs, int n)
{
    for (int i = 0; i < n; i++) {
        json_decref(gs[i].key);
        json_decref(gs[i].envs);
        json_decref(gs[i].svcs);
        json_decref(gs[i].res);
    }
}

/* Pass 1: the ten groups and their counts. */
static int top_groups(struct rd *r, struct areq *q, enum top_kind k, const char *g,
                      struct tgroup *gs, int *n)
{
    struct buf sql;
    sqlite3_stmt *st = NULL;
    bool row = true;
    int rc;

    *n = 0;
    buf_init(&sql, 2 * AQ_SQL_MAX);
    top_sql(&q->q, &sql, k, g, r->o);
    rc = aq_check(&q->q, "query", r->err);
    if (!rc && !(rc = rd_prepare(r, buf_str(&sql), &st)))
        rc = aq_bind_all(&q->q, st);
    while (!rc && *n < TOP_N && !(rc = rd_step(r, st, &row, q->q.regex_from)) && row) {
        struct tgroup *x = &gs[(*n)++];
        x->key = aj_col_str(st, 0);
        x->count = sqlite3_column_int64(st, 1);
        x->dup = sqlite3_column_int64(st, 2);
        x->envs = json_array();
        x->svcs = json_array();
        x->res = json_array();
        if (!x->key || !x->envs || !x->svcs || !x->res)
            rc = TOCSIN_ENOMEM;
    }
    sqlite3_finalize(st);
    buf_free(&sql);
    return rc;
}

static bool has_str(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v) {
        if (!strcmp(json_string_value(v), s))
            return true;
    }
    return false;
}

static int add_distinct(json_t *arr, const char *s, size_t n)
{
    if (json_array_size(arr) >= TOP_LIST_MAX || has_str(arr, s))
        return TOCSIN_OK;
    return json_array_append_new(arr, aj_strn(s, n)) ? TOCSIN_ENOMEM : TOCSIN_OK;
}

static struct tgroup *group_of(struct tgroup *gs, int n, sqlite3_stmt *st)
{
    const char *k = (const char *)sqlite3_column_text(st, 0);

    for (int i = 0; i < n; i++) {
        if (!k ? json_is_null(gs[i].key)
               : json_is_string(gs[i].key) && !strcmp(json_string_value(gs[i].key), k))
            return &gs[i];
    }
    return NULL;
}

/* One alert of a group: its environment, services and resource (the resource alone with
 * res_only). */
static int add_member(const struct aread_opts *o, struct tgroup *x, sqlite3_stmt *st, bool res_only)
{
    const char *env = (const char *)sqlite3_column_text(st, 1), *id;
    json_t *svcs, *v, *res, *href;
    size_t i;
    int rc = env && !res_only ? add_distinct(x->envs, env, (size_t)sqlite3_column_bytes(st, 1))
                              : TOCSIN_OK;

    if (!rc && !res_only && json_array_size(x->svcs) < TOP_LIST_MAX) {
        svcs = aj_col_json(st, 2, false);
        json_array_foreach(svcs, i, v) {
            if (!rc && json_is_string(v))
                rc = add_distinct(x->svcs, json_string_value(v), json_string_length(v));
        }
        json_decref(svcs);
    }
    if (rc || json_array_size(x->res) >= TOP_LIST_MAX)
        return rc;
    id = (const char *)sqlite3_column_text(st, 3);
    res = json_pack("{s:o,s:o}", "id", aj_col_str(st, 3), "resource", aj_col_str(st, 4));
    if (res && (href = aj_href(o, "/alert/%s", id ? id : "")))
        json_object_set_new(res, "href", href);
    return !res || json_array_append_new(x->res, res) ? TOCSIN_ENOMEM : TOCSIN_OK;
}

/* Whether every group has all the resources it will list (min(count, TOP_LIST_MAX)). */
static bool resources_done(const struct tgroup *gs, int n)
{
    for (int i = 0; i < n; i++)
        if ((int64_t)json_array_size(gs[i].res) <
            (gs[i].count < TOP_LIST_MAX ? gs[i].count : TOP_LIST_MAX))
            return false;
    return true;
}

/* Pass 2: the alerts of the ten groups, for their lists; with `res_only` (the environments and
 * services known already) their resources alone, and it stops once every group has them. */
static int top_members(struct rd *r, struct areq *q, enum top_kind k, const char *g,
                       struct tgroup *gs, int n, bool res_only)
{
    struct buf sql;
    sqlite3_stmt *st = NULL;
    struct tgroup *x;
    bool row = true, any_null = false;
    int rc;

    buf_init(&sql, 2 * AQ_SQL_MAX);
    aq_catf(&q->q, &sql,
            "SELECT %s, alert.environment, alert.service, alert.id, alert.resource FROM alert", g);
    if (k == TOP_FLAPPING)
        flap_join(&q->q, &sql, r->o);
    aq_catf(&q->q, &sql, " WHERE %s AND (%s IN (", buf_str(&q->q.where), g);
    for (int i = 0; i < n; i++) {
        any_null |= json_is_null(gs[i].key);
        aq_cat(&q->q, &sql, i ? ", " : "");
        aq_text(&q->q, &sql, json_is_string(gs[i].key) ? json_string_value(gs[i].key) : "");
    }
    aq_cat(&q->q, &sql, ")");
    if (any_null)
        aq_catf(&q->q, &sql, " OR %s IS NULL", g);
    aq_cat(&q->q, &sql, ")");
    rc = aq_check(&q->q, "query", r->err);
    if (!rc && !(rc = rd_prepare(r, buf_str(&sql), &st)))
        rc = aq_bind_all(&q->q, st);
    while (!rc && !(res_only && resources_done(gs, n)) &&
           !(rc = rd_step(r, st, &row, q->q.regex_from)) && row)
        if ((x = group_of(gs, n, st)))
            rc = add_member(r->o, x, st, res_only);
    sqlite3_finalize(st);
    buf_free(&sql);
    for (int i = 0; !rc && !res_only && i < n; i++) /* as Alerta's array_agg(DISTINCT ...) */
        if (aj_sort_strings(gs[i].envs) || aj_sort_strings(gs[i].svcs))
            rc = TOCSIN_ENOMEM;
    return rc;
}

static json_t *top_entry(const struct tgroup *x, const char *gname)
{
    return json_pack("{s:I,s:I,s:O,s:O,s:O,s:O}", "count", (json_int_t)x->count, "duplicateCount",
                     (json_int_t)x->dup, "environments", x->envs, "services", x->svcs, gname,
                     x->key, "resources", x->res);
}

static int kind_of(const char *kind, enum top_kind *k)
{
    static const char *const names[] = {"count", "flapping", "standing"};

    for (int i = 0; i < 3; i++) {
        if (kind && !strcmp(kind, names[i])) {
            *k = (enum top_kind)i;
            return TOCSIN_OK;
        }
    }
    return TOCSIN_ENOTFOUND;
}

/* Alerta's order (top_sql): count descending, then the key. */
static int top_cmp(const void *x, const void *y)
{
    const struct facet_row *a = *(const struct facet_row *const *)x;
    const struct facet_row *b = *(const struct facet_row *const *)y;

    if (a->count != b->count)
        return a->count < b->count ? 1 : -1;
    return strcmp(a->env, b->env);
}

/* The count-ordered top of the event counts: gs[0..*n) with their counts and duplicate sums. */
static int kept_groups(const struct facet_rows *ev, struct tgroup *gs, int *n)
{
    const struct facet_row **top = calloc(ev->n ? ev->n : 1, sizeof(*top));

    if (!top)
        return TOCSIN_ENOMEM;
    for (size_t i = 0; i < ev->n; i++)
        top[i] = &ev->r[i];
    qsort(top, ev->n, sizeof(*top), top_cmp);
    for (*n = 0; *n < TOP_N && (size_t)*n < ev->n; (*n)++) {
        struct tgroup *x = &gs[*n];
        x->key = aj_strn(top[*n]->env, strlen(top[*n]->env));
        x->count = (int64_t)top[*n]->count;
        x->dup = (int64_t)top[*n]->dups;
        x->envs = json_array();
        x->svcs = json_array();
        x->res = json_array();
        if (!x->key || !x->envs || !x->svcs || !x->res) {
            (*n)++;
            free(top);
            return TOCSIN_ENOMEM;
        }
    }
    free(top);
    return TOCSIN_OK;
}

/* Each top group's environments or services from the (event, value) counts, in byte order. */
static int kept_lists(struct facets *f, enum facet_kind k, uint32_t mask, struct tgroup *gs, int n)
{
    struct facet_rows rows;
    int rc = facets_read(f, k, mask, false, &rows);

    for (size_t i = 0; !rc && i < rows.n; i++) {
        const struct facet_row *row = &rows.r[i];
        for (int j = 0; !rc && j < n; j++) {
            json_t *l = k == FK_EVENT_ENVIRONMENT ? gs[j].envs : gs[j].svcs;
            if (strcmp(json_string_value(gs[j].key), row->env) ||
                json_array_size(l) >= TOP_LIST_MAX)
                continue;
            if (json_array_append_new(l, aj_strn(row->value, strlen(row->value))))
                rc = TOCSIN_ENOMEM;
        }
    }
    facet_rows_free(&rows);
    return rc;
}

/* top10/count by event, filtered by exact statuses alone (or nothing) and without a customer
 * restriction: the groups, their counts, duplicate sums, environments and services from the
 * engine's counts (core/facets.h), and only the resources from the rows, read until each group
 * has its hundred (or all it has). At a million alerts counting rows ran past the read budget.
 * TOCSIN_EAGAIN: count rows instead. */
static int kept_top(struct rd *r, struct areq *q, enum top_kind k, const struct qfield *g,
                    struct tgroup *gs, int *n)
{
    struct facets *f = r->o->facets;
    struct facet_rows ev;
    int rc;

    *n = 0;
    if (!f || k != TOP_COUNT || strcmp(g->name, "event") || !q->counts_simple)
        return TOCSIN_EAGAIN; /* counts_simple: no customer restriction either (index_use) */
    rc = facets_read(f, FK_EVENT, q->status_mask, false, &ev);
    if (!rc)
        rc = kept_groups(&ev, gs, n);
    facet_rows_free(&ev);
    if (!rc)
        rc = kept_lists(f, FK_EVENT_ENVIRONMENT, q->status_mask, gs, *n);
    if (!rc)
        rc = kept_lists(f, FK_EVENT_SERVICE, q->status_mask, gs, *n);
    if (rc == TOCSIN_EAGAIN) { /* a kind past its bound: all from the rows */
        groups_free(gs, *n);
        memset(gs, 0, sizeof(*gs) * TOP_N);
        *n = 0;
    } else if (!rc && *n) {
        rc = top_members(r, q, k, g->expr, gs, *n, true);
    }
    return rc;
}

int aread_top10_run(struct rd *r, struct areq *q, const char *kind, json_t **out)
{
    const struct qfield *g = q->group ? q->group : qfield_find("event", 5);
    struct tgroup gs[TOP_N];
    json_t *arr = json_array(), *e;
    enum top_kind k;
    int n = 0, rc;

    memset(gs, 0, sizeof(gs));
    if (kind_of(kind, &k)) {
        json_decref(arr);
        r->err->status = 404;
        verr_set(r->err, "", "not found");
        return TOCSIN_ENOTFOUND;
    }
    rc = arr ? kept_top(r, q, k, g, gs, &n) : TOCSIN_ENOMEM;
    if (rc == TOCSIN_EAGAIN && !(rc = top_groups(r, q, k, g->expr, gs, &n)) && n)
        rc = top_members(r, q, k, g->expr, gs, n, false);
    for (int i = 0; !rc && i < n; i++)
        if (!(e = top_entry(&gs[i], g->name)) || json_array_append_new(arr, e))
            rc = TOCSIN_ENOMEM;
    if (!rc && !(*out = json_pack("{s:s}", "status", "ok")))
        rc = TOCSIN_ENOMEM;
    if (!rc) {
        if (!n)
            json_object_set_new(*out, "message", json_string("not found"));
        json_object_set(*out, "top10", arr);
        json_object_set_new(*out, "total", json_integer(n));
        json_object_set_new(*out, "autoRefresh", json_true());
    }
    groups_free(gs, n);
    json_decref(arr);
    return rc;
}

/* ---- environments and services
 * -------------------------------------------------------------------- */

/* The per-key accumulator: {"count":n,"severityCounts":{},"statusCounts":{}}. */
static int acc_add(json_t *acc, const char *key, const char *status, const char *sev, json_int_t n)
{
    json_t *e = json_object_get(acc, key);

    if (!e) {
        e = json_pack("{s:I,s:{},s:{}}", "count", (json_int_t)0, "severityCounts", "statusCounts");
        if (!e || json_object_set_new(acc, key, e))
            return TOCSIN_ENOMEM;
    }
    if (aj_add(e, "count", n) || aj_add(json_object_get(e, "severityCounts"), sev, n) ||
        aj_add(json_object_get(e, "statusCounts"), status, n))
        return TOCSIN_ENOMEM;
    return TOCSIN_OK;
}

/* "env" or "env\x1fservice": one key per facet entry. */
static void facet_key(char *k, size_t klen, sqlite3_stmt *st, bool svc)
{
    const char *env = (const char *)sqlite3_column_text(st, 0);
    const char *s = svc ? (const char *)sqlite3_column_text(st, 1) : NULL;

    snprintf(k, klen, "%s%s%s", env ? env : "", svc ? "\x1f" : "", s ? s : "");
}

static int run_sql(struct rd *r, struct aq *q, const char *sql, sqlite3_stmt **st)
{
    int rc = aq_check(q, "query", r->err);

    if (!rc && !(rc = rd_prepare(r, sql, st)))
        rc = aq_bind_all(q, *st);
    return rc;
}

/* Counts by (environment[, service], status, severity) of the filtered alerts. */
static int facet_counts(struct rd *r, struct areq *q, bool svc, json_t *acc)
{
    struct buf sql;
    sqlite3_stmt *st = NULL;
    bool row = true;
    char key[2 * ALERT_MAX_NAME + 2];
    int rc, c = svc ? 1 : 0, rows = 0;

    buf_init(&sql, 2 * AQ_SQL_MAX);
    aq_catf(&q->q, &sql,
            svc ? "SELECT alert.environment, sv.value, alert.status, alert.severity, COUNT(*)"
                  " FROM alert, json_each(alert.service) AS sv WHERE %s GROUP BY 1, 2, 3, 4"
                  " LIMIT %d"
                : "SELECT alert.environment, alert.status, alert.severity, COUNT(*) FROM alert"
                  " WHERE %s GROUP BY 1, 2, 3 LIMIT %d",
            buf_str(&q->q.where), FACET_ROWS_MAX);
    rc = run_sql(r, &q->q, buf_str(&sql), &st);
    while (!rc && !(rc = rd_step(r, st, &row, q->q.regex_from)) && row && ++rows) {
        const char *stv = (const char *)sqlite3_column_text(st, c + 1);
        const char *sev = (const char *)sqlite3_column_text(st, c + 2);
        facet_key(key, sizeof(key), st, svc);
        rc = acc_add(acc, key, stv ? stv : "", sev ? sev : "", sqlite3_column_int64(st, c + 3));
    }
    sqlite3_finalize(st);
    buf_free(&sql);
    return rc;
}

/* One entry: environment (and service) with the counts acc holds for it (zero if none). */
static json_t *facet_entry_of(json_t *env, json_t *svc, json_t *c)
{
    json_t *e = json_pack("{s:o}", "environment", env), *sev, *sts;

    sev = aj_sorted(c ? json_object_get(c, "severityCounts") : NULL);
    sts = aj_sorted(c ? json_object_get(c, "statusCounts") : NULL);
    if (e && svc)
        json_object_set_new(e, "service", svc);
    else
        json_decref(svc);
    if (!e || !sev || !sts ||
        json_object_set_new(
            e, "count", json_integer(c ? json_integer_value(json_object_get(c, "count")) : 0))) {
        json_decref(e);
        json_decref(sev);
        json_decref(sts);
        return NULL;
    }
    json_object_set_new(e, "severityCounts", sev);
    json_object_set_new(e, "statusCounts", sts);
    return e;
}

static json_t *facet_entry(sqlite3_stmt *st, bool svc, json_t *acc)
{
    char key[2 * ALERT_MAX_NAME + 2];

    facet_key(key, sizeof(key), st, svc);
    return facet_entry_of(aj_col_str(st, 0), svc ? aj_col_str(st, 1) : NULL,
                          json_object_get(acc, key));
}

static int cmp_key(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The entries from the counts' own keys, in (environment, service) order as the second pass
 * gives them: what that pass would find when the counts had no filter but the customers'. */
static int entries_of_counts(json_t *acc, bool svc, json_t *arr)
{
    size_t n = json_object_size(acc), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys)), *k;
    json_t *v;
    int rc = keys ? TOCSIN_OK : TOCSIN_ENOMEM;

    json_object_foreach(acc, k, v)
    {
        if (keys)
            keys[i++] = k;
    }
    if (keys)
        qsort(keys, n, sizeof(*keys), cmp_key);
    for (i = 0; !rc && i < n && i < FACET_MAX; i++) {
        const char *sep = svc ? strchr(keys[i], '\x1f') : NULL;
        json_t *env = sep ? json_stringn(keys[i], (size_t)(sep - keys[i])) : json_string(keys[i]);
        json_t *e =
            facet_entry_of(env, sep ? json_string(sep + 1) : NULL, json_object_get(acc, keys[i]));
        if (!e || json_array_append_new(arr, e))
            rc = TOCSIN_ENOMEM;
    }
    free(keys);
    return rc;
}

/* Alerta lists every environment (and service) there is, with the counts of the filtered
 * alerts (zero for the others), so a console can show empty tabs. "Every" stays within the
 * customer restriction. Without a filter of its own the counts already name every entry, and
 * the second pass over every row is skipped (Alerta's console asks /services so, and at a
 * million alerts the two passes took twice the read side's budget). */
static int env_or_service(struct rd *r, struct areq *q, bool svc, json_t *arr)
{
    json_t *acc = json_object(), *e;
    struct aq all;
    struct buf sql;
    sqlite3_stmt *st = NULL;
    bool row = true;
    int rc = acc ? facet_counts(r, q, svc, acc) : TOCSIN_ENOMEM;

    aq_init(&all);
    aq_customers(&all, r->o);
    buf_init(&sql, 2 * AQ_SQL_MAX);
    if (!rc && !strcmp(buf_str(&all.where), buf_str(&q->q.where))) {
        rc = entries_of_counts(acc, svc, arr);
    } else {
        aq_catf(&all, &sql,
                svc ? "SELECT DISTINCT alert.environment, sv.value FROM alert,"
                      " json_each(alert.service) AS sv WHERE %s ORDER BY 1, 2 LIMIT %d"
                    : "SELECT DISTINCT alert.environment FROM alert WHERE %s ORDER BY 1 LIMIT %d",
                buf_str(&all.where), FACET_MAX);
        if (!rc)
            rc = run_sql(r, &all, buf_str(&sql), &st);
        while (!rc && !(rc = rd_step(r, st, &row, NULL)) && row)
            if (!(e = facet_entry(st, svc, acc)) || json_array_append_new(arr, e))
                rc = TOCSIN_ENOMEM;
    }
    sqlite3_finalize(st);
    buf_free(&sql);
    aq_free(&all);
    json_decref(acc);
    return rc;
}

/* ---- groups and tags
 * ------------------------------------------------------------------------------ */

static int group_or_tag(struct rd *r, struct areq *q, bool tag, json_t *arr)
{
    struct buf sql;
    sqlite3_stmt *st = NULL;
    json_t *e;
    bool row = true;
    int rc;

    buf_init(&sql, 2 * AQ_SQL_MAX);
    aq_catf(&q->q, &sql,
            tag ? "SELECT alert.environment, tg.value, COUNT(*) FROM alert,"
                  " json_each(alert.tags) AS tg WHERE %s GROUP BY 1, 2 ORDER BY 1, 2 LIMIT %d"
                : "SELECT alert.environment, alert.grp, COUNT(*) FROM alert WHERE %s"
                  " GROUP BY 1, 2 ORDER BY 1, 2 LIMIT %d",
            buf_str(&q->q.where), FACET_MAX);
    rc = run_sql(r, &q->q, buf_str(&sql), &st);
    while (!rc && !(rc = rd_step(r, st, &row, q->q.regex_from)) && row) {
        e = json_pack("{s:o,s:o,s:I}", "environment", aj_col_str(st, 0), tag ? "tag" : "group",
                      aj_col_str(st, 1), "count", (json_int_t)sqlite3_column_int64(st, 2));
        if (!e || json_array_append_new(arr, e))
            rc = TOCSIN_ENOMEM;
    }
    sqlite3_finalize(st);
    buf_free(&sql);
    return rc;
}

/* ---- from the engine's facet counts
 * --------------------------------------------------------------- */

/* An environment or service entry from its kept counts, in the shape of facet_entry_of. */
static json_t *kept_entry(const struct facet_row *row, bool svc, const struct sevmap *m)
{
    json_t *c = json_pack("{s:I,s:{},s:{}}", "count", (json_int_t)row->count, "severityCounts",
                          "statusCounts");
    json_t *sev = json_object_get(c, "severityCounts"), *sts = json_object_get(c, "statusCounts");
    json_t *e;
    bool ok = c != NULL;

    for (size_t i = 0; ok && i < m->n && i < SEVMAP_MAX; i++)
        ok = !row->by_sev[i] || !aj_add(sev, m->name[i], (json_int_t)row->by_sev[i]);
    for (int st = 0; ok && st < AST_COUNT; st++)
        ok = !row->by_status[st] || !aj_add(sts, astatus_name(st), (json_int_t)row->by_status[st]);
    e = ok ? facet_entry_of(aj_strn(row->env, strlen(row->env)),
                            svc ? aj_strn(row->value, strlen(row->value)) : NULL, c)
           : NULL;
    json_decref(c);
    return e;
}

static bool env_asked(const struct areq *q, const char *env)
{
    for (size_t i = 0; i < q->nenvs; i++)
        if (!strcmp(q->envs[i], env))
            return true;
    return !q->nenvs;
}

/* The entries from the engine's counts (core/facets.h) when the filter is on exact statuses
 * and exact environments alone, or nothing, and no customer restriction: what a console asks,
 * and what would otherwise read every row. TOCSIN_EAGAIN when they cannot answer (another
 * filter, or a kind with more values than the engine keeps): the rows are counted instead. */
static int from_kept(const struct rd *r, const struct areq *q, int w, json_t *arr)
{
    static const enum facet_kind kinds[] = {FK_ENVIRONMENT, FK_SERVICE, FK_GROUP, FK_TAG};
    struct facet_rows rows;
    size_t out = 0;
    int rc;

    if (!r->o->facets || !r->o->sev || !q->facets_simple) /* no customers either (index_use) */
        return TOCSIN_EAGAIN;
    rc = facets_read(r->o->facets, kinds[w], q->status_mask, w < 2, &rows);
    for (size_t i = 0; !rc && i < rows.n && out < FACET_MAX; i++) {
        struct facet_row *row = &rows.r[i];
        json_t *e;
        if (!env_asked(q, row->env)) {
            if (w >= 2) /* groups and tags list the matching alerts' entries only */
                continue;
            row->count = 0; /* environments and services list every entry */
            memset(row->by_status, 0, sizeof(row->by_status));
            memset(row->by_sev, 0, sizeof(row->by_sev));
        }
        out++;
        e = w < 2 ? kept_entry(row, w == 1, r->o->sev)
                  : json_pack("{s:o,s:o,s:I}", "environment", aj_strn(row->env, strlen(row->env)),
                              w == 3 ? "tag" : "group", aj_strn(row->value, strlen(row->value)),
                              "count", (json_int_t)row->count);
        if (!e || json_array_append_new(arr, e))
            rc = TOCSIN_ENOMEM;
    }
    facet_rows_free(&rows);
    return rc;
}

int aread_facet_run(struct rd *r, struct areq *q, const char *what, json_t **out)
{
    static const char *const names[] = {"environments", "services", "groups", "tags"};
    json_t *arr = json_array();
    int w = -1, rc;

    for (int i = 0; i < 4; i++)
        if (what && !strcmp(what, names[i]))
            w = i;
    if (!arr)
        return TOCSIN_ENOMEM;
    if (w < 0) {
        json_decref(arr);
        r->err->status = 404;
        verr_set(r->err, "", "not found");
        return TOCSIN_ENOTFOUND;
    }
    rc = from_kept(r, q, w, arr);
    if (rc == TOCSIN_EAGAIN)
        rc = w < 2 ? env_or_service(r, q, w == 1, arr) : group_or_tag(r, q, w == 3, arr);
    if (!rc && !(*out = json_pack("{s:s}", "status", "ok")))
        rc = TOCSIN_ENOMEM;
    if (!rc) {
        if (!json_array_size(arr))
            json_object_set_new(*out, "message", json_string("not found"));
        json_object_set(*out, names[w], arr);
        json_object_set_new(*out, "total", json_integer((json_int_t)json_array_size(arr)));
    }
    json_decref(arr);
    return rc;
}
