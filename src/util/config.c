/* The configuration: one table of options, read by the YAML loader, the environment, the
 * command-line flags (config_set), the dump and the help text. Strings in struct config are owned
 * by it (malloc'd) and freed by config_free(). */
#include "util/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <libfyaml.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alert.h"
#include "net/scope.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

enum opt_type {
    OPT_STRING,    /* char *, owned; min/max bound the length in bytes */
    OPT_BOOL,      /* bool */
    OPT_UNSIGNED,  /* unsigned */
    OPT_COUNT,     /* size_t, a plain whole number */
    OPT_SIZE,      /* size_t, bytes with an optional k/m/g suffix */
    OPT_DURATION,  /* int64_t milliseconds, with an ms/s/m/h/d suffix */
    OPT_ENUM,      /* int, index into names[] */
    OPT_LOG_LEVEL, /* int, enum log_level */
};

struct opt {
    const char *name; /* dotted; at most one dot (section.key) */
    enum opt_type type;
    size_t off; /* offsetof(struct config, field) */
    int64_t min, max;
    const char *def; /* default, as text parsed like a flag */
    bool reloadable;
    const char *const *names; /* OPT_ENUM: value names, NULL-terminated */
    const char *help;
    /* Extra check of a value's text (strings), or NULL; writes "name: message" on failure. */
    int (*check)(const struct opt *o, const char *text, char *msg, size_t len);
};

static int check_listen(const struct opt *o, const char *text, char *msg, size_t len);
static int check_sevmap(const struct opt *o, const char *text, char *msg, size_t len);
static int check_sev_list(const struct opt *o, const char *text, char *msg, size_t len);

#define KIB ((int64_t)1024)
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define SEC_MS ((int64_t)1000)
#define MIN_MS (60 * SEC_MS)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
#define OFF(field) offsetof(struct config, field)
#define NAME_MAX_LEN 64 /* longest option name accepted from a file, env or flag */

static const char *const durability_names[] = {
    [DURABILITY_SYNC] = "sync", [DURABILITY_BATCH] = "batch", [DURABILITY_NONE] = "none", NULL};
static const char *const level_names[] = {
    [LOG_DEBUG] = "debug", [LOG_INFO] = "info", [LOG_WARN] = "warn",
    [LOG_ERROR] = "error", [LOG_OFF] = "off",   NULL};

/* The options. Grouped by section: config_write() relies on a section's options being adjacent. */
static const struct opt opts[] = {
    {"listen", OPT_STRING, OFF(listen), 1, 255, "127.0.0.1:8072", false, NULL,
     "Address to listen on: IPv4:port, localhost:port or [IPv6]:port (port 0 picks a free one).",
     check_listen},
    {"data", OPT_STRING, OFF(data_dir), 1, 4095, "./data", false, NULL,
     "Directory for the store and other state.", NULL},
    {"insecure", OPT_BOOL, OFF(insecure), 0, 1, "false", false, NULL,
     "Allow listening on a non-loopback address without auth.users.", NULL},
    {"log.level", OPT_LOG_LEVEL, OFF(log_level), LOG_DEBUG, LOG_OFF, "info", true, NULL,
     "Lowest level written to the log: debug, info, warn, error or off.", NULL},
    {"http.max_body", OPT_SIZE, OFF(http_max_body), KIB, 64 * MIB, "1m", false, NULL,
     "Largest HTTP request body; a bigger one gets 413.", NULL},
    {"http.max_frame", OPT_SIZE, OFF(ws_max_frame), KIB, 64 * MIB, "1m", false, NULL,
     "Largest WebSocket message after reassembly.", NULL},
    {"http.max_batch", OPT_COUNT, OFF(max_batch), 1, 1000000, "10000", false, NULL,
     "Most events or triggers in one request or frame.", NULL},
    {"http.max_connections", OPT_UNSIGNED, OFF(max_connections), 1, 100000, "1024", false, NULL,
     "Most concurrent client connections.", NULL},
    {"http.readers", OPT_UNSIGNED, OFF(readers), 1, 64, "2", false, NULL,
     "Threads serving queries from the store.", NULL},
    {"engine.resolve_after", OPT_DURATION, OFF(resolve_after_ms), 0, 30 * DAY_MS, "60s", true, NULL,
     "Default period of false evaluations before an alert resolves itself.", NULL},
    {"engine.queue", OPT_COUNT, OFF(engine_queue), 1, 1048576, "4096", false, NULL,
     "Batches queued to the engine before senders are slowed down (429/503).", NULL},
    {"engine.queue_bytes", OPT_SIZE, OFF(engine_queue_bytes), MIB, 16 * GIB, "64m", false, NULL,
     "Bytes of events queued to the engine before senders are slowed down (503 / waiting).", NULL},
    {"engine.max_keys_per_trigger", OPT_COUNT, OFF(max_keys_per_trigger), 1, 100000000, "100000",
     false, NULL, "Projection keys tracked per trigger.", NULL},
    {"engine.max_triggers", OPT_COUNT, OFF(max_triggers), 1, 10000000, "100000", false, NULL,
     "Most triggers registered at once.", NULL},
    {"engine.test_clock", OPT_BOOL, OFF(test_clock), 0, 1, "false", false, NULL,
     "Tests only: the engine clock moves only by POST /api/v1/admin/clock. Never in production.",
     NULL},
    {"alerts.timeout", OPT_DURATION, OFF(alert_timeout_ms), 0, 3650 * DAY_MS, "1d", false, NULL,
     "Default alert timeout: an alert not received again for this long expires (0: never).", NULL},
    {"alerts.history_limit", OPT_COUNT, OFF(alert_history_limit), 1, 10000, "100", false, NULL,
     "History entries kept per alert (older ones are deleted).", NULL},
    {"alerts.history_on_value_change", OPT_BOOL, OFF(alert_history_on_value), 0, 1, "true", false,
     NULL, "A duplicate whose value changed adds a history entry.", NULL},
    {"alerts.delete_expired_after", OPT_DURATION, OFF(alert_delete_expired_ms), 0, 3650 * DAY_MS,
     "2h", false, NULL,
     "Closed and expired alerts are deleted this long after they were last received (0: never).",
     NULL},
    {"alerts.delete_info_after", OPT_DURATION, OFF(alert_delete_info_ms), 0, 3650 * DAY_MS, "12h",
     false, NULL,
     "Informational alerts are deleted this long after they were last received (0: never).", NULL},
    {"alerts.shelve_timeout", OPT_DURATION, OFF(alert_shelve_timeout_ms), 0, 3650 * DAY_MS, "2h",
     false, NULL, "A shelved alert is unshelved after this long unless the action says (0: never).",
     NULL},
    {"alerts.ack_timeout", OPT_DURATION, OFF(alert_ack_timeout_ms), 0, 3650 * DAY_MS, "0", false,
     NULL, "An acknowledged alert is re-opened after this long unless the action says (0: never).",
     NULL},
    {"alerts.max", OPT_COUNT, OFF(alert_max), 1000, 1000000000, "5000000", false, NULL,
     "Most alerts stored: past it the oldest closed or expired ones are deleted, and new alerts "
     "are refused (429) while none can be.",
     NULL},
    {"alerts.trigger_environment", OPT_STRING, OFF(alert_trigger_env), 1, 255, "Production", false,
     NULL,
     "Environment of the alerts that triggers raise (an alert's key, and what blackouts match).",
     NULL},
    {"alerts.severity_map", OPT_STRING, OFF(alert_severity_map), 0, 4095, "", false, NULL,
     "Severities and their codes, \"name=code,...\" (lower is more severe); empty: Alerta's "
     "default. Must name normal, informational and indeterminate.",
     check_sevmap},
    {"heartbeats.timeout", OPT_DURATION, OFF(heartbeat_timeout_ms), 0, 3650 * DAY_MS, "1d", false,
     NULL,
     "Timeout of a heartbeat sent without one: past it the heartbeat is expired and its "
     "HeartbeatFail alert is raised.",
     NULL},
    {"heartbeats.max_latency", OPT_DURATION, OFF(heartbeat_max_latency_ms), 0, DAY_MS, "2000ms",
     false, NULL, "A heartbeat whose latency (receive - create time) is above this is \"slow\".",
     NULL},
    {"blackouts.notification_blackout", OPT_BOOL, OFF(notification_blackout), 0, 1, "false", false,
     NULL,
     "true: an alert inside a blackout is stored with status blackout; false: it is dropped "
     "(202).",
     NULL},
    {"blackouts.accept", OPT_STRING, OFF(blackout_accept), 0, 1023, "", false, NULL,
     "Severities never dropped by a blackout, \"sev,sev\" (only with notification_blackout "
     "false).",
     check_sev_list},
    {"blackouts.duration", OPT_DURATION, OFF(blackout_duration_ms), SEC_MS, 3650 * DAY_MS, "1h",
     false, NULL, "Length of a blackout created with neither endTime nor duration.", NULL},
    {"store.durability", OPT_ENUM, OFF(durability), 0, 2, "batch", false, durability_names,
     "sync: fsync every commit; batch: group commit (a few ms); none: leave it to the OS.", NULL},
    {"notify.max_attempts", OPT_UNSIGNED, OFF(notify_max_attempts), 1, 100, "30", true, NULL,
     "Delivery attempts per notification before it is kept as failed (with the default backoff, "
     "30 attempts span 12 to 24 minutes: a receiver down for 10 minutes loses nothing).",
     NULL},
    {"notify.backoff_base", OPT_DURATION, OFF(notify_backoff_base_ms), 10, HOUR_MS, "1s", true,
     NULL, "Delay before the first retry; doubled (with jitter) on each further one.", NULL},
    {"notify.backoff_max", OPT_DURATION, OFF(notify_backoff_max_ms), 10, 7 * DAY_MS, "1m", true,
     NULL, "Longest delay between two retries.", NULL},
    {"notify.timeout", OPT_DURATION, OFF(notify_timeout_ms), 100, 10 * MIN_MS, "10s", true, NULL,
     "Time limit for one delivery attempt.", NULL},
    {"notify.concurrency", OPT_UNSIGNED, OFF(notify_concurrency), 1, 4096, "64", false, NULL,
     "Deliveries in flight at once.", NULL},
    {"notify.threads", OPT_UNSIGNED, OFF(notify_threads), 1, 8, "2", false, NULL,
     "Notifier threads; each alert's notifications through a channel stay on one, and so do "
     "all those of a channel with its own concurrency or rate.",
     NULL},
    {"notify.keep", OPT_DURATION, OFF(notify_keep_ms), MIN_MS, 3650 * DAY_MS, "7d", false, NULL,
     "How long delivered and failed notifications (and their attempts) are kept.", NULL},
    {"notify.files", OPT_STRING, OFF(notify_files), 0, 4095, "", false, NULL,
     "Channel and rule files (YAML or JSON), \"path,path\": files, directories of *.yml, "
     "*.yaml and *.json, or globs. Read at start and on SIGHUP.",
     NULL},
    {"notify.base_url", OPT_STRING, OFF(notify_base_url), 0, 1023, "", false, NULL,
     "tocsin's address as people reach it (links in notifications), e.g. "
     "https://tocsin.example.com.",
     NULL},
    /* The auth section comes last: config_write() puts auth.users after these, under the same
     * "auth:" key. */
    {"auth.customer_views", OPT_BOOL, OFF(customer_views), 0, 1, "false", true, NULL,
     "Multi-tenancy (Alerta's CUSTOMER_VIEWS): a user who is not an admin sees only the "
     "customers listed in auth.users[i].customers. API keys bound to a customer are restricted "
     "to it either way.",
     NULL},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))
