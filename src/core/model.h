/* The records that leave the engine: alert changes and notifications to deliver, plus the
 * trigger changes to persist. They are plain data, owned by whoever holds them, and cross threads
 * (engine -> store writer -> notifier). */
#ifndef TOCSIN_MODEL_H
#define TOCSIN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOCSIN_ID_LEN 36 /* a UUID in text form */

enum severity { SEV_INFO = 0, SEV_WARNING, SEV_CRITICAL, SEV_COUNT };
enum alert_status { ALERT_OPEN = 0, ALERT_RESOLVED, ALERT_STATUS_COUNT };

const char *severity_name(enum severity s);   /* "info" | "warning" | "critical" */
int severity_parse(const char *s);            /* case-insensitive; -1 if unknown */
const char *alert_status_name(enum alert_status s); /* "open" | "resolved" */
int alert_status_parse(const char *s);

/* An alert raised by a trigger. Strings are owned (malloc'd), free with alert_rec_free(). */
struct alert_rec {
    char id[TOCSIN_ID_LEN + 1];
    char *fingerprint;     /* trigger id + projection values, stable */
    char *trigger_id;
    char *name;            /* trigger name */
    char *source;          /* trigger source (= event type) */
    char *description;
    enum severity severity;
    enum alert_status status;
    uint64_t count;        /* times fired while this alert existed */
    int64_t first_ms;      /* first fire, wall ms */
    int64_t last_ms;       /* last fire */
    int64_t updated_ms;    /* last change of any kind */
    int64_t resolved_ms;   /* 0 while open */
    char *projection_json; /* JSON object {property: value} of the projection key, "{}" if none */
    /* The same projection for the alert store, without JSON: the property names and their
     * values, each list joined by '\x1f'; "" when the trigger has no projection. */
    char *projection_names;
    char *projection_values;
    char *properties_json; /* JSON object: the properties of the event that last fired it */
    char *message;         /* human summary of the last evaluation that fired */
};

void alert_rec_free(struct alert_rec *a);
struct alert_rec *alert_rec_dup(const struct alert_rec *a);

enum notify_status { NOTIFY_PENDING = 0, NOTIFY_DELIVERED, NOTIFY_FAILED, NOTIFY_STATUS_COUNT };
const char *notify_status_name(enum notify_status s); /* "pending" | "delivered" | "failed" */
int notify_status_parse(const char *s);

/* One delivery in the durable outbox. Two kinds:
 *   - a trigger's own AE notification (channel_id NULL): method, url, headers and body were
 *     rendered by the engine; the notifier sends them as they are;
 *   - a rule's notification through a channel (channel_id set): ctx holds the JSON context and
 *     the channel renders it at each attempt (so a ticket learnt by an earlier step is used).
 * `id` is the idempotency key: the outbox holds at most one row per key.
 * Strings are owned; free with notify_rec_free(). */
struct notify_rec {
    int64_t seq;          /* outbox row id, assigned by the store on insert (0 before) */
    char id[TOCSIN_ID_LEN + 1];
    char alert_id[TOCSIN_ID_LEN + 1];
    char *trigger_id;
    char *channel;        /* notifier type, e.g. "webhook-notifier" */
    char *method;         /* "POST" ... */
    char *url;
    char *headers_json;   /* JSON array [{"name":..,"value":..}], "[]" if none */
    char *body;           /* may be "" */
    bool use_proxy;       /* useSystemProxy: honour http(s)_proxy from the environment */
    bool tls_verify;      /* true unless the channel says otherwise */
    bool resolve;         /* true if this tells of a resolve */
    enum notify_status status;
    uint32_t attempts;    /* attempts made so far */
    uint32_t max_attempts;
    int64_t created_ms;
    int64_t next_ms;      /* wall ms of the next attempt (pending only) */
    int64_t updated_ms;
    int last_http_status; /* 0 if no HTTP answer */
    char *last_error;     /* NULL or a short reason */
    char *rule_id;        /* the rule that made it (NULL: a trigger's own notification) */
    char *channel_id;     /* the channel it goes through (NULL: pre-rendered, see above) */
    char *change;         /* the alert change that caused it ("create", ...; NULL: none) */
    char *ctx;            /* channel notifications: the JSON context rendered at each attempt */
    /* ctx opens with {"alert": and then the alert's JSON of this many bytes (0: unknown). The
     * store keeps that JSON once for the records of a transaction that share it. Never stored. */
    size_t ctx_alen;
    char *ticket;         /* JSON {"id","url",...} a response of this channel gave, or NULL */
    uint64_t test_req;    /* a channel test: the HTTP request its result answers (never stored) */
    int64_t ready_ns;     /* monotonic, when handed to the notifier (never stored; the stats) */
    /* Records of one alert through one channel go one after the other, but those of one group
     * (nonzero, the same in all: notifications of one alert state, from the rules that fired
     * on one change) may go together: their order among themselves does not matter. Never
     * stored: after a restart every record is its own group. */
    uint64_t group;
};

void notify_rec_free(struct notify_rec *n);
struct notify_rec *notify_rec_dup(const struct notify_rec *n);

#endif
