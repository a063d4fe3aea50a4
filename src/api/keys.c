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
        api_fail_as(resp, alerta, 503, NULL, "out of memory");
        return HTTP_DONE;
    }
    m->ojson = json;
    m->obody = body;
    m->ostatus = status;
    m->req_id = req->id;
    m->reply = alerta ? REPLY_ALERTA_OK : REPLY_OK;
    if (app_to_engine(a, m, false)) {
        api_fail_as(resp, alerta, 503, NULL, "busy, try again");
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

/* A record in the API's shape, with its href when `base` (api_href_base) is known. */
static json_t *api_json_of(const struct key_record *r, int64_t now, const char *base, bool alerta)
{
    json_t *j = keys_record_to_api_json(r, now);

    if (j && base) {
        char href[400];

        snprintf(href, sizeof(href), "%s%s/%s", base, alerta ? "/key" : "/keys", r->id);
        json_object_set_new(j, "href", json_string(href));
    }
    return j;
}

/* The new key's parameters from the body `j` (NULL when there is none): kp borrows from j and
 * p, the scopes go into *want. False once resp holds the 400 or 403. */
static bool create_params(const struct principal *p, const json_t *j, bool alerta,
                          struct http_resp *resp, struct key_params *kp, struct scope_set *want)
{
    char err[200], denied[128], msg[300];
    const json_t *v;

    memset(kp, 0, sizeof(*kp));
    scope_set_clear(want);
    /* only an admin makes keys for someone else (Alerta: user defaults to the login) */
    v = json_object_get(j, "user");
    kp->user = json_is_string(v) && principal_allows(p, "admin:keys") ? json_string_value(v)
                                                                      : principal_user(p);
    if (!kp->user || !*kp->user)
        kp->user = "admin"; /* auth off: the anonymous administrator */
    v = json_object_get(j, "scopes");
    if (v && !json_is_null(v)) {
        if (scope_set_parse_json(want, v, err, sizeof(err))) {
            api_fail_as(resp, alerta, 400, "scopes", err);
            return false;
        }
    } else if ((v = json_object_get(j, "type")) && json_is_string(v) &&
               keys_type_to_scopes(json_string_value(v), principal_allows(p, "admin"), want)) {
        api_fail_as(resp, alerta, 400, "type", "type must be read-only or read-write");
        return false;
    }
    /* The defaults are checked too: they must not give more than the caller holds. */
    if (scope_set_empty(want))
        keys_default_scopes(want);
    if (!scope_set_within(want, &p->scopes, NULL, denied, sizeof(denied))) {
        snprintf(msg, sizeof(msg), "Requested scope '%s' not in existing scopes", denied);
        api_fail_as(resp, alerta, 403, "scopes", msg);
        return false;
    }
    v = json_object_get(j, "customer");
    if (authz_assign_customer(p, json_is_string(v) ? json_string_value(v) : NULL, "admin:keys",
                              &kp->customer, err, sizeof(err))) {
        api_fail_as(resp, alerta, 400, "customer", err);
        return false;
    }
    v = json_object_get(j, "expireTime");
    if (v && !json_is_null(v) &&
        (!json_is_string(v) ||
         !iso8601_parse(json_string_value(v), json_string_length(v), &kp->expire_ms))) {
        api_fail_as(resp, alerta, 400, "expireTime", "expireTime must be an ISO 8601 time");
        return false;
    }
    v = json_object_get(j, "text");
    kp->text = json_is_string(v) ? json_string_value(v) : NULL;
    kp->scopes = want;
    return true;
}

static enum http_outcome create(struct app *a, const struct http_req *req, struct http_resp *resp,
                                bool alerta)
{
    const struct principal *p = req->principal;
    struct verr verr = {0};
    json_t *j = NULL;
    struct scope_set want;
    struct key_params kp;
    struct key_record rec;
    char key[KEYS_KEY_LEN + 1], err[200], *base;
    int64_t now = app_now_ms(a);
    enum http_outcome out;
    int rc;

    if (!authz_require(p, "write:keys", resp))
        return HTTP_DONE;
    if (req->body_len && api_parse_json(req->body, req->body_len, &j, &verr))
        return api_fail_as(resp, alerta, 400, verr.field, verr.msg);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return api_fail_as(resp, alerta, 400, "body", "must be a JSON object");
    }
    if (!create_params(p, j, alerta, resp, &kp, &want)) {
        json_decref(j);
        return HTTP_DONE;
    }
    memset(&rec, 0, sizeof(rec));
    rc = keys_create(a->keys, &kp, now, key, &rec, err, sizeof(err));
    json_decref(j);
    if (rc)
        return api_fail_as(resp, alerta, rc == TOCSIN_ENOMEM ? 503 : 400, "body", err);
    base = api_href_base(req, alerta);
    out = persist(a, req, resp, alerta, rec.id, keys_record_to_json(&rec), 201,
                  json_pack("{s:s,s:s,s:o}", "status", "ok", "key", key, "data",
                            api_json_of(&rec, now, base, alerta)));
    free(base);
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
    char *base;
    int64_t now = app_now_ms(a);

    if (!authz_require(p, "read:keys", resp))
        return HTTP_DONE;
    if (keys_list(a->keys, principal_allows(p, "admin:keys") ? NULL : principal_user(p), &recs,
                  &n))
        return api_fail_as(resp, alerta, 503, NULL, "out of memory");
    base = api_href_base(req, alerta);
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, api_json_of(&recs[i], now, base, alerta));
    free(base);
    keys_list_free(recs, n);
    api_json(resp, 200, json_pack("{s:s,s:o,s:I}", "status", "ok", "keys", arr, "total",
                                  (json_int_t)n));
    return HTTP_DONE;
}