#define USERS_NAME "auth.users"

static const struct opt *find_opt(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(opts[i].name, name) == 0)
            return &opts[i];
    return NULL;
}

/* True if `name` is a section holding options ("http", "auth"). */
static bool is_section(const char *name)
{
    size_t n = strlen(name);

    if (strcmp(name, "auth") == 0)
        return true;
    for (size_t i = 0; i < NOPTS; i++)
        if (strncmp(opts[i].name, name, n) == 0 && opts[i].name[n] == '.')
            return true;
    return false;
}

/* Levenshtein distance, for "did you mean"; names longer than NAME_MAX_LEN count as far. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[NAME_MAX_LEN + 1], diag, up;

    if (la > NAME_MAX_LEN || lb > NAME_MAX_LEN)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            up = row[j];
            row[j] = diag + (size_t)(a[i - 1] != b[j - 1]);
            if (up + 1 < row[j])
                row[j] = up + 1;
            if (row[j - 1] + 1 < row[j])
                row[j] = row[j - 1] + 1;
            diag = up;
        }
    }
    return row[lb];
}

/* Writes "unknown option 'x'" plus a suggestion when one name is close. */
static void unknown_msg(char *dst, size_t len, const char *name)
{
    const char *best = NULL;
    size_t bestd = 3, d;

    for (size_t i = 0; i <= NOPTS; i++) {
        const char *cand = i < NOPTS ? opts[i].name : USERS_NAME;
        d = edit_distance(name, cand);
        if (d < bestd) {
            bestd = d;
            best = cand;
        }
    }
    if (best)
        tocsin_seterr(dst, len, "unknown option '%.*s' (did you mean '%s'?)", NAME_MAX_LEN, name,
                      best);
    else
        tocsin_seterr(dst, len, "unknown option '%.*s'", NAME_MAX_LEN, name);
}

/* ---- numbers ---- */

/* Digits only (no sign, no spaces); *end is set past them. */
static int parse_u64(const char *s, const char **end, uint64_t *out)
{
    char *e;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return TOCSIN_EINVAL;
    errno = 0;
    v = strtoull(s, &e, 10);
    if (errno == ERANGE)
        return TOCSIN_EINVAL;
    *end = e;
    *out = (uint64_t)v;
    return TOCSIN_OK;
}

