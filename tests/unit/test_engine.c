/* Tests for core/engine, end to end on the injected clock: triggers are parsed from AE JSON and
 * put, events are parsed and ingested at chosen times, timers are fired with engine_advance(),
 * and the effects (alert changes, rendered notifications, trigger changes) are checked exactly.
 * Ids come from a counter, so every run is the same. Nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/effects.h"
#include "core/engine.h"
#include "core/event.h"
#include "core/trigger.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/tz.h"

#define T0 1700000000000LL /* Tue 2023-11-14 22:13:20 UTC */
#define SEC 1000LL
#define MIN (60 * SEC)

/* The trigger of AE's integration guide, "Response time Threshold". */
static const char *const ae_trigger =
    "{`id`:`response-time-threshold-id`,`name`:`Response time Threshold`,"
    "`source`:`REQUEST`,`enabled`:true,"
    "`conditions`:[{`property`:`response.response_time`,`operator`:`LT`,"
    "`threshold`:1500.0,`type`:`THRESHOLD`}],"
    "`dampening`:{`mode`:`STRICT_COUNT`,`trueEvaluations`:1},"
    "`notifications`:[{`type`:`webhook-notifier`,`configuration`:{"
    "`url`:`http://localhost:8080/webhook`,`method`:`POST`,`useSystemProxy`:false,"
    "`headers`:[{`name`:`Content-Type`,`value`:`text/plain`}],"
    "`body`:`${alert.id} - ${alert.name} - ${alert.source} - ${alert.description} - "
    "${alert.severity} - ${notification.message}`}}]}";

/* ---- fixture ---- */

struct fx {
    struct engine *e;
    struct effects fx;
    struct engine_cfg cfg;
    unsigned ids;
};

static void new_id(void *ud, char out[TOCSIN_ID_LEN + 1])
{
    struct fx *f = ud;

    snprintf(out, TOCSIN_ID_LEN + 1, "00000000-0000-4000-8000-%012u", ++f->ids);
}

static struct engine *make_engine(struct fx *f)
{
    struct engine_env env = {.new_id = new_id, .ud = f};
    struct engine *e = engine_new(&f->cfg, &env, T0);

    assert_non_null(e);
    return e;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    f->cfg.resolve_after_ms = 60 * SEC;
    f->cfg.max_triggers = 100;
    f->cfg.max_keys_per_trigger = 1000;
    f->cfg.notify_max_attempts = 5;
    f->cfg.max_render = 64 * 1024;
    effects_init(&f->fx);
    f->e = make_engine(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    engine_free(f->e);
    effects_free(&f->fx);
    free(f);
    return 0;
}

/* Starts again with f->cfg (after a test changed it). */
static void restart(struct fx *f)
{
    engine_free(f->e);
    effects_clear(&f->fx);
    f->e = make_engine(f);
}

static int group_teardown(void **state)
{
    (void)state;
    tz_cache_clear();
    return 0;
}

/* ---- helpers ---- */

/* Test JSON is written with ` for " to stay readable; a literal " is written \\". */
static json_t *load(const char *text)
{
    char *s = strdup(text);
    json_error_t je;
    json_t *j;

    assert_non_null(s);
    for (char *p = s; *p; p++)
        if (*p == '`')
            *p = '"';
    j = json_loads(s, JSON_DECODE_ANY, &je);
    if (!j)
        fail_msg("bad test JSON: %s (%s)", je.text, s);
    free(s);
    return j;
}

static struct trigger *parse_trigger(const char *text, int64_t now)
{
    static const struct trigger_env env = {.tz_lookup = trigger_tz_lookup};
    json_t *j = load(text);
    struct trigger *t = NULL;
    struct verr err;

    memset(&err, 0, sizeof(err));
    if (trigger_parse(j, &env, now, &t, &err) != TOCSIN_OK)
        fail_msg("trigger: %s: %s", err.field, err.msg);
    json_decref(j);
    return t;
}

static void put(struct fx *f, const char *text, int64_t now)
{
    assert_int_equal(engine_put_trigger(f->e, parse_trigger(text, now), now, &f->fx), TOCSIN_OK);
}

/* Ingests one event or an array of events (JSON) at `now`. */
static void ingest(struct fx *f, int64_t now, const char *events)
{
    json_t *j = load(events), *one;
    struct arena a;
    struct event evs[64];
    size_t n = 0, i;
    struct verr err;

    arena_init(&a, 1 << 22);
    if (json_is_array(j)) {
        json_array_foreach(j, i, one) {
            assert_true(n < 64);
            memset(&err, 0, sizeof(err));
            if (event_from_json(one, &a, &evs[n++], &err))
                fail_msg("event: %s: %s", err.field, err.msg);
        }
    } else {
        memset(&err, 0, sizeof(err));
        if (event_from_json(j, &a, &evs[n++], &err))
            fail_msg("event: %s: %s", err.field, err.msg);
    }
    engine_ingest(f->e, evs, n, now, &f->fx);
    arena_free(&a);
    json_decref(j);
}

/* Ingests one event {type, properties} at `now`. */
static void event(struct fx *f, int64_t now, const char *type, const char *props)
{
    char buf[4096];

    snprintf(buf, sizeof(buf), "{`type`:`%s`,`properties`:%s}", type, props);
    ingest(f, now, buf);
}

static void advance(struct fx *f, int64_t now)
{
    engine_advance(f->e, now, &f->fx);
}

static void clear(struct fx *f)
{
    effects_clear(&f->fx);
}

static size_t count(const struct fx *f, enum effect_kind kind)
{
    size_t n = 0;

    for (size_t i = 0; i < f->fx.n; i++)
        n += f->fx.v[i].kind == kind;
    return n;
}

static const struct effect *nth(const struct fx *f, enum effect_kind kind, size_t k)
{
    for (size_t i = 0; i < f->fx.n; i++)
        if (f->fx.v[i].kind == kind && k-- == 0)
            return &f->fx.v[i];
    fail_msg("no effect #%zu of kind %d (of %zu effects)", k, kind, f->fx.n);
    return NULL;
}

static const struct alert_rec *alert(const struct fx *f, size_t k)
{
    return nth(f, EFF_ALERT, k)->u.alert;
}

static const struct notify_rec *notif(const struct fx *f, size_t k)
{
    return nth(f, EFF_NOTIFY, k)->u.notify;
}

/* Asserts the effects list holds exactly `alerts` alert changes and `notifies` notifications. */
static void expect(const struct fx *f, size_t alerts, size_t notifies)
{
    if (count(f, EFF_ALERT) != alerts || count(f, EFF_NOTIFY) != notifies)
        fail_msg("effects: %zu alerts, %zu notifications; expected %zu and %zu",
                 count(f, EFF_ALERT), count(f, EFF_NOTIFY), alerts, notifies);
}

static void assert_json_eq(const char *got, const char *want)
{
    json_t *g = json_loads(got, 0, NULL), *w = load(want);

    if (!g || !json_equal(g, w))
        fail_msg("JSON differs:\n got  %s\n want %s", got, want);
    json_decref(g);
    json_decref(w);
}

static struct engine_stats stats(const struct fx *f)
{
    struct engine_stats st;

    engine_get_stats(f->e, &st);
    return st;
}

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                    .tm_hour = h, .tm_min = mi, .tm_sec = s};
    return (int64_t)timegm(&tm) * 1000;
}

/* A one-condition trigger on source S with id/name `id`, plus extra members. */
static char *trig(const char *id, const char *source, const char *conds, const char *extra)
{
    struct buf b;

    buf_init(&b, 1 << 16);
    buf_printf(&b, "{`id`:`%s`,`name`:`%s`,`source`:`%s`,`conditions`:%s%s}", id, id, source,
               conds, extra);
    return buf_steal(&b);
}

static void put_trig(struct fx *f, const char *id, const char *source, const char *conds,
                     const char *extra, int64_t now)
{
    char *s = trig(id, source, conds, extra);

    put(f, s, now);
    free(s);
}

#define RT_GT_100 "[{`type`:`THRESHOLD`,`property`:`rt`,`operator`:`GT`,`threshold`:100}]"
#define HOOK(body)                                                                               \
    ",`notifications`:[{`type`:`webhook-notifier`,`configuration`:{`url`:`http://h/`,"           \
    "`body`:`" body "`}}]"

/* ---- triggers ---- */

static void test_put_replace_delete(void **state)
{
    struct fx *f = *state;
    const struct trigger_rec *r;

    assert_int_equal(engine_next_deadline(f->e), INT64_MAX);
    put(f, ae_trigger, T0);
    assert_int_equal(f->fx.n, 1);
    r = nth(f, EFF_TRIGGER_PUT, 0)->u.trig;
    assert_string_equal(r->id, "response-time-threshold-id");
    assert_true(r->enabled);
    assert_int_equal(r->created_ms, T0);
    assert_int_equal(r->updated_ms, T0);
    {
        json_t *j = json_loads(r->json, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "name")),
                            "Response time Threshold");
        assert_int_equal(json_integer_value(json_object_get(j, "created_at")), T0);
        json_decref(j);
    }
    assert_true(engine_has_trigger(f->e, "response-time-threshold-id"));
    assert_false(engine_has_trigger(f->e, "other"));
    assert_int_equal(stats(f).triggers, 1);
    clear(f);

    /* Replacing keeps created_at and moves updated_at. */
    put(f, ae_trigger, T0 + 5 * SEC);
    assert_int_equal(f->fx.n, 1);
    r = nth(f, EFF_TRIGGER_PUT, 0)->u.trig;
    assert_int_equal(r->created_ms, T0);
    assert_int_equal(r->updated_ms, T0 + 5 * SEC);
    assert_int_equal(stats(f).triggers, 1);
    clear(f);

    assert_int_equal(engine_delete_trigger(f->e, "response-time-threshold-id", T0 + 6 * SEC,
                                           &f->fx),
                     TOCSIN_OK);
    assert_int_equal(f->fx.n, 1);
    r = nth(f, EFF_TRIGGER_DEL, 0)->u.trig;
    assert_string_equal(r->id, "response-time-threshold-id");
    assert_null(r->json);
    assert_false(engine_has_trigger(f->e, "response-time-threshold-id"));
    assert_int_equal(stats(f).triggers, 0);
    assert_int_equal(engine_delete_trigger(f->e, "response-time-threshold-id", T0 + 7 * SEC,
                                           &f->fx),
                     TOCSIN_ENOTFOUND);
    clear(f);

    /* A deleted trigger sees no more events. */
    event(f, T0 + 8 * SEC, "REQUEST", "{`response`:{`response_time`:500}}");
    expect(f, 0, 0);
}

