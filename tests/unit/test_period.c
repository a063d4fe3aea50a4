/* Tests for util/tz (TZif reader, POSIX rules, fixed offsets, cache) and core/period.
 * Zones come from /usr/share/zoneinfo (Debian tzdata). Instants are built with timegm(), an
 * independent oracle; expected offsets were checked against zdump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/period.h"
#include "util/err.h"
#include "util/tz.h"

/* ---- helpers ---- */

static int64_t ms(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (int64_t)timegm(&tm) * 1000;
}

static const struct tz *zone(const char *name)
{
    const struct tz *z = tz_get(name);
    assert_non_null(z);
    return z;
}

struct lookup_log {
    char last[80];
    int calls;
};

static const struct tz *lookup(void *ud, const char *name)
{
    struct lookup_log *log = ud;

    if (log) {
        snprintf(log->last, sizeof log->last, "%s", name);
        log->calls++;
    }
    return tz_get(name);
}

static const struct tz *lookup_none(void *ud, const char *name)
{
    (void)ud;
    (void)name;
    return NULL;
}

/* Parses `text` into *p, failing the test on any error. */
static void period_ok(const char *text, struct period *p)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    const char *field = NULL;
    char msg[128] = "";

    assert_non_null(j);
    if (period_from_json(j, lookup, NULL, p, &field, msg, sizeof msg) != TOCSIN_OK)
        fail_msg("%s: field=%s msg=%s", text, field, msg);
    json_decref(j);
}

static void assert_period_eq(const struct period *a, const struct period *b)
{
    assert_int_equal(a->days_mask, b->days_mask);
    assert_ptr_equal(a->tz, b->tz);
    assert_int_equal(a->begin_s, b->begin_s);
    assert_int_equal(a->end_s, b->end_s);
}

/* ---- building TZif images in memory ---- */

struct tzif_spec {
    char version; /* 0 (v1), '2', '3' */
    size_t ntrans;
    const int64_t *trans;
    const uint8_t *idx;
    size_t ntypes;
    const int32_t *offs;
    uint32_t leapcnt;
    const char *footer; /* v2+ */
};

struct bytes {
    uint8_t b[4096];
    size_t n;
};

static void put(struct bytes *o, const void *p, size_t n)
{
    assert_true(o->n + n <= sizeof o->b);
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put_be(struct bytes *o, uint64_t v, int nbytes)
{
    for (int i = nbytes - 1; i >= 0; i--) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        put(o, &c, 1);
    }
}

static void put_header(struct bytes *o, char version, uint32_t leap, size_t ntrans, size_t ntypes)
{
    uint8_t zero[15] = {0};

    put(o, "TZif", 4);
    put(o, &version, 1);
    put(o, zero, 15);
    put_be(o, 0, 4); /* isutcnt */
    put_be(o, 0, 4); /* isstdcnt */
    put_be(o, leap, 4);
    put_be(o, ntrans, 4);
    put_be(o, ntypes, 4);
    put_be(o, 4, 4); /* charcnt: "ABC\0" */
}

static void put_data(struct bytes *o, const struct tzif_spec *s, size_t ntrans, int tsize)
{
    uint8_t zero[12] = {0};

    for (size_t i = 0; i < ntrans; i++)
        put_be(o, (uint64_t)s->trans[i], tsize);
    if (ntrans)
        put(o, s->idx, ntrans);
    for (size_t i = 0; i < s->ntypes; i++) {
        uint8_t isdst_idx[2] = {0, 0};
        put_be(o, (uint32_t)s->offs[i], 4);
        put(o, isdst_idx, 2);
    }
    put(o, "ABC", 4);
    for (uint32_t i = 0; i < s->leapcnt; i++)
        put(o, zero, (size_t)tsize + 4);
}

static void build_tzif(struct bytes *o, const struct tzif_spec *s)
{
    o->n = 0;
    if (s->version == 0) {
        put_header(o, 0, s->leapcnt, s->ntrans, s->ntypes);
        put_data(o, s, s->ntrans, 4);
        return;
    }
    put_header(o, s->version, s->leapcnt, 0, s->ntypes); /* v1 block: no transitions */
    put_data(o, s, 0, 4);
    put_header(o, s->version, s->leapcnt, s->ntrans, s->ntypes);
    put_data(o, s, s->ntrans, 8);
    put(o, "\n", 1);
    put(o, s->footer, strlen(s->footer));
    put(o, "\n", 1);
}

/* A v3 zone with no transitions: everything follows the footer. */
static struct tz *footer_zone(const char *footer)
{
    static const int32_t offs[1] = {0};
    struct tzif_spec s = {.version = '3', .ntypes = 1, .offs = offs, .footer = footer};
    struct bytes o;

    build_tzif(&o, &s);
    return tz_from_tzif("test", o.b, o.n);
}

/* ---- tz: names ---- */

static void test_tz_utc_aliases(void **state)
{
    const char *names[] = {"UTC", "Z",     "GMT",       "UT",     "+00:00",
                           "-00", "UTC+0", "GMT-00:00", "+000000"};
    const struct tz *utc = zone("UTC");

    (void)state;
    assert_string_equal(tz_name(utc), "UTC");
    assert_string_equal(tz_name(NULL), "UTC");
    assert_int_equal(tz_offset_s(NULL, ms(2026, 7, 1, 0, 0, 0)), 0);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        assert_ptr_equal(zone(names[i]), utc);
        assert_int_equal(tz_offset_s(zone(names[i]), ms(2026, 7, 1, 0, 0, 0)), 0);
    }
}