int config_parse_duration_ms(const char *s, int64_t *out)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"", 1}, {"ms", 1}, {"s", SEC_MS}, {"m", MIN_MS}, {"h", HOUR_MS}, {"d", DAY_MS}};
    const char *end;
    uint64_t v;

    if (!s || parse_u64(s, &end, &v) != TOCSIN_OK)
        return TOCSIN_EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) != 0)
            continue;
        if (v > (uint64_t)(INT64_MAX / units[i].ms))
            return TOCSIN_EINVAL;
        *out = (int64_t)v * units[i].ms;
        return TOCSIN_OK;
    }
    return TOCSIN_EINVAL;
}

int config_parse_size(const char *s, size_t *out)
{
    const char *end;
    uint64_t v, mult = 1;

    if (!s || parse_u64(s, &end, &v) != TOCSIN_OK)
        return TOCSIN_EINVAL;
    if (*end) {
        switch (*end) {
        case 'k':
        case 'K':
            mult = (uint64_t)KIB;
            break;
        case 'm':
        case 'M':
            mult = (uint64_t)MIB;
            break;
        case 'g':
        case 'G':
            mult = (uint64_t)GIB;
            break;
        default:
            return TOCSIN_EINVAL;
        }
        if (end[1] != '\0')
            return TOCSIN_EINVAL;
    }
    if (v > SIZE_MAX / mult)
        return TOCSIN_EINVAL;
    *out = (size_t)(v * mult);
    return TOCSIN_OK;
}

/* Writes a size or a duration in the largest unit that divides it exactly. */
static const char *fmt_num(enum opt_type type, int64_t v, char *dst, size_t len)
{
    static const struct {
        int64_t mult;
        const char *unit;
    } sizes[] = {{GIB, "g"}, {MIB, "m"}, {KIB, "k"}, {1, ""}},
      durs[] = {{DAY_MS, "d"}, {HOUR_MS, "h"}, {MIN_MS, "m"}, {SEC_MS, "s"}, {1, "ms"}};
    size_t n = type == OPT_SIZE ? 4 : 5;

    if ((type != OPT_SIZE && type != OPT_DURATION) || v == 0) {
        snprintf(dst, len, "%" PRId64 "%s", v, type == OPT_DURATION ? "ms" : "");
        return dst;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t m = type == OPT_SIZE ? sizes[i].mult : durs[i].mult;
        if (v % m == 0) {
            snprintf(dst, len, "%" PRId64 "%s", v / m,
                     type == OPT_SIZE ? sizes[i].unit : durs[i].unit);
            break;
        }
    }
    return dst;
}

/* ---- one option's value ---- */

/* What a number option takes: "a size", and how to write one. */
static const char *type_noun(enum opt_type t, const char **how)
{
    *how = "";
    switch (t) {
    case OPT_SIZE:
        *how = " (bytes, or with a k, m or g suffix)";
        return "a size";
    case OPT_DURATION:
        *how = " (a number with ms, s, m, h or d, e.g. 1500ms, 30s, 5m)";
        return "a duration";
    default:
        return "a whole number";
    }
}

static int parse_number(const struct opt *o, const char *text, int64_t *out, char *msg, size_t len)
{
    char lo[32], hi[32];
    uint64_t u = 0;
    size_t sz = 0;
    const char *end = text;
    int rc;

    fmt_num(o->type, o->min, lo, sizeof(lo));
    fmt_num(o->type, o->max, hi, sizeof(hi));
    if (o->type == OPT_SIZE) {
        rc = config_parse_size(text, &sz);
        u = sz;
    } else if (o->type == OPT_DURATION) {
        rc = config_parse_duration_ms(text, out);
        u = rc == TOCSIN_OK ? (uint64_t)*out : 0;
    } else {
        rc = parse_u64(text, &end, &u);
        if (rc == TOCSIN_OK && *end)
            rc = TOCSIN_EINVAL;
    }
    if (rc != TOCSIN_OK) {
        const char *how, *noun = type_noun(o->type, &how);
        tocsin_seterr(msg, len, "%s: expected %s in %s..%s%s, got '%.64s'", o->name, noun, lo, hi,
                      how, text);
        return TOCSIN_EINVAL;
    }
    if (u < (uint64_t)o->min || u > (uint64_t)o->max) {
        tocsin_seterr(msg, len, "%s: %.64s is out of range (%s..%s)", o->name, text, lo, hi);
        return TOCSIN_EINVAL;
    }
    *out = (int64_t)u;
    return TOCSIN_OK;
}

static int parse_name(const struct opt *o, const char *const *names, const char *text, int64_t *out,
                      char *msg, size_t len)
{
    char list[128] = "";
    size_t n = 0;

    for (int i = 0; names[i]; i++) {
        if (strcmp(names[i], text) == 0) {
            *out = i;
            return TOCSIN_OK;
        }
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", names[i]);
        if (n >= sizeof(list))
            n = sizeof(list) - 1;
    }
    tocsin_seterr(msg, len, "%s: expected one of %s, got '%.64s'", o->name, list, text);
    return TOCSIN_EINVAL;
}

static int parse_bool(const struct opt *o, const char *text, int64_t *out, char *msg, size_t len)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0 || strcasecmp(text, no[i]) == 0) {
            *out = strcasecmp(text, yes[i]) == 0;
            return TOCSIN_OK;
        }
    }
    tocsin_seterr(msg, len, "%s: expected true or false, got '%.64s'", o->name, text);
    return TOCSIN_EINVAL;
}

static void *field(struct config *cfg, const struct opt *o)
{
    return (char *)cfg + o->off;
}

static const void *cfield(const struct config *cfg, const struct opt *o)
{
    return (const char *)cfg + o->off;
}

/* Numeric value of a non-string option. */
static int64_t get_num(const struct config *cfg, const struct opt *o)
{
    const void *p = cfield(cfg, o);

    switch (o->type) {
    case OPT_BOOL:
        return *(const bool *)p;
    case OPT_UNSIGNED:
        return *(const unsigned *)p;
    case OPT_COUNT:
    case OPT_SIZE:
        return (int64_t) * (const size_t *)p;
    case OPT_DURATION:
        return *(const int64_t *)p;
    case OPT_ENUM:
    case OPT_LOG_LEVEL:
        return *(const int *)p;
    case OPT_STRING:
        break;
    }
    return 0;
}

static void put_num(struct config *cfg, const struct opt *o, int64_t v)
{
    void *p = field(cfg, o);

    switch (o->type) {
    case OPT_BOOL:
        *(bool *)p = v != 0;
        break;
    case OPT_UNSIGNED:
        *(unsigned *)p = (unsigned)v;
        break;
    case OPT_COUNT:
    case OPT_SIZE:
        *(size_t *)p = (size_t)v;
        break;
    case OPT_DURATION:
        *(int64_t *)p = v;
        break;
    case OPT_ENUM:
    case OPT_LOG_LEVEL:
        *(int *)p = (int)v;
        break;
    case OPT_STRING:
        break;
    }
}

