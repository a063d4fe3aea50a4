/* libFuzzer harness for util/yamlj: any bytes through yamlj_load_string (the YAML loader under
 * the config and rules files), then again with tight bounds and a collection callback.
 *
 * Checks, besides the sanitizers:
 *  - a failure gives NULL and a non-empty, NUL-terminated message; a success a value that
 *    jansson can dump (no NaN or infinity: yamlj.h refuses them);
 *  - tight bounds (max_nodes, max_depth) either fail or give the same value: a bound never
 *    changes a document, it only refuses it; the callback sees only depths within the bound,
 *    lines from 1, and never more collections than nodes. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/yamlj.h"

#define FUZZ_MAX_INPUT (64 * 1024)
#define TIGHT_NODES 64
#define TIGHT_DEPTH 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((format(printf, 3, 4), noreturn)) static void fail(const uint8_t *data, size_t size,
                                                                 const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "input, %zu bytes: %.*s\n", size, (int)(size > 4096 ? 4096 : size),
            (const char *)data);
    fputs("fuzz_yamlj: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

struct seen {
    size_t calls, max_depth;
    int min_line;
    bool null_node;
};

static void on_collection(void *ud, const json_t *node, size_t depth, int line)
{
    struct seen *s = ud;

    s->calls++;
    if (depth > s->max_depth)
        s->max_depth = depth;
    if (line < s->min_line)
        s->min_line = line;
    if (!node || !(json_is_object(node) || json_is_array(node)))
        s->null_node = true;
}

static void check_err(const uint8_t *data, size_t size, const char *err, size_t cap)
{
    if (!memchr(err, '\0', cap))
        fail(data, size, "error not NUL-terminated");
    if (!err[0])
        fail(data, size, "failed without a message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512], err2[512];
    struct seen s = {.min_line = 1 << 30};
    struct yamlj_opts o = {.max_nodes = TIGHT_NODES, .max_depth = TIGHT_DEPTH,
                           .on_collection = on_collection, .ud = &s};
    json_t *v, *t;

    if (size > FUZZ_MAX_INPUT)
        return -1;
    memset(err, 0x55, sizeof(err));
    v = yamlj_load_string((const char *)data, size, 0, err, sizeof(err));
    if (!v) {
        check_err(data, size, err, sizeof(err));
    } else {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (!text)
            fail(data, size, "the value does not dump");
        free(text);
    }
    memset(err2, 0x55, sizeof(err2));
    t = yamlj_load_ex("f.yaml", (const char *)data, size, &o, err2, sizeof(err2));
    if (!t) {
        check_err(data, size, err2, sizeof(err2));
    } else {
        if (!v)
            fail(data, size, "tight bounds accept what the defaults refuse: %s", err);
        if (!json_equal(v, t))
            fail(data, size, "tight bounds changed the value");
        if (s.max_depth > TIGHT_DEPTH || s.null_node || (s.calls && s.min_line < 1) ||
            s.calls > TIGHT_NODES)
            fail(data, size, "callback: %zu calls, depth %zu, line %d", s.calls, s.max_depth,
                 s.min_line);
    }
    json_decref(t);
    json_decref(v);
    return 0;
}
