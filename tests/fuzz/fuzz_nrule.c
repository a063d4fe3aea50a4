/* libFuzzer harness for core/nrule: any JSON document through nrule_parse, as the API and the
 * rules file read a notification rule.
 *
 * Checks, besides the sanitizers:
 *  - a rejection leaves *out NULL and a NUL-terminated error (EINVAL with a message);
 *  - an accepted rule holds what nrule.h says (id, bounds of the lists, durations);
 *  - round trip: nrule_to_json() dumps, loads and parses again, and its nrule_to_json() is the
 *    same JSON (nrule.h: "parses back to the same rule").
 * Time zones come from the process-wide tz cache, cleared after each input. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alert.h"
#include "core/nrule.h"
#include "core/verr.h"
#include "util/err.h"
#include "util/tz.h"

#define FUZZ_MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((format(printf, 3, 4), noreturn)) static void fail(const uint8_t *data, size_t size,
                                                                 const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "input, %zu bytes: %.*s\n", size, (int)(size > 4096 ? 4096 : size),
            (const char *)data);
    fputs("fuzz_nrule: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static const struct tz *tzl(void *ud, const char *name)
{
    (void)ud;
    return tz_get(name);
}

static const struct sevmap *sev(void)
{
    static struct sevmap m;
    static bool ready;

    if (!ready) {
        sevmap_default(&m);
        ready = true;
    }
    return &m;
}

static int parse(const uint8_t *data, size_t size, const json_t *j, struct nrule **r)
{
    struct verr e;
    int rc;

    memset(&e, 0, sizeof(e));
    *r = (struct nrule *)(uintptr_t)1; /* must be overwritten */
    rc = nrule_parse(j, sev(), tzl, NULL, r, &e);
    if (rc != TOCSIN_OK) {
        if (*r)
            fail(data, size, "rc %d but *out is set", rc);
        if (!memchr(e.field, '\0', sizeof(e.field)) || !memchr(e.msg, '\0', sizeof(e.msg)))
            fail(data, size, "error text not NUL-terminated");
        if (rc == TOCSIN_EINVAL && !e.msg[0])
            fail(data, size, "EINVAL without a message (field '%s')", e.field);
        return rc;
    }
    if (!*r)
        fail(data, size, "accepted without a rule");
    return rc;
}

static void check_rule(const uint8_t *data, size_t size, const struct nrule *r)
{
    const char *z = memchr(r->id, '\0', sizeof(r->id));
    size_t idl = z ? (size_t)(z - r->id) : sizeof(r->id);

    if (idl < 1 || idl > NRULE_ID_MAX)
        fail(data, size, "id of %zu bytes", idl);
    if (!r->name || r->nchannels > NRULE_MAX_CHANNELS || r->ngroup_by > NRULE_MAX_GROUP_BY ||
        r->ninhibit_equal > NRULE_MAX_EQUAL || r->nperiods > NRULE_MAX_PERIODS ||
        r->neventscount > NRULE_MAX_EVENTSCOUNT)
        fail(data, size, "a list over its bound");
    if (r->priority < -NRULE_MAX_PRIORITY || r->priority > NRULE_MAX_PRIORITY)
        fail(data, size, "priority %d", r->priority);
    if (r->delay_ms < 0 || r->delay_ms > NRULE_DURATION_MAX || r->group_wait_ms < 0 ||
        r->group_wait_ms > NRULE_DURATION_MAX || r->group_interval_ms < 0 ||
        r->repeat_interval_ms < 0)
        fail(data, size, "a duration out of range");
    for (size_t i = 0; i < r->nchannels; i++)
        if (!r->channels[i])
            fail(data, size, "channel %zu is NULL", i);
    if ((r->trigger == NULL) != (r->trigger_origin == NULL))
        fail(data, size, "trigger without its origin");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *root, *j1, *j1b, *j2;
    struct nrule *r, *r2;
    char *text;

    if (size > FUZZ_MAX_INPUT)
        return -1;
    root = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
    if (!root)
        return 0;
    if (parse(data, size, root, &r) != TOCSIN_OK)
        goto out;
    check_rule(data, size, r);
    j1 = nrule_to_json(r);
    if (!j1)
        goto free_r; /* out of memory */
    text = json_dumps(j1, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        fail(data, size, "nrule_to_json gave JSON that does not dump");
    j1b = json_loads(text, 0, &je);
    if (!j1b)
        fail(data, size, "the rule's JSON does not load back: %s\n  json: %s", je.text, text);
    if (parse(data, size, j1b, &r2) != TOCSIN_OK) {
        struct verr e = {0};
        struct nrule *r3 = NULL;
        int rc = nrule_parse(j1b, sev(), tzl, NULL, &r3, &e);
        if (rc != TOCSIN_ENOMEM)
            fail(data, size, "nrule_to_json does not parse again: rc %d, %s: %s\n  json: %s", rc,
                 e.field, e.msg, text);
    } else {
        check_rule(data, size, r2);
        j2 = nrule_to_json(r2);
        if (j2 && !json_equal(j1, j2)) {
            char *t2 = json_dumps(j2, JSON_COMPACT | JSON_SORT_KEYS);
            fail(data, size, "nrule_to_json is not a fixed point:\n  first:  %s\n  second: %s",
                 text, t2 ? t2 : "?");
        }
        json_decref(j2);
        nrule_free(r2);
    }
    json_decref(j1b);
    free(text);
    json_decref(j1);
free_r:
    nrule_free(r);
out:
    json_decref(root);
    tz_cache_clear();
    return 0;
}
