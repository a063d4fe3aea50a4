#include "notify/channel.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "notify/ch_impl.h"
#include "util/err.h"
#include "util/secrets.h"

static const struct chan_ops *const ops_table[] = {
    &ch_webhook_ops,  &ch_slack_ops,      &ch_teams_ops,     &ch_mattermost_ops, &ch_discord_ops,
    &ch_telegram_ops, &ch_email_ops,      &ch_pagerduty_ops, &ch_opsgenie_ops,   &ch_servicenow_ops,
    &ch_jira_ops,     &ch_splunk_hec_ops, &ch_logstash_ops,
};
#define NTYPES (sizeof(ops_table) / sizeof(ops_table[0]))

static const char *const type_names[NTYPES + 1] = {
    "webhook",   "slack",    "teams",      "mattermost", "discord",    "telegram", "email",
    "pagerduty", "opsgenie", "servicenow", "jira",       "splunk-hec", "logstash", NULL,
};

static const struct ch_field common_fields[] = {
    {"timeout", CHF_ANY, 0},        {"skip_verify", CHF_BOOL, 0}, {"use_proxy", CHF_BOOL, 0},
    {"send_resolved", CHF_BOOL, 0}, {NULL, CHF_STR, 0},
};

static const struct chan_ops *find_ops(const char *type)
{
    for (size_t i = 0; type && i < NTYPES; i++)
        if (strcmp(ops_table[i]->type, type) == 0)
            return ops_table[i];
    return NULL;
}

const char *const *chan_types(void)
{
    return type_names;
}

const char *chan_id(const struct chan *c)
{
    return c->id;
}

const char *chan_type(const struct chan *c)
{
    return c->ops->type;
}

/* ---------------------------------------------------------------- config reading */

const json_t *ch_cfg(const struct chan *c, const char *name)
{
    const json_t *v = json_object_get(c->cfg, name);
    return json_is_null(v) ? NULL : v;
}

const char *ch_cfg_str(const struct chan *c, const char *name)
{
    return json_string_value(ch_cfg(c, name));
}

