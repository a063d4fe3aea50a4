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

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* Appends to out the attempt's context text: the stored text with `"attempt":attempt` added to
 * the notification object whose id is id and, unless has_alerts, "alerts":[A] after "alert".
 * TOCSIN_EINVAL when the stored text is not in the shape the engine writes (the caller then
 * dumps its tree instead); TOCSIN_ENOMEM. out may hold a partial result on failure. */
int nctx_attempt_text(const char *stored, const char *id, unsigned attempt, bool has_alerts,
                      struct buf *out);

/* Length of the JSON object at p (n bytes available; valid JSON is assumed, as the engine
 * wrote it), 0 if p does not hold a complete object. */
size_t nctx_object_len(const char *p, size_t n);

#endif
