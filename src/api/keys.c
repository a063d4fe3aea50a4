/* API keys: /alerta/key(s) (Alerta's shapes) and /api/v1/keys.
 *
 * The key table (net/keys.h) is thread-safe and lives with the network thread's authentication:
 * a key is usable as soon as it is made. Its record (the hash, never the key) is persisted
 * through the engine and the store writer like every other write (EM_OBJECT, kind "key"), and
 * the 201 carrying the key is sent only once that is committed. The key itself exists only in
 * that answer. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "core/alert.h"
#include "net/authz.h"
#include "net/keys.h"
#include "util/err.h"

#define KEY_PATH_MAX 300

static void fail(struct http_resp *resp, bool alerta, int status, const char *field,
                 const char *msg)
{
    char *body = alerta ? alerta_error_json(status, field, msg)
                        : api_error_json(status, field, msg, false);

    resp->status = status;
    resp->body = body;
    resp->body_len = body ? strlen(body) : 0;
}

/* Persists (json non-NULL) or deletes the record and answers status/body after the commit. */
static enum http_outcome persist(struct app *a, const struct http_req *req,
                                 struct http_resp *resp, bool alerta, const char *id,
                                 json_t *stored, int status, json_t *answer)
{
    struct emsg *m = emsg_new(EM_OBJECT);
    char *json = stored ? json_dumps(stored, JSON_COMPACT) : NULL;
    char *body = answer ? json_dumps(answer, JSON_COMPACT) : NULL;

    json_decref(stored);
    json_decref(answer);
    if (!m || !(m->okind = strdup("key")) || !(m->id = strdup(id)) || (stored && !json) ||
        !body) {
        free(json);
        free(body);
        emsg_free(m);
        fail(resp, alerta, 503, NULL, "out of memory");
        return HTTP_DONE;
    }
    m->ojson = json;
    m->obody = body;
    m->ostatus = status;
    m->req_id = req->id;
    m->reply = alerta ? REPLY_ALERTA_OK : REPLY_OK;
    if (app_to_engine(a, m, false)) {
        fail(resp, alerta, 503, NULL, "busy, try again");
        return HTTP_DONE;
    }
    return HTTP_DEFERRED;
}

/* The record a path names: by id, or (Alerta's /key/<key>) by the key itself. The caller may
 * see it only if it owns it or holds admin:keys. */
static int find(struct app *a, const struct http_req *req, const char *what,
                struct key_record *rec)
{
    int rc = keys_get(a->keys, what, rec);

    if (rc == TOCSIN_ENOTFOUND)
        rc = keys_find_by_key(a->keys, what, rec);
    if (rc)
        return rc;
    if (!principal_allows(req->principal, "admin:keys") &&
        strcmp(rec->user, principal_user(req->principal) ? principal_user(req->principal) : "")) {
        key_record_clear(rec);
        return TOCSIN_ENOTFOUND;
    }
    return TOCSIN_OK;
}

static json_t *api_json_of(const struct key_record *r, int64_t now, const struct http_req *req,
                           bool alerta)
{
    json_t *j = keys_record_to_api_json(r, now);
    const char *host = http_req_header(req, "host");

    if (j && host && strlen(host) < 256 && !strpbrk(host, "\"\\<> \t\r\n")) {
        char href[400];
        snprintf(href, sizeof(href), "http://%s%s/%s", host, alerta ? "/alerta/key" : "/api/v1/keys",
                 r->id);
        json_object_set_new(j, "href", json_string(href));
    }
    return j;
}

