/* The read side of alerts: Alerta's query API over the SQLite schema of store/alert_schema.h.
 * Runs on a reader connection (a reader thread), never on the engine thread.
 *
 * Query parameters are Alerta's (alerta/database/backends/postgres/utils.py):
 *   field=v (repeated: any of), field!=v, a "~" prefix for a case-insensitive regular
 *   expression (PCRE2), attributes.<k>=v, id (a prefix of id or lastReceiveId), service and tag
 *   (list overlap), from-date / to-date (lastReceiveTime), q= (Lucene-like: f:term, "phrase",
 *   wildcards * ?, /regex/, [a TO b] / {a TO b}, _exists_:f, AND / OR / NOT / -, parentheses;
 *   q.df sets the default field, "text"), sort-by=[-]field (repeated), reverse, group-by,
 *   page (1-based), page-size (default 50, at most ALERT_READ_MAX_PAGE), show-history,
 *   show-raw-data. Unknown parameters are ignored as Alerta does; a bad value of a known one is a
 *   400 naming it (err->field = the parameter name, e.g. "q" or "page").
 *
 * Alert JSON (every read returns this shape; core/alert.c's alert_render_json gives the same
 * for the engine's copy): {"id","href","resource","event","environment","severity",
 * "correlate":[],"status","service":[],"group","value","text","tags":[],"attributes":{},
 * "origin","type","createTime","timeout","rawData" (only when asked),"customer",
 * "duplicateCount","repeat","previousSeverity","trendIndication","receiveTime",
 * "lastReceiveId","lastReceiveTime","updateTime","history" (only when asked),"fingerprint",
 * "labels":{},"annotations":{},"source","generatorURL","startsAt","endsAt"}. Times are ISO 8601
 * UTC with milliseconds; null where absent. A history entry is {"id","href","event","severity",
 * "status","value","text","type","updateTime","user","timeout"}, newest first.
 *
 * Every function returns TOCSIN_OK with *out set (a new reference), or an error with err set:
 * TOCSIN_EINVAL (err->status 400, or 416 for a page past the end), TOCSIN_ENOTFOUND (404),
 * TOCSIN_ESTORE (500, logged). */
#ifndef TOCSIN_ALERT_READ_H
#define TOCSIN_ALERT_READ_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/alert.h"
#include "core/verr.h"

#define ALERT_READ_MAX_PAGE 10000

/* One decoded query parameter; the order of the URL is kept. */
struct qparam {
    const char *k, *v;
};

struct aread_opts {
    int64_t now_ms;               /* for flapping, standing, and heartbeat-style ages */
    const char *href_base;        /* e.g. "http://127.0.0.1:8072/alerta"; NULL: no "href" */
    const struct sevmap *sev;
    const char *const *customers; /* tenant restriction: only these customers; NULL: all */
    size_t ncustomers;
};

/* Registers REGEXP (PCRE2, compiled patterns cached per statement) and anything else the
 * queries need on a connection. Call once per connection. */
int aread_init_db(sqlite3 *db);

/* Splits a raw query string ("a=1&b=%20x") into params, URL-decoding into `scratch` (at least
 * strlen(query) + 1 bytes). Returns the count (at most max); excess is ignored. */
size_t aread_split_query(const char *query, char *scratch, struct qparam *out, size_t max);

/* GET /alerts: {"status":"ok","alerts":[...],"total","page","pageSize","pages","more",
 *  "statusCounts":{},"severityCounts":{},"lastTime","autoRefresh":true,"message"?}
 * With group-by=<field>: Alerta's grouped form. */
int aread_alerts(sqlite3 *db, const struct qparam *p, size_t n, const struct aread_opts *o,
                 json_t **out, struct verr *err);
/* GET /alerts/count: {"status":"ok","total","statusCounts","severityCounts"}. */
int aread_count(sqlite3 *db, const struct qparam *p, size_t n, const struct aread_opts *o,
                json_t **out, struct verr *err);
/* GET /alerts/top10/{count,flapping,standing}: {"status":"ok","top10":[...],"total"}. */
int aread_top10(sqlite3 *db, const char *kind, const struct qparam *p, size_t n,
                const struct aread_opts *o, json_t **out, struct verr *err);
/* GET /alerts/history: {"status":"ok","history":[...],"total"}. */
int aread_history(sqlite3 *db, const struct qparam *p, size_t n, const struct aread_opts *o,
                  json_t **out, struct verr *err);
/* GET /environments, /services, /alerts/groups, /alerts/tags: Alerta's shapes
 * ({"status":"ok","environments":[{"environment","count","severityCounts","statusCounts"}],
 *  "total"} and likewise). `what` is "environments", "services", "groups" or "tags". */
int aread_facet(sqlite3 *db, const char *what, const struct qparam *p, size_t n,
                const struct aread_opts *o, json_t **out, struct verr *err);
/* GET /alert/{id}: id or a prefix of id or lastReceiveId. {"status":"ok","total":1,"alert":{..
 * with history and rawData}}. TOCSIN_ENOTFOUND. */
int aread_alert(sqlite3 *db, const char *id, const struct aread_opts *o, json_t **out,
                struct verr *err);
/* The full id of the alert an id or prefix names (customer restriction applies).
 * TOCSIN_ENOTFOUND if none. */
int aread_resolve_id(sqlite3 *db, const char *id, const struct aread_opts *o, char out[37]);
/* GET /alert/{id}/notes: {"status":"ok","notes":[...],"total"}. */
int aread_notes(sqlite3 *db, const char *alert_id, const struct aread_opts *o, json_t **out,
                struct verr *err);

#endif
