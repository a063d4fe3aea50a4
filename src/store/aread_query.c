/* Alerta's query parameters turned into SQL: the field table, the builder, URL filters
 * (field=v, field!=v, ~regex, attributes.<k>=v, id, from-date / to-date, customers), sort-by,
 * group-by and paging. Semantics follow alerta/database/backends/postgres/utils.py (Alerta 9);
 * the differences are listed in alert_read.h. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alert.h"
#include "store/aread_int.h"
#include "util/err.h"

/* ---- fields ---------------------------------------------------------------------------------- */

/* Alerta's alarm model orders statuses by a letter (STATUS_MAP); sort-by=status uses it. */
#define STATUS_SORT                                                                                \
    "CASE alert.status WHEN 'open' THEN 'A' WHEN 'assign' THEN 'B' WHEN 'ack' THEN 'C'"            \
    " WHEN 'shelved' THEN 'D' WHEN 'blackout' THEN 'E' WHEN 'closed' THEN 'F'"                     \
    " WHEN 'expired' THEN 'G' ELSE 'H' END"
#define STARTS_AT "COALESCE(NULLIF(alert.starts_at, 0), alert.create_time)"
#define ENDS_AT "NULLIF(alert.ends_at, 0)"

/* Alerta's VALID_PARAMS of alerts plus tocsin's own fields. `col` is the Postgres column Alerta's
 * q= expects ("last_receive_time"); both names work everywhere. */
static const struct qfield fields[] = {
    {"id", NULL, "alert.id", NULL, FK_TEXT, 1, AFF_NOFILTER},
    {"resource", NULL, "alert.resource", "alert.resource", FK_TEXT, 1, AFF_GROUP},
    {"event", NULL, "alert.event", "alert.event", FK_TEXT, 1, AFF_GROUP},
    {"environment", NULL, "alert.environment", "alert.environment", FK_TEXT, 1, AFF_GROUP},
    {"severity", NULL, "alert.severity", "alert.sevcode", FK_TEXT, 1, AFF_GROUP},
    {"correlate", NULL, "alert.correlate", "alert.correlate", FK_LIST, 1, 0},
    {"status", NULL, "alert.status", STATUS_SORT, FK_TEXT, 1, AFF_GROUP},
    {"service", NULL, "alert.service", "alert.service", FK_LIST, 1, 0},
    {"group", NULL, "alert.grp", "alert.grp", FK_TEXT, 1, AFF_GROUP},
    {"value", NULL, "alert.value", "alert.value", FK_TEXT, 1, AFF_GROUP},
    {"text", NULL, "alert.text", "alert.text", FK_TEXT, 1, AFF_GROUP},
    {"tag", NULL, "alert.tags", NULL, FK_LIST, 1, 0},
    {"tags", NULL, "alert.tags", "alert.tags", FK_LIST, 1, 0},
    {"attributes", NULL, "alert.attributes", "alert.attributes", FK_MAP, 1, 0},
    {"origin", NULL, "alert.origin", "alert.origin", FK_TEXT, 1, AFF_GROUP},
    {"type", "event_type", "alert.type", "alert.type", FK_TEXT, 1, AFF_GROUP},
    {"createTime", "create_time", "alert.create_time", "alert.create_time", FK_TIME, -1, 0},
    {"timeout", NULL, "alert.timeout", "alert.timeout", FK_INT, 1, 0},
    {"rawData", "raw_data", "alert.raw_data", "alert.raw_data", FK_TEXT, 1, 0},
    {"customer", NULL, "alert.customer", "alert.customer", FK_TEXT, 1, AFF_GROUP},
    {"duplicateCount", "duplicate_count", "alert.duplicate_count", "alert.duplicate_count", FK_INT,
     1, 0},
    {"repeat", NULL, "alert.repeat", "alert.repeat", FK_BOOL, 1, 0},
    {"previousSeverity", "previous_severity", "alert.previous_severity", "alert.previous_severity",
     FK_TEXT, 1, AFF_GROUP},
    {"trendIndication", "trend_indication", "alert.trend", "alert.trend", FK_TEXT, 1, AFF_GROUP},
    {"receiveTime", "receive_time", "alert.receive_time", "alert.receive_time", FK_TIME, -1, 0},
    {"lastReceiveId", "last_receive_id", "alert.last_receive_id", "alert.last_receive_id", FK_TEXT,
     1, 0},
    {"lastReceiveTime", "last_receive_time", "alert.last_receive_time", "alert.last_receive_time",
     FK_TIME, -1, 0},
    {"updateTime", "update_time", "alert.update_time", "alert.update_time", FK_TIME, -1, 0},
    {"fingerprint", NULL, "alert.fingerprint", "alert.fingerprint", FK_TEXT, 1, AFF_GROUP},
    {"source", NULL, "alert.source", "alert.source", FK_TEXT, 1, AFF_GROUP},
    {"labels", NULL, "alert.labels", "alert.labels", FK_MAP, 1, 0},
    {"annotations", NULL, "alert.annotations", "alert.annotations", FK_MAP, 1, 0},
    {"generatorURL", "generator_url", "alert.generator_url", "alert.generator_url", FK_TEXT, 1, 0},
    {"startsAt", "starts_at", STARTS_AT, STARTS_AT, FK_TIME, -1, 0},
    {"endsAt", "ends_at", ENDS_AT, ENDS_AT, FK_TIME, -1, 0},
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static bool name_is(const char *name, const char *s, size_t len)
{
    return name && strlen(name) == len && !memcmp(name, s, len);
}

const struct qfield *qfield_find(const char *name, size_t len)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (name_is(fields[i].name, name, len))
            return &fields[i];
    for (size_t i = 0; i < NFIELDS; i++)
        if (name_is(fields[i].col, name, len))
            return &fields[i];
    return NULL;
}

