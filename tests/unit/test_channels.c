/* Channels: validation errors naming the field, the exact request each type renders for a
 * firing, acknowledged and resolved context, the verdict on answers (2xx, 429 with
 * Retry-After in both forms, 5xx, 4xx, the bodies of Slack, Telegram and Discord), tickets
 * (declare_ticket by JSON path, regex, empty_response, templates; ServiceNow, Jira, PagerDuty,
 * Opsgenie), secrets and masking, the e-mail message, every example of docs/channels.md, and
 * creq_setup with one real HTTP and one real SMTP transfer against a local one-shot server. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "notify/ch_impl.h"
#include "notify/channel.h"
#include "notify/creq.h"
#include "util/err.h"

#define NOW 1700000000000LL /* 2023-11-14T22:13:20Z */
#define ALERT_ID "6a3e2b1c-5d4f-4e8a-9b7c-1d2e3f4a5b6c"
#define NID "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

/* ---------------------------------------------------------------- helpers */

static struct chan *compile_ok_id(const char *id, const char *type, const char *cfg)
{
    json_error_t je;
    json_t *j = json_loads(cfg, 0, &je);
    struct chan *c = NULL;
    struct verr e;
    int rc;

    if (!j)
        fail_msg("bad test JSON: %s: %s", je.text, cfg);
    memset(&e, 0, sizeof(e));
    rc = chan_compile(id, type, j, &c, &e);
    json_decref(j);
    if (rc)
        fail_msg("%s channel did not compile: %s: %s", type, e.field, e.msg);
    return c;
}

static struct chan *compile_ok(const char *type, const char *cfg)
{
    return compile_ok_id("ch1", type, cfg);
}

/* Asserts that cfg fails on `field`. */
static void compile_err(const char *type, const char *cfg, const char *field)
{
    json_t *j = json_loads(cfg, 0, NULL);
    struct chan *c = NULL;
    struct verr e;
    int rc;

    assert_non_null(j);
    memset(&e, 0, sizeof(e));
    rc = chan_compile("ch1", type, j, &c, &e);
    json_decref(j);
    if (rc != TOCSIN_EINVAL)
        fail_msg("%s %s: compiled, expected an error on %s", type, cfg, field);
    assert_null(c);
    assert_string_equal(e.field, field);
    assert_true(e.msg[0] != '\0');
}

enum kind { FIRING, ACK, RESOLVED };

/* The sample context as channel "ch1" sees it, in the given state. */
static json_t *ctx_new(enum kind k)
{
    json_t *c = chan_sample_context(), *a;

    assert_non_null(c);
    a = json_object_get(c, "alert");
    json_object_set_new(json_object_get(c, "channel"), "id", json_string("ch1"));
    if (k == ACK) {
        json_object_set_new(c, "change", json_string("ack"));
        json_object_set_new(a, "status", json_string("ack"));
    } else if (k == RESOLVED) {
        json_object_set_new(c, "change", json_string("resolve"));
        json_object_set_new(c, "status", json_string("resolved"));
        json_object_set_new(a, "status", json_string("closed"));
    }
    return c;
}

static void set_ticket(json_t *ctx, const char *id, const char *url, const char *ref)
{
    json_t *t = json_pack("{s:s,s:s,s:s}", "id", id, "url", url, "ref", ref);
    json_object_set_new(json_object_get(json_object_get(ctx, "alert"), "tickets"), "ch1", t);
}

static void render_ok(const struct chan *c, const json_t *ctx, struct chan_req *r)
{
    char err[256];
    int rc = chan_render(c, ctx, NOW, r, err, sizeof(err));

    if (rc)
        fail_msg("render failed: %s", err);
}

static const char *hdr(const struct chan_req *r, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < r->nheaders; i++)
        if (strncasecmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
            return r->headers[i] + n + 2;
    return NULL;
}

static json_t *body_json(const struct chan_req *r)
{
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, 0, &je);

    if (!j)
        fail_msg("body is not JSON (%s): %.*s", je.text, (int)r->body_len, r->body);
    return j;
}

static const char *js(const json_t *j, const char *path)
{
    const json_t *cur = j;
    char seg[128];

    while (cur && *path) {
        size_t n = strcspn(path, ".");
        snprintf(seg, sizeof(seg), "%.*s", (int)n, path);
        if (json_is_array(cur))
            cur = json_array_get(cur, strtoul(seg, NULL, 10));
        else
            cur = json_object_get(cur, seg);
        path += n + (path[n] == '.');
    }
    return json_string_value(cur);
}

static const json_t *jget(const json_t *j, const char *path)
{
    const json_t *cur = j;
    char seg[128];

    while (cur && *path) {
        size_t n = strcspn(path, ".");
        snprintf(seg, sizeof(seg), "%.*s", (int)n, path);
        cur = json_is_array(cur) ? json_array_get(cur, strtoul(seg, NULL, 10))
                                 : json_object_get(cur, seg);
        path += n + (path[n] == '.');
    }
    return cur;
}

static void check_resp(const struct chan *c, const struct chan_req *req, long status,
                       const char *const *headers, size_t nh, const char *body,
                       struct chan_outcome *o)
{
    struct chan_resp resp = {.status = status,
                             .headers = headers,
                             .nheaders = nh,
                             .body = body,
                             .body_len = body ? strlen(body) : 0};
    assert_int_equal(chan_check(c, req, &resp, NOW, o), TOCSIN_OK);
}

static enum chan_verdict verdict(const struct chan *c, long status, const char *body)
{
    struct chan_outcome o;
    check_resp(c, NULL, status, NULL, 0, body, &o);
    chan_outcome_clear(&o);
    return o.verdict;
}

/* ---------------------------------------------------------------- common */

static void test_types_and_common_fields(void **state)
{
    const char *const *t = chan_types();
    struct chan *c;
    struct verr e;
    size_t n = 0;

    (void)state;
    for (; t[n]; n++) {
        assert_non_null(chan_secret_keys(t[n]));
    }
    assert_int_equal(n, 13);
    memset(&e, 0, sizeof(e));
    assert_int_equal(chan_compile("x", "carrier-pigeon", NULL, &c, &e), TOCSIN_EINVAL);
    assert_string_equal(e.field, "type");
    compile_err("webhook", "{\"url\":\"http://x\",\"colour\":1}", "config.colour");
    compile_err("webhook", "{}", "config.url");
    compile_err("webhook", "{\"url\":\"http://x\",\"timeout\":\"soon\"}", "config.timeout");
    compile_err("webhook", "{\"url\":\"http://x\",\"timeout\":0}", "config.timeout");
    compile_err("webhook", "{\"url\":\"http://x\",\"skip_verify\":\"yes\"}", "config.skip_verify");
    compile_err("slack", "{\"url\":\"ftp://x\"}", "config.url");
    c = compile_ok("webhook", "{\"url\":\"https://x.example/h\",\"timeout\":\"2s\","
                              "\"skip_verify\":true,\"use_proxy\":true}");
    {
        json_t *ctx = ctx_new(FIRING);
        struct chan_req r;
        render_ok(c, ctx, &r);
        assert_int_equal(r.timeout_ms, 2000);
        assert_false(r.tls_verify);
        assert_true(r.use_proxy);
        chan_req_free(&r);
        json_decref(ctx);
    }
    assert_string_equal(chan_id(c), "ch1");
    assert_string_equal(chan_type(c), "webhook");
    chan_free(c);
}

static void test_send_resolved_false_is_noop(void **state)
{
    struct chan *c = compile_ok("slack", "{\"url\":\"https://hooks.slack.com/services/T/B/x\","
                                         "\"send_resolved\":false}");
    json_t *ctx = ctx_new(RESOLVED);
    struct chan_req r;
    char err[128];

    (void)state;
    assert_int_equal(chan_render(c, ctx, NOW, &r, err, sizeof(err)), TOCSIN_OK);
    assert_true(r.noop);
    assert_non_null(strstr(err, "send_resolved"));
    chan_req_free(&r);
    json_decref(ctx);
    chan_free(c);
}

static void test_generic_verdicts(void **state)
{
    struct chan *c = compile_ok("webhook", "{\"url\":\"http://127.0.0.1:9/h\"}");
    const char *ra_secs[] = {"Content-Type: text/plain", "Retry-After: 120"};
    const char *ra_date[] = {"retry-after:  Tue, 14 Nov 2023 22:15:00 GMT "};
    const char *ra_past[] = {"Retry-After: Tue, 14 Nov 2023 22:00:00 GMT"};
    const char *ra_bad[] = {"Retry-After: soon"};
    struct chan_outcome o;

    (void)state;
    assert_int_equal(verdict(c, 200, ""), CHAN_DELIVERED);
    assert_int_equal(verdict(c, 204, NULL), CHAN_DELIVERED);
    assert_int_equal(verdict(c, 0, NULL), CHAN_RETRY);
    assert_int_equal(verdict(c, 408, NULL), CHAN_RETRY);
    assert_int_equal(verdict(c, 500, "oops"), CHAN_RETRY);
    assert_int_equal(verdict(c, 503, NULL), CHAN_RETRY);
    assert_int_equal(verdict(c, 400, "bad"), CHAN_FAILED);
    assert_int_equal(verdict(c, 401, NULL), CHAN_FAILED);
    assert_int_equal(verdict(c, 404, NULL), CHAN_FAILED);
    assert_int_equal(verdict(c, 301, NULL), CHAN_FAILED);

    check_resp(c, NULL, 429, ra_secs, 2, "slow down", &o);
    assert_int_equal(o.verdict, CHAN_RETRY);
    assert_int_equal(o.retry_after_ms, 120000);
    assert_non_null(strstr(o.reason, "429"));
    check_resp(c, NULL, 503, ra_date, 1, NULL, &o);
    assert_int_equal(o.retry_after_ms, 100000); /* 22:15:00 - 22:13:20 */
    check_resp(c, NULL, 429, ra_past, 1, NULL, &o);
    assert_int_equal(o.retry_after_ms, 0);
    check_resp(c, NULL, 429, ra_bad, 1, NULL, &o);
    assert_int_equal(o.retry_after_ms, -1);
    check_resp(c, NULL, 429, NULL, 0, NULL, &o);
    assert_int_equal(o.retry_after_ms, -1);
    check_resp(c, NULL, 404, ra_secs, 2, "gone\r\nnow", &o);
    assert_int_equal(o.verdict, CHAN_FAILED);
    assert_string_equal(o.reason, "HTTP 404: gone  now");
    chan_free(c);
}

/* ---------------------------------------------------------------- webhook */

