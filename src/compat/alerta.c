/* The Alerta 9 API under /alerta (and the same alerts under /api/v1/alerts).
 *
 * Writes (POST /alert, PUT /alert/{id}/..., DELETE) go to the engine thread, which owns every
 * alert, and are answered once committed. Reads run on a reader thread against the store
 * (store/alert_read.h), never on the network or engine thread. Bodies and status codes are
 * Alerta's; errors are {"status":"error","message","code","errors":null} plus "field". */
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "compat/alerta_hbbo.h"
#include "compat/alerta_parse.h"
#include "net/authz.h"
#include "store/alert_read.h"
#include "store/store.h"
#include "util/err.h"

#define QPARAMS_MAX 256   /* query parameters read from one URL */
#define ID_MAX 64         /* an alert id or prefix as given in a path */
#define OP_BODY_MAX_ITEMS ALERT_MAX_ITEMS

/* ---- answers ----------------------------------------------------------------------------- */

static enum http_outcome busy(struct http_resp *resp, bool alerta)
{
    api_fail_as(resp, alerta, 503, NULL, "busy, try again");
    snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Retry-After: 1\r\n");
    return HTTP_DONE;
}

/* ---- reads ------------------------------------------------------------------------------- */

enum read_kind {
    RK_ALERTS = 0, RK_COUNT, RK_TOP10, RK_HISTORY, RK_FACET, RK_ALERT, RK_NOTES, RK_RESOLVE
};

struct read_ctx {
    enum read_kind kind;
    bool alerta;
    char *query; /* raw query string */
    char *arg;   /* id, top10 kind or facet name */
    char *href;
    int64_t now;
    struct emsg *then; /* RK_RESOLVE: the operation to hand to the engine once resolved */
    bool have_counts;  /* counts below are the engine's (lists and counts only) */
    uint64_t counts[AST_COUNT][SEVMAP_MAX];
    size_t ncust;      /* the principal's customers (0: all), copied: it is borrowed */
    char cust[PRINCIPAL_MAX_CUSTOMERS][PRINCIPAL_NAME_MAX + 1];
    const char *custp[PRINCIPAL_MAX_CUSTOMERS];
};

static void read_ctx_free(void *p)
{
    struct read_ctx *c = p;

    if (!c)
        return;
    free(c->query);
    free(c->arg);
    free(c->href);
    emsg_free(c->then);
    free(c);
}

/* RK_RESOLVE: the id prefix (within the principal's customers) names one alert; its full id
 * goes into the waiting operation, which is handed to the engine (it answers). */
static void resolve_then_submit(struct app *a, sqlite3 *db, struct read_ctx *c,
                                const struct aread_opts *o, struct http_resp *resp)
{
    struct emsg *m = c->then;
    char full[37];

    if (aread_resolve_id(db, c->arg, o, full) || !uuid_from_text(full, 36, m->alert_id)) {
        api_fail_as(resp, c->alerta, 404, "id", "not found");
        return;
    }
    c->then = NULL;
    if (app_to_engine(a, m, true)) {
        api_fail_as(resp, c->alerta, 503, NULL, "busy, try again");
        return;
    }
    resp->status = 0; /* the engine answers it */
}

