/* Unit tests for util/secrets: seal/open round trip, masking, merging masked values, a wrong
 * key, tampered ciphertext, a value moved to another id, nested paths and the header rule, and
 * the key file (creation mode, permissions, size, hex form). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "util/err.h"
#include "util/id.h"
#include "util/secrets.h"

static const uint8_t key_a[SECRETS_KEY_BYTES] = {1, 2, 3};
static const uint8_t key_b[SECRETS_KEY_BYTES] = {9, 8, 7};
static const char *const KEYS[] = {"token", "auth.password", "headers[*].value", NULL};

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);

    if (!j)
        fail_msg("bad test JSON: %s", je.text);
    return j;
}

static json_t *sample(void)
{
    return load("{\"url\":\"https://x\",\"token\":\"t0ps3cret\",\"auth\":{\"user\":\"u\","
                "\"password\":\"pw\"},\"headers\":[{\"name\":\"Content-Type\",\"value\":"
                "\"application/json\"},{\"name\":\"X-Api-Key\",\"value\":\"k-123\"},"
                "{\"name\":\"authorization\",\"value\":\"Bearer abc\"}]}");
}

static void test_round_trip(void **state)
{
    struct secrets *s = secrets_new(key_a);
    json_t *c = sample(), *orig = json_deep_copy(c);
    char err[256];

    (void)state;
    assert_non_null(s);
    assert_int_equal(secrets_seal(s, "ch1", c, KEYS, err, sizeof(err)), TOCSIN_OK);
    assert_true(secrets_is_sealed(json_object_get(c, "token")));
    assert_true(secrets_is_sealed(json_object_get(json_object_get(c, "auth"), "password")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(c, "auth"), "user")),
                        "u");
    /* The header rule: Content-Type stays plain, X-Api-Key and authorization are sealed. */
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(c, "headers"), 0), "value")),
                        "application/json");
    assert_true(secrets_is_sealed(
        json_object_get(json_array_get(json_object_get(c, "headers"), 1), "value")));
    assert_true(secrets_is_sealed(
        json_object_get(json_array_get(json_object_get(c, "headers"), 2), "value")));
    /* No plaintext anywhere in the stored form. */
    {
        char *dump = json_dumps(c, JSON_COMPACT);
        assert_null(strstr(dump, "t0ps3cret"));
        assert_null(strstr(dump, "k-123"));
        assert_null(strstr(dump, "Bearer"));
        free(dump);
    }
    /* Sealing again keeps values that are already sealed for this id. */
    assert_int_equal(secrets_seal(s, "ch1", c, KEYS, err, sizeof(err)), TOCSIN_OK);
    assert_int_equal(secrets_open_json(s, "ch1", c, KEYS, err, sizeof(err)), TOCSIN_OK);
    assert_true(json_equal(c, orig));
    /* Opening a plain config is a no-op. */
    assert_int_equal(secrets_open_json(s, "ch1", c, KEYS, err, sizeof(err)), TOCSIN_OK);
    assert_true(json_equal(c, orig));
    json_decref(c);
    json_decref(orig);
    secrets_free(s);
}