static void test_max_triggers_and_load(void **state)
{
    struct fx *f = *state;
    struct trigger *t;

    f->cfg.max_triggers = 1;
    restart(f);
    put_trig(f, "a", "S", RT_GT_100, "", T0);
    clear(f);
    t = parse_trigger("{`id`:`b`,`name`:`b`,`source`:`S`,`conditions`:" RT_GT_100 "}", T0);
    assert_int_equal(engine_put_trigger(f->e, t, T0, &f->fx), TOCSIN_ETOOBIG); /* t is freed */
    assert_int_equal(f->fx.n, 0);
    assert_false(engine_has_trigger(f->e, "b"));
    /* Replacing the one there is still fine. */
    put_trig(f, "a", "S", RT_GT_100, ",`severity`:`CRITICAL`", T0 + 1);
    assert_int_equal(count(f, EFF_TRIGGER_PUT), 1);
    clear(f);

    /* engine_load_trigger installs without an effect (start-up from the store). */
    f->cfg.max_triggers = 10;
    restart(f);
    t = parse_trigger("{`id`:`l`,`name`:`l`,`source`:`S`,`conditions`:" RT_GT_100 "}", T0);
    assert_int_equal(engine_load_trigger(f->e, t, T0), TOCSIN_OK);
    assert_int_equal(f->fx.n, 0);
    assert_true(engine_has_trigger(f->e, "l"));
    event(f, T0 + 1, "S", "{`rt`:500}");
    expect(f, 1, 0);
}

/* ---- the AE example, end to end ---- */

/* The effects of the first true event for the AE example trigger, field by field. */
static void assert_ae_first_alert(const struct fx *f)
{
    const struct alert_rec *a;
    const struct notify_rec *n;

    expect(f, 1, 1);
    /* Order within one call is not a contract: a call's effects commit in one transaction, and
     * an alert that fires several times in a call is written once, at its end. */
    a = alert(f, 0);
    assert_int_equal(a->status, ALERT_OPEN);
    assert_int_equal(a->count, 1);
    assert_int_equal(a->severity, SEV_INFO);
    assert_string_equal(a->trigger_id, "response-time-threshold-id");
    assert_string_equal(a->name, "Response time Threshold");
    assert_string_equal(a->source, "REQUEST");
    assert_string_equal(a->description, "");
    assert_int_equal(a->first_ms, T0 + SEC);
    assert_int_equal(a->last_ms, T0 + SEC);
    assert_int_equal(a->updated_ms, T0 + SEC);
    assert_int_equal(a->resolved_ms, 0);
    assert_string_equal(a->id, "00000000-0000-4000-8000-000000000001");
    assert_int_equal(strlen(a->fingerprint), 32);
    assert_json_eq(a->projection_json, "{}");
    assert_json_eq(a->properties_json, "{`response.response_time`:500,`response.status`:200}");
    assert_string_equal(a->message, "response.response_time = 500 LT 1500");

    n = notif(f, 0);
    assert_string_equal(n->body, "response-time-threshold-id - Response time Threshold - "
                                 "REQUEST -  - info - response.response_time = 500 LT 1500");
    assert_string_equal(n->alert_id, a->id);
    assert_string_not_equal(n->id, a->id);
    assert_string_equal(n->trigger_id, "response-time-threshold-id");
    assert_string_equal(n->channel, "webhook-notifier");
    assert_string_equal(n->method, "POST");
    assert_string_equal(n->url, "http://localhost:8080/webhook");
    assert_json_eq(n->headers_json, "[{`name`:`Content-Type`,`value`:`text/plain`}]");
    assert_int_equal(n->status, NOTIFY_PENDING);
    assert_false(n->resolve);
    assert_false(n->use_proxy);
    assert_true(n->tls_verify);
    assert_int_equal(n->max_attempts, 5);
    assert_int_equal(n->attempts, 0);
    assert_int_equal(n->created_ms, T0 + SEC);
    assert_int_equal(n->updated_ms, T0 + SEC);
    assert_int_equal(n->next_ms, 0); /* due at once, whatever the engine clock says */
    assert_int_equal(n->seq, 0);
    assert_null(n->last_error);
    assert_int_equal(n->last_http_status, 0);
}

/* A trigger per API, as APIM registers them: each filtered by STRING EQUALS on `api`. */
static void put_api_trigger(struct fx *f, const char *id, const char *api, const char *extra)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "{`id`:`%s`,`name`:`n`,`source`:`REQUEST`,"
             "`filters`:[{`type`:`STRING`,`property`:`api`,`operator`:`EQUALS`,`pattern`:`%s`%s}],"
             "`conditions`:[{`type`:`THRESHOLD`,`property`:`rt`,`operator`:`GT`,`threshold`:10}]}",
             id, api, extra);
    put(f, text, T0);
}

static size_t alerts_of(const struct fx *f, const char *trigger)
{
    size_t n = 0;

    for (size_t i = 0; i < f->fx.n; i++)
        if (f->fx.v[i].kind == EFF_ALERT && !strcmp(f->fx.v[i].u.alert->trigger_id, trigger))
            n++;
    return n;
}

/* Triggers filtered by a case-sensitive STRING EQUALS are found through the event's value; the
 * others (here: ignoreCase) are checked one by one. Both must behave the same. */
static void test_filter_index(void **state)
{
    struct fx *f = *state;

    put_api_trigger(f, "t-a1", "a1", "");
    put_api_trigger(f, "t-a2", "a2", "");
    put_api_trigger(f, "t-a2-bis", "a2", "");
    put_api_trigger(f, "t-num", "500", "");
    put_api_trigger(f, "t-icase", "A1", ",`ignoreCase`:true");
    put(f, "{`id`:`t-plain`,`name`:`n`,`source`:`REQUEST`,`conditions`:[{`type`:`THRESHOLD`,"
           "`property`:`rt`,`operator`:`GT`,`threshold`:10}]}", T0);
    clear(f);

    event(f, T0 + SEC, "REQUEST", "{`api`:`a2`,`rt`:50}");
    assert_int_equal(alerts_of(f, "t-a2"), 1);
    assert_int_equal(alerts_of(f, "t-a2-bis"), 1);
    assert_int_equal(alerts_of(f, "t-plain"), 1);
    assert_int_equal(alerts_of(f, "t-a1") + alerts_of(f, "t-icase") + alerts_of(f, "t-num"), 0);
    clear(f);

    event(f, T0 + 2 * SEC, "REQUEST", "{`api`:`a1`,`rt`:50}");
    assert_int_equal(alerts_of(f, "t-a1"), 1);
    assert_int_equal(alerts_of(f, "t-icase"), 1);
    assert_int_equal(alerts_of(f, "t-a2"), 0);
    clear(f);

    event(f, T0 + 3 * SEC, "REQUEST", "{`api`:500,`rt`:50}"); /* a number's text is "500" */
    assert_int_equal(alerts_of(f, "t-num"), 1);
    clear(f);

    event(f, T0 + 4 * SEC, "REQUEST", "{`rt`:50}"); /* no api: only the unfiltered one */
    assert_int_equal(f->fx.n, 1);
    assert_int_equal(alerts_of(f, "t-plain"), 1);
    clear(f);

    /* Re-pointing a trigger at another API moves it; deleting one unlinks it. */
    put_api_trigger(f, "t-a1", "a3", "");
    assert_int_equal(engine_delete_trigger(f->e, "t-a2", T0, &f->fx), TOCSIN_OK);
    clear(f);
    event(f, T0 + 5 * SEC, "REQUEST", "{`api`:`a1`,`rt`:50}");
    assert_int_equal(alerts_of(f, "t-a1"), 0);
    assert_int_equal(alerts_of(f, "t-icase"), 1);
    clear(f);
    event(f, T0 + 6 * SEC, "REQUEST", "{`api`:`a3`,`rt`:50}");
    assert_int_equal(alerts_of(f, "t-a1"), 1);
    clear(f);
    event(f, T0 + 7 * SEC, "REQUEST", "{`api`:`a2`,`rt`:50}");
    assert_int_equal(alerts_of(f, "t-a2"), 0);
    assert_int_equal(alerts_of(f, "t-a2-bis"), 1);
}

/* A key that stops in the middle of a STRICT_COUNT 3 run is forgotten after an hour of
 * silence, so keys that come and go do not pile up; a key that keeps coming keeps its run. */
static void test_silent_key_forgotten(void **state)
{
    struct fx *f = *state;
    struct engine_stats st;

    put(f, "{`id`:`k`,`name`:`n`,`source`:`S`,`dampening`:{`mode`:`STRICT_COUNT`,"
           "`trueEvaluations`:3},`conditions`:[{`type`:`THRESHOLD`,`property`:`v`,"
           "`operator`:`GT`,`threshold`:1,`projections`:[{`type`:`PROPERTY`,`property`:`h`}]}]}",
        T0);
    clear(f);
    event(f, T0 + SEC, "S", "{`h`:`gone`,`v`:5}");
    event(f, T0 + SEC, "S", "{`h`:`stays`,`v`:5}");
    engine_get_stats(f->e, &st);
    assert_int_equal(st.groups, 2);
    advance(f, T0 + SEC + 3599 * SEC);
    event(f, T0 + 3600 * SEC, "S", "{`h`:`stays`,`v`:5}"); /* its run goes on: 2 of 3 */
    advance(f, T0 + 2 * SEC + 3600 * SEC);
    engine_get_stats(f->e, &st);
    assert_int_equal(st.groups, 1); /* `gone` was forgotten */
    assert_int_equal(f->fx.n, 0);
    event(f, T0 + 3601 * SEC, "S", "{`h`:`stays`,`v`:5}");
    assert_int_equal(count(f, EFF_ALERT), 1); /* the third true of its run fires */
    clear(f);
    event(f, T0 + 3602 * SEC, "S", "{`h`:`gone`,`v`:5}"); /* starts a new run: no fire */
    assert_int_equal(f->fx.n, 0);
}

/* Three firings of one alert in one batch: three notifications, one alert write with the
 * final count and the last event's properties. */
static void test_alert_writes_coalesced(void **state)
{
    struct fx *f = *state;
    const struct alert_rec *a;

    put(f, ae_trigger, T0);
    clear(f);
    ingest(f, T0 + SEC,
           "[{`type`:`REQUEST`,`properties`:{`response.response_time`:100}},"
           " {`type`:`REQUEST`,`properties`:{`response.response_time`:200}},"
           " {`type`:`REQUEST`,`properties`:{`response.response_time`:300}}]");
    expect(f, 1, 3);
    a = alert(f, 0);
    assert_int_equal(a->count, 3);
    assert_json_eq(a->properties_json, "{`response.response_time`:300}");
    assert_string_equal(a->message, "response.response_time = 300 LT 1500");
}

