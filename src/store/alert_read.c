/* The read side of alerts (alert_read.h): Alerta's GET endpoints over the schema of
 * alert_schema.h, on a reader connection.
 *
 * How GET /alerts stays fast at a million rows:
 *   - The page is two steps. First the rids of the page: "SELECT rid ... WHERE w ORDER BY o
 *     LIMIT n OFFSET k". For a status filter in the default order (severity, then newest) this
 *     is a walk of alert_by_status_sev (status, sevcode DESC, last_receive_time, severity) that
 *     reads no row and skips OFFSET in index entries; for several statuses, or none (the list
 *     of known statuses is added, see known_statuses), SQLite walks each status and stops after
 *     the page. Then each of the (at most page-size) rows is read by its rid.
 *   - Alerta's answer also needs the exact total, statusCounts and severityCounts of the whole
 *     filter. They are one GROUP BY (status, sevcode) that streams over the same index for a
 *     status filter, plus one pass that names the codes shared by several severities (normal,
 *     ok, cleared). Their cost is one index entry per matching alert, 20 to 120 ns: a few ms
 *     for the open alerts of a real store, but ~70-100 ms for the GROUP BY of a million rows.
 *   - A filter on another column (environment, q=, regex, id) reads the matching rows: its
 *     cost grows with the table, as in Alerta. The SQL then hides the index order from SQLite
 *     so that it scans and sorts rather than reading rows one by one in index order.
 *   - Everything runs in one read transaction (one snapshot: the counts and the page agree)
 *     and under a time budget (AREAD_QUERY_MS) enforced by a progress handler; PCRE2 limits
 *     bound each regular expression per row (aread_regexp.c).
 *
 * Measured with a throwaway program (not a test), 1,000,000 rows in a WAL file, 2 shared cores:
 *   10,000 open alerts:  GET /alerts?status=open 4 ms, status=open&status=ack 6 ms,
 *                        /alerts/count?status=open 3.4 ms, page 100 4.2 ms.
 *   200,000 open:        GET /alerts?status=open 84 ms (the page itself 0.02 ms; the rest is
 *                        the counts of 200,000 alerts).
 *   no filter:           GET /alerts 0.40 s, /alerts/count 0.40 s (GROUP BY over the whole
 *                        index 70-100 ms, counting the 850,000 normal ones by name the rest).
 *   scans:               environment=, q=, regex 0.5-1 s; an id prefix 0.85 s; a miss of
 *                        GET /alert/{id} 0.2 s (lastReceiveId has no index).
 * So exact counts of a large share of a big table cannot be read fast: the engine should keep
 * them. Proposal: a table alert_count(customer, status, severity, n) updated by the writer in
 * the transaction that changes an alert (or by triggers on alert), and read here when the
 * filter is only status / customer (what consoles send); any other filter keeps the GROUP BY. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ajson.h"
#include "store/alert_schema.h"
#include "store/aread_int.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/sidx.h"

#define PROGRESS_OPS 1000 /* VM steps between two looks at the clock */
#define HISTORY_MAX 1000  /* entries of one alert's history returned (the writer caps it) */
#define NOTES_MAX 1000
#define COUNT_ROWS_MAX 100000 /* (status, severity) pairs read for the counts */
#define ID_MAX 64

/* The columns of an alert, in the order of the enum below. */
#define ALERT_COLS                                                                                 \
    "rid, id, resource, event, environment, severity, correlate, status, service, grp, value,"     \
    " text, tags, attributes, origin, type, create_time, timeout, raw_data, customer,"             \
    " duplicate_count, repeat, previous_severity, trend, receive_time, last_receive_id,"           \
    " last_receive_time, update_time, fingerprint, labels, annotations, source, generator_url,"    \
    " starts_at, ends_at"

enum col {
    C_RID,
    C_ID,
    C_RESOURCE,
    C_EVENT,
    C_ENVIRONMENT,
    C_SEVERITY,
    C_CORRELATE,
    C_STATUS,
    C_SERVICE,
    C_GROUP,
    C_VALUE,
    C_TEXT,
    C_TAGS,
    C_ATTRIBUTES,
    C_ORIGIN,
    C_TYPE,
    C_CREATE,
    C_TIMEOUT,
    C_RAW,
    C_CUSTOMER,
    C_DUP,
    C_REPEAT,
    C_PREVSEV,
    C_TREND,
    C_RECEIVE,
    C_LRID,
    C_LRT,
    C_UPDATE,
    C_FINGERPRINT,
    C_LABELS,
    C_ANNOTATIONS,
    C_SOURCE,
    C_GENURL,
    C_STARTS,
    C_ENDS,
};

/* ---- a call: snapshot, time budget, errors --------------------------------------------------- */

static int on_progress(void *ud)
{
    struct rd *r = ud;

    if (clock_mono_ms() <= r->deadline_ms)
        return 0;
    r->timed_out = true;
    return 1;
}

int rd_fail(struct rd *r, const char *op, int code, const char *param)
{
    const char *msg = sqlite3_errmsg(r->db);
    size_t pfx = strlen(AREAD_REGEX_ERRPFX);
    char q[512];

    if (r->timed_out || (code & 0xff) == SQLITE_INTERRUPT) {
        r->err->status = 503;
        verr_set(r->err, "query", "the query ran longer than %d ms; narrow it", AREAD_QUERY_MS);
        return TOCSIN_EAGAIN;
    }
    if (msg && !strncmp(msg, AREAD_REGEX_ERRPFX, pfx))
        return verr_set(r->err, param ? param : "q", "%s", msg + pfx);
    if ((code & 0xff) == SQLITE_NOMEM)
        return TOCSIN_ENOMEM;
    log_error("store_error", "op=%s code=%d msg=%s", op, sqlite3_extended_errcode(r->db),
              log_quote(q, sizeof(q), msg ? msg : ""));
    r->err->status = 500;
    verr_set(r->err, "", "store error");
    return TOCSIN_ESTORE;
}

int rd_begin(struct rd *r, sqlite3 *db, const struct aread_opts *o, bool scan, struct verr *err)
{
    int rc;

    memset(r, 0, sizeof(*r));
    r->db = db;
    r->o = o;
    r->err = err;
    r->deadline_ms = clock_mono_ms() + AREAD_QUERY_MS;
    sqlite3_progress_handler(db, PROGRESS_OPS, on_progress, r);
    if (!sqlite3_get_autocommit(db))
        return TOCSIN_OK; /* the caller's transaction is the snapshot */
    r->mapped = scan && aread_map(db, true);
    rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = rd_fail(r, "begin", rc, NULL);
        return rd_end(r, rc);
    }
    r->began = true;
    return TOCSIN_OK;
}

