/* The lws context, its one vhost and protocol handler, the loop, the cross-thread inbox and
 * the connection table. HTTP lives in http.c, WebSocket in ws.c. */
#include "net/net_priv.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#define STOP_DRAIN_MS 2000  /* how long net_run() waits for in-flight writes after a stop */
#define TICK_US (50 * 1000) /* loop wake-up period while draining */

/* Non-standard request headers worth collecting (lws 4.1 cannot list unknown headers, so they
 * are probed by name; net_app.custom_headers adds more). */
static const char *const builtin_custom[] = {
    "x-request-id",
    "x-correlation-id",
    "x-api-key",
    "idempotency-key",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-requested-with",
    "x-csrf-token",
    "last-event-id",
    "prefer",
    "access-control-request-method",
    "sec-fetch-site",
    "sec-fetch-mode",
    "sec-fetch-dest",
    "x-http-method-override",
    NULL,
};

/* ---- id map ---------------------------------------------------------------------------- */

static size_t slot_of(uint64_t key, size_t cap)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

static int idmap_grow(struct idmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    uint64_t *keys = calloc(ncap, sizeof(*keys));
    void **vals = calloc(ncap, sizeof(*vals));

    if (!keys || !vals) {
        free(keys);
        free(vals);
        return TOCSIN_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        size_t j;

        if (!m->keys[i])
            continue;
        for (j = slot_of(m->keys[i], ncap); keys[j]; j = (j + 1) & (ncap - 1))
            ;
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = ncap;
    return TOCSIN_OK;
}

int idmap_put(struct idmap *m, uint64_t key, void *val)
{
    size_t i;

    if ((m->len + 1) * 2 > m->cap && idmap_grow(m))
        return TOCSIN_ENOMEM;
    for (i = slot_of(key, m->cap); m->keys[i] && m->keys[i] != key; i = (i + 1) & (m->cap - 1))
        ;
    if (!m->keys[i])
        m->len++;
    m->keys[i] = key;
    m->vals[i] = val;
    return TOCSIN_OK;
}

void *idmap_get(const struct idmap *m, uint64_t key)
{
    if (!m->cap || !key)
        return NULL;
    for (size_t i = slot_of(key, m->cap); m->keys[i]; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == key)
            return m->vals[i];
    return NULL;
}

void *idmap_del(struct idmap *m, uint64_t key)
{
    size_t i, j, mask = m->cap - 1;
    void *val;

    if (!m->cap || !key)
        return NULL;
    for (i = slot_of(key, m->cap); m->keys[i] != key; i = (i + 1) & mask)
        if (!m->keys[i])
            return NULL;
    val = m->vals[i];
    /* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
    for (j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
        size_t home = slot_of(m->keys[j], m->cap);

        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->vals[i] = NULL;
    m->len--;
    return val;
}

void idmap_free(struct idmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* ---- connections ----------------------------------------------------------------------- */

void cmd_free(struct cmd *c)
{
    if (!c)
        return;
    if (c->resp) {
        free(c->resp->body);
        free(c->resp);
    }
    free(c);
}

struct net *net_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

struct conn *conn_of(struct lws *wsi)
{
    return lws_get_opaque_user_data(wsi);
}

struct conn *conn_attach(struct net *n, struct lws *wsi)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->n = n;
    c->wsi = wsi;
    c->id = ++n->next_conn_id;
    if (idmap_put(&n->conns, c->id, c)) {
        free(c);
        return NULL;
    }
    if (n->nadmitted < n->lim.max_conns) {
        c->admitted = true;
        n->nadmitted++;
    }
    buf_init(&c->body, n->lim.max_body);
    buf_init(&c->rx, n->lim.max_frame);
    lws_set_opaque_user_data(wsi, c);
    return c;
}

void conn_detach(struct lws *wsi)
{
    struct conn *c = conn_of(wsi);
    struct net *n;

    if (!c)
        return;
    n = c->n;
    lws_set_opaque_user_data(wsi, NULL);
    ws_conn_cleanup(n, c);
    http_conn_cleanup(n, c);
    idmap_del(&n->conns, c->id);
    if (c->admitted)
        n->nadmitted--;
    free(c);
}

static struct conn *need_conn(struct lws *wsi)
{
    struct conn *c = conn_of(wsi);

    return c ? c : conn_attach(net_of(wsi), wsi);
}

/* ---- cross-thread inbox ---------------------------------------------------------------- */

static void inbox_push(struct net *n, struct cmd *cmd)
{
    bool wake;

    cmd->next = NULL;
    pthread_mutex_lock(&n->mu);
    wake = !n->in_head; /* only the first item of a batch needs to wake the loop */
    if (n->in_tail)
        n->in_tail->next = cmd;
    else
        n->in_head = cmd;
    n->in_tail = cmd;
    pthread_mutex_unlock(&n->mu);
    if (wake)
        lws_cancel_service(n->ctx);
}

static struct cmd *inbox_take(struct net *n)
{
    struct cmd *all;

    pthread_mutex_lock(&n->mu);
    all = n->in_head;
    n->in_head = n->in_tail = NULL;
    pthread_mutex_unlock(&n->mu);
    return all;
}

static void inbox_drain(struct net *n)
{
    struct cmd *cmd = inbox_take(n), *next;

    for (; cmd; cmd = next) {
        next = cmd->next;
        cmd->next = NULL;
        if (cmd->kind == CMD_COMPLETE)
            http_on_complete(n, cmd);
        else
            ws_on_send(n, cmd);
    }
}

void net_complete(struct net *n, uint64_t req_id, struct http_resp *resp)
{
    struct cmd *cmd = calloc(1, sizeof(*cmd));
    struct http_resp *copy = malloc(sizeof(*copy));

    if (!cmd || !copy) {
        log_warn("http_complete_dropped", "req=%" PRIu64 " reason=enomem", req_id);
        free(cmd);
        free(copy);
        free(resp->body);
        resp->body = NULL;
        return;
    }
    *copy = *resp;
    resp->body = NULL; /* ours now */
    cmd->kind = CMD_COMPLETE;
    cmd->id = req_id;
    cmd->resp = copy;
    inbox_push(n, cmd);
}

void net_ws_send(struct net *n, uint64_t conn, const char *data, size_t len)
{
    struct cmd *cmd = malloc(sizeof(*cmd) + LWS_PRE + len);

    if (!cmd) {
        log_warn("ws_send_dropped", "conn=%" PRIu64 " reason=enomem", conn);
        return;
    }
    memset(cmd, 0, sizeof(*cmd));
    cmd->kind = CMD_WS_SEND;
    cmd->id = conn;
    cmd->len = len;
    if (len)
        memcpy(cmd->data + LWS_PRE, data, len);
    inbox_push(n, cmd);
}

/* ---- the protocol handler -------------------------------------------------------------- */

static int on_http_event(struct lws *wsi, enum lws_callback_reasons reason, void *in, size_t len)
{
    struct conn *c = need_conn(wsi);
    struct net *n = net_of(wsi);

    if (!c)
        return -1;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return http_on_request(n, c, wsi);
    case LWS_CALLBACK_HTTP_BODY:
        return http_on_body(n, c, wsi, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return http_on_body_done(n, c, wsi);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return http_on_writeable(n, c, wsi);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return ws_on_confirm_upgrade(n, c, wsi, in);
    case LWS_CALLBACK_ESTABLISHED:
        return ws_on_established(n, c, wsi);
    case LWS_CALLBACK_RECEIVE:
        return ws_on_receive(n, c, wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ws_on_writeable(n, c, wsi);
    default:
        return 0;
    }
}

static int on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        return need_conn(wsi) ? 0 : -1;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        struct net *n = net_of(wsi);

        if (n && !n->app_off) /* after net_run(), net_free() frees what is left */
            inbox_drain(n);
        return 0;
    }
    case LWS_CALLBACK_CLOSED: {
        struct conn *c = conn_of(wsi);

        if (c)
            ws_conn_cleanup(net_of(wsi), c);
        return 0;
    }
    case LWS_CALLBACK_WSI_DESTROY:
        conn_detach(wsi);
        return 0;
    case LWS_CALLBACK_RAW_ADOPT: /* lws's fallback for requests it cannot parse (CONNECT) */
        return -1;
    case LWS_CALLBACK_HTTP:
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    case LWS_CALLBACK_HTTP_WRITEABLE:
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_http_event(wsi, reason, in, len);
    default:
        return 0;
    }
}

