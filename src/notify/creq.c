#include "notify/creq.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/jtree.h"
#include "util/err.h"

#ifndef TOCSIN_VERSION
#define TOCSIN_VERSION "dev" /* the build defines the real one */
#endif

#define HEADER_NAME_MAX 256
#define ADDR_MAX 320

void creq_xfer_init(struct creq_xfer *x)
{
    memset(x, 0, sizeof(*x));
    buf_init(&x->body, CREQ_MAX_RESPONSE);
    buf_init(&x->head, CREQ_MAX_HEADER_BYTES);
}

void creq_xfer_clear(struct creq_xfer *x)
{
    curl_slist_free_all(x->hdrs);
    curl_slist_free_all(x->rcpt);
    free(x->hv);
    buf_free(&x->body);
    buf_free(&x->head);
    creq_xfer_init(x);
}

/* Keeps what fits in the bounded buffer; the rest is read and dropped. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct creq_xfer *x = ud;
    size_t n = size * nmemb, room = x->body.max - x->body.len;

    if (room)
        buf_append(&x->body, p, n < room ? n : room);
    return n;
}

/* One header line at a time; a status line starts the headers of a new response (after a
 * redirect or a 100 Continue), so only the last response's are kept. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct creq_xfer *x = ud;
    size_t n = size * nmemb, len = n;

    while (len && (p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        buf_reset(&x->head);
        x->nhead = 0;
        return n;
    }
    if (!len || !memchr(p, ':', len) || x->nhead >= CREQ_MAX_RESP_HEADERS ||
        x->head.len + len + 1 >= x->head.max)
        return n;
    if (buf_append(&x->head, p, len) == 0 && buf_append(&x->head, "", 1) == 0)
        x->nhead++;
    return n;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *ud)
{
    struct creq_xfer *x = ud;
    size_t room = size * nmemb, left = x->up_len - x->up_off;
    size_t n = left < room ? left : room;

    memcpy(p, x->up + x->up_off, n);
    x->up_off += n;
    return n;
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* "Name: value" with a token name and no control character but tab in the value. */
static bool valid_header(const char *h, size_t *nlen)
{
    const char *colon = strchr(h, ':');
    size_t n;

    if (!colon)
        return false;
    n = (size_t)(colon - h);
    if (!n || n > HEADER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)h[i]))
            return false;
    for (const unsigned char *p = (const unsigned char *)colon + 1; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return false;
    *nlen = n;
    return true;
}

