/* The alert: tocsin's stateful record, a superset of Alerta's alert (and of Keep's and
 * Alertmanager's: fingerprint, labels, annotations, source, startsAt/endsAt).
 *
 * This header holds the model and the pure rules that act on it:
 *   - the severity map (Alerta's default alarm model, configurable) and the statuses;
 *   - `struct alert_in`, one validated incoming alert as a sender gave it (arena-backed);
 *   - `struct alert`, the record as the engine holds it: fixed fields plus one packed blob of
 *     strings, lists and maps, so an alert with 5 labels and 5 attributes costs a few hundred
 *     bytes;
 *   - Alerta's state machine (alert_transition) and the receive rules.
 * Nothing here allocates globally, does I/O or reads a clock. core/alertdb.h indexes records,
 * de-duplicates and correlates, and runs timeouts on the timer wheel. */
#ifndef TOCSIN_ALERT_H
#define TOCSIN_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/timer.h"
#include "util/buf.h"

/* ---- limits on one incoming alert (bad input past these is a 400 naming the field) ---------- */
#define ALERT_MAX_NAME 1024        /* resource, event, environment, group, origin, type, ... */
#define ALERT_MAX_TEXT 65536       /* text, value, annotation values */
#define ALERT_MAX_RAW (1024 * 1024) /* rawData */
#define ALERT_MAX_ITEMS 256        /* entries of service, tags, correlate, attributes, labels,
                                      annotations */
#define ALERT_MAX_ATTR_VALUE 16384 /* one attribute value, as compact JSON */
#define ALERT_MAX_TIMEOUT (10LL * 366 * 86400) /* seconds */
#define ALERT_BLOB_MAX (64 * 1024 * 1024) /* bytes of one record's fields (far above the sum of
                                            the limits above) */

/* ---- severities ------------------------------------------------------------------------------ */
#define SEVMAP_MAX 32
#define SEV_NAME_MAX 32

/* Severity names and their codes; a lower code is more severe. Alerta's default:
 * security 0, critical 1, major 2, minor 3, warning 4, indeterminate 5, informational 6,
 * normal/ok/cleared 7, debug 8, trace 9, unknown 10. */
struct sevmap {
    size_t n;
    char name[SEVMAP_MAX][SEV_NAME_MAX];
    uint8_t code[SEVMAP_MAX];
    uint8_t normal;        /* code of "normal" (the closing severity) */
    uint8_t informational; /* code whose alerts are deleted after delete_info_after */
    uint8_t indeterminate; /* the default previousSeverity of a new alert */
    uint8_t normal_name;   /* index in name[] of the default normal severity ("normal") */
};

void sevmap_default(struct sevmap *m);
/* Index of `name` (exact, case-sensitive as Alerta), -1 if unknown. */
int sevmap_find(const struct sevmap *m, const char *name, size_t len);
/* Parses "name=code,name=code,..." (codes 0..255, names [A-Za-z0-9_-], at most SEVMAP_MAX);
 * the map must name normal, informational and indeterminate. Returns 0, or -1 with a reason. */
int sevmap_parse(const char *text, struct sevmap *m, char *why, size_t whylen);
/* "security, critical, ..." in code order, for the 400 message. */
void sevmap_list(const struct sevmap *m, char *out, size_t outlen);

/* ---- statuses and actions -------------------------------------------------------------------- */
enum astatus {
    AST_OPEN = 0, AST_ASSIGN, AST_ACK, AST_SHELVED, AST_BLACKOUT, AST_CLOSED, AST_EXPIRED,
    AST_UNKNOWN, AST_COUNT
};
const char *astatus_name(int s); /* "open", ... */
int astatus_parse(const char *s, size_t len); /* -1 if unknown */

enum aaction {
    ACT_OPEN = 0, ACT_ASSIGN, ACT_ACK, ACT_UNACK, ACT_SHELVE, ACT_UNSHELVE, ACT_CLOSE,
    ACT_EXPIRED, ACT_TIMEOUT, ACT_CUSTOM, ACT_COUNT
};
const char *aaction_name(int a);
int aaction_parse(const char *s); /* ACT_CUSTOM for any other non-empty string */

enum trend { TREND_NONE = 0, TREND_MORE, TREND_LESS, TREND_NOCHANGE };
const char *trend_name(int t); /* "", "moreSevere", "lessSevere", "noChange" */

