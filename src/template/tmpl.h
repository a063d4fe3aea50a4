/* Notification templates: Gravitee Alert Engine bodies, which use FreeMarker's `${...}` syntax,
 * rendered against a jansson object. Compile once with tmpl_compile(), render many times with
 * tmpl_render(); a compiled template is immutable, so several threads may render it at once.
 *
 * Supported inside `${ ... }` (whitespace allowed between tokens):
 *   a.b.c                 walk objects; `a.b` may also match a flat key "a.b" at any level
 *   a['k.e.y'] a["k"]     a key taken verbatim (dots are not split); r"..." is a raw string
 *   a.list[0]             array index (on an object: the key "0")
 *   x!  x!"text"  x!'t'   default when x is missing or null (also a number: x!0)
 *   x?upper_case          built-ins: upper_case lower_case cap_first uncap_first (ASCII letters
 *                         only), html url json_string (escape), chainable, applied in order;
 *                         trim, c (integral reals below 1e21 in full digits), string act on the
 *                         value itself, before the others; on objects/arrays, on their JSON text
 *   x!"d"?upper_case      built-ins after a default apply to the default only
 *   (a.b)!"d"             guards the whole path, as in FreeMarker
 *   (x!"d")?upper_case    built-ins after a parenthesised default apply to either result
 * Everything else is literal text: a `$` not followed by `{`, and (for now) `{{`. A backslash is
 * not an escape (as in FreeMarker): in `\${x}` the backslash stays and `${x}` is substituted.
 *
 * Values: strings as-is; integers (and integral reals below 2^53) without a decimal point; other
 * reals in the shortest form that reads back the same; true/false; objects and arrays as compact
 * JSON in their own key order; missing values and null as nothing. */
#ifndef TOCSIN_TMPL_H
#define TOCSIN_TMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define TMPL_MAX_SRC 65536     /* bytes of template source */
#define TMPL_MAX_NODES 1024    /* literal spans plus substitutions */
#define TMPL_MAX_DEPTH 16      /* segments in one path */
#define TMPL_MAX_BUILTINS 8    /* built-ins in one substitution */
#define TMPL_MAX_JSON_DEPTH 64 /* nesting of an object/array value rendered as JSON */

struct tmpl;

enum tmpl_escape { TMPL_ESC_NONE = 0, TMPL_ESC_JSON, TMPL_ESC_HTML, TMPL_ESC_URL };

/* Compiles src (len bytes, need not be NUL-terminated; the template keeps its own copy). On
 * success *out is the template, which the caller frees with tmpl_free(). On a syntax error or an
 * exceeded limit returns TOCSIN_EINVAL, *out = NULL, and writes "offset N: message" into err
 * (err may be NULL; the message is truncated to errlen). TOCSIN_ENOMEM if allocation fails. */
int tmpl_compile(const char *src, size_t len, struct tmpl **out, char *err, size_t errlen);
void tmpl_free(struct tmpl *t); /* NULL is fine */

/* Appends the rendering to out. ctx is borrowed for the call (NULL renders every value as
 * missing). Escaping applies to substituted values only, never to the template's own text:
 * TMPL_ESC_JSON as inside a JSON string (no quotes added), TMPL_ESC_HTML & < > " ', TMPL_ESC_URL
 * percent-encodes all but A-Z a-z 0-9 - . _ ~. Allocates nothing but out's memory.
 * Returns TOCSIN_ETOOBIG when out's maximum would be exceeded (or a JSON value is nested deeper
 * than TMPL_MAX_JSON_DEPTH), TOCSIN_ENOMEM; on any error out is restored to its length at entry. */
int tmpl_render(const struct tmpl *t, const json_t *ctx, enum tmpl_escape esc, struct buf *out);

/* One-off compile + render of a NUL-terminated src; errors as for the two calls above. */
int tmpl_render_string(const char *src, const json_t *ctx, enum tmpl_escape esc, struct buf *out,
                       char *err, size_t errlen);

/* True if the template has no substitutions (rendering it yields its source). */
bool tmpl_is_literal(const struct tmpl *t);

#endif
