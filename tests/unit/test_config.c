/* Unit tests for util/config: the option table, units, YAML with file:line errors, environment,
 * flags, validation and the dump. Temporary files go under /tmp (mkstemp) and are removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/config.h"
#include "util/err.h"
#include "util/log.h"

#define HASH_A "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
#define HASH_B "$argon2id$v=19$m=65536,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNo"

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));                           \
    } while (0)

/* Writes `text` to a new file under /tmp; the name goes to path. */
static void write_tmp(char path[64], const char *text)
{
    size_t n = strlen(text);
    int fd;

    snprintf(path, 64, "/tmp/tocsin_test_config_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* Loads `text` as a config file over the defaults; returns the rc, the error in err. */
static int load_text(struct config *cfg, const char *text, char *err, size_t errlen, char path[64])
{
    int rc;

    write_tmp(path, text);
    config_defaults(cfg);
    rc = config_load_file(cfg, path, err, errlen);
    unlink(path);
    return rc;
}

/* Loads text that must fail; checks the message is "path:line: ..." and contains `needle`. */
static void expect_file_error(const char *text, int line, const char *needle)
{
    struct config cfg;
    char err[512] = "", path[64], where[96];

    assert_int_not_equal(load_text(&cfg, text, err, sizeof(err), path), 0);
    snprintf(where, sizeof(where), "%s:%d: ", path, line);
    if (strncmp(err, where, strlen(where)) != 0)
        fail_msg("\"%s\" does not start with \"%s\"", err, where);
    assert_contains(err, needle);
    config_free(&cfg);
}

static void test_defaults(void **state)
{
    struct config c;
    char err[256];

    (void)state;
    config_defaults(&c);
    assert_string_equal(c.listen, "127.0.0.1:8072");
    assert_string_equal(c.data_dir, "./data");
    assert_false(c.insecure);
    assert_int_equal(c.log_level, LOG_INFO);
    assert_int_equal(c.http_max_body, 1024 * 1024);
    assert_int_equal(c.ws_max_frame, 1024 * 1024);
    assert_int_equal(c.max_batch, 10000);
    assert_int_equal(c.max_connections, 1024);
    assert_null(c.users);
    assert_int_equal(c.nusers, 0);
    assert_int_equal(c.resolve_after_ms, 60000);
    assert_int_equal(c.engine_queue, 4096);
    assert_int_equal(c.max_keys_per_trigger, 100000);
    assert_int_equal(c.max_triggers, 100000);
    assert_int_equal(c.durability, DURABILITY_BATCH);
    assert_int_equal(c.notify_max_attempts, 30);
    assert_int_equal(c.notify_backoff_base_ms, 1000);
    assert_int_equal(c.notify_backoff_max_ms, 60000);
    assert_int_equal(c.notify_timeout_ms, 10000);
    assert_int_equal(c.notify_concurrency, 64);
    assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
    config_free(&c);
    assert_null(c.listen);
    config_free(&c); /* twice is harmless */
}

static void test_durations(void **state)
{
    static const struct {
        const char *s;
        int64_t ms;
    } good[] = {{"0", 0},        {"1500", 1500},   {"1500ms", 1500}, {"30s", 30000}, {"5m", 300000},
                {"2h", 7200000}, {"1d", 86400000}, {"0s", 0},        {"10ms", 10}};
    static const char *const bad[] = {"",
                                      "-1",
                                      "+5",
                                      "1.5s",
                                      "5x",
                                      "s",
                                      " 5s",
                                      "5 s",
                                      "5S",
                                      "5sec",
                                      "1h30m",
                                      "99999999999999999999",
                                      "9223372036854775807d"};
    int64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        v = -1;
        assert_int_equal(config_parse_duration_ms(good[i].s, &v), 0);
        assert_int_equal(v, good[i].ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (config_parse_duration_ms(bad[i], &v) == 0)
            fail_msg("duration \"%s\" was accepted", bad[i]);
}

static void test_sizes(void **state)
{
    static const struct {
        const char *s;
        size_t n;
    } good[] = {{"0", 0},           {"1048576", 1048576}, {"512k", 524288}, {"1m", 1048576},
                {"1g", 1073741824}, {"2K", 2048},         {"3M", 3145728}};
    static const char *const bad[] = {"",
                                      "-1",
                                      "1kb",
                                      "1t",
                                      "k",
                                      "1.5m",
                                      " 1m",
                                      "1m ",
                                      "+1k",
                                      "18446744073709551615k",
                                      "99999999999999999999"};
    size_t v;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        v = 1;
        assert_int_equal(config_parse_size(good[i].s, &v), 0);
        assert_int_equal(v, good[i].n);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (config_parse_size(bad[i], &v) == 0)
            fail_msg("size \"%s\" was accepted", bad[i]);
}

/* config_set must reject `value` for `name` with a message containing `needle`. */
static void expect_set_error(struct config *c, const char *name, const char *value,
                             const char *needle)
{
    char err[512] = "";

    if (config_set(c, name, value, err, sizeof(err)) == 0)
        fail_msg("%s=%s was accepted", name, value);
    assert_contains(err, needle);
}

static void test_set_scalars(void **state)
{
    static const char *const yes[] = {"true", "yes", "on", "1", "TRUE"};
    static const char *const no[] = {"false", "no", "off", "0", "False"};
    struct config c;
    char err[256];

    (void)state;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "listen", "0.0.0.0:9000", err, sizeof(err)), 0);
    assert_string_equal(c.listen, "0.0.0.0:9000");
    assert_int_equal(config_set(&c, "data", "/var/lib/tocsin", err, sizeof(err)), 0);
    assert_string_equal(c.data_dir, "/var/lib/tocsin");
    expect_set_error(&c, "data", "", "data: must not be empty");
    assert_string_equal(c.data_dir, "/var/lib/tocsin"); /* unchanged after an error */
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(config_set(&c, "insecure", yes[i], err, sizeof(err)), 0);
        assert_true(c.insecure);
        assert_int_equal(config_set(&c, "insecure", no[i], err, sizeof(err)), 0);
        assert_false(c.insecure);
    }
    expect_set_error(&c, "insecure", "maybe", "insecure: expected true or false");
    config_free(&c);
}

