/* libFuzzer harness for template/tmpl: notification templates (the "body", "url", header values
 * and slack "message" of a trigger's notifications) compiled and rendered.
 *
 * Input: template source, a NUL byte, then a JSON document used as the context. Without a NUL the
 * whole input is the source and the context is NULL (every value missing). A context that is not
 * an object, or not valid JSON, is wrapped so that templates still have something to walk:
 * {"x": <value>} or {"x": "<the text>"}.
 *
 * Checks, besides the sanitizers, in each of the four escape modes:
 *  - tmpl_compile fails with *out NULL and an "offset N: ..." message, or succeeds;
 *  - tmpl_render appends to what the buffer already holds, and on any error leaves its length as
 *    it was (tmpl.h), tested with a prefix already in the buffer;
 *  - a buffer whose maximum is just short of the full rendering fails with TOCSIN_ETOOBIG, one
 *    that is exactly big enough succeeds with the same text;
 *  - tmpl_render_string gives the same result as compile + render;
 *  - a template without substitutions (tmpl_is_literal) renders the same text in every mode and
 *    with or without a context.
 * Rendering output is bounded (RENDER_MAX), and everything is freed each run. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "template/tmpl.h"
#include "util/buf.h"
#include "util/err.h"

#define FUZZ_MAX_INPUT (64 * 1024)
#define RENDER_MAX ((size_t)1 << 20)
#define PREFIX "prefix:"
#define PREFIX_LEN (sizeof(PREFIX) - 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum tmpl_escape modes[] = {TMPL_ESC_NONE, TMPL_ESC_JSON, TMPL_ESC_HTML, TMPL_ESC_URL};

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
    va_list ap;

    fputs("fuzz_template: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* The context: any JSON value, kept an object so the template's paths have something to walk. */
static json_t *make_context(const char *text, size_t len)
{
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, &je), *o;

    if (json_is_object(v))
        return v;
    o = json_object();
    if (!o)
        abort();
    if (!v)
        v = json_stringn_nocheck(text, len);
    if (v && json_object_set_new(o, "x", v) != 0)
        abort();
    return o;
}

/* Renders into a fresh buffer holding PREFIX, with room for `room` bytes after it. On success
 * *out is the rendering (without the prefix; caller frees) and *len its length. */
static int render(const struct tmpl *t, const json_t *ctx, enum tmpl_escape esc, size_t room,
                  char **out, size_t *len)
{
    struct buf b;
    int rc;

    buf_init(&b, PREFIX_LEN + room);
    if (buf_puts(&b, PREFIX) != TOCSIN_OK)
        abort();
    rc = tmpl_render(t, ctx, esc, &b);
    *out = NULL;
    *len = 0;
    if (rc != TOCSIN_OK) {
        if (b.len != PREFIX_LEN || memcmp(b.p, PREFIX, PREFIX_LEN + 1) != 0)
            fail("mode %d: rc %d left %zu bytes in the buffer, not the %zu it had", (int)esc, rc,
                 b.len, PREFIX_LEN);
        if (rc != TOCSIN_ETOOBIG && rc != TOCSIN_ENOMEM)
            fail("mode %d: tmpl_render returned %d", (int)esc, rc);
        buf_free(&b);
        return rc;
    }
    if (b.len < PREFIX_LEN || b.len > b.max || memcmp(b.p, PREFIX, PREFIX_LEN) != 0 ||
        b.p[b.len] != '\0')
        fail("mode %d: the prefix was not kept, or the buffer is not terminated", (int)esc);
    *len = b.len - PREFIX_LEN;
    *out = malloc(*len + 1);
    if (!*out)
        abort();
    memcpy(*out, b.p + PREFIX_LEN, *len + 1);
    buf_free(&b);
    return rc;
}

static void check_mode(const struct tmpl *t, const char *src, const json_t *ctx,
                       enum tmpl_escape esc, char **first, size_t *first_len)
{
    char *text, *again, err[128];
    size_t len, again_len;
    struct buf b;
    int rc = render(t, ctx, esc, RENDER_MAX, &text, &len), rc2;

