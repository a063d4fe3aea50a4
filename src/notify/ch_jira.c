/* jira: REST API v2 (api_url ".../rest/api/2/"), basic auth (email + API token) or a bearer
 * token. Firing without a ticket: create an issue (POST issue) in `project` with summary,
 * description, labels (config labels + "ALERT{<key>}") and priority. Firing again with a
 * ticket: a comment on the issue. Resolve with a ticket: a comment, or the transition
 * `resolve_transition` (its id) with the comment in the same request. Resolve without a
 * ticket: a noop. The ticket: {"id": key, "url": <site>/browse/<key>, "ref": key}. */
#include <stdlib.h>
#include <string.h>

#include "notify/ch_impl.h"
#include "util/err.h"

#define SUMMARY_MAX 255

static const struct ch_field fields[] = {
    {"api_url", CHF_URL, CHF_REQUIRED},
    {"project", CHF_STR, CHF_REQUIRED},
    {"issue_type", CHF_STR, 0},
    {"auth", CHF_OBJ, 0},
    {"token", CHF_STR, 0},
    {"summary", CHF_TMPL, 0},
    {"description", CHF_TMPL, 0},
    {"comment", CHF_TMPL, 0},
    {"labels", CHF_LIST, 0},
    {"priority", CHF_STR, 0},
    {"resolve_transition", CHF_STR, 0},
    {"fields", CHF_OBJ, 0},
    {NULL, CHF_STR, 0},
};

static const char *const secrets[] = {"auth.password", "token", NULL};

static int compile(struct chan *c, struct verr *e)
{
    const char *t = ch_cfg_str(c, "resolve_transition");
    int rc;

    if ((rc = ch_check_auth_or_token(c, e)))
        return rc;
    for (; t && *t; t++)
        if (*t < '0' || *t > '9')
            return verr_set(e, "config.resolve_transition", "must be a transition id (digits)");
    if (!strstr(ch_cfg_str(c, "api_url"), "/rest/api/"))
        return verr_set(e, "config.api_url", "must end in /rest/api/2/");
    return TOCSIN_OK;
}

static int auth(const struct chan *c, struct chan_req *r, struct verr *e)
{
    char h[600];

    if (ch_cfg_str(c, "token")) {
        snprintf(h, sizeof(h), "Bearer %s", ch_cfg_str(c, "token"));
        return ch_req_header(r, "Authorization", h, "config.token", e);
    }
    return ch_req_basic(r, ch_gets(c->cfg, "auth.username"), ch_gets(c->cfg, "auth.password"));
}

static json_t *labels(const struct chan *c, const json_t *ctx)
{
    struct buf b;
    size_t n;
    char **l = ch_cfg(c, "labels") ? ch_list(ch_cfg(c, "labels"), &n) : NULL;
    json_t *a = json_array();

    buf_init(&b, 512);
    for (size_t i = 0; a && l && l[i]; i++)
        json_array_append_new(a, json_string(l[i]));
    ch_strv_free(l);
    if (a && !buf_puts(&b, "ALERT{") && !ch_stable_key(ctx, &b) && !buf_putc(&b, '}'))
        json_array_append_new(a, json_string(buf_str(&b)));
    buf_free(&b);
    return a;
}

static json_t *create_body(const struct chan *c, const json_t *ctx, struct verr *e, int *rc)
{
    const char *it = ch_cfg_str(c, "issue_type"), *prio = ch_cfg_str(c, "priority");
    char *sum = NULL, *desc = NULL, *cut = NULL;
    struct buf t, b;
    json_t *f = NULL, *body = NULL;

    buf_init(&t, CHAN_MAX_FIELD);
    buf_init(&b, CHAN_MAX_FIELD);
    if ((*rc = ch_text(c, "summary", ctx, TMPL_ESC_NONE, &sum, e)) ||
        (*rc = ch_text(c, "description", ctx, TMPL_ESC_NONE, &desc, e)))
        goto out;
    *rc = TOCSIN_ENOMEM;
    if (ch_title(ctx, &t) || ch_body(ctx, &b) ||
        !(cut = ch_trunc(sum ? sum : buf_str(&t), SUMMARY_MAX)))
        goto out;
    for (char *p = cut; *p; p++) /* a summary is one line */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    f = ch_cfg(c, "fields") ? json_deep_copy(ch_cfg(c, "fields")) : json_object();
    if (!f ||
        json_object_set_new(f, "project", json_pack("{s:s}", "key", ch_cfg_str(c, "project"))) ||
        json_object_set_new(f, "issuetype", json_pack("{s:s}", "name", it ? it : "Bug")) ||
        json_object_set_new(f, "summary", json_string(cut)) ||
        json_object_set_new(f, "description", json_string(desc ? desc : buf_str(&b))) ||
        json_object_set_new(f, "labels", labels(c, ctx)) ||
        (prio && json_object_set_new(f, "priority", json_pack("{s:s}", "name", prio))))
        goto out;
    body = json_pack("{s:o}", "fields", f);
    f = NULL;
    *rc = body ? TOCSIN_OK : TOCSIN_ENOMEM;
out:
    json_decref(f);
    buf_free(&t);
    buf_free(&b);
    free(sum);
    free(desc);
    free(cut);
    return body;
}

