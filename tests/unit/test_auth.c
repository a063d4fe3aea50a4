/* Unit tests for net/auth: argon2id hashing and verification, Basic header parsing, the
 * verified-credentials cache (hits, expiry by injected time, failures never cached); principals
 * (users' scopes and customers from the config, API keys, anonymous admin when auth is off), the
 * order credentials are taken in, and the authorisation helpers (403, assign_customer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/auth.h"
#include "net/authz.h"
#include "net/keys.h"
#include "util/err.h"

#define T0 1000000
#define WALL ((int64_t)1700000000000)

/* Hashed once for the whole group: argon2id is deliberately slow. */
static char alice_hash[crypto_pwhash_STRBYTES];
static char bob_hash[crypto_pwhash_STRBYTES];

struct fixture {
    struct auth *auth;
};

/* "Basic " + base64(cred) into out. */
static const char *basic(char *out, size_t outlen, const char *cred)
{
    char b64[1024];

    sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)cred, strlen(cred),
                      sodium_base64_VARIANT_ORIGINAL);
    assert_true(strlen(b64) + 7 <= outlen);
    memcpy(out, "Basic ", 6);
    memcpy(out + 6, b64, strlen(b64) + 1);
    return out;
}

static int group_setup(void **state)
{
    (void)state;
    if (auth_hash_password("s3cret", alice_hash) != TOCSIN_OK ||
        auth_hash_password("pa:ss word", bob_hash) != TOCSIN_OK)
        return -1;
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct config_user users[2];

    assert_non_null(f);
    users[0] = (struct config_user){.name = "alice", .password_hash = alice_hash};
    users[1] = (struct config_user){.name = "bob", .password_hash = bob_hash};
    f->auth = auth_new(users, 2);
    assert_non_null(f->auth);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    auth_free(f->auth);
    free(f);
    return 0;
}

static void test_hash_format(void **state)
{
    (void)state;
    assert_memory_equal(alice_hash, "$argon2id$", 10);
    assert_int_equal(crypto_pwhash_str_verify(alice_hash, "s3cret", 6), 0);
    assert_int_not_equal(crypto_pwhash_str_verify(alice_hash, "s3cre", 5), 0);
    /* Salted: the same password hashes differently each time. */
    {
        char again[crypto_pwhash_STRBYTES];

        assert_int_equal(auth_hash_password("s3cret", again), TOCSIN_OK);
        assert_string_not_equal(again, alice_hash);
    }
}

static void test_verify_ok(void **state)
{
    struct fixture *f = *state;
    const char *user = NULL;
    char h[256];

    assert_true(auth_check_at(f->auth, basic(h, sizeof(h), "alice:s3cret"), &user, T0));
    assert_string_equal(user, "alice");
    /* The password may hold colons and spaces: only the first colon splits. */
    user = NULL;
    assert_true(auth_check_at(f->auth, basic(h, sizeof(h), "bob:pa:ss word"), &user, T0));
    assert_string_equal(user, "bob");
    /* Scheme is case-insensitive, extra blanks are allowed, user_out may be NULL. */
    h[0] = 'b';
    h[1] = 'A';
    assert_true(auth_check_at(f->auth, h, NULL, T0));
    {
        char spaced[300];

        basic(h, sizeof(h), "alice:s3cret");
        assert_true(snprintf(spaced, sizeof(spaced), "Basic  \t%s  ", h + 6) > 0);
        assert_true(auth_check_at(f->auth, spaced, NULL, T0));
    }
    assert_true(auth_check(f->auth, basic(h, sizeof(h), "alice:s3cret"), &user));
}

static void test_wrong_password(void **state)
{
    struct fixture *f = *state;
    const char *user = "unchanged";
    char h[256];

    assert_false(auth_check_at(f->auth, basic(h, sizeof(h), "alice:s3cre"), &user, T0));
    assert_false(auth_check_at(f->auth, basic(h, sizeof(h), "alice:"), &user, T0));
    assert_false(auth_check_at(f->auth, basic(h, sizeof(h), "alice:s3cret "), &user, T0));
    assert_false(auth_check_at(f->auth, basic(h, sizeof(h), "Alice:s3cret"), &user, T0));
    assert_string_equal(user, "unchanged");
}

