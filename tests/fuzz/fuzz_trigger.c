/* libFuzzer harness for core/trigger: trigger_parse over any JSON document, as the API reads a
 * trigger body (json_loadb with JSON_DECODE_ANY, then one object or an array of them).
 *
 * Checks, besides the sanitizers:
 *  - a rejection leaves *out NULL and a NUL-terminated error (EINVAL names a field or "");
 *  - an accepted trigger has its required fields and derived fields within the documented limits;
 *  - round trip: the stored form, json_dumps(t->json), must load back, parse again, and give the
 *    same stored form byte for byte and the same derived fields (this is what a restart does with
 *    the store's copy, so any drift would change triggers across restarts).
 * Time zones come from trigger_tz_lookup (the process-wide tz cache); the cache is cleared after
 * each input, once every trigger is freed, so inputs do not depend on one another and the cache
 * cannot fill up over a long run. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/trigger.h"
#include "core/verr.h"
#include "util/err.h"
#include "util/tz.h"

#define FUZZ_MAX_INPUT (64 * 1024)
#define FUZZ_NOW_MS 1700000000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct trigger_env fuzz_env = {.tz_lookup = trigger_tz_lookup, .tz_ud = NULL};

__attribute__((format(printf, 3, 4), noreturn)) static void fail(const uint8_t *data, size_t size,
                                                                 const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "input, %zu bytes: %.*s\n", size, (int)(size > 4096 ? 4096 : size),
            (const char *)data);
    fputs("fuzz_trigger: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* Parses one trigger and checks what holds for any outcome. */
static int parse_one(const uint8_t *data, size_t size, const json_t *j, struct trigger **t,
                     struct verr *err)
{
    int rc;

    memset(err, 0, sizeof(*err));
    *t = (struct trigger *)(uintptr_t)1; /* must be overwritten */
    rc = trigger_parse(j, &fuzz_env, FUZZ_NOW_MS, t, err);
    if (rc != TOCSIN_OK) {
        if (*t)
            fail(data, size, "rc %d but *out is set", rc);
        if (!terminated(err->field, sizeof(err->field)) || !terminated(err->msg, sizeof(err->msg)))
            fail(data, size, "error text not NUL-terminated");
        if (rc == TOCSIN_EINVAL && (err->status < 400 || err->status > 499 || !err->msg[0]))
            fail(data, size, "EINVAL with status %d, message '%s'", err->status, err->msg);
        return rc;
    }
    if (!*t)
        fail(data, size, "accepted without a trigger");
    return rc;
}

/* What trigger.h says an accepted trigger looks like. */
static void check_trigger(const uint8_t *data, size_t size, const struct trigger *t)
{
    if (!t->id || !t->name || !t->source || !t->id[0] || !t->source[0])
        fail(data, size, "missing id, name or source");
    if (t->nconds < 1 || t->nconds > TRIGGER_MAX_CONDITIONS || !t->conds)
        fail(data, size, "%zu conditions", t->nconds);
    if (t->nnotifs > TRIGGER_MAX_NOTIFICATIONS || t->nperiods > TRIGGER_MAX_PERIODS ||
        t->nprojections > TRIGGER_MAX_PROJECTIONS)
        fail(data, size, "limits: %zu notifications, %zu periods, %u projections", t->nnotifs,
             t->nperiods, t->nprojections);
    for (size_t i = 0; i < t->nnotifs; i++) {
        const struct notif *n = &t->notifs[i];
        if (!n->type || n->nheaders > TRIGGER_MAX_HEADERS || n->nperiods > TRIGGER_MAX_PERIODS)
            fail(data, size, "notification %zu malformed", i);
        for (size_t h = 0; h < n->nheaders; h++)
            if (!n->headers[h].name)
                fail(data, size, "notification %zu header %zu without a name", i, h);
    }
    for (unsigned i = 0; i < t->nprojections; i++)
        if (!t->projections[i])
            fail(data, size, "projection %u is NULL", i);
    if (t->windowed && t->tick_ms <= 0)
        fail(data, size, "windowed trigger with tick %lld ms", (long long)t->tick_ms);
    if (t->created_ms != FUZZ_NOW_MS || t->updated_ms != FUZZ_NOW_MS)
        fail(data, size, "times %lld/%lld, not now", (long long)t->created_ms,
             (long long)t->updated_ms);
    if (!json_is_object(t->json))
        fail(data, size, "stored form is not an object");
    if (t->conds_json != json_object_get(t->json, "conditions"))
        fail(data, size, "conds_json is not the stored conditions");
}

