/* Unit tests for net/keys: generation, hashing (the key itself is never kept), look-up, expiry
 * by the passed-in clock, use counting, add/replace/delete/list, the stored JSON form, the
 * pepper file, and a thread-safety smoke test (two threads looking up while one adds). */
#include <pthread.h>
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

#include "net/keys.h"
#include "util/err.h"

#define T0 ((int64_t)1700000000000) /* the wall clock the tests pass in */
#define DAY_MS ((int64_t)24 * 3600 * 1000)

static const uint8_t pepper[KEYS_PEPPER_BYTES] = {0x42, 0x17};

static struct keys *new_keys(void)
{
    struct keys *k = keys_new(pepper, 0);

    assert_non_null(k);
    return k;
}

static struct scope_set scopes_of(const char *const *list, size_t n)
{
    struct scope_set s;

    scope_set_clear(&s);
    assert_int_equal(scope_set_parse_list(&s, list, n, NULL, 0), TOCSIN_OK);
    return s;
}

static void test_generate(void **state)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char a[KEYS_KEY_LEN + 1], b[KEYS_KEY_LEN + 1];
    int seen[256] = {0};

    (void)state;
    assert_int_equal(KEYS_KEY_LEN, 40);
    for (int i = 0; i < 200; i++) {
        keys_generate(a);
        assert_int_equal(strlen(a), KEYS_KEY_LEN);
        for (size_t j = 0; j < KEYS_KEY_LEN; j++) {
            assert_non_null(strchr(alphabet, a[j]));
            seen[(unsigned char)a[j]]++;
        }
    }
    /* 8000 draws over 64 symbols: each one turns up (a constant or biased generator would not). */
    for (const char *p = alphabet; *p; p++)
        assert_true(seen[(unsigned char)*p] > 0);
    keys_generate(b);
    assert_string_not_equal(a, b);
}

static void test_create_and_use(void **state)
{
    struct keys *k = new_keys();
    const char *list[] = {"write:alerts"};
    struct scope_set sc = scopes_of(list, 1);
    struct key_params p = {.user = "ops", .scopes = &sc, .text = "ci", .customer = "acme"};
    struct key_record rec, got;
    struct principal who;
    char key[KEYS_KEY_LEN + 1], err[128];
    uint8_t h[KEYS_HASH_BYTES];

    (void)state;
    assert_int_equal(keys_create(k, &p, T0, key, &rec, err, sizeof(err)), TOCSIN_OK);
    assert_int_equal(strlen(key), KEYS_KEY_LEN);
    assert_int_equal(strlen(rec.id), 36);
    assert_string_equal(rec.user, "ops");
    assert_string_equal(rec.text, "ci");
    assert_string_equal(rec.customer, "acme");
    assert_int_equal(rec.expire_ms, T0 + 365 * DAY_MS);
    assert_int_equal(rec.count, 0);
    assert_int_equal(rec.last_used_ms, 0);
    assert_memory_equal(rec.hint, key, KEYS_HINT_LEN);
    assert_string_equal(key_record_type(&rec), "read-write");
    /* The record holds the keyed hash, not the key, and not an unkeyed hash of it. */
    assert_null(memmem(&rec, sizeof(rec), key, KEYS_KEY_LEN));
    crypto_generichash(h, sizeof(h), (const unsigned char *)key, KEYS_KEY_LEN, NULL, 0);
    assert_memory_not_equal(h, rec.hash, sizeof(h));
    crypto_generichash(h, sizeof(h), (const unsigned char *)key, KEYS_KEY_LEN, pepper,
                       sizeof(pepper));
    assert_memory_equal(h, rec.hash, sizeof(h));
    assert_int_equal(keys_count(k), 1);

    /* Use: a principal, and the count and last use move. */
    assert_int_equal(keys_use(k, key, T0 + 5, &who), TOCSIN_OK);
    assert_int_equal(who.kind, AUTH_KIND_KEY);
    assert_string_equal(who.user, "ops");
    assert_string_equal(who.key_id, rec.id);
    assert_false(who.is_admin);
    assert_true(principal_allows(&who, "read:alerts"));
    assert_false(principal_allows(&who, "read:blackouts"));
    assert_int_equal(who.ncustomers, 1);
    assert_string_equal(who.customers[0], "acme");
    assert_int_equal(keys_use(k, key, T0 + 9, &who), TOCSIN_OK);
    assert_int_equal(keys_get(k, rec.id, &got), TOCSIN_OK);
    assert_int_equal(got.count, 2);
    assert_int_equal(got.last_used_ms, T0 + 9);
    key_record_clear(&got);

    /* Wrong, empty, NULL, too long and near-miss keys are unknown and count nothing. */
    {
        char near[KEYS_KEY_LEN + 1], huge[KEYS_MAX_KEY_LEN + 2];

        memcpy(near, key, sizeof(near));
        near[0] = near[0] == 'A' ? 'B' : 'A';
        memset(huge, 'x', sizeof(huge) - 1);
        huge[sizeof(huge) - 1] = '\0';
        assert_int_equal(keys_use(k, near, T0, &who), TOCSIN_ENOTFOUND);
        assert_int_equal(keys_use(k, "", T0, &who), TOCSIN_ENOTFOUND);
        assert_int_equal(keys_use(k, NULL, T0, &who), TOCSIN_ENOTFOUND);
        assert_int_equal(keys_use(k, huge, T0, &who), TOCSIN_ENOTFOUND);
        assert_int_equal(keys_use(NULL, key, T0, &who), TOCSIN_ENOTFOUND);
    }
    /* Finding by the plaintext (Alerta's /key/<key>) does not count a use. */
    assert_int_equal(keys_find_by_key(k, key, &got), TOCSIN_OK);
    assert_string_equal(got.id, rec.id);
    assert_int_equal(got.count, 2);
    key_record_clear(&got);
    assert_int_equal(keys_find_by_key(k, "nope", &got), TOCSIN_ENOTFOUND);
    key_record_clear(&rec);
    keys_free(k);
}