static void test_set_numbers(void **state)
{
    struct config c;
    char err[256];

    (void)state;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "notify.max_attempts", "5", err, sizeof(err)), 0);
    assert_int_equal(c.notify_max_attempts, 5);
    assert_int_equal(config_set(&c, "notify.max_attempts", "100", err, sizeof(err)), 0);
    expect_set_error(&c, "notify.max_attempts", "0",
                     "notify.max_attempts: 0 is out of range (1..100)");
    expect_set_error(&c, "notify.max_attempts", "101", "(1..100)");
    expect_set_error(&c, "notify.max_attempts", "-1", "expected a whole number in 1..100");
    expect_set_error(&c, "notify.max_attempts", "5x", "got '5x'");
    expect_set_error(&c, "notify.max_attempts", "1.5", "1..100");
    assert_int_equal(c.notify_max_attempts, 100);
    assert_int_equal(config_set(&c, "http.max_batch", "500", err, sizeof(err)), 0);
    assert_int_equal(c.max_batch, 500);
    expect_set_error(&c, "http.max_batch", "0", "http.max_batch");
    assert_int_equal(config_set(&c, "http.max_connections", "10", err, sizeof(err)), 0);
    assert_int_equal(c.max_connections, 10);
    assert_int_equal(config_set(&c, "engine.queue", "8", err, sizeof(err)), 0);
    assert_int_equal(c.engine_queue, 8);
    assert_int_equal(config_set(&c, "engine.max_keys_per_trigger", "7", err, sizeof(err)), 0);
    assert_int_equal(c.max_keys_per_trigger, 7);
    assert_int_equal(config_set(&c, "engine.max_triggers", "6", err, sizeof(err)), 0);
    assert_int_equal(c.max_triggers, 6);
    assert_int_equal(config_set(&c, "notify.concurrency", "4096", err, sizeof(err)), 0);
    expect_set_error(&c, "notify.concurrency", "4097", "(1..4096)");
    config_free(&c);
}

