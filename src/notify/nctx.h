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

#include "util/buf.h"

/* The last alert parsed: the notifications of one alert change (one per rule that fired and
 * channel) carry the same alert text, and parsing it is most of a delivery's set-up. One
 * thread's (the notifier's); the text is compared whole, so a hit is never a wrong alert. */
struct nctx_cache {
    char *text;
    size_t len;
    json_t *alert;
    unsigned long hits, misses;
};

/* Appends to out the attempt's context text: the stored text with `"attempt":attempt` added to
 * the notification object whose id is id and, unless has_alerts, "alerts":[A] after "alert".
 * TOCSIN_EINVAL when the stored text is not in the shape the engine writes (the caller then
 * dumps its tree instead); TOCSIN_ENOMEM. out may hold a partial result on failure. */
int nctx_attempt_text(const char *stored, const char *id, unsigned attempt, bool has_alerts,
                      struct buf *out);

/* The stored context parsed, with "alert" taken from the cache when its text is the cached
 * one (then shared: the caller must not change it; see nctx_own_alert), else parsed and
 * cached. Grouped contexts ("alerts" stored) are parsed whole. NULL when stored is not JSON. */
json_t *nctx_parse(struct nctx_cache *c, const char *stored);
/* Makes ctx.alert the context's own (a deep copy when shared with the cache), for a caller
 * about to change it; false when out of memory. */
bool nctx_own_alert(struct nctx_cache *c, json_t *ctx);
void nctx_cache_clear(struct nctx_cache *c);

/* Length of the JSON object at p (n bytes available; valid JSON is assumed, as the engine
 * wrote it), 0 if p does not hold a complete object. */
size_t nctx_object_len(const char *p, size_t n);

#endif
