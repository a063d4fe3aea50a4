/* The read side of alerts: Alerta's query API over the SQLite schema of store/alert_schema.h.
 * Runs on a reader connection (a reader thread), never on the engine thread.
 *
 * Query parameters are Alerta 9's (alerta/database/backends/postgres/utils.py):
 *   field=v (repeated: any of), field!=v, a "~" prefix for a case-insensitive regular
 *   expression (PCRE2; several values with a ~ are joined into one alternation, as Alerta does),
 *   attributes.<k>=v (and tocsin's labels.<k>, annotations.<k>), id (a prefix of id or
 *   lastReceiveId), service, tag / tags and correlate (list overlap), from-date / to-date
 *   (lastReceiveTime, ISO 8601), q= (Lucene-like: f:term, "phrase", wildcards * ?, /regex/,
 *   [a TO b] / {a TO b}, f:>=v, _exists_:k, AND / && / OR / || / NOT / ! / - / +, parentheses;
 *   q.df sets the default field, "text"; field names are the API's or Alerta's columns),
 *   sort-by=[-]field (repeated; severity sorts by code, times newest first), reverse,
 *   group-by (top10), page (1-based), page-size or limit (default 50, at most
 *   ALERT_READ_MAX_PAGE), show-history, show-raw-data. Without sort-by the order is Alerta's
 *   SORT_LIST_BY, most severe first then newest.
 *   As in Alerta 9, a parameter that is no field is a 400 "Invalid filter parameter: <name>"
 *   (except _, callback, token, api-key, q.df and the ones above). A bad value of a known one is
 *   a 400 naming it (err->field = the parameter, e.g. "q", "page", "attributes.region").
 *
 * Where tocsin differs from Alerta, on purpose:
 *   - field=~v is a regular expression for one value too (Alerta: ILIKE '%v%'); the same
 *     results for plain text.
 *   - to-date does not default to the query time on /alerts (one snapshot is consistent
 *     already, and the engine's clock may run a little ahead of the reader's).
 *   - a phrase in q= is literal text between word boundaries (Alerta pastes it into a regex);
 *     words may hold '.' and backslash escapes; "-x" is NOT x (Alerta's SQL breaks on it); an
 *     unknown field or a bad value in q= is a 400 (Alerta: a 500 from Postgres).
 *   - top10 counts each alert once; Alerta joins alerts with their services, so an alert
 *     without a service is missing and one with two services counts twice. Lists of a top10
 *     entry hold at most 100 items.
 *   - /alerts leaves rawData and history out unless asked (Alerta sends "rawData":null and
 *     "history":[]), to keep the shape of alert_render_json.
 *   - "reverse" is read (a flag) although Alerta 9 dropped it; page=abc and page-size=-1 are
 *     400s (Alerta silently uses the default).
 *
 * Alert JSON (every read returns this shape; core/alert.c's alert_render_json gives the same
 * for the engine's copy, byte for byte once dumped with JSON_COMPACT): {"id","href",
 * "resource","event","environment","severity","correlate":[],"status","service":[],"group",
 * "value","text","tags":[],"attributes":{},"origin","type","createTime","timeout","rawData"
 * (only when asked),"customer","duplicateCount","repeat","previousSeverity","trendIndication",
 * "receiveTime","lastReceiveId","lastReceiveTime","updateTime","history" (only when asked),
 * "fingerprint","labels":{},"annotations":{},"source","generatorURL","startsAt","endsAt"}.
 * Times are ISO 8601 UTC with milliseconds; null where absent. A history entry is {"id","href",
 * "event","severity","status","value","text","type","updateTime","user","timeout"}, newest
 * first. Counts objects (statusCounts, severityCounts) have their keys sorted.
 *
 * Every function returns TOCSIN_OK with *out set (a new reference the caller decrefs), or an
 * error with err set: TOCSIN_EINVAL (err->status 400, or 416 for a page out of range),
 * TOCSIN_ENOTFOUND (404), TOCSIN_EAGAIN (503: the read ran longer than its budget of 5 s),
 * TOCSIN_ESTORE (500, logged), TOCSIN_ENOMEM. `p` and `o` are borrowed for the call.
 *
 * On the connection: call aread_init_db() once after opening it. Each call reads in one
 * transaction (it opens one unless the caller has one open) and installs its own progress
 * handler for its duration (the time budget), removing it before it returns. The connection
 * belongs to one thread. */
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

struct facets;
struct sidx;

/* One decoded query parameter; the order of the URL is kept. */
struct qparam {
    const char *k, *v;
};

struct aread_opts {
    int64_t now_ms;               /* the flapping window ends here; lastTime of an empty list */
    const char *href_base;        /* e.g. "http://127.0.0.1:8072/alerta"; NULL: no "href" */
    const struct sevmap *sev;     /* names severityCounts by code (NULL: counted by name) */
    const char *const *customers; /* tenant restriction: only these customers; NULL: all */
    size_t ncustomers;
    /* Optional: alerts by status and severity index ([AST_COUNT][SEVMAP_MAX], flattened) as
     * the engine keeps them. A list or count filtered by nothing but exact statuses (what
     * consoles send) takes its total, statusCounts and severityCounts from here instead of
     * counting rows (0.1-0.4 s at a million). They may run a few ms ahead of the page's
     * snapshot. NULL: always count rows. */
    const uint64_t *counts;
    /* Optional: the engine's short id index (util/sidx.h), which look-ups by id or id prefix
     * take their candidate rows from. NULL (or unusable): they scan the table. */
    struct sidx *sidx;
    /* Optional: the engine's facet counts (core/facets.h). /environments, /services,
     * /alerts/groups and /alerts/tags filtered by nothing but exact statuses and environments,
     * and /alerts/top10/count by event filtered by exact statuses, without a customer
     * restriction, answer from them instead of counting rows (3.5 s to past the 5 s budget at a
     * million); like `counts`, they may run a few ms ahead of a snapshot. NULL: count rows. */
    struct facets *facets;
};

