/* Unit tests for daemon/nconf: files, directories and globs in a temp dir, the two file
 * shapes, "source" with lines, derived rule ids, ids unique across files, and shape errors that
 * name the file, line and item. */
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

#include "daemon/nconf.h"

struct tmp {
    char dir[64];
    char files[16][256];
    size_t n;
};

static char err[1024];

static const char *put(struct tmp *t, const char *name, const char *text)
{
    char buf[256], *path = NULL;
    FILE *f;

    snprintf(buf, sizeof(buf), "%s/%s", t->dir, name);
    for (size_t i = 0; i < t->n && !path; i++)
        if (!strcmp(t->files[i], buf))
            path = t->files[i]; /* rewritten */
    if (!path) {
        assert_true(t->n < 16);
        path = t->files[t->n++];
        memcpy(path, buf, sizeof(buf));
    }
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));

    snprintf(t->dir, sizeof(t->dir), "/tmp/tocsin-nconf-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tmp *t = *state;

    for (size_t i = t->n; i-- > 0;) {
        if (unlink(t->files[i]) != 0)
            rmdir(t->files[i]);
    }
    rmdir(t->dir);
    free(t);
    return 0;
}

static json_t *item(json_t *conf, const char *kind, size_t i)
{
    return json_array_get(json_object_get(conf, kind), i);
}