static void test_unknown_user(void **state)
{
    struct fixture *f = *state;
    const char *user = "unchanged";
    char h[256];

    assert_false(auth_check_at(f->auth, basic(h, sizeof(h), "mallory:s3cret"), &user, T0));
    assert_false(auth_check_at(f->auth, basic(h, sizeof(h), ":s3cret"), &user, T0));
    assert_string_equal(user, "unchanged");
}

static void test_malformed(void **state)
{
    struct fixture *f = *state;
    struct auth_stats st;
    char h[256], *huge;
    const char *bad[] = {
        "",
        "Basic",
        "Basic ",
        "Basic    ",
        "Basic !!!",
        "Basic YWxpY2U6czNjcmV0!",
        "Bearer YWxpY2U6czNjcmV0",
        "BasicYWxpY2U6czNjcmV0",
        "Basic YWxpY2U6czNjcmV0 extra",
        "Basic ====",
        "Digest username=alice",
    };

    assert_false(auth_check_at(f->auth, NULL, NULL, T0));
    assert_false(auth_check_at(NULL, basic(h, sizeof(h), "alice:s3cret"), NULL, T0));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(auth_check_at(f->auth, bad[i], NULL, T0));
    assert_false(auth_check_at(f->auth, basic(h, sizeof(h), "alice"), NULL, T0)); /* no colon */
    /* A NUL inside the decoded credentials. */
    {
        static const unsigned char cred[] = "alice:s3\0cret";
        char b64[64];

        sodium_bin2base64(b64, sizeof(b64), cred, sizeof(cred) - 1, sodium_base64_VARIANT_ORIGINAL);
        memcpy(h, "Basic ", 6);
        memcpy(h + 6, b64, strlen(b64) + 1);
        assert_false(auth_check_at(f->auth, h, NULL, T0));
    }
    /* A huge header is refused without being decoded. */
    huge = malloc(64 * 1024 + 1);
    assert_non_null(huge);
    memcpy(huge, "Basic ", 6);
    memset(huge + 6, 'Q', 64 * 1024 - 6);
    huge[64 * 1024] = '\0';
    assert_false(auth_check_at(f->auth, huge, NULL, T0));
    free(huge);
    auth_get_stats(f->auth, &st);
    assert_int_equal(st.hits, 0);
    assert_int_equal(st.verified, 0);
    assert_int_equal(st.failed, sizeof(bad) / sizeof(bad[0]) + 4);
}

static void test_cache_hit(void **state)
{
    struct fixture *f = *state;
    struct auth_stats st;
    const char *user = NULL;
    char h[256];

    basic(h, sizeof(h), "alice:s3cret");
    assert_true(auth_check_at(f->auth, h, &user, T0));
    auth_get_stats(f->auth, &st);
    assert_int_equal(st.verified, 1);
    assert_int_equal(st.hits, 0);
    for (int i = 1; i <= 100; i++) {
        user = NULL;
        assert_true(auth_check_at(f->auth, h, &user, T0 + i));
        assert_string_equal(user, "alice");
    }
    auth_get_stats(f->auth, &st);
    assert_int_equal(st.verified, 1);
    assert_int_equal(st.hits, 100);
    /* A different header value is a different entry: verified on its own. */
    assert_true(auth_check_at(f->auth, basic(h, sizeof(h), "bob:pa:ss word"), &user, T0));
    assert_string_equal(user, "bob");
    auth_get_stats(f->auth, &st);
    assert_int_equal(st.verified, 2);
}

static void test_failures_not_cached(void **state)
{
    struct fixture *f = *state;
    struct auth_stats st;
    char h[256];

    basic(h, sizeof(h), "alice:wrong");
    for (int i = 0; i < 3; i++)
        assert_false(auth_check_at(f->auth, h, NULL, T0 + i));
    auth_get_stats(f->auth, &st);
    assert_int_equal(st.hits, 0);
    assert_int_equal(st.verified, 0);
    assert_int_equal(st.failed, 3);
    /* A cached success does not make a wrong password pass. */
    assert_true(auth_check_at(f->auth, basic(h, sizeof(h), "alice:s3cret"), NULL, T0));
    assert_false(auth_check_at(f->auth, basic(h, sizeof(h), "alice:s3cretX"), NULL, T0));
}