/* ---- one incoming alert ---------------------------------------------------------------------- */
struct strlist {
    const char **v;
    uint32_t n;
};
struct kv {
    const char *k;
    const char *v; /* attributes: compact JSON text of the value ("null" deletes the key);
                      labels and annotations: the string itself */
};
struct kvlist {
    struct kv *v;
    uint32_t n;
};

enum alert_in_flags {
    AIN_SERVICE = 1u << 0, /* these say the field was present in the body */
    AIN_TAGS = 1u << 1,
    AIN_CORRELATE = 1u << 2,
    AIN_ATTRIBUTES = 1u << 3,
    AIN_LABELS = 1u << 4,
    AIN_ANNOTATIONS = 1u << 5,
    AIN_VALUE = 1u << 6,
    AIN_RAW = 1u << 7,
};

/* Everything points into the parse arena (or static strings); NULL means "absent". */
struct alert_in {
    const char *id; /* a UUID the sender chose for a new alert, or NULL */
    const char *resource, *event;   /* required, non-empty */
    const char *environment;        /* NULL: "" */
    int severity;                   /* index in the sevmap; -1: the default ("normal") */
    int status;                     /* enum astatus; -1: not set (open) */
    const char *group;              /* NULL: "Misc" */
    const char *value;              /* NULL: null (numbers arrive as their text) */
    const char *text;               /* NULL: "" */
    const char *origin;             /* NULL: the adapter's default */
    const char *type;               /* NULL: "exceptionAlert" */
    const char *customer;           /* NULL: none (an empty string is a 400) */
    const char *raw_data;           /* NULL: null; a string as is, anything else as JSON text */
    const char *fingerprint;        /* NULL: computed */
    const char *source;             /* NULL: the adapter's name */
    const char *generator_url;
    struct strlist service, tags, correlate;
    struct kvlist attributes, labels, annotations;
    int64_t create_ms;              /* 0: now */
    int64_t timeout_s;              /* -1: the default (alerts.timeout) */
    int64_t starts_ms, ends_ms;     /* 0: not given */
    unsigned flags;                 /* enum alert_in_flags */
};

void alert_in_init(struct alert_in *in); /* everything absent */

/* ---- the record ------------------------------------------------------------------------------ */
enum afield {
    AF_RESOURCE = 0, AF_EVENT, AF_ENVIRONMENT, AF_GROUP, AF_VALUE, AF_TEXT, AF_ORIGIN, AF_TYPE,
    AF_CUSTOMER, AF_SOURCE, AF_FINGERPRINT, AF_GENERATOR_URL, /* strings */
    AF_SERVICE, AF_TAGS, AF_CORRELATE,                        /* lists of strings */
    AF_ATTRIBUTES, AF_LABELS, AF_ANNOTATIONS,                 /* maps */
    AF_COUNT
};
#define AF_FIRST_LIST AF_SERVICE
#define AF_FIRST_MAP AF_ATTRIBUTES

/* A field's bytes in the blob. A string: `len` bytes (no NUL inside). A list: `n` items, each
 * NUL-terminated. A map: `n` pairs "key\0value\0" (attribute values are compact JSON). */
struct aview {
    const char *p;
    uint32_t len; /* bytes */
    uint32_t n;   /* items (lists) or pairs (maps) */
    bool null;    /* strings only: value/customer absent */
};

struct alert {
    /* engine-owned links (core/alertdb.c): hash chains and the retention list */
    struct alert *next_key, *next_res, *next_id;
    uint32_t key_h, res_h; /* hashes of the key and of (environment, resource,
                              customer), as those two chains place the alert */
    struct alert *ret_prev, *ret_next;
    struct timer tm;                /* the alert's next deadline (expiry, timeouts, deletion) */
    uint64_t rid;                   /* store row id, stable for the alert's life */
    uint8_t id[16];                 /* UUID */
    uint8_t last_receive_id[16];
    int64_t create_ms, receive_ms, last_receive_ms, update_ms, starts_ms, ends_ms;
    int64_t action_ms;              /* when the running ack/shelve began (its timeout counts) */
    int32_t timeout_s;              /* 0: never expires */
    int32_t action_timeout_s;       /* the running ack's or shelve's timeout, 0: none */
    uint32_t duplicate_count;
    uint32_t hist_seq;              /* seq of the newest history entry (1-based; 0: none) */
    uint16_t hist_n;                /* entries kept (<= alerts.history_limit) */
    uint8_t severity, previous_severity; /* codes */
    uint8_t sev_name, prev_sev_name;     /* indexes in the sevmap (names keep aliases: "ok") */
    uint8_t status, trend;
    bool repeat;
    /* What Alerta reads back from history, kept as it is written: */
    uint8_t hist_last;              /* status of the newest history entry */
    uint8_t hist_prev;              /* status of the entry before it (AST_UNKNOWN: none) */
    uint8_t before_ack;             /* status of the entry before the newest ack */
    uint8_t before_shelve;          /* status of the entry before the newest shelve */
    uint8_t nulls;                  /* bit 0: value is null, bit 1: customer is null */
    uint32_t blob_len;
    char *blob;                     /* AF_COUNT fields, each a varint byte length + bytes */
};

