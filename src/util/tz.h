/* Time zones: UTC instants to local wall-clock time, read from the system's TZif files.
 *
 * A zone is loaded once from TZ_DIR/<name> (RFC 8536, versions 1 to 4; the 64-bit data of v2+
 * files is used) and kept in a process-wide cache. Instants after the file's last transition
 * follow the POSIX TZ rule in the file's footer (e.g. "CET-1CEST,M3.5.0,M10.5.0/3"), so dates far
 * in the future (2100, ...) are right even in "slim" files.
 *
 * Names that need no file: "UTC", "Z", "GMT", "UT" and fixed offsets in the java.time ZoneId
 * spellings: "+2", "+02", "+0200", "+02:00", "+02:00:00", "-0530", optionally after a "UTC",
 * "GMT" or "UT" prefix ("UTC+2", "GMT-05:30"). A fixed offset means local = UTC + offset (unlike
 * the inverted "Etc/GMT+2" files, which are read as files). The limit is +/-18:00, as in
 * java.time. All zero offsets are the one zone named "UTC"; other fixed offsets are named
 * canonically ("+05:30", "-03:00", "+01:02:03"), which is what tz_name() returns.
 *
 * Ownership: zones returned by tz_get() belong to the cache; never free them. They stay valid
 * until tz_cache_clear(), which is meant for process exit. Functions taking a zone accept NULL
 * and then use UTC. Nothing here calls localtime() or touches the TZ environment variable. */
#ifndef TOCSIN_TZ_H
#define TOCSIN_TZ_H

#include <stddef.h>
#include <stdint.h>

#ifndef TZ_DIR
#define TZ_DIR "/usr/share/zoneinfo" /* Debian's tzdata */
#endif

#define TZ_NAME_MAX 64          /* longest accepted zone name, in bytes */
#define TZ_CACHE_MAX 512        /* zones the cache holds; tz_get() of a new one fails after */
#define TZ_FILE_MAX (64 * 1024) /* larger TZif files are refused (real ones are under 4 KiB) */

struct tz;

/* Returns the cached zone named `name`, loading it on first use, or NULL if the name is invalid
 * (see above; file names must match [A-Za-z0-9_+-/], no "..", no leading "/", no empty path
 * part, at most TZ_NAME_MAX bytes), the file is missing or not a valid TZif file (files with
 * leap-second records, such as "right/...", are refused), or the cache is full. Failures are
 * not cached. Thread-safe; the pointer stays valid until tz_cache_clear(). */
const struct tz *tz_get(const char *name);

/* The zone's name (borrowed, lives as long as the zone). "UTC" for NULL. */
const char *tz_name(const struct tz *z);

/* UTC offset in seconds at instant `utc_ms` (ms since the epoch): local = utc + offset. */
int32_t tz_offset_s(const struct tz *z, int64_t utc_ms);

/* Local wall-clock fields of an instant in a zone. */
struct tz_local {
    int year, month /* 1-12 */, mday, hour, min, sec;
    int iso_wday;       /* 1 = Monday .. 7 = Sunday */
    int32_t sec_of_day; /* hour * 3600 + min * 60 + sec, 0..86399 */
    int32_t offset_s;   /* the UTC offset used */
};

/* Breaks `utc_ms` into local fields in zone `z` (milliseconds are dropped, rounding down). */
void tz_localtime(const struct tz *z, int64_t utc_ms, struct tz_local *out);

/* Frees every cached zone; every pointer tz_get() returned becomes invalid. Call at exit, when
 * no other thread uses zones. The cache can be used again afterwards. */
void tz_cache_clear(void);

/* Lower-level entry points, for tests and fuzzers; tz_get() is the normal way in.
 * tz_from_tzif() parses a TZif image held in memory (borrowed for the call) and returns a new
 * zone named `name` (copied, cut to TZ_NAME_MAX bytes) that the caller frees with tz_free(), or
 * NULL if the data is not a valid TZif image or memory runs out. tz_free(NULL) does nothing;
 * never pass it a zone from tz_get(). */
struct tz *tz_from_tzif(const char *name, const void *data, size_t len);
void tz_free(struct tz *z);

/* Proleptic Gregorian calendar: days in month m (1..12) of year y, and days since 1970-01-01 of
 * y-m-d (negative before it). */
int tz_month_days(int64_t y, int m);
int64_t tz_days_from_civil(int64_t y, int m, int d);

#endif