/* One handler for HTTP and WebSocket; the empty name accepts upgrades that name no
 * subprotocol (browsers, Node ws, python websocket-client). */
static const struct lws_protocols protocols[] = {
    {"", on_event, 0, NET_RX_BUFFER, 0, NULL, NET_WHEAD + NET_WCHUNK},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- set-up ---------------------------------------------------------------------------- */

static void lws_log_sink(int level, const char *line)
{
    char msg[512], q[600];
    size_t len = strnlen(line, sizeof(msg) - 1);

    (void)level;
    memcpy(msg, line, len);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r' || msg[len - 1] == ' '))
        len--;
    msg[len] = '\0';
    log_warn("lws", "msg=%s", log_quote(q, sizeof(q), msg));
}

struct listen_addr {
    char host[64]; /* numeric address, "" for every interface */
    int af;        /* AF_INET, AF_INET6 */
    int port;
    union {
        struct in_addr v4;
        struct in6_addr v6;
    } a;
};

/* "127.0.0.1:8072", "[::1]:0", "localhost:80", ":8072", "0.0.0.0:80", "[::]:80". */
static int parse_listen(const char *s, struct listen_addr *out)
{
    const char *colon, *h = s;
    size_t hlen;
    char *end;
    long port;

    memset(out, 0, sizeof(*out));
    colon = strrchr(s, ':');
    if (!colon)
        return TOCSIN_EINVAL;
    hlen = (size_t)(colon - s);
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
        h = s + 1;
        hlen -= 2;
    }
    if (hlen >= sizeof(out->host))
        return TOCSIN_EINVAL;
    memcpy(out->host, h, hlen);
    out->host[hlen] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port < 0 || port > 65535)
        return TOCSIN_EINVAL;
    out->port = (int)port;
    if (!strcmp(out->host, "localhost"))
        memcpy(out->host, "127.0.0.1", sizeof("127.0.0.1"));
    if (!out->host[0] || !strcmp(out->host, "*"))
        memcpy(out->host, "0.0.0.0", sizeof("0.0.0.0"));
    if (inet_pton(AF_INET, out->host, &out->a.v4) == 1)
        out->af = AF_INET;
    else if (inet_pton(AF_INET6, out->host, &out->a.v6) == 1)
        out->af = AF_INET6;
    else
        return TOCSIN_EINVAL;
    return TOCSIN_OK;
}