static int comment_text(const struct chan *c, const json_t *ctx, char **out, struct verr *e)
{
    struct buf b;
    int rc = ch_text(c, "comment", ctx, TMPL_ESC_NONE, out, e);

    if (rc || *out)
        return rc;
    buf_init(&b, CHAN_MAX_FIELD);
    if (ch_title(ctx, &b) || buf_puts(&b, "\n\n") || ch_body(ctx, &b)) {
        buf_free(&b);
        return TOCSIN_ENOMEM;
    }
    *out = buf_steal(&b);
    return *out ? TOCSIN_OK : TOCSIN_ENOMEM;
}

static int render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                  struct verr *e)
{
    const char *key = json_string_value(json_object_get(ch_ticket(c, ctx), "ref"));
    const char *tr = ch_cfg_str(c, "resolve_transition"), *api = ch_cfg_str(c, "api_url");
    char *url = NULL, *text = NULL;
    json_t *body = NULL;
    int rc;

    (void)now_ms;
    if (!key && ch_resolved(ctx)) {
        r->noop = true;
        r->action = "none";
        verr_set(e, "", "no issue to resolve: no ticket from an earlier create");
        return TOCSIN_OK;
    }
    if (!key) {
        r->action = "create";
        if (!(body = create_body(c, ctx, e, &rc)))
            goto out;
        rc = ch_join(api, "issue", &url);
    } else {
        if ((rc = comment_text(c, ctx, &text, e)))
            goto out;
        if (ch_resolved(ctx) && tr) {
            r->action = "transition";
            body = json_pack("{s:{s:s},s:{s:[{s:{s:s}}]}}", "transition", "id", tr, "update",
                             "comment", "add", "body", text);
            rc = body ? ch_join_esc(api, "issue/", key, "/transitions", &url) : TOCSIN_ENOMEM;
        } else {
            r->action = "comment";
            body = json_pack("{s:s}", "body", text);
            rc = body ? ch_join_esc(api, "issue/", key, "/comment", &url) : TOCSIN_ENOMEM;
        }
    }
    if (rc || (rc = ch_req_http(c, r, "POST", url, "config.api_url", e)) ||
        (rc = ch_req_header(r, "Accept", "application/json", "", e)) || (rc = auth(c, r, e)))
        goto out;
    rc = ch_req_json(r, body, e);
    body = NULL;
out:
    json_decref(body);
    free(url);
    free(text);
    return rc;
}

/* 201 {"id","key","self"} for a create; comments and transitions carry no key. */
static int check(const struct chan *c, const struct chan_req *req, const struct chan_resp *resp,
                 int64_t now_ms, struct chan_outcome *o)
{
    const char *api = ch_cfg_str(c, "api_url"), *rest = strstr(api, "/rest/api/"), *key;
    json_t *j;
    char *url = NULL, site[1024];
    int rc = TOCSIN_OK;

    (void)req;
    (void)now_ms;
    if (o->verdict != CHAN_DELIVERED)
        return TOCSIN_OK;
    j = ch_resp_json(resp);
    key = ch_gets(j, "key");
    if (key && rest) {
        snprintf(site, sizeof(site), "%.*s", (int)(rest - api), api);
        rc = ch_join_esc(site, "browse/", key, "", &url);
        if (!rc && !(o->ticket = ch_ticket_new(key, url, key)))
            rc = TOCSIN_ENOMEM;
    }
    free(url);
    json_decref(j);
    return rc;
}

const struct chan_ops ch_jira_ops = {
    .type = "jira",
    .fields = fields,
    .secrets = secrets,
    .compile = compile,
    .render = render,
    .check = check,
};
