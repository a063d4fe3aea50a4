/*
 * tocsin-loadgen: the load generator behind bench/run.sh.
 *
 * One file, libc + pthread + libm only, so it builds without the daemon's dependencies.
 * Subcommands (run `tocsin-loadgen` alone for the options):
 *   ws        stream Gravitee AE events over raw-socket WebSocket clients to /ws/events
 *   http      POST arrays of events over keep-alive HTTP/1.1 to /http/events
 *   triggers  register THRESHOLD triggers through POST /http/triggers (arrays of 100)
 *   latency   event -> webhook latency, with a webhook receiver in this process
 *   alerts    Alerta alerts: single POST /alerta/alert over N keep-alive connections (new, dup,
 *             corr), arrays to POST /api/v1/alerts (batch, fill), GET /alerta/alerts (query)
 *   stats     the daemon's GET /api/v1/stats as key=value
 *   rss       VmRSS of a process, in MiB
 *   freeport  a loopback TCP port that was free a moment ago (for run.sh)
 *
 * Limits: loopback targets only (127.0.0.0/8 or "localhost"), at most 60 s of load per run,
 * at most 64 connections, batches of at most 1000 events or alerts, every socket read and write
 * times out after 10 s. Results are one key=value line on stdout; an error is one line on stderr
 * and a non-zero exit status (1 error, 2 usage, 3 the daemon did not catch up within 30 s).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define LG_MAX_CONNS 64
#define LG_MAX_BATCH 1000
#define LG_MAX_DURATION 60.0
#define LG_DEFAULT_DURATION 10.0
#define LG_POOL_SIZE ((size_t)4000)
#define LG_RT_RANGE 2000 /* response.response_time is 0..1999 */
#define LG_API_COUNT 10
#define LG_SENDBUF ((size_t)64 * 1024)
#define LG_RDBUF ((size_t)64 * 1024)
/* Kernel send buffer per connection (Linux doubles it). Left to autotuning, loopback grows it to
 * ~4 MB: tens of thousands of events in flight, runs that end seconds after --duration, and
 * POLLOUT only after megabytes are read. */
#define LG_SOCK_SNDBUF (128 * 1024)
#define LG_BODY_MAX ((size_t)16 << 20)
#define LG_STR_MAX 512 /* longest string option */
#define LG_IO_TIMEOUT_MS 10000
#define LG_CONNECT_TIMEOUT_MS 5000
#define LG_DRAIN_TIMEOUT_MS 30000
#define LG_GRACE_MS 5000
#define LG_TRIGGER_CHUNK 100
#define LG_MAX_TRIGGERS 100000
#define LG_RX_MAX_CLIENTS 64
#define LG_RX_BUF ((size_t)16 * 1024)
#define LG_WS_HEAD_MAX ((size_t)14)
#define LG_ALERT_VARIANTS ((size_t)4096)       /* pre-rendered alert tails */
#define LG_HEAD_MAX ((size_t)LG_STR_MAX + 128) /* an alert's head: resource and instance */
#define LG_ALERT_CONNS 50                      /* single-alert modes */
#define LG_LATE_MS 10 /* paced: a request sent later than this after its time counts as late */
#define LG_ALERT_BATCH_CONNS 4                 /* batch and fill */
#define LG_ALERT_KEYS 4000                     /* dup and corr */
#define LG_MAX_KEYS 1000000
#define LG_MAX_LABELS 5
#define LG_LAT_MAX ((size_t)4 << 20) /* latency samples kept per run (32 MiB at most) */
#define LG_QUERY_DEFAULT "status=open&page-size=50"
#define LG_DEFAULT_QUERIES 100
#define LG_MAX_QUERIES 100000
#define NS_PER_S INT64_C(1000000000)
#define NS_PER_MS INT64_C(1000000)

/* ---------------------------------------------------------------- errors, time, random */

/* The last error of the calling thread; set by fail(), read by whoever reports it. */
static _Thread_local char lg_err[256];

/* The arguments may include lg_err itself (the cause, prefixed with where it happened): the
 * message is built apart and then copied in. */
__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    char msg[sizeof lg_err];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(lg_err, msg, sizeof msg);
    return -1;
}