/* Is `fd` a listening TCP socket on `port`? Then is it bound to exactly `want`? */
static int check_listener(int fd, const struct listen_addr *want, int port, bool *found)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int acc = 0;
    socklen_t al = sizeof(acc);

    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) || !acc)
        return TOCSIN_OK;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl))
        return TOCSIN_OK;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *sa = (const struct sockaddr_in *)&ss;

        if (ntohs(sa->sin_port) != port)
            return TOCSIN_OK;
        *found = true;
        return want->af == AF_INET && !memcmp(&sa->sin_addr, &want->a.v4, sizeof(want->a.v4))
                   ? TOCSIN_OK
                   : TOCSIN_EINVAL;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)&ss;

        if (ntohs(sa->sin6_port) != port)
            return TOCSIN_OK;
        *found = true;
        return want->af == AF_INET6 && !memcmp(&sa->sin6_addr, &want->a.v6, sizeof(want->a.v6))
                   ? TOCSIN_OK
                   : TOCSIN_EINVAL;
    }
    return TOCSIN_OK;
}

/* lws 4.1 has no public way to reach its listen socket, so look at every listening socket of
 * the process on our port: each must be bound to the requested address, and one must exist. */
static int verify_bound(const struct listen_addr *want, int port)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    bool found = false;
    int rc = TOCSIN_OK;

    if (!d)
        return TOCSIN_EIO;
    while (!rc && (e = readdir(d)) != NULL) {
        char *end;
        long fd;

        errno = 0;
        fd = strtol(e->d_name, &end, 10);
        if (errno || end == e->d_name || *end || fd < 0 || fd == dirfd(d) || fd > 0x7fffffff)
            continue;
        rc = check_listener((int)fd, want, port, &found);
    }
    closedir(d);
    if (!rc && !found)
        rc = TOCSIN_ENOTFOUND;
    return rc;
}

/* Binds a throw-away socket first: the address-in-use case gets a clear message, and lws 4.1.6
 * leaks memory when its own bind fails. */
