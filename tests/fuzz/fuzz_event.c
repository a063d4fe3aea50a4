/* libFuzzer harness for core/event_parse, the one-pass reader of event bodies (HTTP and WebSocket,
 * the main network input).
 *
 * Besides the sanitizers, it checks event_parse against its reference, json_loadb(JSON_DECODE_ANY)
 * followed by event_from_json() on each element (what compat/gravitee.c did before), and aborts on
 * any difference that event_parse.h does not document:
 *  - accepted by event_parse: jansson must accept too, with the same number of events, the same
 *    form (object or array) and identical events (id, type, timestamp, every property's key, type,
 *    text and number, bit for bit);
 *  - rejected: the reference must reject too, with the same error field and status (and the same
 *    message unless the field is "body", whose JSON messages are worded differently);
 *  - allowed differences: nesting deeper than EVENT_PARSE_MAX_NEST (event_parse must then reject
 *    the body), a NUL byte right after a number or true/false/null (jansson drops it: event_parse
 *    on the input without those bytes must then give exactly jansson's answer), and TOCSIN_ENOMEM
 *    from the arena, which is sized as the daemon sizes it (len * 8 + 64 KiB) and may refuse
 *    inputs whose flattened property names are long.
 * Everything is freed each run (the arenas, the jansson tree), so LeakSanitizer sees real leaks. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/event.h"
#include "core/event_parse.h"
#include "core/verr.h"
#include "util/arena.h"
#include "util/err.h"

#include "../unit/parse_helpers.h"

#define FUZZ_MAX_INPUT (64 * 1024)
#define FUZZ_MAX_EVENTS 1000
#define REF_ARENA_MAX ((size_t)256 << 20) /* the reference gets room enough never to refuse */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
    int rc;
    struct verr err;
    struct event *evs;
    size_t n;
    bool was_array;
};

