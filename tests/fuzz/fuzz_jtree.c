/* libFuzzer harness for core/jtree (JSON text to a jansson tree through jscan), differential
 * against json_loadb(…, 0), the parser it stands in for:
 *  - a tree from jtree_load: jansson must give a tree too, json_equal to it and dumping to the
 *    same text (key order and repeated keys included);
 *  - NULL from jtree_load where jansson gives a tree: allowed only for the differences jtree.h
 *    documents (jscan's nesting limit, a NUL byte right after a number or literal), so the
 *    input must nest deeper than JSCAN_MAX_NEST or hold such a NUL byte;
 *  - jtree_is_json must say exactly what json_loadb(…, JSON_DECODE_ANY) says (it asks jansson
 *    itself when jscan refuses).
 * Everything is freed each run, so LeakSanitizer sees real leaks. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/jscan.h"
#include "core/jtree.h"

#include "../unit/parse_helpers.h"

#define FUZZ_MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void mismatch(const uint8_t *data, size_t size, const char *what)
{
    print_input((const char *)data, size);
    fprintf(stderr, "fuzz_jtree: jtree_load and json_loadb differ: %s\n", what);
    abort();
}

/* Whether the input holds a NUL byte jansson drops (parse_helpers.h): jscan refuses it. */
static bool has_dropped_nul(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (jansson_drops_nul(s, i))
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    json_t *a, *b, *any;

    if (size > FUZZ_MAX_INPUT)
        return 0;
    any = json_loadb(text, size, JSON_DECODE_ANY, NULL);
    if ((any != NULL) != jtree_is_json(text, size))
        mismatch(data, size, "jtree_is_json and JSON_DECODE_ANY disagree");
    json_decref(any);
    a = json_loadb(text, size, 0, NULL);
    b = jtree_load(text, size);
    if (b) {
        char *da, *db;
        if (!a)
            mismatch(data, size, "jtree accepted what jansson refused");
        if (!json_equal(a, b))
            mismatch(data, size, "different values");
        da = json_dumps(a, JSON_COMPACT);
        db = json_dumps(b, JSON_COMPACT);
        if (!da || !db || strcmp(da, db))
            mismatch(data, size, "different dumps");
        free(da);
        free(db);
    } else if (a && nesting(text, size) <= JSCAN_MAX_NEST && !has_dropped_nul(text, size)) {
        mismatch(data, size, "jtree refused what jansson accepted");
    }
    json_decref(a);
    json_decref(b);
    return 0;
}