bool creq_url_ok(const char *url, const char *const *schemes)
{
    for (; *schemes; schemes++) {
        size_t n = strlen(*schemes);
        if (strncasecmp(url, *schemes, n) == 0 && url[n])
            break;
    }
    if (!*schemes)
        return false;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

bool creq_method(const char *m, char out[CREQ_METHOD_MAX + 1])
{
    size_t i = 0;

    for (; m && m[i]; i++) {
        char c = m[i];
        if (i == CREQ_METHOD_MAX || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return false;
        out[i] = (char)(c >= 'a' ? c - 'a' + 'A' : c);
    }
    out[i] = '\0';
    return i > 0;
}

static int append(struct curl_slist **l, const char *line)
{
    struct curl_slist *n = curl_slist_append(*l, line);

    if (!n)
        return TOCSIN_ENOMEM;
    *l = n;
    return TOCSIN_OK;
}

static bool reserved(const char *h, size_t n)
{
    static const char *const names[] = {"User-Agent", "Content-Length", "Host",
                                        "Transfer-Encoding"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && strncasecmp(h, names[i], n) == 0)
            return true;
    return false;
}

static int http_headers(const struct chan_req *r, struct creq_xfer *x, bool sends_body, char *err,
                        size_t errlen)
{
    bool has_ct = false;
    int rc = TOCSIN_OK;

    if (r->nheaders > CHAN_MAX_HEADERS) {
        snprintf(err, errlen, "more than %d headers", CHAN_MAX_HEADERS);
        return TOCSIN_EINVAL;
    }
    for (size_t i = 0; i < r->nheaders && !rc; i++) {
        size_t n;
        if (!r->headers[i] || !valid_header(r->headers[i], &n) || reserved(r->headers[i], n)) {
            snprintf(err, errlen, "header %zu: bad or reserved name, or bad value", i);
            return TOCSIN_EINVAL;
        }
        if (n == 12 && strncasecmp(r->headers[i], "Content-Type", 12) == 0)
            has_ct = true;
        rc = append(&x->hdrs, r->headers[i]);
    }
    if (!rc)
        rc = append(&x->hdrs, "User-Agent: tocsin/" TOCSIN_VERSION);
    if (!rc)
        rc = append(&x->hdrs, "Expect:");
    if (!rc && sends_body && !has_ct) {
        rc = append(&x->hdrs, jtree_is_json(r->body ? r->body : "", r->body_len)
                                  ? "Content-Type: application/json"
                                  : "Content-Type: text/plain; charset=utf-8");
    }
    return rc;
}

/* Sets the method and body; *sends_body tells whether a body goes out. */
static int set_method(CURL *e, const char *method, const struct chan_req *r, bool *sends_body)
{
    bool post = strcmp(method, "POST") == 0;
    int c = 0;

    *sends_body = false;
    if (strcmp(method, "GET") == 0)
        return (int)curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    if (strcmp(method, "HEAD") == 0)
        return (int)curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (!post)
        c |= (int)curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (post || r->body_len) {
        c |= (int)curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        c |= (int)curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        *sends_body = true;
    }
    return c;
}

static int common_opts(CURL *e, const struct chan_req *r, struct creq_xfer *x)
{
    int c = 0;

    c |= (int)curl_easy_setopt(e, CURLOPT_URL, r->url);
    c |= (int)curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, r->tls_verify ? 1L : 0L);
    c |= (int)curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, r->tls_verify ? 2L : 0L);
    if (!r->use_proxy) /* "" = no proxy, whatever the environment says */
        c |= (int)curl_easy_setopt(e, CURLOPT_PROXY, "");
    c |= (int)curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    c |= (int)curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                               (long)(r->timeout_ms > 0 ? r->timeout_ms : CHAN_DEFAULT_TIMEOUT_MS));
    c |= (int)curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    c |= (int)curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    c |= (int)curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    c |= (int)curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    c |= (int)curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    if (r->username) {
        c |= (int)curl_easy_setopt(e, CURLOPT_USERNAME, r->username);
        c |= (int)curl_easy_setopt(e, CURLOPT_PASSWORD, r->password ? r->password : "");
    }
    return c;
}

static int setup_http(CURL *e, const struct chan_req *r, struct creq_xfer *x, char *err,
                      size_t errlen)
{
    static const char *const schemes[] = {"http://", "https://", NULL};
    char method[CREQ_METHOD_MAX + 1];
    bool sends_body = false;
    int rc, c = 0;

    if (!r->url || !creq_url_ok(r->url, schemes)) {
        snprintf(err, errlen, "URL is not an http or https URL");
        return TOCSIN_EINVAL;
    }
    if (!creq_method(r->method, method)) {
        snprintf(err, errlen, "bad HTTP method");
        return TOCSIN_EINVAL;
    }
    if (set_method(e, method, r, &sends_body))
        return TOCSIN_EIO;
    if ((rc = http_headers(r, x, sends_body, err, errlen)))
        return rc;
    c |= common_opts(e, r, x);
    c |= (int)curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    c |= (int)curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    c |= (int)curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    c |= (int)curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)CREQ_MAX_REDIRS);
    c |= (int)curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    if (r->username)
        c |= (int)curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    return c ? TOCSIN_EIO : TOCSIN_OK;
}

/* A bare address: no spaces, angle brackets, control characters; one '@' not at the ends. */
static bool valid_addr(const char *a)
{
    const char *at = a ? strchr(a, '@') : NULL;
    size_t n = a ? strlen(a) : 0;

    if (!at || at == a || !at[1] || strchr(at + 1, '@') || n > ADDR_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == ',' || *p == ';')
            return false;
    return true;
}