/* PUT: text, scopes (no more than the caller holds) and expireTime of `rec` from the body. */
static enum http_outcome update(struct app *a, const struct http_req *req, struct http_resp *resp,
                                bool alerta, struct key_record *rec)
{
    struct verr verr = {0};
    json_t *j = NULL, *v;
    int rc;

    if (api_parse_json(req->body, req->body_len, &j, &verr) || !json_is_object(j)) {
        json_decref(j);
        return api_fail_as(resp, alerta, 400, "body",
                           verr.msg[0] ? verr.msg : "must be a JSON object");
    }
    if ((v = json_object_get(j, "text")) && json_is_string(v) &&
        json_string_length(v) <= KEYS_TEXT_MAX) {
        free(rec->text);
        if (!(rec->text = strdup(json_string_value(v)))) {
            json_decref(j);
            return api_fail_as(resp, alerta, 503, NULL, "out of memory");
        }
    }
    if ((v = json_object_get(j, "scopes")) && !json_is_null(v)) {
        struct scope_set want;
        char err[200], denied[128];

        scope_set_clear(&want);
        if (scope_set_parse_json(&want, v, err, sizeof(err)) ||
            !scope_set_within(&want, &req->principal->scopes, NULL, denied, sizeof(denied))) {
            json_decref(j);
            return api_fail_as(resp, alerta, 400, "scopes", "invalid or not held scopes");
        }
        rec->scopes = want;
    }
    if ((v = json_object_get(j, "expireTime")) && json_is_string(v) &&
        !iso8601_parse(json_string_value(v), json_string_length(v), &rec->expire_ms)) {
        json_decref(j);
        return api_fail_as(resp, alerta, 400, "expireTime", "expireTime must be an ISO 8601 time");
    }
    json_decref(j);
    rc = keys_put(a->keys, rec);
    if (rc)
        return api_fail_as(resp, alerta, rc == TOCSIN_ENOMEM ? 503 : 400, "body",
                           tocsin_strerror(rc));
    return persist(a, req, resp, alerta, rec->id, keys_record_to_json(rec), 200,
                   json_pack("{s:s}", "status", "ok"));
}

static enum http_outcome one(struct app *a, const struct http_req *req, struct http_resp *resp,
                             bool alerta, const char *what)
{
    struct key_record rec;
    enum http_outcome out;

    memset(&rec, 0, sizeof(rec));
    if (!authz_require(req->principal, strcmp(req->method, "GET") ? "write:keys" : "read:keys",
                       resp))
        return HTTP_DONE;
    if (find(a, req, what, &rec))
        return api_fail_as(resp, alerta, 404, "key", "not found");
    if (!strcmp(req->method, "GET")) {
        char *base = api_href_base(req, alerta);

        api_json(resp, 200, json_pack("{s:s,s:i,s:o}", "status", "ok", "total", 1, "key",
                                      api_json_of(&rec, app_now_ms(a), base, alerta)));
        free(base);
        out = HTTP_DONE;
    } else if (!strcmp(req->method, "DELETE")) {
        keys_delete(a->keys, rec.id);
        out = persist(a, req, resp, alerta, rec.id, NULL, 200, json_pack("{s:s}", "status", "ok"));
    } else if (!strcmp(req->method, "PUT")) {
        out = update(a, req, resp, alerta, &rec);
    } else {
        out = api_fail_as(resp, alerta, 405, NULL, "method not allowed here");
    }
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
    api_fail_as(resp, alerta, 404, NULL, "not found");
    return HTTP_DONE;
}
