/* HTTP/1.1 on lws: request checks, body accumulation, dispatch to net_app.on_http, deferred
 * completion, and response writing (head + first chunk at once, the rest on WRITEABLE).
 * Responses are written as raw HTTP/1.1 bytes: lws keeps the connection alive or closes it
 * after lws_http_transaction_completed(), as the request asked. */
#include "net/net_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <linux/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "util/err.h"
#include "util/hex.h"
#include "util/log.h"

static const struct {
    enum lws_token_indexes tok;
    const char *name;
} methods[] = {
    {WSI_TOKEN_GET_URI, "GET"},         {WSI_TOKEN_POST_URI, "POST"},
    {WSI_TOKEN_PUT_URI, "PUT"},         {WSI_TOKEN_DELETE_URI, "DELETE"},
    {WSI_TOKEN_PATCH_URI, "PATCH"},     {WSI_TOKEN_HEAD_URI, "HEAD"},
    {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

static int method_of(struct lws *wsi)
{
    for (size_t i = 0; i < NMETHODS; i++)
        if (lws_hdr_total_length(wsi, methods[i].tok) > 0)
            return (int)i;
    return -1;
}

static const struct {
    int status;
    const char *text;
} reasons[] = {
    {100, "Continue"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {422, "Unprocessable Content"},
    {426, "Upgrade Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
};

static const char *reason_of(int status)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].text;
    return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
}

/* ---- public helpers -------------------------------------------------------------------- */

const char *http_req_header(const struct http_req *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (!strcasecmp(req->headers[i].name, name))
            return req->headers[i].value;
    return NULL;
}

/* Decodes s[0..n) ('+' is a space, %XX a byte) into dst; false if it does not fit. */
static bool url_decode(const char *s, size_t n, char *dst, size_t dstlen)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];

        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < n && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
            c = hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]);
            i += 2;
        }
        if (o + 1 >= dstlen)
            return false;
        dst[o++] = (char)c;
    }
    if (!dstlen)
        return false;
    dst[o] = '\0';
    return true;
}

const char *http_req_query(const struct http_req *req, const char *key, char *dst, size_t dstlen)
{
    const char *p = req->query ? req->query : "";

    while (*p) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        char k[256];

        if (url_decode(p, (size_t)(kend - p), k, sizeof(k)) && !strcmp(k, key)) {
            if (!eq)
                return dstlen ? (dst[0] = '\0', dst) : NULL;
            return url_decode(eq + 1, (size_t)(end - eq - 1), dst, dstlen) ? dst : NULL;
        }
        p = amp ? amp + 1 : end;
    }
    return NULL;
}

void http_resp_json(struct http_resp *resp, int status, char *json_body)
{
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = json_body;
    resp->body_len = json_body ? strlen(json_body) : 0;
}

/* A JSON string of `s`; bytes that are not valid UTF-8 become '?'. */
static json_t *json_text(const char *s)
{
    json_t *j = json_string(s);
    char clean[1024];
    size_t i;

    if (j)
        return j;
    for (i = 0; s[i] && i + 1 < sizeof(clean); i++)
        clean[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    clean[i] = '\0';
    return json_string(clean);
}

void http_resp_error(struct http_resp *resp, int status, const char *field, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    json_t *o = json_object();
    char *body = NULL;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (o && !json_object_set_new(o, "error", json_text(msg)) &&
        (!field || !json_object_set_new(o, "field", json_text(field))) &&
        !json_object_set_new(o, "status", json_integer(status)))
        body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    http_resp_json(resp, status, body);
}

void http_resp_auth_failed(struct http_resp *resp)
{
    http_resp_error(resp, 401, NULL, "authentication required");
    snprintf(resp->extra_headers, sizeof(resp->extra_headers),
             "WWW-Authenticate: Basic realm=\"tocsin\"\r\n");
}

/* ---- collecting a request -------------------------------------------------------------- */

/* Copies lws header `tok` (at most `max` bytes) into the arena, NUL-terminated. */
static int copy_tok(struct lws *wsi, struct buf *arena, enum lws_token_indexes tok, size_t max,
                    size_t *off)
{
    char tmp[NET_MAX_HEADER_VALUE + 1];
    int len = lws_hdr_total_length(wsi, tok);

    if (len < 0 || (size_t)len > max)
        return TOCSIN_ETOOBIG;
    if (lws_hdr_copy(wsi, tmp, (int)sizeof(tmp), tok) != len)
        return TOCSIN_EINVAL;
    *off = arena->len;
    return buf_append(arena, tmp, (size_t)len + 1);
}

static int put_encoded(struct buf *b, const char *s, size_t n, bool keep_first_eq)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = TOCSIN_OK;

    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (c == '=' && keep_first_eq)) {
            keep_first_eq = keep_first_eq && c != '=';
            rc = buf_putc(b, (char)c);
        } else {
            rc = buf_append(b, esc, 3);
        }
    }
    return rc;
}