/* A short printable excerpt of untrusted bytes for an error message. */
static const char *excerpt(char *dst, size_t cap, const void *src, size_t n)
{
    const unsigned char *p = src;
    size_t o = 0;

    for (size_t i = 0; i < n && o + 1 < cap; i++)
        dst[o++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '.';
    dst[o] = '\0';
    return dst;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static long long wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_until_ns(int64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / NS_PER_S), .tv_nsec = (long)(t % NS_PER_S)};

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static void sleep_ms(int ms)
{
    sleep_until_ns(now_ns() + ms * NS_PER_MS);
}

/* xorshift64*: fast, per thread, good enough for masks and test data (not for secrets). */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

static uint64_t rng_seed(void)
{
    uint64_t s = 0;

    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
        s = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
    return s ? s : UINT64_C(0x9E3779B97F4A7C15);
}

/* ---------------------------------------------------------------- bounded string buffer */

/* Growable, NUL-terminated, never longer than `max`. Owner frees with sb_free(). */
struct sbuf {
    char *p;
    size_t len, cap, max;
};

static void sb_init(struct sbuf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

static void sb_free(struct sbuf *b)
{
    free(b->p);
    sb_init(b, b->max);
}

static int sb_reserve(struct sbuf *b, size_t extra)
{
    size_t want = b->len + extra + 1, cap = b->cap ? b->cap : 256;
    char *np;

    if (extra > b->max || b->len + extra > b->max)
        return fail("buffer limit of %zu bytes reached", b->max);
    if (want <= b->cap)
        return 0;
    while (cap < want)
        cap *= 2;
    np = realloc(b->p, cap);
    if (!np)
        return fail("out of memory (%zu bytes)", cap);
    b->p = np;
    b->cap = cap;
    return 0;
}

static int sb_add(struct sbuf *b, const void *d, size_t n)
{
    if (sb_reserve(b, n) < 0)
        return -1;
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int sb_puts(struct sbuf *b, const char *s)
{
    return sb_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static int sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sb_reserve(b, (size_t)n) < 0)
        return n < 0 ? fail("bad format") : -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* Appends `s` as a quoted JSON string. */
static int sb_json_str(struct sbuf *b, const char *s)
{
    int rc = sb_add(b, "\"", 1);

    for (; rc == 0 && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rc = sb_printf(b, "\\%c", c);
        else if (c < 0x20)
            rc = sb_printf(b, "\\u%04x", c);
        else
            rc = sb_add(b, s, 1);
    }
    return rc == 0 ? sb_add(b, "\"", 1) : rc;
}

/* ---------------------------------------------------------------- options */

struct opts {
    const char *host;
    long long port, conns, count, batch, webhook_port, pid;
    double duration, rate, fire_ratio, threshold; /* threshold NAN = derive from fire_ratio */
    const char *webhook, *source, *id_prefix;
    const char *mode, *query, *path;      /* alerts */
    long long keys, labels, seed, offset; /* alerts */
    const char *event;                    /* alerts --mode paced */
    long long first_seq;                  /* alerts --mode paced */
};

enum opt_kind { OPT_INT, OPT_DBL, OPT_STR };

struct opt_def {
    const char *name;
    enum opt_kind kind;
    void *dst;
    double min, max;
};

static int opt_set(const struct opt_def *d, const char *v)
{
    char *end = NULL;
    double x;
    long long i;

    if (d->kind == OPT_STR) {
        if (strlen(v) > LG_STR_MAX)
            return fail("%s: longer than %d characters", d->name, LG_STR_MAX);
        *(const char **)d->dst = v;
        return 0;
    }
    errno = 0;
    if (d->kind == OPT_INT) {
        i = strtoll(v, &end, 10);
        x = (double)i;
    } else {
        x = strtod(v, &end);
        i = 0;
    }
    if (errno || end == v || *end != '\0' || !isfinite(x) || x < d->min || x > d->max)
        return fail("%s: '%s' is not a number in [%g, %g]", d->name, v, d->min, d->max);
    if (d->kind == OPT_INT)
        *(long long *)d->dst = i;
    else
        *(double *)d->dst = x;
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    const struct opt_def defs[] = {
        {"--host", OPT_STR, &o->host, 0, 0},
        {"--port", OPT_INT, &o->port, 1, 65535},
        {"--conns", OPT_INT, &o->conns, 1, LG_MAX_CONNS},
        {"--duration", OPT_DBL, &o->duration, 0.1, LG_MAX_DURATION},
        {"--count", OPT_INT, &o->count, 1, 1e9},
        {"--batch", OPT_INT, &o->batch, 1, LG_MAX_BATCH},
        {"--rate", OPT_DBL, &o->rate, 1, 1e7},
        {"--fire-ratio", OPT_DBL, &o->fire_ratio, 0, 1},
        {"--threshold", OPT_DBL, &o->threshold, -1e9, 1e9},
        {"--webhook", OPT_STR, &o->webhook, 0, 0},
        {"--source", OPT_STR, &o->source, 0, 0},
        {"--id-prefix", OPT_STR, &o->id_prefix, 0, 0},
        {"--webhook-port", OPT_INT, &o->webhook_port, 0, 65535},
        {"--pid", OPT_INT, &o->pid, 1, INT_MAX},
        {"--mode", OPT_STR, &o->mode, 0, 0},
        {"--query", OPT_STR, &o->query, 0, 0},
        {"--path", OPT_STR, &o->path, 0, 0},
        {"--keys", OPT_INT, &o->keys, 1, LG_MAX_KEYS},
        {"--labels", OPT_INT, &o->labels, 0, LG_MAX_LABELS},
        {"--seed", OPT_INT, &o->seed, 0, 1e15},
        {"--offset", OPT_INT, &o->offset, 0, 1e15},
        {"--event", OPT_STR, &o->event, 0, 0},
        {"--first-seq", OPT_INT, &o->first_seq, 0, 1e15},
    };
    const size_t ndefs = sizeof defs / sizeof defs[0];

    for (int i = 2; i < argc; i += 2) {
        size_t k = 0;
        while (k < ndefs && strcmp(argv[i], defs[k].name) != 0)
            k++;
        if (k == ndefs)
            return fail("unknown option '%s'", argv[i]);
        if (i + 1 >= argc)
            return fail("%s needs a value", argv[i]);
        if (opt_set(&defs[k], argv[i + 1]) < 0)
            return -1;
    }
    return 0;
}

/* The run's end: --duration if given, else 60 s when only --count bounds it, else 10 s. */
static double run_seconds(const struct opts *o)
{
    if (o->duration > 0)
        return o->duration;
    return o->count > 0 ? LG_MAX_DURATION : LG_DEFAULT_DURATION;
}

static int need_port(const struct opts *o)
{
    return o->port > 0 ? 0 : fail("--port is required");
}

/* ---------------------------------------------------------------- sockets */

static int loopback_addr(const char *host, long long port, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return fail("--host '%s' is not an IPv4 address", host);
    if ((ntohl(sa->sin_addr.s_addr) >> 24) != 127)
        return fail("refusing non-loopback host %s: the bench only targets 127.0.0.0/8", host);
    return 0;
}

/* poll() one fd for `events`, restarting on EINTR. >0 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int timeout_ms)
{
    int64_t deadline = now_ns() + timeout_ms * NS_PER_MS;

    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
        int64_t left = (deadline - now_ns()) / NS_PER_MS;
        int r = poll(&pfd, 1, left > 0 ? (int)left : 0);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

static int sock_setup(int fd)
{
    struct timeval tv = {.tv_sec = LG_IO_TIMEOUT_MS / 1000, .tv_usec = 0};
    int one = 1, sndbuf = LG_SOCK_SNDBUF, fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
        return fail("fcntl: %s", strerror(errno));
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        return fail("setsockopt: %s", strerror(errno));
    return 0;
}

/* A blocking TCP socket with 10 s read/write timeouts, a bounded send buffer and TCP_NODELAY,
 * or -1. */
static int tcp_connect(const char *host, long long port)
{
    struct sockaddr_in sa;
    int fd = -1, ok = 0, soerr = 0;
    socklen_t sl = sizeof soerr;

    if (loopback_addr(host, port, &sa) < 0)
        return -1;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        fail("socket: %s", strerror(errno));
        goto out;
    }
    if (connect(fd, (const struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        fail("connect %s:%lld: %s", host, port, strerror(errno));
        goto out;
    }
    if (wait_fd(fd, POLLOUT, LG_CONNECT_TIMEOUT_MS) <= 0) {
        fail("connect %s:%lld: timed out", host, port);
        goto out;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
        fail("connect %s:%lld: %s", host, port, strerror(soerr ? soerr : errno));
        goto out;
    }
    ok = sock_setup(fd) == 0;
out:
    if (!ok && fd >= 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Writes all of p on a blocking socket (SO_SNDTIMEO bounds each wait). */
static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w > 0) {
            c += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return fail("write timed out after %d ms", LG_IO_TIMEOUT_MS);
        } else {
            return fail("send: %s", w < 0 ? strerror(errno) : "wrote nothing");
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- buffered reader */

/* Bytes buf[start, end) are read and not yet consumed. Owner frees with rd_free(). */
struct rd {
    int fd;
    unsigned char *buf;
    size_t cap, start, end;
};

#define RD_EOF (-2)

static int rd_init(struct rd *r, int fd, size_t cap)
{
    r->fd = fd;
    r->cap = cap;
    r->start = r->end = 0;
    r->buf = malloc(cap);
    return r->buf ? 0 : fail("out of memory");
}

static void rd_free(struct rd *r)
{
    free(r->buf);
    r->buf = NULL;
}

static size_t rd_avail(const struct rd *r)
{
    return r->end - r->start;
}

/* Reads more. 1 got bytes, 0 nothing yet (MSG_DONTWAIT only), -1 error, RD_EOF peer closed. */
static int rd_fill(struct rd *r, int flags)
{
    if (r->start == r->end)
        r->start = r->end = 0;
    if (r->end == r->cap && r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->cap)
        return fail("message larger than the %zu-byte read buffer", r->cap);
    for (;;) {
        ssize_t n = recv(r->fd, r->buf + r->end, r->cap - r->end, flags);
        if (n > 0) {
            r->end += (size_t)n;
            return 1;
        }
        if (n == 0) {
            fail("connection closed by the server");
            return RD_EOF;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return (flags & MSG_DONTWAIT) ? 0
                                          : fail("read timed out after %d ms", LG_IO_TIMEOUT_MS);
        return fail("recv: %s", strerror(errno));
    }
}

/* Offset of `needle` from r->start, reading until it shows up. */
static int rd_until(struct rd *r, const char *needle, size_t *at)
{
    size_t nl = strlen(needle);

    for (;;) {
        const unsigned char *p = memmem(r->buf + r->start, rd_avail(r), needle, nl);
        if (p) {
            *at = (size_t)(p - (r->buf + r->start));
            return 0;
        }
        if (rd_fill(r, 0) < 0)
            return -1;
    }
}

/* Reads one CRLF-terminated line into `line` (NUL-terminated, CRLF removed). */
static int rd_line(struct rd *r, char *line, size_t cap)
{
    size_t at;

    if (rd_until(r, "\r\n", &at) < 0)
        return -1;
    if (at >= cap)
        return fail("line longer than %zu bytes", cap);
    memcpy(line, r->buf + r->start, at);
    line[at] = '\0';
    r->start += at + 2;
    return 0;
}

/* Appends exactly n more bytes of the stream to `out`. */
static int rd_exact(struct rd *r, struct sbuf *out, size_t n)
{
    while (n > 0) {
        size_t take = rd_avail(r) < n ? rd_avail(r) : n;
        if (take > 0) {
            if (sb_add(out, r->buf + r->start, take) < 0)
                return -1;
            r->start += take;
            n -= take;
        } else if (rd_fill(r, 0) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- HTTP/1.1 client */

/* Value of header `name` in a header block (status line first), not NUL-terminated. */
static const char *hdr_value(const char *h, size_t hlen, const char *name, size_t *vlen)
{
    const char *end = h + hlen, *p = memchr(h, '\n', hlen);
    size_t nl = strlen(name);

    while (p && p + 1 < end) {
        const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));
        const char *v, *ve;
        if (!eol)
            eol = end;
        if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            v = line + nl + 1;
            ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol < end ? eol : NULL;
    }
    return NULL;
}

static int hdr_has_token(const char *h, size_t hlen, const char *name, const char *token)
{
    size_t vl = 0, tl = strlen(token);
    const char *v = hdr_value(h, hlen, name, &vl);

    for (size_t i = 0; v && i + tl <= vl; i++)
        if (strncasecmp(v + i, token, tl) == 0)
            return 1;
    return 0;
}

/* Content-Length as a number; -1 when absent, -2 when malformed. */
static long long hdr_content_length(const char *h, size_t hlen)
{
    size_t vl = 0;
    const char *v = hdr_value(h, hlen, "Content-Length", &vl);
    char tmp[24], *end = NULL;
    long long n;

    if (!v)
        return -1;
    if (vl == 0 || vl >= sizeof tmp)
        return -2;
    memcpy(tmp, v, vl);
    tmp[vl] = '\0';
    errno = 0;
    n = strtoll(tmp, &end, 10);
    return (errno || *end != '\0' || n < 0) ? -2 : n;
}

struct hresp {
    int status;
    int close; /* the server will close the connection after this response */
    struct sbuf body;
};

static int read_chunked(struct rd *r, struct sbuf *body)
{
    char line[128], *end = NULL;

    for (;;) {
        unsigned long long sz;
        if (rd_line(r, line, sizeof line) < 0)
            return -1;
        errno = 0;
        sz = strtoull(line, &end, 16);
        if (end == line || errno || sz > LG_BODY_MAX)
            return fail("bad chunk size line '%s'", line);
        if (sz == 0)
            break;
        if (rd_exact(r, body, (size_t)sz) < 0 || rd_line(r, line, sizeof line) < 0)
            return -1;
        if (line[0] != '\0')
            return fail("chunk not followed by CRLF");
    }
    do { /* trailers, up to the empty line */
        if (rd_line(r, line, sizeof line) < 0)
            return -1;
    } while (line[0] != '\0');
    return 0;
}

/* Reads the body after the headers: chunked, Content-Length, none, or up to EOF. */
static int read_body(struct rd *r, struct hresp *hr, int chunked, long long clen)
{
    if (chunked)
        return read_chunked(r, &hr->body);
    if (clen >= 0)
        return (size_t)clen > LG_BODY_MAX ? fail("body too large")
                                          : rd_exact(r, &hr->body, (size_t)clen);
    if (hr->status == 204 || hr->status == 304)
        return 0;
    hr->close = 1;
    for (;;) {
        int f;
        if (sb_add(&hr->body, r->buf + r->start, rd_avail(r)) < 0)
            return -1;
        r->start = r->end;
        f = rd_fill(r, 0);
        if (f == RD_EOF)
            return 0;
        if (f < 0)
            return -1;
    }
}

static int http_read_response(struct rd *r, struct hresp *hr)
{
    const char *h;
    size_t hl;
    long long clen;
    int chunked;
    char ex[48];

    hr->body.len = 0;
    do { /* skip interim 1xx answers */
        if (rd_until(r, "\r\n\r\n", &hl) < 0)
            return -1;
        hl += 4;
        h = (const char *)r->buf + r->start;
        if (hl < 13 || strncmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ' || h[9] < '1' || h[9] > '5' ||
            h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9')
            return fail("bad HTTP status line '%s'", excerpt(ex, sizeof ex, h, hl < 40 ? hl : 40));
        hr->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
        hr->close = h[7] == '0' ? !hdr_has_token(h, hl, "Connection", "keep-alive")
                                : hdr_has_token(h, hl, "Connection", "close");
        chunked = hdr_has_token(h, hl, "Transfer-Encoding", "chunked");
        clen = hdr_content_length(h, hl);
        r->start += hl;
    } while (hr->status < 200);
    if (clen == -2)
        return fail("bad Content-Length");
    if (sb_add(&hr->body, "", 0) < 0 || read_body(r, hr, chunked, clen) < 0)
        return -1;
    return 0;
}

/* One keep-alive client connection; reconnects when the server closed it. */
struct hconn {
    const struct opts *o;
    int fd;
    struct rd rd;
};

static void hconn_init(struct hconn *c, const struct opts *o)
{
    c->o = o;
    c->fd = -1;
    c->rd.buf = NULL;
}

static void hconn_close(struct hconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    rd_free(&c->rd);
}

/* A server may close a keep-alive connection while it is idle (tocsin closes one that has sent
 * no request within 10 s of its accept, libwebsockets' timeout_secs_ah_idle): like any HTTP
 * client, check before reusing it, and reconnect. Data waiting on an idle connection is a
 * protocol error the next read reports. */
static int hconn_gone(const struct hconn *c)
{
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static int hconn_open(struct hconn *c)
{
    if (c->fd >= 0 && hconn_gone(c))
        hconn_close(c);
    if (c->fd >= 0)
        return 0;
    c->fd = tcp_connect(c->o->host, c->o->port);
    if (c->fd < 0)
        return -1;
    if (rd_init(&c->rd, c->fd, LG_RDBUF) < 0) {
        hconn_close(c);
        return -1;
    }
    return 0;
}

/* Sends a complete request (head and body) and reads the answer into hr. */
static int http_call(struct hconn *c, const char *req, size_t len, struct hresp *hr)
{
    if (hconn_open(c) < 0)
        return -1;
    if (write_all(c->fd, req, len) < 0 || http_read_response(&c->rd, hr) < 0) {
        hconn_close(c);
        return -1;
    }
    if (hr->close)
        hconn_close(c);
    return 0;
}

/* Appends a request head; the caller appends exactly body_len bytes of body. */
static int http_head(struct sbuf *b, const struct opts *o, const char *method, const char *path,
                     size_t body_len)
{
    return sb_printf(b,
                     "%s %s HTTP/1.1\r\nHost: %s:%lld\r\nUser-Agent: tocsin-loadgen\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     method, path, o->host, o->port, body_len);
}

/* ---------------------------------------------------------------- stats */

/* Start of the value after the keys, found in order ("events" then "processed"). */
static const char *json_value(const char *s, const char *const *keys, size_t nkeys)
{
    char pat[80];

    for (size_t i = 0; i < nkeys && s; i++) {
        int n = snprintf(pat, sizeof pat, "\"%s\"", keys[i]);
        if (n < 0 || (size_t)n >= sizeof pat)
            return NULL;
        s = strstr(s, pat);
        if (s)
            s += n;
    }
    if (!s)
        return NULL;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    if (*s++ != ':')
        return NULL;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    return *s == '"' ? s + 1 : s; /* a number sent as a string is read the same way */
}

static double json_num(const char *s, const char *const *keys, size_t nkeys)
{
    const char *v = json_value(s, keys, nkeys);
    char *end = NULL;
    double x;

    if (!v)
        return NAN;
    errno = 0;
    x = strtod(v, &end);
    return (end == v || errno) ? NAN : x;
}

struct stats {
    double received, processed, rejected; /* 0 when missing */
    double p50, p99, max;                 /* NAN when missing */
    /* "alerts": stored, heapBytes, created, duplicates, correlated; NAN when missing */
    double a_stored, a_heap, a_created, a_dups, a_corr;
};

static double or_zero(double x)
{
    return isnan(x) ? 0 : x;
}

/* The number under two keys found in order, e.g. "events" then "processed". */
static double stat_num(const char *body, const char *outer, const char *inner)
{
    const char *const keys[] = {outer, inner};

    return json_num(body, keys, 2);
}

static int stats_get(const struct opts *o, struct stats *st)
{
    struct hconn c;
    struct hresp hr = {0};
    struct sbuf req;
    int rc = -1;

    hconn_init(&c, o);
    sb_init(&req, 4096);
    sb_init(&hr.body, LG_BODY_MAX);
    if (sb_printf(&req, "GET /api/v1/stats HTTP/1.1\r\nHost: %s:%lld\r\nConnection: close\r\n\r\n",
                  o->host, o->port) < 0 ||
        http_call(&c, req.p, req.len, &hr) < 0)
        goto out;
    if (hr.status != 200) {
        fail("GET /api/v1/stats: status %d: %.200s", hr.status, hr.body.p);
        goto out;
    }
    st->received = or_zero(stat_num(hr.body.p, "events", "received"));
    st->processed = or_zero(stat_num(hr.body.p, "events", "processed"));
    st->rejected = or_zero(stat_num(hr.body.p, "events", "rejected"));
    st->p50 = stat_num(hr.body.p, "latencyUs", "p50");
    st->p99 = stat_num(hr.body.p, "latencyUs", "p99");
    st->max = stat_num(hr.body.p, "latencyUs", "max");
    st->a_stored = stat_num(hr.body.p, "alerts", "stored");
    st->a_heap = stat_num(hr.body.p, "alerts", "heapBytes");
    st->a_created = stat_num(hr.body.p, "alerts", "created");
    st->a_dups = stat_num(hr.body.p, "alerts", "duplicates");
    st->a_corr = stat_num(hr.body.p, "alerts", "correlated");
    rc = 0;
out:
    hconn_close(&c);
    sb_free(&req);
    sb_free(&hr.body);
    return rc;
}

/* Polls the stats until processed + rejected reaches target. 1 reached, 0 timed out, -1 error. */
static int wait_processed(const struct opts *o, double target, struct stats *st)
{
    int64_t deadline = now_ns() + LG_DRAIN_TIMEOUT_MS * NS_PER_MS;

    for (;;) {
        if (stats_get(o, st) < 0)
            return -1;
        if (st->processed + st->rejected >= target)
            return 1;
        if (now_ns() >= deadline)
            return 0;
        sleep_ms(20);
    }
}

/* A number for a key=value line: "na" when the daemon did not say. */
static const char *fmt_num(char *buf, size_t cap, double x)
{
    if (isnan(x))
        snprintf(buf, cap, "na");
    else
        snprintf(buf, cap, "%.0f", x);
    return buf;
}

/* ---------------------------------------------------------------- SHA-1, base64 (handshake) */

static uint32_t rol32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32u - n));
}

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    for (int i = 0; i < 80; i++) {
        uint32_t f, k, t;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999u;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1u;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDCu;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6u;
        }
        t = rol32(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

/* SHA-1 of a message of at most 119 bytes (two blocks), which is all the handshake needs. */
static void sha1_short(const void *msg, size_t n, unsigned char out[20])
{
    unsigned char blk[128] = {0};
    uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    size_t total = n + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;

    memcpy(blk, msg, n);
    blk[n] = 0x80;
    for (size_t i = 0; i < 8; i++)
        blk[total - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < total; off += 64)
        sha1_block(h, blk + off);
    for (size_t i = 0; i < 20; i++)
        out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

/* out must hold 4 * ((n + 2) / 3) + 1 bytes. */
static void base64(const unsigned char *in, size_t n, char *out)
{
    static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = tb[(v >> 18) & 63];
        out[o++] = tb[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tb[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tb[v & 63] : '=';
    }
    out[o] = '\0';
}

/* ---------------------------------------------------------------- WebSocket client */

struct ws {
    int fd;
    struct rd rd;
    unsigned char *out; /* whole masked frames waiting to be sent */
    size_t out_len, out_cap;
    uint64_t rng;
    long long frames_in, errors;
    int closing, got_close, pong_pending;
    size_t pong_len;
    unsigned char pong[125];
    char first_error[200];
};

static void ws_init(struct ws *w)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->rng = rng_seed();
}

static void ws_free(struct ws *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    rd_free(&w->rd);
    free(w->out);
    w->out = NULL;
}

/* Writes a client frame head (FIN, opcode, mask bit, length, key); returns its size. */
static size_t ws_frame_head(unsigned char *p, unsigned opcode, size_t len, uint32_t key)
{
    size_t h = 0;

    p[h++] = (unsigned char)(0x80u | opcode);
    if (len < 126) {
        p[h++] = (unsigned char)(0x80u | len);
    } else if (len <= 0xffff) {
        p[h++] = 0x80u | 126u;
        p[h++] = (unsigned char)(len >> 8);
        p[h++] = (unsigned char)len;
    } else {
        p[h++] = 0x80u | 127u;
        for (int i = 7; i >= 0; i--)
            p[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    memcpy(p + h, &key, 4);
    return h + 4;
}

/* XORs p with the 4-byte key as it appears on the wire, eight bytes at a time. */
static void ws_mask(unsigned char *p, size_t n, uint32_t key)
{
    unsigned char kb[4];
    uint64_t k8, v;
    size_t i = 0;

    memcpy(kb, &key, 4);
    memcpy(&k8, kb, 4);
    memcpy((unsigned char *)&k8 + 4, kb, 4);
    for (; i + 8 <= n; i += 8) {
        memcpy(&v, p + i, 8);
        v ^= k8;
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++)
        p[i] = (unsigned char)(p[i] ^ kb[i & 3]);
}

/* Appends one masked frame; the caller made sure it fits. */
static void ws_append(struct ws *w, unsigned opcode, const void *data, size_t len)
{
    uint32_t key = (uint32_t)rng_next(&w->rng);
    unsigned char *p = w->out + w->out_len;
    size_t h = ws_frame_head(p, opcode, len, key);

    memcpy(p + h, data, len);
    ws_mask(p + h, len, key);
    w->out_len += h + len;
}

static int ws_on_frame(struct ws *w, unsigned opcode, const unsigned char *p, size_t len)
{
    switch (opcode) {
    case 0x1: /* text: only error frames are expected after the greeting */
        w->frames_in++;
        if (memmem(p, len, "\"ERROR\"", 7)) {
            if (w->errors++ == 0)
                snprintf(w->first_error, sizeof w->first_error, "%.*s",
                         (int)(len < 190 ? len : 190), (const char *)p);
        }
        return 0;
    case 0x0:
    case 0x2:
    case 0xA:
        return 0;
    case 0x8:
        if (w->closing) {
            w->got_close = 1;
            return 0;
        }
        return fail("server closed the WebSocket (code %u)",
                    len >= 2 ? (unsigned)(p[0] << 8 | p[1]) : 1005u);
    case 0x9:
        if (len > sizeof w->pong)
            return fail("ping payload of %zu bytes", len);
        memcpy(w->pong, p, len);
        w->pong_len = len;
        w->pong_pending = 1;
        return 0;
    default:
        return fail("server sent a frame with opcode %u", opcode);
    }
}

/* Handles one complete server frame from the read buffer. 1 done, 0 incomplete, -1 error. */
static int ws_parse_one(struct ws *w)
{
    const unsigned char *p = w->rd.buf + w->rd.start;
    size_t avail = rd_avail(&w->rd), h = 2;
    uint64_t len;

    if (avail < 2)
        return 0;
    if (p[1] & 0x80)
        return fail("server sent a masked frame");
    len = p[1] & 0x7fu;
    if (len == 126) {
        if (avail < 4)
            return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        h = 4;
    } else if (len == 127) {
        if (avail < 10)
            return 0;
        len = 0;
        for (size_t i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        h = 10;
    }
    if (len > w->rd.cap - h)
        return fail("server frame of %" PRIu64 " bytes is larger than the read buffer", len);
    if (avail < h + len)
        return 0;
    if (ws_on_frame(w, p[0] & 0x0fu, p + h, (size_t)len) < 0)
        return -1;
    w->rd.start += h + (size_t)len;
    return 1;
}

/* Handles every frame that has arrived, without blocking. */
static int ws_drain(struct ws *w)
{
    for (;;) {
        int r;
        while ((r = ws_parse_one(w)) > 0) {
        }
        if (r < 0)
            return -1;
        r = rd_fill(&w->rd, MSG_DONTWAIT);
        if (r == RD_EOF && w->got_close)
            return 0; /* the closing handshake is complete */
        if (r <= 0)
            return r == 0 ? 0 : -1;
    }
}

/* Sends the out buffer; while the socket is full, keeps reading so the server never blocks. */
static int ws_send_out(struct ws *w)
{
    size_t off = 0;

    while (off < w->out_len) {
        ssize_t n = send(w->fd, w->out + off, w->out_len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        int r;
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return fail("send: %s", n == 0 ? "wrote nothing" : strerror(errno));
        r = wait_fd(w->fd, POLLIN | POLLOUT, LG_IO_TIMEOUT_MS);
        if (r == 0)
            return fail("server read nothing for %d ms", LG_IO_TIMEOUT_MS);
        if (r < 0)
            return fail("poll: %s", strerror(errno));
        if (ws_drain(w) < 0)
            return -1;
    }
    w->out_len = 0;
    return 0;
}

static int ws_flush(struct ws *w)
{
    for (;;) {
        if (ws_send_out(w) < 0 || ws_drain(w) < 0)
            return -1;
        if (!w->pong_pending)
            return 0;
        w->pong_pending = 0;
        ws_append(w, 0xA, w->pong, w->pong_len);
    }
}

static int ws_handshake(struct ws *w, const struct opts *o, const char *path)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char raw[16], digest[20];
    char key[32], expect[32], cat[80], req[512];
    const char *h, *v;
    size_t hl, vl = 0;
    int n;

    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (unsigned char)rng_next(&w->rng);
    base64(raw, sizeof raw, key);
    n = snprintf(cat, sizeof cat, "%s%s", key, guid);
    sha1_short(cat, (size_t)n, digest);
    base64(digest, sizeof digest, expect);
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: %s:%lld\r\nUser-Agent: tocsin-loadgen\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 path, o->host, o->port, key);
    if (n < 0 || (size_t)n >= sizeof req)
        return fail("upgrade request too long");
    if (write_all(w->fd, req, (size_t)n) < 0 || rd_until(&w->rd, "\r\n\r\n", &hl) < 0)
        return -1;
    hl += 4;
    h = (const char *)w->rd.buf + w->rd.start;
    if (hl < 12 || strncmp(h, "HTTP/1.1 101", 12) != 0)
        return fail("WebSocket upgrade of %s refused: '%s'", path,
                    excerpt(cat, sizeof cat, h, strcspn(h, "\r\n")));
    v = hdr_value(h, hl, "Sec-WebSocket-Accept", &vl);
    if (!v || vl != strlen(expect) || memcmp(v, expect, vl) != 0)
        return fail("bad Sec-WebSocket-Accept from the server");
    w->rd.start += hl; /* what follows may already be the first frame */
    return 0;
}

/* Connects, upgrades, and reads (and drops) the server's first frame (NODE_DISCOVERY). */
static int ws_open(struct ws *w, const struct opts *o, const char *path, size_t out_cap)
{
    int r;

    w->fd = tcp_connect(o->host, o->port);
    if (w->fd < 0 || rd_init(&w->rd, w->fd, LG_RDBUF) < 0)
        return -1;
    w->out = malloc(out_cap);
    if (!w->out)
        return fail("out of memory");
    w->out_cap = out_cap;
    if (ws_handshake(w, o, path) < 0)
        return -1;
    while ((r = ws_parse_one(w)) == 0)
        if (rd_fill(&w->rd, 0) < 0)
            return -1;
    if (r < 0)
        return -1;
    w->frames_in = 0; /* the greeting is not an answer to anything we sent */
    return 0;
}

/* Sends a close frame and waits (bounded) for the server's close: once it arrives, the server
 * has read every frame sent before it. */
static int ws_close(struct ws *w)
{
    static const unsigned char code[2] = {0x03, 0xe8}; /* 1000, normal closure */
    int64_t deadline;

    if (w->out_len + LG_WS_HEAD_MAX + sizeof code > w->out_cap && ws_flush(w) < 0)
        return -1;
    w->closing = 1; /* the answer may already arrive while the close frame is flushed */
    ws_append(w, 0x8, code, sizeof code);
    if (ws_flush(w) < 0)
        return -1;
    deadline = now_ns() + LG_IO_TIMEOUT_MS * NS_PER_MS;
    while (!w->got_close && now_ns() < deadline) {
        int r = ws_parse_one(w);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        r = rd_fill(&w->rd, 0);
        if (r == RD_EOF)
            return 0;
        if (r < 0)
            return -1;
    }
    return w->got_close ? 0 : fail("no close frame from the server");
}

/* ---------------------------------------------------------------- event sources */

/* Produces frame payloads: peek() says how long the next one is, emit() writes it there
 * and returns how many events it holds. */
struct src {
    size_t (*peek)(struct src *s);
    long long (*emit)(struct src *s, unsigned char *dst);
};

/* Distinct pre-built events: response_time covers 0..1999 exactly twice, api-0..api-9. */
struct pool {
    struct sbuf all;
    size_t *off, *len;
    size_t n, max_len;
};

static void pool_free(struct pool *p)
{
    sb_free(&p->all);
    free(p->off);
    free(p->len);
    p->off = p->len = NULL;
}

static int pool_build(struct pool *p, size_t n)
{
    uint64_t rng = rng_seed(), tag = rng_next(&rng) & 0xffffffffu;
    long long ts = wall_ms();

    sb_init(&p->all, LG_BODY_MAX);
    p->n = n;
    p->max_len = 0;
    p->off = calloc(n, sizeof *p->off);
    p->len = calloc(n, sizeof *p->len);
    if (!p->off || !p->len)
        return fail("out of memory");
    for (size_t i = 0; i < n; i++) {
        unsigned rt = (unsigned)((i * 7919u) % LG_RT_RANGE); /* 7919 is prime: a permutation */
        unsigned api = (unsigned)(rng_next(&rng) % LG_API_COUNT);
        p->off[i] = p->all.len;
        if (sb_printf(&p->all,
                      "{\"id\":\"lg-%08" PRIx64 "-%zu\",\"timestamp\":%lld,\"type\":\"REQUEST\","
                      "\"context\":{\"node.id\":\"loadgen\"},\"properties\":"
                      "{\"response.response_time\":%u,\"api\":\"api-%u\"}}",
                      tag, i, ts, rt, api) < 0)
            return -1;
        p->len[i] = p->all.len - p->off[i];
        if (p->len[i] > p->max_len)
            p->max_len = p->len[i];
    }
    return 0;
}

/* Walks the pool from a per-thread offset; `array` wraps the events in [ ] even when batch is 1. */
struct pool_src {
    struct src base;
    const struct pool *pool;
    size_t cur, batch;
    int array;
};

static size_t pool_peek(struct src *s)
{
    const struct pool_src *ps = (const struct pool_src *)s;
    size_t n = 0, i = ps->cur;

    for (size_t k = 0; k < ps->batch; k++) {
        n += ps->pool->len[i];
        if (++i == ps->pool->n)
            i = 0;
    }
    return ps->array ? n + ps->batch + 1 : n;
}

static long long pool_emit(struct src *s, unsigned char *dst)
{
    struct pool_src *ps = (struct pool_src *)s;
    const struct pool *p = ps->pool;
    size_t o = 0;

    if (ps->array)
        dst[o++] = '[';
    for (size_t k = 0; k < ps->batch; k++) {
        if (k > 0)
            dst[o++] = ',';
        memcpy(dst + o, p->all.p + p->off[ps->cur], p->len[ps->cur]);
        o += p->len[ps->cur];
        if (++ps->cur == p->n)
            ps->cur = 0;
    }
    if (ps->array)
        dst[o] = ']';
    return (long long)ps->batch;
}

static void pool_src_init(struct pool_src *ps, const struct pool *p, size_t thread, size_t nthreads,
                          size_t batch, int array)
{
    ps->base.peek = pool_peek;
    ps->base.emit = pool_emit;
    ps->pool = p;
    ps->cur = (thread * (p->n / (nthreads ? nthreads : 1))) % p->n;
    ps->batch = batch;
    ps->array = array;
}

/* Largest frame a pool source can produce, head included. */
static size_t pool_frame_max(const struct pool *p, size_t batch)
{
    return LG_WS_HEAD_MAX + batch * (p->max_len + 1) + 2;
}

/* One LATENCY event per frame, with seq and the send time (CLOCK_MONOTONIC ns) as strings. */
struct lat_src {
    struct src base;
    uint64_t tag;
    long long seq;
    size_t len;
    char scratch[512];
};

static size_t lat_peek(struct src *s)
{
    struct lat_src *ls = (struct lat_src *)s;
    int n = snprintf(ls->scratch, sizeof ls->scratch,
                     "{\"id\":\"lat-%08" PRIx64 "-%lld\",\"timestamp\":%lld,\"type\":\"LATENCY\","
                     "\"context\":{\"node.id\":\"loadgen\"},\"properties\":"
                     "{\"response.response_time\":1600,\"api\":\"latency\",\"seq\":\"%lld\","
                     "\"sent_ns\":\"%" PRId64 "\"}}",
                     ls->tag, ls->seq, wall_ms(), ls->seq, now_ns());

    ls->len = n > 0 && (size_t)n < sizeof ls->scratch ? (size_t)n : 0;
    return ls->len;
}

static long long lat_emit(struct src *s, unsigned char *dst)
{
    struct lat_src *ls = (struct lat_src *)s;

    memcpy(dst, ls->scratch, ls->len);
    ls->seq++;
    return 1;
}

/* ---------------------------------------------------------------- WebSocket streaming */

struct limits {
    int64_t start, end;
    long long count; /* events; 0 = no limit */
    double rate;     /* events/s for this stream; 0 = as fast as possible */
};

static void limits_init(struct limits *l, const struct opts *o, long long count, double rate)
{
    l->start = now_ns();
    l->end = l->start + (int64_t)(run_seconds(o) * (double)NS_PER_S);
    l->count = count;
    l->rate = rate;
}

/* Sleeps until event n is due; 1 when the run is over. */
static int pace(struct ws *w, const struct limits *lim, long long n)
{
    int64_t due = lim->start + (int64_t)((double)n * 1e9 / lim->rate), t = now_ns();

    if (t >= lim->end)
        return 1;
    if (due > t) {
        if (ws_flush(w) < 0)
            return -1;
        sleep_until_ns(due < lim->end ? due : lim->end);
        return now_ns() >= lim->end;
    }
    return 0;
}

/* Streams frames from s until the limits say stop; *sent counts events as they are queued. */
static int ws_stream(struct ws *w, struct src *s, const struct limits *lim, long long *sent)
{
    for (;;) {
        size_t plen;
        uint32_t key;
        unsigned char *p;
        size_t h;
        if (lim->count > 0 && *sent >= lim->count)
            break;
        if (lim->rate > 0) {
            int r = pace(w, lim, *sent);
            if (r != 0) {
                if (r < 0)
                    return -1;
                break;
            }
        }
        plen = s->peek(s);
        if (w->out_len + LG_WS_HEAD_MAX + plen > w->out_cap) {
            if (ws_flush(w) < 0)
                return -1;
            if (now_ns() >= lim->end)
                break;
        }
        key = (uint32_t)rng_next(&w->rng);
        p = w->out + w->out_len;
        h = ws_frame_head(p, 0x1, plen, key);
        *sent += s->emit(s, p + h);
        ws_mask(p + h, plen, key);
        w->out_len += h + plen;
    }
    return ws_flush(w);
}

/* ---------------------------------------------------------------- ws / http load */

struct worker {
    const struct opts *o;
    const struct pool *pool;
    pthread_barrier_t *bar;
    size_t idx;
    long long quota; /* events this worker may send; 0 = no limit */
    long long sent, requests, non2xx, errors;
    int failed;
    char err[256], first_error[200];
};

static void worker_fail(struct worker *wk)
{
    wk->failed = 1;
    snprintf(wk->err, sizeof wk->err, "%s", lg_err);
}

static void *ws_worker(void *arg)
{
    struct worker *wk = arg;
    const struct opts *o = wk->o;
    struct ws w;
    struct pool_src ps;
    struct limits lim;
    size_t cap = pool_frame_max(wk->pool, (size_t)o->batch);
    int ok;

    ws_init(&w);
    ok = ws_open(&w, o, "/ws/events", cap * 2 > LG_SENDBUF ? cap * 2 : LG_SENDBUF) == 0;
    pthread_barrier_wait(wk->bar);
    if (ok) {
        pool_src_init(&ps, wk->pool, wk->idx, (size_t)o->conns, (size_t)o->batch, o->batch > 1);
        limits_init(&lim, o, wk->quota, o->rate > 0 ? o->rate / (double)o->conns : 0);
        ok = ws_stream(&w, &ps.base, &lim, &wk->sent) == 0 && ws_close(&w) == 0;
    }
    if (!ok)
        worker_fail(wk);
    wk->errors = w.errors;
    snprintf(wk->first_error, sizeof wk->first_error, "%s", w.first_error);
    ws_free(&w);
    return NULL;
}

/* One POST /http/events request with the next `batch` events, always as an array. */
static int http_events_req(struct sbuf *req, const struct opts *o, struct pool_src *ps)
{
    size_t blen = pool_peek(&ps->base);

    req->len = 0;
    if (http_head(req, o, "POST", "/http/events", blen) < 0 || sb_reserve(req, blen) < 0)
        return -1;
    pool_emit(&ps->base, (unsigned char *)req->p + req->len);
    req->len += blen;
    req->p[req->len] = '\0';
    return 0;
}

static int http_stream(struct worker *wk, struct hconn *c, struct sbuf *req, struct hresp *hr)
{
    const struct opts *o = wk->o;
    struct pool_src ps;
    struct limits lim;

    pool_src_init(&ps, wk->pool, wk->idx, (size_t)o->conns, (size_t)o->batch, 1);
    limits_init(&lim, o, wk->quota, 0);
    while ((lim.count == 0 || wk->sent < lim.count) && now_ns() < lim.end) {
        if (http_events_req(req, o, &ps) < 0 || http_call(c, req->p, req->len, hr) < 0)
            return -1;
        wk->requests++;
        if (hr->status / 100 == 2) {
            wk->sent += o->batch;
            continue;
        }
        if (wk->non2xx++ == 0)
            snprintf(wk->first_error, sizeof wk->first_error, "status %d: %.160s", hr->status,
                     hr->body.p ? hr->body.p : "");
        if (hr->status == 429 || hr->status == 503)
            sleep_ms(1); /* back-pressure: do not spin */
    }
    return 0;
}

static void *http_worker(void *arg)
{
    struct worker *wk = arg;
    struct hconn c;
    struct sbuf req;
    struct hresp hr = {0};
    int ok;

    hconn_init(&c, wk->o);
    sb_init(&req, LG_BODY_MAX);
    sb_init(&hr.body, LG_BODY_MAX);
    ok = hconn_open(&c) == 0;
    pthread_barrier_wait(wk->bar);
    if (ok)
        ok = http_stream(wk, &c, &req, &hr) == 0;
    if (!ok)
        worker_fail(wk);
    wk->errors = wk->non2xx;
    hconn_close(&c);
    sb_free(&req);
    sb_free(&hr.body);
    return NULL;
}

struct totals {
    long long sent, requests, non2xx, errors;
};

/* Starts one thread per connection, all released together; returns when all are done. */
static int run_workers(const struct opts *o, const struct pool *pool, void *(*fn)(void *),
                       struct worker *wk, int64_t *t0)
{
    pthread_t th[LG_MAX_CONNS];
    pthread_barrier_t bar;
    size_t n = (size_t)o->conns;

    if (pthread_barrier_init(&bar, NULL, (unsigned)n + 1) != 0)
        return fail("pthread_barrier_init failed");
    for (size_t i = 0; i < n; i++) {
        long long share = o->count > 0 ? o->count / o->conns : 0;
        wk[i].o = o;
        wk[i].pool = pool;
        wk[i].bar = &bar;
        wk[i].idx = i;
        wk[i].quota = share + ((long long)i < (o->count > 0 ? o->count % o->conns : 0) ? 1 : 0);
        if (pthread_create(&th[i], NULL, fn, &wk[i]) != 0) {
            /* The barrier cannot be released without this thread: give up now. */
            fprintf(stderr, "loadgen: error: cannot start thread %zu\n", i);
            exit(1);
        }
    }
    pthread_barrier_wait(&bar);
    *t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    return 0;
}

static int sum_workers(const struct worker *wk, size_t n, struct totals *t)
{
    int rc = 0;

    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        t->sent += wk[i].sent;
        t->requests += wk[i].requests;
        t->non2xx += wk[i].non2xx;
        t->errors += wk[i].errors;
        if (wk[i].failed && rc == 0)
            rc = fail("connection %zu: %s", i, wk[i].err);
        if (wk[i].first_error[0] && t->errors == wk[i].errors)
            fprintf(stderr, "loadgen: first error answer: %s\n", wk[i].first_error);
    }
    return rc;
}

static void print_load(const struct opts *o, const char *mode, const struct totals *t,
                       double send_s, double total_s, const struct stats *st, int drained)
{
    char p50[32], p99[32], mx[32];

    printf("mode=%s conns=%lld batch=%lld sent=%lld", mode, o->conns, o->batch, t->sent);
    if (strcmp(mode, "http") == 0)
        printf(" requests=%lld non2xx=%lld", t->requests, t->non2xx);
    printf(" seconds=%.3f send_seconds=%.3f events_per_s=%.0f errors=%lld engine_p50_us=%s "
           "engine_p99_us=%s engine_max_us=%s drained=%s\n",
           total_s, send_s, total_s > 0 ? (double)t->sent / total_s : 0.0, t->errors,
           fmt_num(p50, sizeof p50, st->p50), fmt_num(p99, sizeof p99, st->p99),
           fmt_num(mx, sizeof mx, st->max), drained ? "yes" : "no");
    fflush(stdout);
}

static int run_load(const struct opts *o, const char *mode, void *(*fn)(void *))
{
    struct stats base, end;
    struct pool pool = {0};
    struct worker *wk = NULL;
    struct totals t;
    int64_t t0 = 0, t1, t2;
    int rc = -1, drained;

    if (need_port(o) < 0 || stats_get(o, &base) < 0 || pool_build(&pool, LG_POOL_SIZE) < 0)
        goto out;
    wk = calloc((size_t)o->conns, sizeof *wk);
    if (!wk) {
        fail("out of memory");
        goto out;
    }
    if (run_workers(o, &pool, fn, wk, &t0) < 0)
        goto out;
    t1 = now_ns();
    if (sum_workers(wk, (size_t)o->conns, &t) < 0)
        goto out;
    drained = wait_processed(o, base.processed + base.rejected + (double)t.sent, &end);
    if (drained < 0)
        goto out;
    t2 = now_ns();
    print_load(o, mode, &t, (double)(t1 - t0) / 1e9, (double)(t2 - t0) / 1e9, &end, drained);
    if (!drained)
        fprintf(stderr, "loadgen: the daemon processed %.0f of %lld events within %d s\n",
                end.processed + end.rejected - base.processed - base.rejected, t.sent,
                LG_DRAIN_TIMEOUT_MS / 1000);
    rc = drained ? 0 : 3;
out:
    free(wk);
    pool_free(&pool);
    return rc;
}

/* --conns and --batch default to 1 here (0 = not given: alerts has its own defaults). */
static void load_defaults(struct opts *o)
{
    if (o->conns == 0)
        o->conns = 1;
    if (o->batch == 0)
        o->batch = 1;
}

static int cmd_ws(struct opts *o)
{
    load_defaults(o);
    return run_load(o, "ws", ws_worker);
}

static int cmd_http(struct opts *o)
{
    load_defaults(o);
    return run_load(o, "http", http_worker);
}

/* ---------------------------------------------------------------- triggers */

static int trigger_json(struct sbuf *b, const struct opts *o, long long i, double threshold)
{
    static const char body[] = "{\"seq\":\"${notification.properties['seq']}\","
                               "\"sent_ns\":\"${notification.properties['sent_ns']}\"}";
    char id[LG_STR_MAX + 32];

    snprintf(id, sizeof id, "%s-%lld", o->id_prefix, i);
    if (sb_puts(b, "{\"id\":") < 0 || sb_json_str(b, id) < 0 || sb_puts(b, ",\"name\":") < 0 ||
        sb_json_str(b, id) < 0 || sb_puts(b, ",\"source\":") < 0 || sb_json_str(b, o->source) < 0 ||
        sb_printf(b,
                  ",\"enabled\":true,\"severity\":\"WARNING\",\"conditions\":[{\"type\":"
                  "\"THRESHOLD\",\"property\":\"response.response_time\",\"operator\":\"GT\","
                  "\"threshold\":%.17g}],\"dampening\":{\"mode\":\"STRICT_COUNT\","
                  "\"trueEvaluations\":1}",
                  threshold) < 0)
        return -1;
    if (o->webhook) {
        if (sb_puts(b, ",\"notifications\":[{\"type\":\"webhook-notifier\",\"configuration\":"
                       "{\"url\":") < 0 ||
            sb_json_str(b, o->webhook) < 0 ||
            sb_puts(b, ",\"method\":\"POST\",\"headers\":[{\"name\":\"Content-Type\","
                       "\"value\":\"application/json\"}],\"body\":") < 0 ||
            sb_json_str(b, body) < 0 || sb_puts(b, "}}]") < 0)
            return -1;
    }
    return sb_puts(b, "}");
}

/* POSTs triggers [from, to) as one array. */
static int post_triggers(struct hconn *c, const struct opts *o, long long from, long long to,
                         double threshold, struct sbuf *body, struct sbuf *req, struct hresp *hr)
{
    body->len = req->len = 0;
    if (sb_puts(body, "[") < 0)
        return -1;
    for (long long i = from; i < to; i++)
        if ((i > from && sb_puts(body, ",") < 0) || trigger_json(body, o, i, threshold) < 0)
            return -1;
    if (sb_puts(body, "]") < 0 || http_head(req, o, "POST", "/http/triggers", body->len) < 0 ||
        sb_add(req, body->p, body->len) < 0 || http_call(c, req->p, req->len, hr) < 0)
        return -1;
    if (hr->status / 100 != 2)
        return fail("POST /http/triggers: status %d: %.300s", hr->status, hr->body.p);
    return 0;
}

static int cmd_triggers(struct opts *o)
{
    long long n = o->count;
    /* Events carry response_time 0..1999 uniformly: GT (1999 - k) fires k/2000 of them. */
    double threshold = isnan(o->threshold)
                           ? (LG_RT_RANGE - 1) - round((double)LG_RT_RANGE * o->fire_ratio)
                           : o->threshold;
    struct hconn c;
    struct sbuf body, req;
    struct hresp hr = {0};
    int64_t t0 = now_ns();
    int rc = -1;

    hconn_init(&c, o);
    sb_init(&body, LG_BODY_MAX);
    sb_init(&req, LG_BODY_MAX);
    sb_init(&hr.body, LG_BODY_MAX);
    if (need_port(o) < 0)
        goto out;
    if (n <= 0 || n > LG_MAX_TRIGGERS) {
        fail("--count must be 1..%d for triggers", LG_MAX_TRIGGERS);
        goto out;
    }
    for (long long i = 0; i < n; i += LG_TRIGGER_CHUNK)
        if (post_triggers(&c, o, i, i + LG_TRIGGER_CHUNK < n ? i + LG_TRIGGER_CHUNK : n, threshold,
                          &body, &req, &hr) < 0)
            goto out;
    printf("mode=triggers count=%lld source=%s threshold=%.17g webhook=%s seconds=%.3f\n", n,
           o->source, threshold, o->webhook ? o->webhook : "none", (double)(now_ns() - t0) / 1e9);
    rc = 0;
out:
    hconn_close(&c);
    sb_free(&body);
    sb_free(&req);
    sb_free(&hr.body);
    return rc;
}

/* ---------------------------------------------------------------- webhook receiver */

struct rx_client {
    int fd;
    size_t len;
    int sent_continue;
    char buf[LG_RX_BUF + 1];
};

/* Written by the receiver thread; the counters are read by main while it runs, the samples
 * only after it has been joined. */
struct receiver {
    int lfd;
    long long port;
    atomic_int stop;
    atomic_llong received, dup, stale, bad, posts;
    int64_t run_start;
    size_t cap, nlat;
    unsigned char *seen; /* by seq */
    int64_t *lat;        /* ns */
    struct rx_client *cl;
};

static int rx_listen(struct receiver *rx, long long port)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int one = 1;

    if (loopback_addr("127.0.0.1", port, &sa) < 0)
        return -1;
    rx->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (rx->lfd < 0 || setsockopt(rx->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(rx->lfd, (const struct sockaddr *)&sa, sizeof sa) < 0 || listen(rx->lfd, 128) < 0 ||
        getsockname(rx->lfd, (struct sockaddr *)&sa, &sl) < 0)
        return fail("webhook receiver on 127.0.0.1:%lld: %s", port, strerror(errno));
    rx->port = ntohs(sa.sin_port);
    return 0;
}

static void rx_drop(struct receiver *rx, struct rx_client *c, int bad)
{
    if (bad)
        atomic_fetch_add(&rx->bad, 1);
    close(c->fd);
    c->fd = -1;
    c->len = 0;
}

static int rx_send(int fd, const char *s)
{
    size_t n = strlen(s);

    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, 1000) <= 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Notes one webhook body: {"seq":"N","sent_ns":"T"}. */
static void rx_record(struct receiver *rx, const char *body)
{
    static const char *const k_seq[] = {"seq"}, *const k_sent[] = {"sent_ns"};
    const char *vs = json_value(body, k_seq, 1), *vt = json_value(body, k_sent, 1);
    int64_t now = now_ns();
    char *e1 = NULL, *e2 = NULL;
    long long seq, sent;

    if (!vs || !vt) {
        atomic_fetch_add(&rx->bad, 1);
        return;
    }
    errno = 0;
    seq = strtoll(vs, &e1, 10);
    sent = strtoll(vt, &e2, 10);
    if (errno || e1 == vs || e2 == vt) {
        atomic_fetch_add(&rx->bad, 1);
    } else if (sent < rx->run_start || sent > now || seq < 0 || (size_t)seq >= rx->cap) {
        atomic_fetch_add(&rx->stale, 1); /* from an earlier run, or not ours */
    } else if (rx->seen[seq]) {
        atomic_fetch_add(&rx->dup, 1);
    } else {
        rx->seen[seq] = 1;
        rx->lat[rx->nlat++] = now - sent;
        atomic_fetch_add(&rx->received, 1);
    }
}

/* Answers every complete request in the client's buffer with 200. */
static void rx_process(struct receiver *rx, struct rx_client *c)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: 2\r\n\r\n{}";
    for (;;) {
        const char *he = memmem(c->buf, c->len, "\r\n\r\n", 4);
        size_t hl, total;
        long long clen;
        char save;
        if (!he) {
            if (c->len >= LG_RX_BUF)
                rx_drop(rx, c, 1);
            return;
        }
        hl = (size_t)(he - c->buf) + 4;
        clen = hdr_content_length(c->buf, hl);
        if (clen == -2 || hdr_has_token(c->buf, hl, "Transfer-Encoding", "chunked") ||
            (size_t)(clen < 0 ? 0 : clen) > LG_RX_BUF - hl) {
            rx_drop(rx, c, 1);
            return;
        }
        total = hl + (size_t)(clen < 0 ? 0 : clen);
        if (c->len < total) {
            if (!c->sent_continue && hdr_has_token(c->buf, hl, "Expect", "100-continue")) {
                c->sent_continue = 1;
                if (rx_send(c->fd, "HTTP/1.1 100 Continue\r\n\r\n") < 0)
                    rx_drop(rx, c, 1);
            }
            return;
        }
        save = c->buf[total];
        c->buf[total] = '\0';
        rx_record(rx, c->buf + hl);
        c->buf[total] = save;
        atomic_fetch_add(&rx->posts, 1);
        memmove(c->buf, c->buf + total, c->len - total);
        c->len -= total;
        c->sent_continue = 0;
        if (rx_send(c->fd, ok) < 0) {
            rx_drop(rx, c, 1);
            return;
        }
    }
}

static void rx_accept(struct receiver *rx)
{
    for (;;) {
        int fd = accept4(rx->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        size_t i = 0;
        if (fd < 0)
            return;
        while (i < LG_RX_MAX_CLIENTS && rx->cl[i].fd >= 0)
            i++;
        if (i == LG_RX_MAX_CLIENTS) {
            atomic_fetch_add(&rx->bad, 1);
            close(fd);
            continue;
        }
        rx->cl[i].fd = fd;
        rx->cl[i].len = 0;
        rx->cl[i].sent_continue = 0;
    }
}

static void rx_read(struct receiver *rx, struct rx_client *c)
{
    ssize_t n = recv(c->fd, c->buf + c->len, LG_RX_BUF - c->len, 0);

    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        rx_drop(rx, c, 0);
        return;
    }
    c->len += (size_t)n;
    rx_process(rx, c);
}

static void *rx_thread(void *arg)
{
    struct receiver *rx = arg;
    struct pollfd pf[LG_RX_MAX_CLIENTS + 1];
    size_t map[LG_RX_MAX_CLIENTS + 1];

    while (!atomic_load(&rx->stop)) {
        nfds_t n = 1;
        pf[0].fd = rx->lfd;
        pf[0].events = POLLIN;
        for (size_t i = 0; i < LG_RX_MAX_CLIENTS; i++) {
            if (rx->cl[i].fd < 0)
                continue;
            pf[n].fd = rx->cl[i].fd;
            pf[n].events = POLLIN;
            map[n++] = i;
        }
        if (poll(pf, n, 100) <= 0)
            continue;
        for (nfds_t k = 1; k < n; k++)
            if (pf[k].revents)
                rx_read(rx, &rx->cl[map[k]]);
        if (pf[0].revents & POLLIN)
            rx_accept(rx);
    }
    for (size_t i = 0; i < LG_RX_MAX_CLIENTS; i++)
        if (rx->cl[i].fd >= 0)
            rx_drop(rx, &rx->cl[i], 0);
    return NULL;
}

static int rx_init(struct receiver *rx, size_t cap)
{
    memset(rx, 0, sizeof *rx);
    rx->lfd = -1;
    rx->cap = cap;
    rx->seen = calloc(cap, 1);
    rx->lat = calloc(cap, sizeof *rx->lat);
    rx->cl = calloc(LG_RX_MAX_CLIENTS, sizeof *rx->cl);
    if (!rx->seen || !rx->lat || !rx->cl)
        return fail("out of memory");
    for (size_t i = 0; i < LG_RX_MAX_CLIENTS; i++)
        rx->cl[i].fd = -1;
    return 0;
}

static void rx_free(struct receiver *rx)
{
    if (rx->lfd >= 0)
        close(rx->lfd);
    free(rx->seen);
    free(rx->lat);
    free(rx->cl);
}

/* ---------------------------------------------------------------- latency */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples, in ms. */
static double pct_ms(const int64_t *v, size_t n, double q)
{
    size_t i;

    if (n == 0)
        return NAN;
    i = (size_t)ceil(q * (double)n);
    i = i == 0 ? 0 : i - 1;
    return (double)v[i < n ? i : n - 1] / 1e6;
}

static const char *fmt_ms(char *buf, size_t cap, double ms)
{
    if (isnan(ms))
        snprintf(buf, cap, "na");
    else
        snprintf(buf, cap, "%.3f", ms);
    return buf;
}

static void print_latency(const struct opts *o, struct receiver *rx, long long sent,
                          long long errors, double send_s)
{
    size_t n = rx->nlat;
    long long got = atomic_load(&rx->received);
    char p50[32], p90[32], p99[32], mx[32];
    long long expected = (long long)(o->rate * run_seconds(o));

    if (o->count > 0 && o->count < expected)
        expected = o->count;
    qsort(rx->lat, n, sizeof *rx->lat, cmp_i64);
    printf("mode=latency rate=%.0f seconds=%.1f expected=%lld sent=%lld count=%lld lost=%lld "
           "dup=%lld stale=%lld bad=%lld errors=%lld p50_ms=%s p90_ms=%s p99_ms=%s max_ms=%s "
           "webhook_port=%lld\n",
           o->rate, send_s, expected, sent, got, sent - got, (long long)atomic_load(&rx->dup),
           (long long)atomic_load(&rx->stale), (long long)atomic_load(&rx->bad), errors,
           fmt_ms(p50, sizeof p50, pct_ms(rx->lat, n, 0.50)),
           fmt_ms(p90, sizeof p90, pct_ms(rx->lat, n, 0.90)),
           fmt_ms(p99, sizeof p99, pct_ms(rx->lat, n, 0.99)),
           fmt_ms(mx, sizeof mx, pct_ms(rx->lat, n, 1.0)), rx->port);
    fflush(stdout);
}

/* Sends the LATENCY events over one WebSocket, then waits for the webhooks (grace 5 s). */
static int latency_send(const struct opts *o, struct receiver *rx, long long *sent,
                        long long *errors, double *send_s)
{
    struct ws w;
    struct lat_src ls = {.base = {lat_peek, lat_emit}, .seq = 0};
    struct limits lim;
    int64_t deadline;
    int rc = -1;

    ws_init(&w);
    ls.tag = rng_next(&w.rng) & 0xffffffffu;
    if (ws_open(&w, o, "/ws/events", LG_SENDBUF) < 0)
        goto out;
    limits_init(&lim, o, o->count > 0 ? o->count : (long long)rx->cap, o->rate);
    if (ws_stream(&w, &ls.base, &lim, sent) < 0 || ws_close(&w) < 0)
        goto out;
    *send_s = (double)(now_ns() - lim.start) / 1e9;
    deadline = now_ns() + LG_GRACE_MS * NS_PER_MS;
    while (atomic_load(&rx->received) < *sent && now_ns() < deadline)
        sleep_ms(10);
    rc = 0;
out:
    *errors = w.errors;
    if (w.first_error[0])
        fprintf(stderr, "loadgen: first error answer: %s\n", w.first_error);
    ws_free(&w);
    return rc;
}

static int cmd_latency(struct opts *o)
{
    struct receiver rx;
    pthread_t th;
    long long sent = 0, errors = 0;
    double send_s = 0;
    int rc = -1, started = 0;

    if (o->rate <= 0)
        o->rate = 1000;
    if (rx_init(&rx, (size_t)(o->rate * run_seconds(o)) + 16) < 0 || need_port(o) < 0 ||
        rx_listen(&rx, o->webhook_port) < 0)
        goto out;
    printf("webhook_port=%lld\n", rx.port);
    fflush(stdout);
    rx.run_start = now_ns();
    if (pthread_create(&th, NULL, rx_thread, &rx) != 0) {
        fail("cannot start the receiver thread");
        goto out;
    }
    started = 1;
    if (latency_send(o, &rx, &sent, &errors, &send_s) < 0)
        goto out;
    rc = 0;
out:
    if (started) {
        atomic_store(&rx.stop, 1);
        pthread_join(th, NULL);
    }
    if (rc == 0)
        print_latency(o, &rx, sent, errors, send_s);
    rx_free(&rx);
    return rc;
}

/* ---------------------------------------------------------------- Alerta alerts */

enum amode { AM_NEW, AM_DUP, AM_CORR, AM_PACED, AM_BATCH, AM_FILL, AM_QUERY, AM_NMODES };

static const char *const amode_names[AM_NMODES] = {"new",   "dup",  "corr", "paced",
                                                   "batch", "fill", "query"};

static const char *const k_env[] = {"Production", "Development"};
static const char *const k_sev[] = {"critical", "major", "minor", "warning"};
static const char *const k_event[] = {"HighCPU",   "DiskFull",       "NodeDown",     "HighLatency",
                                      "ErrorRate", "MemoryPressure", "QueueBacklog", "CertExpiry"};
static const char *const k_label[] = {"app", "job", "zone", "cluster"}; /* after "instance" */

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* splitmix64's finaliser: alert i's content is a function of (seed, i) alone, whatever the
 * connection or the order it is sent in. */
static uint64_t mix64(uint64_t x)
{
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

/* An alert body is a head written per alert (the resource, and the "instance" label: what makes
 * it unique) and one of LG_ALERT_VARIANTS tails rendered once from the seed (event,
 * environment, severity, service, value, text, tags, 5 attributes, the other labels), in two
 * severities: the variant's own and the next one (corr alternates them). Owner frees with
 * apool_free(). */
struct apool {
    struct sbuf all;
    size_t *off, *len; /* [variant * 2 + alt] */
    size_t max_tail;
    uint64_t seed;
    int labels;
    const char *prefix;
};

static void apool_free(struct apool *p)
{
    sb_free(&p->all);
    free(p->off);
    free(p->len);
    p->off = p->len = NULL;
}

static int atail(struct sbuf *b, const struct apool *p, uint64_t h, size_t sev)
{
    const char *ev = k_event[h % NELEM(k_event)];
    unsigned u = (unsigned)(h >> 32);

    for (int k = 1; k < p->labels; k++) {
        const char *l = k_label[k - 1];
        if (sb_printf(b, ",\"%s\":\"%s-%u\"", l, l, (u >> (4 * k)) % 16) < 0)
            return -1;
    }
    if (p->labels > 0 && sb_puts(b, "}") < 0)
        return -1;
    return sb_printf(b,
                     ",\"event\":\"%s\",\"environment\":\"%s\",\"severity\":\"%s\","
                     "\"service\":[\"svc-%u\"],\"group\":\"Performance\",\"value\":\"%u\","
                     "\"text\":\"%s above its threshold\",\"tags\":[\"bench\",\"dc-%u\"],"
                     "\"attributes\":{\"region\":\"region-%u\",\"team\":\"team-%u\","
                     "\"tier\":\"tier-%u\",\"runbook\":\"https://runbook.example/%s\","
                     "\"owner\":\"owner-%u\"},\"origin\":\"tocsin-loadgen\","
                     "\"type\":\"exceptionAlert\"}",
                     ev, k_env[(h >> 8) % NELEM(k_env)], k_sev[sev], u % 64, (u >> 6) % 100, ev,
                     (u >> 13) % 8, (u >> 16) % 12, (u >> 20) % 40, (u >> 26) % 3, ev,
                     (unsigned)((h >> 16) % 500));
}

static int apool_build(struct apool *p, const struct opts *o)
{
    sb_init(&p->all, LG_BODY_MAX);
    p->seed = (uint64_t)o->seed;
    p->labels = (int)o->labels;
    p->prefix = o->id_prefix;
    p->max_tail = 0;
    p->off = calloc(LG_ALERT_VARIANTS * 2, sizeof *p->off);
    p->len = calloc(LG_ALERT_VARIANTS * 2, sizeof *p->len);
    if (!p->off || !p->len)
        return fail("out of memory");
    for (size_t v = 0; v < LG_ALERT_VARIANTS * 2; v++) {
        uint64_t h = mix64(p->seed * LG_ALERT_VARIANTS + v / 2);
        size_t sev = (size_t)((h >> 40) % NELEM(k_sev));
        p->off[v] = p->all.len;
        if (atail(&p->all, p, h, (sev + v % 2) % NELEM(k_sev)) < 0)
            return -1;
        p->len[v] = p->all.len - p->off[v];
        if (p->len[v] > p->max_tail)
            p->max_tail = p->len[v];
    }
    return 0;
}

static char *put_str(char *d, const char *s)
{
    size_t n = strlen(s);

    memcpy(d, s, n);
    return d + n;
}

static char *put_u64(char *d, uint64_t v)
{
    char t[20];
    size_t n = 0;

    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *d++ = t[--n];
    return d;
}

/* Appends alert i: a new alert's resource is "<prefix>-<i>", a key's "<prefix>-k<i>" (dup and
 * corr); alt 1 takes the variant's second severity. */
static int alert_append(struct sbuf *b, const struct apool *p, uint64_t i, int key, int alt)
{
    size_t v =
        (size_t)(mix64(p->seed ^ (i << 1 | (uint64_t)key)) % LG_ALERT_VARIANTS) * 2 + (size_t)alt;
    char *s, *d;

    if (sb_reserve(b, LG_HEAD_MAX + p->len[v]) < 0)
        return -1;
    s = d = b->p + b->len;
    d = put_str(d, "{\"resource\":\"");
    d = put_str(d, p->prefix);
    d = put_str(d, key ? "-k" : "-");
    d = put_u64(d, i);
    *d++ = '"';
    if (p->labels > 0) {
        d = put_str(d, ",\"labels\":{\"instance\":\"10.");
        d = put_u64(d, (i >> 16) & 255);
        *d++ = '.';
        d = put_u64(d, (i >> 8) & 255);
        *d++ = '.';
        d = put_u64(d, i & 255);
        d = put_str(d, ":9100\"");
    }
    memcpy(d, p->all.p + p->off[v], p->len[v]);
    d += p->len[v];
    b->len += (size_t)(d - s);
    b->p[b->len] = '\0';
    return 0;
}

/* created / duplicates / correlated, from POST /api/v1/alerts answers. */
struct acounts {
    long long created, duplicates, correlated;
};

static void acounts_add(struct acounts *a, const char *body)
{
    static const char *const kc[] = {"created"}, *const kd[] = {"duplicates"},
                             *const kr[] = {"correlated"};

    a->created += (long long)or_zero(json_num(body, kc, 1));
    a->duplicates += (long long)or_zero(json_num(body, kd, 1));
    a->correlated += (long long)or_zero(json_num(body, kr, 1));
}

/* One keep-alive connection of a closed-loop run: at most one request in flight. */
struct aconn {
    struct hconn h;
    struct sbuf req, body;
    struct hresp hr;
    size_t idx;
    int busy;
    int64_t sent_at, not_before;
    long long items;    /* alerts in the request in flight */
    uint64_t key, pass; /* dup, corr: this connection's next key and passes over its keys */
};

/* One run, driven by one thread over every connection (poll), so loadgen costs the two shared
 * cores little: a few µs per request. */
struct arun {
    const struct opts *o;
    enum amode mode;
    const struct apool *pool;
    struct aconn *c;
    size_t nc;
    const char *path;
    int64_t start, end, last;
    long long quota, issued; /* alerts; quota 0 = until end */
    long long requests, ok, non201, repeats;
    long long late; /* paced: requests sent over LG_LATE_MS after their time */
    struct acounts n, warm;
    int64_t *lat; /* ns per request */
    size_t nlat, lat_cap;
    long long lat_dropped;
    struct stats before, after; /* the daemon's, around the timed part */
    char first_error[200];
};

static void arun_free(struct arun *r)
{
    for (size_t i = 0; r->c && i < r->nc; i++) {
        hconn_close(&r->c[i].h);
        sb_free(&r->c[i].req);
        sb_free(&r->c[i].body);
        sb_free(&r->c[i].hr.body);
    }
    free(r->c);
    free(r->lat);
    r->c = NULL;
    r->lat = NULL;
}

static int single_mode(enum amode m)
{
    return m == AM_NEW || m == AM_DUP || m == AM_CORR || m == AM_PACED;
}

static int arun_init(struct arun *r, const struct opts *o, enum amode mode, const struct apool *p)
{
    memset(r, 0, sizeof *r);
    r->o = o;
    r->mode = mode;
    r->pool = p;
    r->nc = (size_t)o->conns;
    r->path = single_mode(mode) ? "/alerta/alert" : "/api/v1/alerts";
    r->quota = o->count;
    r->lat_cap = LG_LAT_MAX;
    r->c = calloc(r->nc, sizeof *r->c);
    r->lat = malloc(r->lat_cap * sizeof *r->lat); /* pages are touched only as samples come */
    if (!r->c || !r->lat)
        return fail("out of memory");
    for (size_t i = 0; i < r->nc; i++) {
        struct aconn *c = &r->c[i];
        hconn_init(&c->h, o);
        sb_init(&c->req, LG_BODY_MAX);
        sb_init(&c->body, LG_BODY_MAX);
        sb_init(&c->hr.body, LG_BODY_MAX);
        c->idx = c->key = i;
    }
    return 0;
}

/* paced: change i is change number seq = first_seq + i / keys of alert i % keys: seq 0 creates
 * it (critical), each later one flips its severity; its attributes carry seq and sent_ns
 * (CLOCK_REALTIME ns, taken as the request is built, just before it is written). */
static int paced_append(struct sbuf *b, const struct opts *o, long long i)
{
    long long k = i % o->keys, seq = o->first_seq + i / o->keys;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return sb_printf(b,
                     "{\"resource\":\"%s-%lld\",\"event\":\"%s\",\"environment\":\"Production\","
                     "\"severity\":\"%s\",\"service\":[\"bench\"],\"origin\":\"tocsin-loadgen\","
                     "\"attributes\":{\"seq\":\"%lld\",\"sent_ns\":\"%lld\"}}",
                     o->id_prefix, k, o->event ? o->event : "BenchLatency",
                     seq % 2 ? "major" : "critical", seq,
                     (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

/* Builds the connection's next request: one alert, or up to --batch as an array. */
static int aconn_next(struct arun *r, struct aconn *c)
{
    const struct opts *o = r->o;
    long long n = 1;
    int rc = 0;

    c->body.len = 0;
    if (r->mode == AM_PACED) {
        rc = paced_append(&c->body, o, r->issued);
    } else if (r->mode == AM_DUP || r->mode == AM_CORR) {
        rc = alert_append(&c->body, r->pool, c->key, 1,
                          r->mode == AM_CORR ? (int)((c->pass + 1) & 1) : 0);
        c->key += r->nc;
        if (c->key >= (uint64_t)o->keys) {
            c->key = c->idx;
            c->pass++;
        }
    } else if (r->mode == AM_NEW) {
        rc = alert_append(&c->body, r->pool, (uint64_t)(o->offset + r->issued), 0, 0);
    } else {
        n = o->batch;
        if (r->quota > 0 && r->quota - r->issued < n)
            n = r->quota - r->issued;
        rc = sb_puts(&c->body, "[");
        for (long long k = 0; rc == 0 && k < n; k++) {
            if (k > 0)
                rc = sb_puts(&c->body, ",");
            if (rc == 0)
                rc = alert_append(&c->body, r->pool, (uint64_t)(o->offset + r->issued + k), 0, 0);
        }
        if (rc == 0)
            rc = sb_puts(&c->body, "]");
    }
    c->req.len = 0;
    if (rc != 0 || http_head(&c->req, o, "POST", r->path, c->body.len) < 0 ||
        sb_add(&c->req, c->body.p, c->body.len) < 0)
        return -1;
    r->issued += n;
    c->items = n;
    return 0;
}

static int aconn_send(struct arun *r, struct aconn *c)
{
    if (aconn_next(r, c) < 0 || hconn_open(&c->h) < 0)
        return -1;
    c->sent_at = now_ns();
    if (write_all(c->h.fd, c->req.p, c->req.len) < 0)
        return -1;
    c->busy = 1;
    r->requests++;
    return 0;
}

/* 1 when a whole response is buffered (or its head, when the whole cannot fit: the parser then
 * reads the rest, blocking at most 10 s), 0 when more must come first. */
static int resp_ready(const struct rd *r)
{
    const unsigned char *p = r->buf + r->start;
    const unsigned char *he = memmem(p, rd_avail(r), "\r\n\r\n", 4);
    size_t hl;
    long long clen;

    if (!he)
        return 0;
    hl = (size_t)(he - p) + 4;
    clen = hdr_content_length((const char *)p, hl);
    if (clen < 0) /* no length (the parser reads to EOF) or a bad one (it says so) */
        return 1;
    return rd_avail(r) >= hl + (size_t)clen || hl + (size_t)clen > r->cap;
}

static void arun_lat(struct arun *r, int64_t ns)
{
    if (r->nlat < r->lat_cap)
        r->lat[r->nlat++] = ns;
    else
        r->lat_dropped++;
}

static void aconn_result(struct arun *r, struct aconn *c, int64_t now)
{
    const struct hresp *hr = &c->hr;

    if (hr->status == 201) {
        r->ok += c->items;
        if (single_mode(r->mode)) {
            if (memmem(hr->body.p, hr->body.len, "\"repeat\":true", 13))
                r->repeats++;
        } else {
            acounts_add(&r->n, hr->body.p);
        }
        return;
    }
    if (r->non201++ == 0)
        snprintf(r->first_error, sizeof r->first_error, "status %d: %.160s", hr->status,
                 hr->body.p ? hr->body.p : "");
    if (hr->status == 429 || hr->status == 503)
        c->not_before = now + NS_PER_MS; /* back-pressure: do not spin */
}

/* Reads what arrived on a busy connection; handles the answer once it is whole. */
static int aconn_read(struct arun *r, struct aconn *c)
{
    int64_t now;
    int f = rd_fill(&c->h.rd, MSG_DONTWAIT);

    if (f < 0)
        return -1;
    if (!resp_ready(&c->h.rd))
        return 0;
    if (http_read_response(&c->h.rd, &c->hr) < 0)
        return -1;
    now = now_ns();
    arun_lat(r, now - c->sent_at);
    r->last = now;
    c->busy = 0;
    if (c->hr.close)
        hconn_close(&c->h); /* hconn_open reconnects for the next request */
    aconn_result(r, c, now);
    return 0;
}

static int arun_more(const struct arun *r, int64_t now)
{
    return now < r->end && (r->quota == 0 || r->issued < r->quota);
}

/* paced: when the next request is due (absolute schedule from the start); 0 otherwise. */
static int64_t arun_due(const struct arun *r)
{
    if (r->mode != AM_PACED)
        return 0;
    return r->start + (int64_t)((double)r->issued * (double)NS_PER_S / r->o->rate);
}

/* Sends on a free connection unless the schedule says later (then *wake is lowered). */
static int aconn_maybe_send(struct arun *r, struct aconn *c, int64_t now, int64_t *wake)
{
    int64_t due = arun_due(r);

    if (c->busy || !arun_more(r, now))
        return 0;
    if (c->not_before > now || due > now) {
        int64_t t = c->not_before > due ? c->not_before : due;
        *wake = t < *wake ? t : *wake;
        return 0;
    }
    if (due && now - due > LG_LATE_MS * NS_PER_MS)
        r->late++;
    return aconn_send(r, c);
}

/* Polls the busy connections once; sends again on every one that answered. */
static int arun_poll(struct arun *r, int64_t wake)
{
    struct pollfd pf[LG_MAX_CONNS];
    size_t map[LG_MAX_CONNS], np = 0;
    int64_t now = now_ns();
    int n;

    for (size_t i = 0; i < r->nc; i++) {
        if (!r->c[i].busy)
            continue;
        if (now - r->c[i].sent_at > LG_IO_TIMEOUT_MS * NS_PER_MS)
            return fail("connection %zu: no answer for %d ms", i, LG_IO_TIMEOUT_MS);
        if (r->c[i].sent_at + LG_IO_TIMEOUT_MS * NS_PER_MS < wake)
            wake = r->c[i].sent_at + LG_IO_TIMEOUT_MS * NS_PER_MS;
        pf[np].fd = r->c[i].h.fd;
        pf[np].events = POLLIN;
        pf[np].revents = 0;
        map[np++] = i;
    }
    if (np == 0) {
        sleep_until_ns(wake);
        return 0;
    }
    n = poll(pf, (nfds_t)np, wake > now ? (int)((wake - now) / NS_PER_MS) + 1 : 0);
    if (n < 0)
        return errno == EINTR ? 0 : fail("poll: %s", strerror(errno));
    for (size_t k = 0; k < np && n > 0; k++) {
        struct aconn *c = &r->c[map[k]];
        if (!pf[k].revents)
            continue;
        n--;
        if (aconn_read(r, c) < 0)
            return fail("connection %zu: %s", map[k], lg_err);
        if (aconn_maybe_send(r, c, now_ns(), &wake) < 0)
            return fail("connection %zu: %s", map[k], lg_err);
    }
    return 0;
}

/* The closed loop: every connection sends, waits for its answer, sends again, until the
 * duration or the count is reached; then the answers in flight are awaited (10 s at most). */
static int arun_loop(struct arun *r)
{
    r->start = r->last = now_ns();
    r->end = r->start + (int64_t)(run_seconds(r->o) * (double)NS_PER_S);
    for (;;) {
        int64_t now = now_ns(), wake = now + LG_IO_TIMEOUT_MS * NS_PER_MS;
        int busy = 0;
        for (size_t i = 0; i < r->nc; i++) {
            struct aconn *c = &r->c[i];
            if (aconn_maybe_send(r, c, now, &wake) < 0)
                return fail("connection %zu: %s", i, lg_err);
            busy |= c->busy;
        }
        if (!busy && !arun_more(r, now))
            return 0;
        if (arun_poll(r, wake) < 0)
            return -1;
    }
}

/* dup and corr: sends every key once with its first severity, in untimed batches, so that the
 * timed run meets only known keys in a known state. */
static int alerts_warm(const struct opts *o, const struct apool *p, struct acounts *w)
{
    struct hconn c;
    struct sbuf req, body;
    struct hresp hr = {0};
    int rc = -1;

    hconn_init(&c, o);
    sb_init(&req, LG_BODY_MAX);
    sb_init(&body, LG_BODY_MAX);
    sb_init(&hr.body, LG_BODY_MAX);
    for (long long k = 0; k < o->keys; k += LG_MAX_BATCH) {
        body.len = req.len = 0;
        if (sb_puts(&body, "[") < 0)
            goto out;
        for (long long j = k; j < o->keys && j < k + LG_MAX_BATCH; j++)
            if ((j > k && sb_puts(&body, ",") < 0) || alert_append(&body, p, (uint64_t)j, 1, 0) < 0)
                goto out;
        if (sb_puts(&body, "]") < 0 || http_head(&req, o, "POST", "/api/v1/alerts", body.len) < 0 ||
            sb_add(&req, body.p, body.len) < 0 || http_call(&c, req.p, req.len, &hr) < 0)
            goto out;
        if (hr.status != 201) {
            fail("warm-up POST /api/v1/alerts: status %d: %.200s", hr.status, hr.body.p);
            goto out;
        }
        acounts_add(w, hr.body.p);
    }
    rc = 0;
out:
    hconn_close(&c);
    sb_free(&req);
    sb_free(&body);
    sb_free(&hr.body);
    return rc;
}

static void print_alerts(struct arun *r, double secs)
{
    const struct opts *o = r->o;
    char p50[32], p99[32], mx[32], st[32], hb[32];

    qsort(r->lat, r->nlat, sizeof *r->lat, cmp_i64);
    printf("mode=alerts-%s conns=%zu batch=%lld requests=%lld sent=%lld alerts=%lld "
           "seconds=%.3f alerts_per_s=%.0f errors=%lld p50_ms=%s p99_ms=%s max_ms=%s",
           amode_names[r->mode], r->nc, single_mode(r->mode) ? 1LL : o->batch, r->requests,
           r->issued, r->ok, secs, secs > 0 ? (double)r->ok / secs : 0.0, r->non201,
           fmt_ms(p50, sizeof p50, pct_ms(r->lat, r->nlat, 0.50)),
           fmt_ms(p99, sizeof p99, pct_ms(r->lat, r->nlat, 0.99)),
           fmt_ms(mx, sizeof mx, pct_ms(r->lat, r->nlat, 1.0)));
    if (single_mode(r->mode))
        printf(" repeats=%lld", r->repeats);
    if (r->mode == AM_PACED)
        printf(" rate=%.0f late=%lld", r->o->rate, r->late);
    else
        printf(" created=%lld duplicates=%lld correlated=%lld", r->n.created, r->n.duplicates,
               r->n.correlated);
    if (r->mode == AM_DUP || r->mode == AM_CORR)
        printf(" keys=%lld warm_created=%lld warm_duplicates=%lld warm_correlated=%lld", o->keys,
               r->warm.created, r->warm.duplicates, r->warm.correlated);
    printf(" daemon_created=%s daemon_duplicates=%s daemon_correlated=%s stored=%s heap_bytes=%s",
           fmt_num(p50, sizeof p50, r->after.a_created - r->before.a_created),
           fmt_num(p99, sizeof p99, r->after.a_dups - r->before.a_dups),
           fmt_num(mx, sizeof mx, r->after.a_corr - r->before.a_corr),
           fmt_num(st, sizeof st, r->after.a_stored), fmt_num(hb, sizeof hb, r->after.a_heap));
    printf(" labels=%lld offset=%lld next_offset=%lld samples=%zu samples_dropped=%lld\n",
           o->labels, o->offset, o->offset + r->issued, r->nlat, r->lat_dropped);
    fflush(stdout);
}

static int alerts_load(struct opts *o, enum amode mode)
{
    struct apool p = {0};
    struct arun r = {0};
    int rc = -1;

    if (o->conns == 0)
        o->conns = single_mode(mode) ? LG_ALERT_CONNS : LG_ALERT_BATCH_CONNS;
    if (o->batch == 0)
        o->batch = single_mode(mode) ? 1 : LG_MAX_BATCH;
    if ((mode == AM_DUP || mode == AM_CORR) && o->keys < o->conns) {
        fail("--keys (%lld) must be at least --conns (%lld)", o->keys, o->conns);
        goto out;
    }
    if (apool_build(&p, o) < 0 || arun_init(&r, o, mode, &p) < 0)
        goto out;
    for (size_t i = 0; i < r.nc; i++) /* connected before the clock starts */
        if (hconn_open(&r.c[i].h) < 0)
            goto out;
    if ((mode == AM_DUP || mode == AM_CORR) && alerts_warm(o, &p, &r.warm) < 0)
        goto out;
    if (stats_get(o, &r.before) < 0 || arun_loop(&r) < 0 || stats_get(o, &r.after) < 0)
        goto out;
    print_alerts(&r, (double)(r.last - r.start) / 1e9);
    if (r.non201 > 0)
        fprintf(stderr, "loadgen: %lld answers were not 201; the first: %s\n", r.non201,
                r.first_error);
    rc = 0;
out:
    arun_free(&r);
    apool_free(&p);
    return rc;
}

/* Sequential GET <path>?<query> (path /alerta/alerts unless --path): one request at a time, as a
 * UI refreshing would. */
static int alerts_query(struct opts *o)
{
    static const char *const kt[] = {"total"};
    const char *q = o->query ? o->query : LG_QUERY_DEFAULT;
    long long n = o->count > 0 ? o->count : LG_DEFAULT_QUERIES, errors = 0, done = 0;
    struct hconn c;
    struct sbuf req;
    struct hresp hr = {0};
    int64_t *lat = NULL, t0 = now_ns(), end;
    double total = NAN, bytes = 0;
    char p50[32], p99[32], mx[32], tot[32], first[200] = "";
    int rc = -1;

    hconn_init(&c, o);
    sb_init(&req, 4096);
    sb_init(&hr.body, LG_BODY_MAX);
    end = t0 + (int64_t)(run_seconds(o) * (double)NS_PER_S);
    if (n > LG_MAX_QUERIES) {
        fail("--count must be at most %d for queries", LG_MAX_QUERIES);
        goto out;
    }
    lat = calloc((size_t)n, sizeof *lat);
    if (!lat || sb_printf(&req,
                          "GET %s?%s HTTP/1.1\r\nHost: %s:%lld\r\n"
                          "User-Agent: tocsin-loadgen\r\n\r\n",
                          o->path ? o->path : "/alerta/alerts", q, o->host, o->port) < 0) {
        fail("out of memory");
        goto out;
    }
    for (; done < n && now_ns() < end; done++) {
        int64_t t = now_ns();
        if (http_call(&c, req.p, req.len, &hr) < 0)
            goto out;
        lat[done] = now_ns() - t;
        bytes += (double)hr.body.len;
        if (hr.status != 200 && errors++ == 0)
            snprintf(first, sizeof first, "status %d: %.160s", hr.status, hr.body.p);
        if (hr.status == 200 && isnan(total))
            total = json_num(hr.body.p, kt, 1);
    }
    qsort(lat, (size_t)done, sizeof *lat, cmp_i64);
    printf("mode=alerts-query path=%s query=%s count=%lld seconds=%.3f errors=%lld total=%s "
           "avg_bytes=%.0f p50_ms=%s p99_ms=%s max_ms=%s\n",
           o->path ? o->path : "/alerta/alerts", q, done, (double)(now_ns() - t0) / 1e9, errors,
           fmt_num(tot, sizeof tot, total), done ? bytes / (double)done : 0.0,
           fmt_ms(p50, sizeof p50, pct_ms(lat, (size_t)done, 0.5)),
           fmt_ms(p99, sizeof p99, pct_ms(lat, (size_t)done, 0.99)),
           fmt_ms(mx, sizeof mx, pct_ms(lat, (size_t)done, 1.0)));
    fflush(stdout);
    if (errors > 0)
        fprintf(stderr, "loadgen: %lld answers were not 200; the first: %s\n", errors, first);
    rc = 0;
out:
    free(lat);
    hconn_close(&c);
    sb_free(&req);
    sb_free(&hr.body);
    return rc;
}

/* Letters, digits, '.', '_' and '-' only: the prefix goes into JSON unescaped. */
static int check_prefix(const char *s)
{
    if (!*s ||
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(s))
        return fail("--id-prefix '%s': letters, digits, '.', '_' and '-' only", s);
    return 0;
}

static int cmd_alerts(struct opts *o)
{
    size_t m = 0;

    if (need_port(o) < 0 || check_prefix(o->id_prefix) < 0)
        return -1;
    if (!o->mode)
        return fail("--mode is required: new, dup, corr, paced, batch, fill or query");
    while (m < AM_NMODES && strcmp(o->mode, amode_names[m]) != 0)
        m++;
    if (m == AM_NMODES)
        return fail("--mode '%s': new, dup, corr, paced, batch, fill or query", o->mode);
    if (m == AM_PACED && o->rate <= 0)
        return fail("--mode paced needs --rate");
    if (o->event && (strlen(o->event) > 64 || strpbrk(o->event, "\"\\")))
        return fail("--event: at most 64 characters, no quote or backslash");
    if (o->query && strpbrk(o->query, " \t\r\n#"))
        return fail("--query must be a URL query string (no spaces, no '#')");
    if (o->path && (strncmp(o->path, "/alerta/", 8) || strlen(o->path) > 64 ||
                    strspn(o->path, "abcdefghijklmnopqrstuvwxyz0123456789/_-") != strlen(o->path)))
        return fail("--path: a path under /alerta/ (lower-case letters, digits, '/', '_', '-')");
    if (m == AM_FILL && o->count <= 0)
        return fail("--mode fill needs --count");
    if (m == AM_QUERY)
        return alerts_query(o);
    return alerts_load(o, (enum amode)m);
}

/* ---------------------------------------------------------------- small helpers */

static int cmd_stats(struct opts *o)
{
    struct stats st;
    char a[32], b[32], c[32];

    if (need_port(o) < 0 || stats_get(o, &st) < 0)
        return -1;
    printf("received=%.0f processed=%.0f rejected=%.0f engine_p50_us=%s engine_p99_us=%s "
           "engine_max_us=%s",
           st.received, st.processed, st.rejected, fmt_num(a, sizeof a, st.p50),
           fmt_num(b, sizeof b, st.p99), fmt_num(c, sizeof c, st.max));
    printf(" alerts_stored=%s alerts_heap_bytes=%s\n", fmt_num(a, sizeof a, st.a_stored),
           fmt_num(b, sizeof b, st.a_heap));
    return 0;
}

/* The kB of a "Name:   123 kB" line of /proc/PID/status, or -1 if it is not that line. */
static long long status_kb(const char *line, const char *name)
{
    size_t n = strlen(name);
    char *end = NULL;
    long long kb;

    if (strncmp(line, name, n) != 0 || line[n] != ':')
        return -1;
    errno = 0;
    kb = strtoll(line + n + 1, &end, 10);
    return (errno || end == line + n + 1 || kb < 0) ? -1 : kb;
}

/* VmRSS, and its anonymous (heap, stacks) and file-backed (mapped files: SQLite's mmap of the
 * database) parts. */
static int cmd_rss(struct opts *o)
{
    static const char *const names[] = {"VmRSS", "RssAnon", "RssFile"};
    char path[64], line[256];
    long long kb[3] = {-1, -1, -1};
    FILE *f;

    if (o->pid <= 0)
        return fail("--pid is required");
    snprintf(path, sizeof path, "/proc/%lld/status", o->pid);
    f = fopen(path, "r");
    if (!f)
        return fail("%s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f))
        for (size_t i = 0; i < 3; i++)
            if (kb[i] < 0)
                kb[i] = status_kb(line, names[i]);
    fclose(f);
    if (kb[0] < 0)
        return fail("no VmRSS in %s", path);
    printf("pid=%lld rss_mib=%.1f", o->pid, (double)kb[0] / 1024.0);
    if (kb[1] >= 0 && kb[2] >= 0)
        printf(" anon_mib=%.1f file_mib=%.1f", (double)kb[1] / 1024.0, (double)kb[2] / 1024.0);
    printf("\n");
    return 0;
}

static int cmd_freeport(struct opts *o)
{
    struct receiver rx;
    int rc;

    (void)o;
    memset(&rx, 0, sizeof rx);
    rc = rx_listen(&rx, 0);
    if (rc == 0)
        printf("%lld\n", rx.port);
    if (rx.lfd >= 0)
        close(rx.lfd);
    return rc;
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
    fputs("usage: tocsin-loadgen COMMAND [--host 127.0.0.1] [--port P] [options]\n"
          "  ws       --conns N --duration S [--batch B] [--rate R] [--count N]\n"
          "  http     --conns N --duration S --batch B [--count N]\n"
          "  triggers --count N [--fire-ratio X] [--threshold T] [--source REQUEST]\n"
          "           [--webhook URL] [--id-prefix bench]\n"
          "  latency  --rate R --duration S [--webhook-port P]\n"
          "  alerts   --mode new|dup|corr [--conns 50] --duration S [--keys 4000]\n"
          "           --mode paced --rate R --duration S [--conns 16] [--keys 1000]\n"
          "             [--event E] [--first-seq N]   (attributes seq and sent_ns)\n"
          "           --mode batch|fill [--conns 4] [--batch 1000] [--duration S] [--count N]\n"
          "           --mode query [--count 100] [--query 'status=open&page-size=50']\n"
          "             [--path /alerta/alerts]\n"
          "           [--id-prefix bench] [--offset 0] [--seed 1] [--labels 5]\n"
          "  stats\n"
          "  rss      --pid P\n"
          "  freeport\n"
          "Durations are at most 60 s; hosts must be loopback. Output: one key=value line.\n",
          stderr);
}

struct cmd {
    const char *name;
    int (*fn)(struct opts *o);
};

int main(int argc, char **argv)
{
    static const struct cmd cmds[] = {
        {"ws", cmd_ws},           {"http", cmd_http},         {"triggers", cmd_triggers},
        {"latency", cmd_latency}, {"alerts", cmd_alerts},     {"stats", cmd_stats},
        {"rss", cmd_rss},         {"freeport", cmd_freeport},
    };
    struct opts o = {.host = "127.0.0.1",
                     .fire_ratio = 0.01,
                     .threshold = NAN,
                     .source = "REQUEST",
                     .id_prefix = "bench",
                     .keys = LG_ALERT_KEYS,
                     .labels = LG_MAX_LABELS,
                     .seed = 1};
    size_t k = 0;
    int rc;

    if (argc < 2) {
        usage();
        return 2;
    }
    while (k < sizeof cmds / sizeof cmds[0] && strcmp(argv[1], cmds[k].name) != 0)
        k++;
    if (k == sizeof cmds / sizeof cmds[0] || parse_args(argc, argv, &o) < 0) {
        if (k < sizeof cmds / sizeof cmds[0])
            fprintf(stderr, "loadgen: %s\n", lg_err);
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    rc = cmds[k].fn(&o);
    if (rc < 0)
        fprintf(stderr, "loadgen %s: error: %s\n", argv[1], lg_err);
    return rc < 0 ? 1 : rc;
}
