#include "core/ajson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alert.h"
#include "util/err.h"

/* ---- reading ---- */

int ajson_opt_str(const json_t *o, const char *field, size_t max, const char **out,
                  struct verr *err)
{
    const json_t *v = json_object_get(o, field);

    *out = NULL;
    if (!v || json_is_null(v))
        return TOCSIN_OK;
    if (!json_is_string(v))
        return verr_set(err, field, "%s must be a string", field);
    if (json_string_length(v) > max)
        return verr_set(err, field, "%s must be at most %zu bytes", field, max);
    *out = json_string_value(v);
    return TOCSIN_OK;
}

int ajson_str_list(const json_t *v, const char *field, bool null_ok, char ***out, uint32_t *n,
                   struct verr *err)
{
    const json_t *item;
    size_t i;

    *out = NULL;
    *n = 0;
    if (!v || (null_ok && json_is_null(v)))
        return TOCSIN_OK;
    if (!json_is_array(v))
        return verr_set(err, field, "%s must be a list", field);
    if (json_array_size(v) > ALERT_MAX_ITEMS)
        return verr_set(err, field, "%s must have at most %d items", field, ALERT_MAX_ITEMS);
    if (!json_array_size(v))
        return TOCSIN_OK;
    *out = calloc(json_array_size(v), sizeof(char *));
    if (!*out)
        return TOCSIN_ENOMEM;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item) || json_string_length(item) > ALERT_MAX_NAME) {
            verr_set(err, "", "%s must be a list of strings of at most %d bytes", field,
                     ALERT_MAX_NAME);
            verr_prefix_index(err, field, i);
            return TOCSIN_EINVAL;
        }
        if (!((*out)[i] = strdup(json_string_value(item))))
            return TOCSIN_ENOMEM;
        *n = (uint32_t)i + 1;
    }
    return TOCSIN_OK;
}

void ajson_free_strs(char **v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int ajson_opt_time(const json_t *o, const char *field, int64_t *ms, bool *present, struct verr *err)
{
    const json_t *v = json_object_get(o, field);

    if (present)
        *present = false;
    if (!v || json_is_null(v))
        return TOCSIN_OK;
    if (!json_is_string(v) || !iso8601_parse(json_string_value(v), json_string_length(v), ms))
        return verr_set(err, field, "dates must be ISO 8601 date format YYYY-MM-DDThh:mm:ss.sssZ");
    if (present)
        *present = true;
    return TOCSIN_OK;
}

/* ---- ordering lists ---- */

int ajson_cmp_str(const char *a, const char *b)
{
    if (!a || !b) /* Postgres puts NULL after every value in ascending order */
        return (a == NULL) - (b == NULL);
    return strcmp(a, b);
}

int ajson_cmp_i64(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
}

int ajson_cmp_strs(char *const *a, uint32_t na, char *const *b, uint32_t nb)
{
    for (uint32_t i = 0; i < na && i < nb; i++) {
        int c = strcmp(a[i], b[i]);
        if (c)
            return c;
    }
    return ajson_cmp_i64(na, nb);
}

bool ajson_customer_in(const char *const *customers, size_t n, const char *customer)
{
    if (!customers)
        return true;
    for (size_t i = 0; customer && i < n; i++)
        if (!strcmp(customers[i], customer))
            return true;
    return false;
}

/* ---- building ---- */

int ajson_put(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set_new(o, k, v) : -1;
}

int ajson_put_href(json_t *o, const char *base, const char *path, const char *id)
{
    size_t n = strlen(base) + strlen(path) + strlen(id) + 1;
    char *href = malloc(n);
    int rc;

    if (href)
        snprintf(href, n, "%s%s%s", base, path, id);
    rc = ajson_put(o, "href", href ? json_string(href) : NULL);
    free(href);
    return rc;
}

json_t *ajson_time(int64_t ms)
{
    char t[32];

    iso8601_ms(ms, t);
    return json_string(t);
}

json_t *ajson_nullable(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *ajson_str_array(const char *const *v, uint32_t n)
{
    json_t *a = json_array();

    for (uint32_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(v[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}
