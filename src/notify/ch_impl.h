/* For the channel types only (ch_<type>.c): the ops table, the compiled channel, and the
 * helpers channel.c shares with them. The rest of tocsin includes channel.h.
 *
 * Adding a type: a ch_<type>.c that defines `const struct chan_ops ch_<type>_ops` (fields,
 * secrets, render, and optionally compile/check/free), and one row in channel.c's table. */
#ifndef TOCSIN_CH_IMPL_H
#define TOCSIN_CH_IMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/verr.h"
#include "notify/channel.h"
#include "template/tmpl.h"
#include "util/buf.h"

/* How a config field is read and checked by chan_compile before the type's own compile. */
enum ch_ftype {
    CHF_STR = 0, /* a non-empty string */
    CHF_TMPL,    /* a string compiled as a template (ch_text() renders it) */
    CHF_URL,     /* a literal http(s) URL */
    CHF_BOOL,
    CHF_INT,  /* an integer, 0..INT32_MAX */
    CHF_LIST, /* a string split on , ; and whitespace, or an array of strings */
    CHF_OBJ,  /* an object (the type checks it) */
    CHF_ID,   /* a string or an integer (telegram chat_id) */
    CHF_ANY   /* anything (the type checks it) */
};

#define CHF_REQUIRED 1u

struct ch_field {
    const char *name;
    enum ch_ftype type;
    unsigned flags;
};

struct chan_ops {
    const char *type;
    const struct ch_field *fields; /* ends with {NULL}; common fields are added by chan.c */
    const char *const *secrets;    /* NULL-terminated */
    bool url_secret;               /* the URL holds the secret (masked whole in logs) */
    int (*compile)(struct chan *c, struct verr *e); /* optional: cross-field checks, c->priv */
    int (*render)(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                  struct verr *e);
    /* optional: refines the generic verdict (or replaces it when own_check); may set a ticket */
    int (*check)(const struct chan *c, const struct chan_req *req, const struct chan_resp *resp,
                 int64_t now_ms, struct chan_outcome *o);
    bool own_check;
    void (*free_priv)(void *priv);
};

/* The common fields every type accepts: timeout (ms, or "10s" "500ms" "2m"), skip_verify,
 * use_proxy, send_resolved (default true: false makes a resolve a noop). */
struct chan {
    char *id;
    const struct chan_ops *ops;
    json_t *cfg;        /* deep copy of the config */
    struct tmpl **tmpl; /* parallel to ops->fields: the CHF_TMPL fields present, else NULL */
    size_t nfields;
    int64_t timeout_ms;
    bool tls_verify, use_proxy, send_resolved;
    void *priv; /* the type's, freed by ops->free_priv */
};

extern const struct chan_ops ch_webhook_ops, ch_slack_ops, ch_teams_ops, ch_mattermost_ops,
    ch_discord_ops, ch_telegram_ops, ch_email_ops, ch_pagerduty_ops, ch_opsgenie_ops,
    ch_servicenow_ops, ch_jira_ops, ch_splunk_hec_ops, ch_logstash_ops;

/* ---- config ---- */
const json_t *ch_cfg(const struct chan *c, const char *name);
const char *ch_cfg_str(const struct chan *c, const char *name); /* NULL unless a string */
bool ch_cfg_bool(const struct chan *c, const char *name, bool dflt);
/* Compiles src as a template; on a syntax error sets e on `field`. */
int ch_compile_tmpl(const char *src, const char *field, struct tmpl **out, struct verr *e);
/* The compiled template of a CHF_TMPL field, NULL when not configured. */
const struct tmpl *ch_tmpl(const struct chan *c, const char *name);
/* Renders template t (bounded CHAN_MAX_FIELD) into a new string *out; errors name `field`. */
int ch_render_tmpl(const struct tmpl *t, const char *field, const json_t *ctx, enum tmpl_escape esc,
                   char **out, struct verr *e);
/* Renders field `name` into *out (NULL when the field is not configured: use a default). */
int ch_text(const struct chan *c, const char *name, const json_t *ctx, enum tmpl_escape esc,
            char **out, struct verr *e);
/* The items of a CHF_LIST value into a new NULL-terminated array (ch_strv_free). */
char **ch_list(const json_t *v, size_t *n);
void ch_strv_free(char **v);
bool ch_valid_http_url(const char *url);
/* An http(s) base URL (literal) checked: field error otherwise. */
int ch_check_base_url(const struct chan *c, const char *name, struct verr *e);

/* config.auth = {"username" (required, no ':'), "password"}: unknown keys are errors. */
int ch_check_auth(const struct chan *c, struct verr *e);
/* ch_check_auth, and exactly one of auth (basic) and token (bearer) is set. */
int ch_check_auth_or_token(const struct chan *c, struct verr *e);

/* ---- context ---- */
/* Walks a dotted path ("alert.tickets.x.id", "result.0.number": a number segment indexes an
 * array); a key holding dots that is present verbatim at a level wins. NULL when missing. */