static int probe_bind(const struct listen_addr *la)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd, one = 1, rc = 0;

    if (!la->port)
        return 0;
    memset(&ss, 0, sizeof(ss));
    if (la->af == AF_INET) {
        struct sockaddr_in *sa = (struct sockaddr_in *)&ss;

        sa->sin_family = AF_INET;
        sa->sin_port = htons((uint16_t)la->port);
        sa->sin_addr = la->a.v4;
        sl = sizeof(*sa);
    } else {
        struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;

        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons((uint16_t)la->port);
        sa->sin6_addr = la->a.v6;
        sl = sizeof(*sa);
    }
    fd = socket(la->af, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl))
        rc = errno;
    close(fd);
    return rc;
}

static void build_header_tables(struct net *n, const struct net_app *app)
{
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        const char *s = (const char *)lws_token_to_string((enum lws_token_indexes)t);
        size_t len = s ? strlen(s) : 0;

        /* Request headers only: "name:"; skips methods ("get "), h2 pseudo-headers and
         * the version pseudo-token. */
        if (len < 2 || s[len - 1] != ':' || s[0] == ':' || len > sizeof(n->tok[0].name))
            continue;
        n->tok[n->ntok].tok = t;
        memcpy(n->tok[n->ntok].name, s, len - 1);
        n->tok[n->ntok].name[len - 1] = '\0';
        n->ntok++;
    }
    for (int pass = 0; pass < 2; pass++) {
        const char *const *list = pass ? app->custom_headers : builtin_custom;

        for (size_t i = 0; list && list[i] && n->ncustom < NET_MAX_CUSTOM_HEADERS; i++) {
            size_t len = strlen(list[i]);
            bool dup = false;

            if (!len || len + 2 > sizeof(n->custom[0]))
                continue;
            for (size_t t = 0; t < n->ntok && !dup; t++)
                dup = !strcasecmp(n->tok[t].name, list[i]);
            for (size_t k = 0; k < n->ncustom && !dup; k++)
                dup = !strcasecmp(n->custom[k], list[i]);
            if (dup)
                continue;
            for (size_t k = 0; k < len; k++) {
                char ch = list[i][k];

                n->custom[n->ncustom][k] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
            }
            n->custom[n->ncustom][len] = '\0';
            memcpy(n->custom_key[n->ncustom], n->custom[n->ncustom], len);
            n->custom_key[n->ncustom][len] = ':';
            n->custom_key[n->ncustom][len + 1] = '\0';
            n->ncustom++;
        }
    }
}

static struct lws_context *create_context(struct net *n, const struct listen_addr *la)
{
    struct lws_context_creation_info info;
    unsigned fds = n->lim.max_conns + n->lim.max_conns / 4 + 32;

    memset(&info, 0, sizeof(info));
    info.port = la->port;
    /* lws 4.1.6 binds every interface for an IPv4 iface unless IPv6 is off (upstream #2290). */
    if (la->af == AF_INET) {
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
        info.iface = strcmp(la->host, "0.0.0.0") ? la->host : NULL;
    } else {
        info.iface = strcmp(la->host, "::") ? la->host : NULL;
    }
    info.options |= LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
    info.protocols = protocols;
    info.vhost_name = "tocsin";
    info.server_string = "tocsin";
    info.user = n;
    info.max_http_header_data2 = NET_MAX_HEADER_BLOCK;
    info.max_http_header_pool2 = n->lim.max_conns + 8;
    info.fd_limit_per_thread = fds < n->lim.max_conns ? n->lim.max_conns : fds;
    info.pt_serv_buf_size = NET_WCHUNK;
    info.keepalive_timeout = 60;
    return lws_create_context(&info);
}

static bool limits_ok(const struct net_limits *lim)
{
    return lim && lim->max_body && lim->max_frame && lim->max_conns && lim->ws_queue_max &&
           lim->max_conns < 1000000;
}

struct net *net_new(const char *listen, const struct net_limits *lim, const struct net_app *app)
{
    struct net *n = NULL;
    struct listen_addr la;
    char q[200];
    int port, rc;