static void test_cache_expiry(void **state)
{
    struct fixture *f = *state;
    struct auth_stats st;
    const char *user = NULL;
    char h[256];

    basic(h, sizeof(h), "alice:s3cret");
    assert_true(auth_check_at(f->auth, h, &user, T0));
    assert_true(auth_check_at(f->auth, h, &user, T0 + AUTH_CACHE_TTL_MS - 1));
    auth_get_stats(f->auth, &st);
    assert_int_equal(st.verified, 1);
    assert_int_equal(st.hits, 1);
    /* At the TTL the entry is gone: argon2id runs again, then it is cached afresh. */
    assert_true(auth_check_at(f->auth, h, &user, T0 + AUTH_CACHE_TTL_MS));
    auth_get_stats(f->auth, &st);
    assert_int_equal(st.verified, 2);
    assert_int_equal(st.hits, 1);
    assert_true(auth_check_at(f->auth, h, &user, T0 + 2 * AUTH_CACHE_TTL_MS - 1));
    auth_get_stats(f->auth, &st);
    assert_int_equal(st.verified, 2);
    assert_int_equal(st.hits, 2);
    assert_string_equal(user, "alice");
}

static void test_no_users(void **state)
{
    struct auth *a = auth_new(NULL, 0);
    char h[256];

    (void)state;
    assert_non_null(a);
    assert_false(auth_check_at(a, basic(h, sizeof(h), "alice:s3cret"), NULL, T0));
    auth_free(a);
    auth_free(NULL);
}

/* ---- principals -------------------------------------------------------------------- */

static const uint8_t pepper[KEYS_PEPPER_BYTES] = {7};

/* Users with every shape of the config: defaults, explicit scopes, admin, customers. */
struct world {
    struct keys *keys;
    struct auth *auth;
    char key[KEYS_KEY_LEN + 1];     /* robot's key: write:alerts, customer acme */
    char expired[KEYS_KEY_LEN + 1]; /* expires at WALL */
};

static void world_init(struct world *w, bool views)
{
    static char *carol_scopes[] = {"read:alerts", "write:alerts.cloud"};
    static char *carol_customers[] = {"acme", "globex", "acme"};
    static char *dave_customers[] = {"*"};
    static char *erin_customers[] = {"initech"};
    struct config_user users[5];
    struct auth_opts o = {0};
    const char *rw[] = {"write:alerts"};
    struct scope_set ks;
    struct key_params kp = {.user = "robot", .scopes = &ks, .customer = "acme"};
    char err[256];

    memset(users, 0, sizeof(users));
    users[0] = (struct config_user){.name = "alice", .password_hash = alice_hash};
    users[1] = (struct config_user){.name = "bob",
                                    .password_hash = bob_hash,
                                    .admin = true,
                                    .customers = erin_customers,
                                    .ncustomers = 1};
    users[2] = (struct config_user){.name = "carol",
                                    .password_hash = alice_hash,
                                    .scopes = carol_scopes,
                                    .nscopes = 2,
                                    .customers = carol_customers,
                                    .ncustomers = 3};
    users[3] = (struct config_user){
        .name = "dave", .password_hash = alice_hash, .customers = dave_customers, .ncustomers = 1};
    users[4] = (struct config_user){
        .name = "erin", .password_hash = alice_hash, .customers = erin_customers, .ncustomers = 1};
    w->keys = keys_new(pepper, 0);
    assert_non_null(w->keys);
    scope_set_clear(&ks);
    assert_int_equal(scope_set_parse_list(&ks, rw, 1, NULL, 0), TOCSIN_OK);
    assert_int_equal(keys_create(w->keys, &kp, WALL, w->key, NULL, NULL, 0), TOCSIN_OK);
    kp.customer = NULL;
    kp.expire_ms = WALL;
    assert_int_equal(keys_create(w->keys, &kp, WALL - 1, w->expired, NULL, NULL, 0), TOCSIN_OK);
    o.keys = w->keys;
    o.customer_views = views;
    w->auth = auth_new_ex(users, 5, &o, err, sizeof(err));
    if (!w->auth)
        fail_msg("%s", err);
}

static void world_free(struct world *w)
{
    auth_free(w->auth);
    keys_free(w->keys);
}

static int who(struct world *w, const char *authorization, const char *x_api_key,
               const char *api_key, struct principal *p)
{
    struct auth_credentials c = {authorization, x_api_key, api_key};

    return auth_authenticate(w->auth, &c, T0, WALL, p);
}

