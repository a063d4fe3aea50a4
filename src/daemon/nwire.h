/* Notifications in the running daemon: the rules (core/nrule.h) on the engine thread, the
 * channels (notify/channel.h) shared with the notifier thread, and the glue between them:
 *
 *   engine turn -> the alert changes it made (EFF_ACHANGE) -> nrules_on_change -> intents ->
 *   for each channel of an intent: one outbox record (EFF_NOTIFY) holding the JSON context,
 *   keyed by an idempotency key derived from the intent's key and the channel ->
 *   the store writer commits it -> the notifier -> nwire's channel ops render it at each attempt
 *   (with the ticket an earlier step of the same alert and channel learnt) and judge the answer.
 *
 * Channels and rules come from the API (/api/v1/channels, /api/v1/rules; stored as objects
 * "channel" and "rule", channel secrets sealed with util/secrets.h) and from files
 * (notifications.files, reloaded on SIGHUP); an item from a file cannot be changed through
 * the API. Every request about them goes to the engine thread as an EM_NOTIFY message, reads
 * too (their state lives there).
 *
 * Threads: nwire_open/nwire_load/nwire_close at start-up and shutdown; nwire_channel_ops' on
 * the notifier thread (the channel table is behind a mutex, compiled channels are immutable
 * and reference-counted); the rest on the engine thread. */
#ifndef TOCSIN_NWIRE_H
#define TOCSIN_NWIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/effects.h"
#include "core/nrule.h"
#include "notify/notifier.h"

struct app;
struct emsg;

#define NWIRE_MAX_CHANNELS 10000
#define NWIRE_MAX_TICKETS 100000 /* tickets remembered by (alert, channel) on the notifier side */

enum nreq_op {
    NR_CH_LIST = 0, NR_CH_GET, NR_CH_POST, NR_CH_PUT, NR_CH_DEL, NR_CH_TEST,
    NR_RU_LIST, NR_RU_GET, NR_RU_POST, NR_RU_PUT, NR_RU_DEL,
    NR_TICKET, /* a ticket learnt by a delivery: store it on the alert */
    NR_RELOAD  /* SIGHUP: read the files again */
};

/* What an EM_NOTIFY message asks (emsg.nreq). Freed with nreq_free(). */
struct nreq {
    enum nreq_op op;
    char *id;       /* channel or rule id from the path; NR_TICKET: the alert id */
    json_t *body;   /* POST/PUT: the JSON object */
    char *channel;  /* NR_TICKET: the channel id */
    char *ticket;   /* NR_TICKET: the ticket JSON */
};
void nreq_free(struct nreq *r);

int nwire_open(struct app *a);  /* -1 with a log line on a bad setting */
int nwire_load(struct app *a);  /* stored channels and rules, then the files; -1 on failure */
void nwire_close(struct app *a);
void nwire_reload_files(struct app *a); /* engine thread (NR_RELOAD) or start-up */
/* At a clean stop, once the engine and store threads are done: stores the rules' state. */
void nwire_save_state(struct app *a);

/* The channel operations for the notifier (ud = the app). */
extern const struct notifier_channel_ops nwire_channel_ops;

/* Engine thread. Answers a request: true with *status and *body set (answered after the turn's
 * commit), false when nothing is to be answered. */
bool nwire_handle(struct app *a, struct emsg *m, struct effects *fx, int64_t now_ms,
                  int *status, char **body);
/* After a turn: the alert changes in fx->v[from..] go through the rules; the notifications
 * they call for are appended to fx. */
void nwire_after_turn(struct app *a, struct effects *fx, size_t from, int64_t now_ms);
/* The rules' timers (delay, group_wait, group_interval, repeat_interval). */
void nwire_advance(struct app *a, int64_t now_ms, struct effects *fx);
int64_t nwire_next_deadline(const struct app *a); /* INT64_MAX if none */
void nwire_get_stats(const struct app *a, struct nrules_stats *out); /* engine thread */

/* A channel test's record: delivered once, not stored; its result answers request req_id. */
bool nwire_is_test(const struct notify_rec *rec);
/* Notifier thread (result callback): answers the test request and frees rec. */
void nwire_test_done(struct app *a, struct notify_rec *rec, const struct notify_attempt_info *at);

#endif