/* A key is pasted into a JSON path ($."key") that is itself bound: it must not break the
 * quoting. Alerta forbids '.' and '$' in attribute keys; labels may hold dots. */
static bool key_ok(const char *k, size_t n)
{
    if (!n || n > AQ_MAX_KEY)
        return false;
    for (size_t i = 0; i < n; i++)
        if (k[i] == '"' || k[i] == '\\' || (unsigned char)k[i] < 0x20)
            return false;
    return true;
}

bool qfield_resolve(const char *s, size_t len, struct arena *ar, struct fref *out)
{
    const char *dot = memchr(s, '.', len);
    size_t base = dot ? (size_t)(dot - s) : len;

    out->key = NULL;
    out->f = base == 1 && s[0] == '_' ? qfield_find("attributes", 10) : qfield_find(s, base);
    if (!out->f)
        return false;
    if (out->f->kind != FK_MAP)
        return !dot;
    if (!dot || !key_ok(dot + 1, len - base - 1))
        return false;
    out->key = arena_strndup(ar, dot + 1, len - base - 1);
    return out->key != NULL;
}

/* ---- the builder ----------------------------------------------------------------------------- */

void aq_init(struct aq *q)
{
    memset(q, 0, sizeof(*q));
    buf_init(&q->where, AQ_SQL_MAX);
    buf_init(&q->order, AQ_SQL_MAX);
    arena_init(&q->ar, AQ_ARENA_MAX);
    aq_cat(q, &q->where, "1");
}

void aq_free(struct aq *q)
{
    buf_free(&q->where);
    buf_free(&q->order);
    arena_free(&q->ar);
}

static void stick(struct aq *q, int rc)
{
    if (rc && !q->rc)
        q->rc = rc;
}

void aq_cat(struct aq *q, struct buf *b, const char *s)
{
    stick(q, buf_puts(b, s));
}

void aq_catf(struct aq *q, struct buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    stick(q, buf_vprintf(b, fmt, ap));
    va_end(ap);
}

static struct aq_bind *new_bind(struct aq *q, struct buf *b)
{
    if (q->nb >= AQ_MAX_BINDS) {
        stick(q, TOCSIN_ETOOBIG);
        return NULL;
    }
    aq_catf(q, b, "?%d", q->nb + 1);
    return &q->b[q->nb++];
}

