/* The notifier: backoff arithmetic, and end-to-end deliveries against a tiny HTTP server run by
 * the test on 127.0.0.1 (port 0) in a thread. Backoff base is 1 ms so retries need no waiting
 * for time to pass; the only waits are bounded waits for I/O results (10 s at most). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/model.h"
#include "util/smap.h"
#include "notify/backoff.h"
#include "notify/notifier.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#ifndef TOCSIN_VERSION
#define TOCSIN_VERSION "dev"
#endif

#define WAIT_MS 10000
#define MAX_REQS 128
#define REQ_MAX 65536

/* ---- backoff ---- */

static void test_backoff_bounds(void **state)
{
    static const uint64_t randoms[] = {0, 1, 2, 49, 50, 51, 12345, 0x7fffffffffffffffULL,
                                       UINT64_MAX};
    int64_t prev_ceiling = 0;

    (void)state;
    /* attempt 1: ceiling = base; delay in [base/2, base] */
    assert_int_equal(backoff_delay_ms(1, 100, 10000, 0), 50);
    assert_int_equal(backoff_delay_ms(1, 100, 10000, 50), 100); /* 50 + 50 % 51 */
    assert_int_equal(backoff_delay_ms(1, 100, 10000, 51), 50);  /* wraps */
    assert_int_equal(backoff_delay_ms(0, 100, 10000, 0), 50);   /* 0 counts as 1 */
    assert_int_equal(backoff_delay_ms(3, 100, 10000, 0), 200);  /* ceiling 400 */
    assert_int_equal(backoff_delay_ms(3, 100, 10000, 200), 400);

    for (unsigned a = 1; a < 80; a++) {
        int64_t ceiling = a - 1 < 20 && (100 << (a - 1)) < 10000 ? 100 << (a - 1) : 10000;
        /* the smallest delay is half the ceiling, the largest the ceiling */
        int64_t lo = backoff_delay_ms(a, 100, 10000, 0);
        int64_t hi = backoff_delay_ms(a, 100, 10000, (uint64_t)(ceiling - ceiling / 2));
        assert_int_equal(lo, ceiling / 2);
        assert_int_equal(hi, ceiling);
        assert_true(ceiling >= prev_ceiling); /* monotone, capped */
        prev_ceiling = ceiling;
        for (size_t i = 0; i < sizeof(randoms) / sizeof(randoms[0]); i++) {
            int64_t d = backoff_delay_ms(a, 100, 10000, randoms[i]);
            assert_in_range(d, ceiling / 2, ceiling);
        }
    }
    assert_int_equal(prev_ceiling, 10000);
    /* no overflow at absurd attempts or bases */
    assert_in_range(backoff_delay_ms(UINT32_MAX, 1000, 300000, UINT64_MAX), 150000, 300000);
    assert_in_range(backoff_delay_ms(2, INT64_MAX / 2, INT64_MAX, 7), INT64_MAX / 2,
                    INT64_MAX);
    /* degenerate inputs */
    assert_int_equal(backoff_delay_ms(1, 0, 1000, 5), 0);
    assert_in_range(backoff_delay_ms(1, 5000, 1000, 5), 500, 1000); /* max < base */
    assert_in_range(backoff_delay_ms(4, 1, 2, UINT64_MAX), 1, 2);
}

/* ---- a scripted HTTP server ---- */

struct srv {
    int fd, port;
    int wake[2]; /* a pipe: writing to it stops the server */
    pthread_t th;
    pthread_mutex_t mu;
    int script[8];
    size_t nscript, served;
    const char *resp_body;
    char *req[MAX_REQS]; /* raw requests as received */
    size_t nreq;
};

/* Reads one request (headers and Content-Length body) from c into buf. */
static size_t read_request(int c, char *buf, size_t cap)
{
    size_t len = 0, want = 0;
    char *hdr_end = NULL;

    while (len < cap - 1) {
        ssize_t r = recv(c, buf + len, cap - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        if (!hdr_end && (hdr_end = strstr(buf, "\r\n\r\n"))) {
            char *cl = strcasestr(buf, "\r\ncontent-length:");
            want = (size_t)(hdr_end + 4 - buf);
            if (cl && cl < hdr_end)
                want += (size_t)strtoul(cl + 17, NULL, 10);
        }
        if (hdr_end && len >= want)
            break;
    }
    buf[len] = '\0';
    return len;
}

static void serve_one(struct srv *s, int c)
{
    char *buf = malloc(REQ_MAX), resp[512];
    struct timeval tv = {.tv_sec = 5};
    int status, n;

    assert_non_null(buf);
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    read_request(c, buf, REQ_MAX);
    pthread_mutex_lock(&s->mu);
    status = s->script[s->served < s->nscript ? s->served : s->nscript - 1];
    s->served++;
    if (s->nreq < MAX_REQS)
        s->req[s->nreq++] = strdup(buf);
    pthread_mutex_unlock(&s->mu);
    n = snprintf(resp, sizeof(resp),
                 "HTTP/1.1 %d Scripted\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n%s",
                 status, strlen(s->resp_body), s->resp_body);
    if (send(c, resp, (size_t)n, MSG_NOSIGNAL) < 0)
        fprintf(stderr, "test server: send: %s\n", strerror(errno));
    free(buf);
}

static void *srv_run(void *arg)
{
    struct srv *s = arg;

    for (;;) {
        struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN},
                              {.fd = s->wake[0], .events = POLLIN}};
        int c;

        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        serve_one(s, c);
        close(c);
    }
    return NULL;
}

/* Starts a server answering the statuses in `script` in turn (the last one repeats). */
static struct srv *srv_start(const int *script, size_t nscript, const char *body)
{
    struct srv *s = calloc(1, sizeof(*s));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);

    assert_non_null(s);
    assert_true(nscript > 0 && nscript <= 8);
    memcpy(s->script, script, nscript * sizeof(*script));
    s->nscript = nscript;
    s->resp_body = body;
    pthread_mutex_init(&s->mu, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->fd >= 0);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pipe(s->wake), 0);
    assert_int_equal(pthread_create(&s->th, NULL, srv_run, s), 0);
    return s;
}

static void srv_stop(struct srv *s)
{
    assert_int_equal(write(s->wake[1], "x", 1), 1);
    pthread_join(s->th, NULL);
    close(s->fd);
    close(s->wake[0]);
    close(s->wake[1]);
    for (size_t i = 0; i < s->nreq; i++)
        free(s->req[i]);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static size_t srv_count(struct srv *s)
{
    size_t n;

    pthread_mutex_lock(&s->mu);
    n = s->nreq;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* A port nobody listens on (bound, then closed). */
static int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- collecting results ---- */

/* A copy of what the result callback was told about one attempt. */
struct info_copy {
    uint32_t n;
    int64_t at_ms, duration_ms, seen_wall; /* seen_wall: when the callback ran (same clock) */
    int http;
    char *error; /* NULL when the attempt's error was NULL */
    char *response;
};

struct results {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct notify_rec *r[MAX_REQS];
    struct info_copy info[MAX_REQS]; /* info[i] goes with r[i] */
    size_t n;
};

static void results_init(struct results *res)
{
    pthread_condattr_t ca;

    memset(res, 0, sizeof(*res));
    pthread_mutex_init(&res->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&res->cv, &ca);
    pthread_condattr_destroy(&ca);
}

static void results_free(struct results *res)
{
    for (size_t i = 0; i < res->n; i++) {
        notify_rec_free(res->r[i]);
        free(res->info[i].error);
        free(res->info[i].response);
    }
    pthread_mutex_destroy(&res->mu);
    pthread_cond_destroy(&res->cv);
}

/* Now on the clock the notifier is given (clock_real: wall time at start + monotonic). */
static int64_t notifier_now(void)
{
    struct clock c = clock_real();

    return c.now_ms(c.ud);
}

static void on_result(void *ud, struct notify_rec *rec, const struct notify_attempt_info *at)
{
    struct results *res = ud;

    assert_int_equal(at->n, rec->attempts); /* the attempt reported is the record's last */

    assert_non_null(at->response);
    pthread_mutex_lock(&res->mu);
    if (res->n < MAX_REQS) {
        res->info[res->n] = (struct info_copy){.n = at->n,
                                               .at_ms = at->at_ms,
                                               .duration_ms = at->duration_ms,
                                               .seen_wall = notifier_now(),
                                               .http = at->http,
                                               .error = at->error ? strdup(at->error) : NULL,
                                               .response = strdup(at->response)};
        res->r[res->n++] = rec;
    } else
        notify_rec_free(rec);
    pthread_cond_broadcast(&res->cv);
    pthread_mutex_unlock(&res->mu);
}

/* Waits (at most WAIT_MS) until `want` results have arrived. */
static bool wait_results(struct results *res, size_t want)
{
    struct timespec ts;
    bool ok;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&res->mu);
    while (res->n < want)
        if (pthread_cond_timedwait(&res->cv, &res->mu, &ts) != 0)
            break;
    ok = res->n >= want;
    pthread_mutex_unlock(&res->mu);
    return ok;
}

static struct notify_rec *find_result(struct results *res, const char *id, size_t nth)
{
    for (size_t i = 0; i < res->n; i++)
        if (strcmp(res->r[i]->id, id) == 0 && nth-- == 0)
            return res->r[i];
    return NULL;
}

/* The first request holding needle, and how many do (requests stay until srv_stop). */
static const char *find_request_n(struct srv *s, const char *needle, size_t *count)
{
    const char *first = NULL;
    size_t n = 0;

    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nreq; i++)
        if (strstr(s->req[i], needle) && n++ == 0)
            first = s->req[i];
    pthread_mutex_unlock(&s->mu);
    if (count)
        *count = n;
    return first;
}