static int set_string(struct config *cfg, const struct opt *o, const char *text, char *msg,
                      size_t len)
{
    size_t n = strlen(text);
    char **p = field(cfg, o), *copy;

    if ((int64_t)n < o->min || (int64_t)n > o->max) {
        if (n == 0)
            tocsin_seterr(msg, len, "%s: must not be empty", o->name);
        else
            tocsin_seterr(msg, len, "%s: must be %" PRId64 "..%" PRId64 " bytes long, got %zu",
                          o->name, o->min, o->max, n);
        return TOCSIN_EINVAL;
    }
    if (o->check && o->check(o, text, msg, len) != TOCSIN_OK)
        return TOCSIN_EINVAL;
    copy = strdup(text);
    if (!copy) {
        tocsin_seterr(msg, len, "%s: out of memory", o->name);
        return TOCSIN_ENOMEM;
    }
    free(*p);
    *p = copy;
    return TOCSIN_OK;
}

/* Parses `text` for option `o` and stores it; on error writes "name: message" into msg. */
static int set_option(struct config *cfg, const struct opt *o, const char *text, char *msg,
                      size_t len)
{
    int64_t v = 0;
    int rc;

    switch (o->type) {
    case OPT_STRING:
        return set_string(cfg, o, text, msg, len);
    case OPT_BOOL:
        rc = parse_bool(o, text, &v, msg, len);
        break;
    case OPT_ENUM:
        rc = parse_name(o, o->names, text, &v, msg, len);
        break;
    case OPT_LOG_LEVEL:
        rc = parse_name(o, level_names, text, &v, msg, len);
        break;
    default:
        rc = parse_number(o, text, &v, msg, len);
        break;
    }
    if (rc == TOCSIN_OK)
        put_num(cfg, o, v);
    return rc;
}

/* ---- defaults, set, env, free ---- */

void config_defaults(struct config *cfg)
{
    char msg[256];

    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NOPTS; i++)
        set_option(cfg, &opts[i], opts[i].def, msg, sizeof(msg)); /* defaults are tested */
}

int config_set(struct config *cfg, const char *name, const char *value, char *err, size_t errlen)
{
    const struct opt *o;

    if (!name || !value) {
        tocsin_seterr(err, errlen, "option name and value are required");
        return TOCSIN_EINVAL;
    }
    o = find_opt(name);
    if (!o) {
        if (strcmp(name, USERS_NAME) == 0)
            tocsin_seterr(err, errlen, "%s can only be set in the config file", USERS_NAME);
        else
            unknown_msg(err, errlen, name);
        return TOCSIN_ENOTFOUND;
    }
    return set_option(cfg, o, value, err, errlen);
}

/* "notify.max_attempts" -> "TOCSIN_NOTIFY_MAX_ATTEMPTS" */
static void env_name(const struct opt *o, char *dst, size_t len)
{
    size_t n = (size_t)snprintf(dst, len, "TOCSIN_");

    for (const char *p = o->name; *p && n + 1 < len; p++) {
        char c = *p;
        dst[n++] = (c == '.' || c == '-') ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
    dst[n] = '\0';
}

int config_load_env(struct config *cfg, char *err, size_t errlen)
{
    char var[NAME_MAX_LEN + 16], msg[256];
    const char *v;
    int rc;

    for (size_t i = 0; i < NOPTS; i++) {
        env_name(&opts[i], var, sizeof(var));
        v = getenv(var);
        if (!v)
            continue;
        rc = set_option(cfg, &opts[i], v, msg, sizeof(msg));
        if (rc != TOCSIN_OK) {
            tocsin_seterr(err, errlen, "env %s: %s", var, msg);
            return rc;
        }
    }
    return TOCSIN_OK;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static void free_users(struct config_user *users, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(users[i].name);
        free(users[i].password_hash);
        free_list(users[i].scopes, users[i].nscopes);
        free_list(users[i].customers, users[i].ncustomers);
    }
    free(users);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].type == OPT_STRING) {
            char **p = field(cfg, &opts[i]);
            free(*p);
            *p = NULL;
        }
    }
    free_users(cfg->users, cfg->nusers);
    cfg->users = NULL;
    cfg->nusers = 0;
}

/* ---- listen address and users ---- */

int config_listen_split(const char *listen, char *host, size_t hostlen, unsigned *port)
{
    char h[256];
    const char *colon, *end;
    struct in6_addr a6;
    struct in_addr a4;
    uint64_t p;
    size_t n;
    bool v6;

    if (!listen)
        return TOCSIN_EINVAL;
    v6 = listen[0] == '[';
    if (v6) {
        end = strchr(listen, ']');
        if (!end || end[1] != ':')
            return TOCSIN_EINVAL;
        n = (size_t)(end - listen - 1);
        colon = end + 1;
        listen++;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return TOCSIN_EINVAL;
        n = (size_t)(colon - listen);
    }
    if (n == 0 || n >= sizeof(h))
        return TOCSIN_EINVAL;
    memcpy(h, listen, n);
    h[n] = '\0';
    if (colon[1] == '\0' || strlen(colon + 1) > 5 || parse_u64(colon + 1, &end, &p) != TOCSIN_OK ||
        *end || p > 65535)
        return TOCSIN_EINVAL;
    if (v6 ? inet_pton(AF_INET6, h, &a6) != 1
           : strcasecmp(h, "localhost") != 0 && inet_pton(AF_INET, h, &a4) != 1)
        return TOCSIN_EINVAL;
    if (host && hostlen)
        snprintf(host, hostlen, "%s", h);
    if (port)
        *port = (unsigned)p;
    return TOCSIN_OK;
}

static int check_sevmap(const struct opt *o, const char *text, char *msg, size_t len)
{
    struct sevmap m;
    char why[160];

    if (!*text || !sevmap_parse(text, &m, why, sizeof(why)))
        return 0;
    snprintf(msg, len, "%s: %s", o->name, why);
    return TOCSIN_EINVAL;
}

/* "name,name": severity names as the severity map spells them ([A-Za-z0-9_-]); whether each is
 * in the map is checked at start-up, when the map is known. */
static int check_sev_list(const struct opt *o, const char *text, char *msg, size_t len)
{
    size_t run = 0, n = 0;

    for (const char *p = text;; p++) {
        if (*p == ',' || !*p) {
            if (!run && *text) {
                tocsin_seterr(msg, len, "%s: an empty severity name", o->name);
                return TOCSIN_EINVAL;
            }
            if (++n > SEVMAP_MAX) {
                tocsin_seterr(msg, len, "%s: at most %d severities", o->name, SEVMAP_MAX);
                return TOCSIN_EINVAL;
            }
            run = 0;
            if (!*p)
                return TOCSIN_OK;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-') ||
            ++run >= SEV_NAME_MAX) {
            tocsin_seterr(msg, len, "%s: '%.64s' is not a list of severity names", o->name, text);
            return TOCSIN_EINVAL;
        }
    }
}

static int check_listen(const struct opt *o, const char *text, char *msg, size_t len)
{
    if (config_listen_split(text, NULL, 0, NULL) == TOCSIN_OK)
        return TOCSIN_OK;
    tocsin_seterr(msg, len,
                  "%s: '%.64s' is not host:port (host: an IPv4 address, localhost or [IPv6]; port: "
                  "0..65535)",
                  o->name, text);
    return TOCSIN_EINVAL;
}

