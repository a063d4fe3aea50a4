#include "net/scope.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

#define NONE (-1) /* a bare verb has no resource */

static const char *const verbs[SCOPE_NVERBS] = {[SCOPE_READ] = "read",
                                                [SCOPE_WRITE] = "write",
                                                [SCOPE_DELETE] = "delete",
                                                [SCOPE_ADMIN] = "admin"};

static const char *const resources[SCOPE_NRES] = {
    [SCOPE_ALERTS] = "alerts",         [SCOPE_BLACKOUTS] = "blackouts",
    [SCOPE_HEARTBEATS] = "heartbeats", [SCOPE_USERS] = "users",
    [SCOPE_GROUPS] = "groups",         [SCOPE_PERMS] = "perms",
    [SCOPE_CUSTOMERS] = "customers",   [SCOPE_KEYS] = "keys",
    [SCOPE_WEBHOOKS] = "webhooks",     [SCOPE_MANAGEMENT] = "management",
    [SCOPE_OEMBED] = "oembed",         [SCOPE_USERINFO] = "userinfo",
    [SCOPE_FILTERS] = "filters",       [SCOPE_TRIGGERS] = "triggers",
    [SCOPE_EVENTS] = "events",         [SCOPE_NOTIFICATIONS] = "notifications",
    [SCOPE_CHANNELS] = "channels",     [SCOPE_RULES] = "rules",
};

/* The bare verbs; "delete" alone is not one of Alerta's scopes. */
static const int bare_verbs[] = {SCOPE_READ, SCOPE_WRITE, SCOPE_ADMIN};

/* One scope, parsed. */
struct parsed {
    int verb;
    int res; /* NONE for a bare verb */
    char type[SCOPE_TYPE_MAX + 1];
};

void net_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tocsin_vseterr(err, errlen, fmt, ap);
    va_end(ap);
}

static uint8_t bit(int verb)
{
    return (uint8_t)(1u << verb);
}

static int lookup(const char *const *names, int n, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && !memcmp(names[i], s, len))
            return i;
    return NONE;
}

static bool is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* "verb", "verb:resource" or "verb:resource.type" (Alerta's custom-scope pattern
 * (admin|write|read|delete):(\w+)(\.\w+)?, with the resource one of ours). */
static bool parse(const char *s, struct parsed *p)
{
    const char *colon, *res, *dot;
    size_t len;

    if (!s)
        return false;
    len = strnlen(s, SCOPE_STR_MAX + 1);
    if (len == 0 || len > SCOPE_STR_MAX)
        return false;
    memset(p, 0, sizeof(*p));
    colon = memchr(s, ':', len);
    p->verb = lookup(verbs, SCOPE_NVERBS, s, colon ? (size_t)(colon - s) : len);
    p->res = NONE;
    if (p->verb == NONE)
        return false;
    if (!colon)
        return p->verb != SCOPE_DELETE;
    res = colon + 1;
    dot = memchr(res, '.', len - (size_t)(res - s));
    p->res = lookup(resources, SCOPE_NRES, res, dot ? (size_t)(dot - res) : strlen(res));
    if (p->res == NONE)
        return false;
    if (!dot)
        return true;
    len = strlen(dot + 1);
    if (len == 0 || len > SCOPE_TYPE_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_word_char(dot[1 + i]))
            return false;
    memcpy(p->type, dot + 1, len + 1);
    return true;
}

static int find_custom(const struct scope_set *s, int verb, int res, const char *type)
{
    for (int i = 0; i < s->ncustom; i++)
        if (s->custom[i].verb == verb && s->custom[i].res == res &&
            !strcmp(s->custom[i].type, type))
            return i;
    return NONE;
}

/* Exact membership of a parsed scope. */
static bool holds(const struct scope_set *s, int verb, const struct parsed *p)
{
    if (p->res == NONE)
        return (s->bare & bit(verb)) != 0;
    if (!p->type[0])
        return (s->res[p->res] & bit(verb)) != 0;
    return find_custom(s, verb, p->res, p->type) != NONE;
}

static int put(struct scope_set *s, const struct parsed *p)
{
    struct scope_custom *c;

    if (holds(s, p->verb, p))
        return TOCSIN_OK;
    if (p->res == NONE) {
        s->bare |= bit(p->verb);
    } else if (!p->type[0]) {
        s->res[p->res] |= bit(p->verb);
    } else {
        if (s->ncustom >= SCOPE_MAX_CUSTOM)
            return TOCSIN_ETOOBIG;
        c = &s->custom[s->ncustom++];
        c->verb = (uint8_t)p->verb;
        c->res = (uint8_t)p->res;
        memcpy(c->type, p->type, sizeof(c->type));
    }
    return TOCSIN_OK;
}

