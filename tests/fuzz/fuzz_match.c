/* libFuzzer harness for core/match: any JSON document through matcher_compile (both shapes:
 * Canopsis patterns and Alertmanager matcher strings), then, when it compiles, evaluated
 * against a few fixed alerts.
 *
 * Checks, besides the sanitizers:
 *  - a rejection leaves *out NULL and a NUL-terminated error (EINVAL with a message);
 *  - round trip: matcher_to_json() compiles again, gives the same JSON and the same verdict on
 *    every alert;
 *  - the index hints: for every hint matcher_next_required() gives, every alert the matcher
 *    matches has an mfield_text() among the hint's values, or is an attribute holding a JSON
 *    array (match.h's promise to the rule index).
 * The alerts (built once, as tests/unit/test_match.c does) are only read. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alert.h"
#include "core/alertdb.h"
#include "core/match.h"
#include "core/verr.h"
#include "util/err.h"

#define FUZZ_MAX_INPUT (64 * 1024)
#define FUZZ_NOW_MS 1700000000000LL
#define NALERTS 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fixture {
    struct alertdb_cfg cfg;
    struct alertdb *db;
    const struct alert *a[NALERTS];
};

__attribute__((format(printf, 3, 4), noreturn)) static void fail(const uint8_t *data, size_t size,
                                                                 const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "input, %zu bytes: %.*s\n", size, (int)(size > 4096 ? 4096 : size),
            (const char *)data);
    fputs("fuzz_match: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static const struct alert *receive(struct fixture *f, struct alert_in *in, int64_t now)
{
    struct effects fx;
    struct alert *a = NULL;
    int kind;

    effects_init(&fx);
    if (alertdb_receive(f->db, in, "fuzz", "fuzz", NULL, false, now, &fx, &a, &kind) != TOCSIN_OK ||
        !a) {
        fputs("fuzz_match: cannot build the fixture alerts\n", stderr);
        abort();
    }
    effects_free(&fx);
    return a;
}

/* Three alerts: a rich one (the unit tests'), a bare one, and one with unusual values. */
static const struct fixture *fixture(void)
{
    static struct fixture f;
    static bool ready;
    uint8_t ids[NALERTS][16];

    if (ready)
        return &f;
    alertdb_cfg_default(&f.cfg);
    f.db = alertdb_new(&f.cfg, FUZZ_NOW_MS);
    if (!f.db)
        abort();
    {
        struct alert_in in;
        const char *svc[] = {"web", "api"}, *tags[] = {"a", "b"};
        struct kv labels[] = {{"team", "ops"}, {"region", "eu-west"}, {"n", "1.0"}};
        struct kv attrs[] = {{"count", "42"},
                             {"owner", "\"al\\\"ice\\u00e9\""},
                             {"zones", "[\"z1\",\"z2\",3]"},
                             {"flag", "true"},
                             {"obj", "{\"k\":1}"}};
        struct kv ann[] = {{"summary", "CPU is high"}};
        alert_in_init(&in);
        in.resource = "web01";
        in.event = "HighCPU";
        in.environment = "Production";
        in.severity = sevmap_find(&f.cfg.sev, "major", 5);
        in.value = "93.5";
        in.text = "cpu high";
        in.service = (struct strlist){svc, 2};
        in.tags = (struct strlist){tags, 2};
        in.labels = (struct kvlist){labels, 3};
        in.attributes = (struct kvlist){attrs, 5};
        in.annotations = (struct kvlist){ann, 1};
        in.flags = AIN_LABELS | AIN_ANNOTATIONS | AIN_ATTRIBUTES | AIN_SERVICE | AIN_TAGS;
        memcpy(ids[0], receive(&f, &in, FUZZ_NOW_MS)->id, 16);
    }
    {
        struct alert_in in;
        alert_in_init(&in);
        in.resource = "db01";
        in.event = "Down";
        memcpy(ids[1], receive(&f, &in, FUZZ_NOW_MS + 1)->id, 16);
    }
    {
        struct alert_in in;
        const char *corr[] = {"Down", "", "x,y"}, *tags[] = {""};
        struct kv labels[] = {{"team", ""}, {"n", "01"}, {"alertname", "Disk\nFull"}};
        struct kv attrs[] = {{"count", "-1e3"}, {"nil", "null"}, {"deep", "[[\"a\"],{}]"},
                             {"s", "\"\""}};
        alert_in_init(&in);
        in.resource = "r\xc3\xa9s";
        in.event = "Disk Full";
        in.environment = "";
        in.severity = sevmap_find(&f.cfg.sev, "critical", 8);
        in.value = "-0";
        in.origin = "trigger/t1";
        in.customer = "acme";
        in.correlate = (struct strlist){corr, 3};
        in.tags = (struct strlist){tags, 1};
        in.labels = (struct kvlist){labels, 3};
        in.attributes = (struct kvlist){attrs, 4};
        in.flags = AIN_LABELS | AIN_ATTRIBUTES | AIN_CORRELATE | AIN_TAGS;
        memcpy(ids[2], receive(&f, &in, FUZZ_NOW_MS + 2)->id, 16);
    }
    for (int i = 0; i < NALERTS; i++) /* after every receive: nothing moves any more */
        if (!(f.a[i] = alertdb_find(f.db, ids[i])))
            abort();
    ready = true;
    return &f;
}

