/* The running daemon: the threads and the queues between them, shared by the HTTP/WS handlers
 * (src/api, src/compat), which run on the network thread.
 *
 *   network thread --emsg--> engine thread --smsg--> store writer --> notifier (curl multi)
 *        ^                                               |                 |
 *        +------------- net_complete (deferred answers) -+   <--results----+
 */
#ifndef TOCSIN_APP_H
#define TOCSIN_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/alert.h"
#include "core/alertdb.h"
#include "core/effects.h"
#include "core/engine.h"
#include "core/event.h"
#include "core/nrule.h"
#include "core/trigger.h"
#include "util/arena.h"
#include "util/clock.h"
#include "util/config.h"
#include "util/latring.h"
#include "util/queue.h"
#include "store/store.h"

struct net;
struct store;
struct notifier;
struct auth;
struct http_resp;
struct hbbo;
struct hbbo_req;
struct nreq;
struct nwire;
struct facets;
struct sidx;

enum emsg_kind {
    EM_EVENTS = 0, EM_TRIGGERS, EM_TRIGGER_DEL, EM_CLOCK, EM_ALERTS, EM_ALERT_OP, EM_OBJECT,
    EM_HBBO, /* a heartbeat or blackout request (daemon/hbbo.h), reads too */
    EM_NOTIFY /* channels, rules, tickets (daemon/nwire.h), reads too */
};

/* What an EM_ALERT_OP does to one alert (or, for AOP_HOUSEKEEPING, to all). */
enum alert_op {
    AOP_ACTION = 0, AOP_STATUS, AOP_TAG, AOP_UNTAG, AOP_ATTRIBUTES, AOP_NOTE, AOP_DELETE,
    AOP_HOUSEKEEPING
};

/* How a trigger write is answered once committed. */
enum reply_shape {
    REPLY_COUNT = 0,  /* 200 {"triggers": N} (Gravitee's /http/triggers) */
    REPLY_TRIGGER,    /* 200/201 with the stored trigger (/api/v1/triggers) */
    REPLY_NONE,       /* WebSocket: no answer */
    REPLY_ALERTA,     /* 201 {"status":"ok","id","alert"} (Alerta's POST /alert) */
    REPLY_ALERTS,     /* 201 {"status":"ok","count","created","duplicates","correlated","ids"} */
    REPLY_ALERTA_OK,  /* 200 {"status":"ok"} (Alerta's PUT /alert/{id}/...) */
    REPLY_OK,         /* 200 {"status":"ok"}, errors in tocsin's shape */
};

/* A message to the engine thread. Owned by whoever holds it; free with emsg_free(). */
struct emsg {
    enum emsg_kind kind;
    uint64_t req_id;          /* deferred HTTP request to answer, 0 if none */
    uint64_t ws_conn;         /* WebSocket connection to report errors to, 0 if none */
    int64_t enq_ns;           /* monotonic time it was queued (latency statistics) */
    size_t bytes;             /* what it counts in app.queued_bytes */
    enum reply_shape reply;
    struct arena arena;       /* EM_EVENTS: the events' strings */
    struct event *evs;        /* malloc'd array of nevs (capacity evcap) */
    size_t nevs, evcap;
    struct trigger **trigs;   /* EM_TRIGGERS */
    size_t ntrigs;
    char *id;                 /* EM_TRIGGER_DEL */
    int64_t advance_ms;       /* EM_CLOCK */
    /* EM_ALERTS: validated alerts, the array and their strings in `arena` */
    struct alert_in *ains;
    size_t nains;
    /* EM_ALERT_OP */
    enum alert_op op;
    uint8_t alert_id[16];
    char *text;               /* action/status/note text (owned) */
    char *action;             /* AOP_ACTION: the action's name (owned) */
    int status;               /* AOP_STATUS */
    int64_t timeout_s;        /* -1: the default */
    int64_t hk_expired_s, hk_info_s; /* AOP_HOUSEKEEPING thresholds, -1: configured */
    struct strlist tags;      /* AOP_TAG / AOP_UNTAG (arena) */
    struct kvlist attrs;      /* AOP_ATTRIBUTES (arena) */
    char *user;               /* who (history), owned; NULL: anonymous */
    char *href_base;          /* for the answer's "href", owned */
    /* EM_OBJECT: store (or, ojson NULL, delete) object (okind, id) and answer ostatus/obody */
    char *okind, *ojson, *obody;
    int ostatus;
    struct hbbo_req *hbbo;    /* EM_HBBO, owned */
    struct nreq *nreq;        /* EM_NOTIFY, owned */
};

struct emsg *emsg_new(enum emsg_kind kind);
void emsg_free(struct emsg *m);

struct completion {
    uint64_t req_id;
    int status;
    char *body; /* owned */
};

/* A message to the store writer. */
struct smsg {
    int64_t enq_ns; /* monotonic, when queued to the writer (its wait, in the stats) */
    struct effects fx;
    struct completion *comps;
    size_t ncomps, capcomps;
    struct notify_rec *result; /* a delivery attempt's outcome */
    struct notify_attempt_rec att; /* ... and that attempt (strings owned: error, response) */
    /* POST /api/v1/notifications/{id}/retry: a failed notification gets a new budget */
    char *retry_id;
    uint64_t retry_req;
    int retry_status;              /* the answer: 200, 404, 409 */
    struct notify_rec *retry_rec;  /* the record to hand to the notifier after the commit */
};

