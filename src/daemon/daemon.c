/* Start-up, the engine and store-writer threads, and an orderly shutdown. */
#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/common.h"
#include "api/router.h"
#include "core/facets.h"
#include "daemon/app.h"
#include "daemon/hbbo.h"
#include "daemon/nwire.h"
#include "net/auth.h"
#include "net/keys.h"
#include "net/net.h"
#include "notify/notifier.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/heap.h"
#include "util/id.h"
#include "util/log.h"
#include "util/sidx.h"

/* Engine turns waiting for the store writer; beyond it the engine waits, and so do producers. */
#define STORE_QUEUE 64

struct start {
    struct app *a;
    int64_t now;
    size_t loaded, skipped;
    uint64_t helper; /* alerts the start-up load's helper thread read */
};

static int load_trigger(void *ud, const char *id, const char *text)
{
    struct start *s = ud;
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    struct trigger *t = NULL;
    struct verr err = {0};
    const json_t *c = json_object_get(j, "created_at"), *u = json_object_get(j, "updated_at");

    if (!j || trigger_parse(j, &s->a->tenv, s->now, &t, &err)) {
        log_warn("trigger_skipped", "trigger=%s reason=invalid_stored_trigger field=%s", id,
                 err.field);
        s->skipped++;
        json_decref(j);
        return TOCSIN_OK;
    }
    trigger_set_times(t, json_is_integer(c) ? json_integer_value(c) : s->now,
                      json_is_integer(u) ? json_integer_value(u) : s->now);
    json_decref(j);
    if (engine_load_trigger(s->a->engine, t, s->now) == TOCSIN_OK)
        s->loaded++;
    return TOCSIN_OK;
}

static int load_alert(void *ud, struct alert_rec *al)
{
    struct start *s = ud;

    if (engine_restore_alert(s->a->engine, al) == TOCSIN_OK)
        s->loaded++;
    else
        s->skipped++;
    return TOCSIN_OK;
}

static int load_pending(void *ud, struct notify_rec *n)
{
    struct start *s = ud;

    if (notifier_submit(s->a->notifier, n) == TOCSIN_OK)
        s->loaded++;
    return TOCSIN_OK;
}

static void new_id(void *ud, char out[TOCSIN_ID_LEN + 1])
{
    (void)ud;
    id_uuid4(out);
}

static void on_notify_result(void *ud, struct notify_rec *rec,
                             const struct notify_attempt_info *at)
{
    struct app *a = ud;
    struct smsg *m;

    if (nwire_is_test(rec)) {
        nwire_test_done(a, rec, at);
        return;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        notify_rec_free(rec);
        return;
    }
    m->result = rec;
    m->att = (struct notify_attempt_rec){.notification = rec->id,
                                         .n = at->n,
                                         .at_ms = at->at_ms,
                                         .duration_ms = at->duration_ms,
                                         .http_status = at->http,
                                         .error = at->error ? strdup(at->error) : NULL,
                                         .response = at->response && at->response[0]
                                                         ? strdup(at->response)
                                                         : NULL};
    if (app_to_store(a, m, true)) {
        notify_rec_free(rec); /* stopping: the row stays pending and is retried at start */
        free((char *)m->att.error);
        free((char *)m->att.response);
        free(m);
    }
}