static void test_set_units(void **state)
{
    struct config c;
    char err[256];

    (void)state;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "http.max_body", "2m", err, sizeof(err)), 0);
    assert_int_equal(c.http_max_body, 2 * 1024 * 1024);
    assert_int_equal(config_set(&c, "http.max_body", "1024", err, sizeof(err)), 0);
    assert_int_equal(c.http_max_body, 1024);
    expect_set_error(&c, "http.max_body", "512", "http.max_body: 512 is out of range (1k..64m)");
    expect_set_error(&c, "http.max_body", "65m", "(1k..64m)");
    expect_set_error(&c, "http.max_body", "lots", "expected a size");
    assert_int_equal(config_set(&c, "http.max_frame", "64k", err, sizeof(err)), 0);
    assert_int_equal(c.ws_max_frame, 65536);
    assert_int_equal(config_set(&c, "notify.timeout", "1500ms", err, sizeof(err)), 0);
    assert_int_equal(c.notify_timeout_ms, 1500);
    assert_int_equal(config_set(&c, "notify.backoff_base", "2s", err, sizeof(err)), 0);
    assert_int_equal(c.notify_backoff_base_ms, 2000);
    assert_int_equal(config_set(&c, "notify.backoff_max", "1h", err, sizeof(err)), 0);
    assert_int_equal(c.notify_backoff_max_ms, 3600000);
    assert_int_equal(config_set(&c, "engine.resolve_after", "2d", err, sizeof(err)), 0);
    assert_int_equal(c.resolve_after_ms, 2 * 86400000LL);
    expect_set_error(&c, "notify.timeout", "11m",
                     "notify.timeout: 11m is out of range (100ms..10m)");
    expect_set_error(&c, "notify.timeout", "soon", "expected a duration");
    /* 0 is allowed: the first false evaluation resolves the alert. */
    assert_int_equal(config_set(&c, "engine.resolve_after", "0", err, sizeof(err)), 0);
    assert_int_equal(c.resolve_after_ms, 0);
    expect_set_error(&c, "engine.resolve_after", "31d", "(0ms..30d)");
    config_free(&c);
}

static void test_set_names(void **state)
{
    struct config c;
    char err[256];

    (void)state;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "store.durability", "sync", err, sizeof(err)), 0);
    assert_int_equal(c.durability, DURABILITY_SYNC);
    assert_int_equal(config_set(&c, "store.durability", "none", err, sizeof(err)), 0);
    assert_int_equal(c.durability, DURABILITY_NONE);
    expect_set_error(&c, "store.durability", "fast", "expected one of sync, batch, none");
    assert_int_equal(config_set(&c, "log.level", "debug", err, sizeof(err)), 0);
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_int_equal(config_set(&c, "log.level", "off", err, sizeof(err)), 0);
    assert_int_equal(c.log_level, LOG_OFF);
    expect_set_error(&c, "log.level", "verbose", "debug, info, warn, error, off");
    expect_set_error(&c, "notify.max_atempts", "5",
                     "unknown option 'notify.max_atempts' (did you mean 'notify.max_attempts'?)");
    expect_set_error(&c, "frobnicate", "5", "unknown option 'frobnicate'");
    expect_set_error(&c, "auth.users", "x", "only be set in the config file");
    assert_int_not_equal(config_set(&c, NULL, "x", err, sizeof(err)), 0);
    config_free(&c);
}

static const char nested_yaml[] =
    "# a full config\n"
    "listen: 0.0.0.0:9000\n"
    "data: /var/lib/tocsin\n"
    "insecure: false\n"
    "log:\n"
    "  level: warn\n"
    "http:\n"
    "  max_body: 2m\n"
    "  max_frame: 512k\n"
    "  max_batch: 100\n"
    "  max_connections: 50\n"
    "engine: {resolve_after: 90s, queue: 128, max_keys_per_trigger: 1000, max_triggers: 10}\n"
    "store:\n"
    "  durability: sync\n"
    "notify:\n"
    "  max_attempts: 5\n"
    "  backoff_base: 500ms\n"
    "  backoff_max: 1h\n"
    "  timeout: 30s\n"
    "  concurrency: 8\n"
    "auth:\n"
    "  users:\n"
    "    - name: alice\n"
    "      password_hash: \"" HASH_A "\"\n"
    "    - {name: bob, password_hash: '" HASH_B "'}\n";

