/* Internals of the alert read side (store/alert_read.h), shared by its files and by nothing else:
 *   aread_regexp.c  the REGEXP SQL function (PCRE2) and the validation of patterns;
 *   aread_query.c   the field table, the SQL builder, URL filters, sort-by and paging;
 *   aread_q.c       the q= parser (Alerta's Lucene-like syntax) that emits SQL;
 *   alert_read.c    the endpoints and their JSON.
 *
 * Every value a user gave reaches SQLite as a bound parameter: the builder writes "?N" into the
 * SQL text and keeps the value in its bind table. Only names from the field table (fixed
 * strings) are pasted into SQL. */
#ifndef TOCSIN_AREAD_INT_H
#define TOCSIN_AREAD_INT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/verr.h"
#include "store/alert_read.h"
#include "util/arena.h"
#include "util/buf.h"

/* ---- limits on a request (past these: a 400 naming the parameter) ---------------------------- */
#define AQ_SQL_MAX (64 * 1024)     /* bytes of the generated WHERE or ORDER BY text */
#define AQ_MAX_BINDS 400           /* bound values of one request */
#define AQ_ARENA_MAX (1024 * 1024) /* bytes of strings built for one request */
#define AQ_MAX_VALUE 4096          /* bytes of one parameter value */
#define AQ_MAX_VALUES 100          /* values of one repeated filter parameter */
#define AQ_MAX_KEY 256             /* bytes of a map key (attributes.<k>, labels.<k>) */
#define AQ_MAX_SORT 10             /* sort-by terms */
#define AQ_Q_MAX 4096              /* bytes of q= */
#define AQ_Q_MAX_DEPTH 32          /* nesting of parentheses and prefix operators in q= */
#define AQ_Q_MAX_TERMS 64          /* terms in q= */

/* ---- regular expressions (aread_regexp.c) ---------------------------------------------------- */
#define AREAD_REGEX_MAX 1024           /* bytes of one pattern */
#define AREAD_REGEX_MATCH_LIMIT 200000 /* PCRE2 match limit per row (backtracking steps) */
#define AREAD_REGEX_DEPTH_LIMIT 5000
#define AREAD_REGEX_HEAP_KIB 4096
/* An error raised by the REGEXP function starts with this, so the caller can tell a pattern's
 * fault (a 400) from the store's (a 500). */
#define AREAD_REGEX_ERRPFX "regexp: "

/* Registers regexp(pattern, subject), used by "subject REGEXP pattern". */
int aread_regexp_register(sqlite3 *db);
/* Compiles `pat` as the SQL function would (case-insensitive, UTF-8) and throws it away: a
 * pattern that fails here is the user's 400. Writes the reason into msg. */
bool aread_regex_valid(const char *pat, char *msg, size_t msglen);

/* ---- fields ---------------------------------------------------------------------------------- */
enum fkind {
    FK_TEXT, /* TEXT column (value, customer, raw_data may be NULL) */
    FK_INT,  /* INTEGER */
    FK_TIME, /* INTEGER ms; given as ISO 8601 */
    FK_BOOL, /* INTEGER 0/1 */
    FK_LIST, /* JSON array of strings */
    FK_MAP,  /* JSON object; addressed as <name>.<key> */
};

enum qfield_flags {
    AFF_NOFILTER = 1u << 0, /* not a URL filter (sort only, or handled apart: id) */
    AFF_GROUP = 1u << 1,    /* may be a group-by of top10 */
};

struct qfield {
    const char *name; /* Alerta's API name ("lastReceiveTime") */
    const char *col;  /* Alerta's column name, also accepted in q= ("last_receive_time") */
    const char *expr; /* SQL over table alert */
    const char *sort; /* SQL to sort by; NULL: not sortable */
    enum fkind kind;
    signed char dir; /* default sort direction: 1 ascending, -1 descending (times) */
    unsigned flags;
};

/* A field named in a request: the table entry plus, for a map, the key. */
struct fref {
    const struct qfield *f;
    const char *key; /* FK_MAP only; NUL-terminated, validated */
};

/* Looks a name up by API name or column name; NULL if unknown. */
const struct qfield *qfield_find(const char *name, size_t len);
/* Resolves "name" or "map.key" ("_" is attributes, as in Alerta's q=). Returns false if unknown
 * or if a map has no (valid) key. The key is copied into `ar`. */
