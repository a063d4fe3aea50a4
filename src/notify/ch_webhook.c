/* webhook: any HTTP endpoint. Templated url (values percent-encoded), headers (values as-is,
 * no line breaks) and body (values JSON-escaped unless body_escape is "none"); basic auth;
 * Canopsis' declare_ticket to read a ticket from the answer. The default body is the context
 * itself as JSON. Every request carries X-Tocsin-Notification and Idempotency-Key =
 * notification.id, the same on every retry. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "notify/ch_impl.h"
#include "util/err.h"

#define RE_MATCH_LIMIT 100000
#define MAX_EXTRA 16

struct hdr {
    char *name;
    struct tmpl *t;
};

struct extra {
    char *key;
    char *path; /* JSON path, or the regex source when is_regexp */
    pcre2_code *re;
};

struct dticket {
    bool is_regexp, empty_response;
    char *id_path, *url_path;
    pcre2_code *id_re, *url_re;
    struct tmpl *id_tpl, *url_tpl;
    struct extra extra[MAX_EXTRA];
    size_t nextra;
};

struct wh {
    struct hdr *h;
    size_t nh;
    char method[17];
    enum tmpl_escape body_esc;
    struct dticket *dt;
};

static const struct ch_field fields[] = {
    {"url", CHF_TMPL, CHF_REQUIRED}, {"method", CHF_STR, 0},      {"headers", CHF_OBJ, 0},
    {"body", CHF_TMPL, 0},           {"body_escape", CHF_STR, 0}, {"auth", CHF_OBJ, 0},
    {"declare_ticket", CHF_OBJ, 0},  {NULL, CHF_STR, 0},
};

static const char *const secrets[] = {"auth.password", "headers.*", NULL};

static void free_dt(struct dticket *dt)
{
    if (!dt)
        return;
    free(dt->id_path);
    free(dt->url_path);
    pcre2_code_free(dt->id_re);
    pcre2_code_free(dt->url_re);
    tmpl_free(dt->id_tpl);
    tmpl_free(dt->url_tpl);
    for (size_t i = 0; i < dt->nextra; i++) {
        free(dt->extra[i].key);
        free(dt->extra[i].path);
        pcre2_code_free(dt->extra[i].re);
    }
    free(dt);
}

static void free_priv(void *p)
{
    struct wh *w = p;

    for (size_t i = 0; i < w->nh; i++) {
        free(w->h[i].name);
        tmpl_free(w->h[i].t);
    }
    free(w->h);
    free_dt(w->dt);
    free(w);
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);

    if (!n || n > 256)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

static bool reserved_header(const char *s)
{
    static const char *const names[] = {
        "User-Agent",        "Content-Length",        "Host",
        "Transfer-Encoding", "X-Tocsin-Notification", "Idempotency-Key"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(s, names[i]) == 0)
            return true;
    return false;
}

static int compile_headers(struct wh *w, const json_t *h, struct verr *e)
{
    const char *k;
    const json_t *v;
    char field[300];
    int rc;

    if (!h)
        return TOCSIN_OK;
    if (json_object_size(h) > CHAN_MAX_HEADERS - 4)
        return verr_set(e, "config.headers", "at most %d headers", CHAN_MAX_HEADERS - 4);
    w->h = calloc(json_object_size(h) + 1, sizeof(*w->h));
    if (!w->h)
        return TOCSIN_ENOMEM;
    json_object_foreach((json_t *)h, k, v)
    {
        snprintf(field, sizeof(field), "config.headers.%s", k);
        if (!valid_name(k))
            return verr_set(e, field, "is not a valid header name");
        if (reserved_header(k))
            return verr_set(e, field, "is set by tocsin and cannot be configured");
        if (!json_is_string(v))
            return verr_set(e, field, "must be a string");
        w->h[w->nh].name = strdup(k);
        if (!w->h[w->nh].name)
            return TOCSIN_ENOMEM;
        rc = ch_compile_tmpl(json_string_value(v), field, &w->h[w->nh++].t, e);
        if (rc)
            return rc;
    }
    return TOCSIN_OK;
}

