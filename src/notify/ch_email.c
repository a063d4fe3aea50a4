/* email: SMTP through libcurl (smtp:// with STARTTLS, smtps://, or plain smtp:// with tls
 * "none"). Builds one RFC 5322 message: multipart/alternative with a text/plain and a
 * text/html part (quoted-printable, UTF-8), CRLF line endings, lines of at most 78
 * characters in the body and folded headers, an RFC 2047 encoded Subject when it is not plain
 * ASCII. Message-ID is derived from notification.id (the same on every retry); every message
 * about one alert (or group) carries the same References header so mail clients thread them. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "notify/ch_impl.h"
#include "util/err.h"

#define QP_LINE 76
#define SUBJECT_MAX 900 /* ASCII subjects longer than this are encoded and folded */
#define ADDR_MAX 320

static const struct ch_field fields[] = {
    {"url", CHF_STR, 0},
    {"host", CHF_STR, 0},
    {"port", CHF_INT, 0},
    {"tls", CHF_STR, 0},
    {"username", CHF_STR, 0},
    {"password", CHF_STR, 0},
    {"from", CHF_STR, CHF_REQUIRED},
    {"to", CHF_LIST, CHF_REQUIRED},
    {"cc", CHF_LIST, 0},
    {"subject", CHF_TMPL, 0},
    {"text", CHF_TMPL, 0},
    {"html", CHF_TMPL, 0},
    {NULL, CHF_STR, 0},
};

static const char *const secrets[] = {"password", NULL};

struct em {
    char *url;
    bool starttls;
    char *from_addr; /* bare address */
    char *from_hdr;  /* the From: header value */
    char **rcpt;     /* to then cc */
    size_t nto, ncc;
};

static void free_priv(void *p)
{
    struct em *m = p;

    free(m->url);
    free(m->from_addr);
    free(m->from_hdr);
    ch_strv_free(m->rcpt);
    free(m);
}

static bool valid_addr(const char *a)
{
    const char *at = strchr(a, '@');

    if (!at || at == a || !at[1] || strchr(at + 1, '@') || strlen(a) > ADDR_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("<>,;:\"()[]\\", *p))
            return false;
    return true;
}

/* "alerts@example.com" or "Display Name <alerts@example.com>" (name in printable ASCII). */
static int parse_from(struct em *m, const char *from, struct verr *e)
{
    const char *lt = strchr(from, '<');
    size_t nlen;
    struct buf b;

    if (!lt) {
        if (!valid_addr(from))
            return verr_set(e, "config.from", "is not an e-mail address");
        m->from_addr = strdup(from);
        m->from_hdr = strdup(from);
        return m->from_addr && m->from_hdr ? TOCSIN_OK : TOCSIN_ENOMEM;
    }
    nlen = (size_t)(lt - from);
    while (nlen && from[nlen - 1] == ' ')
        nlen--;
    if (!strchr(lt, '>') || strchr(lt, '>')[1])
        return verr_set(e, "config.from", "must be \"address\" or \"Name <address>\"");
    m->from_addr = strndup(lt + 1, strlen(lt + 1) - 1);
    if (!m->from_addr)
        return TOCSIN_ENOMEM;
    if (!valid_addr(m->from_addr))
        return verr_set(e, "config.from", "is not an e-mail address");
    for (size_t i = 0; i < nlen; i++)
        if ((unsigned char)from[i] < 0x20 || (unsigned char)from[i] >= 0x7f || from[i] == '"' ||
            from[i] == '\\')
            return verr_set(e, "config.from", "the name must be printable ASCII without quotes");
    buf_init(&b, 1024);
    if (nlen ? buf_printf(&b, "\"%.*s\" <%s>", (int)nlen, from, m->from_addr)
             : buf_puts(&b, m->from_addr)) {
        buf_free(&b);
        return TOCSIN_ENOMEM;
    }
    m->from_hdr = buf_steal(&b);
    return m->from_hdr ? TOCSIN_OK : TOCSIN_ENOMEM;
}

