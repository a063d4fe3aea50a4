/* Unit tests for src/template/tmpl.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "template/tmpl.h"
#include "util/buf.h"
#include "util/err.h"

static const char ctx_json[] =
    "{"
    "\"alert\":{\"id\":\"a1b2\",\"name\":\"High latency\",\"source\":\"REQUEST\","
    "  \"description\":\"Response time > 500ms\",\"severity\":\"WARNING\","
    "  \"conditions\":[{\"type\":\"THRESHOLD\",\"threshold\":500,\"operator\":\"GT\"},"
    "                  {\"threshold\":1500.5}]},"
    "\"notification\":{\"message\":\"Latency is high\",\"timestamp\":1700000000000,"
    "  \"properties\":{\"node.hostname\":\"gw-01\",\"node.application\":\"gio-apim-gateway\","
    "                  \"tenant\":\"t1\"}},"
    "\"num\":{\"i\":500,\"r\":1500.5,\"tenth\":0.1,\"whole\":500.0,\"neg\":-3,\"big\":1e20,"
    "  \"third\":0.3333333333333333,\"p53\":9007199254740992.0,\"huge\":9007199254740993,"
    "  \"negzero\":-0.0,\"tiny\":1e-7,\"t\":true,\"f\":false,\"n\":null},"
    "\"text\":{\"quote\":\"say \\\"hi\\\"\\n\\ttab\\\\\",\"ctl\":\"a\\u0001b\\u001fc\","
    "  \"uni\":\"h\\u00e9llo \\u2713\",\"html\":\"<a href='x' title=\\\"y\\\">&</a>\","
    "  \"url\":\"a b/c?d=\\u00e9&e~f-g_h.i\",\"pad\":\"  padded  \",\"mixed\":\"hELLo World\"},"
    "\"obj\":{\"b\":1,\"a\":[1,\"x\",null,true,2.5,1.0]},"
    "\"flat\":{\"a.b\":{\"c\":\"ab-c\"},\"x\":{\"y.z\":\"x-yz\"}},"
    "\"top.level\":\"tl\","
    "\"m\":{\"0\":\"zero\"},"
    "\"empty\":\"\""
    "}";

static json_t *ctx;

static int group_setup(void **state)
{
    json_error_t jerr;

    (void)state;
    ctx = json_loads(ctx_json, 0, &jerr);
    if (!ctx)
        fprintf(stderr, "context JSON: line %d: %s\n", jerr.line, jerr.text);
    return ctx ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    json_decref(ctx);
    return 0;
}

/* Compiles and renders src against ctx and compares with want. */
static void check_esc(const char *src, enum tmpl_escape esc, const char *want)
{
    struct tmpl *t = NULL;
    struct buf b;
    char err[128];
    int rc;

    rc = tmpl_compile(src, strlen(src), &t, err, sizeof err);
    if (rc)
        fprintf(stderr, "compiling %s: %s\n", src, err);
    assert_int_equal(rc, TOCSIN_OK);
    buf_init(&b, 1 << 20);
    assert_int_equal(tmpl_render(t, ctx, esc, &b), TOCSIN_OK);
    assert_string_equal(buf_str(&b), want);
    buf_free(&b);
    tmpl_free(t);
}

static void check(const char *src, const char *want)
{
    check_esc(src, TMPL_ESC_NONE, want);
}

static void check_error(const char *src, const char *want)
{
    struct tmpl *t = (struct tmpl *)(uintptr_t)1; /* poison: must come back NULL */
    char err[128];

    assert_int_equal(tmpl_compile(src, strlen(src), &t, err, sizeof err), TOCSIN_EINVAL);
    assert_null(t);
    assert_string_equal(err, want);
}

static void test_paths(void **state)
{
    (void)state;
    check("${alert.id}", "a1b2");
    check("${ alert.name }", "High latency");
    check("${\talert . name\n}", "High latency");
    check("[${alert.source}]", "[REQUEST]");
    check("${alert.id}${alert.severity}", "a1b2WARNING");
    check("no substitutions at all", "no substitutions at all");
    check("", "");
}

