#include "core/match.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "util/err.h"
#include "util/hex.h"

#define RX_OPTIONS (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C)
#define RX_PARENS_LIMIT 64
#define NUM_TEXT_MAX 64 /* bytes of a field's text tried as a number */

/* ---- fields ---------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    enum mfield_kind kind;
    enum afield af;
} field_names[] = {
    {"resource", MF_STR, AF_RESOURCE},
    {"event", MF_STR, AF_EVENT},
    {"environment", MF_STR, AF_ENVIRONMENT},
    {"group", MF_STR, AF_GROUP},
    {"value", MF_STR, AF_VALUE},
    {"text", MF_STR, AF_TEXT},
    {"origin", MF_STR, AF_ORIGIN},
    {"type", MF_STR, AF_TYPE},
    {"customer", MF_STR, AF_CUSTOMER},
    {"source", MF_STR, AF_SOURCE},
    {"fingerprint", MF_STR, AF_FINGERPRINT},
    {"generatorURL", MF_STR, AF_GENERATOR_URL},
    {"service", MF_LIST, AF_SERVICE},
    {"tags", MF_LIST, AF_TAGS},
    {"correlate", MF_LIST, AF_CORRELATE},
    {"severity", MF_SEVERITY, AF_COUNT},
    {"previousSeverity", MF_PREVSEV, AF_COUNT},
    {"status", MF_STATUS, AF_COUNT},
    {"trendIndication", MF_TREND, AF_COUNT},
    {"duplicateCount", MF_DUPCOUNT, AF_COUNT},
    {"timeout", MF_TIMEOUT, AF_COUNT},
    {"repeat", MF_REPEAT, AF_COUNT},
    {"id", MF_ID, AF_COUNT},
    {"createTime", MF_CREATE_TIME, AF_COUNT},
    {"receiveTime", MF_RECEIVE_TIME, AF_COUNT},
    {"lastReceiveTime", MF_LAST_RECEIVE_TIME, AF_COUNT},
    {"updateTime", MF_UPDATE_TIME, AF_COUNT},
};
#define NFIELDS (sizeof(field_names) / sizeof(field_names[0]))

static const struct {
    const char *prefix;
    enum mfield_kind kind;
} map_prefixes[] = {{"labels.", MF_LABEL}, {"annotations.", MF_ANNOT}, {"attributes.", MF_ATTR}};

int mfield_parse(const char *name, struct mfield *out)
{
    size_t n = strlen(name);
    const char *key = name;

    memset(out, 0, sizeof(*out));
    if (!n || n > MATCH_FIELD_MAX)
        return TOCSIN_EINVAL;
    for (size_t i = 0; i < NFIELDS; i++) {
        if (!strcmp(name, field_names[i].name)) {
            out->kind = field_names[i].kind;
            out->af = field_names[i].af;
            return TOCSIN_OK;
        }
    }
    out->kind = MF_LABEL; /* a bare name is a label */
    for (size_t i = 0; i < sizeof(map_prefixes) / sizeof(map_prefixes[0]); i++) {
        size_t pl = strlen(map_prefixes[i].prefix);
        if (!strncmp(name, map_prefixes[i].prefix, pl)) {
            out->kind = map_prefixes[i].kind;
            key = name + pl;
            break;
        }
    }
    if (!*key || (key == name && n + strlen("labels.") > MATCH_FIELD_MAX))
        return TOCSIN_EINVAL; /* a bare name's canonical form, "labels.<name>", must fit too */
    out->af = AF_COUNT;
    out->key = strdup(key);
    return out->key ? TOCSIN_OK : TOCSIN_ENOMEM;
}

void mfield_free(struct mfield *f)
{
    if (f) {
        free(f->key);
        f->key = NULL;
    }
}

bool mfield_equal(const struct mfield *a, const struct mfield *b)
{
    if (a->kind != b->kind || a->af != b->af)
        return false;
    return !a->key || !b->key ? a->key == b->key : !strcmp(a->key, b->key);
}

void mfield_name(const struct mfield *f, char *out, size_t n)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        if (field_names[i].kind == f->kind && field_names[i].af == f->af && !f->key) {
            snprintf(out, n, "%s", field_names[i].name);
            return;
        }
    }
    for (size_t i = 0; i < sizeof(map_prefixes) / sizeof(map_prefixes[0]); i++) {
        if (map_prefixes[i].kind == f->kind) {
            snprintf(out, n, "%s%s", map_prefixes[i].prefix, f->key ? f->key : "");
            return;
        }
    }
    snprintf(out, n, "?");
}

/* ---- values ---------------------------------------------------------------------------------- */

enum vkind { V_MISSING = 0, V_STR, V_LIST, V_JARR };

/* A field's value for one evaluation; text points into the alert, a static string or the
 * caller's scratch buffer. */
struct val {
    enum vkind k;
    const char *p; /* V_STR: the text; V_JARR: the JSON array text */
    size_t len;
    int sev;        /* severity code (severity fields), else -1 */
    bool has_num;   /* a number field (or a JSON number attribute): num is its value */
    double num;
    struct aview list; /* V_LIST */
};

/* Decodes the JSON string at p (p[0] == '"') into out (cap bytes, cut if longer); *end gets the
 * byte after the closing quote (or the NUL). Returns the decoded length. */
