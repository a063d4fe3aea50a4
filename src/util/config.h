/* The daemon's configuration. Each option is declared once in a table in config.c (name, type,
 * bounds, default, env var); the YAML file, the environment (TOCSIN_<NAME>, dots and dashes as
 * underscores, e.g. TOCSIN_NOTIFY_MAX_ATTEMPTS) and the command-line flags all go through it.
 * Precedence: defaults < file < environment < flags. */
#ifndef TOCSIN_CONFIG_H
#define TOCSIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum durability { DURABILITY_SYNC = 0, DURABILITY_BATCH, DURABILITY_NONE };

struct config_user {
    char *name;
    char *password_hash; /* argon2id string as printed by `tocsin passwd` */
    /* Optional (auth.users[i].scopes / .customers / .admin): */
    char **scopes;       /* Alerta scopes ("read", "write:alerts", ...); none = read, write */
    size_t nscopes;
    char **customers;    /* customers the user sees with auth.customer_views; "*" = all */
    size_t ncustomers;
    bool admin;          /* adds admin, read, write (Alerta's ADMIN_USERS); sees every customer */
};

struct config {
    /* server */
    char *listen;              /* "127.0.0.1:8072" */
    char *data_dir;            /* "./data" */
    bool insecure;             /* allow a non-loopback listen without auth */
    int log_level;             /* enum log_level */
    /* http / ws limits */
    size_t http_max_body;      /* bytes, default 1 MiB */
    size_t ws_max_frame;       /* bytes, default 1 MiB */
    size_t max_batch;          /* events or triggers per request/frame, default 10000 */
    unsigned max_connections;  /* default 1024 */
    /* auth */
    struct config_user *users; /* HTTP Basic users; auth is on when nusers > 0 */
    size_t nusers;
    bool customer_views;       /* auth.customer_views: restrict users and keys to customers */
    /* engine */
    int64_t resolve_after_ms;  /* default period of false evaluations before auto-resolve: 60 s */
    size_t engine_queue;       /* batches queued to the engine, default 4096 */
    size_t engine_queue_bytes; /* bytes of events queued to the engine, default 64 MiB */
    size_t max_keys_per_trigger; /* projection keys tracked per trigger, default 100000 */
    size_t max_triggers;       /* default 100000 */
    bool test_clock;           /* engine.test_clock: the engine clock moves only by POST
                                  /api/v1/admin/clock (black-box tests); never in production */
    /* alerts (Alerta's settings of the same meaning in brackets) */
    int64_t alert_timeout_ms;          /* [ALERT_TIMEOUT] default expiry, 1 d; 0: never */
    size_t alert_history_limit;        /* [HISTORY_LIMIT] 100 */
    bool alert_history_on_value;       /* [HISTORY_ON_VALUE_CHANGE] true */
    int64_t alert_delete_expired_ms;   /* [DELETE_EXPIRED_AFTER] 2 h; 0: never */
    int64_t alert_delete_info_ms;      /* [DELETE_INFO_AFTER] 12 h; 0: never */
    int64_t alert_shelve_timeout_ms;   /* [SHELVE_TIMEOUT] 2 h */
    int64_t alert_ack_timeout_ms;      /* [ACK_TIMEOUT] 0: never */
    size_t alert_max;                  /* retention bound on stored alerts */
    char *alert_severity_map;          /* [SEVERITY_MAP] "name=code,..."; "" = Alerta's */
    char *alert_trigger_env;           /* environment of the alerts triggers raise */
    unsigned readers;                  /* reader threads serving queries */
    /* heartbeats and blackouts (Alerta's settings in brackets) */
    int64_t heartbeat_timeout_ms;      /* [HEARTBEAT_TIMEOUT] a heartbeat sent without one, 1 d */
    int64_t heartbeat_max_latency_ms;  /* [HEARTBEAT_MAX_LATENCY] 2000 ms */
    bool notification_blackout;        /* [NOTIFICATION_BLACKOUT] false: drop (202) */
    char *blackout_accept;             /* [BLACKOUT_ACCEPT] "sev,sev"; "" = none */
    int64_t blackout_duration_ms;      /* [BLACKOUT_DURATION] 1 h */
    /* store */
    int durability;            /* enum durability, default batch */
    /* notify */
    unsigned notify_max_attempts;   /* default 30 */
    int64_t notify_backoff_base_ms; /* default 1 s */
    int64_t notify_backoff_max_ms;  /* default 1 min */
    int64_t notify_timeout_ms;      /* per attempt, default 10 s */
    unsigned notify_concurrency;    /* transfers in flight, default 64 */
    unsigned notify_threads;        /* notifier threads, default 2 */
    char *notify_files;             /* channel and rule files, "path,path" ("" none) */
    int64_t notify_keep_ms;         /* finished notifications kept this long, default 7 d */
    char *notify_base_url;          /* tocsin's external URL for links ("" none) */
};

