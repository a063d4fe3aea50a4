#include "core/jfield.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

int jf_string(const json_t *j, const char *field, bool required, size_t max, char **out,
              struct verr *err)
{
    const json_t *v = json_object_get(j, field);

    *out = NULL;
    if (!v || json_is_null(v))
        return required ? verr_set(err, field, "missing required field") : TOCSIN_OK;
    if (!json_is_string(v))
        return verr_set(err, field, "must be a string");
    if (required && json_string_length(v) == 0)
        return verr_set(err, field, "must not be empty");
    if (json_string_length(v) > max)
        return verr_set(err, field, "longer than %zu bytes", max);
    *out = strdup(json_string_value(v));
    return *out ? TOCSIN_OK : TOCSIN_ENOMEM;
}

int jf_bool(const json_t *j, const char *field, bool *out, struct verr *err)
{
    const json_t *v = json_object_get(j, field);

    if (!v || json_is_null(v))
        return TOCSIN_OK;
    if (!json_is_boolean(v))
        return verr_set(err, field, "must be true or false");
    *out = json_is_true(v);
    return TOCSIN_OK;
}
