/* HTTP Basic credentials checked against argon2id hashes (libsodium), with a small cache of
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

#include "util/config.h"

#define AUTH_CACHE_SIZE 256
#define AUTH_CACHE_TTL_MS (5 * 60 * 1000)
#define AUTH_MAX_HEADER 1024 /* longer Authorization values are refused unread */

struct auth;

struct auth_stats {
    uint64_t hits;     /* answered from the cache */
    uint64_t verified; /* argon2id verifications that succeeded */
    uint64_t failed;   /* refused: malformed, unknown user or wrong password */
};

/* Copies `users` (name + argon2id hash string as printed by `tocsin passwd`). Calls
 * sodium_init(). Returns NULL on allocation failure or when sodium cannot start. Caller frees
 * with auth_free(). */
struct auth *auth_new(const struct config_user *users, size_t n);
void auth_free(struct auth *a);

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
