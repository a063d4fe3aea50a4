/* Heartbeat and blackout requests: routed, checked and handed to the engine thread (see
 * alerta_hbbo.h and daemon/hbbo.h). Bodies and status codes are Alerta's on both surfaces;
 * errors are Alerta's {"status":"error","message","code","errors":null} under /alerta and
 * tocsin's {"error","field","status"} under /api/v1. */
#include "compat/alerta_hbbo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "daemon/hbbo.h"
#include "net/authz.h"
#include "util/err.h"
#include "util/hex.h"

#define QPARAMS_MAX 256 /* query parameters read from one URL; the rest are ignored */
#define ID_MAX 129      /* bytes (with NUL) of an id in a path: HEARTBEAT_MAX_ID, BLACKOUT_MAX_ID */

enum form {
    F_NONE = 0,
    F_CREATE, /* Alerta's "/heartbeat": POST */
    F_LIST,   /* Alerta's "/heartbeats": GET */
    F_COLL,   /* tocsin's "/heartbeats": GET lists, POST creates */
    F_ITEM,   /* ".../{id}" */
    F_HEALTH, /* Alerta's "/management/healthcheck" */
};

struct route {
    enum form form;
    bool hb; /* heartbeats, else blackouts */
    char id[ID_MAX];
    bool id_ok; /* F_ITEM: the id fits */
};

/* "/<one>", "/<many>" or "/<one or many>/<id>" (after the surface's prefix). */
static bool parse_route(const char *p, bool alerta, struct route *r)
{
    static const struct {
        const char *one, *many;
        bool hb;
    } colls[] = {{"/heartbeat", "/heartbeats", true}, {"/blackout", "/blackouts", false}};

    memset(r, 0, sizeof(*r));
    if (alerta && !strcmp(p, "/management/healthcheck")) {
        r->form = F_HEALTH;
        return true;
    }
    if (!alerta) {
        if (strncmp(p, "/api/v1", 7) != 0)
            return false;
        p += 7;
    }
    for (size_t i = 0; i < sizeof(colls) / sizeof(colls[0]); i++) {
        const char *item = alerta ? colls[i].one : colls[i].many;
        size_t n = strlen(item);
        r->hb = colls[i].hb;
        if (alerta && !strcmp(p, colls[i].one)) {
            r->form = F_CREATE;
            return true;
        }
        if (!strcmp(p, colls[i].many)) {
            r->form = alerta ? F_LIST : F_COLL;
            return true;
        }
        if (!strncmp(p, item, n) && p[n] == '/') {
            const char *id = p + n + 1;
            size_t len = strlen(id);
            r->form = F_ITEM;
            r->id_ok = len && len < ID_MAX && !strchr(id, '/');
            if (r->id_ok)
                memcpy(r->id, id, len + 1);
            return true;
        }
    }
    return false;
}

bool alerta_hbbo_owns(const char *path, bool alerta)
{
    struct route r;

    return parse_route(path, alerta, &r);
}

/* ---- answers ----------------------------------------------------------------------------- */

static bool allowed(const struct http_req *req, struct http_resp *resp, bool alerta,
                    const char *scope)
{
    char msg[96];

    if (!scope || principal_allows(req->principal, scope))
        return true;
    if (alerta)
        return authz_require(req->principal, scope, resp);
    snprintf(msg, sizeof(msg), "Missing required scope: %s", scope);
    api_fail_as(resp, false, 403, NULL, msg);
    return false;
}

/* ---- the query of a list ----------------------------------------------------------------- */