static void test_defaults_and_errors(void **state)
{
    struct keys *k = keys_new(pepper, 2);
    struct key_params p = {.user = "u"};
    struct key_record rec;
    char key[KEYS_KEY_LEN + 1], err[128], longname[PRINCIPAL_NAME_MAX + 2], *text;

    (void)state;
    assert_non_null(k);
    /* No scopes: read, write (Alerta's USER_DEFAULT_SCOPES); no customer; an expiry given. */
    p.expire_ms = T0 + 1000;
    assert_int_equal(keys_create(k, &p, T0, key, &rec, err, sizeof(err)), TOCSIN_OK);
    assert_true(scope_set_has(&rec.scopes, "read"));
    assert_true(scope_set_has(&rec.scopes, "write"));
    assert_string_equal(rec.customer, "");
    assert_null(rec.text);
    assert_int_equal(rec.expire_ms, T0 + 1000);
    key_record_clear(&rec);
    /* Bad parameters. */
    p.user = "";
    assert_int_equal(keys_create(k, &p, T0, key, NULL, err, sizeof(err)), TOCSIN_EINVAL);
    assert_non_null(strstr(err, "user"));
    p.user = NULL;
    assert_int_equal(keys_create(k, &p, T0, key, NULL, err, sizeof(err)), TOCSIN_EINVAL);
    assert_int_equal(keys_create(k, NULL, T0, key, NULL, err, sizeof(err)), TOCSIN_EINVAL);
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    p.user = longname;
    assert_int_equal(keys_create(k, &p, T0, key, NULL, err, sizeof(err)), TOCSIN_EINVAL);
    p.user = "u";
    p.customer = "bad\ncustomer";
    assert_int_equal(keys_create(k, &p, T0, key, NULL, err, sizeof(err)), TOCSIN_EINVAL);
    p.customer = NULL;
    text = malloc(KEYS_TEXT_MAX + 2);
    assert_non_null(text);
    memset(text, 't', KEYS_TEXT_MAX + 1);
    text[KEYS_TEXT_MAX + 1] = '\0';
    p.text = text;
    assert_int_equal(keys_create(k, &p, T0, key, NULL, err, sizeof(err)), TOCSIN_EINVAL);
    free(text);
    p.text = NULL;
    /* Bounded table: the second key fits, the third does not, and its key is wiped. */
    assert_int_equal(keys_create(k, &p, T0, key, NULL, err, sizeof(err)), TOCSIN_OK);
    assert_int_equal(keys_create(k, &p, T0, key, NULL, err, sizeof(err)), TOCSIN_ETOOBIG);
    assert_string_equal(err, "too many API keys");
    assert_int_equal(key[0], '\0');
    assert_int_equal(keys_count(k), 2);
    keys_free(k);
    keys_free(NULL);
}