void aq_text(struct aq *q, struct buf *b, const char *s)
{
    struct aq_bind *x = new_bind(q, b);

    if (x) {
        x->is_int = false;
        x->s = s;
    }
}

void aq_int(struct aq *q, struct buf *b, int64_t v)
{
    struct aq_bind *x = new_bind(q, b);

    if (x) {
        x->is_int = true;
        x->i = v;
    }
}

char *aq_alloc(struct aq *q, size_t n)
{
    char *d = arena_alloc(&q->ar, n);

    if (!d)
        stick(q, TOCSIN_ETOOBIG);
    return d;
}

char *aq_strdup(struct aq *q, const char *s, size_t n)
{
    char *d = aq_alloc(q, n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int aq_bind_all(const struct aq *q, sqlite3_stmt *st)
{
    int max = sqlite3_bind_parameter_count(st);

    for (int i = 0; i < q->nb && i < max; i++) {
        int rc = q->b[i].is_int ? sqlite3_bind_int64(st, i + 1, q->b[i].i)
                                : sqlite3_bind_text(st, i + 1, q->b[i].s, -1, SQLITE_STATIC);
        if (rc != SQLITE_OK)
            return TOCSIN_ESTORE;
    }
    return TOCSIN_OK;
}

int aq_check(const struct aq *q, const char *param, struct verr *err)
{
    if (!q->rc)
        return TOCSIN_OK;
    if (q->rc == TOCSIN_ENOMEM)
        return TOCSIN_ENOMEM;
    return verr_set(err, param, "query too large (at most %d values and %d bytes of SQL)",
                    AQ_MAX_BINDS, AQ_SQL_MAX);
}

int aq_regex(struct aq *q, struct buf *b, const char *expr, const char *pat, const char *param,
             struct verr *err)
{
    char msg[256];

    if (!aread_regex_valid(pat, msg, sizeof(msg)))
        return verr_set(err, param, "%s", msg);
    if (!q->regex_from)
        q->regex_from = param;
    aq_catf(q, b, "(%s REGEXP ", expr);
    aq_text(q, b, pat);
    aq_cat(q, b, ")");
    return TOCSIN_OK;
}

void aq_path(struct aq *q, struct buf *b, const char *k)
{
    size_t n = strlen(k) + 5;
    char *p = aq_alloc(q, n);

    if (!p)
        return;
    snprintf(p, n, "$.\"%s\"", k);
    aq_text(q, b, p);
}

void aq_expr(struct aq *q, struct buf *b, const struct fref *r)
{
    if (r->f->kind != FK_MAP) {
        aq_cat(q, b, r->f->expr);
        return;
    }
    aq_catf(q, b, "json_extract(%s, ", r->f->expr);
    aq_path(q, b, r->key);
    aq_cat(q, b, ")");
}

char *aq_like_contains(struct aq *q, const char *s, size_t n)
{
    char *d = aq_alloc(q, 2 * n + 3);
    size_t o = 0;

    if (!d)
        return NULL;
    d[o++] = '%';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' || s[i] == '_' || s[i] == '\\')
            d[o++] = '\\';
        d[o++] = s[i];
    }
    d[o++] = '%';
    d[o] = '\0';
    return d;
}

char *aq_regex_quote(struct aq *q, const char *s, size_t n)
{
    char *d = aq_alloc(q, 2 * n + 1);
    size_t o = 0;

    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80 && !isalnum(c))
            d[o++] = '\\';
        d[o++] = s[i];
    }
    d[o] = '\0';
    return d;
}

/* ---- values ---------------------------------------------------------------------------------- */

bool aq_parse_int(const char *s, size_t n, int64_t *v)
{
    char tmp[32], *end;
    long long x;

    if (!n || n >= sizeof(tmp))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (tmp[0] != '-' && (tmp[0] < '0' || tmp[0] > '9'))
        return false;
    errno = 0;
    x = strtoll(tmp, &end, 10);
    if (errno || *end)
        return false;
    *v = x;
    return true;
}

