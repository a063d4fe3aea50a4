#include "core/trigger.h"
#include "core/jfield.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "template/tmpl.h"
#include "util/err.h"
#include "util/tz.h"

static const char *const http_methods[] = {"GET",   "POST",    "PUT",     "DELETE", "PATCH",
                                           "HEAD",  "CONNECT", "OPTIONS", "TRACE"};

const struct tz *trigger_tz_lookup(void *ud, const char *name)
{
    (void)ud;
    return tz_get(name);
}

/* An optional array field with at most max elements; *arr is NULL when absent. */
static int opt_array(const json_t *j, const char *field, size_t max, const json_t **arr,
                     struct verr *err)
{
    const json_t *v = json_object_get(j, field);

    *arr = NULL;
    if (!v || json_is_null(v))
        return TOCSIN_OK;
    if (!json_is_array(v))
        return verr_set(err, field, "must be an array");
    if (json_array_size(v) > max)
        return verr_set(err, field, "at most %zu elements", max);
    *arr = v;
    return TOCSIN_OK;
}

static int parse_conds(const json_t *arr, const char *field, bool filter, struct condition **out,
                       size_t *n, struct verr *err)
{
    size_t i;
    const json_t *c;
    int rc;

    *n = 0;
    if (!arr || !json_array_size(arr))
        return TOCSIN_OK;
    *out = calloc(json_array_size(arr), sizeof(**out));
    if (!*out)
        return TOCSIN_ENOMEM;
    json_array_foreach(arr, i, c) {
        rc = cond_parse(c, filter, &(*out)[i], err);
        *n = i + 1; /* cond_clear is safe on a partly parsed condition */
        if (rc) {
            if (rc == TOCSIN_EINVAL)
                verr_prefix_index(err, field, i);
            return rc;
        }
    }
    return TOCSIN_OK;
}

static int parse_periods(const json_t *arr, const struct trigger_env *env, struct period **out,
                         size_t *n, struct verr *err)
{
    size_t i;
    const json_t *p;
    const char *field = "";
    char msg[200];

    *n = 0;
    if (!arr || !json_array_size(arr))
        return TOCSIN_OK;
    *out = calloc(json_array_size(arr), sizeof(**out));
    if (!*out)
        return TOCSIN_ENOMEM;
    json_array_foreach(arr, i, p) {
        msg[0] = '\0';
        if (period_from_json(p, env->tz_lookup, env->tz_ud, &(*out)[i], &field, msg,
                             sizeof(msg))) {
            char f[64];
            snprintf(f, sizeof(f), "[%zu]%s%s", i, field && *field ? "." : "",
                     field ? field : "");
            return verr_set(err, f, "%s", msg[0] ? msg : "invalid period");
        }
        *n = i + 1;
    }
    return TOCSIN_OK;
}

static int compile_field(const json_t *cfg, const char *field, bool required, struct tmpl **out,
                         struct verr *err)
{
    const json_t *v = json_object_get(cfg, field);
    char msg[160];

    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return verr_set(err, field, "missing required field");
        return tmpl_compile("", 0, out, msg, sizeof(msg)) ? TOCSIN_ENOMEM : TOCSIN_OK;
    }
    if (!json_is_string(v))
        return verr_set(err, field, "must be a string");
    if (tmpl_compile(json_string_value(v), json_string_length(v), out, msg, sizeof(msg)))
        return verr_set(err, field, "invalid template: %s", msg);
    return TOCSIN_OK;
}