static void test_expiry(void **state)
{
    struct keys *k = new_keys();
    struct key_params p = {.user = "u", .expire_ms = T0 + DAY_MS};
    struct principal who;
    struct key_record rec;
    char key[KEYS_KEY_LEN + 1];

    (void)state;
    assert_int_equal(keys_create(k, &p, T0, key, &rec, NULL, 0), TOCSIN_OK);
    assert_int_equal(keys_use(k, key, T0 + DAY_MS - 1, &who), TOCSIN_OK);
    /* Alerta: valid while expireTime > now; at expireTime it has expired. */
    principal_nobody(&who);
    assert_int_equal(keys_use(k, key, T0 + DAY_MS, &who), TOCSIN_EAUTH);
    assert_string_equal(who.user, ""); /* untouched on failure */
    assert_int_equal(keys_use(k, key, T0 + 10 * DAY_MS, &who), TOCSIN_EAUTH);
    assert_true(key_record_expired(&rec, T0 + DAY_MS));
    assert_false(key_record_expired(&rec, T0 + DAY_MS - 1));
    key_record_clear(&rec);
    /* The expired use was not counted. */
    assert_int_equal(keys_find_by_key(k, key, &rec), TOCSIN_OK);
    assert_int_equal(rec.count, 1);
    key_record_clear(&rec);
    keys_free(k);
}

static void test_put_replace_delete_list(void **state)
{
    struct keys *k = new_keys();
    struct key_params p = {.user = "alice"};
    struct key_record a, b, c, *all;
    struct principal who;
    char ka[KEYS_KEY_LEN + 1], kb[KEYS_KEY_LEN + 1];
    const char *adm[] = {"admin"};
    size_t n;

    (void)state;
    assert_int_equal(keys_create(k, &p, T0, ka, &a, NULL, 0), TOCSIN_OK);
    p.user = "bob";
    assert_int_equal(keys_create(k, &p, T0, kb, &b, NULL, 0), TOCSIN_OK);
    /* Replace by id: new scopes and text take effect for the same key. */
    c = a;
    c.scopes = scopes_of(adm, 1);
    c.text = "now admin";
    assert_int_equal(keys_put(k, &c), TOCSIN_OK);
    assert_int_equal(keys_count(k), 2);
    assert_int_equal(keys_use(k, ka, T0, &who), TOCSIN_OK);
    assert_true(who.is_admin);
    assert_int_equal(keys_get(k, a.id, &c), TOCSIN_OK);
    assert_string_equal(c.text, "now admin");
    key_record_clear(&c);
    /* Another id with the same hash is refused. */
    c = a;
    memcpy(c.id, "00000000-0000-4000-8000-000000000000", 37);
    c.text = NULL;
    assert_int_equal(keys_put(k, &c), TOCSIN_EEXIST);
    /* Bad records. */
    c.id[0] = '\0';
    assert_int_equal(keys_put(k, &c), TOCSIN_EINVAL);
    c = a;
    c.text = NULL;
    c.user[0] = '\0';
    assert_int_equal(keys_put(k, &c), TOCSIN_EINVAL);
    /* List all, and by user. */
    assert_int_equal(keys_list(k, NULL, &all, &n), TOCSIN_OK);
    assert_int_equal(n, 2);
    keys_list_free(all, n);
    assert_int_equal(keys_list(k, "bob", &all, &n), TOCSIN_OK);
    assert_int_equal(n, 1);
    assert_string_equal(all[0].id, b.id);
    keys_list_free(all, n);
    assert_int_equal(keys_list(k, "carol", &all, &n), TOCSIN_OK);
    assert_int_equal(n, 0);
    assert_null(all);
    /* Delete: the key stops working at once. */
    assert_int_equal(keys_delete(k, b.id), TOCSIN_OK);
    assert_int_equal(keys_delete(k, b.id), TOCSIN_ENOTFOUND);
    assert_int_equal(keys_delete(k, NULL), TOCSIN_ENOTFOUND);
    assert_int_equal(keys_use(k, kb, T0, &who), TOCSIN_ENOTFOUND);
    assert_int_equal(keys_get(k, b.id, &c), TOCSIN_ENOTFOUND);
    assert_int_equal(keys_count(k), 1);
    key_record_clear(&a);
    key_record_clear(&b);
    keys_free(k);
}