/* Alerta: lambda x: x.lower() in ['true', 't', '1', 'yes', 'y', 'on'] */
bool aq_parse_bool(const char *s)
{
    static const char *const yes[] = {"true", "t", "1", "yes", "y", "on"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!strcasecmp(s, yes[i]))
            return true;
    return false;
}

/* Binds one value converted to the field's kind, appending its "?N". */
static int bind_value(struct aq *q, struct buf *b, enum fkind k, const char *v, const char *param,
                      struct verr *err)
{
    int64_t x;

    switch (k) {
    case FK_INT:
        if (!aq_parse_int(v, strlen(v), &x))
            return verr_set(err, param, "not an integer: '%.64s'", v);
        aq_int(q, b, x);
        return TOCSIN_OK;
    case FK_TIME:
        if (!iso8601_parse(v, strlen(v), &x))
            return verr_set(err, param, "not an ISO 8601 time: '%.64s'", v);
        aq_int(q, b, x);
        return TOCSIN_OK;
    case FK_BOOL:
        aq_int(q, b, aq_parse_bool(v));
        return TOCSIN_OK;
    default:
        aq_text(q, b, v);
        return TOCSIN_OK;
    }
}

/* ---- one condition --------------------------------------------------------------------------- */

static const char *cmp_sql(enum aq_op op)
{
    switch (op) {
    case AQO_GT:
        return ">";
    case AQO_GE:
        return ">=";
    case AQO_LT:
        return "<";
    case AQO_LE:
        return "<=";
    default:
        return "=";
    }
}

static int cond_eq(struct aq *q, struct buf *b, const char *x, enum fkind k,
                   const char *const *vals, size_t nv, const char *param, struct verr *err)
{
    int rc = TOCSIN_OK;

    if (nv == 1) {
        aq_catf(q, b, "%s = ", x);
        return bind_value(q, b, k, vals[0], param, err);
    }
    aq_catf(q, b, "%s IN (", x);
    for (size_t i = 0; i < nv && !rc; i++) {
        if (i)
            aq_cat(q, b, ", ");
        rc = bind_value(q, b, k, vals[i], param, err);
    }
    aq_cat(q, b, ")");
    return rc;
}

/* The condition on one scalar expression x (a column, json_extract, or a list item). */
static int cond_scalar(struct aq *q, struct buf *b, const char *x, enum fkind k, enum aq_op op,
                       const char *const *vals, size_t nv, const char *param, struct verr *err)
{
    bool text = k == FK_TEXT || k == FK_MAP || k == FK_LIST;
    char *pat;

    switch (op) {
    case AQO_EQ:
        return cond_eq(q, b, x, k, vals, nv, param, err);
    case AQO_LIKE:
        if (!text) /* a word on a number or a time is an equality */
            return cond_eq(q, b, x, k, vals, 1, param, err);
        pat = aq_like_contains(q, vals[0], strlen(vals[0]));
        aq_catf(q, b, "%s LIKE ", x);
        aq_text(q, b, pat ? pat : "");
        aq_cat(q, b, " ESCAPE '\\'");
        return TOCSIN_OK;
    case AQO_REGEX:
        if (!text)
            return verr_set(err, param, "regular expressions apply to text fields only");
        return aq_regex(q, b, x, vals[0], param, err);
    case AQO_PRESENT:
        aq_catf(q, b, "%s IS NOT NULL", x);
        return TOCSIN_OK;
    default:
        if (k == FK_BOOL)
            return verr_set(err, param, "a range needs a text, number or time field");
        aq_catf(q, b, "%s %s ", x, cmp_sql(op));
        return bind_value(q, b, k, vals[0], param, err);
    }
}