static void test_webhook_validation(void **state)
{
    (void)state;
    compile_err("webhook", "{\"url\":\"http://x\",\"method\":\"FETCH\"}", "config.method");
    compile_err("webhook", "{\"url\":\"http://x\",\"headers\":{\"Bad Name\":\"v\"}}",
                "config.headers.Bad Name");
    compile_err("webhook", "{\"url\":\"http://x\",\"headers\":{\"X-A\":1}}", "config.headers.X-A");
    compile_err("webhook", "{\"url\":\"http://x\",\"headers\":{\"Idempotency-Key\":\"k\"}}",
                "config.headers.Idempotency-Key");
    compile_err("webhook", "{\"url\":\"http://x\",\"body\":\"${alert.\"}", "config.body");
    compile_err("webhook", "{\"url\":\"http://x\",\"headers\":{\"X-A\":\"${(\"}}",
                "config.headers.X-A");
    compile_err("webhook", "{\"url\":\"not a url ${alert.id}\"}", "config.url");
    compile_err("webhook", "{\"url\":\"http://x\",\"auth\":{\"password\":\"p\"}}",
                "config.auth.username");
    compile_err("webhook", "{\"url\":\"http://x\",\"auth\":{\"username\":\"u\",\"pw\":\"p\"}}",
                "config.auth.pw");
    compile_err("webhook", "{\"url\":\"http://x\",\"body_escape\":\"xml\"}", "config.body_escape");
    compile_err("webhook", "{\"url\":\"http://x\",\"declare_ticket\":{\"ticket_url\":\"a\"}}",
                "config.declare_ticket.ticket_id");
    compile_err("webhook",
                "{\"url\":\"http://"
                "x\",\"declare_ticket\":{\"is_regexp\":true,\"ticket_id\":\"INC\\\\d+\"}}",
                "config.declare_ticket.ticket_id");
    compile_err(
        "webhook",
        "{\"url\":\"http://x\",\"declare_ticket\":{\"is_regexp\":true,\"ticket_id\":\"(\"}}",
        "config.declare_ticket.ticket_id");
    compile_err("webhook",
                "{\"url\":\"http://x\",\"declare_ticket\":{\"ticket_id\":\"a\",\"team\":3}}",
                "config.declare_ticket.team");
    compile_err("webhook",
                "{\"url\":\"http://x\",\"declare_ticket\":{\"ticket_id\":\"a\",\"is_regexp\":1}}",
                "config.declare_ticket.is_regexp");
}

static void test_webhook_render(void **state)
{
    struct chan *c = compile_ok(
        "webhook", "{\"url\":\"https://hooks.example.com/a/${alert.resource}?e=${alert.event}\","
                   "\"method\":\"put\",\"headers\":{\"X-Env\":\"${alert.environment}\","
                   "\"Authorization\":\"Bearer t0k\"},\"auth\":{\"username\":\"u\","
                   "\"password\":\"p w\"}}");
    json_t *ctx = ctx_new(FIRING), *b;
    struct chan_req r;

    (void)state;
    json_object_set_new(json_object_get(ctx, "alert"), "resource", json_string("web 01/x"));
    render_ok(c, ctx, &r);
    assert_false(r.smtp);
    assert_false(r.noop);
    assert_string_equal(r.method, "PUT");
    assert_string_equal(r.url, "https://hooks.example.com/a/web%2001%2Fx?e=HighCPU");
    assert_string_equal(hdr(&r, "X-Env"), "Production");
    assert_string_equal(hdr(&r, "Authorization"), "Bearer t0k");
    assert_string_equal(hdr(&r, "X-Tocsin-Notification"), NID);
    assert_string_equal(hdr(&r, "Idempotency-Key"), NID);
    assert_string_equal(hdr(&r, "Content-Type"), "application/json");
    assert_string_equal(r.username, "u");
    assert_string_equal(r.password, "p w");
    assert_true(r.tls_verify);
    assert_false(r.use_proxy);
    assert_int_equal(r.timeout_ms, CHAN_DEFAULT_TIMEOUT_MS);
    b = body_json(&r); /* the default body is the context */
    assert_true(json_equal(b, ctx));
    json_decref(b);
    chan_req_free(&r);
    chan_free(c);

    /* a body template: values JSON-escaped, no injection through the alert's text */
    c = compile_ok("webhook",
                   "{\"url\":\"http://h.example/\",\"body\":"
                   "\"{\\\"text\\\":\\\"${alert.text}\\\",\\\"s\\\":\\\"${status}\\\"}\"}");
    json_object_set_new(json_object_get(ctx, "alert"), "text",
                        json_string("x\",\"admin\":true,\"y\":\"\n"));
    render_ok(c, ctx, &r);
    assert_string_equal(r.method, "POST");
    b = body_json(&r);
    assert_string_equal(js(b, "text"), "x\",\"admin\":true,\"y\":\"\n");
    assert_string_equal(js(b, "s"), "firing");
    assert_null(jget(b, "admin"));
    json_decref(b);
    chan_req_free(&r);
    chan_free(c);

    /* a header value with a line break after rendering is refused, naming the header */
    c = compile_ok("webhook",
                   "{\"url\":\"http://h.example/\",\"headers\":{\"X-T\":\"${alert.text}\"}}");
    {
        char err[256];
        assert_int_equal(chan_render(c, ctx, NOW, &r, err, sizeof(err)), TOCSIN_EINVAL);
        assert_non_null(strstr(err, "config.headers.X-T"));
        chan_req_free(&r);
    }
    chan_free(c);

    /* GET sends no body */
    c = compile_ok("webhook", "{\"url\":\"http://h.example/\",\"method\":\"GET\"}");
    render_ok(c, ctx, &r);
    assert_null(r.body);
    chan_req_free(&r);
    chan_free(c);
    json_decref(ctx);
}

static json_t *ticket_of(const struct chan *c, const char *body, const char *const *h, size_t nh)
{
    struct chan_outcome o;

    check_resp(c, NULL, 201, h, nh, body, &o);
    assert_int_equal(o.verdict, CHAN_DELIVERED);
    return o.ticket;
}

static void test_webhook_declare_ticket(void **state)
{
    struct chan *c;
    json_t *t;
    struct chan_outcome o;
    const char *h[] = {"Location: https://itsm.example/t/77"};

    (void)state;
    c = compile_ok("webhook", "{\"url\":\"http://x.example/\",\"declare_ticket\":{"
                              "\"ticket_id\":\"result.number\",\"ticket_url\":\"result.link\","
                              "\"team\":\"result.assignment.group\"}}");
    t = ticket_of(c,
                  "{\"result\":{\"number\":\"INC0001\",\"link\":\"https://itsm.example/INC0001\","
                  "\"assignment\":{\"group\":\"ops\"}}}",
                  NULL, 0);
    assert_non_null(t);
    assert_string_equal(js(t, "id"), "INC0001");
    assert_string_equal(js(t, "url"), "https://itsm.example/INC0001");
    assert_string_equal(js(t, "ref"), "INC0001");
    assert_string_equal(js(t, "team"), "ops");
    json_decref(t);
    /* a number is a ticket id too; a missing id: delivered, no ticket, a remark */
    t = ticket_of(c, "{\"result\":{\"number\":42}}", NULL, 0);
    assert_string_equal(js(t, "id"), "42");
    json_decref(t);
    check_resp(c, NULL, 200, NULL, 0, "{\"result\":{}}", &o);
    assert_int_equal(o.verdict, CHAN_DELIVERED);
    assert_null(o.ticket);
    assert_non_null(strstr(o.reason, "declare_ticket"));
    /* no ticket on a failure */
    check_resp(c, NULL, 500, NULL, 0, "{\"result\":{\"number\":\"INC1\"}}", &o);
    assert_int_equal(o.verdict, CHAN_RETRY);
    assert_null(o.ticket);
    chan_free(c);

    /* regular expressions with a capture group, over the raw body */
    c = compile_ok("webhook", "{\"url\":\"http://x.example/\",\"declare_ticket\":{"
                              "\"is_regexp\":true,\"ticket_id\":\"Ticket (T-\\\\d+) created\","
                              "\"ticket_url\":\"at (https://\\\\S+)\"}}");
    t = ticket_of(c, "OK. Ticket T-381 created at https://t.example/T-381 today", NULL, 0);
    assert_string_equal(js(t, "id"), "T-381");
    assert_string_equal(js(t, "url"), "https://t.example/T-381");
    json_decref(t);
    chan_free(c);

    /* empty_response: the ticket is "N/A" */
    c = compile_ok("webhook", "{\"url\":\"http://x.example/\",\"declare_ticket\":{"
                              "\"empty_response\":true}}");
    t = ticket_of(c, "", NULL, 0);
    assert_string_equal(js(t, "id"), "N/A");
    json_decref(t);
    chan_free(c);

    /* templates over {response, headers, ticket_id} */
    c = compile_ok("webhook", "{\"url\":\"http://x.example/\",\"declare_ticket\":{"
                              "\"ticket_id\":\"data.key\",\"ticket_id_tpl\":\"${response.data."
                              "project}-${response.data.key}\","
                              "\"ticket_url_tpl\":\"${headers.location}?id=${ticket_id}\"}}");
    t = ticket_of(c, "{\"data\":{\"key\":\"12\",\"project\":\"OPS\"}}", h, 1);
    assert_string_equal(js(t, "id"), "OPS-12");
    assert_string_equal(js(t, "url"), "https://itsm.example/t/77?id=OPS-12");
    json_decref(t);
    chan_free(c);
}

/* ---------------------------------------------------------------- slack */