static size_t json_str_decode(const char *p, const char **end, char *out, size_t cap)
{
    size_t n = 0;

    p++;
    while (*p && *p != '"') {
        unsigned long cp;
        char tmp[4];
        size_t tl = 1;
        if (*p != '\\') {
            tmp[0] = *p++;
        } else {
            p++;
            switch (*p) {
            case 'b': tmp[0] = '\b'; break;
            case 'f': tmp[0] = '\f'; break;
            case 'n': tmp[0] = '\n'; break;
            case 'r': tmp[0] = '\r'; break;
            case 't': tmp[0] = '\t'; break;
            case 'u': {
                int d[4];
                for (int i = 0; i < 4; i++)
                    d[i] = p[1 + i] ? hex_digit((unsigned char)p[1 + i]) : -1;
                if (d[0] < 0 || d[1] < 0 || d[2] < 0 || d[3] < 0) {
                    tmp[0] = '?';
                    break;
                }
                cp = (unsigned long)(d[0] << 12 | d[1] << 8 | d[2] << 4 | d[3]);
                p += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u') {
                    int e[4];
                    for (int i = 0; i < 4; i++)
                        e[i] = p[3 + i] ? hex_digit((unsigned char)p[3 + i]) : -1;
                    if (e[0] >= 0 && e[1] >= 0 && e[2] >= 0 && e[3] >= 0) {
                        unsigned long lo = (unsigned long)(e[0] << 12 | e[1] << 8 | e[2] << 4 | e[3]);
                        if (lo >= 0xDC00 && lo < 0xE000) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            p += 6;
                        }
                    }
                }
                if (cp < 0x80) {
                    tmp[0] = (char)cp;
                } else if (cp < 0x800) {
                    tmp[0] = (char)(0xC0 | cp >> 6);
                    tmp[1] = (char)(0x80 | (cp & 0x3F));
                    tl = 2;
                } else if (cp < 0x10000) {
                    tmp[0] = (char)(0xE0 | cp >> 12);
                    tmp[1] = (char)(0x80 | (cp >> 6 & 0x3F));
                    tmp[2] = (char)(0x80 | (cp & 0x3F));
                    tl = 3;
                } else {
                    tmp[0] = (char)(0xF0 | cp >> 18);
                    tmp[1] = (char)(0x80 | (cp >> 12 & 0x3F));
                    tmp[2] = (char)(0x80 | (cp >> 6 & 0x3F));
                    tmp[3] = (char)(0x80 | (cp & 0x3F));
                    tl = 4;
                }
                break;
            }
            case '\0': tmp[0] = '\\'; p--; break;
            default: tmp[0] = *p; break; /* \" \\ \/ */
            }
            p++;
        }
        for (size_t i = 0; i < tl && n + 1 < cap; i++)
            out[n++] = tmp[i];
    }
    out[n] = '\0';
    *end = *p ? p + 1 : p;
    return n;
}

/* The text [p, p+len) read entirely as a number. */
static bool text_num(const char *p, size_t len, double *out)
{
    char tmp[NUM_TEXT_MAX];
    char *end;

    if (!len || len >= sizeof(tmp))
        return false;
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    errno = 0;
    *out = strtod(tmp, &end);
    return end == tmp + len && errno != ERANGE && isfinite(*out);
}

static const char *map_find(const struct alert *a, enum afield af, const char *key)
{
    struct aview m = alert_get(a, af);
    uint32_t pos = 0;
    const char *k, *v;

    while (aview_next(&m, &pos, &k, &v))
        if (!strcmp(k, key))
            return v;
    return NULL;
}

/* An attribute's JSON value as a value: strings decoded into buf, arrays kept as JSON. */
static void attr_val(const char *json, char *buf, struct val *v)
{
    const char *end;

    switch (json[0]) {
    case '"':
        v->k = V_STR;
        v->len = json_str_decode(json, &end, buf, MATCH_TEXT_MAX);
        v->p = buf;
        return;
    case '[':
        v->k = V_JARR;
        v->p = json;
        v->len = strlen(json);
        return;
    case 'n':
        if (!strcmp(json, "null"))
            return; /* missing */
        break;
    default:
        break;
    }
    v->k = V_STR;
    v->p = json;
    v->len = strlen(json);
    v->has_num = text_num(json, v->len, &v->num);
}

static void num_val(struct val *v, char *buf, double num, long long shown)
{
    int n = snprintf(buf, NUM_TEXT_MAX, "%lld", shown);

    v->k = V_STR;
    v->p = buf;
    v->len = n > 0 ? (size_t)n : 0;
    v->has_num = true;
    v->num = num;
}

static void time_val(struct val *v, char *buf, int64_t ms)
{
    iso8601_ms(ms, buf);
    v->k = V_STR;
    v->p = buf;
    v->len = strlen(buf);
    v->has_num = true;
    v->num = (double)ms;
}

static void str_val(struct val *v, const char *s)
{
    v->k = V_STR;
    v->p = s;
    v->len = strlen(s);
}

