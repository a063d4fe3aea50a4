/* Validation errors that name the offending field, e.g. "conditions[0].operator". */
#ifndef TOCSIN_VERR_H
#define TOCSIN_VERR_H

#include <stddef.h>

struct verr {
    char field[192];
    char msg[256];
    int status; /* HTTP status to answer with: 400 unless said otherwise (413 for limits) */
};

/* Sets field (prefix + name joined with '.' or '[i]') and a message; returns TOCSIN_EINVAL. */
int verr_set(struct verr *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "prefix." (or "[i]" when prefix starts with '[') to the field already set. */
void verr_prefix(struct verr *e, const char *prefix);
void verr_prefix_index(struct verr *e, const char *name, size_t index);

#endif