static void test_tz_fixed_offsets(void **state)
{
    static const struct {
        const char *name, *canon;
        int32_t off;
    } ok[] = {
        {"+02:00", "+02:00", 7200},        {"+2", "+02:00", 7200},
        {"+02", "+02:00", 7200},           {"+0200", "+02:00", 7200},
        {"UTC+2", "+02:00", 7200},         {"GMT+02:00", "+02:00", 7200},
        {"UT+2", "+02:00", 7200},          {"-0530", "-05:30", -19800},
        {"-05:30", "-05:30", -19800},      {"UTC-05:30", "-05:30", -19800},
        {"+05:30:15", "+05:30:15", 19815}, {"+053015", "+05:30:15", 19815},
        {"+18:00", "+18:00", 64800},       {"-18", "-18:00", -64800},
    };
    static const char *bad[] = {
        "+18:01", "+19", "-19:00",   "+1:30", "+05:3",  "+05:30:",   "+05300",     "+0530001",
        "UTC+",   "+",   "UTC+2:00", "+2a",   "+05:60", "+05:30:60", "UTC+02:00 ", "utc+2"};
    int64_t t = ms(2026, 1, 15, 12, 0, 0);

    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        const struct tz *z = tz_get(ok[i].name);
        if (!z)
            fail_msg("tz_get(\"%s\") failed", ok[i].name);
        assert_string_equal(tz_name(z), ok[i].canon);
        assert_int_equal(tz_offset_s(z, t), ok[i].off);
        assert_ptr_equal(z, tz_get(ok[i].canon)); /* one zone per offset */
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (tz_get(bad[i]))
            fail_msg("tz_get(\"%s\") should fail", bad[i]);
    }
    /* The Etc/GMT files are POSIX-style: Etc/GMT+2 is two hours BEHIND UTC. */
    assert_int_equal(tz_offset_s(zone("Etc/GMT+2"), t), -7200);
    assert_string_equal(tz_name(zone("Etc/GMT+2")), "Etc/GMT+2");
}

static void test_tz_invalid_names(void **state)
{
    static const char *bad[] = {
        "",
        "../etc/passwd",
        "/etc/localtime",
        "/usr/share/zoneinfo/UTC",
        "Europe/../UTC",
        "Europe/..",
        "..",
        "Europe/Paris/",
        "Europe//Paris",
        "Europe/Pa ris",
        "Europe/Paris\n",
        "Europe\\Paris",
        "zone.tab",
        "Europe",       /* a directory */
        "Nowhere/City", /* no such file */
        "leapseconds",  /* a text file, not TZif */
        "right/UTC",    /* leap-second records: refused */
        "America/Argentina/Buenos_Aires_But_Longer_Than_Sixty_Four_Bytes_Of_Name",
    };

    (void)state;
    assert_null(tz_get(NULL));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (tz_get(bad[i]))
            fail_msg("tz_get(\"%s\") should fail", bad[i]);
    }
    /* Names with '_', '-', '+' and several levels are fine. */
    assert_non_null(tz_get("America/Argentina/Buenos_Aires"));
    assert_non_null(tz_get("America/Port-au-Prince"));
    assert_non_null(tz_get("Etc/GMT-14"));
    assert_string_equal(tz_name(zone("Europe/Paris")), "Europe/Paris");
}

/* ---- tz: real zones ---- */

static void test_tz_paris_2026(void **state)
{
    const struct tz *z = zone("Europe/Paris");
    struct tz_local l;

    (void)state;
    assert_int_equal(tz_offset_s(z, ms(2026, 1, 15, 12, 0, 0)), 3600);
    assert_int_equal(tz_offset_s(z, ms(2026, 3, 29, 0, 59, 59)), 3600);
    assert_int_equal(tz_offset_s(z, ms(2026, 3, 29, 0, 59, 59) + 999), 3600);
    assert_int_equal(tz_offset_s(z, ms(2026, 3, 29, 1, 0, 0)), 7200);
    assert_int_equal(tz_offset_s(z, ms(2026, 10, 25, 0, 59, 59)), 7200);
    assert_int_equal(tz_offset_s(z, ms(2026, 10, 25, 1, 0, 0)), 3600);

    tz_localtime(z, ms(2026, 3, 29, 1, 0, 0), &l);
    assert_int_equal(l.year, 2026);
    assert_int_equal(l.month, 3);
    assert_int_equal(l.mday, 29);
    assert_int_equal(l.hour, 3);
    assert_int_equal(l.min, 0);
    assert_int_equal(l.sec, 0);
    assert_int_equal(l.iso_wday, 7);
    assert_int_equal(l.sec_of_day, 3 * 3600);
    assert_int_equal(l.offset_s, 7200);

    tz_localtime(z, ms(2026, 3, 29, 0, 59, 59) + 999, &l);
    assert_int_equal(l.hour, 1);
    assert_int_equal(l.min, 59);
    assert_int_equal(l.sec, 59);

    /* 23:30 UTC on New Year's Eve is already the next year, and a Friday, in Paris. */
    tz_localtime(z, ms(2026, 12, 31, 23, 30, 0), &l);
    assert_int_equal(l.year, 2027);
    assert_int_equal(l.month, 1);
    assert_int_equal(l.mday, 1);
    assert_int_equal(l.hour, 0);
    assert_int_equal(l.min, 30);
    assert_int_equal(l.iso_wday, 5);
}

static void test_tz_new_york_2026(void **state)
{
    const struct tz *z = zone("America/New_York");
    struct tz_local l;

    (void)state;
    assert_int_equal(tz_offset_s(z, ms(2026, 3, 8, 6, 59, 59)), -18000);
    assert_int_equal(tz_offset_s(z, ms(2026, 3, 8, 7, 0, 0)), -14400);
    assert_int_equal(tz_offset_s(z, ms(2026, 11, 1, 5, 59, 59)), -14400);
    assert_int_equal(tz_offset_s(z, ms(2026, 11, 1, 6, 0, 0)), -18000);

    /* Early UTC morning is still the previous local day. */
    tz_localtime(z, ms(2026, 3, 9, 2, 0, 0), &l);
    assert_int_equal(l.mday, 8);
    assert_int_equal(l.hour, 22);
    assert_int_equal(l.iso_wday, 7);
}

static void test_tz_kolkata(void **state)
{
    const struct tz *z = zone("Asia/Kolkata");
    struct tz_local l;

    (void)state;
    assert_int_equal(tz_offset_s(z, ms(2026, 1, 1, 0, 0, 0)), 19800);
    assert_int_equal(tz_offset_s(z, ms(2026, 7, 1, 0, 0, 0)), 19800);
    assert_int_equal(tz_offset_s(z, ms(2100, 7, 1, 0, 0, 0)), 19800);
    tz_localtime(z, ms(2026, 6, 15, 18, 30, 0), &l);
    assert_int_equal(l.mday, 16);
    assert_int_equal(l.hour, 0);
    assert_int_equal(l.min, 0);
    assert_int_equal(l.iso_wday, 2);
}

