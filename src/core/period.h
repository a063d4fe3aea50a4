/* Notification periods: the local days and times of day when a trigger may notify.
 *
 * The JSON shape is Gravitee Alert Engine's:
 *   {"days": [1,2,3,4,5], "zoneId": "Europe/Paris", "beginHour": 28800, "endHour": 64800}
 * - days: ISO days, 1 = Monday .. 7 = Sunday. Absent or null = every day. An empty array
 *   matches no day at all (as in AE, where the list is tested with contains()).
 * - zoneId: a zone name resolved by the caller's lookup (see util/tz.h). Absent or null = "UTC"
 *   (AE requires it; tocsin defaults it).
 * - beginHour, endHour: SECONDS since local midnight (wall clock), 0..86399, defaults 0 and
 *   86399. Both ends are inclusive, to the second: with endHour 64800 (18:00:00), 18:00:00.999
 *   matches and 18:00:01 does not.
 *
 * Ranges across midnight (a tocsin extension; AE never matches when begin > end): begin > end
 * means from `begin` on day D until `end` on day D+1, and `days` is tested against D, the day on
 * which the range STARTS. E.g. days [5] (Friday), begin 22:00, end 06:00 matches Friday 23:00
 * and Saturday 05:00, but not Friday 05:00 (that belongs to Thursday's range) nor Saturday 23:00.
 * Sunday wraps to Monday: days [7] with 22:00-06:00 matches Monday 05:00.
 *
 * Times are local wall-clock times: on a DST change day the clock readings that do not exist
 * never match, and the readings that happen twice match both times.
 *
 * Pure: no I/O, no clock. Zones come from the caller. */
#ifndef TOCSIN_PERIOD_H
#define TOCSIN_PERIOD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/tz.h"

#define PERIOD_ALL_DAYS 0xFE /* bits 1..7 */
#define PERIOD_END_MAX 86399 /* last second of a day */

struct period {
    uint8_t days_mask;      /* bit d (1..7) set = ISO day d allowed; PERIOD_ALL_DAYS = all days */
    const struct tz *tz;    /* borrowed, must outlive the period (tz_get() zones do); NULL = UTC */
    int32_t begin_s, end_s; /* 0..86399, inclusive */
};

/* Resolves a zone name, or returns NULL if it is unknown. `ud` is the caller's. The daemon passes
 * a function wrapping tz_get(); tests can pass their own. */
typedef const struct tz *(*tz_lookup_fn)(void *ud, const char *name);

/* Fills `p` from an AE period object (borrowed for the call). Keys are matched
 * case-insensitively (an exact-case key wins); unknown keys are ignored. Integral reals (8.0) are
 * accepted wherever an integer is. Returns TOCSIN_OK, or TOCSIN_EINVAL with *field set to a
 * static string naming the bad field ("days", "zoneId", "beginHour", "endHour"; "period" when
 * `j` is not an object) and a message in `msg` (cut to `msglen`, always terminated if
 * msglen > 0). `p` is only written on success. `field` and `msg` may be NULL. */
int period_from_json(const json_t *j, tz_lookup_fn lookup, void *ud, struct period *p,
                     const char **field, char *msg, size_t msglen);

/* A new JSON object in the same AE shape; the caller owns the reference (json_decref()). "days"
 * is null for all days, else the sorted list. NULL if memory runs out. */
json_t *period_to_json(const struct period *p);

/* True if the instant `utc_ms` (ms since the epoch) falls inside the period. */
bool period_includes(const struct period *p, int64_t utc_ms);

/* True if n == 0 (no periods = always) or any of the n periods includes `utc_ms`. */
bool periods_include(const struct period *ps, size_t n, int64_t utc_ms);

#endif