int rd_end(struct rd *r, int rc)
{
    /* a read transaction has nothing to keep: COMMIT and ROLLBACK both just end it */
    if (r->began && sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    if (r->mapped)
        aread_map(r->db, false);
    sqlite3_progress_handler(r->db, 0, NULL, NULL);
    return rc;
}

int rd_prepare(struct rd *r, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(r->db, sql, -1, st, NULL);

    if (rc == SQLITE_OK)
        return TOCSIN_OK;
    *st = NULL;
    return rd_fail(r, "prepare", rc, NULL);
}

int rd_step(struct rd *r, sqlite3_stmt *st, bool *row, const char *param)
{
    int rc = sqlite3_step(st);

    *row = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return TOCSIN_OK;
    return rd_fail(r, "step", rc, param);
}

/* ---- JSON of columns
 * ------------------------------------------------------------------------------ */

json_t *aj_strn(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    char *c;

    if (j)
        return j;
    /* not UTF-8 (the store should never hold such text): keep the ASCII, mark the rest */
    c = malloc(n + 1);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++)
        c[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    j = json_stringn(c, n);
    free(c);
    return j;
}

json_t *aj_col_str(sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);

    if (!s)
        return json_null();
    return aj_strn(s, (size_t)sqlite3_column_bytes(st, col));
}

json_t *aj_col_json(sqlite3_stmt *st, int col, bool object)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    json_t *j =
        s ? json_loadb(s, (size_t)sqlite3_column_bytes(st, col), JSON_ALLOW_NUL, NULL) : NULL;

    if (j && (object ? json_is_object(j) : json_is_array(j)))
        return j;
    json_decref(j);
    return object ? json_object() : json_array();
}

json_t *aj_time(int64_t ms)
{
    return ms ? ajson_time(ms) : json_null();
}

/* An INTEGER column that may be NULL (a history entry's timeout). */
static json_t *aj_col_int(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return json_null();
    return json_integer(sqlite3_column_int64(st, col));
}

void aj_put(json_t *o, const char *k, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(o, k, v))
        *ok = false;
}

json_t *aj_href(const struct aread_opts *o, const char *fmt, ...)
{
    char tail[512], full[1024];
    va_list ap;

    if (!o->href_base)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(tail, sizeof(tail), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "%s%s", o->href_base, tail);
    return aj_strn(full, strlen(full));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_json_str(const void *x, const void *y)
{
    const char *a = json_string_value(*(json_t *const *)x);
    const char *b = json_string_value(*(json_t *const *)y);

    return strcmp(a ? a : "", b ? b : "");
}

int aj_sort_strings(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v = calloc(n ? n : 1, sizeof(*v));
    int rc = TOCSIN_OK;

    if (!v)
        return TOCSIN_ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof(*v), cmp_json_str);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(arr, v[i]))
            rc = TOCSIN_ENOMEM;
    free(v);
    return rc;
}

json_t *aj_sorted(json_t *o)
{
    size_t n = json_object_size(o), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    json_t *out = json_object(), *v;
    const char *k;

    if (!keys || !out) {
        free(keys);
        json_decref(out);
        return NULL;
    }
    json_object_foreach(o, k, v) {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof(*keys), cmp_str);
    for (i = 0; i < n; i++)
        json_object_set(out, keys[i], json_object_get(o, keys[i]));
    free(keys);
    return out;
}

int aj_add(json_t *o, const char *k, json_int_t n)
{
    json_t *v = json_object_get(o, k);

    if (v)
        return json_integer_set(v, json_integer_value(v) + n) ? TOCSIN_ENOMEM : TOCSIN_OK;
    return json_object_set_new(o, k, json_integer(n)) ? TOCSIN_ENOMEM : TOCSIN_OK;
}

/* o when every aj_put on it succeeded; else NULL, o freed. */
static json_t *aj_done(json_t *o, bool ok)
{
    if (ok)
        return o;
    json_decref(o);
    return NULL;
}

/* ---- one alert
 * ------------------------------------------------------------------------------------ */

static const char *col_text(sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);

    return s ? s : "";
}

/* One history entry: {"id","href","event","severity","status","value","text","type",
 * "updateTime","user","timeout"} (Alerta's History.serialize). */
static json_t *history_entry(const struct aread_opts *o, sqlite3_stmt *st)
{
    json_t *h = json_object(), *href;
    bool ok = h != NULL;

    if (!h)
        return NULL;
    aj_put(h, "id", aj_col_str(st, 0), &ok);
    if ((href = aj_href(o, "/alert/%s", col_text(st, 0))))
        aj_put(h, "href", href, &ok);
    aj_put(h, "event", aj_col_str(st, 1), &ok);
    aj_put(h, "severity", aj_col_str(st, 2), &ok);
    aj_put(h, "status", aj_col_str(st, 3), &ok);
    aj_put(h, "value", aj_col_str(st, 4), &ok);
    aj_put(h, "text", aj_col_str(st, 5), &ok);
    aj_put(h, "type", aj_col_str(st, 6), &ok);
    aj_put(h, "updateTime", aj_time(sqlite3_column_int64(st, 7)), &ok);
    aj_put(h, "user", aj_col_str(st, 8), &ok);
    aj_put(h, "timeout", aj_col_int(st, 9), &ok);
    return aj_done(h, ok);
}

/* The history of alert rid, newest first, read with `st` (HISTORY_SQL). */
static int history_of(struct rd *r, sqlite3_stmt *st, int64_t rid, json_t **out)
{
    json_t *a = json_array(), *h;
    bool row = true;
    int rc = a ? TOCSIN_OK : TOCSIN_ENOMEM;

    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, rid);
    while (!rc && !(rc = rd_step(r, st, &row, NULL)) && row) {
        if (!(h = history_entry(r->o, st)) || json_array_append_new(a, h))
            rc = TOCSIN_ENOMEM;
    }
    if (rc)
        json_decref(a);
    else
        *out = a;
    return rc;
}

static json_t *col_time(sqlite3_stmt *st, int col)
{
    return aj_time(sqlite3_column_int64(st, col));
}