    if (!listen || !app || !app->on_http || !limits_ok(lim) || parse_listen(listen, &la)) {
        log_error("net_config_invalid", "listen=%s", log_quote(q, sizeof(q), listen ? listen : ""));
        return NULL;
    }
    rc = probe_bind(&la);
    if (rc) {
        log_error("net_listen_failed", "listen=%s reason=%s", log_quote(q, sizeof(q), listen),
                  strerror(rc));
        return NULL;
    }
    n = calloc(1, sizeof(*n));
    if (!n)
        goto fail;
    pthread_mutex_init(&n->mu, NULL);
    atomic_init(&n->stop, false);
    n->lim = *lim;
    n->app = *app;
    buf_init(&n->rs.arena, 4 * NET_MAX_HEADER_BLOCK);
    n->wbuf = malloc(LWS_PRE + NET_WHEAD + NET_WCHUNK);
    if (!n->wbuf)
        goto fail;
    build_header_tables(n, app);
    lws_set_log_level(LLL_ERR, lws_log_sink);
    n->ctx = create_context(n, &la);
    if (!n->ctx)
        goto fail;
    n->vh = lws_get_vhost_by_name(n->ctx, "tocsin");
    port = n->vh ? lws_get_vhost_listen_port(n->vh) : -1;
    if (port <= 0 || port > 65535)
        goto fail;
    n->port = (uint16_t)port;
    rc = verify_bound(&la, port);
    if (rc) {
        log_error("net_bind_mismatch", "listen=%s port=%d reason=%s",
                  log_quote(q, sizeof(q), listen), port,
                  rc == TOCSIN_EINVAL ? "bound_to_other_address" : "listener_not_found");
        net_free(n);
        return NULL;
    }
    log_debug("net_listening", "addr=%s port=%d", log_quote(q, sizeof(q), la.host), port);
    return n;
fail:
    log_error("net_listen_failed", "listen=%s", log_quote(q, sizeof(q), listen));
    net_free(n);
    return NULL;
}

uint16_t net_port(const struct net *n)
{
    return n->port;
}

/* ---- running and stopping -------------------------------------------------------------- */

static bool net_busy(struct net *n)
{
    bool queued;

    pthread_mutex_lock(&n->mu);
    queued = n->in_head != NULL;
    pthread_mutex_unlock(&n->mu);
    if (queued)
        return true;
    for (size_t i = 0; i < n->conns.cap; i++) {
        const struct conn *c = n->conns.vals[i];

        if (n->conns.keys[i] && (http_conn_busy(c) || ws_conn_busy(c)))
            return true;
    }
    return false;
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
    struct net *n = lws_container_of(sul, struct net, tick);

    if (n->stopping)
        lws_sul_schedule(n->ctx, 0, &n->tick, on_tick, TICK_US);
}

/* After a stop: keep serving until queued output is written or the grace period ends. */
static void drain_output(struct net *n)
{
    int64_t deadline = clock_mono_ms() + STOP_DRAIN_MS;

    n->stopping = true;
    lws_sul_schedule(n->ctx, 0, &n->tick, on_tick, TICK_US);
    inbox_drain(n);
    while (net_busy(n) && clock_mono_ms() < deadline)
        if (lws_service(n->ctx, 0) < 0)
            break;
    n->stopping = false;
    lws_sul_cancel(&n->tick);
}

/* Every on_ws_open gets its on_ws_close on the loop thread before net_run() returns. */
static void close_app_side(struct net *n)
{
    for (size_t i = 0; i < n->conns.cap; i++)
        if (n->conns.keys[i])
            ws_conn_cleanup(n, n->conns.vals[i]);
    n->app_off = true;
}

int net_run(struct net *n)
{
    int rc = 0;

    while (!atomic_load(&n->stop)) {
        if (lws_service(n->ctx, 0) < 0) {
            log_error("net_loop_failed", "reason=%s", "lws_service");
            rc = -1;
            break;
        }
        if (n->app.on_idle)
            n->app.on_idle(n->app.ud);
    }
    if (!rc)
        drain_output(n);
    close_app_side(n);
    return rc;
}

void net_stop(struct net *n)
{
    atomic_store(&n->stop, true);
    lws_cancel_service(n->ctx);
}

void net_free(struct net *n)
{
    if (!n)
        return;
    n->app_off = true;
    if (n->ctx)
        lws_context_destroy(n->ctx); /* closes every connection: conn_detach() frees them */
    for (struct cmd *c = inbox_take(n), *next; c; c = next) {
        next = c->next;
        cmd_free(c);
    }
    idmap_free(&n->conns);
    idmap_free(&n->reqs);
    buf_free(&n->rs.arena);
    pthread_mutex_destroy(&n->mu);
    free(n->wbuf);
    free(n);
}
