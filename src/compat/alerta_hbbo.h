/* Alerta's heartbeat and blackout endpoints, and tocsin's own:
 *   /alerta/heartbeat (POST), /alerta/heartbeats (GET), /alerta/heartbeat/{id} (GET, DELETE),
 *   /alerta/blackout (POST), /alerta/blackouts (GET), /alerta/blackout/{id} (GET, PUT, DELETE),
 *   /alerta/management/healthcheck (GET);
 *   /api/v1/heartbeats (GET, POST), /api/v1/heartbeats/{id} (GET, DELETE),
 *   /api/v1/blackouts (GET, POST), /api/v1/blackouts/{id} (GET, PUT, DELETE).
 * Network thread. The scope, the JSON and the query are checked here; everything else is done
 * by the engine thread, which holds the state (daemon/hbbo.h) and answers. */
#ifndef TOCSIN_ALERTA_HBBO_H
#define TOCSIN_ALERTA_HBBO_H

#include <stdbool.h>

#include "daemon/app.h"
#include "net/net.h"

/* True if `path` is one of the paths above: with `alerta`, the path after "/alerta"; else the
 * whole path. */
bool alerta_hbbo_owns(const char *path, bool alerta);
/* Handles a request for such a path (same `path` as alerta_hbbo_owns). */
enum http_outcome alerta_hbbo_http(struct app *a, const struct http_req *req,
                                   struct http_resp *resp, bool alerta, const char *path);

#endif