/* The first half of an alert, up to "type". */
static void alert_head(const struct aread_opts *o, sqlite3_stmt *st, json_t *a, bool *ok)
{
    json_t *href = aj_href(o, "/alert/%s", col_text(st, C_ID));

    aj_put(a, "id", aj_col_str(st, C_ID), ok);
    if (href)
        aj_put(a, "href", href, ok);
    aj_put(a, "resource", aj_col_str(st, C_RESOURCE), ok);
    aj_put(a, "event", aj_col_str(st, C_EVENT), ok);
    aj_put(a, "environment", aj_col_str(st, C_ENVIRONMENT), ok);
    aj_put(a, "severity", aj_col_str(st, C_SEVERITY), ok);
    aj_put(a, "correlate", aj_col_json(st, C_CORRELATE, false), ok);
    aj_put(a, "status", aj_col_str(st, C_STATUS), ok);
    aj_put(a, "service", aj_col_json(st, C_SERVICE, false), ok);
    aj_put(a, "group", aj_col_str(st, C_GROUP), ok);
    aj_put(a, "value", aj_col_str(st, C_VALUE), ok);
    aj_put(a, "text", aj_col_str(st, C_TEXT), ok);
    aj_put(a, "tags", aj_col_json(st, C_TAGS, false), ok);
    aj_put(a, "attributes", aj_col_json(st, C_ATTRIBUTES, true), ok);
    aj_put(a, "origin", aj_col_str(st, C_ORIGIN), ok);
    aj_put(a, "type", aj_col_str(st, C_TYPE), ok);
}

/* The alert in the order and the conventions of alert_render_json (core/alert.c), with rawData
 * after timeout and history after updateTime when asked. `history` is stolen. */
static json_t *alert_json(const struct aread_opts *o, sqlite3_stmt *st, bool raw, json_t *history)
{
    json_t *a = json_object();
    bool ok = a != NULL;
    int64_t starts = sqlite3_column_int64(st, C_STARTS), ends = sqlite3_column_int64(st, C_ENDS);

    if (!a) {
        json_decref(history);
        return NULL;
    }
    alert_head(o, st, a, &ok);
    aj_put(a, "createTime", col_time(st, C_CREATE), &ok);
    aj_put(a, "timeout", json_integer(sqlite3_column_int64(st, C_TIMEOUT)), &ok);
    if (raw)
        aj_put(a, "rawData", aj_col_str(st, C_RAW), &ok);
    aj_put(a, "customer", aj_col_str(st, C_CUSTOMER), &ok);
    aj_put(a, "duplicateCount", json_integer(sqlite3_column_int64(st, C_DUP)), &ok);
    aj_put(a, "repeat", json_boolean(sqlite3_column_int64(st, C_REPEAT)), &ok);
    aj_put(a, "previousSeverity", aj_col_str(st, C_PREVSEV), &ok);
    aj_put(a, "trendIndication", aj_col_str(st, C_TREND), &ok);
    aj_put(a, "receiveTime", col_time(st, C_RECEIVE), &ok);
    aj_put(a, "lastReceiveId", aj_col_str(st, C_LRID), &ok);
    aj_put(a, "lastReceiveTime", col_time(st, C_LRT), &ok);
    aj_put(a, "updateTime", col_time(st, C_UPDATE), &ok);
    if (history)
        aj_put(a, "history", history, &ok);
    aj_put(a, "fingerprint", aj_col_str(st, C_FINGERPRINT), &ok);
    aj_put(a, "labels", aj_col_json(st, C_LABELS, true), &ok);
    aj_put(a, "annotations", aj_col_json(st, C_ANNOTATIONS, true), &ok);
    aj_put(a, "source", aj_col_str(st, C_SOURCE), &ok);
    aj_put(a, "generatorURL",
           sqlite3_column_bytes(st, C_GENURL) ? aj_col_str(st, C_GENURL) : json_null(), &ok);
    aj_put(a, "startsAt", aj_time(starts ? starts : sqlite3_column_int64(st, C_CREATE)), &ok);
    aj_put(a, "endsAt", aj_time(ends), &ok);
    return aj_done(a, ok);
}

/* The statements that read alerts by rid: `get` always, `hist` (else NULL) with history. */
struct alert_reads {
    sqlite3_stmt *get, *hist;
    bool raw;
};

static int reads_prepare(struct rd *r, struct alert_reads *ar, bool raw, bool history)
{
    static const char history_sql[] = "SELECT id, event, severity, status, value, text, type,"
                                      " update_time, user, timeout FROM alert_history"
                                      " WHERE rid = ?1 ORDER BY seq DESC LIMIT 1000";
    int rc;

    _Static_assert(HISTORY_MAX == 1000, "the LIMIT above");
    ar->get = ar->hist = NULL;
    ar->raw = raw;
    rc = rd_prepare(r, "SELECT " ALERT_COLS " FROM alert WHERE rid = ?1", &ar->get);
    if (!rc && history)
        rc = rd_prepare(r, history_sql, &ar->hist);
    return rc;
}

static void reads_finalize(struct alert_reads *ar)
{
    sqlite3_finalize(ar->get);
    sqlite3_finalize(ar->hist);
}

/* Reads alert rid (with its history when ar->hist) and appends its JSON to arr. */
static int append_alert(struct rd *r, const struct alert_reads *ar, int64_t rid, json_t *arr,
                        int64_t *lrt)
{
    sqlite3_stmt *get = ar->get;
    json_t *h = NULL, *a;
    bool row;
    int rc = ar->hist ? history_of(r, ar->hist, rid, &h) : TOCSIN_OK;

    sqlite3_reset(get);
    sqlite3_bind_int64(get, 1, rid);
    if (rc || (rc = rd_step(r, get, &row, NULL)) || !row) {
        json_decref(h);
        return rc; /* gone from the snapshot cannot happen; skip rather than fail */
    }
    if (lrt && sqlite3_column_int64(get, C_LRT) > *lrt)
        *lrt = sqlite3_column_int64(get, C_LRT);
    a = alert_json(r->o, get, ar->raw, h);
    if (!a || json_array_append_new(arr, a))
        return TOCSIN_ENOMEM;
    return TOCSIN_OK;
}

/* ---- counts
 * --------------------------------------------------------------------------------------- */

struct counts {
    json_t *status, *severity; /* sorted by key */
    int64_t total;
};

static void counts_free(struct counts *c)
{
    json_decref(c->status);
    json_decref(c->severity);
}

/* The name of a severity code when the map gives it exactly one (critical); NULL when it gives
 * several (normal, ok, cleared) or none. */
static const char *code_name(const struct sevmap *m, int64_t code)
{
    const char *name = NULL;
    int k = 0;

    for (size_t i = 0; m && i < m->n; i++) {
        if (m->code[i] == code) {
            name = m->name[i];
            k++;
        }
    }
    return k == 1 ? name : NULL;
}

/* The codes a count by code cannot name: " AND alert.sevcode IN (7, ...)". */
struct shared {
    struct buf in;
    int64_t codes[SEVMAP_MAX];
    int n;
    bool overflow; /* more codes than the map can hold: count every name by name */
};

static bool code_shared(const struct shared *sh, int64_t code)
{
    for (int i = 0; i < sh->n; i++)
        if (sh->codes[i] == code)
            return true;
    return false;
}

static int prepare_where(struct rd *r, const struct areq *q, struct buf *sql, sqlite3_stmt **st)
{
    int rc = rd_prepare(r, buf_str(sql), st);

    return rc ? rc : aq_bind_all(&q->q, *st);
}

