/* Tests for core/trigger: validation of Gravitee AE triggers (the integration guide's example
 * first), errors naming the offending field with its full path, tocsin's extensions
 * (conditionsOperator, resolveAfter, notifyOnResolve), the derived fields, and the stored JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/trigger.h"
#include "template/tmpl.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/tz.h"

#define NOW 1700000000000LL

/* The trigger of AE's integration guide, "Response time Threshold". */
static const char *const ae_trigger =
    "{\"id\":\"response-time-threshold-id\",\"name\":\"Response time Threshold\","
    "\"source\":\"REQUEST\",\"enabled\":true,"
    "\"conditions\":[{\"property\":\"response.response_time\",\"operator\":\"LT\","
    "\"threshold\":1500.0,\"type\":\"THRESHOLD\"}],"
    "\"dampening\":{\"mode\":\"STRICT_COUNT\",\"trueEvaluations\":1},"
    "\"notifications\":[{\"type\":\"webhook-notifier\",\"configuration\":{"
    "\"url\":\"http://localhost:8080/webhook\",\"method\":\"POST\",\"useSystemProxy\":false,"
    "\"headers\":[{\"name\":\"Content-Type\",\"value\":\"text/plain\"}],"
    "\"body\":\"${alert.id} - ${alert.name} - ${alert.source} - ${alert.description} - "
    "${alert.severity} - ${notification.message}\"}}]}";

/* ---- helpers ---- */

static const struct trigger_env env = {.tz_lookup = trigger_tz_lookup, .tz_ud = NULL};

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);

    if (!j)
        fail_msg("bad test JSON: %s (%s)", je.text, text);
    return j;
}

static int parse(const char *text, struct trigger **t, struct verr *err)
{
    json_t *j = load(text);
    int rc;

    memset(err, 0, sizeof(*err));
    rc = trigger_parse(j, &env, NOW, t, err);
    json_decref(j);
    return rc;
}

static struct trigger *parse_ok(const char *text)
{
    struct trigger *t = NULL;
    struct verr err;

    if (parse(text, &t, &err) != TOCSIN_OK)
        fail_msg("parse failed: %s: %s (%s)", err.field, err.msg, text);
    assert_non_null(t);
    return t;
}

static void parse_err(const char *text, const char *field)
{
    struct trigger *t = (struct trigger *)1;
    struct verr err;

    if (parse(text, &t, &err) != TOCSIN_EINVAL)
        fail_msg("expected an error on '%s' for %s", field, text);
    assert_null(t);
    if (strcmp(err.field, field) != 0)
        fail_msg("error on '%s' (%s), expected '%s', for %s", err.field, err.msg, field, text);
    assert_true(strlen(err.msg) > 0);
    assert_int_equal(err.status, 400);
}

/* A trigger around one condition / extra members. `extra` is inserted as is (",..." or ""). */
static char *with(const char *conditions, const char *extra)
{
    struct buf b;

    buf_init(&b, 1 << 16);
    buf_printf(&b, "{\"id\":\"t1\",\"name\":\"T one\",\"source\":\"REQUEST\",\"conditions\":%s%s}",
               conditions, extra);
    return buf_steal(&b);
}

#define THR "[{\"type\":\"THRESHOLD\",\"property\":\"rt\",\"operator\":\"GT\",\"threshold\":1}]"

static void err_with(const char *conditions, const char *extra, const char *field)
{
    char *s = with(conditions, extra);

    parse_err(s, field);
    free(s);
}

static struct trigger *ok_with(const char *conditions, const char *extra)
{
    char *s = with(conditions, extra);
    struct trigger *t = parse_ok(s);

    free(s);
    return t;
}

/* A notifications member with one webhook whose configuration is `cfg`. */
static void webhook_err(const char *cfg, const char *field)
{
    char extra[2048];

    snprintf(extra, sizeof(extra),
             ",\"notifications\":[{\"type\":\"webhook-notifier\",\"configuration\":%s}]", cfg);
    err_with(THR, extra, field);
}

static char *render(const struct tmpl *tp, const char *ctx_json)
{
    json_t *ctx = ctx_json ? load(ctx_json) : NULL;
    struct buf b;

    buf_init(&b, 1 << 16);
    assert_int_equal(tmpl_render(tp, ctx, TMPL_ESC_NONE, &b), TOCSIN_OK);
    json_decref(ctx);
    return buf_steal(&b);
}

