/* match: one compiled matcher over an alert, from either of two shapes.
 *
 * (a) Canopsis' pattern: a JSON array of arrays, the outer list OR, each inner list AND, of
 *       {"field": "severity", "field_type": "string", "cond": {"type": "eq", "value": "major"}}
 *     Condition types and the values they take:
 *       eq, neq                 a string, number or boolean. A number compares numerically (the
 *                               field's text must be a number), a boolean with "true"/"false";
 *                               on severity and previousSeverity a severity name compares by
 *                               its code, so "normal" also matches "ok".
 *       gt, lt                  a number; on severity/previousSeverity a severity NAME, and then
 *                               gt means MORE severe (a lower code: critical gt major), lt less.
 *       regexp                  a PCRE2 pattern, searched (not anchored), case-sensitive.
 *       contain, not_contain, begin_with, not_begin_with, end_with, not_end_with   a string.
 *       has_every, has_one_of, has_not, is_one_of, is_not_one_of   a non-empty array of strings
 *                               (numbers are taken as their text).
 *       is_empty, exist         a boolean (is_empty true: the field is missing, "" or an empty
 *                               list; exist true: the field is present).
 *     `field_type` (optional): "string", "int", "bool" or "string_array"; it only constrains
 *     which conditions and values are valid (int: eq/neq/gt/lt with a number, exist, is_empty;
 *     bool: eq/neq with a boolean, exist; string_array: has_*, is_one_of/is_not_one_of,
 *     is_empty, exist), and string_array reads an attribute holding a JSON array as a list.
 * (b) Alertmanager matcher strings "name=value", "name!=\"v\"", "name=~\"re\"", "name!~\"re\"",
 *     as a JSON array of strings (AND) or an array of arrays of strings (OR of ANDs); a single
 *     string is one matcher. Values may be quoted ("..." with \" \\ \n \t \r escapes) or bare
 *     (the rest of the string, trimmed). Regexes are fully anchored: ^(?:re)$. A missing field
 *     is the empty string.
 * An empty array matches every alert.
 *
 * Fields, by their API names: resource, event, environment, group, value, text, origin, type,
 * customer, source, fingerprint, generatorURL (strings); service, tags, correlate (lists);
 * severity, previousSeverity, status, trendIndication (names); duplicateCount, timeout
 * (numbers); repeat (boolean); id; createTime, receiveTime, lastReceiveTime, updateTime (ISO
 * text; gt/lt compare the epoch milliseconds); "labels.k", "attributes.k", "annotations.k"; any
 * other bare name is a label ("team" = "labels.team", Alertmanager's habit). Attribute values
 * are stored as JSON: a JSON string compares as the decoded string, a number as a number.
 *
 * On a list field (or an attribute read as string_array) the string conditions apply to the
 * items: eq, contain, begin_with, end_with, regexp, is_one_of (and AM's = and =~) hold if ANY
 * item satisfies them; their negations (neq, not_*, is_not_one_of, != and !~) hold if NO item
 * satisfies the positive form. A scalar field under has_* is a one-item list. A missing field:
 * exist is false, is_empty true, gt/lt false, has_* see an empty list, every other condition
 * sees "".
 *
 * Evaluation does not allocate and is not thread-safe: the compiled regexes carry their match
 * data (the engine thread owns the matchers). A regex that hits PCRE2's match limit (a
 * pathological pattern) does not match. */
#ifndef TOCSIN_MATCH_H
#define TOCSIN_MATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/alert.h"
#include "core/verr.h"

#define MATCH_MAX_GROUPS 64        /* OR branches */
#define MATCH_MAX_CONDS 64         /* conditions in one branch */
#define MATCH_MAX_TOTAL 256        /* conditions in all */
#define MATCH_MAX_VALUES 256       /* strings of one list value */
#define MATCH_VALUE_MAX 4096       /* bytes of one string value */
#define MATCH_FIELD_MAX 256        /* bytes of a field name */
#define MATCH_REGEX_MAX 1024       /* bytes of one regex */
#define MATCH_REGEX_LIMIT 100000   /* PCRE2 match limit per evaluation */
#define MATCH_TEXT_MAX (ALERT_MAX_ATTR_VALUE + 64) /* scratch for one decoded field value */
#define MATCH_SET_MAX 64 /* values of one index hint (struct mreq); a longer set is no hint */

