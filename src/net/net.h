/* The network loop: HTTP/1.1 and WebSocket on libwebsockets, one service thread.
 * lws never leaks out of src/net/: the rest of tocsin sees only this header.
 *
 * Threading: net_run() runs the loop on the calling thread. Every callback in struct net_app is
 * called on that thread. net_complete(), net_ws_send() and net_stop() may be called from any
 * thread; they queue work and wake the loop. */
#ifndef TOCSIN_NET_H
#define TOCSIN_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/principal.h"

struct net;

struct net_limits {
    size_t max_body;       /* HTTP request body bytes; over -> 413 JSON error */
    size_t max_frame;      /* WS message bytes (after reassembly); over -> error frame, dropped */
    unsigned max_conns;    /* concurrent connections */
    unsigned ws_queue_max; /* outgoing frames queued per WS connection before it is closed */
};

struct http_header {
    const char *name; /* lower case */
    const char *value;
};

/* A request, borrowed for the duration of on_http only (copy what you keep). */
struct http_req {
    uint64_t id;        /* unique for the process; pass to net_complete() when deferred */
    const char *method; /* "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS" */
    const char *path;   /* URL-decoded path, no query, e.g. "/api/v1/triggers/abc" */
    const char *query;  /* raw query string without '?', "" if none */
    const char *body;   /* NUL-terminated (body_len excludes the NUL); "" if none */
    size_t body_len;
    const char *user;                  /* authenticated user name, or NULL when anonymous */
    const struct http_header *headers; /* every request header, lower-case names */
    size_t nheaders;
    /* Who sent it and what it may do (principal_allows(), authz.h); never NULL. An anonymous
     * admin when auth is off; nobody on /health. */
    const struct principal *principal;
};

/* Case-insensitive header look-up; NULL if absent. */
const char *http_req_header(const struct http_req *req, const char *name);
/* First value of query parameter `key`, URL-decoded into dst; NULL if absent. */
const char *http_req_query(const struct http_req *req, const char *key, char *dst, size_t dstlen);

/* A response. The net layer takes ownership of `body` (malloc'd, may be NULL). */
struct http_resp {
    int status;
    const char *content_type; /* static string; default "application/json" */
    char *body;
    size_t body_len;
    char extra_headers[256]; /* "Name: value\r\n" lines, e.g. Retry-After, Location */
};

enum http_outcome { HTTP_DONE = 0, HTTP_DEFERRED = 1 };

/* The application's side: routing, WS protocols and credentials. */
struct net_app {
    void *ud;
    /* Fill *resp and return HTTP_DONE, or keep req->id and return HTTP_DEFERRED, then call
     * net_complete() later from any thread. */
    enum http_outcome (*on_http)(void *ud, const struct http_req *req, struct http_resp *resp);
    /* A WS upgrade to `path` by `who` (borrowed for the call; copy what you keep). Return false
     * to refuse (404). */
    bool (*on_ws_open)(void *ud, uint64_t conn, const char *path, const struct principal *who);
    /* One whole text or binary message (reassembled from fragments), borrowed for the call. */
    void (*on_ws_message)(void *ud, uint64_t conn, const char *data, size_t len, bool binary);
    void (*on_ws_close)(void *ud, uint64_t conn);
    /* Credentials check, before the body is read (and for WS upgrades): `cred` holds the
     * Authorization and X-API-Key headers and the api-key query parameter (each NULL if absent).
     * Return true and fill *who if allowed; false answers 401. When NULL, auth is off: every
     * request is an anonymous admin (principal_anonymous_admin). GET /health is never checked. */
    bool (*authenticate)(void *ud, const struct auth_credentials *cred, struct principal *who);
    /* Optional, NULL-terminated: extra non-standard request header names (any case) to collect
     * into http_req.headers. lws 4.1 cannot list unknown headers, so only standard ones plus a
     * built-in set (x-request-id, x-api-key, idempotency-key, ...) and these are seen. Copied
     * by net_new(). */
    const char *const *custom_headers;
    /* Optional: called after each turn of the loop, once the ready sockets have been read, so
     * the application can hand on what it gathered during the turn as one batch. */
    void (*on_idle)(void *ud);
};

/* Binds to `listen` ("127.0.0.1:8072", port 0 picks a free one). The bound address is checked:
 * a loopback `listen` must not end up listening on other interfaces.
 * Returns NULL and logs on failure. */
struct net *net_new(const char *listen, const struct net_limits *lim, const struct net_app *app);
void net_free(struct net *n);
uint16_t net_port(const struct net *n); /* the bound port (useful with port 0) */

/* Runs the loop until net_stop(). Returns 0 on a clean stop. */
int net_run(struct net *n);
/* Thread-safe: makes net_run() return after finishing in-flight writes. */
void net_stop(struct net *n);

/* Thread-safe: finishes a deferred request. Takes ownership of resp->body. If the client has gone
 * away meanwhile, the response is dropped. */
void net_complete(struct net *n, uint64_t req_id, struct http_resp *resp);
/* Thread-safe: queues a text frame (copied) to a WS connection; ignored if it is gone. */
void net_ws_send(struct net *n, uint64_t conn, const char *data, size_t len);

/* Helpers to build JSON responses (body malloc'd). */
void http_resp_json(struct http_resp *resp, int status, char *json_body /* owned */);
/* {"error": msg, "field": field (omitted if NULL), "status": status} */
void http_resp_error(struct http_resp *resp, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
