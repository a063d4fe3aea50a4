/* YAML 1.2 to jansson, through libfyaml's event parser.
 *
 * One document in, one JSON value out:
 * - mappings become objects; keys must be scalars and become strings (their text as written,
 *   `1: x` gives the key "1"); a duplicate key is an error; the merge key `<<` is refused
 *   (YAML 1.2 has none; a silent key "<<" would surprise);
 * - sequences become arrays;
 * - scalars are typed by the YAML 1.2 core schema when plain and untagged: `null`, `Null`,
 *   `NULL`, `~` and the empty scalar are null; `true`/`True`/`TRUE`/`false`/... are booleans;
 *   `[-+]?[0-9]+`, `0o[0-7]+` and `0x[0-9a-fA-F]+` are integers (an integer beyond 64 bits is
 *   an error, not a float); `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` are reals;
 *   `.inf`, `-.inf` and `.nan` are refused (JSON has no form for them: quote them to mean the
 *   text); anything else is a string. A quoted or block scalar is always a string;
 * - tags: `!!str` and `!` make a string, `!!int`, `!!float`, `!!bool`, `!!null` require the
 *   plain scalar to resolve to that type, `!!map`/`!!seq` are accepted on their collections;
 *   any other tag is an error;
 * - anchors and aliases are resolved by copying the anchored value, bounded: the whole
 *   document, aliases expanded, may hold at most max_nodes values and max_depth levels of
 *   nesting (billion laughs stops at the bound, without building the expansion); an alias to an
 *   anchor not yet closed (recursion) or unknown is an error; an alias as a key is refused;
 * - a stream of more than one document is an error; an empty stream gives JSON null.
 * - the text must be UTF-8 (checked before parsing: "line:column: invalid UTF-8").
 *
 * Errors are "[name:]line:column: message" (1-based), from libfyaml's diagnostics for syntax
 * errors and from this module for the rules above. */
#ifndef TOCSIN_YAMLJ_H
#define TOCSIN_YAMLJ_H

#include <jansson.h>
#include <stddef.h>

#define YAMLJ_MAX_BYTES ((size_t)4 << 20) /* default input bound (max_bytes 0) */
#define YAMLJ_MAX_NODES 100000            /* default: values after alias expansion */
#define YAMLJ_MAX_DEPTH 64                /* default: nested collections */
#define YAMLJ_MAX_ANCHORS 4096            /* distinct anchors in one document */
#define YAMLJ_ERR_MSG 200                 /* bytes of a message kept from libfyaml */

struct yamlj_opts {
    size_t max_bytes; /* 0 = YAMLJ_MAX_BYTES */
    size_t max_nodes; /* 0 = YAMLJ_MAX_NODES */
    size_t max_depth; /* 0 = YAMLJ_MAX_DEPTH */
    /* If set, called for each mapping and sequence written in the text (not for the copies an
     * alias makes) once it is complete: `node` is borrowed (it lives as long as the result),
     * depth 1 is the top level, line is 1-based. */
    void (*on_collection)(void *ud, const json_t *node, size_t depth, int line);
    void *ud;
};

/* Parses `len` bytes of `text` (no NUL needed); `name` (may be NULL) prefixes error messages.
 * Returns a new reference (caller decrefs), or NULL with the reason in err. */
json_t *yamlj_load_ex(const char *name, const char *text, size_t len, const struct yamlj_opts *opts,
                      char *err, size_t errlen);
json_t *yamlj_load_string(const char *text, size_t len, size_t max_bytes, char *err, size_t errlen);
/* Reads the file (at most max_bytes, 0 = YAMLJ_MAX_BYTES; a larger file is an error, not
 * truncated) and parses it; messages start with the path. */
json_t *yamlj_load_file(const char *path, size_t max_bytes, char *err, size_t errlen);
json_t *yamlj_load_file_ex(const char *path, const struct yamlj_opts *opts, char *err,
                           size_t errlen);

#endif