static void test_slack(void **state)
{
    struct chan *c;
    json_t *ctx = ctx_new(FIRING), *b;
    struct chan_req r;
    struct chan_outcome o;

    (void)state;
    compile_err("slack", "{}", "config.url");
    compile_err("slack", "{\"url\":\"https://h.example/x\",\"token\":\"xoxb\"}", "config.url");
    compile_err("slack", "{\"token\":\"xoxb-1\"}", "config.channel");
    compile_err("slack", "{\"url\":\"https://h.example/x\",\"text\":\"${\"}", "config.text");

    c = compile_ok("slack", "{\"url\":\"https://hooks.slack.com/services/T1/B2/s3cr3t\","
                            "\"username\":\"tocsin\",\"channel\":\"#ops\"}");
    json_object_set_new(json_object_get(ctx, "alert"), "text", json_string("a<b> & c"));
    render_ok(c, ctx, &r);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.url, "https://hooks.slack.com/services/T1/B2/s3cr3t");
    assert_null(hdr(&r, "Authorization"));
    b = body_json(&r);
    assert_string_equal(js(b, "channel"), "#ops");
    assert_string_equal(js(b, "username"), "tocsin");
    assert_string_equal(js(b, "attachments.0.color"), "#d00000");
    assert_string_equal(js(b, "attachments.0.title"), "[FIRING] Critical: HighCPU on web01");
    assert_string_equal(js(b, "attachments.0.fallback"), "[FIRING] Critical: HighCPU on web01");
    assert_string_equal(js(b, "attachments.0.title_link"),
                        "http://localhost:8072/alerts/" ALERT_ID);
    assert_non_null(strstr(js(b, "attachments.0.text"), "a&lt;b&gt; &amp; c"));
    assert_non_null(strstr(js(b, "attachments.0.text"), "Environment: Production"));
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);

    ctx = ctx_new(RESOLVED);
    render_ok(c, ctx, &r);
    b = body_json(&r);
    assert_string_equal(js(b, "attachments.0.color"), "#2eb886");
    assert_string_equal(js(b, "attachments.0.title"), "[RESOLVED] HighCPU on web01");
    json_decref(b);
    chan_req_free(&r);

    assert_int_equal(verdict(c, 200, "ok"), CHAN_DELIVERED);
    assert_int_equal(verdict(c, 200, "{\"ok\":true,\"ts\":\"1.2\"}"), CHAN_DELIVERED);
    assert_int_equal(verdict(c, 200, "{\"ok\":false,\"error\":\"ratelimited\"}"), CHAN_RETRY);
    assert_int_equal(verdict(c, 200, "{\"ok\":false,\"error\":\"channel_not_found\"}"),
                     CHAN_FAILED);
    assert_int_equal(verdict(c, 200, "invalid_payload"), CHAN_FAILED);
    assert_int_equal(verdict(c, 404, "no_service"), CHAN_FAILED);
    assert_int_equal(verdict(c, 429, NULL), CHAN_RETRY);
    check_resp(c, NULL, 200, NULL, 0, "{\"ok\":false,\"error\":\"channel_not_found\"}", &o);
    assert_string_equal(o.reason, "slack: channel_not_found");
    chan_free(c);

    /* the Web API with a bot token; api_url overridable; user templates not escaped */
    c = compile_ok("slack",
                   "{\"token\":\"xoxb-123\",\"channel\":\"C123\","
                   "\"api_url\":\"http://127.0.0.1:8/api/\",\"title\":\"<!here> ${alert.event}\","
                   "\"text\":\"*${alert.severity}*\",\"color\":\"warning\"}");
    render_ok(c, ctx, &r);
    assert_string_equal(r.url, "http://127.0.0.1:8/api/chat.postMessage");
    assert_string_equal(hdr(&r, "Authorization"), "Bearer xoxb-123");
    b = body_json(&r);
    assert_string_equal(js(b, "channel"), "C123");
    assert_string_equal(js(b, "attachments.0.title"), "<!here> HighCPU");
    assert_string_equal(js(b, "attachments.0.text"), "*critical*");
    assert_string_equal(js(b, "attachments.0.color"), "warning");
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);
    chan_free(c);
}

/* ---------------------------------------------------------------- pagerduty */

static void test_pagerduty(void **state)
{
    struct chan *c;
    json_t *ctx = ctx_new(FIRING), *b;
    struct chan_req r;
    struct chan_outcome o;
    char longev[1500];

    (void)state;
    compile_err("pagerduty", "{}", "config.routing_key");
    compile_err("pagerduty", "{\"routing_key\":\"k\",\"severity\":\"major\"}", "config.severity");
    c = compile_ok("pagerduty",
                   "{\"routing_key\":\"R0UT1NGKEY\",\"url\":\"http://127.0.0.1:9/v2/enqueue\"}");
    render_ok(c, ctx, &r);
    assert_string_equal(r.action, "trigger");
    assert_string_equal(r.url, "http://127.0.0.1:9/v2/enqueue");
    b = body_json(&r);
    assert_string_equal(js(b, "routing_key"), "R0UT1NGKEY");
    assert_string_equal(js(b, "event_action"), "trigger");
    assert_string_equal(js(b, "dedup_key"), "tocsin-" ALERT_ID);
    assert_string_equal(js(b, "payload.summary"), "[FIRING] Critical: HighCPU on web01");
    assert_string_equal(js(b, "payload.source"), "web01");
    assert_string_equal(js(b, "payload.severity"), "critical");
    assert_string_equal(js(b, "payload.timestamp"), "2023-11-14T22:13:20.000Z");
    assert_string_equal(js(b, "payload.component"), "Web");
    assert_string_equal(js(b, "payload.group"), "Performance");
    assert_string_equal(js(b, "payload.class"), "HighCPU");
    assert_string_equal(js(b, "payload.custom_details.environment"), "Production");
    assert_string_equal(js(b, "client"), "tocsin");
    assert_string_equal(js(b, "client_url"), "http://localhost:8072/alerts/" ALERT_ID);
    json_decref(b);
    chan_req_free(&r);

    /* severity mapping and the summary limit (1024 code points) */
    json_object_set_new(json_object_get(ctx, "alert"), "severity", json_string("minor"));
    memset(longev, 'E', sizeof(longev) - 1);
    longev[sizeof(longev) - 1] = '\0';
    json_object_set_new(json_object_get(ctx, "alert"), "event", json_string(longev));
    render_ok(c, ctx, &r);
    b = body_json(&r);
    assert_string_equal(js(b, "payload.severity"), "warning");
    assert_int_equal(json_string_length(jget(b, "payload.summary")), 1023 + 3);
    assert_int_equal(json_string_length(jget(b, "payload.class")), 254 + 3);
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);

    /* acknowledge and resolve: the same dedup_key, no payload */
    ctx = ctx_new(ACK);
    render_ok(c, ctx, &r);
    b = body_json(&r);
    assert_string_equal(js(b, "event_action"), "acknowledge");
    assert_string_equal(js(b, "dedup_key"), "tocsin-" ALERT_ID);
    assert_null(jget(b, "payload"));
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);
    ctx = ctx_new(RESOLVED);
    render_ok(c, ctx, &r);
    assert_string_equal(r.action, "resolve");
    b = body_json(&r);
    assert_string_equal(js(b, "event_action"), "resolve");
    assert_string_equal(js(b, "dedup_key"), "tocsin-" ALERT_ID);
    json_decref(b);
    chan_req_free(&r);

    /* a group: the key is the group's */
    json_object_set_new(json_object_get(ctx, "group"), "key", json_string("{env=\"prod\"}"));
    render_ok(c, ctx, &r);
    b = body_json(&r);
    assert_true(strncmp(js(b, "dedup_key"), "tocsin-g-", 9) == 0);
    assert_int_equal(strlen(js(b, "dedup_key")), 9 + 16);
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);

    check_resp(
        c, NULL, 202, NULL, 0,
        "{\"status\":\"success\",\"message\":\"Event processed\",\"dedup_key\":\"tocsin-x\"}", &o);
    assert_int_equal(o.verdict, CHAN_DELIVERED);
    assert_string_equal(js(o.ticket, "id"), "tocsin-x");
    chan_outcome_clear(&o);
    assert_int_equal(verdict(c, 400, "{\"status\":\"invalid event\"}"), CHAN_FAILED);
    assert_int_equal(verdict(c, 429, NULL), CHAN_RETRY);
    chan_free(c);

    /* dedup_key template and fixed severity */
    c = compile_ok("pagerduty", "{\"routing_key\":\"k\",\"severity\":\"info\","
                                "\"dedup_key\":\"${alert.resource}/${alert.event}\"}");
    ctx = ctx_new(FIRING);
    render_ok(c, ctx, &r);
    assert_string_equal(r.url, "https://events.pagerduty.com/v2/enqueue");
    b = body_json(&r);
    assert_string_equal(js(b, "dedup_key"), "web01/HighCPU");
    assert_string_equal(js(b, "payload.severity"), "info");
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);
    chan_free(c);
}

/* ---------------------------------------------------------------- email */