static void test_ae_example(void **state)
{
    struct fx *f = *state;
    const struct alert_rec *a;
    char alert_id[TOCSIN_ID_LEN + 1], fp[64];

    put(f, ae_trigger, T0);
    clear(f);
    event(f, T0 + SEC, "REQUEST", "{`response`:{`response_time`:500,`status`:200}}");
    assert_ae_first_alert(f);
    a = alert(f, 0);
    snprintf(alert_id, sizeof(alert_id), "%s", a->id);
    snprintf(fp, sizeof(fp), "%s", a->fingerprint);
    clear(f);

    /* Another true event updates the same alert. */
    event(f, T0 + 2 * SEC, "REQUEST", "{`response`:{`response_time`:700}}");
    expect(f, 1, 1);
    a = alert(f, 0);
    assert_string_equal(a->id, alert_id);
    assert_string_equal(a->fingerprint, fp);
    assert_int_equal(a->count, 2);
    assert_int_equal(a->first_ms, T0 + SEC);
    assert_int_equal(a->last_ms, T0 + 2 * SEC);
    assert_string_equal(notif(f, 0)->body, "response-time-threshold-id - Response time "
                                           "Threshold - REQUEST -  - info - "
                                           "response.response_time = 700 LT 1500");
    clear(f);

    /* A false event, another type, a missing property: nothing. */
    event(f, T0 + 3 * SEC, "REQUEST", "{`response`:{`response_time`:2000}}");
    event(f, T0 + 3 * SEC, "HEALTH", "{`response`:{`response_time`:500}}");
    event(f, T0 + 3 * SEC, "REQUEST", "{`response`:{`status`:500}}");
    expect(f, 0, 0);

    /* The false evaluation at T0+3s started the auto-resolve clock (engine default 60 s). */
    assert_true(engine_next_deadline(f->e) <= T0 + 63 * SEC);
    advance(f, T0 + 63 * SEC - 1);
    expect(f, 0, 0);
    advance(f, T0 + 63 * SEC);
    expect(f, 1, 0); /* no notifyOnResolve: no notification */
    a = alert(f, 0);
    assert_string_equal(a->id, alert_id);
    assert_int_equal(a->status, ALERT_RESOLVED);
    assert_int_equal(a->resolved_ms, T0 + 63 * SEC);
    assert_int_equal(a->count, 2);
    assert_int_equal(stats(f).alerts_open, 0);
    assert_int_equal(engine_next_deadline(f->e), INT64_MAX);
    clear(f);

    /* A new alert for the same trigger: a new id, the same fingerprint. */
    event(f, T0 + 70 * SEC, "REQUEST", "{`response`:{`response_time`:10}}");
    expect(f, 1, 1);
    assert_string_not_equal(alert(f, 0)->id, alert_id);
    assert_string_equal(alert(f, 0)->fingerprint, fp);
    assert_int_equal(alert(f, 0)->count, 1);
    assert_int_equal(alert(f, 0)->status, ALERT_OPEN);
}

/* ---- keys and fingerprints ---- */

static void test_fingerprints_per_key(void **state)
{
    struct fx *f = *state;
    char fa[64], fb[64], ida[64];

    put_trig(f, "keyed", "S",
             "[{`type`:`THRESHOLD`,`property`:`rt`,`operator`:`GT`,`threshold`:100,"
             "`projections`:[{`type`:`PROPERTY`,`property`:`api`}]}]",
             "", T0);
    put_trig(f, "keyed2", "S",
             "[{`type`:`THRESHOLD`,`property`:`rt`,`operator`:`GT`,`threshold`:100,"
             "`projections`:[{`type`:`PROPERTY`,`property`:`api`}]}]",
             "", T0);
    clear(f);

    event(f, T0 + 1, "S", "{`api`:`a`,`rt`:200}");
    expect(f, 2, 0); /* one per trigger */
    assert_string_equal(alert(f, 0)->trigger_id, "keyed2"); /* newest trigger first */
    assert_string_equal(alert(f, 1)->trigger_id, "keyed");
    snprintf(fa, sizeof(fa), "%s", alert(f, 1)->fingerprint);
    snprintf(ida, sizeof(ida), "%s", alert(f, 1)->id);
    /* The same key in another trigger is another alert. */
    assert_string_not_equal(alert(f, 0)->fingerprint, fa);
    assert_json_eq(alert(f, 1)->projection_json, "{`api`:`a`}");
    clear(f);

    event(f, T0 + 2, "S", "{`api`:`b`,`rt`:300}");
    expect(f, 2, 0);
    snprintf(fb, sizeof(fb), "%s", alert(f, 1)->fingerprint);
    assert_string_not_equal(fa, fb);
    assert_string_not_equal(alert(f, 1)->id, ida);
    assert_json_eq(alert(f, 1)->projection_json, "{`api`:`b`}");
    clear(f);

    event(f, T0 + 3, "S", "{`api`:`a`,`rt`:400}");
    expect(f, 2, 0);
    assert_string_equal(alert(f, 1)->fingerprint, fa);
    assert_string_equal(alert(f, 1)->id, ida);
    assert_int_equal(alert(f, 1)->count, 2);
    assert_json_eq(alert(f, 1)->properties_json, "{`api`:`a`,`rt`:400}");
    clear(f);

    /* Without the projected property, the key is "". */
    event(f, T0 + 4, "S", "{`rt`:400}");
    expect(f, 2, 0);
    assert_json_eq(alert(f, 1)->projection_json, "{`api`:``}");
    assert_string_not_equal(alert(f, 1)->fingerprint, fa);
    assert_string_not_equal(alert(f, 1)->fingerprint, fb);
    assert_int_equal(stats(f).alerts_open, 6);
}

/* ---- rendering ---- */

static void test_render_url_headers_json(void **state)
{
    struct fx *f = *state;
    const struct notify_rec *n;

    put(f,
        "{`id`:`r1`,`name`:`A \\`q\\` & B/C`,`source`:`S`,`severity`:`critical`,"
        "`description`:`line1\\nline2`,"
        "`conditions`:[{`type`:`THRESHOLD`,`property`:`rt`,`operator`:`GT`,`threshold`:100}],"
        "`notifications`:[{`type`:`webhook-notifier`,`configuration`:{"
        "`url`:`http://hooks.local/n/${alert.id}?t=${alert.name}&h=${notification.properties["
        "'node.hostname']}`,`method`:`put`,`useSystemProxy`:true,"
        "`headers`:[{`name`:`Content-Type`,`value`:`application/json; charset=utf-8`},"
        "{`name`:`X-Trigger`,`value`:`${alert.id}/${alert.severity}`},"
        "{`name`:`X-Host`,`value`:`${notification.properties['node.hostname']}`}],"
        "`body`:`{\\`name\\`:\\`${alert.name}\\`,\\`desc\\`:\\`${alert.description}\\`,"
        "\\`msg\\`:\\`${notification.message}\\`,\\`value\\`:${notification.result.value},"
        "\\`threshold\\`:${alert.conditions[0].threshold},\\`ts\\`:${notification.timestamp},"
        "\\`host\\`:\\`${notification.properties['node.hostname']}\\`}`}},"
        "{`type`:`webhook-notifier`,`configuration`:{`url`:`http://plain/`,"
        "`body`:`${alert.name} | ${alert.description}`}}]}",
        T0);
    clear(f);
    ingest(f, T0 + SEC,
           "{`type`:`S`,`context`:{`node.hostname`:`web 1\\r\\nX-Evil: yes`},"
           "`properties`:{`rt`:250.5}}");
    expect(f, 1, 2);

    n = notif(f, 0);
    /* url: substituted values are URL-escaped, the template's own text is not */
    assert_string_equal(n->url, "http://hooks.local/n/r1?t=A%20%22q%22%20%26%20B%2FC"
                                "&h=web%201%0D%0AX-Evil%3A%20yes");
    assert_string_equal(n->method, "PUT");
    assert_true(n->use_proxy);
    /* header values are rendered; CR/LF cannot inject headers */
    assert_json_eq(n->headers_json,
                   "[{`name`:`Content-Type`,`value`:`application/json; charset=utf-8`},"
                   "{`name`:`X-Trigger`,`value`:`r1/critical`},"
                   "{`name`:`X-Host`,`value`:`web 1  X-Evil: yes`}]");
    /* the Content-Type says json: values are JSON-escaped and the body is valid JSON */
    assert_string_equal(n->body,
                        "{\"name\":\"A \\\"q\\\" & B/C\",\"desc\":\"line1\\nline2\","
                        "\"msg\":\"rt = 250.5 GT 100\",\"value\":250.5,\"threshold\":100,"
                        "\"ts\":1700000001000,\"host\":\"web 1\\r\\nX-Evil: yes\"}");
    assert_json_eq(n->body, "{`name`:`A \\`q\\` & B/C`,`desc`:`line1\\nline2`,"
                            "`msg`:`rt = 250.5 GT 100`,`value`:250.5,`threshold`:100,"
                            "`ts`:1700000001000,`host`:`web 1\\r\\nX-Evil: yes`}");

    /* No json Content-Type: values go in as they are. */
    n = notif(f, 1);
    assert_string_equal(n->url, "http://plain/");
    assert_string_equal(n->method, "POST");
    assert_json_eq(n->headers_json, "[]");
    assert_string_equal(n->body, "A \"q\" & B/C | line1\nline2");
}

static void test_render_failures_and_other_notifiers(void **state)
{
    struct fx *f = *state;
    const struct notify_rec *n;

    f->cfg.max_render = 64;
    restart(f);
    put_trig(f, "big", "S", RT_GT_100,
             ",`notifications`:[{`type`:`webhook-notifier`,`configuration`:{`url`:`http://h/`,"
             "`body`:`${notification.properties['blob']}`}},"
             "{`type`:`email-notifier`,`configuration`:{`to`:`a@b`}},"
             "{`type`:`slack-notifier`,`configuration`:{`token`:`xoxb-1`,`channel`:`#ops`,"
             "`message`:`${alert.name}: ${alert.severity}`}}]",
             T0);
    clear(f);
    event(f, T0 + 1, "S",
          "{`rt`:200,`blob`:`0123456789012345678901234567890123456789012345678901234567890123"
          "456789`}");
    expect(f, 1, 3);
    /* Too large to render: kept, as failed, so the loss is visible. */
    n = notif(f, 0);
    assert_int_equal(n->status, NOTIFY_FAILED);
    assert_non_null(n->last_error);
    assert_non_null(strstr(n->last_error, "too large"));
    assert_string_equal(n->body, "");
    assert_int_equal(stats(f).render_errors, 1);
    /* An unsupported notifier is recorded as failed too. */
    n = notif(f, 1);
    assert_string_equal(n->channel, "email-notifier");
    assert_int_equal(n->status, NOTIFY_FAILED);
    assert_non_null(strstr(n->last_error, "not supported"));
    /* Slack: chat.postMessage with the channel and the rendered text. */
    n = notif(f, 2);
    assert_string_equal(n->channel, "slack-notifier");
    assert_int_equal(n->status, NOTIFY_PENDING);
    assert_string_equal(n->url, "https://slack.com/api/chat.postMessage");
    assert_json_eq(n->headers_json, "[{`name`:`Authorization`,`value`:`Bearer xoxb-1`}]");
    assert_json_eq(n->body, "{`channel`:`#ops`,`text`:`big: info`}");
    assert_int_equal(stats(f).notifications, 3);
}

