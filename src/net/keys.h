/* API keys as Alerta has them (alerta/models/key.py): a 40-character random key owned by a
 * user, with scopes, a type derived from them (read-only | read-write), a text, an expiry time
 * (365 days by default), an optional customer, and a use count and last-use time.
 *
 * tocsin never stores a key: only a keyed BLAKE2b hash of it (with a server-wide pepper). The
 * plaintext exists once, when keys_create() returns it. argon2id, used for passwords, would be
 * wrong here: a key is checked on every request, so the check must be one fast hash and one
 * table probe, and a slow hash protects guessable secrets while a key holds 240 random bits
 * (216 of them beyond the stored hint) that no offline search can cover. The pepper means that
 * a copy of the stored records alone does not even let an attacker test a candidate key.
 *
 * The table lives in memory; the daemon persists records (keys_record_to_json, which holds the
 * hash and never the key) and loads them back at start (keys_record_from_json + keys_put).
 * Every function is thread-safe: one mutex guards the table; a look-up is O(1) (hash table
 * keyed by the key's hash); operations by id scan the table (administrative, rare). */
#ifndef TOCSIN_KEYS_H
#define TOCSIN_KEYS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/principal.h"
#include "net/scope.h"

#define KEYS_KEY_LEN 40      /* characters in a generated key, as Alerta's */
#define KEYS_MAX_KEY_LEN 256 /* a longer presented key is refused without being hashed */
#define KEYS_HASH_BYTES 32   /* BLAKE2b-256 */
#define KEYS_PEPPER_BYTES 32 /* crypto_generichash_KEYBYTES */
#define KEYS_HINT_LEN 4      /* leading characters kept to tell keys apart in listings */
#define KEYS_TEXT_MAX 1024   /* bytes of a key's text */
#define KEYS_DEFAULT_MAX 100000
#define KEYS_EXPIRE_DEFAULT_MS                                                                     \
    ((int64_t)365 * 24 * 3600 * 1000) /* Alerta's API_KEY_EXPIRE_DAYS                              \
                                       */

struct keys;

struct key_record {
    char id[37];                       /* UUID */
    uint8_t hash[KEYS_HASH_BYTES];     /* keyed BLAKE2b of the key */
    char hint[KEYS_HINT_LEN + 1];      /* the key's first characters, to tell keys apart */
    char user[PRINCIPAL_NAME_MAX + 1]; /* owner, never empty */
    struct scope_set scopes;
    char *text;                            /* owned (malloc'd), NULL = "" */
    int64_t expire_ms;                     /* wall clock, ms since the epoch */
    char customer[PRINCIPAL_NAME_MAX + 1]; /* "" = none */
    uint64_t count;                        /* successful uses */
    int64_t last_used_ms;                  /* 0 = never used */
};

/* What keys_create() needs; everything is copied. */
struct key_params {
    const char *user;               /* required */
    const struct scope_set *scopes; /* NULL or empty: read, write (Alerta's USER_DEFAULT_SCOPES) */
    const char *text;               /* NULL = "" */
    int64_t expire_ms;              /* 0: now + KEYS_EXPIRE_DEFAULT_MS */
    const char *customer;           /* NULL or "" = none */
};

/* An empty table. `pepper` is copied (see keys_pepper_load); at most `max_keys` records (0 =
 * KEYS_DEFAULT_MAX). Calls sodium_init(). NULL on failure. Free with keys_free(). */
struct keys *keys_new(const uint8_t pepper[KEYS_PEPPER_BYTES], size_t max_keys);
void keys_free(struct keys *k);
size_t keys_count(struct keys *k);

/* The scopes of a key made without any: read, write (Alerta's USER_DEFAULT_SCOPES). */
void keys_default_scopes(struct scope_set *out);
/* Makes a new key: generates it, stores its record and writes the plaintext to key_out (the
 * only time it exists; show it to the client, never log or store it) and a copy of the record
 * to rec_out (may be NULL; caller clears it with key_record_clear()) for the caller to persist.
 * Returns TOCSIN_OK, TOCSIN_EINVAL (no user, a name or text too long; message in err),
 * TOCSIN_ETOOBIG (table full) or TOCSIN_ENOMEM. */
int keys_create(struct keys *k, const struct key_params *p, int64_t now_ms,
                char key_out[KEYS_KEY_LEN + 1], struct key_record *rec_out, char *err,
                size_t errlen);