static char *b64dec(const char *s, size_t n)
{
    char *out = calloc(1, n + 1);
    size_t len = 0;

    assert_int_equal(sodium_base642bin((unsigned char *)out, n, s, n, NULL, &len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    out[len] = '\0';
    return out;
}

static void assert_crlf_lines(const char *m, size_t len)
{
    size_t col = 0;

    for (size_t i = 0; i < len; i++) {
        if (m[i] == '\n') {
            assert_true(i > 0 && m[i - 1] == '\r');
            col = 0;
            continue;
        }
        if (m[i] == '\r')
            assert_true(m[i + 1] == '\n');
        col++;
        assert_true(col <= 998);
    }
}

static void test_email_validation(void **state)
{
    (void)state;
    compile_err("email", "{\"to\":\"a@x.example\",\"host\":\"smtp.x\"}", "config.from");
    compile_err("email", "{\"from\":\"a@x.example\",\"host\":\"smtp.x\"}", "config.to");
    compile_err("email", "{\"from\":\"a@x.example\",\"to\":\"b@x.example\"}", "config.url");
    compile_err("email",
                "{\"from\":\"a@x.example\",\"to\":\"b@x.example, not-an-address\","
                "\"host\":\"smtp.x\"}",
                "config.to[1]");
    compile_err("email",
                "{\"from\":\"a@x.example\",\"to\":[\"b@x.example\",\"c@x.example\"],"
                "\"cc\":[\"d@x.example\",\"e@\"],\"host\":\"smtp.x\"}",
                "config.cc[1]");
    compile_err("email", "{\"from\":\"a@x.example\",\"to\":[\"b@x.example\",\"\"],\"host\":\"h\"}",
                "config.to[1]");
    compile_err("email", "{\"from\":\"nobody\",\"to\":\"b@x.example\",\"host\":\"h\"}",
                "config.from");
    compile_err("email", "{\"from\":\"a@x.example\",\"to\":\"b@x.example\",\"url\":\"http://h\"}",
                "config.url");
    compile_err("email",
                "{\"from\":\"a@x.example\",\"to\":\"b@x.example\","
                "\"url\":\"smtps://h:465\",\"tls\":\"starttls\"}",
                "config.tls");
    compile_err("email",
                "{\"from\":\"a@x.example\",\"to\":\"b@x.example\",\"host\":\"h\","
                "\"tls\":\"ssl\"}",
                "config.tls");
    compile_err("email",
                "{\"from\":\"a@x.example\",\"to\":\"b@x.example\",\"host\":\"h\","
                "\"port\":70000}",
                "config.port");
    compile_err("email",
                "{\"from\":\"a@x.example\",\"to\":\"b@x.example\",\"host\":\"h\","
                "\"subject\":\"${\"}",
                "config.subject");
}

static void test_email_message(void **state)
{
    struct chan *c = compile_ok(
        "email", "{\"host\":\"smtp.example.com\",\"username\":\"u\",\"password\":\"p\","
                 "\"from\":\"Tocsin Alerts <alerts@example.com>\","
                 "\"to\":\"ops@example.com; oncall@example.com\",\"cc\":[\"boss@example.com\"]}");
    json_t *ctx = ctx_new(FIRING);
    struct chan_req r;
    const char *m, *p;
    char *subj;

    (void)state;
    json_object_set_new(json_object_get(ctx, "alert"), "text",
                        json_string("<script>x</script> caf\xc3\xa9 = 100%"));
    json_object_set_new(json_object_get(ctx, "alert"), "event", json_string("Temp\xc3\xa9rature"));
    render_ok(c, ctx, &r);
    assert_true(r.smtp);
    assert_string_equal(r.url, "smtp://smtp.example.com:587");
    assert_true(r.starttls);
    assert_true(r.tls_verify);
    assert_string_equal(r.mail_from, "alerts@example.com");
    assert_int_equal(r.nrcpt, 3);
    assert_string_equal(r.rcpt[0], "ops@example.com");
    assert_string_equal(r.rcpt[1], "oncall@example.com");
    assert_string_equal(r.rcpt[2], "boss@example.com");
    assert_string_equal(r.username, "u");
    assert_string_equal(r.password, "p");
    m = r.body;
    assert_int_equal(strlen(m), r.body_len);
    assert_crlf_lines(m, r.body_len);
    assert_true(strncmp(m, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n", 39) == 0);
    assert_non_null(strstr(m, "\r\nFrom: \"Tocsin Alerts\" <alerts@example.com>\r\n"));
    assert_non_null(strstr(m, "\r\nTo: ops@example.com,\r\n oncall@example.com\r\n"));
    assert_non_null(strstr(m, "\r\nCc: boss@example.com\r\n"));
    assert_non_null(strstr(m, "\r\nMessage-ID: <" NID "."));
    assert_non_null(
        strstr(m, "@example.com>\r\nReferences: <tocsin-" ALERT_ID "@example.com>\r\n"));
    assert_non_null(strstr(m, "\r\nMIME-Version: 1.0\r\n"));
    assert_non_null(strstr(m, "\r\nContent-Type: multipart/alternative; boundary=\"=_tocsin_"));
    /* the subject: encoded words, decoded back to the title */
    p = strstr(m, "\r\nSubject: =?UTF-8?B?");
    assert_non_null(p);
    {
        struct {
            char *s;
            size_t n;
        } acc = {calloc(1, 1), 0};
        p += 11;
        while (strncmp(p, "=?UTF-8?B?", 10) == 0) {
            const char *end = strstr(p, "?=");
            char *d = b64dec(p + 10, (size_t)(end - p - 10));
            assert_true(end - p <= 75);
            acc.s = realloc(acc.s, acc.n + strlen(d) + 1);
            memcpy(acc.s + acc.n, d, strlen(d) + 1);
            acc.n += strlen(d);
            free(d);
            p = end + 2;
            if (strncmp(p, "\r\n ", 3) == 0)
                p += 3;
        }
        subj = acc.s;
    }
    assert_string_equal(subj, "[FIRING] Critical: Temp\xc3\xa9rature on web01");
    free(subj);
    /* the two parts, quoted-printable; the HTML escapes the alert's text */
    assert_non_null(strstr(m, "Content-Type: text/plain; charset=utf-8\r\n"
                              "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                              "<script>x</script> caf=C3=A9 =3D 100%\r\n"));
    assert_non_null(strstr(m, "Content-Type: text/html; charset=utf-8\r\n"));
    assert_non_null(strstr(m, "&lt;script&gt;x&lt;/script&gt; caf=C3=A9 =3D 100%"));
    assert_null(strstr(m, "<script>x</script> caf=C3=A9 =3D 100%</p>"));
    assert_non_null(strstr(m, "\r\n--=_tocsin_"));
    p = strstr(m, "boundary=\"") + 10;
    {
        char close[64];
        snprintf(close, sizeof(close), "\r\n--%.*s--\r\n", (int)(strchr(p, '"') - p), p);
        assert_non_null(strstr(m, close));
        assert_true(strlen(strstr(m, close)) == strlen(close)); /* the end of the message */
    }
    chan_req_free(&r);
    json_decref(ctx);

    /* SMTP verdicts */
    assert_int_equal(verdict(c, 250, NULL), CHAN_DELIVERED);
    assert_int_equal(verdict(c, 0, NULL), CHAN_RETRY);
    assert_int_equal(verdict(c, 421, NULL), CHAN_RETRY);
    assert_int_equal(verdict(c, 451, NULL), CHAN_RETRY);
    assert_int_equal(verdict(c, 550, NULL), CHAN_FAILED);
    assert_int_equal(verdict(c, 535, NULL), CHAN_FAILED);
    chan_free(c);

    /* url forms and tls modes; user templates: subject flattened, html values escaped */
    c = compile_ok("email", "{\"url\":\"smtps://mail.example.com:2465\",\"from\":\"a@example.com\","
                            "\"to\":[\"b@example.com\"],\"subject\":\"${alert.text}\","
                            "\"html\":\"<b>${alert.text}</b>\",\"text\":\"T: ${alert.text}\","
                            "\"skip_verify\":true}");
    ctx = ctx_new(RESOLVED);
    json_object_set_new(json_object_get(ctx, "alert"), "text", json_string("a\r\nBcc: x@y <i>"));
    render_ok(c, ctx, &r);
    assert_string_equal(r.url, "smtps://mail.example.com:2465");
    assert_false(r.starttls);
    assert_false(r.tls_verify);
    assert_null(r.username);
    assert_non_null(strstr(r.body, "\r\nSubject: a  Bcc: x@y <i>\r\n"));
    {
        size_t hlen = (size_t)(strstr(r.body, "\r\n\r\n") - r.body); /* the header block */
        char *head = strndup(r.body, hlen);
        assert_null(strstr(head, "\r\nBcc:"));
        free(head);
    }
    assert_non_null(strstr(r.body, "<b>a\r\nBcc: x@y &lt;i&gt;</b>"));
    assert_crlf_lines(r.body, r.body_len);
    chan_req_free(&r);
    chan_free(c);
    c = compile_ok("email", "{\"host\":\"relay\",\"tls\":\"none\",\"from\":\"a@example.com\","
                            "\"to\":\"b@example.com\"}");
    render_ok(c, ctx, &r);
    assert_string_equal(r.url, "smtp://relay:25");
    assert_false(r.starttls);
    chan_req_free(&r);
    chan_free(c);
    c = compile_ok("email", "{\"host\":\"relay\",\"tls\":\"smtps\",\"from\":\"a@example.com\","
                            "\"to\":\"b@example.com\"}");
    render_ok(c, ctx, &r);
    assert_string_equal(r.url, "smtps://relay:465");
    chan_req_free(&r);
    chan_free(c);
    json_decref(ctx);
}

static void test_email_long_lines(void **state)
{
    struct chan *c = compile_ok("email", "{\"host\":\"h\",\"from\":\"a@example.com\","
                                         "\"to\":\"b@example.com\"}");
    json_t *ctx = ctx_new(FIRING);
    struct chan_req r;
    char *big = malloc(5001);

    (void)state;
    memset(big, 'x', 5000);
    big[5000] = '\0';
    json_object_set_new(json_object_get(ctx, "alert"), "text", json_string(big));
    json_object_set_new(json_object_get(ctx, "alert"), "event", json_string(big));
    render_ok(c, ctx, &r);
    assert_crlf_lines(r.body, r.body_len);
    /* an ASCII subject too long for one line is encoded and folded */
    assert_non_null(strstr(r.body, "\r\nSubject: =?UTF-8?B?"));
    chan_req_free(&r);
    json_decref(ctx);
    chan_free(c);
    free(big);
}

/* ---------------------------------------------------------------- teams, mattermost, discord */

static void test_teams(void **state)
{
    struct chan *c = compile_ok("teams", "{\"url\":\"https://x.webhook.office.com/w/secret\"}");
    json_t *ctx = ctx_new(FIRING), *b;
    struct chan_req r;

    (void)state;
    compile_err("teams", "{\"url\":\"https://x\",\"format\":\"card\"}", "config.format");
    render_ok(c, ctx, &r);
    assert_string_equal(r.url, "https://x.webhook.office.com/w/secret");
    b = body_json(&r);
    assert_string_equal(js(b, "type"), "message");
    assert_string_equal(js(b, "attachments.0.contentType"),
                        "application/vnd.microsoft.card.adaptive");
    assert_true(json_is_null(jget(b, "attachments.0.contentUrl")));
    assert_string_equal(js(b, "attachments.0.content.type"), "AdaptiveCard");
    assert_string_equal(js(b, "attachments.0.content.version"), "1.2");
    assert_string_equal(js(b, "attachments.0.content.body.0.text"),
                        "[FIRING] Critical: HighCPU on web01");
    assert_string_equal(js(b, "attachments.0.content.body.0.color"), "Attention");
    assert_non_null(strstr(js(b, "attachments.0.content.body.1.text"), "Severity: critical"));
    assert_string_equal(js(b, "attachments.0.content.msteams.width"), "full");
    assert_string_equal(js(b, "attachments.0.content.actions.0.url"),
                        "http://localhost:8072/alerts/" ALERT_ID);
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);
    ctx = ctx_new(RESOLVED);
    render_ok(c, ctx, &r);
    b = body_json(&r);
    assert_string_equal(js(b, "attachments.0.content.body.0.color"), "Good");
    json_decref(b);
    chan_req_free(&r);
    chan_free(c);

    c = compile_ok("teams",
                   "{\"url\":\"https://x.webhook.office.com/w/secret\",\"format\":\"messagecard\","
                   "\"title\":\"T ${alert.event}\"}");
    render_ok(c, ctx, &r);
    b = body_json(&r);
    assert_string_equal(js(b, "@type"), "MessageCard");
    assert_string_equal(js(b, "@context"), "http://schema.org/extensions");
    assert_string_equal(js(b, "themeColor"), "2eb886");
    assert_string_equal(js(b, "title"), "T HighCPU");
    assert_string_equal(js(b, "summary"), "T HighCPU");
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);
    chan_free(c);
}

static void test_mattermost(void **state)
{
    struct chan *c =
        compile_ok("mattermost", "{\"url\":\"https://mm.example.com/hooks/abc\","
                                 "\"channel\":\"town-square\",\"icon_emoji\":\":fire:\"}");
    json_t *ctx = ctx_new(FIRING), *b;
    struct chan_req r;

    (void)state;
    compile_err("mattermost", "{}", "config.url");
    render_ok(c, ctx, &r);
    b = body_json(&r);
    assert_string_equal(js(b, "channel"), "town-square");
    assert_string_equal(js(b, "icon_emoji"), ":fire:");
    assert_string_equal(js(b, "attachments.0.color"), "#d00000");
    assert_string_equal(js(b, "attachments.0.title"), "[FIRING] Critical: HighCPU on web01");
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);
    chan_free(c);
}

static size_t cps(const char *s) /* UTF-8 code points */
{
    size_t n = 0;

    for (; s && *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void test_discord(void **state)
{
    struct chan *c =
        compile_ok("discord", "{\"url\":\"https://discord.com/api/webhooks/1/tok\","
                              "\"content\":\"${alert.text}\",\"username\":\"tocsin\"}");
    json_t *ctx = ctx_new(FIRING), *b;
    struct chan_req r;
    struct chan_outcome o;
    const char *ra[] = {"Retry-After: 9"};
    size_t n = 0;
    char *big = malloc(3 * 5000 + 1);

    (void)state;
    for (int i = 0; i < 5000; i++) { /* U+20AC, 3 bytes each */
        memcpy(big + n, "\xe2\x82\xac", 3);
        n += 3;
    }
    big[n] = '\0';
    json_object_set_new(json_object_get(ctx, "alert"), "text", json_string(big));
    json_object_set_new(json_object_get(ctx, "alert"), "event", json_string(big));
    render_ok(c, ctx, &r);
    b = body_json(&r);
    assert_string_equal(js(b, "username"), "tocsin");
    assert_int_equal(json_integer_value(jget(b, "embeds.0.color")), 0x992D22);
    /* limits in code points: 2000 content, 256 title, 4096 description; cut with "…" */
    assert_int_equal(json_string_length(jget(b, "content")), 2000 * 3);
    assert_int_equal(cps(js(b, "embeds.0.title")), 256);
    assert_int_equal(cps(js(b, "embeds.0.description")), 4096);
    assert_non_null(strstr(js(b, "embeds.0.title"), "\xe2\x80\xa6"));
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);
    ctx = ctx_new(RESOLVED);
    render_ok(c, ctx, &r);
    b = body_json(&r);
    assert_int_equal(json_integer_value(jget(b, "embeds.0.color")), 0x2ECC71);
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);
    free(big);

    assert_int_equal(verdict(c, 204, NULL), CHAN_DELIVERED);
    check_resp(c, NULL, 429, ra, 1,
               "{\"message\":\"You are being rate limited.\",\"retry_after\":1.5,\"global\":false}",
               &o);
    assert_int_equal(o.verdict, CHAN_RETRY);
    assert_int_equal(o.retry_after_ms, 1500);
    check_resp(c, NULL, 429, ra, 1, "", &o);
    assert_int_equal(o.retry_after_ms, 9000);
    chan_free(c);
}

/* ---------------------------------------------------------------- telegram */

static void test_telegram(void **state)
{
    struct chan *c;
    json_t *ctx = ctx_new(FIRING), *b;
    struct chan_req r;
    struct chan_outcome o;

    (void)state;
    compile_err("telegram", "{\"chat_id\":1}", "config.token");
    compile_err("telegram", "{\"token\":\"1:A\"}", "config.chat_id");
    compile_err("telegram", "{\"token\":\"1:A/../x\",\"chat_id\":1}", "config.token");
    compile_err("telegram", "{\"token\":\"1:A\",\"chat_id\":[1]}", "config.chat_id");
    c = compile_ok("telegram", "{\"token\":\"123456:ABC-def_9\",\"chat_id\":-100123,"
                               "\"message_thread_id\":7,\"disable_notification\":true,"
                               "\"api_url\":\"http://127.0.0.1:9\"}");
    json_object_set_new(json_object_get(ctx, "alert"), "text", json_string("<b>x</b> & y"));
    render_ok(c, ctx, &r);
    assert_string_equal(r.url, "http://127.0.0.1:9/bot123456:ABC-def_9/sendMessage");
    b = body_json(&r);
    assert_int_equal(json_integer_value(jget(b, "chat_id")), -100123);
    assert_int_equal(json_integer_value(jget(b, "message_thread_id")), 7);
    assert_true(json_is_true(jget(b, "disable_notification")));
    assert_string_equal(js(b, "parse_mode"), "HTML");
    assert_true(strncmp(js(b, "text"), "<b>[FIRING] Critical: HighCPU on web01</b>\n\n", 44) == 0);
    assert_non_null(strstr(js(b, "text"), "&lt;b&gt;x&lt;/b&gt; &amp; y"));
    json_decref(b);
    chan_req_free(&r);
    chan_free(c);

    c = compile_ok("telegram",
                   "{\"token\":\"1:A\",\"chat_id\":\"@ops\",\"text\":\"<i>${alert.text}</i>\"}");
    render_ok(c, ctx, &r);
    assert_string_equal(r.url, "https://api.telegram.org/bot1:A/sendMessage");
    b = body_json(&r);
    assert_string_equal(js(b, "chat_id"), "@ops");
    assert_string_equal(js(b, "text"), "<i>&lt;b&gt;x&lt;/b&gt; &amp; y</i>");
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);

    assert_int_equal(verdict(c, 200, "{\"ok\":true,\"result\":{}}"), CHAN_DELIVERED);
    assert_int_equal(verdict(c, 200, "{\"ok\":false}"), CHAN_FAILED);
    assert_int_equal(
        verdict(
            c, 400,
            "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}"),
        CHAN_FAILED);
    check_resp(c, NULL, 429, NULL, 0,
               "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after "
               "35\",\"parameters\":{\"retry_after\":35}}",
               &o);
    assert_int_equal(o.verdict, CHAN_RETRY);
    assert_int_equal(o.retry_after_ms, 35000);
    chan_free(c);
}

/* ---------------------------------------------------------------- opsgenie */

static void test_opsgenie(void **state)
{
    struct chan *c;
    json_t *ctx = ctx_new(FIRING), *b;
    struct chan_req r;
    struct chan_outcome o;
    char longtext[400];

    (void)state;
    compile_err("opsgenie", "{}", "config.api_key");
    compile_err("opsgenie", "{\"api_key\":\"k\",\"priority\":\"P9\"}", "config.priority");
    compile_err("opsgenie", "{\"api_key\":\"k\",\"responders\":[{\"name\":\"ops\"}]}",
                "config.responders[0].type");
    c = compile_ok(
        "opsgenie",
        "{\"api_key\":\"g3n13\",\"api_url\":\"http://127.0.0.1:9\","
        "\"tags\":\"tocsin, prod\",\"responders\":[{\"name\":\"ops\",\"type\":\"team\"}]}");
    memset(longtext, 'm', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    json_object_set_new(json_object_get(ctx, "alert"), "event", json_string(longtext));
    render_ok(c, ctx, &r);
    assert_string_equal(r.action, "create");
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.url, "http://127.0.0.1:9/v2/alerts");
    assert_string_equal(hdr(&r, "Authorization"), "GenieKey g3n13");
    b = body_json(&r);
    assert_string_equal(js(b, "alias"), "tocsin-" ALERT_ID);
    assert_int_equal(json_string_length(jget(b, "message")), 129 + 3);
    assert_string_equal(js(b, "priority"), "P1");
    assert_string_equal(js(b, "source"), "tocsin");
    assert_string_equal(js(b, "entity"), "web01");
    assert_string_equal(js(b, "tags.0"), "tocsin");
    assert_string_equal(js(b, "tags.1"), "prod");
    assert_string_equal(js(b, "tags.2"), "linux");
    assert_string_equal(js(b, "details.environment"), "Production");
    assert_string_equal(js(b, "details.team"), "ops");
    assert_string_equal(js(b, "responders.0.name"), "ops");
    json_decref(b);
    check_resp(c, &r, 202, NULL, 0,
               "{\"result\":\"Request will be processed\",\"took\":0.2,\"requestId\":\"43a2\"}",
               &o);
    assert_int_equal(o.verdict, CHAN_DELIVERED);
    assert_string_equal(js(o.ticket, "id"), "tocsin-" ALERT_ID);
    assert_string_equal(js(o.ticket, "ref"), "tocsin-" ALERT_ID);
    assert_string_equal(js(o.ticket, "requestId"), "43a2");
    chan_outcome_clear(&o);
    chan_req_free(&r);
    json_decref(ctx);

    ctx = ctx_new(ACK);
    render_ok(c, ctx, &r);
    assert_string_equal(r.url, "http://127.0.0.1:9/v2/alerts/tocsin-" ALERT_ID
                               "/acknowledge?identifierType=alias");
    chan_req_free(&r);
    json_decref(ctx);
    ctx = ctx_new(RESOLVED);
    json_object_set_new(json_object_get(ctx, "alert"), "severity", json_string("warning"));
    render_ok(c, ctx, &r);
    assert_string_equal(r.action, "close");
    assert_string_equal(r.url, "http://127.0.0.1:9/v2/alerts/tocsin-" ALERT_ID
                               "/close?identifierType=alias");
    b = body_json(&r);
    assert_string_equal(js(b, "source"), "tocsin");
    json_decref(b);
    check_resp(c, &r, 202, NULL, 0, "{\"requestId\":\"x\"}", &o);
    assert_null(o.ticket);
    chan_req_free(&r);
    assert_int_equal(verdict(c, 422, "{}"), CHAN_FAILED);
    chan_free(c);

    /* alias template (escaped in the path) and the default API */
    c = compile_ok(
        "opsgenie",
        "{\"api_key\":\"k\",\"alias\":\"${alert.resource}/${alert.event}\",\"priority\":\"P3\"}");
    render_ok(c, ctx, &r);
    assert_string_equal(
        r.url, "https://api.opsgenie.com/v2/alerts/web01%2FHighCPU/close?identifierType=alias");
    chan_req_free(&r);
    json_decref(ctx);
    ctx = ctx_new(FIRING);
    render_ok(c, ctx, &r);
    b = body_json(&r);
    assert_string_equal(js(b, "priority"), "P3");
    assert_string_equal(js(b, "alias"), "web01/HighCPU");
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);
    chan_free(c);
}

/* ---------------------------------------------------------------- servicenow */

static void test_servicenow(void **state)
{
    struct chan *c;
    json_t *ctx = ctx_new(FIRING), *b;
    struct chan_req r;
    struct chan_outcome o;
    char err[256];

    (void)state;
    compile_err("servicenow", "{\"url\":\"https://x.service-now.com\"}", "config.auth");
    compile_err("servicenow",
                "{\"url\":\"https://x\",\"token\":\"t\",\"auth\":{\"username\":\"u\"}}",
                "config.token");
    compile_err("servicenow", "{\"url\":\"https://x\",\"token\":\"t\",\"table\":\"inc/../x\"}",
                "config.table");
    c = compile_ok("servicenow",
                   "{\"url\":\"https://dev1.service-now.com/\",\"auth\":{\"username\":\"admin\","
                   "\"password\":\"pw\"},\"fields\":{\"assignment_group\":\"ops\"}}");
    render_ok(c, ctx, &r);
    assert_string_equal(r.action, "create");
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.url, "https://dev1.service-now.com/api/now/table/incident");
    assert_string_equal(hdr(&r, "Accept"), "application/json");
    assert_string_equal(r.username, "admin");
    assert_string_equal(r.password, "pw");
    b = body_json(&r);
    assert_string_equal(js(b, "short_description"), "[FIRING] Critical: HighCPU on web01");
    assert_non_null(strstr(js(b, "description"), "CPU usage above 95%"));
    assert_string_equal(js(b, "urgency"), "1");
    assert_string_equal(js(b, "impact"), "1");
    assert_string_equal(js(b, "correlation_id"), "tocsin-" ALERT_ID);
    assert_string_equal(js(b, "assignment_group"), "ops");
    json_decref(b);
    chan_req_free(&r);

    check_resp(c, NULL, 201, NULL, 0,
               "{\"result\":{\"sys_id\":\"9d385017c611228701d22104cc95c371\","
               "\"number\":\"INC0010002\"}}",
               &o);
    assert_int_equal(o.verdict, CHAN_DELIVERED);
    assert_string_equal(js(o.ticket, "id"), "INC0010002");
    assert_string_equal(js(o.ticket, "ref"), "9d385017c611228701d22104cc95c371");
    assert_string_equal(
        js(o.ticket, "url"),
        "https://dev1.service-now.com/incident.do?sys_id=9d385017c611228701d22104cc95c371");
    chan_outcome_clear(&o);

    /* with the ticket: updates by sys_id */
    set_ticket(ctx, "INC0010002", "u", "9d385017c611228701d22104cc95c371");
    json_object_set_new(json_object_get(ctx, "alert"), "severity", json_string("warning"));
    render_ok(c, ctx, &r);
    assert_string_equal(r.action, "update");
    assert_string_equal(r.method, "PATCH");
    assert_string_equal(
        r.url,
        "https://dev1.service-now.com/api/now/table/incident/9d385017c611228701d22104cc95c371");
    b = body_json(&r);
    assert_string_equal(js(b, "urgency"), "2");
    assert_string_equal(js(b, "impact"), "3");
    assert_non_null(js(b, "work_notes"));
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);

    ctx = ctx_new(RESOLVED);
    assert_int_equal(chan_render(c, ctx, NOW, &r, err, sizeof(err)), TOCSIN_OK);
    assert_true(r.noop); /* nothing created: nothing to resolve */
    assert_non_null(strstr(err, "no ticket"));
    chan_req_free(&r);
    set_ticket(ctx, "INC0010002", "u", "9d38");
    render_ok(c, ctx, &r);
    assert_string_equal(r.action, "resolve");
    assert_string_equal(r.method, "PATCH");
    assert_string_equal(r.url, "https://dev1.service-now.com/api/now/table/incident/9d38");
    b = body_json(&r);
    assert_string_equal(js(b, "state"), "6");
    assert_string_equal(js(b, "close_code"), "Solved (Permanently)");
    assert_non_null(js(b, "close_notes"));
    json_decref(b);
    chan_req_free(&r);
    chan_free(c);

    c = compile_ok("servicenow",
                   "{\"url\":\"https://dev1.service-now.com\",\"token\":\"oauth\","
                   "\"close_code\":\"Closed/Resolved by Caller\",\"resolved_state\":\"7\","
                   "\"close_notes\":\"auto: ${alert.event}\"}");
    render_ok(c, ctx, &r);
    assert_string_equal(hdr(&r, "Authorization"), "Bearer oauth");
    assert_null(r.username);
    b = body_json(&r);
    assert_string_equal(js(b, "state"), "7");
    assert_string_equal(js(b, "close_code"), "Closed/Resolved by Caller");
    assert_string_equal(js(b, "close_notes"), "auto: HighCPU");
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);
    chan_free(c);
}