static int group_teardown(void **state)
{
    (void)state;
    tz_cache_clear();
    return 0;
}

/* ---- the AE example ---- */

static void test_ae_example(void **state)
{
    struct trigger *t = parse_ok(ae_trigger);
    const struct notif *n;
    char *s;

    (void)state;
    assert_string_equal(t->id, "response-time-threshold-id");
    assert_string_equal(t->name, "Response time Threshold");
    assert_string_equal(t->source, "REQUEST");
    assert_string_equal(t->description, "");
    assert_true(t->enabled);
    assert_int_equal(t->severity, SEV_INFO);
    assert_int_equal(t->nconds, 1);
    assert_int_equal(t->conds[0].type, COND_THRESHOLD);
    assert_string_equal(t->conds[0].property, "response.response_time");
    assert_int_equal(t->conds[0].op, NUM_LT);
    assert_true(t->conds[0].threshold == 1500);
    assert_false(t->cond_or);
    assert_int_equal(t->nfilters, 0);
    assert_int_equal(t->damp.mode, DAMP_STRICT_COUNT);
    assert_int_equal(t->damp.true_evals, 1);
    assert_int_equal(t->nperiods, 0);
    assert_int_equal(t->resolve_after_ms, -1);
    assert_false(t->notify_on_resolve);
    assert_int_equal(t->created_ms, NOW);
    assert_int_equal(t->updated_ms, NOW);
    assert_false(t->windowed);
    assert_false(t->missing_only);
    assert_int_equal(t->nprojections, 0);

    assert_int_equal(t->nnotifs, 1);
    n = &t->notifs[0];
    assert_string_equal(n->type, "webhook-notifier");
    assert_int_equal(n->kind, NOTIFIER_WEBHOOK);
    assert_string_equal(n->method, "POST");
    assert_false(n->use_proxy);
    assert_true(n->tls_verify);
    assert_int_equal(n->nperiods, 0);
    assert_int_equal(n->nheaders, 1);
    assert_string_equal(n->headers[0].name, "Content-Type");
    s = render(n->headers[0].value, NULL);
    assert_string_equal(s, "text/plain");
    free(s);
    s = render(n->url, NULL);
    assert_string_equal(s, "http://localhost:8080/webhook");
    free(s);
    s = render(n->body, "{\"alert\":{\"id\":\"I\",\"name\":\"N\",\"source\":\"S\","
                        "\"description\":\"D\",\"severity\":\"info\"},"
                        "\"notification\":{\"message\":\"M\"}}");
    assert_string_equal(s, "I - N - S - D - info - M");
    free(s);

    /* conds_json is the stored "conditions", for alert.conditions[i] in templates. */
    assert_non_null(t->conds_json);
    assert_true(json_is_array(t->conds_json));
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(t->conds_json, 0), "property")),
        "response.response_time");
    trigger_free(t);
}

/* ---- required fields ---- */

static void test_required_fields(void **state)
{
    (void)state;
    parse_err("{\"name\":\"n\",\"source\":\"S\",\"conditions\":" THR "}", "id");
    parse_err("{\"id\":\"\",\"name\":\"n\",\"source\":\"S\",\"conditions\":" THR "}", "id");
    parse_err("{\"id\":7,\"name\":\"n\",\"source\":\"S\",\"conditions\":" THR "}", "id");
    parse_err("{\"id\":\"i\",\"source\":\"S\",\"conditions\":" THR "}", "name");
    parse_err("{\"id\":\"i\",\"name\":null,\"source\":\"S\",\"conditions\":" THR "}", "name");
    parse_err("{\"id\":\"i\",\"name\":\"n\",\"conditions\":" THR "}", "source");
    parse_err("{\"id\":\"i\",\"name\":\"n\",\"source\":\"\",\"conditions\":" THR "}", "source");
    parse_err("{\"id\":\"i\",\"name\":\"n\",\"source\":\"S\"}", "conditions");
    parse_err("{\"id\":\"i\",\"name\":\"n\",\"source\":\"S\",\"conditions\":[]}", "conditions");
    parse_err("{\"id\":\"i\",\"name\":\"n\",\"source\":\"S\",\"conditions\":{}}", "conditions");
    parse_err("[]", "");
    parse_err("\"trigger\"", "");
}