static const char *find_request(struct srv *s, const char *needle)
{
    return find_request_n(s, needle, NULL);
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = strcasestr(hay, needle); p; p = strcasestr(p + 1, needle))
        n++;
    return n;
}

static struct notify_rec *mk_rec(const char *id, const char *method, const char *url,
                                 const char *headers, const char *body)
{
    struct notify_rec *n = calloc(1, sizeof(*n));

    assert_non_null(n);
    snprintf(n->id, sizeof(n->id), "%s", id);
    snprintf(n->alert_id, sizeof(n->alert_id), "alert-1");
    n->trigger_id = strdup("trigger-1");
    n->channel = strdup("webhook-notifier");
    n->method = strdup(method);
    n->url = strdup(url);
    n->headers_json = strdup(headers);
    n->body = strdup(body);
    n->tls_verify = true;
    n->status = NOTIFY_PENDING;
    return n;
}

static char *url_of(const struct srv *s, const char *path)
{
    char u[128];

    snprintf(u, sizeof(u), "http://127.0.0.1:%d%s", s->port, path);
    return strdup(u);
}

static struct notifier *start(const struct notifier_cfg *cfg, struct results *res)
{
    struct notifier *n = notifier_new(cfg, clock_real(), on_result, res);

    assert_non_null(n);
    assert_int_equal(notifier_start(n), TOCSIN_OK);
    return n;
}

static const struct notifier_cfg fast = {
    .concurrency = 4, .timeout_ms = 5000, .backoff_base_ms = 1, .backoff_max_ms = 2,
    .max_attempts = 5};

/* ---- deliveries ---- */

static void test_retry_then_deliver(void **state)
{
    static const int script[] = {500, 500, 200};
    struct srv *s = srv_start(script, 3, "boom");
    char *u = url_of(s, "/hook");
    struct results res;
    struct notifier *n;
    struct notifier_stats st;
    size_t nreq = 0;

    (void)state;
    results_init(&res);
    n = start(&fast, &res);
    assert_int_equal(notifier_submit(n, mk_rec("n-retry", "POST", u, "[]", "{}")), TOCSIN_OK);
    assert_true(wait_results(&res, 3));
    notifier_stop(n, 1000);

    assert_int_equal(res.n, 3);
    assert_int_equal(res.r[0]->status, NOTIFY_PENDING);
    assert_int_equal(res.r[0]->attempts, 1);
    assert_int_equal(res.r[0]->last_http_status, 500);
    assert_string_equal(res.r[0]->last_error, "HTTP 500: boom");
    assert_int_equal(res.r[0]->max_attempts, 5); /* the record had 0: it gets the config's */
    assert_true(res.r[0]->next_ms >= res.r[0]->updated_ms);
    assert_true(res.r[0]->next_ms <= res.r[0]->updated_ms + 2);
    assert_int_equal(res.r[1]->status, NOTIFY_PENDING);
    assert_int_equal(res.r[1]->attempts, 2);
    assert_int_equal(res.r[2]->status, NOTIFY_DELIVERED);
    assert_int_equal(res.r[2]->attempts, 3);
    assert_int_equal(res.r[2]->last_http_status, 200);
    assert_null(res.r[2]->last_error);

    assert_int_equal(srv_count(s), 3);
    find_request_n(s, "\r\nX-Tocsin-Notification: n-retry\r\n", &nreq);
    assert_int_equal(nreq, 3); /* the same idempotency key on every attempt */
    notifier_get_stats(n, &st);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.retried, 2);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.in_flight, 0);
    notifier_free(n);
    results_free(&res);
    srv_stop(s);
    free(u);
}

static void test_failed_after_max_attempts(void **state)
{
    static const int script[] = {503};
    struct notifier_cfg cfg = fast;
    struct srv *s = srv_start(script, 1, "server\texploded");
    char *u = url_of(s, "/hook");
    struct results res;
    struct notifier *n;
    struct notify_rec *r = mk_rec("n-fail", "POST", u, "[]", "x");
    struct notifier_stats st;

    (void)state;
    cfg.max_excerpt = 8;
    r->max_attempts = 3; /* the record's own budget wins over the config's 5 */
    results_init(&res);
    n = start(&cfg, &res);
    assert_int_equal(notifier_submit(n, r), TOCSIN_OK);
    assert_true(wait_results(&res, 3));
    notifier_stop(n, 1000);

    assert_int_equal(res.n, 3);
    assert_int_equal(res.r[0]->status, NOTIFY_PENDING);
    assert_int_equal(res.r[1]->status, NOTIFY_PENDING);
    assert_int_equal(res.r[2]->status, NOTIFY_FAILED);
    assert_int_equal(res.r[2]->attempts, 3);
    assert_int_equal(res.r[2]->last_http_status, 503);
    assert_string_equal(res.r[2]->last_error, "HTTP 503: server e"); /* 8 bytes, tab as space */
    assert_int_equal(srv_count(s), 3);
    notifier_get_stats(n, &st);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.retried, 2);
    assert_int_equal(st.delivered, 0);
    notifier_free(n);
    results_free(&res);
    srv_stop(s);
    free(u);
}

static void test_request_exactly_as_given(void **state)
{
    static const int script[] = {204};
    struct srv *s = srv_start(script, 1, "");
    char *u = url_of(s, "/hook/a?q=1&r=%20x");
    char *g = url_of(s, "/get");
    struct results res;
    struct notifier *n;
    const char *req;

    (void)state;
    results_init(&res);
    n = start(&fast, &res);
    assert_int_equal(
        notifier_submit(n, mk_rec("n-put", "PUT", u,
                                  "[{\"name\":\"X-Custom\",\"value\":\"abc 123\"},"
                                  "{\"name\":\"Content-Type\",\"value\":\"application/x-test\"},"
                                  "{\"name\":\"User-Agent\",\"value\":\"spoof\"},"
                                  "{\"name\":\"X-Empty\",\"value\":\"\"}]",
                                  "hello\nworld")),
        TOCSIN_OK);
    assert_int_equal(notifier_submit(n, mk_rec("n-get", "get", g, "[]", "")), TOCSIN_OK);
    assert_true(wait_results(&res, 2));
    notifier_stop(n, 1000);
    assert_int_equal(find_result(&res, "n-put", 0)->status, NOTIFY_DELIVERED);
    assert_int_equal(find_result(&res, "n-get", 0)->status, NOTIFY_DELIVERED);

    req = find_request(s, "PUT /hook/a?q=1&r=%20x HTTP/1.1\r\n");
    assert_non_null(req);
    assert_non_null(strstr(req, "\r\nX-Custom: abc 123\r\n"));
    assert_non_null(strstr(req, "\r\nContent-Type: application/x-test\r\n"));
    assert_int_equal(count_of(req, "\r\nContent-Type:"), 1);
    assert_non_null(strstr(req, "\r\nX-Empty:\r\n"));
    assert_non_null(strstr(req, "\r\nUser-Agent: tocsin/" TOCSIN_VERSION "\r\n"));
    assert_int_equal(count_of(req, "\r\nUser-Agent:"), 1);
    assert_non_null(strstr(req, "\r\nX-Tocsin-Notification: n-put\r\n"));
    assert_null(strcasestr(req, "\r\nExpect:"));
    assert_string_equal(strstr(req, "\r\n\r\n") + 4, "hello\nworld");

    req = find_request(s, "GET /get HTTP/1.1\r\n");
    assert_non_null(req);
    assert_null(strcasestr(req, "\r\nContent-Type:"));
    assert_non_null(strstr(req, "\r\nX-Tocsin-Notification: n-get\r\n"));
    notifier_free(n);
    results_free(&res);
    srv_stop(s);
    free(u);
    free(g);
}