bool ch_cfg_bool(const struct chan *c, const char *name, bool dflt)
{
    const json_t *v = ch_cfg(c, name);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

int ch_compile_tmpl(const char *src, const char *field, struct tmpl **out, struct verr *e)
{
    char err[200];
    int rc = tmpl_compile(src, strlen(src), out, err, sizeof(err));

    if (rc == TOCSIN_EINVAL)
        return verr_set(e, field, "template: %s", err);
    return rc;
}

const struct tmpl *ch_tmpl(const struct chan *c, const char *name)
{
    for (size_t i = 0; i < c->nfields; i++)
        if (strcmp(c->ops->fields[i].name, name) == 0)
            return c->tmpl[i];
    return NULL;
}

int ch_render_tmpl(const struct tmpl *t, const char *field, const json_t *ctx, enum tmpl_escape esc,
                   char **out, struct verr *e)
{
    struct buf b;
    int rc;

    buf_init(&b, CHAN_MAX_FIELD);
    rc = tmpl_render(t, ctx, esc, &b);
    if (rc == TOCSIN_ETOOBIG) {
        buf_free(&b);
        return verr_set(e, field, "renders to more than %d bytes", CHAN_MAX_FIELD);
    }
    if (rc) {
        buf_free(&b);
        return rc;
    }
    *out = buf_steal(&b);
    return *out ? TOCSIN_OK : TOCSIN_ENOMEM;
}

int ch_text(const struct chan *c, const char *name, const json_t *ctx, enum tmpl_escape esc,
            char **out, struct verr *e)
{
    const struct tmpl *t = ch_tmpl(c, name);
    char field[96];

    *out = NULL;
    if (!t)
        return TOCSIN_OK;
    snprintf(field, sizeof(field), "config.%s", name);
    return ch_render_tmpl(t, field, ctx, esc, out, e);
}

static bool is_sep(char ch)
{
    return ch == ',' || ch == ';' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static int strv_push(char ***v, size_t *n, const char *s, size_t len)
{
    char **nv = realloc(*v, (*n + 2) * sizeof(char *));

    if (!nv)
        return TOCSIN_ENOMEM;
    *v = nv;
    nv[*n] = strndup(s, len);
    if (!nv[*n])
        return TOCSIN_ENOMEM;
    nv[++*n] = NULL;
    return TOCSIN_OK;
}

char **ch_list(const json_t *v, size_t *n)
{
    char **out = calloc(1, sizeof(char *));
    size_t i;
    const json_t *it;

    *n = 0;
    if (!out)
        return NULL;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        while (*s) {
            size_t len = 0;
            while (*s && is_sep(*s))
                s++;
            while (s[len] && !is_sep(s[len]))
                len++;
            if (len && strv_push(&out, n, s, len))
                goto oom;
            s += len;
        }
        return out;
    }
    json_array_foreach(v, i, it)
    {
        const char *s = json_string_value(it);
        if (s && strv_push(&out, n, s, strlen(s)))
            goto oom;
    }
    return out;
oom:
    ch_strv_free(out);
    return NULL;
}

void ch_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

bool ch_valid_http_url(const char *url)
{
    const char *host;

    if (!url)
        return false;
    if (strncasecmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        host = url + 8;
    else
        return false;
    if (!*host || *host == '/')
        return false;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

int ch_check_base_url(const struct chan *c, const char *name, struct verr *e)
{
    const char *u = ch_cfg_str(c, name);
    char field[96];

    snprintf(field, sizeof(field), "config.%s", name);
    if (u && !ch_valid_http_url(u))
        return verr_set(e, field, "must be an http:// or https:// URL");
    return TOCSIN_OK;
}

int ch_check_auth(const struct chan *c, struct verr *e)
{
    const json_t *a = ch_cfg(c, "auth"), *u, *p;
    const char *k;
    const json_t *v;

    if (!a)
        return TOCSIN_OK;
    json_object_foreach((json_t *)a, k, v)
    {
        if (strcmp(k, "username") && strcmp(k, "password")) {
            char field[160];
            snprintf(field, sizeof(field), "config.auth.%s", k);
            return verr_set(e, field, "unknown field (username, password)");
        }
    }
    u = json_object_get(a, "username");
    p = json_object_get(a, "password");
    if (!json_is_string(u) || !json_string_length(u) || strchr(json_string_value(u), ':'))
        return verr_set(e, "config.auth.username", "must be a non-empty string without ':'");
    if (p && !json_is_string(p))
        return verr_set(e, "config.auth.password", "must be a string");
    return TOCSIN_OK;
}

int ch_check_auth_or_token(const struct chan *c, struct verr *e)
{
    int rc = ch_check_auth(c, e);

    if (rc)
        return rc;
    if (ch_cfg(c, "auth") && ch_cfg(c, "token"))
        return verr_set(e, "config.token", "set either auth (basic) or token (bearer)");
    if (!ch_cfg(c, "auth") && !ch_cfg(c, "token"))
        return verr_set(e, "config.auth", "set auth {username, password} or token");
    return TOCSIN_OK;
}

/* "10000" (ms as a number), or a string "500ms" "10s" "2m". */
static int parse_timeout(const json_t *v, int64_t *ms, struct verr *e)
{
    const char *s = json_string_value(v);
    char *end;
    long long n;
    int64_t mult = 1;

    if (!v) {
        *ms = CHAN_DEFAULT_TIMEOUT_MS;
        return TOCSIN_OK;
    }
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (s) {
        errno = 0;
        n = strtoll(s, &end, 10);
        if (errno || end == s)
            goto bad;
        if (strcmp(end, "ms") == 0)
            mult = 1;
        else if (strcmp(end, "s") == 0)
            mult = 1000;
        else if (strcmp(end, "m") == 0)
            mult = 60000;
        else
            goto bad;
    } else {
        goto bad;
    }
    if (n <= 0 || n > CHAN_MAX_TIMEOUT_MS / mult)
        goto bad;
    *ms = (int64_t)n * mult;
    return TOCSIN_OK;
bad:
    return verr_set(e, "config.timeout",
                    "must be milliseconds (1..%d) or a duration such as "
                    "\"10s\", \"500ms\", \"2m\"",
                    CHAN_MAX_TIMEOUT_MS);
}

static const struct ch_field *find_field(const struct ch_field *f, const char *name)
{
    for (; f && f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static int check_list(const json_t *v, const char *field, struct verr *e)
{
    size_t i;
    const json_t *it;

    if (json_is_string(v))
        return TOCSIN_OK;
    if (!json_is_array(v))
        return verr_set(e, field, "must be a string or a list of strings");
    json_array_foreach(v, i, it)
    {
        if (!json_is_string(it) || !json_string_length(it)) {
            verr_set(e, "", "must be a non-empty string");
            verr_prefix_index(e, field, i);
            return TOCSIN_EINVAL;
        }
    }
    return TOCSIN_OK;
}

static int check_field(struct chan *c, size_t idx, const json_t *v, struct verr *e)
{
    const struct ch_field *f = &c->ops->fields[idx];
    char field[96];

    snprintf(field, sizeof(field), "config.%s", f->name);
    switch (f->type) {
    case CHF_STR:
    case CHF_TMPL:
    case CHF_URL:
        if (!json_is_string(v))
            return verr_set(e, field, "must be a string");
        if (!json_string_length(v) && f->type != CHF_TMPL)
            return verr_set(e, field, "must not be empty");
        if (f->type == CHF_URL && !ch_valid_http_url(json_string_value(v)))
            return verr_set(e, field, "must be an http:// or https:// URL");
        if (f->type == CHF_TMPL)
            return ch_compile_tmpl(json_string_value(v), field, &c->tmpl[idx], e);
        return TOCSIN_OK;
    case CHF_BOOL:
        return json_is_boolean(v) ? TOCSIN_OK : verr_set(e, field, "must be true or false");
    case CHF_INT:
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
            return verr_set(e, field, "must be a non-negative integer");
        return TOCSIN_OK;
    case CHF_LIST:
        return check_list(v, field, e);
    case CHF_OBJ:
        return json_is_object(v) ? TOCSIN_OK : verr_set(e, field, "must be an object");
    case CHF_ID:
        if (json_is_integer(v) || (json_is_string(v) && json_string_length(v)))
            return TOCSIN_OK;
        return verr_set(e, field, "must be a non-empty string or an integer");
    case CHF_ANY:
        return TOCSIN_OK;
    }
    return TOCSIN_OK;
}

static int check_fields(struct chan *c, struct verr *e)
{
    const char *key;
    const json_t *v;
    char field[160];
    int rc;

    json_object_foreach(c->cfg, key, v)
    {
        if (!find_field(c->ops->fields, key) && !find_field(common_fields, key)) {
            snprintf(field, sizeof(field), "config.%s", key);
            return verr_set(e, field, "unknown field for a %s channel", c->ops->type);
        }
    }
    for (size_t i = 0; i < c->nfields; i++) {
        const struct ch_field *f = &c->ops->fields[i];
        v = ch_cfg(c, f->name);
        if (!v) {
            if (f->flags & CHF_REQUIRED) {
                snprintf(field, sizeof(field), "config.%s", f->name);
                return verr_set(e, field, "is required");
            }
            continue;
        }
        if ((rc = check_field(c, i, v, e)))
            return rc;
    }
    for (const struct ch_field *f = common_fields; f->name; f++) {
        v = ch_cfg(c, f->name);
        if (v && f->type == CHF_BOOL && !json_is_boolean(v)) {
            snprintf(field, sizeof(field), "config.%s", f->name);
            return verr_set(e, field, "must be true or false");
        }
    }
    c->tls_verify = !ch_cfg_bool(c, "skip_verify", false);
    c->use_proxy = ch_cfg_bool(c, "use_proxy", false);
    c->send_resolved = ch_cfg_bool(c, "send_resolved", true);
    return parse_timeout(ch_cfg(c, "timeout"), &c->timeout_ms, e);
}

/* Renders c against the sample: firing (create), acknowledged, resolved. */
static int sample_render(const struct chan *c, struct verr *e)
{
    static const char *const changes[] = {"create", "ack", "resolve"};
    json_t *ctx = chan_sample_context();
    int rc = TOCSIN_OK;

    if (!ctx)
        return TOCSIN_ENOMEM;
    json_object_set_new(json_object_get(ctx, "channel"), "id", json_string(c->id));
    json_object_set_new(json_object_get(ctx, "channel"), "type", json_string(c->ops->type));
    for (size_t i = 0; i < 3 && !rc; i++) {
        struct chan_req r;
        bool res = i == 2;

        memset(&r, 0, sizeof(r));
        rc = json_object_set_new(ctx, "change", json_string(changes[i])) ||
                     json_object_set_new(ctx, "status", json_string(res ? "resolved" : "firing"))
                 ? TOCSIN_ENOMEM
                 : TOCSIN_OK;
        if (!rc && res) {
            json_t *a = json_object_get(ctx, "alert");
            json_object_set_new(a, "status", json_string("closed"));
            json_object_set_new(a, "severity", json_string("normal"));
        }
        if (!rc)
            rc = c->ops->render(c, ctx, 1700000000000, &r, e);
        if (rc == TOCSIN_EINVAL) {
            size_t used = strnlen(e->msg, sizeof(e->msg) - 1);
            snprintf(e->msg + used, sizeof(e->msg) - used, " (sample %s)", changes[i]);
        }
        chan_req_free(&r);
    }
    json_decref(ctx);
    return rc;
}

int chan_compile(const char *id, const char *type, const json_t *config, struct chan **out,
                 struct verr *e)
{
    const struct chan_ops *ops = find_ops(type);
    struct chan *c = NULL;
    int rc;

    *out = NULL;
    if (!ops)
        return verr_set(e, "type", "unknown channel type \"%s\"", type ? type : "");
    if (config && !json_is_object(config))
        return verr_set(e, "config", "must be an object");
    if (!id || !*id)
        return verr_set(e, "id", "is required");
    c = calloc(1, sizeof(*c));
    if (!c)
        return TOCSIN_ENOMEM;
    c->ops = ops;
    while (ops->fields[c->nfields].name)
        c->nfields++;
    c->id = strdup(id);
    c->cfg = config ? json_deep_copy(config) : json_object();
    c->tmpl = calloc(c->nfields + 1, sizeof(*c->tmpl));
    if (!c->id || !c->cfg || !c->tmpl) {
        rc = TOCSIN_ENOMEM;
        goto out;
    }
    if ((rc = check_fields(c, e)))
        goto out;
    if (ops->compile && (rc = ops->compile(c, e)))
        goto out;
    if ((rc = sample_render(c, e)))
        goto out;
    *out = c;
    c = NULL;
out:
    chan_free(c);
    return rc;
}

void chan_free(struct chan *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->tmpl && i < c->nfields; i++)
        tmpl_free(c->tmpl[i]);
    if (c->priv && c->ops->free_priv)
        c->ops->free_priv(c->priv);
    free(c->tmpl);
    json_decref(c->cfg);
    free(c->id);
    free(c);
}

/* ---------------------------------------------------------------- render */

int chan_render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                char *err, size_t errlen)
{
    return chan_render_text(c, ctx, NULL, 0, now_ms, r, err, errlen);
}

int chan_render_text(const struct chan *c, const json_t *ctx, const char *ctx_text,
                     size_t ctx_len, int64_t now_ms, struct chan_req *r, char *err, size_t errlen)
{
    struct verr e;
    int rc;

    memset(r, 0, sizeof(*r));
    r->ctx_text = ctx_text;
    r->ctx_len = ctx_text ? ctx_len : 0;
    memset(&e, 0, sizeof(e));
    if (err && errlen)
        err[0] = '\0';
    if (!json_is_object(ctx)) {
        snprintf(err, errlen, "context: not an object");
        return TOCSIN_EINVAL;
    }
    if (ch_resolved(ctx) && !c->send_resolved) {
        r->noop = true;
        r->action = "none";
        snprintf(err, errlen, "send_resolved is false");
        return TOCSIN_OK;
    }
    rc = c->ops->render(c, ctx, now_ms, r, &e);
    r->ctx_text = NULL; /* borrowed for the render only */
    r->ctx_len = 0;
    if (rc == TOCSIN_EINVAL)
        snprintf(err, errlen, "%s%s%s", e.field, e.field[0] ? ": " : "", e.msg);
    else if (rc == TOCSIN_ENOMEM)
        snprintf(err, errlen, "out of memory");
    else if (r->noop)
        snprintf(err, errlen, "%s", e.msg);
    if (!r->action)
        r->action = "send";
    return rc;
}

static void strv_free_n(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void chan_req_free(struct chan_req *r)
{
    if (!r)
        return;
    free(r->method);
    free(r->url);
    strv_free_n(r->headers, r->nheaders);
    free(r->body);
    free(r->username);
    if (r->password)
        memset(r->password, 0, strlen(r->password));
    free(r->password);
    free(r->mail_from);
    strv_free_n(r->rcpt, r->nrcpt);
    memset(r, 0, sizeof(*r));
}

int ch_req_http(const struct chan *c, struct chan_req *r, const char *method, const char *url,
                const char *field, struct verr *e)
{
    if (!ch_valid_http_url(url))
        return verr_set(e, field, "is not an http:// or https:// URL after rendering");
    free(r->method);
    free(r->url);
    r->method = strdup(method);
    r->url = strdup(url);
    r->tls_verify = c->tls_verify;
    r->use_proxy = c->use_proxy;
    r->timeout_ms = c->timeout_ms;
    return r->method && r->url ? TOCSIN_OK : TOCSIN_ENOMEM;
}

int ch_req_header(struct chan_req *r, const char *name, const char *value, const char *field,
                  struct verr *e)
{
    size_t nl = strlen(name), vl = strlen(value);
    char *line, **nv;

    for (size_t i = 0; i < vl; i++) {
        unsigned char ch = (unsigned char)value[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return verr_set(e, field, "header value holds a control character or line break");
    }
    if (r->nheaders >= CHAN_MAX_HEADERS)
        return verr_set(e, field, "more than %d headers", CHAN_MAX_HEADERS);
    if (nl + vl > CHAN_MAX_FIELD)
        return verr_set(e, field, "header longer than %d bytes", CHAN_MAX_FIELD);
    nv = realloc(r->headers, (r->nheaders + 1) * sizeof(char *));
    if (!nv)
        return TOCSIN_ENOMEM;
    r->headers = nv;
    line = malloc(nl + vl + 3);
    if (!line)
        return TOCSIN_ENOMEM;
    memcpy(line, name, nl);
    memcpy(line + nl, ": ", 2);
    memcpy(line + nl + 2, value, vl + 1);
    r->headers[r->nheaders++] = line;
    return TOCSIN_OK;
}

int ch_req_body(struct chan_req *r, char *body, size_t len, struct verr *e)
{
    if (len > CHAN_MAX_BODY) {
        free(body);
        return verr_set(e, "body", "more than %d bytes", CHAN_MAX_BODY);
    }
    free(r->body);
    r->body = body;
    r->body_len = len;
    return TOCSIN_OK;
}

int ch_req_json(struct chan_req *r, json_t *j, struct verr *e)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc;

    json_decref(j);
    if (!s)
        return TOCSIN_ENOMEM;
    rc = ch_req_body(r, s, strlen(s), e);
    if (!rc)
        rc = ch_req_header(r, "Content-Type", "application/json", "", e);
    return rc;
}

bool chan_keeps_tickets(const struct chan *c)
{
    static const char *const types[] = {"servicenow", "jira", "pagerduty", "opsgenie"};

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(c->ops->type, types[i]))
            return true;
    return !strcmp(c->ops->type, "webhook") && ch_cfg(c, "declare_ticket") != NULL;
}

int ch_req_ctx(struct chan_req *r, const json_t *ctx, bool content_type, struct verr *e)
{
    char *s = r->ctx_text ? strndup(r->ctx_text, r->ctx_len) : json_dumps(ctx, JSON_COMPACT);
    int rc;

    if (!s)
        return TOCSIN_ENOMEM;
    rc = ch_req_body(r, s, strlen(s), e); /* JSON text holds no NUL byte */
    if (!rc && content_type)
        rc = ch_req_header(r, "Content-Type", "application/json", "", e);
    return rc;
}

int ch_req_basic(struct chan_req *r, const char *user, const char *password)
{
    r->username = strdup(user ? user : "");
    r->password = strdup(password ? password : "");
    return r->username && r->password ? TOCSIN_OK : TOCSIN_ENOMEM;
}

int ch_join(const char *base, const char *path, char **out)
{
    size_t bl = strlen(base);
    struct buf b;

    while (bl && base[bl - 1] == '/')
        bl--;
    while (*path == '/')
        path++;
    buf_init(&b, CHAN_MAX_FIELD);
    if (buf_append(&b, base, bl) || buf_putc(&b, '/') || buf_puts(&b, path)) {
        buf_free(&b);
        return TOCSIN_ENOMEM;
    }
    *out = buf_steal(&b);
    return *out ? TOCSIN_OK : TOCSIN_ENOMEM;
}

int ch_join_esc(const char *base, const char *prefix, const char *seg, const char *suffix,
                char **out)
{
    static const char hexd[] = "0123456789ABCDEF";
    struct buf b;
    char *path;
    int rc = 0;

    buf_init(&b, CHAN_MAX_FIELD);
    rc |= buf_puts(&b, prefix);
    for (const unsigned char *p = (const unsigned char *)seg; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            rc |= buf_putc(&b, (char)*p);
        } else {
            char esc[3] = {'%', hexd[*p >> 4], hexd[*p & 15]};
            rc |= buf_append(&b, esc, 3);
        }
    }
    rc |= buf_puts(&b, suffix);
    if (rc) {
        buf_free(&b);
        return TOCSIN_ENOMEM;
    }
    path = buf_steal(&b);
    if (!path)
        return TOCSIN_ENOMEM;
    rc = ch_join(base, path, out);
    free(path);
    return rc;
}

/* ---------------------------------------------------------------- context */

const json_t *ch_get(const json_t *root, const char *path)
{
    const json_t *cur = root;
    const char *p = path;
    char seg[256];

    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);

        if (json_is_object(cur)) {
            const json_t *whole = json_object_get(cur, p);
            if (whole)
                return whole;
        }
        if (len >= sizeof(seg))
            return NULL;
        memcpy(seg, p, len);
        seg[len] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, seg);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long long i;
            errno = 0;
            i = strtoull(seg, &end, 10);
            if (errno || end == seg || *end)
                return NULL;
            cur = json_array_get(cur, (size_t)i);
        } else {
            return NULL;
        }
        p += len;
        if (*p == '.')
            p++;
    }
    return cur;
}