static void test_condition_errors(void **state)
{
    struct buf b;
    char *s;

    (void)state;
    err_with("[{\"type\":\"THRESHOLD\",\"property\":\"rt\",\"operator\":\"GT\",\"threshold\":1},"
             "{\"type\":\"THRESHOLD\",\"property\":\"rt\",\"operator\":\"ABOUT\",\"threshold\":1}]",
             "", "conditions[1].operator");
    err_with("[{\"type\":\"WHATEVER\"}]", "", "conditions[0].type");
    err_with("[{\"type\":\"THRESHOLD\",\"property\":\"rt\",\"operator\":\"GT\","
             "\"threshold\":\"1\"}]",
             "", "conditions[0].threshold");
    err_with("[{\"type\":\"RATE\",\"operator\":\"LT\",\"threshold\":40,\"duration\":10,"
             "\"comparison\":{\"type\":\"STRING\",\"property\":\"s\",\"operator\":\"IS\"}}]",
             "", "conditions[0].comparison.operator");
    err_with("[{\"type\":\"AGGREGATION\",\"function\":\"COUNT\",\"operator\":\"GT\","
             "\"threshold\":1,\"duration\":10,\"projections\":[{\"type\":\"X\","
             "\"property\":\"a\"}]}]",
             "", "conditions[0].projections[0]");
    err_with("[\"THRESHOLD\"]", "", "conditions[0]");

    /* At most TRIGGER_MAX_CONDITIONS conditions. */
    buf_init(&b, 1 << 16);
    buf_putc(&b, '[');
    for (int i = 0; i <= TRIGGER_MAX_CONDITIONS; i++)
        buf_printf(&b, "%s{\"type\":\"THRESHOLD\",\"property\":\"p%d\",\"operator\":\"GT\","
                       "\"threshold\":1}",
                   i ? "," : "", i);
    buf_putc(&b, ']');
    s = buf_steal(&b);
    err_with(s, "", "conditions");
    free(s);
}

static void test_options(void **state)
{
    struct trigger *t;

    (void)state;
    t = ok_with(THR, ",\"severity\":\"critical\",\"enabled\":false,\"description\":\"d\","
                     "\"notifyOnResolve\":true,\"metadata\":{\"a\":{\"b\":\"c\"}}");
    assert_int_equal(t->severity, SEV_CRITICAL);
    assert_false(t->enabled);
    assert_string_equal(t->description, "d");
    assert_true(t->notify_on_resolve);
    trigger_free(t);

    t = ok_with(THR, ",\"severity\":\"WARNING\"");
    assert_int_equal(t->severity, SEV_WARNING);
    trigger_free(t);

    err_with(THR, ",\"severity\":\"FATAL\"", "severity");
    err_with(THR, ",\"severity\":2", "severity");
    err_with(THR, ",\"enabled\":\"yes\"", "enabled");
    err_with(THR, ",\"notifyOnResolve\":1", "notifyOnResolve");
    err_with(THR, ",\"description\":5", "description");
    err_with(THR, ",\"metadata\":[1]", "metadata");
    err_with(THR, ",\"dampening\":{\"mode\":\"NEVER\"}", "dampening.mode");
    err_with(THR, ",\"dampening\":{\"mode\":\"RELAXED_COUNT\",\"trueEvaluations\":3,"
                  "\"totalEvaluations\":2}",
             "dampening.trueEvaluations");
    err_with(THR, ",\"dampening\":{\"trueEvaluations\":3}", "dampening.mode");
    err_with(THR, ",\"dampening\":7", "dampening");
}