static void test_content_type_default(void **state)
{
    static const int script[] = {200};
    struct srv *s = srv_start(script, 1, "ok");
    char *u = url_of(s, "/ct");
    struct results res;
    struct notifier *n;
    const char *req;

    (void)state;
    results_init(&res);
    n = start(&fast, &res);
    assert_int_equal(notifier_submit(n, mk_rec("n-json", "POST", u, "[]", "{\"a\":[1,2]}")), 0);
    assert_int_equal(notifier_submit(n, mk_rec("n-text", "POST", u, "[]", "{not json")), 0);
    assert_true(wait_results(&res, 2));
    notifier_stop(n, 1000);

    req = find_request(s, "X-Tocsin-Notification: n-json");
    assert_non_null(req);
    assert_non_null(strstr(req, "\r\nContent-Type: application/json\r\n"));
    req = find_request(s, "X-Tocsin-Notification: n-text");
    assert_non_null(req);
    assert_non_null(strstr(req, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    notifier_free(n);
    results_free(&res);
    srv_stop(s);
    free(u);
}

static void test_permanent_failures(void **state)
{
    static const char *const ids[] = {"n-ftp", "n-malformed", "n-method", "n-header"};
    struct results res;
    struct notifier *n;

    (void)state;
    results_init(&res);
    n = start(&fast, &res);
    assert_int_equal(notifier_submit(n, mk_rec(ids[0], "POST", "ftp://127.0.0.1/x", "[]", "")),
                     0);
    assert_int_equal(notifier_submit(n, mk_rec(ids[1], "POST", "http://[::1", "[]", "")), 0);
    assert_int_equal(notifier_submit(n, mk_rec(ids[2], "P0ST", "http://127.0.0.1/", "[]", "")),
                     0);
    assert_int_equal(
        notifier_submit(n, mk_rec(ids[3], "POST", "http://127.0.0.1/",
                                  "[{\"name\":\"X-A\",\"value\":\"a\\r\\nX-Injected: 1\"}]", "")),
        0);
    assert_true(wait_results(&res, 4));
    notifier_stop(n, 1000);
    assert_int_equal(res.n, 4);
    for (size_t i = 0; i < 4; i++) {
        struct notify_rec *r = find_result(&res, ids[i], 0);
        assert_non_null(r);
        assert_int_equal(r->status, NOTIFY_FAILED);
        assert_int_equal(r->attempts, 1);
        assert_int_equal(r->last_http_status, 0);
        assert_non_null(r->last_error);
        assert_true(strlen(r->last_error) > 0);
    }
    notifier_free(n);
    results_free(&res);
}

static void test_connection_refused_retries(void **state)
{
    struct notifier_cfg cfg = fast;
    struct results res;
    struct notifier *n;
    char u[64];

    (void)state;
    cfg.max_attempts = 2;
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", closed_port());
    results_init(&res);
    n = start(&cfg, &res);
    assert_int_equal(notifier_submit(n, mk_rec("n-refused", "POST", u, "[]", "{}")), 0);
    assert_true(wait_results(&res, 2));
    notifier_stop(n, 1000);
    assert_int_equal(res.r[0]->status, NOTIFY_PENDING);
    assert_int_equal(res.r[1]->status, NOTIFY_FAILED);
    assert_int_equal(res.r[1]->last_http_status, 0);
    assert_non_null(res.r[1]->last_error);
    assert_null(strstr(res.r[1]->last_error, "HTTP "));
    assert_true(strlen(res.r[1]->last_error) > 0);
    notifier_free(n);
    results_free(&res);
}

static char *save_env(const char *name)
{
    const char *v = getenv(name);

    return v ? strdup(v) : NULL;
}

static void restore_env(const char *name, char *v)
{
    if (v)
        setenv(name, v, 1);
    else
        unsetenv(name);
    free(v);
}

static void test_proxy_from_environment_only_when_asked(void **state)
{
    static const int script[] = {200};
    struct notifier_cfg cfg = fast;
    struct srv *s = srv_start(script, 1, "ok");
    char *u = url_of(s, "/p"), proxy[64];
    char *old_proxy = save_env("http_proxy"), *old_no = save_env("no_proxy");
    char *old_no_up = save_env("NO_PROXY");
    struct notify_rec *via = mk_rec("n-via-proxy", "POST", u, "[]", "{}");
    struct results res;
    struct notifier *n;

    (void)state;
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", closed_port());
    setenv("http_proxy", proxy, 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    cfg.max_attempts = 1;
    via->use_proxy = true;
    results_init(&res);
    n = start(&cfg, &res);
    assert_int_equal(notifier_submit(n, mk_rec("n-direct", "POST", u, "[]", "{}")), 0);
    assert_int_equal(notifier_submit(n, via), 0);
    assert_true(wait_results(&res, 2));
    notifier_stop(n, 1000);
    restore_env("http_proxy", old_proxy);
    restore_env("no_proxy", old_no);
    restore_env("NO_PROXY", old_no_up);

    assert_int_equal(find_result(&res, "n-direct", 0)->status, NOTIFY_DELIVERED);
    assert_int_equal(find_result(&res, "n-via-proxy", 0)->status, NOTIFY_FAILED);
    assert_int_equal(srv_count(s), 1);
    notifier_free(n);
    results_free(&res);
    srv_stop(s);
    free(u);
}

static void test_concurrency_many(void **state)
{
    static const int script[] = {200};
    struct notifier_cfg cfg = fast;
    struct srv *s = srv_start(script, 1, "ok");
    char *u = url_of(s, "/many"), id[16];
    struct results res;
    struct notifier *n;
    struct notifier_stats st;

    (void)state;
    cfg.concurrency = 2;
    results_init(&res);
    n = start(&cfg, &res);
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof(id), "n-%d", i);
        assert_int_equal(notifier_submit(n, mk_rec(id, "POST", u, "[]", "{}")), 0);
    }
    assert_true(wait_results(&res, 12));
    notifier_stop(n, 1000);
    for (size_t i = 0; i < 12; i++)
        assert_int_equal(res.r[i]->status, NOTIFY_DELIVERED);
    notifier_get_stats(n, &st);
    assert_int_equal(st.delivered, 12);
    assert_int_equal(srv_count(s), 12);
    notifier_free(n);
    results_free(&res);
    srv_stop(s);
    free(u);
}

static void test_stop_drops_future_and_refuses(void **state)
{
    struct results res;
    struct notifier *n;
    struct notify_rec *later = mk_rec("n-later", "POST", "http://127.0.0.1:1/", "[]", "");
    struct notify_rec *after = mk_rec("n-after", "POST", "http://127.0.0.1:1/", "[]", "");
    struct notifier_stats st;

    (void)state;
    results_init(&res);
    n = start(&fast, &res);
    later->next_ms = clock_wall_ms() + 3600 * 1000;
    assert_int_equal(notifier_submit(n, later), TOCSIN_OK);
    notifier_get_stats(n, &st);
    assert_int_equal(st.queued, 1); /* in the queue or the schedule */
    notifier_stop(n, 0);
    assert_int_equal(res.n, 0);
    assert_int_equal(notifier_submit(n, after), TOCSIN_ESHUTDOWN);
    notify_rec_free(after); /* refused: still ours */
    notifier_stop(n, 0);    /* twice is fine */
    notifier_free(n);
    results_free(&res);
}

/* ---- a threaded HTTP server: one thread per connection, answers chosen per request ---- */

#define MAX_HITS 128
#define MAX_PATHS 4

/* One request as the server saw it. */
struct hit {
    char id[64];   /* X-Tocsin-Notification */
    char path[32];
    size_t nth;    /* 0-based: how many requests with this id came before */
    int64_t t0;    /* monotonic ms: request read */
    int64_t t1;    /* monotonic ms: answer sent (0 until then) */
};

/* What to answer: status, extra header lines ("Name: v\r\n"), body, delay before answering. */
struct answer {
    int status;
    int delay_ms;
    char headers[256];
    char body[256];
};

struct tsrv;
/* Chooses the answer to the nth (0-based) request for `id` on `path` (under the server's lock). */
typedef void (*tsrv_rule_fn)(struct tsrv *s, const char *id, const char *path, size_t nth,
                             struct answer *a);

struct pathstat {
    char path[32];
    unsigned now, max; /* requests being answered on this path, the most at once */
};

struct tsrv {
    int fd, port;
    int wake[2]; /* written once on stop: ends the accept loop and cuts answer delays short */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tsrv_rule_fn rule;
    void *ud;
    struct hit hits[MAX_HITS];
    size_t nhits;
    struct pathstat ps[MAX_PATHS];
    unsigned conns; /* connection threads alive */
};

struct conn {
    struct tsrv *s;
    int fd;
};

static struct pathstat *pathstat_of(struct tsrv *s, const char *path)
{
    for (size_t i = 0; i < MAX_PATHS; i++) {
        if (!s->ps[i].path[0])
            snprintf(s->ps[i].path, sizeof(s->ps[i].path), "%s", path);
        if (strcmp(s->ps[i].path, path) == 0)
            return &s->ps[i];
    }
    fail_msg("more than %d paths", MAX_PATHS);
    return NULL;
}

/* The value of header `name` ("X-A: ") in the raw request into out ("" if absent). */
static void header_value(const char *req, const char *name, char *out, size_t cap)
{
    const char *p = strcasestr(req, name), *e;

    out[0] = '\0';
    if (!p)
        return;
    p += strlen(name);
    e = strstr(p, "\r\n");
    snprintf(out, cap, "%.*s", e ? (int)(e - p) : 0, p);
}

static void *conn_run(void *arg)
{
    struct conn *c = arg;
    struct tsrv *s = c->s;
    char *buf = malloc(REQ_MAX), resp[1024], path[32] = "";
    struct timeval tv = {.tv_sec = 5};
    struct answer a = {.status = 200};
    struct pathstat *ps;
    struct hit *h = NULL;
    const char *sp;
    int n;

    assert_non_null(buf);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    read_request(c->fd, buf, REQ_MAX);
    if ((sp = strchr(buf, ' ')) != NULL)
        sscanf(sp + 1, "%31[^ ?]", path);
    pthread_mutex_lock(&s->mu);
    if (s->nhits < MAX_HITS) {
        h = &s->hits[s->nhits++];
        header_value(buf, "\r\nX-Tocsin-Notification: ", h->id, sizeof(h->id));
        snprintf(h->path, sizeof(h->path), "%s", path);
        for (size_t i = 0; i + 1 < s->nhits; i++)
            if (strcmp(s->hits[i].id, h->id) == 0)
                h->nth++;
        h->t0 = clock_mono_ms();
        s->rule(s, h->id, path, h->nth, &a);
    }
    ps = pathstat_of(s, path);
    if (++ps->now > ps->max)
        ps->max = ps->now;
    pthread_mutex_unlock(&s->mu);
    if (a.delay_ms > 0) { /* the server is slow; stop() cuts it short */
        struct pollfd p = {.fd = s->wake[0], .events = POLLIN};
        poll(&p, 1, a.delay_ms);
    }
    n = snprintf(resp, sizeof(resp),
                 "HTTP/1.1 %d Scripted\r\n%sContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n%s",
                 a.status, a.headers, strlen(a.body), a.body);
    pthread_mutex_lock(&s->mu);
    ps->now--; /* before the client can see the answer */
    if (h)
        h->t1 = clock_mono_ms();
    pthread_mutex_unlock(&s->mu);
    if (n > 0 && send(c->fd, resp, (size_t)n, MSG_NOSIGNAL) < 0)
        fprintf(stderr, "test server: send: %s\n", strerror(errno));
    close(c->fd);
    free(buf);
    pthread_mutex_lock(&s->mu);
    s->conns--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    free(c);
    return NULL;
}

static void *tsrv_run(void *arg)
{
    struct tsrv *s = arg;

    for (;;) {
        struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN},
                              {.fd = s->wake[0], .events = POLLIN}};
        struct conn *c;
        pthread_t th;
        int fd;

        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN) || (fd = accept(s->fd, NULL, NULL)) < 0)
            continue;
        c = malloc(sizeof(*c));
        assert_non_null(c);
        *c = (struct conn){.s = s, .fd = fd};
        pthread_mutex_lock(&s->mu);
        s->conns++;
        pthread_mutex_unlock(&s->mu);
        assert_int_equal(pthread_create(&th, NULL, conn_run, c), 0);
        pthread_detach(th);
    }
    return NULL;
}