int aq_cond(struct aq *q, struct buf *b, const struct fref *r, enum aq_op op,
            const char *const *vals, size_t nv, bool negate, const char *param, struct verr *err)
{
    struct buf x;
    int rc;

    if (op != AQO_PRESENT && !nv)
        return verr_set(err, param, "a value is needed");
    aq_cat(q, b, negate ? "NOT (" : "(");
    if (r->f->kind == FK_LIST && op == AQO_PRESENT) {
        aq_catf(q, b, "json_array_length(%s) > 0)", r->f->expr);
        return TOCSIN_OK;
    }
    if (r->f->kind == FK_LIST) {
        /* list overlap, as Alerta's && on arrays */
        aq_catf(q, b, "EXISTS (SELECT 1 FROM json_each(%s) AS je WHERE ", r->f->expr);
        rc = cond_scalar(q, b, "je.value", FK_LIST, op, vals, nv, param, err);
        aq_cat(q, b, "))");
        return rc;
    }
    /* a map key's json_extract(...) holds a bound path, so it is built in its own buffer */
    buf_init(&x, AQ_SQL_MAX);
    aq_expr(q, &x, r);
    rc = cond_scalar(q, b, buf_str(&x), r->f->kind, op, vals, nv, param, err);
    buf_free(&x);
    aq_cat(q, b, ")");
    return rc;
}

/* ---- URL parameters -------------------------------------------------------------------------- */

const char *aq_param(const struct qparam *p, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (p[i].k && !strcmp(p[i].k, k))
            return p[i].v ? p[i].v : "";
    return NULL;
}

