/*
 * tocsin-receiver: a fast loopback HTTP/1.1 receiver for the notification benchmark.
 *
 *   tocsin-receiver [--port 0] [--duration S] [--status 200] [--delay-ms 0]
 *                   [--max-requests N] [--max-conns 4096] [--max-body 16777216]
 *                   [--log FILE]
 *
 * One thread, epoll, keep-alive and pipelining, many connections. Every request (request line,
 * headers, a Content-Length or chunked body) is read, counted and answered `--status` with the
 * body "ok" (after --delay-ms, per response, without blocking other connections). Binds
 * 127.0.0.1 only; prints the bound port alone on the first line of stdout.
 *
 * Latency: a request carrying `X-Bench-Sent-Ns: <CLOCK_REALTIME ns>`, or else a body with a
 * JSON member "sent_ns": <ns> (number or string), adds now - sent to a log-linear histogram
 * (about 1.6 % resolution). A missing, empty or unparsable value is counted, not recorded.
 *
 * --log FILE appends one line per request to FILE, in the order the requests were read:
 *   <X-Tocsin-Notification> TAB <X-Bench-Tag> TAB <sent ns> TAB <received ns, CLOCK_REALTIME>
 * (header values cut to 128 bytes, "-" when absent; sent ns -1 when none). The notification
 * benchmark reads it to check the "receiver down, then back" run (every idempotency key once,
 * each alert's changes in order) and to split the latency by stage. Flushed on SIGUSR1/SIGUSR2
 * and exit.
 *
 * Ends on SIGTERM or SIGINT, after --duration seconds, or once --max-requests were answered, and
 * prints one JSON line on stdout (SIGUSR1 prints it and goes on; SIGUSR2 prints it and starts
 * every figure afresh, for a benchmark's next phase):
 *   {"count":N,"rps":R,"seconds":S,"latency_count":L,"p50_us":..,"p90_us":..,"p99_us":..,
 *    "max_us":..,"no_latency":M,"bad_requests":B,"conns":C}
 * count is requests answered; rps is count over the time from the first request to the last
 * (seconds); the percentiles are of the L latency samples (0 when none). Exit status 0, or 1 on
 * a setup error (one line on stderr), 2 on a usage error.
 *
 * Bounds: --max-conns connections (more are accepted and closed), 64 KiB of request head per
 * connection, --max-body per request (413 and close past it; a body larger than the connection's
 * buffer is read and discarded, with its latency taken from the header or the body's first
 * 64 KiB), 4 KiB of pending responses per connection (reading pauses past it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RX_IN_CAP ((size_t)64 * 1024)
#define RX_OUT_CAP ((size_t)4096)
#define RX_MAX_EVENTS 256
#define RX_MAX_DURATION 3600.0
#define RX_MAX_DELAY_MS 60000
#define RX_DEFAULT_CONNS 4096
#define RX_MAX_CONNS 65536
#define RX_DEFAULT_BODY ((long long)16 << 20)
#define NS_PER_S INT64_C(1000000000)
#define NS_PER_MS INT64_C(1000000)

/* Log-linear histogram of microseconds: values below 128 exactly, then 64 buckets per power of
 * two up to 2^63. */
#define H_LINEAR 128
#define H_SUB 64
#define H_BUCKETS (H_LINEAR + (63 - 7 + 1) * H_SUB)

struct hist {
    uint64_t n[H_BUCKETS];
    uint64_t count, max;
};

static size_t hist_index(uint64_t v)
{
    if (v < H_LINEAR)
        return (size_t)v;
    int e = 63 - __builtin_clzll(v); /* >= 7 */
    uint64_t mant = (v >> (e - 6)) & (H_SUB - 1);
    return H_LINEAR + (size_t)(e - 7) * H_SUB + (size_t)mant;
}

/* The middle of bucket i. */
static uint64_t hist_value(size_t i)
{
    if (i < H_LINEAR)
        return (uint64_t)i;
    size_t e = (i - H_LINEAR) / H_SUB + 7, mant = (i - H_LINEAR) % H_SUB;
    uint64_t lo = (uint64_t)(H_SUB + mant) << (e - 6), width = UINT64_C(1) << (e - 6);
    return lo + width / 2;
}

