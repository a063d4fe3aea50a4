/* Tests for net/: a real lws server on 127.0.0.1:0 driven by net_run() in a thread, spoken to
 * with plain POSIX sockets (HTTP/1.1 and hand-made WebSocket frames). Waits are bounded by
 * socket timeouts and condition variables, never by sleeping. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/auth.h"
#include "net/keys.h"
#include "net/net.h"
#include "net/net_priv.h"
#include "util/err.h"
#include "util/log.h"

#define MAX_BODY 4096
#define MAX_FRAME 1024
#define BIG_LEN (1024 * 1024 + 123)
#define WAIT_MS 10000
#define T_WALL ((int64_t)1700000000000) /* the wall clock keys are checked against */

/* ---- the test application -------------------------------------------------------------- */

struct app {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct net *net;
    struct auth *auth;
    struct keys *keys;
    char key[KEYS_KEY_LEN + 1]; /* a valid API key of user "robot" */
    uint64_t defer_id;          /* a deferred request waiting for the completer thread */
    bool defer_ready;
    uint64_t hold_id; /* a deferred request the test completes by hand */
    int ws_opens, ws_closes;
    uint64_t last_conn;
    char last_user[32];
    bool quit;
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);

    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

static enum http_outcome on_http(void *ud, const struct http_req *req, struct http_resp *resp)
{
    struct app *a = ud;
    char name[64], body[512];

    if (!strcmp(req->path, "/hello") || !strcmp(req->path, "/health")) {
        if (!http_req_query(req, "name", name, sizeof(name)))
            memcpy(name, "world", sizeof("world"));
        snprintf(body, sizeof(body), "{\"hello\":\"%s\",\"user\":\"%s\",\"method\":\"%s\"}", name,
                 req->user ? req->user : "", req->method);
        http_resp_json(resp, 200, dup_str(body));
        return HTTP_DONE;
    }
    if (!strcmp(req->path, "/whoami")) {
        const struct principal *p = req->principal;

        assert_non_null(p);
        snprintf(body, sizeof(body), "{\"user\":\"%s\",\"kind\":%d,\"admin\":%s}", p->user,
                 (int)p->kind, p->is_admin ? "true" : "false");
        http_resp_json(resp, 200, dup_str(body));
        return HTTP_DONE;
    }
    if (!strcmp(req->path, "/echo") && !strcmp(req->method, "POST")) {
        resp->status = 200;
        resp->content_type = "text/plain";
        resp->body = malloc(req->body_len + 1);
        assert_non_null(resp->body);
        memcpy(resp->body, req->body, req->body_len + 1);
        resp->body_len = req->body_len;
        snprintf(resp->extra_headers, sizeof(resp->extra_headers), "X-Echo-Len: %zu\r\n",
                 req->body_len);
        return HTTP_DONE;
    }
    if (!strcmp(req->path, "/headers")) {
        const char *rid = http_req_header(req, "X-REQUEST-ID");
        const char *ua = http_req_header(req, "user-agent");
        const char *custom = http_req_header(req, "x-tenant");

        snprintf(body, sizeof(body), "{\"rid\":\"%s\",\"ua\":\"%s\",\"tenant\":\"%s\"}",
                 rid ? rid : "-", ua ? ua : "-", custom ? custom : "-");
        http_resp_json(resp, 200, dup_str(body));
        return HTTP_DONE;
    }
    if (!strcmp(req->path, "/big")) {
        resp->status = 200;
        resp->content_type = "application/octet-stream";
        resp->body = malloc(BIG_LEN);
        assert_non_null(resp->body);
        for (size_t i = 0; i < BIG_LEN; i++)
            resp->body[i] = (char)('a' + i % 26);
        resp->body_len = BIG_LEN;
        return HTTP_DONE;
    }
    if (!strcmp(req->path, "/defer") || !strcmp(req->path, "/hold")) {
        pthread_mutex_lock(&a->mu);
        if (!strcmp(req->path, "/defer")) {
            a->defer_id = req->id;
            a->defer_ready = true;
        } else {
            a->hold_id = req->id;
        }
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
        return HTTP_DEFERRED;
    }
    http_resp_error(resp, 404, "path", "no route for \"%s\"", req->path);
    return HTTP_DONE;
}

static bool on_ws_open(void *ud, uint64_t conn, const char *path, const struct principal *who)
{
    struct app *a = ud;
    const char *user = principal_user(who);

    if (strncmp(path, "/ws", 3))
        return false;
    pthread_mutex_lock(&a->mu);
    a->ws_opens++;
    a->last_conn = conn;
    snprintf(a->last_user, sizeof(a->last_user), "%s", user ? user : "");
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return true;
}

static void on_ws_message(void *ud, uint64_t conn, const char *data, size_t len, bool binary)
{
    struct app *a = ud;
    char reply[2048];
    int n;

    if (len == 5 && !memcmp(data, "flood", 5)) {
        for (int i = 0; i < 100; i++)
            net_ws_send(a->net, conn, "x", 1);
        return;
    }
    n = snprintf(reply, sizeof(reply), "%s:%.*s", binary ? "bin" : "txt", (int)len, data);
    net_ws_send(a->net, conn, reply, (size_t)n);
}

