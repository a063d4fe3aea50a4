/* mattermost: an incoming webhook (the secret is the URL) with one Slack-compatible
 * attachment coloured by severity (green on resolve). */
#include <stdlib.h>
#include <string.h>

#include "notify/ch_impl.h"
#include "util/err.h"

static const struct ch_field fields[] = {
    {"url", CHF_URL, CHF_REQUIRED}, {"channel", CHF_STR, 0},    {"username", CHF_STR, 0},
    {"icon_url", CHF_URL, 0},       {"icon_emoji", CHF_STR, 0}, {"title", CHF_TMPL, 0},
    {"text", CHF_TMPL, 0},          {NULL, CHF_STR, 0},
};

static const char *const secrets[] = {"url", NULL};

static int render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                  struct verr *e)
{
    static const char *const opts[] = {"channel", "username", "icon_url", "icon_emoji"};
    char *title = NULL, *text = NULL;
    json_t *body = NULL, *att;
    int rc;

    (void)now_ms;
    if ((rc = ch_title_text(c, ctx, NULL, &title, &text, e)))
        goto out;
    rc = TOCSIN_ENOMEM;
    if (!(body = json_object()) || !(att = ch_slack_attachment(ctx, title, text)) ||
        json_object_set_new(body, "attachments", json_pack("[o]", att)))
        goto out;
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
        if (ch_cfg_str(c, opts[i]) &&
            json_object_set_new(body, opts[i], json_string(ch_cfg_str(c, opts[i]))))
            goto out;
    if ((rc = ch_req_http(c, r, "POST", ch_cfg_str(c, "url"), "config.url", e)))
        goto out;
    rc = ch_req_json(r, body, e);
    body = NULL;
out:
    json_decref(body);
    free(title);
    free(text);
    return rc;
}

const struct chan_ops ch_mattermost_ops = {
    .type = "mattermost",
    .fields = fields,
    .secrets = secrets,
    .url_secret = true,
    .render = render,
};
