#include "core/alertdb.h"

#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/facets.h"
#include "util/err.h"
#include "util/fnv.h"
#include "util/id.h"
#include "util/sidx.h"

#define HT_MIN_BUCKETS 1024

void alertdb_cfg_default(struct alertdb_cfg *c)
{
    memset(c, 0, sizeof(*c));
    sevmap_default(&c->sev);
    c->default_timeout_s = 86400;
    c->history_limit = 100;
    c->history_on_value_change = true;
    c->delete_expired_after_s = 7200;
    c->delete_info_after_s = 43200;
    c->shelve_timeout_s = 7200;
    c->ack_timeout_s = 0;
    c->max_alerts = 5000000;
}

static const char *const htype_names[HT_COUNT] = {
    "new",   "severity", "status",  "value", "action",   "open",    "assign",  "ack",
    "unack", "shelve",   "unshelve", "close", "note",    "dismiss", "timeout", "expired",
};

const char *htype_name(int t)
{
    return t >= 0 && t < HT_COUNT ? htype_names[t] : "action";
}

static const char *const achg_names[CHG_COUNT] = {
    "create",  "stateinc", "statedec", "changestate", "ack",     "ackremove",   "unack",
    "shelve",  "unshelve", "resolve",  "reopen",      "comment", "expire",      "eventscount",
    "unblackout",
};

const char *achg_name(int c)
{
    return c >= 0 && c < CHG_COUNT ? achg_names[c] : "";
}

int achg_parse(const char *s)
{
    if (!strcmp(s, "close"))
        return CHG_RESOLVE;
    for (int i = 0; i < CHG_COUNT; i++)
        if (!strcmp(s, achg_names[i]))
            return i;
    return -1;
}

/* ---- intrusive hash tables ------------------------------------------------------------------- */

typedef uint64_t (*hash_fn)(const struct alert *a);

/* Chains through the `struct alert *` at byte offset `link` of each alert.
 *
 * The table doubles when it holds more alerts than buckets, and moves its alerts to the new
 * array a few buckets at a time (as Redis's dict does): each add moves HT_MOVE_STEP buckets of
 * the old array, whose moved buckets are left empty. Moving them all in one add stalled the
 * engine for 1.2 s when the millionth-and-some alert arrived (every alert's hash recomputed,
 * three tables, each alert a cache miss). While both arrays exist a look-up reads the new
 * array's chain and then the old one's; one array always suffices again before the next
 * doubling, because that takes as many adds as the old array has buckets. */
struct htab {
    struct alert **b, **old;
    size_t mask, old_mask; /* buckets - 1 */
    size_t moved;          /* old buckets already moved (and empty) */
    size_t n;
    size_t link;
    hash_fn h;
};

#define HT_MOVE_STEP 8

#define LINK(a, off) (*(struct alert **)((char *)(a) + (off)))

static int htab_init(struct htab *t, size_t link, hash_fn h)
{
    memset(t, 0, sizeof(*t));
    t->b = calloc(HT_MIN_BUCKETS, sizeof(*t->b));
    t->mask = HT_MIN_BUCKETS - 1;
    t->link = link;
    t->h = h;
    return t->b ? TOCSIN_OK : TOCSIN_ENOMEM;
}

/* Moves up to `buckets` buckets of the old array; frees it once all are moved. */
static void htab_move(struct htab *t, size_t buckets)
{
    for (; t->old && buckets; buckets--) {
        struct alert *a = t->old[t->moved];
        t->old[t->moved] = NULL;
        while (a) {
            struct alert *next = LINK(a, t->link);
            size_t k = t->h(a) & t->mask;
            LINK(a, t->link) = t->b[k];
            t->b[k] = a;
            a = next;
        }
        if (++t->moved > t->old_mask) {
            free(t->old);
            t->old = NULL;
            t->moved = 0;
        }
    }
}

/* Moves whatever is left: for the walks that delete or change alerts as they go. */
static void htab_settle(struct htab *t)
{
    htab_move(t, SIZE_MAX);
}

/* Starts moving the alerts to an array of nb buckets (htab_move carries it on). Out of memory:
 * the table keeps its size (longer chains, still correct). */
static void htab_resize(struct htab *t, size_t nb)
{
    struct alert **b;

    htab_settle(t);
    if (!(b = calloc(nb, sizeof(*b))))
        return;
    t->old = t->b;
    t->old_mask = t->mask;
    t->moved = 0;
    t->b = b;
    t->mask = nb - 1;
}

static void htab_grow(struct htab *t)
{
    htab_resize(t, (t->mask + 1) * 2);
}

/* Makes room for n alerts at once (buckets: the power of two at or above n), moving every alert
 * now; for the start-up load, which knows how many it restores and would otherwise double the
 * array twenty times on the way to a million. */
static void htab_reserve(struct htab *t, size_t n)
{
    size_t nb = t->mask + 1;

    while (nb < n && nb <= SIZE_MAX / 2 / sizeof(*t->b))
        nb *= 2;
    if (nb == t->mask + 1)
        return;
    htab_resize(t, nb);
    htab_settle(t);
}

static void htab_add(struct htab *t, struct alert *a, uint64_t hv)
{
    size_t k = hv & t->mask;

    LINK(a, t->link) = t->b[k];
    t->b[k] = a;
    htab_move(t, HT_MOVE_STEP);
    if (++t->n > t->mask + 1)
        htab_grow(t);
}

/* The head of the chain an alert of hash hv may be on: which 0 in the new array, 1 in the old
 * one (NULL when there is no old one). */
static struct alert **htab_head(const struct htab *t, uint64_t hv, int which)
{
    if (!which)
        return &t->b[hv & t->mask];
    return t->old ? &t->old[hv & t->old_mask] : NULL;
}

static struct alert *htab_chain(const struct htab *t, uint64_t hv, int which)
{
    struct alert **head = htab_head(t, hv, which);
    return head ? *head : NULL;
}

/* Bucket i of both arrays together, i < htab_buckets(t), for walks over every alert. */
static size_t htab_buckets(const struct htab *t)
{
    return t->mask + 1 + (t->old ? t->old_mask + 1 : 0);
}

static struct alert *htab_bucket(const struct htab *t, size_t i)
{
    return i <= t->mask ? t->b[i] : t->old[i - t->mask - 1];
}

static void htab_del(struct htab *t, struct alert *a, uint64_t hv)
{
    for (int which = 0; which < 2; which++) {
        struct alert **pp = htab_head(t, hv, which);
        if (!pp)
            break;
        while (*pp && *pp != a)
            pp = &LINK(*pp, t->link);
        if (*pp) {
            *pp = LINK(a, t->link);
            LINK(a, t->link) = NULL;
            t->n--;
            return;
        }
    }
}

static uint64_t res_hash_parts(const char *env, size_t envn, const char *res, size_t resn,
                               const char *cust, size_t custn, bool cust_null)
{
    uint64_t h = fnv1a_field(FNV1A_BASIS, env, envn);
    h = fnv1a_field(h, res, resn);
    return cust_null ? h : fnv1a_field(h ^ 1, cust, custn);
}

static uint64_t res_hash(const struct alert *a)
{
    struct aview e = alert_get(a, AF_ENVIRONMENT), r = alert_get(a, AF_RESOURCE),
                 c = alert_get(a, AF_CUSTOMER);
    return res_hash_parts(e.p, e.len, r.p, r.len, c.p, c.len, c.null);
}

static uint64_t key_hash_parts(uint64_t rh, const char *ev, size_t evn)
{
    return fnv1a_field(rh * 31 + 7, ev, evn);
}

/* Keeps the two hashes the chains place a by, so that moving or unlinking it does not read its
 * blob again. After any change of its event (the only key field that changes). */
static void set_hashes(struct alert *a)
{
    uint64_t rh = res_hash(a);
    struct aview ev = alert_get(a, AF_EVENT);

    a->res_h = (uint32_t)rh;
    a->key_h = (uint32_t)key_hash_parts(rh, ev.p, ev.len);
}

/* The hashes the tables place an alert by (struct htab's hash_fn). */
static uint64_t key_h_of(const struct alert *a)
{
    return a->key_h;
}

static uint64_t res_h_of(const struct alert *a)
{
    return a->res_h;
}

/* All 16 bytes, mixed: a client may send time-ordered ids (UUIDv7), whose first 8 bytes are a
 * timestamp that barely changes (taking them as the hash put every alert in one chain). */
static uint64_t uuid_hash(const uint8_t id[16])
{
    uint64_t hi, lo;

    memcpy(&hi, id, sizeof(hi));
    memcpy(&lo, id + 8, sizeof(lo));
    hi ^= lo * 0x9e3779b97f4a7c15ULL;
    hi ^= hi >> 31;
    hi *= 0xbf58476d1ce4e5b9ULL;
    return hi ^ (hi >> 29);
}

