#include "notify/http_channel.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/jtree.h"
#include "notify/creq.h"
#include "util/err.h"

#ifndef TOCSIN_VERSION
#define TOCSIN_VERSION "dev" /* the build defines the real one */
#endif

#define HEADER_NAME_MAX 256

int http_delivery_init(struct http_delivery *d)
{
    memset(d, 0, sizeof(*d));
    buf_init(&d->resp, HTTP_CHANNEL_MAX_RESPONSE);
    d->easy = curl_easy_init();
    return d->easy ? TOCSIN_OK : TOCSIN_ENOMEM;
}

void http_delivery_clear(struct http_delivery *d)
{
    curl_slist_free_all(d->headers);
    d->headers = NULL;
    buf_free(&d->resp);
    buf_init(&d->resp, HTTP_CHANNEL_MAX_RESPONSE);
    d->errbuf[0] = '\0';
}

void http_delivery_free(struct http_delivery *d)
{
    if (!d)
        return;
    http_delivery_clear(d);
    if (d->easy)
        curl_easy_cleanup(d->easy);
    d->easy = NULL;
}

/* Keeps what fits in the bounded buffer; the rest is read and dropped. */
size_t http_channel_on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t n = size * nmemb;
    size_t room = b->max > b->len ? b->max - b->len : 0;

    if (room)
        buf_append(b, p, n < room ? n : room);
    return n;
}

/* RFC 9110 token characters. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || n > HEADER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

/* No CR, LF, NUL or other control characters but tab: nothing that could split a header. */
static bool valid_value(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

static int append_line(struct http_delivery *d, const char *line)
{
    struct curl_slist *l = curl_slist_append(d->headers, line);

    if (!l)
        return TOCSIN_ENOMEM;
    d->headers = l;
    return TOCSIN_OK;
}

/* Appends "Name: value" ("Name;" for an empty value, which is how libcurl sends one). */
static int add_header(struct http_delivery *d, const char *name, size_t nlen, const char *value,
                      size_t vlen)
{
    struct buf line;
    int rc;

    buf_init(&line, HTTP_CHANNEL_MAX_HEADER_LINE);
    rc = buf_append(&line, name, nlen);
    if (!rc)
        rc = vlen ? buf_puts(&line, ": ") : buf_putc(&line, ';');
    if (!rc)
        rc = buf_append(&line, value, vlen);
    if (!rc)
        rc = append_line(d, buf_str(&line));
    buf_free(&line);
    return rc;
}

static bool reserved_name(const char *name)
{
    return strcasecmp(name, "User-Agent") == 0 || strcasecmp(name, "X-Tocsin-Notification") == 0 ||
           strcasecmp(name, "Content-Length") == 0;
}

/* Adds the record's headers; sets *has_ct if one of them is Content-Type. */
static int add_user_headers(struct http_delivery *d, const char *headers_json, bool *has_ct,
                            char *err, size_t errlen)
{
    json_t *arr, *h;
    size_t i;
    int rc = TOCSIN_OK;

    if (!headers_json || !*headers_json)
        return TOCSIN_OK;
    arr = json_loads(headers_json, 0, NULL);
    if (!json_is_array(arr) || json_array_size(arr) > HTTP_CHANNEL_MAX_HEADERS) {
        snprintf(err, errlen, "headers are not a JSON array of at most %d entries",
                 HTTP_CHANNEL_MAX_HEADERS);
        json_decref(arr);
        return TOCSIN_EINVAL;
    }
    json_array_foreach(arr, i, h) {
        json_t *jn = json_object_get(h, "name"), *jv = json_object_get(h, "value");
        const char *name = json_string_value(jn), *value = jv ? json_string_value(jv) : "";
        size_t nlen = json_string_length(jn), vlen = jv ? json_string_length(jv) : 0;

        if (!name || !value || !valid_name(name, nlen) || !valid_value(value, vlen)) {
            snprintf(err, errlen, "header %zu: bad name or value", i);
            rc = TOCSIN_EINVAL;
            break;
        }
        if (reserved_name(name))
            continue;
        if (strcasecmp(name, "Content-Type") == 0)
            *has_ct = true;
        rc = add_header(d, name, nlen, value, vlen);
        if (rc)
            break;
    }
    json_decref(arr);
    return rc;
}

static int add_fixed_headers(struct http_delivery *d, const struct notify_rec *rec)
{
    static const char ua[] = "tocsin/" TOCSIN_VERSION;
    int rc;

    rc = add_header(d, "User-Agent", 10, ua, sizeof(ua) - 1);
    if (!rc)
        rc = add_header(d, "X-Tocsin-Notification", 21, rec->id, strlen(rec->id));
    if (!rc) /* "Expect:" = no "Expect: 100-continue" round trip before the body */
        rc = append_line(d, "Expect:");
    return rc;
}

/* Sets the method and body; *sends_body tells whether a body goes out. Returns non-zero if
 * libcurl refused an option. */
static int set_method(CURL *e, const char *method, const char *body, bool *sends_body)
{
    size_t blen = body ? strlen(body) : 0;
    bool post = strcmp(method, "POST") == 0;
    int c = 0;

    *sends_body = false;
    if (strcmp(method, "GET") == 0)
        return (int)curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    if (strcmp(method, "HEAD") == 0)
        return (int)curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (!post)
        c |= (int)curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (post || blen) {
        c |= (int)curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
        c |= (int)curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
        *sends_body = true;
    }
    return c;
}

static int default_content_type(struct http_delivery *d, const char *body)
{
    static const char json[] = "application/json", text[] = "text/plain; charset=utf-8";
    return body && jtree_is_json(body, strlen(body))
               ? add_header(d, "Content-Type", 12, json, sizeof(json) - 1)
               : add_header(d, "Content-Type", 12, text, sizeof(text) - 1);
}

/* Transport options common to every delivery. */
static int set_transport(struct http_delivery *d, const struct notify_rec *rec, int64_t timeout_ms)
{
    CURL *e = d->easy;
    int c = 0;

    c |= (int)curl_easy_setopt(e, CURLOPT_URL, rec->url);
    c |= (int)curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    c |= (int)curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    c |= (int)curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    c |= (int)curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)HTTP_CHANNEL_MAX_REDIRS);
    c |= (int)curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->headers);
    c |= (int)curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, rec->tls_verify ? 1L : 0L);
    c |= (int)curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, rec->tls_verify ? 2L : 0L);
    if (!rec->use_proxy) /* "" = no proxy, whatever the environment says */
        c |= (int)curl_easy_setopt(e, CURLOPT_PROXY, "");
    c |= (int)curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    c |= (int)curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 0));
    c |= (int)curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_channel_on_body);
    c |= (int)curl_easy_setopt(e, CURLOPT_WRITEDATA, &d->resp);
    c |= (int)curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d->errbuf);
    return c;
}