const char *ch_gets(const json_t *root, const char *path)
{
    return json_string_value(ch_get(root, path));
}

const char *ch_getsd(const json_t *root, const char *path, const char *dflt)
{
    const char *s = ch_gets(root, path);
    return s && *s ? s : dflt;
}

bool ch_resolved(const json_t *ctx)
{
    const char *s = ch_gets(ctx, "status");
    return s && strcmp(s, "resolved") == 0;
}

const char *ch_change(const json_t *ctx)
{
    return ch_getsd(ctx, "change", "");
}

const json_t *ch_ticket(const struct chan *c, const json_t *ctx)
{
    const json_t *t = json_object_get(json_object_get(ch_get(ctx, "alert"), "tickets"), c->id);
    return json_is_object(t) ? t : NULL;
}

uint64_t ch_fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int ch_stable_key(const json_t *ctx, struct buf *out)
{
    const char *g = ch_gets(ctx, "group.key");

    if (g && *g)
        return buf_printf(out, "g-%016llx", (unsigned long long)ch_fnv1a(g, strlen(g)));
    return buf_puts(out, ch_getsd(ctx, "alert.id", "unknown"));
}

int ch_sev_level(const char *s)
{
    static const struct {
        const char *name;
        int level;
    } map[] = {{"security", 0}, {"critical", 0}, {"fatal", 0},  {"major", 1}, {"error", 1},
               {"minor", 2},    {"warning", 3},  {"normal", 5}, {"ok", 5},    {"cleared", 5}};

    for (size_t i = 0; s && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(s, map[i].name) == 0)
            return map[i].level;
    return 4;
}