static void hist_add(struct hist *h, uint64_t v)
{
    h->n[hist_index(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

static uint64_t hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.5), seen = 0;
    if (rank < 1)
        rank = 1;
    for (size_t i = 0; i < H_BUCKETS; i++) {
        seen += h->n[i];
        if (seen >= rank) {
            uint64_t v = hist_value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* ---------------------------------------------------------------- options */

struct opts {
    long long port, status, delay_ms, max_requests, max_conns, max_body;
    double duration;
    const char *log_path; /* --log: one line per request, NULL for none */
};

static int parse_ll(const char *name, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "receiver: %s '%s': an integer in [%lld, %lld]\n", name, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_dbl(const char *name, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "receiver: %s '%s': a number in [%g, %g]\n", name, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static void usage(void)
{
    fputs("usage: tocsin-receiver [--port 0] [--duration S] [--status 200] [--delay-ms 0]\n"
          "                       [--max-requests N] [--max-conns 4096] [--max-body BYTES]\n"
          "                       [--log FILE]\n"
          "Listens on 127.0.0.1, prints the port, answers every request; on SIGTERM/SIGINT,\n"
          "after --duration or --max-requests prints a JSON summary line and exits.\n"
          "SIGUSR1 prints the summary line; SIGUSR2 prints it and resets every figure.\n",
          stderr);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc;

        if (!v) {
            fprintf(stderr, "receiver: %s needs a value\n", k);
            return -1;
        }
        if (strcmp(k, "--port") == 0)
            rc = parse_ll(k, v, 0, 65535, &o->port);
        else if (strcmp(k, "--status") == 0)
            rc = parse_ll(k, v, 200, 599, &o->status);
        else if (strcmp(k, "--delay-ms") == 0)
            rc = parse_ll(k, v, 0, RX_MAX_DELAY_MS, &o->delay_ms);
        else if (strcmp(k, "--max-requests") == 0)
            rc = parse_ll(k, v, 0, INT64_MAX, &o->max_requests);
        else if (strcmp(k, "--max-conns") == 0)
            rc = parse_ll(k, v, 1, RX_MAX_CONNS, &o->max_conns);
        else if (strcmp(k, "--max-body") == 0)
            rc = parse_ll(k, v, 0, INT64_MAX / 2, &o->max_body);
        else if (strcmp(k, "--duration") == 0)
            rc = parse_dbl(k, v, 0, RX_MAX_DURATION, &o->duration);
        else if (strcmp(k, "--log") == 0) {
            o->log_path = v;
            rc = 0;
        }
        else {
            fprintf(stderr, "receiver: unknown option '%s'\n", k);
            rc = -1;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- connections */

struct conn {
    int fd;
    bool closing;   /* close once out is written */
    bool waiting;   /* a delayed response is pending: parse nothing more */
    bool continued; /* "100 Continue" sent for the current request */
    bool in_skip;   /* discarding the rest of a body too big for in[] */
    bool skip_close;
    uint32_t events; /* the epoll interest now registered */
    size_t in_len, out_len, out_off;
    unsigned long long skip; /* body bytes still to discard */
    int64_t due_ns;          /* when the delayed response is due (CLOCK_MONOTONIC) */
    struct conn *dprev, *dnext; /* the FIFO of delayed responses */
    char in[RX_IN_CAP];
    char out[RX_OUT_CAP];
};

struct rx {
    struct opts o;
    int ep, lfd, sfd;
    char tag_listen, tag_signal; /* epoll data.ptr of the listener and the signalfd */
    size_t nconns, peak_conns;
    struct conn *dhead, *dtail;
    char resp[128];
    size_t resp_len;
    uint64_t count, bad, no_latency, negative;
    int64_t first_ns, last_ns;
    FILE *log; /* --log, or NULL */
    bool stop;
    struct hist h;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static const char *reason(long long status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 413:
        return "Content Too Large";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static void conn_watch(struct rx *rx, struct conn *c)
{
    uint32_t want = 0;

    if (!c->closing && !c->waiting && c->in_len < RX_IN_CAP && c->out_len < RX_OUT_CAP / 2)
        want |= EPOLLIN;
    if (c->out_len > c->out_off)
        want |= EPOLLOUT;
    if (want == c->events)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    if (epoll_ctl(rx->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = want;
}

static void delayed_unlink(struct rx *rx, struct conn *c)
{
    if (!c->waiting)
        return;
    if (c->dprev)
        c->dprev->dnext = c->dnext;
    else
        rx->dhead = c->dnext;
    if (c->dnext)
        c->dnext->dprev = c->dprev;
    else
        rx->dtail = c->dprev;
    c->dprev = c->dnext = NULL;
    c->waiting = false;
}

static void conn_close(struct rx *rx, struct conn *c)
{
    delayed_unlink(rx, c);
    epoll_ctl(rx->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
    rx->nconns--;
}

/* Appends bytes to c->out; false when they do not fit (the caller stops parsing). */
static bool out_put(struct conn *c, const char *p, size_t n)
{
    if (c->out_off > 0 && c->out_len + n > RX_OUT_CAP) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    if (c->out_len + n > RX_OUT_CAP)
        return false;
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return true;
}

static void put_status(struct conn *c, int status)
{
    char b[160];
    int n = snprintf(b, sizeof b,
                     "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status,
                     reason(status));
    if (n > 0)
        out_put(c, b, (size_t)n);
    c->closing = true;
}

/* Writes what c->out holds; -1 when the connection is gone. */
static int conn_flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        c->out_off += (size_t)w;
    }
    c->out_off = c->out_len = 0;
    return c->closing && !c->waiting ? -1 : 0;
}

/* ---------------------------------------------------------------- parsing */

static const char *find_crlf2(const char *p, size_t n)
{
    for (size_t i = 3; i < n; i++)
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
            return p + i + 1;
    return NULL;
}

static bool hname_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t t = strlen(tok);
    for (size_t i = 0; i + t <= n; i++)
        if (strncasecmp(v + i, tok, t) == 0)
            return true;
    return false;
}

/* Parses decimal digits in [p, p+n) after optional blanks and a quote; -1 if none. */
static int64_t parse_ns(const char *p, size_t n)
{
    size_t i = 0;
    int64_t v = 0;

    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '"'))
        i++;
    size_t start = i;
    while (i < n && p[i] >= '0' && p[i] <= '9' && i - start < 19)
        v = v * 10 + (p[i++] - '0');
    return i > start ? v : -1;
}

/* "sent_ns" : <digits> or "sent_ns":"<digits>" anywhere in the body; -1 if absent. */
static int64_t body_sent_ns(const char *b, size_t n)
{
    static const char key[] = "\"sent_ns\"";
    const size_t k = sizeof key - 1;

    for (size_t i = 0; i + k <= n; i++) {
        if (b[i] != '"' || memcmp(b + i, key, k) != 0)
            continue;
        size_t j = i + k;
        while (j < n && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r' || b[j] == '\n'))
            j++;
        if (j < n && b[j] == ':')
            return parse_ns(b + j + 1, n - j - 1);
    }
    return -1;
}

struct req {
    size_t head;  /* bytes of request line + headers */
    long long clen;
    bool chunked, close, expect, has_sent;
    int64_t sent_ns;
    const char *nkey, *tag; /* X-Tocsin-Notification, X-Bench-Tag values (in the head) or NULL */
    size_t nkey_len, tag_len;
};

/* Parses the head in c->in[0..end). 0, or an HTTP status to answer and close with. */
static int parse_head(const char *p, size_t end, struct req *r)
{
    const char *line_end = memchr(p, '\n', end);
    if (!line_end || line_end - p < 14)
        return 400;
    /* METHOD SP TARGET SP HTTP/1.x */
    const char *sp = memchr(p, ' ', (size_t)(line_end - p));
    if (!sp || sp == p)
        return 400;
    if (line_end - p >= 9 && memcmp(line_end - 9, "HTTP/1.0\r", 9) == 0)
        r->close = true; /* HTTP/1.0: close unless keep-alive (below) */
    else if (line_end - p < 9 || memcmp(line_end - 9, "HTTP/1.1\r", 9) != 0)
        return 400;
    bool http10 = r->close;

    const char *q = line_end + 1, *stop = p + end;
    while (q < stop) {
        const char *nl = memchr(q, '\n', (size_t)(stop - q));
        if (!nl)
            return 400;
        size_t len = (size_t)(nl - q);
        if (len > 0 && q[len - 1] == '\r')
            len--;
        if (len == 0)
            break;
        const char *colon = memchr(q, ':', len);
        if (!colon || colon == q)
            return 400;
        size_t nlen = (size_t)(colon - q), vlen = len - nlen - 1;
        const char *v = colon + 1;
        while (vlen > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }
        if (hname_is(q, nlen, "content-length")) {
            int64_t cl = parse_ns(v, vlen);
            if (cl < 0)
                return 400;
            r->clen = cl;
        } else if (hname_is(q, nlen, "transfer-encoding")) {
            r->chunked = has_token(v, vlen, "chunked");
        } else if (hname_is(q, nlen, "connection")) {
            if (has_token(v, vlen, "close"))
                r->close = true;
            else if (http10 && has_token(v, vlen, "keep-alive"))
                r->close = false;
        } else if (hname_is(q, nlen, "expect")) {
            r->expect = has_token(v, vlen, "100-continue");
        } else if (hname_is(q, nlen, "x-bench-sent-ns")) {
            r->sent_ns = parse_ns(v, vlen);
            r->has_sent = true;
        } else if (hname_is(q, nlen, "x-tocsin-notification")) {
            r->nkey = v;
            r->nkey_len = vlen;
        } else if (hname_is(q, nlen, "x-bench-tag")) {
            r->tag = v;
            r->tag_len = vlen;
        }
        q = nl + 1;
    }
    return 0;
}

/* The end of a chunked body starting at b (0 if incomplete, SIZE_MAX if malformed). */
static size_t chunked_end(const char *b, size_t n)
{
    size_t i = 0;

    for (;;) {
        const char *nl = memchr(b + i, '\n', n - i);
        if (!nl)
            return 0;
        unsigned long long size = 0;
        size_t j = i, digits = 0;
        for (; j < n && b[j] != ';' && b[j] != '\r' && b[j] != '\n'; j++, digits++) {
            int d = b[j] >= '0' && b[j] <= '9'   ? b[j] - '0'
                    : b[j] >= 'a' && b[j] <= 'f' ? b[j] - 'a' + 10
                    : b[j] >= 'A' && b[j] <= 'F' ? b[j] - 'A' + 10
                                                 : -1;
            if (d < 0 || digits >= 15)
                return SIZE_MAX;
            size = size * 16 + (unsigned)d;
        }
        if (digits == 0)
            return SIZE_MAX;
        i = (size_t)(nl - b) + 1;
        if (size == 0) { /* trailers up to an empty line */
            for (;;) {
                const char *e = memchr(b + i, '\n', n - i);
                if (!e)
                    return 0;
                size_t len = (size_t)(e - (b + i));
                i = (size_t)(e - b) + 1;
                if (len == 0 || (len == 1 && b[i - 2] == '\r'))
                    return i;
            }
        }
        if (size + 2 > n - i)
            return 0;
        i += (size_t)size + 2;
    }
}

static void record(struct rx *rx, const struct req *r, const char *body, size_t blen)
{
    int64_t sent = r->has_sent ? r->sent_ns : body_sent_ns(body, blen);
    int64_t now = mono_ns();

    rx->count++;
    if (rx->log)
        fprintf(rx->log, "%.*s\t%.*s\t%" PRId64 "\t%" PRId64 "\n",
                r->nkey ? (int)(r->nkey_len < 128 ? r->nkey_len : 128) : 1,
                r->nkey ? r->nkey : "-", r->tag ? (int)(r->tag_len < 128 ? r->tag_len : 128) : 1,
                r->tag ? r->tag : "-", sent > 0 ? sent : -1, wall_ns());
    if (rx->first_ns == 0)
        rx->first_ns = now;
    rx->last_ns = now;
    if (sent <= 0) {
        rx->no_latency++;
        return;
    }
    int64_t d = wall_ns() - sent;
    if (d < 0) {
        rx->negative++;
        d = 0;
    }
    hist_add(&rx->h, (uint64_t)d / 1000);
}

static void answer(struct rx *rx, struct conn *c, bool close_after)
{
    c->continued = false;
    if (close_after)
        c->closing = true;
    if (rx->o.delay_ms > 0) {
        c->waiting = true;
        c->due_ns = mono_ns() + rx->o.delay_ms * NS_PER_MS;
        c->dprev = rx->dtail;
        c->dnext = NULL;
        if (rx->dtail)
            rx->dtail->dnext = c;
        else
            rx->dhead = c;
        rx->dtail = c;
        return;
    }
    out_put(c, rx->resp, rx->resp_len);
}

static void consume(struct conn *c, size_t n)
{
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

static bool done_enough(const struct rx *rx)
{
    return rx->o.max_requests > 0 && rx->count >= (uint64_t)rx->o.max_requests;
}

/* Parses and answers every complete request in c->in. */
static void conn_process(struct rx *rx, struct conn *c)
{
    while (!c->closing && !c->waiting && !done_enough(rx)) {
        if (c->in_skip) {
            size_t drop = c->skip < c->in_len ? (size_t)c->skip : c->in_len;
            consume(c, drop);
            c->skip -= drop;
            if (c->skip > 0)
                return;
            c->in_skip = false;
            answer(rx, c, c->skip_close);
            continue;
        }
        if (c->out_len + rx->resp_len > RX_OUT_CAP)
            return; /* the answers written so far must drain first */
        const char *he = find_crlf2(c->in, c->in_len);
        if (!he) {
            if (c->in_len == RX_IN_CAP) {
                rx->bad++;
                put_status(c, 431);
            }
            return;
        }
        struct req r = {.head = (size_t)(he - c->in)};
        int bad = parse_head(c->in, r.head, &r);
        if (bad) {
            rx->bad++;
            put_status(c, bad);
            return;
        }
        size_t total;
        if (r.chunked) {
            size_t e = chunked_end(c->in + r.head, c->in_len - r.head);
            if (e == SIZE_MAX || (e == 0 && c->in_len == RX_IN_CAP)) {
                rx->bad++;
                put_status(c, e == SIZE_MAX ? 400 : 413);
                return;
            }
            if (e == 0)
                goto more;
            total = r.head + e;
        } else if (r.clen > rx->o.max_body) {
            rx->bad++;
            put_status(c, 413);
            return;
        } else if ((unsigned long long)r.clen > RX_IN_CAP - r.head) {
            /* too big to hold: latency from what is here, discard the rest as it comes */
            size_t have = c->in_len - r.head;
            record(rx, &r, c->in + r.head, have);
            c->skip = (unsigned long long)r.clen - have;
            c->skip_close = r.close;
            c->in_skip = true;
            c->in_len = 0;
            if (r.expect && !c->continued)
                out_put(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            c->continued = true;
            continue;
        } else {
            total = r.head + (size_t)r.clen;
            if (total > c->in_len)
                goto more;
        }
        record(rx, &r, c->in + r.head, total - r.head);
        consume(c, total);
        answer(rx, c, r.close);
        continue;
    more:
        if (r.expect && !c->continued && c->in_len == r.head) {
            out_put(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            c->continued = true;
        }
        return;
    }
}

/* Answers the requests c->in holds and writes the answers, until every one is answered, the
 * socket would block, or a delayed answer holds the connection. -1: close it. */
static int conn_pump(struct rx *rx, struct conn *c)
{
    for (;;) {
        size_t in_len = c->in_len;
        uint64_t count = rx->count;
        bool skip = c->in_skip;

        conn_process(rx, c);
        if (conn_flush(c) < 0)
            return -1;
        if (c->out_len > 0 || c->waiting || c->closing)
            return 0;
        if (c->in_len == in_len && rx->count == count && c->in_skip == skip)
            return 0; /* nothing more to do without more bytes */
    }
}

/* Reads what the socket has and answers it; -1 when the connection is over. */
static int conn_read(struct rx *rx, struct conn *c)
{
    while (c->in_len < RX_IN_CAP) {
        ssize_t n = recv(c->fd, c->in + c->in_len, RX_IN_CAP - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            if (conn_pump(rx, c) < 0)
                return -1;
            if (c->out_len > 0 || c->waiting || c->closing)
                return 0; /* reading resumes when the answers are out */
            continue;
        }
        if (n == 0)
            return -1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
    return 0;
}

static void on_conn(struct rx *rx, struct conn *c, uint32_t events)
{
    if ((events & EPOLLOUT) && conn_pump(rx, c) < 0) {
        conn_close(rx, c);
        return;
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && conn_read(rx, c) < 0) {
        conn_close(rx, c);
        return;
    }
    conn_watch(rx, c);
}

static void on_accept(struct rx *rx)
{
    for (;;) {
        int fd = accept4(rx->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a transient error: epoll says again */
        if (rx->nconns >= (size_t)rx->o.max_conns || done_enough(rx)) {
            close(fd);
            continue;
        }
        struct conn *c = malloc(sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        memset(c, 0, offsetof(struct conn, in));
        c->fd = fd;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(rx->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->events = EPOLLIN;
        rx->nconns++;
        if (rx->nconns > rx->peak_conns)
            rx->peak_conns = rx->nconns;
    }
}

/* Sends the delayed responses that are due; returns ms until the next one (-1: none). */
static int run_delayed(struct rx *rx)
{
    int64_t now = mono_ns();

    while (rx->dhead && rx->dhead->due_ns <= now) {
        struct conn *c = rx->dhead;
        delayed_unlink(rx, c);
        out_put(c, rx->resp, rx->resp_len);
        if (conn_pump(rx, c) < 0) {
            conn_close(rx, c);
            continue;
        }
        conn_watch(rx, c);
    }
    if (!rx->dhead)
        return -1;
    return (int)((rx->dhead->due_ns - now + NS_PER_MS - 1) / NS_PER_MS);
}

/* ---------------------------------------------------------------- main */

static int setup(struct rx *rx)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)rx->o.port)};
    socklen_t slen = sizeof sa;
    sigset_t set;
    int one = 1;

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)rx->o.max_conns + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)rx->o.max_conns + 64 ? rl.rlim_max
                                                                 : (rlim_t)rx->o.max_conns + 64;
        setrlimit(RLIMIT_NOFILE, &rl); /* best effort: --max-conns is the bound that counts */
    }
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rx->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (rx->lfd < 0 || setsockopt(rx->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(rx->lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(rx->lfd, 4096) < 0 ||
        getsockname(rx->lfd, (struct sockaddr *)&sa, &slen) < 0) {
        fprintf(stderr, "receiver: listen on 127.0.0.1:%lld: %s\n", rx->o.port, strerror(errno));
        return -1;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (rx->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
        (rx->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        fprintf(stderr, "receiver: setup: %s\n", strerror(errno));
        return -1;
    }
    struct epoll_event el = {.events = EPOLLIN, .data.ptr = &rx->tag_listen};
    struct epoll_event es = {.events = EPOLLIN, .data.ptr = &rx->tag_signal};
    if (epoll_ctl(rx->ep, EPOLL_CTL_ADD, rx->lfd, &el) < 0 ||
        epoll_ctl(rx->ep, EPOLL_CTL_ADD, rx->sfd, &es) < 0) {
        fprintf(stderr, "receiver: epoll: %s\n", strerror(errno));
        return -1;
    }
    int n = snprintf(rx->resp, sizeof rx->resp,
                     "HTTP/1.1 %lld %s\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
                     rx->o.status, reason(rx->o.status));
    if (n < 0 || (size_t)n >= sizeof rx->resp)
        return -1;
    rx->resp_len = (size_t)n;
    printf("%u\n", (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
    return 0;
}

static void summary(const struct rx *rx)
{
    double secs = rx->count > 1 ? (double)(rx->last_ns - rx->first_ns) / 1e9 : 0;
    double rps = secs > 0 ? (double)(rx->count - 1) / secs : 0;

    printf("{\"count\":%" PRIu64 ",\"rps\":%.0f,\"seconds\":%.3f,\"latency_count\":%" PRIu64
           ",\"p50_us\":%" PRIu64 ",\"p90_us\":%" PRIu64 ",\"p99_us\":%" PRIu64
           ",\"max_us\":%" PRIu64 ",\"no_latency\":%" PRIu64 ",\"negative\":%" PRIu64
           ",\"bad_requests\":%" PRIu64 ",\"conns\":%zu}\n",
           rx->count, rps, secs, rx->h.count, hist_quantile(&rx->h, 0.50),
           hist_quantile(&rx->h, 0.90), hist_quantile(&rx->h, 0.99), rx->h.max, rx->no_latency,
           rx->negative, rx->bad, rx->peak_conns);
    fflush(stdout);
    if (rx->log)
        fflush(rx->log);
}

static void on_signal(struct rx *rx)
{
    struct signalfd_siginfo si;

    while (read(rx->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGUSR2) {
            summary(rx);
            if (si.ssi_signo == SIGUSR2) { /* a phase ends: start counting afresh */
                rx->count = rx->bad = rx->no_latency = rx->negative = 0;
                rx->first_ns = rx->last_ns = 0;
                rx->peak_conns = rx->nconns;
                memset(&rx->h, 0, sizeof rx->h);
            }
        } else {
            rx->stop = true;
        }
    }
}

static void loop(struct rx *rx)
{
    struct epoll_event evs[RX_MAX_EVENTS];
    int64_t end = rx->o.duration > 0 ? mono_ns() + (int64_t)(rx->o.duration * 1e9) : 0;

    while (!rx->stop) {
        int timeout = run_delayed(rx);
        if (end) {
            int64_t left = end - mono_ns();
            if (left <= 0)
                break;
            int lms = (int)((left + NS_PER_MS - 1) / NS_PER_MS);
            if (timeout < 0 || lms < timeout)
                timeout = lms;
        }
        if (done_enough(rx) && !rx->dhead)
            break;
        int n = epoll_wait(rx->ep, evs, RX_MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "receiver: epoll_wait: %s\n", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &rx->tag_listen)
                on_accept(rx);
            else if (p == &rx->tag_signal)
                on_signal(rx);
            else
                on_conn(rx, p, evs[i].events);
        }
    }
}

int main(int argc, char **argv)
{
    static struct rx rx; /* the histogram is 30 KiB: not on the stack */

    rx.o = (struct opts){.status = 200,
                         .max_conns = RX_DEFAULT_CONNS,
                         .max_body = RX_DEFAULT_BODY};
    rx.lfd = rx.sfd = rx.ep = -1;
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage();
        return 0;
    }
    if (parse_opts(argc, argv, &rx.o) < 0) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (rx.o.log_path && !(rx.log = fopen(rx.o.log_path, "a"))) {
        fprintf(stderr, "receiver: --log %s: %s\n", rx.o.log_path, strerror(errno));
        return 1;
    }
    if (setup(&rx) < 0)
        return 1;
    loop(&rx);
    summary(&rx);
    if (rx.log && fclose(rx.log) != 0) {
        fprintf(stderr, "receiver: --log %s: %s\n", rx.o.log_path, strerror(errno));
        return 1;
    }
    return 0;
}
