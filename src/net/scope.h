/* Permission scopes as Alerta 9 defines them (alerta/models/enums.py Scope,
 * alerta/models/permission.py is_in_scope): the bare verbs "read", "write", "admin", and
 * "verb:resource" or "verb:resource.type" with verb read|write|delete|admin.
 *
 * Implication (Alerta's is_in_scope):
 *   - a bare verb grants that verb on every resource: "write" grants "write:alerts";
 *   - "admin:x" grants "write:x", which grants "read:x" (and "admin" > "write" > "read");
 *   - "delete:x" is granted by "write:x" (or "write"), or, for a scope listed in the deployment's
 *     admin-only deletes (Alerta's DELETE_SCOPES), only by "admin:x" (or "admin");
 *   - "verb:x.type" is a scope of its own: "read:alerts" does not grant "read:alerts.foo", but
 *     "admin:alerts.foo" grants "read:alerts.foo" and the bare verbs grant it too.
 *
 * A set is a plain value (no pointers): copy it with `=`. Pure code, thread-safe. */
#ifndef TOCSIN_SCOPE_H
#define TOCSIN_SCOPE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum scope_verb { SCOPE_READ = 0, SCOPE_WRITE, SCOPE_DELETE, SCOPE_ADMIN, SCOPE_NVERBS };

/* Alerta's resources, then tocsin's own (triggers, events, notifications). */
enum scope_res {
    SCOPE_ALERTS = 0,
    SCOPE_BLACKOUTS,
    SCOPE_HEARTBEATS,
    SCOPE_USERS,
    SCOPE_GROUPS,
    SCOPE_PERMS,
    SCOPE_CUSTOMERS,
    SCOPE_KEYS,
    SCOPE_WEBHOOKS,
    SCOPE_MANAGEMENT,
    SCOPE_OEMBED,
    SCOPE_USERINFO,
    SCOPE_FILTERS,
    SCOPE_TRIGGERS,
    SCOPE_EVENTS,
    SCOPE_NOTIFICATIONS,
    SCOPE_CHANNELS,
    SCOPE_RULES,
    SCOPE_NRES
};

#define SCOPE_MAX_CUSTOM 8 /* "verb:resource.type" scopes held by one set */
#define SCOPE_TYPE_MAX 32  /* bytes in the ".type" part (letters, digits, '_') */
#define SCOPE_STR_MAX 64   /* longest scope string: "delete:notifications." + type */
#define SCOPE_MAX_LIST 64  /* scopes in one list given to scope_set_parse_* */

/* snprintf into err (nothing when err is NULL or errlen 0): the error messages of scope.c,
 * keys.c and auth.c. */
void net_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct scope_custom {
    uint8_t verb; /* enum scope_verb */
    uint8_t res;  /* enum scope_res */
    char type[SCOPE_TYPE_MAX + 1];
};

struct scope_set {
    uint8_t bare;            /* bit (1 << verb): the bare verb */
    uint8_t res[SCOPE_NRES]; /* bit (1 << verb) of res[r]: "verb:resource" */
    uint8_t ncustom;
    struct scope_custom custom[SCOPE_MAX_CUSTOM]; /* "verb:resource.type", in the order added */
};

void scope_set_clear(struct scope_set *s);
bool scope_set_empty(const struct scope_set *s);

/* Adds one scope. Returns TOCSIN_OK, TOCSIN_EINVAL ("unknown scope 'x'" in err; a bare
 * "delete" is not a scope) or TOCSIN_ETOOBIG (more than SCOPE_MAX_CUSTOM typed scopes).
 * Adding a scope already in the set changes nothing. On error `s` is unchanged. */
int scope_set_add(struct scope_set *s, const char *scope, char *err, size_t errlen);
/* Adds every string of `scopes` (at most SCOPE_MAX_LIST); stops at the first bad one, naming it
 * in err. On error `s` is left as it was before the call. */
int scope_set_parse_list(struct scope_set *s, const char *const *scopes, size_t n, char *err,
                         size_t errlen);
/* Same from a JSON array of strings (anything else is TOCSIN_EINVAL, "scopes must be a list of
 * strings"). */
int scope_set_parse_json(struct scope_set *s, const json_t *array, char *err, size_t errlen);
void scope_set_union(struct scope_set *dst, const struct scope_set *src);

/* Exact membership, without implication: Alerta's `'admin:keys' in g.scopes`. */
bool scope_set_has(const struct scope_set *s, const char *scope);
/* The bare "admin" scope: Alerta's admin principal. */
bool scope_set_is_admin(const struct scope_set *s);
/* Alerta's key type rule (utils/key.py scopes_to_type): "read-write" if any scope is a write or
 * admin one, else "read-only" ("delete:alerts" alone is read-only). */
bool scope_set_is_read_write(const struct scope_set *s);

/* Alerta's is_in_scope(needed, granted) with DELETE_SCOPES empty. A NULL or empty `needed` is
 * allowed (Alerta: no scope wanted); a `needed` that does not parse is refused. */
bool scope_allows(const struct scope_set *granted, const char *needed);
/* Same; the exact scopes in `admin_deletes` ("delete:alerts", ...) need admin:x instead of
 * write:x (Alerta's DELETE_SCOPES). NULL = none. */
bool scope_allows_ex(const struct scope_set *granted, const char *needed,
                     const struct scope_set *admin_deletes);
/* Whether every scope of `want` is allowed by `have` (Alerta's check that a key's scopes are
 * within its creator's). If not, the first refused scope is written to denied (may be NULL). */
bool scope_set_within(const struct scope_set *want, const struct scope_set *have,
                      const struct scope_set *admin_deletes, char *denied, size_t deniedlen);

/* Calls fn for every scope as text, in a fixed order: bare verbs (read, write, admin), then
 * each resource's verbs (read, write, delete, admin), then the typed scopes as added. Stops and
 * returns fn's value when it is non-zero. */
int scope_set_each(const struct scope_set *s, int (*fn)(void *ud, const char *scope), void *ud);
/* The scopes joined by `sep` into out (truncated to fit, always NUL-terminated). Returns the
 * length the whole text needs. */
size_t scope_set_format(const struct scope_set *s, const char *sep, char *out, size_t outlen);
/* A new JSON array of the scope strings (NULL on allocation failure); caller decrefs. */
json_t *scope_set_to_json(const struct scope_set *s);

/* The name of a verb / resource ("read", "alerts"). */
const char *scope_verb_name(enum scope_verb v);
const char *scope_res_name(enum scope_res r);

#endif
