#include "core/alert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "util/hex.h"
#include "util/tz.h"

/* ---- severities ------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    uint8_t code;
} default_sev[] = {
    {"security", 0}, {"critical", 1}, {"major", 2},   {"minor", 3},       {"warning", 4},
    {"indeterminate", 5}, {"informational", 6}, {"normal", 7}, {"ok", 7}, {"cleared", 7},
    {"debug", 8},    {"trace", 9},    {"unknown", 10},
};

void sevmap_default(struct sevmap *m)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < sizeof(default_sev) / sizeof(default_sev[0]); i++) {
        snprintf(m->name[i], SEV_NAME_MAX, "%s", default_sev[i].name);
        m->code[i] = default_sev[i].code;
    }
    m->n = sizeof(default_sev) / sizeof(default_sev[0]);
    m->normal = 7;
    m->informational = 6;
    m->indeterminate = 5;
    m->normal_name = 7;
}

static int sev_named(const struct sevmap *m, const char *name)
{
    int i = sevmap_find(m, name, strlen(name));
    return i;
}

int sevmap_parse(const char *text, struct sevmap *m, char *why, size_t whylen)
{
    const char *p = text;
    int in, ii, id;

    memset(m, 0, sizeof(*m));
    while (*p) {
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
        char *end;
        long code;
        if (!n || n >= SEV_NAME_MAX || p[n] != '=') {
            snprintf(why, whylen, "expected name=code at \"%.20s\"", p);
            return -1;
        }
        if (m->n == SEVMAP_MAX) {
            snprintf(why, whylen, "more than %d severities", SEVMAP_MAX);
            return -1;
        }
        if (sevmap_find(m, p, n) >= 0) {
            snprintf(why, whylen, "severity \"%.*s\" given twice", (int)n, p);
            return -1;
        }
        memcpy(m->name[m->n], p, n);
        m->name[m->n][n] = '\0';
        p += n + 1;
        code = strtol(p, &end, 10);
        if (end == p || code < 0 || code > 255 || (*end && *end != ',')) {
            snprintf(why, whylen, "code of \"%s\" must be 0..255", m->name[m->n]);
            return -1;
        }
        m->code[m->n++] = (uint8_t)code;
        p = *end ? end + 1 : end;
    }
    in = sev_named(m, "normal");
    ii = sev_named(m, "informational");
    id = sev_named(m, "indeterminate");
    if (in < 0 || ii < 0 || id < 0) {
        snprintf(why, whylen, "the map must name normal, informational and indeterminate");
        return -1;
    }
    m->normal = m->code[in];
    m->normal_name = (uint8_t)in;
    m->informational = m->code[ii];
    m->indeterminate = m->code[id];
    return 0;
}

int sevmap_find(const struct sevmap *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->n; i++)
        if (strlen(m->name[i]) == len && !memcmp(m->name[i], name, len))
            return (int)i;
    return -1;
}

void sevmap_list(const struct sevmap *m, char *out, size_t outlen)
{
    size_t used = 0;

    if (!outlen)
        return;
    out[0] = '\0';
    for (unsigned code = 0; code < 256; code++) {
        for (size_t i = 0; i < m->n; i++) {
            int w;
            if (m->code[i] != code)
                continue;
            w = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", m->name[i]);
            if (w < 0 || (size_t)w >= outlen - used)
                return;
            used += (size_t)w;
        }
    }
}

/* ---- statuses, actions, trends --------------------------------------------------------------- */

static const char *const status_names[AST_COUNT] = {
    "open", "assign", "ack", "shelved", "blackout", "closed", "expired", "unknown",
};

const char *astatus_name(int s)
{
    return s >= 0 && s < AST_COUNT ? status_names[s] : "unknown";
}

int astatus_parse(const char *s, size_t len)
{
    for (int i = 0; i < AST_COUNT; i++)
        if (strlen(status_names[i]) == len && !memcmp(status_names[i], s, len))
            return i;
    return -1;
}