/* Alerta's EXCLUDE_FROM_QUERY (+ reverse, which tocsin reads): not filters. */
static bool excluded(const char *base, size_t n)
{
    static const char *const names[] = {
        "_",         "callback",      "token",        "api-key",  "q",    "id",
        "from-date", "to-date",       "sort-by",      "group-by", "page", "page-size",
        "limit",     "show-raw-data", "show-history", "reverse",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (name_is(names[i], base, n))
            return true;
    return false;
}

void aq_customers(struct aq *q, const struct aread_opts *o)
{
    if (!o->customers)
        return;
    if (!o->ncustomers) {
        aq_cat(q, &q->where, " AND 0");
        return;
    }
    aq_cat(q, &q->where, " AND alert.customer IN (");
    for (size_t i = 0; i < o->ncustomers; i++) {
        if (i)
            aq_cat(q, &q->where, ", ");
        aq_text(q, &q->where, o->customers[i] ? o->customers[i] : "");
    }
    aq_cat(q, &q->where, ")");
}

static int add_date(struct aq *q, const char *v, const char *name, const char *op, struct verr *err)
{
    int64_t ms;

    if (!iso8601_parse(v, strlen(v), &ms))
        return verr_set(err, name, "not an ISO 8601 time: '%.64s'", v);
    aq_catf(q, &q->where, " AND alert.last_receive_time %s ", op);
    aq_int(q, &q->where, ms);
    return TOCSIN_OK;
}

/* from-date / to-date on lastReceiveTime. Alerta's /alerts also defaults to-date to the query
 * time; tocsin does not: the read runs on one snapshot already, and the engine's clock (which
 * stamps lastReceiveTime) may run a little ahead of the reader's, which would hide the newest
 * alerts. It would also steer SQLite off the index that serves the list and its counts. */
static int add_dates(struct aq *q, const struct qparam *p, size_t n, struct verr *err)
{
    static const char *const names[] = {"from-date", "to-date"}, *const ops[] = {">", "<="};

    for (int i = 0; i < 2; i++) {
        const char *v = aq_param(p, n, names[i]);
        int rc;
        if (!v || !*v)
            continue;
        if ((rc = add_date(q, v, names[i], ops[i], err)))
            return rc;
    }
    return TOCSIN_OK;
}

/* The smallest string greater than every string that starts with v, or NULL if none. */
static char *prefix_upper(struct aq *q, const char *v)
{
    size_t n = strlen(v);
    char *u;

    while (n && (unsigned char)v[n - 1] == 0xff)
        n--;
    if (!n)
        return NULL;
    u = aq_strdup(q, v, n);
    if (u)
        u[n - 1] = (char)((unsigned char)u[n - 1] + 1);
    return u;
}

static void id_prefix(struct aq *q, const char *col, const char *v, const char *hi)
{
    aq_catf(q, &q->where, "(%s >= ", col);
    aq_text(q, &q->where, v);
    if (hi) {
        aq_catf(q, &q->where, " AND %s < ", col);
        aq_text(q, &q->where, hi);
    }
    aq_cat(q, &q->where, ")");
}

/* id: a prefix of id or lastReceiveId (any of several). A range rather than LIKE so that the
 * id side can use the unique index; lastReceiveId has none (see alert_read.c). */
static int add_ids(struct aq *q, const struct qparam *p, size_t n, struct verr *err)
{
    bool first = true;

    for (size_t i = 0; i < n; i++) {
        const char *hi;
        if (strcmp(p[i].k, "id"))
            continue;
        if (strlen(p[i].v) > AQ_MAX_VALUE)
            return verr_set(err, "id", "longer than %d bytes", AQ_MAX_VALUE);
        aq_cat(q, &q->where, first ? " AND (" : " OR ");
        first = false;
        hi = prefix_upper(q, p[i].v);
        id_prefix(q, "alert.id", p[i].v, hi);
        aq_cat(q, &q->where, " OR ");
        id_prefix(q, "alert.last_receive_id", p[i].v, hi);
    }
    if (!first)
        aq_cat(q, &q->where, ")");
    return TOCSIN_OK;
}

/* Joins the values of a regex filter as Alerta does ('|'.join(v.lstrip('~'))). */
static char *join_regex(struct aq *q, const char *const *vals, size_t nv)
{
    struct buf j;
    char *out;

    buf_init(&j, AREAD_REGEX_MAX + AQ_MAX_VALUE);
    for (size_t i = 0; i < nv; i++) {
        const char *v = vals[i];
        while (*v == '~')
            v++;
        if (i)
            stick(q, buf_putc(&j, '|'));
        stick(q, buf_puts(&j, v));
    }
    out = aq_strdup(q, buf_str(&j), j.len);
    buf_free(&j);
    return out;
}

/* One filter parameter: all values of key k (Alerta's params.getlist). */
static int add_filter(struct aq *q, const char *k, const char *const *vals, size_t nv,
                      struct verr *err)
{
    size_t len = strlen(k);
    bool neg = len && k[len - 1] == '!';
    bool regex = false;
    struct fref r;
    const char *pat;

    if (neg)
        len--;
    if (!qfield_resolve(k, len, &q->ar, &r) || (r.f->flags & AFF_NOFILTER))
        return verr_set(err, k, "Invalid filter parameter: %s", k);
    for (size_t i = 0; i < nv; i++)
        regex |= vals[i][0] == '~';
    aq_cat(q, &q->where, " AND ");
    if (!regex)
        return aq_cond(q, &q->where, &r, AQO_EQ, vals, nv, neg, k, err);
    pat = join_regex(q, vals, nv);
    return aq_cond(q, &q->where, &r, AQO_REGEX, &pat, 1, neg, k, err);
}

static bool seen_before(const struct qparam *p, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (!strcmp(p[j].k, p[i].k))
            return true;
    return false;
}

static int add_filters(struct aq *q, const struct qparam *p, size_t n, struct verr *err)
{
    const char *vals[AQ_MAX_VALUES];

    for (size_t i = 0; i < n; i++) {
        const char *k = p[i].k;
        size_t base = strcspn(k, ".!"), nv = 0;
        int rc;
        if (excluded(k, base) || seen_before(p, i))
            continue;
        for (size_t j = i; j < n; j++) {
            if (strcmp(p[j].k, k))
                continue;
            if (nv == AQ_MAX_VALUES)
                return verr_set(err, k, "more than %d values", AQ_MAX_VALUES);
            if (strlen(p[j].v) > AQ_MAX_VALUE)
                return verr_set(err, k, "value longer than %d bytes", AQ_MAX_VALUE);
            vals[nv++] = p[j].v;
        }
        if ((rc = add_filter(q, k, vals, nv, err)))
            return rc;
    }
    return TOCSIN_OK;
}

/* ---- sort-by, group-by, paging -----------------------------------------------------------------
 */

static void add_order(struct aq *q, const char *expr, int dir)
{
    if (q->order.len)
        aq_cat(q, &q->order, ", ");
    aq_catf(q, &q->order, "%s %s", expr, dir > 0 ? "ASC" : "DESC");
}

static int add_sort_term(struct aq *q, const char *s, int rev, struct verr *err)
{
    int dir = 1;
    const struct qfield *f;
    struct fref r;
    struct buf x;

    if (*s == '-') {
        dir = -1;
        s++;
    }
    if (strchr(s, '.')) {
        /* attributes.<k> (Alerta) and labels.<k>, annotations.<k> (tocsin) */
        if (!qfield_resolve(s, strlen(s), &q->ar, &r))
            return verr_set(err, "sort-by", "Sorting by '%.64s' field not supported.", s);
        buf_init(&x, AQ_SQL_MAX);
        aq_expr(q, &x, &r);
        add_order(q, buf_str(&x), dir * rev);
        buf_free(&x);
        return TOCSIN_OK;
    }
    f = qfield_find(s, strlen(s));
    if (!f || !f->sort)
        return verr_set(err, "sort-by", "Sorting by '%.64s' field not supported.", s);
    add_order(q, f->sort, dir * f->dir * rev);
    return TOCSIN_OK;
}

/* Alerta's default order is its SORT_LIST_BY setting, ['severity', 'lastReceiveTime']: most
 * severe first, then newest. The index alert_by_status_sev serves it for one status. */
static int add_sort(struct aq *q, const struct qparam *p, size_t n, struct verr *err)
{
    const char *rv = aq_param(p, n, "reverse");
    int rev = rv && aq_parse_bool(rv) ? -1 : 1, terms = 0, rc;

    for (size_t i = 0; i < n; i++) {
        if (strcmp(p[i].k, "sort-by"))
            continue;
        if (++terms > AQ_MAX_SORT)
            return verr_set(err, "sort-by", "more than %d sort terms", AQ_MAX_SORT);
        if ((rc = add_sort_term(q, p[i].v, rev, err)))
            return rc;
    }
    if (!terms) {
        add_order(q, "alert.sevcode", rev);
        add_order(q, "alert.last_receive_time", -rev);
    }
    return TOCSIN_OK;
}

static int int_param(const struct qparam *p, size_t n, const char *k, int64_t def, int64_t *v,
                     struct verr *err)
{
    const char *s = aq_param(p, n, k);

    *v = def;
    if (!s)
        return TOCSIN_OK;
    if (!aq_parse_int(s, strlen(s), v))
        return verr_set(err, k, "not an integer: '%.32s'", s);
    return TOCSIN_OK;
}

/* Alerta's Page.from_params: page (default 1), page-size or the older limit; 0 is the default
 * size. A page out of range is a 416, decided once the total is known. */
static int add_paging(struct areq *r, const struct qparam *p, size_t n, struct verr *err)
{
    int64_t limit;
    int rc;

    if ((rc = int_param(p, n, "page", 1, &r->page, err)) ||
        (rc = int_param(p, n, "limit", 0, &limit, err)) ||
        (rc = int_param(p, n, "page-size", limit, &r->page_size, err)))
        return rc;
    if (!r->page_size)
        r->page_size = 50;
    if (r->page_size < 0 || r->page_size > ALERT_READ_MAX_PAGE)
        return verr_set(err, aq_param(p, n, "page-size") ? "page-size" : "limit",
                        "must be between 1 and %d", ALERT_READ_MAX_PAGE);
    return TOCSIN_OK;
}

static int add_group(struct areq *r, const struct qparam *p, size_t n, struct verr *err)
{
    const char *g = aq_param(p, n, "group-by");

    if (!g)
        return TOCSIN_OK;
    r->group = qfield_find(g, strlen(g));
    if (!r->group || !(r->group->flags & AFF_GROUP))
        return verr_set(err, "group-by", "Grouping by '%.64s' field not supported.", g);
    return TOCSIN_OK;
}

/* Whether alert_by_status_sev alone decides every condition of the request (filters on status,
 * severity and environment, the columns it holds; from-date / to-date): then the counts stream
 * over it and the page may walk it status by status and stop after the page (alert_read.c). With a
 * condition on another column (id=, q=, another filter, a customer restriction) every index entry
 * would need its row read, and SQLite, which prefers an index order to a sort, would read the rows
 * one by one in index order (3 s at a million rows where a scan and a sort takes 0.5 s): the SQL
 * then hides the index order from it. `walk` also needs an order the indexes give: the default one
 * or lastReceiveTime. `counts_simple` (exact statuses only) and `facets_simple` (exact statuses
 * and environments only) say what the engine's counters can answer (alert_read.h). `late_cols`:
 * the WHERE reads a column past the first few of the row (anything but the id, resource and
 * event, and the index's), which a row of an alert keeps on its overflow page.
 */
static void index_use(struct areq *r, const struct qparam *p, size_t n, const struct aread_opts *o)
{
    int sorts = 0;

    r->index_only = !o->customers;
    r->walk = r->index_only;
    r->counts_simple = r->facets_simple = r->index_only;
    r->late_cols = o->customers != NULL; /* the customer column is one of them */
    r->status_mask = 0;
    r->nenvs = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k = p[i].k, *v = p[i].v;
        size_t base = strcspn(k, ".!");
        if (!strcmp(k, "status")) {
            int st = astatus_parse(v, strlen(v));
            if (st < 0)
                r->counts_simple = r->facets_simple = false;
            else
                r->status_mask |= 1u << st;
        } else if (name_is("status", k, base) || !strcmp(k, "from-date") ||
                   !strcmp(k, "to-date")) {
            r->counts_simple = r->facets_simple = false;
        }
        if (!strcmp(k, "sort-by")) {
            v += *v == '-';
            r->walk &= !strcmp(v, "lastReceiveTime") && ++sorts == 1;
        } else if (!strcmp(k, "environment") && *v != '~' && r->nenvs < AREQ_ENVS_MAX) {
            r->counts_simple = false; /* the engine counts by status and severity only */
            r->envs[r->nenvs++] = v;
        } else if (name_is("severity", k, base) || name_is("environment", k, base)) {
            r->counts_simple = r->facets_simple = false;
        } else if ((!strcmp(k, "q") && *v) || !strcmp(k, "id") ||
                   (!excluded(k, base) && !name_is("status", k, base))) {
            r->index_only = r->walk = r->counts_simple = r->facets_simple = false;
            r->late_cols |=
                !name_is("resource", k, base) && !name_is("event", k, base) && strcmp(k, "id");
        }
    }
}