static void test_literal_dollar(void **state)
{
    (void)state;
    check("cost $5 ${alert.id}$", "cost $5 a1b2$");
    check("$${alert.id}", "$a1b2");
    check("\\${alert.id}", "\\a1b2");
    check("$ {alert.id}", "$ {alert.id}");
    check("$", "$");
    /* {{ is Handlebars now (test_tmpl_hbs.c); \{{ keeps it literal */
    check("{{alert.id}} ${alert.id}", "a1b2 a1b2");
    check("\\{{alert.id}} ${alert.id}", "{{alert.id}} a1b2");
    check("}{ ${alert.id} }", "}{ a1b2 }");
}

static void test_ae_example(void **state)
{
    (void)state;
    check("${alert.id} - ${alert.name} - ${alert.source} - ${alert.description} - "
          "${alert.severity} - ${notification.message}",
          "a1b2 - High latency - REQUEST - Response time > 500ms - WARNING - Latency is high");
}

static void test_bracket_keys(void **state)
{
    (void)state;
    check("${notification.properties['node.hostname']}", "gw-01");
    check("${notification.properties[\"node.application\"]}", "gio-apim-gateway");
    check("${notification['properties'][ 'tenant' ]}", "t1");
    check("${notification.properties['node']}", "");
    check("${flat['a.b'].c}", "ab-c");
    check("${flat['a.b']['c']}", "ab-c");
    check("${flat.x['y.z']}", "x-yz");
    check("${notification.properties[r'node.hostname']}", "gw-01");
    check("${notification.properties['node\\x2ehostname']}", "gw-01");
    check("${notification.properties['no.such.key']!'none'}", "none");
}

static void test_dotted_fallback(void **state)
{
    (void)state;
    check("${notification.properties.node.hostname}", "gw-01");
    check("${notification.properties.node.application}", "gio-apim-gateway");
    check("${flat.a.b.c}", "ab-c");
    check("${flat.x.y.z}", "x-yz");
    check("${top.level}", "tl");
    check("${notification.properties.node.nothing}", "");
    /* a bracket or a space breaks the flat key: only names written a.b.c are joined */
    check("${notification.properties.node['hostname']}", "");
    check("${notification.properties.node .hostname}", "");
}

static void test_array_index(void **state)
{
    (void)state;
    check("${alert.conditions[0].threshold}", "500");
    check("${alert.conditions[1].threshold}", "1500.5");
    check("${alert.conditions[ 0 ].type}", "THRESHOLD");
    check("${alert.conditions[2].threshold}", "");
    check("${alert.conditions[999999999]}", "");
    check("${alert.conditions[0]}",
          "{\"type\":\"THRESHOLD\",\"threshold\":500,\"operator\":\"GT\"}");
    check("${obj.a[1]}", "x");
    check("${obj.a[2]!'null'}", "null");
    check("${m[0]}", "zero");
    check("${alert.id[0]}", "");
}

static void test_missing(void **state)
{
    (void)state;
    check("<${nope}>", "<>");
    check("<${alert.nope.deeper.still}>", "<>");
    check("<${alert.id.child}>", "<>");
    check("<${num.n}>", "<>");
    check("<${num.i.x}>", "<>");
    check("<${nope?upper_case}>", "<>");
    check("<${empty}>", "<>");

    struct buf b;
    buf_init(&b, 100);
    assert_int_equal(tmpl_render_string("a${alert.id}b", NULL, TMPL_ESC_NONE, &b, NULL, 0), 0);
    assert_string_equal(buf_str(&b), "ab");
    buf_free(&b);
}

static void test_defaults(void **state)
{
    (void)state;
    check("<${nope!}>", "<>");
    check("${nope!\"fallback\"}", "fallback");
    check("${nope!'fallback'}", "fallback");
    check("${nope ! \"spaced\" }", "spaced");
    check("${alert.id!\"unused\"}", "a1b2");
    check("${num.n!\"was null\"}", "was null");
    check("<${empty!\"x\"}>", "<>");
    check("${nope!0}", "0");
    check("${nope!-1.5}", "-1.5");
    check("${nope!\"a\\\"b\\'c\\\\d\\ne\\l\\g\\a\"}", "a\"b'c\\d\ne<>&");
    check("${nope!\"\\x41\\x20AC\"}", "A\xe2\x82\xac");
    check("${nope!r\"C:\\dir\"}", "C:\\dir");
    check("${nope!\"}\"}", "}");
    check("${nope!\"${x}\"}", "${x}");
    check("${alert.id?upper_case!\"dflt\"}", "A1B2");
    check("${nope?upper_case!\"dflt\"}", "dflt");
    check("${nope!\"dflt\"?upper_case}", "DFLT");
    check("${alert.id!\"dflt\"?upper_case}", "a1b2");
    check("${(nope!\"dflt\")?upper_case}", "DFLT");
    check("${(alert.id!\"dflt\")?upper_case}", "A1B2");
    check("${( alert.id )?upper_case}", "A1B2");
    check("${(alert.nope.deeper)!\"guarded\"}", "guarded");
    check("${(alert.name)!\"guarded\"}", "High latency");
    check("${(alert.id)?upper_case!'d'}", "A1B2");
    check("${(nope)?upper_case!'d'?cap_first}", "D");
}