int http_channel_setup(struct http_delivery *d, const struct notify_rec *rec, int64_t timeout_ms,
                       char *err, size_t errlen)
{
    static const char *const schemes[] = {"http://", "https://", NULL};
    char method[CREQ_METHOD_MAX + 1];
    bool has_ct = false, sends_body = false;
    int rc;

    curl_easy_reset(d->easy);
    http_delivery_clear(d);
    if (!rec->url || !creq_url_ok(rec->url, schemes)) {
        snprintf(err, errlen, "URL is not an http or https URL");
        return TOCSIN_EINVAL;
    }
    if (!creq_method(rec->method, method)) {
        snprintf(err, errlen, "bad HTTP method");
        return TOCSIN_EINVAL;
    }
    rc = add_user_headers(d, rec->headers_json, &has_ct, err, errlen);
    if (!rc)
        rc = add_fixed_headers(d, rec);
    if (rc)
        goto out;
    if (set_method(d->easy, method, rec->body, &sends_body)) {
        rc = TOCSIN_EIO;
        goto out;
    }
    if (sends_body && !has_ct && (rc = default_content_type(d, rec->body)))
        goto out;
    if (set_transport(d, rec, timeout_ms))
        rc = TOCSIN_EIO;
out:
    if (rc == TOCSIN_ENOMEM)
        snprintf(err, errlen, "out of memory");
    else if (rc == TOCSIN_EIO)
        snprintf(err, errlen, "libcurl refused an option");
    return rc;
}
