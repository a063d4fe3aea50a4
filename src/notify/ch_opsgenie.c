/* opsgenie: Alert API v2 with `Authorization: GenieKey <api_key>`. Firing: create (POST
 * /v2/alerts) with alias = "tocsin-<alert id>" (or group hash, or the alias template), which
 * Opsgenie de-duplicates on; an "ack" change: POST /v2/alerts/{alias}/acknowledge; resolve: POST
 * /v2/alerts/{alias}/close, both ?identifierType=alias. Requests are asynchronous (202 +
 * requestId): the ticket is the alias. */
#include <stdlib.h>
#include <string.h>

#include "notify/ch_impl.h"
#include "util/err.h"

#define OG_API "https://api.opsgenie.com"
#define MESSAGE_MAX 130
#define ALIAS_MAX 512
#define DESC_MAX 15000
#define TAGS_MAX 20

static const struct ch_field fields[] = {
    {"api_key", CHF_STR, CHF_REQUIRED},
    {"api_url", CHF_URL, 0},
    {"message", CHF_TMPL, 0},
    {"description", CHF_TMPL, 0},
    {"alias", CHF_TMPL, 0},
    {"priority", CHF_STR, 0},
    {"tags", CHF_LIST, 0},
    {"responders", CHF_ANY, 0},
    {"entity", CHF_TMPL, 0},
    {"source", CHF_STR, 0},
    {NULL, CHF_STR, 0},
};

static const char *const secrets[] = {"api_key", NULL};

static int compile(struct chan *c, struct verr *e)
{
    const char *p = ch_cfg_str(c, "priority");
    const json_t *r = ch_cfg(c, "responders"), *it;
    size_t i;

    if (p && (strlen(p) != 2 || p[0] != 'P' || p[1] < '1' || p[1] > '5'))
        return verr_set(e, "config.priority", "must be P1, P2, P3, P4 or P5");
    if (r && !json_is_array(r))
        return verr_set(e, "config.responders", "must be a list of {id|name|username, type}");
    json_array_foreach(r, i, it)
    {
        if (!json_is_string(json_object_get(it, "type"))) {
            verr_set(e, "type", "is required");
            verr_prefix_index(e, "config.responders", i);
            return TOCSIN_EINVAL;
        }
    }
    return TOCSIN_OK;
}

static int alias(const struct chan *c, const json_t *ctx, char **out, struct verr *e)
{
    struct buf b;
    int rc = ch_text(c, "alias", ctx, TMPL_ESC_NONE, out, e);

    if (rc)
        return rc;
    if (*out) {
        if (!**out || strlen(*out) > ALIAS_MAX)
            return verr_set(e, "config.alias", "renders to an empty or too long alias");
        return TOCSIN_OK;
    }
    buf_init(&b, ALIAS_MAX);
    if (buf_puts(&b, "tocsin-") || ch_stable_key(ctx, &b)) {
        buf_free(&b);
        return TOCSIN_ENOMEM;
    }
    *out = buf_steal(&b);
    return *out ? TOCSIN_OK : TOCSIN_ENOMEM;
}

static json_t *details(const json_t *ctx)
{
    static const char *const keys[] = {"severity", "environment", "resource", "event",
                                       "value",    "origin",      "id"};
    const json_t *a = ch_get(ctx, "alert"), *v;
    const char *k;
    json_t *d = json_object();

    for (size_t i = 0; d && i < sizeof(keys) / sizeof(keys[0]); i++)
        if (json_is_string(json_object_get(a, keys[i])))
            json_object_set_new(d, keys[i], json_deep_copy(json_object_get(a, keys[i])));
    json_object_foreach((json_t *)json_object_get(a, "labels"), k,
                        v) if (d && json_is_string(v) && !json_object_get(d, k))
        json_object_set_new(d, k, json_deep_copy(v));
    return d;
}

static json_t *tags(const struct chan *c, const json_t *ctx)
{
    json_t *t = json_array();
    const json_t *v;
    size_t i, n;
    char **l = ch_cfg(c, "tags") ? ch_list(ch_cfg(c, "tags"), &n) : NULL;

    for (i = 0; t && l && l[i] && json_array_size(t) < TAGS_MAX; i++)
        json_array_append_new(t, json_string(l[i]));
    ch_strv_free(l);
    json_array_foreach(ch_get(ctx, "alert.tags"), i,
                       v) if (t && json_is_string(v) && json_array_size(t) < TAGS_MAX)
        json_array_append_new(t, json_deep_copy(v));
    return t;
}