static void test_builtins(void **state)
{
    (void)state;
    check("${text.mixed?upper_case}", "HELLO WORLD");
    check("${text.mixed?lower_case}", "hello world");
    check("${text.uni?upper_case}", "H\xc3\xa9LLO \xe2\x9c\x93");
    check("${text.pad?cap_first}", "  Padded  ");
    check("${text.mixed?uncap_first}", "hELLo World");
    check("${alert.name?uncap_first}", "high latency");
    check("${text.pad?trim}", "padded");
    check("${text.pad?trim?upper_case}", "PADDED");
    check("${text.pad ? trim ? cap_first}", "Padded");
    check("${alert.id?string}", "a1b2");
    check("${num.i?c}", "500");
    check("${num.r?c}", "1500.5");
    check("${num.big?c}", "100000000000000000000");
    check("${num.t?c} ${num.f?c}", "true false");
    check("${text.html?html}", "&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;&lt;/a&gt;");
    check("${text.url?url}", "a%20b%2Fc%3Fd%3D%C3%A9%26e~f-g_h.i");
    check("${text.quote?json_string}", "say \\\"hi\\\"\\n\\ttab\\\\");
    check("${alert.id?upper_case?lower_case?upper_case?lower_case?string?trim?c?cap_first}",
          "A1b2");
}

static void test_numbers(void **state)
{
    (void)state;
    check("${num.i}", "500");
    check("${num.r}", "1500.5");
    check("${num.tenth}", "0.1");
    check("${num.whole}", "500");
    check("${num.neg}", "-3");
    check("${num.big}", "1e+20");
    check("${num.third}", "0.3333333333333333");
    check("${num.p53}", "9007199254740992");
    check("${num.huge}", "9007199254740993");
    check("${num.negzero}", "0");
    check("${num.tiny}", "1e-07");
    check("${notification.timestamp}", "1700000000000");
    check("${num.t}/${num.f}", "true/false");
    check("${obj}", "{\"b\":1,\"a\":[1,\"x\",null,true,2.5,1.0]}");
    check("${obj.a}", "[1,\"x\",null,true,2.5,1.0]");
}

static void test_escape_json(void **state)
{
    (void)state;
    check_esc("{\"msg\":\"${text.quote}\"}", TMPL_ESC_JSON,
              "{\"msg\":\"say \\\"hi\\\"\\n\\ttab\\\\\"}");
    check_esc("${text.ctl}", TMPL_ESC_JSON, "a\\u0001b\\u001fc");
    check_esc("${text.uni}", TMPL_ESC_JSON, "h\xc3\xa9llo \xe2\x9c\x93");
    check_esc("\"${obj}\"", TMPL_ESC_JSON,
              "\"{\\\"b\\\":1,\\\"a\\\":[1,\\\"x\\\",null,true,2.5,1.0]}\"");
    check_esc("${nope!\"a\\\"b\"}", TMPL_ESC_JSON, "a\\\"b");
    check_esc("${text.quote?json_string}", TMPL_ESC_NONE, "say \\\"hi\\\"\\n\\ttab\\\\");
    check_esc("line\n\"${alert.id}\"", TMPL_ESC_JSON, "line\n\"a1b2\"");
}

static void test_escape_html(void **state)
{
    (void)state;
    check_esc("<p title=\"${alert.name}\">${text.html}</p>", TMPL_ESC_HTML,
              "<p title=\"High latency\">&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;"
              "&lt;/a&gt;</p>");
    check_esc("${text.uni}", TMPL_ESC_HTML, "h\xc3\xa9llo \xe2\x9c\x93");
    /* a built-in escape and the output escape both apply, in that order */
    check_esc("${nope!'&'?html}", TMPL_ESC_HTML, "&amp;amp;");
}

