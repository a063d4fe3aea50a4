#include "api/common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

int api_parse_json(const char *body, size_t len, json_t **out, struct verr *err)
{
    json_error_t jerr;

    if (len == 0)
        return verr_set(err, "body", "empty body: a JSON document is required");
    *out = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
    if (!*out)
        return verr_set(err, "body", "invalid JSON: %s (line %d, column %d)", jerr.text,
                        jerr.line, jerr.column);
    return TOCSIN_OK;
}

char *api_error_json(int status, const char *field, const char *msg, bool ws_frame)
{
    json_t *o = ws_frame ? json_pack("{s:s,s:s,s:i}", "type", "ERROR", "error", msg, "status",
                                     status)
                         : json_pack("{s:s,s:i}", "error", msg, "status", status);
    char *s;

    if (o && field && *field)
        json_object_set_new(o, "field", json_string(field));
    s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

char *alerta_error_json(int status, const char *field, const char *msg)
{
    json_t *o = json_pack("{s:s,s:s,s:i,s:n}", "status", "error", "message", msg, "code", status,
                          "errors");
    char *s;

    if (o && field && *field)
        json_object_set_new(o, "field", json_string(field));
    s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

enum http_outcome api_fail_as(struct http_resp *resp, bool alerta, int status, const char *field,
                              const char *msg)
{
    char *body = alerta ? alerta_error_json(status, field, msg)
                        : api_error_json(status, field, msg, false);

    resp->status = status;
    resp->body = body;
    resp->body_len = body ? strlen(body) : 0;
    return HTTP_DONE;
}

enum http_outcome api_fail_verr_as(struct http_resp *resp, bool alerta, const struct verr *e)
{
    return api_fail_as(resp, alerta, e->status ? e->status : 400, e->field[0] ? e->field : NULL,
                       e->msg);
}

char *api_href_base(const struct http_req *req, bool alerta)
{
    const char *host = http_req_header(req, "host");
    char out[300];

    if (!host || strlen(host) > 255 || strpbrk(host, "\"\\<> \t\r\n"))
        return NULL;
    snprintf(out, sizeof(out), "http://%s%s", host, alerta ? "/alerta" : "/api/v1");
    return strdup(out);
}

void api_ws_error(struct app *a, uint64_t conn, int status, const char *field, const char *msg)
{
    char *s = api_error_json(status, field, msg, true);

    if (s)
        net_ws_send(a->net, conn, s, strlen(s));
    free(s);
}

void api_fail(struct http_resp *resp, const struct verr *err)
{
    http_resp_error(resp, err->status ? err->status : 400, err->field[0] ? err->field : NULL,
                    "%s", err->msg);
}

void api_json(struct http_resp *resp, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    if (!s) {
        http_resp_error(resp, 503, NULL, "out of memory");
        return;
    }
    http_resp_json(resp, status, s);
}

bool api_path_id(const char *path, const char *prefix, char *id, size_t idlen)
{
    size_t pl = strlen(prefix), l;

    if (strncmp(path, prefix, pl) != 0 || path[pl] != '/' || !path[pl + 1])
        return false;
    path += pl + 1;
    l = strlen(path);
    if (strchr(path, '/') || l >= idlen)
        return false;
    memcpy(id, path, l + 1);
    return true;
}

static bool get_size(const struct http_req *req, const char *key, size_t lo, size_t hi,
                     size_t *out, struct verr *err)
{
    char buf[32], *end;
    unsigned long long v;

    if (!http_req_query(req, key, buf, sizeof(buf)))
        return true;
    errno = 0;
    v = strtoull(buf, &end, 10);
    if (errno || end == buf || *end || buf[0] == '-' || v < lo || v > hi) {
        verr_set(err, key, "must be an integer from %zu to %zu", lo, hi);
        return false;
    }
    *out = (size_t)v;
    return true;
}

bool api_paging(const struct http_req *req, size_t *limit, size_t *offset, struct verr *err)
{
    *limit = 50;
    *offset = 0;
    return get_size(req, "limit", 1, 1000, limit, err) &&
           get_size(req, "offset", 0, 1000000000, offset, err);
}

void api_store_fail(struct http_resp *resp, int rc, const char *what)
{
    if (rc == TOCSIN_ENOTFOUND)
        http_resp_error(resp, 404, "id", "no such %s", what);
    else
        http_resp_error(resp, 503, NULL, "store unavailable: %s", tocsin_strerror(rc));
}