static uint64_t id_hash(const struct alert *a)
{
    return uuid_hash(a->id);
}

/* ---- the db ---------------------------------------------------------------------------------- */

struct alertdb {
    struct alertdb_cfg cfg;
    struct timer_wheel *wheel;
    struct htab by_key, by_res, by_id;
    struct alert *ret_head, *ret_tail; /* closed/expired, oldest first: evicted first */
    struct effects *fx;                /* during a call: where changes go */
    int64_t now;
    uint64_t next_rid;
    struct alertdb_stats st;
};

void alert_change_free(struct alert_change *c)
{
    if (!c)
        return;
    alert_free(c->snap);
    free(c->raw);
    for (uint32_t i = 0; i < c->nhist; i++) {
        free(c->hist[i].event);
        free(c->hist[i].value);
        free(c->hist[i].text);
        free(c->hist[i].user);
    }
    free(c->hist);
    free(c->note_text);
    free(c->note_user);
    free(c);
}

static void on_timer(struct timer *t, void *ud);

struct alertdb *alertdb_new(const struct alertdb_cfg *cfg, int64_t now_ms)
{
    struct alertdb *db = calloc(1, sizeof(*db));

    if (!db)
        return NULL;
    db->cfg = *cfg;
    if (!db->cfg.history_limit)
        db->cfg.history_limit = 1;
    db->wheel = timer_wheel_new(now_ms);
    db->next_rid = 1;
    db->now = now_ms;
    if (!db->wheel || htab_init(&db->by_key, offsetof(struct alert, next_key), key_h_of) ||
        htab_init(&db->by_res, offsetof(struct alert, next_res), res_h_of) ||
        htab_init(&db->by_id, offsetof(struct alert, next_id), id_hash)) {
        alertdb_free(db);
        return NULL;
    }
    return db;
}

void alertdb_free(struct alertdb *db)
{
    if (!db)
        return;
    timer_wheel_free(db->wheel); /* disarms every timer first */
    if (db->by_id.b) {
        for (size_t i = 0; i < htab_buckets(&db->by_id); i++) {
            struct alert *a = htab_bucket(&db->by_id, i);
            while (a) {
                struct alert *next = a->next_id;
                alert_free(a);
                a = next;
            }
        }
    }
    free(db->by_key.b);
    free(db->by_key.old);
    free(db->by_res.b);
    free(db->by_res.old);
    free(db->by_id.b);
    free(db->by_id.old);
    free(db);
}

const struct alertdb_cfg *alertdb_config(const struct alertdb *db)
{
    return &db->cfg;
}

static int sev_code(const struct alertdb *db, int idx)
{
    return idx >= 0 && (size_t)idx < db->cfg.sev.n ? db->cfg.sev.code[idx] : db->cfg.sev.normal;
}

static int indeterminate_name(const struct alertdb *db)
{
    for (size_t i = 0; i < db->cfg.sev.n; i++)
        if (db->cfg.sev.code[i] == db->cfg.sev.indeterminate)
            return (int)i;
    return db->cfg.sev.normal_name;
}

static void stats_add(struct alertdb *db, const struct alert *a, int delta)
{
    db->st.by_status[a->status] += (uint64_t)(int64_t)delta;
    if (a->sev_name < SEVMAP_MAX)
        db->st.by_status_sev[a->status][a->sev_name] += (uint64_t)(int64_t)delta;
}

/* Counts a in (delta 1) or out (delta -1) of the statistics by status and severity, and of the
 * facet counts (core/facets.h), as it enters or leaves the tables. */
static void account(struct alertdb *db, const struct alert *a, int delta)
{
    stats_add(db, a, delta);
    if (db->cfg.facets) {
        struct aview v[AF_COUNT];
        alert_views(a, v);
        facets_add(db->cfg.facets, v, a->status, a->sev_name, a->duplicate_count, delta);
    }
}

/* Every change of status or severity of a held alert is bracketed by account_out() and
 * account_in(): the statistics move, and so do its facet counts when either changed (a
 * duplicate that changes neither costs no facet look-up). */
struct cell {
    uint8_t status, sev;
};

static struct cell account_out(struct alertdb *db, const struct alert *a)
{
    stats_add(db, a, -1);
    return (struct cell){a->status, a->sev_name};
}

static void account_in(struct alertdb *db, const struct alert *a, struct cell was)
{
    stats_add(db, a, 1);
    if (db->cfg.facets && (was.status != a->status || was.sev != a->sev_name)) {
        struct aview v[AF_COUNT];
        alert_views(a, v);
        facets_move(db->cfg.facets, v, was.status, was.sev, a->status, a->sev_name,
                    a->duplicate_count);
    }
}

/* a's duplicateCount changed by d, in its current status: its event's sum (top10's). */
static void dups_changed(struct alertdb *db, const struct alert *a, int64_t d)
{
    if (db->cfg.facets && d) {
        struct aview ev = alert_get(a, AF_EVENT);
        facets_dups(db->cfg.facets, &ev, a->status, d);
    }
}

/* ---- retention list (closed and expired alerts, oldest first) --------------------------------- */

static bool in_ret(const struct alertdb *db, const struct alert *a)
{
    return a->ret_prev || db->ret_head == a;
}

static void ret_unlink(struct alertdb *db, struct alert *a)
{
    if (!in_ret(db, a))
        return;
    if (a->ret_prev)
        a->ret_prev->ret_next = a->ret_next;
    else
        db->ret_head = a->ret_next;
    if (a->ret_next)
        a->ret_next->ret_prev = a->ret_prev;
    else
        db->ret_tail = a->ret_prev;
    a->ret_prev = a->ret_next = NULL;
}

static void ret_sync(struct alertdb *db, struct alert *a)
{
    bool done = a->status == AST_CLOSED || a->status == AST_EXPIRED;

    if (done == in_ret(db, a))
        return;
    if (!done) {
        ret_unlink(db, a);
        return;
    }
    a->ret_prev = db->ret_tail;
    a->ret_next = NULL;
    if (db->ret_tail)
        db->ret_tail->ret_next = a;
    else
        db->ret_head = a;
    db->ret_tail = a;
}

/* ---- changes --------------------------------------------------------------------------------- */

