/* teams: a Workflows (Power Automate) webhook with an Adaptive Card (default), or a legacy
 * Office 365 connector with a MessageCard (format "messagecard"). The secret is the URL. */
#include <stdlib.h>
#include <string.h>

#include "notify/ch_impl.h"
#include "util/err.h"

static const struct ch_field fields[] = {
    {"url", CHF_URL, CHF_REQUIRED}, {"format", CHF_STR, 0}, {"title", CHF_TMPL, 0},
    {"text", CHF_TMPL, 0},          {NULL, CHF_STR, 0},
};

static const char *const secrets[] = {"url", NULL};

/* Teams refuses a message over 28 KB (Microsoft's limit for webhook messages): the text is cut
 * to leave room for the card around it. */
#define TEXT_MAX (20 * 1024)

static int compile(struct chan *c, struct verr *e)
{
    const char *f = ch_cfg_str(c, "format");

    if (f && strcmp(f, "adaptive") && strcmp(f, "messagecard"))
        return verr_set(e, "config.format", "must be \"adaptive\" or \"messagecard\"");
    return TOCSIN_OK;
}

static const char *card_color(const json_t *ctx)
{
    int l = ch_sev_level(ch_gets(ctx, "alert.severity"));

    if (ch_resolved(ctx))
        return "Good";
    return l <= 1 ? "Attention" : l <= 3 ? "Warning" : "Default";
}

static json_t *adaptive(const json_t *ctx, const char *title, const char *text, const char *link)
{
    json_t *card = json_pack(
        "{s:s,s:s,s:s,s:[{s:s,s:s,s:s,s:s,s:b,s:s,s:s},{s:s,s:s,s:b}],s:{s:s}}", "$schema",
        "http://adaptivecards.io/schemas/adaptive-card.json", "type", "AdaptiveCard", "version",
        "1.2", "body", "type", "TextBlock", "text", title, "weight", "Bolder", "size", "Medium",
        "wrap", 1, "style", "heading", "color", card_color(ctx), "type", "TextBlock", "text", text,
        "wrap", 1, "msteams", "width", "full");

    if (card && *link)
        json_object_set_new(card, "actions",
                            json_pack("[{s:s,s:s,s:s}]", "type", "Action.OpenUrl", "title",
                                      "Open in tocsin", "url", link));
    return json_pack("{s:s,s:[{s:s,s:n,s:o}]}", "type", "message", "attachments", "contentType",
                     "application/vnd.microsoft.card.adaptive", "contentUrl", "content", card);
}

static json_t *messagecard(const json_t *ctx, const char *title, const char *text, const char *link)
{
    json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "@type", "MessageCard", "@context",
                          "http://schema.org/extensions", "themeColor", ch_color(ctx) + 1,
                          "summary", title, "title", title, "text", text);

    if (m && *link)
        json_object_set_new(m, "potentialAction",
                            json_pack("[{s:s,s:s,s:[{s:s,s:s}]}]", "@type", "OpenUri", "name",
                                      "Open in tocsin", "targets", "os", "default", "uri", link));
    return m;
}

static int render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                  struct verr *e)
{
    const char *f = ch_cfg_str(c, "format");
    char *title = NULL, *text = NULL;
    struct buf link;
    json_t *body;
    int rc;

    (void)now_ms;
    buf_init(&link, CHAN_MAX_FIELD);
    if ((rc = ch_title_text(c, ctx, NULL, &title, &text, e)))
        goto out;
    rc = TOCSIN_ENOMEM;
    if (strlen(text) > TEXT_MAX) {
        char *cut = ch_cut_bytes(text, TEXT_MAX);
        if (!cut)
            goto out;
        free(text);
        text = cut;
    }
    if (ch_link(ctx, &link))
        goto out;
    body = f && !strcmp(f, "messagecard") ? messagecard(ctx, title, text, buf_str(&link))
                                          : adaptive(ctx, title, text, buf_str(&link));
    if (!body)
        goto out;
    if ((rc = ch_req_http(c, r, "POST", ch_cfg_str(c, "url"), "config.url", e))) {
        json_decref(body);
        goto out;
    }
    rc = ch_req_json(r, body, e);
out:
    buf_free(&link);
    free(title);
    free(text);
    return rc;
}

const struct chan_ops ch_teams_ops = {
    .type = "teams",
    .fields = fields,
    .secrets = secrets,
    .url_secret = true,
    .compile = compile,
    .render = render,
};