bool qfield_resolve(const char *s, size_t len, struct arena *ar, struct fref *out);

/* ---- the SQL builder ------------------------------------------------------------------------- */
struct aq_bind {
    bool is_int;
    int64_t i;
    const char *s; /* NUL-terminated, lives in the builder's arena or the caller's params */
};

struct aq {
    struct buf where; /* "1" then " AND (...)" per condition; columns qualified "alert." */
    struct buf order; /* "expr ASC, expr DESC" or empty */
    struct aq_bind b[AQ_MAX_BINDS];
    int nb;
    struct arena ar;
    int rc;                 /* sticky: the first failure of an append (ENOMEM, ETOOBIG) */
    const char *regex_from; /* the parameter that brought the first regular expression */
};

void aq_init(struct aq *q);
void aq_free(struct aq *q);
/* Appends to b (q->where or q->order); failures stick in q->rc. */
void aq_cat(struct aq *q, struct buf *b, const char *s);
void aq_catf(struct aq *q, struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Binds a value and appends its "?N" to b. `s` must outlive the statement (arena or params). */
void aq_text(struct aq *q, struct buf *b, const char *s);
void aq_int(struct aq *q, struct buf *b, int64_t v);
/* Validates a pattern built from `param`'s value and appends "(expr REGEXP ?N)". */
int aq_regex(struct aq *q, struct buf *b, const char *expr, const char *pat, const char *param,
             struct verr *err);
/* Binds every value into st (indexes past the statement's count are skipped). */
int aq_bind_all(const struct aq *q, sqlite3_stmt *st);
/* n bytes / a copy in the arena (NULL on failure, which also sticks in q->rc as
 * TOCSIN_ETOOBIG: the request was too large, a 400). */
char *aq_alloc(struct aq *q, size_t n);
char *aq_strdup(struct aq *q, const char *s, size_t n);
/* The 400 (or 500) for a builder that failed; TOCSIN_OK if it did not. */
int aq_check(const struct aq *q, const char *param, struct verr *err);

/* The SQL of a JSON path to key `k` ($."k"), bound. */
void aq_path(struct aq *q, struct buf *b, const char *k);
/* The SQL expression of a field (for a map: json_extract of the key). */
void aq_expr(struct aq *q, struct buf *b, const struct fref *r);

/* Escapes s for LIKE with ESCAPE '\' and wraps it in %...%; for regular expressions, quotes every
 * non-alphanumeric ASCII character. Results live in q's arena. */
char *aq_like_contains(struct aq *q, const char *s, size_t n);
char *aq_regex_quote(struct aq *q, const char *s, size_t n);

/* Parses an integer / Alerta boolean; false if invalid (times: iso8601_parse). */
bool aq_parse_int(const char *s, size_t n, int64_t *v);
bool aq_parse_bool(const char *s);

/* ---- a parsed request ------------------------------------------------------------------------ */
#define AREQ_ENVS_MAX 16
struct areq {
    struct aq q;
    int64_t page, page_size;
    bool show_history, show_raw;
    bool index_only;            /* alert_by_status_sev decides the WHERE (see index_use) */
    bool walk;                  /* ... and gives the order: the page may walk it */
    bool counts_simple;         /* filtered by exact statuses only: counts can come from
                                   aread_opts.counts */
    unsigned status_mask;       /* with counts_simple: 1u << status per status asked, 0 all */
    /* filtered by exact statuses and exact environments only: facets can come from
     * aread_opts.facets (the environments asked in envs, none: all) */
    bool facets_simple;
    /* the WHERE reads columns a row keeps on its overflow page (index_use): such a scan reads
     * through a mapping (aread_map) */
    bool late_cols;
    const char *envs[AREQ_ENVS_MAX];
    size_t nenvs;
    const struct qfield *group; /* group-by, NULL if none */
};

/* Reads every parameter Alerta's QueryBuilder reads: the WHERE (q=, customers, dates, id,
 * filters), the ORDER BY, paging and flags. Returns TOCSIN_EINVAL with err set for a bad one.
 * The caller frees with areq_free() in every case. */
int areq_parse(struct areq *r, const struct qparam *p, size_t n, const struct aread_opts *o,
               struct verr *err);
void areq_free(struct areq *r);
/* Value of the first parameter named k, NULL if absent. */
const char *aq_param(const struct qparam *p, size_t n, const char *k);

/* The customer restriction alone (" AND alert.customer IN (...)"), for queries that take no
 * other parameter. */
void aq_customers(struct aq *q, const struct aread_opts *o);

/* ---- running a read (alert_read.c) ----------------------------------------------------------- */
#define AREAD_QUERY_MS 5000 /* a read that runs longer is stopped: a 503 */

/* One call of the API on a connection: its snapshot, its time budget and its error. */
struct rd {
    sqlite3 *db;
    const struct aread_opts *o;
    struct verr *err;
    int64_t deadline_ms; /* monotonic */
    bool timed_out;
    bool began;  /* this call opened the read transaction */
    bool mapped; /* ... and mapped the file for it */
};

/* Opens a read transaction (one snapshot for the counts and the page) unless one is open, and
 * arms the time budget; with `scan` (areq.late_cols) the file is read through a mapping until
 * the transaction ends (aread_map). rd_end() closes what rd_begin() opened and returns rc. */
int rd_begin(struct rd *r, sqlite3 *db, const struct aread_opts *o, bool scan, struct verr *err);
int rd_end(struct rd *r, int rc);
/* Prepares sql; on failure sets the error (rd_fail). */
int rd_prepare(struct rd *r, const char *sql, sqlite3_stmt **st);
/* Maps a failed SQLite call: a regex's fault is a 400 naming `param`, the time budget a 503,
 * anything else a logged 500. */
int rd_fail(struct rd *r, const char *op, int code, const char *param);
/* Steps st; TOCSIN_OK with *row set, or the failure. */
int rd_step(struct rd *r, sqlite3_stmt *st, bool *row, const char *param);

/* JSON of columns: text (NULL: null), a stored JSON list or map (bad or NULL: empty), a time in
 * ms (0: null). */
json_t *aj_col_str(sqlite3_stmt *st, int col);
json_t *aj_col_json(sqlite3_stmt *st, int col, bool object);
json_t *aj_time(int64_t ms);
json_t *aj_strn(const char *s, size_t n);
/* Sets o[k] = v (stolen); a failure clears *ok. */
void aj_put(json_t *o, const char *k, json_t *v, bool *ok);
/* "<href_base><fmt...>", or NULL without a base. */
json_t *aj_href(const struct aread_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A copy of a counts object with its keys sorted (Flask sorts keys; answers stay stable). NULL
 * gives an empty object. */
json_t *aj_sorted(json_t *o);
/* Sorts an array of strings in byte order, in place. TOCSIN_ENOMEM. */
int aj_sort_strings(json_t *arr);
/* Adds n to o[k] (an integer). */
int aj_add(json_t *o, const char *k, json_int_t n);

/* ---- top10 and facets (aread_facet.c) -------------------------------------------------------- */
int aread_top10_run(struct rd *r, struct areq *q, const char *kind, json_t **out);
int aread_facet_run(struct rd *r, struct areq *q, const char *what, json_t **out);

/* ---- q= (aread_q.c) -------------------------------------------------------------------------- */
/* Parses q (Lucene-like, Alerta's grammar) with default field df ("text" when NULL) and appends
 * " AND (...)" to q->where. A syntax error is a 400 with field "q". */
int aq_lucene(struct aq *q, const char *qs, const char *df, struct verr *err);

/* Appends the condition of one term on a field, shared by URL filters and q=. */
enum aq_op {
    AQO_EQ,    /* = any of vals */
    AQO_LIKE,  /* contains the literal (case-insensitive, ASCII) */
    AQO_REGEX, /* matches the pattern (case-insensitive) */
    AQO_GT,
    AQO_GE,
    AQO_LT,
    AQO_LE,
    AQO_PRESENT, /* not NULL (a list: not empty) */
};
/* Appends "(cond)" (or "NOT (cond)") on r to b. `vals` are the raw values (nv of them; 1 for
 * LIKE, REGEX and comparisons, 0 for PRESENT), converted by the field's kind; a value that does
 * not convert is a 400 naming `param`. */
int aq_cond(struct aq *q, struct buf *b, const struct fref *r, enum aq_op op,
            const char *const *vals, size_t nv, bool negate, const char *param, struct verr *err);

#endif
