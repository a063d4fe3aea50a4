/* Authentication: who a request comes from (a struct principal, see principal.h), from
 *   - an API key (keys.h): "Authorization: Key <k>", else "X-API-Key: <k>", else the "api-key"
 *     query parameter (Alerta's order), then "Authorization: Bearer <k>" (tocsin issues no JWTs,
 *     so a bearer token can only be an API key);
 *   - a configured user by "Authorization: Basic ..." (auth.users), with the scopes and customers
 *     the config gives them.
 * With no users and no keys, auth is off (Alerta's AUTH_REQUIRED=False): every request is an
 * anonymous admin. With either, a request without valid credentials is refused.
 *
 * HTTP Basic credentials are checked against argon2id hashes (libsodium), with a small cache of
 * recently verified Authorization header values so a client that sends the same credentials on
 * every request pays for argon2id (tens of ms) once per TTL, not per request.
 *
 * The cache is keyed by a keyed BLAKE2b hash of the raw header value (random key per process),
 * holds at most AUTH_CACHE_SIZE entries (the oldest is evicted) and forgets an entry
 * AUTH_CACHE_TTL_MS after it was verified. Failed attempts are never cached.
 * All functions are thread-safe. */
#ifndef TOCSIN_AUTH_H
#define TOCSIN_AUTH_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/keys.h"
#include "net/principal.h"
#include "util/config.h"

#define AUTH_CACHE_SIZE 256
#define AUTH_CACHE_TTL_MS (5 * 60 * 1000)
#define AUTH_MAX_HEADER 1024 /* longer Authorization values are refused unread */

struct auth;

struct auth_stats {
    uint64_t hits;        /* answered from the cache */
    uint64_t verified;    /* argon2id verifications that succeeded */
    uint64_t failed;      /* refused: malformed, unknown user or wrong password */
    uint64_t keys_used;   /* requests admitted by an API key */
    uint64_t keys_failed; /* refused: unknown or expired API key */
};

struct auth_opts {
    struct keys *keys;   /* API keys (borrowed, must outlive the auth), or NULL */
    bool customer_views; /* auth.customer_views: users' customers restrict what they see */
};

/* Copies `users` (name + argon2id hash string as printed by `tocsin passwd`, plus scopes,
 * customers and admin; see struct config_user). Calls sodium_init(). Returns NULL on allocation
 * failure, when sodium cannot start or (auth_new_ex, message in err) when a user's scopes or
 * customers are invalid. Caller frees with auth_free(). auth_new() is auth_new_ex() without keys
 * or customer views. */
struct auth *auth_new(const struct config_user *users, size_t n);
struct auth *auth_new_ex(const struct config_user *users, size_t n, const struct auth_opts *o,
                         char *err, size_t errlen);
void auth_free(struct auth *a);

/* Whether credentials are needed: there are users, or keys (counted now: the first key created
 * turns auth on). False for a NULL auth. */
bool auth_required(struct auth *a);
/* The request check. Fills *out and returns TOCSIN_OK, or returns TOCSIN_EAUTH (answer 401)
 * leaving *out as nobody. `a` may be NULL. When auth is off (auth_required() false) every
 * request is an anonymous admin and credentials are not looked at. Otherwise a key that is
 * presented is always checked, even next to a Basic header, and a bad key is refused, never
 * passed over for the Basic credentials. mono_ms drives the Basic cache; wall_ms is compared
 * with keys' expiry. `cred` may be NULL (no credentials). */
int auth_authenticate(struct auth *a, const struct auth_credentials *cred, int64_t mono_ms,
                      int64_t wall_ms, struct principal *out);
/* Whether `user` is a configured user with the bare admin scope (for keys_type_to_scopes). */
bool auth_user_is_admin(struct auth *a, const char *user);

/* Checks an Authorization header value ("Basic base64(user:password)"; NULL allowed). On
 * success returns true and sets *user_out to the user's name, owned by `a` (valid until
 * auth_free). Uses the monotonic clock for the cache. */
bool auth_check(struct auth *a, const char *authorization, const char **user_out);
/* Same, with the time (monotonic milliseconds) passed in. */
bool auth_check_at(struct auth *a, const char *authorization, const char **user_out,
                   int64_t now_ms);
void auth_get_stats(struct auth *a, struct auth_stats *out);

/* Hashes `password` with argon2id (OPSLIMIT/MEMLIMIT_INTERACTIVE) into `out`, NUL-terminated.
 * Returns TOCSIN_OK, TOCSIN_ENOMEM (argon2 could not get its memory) or TOCSIN_EINVAL. */
int auth_hash_password(const char *password, char out[crypto_pwhash_STRBYTES]);

#endif