const char *ch_color(const json_t *ctx)
{
    static const char *const colors[] = {"#d00000", "#e8590c", "#f59f00",
                                         "#ffd43b", "#439fe0", "#2eb886"};

    if (ch_resolved(ctx))
        return colors[5];
    return colors[ch_sev_level(ch_gets(ctx, "alert.severity"))];
}

static size_t nalerts(const json_t *ctx)
{
    size_t n = json_array_size(ch_get(ctx, "alerts"));
    return n ? n : 1;
}

static int put_cap(struct buf *b, const char *s)
{
    if (!s || !*s)
        return 0;
    if (*s >= 'a' && *s <= 'z')
        return buf_putc(b, (char)(*s - 'a' + 'A')) | buf_puts(b, s + 1);
    return buf_puts(b, s);
}

int ch_title(const json_t *ctx, struct buf *out)
{
    size_t n = nalerts(ctx);
    const char *word = ch_resolved(ctx)                     ? "RESOLVED"
                       : strcmp(ch_change(ctx), "ack") == 0 ? "ACKNOWLEDGED"
                                                            : "FIRING";
    const char *sev = ch_gets(ctx, "alert.severity");
    int rc = 0;

    rc |= n > 1 ? buf_printf(out, "[%s:%zu] ", word, n) : buf_printf(out, "[%s] ", word);
    if (sev && *sev && !ch_resolved(ctx)) {
        rc |= put_cap(out, sev);
        rc |= buf_puts(out, ": ");
    }
    rc |= buf_puts(out, ch_getsd(ctx, "alert.event", "alert"));
    rc |= buf_puts(out, " on ");
    rc |= buf_puts(out, ch_getsd(ctx, "alert.resource", "?"));
    if (n > 1)
        rc |= buf_printf(out, " and %zu more", n - 1);
    return rc ? TOCSIN_ENOMEM : TOCSIN_OK;
}