static struct tsrv *tsrv_start(tsrv_rule_fn rule, void *ud)
{
    struct tsrv *s = calloc(1, sizeof(*s));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    pthread_condattr_t ca;

    assert_non_null(s);
    s->rule = rule;
    s->ud = ud;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->fd >= 0);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 64), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pipe(s->wake), 0);
    assert_int_equal(pthread_create(&s->th, NULL, tsrv_run, s), 0);
    return s;
}

/* Stops accepting, waits (bounded) for the connection threads, frees. */
static void tsrv_stop(struct tsrv *s)
{
    struct timespec ts;

    assert_int_equal(write(s->wake[1], "x", 1), 1);
    pthread_join(s->th, NULL);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&s->mu);
    while (s->conns > 0)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) != 0)
            break;
    assert_int_equal(s->conns, 0);
    pthread_mutex_unlock(&s->mu);
    close(s->fd);
    close(s->wake[0]);
    close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* Index of the nth hit for id, or -1. Read after the deliveries are reported (the server
 * writes hits before it answers). */
static int hit_index(struct tsrv *s, const char *id, size_t nth)
{
    int idx = -1;

    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nhits && idx < 0; i++)
        if (strcmp(s->hits[i].id, id) == 0 && s->hits[i].nth == nth)
            idx = (int)i;
    pthread_mutex_unlock(&s->mu);
    return idx;
}

static const struct hit *hit_of(struct tsrv *s, const char *id, size_t nth)
{
    int i = hit_index(s, id, nth);

    if (i < 0)
        fail_msg("no request %zu for %s", nth, id);
    return &s->hits[i];
}

static size_t hits_of(struct tsrv *s, const char *id)
{
    size_t n = 0;

    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nhits; i++)
        n += strcmp(s->hits[i].id, id) == 0;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static unsigned max_conc(struct tsrv *s, const char *path)
{
    unsigned m;

    pthread_mutex_lock(&s->mu);
    m = pathstat_of(s, path)->max;
    pthread_mutex_unlock(&s->mu);
    return m;
}

/* Index (in arrival order) of the result for id with the given status, or -1. */
static int result_index(struct results *res, const char *id, enum notify_status st)
{
    for (size_t i = 0; i < res->n; i++)
        if (strcmp(res->r[i]->id, id) == 0 && res->r[i]->status == st)
            return (int)i;
    return -1;
}

static char *tsrv_url(const struct tsrv *s, const char *path)
{
    char u[128];

    snprintf(u, sizeof(u), "http://127.0.0.1:%d%s", s->port, path);
    return strdup(u);
}