static void test_escape_url(void **state)
{
    (void)state;
    check_esc("https://x.test/?q=${text.url}&id=${alert.id}", TMPL_ESC_URL,
              "https://x.test/?q=a%20b%2Fc%3Fd%3D%C3%A9%26e~f-g_h.i&id=a1b2");
    check_esc("${text.ctl}", TMPL_ESC_URL, "a%01b%1Fc");
    check_esc("${text.mixed?upper_case}", TMPL_ESC_URL, "HELLO%20WORLD");
}

static void test_compile_errors(void **state)
{
    static const struct {
        const char *src, *err;
    } cases[] = {
        {"abc ${x", "offset 4: unterminated ${"},
        {"ok ${a} ${", "offset 8: unterminated ${"},
        {"${a.b ", "offset 0: unterminated ${"},
        {"${}", "offset 2: unexpected '}', expected a name"},
        {"${1}", "offset 2: unexpected '1', expected a name"},
        {"${a.}", "offset 4: unexpected '}', expected a name"},
        {"${a b}", "offset 4: unexpected 'b', expected '}', '!' or '?'"},
        {"${a\x01}", "offset 3: unexpected byte 0x01, expected '}', '!' or '?'"},
        {"${a?nope}", "offset 4: unknown built-in 'nope'"},
        {"${a?}", "offset 4: unexpected '}', expected a built-in name"},
        {"${a??}", "offset 4: unexpected '?', expected a built-in name"},
        {"${a[}", "offset 4: unexpected '}', expected a quoted key or an index"},
        {"${a[b]}", "offset 4: unexpected 'b', expected a quoted key or an index"},
        {"${a['x'}", "offset 7: unexpected '}', expected ']'"},
        {"${a['x}", "offset 4: unterminated string"},
        {"${a!\"x\\q\"}", "offset 6: unknown escape in string"},
        {"${a!\"\\x\"}", "offset 5: bad \\x escape in string"},
        {"${a!\"\\x0\"}", "offset 5: bad \\x escape in string"},
        {"${a!\"\\xd800\"}", "offset 5: bad \\x escape in string"},
        {"${a!x}", "offset 4: unexpected 'x', expected '}'"},
        {"${a!'x'?bad}", "offset 8: unknown built-in 'bad'"},
        {"${(a}", "offset 4: unexpected '}', expected ')'"},
        {"${(a!'x')!'y'}", "offset 9: unexpected '!', expected '}'"},
        {"${(a)!'x'?c!'y'}", "offset 11: unexpected '!', expected '}'"},
        {"${a[1234567890]}", "offset 4: array index too large"},
        {"x ${a} y ${b.c[0]['d'] z}", "offset 23: unexpected 'z', expected '}', '!' or '?'"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_error(cases[i].src, cases[i].err);
}

static void test_compile_error_buffers(void **state)
{
    struct tmpl *t = NULL;
    char err[12];

    (void)state;
    /* err may be NULL; a short err is truncated and terminated */
    assert_int_equal(tmpl_compile("${", 2, &t, NULL, 0), TOCSIN_EINVAL);
    assert_null(t);
    assert_int_equal(tmpl_compile("${", 2, &t, err, sizeof err), TOCSIN_EINVAL);
    assert_string_equal(err, "offset 0: u");
    /* the source need not be NUL-terminated: len decides */
    assert_int_equal(tmpl_compile("${alert.id}garbage", 11, &t, err, sizeof err), TOCSIN_OK);
    assert_string_equal(err, "");
    tmpl_free(t);
    assert_int_equal(tmpl_compile("${alert.id}", 10, &t, err, sizeof err), TOCSIN_EINVAL);
    assert_int_equal(tmpl_compile(NULL, 0, &t, err, sizeof err), TOCSIN_OK);
    assert_true(tmpl_is_literal(t));
    tmpl_free(t);
    tmpl_free(NULL);
}

/* Fills s with `n` substitutions "${a}". */
static char *repeat(const char *unit, size_t n)
{
    size_t ul = strlen(unit), i;
    char *s = malloc(ul * n + 1);

    assert_non_null(s);
    for (i = 0; i < n; i++)
        memcpy(s + i * ul, unit, ul);
    s[ul * n] = '\0';
    return s;
}

static void test_limits(void **state)
{
    struct tmpl *t = NULL;
    char err[128], *s, *s2;
    struct buf b;

    (void)state;
    /* path depth: 16 segments compile, 17 do not */
    assert_int_equal(tmpl_compile("${a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p}", 34, &t, err, sizeof err),
                     0);
    tmpl_free(t);
    check_error("${a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p[0]}", "offset 33: path deeper than 16 segments");
    /* built-ins: 8 compile, 9 do not */
    check("${alert.id?c?c?c?c?c?c?c?upper_case}", "A1B2");
    check_error("${alert.id?c?c?c?c?c?c?c?c?c}", "offset 27: more than 8 built-ins");
    /* nodes: 512 substitutions between 512 text spans is 1024 nodes */
    s = repeat("${alert.id}.", 512);
    assert_int_equal(tmpl_compile(s, strlen(s), &t, err, sizeof err), TOCSIN_OK);
    buf_init(&b, 1 << 16);
    assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_NONE, &b), TOCSIN_OK);
    assert_int_equal(b.len, 512 * 5);
    buf_free(&b);
    tmpl_free(t);
    /* one text span more (".x" after the last "${alert.id}") and the next tag is too many */
    s[strlen(s) - 1] = '\0';
    s2 = malloc(strlen(s) + 16);
    assert_non_null(s2);
    snprintf(s2, strlen(s) + 16, "%s.x${a}", s);
    check_error(s2, "offset 6145: more than 1024 text spans and substitutions");
    free(s2);
    free(s);
    /* source size: 64 KiB compiles, one byte more does not */
    s = repeat("x", TMPL_MAX_SRC + 1);
    assert_int_equal(tmpl_compile(s, TMPL_MAX_SRC, &t, err, sizeof err), TOCSIN_OK);
    assert_true(tmpl_is_literal(t));
    tmpl_free(t);
    assert_int_equal(tmpl_compile(s, TMPL_MAX_SRC + 1, &t, err, sizeof err), TOCSIN_EINVAL);
    assert_string_equal(err, "offset 65536: template larger than 65536 bytes");
    buf_init(&b, 10);
    assert_int_equal(tmpl_render_string(s, ctx, TMPL_ESC_NONE, &b, err, sizeof err), TOCSIN_EINVAL);
    assert_null(b.p);
    free(s);
}