static void url_decode(char *s)
{
    char *o = s;

    for (; *s; s++) {
        if (*s == '+') {
            *o++ = ' ';
        } else if (*s == '%' && hex_digit(s[1]) >= 0 && hex_digit(s[2]) >= 0) {
            *o++ = (char)(hex_digit(s[1]) * 16 + hex_digit(s[2]));
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* A whole number in [min, max] into *out; false if it is not one. */
static bool whole(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

struct listq {
    const char *sorts[QPARAMS_MAX];
    size_t nsorts;
    const char *page, *page_size, *limit;
};

/* Alerta's list parameters: status (repeated: any of; unknown values are ignored, as Alerta
 * does), sort-by (repeated), and for heartbeats page, page-size (or the older limit). */
static enum http_outcome parse_query(const struct http_req *req, struct http_resp *resp,
                                     bool alerta, struct hbbo_req *r, bool hb)
{
    char *scratch = strdup(req->query), *next;
    struct listq q = {.nsorts = 0};
    struct verr err = {0};
    size_t n = 0;
    int rc;

    if (!scratch)
        return api_fail_as(resp, alerta, 503, NULL, "out of memory");
    for (char *kv = scratch; kv && n < QPARAMS_MAX; kv = next, n++) {
        char *v;
        int st;
        if ((next = strchr(kv, '&')))
            *next++ = '\0';
        if (!*kv)
            continue;
        v = strchr(kv, '=');
        if (v)
            *v++ = '\0';
        else
            v = kv + strlen(kv);
        url_decode(kv);
        url_decode(v);
        if (!strcmp(kv, "status")) {
            st = hb ? heartbeat_status_parse(v) : blackout_status_parse(v);
            if (st >= 0)
                r->status_mask |= 1u << st;
        } else if (!strcmp(kv, "sort-by") && q.nsorts < QPARAMS_MAX) {
            q.sorts[q.nsorts++] = v;
        } else if (!strcmp(kv, "page")) {
            q.page = v;
        } else if (!strcmp(kv, "page-size")) {
            q.page_size = v;
        } else if (!strcmp(kv, "limit")) {
            q.limit = v;
        }
    }
    rc = hb ? heartbeat_sort_parse(q.sorts, q.nsorts, r->hsort, &r->nhsort, &err)
            : blackout_sort_parse(q.sorts, q.nsorts, r->bsort, &r->nbsort, &err);
    r->page = 1;
    r->page_size = 0;
    if (!rc && hb && q.page && !whole(q.page, INT32_MIN, INT32_MAX, &r->page))
        rc = verr_set(&err, "page", "page must be a whole number");
    if (!rc && hb && q.page_size && !whole(q.page_size, 0, HBBO_MAX_PAGE, &r->page_size))
        rc =
            verr_set(&err, "page-size", "page-size must be a whole number up to %d", HBBO_MAX_PAGE);
    if (!rc && hb && !q.page_size && q.limit && !whole(q.limit, 0, HBBO_MAX_PAGE, &r->page_size))
        rc = verr_set(&err, "limit", "limit must be a whole number up to %d", HBBO_MAX_PAGE);
    free(scratch); /* the sort names were copied by the parse */
    if (!r->page_size)
        r->page_size = HBBO_PAGE_SIZE; /* Alerta: 0 or absent is the default */
    if (rc)
        return api_fail_verr_as(resp, alerta, &err);
    if (hb && r->page < 1) /* Alerta checks it before counting */
        return api_fail_as(resp, alerta, 416, "page", "page out of range");
    return HTTP_DEFERRED;
}

/* ---- requests ------------------------------------------------------------------------------ */

/* The operation and the scope it needs (Alerta's views: read:x for reads, write:x for the rest;
 * the healthcheck needs none). F_NONE op: 405. */
static bool pick_op(const struct route *rt, const char *method, enum hbbo_op *op,
                    const char **scope)
{
    bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST"), put = !strcmp(method, "PUT"),
         del = !strcmp(method, "DELETE");
    const char *rd = rt->hb ? "read:heartbeats" : "read:blackouts";
    const char *wr = rt->hb ? "write:heartbeats" : "write:blackouts";

    *scope = get ? rd : wr;
    switch (rt->form) {
    case F_HEALTH:
        *scope = NULL;
        *op = HBBO_HEALTH;
        return get;
    case F_CREATE:
        *op = rt->hb ? HBBO_HB_POST : HBBO_BO_POST;
        return post;
    case F_LIST:
        *op = rt->hb ? HBBO_HB_LIST : HBBO_BO_LIST;
        return get;
    case F_COLL:
        *op = rt->hb ? (get ? HBBO_HB_LIST : HBBO_HB_POST) : (get ? HBBO_BO_LIST : HBBO_BO_POST);
        return get || post;
    case F_ITEM:
        if (get)
            *op = rt->hb ? HBBO_HB_GET : HBBO_BO_GET;
        else if (del)
            *op = rt->hb ? HBBO_HB_DELETE : HBBO_BO_DELETE;
        else if (put && !rt->hb)
            *op = HBBO_BO_PUT;
        else
            return false;
        return true;
    case F_NONE:
        break;
    }
    return false;
}

static enum http_outcome read_body(const struct http_req *req, struct http_resp *resp, bool alerta,
                                   struct hbbo_req *r)
{
    struct verr err = {0};

    if (api_parse_json(req->body, req->body_len, &r->body, &err))
        return api_fail_verr_as(resp, alerta, &err);
    if (!json_is_object(r->body))
        return api_fail_as(resp, alerta, 400, "body", "must be a JSON object");
    return HTTP_DEFERRED;
}

enum http_outcome alerta_hbbo_http(struct app *a, const struct http_req *req,
                                   struct http_resp *resp, bool alerta, const char *path)
{
    struct route rt;
    struct hbbo_req *r;
    struct emsg *m;
    const char *scope;
    enum hbbo_op op;

    if (!parse_route(path, alerta, &rt))
        return api_fail_as(resp, alerta, 404, NULL, "not found");
    if (!pick_op(&rt, req->method, &op, &scope))
        return api_fail_as(resp, alerta, 405, NULL, "method not allowed here");
    if (!allowed(req, resp, alerta, scope))
        return HTTP_DONE;
    if (rt.form == F_ITEM && !rt.id_ok)
        return api_fail_as(resp, alerta, 404, "id", "not found");
    r = calloc(1, sizeof(*r));
    if (!r || (rt.form == F_ITEM && !(r->id = strdup(rt.id)))) {
        hbbo_req_free(r);
        return api_fail_as(resp, alerta, 503, NULL, "out of memory");
    }
    r->op = op;
    r->alerta = alerta;
    r->who = *req->principal;
    if (((op == HBBO_HB_POST || op == HBBO_BO_POST || op == HBBO_BO_PUT) &&
         read_body(req, resp, alerta, r) == HTTP_DONE) ||
        ((op == HBBO_HB_LIST || op == HBBO_BO_LIST) &&
         parse_query(req, resp, alerta, r, op == HBBO_HB_LIST) == HTTP_DONE)) {
        hbbo_req_free(r);
        return HTTP_DONE;
    }
    m = emsg_new(EM_HBBO);
    if (!m) {
        hbbo_req_free(r);
        return api_fail_as(resp, alerta, 503, NULL, "out of memory");
    }
    m->hbbo = r;
    m->req_id = req->id;
    m->reply = alerta ? REPLY_ALERTA_OK : REPLY_OK;
    m->href_base = api_href_base(req, alerta);
    if (app_to_engine(a, m, false)) {
        api_fail_as(resp, alerta, 503, NULL, "busy, try again");
        snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Retry-After: 1\r\n");
        return HTTP_DONE;
    }
    return HTTP_DEFERRED;
}