static void run_read(struct app *a, struct store *rs, struct rjob *j, struct http_resp *resp)
{
    struct read_ctx *c = j->ctx;
    sqlite3 *db = store_native(rs);
    struct aread_opts o = {.now_ms = c->now,
                           .href_base = c->href,
                           .sev = &a->sev,
                           .customers = c->ncust ? c->custp : NULL,
                           .ncustomers = c->ncust,
                           .counts = c->have_counts ? &c->counts[0][0] : NULL,
                           .sidx = a->sidx,
                           .facets = a->facets};
    struct qparam p[QPARAMS_MAX];
    char *scratch;
    struct verr err = {0};
    json_t *out = NULL;
    size_t n;
    int rc;

    if (c->kind == RK_RESOLVE) {
        resolve_then_submit(a, db, c, &o, resp);
        return;
    }
    if (!(scratch = malloc(strlen(c->query) + 1))) {
        api_fail_as(resp, c->alerta, 503, NULL, "out of memory");
        return;
    }
    n = aread_split_query(c->query, scratch, p, QPARAMS_MAX);
    switch (c->kind) {
    case RK_ALERTS: rc = aread_alerts(db, p, n, &o, &out, &err); break;
    case RK_COUNT: rc = aread_count(db, p, n, &o, &out, &err); break;
    case RK_TOP10: rc = aread_top10(db, c->arg, p, n, &o, &out, &err); break;
    case RK_HISTORY: rc = aread_history(db, p, n, &o, &out, &err); break;
    case RK_FACET: rc = aread_facet(db, c->arg, p, n, &o, &out, &err); break;
    case RK_ALERT: rc = aread_alert(db, c->arg, &o, &out, &err); break;
    case RK_NOTES: rc = aread_notes(db, c->arg, &o, &out, &err); break;
    default: rc = verr_set(&err, NULL, "unknown read"); break;
    }
    free(scratch);
    if (rc == TOCSIN_ENOTFOUND) {
        api_fail_as(resp, c->alerta, 404, err.field[0] ? err.field : "id", "not found");
    } else if (rc) {
        if (!err.msg[0])
            verr_set(&err, NULL, "query failed");
        if (!err.status) /* a bad parameter is the caller's; anything else the store's */
            err.status = rc == TOCSIN_EINVAL ? 400 : 500;
        api_fail_verr_as(resp, c->alerta, &err);
    } else {
        api_json(resp, 200, out);
    }
}

static enum http_outcome start_read(struct app *a, const struct http_req *req,
                                    struct http_resp *resp, bool alerta, enum read_kind kind,
                                    const char *arg, struct emsg *then)
{
    struct read_ctx *c = calloc(1, sizeof(*c));
    struct rjob *j = calloc(1, sizeof(*j));

    if (!c || !j || !(c->query = strdup(req->query)) || (arg && !(c->arg = strdup(arg)))) {
        free(j);
        if (c)
            c->then = then;
        else
            emsg_free(then);
        read_ctx_free(c);
        api_fail_as(resp, alerta, 503, NULL, "out of memory");
        return HTTP_DONE;
    }
    c->kind = kind;
    c->alerta = alerta;
    c->href = api_href_base(req, alerta);
    if (kind == RK_ALERTS || kind == RK_COUNT) {
        pthread_mutex_lock(&a->stats_mu);
        memcpy(c->counts, a->ast.by_status_sev, sizeof(c->counts));
        pthread_mutex_unlock(&a->stats_mu);
        c->have_counts = true;
    }
    {
        const char *cs[PRINCIPAL_MAX_CUSTOMERS];
        c->ncust = principal_customers(req->principal, cs, PRINCIPAL_MAX_CUSTOMERS);
        for (size_t i = 0; i < c->ncust; i++) {
            snprintf(c->cust[i], sizeof(c->cust[i]), "%s", cs[i]);
            c->custp[i] = c->cust[i];
        }
    }
    c->now = app_now_ms(a);
    c->then = then;
    j->req_id = req->id;
    j->fn = run_read;
    j->ctx = c;
    j->free_ctx = read_ctx_free;
    if (app_to_reader(a, j))
        return busy(resp, alerta);
    return HTTP_DEFERRED;
}

/* ---- writes ------------------------------------------------------------------------------ */

/* Hands m to the engine. `id` is the alert's id as the path gave it: a whole UUID goes straight
 * to the engine, a prefix is resolved by a reader first (Alerta matches prefixes). */
static enum http_outcome submit(struct app *a, const struct http_req *req, struct http_resp *resp,
                                bool alerta, struct emsg *m, const char *id)
{
    m->req_id = req->id;
    m->reply = alerta ? REPLY_ALERTA_OK : REPLY_OK;
    if (req->user && !(m->user = strdup(req->user))) {
        emsg_free(m);
        api_fail_as(resp, alerta, 503, NULL, "out of memory");
        return HTTP_DONE;
    }
    m->href_base = api_href_base(req, alerta);
    /* A prefix is resolved by a reader; so is any id for a principal restricted to customers,
     * since the reader applies the restriction (an alert of another customer is "not found"). */
    if (id && (!uuid_from_text(id, strlen(id), m->alert_id) ||
               (req->principal && req->principal->ncustomers > 0)))
        return start_read(a, req, resp, alerta, RK_RESOLVE, id, m);
    if (app_to_engine(a, m, false))
        return busy(resp, alerta);
    return HTTP_DEFERRED;
}

