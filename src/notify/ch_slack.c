/* slack: an incoming webhook (`url`: the secret is in it), or the Web API chat.postMessage with
 * a bot `token` and a `channel` (api_url overridable). One attachment coloured by severity
 * (green on resolve) carrying the title and the text. Slack wants & < > escaped in text; the
 * default text is escaped, user templates are sent as rendered (Slack markup allowed). */
#include <stdlib.h>
#include <string.h>

#include "notify/ch_impl.h"
#include "util/err.h"

#define SLACK_API "https://slack.com/api"

static const struct ch_field fields[] = {
    {"url", CHF_URL, 0},      {"token", CHF_STR, 0},    {"channel", CHF_STR, 0},
    {"api_url", CHF_URL, 0},  {"username", CHF_STR, 0}, {"icon_emoji", CHF_STR, 0},
    {"icon_url", CHF_URL, 0}, {"title", CHF_TMPL, 0},   {"text", CHF_TMPL, 0},
    {"color", CHF_STR, 0},    {NULL, CHF_STR, 0},
};

static const char *const secrets[] = {"url", "token", NULL};

/* Slack's mrkdwn escapes only & < > */
static int slack_escape(struct buf *b, const char *s)
{
    return buf_html_escape(b, s, false);
}

json_t *ch_slack_attachment(const json_t *ctx, const char *title, const char *text)
{
    struct buf link;
    json_t *a;

    buf_init(&link, CHAN_MAX_FIELD);
    a = json_pack("{s:s,s:s,s:s,s:s,s:s}", "fallback", title, "color", ch_color(ctx), "title",
                  title, "text", text, "footer", "tocsin");
    if (a && !ch_link(ctx, &link) && link.len)
        json_object_set_new(a, "title_link", json_string(buf_str(&link)));
    buf_free(&link);
    return a;
}

static int compile(struct chan *c, struct verr *e)
{
    bool url = ch_cfg(c, "url") != NULL, tok = ch_cfg(c, "token") != NULL;

    if (url == tok)
        return verr_set(e, "config.url",
                        "set either url (incoming webhook) or token and "
                        "channel (chat.postMessage)");
    if (tok && !ch_cfg(c, "channel"))
        return verr_set(e, "config.channel", "is required with token");
    if (url && ch_cfg(c, "api_url"))
        return verr_set(e, "config.api_url", "only applies with token");
    return TOCSIN_OK;
}

static int opt(json_t *o, const struct chan *c, const char *k)
{
    const char *v = ch_cfg_str(c, k);
    return v ? json_object_set_new(o, k, json_string(v)) : 0;
}

static int render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                  struct verr *e)
{
    char *title = NULL, *text = NULL, *url = NULL, auth[600];
    const char *tok = ch_cfg_str(c, "token");
    json_t *p = NULL, *att;
    int rc;

    (void)now_ms;
    if ((rc = ch_title_text(c, ctx, slack_escape, &title, &text, e)))
        goto out;
    rc = TOCSIN_ENOMEM;
    if (!(p = json_object()) || !(att = ch_slack_attachment(ctx, title, text)))
        goto out;
    if (ch_cfg_str(c, "color"))
        json_object_set_new(att, "color", json_string(ch_cfg_str(c, "color")));
    if (opt(p, c, "channel") || opt(p, c, "username") || opt(p, c, "icon_emoji") ||
        opt(p, c, "icon_url") || json_object_set_new(p, "attachments", json_pack("[o]", att)))
        goto out;
    if (tok) {
        if ((rc = ch_join(ch_cfg_str(c, "api_url") ? ch_cfg_str(c, "api_url") : SLACK_API,
                          "chat.postMessage", &url)) ||
            (rc = ch_req_http(c, r, "POST", url, "config.api_url", e)))
            goto out;
        snprintf(auth, sizeof(auth), "Bearer %s", tok);
        if ((rc = ch_req_header(r, "Authorization", auth, "config.token", e)))
            goto out;
    } else if ((rc = ch_req_http(c, r, "POST", ch_cfg_str(c, "url"), "config.url", e))) {
        goto out;
    }
    rc = ch_req_json(r, p, e);
    p = NULL;
out:
    json_decref(p);
    free(title);
    free(text);
    free(url);
    return rc;
}

/* 200 "ok" (webhook) or {"ok":true} (Web API); ok:false is a failure unless rate limited. */
static int check(const struct chan *c, const struct chan_req *req, const struct chan_resp *resp,
                 int64_t now_ms, struct chan_outcome *o)
{
    (void)req;
    json_t *j;
    const char *err;

    (void)c;
    (void)now_ms;
    if (o->verdict != CHAN_DELIVERED)
        return TOCSIN_OK;
    if (resp->body_len == 2 && memcmp(resp->body, "ok", 2) == 0)
        return TOCSIN_OK;
    j = ch_resp_json(resp);
    if (json_is_true(json_object_get(j, "ok"))) {
        json_decref(j);
        return TOCSIN_OK;
    }
    err = json_string_value(json_object_get(j, "error"));
    if (json_is_false(json_object_get(j, "ok")) && err &&
        (!strcmp(err, "ratelimited") || !strcmp(err, "rate_limited")))
        ch_set(o, CHAN_RETRY, "slack: %s", err);
    else if (j && err)
        ch_set(o, CHAN_FAILED, "slack: %.200s", err);
    else
        ch_set(o, CHAN_FAILED, "slack: the answer is neither \"ok\" nor {\"ok\":true}");
    json_decref(j);
    return TOCSIN_OK;
}

const struct chan_ops ch_slack_ops = {
    .type = "slack",
    .fields = fields,
    .secrets = secrets,
    .url_secret = true,
    .compile = compile,
    .render = render,
    .check = check,
};
