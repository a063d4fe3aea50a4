/* splunk-hec: the HTTP Event Collector's JSON endpoint (url ".../services/collector/event"),
 * `Authorization: Splunk <token>`. One event per notification, every change (firing, ack,
 * resolve) an event: {"time": the alert's lastReceiveTime (epoch seconds, ms fraction),
 * "host", "source", "sourcetype", "index"?, "event": the context (or the `event` template:
 * JSON when it renders to JSON, else a string), "fields": {severity, environment, status,
 * change, + config fields}}. */
#include <stdlib.h>
#include <string.h>

#include "core/alert.h"
#include "notify/ch_impl.h"
#include "util/err.h"

static const struct ch_field fields[] = {
    {"url", CHF_URL, CHF_REQUIRED}, {"token", CHF_STR, CHF_REQUIRED}, {"host", CHF_TMPL, 0},
    {"source", CHF_STR, 0},         {"sourcetype", CHF_STR, 0},       {"index", CHF_STR, 0},
    {"fields", CHF_OBJ, 0},         {"event", CHF_TMPL, 0},           {NULL, CHF_STR, 0},
};

static const char *const secrets[] = {"token", NULL};

static int compile(struct chan *c, struct verr *e)
{
    const char *k;
    const json_t *v;
    char field[200];

    json_object_foreach((json_t *)ch_cfg(c, "fields"), k, v)
    {
        if (!json_is_string(v)) {
            snprintf(field, sizeof(field), "config.fields.%s", k);
            return verr_set(e, field, "must be a string");
        }
    }
    return TOCSIN_OK;
}

static json_t *event_time(const json_t *ctx, int64_t now_ms)
{
    const char *t = ch_gets(ctx, "alert.lastReceiveTime");
    int64_t ms = now_ms;

    if (t && !iso8601_parse(t, strlen(t), &ms))
        ms = now_ms;
    if (ms % 1000 == 0)
        return json_integer(ms / 1000);
    return json_real((double)ms / 1000.0);
}

/* The config's fields, then severity, environment, status and change (strings). */
static json_t *idx_fields(const struct chan *c, const json_t *ctx)
{
    json_t *f = ch_cfg(c, "fields") ? json_deep_copy(ch_cfg(c, "fields")) : json_object();
    const char *sev = ch_gets(ctx, "alert.severity"), *env = ch_gets(ctx, "alert.environment");

    if (!f)
        return NULL;
    if (sev)
        json_object_set_new(f, "severity", json_string(sev));
    if (env)
        json_object_set_new(f, "environment", json_string(env));
    json_object_set_new(f, "status", json_string(ch_resolved(ctx) ? "resolved" : "firing"));
    json_object_set_new(f, "change", json_string(ch_change(ctx)));
    return f;
}

static int render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                  struct verr *e)
{
    const char *src = ch_cfg_str(c, "source"), *st = ch_cfg_str(c, "sourcetype");
    char *host = NULL, *ev = NULL, *s = NULL, auth[600];
    json_t *body = NULL, *event;
    int rc;

    if ((rc = ch_text(c, "host", ctx, TMPL_ESC_NONE, &host, e)) ||
        (rc = ch_text(c, "event", ctx, TMPL_ESC_NONE, &ev, e)))
        goto out;
    rc = TOCSIN_ENOMEM;
    event = ev ? json_loads(ev, JSON_DECODE_ANY, NULL) : json_deep_copy(ctx);
    if (ev && (!event || !json_is_object(event))) {
        json_decref(event);
        event = json_string(ev);
    }
    body = json_pack("{s:o,s:s,s:s,s:s}", "time", event_time(ctx, now_ms), "host",
                     host && *host ? host : ch_getsd(ctx, "alert.resource", "tocsin"), "source",
                     src ? src : "tocsin", "sourcetype", st ? st : "tocsin:alert");
    if (!body ||
        (ch_cfg_str(c, "index") &&
         json_object_set_new(body, "index", json_string(ch_cfg_str(c, "index")))) ||
        json_object_set_new(body, "event", event) ||
        json_object_set_new(body, "fields", idx_fields(c, ctx)))
        goto out;
    if ((rc = ch_req_http(c, r, "POST", ch_cfg_str(c, "url"), "config.url", e)))
        goto out;
    snprintf(auth, sizeof(auth), "Splunk %s", ch_cfg_str(c, "token"));
    if ((rc = ch_req_header(r, "Authorization", auth, "config.token", e)))
        goto out;
    /* 13 significant digits: epoch seconds with milliseconds, not 1700000000.1229999 */
    if (!(s = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(13)))) {
        rc = TOCSIN_ENOMEM;
        goto out;
    }
    if ((rc = ch_req_body(r, s, strlen(s), e)) == TOCSIN_OK)
        rc = ch_req_header(r, "Content-Type", "application/json", "", e);
    s = NULL;
out:
    json_decref(body);
    free(host);
    free(ev);
    free(s);
    return rc;
}

const struct chan_ops ch_splunk_hec_ops = {
    .type = "splunk-hec",
    .fields = fields,
    .secrets = secrets,
    .compile = compile,
    .render = render,
};