static void test_conditions_operator(void **state)
{
    struct trigger *t;
    const char *two = "[{\"type\":\"THRESHOLD\",\"property\":\"a\",\"operator\":\"GT\","
                      "\"threshold\":1},{\"type\":\"STRING\",\"property\":\"b\","
                      "\"operator\":\"EQUALS\",\"pattern\":\"x\"}]";

    (void)state;
    t = ok_with(two, "");
    assert_false(t->cond_or);
    assert_int_equal(t->nconds, 2);
    trigger_free(t);
    t = ok_with(two, ",\"conditionsOperator\":\"OR\"");
    assert_true(t->cond_or);
    trigger_free(t);
    t = ok_with(two, ",\"conditionsOperator\":\"or\"");
    assert_true(t->cond_or);
    /* stored upper case, like every enum */
    assert_string_equal(json_string_value(json_object_get(t->json, "conditionsOperator")), "OR");
    trigger_free(t);
    t = ok_with(two, ",\"conditionsOperator\":\"and\"");
    assert_false(t->cond_or);
    trigger_free(t);
    err_with(two, ",\"conditionsOperator\":\"XOR\"", "conditionsOperator");
    err_with(two, ",\"conditionsOperator\":true", "conditionsOperator");
}

static void test_filters(void **state)
{
    struct trigger *t;

    (void)state;
    t = ok_with(THR, ",\"filters\":[{\"type\":\"STRING\",\"property\":\"installation\","
                     "\"operator\":\"EQUALS\",\"pattern\":\"i1\"},{\"type\":\"MISSING_DATA\","
                     "\"duration\":5}]");
    assert_int_equal(t->nfilters, 2);
    assert_int_equal(t->filters[0].type, COND_STRING);
    assert_false(t->windowed); /* filters do not make a trigger windowed */
    trigger_free(t);

    err_with(THR, ",\"filters\":[{\"type\":\"AGGREGATION\",\"function\":\"COUNT\","
                  "\"operator\":\"GT\",\"threshold\":1,\"duration\":10}]",
             "filters[0].type");
    err_with(THR, ",\"filters\":[{\"type\":\"STRING\",\"property\":\"a\",\"operator\":\"EQUALS\","
                  "\"pattern\":\"x\"},{\"type\":\"RATE\",\"operator\":\"LT\",\"threshold\":40,"
                  "\"duration\":10,\"comparison\":{\"type\":\"STRING\",\"property\":\"s\","
                  "\"operator\":\"EQUALS\",\"pattern\":\"x\"}}]",
             "filters[1].type");
    err_with(THR, ",\"filters\":[{\"type\":\"STRING\",\"property\":\"a\",\"operator\":\"LIKE\"}]",
             "filters[0].operator");
    err_with(THR, ",\"filters\":{\"type\":\"STRING\"}", "filters");
}

static void test_window_derivation(void **state)
{
    struct trigger *t;

    (void)state;
    /* Window conditions cannot be mixed with single-event ones. */
    err_with("[{\"type\":\"THRESHOLD\",\"property\":\"a\",\"operator\":\"GT\",\"threshold\":1},"
             "{\"type\":\"AGGREGATION\",\"function\":\"COUNT\",\"operator\":\"GT\","
             "\"threshold\":1,\"duration\":10}]",
             "", "conditions");
    err_with("[{\"type\":\"MISSING_DATA\",\"duration\":10},{\"type\":\"STRING\",\"property\":\"a\","
             "\"operator\":\"EQUALS\",\"pattern\":\"x\"}]",
             "", "conditions");

    t = ok_with("[{\"type\":\"AGGREGATION\",\"function\":\"AVG\",\"property\":\"rt\","
                "\"operator\":\"GT\",\"threshold\":1,\"duration\":10,\"timeUnit\":\"SECONDS\","
                "\"projections\":[{\"property\":\"api\"},{\"property\":\"plan\"}]},"
                "{\"type\":\"RATE\",\"operator\":\"LT\",\"threshold\":40,\"duration\":3,"
                "\"timeUnit\":\"SECONDS\",\"projections\":[{\"property\":\"plan\"},"
                "{\"property\":\"app\"}],\"comparison\":{\"type\":\"THRESHOLD\","
                "\"property\":\"rt\",\"operator\":\"GT\",\"threshold\":5}}]",
                "");
    assert_true(t->windowed);
    assert_false(t->missing_only);
    assert_int_equal(t->tick_ms, 3000); /* the shortest window */
    /* The ordered union of the conditions' projections. */
    assert_int_equal(t->nprojections, 3);
    assert_string_equal(t->projections[0], "api");
    assert_string_equal(t->projections[1], "plan");
    assert_string_equal(t->projections[2], "app");
    trigger_free(t);

    t = ok_with("[{\"type\":\"MISSING_DATA\",\"duration\":2,\"timeUnit\":\"MINUTES\"}]", "");
    assert_true(t->windowed);
    assert_true(t->missing_only);
    assert_int_equal(t->tick_ms, 120000);
    assert_int_equal(t->nprojections, 0);
    trigger_free(t);

    /* Projections of single-event conditions key alerts too. */
    t = ok_with("[{\"type\":\"THRESHOLD\",\"property\":\"rt\",\"operator\":\"GT\","
                "\"threshold\":1,\"projections\":[{\"property\":\"api\"}]}]",
                "");
    assert_false(t->windowed);
    assert_int_equal(t->nprojections, 1);
    assert_string_equal(t->projections[0], "api");
    trigger_free(t);
}