/* Resolves field f of a; buf holds MATCH_TEXT_MAX bytes of scratch. */
static void resolve(const struct mfield *f, const struct sevmap *m, const struct alert *a,
                    char *buf, struct val *v)
{
    const char *s;
    struct aview av;

    memset(v, 0, sizeof(*v));
    v->sev = -1;
    switch (f->kind) {
    case MF_STR:
        av = alert_get(a, f->af);
        v->k = V_STR;
        v->p = av.p;
        v->len = av.len;
        break;
    case MF_LIST:
        v->k = V_LIST;
        v->list = alert_get(a, f->af);
        break;
    case MF_LABEL:
    case MF_ANNOT:
        s = map_find(a, f->kind == MF_LABEL ? AF_LABELS : AF_ANNOTATIONS, f->key);
        if (s)
            str_val(v, s);
        break;
    case MF_ATTR:
        s = map_find(a, AF_ATTRIBUTES, f->key);
        if (s)
            attr_val(s, buf, v);
        break;
    case MF_SEVERITY:
        str_val(v, a->sev_name < m->n ? m->name[a->sev_name] : "");
        v->sev = a->severity;
        break;
    case MF_PREVSEV:
        str_val(v, a->prev_sev_name < m->n ? m->name[a->prev_sev_name] : "");
        v->sev = a->previous_severity;
        break;
    case MF_STATUS: str_val(v, astatus_name(a->status)); break;
    case MF_TREND: str_val(v, trend_name(a->trend)); break;
    case MF_DUPCOUNT: num_val(v, buf, a->duplicate_count, a->duplicate_count); break;
    case MF_TIMEOUT: num_val(v, buf, a->timeout_s, a->timeout_s); break;
    case MF_REPEAT: str_val(v, a->repeat ? "true" : "false"); break;
    case MF_ID:
        uuid_to_text(a->id, buf);
        str_val(v, buf);
        break;
    case MF_CREATE_TIME: time_val(v, buf, a->create_ms); break;
    case MF_RECEIVE_TIME: time_val(v, buf, a->receive_ms); break;
    case MF_LAST_RECEIVE_TIME: time_val(v, buf, a->last_receive_ms); break;
    case MF_UPDATE_TIME: time_val(v, buf, a->update_ms); break;
    }
}

/* Items of a list value. For V_JARR, strings are decoded into buf, other items are their JSON
 * text. */
struct items {
    const struct val *v;
    uint32_t pos;
    const char *jp;
    char *buf;
    bool done;
};

static void items_init(struct items *it, const struct val *v, char *buf)
{
    it->v = v;
    it->pos = 0;
    it->jp = v->k == V_JARR ? v->p + 1 : NULL;
    it->buf = buf;
    it->done = false;
}

static bool jarr_next(struct items *it, const char **p, size_t *len)
{
    const char *s = it->jp, *start;
    int depth = 0;

    while (*s == ' ' || *s == ',' || *s == '\n' || *s == '\t' || *s == '\r')
        s++;
    if (!*s || *s == ']')
        return false;
    if (*s == '"') {
        *len = json_str_decode(s, &it->jp, it->buf, MATCH_TEXT_MAX);
        *p = it->buf;
        return true;
    }
    start = s;
    for (; *s; s++) { /* a number, literal or nested value: up to the next , or ] at depth 0 */
        if (*s == '"') {
            for (s++; *s && *s != '"'; s++)
                if (*s == '\\' && s[1])
                    s++;
            if (!*s)
                break;
        } else if (*s == '[' || *s == '{') {
            depth++;
        } else if (*s == ']' || *s == '}') {
            if (!depth)
                break;
            depth--;
        } else if (*s == ',' && !depth) {
            break;
        }
    }
    *p = start;
    *len = (size_t)(s - start);
    it->jp = s;
    return true;
}

static bool items_next(struct items *it, const char **p, size_t *len)
{
    const char *k;

    if (it->done)
        return false;
    switch (it->v->k) {
    case V_LIST:
        if (!aview_next(&it->v->list, &it->pos, &k, NULL))
            return false;
        *p = k;
        *len = strlen(k);
        return true;
    case V_JARR:
        return jarr_next(it, p, len);
    case V_STR:
        it->done = true;
        *p = it->v->p;
        *len = it->v->len;
        return true;
    case V_MISSING:
        break;
    }
    return false;
}