static void test_tz_lord_howe(void **state)
{
    const struct tz *z = zone("Australia/Lord_Howe");

    (void)state;
    /* DST is only 30 minutes: +11:00 in summer, +10:30 in winter. */
    assert_int_equal(tz_offset_s(z, ms(2026, 4, 4, 14, 59, 59)), 39600);
    assert_int_equal(tz_offset_s(z, ms(2026, 4, 4, 15, 0, 0)), 37800);
    assert_int_equal(tz_offset_s(z, ms(2026, 10, 3, 15, 29, 59)), 37800);
    assert_int_equal(tz_offset_s(z, ms(2026, 10, 3, 15, 30, 0)), 39600);
}

static void test_tz_far_future(void **state)
{
    const struct tz *paris = zone("Europe/Paris");
    const struct tz *ny = zone("America/New_York");
    const struct tz *lh = zone("Australia/Lord_Howe");
    struct tz_local l;

    (void)state;
    /* The files list transitions up to 2037; 2100 comes from the footer rule. */
    assert_int_equal(tz_offset_s(paris, ms(2100, 3, 28, 0, 59, 59)), 3600);
    assert_int_equal(tz_offset_s(paris, ms(2100, 3, 28, 1, 0, 0)), 7200);
    assert_int_equal(tz_offset_s(paris, ms(2100, 10, 31, 0, 59, 59)), 7200);
    assert_int_equal(tz_offset_s(paris, ms(2100, 10, 31, 1, 0, 0)), 3600);
    assert_int_equal(tz_offset_s(ny, ms(2100, 3, 14, 6, 59, 59)), -18000);
    assert_int_equal(tz_offset_s(ny, ms(2100, 3, 14, 7, 0, 0)), -14400);
    assert_int_equal(tz_offset_s(ny, ms(2100, 11, 7, 5, 59, 59)), -14400);
    assert_int_equal(tz_offset_s(ny, ms(2100, 11, 7, 6, 0, 0)), -18000);
    assert_int_equal(tz_offset_s(lh, ms(2100, 4, 3, 14, 59, 59)), 39600);
    assert_int_equal(tz_offset_s(lh, ms(2100, 4, 3, 15, 0, 0)), 37800);
    assert_int_equal(tz_offset_s(lh, ms(2100, 10, 2, 15, 29, 59)), 37800);
    assert_int_equal(tz_offset_s(lh, ms(2100, 10, 2, 15, 30, 0)), 39600);

    /* 2100 is not a leap year: Feb 28 is followed by Mar 1, a Monday. */
    tz_localtime(paris, ms(2100, 2, 28, 23, 0, 0), &l);
    assert_int_equal(l.month, 3);
    assert_int_equal(l.mday, 1);
    assert_int_equal(l.iso_wday, 1);
}

/* Our calendar against glibc's gmtime_r() over 1600..2600, and around the epoch. */
static void test_tz_calendar(void **state)
{
    struct tz_local l;
    struct tm tm;
    time_t tt;

    (void)state;
    for (int64_t t = -11676096000LL; t < 19880000000LL; t += 7919 * 61 + 13) {
        tt = (time_t)t;
        assert_non_null(gmtime_r(&tt, &tm));
        tz_localtime(NULL, t * 1000, &l);
        if (l.year != tm.tm_year + 1900 || l.month != tm.tm_mon + 1 || l.mday != tm.tm_mday ||
            l.hour != tm.tm_hour || l.min != tm.tm_min || l.sec != tm.tm_sec ||
            l.iso_wday != (tm.tm_wday == 0 ? 7 : tm.tm_wday))
            fail_msg("t=%lld: %04d-%02d-%02d %02d:%02d:%02d wd%d", (long long)t, l.year, l.month,
                     l.mday, l.hour, l.min, l.sec, l.iso_wday);
    }
    tz_localtime(NULL, -1, &l); /* milliseconds round down, also before 1970 */
    assert_int_equal(l.year, 1969);
    assert_int_equal(l.month, 12);
    assert_int_equal(l.mday, 31);
    assert_int_equal(l.sec_of_day, 86399);
    assert_int_equal(l.iso_wday, 3);
    tz_localtime(NULL, ms(2000, 2, 29, 12, 0, 0), &l);
    assert_int_equal(l.month, 2);
    assert_int_equal(l.mday, 29);
    assert_int_equal(l.iso_wday, 2);
    tz_localtime(NULL, INT64_MAX, &l); /* no overflow at the ends */
    tz_localtime(zone("Europe/Paris"), INT64_MIN, &l);
    tz_localtime(zone("Europe/Paris"), INT64_MAX, &l); /* August, year 292278994: CEST */
    assert_int_equal(l.year, 292278994);
    assert_int_equal(l.offset_s, 7200);
}

/* ---- tz: TZif and POSIX rules built in memory ---- */