static char *dup_or_null(const char *s, size_t n)
{
    char *d;

    if (!s)
        return NULL;
    d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static struct alert_change *change_new(enum achange_op op, uint64_t rid)
{
    struct alert_change *c = calloc(1, sizeof(*c));

    if (c) {
        c->op = op;
        c->rid = rid;
    }
    return c;
}

/* Appends a history entry to c and moves a's history bookkeeping. */
static int hist_add(struct alertdb *db, struct alert *a, struct alert_change *c, int type,
                    int sev_name, int status, const char *text, const char *user,
                    int32_t timeout_s, int64_t when)
{
    struct hist_entry *h, *nv = realloc(c->hist, (c->nhist + 1) * sizeof(*nv));
    struct aview ev = alert_get(a, AF_EVENT), val = alert_get(a, AF_VALUE);

    if (!nv)
        return TOCSIN_ENOMEM;
    c->hist = nv;
    h = &c->hist[c->nhist++];
    memset(h, 0, sizeof(*h));
    h->seq = ++a->hist_seq;
    h->type = (uint8_t)type;
    h->sev_name = (int16_t)sev_name;
    h->status = (int16_t)status;
    h->timeout_s = timeout_s;
    h->update_ms = when;
    h->event = dup_or_null(ev.p, ev.len);
    h->value = val.null ? NULL : dup_or_null(val.p, val.len);
    h->text = dup_or_null(text ? text : "", text ? strlen(text) : 0);
    h->user = user ? dup_or_null(user, strlen(user)) : NULL;
    if (a->hist_n < db->cfg.history_limit)
        a->hist_n++;
    else
        c->hist_keep_from = a->hist_seq - db->cfg.history_limit + 1;
    if (status >= 0) {
        if (type == HT_ACK)
            a->before_ack = a->hist_last;
        if (type == HT_SHELVE)
            a->before_shelve = a->hist_last;
        a->hist_prev = a->hist_last;
        a->hist_last = (uint8_t)status;
    }
    return h->event && h->text ? TOCSIN_OK : TOCSIN_ENOMEM;
}

/* Queues the change with a copy of the record as it is now. */
static int emit(struct alertdb *db, struct alert *a, struct alert_change *c)
{
    memcpy(c->id, a->id, 16);
    c->snap = alert_clone(a);
    if (!c->snap) {
        alert_change_free(c);
        return TOCSIN_ENOMEM;
    }
    return effects_push(db->fx, EFF_ACHANGE, c);
}

static bool done_status(int s)
{
    return s == AST_CLOSED || s == AST_EXPIRED;
}

/* The change kinds of going from (os, ocode) to (ns, ncode): status os -> ns and severity code
 * ocode -> ncode. What only the caller knows (create, changestate, unack, comment, eventscount)
 * it adds itself. Nothing while the alert stays in or enters blackout; leaving it for an active
 * status is unblackout alone (the ack or shelve it returns to is not news). */
static uint32_t chg_bits(const struct alertdb *db, int os, int ns, int ocode, int ncode)
{
    uint32_t m = 0;

    if (ns == AST_BLACKOUT)
        return 0;
    if (ns != os) {
        if (ns == AST_CLOSED)
            m |= CHG_BIT(CHG_RESOLVE);
        else if (ns == AST_EXPIRED)
            m |= CHG_BIT(CHG_EXPIRE);
        else if (os == AST_BLACKOUT)
            m |= CHG_BIT(CHG_UNBLACKOUT);
        else {
            if (done_status(os))
                m |= CHG_BIT(CHG_REOPEN);
            if (ns == AST_ACK)
                m |= CHG_BIT(CHG_ACK);
            if (ns == AST_SHELVED)
                m |= CHG_BIT(CHG_SHELVE);
        }
        if (os == AST_ACK && !done_status(ns))
            m |= CHG_BIT(CHG_ACKREMOVE);
        if (os == AST_SHELVED && !done_status(ns))
            m |= CHG_BIT(CHG_UNSHELVE);
    }
    if (ncode != ocode && ncode != db->cfg.sev.normal)
        m |= CHG_BIT(ncode < ocode ? CHG_STATEINC : CHG_STATEDEC);
    return m;
}

/* Records the state before a change (call before changing a). */
static void chg_before(struct alert_change *c, const struct alert *a)
{
    c->prev_status = a->status;
    c->prev_severity = a->severity;
}

/* ---- timers ---------------------------------------------------------------------------------- */

static int64_t add_s(int64_t ms, int64_t s)
{
    return s > (INT64_MAX - ms) / 1000 ? INT64_MAX : ms + s * 1000;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Deadlines of a, with the deletion thresholds given (so housekeeping can override them). */
struct due {
    int64_t expire, timeout, del;
};

static struct due due_of(const struct alertdb *db, const struct alert *a, int64_t exp_after,
                         int64_t info_after)
{
    struct due d = {INT64_MAX, INT64_MAX, INT64_MAX};

    if (a->status != AST_EXPIRED && a->status != AST_CLOSED && a->timeout_s > 0)
        d.expire = add_s(a->last_receive_ms, a->timeout_s);
    if ((a->status == AST_SHELVED || a->status == AST_ACK) && a->action_timeout_s > 0)
        d.timeout = add_s(a->action_ms, a->action_timeout_s);
    if ((a->status == AST_CLOSED || a->status == AST_EXPIRED) && exp_after > 0)
        d.del = add_s(a->last_receive_ms, exp_after);
    if (sev_code(db, a->sev_name) == db->cfg.sev.informational && info_after > 0)
        d.del = min64(d.del, add_s(a->last_receive_ms, info_after));
    return d;
}

static void rearm(struct alertdb *db, struct alert *a)
{
    struct due d = due_of(db, a, db->cfg.delete_expired_after_s, db->cfg.delete_info_after_s);
    int64_t next = min64(d.expire, min64(d.timeout, d.del));

    if (next == INT64_MAX) {
        timer_cancel(db->wheel, &a->tm);
        return;
    }
    timer_arm(db->wheel, &a->tm, next);
}

/* ---- index ----------------------------------------------------------------------------------- */

/* a's hashes set (set_hashes). */
static void index_add(struct alertdb *db, struct alert *a)
{
    htab_add(&db->by_key, a, a->key_h);
    htab_add(&db->by_res, a, a->res_h);
    htab_add(&db->by_id, a, id_hash(a));
    if (db->cfg.sidx)
        (void)sidx_put(db->cfg.sidx, a->id, a->rid); /* a failure makes readers scan */
    db->st.alerts++;
    account(db, a, 1);
    db->st.heap_bytes += alert_heap_bytes(a);
    ret_sync(db, a);
}

static void index_del(struct alertdb *db, struct alert *a)
{
    htab_del(&db->by_key, a, a->key_h);
    htab_del(&db->by_res, a, a->res_h);
    htab_del(&db->by_id, a, id_hash(a));
    if (db->cfg.sidx)
        sidx_del(db->cfg.sidx, a->id, a->rid);
    db->st.alerts--;
    account(db, a, -1);
    db->st.heap_bytes -= alert_heap_bytes(a);
    ret_unlink(db, a);
    timer_cancel(db->wheel, &a->tm);
}

static bool view_eq(const struct aview *v, const char *s, size_t n)
{
    return v->len == n && (!n || !memcmp(v->p, s, n));
}

static bool cust_eq(const struct alert *a, const char *cust)
{
    struct aview c = alert_get(a, AF_CUSTOMER);

    if (c.null || !cust)
        return c.null && !cust;
    return view_eq(&c, cust, strlen(cust));
}

static bool same_res(const struct alert *a, const char *env, const char *res, const char *cust)
{
    struct aview e = alert_get(a, AF_ENVIRONMENT), r = alert_get(a, AF_RESOURCE);
    return view_eq(&e, env, strlen(env)) && view_eq(&r, res, strlen(res)) && cust_eq(a, cust);
}

/* A key as views of its four fields; the customer's null when there is none. */
struct keyv {
    struct aview ev, env, res, cust;
};

static bool view_same(const struct aview *a, const struct aview *b)
{
    return a->null == b->null && (a->null || view_eq(a, b->p, b->len));
}

/* Whether a's key is k (the event first: it tells most keys of one resource apart). */
static bool key_is(const struct alert *a, const struct keyv *k)
{
    struct aview v = alert_get(a, AF_EVENT);

    if (!view_same(&v, &k->ev))
        return false;
    v = alert_get(a, AF_ENVIRONMENT);
    if (!view_same(&v, &k->env))
        return false;
    v = alert_get(a, AF_RESOURCE);
    if (!view_same(&v, &k->res))
        return false;
    v = alert_get(a, AF_CUSTOMER);
    return view_same(&v, &k->cust);
}

/* The held alert with key k, whose key hash is kh. */
static struct alert *key_find(struct alertdb *db, uint32_t kh, const struct keyv *k)
{
    for (int w = 0; w < 2; w++)
        for (struct alert *a = htab_chain(&db->by_key, kh, w); a; a = a->next_key)
            if (a->key_h == kh && key_is(a, k)) /* another hash: its blob is not read */
                return a;
    return NULL;
}

static struct aview view_of(const char *s)
{
    return s ? (struct aview){s, (uint32_t)strlen(s), 0, false} : (struct aview){"", 0, 0, true};
}

struct alert *alertdb_find_key(struct alertdb *db, const char *env, const char *res,
                               const char *event, const char *cust)
{
    struct keyv k = {view_of(event), view_of(env), view_of(res), view_of(cust)};
    uint64_t rh =
        res_hash_parts(k.env.p, k.env.len, k.res.p, k.res.len, k.cust.p, k.cust.len, k.cust.null);

    return key_find(db, (uint32_t)key_hash_parts(rh, k.ev.p, k.ev.len), &k);
}

/* An alert of (env, res, cust) with another event whose correlate list holds `event`. */
static struct alert *find_correlated(struct alertdb *db, const char *env, const char *res,
                                     const char *event, const char *cust)
{
    uint64_t rh = res_hash_parts(env, strlen(env), res, strlen(res), cust ? cust : "",
                                 cust ? strlen(cust) : 0, !cust);

    for (int w = 0; w < 2; w++) {
        for (struct alert *a = htab_chain(&db->by_res, (uint32_t)rh, w); a; a = a->next_res) {
            struct aview ev, corr;
            if (a->res_h != (uint32_t)rh)
                continue;
            ev = alert_get(a, AF_EVENT);
            if (view_eq(&ev, event, strlen(event)) || !same_res(a, env, res, cust))
                continue;
            corr = alert_get(a, AF_CORRELATE);
            if (aview_has(&corr, event))
                return a;
        }
    }
    return NULL;
}

struct alert *alertdb_find(struct alertdb *db, const uint8_t id[16])
{
    uint64_t h = uuid_hash(id);

    for (int w = 0; w < 2; w++)
        for (struct alert *a = htab_chain(&db->by_id, h, w); a; a = a->next_id)
            if (!memcmp(a->id, id, 16))
                return a;
    return NULL;
}

/* ---- building blobs -------------------------------------------------------------------------- */

/* Scratch for a record's new blob: one growable buffer per list/map field. */
struct parts {
    struct ablob_parts p;
    struct buf b[AF_COUNT];
};

static void parts_init(struct parts *pp)
{
    memset(pp, 0, sizeof(*pp));
    for (int f = 0; f < AF_COUNT; f++)
        buf_init(&pp->b[f], ALERT_BLOB_MAX);
}

static void parts_free(struct parts *pp)
{
    for (int f = 0; f < AF_COUNT; f++)
        buf_free(&pp->b[f]);
}

static void set_str(struct parts *pp, enum afield f, const char *s)
{
    pp->p.f[f].p = s ? s : "";
    pp->p.f[f].len = s ? (uint32_t)strlen(s) : 0;
    pp->p.f[f].null = !s;
}

static void keep(struct parts *pp, const struct alert *a, enum afield f)
{
    pp->p.f[f] = alert_get(a, f);
}

static int put_item(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s) + 1);
}