static void test_principal_users(void **state)
{
    struct world w;
    struct principal p;
    char h[256], scopes[256];
    const char *cust[PRINCIPAL_MAX_CUSTOMERS];

    (void)state;
    world_init(&w, true);
    /* alice: the defaults, read + write; no customers configured is refused by the config with
     * customer views on, but auth itself treats it as "all". */
    assert_int_equal(who(&w, basic(h, sizeof(h), "alice:s3cret"), NULL, NULL, &p), TOCSIN_OK);
    assert_int_equal(p.kind, AUTH_KIND_BASIC);
    assert_string_equal(principal_user(&p), "alice");
    scope_set_format(&p.scopes, ",", scopes, sizeof(scopes));
    assert_string_equal(scopes, "read,write");
    assert_false(p.is_admin);
    assert_true(principal_allows(&p, "write:alerts"));
    assert_true(principal_allows(&p, "read:keys"));
    assert_false(principal_allows(&p, "admin:keys"));
    /* bob: admin adds admin, read, write and lifts the customer restriction. */
    assert_int_equal(who(&w, basic(h, sizeof(h), "bob:pa:ss word"), NULL, NULL, &p), TOCSIN_OK);
    assert_true(p.is_admin);
    assert_true(principal_allows(&p, "admin:management"));
    assert_int_equal(principal_customers(&p, cust, PRINCIPAL_MAX_CUSTOMERS), 0);
    /* carol: explicit scopes only; customers deduplicated. */
    assert_int_equal(who(&w, basic(h, sizeof(h), "carol:s3cret"), NULL, NULL, &p), TOCSIN_OK);
    assert_true(principal_allows(&p, "read:alerts"));
    assert_false(principal_allows(&p, "write:alerts"));
    assert_true(principal_allows(&p, "read:alerts.cloud"));
    assert_false(principal_allows(&p, "read:blackouts"));
    assert_int_equal(principal_customers(&p, cust, PRINCIPAL_MAX_CUSTOMERS), 2);
    assert_string_equal(cust[0], "acme");
    assert_string_equal(cust[1], "globex");
    assert_int_equal(principal_customers(&p, cust, 1), 1);
    assert_true(principal_sees_customer(&p, "globex"));
    assert_false(principal_sees_customer(&p, "initech"));
    assert_false(principal_sees_customer(&p, NULL));
    /* dave: "*" is every customer. */
    assert_int_equal(who(&w, basic(h, sizeof(h), "dave:s3cret"), NULL, NULL, &p), TOCSIN_OK);
    assert_int_equal(p.ncustomers, 0);
    assert_true(principal_sees_customer(&p, "anything"));
    assert_true(principal_sees_customer(&p, NULL));
    /* erin: one customer. */
    assert_int_equal(who(&w, basic(h, sizeof(h), "erin:s3cret"), NULL, NULL, &p), TOCSIN_OK);
    assert_int_equal(p.ncustomers, 1);
    assert_true(auth_user_is_admin(w.auth, "bob"));
    assert_false(auth_user_is_admin(w.auth, "alice"));
    assert_false(auth_user_is_admin(w.auth, "nobody"));
    world_free(&w);
    /* Customer views off: users' customers are ignored (Alerta's get_customers returns []). */
    world_init(&w, false);
    assert_int_equal(who(&w, basic(h, sizeof(h), "erin:s3cret"), NULL, NULL, &p), TOCSIN_OK);
    assert_int_equal(p.ncustomers, 0);
    /* ... but a key bound to a customer stays bound (Alerta applies a key's customer always). */
    assert_int_equal(who(&w, NULL, w.key, NULL, &p), TOCSIN_OK);
    assert_int_equal(p.ncustomers, 1);
    world_free(&w);
}