static const char *sget(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_directory(void **state)
{
    struct tmp *t = *state;
    const char *paths[1] = {t->dir};
    char src[320];
    json_t *c;

    put(t, "b.yaml", "rules:\n  - id: r2\n    on: [create]\n    channels: [c1]\n");
    put(t, "a.yml",
        "# comment\nrules:\n  - id: r1\n    on: [resolve]\n"
        "channels:\n  - id: c1\n    type: webhook\n    config: {url: \"http://x\"}\n");
    put(t, "c.json", "[{\"id\":\"r3\",\"on\":[\"ack\"]}]");
    put(t, "notes.txt", "not: [config");
    put(t, ".hidden.yml", "rules: [{id: r1}]");
    c = nconf_load(paths, 1, err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(json_array_size(json_object_get(c, "channels")), 1);
    assert_int_equal(json_array_size(json_object_get(c, "rules")), 3);
    /* Files in name order; channels of a file before its rules. */
    assert_string_equal(sget(item(c, "rules", 0), "id"), "r1");
    assert_string_equal(sget(item(c, "rules", 1), "id"), "r2");
    assert_string_equal(sget(item(c, "rules", 2), "id"), "r3");
    snprintf(src, sizeof(src), "%s/a.yml:3", t->dir);
    assert_string_equal(sget(item(c, "rules", 0), "source"), src);
    snprintf(src, sizeof(src), "%s/a.yml:6", t->dir);
    assert_string_equal(sget(item(c, "channels", 0), "source"), src);
    snprintf(src, sizeof(src), "%s/c.json:1", t->dir);
    assert_string_equal(sget(item(c, "rules", 2), "source"), src);
    assert_string_equal(sget(json_object_get(item(c, "channels", 0), "config"), "url"), "http://x");
    json_decref(c);
}

static void test_globs_and_files(void **state)
{
    struct tmp *t = *state;
    char pat[128], sub[128];
    const char *paths[3];
    json_t *c;

    snprintf(sub, sizeof(sub), "%s/d", t->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    memcpy(t->files[t->n++], sub, sizeof(sub));
    put(t, "d/x.yml", "- id: rx\n");
    put(t, "one.yml", "- id: r1\n- on: [create]\n");
    put(t, "two.yml", "- id: r2\n");
    snprintf(pat, sizeof(pat), "%s/*.yml", t->dir);
    paths[0] = pat;
    paths[1] = t->files[t->n - 2]; /* one.yml again: read once */
    paths[2] = sub;
    c = nconf_load(paths, 3, err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(json_array_size(json_object_get(c, "rules")), 4);
    assert_string_equal(sget(item(c, "rules", 0), "id"), "r1");
    assert_string_equal(sget(item(c, "rules", 1), "id"), "one.1"); /* derived */
    assert_string_equal(sget(item(c, "rules", 2), "id"), "r2");
    assert_string_equal(sget(item(c, "rules", 3), "id"), "rx");
    json_decref(c);
    /* A glob that matches nothing adds nothing; a missing plain path is an error. */
    snprintf(pat, sizeof(pat), "%s/*.nothing", t->dir);
    c = nconf_load(paths, 1, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(json_array_size(json_object_get(c, "rules")), 0);
    json_decref(c);
    snprintf(pat, sizeof(pat), "%s/missing.yml", t->dir);
    assert_null(nconf_load(paths, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "missing.yml: No such file"));
    /* Nothing to load is an empty config. */
    c = nconf_load(NULL, 0, err, sizeof(err));
    assert_non_null(c);
    json_decref(c);
}

static void test_duplicate_ids(void **state)
{
    struct tmp *t = *state;
    const char *paths[1] = {t->dir};
    char want[400];

    put(t, "a.yml", "channels:\n  - id: slack-ops\n    type: slack\n");
    put(t, "b.yml", "rules: [{id: r1}]\nchannels:\n\n  - id: slack-ops\n    type: x\n");
    assert_null(nconf_load(paths, 1, err, sizeof(err)));
    snprintf(want, sizeof(want),
             "%s/b.yml:4: channels[0]: id \"slack-ops\" already defined at %s/a.yml:2", t->dir,
             t->dir);
    assert_string_equal(err, want);
    /* The same id for a rule and a channel is fine: separate kinds. */
    put(t, "b.yml", "rules: [{id: slack-ops}]\n");
    {
        json_t *c = nconf_load(paths, 1, err, sizeof(err));
        assert_non_null(c);
        json_decref(c);
    }
    /* A derived id that collides with an explicit one. */
    put(t, "c.yml", "- id: c.1\n- {}\n");
    assert_null(nconf_load(paths, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "c.yml:2: rules[1]: id \"c.1\" already defined at"));
}

static void expect_error(struct tmp *t, const char *text, const char *msg)
{
    const char *path = put(t, "bad.yml", text);
    const char *paths[1] = {path};

    if (nconf_load(paths, 1, err, sizeof(err)))
        fail_msg("%s: loaded, expected %s", text, msg);
    if (strncmp(err, path, strlen(path)) || !strstr(err, msg))
        fail_msg("%s: error \"%s\", expected the file and \"%s\"", text, err, msg);
    t->n--;
    unlink(path);
}

static void test_shape_errors(void **state)
{
    struct tmp *t = *state;

    expect_error(t, "rules:\n  - id: a\n  - id: b\n  - id: c\n  - 42\n",
                 ": rules[3]: expected a mapping");
    expect_error(t, "rules:\n  - id: a\n  - id: b\n  - id: c\n  - on: [x]\n    id: [1]\n",
                 ":5: rules[3].id: a string");
    expect_error(t, "channels:\n  - type: webhook\n", ":2: channels[0]: a channel needs an \"id\"");
    expect_error(t, "rules: {id: a}\n", "rules: expected a list");
    expect_error(t, "routes: []\n", "unknown key \"routes\"");
    expect_error(t, "just text\n", "expected a mapping with channels and rules");
    expect_error(t, "- id: a\n  source: here\n", "rules[0].source: set by the loader");
    expect_error(t, "- id: \"\"\n", "rules[0].id");
    expect_error(t, "- id: a\n  on: [x\n", ":3:"); /* a YAML error with its position */
    expect_error(t, "- id: a\n  id: b\n", "2:3: duplicate key");
    /* Empty files are fine. */
    {
        const char *p = put(t, "empty.yml", "");
        const char *paths[1] = {p};
        json_t *c = nconf_load(paths, 1, err, sizeof(err));
        assert_non_null(c);
        json_decref(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_globs_and_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shape_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