static void test_out_of_space(void **state)
{
    struct tmpl *t = NULL;
    struct buf b;
    const char *src = "id=${alert.id}";

    (void)state;
    assert_int_equal(tmpl_compile(src, strlen(src), &t, NULL, 0), TOCSIN_OK);
    /* exactly fits: "ab" + "id=a1b2" is 9 bytes */
    buf_init(&b, 9);
    assert_int_equal(buf_puts(&b, "ab"), 0);
    assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_NONE, &b), TOCSIN_OK);
    assert_string_equal(buf_str(&b), "abid=a1b2");
    buf_free(&b);
    /* one byte short: fails, and the buffer is as it was */
    buf_init(&b, 8);
    assert_int_equal(buf_puts(&b, "ab"), 0);
    assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_NONE, &b), TOCSIN_ETOOBIG);
    assert_string_equal(buf_str(&b), "ab");
    assert_int_equal(b.len, 2);
    /* escaping makes the value longer */
    tmpl_free(t);
    src = "${text.html}";
    assert_int_equal(tmpl_compile(src, strlen(src), &t, NULL, 0), TOCSIN_OK);
    buf_reset(&b);
    assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_NONE, &b), TOCSIN_ETOOBIG);
    buf_free(&b);
    buf_init(&b, 40);
    assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_NONE, &b), TOCSIN_OK);
    buf_reset(&b);
    assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_HTML, &b), TOCSIN_ETOOBIG);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    tmpl_free(t);
    /* a JSON value too large for the buffer */
    buf_init(&b, 20);
    assert_int_equal(tmpl_render_string("${alert}", ctx, TMPL_ESC_NONE, &b, NULL, 0),
                     TOCSIN_ETOOBIG);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_long_template(void **state)
{
    struct tmpl *t = NULL;
    struct buf b;
    char *s, *want;
    size_t i, n = 300;
    const char *unit = "${notification.properties['node.hostname']} ";

    (void)state;
    s = repeat(unit, n);
    want = repeat("gw-01 ", n);
    assert_int_equal(tmpl_compile(s, strlen(s), &t, NULL, 0), TOCSIN_OK);
    assert_false(tmpl_is_literal(t));
    buf_init(&b, 1 << 20);
    for (i = 0; i < 100; i++) {
        buf_reset(&b);
        assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_NONE, &b), TOCSIN_OK);
    }
    assert_string_equal(buf_str(&b), want);
    tmpl_free(t);
    free(s);
    free(want);
    /* a 60 KB literal with one substitution in the middle */
    s = repeat("0123456789", 6000);
    memcpy(s + 30000, "${alert.id}", 11);
    assert_int_equal(tmpl_compile(s, strlen(s), &t, NULL, 0), TOCSIN_OK);
    buf_reset(&b);
    assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_JSON, &b), TOCSIN_OK);
    assert_int_equal(b.len, 60000 - 11 + 4);
    assert_memory_equal(b.p + 30000, "a1b2", 4);
    assert_memory_equal(b.p + 30004, "1", 1);
    buf_free(&b);
    tmpl_free(t);
    free(s);
}