/* lws hands the query over as decoded "k=v" fragments; re-encode them into one raw string. */
static int collect_query(struct lws *wsi, struct buf *arena, size_t *off)
{
    char tmp[NET_MAX_HEADER_VALUE + 1];
    int rc = TOCSIN_OK;
    bool first = true;

    *off = arena->len;
    for (int i = 0; i < 1024 && !rc; i++) {
        int fl = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);

        if (fl < 0 || (size_t)fl > NET_MAX_HEADER_VALUE)
            return TOCSIN_ETOOBIG;
        fl = lws_hdr_copy_fragment(wsi, tmp, (int)sizeof(tmp), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (fl < 0)
            break; /* no more fragments */
        /* An empty parameter (a trailing "?" or "&", as clients that join an empty parameter
         * list write) comes from lws 4.1.6 as the fragment "/": read as a parameter named "/",
         * it failed the whole query with a 400. No parameter is named "/". */
        if (fl == 1 && tmp[0] == '/')
            continue;
        if (!first)
            rc = buf_putc(arena, '&');
        first = false;
        if (!rc)
            rc = put_encoded(arena, tmp, (size_t)fl, true);
    }
    return rc ? rc : buf_putc(arena, '\0');
}

static int add_header(struct req_scratch *rs, const char *name, const char *val, int len)
{
    size_t off = rs->arena.len;

    if (len < 0 || (size_t)len > NET_MAX_HEADER_VALUE || rs->nh >= NET_MAX_HEADERS)
        return TOCSIN_ETOOBIG;
    if (buf_append(&rs->arena, val, (size_t)len + 1))
        return TOCSIN_ENOMEM;
    rs->hname[rs->nh] = name;
    rs->hoff[rs->nh++] = off;
    return TOCSIN_OK;
}

static int collect_headers(struct net *n, struct lws *wsi, struct req_scratch *rs)
{
    char tmp[NET_MAX_HEADER_VALUE + 1];
    int rc = TOCSIN_OK;

    for (size_t i = 0; i < n->ntok && !rc; i++) {
        enum lws_token_indexes t = (enum lws_token_indexes)n->tok[i].tok;
        int len = lws_hdr_total_length(wsi, t);

        if (len <= 0)
            continue;
        if ((size_t)len > NET_MAX_HEADER_VALUE)
            return TOCSIN_ETOOBIG;
        len = lws_hdr_copy(wsi, tmp, (int)sizeof(tmp), t);
        rc = add_header(rs, n->tok[i].name, tmp, len);
    }
    for (size_t i = 0; i < n->ncustom && !rc; i++) {
        int klen = (int)strlen(n->custom_key[i]);
        int len = lws_hdr_custom_length(wsi, n->custom_key[i], klen);

        if (len < 0)
            continue;
        if ((size_t)len > NET_MAX_HEADER_VALUE)
            return TOCSIN_ETOOBIG;
        len = lws_hdr_custom_copy(wsi, tmp, (int)sizeof(tmp), n->custom_key[i], klen);
        rc = add_header(rs, n->custom[i], tmp, len);
    }
    return rc;
}