static bool header_name_ok(const char *s)
{
    if (!*s || strlen(s) > 128)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

static int parse_headers(const json_t *cfg, struct notif *n, struct verr *err)
{
    const json_t *arr, *h;
    size_t i;
    int rc;

    if ((rc = opt_array(cfg, "headers", TRIGGER_MAX_HEADERS, &arr, err)) || !arr)
        return rc;
    n->headers = calloc(json_array_size(arr) + 1, sizeof(*n->headers));
    if (!n->headers)
        return TOCSIN_ENOMEM;
    json_array_foreach(arr, i, h) {
        struct notif_header *nh = &n->headers[i];
        char f[32];
        snprintf(f, sizeof(f), "headers[%zu]", i);
        if (!json_is_object(h))
            return verr_set(err, f, "must be an object {name, value}");
        n->nheaders = i + 1;
        if ((rc = jf_string(h, "name", true, 128, &nh->name, err)) ||
            (rc = compile_field(h, "value", false, &nh->value, err))) {
            verr_prefix(err, f);
            return rc;
        }
        if (!header_name_ok(nh->name)) {
            verr_set(err, "name", "not a valid HTTP header name");
            verr_prefix(err, f);
            return TOCSIN_EINVAL;
        }
    }
    return TOCSIN_OK;
}

static int parse_webhook(const json_t *cfg, struct notif *n, struct verr *err)
{
    int rc, idx = -1;
    bool skip_verify = false;

    if ((rc = compile_field(cfg, "url", true, &n->url, err)) ||
        (rc = jf_string(cfg, "method", false, 16, &n->method, err)))
        return rc;
    if (!n->method && !(n->method = strdup("POST")))
        return TOCSIN_ENOMEM;
    for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++)
        if (strcasecmp(http_methods[i], n->method) == 0)
            idx = (int)i;
    if (idx < 0)
        return verr_set(err, "method", "unknown HTTP method '%.16s'", n->method);
    memcpy(n->method, http_methods[idx], strlen(http_methods[idx]) + 1);
    if ((rc = parse_headers(cfg, n, err)) || (rc = compile_field(cfg, "body", false, &n->body, err)) ||
        (rc = jf_bool(cfg, "useSystemProxy", &n->use_proxy, err)) ||
        (rc = jf_bool(cfg, "skipVerify", &skip_verify, err)))
        return rc;
    n->tls_verify = !skip_verify;
    return TOCSIN_OK;
}

/* slack-notifier: {channel, token, message} posts to chat.postMessage (AE's plugin); tocsin also
 * takes {url, message} for an incoming webhook, as AE's docs show. */
static int parse_slack(const json_t *cfg, struct notif *n, struct verr *err)
{
    char *token = NULL;
    int rc;

    if ((rc = jf_string(cfg, "token", false, 512, &token, err)) ||
        (rc = jf_string(cfg, "channel", false, 256, &n->channel, err)) ||
        (rc = compile_field(cfg, "message", true, &n->body, err)) ||
        (rc = jf_bool(cfg, "useSystemProxy", &n->use_proxy, err)))
        goto out;
    n->tls_verify = true;
    n->method = strdup("POST");
    if (!n->channel)
        n->channel = strdup("#public");
    if (!n->method || !n->channel) {
        rc = TOCSIN_ENOMEM;
        goto out;
    }
    if (token) {
        char auth[600];
        snprintf(auth, sizeof(auth), "Bearer %s", token);
        n->headers = calloc(1, sizeof(*n->headers));
        if (!n->headers) {
            rc = TOCSIN_ENOMEM;
            goto out;
        }
        n->nheaders = 1;
        n->headers[0].name = strdup("Authorization");
        if (!n->headers[0].name) {
            rc = TOCSIN_ENOMEM;
            goto out;
        }
        char msg[160];
        rc = tmpl_compile(auth, strlen(auth), &n->headers[0].value, msg, sizeof(msg));
        if (rc)
            rc = verr_set(err, "token", "invalid token: %s", msg);
        else
            rc = tmpl_compile("https://slack.com/api/chat.postMessage", 38, &n->url, msg,
                              sizeof(msg));
    } else if (json_object_get(cfg, "url")) {
        rc = compile_field(cfg, "url", true, &n->url, err);
    } else {
        rc = verr_set(err, "token", "missing required field (or give an incoming-webhook url)");
    }
out:
    free(token);
    return rc;
}

static int parse_notif(const json_t *j, const struct trigger_env *env, struct notif *n,
                       struct verr *err)
{
    const json_t *cfg, *periods;
    int rc;