/* ---- single-event conditions ---- */

struct cond_case {
    const char *cond;
    const char *no;  /* properties that make it false */
    const char *yes; /* properties that make it true */
};

static void test_single_conditions(void **state)
{
    struct fx *f = *state;
    static const struct cond_case cases[] = {
        {"{`type`:`STRING`,`property`:`path`,`operator`:`EQUALS`,`pattern`:`/a`}",
         "{`path`:`/A`}", "{`path`:`/a`}"},
        {"{`type`:`STRING`,`property`:`path`,`operator`:`EQUALS`,`pattern`:`/a`,"
         "`ignoreCase`:true}",
         "{`path`:`/b`}", "{`path`:`/A`}"},
        {"{`type`:`STRING`,`property`:`path`,`operator`:`NOT_EQUALS`,`pattern`:`/a`}",
         "{`path`:`/a`}", "{`path`:`/b`}"},
        {"{`type`:`STRING`,`property`:`path`,`operator`:`STARTS_WITH`,`pattern`:`/api`}",
         "{`path`:`/ap`}", "{`path`:`/api/x`}"},
        {"{`type`:`STRING`,`property`:`path`,`operator`:`ENDS_WITH`,`pattern`:`.json`}",
         "{`path`:`a.jso`}", "{`path`:`a.json`}"},
        {"{`type`:`STRING`,`property`:`path`,`operator`:`CONTAINS`,`pattern`:`err`}",
         "{`path`:`fine`}", "{`path`:`an error`}"},
        {"{`type`:`STRING`,`property`:`path`,`operator`:`MATCHES`,`pattern`:`/u/[0-9]+`}",
         "{`path`:`/u/12/x`}", "{`path`:`/u/12`}"},
        {"{`type`:`STRING_COMPARE`,`property`:`a`,`operator`:`EQUALS`,`property2`:`b`}",
         "{`a`:`x`,`b`:`y`}", "{`a`:`x`,`b`:`x`}"},
        {"{`type`:`THRESHOLD`,`property`:`rt`,`operator`:`GTE`,`threshold`:10}", "{`rt`:9}",
         "{`rt`:10}"},
        {"{`type`:`THRESHOLD_RANGE`,`property`:`rt`,`operatorLow`:`EXCLUSIVE`,"
         "`thresholdLow`:10,`operatorHigh`:`INCLUSIVE`,`thresholdHigh`:20}",
         "{`rt`:10}", "{`rt`:20}"},
        {"{`type`:`COMPARE`,`property`:`rt`,`operator`:`GT`,`multiplier`:2,"
         "`property2`:`avg`}",
         "{`rt`:20,`avg`:10}", "{`rt`:21,`avg`:10}"},
        {"{`type`:`threshold`,`property`:`rt`,`operator`:`lt`,`threshold`:5}", "{`rt`:`5`}",
         "{`rt`:`4.5`}"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char id[16], src[16], conds[512];
        snprintf(id, sizeof(id), "c%zu", i);
        snprintf(src, sizeof(src), "SRC%zu", i);
        snprintf(conds, sizeof(conds), "[%s]", cases[i].cond);
        put_trig(f, id, src, conds, "", T0);
        clear(f);
        event(f, T0 + 1, src, cases[i].no);
        if (f->fx.n)
            fail_msg("case %zu (%s): fired on %s", i, cases[i].cond, cases[i].no);
        event(f, T0 + 2, src, "{}"); /* the property is missing: false */
        if (f->fx.n)
            fail_msg("case %zu (%s): fired without the property", i, cases[i].cond);
        event(f, T0 + 3, src, cases[i].yes);
        if (count(f, EFF_ALERT) != 1)
            fail_msg("case %zu (%s): did not fire on %s", i, cases[i].cond, cases[i].yes);
        assert_string_equal(alert(f, 0)->trigger_id, id);
        clear(f);
    }
    assert_int_equal(stats(f).alerts_open, sizeof(cases) / sizeof(cases[0]));
}

static void test_and_or(void **state)
{
    struct fx *f = *state;
    const char *two = "[{`type`:`THRESHOLD`,`property`:`rt`,`operator`:`GT`,`threshold`:1000},"
                      "{`type`:`STRING`,`property`:`status`,`operator`:`EQUALS`,"
                      "`pattern`:`500`}]";

    put_trig(f, "and", "A", two, HOOK("${notification.message}"), T0);
    put_trig(f, "or", "O", two, ",`conditionsOperator`:`OR`" HOOK("${notification.message}"),
             T0);
    clear(f);

    /* Only the first holds. */
    event(f, T0 + 1, "A", "{`rt`:2000,`status`:200}");
    expect(f, 0, 0);
    event(f, T0 + 1, "O", "{`rt`:2000,`status`:200}");
    expect(f, 1, 1);
    assert_string_equal(notif(f, 0)->body, "rt = 2000 GT 1000");
    clear(f);

    /* Only the second holds: OR reports the one that held. */
    event(f, T0 + 2, "A", "{`rt`:10,`status`:500}");
    expect(f, 0, 0);
    event(f, T0 + 2, "O", "{`rt`:10,`status`:500}");
    expect(f, 1, 1);
    assert_string_equal(notif(f, 0)->body, "status EQUALS '500'");
    clear(f);

    /* Neither / both. */
    event(f, T0 + 3, "O", "{`rt`:10,`status`:200}");
    expect(f, 0, 0);
    event(f, T0 + 3, "A", "{`rt`:2000,`status`:`500`}");
    expect(f, 1, 1);
    assert_string_equal(notif(f, 0)->body, "rt = 2000 GT 1000");
}

static void test_filters_and_sources(void **state)
{
    struct fx *f = *state;
    struct engine_stats st;

    put_trig(f, "filtered", "REQUEST", RT_GT_100,
             ",`filters`:[{`type`:`STRING`,`property`:`installation`,`operator`:`EQUALS`,"
             "`pattern`:`i1`},{`type`:`THRESHOLD`,`property`:`status`,`operator`:`GTE`,"
             "`threshold`:500}]",
             T0);
    clear(f);

    event(f, T0 + 1, "REQUEST", "{`rt`:500,`status`:503,`installation`:`i2`}");
    event(f, T0 + 1, "REQUEST", "{`rt`:500,`status`:200,`installation`:`i1`}");
    event(f, T0 + 1, "REQUEST", "{`rt`:500,`status`:503}");
    event(f, T0 + 1, "OTHER", "{`rt`:500,`status`:503,`installation`:`i1`}");
    expect(f, 0, 0);
    st = stats(f);
    assert_int_equal(st.events, 4);
    assert_int_equal(st.evaluations, 0); /* filtered events are not evaluated */

    /* The filter sees context entries, copied into the properties. */
    ingest(f, T0 + 2, "{`type`:`REQUEST`,`context`:{`installation`:`i1`},"
                      "`properties`:{`rt`:500,`status`:503}}");
    expect(f, 1, 0);
    st = stats(f);
    assert_int_equal(st.evaluations, 1);
    assert_int_equal(st.fired, 1);
    clear(f);

    /* A batch: only the events of the trigger's source that pass the filters count. */
    ingest(f, T0 + 3,
           "[{`type`:`REQUEST`,`properties`:{`rt`:5,`status`:503,`installation`:`i1`}},"
           "{`type`:`HEALTH`,`properties`:{`rt`:500,`status`:503,`installation`:`i1`}},"
           "{`type`:`REQUEST`,`properties`:{`rt`:600,`status`:503,`installation`:`i1`}}]");
    expect(f, 1, 0);
    assert_int_equal(alert(f, 0)->count, 2);
    assert_int_equal(stats(f).events, 8);
}

static void test_dampening_through_engine(void **state)
{
    struct fx *f = *state;

    put_trig(f, "sc", "SC", RT_GT_100,
             ",`dampening`:{`mode`:`strict_count`,`trueEvaluations`:3}", T0);
    put_trig(f, "rc", "RC", RT_GT_100,
             ",`dampening`:{`mode`:`RELAXED_COUNT`,`trueEvaluations`:2,`totalEvaluations`:3}",
             T0);
    put_trig(f, "st", "ST", RT_GT_100, ",`dampening`:{`mode`:`STRICT_TIME`,`duration`:1,"
                                       "`timeUnit`:`SECONDS`}",
             T0);
    put_trig(f, "rt", "RT", RT_GT_100,
             ",`dampening`:{`mode`:`RELAXED_TIME`,`trueEvaluations`:2,`duration`:500}", T0);
    clear(f);

    /* STRICT_COUNT 3 */
    event(f, T0 + 1, "SC", "{`rt`:200}");
    event(f, T0 + 2, "SC", "{`rt`:200}");
    event(f, T0 + 3, "SC", "{`rt`:20}"); /* resets */
    event(f, T0 + 4, "SC", "{`rt`:200}");
    event(f, T0 + 5, "SC", "{`rt`:200}");
    expect(f, 0, 0);
    event(f, T0 + 6, "SC", "{`rt`:200}");
    expect(f, 1, 0);
    clear(f);

    /* RELAXED_COUNT 2 of 3 */
    event(f, T0 + 1, "RC", "{`rt`:200}");
    event(f, T0 + 2, "RC", "{`rt`:20}");
    event(f, T0 + 3, "RC", "{`rt`:20}");
    event(f, T0 + 4, "RC", "{`rt`:200}"); /* the first true slid out: 1 of 3 */
    expect(f, 0, 0);
    event(f, T0 + 5, "RC", "{`rt`:20}");
    event(f, T0 + 6, "RC", "{`rt`:200}"); /* T F T */
    expect(f, 1, 0);
    clear(f);

    /* STRICT_TIME 1 s */
    event(f, T0 + 1000, "ST", "{`rt`:200}");
    event(f, T0 + 1999, "ST", "{`rt`:200}");
    expect(f, 0, 0);
    event(f, T0 + 2000, "ST", "{`rt`:200}");
    expect(f, 1, 0);
    clear(f);

    /* RELAXED_TIME 2 in 500 ms */
    event(f, T0 + 3000, "RT", "{`rt`:200}");
    event(f, T0 + 3501, "RT", "{`rt`:200}");
    expect(f, 0, 0);
    event(f, T0 + 3900, "RT", "{`rt`:200}");
    expect(f, 1, 0);
}

/* ---- window conditions ---- */

static void test_aggregation_count_per_key(void **state)
{
    struct fx *f = *state;
    const int64_t t = T0 + SEC;

    put_trig(f, "cnt", "S",
             "[{`type`:`AGGREGATION`,`function`:`COUNT`,`operator`:`GTE`,`threshold`:3,"
             "`duration`:10,`timeUnit`:`SECONDS`,"
             "`projections`:[{`type`:`PROPERTY`,`property`:`api`}]}]",
             HOOK("${alert.name} ${notification.message} ${notification.result.value}"), T0);
    clear(f);

    ingest(f, t, "[{`type`:`S`,`properties`:{`api`:`a`}},{`type`:`S`,`properties`:{`api`:`a`}},"
                 "{`type`:`S`,`properties`:{`api`:`b`}},{`type`:`S`,`properties`:{`api`:`a`}}]");
    expect(f, 0, 0); /* windows are evaluated on their tick, not per event */
    advance(f, t + 10 * SEC - 1);
    expect(f, 0, 0);
    advance(f, t + 10 * SEC);
    expect(f, 1, 1);
    assert_json_eq(alert(f, 0)->projection_json, "{`api`:`a`}");
    assert_json_eq(alert(f, 0)->properties_json, "{`api`:`a`}");
    assert_string_equal(alert(f, 0)->message, "COUNT(events) = 3 GTE 3");
    assert_int_equal(alert(f, 0)->first_ms, t + 10 * SEC);
    assert_string_equal(notif(f, 0)->body, "cnt COUNT(events) = 3 GTE 3 3");
    clear(f);

    /* Key b reaches 3 within its window; a's window moves on. */
    event(f, t + 11 * SEC, "S", "{`api`:`b`}");
    event(f, t + 12 * SEC, "S", "{`api`:`b`}");
    event(f, t + 12 * SEC, "S", "{`api`:`b`}");
    advance(f, t + 20 * SEC);
    expect(f, 1, 1); /* b: 3 events in (t+10s, t+20s]; a: none */
    assert_json_eq(alert(f, 0)->projection_json, "{`api`:`b`}");
    assert_int_equal(stats(f).alerts_open, 2);
}

static void test_aggregation_first_event_at_slice_end(void **state)
{
    struct fx *f = *state;
    /* A 10 s window has 167 ms slices; this event is the last ms of its slice, so a window
     * queried exactly 10 s later (t + duration) has already dropped it. */
    const int64_t t = (T0 / 167 + 10) * 167 + 166;

    put_trig(f, "edge", "S",
             "[{`type`:`AGGREGATION`,`function`:`COUNT`,`operator`:`GTE`,`threshold`:2,"
             "`duration`:10,`timeUnit`:`SECONDS`,`projections`:[{`property`:`api`}]}]",
             "", T0);
    clear(f);
    ingest(f, t, "[{`type`:`S`,`properties`:{`api`:`a`}},{`type`:`S`,`properties`:{`api`:`a`}}]");
    advance(f, t + 10 * SEC);
    /* The burst that opened the key is what the first tick must see. */
    expect(f, 1, 0);
}

static void test_aggregation_avg_p99(void **state)
{
    struct fx *f = *state;
    const int64_t t = T0 + SEC;
    struct buf b;
    char *s;
    const struct notify_rec *n;
    double v;

    put_trig(f, "avg", "S",
             "[{`type`:`AGGREGATION`,`function`:`AVG`,`property`:`rt`,`operator`:`GT`,"
             "`threshold`:100,`duration`:5,`timeUnit`:`SECONDS`,"
             "`projections`:[{`property`:`api`}]}]",
             HOOK("${notification.message}"), T0);
    put_trig(f, "p99", "P",
             "[{`type`:`AGGREGATION`,`function`:`P99`,`property`:`rt`,`operator`:`GT`,"
             "`threshold`:900,`duration`:5,`timeUnit`:`SECONDS`,"
             "`projections`:[{`property`:`api`}]}]",
             HOOK("${notification.result.value}|${notification.result.threshold}"), T0);
    clear(f);

    /* AVG: a = (50 + 250) / 2 = 150 > 100, b = 75; events without rt do not count. */
    ingest(f, t, "[{`type`:`S`,`properties`:{`api`:`a`,`rt`:50}},"
                 "{`type`:`S`,`properties`:{`api`:`a`,`rt`:250}},"
                 "{`type`:`S`,`properties`:{`api`:`a`}},"
                 "{`type`:`S`,`properties`:{`api`:`a`,`rt`:`x`}},"
                 "{`type`:`S`,`properties`:{`api`:`b`,`rt`:50}},"
                 "{`type`:`S`,`properties`:{`api`:`b`,`rt`:100}}]");
    /* P99: a = 10, 20, ..., 1000 (p99 = 990), b = 100 values of 100. */
    buf_init(&b, 1 << 16);
    buf_putc(&b, '[');
    for (int i = 1; i <= 100; i++)
        buf_printf(&b, "%s{`type`:`P`,`properties`:{`api`:`a`,`rt`:%d}},"
                       "{`type`:`P`,`properties`:{`api`:`b`,`rt`:100}}",
                   i > 1 ? "," : "", i * 10);
    buf_putc(&b, ']');
    s = buf_steal(&b);
    {
        /* ingest() takes at most 64 events: feed them in chunks through the JSON array */
        json_t *all = load(s), *chunk;
        size_t i;
        json_t *ev;
        chunk = json_array();
        json_array_foreach(all, i, ev) {
            json_array_append(chunk, ev);
            if (json_array_size(chunk) == 50 || i + 1 == json_array_size(all)) {
                char *cs = json_dumps(chunk, JSON_COMPACT);
                ingest(f, t, cs);
                free(cs);
                json_array_clear(chunk);
            }
        }
        json_decref(chunk);
        json_decref(all);
    }
    free(s);
    expect(f, 0, 0);

    advance(f, t + 5 * SEC);
    expect(f, 2, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct alert_rec *a = alert(f, i);
        n = notif(f, i);
        if (strcmp(a->trigger_id, "avg") == 0) {
            assert_json_eq(a->projection_json, "{`api`:`a`}");
            assert_string_equal(n->body, "AVG(rt) = 150 GT 100");
        } else {
            assert_string_equal(a->trigger_id, "p99");
            assert_json_eq(a->projection_json, "{`api`:`a`}");
            /* within 1% of the exact 990 */
            v = strtod(n->body, NULL);
            if (!(fabs(v - 990) <= 9.9))
                fail_msg("p99 = %s", n->body);
            assert_non_null(strstr(n->body, "|900"));
        }
    }
}

static void test_rate_sample_size(void **state)
{
    struct fx *f = *state;
#define RATE_GT_50(n)                                                                            \
    "[{`type`:`RATE`,`operator`:`GT`,`threshold`:50,`duration`:10,`timeUnit`:`SECONDS`,"        \
    "`sampleSize`:" n ",`comparison`:{`type`:`THRESHOLD`,`property`:`rt`,`operator`:`GTE`,"     \
    "`threshold`:500}}]"

    put_trig(f, "rate3", "S", RATE_GT_50("3"), HOOK("${notification.message}"), T0);
    put_trig(f, "rate4", "S", RATE_GT_50("4"), "", T0);
    put_trig(f, "ratelow", "S",
             "[{`type`:`RATE`,`operator`:`LT`,`threshold`:40,`duration`:10,"
             "`timeUnit`:`SECONDS`,`comparison`:{`type`:`THRESHOLD`,`property`:`rt`,"
             "`operator`:`GTE`,`threshold`:500}}]",
             "", T0);
    clear(f);

    /* 2 of 3 slow: 66.7 % > 50 %, with 3 samples (enough for rate3, not for rate4);
     * not below 40 %. Unkeyed windows tick from the time the trigger was put. */
    ingest(f, T0 + SEC, "[{`type`:`S`,`properties`:{`rt`:600}},"
                        "{`type`:`S`,`properties`:{`rt`:100}},"
                        "{`type`:`S`,`properties`:{`rt`:500}}]");
    advance(f, T0 + 10 * SEC);
    expect(f, 1, 1);
    assert_string_equal(alert(f, 0)->trigger_id, "rate3");
    assert_string_equal(notif(f, 0)->body, "Rate = 66.6667% GT 50%");
    clear(f);

    /* Next window: 1 of 4 slow = 25 %: only "below 40 %" holds, and rate4 has its 4 samples
     * but 25 % is not above 50 %. */
    ingest(f, T0 + 11 * SEC, "[{`type`:`S`,`properties`:{`rt`:600}},"
                             "{`type`:`S`,`properties`:{`rt`:100}},"
                             "{`type`:`S`,`properties`:{`rt`:100}},"
                             "{`type`:`S`,`properties`:{`rt`:100}}]");
    advance(f, T0 + 20 * SEC);
    expect(f, 1, 0);
    assert_string_equal(alert(f, 0)->trigger_id, "ratelow");
    assert_string_equal(alert(f, 0)->message, "Rate = 25% LT 40%");
}

static void test_missing_data_unkeyed(void **state)
{
    struct fx *f = *state;
    int64_t d;

    put_trig(f, "md", "HB", "[{`type`:`MISSING_DATA`,`duration`:5,`timeUnit`:`SECONDS`}]",
             HOOK("${alert.name}: ${notification.message}"), T0);
    clear(f);
    d = engine_next_deadline(f->e);
    assert_true(d > T0 && d <= T0 + 5 * SEC);

    /* No event at all: the timer fires it. */
    advance(f, T0 + 5 * SEC - 1);
    expect(f, 0, 0);
    advance(f, T0 + 5 * SEC);
    expect(f, 1, 1);
    assert_int_equal(alert(f, 0)->status, ALERT_OPEN);
    assert_json_eq(alert(f, 0)->projection_json, "{}");
    assert_string_equal(alert(f, 0)->message, "No event received for 5000 ms");
    assert_string_equal(notif(f, 0)->body, "md: No event received for 5000 ms");
    clear(f);

    /* Still nothing: it fires again every window. */
    advance(f, T0 + 10 * SEC);
    expect(f, 1, 1);
    assert_int_equal(alert(f, 0)->count, 2);
    clear(f);

    /* An event: false now, and the clock restarts from it. */
    event(f, T0 + 12 * SEC, "HB", "{}");
    expect(f, 0, 0);
    advance(f, T0 + 15 * SEC);
    expect(f, 0, 0);
    advance(f, T0 + 17 * SEC - 1);
    expect(f, 0, 0);
    advance(f, T0 + 17 * SEC);
    expect(f, 1, 1);
    assert_int_equal(alert(f, 0)->count, 3);
    clear(f);

    /* Events of another source do not count as data. */
    event(f, T0 + 18 * SEC, "OTHER", "{}");
    advance(f, T0 + 22 * SEC);
    expect(f, 1, 1);
}

static void test_missing_data_reset_by_event(void **state)
{
    struct fx *f = *state;

    put_trig(f, "md", "HB", "[{`type`:`MISSING_DATA`,`duration`:5,`timeUnit`:`SECONDS`}]",
             ",`filters`:[{`type`:`STRING`,`property`:`env`,`operator`:`EQUALS`,"
             "`pattern`:`prod`}]",
             T0);
    clear(f);
    event(f, T0 + 3 * SEC, "HB", "{`env`:`prod`}");
    advance(f, T0 + 5 * SEC);
    expect(f, 0, 0); /* the event at 3 s moved the deadline to 8 s */
    event(f, T0 + 6 * SEC, "HB", "{`env`:`dev`}"); /* filtered out: no data */
    advance(f, T0 + 8 * SEC - 1);
    expect(f, 0, 0);
    advance(f, T0 + 8 * SEC);
    expect(f, 1, 0);
}

static void test_missing_data_per_key(void **state)
{
    struct fx *f = *state;

    put_trig(f, "mdk", "HB",
             "[{`type`:`MISSING_DATA`,`duration`:5,`timeUnit`:`SECONDS`,"
             "`projections`:[{`property`:`node.hostname`}]}]",
             "", T0);
    clear(f);
    /* No key seen yet: nothing to miss. */
    assert_int_equal(engine_next_deadline(f->e), INT64_MAX);
    advance(f, T0 + 100 * SEC);
    expect(f, 0, 0);

    const int64_t t = T0 + 100 * SEC;
    ingest(f, t + 1 * SEC, "{`type`:`HB`,`context`:{`node.hostname`:`h1`}}");
    ingest(f, t + 2 * SEC, "{`type`:`HB`,`context`:{`node.hostname`:`h2`}}");
    ingest(f, t + 5 * SEC, "{`type`:`HB`,`context`:{`node.hostname`:`h1`}}");
    expect(f, 0, 0);
    advance(f, t + 7 * SEC);
    expect(f, 1, 0); /* h2: silent since t+2s */
    assert_json_eq(alert(f, 0)->projection_json, "{`node.hostname`:`h2`}");
    clear(f);
    advance(f, t + 10 * SEC);
    expect(f, 1, 0); /* h1: silent since t+5s */
    assert_json_eq(alert(f, 0)->projection_json, "{`node.hostname`:`h1`}");
    assert_int_equal(alert(f, 0)->count, 1);
    clear(f);
    advance(f, t + 12 * SEC);
    expect(f, 1, 0); /* h2 again */
    assert_json_eq(alert(f, 0)->projection_json, "{`node.hostname`:`h2`}");
    assert_int_equal(alert(f, 0)->count, 2);
    assert_int_equal(stats(f).alerts_open, 2);
}

static void test_window_dampening(void **state)
{
    struct fx *f = *state;

    /* Dampening counts window evaluations (ticks). */
    put_trig(f, "md2", "HB", "[{`type`:`MISSING_DATA`,`duration`:1,`timeUnit`:`SECONDS`}]",
             ",`dampening`:{`mode`:`STRICT_COUNT`,`trueEvaluations`:3}", T0);
    clear(f);
    advance(f, T0 + 1 * SEC);
    advance(f, T0 + 2 * SEC);
    expect(f, 0, 0);
    advance(f, T0 + 3 * SEC);
    expect(f, 1, 0);
}

static void test_window_or(void **state)
{
    struct fx *f = *state;

    /* Window conditions combine with OR too: too many events, or none at all. */
    put_trig(f, "wor", "S",
             "[{`type`:`AGGREGATION`,`function`:`COUNT`,`operator`:`GT`,`threshold`:2,"
             "`duration`:2,`timeUnit`:`SECONDS`},"
             "{`type`:`MISSING_DATA`,`duration`:2,`timeUnit`:`SECONDS`}]",
             ",`conditionsOperator`:`OR`", T0);
    clear(f);
    event(f, T0 + 500, "S", "{}");
    advance(f, T0 + 2 * SEC); /* one event: neither */
    expect(f, 0, 0);
    advance(f, T0 + 4 * SEC); /* none for 2 s: missing */
    expect(f, 1, 0);
    assert_string_equal(alert(f, 0)->message, "No event received for 2000 ms");
    clear(f);
    ingest(f, T0 + 5 * SEC, "[{`type`:`S`},{`type`:`S`},{`type`:`S`}]");
    advance(f, T0 + 6 * SEC); /* 3 events: too many */
    expect(f, 1, 0);
    assert_string_equal(alert(f, 0)->message, "COUNT(events) = 3 GT 2");
}

static void test_window_mixed_missing_needs_full_duration(void **state)
{
    struct fx *f = *state;

    /* AGGREGATION ticks every 1 s, but MISSING_DATA must see 5 s without events. */
    put_trig(f, "mix", "S",
             "[{`type`:`AGGREGATION`,`function`:`COUNT`,`operator`:`GT`,`threshold`:100,"
             "`duration`:1,`timeUnit`:`SECONDS`},"
             "{`type`:`MISSING_DATA`,`duration`:5,`timeUnit`:`SECONDS`}]",
             ",`conditionsOperator`:`OR`", T0);
    clear(f);
    for (int64_t s = 1; s < 5; s++) {
        advance(f, T0 + s * SEC);
        if (f->fx.n)
            fail_msg("fired after %lld s without data (MISSING_DATA is 5 s)", (long long)s);
    }
    advance(f, T0 + 5 * SEC);
    expect(f, 1, 0);
}

static void test_window_keyed_missing_outlives_window(void **state)
{
    struct fx *f = *state;
    const int64_t t = T0 + SEC;

    /* Per host: a burst (COUNT over 1 s) or silence for 5 s. The 1 s window empties long before
     * the 5 s of silence are up; the key must still be watched. */
    put_trig(f, "kmix", "HB",
             "[{`type`:`AGGREGATION`,`function`:`COUNT`,`operator`:`GT`,`threshold`:100,"
             "`duration`:1,`timeUnit`:`SECONDS`,`projections`:[{`property`:`host`}]},"
             "{`type`:`MISSING_DATA`,`duration`:5,`timeUnit`:`SECONDS`,"
             "`projections`:[{`property`:`host`}]}]",
             ",`conditionsOperator`:`OR`", T0);
    clear(f);
    event(f, t, "HB", "{`host`:`h1`}");
    for (int64_t s = 1; s < 5; s++) {
        advance(f, t + s * SEC);
        if (f->fx.n)
            fail_msg("fired %lld s after the last event", (long long)s);
    }
    advance(f, t + 5 * SEC);
    expect(f, 1, 0);
    assert_json_eq(alert(f, 0)->projection_json, "{`host`:`h1`}");
    assert_string_equal(alert(f, 0)->message, "No event received for 5000 ms");
}

static void test_window_late_advance(void **state)
{
    struct fx *f = *state;
    const int64_t t = T0 + SEC;

    /* The daemon may wake up late: the tick still reads the window as it was when due. */
    put_trig(f, "late", "S",
             "[{`type`:`AGGREGATION`,`function`:`COUNT`,`operator`:`GTE`,`threshold`:2,"
             "`duration`:10,`timeUnit`:`SECONDS`,`projections`:[{`property`:`api`}]}]",
             "", T0);
    clear(f);
    ingest(f, t, "[{`type`:`S`,`properties`:{`api`:`a`}},{`type`:`S`,`properties`:{`api`:`a`}}]");
    advance(f, t + 10 * SEC + 900);
    expect(f, 1, 0);
    assert_string_equal(alert(f, 0)->message, "COUNT(events) = 2 GTE 2");
    assert_int_equal(alert(f, 0)->first_ms, t + 10 * SEC + 900);
}

/* ---- notification periods ---- */

static void test_trigger_periods(void **state)
{
    struct fx *f = *state;
    const int64_t day = utc(2023, 11, 15, 0, 0, 0); /* a Wednesday */

    put_trig(f, "office", "S", RT_GT_100,
             ",`notificationPeriods`:[{`zoneId`:`UTC`,`beginHour`:28800,`endHour`:64800}]"
             HOOK("x"),
             T0);
    clear(f);
    event(f, day + 8 * 3600 * SEC - 1, "S", "{`rt`:200}");
    expect(f, 1, 0); /* the alert is raised, the notification is not sent */
    clear(f);
    event(f, day + 8 * 3600 * SEC, "S", "{`rt`:200}");
    expect(f, 1, 1);
    clear(f);
    event(f, day + 18 * 3600 * SEC + 999, "S", "{`rt`:200}");
    expect(f, 1, 1);
    clear(f);
    event(f, day + 18 * 3600 * SEC + 1000, "S", "{`rt`:200}");
    expect(f, 1, 0);
    assert_int_equal(alert(f, 0)->count, 4);
}

static void test_notification_periods(void **state)
{
    struct fx *f = *state;
    const int64_t day = utc(2023, 11, 15, 0, 0, 0);

    put_trig(f, "two", "S", RT_GT_100,
             ",`notifications`:[{`type`:`webhook-notifier`,"
             "`configuration`:{`url`:`http://always/`}},"
             "{`type`:`webhook-notifier`,`periods`:[{`days`:[3],`zoneId`:`UTC`,"
             "`beginHour`:3600,`endHour`:7200}],`configuration`:{`url`:`http://night/`}}]",
             T0);
    clear(f);
    event(f, day + 1800 * SEC, "S", "{`rt`:200}");
    expect(f, 1, 1);
    assert_string_equal(notif(f, 0)->url, "http://always/");
    clear(f);
    event(f, day + 3600 * SEC, "S", "{`rt`:200}");
    expect(f, 1, 2);
    assert_string_equal(notif(f, 1)->url, "http://night/");
    clear(f);
    event(f, day + 24 * 3600 * SEC + 3600 * SEC, "S", "{`rt`:200}"); /* Thursday */
    expect(f, 1, 1);
}

static void test_periods_across_midnight_in_zone(void **state)
{
    struct fx *f = *state;
    /* Paris is UTC+1 in November. The range: Friday 2023-11-17 22:00 .. Saturday 06:00 local. */
    const struct {
        int64_t at;
        bool notify;
        const char *what;
    } steps[] = {
        {utc(2023, 11, 17, 4, 0, 0), false, "Fri 05:00 Paris (Thursday's range)"},
        {utc(2023, 11, 17, 20, 59, 59), false, "Fri 21:59:59 Paris"},
        {utc(2023, 11, 17, 21, 0, 0), true, "Fri 22:00 Paris"},
        {utc(2023, 11, 17, 22, 0, 0), true, "Fri 23:00 Paris"},
        {utc(2023, 11, 17, 23, 30, 0), true, "Sat 00:30 Paris (past midnight)"},
        {utc(2023, 11, 18, 4, 0, 0), true, "Sat 05:00 Paris"},
        {utc(2023, 11, 18, 5, 0, 0), true, "Sat 06:00:00 Paris (end inclusive)"},
        {utc(2023, 11, 18, 5, 0, 1), false, "Sat 06:00:01 Paris"},
        {utc(2023, 11, 18, 22, 0, 0), false, "Sat 23:00 Paris (Saturday not allowed)"},
    };

    put_trig(f, "night", "S", RT_GT_100,
             ",`notificationPeriods`:[{`days`:[5],`zoneId`:`Europe/Paris`,`beginHour`:79200,"
             "`endHour`:21600}]" HOOK("${alert.name}"),
             T0);
    clear(f);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        event(f, steps[i].at, "S", "{`rt`:200}");
        if (count(f, EFF_ALERT) != 1)
            fail_msg("%s: no alert", steps[i].what);
        if ((count(f, EFF_NOTIFY) == 1) != steps[i].notify)
            fail_msg("%s: notified=%zu, want %d", steps[i].what, count(f, EFF_NOTIFY),
                     steps[i].notify);
        clear(f);
    }
}