/* The fields derived from the JSON, which the second parse must reproduce. */
static void same_derived(const uint8_t *data, size_t size, const struct trigger *a,
                         const struct trigger *b)
{
    if (strcmp(a->id, b->id) != 0 || strcmp(a->name, b->name) != 0 ||
        strcmp(a->source, b->source) != 0 || (a->description == NULL) != (b->description == NULL) ||
        (a->description && strcmp(a->description, b->description) != 0))
        fail(data, size, "round trip changed id, name, source or description");
    if (a->enabled != b->enabled || a->severity != b->severity || a->nconds != b->nconds ||
        a->cond_or != b->cond_or || a->nfilters != b->nfilters || a->nnotifs != b->nnotifs ||
        a->nperiods != b->nperiods || a->resolve_after_ms != b->resolve_after_ms ||
        a->notify_on_resolve != b->notify_on_resolve || a->windowed != b->windowed ||
        a->missing_only != b->missing_only || a->tick_ms != b->tick_ms ||
        a->nprojections != b->nprojections)
        fail(data, size, "round trip changed a derived field");
    for (unsigned i = 0; i < a->nprojections; i++)
        if (strcmp(a->projections[i], b->projections[i]) != 0)
            fail(data, size, "round trip changed projection %u: %s / %s", i, a->projections[i],
                 b->projections[i]);
    for (size_t i = 0; i < a->nnotifs; i++) {
        const struct notif *x = &a->notifs[i], *y = &b->notifs[i];
        if (strcmp(x->type, y->type) != 0 || x->kind != y->kind || x->nperiods != y->nperiods ||
            x->nheaders != y->nheaders || x->use_proxy != y->use_proxy ||
            x->tls_verify != y->tls_verify)
            fail(data, size, "round trip changed notification %zu", i);
    }
}

/* Stored form -> text -> JSON -> trigger -> stored form: must be a fixed point. */
static void round_trip(const uint8_t *data, size_t size, const struct trigger *t)
{
    char *text = json_dumps(t->json, JSON_COMPACT), *text2;
    json_error_t je;
    json_t *j2;
    struct trigger *t2;
    struct verr err;
    int rc;

    if (!text)
        fail(data, size, "json_dumps of the stored form failed");
    j2 = json_loads(text, 0, &je);
    if (!j2)
        fail(data, size, "stored form does not load back: %s\n  stored: %s", je.text, text);
    rc = parse_one(data, size, j2, &t2, &err);
    if (rc == TOCSIN_ENOMEM) {
        json_decref(j2);
        free(text);
        return;
    }
    if (rc != TOCSIN_OK)
        fail(data, size, "stored form rejected: rc %d, %s: %s\n  stored: %s", rc, err.field,
             err.msg, text);
    check_trigger(data, size, t2);
    same_derived(data, size, t, t2);
    text2 = json_dumps(t2->json, JSON_COMPACT);
    if (!text2 || strcmp(text, text2) != 0)
        fail(data, size, "stored form is not a fixed point:\n  first:  %s\n  second: %s", text,
             text2 ? text2 : "(dump failed)");
    free(text2);
    trigger_free(t2);
    json_decref(j2);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *root;
    size_t n;

    if (size > FUZZ_MAX_INPUT)
        return -1; /* not added to the corpus */
    root = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
    if (!root)
        return 0;
    /* One trigger or an array of them, as POST /http/triggers takes them (every element is
     * parsed here, not just up to the first error, to reach more of the parser per input). */
    n = json_is_array(root) ? json_array_size(root) : 1;
    for (size_t i = 0; i < n && i < 64; i++) {
        const json_t *j = json_is_array(root) ? json_array_get(root, i) : root;
        struct trigger *t;
        struct verr err;

        if (parse_one(data, size, j, &t, &err) != TOCSIN_OK)
            continue;
        check_trigger(data, size, t);
        round_trip(data, size, t);
        trigger_free(t);
    }
    json_decref(root);
    tz_cache_clear();
    return 0;
}