static void use_buf(struct parts *pp, enum afield f)
{
    pp->p.f[f].p = pp->b[f].p ? pp->b[f].p : "";
    pp->p.f[f].len = (uint32_t)pp->b[f].len;
}

static int list_from(struct parts *pp, enum afield f, const struct strlist *l)
{
    int rc = 0;

    buf_reset(&pp->b[f]);
    for (uint32_t i = 0; i < l->n; i++) {
        bool dup = false; /* Alerta keeps a list; a duplicate item in one list is kept once */
        for (uint32_t j = 0; j < i && !dup; j++)
            dup = !strcmp(l->v[i], l->v[j]);
        if (!dup)
            rc |= put_item(&pp->b[f], l->v[i]);
    }
    use_buf(pp, f);
    return rc;
}

/* Set union: the stored items, then new ones in the order given. */
static int list_union(struct parts *pp, const struct alert *a, enum afield f,
                      const struct strlist *add)
{
    struct aview old = alert_get(a, f);
    int rc = 0;

    buf_reset(&pp->b[f]);
    rc |= buf_append(&pp->b[f], old.p, old.len);
    for (uint32_t i = 0; i < add->n; i++) {
        struct aview cur = {pp->b[f].p ? pp->b[f].p : "", (uint32_t)pp->b[f].len, 0, false};
        if (!aview_has(&cur, add->v[i]))
            rc |= put_item(&pp->b[f], add->v[i]);
    }
    use_buf(pp, f);
    return rc;
}

static int list_minus(struct parts *pp, const struct alert *a, enum afield f,
                      const struct strlist *del)
{
    struct aview old = alert_get(a, f);
    uint32_t pos = 0;
    const char *item;
    int rc = 0;

    buf_reset(&pp->b[f]);
    while (aview_next(&old, &pos, &item, NULL)) {
        bool drop = false;
        for (uint32_t i = 0; i < del->n && !drop; i++)
            drop = !strcmp(del->v[i], item);
        if (!drop)
            rc |= put_item(&pp->b[f], item);
    }
    use_buf(pp, f);
    return rc;
}

static const struct kv *kv_find(const struct kvlist *l, const char *k)
{
    /* the last value given for a key wins, as in a JSON object read by Python */
    for (uint32_t i = l->n; i-- > 0;)
        if (!strcmp(l->v[i].k, k))
            return &l->v[i];
    return NULL;
}

/* Shallow merge: stored pairs with incoming values replacing them, then new keys; with
 * `null_deletes`, an incoming "null" removes the key (attributes). */
static int map_merge(struct parts *pp, const struct alert *a, enum afield f,
                     const struct kvlist *in, bool null_deletes)
{
    struct aview old = a ? alert_get(a, f) : (struct aview){"", 0, 0, false};
    uint32_t pos = 0;
    const char *k, *v;
    int rc = 0;
    struct buf *b = &pp->b[f];

    buf_reset(b);
    while (aview_next(&old, &pos, &k, &v)) {
        const struct kv *n = kv_find(in, k);
        if (n) {
            if (null_deletes && !strcmp(n->v, "null"))
                continue;
            v = n->v;
        }
        rc |= put_item(b, k);
        rc |= put_item(b, v);
    }
    for (uint32_t i = 0; i < in->n; i++) {
        const struct kv *n = kv_find(in, in->v[i].k);
        uint32_t p2 = 0;
        bool seen = false;
        const char *k2, *v2;
        if (n != &in->v[i])
            continue; /* an earlier copy of a repeated key */
        if (null_deletes && !strcmp(n->v, "null"))
            continue;
        while (!seen && aview_next(&old, &p2, &k2, &v2))
            seen = !strcmp(k2, n->k);
        if (seen)
            continue;
        rc |= put_item(b, n->k);
        rc |= put_item(b, n->v);
    }
    use_buf(pp, f);
    return rc;
}

static int map_replace(struct parts *pp, enum afield f, const struct kvlist *in)
{
    return map_merge(pp, NULL, f, in, false);
}

/* ---- receive --------------------------------------------------------------------------------- */

static void fingerprint_of(const char *env, const char *res, const char *event, const char *cust,
                           char out[33])
{
    unsigned char h[16];
    crypto_generichash_state st;
    static const char hex[] = "0123456789abcdef";

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const unsigned char *)env, strlen(env) + 1);
    crypto_generichash_update(&st, (const unsigned char *)res, strlen(res) + 1);
    crypto_generichash_update(&st, (const unsigned char *)event, strlen(event) + 1);
    if (cust)
        crypto_generichash_update(&st, (const unsigned char *)cust, strlen(cust));
    crypto_generichash_final(&st, h, sizeof(h));
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[32] = '\0';
}

static int32_t timeout_of(const struct alertdb *db, const struct alert_in *in)
{
    int64_t t = in->timeout_s >= 0 ? in->timeout_s : db->cfg.default_timeout_s;
    return (int32_t)(t > INT32_MAX ? INT32_MAX : t);
}

/* Within an account(-1) .. account(1) bracket. */
static void set_status(struct alertdb *db, struct alert *a, int status)
{
    if (a->status == status)
        return;
    a->status = (uint8_t)status;
    ret_sync(db, a);
}

/* Whether pp changes a field a facet counts (the environment never changes: it is in the key). */
static bool facets_change(const struct aview v[AF_COUNT], const struct parts *pp)
{
    static const enum afield fs[] = {AF_EVENT, AF_GROUP, AF_SERVICE, AF_TAGS};

    for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
        const struct aview *o = &v[fs[i]], *n = &pp->p.f[fs[i]];
        if (o->len != n->len || (o->len && memcmp(o->p, n->p, o->len)))
            return true;
    }
    return false;
}

/* Replaces a's blob with pp (keeping the statistics and the facet counts right). */
static int commit_blob(struct alertdb *db, struct alert *a, struct parts *pp)
{
    size_t before = alert_heap_bytes(a);
    struct aview v[AF_COUNT];
    bool refacet = false;
    int rc;

    if (db->cfg.facets) {
        alert_views(a, v);
        if ((refacet = facets_change(v, pp)))
            facets_add(db->cfg.facets, v, a->status, a->sev_name, a->duplicate_count, -1);
    }
    rc = alert_set_blob(a, &pp->p);
    if (refacet) { /* the new values, or the old ones again if the blob could not be replaced */
        alert_views(a, v);
        facets_add(db->cfg.facets, v, a->status, a->sev_name, a->duplicate_count, 1);
    }
    db->st.heap_bytes = db->st.heap_bytes - before + alert_heap_bytes(a);
    return rc;
}

static void new_lrid(struct alert *a, const struct alert_in *in)
{
    char txt[37];

    if (in->id && uuid_from_text(in->id, strlen(in->id), a->last_receive_id))
        return;
    id_uuid4(txt);
    uuid_from_text(txt, 36, a->last_receive_id);
}

static int evict_one(struct alertdb *db)
{
    struct alert *v = db->ret_head;
    struct alert_change *c;

    if (!v)
        return TOCSIN_EFULL;
    c = change_new(ACH_DEL, v->rid);
    if (!c)
        return TOCSIN_ENOMEM;
    chg_before(c, v);
    memcpy(c->id, v->id, 16);
    index_del(db, v);
    alert_free(v);
    db->st.evicted++;
    return effects_push(db->fx, EFF_ACHANGE, c);
}