/* A field reference. */
enum mfield_kind {
    MF_STR = 0, /* a string field of the record (af) */
    MF_LIST,    /* a list field (af) */
    MF_LABEL,   /* labels.key */
    MF_ANNOT,   /* annotations.key */
    MF_ATTR,    /* attributes.key (JSON values) */
    MF_SEVERITY, MF_PREVSEV, MF_STATUS, MF_TREND, MF_DUPCOUNT, MF_TIMEOUT, MF_REPEAT, MF_ID,
    MF_CREATE_TIME, MF_RECEIVE_TIME, MF_LAST_RECEIVE_TIME, MF_UPDATE_TIME
};

struct mfield {
    enum mfield_kind kind;
    enum afield af; /* MF_STR, MF_LIST */
    char *key;      /* MF_LABEL/ANNOT/ATTR: owned */
};

/* Resolves a field name (see above). TOCSIN_EINVAL for an empty or too long name, or an empty
 * key ("labels."); TOCSIN_ENOMEM. The caller frees with mfield_free(). */
int mfield_parse(const char *name, struct mfield *out);
void mfield_free(struct mfield *f);
bool mfield_equal(const struct mfield *a, const struct mfield *b);
/* The canonical name ("severity", "labels.team"), into out (cut to n). */
void mfield_name(const struct mfield *f, char *out, size_t n);
/* The field's value as text (what group_by and inhibit.equal compare): a list is its items
 * joined with ","; a missing field is "". Returns a pointer to the text (into the alert or into
 * buf, which must hold MATCH_TEXT_MAX bytes) and its length in *len. */
const char *mfield_text(const struct mfield *f, const struct sevmap *m, const struct alert *a,
                        char *buf, size_t *len);

struct matcher;

/* Compiles `j` (borrowed; see the shapes above) against the severity map `m` (borrowed: it
 * must outlive the matcher). On
 * error, TOCSIN_EINVAL with e naming the spot relative to the matcher ("[0][1].cond.value",
 * "[2]"; the caller prefixes its own field with verr_prefix), or TOCSIN_ENOMEM. The caller
 * frees *out with matcher_free(). */
int matcher_compile(const json_t *j, const struct sevmap *m, struct matcher **out,
                    struct verr *e);
void matcher_free(struct matcher *mt);
/* True if the alert matches. */
bool matcher_match(const struct matcher *mt, const struct alert *a);
/* The JSON it was compiled from (a new reference). */
json_t *matcher_to_json(const struct matcher *mt);
/* An index hint: a condition every match needs, which holds only when the text of a field is
 * one of a few values. */
struct mreq {
    const struct mfield *f;       /* borrowed from the matcher */
    size_t n;                     /* values, 1..MATCH_SET_MAX (a value may repeat) */
    const char *v[MATCH_SET_MAX]; /* borrowed from the matcher, not NUL-terminated */
    size_t len[MATCH_SET_MAX];
};
/* The index hints of a matcher with one branch, one per call: start with *pos = 0; true and *out
 * set while there is one more. A hint is a condition of these kinds:
 *   eq with a string, or AM "=":   one value;
 *   is_one_of:                     its values;
 *   AM "=~" whose regex is literal alternatives ("critical|major": no metacharacter, no
 *     escape, no empty alternative): the alternatives (the regex is anchored at both ends and
 *     case-sensitive, so it matches exactly them);
 * with at most MATCH_SET_MAX values, on a string field, a label, an annotation, an attribute,
 * status, or severity/previousSeverity compared as text (not a Canopsis eq of a severity name,
 * which compares codes; and only if the matcher was compiled against `sev`, the map the caller
 * reads the text with). Then the matcher only matches an alert whose mfield_text(out->f, sev)
 * is one of the values, except when the field is an attribute holding a JSON array, whose
 * items are compared instead: its text starts with '[', and the caller must then take the
 * matcher as possibly matching. */
bool matcher_next_required(const struct matcher *mt, const struct sevmap *sev, size_t *pos,
                           struct mreq *out);

#endif