void scope_set_clear(struct scope_set *s)
{
    memset(s, 0, sizeof(*s));
}

bool scope_set_empty(const struct scope_set *s)
{
    if (s->bare || s->ncustom)
        return false;
    for (int r = 0; r < SCOPE_NRES; r++)
        if (s->res[r])
            return false;
    return true;
}

int scope_set_add(struct scope_set *s, const char *scope, char *err, size_t errlen)
{
    struct parsed p;

    if (!parse(scope, &p)) {
        net_seterr(err, errlen,
               "unknown scope '%.*s' (expected read, write, admin or "
               "read|write|delete|admin:resource[.type])",
               SCOPE_STR_MAX, scope ? scope : "");
        return TOCSIN_EINVAL;
    }
    if (put(s, &p) != TOCSIN_OK) {
        net_seterr(err, errlen, "scope '%s': more than %d scopes with a .type", scope,
               SCOPE_MAX_CUSTOM);
        return TOCSIN_ETOOBIG;
    }
    return TOCSIN_OK;
}

int scope_set_parse_list(struct scope_set *s, const char *const *scopes, size_t n, char *err,
                         size_t errlen)
{
    struct scope_set tmp = *s;
    int rc;

    if (n > SCOPE_MAX_LIST) {
        net_seterr(err, errlen, "more than %d scopes", SCOPE_MAX_LIST);
        return TOCSIN_ETOOBIG;
    }
    for (size_t i = 0; i < n; i++) {
        rc = scope_set_add(&tmp, scopes[i], err, errlen);
        if (rc != TOCSIN_OK)
            return rc;
    }
    *s = tmp;
    return TOCSIN_OK;
}

int scope_set_parse_json(struct scope_set *s, const json_t *array, char *err, size_t errlen)
{
    struct scope_set tmp = *s;
    size_t i;
    json_t *v;
    int rc;

    if (!json_is_array(array)) {
        net_seterr(err, errlen, "scopes must be a list of strings");
        return TOCSIN_EINVAL;
    }
    if (json_array_size(array) > SCOPE_MAX_LIST) {
        net_seterr(err, errlen, "more than %d scopes", SCOPE_MAX_LIST);
        return TOCSIN_ETOOBIG;
    }
    json_array_foreach(array, i, v)
    {
        if (!json_is_string(v)) {
            net_seterr(err, errlen, "scopes must be a list of strings");
            return TOCSIN_EINVAL;
        }
        rc = scope_set_add(&tmp, json_string_value(v), err, errlen);
        if (rc != TOCSIN_OK)
            return rc;
    }
    *s = tmp;
    return TOCSIN_OK;
}

void scope_set_union(struct scope_set *dst, const struct scope_set *src)
{
    dst->bare |= src->bare;
    for (int r = 0; r < SCOPE_NRES; r++)
        dst->res[r] |= src->res[r];
    for (int i = 0; i < src->ncustom; i++) {
        struct parsed p = {.verb = src->custom[i].verb, .res = src->custom[i].res};

        memcpy(p.type, src->custom[i].type, sizeof(p.type));
        (void)put(dst, &p); /* past SCOPE_MAX_CUSTOM the rest is dropped: grants less, not more */
    }
}

bool scope_set_has(const struct scope_set *s, const char *scope)
{
    struct parsed p;

    return parse(scope, &p) && holds(s, p.verb, &p);
}

bool scope_set_is_admin(const struct scope_set *s)
{
    return (s->bare & bit(SCOPE_ADMIN)) != 0;
}

bool scope_set_is_read_write(const struct scope_set *s)
{
    uint8_t rw = bit(SCOPE_WRITE) | bit(SCOPE_ADMIN);

    if (s->bare & rw)
        return true;
    for (int r = 0; r < SCOPE_NRES; r++)
        if (s->res[r] & rw)
            return true;
    for (int i = 0; i < s->ncustom; i++)
        if (bit(s->custom[i].verb) & rw)
            return true;
    return false;
}

/* The implication chain of Alerta's is_in_scope: at each step the wanted verb is granted by
 * itself on the same resource[.type], or by the bare verb; otherwise the next stronger verb is
 * tried. */