static int add_rcpts(struct em *m, const json_t *v, const char *name, size_t *count, struct verr *e)
{
    size_t n, total;
    char **l = ch_list(v, &n), field[64];
    char **nv;

    if (!l)
        return TOCSIN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!valid_addr(l[i])) {
            snprintf(field, sizeof(field), "config.%s[%zu]", name, i);
            ch_strv_free(l);
            return verr_set(e, field, "is not an e-mail address");
        }
    }
    total = m->nto + m->ncc + n;
    if (total > CHAN_MAX_RCPT) {
        ch_strv_free(l);
        snprintf(field, sizeof(field), "config.%s", name);
        return verr_set(e, field, "at most %d recipients in all", CHAN_MAX_RCPT);
    }
    nv = realloc(m->rcpt, (total + 1) * sizeof(char *));
    if (!nv) {
        ch_strv_free(l);
        return TOCSIN_ENOMEM;
    }
    m->rcpt = nv;
    memcpy(nv + m->nto + m->ncc, l, n * sizeof(char *));
    nv[total] = NULL;
    free(l);
    *count = n;
    return TOCSIN_OK;
}

static int compile_url(const struct chan *c, struct em *m, struct verr *e)
{
    const char *url = ch_cfg_str(c, "url"), *host = ch_cfg_str(c, "host");
    const char *tls = ch_cfg_str(c, "tls");
    const json_t *port = ch_cfg(c, "port");
    bool smtps;
    struct buf b;

    if (tls && strcmp(tls, "starttls") && strcmp(tls, "smtps") && strcmp(tls, "none"))
        return verr_set(e, "config.tls", "must be \"starttls\", \"smtps\" or \"none\"");
    if (!url == !host)
        return verr_set(e, "config.url",
                        "set either url (smtp://host:port, smtps://host:port) "
                        "or host");
    if (url) {
        if (port)
            return verr_set(e, "config.port", "goes in the url");
        if (strncasecmp(url, "smtps://", 8) == 0)
            smtps = true;
        else if (strncasecmp(url, "smtp://", 7) == 0)
            smtps = false;
        else
            return verr_set(e, "config.url", "must start with smtp:// or smtps://");
        for (const unsigned char *p = (const unsigned char *)url; *p; p++)
            if (*p <= 0x20 || *p == 0x7f)
                return verr_set(e, "config.url", "holds a space or a control character");
        if (tls && smtps != !strcmp(tls, "smtps"))
            return verr_set(e, "config.tls", "does not agree with the url's scheme");
        m->url = strdup(url);
        m->starttls = !smtps && (!tls || !strcmp(tls, "starttls"));
        return m->url ? TOCSIN_OK : TOCSIN_ENOMEM;
    }
    for (const unsigned char *p = (const unsigned char *)host; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("/?#@", *p))
            return verr_set(e, "config.host", "is not a host name");
    if (port && (json_integer_value(port) < 1 || json_integer_value(port) > 65535))
        return verr_set(e, "config.port", "must be 1..65535");
    smtps = tls && !strcmp(tls, "smtps");
    m->starttls = !tls || !strcmp(tls, "starttls");
    buf_init(&b, 1024);
    if (buf_printf(&b, "%s://%s:%lld", smtps ? "smtps" : "smtp", host,
                   port          ? (long long)json_integer_value(port)
                   : smtps       ? 465LL
                   : m->starttls ? 587LL
                                 : 25LL)) {
        buf_free(&b);
        return TOCSIN_ENOMEM;
    }
    m->url = buf_steal(&b);
    return m->url ? TOCSIN_OK : TOCSIN_ENOMEM;
}