int http_collect(struct net *n, struct conn *c, struct lws *wsi, struct http_req *req)
{
    struct req_scratch *rs = &n->rs;
    int m = method_of(wsi), rc;

    (void)c;
    memset(req, 0, sizeof(*req));
    buf_reset(&rs->arena);
    rs->nh = 0;
    if (m < 0)
        return 405;
    rc = copy_tok(wsi, &rs->arena, methods[m].tok, NET_MAX_PATH, &rs->off_path);
    if (rc)
        return rc == TOCSIN_ETOOBIG ? 414 : 400;
    if (strlen(rs->arena.p + rs->off_path) != rs->arena.len - rs->off_path - 1)
        return 400; /* a NUL inside the path */
    rs->off_method = rs->arena.len;
    if (buf_append(&rs->arena, methods[m].name, strlen(methods[m].name) + 1))
        return 500;
    rc = collect_query(wsi, &rs->arena, &rs->off_query);
    if (!rc)
        rc = collect_headers(n, wsi, rs);
    if (rc)
        return rc == TOCSIN_ETOOBIG ? 431 : 500;
    req->method = rs->arena.p + rs->off_method;
    req->path = rs->arena.p + rs->off_path;
    req->query = rs->arena.p + rs->off_query;
    req->body = "";
    for (size_t i = 0; i < rs->nh; i++) {
        rs->hdr[i].name = rs->hname[i];
        rs->hdr[i].value = rs->arena.p + rs->hoff[i];
    }
    req->headers = rs->hdr;
    req->nheaders = rs->nh;
    return 0;
}

/* ---- writing responses ----------------------------------------------------------------- */

struct out {
    char *p;
    size_t cap, len;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (n > o->cap - o->len)
        n = o->cap - o->len;
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_uint(struct out *o, uint64_t v)
{
    char d[24];
    size_t i = sizeof(d);

    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(o, d + i, sizeof(d) - i);
}

static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* The response head for `r`, into dst (NET_WHEAD bytes). Returns its length. */
static size_t build_head(const struct http_resp *r, char *dst, bool close, bool ka10)
{
    struct out o = {dst, NET_WHEAD, 0};
    size_t xl = strnlen(r->extra_headers, sizeof(r->extra_headers));

    puts_(&o, "HTTP/1.1 ");
    put_uint(&o, (uint64_t)r->status);
    put(&o, " ", 1);
    puts_(&o, reason_of(r->status));
    if (status_has_body(r->status)) {
        puts_(&o, "\r\nContent-Type: ");
        puts_(&o, r->content_type ? r->content_type : "application/json");
        puts_(&o, "\r\nContent-Length: ");
        put_uint(&o, r->body ? r->body_len : 0);
    }
    if (close)
        puts_(&o, "\r\nConnection: close");
    else if (ka10)
        puts_(&o, "\r\nConnection: keep-alive");
    puts_(&o, "\r\n");
    if (xl) {
        put(&o, r->extra_headers, xl);
        if (xl < 2 || memcmp(r->extra_headers + xl - 2, "\r\n", 2))
            puts_(&o, "\r\n");
    }
    puts_(&o, "\r\n");
    return o.len;
}

static size_t body_len_of(const struct conn *c)
{
    const struct http_resp *r = c->resp;

    if (c->head_only || !r->body || !status_has_body(r->status))
        return 0;
    return r->body_len;
}

/* Keeps a small body buffer for the next request on this connection, frees a big one. */
static void release_body(struct conn *c)
{
    if (c->body.cap > 65536)
        buf_free(&c->body);
    else
        buf_reset(&c->body);
}

static void reset_request(struct conn *c)
{
    if (c->resp) {
        free(c->resp->body);
        free(c->resp);
        c->resp = NULL;
    }
    c->resp_off = 0;
    c->hs = H_IDLE;
    principal_nobody(&c->who);
    release_body(c);
}

/* Bytes received on the TCP connection so far (a FIN counts as one), or false. */
static bool received(int fd, uint64_t *out)
{
    struct tcp_info ti;
    socklen_t want =
        offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received);
    socklen_t len = want;

    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) || len < want)
        return false;
    *out = (uint64_t)ti.tcpi_bytes_received;
    return true;
}

/* A snapshot of how many bytes the process has read from the socket: received minus queued.
 * `est` never exceeds the truth; it is exact when nothing arrived between the two reads of the
 * received count (`exact`). lws reads nothing while we are inside its callback, so the truth
 * stays put while we retry, and the queue can only grow: an empty queue after the first read
 * of the received count means it was empty at that read too, so the snapshot is exact without
 * the second read (the usual case: a client waiting for our answer sends nothing; TCP_INFO
 * was a sixth of the network thread's time per POST, four per request). */
