/* Channels: a configured notifier instance (webhook, slack, email, pagerduty, ...) compiled once
 * from its JSON config, then asked for the wire request of each notification and for a verdict
 * on the answer. One file per type (ch_<type>.c) fills a row of the ops table (ch_impl.h);
 * this header is all the rest of tocsin needs. Pure: no I/O, no clock of its own, no globals
 * but constant tables. A compiled channel is immutable: several threads may render and check
 * with it at once. docs/channels.md describes every type's fields and wire format.
 *
 * Life of one notification on one channel:
 *   ctx = the notification context (below), with the alert as it is at attempt time
 *   chan_render(chan, ctx, now, &req)  -> one request (HTTP or SMTP), or req.noop
 *   creq_setup(easy, &req, &xfer)      -> libcurl does the transfer (creq.h)
 *   chan_check(chan, &resp, now, &out) -> delivered | retry (+ retry_after) | failed, + ticket
 *   a ticket in `out` is stored by the caller on the alert: alert.tickets.<channel id> =
 *   {"id","url","ref",...} (the alert's `ticket`/`ticketUrl` take id/url), and later renders
 *   of this channel read it back (ServiceNow sys_id, Jira key for a resolve).
 *
 * The context (a JSON object; the caller builds it, chan_sample_context() shows one):
 *   alert         the alert as GET /api/v1/alerts/{id} renders it (id, resource, event,
 *                 environment, severity, status, service[], group, value, text, tags[],
 *                 attributes{}, origin, labels{}, annotations{}, createTime, lastReceiveTime,
 *                 duplicateCount, ...) plus "tickets": {"<channel id>": {"id","url","ref"}}
 *   alerts        the alerts of the notification (grouped rules), firing first, at most
 *                 GROUP_CTX_ALERTS (daemon/nwire.c: 100) and within CHAN_MAX_BODY; [alert] if
 *                 ungrouped. `alert` is alerts[0].
 *   change        the change kind that caused it: "create", "ack", "resolve", ... (achg_name)
 *   status        "firing" | "resolved"
 *   rule          {"id","name"}
 *   group         {"key","firing","resolved"}   key "" when the rule does not group; the
 *                 counts are of all the notification's alerts
 *   notification  {"id"}                the idempotency key, the same on every retry
 *   channel       {"id","type"}
 *   tocsin        {"url"}               the public base URL of the console/API
 */
#ifndef TOCSIN_CHANNEL_H
#define TOCSIN_CHANNEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/verr.h"

#define CHAN_MAX_HEADERS 64         /* headers of one request */
#define CHAN_MAX_RCPT 100           /* e-mail recipients (to + cc) */
#define CHAN_MAX_BODY (1024 * 1024) /* rendered body or e-mail message */
#define CHAN_MAX_FIELD (64 * 1024)  /* one rendered templated field (title, url, header ...) */
#define CHAN_DEFAULT_TIMEOUT_MS 10000
#define CHAN_MAX_TIMEOUT_MS 300000
#define CHAN_MAX_RETRY_AFTER_MS (24 * 3600 * 1000LL) /* longer Retry-After values are capped */
#define CHAN_MASK "********"

struct chan; /* a compiled channel */

/* One request to make. Every string is owned by the request (chan_req_free()).
 * HTTP (smtp false): method, url (http or https), headers ("Name: value" lines, validated: no
 *   CR/LF), body (body_len bytes, may hold NULs; NULL when none), username/password for basic
 *   auth (NULL when none; bearer tokens and API keys are in the headers instead).
 * SMTP (smtp true): url smtp://host:port or smtps://host:port, starttls (STARTTLS required
 *   before anything else is said; false with smtp:// means plain text), username/password for
 *   AUTH, mail_from (bare address), rcpt (bare addresses, to then cc), body = the whole RFC 5322
 *   message with CRLF line endings (libcurl does the dot-stuffing).
 * noop: nothing is to be sent for this notification (e.g. a resolve when the service has
 *   nothing to resolve); the caller records it as delivered with chan_render's err as reason.
 * action: what the request does on the service, a static string for logs and attempt records:
 *   "send", "trigger", "acknowledge", "resolve", "create", "update", "comment", "transition",
 *   "close". */
