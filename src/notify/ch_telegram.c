/* telegram: Bot API sendMessage with parse_mode HTML. The default text is the title in bold
 * and the details, every value HTML-escaped; a user `text` template is rendered with HTML
 * escaping of the substituted values (its own markup is kept). Text is cut to 4096 code
 * points. `token` is the secret (it goes in the URL path). */
#include <stdlib.h>
#include <string.h>

#include "notify/ch_impl.h"
#include "util/err.h"

#define TG_API "https://api.telegram.org"
#define TEXT_MAX 4096
#define DETAILS_MAX 3500

static const struct ch_field fields[] = {
    {"token", CHF_STR, CHF_REQUIRED},
    {"chat_id", CHF_ID, CHF_REQUIRED},
    {"api_url", CHF_URL, 0},
    {"message_thread_id", CHF_INT, 0},
    {"disable_notification", CHF_BOOL, 0},
    {"text", CHF_TMPL, 0},
    {NULL, CHF_STR, 0},
};

static const char *const secrets[] = {"token", NULL};

static int compile(struct chan *c, struct verr *e)
{
    for (const char *p = ch_cfg_str(c, "token"); *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              strchr(":-_", *p)))
            return verr_set(e, "config.token", "is not a bot token (digits:letters)");
    return TOCSIN_OK;
}

static int default_text(const json_t *ctx, char **out)
{
    struct buf t, d, o;
    char *cut = NULL;
    int rc = TOCSIN_ENOMEM;

    buf_init(&t, CHAN_MAX_FIELD);
    buf_init(&d, CHAN_MAX_FIELD);
    buf_init(&o, CHAN_MAX_FIELD);
    if (ch_title(ctx, &t) || ch_body(ctx, &d) || !(cut = ch_trunc(buf_str(&d), DETAILS_MAX)))
        goto out;
    if (buf_puts(&o, "<b>") || ch_html_escape(&o, buf_str(&t)) || buf_puts(&o, "</b>\n\n") ||
        ch_html_escape(&o, cut))
        goto out;
    *out = buf_steal(&o);
    rc = *out ? TOCSIN_OK : TOCSIN_ENOMEM;
out:
    free(cut);
    buf_free(&t);
    buf_free(&d);
    buf_free(&o);
    return rc;
}

static int render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                  struct verr *e)
{
    const char *api = ch_cfg_str(c, "api_url");
    char *text = NULL, *cut = NULL, *url = NULL;
    json_t *body = NULL;
    struct buf path;
    int rc;

    (void)now_ms;
    buf_init(&path, 1024);
    if ((rc = ch_text(c, "text", ctx, TMPL_ESC_HTML, &text, e)) ||
        (!text && (rc = default_text(ctx, &text))))
        goto out;
    rc = TOCSIN_ENOMEM;
    if (!(cut = ch_trunc(text, TEXT_MAX)))
        goto out;
    /* copies, never references: the compiled channel is shared between threads */
    body = json_pack("{s:o,s:s,s:s}", "chat_id", json_deep_copy(ch_cfg(c, "chat_id")), "text", cut,
                     "parse_mode", "HTML");
    if (!body)
        goto out;
    if (ch_cfg(c, "message_thread_id"))
        json_object_set_new(body, "message_thread_id",
                            json_deep_copy(ch_cfg(c, "message_thread_id")));
    if (ch_cfg(c, "disable_notification"))
        json_object_set_new(body, "disable_notification",
                            json_deep_copy(ch_cfg(c, "disable_notification")));
    if (buf_printf(&path, "bot%s/sendMessage", ch_cfg_str(c, "token")) ||
        ch_join(api ? api : TG_API, buf_str(&path), &url))
        goto out;
    if ((rc = ch_req_http(c, r, "POST", url, "config.api_url", e)))
        goto out;
    rc = ch_req_json(r, body, e);
    body = NULL;
out:
    json_decref(body);
    buf_free(&path);
    free(text);
    free(cut);
    free(url);
    return rc;
}

/* {"ok":true,...}; a 429 carries {"parameters":{"retry_after":N}} (seconds). */
static int check(const struct chan *c, const struct chan_req *req, const struct chan_resp *resp,
                 int64_t now_ms, struct chan_outcome *o)
{
    (void)req;
    json_t *j = ch_resp_json(resp);
    const json_t *ra = ch_get(j, "parameters.retry_after");
    const char *d = json_string_value(json_object_get(j, "description"));

    (void)c;
    (void)now_ms;
    if (json_is_integer(ra) && json_integer_value(ra) >= 0) {
        json_int_t s = json_integer_value(ra);
        o->retry_after_ms =
            s > CHAN_MAX_RETRY_AFTER_MS / 1000 ? CHAN_MAX_RETRY_AFTER_MS : (int64_t)s * 1000;
        if (o->verdict != CHAN_FAILED)
            ch_set(o, CHAN_RETRY, "telegram: %.200s", d ? d : "retry later");
    } else if (o->verdict == CHAN_DELIVERED && !json_is_true(json_object_get(j, "ok"))) {
        ch_set(o, CHAN_FAILED, "telegram: %.200s", d ? d : "the answer is not {\"ok\":true}");
    }
    json_decref(j);
    return TOCSIN_OK;
}

const struct chan_ops ch_telegram_ops = {
    .type = "telegram",
    .fields = fields,
    .secrets = secrets,
    .url_secret = true,
    .compile = compile,
    .render = render,
    .check = check,
};