static const char *const action_names[ACT_COUNT] = {
    "open", "assign", "ack", "unack", "shelve", "unshelve", "close", "expired", "timeout", "",
};

const char *aaction_name(int a)
{
    return a >= 0 && a < ACT_CUSTOM ? action_names[a] : "custom";
}

int aaction_parse(const char *s)
{
    for (int i = 0; i < ACT_CUSTOM; i++)
        if (!strcmp(action_names[i], s))
            return i;
    return ACT_CUSTOM;
}

const char *trend_name(int t)
{
    switch (t) {
    case TREND_MORE:
        return "moreSevere";
    case TREND_LESS:
        return "lessSevere";
    case TREND_NOCHANGE:
        return "noChange";
    default:
        return "";
    }
}

int alert_trend(int from, int to)
{
    if (to < from)
        return TREND_MORE;
    if (to > from)
        return TREND_LESS;
    return TREND_NOCHANGE;
}

void alert_in_init(struct alert_in *in)
{
    memset(in, 0, sizeof(*in));
    in->severity = -1;
    in->status = -1;
    in->timeout_s = -1;
}

/* ---- the blob -------------------------------------------------------------------------------- */

static uint32_t varint_get(const char **p)
{
    const unsigned char *q = (const unsigned char *)*p;
    uint32_t v = 0;
    unsigned shift = 0;

    for (;;) {
        uint32_t c = *q++;
        v |= (c & 0x7f) << shift;
        if (!(c & 0x80))
            break;
        shift += 7;
    }
    *p = (const char *)q;
    return v;
}

static size_t varint_put(char *out, uint32_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        out[n++] = (char)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (char)v;
    return n;
}

static uint32_t count_nuls(const char *p, uint32_t len)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < len; i++)
        n += p[i] == '\0';
    return n;
}

/* The two string fields that may be null (Alerta's value and customer), by a->nulls. */
static bool view_null(const struct alert *a, enum afield f)
{
    return (f == AF_VALUE && (a->nulls & 1)) || (f == AF_CUSTOMER && (a->nulls & 2));
}

struct aview alert_get(const struct alert *a, enum afield f)
{
    struct aview v = {"", 0, 0, false};
    const char *p = a->blob;

    if (!p)
        return v;
    for (int i = 0;; i++) {
        uint32_t len = varint_get(&p);
        if (i == (int)f) {
            v.p = p;
            v.len = len;
            break;
        }
        p += len;
    }
    if (f >= AF_FIRST_LIST) {
        v.n = count_nuls(v.p, v.len);
        if (f >= AF_FIRST_MAP)
            v.n /= 2;
    } else {
        v.null = view_null(a, f);
    }
    return v;
}

bool aview_next(const struct aview *v, uint32_t *pos, const char **k, const char **val)
{
    const char *s;

    if (*pos >= v->len)
        return false;
    s = v->p + *pos;
    *k = s;
    *pos += (uint32_t)strlen(s) + 1;
    if (val) {
        s = v->p + *pos;
        *val = s;
        *pos += (uint32_t)strlen(s) + 1;
    }
    return true;
}

bool aview_has(const struct aview *list, const char *s)
{
    uint32_t pos = 0;
    const char *item;

    while (aview_next(list, &pos, &item, NULL))
        if (!strcmp(item, s))
            return true;
    return false;
}

