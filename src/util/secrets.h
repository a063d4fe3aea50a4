/* Channel secrets encrypted at rest, and the key file that holds the key.
 *
 * A channel's config is JSON. Some of its values are secrets (a token, a password, an
 * Authorization header); the channel type names them as key paths (chan_secret_keys()). Before a
 * config is stored, secrets_seal() replaces each secret string by
 *
 *     {"$secret":"<base64 of nonce || ciphertext>"}
 *
 * made with XChaCha20-Poly1305 (crypto_aead_xchacha20poly1305_ietf, a random 24-byte nonce per
 * value) under the server's secrets key, with the channel id as associated data: a sealed value
 * copied into another channel's config does not open there. secrets_open_json() does the
 * reverse when the config is loaded. The API never returns either form: secrets_mask() puts
 * SECRETS_MASK in place of each secret, and secrets_merge_masked() keeps the stored value when a
 * client sends the mask back (a client that GETs, edits and PUTs must not wipe a secret).
 *
 * Key paths: segments joined by '.', e.g. "token", "auth.password", "routing_key". A segment
 * may end in "[*]": every element of that array, e.g. "users[*].password". The name/value rule:
 * for a path ending in "[*].value" (e.g. "headers[*].value"), an element that is an object with
 * a string "name" is a secret only if that name is a sensitive header name (secrets_sensitive_
 * header()); an element without a "name" is always a secret. A path that leads nowhere (a key
 * absent or null, a non-object on the way) is skipped: optional secrets stay optional.
 *
 * The key file, <data dir>/secrets.key, holds SECRETS_KEY_BYTES raw random bytes. It is made on
 * first use (mode 0600) and refused afterwards if group or others may read or write it, if it is
 * not a regular file, or if its size is wrong. Losing it makes every sealed secret unreadable:
 * back it up with the store.
 *
 * Thread-safety: a struct secrets is immutable after creation; any number of threads may use
 * it at once. The JSON functions modify the config they are given and must not race with other
 * users of that config. */
#ifndef TOCSIN_SECRETS_H
#define TOCSIN_SECRETS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECRETS_KEY_BYTES 32           /* crypto_aead_xchacha20poly1305_ietf_KEYBYTES */
#define SECRETS_KEY_FILE "secrets.key" /* in the data directory */
#define SECRETS_MASK "********"        /* what the API shows in place of a secret */
#define SECRETS_MARK "$secret"         /* the member of a sealed value */
#define SECRETS_VALUE_MAX 65536        /* bytes of one plaintext secret */
#define SECRETS_ID_MAX 256             /* bytes of the id bound as associated data */
#define SECRETS_PATH_MAX 256           /* bytes of one key path */
#define SECRETS_PATH_DEPTH 8           /* segments in one key path */
#define SECRETS_KEYFILE_MAX 4096       /* bytes read from any key file */

struct secrets;

/* From a key (copied into guarded memory). Calls sodium_init(). NULL if libsodium cannot start
 * or memory runs out. Free with secrets_free(). */
struct secrets *secrets_new(const uint8_t key[SECRETS_KEY_BYTES]);
/* Loads <data_dir>/secrets.key, making it if it does not exist (secrets_keyfile_load()), and
 * returns a new struct secrets in *out (caller frees with secrets_free()). TOCSIN_OK,
 * TOCSIN_EIO or TOCSIN_EINVAL (a refused key file), with a message naming the file in err. */
int secrets_load(const char *data_dir, struct secrets **out, char *err, size_t errlen);
void secrets_free(struct secrets *s); /* wipes the key */

/* Replaces each plaintext secret of `config` (an object) by its sealed form bound to `id`.
 * A value already sealed is kept if it opens under `id`, else refused (it belongs to another
 * channel or another key). `secret_keys` is a NULL-terminated list of key paths (NULL = none).
 * TOCSIN_OK; TOCSIN_EINVAL (a secret that is not a string, too long, a bad path, a sealed value
 * that does not open, an empty or too long id) with the path and reason in err, `config` then
 * partly sealed; TOCSIN_ENOMEM. */
int secrets_seal(const struct secrets *s, const char *id, json_t *config,
                 const char *const *secret_keys, char *err, size_t errlen);
/* The reverse: replaces each sealed value by its plaintext string. A plaintext value is left as
 * it is (a config written by hand). TOCSIN_OK, TOCSIN_EINVAL ("<path>: does not decrypt: wrong
 * key, wrong channel id or damaged"; or malformed), TOCSIN_ENOMEM. */
int secrets_open_json(const struct secrets *s, const char *id, json_t *config,
                      const char *const *secret_keys, char *err, size_t errlen);
/* Replaces every non-null secret, sealed or not, by SECRETS_MASK. For API answers and logs. */
void secrets_mask(json_t *config, const char *const *secret_keys);
/* For an update: each secret of `new_config` equal to SECRETS_MASK takes the value at the same
 * place in `old_config` (copied, in whatever form it is stored: sealed or plain). For an array
 * path the element is matched by its "name" when both have one, else by index. TOCSIN_OK;
 * TOCSIN_EINVAL if the mask stands where `old_config` has no secret to keep (the path in err);
 * TOCSIN_ENOMEM. A secret left out of new_config is removed: only the mask keeps. */
int secrets_merge_masked(json_t *new_config, const json_t *old_config,
                         const char *const *secret_keys, char *err, size_t errlen);
/* True if `v` is a sealed value ({"$secret":"..."} and nothing else). */
bool secrets_is_sealed(const json_t *v);

/* A header name whose value is a credential, compared case-insensitively: any name containing
 * one of "auth", "token", "secret", "passw", "key", "signature", "credential", "session",
 * "cookie" (Authorization, Proxy-Authorization, Cookie, X-Api-Key, X-Auth-Token,
 * Ocp-Apim-Subscription-Key, X-Hub-Signature, ...), but Idempotency-Key (a notification's id,
 * sent in X-Tocsin-Notification too). The one rule for every header that may hold a secret:
 * the triggers' name/value header lists and the channels' header maps alike. */
bool secrets_sensitive_header(const char *name);
/* Constant-time equality of two strings (time depends on the lengths only). */
bool secrets_streq(const char *a, const char *b);

/* ---- key files (shared with net/keys.c's pepper) ---- */

enum keyfile_fmt {
    KEYFILE_RAW, /* exactly len bytes */
    KEYFILE_HEX  /* 2*len hex digits, then an optional "\n" or "\r\n" */
};

/* Reads a key of `len` bytes from `path`, or, if the file does not exist, makes one: random
 * bytes written to a temporary file created with O_EXCL and mode 0600, synced, then link()ed to
 * `path` (link never replaces a file: two processes starting at once agree on one key, and a
 * crash leaves no short key file). A file that exists is refused if it is not a regular file,
 * if group or others have any permission on it, or if its size or contents are wrong. TOCSIN_OK,
 * TOCSIN_EIO (cannot read or make it) or TOCSIN_EINVAL (refused), with a message in err. `out`
 * is wiped on failure. */
int secrets_keyfile_load(const char *path, enum keyfile_fmt fmt, uint8_t *out, size_t len,
                         char *err, size_t errlen);

#endif