/* "a, b" for a list, the text for a string, JSON for anything else; "" when missing. */
static int put_value(struct buf *b, const json_t *v)
{
    size_t i;
    const json_t *it;
    int rc = 0;

    if (json_is_string(v))
        return buf_puts(b, json_string_value(v));
    if (json_is_array(v)) {
        json_array_foreach(v, i, it)
        {
            if (i)
                rc |= buf_puts(b, ", ");
            rc |= put_value(b, it);
        }
        return rc;
    }
    if (v && !json_is_null(v)) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        rc = s ? buf_puts(b, s) : TOCSIN_ENOMEM;
        free(s);
    }
    return rc;
}

static const char *const detail_keys[][2] = {
    {"Severity", "severity"}, {"Status", "status"},     {"Environment", "environment"},
    {"Service", "service"},   {"Resource", "resource"}, {"Event", "event"},
    {"Value", "value"},       {"Group", "group"},
};
#define NDETAILS (sizeof(detail_keys) / sizeof(detail_keys[0]))
#define MAX_LISTED 10

int ch_link(const json_t *ctx, struct buf *out)
{
    const char *base = ch_gets(ctx, "tocsin.url"), *id = ch_gets(ctx, "alert.id");
    size_t bl;

    if (!base || !*base || !id)
        return TOCSIN_OK;
    bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    return buf_append(out, base, bl) | buf_printf(out, "/alerts/%s", id);
}

static void cut_text(struct buf *b, size_t max);

/* The default text whole (body_text), then as much of it as out has room for: an alert's text
 * alone may be 64 KiB, past the field that most channels put it in, and a default that did not
 * fit failed the notification for good. */
static int body_text(const json_t *ctx, struct buf *out);

int ch_body(const json_t *ctx, struct buf *out)
{
    struct buf all;
    size_t room = out->max - out->len;
    int rc;

    if (room < 16)
        return TOCSIN_ETOOBIG;
    buf_init(&all, CHAN_MAX_BODY);
    rc = body_text(ctx, &all);
    if (!rc) {
        cut_text(&all, room - 1);
        rc = buf_append(out, all.p ? all.p : "", all.len);
    }
    buf_free(&all);
    return rc;
}

static int body_text(const json_t *ctx, struct buf *out)
{
    const json_t *a = ch_get(ctx, "alert"), *all = ch_get(ctx, "alerts"), *it;
    const char *text = json_string_value(json_object_get(a, "text"));
    size_t i, n = json_array_size(all);
    int rc = 0;

    if (text && *text)
        rc |= buf_puts(out, text) | buf_puts(out, "\n\n");
    for (i = 0; i < NDETAILS; i++) {
        const json_t *v = json_object_get(a, detail_keys[i][1]);
        if (!v || json_is_null(v) || (json_is_array(v) && !json_array_size(v)) ||
            (json_is_string(v) && !json_string_length(v)))
            continue;
        rc |= buf_printf(out, "%s: ", detail_keys[i][0]) | put_value(out, v) | buf_putc(out, '\n');
    }
    if (n > 1) {
        rc |= buf_puts(out, "\nAlerts in this notification:\n");
        json_array_foreach(all, i, it)
        {
            if (i == MAX_LISTED) {
                rc |= buf_printf(out, "... and %zu more\n", n - MAX_LISTED);
                break;
            }
            rc |= buf_printf(out, "- [%s] %s on %s\n", ch_getsd(it, "severity", "?"),
                             ch_getsd(it, "event", "?"), ch_getsd(it, "resource", "?"));
        }
    }
    if (ch_gets(ctx, "tocsin.url") && a) {
        rc |= buf_putc(out, '\n');
        rc |= ch_link(ctx, out);
        rc |= buf_putc(out, '\n');
    }
    return rc ? TOCSIN_ENOMEM : TOCSIN_OK;
}

int ch_html_escape(struct buf *b, const char *s)
{
    return buf_html_escape(b, s, true);
}