static void test_nonce_differs(void **state)
{
    struct secrets *s = secrets_new(key_a);
    json_t *a = load("{\"token\":\"same\"}"), *b = load("{\"token\":\"same\"}");
    char err[256];

    (void)state;
    assert_int_equal(secrets_seal(s, "c", a, KEYS, err, sizeof(err)), TOCSIN_OK);
    assert_int_equal(secrets_seal(s, "c", b, KEYS, err, sizeof(err)), TOCSIN_OK);
    assert_false(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    secrets_free(s);
}

static void test_wrong_key_and_moved(void **state)
{
    struct secrets *a = secrets_new(key_a), *b = secrets_new(key_b);
    json_t *c = sample(), *moved;
    char err[256];

    (void)state;
    assert_int_equal(secrets_seal(a, "ch1", c, KEYS, err, sizeof(err)), TOCSIN_OK);
    moved = json_deep_copy(c);
    /* Another key. */
    assert_int_equal(secrets_open_json(b, "ch1", c, KEYS, err, sizeof(err)), TOCSIN_EINVAL);
    assert_non_null(strstr(err, "token: does not decrypt"));
    /* Another channel id: the associated data differs. */
    assert_int_equal(secrets_open_json(a, "ch2", moved, KEYS, err, sizeof(err)), TOCSIN_EINVAL);
    assert_non_null(strstr(err, "does not decrypt"));
    /* Nor may it be sealed in as another channel's value. */
    assert_int_equal(secrets_seal(a, "ch2", moved, KEYS, err, sizeof(err)), TOCSIN_EINVAL);
    json_decref(c);
    json_decref(moved);
    secrets_free(a);
    secrets_free(b);
}

static void test_tampered(void **state)
{
    struct secrets *s = secrets_new(key_a);
    json_t *c = load("{\"token\":\"abcdef\"}");
    char err[256], *b64;
    size_t len;

    (void)state;
    assert_int_equal(secrets_seal(s, "c", c, KEYS, err, sizeof(err)), TOCSIN_OK);
    b64 = strdup(json_string_value(json_object_get(json_object_get(c, "token"), SECRETS_MARK)));
    len = strlen(b64);
    b64[len / 2] = b64[len / 2] == 'A' ? 'B' : 'A'; /* flip bits in the ciphertext */
    json_object_set_new(c, "token", json_pack("{s:s}", SECRETS_MARK, b64));
    assert_int_equal(secrets_open_json(s, "c", c, KEYS, err, sizeof(err)), TOCSIN_EINVAL);
    assert_non_null(strstr(err, "does not decrypt"));
    /* Not base64, too short, and not a sealed shape. */
    json_object_set_new(c, "token", json_pack("{s:s}", SECRETS_MARK, "!!!"));
    assert_int_equal(secrets_open_json(s, "c", c, KEYS, err, sizeof(err)), TOCSIN_EINVAL);
    assert_non_null(strstr(err, "base64"));
    json_object_set_new(c, "token", json_pack("{s:s}", SECRETS_MARK, "AAAA"));
    assert_int_equal(secrets_open_json(s, "c", c, KEYS, err, sizeof(err)), TOCSIN_EINVAL);
    json_object_set_new(c, "token", json_pack("{s:i}", "x", 1));
    assert_int_equal(secrets_open_json(s, "c", c, KEYS, err, sizeof(err)), TOCSIN_EINVAL);
    free(b64);
    json_decref(c);
    secrets_free(s);
}

static void test_mask_and_merge(void **state)
{
    struct secrets *s = secrets_new(key_a);
    json_t *stored = sample(), *shown, *put;
    char err[256];

    (void)state;
    assert_int_equal(secrets_seal(s, "ch1", stored, KEYS, err, sizeof(err)), TOCSIN_OK);
    shown = json_deep_copy(stored);
    secrets_mask(shown, KEYS);
    assert_string_equal(json_string_value(json_object_get(shown, "token")), SECRETS_MASK);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(shown, "auth"), "password")),
        SECRETS_MASK);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(shown, "headers"), 0), "value")),
                        "application/json");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(shown, "headers"), 2), "value")),
                        SECRETS_MASK);
    /* The client edits the url, reorders headers, changes the password, PUTs the rest back. */
    put = json_deep_copy(shown);
    json_object_set_new(put, "url", json_string("https://y"));
    json_object_set_new(json_object_get(put, "auth"), "password", json_string("new-pw"));
    {
        json_t *h = json_object_get(put, "headers"), *first = json_incref(json_array_get(h, 1));
        json_array_remove(h, 1);
        json_array_insert_new(h, 0, first); /* X-Api-Key first now */
    }
    assert_int_equal(secrets_merge_masked(put, stored, KEYS, err, sizeof(err)), TOCSIN_OK);
    assert_int_equal(secrets_seal(s, "ch1", put, KEYS, err, sizeof(err)), TOCSIN_OK);
    assert_int_equal(secrets_open_json(s, "ch1", put, KEYS, err, sizeof(err)), TOCSIN_OK);
    assert_string_equal(json_string_value(json_object_get(put, "token")), "t0ps3cret");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(put, "auth"), "password")), "new-pw");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(put, "headers"), 0), "value")),
                        "k-123");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(put, "headers"), 2), "value")),
                        "Bearer abc");
    json_decref(put);
    /* A mask with nothing stored behind it is an error naming the path. */
    put = load("{\"auth\":{\"password\":\"********\"}}");
    assert_int_equal(secrets_merge_masked(put, NULL, KEYS, err, sizeof(err)), TOCSIN_EINVAL);
    assert_non_null(strstr(err, "auth.password"));
    /* And sealing the mask itself is refused. */
    assert_int_equal(secrets_seal(s, "ch1", put, KEYS, err, sizeof(err)), TOCSIN_EINVAL);
    assert_non_null(strstr(err, "merge"));
    json_decref(put);
    json_decref(shown);
    json_decref(stored);
    secrets_free(s);
}

