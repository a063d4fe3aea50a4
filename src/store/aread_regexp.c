/* The REGEXP SQL function of the read side: "subject REGEXP pattern" calls
 * regexp(pattern, subject), a case-insensitive PCRE2 search (Alerta's ~* and the ~ filters).
 *
 * A pattern comes from a URL, so it is hostile: it is at most AREAD_REGEX_MAX bytes, compiled
 * with a bounded nesting, and each match runs under a match limit (and depth and heap limits
 * when PCRE2 interprets it), so one row costs at most a few milliseconds whatever the pattern.
 * The whole statement is bounded in time by the caller (a progress handler, alert_read.c).
 * A pattern is compiled once per statement: SQLite keeps it as the argument's auxdata while the
 * argument is the same bound parameter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "store/aread_int.h"
#include "util/err.h"

#define RX_OPTIONS                                                                                 \
    (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_UCP | PCRE2_CASELESS | PCRE2_NEVER_BACKSLASH_C)
#define RX_PARENS_LIMIT 64

struct rx {
    pcre2_code *re;
    pcre2_match_data *md;
    pcre2_match_context *mc;
};

static void rx_free(void *p)
{
    struct rx *rx = p;

    if (!rx)
        return;
    pcre2_match_context_free(rx->mc);
    pcre2_match_data_free(rx->md);
    pcre2_code_free(rx->re);
    free(rx);
}

/* Compiles with the bounds of every pattern; NULL with a reason in msg. */
static pcre2_code *rx_compile(const char *pat, size_t len, char *msg, size_t msglen)
{
    pcre2_compile_context *cc;
    pcre2_code *re;
    PCRE2_SIZE off = 0;
    int code = 0;

    if (len > AREAD_REGEX_MAX) {
        snprintf(msg, msglen, "regular expression longer than %d bytes", AREAD_REGEX_MAX);
        return NULL;
    }
    cc = pcre2_compile_context_create(NULL);
    if (!cc) {
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    pcre2_set_max_pattern_length(cc, AREAD_REGEX_MAX);
    pcre2_set_parens_nest_limit(cc, RX_PARENS_LIMIT);
    re = pcre2_compile((PCRE2_SPTR)pat, len, RX_OPTIONS, &code, &off, cc);
    pcre2_compile_context_free(cc);
    if (!re) {
        PCRE2_UCHAR why[160];
        pcre2_get_error_message(code, why, sizeof(why));
        snprintf(msg, msglen, "invalid regular expression at offset %zu: %s", (size_t)off,
                 (const char *)why);
    }
    return re;
}

bool aread_regex_valid(const char *pat, char *msg, size_t msglen)
{
    pcre2_code *re = rx_compile(pat, strlen(pat), msg, msglen);

    pcre2_code_free(re);
    return re != NULL;
}

static struct rx *rx_new(const char *pat, size_t len, char *msg, size_t msglen)
{
    struct rx *rx = calloc(1, sizeof(*rx));

    if (!rx) {
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    rx->re = rx_compile(pat, len, msg, msglen);
    if (!rx->re) {
        rx_free(rx);
        return NULL;
    }
    pcre2_jit_compile(rx->re, PCRE2_JIT_COMPLETE); /* best effort: interpreted without JIT */
    rx->md = pcre2_match_data_create(1, NULL);     /* matched or not is all we need */
    rx->mc = pcre2_match_context_create(NULL);
    if (!rx->md || !rx->mc) {
        rx_free(rx);
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    pcre2_set_match_limit(rx->mc, AREAD_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(rx->mc, AREAD_REGEX_DEPTH_LIMIT);
    pcre2_set_heap_limit(rx->mc, AREAD_REGEX_HEAP_KIB);
    return rx;
}

/* The compiled pattern of this call site, compiled on first use in the statement. */
static struct rx *rx_get(sqlite3_context *ctx, sqlite3_value *patv)
{
    struct rx *rx = sqlite3_get_auxdata(ctx, 0);
    char msg[256], full[300];
    const char *pat;

    if (rx)
        return rx;
    pat = (const char *)sqlite3_value_text(patv);
    if (!pat) {
        sqlite3_result_error_nomem(ctx);
        return NULL;
    }
    rx = rx_new(pat, (size_t)sqlite3_value_bytes(patv), msg, sizeof(msg));
    if (!rx) {
        snprintf(full, sizeof(full), "%s%s", AREAD_REGEX_ERRPFX, msg);
        sqlite3_result_error(ctx, full, -1);
        return NULL;
    }
    /* SQLite may call rx_free at once (no memory); then there is nothing to keep. */
    sqlite3_set_auxdata(ctx, 0, rx, rx_free);
    rx = sqlite3_get_auxdata(ctx, 0);
    if (!rx)
        sqlite3_result_error_nomem(ctx);
    return rx;
}

static void regexp_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const unsigned char *subj;
    struct rx *rx;
    int rc;

    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
        return; /* NULL, as any comparison with NULL */
    rx = rx_get(ctx, argv[0]);
    if (!rx)
        return;
    subj = sqlite3_value_text(argv[1]);
    if (!subj) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    rc = pcre2_match(rx->re, subj, (PCRE2_SIZE)sqlite3_value_bytes(argv[1]), 0, 0, rx->md, rx->mc);
    if (rc >= 0) {
        sqlite3_result_int(ctx, 1);
    } else if (rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_PARTIAL) {
        sqlite3_result_int(ctx, 0);
    } else if (rc == PCRE2_ERROR_NOMEMORY) {
        sqlite3_result_error_nomem(ctx);
    } else {
        /* match, depth or heap limit, JIT stack: the pattern is too costly for this subject */
        sqlite3_result_error(ctx, AREAD_REGEX_ERRPFX "regular expression too complex", -1);
    }
}

int aread_regexp_register(sqlite3 *db)
{
    int rc = sqlite3_create_function(db, "regexp", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                     regexp_fn, NULL, NULL);

    return rc == SQLITE_OK ? TOCSIN_OK : TOCSIN_ESTORE;
}