static void test_yaml_nested(void **state)
{
    struct config c;
    char err[512] = "", path[64];

    (void)state;
    assert_int_equal(load_text(&c, nested_yaml, err, sizeof(err), path), 0);
    assert_string_equal(c.listen, "0.0.0.0:9000");
    assert_string_equal(c.data_dir, "/var/lib/tocsin");
    assert_int_equal(c.log_level, LOG_WARN);
    assert_int_equal(c.http_max_body, 2 * 1024 * 1024);
    assert_int_equal(c.ws_max_frame, 512 * 1024);
    assert_int_equal(c.max_batch, 100);
    assert_int_equal(c.max_connections, 50);
    assert_int_equal(c.resolve_after_ms, 90000);
    assert_int_equal(c.engine_queue, 128);
    assert_int_equal(c.max_keys_per_trigger, 1000);
    assert_int_equal(c.max_triggers, 10);
    assert_int_equal(c.durability, DURABILITY_SYNC);
    assert_int_equal(c.notify_max_attempts, 5);
    assert_int_equal(c.notify_backoff_base_ms, 500);
    assert_int_equal(c.notify_backoff_max_ms, 3600000);
    assert_int_equal(c.notify_timeout_ms, 30000);
    assert_int_equal(c.notify_concurrency, 8);
    assert_int_equal(c.nusers, 2);
    assert_string_equal(c.users[0].name, "alice");
    assert_string_equal(c.users[0].password_hash, HASH_A);
    assert_string_equal(c.users[1].name, "bob");
    assert_string_equal(c.users[1].password_hash, HASH_B);
    assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
    config_free(&c);
}

static void test_yaml_empty_and_comments(void **state)
{
    struct config c;
    char err[256], path[64];

    (void)state;
    assert_int_equal(load_text(&c, "", err, sizeof(err), path), 0);
    assert_string_equal(c.listen, "127.0.0.1:8072");
    config_free(&c);
    assert_int_equal(load_text(&c, "# nothing here\n\n", err, sizeof(err), path), 0);
    config_free(&c);
    assert_int_equal(load_text(&c, "---\n...\n", err, sizeof(err), path), 0);
    config_free(&c);
    assert_int_equal(load_text(&c, "http:\nnotify: {}\n", err, sizeof(err), path), 0);
    config_free(&c);
    assert_int_equal(load_text(&c,
                               "# \xe2\x9c\x93\ndata: /srv/\xc3\xa9t\xc3\xa9/\xf0\x9f\x94\x94\n",
                               err, sizeof(err), path),
                     0);
    assert_string_equal(c.data_dir, "/srv/\xc3\xa9t\xc3\xa9/\xf0\x9f\x94\x94");
    config_free(&c);
}

static void test_yaml_unknown_key_line(void **state)
{
    (void)state;
    expect_file_error("listen: 127.0.0.1:1\n"
                      "\n"
                      "# comment\n"
                      "notify:\n"
                      "  max_attempts: 3\n"
                      "  timeout: 5s\n"
                      "  max_atempts: 4\n",
                      7, "unknown option 'notify.max_atempts'");
    expect_file_error("listen: 127.0.0.1:1\nlisten_addr: x\n", 2, "unknown option 'listen_addr'");
    expect_file_error("a:\n  b:\n    c: 1\n", 1, "unknown option 'a'");
    expect_file_error("http:\n  max_body: 1m\n  nope: 1\n", 3, "unknown option 'http.nope'");
    expect_file_error("auth:\n  usres: []\n", 2, "unknown option 'auth.usres'");
}

static void test_yaml_type_error_line(void **state)
{
    (void)state;
    expect_file_error("listen: 127.0.0.1:1\nnotify:\n  timeout: 5s\n  max_attempts: lots\n", 4,
                      "notify.max_attempts: expected a whole number in 1..100, got 'lots'");
    expect_file_error("http:\n  max_body: 128m\n", 2,
                      "http.max_body: 128m is out of range (1k..64m)");
    expect_file_error("\n\ninsecure: perhaps\n", 3, "insecure: expected true or false");
    expect_file_error("store: {durability: fast}\n", 1, "store.durability: expected one of");
    expect_file_error("listen:\n  - a\n  - b\n", 2, "listen: expected a single value, got a list");
    expect_file_error("data:\n", 1, "data: missing value");
    expect_file_error("data: ./d\nlisten: 0.0.0.0:99999\n", 2, "listen: '0.0.0.0:99999' is not");
    expect_file_error("notify:\n  timeout:\n", 2, "notify.timeout: missing value");
    expect_file_error("http: 5\n", 1, "http: expected a mapping of options");
    expect_file_error("- listen\n", 1, "expected a mapping of options at the top level");
    expect_file_error("listen: &x 127.0.0.1:1\ndata: *x\n", 2,
                      "data: expected a single value, got an alias");
    expect_file_error("data: \"a\\0b\"\n", 1, "data: value contains a NUL byte");
    expect_file_error("? [a, b]\n: 1\n", 1, "option names must be plain strings");
}