/* ---- notifications ---- */

static void test_webhook_config(void **state)
{
    struct trigger *t;
    const struct notif *n;
    char *s;

    (void)state;
    t = ok_with(THR, ",\"notifications\":[{\"type\":\"webhook-notifier\",\"configuration\":{"
                     "\"url\":\"http://h/${alert.name}\",\"method\":\"put\","
                     "\"headers\":[{\"name\":\"X-Alert\",\"value\":\"${alert.id}\"},"
                     "{\"name\":\"X-Empty\"}],\"useSystemProxy\":true,\"skipVerify\":true}}]");
    n = &t->notifs[0];
    assert_string_equal(n->method, "PUT");
    assert_true(n->use_proxy);
    assert_false(n->tls_verify);
    assert_int_equal(n->nheaders, 2);
    s = render(n->headers[0].value, "{\"alert\":{\"id\":\"A1\"}}");
    assert_string_equal(s, "A1");
    free(s);
    s = render(n->headers[1].value, NULL);
    assert_string_equal(s, "");
    free(s);
    s = render(n->url, "{\"alert\":{\"name\":\"x\"}}");
    assert_string_equal(s, "http://h/x");
    free(s);
    /* No body: an empty template. */
    assert_non_null(n->body);
    s = render(n->body, NULL);
    assert_string_equal(s, "");
    free(s);
    trigger_free(t);

    /* method defaults to POST */
    t = ok_with(THR, ",\"notifications\":[{\"type\":\"Webhook-Notifier\",\"configuration\":{"
                     "\"url\":\"http://h/\"}}]");
    assert_int_equal(t->notifs[0].kind, NOTIFIER_WEBHOOK);
    assert_string_equal(t->notifs[0].method, "POST");
    assert_int_equal(t->notifs[0].nheaders, 0);
    trigger_free(t);
}

static void test_webhook_errors(void **state)
{
    (void)state;
    webhook_err("{\"method\":\"POST\",\"body\":\"x\"}", "notifications[0].configuration.url");
    webhook_err("{\"url\":5}", "notifications[0].configuration.url");
    webhook_err("{\"url\":\"http://h/${alert.id\"}", "notifications[0].configuration.url");
    webhook_err("{\"url\":\"http://h/\",\"body\":\"${alert.id} - ${alert.name\"}",
                "notifications[0].configuration.body");
    webhook_err("{\"url\":\"http://h/\",\"method\":\"FETCH\"}",
                "notifications[0].configuration.method");
    webhook_err("{\"url\":\"http://h/\",\"headers\":[{\"name\":\"Bad Header\",\"value\":\"v\"}]}",
                "notifications[0].configuration.headers[0].name");
    webhook_err("{\"url\":\"http://h/\",\"headers\":[{\"name\":\"A\",\"value\":\"v\"},"
                "{\"name\":\"X:Y\",\"value\":\"v\"}]}",
                "notifications[0].configuration.headers[1].name");
    webhook_err("{\"url\":\"http://h/\",\"headers\":[{\"value\":\"v\"}]}",
                "notifications[0].configuration.headers[0].name");
    webhook_err("{\"url\":\"http://h/\",\"headers\":[{\"name\":\"A\",\"value\":\"${x\"}]}",
                "notifications[0].configuration.headers[0].value");
    webhook_err("{\"url\":\"http://h/\",\"headers\":[\"A: b\"]}",
                "notifications[0].configuration.headers[0]");
    webhook_err("{\"url\":\"http://h/\",\"headers\":{\"A\":\"b\"}}",
                "notifications[0].configuration.headers");
    webhook_err("{\"url\":\"http://h/\",\"useSystemProxy\":\"no\"}",
                "notifications[0].configuration.useSystemProxy");
    webhook_err("\"http://h/\"", "notifications[0].configuration");
    err_with(THR, ",\"notifications\":[{\"type\":\"webhook-notifier\"}]",
             "notifications[0].configuration");
    err_with(THR, ",\"notifications\":[{\"configuration\":{\"url\":\"http://h/\"}}]",
             "notifications[0].type");
    err_with(THR, ",\"notifications\":[{\"type\":\"webhook-notifier\",\"configuration\":"
                  "{\"url\":\"http://h/\"}},{\"type\":\"webhook-notifier\",\"configuration\":{}}]",
             "notifications[1].configuration.url");
    err_with(THR, ",\"notifications\":[7]", "notifications[0]");
    err_with(THR, ",\"notifications\":{}", "notifications");
}

