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
#include "notify/backoff.h"
#include "notify/notifier.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#ifndef TOCSIN_VERSION
#define TOCSIN_VERSION "dev"
#endif

#define WAIT_MS 10000
#define MAX_REQS 32
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

struct results {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct notify_rec *r[MAX_REQS];
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
    for (size_t i = 0; i < res->n; i++)
        notify_rec_free(res->r[i]);
    pthread_mutex_destroy(&res->mu);
    pthread_cond_destroy(&res->cv);
}

static void on_result(void *ud, struct notify_rec *rec, const struct notify_attempt_info *at)
{
    struct results *res = ud;

    assert_int_equal(at->n, rec->attempts); /* the attempt reported is the record's last */

    pthread_mutex_lock(&res->mu);
    if (res->n < MAX_REQS)
        res->r[res->n++] = rec;
    else
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
