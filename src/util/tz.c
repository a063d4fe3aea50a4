#include "util/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY_S 86400
#define FIXED_MAX_S (18 * 3600) /* java.time's limit for fixed offsets */
#define UTOFF_MIN (-89999)      /* RFC 8536's range for a time type's UT offset */
#define UTOFF_MAX 93599
#define POSIX_OFF_HOURS 24     /* std/dst offsets: hh in 0..24 */
#define RULE_TIME_HOURS 167    /* rule times: hh in -167..167 (RFC 8536 v3) */
#define FOOTER_MAX 255         /* longest footer TZ string accepted */
#define DEFAULT_RULE_TIME 7200 /* 02:00:00 when a rule date has no /time */

/* ---- calendar (proleptic Gregorian, days counted from 1970-01-01) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a - floor_div(a, b) * b;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int tz_month_days(int64_t y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return len[m - 1] + (m == 2 && is_leap(y));
}

/* Years are split into 400-year eras of 146097 days; inside an era, years start on March 1st
 * so that the leap day is the last day of its year. */
int64_t tz_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe, mar0;

    if (m <= 2)
        y--;
    era = floor_div(y, 400);
    yoe = y - era * 400;                /* 0..399 */
    mar0 = (m + 9) % 12;                /* March = 0 .. February = 11 */
    doy = (153 * mar0 + 2) / 5 + d - 1; /* 0..365 */
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468; /* 719468 = days from 0000-03-01 to 1970-01-01 */
}

static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097; /* 0..146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mar0 = (5 * doy + 2) / 153;

    *d = (int)(doy - (153 * mar0 + 2) / 5 + 1);
    *m = (int)(mar0 < 10 ? mar0 + 3 : mar0 - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* ---- POSIX TZ rules (the TZif footer) ---- */

enum rule_kind {
    RULE_JULIAN1, /* Jn: day 1..365, February 29th never counted */
    RULE_JULIAN0, /* n: day 0..365, February 29th counted */
    RULE_MONTH    /* Mm.w.d: day d (0 = Sunday) of week w (5 = last) of month m */
};

struct rule_date {
    enum rule_kind kind;
    int day; /* Jn: n, n: n, Mm.w.d: d */
    int month, week;
    int32_t time; /* local seconds from midnight of that day; may be negative or > 24h */
};

struct posix_rule {
    int32_t std_off, dst_off; /* UTC offsets, local = utc + off (the TZ string's sign flipped) */
    bool has_dst;
    struct rule_date start; /* DST starts, `time` in local standard time */
    struct rule_date end;   /* DST ends, `time` in local daylight time */
};

struct tz {
    char name[TZ_NAME_MAX + 1];
    size_t ntrans;
    int64_t *trans;      /* transition instants in UTC seconds, strictly ascending */
    uint8_t *trans_type; /* time type in effect from each transition on */
    size_t ntypes;       /* 0 for a fixed-offset zone */
    int32_t *type_off;   /* UTC offset of each time type */
    bool has_rule;       /* `rule` applies after the last transition */
    struct posix_rule rule;
    int32_t fixed_off; /* the offset when ntypes == 0 */
};

static const struct tz utc_zone = {.name = "UTC"};

static int64_t rule_day(const struct rule_date *r, int64_t year)
{
    int64_t first, day, last;

    switch (r->kind) {
    case RULE_JULIAN1:
        return tz_days_from_civil(year, 1, 1) + r->day - 1 + (is_leap(year) && r->day >= 60);
    case RULE_JULIAN0:
        return tz_days_from_civil(year, 1, 1) + r->day;
    case RULE_MONTH:
        break;
    }
    first = tz_days_from_civil(year, r->month, 1);
    day = first + floor_mod(r->day - floor_mod(first + 4, 7), 7) + (r->week - 1) * 7;
    last = first + tz_month_days(year, r->month) - 1;
    while (day > last)
        day -= 7;
    return day;
}

/* The UTC instant of a rule date in `year`, `off` being the offset in force before it. */
static int64_t rule_instant(const struct rule_date *r, int64_t year, int32_t off)
{
    return rule_day(r, year) * DAY_S + r->time - off;
}

