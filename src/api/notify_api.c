/* /api/v1/channels, /api/v1/rules and /api/v1/notifications/{id}[/retry]: requests are checked
 * here (path, method, JSON syntax) and handed on: channels and rules to the engine thread
 * (daemon/nwire.h, their state lives there), a retry to the store writer (it owns the outbox),
 * a notification's read to the store's read connection. */
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "daemon/nwire.h"
#include "store/store.h"
#include "util/err.h"

#define ID_MAX 160

/* Splits "/api/v1/<coll>[/<id>[/<sub>]]" after prefix; false if the shape is wrong. */
static bool split(const char *path, const char *prefix, char *id, char *sub)
{
    size_t pl = strlen(prefix);
    const char *p = path + pl, *slash;
    size_t l;

    id[0] = sub[0] = '\0';
    if (strncmp(path, prefix, pl) != 0)
        return false;
    if (!*p)
        return true;
    if (*p++ != '/' || !*p)
        return false;
    slash = strchr(p, '/');
    l = slash ? (size_t)(slash - p) : strlen(p);
    if (!l || l >= ID_MAX)
        return false;
    memcpy(id, p, l);
    id[l] = '\0';
    if (!slash)
        return true;
    p = slash + 1;
    l = strlen(p);
    if (!l || l >= ID_MAX || strchr(p, '/'))
        return false;
    memcpy(sub, p, l + 1);
    return true;
}

static enum http_outcome to_engine(struct app *a, const struct http_req *req,
                                   struct http_resp *resp, enum nreq_op op, const char *id,
                                   bool with_body)
{
    struct nreq *r = calloc(1, sizeof(*r));
    struct emsg *m;
    struct verr err = {0};

    if (!r)
        return api_fail_as(resp, false, 503, NULL, "out of memory");
    r->op = op;
    if (id && !(r->id = strdup(id))) {
        nreq_free(r);
        return api_fail_as(resp, false, 503, NULL, "out of memory");
    }
    if (with_body) {
        if (api_parse_json(req->body, req->body_len, &r->body, &err)) {
            nreq_free(r);
            api_fail(resp, &err);
            return HTTP_DONE;
        }
        if (!json_is_object(r->body)) {
            nreq_free(r);
            return api_fail_as(resp, false, 400, NULL, "the body must be a JSON object");
        }
    }
    m = emsg_new(EM_NOTIFY);
    if (!m) {
        nreq_free(r);
        return api_fail_as(resp, false, 503, NULL, "out of memory");
    }
    m->nreq = r;
    m->req_id = req->id;
    m->reply = REPLY_OK;
    if (app_to_engine(a, m, false)) {
        api_fail_as(resp, false, 503, NULL, "busy, try again");
        snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Retry-After: 1\r\n");
        return HTTP_DONE;
    }
    return HTTP_DEFERRED;
}

static enum http_outcome bad_method(const struct http_req *req, struct http_resp *resp)
{
    http_resp_error(resp, 405, NULL, "method %s not allowed here", req->method);
    return HTTP_DONE;
}

enum http_outcome api_channels(struct app *a, const struct http_req *req, struct http_resp *resp)
{
    char id[ID_MAX], sub[ID_MAX];
    const char *m = req->method;

    if (!split(req->path, "/api/v1/channels", id, sub) || (sub[0] && strcmp(sub, "test")))
        return api_fail_as(resp, false, 404, NULL, "no such resource");
    if (sub[0])
        return !strcmp(m, "POST") ? to_engine(a, req, resp, NR_CH_TEST, id, false)
                                  : bad_method(req, resp);
    if (!id[0])
        return !strcmp(m, "GET")    ? to_engine(a, req, resp, NR_CH_LIST, NULL, false)
               : !strcmp(m, "POST") ? to_engine(a, req, resp, NR_CH_POST, NULL, true)
                                    : bad_method(req, resp);
    return !strcmp(m, "GET")      ? to_engine(a, req, resp, NR_CH_GET, id, false)
           : !strcmp(m, "PUT")    ? to_engine(a, req, resp, NR_CH_PUT, id, true)
           : !strcmp(m, "DELETE") ? to_engine(a, req, resp, NR_CH_DEL, id, false)
                                  : bad_method(req, resp);
}

enum http_outcome api_rules(struct app *a, const struct http_req *req, struct http_resp *resp)
{
    char id[ID_MAX], sub[ID_MAX];
    const char *m = req->method;

    if (!split(req->path, "/api/v1/rules", id, sub) || sub[0])
        return api_fail_as(resp, false, 404, NULL, "no such resource");
    if (!id[0])
        return !strcmp(m, "GET")    ? to_engine(a, req, resp, NR_RU_LIST, NULL, false)
               : !strcmp(m, "POST") ? to_engine(a, req, resp, NR_RU_POST, NULL, true)
                                    : bad_method(req, resp);
    return !strcmp(m, "GET")      ? to_engine(a, req, resp, NR_RU_GET, id, false)
           : !strcmp(m, "PUT")    ? to_engine(a, req, resp, NR_RU_PUT, id, true)
           : !strcmp(m, "DELETE") ? to_engine(a, req, resp, NR_RU_DEL, id, false)
                                  : bad_method(req, resp);
}

/* /api/v1/notifications/{id} and /api/v1/notifications/{id}/retry */
enum http_outcome api_notification_one(struct app *a, const struct http_req *req,
                                       struct http_resp *resp)
{
    char id[ID_MAX], sub[ID_MAX];
    json_t *out = NULL;
    int rc;

    if (!split(req->path, "/api/v1/notifications", id, sub) || !id[0] ||
        (sub[0] && strcmp(sub, "retry")))
        return api_fail_as(resp, false, 404, NULL, "no such resource");
    if (sub[0]) {
        struct smsg *sm;
        if (strcmp(req->method, "POST") != 0)
            return bad_method(req, resp);
        sm = calloc(1, sizeof(*sm));
        if (!sm || !(sm->retry_id = strdup(id))) {
            free(sm);
            return api_fail_as(resp, false, 503, NULL, "out of memory");
        }
        effects_init(&sm->fx);
        sm->retry_req = req->id;
        if (app_to_store(a, sm, false)) {
            free(sm->retry_id);
            free(sm);
            api_fail_as(resp, false, 503, NULL, "busy, try again");
            snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Retry-After: 1\r\n");
            return HTTP_DONE;
        }
        return HTTP_DEFERRED;
    }
    if (strcmp(req->method, "GET") != 0)
        return bad_method(req, resp);
    rc = store_notify_get_json(a->rstore, id, &out);
    if (rc)
        api_store_fail(resp, rc, "notification");
    else
        api_json(resp, 200, out);
    return HTTP_DONE;
}
