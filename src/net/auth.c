#include "net/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/clock.h"
#include "util/err.h"

#define CRED_MAX 768 /* decoded "user:password" bytes: 3/4 of AUTH_MAX_HEADER */

struct auth_user {
    char *name;
    char *hash;
    struct scope_set scopes;
    size_t ncustomers; /* 0: all (customer views off, an admin, or "*") */
    char (*customers)[PRINCIPAL_NAME_MAX + 1];
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
    struct keys *keys;                         /* borrowed */
    uint8_t hkey[crypto_generichash_KEYBYTES]; /* random, per process */
    struct cache_entry cache[AUTH_CACHE_SIZE];
    size_t next;                        /* the slot written next: the oldest */
    char dummy[crypto_pwhash_STRBYTES]; /* verified against for unknown users */
    bool have_dummy;
    struct auth_stats st;
};

/* A user's scopes: the configured ones or Alerta's USER_DEFAULT_SCOPES (read, write); an admin
 * also gets Alerta's ADMIN_SCOPES (admin, read, write). */
static int user_scopes(const struct config_user *cu, struct scope_set *out, char *err,
                       size_t errlen)
{
    static const char *const defaults[] = {"read", "write"}, *const admin[] = {"admin", "read",
                                                                               "write"};
    char msg[256];

    scope_set_clear(out);
    if (cu->nscopes && scope_set_parse_list(out, (const char *const *)cu->scopes, cu->nscopes, msg,
                                            sizeof(msg)) != TOCSIN_OK) {
        net_seterr(err, errlen, "user '%s': %s", cu->name, msg);
        return TOCSIN_EINVAL;
    }
    if (!cu->nscopes)
        scope_set_parse_list(out, defaults, 2, NULL, 0);
    if (cu->admin)
        scope_set_parse_list(out, admin, 3, NULL, 0);
    return TOCSIN_OK;
}

/* A user's customers when customer views are on and the user is not an admin; "*" (or none,
 * which the config refuses with customer views on) means all. Duplicates are dropped. */
static int user_customers(const struct config_user *cu, struct auth_user *u, char *err,
                          size_t errlen)
{
    struct principal p;

    principal_nobody(&p);
    for (size_t i = 0; i < cu->ncustomers; i++) {
        if (!strcmp(cu->customers[i], "*"))
            return TOCSIN_OK;
        if (principal_add_customer(&p, cu->customers[i]) != TOCSIN_OK) {
            net_seterr(err, errlen, "user '%s': bad customer '%.64s' or more than %d", cu->name,
                   cu->customers[i], PRINCIPAL_MAX_CUSTOMERS);
            return TOCSIN_EINVAL;
        }
    }
    if (!p.ncustomers)
        return TOCSIN_OK;
    u->customers = calloc(p.ncustomers, sizeof(*u->customers));
    if (!u->customers)
        return TOCSIN_ENOMEM;
    memcpy(u->customers, p.customers, p.ncustomers * sizeof(*u->customers));
    u->ncustomers = p.ncustomers;
    return TOCSIN_OK;
}

static int copy_user(const struct config_user *cu, struct auth_user *u, bool views, char *err,
                     size_t errlen)
{
    int rc;

    u->name = strdup(cu->name ? cu->name : "");
    u->hash = strdup(cu->password_hash ? cu->password_hash : "");
    if (!u->name || !u->hash)
        return TOCSIN_ENOMEM;
    if (strlen(u->name) > PRINCIPAL_NAME_MAX) {
        net_seterr(err, errlen, "user name '%.64s...' is longer than %d bytes", u->name,
               PRINCIPAL_NAME_MAX);
        return TOCSIN_EINVAL;
    }
    rc = user_scopes(cu, &u->scopes, err, errlen);
    if (rc == TOCSIN_OK && views && !scope_set_is_admin(&u->scopes))
        rc = user_customers(cu, u, err, errlen);
    return rc;
}

struct auth *auth_new_ex(const struct config_user *users, size_t n, const struct auth_opts *o,
                         char *err, size_t errlen)
{
    struct auth *a;

    if (sodium_init() < 0) {
        net_seterr(err, errlen, "libsodium cannot start");
        return NULL;
    }
    a = calloc(1, sizeof(*a));
    if (!a)
        goto nomem;
    pthread_mutex_init(&a->mu, NULL);
    randombytes_buf(a->hkey, sizeof(a->hkey));
    a->keys = o ? o->keys : NULL;
    a->users = n ? calloc(n, sizeof(*a->users)) : NULL;
    if (n && !a->users)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        int rc;

        a->nusers = i + 1;
        rc = copy_user(&users[i], &a->users[i], o && o->customer_views, err, errlen);
        if (rc == TOCSIN_ENOMEM)
            goto nomem;
        if (rc != TOCSIN_OK)
            goto fail;
    }
    return a;
nomem:
    net_seterr(err, errlen, "out of memory");
fail:
    auth_free(a);
    return NULL;
}