static int put_value_html(struct buf *b, const json_t *v)
{
    struct buf t;
    int rc;

    buf_init(&t, CHAN_MAX_FIELD);
    rc = put_value(&t, v);
    if (!rc)
        rc = ch_html_escape(b, buf_str(&t));
    buf_free(&t);
    return rc;
}

int ch_body_html(const json_t *ctx, struct buf *out)
{
    const json_t *a = ch_get(ctx, "alert"), *all = ch_get(ctx, "alerts"), *it;
    const char *text = json_string_value(json_object_get(a, "text"));
    size_t i, n = json_array_size(all);
    struct buf link;
    int rc = 0;

    if (text && *text)
        rc |= buf_puts(out, "<p>") | ch_html_escape(out, text) | buf_puts(out, "</p>\n");
    rc |= buf_puts(out, "<table>\n");
    for (i = 0; i < NDETAILS; i++) {
        const json_t *v = json_object_get(a, detail_keys[i][1]);
        if (!v || json_is_null(v) || (json_is_array(v) && !json_array_size(v)) ||
            (json_is_string(v) && !json_string_length(v)))
            continue;
        rc |= buf_printf(out, "<tr><th align=\"left\">%s</th><td>", detail_keys[i][0]);
        rc |= put_value_html(out, v) | buf_puts(out, "</td></tr>\n");
    }
    rc |= buf_puts(out, "</table>\n");
    if (n > 1) {
        rc |= buf_puts(out, "<p>Alerts in this notification:</p>\n<ul>\n");
        json_array_foreach(all, i, it)
        {
            if (i == MAX_LISTED) {
                rc |= buf_printf(out, "<li>... and %zu more</li>\n", n - MAX_LISTED);
                break;
            }
            rc |= buf_puts(out, "<li>[") | ch_html_escape(out, ch_getsd(it, "severity", "?"));
            rc |= buf_puts(out, "] ") | ch_html_escape(out, ch_getsd(it, "event", "?"));
            rc |= buf_puts(out, " on ") | ch_html_escape(out, ch_getsd(it, "resource", "?"));
            rc |= buf_puts(out, "</li>\n");
        }
        rc |= buf_puts(out, "</ul>\n");
    }
    buf_init(&link, CHAN_MAX_FIELD);
    rc |= ch_link(ctx, &link);
    if (link.len) {
        rc |= buf_puts(out, "<p><a href=\"") | ch_html_escape(out, buf_str(&link));
        rc |= buf_puts(out, "\">Open in tocsin</a></p>\n");
    }
    buf_free(&link);
    return rc ? TOCSIN_ENOMEM : TOCSIN_OK;
}

/* Cuts b to at most max bytes (max > 8): at a UTF-8 character's start, before an entity that
 * escaping made (&...; is never split), ending with an ellipsis when anything was cut. */
static void cut_text(struct buf *b, size_t max)
{
    size_t cut;

    if (b->len <= max)
        return;
    cut = max - 3; /* room for U+2026 */
    while (cut && ((unsigned char)b->p[cut] & 0xc0) == 0x80)
        cut--;
    for (size_t i = cut; i > 0 && cut - i < 8; i--)
        if (b->p[i - 1] == ';')
            break;
        else if (b->p[i - 1] == '&') {
            cut = i - 1;
            break;
        }
    b->len = cut;
    buf_puts(b, "\xe2\x80\xa6"); /* fits: cut <= max - 3 */
}

/* One default (title or text) made by fn, escaped, and cut to a field's size again after the
 * escaping (ch_body cuts its text to the room it is given: an alert's text alone may be 64 KiB,
 * and a default that did not fit failed the notification for good). */
static int default_field(const json_t *ctx, int (*fn)(const json_t *, struct buf *),
                         int (*esc_fn)(struct buf *, const char *), char **out)
{
    struct buf raw, b;
    int rc;

    buf_init(&raw, CHAN_MAX_FIELD);           /* ch_body cuts itself to it; a title is short */
    buf_init(&b, 6 * (size_t)CHAN_MAX_FIELD); /* an escape is 6 bytes at most */
    rc = fn(ctx, &raw);
    if (!rc)
        rc = esc_fn ? esc_fn(&b, buf_str(&raw)) : buf_puts(&b, buf_str(&raw));
    cut_text(&b, CHAN_MAX_FIELD - 1);
    if (!rc && !(*out = buf_steal(&b)))
        rc = TOCSIN_ENOMEM;
    buf_free(&b);
    buf_free(&raw);
    return rc;
}

/* The title and text: the user's templates, or the defaults (escaped with esc_fn). */
int ch_title_text(const struct chan *c, const json_t *ctx,
                  int (*esc_fn)(struct buf *, const char *), char **title, char **text,
                  struct verr *e)
{
    int rc;

    *title = *text = NULL;
    if ((rc = ch_text(c, "title", ctx, TMPL_ESC_NONE, title, e)) ||
        (rc = ch_text(c, "text", ctx, TMPL_ESC_NONE, text, e)))
        return rc;
    if (!*title)
        rc = default_field(ctx, ch_title, esc_fn, title);
    if (!rc && !*text)
        rc = default_field(ctx, ch_body, esc_fn, text);
    return rc == TOCSIN_ETOOBIG ? verr_set(e, "config.text", "too long") : rc;
}

char *ch_cut_bytes(const char *s, size_t max)
{
    struct buf b;

    buf_init(&b, SIZE_MAX);
    if (buf_puts(&b, s ? s : "")) {
        buf_free(&b);
        return NULL;
    }
    cut_text(&b, max);
    return buf_steal(&b);
}

char *ch_trunc(const char *s, size_t max_cp)
{
    size_t i = 0, cps = 0, cut = 0;

    if (!s)
        s = "";
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (cps == (max_cp ? max_cp - 1 : 0))
                cut = i;
            cps++;
        }
    }
    if (cps <= max_cp)
        return strdup(s);
    {
        char *out = malloc(cut + 4);
        if (!out)
            return NULL;
        memcpy(out, s, cut);
        memcpy(out + cut, "\xe2\x80\xa6", 4); /* … */
        return out;
    }
}