static int check_params(const struct qparam *p, size_t n, struct verr *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!p[i].k || !p[i].v)
            return verr_set(err, "query", "parameter without a name or value");
        if (strlen(p[i].k) > AQ_MAX_KEY + 32)
            return verr_set(err, "query", "parameter name longer than %d bytes", AQ_MAX_KEY + 32);
    }
    return TOCSIN_OK;
}

int areq_parse(struct areq *r, const struct qparam *p, size_t n, const struct aread_opts *o,
               struct verr *err)
{
    const char *qs = aq_param(p, n, "q"), *sh = aq_param(p, n, "show-history"),
               *sr = aq_param(p, n, "show-raw-data");
    int rc;

    memset(r, 0, sizeof(*r));
    aq_init(&r->q);
    r->show_history = sh && aq_parse_bool(sh);
    r->show_raw = sr && aq_parse_bool(sr);
    if ((rc = check_params(p, n, err)))
        return rc;
    index_use(r, p, n, o);
    if (qs && *qs && (rc = aq_lucene(&r->q, qs, aq_param(p, n, "q.df"), err)))
        return rc;
    aq_customers(&r->q, o);
    if ((rc = add_dates(&r->q, p, n, err)) || (rc = add_ids(&r->q, p, n, err)) ||
        (rc = add_filters(&r->q, p, n, err)) || (rc = add_sort(&r->q, p, n, err)) ||
        (rc = add_paging(r, p, n, err)) || (rc = add_group(r, p, n, err)))
        return rc;
    return aq_check(&r->q, qs && *qs ? "q" : "query", err);
}

void areq_free(struct areq *r)
{
    aq_free(&r->q);
}