const char *mfield_text(const struct mfield *f, const struct sevmap *m, const struct alert *a,
                        char *buf, size_t *len)
{
    struct val v;
    struct items it;
    const char *p;
    size_t n = 0, il;
    bool first = true;

    resolve(f, m, a, buf, &v);
    if (v.k == V_MISSING) {
        *len = 0;
        return "";
    }
    if (v.k == V_STR) {
        *len = v.len;
        return v.p ? v.p : "";
    }
    if (v.k == V_JARR) { /* the JSON text itself (it is in the alert, not in buf) */
        *len = v.len;
        return v.p;
    }
    items_init(&it, &v, NULL);
    while (items_next(&it, &p, &il)) {
        if (!first && n + 1 < MATCH_TEXT_MAX)
            buf[n++] = ',';
        first = false;
        if (il > MATCH_TEXT_MAX - 1 - n)
            il = MATCH_TEXT_MAX - 1 - n;
        memcpy(buf + n, p, il);
        n += il;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* ---- compiled conditions --------------------------------------------------------------------- */

enum cop {
    C_EQ = 0, C_NEQ, C_GT, C_LT, C_REGEXP, C_CONTAIN, C_NOT_CONTAIN, C_BEGIN, C_NOT_BEGIN, C_END,
    C_NOT_END, C_HAS_EVERY, C_HAS_ONE_OF, C_HAS_NOT, C_IS_EMPTY, C_EXIST, C_IS_ONE_OF,
    C_IS_NOT_ONE_OF, C_NCANOPSIS,
    C_AM_EQ = C_NCANOPSIS, C_AM_NEQ, C_AM_RE, C_AM_NRE
};

static const char *const cop_names[C_NCANOPSIS] = {
    "eq",         "neq",          "gt",      "lt",         "regexp",     "contain",
    "not_contain", "begin_with",  "not_begin_with", "end_with", "not_end_with", "has_every",
    "has_one_of", "has_not",      "is_empty", "exist",     "is_one_of",  "is_not_one_of",
};

enum vtype { VT_STR = 0, VT_NUM, VT_BOOL, VT_SEV, VT_STRS };
enum ftype { FT_ANY = 0, FT_STRING, FT_INT, FT_BOOL, FT_STRARR };

struct mcond {
    struct mfield f;
    uint8_t op, vt, ft;
    char *s; /* VT_STR (and VT_BOOL: "true"/"false") */
    size_t slen;
    double num; /* VT_NUM; VT_SEV: the code */
    bool b;
    char **strs; /* VT_STRS */
    size_t *lens, nstrs;
    pcre2_code *re;
    pcre2_match_data *md;
};

struct mgroup {
    struct mcond *c;
    size_t n;
};

struct matcher {
    struct mgroup *g;
    size_t n;
    json_t *src;
    const struct sevmap *sev;
    pcre2_match_context *mc;
};

static bool negated(int op)
{
    return op == C_NEQ || op == C_NOT_CONTAIN || op == C_NOT_BEGIN || op == C_NOT_END ||
           op == C_IS_NOT_ONE_OF || op == C_AM_NEQ || op == C_AM_NRE;
}

static bool in_strs(const struct mcond *c, const char *p, size_t len)
{
    for (size_t i = 0; i < c->nstrs; i++)
        if (c->lens[i] == len && !memcmp(c->strs[i], p, len))
            return true;
    return false;
}

static bool rx_match(const struct matcher *mt, const struct mcond *c, const char *p, size_t len)
{
    return pcre2_match(c->re, (PCRE2_SPTR)(p ? p : ""), len, 0, 0, c->md, mt->mc) >= 0;
}

/* The positive form of a string condition on one item. */
static bool item_pos(const struct matcher *mt, const struct mcond *c, const char *p, size_t len)
{
    double d;

    switch (c->op) {
    case C_EQ:
    case C_NEQ:
        if (c->vt == VT_NUM)
            return text_num(p, len, &d) && d == c->num;
        __attribute__((fallthrough)); /* clang wants the attribute, not a comment */
    case C_AM_EQ:
    case C_AM_NEQ:
        return len == c->slen && (!len || !memcmp(p, c->s, len));
    case C_CONTAIN:
    case C_NOT_CONTAIN:
        return c->slen <= len && (!c->slen || memmem(p, len, c->s, c->slen));
    case C_BEGIN:
    case C_NOT_BEGIN:
        return c->slen <= len && !memcmp(p, c->s, c->slen);
    case C_END:
    case C_NOT_END:
        return c->slen <= len && !memcmp(p + len - c->slen, c->s, c->slen);
    case C_REGEXP:
    case C_AM_RE:
    case C_AM_NRE:
        return rx_match(mt, c, p, len);
    case C_IS_ONE_OF:
    case C_IS_NOT_ONE_OF:
        return in_strs(c, p, len);
    default:
        return false;
    }
}

static bool is_empty(const struct val *v, char *buf)
{
    struct items it;
    const char *p;
    size_t len;

    if (v->k == V_MISSING)
        return true;
    if (v->k == V_STR)
        return v->len == 0;
    items_init(&it, v, buf);
    return !items_next(&it, &p, &len);
}

static bool has_item(const struct val *v, char *buf, const char *s, size_t slen)
{
    struct items it;
    const char *p;
    size_t len;

    items_init(&it, v, buf);
    while (items_next(&it, &p, &len))
        if (len == slen && !memcmp(p, s, len))
            return true;
    return false;
}

static bool eval_has(const struct mcond *c, const struct val *v, char *buf)
{
    size_t hits = 0;

    for (size_t i = 0; i < c->nstrs; i++)
        hits += has_item(v, buf, c->strs[i], c->lens[i]);
    if (c->op == C_HAS_EVERY)
        return hits == c->nstrs;
    if (c->op == C_HAS_ONE_OF)
        return hits > 0;
    return hits == 0; /* has_not */
}

static bool eval_order(const struct mcond *c, const struct val *v)
{
    double d;

    if (c->vt == VT_SEV) {
        if (v->sev < 0)
            return false;
        return c->op == C_GT ? v->sev < c->num : v->sev > c->num; /* gt: more severe */
    }
    if (v->k != V_STR)
        return false;
    if (v->has_num)
        d = v->num;
    else if (!text_num(v->p, v->len, &d))
        return false;
    return c->op == C_GT ? d > c->num : d < c->num;
}

static bool cond_eval(const struct matcher *mt, const struct mcond *c, const struct alert *a)
{
    char buf[MATCH_TEXT_MAX], ibuf[MATCH_TEXT_MAX];
    struct val v;
    struct items it;
    const char *p;
    size_t len;
    bool any = false, seen = false;

    resolve(&c->f, mt->sev, a, buf, &v);
    switch (c->op) {
    case C_EXIST: return (v.k != V_MISSING) == c->b;
    case C_IS_EMPTY: return is_empty(&v, ibuf) == c->b;
    case C_GT:
    case C_LT: return eval_order(c, &v);
    case C_HAS_EVERY:
    case C_HAS_ONE_OF:
    case C_HAS_NOT: return eval_has(c, &v, ibuf);
    default: break;
    }
    if (c->vt == VT_SEV) /* eq/neq a severity name on a severity field */
        return (v.sev >= 0 && v.sev == (int)c->num) != (c->op == C_NEQ);
    items_init(&it, &v, ibuf);
    while (!any && items_next(&it, &p, &len)) {
        seen = true;
        any = item_pos(mt, c, p, len);
    }
    /* no item at all (missing, empty list): Alertmanager's "" for its operators and for the
     * string conditions on a missing field */
    if (!seen && (c->op >= C_AM_EQ || v.k == V_MISSING))
        any = item_pos(mt, c, "", 0);
    return negated(c->op) ? !any : any;
}

bool matcher_match(const struct matcher *mt, const struct alert *a)
{
    if (!mt || !mt->n)
        return true;
    for (size_t i = 0; i < mt->n; i++) {
        const struct mgroup *g = &mt->g[i];
        size_t k = 0;
        while (k < g->n && cond_eval(mt, &g->c[k], a))
            k++;
        if (k == g->n)
            return true;
    }
    return false;
}

/* ---- compile --------------------------------------------------------------------------------- */

static void cond_free(struct mcond *c)
{
    mfield_free(&c->f);
    free(c->s);
    for (size_t i = 0; i < c->nstrs; i++)
        free(c->strs[i]);
    free(c->strs);
    free(c->lens);
    pcre2_match_data_free(c->md);
    pcre2_code_free(c->re);
}

void matcher_free(struct matcher *mt)
{
    if (!mt)
        return;
    for (size_t i = 0; i < mt->n; i++) {
        for (size_t k = 0; k < mt->g[i].n; k++)
            cond_free(&mt->g[i].c[k]);
        free(mt->g[i].c);
    }
    free(mt->g);
    json_decref(mt->src);
    pcre2_match_context_free(mt->mc);
    free(mt);
}

json_t *matcher_to_json(const struct matcher *mt)
{
    return json_incref(mt->src);
}

/* Compiles c->s as a regex; anchored at both ends for Alertmanager. */
static int rx_compile(struct mcond *c, bool anchored, struct verr *e, const char *where)
{
    pcre2_compile_context *cc;
    PCRE2_SIZE off = 0;
    int code = 0;
    uint32_t opts = RX_OPTIONS | (anchored ? PCRE2_ANCHORED | PCRE2_ENDANCHORED : 0);

    if (c->slen > MATCH_REGEX_MAX)
        return verr_set(e, where, "regular expression longer than %d bytes", MATCH_REGEX_MAX);
    cc = pcre2_compile_context_create(NULL);
    if (!cc)
        return TOCSIN_ENOMEM;
    pcre2_set_max_pattern_length(cc, MATCH_REGEX_MAX);
    pcre2_set_parens_nest_limit(cc, RX_PARENS_LIMIT);
    c->re = pcre2_compile((PCRE2_SPTR)c->s, c->slen, opts, &code, &off, cc);
    pcre2_compile_context_free(cc);
    if (!c->re) {
        PCRE2_UCHAR why[160];
        pcre2_get_error_message(code, why, sizeof(why));
        return verr_set(e, where, "invalid regular expression at offset %zu: %s", (size_t)off,
                        (const char *)why);
    }
    pcre2_jit_compile(c->re, PCRE2_JIT_COMPLETE); /* best effort */
    c->md = pcre2_match_data_create(1, NULL);
    return c->md ? TOCSIN_OK : TOCSIN_ENOMEM;
}

static int set_str(struct mcond *c, const char *s, size_t n)
{
    c->s = malloc(n + 1);
    if (!c->s)
        return TOCSIN_ENOMEM;
    memcpy(c->s, s, n);
    c->s[n] = '\0';
    c->slen = n;
    return TOCSIN_OK;
}

static int parse_strs(struct mcond *c, const json_t *v, struct verr *e, const char *where)
{
    size_t i, n = json_is_array(v) ? json_array_size(v) : 0;
    const json_t *it;

    if (!n)
        return verr_set(e, where, "%s needs a non-empty array of strings", cop_names[c->op]);
    if (n > MATCH_MAX_VALUES)
        return verr_set(e, where, "at most %d values", MATCH_MAX_VALUES);
    c->strs = calloc(n, sizeof(*c->strs));
    c->lens = calloc(n, sizeof(*c->lens));
    if (!c->strs || !c->lens)
        return TOCSIN_ENOMEM;
    json_array_foreach(v, i, it)
    {
        char num[NUM_TEXT_MAX];
        const char *s = num;
        size_t len;
        if (json_is_string(it)) {
            s = json_string_value(it);
            len = json_string_length(it);
        } else if (json_is_integer(it)) {
            len = (size_t)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(it));
        } else {
            verr_set(e, where, "value[%zu] must be a string", i);
            return TOCSIN_EINVAL;
        }
        if (len > MATCH_VALUE_MAX)
            return verr_set(e, where, "value[%zu] is longer than %d bytes", i, MATCH_VALUE_MAX);
        c->strs[i] = malloc(len + 1);
        if (!c->strs[i])
            return TOCSIN_ENOMEM;
        memcpy(c->strs[i], s, len);
        c->strs[i][len] = '\0';
        c->lens[i] = len;
        c->nstrs = i + 1;
    }
    return TOCSIN_OK;
}

static bool sev_field(const struct mcond *c)
{
    return c->f.kind == MF_SEVERITY || c->f.kind == MF_PREVSEV;
}

/* The severity code of a name, -1 if unknown. */
static int sev_code_of(const struct sevmap *m, const char *s, size_t n)
{
    int i = sevmap_find(m, s, n);
    return i < 0 ? -1 : m->code[i];
}

/* Checks and takes the condition's value (the Canopsis rules of which value a type takes). */
static int take_value(const struct matcher *mt, struct mcond *c, const json_t *v,
                      struct verr *e, const char *where)
{
    const char *tn = cop_names[c->op];

    switch (c->op) {
    case C_EXIST:
    case C_IS_EMPTY:
        if (!json_is_boolean(v))
            return verr_set(e, where, "%s needs a boolean", tn);
        c->vt = VT_BOOL;
        c->b = json_is_true(v);
        return TOCSIN_OK;
    case C_GT:
    case C_LT:
        if (sev_field(c)) {
            int code = json_is_string(v)
                           ? sev_code_of(mt->sev, json_string_value(v), json_string_length(v))
                           : -1;
            if (code < 0)
                return verr_set(e, where, "%s on a severity needs a severity name", tn);
            c->vt = VT_SEV;
            c->num = code;
            return TOCSIN_OK;
        }
        if (!json_is_number(v))
            return verr_set(e, where, "%s needs a number", tn);
        c->vt = VT_NUM;
        c->num = json_number_value(v);
        return TOCSIN_OK;
    case C_HAS_EVERY:
    case C_HAS_ONE_OF:
    case C_HAS_NOT:
    case C_IS_ONE_OF:
    case C_IS_NOT_ONE_OF:
        c->vt = VT_STRS;
        return parse_strs(c, v, e, where);
    case C_EQ:
    case C_NEQ:
        if (json_is_number(v)) {
            c->vt = VT_NUM;
            c->num = json_number_value(v);
            return TOCSIN_OK;
        }
        if (json_is_boolean(v)) {
            c->vt = VT_BOOL;
            return set_str(c, json_is_true(v) ? "true" : "false", json_is_true(v) ? 4 : 5);
        }
        break;
    default:
        break;
    }
    if (!json_is_string(v))
        return verr_set(e, where, "%s needs a string", tn);
    if (json_string_length(v) > MATCH_VALUE_MAX)
        return verr_set(e, where, "longer than %d bytes", MATCH_VALUE_MAX);
    if (set_str(c, json_string_value(v), json_string_length(v)))
        return TOCSIN_ENOMEM;
    if ((c->op == C_EQ || c->op == C_NEQ) && sev_field(c)) {
        int code = sev_code_of(mt->sev, c->s, c->slen);
        if (code >= 0) {
            c->vt = VT_SEV;
            c->num = code;
        }
    }
    if (c->op == C_REGEXP)
        return rx_compile(c, false, e, where);
    return TOCSIN_OK;
}

/* field_type: which conditions and values it allows. */
static int check_ftype(const struct mcond *c, struct verr *e, const char *where)
{
    bool ok = true;

    switch (c->ft) {
    case FT_INT:
        ok = c->op == C_EXIST || c->op == C_IS_EMPTY ||
             ((c->op == C_EQ || c->op == C_NEQ || c->op == C_GT || c->op == C_LT) &&
              c->vt == VT_NUM);
        break;
    case FT_BOOL:
        ok = c->op == C_EXIST || ((c->op == C_EQ || c->op == C_NEQ) && c->vt == VT_BOOL);
        break;
    case FT_STRARR:
        ok = c->op == C_EXIST || c->op == C_IS_EMPTY || c->vt == VT_STRS;
        break;
    default:
        break;
    }
    return ok ? TOCSIN_OK
              : verr_set(e, where, "condition %s does not apply to this field_type",
                         cop_names[c->op]);
}

static bool only_keys(const json_t *o, const char *const *keys, size_t n, const char **bad)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)o, k, v)
    {
        size_t i = 0;
        while (i < n && strcmp(k, keys[i]))
            i++;
        if (i == n) {
            *bad = k;
            return false;
        }
    }
    return true;
}