    n->tls_verify = true;
    if (!json_is_object(j))
        return verr_set(err, "", "a notification must be an object");
    if ((rc = jf_string(j, "type", true, 128, &n->type, err)))
        return rc;
    if ((rc = opt_array(j, "periods", TRIGGER_MAX_PERIODS, &periods, err)))
        return rc;
    if ((rc = parse_periods(periods, env, &n->periods, &n->nperiods, err))) {
        if (rc == TOCSIN_EINVAL)
            verr_prefix(err, "periods");
        return rc;
    }
    cfg = json_object_get(j, "configuration");
    if (!strcasecmp(n->type, "webhook-notifier"))
        n->kind = NOTIFIER_WEBHOOK;
    else if (!strcasecmp(n->type, "slack-notifier"))
        n->kind = NOTIFIER_SLACK;
    else
        n->kind = NOTIFIER_UNSUPPORTED; /* kept for AE compatibility, recorded as failed */
    if (n->kind == NOTIFIER_UNSUPPORTED && (!cfg || json_is_null(cfg)))
        return TOCSIN_OK;
    if (!json_is_object(cfg))
        return verr_set(err, "configuration", cfg ? "must be an object" : "missing required field");
    if (n->kind == NOTIFIER_UNSUPPORTED)
        return TOCSIN_OK;
    rc = n->kind == NOTIFIER_WEBHOOK ? parse_webhook(cfg, n, err) : parse_slack(cfg, n, err);
    if (rc == TOCSIN_EINVAL)
        verr_prefix(err, "configuration");
    return rc;
}

static void notif_clear(struct notif *n)
{
    free(n->type);
    free(n->periods);
    free(n->method);
    free(n->channel);
    tmpl_free(n->url);
    tmpl_free(n->body);
    for (size_t i = 0; i < n->nheaders; i++) {
        free(n->headers[i].name);
        tmpl_free(n->headers[i].value);
    }
    free(n->headers);
}

static int parse_notifs(const json_t *arr, const struct trigger_env *env, struct trigger *t,
                        struct verr *err)
{
    size_t i;
    const json_t *n;
    int rc;

    if (!arr || !json_array_size(arr))
        return TOCSIN_OK;
    t->notifs = calloc(json_array_size(arr), sizeof(*t->notifs));
    if (!t->notifs)
        return TOCSIN_ENOMEM;
    json_array_foreach(arr, i, n) {
        t->nnotifs = i + 1;
        rc = parse_notif(n, env, &t->notifs[i], err);
        if (rc) {
            if (rc == TOCSIN_EINVAL)
                verr_prefix_index(err, "notifications", i);
            return rc;
        }
    }
    return TOCSIN_OK;
}

static const char *const upper_keys[] = {"type", "operator", "operatorLow", "operatorHigh",
                                         "function", "timeUnit", "mode"};

/* Upper-cases the enum values of a condition / dampening object, recursively (comparison,
 * projections), as AE serialises them. */
static void upcase_enums(json_t *o)
{
    const char *k;
    json_t *v;

    if (json_is_array(o)) {
        size_t i;
        json_array_foreach(o, i, v) upcase_enums(v);
        return;
    }
    if (!json_is_object(o))
        return;
    json_object_foreach(o, k, v) {
        if (json_is_string(v)) {
            for (size_t i = 0; i < sizeof(upper_keys) / sizeof(upper_keys[0]); i++) {
                if (strcmp(k, upper_keys[i]) == 0) {
                    char *u = strdup(json_string_value(v));
                    for (char *p = u; p && *p; p++)
                        *p = (char)toupper((unsigned char)*p);
                    if (u)
                        json_string_set(v, u);
                    free(u);
                }
            }
        } else if (json_is_object(v) || json_is_array(v)) {
            upcase_enums(v);
        }
    }
}

static int build_json(const json_t *in, struct trigger *t)
{
    json_t *o = json_deep_copy(in), *v;
    static const char *const norm[] = {"conditions", "filters", "dampening"};

    if (!o)
        return TOCSIN_ENOMEM;
    for (size_t i = 0; i < sizeof(norm) / sizeof(norm[0]); i++)
        if ((v = json_object_get(o, norm[i])))
            upcase_enums(v);
    static const char *const sev_upper[SEV_COUNT] = {"INFO", "WARNING", "CRITICAL"};

    json_object_set_new(o, "severity", json_string(sev_upper[t->severity]));
    json_object_set_new(o, "enabled", json_boolean(t->enabled));
    if (json_is_string(json_object_get(o, "conditionsOperator")))
        json_object_set_new(o, "conditionsOperator", json_string(t->cond_or ? "OR" : "AND"));
    if (!json_object_get(o, "dampening"))
        json_object_set_new(o, "dampening", damp_to_json(&t->damp));
    t->json = o;
    t->conds_json = json_object_get(o, "conditions");
    trigger_set_times(t, t->created_ms, t->updated_ms);
    return TOCSIN_OK;
}