static enum http_outcome create(struct app *a, const struct http_req *req, struct http_resp *resp,
                                bool alerta)
{
    const struct principal *p = req->principal;
    struct verr verr = {0};
    json_t *j = NULL, *v;
    struct scope_set want;
    struct key_params kp = {0};
    struct key_record rec;
    char key[KEYS_KEY_LEN + 1], err[200], denied[128];
    const char *cust = NULL, *user = principal_user(p);
    int64_t now = app_now_ms(a);
    enum http_outcome out;

    if (!authz_require(p, "write:keys", resp))
        return HTTP_DONE;
    if (req->body_len && api_parse_json(req->body, req->body_len, &j, &verr)) {
        fail(resp, alerta, 400, verr.field, verr.msg);
        return HTTP_DONE;
    }
    if (j && !json_is_object(j)) {
        json_decref(j);
        fail(resp, alerta, 400, "body", "must be a JSON object");
        return HTTP_DONE;
    }
    memset(&want, 0, sizeof(want));
    /* only an admin makes keys for someone else (Alerta: user defaults to the login) */
    v = json_object_get(j, "user");
    if (json_is_string(v) && principal_allows(p, "admin:keys"))
        user = json_string_value(v);
    if (!user || !*user)
        user = "admin"; /* auth off: the anonymous administrator */
    v = json_object_get(j, "scopes");
    if (v && !json_is_null(v)) {
        if (scope_set_parse_json(&want, v, err, sizeof(err))) {
            json_decref(j);
            fail(resp, alerta, 400, "scopes", err);
            return HTTP_DONE;
        }
    } else if ((v = json_object_get(j, "type")) && json_is_string(v)) {
        if (keys_type_to_scopes(json_string_value(v), principal_allows(p, "admin"), &want)) {
            json_decref(j);
            fail(resp, alerta, 400, "type", "type must be read-only or read-write");
            return HTTP_DONE;
        }
    }
    if (!scope_set_within(&want, &p->scopes, NULL, denied, sizeof(denied))) {
        char msg[300];
        json_decref(j);
        snprintf(msg, sizeof(msg), "Requested scope '%s' not in existing scopes", denied);
        fail(resp, alerta, 403, "scopes", msg);
        return HTTP_DONE;
    }
    v = json_object_get(j, "customer");
    if (authz_assign_customer(p, json_is_string(v) ? json_string_value(v) : NULL, "admin:keys",
                              &cust, err, sizeof(err))) {
        json_decref(j);
        fail(resp, alerta, 400, "customer", err);
        return HTTP_DONE;
    }
    v = json_object_get(j, "expireTime");
    if (v && !json_is_null(v) &&
        (!json_is_string(v) ||
         !iso8601_parse(json_string_value(v), json_string_length(v), &kp.expire_ms))) {
        json_decref(j);
        fail(resp, alerta, 400, "expireTime", "expireTime must be an ISO 8601 time");
        return HTTP_DONE;
    }
    v = json_object_get(j, "text");
    kp.text = json_is_string(v) ? json_string_value(v) : NULL;
    kp.user = user;
    kp.scopes = &want;
    kp.customer = cust;
    memset(&rec, 0, sizeof(rec));
    if (keys_create(a->keys, &kp, now, key, &rec, err, sizeof(err))) {
        json_decref(j);
        fail(resp, alerta, 400, "body", err);
        return HTTP_DONE;
    }
    json_decref(j);
    out = persist(a, req, resp, alerta, rec.id, keys_record_to_json(&rec), 201,
                  json_pack("{s:s,s:s,s:o}", "status", "ok", "key", key, "data",
                            api_json_of(&rec, now, req, alerta)));
    if (out == HTTP_DONE) /* not persisted: the key must not work either */
        keys_delete(a->keys, rec.id);
    sodium_memzero(key, sizeof(key));
    key_record_clear(&rec);
    return out;
}

static enum http_outcome list(struct app *a, const struct http_req *req, struct http_resp *resp,
                              bool alerta)
{
    const struct principal *p = req->principal;
    struct key_record *recs = NULL;
    size_t n = 0;
    json_t *arr;
    int64_t now = app_now_ms(a);

    if (!authz_require(p, "read:keys", resp))
        return HTTP_DONE;
    if (keys_list(a->keys, principal_allows(p, "admin:keys") ? NULL : principal_user(p), &recs,
                  &n)) {
        fail(resp, alerta, 503, NULL, "out of memory");
        return HTTP_DONE;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, api_json_of(&recs[i], now, req, alerta));
    keys_list_free(recs, n);
    api_json(resp, 200, json_pack("{s:s,s:o,s:I}", "status", "ok", "keys", arr, "total",
                                  (json_int_t)n));
    return HTTP_DONE;
}

