/* Authorisation helpers for handlers (src/api, src/compat): scope checks with Alerta's 403 and
 * Alerta's customer (tenant) assignment. The principal comes from http_req.principal. */
#ifndef TOCSIN_AUTHZ_H
#define TOCSIN_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>

#include "net/net.h"
#include "net/principal.h"

/* Alerta's error body (exceptions.py handle_api_error) into resp:
 * {"status":"error","message":"...","code":status,"errors":null}. */
void authz_error(struct http_resp *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True if `p` holds `scope` (principal_allows). Otherwise fills resp with Alerta's 403,
 * {"status":"error","message":"Missing required scope: write:alerts","code":403,"errors":null},
 * and returns false: the handler returns HTTP_DONE. */
bool authz_require(const struct principal *p, const char *scope, struct http_resp *resp);

/* Alerta's assign_customer (utils/api.py): the customer a new object (alert, blackout, key, ...)
 * gets.
 *   - `wanted` given (non-empty): allowed for the bare admin scope or exactly `admin_scope`
 *     (e.g. "admin:alerts", "admin:keys"; NULL = "admin:alerts"), or for one of p's customers;
 *     else 400 "not allowed to set customer to '<wanted>'".
 *   - none wanted: a principal with exactly one customer gets it; with more than one, 400 "must
 *     define customer as more than one possibility"; with none, no customer.
 * Sets *out (borrowed from `wanted` or `p`, NULL for no customer) and returns 0, or returns 400
 * with Alerta's message in msg. */
int authz_assign_customer(const struct principal *p, const char *wanted, const char *admin_scope,
                          const char **out, char *msg, size_t msglen);

#endif