__attribute__((format(printf, 3, 4), noreturn)) static void
mismatch(const uint8_t *data, size_t size, const char *fmt, ...)
{
    va_list ap;

    print_input((const char *)data, size);
    fputs("fuzz_event: event_parse and json_loadb + event_from_json differ: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* What event_parse.h promises to reproduce: json_loadb + event_from_json per element, "[i]"
 * prefixed inside arrays, and its precedence (malformed JSON, too many elements, then the first
 * failing element). */
static void reference(const char *buf, size_t len, struct arena *a, struct result *r)
{
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_DECODE_ANY, &je);

    memset(r, 0, sizeof(*r));
    if (!root) {
        r->rc = verr_set(&r->err, "body", "invalid JSON: %s", je.text);
        return;
    }
    r->was_array = json_is_array(root);
    if (!r->was_array && !json_is_object(root)) {
        r->rc = verr_set(&r->err, "body", "neither an object nor an array");
    } else if (r->was_array && json_array_size(root) > FUZZ_MAX_EVENTS) {
        verr_set(&r->err, "body", "too many events");
        r->err.status = 413;
        r->rc = TOCSIN_ETOOBIG;
    } else {
        r->n = r->was_array ? json_array_size(root) : 1;
        if (r->n) {
            r->evs = arena_alloc(a, r->n * sizeof(*r->evs));
            if (!r->evs)
                r->rc = TOCSIN_ENOMEM;
        }
        for (size_t i = 0; i < r->n && r->rc == TOCSIN_OK; i++) {
            r->rc = event_from_json(r->was_array ? json_array_get(root, i) : root, a, &r->evs[i],
                                    &r->err);
            if (r->rc == TOCSIN_EINVAL && r->was_array)
                verr_prefix_index(&r->err, "", i);
        }
    }
    if (r->rc != TOCSIN_OK) {
        r->n = 0;
        r->evs = NULL;
    }
    json_decref(root);
}

static void run_event_parse(const char *buf, size_t len, struct arena *a, struct result *r)
{
    memset(r, 0, sizeof(*r));
    r->rc = event_parse(buf, len, a, FUZZ_MAX_EVENTS, &r->evs, &r->n, &r->was_array, &r->err);
}

/* Writes why two events differ into why (empty if they do not). */
static void event_diff(const struct event *x, const struct event *y, char *why, size_t cap)
{
    why[0] = '\0';
    if (!same_str(x->id, y->id)) {
        snprintf(why, cap, "id '%s' / '%s'", x->id ? x->id : "(null)", y->id ? y->id : "(null)");
    } else if (!same_str(x->type, y->type)) {
        snprintf(why, cap, "type '%s' / '%s'", x->type ? x->type : "(null)",
                 y->type ? y->type : "(null)");
    } else if (x->ts_ms != y->ts_ms) {
        snprintf(why, cap, "timestamp %lld / %lld", (long long)x->ts_ms, (long long)y->ts_ms);
    } else if (x->nprops != y->nprops) {
        snprintf(why, cap, "%u / %u properties", x->nprops, y->nprops);
    } else {
        for (uint32_t i = 0; i < x->nprops; i++) {
            const struct prop *p = &x->props[i], *q = &y->props[i];
            if (same_str(p->key, q->key) && p->v.type == q->v.type && p->v.slen == q->v.slen &&
                p->v.str && q->v.str && memcmp(p->v.str, q->v.str, (size_t)p->v.slen + 1) == 0 &&
                memcmp(&p->v.num, &q->v.num, sizeof(p->v.num)) == 0)
                continue;
            snprintf(why, cap,
                     "property %u: '%s' type %d len %u '%s' %.17g / '%s' type %d len %u "
                     "'%s' %.17g",
                     i, p->key ? p->key : "(null)", (int)p->v.type, p->v.slen,
                     p->v.str ? p->v.str : "(null)", p->v.num, q->key ? q->key : "(null)",
                     (int)q->v.type, q->v.slen, q->v.str ? q->v.str : "(null)", q->v.num);
            return;
        }
    }
}

/* Empty why when the two results are the same, errors included. */
static void result_diff(const struct result *ref, const struct result *got, char *why, size_t cap)
{
    why[0] = '\0';
    if (ref->rc != got->rc) {
        snprintf(why, cap, "rc %d (%s: %s) / %d (%s: %s)", ref->rc, ref->err.field, ref->err.msg,
                 got->rc, got->err.field, got->err.msg);
    } else if (ref->rc != TOCSIN_OK) {
        if (strcmp(ref->err.field, got->err.field) != 0 || ref->err.status != got->err.status ||
            (strcmp(ref->err.field, "body") != 0 && strcmp(ref->err.msg, got->err.msg) != 0))
            snprintf(why, cap, "error '%s' (%s) %d / '%s' (%s) %d", ref->err.field, ref->err.msg,
                     ref->err.status, got->err.field, got->err.msg, got->err.status);
    } else if (ref->n != got->n || ref->was_array != got->was_array) {
        snprintf(why, cap, "%zu events, array %d / %zu events, array %d", ref->n, ref->was_array,
                 got->n, got->was_array);
    } else {
        for (size_t i = 0; i < ref->n && !why[0]; i++) {
            char ev[1536];
            event_diff(&ref->evs[i], &got->evs[i], ev, sizeof(ev));
            if (ev[0])
                snprintf(why, cap, "event %zu: %s", i, ev);
        }
    }
}

/* What event_parse.h promises about its own output, whatever the reference says. */
static void check_shape(const uint8_t *data, size_t size, const struct result *r)
{
    if (r->rc != TOCSIN_OK) {
        if (memchr(r->err.field, '\0', sizeof(r->err.field)) == NULL ||
            memchr(r->err.msg, '\0', sizeof(r->err.msg)) == NULL)
            mismatch(data, size, "error text not NUL-terminated");
        if ((r->rc == TOCSIN_EINVAL && r->err.status != 400) ||
            (r->rc == TOCSIN_ETOOBIG && r->err.status != 413) ||
            (r->rc == TOCSIN_ENOMEM && r->err.status != 503))
            mismatch(data, size, "rc %d with status %d", r->rc, r->err.status);
        return;
    }
    if ((!r->was_array && r->n != 1) || (r->n == 0) != (r->evs == NULL) || r->n > FUZZ_MAX_EVENTS)
        mismatch(data, size, "accepted with n %zu, array %d, evs %p", r->n, r->was_array,
                 (void *)r->evs);
    for (size_t i = 0; i < r->n; i++) {
        const struct event *ev = &r->evs[i];
        if (!ev->type || !ev->type[0] || ev->nprops > EVENT_MAX_PROPS || (ev->nprops && !ev->props))
            mismatch(data, size, "event %zu: bad header or %u properties", i, ev->nprops);
        for (uint32_t k = 0; k < ev->nprops; k++) {
            const struct prop *p = &ev->props[k];
            if (!p->key || !p->v.str || p->v.str[p->v.slen] != '\0' ||
                (p->v.type == VAL_BOOL && p->v.num != 0.0 && p->v.num != 1.0))
                mismatch(data, size, "event %zu property %u malformed", i, k);
        }
    }
}

/* The jansson 2.14 quirk (jansson_drops_nul): returns the input without the NUL bytes jansson
 * drops (caller frees) and its length in *out_len, or NULL if there are none. */
static char *without_dropped_nuls(const uint8_t *data, size_t size, size_t *out_len)
{
    char *clean = malloc(size ? size : 1);
    size_t n = 0;

    if (!clean)
        abort();
    for (size_t i = 0; i < size; i++) {
        if (jansson_drops_nul((const char *)data, i))
            continue;
        clean[n++] = (char)data[i];
    }
    if (n == size) {
        free(clean);
        return NULL;
    }
    *out_len = n;
    return clean;
}

/* event_parse called a body malformed that jansson read: fine only when the dropped-NUL quirk
 * explains it, i.e. event_parse on the input without those NULs gives exactly jansson's result. */
static bool nul_quirk_explains(const uint8_t *data, size_t size, const struct result *ref)
{
    size_t n = 0;
    char *clean = without_dropped_nuls(data, size, &n);
    struct arena a;
    struct result got;
    char why[2048];

    if (!clean)
        return false;
    arena_init(&a, n * 8 + 64 * 1024);
    run_event_parse(clean, n, &a, &got);
    result_diff(ref, &got, why, sizeof(why));
    arena_free(&a);
    free(clean);
    return why[0] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct arena mine, theirs;
    struct result got, ref;
    bool valid_json;
    char why[2048];

    if (size > FUZZ_MAX_INPUT)
        return -1; /* not added to the corpus */
    arena_init(&mine, size * 8 + 64 * 1024);
    arena_init(&theirs, REF_ARENA_MAX);
    run_event_parse(buf, size, &mine, &got);
    check_shape(data, size, &got);
    reference(buf, size, &theirs, &ref);
    valid_json = !(ref.rc == TOCSIN_EINVAL && strcmp(ref.err.field, "body") == 0 &&
                   strncmp(ref.err.msg, "invalid JSON", 12) == 0);

    if (got.rc == TOCSIN_ENOMEM || ref.rc == TOCSIN_ENOMEM) {
        /* the daemon's arena bound refused it (or malloc failed): nothing to compare */
    } else if (!valid_json || nesting((const char *)data, size) > EVENT_PARSE_MAX_NEST) {
        /* Malformed JSON anywhere, or nesting past the limit: a malformed body, nothing else. */
        if (got.rc != TOCSIN_EINVAL || strcmp(got.err.field, "body") != 0)
            mismatch(data, size, "%s: rc %d field '%s' (%s)", valid_json ? "too deep" : "malformed",
                     got.rc, got.err.field, got.err.msg);
    } else {
        result_diff(&ref, &got, why, sizeof(why));
        /* jansson read the JSON; event_parse may still refuse a NUL that jansson dropped. */
        if (why[0] && !(got.rc == TOCSIN_EINVAL && strcmp(got.err.field, "body") == 0 &&
                        memchr(data, '\0', size) && nul_quirk_explains(data, size, &ref)))
            mismatch(data, size, "%s", why);
    }
    arena_free(&mine);
    arena_free(&theirs);
    return 0;
}