static struct emsg *new_alerts_msg(size_t body_len)
{
    struct emsg *m = emsg_new(EM_ALERTS);

    if (m) {
        arena_free(&m->arena);
        arena_init(&m->arena, body_len * 24 + 64 * 1024); /* alerta_parse.h: the ceiling */
    }
    return m;
}

/* POST /alert (one alert) or POST /api/v1/alerts (one or an array). */
static enum http_outcome post_alerts(struct app *a, const struct http_req *req,
                                     struct http_resp *resp, bool alerta)
{
    struct verr err = {0};
    struct emsg *m;
    struct alert_in *ins = NULL;
    bool was_array = false;
    size_t n = 0;

    if (!authz_require(req->principal, "write:alerts", resp))
        return HTTP_DONE;
    if (!(m = new_alerts_msg(req->body_len))) {
        verr_set(&err, NULL, "out of memory");
        err.status = 503;
        goto fail;
    }
    if (alerta_parse(req->body, req->body_len, &m->arena, &a->sev, a->cfg->max_batch, !alerta,
                     &ins, &n, &was_array, &err))
        goto fail;
    if (!n) {
        verr_set(&err, "body", "no alerts");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) { /* Alerta's assign_customer */
        const char *cust = ins[i].customer;
        if (authz_assign_customer(req->principal, cust, "admin:alerts", &cust, err.msg,
                                  sizeof(err.msg))) {
            snprintf(err.field, sizeof(err.field), "customer");
            err.status = 400;
            goto fail;
        }
        /* an assigned customer is the principal's: copied, the principal is borrowed */
        ins[i].customer = cust ? arena_strndup(&m->arena, cust, strlen(cust)) : NULL;
        if (cust && !ins[i].customer) {
            verr_set(&err, NULL, "out of memory");
            err.status = 503;
            goto fail;
        }
    }
    m->ains = ins; /* in m's arena, which lives as long as m */
    m->nains = n;
    m->req_id = req->id;
    m->reply = was_array ? REPLY_ALERTS : REPLY_ALERTA;
    if (req->user && !(m->user = strdup(req->user))) {
        verr_set(&err, NULL, "out of memory");
        err.status = 503;
        goto fail;
    }
    m->href_base = api_href_base(req, alerta);
    if (app_to_engine(a, m, false))
        return busy(resp, alerta);
    return HTTP_DEFERRED;
fail:
    emsg_free(m);
    return api_fail_verr_as(resp, alerta, &err);
}

/* The JSON object body of a PUT, or a 400. */
static json_t *op_body(const struct http_req *req, struct http_resp *resp, bool alerta)
{
    struct verr err = {0};
    json_t *j = NULL;

    if (api_parse_json(req->body, req->body_len, &j, &err)) {
        api_fail_verr_as(resp, alerta, &err);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        api_fail_as(resp, alerta, 400, "body", "must be a JSON object");
        return NULL;
    }
    return j;
}

/* Optional string member; false (and a 400) if present but not a string. */
static bool opt_str(json_t *j, const char *k, char **out, struct http_resp *resp, bool alerta)
{
    json_t *v = json_object_get(j, k);

    *out = NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v) || json_string_length(v) > ALERT_MAX_TEXT) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%s must be a string of at most %d bytes", k, ALERT_MAX_TEXT);
        api_fail_as(resp, alerta, 400, k, msg);
        return false;
    }
    *out = strdup(json_string_value(v));
    return *out != NULL;
}