/* Reads field f of a. O(number of fields). */
struct aview alert_get(const struct alert *a, enum afield f);
/* Iterates the items of a list or map view: *pos starts at 0; returns false at the end. For a
 * list, *v is NULL. Strings are NUL-terminated. */
bool aview_next(const struct aview *v, uint32_t *pos, const char **k, const char **val);
bool aview_has(const struct aview *list, const char *s); /* list membership */

/* Builds a's blob from parts: fields[f] for strings (NULL = null/empty), and for lists/maps a
 * pre-encoded view (items as stored). Replaces a->blob. TOCSIN_ENOMEM. */
struct ablob_parts {
    struct aview f[AF_COUNT];
};
int alert_set_blob(struct alert *a, const struct ablob_parts *parts);
/* A deep copy (blob included, links cleared, timer not armed). NULL if out of memory. */
struct alert *alert_clone(const struct alert *a);
void alert_free(struct alert *a);
/* Bytes of heap this alert holds (struct + blob), for the statistics. */
size_t alert_heap_bytes(const struct alert *a);

/* Text UUID <-> 16 bytes. */
void uuid_to_text(const uint8_t id[16], char out[37]);
bool uuid_from_text(const char *s, size_t len, uint8_t out[16]);

/* ---- the state machine (Alerta's default alarm model) ---------------------------------------- */
struct transition {
    int status;   /* new status */
    int sev_name; /* new severity (index in the sevmap) */
};

/* The result of an operator action on a, or -1 with a reason for a 409 ("alert is already in
 * open status", "invalid action for current closed status"). ACT_CUSTOM leaves both unchanged. */
int alert_action_transition(const struct sevmap *m, const struct alert *a, int action,
                            struct transition *out, char *why, size_t whylen);
/* The status an incoming alert gives a stored (or new, status AST_OPEN with no history) record
 * whose severity is now `sev_name` and whose previous severity is `prev_sev_name`: Alerta's rules
 * for alerts received without an action. `sent_status` is the status the sender set, or -1. */
struct transition alert_receive_transition(const struct sevmap *m, const struct alert *a,
                                           int sev_name, int prev_sev_name, int sent_status);
/* Trend of going from severity code `from` to `to`. */
int alert_trend(int from, int to);

/* ---- rendering -------------------------------------------------------------------------------- */
/* Appends the alert as Alerta's JSON (without history and rawData; those come from the store)
 * plus tocsin's fields (fingerprint, labels, annotations, source, startsAt, endsAt). `href_base`
 * (e.g. "http://127.0.0.1:8072/alerta") makes "href"; NULL leaves it out. */
int alert_render_json(struct buf *b, const struct sevmap *m, const struct alert *a,
                      const char *href_base);
/* Every field's view in one walk of the blob, where several fields are read (alert_get walks it
 * from its start for each). The item counts of lists and maps (n) are left 0. */
void alert_views(const struct alert *a, struct aview v[AF_COUNT]);
/* Appends the JSON of a list field's view (array of strings) or a map field's (object; attribute
 * values are raw JSON, labels and annotations strings). TOCSIN_EINVAL for a string field. */
int alert_view_json(struct buf *b, const struct aview *v, enum afield f);
/* ISO 8601 UTC with milliseconds, "2026-11-24T05:44:27.123Z" (24 chars + NUL). */
void iso8601_ms(int64_t ms, char out[32]);
/* Parses ISO 8601 ("2026-11-24T05:44:27Z", fractions, offsets "+02:00"); false if invalid. */
bool iso8601_parse(const char *s, size_t len, int64_t *ms);

#endif
