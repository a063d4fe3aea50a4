#include "daemon/nconf.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/yamlj.h"

#define MARKS_MAX (4 * NCONF_MAX_ITEMS) /* collections whose line is remembered per file */

struct seen {
    dev_t dev;
    ino_t ino;
};

/* Where the collections of the file being read start: the candidates for items. */
struct mark {
    const json_t *node;
    int line;
};

struct load {
    char **files; /* in order, owned */
    size_t nfiles;
    struct seen seen[NCONF_MAX_FILES];
    json_t *out; /* {"channels":[],"rules":[]} */
    json_t *ids; /* {"channels":{id:source},"rules":{id:source}} */
    size_t nitems;
    struct mark *marks;
    size_t nmarks, cursor;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct load *l, const char *fmt, ...)
{
    va_list ap;

    if (l->err && l->errlen) {
        va_start(ap, fmt);
        vsnprintf(l->err, l->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- finding the files --------------------------------------------------------------- */

static bool config_name(const char *name)
{
    size_t n = strlen(name);

    if (name[0] == '.')
        return false;
    return (n > 4 && !strcmp(name + n - 4, ".yml")) || (n > 5 && !strcmp(name + n - 5, ".yaml")) ||
           (n > 5 && !strcmp(name + n - 5, ".json"));
}

static int add_file(struct load *l, const char *path, const struct stat *st)
{
    char *copy;

    for (size_t i = 0; i < l->nfiles; i++)
        if (l->seen[i].dev == st->st_dev && l->seen[i].ino == st->st_ino)
            return 0; /* reached twice */
    if (l->nfiles == NCONF_MAX_FILES)
        return fail(l, "%s: more than %d config files", path, NCONF_MAX_FILES);
    if (!(copy = strdup(path)))
        return fail(l, "%s: out of memory", path);
    l->seen[l->nfiles] = (struct seen){st->st_dev, st->st_ino};
    l->files[l->nfiles++] = copy;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_dir(struct load *l, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL, path[NCONF_PATH_MAX];
    size_t n = 0, cap = 0;
    int rc = 0;

    if (!d)
        return fail(l, "%s: cannot open: %s", dir, strerror(errno));
    while (rc == 0 && (de = readdir(d))) {
        if (!config_name(de->d_name))
            continue;
        if (n == NCONF_MAX_FILES) {
            rc = fail(l, "%s: more than %d config files", dir, NCONF_MAX_FILES);
        } else if (n == cap) {
            char **nn = realloc(names, (cap ? 2 * cap : 16) * sizeof(*names));
            if (!nn)
                rc = fail(l, "%s: out of memory", dir);
            else
                names = nn, cap = cap ? 2 * cap : 16;
        }
        if (rc == 0 && !(names[n++] = strdup(de->d_name)))
            rc = fail(l, "%s: out of memory", dir);
    }
    closedir(d);
    if (rc == 0 && n)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct stat st;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path))
            rc = fail(l, "%s/%s: path too long", dir, names[i]);
        else if (stat(path, &st) != 0)
            rc = fail(l, "%s: %s", path, strerror(errno));
        else if (S_ISREG(st.st_mode))
            rc = add_file(l, path, &st);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int add_path(struct load *l, const char *path, bool from_glob)
{
    struct stat st;

    if (strnlen(path, NCONF_PATH_MAX) >= NCONF_PATH_MAX)
        return fail(l, "%.64s...: path too long", path);
    if (stat(path, &st) != 0)
        return from_glob && errno == ENOENT ? 0 : fail(l, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return add_dir(l, path);
    if (!S_ISREG(st.st_mode))
        return fail(l, "%s: not a file or a directory", path);
    return add_file(l, path, &st);
}

static int add_glob(struct load *l, const char *pattern)
{
    glob_t g;
    int r = glob(pattern, GLOB_ERR, NULL, &g), rc = 0;

    if (r == GLOB_NOMATCH)
        return 0;
    if (r != 0)
        return fail(l, "%s: %s", pattern, r == GLOB_NOSPACE ? "out of memory" : "read error");
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) /* glob sorts */
        rc = add_path(l, g.gl_pathv[i], true);
    globfree(&g);
    return rc;
}

/* ---- reading one file ---------------------------------------------------------------- */

static void on_collection(void *ud, const json_t *node, size_t depth, int line)
{
    struct load *l = ud;

    if (json_is_object(node) && (depth == 2 || depth == 3) && l->nmarks < MARKS_MAX)
        l->marks[l->nmarks++] = (struct mark){node, line};
}

/* The line an item starts at (0 if not remembered). Items are looked up in file order and
 * complete in file order, so the search goes on from where the last one was found. */
static int line_of(struct load *l, const json_t *item)
{
    for (size_t i = l->cursor; i < l->nmarks; i++) {
        if (l->marks[i].node == item) {
            l->cursor = i + 1;
            return l->marks[i].line;
        }
    }
    return 0;
}

static void file_stem(const char *file, char *out, size_t n)
{
    const char *base = strrchr(file, '/'), *dot;

    base = base ? base + 1 : file;
    dot = strrchr(base, '.');
    if (!dot || !config_name(base))
        dot = base + strlen(base);
    snprintf(out, n, "%.*s", (int)(dot - base), base);
}

static bool good_id(const char *s)
{
    size_t n = strnlen(s, NCONF_ID_MAX + 1);

    if (n == 0 || n > NCONF_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static int take_item(struct load *l, const char *file, const char *kind, size_t index, json_t *item)
{
    int line = json_is_object(item) ? line_of(l, item) : 0;
    char where[NCONF_PATH_MAX + 96], src[NCONF_PATH_MAX + 16], idbuf[NCONF_ID_MAX + 1];
    json_t *id, *known, *byid = json_object_get(l->ids, kind);

    if (line)
        snprintf(where, sizeof(where), "%s:%d: %s[%zu]", file, line, kind, index);
    else
        snprintf(where, sizeof(where), "%s: %s[%zu]", file, kind, index);
    if (!json_is_object(item))
        return fail(l, "%s: expected a mapping", where);
    if (json_object_get(item, "source"))
        return fail(l, "%s.source: set by the loader, not in files", where);
    if (++l->nitems > NCONF_MAX_ITEMS)
        return fail(l, "%s: more than %d channels and rules", where, NCONF_MAX_ITEMS);
    id = json_object_get(item, "id");
    if (!id && !strcmp(kind, "rules")) {
        char stem[NCONF_ID_MAX - 20]; /* room for "." and an index */
        file_stem(file, stem, sizeof(stem));
        if ((size_t)snprintf(idbuf, sizeof(idbuf), "%s.%zu", stem, index) >= sizeof(idbuf) ||
            !good_id(idbuf) || json_object_set_new(item, "id", json_string(idbuf)))
            return fail(l, "%s: cannot derive an id from the file name: give one", where);
        id = json_object_get(item, "id");
    }
    if (!id)
        return fail(l, "%s: a channel needs an \"id\"", where);
    if (!json_is_string(id) || !good_id(json_string_value(id)))
        return fail(l, "%s.id: a string of 1 to %d bytes without control characters expected",
                    where, NCONF_ID_MAX);
    snprintf(src, sizeof(src), line ? "%s:%d" : "%s", file, line);
    if ((known = json_object_get(byid, json_string_value(id))))
        return fail(l, "%s: id \"%s\" already defined at %s", where, json_string_value(id),
                    json_string_value(known));
    if (json_object_set_new(byid, json_string_value(id), json_string(src)) ||
        json_object_set_new(item, "source", json_string(src)) ||
        json_array_append(json_object_get(l->out, kind), item))
        return fail(l, "%s: out of memory", where);
    return 0;
}

static int take_list(struct load *l, const char *file, const char *kind, json_t *list)
{
    size_t i;
    json_t *item;

    if (!json_is_array(list))
        return fail(l, "%s: %s: expected a list", file, kind);
    json_array_foreach(list, i, item)
    {
        if (take_item(l, file, kind, i, item))
            return -1;
    }
    return 0;
}

static int load_file(struct load *l, const char *file)
{
    struct yamlj_opts o = {
        .max_bytes = NCONF_MAX_FILE_BYTES, .on_collection = on_collection, .ud = l};
    json_t *doc, *v;
    const char *key;
    int rc = 0;

    l->nmarks = l->cursor = 0;
    if (!(doc = yamlj_load_file_ex(file, &o, l->err, l->errlen)))
        return -1;
    if (json_is_array(doc)) {
        rc = take_list(l, file, "rules", doc);
    } else if (json_is_object(doc)) {
        json_object_foreach(doc, key, v)
        {
            if (strcmp(key, "channels") && strcmp(key, "rules")) {
                rc = fail(l, "%s: unknown key \"%.80s\" (expected channels, rules)", file, key);
                break;
            }
        }
        /* Channels first, whatever the order in the file: rules name them. */
        if (rc == 0 && (v = json_object_get(doc, "channels")) && !json_is_null(v))
            rc = take_list(l, file, "channels", v);
        l->cursor = 0;
        if (rc == 0 && (v = json_object_get(doc, "rules")) && !json_is_null(v))
            rc = take_list(l, file, "rules", v);
    } else if (!json_is_null(doc)) {
        rc = fail(l, "%s: expected a mapping with channels and rules, or a list of rules", file);
    }
    json_decref(doc);
    return rc;
}

json_t *nconf_load(const char *const *paths, size_t npaths, char *err, size_t errlen)
{
    struct load *l = calloc(1, sizeof(*l));
    json_t *out = NULL;
    int rc = 0;

    if (!l || !(l->files = calloc(NCONF_MAX_FILES, sizeof(*l->files))) ||
        !(l->marks = calloc(MARKS_MAX, sizeof(*l->marks))) ||
        !(l->out = json_pack("{s:[],s:[]}", "channels", "rules")) ||
        !(l->ids = json_pack("{s:{},s:{}}", "channels", "rules"))) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        goto out;
    }
    l->err = err;
    l->errlen = errlen;
    for (size_t i = 0; i < npaths && rc == 0; i++)
        rc = strpbrk(paths[i], "*?[") ? add_glob(l, paths[i]) : add_path(l, paths[i], false);
    for (size_t i = 0; i < l->nfiles && rc == 0; i++)
        rc = load_file(l, l->files[i]);
    if (rc == 0) {
        out = l->out;
        l->out = NULL;
    }
out:
    if (l) {
        for (size_t i = 0; i < l->nfiles; i++)
            free(l->files[i]);
        free(l->files);
        free(l->marks);
        json_decref(l->out);
        json_decref(l->ids);
        free(l);
    }
    return out;
}
