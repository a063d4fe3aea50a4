#include "notify/nctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jtree.h"
#include "util/err.h"
#include "util/smap.h"

#define HEAD "{\"alert\":"
#define HEAD_LEN (sizeof(HEAD) - 1)
/* room for the notification object's text; a longer id takes the caller's slow path */
#define MARK_MAX 160

size_t nctx_object_len(const char *p, size_t n)
{
    size_t depth = 0;
    bool str = false;

    if (!n || p[0] != '{')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (str) {
            if (ch == '\\')
                i++; /* the escaped character, whatever it is */
            else if (ch == '"')
                str = false;
        } else if (ch == '"') {
            str = true;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if ((ch == '}' || ch == ']') && --depth == 0) {
            return i + 1;
        }
    }
    return 0;
}

static const char *last_in(const char *hay, size_t n, const char *needle, size_t m)
{
    for (size_t i = n >= m ? n - m + 1 : 0; i-- > 0;)
        if (hay[i] == needle[0] && !memcmp(hay + i, needle, m))
            return hay + i;
    return NULL;
}

/* The length of A in {"alert":A,... (n bytes): alen when the text bears it out (the engine's
 * notify_rec.ctx_alen: no scan of A), else by scanning; 0 if there is no such object. */
static size_t alert_len(const char *stored, size_t n, size_t alen)
{
    const char *a = stored + HEAD_LEN;

    if (alen && alen < n - HEAD_LEN && a[0] == '{' && a[alen - 1] == '}' && a[alen] == ',')
        return alen;
    return nctx_object_len(a, n - HEAD_LEN);
}

int nctx_attempt_text(const char *stored, size_t alen, const char *id, unsigned attempt,
                      bool has_alerts, struct buf *out)
{
    size_t n = strlen(stored), al = 0, end;
    char mark[MARK_MAX];
    int ml = snprintf(mark, sizeof(mark), ",\"notification\":{\"id\":\"%s\"}", id);
    const char *at;
    int rc;

    if (ml <= 0 || (size_t)ml >= sizeof(mark) || strncmp(stored, HEAD, HEAD_LEN))
        return TOCSIN_EINVAL;
    if (!has_alerts && !(al = alert_len(stored, n, alen)))
        return TOCSIN_EINVAL;
    end = HEAD_LEN + al;
    /* The last one is the context's own: only "channel" follows it, whose strings hold no bare
     * quote; an object in an alert that looks the same comes before it. */
    at = last_in(stored + end, n - end, mark, (size_t)ml);
    if (!at)
        return TOCSIN_EINVAL;
    rc = buf_append(out, stored, end);
    if (!rc && !has_alerts) /* "alerts":[A] right after "alert":A */
        rc = buf_puts(out, ",\"alerts\":[") || buf_append(out, stored + HEAD_LEN, al) ||
             buf_putc(out, ']');
    rc = rc || buf_append(out, stored + end, (size_t)(at - (stored + end))) ||
         buf_append(out, mark, (size_t)ml - 1) || buf_printf(out, ",\"attempt\":%u}", attempt) ||
         buf_puts(out, at + ml);
    return rc ? TOCSIN_ENOMEM : TOCSIN_OK;
}

/* {"alert":A,REST -> A's length, and the rest parsed as {REST (NULL if not that shape). */
static json_t *parse_rest(const char *stored, size_t n, size_t alen, size_t *al)
{
    size_t skip;
    char *t;
    json_t *rest;

    if (strncmp(stored, HEAD, HEAD_LEN) || !(*al = alert_len(stored, n, alen)))
        return NULL;
    skip = HEAD_LEN + *al;
    if (stored[skip] != ',')
        return NULL;
    /* "{" + what follows "alert":A, */
    t = malloc(n - skip + 1);
    if (!t)
        return NULL;
    t[0] = '{';
    memcpy(t + 1, stored + skip + 1, n - skip); /* with the NUL */
    rest = jtree_load_or_jansson(t, n - skip);
    free(t);
    if (rest && (!json_is_object(rest) || json_object_get(rest, "alerts") ||
                 json_object_get(rest, "alert"))) {
        json_decref(rest); /* grouped, or odd: parsed whole by the caller */
        rest = NULL;
    }
    return rest;
}

static void slot_clear(struct nctx_slot *s)
{
    free(s->text);
    json_decref(s->alert);
    memset(s, 0, sizeof(*s));
}

/* The alert of text a (al bytes): the cached tree (shared) or a new one, cached when it fits. */
static json_t *alert_of(struct nctx_cache *c, const char *a, size_t al, bool *shared)
{
    uint64_t h = smap_hash(a, al);
    struct nctx_slot *s = &c->slot[h % NCTX_CACHE_SLOTS];
    json_t *alert;
    char *copy;

    if (s->alert && s->hash == h && s->len == al && !memcmp(s->text, a, al)) {
        c->hits++;
        *shared = true;
        return json_incref(s->alert);
    }
    c->misses++;
    alert = jtree_load_or_jansson(a, al);
    if (!json_is_object(alert) || al > NCTX_CACHE_TEXT_MAX || !(copy = malloc(al)))
        return alert;
    memcpy(copy, a, al);
    slot_clear(s);
    *s = (struct nctx_slot){.hash = h, .text = copy, .len = al, .alert = json_incref(alert)};
    *shared = true;
    return alert;
}

json_t *nctx_parse(struct nctx_cache *c, const char *stored, size_t alen, bool *shared)
{
    size_t n = strlen(stored), al = 0;
    json_t *rest = parse_rest(stored, n, alen, &al), *alert;

    *shared = false;
    if (!rest)
        return jtree_load_or_jansson(stored, n);
    alert = alert_of(c, stored + HEAD_LEN, al, shared);
    if (!alert || json_object_set_new(rest, "alert", alert)) {
        json_decref(rest);
        return NULL;
    }
    return rest;
}

bool nctx_own_alert(json_t *ctx)
{
    json_t *copy = json_deep_copy(json_object_get(ctx, "alert"));

    return copy && !json_object_set_new(ctx, "alert", copy);
}

void nctx_cache_clear(struct nctx_cache *c)
{
    for (size_t i = 0; i < NCTX_CACHE_SLOTS; i++)
        slot_clear(&c->slot[i]);
}