static int compile_canopsis(struct matcher *mt, struct mcond *c, const json_t *o, size_t gi,
                            size_t ci, struct verr *e)
{
    static const char *const okeys[] = {"field", "field_type", "cond"};
    static const char *const ckeys[] = {"type", "value"};
    static const char *const ftypes[] = {"", "string", "int", "bool", "string_array"};
    char where[96];
    const json_t *f, *ft, *cond, *t, *v;
    const char *bad = NULL;
    int rc;

    snprintf(where, sizeof(where), "[%zu][%zu]", gi, ci);
    if (!json_is_object(o))
        return verr_set(e, where, "a condition must be an object {field, cond:{type, value}}");
    if (!only_keys(o, okeys, 3, &bad)) {
        snprintf(where, sizeof(where), "[%zu][%zu].%.40s", gi, ci, bad);
        return verr_set(e, where, "unknown key");
    }
    f = json_object_get(o, "field");
    snprintf(where, sizeof(where), "[%zu][%zu].field", gi, ci);
    if (!json_is_string(f))
        return verr_set(e, where, "field must be a string");
    rc = mfield_parse(json_string_value(f), &c->f);
    if (rc == TOCSIN_EINVAL)
        return verr_set(e, where, "invalid field name");
    if (rc)
        return rc;
    ft = json_object_get(o, "field_type");
    if (ft) {
        snprintf(where, sizeof(where), "[%zu][%zu].field_type", gi, ci);
        for (size_t i = 1; json_is_string(ft) && i < 5 && !c->ft; i++)
            if (!strcmp(json_string_value(ft), ftypes[i]))
                c->ft = (uint8_t)i;
        if (!c->ft)
            return verr_set(e, where, "field_type must be string, int, bool or string_array");
    }
    cond = json_object_get(o, "cond");
    snprintf(where, sizeof(where), "[%zu][%zu].cond", gi, ci);
    if (!json_is_object(cond))
        return verr_set(e, where, "cond must be an object {type, value}");
    if (!only_keys(cond, ckeys, 2, &bad)) {
        snprintf(where, sizeof(where), "[%zu][%zu].cond.%.40s", gi, ci, bad);
        return verr_set(e, where, "unknown key");
    }
    t = json_object_get(cond, "type");
    snprintf(where, sizeof(where), "[%zu][%zu].cond.type", gi, ci);
    c->op = C_NCANOPSIS;
    for (int i = 0; json_is_string(t) && i < C_NCANOPSIS; i++)
        if (!strcmp(json_string_value(t), cop_names[i]))
            c->op = (uint8_t)i;
    if (c->op == C_NCANOPSIS)
        return verr_set(e, where, "unknown condition type");
    v = json_object_get(cond, "value");
    snprintf(where, sizeof(where), "[%zu][%zu].cond.value", gi, ci);
    if (!v)
        return verr_set(e, where, "missing");
    rc = take_value(mt, c, v, e, where);
    if (!rc && c->ft) {
        snprintf(where, sizeof(where), "[%zu][%zu].cond.type", gi, ci);
        rc = check_ftype(c, e, where);
    }
    return rc;
}