/* ---------------------------------------------------------------- jira */

static void test_jira(void **state)
{
    struct chan *c;
    json_t *ctx = ctx_new(FIRING), *b;
    struct chan_req r;
    struct chan_outcome o;
    char err[256];

    (void)state;
    compile_err("jira", "{\"api_url\":\"https://j.example/rest/api/2/\",\"token\":\"t\"}",
                "config.project");
    compile_err("jira", "{\"api_url\":\"https://j.example/\",\"project\":\"OPS\",\"token\":\"t\"}",
                "config.api_url");
    compile_err("jira",
                "{\"api_url\":\"https://j.example/rest/api/2/\",\"project\":\"OPS\","
                "\"token\":\"t\",\"resolve_transition\":\"Done\"}",
                "config.resolve_transition");
    c = compile_ok("jira",
                   "{\"api_url\":\"https://acme.atlassian.net/rest/api/2/\",\"project\":\"OPS\","
                   "\"issue_type\":\"Incident\",\"auth\":{\"username\":\"me@acme.example\","
                   "\"password\":\"apitoken\"},\"labels\":[\"tocsin\"],\"priority\":\"High\"}");
    render_ok(c, ctx, &r);
    assert_string_equal(r.action, "create");
    assert_string_equal(r.url, "https://acme.atlassian.net/rest/api/2/issue");
    assert_string_equal(r.username, "me@acme.example");
    b = body_json(&r);
    assert_string_equal(js(b, "fields.project.key"), "OPS");
    assert_string_equal(js(b, "fields.issuetype.name"), "Incident");
    assert_string_equal(js(b, "fields.summary"), "[FIRING] Critical: HighCPU on web01");
    assert_string_equal(js(b, "fields.labels.0"), "tocsin");
    assert_string_equal(js(b, "fields.labels.1"), "ALERT{" ALERT_ID "}");
    assert_string_equal(js(b, "fields.priority.name"), "High");
    assert_non_null(strstr(js(b, "fields.description"), "Environment: Production"));
    json_decref(b);
    chan_req_free(&r);
    check_resp(c, NULL, 201, NULL, 0,
               "{\"id\":\"10000\",\"key\":\"OPS-24\",\"self\":"
               "\"https://acme.atlassian.net/rest/api/2/issue/10000\"}",
               &o);
    assert_string_equal(js(o.ticket, "id"), "OPS-24");
    assert_string_equal(js(o.ticket, "url"), "https://acme.atlassian.net/browse/OPS-24");
    assert_string_equal(js(o.ticket, "ref"), "OPS-24");
    chan_outcome_clear(&o);

    set_ticket(ctx, "OPS-24", "u", "OPS-24");
    render_ok(c, ctx, &r);
    assert_string_equal(r.action, "comment");
    assert_string_equal(r.url, "https://acme.atlassian.net/rest/api/2/issue/OPS-24/comment");
    b = body_json(&r);
    assert_true(strncmp(js(b, "body"), "[FIRING]", 8) == 0);
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);

    ctx = ctx_new(RESOLVED);
    assert_int_equal(chan_render(c, ctx, NOW, &r, err, sizeof(err)), TOCSIN_OK);
    assert_true(r.noop);
    chan_req_free(&r);
    set_ticket(ctx, "OPS-24", "u", "OPS-24");
    render_ok(c, ctx, &r);
    assert_string_equal(r.action, "comment");
    b = body_json(&r);
    assert_true(strncmp(js(b, "body"), "[RESOLVED]", 10) == 0);
    json_decref(b);
    chan_req_free(&r);
    chan_free(c);

    c = compile_ok("jira",
                   "{\"api_url\":\"https://jira.example/rest/api/2\",\"project\":\"OPS\","
                   "\"token\":\"pat\",\"resolve_transition\":\"31\",\"comment\":\"${status}\"}");
    render_ok(c, ctx, &r);
    assert_string_equal(r.action, "transition");
    assert_string_equal(r.url, "https://jira.example/rest/api/2/issue/OPS-24/transitions");
    assert_string_equal(hdr(&r, "Authorization"), "Bearer pat");
    b = body_json(&r);
    assert_string_equal(js(b, "transition.id"), "31");
    assert_string_equal(js(b, "update.comment.0.add.body"), "resolved");
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);
    chan_free(c);
}