/* Many keys: the buckets grow and every key is still found. */
static void test_many(void **state)
{
    enum { N = 1000 };
    struct keys *k = new_keys();
    struct key_params p = {.user = "bulk"};
    struct principal who;
    char(*ks)[KEYS_KEY_LEN + 1] = calloc(N, sizeof(*ks));

    (void)state;
    assert_non_null(ks);
    for (int i = 0; i < N; i++)
        assert_int_equal(keys_create(k, &p, T0, ks[i], NULL, NULL, 0), TOCSIN_OK);
    for (int i = 0; i < N; i++)
        assert_int_equal(keys_use(k, ks[i], T0, &who), TOCSIN_OK);
    assert_int_equal(keys_count(k), N);
    free(ks);
    keys_free(k);
}

static void test_json(void **state)
{
    struct keys *k = new_keys(), *k2;
    const char *list[] = {"read", "write:alerts.x"};
    struct scope_set sc = scopes_of(list, 2);
    struct key_params p = {.user = "ops", .scopes = &sc, .text = "t\"x", .customer = "acme"};
    struct key_record rec, back;
    struct principal who;
    char key[KEYS_KEY_LEN + 1], err[256], *text;
    json_t *j;

    (void)state;
    assert_int_equal(keys_create(k, &p, T0, key, &rec, NULL, 0), TOCSIN_OK);
    assert_int_equal(keys_use(k, key, T0 + 1234, &who), TOCSIN_OK);
    key_record_clear(&rec);
    assert_int_equal(keys_find_by_key(k, key, &rec), TOCSIN_OK);
    j = keys_record_to_json(&rec);
    assert_non_null(j);
    text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    /* Never the key; the hash, the times as ISO 8601. */
    assert_null(strstr(text, key));
    assert_non_null(strstr(text, "\"hash\":\""));
    assert_non_null(strstr(text, "\"expireTime\":\"2024-11-13T22:13:20.000Z\""));
    assert_non_null(strstr(text, "\"lastUsedTime\":\"2023-11-14T22:13:21.234Z\""));
    assert_non_null(strstr(text, "\"scopes\":[\"read\",\"write:alerts.x\"]"));
    assert_non_null(strstr(text, "\"type\":\"read-write\""));
    assert_non_null(strstr(text, "\"count\":1"));
    free(text);
    /* Back, and into a fresh table with the same pepper: the key works there. */
    assert_int_equal(keys_record_from_json(j, &back, err, sizeof(err)), TOCSIN_OK);
    assert_string_equal(back.id, rec.id);
    assert_memory_equal(back.hash, rec.hash, KEYS_HASH_BYTES);
    assert_string_equal(back.text, "t\"x");
    assert_int_equal(back.expire_ms, rec.expire_ms);
    assert_int_equal(back.last_used_ms, T0 + 1234);
    assert_int_equal(back.count, 1);
    assert_memory_equal(&back.scopes, &rec.scopes, sizeof(rec.scopes));
    k2 = new_keys();
    assert_int_equal(keys_put(k2, &back), TOCSIN_OK);
    assert_int_equal(keys_use(k2, key, T0, &who), TOCSIN_OK);
    assert_string_equal(who.customers[0], "acme");
    keys_free(k2);
    /* A different pepper: the stored hash matches nothing. */
    {
        uint8_t other[KEYS_PEPPER_BYTES] = {9};

        k2 = keys_new(other, 0);
        assert_non_null(k2);
        assert_int_equal(keys_put(k2, &back), TOCSIN_OK);
        assert_int_equal(keys_use(k2, key, T0, &who), TOCSIN_ENOTFOUND);
        keys_free(k2);
    }
    key_record_clear(&back);
    /* The API form: status, no hash, no key. */
    json_decref(j);
    j = keys_record_to_api_json(&rec, T0);
    text = json_dumps(j, JSON_COMPACT);
    assert_non_null(strstr(text, "\"status\":\"active\""));
    assert_null(strstr(text, "hash"));
    assert_null(strstr(text, key));
    free(text);
    json_decref(j);
    j = keys_record_to_api_json(&rec, rec.expire_ms);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "expired");
    json_decref(j);
    key_record_clear(&rec);
    keys_free(k);
}