static void on_ws_close(void *ud, uint64_t conn)
{
    struct app *a = ud;

    (void)conn;
    pthread_mutex_lock(&a->mu);
    a->ws_closes++;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static bool authenticate(void *ud, const struct auth_credentials *cred, struct principal *who)
{
    struct app *a = ud;

    return auth_authenticate(a->auth, cred, 0, T_WALL, who) == TOCSIN_OK;
}

/* ---- running a server ------------------------------------------------------------------ */

struct server {
    struct app app;
    struct net *net;
    pthread_t loop, completer;
    int run_rc;
};

static void *loop_main(void *arg)
{
    struct server *s = arg;

    s->run_rc = net_run(s->net);
    return NULL;
}

/* Completes every /defer request from a thread of its own, as the store thread would. */
static void *completer_main(void *arg)
{
    struct server *s = arg;
    struct app *a = &s->app;

    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->defer_ready && !a->quit)
            pthread_cond_wait(&a->cv, &a->mu);
        if (a->quit)
            break;
        {
            uint64_t id = a->defer_id;
            struct http_resp resp;

            a->defer_ready = false;
            pthread_mutex_unlock(&a->mu);
            memset(&resp, 0, sizeof(resp));
            http_resp_json(&resp, 200, dup_str("{\"deferred\":true}"));
            snprintf(resp.extra_headers, sizeof(resp.extra_headers), "Retry-After: 7\r\n");
            net_complete(s->net, id, &resp);
            assert_null(resp.body);
            pthread_mutex_lock(&a->mu);
        }
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

static struct server *server_start(const char *listen, const struct net_limits *lim, bool auth)
{
    struct server *s = calloc(1, sizeof(*s));
    struct net_limits def = {
        .max_body = MAX_BODY, .max_frame = MAX_FRAME, .max_conns = 64, .ws_queue_max = 16};
    static const char *const extra[] = {"X-Tenant", NULL};
    struct net_app app = {.on_http = on_http,
                          .on_ws_open = on_ws_open,
                          .on_ws_message = on_ws_message,
                          .on_ws_close = on_ws_close,
                          .custom_headers = extra};

    assert_non_null(s);
    pthread_mutex_init(&s->app.mu, NULL);
    pthread_cond_init(&s->app.cv, NULL);
    if (auth) {
        static char hash[crypto_pwhash_STRBYTES];
        static const uint8_t pepper[KEYS_PEPPER_BYTES] = {1, 2, 3};
        struct config_user u = {.name = "alice", .password_hash = hash};
        struct key_params kp = {.user = "robot"};
        struct auth_opts o = {0};

        if (!hash[0])
            assert_int_equal(auth_hash_password("s3cret", hash), 0);
        s->app.keys = keys_new(pepper, 0);
        assert_non_null(s->app.keys);
        assert_int_equal(keys_create(s->app.keys, &kp, T_WALL, s->app.key, NULL, NULL, 0), 0);
        o.keys = s->app.keys;
        s->app.auth = auth_new_ex(&u, 1, &o, NULL, 0);
        assert_non_null(s->app.auth);
        app.authenticate = authenticate;
    }
    app.ud = &s->app;
    s->net = net_new(listen, lim ? lim : &def, &app);
    assert_non_null(s->net);
    s->app.net = s->net;
    assert_int_equal(pthread_create(&s->loop, NULL, loop_main, s), 0);
    assert_int_equal(pthread_create(&s->completer, NULL, completer_main, s), 0);
    return s;
}

static void server_stop(struct server *s)
{
    pthread_mutex_lock(&s->app.mu);
    s->app.quit = true;
    pthread_cond_broadcast(&s->app.cv);
    pthread_mutex_unlock(&s->app.mu);
    pthread_join(s->completer, NULL);
    net_stop(s->net); /* from this thread, not the loop's */
    pthread_join(s->loop, NULL);
    assert_int_equal(s->run_rc, 0);
    net_free(s->net);
    auth_free(s->app.auth);
    keys_free(s->app.keys);
    pthread_cond_destroy(&s->app.cv);
    pthread_mutex_destroy(&s->app.mu);
    free(s);
}

/* Waits (bounded) until *counter reaches want. */
static void wait_count(struct app *a, const int *counter, int want)
{
    struct timespec dl;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&a->mu);
    while (*counter < want)
        if (pthread_cond_timedwait(&a->cv, &a->mu, &dl) == ETIMEDOUT)
            break;
    assert_int_equal(*counter, want);
    pthread_mutex_unlock(&a->mu);
}

static uint64_t wait_hold(struct app *a)
{
    struct timespec dl;
    uint64_t id;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&a->mu);
    while (!a->hold_id)
        if (pthread_cond_timedwait(&a->cv, &a->mu, &dl) == ETIMEDOUT)
            break;
    id = a->hold_id;
    a->hold_id = 0;
    pthread_mutex_unlock(&a->mu);
    assert_true(id != 0);
    return id;
}

/* ---- a tiny client --------------------------------------------------------------------- */