static int compile(const uint8_t *data, size_t size, const json_t *j, const struct sevmap *sev,
                   struct matcher **mt)
{
    struct verr e;
    int rc;

    memset(&e, 0, sizeof(e));
    *mt = (struct matcher *)(uintptr_t)1; /* must be overwritten */
    rc = matcher_compile(j, sev, mt, &e);
    if (rc != TOCSIN_OK) {
        if (*mt)
            fail(data, size, "rc %d but *out is set", rc);
        if (!memchr(e.field, '\0', sizeof(e.field)) || !memchr(e.msg, '\0', sizeof(e.msg)))
            fail(data, size, "error text not NUL-terminated");
        if (rc == TOCSIN_EINVAL && !e.msg[0])
            fail(data, size, "EINVAL without a message (field '%s')", e.field);
        if (rc != TOCSIN_EINVAL && rc != TOCSIN_ENOMEM)
            fail(data, size, "unexpected rc %d", rc);
        return rc;
    }
    if (!*mt)
        fail(data, size, "compiled without a matcher");
    return rc;
}

/* Every index hint holds: an alert that matches has its field's text among the hint's values
 * (or, for an attribute, a JSON array, which the index always visits). */
static void check_required(const uint8_t *data, size_t size, const struct fixture *f,
                           const struct matcher *mt, const bool *matched)
{
    static char buf[MATCH_TEXT_MAX];
    static struct mreq h; /* about 1.5 KiB: off the stack */
    size_t pos = 0;

    while (matcher_next_required(mt, &f->cfg.sev, &pos, &h)) {
        if (!h.f || h.n == 0 || h.n > MATCH_SET_MAX)
            fail(data, size, "index hint without a field or with %zu values", h.n);
        for (int i = 0; i < NALERTS; i++) {
            size_t tl, k;
            const char *t;
            char name[128];
            if (!matched[i])
                continue;
            t = mfield_text(h.f, &f->cfg.sev, f->a[i], buf, &tl);
            if (h.f->kind == MF_ATTR && tl && t[0] == '[')
                continue;
            for (k = 0; k < h.n && !(h.len[k] == tl && !memcmp(h.v[k], t, tl)); k++)
                ;
            if (k == h.n) {
                mfield_name(h.f, name, sizeof(name));
                fail(data, size, "alert %d matches, but its %s '%.*s' is none of the hint's %zu",
                     i, name, (int)tl, t, h.n);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fixture *f;
    json_error_t je;
    json_t *root, *j1, *j2;
    struct matcher *mt, *mt2;
    bool matched[NALERTS];

    if (size > FUZZ_MAX_INPUT)
        return -1;
    f = fixture();
    root = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
    if (!root)
        return 0;
    if (compile(data, size, root, &f->cfg.sev, &mt) != TOCSIN_OK) {
        json_decref(root);
        return 0;
    }
    for (int i = 0; i < NALERTS; i++)
        matched[i] = matcher_match(mt, f->a[i]);
    check_required(data, size, f, mt, matched);

    /* round trip */
    j1 = matcher_to_json(mt);
    if (j1 && compile(data, size, j1, &f->cfg.sev, &mt2) == TOCSIN_OK) {
        for (int i = 0; i < NALERTS; i++)
            if (matcher_match(mt2, f->a[i]) != matched[i])
                fail(data, size, "round trip changed the verdict on alert %d", i);
        j2 = matcher_to_json(mt2);
        if (j2 && !json_equal(j1, j2))
            fail(data, size, "matcher_to_json is not a fixed point");
        json_decref(j2);
        matcher_free(mt2);
    } else if (j1) {
        struct verr e = {0};
        char *t = json_dumps(j1, JSON_ENCODE_ANY | JSON_COMPACT);
        int rc = matcher_compile(j1, &f->cfg.sev, &mt2, &e);
        if (rc != TOCSIN_ENOMEM)
            fail(data, size, "matcher_to_json does not compile again: %s: %s\n  json: %s", e.field,
                 e.msg, t ? t : "?");
        free(t);
    }
    json_decref(j1);
    matcher_free(mt);
    json_decref(root);
    return 0;
}
