/* /api/v1/notifications: read from the store's read connection. (Alerts: compat/alerta.c.) */
#include <string.h>

#include "api/common.h"
#include "core/model.h"
#include "store/store.h"
#include "util/err.h"

static bool enum_param(const struct http_req *req, const char *key, int (*parse)(const char *),
                       const char *allowed, int *out, struct verr *err)
{
    char v[64];

    *out = -1;
    if (!http_req_query(req, key, v, sizeof(v)))
        return true;
    *out = parse(v);
    if (*out < 0) {
        verr_set(err, key, "must be one of %s", allowed);
        return false;
    }
    return true;
}

enum http_outcome api_notifications(struct app *a, const struct http_req *req,
                                    struct http_resp *resp)
{
    char alert[300], trig[300], rule[300], chan[300], att[8];
    struct verr err = {0};
    struct notify_query q = {0};
    json_t *out = NULL;
    int rc;

    if (strcmp(req->method, "GET") != 0) {
        http_resp_error(resp, 405, NULL, "method %s not allowed here", req->method);
        return HTTP_DONE;
    }
    if (!enum_param(req, "status", notify_status_parse, "pending, delivered, failed", &q.status,
                    &err) ||
        !api_paging(req, &q.page.limit, &q.page.offset, &err)) {
        api_fail(resp, &err);
        return HTTP_DONE;
    }
    q.alert_id = http_req_query(req, "alert", alert, sizeof(alert));
    q.trigger_id = http_req_query(req, "trigger", trig, sizeof(trig));
    q.rule_id = http_req_query(req, "rule", rule, sizeof(rule));
    q.channel_id = http_req_query(req, "channel", chan, sizeof(chan));
    /* every attempt of each notification, unless attempts=false */
    q.attempts = !http_req_query(req, "attempts", att, sizeof(att)) || strcmp(att, "false") != 0;
    rc = store_notify_query_json(a->rstore, &q, &out);
    if (rc)
        api_store_fail(resp, rc, "notification");
    else
        api_json(resp, 200, out);
    return HTTP_DONE;
}