static int bracket(struct curl_slist **l, const char *addr)
{
    char line[ADDR_MAX + 3];

    snprintf(line, sizeof(line), "<%s>", addr);
    return append(l, line);
}

static int setup_smtp(CURL *e, const struct chan_req *r, struct creq_xfer *x, char *err,
                      size_t errlen)
{
    static const char *const schemes[] = {"smtp://", "smtps://", NULL};
    char from[ADDR_MAX + 3];
    int rc, c = 0;

    if (!r->url || !creq_url_ok(r->url, schemes)) {
        snprintf(err, errlen, "URL is not an smtp or smtps URL");
        return TOCSIN_EINVAL;
    }
    if (!valid_addr(r->mail_from)) {
        snprintf(err, errlen, "bad sender address");
        return TOCSIN_EINVAL;
    }
    if (!r->nrcpt || r->nrcpt > CHAN_MAX_RCPT) {
        snprintf(err, errlen, "1 to %d recipients needed", CHAN_MAX_RCPT);
        return TOCSIN_EINVAL;
    }
    for (size_t i = 0; i < r->nrcpt; i++) {
        if (!valid_addr(r->rcpt[i])) {
            snprintf(err, errlen, "recipient %zu: bad address", i);
            return TOCSIN_EINVAL;
        }
        if ((rc = bracket(&x->rcpt, r->rcpt[i])))
            return rc;
    }
    snprintf(from, sizeof(from), "<%s>", r->mail_from);
    x->up = r->body ? r->body : "";
    x->up_len = r->body ? r->body_len : 0;
    x->up_off = 0;
    c |= common_opts(e, r, x);
    c |= (int)curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    c |= (int)curl_easy_setopt(e, CURLOPT_USE_SSL,
                               (long)(r->starttls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
    c |= (int)curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
    c |= (int)curl_easy_setopt(e, CURLOPT_MAIL_RCPT, x->rcpt);
    c |= (int)curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    c |= (int)curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    c |= (int)curl_easy_setopt(e, CURLOPT_READDATA, x);
    c |= (int)curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->up_len);
    return c ? TOCSIN_EIO : TOCSIN_OK;
}

int creq_setup(CURL *easy, const struct chan_req *r, struct creq_xfer *x, char *err, size_t errlen)
{
    curl_easy_reset(easy);
    return creq_setup_fresh(easy, r, x, err, errlen);
}

int creq_setup_fresh(CURL *easy, const struct chan_req *r, struct creq_xfer *x, char *err,
                     size_t errlen)
{
    int rc;

    creq_xfer_clear(x);
    if (r->noop) {
        snprintf(err, errlen, "nothing to send");
        return TOCSIN_EINVAL;
    }
    rc = r->smtp ? setup_smtp(easy, r, x, err, errlen) : setup_http(easy, r, x, err, errlen);
    if (rc == TOCSIN_ENOMEM)
        snprintf(err, errlen, "out of memory");
    else if (rc == TOCSIN_EIO)
        snprintf(err, errlen, "libcurl refused an option");
    return rc;
}

void creq_response(CURL *easy, struct creq_xfer *x, struct chan_resp *resp)
{
    long code = 0;
    const char *p = x->head.p;

    memset(resp, 0, sizeof(*resp));
    if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
        code = 0;
    free(x->hv);
    x->hv = x->nhead ? malloc(x->nhead * sizeof(*x->hv)) : NULL;
    for (size_t i = 0; p && x->hv && i < x->nhead; i++) {
        x->hv[i] = p;
        p += strlen(p) + 1;
    }
    resp->status = code;
    resp->headers = x->hv;
    resp->nheaders = x->hv ? x->nhead : 0; /* out of memory: the body and status only */
    resp->body = buf_str(&x->body);
    resp->body_len = x->body.len;
}