static json_t *create_body(const struct chan *c, const json_t *ctx, const char *al, struct verr *e,
                           int *rc)
{
    static const char *const prio[] = {"P1", "P2", "P3", "P4", "P5", "P5"};
    char *msg = NULL, *desc = NULL, *ent = NULL, *m = NULL, *d = NULL;
    const char *p = ch_cfg_str(c, "priority"), *src = ch_cfg_str(c, "source");
    struct buf t, b;
    json_t *body = NULL;

    buf_init(&t, CHAN_MAX_FIELD);
    buf_init(&b, CHAN_MAX_FIELD);
    if ((*rc = ch_text(c, "message", ctx, TMPL_ESC_NONE, &msg, e)) ||
        (*rc = ch_text(c, "description", ctx, TMPL_ESC_NONE, &desc, e)) ||
        (*rc = ch_text(c, "entity", ctx, TMPL_ESC_NONE, &ent, e)))
        goto out;
    *rc = TOCSIN_ENOMEM;
    if (ch_title(ctx, &t) || ch_body(ctx, &b) ||
        !(m = ch_trunc(msg ? msg : buf_str(&t), MESSAGE_MAX)) ||
        !(d = ch_trunc(desc ? desc : buf_str(&b), DESC_MAX)))
        goto out;
    body = json_pack("{s:s,s:s,s:s,s:o,s:o,s:s,s:s}", "message", m, "alias", al, "description", d,
                     "details", details(ctx), "tags", tags(c, ctx), "priority",
                     p ? p : prio[ch_sev_level(ch_gets(ctx, "alert.severity"))], "source",
                     src ? src : "tocsin");
    if (body && ch_cfg(c, "responders"))
        json_object_set_new(body, "responders", json_deep_copy(ch_cfg(c, "responders")));
    if (body && (ent || ch_gets(ctx, "alert.resource")))
        json_object_set_new(body, "entity",
                            json_string(ent ? ent : ch_gets(ctx, "alert.resource")));
    *rc = body ? TOCSIN_OK : TOCSIN_ENOMEM;
out:
    buf_free(&t);
    buf_free(&b);
    free(msg);
    free(desc);
    free(ent);
    free(m);
    free(d);
    return body;
}

static int render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                  struct verr *e)
{
    const char *api = ch_cfg_str(c, "api_url"), *src = ch_cfg_str(c, "source");
    const char *act = ch_resolved(ctx)                 ? "close"
                      : !strcmp(ch_change(ctx), "ack") ? "acknowledge"
                                                       : "create";
    char *al = NULL, *url = NULL, auth[600];
    json_t *body = NULL;
    int rc;

    (void)now_ms;
    if ((rc = alias(c, ctx, &al, e)))
        goto out;
    if (!strcmp(act, "create")) {
        if (!(body = create_body(c, ctx, al, e, &rc)))
            goto out;
        rc = ch_join(api ? api : OG_API, "v2/alerts", &url);
    } else {
        char suffix[64];
        snprintf(suffix, sizeof(suffix), "/%s?identifierType=alias", act);
        body = json_pack("{s:s,s:s}", "source", src ? src : "tocsin", "note",
                         !strcmp(act, "close") ? "Resolved in tocsin" : "Acknowledged in tocsin");
        rc = body ? ch_join_esc(api ? api : OG_API, "v2/alerts/", al, suffix, &url) : TOCSIN_ENOMEM;
    }
    if (rc || (rc = ch_req_http(c, r, "POST", url, "config.api_url", e)))
        goto out;
    snprintf(auth, sizeof(auth), "GenieKey %s", ch_cfg_str(c, "api_key"));
    if ((rc = ch_req_header(r, "Authorization", auth, "config.api_key", e)))
        goto out;
    r->action = act;
    rc = ch_req_json(r, body, e);
    body = NULL;
out:
    json_decref(body);
    free(al);
    free(url);
    return rc;
}

/* 202 {"result":"Request will be processed","requestId":...}: the ticket is the alias the
 * create request carried (id and ref), with the requestId. */
static int check(const struct chan *c, const struct chan_req *req, const struct chan_resp *resp,
                 int64_t now_ms, struct chan_outcome *o)
{
    json_t *rq, *j;
    const char *al, *rid;
    int rc = TOCSIN_OK;

    (void)c;
    (void)now_ms;
    if (o->verdict != CHAN_DELIVERED || !req || !req->action || strcmp(req->action, "create") ||
        !req->body)
        return TOCSIN_OK;
    rq = json_loadb(req->body, req->body_len, 0, NULL);
    j = ch_resp_json(resp);
    al = json_string_value(json_object_get(rq, "alias"));
    rid = json_string_value(json_object_get(j, "requestId"));
    if (al) {
        o->ticket = ch_ticket_new(al, NULL, al);
        if (!o->ticket)
            rc = TOCSIN_ENOMEM;
        else if (rid)
            json_object_set_new(o->ticket, "requestId", json_string(rid));
    }
    json_decref(rq);
    json_decref(j);
    return rc;
}

const struct chan_ops ch_opsgenie_ops = {
    .type = "opsgenie",
    .fields = fields,
    .secrets = secrets,
    .compile = compile,
    .render = render,
    .check = check,
};
