#include "core/facets.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/fnv.h"

#define FACETS_BUCKETS 32768u /* FACETS_KEYS_MAX entries of each of the FK_COUNT kinds, load 1 */

/* One entry: cells[status * (nsev + 1) + sev] alerts (the last column: a severity past nsev),
 * then its key "env\0value\0" (for the event kinds "event\0value\0"). */
struct fent {
    struct fent *next;
    uint64_t h;
    uint64_t total;           /* the sum of the cells; the entry goes at 0 */
    uint64_t dups[AST_COUNT]; /* FK_EVENT: the alerts' duplicateCount summed, by status */
    uint32_t envn, valn;
    uint8_t kind;
    uint32_t cells[];
};

struct facets {
    pthread_mutex_t mu;
    size_t nsev, ncell;
    struct fent **b;
    size_t n[FK_COUNT];
    /* values not kept (kind full, or no memory) that alerts still hold: while any, the kind
     * is incomplete and takes no new entry (so a value is either kept for every alert that
     * holds it, or for none) */
    uint64_t missed[FK_COUNT];
};

struct facets *facets_new(size_t nsev)
{
    struct facets *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    if (!(f->b = calloc(FACETS_BUCKETS, sizeof(*f->b)))) {
        free(f);
        return NULL;
    }
    f->nsev = nsev < SEVMAP_MAX ? nsev : SEVMAP_MAX;
    f->ncell = (size_t)AST_COUNT * (f->nsev + 1);
    pthread_mutex_init(&f->mu, NULL);
    return f;
}