int alert_set_blob(struct alert *a, const struct ablob_parts *parts)
{
    size_t total = 0;
    char *blob, *w;

    for (int f = 0; f < AF_COUNT; f++)
        total += 5 + parts->f[f].len;
    blob = malloc(total ? total : 1);
    if (!blob)
        return TOCSIN_ENOMEM;
    w = blob;
    for (int f = 0; f < AF_COUNT; f++) {
        w += varint_put(w, parts->f[f].len);
        if (parts->f[f].len)
            memcpy(w, parts->f[f].p, parts->f[f].len);
        w += parts->f[f].len;
    }
    a->nulls = (uint8_t)((parts->f[AF_VALUE].null ? 1 : 0) | (parts->f[AF_CUSTOMER].null ? 2 : 0));
    /* shrink to fit: the blob lives as long as the alert */
    {
        size_t used = (size_t)(w - blob);
        char *s = realloc(blob, used ? used : 1);
        if (s)
            blob = s;
        a->blob_len = (uint32_t)used;
    }
    free(a->blob);
    a->blob = blob;
    return TOCSIN_OK;
}

struct alert *alert_clone(const struct alert *a)
{
    struct alert *c = malloc(sizeof(*c));

    if (!c)
        return NULL;
    *c = *a;
    c->next_key = c->next_res = c->next_id = NULL;
    c->ret_prev = c->ret_next = NULL;
    memset(&c->tm, 0, sizeof(c->tm));
    c->blob = malloc(a->blob_len ? a->blob_len : 1);
    if (!c->blob) {
        free(c);
        return NULL;
    }
    if (a->blob_len)
        memcpy(c->blob, a->blob, a->blob_len);
    return c;
}

void alert_free(struct alert *a)
{
    if (!a)
        return;
    free(a->blob);
    free(a);
}

size_t alert_heap_bytes(const struct alert *a)
{
    return sizeof(*a) + a->blob_len;
}

/* ---- UUIDs and times ------------------------------------------------------------------------- */

void uuid_to_text(const uint8_t id[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[id[i] >> 4];
        out[o++] = hex[id[i] & 15];
    }
    out[o] = '\0';
}

