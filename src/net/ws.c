/* WebSocket connections on lws: the upgrade decision (auth, then net_app.on_ws_open), message
 * reassembly bounded by max_frame, and a bounded outgoing FIFO written one frame per
 * WRITEABLE. A message that arrives in one piece goes to the app straight from lws's buffer. */
#include "net/net_priv.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

static const char frame_too_large[] =
    "{\"type\":\"ERROR\",\"error\":\"frame too large\",\"status\":413}";

static void out_clear(struct conn *c)
{
    for (struct cmd *f = c->out_head, *next; f; f = next) {
        next = f->next;
        cmd_free(f);
    }
    c->out_head = c->out_tail = NULL;
    c->out_len = 0;
}

/* Appends to the connection's FIFO; closes the connection (1008) when the FIFO is full. */
static void out_push(struct net *n, struct conn *c, struct cmd *f)
{
    bool was_empty = !c->out_head;

    if (c->ws_closing) {
        cmd_free(f);
        return;
    }
    if (c->out_len >= n->lim.ws_queue_max) {
        log_warn("ws_queue_full", "conn=%" PRIu64 " queued=%u action=close", c->id, c->out_len);
        cmd_free(f);
        out_clear(c);
        c->ws_closing = true;
        if (c->ws_live)
            lws_callback_on_writable(c->wsi);
        return;
    }
    f->next = NULL;
    if (c->out_tail)
        c->out_tail->next = f;
    else
        c->out_head = f;
    c->out_tail = f;
    c->out_len++;
    if (was_empty && c->ws_live)
        lws_callback_on_writable(c->wsi);
}

static void send_local(struct net *n, struct conn *c, const char *data, size_t len)
{
    struct cmd *f = malloc(sizeof(*f) + LWS_PRE + len);

    if (!f)
        return;
    memset(f, 0, sizeof(*f));
    f->kind = CMD_WS_SEND;
    f->id = c->id;
    f->len = len;
    memcpy(f->data + LWS_PRE, data, len);
    out_push(n, c, f);
}

void ws_on_send(struct net *n, struct cmd *cmd)
{
    struct conn *c = idmap_get(&n->conns, cmd->id);

    if (!c || !c->ws_open) {
        cmd_free(cmd); /* gone, closing, or never a WebSocket */
        return;
    }
    out_push(n, c, cmd);
}

/* Refuses an upgrade with an HTTP response. >0 tells lws we answered (it then finishes the
 * transaction); <0 hangs up after the answer. */
static int refuse_upgrade(struct net *n, struct conn *c, struct lws *wsi, int status,
                          const char *msg, bool close)
{
    struct http_resp r;

    memset(&r, 0, sizeof(r));
    if (status == 401)
        http_resp_auth_failed(&r);
    else
        http_resp_error(&r, status, NULL, "%s", msg);
    if (http_write_now(n, wsi, &r, false, close))
        return -1;
    if (close)
        return -1;
    http_mark_read(c, wsi); /* lws ends the transaction when we return 1 */
    return 1;
}

int ws_on_confirm_upgrade(struct net *n, struct conn *c, struct lws *wsi, const char *proto)
{
    struct http_req req;
    bool ok;
    int st;

    if (!proto || strcmp(proto, "websocket")) /* h2c: our responses are HTTP/1.1 only */
        return refuse_upgrade(n, c, wsi, 400, "only websocket upgrades are supported", true);
    if (!c->admitted)
        return refuse_upgrade(n, c, wsi, 503, "too many connections", true);
    if (!http_check_auth(n, c, wsi))
        return refuse_upgrade(n, c, wsi, 401, NULL, false);
    st = http_collect(n, c, wsi, &req);
    if (st)
        return refuse_upgrade(n, c, wsi, st, "bad upgrade request", true);
    ok = n->app.on_ws_open && n->app.on_ws_open(n->app.ud, c->id, req.path, &c->who);
    if (!ok)
        return refuse_upgrade(n, c, wsi, 404, "not found", false);
    c->ws = true;
    c->ws_open = true;
    return 0;
}

int ws_on_established(struct net *n, struct conn *c, struct lws *wsi)
{
    (void)n;
    if (!c->ws)
        return -1; /* an upgrade we never confirmed */
    c->ws_live = true;
    if (c->out_head || c->ws_closing)
        lws_callback_on_writable(wsi);
    return 0;
}

static void deliver(struct net *n, struct conn *c, const char *data, size_t len, bool binary)
{
    if (len > n->lim.max_frame) {
        send_local(n, c, frame_too_large, sizeof(frame_too_large) - 1);
        return;
    }
    if (c->ws_open && !n->app_off && n->app.on_ws_message)
        n->app.on_ws_message(n->app.ud, c->id, data, len, binary);
}

int ws_on_receive(struct net *n, struct conn *c, struct lws *wsi, const void *in, size_t len)
{
    bool first = lws_is_first_fragment(wsi), last = lws_is_final_fragment(wsi);
    bool binary = lws_frame_is_binary(wsi);

    if (first && last) { /* the common case: one piece, no copy */
        buf_reset(&c->rx);
        c->rx_over = false;
        deliver(n, c, in ? in : "", len, binary);
        return 0;
    }
    if (first) {
        buf_reset(&c->rx);
        c->rx_over = false;
    }
    if (!c->rx_over && len && buf_append(&c->rx, in, len)) {
        c->rx_over = true;
        buf_free(&c->rx);
    }
    if (!last)
        return 0;
    if (c->rx_over)
        send_local(n, c, frame_too_large, sizeof(frame_too_large) - 1);
    else
        deliver(n, c, buf_str(&c->rx), c->rx.len, binary);
    c->rx_over = false;
    if (c->rx.cap > 65536)
        buf_free(&c->rx);
    else
        buf_reset(&c->rx);
    return 0;
}

int ws_on_writeable(struct net *n, struct conn *c, struct lws *wsi)
{
    struct cmd *f = c->out_head;
    int m;

    (void)n;
    if (c->ws_closing) {
        static const char why[] = "send queue full";

        lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)why,
                         sizeof(why) - 1);
        return -1;
    }
    if (!f)
        return 0;
    c->out_head = f->next;
    if (!c->out_head)
        c->out_tail = NULL;
    c->out_len--;
    m = lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT);
    cmd_free(f);
    if (m < 0)
        return -1;
    if (c->out_head)
        lws_callback_on_writable(wsi);
    return 0;
}

void ws_conn_cleanup(struct net *n, struct conn *c)
{
    if (c->ws_open && !n->app_off && n->app.on_ws_close)
        n->app.on_ws_close(n->app.ud, c->id);
    c->ws_open = false;
    c->ws_live = false;
    out_clear(c);
    buf_free(&c->rx);
}

bool ws_conn_busy(const struct conn *c)
{
    return c->ws_live && c->out_head;
}