static void test_principal_keys(void **state)
{
    struct world w;
    struct principal p;
    struct auth_stats st;
    char h[256], hdr[128];

    (void)state;
    world_init(&w, false);
    /* Each place a key may come from. */
    assert_int_equal(who(&w, NULL, w.key, NULL, &p), TOCSIN_OK);
    assert_int_equal(p.kind, AUTH_KIND_KEY);
    assert_string_equal(p.user, "robot");
    assert_true(principal_allows(&p, "write:alerts"));
    assert_false(principal_allows(&p, "read:blackouts"));
    assert_int_equal(who(&w, NULL, NULL, w.key, &p), TOCSIN_OK);
    snprintf(hdr, sizeof(hdr), "Key %s", w.key);
    assert_int_equal(who(&w, hdr, NULL, NULL, &p), TOCSIN_OK);
    snprintf(hdr, sizeof(hdr), "key \t%s  ", w.key);
    assert_int_equal(who(&w, hdr, NULL, NULL, &p), TOCSIN_OK);
    snprintf(hdr, sizeof(hdr), "Bearer %s", w.key);
    assert_int_equal(who(&w, hdr, NULL, NULL, &p), TOCSIN_OK);
    /* Bad keys, wherever they are, are refused and leave nobody. */
    assert_int_equal(who(&w, NULL, "wrong", NULL, &p), TOCSIN_EAUTH);
    assert_int_equal(p.kind, AUTH_KIND_NONE);
    assert_false(principal_allows(&p, "read"));
    assert_int_equal(who(&w, NULL, NULL, "wrong", &p), TOCSIN_EAUTH);
    assert_int_equal(who(&w, "Key wrong", NULL, NULL, &p), TOCSIN_EAUTH);
    assert_int_equal(who(&w, "Key ", NULL, NULL, &p), TOCSIN_EAUTH);
    snprintf(hdr, sizeof(hdr), "Key %s extra", w.key);
    assert_int_equal(who(&w, hdr, NULL, NULL, &p), TOCSIN_EAUTH);
    assert_int_equal(who(&w, "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", NULL, NULL, &p), TOCSIN_EAUTH);
    /* Expired (at the passed-in wall clock). */
    assert_int_equal(who(&w, NULL, w.expired, NULL, &p), TOCSIN_EAUTH);
    {
        struct auth_credentials c = {NULL, w.expired, NULL};

        assert_int_equal(auth_authenticate(w.auth, &c, T0, WALL - 1, &p), TOCSIN_OK);
    }
    auth_get_stats(w.auth, &st);
    assert_int_equal(st.keys_used, 6);
    assert_int_equal(st.keys_failed, 7);
    /* No credentials at all. */
    assert_int_equal(who(&w, NULL, NULL, NULL, &p), TOCSIN_EAUTH);
    assert_int_equal(auth_authenticate(w.auth, NULL, T0, WALL, &p), TOCSIN_EAUTH);
    assert_int_equal(who(&w, "Digest username=alice", NULL, NULL, &p), TOCSIN_EAUTH);
    (void)h;
    world_free(&w);
}

/* Alerta's order: Authorization: Key, then X-API-Key, then ?api-key=, then Bearer, then Basic;
 * a key found decides alone. */
static void test_precedence(void **state)
{
    struct world w;
    struct principal p;
    char h[256], hdr[128];

    (void)state;
    world_init(&w, false);
    basic(h, sizeof(h), "alice:s3cret");
    /* A good key beats good Basic credentials (X-API-Key is read before Basic). */
    assert_int_equal(who(&w, h, w.key, NULL, &p), TOCSIN_OK);
    assert_string_equal(p.user, "robot");
    assert_int_equal(who(&w, h, NULL, w.key, &p), TOCSIN_OK);
    assert_string_equal(p.user, "robot");
    /* A bad key is not passed over for good Basic credentials. */
    assert_int_equal(who(&w, h, "wrong", NULL, &p), TOCSIN_EAUTH);
    assert_int_equal(who(&w, h, NULL, "wrong", &p), TOCSIN_EAUTH);
    /* Authorization: Key wins over X-API-Key, which wins over the query parameter. */
    snprintf(hdr, sizeof(hdr), "Key %s", w.key);
    assert_int_equal(who(&w, hdr, "wrong", "wrong", &p), TOCSIN_OK);
    assert_int_equal(who(&w, "Key wrong", w.key, w.key, &p), TOCSIN_EAUTH);
    assert_int_equal(who(&w, NULL, w.key, "wrong", &p), TOCSIN_OK);
    assert_int_equal(who(&w, NULL, "wrong", w.key, &p), TOCSIN_EAUTH);
    /* An empty X-API-Key counts as absent. */
    assert_int_equal(who(&w, h, "", NULL, &p), TOCSIN_OK);
    assert_string_equal(p.user, "alice");
    /* A bearer token is read after the key places: ?api-key= decides first. */
    snprintf(hdr, sizeof(hdr), "Bearer %s", w.key);
    assert_int_equal(who(&w, hdr, NULL, "wrong", &p), TOCSIN_EAUTH);
    /* Basic with a wrong password. */
    assert_int_equal(who(&w, basic(h, sizeof(h), "alice:nope"), NULL, NULL, &p), TOCSIN_EAUTH);
    world_free(&w);
}