/* ---------------------------------------------------------------- splunk-hec, logstash */

static void test_splunk_hec(void **state)
{
    struct chan *c;
    json_t *ctx = ctx_new(FIRING), *b;
    struct chan_req r;

    (void)state;
    compile_err("splunk-hec", "{\"url\":\"https://s:8088/services/collector/event\"}",
                "config.token");
    compile_err("splunk-hec", "{\"url\":\"https://s\",\"token\":\"t\",\"fields\":{\"a\":1}}",
                "config.fields.a");
    c = compile_ok("splunk-hec",
                   "{\"url\":\"https://splunk.example:8088/services/collector/event\","
                   "\"token\":\"a1b2-c3\",\"index\":\"alerts\",\"fields\":{\"dc\":\"eu1\"}}");
    json_object_set_new(json_object_get(ctx, "alert"), "lastReceiveTime",
                        json_string("2023-11-14T22:13:20.123Z"));
    render_ok(c, ctx, &r);
    assert_string_equal(r.url, "https://splunk.example:8088/services/collector/event");
    assert_string_equal(hdr(&r, "Authorization"), "Splunk a1b2-c3");
    assert_string_equal(hdr(&r, "Content-Type"), "application/json");
    assert_non_null(strstr(r.body, "\"time\":1700000000.123,"));
    b = body_json(&r);
    assert_string_equal(js(b, "host"), "web01");
    assert_string_equal(js(b, "source"), "tocsin");
    assert_string_equal(js(b, "sourcetype"), "tocsin:alert");
    assert_string_equal(js(b, "index"), "alerts");
    assert_string_equal(js(b, "event.alert.id"), ALERT_ID);
    assert_string_equal(js(b, "event.status"), "firing");
    assert_string_equal(js(b, "fields.dc"), "eu1");
    assert_string_equal(js(b, "fields.severity"), "critical");
    assert_string_equal(js(b, "fields.environment"), "Production");
    assert_string_equal(js(b, "fields.status"), "firing");
    json_decref(b);
    chan_req_free(&r);
    chan_free(c);

    c = compile_ok("splunk-hec",
                   "{\"url\":\"https://s/services/collector/event\",\"token\":\"t\","
                   "\"event\":\"${alert.event} ${status}\",\"host\":\"${alert.origin}\"}");
    render_ok(c, ctx, &r);
    b = body_json(&r);
    assert_string_equal(js(b, "event"), "HighCPU firing");
    assert_string_equal(js(b, "host"), "prometheus/eu1");
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);
    assert_int_equal(verdict(c, 503, "{\"text\":\"Server is busy\",\"code\":9}"), CHAN_RETRY);
    assert_int_equal(verdict(c, 403, "{\"text\":\"Invalid token\",\"code\":4}"), CHAN_FAILED);
    chan_free(c);
}

static void test_logstash(void **state)
{
    struct chan *c = compile_ok("logstash", "{\"url\":\"http://ls.example:8080\","
                                            "\"auth\":{\"username\":\"l\",\"password\":\"s\"}}");
    json_t *ctx = ctx_new(RESOLVED), *b;
    struct chan_req r;

    (void)state;
    compile_err("logstash", "{\"url\":\"http://ls\",\"auth\":{}}", "config.auth.username");
    render_ok(c, ctx, &r);
    assert_string_equal(r.url, "http://ls.example:8080");
    assert_string_equal(r.username, "l");
    assert_string_equal(hdr(&r, "X-Tocsin-Notification"), NID);
    b = body_json(&r);
    assert_true(json_equal(b, ctx));
    json_decref(b);
    chan_req_free(&r);
    json_decref(ctx);
    assert_int_equal(verdict(c, 200, "ok"), CHAN_DELIVERED);
    assert_int_equal(verdict(c, 429, NULL), CHAN_RETRY);
    chan_free(c);
}

/* ---------------------------------------------------------------- secrets */

static void test_cut_bytes(void **state)
{
    char *c;

    (void)state;
    c = ch_cut_bytes("short", 16); /* fits: unchanged */
    assert_string_equal(c, "short");
    free(c);
    c = ch_cut_bytes("abcdefghijklmnop", 10); /* 7 bytes and the ellipsis */
    assert_string_equal(c, "abcdefg\xe2\x80\xa6");
    free(c);
    c = ch_cut_bytes("abcdef\xc3\xa9xyz", 10); /* not inside the two bytes of U+00E9 */
    assert_string_equal(c, "abcdef\xe2\x80\xa6");
    free(c);
    c = ch_cut_bytes("abc &gt; x", 9); /* not inside an entity */
    assert_string_equal(c, "abc \xe2\x80\xa6");
    free(c);
    c = ch_cut_bytes("ab &lt; more text", 12); /* a whole entity stays */
    assert_string_equal(c, "ab &lt; m\xe2\x80\xa6");
    free(c);
}