/* Fills `cfg` with the defaults. */
void config_defaults(struct config *cfg);
/* Loads a YAML file over `cfg`. On error returns non-zero and writes "file:line: message" into
 * err. Unknown keys are errors. */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen);
/* Applies TOCSIN_* environment variables. Same error contract ("env TOCSIN_X: message"). */
int config_load_env(struct config *cfg, char *err, size_t errlen);
/* Sets one option by its dotted name ("notify.max_attempts") from text, as a flag would. */
int config_set(struct config *cfg, const char *name, const char *value, char *err, size_t errlen);
/* Cross-field checks (e.g. non-loopback listen needs users or insecure). */
int config_validate(const struct config *cfg, char *err, size_t errlen);
void config_free(struct config *cfg);
/* Writes the effective configuration as YAML (secrets shown as "<redacted>") to stdout. */
void config_dump(const struct config *cfg);

/* Parses "1500ms", "30s", "5m", "2h", "1d" or a bare number of ms. */
int config_parse_duration_ms(const char *s, int64_t *out);
/* Parses "1048576", "512k", "1m", "1g" (binary units). */
int config_parse_size(const char *s, size_t *out);
/* True if the host part of "host:port" is a loopback address or "localhost". */
bool config_listen_is_loopback(const char *listen);

/* ---- Added by the config module (declarations above are the original contract). ---- */

#define CONFIG_MAX_FILE_BYTES (1024 * 1024) /* a config file larger than this is refused */
#define CONFIG_MAX_USERS 1024               /* entries in auth.users */
#define CONFIG_USER_NAME_MAX 128            /* bytes in a user name */
#define CONFIG_HASH_MAX 127                 /* bytes in a password hash (libsodium STRBYTES - 1) */
#define CONFIG_USER_MAX_SCOPES 64           /* entries in auth.users[i].scopes */
#define CONFIG_USER_MAX_CUSTOMERS 16        /* entries in auth.users[i].customers */
#define CONFIG_CUSTOMER_NAME_MAX 128        /* bytes in a customer name */

/* Splits a listen address into host (brackets removed for IPv6) and port. The host must be an
 * IPv4 literal, "localhost" or a bracketed IPv6 literal; the port 0..65535. Returns 0 or
 * TOCSIN_EINVAL. `host` may be NULL. */
int config_listen_split(const char *listen, char *host, size_t hostlen, unsigned *port);
/* Checks one user entry: name non-empty, at most CONFIG_USER_NAME_MAX bytes, no ':' and no control
 * characters; password_hash an argon2id string ("$argon2id$...") shorter than 128 bytes. Returns 0
 * or TOCSIN_EINVAL with a message in err. */
int config_user_check(const char *name, const char *password_hash, char *err, size_t errlen);
/* For a reload: returns 0 if `next` differs from `cur` only in reloadable options (log.level,
 * engine.resolve_after, notify.max_attempts, notify.backoff_base, notify.backoff_max,
 * notify.timeout, auth.customer_views, auth.users), else TOCSIN_ECONFLICT naming the first
 * option that needs a restart. Both are borrowed. */
int config_reload_check(const struct config *cur, const struct config *next, char *err,
                        size_t errlen);
/* config_dump() to any stream (`out` borrowed). Without auth.users the output loads back with
 * config_load_file() to the same configuration (password hashes are written as "<redacted>"). */
void config_write(const struct config *cfg, FILE *out);
/* Writes every option (name, environment variable, type, bounds, default, reloadable, help). */
void config_help(FILE *out);

#endif
