/* Helpers shared by the HTTP handlers. They run on the network thread. */
#ifndef TOCSIN_API_COMMON_H
#define TOCSIN_API_COMMON_H

#include <jansson.h>
#include <stdbool.h>

#include "core/verr.h"
#include "daemon/app.h"
#include "net/net.h"

/* Parses a JSON body. On error fills err (field "body", status 400) and returns TOCSIN_EINVAL. */
int api_parse_json(const char *body, size_t len, json_t **out, struct verr *err);
/* The JSON of an error: {"error": msg, "field": field (omitted if NULL or ""), "status": N},
 * with "type": "ERROR" first when it is a WebSocket frame. Caller frees; NULL if out of memory. */
char *api_error_json(int status, const char *field, const char *msg, bool ws_frame);
/* Alerta's error body: {"status":"error","message":msg,"code":status,"errors":null} plus
 * "field" when given. Caller frees; NULL if out of memory. */
char *alerta_error_json(int status, const char *field, const char *msg);
/* Answers an error in Alerta's shape (alerta) or tocsin's, and returns HTTP_DONE. */
enum http_outcome api_fail_as(struct http_resp *resp, bool alerta, int status, const char *field,
                              const char *msg);
enum http_outcome api_fail_verr_as(struct http_resp *resp, bool alerta, const struct verr *e);
/* "http://<Host>/alerta" (alerta) or "http://<Host>/api/v1" for hrefs, from the Host header;
 * NULL when there is none or it holds characters that have no place in a URL. Caller frees. */
char *api_href_base(const struct http_req *req, bool alerta);
/* Sends that error as a WebSocket frame (thread-safe, as net_ws_send). */
void api_ws_error(struct app *a, uint64_t conn, int status, const char *field, const char *msg);
/* Answers with the error in err (its status, default 400). */
void api_fail(struct http_resp *resp, const struct verr *err);
/* Answers 200 (or status) with j (takes the reference). */
void api_json(struct http_resp *resp, int status, json_t *j);
/* If path is prefix + "/" + id (one segment), copies id and returns true. */
bool api_path_id(const char *path, const char *prefix, char *id, size_t idlen);
/* Reads limit/offset (limit 1..1000, default 50). On error fills err and returns false. */
bool api_paging(const struct http_req *req, size_t *limit, size_t *offset, struct verr *err);
/* Answers a store read error: 404 for TOCSIN_ENOTFOUND, 503 otherwise. */
void api_store_fail(struct http_resp *resp, int rc, const char *what);

/* Handlers (one file per resource). Each returns HTTP_DONE or HTTP_DEFERRED. */
enum http_outcome gravitee_http_triggers(struct app *a, const struct http_req *req,
                                         struct http_resp *resp);
enum http_outcome gravitee_http_events(struct app *a, const struct http_req *req,
                                       struct http_resp *resp);
void gravitee_ws_open(struct app *a, uint64_t conn, bool triggers);
void gravitee_ws_message(struct app *a, uint64_t conn, bool triggers, const char *data,
                         size_t len);
/* Hands the WebSocket events gathered so far to the engine (called when the loop goes idle). */
void gravitee_ws_flush(struct app *a);
/* Parses one trigger or an array into an EM_TRIGGERS message. */
int gravitee_triggers_msg(struct app *a, const json_t *j, bool allow_array, struct emsg **out,
                          struct verr *err);

enum http_outcome api_triggers(struct app *a, const struct http_req *req, struct http_resp *resp);
/* /api/v1/alerts and /alerta/... (compat/alerta.c). */
enum http_outcome api_alerts(struct app *a, const struct http_req *req, struct http_resp *resp);
enum http_outcome alerta_http(struct app *a, const struct http_req *req, struct http_resp *resp);
/* API keys (api/keys.c): `rest` is the path after "/alerta" or "/api/v1" ("/key...",
 * "/keys..."). */
enum http_outcome api_keys(struct app *a, const struct http_req *req, struct http_resp *resp,
                           const char *rest, bool alerta);
enum http_outcome api_channels(struct app *a, const struct http_req *req, struct http_resp *resp);
enum http_outcome api_rules(struct app *a, const struct http_req *req, struct http_resp *resp);
enum http_outcome api_notification_one(struct app *a, const struct http_req *req,
                                       struct http_resp *resp);
enum http_outcome api_notifications(struct app *a, const struct http_req *req,
                                    struct http_resp *resp);
enum http_outcome api_stats(struct app *a, const struct http_req *req, struct http_resp *resp);
enum http_outcome api_admin_clock(struct app *a, const struct http_req *req,
                                  struct http_resp *resp);

#endif