/* Runs a load with stderr redirected to a file; asserts nothing was written there. */
static void expect_syntax_error_quietly(const char *text, int line, const char *needle)
{
    char cap[64] = "/tmp/tocsin_test_stderr_XXXXXX";
    int fd = mkstemp(cap), saved = dup(2);

    assert_true(fd >= 0 && saved >= 0);
    fflush(stderr);
    dup2(fd, 2);
    expect_file_error(text, line, needle);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(lseek(fd, 0, SEEK_END), 0);
    close(fd);
    unlink(cap);
}

static void test_yaml_syntax_error_line(void **state)
{
    (void)state;
    expect_syntax_error_quietly("listen: 127.0.0.1:1\ndata: ./d\nnotify: \"unterminated\n", 3,
                                "double-quoted scalar without closing quote");
    expect_syntax_error_quietly("a: b: c\n", 1, "");
    expect_syntax_error_quietly("http:\n  max_body: 1m\n  max_frame: [1, 2\n", 4, "");
    expect_syntax_error_quietly("listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n", 2, "duplicate key");
    expect_syntax_error_quietly("listen: 127.0.0.1:1\n---\ndata: x\n", 3,
                                "only one YAML document is allowed");
    /* libfyaml 0.7.12 loops forever on this one unless invalid UTF-8 is refused first. */
    expect_syntax_error_quietly("listen: 127.0.0.1:1\n%%YAML\x97\n---\n", 2, "invalid UTF-8");
    expect_syntax_error_quietly("data: \xc3\xa9t\xc3\xa9\nlisten: \xc0\xaf\n", 2, "invalid UTF-8");
    expect_syntax_error_quietly("data: \xed\xa0\x80\n", 1, "invalid UTF-8");
}

static void test_yaml_users_errors(void **state)
{
    (void)state;
    expect_file_error("auth:\n  users:\n    - name: a\n      password_hash: \"" HASH_A "\"\n"
                      "    - name: a\n      password_hash: \"" HASH_B "\"\n",
                      5, "auth.users[1]: duplicate user name 'a'");
    expect_file_error("auth:\n  users:\n    - name: a\n", 3,
                      "auth.users[0]: missing password_hash");
    expect_file_error("auth:\n  users:\n    - password_hash: \"" HASH_A "\"\n", 3,
                      "auth.users[0]: missing name");
    expect_file_error("auth:\n  users:\n    - name: a\n      password_hash: secret\n", 3,
                      "is not an argon2id hash");
    expect_file_error("auth:\n  users:\n    - name: \"a:b\"\n      password_hash: \"" HASH_A "\"\n",
                      3, "must not contain ':'");
    expect_file_error("auth:\n  users:\n    - name: a\n      password: x\n", 4,
                      "auth.users[0]: unknown key 'password'");
    expect_file_error("auth:\n  users:\n    - alice\n", 3, "auth.users[0]: expected a mapping");
    expect_file_error("auth:\n  users: alice\n", 2, "auth.users: expected a list");
    expect_file_error("auth:\n  users:\n    - name:\n      password_hash: x\n", 3,
                      "auth.users[0].name: missing value");
}

static void test_yaml_users_replace(void **state)
{
    struct config c;
    char err[512], path[64];

    (void)state;
    assert_int_equal(load_text(&c, nested_yaml, err, sizeof(err), path), 0);
    assert_int_equal(c.nusers, 2);
    write_tmp(path, "auth:\n  users: []\n");
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
    unlink(path);
    assert_int_equal(c.nusers, 0);
    assert_null(c.users);
    config_free(&c);
}

static void test_file_missing(void **state)
{
    struct config c;
    char err[256];

    (void)state;
    config_defaults(&c);
    assert_int_not_equal(config_load_file(&c, "/nonexistent/tocsin.yaml", err, sizeof(err)), 0);
    assert_contains(err, "/nonexistent/tocsin.yaml: cannot open: No such file or directory");
    config_free(&c);
}