struct chan_req {
    bool smtp;
    bool noop;
    const char *action;
    char *method;
    char *url;
    char **headers;
    size_t nheaders;
    char *body;
    size_t body_len;
    char *username, *password;
    bool tls_verify; /* verify the server's certificate and name (false: skip_verify) */
    bool use_proxy;  /* honour http(s)_proxy from the environment (false: no proxy at all) */
    bool starttls;
    int64_t timeout_ms; /* whole transfer */
    char *mail_from;
    char **rcpt;
    size_t nrcpt;
    /* Input, not output: the context as compact JSON text, the same value as ctx, when the
     * caller has it (chan_render_text); the default bodies send it instead of dumping ctx.
     * Borrowed for the render only. */
    const char *ctx_text;
    size_t ctx_len;
};

/* What the service answered. For SMTP, status is the last SMTP reply code (libcurl's
 * CURLINFO_RESPONSE_CODE) even when the transfer failed; 0 when there was no answer at all
 * (connection refused, timeout, TLS failure) for either protocol. headers are the response's
 * header lines "Name: value" (the final response's, after redirects), borrowed. */
struct chan_resp {
    long status;
    const char *const *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
};

enum chan_verdict {
    CHAN_DELIVERED = 0, /* done; the notification is delivered */
    CHAN_RETRY,         /* try again later (after retry_after_ms when >= 0) */
    CHAN_FAILED         /* will never succeed as it is: dead at once */
};

struct chan_outcome {
    enum chan_verdict verdict;
    int64_t retry_after_ms; /* -1: the service said nothing; else 0..CHAN_MAX_RETRY_AFTER_MS */
    char reason[256];       /* "" when delivered without remark; never holds a secret */
    json_t *ticket;         /* NULL, or {"id","url","ref",...extra}: owned, json_decref() */
};

/* Compiles a channel. `id` is the channel's id (used for alert.tickets.<id>), `type` one of
 * chan_types(), `config` the type's JSON object (borrowed; the channel keeps a deep copy).
 * Unknown keys are errors. Every templated field is compiled, and the whole channel is
 * rendered once against chan_sample_context() (firing and resolved), so a broken template or
 * a URL that can never be valid is an error now, not at 3 a.m. Errors: TOCSIN_EINVAL with e
 * naming the field ("type", "config.url", "config.to[1]", "config.headers.X-Key", ...),
 * TOCSIN_ENOMEM. On success *out is the channel, freed with chan_free(). */
int chan_compile(const char *id, const char *type, const json_t *config, struct chan **out,
                 struct verr *e);
void chan_free(struct chan *c); /* NULL is fine */

const char *chan_id(const struct chan *c);
const char *chan_type(const struct chan *c);

/* The registered types, NULL-terminated, static. */
const char *const *chan_types(void);

/* The config keys of `type` that are secrets, NULL-terminated, static (NULL for an unknown
 * type). A key is a dotted path into the config ("token", "auth.password"); "headers.*"
 * stands for the values of the secret-looking headers, those secrets_sensitive_header() names
 * (util/secrets.h).
 * The caller encrypts these at rest, never returns them from the API and never logs them. */
const char *const *chan_secret_keys(const char *type);
/* A deep copy of config with every secret value present replaced by CHAN_MASK. Returns NULL if
 * out of memory (or config is not an object). Caller decrefs. Unknown types mask nothing but
 * the headers. */