bool uuid_from_text(const char *s, size_t len, uint8_t out[16])
{
    size_t o = 0;

    if (len != 36)
        return false;
    for (size_t i = 0; i < 36;) {
        int hi, lo;
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
            i++;
            continue;
        }
        hi = hex_digit(s[i]);
        lo = hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[o++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return o == 16;
}

/* The date of day z counted from 1970-01-01 in the proleptic Gregorian calendar (the
 * well-known era arithmetic: 400-year eras of 146,097 days, years from March). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era, yy;
    unsigned doe, yoe, doy, mp;

    z += 719468; /* days from 0000-03-01 */
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    yy = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static void put_digits(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

void iso8601_ms(int64_t ms, char out[32])
{
    int64_t sec = ms / 1000, rem = ms % 1000, day, s, y;
    unsigned mo, d;
    time_t t;
    struct tm tm;
    size_t n;

    if (rem < 0) {
        rem += 1000;
        sec--;
    }
    /* years 1000-9999 by arithmetic (gmtime_r, strftime and snprintf were a tenth of an alert's
     * rendering); others, rare, as before */
    day = sec / 86400;
    s = sec % 86400;
    if (s < 0) {
        s += 86400;
        day--;
    }
    civil_from_days(day, &y, &mo, &d);
    if (y >= 1000 && y <= 9999) {
        put_digits(out, (unsigned)y, 4);
        out[4] = '-';
        put_digits(out + 5, mo, 2);
        out[7] = '-';
        put_digits(out + 8, d, 2);
        out[10] = 'T';
        put_digits(out + 11, (unsigned)(s / 3600), 2);
        out[13] = ':';
        put_digits(out + 14, (unsigned)(s / 60 % 60), 2);
        out[16] = ':';
        put_digits(out + 17, (unsigned)(s % 60), 2);
        out[19] = '.';
        put_digits(out + 20, (unsigned)rem, 3);
        out[23] = 'Z';
        out[24] = '\0';
        return;
    }
    t = (time_t)sec;
    if (!gmtime_r(&t, &tm) || !(n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm))) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(out + n, 32 - n, ".%03dZ", (int)rem);
}

static bool digits(const char *s, size_t n, int64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

bool iso8601_parse(const char *s, size_t len, int64_t *ms)
{
    int64_t y, mo, d, h = 0, mi = 0, se = 0, frac = 0, off = 0;
    size_t i = 10;

    if (len < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    if (i < len && (s[i] == 'T' || s[i] == ' ')) {
        if (len < i + 6 || !digits(s + i + 1, 2, &h) || s[i + 3] != ':' ||
            !digits(s + i + 4, 2, &mi))
            return false;
        i += 6;
        if (i < len && s[i] == ':') {
            if (len < i + 3 || !digits(s + i + 1, 2, &se))
                return false;
            i += 3;
            if (i < len && (s[i] == '.' || s[i] == ',')) {
                int64_t scale = 100;
                size_t start = ++i;
                while (i < len && s[i] >= '0' && s[i] <= '9') {
                    frac += (s[i] - '0') * scale;
                    scale /= 10;
                    i++;
                }
                if (i == start)
                    return false;
            }
        }
        if (h > 23 || mi > 59 || se > 60)
            return false;
        if (i < len && s[i] == 'Z') {
            i++;
        } else if (i < len && (s[i] == '+' || s[i] == '-')) {
            int64_t oh, om = 0;
            int sign = s[i] == '-' ? -1 : 1;
            if (len < i + 3 || !digits(s + i + 1, 2, &oh))
                return false;
            i += 3;
            if (i < len && s[i] == ':')
                i++;
            if (i + 2 <= len && digits(s + i, 2, &om))
                i += 2;
            if (oh > 23 || om > 59)
                return false;
            off = sign * (oh * 60 + om) * 60;
        }
    }
    if (i != len)
        return false;
    *ms =
        ((tz_days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + se) - off) * 1000 +
        frac;
    return true;
}

/* ---- the state machine ----------------------------------------------------------------------- */

static int sev_code(const struct sevmap *m, int idx)
{
    return idx >= 0 && (size_t)idx < m->n ? m->code[idx] : m->normal;
}

/* Where an alert in blackout goes: the status before it (Alerta's BLK-2), or open when that is
 * unknown or blackout too (BLK-*: the incoming alert's status, open). */
static int after_blackout(const struct alert *a)
{
    return a->hist_prev != AST_BLACKOUT && a->hist_prev != AST_UNKNOWN ? a->hist_prev : AST_OPEN;
}

/* A 409: `already` picks Alerta's wording. */
static int conflict(char *why, size_t whylen, bool already, const char *status)
{
    if (already)
        snprintf(why, whylen, "alert is already in %s status", status);
    else
        snprintf(why, whylen, "invalid action for current %s status", status);
    return -1;
}

/* Alerta's action table. A cell is a status (the new one) or one of these outcomes. */
enum {
    X_ALREADY = -1,   /* 409 "alert is already in <status> status" */
    X_INVALID = -2,   /* 409 "invalid action for current <status> status" */
    X_CLOSE = -3,     /* closed, severity -> normal */
    X_REOPEN = -4,    /* open, severity -> previousSeverity (a closed alert opened) */
    X_OPEN_SEV = -5,  /* open unless the severity is normal (an expired alert opened) */
    X_BEFORE = -6,    /* the status before the ack (unack) or the shelve (unshelve) */
    X_UNBLACK = -7,   /* out of blackout, to the status before it */
    X_KEEP = -8,      /* no change */
};

/* Rows: the alert's status; columns: open, assign, ack, unack, shelve, unshelve, close. */
static const signed char action_table[AST_COUNT][ACT_CLOSE + 1] = {
    [AST_OPEN] = {X_ALREADY, AST_ASSIGN, AST_ACK, X_INVALID, AST_SHELVED, X_INVALID, X_CLOSE},
    [AST_ASSIGN] = {X_ALREADY, X_ALREADY, AST_ACK, X_INVALID, AST_SHELVED, X_INVALID, X_CLOSE},
    [AST_ACK] = {AST_OPEN, AST_ASSIGN, X_ALREADY, X_BEFORE, AST_SHELVED, X_INVALID, X_CLOSE},
    [AST_SHELVED] = {AST_OPEN, X_INVALID, X_INVALID, X_INVALID, X_ALREADY, X_BEFORE, X_CLOSE},
    [AST_BLACKOUT] = {X_UNBLACK, X_UNBLACK, X_UNBLACK, X_INVALID, X_UNBLACK, X_INVALID, X_CLOSE},
    [AST_CLOSED] = {X_REOPEN, X_INVALID, X_INVALID, X_INVALID, X_INVALID, X_INVALID, X_ALREADY},
    [AST_EXPIRED] = {X_OPEN_SEV, X_INVALID, X_INVALID, X_INVALID, X_INVALID, X_INVALID,
                     X_INVALID},
    [AST_UNKNOWN] = {AST_OPEN, X_KEEP, AST_ACK, X_INVALID, AST_SHELVED, X_INVALID, X_CLOSE},
};

int alert_action_transition(const struct sevmap *m, const struct alert *a, int action,
                            struct transition *out, char *why, size_t whylen)
{
    int st = a->status < AST_COUNT ? a->status : AST_UNKNOWN;
    int cell;

    out->status = st;
    out->sev_name = a->sev_name;
    if (action == ACT_CUSTOM)
        return 0;
    if (action == ACT_EXPIRED) {
        out->status = AST_EXPIRED;
        return 0;
    }
    if (action == ACT_TIMEOUT) { /* back to ack if it was acked before, else open */
        out->status = a->hist_prev == AST_ACK ? AST_ACK : AST_OPEN;
        return 0;
    }
    if (action < 0 || action > ACT_CLOSE)
        return conflict(why, whylen, false, astatus_name(st));
    cell = action_table[st][action];
    switch (cell) {
    case X_ALREADY:
        return conflict(why, whylen, true, astatus_name(st));
    case X_INVALID:
        return conflict(why, whylen, false, astatus_name(st));
    case X_CLOSE:
        out->status = AST_CLOSED;
        out->sev_name = m->normal_name;
        break;
    case X_REOPEN:
        out->status = AST_OPEN;
        out->sev_name = a->prev_sev_name;
        break;
    case X_OPEN_SEV:
        if (sev_code(m, a->sev_name) != m->normal)
            out->status = AST_OPEN;
        break;
    case X_BEFORE: /* unknown (never acked or shelved by an action): open, as Alerta falls back */
        out->status = action == ACT_UNACK ? a->before_ack : a->before_shelve;
        if (out->status == AST_UNKNOWN || out->status == st)
            out->status = AST_OPEN;
        break;
    case X_UNBLACK:
        out->status = after_blackout(a);
        break;
    case X_KEEP:
        break;
    default:
        out->status = cell;
        break;
    }
    return 0;
}

struct transition alert_receive_transition(const struct sevmap *m, const struct alert *a,
                                           int sev_name, int prev_sev_name, int sent_status)
{
    struct transition t = {a->status, sev_name};
    int code = sev_code(m, sev_name);
    int st = a->status;

    /* 1. the sender set a status other than open: kept, except that normal closes */
    if (sent_status >= 0 && sent_status != AST_OPEN) {
        if (code == m->normal) {
            t.status = AST_CLOSED;
            t.sev_name = m->normal_name;
        } else {
            t.status = sent_status;
        }
        return t;
    }
    /* 2. an ack is re-opened by a real severity increase (not just from the default) */
    if (st == AST_ACK && sev_code(m, prev_sev_name) != m->indeterminate &&
        alert_trend(sev_code(m, prev_sev_name), code) == TREND_MORE) {
        t.status = AST_OPEN;
        return t;
    }
    /* blackout goes back to what it was before */
    if (st == AST_BLACKOUT) {
        t.status = after_blackout(a);
        return t;
    }
    /* 3. closed with a non-normal severity re-opens (shelved if it was shelved before) */
    if (st == AST_CLOSED && code != m->normal) {
        t.status = a->hist_prev == AST_SHELVED ? AST_SHELVED : AST_OPEN;
        return t;
    }
    /* 4. a normal severity closes, whatever the state */
    if (code == m->normal) {
        t.status = AST_CLOSED;
        t.sev_name = sev_name;
        return t;
    }
    /* 5. expired with a non-normal severity re-opens */
    if (st == AST_EXPIRED) {
        t.status = AST_OPEN;
        return t;
    }
    return t;
}

/* ---- rendering -------------------------------------------------------------------------------- */

static int put_str(struct buf *b, const char *s, size_t n)
{
    int rc = buf_putc(b, '"');
    rc |= buf_json_escape(b, s, n);
    return rc | buf_putc(b, '"');
}

static int put_view_str(struct buf *b, const struct aview *v)
{
    if (v->null)
        return buf_puts(b, "null");
    return put_str(b, v->p, v->len);
}

static int put_list(struct buf *b, const struct aview *v)
{
    uint32_t pos = 0;
    const char *item;
    int rc = buf_putc(b, '[');
    bool first = true;

    while (aview_next(v, &pos, &item, NULL)) {
        if (!first)
            rc |= buf_putc(b, ',');
        first = false;
        rc |= put_str(b, item, strlen(item));
    }
    return rc | buf_putc(b, ']');
}

static int put_map(struct buf *b, const struct aview *v, bool raw_values)
{
    uint32_t pos = 0;
    const char *k, *val;
    int rc = buf_putc(b, '{');
    bool first = true;

    while (aview_next(v, &pos, &k, &val)) {
        if (!first)
            rc |= buf_putc(b, ',');
        first = false;
        rc |= put_str(b, k, strlen(k));
        rc |= buf_putc(b, ':');
        rc |= raw_values ? buf_puts(b, val) : put_str(b, val, strlen(val));
    }
    return rc | buf_putc(b, '}');
}

int alert_view_json(struct buf *b, const struct aview *v, enum afield f)
{
    if (f < AF_FIRST_LIST)
        return TOCSIN_EINVAL;
    if (f < AF_FIRST_MAP)
        return put_list(b, v) ? TOCSIN_ENOMEM : TOCSIN_OK;
    return put_map(b, v, f == AF_ATTRIBUTES) ? TOCSIN_ENOMEM : TOCSIN_OK;
}

static int put_time(struct buf *b, int64_t ms)
{
    char t[32];

    if (!ms)
        return buf_puts(b, "null");
    iso8601_ms(ms, t);
    return put_str(b, t, strlen(t));
}

void alert_views(const struct alert *a, struct aview v[AF_COUNT])
{
    const char *p = a->blob;

    for (int i = 0; i < AF_COUNT; i++) {
        uint32_t len = p ? varint_get(&p) : 0;

        v[i] = (struct aview){p ? p : "", len, 0, false};
        if (p)
            p += len;
    }
    v[AF_VALUE].null = view_null(a, AF_VALUE);
    v[AF_CUSTOMER].null = view_null(a, AF_CUSTOMER);
}

static int put_view(struct buf *b, const struct aview *v, enum afield f)
{
    if (f < AF_FIRST_LIST)
        return put_view_str(b, v);
    if (f < AF_FIRST_MAP)
        return put_list(b, v);
    return put_map(b, v, f == AF_ATTRIBUTES);
}

static int put_name(struct buf *b, const char *s)
{
    return put_str(b, s, strlen(s));
}

/* A constant piece of JSON (a key with its comma and colon), in one append. */
#define LIT(b, s) buf_append((b), s, sizeof(s) - 1)
/* ,"key":<field f> */
#define FIELD(b, key, v, f) (LIT(b, ",\"" key "\":") | put_view(b, &(v)[f], f))

int alert_render_json(struct buf *b, const struct sevmap *m, const struct alert *a,
                      const char *href_base)
{
    char id[37], lrid[37];
    struct aview v[AF_COUNT];
    int rc;

    alert_views(a, v);
    uuid_to_text(a->id, id);
    uuid_to_text(a->last_receive_id, lrid);
    rc = buf_reserve(b, a->blob_len + a->blob_len / 4 + 768); /* one allocation, mostly */
    rc |= LIT(b, "{\"id\":\"") | buf_append(b, id, 36) | buf_putc(b, '"');
    if (href_base) {
        rc |= LIT(b, ",\"href\":\"") | buf_puts(b, href_base) | LIT(b, "/alert/");
        rc |= buf_append(b, id, 36) | buf_putc(b, '"');
    }
    rc |= FIELD(b, "resource", v, AF_RESOURCE);
    rc |= FIELD(b, "event", v, AF_EVENT);
    rc |= FIELD(b, "environment", v, AF_ENVIRONMENT);
    rc |= LIT(b, ",\"severity\":") | put_name(b, m->name[a->sev_name]);
    rc |= FIELD(b, "correlate", v, AF_CORRELATE);
    rc |= LIT(b, ",\"status\":") | put_name(b, astatus_name(a->status));
    rc |= FIELD(b, "service", v, AF_SERVICE);
    rc |= FIELD(b, "group", v, AF_GROUP);
    rc |= FIELD(b, "value", v, AF_VALUE);
    rc |= FIELD(b, "text", v, AF_TEXT);
    rc |= FIELD(b, "tags", v, AF_TAGS);
    rc |= FIELD(b, "attributes", v, AF_ATTRIBUTES);
    rc |= FIELD(b, "origin", v, AF_ORIGIN);
    rc |= FIELD(b, "type", v, AF_TYPE);
    rc |= LIT(b, ",\"createTime\":") | put_time(b, a->create_ms);
    rc |= LIT(b, ",\"timeout\":") | buf_put_i64(b, a->timeout_s);
    rc |= FIELD(b, "customer", v, AF_CUSTOMER);
    rc |= LIT(b, ",\"duplicateCount\":") | buf_put_i64(b, a->duplicate_count);
    rc |= a->repeat ? LIT(b, ",\"repeat\":true") : LIT(b, ",\"repeat\":false");
    rc |= LIT(b, ",\"previousSeverity\":") | put_name(b, m->name[a->prev_sev_name]);
    rc |= LIT(b, ",\"trendIndication\":") | put_name(b, trend_name(a->trend));
    rc |= LIT(b, ",\"receiveTime\":") | put_time(b, a->receive_ms);
    rc |= LIT(b, ",\"lastReceiveId\":") | put_str(b, lrid, 36);
    rc |= LIT(b, ",\"lastReceiveTime\":") | put_time(b, a->last_receive_ms);
    rc |= LIT(b, ",\"updateTime\":") | put_time(b, a->update_ms);
    rc |= FIELD(b, "fingerprint", v, AF_FINGERPRINT);
    rc |= FIELD(b, "labels", v, AF_LABELS);
    rc |= FIELD(b, "annotations", v, AF_ANNOTATIONS);
    rc |= FIELD(b, "source", v, AF_SOURCE);
    rc |= LIT(b, ",\"generatorURL\":");
    rc |= v[AF_GENERATOR_URL].len ? put_view_str(b, &v[AF_GENERATOR_URL]) : LIT(b, "null");
    rc |= LIT(b, ",\"startsAt\":") | put_time(b, a->starts_ms ? a->starts_ms : a->create_ms);
    rc |= LIT(b, ",\"endsAt\":") | put_time(b, a->ends_ms);
    rc |= buf_putc(b, '}');
    return rc ? TOCSIN_ENOMEM : TOCSIN_OK;
}