static bool read_snapshot(int fd, int64_t *est, bool *exact)
{
    uint64_t r1, r2;
    int inq = 0;

    if (!received(fd, &r1) || ioctl(fd, FIONREAD, &inq) || inq < 0)
        return false;
    *est = (int64_t)r1 - inq;
    if (inq == 0) {
        *exact = true;
        return true;
    }
    if (!received(fd, &r2))
        return false;
    *exact = r1 == r2;
    return true;
}

#define SNAPSHOT_TRIES 256 /* until arrivals pause: the peer stops when its window fills */

void http_mark_read(struct conn *c, struct lws *wsi)
{
    int fd = (int)lws_get_socket_fd(wsi);
    bool exact = false;

    if (rx_count(fd, &c->read_mark)) {
        c->mark = MARK_COUNTED;
        return;
    }
    for (int i = 0; i < SNAPSHOT_TRIES && !exact; i++)
        if (!read_snapshot(fd, &c->read_mark, &exact))
            break;
    c->mark = exact ? MARK_EXACT : MARK_UNKNOWN;
}

/* lws 4.1.6 bug: a request with a body that was pipelined behind another one on the same
 * connection is parsed from lws's internal buffer, and lws_http_action() then feeds that buffer,
 * starting with the request's own head, to LWS_CALLBACK_HTTP_BODY and loops forever (refusing
 * from inside that loop is a use-after-free in lws). The only safe way out is to refuse the
 * request from LWS_CALLBACK_HTTP. Such a request is recognised because lws has read nothing from
 * the socket since the previous request ended (http_mark_read): its head was already buffered.
 * The bytes lws read are counted by recv() itself (rxcount.c), or else estimated from the
 * kernel's counts (+1 allows for a FIN). When those cannot be read exactly the request is
 * refused too: that needs a peer that keeps sending while it should be waiting for our answer.
 * Clients must not pipeline requests with bodies; the usual ones do not. */
static bool pipelined(struct conn *c, struct lws *wsi)
{
    int fd = (int)lws_get_socket_fd(wsi);
    int64_t now;

    if (c->mark == MARK_NONE)
        return false; /* the first request on the connection */
    if (c->mark == MARK_COUNTED)
        return !rx_count(fd, &now) || now <= c->read_mark;
    if (c->mark == MARK_UNKNOWN)
        return true;
    for (int i = 0; i < SNAPSHOT_TRIES; i++) {
        int64_t est;
        bool exact;

        if (!read_snapshot(fd, &est, &exact))
            return true;
        if (est > c->read_mark + 1)
            return false; /* lws read the head from the socket */
        if (exact)
            return true;
    }
    return true;
}

/* While the app works on a deferred request, lws would spin on any pipelined input it holds for
 * this connection; hold the input meanwhile. (lws 4.1 also stops HTTP_WRITEABLE for an h1
 * connection whose input is held, so input resumes before the response is written.) */
static void pause_rx(struct conn *c, struct lws *wsi)
{
    if (!c->rx_paused && !lws_rx_flow_control(wsi, 0))
        c->rx_paused = true;
}

static void resume_rx(struct conn *c, struct lws *wsi)
{
    if (c->rx_paused) {
        lws_rx_flow_control(wsi, 1);
        c->rx_paused = false;
    }
}

