/* Heartbeats and blackouts in the running daemon: the engine thread's heartbeat table and
 * blackout set (core/heartbeat.h, core/blackout.h) on a timer wheel of their own, what they do
 * to incoming alerts (Alerta's heartbeat and blackout plugins), their timers (an expired
 * heartbeat raises its HeartbeatFail alert, a blackout's end releases the alerts it held), and
 * the answers to their HTTP requests (compat/alerta_hbbo.c hands every request, reads too, to
 * the engine as an EM_HBBO message, because the state lives on the engine thread).
 *
 * Threads: hbbo_open, hbbo_load and hbbo_close run at start-up and shutdown, when the engine
 * thread is not running; everything else runs on the engine thread only. Every change is
 * persisted as an EFF_OBJECT effect, kinds "heartbeat" and "blackout", keyed by id. */
#ifndef TOCSIN_HBBO_H
#define TOCSIN_HBBO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/alert.h"
#include "core/blackout.h"
#include "core/effects.h"
#include "core/heartbeat.h"
#include "core/verr.h"
#include "net/principal.h"

struct app;
struct emsg;

#define HBBO_PAGE_SIZE 50   /* heartbeats per page when page-size is not given (Alerta's) */
#define HBBO_MAX_PAGE 10000 /* largest page-size accepted */

enum hbbo_op {
    HBBO_HB_POST = 0,
    HBBO_HB_GET,
    HBBO_HB_LIST,
    HBBO_HB_DELETE,
    HBBO_HEALTH,
    HBBO_BO_POST,
    HBBO_BO_GET,
    HBBO_BO_LIST,
    HBBO_BO_PUT,
    HBBO_BO_DELETE
};

/* What an EM_HBBO message asks (emsg.hbbo). Validated on the network thread as far as can be
 * done without the state: the scope, the JSON syntax, the query. Freed with hbbo_req_free(). */
struct hbbo_req {
    enum hbbo_op op;
    bool alerta;          /* Alerta's paths (error shape, hrefs), else /api/v1's */
    char *id;             /* from the path, owned; NULL for POST and lists */
    json_t *body;         /* POST/PUT: the JSON object, owned */
    struct principal who; /* a copy: scopes, customers and login for the engine's decisions */
    /* lists */
    unsigned status_mask; /* 1u << status; 0: any */
    struct heartbeat_sort hsort[HEARTBEAT_SORT_MAX];
    size_t nhsort;
    struct blackout_sort bsort[BLACKOUT_SORT_MAX];
    size_t nbsort;
    int64_t page, page_size; /* heartbeats only */
};

void hbbo_req_free(struct hbbo_req *r); /* NULL is accepted */

/* Start-up: creates the wheel, table and set from a->cfg (and a->sev) into a->hbbo. Logs and
 * returns -1 on a bad setting (an unknown severity in blackouts.accept) or out of memory. */
int hbbo_open(struct app *a);
/* Start-up, after the alerts are loaded: loads the stored heartbeats and blackouts (a bad one
 * is skipped with a warning), then releases the alerts in blackout that no blackout covers
 * any more (blackouts may have ended while tocsin was down); those changes are queued to the
 * store writer ahead of everything else. -1 if the store cannot be read. */
int hbbo_load(struct app *a);
void hbbo_close(struct app *a); /* NULL a->hbbo is accepted */

/* Fires the heartbeat and blackout timers up to now_ms; changes go to fx. Call before
 * alertdb_advance(), so that the alert changes made at a timer's time (possibly earlier than
 * now_ms under the test clock) get their own timers fired in the same turn. */
void hbbo_advance(struct app *a, int64_t now_ms, struct effects *fx);
int64_t hbbo_next_deadline(const struct app *a); /* INT64_MAX if none */

/* The heartbeat and blackout plugins, in Alerta's order, for one incoming alert. */
enum hbbo_verdict_kind {
    HBBO_PASS = 0,  /* receive it */
    HBBO_BLACKOUT,  /* receive it with status blackout (alertdb_receive's `blackout` flag) */
    HBBO_HEARTBEAT, /* it became a heartbeat: store no alert, answer 202 */
    HBBO_DROPPED,   /* inside a blackout: store nothing, answer 202 */
};
struct hbbo_verdict {
    enum hbbo_verdict_kind kind;
    char *body;      /* HBBO_HEARTBEAT / HBBO_DROPPED: Alerta's 202 body, owned by the caller */
    struct verr err; /* on error: status (400, 409, 413, 503), field and message */
};
/* Returns TOCSIN_OK with *v filled, or an error with v->err set (the alert is refused). */
int hbbo_incoming(struct app *a, const struct alert_in *in, int64_t now_ms, struct effects *fx,
                  struct hbbo_verdict *v);

/* Answers an EM_HBBO message. A read or an error is answered at once (net_complete); a write
 * returns true with *status and *body (owned by the caller) to be sent once its effects are
 * committed. */
bool hbbo_handle(struct app *a, struct emsg *m, struct effects *fx, int64_t now_ms, int *status,
                 char **body);

#endif