static void test_auth_off(void **state)
{
    struct keys *k = keys_new(pepper, 0);
    struct auth *a = auth_new_ex(NULL, 0, &(struct auth_opts){.keys = k}, NULL, 0);
    struct key_params kp = {.user = "first"};
    struct principal p;
    char key[KEYS_KEY_LEN + 1], h[256];

    (void)state;
    assert_non_null(k);
    assert_non_null(a);
    /* No users, no keys: everyone is an anonymous admin (Alerta's AUTH_REQUIRED=False), and
     * whatever credentials come along are not looked at. */
    assert_false(auth_required(a));
    assert_int_equal(auth_authenticate(a, NULL, T0, WALL, &p), TOCSIN_OK);
    assert_int_equal(p.kind, AUTH_KIND_NONE);
    assert_null(principal_user(&p));
    assert_true(p.is_admin);
    assert_true(principal_allows(&p, "admin:keys"));
    assert_true(principal_allows(&p, "delete:alerts"));
    assert_int_equal(who(&(struct world){.auth = a}, basic(h, sizeof(h), "x:y"), "k", NULL, &p),
                     TOCSIN_OK);
    assert_true(p.is_admin);
    /* A NULL auth is the same. */
    assert_false(auth_required(NULL));
    assert_int_equal(auth_authenticate(NULL, NULL, T0, WALL, &p), TOCSIN_OK);
    assert_true(p.is_admin);
    /* The first key turns auth on. */
    assert_int_equal(keys_create(k, &kp, WALL, key, NULL, NULL, 0), TOCSIN_OK);
    assert_true(auth_required(a));
    assert_int_equal(auth_authenticate(a, NULL, T0, WALL, &p), TOCSIN_EAUTH);
    assert_int_equal(who(&(struct world){.auth = a}, NULL, key, NULL, &p), TOCSIN_OK);
    assert_string_equal(p.user, "first");
    /* Basic cannot succeed without users. */
    assert_int_equal(who(&(struct world){.auth = a}, h, NULL, NULL, &p), TOCSIN_EAUTH);
    auth_free(a);
    keys_free(k);
}

static void test_bad_user_config(void **state)
{
    static char *bad_scopes[] = {"read", "write:alertz"};
    struct config_user u = {
        .name = "alice", .password_hash = alice_hash, .scopes = bad_scopes, .nscopes = 2};
    char err[256] = "";

    (void)state;
    assert_null(auth_new_ex(&u, 1, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "user 'alice'"));
    assert_non_null(strstr(err, "'write:alertz'"));
}

/* ---- authorisation helpers ----------------------------------------------------------- */

static void test_authz_require(void **state)
{
    struct principal p;
    struct http_resp resp;

    (void)state;
    principal_nobody(&p);
    assert_int_equal(scope_set_add(&p.scopes, "read", NULL, 0), TOCSIN_OK);
    memset(&resp, 0, sizeof(resp));
    assert_true(authz_require(&p, "read:alerts", &resp));
    assert_null(resp.body);
    assert_false(authz_require(&p, "write:alerts", &resp));
    assert_int_equal(resp.status, 403);
    assert_string_equal(resp.content_type, "application/json");
    assert_string_equal(resp.body, "{\"status\":\"error\",\"message\":\"Missing required scope: "
                                   "write:alerts\",\"code\":403,\"errors\":null}");
    assert_int_equal(resp.body_len, strlen(resp.body));
    free(resp.body);
    /* No principal at all refuses everything but "no scope". */
    memset(&resp, 0, sizeof(resp));
    assert_true(authz_require(NULL, NULL, &resp));
    assert_false(authz_require(NULL, "read", &resp));
    free(resp.body);
    memset(&resp, 0, sizeof(resp));
    authz_error(&resp, 400, "bad %s", "\xff");
    assert_int_equal(resp.status, 400);
    assert_non_null(strstr(resp.body, "\"code\":400"));
    free(resp.body);
}