static void rule_ok(struct tsrv *s, const char *id, const char *path, size_t nth,
                    struct answer *a)
{
    (void)s, (void)id, (void)path, (void)nth;
    a->status = 200;
}

/* ---- channel operations for the tests: the record's body says what to do ---- */

struct tops {
    atomic_uint setups, releases;
    atomic_uint shards_c, shards_d; /* bit i: shard i set up a record of channel c / d */
    unsigned conc_c; /* limits of channel "c" (every other channel: none) */
    double rate_c;
};

struct tstate {
    struct curl_slist *h;
};

static int tops_setup(void *ud, const struct notify_rec *rec, CURL *easy, void **state,
                      char *err, size_t errlen)
{
    struct tops *o = ud;
    struct tstate *st = calloc(1, sizeof(*st));
    char hdr[128];
    CURLcode c;

    atomic_fetch_add(&o->setups, 1);
    if (rec->channel_id && !strcmp(rec->channel_id, "c"))
        atomic_fetch_or(&o->shards_c, 1u << notifier_thread_index());
    else if (rec->channel_id && !strcmp(rec->channel_id, "d"))
        atomic_fetch_or(&o->shards_d, 1u << notifier_thread_index());
    if (!st)
        return TOCSIN_ENOMEM;
    *state = st; /* released also when setup fails */
    if (strcmp(rec->body, "setup-einval") == 0) {
        snprintf(err, errlen, "bad channel config");
        return TOCSIN_EINVAL;
    }
    if (strcmp(rec->body, "setup-nothing") == 0) {
        snprintf(err, errlen, "nothing to say");
        return NOTIFIER_NOTHING_TO_SEND;
    }
    if (strcmp(rec->body, "setup-eio") == 0) {
        snprintf(err, errlen, "template broke");
        return TOCSIN_EIO;
    }
    snprintf(hdr, sizeof(hdr), "X-Tocsin-Notification: %s", rec->id);
    st->h = curl_slist_append(NULL, hdr);
    c = curl_easy_setopt(easy, CURLOPT_URL, rec->url);
    c |= curl_easy_setopt(easy, CURLOPT_HTTPHEADER, st->h);
    c |= curl_easy_setopt(easy, CURLOPT_POSTFIELDS, rec->body);
    c |= curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
    c |= curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
    return st->h && c == CURLE_OK ? TOCSIN_OK : TOCSIN_EIO;
}

static void tops_judge(void *ud, const struct notify_rec *rec, void *state, int curl_code,
                       const struct chan_resp *resp, struct notify_verdict *v)
{
    (void)ud, (void)state, (void)curl_code;
    if (strcmp(rec->body, "judge-retry") == 0 && rec->attempts == 0) {
        assert_int_equal(resp->status, 200);
        assert_true(v->ok); /* the default verdict, before the judge */
        v->ok = false;
        snprintf(v->reason, sizeof(v->reason), "judge says later");
    } else if (strcmp(rec->body, "judge-perm") == 0) {
        v->ok = false;
        v->permanent = true;
        snprintf(v->reason, sizeof(v->reason), "refused by judge");
    } else if (strcmp(rec->body, "judge-ticket") == 0) {
        v->ticket = strdup("{\"id\":\"T-1\"}");
    }
}

static void tops_release(void *ud, void *state)
{
    struct tops *o = ud;
    struct tstate *st = state;

    atomic_fetch_add(&o->releases, 1);
    curl_slist_free_all(st->h);
    free(st);
}

static void tops_limits(void *ud, const char *channel_id, unsigned *concurrency, double *rate)
{
    struct tops *o = ud;
    bool c = strcmp(channel_id, "c") == 0;

    *concurrency = c ? o->conc_c : 0;
    *rate = c ? o->rate_c : 0;
}

static const struct notifier_channel_ops test_ops = {
    .setup = tops_setup, .judge = tops_judge, .release = tops_release, .limits = tops_limits};

static struct notifier *start_ops(const struct notifier_cfg *cfg, struct results *res,
                                  struct tops *o)
{
    struct notifier *n = notifier_new(cfg, clock_real(), on_result, res);

    assert_non_null(n);
    notifier_set_channel_ops(n, &test_ops, o);
    assert_int_equal(notifier_start(n), TOCSIN_OK);
    return n;
}

/* A record of alert `alert`; through channel `channel_id` when it is not NULL. */
static struct notify_rec *mk_arec(const char *id, const char *alert, const char *channel_id,
                                  const char *url, const char *body)
{
    struct notify_rec *r = mk_rec(id, "POST", url, "[]", body);

    snprintf(r->alert_id, sizeof(r->alert_id), "%s", alert);
    if (channel_id) {
        r->channel_id = strdup(channel_id);
        assert_non_null(r->channel_id);
    }
    return r;
}

/* ---- order per (alert, channel) lane ---- */

static void rule_slow_all(struct tsrv *s, const char *id, const char *path, size_t nth,
                      struct answer *a)
{
    (void)s, (void)id, (void)path, (void)nth;
    a->status = 200;
    a->delay_ms = 150;
}

/* The records of one group in a lane go together; the next group waits for all of them, and
 * a record of no group (0) goes alone. */
static void test_lane_groups(void **state)
{
    static const char *const ids[] = {"g1-a", "g1-b", "g1-c", "g2-a", "g2-b", "g0-a"};
    static const uint64_t groups[] = {7, 7, 7, 9, 9, 0};
    struct notifier_cfg cfg = fast;
    struct tsrv *s = tsrv_start(rule_slow_all, NULL);
    char *u = tsrv_url(s, "/group");
    struct results res;
    struct notifier *n;
    int64_t g1_end = 0, g2_start = INT64_MAX, g2_end = 0;

    (void)state;
    cfg.concurrency = 8;
    results_init(&res);
    n = start(&cfg, &res);
    for (size_t i = 0; i < 6; i++) {
        struct notify_rec *r = mk_arec(ids[i], "alert-G", NULL, u, "{}");
        r->group = groups[i];
        assert_int_equal(notifier_submit(n, r), 0);
    }
    assert_true(wait_results(&res, 6));
    notifier_stop(n, 1000);
    for (size_t i = 0; i < 3; i++) { /* group 7: all three in flight at once */
        const struct hit *h = hit_of(s, ids[i], 0);
        assert_non_null(h);
        for (size_t j = 0; j < 3; j++)
            assert_true(h->t0 < hit_of(s, ids[j], 0)->t1);
        g1_end = h->t1 > g1_end ? h->t1 : g1_end;
    }
    for (size_t i = 3; i < 5; i++) { /* group 9: together, after all of group 7 */
        const struct hit *h = hit_of(s, ids[i], 0);
        g2_start = h->t0 < g2_start ? h->t0 : g2_start;
        g2_end = h->t1 > g2_end ? h->t1 : g2_end;
    }
    assert_true(g2_start >= g1_end);
    assert_true(hit_of(s, "g2-a", 0)->t0 < hit_of(s, "g2-b", 0)->t1);
    assert_true(hit_of(s, "g0-a", 0)->t0 >= g2_end); /* no group: alone, last */
    notifier_free(n);
    results_free(&res);
    tsrv_stop(s);
    free(u);
}

static void rule_lane(struct tsrv *s, const char *id, const char *path, size_t nth,
                      struct answer *a)
{
    (void)s, (void)path;
    a->status = strcmp(id, "o-1") == 0 && nth < 2 ? 500 : 200;
}

