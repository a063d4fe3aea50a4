/* ajson: validated reading of Alerta API JSON bodies into the model, with Alerta's error messages,
 * and what the blackout and heartbeat records share to list and serialise themselves (ordering
 * as Postgres orders, jansson builders).
 *
 * Readers take a jansson object (or value) and a field name; an error is TOCSIN_EINVAL through
 * verr_set() (status 400), its field and message worded as Alerta words them ("tags must be a
 * list", "dates must be ISO 8601 date format YYYY-MM-DDThh:mm:ss.sssZ"). Builders return a new
 * reference, NULL when jansson could not allocate; ajson_put() takes that NULL as a failure, so
 * an object is built with `rc |= ajson_put(...)` and checked once. Pure: no I/O, no state. */
#ifndef TOCSIN_AJSON_H
#define TOCSIN_AJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/verr.h"

/* ---- reading ---- */

/* An optional string field: *out borrows its text from o (NULL when absent or null). Errors:
 * "<field> must be a string", "<field> must be at most <max> bytes". */
int ajson_opt_str(const json_t *o, const char *field, size_t max, const char **out,
                  struct verr *err);

/* A list of strings, `v` the field's value (NULL: absent, an empty list). null is an empty list
 * when null_ok, else "<field> must be a list", as anything but an array; at most ALERT_MAX_ITEMS
 * items, each a string of at most ALERT_MAX_NAME bytes (field "<field>[i]" otherwise). *out
 * holds copies of the *n items read so far even on an error (NULL when none): the caller frees
 * it with ajson_free_strs(). */
int ajson_str_list(const json_t *v, const char *field, bool null_ok, char ***out, uint32_t *n,
                   struct verr *err);

/* Frees n strings and their array (NULL is fine). */
void ajson_free_strs(char **v, uint32_t n);

/* An optional ISO 8601 time (iso8601_parse) into *ms, left as it was when absent or null;
 * *present (if not NULL) tells which. Error: Alerta's "dates must be ISO 8601 ..." message. */
int ajson_opt_time(const json_t *o, const char *field, int64_t *ms, bool *present,
                   struct verr *err);

/* ---- ordering lists (Postgres order) ---- */

/* strcmp, with NULL after every string (Postgres, ascending). */
int ajson_cmp_str(const char *a, const char *b);
int ajson_cmp_i64(int64_t a, int64_t b);
/* Element by element, then the shorter first (Postgres text[] order). */
int ajson_cmp_strs(char *const *a, uint32_t na, char *const *b, uint32_t nb);
/* True if `customers` is NULL (no restriction) or holds customer (NULL is in no list). */
bool ajson_customer_in(const char *const *customers, size_t n, const char *customer);

/* ---- building ---- */

/* Sets o[k] = v, taking v; -1 when v is NULL or jansson refused, else 0. */
int ajson_put(json_t *o, const char *k, json_t *v);
/* o["href"] = "<base><path><id>" (path such as "/blackout/"), as ajson_put. */
int ajson_put_href(json_t *o, const char *base, const char *path, const char *id);
/* The time as Alerta writes it: "2026-11-24T05:44:27.123Z" (iso8601_ms). */
json_t *ajson_time(int64_t ms);
/* A string, or null for NULL. */
json_t *ajson_nullable(const char *s);
/* An array of the n strings. */
json_t *ajson_str_array(const char *const *v, uint32_t n);

#endif