static void test_env_beats_file_and_set_beats_env(void **state)
{
    struct config c;
    char err[512] = "", path[64];

    (void)state;
    assert_int_equal(load_text(&c, "notify:\n  max_attempts: 5\nhttp:\n  max_body: 4k\n", err,
                               sizeof(err), path),
                     0);
    assert_int_equal(c.notify_max_attempts, 5);
    setenv("TOCSIN_NOTIFY_MAX_ATTEMPTS", "7", 1);
    setenv("TOCSIN_HTTP_MAX_BODY", "2m", 1);
    setenv("TOCSIN_LISTEN", "127.0.0.2:1234", 1);
    setenv("TOCSIN_DATA", "/srv/tocsin", 1);
    setenv("TOCSIN_STORE_DURABILITY", "none", 1);
    assert_int_equal(config_load_env(&c, err, sizeof(err)), 0);
    assert_int_equal(c.notify_max_attempts, 7);
    assert_int_equal(c.http_max_body, 2 * 1024 * 1024);
    assert_string_equal(c.listen, "127.0.0.2:1234");
    assert_string_equal(c.data_dir, "/srv/tocsin");
    assert_int_equal(c.durability, DURABILITY_NONE);
    assert_int_equal(config_set(&c, "notify.max_attempts", "9", err, sizeof(err)), 0);
    assert_int_equal(c.notify_max_attempts, 9);
    setenv("TOCSIN_NOTIFY_MAX_ATTEMPTS", "500", 1);
    assert_int_not_equal(config_load_env(&c, err, sizeof(err)), 0);
    assert_contains(err, "env TOCSIN_NOTIFY_MAX_ATTEMPTS: notify.max_attempts: 500 is out of "
                         "range (1..100)");
    unsetenv("TOCSIN_NOTIFY_MAX_ATTEMPTS");
    unsetenv("TOCSIN_HTTP_MAX_BODY");
    unsetenv("TOCSIN_LISTEN");
    unsetenv("TOCSIN_DATA");
    unsetenv("TOCSIN_STORE_DURABILITY");
    config_free(&c);
}

static void add_user(struct config *c, const char *name, const char *hash)
{
    c->users = realloc(c->users, (c->nusers + 1) * sizeof(*c->users));
    assert_non_null(c->users);
    memset(&c->users[c->nusers], 0, sizeof(*c->users)); /* no scopes, customers or admin */
    c->users[c->nusers].name = strdup(name);
    c->users[c->nusers].password_hash = strdup(hash);
    c->nusers++;
}

static void test_validate(void **state)
{
    struct config c;
    char err[512] = "";

    (void)state;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "listen", "0.0.0.0:8072", err, sizeof(err)), 0);
    assert_int_not_equal(config_validate(&c, err, sizeof(err)), 0);
    assert_string_equal(err, "refusing to listen on 0.0.0.0:8072 without authentication: "
                             "configure auth.users or pass --insecure");
    assert_int_equal(config_set(&c, "insecure", "true", err, sizeof(err)), 0);
    assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "insecure", "false", err, sizeof(err)), 0);
    add_user(&c, "alice", HASH_A);
    assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
    add_user(&c, "alice", HASH_B);
    assert_int_not_equal(config_validate(&c, err, sizeof(err)), 0);
    assert_contains(err, "duplicate user name 'alice'");
    free(c.users[1].name);
    c.users[1].name = strdup("bob");
    free(c.users[1].password_hash);
    c.users[1].password_hash = strdup("$2y$10$bcrypt");
    assert_int_not_equal(config_validate(&c, err, sizeof(err)), 0);
    assert_contains(err, "auth.users[1]: password_hash of user 'bob' is not an argon2id hash");
    config_free(&c);

    config_defaults(&c);
    expect_set_error(&c, "listen", "nowhere", "listen: 'nowhere' is not host:port");
    free(c.listen); /* set behind the table's back: validate still checks it */
    c.listen = strdup("nowhere:80");
    assert_int_not_equal(config_validate(&c, err, sizeof(err)), 0);
    assert_contains(err, "listen: 'nowhere:80' is not host:port");
    assert_int_equal(config_set(&c, "listen", "127.0.0.1:0", err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "notify.backoff_base", "10m", err, sizeof(err)), 0);
    assert_int_not_equal(config_validate(&c, err, sizeof(err)), 0);
    assert_contains(err, "notify.backoff_max (1m) must not be less than notify.backoff_base (10m)");
    config_free(&c);
}

static void test_loopback(void **state)
{
    static const char *const yes[] = {"127.0.0.1:8072", "127.1.2.3:1", "localhost:80",
                                      "LOCALHOST:80",   "[::1]:8072",  "[::ffff:127.0.0.1]:1"};
    static const char *const no[] = {"0.0.0.0:8072",  "10.0.0.1:80",     "[::]:8072",
                                     "192.168.1.1:1", "[2001:db8::1]:1", "nohost",
                                     "127.0.0.1",     "example.com:80",  "128.0.0.1:1"};

    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!config_listen_is_loopback(yes[i]))
            fail_msg("%s is not seen as loopback", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (config_listen_is_loopback(no[i]))
            fail_msg("%s is seen as loopback", no[i]);
}

