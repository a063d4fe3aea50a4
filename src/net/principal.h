/* Who a request comes from and what it may do: the result of authentication, handed by the
 * network layer to every handler (http_req.principal) and to WebSocket upgrades.
 *
 * A principal is a plain value holding copies of everything (no pointers), so it stays valid
 * whatever happens to the users or keys it came from; copy it with `=`. Pure, thread-safe. */
#ifndef TOCSIN_PRINCIPAL_H
#define TOCSIN_PRINCIPAL_H

#include <stdbool.h>
#include <stddef.h>

#include "net/scope.h"

#define PRINCIPAL_NAME_MAX 128     /* bytes in a user or customer name */
#define PRINCIPAL_MAX_CUSTOMERS 16 /* customers one principal may be restricted to */

enum auth_kind {
    AUTH_KIND_NONE = 0, /* no credentials: anonymous (auth off) or an unauthenticated path */
    AUTH_KIND_BASIC,    /* a configured user, by HTTP Basic */
    AUTH_KIND_KEY,      /* an API key */
};

struct principal {
    enum auth_kind kind;
    bool is_admin;                     /* holds the bare "admin" scope */
    char user[PRINCIPAL_NAME_MAX + 1]; /* "" when anonymous; a key's owner for AUTH_KIND_KEY */
    struct scope_set scopes;
    size_t ncustomers; /* 0: every customer (no restriction) */
    char customers[PRINCIPAL_MAX_CUSTOMERS][PRINCIPAL_NAME_MAX + 1];
    char key_id[37]; /* AUTH_KIND_KEY: the key's id, else "" */
};

/* The credentials a request carries, as the network layer found them (each NULL if absent). */
struct auth_credentials {
    const char *authorization; /* the Authorization header value */
    const char *x_api_key;     /* the X-API-Key header value */
    const char *api_key;       /* the api-key query parameter, URL-decoded */
};

/* Auth off (Alerta's AUTH_REQUIRED=False): anonymous, holding read, write and admin. */
void principal_anonymous_admin(struct principal *p);
/* Nobody: no user, no scopes (an unauthenticated path such as /health while auth is on). */
void principal_nobody(struct principal *p);

/* The user name, or NULL when anonymous. Owned by p. */
const char *principal_user(const struct principal *p);
/* Alerta's is_in_scope for this principal (see scope.h); false for NULL p unless `needed` is
 * NULL or empty. */
bool principal_allows(const struct principal *p, const char *needed_scope);
/* The customers the principal is restricted to, for query restriction: fills out[0..n) with
 * pointers into p (at most `max`) and returns n; 0 means no restriction (all customers). */
size_t principal_customers(const struct principal *p, const char **out, size_t max);
/* Whether the principal may see `customer` (NULL or "" is an alert without a customer, which
 * only unrestricted principals see, as in Alerta's customer=ANY(...) filter). */
bool principal_sees_customer(const struct principal *p, const char *customer);
/* Adds a customer (ignored when already there). TOCSIN_ETOOBIG past PRINCIPAL_MAX_CUSTOMERS,
 * TOCSIN_EINVAL for an empty or too long name. */
int principal_add_customer(struct principal *p, const char *customer);

#endif
