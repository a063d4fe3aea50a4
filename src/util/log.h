/* Structured key=value logging. Lines look like
 *   ts=2026-11-24T05:44:27.123Z level=info event=trigger_saved trigger=abc
 * The level is checked before any formatting. Only the edges log; the core returns errors.
 * Values that may contain spaces or quotes go through log_quote(). Never log secrets. */
#ifndef TOCSIN_LOG_H
#define TOCSIN_LOG_H

#include <stddef.h>
#include <stdio.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

/* Process-wide sink; set once at start-up before threads exist. `out` is borrowed. */
void log_setup(enum log_level min, FILE *out);
enum log_level log_min_level(void);
/* Parses "debug|info|warn|error|off"; returns -1 if unknown. */
int log_level_parse(const char *s);

/* `event` is a short snake_case word; `fmt` appends " k=v k=v". Thread-safe (one write(2)). */
void log_emit(enum log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define tlog(lvl, event, ...)                                                                      \
    do {                                                                                           \
        if ((lvl) >= log_min_level())                                                              \
            log_emit((lvl), (event), __VA_ARGS__);                                                 \
    } while (0)
#define log_debug(ev, ...) tlog(LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...) tlog(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) tlog(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) tlog(LOG_ERROR, ev, __VA_ARGS__)

/* Writes `s` as a log value into `dst` (quoted and escaped when it needs to be, cut to fit).
 * Returns dst. */
const char *log_quote(char *dst, size_t dstlen, const char *s);

#endif