static bool opt_timeout(json_t *j, int64_t *out, struct http_resp *resp, bool alerta)
{
    json_t *v = json_object_get(j, "timeout");

    *out = -1;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > ALERT_MAX_TIMEOUT) {
        api_fail_as(resp, alerta, 400, "timeout", "timeout must be an integer");
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

static bool str_list(json_t *j, const char *k, struct emsg *m, struct strlist *out,
                     struct http_resp *resp, bool alerta)
{
    json_t *v = json_object_get(j, k), *e;
    size_t i;
    char msg[96];

    if (!json_is_array(v) || json_array_size(v) > OP_BODY_MAX_ITEMS) {
        snprintf(msg, sizeof(msg), "must supply '%s' as json list", k);
        api_fail_as(resp, alerta, 400, k, msg);
        return false;
    }
    out->n = 0;
    out->v = arena_alloc(&m->arena, (json_array_size(v) + 1) * sizeof(*out->v));
    if (!out->v)
        return false;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || json_string_length(e) > ALERT_MAX_NAME) {
            snprintf(msg, sizeof(msg), "%s[%zu] must be a string", k, i);
            api_fail_as(resp, alerta, 400, k, msg);
            return false;
        }
        out->v[out->n] = arena_strndup(&m->arena, json_string_value(e), json_string_length(e));
        if (!out->v[out->n++])
            return false;
    }
    return true;
}

static bool attr_map(json_t *j, struct emsg *m, struct kvlist *out, struct http_resp *resp,
                     bool alerta)
{
    json_t *v = json_object_get(j, "attributes"), *e;
    const char *k;

    if (!json_is_object(v) || json_object_size(v) > OP_BODY_MAX_ITEMS) {
        api_fail_as(resp, alerta, 400, "attributes", "must supply 'attributes' as json data");
        return false;
    }
    out->n = 0;
    out->v = arena_alloc(&m->arena, (json_object_size(v) + 1) * sizeof(*out->v));
    if (!out->v)
        return false;
    json_object_foreach(v, k, e) {
        char *txt;
        if (strpbrk(k, ".$") || strlen(k) > ALERT_MAX_NAME) {
            api_fail_as(resp, alerta, 400, "attributes", "Attribute keys must not contain \".\" or \"$\"");
            return false;
        }
        txt = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!txt || strlen(txt) > ALERT_MAX_ATTR_VALUE) {
            free(txt);
            api_fail_as(resp, alerta, 400, "attributes", "attribute value too large");
            return false;
        }
        out->v[out->n].k = arena_strndup(&m->arena, k, strlen(k));
        out->v[out->n].v = arena_strndup(&m->arena, txt, strlen(txt));
        free(txt);
        if (!out->v[out->n].k || !out->v[out->n].v)
            return false;
        out->n++;
    }
    return true;
}

/* PUT/DELETE on /alert/{id}[/what]. */
static enum http_outcome alert_op(struct app *a, const struct http_req *req,
                                  struct http_resp *resp, bool alerta, const char *id,
                                  const char *what)
{
    struct emsg *m;
    json_t *j = NULL;
    bool ok = true;

    if (!strcmp(req->method, "DELETE") && !*what) {
        m = emsg_new(EM_ALERT_OP);
        if (!m)
            return busy(resp, alerta);
        m->op = AOP_DELETE;
        return submit(a, req, resp, alerta, m, id);
    }
    if (strcmp(req->method, "PUT") != 0) {
        api_fail_as(resp, alerta, 405, NULL, "method not allowed here");
        return HTTP_DONE;
    }
    if (!(j = op_body(req, resp, alerta)))
        return HTTP_DONE;
    m = emsg_new(EM_ALERT_OP);
    if (!m) {
        json_decref(j);
        return busy(resp, alerta);
    }
    arena_free(&m->arena); /* tags and attributes are copied into it */
    arena_init(&m->arena, req->body_len * 2 + 64 * 1024);
    m->timeout_s = -1;
    if (!strcmp(what, "action")) {
        m->op = AOP_ACTION;
        ok = opt_str(j, "action", &m->action, resp, alerta) &&
             opt_str(j, "text", &m->text, resp, alerta) && opt_timeout(j, &m->timeout_s, resp, alerta);
        if (ok && (!m->action || !*m->action || strlen(m->action) > 64)) {
            api_fail_as(resp, alerta, 400, "action", "must supply 'action' as json data");
            ok = false;
        }
    } else if (!strcmp(what, "status")) {
        char *st = NULL;
        m->op = AOP_STATUS;
        ok = opt_str(j, "status", &st, resp, alerta) &&
             opt_str(j, "text", &m->text, resp, alerta) && opt_timeout(j, &m->timeout_s, resp, alerta);
        if (ok && (!st || (m->status = astatus_parse(st, strlen(st))) < 0)) {
            api_fail_as(resp, alerta, 400, "status", "must supply a valid 'status' as json data");
            ok = false;
        }
        free(st);
    } else if (!strcmp(what, "tag") || !strcmp(what, "untag")) {
        m->op = what[0] == 't' ? AOP_TAG : AOP_UNTAG;
        ok = str_list(j, "tags", m, &m->tags, resp, alerta);
    } else if (!strcmp(what, "attributes")) {
        m->op = AOP_ATTRIBUTES;
        ok = attr_map(j, m, &m->attrs, resp, alerta);
    } else if (!strcmp(what, "note")) {
        m->op = AOP_NOTE;
        ok = opt_str(j, "text", &m->text, resp, alerta);
        if (ok && (!m->text || !*m->text)) {
            api_fail_as(resp, alerta, 400, "text", "must supply 'text' as json data");
            ok = false;
        }
    } else {
        api_fail_as(resp, alerta, 404, NULL, "not found");
        ok = false;
    }
    json_decref(j);
    if (!ok) {
        if (!resp->body)
            api_fail_as(resp, alerta, 503, NULL, "out of memory");
        emsg_free(m);
        return HTTP_DONE;
    }
    return submit(a, req, resp, alerta, m, id);
}