static void test_listen_split(void **state)
{
    static const char *const bad[] = {
        "",           "8072",           ":8072",   "1.2.3.4:",   "1.2.3.4:x", "1.2.3.4:65536",
        "1.2.3.4:-1", "::1:80",         "[::1]80", "[::1]:",     "[zz]:80",   "host:80",
        "1.2.3:80",   "1.2.3.4:123456", "[]:80",   "1.2.3.4:+80"};
    char host[64];
    unsigned port = 0;

    (void)state;
    assert_int_equal(config_listen_split("0.0.0.0:8072", host, sizeof(host), &port), 0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(port, 8072);
    assert_int_equal(config_listen_split("[::1]:65535", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 65535);
    assert_int_equal(config_listen_split("localhost:0", host, sizeof(host), &port), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 0);
    assert_int_equal(config_listen_split("127.0.0.1:80", NULL, 0, NULL), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (config_listen_split(bad[i], host, sizeof(host), &port) == 0)
            fail_msg("listen \"%s\" was accepted", bad[i]);
}

static void test_user_check(void **state)
{
    char err[512], longname[CONFIG_USER_NAME_MAX + 2];

    (void)state;
    assert_int_equal(config_user_check("alice", HASH_A, err, sizeof(err)), 0);
    assert_int_not_equal(config_user_check("", HASH_A, err, sizeof(err)), 0);
    assert_contains(err, "must not be empty");
    assert_int_not_equal(config_user_check("a:b", HASH_A, err, sizeof(err)), 0);
    assert_int_not_equal(config_user_check("a\nb", HASH_A, err, sizeof(err)), 0);
    assert_int_not_equal(config_user_check("a", "$argon2i$v=19$x", err, sizeof(err)), 0);
    assert_int_not_equal(config_user_check("a", NULL, err, sizeof(err)), 0);
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_not_equal(config_user_check(longname, HASH_A, err, sizeof(err)), 0);
}

/* Every field, for the dump round trip. */
static void assert_same_config(const struct config *a, const struct config *b)
{
    assert_string_equal(a->listen, b->listen);
    assert_string_equal(a->data_dir, b->data_dir);
    assert_int_equal(a->insecure, b->insecure);
    assert_int_equal(a->log_level, b->log_level);
    assert_int_equal(a->http_max_body, b->http_max_body);
    assert_int_equal(a->ws_max_frame, b->ws_max_frame);
    assert_int_equal(a->max_batch, b->max_batch);
    assert_int_equal(a->max_connections, b->max_connections);
    assert_int_equal(a->resolve_after_ms, b->resolve_after_ms);
    assert_int_equal(a->engine_queue, b->engine_queue);
    assert_int_equal(a->max_keys_per_trigger, b->max_keys_per_trigger);
    assert_int_equal(a->max_triggers, b->max_triggers);
    assert_int_equal(a->durability, b->durability);
    assert_int_equal(a->notify_max_attempts, b->notify_max_attempts);
    assert_int_equal(a->notify_backoff_base_ms, b->notify_backoff_base_ms);
    assert_int_equal(a->notify_backoff_max_ms, b->notify_backoff_max_ms);
    assert_int_equal(a->notify_timeout_ms, b->notify_timeout_ms);
    assert_int_equal(a->notify_concurrency, b->notify_concurrency);
}

static void test_dump_round_trip(void **state)
{
    struct config a, b;
    char err[512] = "", path[64], *text = NULL;
    size_t len = 0;
    FILE *f;

    (void)state;
    assert_int_equal(load_text(&a, nested_yaml, err, sizeof(err), path), 0);
    assert_int_equal(
        config_set(&a, "data", "dir with \"quotes\" and \\ and\ttab", err, sizeof(err)), 0);
    assert_int_equal(config_set(&a, "notify.timeout", "1001ms", err, sizeof(err)), 0);
    f = open_memstream(&text, &len);
    assert_non_null(f);
    config_write(&a, f);
    fclose(f);
    assert_contains(text, "password_hash: \"<redacted>\"");
    assert_contains(text, "  max_body: 2m\n");
    assert_contains(text, "  timeout: 1001ms\n");
    assert_null(strstr(text, HASH_A));
    /* Without the users (their hashes are redacted) the dump loads back to the same config. */
    *strstr(text, "auth:") = '\0';
    assert_int_equal(load_text(&b, text, err, sizeof(err), path), 0);
    assert_same_config(&a, &b);
    free(text);
    config_free(&a);
    config_free(&b);
}

/* The commented example config sets every option to its default. Run from the repo root. */
static void test_example_file(void **state)
{
    struct config a, b;
    char err[512] = "";

    (void)state;
    config_defaults(&a);
    config_defaults(&b);
    assert_int_equal(config_set(&b, "listen", "127.0.0.9:1", err, sizeof(err)), 0);
    if (config_load_file(&b, "examples/tocsin.yaml", err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_same_config(&a, &b);
    assert_int_equal(b.nusers, 0);
    assert_int_equal(config_validate(&b, err, sizeof(err)), 0);
    config_free(&a);
    config_free(&b);
}

static void test_reload_check(void **state)
{
    struct config a, b;
    char err[256];

    (void)state;
    config_defaults(&a);
    config_defaults(&b);
    assert_int_equal(config_reload_check(&a, &b, err, sizeof(err)), 0);
    assert_int_equal(config_set(&b, "log.level", "debug", err, sizeof(err)), 0);
    assert_int_equal(config_set(&b, "notify.max_attempts", "3", err, sizeof(err)), 0);
    add_user(&b, "alice", HASH_A);
    assert_int_equal(config_reload_check(&a, &b, err, sizeof(err)), 0);
    assert_int_equal(config_set(&b, "listen", "127.0.0.1:9", err, sizeof(err)), 0);
    assert_int_equal(config_reload_check(&a, &b, err, sizeof(err)), TOCSIN_ECONFLICT);
    assert_contains(err, "listen cannot be changed by a reload");
    assert_int_equal(config_set(&b, "listen", a.listen, err, sizeof(err)), 0);
    assert_int_equal(config_set(&b, "http.max_body", "2m", err, sizeof(err)), 0);
    assert_int_equal(config_reload_check(&a, &b, err, sizeof(err)), TOCSIN_ECONFLICT);
    assert_contains(err, "http.max_body");
    config_free(&a);
    config_free(&b);
}

static void test_help_lists_everything(void **state)
{
    static const char *const names[] = {"listen (TOCSIN_LISTEN)",
                                        "data (TOCSIN_DATA)",
                                        "insecure",
                                        "log.level",
                                        "http.max_body (TOCSIN_HTTP_MAX_BODY)",
                                        "http.max_frame",
                                        "http.max_batch",
                                        "http.max_connections",
                                        "engine.resolve_after",
                                        "engine.queue",
                                        "engine.max_keys_per_trigger",
                                        "engine.max_triggers",
                                        "store.durability",
                                        "notify.max_attempts (TOCSIN_NOTIFY_MAX_ATTEMPTS)",
                                        "notify.backoff_base",
                                        "notify.backoff_max",
                                        "notify.timeout",
                                        "notify.concurrency",
                                        "notify.keep",
                                        "notify.files",
                                        "notify.base_url",
                                        "auth.users"};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    (void)state;
    assert_non_null(f);
    config_help(f);
    fclose(f);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_contains(text, names[i]);
    assert_contains(text, "size 1k..64m, default 1m");
    assert_contains(text, "integer 1..100, default 30\n");
    assert_contains(text, "one of sync|batch|none, default batch");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_set_scalars),
        cmocka_unit_test(test_set_numbers),
        cmocka_unit_test(test_set_units),
        cmocka_unit_test(test_set_names),
        cmocka_unit_test(test_yaml_nested),
        cmocka_unit_test(test_yaml_empty_and_comments),
        cmocka_unit_test(test_yaml_unknown_key_line),
        cmocka_unit_test(test_yaml_type_error_line),
        cmocka_unit_test(test_yaml_syntax_error_line),
        cmocka_unit_test(test_yaml_users_errors),
        cmocka_unit_test(test_yaml_users_replace),
        cmocka_unit_test(test_file_missing),
        cmocka_unit_test(test_env_beats_file_and_set_beats_env),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_listen_split),
        cmocka_unit_test(test_user_check),
        cmocka_unit_test(test_dump_round_trip),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_reload_check),
        cmocka_unit_test(test_help_lists_everything),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
