/* SQLite's default page cache behind a truncation that does not scan (store/pcache.h). */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "store/pcache.h"

#define LOCK_BYTE 0x40000000u /* SQLite's PENDING_BYTE: its page never holds data */

struct wcache {
    sqlite3_pcache *real;
    unsigned hiwater; /* no page numbered above it is in the cache, `temp` aside */
    unsigned temp;    /* the page the B-tree swaps two pages' numbers through */
};

static sqlite3_pcache_methods2 base; /* the default cache, called through */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int install_rc;
static atomic_ullong n_truncates, n_forwarded, n_swaps;

static struct wcache *W(sqlite3_pcache *p)
{
    return (struct wcache *)p;
}

static void raise_hiwater(struct wcache *w, unsigned key)
{
    if (key > w->hiwater && key != w->temp)
        w->hiwater = key;
}

static int w_init(void *arg)
{
    (void)arg;
    return base.xInit ? base.xInit(base.pArg) : SQLITE_OK;
}

static void w_shutdown(void *arg)
{
    (void)arg;
    if (base.xShutdown)
        base.xShutdown(base.pArg);
}

static sqlite3_pcache *w_create(int sz_page, int sz_extra, int purgeable)
{
    struct wcache *w = calloc(1, sizeof(*w));

    if (!w)
        return NULL;
    w->real = base.xCreate(sz_page, sz_extra, purgeable);
    if (!w->real) {
        free(w);
        return NULL;
    }
    w->temp = sz_page > 0 ? LOCK_BYTE / (unsigned)sz_page + 1 : 0;
    return (sqlite3_pcache *)w;
}

static void w_cachesize(sqlite3_pcache *p, int n)
{
    base.xCachesize(W(p)->real, n);
}

static int w_pagecount(sqlite3_pcache *p)
{
    return base.xPagecount(W(p)->real);
}

static sqlite3_pcache_page *w_fetch(sqlite3_pcache *p, unsigned key, int create)
{
    sqlite3_pcache_page *pg = base.xFetch(W(p)->real, key, create);

    if (pg)
        raise_hiwater(W(p), key);
    return pg;
}

static void w_unpin(sqlite3_pcache *p, sqlite3_pcache_page *pg, int discard)
{
    base.xUnpin(W(p)->real, pg, discard);
}

static void w_rekey(sqlite3_pcache *p, sqlite3_pcache_page *pg, unsigned old_key, unsigned new_key)
{
    base.xRekey(W(p)->real, pg, old_key, new_key);
    if (new_key == W(p)->temp)
        atomic_fetch_add_explicit(&n_swaps, 1, memory_order_relaxed);
    raise_hiwater(W(p), new_key);
}

/* A page parked at `temp` is moved back within the same B-tree call (balance_nonroot), so it is
 * never there when a transaction ends. */
static void w_truncate(sqlite3_pcache *p, unsigned limit)
{
    struct wcache *w = W(p);

    atomic_fetch_add_explicit(&n_truncates, 1, memory_order_relaxed);
    if (limit > w->hiwater)
        return;
    atomic_fetch_add_explicit(&n_forwarded, 1, memory_order_relaxed);
    base.xTruncate(w->real, limit);
    w->hiwater = limit ? limit - 1 : 0;
}

static void w_destroy(sqlite3_pcache *p)
{
    base.xDestroy(W(p)->real);
    free(p);
}

static void w_shrink(sqlite3_pcache *p)
{
    if (base.xShrink)
        base.xShrink(W(p)->real);
}

static void do_install(void)
{
    static sqlite3_pcache_methods2 wrap = {
        .xInit = w_init,
        .xShutdown = w_shutdown,
        .xCreate = w_create,
        .xCachesize = w_cachesize,
        .xPagecount = w_pagecount,
        .xFetch = w_fetch,
        .xUnpin = w_unpin,
        .xRekey = w_rekey,
        .xTruncate = w_truncate,
        .xDestroy = w_destroy,
        .xShrink = w_shrink,
    };

    install_rc = sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &base);
    if (install_rc != SQLITE_OK)
        return;
    wrap.iVersion = base.iVersion;
    install_rc = sqlite3_config(SQLITE_CONFIG_PCACHE2, &wrap);
}

int pcache_install(void)
{
    pthread_once(&once, do_install);
    return install_rc;
}

void pcache_stats(struct pcache_stats *out)
{
    out->truncates = atomic_load_explicit(&n_truncates, memory_order_relaxed);
    out->forwarded = atomic_load_explicit(&n_forwarded, memory_order_relaxed);
    out->swaps = atomic_load_explicit(&n_swaps, memory_order_relaxed);
}