static int compile_re(const char *src, const char *field, pcre2_code **out, struct verr *e)
{
    int errc;
    PCRE2_SIZE off;
    uint32_t ncap = 0;
    PCRE2_UCHAR msg[128];

    *out = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
                         PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errc, &off, NULL);
    if (!*out) {
        pcre2_get_error_message(errc, msg, sizeof(msg));
        return verr_set(e, field, "bad regular expression at offset %zu: %s", (size_t)off,
                        (const char *)msg);
    }
    pcre2_pattern_info(*out, PCRE2_INFO_CAPTURECOUNT, &ncap);
    if (ncap < 1)
        return verr_set(e, field, "the regular expression needs a capture group");
    return TOCSIN_OK;
}

static int dt_str(const json_t *dtj, const char *key, char **out, struct verr *e)
{
    const json_t *v = json_object_get(dtj, key);
    char field[96];

    *out = NULL;
    if (!v || json_is_null(v))
        return TOCSIN_OK;
    snprintf(field, sizeof(field), "config.declare_ticket.%s", key);
    if (!json_is_string(v) || !json_string_length(v))
        return verr_set(e, field, "must be a non-empty string");
    *out = strdup(json_string_value(v));
    return *out ? TOCSIN_OK : TOCSIN_ENOMEM;
}

static int dt_bool(const json_t *dtj, const char *key, bool *out, struct verr *e)
{
    const json_t *v = json_object_get(dtj, key);
    char field[96];

    *out = false;
    if (!v || json_is_null(v))
        return TOCSIN_OK;
    snprintf(field, sizeof(field), "config.declare_ticket.%s", key);
    if (!json_is_boolean(v))
        return verr_set(e, field, "must be true or false");
    *out = json_is_true(v);
    return TOCSIN_OK;
}

static bool dt_known(const char *k)
{
    static const char *const keys[] = {"ticket_id",      "ticket_url",    "is_regexp",
                                       "empty_response", "ticket_id_tpl", "ticket_url_tpl"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(k, keys[i]) == 0)
            return true;
    return false;
}

static int compile_extras(struct dticket *dt, const json_t *dtj, struct verr *e)
{
    const char *k;
    const json_t *v;
    char field[300];
    int rc;

    json_object_foreach((json_t *)dtj, k, v)
    {
        struct extra *x;
        if (dt_known(k))
            continue;
        snprintf(field, sizeof(field), "config.declare_ticket.%s", k);
        if (!json_is_string(v) || !json_string_length(v))
            return verr_set(e, field, "must be a non-empty string (a path into the answer)");
        if (!strcmp(k, "id") || !strcmp(k, "url") || !strcmp(k, "ref"))
            return verr_set(e, field, "is a reserved ticket key");
        if (dt->nextra == MAX_EXTRA)
            return verr_set(e, field, "at most %d extra ticket keys", MAX_EXTRA);
        x = &dt->extra[dt->nextra++];
        x->key = strdup(k);
        x->path = strdup(json_string_value(v));
        if (!x->key || !x->path)
            return TOCSIN_ENOMEM;
        if (dt->is_regexp && (rc = compile_re(x->path, field, &x->re, e)))
            return rc;
    }
    return TOCSIN_OK;
}

static int compile_dt(struct wh *w, const json_t *dtj, struct verr *e)
{
    struct dticket *dt;
    char *tpl = NULL;
    int rc;

    if (!dtj)
        return TOCSIN_OK;
    dt = w->dt = calloc(1, sizeof(*dt));
    if (!dt)
        return TOCSIN_ENOMEM;
    if ((rc = dt_bool(dtj, "is_regexp", &dt->is_regexp, e)) ||
        (rc = dt_bool(dtj, "empty_response", &dt->empty_response, e)) ||
        (rc = dt_str(dtj, "ticket_id", &dt->id_path, e)) ||
        (rc = dt_str(dtj, "ticket_url", &dt->url_path, e)))
        return rc;
    if (dt->is_regexp && dt->id_path &&
        (rc = compile_re(dt->id_path, "config.declare_ticket.ticket_id", &dt->id_re, e)))
        return rc;
    if (dt->is_regexp && dt->url_path &&
        (rc = compile_re(dt->url_path, "config.declare_ticket.ticket_url", &dt->url_re, e)))
        return rc;
    if ((rc = dt_str(dtj, "ticket_id_tpl", &tpl, e)))
        return rc;
    if (tpl) {
        rc = ch_compile_tmpl(tpl, "config.declare_ticket.ticket_id_tpl", &dt->id_tpl, e);
        free(tpl);
        if (rc)
            return rc;
    }
    if ((rc = dt_str(dtj, "ticket_url_tpl", &tpl, e)))
        return rc;
    if (tpl) {
        rc = ch_compile_tmpl(tpl, "config.declare_ticket.ticket_url_tpl", &dt->url_tpl, e);
        free(tpl);
        if (rc)
            return rc;
    }
    if (!dt->id_path && !dt->id_tpl && !dt->empty_response)
        return verr_set(e, "config.declare_ticket.ticket_id",
                        "is required (or ticket_id_tpl, or empty_response: true)");
    return compile_extras(dt, dtj, e);
}

