/* Facet counts: how many alerts there are for each environment, (environment, service),
 * (environment, group) and (environment, tag), by status and severity, kept by the engine as
 * alerts change, so that Alerta's /environments, /services, /alerts/groups and /alerts/tags
 * (and /alerts/top10/count by event: counts by event, their duplicateCount sums, environments and
 * services) answer without reading every row (a pass of json_each over a million rows takes 3.5-5
 * s, the read side's whole budget).
 *
 * The engine thread is the only writer: it adds an alert's values (delta 1) as the alert enters
 * its tables, takes them out (delta -1) before its environment, group, services or tags change
 * and as it leaves, and moves them between (status, severity) cells when those change. Any
 * thread reads. One mutex; a read holds it while it copies one kind's entries (at most
 * FACETS_KEYS_MAX).
 *
 * Bounds: at most FACETS_KEYS_MAX entries per kind. A value that finds its kind full is not
 * kept but counted as missed, and while any alert holds a missed value that kind is incomplete:
 * facets_read says so and the caller counts rows instead. A missed value leaving brings the kind
 * back (an entry with no alert left is removed), so the fallback lasts as long as there are more
 * distinct values than the bound. Severities past the sevmap's own count (nsev) are counted in
 * the totals but in no severity. */
#ifndef TOCSIN_FACETS_H
#define TOCSIN_FACETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/alert.h"

#define FACETS_KEYS_MAX 4096

/* Keys: (environment, "") for FK_ENVIRONMENT; (environment, service | group | tag); and for
 * top10 by event, (event, ""), (event, environment), (event, service). */
enum facet_kind {
    FK_ENVIRONMENT = 0,
    FK_SERVICE,
    FK_GROUP,
    FK_TAG,
    FK_EVENT,
    FK_EVENT_ENVIRONMENT,
    FK_EVENT_SERVICE,
    FK_COUNT
};

struct facets;

/* nsev: the severities of the sevmap (at most SEVMAP_MAX). NULL if out of memory. */
struct facets *facets_new(size_t nsev);
void facets_free(struct facets *f);

/* The alert whose fields v holds (alert_views), in status `status` and severity `sev` (index in
 * the sevmap), with duplicateCount `dup`, counted in (delta 1) or out (delta -1) of every facet
 * it has a value in. */
void facets_add(struct facets *f, const struct aview v[AF_COUNT], int status, int sev, uint32_t dup,
                int delta);
/* The same alert from one (status, severity) cell to another. */
void facets_move(struct facets *f, const struct aview v[AF_COUNT], int from_status, int from_sev,
                 int to_status, int to_sev, uint32_t dup);
/* The duplicateCount of an alert of this event (its field's view) changed by ddup: the event's
 * sum, in the alert's status. */
void facets_dups(struct facets *f, const struct aview *event, int status, int64_t ddup);

/* One entry as read: its counts within the statuses asked. */
struct facet_row {
    const char *env, *value; /* NUL-terminated, in the rows' arena; value "" for environments
                                (and events); env is the event for the event kinds */
    uint64_t count;
    uint64_t dups; /* FK_EVENT: duplicateCount summed (0 for the other kinds) */
    uint64_t by_status[AST_COUNT];
    uint64_t by_sev[SEVMAP_MAX];
};
struct facet_rows {
    struct facet_row *r;
    size_t n;
    char *arena;
};

/* The entries of kind k, sorted by (env, value) in byte order, with their counts over the
 * statuses in status_mask (bit s for status s; 0: all). With `zeros`, entries that have alerts
 * only in other statuses come too (count 0); without, only entries with a count. TOCSIN_EAGAIN
 * while the kind is incomplete (see above), TOCSIN_ENOMEM. */
int facets_read(struct facets *f, enum facet_kind k, uint32_t status_mask, bool zeros,
                struct facet_rows *out);
void facet_rows_free(struct facet_rows *rows);

/* Entries held, and values missed (see above: the kind is incomplete while missed > 0). */
struct facets_stats {
    uint64_t entries[FK_COUNT];
    uint64_t missed[FK_COUNT];
};
void facets_get_stats(struct facets *f, struct facets_stats *out);
const char *facet_kind_name(enum facet_kind k); /* "environment", "service", ..., "eventService" */

#endif
