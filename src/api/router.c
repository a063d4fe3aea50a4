#include "api/router.h"

#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "compat/alerta_hbbo.h"
#include "net/auth.h"
#include "net/authz.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

/* WebSocket connections and what they are for; network thread only. */
#define WS_TRIGGERS 1
#define WS_EVENTS 2

static int ws_kind(const struct app *a, uint64_t conn)
{
    for (size_t i = 0; i < a->ws_n; i++)
        if (a->ws_tab[i].conn == conn)
            return a->ws_tab[i].kind;
    return 0;
}

static enum http_outcome on_http(void *ud, const struct http_req *req, struct http_resp *resp)
{
    struct app *a = ud;
    const char *p = req->path;

    if (!strcmp(p, "/health")) {
        api_json(resp, 200, json_pack("{s:s}", "status", "ok"));
        return HTTP_DONE;
    }
    /* tocsin's own resources: read:<r> to look, write:<r> to change (Alerta's scope rules) */
    {
        static const struct {
            const char *prefix;
            const char *resource;
        } res[] = {
            {"/http/triggers", "triggers"}, {"/http/events", "events"},
            {"/api/v1/events", "events"},   {"/api/v1/triggers", "triggers"},
            {"/api/v1/notifications", "notifications"}, {"/api/v1/stats", "management"},
            {"/api/v1/channels", "channels"}, {"/api/v1/rules", "rules"},
            {"/api/v1/admin/", "management"},
        };
        for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
            char scope[64];
            if (strncmp(p, res[i].prefix, strlen(res[i].prefix)) != 0)
                continue;
            snprintf(scope, sizeof(scope), "%s:%s",
                     !strncmp(p, "/api/v1/admin/", 14) ? "admin"
                     : !strcmp(req->method, "GET")     ? "read"
                                                       : "write",
                     res[i].resource);
            if (!authz_require(req->principal, scope, resp))
                return HTTP_DONE;
            break;
        }
    }
    if (!strcmp(p, "/http/triggers"))
        return gravitee_http_triggers(a, req, resp);
    if (!strcmp(p, "/http/events") || !strcmp(p, "/api/v1/events"))
        return gravitee_http_events(a, req, resp);
    if (!strncmp(p, "/api/v1/triggers", 16))
        return api_triggers(a, req, resp);
    if (!strncmp(p, "/api/v1/alerts", 14) && (!p[14] || p[14] == '/'))
        return api_alerts(a, req, resp);
    if (!strncmp(p, "/alerta", 7) && (!p[7] || p[7] == '/'))
        return alerta_http(a, req, resp);
    if (!strncmp(p, "/api/v1/keys", 12) && (!p[12] || p[12] == '/'))
        return api_keys(a, req, resp, p + 7, false);
    if (alerta_hbbo_owns(p, false))
        return alerta_hbbo_http(a, req, resp, false, p);
    if (!strcmp(p, "/api/v1/notifications"))
        return api_notifications(a, req, resp);
    if (!strncmp(p, "/api/v1/notifications/", 22))
        return api_notification_one(a, req, resp);
    if (!strncmp(p, "/api/v1/channels", 16) && (!p[16] || p[16] == '/'))
        return api_channels(a, req, resp);
    if (!strncmp(p, "/api/v1/rules", 13) && (!p[13] || p[13] == '/'))
        return api_rules(a, req, resp);
    if (!strcmp(p, "/api/v1/stats"))
        return api_stats(a, req, resp);
    if (!strcmp(p, "/api/v1/admin/clock"))
        return api_admin_clock(a, req, resp);
    http_resp_error(resp, 404, NULL, "no such resource: %.200s", p);
    return HTTP_DONE;
}

static bool on_ws_open(void *ud, uint64_t conn, const char *path, const struct principal *who)
{
    struct app *a = ud;
    int kind = !strcmp(path, "/ws/triggers") ? WS_TRIGGERS
               : !strcmp(path, "/ws/events") ? WS_EVENTS
                                             : 0;

    if (!kind || !principal_allows(who, kind == WS_TRIGGERS ? "write:triggers" : "write:events"))
        return false;
    if (a->ws_n == a->ws_cap) {
        size_t nc = a->ws_cap ? a->ws_cap * 2 : 16;
        struct app_ws *n = realloc(a->ws_tab, nc * sizeof(*n));
        if (!n)
            return false;
        a->ws_tab = n;
        a->ws_cap = nc;
    }
    a->ws_tab[a->ws_n].conn = conn;
    a->ws_tab[a->ws_n].kind = kind;
    a->ws_n++;
    gravitee_ws_open(a, conn, kind == WS_TRIGGERS);
    return true;
}

static void on_ws_message(void *ud, uint64_t conn, const char *data, size_t len, bool binary)
{
    int kind = ws_kind(ud, conn);

    (void)binary;
    if (kind)
        gravitee_ws_message(ud, conn, kind == WS_TRIGGERS, data, len);
}

static void on_idle(void *ud)
{
    gravitee_ws_flush(ud);
}

static void on_ws_close(void *ud, uint64_t conn)
{
    struct app *a = ud;

    gravitee_ws_flush(a); /* what the connection sent is accepted: hand it on */
    for (size_t i = 0; i < a->ws_n; i++) {
        if (a->ws_tab[i].conn == conn) {
            a->ws_tab[i] = a->ws_tab[--a->ws_n];
            break;
        }
    }
    if (!a->ws_n) {
        free(a->ws_tab);
        a->ws_tab = NULL;
        a->ws_cap = 0;
    }
}

/* With no auth object (no users configured) auth_authenticate answers an anonymous admin. The
 * wall clock is the app's, so keys expire by the test clock in black-box tests too. */
static bool authenticate(void *ud, const struct auth_credentials *cred, struct principal *who)
{
    struct app *a = ud;

    return auth_authenticate(a->auth, cred, clock_mono_ms(), app_now_ms(a), who) == TOCSIN_OK;
}

void router_net_app(struct app *a, struct net_app *out)
{
    memset(out, 0, sizeof(*out));
    out->ud = a;
    out->on_http = on_http;
    out->on_ws_open = on_ws_open;
    out->on_ws_message = on_ws_message;
    out->on_ws_close = on_ws_close;
    out->on_idle = on_idle;
    out->authenticate = authenticate;
}
