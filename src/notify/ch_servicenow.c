/* servicenow: the Table API. Firing without a ticket: create (POST /api/now/table/<table>)
 * with short_description, description, urgency and impact from the severity, and
 * correlation_id "tocsin-<key>". Firing again with a ticket (ack, severity change, repeat):
 * PATCH /api/now/table/<table>/<sys_id> with work_notes and the new urgency/impact. Resolve
 * with a ticket: PATCH state (resolved_state, default "6" Resolved), close_code, close_notes.
 * Resolve without a ticket (the create never succeeded): a noop, nothing to resolve.
 * The ticket: {"id": number, "url": <url>/<table>.do?sys_id=<sys_id>, "ref": sys_id}. */
#include <stdlib.h>
#include <string.h>

#include "notify/ch_impl.h"
#include "util/err.h"

#define SHORT_MAX 160

static const struct ch_field fields[] = {
    {"url", CHF_URL, CHF_REQUIRED},
    {"auth", CHF_OBJ, 0},
    {"token", CHF_STR, 0},
    {"table", CHF_STR, 0},
    {"short_description", CHF_TMPL, 0},
    {"description", CHF_TMPL, 0},
    {"close_notes", CHF_TMPL, 0},
    {"close_code", CHF_STR, 0},
    {"resolved_state", CHF_STR, 0},
    {"fields", CHF_OBJ, 0},
    {NULL, CHF_STR, 0},
};

static const char *const secrets[] = {"auth.password", "token", NULL};

