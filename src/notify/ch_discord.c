/* discord: a webhook (the secret is the URL) with one embed: title (256 code points at most),
 * description (4096), colour 0x992D22 firing / 0x2ECC71 resolved; optional content (2000).
 * A 429's body retry_after (seconds) is honoured. */
#include <stdlib.h>
#include <string.h>

#include "notify/ch_impl.h"
#include "util/err.h"

#define CONTENT_MAX 2000
#define TITLE_MAX 256
#define DESC_MAX 4096

static const struct ch_field fields[] = {
    {"url", CHF_URL, CHF_REQUIRED},
    {"content", CHF_TMPL, 0},
    {"title", CHF_TMPL, 0},
    {"text", CHF_TMPL, 0},
    {"username", CHF_STR, 0},
    {"avatar_url", CHF_URL, 0},
    {NULL, CHF_STR, 0},
};

static const char *const secrets[] = {"url", NULL};

static int render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                  struct verr *e)
{
    char *title = NULL, *text = NULL, *content = NULL, *t = NULL, *d = NULL, *ct = NULL;
    struct buf link;
    json_t *body = NULL, *embed;
    int rc;

    (void)now_ms;
    buf_init(&link, CHAN_MAX_FIELD);
    if ((rc = ch_title_text(c, ctx, NULL, &title, &text, e)) ||
        (rc = ch_text(c, "content", ctx, TMPL_ESC_NONE, &content, e)))
        goto out;
    rc = TOCSIN_ENOMEM;
    if (!(t = ch_trunc(title, TITLE_MAX)) || !(d = ch_trunc(text, DESC_MAX)) || ch_link(ctx, &link))
        goto out;
    embed = json_pack("{s:s,s:s,s:i}", "title", t, "description", d, "color",
                      ch_resolved(ctx) ? 0x2ECC71 : 0x992D22);
    if (!embed)
        goto out;
    if (link.len)
        json_object_set_new(embed, "url", json_string(buf_str(&link)));
    if (!(body = json_pack("{s:[o]}", "embeds", embed)))
        goto out;
    if (content && *content) {
        if (!(ct = ch_trunc(content, CONTENT_MAX)) ||
            json_object_set_new(body, "content", json_string(ct)))
            goto out;
    }
    if (ch_cfg_str(c, "username"))
        json_object_set_new(body, "username", json_string(ch_cfg_str(c, "username")));
    if (ch_cfg_str(c, "avatar_url"))
        json_object_set_new(body, "avatar_url", json_string(ch_cfg_str(c, "avatar_url")));
    if ((rc = ch_req_http(c, r, "POST", ch_cfg_str(c, "url"), "config.url", e)))
        goto out;
    rc = ch_req_json(r, body, e);
    body = NULL;
out:
    json_decref(body);
    buf_free(&link);
    free(title);
    free(text);
    free(content);
    free(t);
    free(d);
    free(ct);
    return rc;
}

/* {"retry_after": 1.5, ...} on a 429 (seconds, fractional). */
static int check(const struct chan *c, const struct chan_req *req, const struct chan_resp *resp,
                 int64_t now_ms, struct chan_outcome *o)
{
    (void)req;
    json_t *j;
    double s;

    (void)c;
    (void)now_ms;
    if (resp->status != 429)
        return TOCSIN_OK;
    j = ch_resp_json(resp);
    if (json_is_number(json_object_get(j, "retry_after"))) {
        s = json_number_value(json_object_get(j, "retry_after"));
        if (s >= 0 && s * 1000.0 <= (double)CHAN_MAX_RETRY_AFTER_MS)
            o->retry_after_ms = (int64_t)(s * 1000.0 + 0.5);
        else if (s >= 0)
            o->retry_after_ms = CHAN_MAX_RETRY_AFTER_MS;
    }
    json_decref(j);
    return TOCSIN_OK;
}

const struct chan_ops ch_discord_ops = {
    .type = "discord",
    .fields = fields,
    .secrets = secrets,
    .url_secret = true,
    .render = render,
    .check = check,
};