/* ---- routing ----------------------------------------------------------------------------- */

/* Splits "/<id>[/<what>]" into id and what ("" if none). */
static bool split_id(const char *rest, char *id, char *what, size_t wlen)
{
    const char *slash;
    size_t n;

    if (*rest != '/')
        return false;
    rest++;
    slash = strchr(rest, '/');
    n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (!n || n >= ID_MAX)
        return false;
    memcpy(id, rest, n);
    id[n] = '\0';
    if (!slash)
        what[0] = '\0';
    else if (strlen(slash + 1) < wlen)
        memcpy(what, slash + 1, strlen(slash + 1) + 1);
    else
        return false;
    return true;
}

/* Everything about one alert, or the alert collection: `rest` is the path after the
 * collection's prefix ("/alerta/alert" or "/api/v1/alerts"). */
static enum http_outcome one_alert(struct app *a, const struct http_req *req,
                                   struct http_resp *resp, bool alerta, const char *rest)
{
    char id[ID_MAX], what[32];

    if (!split_id(rest, id, what, sizeof(what))) {
        api_fail_as(resp, alerta, 404, NULL, "not found");
        return HTTP_DONE;
    }
    if (!authz_require(req->principal,
                       !strcmp(req->method, "GET")      ? "read:alerts"
                       : !strcmp(req->method, "DELETE") ? "delete:alerts"
                                                        : "write:alerts",
                       resp))
        return HTTP_DONE;
    if (!strcmp(req->method, "GET")) {
        if (!*what)
            return start_read(a, req, resp, alerta, RK_ALERT, id, NULL);
        if (!strcmp(what, "notes"))
            return start_read(a, req, resp, alerta, RK_NOTES, id, NULL);
        api_fail_as(resp, alerta, 404, NULL, "not found");
        return HTTP_DONE;
    }
    return alert_op(a, req, resp, alerta, id, what);
}

/* The alert collection's reads: "" (list), "/count", "/top10/<kind>", "/history",
 * "/groups", "/tags". */
static enum http_outcome collection(struct app *a, const struct http_req *req,
                                    struct http_resp *resp, bool alerta, const char *rest)
{
    if (!authz_require(req->principal, "read:alerts", resp))
        return HTTP_DONE;
    if (!*rest)
        return start_read(a, req, resp, alerta, RK_ALERTS, NULL, NULL);
    if (!strcmp(rest, "/count"))
        return start_read(a, req, resp, alerta, RK_COUNT, NULL, NULL);
    if (!strcmp(rest, "/history"))
        return start_read(a, req, resp, alerta, RK_HISTORY, NULL, NULL);
    if (!strcmp(rest, "/groups"))
        return start_read(a, req, resp, alerta, RK_FACET, "groups", NULL);
    if (!strcmp(rest, "/tags"))
        return start_read(a, req, resp, alerta, RK_FACET, "tags", NULL);
    if (!strcmp(rest, "/top10/count") || !strcmp(rest, "/top10/flapping") ||
        !strcmp(rest, "/top10/standing"))
        return start_read(a, req, resp, alerta, RK_TOP10, rest + 7, NULL);
    return one_alert(a, req, resp, alerta, rest);
}