/* Every type renders an alert near the largest a request takes by default (http.max_body 1m):
 * text, value and 8 annotations of 64 KiB, 16 attributes of 16 KiB, about 0.9 MB. A default
 * that put a field past what a request may carry would fail such an alert for good at its
 * first attempt, and nobody would be told. */
static void test_every_type_renders_the_largest_alert(void **state)
{
    static const char *const cfgs[][2] = {
        {"webhook", "{\"url\":\"https://x.example/h\"}"},
        {"slack", "{\"url\":\"https://hooks.slack.com/services/T/B/x\"}"},
        {"teams", "{\"url\":\"https://x.webhook.office.com/w/secret\"}"},
        {"mattermost", "{\"url\":\"https://mm.example.com/hooks/abc\"}"},
        {"discord", "{\"url\":\"https://discord.com/api/webhooks/1/tok\"}"},
        {"telegram", "{\"token\":\"123456:ABC-def_9\",\"chat_id\":-100123}"},
        {"email", "{\"url\":\"smtps://mail.example.com:2465\",\"from\":\"a@example.com\","
                  "\"to\":[\"b@example.com\"]}"},
        {"pagerduty", "{\"routing_key\":\"k\"}"},
        {"opsgenie", "{\"api_key\":\"k\"}"},
        {"servicenow", "{\"url\":\"https://dev1.service-now.com/\",\"token\":\"t\"}"},
        {"jira", "{\"api_url\":\"https://acme.atlassian.net/rest/api/2/\",\"project\":\"OPS\","
                 "\"token\":\"t\"}"},
        {"splunk-hec", "{\"url\":\"https://splunk.example:8088/services/collector/event\","
                       "\"token\":\"a1b2-c3\"}"},
        {"logstash", "{\"url\":\"http://ls.example:8080\"}"},
    };
    char *big = malloc(65536), *attr = malloc(16384);
    json_t *ctx = ctx_new(FIRING), *a = json_object_get(ctx, "alert");
    json_t *ann = json_object(), *attrs = json_object();

    (void)state;
    assert_non_null(big);
    assert_non_null(attr);
    memset(big, 'x', 65535);
    big[65535] = '\0';
    memset(attr, 'y', 16383 - 2);
    attr[16381] = '\0';
    json_object_set_new(a, "text", json_string(big));
    json_object_set_new(a, "value", json_string(big));
    for (int i = 0; i < 16; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%02d", i);
        if (i < 8)
            json_object_set_new(ann, k, json_string(big));
        json_object_set_new(attrs, k, json_string(attr));
    }
    json_object_set_new(a, "annotations", ann);
    json_object_set_new(a, "attributes", attrs);
    assert_int_equal(sizeof(cfgs) / sizeof(cfgs[0]), 13); /* every type (chan_types) */
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        struct chan *c = compile_ok(cfgs[i][0], cfgs[i][1]);
        struct chan_req r;
        char err[256], cut[32];
        int rc = chan_render(c, ctx, NOW, &r, err, sizeof(err));
        if (rc)
            fail_msg("%s: the largest alert does not render: %s", cfgs[i][0], err);
        snprintf(cut, sizeof(cut), " %s ", cfgs[i][0]);
        assert_true(r.body_len <= CHAN_MAX_BODY);
        /* the alert's text is there; where it did not fit, it was cut with an ellipsis */
        assert_non_null(memmem(r.body, r.body_len, "xxxxxxxxxxxxxxxx", 16));
        if (strstr(" slack teams mattermost discord telegram opsgenie servicenow jira ", cut))
            assert_non_null(memmem(r.body, r.body_len, "\xe2\x80\xa6", 3));
        if (!strcmp(cfgs[i][0], "teams")) /* Teams refuses messages over 28 KB */
            assert_true(r.body_len <= 28 * 1024);
        chan_req_free(&r);
        chan_free(c);
    }
    json_decref(ctx);
    free(big);
    free(attr);
}

static bool has_key(const char *type, const char *key)
{
    const char *const *k = chan_secret_keys(type);

    for (; k && *k; k++)
        if (strcmp(*k, key) == 0)
            return true;
    return false;
}

static void test_secrets_and_masking(void **state)
{
    json_t *cfg, *m;
    char out[256];

    (void)state;
    assert_true(has_key("slack", "url"));
    assert_true(has_key("slack", "token"));
    assert_true(has_key("teams", "url"));
    assert_true(has_key("mattermost", "url"));
    assert_true(has_key("discord", "url"));
    assert_true(has_key("telegram", "token"));
    assert_true(has_key("webhook", "auth.password"));
    assert_true(has_key("webhook", "headers.*"));
    assert_true(has_key("email", "password"));
    assert_true(has_key("pagerduty", "routing_key"));
    assert_true(has_key("opsgenie", "api_key"));
    assert_true(has_key("servicenow", "token"));
    assert_true(has_key("jira", "auth.password"));
    assert_true(has_key("splunk-hec", "token"));
    assert_true(has_key("logstash", "auth.password"));
    assert_false(has_key("webhook", "url"));
    assert_null(chan_secret_keys("nope"));
    /* the headers' rule is util/secrets.h's, the one of the triggers' header lists: a signature
     * or a session header is a secret here too */
    cfg = json_pack("{s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s}}", "url", "https://h.example/x",
                    "auth", "username", "u", "password", "hunter2", "headers", "Authorization",
                    "Bearer abc", "X-Env", "prod", "X-Hub-Signature-256", "sha256=9f",
                    "X-Session-Id", "s1", "Ocp-Apim-Subscription-Key", "k1");
    m = chan_mask_config("webhook", cfg);
    assert_string_equal(js(m, "url"), "https://h.example/x");
    assert_string_equal(js(m, "auth.username"), "u");
    assert_string_equal(js(m, "auth.password"), CHAN_MASK);
    assert_string_equal(js(m, "headers.Authorization"), CHAN_MASK);
    assert_string_equal(js(m, "headers.X-Env"), "prod");
    assert_string_equal(js(m, "headers.X-Hub-Signature-256"), CHAN_MASK);
    assert_string_equal(js(m, "headers.X-Session-Id"), CHAN_MASK);
    assert_string_equal(js(m, "headers.Ocp-Apim-Subscription-Key"), CHAN_MASK);
    assert_string_equal(js(cfg, "auth.password"), "hunter2"); /* a copy */
    json_decref(m);
    json_decref(cfg);
    cfg = json_pack("{s:s,s:s}", "url", "https://hooks.slack.com/services/T/B/X", "channel", "#c");
    m = chan_mask_config("slack", cfg);
    assert_string_equal(js(m, "url"), CHAN_MASK);
    assert_string_equal(js(m, "channel"), "#c");
    assert_null(jget(m, "token")); /* absent stays absent */
    json_decref(m);
    json_decref(cfg);

    assert_string_equal(
        chan_mask_url("slack", "https://hooks.slack.com/services/T01/B02/abcdef", out, sizeof(out)),
        "https://hooks.slack.com/services/" CHAN_MASK "/" CHAN_MASK "/" CHAN_MASK);
    assert_string_equal(chan_mask_url("telegram", "https://api.telegram.org/bot123:ABC/sendMessage",
                                      out, sizeof(out)),
                        "https://api.telegram.org/" CHAN_MASK "/" CHAN_MASK);
    assert_string_equal(
        chan_mask_url("webhook", "https://u:pw@h.example:8443/api/v1/hook?token=abc&x=1#f", out,
                      sizeof(out)),
        "https://u:" CHAN_MASK "@h.example:8443/api/v1/hook?token=" CHAN_MASK "&x=" CHAN_MASK);
    assert_string_equal(
        chan_mask_url("webhook", "http://h/a/0123456789abcdef0123456789/b", out, sizeof(out)),
        "http://h/a/" CHAN_MASK "/b");
    assert_string_equal(chan_mask_url("webhook", "http://h", out, sizeof(out)), "http://h");
    assert_string_equal(chan_mask_url("webhook", "garbage", out, sizeof(out)), CHAN_MASK);
    chan_mask_url("webhook", "https://h.example/a/b/c", out, 10);
    assert_string_equal(out, "https://h");
}

/* ---------------------------------------------------------------- docs examples */

static void test_docs_examples(void **state)
{
    FILE *f = fopen("docs/channels.md", "r");
    char *doc, *p;
    long n;
    size_t count = 0;
    bool seen[13] = {false};

    (void)state;
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    doc = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(doc, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    for (p = doc; (p = strstr(p, "```json channel-example\n")); count++) {
        char *start = p + 24, *end = strstr(start, "\n```");
        json_error_t je;
        json_t *j;
        const char *type;
        struct chan *c;

        assert_non_null(end);
        j = json_loadb(start, (size_t)(end - start), 0, &je);
        if (!j)
            fail_msg("docs/channels.md example %zu: %s (line %d)", count, je.text, je.line);
        type = json_string_value(json_object_get(j, "type"));
        assert_non_null(type);
        {
            char *cfg = json_dumps(json_object_get(j, "config"), 0);
            assert_non_null(cfg);
            c = compile_ok_id("example", type, cfg);
            free(cfg);
        }
        for (size_t i = 0; chan_types()[i]; i++)
            if (!strcmp(chan_types()[i], type))
                seen[i] = true;
        chan_free(c);
        json_decref(j);
        p = end;
    }
    for (size_t i = 0; i < 13; i++)
        if (!seen[i])
            fail_msg("docs/channels.md has no example for %s", chan_types()[i]);
    free(doc);
}

/* ---------------------------------------------------------------- creq */

struct one_srv {
    int fd, port;
    pthread_t th;
    bool smtp;
    const char *reply; /* HTTP: the whole response */
    char got[65536];
    size_t len;
};

static void srv_read_http(int c, struct one_srv *s)
{
    size_t want = 0;
    char *he = NULL;

    while (s->len < sizeof(s->got) - 1) {
        ssize_t r = recv(c, s->got + s->len, sizeof(s->got) - 1 - s->len, 0);
        if (r <= 0)
            break;
        s->len += (size_t)r;
        s->got[s->len] = '\0';
        if (!he && (he = strstr(s->got, "\r\n\r\n"))) {
            char *cl = strcasestr(s->got, "\r\ncontent-length:");
            want = (size_t)(he + 4 - s->got);
            if (cl && cl < he)
                want += strtoul(cl + 17, NULL, 10);
        }
        if (he && s->len >= want)
            break;
    }
}

static bool read_line(int c, char *line, size_t cap)
{
    size_t n = 0;

    while (n + 1 < cap) {
        char ch;
        if (recv(c, &ch, 1, 0) != 1)
            return false;
        line[n++] = ch;
        if (ch == '\n')
            break;
    }
    line[n] = '\0';
    return true;
}

static void say(int c, const char *s)
{
    assert_true(send(c, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s));
}

/* A minimal SMTP dialogue; records every line received. */
static void srv_smtp(int c, struct one_srv *s)
{
    char line[2048];
    bool data = false;

    say(c, "220 test ESMTP\r\n");
    while (read_line(c, line, sizeof(line))) {
        size_t n = strlen(line);
        if (s->len + n < sizeof(s->got)) {
            memcpy(s->got + s->len, line, n + 1);
            s->len += n;
        }
        if (data) {
            if (strcmp(line, ".\r\n") == 0) {
                data = false;
                say(c, "250 2.0.0 queued\r\n");
            }
        } else if (!strncasecmp(line, "EHLO", 4)) {
            say(c, "250 test\r\n");
        } else if (!strncasecmp(line, "DATA", 4)) {
            data = true;
            say(c, "354 go on\r\n");
        } else if (!strncasecmp(line, "QUIT", 4)) {
            say(c, "221 bye\r\n");
            break;
        } else {
            say(c, "250 OK\r\n");
        }
    }
}

static void *srv_main(void *ud)
{
    struct one_srv *s = ud;
    struct timeval tv = {.tv_sec = 10};
    int c = accept(s->fd, NULL, NULL);

    if (c < 0)
        return NULL;
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (s->smtp) {
        srv_smtp(c, s);
    } else {
        srv_read_http(c, s);
        say(c, s->reply);
    }
    close(c);
    return NULL;
}

static void srv_start(struct one_srv *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);

    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 4), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct one_srv *s)
{
    pthread_join(s->th, NULL);
    close(s->fd);
}