static void test_paths(void **state)
{
    struct secrets *s = secrets_new(key_a);
    const char *const deep[] = {"a.b[*].c.d", "list[*]", "plain[*].value", NULL};
    const char *const bad[] = {"a..b", NULL};
    const char *const bad2[] = {"a[1]", NULL};
    json_t *c = load("{\"a\":{\"b\":[{\"c\":{\"d\":\"x\"}},{\"c\":null},{\"c\":{\"d\":\"y\"}}]},"
                     "\"list\":[\"p\",\"q\"],\"plain\":[{\"value\":\"v\"}]}");
    char err[256];

    (void)state;
    assert_int_equal(secrets_seal(s, "id", c, deep, err, sizeof(err)), TOCSIN_OK);
    assert_true(secrets_is_sealed(json_object_get(
        json_object_get(json_array_get(json_object_get(json_object_get(c, "a"), "b"), 2), "c"),
        "d")));
    assert_true(secrets_is_sealed(json_array_get(json_object_get(c, "list"), 1)));
    /* An element without a "name" is always a secret under the name/value rule. */
    assert_true(secrets_is_sealed(
        json_object_get(json_array_get(json_object_get(c, "plain"), 0), "value")));
    assert_int_equal(secrets_open_json(s, "id", c, deep, err, sizeof(err)), TOCSIN_OK);
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "list"), 0)), "p");
    /* Absent paths are fine; non-string secrets and bad paths are not. */
    assert_int_equal(secrets_seal(s, "id", c, KEYS, err, sizeof(err)), TOCSIN_OK);
    assert_int_equal(secrets_seal(s, "id", c, bad, err, sizeof(err)), TOCSIN_EINVAL);
    assert_int_equal(secrets_seal(s, "id", c, bad2, err, sizeof(err)), TOCSIN_EINVAL);
    json_object_set_new(c, "token", json_integer(1234));
    assert_int_equal(secrets_seal(s, "id", c, KEYS, err, sizeof(err)), TOCSIN_EINVAL);
    assert_non_null(strstr(err, "token: a secret must be a string"));
    assert_int_equal(secrets_seal(s, "", c, KEYS, err, sizeof(err)), TOCSIN_EINVAL);
    json_decref(c);
    secrets_free(s);
}

static void test_sensitive_headers(void **state)
{
    (void)state;
    assert_true(secrets_sensitive_header("Authorization"));
    assert_true(secrets_sensitive_header("proxy-authorization"));
    assert_true(secrets_sensitive_header("X-API-Key"));
    assert_true(secrets_sensitive_header("X-Auth-Token"));
    assert_true(secrets_sensitive_header("Cookie"));
    assert_true(secrets_sensitive_header("X-Hub-Signature-256"));
    /* names the channels' header rule alone used to see (one rule now) */
    assert_true(secrets_sensitive_header("Ocp-Apim-Subscription-Key"));
    assert_true(secrets_sensitive_header("X-Functions-Key"));
    assert_true(secrets_sensitive_header("X-Password"));
    assert_true(secrets_sensitive_header("X-Session-Id"));
    assert_true(secrets_sensitive_header("X-Goog-Credential"));
    assert_false(secrets_sensitive_header("Content-Type"));
    assert_false(secrets_sensitive_header("Idempotency-Key"));
    assert_false(secrets_sensitive_header("idempotency-key"));
    assert_true(secrets_sensitive_header("X-Idempotency-Key-Secret"));
    assert_false(secrets_sensitive_header("X-Tocsin-Notification"));
    assert_false(secrets_sensitive_header(NULL));
    assert_true(secrets_streq("abc", "abc"));
    assert_false(secrets_streq("abc", "abd"));
    assert_false(secrets_streq("abc", "ab"));
    assert_true(secrets_streq("", ""));
}

/* ---- key files ---- */