static enum http_outcome one(struct app *a, const struct http_req *req, struct http_resp *resp,
                             bool alerta, const char *what)
{
    const struct principal *p = req->principal;
    struct key_record rec;
    int64_t now = app_now_ms(a);
    enum http_outcome out;
    json_t *j = NULL, *v;
    struct verr verr = {0};

    memset(&rec, 0, sizeof(rec));
    if (!authz_require(p, strcmp(req->method, "GET") ? "write:keys" : "read:keys", resp))
        return HTTP_DONE;
    if (find(a, req, what, &rec)) {
        fail(resp, alerta, 404, "key", "not found");
        return HTTP_DONE;
    }
    if (!strcmp(req->method, "GET")) {
        api_json(resp, 200, json_pack("{s:s,s:i,s:o}", "status", "ok", "total", 1, "key",
                                      api_json_of(&rec, now, req, alerta)));
        key_record_clear(&rec);
        return HTTP_DONE;
    }
    if (!strcmp(req->method, "DELETE")) {
        keys_delete(a->keys, rec.id);
        out = persist(a, req, resp, alerta, rec.id, NULL, 200, json_pack("{s:s}", "status", "ok"));
        key_record_clear(&rec);
        return out;
    }
    if (strcmp(req->method, "PUT") != 0) {
        key_record_clear(&rec);
        fail(resp, alerta, 405, NULL, "method not allowed here");
        return HTTP_DONE;
    }
    if (api_parse_json(req->body, req->body_len, &j, &verr) || !json_is_object(j)) {
        key_record_clear(&rec);
        json_decref(j);
        fail(resp, alerta, 400, "body", verr.msg[0] ? verr.msg : "must be a JSON object");
        return HTTP_DONE;
    }
    if ((v = json_object_get(j, "text")) && json_is_string(v) &&
        json_string_length(v) <= KEYS_TEXT_MAX) {
        free(rec.text);
        rec.text = strdup(json_string_value(v));
    }
    if ((v = json_object_get(j, "scopes")) && !json_is_null(v)) {
        struct scope_set want;
        char err[200], denied[128];
        if (scope_set_parse_json(&want, v, err, sizeof(err)) ||
            !scope_set_within(&want, &p->scopes, NULL, denied, sizeof(denied))) {
            key_record_clear(&rec);
            json_decref(j);
            fail(resp, alerta, 400, "scopes", "invalid or not held scopes");
            return HTTP_DONE;
        }
        rec.scopes = want;
    }
    if ((v = json_object_get(j, "expireTime")) && json_is_string(v) &&
        !iso8601_parse(json_string_value(v), json_string_length(v), &rec.expire_ms)) {
        key_record_clear(&rec);
        json_decref(j);
        fail(resp, alerta, 400, "expireTime", "expireTime must be an ISO 8601 time");
        return HTTP_DONE;
    }
    json_decref(j);
    keys_put(a->keys, &rec);
    out = persist(a, req, resp, alerta, rec.id, keys_record_to_json(&rec), 200,
                  json_pack("{s:s}", "status", "ok"));
    key_record_clear(&rec);
    return out;
}

/* `rest` is the path after "/alerta" or "/api/v1": "/key", "/keys", "/key/<k>", "/keys/<k>". */
enum http_outcome api_keys(struct app *a, const struct http_req *req, struct http_resp *resp,
                           const char *rest, bool alerta)
{
    char what[KEY_PATH_MAX];

    if ((!strcmp(rest, "/key") || !strcmp(rest, "/keys")) && !strcmp(req->method, "POST"))
        return create(a, req, resp, alerta);
    if (!strcmp(rest, "/keys") && !strcmp(req->method, "GET"))
        return list(a, req, resp, alerta);
    if ((api_path_id(rest, "/key", what, sizeof(what)) ||
         api_path_id(rest, "/keys", what, sizeof(what))))
        return one(a, req, resp, alerta, what);
    fail(resp, alerta, 404, NULL, "not found");
    return HTTP_DONE;
}