/* Parses one Alertmanager matcher string into c. */
static int compile_am(struct mcond *c, const char *s, size_t n, struct verr *e,
                      const char *where)
{
    const char *p = s, *end = s + n, *ns, *ne;
    char name[MATCH_FIELD_MAX + 1], *val = NULL;
    size_t nl, vl = 0;
    int rc;

    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    ns = p;
    while (p < end && (*p == '_' || *p == '.' || *p == ':' || *p == '-' || *p == '/' ||
                       (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                       (*p >= 'A' && *p <= 'Z')))
        p++;
    ne = p;
    nl = (size_t)(ne - ns);
    if (!nl || nl > MATCH_FIELD_MAX)
        return verr_set(e, where, "a matcher is name=value, name!=value, name=~re or name!~re");
    memcpy(name, ns, nl);
    name[nl] = '\0';
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (end - p >= 2 && p[0] == '=' && p[1] == '~')
        c->op = C_AM_RE, p += 2;
    else if (end - p >= 2 && p[0] == '!' && p[1] == '~')
        c->op = C_AM_NRE, p += 2;
    else if (end - p >= 2 && p[0] == '!' && p[1] == '=')
        c->op = C_AM_NEQ, p += 2;
    else if (p < end && p[0] == '=')
        c->op = C_AM_EQ, p += 1;
    else
        return verr_set(e, where, "expected an operator (=, !=, =~, !~) after \"%s\"", name);
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    val = malloc((size_t)(end - p) + 1);
    if (!val)
        return TOCSIN_ENOMEM;
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"'; p++) {
            char ch = *p;
            if (ch == '\\') {
                if (++p >= end)
                    break;
                ch = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p;
            }
            val[vl++] = ch;
        }
        if (p >= end || p + 1 != end) {
            free(val);
            return verr_set(e, where, "unterminated quoted value, or text after it");
        }
    } else {
        for (; p < end; p++) {
            if (*p == '"') {
                free(val);
                return verr_set(e, where, "a bare value cannot hold '\"'; quote it");
            }
            val[vl++] = *p;
        }
    }
    val[vl] = '\0';
    c->s = val;
    c->slen = vl;
    if (vl > MATCH_VALUE_MAX)
        return verr_set(e, where, "value longer than %d bytes", MATCH_VALUE_MAX);
    rc = mfield_parse(name, &c->f);
    if (rc == TOCSIN_EINVAL)
        return verr_set(e, where, "invalid field name \"%s\"", name);
    if (rc)
        return rc;
    if (c->op == C_AM_RE || c->op == C_AM_NRE)
        return rx_compile(c, true, e, where);
    return TOCSIN_OK;
}