json_t *chan_sample_context(void)
{
    return json_pack(
        "{s:{s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:s,s:s,s:s,s:[s,s],s:{s:s},s:s,s:s,s:s,s:s,s:s,"
        "s:i,s:s,s:{s:s,s:s},s:{s:s},s:{}},"
        "s:[{s:s,s:s,s:s,s:s,s:s,s:s}],s:s,s:s,s:{s:s,s:s},s:{s:s,s:{}},s:{s:s},s:{s:s,s:s},"
        "s:{s:s}}",
        "alert", "id", "6a3e2b1c-5d4f-4e8a-9b7c-1d2e3f4a5b6c", "resource", "web01", "event",
        "HighCPU", "environment", "Production", "severity", "critical", "status", "open", "service",
        "Web", "group", "Performance", "value", "98%", "text", "CPU usage above 95% for 5 minutes",
        "tags", "linux", "prod", "attributes", "region", "eu-west-1", "origin", "prometheus/eu1",
        "type", "exceptionAlert", "createTime", "2023-11-14T22:13:20.000Z", "lastReceiveTime",
        "2023-11-14T22:13:20.000Z", "previousSeverity", "indeterminate", "duplicateCount", 0,
        "fingerprint", "3f2a9c1d7e5b4a60", "labels", "team", "ops", "instance", "web01:9100",
        "annotations", "runbook", "https://runbooks.example.com/cpu", "tickets", "alerts", "id",
        "6a3e2b1c-5d4f-4e8a-9b7c-1d2e3f4a5b6c", "resource", "web01", "event", "HighCPU",
        "environment", "Production", "severity", "critical", "status", "open", "change", "create",
        "status", "firing", "rule", "id", "sample-rule", "name", "Sample rule", "group", "key", "",
        "labels", "notification", "id", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "channel", "id",
        "sample", "type", "webhook", "tocsin", "url", "http://localhost:8072");
}

/* ---------------------------------------------------------------- check */

json_t *ch_resp_json(const struct chan_resp *resp)
{
    if (!resp->body || !resp->body_len)
        return NULL;
    return json_loadb(resp->body, resp->body_len, JSON_DECODE_ANY, NULL);
}

const char *ch_resp_header(const struct chan_resp *resp, const char *name, char *buf, size_t n)
{
    size_t nl = strlen(name);

    for (size_t i = 0; i < resp->nheaders; i++) {
        const char *h = resp->headers[i];
        if (h && strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            const char *v = h + nl + 1;
            size_t len;
            while (*v == ' ' || *v == '\t')
                v++;
            len = strlen(v);
            while (len && (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == '\r' ||
                           v[len - 1] == '\n'))
                len--;
            snprintf(buf, n, "%.*s", (int)(len < n ? len : n - 1), v);
            return buf;
        }
    }
    return NULL;
}

static int month_index(const char *m)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (strncmp(names + 3 * i, m, 3) == 0)
            return i;
    return -1;
}

static bool read_num(const char **p, int digits, int *out)
{
    int v = 0;
    for (int i = 0; i < digits; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return false;
        v = v * 10 + (ch - '0');
    }
    *p += digits;
    *out = v;
    return true;
}

/* IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" (the form RFC 9110 asks senders to use). */
static bool parse_http_date(const char *s, int64_t *ms)
{
    struct tm tm;
    int mday, mon, year, hh, mm, ss;
    const char *p = strchr(s, ',');
    time_t t;

    if (!p)
        return false;
    p++;
    while (*p == ' ')
        p++;
    if (!read_num(&p, 2, &mday) || *p++ != ' ' || (mon = month_index(p)) < 0)
        return false;
    p += 3;
    if (*p++ != ' ' || !read_num(&p, 4, &year) || *p++ != ' ' || !read_num(&p, 2, &hh) ||
        *p++ != ':' || !read_num(&p, 2, &mm) || *p++ != ':' || !read_num(&p, 2, &ss) ||
        strcmp(p, " GMT") != 0)
        return false;
    memset(&tm, 0, sizeof(tm));
    tm.tm_mday = mday;
    tm.tm_mon = mon;
    tm.tm_year = year - 1900;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *ms = (int64_t)t * 1000;
    return true;
}

int64_t ch_retry_after(const char *v, int64_t now_ms)
{
    int64_t at;

    if (!v || !*v)
        return -1;
    if (*v >= '0' && *v <= '9') {
        char *end;
        long long s;
        errno = 0;
        s = strtoll(v, &end, 10);
        if (errno == ERANGE || s > CHAN_MAX_RETRY_AFTER_MS / 1000)
            return CHAN_MAX_RETRY_AFTER_MS;
        if (*end)
            return -1;
        return (int64_t)s * 1000;
    }
    if (!parse_http_date(v, &at)) {
        /* the other date forms HTTP allows (RFC 850, asctime), and years past 9999 */
        time_t t = curl_getdate(v, NULL);
        if (t <= 0)
            return -1;
        if ((int64_t)t > (INT64_MAX - CHAN_MAX_RETRY_AFTER_MS) / 1000)
            return CHAN_MAX_RETRY_AFTER_MS;
        at = (int64_t)t * 1000;
    }
    at -= now_ms;
    if (at < 0)
        return 0;
    return at > CHAN_MAX_RETRY_AFTER_MS ? CHAN_MAX_RETRY_AFTER_MS : at;
}

int64_t chan_retry_after(const struct chan_resp *resp, int64_t now_ms)
{
    char ra[128];

    return ch_retry_after(ch_resp_header(resp, "Retry-After", ra, sizeof(ra)), now_ms);
}

size_t chan_header_lines(char *block, const char **lines, size_t max)
{
    size_t n = 0;

    for (char *save = NULL, *l = block ? strtok_r(block, "\r\n", &save) : NULL; l && n < max;
         l = strtok_r(NULL, "\r\n", &save))
        if (strchr(l, ':') && strncmp(l, "HTTP/", 5) != 0)
            lines[n++] = l;
    return n;
}

void ch_set(struct chan_outcome *o, enum chan_verdict v, const char *fmt, ...)
{
    va_list ap;

    o->verdict = v;
    va_start(ap, fmt);
    vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
    va_end(ap);
}