/* Counts by name with a GROUP BY (a sort): for names the map does not know. */
static int counts_by_group(struct rd *r, const struct areq *q, const struct shared *sh, json_t *sev)
{
    struct buf sql;
    sqlite3_stmt *st = NULL;
    bool row = true;
    int rc = TOCSIN_OK;

    buf_init(&sql, 3 * AQ_SQL_MAX);
    if (buf_printf(&sql,
                   "SELECT alert.severity, COUNT(*) FROM alert WHERE %s%s GROUP BY 1 LIMIT %d",
                   buf_str(&q->q.where), sh->overflow ? "" : buf_str(&sh->in), COUNT_ROWS_MAX))
        rc = TOCSIN_ENOMEM;
    if (!rc)
        rc = prepare_where(r, q, &sql, &st);
    while (!rc && !(rc = rd_step(r, st, &row, q->q.regex_from)) && row)
        if (aj_add(sev, col_text(st, 0), sqlite3_column_int64(st, 1)))
            rc = TOCSIN_ENOMEM;
    sqlite3_finalize(st);
    buf_free(&sql);
    return rc;
}

/* Counts by name for the shared codes in one pass without a sort: COUNT(*) and one
 * SUM(severity = name) per name of those codes (names are config, bound all the same). If the
 * sums miss some rows, a name the map does not know is stored: count by GROUP BY instead. */
static int counts_by_name(struct rd *r, const struct areq *q, const struct shared *sh, json_t *sev)
{
    const struct sevmap *m = r->o->sev;
    const char *names[SEVMAP_MAX];
    struct buf sql;
    sqlite3_stmt *st = NULL;
    json_int_t total = 0, named = 0;
    bool row = false;
    int rc = TOCSIN_OK, nn = 0;

    if (!m || sh->overflow)
        return counts_by_group(r, q, sh, sev);
    buf_init(&sql, 3 * AQ_SQL_MAX);
    rc = buf_puts(&sql, "SELECT COUNT(*)");
    for (size_t i = 0; i < m->n && !rc; i++)
        if (code_shared(sh, m->code[i]) &&
            !(rc = buf_printf(&sql, ", SUM(alert.severity = ?%d)", q->q.nb + nn + 1)))
            names[nn++] = m->name[i];
    if (!rc && buf_printf(&sql, " FROM alert WHERE %s%s", buf_str(&q->q.where), buf_str(&sh->in)))
        rc = TOCSIN_ENOMEM;
    if (!rc && !(rc = prepare_where(r, q, &sql, &st)))
        for (int i = 0; i < nn; i++)
            sqlite3_bind_text(st, q->q.nb + i + 1, names[i], -1, SQLITE_STATIC);
    if (!rc && !(rc = rd_step(r, st, &row, q->q.regex_from)) && row) {
        total = sqlite3_column_int64(st, 0);
        for (int i = 0; i < nn && !rc; i++) {
            json_int_t k = sqlite3_column_int64(st, i + 1);
            named += k;
            if (k && aj_add(sev, names[i], k))
                rc = TOCSIN_ENOMEM;
        }
    }
    sqlite3_finalize(st);
    buf_free(&sql);
    if (!rc && named != total) {
        for (int i = 0; i < nn; i++) /* start again by GROUP BY for these codes */
            json_object_del(sev, names[i]);
        rc = counts_by_group(r, q, sh, sev);
    }
    return rc;
}

/* Alerta's get_counts_by_status and _by_severity. The GROUP BY is on (status, sevcode), the
 * order of alert_by_status_sev, so it streams over the index without sorting (grouping by the
 * name would sort every row: 4 times slower); the codes shared by several names (normal, ok,
 * cleared) are then counted by name (counts_by_name). */
static int count_groups(struct rd *r, const struct areq *q, struct counts *c, json_t *stc,
                        json_t *sev)
{
    struct shared sh = {.n = 0};
    sqlite3_stmt *st = NULL;
    struct buf sql;
    bool row = true;
    int rc = TOCSIN_OK;

    buf_init(&sql, 3 * AQ_SQL_MAX);
    buf_init(&sh.in, 4096);
    /* "+" hides the index order when the index does not decide the WHERE (index_use) */
    if (buf_printf(&sql,
                   "SELECT %salert.status, %salert.sevcode, COUNT(*) FROM alert WHERE %s"
                   " GROUP BY 1, 2 LIMIT %d",
                   q->index_only ? "" : "+", q->index_only ? "" : "+", buf_str(&q->q.where),
                   COUNT_ROWS_MAX))
        rc = TOCSIN_ENOMEM;
    if (!rc)
        rc = prepare_where(r, q, &sql, &st);
    while (!rc && !(rc = rd_step(r, st, &row, q->q.regex_from)) && row) {
        json_int_t k = sqlite3_column_int64(st, 2);
        int64_t code = sqlite3_column_int64(st, 1);
        const char *name = code_name(r->o->sev, code);
        c->total += k;
        if (aj_add(stc, col_text(st, 0), k) || (name && aj_add(sev, name, k)))
            rc = TOCSIN_ENOMEM;
        else if (!name && !code_shared(&sh, code)) {
            if (sh.n == SEVMAP_MAX)
                sh.overflow = true;
            else
                sh.codes[sh.n++] = code;
        }
    }
    sqlite3_finalize(st);
    buf_free(&sql);
    if (!rc && sh.n) {
        rc = buf_puts(&sh.in, " AND alert.sevcode IN (");
        for (int i = 0; i < sh.n && !rc; i++)
            rc = buf_printf(&sh.in, "%s%lld", i ? ", " : "", (long long)sh.codes[i]);
        if (!rc && !(rc = buf_putc(&sh.in, ')')))
            rc = counts_by_name(r, q, &sh, sev);
    }
    buf_free(&sh.in);
    return rc;
}

/* The counts of a filter on exact statuses only, from the engine's counters. */
static int counts_kept(const struct rd *r, const struct areq *q, struct counts *c, json_t *stc,
                       json_t *sev)
{
    const struct sevmap *m = r->o->sev;

    for (int st = 0; st < AST_COUNT; st++) {
        json_int_t in_status = 0;
        if (q->status_mask && !(q->status_mask & (1u << st)))
            continue;
        for (size_t i = 0; i < SEVMAP_MAX; i++) {
            json_int_t k = (json_int_t)r->o->counts[(size_t)st * SEVMAP_MAX + i];
            if (!k)
                continue;
            in_status += k;
            if (i < m->n && aj_add(sev, m->name[i], k))
                return TOCSIN_ENOMEM;
        }
        if (in_status && aj_add(stc, astatus_name(st), in_status))
            return TOCSIN_ENOMEM;
        c->total += in_status;
    }
    return TOCSIN_OK;
}