/* Registers REGEXP (PCRE2, compiled patterns cached per statement). No mmap_size: see
 * aread_map. Call once per connection. */
int aread_init_db(sqlite3 *db);
/* Maps the connection's database file for its reads (on), or drops the mapping (off), for the
 * length of one scan of rows' later columns or of the start-up load (alert_read.c says why no
 * longer). Best effort: false if SQLite refused, and the reads then use pread as ever. */
bool aread_map(sqlite3 *db, bool on);

/* Splits a raw query string ("a=1&b=%20x") into params, URL-decoding into `scratch` (at least
 * strlen(query) + 1 bytes). Returns the count (at most max); excess is ignored. */
size_t aread_split_query(const char *query, char *scratch, struct qparam *out, size_t max);

/* GET /alerts: {"status":"ok","alerts":[...],"total","page","pageSize","pages","more",
 *  "statusCounts":{},"severityCounts":{},"lastTime","autoRefresh":true}; with no alert,
 *  total 0, pages 0, more false, lastTime the query time (o->now_ms) and "message":"not found"
 *  after "status". A page below 1, or past the last page of a non-empty result, is a 416 "page out of
 *  range: 1-<pages>". group-by is accepted and ignored, as Alerta 9 does. */
int aread_alerts(sqlite3 *db, const struct qparam *p, size_t n, const struct aread_opts *o,
                 json_t **out, struct verr *err);
/* GET /alerts/count: {"status":"ok","total","statusCounts","severityCounts",
 * "autoRefresh":true}. */
int aread_count(sqlite3 *db, const struct qparam *p, size_t n, const struct aread_opts *o,
                json_t **out, struct verr *err);
/* GET /alerts/top10/{count,flapping,standing}: {"status":"ok","top10":[{"count",
 * "duplicateCount","environments","services",<group-by, default "event">,"resources":[{"id",
 * "resource","href"}]}],"total","autoRefresh":true} ("message":"not found" when empty). Ten
 * groups: count by alerts; flapping (more than 2 severity changes in the 1800 s before
 * o->now_ms) by those changes; standing by summed lastReceiveTime - createTime. Another kind is
 * TOCSIN_ENOTFOUND. */
int aread_top10(sqlite3 *db, const char *kind, const struct qparam *p, size_t n,
                const struct aread_opts *o, json_t **out, struct verr *err);
/* GET /alerts/history: {"status":"ok","history":[...],"total"}: the history entries of the
 * matching alerts, newest first, paged (total is the size of the page, as Alerta), each
 * {"id","href","resource","event","environment","service","group","text","tags","attributes",
 * "origin","updateTime","user","timeout","type","customer"} plus "severity","value" when the
 * entry has a severity and "status" when it has a status (Alerta's RichHistory). */
int aread_history(sqlite3 *db, const struct qparam *p, size_t n, const struct aread_opts *o,
                  json_t **out, struct verr *err);
/* GET /environments, /services, /alerts/groups, /alerts/tags: Alerta's shapes
 * ({"status":"ok","environments":[{"environment","count","severityCounts","statusCounts"}],
 *  "total"}; services add "service" after "environment"; groups [{"environment","group",
 *  "count"}]; tags [{"environment","tag","count"}]). Environments and services list every one
 * there is (within the customer restriction), with the counts of the matching alerts, zero for
 * the others, as Alerta does; at most 1000 entries. `what` is "environments", "services",
 * "groups" or "tags"; anything else is TOCSIN_ENOTFOUND. */
int aread_facet(sqlite3 *db, const char *what, const struct qparam *p, size_t n,
                const struct aread_opts *o, json_t **out, struct verr *err);
/* GET /alert/{id}: id or a prefix of id or lastReceiveId (case-insensitive; the id by its
 * index, lastReceiveId by a scan when no id matches). {"status":"ok","total":1,"alert":{..
 * with history and rawData}}. TOCSIN_ENOTFOUND (err->status 404, "not found"). */
int aread_alert(sqlite3 *db, const char *id, const struct aread_opts *o, json_t **out,
                struct verr *err);
/* The full id of the alert an id or prefix names (customer restriction applies).
 * TOCSIN_ENOTFOUND if none. */
int aread_resolve_id(sqlite3 *db, const char *id, const struct aread_opts *o, char out[37]);
/* GET /alert/{id}/notes: {"status":"ok","notes":[{"id","href","text","user","attributes",
 * "type":"alert","createTime","updateTime","_links":{"alert"},"customer"}],"total"}, oldest
 * first, at most 1000 ("message":"not found" when none). TOCSIN_ENOTFOUND for no alert. */
int aread_notes(sqlite3 *db, const char *alert_id, const struct aread_opts *o, json_t **out,
                struct verr *err);

#endif