static void test_is_literal(void **state)
{
    struct tmpl *t = NULL;
    const char *lit = "plain $ text {x} }} \\$";
    struct buf b;

    (void)state;
    assert_int_equal(tmpl_compile(lit, strlen(lit), &t, NULL, 0), 0);
    assert_true(tmpl_is_literal(t));
    buf_init(&b, 100);
    assert_int_equal(tmpl_render(t, NULL, TMPL_ESC_HTML, &b), 0);
    assert_string_equal(buf_str(&b), lit);
    buf_free(&b);
    tmpl_free(t);
    assert_int_equal(tmpl_compile("x${a}", 5, &t, NULL, 0), 0);
    assert_false(tmpl_is_literal(t));
    tmpl_free(t);
}

static void test_embedded_nul(void **state)
{
    struct tmpl *t = NULL;
    const char src[] = "a\0b${alert.id}\0";
    struct buf b;

    (void)state;
    assert_int_equal(tmpl_compile(src, sizeof src - 1, &t, NULL, 0), 0);
    buf_init(&b, 100);
    assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_NONE, &b), 0);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.p, "a\0ba1b2\0", 8);
    buf_free(&b);
    tmpl_free(t);
}

static void test_render_string(void **state)
{
    struct buf b;
    char err[128];

    (void)state;
    buf_init(&b, 100);
    assert_int_equal(tmpl_render_string("<${alert.name}>", ctx, TMPL_ESC_HTML, &b, err, sizeof err),
                     TOCSIN_OK);
    assert_string_equal(buf_str(&b), "<High latency>");
    assert_int_equal(tmpl_render_string("${oops", ctx, TMPL_ESC_NONE, &b, err, sizeof err),
                     TOCSIN_EINVAL);
    assert_string_equal(err, "offset 0: unterminated ${");
    assert_string_equal(buf_str(&b), "<High latency>");
    assert_int_equal(tmpl_render_string(NULL, ctx, TMPL_ESC_NONE, &b, err, sizeof err),
                     TOCSIN_EINVAL);
    buf_free(&b);
    buf_init(&b, 3);
    assert_int_equal(tmpl_render_string("${alert.id}", ctx, TMPL_ESC_NONE, &b, err, sizeof err),
                     TOCSIN_ETOOBIG);
    assert_string_equal(err, "render: too big");
    assert_int_equal(tmpl_render(NULL, ctx, TMPL_ESC_NONE, &b), TOCSIN_EINVAL);
    buf_free(&b);
}

static void test_deep_json(void **state)
{
    json_t *root = json_object(), *v = json_array(), *inner;
    struct buf b;
    int i;

    (void)state;
    json_object_set_new(root, "deep", v);
    for (i = 1; i < TMPL_MAX_JSON_DEPTH; i++) {
        inner = json_array();
        json_array_append_new(v, inner);
        v = inner;
    }
    buf_init(&b, 1 << 16);
    /* TMPL_MAX_JSON_DEPTH levels render */
    assert_int_equal(tmpl_render_string("${deep}", root, TMPL_ESC_NONE, &b, NULL, 0), 0);
    assert_int_equal(b.len, 2 * TMPL_MAX_JSON_DEPTH);
    /* one more does not */
    json_array_append_new(v, json_array());
    buf_reset(&b);
    assert_int_equal(tmpl_render_string("${deep}", root, TMPL_ESC_NONE, &b, NULL, 0),
                     TOCSIN_ETOOBIG);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    json_decref(root);
}