static void test_unsupported_and_slack(void **state)
{
    struct trigger *t;
    char *s;

    (void)state;
    /* Unknown notifier types are accepted (AE compatibility), with or without configuration. */
    t = ok_with(THR, ",\"notifications\":[{\"type\":\"email-notifier\",\"configuration\":{"
                     "\"host\":\"smtp\",\"port\":25}},{\"type\":\"pagerduty\"}]");
    assert_int_equal(t->nnotifs, 2);
    assert_int_equal(t->notifs[0].kind, NOTIFIER_UNSUPPORTED);
    assert_string_equal(t->notifs[0].type, "email-notifier");
    assert_int_equal(t->notifs[1].kind, NOTIFIER_UNSUPPORTED);
    trigger_free(t);
    err_with(THR, ",\"notifications\":[{\"type\":\"email-notifier\",\"configuration\":\"x\"}]",
             "notifications[0].configuration");

    /* slack-notifier with a token posts to chat.postMessage with a Bearer header. */
    t = ok_with(THR, ",\"notifications\":[{\"type\":\"slack-notifier\",\"configuration\":{"
                     "\"channel\":\"#ops\",\"token\":\"xoxb-1\",\"message\":\"${alert.name}\"}}]");
    assert_int_equal(t->notifs[0].kind, NOTIFIER_SLACK);
    assert_string_equal(t->notifs[0].channel, "#ops");
    assert_int_equal(t->notifs[0].nheaders, 1);
    assert_string_equal(t->notifs[0].headers[0].name, "Authorization");
    s = render(t->notifs[0].headers[0].value, NULL);
    assert_string_equal(s, "Bearer xoxb-1");
    free(s);
    s = render(t->notifs[0].url, NULL);
    assert_string_equal(s, "https://slack.com/api/chat.postMessage");
    free(s);
    trigger_free(t);
    err_with(THR, ",\"notifications\":[{\"type\":\"slack-notifier\",\"configuration\":{"
                  "\"token\":\"x\"}}]",
             "notifications[0].configuration.message");
    err_with(THR, ",\"notifications\":[{\"type\":\"slack-notifier\",\"configuration\":{"
                  "\"message\":\"m\"}}]",
             "notifications[0].configuration.token");
}

/* ---- periods ---- */

