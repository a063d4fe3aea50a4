/* Private to src/net/: the state shared by net.c (context, loop, cross-thread inbox), http.c
 * (HTTP/1.1 requests and responses) and ws.c (WebSocket connections). Nothing here is visible
 * to the rest of tocsin, and only these three files include <libwebsockets.h>.
 *
 * Threading: everything in struct net except `mu`, `in_head`, `in_tail` and `stop` is touched
 * only by the loop thread (the one in net_run(), or the one in net_new()/net_free()). */
#ifndef TOCSIN_NET_PRIV_H
#define TOCSIN_NET_PRIV_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net.h"
#include "util/buf.h"

#define NET_MAX_HEADERS 64         /* request headers kept per request */
#define NET_MAX_HEADER_VALUE 8192  /* bytes per header value */
#define NET_MAX_HEADER_BLOCK 16384 /* whole request head (lws's per-request header space) */
#define NET_MAX_PATH 2048          /* decoded path bytes; over -> 414 */
#define NET_MAX_CUSTOM_HEADERS 32  /* non-standard header names probed per request */
#define NET_WCHUNK 65536           /* bytes of response body per write */
#define NET_WHEAD 4096             /* space for a response head */
#define NET_RX_BUFFER 16384        /* lws per-connection WS receive buffer */
#define NET_AUTH_KEY_MAX 256       /* bytes of an X-API-Key or api-key value (KEYS_MAX_KEY_LEN) */

/* A map from non-zero uint64 ids to pointers (open addressing, linear probing). */
struct idmap {
    uint64_t *keys; /* 0 = empty slot */
    void **vals;
    size_t cap; /* power of two, or 0 */
    size_t len;
};

int idmap_put(struct idmap *m, uint64_t key, void *val); /* TOCSIN_OK / TOCSIN_ENOMEM */
void *idmap_get(const struct idmap *m, uint64_t key);
void *idmap_del(struct idmap *m, uint64_t key); /* returns the value removed, or NULL */
void idmap_free(struct idmap *m);
/* Iteration: for (size_t i = 0; i < m->cap; i++) if (m->keys[i]) ... (don't modify meanwhile). */

enum cmd_kind { CMD_COMPLETE = 1, CMD_WS_SEND };

/* Work handed to the loop thread by net_complete()/net_ws_send(). A WS frame keeps its
 * allocation all the way to the socket: the same block moves from the inbox to the
 * connection's outgoing FIFO. */
struct cmd {
    struct cmd *next;
    uint64_t id; /* request id (CMD_COMPLETE) or connection id (CMD_WS_SEND) */
    enum cmd_kind kind;
    struct http_resp *resp; /* CMD_COMPLETE: owned, with its body */
    size_t len;             /* CMD_WS_SEND: payload bytes at data + LWS_PRE */
    unsigned char data[];   /* CMD_WS_SEND: LWS_PRE headroom, then the payload */
};

void cmd_free(struct cmd *c);

/* Where a request is assembled just before on_http (loop thread only, reused). */
struct req_scratch {
    struct buf arena; /* method, path, query, header values, each NUL-terminated */
    size_t off_method, off_path, off_query;
    const char *hname[NET_MAX_HEADERS];
    size_t hoff[NET_MAX_HEADERS];
    struct http_header hdr[NET_MAX_HEADERS];
    size_t nh;
};

enum http_state {
    H_IDLE = 0, /* waiting for a request head */
    H_BODY,     /* reading a body we will pass to the app */
    H_DISCARD,  /* reading a body we will drop, then send `resp` */
    H_WAIT_APP, /* deferred: waiting for net_complete() */
    H_READY,    /* `resp` set, waiting for WRITEABLE to start writing */
    H_WRITING,  /* head sent, body chunks left */
};

struct conn {
    struct net *n;
    struct lws *wsi;
    uint64_t id;
    bool admitted; /* counted against max_conns */
    /* Who the current request (or the WS upgrade) comes from: set by http_check_auth(). */
    struct principal who;
    /* HTTP */
    enum http_state hs;
    bool close_after; /* close once the response is written */
    bool ka10;        /* HTTP/1.0 with "Connection: keep-alive" */
    bool head_only;   /* HEAD: no body bytes on the wire */
    uint64_t req_id;  /* deferred request waiting in n->reqs, 0 if none */
    enum { MARK_NONE = 0, MARK_COUNTED, MARK_EXACT, MARK_UNKNOWN } mark;
    int64_t read_mark; /* bytes lws had read from the socket when the last request ended */
    bool rx_paused;    /* lws rx flow control holds this connection's input */
    struct buf body;
    struct http_resp *resp; /* response waiting or being written (owned) */
    size_t resp_off;        /* body bytes already written */
    /* WebSocket */
    bool ws;         /* upgraded (on_ws_open said yes) */
    bool ws_open;    /* on_ws_close still owed to the app */
    bool ws_live;    /* handshake finished, writes allowed */
    bool ws_closing; /* close with 1008 on the next WRITEABLE */
    bool rx_over;    /* the message being reassembled went over max_frame */
    struct buf rx;   /* reassembly of a fragmented message (max = max_frame) */
    struct cmd *out_head, *out_tail;
    unsigned out_len;
};