/* The offset at `t`: the state set by the latest DST start or end at or before `t`. Years around
 * t's are scanned because rule times up to +/-167h can move a change into a neighbouring year.
 * When a start and an end fall on the same instant the start wins, which makes rules like
 * "EST5EDT,0/0,J365/25" mean DST all year, as RFC 8536 says. */
static int32_t rule_offset(const struct posix_rule *r, int64_t t)
{
    int64_t y, yy, best = 0;
    int m, d;
    bool found = false, dst = false;

    if (!r->has_dst)
        return r->std_off;
    civil_from_days(floor_div(t, DAY_S), &y, &m, &d);
    for (yy = y - 2; yy <= y + 1; yy++) {
        int64_t e = rule_instant(&r->end, yy, r->dst_off);
        int64_t s = rule_instant(&r->start, yy, r->std_off);
        if (e <= t && (!found || e > best)) {
            best = e;
            dst = false;
            found = true;
        }
        if (s <= t && (!found || s >= best)) {
            best = s;
            dst = true;
            found = true;
        }
    }
    return dst ? r->dst_off : r->std_off;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Reads 1..maxdig decimal digits worth at most `max`. */
static bool parse_uint(const char **sp, int maxdig, int max, int *out)
{
    const char *s = *sp;
    int v = 0, n = 0;

    while (is_digit(*s) && n < maxdig) {
        v = v * 10 + (*s - '0');
        s++;
        n++;
    }
    if (n == 0 || is_digit(*s) || v > max)
        return false;
    *sp = s;
    *out = v;
    return true;
}

/* [+-]hh[:mm[:ss]] in seconds, hh at most max_hours. */
static bool parse_hms(const char **sp, int max_hours, int32_t *out)
{
    const char *s = *sp;
    int sign = 1, h, m = 0, sec = 0;

    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (!parse_uint(&s, 3, max_hours, &h))
        return false;
    if (*s == ':') {
        s++;
        if (!parse_uint(&s, 2, 59, &m))
            return false;
        if (*s == ':') {
            s++;
            if (!parse_uint(&s, 2, 59, &sec))
                return false;
        }
    }
    *sp = s;
    *out = sign * (h * 3600 + m * 60 + sec);
    return true;
}

/* An abbreviation: letters, or <...> holding letters, digits, '+' and '-'. Not kept. */
static bool parse_abbr(const char **sp)
{
    const char *s = *sp;

    if (*s == '<') {
        s++;
        while (is_alpha(*s) || is_digit(*s) || *s == '+' || *s == '-')
            s++;
        if (*s != '>' || s == *sp + 1)
            return false;
        s++;
    } else {
        while (is_alpha(*s))
            s++;
        if (s == *sp)
            return false;
    }
    *sp = s;
    return true;
}

static bool parse_rule_date(const char **sp, struct rule_date *r)
{
    const char *s = *sp;

    memset(r, 0, sizeof *r);
    if (*s == 'J') {
        s++;
        r->kind = RULE_JULIAN1;
        if (!parse_uint(&s, 3, 365, &r->day) || r->day < 1)
            return false;
    } else if (*s == 'M') {
        s++;
        r->kind = RULE_MONTH;
        if (!parse_uint(&s, 2, 12, &r->month) || r->month < 1 || *s++ != '.')
            return false;
        if (!parse_uint(&s, 1, 5, &r->week) || r->week < 1 || *s++ != '.')
            return false;
        if (!parse_uint(&s, 1, 6, &r->day))
            return false;
    } else {
        r->kind = RULE_JULIAN0;
        if (!parse_uint(&s, 3, 365, &r->day))
            return false;
    }
    r->time = DEFAULT_RULE_TIME;
    if (*s == '/') {
        s++;
        if (!parse_hms(&s, RULE_TIME_HOURS, &r->time))
            return false;
    }
    *sp = s;
    return true;
}

/* std offset [dst [offset] [,start[/time],end[/time]]] */
static bool parse_posix(const char *s, struct posix_rule *r)
{
    int32_t v;

    memset(r, 0, sizeof *r);
    if (!parse_abbr(&s) || !parse_hms(&s, POSIX_OFF_HOURS, &v))
        return false;
    r->std_off = -v;
    if (*s == '\0')
        return true;
    if (!parse_abbr(&s))
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if (!parse_hms(&s, POSIX_OFF_HOURS, &v))
            return false;
        r->dst_off = -v;
    }
    if (*s == '\0') { /* no rule given: M3.2.0,M11.1.0 (the US rule), as the tz code does */
        r->start = (struct rule_date){RULE_MONTH, 0, 3, 2, DEFAULT_RULE_TIME};
        r->end = (struct rule_date){RULE_MONTH, 0, 11, 1, DEFAULT_RULE_TIME};
        return true;
    }
    if (*s++ != ',' || !parse_rule_date(&s, &r->start))
        return false;
    if (*s++ != ',' || !parse_rule_date(&s, &r->end))
        return false;
    return *s == '\0';
}

