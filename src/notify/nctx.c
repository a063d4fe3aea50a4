#include "notify/nctx.h"

#include <stdio.h>
#include <string.h>

#include "util/err.h"

#define HEAD "{\"alert\":"
#define HEAD_LEN (sizeof(HEAD) - 1)
#define MARK_MAX 160 /* the notification object's text; a longer id takes the caller's slow path */

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

int nctx_attempt_text(const char *stored, const char *id, unsigned attempt, bool has_alerts,
                      struct buf *out)
{
    size_t n = strlen(stored), al = 0, end;
    char mark[MARK_MAX];
    int ml = snprintf(mark, sizeof(mark), ",\"notification\":{\"id\":\"%s\"}", id);
    const char *at;
    int rc;

    if (ml <= 0 || (size_t)ml >= sizeof(mark) || strncmp(stored, HEAD, HEAD_LEN))
        return TOCSIN_EINVAL;
    if (!has_alerts && !(al = nctx_object_len(stored + HEAD_LEN, n - HEAD_LEN)))
        return TOCSIN_EINVAL;
    end = HEAD_LEN + al;
    /* The last one is the context's own: only "channel" follows it, and inside the alerts a
     * quote is always escaped, so no string there can look like it. */
    at = last_in(stored + end, n - end, mark, (size_t)ml);
    if (!at)
        return TOCSIN_EINVAL;
    rc = buf_append(out, stored, end);
    if (!rc && !has_alerts) /* "alerts":[A] right after "alert":A */
        rc = buf_puts(out, ",\"alerts\":[") || buf_append(out, stored + HEAD_LEN, al) ||
             buf_putc(out, ']');
    rc = rc || buf_append(out, stored + end, (size_t)(at - (stored + end))) ||
         buf_append(out, mark, (size_t)ml - 1) ||
         buf_printf(out, ",\"attempt\":%u}", attempt) || buf_puts(out, at + ml);
    return rc ? TOCSIN_ENOMEM : TOCSIN_OK;
}