static enum http_outcome housekeeping(struct app *a, const struct http_req *req,
                                      struct http_resp *resp)
{
    char v[32], *end;
    struct emsg *m = emsg_new(EM_ALERT_OP);
    const char *keys[2] = {"expired", "info"};
    int64_t *dst[2];

    if (!m)
        return busy(resp, true);
    m->op = AOP_HOUSEKEEPING;
    m->hk_expired_s = m->hk_info_s = -1;
    dst[0] = &m->hk_expired_s;
    dst[1] = &m->hk_info_s;
    /* Alerta's `expired` and `info` thresholds are in hours */
    for (int i = 0; i < 2; i++) {
        long long h;
        if (!http_req_query(req, keys[i], v, sizeof(v)))
            continue;
        h = strtoll(v, &end, 10);
        if (end == v || *end || h < 0 || h > 24LL * 3650) {
            emsg_free(m);
            api_fail_as(resp, true, 400, keys[i], "must be a number of hours");
            return HTTP_DONE;
        }
        *dst[i] = h * 3600;
    }
    return submit(a, req, resp, true, m, NULL);
}

enum http_outcome alerta_http(struct app *a, const struct http_req *req, struct http_resp *resp)
{
    const char *p = req->path + 7; /* after "/alerta" */

    if (!strcmp(p, "/alert") && !strcmp(req->method, "POST"))
        return post_alerts(a, req, resp, true);
    if (!strncmp(p, "/alert/", 7))
        return one_alert(a, req, resp, true, p + 6);
    if (!strncmp(p, "/alerts", 7) && (!p[7] || p[7] == '/')) {
        if (strcmp(req->method, "GET") != 0) {
            api_fail_as(resp, true, 405, NULL, "method not allowed here");
            return HTTP_DONE;
        }
        return collection(a, req, resp, true, p + 7);
    }
    if (!strcmp(p, "/environments") || !strcmp(p, "/services")) {
        if (!authz_require(req->principal, "read:alerts", resp))
            return HTTP_DONE;
        return start_read(a, req, resp, true, RK_FACET, p + 1, NULL);
    }
    if (!strncmp(p, "/key", 4))
        return api_keys(a, req, resp, p, true);
    if (!strcmp(p, "/management/gtg")) {
        resp->status = 200;
        resp->content_type = "text/plain";
        resp->body = strdup("OK");
        resp->body_len = 2;
        return HTTP_DONE;
    }
    if (!strcmp(p, "/management/housekeeping")) {
        if (!authz_require(req->principal, "admin:management", resp))
            return HTTP_DONE;
        return housekeeping(a, req, resp);
    }
    if (alerta_hbbo_owns(p, true))
        return alerta_hbbo_http(a, req, resp, true, p);
    if (!strcmp(p, "") || !strcmp(p, "/")) {
        api_json(resp, 200, json_pack("{s:s,s:s}", "status", "ok", "server", "tocsin"));
        return HTTP_DONE;
    }
    api_fail_as(resp, true, 404, NULL, "not found");
    return HTTP_DONE;
}

enum http_outcome api_alerts(struct app *a, const struct http_req *req, struct http_resp *resp)
{
    const char *rest = req->path + 14; /* after "/api/v1/alerts" */

    if (!*rest && !strcmp(req->method, "POST"))
        return post_alerts(a, req, resp, false);
    if (!strcmp(req->method, "GET"))
        return collection(a, req, resp, false, rest);
    if (*rest)
        return one_alert(a, req, resp, false, rest);
    api_fail_as(resp, false, 405, NULL, "method not allowed here");
    return HTTP_DONE;
}