/* One AND group: an array of Canopsis objects or of AM strings. */
static int compile_group(struct matcher *mt, struct mgroup *g, const json_t *arr, size_t gi,
                         bool top_am, size_t *total, struct verr *e)
{
    size_t n = json_is_array(arr) ? json_array_size(arr) : 1, i;
    char where[64];
    int rc = TOCSIN_OK;

    snprintf(where, sizeof(where), "[%zu]", gi);
    if (!json_is_array(arr) && !top_am)
        return verr_set(e, where, "must be an array of conditions");
    if (!n)
        return verr_set(e, where, "an empty group of conditions");
    if (n > MATCH_MAX_CONDS)
        return verr_set(e, where, "at most %d conditions in a group", MATCH_MAX_CONDS);
    if ((*total += n) > MATCH_MAX_TOTAL)
        return verr_set(e, where, "at most %d conditions in all", MATCH_MAX_TOTAL);
    g->c = calloc(n, sizeof(*g->c));
    if (!g->c)
        return TOCSIN_ENOMEM;
    for (i = 0; i < n && !rc; i++) {
        const json_t *it = json_is_array(arr) ? json_array_get(arr, i) : arr;
        g->n = i + 1;
        if (json_is_string(it)) {
            if (top_am)
                snprintf(where, sizeof(where), "[%zu]", json_is_array(arr) ? i : gi);
            else
                snprintf(where, sizeof(where), "[%zu][%zu]", gi, i);
            rc = compile_am(&g->c[i], json_string_value(it), json_string_length(it), e, where);
        } else {
            if (top_am) {
                snprintf(where, sizeof(where), "[%zu]", i);
                return verr_set(e, where, "must be a matcher string");
            }
            rc = compile_canopsis(mt, &g->c[i], it, gi, i, e);
        }
    }
    return rc;
}