static void test_lane_order(void **state)
{
    static const char *const ids[] = {"o-1", "o-2", "o-3", "o-4"};
    struct notifier_cfg cfg = fast;
    struct tsrv *s = tsrv_start(rule_lane, NULL);
    char *u = tsrv_url(s, "/lane");
    struct results res;
    struct notifier *n;
    int prev = -1;

    (void)state;
    cfg.concurrency = 8;
    cfg.threads = 2;           /* a lane stays on one of them */
    cfg.backoff_base_ms = 300; /* each retry of o-1 waits 150..300 ms */
    cfg.backoff_max_ms = 300;
    results_init(&res);
    n = start(&cfg, &res);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(notifier_submit(n, mk_arec(ids[i], "alert-A", NULL, u, "{}")), 0);
    assert_int_equal(notifier_submit(n, mk_arec("b-1", "alert-B", NULL, u, "{}")), 0);
    assert_int_equal(notifier_submit(n, mk_arec("b-2", "alert-B", NULL, u, "{}")), 0);
    assert_true(wait_results(&res, 8)); /* o-1 three times, the five others once */
    notifier_stop(n, 1000);
    assert_int_equal(res.n, 8);

    /* The server: o-1 three times, then o-2, o-3, o-4, each after the one before was answered. */
    assert_int_equal(hits_of(s, "o-1"), 3);
    for (size_t i = 0; i < 4; i++) {
        int h = hit_index(s, ids[i], i == 0 ? 2 : 0);
        assert_int_equal(hits_of(s, ids[i]), i == 0 ? 3 : 1);
        assert_true(h > prev);
        if (i > 0)
            assert_true(s->hits[h].t0 >= s->hits[prev].t1);
        prev = h;
    }
    /* The results: delivered in submission order. */
    prev = -1;
    for (size_t i = 0; i < 4; i++) {
        int r = result_index(&res, ids[i], NOTIFY_DELIVERED);
        assert_true(r > prev);
        prev = r;
    }
    assert_int_equal(find_result(&res, "o-1", 0)->status, NOTIFY_PENDING);
    assert_int_equal(find_result(&res, "o-1", 1)->status, NOTIFY_PENDING);
    assert_int_equal(find_result(&res, "o-1", 2)->attempts, 3);
    /* Alert B's lane went on while A's first record was retrying, in its own order. */
    assert_true(result_index(&res, "b-1", NOTIFY_DELIVERED) >= 0);
    assert_true(result_index(&res, "b-1", NOTIFY_DELIVERED) <
                result_index(&res, "b-2", NOTIFY_DELIVERED));
    assert_true(result_index(&res, "b-2", NOTIFY_DELIVERED) <
                result_index(&res, "o-1", NOTIFY_DELIVERED));
    assert_true(hit_of(s, "b-2", 0)->t0 < hit_of(s, "o-1", 1)->t0);
    notifier_free(n);
    results_free(&res);
    tsrv_stop(s);
    free(u);
}

/* ---- Retry-After ---- */

static void rule_retry_after(struct tsrv *s, const char *id, const char *path, size_t nth,
                             struct answer *a)
{
    const char *form = s->ud;

    (void)path;
    a->status = 200;
    if (strcmp(id, "r-1") != 0 || nth > 0)
        return;
    a->status = 429;
    if (strcmp(form, "date") == 0) {
        /* an HTTP date 2 s ahead (1-second resolution: 1..2 s from now) */
        time_t t = time(NULL) + 2;
        struct tm tm;
        char d[64];
        gmtime_r(&t, &tm);
        strftime(d, sizeof(d), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        snprintf(a->headers, sizeof(a->headers), "Retry-After: %s\r\n", d);
    } else {
        snprintf(a->headers, sizeof(a->headers), "Retry-After: %s\r\n", form);
    }
    snprintf(a->body, sizeof(a->body), "slow down");
}

/* An alert whose lane through channel "c" the notifier's two threads route away from alert-A's
 * (they hash "<alert>\x1f<channel>"; the test checks it did, through tops.shards_c). */
static void other_shard_alert(char *out, size_t cap)
{
    uint64_t a = smap_hash("alert-A\x1f"
                           "c",
                           9);

    for (int i = 0;; i++) {
        char k[64];
        int kl;
        snprintf(out, cap, "alert-B%d", i);
        kl = snprintf(k, sizeof(k),
                      "%s\x1f"
                      "c",
                      out);
        if (smap_hash(k, (size_t)kl) % 2 != a % 2)
            return;
    }
}

/* A notifier with two threads (cfg's other settings) whose record r-1 of alert-A through channel
 * c has had its first answer and waits for a retry; alert_b names an alert whose records of c
 * the other thread takes. */
static struct notifier *r1_pending_on_two_threads(struct notifier_cfg *cfg, struct tops *o,
                                                  struct results *res, const char *u, char *alert_b,
                                                  size_t cap)
{
    struct notifier *n;

    cfg->threads = 2;
    other_shard_alert(alert_b, cap);
    results_init(res);
    n = start_ops(cfg, res, o);
    assert_int_equal(notifier_submit(n, mk_arec("r-1", "alert-A", "c", u, "x")), 0);
    assert_true(wait_results(res, 1));
    assert_int_equal(res->r[0]->status, NOTIFY_PENDING);
    return n;
}

/* r-1 gets a 429 asking to wait; r-2 (same channel, another alert, which the notifier's other
 * thread takes) is submitted right after that answer and must wait as well; r-3 (another
 * channel) goes at once. */
static void retry_after_case(const char *form, int64_t min_wait_ms)
{
    struct notifier_cfg cfg = fast;
    struct tops o = {0};
    struct tsrv *s = tsrv_start(rule_retry_after, (void *)(uintptr_t)form);
    char *u = tsrv_url(s, "/ra"), alert_b[32];
    struct results res;
    struct notifier *n;
    const struct hit *first;
    int64_t blocked_at;

    n = r1_pending_on_two_threads(&cfg, &o, &res, u, alert_b, sizeof(alert_b));
    blocked_at = clock_mono_ms();
    assert_int_equal(res.r[0]->last_http_status, 429);
    assert_string_equal(res.r[0]->last_error, "HTTP 429: slow down");
    assert_true(res.r[0]->next_ms - res.r[0]->updated_ms >= min_wait_ms);
    assert_true(res.r[0]->next_ms - res.r[0]->updated_ms <= 2000);
    assert_int_equal(notifier_submit(n, mk_arec("r-2", alert_b, "c", u, "x")), 0);
    assert_int_equal(notifier_submit(n, mk_arec("r-3", "alert-C", "d", u, "x")), 0);
    assert_true(wait_results(&res, 4));
    notifier_stop(n, 1000);

    first = hit_of(s, "r-1", 0);
    /* the retry of r-1 and the other record of channel c both waited */
    assert_true(hit_of(s, "r-1", 1)->t0 - first->t1 >= min_wait_ms - 50);
    assert_true(hit_of(s, "r-2", 0)->t0 - first->t1 >= min_wait_ms - 50);
    /* channel d was not blocked: r-3 went before the window ended */
    assert_true(hit_of(s, "r-3", 0)->t0 < blocked_at + 500);
    assert_true(hit_of(s, "r-3", 0)->t0 < hit_of(s, "r-2", 0)->t0);
    assert_int_equal(result_index(&res, "r-1", NOTIFY_DELIVERED) >= 0, 1);
    assert_int_equal(result_index(&res, "r-2", NOTIFY_DELIVERED) >= 0, 1);
    assert_int_equal(result_index(&res, "r-3", NOTIFY_DELIVERED) >= 0, 1);
    assert_int_equal(atomic_load(&o.shards_c), 3); /* r-1 and r-2 on different threads */
    notifier_free(n);
    results_free(&res);
    tsrv_stop(s);
    free(u);
}

static void test_retry_after_seconds_blocks_channel(void **state)
{
    (void)state;
    retry_after_case("1", 1000);
}

static void test_retry_after_http_date_blocks_channel(void **state)
{
    (void)state;
    retry_after_case("date", 950); /* the date has 1 s resolution: 1..2 s */
}

/* A Retry-After too large for any arithmetic is cut to an hour, not wrapped around. */
static void test_retry_after_huge_is_capped(void **state)
{
    static const char *const forms[] = {"99999999999999999999", "9223372036854775807",
                                        "9223372036854776",
                                        "Sun, 06 Nov 2147483647 08:49:37 GMT"};
    struct notifier_cfg cfg = fast;
    struct tops o = {0};
    struct results res;

    (void)state;
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct tsrv *s = tsrv_start(rule_retry_after, (void *)(uintptr_t)forms[i]);
        char *u = tsrv_url(s, "/ra");
        struct notifier *n;

        results_init(&res);
        n = start_ops(&cfg, &res, &o);
        assert_int_equal(notifier_submit(n, mk_arec("r-1", "alert-A", "c", u, "x")), 0);
        assert_true(wait_results(&res, 1));
        notifier_stop(n, 0);
        assert_int_equal(res.r[0]->status, NOTIFY_PENDING);
        assert_int_equal(res.r[0]->next_ms - res.r[0]->updated_ms, 3600LL * 1000);
        notifier_free(n);
        results_free(&res);
        tsrv_stop(s);
        free(u);
    }
}