static void test_tzif_footer_rules(void **state)
{
    struct tz *z;

    (void)state;
    /* Israel: Mm.w.d with a time past 24h (v3): Thursday 26:00 = Friday 02:00. */
    z = footer_zone("IST-2IDT,M3.4.4/26,M10.5.0");
    assert_non_null(z);
    assert_int_equal(tz_offset_s(z, ms(2026, 3, 26, 23, 59, 59)), 7200);
    assert_int_equal(tz_offset_s(z, ms(2026, 3, 27, 0, 0, 0)), 10800);
    assert_int_equal(tz_offset_s(z, ms(2026, 10, 24, 22, 59, 59)), 10800);
    assert_int_equal(tz_offset_s(z, ms(2026, 10, 24, 23, 0, 0)), 7200);
    tz_free(z);

    /* Greenland: negative rule time (-1 = 23:00 the day before), quoted names. */
    z = footer_zone("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    assert_non_null(z);
    assert_int_equal(tz_offset_s(z, ms(2026, 3, 29, 0, 59, 59)), -7200);
    assert_int_equal(tz_offset_s(z, ms(2026, 3, 29, 1, 0, 0)), -3600);
    assert_int_equal(tz_offset_s(z, ms(2026, 10, 25, 0, 59, 59)), -3600);
    assert_int_equal(tz_offset_s(z, ms(2026, 10, 25, 1, 0, 0)), -7200);
    tz_free(z);

    /* Lord Howe's own footer: minutes in offsets, southern hemisphere. */
    z = footer_zone("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
    assert_non_null(z);
    assert_int_equal(tz_offset_s(z, ms(2026, 4, 4, 14, 59, 59)), 39600);
    assert_int_equal(tz_offset_s(z, ms(2026, 4, 4, 15, 0, 0)), 37800);
    assert_int_equal(tz_offset_s(z, ms(2026, 7, 1, 0, 0, 0)), 37800);
    assert_int_equal(tz_offset_s(z, ms(2026, 10, 3, 15, 30, 0)), 39600);
    assert_int_equal(tz_offset_s(z, ms(2026, 12, 31, 23, 0, 0)), 39600);
    tz_free(z);

    /* Jn never counts Feb 29: J60 is March 1 every year. Default DST = std + 1h, /02:00. */
    z = footer_zone("XXX0YYY,J60,J300");
    assert_non_null(z);
    assert_int_equal(tz_offset_s(z, ms(2028, 3, 1, 1, 59, 59)), 0);
    assert_int_equal(tz_offset_s(z, ms(2028, 3, 1, 2, 0, 0)), 3600);
    assert_int_equal(tz_offset_s(z, ms(2028, 10, 27, 0, 59, 59)), 3600);
    assert_int_equal(tz_offset_s(z, ms(2028, 10, 27, 1, 0, 0)), 0);
    tz_free(z);

    /* n counts from 0 and counts Feb 29: day 59 is Feb 29 in 2028, March 1 in 2027. */
    z = footer_zone("XXX0YYY,59,299");
    assert_non_null(z);
    assert_int_equal(tz_offset_s(z, ms(2028, 2, 29, 2, 0, 0)), 3600);
    assert_int_equal(tz_offset_s(z, ms(2028, 2, 29, 1, 59, 59)), 0);
    assert_int_equal(tz_offset_s(z, ms(2027, 3, 1, 2, 0, 0)), 3600);
    assert_int_equal(tz_offset_s(z, ms(2027, 2, 28, 12, 0, 0)), 0);
    assert_int_equal(tz_offset_s(z, ms(2028, 10, 26, 1, 0, 0)), 0);
    assert_int_equal(tz_offset_s(z, ms(2027, 10, 27, 0, 59, 59)), 3600);
    tz_free(z);

    /* DST all year (RFC 8536 3.3.1). */
    z = footer_zone("EST5EDT,0/0,J365/25");
    assert_non_null(z);
    assert_int_equal(tz_offset_s(z, ms(2026, 1, 1, 0, 0, 0)), -14400);
    assert_int_equal(tz_offset_s(z, ms(2026, 1, 1, 4, 30, 0)), -14400);
    assert_int_equal(tz_offset_s(z, ms(2026, 7, 1, 0, 0, 0)), -14400);
    assert_int_equal(tz_offset_s(z, ms(2026, 12, 31, 23, 0, 0)), -14400);
    tz_free(z);

    /* No DST at all; and DST with no rule, which means the US rule. */
    z = footer_zone("<+03>-3");
    assert_non_null(z);
    assert_int_equal(tz_offset_s(z, ms(2026, 7, 1, 0, 0, 0)), 10800);
    tz_free(z);
    z = footer_zone("EST5EDT");
    assert_non_null(z);
    assert_int_equal(tz_offset_s(z, ms(2026, 3, 8, 6, 59, 59)), -18000);
    assert_int_equal(tz_offset_s(z, ms(2026, 3, 8, 7, 0, 0)), -14400);
    tz_free(z);
}

static void test_tzif_bad_footers(void **state)
{
    static const char *bad[] = {
        "CET",                           /* no offset */
        "CET-1CEST,M3.5.0",              /* no end */
        "CET-1CEST,M3.5.0,",             /* empty end */
        "CET-1CEST,M13.5.0,M10.5.0",     /* month 13 */
        "CET-1CEST,M3.6.0,M10.5.0",      /* week 6 */
        "CET-1CEST,M3.5.7,M10.5.0",      /* day 7 */
        "CET-1CEST,M3.5.0/168,M10.5.0",  /* rule time past 167h */
        "CET-1CEST,J0,J300",             /* J starts at 1 */
        "CET-1CEST,366,300",             /* n ends at 365 */
        "CET-25",                        /* offset past 24h */
        "CET-1:60",                      /* minutes */
        "<+03-3",                        /* unclosed quote */
        "<>-3",                          /* empty quoted name */
        "-3",                            /* no name */
        "CET-1CEST,M3.5.0,M10.5.0 junk", /* trailing text */
    };

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct tz *z = footer_zone(bad[i]);
        if (z) {
            tz_free(z);
            fail_msg("footer \"%s\" should be refused", bad[i]);
        }
    }
}

static void test_tzif_transitions(void **state)
{
    /* Type 0 before the first transition, the table in between, the footer after. */
    static const int64_t trans[2] = {1000000000, 2000000000};
    static const uint8_t idx[2] = {1, 2};
    static const int32_t offs[3] = {100, 3600, -3600};
    struct tzif_spec s = {.version = '2',
                          .ntrans = 2,
                          .trans = trans,
                          .idx = idx,
                          .ntypes = 3,
                          .offs = offs,
                          .footer = "<+05>-5"};
    struct bytes o;
    struct tz *z;

    (void)state;
    build_tzif(&o, &s);
    z = tz_from_tzif("mem", o.b, o.n);
    assert_non_null(z);
    assert_string_equal(tz_name(z), "mem");
    assert_int_equal(tz_offset_s(z, 999999999LL * 1000 + 999), 100);
    assert_int_equal(tz_offset_s(z, 1000000000LL * 1000), 3600);
    assert_int_equal(tz_offset_s(z, 1999999999LL * 1000), 3600);
    assert_int_equal(tz_offset_s(z, 2000000000LL * 1000), -3600); /* at the last transition */
    assert_int_equal(tz_offset_s(z, 2000000001LL * 1000), 18000); /* after it: the footer */
    tz_free(z);

    /* An empty footer: the last type stays in force. */
    s.footer = "";
    build_tzif(&o, &s);
    z = tz_from_tzif("mem", o.b, o.n);
    assert_non_null(z);
    assert_int_equal(tz_offset_s(z, 3000000000LL * 1000), -3600);
    tz_free(z);

    /* Version 1: 32-bit data, no footer. */
    s.version = 0;
    build_tzif(&o, &s);
    z = tz_from_tzif("v1", o.b, o.n);
    assert_non_null(z);
    assert_int_equal(tz_offset_s(z, 0), 100);
    assert_int_equal(tz_offset_s(z, 1500000000LL * 1000), 3600);
    assert_int_equal(tz_offset_s(z, 3000000000LL * 1000), -3600);
    tz_free(z);
}

static void test_tzif_malformed(void **state)
{
    static const int64_t trans[2] = {1000000000, 2000000000};
    static const int64_t unsorted[2] = {2000000000, 1000000000};
    static const uint8_t idx[2] = {0, 1};
    static const uint8_t bad_idx[2] = {0, 2};
    static const int32_t offs[2] = {0, 3600};
    static const int32_t huge[2] = {0, 100000};
    struct tzif_spec good = {.version = '2',
                             .ntrans = 2,
                             .trans = trans,
                             .idx = idx,
                             .ntypes = 2,
                             .offs = offs,
                             .footer = "UTC0"};
    struct tzif_spec s;
    struct bytes o;
    struct tz *z;

    (void)state;
    build_tzif(&o, &good);
    z = tz_from_tzif("ok", o.b, o.n);
    assert_non_null(z);
    tz_free(z);
    /* Every truncation of a valid file is refused. */
    for (size_t n = 0; n < o.n; n++)
        assert_null(tz_from_tzif("cut", o.b, n));
    assert_null(tz_from_tzif("null", NULL, 0));
    o.b[0] = 'X'; /* bad magic */
    assert_null(tz_from_tzif("magic", o.b, o.n));
    build_tzif(&o, &good);
    o.b[4] = '9'; /* unknown version */
    assert_null(tz_from_tzif("version", o.b, o.n));

    s = good;
    s.trans = unsorted;
    build_tzif(&o, &s);
    assert_null(tz_from_tzif("unsorted", o.b, o.n));
    s = good;
    s.idx = bad_idx;
    build_tzif(&o, &s);
    assert_null(tz_from_tzif("index", o.b, o.n));
    s = good;
    s.offs = huge;
    build_tzif(&o, &s);
    assert_null(tz_from_tzif("offset", o.b, o.n));
    s = good;
    s.leapcnt = 1;
    build_tzif(&o, &s);
    assert_null(tz_from_tzif("leap", o.b, o.n));
    s = good;
    s.ntypes = 0;
    build_tzif(&o, &s);
    assert_null(tz_from_tzif("notypes", o.b, o.n));
    tz_free(NULL);
}

/* ---- tz: cache ---- */

struct race {
    const struct tz *got[3];
};

static void *race_thread(void *arg)
{
    struct race *r = arg;

    r->got[0] = tz_get("Pacific/Chatham");
    r->got[1] = tz_get("America/Sao_Paulo");
    r->got[2] = tz_get("-09:30");
    return NULL;
}

static void test_tz_cache_threads(void **state)
{
    pthread_t th[8];
    struct race r[8];

    (void)state;
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race_thread, &r[i]), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < 8; i++) {
        for (int k = 0; k < 3; k++) {
            assert_non_null(r[i].got[k]);
            assert_ptr_equal(r[i].got[k], r[0].got[k]);
        }
    }
    assert_ptr_equal(tz_get("Pacific/Chatham"), r[0].got[0]);
}

