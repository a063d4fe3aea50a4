/* Notification config files: the channels and rules tocsin reads at start and on SIGHUP.
 *
 * nconf_load() takes a list of paths. Each is
 * - a file (any name: YAML, or JSON, which the YAML 1.2 parser reads too);
 * - a directory: its *.yml, *.yaml and *.json files, not recursing, hidden names skipped, in
 *   byte order of their names;
 * - a glob pattern (it has one of * ? [): the matches, sorted, each a file or a directory as
 *   above. A pattern that matches nothing adds nothing (a conf.d/ that is empty is fine); a
 *   plain path that does not exist is an error.
 * A file reached twice (same device and inode) is read once.
 *
 * A file holds one YAML document: a mapping with "channels" and/or "rules" (lists of
 * mappings; no other key), a bare list (rules), or nothing (an empty file). The result is
 *
 *     {"channels":[...], "rules":[...]}
 *
 * in file order, each item the file's mapping plus "source":"<file>:<line>" (the line where
 * the item starts; the loader sets it, an item may not). An item's "id" must be a string of
 * 1..NCONF_ID_MAX bytes without control characters. A channel must have one (rules name
 * channels by id). A rule without one is given "<file stem>.<index>" (stem: the base name
 * without .yml/.yaml/.json; index: its place in the file's rule list), which changes if the
 * file's rules are reordered: give rules that carry timers (group, repeat, delay) an explicit
 * id. Ids are unique per kind across all files.
 *
 * Only the shape is checked here; what a rule or a channel means is for nrule_parse() and
 * chan_compile(). Errors name the file, the line when known, and the item:
 * "conf.d/ops.yml:12: rules[3]: expected a mapping". */
#ifndef TOCSIN_NCONF_H
#define TOCSIN_NCONF_H

#include <jansson.h>
#include <stddef.h>

#define NCONF_MAX_FILES 1024                   /* files read in one load */
#define NCONF_MAX_FILE_BYTES ((size_t)4 << 20) /* bytes of one file */
#define NCONF_MAX_ITEMS 20000                  /* channels plus rules, all files */
#define NCONF_ID_MAX 64                        /* bytes of an id (nintent.rule_id holds 64) */
#define NCONF_PATH_MAX 4096                    /* bytes of one path */

/* Loads `npaths` paths as above. Returns a new object (caller decrefs) or NULL with the first
 * error in err. Reads files only: safe on any thread, no state kept. */
json_t *nconf_load(const char *const *paths, size_t npaths, char *err, size_t errlen);

#endif