struct auth *auth_new(const struct config_user *users, size_t n)
{
    return auth_new_ex(users, n, NULL, NULL, 0);
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nusers; i++) {
        free(a->users[i].name);
        free(a->users[i].hash);
        free(a->users[i].customers);
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

/* The Basic check: the index of the user the header authenticates, or -1. */
static long basic_user(struct auth *a, const char *authorization, int64_t now_ms)
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
    return user;
fail:
    if (a)
        count_failure(a);
    return -1;
}

bool auth_check_at(struct auth *a, const char *authorization, const char **user_out, int64_t now_ms)
{
    long user = basic_user(a, authorization, now_ms);

    if (user < 0)
        return false;
    if (user_out)
        *user_out = a->users[user].name;
    return true;
}

bool auth_check(struct auth *a, const char *authorization, const char **user_out)
{
    return auth_check_at(a, authorization, user_out, clock_mono_ms());
}

/* ---- principals ---------------------------------------------------------------------- */

bool auth_required(struct auth *a)
{
    return a && (a->nusers || keys_count(a->keys));
}

bool auth_user_is_admin(struct auth *a, const char *user)
{
    for (size_t i = 0; a && user && i < a->nusers; i++)
        if (!strcmp(a->users[i].name, user))
            return scope_set_is_admin(&a->users[i].scopes);
    return false;
}

/* If `h` is "<scheme> <param>" (scheme case-insensitive, then blanks), points *param at the
 * first non-blank byte after the scheme. */
static bool has_scheme(const char *h, const char *scheme, const char **param)
{
    size_t n = strlen(scheme);

    if (!h || strncasecmp(h, scheme, n) || (h[n] != ' ' && h[n] != '\t'))
        return false;
    for (h += n; *h == ' ' || *h == '\t'; h++)
        ;
    *param = h;
    return true;
}

/* The single token of a "Key <k>" / "Bearer <k>" parameter into dst; false if it is empty, too
 * long or followed by anything but blanks. */
static bool token_of(const char *param, char *dst, size_t dstlen)
{
    size_t len = strcspn(param, " \t");

    if (!len || len >= dstlen || param[len + strspn(param + len, " \t")])
        return false;
    memcpy(dst, param, len);
    dst[len] = '\0';
    return true;
}

static void count_key(struct auth *a, bool ok)
{
    pthread_mutex_lock(&a->mu);
    if (ok)
        a->st.keys_used++;
    else
        a->st.keys_failed++;
    pthread_mutex_unlock(&a->mu);
}

static int key_principal(struct auth *a, const char *key, int64_t wall_ms, struct principal *out)
{
    bool ok = a->keys && keys_use(a->keys, key, wall_ms, out) == TOCSIN_OK;

    count_key(a, ok);
    return ok ? TOCSIN_OK : TOCSIN_EAUTH;
}

static void user_principal(const struct auth_user *u, struct principal *out)
{
    out->kind = AUTH_KIND_BASIC;
    snprintf(out->user, sizeof(out->user), "%s", u->name); /* checked to fit by auth_new_ex */
    out->scopes = u->scopes;
    out->is_admin = scope_set_is_admin(&u->scopes);
    out->ncustomers = u->ncustomers;
    if (u->ncustomers)
        memcpy(out->customers, u->customers, u->ncustomers * sizeof(*u->customers));
}

/* Alerta's order (auth/decorators.py permission()): "Authorization: Key", then X-API-Key, then
 * ?api-key=; a key found there decides alone. Then Bearer (a key here), then Basic. */
int auth_authenticate(struct auth *a, const struct auth_credentials *cred, int64_t mono_ms,
                      int64_t wall_ms, struct principal *out)
{
    static const struct auth_credentials none = {0};
    char key[KEYS_MAX_KEY_LEN + 1];
    const char *h, *param, *k = NULL;
    long user;
    int rc = TOCSIN_EAUTH;

    principal_nobody(out);
    if (!auth_required(a)) {
        principal_anonymous_admin(out);
        return TOCSIN_OK;
    }
    cred = cred ? cred : &none;
    h = cred->authorization;
    if (has_scheme(h, "Key", &param)) {
        k = token_of(param, key, sizeof(key)) ? key : "";
    } else if (cred->x_api_key && *cred->x_api_key) {
        k = cred->x_api_key;
    } else if (cred->api_key && *cred->api_key) {
        k = cred->api_key;
    } else if (has_scheme(h, "Bearer", &param)) {
        k = token_of(param, key, sizeof(key)) ? key : "";
    }
    if (k) {
        rc = key_principal(a, k, wall_ms, out);
    } else if (h && a->nusers && (user = basic_user(a, h, mono_ms)) >= 0) {
        user_principal(&a->users[user], out);
        rc = TOCSIN_OK;
    } else if (h && !a->nusers) {
        count_failure(a);
    }
    sodium_memzero(key, sizeof(key));
    if (rc != TOCSIN_OK)
        principal_nobody(out);
    return rc;
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