static void test_tz_cache_full(void **state)
{
    char name[16];
    const struct tz *first;

    (void)state;
    tz_cache_clear();
    for (int i = 1; i <= TZ_CACHE_MAX; i++) {
        snprintf(name, sizeof name, "+%02d:%02d", i / 60, i % 60);
        if (!tz_get(name))
            fail_msg("zone %d (%s) refused", i, name);
    }
    first = tz_get("+00:01");
    assert_non_null(first);
    assert_null(tz_get("+12:00")); /* full: new zones are refused */
    assert_null(tz_get("Europe/Paris"));
    assert_ptr_equal(tz_get("+00:01"), first); /* cached ones still work */
    assert_non_null(tz_get("UTC"));            /* UTC needs no slot */
    tz_cache_clear();
    assert_non_null(tz_get("Europe/Paris"));
}

/* ---- period: matching ---- */

static void test_period_utc_inclusive(void **state)
{
    struct period p;

    (void)state;
    period_ok("{\"zoneId\": \"UTC\", \"beginHour\": 3600, \"endHour\": 7200}", &p);
    assert_int_equal(p.days_mask, PERIOD_ALL_DAYS);
    assert_false(period_includes(&p, ms(2026, 5, 4, 0, 59, 59) + 999));
    assert_true(period_includes(&p, ms(2026, 5, 4, 1, 0, 0))); /* exactly beginHour */
    assert_true(period_includes(&p, ms(2026, 5, 4, 1, 30, 0)));
    assert_true(period_includes(&p, ms(2026, 5, 4, 2, 0, 0))); /* exactly endHour */
    assert_true(period_includes(&p, ms(2026, 5, 4, 2, 0, 0) + 999));
    assert_false(period_includes(&p, ms(2026, 5, 4, 2, 0, 1))); /* endHour + 1s */
    assert_true(period_includes(&p, ms(2026, 5, 10, 1, 0, 0))); /* any day */

    /* begin == end: that one second. */
    period_ok("{\"beginHour\": 43200, \"endHour\": 43200}", &p);
    assert_true(period_includes(&p, ms(2026, 5, 4, 12, 0, 0)));
    assert_false(period_includes(&p, ms(2026, 5, 4, 11, 59, 59)));
    assert_false(period_includes(&p, ms(2026, 5, 4, 12, 0, 1)));

    /* The whole day by default. */
    period_ok("{}", &p);
    assert_true(period_includes(&p, ms(2026, 5, 4, 0, 0, 0)));
    assert_true(period_includes(&p, ms(2026, 5, 4, 23, 59, 59)));
}

