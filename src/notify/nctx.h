/* The notification context as the outbox stores it, seen as text.
 *
 * The engine writes each notification's context as compact JSON (daemon/nwire.c,
 * context_head): {"alert":A,["alerts":[...],]"change":...,"notification":{"id":"<id>"},
 * "channel":{...}}, leaving "alerts" out when it would be [A]. At each attempt the notifier
 * hands the channel that context with "alerts" put back and "notification.attempt" added.
 * nctx_attempt_text() builds the text of that context from the stored text by splicing, so a
 * body that is the whole context (the default webhook and logstash bodies) is a copy, not a
 * parse, a deep copy and a json_dumps. Pure; thread-safe. */
#ifndef TOCSIN_NCTX_H
#define TOCSIN_NCTX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Alerts parsed lately: the notifications of one alert change (one per rule that fired and
 * channel) carry the same alert text, and parsing it is most of a delivery's set-up. Those of
 * one alert through one channel go one after the other (the notifier's lanes keep their order),
 * with other alerts' in between, so the cache holds NCTX_CACHE_SLOTS alerts, direct-mapped by a
 * hash of the text; the text is compared whole, so a hit is never a wrong alert. Alert texts
 * over NCTX_CACHE_TEXT_MAX bytes are parsed each time. Memory: at most NCTX_CACHE_SLOTS texts and
 * their trees (about 2 MB for alerts of 1.2 KB). One thread's (the notifier's). */
#define NCTX_CACHE_SLOTS 256
#define NCTX_CACHE_TEXT_MAX 8192

struct nctx_slot {
    uint64_t hash;
    char *text;
    size_t len;
    json_t *alert;
};

struct nctx_cache {
    struct nctx_slot slot[NCTX_CACHE_SLOTS];
    unsigned long hits, misses;
};

/* alen, in both: the length of the alert's text A at the start, {"alert":A,..., when the caller
 * knows it (notify_rec.ctx_alen, as the engine wrote the context), else 0. A non-zero alen is
 * trusted when A's first and last bytes and the comma after it are where it says (the engine's
 * own count), so A is not scanned for its end; else it is scanned. */

/* Appends to out the attempt's context text: the stored text with `"attempt":attempt` added to
 * the notification object whose id is id and, unless has_alerts, "alerts":[A] after "alert".
 * TOCSIN_EINVAL when the stored text is not in the shape the engine writes (the caller then
 * dumps its tree instead); TOCSIN_ENOMEM. out may hold a partial result on failure. */
int nctx_attempt_text(const char *stored, size_t alen, const char *id, unsigned attempt,
                      bool has_alerts, struct buf *out);

/* The stored context parsed, with "alert" taken from the cache when its text is a cached one,
 * else parsed and cached; *shared says whether ctx.alert is the cache's (then the caller must
 * not change it: nctx_own_alert first). Grouped contexts ("alerts" stored) are parsed whole.
 * NULL when stored is not JSON. */
json_t *nctx_parse(struct nctx_cache *c, const char *stored, size_t alen, bool *shared);
/* Makes ctx.alert the context's own (a deep copy), for a caller about to change a shared one;
 * false when out of memory. */
bool nctx_own_alert(json_t *ctx);
void nctx_cache_clear(struct nctx_cache *c); /* frees what the slots hold */

/* Length of the JSON object at p (n bytes available; valid JSON is assumed, as the engine
 * wrote it), 0 if p does not hold a complete object. */
size_t nctx_object_len(const char *p, size_t n);

#endif