/* ---- auto-resolve ---- */

static void test_auto_resolve_notify(void **state)
{
    struct fx *f = *state;
    const int64_t t = T0 + SEC;
    char id[64];

    put_trig(f, "res", "S", RT_GT_100,
             ",`resolveAfter`:{`duration`:30,`timeUnit`:`SECONDS`},`notifyOnResolve`:true"
             HOOK("${alert.status}|${alert.name}|${notification.message}"),
             T0);
    clear(f);
    event(f, t, "S", "{`rt`:200,`api`:`x`}");
    expect(f, 1, 1);
    assert_string_equal(notif(f, 0)->body, "open|res|rt = 200 GT 100");
    snprintf(id, sizeof(id), "%s", alert(f, 0)->id);
    clear(f);

    event(f, t + SEC, "S", "{`rt`:50}"); /* false: the resolve clock starts */
    event(f, t + 2 * SEC, "S", "{`rt`:60}"); /* false again: the clock is not restarted */
    expect(f, 0, 0);
    assert_true(engine_next_deadline(f->e) <= t + 31 * SEC);
    advance(f, t + 31 * SEC - 1);
    expect(f, 0, 0);
    advance(f, t + 31 * SEC);
    expect(f, 1, 1);
    assert_int_equal(alert(f, 0)->status, ALERT_RESOLVED);
    assert_string_equal(alert(f, 0)->id, id);
    assert_int_equal(alert(f, 0)->resolved_ms, t + 31 * SEC);
    assert_string_equal(notif(f, 0)->body, "resolved|res|Resolved: trigger 'res' no longer holds");
    assert_true(notif(f, 0)->resolve);
    assert_string_equal(notif(f, 0)->alert_id, id);
    assert_int_equal(stats(f).alerts_open, 0);
}

