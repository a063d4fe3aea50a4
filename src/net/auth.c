#include "net/auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/clock.h"
#include "util/err.h"

#define CRED_MAX 768 /* decoded "user:password" bytes: 3/4 of AUTH_MAX_HEADER */

struct auth_user {
    char *name;
    char *hash;
};

struct cache_entry {
    uint8_t key[crypto_generichash_BYTES];
    int64_t expires_ms;
    size_t user;
    bool used;
};

struct auth {
    pthread_mutex_t mu;
    struct auth_user *users;
    size_t nusers;
    uint8_t hkey[crypto_generichash_KEYBYTES]; /* random, per process */
    struct cache_entry cache[AUTH_CACHE_SIZE];
    size_t next;                        /* the slot written next: the oldest */
    char dummy[crypto_pwhash_STRBYTES]; /* verified against for unknown users */
    bool have_dummy;
    struct auth_stats st;
};

struct auth *auth_new(const struct config_user *users, size_t n)
{
    struct auth *a;

    if (sodium_init() < 0)
        return NULL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    pthread_mutex_init(&a->mu, NULL);
    randombytes_buf(a->hkey, sizeof(a->hkey));
    a->users = n ? calloc(n, sizeof(*a->users)) : NULL;
    if (n && !a->users)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        a->users[i].name = strdup(users[i].name ? users[i].name : "");
        a->users[i].hash = strdup(users[i].password_hash ? users[i].password_hash : "");
        a->nusers = i + 1;
        if (!a->users[i].name || !a->users[i].hash)
            goto fail;
    }
    return a;
fail:
    auth_free(a);
    return NULL;
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nusers; i++) {
        free(a->users[i].name);
        free(a->users[i].hash);
    }
    free(a->users);
    pthread_mutex_destroy(&a->mu);
    sodium_memzero(a, sizeof(*a));
    free(a);
}

void auth_get_stats(struct auth *a, struct auth_stats *out)
{
    pthread_mutex_lock(&a->mu);
    *out = a->st;
    pthread_mutex_unlock(&a->mu);
}

static void count_failure(struct auth *a)
{
    pthread_mutex_lock(&a->mu);
    a->st.failed++;
    pthread_mutex_unlock(&a->mu);
}

/* Returns the cached user index for `key`, or -1. Drops expired entries on the way. */
static long cache_find(struct auth *a, const uint8_t *key, int64_t now_ms)
{
    for (size_t i = 0; i < AUTH_CACHE_SIZE; i++) {
        struct cache_entry *e = &a->cache[i];

        if (!e->used)
            continue;
        if (now_ms >= e->expires_ms) {
            sodium_memzero(e, sizeof(*e));
            continue;
        }
        /* The cheap prefix test leaks nothing useful: keys are hashes under a secret key. */
        if (memcmp(e->key, key, 8) == 0 && sodium_memcmp(e->key, key, sizeof(e->key)) == 0)
            return (long)e->user;
    }
    return -1;
}

static void cache_add(struct auth *a, const uint8_t *key, size_t user, int64_t now_ms)
{
    struct cache_entry *e = &a->cache[a->next];

    memcpy(e->key, key, sizeof(e->key));
    e->expires_ms = now_ms + AUTH_CACHE_TTL_MS;
    e->user = user;
    e->used = true;
    a->next = (a->next + 1) % AUTH_CACHE_SIZE;
}