/* Adds a record (loading stored keys) or replaces the one with the same id (all fields, the use
 * count included). Copies `rec`. TOCSIN_EINVAL (bad id or user), TOCSIN_EEXIST (another id has
 * the same hash), TOCSIN_ETOOBIG (table full) or TOCSIN_ENOMEM. */
int keys_put(struct keys *k, const struct key_record *rec);
/* Removes the record with this id: TOCSIN_OK or TOCSIN_ENOTFOUND. */
int keys_delete(struct keys *k, const char *id);
/* Copies the record with this id into *out (caller clears). TOCSIN_OK, TOCSIN_ENOTFOUND or
 * TOCSIN_ENOMEM. */
int keys_get(struct keys *k, const char *id, struct key_record *out);
/* Copies the record of a plaintext key (Alerta's /key/<key> paths), without counting a use.
 * Expired keys are found too. TOCSIN_OK, TOCSIN_ENOTFOUND or TOCSIN_ENOMEM. */
int keys_find_by_key(struct keys *k, const char *key, struct key_record *out);
/* A snapshot of every record (user NULL) or of one user's, in no particular order: *out is a
 * malloc'd array of *n records (NULL when none); free with keys_list_free(). */
int keys_list(struct keys *k, const char *user, struct key_record **out, size_t *n);
void keys_list_free(struct key_record *recs, size_t n);

/* The per-request check: if `key` is a stored key that has not expired at now_ms (wall clock;
 * it expires at expire_ms, as Alerta's `expire_time > now`), counts a use (count + 1,
 * last_used_ms = now_ms) and fills *out as the key's principal (kind AUTH_KIND_KEY, the owner
 * as user, the key's scopes, its customer if any). Returns TOCSIN_OK, TOCSIN_ENOTFOUND
 * (unknown, empty or too long) or TOCSIN_EAUTH (expired); *out is untouched on failure. */
int keys_use(struct keys *k, const char *key, int64_t now_ms, struct principal *out);

/* ---- records ---- */

void key_record_clear(struct key_record *r); /* frees text, zeroes the record */
/* Deep copy into dst (dst's old contents are not freed). TOCSIN_OK or TOCSIN_ENOMEM. */
int key_record_copy(struct key_record *dst, const struct key_record *src);
/* "read-write" or "read-only" (static), as Alerta derives it from the scopes. */
const char *key_record_type(const struct key_record *r);
bool key_record_expired(const struct key_record *r, int64_t now_ms);

/* The stored form (a new JSON object, caller decrefs; NULL on allocation failure):
 * {"id","hash" (64 hex digits),"hint","user","scopes":[...],"type","text","expireTime",
 *  "count","lastUsedTime" (null if never),"customer" (null if none)}, times ISO 8601 UTC.
 * "type" is informational: it is derived again from the scopes on load. */
json_t *keys_record_to_json(const struct key_record *r);
/* Parses the stored form into *out (caller clears). TOCSIN_OK or TOCSIN_EINVAL with the
 * offending field in err. */
int keys_record_from_json(const json_t *j, struct key_record *out, char *err, size_t errlen);
/* Alerta's serialized key without "key" and "href" (tocsin cannot show a stored key; the
 * caller adds "href" if it has a base URL): {"id","status":"active"|"expired","user","scopes",
 * "type","text","expireTime","count","lastUsedTime","customer","hint"}. */
json_t *keys_record_to_api_json(const struct key_record *r, int64_t now_ms);

/* ---- helpers ---- */

/* A new random key: KEYS_KEY_LEN characters of the URL-safe base64 alphabet (A-Z a-z 0-9 - _),
 * 6 bits each from libsodium's CSPRNG. */
void keys_generate(char out[KEYS_KEY_LEN + 1]);
/* Alerta's type_to_scopes: "read-write" -> read, write; "read-only" -> read; an admin user
 * gets admin, read, write for either. TOCSIN_EINVAL for any other type. */
int keys_type_to_scopes(const char *type, bool admin_user, struct scope_set *out);
/* The server-wide pepper, kept in `path` as 64 hex digits: read if the file exists, else made
 * (random) and written with mode 0600 (temp file + rename). Without the same pepper, stored
 * hashes match no key, so it must survive restarts with the key records. TOCSIN_OK, TOCSIN_EIO
 * or TOCSIN_EINVAL (malformed file), with a message in err. */
int keys_pepper_load(const char *path, uint8_t out[KEYS_PEPPER_BYTES], char *err, size_t errlen);

#endif