void trigger_set_times(struct trigger *t, int64_t created_ms, int64_t updated_ms)
{
    t->created_ms = created_ms;
    t->updated_ms = updated_ms;
    if (t->json) {
        json_object_set_new(t->json, "created_at", json_integer(created_ms));
        json_object_set_new(t->json, "updated_at", json_integer(updated_ms));
    }
}

static void add_projection(struct trigger *t, const char *p)
{
    for (unsigned i = 0; i < t->nprojections; i++)
        if (strcmp(t->projections[i], p) == 0)
            return;
    if (t->nprojections < TRIGGER_MAX_PROJECTIONS)
        t->projections[t->nprojections++] = strdup(p);
}

/* Derives the projection key set, whether the trigger is windowed, and its evaluation tick. */
static int derive(struct trigger *t, struct verr *err)
{
    size_t nwin = 0, nmissing = 0;

    t->tick_ms = 0;
    for (size_t i = 0; i < t->nconds; i++) {
        const struct condition *c = &t->conds[i];
        for (unsigned k = 0; k < c->nprojections; k++)
            add_projection(t, c->projections[k]);
        if (cond_is_window(c->type)) {
            nwin++;
            nmissing += c->type == COND_MISSING_DATA;
            if (!t->tick_ms || c->duration_ms < t->tick_ms)
                t->tick_ms = c->duration_ms;
        }
    }
    for (unsigned k = 0; k < t->nprojections; k++)
        if (!t->projections[k])
            return TOCSIN_ENOMEM;
    if (nwin && nwin != t->nconds)
        return verr_set(err, "conditions",
                        "window conditions (AGGREGATION, RATE, MISSING_DATA) cannot be mixed with "
                        "single-event conditions in one trigger; put those in \"filters\"");
    t->windowed = nwin > 0;
    t->missing_only = nwin > 0 && nmissing == nwin;
    return TOCSIN_OK;
}

/* resolveAfter {duration, timeUnit}: like a window duration, but 0 is allowed and means "resolve
 * at the first false evaluation" (the engine resolves at once when the period is 0). */
static int parse_resolve_after(const json_t *v, int64_t *out, struct verr *err)
{
    const json_t *d = json_object_get(v, "duration");
    struct verr tmp = {0};
    json_t *probe;
    int rc;

    if (!json_is_number(d) || json_number_value(d) != 0)
        return parse_duration(v, "duration", "timeUnit", out, err);
    /* Still check the unit: parse a probe of one unit; only a bad unit is an error here. */
    probe = json_pack("{s:i,s:O?}", "duration", 1, "timeUnit", json_object_get(v, "timeUnit"));
    if (!probe)
        return TOCSIN_ENOMEM;
    rc = parse_duration(probe, "duration", "timeUnit", out, &tmp);
    json_decref(probe);
    if (rc == TOCSIN_EINVAL && strcmp(tmp.field, "timeUnit") == 0)
        return verr_set(err, "timeUnit", "%s", tmp.msg);
    *out = 0;
    return TOCSIN_OK;
}

