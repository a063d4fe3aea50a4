/* The date helper's parsing (ISO-8601) and formatting (strftime-like, on tz_localtime()). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "template/tmpl_impl.h"
#include "util/tz.h"

static const char *const wdays[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                    "Friday", "Saturday", "Sunday"};
static const char *const months[] = {"January",   "February", "March",    "April",
                                     "May",       "June",     "July",     "August",
                                     "September", "October",  "November", "December"};

/* ---- parsing ---- */

struct scan {
    const char *s;
    size_t n, i;
};

static bool digits(struct scan *sc, unsigned count, int *out)
{
    unsigned k;

    *out = 0;
    for (k = 0; k < count; k++, sc->i++) {
        if (sc->i >= sc->n || sc->s[sc->i] < '0' || sc->s[sc->i] > '9')
            return false;
        *out = *out * 10 + (sc->s[sc->i] - '0');
    }
    return true;
}

static bool lit(struct scan *sc, char c)
{
    if (sc->i < sc->n && sc->s[sc->i] == c) {
        sc->i++;
        return true;
    }
    return false;
}

/* [.fff] after seconds: milliseconds (more digits are dropped). */
static bool fraction(struct scan *sc, int *ms)
{
    unsigned k = 0;

    *ms = 0;
    if (!lit(sc, '.') && !lit(sc, ','))
        return true;
    for (; sc->i < sc->n && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9'; sc->i++, k++)
        if (k < 3)
            *ms = *ms * 10 + (sc->s[sc->i] - '0');
    for (; k < 3 && k > 0; k++)
        *ms *= 10;
    return k > 0;
}

/* Z, +hh, +hhmm, +hh:mm or nothing (UTC). */
static bool zone(struct scan *sc, int *off)
{
    int sign, h, m = 0;

    *off = 0;
    if (sc->i == sc->n || lit(sc, 'Z') || lit(sc, 'z'))
        return true;
    if (lit(sc, '+'))
        sign = 1;
    else if (lit(sc, '-'))
        sign = -1;
    else
        return false;
    if (!digits(sc, 2, &h) || h > 18)
        return false;
    if (sc->i < sc->n) {
        lit(sc, ':');
        if (!digits(sc, 2, &m) || m > 59)
            return false;
    }
    *off = sign * (h * 3600 + m * 60);
    return true;
}

bool tmpl_date_parse(const char *s, size_t n, int64_t *ms)
{
    struct scan sc = {s, n, 0};
    int y, mo, d, h = 0, mi = 0, se = 0, frac = 0, off = 0;

    if (!digits(&sc, 4, &y) || !lit(&sc, '-') || !digits(&sc, 2, &mo) || !lit(&sc, '-') ||
        !digits(&sc, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > tz_month_days(y, mo))
        return false;
    if (sc.i < n) {
        if (!lit(&sc, 'T') && !lit(&sc, 't') && !lit(&sc, ' '))
            return false;
        if (!digits(&sc, 2, &h) || !lit(&sc, ':') || !digits(&sc, 2, &mi) || h > 23 || mi > 59)
            return false;
        if (lit(&sc, ':') && (!digits(&sc, 2, &se) || se > 59 || !fraction(&sc, &frac)))
            return false;
        if (!zone(&sc, &off) || sc.i != n)
            return false;
    }
    *ms = ((tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) - off) * 1000 + frac;
    return true;
}

/* ---- formatting ---- */

struct out {
    char *p;
    size_t cap, len;
    bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len + n >= o->cap) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

__attribute__((format(printf, 2, 3))) static void putf(struct out *o, const char *fmt, ...)
{
    char b[48];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(o, b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1);
}

static void put_offset(struct out *o, int32_t off, bool colon)
{
    int32_t a = off < 0 ? -off : off;

    putf(o, "%c%02d%s%02d", off < 0 ? '-' : '+', (int)(a / 3600), colon ? ":" : "",
         (int)(a / 60 % 60));
}

static void put_iso(struct out *o, const struct tz_local *l)
{
    putf(o, "%04d-%02d-%02dT%02d:%02d:%02d", l->year, l->month, l->mday, l->hour, l->min, l->sec);
    if (l->offset_s == 0)
        put(o, "Z", 1);
    else
        put_offset(o, l->offset_s, true);
}

/* One conversion; false if c is not one. */
static bool conv(struct out *o, char c, bool colon, const struct tz_local *l, int64_t ms,
                 const struct tz *z)
{
    int64_t msec = ((ms % 1000) + 1000) % 1000, secs = (ms - msec) / 1000;
    int h12 = l->hour % 12 ? l->hour % 12 : 12;

    if (colon && c != 'z')
        return false;
    switch (c) {
    case 'Y':
        putf(o, "%04d", l->year);
        break;
    case 'C':
        putf(o, "%02d", l->year / 100);
        break;
    case 'y':
        putf(o, "%02d", l->year % 100);
        break;
    case 'm':
        putf(o, "%02d", l->month);
        break;
    case 'd':
        putf(o, "%02d", l->mday);
        break;
    case 'e':
        putf(o, "%2d", l->mday);
        break;
    case 'H':
        putf(o, "%02d", l->hour);
        break;
    case 'I':
        putf(o, "%02d", h12);
        break;
    case 'M':
        putf(o, "%02d", l->min);
        break;
    case 'S':
        putf(o, "%02d", l->sec);
        break;
    case 'L':
        putf(o, "%03d", (int)msec);
        break;
    case 'p':
        put(o, l->hour < 12 ? "AM" : "PM", 2);
        break;
    case 'a':
        put(o, wdays[l->iso_wday - 1], 3);
        break;
    case 'A':
        putf(o, "%s", wdays[l->iso_wday - 1]);
        break;
    case 'b':
    case 'h':
        put(o, months[l->month - 1], 3);
        break;
    case 'B':
        putf(o, "%s", months[l->month - 1]);
        break;
    case 'j':
        putf(o, "%03d",
             (int)(tz_days_from_civil(l->year, l->month, l->mday) -
                   tz_days_from_civil(l->year, 1, 1) + 1));
        break;
    case 'u':
        putf(o, "%d", l->iso_wday);
        break;
    case 'w':
        putf(o, "%d", l->iso_wday % 7);
        break;
    case 'z':
        put_offset(o, l->offset_s, colon);
        break;
    case 'Z':
        putf(o, "%.40s", tz_name(z));
        break;
    case 's':
        putf(o, "%lld", (long long)secs);
        break;
    case 'F':
        putf(o, "%04d-%02d-%02d", l->year, l->month, l->mday);
        break;
    case 'T':
        putf(o, "%02d:%02d:%02d", l->hour, l->min, l->sec);
        break;
    case 'R':
        putf(o, "%02d:%02d", l->hour, l->min);
        break;
    case 'D':
        putf(o, "%02d/%02d/%02d", l->month, l->mday, l->year % 100);
        break;
    case 'n':
        put(o, "\n", 1);
        break;
    case 't':
        put(o, "\t", 1);
        break;
    case '%':
        put(o, "%", 1);
        break;
    default:
        return false;
    }
    return true;
}

static bool named(const char *fmt, size_t flen, const char *name)
{
    size_t i;

    if (strlen(name) != flen)
        return false;
    for (i = 0; i < flen; i++)
        if ((fmt[i] | 0x20) != name[i])
            return false;
    return true;
}

long tmpl_date_format(char *buf, size_t cap, const char *fmt, size_t flen, int64_t ms,
                      const struct tz *z, size_t *bad)
{
    struct out o = {buf, cap, 0, false};
    struct tz_local l;
    bool colon;
    size_t i, start;

    tz_localtime(z, ms, &l);
    if (named(fmt, flen, "iso") || named(fmt, flen, "rfc3339")) {
        put_iso(&o, &l);
    } else {
        for (i = 0; i < flen; i++) {
            if (fmt[i] != '%') {
                put(&o, fmt + i, 1);
                continue;
            }
            start = i;
            colon = i + 1 < flen && fmt[i + 1] == ':';
            i += colon;
            if (i + 1 >= flen || !conv(&o, fmt[i + 1], colon, &l, ms, z)) {
                *bad = start;
                return -1;
            }
            i++;
        }
    }
    if (o.full)
        return -2;
    if (cap)
        buf[o.len] = '\0';
    return (long)o.len;
}