/* rawData goes from the request to the row, never into the record. */
static void take_raw(struct alert_change *c, const struct alert_in *in)
{
    c->raw_set = true;
    c->raw = in->raw_data ? dup_or_null(in->raw_data, strlen(in->raw_data)) : NULL;
}

/* A new record's fixed fields: ids, times, severities, and its status by the receive rules. */
static void new_header(struct alertdb *db, struct alert *a, const struct alert_in *in,
                       bool blackout)
{
    int sev = in->severity >= 0 ? in->severity : db->cfg.sev.normal_name;
    struct transition t;
    char idtxt[37];

    timer_init(&a->tm, on_timer);
    a->rid = db->next_rid++;
    /* the sender's id when it gave a UUID not in use, else a new one */
    if (!in->id || !uuid_from_text(in->id, strlen(in->id), a->id) || alertdb_find(db, a->id)) {
        id_uuid4(idtxt);
        uuid_from_text(idtxt, 36, a->id);
    }
    memcpy(a->last_receive_id, a->id, 16);
    a->create_ms = in->create_ms ? in->create_ms : db->now;
    a->receive_ms = a->last_receive_ms = a->update_ms = db->now;
    a->starts_ms = in->starts_ms;
    a->ends_ms = in->ends_ms;
    a->timeout_s = timeout_of(db, in);
    a->prev_sev_name = (uint8_t)indeterminate_name(db);
    a->previous_severity = db->cfg.sev.indeterminate;
    a->status = AST_OPEN;
    a->hist_last = a->hist_prev = a->before_ack = a->before_shelve = AST_UNKNOWN;
    t = alert_receive_transition(&db->cfg.sev, a, sev, a->prev_sev_name, in->status);
    a->status = (uint8_t)(blackout ? AST_BLACKOUT : t.status);
    a->sev_name = (uint8_t)t.sev_name;
    a->severity = (uint8_t)sev_code(db, t.sev_name);
    a->trend = (uint8_t)alert_trend(a->previous_severity, sev_code(db, sev));
}

/* A new record's strings, lists and maps, with Alerta's defaults. */
static int new_blob(struct alert *a, const struct alert_in *in, const char *env,
                    const char *origin, const char *source)
{
    struct parts pp;
    struct strlist corr = in->correlate;
    const char *tmp[ALERT_MAX_ITEMS + 1];
    char fp[33];
    int rc;

    parts_init(&pp);
    set_str(&pp, AF_RESOURCE, in->resource);
    set_str(&pp, AF_EVENT, in->event);
    set_str(&pp, AF_ENVIRONMENT, env);
    set_str(&pp, AF_GROUP, in->group ? in->group : "Misc");
    set_str(&pp, AF_VALUE, in->value);
    set_str(&pp, AF_TEXT, in->text ? in->text : "");
    set_str(&pp, AF_ORIGIN, in->origin ? in->origin : origin);
    set_str(&pp, AF_TYPE, in->type ? in->type : "exceptionAlert");
    set_str(&pp, AF_CUSTOMER, in->customer);
    set_str(&pp, AF_SOURCE, in->source ? in->source : source);
    if (!in->fingerprint)
        fingerprint_of(env, in->resource, in->event, in->customer, fp);
    set_str(&pp, AF_FINGERPRINT, in->fingerprint ? in->fingerprint : fp);
    set_str(&pp, AF_GENERATOR_URL, in->generator_url ? in->generator_url : "");
    /* Alerta adds the event itself to a non-empty correlate list (list_from drops the copy
     * when the sender's list holds it already) */
    if (corr.n && corr.n <= ALERT_MAX_ITEMS) {
        memcpy(tmp, corr.v, corr.n * sizeof(*tmp));
        tmp[corr.n] = in->event;
        corr.v = tmp;
        corr.n++;
    }
    rc = list_from(&pp, AF_SERVICE, &in->service);
    rc |= list_from(&pp, AF_TAGS, &in->tags);
    rc |= list_from(&pp, AF_CORRELATE, &corr);
    rc |= map_merge(&pp, NULL, AF_ATTRIBUTES, &in->attributes, true);
    rc |= map_replace(&pp, AF_LABELS, &in->labels);
    rc |= map_replace(&pp, AF_ANNOTATIONS, &in->annotations);
    if (!rc)
        rc = alert_set_blob(a, &pp.p);
    parts_free(&pp);
    return rc ? TOCSIN_ENOMEM : TOCSIN_OK;
}

static int receive_new(struct alertdb *db, const struct alert_in *in, const char *env,
                       const char *origin, const char *source, const char *user, bool blackout,
                       struct alert **out)
{
    struct alert *a;
    struct alert_change *c;
    int rc;

    if (db->st.alerts >= db->cfg.max_alerts && (rc = evict_one(db))) {
        db->st.refused++;
        return rc;
    }
    a = calloc(1, sizeof(*a));
    c = change_new(ACH_PUT, 0);
    if (!a || !c) {
        free(a);
        alert_change_free(c);
        return TOCSIN_ENOMEM;
    }
    new_header(db, a, in, blackout);
    c->rid = a->rid;
    c->prev_status = AST_UNKNOWN;
    c->prev_severity = a->previous_severity;
    if (a->status != AST_BLACKOUT && a->status != AST_CLOSED)
        c->chg = CHG_BIT(CHG_CREATE);
    if (new_blob(a, in, env, origin, source) ||
        hist_add(db, a, c, HT_NEW, a->sev_name, a->status, in->text, user, a->timeout_s,
                 db->now)) {
        alert_free(a);
        alert_change_free(c);
        return TOCSIN_ENOMEM;
    }
    if (in->flags & AIN_RAW)
        take_raw(c, in);
    set_hashes(a);
    index_add(db, a);
    rearm(db, a);
    db->st.created++;
    *out = a;
    return emit(db, a, c);
}

/* Fields a duplicate and a correlated alert both take from the incoming one. */
static int take_common(struct alertdb *db, struct alert *a, const struct alert_in *in,
                       struct parts *pp, bool rekey_event)
{
    int rc;

    for (int f = 0; f < AF_COUNT; f++)
        keep(pp, a, (enum afield)f);
    if (rekey_event)
        set_str(pp, AF_EVENT, in->event);
    set_str(pp, AF_VALUE, in->value);
    set_str(pp, AF_TEXT, in->text ? in->text : "");
    rc = list_from(pp, AF_SERVICE, &in->service);
    rc |= list_union(pp, a, AF_TAGS, &in->tags);
    rc |= map_merge(pp, a, AF_ATTRIBUTES, &in->attributes, true);
    if (in->flags & AIN_LABELS)
        rc |= map_replace(pp, AF_LABELS, &in->labels);
    if (in->flags & AIN_ANNOTATIONS)
        rc |= map_replace(pp, AF_ANNOTATIONS, &in->annotations);
    if (in->generator_url)
        set_str(pp, AF_GENERATOR_URL, in->generator_url);
    a->timeout_s = timeout_of(db, in);
    a->last_receive_ms = db->now;
    if (in->ends_ms)
        a->ends_ms = in->ends_ms;
    new_lrid(a, in);
    return rc;
}

static bool value_changed(const struct alert *a, const struct alert_in *in)
{
    struct aview v = alert_get(a, AF_VALUE);

    if (v.null || !in->value)
        return v.null != !in->value;
    return !view_eq(&v, in->value, strlen(in->value));
}

static int receive_dup(struct alertdb *db, struct alert *a, const struct alert_in *in,
                       const char *user, bool blackout)
{
    struct parts pp;
    struct alert_change *c = change_new(ACH_PUT, a->rid);
    struct transition t;
    bool vchange = value_changed(a, in);
    int old_status = a->status, rc;

    if (!c)
        return TOCSIN_ENOMEM;
    chg_before(c, a);
    /* Alerta runs the rules with the incoming alert, whose previousSeverity is the default: a
     * duplicate never re-opens an ack by "increasing" from the stored previous severity. */
    t = alert_receive_transition(&db->cfg.sev, a, a->sev_name, indeterminate_name(db),
                                 in->status);
    if (blackout)
        t.status = AST_BLACKOUT;
    parts_init(&pp);
    rc = take_common(db, a, in, &pp, false);
    if (!rc)
        rc = commit_blob(db, a, &pp);
    parts_free(&pp);
    if (rc) {
        alert_change_free(c);
        return TOCSIN_ENOMEM;
    }
    a->duplicate_count++;
    dups_changed(db, a, 1);
    a->repeat = true;
    c->chg = chg_bits(db, old_status, t.status, a->severity, a->severity);
    if (t.status != AST_BLACKOUT)
        c->chg |= CHG_BIT(CHG_EVENTSCOUNT);
    struct cell was = account_out(db, a);
    set_status(db, a, t.status);
    account_in(db, a, was);
    if (t.status != old_status) {
        a->update_ms = db->now;
        rc = hist_add(db, a, c, HT_STATUS, a->sev_name, t.status, in->text, user, a->timeout_s,
                      db->now);
    } else if (vchange && db->cfg.history_on_value_change) {
        a->update_ms = db->now;
        rc = hist_add(db, a, c, HT_VALUE, a->sev_name, t.status, in->text, user, a->timeout_s,
                      db->now);
    }
    if (rc) {
        alert_change_free(c);
        return rc;
    }
    if (t.status != AST_SHELVED && t.status != AST_ACK)
        a->action_timeout_s = 0;
    take_raw(c, in);
    db->st.duplicates++;
    rearm(db, a);
    return emit(db, a, c);
}