static bool allows_parsed(const struct scope_set *g, const struct parsed *want,
                          const struct scope_set *admin_deletes)
{
    int verb = want->verb;

    for (;;) {
        if ((g->bare & bit(verb)) || holds(g, verb, want))
            return true;
        switch (verb) {
        case SCOPE_READ:
            verb = SCOPE_WRITE;
            break;
        case SCOPE_WRITE:
            verb = SCOPE_ADMIN;
            break;
        case SCOPE_DELETE:
            verb = admin_deletes && holds(admin_deletes, SCOPE_DELETE, want) ? SCOPE_ADMIN
                                                                             : SCOPE_WRITE;
            break;
        default:
            return false;
        }
    }
}

bool scope_allows_ex(const struct scope_set *granted, const char *needed,
                     const struct scope_set *admin_deletes)
{
    struct parsed p;

    if (!needed || !*needed)
        return true;
    return granted && parse(needed, &p) && allows_parsed(granted, &p, admin_deletes);
}

bool scope_allows(const struct scope_set *granted, const char *needed)
{
    return scope_allows_ex(granted, needed, NULL);
}

/* ---- enumeration ---------------------------------------------------------------------- */

int scope_set_each(const struct scope_set *s, int (*fn)(void *ud, const char *scope), void *ud)
{
    char buf[SCOPE_STR_MAX + 1];
    int rc;

    for (size_t i = 0; i < sizeof(bare_verbs) / sizeof(bare_verbs[0]); i++)
        if ((s->bare & bit(bare_verbs[i])) && (rc = fn(ud, verbs[bare_verbs[i]])) != 0)
            return rc;
    for (int r = 0; r < SCOPE_NRES; r++) {
        for (int v = 0; v < SCOPE_NVERBS; v++) { /* read, write, delete, admin */
            if (!(s->res[r] & bit(v)))
                continue;
            snprintf(buf, sizeof(buf), "%s:%s", verbs[v], resources[r]);
            if ((rc = fn(ud, buf)) != 0)
                return rc;
        }
    }
    for (int i = 0; i < s->ncustom; i++) {
        const struct scope_custom *c = &s->custom[i];

        snprintf(buf, sizeof(buf), "%s:%s.%s", verbs[c->verb], resources[c->res], c->type);
        if ((rc = fn(ud, buf)) != 0)
            return rc;
    }
    return 0;
}

struct fmt {
    const char *sep;
    char *out;
    size_t outlen, len;
};

static int fmt_one(void *ud, const char *scope)
{
    struct fmt *f = ud;
    bool room = f->len < f->outlen;
    int n = snprintf(room ? f->out + f->len : NULL, room ? f->outlen - f->len : 0, "%s%s",
                     f->len ? f->sep : "", scope);

    f->len += n > 0 ? (size_t)n : 0;
    return 0;
}

size_t scope_set_format(const struct scope_set *s, const char *sep, char *out, size_t outlen)
{
    struct fmt f = {.sep = sep ? sep : ",", .out = out, .outlen = outlen};

    if (outlen)
        out[0] = '\0';
    scope_set_each(s, fmt_one, &f);
    return f.len;
}

static int json_one(void *ud, const char *scope)
{
    return json_array_append_new(ud, json_string(scope)) ? -1 : 0;
}

json_t *scope_set_to_json(const struct scope_set *s)
{
    json_t *a = json_array();

    if (a && scope_set_each(s, json_one, a) != 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

struct within {
    const struct scope_set *have, *admin_deletes;
    char *denied;
    size_t deniedlen;
};

static int within_one(void *ud, const char *scope)
{
    struct within *w = ud;

    if (scope_allows_ex(w->have, scope, w->admin_deletes))
        return 0;
    if (w->denied && w->deniedlen)
        snprintf(w->denied, w->deniedlen, "%s", scope);
    return 1;
}

bool scope_set_within(const struct scope_set *want, const struct scope_set *have,
                      const struct scope_set *admin_deletes, char *denied, size_t deniedlen)
{
    struct within w = {have, admin_deletes, denied, deniedlen};

    return scope_set_each(want, within_one, &w) == 0;
}

const char *scope_verb_name(enum scope_verb v)
{
    return (unsigned)v < SCOPE_NVERBS ? verbs[v] : "?";
}

const char *scope_res_name(enum scope_res r)
{
    return (unsigned)r < SCOPE_NRES ? resources[r] : "?";
}