static int compile(struct chan *c, struct verr *e)
{
    struct em *m = calloc(1, sizeof(*m));
    int rc;

    if (!m)
        return TOCSIN_ENOMEM;
    c->priv = m;
    if ((rc = compile_url(c, m, e)) || (rc = parse_from(m, ch_cfg_str(c, "from"), e)) ||
        (rc = add_rcpts(m, ch_cfg(c, "to"), "to", &m->nto, e)))
        return rc;
    if (!m->nto)
        return verr_set(e, "config.to", "needs at least one address");
    if (ch_cfg(c, "cc") && (rc = add_rcpts(m, ch_cfg(c, "cc"), "cc", &m->ncc, e)))
        return rc;
    if (ch_cfg(c, "password") && !ch_cfg(c, "username"))
        return verr_set(e, "config.username", "is required with password");
    return TOCSIN_OK;
}

/* ---- message ---- */

static int b64(struct buf *b, const unsigned char *p, size_t n)
{
    char out[128];

    while (n) {
        size_t k = n > 90 ? 90 : n;
        sodium_bin2base64(out, sizeof(out), p, k, sodium_base64_VARIANT_ORIGINAL);
        if (buf_puts(b, out))
            return TOCSIN_ENOMEM;
        p += k;
        n -= k;
    }
    return TOCSIN_OK;
}

/* Subject: as is when printable ASCII and short, else encoded words of 64 characters at most
 * (39 bytes of UTF-8, cut on character boundaries) folded onto continuation lines, so that no
 * header line passes 76 characters (RFC 2047 section 2). */
static int put_subject(struct buf *b, const char *s)
{
    size_t n = strlen(s), i = 0;
    bool plain = n <= SUBJECT_MAX;
    int rc = 0;

    for (size_t k = 0; plain && k < n; k++)
        if ((unsigned char)s[k] < 0x20 || (unsigned char)s[k] >= 0x7f)
            plain = false;
    rc |= buf_puts(b, "Subject: ");
    if (plain)
        return rc | buf_puts(b, s) | buf_puts(b, "\r\n");
    while (i < n) {
        size_t k = n - i > 39 ? 39 : n - i;
        while (i + k < n && ((unsigned char)s[i + k] & 0xc0) == 0x80)
            k--;
        if (i)
            rc |= buf_puts(b, "\r\n ");
        rc |=
            buf_puts(b, "=?UTF-8?B?") | b64(b, (const unsigned char *)s + i, k) | buf_puts(b, "?=");
        i += k;
    }
    return rc | buf_puts(b, "\r\n");
}

/* Quoted-printable (RFC 2045 6.7): lines end CRLF, at most 76 characters, soft breaks "=". */
static int put_qp(struct buf *b, const char *s)
{
    static const char hexd[] = "0123456789ABCDEF";
    size_t col = 0;
    int rc = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        char enc[4];
        size_t len;

        if (*p == '\r' && p[1] == '\n')
            continue;
        if (*p == '\n') {
            rc |= buf_puts(b, "\r\n");
            col = 0;
            continue;
        }
        if ((*p >= 33 && *p <= 126 && *p != '=') ||
            ((*p == ' ' || *p == '\t') && p[1] && p[1] != '\n' && p[1] != '\r')) {
            enc[0] = (char)*p;
            len = 1;
        } else {
            enc[0] = '=';
            enc[1] = hexd[*p >> 4];
            enc[2] = hexd[*p & 15];
            len = 3;
        }
        if (col + len > QP_LINE - 1) {
            rc |= buf_puts(b, "=\r\n");
            col = 0;
        }
        rc |= buf_append(b, enc, len);
        col += len;
    }
    return rc | buf_puts(b, "\r\n");
}