bool config_listen_is_loopback(const char *listen)
{
    char h[256];
    struct in6_addr a6;
    struct in_addr a4;

    if (config_listen_split(listen, h, sizeof(h), NULL) != TOCSIN_OK)
        return false;
    if (strcasecmp(h, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, h, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, h, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false;
}

int config_user_check(const char *name, const char *password_hash, char *err, size_t errlen)
{
    static const char prefix[] = "$argon2id$";

    if (!name || !*name) {
        tocsin_seterr(err, errlen, "user name must not be empty");
        return TOCSIN_EINVAL;
    }
    if (strlen(name) > CONFIG_USER_NAME_MAX) {
        tocsin_seterr(err, errlen, "user name is longer than %d bytes", CONFIG_USER_NAME_MAX);
        return TOCSIN_EINVAL;
    }
    for (const char *p = name; *p; p++) {
        if (*p == ':' || (unsigned char)*p < 0x20 || *p == 0x7f) {
            tocsin_seterr(err, errlen,
                          "user name '%.64s' must not contain ':' or control characters", name);
            return TOCSIN_EINVAL;
        }
    }
    if (!password_hash || strncmp(password_hash, prefix, sizeof(prefix) - 1) != 0 ||
        strlen(password_hash) > CONFIG_HASH_MAX) {
        tocsin_seterr(
            err, errlen,
            "password_hash of user '%s' is not an argon2id hash (\"$argon2id$...\", at most "
            "%d bytes); make one with 'tocsin passwd'",
            name, CONFIG_HASH_MAX);
        return TOCSIN_EINVAL;
    }
    return TOCSIN_OK;
}

/* Scopes parse as Alerta scopes; customers are non-empty names without control characters. */
static int check_user_lists(const struct config_user *u, char *msg, size_t len)
{
    struct scope_set set;
    char m[256];

    if (u->nscopes > CONFIG_USER_MAX_SCOPES || u->ncustomers > CONFIG_USER_MAX_CUSTOMERS) {
        tocsin_seterr(msg, len, "user '%s' has more than %d scopes or %d customers", u->name,
                      CONFIG_USER_MAX_SCOPES, CONFIG_USER_MAX_CUSTOMERS);
        return TOCSIN_EINVAL;
    }
    scope_set_clear(&set);
    if (scope_set_parse_list(&set, (const char *const *)u->scopes, u->nscopes, m, sizeof(m))) {
        tocsin_seterr(msg, len, "scopes of user '%s': %s", u->name, m);
        return TOCSIN_EINVAL;
    }
    for (size_t i = 0; i < u->ncustomers; i++) {
        const char *c = u->customers[i];
        bool bad = !c || !*c || strlen(c) > CONFIG_CUSTOMER_NAME_MAX;

        for (const char *p = c; !bad && *p; p++)
            bad = (unsigned char)*p < 0x20 || *p == 0x7f;
        if (bad) {
            tocsin_seterr(msg, len,
                          "customers of user '%s': '%.64s' is not a customer name (1..%d bytes, no "
                          "control characters)",
                          u->name, c ? c : "", CONFIG_CUSTOMER_NAME_MAX);
            return TOCSIN_EINVAL;
        }
    }
    return TOCSIN_OK;
}

/* Checks users[i] against the rule and against users[0..i). */
static int check_user_at(const struct config_user *users, size_t i, char *msg, size_t len)
{
    char m[512];

    if (config_user_check(users[i].name, users[i].password_hash, m, sizeof(m)) != TOCSIN_OK ||
        check_user_lists(&users[i], m, sizeof(m)) != TOCSIN_OK) {
        tocsin_seterr(msg, len, "%s[%zu]: %s", USERS_NAME, i, m);
        return TOCSIN_EINVAL;
    }
    for (size_t j = 0; j < i; j++) {
        if (strcmp(users[j].name, users[i].name) == 0) {
            tocsin_seterr(msg, len, "%s[%zu]: duplicate user name '%s' (also %s[%zu])", USERS_NAME,
                          i, users[i].name, USERS_NAME, j);
            return TOCSIN_EINVAL;
        }
    }
    return TOCSIN_OK;
}

/* Admin users see every customer (Alerta: ADMIN_USERS get "*"); so do users holding "admin". */
static bool user_is_admin(const struct config_user *u)
{
    if (u->admin)
        return true;
    for (size_t i = 0; i < u->nscopes; i++)
        if (u->scopes[i] && !strcmp(u->scopes[i], "admin"))
            return true;
    return false;
}

int config_validate(const struct config *cfg, char *err, size_t errlen)
{
    char a[32], b[32];

    if (!cfg->listen || config_listen_split(cfg->listen, NULL, 0, NULL) != TOCSIN_OK) {
        tocsin_seterr(
            err, errlen,
            "listen: '%.64s' is not host:port (host: an IPv4 address, localhost or [IPv6]; "
            "port: 0..65535)",
            cfg->listen ? cfg->listen : "");
        return TOCSIN_EINVAL;
    }
    if (!cfg->data_dir || !*cfg->data_dir) {
        tocsin_seterr(err, errlen, "data: must not be empty");
        return TOCSIN_EINVAL;
    }
    if (!config_listen_is_loopback(cfg->listen) && cfg->nusers == 0 && !cfg->insecure) {
        tocsin_seterr(
            err, errlen,
            "refusing to listen on %s without authentication: configure auth.users or pass "
            "--insecure",
            cfg->listen);
        return TOCSIN_EINVAL;
    }
    if (cfg->nusers > CONFIG_MAX_USERS) {
        tocsin_seterr(err, errlen, "%s: more than %d users", USERS_NAME, CONFIG_MAX_USERS);
        return TOCSIN_EINVAL;
    }
    for (size_t i = 0; i < cfg->nusers; i++)
        if (check_user_at(cfg->users, i, err, errlen) != TOCSIN_OK)
            return TOCSIN_EINVAL;
    for (size_t i = 0; cfg->customer_views && i < cfg->nusers; i++) {
        if (!cfg->users[i].ncustomers && !user_is_admin(&cfg->users[i])) {
            tocsin_seterr(err, errlen,
                          "%s[%zu]: user '%s' has no customers but auth.customer_views is on; list "
                          "them, or use customers: [\"*\"] for all",
                          USERS_NAME, i, cfg->users[i].name);
            return TOCSIN_EINVAL;
        }
    }
    if (cfg->notify_backoff_max_ms < cfg->notify_backoff_base_ms) {
        tocsin_seterr(err, errlen,
                      "notify.backoff_max (%s) must not be less than notify.backoff_base (%s)",
                      fmt_num(OPT_DURATION, cfg->notify_backoff_max_ms, a, sizeof(a)),
                      fmt_num(OPT_DURATION, cfg->notify_backoff_base_ms, b, sizeof(b)));
        return TOCSIN_EINVAL;
    }
    return TOCSIN_OK;
}

int config_reload_check(const struct config *cur, const struct config *next, char *err,
                        size_t errlen)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &opts[i];
        bool same;

        if (o->reloadable)
            continue;
        if (o->type == OPT_STRING) {
            const char *x = *(char *const *)cfield(cur, o), *y = *(char *const *)cfield(next, o);
            same = (!x && !y) || (x && y && strcmp(x, y) == 0);
        } else {
            same = get_num(cur, o) == get_num(next, o);
        }
        if (!same) {
            tocsin_seterr(err, errlen, "%s cannot be changed by a reload; restart tocsin", o->name);
            return TOCSIN_ECONFLICT;
        }
    }
    return TOCSIN_OK;
}