static void test_auto_resolve_cancelled(void **state)
{
    struct fx *f = *state;
    const int64_t t = T0 + SEC;

    put_trig(f, "res2", "S", RT_GT_100,
             ",`resolveAfter`:{`duration`:30,`timeUnit`:`SECONDS`},"
             "`dampening`:{`mode`:`STRICT_COUNT`,`trueEvaluations`:2}",
             T0);
    clear(f);
    event(f, t, "S", "{`rt`:200}");
    event(f, t + 1, "S", "{`rt`:200}");
    expect(f, 1, 0);
    clear(f);
    event(f, t + SEC, "S", "{`rt`:50}");      /* arms the resolve for t+31s */
    event(f, t + 2 * SEC, "S", "{`rt`:500}"); /* true (not enough to fire): cancels it */
    advance(f, t + 40 * SEC);
    expect(f, 0, 0);
    assert_int_equal(stats(f).alerts_open, 1);

    event(f, t + 41 * SEC, "S", "{`rt`:50}"); /* false again: resolves 30 s later */
    advance(f, t + 71 * SEC - 1);
    expect(f, 0, 0);
    advance(f, t + 71 * SEC);
    expect(f, 1, 0);
    assert_int_equal(alert(f, 0)->status, ALERT_RESOLVED);
}