static void test_creq_refuses(void **state)
{
    CURL *e = curl_easy_init();
    struct creq_xfer x;
    struct chan_req r;
    char *hs[] = {"X-A: ok", "X-B: bad\r\nInjected: 1"};
    char *rc1[] = {"a@b"};
    char err[128];

    (void)state;
    creq_xfer_init(&x);
    memset(&r, 0, sizeof(r));
    r.noop = true;
    assert_int_equal(creq_setup(e, &r, &x, err, sizeof(err)), TOCSIN_EINVAL);
    r.noop = false;
    r.method = "POST";
    r.url = "ftp://h/x";
    assert_int_equal(creq_setup(e, &r, &x, err, sizeof(err)), TOCSIN_EINVAL);
    r.url = "http://h/x";
    r.method = "PO ST";
    assert_int_equal(creq_setup(e, &r, &x, err, sizeof(err)), TOCSIN_EINVAL);
    r.method = "POST";
    r.headers = hs;
    r.nheaders = 2;
    assert_int_equal(creq_setup(e, &r, &x, err, sizeof(err)), TOCSIN_EINVAL);
    r.nheaders = 1;
    assert_int_equal(creq_setup(e, &r, &x, err, sizeof(err)), TOCSIN_OK);
    r.headers = NULL;
    r.nheaders = 0;
    r.smtp = true;
    r.url = "http://h";
    assert_int_equal(creq_setup(e, &r, &x, err, sizeof(err)), TOCSIN_EINVAL);
    r.url = "smtp://h:25";
    r.mail_from = "a@b";
    assert_int_equal(creq_setup(e, &r, &x, err, sizeof(err)), TOCSIN_EINVAL); /* no rcpt */
    r.rcpt = rc1;
    r.nrcpt = 1;
    r.mail_from = "a@b>\r\nRCPT TO:<c@d";
    assert_int_equal(creq_setup(e, &r, &x, err, sizeof(err)), TOCSIN_EINVAL);
    r.mail_from = "a@b";
    assert_int_equal(creq_setup(e, &r, &x, err, sizeof(err)), TOCSIN_OK);
    creq_xfer_clear(&x);
    curl_easy_cleanup(e);
}

static void test_creq_http_transfer(void **state)
{
    struct one_srv s = {.reply = "HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nX-Many: a\r\n"
                                 "Content-Length: 9\r\nConnection: close\r\n\r\nslow down"};
    struct chan *c;
    struct chan_req r;
    struct chan_resp resp;
    struct chan_outcome o;
    struct creq_xfer x;
    json_t *ctx = ctx_new(FIRING);
    char cfg[256], err[128], *eff = NULL;
    CURL *e = curl_easy_init();

    (void)state;
    srv_start(&s);
    snprintf(cfg, sizeof(cfg),
             "{\"url\":\"http://127.0.0.1:%d/hook\",\"auth\":{\"username\":"
             "\"u\",\"password\":\"p\"},\"headers\":{\"X-Env\":\"${alert.environment}\"}}",
             s.port);
    c = compile_ok("webhook", cfg);
    render_ok(c, ctx, &r);
    creq_xfer_init(&x);
    assert_int_equal(creq_setup(e, &r, &x, err, sizeof(err)), TOCSIN_OK);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &eff);
    assert_non_null(strstr(eff, "/hook"));
    creq_response(e, &x, &resp);
    assert_int_equal(resp.status, 429);
    assert_int_equal(resp.nheaders, 4);
    assert_string_equal(resp.headers[0], "Retry-After: 7");
    assert_int_equal(resp.body_len, 9);
    assert_memory_equal(resp.body, "slow down", 9);
    assert_int_equal(chan_check(c, &r, &resp, NOW, &o), TOCSIN_OK);
    assert_int_equal(o.verdict, CHAN_RETRY);
    assert_int_equal(o.retry_after_ms, 7000);
    srv_stop(&s);
    /* what the server saw */
    assert_true(strncmp(s.got, "POST /hook HTTP/1.1\r\n", 21) == 0);
    assert_non_null(strstr(s.got, "\r\nAuthorization: Basic dTpw\r\n"));
    assert_non_null(strstr(s.got, "\r\nX-Env: Production\r\n"));
    assert_non_null(strstr(s.got, "\r\nIdempotency-Key: " NID "\r\n"));
    assert_non_null(strstr(s.got, "\r\nUser-Agent: tocsin/"));
    assert_non_null(strstr(s.got, "\r\nContent-Type: application/json\r\n"));
    assert_null(strstr(s.got, "Expect:"));
    assert_non_null(strstr(s.got, "\r\n\r\n{\"alert\":{\"id\":\"" ALERT_ID "\""));
    creq_xfer_clear(&x);
    chan_req_free(&r);
    json_decref(ctx);
    chan_free(c);
    curl_easy_cleanup(e);
}

static void test_creq_smtp_transfer(void **state)
{
    struct one_srv s = {.smtp = true};
    struct chan *c;
    struct chan_req r;
    struct chan_resp resp;
    struct chan_outcome o;
    struct creq_xfer x;
    json_t *ctx = ctx_new(FIRING);
    char cfg[256], err[128];
    CURL *e = curl_easy_init();
    const char *data;

    (void)state;
    srv_start(&s);
    snprintf(cfg, sizeof(cfg),
             "{\"host\":\"127.0.0.1\",\"port\":%d,\"tls\":\"none\","
             "\"from\":\"alerts@example.com\",\"to\":\"a@example.com\","
             "\"cc\":\"b@example.com\"}",
             s.port);
    c = compile_ok("email", cfg);
    json_object_set_new(json_object_get(ctx, "alert"), "text", json_string(".leading dot\nline"));
    render_ok(c, ctx, &r);
    creq_xfer_init(&x);
    assert_int_equal(creq_setup(e, &r, &x, err, sizeof(err)), TOCSIN_OK);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    creq_response(e, &x, &resp);
    assert_int_equal(chan_check(c, &r, &resp, NOW, &o), TOCSIN_OK);
    assert_int_equal(o.verdict, CHAN_DELIVERED);
    assert_true(resp.status >= 200 && resp.status < 300);
    curl_easy_cleanup(e); /* sends QUIT */
    srv_stop(&s);
    assert_non_null(strstr(s.got, "MAIL FROM:<alerts@example.com>"));
    assert_non_null(strstr(s.got, "RCPT TO:<a@example.com>\r\n"));
    assert_non_null(strstr(s.got, "RCPT TO:<b@example.com>\r\n"));
    data = strstr(s.got, "DATA\r\n");
    assert_non_null(data);
    assert_non_null(strstr(data, "\r\nSubject: [FIRING] Critical: HighCPU on web01\r\n"));
    assert_non_null(strstr(data, "\r\n..leading dot\r\n")); /* dot-stuffed by libcurl */
    assert_non_null(strstr(data, "\r\n.\r\nQUIT"));
    creq_xfer_clear(&x);
    chan_req_free(&r);
    json_decref(ctx);
    chan_free(c);
}

/* Which channels keep tickets (their notifications of one change go one at a time). */
static void test_keeps_tickets(void **state)
{
    struct {
        const char *type, *cfg;
        bool keeps;
    } cases[] = {
        {"webhook", "{\"url\":\"http://x.example/\"}", false},
        {"webhook", "{\"url\":\"http://x.example/\",\"declare_ticket\":{\"ticket_id\":\"id\"}}",
         true},
        {"slack", "{\"url\":\"https://hooks.slack.com/services/T/B/x\"}", false},
        {"servicenow",
         "{\"url\":\"https://dev1.service-now.com/\",\"auth\":{\"username\":\"a\","
         "\"password\":\"p\"}}",
         true},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct chan *c = compile_ok(cases[i].type, cases[i].cfg);
        assert_int_equal(chan_keeps_tickets(c), cases[i].keeps);
        chan_free(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_and_common_fields),
        cmocka_unit_test(test_send_resolved_false_is_noop),
        cmocka_unit_test(test_generic_verdicts),
        cmocka_unit_test(test_webhook_validation),
        cmocka_unit_test(test_webhook_render),
        cmocka_unit_test(test_webhook_declare_ticket),
        cmocka_unit_test(test_slack),
        cmocka_unit_test(test_pagerduty),
        cmocka_unit_test(test_email_validation),
        cmocka_unit_test(test_email_message),
        cmocka_unit_test(test_email_long_lines),
        cmocka_unit_test(test_teams),
        cmocka_unit_test(test_mattermost),
        cmocka_unit_test(test_discord),
        cmocka_unit_test(test_telegram),
        cmocka_unit_test(test_opsgenie),
        cmocka_unit_test(test_servicenow),
        cmocka_unit_test(test_jira),
        cmocka_unit_test(test_splunk_hec),
        cmocka_unit_test(test_logstash),
        cmocka_unit_test(test_cut_bytes),
        cmocka_unit_test(test_every_type_renders_the_largest_alert),
        cmocka_unit_test(test_secrets_and_masking),
        cmocka_unit_test(test_docs_examples),
        cmocka_unit_test(test_creq_refuses),
        cmocka_unit_test(test_creq_http_transfer),
        cmocka_unit_test(test_creq_smtp_transfer),
        cmocka_unit_test(test_keeps_tickets),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
