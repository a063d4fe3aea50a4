/* pagerduty: Events API v2. trigger on firing, acknowledge on an "ack" change, resolve on a
 * resolve, all with the same dedup_key: "tocsin-<alert id>" (or "tocsin-g-<hash>" for a group),
 * or the rendered dedup_key template. The ticket is the dedup_key PagerDuty answers. */
#include <stdlib.h>
#include <string.h>

#include "notify/ch_impl.h"
#include "util/err.h"

#define PD_URL "https://events.pagerduty.com/v2/enqueue"
#define SUMMARY_MAX 1024
#define DEDUP_MAX 255

static const struct ch_field fields[] = {
    {"routing_key", CHF_STR, CHF_REQUIRED},
    {"url", CHF_URL, 0},
    {"summary", CHF_TMPL, 0},
    {"source", CHF_TMPL, 0},
    {"severity", CHF_STR, 0},
    {"component", CHF_TMPL, 0},
    {"group", CHF_TMPL, 0},
    {"class", CHF_TMPL, 0},
    {"dedup_key", CHF_TMPL, 0},
    {"client", CHF_STR, 0},
    {NULL, CHF_STR, 0},
};

static const char *const secrets[] = {"routing_key", NULL};

static const char *const pd_sev[] = {"critical", "error", "warning", "warning", "info", "info"};

static int compile(struct chan *c, struct verr *e)
{
    const char *s = ch_cfg_str(c, "severity");

    if (s && strcmp(s, "critical") && strcmp(s, "error") && strcmp(s, "warning") &&
        strcmp(s, "info"))
        return verr_set(e, "config.severity", "must be critical, error, warning or info");
    return TOCSIN_OK;
}

static const char *action(const json_t *ctx)
{
    if (ch_resolved(ctx))
        return "resolve";
    if (!strcmp(ch_change(ctx), "ack"))
        return "acknowledge";
    return "trigger";
}

/* A templated field, or the default; truncated; put into o[key] when non-empty. */
static int put_field(const struct chan *c, const json_t *ctx, json_t *o, const char *key,
                     const char *dflt, size_t max, struct verr *e)
{
    char *v = NULL, *t;
    int rc = ch_text(c, key, ctx, TMPL_ESC_NONE, &v, e);

    if (rc)
        return rc;
    t = ch_trunc(v ? v : dflt ? dflt : "", max);
    free(v);
    if (!t)
        return TOCSIN_ENOMEM;
    rc = *t ? json_object_set_new(o, key, json_string(t)) : 0;
    free(t);
    return rc ? TOCSIN_ENOMEM : TOCSIN_OK;
}

static json_t *details(const json_t *ctx)
{
    static const char *const keys[] = {"text",   "environment",    "service", "value",
                                       "tags",   "attributes",     "labels",  "annotations",
                                       "origin", "duplicateCount", "id"};
    const json_t *a = ch_get(ctx, "alert");
    json_t *d = json_object();

    for (size_t i = 0; d && i < sizeof(keys) / sizeof(keys[0]); i++) {
        const json_t *v = json_object_get(a, keys[i]);
        if (v && !json_is_null(v))
            json_object_set_new(d, keys[i], json_deep_copy(v));
    }
    if (d) {
        json_object_set_new(d, "change", json_string(ch_change(ctx)));
        json_object_set_new(d, "alerts",
                            json_integer((json_int_t)json_array_size(ch_get(ctx, "alerts"))));
    }
    return d;
}