static int run_counts(struct rd *r, const struct areq *q, struct counts *c)
{
    json_t *stc = json_object(), *sev = json_object();
    int rc = stc && sev ? TOCSIN_OK : TOCSIN_ENOMEM;

    memset(c, 0, sizeof(*c));
    if (!rc && r->o->counts && r->o->sev && q->counts_simple)
        rc = counts_kept(r, q, c, stc, sev);
    else if (!rc)
        rc = count_groups(r, q, c, stc, sev);
    if (!rc && (!(c->status = aj_sorted(stc)) || !(c->severity = aj_sorted(sev))))
        rc = TOCSIN_ENOMEM;
    json_decref(stc);
    json_decref(sev);
    return rc;
}

/* ---- GET /alerts
 * ---------------------------------------------------------------------------------- */

/* OFFSET of the page; a page so far that it overflows reads nothing. */
static int64_t page_offset(const struct areq *q)
{
    if (q->page - 1 > INT64_MAX / q->page_size)
        return INT64_MAX;
    return (q->page - 1) * q->page_size;
}

/* " AND alert.status IN ('open', ...)": the statuses the engine writes (fixed names, no user
 * text). Given to the page query of a request the index answers alone (areq.walk), it lets
 * SQLite walk alert_by_status_sev once per status and stop after the page (its IN early-out),
 * where it would otherwise sort every matching row: an unfiltered first page at a million
 * alerts goes from 0.4 s to about a millisecond. (A status the engine never writes would be
 * counted in the total but not listed.) */
static int known_statuses(struct buf *b)
{
    int rc = buf_puts(b, " AND alert.status IN (");

    for (int i = 0; i < AST_COUNT && !rc; i++)
        rc = buf_printf(b, "%s'%s'", i ? ", " : "", astatus_name(i));
    return rc ? rc : buf_putc(b, ')');
}

