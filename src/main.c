/* tocsin's command line: parses argv and runs one verb (serve, passwd, version, help). Everything
 * else lives in the library; this file owns only the process's exit code and the terminal. */
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libfyaml.h>
#include <libwebsockets.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sodium.h>
#include <sqlite3.h>

#include "daemon/daemon.h"
#include "net/auth.h"
#include "util/config.h"
#include "util/err.h"
#include "util/log.h"

#ifndef TOCSIN_VERSION
#define TOCSIN_VERSION "0.0.0-dev"
#endif

#define EXIT_USAGE 2
#define MAX_FLAGS 128     /* config-setting flags on one command line */
#define FLAG_NAME_MAX 80  /* longest option name in --set NAME=VALUE */
#define PASSWORD_MAX 1024 /* bytes in a password read by `tocsin passwd` */
#define ERR_MAX 1024

static const char usage_text[] =
    "usage: tocsin <verb> [options]\n"
    "\n"
    "verbs:\n"
    "  serve [options]    run the daemon\n"
    "  passwd [USER]      read a password from stdin and print its argon2id hash (and, with\n"
    "                     USER, an auth.users entry to paste into the config file)\n"
    "  version            print the versions of tocsin and of its libraries\n"
    "  help               print this text and every configuration option\n"
    "\n"
    "serve options:\n"
    "  --config FILE        read the YAML configuration FILE\n"
    "  --listen ADDR:PORT   address to listen on (default 127.0.0.1:8072)\n"
    "  --data DIR           state directory (default ./data)\n"
    "  --insecure           allow a non-loopback address without auth.users\n"
    "  --log-level LEVEL    debug, info, warn, error or off (default info)\n"
    "  --set NAME=VALUE     set any configuration option, e.g. --set notify.max_attempts=5\n"
    "                       (repeatable)\n"
    "  --check-config       validate the configuration, print \"configuration ok\" and exit\n"
    "  --dump-config        validate, print the effective configuration as YAML and exit\n"
    "\n"
    "Later sources win: defaults < --config file < TOCSIN_* environment < flags.\n"
    "The environment variable of an option is TOCSIN_ and its name in upper case with '.' and\n"
    "'-' as '_', e.g. TOCSIN_NOTIFY_MAX_ATTEMPTS=5.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "tocsin: <message>" and the usage on stderr; returns the usage exit code. */
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("tocsin: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n\n", stderr);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

/* ---- serve ---- */

struct flag {
    const char *option; /* as typed: "--listen", "--set" */
    char name[FLAG_NAME_MAX + 1];
    const char *value;
};

struct serve_args {
    const char *config_path;
    bool check, dump;
    struct flag flags[MAX_FLAGS];
    size_t nflags;
};

/* Matches argv[*i] against `name` ("--listen VALUE" or "--listen=VALUE"). Returns 1 and sets
 * *value on a match, 0 if it is another option, -1 if the value is missing. */
static int match_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t n = strlen(name);
    const char *arg = argv[*i];

    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

static int add_flag(struct serve_args *a, const char *option, const char *name, size_t namelen,
                    const char *value)
{
    struct flag *f;

    if (a->nflags >= MAX_FLAGS)
        return usage_error("too many options (at most %d)", MAX_FLAGS);
    if (namelen == 0 || namelen > FLAG_NAME_MAX)
        return usage_error("%s needs NAME=VALUE with a known option NAME", option);
    f = &a->flags[a->nflags++];
    f->option = option;
    memcpy(f->name, name, namelen);
    f->name[namelen] = '\0';
    f->value = value;
    return 0;
}

/* Flags that set one option: --listen, --data, --log-level, --set. Returns 1 if argv[*i] was one
 * (and recorded), 0 if not, or an exit code (> 1) on a usage error. */