static int payload(const struct chan *c, const json_t *ctx, json_t *body, struct verr *e)
{
    struct buf title, link;
    const char *sev = ch_cfg_str(c, "severity");
    json_t *p = json_object();
    int rc = TOCSIN_ENOMEM;

    buf_init(&title, CHAN_MAX_FIELD);
    buf_init(&link, CHAN_MAX_FIELD);
    if (!p || ch_title(ctx, &title) || ch_link(ctx, &link))
        goto out;
    if ((rc = put_field(c, ctx, p, "summary", buf_str(&title), SUMMARY_MAX, e)) ||
        (rc = put_field(c, ctx, p, "source", ch_getsd(ctx, "alert.resource", "tocsin"), 255, e)))
        goto out;
    rc = TOCSIN_ENOMEM;
    if (json_object_set_new(
            p, "severity",
            json_string(sev ? sev : pd_sev[ch_sev_level(ch_gets(ctx, "alert.severity"))])))
        goto out;
    if (ch_gets(ctx, "alert.lastReceiveTime") &&
        json_object_set_new(p, "timestamp", json_string(ch_gets(ctx, "alert.lastReceiveTime"))))
        goto out;
    if ((rc = put_field(c, ctx, p, "component", ch_gets(ctx, "alert.service.0"), 255, e)) ||
        (rc = put_field(c, ctx, p, "group", ch_gets(ctx, "alert.group"), 255, e)) ||
        (rc = put_field(c, ctx, p, "class", ch_gets(ctx, "alert.event"), 255, e)))
        goto out;
    rc = TOCSIN_ENOMEM;
    if (json_object_set_new(p, "custom_details", details(ctx)))
        goto out;
    if (link.len && (json_object_set_new(body, "client_url", json_string(buf_str(&link))) ||
                     json_object_set_new(body, "links",
                                         json_pack("[{s:s,s:s}]", "href", buf_str(&link), "text",
                                                   "Open in tocsin"))))
        goto out;
    rc = json_object_set_new(body, "payload", p) ? TOCSIN_ENOMEM : TOCSIN_OK;
    p = NULL;
out:
    json_decref(p);
    buf_free(&title);
    buf_free(&link);
    return rc;
}

static int dedup_key(const struct chan *c, const json_t *ctx, char **out, struct verr *e)
{
    struct buf b;
    int rc;

    if ((rc = ch_text(c, "dedup_key", ctx, TMPL_ESC_NONE, out, e)))
        return rc;
    if (*out) {
        if (!**out || strlen(*out) > DEDUP_MAX)
            return verr_set(e, "config.dedup_key",
                            "renders to an empty or too long key "
                            "(1..%d bytes)",
                            DEDUP_MAX);
        return TOCSIN_OK;
    }
    buf_init(&b, DEDUP_MAX);
    if (buf_puts(&b, "tocsin-") || ch_stable_key(ctx, &b)) {
        buf_free(&b);
        return TOCSIN_ENOMEM;
    }
    *out = buf_steal(&b);
    return *out ? TOCSIN_OK : TOCSIN_ENOMEM;
}

static int render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                  struct verr *e)
{
    const char *act = action(ctx), *url = ch_cfg_str(c, "url"), *client = ch_cfg_str(c, "client");
    char *key = NULL;
    json_t *body = NULL;
    int rc;

    (void)now_ms;
    if ((rc = dedup_key(c, ctx, &key, e)))
        goto out;
    rc = TOCSIN_ENOMEM;
    body = json_pack("{s:s,s:s,s:s}", "routing_key", ch_cfg_str(c, "routing_key"), "event_action",
                     act, "dedup_key", key);
    if (!body)
        goto out;
    if (!strcmp(act, "trigger")) {
        if (json_object_set_new(body, "client", json_string(client ? client : "tocsin")))
            goto out;
        if ((rc = payload(c, ctx, body, e)))
            goto out;
    }
    if ((rc = ch_req_http(c, r, "POST", url ? url : PD_URL, "config.url", e)))
        goto out;
    r->action = act;
    rc = ch_req_json(r, body, e);
    body = NULL;
out:
    json_decref(body);
    free(key);
    return rc;
}

static int check(const struct chan *c, const struct chan_req *req, const struct chan_resp *resp,
                 int64_t now_ms, struct chan_outcome *o)
{
    (void)req;
    json_t *j;
    const char *key;

    (void)c;
    (void)now_ms;
    if (o->verdict != CHAN_DELIVERED)
        return TOCSIN_OK;
    j = ch_resp_json(resp);
    key = json_string_value(json_object_get(j, "dedup_key"));
    if (key && !(o->ticket = ch_ticket_new(key, NULL, key))) {
        json_decref(j);
        return TOCSIN_ENOMEM;
    }
    json_decref(j);
    return TOCSIN_OK;
}

const struct chan_ops ch_pagerduty_ops = {
    .type = "pagerduty",
    .fields = fields,
    .secrets = secrets,
    .compile = compile,
    .render = render,
    .check = check,
};