/* ---- offsets and local time ---- */

static int32_t zone_offset(const struct tz *z, int64_t t)
{
    size_t lo, hi;

    if (!z)
        return 0;
    if (z->ntypes == 0)
        return z->fixed_off;
    if (z->ntrans == 0)
        return z->has_rule ? rule_offset(&z->rule, t) : z->type_off[0];
    if (t < z->trans[0])
        return z->type_off[0];
    if (t > z->trans[z->ntrans - 1] && z->has_rule)
        return rule_offset(&z->rule, t);
    lo = 0; /* trans[lo] <= t < trans[hi] */
    hi = z->ntrans;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->type_off[z->trans_type[lo]];
}

const char *tz_name(const struct tz *z)
{
    return z ? z->name : utc_zone.name;
}

int32_t tz_offset_s(const struct tz *z, int64_t utc_ms)
{
    return zone_offset(z, floor_div(utc_ms, 1000));
}

void tz_localtime(const struct tz *z, int64_t utc_ms, struct tz_local *out)
{
    int64_t t = floor_div(utc_ms, 1000);
    int32_t off = zone_offset(z, t);
    int64_t local = t + off;
    int64_t days = floor_div(local, DAY_S);
    int32_t sod = (int32_t)(local - days * DAY_S);
    int64_t y;

    civil_from_days(days, &y, &out->month, &out->mday);
    out->year = (int)y;
    out->hour = sod / 3600;
    out->min = sod / 60 % 60;
    out->sec = sod % 60;
    out->iso_wday = (int)floor_mod(days + 3, 7) + 1; /* 1970-01-01 was a Thursday */
    out->sec_of_day = sod;
    out->offset_s = off;
}

/* ---- TZif (RFC 8536) ---- */

struct reader {
    const uint8_t *p;
    size_t len, pos;
};