json_t *chan_mask_config(const char *type, const json_t *config);
/* Writes url into out (always NUL-terminated, cut to fit) with its secret parts masked, for log
 * lines and attempt records: the password of user:password@, every query value, and, for types
 * whose URL is the secret (slack/teams/mattermost/discord webhooks, telegram), every path
 * segment after the first; for other types path segments of 24+ characters or holding ':' (a
 * token in the path). Returns out. */
const char *chan_mask_url(const char *type, const char *url, char *out, size_t n);

/* A realistic context (one critical alert, firing, change "create", channel {"id":"sample",
 * "type":"webhook"}): what chan_compile renders against, and what `POST
 * /api/v1/channels/{id}/test` may send. New reference; NULL if out of memory. */
json_t *chan_sample_context(void);

/* Builds the request for one notification. ctx is borrowed for the call; now_ms (wall ms) is
 * only used where the wire format wants the sending time (e-mail Date). On success r holds
 * the request (or r->noop, with the reason in err); free it with chan_req_free() in any case.
 * TOCSIN_EINVAL when rendering gave something that cannot be sent (a bad URL, a header with a
 * line break, a body too big, a resolve that needs a ticket nobody declared ...): err says
 * which field ("config.url: ..."), never a secret; TOCSIN_ENOMEM. */
int chan_render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                char *err, size_t errlen);
/* The same, given also the text of ctx (compact JSON of the same value, ctx_len bytes): a body
 * that is the whole context is then a copy of it, not a json_dumps (the notifier's hot path). */
int chan_render_text(const struct chan *c, const json_t *ctx, const char *ctx_text,
                     size_t ctx_len, int64_t now_ms, struct chan_req *r, char *err, size_t errlen);
void chan_req_free(struct chan_req *r); /* frees the members, zeroes *r; NULL is fine */

/* Judges the answer `resp` to the request `req` made from this channel (both borrowed; req may
 * be NULL, then tickets that only the request knows, such as Opsgenie's alias, are not
 * reported). Generic rules:
 *   no answer (0), 408, 425, 429, 5xx       -> CHAN_RETRY; Retry-After (delta-seconds or an
 *                                              HTTP-date, judged against now_ms) honoured;
 *   other 4xx, 1xx, 3xx                     -> CHAN_FAILED
 *   2xx                                     -> CHAN_DELIVERED, then the type's own rules:
 *   slack   body "ok", or JSON ok:true; ok:false with error "ratelimited"/"rate_limited" ->
 *           retry; any other ok:false or body -> failed
 *   telegram JSON ok:true; a 429's parameters.retry_after (s)   discord 429 retry_after (s)
 *   email   SMTP codes: 2xx/3xx delivered, 4xx retry, 5xx failed, 0 retry
 *   webhook declare_ticket; servicenow/jira/pagerduty/opsgenie: the ticket of their reply.
 * out->ticket is set only on CHAN_DELIVERED. Returns TOCSIN_OK or TOCSIN_ENOMEM. */
int chan_check(const struct chan *c, const struct chan_req *req, const struct chan_resp *resp,
               int64_t now_ms, struct chan_outcome *out);
void chan_outcome_clear(struct chan_outcome *o); /* drops the ticket; NULL is fine */

/* Whether a delivery through this channel may declare a ticket that a later one reads
 * (servicenow, jira, pagerduty, opsgenie; a webhook with declare_ticket): its notifications of
 * one alert must then go strictly one after the other, even those of one change. */
bool chan_keeps_tickets(const struct chan *c);

/* Splits a raw block of response header lines (as libcurl hands them, CRLF-ended, status lines
 * included) in place into at most max "Name: value" lines; status and blank lines are left
 * out. Returns how many. */
size_t chan_header_lines(char *block, const char **lines, size_t max);
/* The answer's Retry-After (delta-seconds or an HTTP-date judged against now_ms) in ms, capped
 * at CHAN_MAX_RETRY_AFTER_MS; -1 when it has none or it cannot be read. */
int64_t chan_retry_after(const struct chan_resp *resp, int64_t now_ms);

#endif