static int receive_corr(struct alertdb *db, struct alert *a, const struct alert_in *in,
                        const char *user, bool blackout)
{
    struct parts pp;
    struct alert_change *c = change_new(ACH_PUT, a->rid);
    struct transition t;
    int sev = in->severity >= 0 ? in->severity : db->cfg.sev.normal_name;
    struct aview ev = alert_get(a, AF_EVENT);
    bool rekey = !view_eq(&ev, in->event, strlen(in->event));
    int rc;

    if (!c)
        return TOCSIN_ENOMEM;
    chg_before(c, a);
    if (rekey) { /* the key moves with the event */
        htab_del(&db->by_key, a, a->key_h);
    }
    t = alert_receive_transition(&db->cfg.sev, a, sev, a->sev_name, in->status);
    if (blackout)
        t.status = AST_BLACKOUT;
    parts_init(&pp);
    rc = take_common(db, a, in, &pp, rekey);
    if (!rc)
        rc = commit_blob(db, a, &pp);
    parts_free(&pp);
    if (rekey) {
        set_hashes(a);
        htab_add(&db->by_key, a, a->key_h);
    }
    if (rc) {
        alert_change_free(c);
        return TOCSIN_ENOMEM;
    }
    c->chg = chg_bits(db, a->status, t.status, a->severity, sev_code(db, t.sev_name));
    struct cell was = account_out(db, a);
    a->prev_sev_name = a->sev_name;
    a->previous_severity = a->severity;
    a->sev_name = (uint8_t)t.sev_name;
    a->severity = (uint8_t)sev_code(db, t.sev_name);
    a->trend = (uint8_t)alert_trend(a->previous_severity, a->severity);
    dups_changed(db, a, -(int64_t)a->duplicate_count);
    a->duplicate_count = 0;
    a->repeat = false;
    a->create_ms = in->create_ms ? in->create_ms : db->now;
    a->receive_ms = db->now;
    a->update_ms = db->now;
    set_status(db, a, t.status);
    account_in(db, a, was);
    if (t.status != AST_SHELVED && t.status != AST_ACK)
        a->action_timeout_s = 0;
    rc = hist_add(db, a, c, HT_SEVERITY, a->sev_name, t.status, in->text, user, a->timeout_s,
                  a->create_ms);
    if (rc) {
        alert_change_free(c);
        return rc;
    }
    take_raw(c, in);
    db->st.correlated++;
    rearm(db, a);
    return emit(db, a, c);
}

int alertdb_receive(struct alertdb *db, const struct alert_in *in, const char *origin_default,
                    const char *source_default, const char *user, bool blackout, int64_t now_ms,
                    struct effects *fx, struct alert **out, int *kind)
{
    const char *env = in->environment ? in->environment : "";
    struct alert *a;
    int rc;

    db->fx = fx;
    db->now = now_ms;
    db->st.received++;
    a = alertdb_find_key(db, env, in->resource, in->event, in->customer);
    if (a) {
        int sev = in->severity >= 0 ? in->severity : db->cfg.sev.normal_name;
        if (sev == a->sev_name) {
            *kind = RECV_DUPLICATE;
            rc = receive_dup(db, a, in, user, blackout);
        } else {
            *kind = RECV_CORRELATED;
            rc = receive_corr(db, a, in, user, blackout);
        }
        *out = a;
        return rc;
    }
    a = find_correlated(db, env, in->resource, in->event, in->customer);
    if (a) {
        *kind = RECV_CORRELATED;
        *out = a;
        return receive_corr(db, a, in, user, blackout);
    }
    *kind = RECV_NEW;
    return receive_new(db, in, env, origin_default ? origin_default : "tocsin",
                       source_default ? source_default : "alerta", user, blackout, out);
}

/* ---- operator changes ------------------------------------------------------------------------ */

static int action_htype(int action)
{
    switch (action) {
    case ACT_OPEN: return HT_OPEN;
    case ACT_ASSIGN: return HT_ASSIGN;
    case ACT_ACK: return HT_ACK;
    case ACT_UNACK: return HT_UNACK;
    case ACT_SHELVE: return HT_SHELVE;
    case ACT_UNSHELVE: return HT_UNSHELVE;
    case ACT_CLOSE: return HT_CLOSE;
    case ACT_EXPIRED: return HT_EXPIRED;
    case ACT_TIMEOUT: return HT_TIMEOUT;
    default: return HT_ACTION;
    }
}

/* Applies a transition with its history entry. */
static int apply_transition(struct alertdb *db, struct alert *a, int action,
                            const struct transition *t, const char *text, int64_t timeout_s,
                            const char *user)
{
    struct alert_change *c = change_new(ACH_PUT, a->rid);
    int old = a->status, rc;
    int32_t hto;

    if (!c)
        return TOCSIN_ENOMEM;
    if (timeout_s < 0)
        timeout_s = action == ACT_SHELVE ? db->cfg.shelve_timeout_s
                    : action == ACT_ACK  ? db->cfg.ack_timeout_s
                                         : a->timeout_s;
    hto = (int32_t)(timeout_s > INT32_MAX ? INT32_MAX : timeout_s);
    chg_before(c, a);
    c->chg = chg_bits(db, a->status, t->status, a->severity, sev_code(db, t->sev_name));
    if (action == ACT_UNACK && t->status != AST_BLACKOUT)
        c->chg |= CHG_BIT(CHG_UNACK);
    struct cell was = account_out(db, a);
    if (t->sev_name != a->sev_name) {
        a->prev_sev_name = a->sev_name;
        a->previous_severity = a->severity;
        a->sev_name = (uint8_t)t->sev_name;
        a->severity = (uint8_t)sev_code(db, t->sev_name);
        a->trend = (uint8_t)alert_trend(a->previous_severity, a->severity);
    }
    set_status(db, a, t->status);
    account_in(db, a, was);
    if (t->status != old)
        a->update_ms = db->now;
    if (action == ACT_ACK || action == ACT_SHELVE) {
        a->action_ms = db->now;
        a->action_timeout_s = hto;
    } else if (t->status != AST_ACK && t->status != AST_SHELVED) {
        a->action_timeout_s = 0;
    }
    rc = hist_add(db, a, c, action_htype(action), a->sev_name, t->status, text, user, hto,
                  db->now);
    if (rc) {
        alert_change_free(c);
        return rc;
    }
    rearm(db, a);
    return emit(db, a, c);
}

static struct alert *begin(struct alertdb *db, const uint8_t id[16], int64_t now_ms,
                           struct effects *fx)
{
    db->fx = fx;
    db->now = now_ms;
    return alertdb_find(db, id);
}

int alertdb_action(struct alertdb *db, const uint8_t id[16], const char *action, const char *text,
                   int64_t timeout_s, const char *user, int64_t now_ms, struct effects *fx,
                   char *why, size_t whylen)
{
    struct alert *a = begin(db, id, now_ms, fx);
    int act = aaction_parse(action);
    struct transition t;

    if (!a)
        return TOCSIN_ENOTFOUND;
    if (alert_action_transition(&db->cfg.sev, a, act, &t, why, whylen))
        return TOCSIN_ECONFLICT;
    return apply_transition(db, a, act, &t, text, timeout_s, user);
}