static int finish(struct conn *c, struct lws *wsi)
{
    bool close = c->close_after;

    reset_request(c);
    if (close)
        return -1;
    http_mark_read(c, wsi);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int write_head(struct net *n, struct conn *c, struct lws *wsi)
{
    unsigned char *start = n->wbuf + LWS_PRE;
    size_t hl = build_head(c->resp, (char *)start, c->close_after, c->ka10);
    size_t blen = body_len_of(c), first = blen < NET_WCHUNK ? blen : NET_WCHUNK;

    if (first)
        memcpy(start + hl, c->resp->body, first);
    if (lws_write(wsi, start, hl + first, LWS_WRITE_HTTP_HEADERS) < (int)(hl + first))
        return -1;
    c->resp_off = first;
    if (c->resp_off < blen) {
        c->hs = H_WRITING;
        lws_callback_on_writable(wsi);
        return 0;
    }
    return finish(c, wsi);
}

static int write_chunk(struct net *n, struct conn *c, struct lws *wsi)
{
    unsigned char *start = n->wbuf + LWS_PRE;
    size_t blen = body_len_of(c), left = blen - c->resp_off;
    size_t len = left < NET_WCHUNK ? left : NET_WCHUNK;

    memcpy(start, c->resp->body + c->resp_off, len);
    if (lws_write(wsi, start, len, LWS_WRITE_HTTP) < (int)len)
        return -1;
    c->resp_off += len;
    if (c->resp_off < blen) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    return finish(c, wsi);
}

static int respond(struct net *n, struct conn *c, struct lws *wsi, struct http_resp *resp)
{
    if (c->resp && c->resp != resp) {
        free(c->resp->body);
        free(c->resp);
    }
    if (resp->status < 200 || resp->status > 599) { /* an app bug: answer 500, not garbage */
        log_warn("http_bad_status", "status=%d sent=500", resp->status);
        resp->status = 500;
    }
    c->resp = resp;
    c->resp_off = 0;
    return write_head(n, c, wsi);
}

static struct http_resp *error_resp(int status, const char *field, const char *msg)
{
    struct http_resp *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    if (status == 401)
        http_resp_auth_failed(r);
    else
        http_resp_error(r, status, field, "%s", msg);
    return r;
}

static int refuse(struct net *n, struct conn *c, struct lws *wsi, int status, const char *field,
                  const char *msg, bool close)
{
    struct http_resp *r = error_resp(status, field, msg);

    if (!r)
        return -1;
    c->close_after = c->close_after || close;
    return respond(n, c, wsi, r);
}

static const char *status_message(int status)
{
    switch (status) {
    case 400:
        return "bad request";
    case 405:
        return "method not allowed";
    case 411:
        return "a request body needs Content-Length";
    case 413:
        return "request body too large";
    case 414:
        return "request path too long";
    case 431:
        return "request headers too large";
    case 503:
        return "too many connections";
    default:
        return "internal error";
    }
}

int http_write_now(struct net *n, struct lws *wsi, struct http_resp *resp, bool head_only,
                   bool close)
{
    unsigned char *start = n->wbuf + LWS_PRE;
    size_t hl = build_head(resp, (char *)start, close, false);
    size_t bl = head_only || !resp->body || !status_has_body(resp->status) ? 0 : resp->body_len;
    int rc = 0;

    if (bl > NET_WCHUNK)
        bl = NET_WCHUNK;
    if (bl)
        memcpy(start + hl, resp->body, bl);
    if (lws_write(wsi, start, hl + bl, LWS_WRITE_HTTP_HEADERS) < (int)(hl + bl))
        rc = -1;
    free(resp->body);
    resp->body = NULL;
    return rc;
}

/* ---- the request life cycle ------------------------------------------------------------ */

static bool hdr_is(struct lws *wsi, enum lws_token_indexes tok, const char *want)
{
    char v[64];

    return lws_hdr_copy(wsi, v, (int)sizeof(v), tok) > 0 && !strcasecmp(v, want);
}

/* Same rules lws applies: HTTP/1.0 closes unless "Connection: keep-alive", 1.1 keeps alive
 * unless "Connection: close". */
static void connection_mode(struct conn *c, struct lws *wsi)
{
    bool v10 = hdr_is(wsi, WSI_TOKEN_HTTP, "HTTP/1.0");

    c->ka10 = v10 && hdr_is(wsi, WSI_TOKEN_CONNECTION, "keep-alive");
    c->close_after = hdr_is(wsi, WSI_TOKEN_CONNECTION, "close") || (v10 && !c->ka10);
}

/* Checks that need only the request head. Sets *cl to the body length. */
static int precheck(struct net *n, struct lws *wsi, int m, uint64_t *cl)
{
    char v[32], *end;
    int len;

    *cl = 0;
    if (m < 0)
        return 405;
    if ((size_t)lws_hdr_total_length(wsi, methods[m].tok) > NET_MAX_PATH)
        return 414;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
        return 411;
    len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (len <= 0)
        return 0;
    if (lws_hdr_copy(wsi, v, (int)sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 || v[0] < '0' ||
        v[0] > '9')
        return 400;
    errno = 0;
    *cl = strtoull(v, &end, 10);
    if (errno || *end)
        return 400;
    return *cl > n->lim.max_body ? 413 : 0;
}

/* Liveness probes answer without credentials, as Alerta's do (a load balancer has none). */
static bool is_health(struct lws *wsi, int m)
{
    return m >= 0 && methods[m].tok == WSI_TOKEN_GET_URI &&
           (hdr_is(wsi, WSI_TOKEN_GET_URI, "/health") ||
            hdr_is(wsi, WSI_TOKEN_GET_URI, "/alerta/management/gtg") ||
            hdr_is(wsi, WSI_TOKEN_GET_URI, "/alerta/management/healthcheck"));
}

/* Header `tok` into dst, NUL-terminated: 1 if present, 0 if absent, -1 if it does not fit. */
static int get_tok(struct lws *wsi, enum lws_token_indexes tok, char *dst, size_t dstlen)
{
    int len = lws_hdr_total_length(wsi, tok);

    if (len <= 0)
        return 0;
    if ((size_t)len >= dstlen || lws_hdr_copy(wsi, dst, (int)dstlen, tok) != len)
        return -1;
    return 1;
}

/* Same for a non-standard header; `key` is its lower-case name with a ':' ("x-api-key:"). */
static int get_custom(struct lws *wsi, const char *key, char *dst, size_t dstlen)
{
    int klen = (int)strlen(key), len = lws_hdr_custom_length(wsi, key, klen);

    if (len < 0)
        return 0;
    if ((size_t)len >= dstlen || lws_hdr_custom_copy(wsi, dst, (int)dstlen, key, klen) != len)
        return -1;
    return 1;
}

/* The first query parameter `name` (lws gives the query as decoded "k=v" fragments). */
static int get_param(struct lws *wsi, const char *name, char *dst, size_t dstlen)
{
    char frag[NET_MAX_HEADER_VALUE + 1];
    size_t nlen = strlen(name);

    for (int i = 0; i < 1024; i++) {
        int fl = lws_hdr_copy_fragment(wsi, frag, (int)sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);

        if (fl < 0)
            return 0; /* no more fragments (or one too long for any use) */
        if ((size_t)fl < nlen + 1 || memcmp(frag, name, nlen) || frag[nlen] != '=')
            continue;
        if ((size_t)fl - nlen - 1 >= dstlen)
            return -1;
        memcpy(dst, frag + nlen + 1, (size_t)fl - nlen);
        return 1;
    }
    return 0;
}

/* Gathers the credentials (a key longer than any key is refused, not ignored: ignoring it
 * could let a weaker credential decide) and asks the app. */
static bool authenticate(struct net *n, struct conn *c, struct lws *wsi)
{
    char authz[NET_MAX_HEADER_VALUE + 1], hkey[NET_AUTH_KEY_MAX + 1], qkey[NET_AUTH_KEY_MAX + 1];
    struct auth_credentials cred = {0};
    int ra = get_tok(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, authz, sizeof(authz));
    int rh = get_custom(wsi, "x-api-key:", hkey, sizeof(hkey));
    int rq = get_param(wsi, "api-key", qkey, sizeof(qkey));
    bool ok;

    principal_nobody(&c->who);
    if (ra < 0 || rh < 0 || rq < 0)
        return false;
    cred.authorization = ra ? authz : NULL;
    cred.x_api_key = rh ? hkey : NULL;
    cred.api_key = rq ? qkey : NULL;
    ok = n->app.authenticate(n->app.ud, &cred, &c->who);
    if (!ok)
        principal_nobody(&c->who);
    return ok;
}

bool http_check_auth(struct net *n, struct conn *c, struct lws *wsi)
{
    if (n->app.authenticate)
        return authenticate(n, c, wsi);
    principal_anonymous_admin(&c->who);
    return true;
}

static int dispatch(struct net *n, struct conn *c, struct lws *wsi)
{
    struct http_req req;
    struct http_resp *resp;
    enum http_outcome out;
    int st = http_collect(n, c, wsi, &req);

    if (st)
        return refuse(n, c, wsi, st, NULL, status_message(st), false);
    resp = calloc(1, sizeof(*resp));
    if (!resp)
        return -1;
    req.id = ++n->next_req_id;
    req.body = buf_str(&c->body);
    req.body_len = c->body.len;
    req.principal = &c->who;
    req.user = principal_user(&c->who);
    out = n->app.on_http(n->app.ud, &req, resp);
    release_body(c); /* borrowed for the call only */
    if (out != HTTP_DEFERRED)
        return respond(n, c, wsi, resp);
    free(resp->body);
    free(resp);
    if (idmap_put(&n->reqs, req.id, c))
        return -1;
    c->req_id = req.id;
    c->hs = H_WAIT_APP;
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    pause_rx(c, wsi);
    return 0;
}

int http_on_request(struct net *n, struct conn *c, struct lws *wsi)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    int m = method_of(wsi), st;
    uint64_t cl;
    bool denied;

    reset_request(c);
    connection_mode(c, wsi);
    c->head_only = m >= 0 && methods[m].tok == WSI_TOKEN_HEAD_URI;
    if (!c->admitted)
        return refuse(n, c, wsi, 503, NULL, status_message(503), true);
    st = precheck(n, wsi, m, &cl);
    if (st)
        return refuse(n, c, wsi, st, st == 413 ? "body" : NULL, status_message(st), true);
    if (cl && pipelined(c, wsi)) {
        log_warn("http_pipelined_body", "conn=%" PRIu64 " action=close", c->id);
        return -1;
    }
    denied = !is_health(wsi, m) && !http_check_auth(n, c, wsi);
    if (!cl)
        return denied ? refuse(n, c, wsi, 401, NULL, NULL, false) : dispatch(n, c, wsi);
    if (hdr_is(wsi, WSI_TOKEN_HTTP_EXPECT, "100-continue")) {
        unsigned char *p = n->wbuf + LWS_PRE;

        if (denied) /* the client may or may not send the body now: close to be sure */
            return refuse(n, c, wsi, 401, NULL, NULL, true);
        memcpy(p, cont, sizeof(cont) - 1);
        if (lws_write(wsi, p, sizeof(cont) - 1, LWS_WRITE_HTTP_HEADERS) < (int)sizeof(cont) - 1)
            return -1;
    }
    if (denied) {
        c->resp = error_resp(401, NULL, NULL);
        if (!c->resp)
            return -1;
    }
    c->hs = denied ? H_DISCARD : H_BODY;
    return 0;
}

int http_on_body(struct net *n, struct conn *c, struct lws *wsi, const void *in, size_t len)
{
    if (c->hs != H_BODY || !len)
        return 0;
    if (buf_append(&c->body, in, len)) {
        c->hs = H_IDLE;
        return refuse(n, c, wsi, 413, "body", status_message(413), true);
    }
    return 0;
}

int http_on_body_done(struct net *n, struct conn *c, struct lws *wsi)
{
    if (c->hs == H_DISCARD)
        return respond(n, c, wsi, c->resp);
    if (c->hs == H_BODY)
        return dispatch(n, c, wsi);
    return 0;
}

int http_on_writeable(struct net *n, struct conn *c, struct lws *wsi)
{
    if (c->hs == H_READY)
        return write_head(n, c, wsi);
    if (c->hs == H_WRITING)
        return write_chunk(n, c, wsi);
    return 0;
}

void http_on_complete(struct net *n, struct cmd *cmd)
{
    struct conn *c = idmap_del(&n->reqs, cmd->id);

    if (!c || c->hs != H_WAIT_APP || c->req_id != cmd->id) {
        cmd_free(cmd); /* the client went away: drop the response */
        return;
    }
    c->req_id = 0;
    c->resp = cmd->resp;
    cmd->resp = NULL;
    cmd_free(cmd);
    c->hs = H_READY;
    resume_rx(c, c->wsi);
    lws_callback_on_writable(c->wsi);
}

void http_conn_cleanup(struct net *n, struct conn *c)
{
    if (c->req_id)
        idmap_del(&n->reqs, c->req_id);
    c->req_id = 0;
    reset_request(c);
    buf_free(&c->body);
}

bool http_conn_busy(const struct conn *c)
{
    return c->hs == H_READY || c->hs == H_WRITING;
}
