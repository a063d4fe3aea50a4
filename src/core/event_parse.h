/* event_parse: a strict, single-pass JSON reader specialised for Gravitee AE events.
 *
 * It reads one event object or a JSON array of them and produces the same `struct event`s, and the
 * same validation errors with the same field names, as json_loadb(JSON_DECODE_ANY) followed by
 * event_from_json() for each element (prefixing "[i]" inside arrays, as compat/gravitee.c does),
 * without building a jansson tree: strings are unescaped straight into the arena, properties are
 * flattened as they are read, and no value is malloc'd on its own. Array properties get the text
 * json_dumps(JSON_COMPACT) gives them, number formatting included.
 *
 * JSON is checked by core/jscan.h, the scanner compat/alerta_parse shares, as strictly as jansson
 * does (RFC 8259, UTF-8, no "\u0000", 64-bit integers, finite reals read with strtod in the "C"
 * numeric locale). Known differences, all deliberate:
 *  - Containers nested deeper than EVENT_PARSE_MAX_NEST (64) are rejected as invalid JSON
 *    (jansson allows 2048), so no input can make the reader use unbounded stack.
 *  - A raw NUL byte right after a number or true/false/null is rejected; jansson 2.14 silently
 *    drops it (its look-ahead byte is lost). Anywhere else both reject NUL bytes.
 *  - A real `timestamp` outside the int64 range (e.g. 1e300) is rejected with field "timestamp";
 *    event_from_json converts it with an undefined double-to-int64 cast.
 *  - The "<what>" and line/column of "invalid JSON" messages are this reader's own wording.
 * An event with a duplicate object key inside `properties` or `context`, a repeated
 * "properties"/"context" key, or an object of more than 128 keys there (never sent by AE
 * connectors) is re-read through jansson + event_from_json, so jansson's "last value wins, in the
 * first key's place" rule holds exactly; that event costs what it cost before.
 *
 * Cost: one call uses about 30 KiB of stack. Arena use is about 1.5x the body for typical
 * events and at most about 6x for batches of tiny events ({"type":"t"}); size the arena from the
 * body length (e.g. len * 8 + 64 KiB). Thread-safe: no global state. */
#ifndef TOCSIN_EVENT_PARSE_H
#define TOCSIN_EVENT_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/event.h"
#include "core/verr.h"
#include "util/arena.h"

#define EVENT_PARSE_MAX_NEST 64

/* Parses `len` bytes holding one event object or a JSON array of event objects (whitespace around
 * allowed). `buf` is borrowed for the call only and need not be NUL-terminated.
 * On success *evs points to an arena-allocated array of *n events (n == 1 for a single object; an
 * empty array gives n == 0 and *evs == NULL) and *was_array tells which form it was; everything
 * the events point to lives in `a` and is freed with it.
 * Errors:
 *  - TOCSIN_EINVAL: malformed JSON sets field "body", message "invalid JSON: <what> (line L,
 *    column C)"; a body that is neither an object nor an array sets field "body"; a semantic error
 *    sets the field event_from_json would, prefixed "[i]" / "[i]." for element i of an array.
 *  - TOCSIN_ETOOBIG: more than max_events elements (err->status 413, field "body").
 *  Precedence, as with jansson + event_from_json: malformed JSON anywhere in the body, then too
 *  many elements, then the first failing element's own error.
 *  - TOCSIN_ENOMEM: the arena refused (err->status 503).
 * err->status is 400 for TOCSIN_EINVAL. */
int event_parse(const char *buf, size_t len, struct arena *a, size_t max_events, struct event **evs,
                size_t *n, bool *was_array, struct verr *err);

#endif