int alertdb_set_status(struct alertdb *db, const uint8_t id[16], int status, const char *text,
                       int64_t timeout_s, const char *user, int64_t now_ms, struct effects *fx)
{
    struct alert *a = begin(db, id, now_ms, fx);
    struct alert_change *c;
    int rc;

    if (!a)
        return TOCSIN_ENOTFOUND;
    c = change_new(ACH_PUT, a->rid);
    if (!c)
        return TOCSIN_ENOMEM;
    chg_before(c, a);
    c->chg = chg_bits(db, a->status, status, a->severity, a->severity);
    if (status != a->status && status != AST_BLACKOUT)
        c->chg |= CHG_BIT(CHG_CHANGESTATE);
    if (status != a->status)
        a->update_ms = now_ms;
    struct cell was = account_out(db, a);
    set_status(db, a, status);
    account_in(db, a, was);
    if (status != AST_ACK && status != AST_SHELVED)
        a->action_timeout_s = 0;
    rc = hist_add(db, a, c, HT_STATUS, a->sev_name, status, text, user,
                  (int32_t)(timeout_s >= 0 && timeout_s < INT32_MAX ? timeout_s : a->timeout_s),
                  now_ms);
    if (rc) {
        alert_change_free(c);
        return rc;
    }
    rearm(db, a);
    return emit(db, a, c);
}

/* Rewrites one list or map field of an alert (tags, attributes): `edit` fills pp's field from
 * the record; the change has no history entry (Alerta adds none). */
typedef int (*field_edit_fn)(struct parts *pp, const struct alert *a, const void *arg);

static int edit_field(struct alertdb *db, const uint8_t id[16], int64_t now_ms,
                      struct effects *fx, field_edit_fn edit, const void *arg)
{
    struct alert *a = begin(db, id, now_ms, fx);
    struct alert_change *c;
    struct parts pp;
    int rc;

    if (!a)
        return TOCSIN_ENOTFOUND;
    c = change_new(ACH_PUT, a->rid);
    if (!c)
        return TOCSIN_ENOMEM;
    chg_before(c, a); /* chg 0: tags and attributes are no alert change kind */
    parts_init(&pp);
    for (int f = 0; f < AF_COUNT; f++)
        keep(&pp, a, (enum afield)f);
    rc = edit(&pp, a, arg);
    if (!rc)
        rc = commit_blob(db, a, &pp);
    parts_free(&pp);
    if (rc) {
        alert_change_free(c);
        return TOCSIN_ENOMEM;
    }
    return emit(db, a, c);
}

static int edit_tag(struct parts *pp, const struct alert *a, const void *arg)
{
    return list_union(pp, a, AF_TAGS, arg);
}

static int edit_untag(struct parts *pp, const struct alert *a, const void *arg)
{
    return list_minus(pp, a, AF_TAGS, arg);
}

static int edit_attributes(struct parts *pp, const struct alert *a, const void *arg)
{
    return map_merge(pp, a, AF_ATTRIBUTES, arg, true);
}

int alertdb_tag(struct alertdb *db, const uint8_t id[16], const struct strlist *tags, bool untag,
                int64_t now_ms, struct effects *fx)
{
    return edit_field(db, id, now_ms, fx, untag ? edit_untag : edit_tag, tags);
}

int alertdb_attributes(struct alertdb *db, const uint8_t id[16], const struct kvlist *attrs,
                       int64_t now_ms, struct effects *fx)
{
    return edit_field(db, id, now_ms, fx, edit_attributes, attrs);
}

int alertdb_note(struct alertdb *db, const uint8_t id[16], const char *text, const char *user,
                 int64_t now_ms, struct effects *fx, char note_id_out[37])
{
    struct alert *a = begin(db, id, now_ms, fx);
    struct alert_change *c, *n;
    int rc;

    if (!a)
        return TOCSIN_ENOTFOUND;
    c = change_new(ACH_PUT, a->rid);
    n = change_new(ACH_NOTE, a->rid);
    if (!c || !n) {
        alert_change_free(c);
        alert_change_free(n);
        return TOCSIN_ENOMEM;
    }
    chg_before(c, a);
    chg_before(n, a);
    c->chg = CHG_BIT(CHG_COMMENT);
    memcpy(n->id, a->id, 16);
    id_uuid4(n->note_id);
    memcpy(note_id_out, n->note_id, 37);
    n->note_text = dup_or_null(text, strlen(text));
    n->note_user = user ? dup_or_null(user, strlen(user)) : NULL;
    n->note_ms = now_ms;
    rc = hist_add(db, a, c, HT_NOTE, a->sev_name, a->status, text, user, a->timeout_s, now_ms);
    if (rc || !n->note_text) {
        alert_change_free(c);
        alert_change_free(n);
        return TOCSIN_ENOMEM;
    }
    if ((rc = emit(db, a, c))) {
        alert_change_free(n);
        return rc;
    }
    return effects_push(fx, EFF_ACHANGE, n);
}

/* ---- blackouts ------------------------------------------------------------------------------ */

static int release_one(struct alertdb *db, struct alert *a)
{
    struct alert_change *c = change_new(ACH_PUT, a->rid);
    int to = a->hist_prev, rc;

    if (!c)
        return TOCSIN_ENOMEM;
    /* Alerta's previous status defaults to open; a "blackout" before the blackout (a correlated
     * alert received during it) would keep the alert there for good, so it re-opens too. */
    if (to == AST_UNKNOWN || to == AST_BLACKOUT || to >= AST_COUNT)
        to = AST_OPEN;
    chg_before(c, a);
    c->chg = chg_bits(db, a->status, to, a->severity, a->severity);
    struct cell was = account_out(db, a);
    set_status(db, a, to);
    account_in(db, a, was);
    a->update_ms = db->now;
    if (to != AST_ACK && to != AST_SHELVED)
        a->action_timeout_s = 0;
    rc = hist_add(db, a, c, HT_STATUS, a->sev_name, to, "blackout ended", NULL, a->timeout_s,
                  db->now);
    if (rc) {
        alert_change_free(c);
        return rc;
    }
    rearm(db, a);
    return emit(db, a, c);
}

int alertdb_blackout_release(struct alertdb *db, alertdb_covered_fn covered, void *ud,
                             int64_t now_ms, struct effects *fx, size_t *released)
{
    size_t n = 0;
    int rc = TOCSIN_OK;

    db->fx = fx;
    db->now = now_ms;
    /* A status change moves no alert between id chains, so the walk can change them. */
    if (db->st.by_status[AST_BLACKOUT])
        htab_settle(&db->by_id);
    for (size_t i = 0; !rc && db->st.by_status[AST_BLACKOUT] && i <= db->by_id.mask; i++) {
        for (struct alert *a = db->by_id.b[i]; a && !rc; a = a->next_id) {
            if (a->status != AST_BLACKOUT || covered(ud, a))
                continue;
            rc = release_one(db, a);
            n += !rc;
        }
    }
    if (released)
        *released = n;
    return rc;
}

static int delete_alert(struct alertdb *db, struct alert *a)
{
    struct alert_change *c = change_new(ACH_DEL, a->rid);

    if (!c)
        return TOCSIN_ENOMEM;
    chg_before(c, a);
    memcpy(c->id, a->id, 16);
    index_del(db, a);
    c->snap = a; /* the record as it was: the rules send the resolves they owe with it */
    db->st.deleted++;
    return effects_push(db->fx, EFF_ACHANGE, c);
}

int alertdb_delete(struct alertdb *db, const uint8_t id[16], struct effects *fx)
{
    struct alert *a = begin(db, id, db->now, fx);

    if (!a)
        return TOCSIN_ENOTFOUND;
    return delete_alert(db, a);
}

/* ---- time ------------------------------------------------------------------------------------ */

/* What is due for a at `now` with these thresholds; counts into hk if given. */
static void run_due(struct alertdb *db, struct alert *a, int64_t exp_after, int64_t info_after,
                    struct housekeeping_counts *hk)
{
    struct due d = due_of(db, a, exp_after, info_after);
    struct transition t;
    char why[96];

    if (d.del <= db->now) {
        if (hk)
            hk->deleted++;
        delete_alert(db, a);
        return;
    }
    if (d.expire <= db->now) {
        alert_action_transition(&db->cfg.sev, a, ACT_EXPIRED, &t, why, sizeof(why));
        apply_transition(db, a, ACT_EXPIRED, &t, "expired after timeout", a->timeout_s, NULL);
        db->st.expired++;
        if (hk)
            hk->expired++;
        return;
    }
    if (d.timeout <= db->now) {
        int was = a->status;
        alert_action_transition(&db->cfg.sev, a, ACT_TIMEOUT, &t, why, sizeof(why));
        apply_transition(db, a, ACT_TIMEOUT, &t,
                         was == AST_SHELVED ? "unshelved after timeout" : "unacked after timeout",
                         0, NULL);
        if (hk)
            hk->unshelved += was == AST_SHELVED, hk->unacked += was == AST_ACK;
        return;
    }
    rearm(db, a);
}

static void on_timer(struct timer *t, void *ud)
{
    struct alertdb *db = ud;
    struct alert *a = (struct alert *)(void *)((char *)t - offsetof(struct alert, tm));

    run_due(db, a, db->cfg.delete_expired_after_s, db->cfg.delete_info_after_s, NULL);
}