static void test_assign_customer(void **state)
{
    struct principal p;
    const char *out = "unchanged";
    char msg[128] = "";

    (void)state;
    /* No customers, none wanted: none. */
    principal_nobody(&p);
    scope_set_add(&p.scopes, "write", NULL, 0);
    assert_int_equal(authz_assign_customer(&p, NULL, NULL, &out, msg, sizeof(msg)), 0);
    assert_null(out);
    assert_int_equal(authz_assign_customer(&p, "", NULL, &out, msg, sizeof(msg)), 0);
    assert_null(out);
    /* An explicit customer needs admin, the exact admin scope, or membership. */
    assert_int_equal(authz_assign_customer(&p, "acme", NULL, &out, msg, sizeof(msg)), 400);
    assert_string_equal(msg, "not allowed to set customer to 'acme'");
    scope_set_add(&p.scopes, "admin:alerts", NULL, 0);
    assert_int_equal(authz_assign_customer(&p, "acme", NULL, &out, msg, sizeof(msg)), 0);
    assert_string_equal(out, "acme");
    assert_int_equal(authz_assign_customer(&p, "acme", "admin:keys", &out, msg, sizeof(msg)), 400);
    scope_set_add(&p.scopes, "admin:keys", NULL, 0);
    assert_int_equal(authz_assign_customer(&p, "acme", "admin:keys", &out, msg, sizeof(msg)), 0);
    principal_anonymous_admin(&p);
    assert_int_equal(authz_assign_customer(&p, "acme", "admin:keys", &out, msg, sizeof(msg)), 0);
    assert_string_equal(out, "acme");
    /* One customer: assigned automatically; an explicit one must be it. */
    principal_nobody(&p);
    scope_set_add(&p.scopes, "write", NULL, 0);
    assert_int_equal(principal_add_customer(&p, "acme"), TOCSIN_OK);
    assert_int_equal(authz_assign_customer(&p, NULL, NULL, &out, msg, sizeof(msg)), 0);
    assert_string_equal(out, "acme");
    assert_int_equal(authz_assign_customer(&p, "acme", NULL, &out, msg, sizeof(msg)), 0);
    assert_int_equal(authz_assign_customer(&p, "globex", NULL, &out, msg, sizeof(msg)), 400);
    assert_string_equal(msg, "not allowed to set customer to 'globex'");
    /* More than one and none given: 400; one of them given: fine. */
    assert_int_equal(principal_add_customer(&p, "globex"), TOCSIN_OK);
    assert_int_equal(principal_add_customer(&p, "globex"), TOCSIN_OK); /* no duplicate */
    assert_int_equal(p.ncustomers, 2);
    assert_int_equal(authz_assign_customer(&p, NULL, NULL, &out, msg, sizeof(msg)), 400);
    assert_string_equal(msg, "must define customer as more than one possibility");
    assert_int_equal(authz_assign_customer(&p, "globex", NULL, &out, msg, sizeof(msg)), 0);
    assert_string_equal(out, "globex");
    /* Bounds of the customer list. */
    assert_int_equal(principal_add_customer(&p, ""), TOCSIN_EINVAL);
    assert_int_equal(principal_add_customer(&p, NULL), TOCSIN_EINVAL);
    for (int i = (int)p.ncustomers; i < PRINCIPAL_MAX_CUSTOMERS; i++) {
        char name[16];

        snprintf(name, sizeof(name), "c%d", i);
        assert_int_equal(principal_add_customer(&p, name), TOCSIN_OK);
    }
    assert_int_equal(principal_add_customer(&p, "one-more"), TOCSIN_ETOOBIG);
}

/* ---- the users config shape ---------------------------------------------------------- */

static int load_yaml(struct config *c, const char *yaml, char *err, size_t errlen)
{
    char path[] = "/tmp/tocsin-auth-XXXXXX";
    int fd = mkstemp(path), rc;
    FILE *f;

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(yaml, f);
    fclose(f);
    config_defaults(c);
    rc = config_load_file(c, path, err, errlen);
    if (rc == 0)
        rc = config_validate(c, err, errlen);
    unlink(path);
    return rc;
}

