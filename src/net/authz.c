#include "net/authz.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void authz_error(struct http_resp *resp, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    json_t *o;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* A message that is not valid UTF-8 (a name taken from a request) cannot be a JSON string:
     * fall back to a fixed one rather than answer nothing. */
    o = json_pack("{s:s,s:s,s:i,s:n}", "status", "error", "message", msg, "code", status, "errors");
    if (!o)
        o = json_pack("{s:s,s:s,s:i,s:n}", "status", "error", "message", "request refused", "code",
                      status, "errors");
    http_resp_json(resp, status, o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL);
    json_decref(o);
}

bool authz_require(const struct principal *p, const char *scope, struct http_resp *resp)
{
    if (principal_allows(p, scope))
        return true;
    authz_error(resp, 403, "Missing required scope: %s", scope);
    return false;
}

int authz_assign_customer(const struct principal *p, const char *wanted, const char *admin_scope,
                          const char **out, char *msg, size_t msglen)
{
    *out = NULL;
    if (wanted && *wanted) {
        /* Exact membership, not implication: Alerta's `permission in g.scopes`. */
        if ((p && (p->is_admin ||
                   scope_set_has(&p->scopes, admin_scope ? admin_scope : "admin:alerts"))) ||
            (p && p->ncustomers && principal_sees_customer(p, wanted))) {
            *out = wanted;
            return 0;
        }
        snprintf(msg, msglen, "not allowed to set customer to '%s'", wanted);
        return 400;
    }
    if (p && p->ncustomers > 1) {
        snprintf(msg, msglen, "must define customer as more than one possibility");
        return 400;
    }
    if (p && p->ncustomers == 1)
        *out = p->customers[0];
    return 0;
}