int matcher_compile(const json_t *j, const struct sevmap *m, struct matcher **out,
                    struct verr *e)
{
    struct matcher *mt = calloc(1, sizeof(*mt));
    size_t total = 0, n, i;
    bool am_and;
    int rc = TOCSIN_OK;

    *out = NULL;
    if (!mt)
        return TOCSIN_ENOMEM;
    mt->sev = m;
    mt->src = json_deep_copy(j);
    mt->mc = pcre2_match_context_create(NULL);
    if (!mt->src || !mt->mc) {
        rc = TOCSIN_ENOMEM;
        goto out;
    }
    pcre2_set_match_limit(mt->mc, MATCH_REGEX_LIMIT);
    pcre2_set_depth_limit(mt->mc, MATCH_REGEX_LIMIT / 20);
    if (json_is_string(j)) { /* one AM matcher */
        mt->g = calloc(1, sizeof(*mt->g));
        if (!mt->g) {
            rc = TOCSIN_ENOMEM;
            goto out;
        }
        mt->n = 1;
        rc = compile_group(mt, &mt->g[0], j, 0, true, &total, e);
        goto out;
    }
    if (!json_is_array(j)) {
        rc = verr_set(e, "", "must be an array (Canopsis' [[{field, cond}]] or matcher strings)");
        goto out;
    }
    n = json_array_size(j);
    if (!n)
        goto out;
    /* an array of strings is one AND group; otherwise each item is a group */
    am_and = json_is_string(json_array_get(j, 0));
    if (am_and) {
        mt->g = calloc(1, sizeof(*mt->g));
        if (!mt->g) {
            rc = TOCSIN_ENOMEM;
            goto out;
        }
        mt->n = 1;
        rc = compile_group(mt, &mt->g[0], j, 0, true, &total, e);
        goto out;
    }
    if (n > MATCH_MAX_GROUPS) {
        rc = verr_set(e, "", "at most %d groups", MATCH_MAX_GROUPS);
        goto out;
    }
    mt->g = calloc(n, sizeof(*mt->g));
    if (!mt->g) {
        rc = TOCSIN_ENOMEM;
        goto out;
    }
    for (i = 0; i < n && !rc; i++) {
        mt->n = i + 1;
        rc = compile_group(mt, &mt->g[i], json_array_get(j, i), i, false, &total, e);
    }
out:
    if (rc) {
        matcher_free(mt);
        return rc;
    }
    *out = mt;
    return TOCSIN_OK;
}

/* The field reads as one text, the one mfield_text() gives, under condition c (attributes: but
 * for arrays, see matcher_next_required). */
static bool text_field(const struct matcher *mt, const struct mcond *c, const struct sevmap *sev)
{
    switch (c->f.kind) {
    case MF_STR:
    case MF_LABEL:
    case MF_ANNOT:
    case MF_ATTR:
    case MF_STATUS: return true;
    case MF_SEVERITY:
    case MF_PREVSEV: return c->vt != VT_SEV && mt->sev == sev; /* VT_SEV compares codes */
    default: return false;
    }
}

/* Splits a regex made only of literal alternatives into them. PCRE2's metacharacters outside a
 * class (no PCRE2_EXTENDED here), plus ] } and NUL to stay plain, refuse it; so does an empty
 * alternative (it would also match a missing field), or more than MATCH_SET_MAX of them. */
static bool rx_literals(const struct mcond *c, struct mreq *out)
{
    static const char meta[] = "\\^$.[](){}?*+"; /* sizeof counts the NUL: refused too */
    size_t start = 0;

    out->n = 0;
    for (size_t i = 0; i <= c->slen; i++) {
        if (i < c->slen && c->s[i] != '|') {
            if (memchr(meta, c->s[i], sizeof(meta)))
                return false;
            continue;
        }
        if (i == start || out->n == MATCH_SET_MAX)
            return false;
        out->v[out->n] = c->s + start;
        out->len[out->n++] = i - start;
        start = i + 1;
    }
    return true;
}

/* The values of c as an index hint; false if it is none. */
static bool cond_values(const struct mcond *c, struct mreq *out)
{
    switch (c->op) {
    case C_EQ:
        if (c->vt != VT_STR)
            return false;
        __attribute__((fallthrough));
    case C_AM_EQ:
        out->n = 1;
        out->v[0] = c->s;
        out->len[0] = c->slen;
        return true;
    case C_IS_ONE_OF:
        if (c->nstrs > MATCH_SET_MAX)
            return false;
        out->n = c->nstrs;
        for (size_t i = 0; i < c->nstrs; i++) {
            out->v[i] = c->strs[i];
            out->len[i] = c->lens[i];
        }
        return true;
    case C_AM_RE: return rx_literals(c, out);
    default: return false;
    }
}

bool matcher_next_required(const struct matcher *mt, const struct sevmap *sev, size_t *pos,
                           struct mreq *out)
{
    if (!mt || mt->n != 1)
        return false;
    while (*pos < mt->g[0].n) {
        const struct mcond *c = &mt->g[0].c[(*pos)++];
        if (text_field(mt, c, sev) && cond_values(c, out)) {
            out->f = &c->f;
            return true;
        }
    }
    return false;
}
