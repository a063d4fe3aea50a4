/* Notification templates, rendered against a jansson object. Two syntaxes, mixable in one
 * template: FreeMarker's `${...}` (Gravitee Alert Engine bodies) and Handlebars/Mustache
 * `{{...}}` (ThingConnect Pulse, Keep, Canopsis). Compile once with tmpl_compile(), render many
 * times with tmpl_render(); a compiled template is immutable, so several threads may render it at
 * once. The user-facing description of both syntaxes, every helper and the escaping rules is
 * docs/templates.md.
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
 * A `$` not followed by `{` is literal text. A backslash is not an escape (as in FreeMarker): in
 * `\${x}` the backslash stays and `${x}` is substituted.
 *
 * Handlebars `{{...}}` (see docs/templates.md): {{path}}, {{{raw}}}, {{& raw}}, {{! comment}},
 * {{!-- comment --}}, ~ whitespace control, standalone block lines removed; blocks #if #unless
 * #each #with, {{else}} and {{else if ...}} chains, comparison blocks #eq #ne #gt #lt #ge/#gte
 * #le/#lte and #and #or #not, Mustache sections {{#path}} {{^path}}; subexpressions (helper ...);
 * helpers upper lower json default truncate date len/length join replace trim lookup eq ne gt lt
 * ge gte le lte and or not; this . ../ @root @key @index @first @last; `\{{` is a literal "{{".
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
#define TMPL_MAX_NEST 32       /* Handlebars blocks open inside each other */
#define TMPL_MAX_ARGS 8        /* arguments of one helper call */
#define TMPL_MAX_SUBEXPR 8     /* subexpressions nested inside each other: (a (b (c x))) */
#define TMPL_MAX_EACH 10000    /* {{#each}} iterations in one render, all blocks together */
/* Bytes of subexpression results (and JSON text of objects given to text helpers) held at once
 * while one {{...}} tag renders. */
#define TMPL_SCRATCH 4096
#define TMPL_MAX_DATE_FMT 64          /* bytes of a date format */
#define TMPL_CHECK_MAX_OUT (1u << 20) /* tmpl_render_check() output bound when out is NULL */

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
 * Handlebars `{{x}}` values are escaped the same way except TMPL_ESC_HTML, which also escapes `
 * and = (as Handlebars does); in TMPL_ESC_JSON, invalid UTF-8 becomes \ufffd. `{{{x}}}` and
 * `{{& x}}` are never escaped. `{{json x}}` in TMPL_ESC_JSON mode emits a complete JSON value
 * (strings quoted and escaped), meant to stand outside quotes: {"labels": {{json labels}}}; in the
 * other modes its text is escaped as any value.
 * A helper that cannot do its job on the data it got (date of a non-date, ...) renders nothing;
 * tmpl_render_check() reports it. Returns TOCSIN_ETOOBIG when out's maximum would be exceeded (or
 * a JSON value is nested deeper than TMPL_MAX_JSON_DEPTH, or the {{#each}} blocks iterate more
 * than TMPL_MAX_EACH times), TOCSIN_ENOMEM; on any error out is restored to its length at entry. */
int tmpl_render(const struct tmpl *t, const json_t *ctx, enum tmpl_escape esc, struct buf *out);

/* As tmpl_render(), for validating a template when a rule or channel is saved: renders against a
 * sample context and also fails (TOCSIN_EINVAL) when a helper could not do its job, writing
 * "offset N: message" (N: the tag in the source) into err. out may be NULL: the rendering then
 * goes to a scratch buffer of at most TMPL_CHECK_MAX_OUT bytes, freed before returning. Other
 * errors as tmpl_render(), with tocsin_strerror()'s text in err. */
int tmpl_render_check(const struct tmpl *t, const json_t *sample, enum tmpl_escape esc,
                      struct buf *out, char *err, size_t errlen);

/* One-off compile + render of a NUL-terminated src; errors as for the two calls above. */
int tmpl_render_string(const char *src, const json_t *ctx, enum tmpl_escape esc, struct buf *out,
                       char *err, size_t errlen);

/* True if the template has no tags of either syntax and no \{{ escape (rendering it yields its
 * source). */
bool tmpl_is_literal(const struct tmpl *t);

#endif