static int compile(struct chan *c, struct verr *e)
{
    struct wh *w = calloc(1, sizeof(*w));
    const char *m = ch_cfg_str(c, "method"), *esc = ch_cfg_str(c, "body_escape");
    static const char *const methods[] = {"GET",   "HEAD",   "POST",   "PUT",
                                          "PATCH", "DELETE", "OPTIONS"};
    size_t i;
    int rc;

    if (!w)
        return TOCSIN_ENOMEM;
    c->priv = w;
    snprintf(w->method, sizeof(w->method), "POST");
    if (m) {
        for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
            if (strcasecmp(m, methods[i]) == 0)
                break;
        if (i == sizeof(methods) / sizeof(methods[0]))
            return verr_set(e, "config.method",
                            "must be one of GET, HEAD, POST, PUT, PATCH, "
                            "DELETE, OPTIONS");
        snprintf(w->method, sizeof(w->method), "%s", methods[i]);
    }
    w->body_esc = TMPL_ESC_JSON;
    if (esc && strcmp(esc, "json") && strcmp(esc, "none"))
        return verr_set(e, "config.body_escape", "must be \"json\" or \"none\"");
    if (esc && !strcmp(esc, "none"))
        w->body_esc = TMPL_ESC_NONE;
    if ((rc = compile_headers(w, ch_cfg(c, "headers"), e)) || (rc = ch_check_auth(c, e)))
        return rc;
    return compile_dt(w, ch_cfg(c, "declare_ticket"), e);
}

static int render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                  struct verr *e)
{
    const struct wh *w = c->priv;
    const char *nid = ch_gets(ctx, "notification.id");
    char *url = NULL, *val = NULL, *body = NULL, field[300];
    bool has_ct = false;
    int rc;

    (void)now_ms;
    if ((rc = ch_text(c, "url", ctx, TMPL_ESC_URL, &url, e)) ||
        (rc = ch_req_http(c, r, w->method, url, "config.url", e)))
        goto out;
    for (size_t i = 0; i < w->nh; i++) {
        snprintf(field, sizeof(field), "config.headers.%s", w->h[i].name);
        if ((rc = ch_render_tmpl(w->h[i].t, field, ctx, TMPL_ESC_NONE, &val, e)) ||
            (rc = ch_req_header(r, w->h[i].name, val, field, e)))
            goto out;
        has_ct |= strcasecmp(w->h[i].name, "Content-Type") == 0;
        free(val);
        val = NULL;
    }
    if (nid && ((rc = ch_req_header(r, "X-Tocsin-Notification", nid, "notification.id", e)) ||
                (rc = ch_req_header(r, "Idempotency-Key", nid, "notification.id", e))))
        goto out;
    if (ch_cfg(c, "auth") &&
        (rc = ch_req_basic(r, ch_gets(c->cfg, "auth.username"), ch_gets(c->cfg, "auth.password"))))
        goto out;
    if (!strcmp(w->method, "GET") || !strcmp(w->method, "HEAD"))
        goto out;
    if (ch_tmpl(c, "body")) {
        if ((rc = ch_text(c, "body", ctx, w->body_esc, &body, e)))
            goto out;
        rc = ch_req_body(r, body, strlen(body), e);
        body = NULL;
    } else {
        rc = ch_req_ctx(r, ctx, !has_ct, e); /* a Content-Type of the user's stands */
    }
out:
    free(url);
    free(val);
    free(body);
    return rc;
}

/* ---- declare_ticket ---- */

static char *re_capture(const pcre2_code *re, const char *s, size_t len)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    char *out = NULL;

    if (md && mc) {
        pcre2_set_match_limit(mc, RE_MATCH_LIMIT);
        if (pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, mc) >= 2) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            if (ov[2] != PCRE2_UNSET)
                out = strndup(s + ov[2], ov[3] - ov[2]);
        }
    }
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    return out;
}