/* "Basic <base64>" -> decoded bytes in cred. Returns the decoded length or -1. */
static long decode_basic(const char *h, size_t hlen, unsigned char *cred, size_t credlen)
{
    const char *b64, *end = h + hlen, *b64_end = NULL;
    size_t bin_len = 0;

    if (hlen < 6 || strncasecmp(h, "Basic", 5) || (h[5] != ' ' && h[5] != '\t'))
        return -1;
    for (b64 = h + 5; b64 < end && (*b64 == ' ' || *b64 == '\t'); b64++)
        ;
    while (end > b64 && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end == b64)
        return -1;
    if (sodium_base642bin(cred, credlen, b64, (size_t)(end - b64), NULL, &bin_len, &b64_end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        b64_end != end) {
        if (sodium_base642bin(cred, credlen, b64, (size_t)(end - b64), NULL, &bin_len, &b64_end,
                              sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
            b64_end != end)
            return -1;
    }
    return (long)bin_len;
}

static long find_user(const struct auth *a, const unsigned char *name, size_t len)
{
    for (size_t i = 0; i < a->nusers; i++)
        if (strlen(a->users[i].name) == len && !memcmp(a->users[i].name, name, len))
            return (long)i;
    return -1;
}

/* Spends the same argon2id time on an unknown user as on a known one, so response times do
 * not tell which user names exist. */
static void burn_dummy(struct auth *a, const char *pass, size_t plen)
{
    char h[crypto_pwhash_STRBYTES];
    bool have;

    pthread_mutex_lock(&a->mu);
    have = a->have_dummy;
    if (have)
        memcpy(h, a->dummy, sizeof(h));
    pthread_mutex_unlock(&a->mu);
    if (!have) {
        if (auth_hash_password("tocsin-no-such-user", h) != TOCSIN_OK)
            return;
        pthread_mutex_lock(&a->mu);
        memcpy(a->dummy, h, sizeof(h));
        a->have_dummy = true;
        pthread_mutex_unlock(&a->mu);
    }
    if (crypto_pwhash_str_verify(h, pass, plen) == 0)
        return; /* only "tocsin-no-such-user" matches; still refused */
}

/* Decodes and verifies; returns the user index or -1. */
static long verify(struct auth *a, const char *h, size_t hlen)
{
    unsigned char cred[CRED_MAX + 1];
    long len = decode_basic(h, hlen, cred, CRED_MAX), user = -1;
    unsigned char *colon;

    if (len < 0)
        return -1;
    colon = memchr(cred, ':', (size_t)len);
    if (colon && !memchr(cred, '\0', (size_t)len)) {
        size_t ulen = (size_t)(colon - cred), plen = (size_t)len - ulen - 1;
        const char *pass = (const char *)colon + 1;

        user = find_user(a, cred, ulen);
        if (user < 0)
            burn_dummy(a, pass, plen);
        else if (crypto_pwhash_str_verify(a->users[user].hash, pass, plen) != 0)
            user = -1;
    }
    sodium_memzero(cred, sizeof(cred));
    return user;
}

bool auth_check_at(struct auth *a, const char *authorization, const char **user_out, int64_t now_ms)
{
    uint8_t key[crypto_generichash_BYTES];
    size_t hlen;
    long user;

    if (!a || !authorization)
        goto fail;
    hlen = strnlen(authorization, AUTH_MAX_HEADER + 1);
    if (hlen > AUTH_MAX_HEADER)
        goto fail;
    crypto_generichash(key, sizeof(key), (const unsigned char *)authorization, hlen, a->hkey,
                       sizeof(a->hkey));
    pthread_mutex_lock(&a->mu);
    user = cache_find(a, key, now_ms);
    if (user >= 0)
        a->st.hits++;
    pthread_mutex_unlock(&a->mu);
    if (user < 0) {
        user = verify(a, authorization, hlen);
        if (user < 0)
            goto fail;
        pthread_mutex_lock(&a->mu);
        cache_add(a, key, (size_t)user, now_ms);
        a->st.verified++;
        pthread_mutex_unlock(&a->mu);
    }
    if (user_out)
        *user_out = a->users[user].name;
    return true;
fail:
    if (a)
        count_failure(a);
    return false;
}

bool auth_check(struct auth *a, const char *authorization, const char **user_out)
{
    return auth_check_at(a, authorization, user_out, clock_mono_ms());
}

int auth_hash_password(const char *password, char out[crypto_pwhash_STRBYTES])
{
    if (!password || sodium_init() < 0)
        return TOCSIN_EINVAL;
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return TOCSIN_ENOMEM;
    return TOCSIN_OK;
}