void facets_free(struct facets *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < FACETS_BUCKETS; i++) {
        struct fent *e = f->b[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(f->b);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static char *ekey(const struct facets *f, const struct fent *e)
{
    return (char *)(uintptr_t)(e->cells + f->ncell);
}

static uint64_t fhash(enum facet_kind kind, const char *env, size_t envn, const char *val,
                      size_t valn)
{
    uint64_t h = fnv1a_field(fnv1a_field(FNV1A_BASIS ^ (uint64_t)kind, env, envn), val, valn);

    return h ^ (h >> 29);
}

static struct fent **find(struct facets *f, enum facet_kind kind, const char *env, size_t envn,
                          const char *val, size_t valn, uint64_t h)
{
    struct fent **l = &f->b[h & (FACETS_BUCKETS - 1)];

    for (; *l; l = &(*l)->next) {
        const struct fent *e = *l;
        const char *k = ekey(f, e);
        if (e->h == h && e->kind == kind && e->envn == envn && e->valn == valn &&
            !memcmp(k, env, envn) && !memcmp(k + envn + 1, val, valn))
            break;
    }
    return l;
}

static size_t cell_of(const struct facets *f, int status, int sev)
{
    size_t s = sev >= 0 && (size_t)sev < f->nsev ? (size_t)sev : f->nsev;

    return (size_t)(status >= 0 && status < AST_COUNT ? status : AST_UNKNOWN) * (f->nsev + 1) + s;
}

static struct fent *ent_new(const struct facets *f, enum facet_kind kind, const char *env,
                            size_t envn, const char *val, size_t valn, uint64_t h)
{
    struct fent *e = calloc(1, sizeof(*e) + f->ncell * sizeof(uint32_t) + envn + valn + 2);
    char *k;

    if (!e)
        return NULL;
    e->h = h;
    e->kind = (uint8_t)kind;
    e->envn = (uint32_t)envn;
    e->valn = (uint32_t)valn;
    k = ekey(f, e);
    memcpy(k, env, envn);
    memcpy(k + envn + 1, val, valn); /* the NULs from calloc */
    return e;
}

/* What to do with each value of an alert whose duplicateCount is `dup`: OP_ADD counts it in
 * (delta 1) or out (-1) of cell `to`; OP_MOVE moves it from cell `from` to cell `to`; OP_DUP adds
 * ddup to its event's duplicate sum in the status of cell `to`. */
enum op_kind { OP_ADD, OP_MOVE, OP_DUP };

struct op {
    enum op_kind kind;
    size_t from, to;
    int delta;
    uint32_t dup;
    int64_t ddup;
};

static size_t status_of(const struct facets *f, size_t cell)
{
    return cell / (f->nsev + 1);
}

static void count1(struct facets *f, enum facet_kind kind, const struct aview *env, const char *val,
                   size_t valn, const struct op *op)
{
    uint64_t h = fhash(kind, env->p, env->len, val, valn);
    struct fent **l = find(f, kind, env->p, env->len, val, valn, h), *e = *l;

    if (op->kind != OP_ADD) { /* a missed value has no entry to change */
        if (e && op->kind == OP_MOVE) {
            e->cells[op->from]--;
            e->cells[op->to]++;
            if (kind == FK_EVENT) {
                e->dups[status_of(f, op->from)] -= op->dup;
                e->dups[status_of(f, op->to)] += op->dup;
            }
        } else if (e) {
            e->dups[status_of(f, op->to)] += (uint64_t)op->ddup;
        }
        return;
    }
    if (!e && op->delta > 0 && !f->missed[kind] && f->n[kind] < FACETS_KEYS_MAX &&
        (e = ent_new(f, kind, env->p, env->len, val, valn, h))) {
        *l = e;
        f->n[kind]++;
    }
    if (!e) {
        if (op->delta > 0)
            f->missed[kind]++;
        else if (f->missed[kind])
            f->missed[kind]--;
        return;
    }
    e->cells[op->to] += (uint32_t)op->delta;
    if (kind == FK_EVENT)
        e->dups[status_of(f, op->to)] += (uint64_t)((int64_t)op->delta * op->dup);
    e->total += (uint64_t)(int64_t)op->delta;
    if (!e->total) {
        *l = e->next;
        f->n[kind]--;
        free(e);
    }
}

/* op on every value of the alert: its environment, group, each service and tag, its event, and
 * its event's environment and services (top10's). */
static void count_all(struct facets *f, const struct aview v[AF_COUNT], const struct op *op)
{
    static const struct {
        enum afield field;
        enum facet_kind kind, by_event;
    } lists[] = {{AF_SERVICE, FK_SERVICE, FK_EVENT_SERVICE}, {AF_TAGS, FK_TAG, FK_COUNT}};
    const struct aview *env = &v[AF_ENVIRONMENT], *ev = &v[AF_EVENT];

    pthread_mutex_lock(&f->mu);
    count1(f, FK_EVENT, ev, "", 0, op);
    count1(f, FK_ENVIRONMENT, env, "", 0, op);
    count1(f, FK_GROUP, env, v[AF_GROUP].p, v[AF_GROUP].len, op);
    count1(f, FK_EVENT_ENVIRONMENT, ev, env->p, env->len, op);
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        uint32_t pos = 0;
        const char *item;
        while (aview_next(&v[lists[i].field], &pos, &item, NULL)) {
            size_t n = strlen(item);
            count1(f, lists[i].kind, env, item, n, op);
            if (lists[i].by_event != FK_COUNT)
                count1(f, lists[i].by_event, ev, item, n, op);
        }
    }
    pthread_mutex_unlock(&f->mu);
}

void facets_add(struct facets *f, const struct aview v[AF_COUNT], int status, int sev, uint32_t dup,
                int delta)
{
    struct op op = {OP_ADD, 0, cell_of(f, status, sev), delta, dup, 0};

    count_all(f, v, &op);
}

void facets_move(struct facets *f, const struct aview v[AF_COUNT], int from_status, int from_sev,
                 int to_status, int to_sev, uint32_t dup)
{
    struct op op = {
        OP_MOVE, cell_of(f, from_status, from_sev), cell_of(f, to_status, to_sev), 0, dup, 0};

    if (op.from != op.to)
        count_all(f, v, &op);
}

void facets_dups(struct facets *f, const struct aview *event, int status, int64_t ddup)
{
    struct op op = {OP_DUP, 0, cell_of(f, status, 0), 0, 0, ddup};

    if (!ddup)
        return;
    pthread_mutex_lock(&f->mu);
    count1(f, FK_EVENT, event, "", 0, &op);
    pthread_mutex_unlock(&f->mu);
}

/* e's counts within the statuses of mask into r (strings not set). */
static void sum(const struct facets *f, const struct fent *e, uint32_t mask, struct facet_row *r)
{
    memset(r, 0, sizeof(*r));
    for (size_t st = 0; st < AST_COUNT; st++) {
        const uint32_t *row = e->cells + st * (f->nsev + 1);
        if (mask && !(mask & (1u << st)))
            continue;
        for (size_t s = 0; s <= f->nsev; s++) {
            r->by_status[st] += row[s];
            if (s < f->nsev)
                r->by_sev[s] += row[s];
        }
        r->count += r->by_status[st];
        r->dups += e->dups[st];
    }
}

static int row_cmp(const void *x, const void *y)
{
    const struct facet_row *a = x, *b = y;
    int c = strcmp(a->env, b->env);

    return c ? c : strcmp(a->value, b->value);
}

/* Under f->mu: the rows and their strings (two passes: sizes, then copies). */
static int copy_rows(struct facets *f, enum facet_kind k, uint32_t mask, bool zeros,
                     struct facet_rows *out)
{
    size_t n = 0, bytes = 0;
    char *w;

    for (size_t i = 0; i < FACETS_BUCKETS; i++)
        for (const struct fent *e = f->b[i]; e; e = e->next)
            if (e->kind == k) {
                n++;
                bytes += e->envn + e->valn + 2;
            }
    out->r = calloc(n ? n : 1, sizeof(*out->r));
    out->arena = malloc(bytes ? bytes : 1);
    if (!out->r || !out->arena)
        return TOCSIN_ENOMEM;
    w = out->arena;
    for (size_t i = 0; i < FACETS_BUCKETS; i++)
        for (const struct fent *e = f->b[i]; e; e = e->next) {
            struct facet_row *r = &out->r[out->n];
            if (e->kind != k)
                continue;
            sum(f, e, mask, r);
            if (!zeros && !r->count)
                continue;
            memcpy(w, ekey(f, e), e->envn + e->valn + 2);
            r->env = w;
            r->value = w + e->envn + 1;
            w += e->envn + e->valn + 2;
            out->n++;
        }
    return TOCSIN_OK;
}

int facets_read(struct facets *f, enum facet_kind k, uint32_t status_mask, bool zeros,
                struct facet_rows *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if ((unsigned)k >= FK_COUNT)
        return TOCSIN_EINVAL;
    pthread_mutex_lock(&f->mu);
    rc = f->missed[k] ? TOCSIN_EAGAIN : copy_rows(f, k, status_mask, zeros, out);
    pthread_mutex_unlock(&f->mu);
    if (rc) {
        facet_rows_free(out);
        return rc;
    }
    qsort(out->r, out->n, sizeof(*out->r), row_cmp);
    return TOCSIN_OK;
}

void facet_rows_free(struct facet_rows *rows)
{
    free(rows->r);
    free(rows->arena);
    memset(rows, 0, sizeof(*rows));
}

void facets_get_stats(struct facets *f, struct facets_stats *out)
{
    pthread_mutex_lock(&f->mu);
    for (int k = 0; k < FK_COUNT; k++) {
        out->entries[k] = f->n[k];
        out->missed[k] = f->missed[k];
    }
    pthread_mutex_unlock(&f->mu);
}

const char *facet_kind_name(enum facet_kind k)
{
    static const char *const names[] = {"environment", "service",          "group",       "tag",
                                        "event",       "eventEnvironment", "eventService"};

    return (unsigned)k < FK_COUNT ? names[k] : "?";
}