static int parse_options(const json_t *j, struct trigger *t, struct verr *err)
{
    const json_t *v = json_object_get(j, "severity");
    int rc, sev;

    t->enabled = true;
    t->severity = SEV_INFO;
    t->resolve_after_ms = -1;
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || (sev = severity_parse(json_string_value(v))) < 0)
            return verr_set(err, "severity", "must be one of INFO, WARNING, CRITICAL");
        t->severity = (enum severity)sev;
    }
    if ((rc = jf_bool(j, "enabled", &t->enabled, err)) ||
        (rc = jf_bool(j, "notifyOnResolve", &t->notify_on_resolve, err)))
        return rc;
    v = json_object_get(j, "conditionsOperator");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || (strcasecmp(json_string_value(v), "AND") &&
                                   strcasecmp(json_string_value(v), "OR")))
            return verr_set(err, "conditionsOperator", "must be AND or OR");
        t->cond_or = strcasecmp(json_string_value(v), "OR") == 0;
    }
    v = json_object_get(j, "resolveAfter");
    if (v && !json_is_null(v)) {
        if (!json_is_object(v))
            return verr_set(err, "resolveAfter", "must be an object {duration, timeUnit}");
        if ((rc = parse_resolve_after(v, &t->resolve_after_ms, err))) {
            verr_prefix(err, "resolveAfter");
            return rc;
        }
    }
    v = json_object_get(j, "metadata");
    if (v && !json_is_null(v) && !json_is_object(v))
        return verr_set(err, "metadata", "must be an object");
    return TOCSIN_OK;
}

static int parse_body(const json_t *j, const struct trigger_env *env, struct trigger *t,
                      struct verr *err)
{
    const json_t *arr;
    int rc;

    if ((rc = jf_string(j, "id", true, 256, &t->id, err)) ||
        (rc = jf_string(j, "name", true, 1024, &t->name, err)) ||
        (rc = jf_string(j, "source", true, 256, &t->source, err)) ||
        (rc = jf_string(j, "description", false, 4096, &t->description, err)) ||
        (rc = parse_options(j, t, err)))
        return rc;
    if (!t->description && !(t->description = strdup("")))
        return TOCSIN_ENOMEM;
    if ((rc = opt_array(j, "conditions", TRIGGER_MAX_CONDITIONS, &arr, err)))
        return rc;
    if (!arr || !json_array_size(arr))
        return verr_set(err, "conditions", arr ? "a trigger needs at least one condition"
                                               : "missing required field");
    if ((rc = parse_conds(arr, "conditions", false, &t->conds, &t->nconds, err)) ||
        (rc = opt_array(j, "filters", TRIGGER_MAX_CONDITIONS, &arr, err)) ||
        (rc = parse_conds(arr, "filters", true, &t->filters, &t->nfilters, err)))
        return rc;
    if ((rc = damp_parse(json_object_get(j, "dampening"), &t->damp, err))) {
        verr_prefix(err, "dampening");
        return rc;
    }
    if ((rc = opt_array(j, "notificationPeriods", TRIGGER_MAX_PERIODS, &arr, err)))
        return rc;
    if ((rc = parse_periods(arr, env, &t->periods, &t->nperiods, err))) {
        if (rc == TOCSIN_EINVAL)
            verr_prefix(err, "notificationPeriods");
        return rc;
    }
    if ((rc = opt_array(j, "notifications", TRIGGER_MAX_NOTIFICATIONS, &arr, err)) ||
        (rc = parse_notifs(arr, env, t, err)))
        return rc;
    return derive(t, err);
}

int trigger_parse(const json_t *j, const struct trigger_env *env, int64_t now_ms,
                  struct trigger **out, struct verr *err)
{
    struct trigger *t;
    int rc;

    *out = NULL;
    if (!json_is_object(j))
        return verr_set(err, "", "a trigger must be a JSON object");
    t = calloc(1, sizeof(*t));
    if (!t)
        return TOCSIN_ENOMEM;
    t->created_ms = t->updated_ms = now_ms;
    rc = parse_body(j, env, t, err);
    if (!rc)
        rc = build_json(j, t);
    if (rc) {
        trigger_free(t);
        return rc;
    }
    *out = t;
    return TOCSIN_OK;
}

void trigger_free(struct trigger *t)
{
    if (!t)
        return;
    free(t->id);
    free(t->name);
    free(t->source);
    free(t->description);
    for (size_t i = 0; i < t->nconds; i++)
        cond_clear(&t->conds[i]);
    free(t->conds);
    for (size_t i = 0; i < t->nfilters; i++)
        cond_clear(&t->filters[i]);
    free(t->filters);
    for (size_t i = 0; i < t->nnotifs; i++)
        notif_clear(&t->notifs[i]);
    free(t->notifs);
    free(t->periods);
    for (unsigned i = 0; i < t->nprojections; i++)
        free(t->projections[i]);
    json_decref(t->json);
    free(t);
}