static void expect_bad_json(const char *text, const char *field)
{
    struct key_record r;
    char err[256] = "";
    json_t *j = json_loads(text, 0, NULL);

    assert_non_null(j);
    if (keys_record_from_json(j, &r, err, sizeof(err)) != TOCSIN_EINVAL)
        fail_msg("accepted: %s", text);
    if (!strstr(err, field))
        fail_msg("error for %s does not name '%s': %s", text, field, err);
    json_decref(j);
}

#define HASH64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define GOOD_ID "\"id\":\"3c1b5d64-44a4-4c0e-9b55-2e4b5a8f6d7e\""

static void test_json_errors(void **state)
{
    struct key_record r;
    char err[256];
    json_t *j;

    (void)state;
    expect_bad_json("[]", "object");
    expect_bad_json("{\"hash\":\"" HASH64 "\"}", "id");
    expect_bad_json("{\"id\":\"x y\",\"hash\":\"" HASH64 "\"}", "id");
    expect_bad_json("{" GOOD_ID ",\"hash\":\"00\"}", "hash");
    expect_bad_json("{" GOOD_ID ",\"hash\":\"" HASH64 "\",\"user\":\"\"}", "user");
    expect_bad_json("{" GOOD_ID ",\"hash\":\"" HASH64 "\",\"user\":\"u\",\"scopes\":[\"root\"]}",
                    "root");
    expect_bad_json("{" GOOD_ID ",\"hash\":\"" HASH64
                    "\",\"user\":\"u\",\"scopes\":[],\"expireTime\":\"soon\"}",
                    "expireTime");
    expect_bad_json("{" GOOD_ID ",\"hash\":\"" HASH64
                    "\",\"user\":\"u\",\"scopes\":[],\"expireTime\":\"2030-01-01T00:00:00Z\","
                    "\"count\":-1}",
                    "count");
    expect_bad_json("{" GOOD_ID ",\"hash\":\"" HASH64
                    "\",\"user\":\"u\",\"scopes\":[],\"expireTime\":\"2030-01-01T00:00:00Z\","
                    "\"text\":5}",
                    "text");
    /* The minimum: optional fields absent or null. */
    j = json_loads("{" GOOD_ID ",\"hash\":\"" HASH64 "\",\"user\":\"u\",\"scopes\":[\"read\"],"
                   "\"expireTime\":\"2030-01-01T00:00:00Z\",\"customer\":null,"
                   "\"lastUsedTime\":null}",
                   0, NULL);
    assert_int_equal(keys_record_from_json(j, &r, err, sizeof(err)), TOCSIN_OK);
    assert_string_equal(r.customer, "");
    assert_int_equal(r.count, 0);
    assert_int_equal(r.last_used_ms, 0);
    assert_null(r.text);
    assert_string_equal(key_record_type(&r), "read-only");
    key_record_clear(&r);
    json_decref(j);
}

static void test_type_to_scopes(void **state)
{
    struct scope_set s;
    char out[64];

    (void)state;
    assert_int_equal(keys_type_to_scopes("read-write", false, &s), TOCSIN_OK);
    scope_set_format(&s, ",", out, sizeof(out));
    assert_string_equal(out, "read,write");
    assert_int_equal(keys_type_to_scopes("read-only", false, &s), TOCSIN_OK);
    scope_set_format(&s, ",", out, sizeof(out));
    assert_string_equal(out, "read");
    assert_int_equal(keys_type_to_scopes("read-only", true, &s), TOCSIN_OK);
    scope_set_format(&s, ",", out, sizeof(out));
    assert_string_equal(out, "read,write,admin");
    assert_int_equal(keys_type_to_scopes("root", false, &s), TOCSIN_EINVAL);
    assert_int_equal(keys_type_to_scopes(NULL, false, &s), TOCSIN_EINVAL);
}