static int lock_data_dir(const char *dir)
{
    char path[4096];
    int fd;

    if (mkdir(dir, 0700) && errno != EEXIST) {
        log_error("start_failed", "reason=\"cannot create data directory\" dir=%s errno=%d", dir,
                  errno);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/tocsin.lock", dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB)) {
        log_error("start_failed", "reason=\"data directory in use by another tocsin\" dir=%s",
                  dir);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd; /* held until exit */
}

static void write_port_file(const char *dir, uint16_t port)
{
    char path[4096], tmp[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/tocsin.port", dir);
    snprintf(tmp, sizeof(tmp), "%s/tocsin.port.tmp", dir);
    f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "%u\n", port);
    if (fclose(f) == 0)
        rename(tmp, path);
}

static void *signal_main(void *arg)
{
    struct app *a = arg;
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    for (;;) {
        if (sigwait(&set, &sig))
            continue;
        if (sig == SIGHUP) {
            struct nreq *q = calloc(1, sizeof(*q));
            struct emsg *m = q ? emsg_new(EM_NOTIFY) : NULL;
            if (!m) {
                free(q);
                continue;
            }
            q->op = NR_RELOAD;
            m->nreq = q;
            log_info("sighup", "action=reload what=notifications.files");
            if (app_to_engine(a, m, true))
                log_warn("sighup", "action=dropped reason=\"engine queue closed\"");
            continue;
        }
        log_info("stopping", "signal=%d", sig);
        net_stop(a->net);
        return NULL;
    }
}

/* The store's connections: the writer, the network thread's reader, the maintenance thread's
 * and the reader threads'; all with the severity map. */
static int open_stores(struct app *a, const struct config *cfg)
{
    char err[512];

    if (store_open(cfg->data_dir, (enum durability)cfg->durability, false, &a->wstore, err,
                   sizeof(err)) ||
        store_open(cfg->data_dir, (enum durability)cfg->durability, true, &a->rstore, err,
                   sizeof(err)) ||
        store_open(cfg->data_dir, (enum durability)cfg->durability, true, &a->mstore, err,
                   sizeof(err)) ||
        store_manual_checkpoints(a->wstore)) {
        log_error("start_failed", "reason=store detail=\"%s\"", err);
        return -1;
    }
    a->nreaders = cfg->readers ? cfg->readers : 1;
    a->rstores = calloc(a->nreaders, sizeof(*a->rstores));
    if (!a->rstores)
        return -1;
    for (unsigned i = 0; i < a->nreaders; i++) {
        if (store_open(cfg->data_dir, (enum durability)cfg->durability, true, &a->rstores[i], err,
                       sizeof(err))) {
            log_error("start_failed", "reason=store detail=\"%s\"", err);
            return -1;
        }
        store_set_sevmap(a->rstores[i], &a->sev);
    }
    store_set_sevmap(a->wstore, &a->sev);
    store_set_sevmap(a->rstore, &a->sev);
    return 0;
}

/* API keys (their pepper file) and users. */
static int open_auth(struct app *a, const struct config *cfg)
{
    char path[PATH_MAX], err[512];
    uint8_t pepper[KEYS_PEPPER_BYTES];
    struct auth_opts ao = {0};

    snprintf(path, sizeof(path), "%s/keys.pepper", cfg->data_dir);
    if (keys_pepper_load(path, pepper, err, sizeof(err))) {
        log_error("start_failed", "reason=keys detail=\"%s\"", err);
        return -1;
    }
    a->keys = keys_new(pepper, 0);
    sodium_memzero(pepper, sizeof(pepper));
    if (!a->keys)
        return -1;
    ao.keys = a->keys;
    ao.customer_views = cfg->customer_views;
    a->auth = auth_new_ex(cfg->users, cfg->nusers, &ao, err, sizeof(err));
    if (!a->auth) {
        log_error("start_failed", "reason=auth detail=\"%s\"", err);
        return -1;
    }
    return 0;
}

static int open_parts(struct app *a, const struct config *cfg)
{
    char err[512];
    struct engine_cfg ecfg = {
        .resolve_after_ms = cfg->resolve_after_ms,
        .max_triggers = cfg->max_triggers,
        .max_keys_per_trigger = cfg->max_keys_per_trigger,
        .notify_max_attempts = cfg->notify_max_attempts,
        .max_render = 1024 * 1024,
    };
    struct engine_env env = {.new_id = new_id};
    struct notifier_cfg ncfg = {
        .threads = cfg->notify_threads,
        .concurrency = cfg->notify_concurrency,
        .timeout_ms = cfg->notify_timeout_ms,
        .backoff_base_ms = cfg->notify_backoff_base_ms,
        .backoff_max_ms = cfg->notify_backoff_max_ms,
        .max_attempts = cfg->notify_max_attempts,
        .max_excerpt = 256,
    };

    struct alertdb_cfg acfg;

    alertdb_cfg_default(&acfg);
    if (cfg->alert_severity_map && *cfg->alert_severity_map &&
        sevmap_parse(cfg->alert_severity_map, &acfg.sev, err, sizeof(err))) {
        log_error("start_failed", "reason=alerts.severity_map detail=\"%s\"", err);
        return -1;
    }
    a->sev = acfg.sev;
    acfg.default_timeout_s = cfg->alert_timeout_ms / 1000;
    acfg.history_limit = (uint32_t)cfg->alert_history_limit;
    acfg.history_on_value_change = cfg->alert_history_on_value;
    acfg.delete_expired_after_s = cfg->alert_delete_expired_ms / 1000;
    acfg.delete_info_after_s = cfg->alert_delete_info_ms / 1000;
    acfg.shelve_timeout_s = cfg->alert_shelve_timeout_ms / 1000;
    acfg.ack_timeout_s = cfg->alert_ack_timeout_ms / 1000;
    acfg.max_alerts = cfg->alert_max;
    if (open_stores(a, cfg) || !(a->sidx = acfg.sidx = sidx_new()) ||
        !(a->facets = acfg.facets = facets_new(acfg.sev.n)))
        return -1;
    a->alerts = alertdb_new(&acfg, app_now_ms(a));
    if (!a->alerts || hbbo_open(a) || nwire_open(a))
        return -1;
    a->engine = engine_new(&ecfg, &env, app_now_ms(a));
    a->notifier = notifier_new(&ncfg, a->real, on_notify_result, a);
    if (!a->engine || !a->notifier)
        return -1;
    notifier_set_channel_ops(a->notifier, &nwire_channel_ops, a);
    if (open_auth(a, cfg))
        return -1;
    return 0;
}

static int load_xalert(void *ud, struct alert *al)
{
    struct start *s = ud;

    if (al->sev_name >= s->a->sev.n || al->prev_sev_name >= s->a->sev.n) {
        /* the severity map changed since it was stored: keep the alert, by its code */
        al->sev_name = al->prev_sev_name = s->a->sev.normal_name;
        for (size_t i = 0; i < s->a->sev.n; i++)
            if (s->a->sev.code[i] == al->severity)
                al->sev_name = (uint8_t)i;
    }
    if (alertdb_restore(s->a->alerts, al, s->now) == TOCSIN_OK)
        s->loaded++;
    else
        s->skipped++;
    return TOCSIN_OK;
}

/* The start-up load of the alerts. Reading a row and decoding it into a record is about three
 * quarters of the work, restoring it into the engine's tables the rest (a million alerts took
 * 10.4-11.6 s on one thread here, docs/performance.md). So a helper thread reads and decodes rows
 * down from the highest rid on a read-only connection of its own while this thread reads up from
 * the lowest and restores each, until they meet; then this thread restores the helper's, so that
 * the tables are filled in rid order as by one thread (store_alert_load_meet). Meeting wherever
 * they meet balances the two whatever the rids' spread (on a store that has run for months the
 * live alerts sit at the top of the range, the old ones deleted). Below LOAD_SPLIT_MIN alerts,
 * or without the helper's connection, one thread does it all. */
#define LOAD_SPLIT_MIN 4096

static int load_alerts(struct app *a, struct start *s)
{
    uint64_t count = 0;
    struct store *down = NULL;
    char err[512];
    int rc;

    if (store_alert_count(a->wstore, &count))
        return -1;
    alertdb_reserve(a->alerts, count > SIZE_MAX ? SIZE_MAX : (size_t)count);
    if (count >= LOAD_SPLIT_MIN && store_open(a->cfg->data_dir, (enum durability)a->cfg->durability,
                                              true, &down, err, sizeof(err)))
        log_warn("load_helper_failed", "reason=store detail=\"%s\"", err);
    if (!down)
        return store_alert_load(a->wstore, false, load_xalert, s) ? -1 : 0;
    rc = store_alert_load_meet(a->wstore, down, load_xalert, s, &s->helper);
    heap_trim(); /* the helper's list, and what its thread's arena kept */
    return rc ? -1 : 0;
}

static int load_key(void *ud, const char *id, const char *text)
{
    struct start *s = ud;
    json_t *j = json_loads(text, 0, NULL);
    struct key_record rec;
    char err[160] = "";

    memset(&rec, 0, sizeof(rec));
    if (!j || keys_record_from_json(j, &rec, err, sizeof(err)) ||
        keys_put(s->a->keys, &rec) != TOCSIN_OK) {
        log_warn("key_skipped", "key=%s reason=\"%s\"", id, err[0] ? err : "unreadable");
        s->skipped++;
    } else {
        s->loaded++;
    }
    key_record_clear(&rec);
    json_decref(j);
    return TOCSIN_OK;
}

static int load_state(struct app *a)
{
    struct start s = {.a = a, .now = app_now_ms(a)};
    int64_t t0;

    if (store_trigger_load_all(a->wstore, load_trigger, &s))
        return -1;
    log_info("triggers_loaded", "count=%zu skipped=%zu", s.loaded, s.skipped);
    s.loaded = s.skipped = 0;
    if (store_alert_load_open(a->wstore, load_alert, &s))
        return -1;
    log_info("firing_loaded", "open=%zu orphaned=%zu", s.loaded, s.skipped);
    s.loaded = s.skipped = 0;
    t0 = clock_mono_ms();
    if (load_alerts(a, &s))
        return -1;
    log_info("alerts_loaded", "alerts=%zu skipped=%zu ms=%lld helper=%llu", s.loaded, s.skipped,
             (long long)(clock_mono_ms() - t0), (unsigned long long)s.helper);
    s.loaded = s.skipped = 0;
    if (store_object_load(a->wstore, "key", load_key, &s))
        return -1;
    log_info("keys_loaded", "keys=%zu skipped=%zu", s.loaded, s.skipped);
    if (nwire_load(a)) /* before the outbox: its records name the channels */
        return -1;
    /* after the alerts and the rules: it releases the alerts no blackout holds any more, and
     * the rules notify them */
    return hbbo_load(a);
}

static int load_outbox(struct app *a)
{
    struct start s = {.a = a};

    if (store_outbox_load_pending(a->wstore, load_pending, &s))
        return -1;
    log_info("outbox_loaded", "pending=%zu", s.loaded);
    return 0;
}

static void close_parts(struct app *a)
{
    net_free(a->net);
    notifier_free(a->notifier);
    engine_free(a->engine);
    hbbo_close(a);
    nwire_close(a);
    alertdb_free(a->alerts);
    sidx_free(a->sidx);
    facets_free(a->facets);
    for (unsigned i = 0; a->rstores && i < a->nreaders; i++)
        store_close(a->rstores[i]);
    free(a->rstores);
    store_close(a->mstore);
    store_close(a->rstore);
    store_close(a->wstore);
    auth_free(a->auth);
    keys_free(a->keys);
    queue_destroy(&a->engine_q);
    queue_destroy(&a->store_q);
    queue_destroy(&a->maint_q);
    queue_destroy(&a->read_q);
    pthread_mutex_destroy(&a->stats_mu);
    pthread_mutex_destroy(&a->qb_mu);
    pthread_cond_destroy(&a->qb_cv);
    pthread_mutex_destroy(&a->sf_mu);
    pthread_cond_destroy(&a->sf_cv);
}

static int serve(struct app *a, const struct config *cfg)
{
    struct net_limits lim = {
        .max_body = cfg->http_max_body,
        .max_frame = cfg->ws_max_frame,
        .max_conns = cfg->max_connections,
        .ws_queue_max = 4096,
    };
    struct net_app napp;
    pthread_t sig_thr;
    int rc;

    router_net_app(a, &napp);
    a->net = net_new(cfg->listen, &lim, &napp);
    if (!a->net)
        return 1;
    snprintf(a->endpoint, sizeof(a->endpoint), "http://%.*s:%u",
             (int)(strrchr(cfg->listen, ':') - cfg->listen), cfg->listen, net_port(a->net));
    if (pthread_create(&sig_thr, NULL, signal_main, a))
        return 1;
    pthread_setname_np(sig_thr, "tocsin-signal");
    pthread_detach(sig_thr);
    write_port_file(cfg->data_dir, net_port(a->net));
    log_info("listening", "addr=%s node=%s auth=%s allocator=\"%s\"", a->endpoint + 7, a->node_id,
             cfg->nusers || keys_count(a->keys) ? "on" : "off", heap_allocator());
    rc = net_run(a->net);
    gravitee_ws_flush(a);
    log_info("draining", "queued_batches=%zu", queue_len(&a->engine_q));
    return rc ? 1 : 0;
}

int daemon_run(const struct config *cfg)
{
    struct app *a = calloc(1, sizeof(*a));
    sigset_t set;
    int lockfd, rc = 1;

    if (!a || sodium_init() < 0)
        goto out;
    a->cfg = cfg;
    a->real = clock_real();
    a->test_clock = cfg->test_clock;
    a->test_now_ms = clock_wall_ms();
    a->tenv.tz_lookup = trigger_tz_lookup;
    id_uuid4(a->node_id);
    pthread_mutex_init(&a->stats_mu, NULL);
    pthread_mutex_init(&a->qb_mu, NULL);
    pthread_cond_init(&a->qb_cv, NULL);
    pthread_mutex_init(&a->sf_mu, NULL);
    pthread_cond_init(&a->sf_cv, NULL);
    if (queue_init(&a->engine_q, cfg->engine_queue) || queue_init(&a->store_q, STORE_QUEUE) ||
        queue_init(&a->maint_q, 1) || queue_init(&a->read_q, 1024))
        goto out;
    /* Signals go to the signal thread only; SIGPIPE never kills us. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    lockfd = lock_data_dir(cfg->data_dir);
    if (lockfd < 0)
        goto out;
    if (open_parts(a, cfg) || load_state(a) || notifier_start(a->notifier) || load_outbox(a) ||
        app_start_threads(a))
        goto out_parts;
    rc = serve(a, cfg);
    app_stop_threads(a);
    nwire_save_state(a);
    log_info("stopped", "exit=%d", rc);
out_parts:
    close_parts(a);
    close(lockfd);
out:
    free(a);
    return rc;
}
