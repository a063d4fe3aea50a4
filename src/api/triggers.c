/* /api/v1/triggers: list, get, create, replace, delete. Reads come from the store's read
 * connection; writes go through the engine and are answered once committed. */
#include <stdio.h>
#include <string.h>

#include "api/common.h"
#include "store/store.h"
#include "util/err.h"

#define PREFIX "/api/v1/triggers"

static enum http_outcome submit(struct app *a, const struct http_req *req, struct http_resp *resp,
                                struct emsg *m)
{
    m->req_id = req->id;
    if (app_to_engine(a, m, false)) {
        http_resp_error(resp, 503, NULL, "engine busy, try again");
        snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Retry-After: 1\r\n");
        return HTTP_DONE;
    }
    return HTTP_DEFERRED;
}

static enum http_outcome write_trigger(struct app *a, const struct http_req *req,
                                       struct http_resp *resp, const char *id)
{
    struct verr err = {0};
    json_t *j = NULL;
    struct emsg *m = NULL;
    int rc = api_parse_json(req->body, req->body_len, &j, &err);

    if (!rc && id && json_is_object(j)) {
        const json_t *bid = json_object_get(j, "id");
        if (!bid || json_is_null(bid))
            json_object_set_new(j, "id", json_string(id));
        else if (!json_is_string(bid) || strcmp(json_string_value(bid), id) != 0)
            rc = verr_set(&err, "id", "must match the id in the path");
    }
    if (!rc)
        rc = gravitee_triggers_msg(a, j, false, &m, &err);
    json_decref(j);
    if (rc) {
        if (rc == TOCSIN_ENOMEM)
            http_resp_error(resp, 503, NULL, "out of memory");
        else
            api_fail(resp, &err);
        return HTTP_DONE;
    }
    m->reply = REPLY_TRIGGER;
    return submit(a, req, resp, m);
}

enum http_outcome api_triggers(struct app *a, const struct http_req *req, struct http_resp *resp)
{
    char id[300];
    bool one = api_path_id(req->path, PREFIX, id, sizeof(id));
    struct verr err = {0};
    json_t *out = NULL;
    int rc;

    if (!one && strcmp(req->path, PREFIX) != 0) {
        http_resp_error(resp, 404, NULL, "no such resource");
        return HTTP_DONE;
    }
    if (!strcmp(req->method, "GET")) {
        struct store_page p;
        if (!one && !api_paging(req, &p.limit, &p.offset, &err)) {
            api_fail(resp, &err);
            return HTTP_DONE;
        }
        rc = one ? store_trigger_get_json(a->rstore, id, &out)
                 : store_trigger_list_json(a->rstore, &p, &out);
        if (rc)
            api_store_fail(resp, rc, "trigger");
        else
            api_json(resp, 200, out);
        return HTTP_DONE;
    }
    if (!strcmp(req->method, "POST") && !one)
        return write_trigger(a, req, resp, NULL);
    if (!strcmp(req->method, "PUT") && one)
        return write_trigger(a, req, resp, id);
    if (!strcmp(req->method, "DELETE") && one) {
        struct emsg *m = emsg_new(EM_TRIGGER_DEL);
        if (!m || !(m->id = strdup(id))) {
            emsg_free(m);
            http_resp_error(resp, 503, NULL, "out of memory");
            return HTTP_DONE;
        }
        return submit(a, req, resp, m);
    }
    http_resp_error(resp, 405, NULL, "method %s not allowed here", req->method);
    return HTTP_DONE;
}