/* The store writer's work, for /api/v1/stats (under app.stats_mu). */
struct writer_stats {
    uint64_t commits, messages, failed;
    uint64_t checkpoints;      /* WAL resets and hard checkpoints done by the writer */
    uint64_t checkpoint_us_max;
};

struct app {
    const struct config *cfg;
    struct net *net;
    struct store *wstore;     /* the store writer thread's connection */
    struct store *rstore;     /* the network thread's read connection */
    struct store *mstore;     /* the maintenance thread's (checkpoints) */
    struct queue maint_q;     /* wake-ups (the app pointer, never freed); closing it stops the
                               * maintenance thread */
    /* monotonic start and end of the maintenance thread's last checkpoint */
    atomic_llong maint_pass_start_ns, maint_pass_ns;
    pthread_t maint_thr;
    struct engine *engine;    /* the engine thread's */
    struct alertdb *alerts;   /* the engine thread's: every stored alert */
    struct sidx *sidx;        /* the alerts' short ids: the engine puts, readers look up */
    struct facets *facets;    /* alerts by environment, service, group, tag: the engine
                                 counts, readers read (core/facets.h) */
    struct sevmap sev;        /* severities (alerts.severity_map) */
    struct hbbo *hbbo;        /* the engine thread's: heartbeats and blackouts */
    struct nwire *nwire;      /* notification rules and channels (daemon/nwire.h) */
    /* Reader threads: queries from the store, off the network and engine threads. */
    struct queue read_q;      /* struct rjob* */
    pthread_t *read_thr;
    struct store **rstores;   /* one read connection per reader thread */
    unsigned nreaders;
    unsigned nread_started;
    struct notifier *notifier;
    struct auth *auth;
    struct keys *keys;        /* API keys (thread-safe); the network thread and readers use it */
    struct trigger_env tenv;
    struct queue engine_q;    /* struct emsg* */
    /* Bytes of events queued to the engine, bounded by engine.queue_bytes: the queue's own
     * bound counts batches, and a batch may hold one event or thousands. */
    pthread_mutex_t qb_mu;
    pthread_cond_t qb_cv;
    size_t queued_bytes;
    struct queue store_q;     /* struct smsg* */
    /* Effects queued to the store writer and not yet applied (bounded, see threads.c). */
    pthread_mutex_t sf_mu;
    pthread_cond_t sf_cv;
    size_t store_inflight;
    pthread_t engine_thr, store_thr;
    char node_id[37];
    char endpoint[96];
    /* the clock: real, or (engine.test_clock) moved only by POST /api/v1/admin/clock */
    bool test_clock;
    _Atomic int64_t test_now_ms;
    struct clock real;
    /* statistics */
    atomic_uint_fast64_t events_received, events_processed, events_rejected, batches;
    pthread_mutex_t stats_mu;
    /* stage times (monotonic ms stamps), p50/p99/max in /api/v1/stats */
    struct latring lat;       /* engine: a batch queued -> evaluated */
    struct latring tx_lat;    /* store writer: one transaction, begin -> commit */
    struct latring store_wait; /* store writer: its oldest message's wait for the transaction */
    struct writer_stats wst;
    struct engine_stats est;  /* copied from the engine thread under stats_mu */
    struct alertdb_stats ast; /* likewise */
    struct nrules_stats rst;  /* likewise: the notification rules */
    /* WebSocket events gathered across frames on the network thread, handed to the engine as
     * one batch when the loop goes idle or the batch is full (network thread only). */
    struct emsg *ws_pending;
    /* Open WebSocket connections and what each is for (network thread only). */
    struct app_ws {
        uint64_t conn;
        int kind;
    } *ws_tab;
    size_t ws_n, ws_cap;
};

/* A query run on a reader thread: fn fills resp from the reader's store, then the request is
 * answered. ctx is freed with free_ctx (may be NULL). */
struct rjob {
    uint64_t req_id;
    void (*fn)(struct app *a, struct store *rs, struct rjob *j, struct http_resp *resp);
    void *ctx;
    void (*free_ctx)(void *ctx);
};
/* Queues a read job; TOCSIN_EFULL when the readers are saturated (answer 503). Takes j. */
int app_to_reader(struct app *a, struct rjob *j);

int64_t app_now_ms(struct app *a);
/* Queues a message to the engine. Blocks while the queue is full if `wait`; otherwise returns
 * TOCSIN_EFULL (answer 503). Takes ownership of m in every case. */
int app_to_engine(struct app *a, struct emsg *m, bool wait);
/* Queues a message to the store writer, stamped with the time (its wait in the stats). Blocks
 * while the queue is full if `wait`; otherwise returns TOCSIN_EFULL; TOCSIN_ESHUTDOWN when
 * stopping. sm stays the caller's when it fails. */
int app_to_store(struct app *a, struct smsg *sm, bool wait);
/* Applies sm's effects in a transaction of their own on the caller's thread, before the store
 * writer starts (start-up's own changes: committed before the first request is served). */
int app_store_now(struct app *a, struct smsg *sm);

/* Copies the engine's statistics to where the other threads read them (est, ast, rst under
 * stats_mu): after each of its turns, and once at start-up before any request is taken (lists
 * and counts read the alert counts there). */
void app_publish_stats(struct app *a);

/* Engine and store writer threads (daemon.c). */
int app_start_threads(struct app *a);
void app_stop_threads(struct app *a);

#endif