/* Many flat keys that each partly match: the lookup stays bounded and still finds the value. */
static void test_fallback_budget(void **state)
{
    json_t *root = json_object(), *o = root;
    struct buf b;
    int i;

    (void)state;
    for (i = 0; i < 15; i++) {
        json_t *n = json_object();
        json_object_set_new(o, "a", n);
        json_object_set_new(o, "a.a", json_object());
        o = n;
    }
    json_object_set_new(o, "a", json_string("leaf"));
    buf_init(&b, 100);
    assert_int_equal(
        tmpl_render_string("${a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a}", root, TMPL_ESC_NONE, &b, NULL, 0),
        0);
    assert_string_equal(buf_str(&b), "leaf");
    buf_reset(&b);
    assert_int_equal(
        tmpl_render_string("${a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.b}", root, TMPL_ESC_NONE, &b, NULL, 0),
        0);
    assert_string_equal(buf_str(&b), "");
    buf_free(&b);
    json_decref(root);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Random bytes, or template-looking tokens, or a valid template with a few bytes changed. */
static size_t fuzz_input(char *s, size_t cap)
{
    static const char *const seeds[] = {
        "${alert.id} - ${notification.properties['node.hostname']!'?'}",
        "${(a.b[0]!\"x\\x41\")?upper_case?html} $x {{y}}",
        "${alert.conditions[1].threshold?c} ${obj?url} ${text.quote?json_string}",
        "${notification.properties.node.hostname?trim?cap_first} ${num.r!0}",
    };
    static const char *const toks[] = {
        "${",         "}", "[",  "]", "'",     "\"", ".", "!",          "?", "(",
        ")",          " ", "\\", "r", "alert", "id", "0", "upper_case", "x", "notification",
        "properties", "$", "{"};
    size_t n = 0, want = (size_t)(rng() % cap), k;
    unsigned mode = (unsigned)(rng() % 3);
    const char *seed, *tok;

    if (mode == 2) {
        seed = seeds[rng() % (sizeof seeds / sizeof seeds[0])];
        n = strlen(seed);
        memcpy(s, seed, n);
        for (k = rng() % 4; k > 0; k--)
            s[rng() % n] = (char)(rng() & 0xff);
        return n;
    }
    while (n < want) {
        if (mode == 0) {
            s[n++] = (char)(rng() & 0xff);
            continue;
        }
        tok = toks[rng() % (sizeof toks / sizeof toks[0])];
        if (n + strlen(tok) > cap)
            break;
        memcpy(s + n, tok, strlen(tok));
        n += strlen(tok);
    }
    return n;
}

static void test_fuzz(void **state)
{
    char src[256], err[128];
    struct tmpl *t;
    struct buf b;
    unsigned i, ok = 0, bad = 0, subst = 0;
    int esc;

    (void)state;
    buf_init(&b, 1 << 16);
    for (i = 0; i < 10000; i++) {
        size_t n = fuzz_input(src, sizeof src);
        int rc = tmpl_compile(src, n, &t, err, sizeof err);

        if (rc) {
            assert_int_equal(rc, TOCSIN_EINVAL);
            assert_null(t);
            assert_memory_equal(err, "offset ", 7);
            bad++;
            continue;
        }
        ok++;
        subst += !tmpl_is_literal(t);
        for (esc = TMPL_ESC_NONE; esc <= TMPL_ESC_URL; esc++) {
            buf_reset(&b);
            assert_int_equal(tmpl_render(t, ctx, (enum tmpl_escape)esc, &b), TOCSIN_OK);
            if (tmpl_is_literal(t)) {
                assert_int_equal(b.len, n);
                assert_memory_equal(buf_str(&b), src, n);
            }
        }
        tmpl_free(t);
    }
    buf_free(&b);
    /* both paths were exercised, and many successes had substitutions */
    assert_true(ok > 1000);
    assert_true(bad > 1000);
    assert_true(subst > 500);
}

/* The output buffer's printf (one pass when it fits, else measure and grow, never past the
 * maximum, the buffer unchanged on failure) and its integers. */
static void test_buf_printf_and_integers(void **state)
{
    struct buf b;
    char big[300];

    (void)state;
    buf_init(&b, 100);
    assert_int_equal(buf_printf(&b, "%s-%d", "ab", 42), TOCSIN_OK); /* no memory yet */
    assert_string_equal(buf_str(&b), "ab-42");
    assert_int_equal(buf_printf(&b, "%d", 7), TOCSIN_OK); /* in the room there is */
    assert_string_equal(buf_str(&b), "ab-427");
    memset(big, 'x', 90);
    big[90] = '\0';
    assert_int_equal(buf_printf(&b, "%s", big), TOCSIN_OK); /* grows: 96 bytes */
    assert_int_equal(b.len, 96);
    assert_int_equal(buf_printf(&b, "%s", "12345"), TOCSIN_ETOOBIG); /* 101 > 100 */
    assert_int_equal(b.len, 96);
    assert_int_equal(b.p[96], '\0');
    assert_int_equal(buf_printf(&b, "%s", "1234"), TOCSIN_OK); /* exactly the maximum */
    assert_int_equal(b.len, 100);
    assert_memory_equal(b.p + 95, "x1234\0", 6);
    buf_free(&b);

    buf_init(&b, 1000);
    assert_int_equal(buf_put_i64(&b, 0), TOCSIN_OK);
    assert_int_equal(buf_putc(&b, ' '), TOCSIN_OK);
    assert_int_equal(buf_put_i64(&b, -45), TOCSIN_OK);
    assert_int_equal(buf_putc(&b, ' '), TOCSIN_OK);
    assert_int_equal(buf_put_i64(&b, INT64_MAX), TOCSIN_OK);
    assert_int_equal(buf_putc(&b, ' '), TOCSIN_OK);
    assert_int_equal(buf_put_i64(&b, INT64_MIN), TOCSIN_OK);
    assert_string_equal(buf_str(&b), "0 -45 9223372036854775807 -9223372036854775808");
    buf_free(&b);
    buf_init(&b, 3);
    assert_int_equal(buf_put_i64(&b, 1234), TOCSIN_ETOOBIG);
    assert_int_equal(b.len, 0);
    buf_free(&b);

    buf_init(&b, SIZE_MAX); /* no bound but memory's: grows (max + 1 would wrap to 0) */
    assert_int_equal(buf_reserve(&b, 10), TOCSIN_OK);
    assert_int_equal(b.cap, 11);
    memset(big, 'y', 299);
    big[299] = '\0';
    assert_int_equal(buf_puts(&b, big), TOCSIN_OK);
    assert_int_equal(b.len, 299);
    assert_true(b.cap >= 300);
    assert_int_equal(buf_puts(&b, big), TOCSIN_OK);
    assert_int_equal(b.len, 598);
    assert_int_equal(b.p[597], 'y');
    buf_free(&b);

    buf_init(&b, 5000); /* reserve: one allocation of what is asked, not past the maximum */
    assert_int_equal(buf_reserve(&b, 3000), TOCSIN_OK);
    assert_int_equal(b.cap, 3001);
    assert_string_equal(buf_str(&b), "");
    assert_int_equal(buf_puts(&b, "abc"), TOCSIN_OK);
    assert_int_equal(buf_reserve(&b, 100), TOCSIN_OK); /* there is room: unchanged */
    assert_int_equal(b.cap, 3001);
    assert_int_equal(buf_reserve(&b, 4998), TOCSIN_ETOOBIG);
    assert_int_equal(buf_reserve(&b, 4997), TOCSIN_OK);
    assert_int_equal(b.cap, 5001);
    assert_string_equal(buf_str(&b), "abc");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),          cmocka_unit_test(test_buf_printf_and_integers),
        cmocka_unit_test(test_literal_dollar), cmocka_unit_test(test_ae_example),
        cmocka_unit_test(test_bracket_keys),   cmocka_unit_test(test_dotted_fallback),
        cmocka_unit_test(test_array_index),    cmocka_unit_test(test_missing),
        cmocka_unit_test(test_defaults),       cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_numbers),        cmocka_unit_test(test_escape_json),
        cmocka_unit_test(test_escape_html),    cmocka_unit_test(test_escape_url),
        cmocka_unit_test(test_compile_errors), cmocka_unit_test(test_compile_error_buffers),
        cmocka_unit_test(test_limits),         cmocka_unit_test(test_out_of_space),
        cmocka_unit_test(test_long_template),  cmocka_unit_test(test_is_literal),
        cmocka_unit_test(test_embedded_nul),   cmocka_unit_test(test_render_string),
        cmocka_unit_test(test_deep_json),      cmocka_unit_test(test_fallback_budget),
        cmocka_unit_test(test_fuzz),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
