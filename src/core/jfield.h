/* Reading typed fields of a JSON object for the validators (triggers, conditions, dampening):
 * each error names the field and is returned as TOCSIN_EINVAL through struct verr. */
#ifndef TOCSIN_JFIELD_H
#define TOCSIN_JFIELD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/verr.h"

/* A string field, copied into *out (caller frees; NULL when absent and not required). A required
 * string must not be empty; none may be longer than max bytes. */
int jf_string(const json_t *j, const char *field, bool required, size_t max, char **out,
              struct verr *err);
/* An optional boolean: *out is left as it was when the field is absent or null. */
int jf_bool(const json_t *j, const char *field, bool *out, struct verr *err);

#endif
