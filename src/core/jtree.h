/* jtree: JSON text to a jansson tree, read by core/jscan.h instead of jansson's own parser.
 *
 * jansson reads a byte at a time through a stream and builds each string byte by byte: a
 * notification's 1.2 KB context took 22-26 µs to load and free, most of the notifier's time
 * per delivery that was not libcurl's. jscan checks the same text in under 1 µs; the tree is
 * then built with jansson's own constructors (json_object_setn_new_nocheck, json_stringn_nocheck
 * on text jscan has checked), so it is the tree json_loadb(buf, len, 0, NULL) gives: the same
 * values, numbers as integers or reals as jansson types them, object keys in their order, a
 * repeated key's last value.
 *
 * Where jscan is stricter than jansson (nesting over JSCAN_MAX_NEST, a NUL byte right after a
 * literal or number; see jscan.h) jtree_load returns NULL and the caller that must accept what
 * jansson accepts calls jansson then (jtree_load_or_jansson, jtree_is_json): only then, so a
 * text that is not JSON is never parsed twice. Thread-safe; no global state. */
#ifndef TOCSIN_JTREE_H
#define TOCSIN_JTREE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The object or array that is all of buf[0..len) (whitespace around it allowed), or NULL: not
 * JSON, another top-level value (as json_loadb without JSON_DECODE_ANY), beyond jscan's limits,
 * or out of memory. A new reference. */
json_t *jtree_load(const char *buf, size_t len);

/* jtree_load, and when it gives NULL for nesting or a NUL byte, json_loadb(buf, len, 0, NULL). */
json_t *jtree_load_or_jansson(const char *buf, size_t len);

/* Whether buf[0..len) is one JSON value of any type, as json_loadb(…, JSON_DECODE_ANY) would
 * tell, without building it: jscan checks it (jansson is asked only for nesting or a NUL byte).
 * For a body's default Content-Type, which used to parse the whole body to learn it. */
bool jtree_is_json(const char *buf, size_t len);

#endif