static void write_file(const char *path, const void *data, size_t n, mode_t mode)
{
    FILE *f;

    unlink(path);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_key_file(void **state)
{
    char dir[] = "/tmp/tocsin-secrets-XXXXXX", path[256], err[512];
    uint8_t raw[SECRETS_KEY_BYTES + 1] = {0}, zero[SECRETS_KEY_BYTES] = {0};
    struct secrets *s1 = NULL, *s2 = NULL, *s3 = NULL;
    json_t *c = load("{\"token\":\"v\"}");
    struct stat st;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/%s", dir, SECRETS_KEY_FILE);
    /* Made on first use, 0600, 32 bytes; loaded back the same (what s1 seals, s2 opens). */
    assert_int_equal(secrets_load(dir, &s1, err, sizeof(err)), TOCSIN_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, SECRETS_KEY_BYTES);
    assert_int_equal(secrets_load(dir, &s2, err, sizeof(err)), TOCSIN_OK);
    assert_int_equal(secrets_seal(s1, "c", c, KEYS, err, sizeof(err)), TOCSIN_OK);
    assert_int_equal(secrets_open_json(s2, "c", c, KEYS, err, sizeof(err)), TOCSIN_OK);
    assert_string_equal(json_string_value(json_object_get(c, "token")), "v");
    /* Readable by group or others: refused with a clear reason. */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(secrets_load(dir, &s3, err, sizeof(err)), TOCSIN_EINVAL);
    assert_null(s3);
    assert_non_null(strstr(err, "group or others"));
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(
        secrets_keyfile_load(path, KEYFILE_RAW, raw, SECRETS_KEY_BYTES, err, sizeof(err)),
        TOCSIN_EINVAL);
    assert_memory_equal(raw, zero, SECRETS_KEY_BYTES); /* wiped on failure */
    /* Wrong sizes. */
    write_file(path, raw, SECRETS_KEY_BYTES - 1, 0600);
    assert_int_equal(
        secrets_keyfile_load(path, KEYFILE_RAW, raw, SECRETS_KEY_BYTES, err, sizeof(err)),
        TOCSIN_EINVAL);
    assert_non_null(strstr(err, "31 bytes, expected 32"));
    write_file(path, raw, SECRETS_KEY_BYTES + 1, 0600);
    assert_int_equal(
        secrets_keyfile_load(path, KEYFILE_RAW, raw, SECRETS_KEY_BYTES, err, sizeof(err)),
        TOCSIN_EINVAL);
    write_file(path, "", 0, 0600);
    assert_int_equal(
        secrets_keyfile_load(path, KEYFILE_RAW, raw, SECRETS_KEY_BYTES, err, sizeof(err)),
        TOCSIN_EINVAL);
    /* Not a regular file. */
    unlink(path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(
        secrets_keyfile_load(path, KEYFILE_RAW, raw, SECRETS_KEY_BYTES, err, sizeof(err)),
        TOCSIN_EINVAL);
    assert_non_null(strstr(err, "regular"));
    rmdir(path);
    /* The hex form (the API key pepper's). */
    assert_int_equal(
        secrets_keyfile_load(path, KEYFILE_HEX, raw, SECRETS_KEY_BYTES, err, sizeof(err)),
        TOCSIN_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 2 * SECRETS_KEY_BYTES + 1);
    write_file(path, "zz\n", 3, 0600);
    assert_int_equal(
        secrets_keyfile_load(path, KEYFILE_HEX, raw, SECRETS_KEY_BYTES, err, sizeof(err)),
        TOCSIN_EINVAL);
    assert_non_null(strstr(err, "hex digits"));
    unlink(path);
    /* A place that cannot be written. */
    snprintf(path, sizeof(path), "%s/no/such/dir", dir);
    assert_int_equal(secrets_load(path, &s3, err, sizeof(err)), TOCSIN_EIO);
    rmdir(dir);
    json_decref(c);
    secrets_free(s1);
    secrets_free(s2);
}

/* util/id.c draws a pool of random bytes at a time: ids across several refills of it are
 * well-formed version 4 UUIDs and all different. */
static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_uuid4_pool(void **state)
{
    enum { N = 2000 }; /* about 8 pools */
    static char ids[N][37];

    (void)state;
    for (int i = 0; i < N; i++) {
        id_uuid4(ids[i]);
        assert_int_equal(strlen(ids[i]), 36);
        for (int j = 0; j < 36; j++) {
            if (j == 8 || j == 13 || j == 18 || j == 23)
                assert_int_equal(ids[i][j], '-');
            else
                assert_non_null(strchr("0123456789abcdef", ids[i][j]));
        }
        assert_int_equal(ids[i][14], '4');
        assert_non_null(strchr("89ab", ids[i][19]));
    }
    qsort(ids, N, sizeof(ids[0]), cmp_id);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),          cmocka_unit_test(test_nonce_differs),
        cmocka_unit_test(test_wrong_key_and_moved), cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_mask_and_merge),      cmocka_unit_test(test_paths),
        cmocka_unit_test(test_sensitive_headers),   cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_uuid4_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