    /* The one-off entry point: same result. */
    buf_init(&b, RENDER_MAX);
    rc2 = tmpl_render_string(src, ctx, esc, &b, err, sizeof(err));
    if (rc2 != rc || (rc == TOCSIN_OK && (b.len != len || memcmp(buf_str(&b), text, len) != 0)))
        fail("mode %d: tmpl_render_string gives rc %d (%zu bytes), compile + render rc %d "
             "(%zu bytes)",
             (int)esc, rc2, b.len, rc, len);
    buf_free(&b);
    if (rc != TOCSIN_OK)
        return;

    /* The maximum is exact: one byte less fails and changes nothing, just enough succeeds. */
    if (len > 0) {
        rc2 = render(t, ctx, esc, len - 1, &again, &again_len);
        if (rc2 != TOCSIN_ETOOBIG)
            fail("mode %d: %zu bytes rendered into a %zu-byte maximum: rc %d", (int)esc, len,
                 len - 1, rc2);
    }
    rc2 = render(t, ctx, esc, len, &again, &again_len);
    if (rc2 != TOCSIN_OK || again_len != len || memcmp(again, text, len) != 0)
        fail("mode %d: rendering again into an exact buffer differs (rc %d)", (int)esc, rc2);
    free(again);

    if (tmpl_is_literal(t)) {
        if (*first && (*first_len != len || memcmp(*first, text, len) != 0))
            fail("literal template renders differently in mode %d", (int)esc);
        rc2 = render(t, NULL, esc, RENDER_MAX, &again, &again_len);
        if (rc2 != TOCSIN_OK || again_len != len || memcmp(again, text, len) != 0)
            fail("literal template depends on the context (mode %d)", (int)esc);
        free(again);
    }
    if (!*first) {
        *first = text;
        *first_len = len;
    } else {
        free(text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data, *nul;
    size_t src_len;
    char *src, err[128], *first = NULL;
    size_t first_len = 0;
    struct tmpl *t = (struct tmpl *)(uintptr_t)1;
    json_t *ctx = NULL;
    int rc;

    if (size > FUZZ_MAX_INPUT)
        return -1; /* not added to the corpus */
    nul = memchr(in, '\0', size);
    src_len = nul ? (size_t)(nul - in) : size;
    src = malloc(src_len + 1); /* for tmpl_render_string, which wants a C string */
    if (!src)
        abort();
    memcpy(src, in, src_len);
    src[src_len] = '\0';

    memset(err, 0x55, sizeof(err));
    rc = tmpl_compile(in, src_len, &t, err, sizeof(err));
    if (rc != TOCSIN_OK) {
        if (t != NULL)
            fail("tmpl_compile rc %d but *out is set", rc);
        if (!memchr(err, '\0', sizeof(err)))
            fail("tmpl_compile error not NUL-terminated");
        if (rc == TOCSIN_EINVAL && strncmp(err, "offset ", 7) != 0)
            fail("tmpl_compile error without an offset: '%s'", err);
        if (src_len <= TMPL_MAX_SRC && rc != TOCSIN_EINVAL && rc != TOCSIN_ENOMEM)
            fail("tmpl_compile returned %d", rc);
        free(src);
        return 0;
    }
    if (!t)
        fail("tmpl_compile succeeded without a template");
    if (nul)
        ctx = make_context(nul + 1, size - src_len - 1);
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        check_mode(t, src, ctx, modes[i], &first, &first_len);
    if (ctx) { /* and with no context at all */
        char *text;
        size_t len;
        if (render(t, NULL, TMPL_ESC_NONE, RENDER_MAX, &text, &len) == TOCSIN_OK)
            free(text);
    }
    free(first);
    json_decref(ctx);
    tmpl_free(t);
    free(src);
    return 0;
}