static void test_resolve_after_zero_and_default(void **state)
{
    struct fx *f = *state;

    put_trig(f, "now", "N", RT_GT_100,
             ",`resolveAfter`:{`duration`:0},`notifyOnResolve`:true" HOOK("${alert.status}"),
             T0);
    put_trig(f, "dflt", "D", RT_GT_100, "", T0);
    clear(f);
    event(f, T0 + 1, "N", "{`rt`:200}");
    event(f, T0 + 1, "D", "{`rt`:200}");
    expect(f, 2, 1);
    clear(f);
    event(f, T0 + 2, "N", "{`rt`:20}");
    expect(f, 1, 1); /* resolved at once */
    assert_int_equal(alert(f, 0)->status, ALERT_RESOLVED);
    assert_int_equal(alert(f, 0)->resolved_ms, T0 + 2);
    assert_string_equal(notif(f, 0)->body, "resolved");
    clear(f);
    event(f, T0 + 2, "D", "{`rt`:20}");
    expect(f, 0, 0);
    advance(f, T0 + 2 + 60 * SEC - 1); /* the engine's default: 60 s */
    expect(f, 0, 0);
    advance(f, T0 + 2 + 60 * SEC);
    expect(f, 1, 0);
    assert_string_equal(alert(f, 0)->trigger_id, "dflt");
    assert_int_equal(alert(f, 0)->status, ALERT_RESOLVED);
}

static void test_window_auto_resolve(void **state)
{
    struct fx *f = *state;
    const int64_t t = T0 + SEC;

    put_trig(f, "wres", "S",
             "[{`type`:`AGGREGATION`,`function`:`COUNT`,`operator`:`GTE`,`threshold`:2,"
             "`duration`:10,`timeUnit`:`SECONDS`,`projections`:[{`property`:`api`}]}]",
             ",`resolveAfter`:{`duration`:5,`timeUnit`:`SECONDS`},`notifyOnResolve`:true"
             HOOK("${alert.status} ${notification.properties['api']}"),
             T0);
    clear(f);
    ingest(f, t, "[{`type`:`S`,`properties`:{`api`:`a`}},{`type`:`S`,`properties`:{`api`:`a`}}]");
    advance(f, t + 10 * SEC);
    expect(f, 1, 1);
    assert_string_equal(notif(f, 0)->body, "open a");
    clear(f);
    advance(f, t + 20 * SEC); /* empty window: false, resolve in 5 s */
    expect(f, 0, 0);
    advance(f, t + 25 * SEC);
    expect(f, 1, 1);
    assert_int_equal(alert(f, 0)->status, ALERT_RESOLVED);
    assert_string_equal(notif(f, 0)->body, "resolved a");
    clear(f);
    /* Nothing left to watch for that key. */
    advance(f, t + 100 * SEC);
    expect(f, 0, 0);
    assert_int_equal(stats(f).groups, 0);
}

/* ---- replacing, disabling, deleting ---- */

static void test_replace_keeps_alerts(void **state)
{
    struct fx *f = *state;
    char id[64];

    put_trig(f, "rep", "S",
             "[{`type`:`THRESHOLD`,`property`:`rt`,`operator`:`GT`,`threshold`:100,"
             "`projections`:[{`property`:`api`}]}]",
             "", T0);
    event(f, T0 + 1, "S", "{`rt`:200,`api`:`a`}");
    snprintf(id, sizeof(id), "%s", alert(f, 0)->id);
    clear(f);

    put_trig(f, "rep", "S",
             "[{`type`:`THRESHOLD`,`property`:`rt`,`operator`:`GT`,`threshold`:150,"
             "`projections`:[{`property`:`api`}]}]",
             ",`severity`:`WARNING`", T0 + 2);
    expect(f, 0, 0); /* no resolve */
    assert_int_equal(count(f, EFF_TRIGGER_PUT), 1);
    assert_int_equal(stats(f).alerts_open, 1);
    clear(f);

    event(f, T0 + 3, "S", "{`rt`:120,`api`:`a`}"); /* false under the new threshold */
    expect(f, 0, 0);
    event(f, T0 + 4, "S", "{`rt`:160,`api`:`a`}");
    expect(f, 1, 0);
    assert_string_equal(alert(f, 0)->id, id);
    assert_int_equal(alert(f, 0)->count, 2);
    assert_int_equal(alert(f, 0)->severity, SEV_WARNING);
    assert_int_equal(stats(f).alerts_open, 1);
}

static void test_disable_and_delete_resolve(void **state)
{
    struct fx *f = *state;

    put_trig(f, "dis", "S", RT_GT_100, ",`notifyOnResolve`:true" HOOK("${alert.status}"), T0);
    put_trig(f, "del", "S", RT_GT_100, ",`notifyOnResolve`:true" HOOK("${alert.status}"), T0);
    event(f, T0 + 1, "S", "{`rt`:200}");
    expect(f, 2, 2);
    assert_int_equal(stats(f).alerts_open, 2);
    clear(f);

    put_trig(f, "dis", "S", RT_GT_100, ",`enabled`:false,`notifyOnResolve`:true"
                                       HOOK("${alert.status}"),
             T0 + 2);
    assert_int_equal(count(f, EFF_TRIGGER_PUT), 1);
    assert_false(nth(f, EFF_TRIGGER_PUT, 0)->u.trig->enabled);
    expect(f, 1, 1);
    assert_string_equal(alert(f, 0)->trigger_id, "dis");
    assert_int_equal(alert(f, 0)->status, ALERT_RESOLVED);
    assert_string_equal(alert(f, 0)->message, "Resolved: trigger disabled");
    assert_string_equal(notif(f, 0)->body, "resolved");
    assert_int_equal(stats(f).alerts_open, 1);
    clear(f);

    /* A disabled trigger sees nothing. */
    event(f, T0 + 3, "S", "{`rt`:200}");
    expect(f, 1, 1);
    assert_string_equal(alert(f, 0)->trigger_id, "del");
    clear(f);

    assert_int_equal(engine_delete_trigger(f->e, "del", T0 + 4, &f->fx), TOCSIN_OK);
    expect(f, 1, 1);
    assert_int_equal(alert(f, 0)->status, ALERT_RESOLVED);
    assert_string_equal(alert(f, 0)->message, "Resolved: trigger deleted");
    assert_int_equal(alert(f, 0)->resolved_ms, T0 + 4);
    assert_int_equal(count(f, EFF_TRIGGER_DEL), 1);
    assert_int_equal(stats(f).alerts_open, 0);
    clear(f);

    /* Re-enabling starts afresh. */
    put_trig(f, "dis", "S", RT_GT_100, "", T0 + 5);
    event(f, T0 + 6, "S", "{`rt`:200}");
    expect(f, 1, 0);
    assert_int_equal(alert(f, 0)->count, 1);
}

/* ---- restoring alerts ---- */

static struct alert_rec *stored_alert(const char *id, const char *trigger, const char *proj,
                                      uint64_t count)
{
    struct alert_rec *a = calloc(1, sizeof(*a));

    assert_non_null(a);
    snprintf(a->id, sizeof(a->id), "%s", id);
    a->fingerprint = strdup("0123456789abcdef0123456789abcdef");
    a->trigger_id = strdup(trigger);
    a->name = strdup(trigger);
    a->source = strdup("S");
    a->description = strdup("");
    a->projection_json = strdup(proj);
    a->properties_json = strdup("{}");
    a->message = strdup("before the restart");
    a->count = count;
    a->first_ms = a->last_ms = a->updated_ms = T0 - 1000;
    return a;
}