static void test_periods(void **state)
{
    struct trigger *t;

    (void)state;
    t = ok_with(THR, ",\"notificationPeriods\":[{\"days\":[1,2,3,4,5],\"zoneId\":\"Europe/Paris\","
                     "\"beginHour\":28800,\"endHour\":64800}],"
                     "\"notifications\":[{\"type\":\"webhook-notifier\",\"periods\":[{"
                     "\"zoneId\":\"UTC\",\"beginHour\":79200,\"endHour\":21600}],"
                     "\"configuration\":{\"url\":\"http://h/\"}}]");
    assert_int_equal(t->nperiods, 1);
    assert_int_equal(t->periods[0].begin_s, 28800);
    assert_int_equal(t->periods[0].end_s, 64800);
    assert_string_equal(tz_name(t->periods[0].tz), "Europe/Paris");
    assert_int_equal(t->notifs[0].nperiods, 1);
    assert_int_equal(t->notifs[0].periods[0].begin_s, 79200);
    trigger_free(t);

    err_with(THR, ",\"notificationPeriods\":[{\"zoneId\":\"Mars/Olympus_Mons\"}]",
             "notificationPeriods[0].zoneId");
    err_with(THR, ",\"notificationPeriods\":[{\"zoneId\":\"UTC\"},{\"zoneId\":\"UTC\","
                  "\"beginHour\":90000}]",
             "notificationPeriods[1].beginHour");
    err_with(THR, ",\"notificationPeriods\":[{\"days\":[8]}]", "notificationPeriods[0].days");
    err_with(THR, ",\"notificationPeriods\":[3]", "notificationPeriods[0].period");
    err_with(THR, ",\"notificationPeriods\":{}", "notificationPeriods");
    err_with(THR, ",\"notifications\":[{\"type\":\"webhook-notifier\",\"periods\":[{"
                  "\"zoneId\":\"Nowhere/City\"}],\"configuration\":{\"url\":\"http://h/\"}}]",
             "notifications[0].periods[0].zoneId");
}

/* ---- resolveAfter ---- */

static void test_resolve_after(void **state)
{
    struct trigger *t;

    (void)state;
    t = ok_with(THR, ",\"resolveAfter\":{\"duration\":5,\"timeUnit\":\"MINUTES\"}");
    assert_int_equal(t->resolve_after_ms, 300000);
    trigger_free(t);
    t = ok_with(THR, ",\"resolveAfter\":{\"duration\":250}");
    assert_int_equal(t->resolve_after_ms, 250);
    trigger_free(t);
    t = ok_with(THR, ",\"resolveAfter\":null");
    assert_int_equal(t->resolve_after_ms, -1);
    trigger_free(t);
    /* 0: resolve at the first false evaluation. */
    t = ok_with(THR, ",\"resolveAfter\":{\"duration\":0,\"timeUnit\":\"SECONDS\"}");
    assert_int_equal(t->resolve_after_ms, 0);
    trigger_free(t);

    t = ok_with(THR, ",\"resolveAfter\":{\"duration\":0}");
    assert_int_equal(t->resolve_after_ms, 0);
    trigger_free(t);
    t = ok_with(THR, ",\"resolveAfter\":{\"duration\":0,\"timeUnit\":\"NANOSECONDS\"}");
    assert_int_equal(t->resolve_after_ms, 0);
    trigger_free(t);

    err_with(THR, ",\"resolveAfter\":{\"duration\":0,\"timeUnit\":\"EONS\"}",
             "resolveAfter.timeUnit");
    err_with(THR, ",\"resolveAfter\":60", "resolveAfter");
    err_with(THR, ",\"resolveAfter\":{\"duration\":5,\"timeUnit\":\"EONS\"}",
             "resolveAfter.timeUnit");
    err_with(THR, ",\"resolveAfter\":{\"duration\":-1}", "resolveAfter.duration");
    err_with(THR, ",\"resolveAfter\":{\"timeUnit\":\"SECONDS\"}", "resolveAfter.duration");
}

/* ---- the stored JSON ---- */

