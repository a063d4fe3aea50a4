/* creq: sets up a libcurl easy handle for one struct chan_req (channel.h), HTTP(S) or SMTP, and
 * collects the answer for chan_check().
 *
 * HTTP: the request's method, URL (http and https only, also for redirects, at most
 *   CREQ_MAX_REDIRS followed; credentials are not sent to another host), its headers, plus
 *     User-Agent: tocsin/<TOCSIN_VERSION>
 *     Expect:                      (no 100-continue round trip)
 *     Content-Type: application/json | text/plain; charset=utf-8
 *                                  (only when a body is sent and the request sets none)
 *   request headers named User-Agent, Content-Length, Host or Transfer-Encoding are refused
 *   (EINVAL); the body (body_len bytes; GET and HEAD send none); basic auth from
 *   username/password.
 * SMTP: smtp:// (STARTTLS required when r->starttls, else plain) or smtps:// (implicit TLS),
 *   AUTH with username/password when set, MAIL FROM:<mail_from>, RCPT TO:<each rcpt>, then the
 *   message (r->body) uploaded through a read callback; libcurl dot-stuffs it.
 * Both: whole-transfer timeout r->timeout_ms; TLS certificate and host name verified unless
 *   r->tls_verify is false; no proxy unless r->use_proxy (then libcurl reads http(s)_proxy from
 *   the environment); no signals.
 * The answer: the body up to CREQ_MAX_RESPONSE bytes (the rest is read and dropped), the header
 *   lines of the final response (at most CREQ_MAX_RESP_HEADERS lines, CREQ_MAX_HEADER_BYTES in
 *   all; the rest dropped). */
#ifndef TOCSIN_CREQ_H
#define TOCSIN_CREQ_H

#include <curl/curl.h>
#include <stddef.h>

#include "notify/channel.h"
#include "util/buf.h"

#define CREQ_MAX_RESPONSE (64 * 1024)
#define CREQ_MAX_RESP_HEADERS 64
#define CREQ_MAX_HEADER_BYTES (16 * 1024)
#define CREQ_MAX_REDIRS 5
#define CREQ_METHOD_MAX 16 /* letters of an HTTP method */

/* The per-transfer state that must outlive curl_easy_perform / the multi transfer. */
struct creq_xfer {
    struct curl_slist *hdrs; /* request headers (HTTP) */
    struct curl_slist *rcpt; /* recipients (SMTP) */
    const char *up;          /* SMTP upload: borrowed from the request */
    size_t up_len, up_off;
    struct buf body; /* response body, at most CREQ_MAX_RESPONSE bytes */
    struct buf head; /* response header lines, each NUL-terminated */
    size_t nhead;
    /* the nhead lines, set by creq_response (allocated there: inline, the 512 bytes made this
     * struct a large chunk for malloc, whose every allocation consolidated its fast bins) */
    const char **hv;
    char errbuf[CURL_ERROR_SIZE]; /* libcurl's detail for a failed transfer ("" if none) */
};

void creq_xfer_init(struct creq_xfer *x);
/* Frees the lists and buffers; x can be set up again. */
void creq_xfer_clear(struct creq_xfer *x);

/* Resets `easy` (curl_easy_reset) and sets it up for r. r is borrowed and must stay alive and
 * unchanged until the transfer is done (the body is not copied); so must x. Returns TOCSIN_OK,
 * TOCSIN_EINVAL with a reason in err for a request that can never be sent (a noop, a URL of
 * the wrong scheme, a bad method, header or address), TOCSIN_ENOMEM, or TOCSIN_EIO if libcurl
 * refuses an option. err never holds a secret. */
int creq_setup(CURL *easy, const struct chan_req *r, struct creq_xfer *x, char *err, size_t errlen);
/* The same for a handle just reset by the caller (the notifier resets each one before its
 * channel's setup): one curl_easy_reset per delivery instead of two. */
int creq_setup_fresh(CURL *easy, const struct chan_req *r, struct creq_xfer *x, char *err,
                     size_t errlen);

/* After the transfer: fills resp (borrowing from x, valid until creq_xfer_clear) with the
 * status (CURLINFO_RESPONSE_CODE: HTTP status or last SMTP reply code, 0 if none), the final
 * response's header lines and the body kept. */
void creq_response(CURL *easy, struct creq_xfer *x, struct chan_resp *resp);

/* A URL that starts with one of schemes (NULL-terminated, e.g. "http://"), has something after
 * it, and holds no space or control character. */
bool creq_url_ok(const char *url, const char *const *schemes);
/* Upper-cases an HTTP method of 1..CREQ_METHOD_MAX letters into out; false if it is not one. */
bool creq_method(const char *m, char out[CREQ_METHOD_MAX + 1]);

#endif