static void test_restore_alert(void **state)
{
    struct fx *f = *state;

    put_trig(f, "keyed", "S",
             "[{`type`:`THRESHOLD`,`property`:`rt`,`operator`:`GT`,`threshold`:100,"
             "`projections`:[{`property`:`api`}]}]",
             "", T0);
    clear(f);
    assert_int_equal(engine_restore_alert(f->e, stored_alert("restored-a", "keyed",
                                                             "{\"api\":\"a\"}", 7)),
                     TOCSIN_OK);
    assert_int_equal(stats(f).alerts_open, 1);
    /* Same key twice, or a trigger that is gone: refused, and freed. */
    assert_int_equal(engine_restore_alert(f->e, stored_alert("restored-a2", "keyed",
                                                             "{\"api\":\"a\"}", 1)),
                     TOCSIN_EEXIST);
    assert_int_equal(engine_restore_alert(f->e, stored_alert("x", "gone", "{}", 1)),
                     TOCSIN_ENOTFOUND);
    assert_int_equal(stats(f).alerts_open, 1);
    assert_int_equal(f->fx.n, 0);

    event(f, T0 + 1, "S", "{`rt`:200,`api`:`a`}");
    expect(f, 1, 0);
    assert_string_equal(alert(f, 0)->id, "restored-a");
    assert_int_equal(alert(f, 0)->count, 8);
    assert_int_equal(alert(f, 0)->first_ms, T0 - 1000);
    clear(f);
    event(f, T0 + 2, "S", "{`rt`:200,`api`:`b`}");
    expect(f, 1, 0);
    assert_string_not_equal(alert(f, 0)->id, "restored-a");
    clear(f);

    /* A restored alert resolves like any other. */
    event(f, T0 + 3, "S", "{`rt`:20,`api`:`a`}");
    advance(f, T0 + 3 + 60 * SEC);
    expect(f, 1, 0);
    assert_string_equal(alert(f, 0)->id, "restored-a");
    assert_int_equal(alert(f, 0)->status, ALERT_RESOLVED);
}

static void test_restore_alert_windowed(void **state)
{
    struct fx *f = *state;

    /* A restored alert of a keyed window trigger is evaluated on the window's tick, so it
     * resolves even if that key never sends another event. */
    put_trig(f, "wk", "S",
             "[{`type`:`AGGREGATION`,`function`:`COUNT`,`operator`:`GTE`,`threshold`:5,"
             "`duration`:10,`timeUnit`:`SECONDS`,`projections`:[{`property`:`api`}]}]",
             ",`resolveAfter`:{`duration`:1,`timeUnit`:`SECONDS`}", T0);
    clear(f);
    assert_int_equal(engine_restore_alert(f->e, stored_alert("rw", "wk", "{\"api\":\"a\"}", 1)),
                     TOCSIN_OK);
    advance(f, T0 + 10 * SEC); /* the first tick: COUNT 0, false */
    advance(f, T0 + 11 * SEC);
    expect(f, 1, 0);
    assert_string_equal(alert(f, 0)->id, "rw");
    assert_int_equal(alert(f, 0)->status, ALERT_RESOLVED);
}

/* ---- limits and scheduling ---- */

static void test_max_keys(void **state)
{
    struct fx *f = *state;

    f->cfg.max_keys_per_trigger = 2;
    restart(f);
    put_trig(f, "mk", "S",
             "[{`type`:`THRESHOLD`,`property`:`rt`,`operator`:`GT`,`threshold`:100,"
             "`projections`:[{`property`:`api`}]}]",
             ",`resolveAfter`:{`duration`:0}", T0);
    clear(f);
    event(f, T0 + 1, "S", "{`rt`:200,`api`:`a`}");
    event(f, T0 + 2, "S", "{`rt`:200,`api`:`b`}");
    event(f, T0 + 3, "S", "{`rt`:200,`api`:`c`}"); /* a third key: dropped */
    expect(f, 2, 0);
    assert_int_equal(stats(f).keys_dropped, 1);
    assert_int_equal(stats(f).groups, 2);
    clear(f);
    /* Keys whose state is gone free their place. */
    event(f, T0 + 4, "S", "{`rt`:20,`api`:`a`}"); /* resolves a at once */
    expect(f, 1, 0);
    clear(f);
    event(f, T0 + 5, "S", "{`rt`:200,`api`:`c`}");
    expect(f, 1, 0);
    assert_json_eq(alert(f, 0)->projection_json, "{`api`:`c`}");
    assert_int_equal(stats(f).keys_dropped, 1);
    clear(f);
    /* Full again: even a false evaluation of a new key is dropped. */
    event(f, T0 + 6, "S", "{`rt`:20,`api`:`zzz`}");
    assert_int_equal(stats(f).groups, 2);
    assert_int_equal(stats(f).keys_dropped, 2);
    /* Keys with nothing to remember are not kept. */
    event(f, T0 + 7, "S", "{`rt`:20,`api`:`b`}"); /* resolves b */
    expect(f, 1, 0);
    assert_int_equal(stats(f).groups, 1);
    event(f, T0 + 8, "S", "{`rt`:20,`api`:`zzz`}");
    assert_int_equal(stats(f).groups, 1);
    assert_int_equal(stats(f).keys_dropped, 2);
}

static void test_max_keys_relaxed_dampening(void **state)
{
    struct fx *f = *state;

    /* Keys whose dampening state holds no true evaluation are not kept (RELAXED_COUNT's ring
     * of falses, RELAXED_TIME's trues too old to count). */
    f->cfg.max_keys_per_trigger = 2;
    restart(f);
    put_trig(f, "rc", "RC",
             "[{`type`:`THRESHOLD`,`property`:`rt`,`operator`:`GT`,`threshold`:100,"
             "`projections`:[{`property`:`api`}]}]",
             ",`dampening`:{`mode`:`RELAXED_COUNT`,`trueEvaluations`:2,`totalEvaluations`:3}",
             T0);
    put_trig(f, "rt", "RT",
             "[{`type`:`THRESHOLD`,`property`:`rt`,`operator`:`GT`,`threshold`:100,"
             "`projections`:[{`property`:`api`}]}]",
             ",`dampening`:{`mode`:`RELAXED_TIME`,`trueEvaluations`:2,`duration`:1000}", T0);
    clear(f);
    event(f, T0 + 1, "RC", "{`rt`:20,`api`:`a`}");
    event(f, T0 + 2, "RC", "{`rt`:20,`api`:`b`}");
    event(f, T0 + 3, "RC", "{`rt`:200,`api`:`c`}");
    event(f, T0 + 4, "RC", "{`rt`:200,`api`:`c`}");
    expect(f, 1, 0);
    assert_json_eq(alert(f, 0)->projection_json, "{`api`:`c`}");
    assert_int_equal(stats(f).keys_dropped, 0);
    clear(f);

    event(f, T0 + 10, "RT", "{`rt`:200,`api`:`a`}");
    event(f, T0 + 2000, "RT", "{`rt`:20,`api`:`a`}"); /* its true is 1990 ms old: dropped */
    event(f, T0 + 2001, "RT", "{`rt`:200,`api`:`b`}");
    event(f, T0 + 2002, "RT", "{`rt`:200,`api`:`c`}"); /* b is kept (recent true): 2 keys */
    expect(f, 0, 0);
    assert_int_equal(stats(f).keys_dropped, 0);
    event(f, T0 + 2003, "RT", "{`rt`:200,`api`:`d`}"); /* b, c: full */
    assert_int_equal(stats(f).keys_dropped, 1);
    event(f, T0 + 2500, "RT", "{`rt`:200,`api`:`c`}");
    expect(f, 1, 0);
    assert_json_eq(alert(f, 0)->projection_json, "{`api`:`c`}");
}

static void test_next_deadline_drives_the_clock(void **state)
{
    struct fx *f = *state;
    int64_t now = T0, d;
    int wakeups = 0;

    assert_int_equal(engine_next_deadline(f->e), INT64_MAX);
    put_trig(f, "md", "HB", "[{`type`:`MISSING_DATA`,`duration`:90,`timeUnit`:`SECONDS`}]",
             "", T0);
    clear(f);
    /* Sleep until the next deadline, as the daemon does: never early, never late. */
    while (count(f, EFF_ALERT) == 0) {
        d = engine_next_deadline(f->e);
        assert_true(d != INT64_MAX);
        assert_true(d >= now);
        assert_true(d <= T0 + 90 * SEC);
        now = d;
        advance(f, now);
        assert_true(++wakeups < 50);
    }
    assert_int_equal(now, T0 + 90 * SEC);
    assert_int_equal(alert(f, 0)->first_ms, T0 + 90 * SEC);
    clear(f);

    /* Deleting the trigger cancels its timers. */
    assert_int_equal(engine_delete_trigger(f->e, "md", now, &f->fx), TOCSIN_OK);
    assert_int_equal(engine_next_deadline(f->e), INT64_MAX);
}

static void test_stats(void **state)
{
    struct fx *f = *state;
    struct engine_stats st;

    put(f, ae_trigger, T0);
    event(f, T0 + 1, "REQUEST", "{`response`:{`response_time`:500}}");
    event(f, T0 + 2, "REQUEST", "{`response`:{`response_time`:5000}}");
    event(f, T0 + 3, "OTHER", "{}");
    st = stats(f);
    assert_int_equal(st.triggers, 1);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.evaluations, 2);
    assert_int_equal(st.fired, 1);
    assert_int_equal(st.notifications, 1);
    assert_int_equal(st.alerts_open, 1);
    assert_int_equal(st.groups, 1);
    assert_int_equal(st.keys_dropped, 0);
    assert_int_equal(st.render_errors, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_put_replace_delete),
        T(test_max_triggers_and_load),
        T(test_ae_example),
        T(test_alert_writes_coalesced),
        T(test_filter_index),
        T(test_silent_key_forgotten),
        T(test_fingerprints_per_key),
        T(test_render_url_headers_json),
        T(test_render_failures_and_other_notifiers),
        T(test_single_conditions),
        T(test_and_or),
        T(test_filters_and_sources),
        T(test_dampening_through_engine),
        T(test_aggregation_count_per_key),
        T(test_aggregation_first_event_at_slice_end),
        T(test_aggregation_avg_p99),
        T(test_rate_sample_size),
        T(test_missing_data_unkeyed),
        T(test_missing_data_reset_by_event),
        T(test_missing_data_per_key),
        T(test_window_dampening),
        T(test_window_or),
        T(test_window_mixed_missing_needs_full_duration),
        T(test_window_keyed_missing_outlives_window),
        T(test_window_late_advance),
        T(test_trigger_periods),
        T(test_notification_periods),
        T(test_periods_across_midnight_in_zone),
        T(test_auto_resolve_notify),
        T(test_auto_resolve_cancelled),
        T(test_resolve_after_zero_and_default),
        T(test_window_auto_resolve),
        T(test_replace_keeps_alerts),
        T(test_disable_and_delete_resolve),
        T(test_restore_alert),
        T(test_restore_alert_windowed),
        T(test_max_keys),
        T(test_max_keys_relaxed_dampening),
        T(test_next_deadline_drives_the_clock),
        T(test_stats),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
