/* alerta_parse: a strict, single-pass reader of Alerta alert JSON (POST /alert bodies).
 *
 * It reads one alert object, or a JSON array of them, straight into `struct alert_in`s
 * (core/alert.h) with the checks of Alerta 9's Alert.parse() and Alert.__init__(), without
 * building a JSON tree: strings are unescaped into the arena, lists and maps are collected on the
 * stack and copied once, and no value is malloc'd on its own.
 *
 * Fields (absent and null leave the alert_in default, see alert_in_init(), unless said):
 *  - resource, event: non-empty strings, required.
 *  - id: a UUID in text form (kept as sent); "" is absent (Alerta makes a new id).
 *  - environment, group, text, origin, type, fingerprint, source, generatorURL: strings; "" is
 *    absent (Alerta's `x or default`). customer: a string, "" is a 400.
 *  - severity: a name of the sevmap, case-sensitive; status: a name astatus_parse() knows; ""
 *    is absent for both (Alerta's `or`); the check Alerta makes later (in its alarm model) is made
 *    here.
 *  - value: a string, or a number kept as its JSON text ("95", "1.5", "1E3"; "-0" gives "0"), or
 *    null; AIN_VALUE says it was sent.
 *  - service, tags, correlate: arrays of strings (null is "must be a list", as in Alerta). As
 *    Alert.__init__ does, event is appended to a non-empty correlate that lacks it.
 *  - attributes: an object (null is a 400, as in Alerta) whose keys hold neither '.' nor '$'; each
 *    value is kept as the text json_dumps(v, JSON_COMPACT) gives it (numbers included), so null is
 *    "null" (delete the key).
 *  - labels, annotations (tocsin extensions): objects of strings; null is absent.
 *  - timeout: an integer 0..ALERT_MAX_TIMEOUT, or null.
 *  - createTime, startsAt, endsAt: ISO 8601 strings (iso8601_parse) -> ms, or null.
 *  - rawData: a string kept as is, null, or any other JSON kept as its compact text
 *    (AIN_RAW says it was sent).
 *  - Unknown keys are ignored. A repeated key: the last one wins, as with Python's json (in maps,
 *    the entry stays where the key first was); only the last value's errors count.
 *  The AIN_* flags are set for the lists and maps present (labels/annotations: not null).
 *
 * Errors name the field: "resource", "tags[2]", "attributes.foo", "labels.k", and "[3].severity"
 * for element 3 of an array. With several errors in one alert, the one Alerta would raise first
 * wins: Alert.parse's type checks (correlate, service, tags, attributes, timeout, customer), then
 * createTime, resource, event, attribute keys, a negative timeout, severity, then tocsin's own
 * checks (types, lengths, counts) in field order. Limits (core/alert.h): ALERT_MAX_NAME for
 * resource, event, environment, group, origin, type, customer, fingerprint, source, list items,
 * map keys and label values; ALERT_MAX_TEXT for text, value, generatorURL and annotation values;
 * ALERT_MAX_ATTR_VALUE for one attribute's compact text; ALERT_MAX_RAW for rawData's text;
 * ALERT_MAX_ITEMS entries per list or map.
 *
 * JSON is checked by core/jscan.h (shared with core/event_parse) as strictly as jansson does
 * (RFC 8259, UTF-8, no "\u0000", 64-bit integers, finite reals read with strtod in the "C"
 * numeric locale), with event_parse's deliberate differences: containers nested deeper than
 * ALERTA_PARSE_MAX_NEST (64) are invalid JSON, a raw NUL byte right after a number or literal is
 * rejected (jansson 2.14 drops it), and the wording and line/column of "invalid JSON" messages
 * are this reader's own. An attribute value or rawData with a repeated key in an inner object,
 * or an inner object of more than 128 keys, is re-dumped through jansson (json_loadb +
 * json_dumpb) so that its text is exactly jansson's.
 *
 * Deviations from Alerta (stricter or extended, all deliberate): string fields must be strings or
 * null, list items strings, labels/annotations values strings; a boolean timeout or value is a 400
 * (Python counts True as an int); createTime must be a string or null (Alerta ignores other types)
 * and any ISO 8601 form iso8601_parse reads is accepted (Alerta: only YYYY-MM-DDThh:mm:ss.sssZ);
 * a non-string, non-null severity is a 400 even when Python would find it false (0, [], {});
 * unknown statuses are rejected; id must be a UUID; the limits above. Numbers: value keeps the
 * text sent (Alerta makes an int a string and keeps a real a number); attribute values and rawData
 * get jansson's text (0.1 is "0.10000000000000001" where Python writes 0.1).
 *
 * Cost: about 1.1 us for a 630-byte alert with 5 attributes and 5 labels, alone or in a batch
 * (-O2; `test_alerta_parse --bench`), about 10x less than json_loadb alone. One call uses about
 * 40 KiB of stack. Arena use: about 2.7x the body for one such alert (most of it a string block
 * taken whole), 1.3x in a batch; at most about 18x the body plus 64 KiB in the worst case (a batch
 * of minimal 28-byte alerts, each a 256-byte struct alert_in, whose array grew twice the size it
 * needed), 4.5x for maps of short reals whose compact text is longer than sent. Size the arena
 * from the body length as len * 24 + 64 KiB: it is a ceiling, the arena only takes what is used.
 * Thread-safe: no global state. */
#ifndef TOCSIN_ALERTA_PARSE_H
#define TOCSIN_ALERTA_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/alert.h"
#include "core/verr.h"
#include "util/arena.h"

#define ALERTA_PARSE_MAX_NEST 64

/* Parses one Alerta alert object, or (allow_array) a JSON array of them.
 * `len` bytes of `buf` (whitespace around allowed, no NUL needed) are borrowed for the call
 * only; `sev` names the severities. On success *out points to an arena-allocated array of *n
 * alerts (n == 1 for an object; an empty array gives n == 0 and *out == NULL) and *was_array
 * tells which form it was; everything the alerts point to lives in `a` (or is static) and is
 * freed with it.
 * Errors:
 *  - TOCSIN_EINVAL (err->status 400): malformed JSON sets field "body", message "invalid JSON:
 *    <what> (line L, column C)"; a body that is not an object (nor, with allow_array, an array)
 *    sets field "body"; an array element that is not an object sets field "[i]"; a semantic error
 *    sets the field as described above, prefixed "[i]" / "[i]." inside an array.
 *  - TOCSIN_ETOOBIG (status 413, field "body"): more than max_alerts alerts.
 *  Precedence: malformed JSON anywhere in the body, then too many alerts, then the first failing
 *  alert's own error.
 *  - TOCSIN_ENOMEM (status 503): the arena refused. */
int alerta_parse(const char *buf, size_t len, struct arena *a, const struct sevmap *sev,
                 size_t max_alerts, bool allow_array, struct alert_in **out, size_t *n,
                 bool *was_array, struct verr *err);

#endif
