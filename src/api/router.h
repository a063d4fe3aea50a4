/* HTTP routing and WebSocket dispatch for every surface (native API, Gravitee AE). */
#ifndef TOCSIN_ROUTER_H
#define TOCSIN_ROUTER_H

#include "daemon/app.h"
#include "net/net.h"

/* Fills the callbacks the network layer calls, bound to `a`. */
void router_net_app(struct app *a, struct net_app *out);

#endif