static void test_period_paris_business_hours(void **state)
{
    struct period p;

    (void)state;
    period_ok("{\"days\": [1,2,3,4,5], \"zoneId\": \"Europe/Paris\", \"beginHour\": 28800, "
              "\"endHour\": 64800}",
              &p);
    assert_int_equal(p.days_mask, 0x3E);
    /* Friday before the March change: CET, UTC+1. */
    assert_false(period_includes(&p, ms(2026, 3, 27, 6, 59, 59)));
    assert_true(period_includes(&p, ms(2026, 3, 27, 7, 0, 0)));
    assert_true(period_includes(&p, ms(2026, 3, 27, 17, 0, 0)));
    assert_false(period_includes(&p, ms(2026, 3, 27, 17, 0, 1)));
    /* The weekend of the change. */
    assert_false(period_includes(&p, ms(2026, 3, 28, 10, 0, 0)));
    assert_false(period_includes(&p, ms(2026, 3, 29, 10, 0, 0)));
    /* Monday after: CEST, UTC+2. */
    assert_false(period_includes(&p, ms(2026, 3, 30, 5, 59, 59)));
    assert_true(period_includes(&p, ms(2026, 3, 30, 6, 0, 0)));
    assert_true(period_includes(&p, ms(2026, 3, 30, 16, 0, 0)));
    assert_false(period_includes(&p, ms(2026, 3, 30, 16, 0, 1)));
    assert_false(period_includes(&p, ms(2026, 3, 30, 17, 0, 0))); /* 18:00 in winter time */
    /* Friday before the October change: still CEST. */
    assert_false(period_includes(&p, ms(2026, 10, 23, 5, 59, 59)));
    assert_true(period_includes(&p, ms(2026, 10, 23, 6, 0, 0)));
    assert_true(period_includes(&p, ms(2026, 10, 23, 16, 0, 0)));
    assert_false(period_includes(&p, ms(2026, 10, 23, 16, 0, 1)));
    /* Monday after: CET again. */
    assert_false(period_includes(&p, ms(2026, 10, 26, 6, 0, 0))); /* 07:00 local */
    assert_false(period_includes(&p, ms(2026, 10, 26, 6, 59, 59)));
    assert_true(period_includes(&p, ms(2026, 10, 26, 7, 0, 0)));
    assert_true(period_includes(&p, ms(2026, 10, 26, 17, 0, 0)));
    assert_false(period_includes(&p, ms(2026, 10, 26, 17, 0, 1)));
}

static void test_period_new_york(void **state)
{
    struct period p;

    (void)state;
    period_ok("{\"days\": [1,2,3,4,5], \"zoneId\": \"America/New_York\", "
              "\"beginHour\": 32400, \"endHour\": 61200}",
              &p);
    assert_false(period_includes(&p, ms(2026, 3, 6, 13, 59, 59))); /* Friday, EST */
    assert_true(period_includes(&p, ms(2026, 3, 6, 14, 0, 0)));
    assert_true(period_includes(&p, ms(2026, 3, 6, 22, 0, 0)));
    assert_false(period_includes(&p, ms(2026, 3, 6, 22, 0, 1)));
    assert_false(period_includes(&p, ms(2026, 3, 9, 12, 59, 59))); /* Monday, EDT */
    assert_true(period_includes(&p, ms(2026, 3, 9, 13, 0, 0)));
    assert_true(period_includes(&p, ms(2026, 3, 9, 21, 0, 0)));
    assert_false(period_includes(&p, ms(2026, 3, 9, 21, 0, 1)));
    assert_true(period_includes(&p, ms(2026, 10, 30, 13, 0, 0))); /* Friday, EDT */
    assert_false(period_includes(&p, ms(2026, 11, 2, 13, 0, 0))); /* Monday, EST: 08:00 */
    assert_true(period_includes(&p, ms(2026, 11, 2, 14, 0, 0)));
    /* Saturday 01:00 UTC is Friday 20:00 in New York: a weekday, but out of hours. */
    assert_false(period_includes(&p, ms(2026, 3, 7, 1, 0, 0)));
}

static void test_period_kolkata(void **state)
{
    struct period p;

    (void)state;
    period_ok("{\"zoneId\": \"Asia/Kolkata\", \"beginHour\": 32400, \"endHour\": 61200}", &p);
    assert_false(period_includes(&p, ms(2026, 6, 15, 3, 29, 59)));
    assert_true(period_includes(&p, ms(2026, 6, 15, 3, 30, 0)));
    assert_true(period_includes(&p, ms(2026, 6, 15, 11, 30, 0)));
    assert_false(period_includes(&p, ms(2026, 6, 15, 11, 30, 1)));
}

static void test_period_lord_howe(void **state)
{
    struct period p;

    (void)state;
    period_ok("{\"days\": [1], \"zoneId\": \"Australia/Lord_Howe\", \"beginHour\": 32400, "
              "\"endHour\": 61200}",
              &p);
    /* Monday 09:00 in summer (+11:00) is Sunday 22:00 UTC. */
    assert_false(period_includes(&p, ms(2026, 1, 11, 21, 59, 59)));
    assert_true(period_includes(&p, ms(2026, 1, 11, 22, 0, 0)));
    /* Monday 09:00 in winter (+10:30) is Sunday 22:30 UTC. */
    assert_false(period_includes(&p, ms(2026, 7, 12, 22, 0, 0)));
    assert_false(period_includes(&p, ms(2026, 7, 12, 22, 29, 59)));
    assert_true(period_includes(&p, ms(2026, 7, 12, 22, 30, 0)));
    assert_true(period_includes(&p, ms(2026, 7, 13, 6, 30, 0)));
    assert_false(period_includes(&p, ms(2026, 7, 13, 6, 30, 1)));
}