void alertdb_advance(struct alertdb *db, int64_t now_ms, struct effects *fx)
{
    db->fx = fx;
    db->now = now_ms;
    timer_wheel_advance(db->wheel, now_ms, db);
}

int64_t alertdb_next_deadline(const struct alertdb *db)
{
    return timer_wheel_next(db->wheel);
}

void alertdb_housekeeping(struct alertdb *db, int64_t expired_after_s, int64_t info_after_s,
                          int64_t now_ms, struct effects *fx, struct housekeeping_counts *out)
{
    int64_t ea = expired_after_s >= 0 ? expired_after_s : db->cfg.delete_expired_after_s;
    int64_t ia = info_after_s >= 0 ? info_after_s : db->cfg.delete_info_after_s;

    memset(out, 0, sizeof(*out));
    alertdb_advance(db, now_ms, fx);
    /* Everything due under the configured thresholds has run on the wheel; only overridden
     * thresholds can find more, so only then walk every alert. */
    if (ea == db->cfg.delete_expired_after_s && ia == db->cfg.delete_info_after_s)
        return;
    htab_settle(&db->by_id);
    for (size_t i = 0; i <= db->by_id.mask; i++) {
        struct alert *a = db->by_id.b[i];
        while (a) {
            struct alert *next = a->next_id; /* a may be deleted */
            run_due(db, a, ea, ia, out);
            a = next;
        }
    }
}

/* ---- start-up and statistics ----------------------------------------------------------------- */

/* An alert held with the key of a, which is not in the tables (its hashes set): compares the
 * two records' key fields as stored, so a restore copies no string. */
static struct alert *held_key(struct alertdb *db, const struct alert *a)
{
    struct keyv k = {alert_get(a, AF_EVENT), alert_get(a, AF_ENVIRONMENT),
                     alert_get(a, AF_RESOURCE), alert_get(a, AF_CUSTOMER)};

    return key_find(db, a->key_h, &k);
}

void alertdb_reserve(struct alertdb *db, size_t n)
{
    htab_reserve(&db->by_key, n);
    htab_reserve(&db->by_res, n);
    htab_reserve(&db->by_id, n);
}

int alertdb_restore(struct alertdb *db, struct alert *a, int64_t now_ms)
{
    set_hashes(a);
    if (alertdb_find(db, a->id) || held_key(db, a)) {
        alert_free(a);
        return TOCSIN_EEXIST;
    }
    db->now = now_ms;
    timer_init(&a->tm, on_timer);
    a->next_key = a->next_res = a->next_id = a->ret_prev = a->ret_next = NULL;
    if (a->rid >= db->next_rid)
        db->next_rid = a->rid + 1;
    index_add(db, a);
    rearm(db, a);
    return TOCSIN_OK;
}

void alertdb_get_stats(const struct alertdb *db, struct alertdb_stats *out)
{
    *out = db->st;
}

/* ---- the state column ------------------------------------------------------------------------ */

#define STATE_VERSION 1

struct state_head {
    uint8_t version;
    uint8_t severity, previous_severity, sev_name, prev_sev_name, status, trend, repeat;
    uint8_t hist_last, hist_prev, before_ack, before_shelve, nulls, pad[3];
    uint16_t hist_n;
    uint16_t pad2;
    uint32_t duplicate_count, hist_seq;
    int32_t timeout_s, action_timeout_s;
    uint64_t rid;
    int64_t create_ms, receive_ms, last_receive_ms, update_ms, starts_ms, ends_ms, action_ms;
    uint8_t id[16], last_receive_id[16];
    uint32_t blob_len;
};

void *alert_state_pack(const struct alert *a, size_t *len)
{
    struct state_head h;
    char *out;

    memset(&h, 0, sizeof(h));
    h.version = STATE_VERSION;
    h.severity = a->severity;
    h.previous_severity = a->previous_severity;
    h.sev_name = a->sev_name;
    h.prev_sev_name = a->prev_sev_name;
    h.status = a->status;
    h.trend = a->trend;
    h.repeat = a->repeat;
    h.hist_last = a->hist_last;
    h.hist_prev = a->hist_prev;
    h.before_ack = a->before_ack;
    h.before_shelve = a->before_shelve;
    h.nulls = a->nulls;
    h.hist_n = a->hist_n;
    h.duplicate_count = a->duplicate_count;
    h.hist_seq = a->hist_seq;
    h.timeout_s = a->timeout_s;
    h.action_timeout_s = a->action_timeout_s;
    h.rid = a->rid;
    h.create_ms = a->create_ms;
    h.receive_ms = a->receive_ms;
    h.last_receive_ms = a->last_receive_ms;
    h.update_ms = a->update_ms;
    h.starts_ms = a->starts_ms;
    h.ends_ms = a->ends_ms;
    h.action_ms = a->action_ms;
    memcpy(h.id, a->id, 16);
    memcpy(h.last_receive_id, a->last_receive_id, 16);
    h.blob_len = a->blob_len;
    out = malloc(sizeof(h) + a->blob_len);
    if (!out)
        return NULL;
    memcpy(out, &h, sizeof(h));
    if (a->blob_len)
        memcpy(out + sizeof(h), a->blob, a->blob_len);
    *len = sizeof(h) + a->blob_len;
    return out;
}

/* The blob of a state read back from disk: AF_COUNT fields inside len, every list and map item
 * NUL-terminated, no NUL inside a string field, so alert_get and aview_next stay in bounds. */
static bool blob_valid(const char *p, uint32_t len)
{
    const char *end = p + len;

    for (int f = 0; f < AF_COUNT; f++) {
        uint32_t n = 0;
        unsigned shift = 0;
        for (;;) {
            unsigned char c;
            if (p >= end || shift > 28)
                return false;
            c = (unsigned char)*p++;
            n |= (uint32_t)(c & 0x7f) << shift;
            if (!(c & 0x80))
                break;
            shift += 7;
        }
        if (n > (uint32_t)(end - p))
            return false;
        if (f < AF_FIRST_LIST ? memchr(p, '\0', n) != NULL : (n && p[n - 1] != '\0'))
            return false;
        if (f >= AF_FIRST_MAP) {
            uint32_t nuls = 0;
            for (uint32_t i = 0; i < n; i++)
                nuls += p[i] == '\0';
            if (nuls % 2)
                return false;
        }
        p += n;
    }
    return p == end;
}

struct alert *alert_from_state(const void *p, size_t len)
{
    struct state_head h;
    struct alert *a;

    if (len < sizeof(h))
        return NULL;
    memcpy(&h, p, sizeof(h));
    if (h.version != STATE_VERSION || len != sizeof(h) + h.blob_len || h.status >= AST_COUNT ||
        !blob_valid((const char *)p + sizeof(h), h.blob_len))
        return NULL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->blob = malloc(h.blob_len ? h.blob_len : 1);
    if (!a->blob) {
        free(a);
        return NULL;
    }
    if (h.blob_len)
        memcpy(a->blob, (const char *)p + sizeof(h), h.blob_len);
    a->blob_len = h.blob_len;
    a->severity = h.severity;
    a->previous_severity = h.previous_severity;
    a->sev_name = h.sev_name;
    a->prev_sev_name = h.prev_sev_name;
    a->status = h.status;
    a->trend = h.trend;
    a->repeat = h.repeat;
    a->hist_last = h.hist_last;
    a->hist_prev = h.hist_prev;
    a->before_ack = h.before_ack;
    a->before_shelve = h.before_shelve;
    a->nulls = h.nulls;
    a->hist_n = h.hist_n;
    a->duplicate_count = h.duplicate_count;
    a->hist_seq = h.hist_seq;
    a->timeout_s = h.timeout_s;
    a->action_timeout_s = h.action_timeout_s;
    a->rid = h.rid;
    a->create_ms = h.create_ms;
    a->receive_ms = h.receive_ms;
    a->last_receive_ms = h.last_receive_ms;
    a->update_ms = h.update_ms;
    a->starts_ms = h.starts_ms;
    a->ends_ms = h.ends_ms;
    a->action_ms = h.action_ms;
    memcpy(a->id, h.id, 16);
    memcpy(a->last_receive_id, h.last_receive_id, 16);
    return a;
}

void alertdb_foreach(const struct alertdb *db, void (*fn)(void *ud, const struct alert *a),
                     void *ud)
{
    for (size_t i = 0; db->by_id.b && i < htab_buckets(&db->by_id); i++)
        for (const struct alert *a = htab_bucket(&db->by_id, i); a; a = a->next_id)
            fn(ud, a);
}