static void test_config_users(void **state)
{
    struct config c;
    struct auth *a;
    struct principal p;
    char yaml[2048], err[512] = "", h[256], *dump = NULL;
    size_t dlen = 0;
    FILE *f;

    (void)state;
    snprintf(yaml, sizeof(yaml),
             "auth:\n"
             "  customer_views: true\n"
             "  users:\n"
             "    - name: alice\n"
             "      password_hash: \"%s\"\n"
             "      scopes: [read, \"write:alerts\"]\n"
             "      customers:\n"
             "        - acme\n"
             "    - name: bob\n"
             "      password_hash: \"%s\"\n"
             "      admin: yes\n",
             alice_hash, bob_hash);
    if (load_yaml(&c, yaml, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_true(c.customer_views);
    assert_int_equal(c.users[0].nscopes, 2);
    assert_string_equal(c.users[0].scopes[1], "write:alerts");
    assert_int_equal(c.users[0].ncustomers, 1);
    assert_true(c.users[1].admin);
    a = auth_new_ex(c.users, c.nusers, &(struct auth_opts){.customer_views = c.customer_views}, err,
                    sizeof(err));
    assert_non_null(a);
    assert_int_equal(
        auth_authenticate(
            a, &(struct auth_credentials){.authorization = basic(h, sizeof(h), "alice:s3cret")}, T0,
            WALL, &p),
        TOCSIN_OK);
    assert_true(principal_allows(&p, "write:alerts"));
    assert_false(principal_allows(&p, "write:blackouts"));
    assert_string_equal(p.customers[0], "acme");
    auth_free(a);
    /* The dump shows the shape (and loads back, hashes aside). */
    f = open_memstream(&dump, &dlen);
    assert_non_null(f);
    config_write(&c, f);
    fclose(f);
    assert_non_null(strstr(dump, "auth:\n  customer_views: true\n  users:\n"));
    assert_non_null(strstr(dump, "      scopes: [\"read\", \"write:alerts\"]\n"));
    assert_non_null(strstr(dump, "      customers: [\"acme\"]\n"));
    assert_non_null(strstr(dump, "      admin: true\n"));
    assert_null(strstr(dump, alice_hash));
    free(dump);
    config_free(&c);
    /* A config from before scopes existed still loads, with the defaults. */
    snprintf(yaml, sizeof(yaml),
             "auth:\n  users:\n    - name: alice\n      password_hash: \"%s\"\n", alice_hash);
    assert_int_equal(load_yaml(&c, yaml, err, sizeof(err)), 0);
    assert_false(c.customer_views);
    assert_int_equal(c.users[0].nscopes, 0);
    assert_false(c.users[0].admin);
    config_free(&c);
}

static void expect_config_error(const char *extra, const char *want)
{
    struct config c;
    char yaml[2048], err[512] = "";

    snprintf(yaml, sizeof(yaml),
             "auth:\n  users:\n    - name: alice\n      password_hash: \"%s\"\n%s", alice_hash,
             extra);
    if (load_yaml(&c, yaml, err, sizeof(err)) == 0)
        fail_msg("accepted:\n%s", yaml);
    if (!strstr(err, want))
        fail_msg("error does not say '%s': %s", want, err);
    config_free(&c);
}

static void test_config_user_errors(void **state)
{
    (void)state;
    expect_config_error("      scopes: [read, \"write:alertz\"]\n",
                        ":3: auth.users[0]: scopes of user 'alice': unknown scope 'write:alertz'");
    expect_config_error("      scopes: read\n", ":5: auth.users[0].scopes: expected a list");
    expect_config_error("      scopes: [[read]]\n", "auth.users[0].scopes[0]: expected a single");
    expect_config_error("      customers: [\"\"]\n", "customers of user 'alice'");
    expect_config_error("      admin: maybe\n", "auth.users[0].admin: expected true or false");
    expect_config_error("      role: admin\n",
                        "unknown key 'role' (expected name, password_hash, scopes, customers, "
                        "admin)");
    expect_config_error("  customer_views: true\n",
                        "auth.users[0]: user 'alice' has no customers but auth.customer_views is "
                        "on");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hash_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_not_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_expiry, setup, teardown),
        cmocka_unit_test(test_no_users),
        cmocka_unit_test(test_principal_users),
        cmocka_unit_test(test_principal_keys),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_auth_off),
        cmocka_unit_test(test_bad_user_config),
        cmocka_unit_test(test_authz_require),
        cmocka_unit_test(test_assign_customer),
        cmocka_unit_test(test_config_users),
        cmocka_unit_test(test_config_user_errors),
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