static int put_date(struct buf *b, int64_t now_ms)
{
    static const char days[] = "SunMonTueWedThuFriSat",
                      months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;

    if (!gmtime_r(&t, &tm))
        return TOCSIN_EINVAL;
    return buf_printf(b, "Date: %.3s, %02d %.3s %04d %02d:%02d:%02d +0000\r\n",
                      days + 3 * tm.tm_wday, tm.tm_mday, months + 3 * tm.tm_mon, tm.tm_year + 1900,
                      tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int put_addrs(struct buf *b, const char *name, char *const *v, size_t n)
{
    int rc = buf_printf(b, "%s: ", name);

    for (size_t i = 0; i < n; i++)
        rc |= buf_puts(b, i ? ",\r\n " : "") | buf_puts(b, v[i]);
    return rc | buf_puts(b, "\r\n");
}

/* Safe for a header and a Message-ID: letters, digits, - . _ ; the rest dropped. */
static int put_token(struct buf *b, const char *s)
{
    int rc = 0;

    for (; *s; s++)
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
            *s == '-' || *s == '.' || *s == '_')
            rc |= buf_putc(b, *s);
    return rc;
}

static char *flatten(char *s) /* line breaks and controls in a header become spaces */
{
    for (char *p = s; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return s;
}

struct parts {
    char *subject, *text, *html;
};

static int default_html(const json_t *ctx, const char *title, char **out)
{
    struct buf b;
    int rc = 0;

    buf_init(&b, CHAN_MAX_BODY / 2);
    rc |= buf_puts(&b, "<!DOCTYPE html>\n<html><body>\n<h2 style=\"color:");
    rc |= buf_puts(&b, ch_color(ctx)) | buf_puts(&b, "\">") | ch_html_escape(&b, title);
    rc |= buf_puts(&b, "</h2>\n") | ch_body_html(ctx, &b) | buf_puts(&b, "</body></html>\n");
    if (rc) {
        buf_free(&b);
        return rc == TOCSIN_ETOOBIG ? TOCSIN_EINVAL : TOCSIN_ENOMEM;
    }
    *out = buf_steal(&b);
    return *out ? TOCSIN_OK : TOCSIN_ENOMEM;
}

static int render_parts(const struct chan *c, const json_t *ctx, struct parts *p, struct verr *e)
{
    struct buf b;
    int rc;

    if ((rc = ch_text(c, "subject", ctx, TMPL_ESC_NONE, &p->subject, e)) ||
        (rc = ch_text(c, "text", ctx, TMPL_ESC_NONE, &p->text, e)) ||
        (rc = ch_text(c, "html", ctx, TMPL_ESC_HTML, &p->html, e)))
        return rc;
    buf_init(&b, CHAN_MAX_FIELD);
    if (!p->subject && !(rc = ch_title(ctx, &b)) && !(p->subject = buf_steal(&b)))
        rc = TOCSIN_ENOMEM;
    buf_free(&b);
    buf_init(&b, CHAN_MAX_BODY / 4); /* the HTML part takes as much again, and then encoding */
    if (!rc && !p->text && !(rc = ch_body(ctx, &b)) && !(p->text = buf_steal(&b)))
        rc = TOCSIN_ENOMEM;
    buf_free(&b);
    if (!rc && !p->html)
        rc = default_html(ctx, p->subject, &p->html);
    flatten(p->subject);
    if (rc == TOCSIN_ETOOBIG || rc == TOCSIN_EINVAL)
        return verr_set(e, "config.text", "the message is too big");
    return rc;
}

static int build(const struct chan *c, const struct em *m, const json_t *ctx, int64_t now_ms,
                 const struct parts *p, struct buf *b)
{
    const char *nid = ch_getsd(ctx, "notification.id", "none");
    const char *domain = strchr(m->from_addr, '@') + 1;
    char bound[96];
    int rc = 0;

    snprintf(bound, sizeof(bound), "=_tocsin_%016llx",
             (unsigned long long)ch_fnv1a(nid, strlen(nid)));
    rc |= put_date(b, now_ms);
    rc |= buf_printf(b, "From: %s\r\n", m->from_hdr);
    rc |= put_addrs(b, "To", m->rcpt, m->nto);
    if (m->ncc)
        rc |= put_addrs(b, "Cc", m->rcpt + m->nto, m->ncc);
    rc |= put_subject(b, p->subject);
    rc |= buf_puts(b, "Message-ID: <") | put_token(b, nid);
    rc |= buf_printf(b, ".%08llx@%s>\r\n",
                     (unsigned long long)(ch_fnv1a(c->id, strlen(c->id)) & 0xffffffffULL), domain);
    rc |= buf_puts(b, "References: <tocsin-") | ch_stable_key(ctx, b);
    rc |= buf_printf(b, "@%s>\r\n", domain);
    rc |= buf_puts(b, "X-Tocsin-Notification: ") | put_token(b, nid) | buf_puts(b, "\r\n");
    rc |= buf_puts(b, "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n");
    rc |= buf_printf(b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", bound);
    rc |= buf_printf(b,
                     "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                     bound);
    rc |= put_qp(b, p->text);
    rc |= buf_printf(b,
                     "--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                     bound);
    rc |= put_qp(b, p->html);
    rc |= buf_printf(b, "--%s--\r\n", bound);
    return rc;
}

static int render(const struct chan *c, const json_t *ctx, int64_t now_ms, struct chan_req *r,
                  struct verr *e)
{
    const struct em *m = c->priv;
    struct parts p = {0};
    struct buf b;
    int rc;

    buf_init(&b, CHAN_MAX_BODY);
    if ((rc = render_parts(c, ctx, &p, e)))
        goto out;
    if ((rc = build(c, m, ctx, now_ms, &p, &b))) {
        rc = rc == TOCSIN_ETOOBIG ? verr_set(e, "config.text", "the message is too big")
                                  : TOCSIN_ENOMEM;
        goto out;
    }
    r->smtp = true;
    r->starttls = m->starttls;
    r->tls_verify = c->tls_verify;
    r->use_proxy = c->use_proxy;
    r->timeout_ms = c->timeout_ms;
    r->url = strdup(m->url);
    r->mail_from = strdup(m->from_addr);
    r->rcpt = calloc(m->nto + m->ncc + 1, sizeof(char *));
    if (!r->url || !r->mail_from || !r->rcpt) {
        rc = TOCSIN_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < m->nto + m->ncc; i++) {
        if (!(r->rcpt[i] = strdup(m->rcpt[i]))) {
            rc = TOCSIN_ENOMEM;
            goto out;
        }
        r->nrcpt++;
    }
    if (ch_cfg(c, "username") &&
        (rc = ch_req_basic(r, ch_cfg_str(c, "username"), ch_cfg_str(c, "password"))))
        goto out;
    r->body_len = b.len;
    r->body = buf_steal(&b);
    if (!r->body)
        rc = TOCSIN_ENOMEM;
out:
    buf_free(&b);
    free(p.subject);
    free(p.text);
    free(p.html);
    return rc;
}

/* SMTP reply codes: 2xx/3xx delivered, 4xx transient, 5xx permanent, none: retry. */
static int check(const struct chan *c, const struct chan_req *req, const struct chan_resp *resp,
                 int64_t now_ms, struct chan_outcome *o)
{
    (void)req;
    long st = resp->status;

    (void)c;
    (void)now_ms;
    if (st == 0)
        ch_set(o, CHAN_RETRY, "no SMTP answer");
    else if (st >= 200 && st < 400)
        ch_set(o, CHAN_DELIVERED, "%s", "");
    else if (st >= 400 && st < 500)
        ch_set(o, CHAN_RETRY, "SMTP %ld", st);
    else
        ch_set(o, CHAN_FAILED, "SMTP %ld", st);
    return TOCSIN_OK;
}

const struct chan_ops ch_email_ops = {
    .type = "email",
    .fields = fields,
    .secrets = secrets,
    .compile = compile,
    .render = render,
    .check = check,
    .own_check = true,
    .free_priv = free_priv,
};