static int parse_setting(int argc, char **argv, int *i, struct serve_args *a)
{
    static const struct {
        const char *flag, *option;
    } direct[] = {{"--listen", "listen"}, {"--data", "data"}, {"--log-level", "log.level"}};
    const char *v = NULL, *eq;
    int m;

    for (size_t k = 0; k < sizeof(direct) / sizeof(direct[0]); k++) {
        m = match_value(argc, argv, i, direct[k].flag, &v);
        if (m < 0)
            return usage_error("%s needs a value", direct[k].flag);
        if (m > 0) {
            m = add_flag(a, direct[k].flag, direct[k].option, strlen(direct[k].option), v);
            return m ? m : 1;
        }
    }
    m = match_value(argc, argv, i, "--set", &v);
    if (m < 0)
        return usage_error("%s needs NAME=VALUE", "--set");
    if (m == 0)
        return 0;
    eq = strchr(v, '=');
    if (!eq)
        return usage_error("--set needs NAME=VALUE, got '%s'", v);
    m = add_flag(a, "--set", v, (size_t)(eq - v), eq + 1);
    return m ? m : 1;
}

static int parse_serve_args(int argc, char **argv, struct serve_args *a)
{
    int rc;

    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];

        rc = parse_setting(argc, argv, &i, a);
        if (rc == 1)
            continue;
        if (rc > 1)
            return rc;
        rc = match_value(argc, argv, &i, "--config", &a->config_path);
        if (rc < 0)
            return usage_error("%s needs a file name", "--config");
        if (rc > 0)
            continue;
        if (strcmp(arg, "--insecure") == 0)
            rc = add_flag(a, arg, "insecure", strlen("insecure"), "true");
        else if (strcmp(arg, "--check-config") == 0)
            a->check = true;
        else if (strcmp(arg, "--dump-config") == 0)
            a->dump = true;
        else
            return usage_error("unknown option for serve: '%s'", arg);
        if (rc)
            return rc;
    }
    return 0;
}

/* defaults < file < environment < flags, then the cross-field checks. */
static int build_config(const struct serve_args *a, struct config *cfg, char *err, size_t errlen)
{
    char msg[ERR_MAX / 2];
    int rc;

    config_defaults(cfg);
    if (a->config_path) {
        rc = config_load_file(cfg, a->config_path, err, errlen);
        if (rc)
            return rc;
    }
    rc = config_load_env(cfg, err, errlen);
    if (rc)
        return rc;
    for (size_t i = 0; i < a->nflags; i++) {
        rc = config_set(cfg, a->flags[i].name, a->flags[i].value, msg, sizeof(msg));
        if (rc) {
            snprintf(err, errlen, "%s: %s", a->flags[i].option, msg);
            return rc;
        }
    }
    return config_validate(cfg, err, errlen);
}

static int cmd_serve(int argc, char **argv)
{
    static struct serve_args args; /* large (flags); one per process */
    struct config cfg;
    char err[ERR_MAX];
    int rc;

    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
    }
    rc = parse_serve_args(argc, argv, &args);
    if (rc)
        return rc;
    rc = build_config(&args, &cfg, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "%s\n", err);
        config_free(&cfg);
        return 1;
    }
    if (args.dump)
        config_dump(&cfg);
    if (args.check)
        fputs("configuration ok\n", args.dump ? stderr : stdout);
    if (args.check || args.dump) {
        config_free(&cfg);
        return 0;
    }
    log_setup((enum log_level)cfg.log_level, stderr);
    rc = daemon_run(&cfg);
    config_free(&cfg);
    return rc >= 0 && rc <= 255 ? rc : 1;
}

/* ---- passwd ---- */

static struct termios saved_tty; /* restored by the signal handler too */
static volatile sig_atomic_t tty_quiet;

static void restore_tty(void)
{
    if (tty_quiet) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
        tty_quiet = 0;
    }
}

