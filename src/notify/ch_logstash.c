/* logstash: the http input plugin. A JSON POST of the context (or the `body` template, values
 * JSON-escaped), optional basic auth, X-Tocsin-Notification. Every change is an event. */
#include <stdlib.h>
#include <string.h>

#include "notify/ch_impl.h"
#include "util/err.h"

static const struct ch_field fields[] = {
    {"url", CHF_URL, CHF_REQUIRED},
    {"auth", CHF_OBJ, 0},
    {"body", CHF_TMPL, 0},
    {NULL, CHF_STR, 0},
};

static const char *const secrets[] = {"auth.password", NULL};

static int compile(struct chan *c, struct verr *e)
{
    return ch_check_auth(c, e);
}

static int render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                  struct verr *e)
{
    const char *nid = ch_gets(ctx, "notification.id");
    char *body = NULL;
    int rc;

    (void)now_ms;
    if ((rc = ch_req_http(c, r, "POST", ch_cfg_str(c, "url"), "config.url", e)))
        return rc;
    if (nid && (rc = ch_req_header(r, "X-Tocsin-Notification", nid, "notification.id", e)))
        return rc;
    if (ch_cfg(c, "auth") &&
        (rc = ch_req_basic(r, ch_gets(c->cfg, "auth.username"), ch_gets(c->cfg, "auth.password"))))
        return rc;
    if ((rc = ch_text(c, "body", ctx, TMPL_ESC_JSON, &body, e)))
        return rc;
    if (!body)
        return ch_req_ctx(r, ctx, true, e);
    if ((rc = ch_req_body(r, body, strlen(body), e)))
        return rc;
    return ch_req_header(r, "Content-Type", "application/json", "", e);
}

const struct chan_ops ch_logstash_ops = {
    .type = "logstash",
    .fields = fields,
    .secrets = secrets,
    .compile = compile,
    .render = render,
};
