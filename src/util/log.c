#include "util/log.h"

#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static FILE *sink;

static const char *const names[] = {"debug", "info", "warn", "error", "off"};

void log_setup(enum log_level min, FILE *out)
{
    min_level = min;
    sink = out;
}

enum log_level log_min_level(void)
{
    return min_level;
}

int log_level_parse(const char *s)
{
    for (int i = 0; i <= LOG_OFF; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void log_emit(enum log_level lvl, const char *event, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    size_t n;
    int r;
    va_list ap;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(line + n, sizeof(line) - n, ".%03dZ level=%s event=%s", (int)(tv.tv_usec / 1000),
                 names[lvl], event);
    if (r > 0)
        n += (size_t)r;
    if (fmt && *fmt && n < sizeof(line) - 2) {
        line[n++] = ' ';
        va_start(ap, fmt);
        r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);
        if (r > 0)
            n += (size_t)r;
    }
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    if (write(fileno(sink ? sink : stderr), line, n) < 0)
        return;
}

const char *log_quote(char *dst, size_t dstlen, const char *s)
{
    size_t i = 0;
    int need = (*s == '\0');

    for (const char *p = s; *p && !need; p++)
        need = (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20);
    if (!need) {
        snprintf(dst, dstlen, "%s", s);
        return dst;
    }
    if (dstlen < 3) {
        if (dstlen)
            dst[0] = '\0';
        return dst;
    }
    dst[i++] = '"';
    for (const char *p = s; *p && i + 3 < dstlen; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            dst[i++] = '\\';
            dst[i++] = (char)c;
        } else if (c < 0x20) {
            dst[i++] = ' ';
        } else {
            dst[i++] = (char)c;
        }
    }
    dst[i++] = '"';
    dst[i] = '\0';
    return dst;
}