static void test_period_across_midnight(void **state)
{
    struct period p;

    (void)state;
    /* Friday 22:00 until Saturday 06:00. */
    period_ok("{\"days\": [5], \"beginHour\": 79200, \"endHour\": 21600}", &p);
    assert_false(period_includes(&p, ms(2026, 3, 27, 21, 59, 59)));
    assert_true(period_includes(&p, ms(2026, 3, 27, 22, 0, 0)));
    assert_true(period_includes(&p, ms(2026, 3, 27, 23, 0, 0))); /* Friday 23:00 */
    assert_true(period_includes(&p, ms(2026, 3, 28, 0, 0, 0)));
    assert_true(period_includes(&p, ms(2026, 3, 28, 5, 0, 0))); /* Saturday 05:00 */
    assert_true(period_includes(&p, ms(2026, 3, 28, 6, 0, 0))); /* exactly endHour */
    assert_false(period_includes(&p, ms(2026, 3, 28, 6, 0, 1)));
    assert_false(period_includes(&p, ms(2026, 3, 27, 5, 0, 0)));  /* Friday 05:00 */
    assert_false(period_includes(&p, ms(2026, 3, 27, 0, 30, 0))); /* Thursday's night */
    assert_false(period_includes(&p, ms(2026, 3, 26, 23, 0, 0))); /* Thursday 23:00 */
    assert_false(period_includes(&p, ms(2026, 3, 28, 23, 0, 0))); /* Saturday 23:00 */
    assert_false(period_includes(&p, ms(2026, 3, 27, 12, 0, 0))); /* the day in between */

    /* Sunday night wraps to Monday morning. */
    period_ok("{\"days\": [7], \"beginHour\": 79200, \"endHour\": 21600}", &p);
    assert_true(period_includes(&p, ms(2026, 3, 29, 23, 0, 0))); /* Sunday 23:00 */
    assert_true(period_includes(&p, ms(2026, 3, 30, 5, 0, 0)));  /* Monday 05:00 */
    assert_false(period_includes(&p, ms(2026, 3, 30, 6, 0, 1)));
    assert_false(period_includes(&p, ms(2026, 3, 30, 23, 0, 0))); /* Monday 23:00 */
    assert_false(period_includes(&p, ms(2026, 3, 29, 5, 0, 0)));  /* Sunday 05:00 */

    /* Every night, in Paris, over the March change (02:00-03:00 does not exist that night). */
    period_ok("{\"zoneId\": \"Europe/Paris\", \"beginHour\": 79200, \"endHour\": 21600}", &p);
    assert_true(period_includes(&p, ms(2026, 3, 28, 21, 0, 0))); /* 22:00 CET */
    assert_false(period_includes(&p, ms(2026, 3, 28, 20, 59, 59)));
    assert_true(period_includes(&p, ms(2026, 3, 29, 0, 59, 59))); /* 01:59:59 CET */
    assert_true(period_includes(&p, ms(2026, 3, 29, 1, 0, 0)));   /* 03:00 CEST */
    assert_true(period_includes(&p, ms(2026, 3, 29, 4, 0, 0)));   /* 06:00 CEST */
    assert_false(period_includes(&p, ms(2026, 3, 29, 4, 0, 1)));
}

static void test_period_far_future(void **state)
{
    struct period p;

    (void)state;
    period_ok("{\"days\": [1,2,3,4,5], \"zoneId\": \"Europe/Paris\", \"beginHour\": 28800, "
              "\"endHour\": 64800}",
              &p);
    assert_false(period_includes(&p, ms(2100, 3, 26, 6, 59, 59))); /* Friday, CET */
    assert_true(period_includes(&p, ms(2100, 3, 26, 7, 0, 0)));
    assert_false(period_includes(&p, ms(2100, 3, 29, 5, 59, 59))); /* Monday, CEST */
    assert_true(period_includes(&p, ms(2100, 3, 29, 6, 0, 0)));
    assert_true(period_includes(&p, ms(2100, 3, 29, 16, 0, 0)));
    assert_false(period_includes(&p, ms(2100, 3, 29, 16, 0, 1)));
    assert_false(period_includes(&p, ms(2100, 3, 28, 10, 0, 0))); /* Sunday */
}

static void test_period_fixed_offset(void **state)
{
    struct period p;

    (void)state;
    period_ok("{\"zoneId\": \"+05:30\", \"beginHour\": 32400, \"endHour\": 61200}", &p);
    assert_string_equal(tz_name(p.tz), "+05:30");
    assert_false(period_includes(&p, ms(2026, 6, 15, 3, 29, 59)));
    assert_true(period_includes(&p, ms(2026, 6, 15, 3, 30, 0)));
    assert_false(period_includes(&p, ms(2026, 6, 15, 11, 30, 1)));

    period_ok("{\"days\": [1], \"zoneId\": \"UTC-3\", \"beginHour\": 0, \"endHour\": 3599}", &p);
    assert_true(period_includes(&p, ms(2026, 6, 15, 3, 0, 0)));    /* Monday 00:00 local */
    assert_false(period_includes(&p, ms(2026, 6, 15, 2, 59, 59))); /* Sunday 23:59:59 */
    assert_false(period_includes(&p, ms(2026, 6, 15, 4, 0, 0)));
}

static void test_periods_include(void **state)
{
    struct period ps[2];

    (void)state;
    assert_true(periods_include(NULL, 0, ms(2026, 6, 15, 12, 0, 0)));
    period_ok("{\"beginHour\": 3600, \"endHour\": 7200}", &ps[0]);
    period_ok("{\"beginHour\": 36000, \"endHour\": 39600}", &ps[1]);
    assert_true(periods_include(ps, 2, ms(2026, 6, 15, 1, 30, 0)));
    assert_true(periods_include(ps, 2, ms(2026, 6, 15, 10, 30, 0)));
    assert_false(periods_include(ps, 2, ms(2026, 6, 15, 5, 0, 0)));
    assert_false(periods_include(ps, 1, ms(2026, 6, 15, 10, 30, 0)));
}

/* ---- period: JSON ---- */

static void test_period_json_defaults(void **state)
{
    struct lookup_log log = {.calls = 0};
    struct period p;
    json_t *j;

    (void)state;
    j = json_loads("{}", 0, NULL);
    assert_int_equal(period_from_json(j, lookup, &log, &p, NULL, NULL, 0), TOCSIN_OK);
    json_decref(j);
    assert_int_equal(log.calls, 1);
    assert_string_equal(log.last, "UTC"); /* no zoneId: UTC, through the caller's lookup */
    assert_int_equal(p.days_mask, PERIOD_ALL_DAYS);
    assert_string_equal(tz_name(p.tz), "UTC");
    assert_int_equal(p.begin_s, 0);
    assert_int_equal(p.end_s, 86399);

    period_ok("{\"days\": null, \"zoneId\": null, \"beginHour\": null, \"endHour\": null}", &p);
    assert_int_equal(p.days_mask, PERIOD_ALL_DAYS);
    assert_int_equal(p.begin_s, 0);
    assert_int_equal(p.end_s, 86399);

    /* Keys in any case, integral reals, duplicates in days, unknown keys ignored. */
    period_ok("{\"DAYS\": [7, 7, 1.0], \"zoneid\": \"Europe/Paris\", \"BeginHour\": 28800.0, "
              "\"ENDHOUR\": 64800, \"comment\": \"x\"}",
              &p);
    assert_int_equal(p.days_mask, (1 << 7) | (1 << 1));
    assert_string_equal(tz_name(p.tz), "Europe/Paris");
    assert_int_equal(p.begin_s, 28800);
    assert_int_equal(p.end_s, 64800);
    /* The exact-case key wins over another spelling. */
    period_ok("{\"beginhour\": 5, \"beginHour\": 7}", &p);
    assert_int_equal(p.begin_s, 7);

    /* An empty list of days matches no day (as in AE). */
    period_ok("{\"days\": []}", &p);
    assert_int_equal(p.days_mask, 0);
    assert_false(period_includes(&p, ms(2026, 6, 15, 12, 0, 0)));
}