struct tzif_hdr {
    int version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static const uint8_t *take(struct reader *r, uint64_t n)
{
    const uint8_t *p;

    if (n > r->len - r->pos)
        return NULL;
    p = r->p + r->pos;
    r->pos += (size_t)n;
    return p;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static bool read_header(struct reader *r, struct tzif_hdr *h)
{
    const uint8_t *p = take(r, 44);

    if (!p || memcmp(p, "TZif", 4) != 0)
        return false;
    if (p[4] == 0)
        h->version = 1;
    else if (p[4] >= '2' && p[4] <= '4')
        h->version = p[4] - '0';
    else
        return false;
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0)
        return false;
    if ((h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
        (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
        return false;
    return true;
}

/* Bytes of the data block that follows a header; `tsize` is 4 (v1 block) or 8 (v2+ block). */
static uint64_t block_size(const struct tzif_hdr *h, uint64_t tsize)
{
    return (uint64_t)h->timecnt * (tsize + 1) + (uint64_t)h->typecnt * 6 + h->charcnt +
           (uint64_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

static bool read_types(const uint8_t *p, const struct tzif_hdr *h, struct tz *z)
{
    for (size_t i = 0; i < h->typecnt; i++, p += 6) {
        int64_t off = (int32_t)be32(p);
        if (off < UTOFF_MIN || off > UTOFF_MAX || p[4] > 1 || p[5] >= h->charcnt)
            return false;
        z->type_off[i] = (int32_t)off;
    }
    return true;
}

/* Reads one data block into z. Files with leap-second records are refused: their transition
 * times count leap seconds, and the rest of tocsin uses POSIX time. */
static bool read_block(struct reader *r, const struct tzif_hdr *h, size_t tsize, struct tz *z)
{
    const uint8_t *p = take(r, block_size(h, tsize));

    if (!p || h->leapcnt != 0)
        return false;
    z->ntrans = h->timecnt;
    z->ntypes = h->typecnt;
    z->trans = malloc(z->ntrans ? z->ntrans * sizeof *z->trans : 1);
    z->trans_type = malloc(z->ntrans ? z->ntrans : 1);
    z->type_off = malloc(z->ntypes * sizeof *z->type_off);
    if (!z->trans || !z->trans_type || !z->type_off)
        return false;
    for (size_t i = 0; i < z->ntrans; i++, p += tsize) {
        z->trans[i] = tsize == 8 ? be64(p) : (int32_t)be32(p);
        if (i > 0 && z->trans[i] <= z->trans[i - 1])
            return false;
    }
    for (size_t i = 0; i < z->ntrans; i++, p++) {
        if (*p >= h->typecnt)
            return false;
        z->trans_type[i] = *p;
    }
    return read_types(p, h, z);
}

/* The v2+ footer: "\n" TZ string "\n". An empty string means no rule. */
static bool read_footer(struct reader *r, struct tz *z)
{
    char s[FOOTER_MAX + 1];
    const uint8_t *p = take(r, 1);
    size_t n = 0;

    if (!p || *p != '\n')
        return false;
    for (;;) {
        if (!(p = take(r, 1)))
            return false;
        if (*p == '\n')
            break;
        if (*p == '\0' || n == FOOTER_MAX)
            return false;
        s[n++] = (char)*p;
    }
    s[n] = '\0';
    if (n == 0)
        return true;
    z->has_rule = true;
    return parse_posix(s, &z->rule);
}

void tz_free(struct tz *z)
{
    if (!z)
        return;
    free(z->trans);
    free(z->trans_type);
    free(z->type_off);
    free(z);
}

struct tz *tz_from_tzif(const char *name, const void *data, size_t len)
{
    struct reader r = {data, len, 0};
    struct tzif_hdr h;
    struct tz *z = calloc(1, sizeof *z);
    bool ok = false;

    if (!z || !data)
        goto out;
    snprintf(z->name, sizeof z->name, "%s", name ? name : "");
    if (!read_header(&r, &h))
        goto out;
    if (h.version == 1) {
        ok = read_block(&r, &h, 4, z);
        goto out;
    }
    if (!take(&r, block_size(&h, 4)) || !read_header(&r, &h) || h.version == 1)
        goto out;
    ok = read_block(&r, &h, 8, z) && read_footer(&r, z);
out:
    if (!ok) {
        tz_free(z);
        z = NULL;
    }
    return z;
}

/* ---- names ---- */

/* A file name under TZ_DIR: [A-Za-z0-9_+-/], no "..", no leading, trailing or double '/'. */
static bool valid_file_name(const char *name)
{
    size_t n = strnlen(name, TZ_NAME_MAX + 1);

    if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/')
        return false;
    if (strstr(name, "..") || strstr(name, "//"))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '+' && c != '-' && c != '/')
            return false;
    }
    return true;
}

static bool two_digits(const char **sp, int max, int *out)
{
    const char *s = *sp;

    if (!is_digit(s[0]) || !is_digit(s[1]))
        return false;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    *sp = s + 2;
    return *out <= max;
}

/* java.time offsets: +h, +hh, +hh:mm, +hhmm, +hh:mm:ss, +hhmmss (or '-'), at most 18:00. */
static bool parse_fixed(const char *s, int32_t *off)
{
    int sign, h, m = 0, sec = 0;

    if (*s != '+' && *s != '-')
        return false;
    sign = *s++ == '-' ? -1 : 1;
    if (is_digit(s[0]) && s[1] == '\0') {
        h = s[0] - '0';
        s++;
    } else if (!two_digits(&s, 18, &h)) {
        return false;
    } else if (*s == ':') {
        s++;
        if (!two_digits(&s, 59, &m))
            return false;
        if (*s == ':') {
            s++;
            if (!two_digits(&s, 59, &sec))
                return false;
        }
    } else if (*s != '\0') {
        if (!two_digits(&s, 59, &m))
            return false;
        if (*s != '\0' && !two_digits(&s, 59, &sec))
            return false;
    }
    if (*s != '\0' || h * 3600 + m * 60 + sec > FIXED_MAX_S)
        return false;
    *off = sign * (h * 3600 + m * 60 + sec);
    return true;
}

/* Zones that need no file: UTC and its aliases, and fixed offsets with an optional prefix. */
static bool parse_special(const char *name, int32_t *off)
{
    const char *s = name;

    if (!strcmp(s, "UTC") || !strcmp(s, "Z") || !strcmp(s, "GMT") || !strcmp(s, "UT")) {
        *off = 0;
        return true;
    }
    if (!strncmp(s, "UTC", 3) || !strncmp(s, "GMT", 3))
        s += 3;
    else if (!strncmp(s, "UT", 2))
        s += 2;
    return parse_fixed(s, off);
}

static void offset_name(char *dst, size_t len, int32_t off)
{
    int32_t a = off < 0 ? -off : off;
    char sign = off < 0 ? '-' : '+';

    if (a % 60)
        snprintf(dst, len, "%c%02d:%02d:%02d", sign, (int)(a / 3600), (int)(a / 60 % 60),
                 (int)(a % 60));
    else
        snprintf(dst, len, "%c%02d:%02d", sign, (int)(a / 3600), (int)(a / 60 % 60));
}

static struct tz *fixed_zone(const char *name, int32_t off)
{
    struct tz *z = calloc(1, sizeof *z);

    if (!z)
        return NULL;
    snprintf(z->name, sizeof z->name, "%s", name);
    z->fixed_off = off;
    return z;
}

static struct tz *load_file(const char *name)
{
    char path[sizeof TZ_DIR + 1 + TZ_NAME_MAX + 1];
    uint8_t *data = NULL;
    struct tz *z = NULL;
    struct stat st;
    size_t n = 0;
    int fd = -1;

    snprintf(path, sizeof path, "%s/%s", TZ_DIR, name);
    /* O_NONBLOCK so that a FIFO cannot hang us before fstat() refuses it. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > TZ_FILE_MAX)
        goto out;
    data = malloc(TZ_FILE_MAX + 1);
    if (!data)
        goto out;
    while (n <= TZ_FILE_MAX) {
        ssize_t got = read(fd, data + n, TZ_FILE_MAX + 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            goto out;
        if (got == 0)
            break;
        n += (size_t)got;
    }
    if (n <= TZ_FILE_MAX)
        z = tz_from_tzif(name, data, n);
out:
    if (fd >= 0)
        close(fd);
    free(data);
    return z;
}

/* ---- the cache ---- */

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tz *cache[TZ_CACHE_MAX]; /* owned */
static size_t cache_len;

static struct tz *cache_find(const char *key) /* cache_mu held */
{
    for (size_t i = 0; i < cache_len; i++)
        if (!strcmp(cache[i]->name, key))
            return cache[i];
    return NULL;
}

const struct tz *tz_get(const char *name)
{
    char key[TZ_NAME_MAX + 1];
    struct tz *z, *found;
    int32_t off = 0;
    bool fixed;

    if (!name || strnlen(name, TZ_NAME_MAX + 1) > TZ_NAME_MAX)
        return NULL;
    fixed = parse_special(name, &off);
    if (fixed && off == 0)
        return &utc_zone;
    if (fixed)
        offset_name(key, sizeof key, off);
    else if (valid_file_name(name))
        snprintf(key, sizeof key, "%s", name);
    else
        return NULL;

    pthread_mutex_lock(&cache_mu);
    found = cache_find(key);
    pthread_mutex_unlock(&cache_mu);
    if (found)
        return found;

    /* Load without the lock; if another thread got there first, keep theirs. */
    z = fixed ? fixed_zone(key, off) : load_file(key);
    if (!z)
        return NULL;
    pthread_mutex_lock(&cache_mu);
    found = cache_find(key);
    if (!found && cache_len < TZ_CACHE_MAX) {
        cache[cache_len++] = z;
        found = z;
        z = NULL;
    }
    pthread_mutex_unlock(&cache_mu);
    tz_free(z);
    return found;
}

void tz_cache_clear(void)
{
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < cache_len; i++) {
        tz_free(cache[i]);
        cache[i] = NULL;
    }
    cache_len = 0;
    pthread_mutex_unlock(&cache_mu);
}