/* The rids of the page, in order: an index-only walk for the common lists. */
static int page_rids(struct rd *r, const struct areq *q, int64_t *rids, int64_t *n)
{
    struct buf sql;
    sqlite3_stmt *st = NULL;
    bool row = true;
    int rc = TOCSIN_OK;

    *n = 0;
    buf_init(&sql, 3 * AQ_SQL_MAX);
    if (buf_printf(&sql, "SELECT alert.rid FROM alert WHERE %s", buf_str(&q->q.where)) ||
        (q->walk && known_statuses(&sql)) ||
        buf_printf(&sql, " ORDER BY %s LIMIT ?%d OFFSET ?%d", buf_str(&q->q.order), q->q.nb + 1,
                   q->q.nb + 2))
        rc = TOCSIN_ENOMEM;
    if (!rc && !(rc = rd_prepare(r, buf_str(&sql), &st)) && !(rc = aq_bind_all(&q->q, st))) {
        sqlite3_bind_int64(st, q->q.nb + 1, q->page_size);
        sqlite3_bind_int64(st, q->q.nb + 2, page_offset(q));
    }
    while (!rc && *n < q->page_size && !(rc = rd_step(r, st, &row, q->q.regex_from)) && row)
        rids[(*n)++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    buf_free(&sql);
    return rc;
}

static int page_alerts(struct rd *r, const struct areq *q, json_t *arr, int64_t *lrt)
{
    int64_t *rids = calloc((size_t)q->page_size, sizeof(*rids)), n = 0;
    struct alert_reads ar = {0};
    int rc = rids ? page_rids(r, q, rids, &n) : TOCSIN_ENOMEM;

    if (!rc && n)
        rc = reads_prepare(r, &ar, q->show_raw, q->show_history);
    for (int64_t i = 0; !rc && i < n; i++)
        rc = append_alert(r, &ar, rids[i], arr, lrt);
    reads_finalize(&ar);
    free(rids);
    return rc;
}

/* Alerta's Page: 416 when the page is below 1, or past the last page of a non-empty result. */
static int check_page(struct rd *r, const struct areq *q, int64_t total, int64_t *pages)
{
    *pages = total ? (total - 1) / q->page_size + 1 : 0;
    if (q->page < 1 || (total && q->page > *pages)) {
        r->err->status = 416;
        return verr_set(r->err, "page", "page out of range: 1-%lld", (long long)*pages);
    }
    return TOCSIN_OK;
}

static json_t *alerts_body(const struct areq *q, struct counts *c, json_t *alerts, int64_t pages,
                           int64_t last_ms)
{
    json_t *b = json_object();
    bool ok = b != NULL, none = !json_array_size(alerts);

    if (!b)
        return NULL;
    aj_put(b, "status", json_string("ok"), &ok);
    if (none)
        aj_put(b, "message", json_string("not found"), &ok);
    aj_put(b, "alerts", json_incref(alerts), &ok);
    aj_put(b, "total", json_integer(none ? 0 : c->total), &ok);
    aj_put(b, "page", json_integer(q->page), &ok);
    aj_put(b, "pageSize", json_integer(q->page_size), &ok);
    aj_put(b, "pages", json_integer(none ? 0 : pages), &ok);
    aj_put(b, "more", json_boolean(!none && q->page < pages), &ok);
    aj_put(b, "statusCounts", json_incref(c->status), &ok);
    aj_put(b, "severityCounts", json_incref(c->severity), &ok);
    aj_put(b, "lastTime", aj_time(last_ms), &ok);
    aj_put(b, "autoRefresh", json_true(), &ok);
    return aj_done(b, ok);
}

int aread_alerts(sqlite3 *db, const struct qparam *p, size_t n, const struct aread_opts *o,
                 json_t **out, struct verr *err)
{
    struct areq q;
    struct counts c = {0};
    struct rd r;
    json_t *alerts = json_array();
    int64_t pages = 0, last = 0;
    int rc = areq_parse(&q, p, n, o, err);

    if (!rc && !alerts)
        rc = TOCSIN_ENOMEM;
    if (!rc && !(rc = rd_begin(&r, db, o, q.late_cols, err))) {
        if (!(rc = run_counts(&r, &q, &c)) && !(rc = check_page(&r, &q, c.total, &pages)) &&
            c.total)
            rc = page_alerts(&r, &q, alerts, &last);
        rc = rd_end(&r, rc);
    }
    /* Alerta: lastTime is the newest lastReceiveTime of the page, else the query time */
    if (!rc && !(*out = alerts_body(&q, &c, alerts, pages, last ? last : o->now_ms)))
        rc = TOCSIN_ENOMEM;
    json_decref(alerts);
    counts_free(&c);
    areq_free(&q);
    return rc;
}

/* ---- GET /alerts/count
 * ---------------------------------------------------------------------------- */

int aread_count(sqlite3 *db, const struct qparam *p, size_t n, const struct aread_opts *o,
                json_t **out, struct verr *err)
{
    struct areq q;
    struct counts c = {0};
    struct rd r;
    int rc = areq_parse(&q, p, n, o, err);

    if (!rc && !(rc = rd_begin(&r, db, o, q.late_cols, err)))
        rc = rd_end(&r, run_counts(&r, &q, &c));
    if (!rc) {
        *out = json_pack("{s:s,s:I,s:O,s:O,s:b}", "status", "ok", "total", (json_int_t)c.total,
                         "statusCounts", c.status, "severityCounts", c.severity, "autoRefresh", 1);
        if (!*out)
            rc = TOCSIN_ENOMEM;
    }
    counts_free(&c);
    areq_free(&q);
    return rc;
}

/* ---- GET /alerts/history
 * -------------------------------------------------------------------------- */

#define HIST_COLS                                                                                  \
    "h.id, alert.resource, h.event, alert.environment, h.severity, h.status, alert.service,"       \
    " alert.grp, h.value, h.text, alert.tags, alert.attributes, alert.origin, h.update_time,"      \
    " h.user, h.timeout, h.type, alert.customer"

/* Alerta's RichHistory.serialize: severity and value only when the entry has a severity,
 * status only when it has a status. */
static json_t *rich_history(const struct aread_opts *o, sqlite3_stmt *st)
{
    json_t *h = json_object(), *href = aj_href(o, "/alert/%s", col_text(st, 0));
    bool ok = h != NULL;

    if (!h) {
        json_decref(href);
        return NULL;
    }
    aj_put(h, "id", aj_col_str(st, 0), &ok);
    if (href)
        aj_put(h, "href", href, &ok);
    aj_put(h, "resource", aj_col_str(st, 1), &ok);
    aj_put(h, "event", aj_col_str(st, 2), &ok);
    aj_put(h, "environment", aj_col_str(st, 3), &ok);
    aj_put(h, "service", aj_col_json(st, 6, false), &ok);
    aj_put(h, "group", aj_col_str(st, 7), &ok);
    aj_put(h, "text", aj_col_str(st, 9), &ok);
    aj_put(h, "tags", aj_col_json(st, 10, false), &ok);
    aj_put(h, "attributes", aj_col_json(st, 11, true), &ok);
    aj_put(h, "origin", aj_col_str(st, 12), &ok);
    aj_put(h, "updateTime", col_time(st, 13), &ok);
    aj_put(h, "user", aj_col_str(st, 14), &ok);
    aj_put(h, "timeout", aj_col_int(st, 15), &ok);
    aj_put(h, "type", aj_col_str(st, 16), &ok);
    aj_put(h, "customer", aj_col_str(st, 17), &ok);
    if (sqlite3_column_bytes(st, 4)) {
        aj_put(h, "severity", aj_col_str(st, 4), &ok);
        aj_put(h, "value", aj_col_str(st, 8), &ok);
    }
    if (sqlite3_column_bytes(st, 5))
        aj_put(h, "status", aj_col_str(st, 5), &ok);
    return aj_done(h, ok);
}

static int history_page(struct rd *r, const struct areq *q, json_t *arr)
{
    struct buf sql;
    sqlite3_stmt *st = NULL;
    json_t *h;
    bool row = true;
    int rc = TOCSIN_OK;

    buf_init(&sql, 2 * AQ_SQL_MAX);
    if (buf_printf(&sql,
                   "SELECT " HIST_COLS " FROM alert_history AS h JOIN alert ON alert.rid = h.rid"
                   " WHERE %s ORDER BY h.update_time DESC, h.seq DESC LIMIT ?%d OFFSET ?%d",
                   buf_str(&q->q.where), q->q.nb + 1, q->q.nb + 2))
        rc = TOCSIN_ENOMEM;
    if (!rc && !(rc = rd_prepare(r, buf_str(&sql), &st)) && !(rc = aq_bind_all(&q->q, st))) {
        sqlite3_bind_int64(st, q->q.nb + 1, q->page_size);
        sqlite3_bind_int64(st, q->q.nb + 2, page_offset(q));
    }
    while (!rc && !(rc = rd_step(r, st, &row, q->q.regex_from)) && row) {
        if (!(h = rich_history(r->o, st)) || json_array_append_new(arr, h))
            rc = TOCSIN_ENOMEM;
    }
    sqlite3_finalize(st);
    buf_free(&sql);
    return rc;
}

/* {"status":"ok",<key>:[...],"total":n}, or Alerta's "not found" form when empty. */
static json_t *list_body(const char *key, json_t *arr, bool auto_refresh)
{
    json_t *b = json_object();
    bool ok = b != NULL;
    size_t n = json_array_size(arr);

    if (!b)
        return NULL;
    aj_put(b, "status", json_string("ok"), &ok);
    if (!n)
        aj_put(b, "message", json_string("not found"), &ok);
    aj_put(b, key, json_incref(arr), &ok);
    aj_put(b, "total", json_integer((json_int_t)n), &ok);
    if (auto_refresh)
        aj_put(b, "autoRefresh", json_true(), &ok);
    return aj_done(b, ok);
}

int aread_history(sqlite3 *db, const struct qparam *p, size_t n, const struct aread_opts *o,
                  json_t **out, struct verr *err)
{
    struct areq q;
    struct rd r;
    json_t *arr = json_array();
    int64_t pages;
    int rc = areq_parse(&q, p, n, o, err);

    if (!rc && !arr)
        rc = TOCSIN_ENOMEM;
    if (!rc && !(rc = rd_begin(&r, db, o, q.late_cols, err))) {
        /* Alerta pages the history without a total: only a page below 1 is a 416 */
        if (!(rc = check_page(&r, &q, 0, &pages)))
            rc = history_page(&r, &q, arr);
        rc = rd_end(&r, rc);
    }
    if (!rc && !(*out = list_body("history", arr, false)))
        rc = TOCSIN_ENOMEM;
    json_decref(arr);
    areq_free(&q);
    return rc;
}

/* ---- top10 and facets: parsing here, queries in aread_facet.c
 * ------------------------------------ */

typedef int (*named_run)(struct rd *r, struct areq *q, const char *name, json_t **out);

/* Parses the request and runs `run` on it within one read. */
static int parse_and_run(sqlite3 *db, named_run run, const char *name, const struct qparam *p,
                         size_t n, const struct aread_opts *o, json_t **out, struct verr *err)
{
    struct areq q;
    struct rd r;
    int rc = areq_parse(&q, p, n, o, err);

    if (!rc && !(rc = rd_begin(&r, db, o, q.late_cols, err)))
        rc = rd_end(&r, run(&r, &q, name, out));
    areq_free(&q);
    return rc;
}

int aread_top10(sqlite3 *db, const char *kind, const struct qparam *p, size_t n,
                const struct aread_opts *o, json_t **out, struct verr *err)
{
    return parse_and_run(db, aread_top10_run, kind, p, n, o, out, err);
}

int aread_facet(sqlite3 *db, const char *what, const struct qparam *p, size_t n,
                const struct aread_opts *o, json_t **out, struct verr *err)
{
    return parse_and_run(db, aread_facet_run, what, p, n, o, out, err);
}

/* ---- one alert by id
 * ------------------------------------------------------------------------------ */

/* The least id (or lastReceiveId: col) that starts with lo (hi: lo with its last byte
 * incremented) within the customer restriction, among the rows `rids` (a JSON array of rids;
 * NULL: every row, a scan). */
static int resolve_in(struct rd *r, const char *col, const char *lo, const char *hi,
                      const char *rids, int64_t *rid, char out[37])
{
    struct aq q;
    struct buf sql;
    sqlite3_stmt *st = NULL;
    bool row = false;
    int rc;

    aq_init(&q);
    aq_customers(&q, r->o);
    buf_init(&sql, 2 * AQ_SQL_MAX);
    aq_cat(&q, &sql, "SELECT alert.rid, alert.id FROM alert WHERE ");
    if (rids) {
        aq_cat(&q, &sql, "alert.rid IN (SELECT value FROM json_each(");
        aq_text(&q, &sql, rids);
        aq_cat(&q, &sql, ")) AND ");
    }
    aq_catf(&q, &sql, "%s >= ", col);
    aq_text(&q, &sql, lo);
    aq_catf(&q, &sql, " AND %s < ", col);
    aq_text(&q, &sql, hi);
    aq_catf(&q, &sql, " AND %s ORDER BY %s LIMIT 1", buf_str(&q.where), col);
    rc = q.rc ? q.rc : rd_prepare(r, buf_str(&sql), &st);
    if (!rc && !(rc = aq_bind_all(&q, st)) && !(rc = rd_step(r, st, &row, NULL)) && row) {
        *rid = sqlite3_column_int64(st, 0);
        snprintf(out, 37, "%s", col_text(st, 1));
    }
    if (!rc && !row)
        rc = TOCSIN_ENOTFOUND;
    sqlite3_finalize(st);
    buf_free(&sql);
    aq_free(&q);
    return rc;
}

#define RESOLVE_CHUNK 64

/* resolve_in over the rows the short id index names for lo (of len bytes), a chunk at a time in
 * id order (a chunk holds whole sids, whose ids sort before the next chunk's), so that the first
 * chunk with a match has the least id. */
static int resolve_indexed(struct rd *r, const char *lo, const char *hi, size_t len, int64_t *rid,
                           char out[37])
{
    struct sidx_hit hits[RESOLVE_CHUNK], last;
    uint32_t slo, shi;
    size_t n;
    int rc = TOCSIN_ENOTFOUND;

    if (!sidx_prefix_range(lo, len, &slo, &shi))
        return TOCSIN_ENOTFOUND;
    for (bool first = true; rc == TOCSIN_ENOTFOUND; first = false) {
        char rids[RESOLVE_CHUNK * 21 + 2];
        size_t at = 0;
        if (!(n = sidx_find(r->o->sidx, slo, shi, first ? NULL : &last, hits, RESOLVE_CHUNK)))
            break;
        for (size_t i = 0; i < n; i++)
            at += (size_t)snprintf(rids + at, sizeof(rids) - at, "%c%" PRIu64, i ? ',' : '[',
                                   hits[i].rid);
        snprintf(rids + at, sizeof(rids) - at, "]");
        rc = resolve_in(r, "alert.id", lo, hi, rids, rid, out);
        last = hits[n - 1];
    }
    return rc;
}

/* Finds the alert whose id or else lastReceiveId (a scan: it has no index, and Alerta's clients
 * name alerts by id) starts with `id`, within the customer restriction. Ids through the short
 * id index when the caller has one (the daemon), else by a scan. */
static int resolve(struct rd *r, const char *id, int64_t *rid, char out[37])
{
    char lo[ID_MAX + 1], hi[ID_MAX + 1];
    size_t len = strlen(id);
    int rc;

    if (!len || len > ID_MAX)
        return TOCSIN_ENOTFOUND;
    for (size_t i = 0; i <= len; i++) /* Alerta matches ids case-insensitively; ours are lower */
        lo[i] = (char)(id[i] >= 'A' && id[i] <= 'Z' ? id[i] + 32 : id[i]);
    memcpy(hi, lo, len + 1);
    if ((unsigned char)hi[len - 1] == 0xff)
        return TOCSIN_ENOTFOUND;
    hi[len - 1] = (char)((unsigned char)hi[len - 1] + 1);
    if (r->o->sidx && sidx_usable(r->o->sidx))
        rc = resolve_indexed(r, lo, hi, len, rid, out);
    else
        rc = resolve_in(r, "alert.id", lo, hi, NULL, rid, out);
    if (rc == TOCSIN_ENOTFOUND)
        rc = resolve_in(r, "alert.last_receive_id", lo, hi, NULL, rid, out);
    return rc;
}

static int not_found(struct verr *err)
{
    if (err) {
        err->status = 404;
        verr_set(err, "id", "not found");
    }
    return TOCSIN_ENOTFOUND;
}

int aread_resolve_id(sqlite3 *db, const char *id, const struct aread_opts *o, char out[37])
{
    struct verr err = {0};
    struct rd r;
    int64_t rid;
    int rc = rd_begin(&r, db, o, false, &err);

    if (!rc)
        rc = rd_end(&r, resolve(&r, id ? id : "", &rid, out));
    return rc;
}

int aread_alert(sqlite3 *db, const char *id, const struct aread_opts *o, json_t **out,
                struct verr *err)
{
    struct rd r;
    struct alert_reads ar = {0};
    json_t *arr = json_array();
    char full[37];
    int64_t rid;
    int rc = arr ? rd_begin(&r, db, o, false, err) : TOCSIN_ENOMEM;

    if (rc) {
        json_decref(arr);
        return rc;
    }
    if (!(rc = resolve(&r, id ? id : "", &rid, full)) && !(rc = reads_prepare(&r, &ar, true, true)))
        rc = append_alert(&r, &ar, rid, arr, NULL);
    reads_finalize(&ar);
    rc = rd_end(&r, rc);
    if (rc == TOCSIN_ENOTFOUND || (!rc && !json_array_size(arr)))
        rc = not_found(err);
    if (!rc && !(*out = json_pack("{s:s,s:i,s:O}", "status", "ok", "total", 1, "alert",
                                  json_array_get(arr, 0))))
        rc = TOCSIN_ENOMEM;
    json_decref(arr);
    return rc;
}

/* ---- notes
 * ---------------------------------------------------------------------------------------- */

/* Alerta's Note.serialize: {"id","href","text","user","attributes","type","createTime",
 * "updateTime","_links":{"alert"},"customer"}. */
static json_t *note_json(const struct aread_opts *o, sqlite3_stmt *st, const char *alert_id,
                         json_t *customer)
{
    json_t *n = json_object(), *links = json_object(), *h;
    bool ok = n && links;

    if (!ok) {
        json_decref(n);
        json_decref(links);
        return NULL;
    }
    aj_put(n, "id", aj_col_str(st, 0), &ok);
    if ((h = aj_href(o, "/alert/%s/note/%s", alert_id, col_text(st, 0))))
        aj_put(n, "href", h, &ok);
    aj_put(n, "text", aj_col_str(st, 1), &ok);
    aj_put(n, "user", aj_col_str(st, 2), &ok);
    aj_put(n, "attributes", aj_col_json(st, 5, true), &ok);
    aj_put(n, "type", json_string("alert"), &ok);
    aj_put(n, "createTime", col_time(st, 3), &ok);
    aj_put(n, "updateTime", col_time(st, 4), &ok);
    if ((h = aj_href(o, "/alert/%s", alert_id)))
        aj_put(links, "alert", h, &ok);
    aj_put(n, "_links", links, &ok);
    aj_put(n, "customer", json_incref(customer), &ok);
    return aj_done(n, ok);
}

static int notes_of(struct rd *r, int64_t rid, const char *alert_id, json_t *arr)
{
    sqlite3_stmt *st = NULL, *cs = NULL;
    json_t *customer = NULL, *n;
    bool row = true;
    int rc = rd_prepare(r, "SELECT customer FROM alert WHERE rid = ?1", &cs);

    if (!rc) {
        sqlite3_bind_int64(cs, 1, rid);
        if (!(rc = rd_step(r, cs, &row, NULL)))
            customer = row ? aj_col_str(cs, 0) : json_null();
    }
    if (!rc && !customer)
        rc = TOCSIN_ENOMEM;
    if (!rc && !(rc = rd_prepare(r,
                                 "SELECT id, text, user, create_time, update_time, attributes"
                                 " FROM alert_note WHERE rid = ?1 ORDER BY create_time, id"
                                 " LIMIT 1000",
                                 &st)))
        sqlite3_bind_int64(st, 1, rid);
    _Static_assert(NOTES_MAX == 1000, "the LIMIT above");
    while (!rc && !(rc = rd_step(r, st, &row, NULL)) && row) {
        if (!(n = note_json(r->o, st, alert_id, customer)) || json_array_append_new(arr, n))
            rc = TOCSIN_ENOMEM;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(cs);
    json_decref(customer);
    return rc;
}

int aread_notes(sqlite3 *db, const char *alert_id, const struct aread_opts *o, json_t **out,
                struct verr *err)
{
    struct rd r;
    json_t *arr = json_array();
    char full[37];
    int64_t rid;
    int rc = arr ? rd_begin(&r, db, o, false, err) : TOCSIN_ENOMEM;

    if (rc) {
        json_decref(arr);
        return rc;
    }
    if (!(rc = resolve(&r, alert_id ? alert_id : "", &rid, full)))
        rc = notes_of(&r, rid, full, arr);
    rc = rd_end(&r, rc);
    if (rc == TOCSIN_ENOTFOUND)
        rc = not_found(err);
    if (!rc && !(*out = list_body("notes", arr, false)))
        rc = TOCSIN_ENOMEM;
    json_decref(arr);
    return rc;
}

/* ---- set-up and the query string
 * ------------------------------------------------------------------ */

int aread_init_db(sqlite3 *db)
{
    return aread_regexp_register(db);
}

/* No mmap but for the length of a read that scans rows' later columns (rd_begin's `scan`,
 * areq.late_cols: q=, text, tags, attributes, group, a customer restriction) and of the
 * start-up load (store/sqlite.c): every page a mapping touches counts in the daemon's RSS (a
 * 1 GB database would show as 1 GB) while it is mapped, and an I/O error on the file becomes
 * SIGBUS. So what the index answers (the lists consoles send, by status and environment) reads
 * with pread through SQLite's page cache (store/sqlite.c sets its size). Read with pread, a scan
 * of a million rows paid a system call or two per row (its columns spill to an overflow page),
 * a microsecond each on this VM: a text search of the 1M store took 4.0 s with pread and 0.85 s
 * mapped, reading every row's state 4.0-6.5 s and 1.0-1.3 s (Python's sqlite3, the same file).
 * A scan of the first columns only (resource=, event=) reads from the row's own page, and
 * mapping for it costs more (the mapping's faults, then its teardown: a count of resource= over
 * a million rows took 0.89 s mapped, 0.55 s with pread), so it is not mapped. SQLite maps at
 * most its compile-time maximum (2 GiB in Debian's build); past it the rest is read as before. */
#define MAP_BYTES "8589934592"

bool aread_map(sqlite3 *db, bool on)
{
    return sqlite3_exec(db, on ? "PRAGMA mmap_size = " MAP_BYTES : "PRAGMA mmap_size = 0", NULL,
                        NULL, NULL) == SQLITE_OK;
}

/* Decodes s[0..n) (form encoding: + is a space, %XX a byte) into d with a NUL; returns the
 * bytes written (at most n + 1). A bad % sequence is kept as it is. */
static size_t url_decode(const char *s, size_t n, char *d)
{
    size_t o = 0;
    int hi, lo;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            d[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && (hi = hex_digit(s[i + 1])) >= 0 &&
                   (lo = hex_digit(s[i + 2])) >= 0) {
            d[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            d[o++] = s[i];
        }
    }
    d[o++] = '\0';
    return o;
}

size_t aread_split_query(const char *query, char *scratch, struct qparam *out, size_t max)
{
    size_t count = 0, used = 0;
    const char *s = query ? query : "";

    /* "k=v" takes at most its length + 1 bytes decoded; a bare "k" shares its NUL as the empty
     * value. So the scratch never needs more than strlen(query) + 1. */
    while (*s && count < max) {
        size_t seg = strcspn(s, "&");
        const char *eq = memchr(s, '=', seg);
        size_t klen = eq ? (size_t)(eq - s) : seg;
        if (seg) {
            out[count].k = scratch + used;
            used += url_decode(s, klen, scratch + used);
            if (eq) {
                out[count].v = scratch + used;
                used += url_decode(eq + 1, seg - klen - 1, scratch + used);
            } else {
                out[count].v = scratch + used - 1;
            }
            count++;
        }
        s += seg;
        if (*s == '&')
            s++;
    }
    return count;
}