const json_t *ch_get(const json_t *root, const char *path);
const char *ch_gets(const json_t *root, const char *path); /* string value or NULL */
const char *ch_getsd(const json_t *root, const char *path, const char *dflt);
bool ch_resolved(const json_t *ctx);
const char *ch_change(const json_t *ctx); /* "" if none */
/* alert.tickets.<channel id>, NULL when absent. */
const json_t *ch_ticket(const struct chan *c, const json_t *ctx);
/* A stable key for the alert, or the group when grouped: "<alert id>" or "g-<16 hex>". */
int ch_stable_key(const json_t *ctx, struct buf *out);
/* "[FIRING] Critical: <event> on <resource>" / "[RESOLVED] ..." / "[FIRING:3] ..." */
int ch_title(const json_t *ctx, struct buf *out);
/* Plain text: the alert's text, then Severity/Environment/Service/Value/Resource lines, then
 * other alerts of the group (up to 10), then the link. Lines end with "\n". Cut (with an
 * ellipsis) to the room out has left; TOCSIN_ETOOBIG only when that is under 16 bytes. */
int ch_body(const json_t *ctx, struct buf *out);
/* The same as an HTML fragment, every value HTML-escaped. */
int ch_body_html(const json_t *ctx, struct buf *out);
/* The config's title and text templates rendered (ESC_NONE), or for each one missing the
 * default (ch_title / ch_body) passed through esc_fn (NULL: as is). Both malloc'd. */
int ch_title_text(const struct chan *c, const json_t *ctx,
                  int (*esc_fn)(struct buf *, const char *), char **title, char **text,
                  struct verr *e);
/* <tocsin.url>/alerts/<alert id>, or "" without tocsin.url. */
int ch_link(const json_t *ctx, struct buf *out);
/* Alerta severity -> 0 critical (security, critical), 1 major, 2 minor, 3 warning,
 * 4 informational (indeterminate, informational, unknown, debug, trace), 5 ok (normal, ok,
 * cleared). */
int ch_sev_level(const char *severity);
/* Severity colour "#rrggbb" for the alert (green when resolved). */
const char *ch_color(const json_t *ctx);
int ch_html_escape(struct buf *b, const char *s);
/* A copy of s cut to at most max code points (UTF-8), ending with "…" when cut. */
char *ch_trunc(const char *s, size_t max_cp);
/* A copy of s cut to at most max bytes (max > 8) at a character's start and not inside an
 * &entity;, ending with an ellipsis when cut; NULL when out of memory. */
char *ch_cut_bytes(const char *s, size_t max);
uint64_t ch_fnv1a(const char *s, size_t n);

/* ---- requests ---- */
/* Fills method and url (copies), tls_verify/use_proxy/timeout from the channel. url must be
 * http(s): an EINVAL on `field` otherwise. */
int ch_req_http(const struct chan *c, struct chan_req *r, const char *method, const char *url,
                const char *field, struct verr *e);
/* Adds "name: value"; a value with CR, LF or another control character is an EINVAL on field. */
int ch_req_header(struct chan_req *r, const char *name, const char *value, const char *field,
                  struct verr *e);
/* Dumps j compactly as the body (takes j), with Content-Type: application/json. */
int ch_req_json(struct chan_req *r, json_t *j, struct verr *e);
/* The whole context as the body: r->ctx_text when the caller gave it, else ctx dumped; with
 * Content-Type: application/json when content_type. */
int ch_req_ctx(struct chan_req *r, const json_t *ctx, bool content_type, struct verr *e);
/* Takes body (malloc'd, NUL-terminated) as the request body. */
int ch_req_body(struct chan_req *r, char *body, size_t len, struct verr *e);
int ch_req_basic(struct chan_req *r, const char *user, const char *password);
/* "base" + "path" with exactly one '/' between them, into *out (malloc'd). */
int ch_join(const char *base, const char *path, char **out);
int ch_join_esc(const char *base, const char *prefix, const char *seg, const char *suffix,
                char **out); /* seg percent-encoded */

/* ---- answers ---- */
json_t *ch_resp_json(const struct chan_resp *resp); /* the body parsed, NULL if not JSON */
/* Value of the first header `name` (case-insensitive), trimmed, NUL-terminated into buf. */
const char *ch_resp_header(const struct chan_resp *resp, const char *name, char *buf, size_t n);
/* Retry-After: delta-seconds or an HTTP-date, -1 if absent or unreadable. */
int64_t ch_retry_after(const char *value, int64_t now_ms);
void ch_set(struct chan_outcome *o, enum chan_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* {"id","url","ref"} with the non-NULL ones; NULL if out of memory. */
json_t *ch_ticket_new(const char *id, const char *url, const char *ref);

/* Slack-shaped attachment (slack and mattermost): {color,title,title_link,text,fallback,
 * footer,ts}. New reference. */
json_t *ch_slack_attachment(const json_t *ctx, const char *title, const char *text);

#endif