struct net {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct net_limits lim;
    struct net_app app;
    uint16_t port;
    bool stopping; /* draining after net_stop() */
    bool app_off;  /* no more app callbacks (after net_run() returned) */
    atomic_bool stop;
    lws_sorted_usec_list_t tick;

    pthread_mutex_t mu; /* guards the inbox */
    struct cmd *in_head, *in_tail;

    struct idmap conns; /* conn id -> struct conn *, every live connection */
    struct idmap reqs;  /* deferred request id -> struct conn * */
    uint64_t next_conn_id, next_req_id;
    unsigned nadmitted;

    /* Header names to collect: lws's known tokens, then probed custom names. */
    struct {
        int tok;
        char name[40];
    } tok[WSI_TOKEN_COUNT];
    size_t ntok;
    char custom[NET_MAX_CUSTOM_HEADERS][64];     /* "x-request-id" */
    char custom_key[NET_MAX_CUSTOM_HEADERS][66]; /* "x-request-id:", as lws looks it up */
    size_t ncustom;

    struct req_scratch rs;
    unsigned char *wbuf; /* LWS_PRE + NET_WHEAD + NET_WCHUNK, for response writes */
};

/* net.c */
struct net *net_of(struct lws *wsi);
struct conn *conn_of(struct lws *wsi); /* NULL for lws-internal wsis */
struct conn *conn_attach(struct net *n, struct lws *wsi);
void conn_detach(struct lws *wsi); /* frees the conn; calls on_ws_close if owed */

/* http.c */
int http_on_request(struct net *n, struct conn *c, struct lws *wsi);
int http_on_body(struct net *n, struct conn *c, struct lws *wsi, const void *in, size_t len);
int http_on_body_done(struct net *n, struct conn *c, struct lws *wsi);
int http_on_writeable(struct net *n, struct conn *c, struct lws *wsi);
void http_on_complete(struct net *n, struct cmd *cmd); /* takes cmd */
void http_conn_cleanup(struct net *n, struct conn *c);
bool http_conn_busy(const struct conn *c);
/* Collects method/path/query/headers of the request on `wsi` into n->rs and points `req` at
 * them; returns 0 or the HTTP status to refuse the request with. */
int http_collect(struct net *n, struct conn *c, struct lws *wsi, struct http_req *req);
/* Writes a complete small response right now (for refusals). 0 on success, -1 on failure. */
int http_write_now(struct net *n, struct lws *wsi, struct http_resp *resp, bool head_only,
                   bool close);
void http_resp_auth_failed(struct http_resp *resp);
/* Runs app->authenticate on the request's credentials and sets c->who (an anonymous admin when
 * auth is off). False: answer 401. */
bool http_check_auth(struct net *n, struct conn *c, struct lws *wsi);
/* Notes how much lws has read from the socket when a request ends (see http.c: pipelined()). */
void http_mark_read(struct conn *c, struct lws *wsi);

/* rxcount.c: bytes recv() has returned for a descriptor so far (false: not counted here, ask
 * the kernel), whether this process's recv() is the counting one, and (for tests) whether to
 * use its counts (true: if it is) or always ask the kernel. */
bool rx_count(int fd, int64_t *out);
bool rx_counting(void);
void rx_count_use(bool on);

/* ws.c */
int ws_on_confirm_upgrade(struct net *n, struct conn *c, struct lws *wsi, const char *proto);
int ws_on_established(struct net *n, struct conn *c, struct lws *wsi);
int ws_on_receive(struct net *n, struct conn *c, struct lws *wsi, const void *in, size_t len);
int ws_on_writeable(struct net *n, struct conn *c, struct lws *wsi);
void ws_on_send(struct net *n, struct cmd *cmd); /* takes cmd */
void ws_conn_cleanup(struct net *n, struct conn *c);
bool ws_conn_busy(const struct conn *c);

#endif