static int compile(struct chan *c, struct verr *e)
{
    const char *t = ch_cfg_str(c, "table");
    int rc;

    if ((rc = ch_check_auth_or_token(c, e)))
        return rc;
    for (; t && *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') || *t == '_'))
            return verr_set(e, "config.table", "must be a table name (a-z 0-9 _)");
    return TOCSIN_OK;
}

static const char *table(const struct chan *c)
{
    return ch_cfg_str(c, "table") ? ch_cfg_str(c, "table") : "incident";
}

/* urgency, impact: 1 high, 2 medium, 3 low */
static void sev_map(const json_t *ctx, const char **urgency, const char **impact)
{
    static const char *const u[] = {"1", "1", "2", "2", "3", "3"}, *const i[] = {"1", "2", "2",
                                                                                 "3", "3", "3"};
    int l = ch_sev_level(ch_gets(ctx, "alert.severity"));

    *urgency = u[l];
    *impact = i[l];
}

static int auth(const struct chan *c, struct chan_req *r, struct verr *e)
{
    char h[600];
    int rc = ch_req_header(r, "Accept", "application/json", "", e);

    if (rc)
        return rc;
    if (ch_cfg_str(c, "token")) {
        snprintf(h, sizeof(h), "Bearer %s", ch_cfg_str(c, "token"));
        return ch_req_header(r, "Authorization", h, "config.token", e);
    }
    return ch_req_basic(r, ch_gets(c->cfg, "auth.username"), ch_gets(c->cfg, "auth.password"));
}

static json_t *create_body(const struct chan *c, const json_t *ctx, struct verr *e, int *rc)
{
    char *sd = NULL, *desc = NULL, *cut = NULL;
    const char *u, *im;
    struct buf t, b, key;
    json_t *body = NULL;

    buf_init(&t, CHAN_MAX_FIELD);
    buf_init(&b, CHAN_MAX_FIELD);
    buf_init(&key, CHAN_MAX_FIELD);
    if ((*rc = ch_text(c, "short_description", ctx, TMPL_ESC_NONE, &sd, e)) ||
        (*rc = ch_text(c, "description", ctx, TMPL_ESC_NONE, &desc, e)))
        goto out;
    *rc = TOCSIN_ENOMEM;
    if (ch_title(ctx, &t) || ch_body(ctx, &b) || buf_puts(&key, "tocsin-") ||
        ch_stable_key(ctx, &key) || !(cut = ch_trunc(sd ? sd : buf_str(&t), SHORT_MAX)))
        goto out;
    sev_map(ctx, &u, &im);
    body = ch_cfg(c, "fields") ? json_deep_copy(ch_cfg(c, "fields")) : json_object();
    if (!body || json_object_set_new(body, "short_description", json_string(cut)) ||
        json_object_set_new(body, "description", json_string(desc ? desc : buf_str(&b))) ||
        json_object_set_new(body, "urgency", json_string(u)) ||
        json_object_set_new(body, "impact", json_string(im)) ||
        json_object_set_new(body, "correlation_id", json_string(buf_str(&key))) ||
        json_object_set_new(body, "correlation_display", json_string("tocsin"))) {
        json_decref(body);
        body = NULL;
        goto out;
    }
    *rc = TOCSIN_OK;
out:
    buf_free(&t);
    buf_free(&b);
    buf_free(&key);
    free(sd);
    free(desc);
    free(cut);
    return body;
}

static json_t *update_body(const struct chan *c, const json_t *ctx, struct verr *e, int *rc)
{
    const char *u, *im, *cc = ch_cfg_str(c, "close_code"), *st = ch_cfg_str(c, "resolved_state");
    char *notes = NULL;
    struct buf t, b;
    json_t *body = NULL;

    buf_init(&t, CHAN_MAX_FIELD);
    buf_init(&b, CHAN_MAX_FIELD);
    *rc = TOCSIN_ENOMEM;
    if (ch_title(ctx, &t) || ch_body(ctx, &b))
        goto out;
    if (!ch_resolved(ctx)) {
        sev_map(ctx, &u, &im);
        body = json_pack("{s:s,s:s,s:s}", "work_notes", buf_str(&t), "urgency", u, "impact", im);
    } else {
        if ((*rc = ch_text(c, "close_notes", ctx, TMPL_ESC_NONE, &notes, e)))
            goto out;
        body = json_pack("{s:s,s:s,s:s,s:s}", "state", st ? st : "6", "close_code",
                         cc ? cc : "Solved (Permanently)", "close_notes",
                         notes ? notes : buf_str(&b), "work_notes", buf_str(&t));
    }
    *rc = body ? TOCSIN_OK : TOCSIN_ENOMEM;
out:
    buf_free(&t);
    buf_free(&b);
    free(notes);
    return body;
}

static int render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                  struct verr *e)
{
    const json_t *tk = ch_ticket(c, ctx);
    const char *sys_id = json_string_value(json_object_get(tk, "ref"));
    char *url = NULL, prefix[96];
    json_t *body = NULL;
    int rc;

    (void)now_ms;
    if (!sys_id && ch_resolved(ctx)) {
        r->noop = true;
        r->action = "none";
        verr_set(e, "", "no incident to resolve: no ticket from an earlier create");
        return TOCSIN_OK;
    }
    snprintf(prefix, sizeof(prefix), "api/now/table/%s/", table(c));
    if (!sys_id) {
        body = create_body(c, ctx, e, &rc);
        r->action = "create";
        if (body)
            rc = ch_join_esc(ch_cfg_str(c, "url"), prefix, "", "", &url);
    } else {
        body = update_body(c, ctx, e, &rc);
        r->action = ch_resolved(ctx) ? "resolve" : "update";
        if (body)
            rc = ch_join_esc(ch_cfg_str(c, "url"), prefix, sys_id, "", &url);
    }
    if (rc)
        goto out;
    if (!sys_id && url[strlen(url) - 1] == '/')
        url[strlen(url) - 1] = '\0';
    if ((rc = ch_req_http(c, r, sys_id ? "PATCH" : "POST", url, "config.url", e)) ||
        (rc = auth(c, r, e)))
        goto out;
    rc = ch_req_json(r, body, e);
    body = NULL;
out:
    json_decref(body);
    free(url);
    return rc;
}

static int check(const struct chan *c, const struct chan_req *req, const struct chan_resp *resp,
                 int64_t now_ms, struct chan_outcome *o)
{
    json_t *j;
    const char *sys_id, *num;
    char path[160], *url = NULL;
    int rc = TOCSIN_OK;

    (void)req;
    (void)now_ms;
    if (o->verdict != CHAN_DELIVERED)
        return TOCSIN_OK;
    j = ch_resp_json(resp);
    sys_id = ch_gets(j, "result.sys_id");
    num = ch_gets(j, "result.number");
    if (sys_id) {
        snprintf(path, sizeof(path), "%s.do?sys_id=", table(c));
        rc = ch_join_esc(ch_cfg_str(c, "url"), path, sys_id, "", &url);
        if (!rc && !(o->ticket = ch_ticket_new(num ? num : sys_id, url, sys_id)))
            rc = TOCSIN_ENOMEM;
    }
    free(url);
    json_decref(j);
    return rc;
}

const struct chan_ops ch_servicenow_ops = {
    .type = "servicenow",
    .fields = fields,
    .secrets = secrets,
    .compile = compile,
    .render = render,
    .check = check,
};