/* ---- channel limits ---- */

/* ---- a channel back from failing ---- */

static void rule_first_of_r1_fails(struct tsrv *s, const char *id, const char *path, size_t nth,
                                   struct answer *a)
{
    (void)s, (void)path;
    a->status = strcmp(id, "r-1") == 0 && nth == 0 ? 503 : 200;
}

/* r-1 (alert-A) fails once through channel c and waits a backoff of 3-6 s; r-2, another alert's
 * record of c that the notifier's other thread takes, delivers: the channel works again, so
 * r-1's retry goes at once, though the thread that saw it deliver had seen no failure of its
 * own. */
static void test_recovery_seen_by_another_thread(void **state)
{
    struct notifier_cfg cfg = fast;
    struct tops o = {0};
    struct tsrv *s = tsrv_start(rule_first_of_r1_fails, NULL);
    char *u = tsrv_url(s, "/rec"), alert_b[32];
    struct results res;
    struct notifier *n;
    (void)state;

    cfg.backoff_base_ms = 6000;
    cfg.backoff_max_ms = 6000;
    n = r1_pending_on_two_threads(&cfg, &o, &res, u, alert_b, sizeof(alert_b));
    assert_true(res.r[0]->next_ms - res.r[0]->updated_ms >= 3000);
    assert_int_equal(notifier_submit(n, mk_arec("r-2", alert_b, "c", u, "x")), 0);
    assert_true(wait_results(&res, 3));
    notifier_stop(n, 1000);
    assert_true(result_index(&res, "r-2", NOTIFY_DELIVERED) >= 0);
    assert_true(result_index(&res, "r-1", NOTIFY_DELIVERED) >= 0);
    /* well before its own backoff (3 s at the least) */
    assert_true(hit_of(s, "r-1", 1)->t0 - hit_of(s, "r-2", 0)->t1 < 1500);
    assert_int_equal(atomic_load(&o.shards_c), 3); /* r-1 and r-2 on different threads */
    notifier_free(n);
    results_free(&res);
    tsrv_stop(s);
    free(u);
}

static void rule_slow(struct tsrv *s, const char *id, const char *path, size_t nth,
                      struct answer *a)
{
    (void)s, (void)id, (void)path, (void)nth;
    a->status = 200;
    a->delay_ms = 250;
}

static void test_channel_concurrency(void **state)
{
    struct notifier_cfg cfg = fast;
    struct tops o = {.conc_c = 2};
    struct tsrv *s = tsrv_start(rule_slow, NULL);
    char *uc = tsrv_url(s, "/c"), *ud = tsrv_url(s, "/d"), id[24], alert[24];
    struct results res;
    struct notifier *n;

    (void)state;
    cfg.concurrency = 16;
    cfg.threads = 2; /* a channel's own limits hold across the notifier's threads */
    results_init(&res);
    n = start_ops(&cfg, &res, &o);
    for (int i = 0; i < 6; i++) { /* one alert each: no lane holds them back */
        snprintf(id, sizeof(id), "c-%d", i);
        snprintf(alert, sizeof(alert), "alert-c%d", i);
        assert_int_equal(notifier_submit(n, mk_arec(id, alert, "c", uc, "x")), 0);
    }
    for (int i = 0; i < 8; i++) {
        snprintf(id, sizeof(id), "d-%d", i);
        snprintf(alert, sizeof(alert), "alert-d%d", i);
        assert_int_equal(notifier_submit(n, mk_arec(id, alert, "d", ud, "x")), 0);
    }
    assert_true(wait_results(&res, 14));
    notifier_stop(n, 1000);
    for (size_t i = 0; i < res.n; i++)
        assert_int_equal(res.r[i]->status, NOTIFY_DELIVERED);
    assert_int_equal(max_conc(s, "/c"), 2); /* reached, never passed */
    assert_true(max_conc(s, "/d") >= 3);    /* channel d has no own limit */
    assert_int_equal(atomic_load(&o.setups), 14);
    assert_int_equal(atomic_load(&o.releases), 14);
    /* all of channel c on one thread (its limits whole); channel d's lanes on both */
    assert_true(atomic_load(&o.shards_c) == 1 || atomic_load(&o.shards_c) == 2);
    assert_int_equal(atomic_load(&o.shards_d), 3);
    notifier_free(n);
    results_free(&res);
    tsrv_stop(s);
    free(uc);
    free(ud);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static void test_channel_rate(void **state)
{
    struct notifier_cfg cfg = fast;
    struct tops o = {.rate_c = 20};
    struct tsrv *s = tsrv_start(rule_ok, NULL);
    char *uc = tsrv_url(s, "/c"), *ud = tsrv_url(s, "/d"), id[24], alert[24];
    int64_t t[40], dmin = INT64_MAX, dmax = 0;
    size_t nt = 0;
    struct results res;
    struct notifier *n;

    (void)state;
    cfg.concurrency = 16;
    results_init(&res);
    n = start_ops(&cfg, &res, &o);
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof(id), "c-%d", i);
        snprintf(alert, sizeof(alert), "alert-c%d", i);
        assert_int_equal(notifier_submit(n, mk_arec(id, alert, "c", uc, "x")), 0);
    }
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "d-%d", i);
        snprintf(alert, sizeof(alert), "alert-d%d", i);
        assert_int_equal(notifier_submit(n, mk_arec(id, alert, "d", ud, "x")), 0);
    }
    assert_true(wait_results(&res, 50));
    notifier_stop(n, 1000);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nhits; i++) {
        if (strcmp(s->hits[i].path, "/c") == 0 && nt < 40)
            t[nt++] = s->hits[i].t0;
        else if (strcmp(s->hits[i].path, "/d") == 0) {
            dmin = s->hits[i].t0 < dmin ? s->hits[i].t0 : dmin;
            dmax = s->hits[i].t0 > dmax ? s->hits[i].t0 : dmax;
        }
    }
    pthread_mutex_unlock(&s->mu);
    assert_int_equal(nt, 40);
    qsort(t, nt, sizeof(t[0]), cmp_i64);
    /* 20/s: never more than 20 starts (+1 for timer slack) in any one second ... */
    for (size_t i = 0; i + 21 < nt; i++)
        assert_true(t[i + 21] - t[i] >= 1000 - 50);
    /* ... so 40 take at least ~1.5 s (20 per second after the first) */
    assert_true(t[nt - 1] - t[0] >= 1500 - 100);
    assert_true(dmax - dmin < 500); /* channel d has no rate */
    notifier_free(n);
    results_free(&res);
    tsrv_stop(s);
    free(uc);
    free(ud);
}

/* ---- channel operations: setup, judge, release ---- */

