/* Unit tests for net/auth: argon2id hashing and verification, Basic header parsing, the
 * verified-credentials cache (hits, expiry by injected time, failures never cached). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/auth.h"
#include "util/err.h"

#define T0 1000000

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
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