struct client {
    int fd;
    char *buf;
    size_t len, cap;
};

struct response {
    int status;
    char head[4096];
    char *body;
    size_t body_len;
};

static int dial(const char *ip, uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {.tv_sec = WAIT_MS / 1000};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    assert_true(fd >= 0);
    assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        close(fd);
        return -1;
    }
    return fd;
}

static struct client *client_new(uint16_t port)
{
    struct client *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    c->fd = dial("127.0.0.1", port);
    assert_true(c->fd >= 0);
    c->cap = 1 << 16;
    c->buf = malloc(c->cap);
    assert_non_null(c->buf);
    return c;
}

static void client_free(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c);
}

static void send_all(struct client *c, const void *data, size_t len)
{
    const char *p = data;

    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

static void send_str(struct client *c, const char *s)
{
    send_all(c, s, strlen(s));
}

/* Reads more bytes into the buffer; false on EOF or error. */
static bool fill(struct client *c)
{
    ssize_t n;

    if (c->len == c->cap) {
        c->cap *= 2;
        c->buf = realloc(c->buf, c->cap);
        assert_non_null(c->buf);
    }
    n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (n <= 0)
        return false;
    c->len += (size_t)n;
    return true;
}

static void consume(struct client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* True if the server closed the connection (EOF) with nothing more to read. */
static bool at_eof(struct client *c)
{
    return c->len == 0 && !fill(c);
}

static size_t head_end(const struct client *c)
{
    for (size_t i = 0; i + 3 < c->len; i++)
        if (!memcmp(c->buf + i, "\r\n\r\n", 4))
            return i + 4;
    return 0;
}

static const char *head_value(const struct response *r, const char *name, char *dst, size_t dstlen)
{
    size_t nl = strlen(name);

    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2, *eol = strstr(line, "\r\n");

        if (eol && !strncasecmp(line, name, nl) && line[nl] == ':') {
            const char *v = line + nl + 1;
            size_t vl;

            while (*v == ' ')
                v++;
            vl = (size_t)(eol - v) < dstlen - 1 ? (size_t)(eol - v) : dstlen - 1;
            memcpy(dst, v, vl);
            dst[vl] = '\0';
            return dst;
        }
    }
    return NULL;
}

/* Reads one response; `head_only` for HEAD (no body follows the head). */
static void read_response(struct client *c, struct response *r, bool head_only)
{
    size_t he;
    char cl[32];

    memset(r, 0, sizeof(r->status) + sizeof(r->head));
    r->body = NULL;
    r->body_len = 0;
    while (!(he = head_end(c)))
        assert_true(fill(c));
    assert_true(he < sizeof(r->head));
    memcpy(r->head, c->buf, he);
    r->head[he] = '\0';
    assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    consume(c, he);
    if (head_value(r, "Content-Length", cl, sizeof(cl)) && !head_only)
        r->body_len = strtoull(cl, NULL, 10);
    while (c->len < r->body_len)
        assert_true(fill(c));
    r->body = malloc(r->body_len + 1);
    assert_non_null(r->body);
    memcpy(r->body, c->buf, r->body_len);
    r->body[r->body_len] = '\0';
    consume(c, r->body_len);
}

static int request(struct client *c, const char *raw, struct response *r)
{
    send_str(c, raw);
    read_response(c, r, !strncmp(raw, "HEAD ", 5));
    return r->status;
}

/* ---- WebSocket framing ----------------------------------------------------------------- */

static void ws_send_frame(struct client *c, int opcode, bool fin, const void *data, size_t len)
{
    unsigned char hdr[14], mask[4] = {0x12, 0x34, 0x56, 0x78};
    size_t hl = 0;
    unsigned char *masked = malloc(len + 1);

    assert_non_null(masked);
    hdr[hl++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        hdr[hl++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        hdr[hl++] = 0x80 | 126;
        hdr[hl++] = (unsigned char)(len >> 8);
        hdr[hl++] = (unsigned char)len;
    } else {
        hdr[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[hl++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    memcpy(hdr + hl, mask, 4);
    hl += 4;
    for (size_t i = 0; i < len; i++)
        masked[i] = (unsigned char)(((const unsigned char *)data)[i] ^ mask[i % 4]);
    send_all(c, hdr, hl);
    send_all(c, masked, len);
    free(masked);
}

/* Reads one unmasked server frame into dst (NUL-terminated). Returns the opcode. */
static int ws_read_frame(struct client *c, char *dst, size_t dstlen, size_t *len_out)
{
    size_t need = 2, len, off;
    unsigned char *b;

    while (c->len < need)
        assert_true(fill(c));
    b = (unsigned char *)c->buf;
    len = b[1] & 0x7f;
    off = 2;
    if (len == 126) {
        while (c->len < 4)
            assert_true(fill(c));
        b = (unsigned char *)c->buf;
        len = (size_t)b[2] << 8 | b[3];
        off = 4;
    }
    assert_true(len < dstlen);
    while (c->len < off + len)
        assert_true(fill(c));
    memcpy(dst, c->buf + off, len);
    dst[len] = '\0';
    *len_out = len;
    {
        int op = c->buf[0] & 0x0f;

        consume(c, off + len);
        return op;
    }
}

static void ws_handshake(struct client *c, const char *path, const char *extra, int want)
{
    char req[1024], v[128];
    struct response r;

    snprintf(req, sizeof(req),
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
             path, extra ? extra : "");
    send_str(c, req);
    read_response(c, &r, want == 101);
    assert_int_equal(r.status, want);
    if (want == 101) {
        assert_non_null(head_value(&r, "Sec-WebSocket-Accept", v, sizeof(v)));
        assert_string_equal(v, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }
    free(r.body);
}

/* ---- tests ----------------------------------------------------------------------------- */

static int setup(void **state)
{
    *state = server_start("127.0.0.1:0", NULL, false);
    return 0;
}

static int teardown(void **state)
{
    server_stop(*state);
    return 0;
}

static void test_listen_invalid(void **state)
{
    struct net_limits lim = {.max_body = 1, .max_frame = 1, .max_conns = 1, .ws_queue_max = 1};
    struct net_app app = {.on_http = on_http};
    struct server *s = *state;
    char busy[64];

    assert_null(net_new("nonsense", &lim, &app));
    assert_null(net_new("127.0.0.1:99999", &lim, &app));
    assert_null(net_new("127.0.0.1:", &lim, &app));
    assert_null(net_new("example.invalid:80", &lim, &app));
    assert_null(net_new("127.0.0.1:0", NULL, &app));
    assert_null(net_new("127.0.0.1:0", &lim, NULL));
    snprintf(busy, sizeof(busy), "127.0.0.1:%u", net_port(s->net));
    assert_null(net_new(busy, &lim, &app)); /* the port is taken */
}

static void test_bound_loopback_only(void **state)
{
    struct server *s = *state;
    int fd;

    assert_int_not_equal(net_port(s->net), 0);
    fd = dial("127.0.0.1", net_port(s->net));
    assert_true(fd >= 0);
    close(fd);
    /* 127.0.0.2 is loopback too, but a socket bound to 127.0.0.1 does not accept it. */
    fd = dial("127.0.0.2", net_port(s->net));
    assert_int_equal(fd, -1);
}

static void test_bound_any(void **state)
{
    struct server *s = server_start("0.0.0.0:0", NULL, false);
    int fd;

    (void)state;
    fd = dial("127.0.0.2", net_port(s->net)); /* the check above can tell the difference */
    assert_true(fd >= 0);
    close(fd);
    server_stop(s);
}

static void test_http_get_keepalive(void **state)
{
    struct server *s = *state;
    struct client *c = client_new(net_port(s->net));
    struct response r;
    char v[64];

    assert_int_equal(request(c, "GET /hello?x=1&name=a%20b%26c HTTP/1.1\r\nHost: t\r\n\r\n", &r),
                     200);
    assert_string_equal(r.body, "{\"hello\":\"a b&c\",\"user\":\"\",\"method\":\"GET\"}");
    assert_string_equal(head_value(&r, "Content-Type", v, sizeof(v)), "application/json");
    free(r.body);
    /* Same connection again. */
    assert_int_equal(request(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    assert_string_equal(r.body, "{\"hello\":\"world\",\"user\":\"\",\"method\":\"GET\"}");
    free(r.body);
    /* HEAD: the head with the length, no body. */
    assert_int_equal(request(c, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    assert_string_equal(head_value(&r, "Content-Length", v, sizeof(v)), "43");
    free(r.body);
    assert_int_equal(request(c, "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n", &r), 404);
    assert_string_equal(r.body, "{\"error\":\"no route for \\\"/nowhere\\\"\",\"field\":\"path\","
                                "\"status\":404}");
    free(r.body);
    /* Connection: close is honoured. */
    assert_int_equal(request(c, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n", &r), 200);
    assert_string_equal(head_value(&r, "Connection", v, sizeof(v)), "close");
    free(r.body);
    assert_true(at_eof(c));
    client_free(c);
}

static void test_http_headers(void **state)
{
    struct server *s = *state;
    struct client *c = client_new(net_port(s->net));
    struct response r;

    assert_int_equal(request(c,
                             "GET /headers HTTP/1.1\r\nHost: t\r\nX-Request-Id: r-42\r\n"
                             "User-Agent: cm/1\r\nX-Tenant: acme\r\nX-Unknown: z\r\n\r\n",
                             &r),
                     200);
    assert_string_equal(r.body, "{\"rid\":\"r-42\",\"ua\":\"cm/1\",\"tenant\":\"acme\"}");
    free(r.body);
    client_free(c);
}

static void test_http_post_echo(void **state)
{
    struct server *s = *state;
    struct client *c = client_new(net_port(s->net));
    struct response r;
    char v[32], req[8192], body[MAX_BODY];

    assert_int_equal(request(c,
                             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                             "Content-Length: 11\r\n\r\nhello world",
                             &r),
                     200);
    assert_string_equal(r.body, "hello world");
    assert_string_equal(head_value(&r, "X-Echo-Len", v, sizeof(v)), "11");
    free(r.body);
    /* Exactly max_body, sent in two pieces, on the same connection. */
    memset(body, 'b', sizeof(body));
    snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
             MAX_BODY);
    send_str(c, req);
    send_all(c, body, 100);
    send_all(c, body + 100, sizeof(body) - 100);
    read_response(c, &r, false);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, MAX_BODY);
    free(r.body);
    /* Expect: 100-continue gets its interim response first. */
    send_str(c,
             "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    read_response(c, &r, true);
    assert_int_equal(r.status, 100);
    free(r.body);
    send_str(c, "abc");
    read_response(c, &r, false);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "abc");
    free(r.body);
    client_free(c);
}

static void test_http_body_too_large(void **state)
{
    struct server *s = *state;
    struct client *c = client_new(net_port(s->net));
    struct response r;
    char req[256], *body = malloc(MAX_BODY + 1);

    assert_non_null(body);
    memset(body, 'x', MAX_BODY + 1);
    snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
             MAX_BODY + 1);
    send_str(c, req);
    send_all(c, body, MAX_BODY + 1);
    read_response(c, &r, false);
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body,
                        "{\"error\":\"request body too large\",\"field\":\"body\",\"status\":413}");
    free(r.body);
    assert_true(at_eof(c)); /* closed after */
    client_free(c);
    /* A huge Content-Length is refused before any body is sent. */
    c = client_new(net_port(s->net));
    assert_int_equal(request(c, "PUT /echo HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", &r),
                     413);
    free(r.body);
    assert_true(at_eof(c));
    client_free(c);
    free(body);
}

/* lws 4.1.6 spins forever on a request with a body pipelined behind another one; the net layer
 * answers what came before it and hangs up instead. Pipelined requests without bodies work. */
static void pipelining(struct server *s)
{
    struct client *c = client_new(net_port(s->net));
    struct response r;

    send_str(c, "GET /hello?name=1 HTTP/1.1\r\n\r\nGET /defer HTTP/1.1\r\n\r\n"
                "GET /hello?name=3 HTTP/1.1\r\n\r\n");
    read_response(c, &r, false);
    assert_string_equal(r.body, "{\"hello\":\"1\",\"user\":\"\",\"method\":\"GET\"}");
    free(r.body);
    read_response(c, &r, false);
    assert_string_equal(r.body, "{\"deferred\":true}");
    free(r.body);
    read_response(c, &r, false);
    assert_string_equal(r.body, "{\"hello\":\"3\",\"user\":\"\",\"method\":\"GET\"}");
    free(r.body);
    client_free(c);
    c = client_new(net_port(s->net));
    send_str(c, "GET /hello HTTP/1.1\r\n\r\nPOST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                "GET /hello HTTP/1.1\r\n\r\n");
    assert_int_equal((read_response(c, &r, false), r.status), 200);
    free(r.body);
    assert_true(at_eof(c));
    client_free(c);
    c = client_new(net_port(s->net));
    send_str(c, "GET /defer HTTP/1.1\r\n\r\nPUT /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    assert_int_equal((read_response(c, &r, false), r.status), 200);
    free(r.body);
    assert_true(at_eof(c));
    client_free(c);
    /* The loop is still serving; POST with an empty body is fine. */
    c = client_new(net_port(s->net));
    assert_int_equal(request(c, "POST /echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r), 200);
    assert_int_equal(r.body_len, 0);
    free(r.body);
    assert_int_equal(request(c, "POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nok", &r), 200);
    assert_string_equal(r.body, "ok");
    free(r.body);
    client_free(c);
}

/* The guard knows what lws read from the bytes recv() returned (net/rxcount.c)... */
static void test_http_pipelining(void **state)
{
    assert_true(rx_counting());
    pipelining(*state);
}

/* ... or, where those are not counted, from the kernel's counts. */
static void test_http_pipelining_kernel_counts(void **state)
{
    rx_count_use(false);
    assert_false(rx_counting());
    pipelining(*state);
    rx_count_use(true);
    assert_true(rx_counting());
}

static void test_http_bad_requests(void **state)
{
    struct server *s = *state;
    struct client *c = client_new(net_port(s->net));
    struct response r;
    size_t n = 3000;
    char *req = malloc(n + 64);

    assert_non_null(req);
    memcpy(req, "GET /", 5);
    memset(req + 5, 'p', n);
    memcpy(req + 5 + n, " HTTP/1.1\r\n\r\n", sizeof(" HTTP/1.1\r\n\r\n"));
    assert_int_equal(request(c, req, &r), 414);
    free(r.body);
    client_free(c);
    c = client_new(net_port(s->net));
    assert_int_equal(request(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r),
                     411);
    free(r.body);
    client_free(c);
    free(req);
}

static void test_http_big_response(void **state)
{
    struct server *s = *state;
    struct client *c = client_new(net_port(s->net));
    struct response r;
    bool same = true;

    assert_int_equal(request(c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    assert_int_equal(r.body_len, BIG_LEN);
    for (size_t i = 0; i < BIG_LEN && same; i++)
        same = r.body[i] == (char)('a' + i % 26);
    assert_true(same);
    free(r.body);
    assert_int_equal(request(c, "GET /hello HTTP/1.1\r\n\r\n", &r), 200);
    free(r.body);
    client_free(c);
}

static void test_http_deferred(void **state)
{
    struct server *s = *state;
    struct client *c = client_new(net_port(s->net));
    struct response r;
    char v[16];

    for (int i = 0; i < 3; i++) {
        assert_int_equal(request(c, "GET /defer HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
        assert_string_equal(r.body, "{\"deferred\":true}");
        assert_string_equal(head_value(&r, "Retry-After", v, sizeof(v)), "7");
        free(r.body);
    }
    /* With a body too. */
    assert_int_equal(request(c, "POST /defer HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", &r), 200);
    free(r.body);
    client_free(c);
}

static void test_http_deferred_client_gone(void **state)
{
    struct server *s = *state;
    struct client *c = client_new(net_port(s->net));
    struct response r;
    struct http_resp resp;
    uint64_t id;

    send_str(c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    id = wait_hold(&s->app);
    client_free(c); /* hang up before the answer */
    /* A round trip on another connection lets the loop see the hang-up first. */
    c = client_new(net_port(s->net));
    assert_int_equal(request(c, "GET /hello HTTP/1.1\r\n\r\n", &r), 200);
    free(r.body);
    memset(&resp, 0, sizeof(resp));
    http_resp_json(&resp, 200, dup_str("{\"late\":true}"));
    net_complete(s->net, id, &resp);        /* dropped and freed */
    net_complete(s->net, 987654321, &resp); /* unknown id, NULL body */
    assert_int_equal(request(c, "GET /hello HTTP/1.1\r\n\r\n", &r), 200);
    free(r.body);
    /* A deferred request still pending at shutdown is freed by net_free (checked by ASan). */
    send_str(c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_hold(&s->app);
    client_free(c);
}

static void test_ws_echo(void **state)
{
    struct server *s = *state;
    struct client *c = client_new(net_port(s->net));
    char buf[4096], big[MAX_FRAME + 10];
    size_t len;

    ws_handshake(c, "/ws?topic=a", NULL, 101);
    wait_count(&s->app, &s->app.ws_opens, 1);
    ws_send_frame(c, 1, true, "hello", 5);
    assert_int_equal(ws_read_frame(c, buf, sizeof(buf), &len), 1);
    assert_string_equal(buf, "txt:hello");
    /* A fragmented message is reassembled. */
    ws_send_frame(c, 1, false, "frag", 4);
    ws_send_frame(c, 0, false, "men", 3);
    ws_send_frame(c, 0, true, "ted", 3);
    assert_int_equal(ws_read_frame(c, buf, sizeof(buf), &len), 1);
    assert_string_equal(buf, "txt:fragmented");
    ws_send_frame(c, 2, true, "\x01\x02", 2);
    assert_int_equal(ws_read_frame(c, buf, sizeof(buf), &len), 1);
    assert_memory_equal(buf, "bin:\x01\x02", 6);
    /* Over max_frame, in one frame and in fragments: an error frame, the connection stays. */
    memset(big, 'z', sizeof(big));
    ws_send_frame(c, 1, true, big, sizeof(big));
    assert_int_equal(ws_read_frame(c, buf, sizeof(buf), &len), 1);
    assert_string_equal(buf, "{\"type\":\"ERROR\",\"error\":\"frame too large\",\"status\":413}");
    ws_send_frame(c, 1, false, big, MAX_FRAME - 1);
    ws_send_frame(c, 0, true, big, 10);
    assert_int_equal(ws_read_frame(c, buf, sizeof(buf), &len), 1);
    assert_string_equal(buf, "{\"type\":\"ERROR\",\"error\":\"frame too large\",\"status\":413}");
    ws_send_frame(c, 1, true, "still here", 10);
    assert_int_equal(ws_read_frame(c, buf, sizeof(buf), &len), 1);
    assert_string_equal(buf, "txt:still here");
    /* Ping gets a pong. */
    ws_send_frame(c, 9, true, "pg", 2);
    assert_int_equal(ws_read_frame(c, buf, sizeof(buf), &len), 10);
    assert_string_equal(buf, "pg");
    /* A frame from another thread (this one). */
    net_ws_send(s->net, s->app.last_conn, "from-test", 9);
    assert_int_equal(ws_read_frame(c, buf, sizeof(buf), &len), 1);
    assert_string_equal(buf, "from-test");
    /* Close handshake. */
    ws_send_frame(c, 8, true, "\x03\xe8", 2);
    assert_int_equal(ws_read_frame(c, buf, sizeof(buf), &len), 8);
    wait_count(&s->app, &s->app.ws_closes, 1);
    client_free(c);
    net_ws_send(s->net, s->app.last_conn, "gone", 4); /* ignored */
}

static void test_ws_refused_and_overflow(void **state)
{
    struct server *s = *state;
    struct client *c = client_new(net_port(s->net));
    char buf[256];
    size_t len;
    int op, frames = 0;

    ws_handshake(c, "/nope", NULL, 404);
    client_free(c);
    /* The app floods 100 frames into a queue of 16: the connection is closed with 1008. */
    c = client_new(net_port(s->net));
    ws_handshake(c, "/ws", NULL, 101);
    ws_send_frame(c, 1, true, "flood", 5);
    while ((op = ws_read_frame(c, buf, sizeof(buf), &len)) == 1)
        frames++;
    assert_int_equal(op, 8);
    assert_true(len >= 2);
    assert_int_equal(((unsigned char)buf[0] << 8) | (unsigned char)buf[1], 1008);
    assert_true(frames <= 16);
    client_free(c);
    wait_count(&s->app, &s->app.ws_closes, 1);
}

static void test_ws_open_at_stop(void **state)
{
    struct server *s = server_start("127.0.0.1:0", NULL, false);
    struct client *c = client_new(net_port(s->net));

    (void)state;
    ws_handshake(c, "/ws", NULL, 101);
    wait_count(&s->app, &s->app.ws_opens, 1);
    /* Stopping with the socket open still pairs on_ws_open with on_ws_close. */
    pthread_mutex_lock(&s->app.mu);
    s->app.quit = true;
    pthread_cond_broadcast(&s->app.cv);
    pthread_mutex_unlock(&s->app.mu);
    pthread_join(s->completer, NULL);
    net_stop(s->net);
    pthread_join(s->loop, NULL);
    assert_int_equal(s->app.ws_closes, 1);
    net_free(s->net);
    client_free(c);
    pthread_cond_destroy(&s->app.cv);
    pthread_mutex_destroy(&s->app.mu);
    free(s);
}

static void test_auth(void **state)
{
    struct server *s = server_start("127.0.0.1:0", NULL, true);
    struct client *c = client_new(net_port(s->net));
    struct response r;
    char v[64];
    static const char good[] = "Authorization: Basic YWxpY2U6czNjcmV0\r\n"; /* alice:s3cret */

    (void)state;
    assert_int_equal(request(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", &r), 401);
    assert_string_equal(head_value(&r, "WWW-Authenticate", v, sizeof(v)), "Basic realm=\"tocsin\"");
    assert_string_equal(r.body, "{\"error\":\"authentication required\",\"status\":401}");
    free(r.body);
    /* Wrong password, then a refused POST whose body is read and dropped (keep-alive). */
    assert_int_equal(
        request(c, "GET /hello HTTP/1.1\r\nAuthorization: Basic YWxpY2U6eA==\r\n\r\n", &r), 401);
    free(r.body);
    assert_int_equal(request(c, "POST /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd", &r), 401);
    free(r.body);
    assert_int_equal(request(c, "GET /health HTTP/1.1\r\n\r\n", &r), 200);
    free(r.body);
    /* The same connection, now with credentials. */
    send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n");
    send_str(c, good);
    send_str(c, "\r\n");
    read_response(c, &r, false);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"hello\":\"world\",\"user\":\"alice\",\"method\":\"GET\"}");
    free(r.body);
    client_free(c);
    /* WebSocket upgrades need credentials too. */
    c = client_new(net_port(s->net));
    ws_handshake(c, "/ws", NULL, 401);
    client_free(c);
    c = client_new(net_port(s->net));
    ws_handshake(c, "/ws", good, 101);
    wait_count(&s->app, &s->app.ws_opens, 1);
    assert_string_equal(s->app.last_user, "alice");
    client_free(c);
    server_stop(s);
}

/* API keys reach authenticate() from every place Alerta reads them, on HTTP and WS upgrades,
 * and the principal reaches the handler. */
static void test_api_keys(void **state)
{
    struct server *s = server_start("127.0.0.1:0", NULL, true);
    struct client *c = client_new(net_port(s->net));
    const char *key = s->app.key;
    char raw[1024], hdr[256], *longkey;
    struct response r;

    (void)state;
    snprintf(raw, sizeof(raw), "GET /whoami HTTP/1.1\r\nX-API-Key: %s\r\n\r\n", key);
    assert_int_equal(request(c, raw, &r), 200);
    assert_string_equal(r.body, "{\"user\":\"robot\",\"kind\":2,\"admin\":false}");
    free(r.body);
    snprintf(raw, sizeof(raw), "GET /whoami?x=1&api-key=%s HTTP/1.1\r\n\r\n", key);
    assert_int_equal(request(c, raw, &r), 200);
    assert_string_equal(r.body, "{\"user\":\"robot\",\"kind\":2,\"admin\":false}");
    free(r.body);
    snprintf(raw, sizeof(raw), "GET /whoami HTTP/1.1\r\nAuthorization: Key %s\r\n\r\n", key);
    assert_int_equal(request(c, raw, &r), 200);
    free(r.body);
    snprintf(raw, sizeof(raw), "GET /whoami HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n", key);
    assert_int_equal(request(c, raw, &r), 200);
    free(r.body);
    /* Basic still works and is a different kind. */
    assert_int_equal(
        request(c, "GET /whoami HTTP/1.1\r\nAuthorization: Basic YWxpY2U6czNjcmV0\r\n\r\n", &r),
        200);
    assert_string_equal(r.body, "{\"user\":\"alice\",\"kind\":1,\"admin\":false}");
    free(r.body);
    /* A wrong key is refused even next to good Basic credentials; so is an over-long one. */
    assert_int_equal(request(c,
                             "GET /whoami HTTP/1.1\r\nX-API-Key: nope\r\nAuthorization: Basic "
                             "YWxpY2U6czNjcmV0\r\n\r\n",
                             &r),
                     401);
    free(r.body);
    longkey = malloc(2048);
    assert_non_null(longkey);
    memset(longkey, 'k', 2047);
    longkey[2047] = '\0';
    snprintf(raw, sizeof(raw), "GET /whoami HTTP/1.1\r\nX-API-Key: %.900s\r\n\r\n", longkey);
    assert_int_equal(request(c, raw, &r), 401);
    free(r.body);
    free(longkey);
    client_free(c);
    /* A WebSocket upgrade with the key in the query (browsers cannot set headers there). */
    c = client_new(net_port(s->net));
    snprintf(hdr, sizeof(hdr), "/ws?api-key=%s", key);
    ws_handshake(c, hdr, NULL, 101);
    wait_count(&s->app, &s->app.ws_opens, 1);
    assert_string_equal(s->app.last_user, "robot");
    client_free(c);
    server_stop(s);
}

/* Auth off: every request is an anonymous admin. */
static void test_anonymous_admin(void **state)
{
    struct server *s = server_start("127.0.0.1:0", NULL, false);
    struct client *c = client_new(net_port(s->net));
    struct response r;

    (void)state;
    assert_int_equal(request(c, "GET /whoami HTTP/1.1\r\n\r\n", &r), 200);
    assert_string_equal(r.body, "{\"user\":\"\",\"kind\":0,\"admin\":true}");
    free(r.body);
    client_free(c);
    server_stop(s);
}

static void test_max_conns(void **state)
{
    struct net_limits lim = {
        .max_body = MAX_BODY, .max_frame = MAX_FRAME, .max_conns = 2, .ws_queue_max = 16};
    struct server *s = server_start("127.0.0.1:0", &lim, false);
    struct client *a = client_new(net_port(s->net)), *b = client_new(net_port(s->net)), *c;
    struct response r;

    (void)state;
    assert_int_equal(request(a, "GET /hello HTTP/1.1\r\n\r\n", &r), 200);
    free(r.body);
    assert_int_equal(request(b, "GET /hello HTTP/1.1\r\n\r\n", &r), 200);
    free(r.body);
    c = client_new(net_port(s->net));
    assert_int_equal(request(c, "GET /hello HTTP/1.1\r\n\r\n", &r), 503);
    assert_string_equal(r.body, "{\"error\":\"too many connections\",\"status\":503}");
    free(r.body);
    assert_true(at_eof(c));
    client_free(c);
    client_free(a);
    /* A slot is free again once the loop has seen the hang-up. */
    assert_int_equal(request(b, "GET /hello HTTP/1.1\r\n\r\n", &r), 200);
    free(r.body);
    c = client_new(net_port(s->net));
    assert_int_equal(request(c, "GET /hello HTTP/1.1\r\n\r\n", &r), 200);
    free(r.body);
    client_free(c);
    client_free(b);
    server_stop(s);
}

static void test_resp_helpers(void **state)
{
    struct http_resp r;
    struct http_header h[] = {{"content-type", "a/b"}, {"x-y", "z"}};
    struct http_req req = {.query = "a=1&b=x%20y+z&c&d=%zz&a=2", .headers = h, .nheaders = 2};
    char v[8];

    (void)state;
    memset(&r, 0, sizeof(r));
    http_resp_error(&r, 400, "name", "bad \"%s\"\n\x01", "q\xff");
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"error\":\"bad \\\"q?\\\"\\n\\u0001\",\"field\":\"name\","
                                "\"status\":400}");
    assert_int_equal(r.body_len, strlen(r.body));
    free(r.body);
    assert_string_equal(http_req_header(&req, "Content-Type"), "a/b");
    assert_null(http_req_header(&req, "nope"));
    assert_string_equal(http_req_query(&req, "a", v, sizeof(v)), "1");
    assert_string_equal(http_req_query(&req, "b", v, sizeof(v)), "x y z");
    assert_string_equal(http_req_query(&req, "c", v, sizeof(v)), "");
    assert_string_equal(http_req_query(&req, "d", v, sizeof(v)), "%zz");
    assert_null(http_req_query(&req, "e", v, sizeof(v)));
    assert_null(http_req_query(&req, "b", v, 3)); /* does not fit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resp_helpers),
        cmocka_unit_test_setup_teardown(test_listen_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound_loopback_only, setup, teardown),
        cmocka_unit_test(test_bound_any),
        cmocka_unit_test_setup_teardown(test_http_get_keepalive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_post_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_body_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_pipelining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_pipelining_kernel_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_big_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_deferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_deferred_client_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ws_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ws_refused_and_overflow, setup, teardown),
        cmocka_unit_test(test_ws_open_at_stop),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_api_keys),
        cmocka_unit_test(test_anonymous_admin),
        cmocka_unit_test(test_max_conns),
    };

    log_setup(LOG_WARN, stderr);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
