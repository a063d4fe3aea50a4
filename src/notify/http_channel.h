/* One HTTP delivery: sets up a libcurl easy handle from a rendered notify_rec.
 *
 * What is sent: the record's method, URL (http and https only, also for redirects; at most
 * HTTP_CHANNEL_MAX_REDIRS redirects followed), its headers (headers_json
 * [{"name":..,"value":..}], at most HTTP_CHANNEL_MAX_HEADERS) and body, plus
 *   User-Agent: tocsin/<TOCSIN_VERSION>
 *   X-Tocsin-Notification: <rec id>   (an idempotency key: the same on every retry)
 *   Content-Type: application/json | text/plain; charset=utf-8   (only when the record sets none
 *                                    and a body is sent: JSON if the body parses as JSON)
 * User headers named User-Agent, X-Tocsin-Notification or Content-Length are ignored (tocsin
 * and libcurl set those). TLS certificates are verified unless rec->tls_verify is false. With
 * rec->use_proxy false no proxy is used even if http_proxy/https_proxy are set; with true
 * libcurl reads them from the environment. The response body is kept up to
 * HTTP_CHANNEL_MAX_RESPONSE bytes (the rest is read and discarded). */
#ifndef TOCSIN_HTTP_CHANNEL_H
#define TOCSIN_HTTP_CHANNEL_H

#include <curl/curl.h>
#include <stdint.h>

#include "core/model.h"
#include "util/buf.h"

#define HTTP_CHANNEL_MAX_RESPONSE (64 * 1024)
#define HTTP_CHANNEL_MAX_HEADERS 64
#define HTTP_CHANNEL_MAX_HEADER_LINE (8 * 1024)
#define HTTP_CHANNEL_MAX_REDIRS 5

/* The curl state of one delivery slot, reused from attempt to attempt. */
struct http_delivery {
    CURL *easy;                   /* owned */
    struct curl_slist *headers;   /* owned; must live until the transfer is done */
    struct buf resp;              /* response body, at most HTTP_CHANNEL_MAX_RESPONSE bytes */
    char errbuf[CURL_ERROR_SIZE]; /* libcurl's detail for a failed transfer ("" if none) */
};

int http_delivery_init(struct http_delivery *d);  /* TOCSIN_ENOMEM */
void http_delivery_clear(struct http_delivery *d); /* after a transfer: headers, response */
void http_delivery_free(struct http_delivery *d);

/* Resets d->easy and sets it up to deliver `rec` with a whole-transfer timeout of timeout_ms.
 * `rec` is borrowed, and must stay alive and unchanged until the transfer is done (the body is
 * not copied). Returns TOCSIN_EINVAL (with a reason in err) for a record that can never be sent
 * (bad method, URL not http(s), malformed headers), TOCSIN_ENOMEM, or TOCSIN_EIO if libcurl
 * refuses an option. */
int http_channel_setup(struct http_delivery *d, const struct notify_rec *rec, int64_t timeout_ms,
                       char *err, size_t errlen);

/* libcurl write callback keeping at most the struct buf's max bytes (ud = the struct buf *); the
 * rest of the body is read and dropped. */
size_t http_channel_on_body(char *p, size_t size, size_t nmemb, void *ud);

#endif