json_t *ch_ticket_new(const char *id, const char *url, const char *ref)
{
    json_t *t = json_object();
    int rc = 0;

    if (!t)
        return NULL;
    if (id)
        rc |= json_object_set_new(t, "id", json_string(id));
    if (url)
        rc |= json_object_set_new(t, "url", json_string(url));
    if (ref)
        rc |= json_object_set_new(t, "ref", json_string(ref));
    if (rc) {
        json_decref(t);
        return NULL;
    }
    return t;
}

/* A short printable excerpt of the body for a reason line. */
static void excerpt(const struct chan_resp *resp, char *out, size_t n)
{
    size_t len = resp->body ? resp->body_len : 0, j = 0;

    if (len > 120)
        len = 120;
    for (size_t i = 0; i < len && j + 1 < n; i++) {
        unsigned char ch = (unsigned char)resp->body[i];
        out[j++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    out[j] = '\0';
}

static void generic_check(const struct chan_resp *resp, int64_t now_ms, struct chan_outcome *o)
{
    long st = resp->status;
    char ex[128];

    excerpt(resp, ex, sizeof(ex));
    if (st == 0) {
        ch_set(o, CHAN_RETRY, "no answer");
    } else if (st == 408 || st == 425 || st == 429 || (st >= 500 && st <= 599)) {
        ch_set(o, CHAN_RETRY, "HTTP %ld%s%s", st, ex[0] ? ": " : "", ex);
        o->retry_after_ms = chan_retry_after(resp, now_ms);
    } else if (st < 200 || st > 299) {
        ch_set(o, CHAN_FAILED, "HTTP %ld%s%s", st, ex[0] ? ": " : "", ex);
    } else {
        ch_set(o, CHAN_DELIVERED, "%s", "");
    }
}

int chan_check(const struct chan *c, const struct chan_req *req, const struct chan_resp *resp,
               int64_t now_ms, struct chan_outcome *out)
{
    int rc = TOCSIN_OK;

    memset(out, 0, sizeof(*out));
    out->retry_after_ms = -1;
    if (!c->ops->own_check)
        generic_check(resp, now_ms, out);
    if (c->ops->check)
        rc = c->ops->check(c, req, resp, now_ms, out);
    if (out->verdict != CHAN_DELIVERED && out->ticket) {
        json_decref(out->ticket);
        out->ticket = NULL;
    }
    return rc;
}

void chan_outcome_clear(struct chan_outcome *o)
{
    if (!o)
        return;
    json_decref(o->ticket);
    o->ticket = NULL;
}

/* ---------------------------------------------------------------- secrets */

const char *const *chan_secret_keys(const char *type)
{
    const struct chan_ops *ops = find_ops(type);
    return ops ? ops->secrets : NULL;
}

static void mask_path(json_t *cfg, const char *path)
{
    const char *dot = strrchr(path, '.');
    json_t *parent = cfg;
    char head[128];

    if (dot) {
        snprintf(head, sizeof(head), "%.*s", (int)(dot - path), path);
        parent = (json_t *)ch_get(cfg, head);
        path = dot + 1;
    }
    if (!json_is_object(parent))
        return;
    if (strcmp(path, "*") == 0) {
        const char *k;
        json_t *v;
        json_object_foreach(parent, k, v)
        {
            if (secrets_sensitive_header(k) && !json_is_null(v))
                json_object_set_new(parent, k, json_string(CHAN_MASK));
        }
        return;
    }
    if (json_object_get(parent, path) && !json_is_null(json_object_get(parent, path)))
        json_object_set_new(parent, path, json_string(CHAN_MASK));
}

json_t *chan_mask_config(const char *type, const json_t *config)
{
    const char *const *keys = chan_secret_keys(type);
    json_t *c;

    if (!json_is_object(config))
        return NULL;
    c = json_deep_copy(config);
    if (!c)
        return NULL;
    for (size_t i = 0; keys && keys[i]; i++)
        mask_path(c, keys[i]);
    mask_path(c, "headers.*");
    return c;
}

static bool url_secret(const char *type)
{
    const struct chan_ops *ops = find_ops(type);
    return ops && ops->url_secret;
}

const char *chan_mask_url(const char *type, const char *url, char *out, size_t n)
{
    struct buf b;
    const char *p = url ? strstr(url, "://") : NULL, *host, *end;
    bool whole = url_secret(type);
    size_t seg = 0;
    int rc = 0;

    if (!n)
        return out;
    out[0] = '\0';
    if (!p) {
        snprintf(out, n, "%s", url ? CHAN_MASK : "");
        return out;
    }
    buf_init(&b, 8192);
    host = p + 3;
    end = host + strcspn(host, "/?#");
    rc |= buf_append(&b, url, (size_t)(host - url));
    {
        const char *at = memchr(host, '@', (size_t)(end - host));
        if (at) {
            const char *colon = memchr(host, ':', (size_t)(at - host));
            rc |= buf_append(&b, host, (size_t)((colon ? colon : at) - host));
            if (colon)
                rc |= buf_puts(&b, ":" CHAN_MASK);
            rc |= buf_putc(&b, '@');
            host = at + 1;
        }
    }
    rc |= buf_append(&b, host, (size_t)(end - host));
    p = end;
    while (*p == '/') {
        size_t len = strcspn(p + 1, "/?#");
        bool secret = (whole && seg > 0) || len >= 24 || memchr(p + 1, ':', len) != NULL;
        rc |= buf_putc(&b, '/');
        rc |= secret ? buf_puts(&b, CHAN_MASK) : buf_append(&b, p + 1, len);
        p += 1 + len;
        seg++;
    }
    if (*p == '?') {
        p++;
        rc |= buf_putc(&b, '?');
        while (*p && *p != '#') {
            size_t len = strcspn(p, "&#"), kl = strcspn(p, "=&#");
            rc |= buf_append(&b, p, kl);
            if (kl < len)
                rc |= buf_puts(&b, "=" CHAN_MASK);
            p += len;
            if (*p == '&')
                rc |= buf_putc(&b, *p++);
        }
    }
    snprintf(out, n, "%s", rc ? CHAN_MASK : buf_str(&b));
    buf_free(&b);
    return out;
}
