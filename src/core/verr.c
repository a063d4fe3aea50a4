#include "core/verr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

int verr_set(struct verr *e, const char *field, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return TOCSIN_EINVAL;
    snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    if (!e->status)
        e->status = 400;
    return TOCSIN_EINVAL;
}

void verr_prefix(struct verr *e, const char *prefix)
{
    char tmp[sizeof(e->field) + 128];

    if (!e || !prefix || !*prefix)
        return;
    if (!e->field[0])
        snprintf(tmp, sizeof(tmp), "%s", prefix);
    else if (e->field[0] == '[')
        snprintf(tmp, sizeof(tmp), "%s%s", prefix, e->field);
    else
        snprintf(tmp, sizeof(tmp), "%s.%s", prefix, e->field);
    snprintf(e->field, sizeof(e->field), "%.*s", (int)sizeof(e->field) - 1, tmp);
}

void verr_prefix_index(struct verr *e, const char *name, size_t index)
{
    char p[96];

    snprintf(p, sizeof(p), "%s[%zu]", name ? name : "", index);
    verr_prefix(e, p);
}