static void test_stored_json(void **state)
{
    const char *in =
        "{\"id\":\"t9\",\"name\":\"Lower\",\"source\":\"REQUEST\",\"severity\":\"warning\","
        "\"description\":\"desc\",\"custom\":{\"kept\":[1,2]},"
        "\"conditions\":[{\"type\":\"rate\",\"operator\":\"lt\",\"threshold\":40,"
        "\"duration\":1,\"timeUnit\":\"minutes\",\"sampleSize\":20,"
        "\"projections\":[{\"type\":\"property\",\"property\":\"api\"}],"
        "\"comparison\":{\"type\":\"threshold\",\"property\":\"rt\",\"operator\":\"gte\","
        "\"threshold\":500}}],"
        "\"filters\":[{\"type\":\"string\",\"property\":\"installation\",\"operator\":\"equals\","
        "\"pattern\":\"keep-Case\"}],"
        "\"dampening\":{\"mode\":\"relaxed_time\",\"trueEvaluations\":2,\"duration\":1,"
        "\"timeUnit\":\"seconds\"},"
        "\"notificationPeriods\":[{\"zoneId\":\"Europe/Paris\"}],"
        "\"notifications\":[{\"type\":\"webhook-notifier\",\"configuration\":{"
        "\"url\":\"http://h/\",\"body\":\"lower ${alert.name}\"}}],"
        "\"metadata\":{\"ref\":{\"k\":\"v\"}}}";
    const char *want =
        "{\"id\":\"t9\",\"name\":\"Lower\",\"source\":\"REQUEST\",\"severity\":\"WARNING\","
        "\"enabled\":true,\"description\":\"desc\",\"custom\":{\"kept\":[1,2]},"
        "\"conditions\":[{\"type\":\"RATE\",\"operator\":\"LT\",\"threshold\":40,"
        "\"duration\":1,\"timeUnit\":\"MINUTES\",\"sampleSize\":20,"
        "\"projections\":[{\"type\":\"PROPERTY\",\"property\":\"api\"}],"
        "\"comparison\":{\"type\":\"THRESHOLD\",\"property\":\"rt\",\"operator\":\"GTE\","
        "\"threshold\":500}}],"
        "\"filters\":[{\"type\":\"STRING\",\"property\":\"installation\",\"operator\":\"EQUALS\","
        "\"pattern\":\"keep-Case\"}],"
        "\"dampening\":{\"mode\":\"RELAXED_TIME\",\"trueEvaluations\":2,\"duration\":1,"
        "\"timeUnit\":\"SECONDS\"},"
        "\"notificationPeriods\":[{\"zoneId\":\"Europe/Paris\"}],"
        "\"notifications\":[{\"type\":\"webhook-notifier\",\"configuration\":{"
        "\"url\":\"http://h/\",\"body\":\"lower ${alert.name}\"}}],"
        "\"metadata\":{\"ref\":{\"k\":\"v\"}},"
        "\"created_at\":1700000000000,\"updated_at\":1700000000000}";
    struct trigger *t = parse_ok(in);
    json_t *w = load(want);

    (void)state;
    if (!json_equal(t->json, w)) {
        char *got = json_dumps(t->json, JSON_COMPACT | JSON_SORT_KEYS);
        char *exp = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("stored JSON\n got  %s\n want %s", got, exp);
    }
    assert_ptr_equal(t->conds_json, json_object_get(t->json, "conditions"));

    /* trigger_set_times keeps the JSON in step. */
    trigger_set_times(t, 5, 9);
    assert_int_equal(t->created_ms, 5);
    assert_int_equal(t->updated_ms, 9);
    assert_int_equal(json_integer_value(json_object_get(t->json, "created_at")), 5);
    assert_int_equal(json_integer_value(json_object_get(t->json, "updated_at")), 9);
    json_decref(w);
    trigger_free(t);
}

static void test_stored_json_defaults(void **state)
{
    struct trigger *t = parse_ok("{\"id\":\"d\",\"name\":\"n\",\"source\":\"S\","
                                 "\"conditions\":[{\"type\":\"threshold\",\"property\":\"a\","
                                 "\"operator\":\"gt\",\"threshold\":1}]}");
    json_t *d;

    (void)state;
    assert_string_equal(json_string_value(json_object_get(t->json, "severity")), "INFO");
    assert_true(json_is_true(json_object_get(t->json, "enabled")));
    d = json_object_get(t->json, "dampening");
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "mode")), "STRICT_COUNT");
    assert_int_equal(json_integer_value(json_object_get(d, "trueEvaluations")), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(t->json, "conditions"),
                                                         0),
                                          "operator")),
        "GT");
    trigger_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ae_example),
        cmocka_unit_test(test_required_fields),
        cmocka_unit_test(test_condition_errors),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_conditions_operator),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_window_derivation),
        cmocka_unit_test(test_webhook_config),
        cmocka_unit_test(test_webhook_errors),
        cmocka_unit_test(test_unsupported_and_slack),
        cmocka_unit_test(test_periods),
        cmocka_unit_test(test_resolve_after),
        cmocka_unit_test(test_stored_json),
        cmocka_unit_test(test_stored_json_defaults),
    };

    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