static void on_signal(int sig)
{
    restore_tty();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Reads one line into pw (newline removed) with echo off on a terminal. Returns 0 or 1. */
static int read_line_quietly(const char *prompt, char *pw, size_t len)
{
    struct termios quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tty) == 0;
    char *nl;
    int rc = 0;

    if (tty) {
        fputs(prompt, stderr);
        quiet = saved_tty;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        tty_quiet = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
    if (!fgets(pw, (int)len, stdin)) {
        fputs("tocsin: no password on standard input\n", stderr);
        rc = 1;
    } else if (!(nl = strchr(pw, '\n')) && !feof(stdin)) {
        fprintf(stderr, "tocsin: password longer than %d bytes\n", PASSWORD_MAX - 2);
        rc = 1;
    }
    if (tty) {
        restore_tty();
        fputc('\n', stderr);
    }
    pw[strcspn(pw, "\r\n")] = '\0';
    return rc;
}

static int read_password(char *pw, size_t len)
{
    char again[PASSWORD_MAX];
    int rc = read_line_quietly("Password: ", pw, len);

    if (rc == 0 && pw[0] == '\0') {
        fputs("tocsin: refusing an empty password\n", stderr);
        rc = 1;
    }
    if (rc == 0 && isatty(STDIN_FILENO)) {
        rc = read_line_quietly("Again: ", again, sizeof(again));
        if (rc == 0 && strcmp(pw, again) != 0) {
            fputs("tocsin: the passwords do not match\n", stderr);
            rc = 1;
        }
        explicit_bzero(again, sizeof(again));
    }
    return rc;
}

static void put_yaml_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        putchar(*s);
    }
    putchar('"');
}

static int cmd_passwd(int argc, char **argv)
{
    const char *user = argc > 2 ? argv[2] : NULL;
    char pw[PASSWORD_MAX], hash[crypto_pwhash_STRBYTES], err[ERR_MAX];
    int rc;

    if (argc > 3 || (user && user[0] == '-'))
        return usage_error("passwd takes one optional argument, a user name");
    if (user && config_user_check(user, "$argon2id$", err, sizeof(err))) {
        fprintf(stderr, "tocsin: %s\n", err);
        return 1;
    }
    rc = read_password(pw, sizeof(pw));
    if (rc == 0 && auth_hash_password(pw, hash) != 0) {
        fputs("tocsin: hashing the password failed\n", stderr);
        rc = 1;
    }
    explicit_bzero(pw, sizeof(pw));
    if (rc)
        return rc;
    printf("%s\n", hash);
    if (user) {
        printf("\n# paste into the config file:\nauth:\n  users:\n    - name: ");
        put_yaml_string(user);
        printf("\n      password_hash: ");
        put_yaml_string(hash);
        putchar('\n');
    }
    return 0;
}

/* ---- version, help ---- */

static int cmd_version(void)
{
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);

    printf("tocsin %s\n", TOCSIN_VERSION);
    printf("libwebsockets %s\n", lws_get_library_version());
    printf("sqlite %s\n", sqlite3_libversion());
    printf("curl %s%s%s\n", curl->version, curl->ssl_version ? " " : "",
           curl->ssl_version ? curl->ssl_version : "");
    printf("jansson %s\n", JANSSON_VERSION);
    printf("pcre2 %d.%d\n", PCRE2_MAJOR, PCRE2_MINOR);
    printf("libsodium %s\n", sodium_version_string());
    printf("libfyaml %s\n", fy_library_version());
    return 0;
}

static int cmd_help(void)
{
    fputs(usage_text, stdout);
    fputs("\nconfiguration options (config file key, environment variable; --set NAME=VALUE):\n",
          stdout);
    config_help(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : "help";

    if (strcmp(verb, "help") == 0 || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0)
        return argc > 2 ? usage_error("help takes no arguments") : cmd_help();
    if (strcmp(verb, "serve") == 0)
        return cmd_serve(argc, argv);
    if (strcmp(verb, "passwd") == 0)
        return cmd_passwd(argc, argv);
    if (strcmp(verb, "version") == 0 || strcmp(verb, "--version") == 0)
        return argc > 2 ? usage_error("version takes no arguments") : cmd_version();
    return usage_error("unknown verb '%s'", verb);
}