static char *scalar_text(const json_t *v)
{
    if (json_is_string(v))
        return json_string_length(v) ? strdup(json_string_value(v)) : NULL;
    if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v))
        return json_dumps(v, JSON_ENCODE_ANY);
    return NULL;
}

static char *find(const struct dticket *dt, const char *path, const pcre2_code *re, const json_t *j,
                  const struct chan_resp *resp)
{
    if (!path)
        return NULL;
    if (dt->is_regexp)
        return resp->body ? re_capture(re, resp->body, resp->body_len) : NULL;
    return scalar_text(ch_get(j, path));
}

/* {"response": JSON or text, "headers": {lower-case name: value}, "ticket_id": ...} */
static json_t *tpl_ctx(const struct chan_resp *resp, const json_t *j, const char *id)
{
    json_t *c = json_object(), *h = json_object();

    if (!c || !h)
        goto oom;
    json_object_set_new(
        c, "response",
        j ? json_incref((json_t *)j)
          : json_stringn(resp->body ? resp->body : "", resp->body ? resp->body_len : 0));
    for (size_t i = 0; i < resp->nheaders; i++) {
        const char *colon = strchr(resp->headers[i], ':');
        char name[128];
        size_t n;
        if (!colon || (n = (size_t)(colon - resp->headers[i])) >= sizeof(name))
            continue;
        for (size_t k = 0; k < n; k++)
            name[k] = (char)tolower((unsigned char)resp->headers[i][k]);
        name[n] = '\0';
        colon++;
        while (*colon == ' ' || *colon == '\t')
            colon++;
        json_object_set_new(h, name, json_string(colon));
    }
    json_object_set_new(c, "headers", h);
    if (id)
        json_object_set_new(c, "ticket_id", json_string(id));
    return c;
oom:
    json_decref(c);
    json_decref(h);
    return NULL;
}

static char *from_tpl(const struct tmpl *t, const json_t *tctx)
{
    char *s = NULL;
    struct verr e;

    if (ch_render_tmpl(t, "", tctx, TMPL_ESC_NONE, &s, &e))
        return NULL;
    if (s && !*s) {
        free(s);
        s = NULL;
    }
    return s;
}

static int declare(const struct dticket *dt, const struct chan_resp *resp, struct chan_outcome *o)
{
    json_t *j = dt->is_regexp ? NULL : ch_resp_json(resp), *tctx = NULL, *t = NULL;
    char *id = find(dt, dt->id_path, dt->id_re, j, resp), *url = NULL, *s;
    int rc = TOCSIN_ENOMEM;

    if (dt->id_tpl || dt->url_tpl) {
        if (!(tctx = tpl_ctx(resp, j, id)))
            goto out;
        if (dt->id_tpl && (s = from_tpl(dt->id_tpl, tctx))) {
            free(id);
            id = s;
            json_object_set_new(tctx, "ticket_id", json_string(id));
        }
    }
    if (!id && dt->empty_response)
        id = strdup("N/A");
    if (!id) {
        ch_set(o, CHAN_DELIVERED, "declare_ticket: no ticket id in the answer");
        rc = TOCSIN_OK;
        goto out;
    }
    url = find(dt, dt->url_path, dt->url_re, j, resp);
    if (dt->url_tpl && (s = from_tpl(dt->url_tpl, tctx))) {
        free(url);
        url = s;
    }
    if (!(t = ch_ticket_new(id, url, id)))
        goto out;
    for (size_t i = 0; i < dt->nextra; i++) {
        s = find(dt, dt->extra[i].path, dt->extra[i].re, j, resp);
        if (s)
            json_object_set_new(t, dt->extra[i].key, json_string(s));
        free(s);
    }
    o->ticket = t;
    rc = TOCSIN_OK;
out:
    json_decref(j);
    json_decref(tctx);
    free(id);
    free(url);
    return rc;
}

static int check(const struct chan *c, const struct chan_req *req, const struct chan_resp *resp,
                 int64_t now_ms, struct chan_outcome *o)
{
    (void)req;
    const struct wh *w = c->priv;

    (void)now_ms;
    if (o->verdict != CHAN_DELIVERED || !w->dt)
        return TOCSIN_OK;
    return declare(w->dt, resp, o);
}

const struct chan_ops ch_webhook_ops = {
    .type = "webhook",
    .fields = fields,
    .secrets = secrets,
    .compile = compile,
    .render = render,
    .check = check,
    .free_priv = free_priv,
};