static void test_pepper_file(void **state)
{
    char dir[] = "/tmp/tocsin-keys-XXXXXX", path[128], err[256];
    uint8_t a[KEYS_PEPPER_BYTES], b[KEYS_PEPPER_BYTES], zero[KEYS_PEPPER_BYTES] = {0};
    struct stat st;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/pepper", dir);
    assert_int_equal(keys_pepper_load(path, a, err, sizeof(err)), TOCSIN_OK);
    assert_memory_not_equal(a, zero, sizeof(a));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Read back the same. */
    assert_int_equal(keys_pepper_load(path, b, err, sizeof(err)), TOCSIN_OK);
    assert_memory_equal(a, b, sizeof(a));
    /* A damaged file is an error, not a new pepper. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("not hex\n", f);
    fclose(f);
    assert_int_equal(keys_pepper_load(path, b, err, sizeof(err)), TOCSIN_EINVAL);
    assert_non_null(strstr(err, "hex digits"));
    unlink(path);
    /* An unwritable place. */
    snprintf(path, sizeof(path), "%s/no/such/dir/pepper", dir);
    assert_int_equal(keys_pepper_load(path, b, err, sizeof(err)), TOCSIN_EIO);
    rmdir(dir);
}

/* ---- thread-safety smoke test ---- */

#define SMOKE_READY 64  /* keys made before the readers start */
#define SMOKE_ADDED 400 /* keys the writer adds while they read */

struct smoke {
    struct keys *k;
    char keys[SMOKE_READY][KEYS_KEY_LEN + 1];
    _Atomic int done;
    int failures;
};

static void *reader(void *arg)
{
    struct smoke *s = arg;
    struct principal who;
    int bad = 0, i = 0;

    while (!s->done || i < 2000) {
        if (keys_use(s->k, s->keys[i % SMOKE_READY], T0, &who) != TOCSIN_OK ||
            strcmp(who.user, "smoke"))
            bad++;
        i++;
    }
    return (void *)(intptr_t)bad;
}

static void test_threads(void **state)
{
    struct smoke *s = calloc(1, sizeof(*s));
    struct key_params p = {.user = "smoke"};
    struct key_record rec;
    pthread_t r1, r2;
    char key[KEYS_KEY_LEN + 1];
    void *b1, *b2;

    (void)state;
    assert_non_null(s);
    s->k = new_keys();
    for (int i = 0; i < SMOKE_READY; i++)
        assert_int_equal(keys_create(s->k, &p, T0, s->keys[i], NULL, NULL, 0), TOCSIN_OK);
    assert_int_equal(pthread_create(&r1, NULL, reader, s), 0);
    assert_int_equal(pthread_create(&r2, NULL, reader, s), 0);
    /* Adds (growing the buckets under the readers), replaces and deletes meanwhile. */
    for (int i = 0; i < SMOKE_ADDED; i++) {
        assert_int_equal(keys_create(s->k, &p, T0, key, &rec, NULL, 0), TOCSIN_OK);
        if (i % 3 == 0)
            assert_int_equal(keys_delete(s->k, rec.id), TOCSIN_OK);
        else
            assert_int_equal(keys_put(s->k, &rec), TOCSIN_OK);
        key_record_clear(&rec);
    }
    s->done = 1;
    pthread_join(r1, &b1);
    pthread_join(r2, &b2);
    assert_int_equal((intptr_t)b1, 0);
    assert_int_equal((intptr_t)b2, 0);
    assert_int_equal(keys_count(s->k), SMOKE_READY + SMOKE_ADDED - (SMOKE_ADDED + 2) / 3);
    keys_free(s->k);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_create_and_use),
        cmocka_unit_test(test_defaults_and_errors),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_put_replace_delete_list),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_type_to_scopes),
        cmocka_unit_test(test_pepper_file),
        cmocka_unit_test(test_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