static void test_channel_ops(void **state)
{
    struct notifier_cfg cfg = fast;
    struct tops o = {0};
    struct tsrv *s = tsrv_start(rule_ok, NULL);
    char *u = tsrv_url(s, "/ops");
    struct results res;
    struct notifier *n;
    struct notify_rec *r, *eio = mk_arec("s-eio", "alert-5", "c", u, "setup-eio");
    int i;

    (void)state;
    eio->max_attempts = 2;
    results_init(&res);
    n = start_ops(&cfg, &res, &o);
    assert_int_equal(notifier_submit(n, mk_arec("s-einval", "alert-1", "c", u, "setup-einval")),
                     0);
    assert_int_equal(notifier_submit(n, mk_arec("s-nothing", "alert-2", "c", u, "setup-nothing")),
                     0);
    assert_int_equal(notifier_submit(n, mk_arec("j-retry", "alert-3", "c", u, "judge-retry")), 0);
    assert_int_equal(notifier_submit(n, mk_arec("j-perm", "alert-4", "c", u, "judge-perm")), 0);
    assert_int_equal(notifier_submit(n, eio), 0);
    assert_int_equal(notifier_submit(n, mk_arec("j-ticket", "alert-6", "c", u, "judge-ticket")),
                     0);
    assert_true(wait_results(&res, 8));
    notifier_stop(n, 1000);
    assert_int_equal(res.n, 8);

    /* setup EINVAL: failed for good at once, no request, its reason kept */
    i = result_index(&res, "s-einval", NOTIFY_FAILED);
    assert_true(i >= 0);
    assert_int_equal(res.r[i]->attempts, 1);
    assert_int_equal(res.r[i]->last_http_status, 0);
    assert_string_equal(res.r[i]->last_error, "bad channel config");
    assert_int_equal(res.info[i].n, 1);
    assert_int_equal(res.info[i].http, 0);
    assert_string_equal(res.info[i].error, "bad channel config");
    assert_int_equal(hits_of(s, "s-einval"), 0);
    /* nothing to send: delivered without a request, the reason as the attempt's response */
    i = result_index(&res, "s-nothing", NOTIFY_DELIVERED);
    assert_true(i >= 0);
    assert_int_equal(res.r[i]->attempts, 1);
    assert_null(res.r[i]->last_error);
    assert_null(res.info[i].error);
    assert_int_equal(res.info[i].http, 0);
    assert_string_equal(res.info[i].response, "nothing to say");
    assert_int_equal(hits_of(s, "s-nothing"), 0);
    /* another setup error: retried, then failed after the record's budget */
    r = find_result(&res, "s-eio", 0);
    assert_int_equal(r->status, NOTIFY_PENDING);
    assert_string_equal(r->last_error, "template broke");
    r = find_result(&res, "s-eio", 1);
    assert_int_equal(r->status, NOTIFY_FAILED);
    assert_int_equal(r->attempts, 2);
    /* judge: a 200 made into a retry, then delivered */
    r = find_result(&res, "j-retry", 0);
    assert_int_equal(r->status, NOTIFY_PENDING);
    assert_int_equal(r->last_http_status, 200);
    assert_string_equal(r->last_error, "HTTP 200: judge says later");
    r = find_result(&res, "j-retry", 1);
    assert_int_equal(r->status, NOTIFY_DELIVERED);
    assert_int_equal(r->attempts, 2);
    assert_int_equal(hits_of(s, "j-retry"), 2);
    /* judge: a 200 made into a permanent failure */
    i = result_index(&res, "j-perm", NOTIFY_FAILED);
    assert_true(i >= 0);
    assert_int_equal(res.r[i]->attempts, 1);
    assert_int_equal(res.r[i]->max_attempts, 5);
    assert_string_equal(res.r[i]->last_error, "HTTP 200: refused by judge");
    assert_int_equal(hits_of(s, "j-perm"), 1);
    /* judge: a ticket */
    i = result_index(&res, "j-ticket", NOTIFY_DELIVERED);
    assert_true(i >= 0);
    assert_non_null(res.r[i]->ticket);
    assert_string_equal(res.r[i]->ticket, "{\"id\":\"T-1\"}");
    /* one release per setup: 1 + 1 + 2 (eio) + 2 (retry) + 1 + 1 */
    assert_int_equal(atomic_load(&o.setups), 8);
    assert_int_equal(atomic_load(&o.releases), 8);
    notifier_free(n);
    results_free(&res);
    tsrv_stop(s);
    free(u);
}

/* ---- what the result callback is told ---- */

static void rule_info(struct tsrv *s, const char *id, const char *path, size_t nth,
                      struct answer *a)
{
    (void)s, (void)id, (void)path;
    if (nth == 0) {
        a->status = 500;
        a->delay_ms = 200;
        snprintf(a->body, sizeof(a->body), "bad\tnews and more");
    } else {
        a->status = 200;
        snprintf(a->body, sizeof(a->body), "fine");
    }
}

static void test_attempt_info(void **state)
{
    struct notifier_cfg cfg = fast;
    struct tsrv *s = tsrv_start(rule_info, NULL);
    char *u = tsrv_url(s, "/info"), refused[64];
    struct notify_rec *r2;
    struct results res;
    struct notifier *n;
    int64_t t_submit;
    int i;

    (void)state;
    cfg.max_excerpt = 8;
    snprintf(refused, sizeof(refused), "http://127.0.0.1:%d/x", closed_port());
    r2 = mk_arec("i-2", "alert-2", NULL, refused, "{}");
    r2->max_attempts = 1;
    results_init(&res);
    n = start(&cfg, &res);
    t_submit = notifier_now();
    assert_int_equal(notifier_submit(n, mk_arec("i-1", "alert-1", NULL, u, "{}")), 0);
    assert_int_equal(notifier_submit(n, r2), 0);
    assert_true(wait_results(&res, 3));
    notifier_stop(n, 1000);

    /* i-1, attempt 1: a slow 500 */
    for (i = 0; strcmp(res.r[i]->id, "i-1") != 0; i++)
        ;
    assert_int_equal(res.info[i].n, 1);
    assert_int_equal(res.info[i].http, 500);
    assert_true(res.info[i].duration_ms >= 190);
    assert_true(res.info[i].duration_ms < 5000);
    assert_in_range(res.info[i].at_ms, t_submit, res.info[i].seen_wall);
    assert_true(res.info[i].at_ms + res.info[i].duration_ms <= res.info[i].seen_wall + 5);
    assert_string_equal(res.info[i].error, "HTTP 500: bad news"); /* 8 bytes, tab as space */
    assert_string_equal(res.info[i].response, "bad news");
    /* i-1, attempt 2: delivered */
    i = result_index(&res, "i-1", NOTIFY_DELIVERED);
    assert_true(i >= 0);
    assert_int_equal(res.info[i].n, 2);
    assert_int_equal(res.info[i].http, 200);
    assert_null(res.info[i].error);
    assert_string_equal(res.info[i].response, "fine");
    assert_in_range(res.info[i].at_ms, t_submit, res.info[i].seen_wall);
    /* i-2: no answer at all */
    i = result_index(&res, "i-2", NOTIFY_FAILED);
    assert_true(i >= 0);
    assert_int_equal(res.info[i].n, 1);
    assert_int_equal(res.info[i].http, 0);
    assert_non_null(res.info[i].error);
    assert_true(strlen(res.info[i].error) > 0);
    assert_null(strstr(res.info[i].error, "HTTP "));
    assert_string_equal(res.info[i].response, "");
    assert_true(res.info[i].duration_ms >= 0);
    notifier_free(n);
    results_free(&res);
    tsrv_stop(s);
    free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_retry_then_deliver),
        cmocka_unit_test(test_failed_after_max_attempts),
        cmocka_unit_test(test_request_exactly_as_given),
        cmocka_unit_test(test_content_type_default),
        cmocka_unit_test(test_permanent_failures),
        cmocka_unit_test(test_connection_refused_retries),
        cmocka_unit_test(test_proxy_from_environment_only_when_asked),
        cmocka_unit_test(test_concurrency_many),
        cmocka_unit_test(test_stop_drops_future_and_refuses),
        cmocka_unit_test(test_lane_order),
        cmocka_unit_test(test_lane_groups),
        cmocka_unit_test(test_retry_after_seconds_blocks_channel),
        cmocka_unit_test(test_retry_after_http_date_blocks_channel),
        cmocka_unit_test(test_retry_after_huge_is_capped),
        cmocka_unit_test(test_recovery_seen_by_another_thread),
        cmocka_unit_test(test_channel_concurrency),
        cmocka_unit_test(test_channel_rate),
        cmocka_unit_test(test_channel_ops),
        cmocka_unit_test(test_attempt_info),
    };

    FILE *devnull = fopen("/dev/null", "w");
    int rc;

    /* Every log line is formatted (under the sanitizers) but not shown. */
    log_setup(LOG_DEBUG, devnull);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    log_setup(LOG_OFF, NULL);
    if (devnull)
        fclose(devnull);
    return rc;
}
