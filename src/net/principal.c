#include "net/principal.h"

#include <string.h>

#include "util/err.h"

void principal_nobody(struct principal *p)
{
    memset(p, 0, sizeof(*p));
}

void principal_anonymous_admin(struct principal *p)
{
    principal_nobody(p);
    scope_set_add(&p->scopes, "admin", NULL, 0);
    scope_set_add(&p->scopes, "read", NULL, 0);
    scope_set_add(&p->scopes, "write", NULL, 0);
    p->is_admin = true;
}

const char *principal_user(const struct principal *p)
{
    return p && p->user[0] ? p->user : NULL;
}

bool principal_allows(const struct principal *p, const char *needed_scope)
{
    if (!needed_scope || !*needed_scope)
        return true;
    return p && scope_allows(&p->scopes, needed_scope);
}

size_t principal_customers(const struct principal *p, const char **out, size_t max)
{
    size_t n = 0;

    for (; p && n < p->ncustomers && n < max; n++)
        out[n] = p->customers[n];
    return n;
}

bool principal_sees_customer(const struct principal *p, const char *customer)
{
    if (!p)
        return false;
    if (!p->ncustomers)
        return true;
    for (size_t i = 0; customer && *customer && i < p->ncustomers; i++)
        if (!strcmp(p->customers[i], customer))
            return true;
    return false;
}

int principal_add_customer(struct principal *p, const char *customer)
{
    size_t len = customer ? strnlen(customer, PRINCIPAL_NAME_MAX + 1) : 0;

    if (len == 0 || len > PRINCIPAL_NAME_MAX)
        return TOCSIN_EINVAL;
    if (principal_sees_customer(p, customer) && p->ncustomers)
        return TOCSIN_OK;
    if (p->ncustomers >= PRINCIPAL_MAX_CUSTOMERS)
        return TOCSIN_ETOOBIG;
    memcpy(p->customers[p->ncustomers++], customer, len + 1);
    return TOCSIN_OK;
}