/* ---- YAML file ---- */

struct loader {
    struct config *cfg;
    const char *path;
    char *err;
    size_t errlen;
};

static int lerr(struct loader *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "path:line: message"; returns TOCSIN_EINVAL. */
static int lerr(struct loader *ld, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    tocsin_seterr(ld->err, ld->errlen, "%s:%d: %s", ld->path, line, msg);
    return TOCSIN_EINVAL;
}

/* 1-based line where `n` starts: its own token for a scalar, else its first child's line. A node
 * without a token (an empty value) gets `fallback`. */
static int node_line(struct fy_node *n, int fallback)
{
    struct fy_node_pair *pair;
    struct fy_token *tok;
    const struct fy_mark *m;
    void *it = NULL;

    if (!n)
        return fallback;
    switch (fy_node_get_type(n)) {
    case FYNT_SCALAR:
        tok = fy_node_get_scalar_token(n);
        m = tok ? fy_token_start_mark(tok) : NULL;
        return m ? m->line + 1 : fallback;
    case FYNT_SEQUENCE:
        return node_line(fy_node_sequence_iterate(n, &it), fallback);
    case FYNT_MAPPING:
        pair = fy_node_mapping_iterate(n, &it);
        return pair ? node_line(fy_node_pair_key(pair), fallback) : fallback;
    }
    return fallback;
}

static const char *kind_name(struct fy_node *n)
{
    switch (fy_node_get_type(n)) {
    case FYNT_SEQUENCE:
        return "a list";
    case FYNT_MAPPING:
        return "a mapping";
    default:
        return "an alias";
    }
}

/* The text of a scalar value (NUL-terminated, owned by the document), or NULL after an error
 * naming `what`. */
static const char *scalar_text(struct loader *ld, struct fy_node *n, const char *what, int line,
                               int *rc)
{
    const char *s;
    size_t len = 0;

    *rc = TOCSIN_EINVAL;
    if (!n || fy_node_is_null(n)) {
        lerr(ld, line, "%s: missing value", what);
        return NULL;
    }
    if (fy_node_get_type(n) != FYNT_SCALAR || fy_node_is_alias(n)) {
        lerr(ld, line, "%s: expected a single value, got %s", what, kind_name(n));
        return NULL;
    }
    s = fy_node_get_scalar0(n);
    if (!s || (fy_node_get_scalar(n, &len) && strlen(s) != len)) {
        lerr(ld, line, "%s: value contains a NUL byte", what);
        return NULL;
    }
    *rc = TOCSIN_OK;
    return s;
}

/* A list of strings (a YAML sequence of scalars, at most `max`) into *out / *n, replacing what
 * was there. `what` names it in errors. */
static int load_list(struct loader *ld, struct fy_node *seq, const char *what, size_t max, int line,
                     char ***out, size_t *n)
{
    struct fy_node *item;
    char **list = NULL, item_what[96];
    size_t cnt = 0, count;
    void *it = NULL;
    int rc = TOCSIN_OK;
    const char *v;

    if (!seq || fy_node_get_type(seq) != FYNT_SEQUENCE || fy_node_is_alias(seq))
        return lerr(ld, node_line(seq, line), "%s: expected a list", what);
    count = (size_t)fy_node_sequence_item_count(seq);
    if (count > max)
        return lerr(ld, line, "%s: more than %zu entries", what, max);
    if (count && !(list = calloc(count, sizeof(*list))))
        return lerr(ld, line, "out of memory");
    while (cnt < count && (item = fy_node_sequence_iterate(seq, &it))) {
        snprintf(item_what, sizeof(item_what), "%s[%zu]", what, cnt);
        v = scalar_text(ld, item, item_what, node_line(item, line), &rc);
        if (!v)
            break;
        if (!(list[cnt] = strdup(v))) {
            rc = lerr(ld, line, "out of memory");
            break;
        }
        cnt++;
    }
    if (rc != TOCSIN_OK) {
        free_list(list, cnt);
        return rc;
    }
    free_list(*out, *n);
    *out = list;
    *n = cnt;
    return TOCSIN_OK;
}

/* One scalar field of a user (name, password_hash, admin). */
static int load_user_field(struct loader *ld, struct fy_node *v, const char *what, int line,
                           char **dst, bool *flag)
{
    static const struct opt admin_opt = {.name = "admin", .type = OPT_BOOL};
    char msg[256];
    int64_t b;
    int rc;
    const char *val = scalar_text(ld, v, what, node_line(v, line), &rc);

    if (!val)
        return rc;
    if (flag) {
        if (parse_bool(&admin_opt, val, &b, msg, sizeof(msg)) != TOCSIN_OK)
            return lerr(ld, node_line(v, line), "%s: expected true or false, got '%.64s'", what,
                        val);
        *flag = b != 0;
        return TOCSIN_OK;
    }
    free(*dst);
    *dst = strdup(val);
    return *dst ? TOCSIN_OK : lerr(ld, line, "out of memory");
}

/* One entry of auth.users into *u (fields owned by u). */
static int load_user(struct loader *ld, struct fy_node *item, size_t idx, struct config_user *u,
                     int fallback)
{
    char what[64];
    int line = node_line(item, fallback), kline, rc = TOCSIN_OK;
    struct fy_node_pair *pair;
    void *it = NULL;

    if (!item || fy_node_get_type(item) != FYNT_MAPPING)
        return lerr(ld, line, "%s[%zu]: expected a mapping with name and password_hash", USERS_NAME,
                    idx);
    while (rc == TOCSIN_OK && (pair = fy_node_mapping_iterate(item, &it))) {
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        const char *key = k ? fy_node_get_scalar0(k) : NULL;

        kline = node_line(k, line);
        snprintf(what, sizeof(what), "%s[%zu].%.16s", USERS_NAME, idx, key ? key : "");
        if (key && strcmp(key, "name") == 0)
            rc = load_user_field(ld, v, what, kline, &u->name, NULL);
        else if (key && strcmp(key, "password_hash") == 0)
            rc = load_user_field(ld, v, what, kline, &u->password_hash, NULL);
        else if (key && strcmp(key, "admin") == 0)
            rc = load_user_field(ld, v, what, kline, NULL, &u->admin);
        else if (key && strcmp(key, "scopes") == 0)
            rc = load_list(ld, v, what, CONFIG_USER_MAX_SCOPES, kline, &u->scopes, &u->nscopes);
        else if (key && strcmp(key, "customers") == 0)
            rc = load_list(ld, v, what, CONFIG_USER_MAX_CUSTOMERS, kline, &u->customers,
                           &u->ncustomers);
        else
            return lerr(ld, kline,
                        "%s[%zu]: unknown key '%.64s' (expected name, password_hash, scopes, "
                        "customers, admin)",
                        USERS_NAME, idx, key ? key : "");
    }
    if (rc != TOCSIN_OK)
        return rc;
    if (!u->name || !u->password_hash)
        return lerr(ld, line, "%s[%zu]: missing %s", USERS_NAME, idx,
                    u->name ? "password_hash" : "name");
    return TOCSIN_OK;
}

/* auth.users: replaces cfg->users only if every entry is good. */
static int load_users(struct loader *ld, struct fy_node *seq, int kline)
{
    struct config_user *users = NULL;
    struct fy_node *item;
    char msg[512];
    size_t n = 0, count;
    void *it = NULL;
    int rc = TOCSIN_OK, line;

    if (seq && !fy_node_is_null(seq)) {
        if (fy_node_get_type(seq) != FYNT_SEQUENCE)
            return lerr(ld, node_line(seq, kline),
                        "%s: expected a list of mappings with name and password_hash", USERS_NAME);
        count = (size_t)fy_node_sequence_item_count(seq);
        if (count > CONFIG_MAX_USERS)
            return lerr(ld, kline, "%s: more than %d users", USERS_NAME, CONFIG_MAX_USERS);
        users = count ? calloc(count, sizeof(*users)) : NULL;
        if (count && !users)
            return lerr(ld, kline, "out of memory");
        while ((item = fy_node_sequence_iterate(seq, &it)) && n < count) {
            line = node_line(item, kline);
            rc = load_user(ld, item, n, &users[n], kline);
            n++;
            if (rc == TOCSIN_OK && check_user_at(users, n - 1, msg, sizeof(msg)) != TOCSIN_OK)
                rc = lerr(ld, line, "%s", msg);
            if (rc != TOCSIN_OK)
                goto out;
        }
    }
    free_users(ld->cfg->users, ld->cfg->nusers);
    ld->cfg->users = users;
    ld->cfg->nusers = n;
    users = NULL;
out:
    if (users)
        free_users(users, n);
    return rc;
}

static int load_option(struct loader *ld, const struct opt *o, struct fy_node *val, int line)
{
    char msg[512];
    const char *text;
    int rc;

    text = scalar_text(ld, val, o->name, line, &rc);
    if (!text)
        return rc;
    rc = set_option(ld->cfg, o, text, msg, sizeof(msg));
    if (rc != TOCSIN_OK)
        return lerr(ld, line, "%s", msg);
    return TOCSIN_OK;
}

/* Walks a mapping whose keys are joined to `prefix` with dots. */
static int walk_map(struct loader *ld, struct fy_node *map, const char *prefix)
{
    char name[NAME_MAX_LEN + 2];
    struct fy_node_pair *pair;
    void *it = NULL;
    int rc = TOCSIN_OK;

    while (rc == TOCSIN_OK && (pair = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        int kline = node_line(k, node_line(v, 1)), vline = node_line(v, kline);
        const struct opt *o;
        const char *key;
        size_t klen = 0;

        if (!k || fy_node_get_type(k) != FYNT_SCALAR || fy_node_is_alias(k) ||
            !(key = fy_node_get_scalar(k, &klen)) || memchr(key, '\0', klen))
            return lerr(ld, kline, "option names must be plain strings");
        snprintf(name, sizeof(name), "%s%s%.*s", prefix ? prefix : "", prefix ? "." : "",
                 (int)(klen < sizeof(name) ? klen : sizeof(name)), key);
        if (strcmp(name, USERS_NAME) == 0)
            rc = load_users(ld, v, kline);
        else if ((o = find_opt(name)))
            rc = load_option(ld, o, v, vline);
        else if (strlen(name) <= NAME_MAX_LEN && is_section(name)) {
            if (v && fy_node_get_type(v) == FYNT_MAPPING)
                rc = walk_map(ld, v, name);
            else if (v && !fy_node_is_null(v))
                rc = lerr(ld, vline, "%s: expected a mapping of options, got a value", name);
        } else {
            char msg[256];
            unknown_msg(msg, sizeof(msg), name);
            rc = lerr(ld, kline, "%s", msg);
        }
    }
    return rc;
}

static void diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

/* Reports libfyaml's first collected error as "path:line: message". */
static int diag_error(struct loader *ld, struct fy_diag *diag)
{
    void *it = NULL;
    struct fy_diag_error *e = fy_diag_errors_iterate(diag, &it);

    if (!e)
        return lerr(ld, 1, "YAML parse error");
    /* Collected errors carry 1-based lines. */
    return lerr(ld, e->line > 0 ? e->line : 1, "%s", e->msg ? e->msg : "YAML parse error");
}

/* YAML is UTF-8 without NUL bytes; checking first also keeps libfyaml 0.7 away from inputs it
 * loops on (a directive with invalid UTF-8). */
static int check_text(struct loader *ld, const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    int line = 1;

    for (size_t i = 0, n; i < len; i += n) {
        if (p[i] == '\0')
            return lerr(ld, line, "NUL byte in the file");
        n = utf8_seq_len(p + i, len - i);
        if (n == 0)
            return lerr(ld, line, "invalid UTF-8");
        line += p[i] == '\n';
    }
    return TOCSIN_OK;
}

static int parse_text(struct loader *ld, const char *text, size_t len)
{
    struct fy_diag_cfg dcfg;
    struct fy_parse_cfg pcfg;
    struct fy_diag *diag;
    struct fy_parser *fyp = NULL;
    struct fy_document *doc = NULL, *extra = NULL;
    struct fy_node *root;
    int rc = TOCSIN_OK;

    if (check_text(ld, text, len) != TOCSIN_OK)
        return TOCSIN_EINVAL;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL; /* nothing reaches stderr: errors are collected, the rest discarded */
    dcfg.output_fn = diag_discard;
    dcfg.colorize = false;
    diag = fy_diag_create(&dcfg);
    if (!diag)
        return lerr(ld, 1, "out of memory");
    fy_diag_set_collect_errors(diag, true);
    memset(&pcfg, 0, sizeof(pcfg));
    pcfg.flags = FYPCF_QUIET;
    pcfg.diag = diag;
    fyp = fy_parser_create(&pcfg);
    if (!fyp || fy_parser_set_string(fyp, text, len) != 0) {
        rc = lerr(ld, 1, "cannot start the YAML parser");
        goto out;
    }
    doc = fy_parse_load_document(fyp);
    if (!doc || fy_diag_got_error(diag)) {
        rc = fy_diag_got_error(diag) ? diag_error(ld, diag) : TOCSIN_OK; /* else: empty */
        goto out;
    }
    extra = fy_parse_load_document(fyp);
    if (extra || fy_diag_got_error(diag)) {
        rc = extra ? lerr(ld, node_line(fy_document_root(extra), 1),
                          "only one YAML document is allowed")
                   : diag_error(ld, diag);
        goto out;
    }
    root = fy_document_root(doc);
    if (root && !fy_node_is_null(root)) {
        if (fy_node_get_type(root) != FYNT_MAPPING)
            rc = lerr(ld, node_line(root, 1), "expected a mapping of options at the top level");
        else
            rc = walk_map(ld, root, NULL);
    }
out:
    if (extra)
        fy_parse_document_destroy(fyp, extra);
    if (doc)
        fy_parse_document_destroy(fyp, doc);
    if (fyp)
        fy_parser_destroy(fyp);
    fy_diag_destroy(diag);
    return rc;
}

/* Reads the whole file (at most CONFIG_MAX_FILE_BYTES) into b. */
static int read_file(const char *path, struct buf *b, char *err, size_t errlen)
{
    char chunk[4096], ebuf[128];
    FILE *f = fopen(path, "rb");
    size_t n;
    int rc = TOCSIN_OK;

    if (!f) {
        tocsin_seterr(err, errlen, "%s: cannot open: %s", path,
                      strerror_r(errno, ebuf, sizeof(ebuf)));
        return TOCSIN_EIO;
    }
    while (rc == TOCSIN_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = buf_append(b, chunk, n);
    if (rc == TOCSIN_ETOOBIG)
        tocsin_seterr(err, errlen, "%s: larger than %d bytes", path, CONFIG_MAX_FILE_BYTES);
    else if (rc != TOCSIN_OK)
        tocsin_seterr(err, errlen, "%s: out of memory", path);
    else if (ferror(f)) {
        tocsin_seterr(err, errlen, "%s: read error", path);
        rc = TOCSIN_EIO;
    }
    fclose(f);
    return rc;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
    struct loader ld = {.cfg = cfg, .path = path, .err = err, .errlen = errlen};
    struct buf b;
    int rc;

    buf_init(&b, CONFIG_MAX_FILE_BYTES);
    rc = read_file(path, &b, err, errlen);
    if (rc != TOCSIN_OK)
        goto out;
    rc = parse_text(&ld, buf_str(&b), b.len);
out:
    buf_free(&b);
    return rc;
}

/* ---- dump and help ---- */

static void put_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* "      name: ["a", "b"]" (nothing when the list is empty). */
static void put_list(FILE *out, const char *name, char *const *list, size_t n)
{
    if (!n)
        return;
    fprintf(out, "      %s: [", name);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", out);
        put_quoted(out, list[i] ? list[i] : "");
    }
    fputs("]\n", out);
}

static void put_value(FILE *out, const struct config *cfg, const struct opt *o)
{
    char num[32];
    int64_t v;

    if (o->type == OPT_STRING) {
        const char *s = *(char *const *)cfield(cfg, o);
        put_quoted(out, s ? s : "");
        return;
    }
    v = get_num(cfg, o);
    if (o->type == OPT_BOOL)
        fputs(v ? "true" : "false", out);
    else if (o->type == OPT_ENUM || o->type == OPT_LOG_LEVEL)
        fputs(v >= o->min && v <= o->max ? (o->type == OPT_ENUM ? o->names : level_names)[v] : "?",
              out);
    else
        fputs(fmt_num(o->type, v, num, sizeof(num)), out);
}

void config_write(const struct config *cfg, FILE *out)
{
    const char *section = NULL;
    size_t seclen = 0;

    fputs("# tocsin effective configuration\n", out);
    for (size_t i = 0; i < NOPTS; i++) {
        const char *name = opts[i].name, *dot = strchr(name, '.');

        if (dot && (!section || (size_t)(dot - name) != seclen || strncmp(name, section, seclen))) {
            section = name;
            seclen = (size_t)(dot - name);
            fprintf(out, "%.*s:\n", (int)seclen, name);
        }
        fprintf(out, "%s%s: ", dot ? "  " : "", dot ? dot + 1 : name);
        put_value(out, cfg, &opts[i]);
        fputc('\n', out);
    }
    /* The auth options come last in the table, so "auth:" was just opened (or, if they ever
     * move, is opened here). */
    if (!section || strncmp(section, "auth.", 5) != 0)
        fputs("auth:\n", out);
    fputs("  users:", out);
    fputs(cfg->nusers ? "\n" : " []\n", out);
    for (size_t i = 0; i < cfg->nusers; i++) {
        const struct config_user *u = &cfg->users[i];

        fputs("    - name: ", out);
        put_quoted(out, u->name ? u->name : "");
        fputs("\n      password_hash: \"<redacted>\"\n", out);
        if (u->admin)
            fputs("      admin: true\n", out);
        put_list(out, "scopes", u->scopes, u->nscopes);
        put_list(out, "customers", u->customers, u->ncustomers);
    }
}

void config_dump(const struct config *cfg)
{
    config_write(cfg, stdout);
    fflush(stdout);
}

static const char *type_word(const struct opt *o)
{
    switch (o->type) {
    case OPT_STRING:
        return "string";
    case OPT_BOOL:
        return "boolean";
    case OPT_UNSIGNED:
    case OPT_COUNT:
        return "integer";
    case OPT_SIZE:
        return "size";
    case OPT_DURATION:
        return "duration";
    case OPT_ENUM:
    case OPT_LOG_LEVEL:
        return "one of";
    }
    return "value";
}

void config_help(FILE *out)
{
    char var[NAME_MAX_LEN + 16], lo[32], hi[32];

    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &opts[i];
        const char *const *names = o->type == OPT_LOG_LEVEL ? level_names : o->names;

        env_name(o, var, sizeof(var));
        fprintf(out, "  %s (%s)\n      %s", o->name, var, type_word(o));
        if (o->type == OPT_ENUM || o->type == OPT_LOG_LEVEL)
            for (int j = 0; names[j]; j++)
                fprintf(out, "%s%s", j ? "|" : " ", names[j]);
        else if (o->type != OPT_STRING && o->type != OPT_BOOL)
            fprintf(out, " %s..%s", fmt_num(o->type, o->min, lo, sizeof(lo)),
                    fmt_num(o->type, o->max, hi, sizeof(hi)));
        /* `reloadable` marks what a future SIGHUP reload may change; nothing reloads yet. */
        fprintf(out, ", default %s\n      %s\n", o->def, o->help);
    }
    fprintf(out,
            "  %s (config file only)\n"
            "      list of {name, password_hash, scopes?, customers?, admin?}\n"
            "      HTTP Basic users; auth is on when there is at least one (or an API key).\n"
            "      scopes: Alerta scopes: read, write, admin, or read|write|delete|admin:resource\n"
            "        (alerts, blackouts, heartbeats, users, groups, perms, customers, keys,\n"
            "        webhooks, management, oembed, userinfo, filters, triggers, events,\n"
            "        notifications), optionally .type; default [read, write].\n"
            "      admin: true adds admin, read, write and lifts the customer restriction.\n"
            "      customers: with auth.customer_views, the customers the user sees (\"*\" =\n"
            "        all); required then for every user that is not an admin.\n"
            "      e.g. - {name: ops, password_hash: \"$argon2id$...\", scopes: [read,\n"
            "              write:alerts], customers: [acme]}\n",
            USERS_NAME);
}