static void test_period_json_errors(void **state)
{
    static const struct {
        const char *json, *field;
    } cases[] = {
        {"[]", "period"},
        {"42", "period"},
        {"{\"days\": \"mon\"}", "days"},
        {"{\"days\": {}}", "days"},
        {"{\"days\": [0]}", "days"},
        {"{\"days\": [8]}", "days"},
        {"{\"days\": [-1]}", "days"},
        {"{\"days\": [1.5]}", "days"},
        {"{\"days\": [\"1\"]}", "days"},
        {"{\"days\": [1, null]}", "days"},
        {"{\"zoneId\": 5}", "zoneId"},
        {"{\"zoneId\": \"\"}", "zoneId"},
        {"{\"zoneId\": \"Mars/Olympus_Mons\"}", "zoneId"},
        {"{\"zoneId\": \"../../etc/passwd\"}", "zoneId"},
        {"{\"zoneId\": \"+25:00\"}", "zoneId"},
        {"{\"beginHour\": -1}", "beginHour"},
        {"{\"beginHour\": 86400}", "beginHour"},
        {"{\"beginHour\": \"8\"}", "beginHour"},
        {"{\"beginHour\": 1.5}", "beginHour"},
        {"{\"beginHour\": true}", "beginHour"},
        {"{\"beginHour\": 1e300}", "beginHour"},
        {"{\"beginHour\": [1]}", "beginHour"},
        {"{\"endHour\": 86400}", "endHour"},
        {"{\"endHour\": -0.5}", "endHour"},
        {"{\"endHour\": 9223372036854775807}", "endHour"},
        {"{\"ENDHOUR\": 90000}", "endHour"},
    };
    struct period p, before = {.days_mask = 0x42, .tz = NULL, .begin_s = 1, .end_s = 2};

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *j = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        const char *field = NULL;
        char msg[96] = "";
        int rc;

        assert_non_null(j);
        p = before;
        rc = period_from_json(j, lookup, NULL, &p, &field, msg, sizeof msg);
        json_decref(j);
        if (rc != TOCSIN_EINVAL || !field || strcmp(field, cases[i].field) != 0)
            fail_msg("%s: rc=%d field=%s, want %s", cases[i].json, rc, field ? field : "(null)",
                     cases[i].field);
        assert_true(msg[0] != '\0');
        assert_period_eq(&p, &before); /* untouched on error */
    }

    /* A lookup that knows nothing refuses even the default zone. */
    {
        json_t *j = json_loads("{}", 0, NULL);
        const char *field = NULL;
        char msg[8];

        assert_int_equal(period_from_json(j, lookup_none, NULL, &p, &field, msg, sizeof msg),
                         TOCSIN_EINVAL);
        assert_string_equal(field, "zoneId");
        assert_int_equal(strlen(msg), sizeof msg - 1); /* cut to fit, terminated */
        assert_int_equal(period_from_json(j, NULL, NULL, &p, NULL, NULL, 0), TOCSIN_EINVAL);
        json_decref(j);
    }
}

static void test_period_json_roundtrip(void **state)
{
    struct period p, q;
    json_t *j;
    char *text;

    (void)state;
    period_ok("{\"days\": [5, 1, 3], \"zoneId\": \"America/New_York\", \"beginHour\": 79200, "
              "\"endHour\": 21600}",
              &p);
    j = period_to_json(&p);
    assert_non_null(j);
    text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_non_null(text);
    assert_string_equal(text, "{\"beginHour\":79200,\"days\":[1,3,5],\"endHour\":21600,"
                              "\"zoneId\":\"America/New_York\"}");
    free(text);
    assert_int_equal(period_from_json(j, lookup, NULL, &q, NULL, NULL, 0), TOCSIN_OK);
    assert_period_eq(&p, &q);
    json_decref(j);

    period_ok("{\"zoneId\": \"GMT+01:00\"}", &p);
    j = period_to_json(&p);
    assert_non_null(j);
    text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(text,
                        "{\"beginHour\":0,\"days\":null,\"endHour\":86399,\"zoneId\":\"+01:00\"}");
    free(text);
    json_decref(j);
}

static int teardown_group(void **state)
{
    (void)state;
    tz_cache_clear();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tz_utc_aliases),
        cmocka_unit_test(test_tz_fixed_offsets),
        cmocka_unit_test(test_tz_invalid_names),
        cmocka_unit_test(test_tz_paris_2026),
        cmocka_unit_test(test_tz_new_york_2026),
        cmocka_unit_test(test_tz_kolkata),
        cmocka_unit_test(test_tz_lord_howe),
        cmocka_unit_test(test_tz_far_future),
        cmocka_unit_test(test_tz_calendar),
        cmocka_unit_test(test_tzif_footer_rules),
        cmocka_unit_test(test_tzif_bad_footers),
        cmocka_unit_test(test_tzif_transitions),
        cmocka_unit_test(test_tzif_malformed),
        cmocka_unit_test(test_tz_cache_threads),
        cmocka_unit_test(test_tz_cache_full),
        cmocka_unit_test(test_period_utc_inclusive),
        cmocka_unit_test(test_period_paris_business_hours),
        cmocka_unit_test(test_period_new_york),
        cmocka_unit_test(test_period_kolkata),
        cmocka_unit_test(test_period_lord_howe),
        cmocka_unit_test(test_period_across_midnight),
        cmocka_unit_test(test_period_far_future),
        cmocka_unit_test(test_period_fixed_offset),
        cmocka_unit_test(test_periods_include),
        cmocka_unit_test(test_period_json_defaults),
        cmocka_unit_test(test_period_json_errors),
        cmocka_unit_test(test_period_json_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_group);
}
