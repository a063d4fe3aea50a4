/* Unit tests for the Handlebars / Mustache part of src/template (tmpl_hbs.c, tmpl_date.c). The
 * examples of docs/templates.md are in test_doc_examples, against the context the page shows. */
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
    "\"alert\":{\"id\":\"a1\",\"resource\":\"web01\",\"event\":\"HighCPU\","
    "  \"severity\":\"critical\",\"status\":\"open\",\"value\":95,\"ticket\":\"INC1\","
    "  \"text\":\"CPU \\\"high\\\"\\n<b>&</b>\",\"createTime\":\"2024-03-05T14:07:09.123Z\","
    "  \"lastReceiveTime\":1709647629123,\"secs\":1709647629,"
    "  \"labels\":{\"team\":\"ops\",\"env\":\"prod\",\"odd key\":\"ok\",\"x.y\":\"flat\"},"
    "  \"tags\":[\"a\",\"b\",\"c\"],\"duplicateCount\":0,\"empty\":\"\",\"zero\":0,"
    "  \"none\":null,\"list0\":[],\"obj0\":{},\"f\":false,\"t\":true,\"r\":2.5,\"big\":1e300,"
    "  \"uni\":\"h\\u00e9llo w\\u00f6rld \\u2713 end\"},"
    "\"alerts\":[{\"resource\":\"a\",\"severity\":\"major\"},"
    "            {\"resource\":\"b\",\"severity\":\"minor\"}],"
    "\"endpoint\":{\"name\":\"gw\",\"status\":\"offline\"},"
    "\"status\":\"firing\",\"team\":\"root-team\","
    "\"num\":{\"i\":5,\"r\":2.5,\"s\":\"10\",\"neg\":-3},"
    "\"evil\":\"\\\"},\\\"x\\\":\\\"\\\\\\n</script><script>alert(1)</script>\\u0001\\u007f`='\","
    "\"user.name\":\"flat-top\""
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

static void check_ctx(const char *src, const json_t *c, enum tmpl_escape esc, const char *want)
{
    struct tmpl *t = NULL;
    struct buf b;
    char err[160];
    int rc;

    rc = tmpl_compile(src, strlen(src), &t, err, sizeof err);
    if (rc)
        fprintf(stderr, "compiling %s: %s\n", src, err);
    assert_int_equal(rc, TOCSIN_OK);
    assert_false(tmpl_is_literal(t));
    buf_init(&b, 1 << 20);
    rc = tmpl_render(t, c, esc, &b);
    if (rc == TOCSIN_OK && strcmp(buf_str(&b), want) != 0)
        fprintf(stderr, "template: %s\n", src);
    assert_int_equal(rc, TOCSIN_OK);
    assert_string_equal(buf_str(&b), want);
    buf_free(&b);
    tmpl_free(t);
}

static void check_esc(const char *src, enum tmpl_escape esc, const char *want)
{
    check_ctx(src, ctx, esc, want);
}

static void check(const char *src, const char *want)
{
    check_esc(src, TMPL_ESC_NONE, want);
}

static void check_error(const char *src, const char *want)
{
    struct tmpl *t = (struct tmpl *)(uintptr_t)1;
    char err[160];

    assert_int_equal(tmpl_compile(src, strlen(src), &t, err, sizeof err), TOCSIN_EINVAL);
    assert_null(t);
    if (strcmp(err, want) != 0)
        fprintf(stderr, "template: %s\n", src);
    assert_string_equal(err, want);
}

/* tmpl_render_check against ctx: want_err NULL means no error. */
static void check_render(const char *src, const char *want_out, const char *want_err)
{
    struct tmpl *t = NULL;
    struct buf b;
    char err[160];
    int rc;

    rc = tmpl_compile(src, strlen(src), &t, err, sizeof err);
    if (rc)
        fprintf(stderr, "compiling %s: %s\n", src, err);
    assert_int_equal(rc, TOCSIN_OK);
    buf_init(&b, 1 << 16);
    rc = tmpl_render_check(t, ctx, TMPL_ESC_NONE, &b, err, sizeof err);
    if (rc != (want_err ? TOCSIN_EINVAL : TOCSIN_OK))
        fprintf(stderr, "template %s: rc %d, %s\n", src, rc, err);
    assert_int_equal(rc, want_err ? TOCSIN_EINVAL : TOCSIN_OK);
    assert_string_equal(err, want_err ? want_err : "");
    assert_string_equal(buf_str(&b), want_out);
    /* tmpl_render never fails on data: same text, TOCSIN_OK */
    buf_reset(&b);
    assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_NONE, &b), TOCSIN_OK);
    assert_string_equal(buf_str(&b), want_out);
    /* and with out NULL */
    assert_int_equal(tmpl_render_check(t, ctx, TMPL_ESC_NONE, NULL, err, sizeof err), rc);
    buf_free(&b);
    tmpl_free(t);
}

struct pair {
    const char *src, *want;
};

static void check_all(const struct pair *c, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        check(c[i].src, c[i].want);
}

#define CHECK_ALL(cases) check_all(cases, sizeof cases / sizeof cases[0])

static void test_values(void **state)
{
    static const struct pair cases[] = {
        {"{{alert.resource}}", "web01"},
        {"{{ alert.resource }}", "web01"},
        {"{{alert/resource}}", "web01"},
        {"{{endpoint.name}} is {{endpoint.status}}", "gw is offline"},
        {"{{alert.labels.team}}", "ops"},
        {"{{alert.labels.[odd key]}}", "ok"},
        {"{{alert.labels.['odd key']}}", "ok"},
        {"{{alert.labels.x.y}}", "flat"},
        {"{{user.name}}", "flat-top"},
        {"{{alert.tags.1}} {{alert.tags.[2]}} {{alert.tags[0]}}", "b c a"},
        {"{{alert.value}} {{alert.r}} {{num.neg}} {{alert.t}} {{alert.f}}", "95 2.5 -3 true false"},
        {"{{alert.tags}}", "[\"a\",\"b\",\"c\"]"},
        {"{{alert.labels}}",
         "{\"team\":\"ops\",\"env\":\"prod\",\"odd key\":\"ok\",\"x.y\":\"flat\"}"},
        {"[{{alert.none}}{{alert.missing}}{{nope.deeper}}]", "[]"},
        {"{{'lit'}} {{\"dq\"}} {{42}} {{-1.5}} {{true}} {{null}}.", "lit dq 42 -1.5 true ."},
        {"{{this.status}} {{./status}}", "firing firing"},
        {"{{@root.status}}", "firing"},
        {"a{{! a comment }}b{{!-- {{x}} }} --}}c", "abc"},
        {"\\{{alert.id}} {{alert.id}}", "{{alert.id}} a1"},
        {"\\\\{{alert.id}}", "\\a1"},
        {"${alert.id}-{{alert.id}}", "a1-a1"},
    };

    (void)state;
    CHECK_ALL(cases);
}

static void test_raw_and_escaping(void **state)
{
    (void)state;
    /* {{x}} follows the mode; {{{x}}} and {{& x}} never escape */
    check_esc("{{alert.text}}", TMPL_ESC_NONE, "CPU \"high\"\n<b>&</b>");
    check_esc("{{alert.text}}", TMPL_ESC_JSON, "CPU \\\"high\\\"\\n<b>&</b>");
    check_esc("{{alert.text}}", TMPL_ESC_HTML, "CPU &quot;high&quot;\n&lt;b&gt;&amp;&lt;/b&gt;");
    check_esc("{{alert.text}}", TMPL_ESC_URL, "CPU%20%22high%22%0A%3Cb%3E%26%3C%2Fb%3E");
    check_esc("{{{alert.text}}}", TMPL_ESC_JSON, "CPU \"high\"\n<b>&</b>");
    check_esc("{{& alert.text}}", TMPL_ESC_HTML, "CPU \"high\"\n<b>&</b>");
    check_esc("{{{ alert.text }}}", TMPL_ESC_HTML, "CPU \"high\"\n<b>&</b>");
    /* Handlebars' HTML set includes ` and = */
    check_esc("{{'a`b=c'}}", TMPL_ESC_HTML, "a&#x60;b&#x3D;c");
    /* the template's own text is never escaped */
    check_esc("<p>\"{{alert.id}}\"</p>", TMPL_ESC_HTML, "<p>\"a1\"</p>");
    /* json: a JSON value outside quotes in JSON mode, escaped text in the others */
    check_esc("{\"tags\":{{json alert.tags}},\"t\":{{json alert.text}}}", TMPL_ESC_JSON,
              "{\"tags\":[\"a\",\"b\",\"c\"],\"t\":\"CPU \\\"high\\\"\\n<b>&</b>\"}");
    check_esc("{{json alert.tags}}", TMPL_ESC_HTML, "[&quot;a&quot;,&quot;b&quot;,&quot;c&quot;]");
    check_esc("{{{json alert.tags}}}", TMPL_ESC_HTML, "[\"a\",\"b\",\"c\"]");
    check_esc("{{json alert.missing}} {{json 1.0}} {{json 'x'}} {{json alert.r}}", TMPL_ESC_JSON,
              "null 1 \"x\" 2.5");
    /* helpers' output is escaped too */
    check_esc("{{upper alert.text}}", TMPL_ESC_HTML,
              "CPU &quot;HIGH&quot;\n&lt;B&gt;&amp;&lt;/B&gt;");
    check_esc("{{default alert.none '<none>'}}", TMPL_ESC_HTML, "&lt;none&gt;");
}

/* A JSON body built from hostile text stays one valid document with the text intact, and an HTML
 * body gets no markup from it. */
static void test_no_injection(void **state)
{
    const char *body = "{\"text\":\"{{evil}}\",\"u\":\"{{upper evil}}\",\"j\":{{json evil}},"
                       "\"r\":\"{{replace evil 'x' 'y'}}\",\"t\":\"{{truncate evil 12}}\"}";
    struct tmpl *t = NULL;
    json_t *doc, *bad;
    json_error_t je;
    struct buf b;
    const char *ev = json_string_value(json_object_get(ctx, "evil"));
    char *s;
    int lt, q;

    (void)state;
    assert_int_equal(tmpl_compile(body, strlen(body), &t, NULL, 0), TOCSIN_OK);
    buf_init(&b, 1 << 16);
    assert_int_equal(tmpl_render(t, ctx, TMPL_ESC_JSON, &b), TOCSIN_OK);
    doc = json_loads(buf_str(&b), 0, &je);
    assert_non_null(doc);
    assert_int_equal(json_object_size(doc), 5);
    assert_string_equal(json_string_value(json_object_get(doc, "text")), ev);
    assert_string_equal(json_string_value(json_object_get(doc, "j")), ev);
    json_decref(doc);
    /* invalid UTF-8 (only possible through unchecked strings) becomes U+FFFD */
    bad = json_object();
    json_object_set_new(bad, "evil", json_stringn_nocheck("a\xff\"\xc3(\xed\xa0\x80z", 9));
    buf_reset(&b);
    assert_int_equal(tmpl_render(t, bad, TMPL_ESC_JSON, &b), TOCSIN_OK);
    doc = json_loads(buf_str(&b), 0, &je);
    if (!doc)
        fprintf(stderr, "%s: %s\n", buf_str(&b), je.text);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "text")),
                        "a\xef\xbf\xbd\"\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
    json_decref(doc);
    json_decref(bad);
    /* HTML: no tag, no attribute break-out */
    buf_reset(&b);
    assert_int_equal(
        tmpl_render_string("<p title=\"{{evil}}\">{{evil}}</p>", ctx, TMPL_ESC_HTML, &b, NULL, 0),
        TOCSIN_OK);
    /* only the template's own two '<' and two '"' */
    for (s = (char *)buf_str(&b), lt = 0, q = 0; *s; s++) {
        lt += *s == '<';
        q += *s == '"';
    }
    assert_int_equal(lt, 2);
    assert_int_equal(q, 2);
    assert_non_null(strstr(buf_str(&b), "&lt;/script&gt;&lt;script&gt;"));
    assert_non_null(strstr(buf_str(&b), "&#x60;&#x3D;&#39;"));
    buf_free(&b);
    tmpl_free(t);
}

static void test_if_unless(void **state)
{
    static const struct pair cases[] = {
        {"{{#if alert.ticket}}T={{alert.ticket}}{{/if}}", "T=INC1"},
        {"{{#if alert.missing}}y{{else}}n{{/if}}", "n"},
        {"{{#if alert.none}}y{{else}}n{{/if}}", "n"},
        {"{{#if alert.empty}}y{{else}}n{{/if}}", "n"},
        {"{{#if alert.zero}}y{{else}}n{{/if}}", "n"},
        {"{{#if alert.f}}y{{else}}n{{/if}}", "n"},
        {"{{#if alert.list0}}y{{else}}n{{/if}}", "n"},
        {"{{#if alert.obj0}}y{{else}}n{{/if}}", "y"},
        {"{{#if alert.t}}y{{^}}n{{/if}}", "y"},
        {"{{#unless alert.ticket}}none{{else}}has{{/unless}}", "has"},
        {"{{#unless alert.zero}}zero{{/unless}}", "zero"},
        {"{{#if alert.missing}}1{{else if alert.none}}2{{else if alert.tags}}3{{else}}4{{/if}}",
         "3"},
        {"{{#if alert.missing}}1{{else unless alert.zero}}2{{/if}}", "2"},
        {"{{#if (eq alert.severity 'critical')}}crit{{/if}}", "crit"},
        {"{{#if (and alert.t (gt alert.value 90))}}hot{{/if}}", "hot"},
        {"{{#if (or alert.f alert.zero)}}y{{else}}n{{/if}}", "n"},
        {"{{#if (not alert.f)}}y{{/if}}", "y"},
        {"{{#if alert.t}}{{#if alert.f}}a{{else}}b{{/if}}{{else}}c{{/if}}", "b"},
    };

    (void)state;
    CHECK_ALL(cases);
}

static void test_compare(void **state)
{
    static const struct pair cases[] = {
        {"{{#eq endpoint.status 'offline'}}down{{else}}up{{/eq}}", "down"},
        {"{{#ne endpoint.status 'offline'}}up{{else}}down{{/ne}}", "down"},
        {"{{#gt alert.value 90}}gt{{/gt}}{{#gt alert.value 95}}no{{/gt}}", "gt"},
        {"{{#ge alert.value 95}}ge{{/ge}}{{#gte alert.value 95.0}}gte{{/gte}}", "gegte"},
        {"{{#lt alert.r 3}}lt{{/lt}}{{#le alert.r 2.5}}le{{/le}}{{#lte alert.r 2}}no{{/lte}}",
         "ltle"},
        {"{{#eq num.s 10}}num=str{{/eq}}", "num=str"}, /* "10" against a number */
        {"{{#gt num.s 9}}10>9{{/gt}}", "10>9"},        /* numerically, not "10" < "9" */
        {"{{#gt 'b' 'a'}}b>a{{/gt}}{{#lt '10' '9'}}str{{/lt}}", "b>astr"},
        {"{{#eq alert.t true}}t{{/eq}}{{#eq alert.none null}}nil{{/eq}}", "tnil"},
        {"{{#eq alert.missing alert.none}}same{{/eq}}", "same"},
        {"{{#eq alert.tags alert.tags}}eq{{/eq}}{{#gt alert.tags 1}}no{{/gt}}", "eq"},
        {"{{#eq 'a' 1}}no{{else}}yes{{/eq}}", "yes"},
        {"{{eq 1 1}} {{ne 1 1}} {{gt 2 1}} {{not 0}}", "true false true true"},
        {"{{#eq alert.severity 'major'}}M{{else eq alert.severity 'critical'}}C{{else}}?{{/eq}}",
         "C"},
        {"{{#and alert.t alert.value}}and{{/and}}{{#or alert.f alert.zero}}no{{else}}or{{/or}}",
         "andor"},
        {"{{or alert.missing alert.empty 'third'}} {{and alert.t 'x'}}", "third x"},
    };

    (void)state;
    CHECK_ALL(cases);
}

static void test_each(void **state)
{
    static const struct pair cases[] = {
        {"{{#each alert.labels}}{{@key}}={{this}};{{/each}}",
         "team=ops;env=prod;odd key=ok;x.y=flat;"},
        {"{{#each alert.tags}}{{@index}}:{{.}}{{#unless @last}},{{/unless}}{{/each}}",
         "0:a,1:b,2:c"},
        {"{{#each alert.tags}}{{#if @first}}[{{/if}}{{this}}{{#if @last}}]{{/if}}{{/each}}",
         "[abc]"},
        {"{{#each alert.tags}}{{@key}}{{/each}}", "012"},
        {"{{#each alerts}}{{resource}}/{{severity}}@{{../status}} {{/each}}",
         "a/major@firing b/minor@firing "},
        {"{{#each alerts}}{{@root.endpoint.name}}{{/each}}", "gwgw"},
        {"{{#each alert.list0}}x{{else}}empty{{/each}}", "empty"},
        {"{{#each alert.missing}}x{{else}}none{{/each}}", "none"},
        {"{{#each alert.obj0}}x{{else}}none{{/each}}", "none"},
        {"{{#each alert.resource}}x{{else}}scalar{{/each}}", "scalar"},
        /* nested: @../index, ../ twice */
        {"{{#each alerts}}{{#each "
         "../alert.tags}}{{@../index}}{{this}}{{../resource}}{{../../status}}"
         " {{/each}}{{/each}}",
         "0aafiring 0bafiring 0cafiring 1abfiring 1bbfiring 1cbfiring "},
        /* Mustache lookup: a name missing in the item is found outside */
        {"{{#each alerts}}{{team}}{{/each}}", "root-teamroot-team"},
        /* this/./ do not look outside */
        {"{{#each alerts}}[{{this.team}}{{./team}}]{{/each}}", "[][]"},
        {"{{#each alert.labels}}{{#eq @key 'env'}}{{this}}{{/eq}}{{/each}}", "prod"},
    };

    (void)state;
    CHECK_ALL(cases);
}

static void test_with_sections(void **state)
{
    static const struct pair cases[] = {
        {"{{#with alert.labels}}{{team}}-{{env}}-{{../status}}{{/with}}", "ops-prod-firing"},
        {"{{#with alert.missing}}x{{else}}no{{/with}}", "no"},
        {"{{#with alert}}{{#with labels}}{{team}}{{../resource}}{{../../status}}{{/with}}{{/with}}",
         "opsweb01firing"},
        {"{{#alerts}}<{{resource}}>{{/alerts}}", "<a><b>"},
        {"{{#alert.labels}}{{team}}{{/alert.labels}}", "ops"},
        {"{{#alert.t}}yes{{/alert.t}}{{#alert.f}}no{{/alert.f}}", "yes"},
        {"{{^alert.list0}}empty{{/alert.list0}}{{^alerts}}no{{/alerts}}", "empty"},
        {"{{#alert.list0}}x{{else}}none{{/alert.list0}}", "none"},
    };

    (void)state;
    CHECK_ALL(cases);
}

static void test_helpers(void **state)
{
    static const struct pair cases[] = {
        {"{{upper alert.severity}} {{lower 'MiXeD'}} {{upper alert.tags}}",
         "CRITICAL mixed [\"A\",\"B\",\"C\"]"},
        {"{{default alert.missing 'n/a'}} {{default alert.none 'n/a'}} {{default alert.empty 'e'}}",
         "n/a n/a e"},
        {"{{default alert.zero 'x'}} {{default alert.f 'x'}} {{default alert.id 'x'}}",
         "0 false a1"},
        {"{{truncate alert.resource 3}} {{truncate alert.resource 10}}", "web web01"},
        {"{{truncate alert.uni 4}}|{{truncate alert.uni 8 '…'}}|{{truncate alert.uni 0}}",
         "h\xc3\xa9ll|h\xc3\xa9llo w\xe2\x80\xa6|"},
        {"{{truncate 'abc' 2 'xyz'}} {{truncate 'abcdef' 4 '..'}} {{truncate 123456 3}}",
         "ab ab.. 123"},
        {"{{len alert.tags}} {{length alert.labels}} {{len alert.uni}} {{len alert.missing}}",
         "3 4 17 0"},
        {"{{join alert.tags}} {{join alert.tags '|'}} {{join alert.labels '+'}}",
         "a, b, c a|b|c ops+prod+ok+flat"},
        {"{{replace alert.resource 'web' 'app'}} {{replace 'a.b.c' '.' '::'}} {{replace 'x' '' "
         "'y'}}",
         "app01 a::b::c x"},
        {"[{{trim '  pad  '}}]", "[pad]"},
        {"{{lookup alert.labels 'odd key'}} {{lookup alert.tags 1}} {{lookup alert.labels "
         "alert.missing}}.",
         "ok b ."},
        {"{{upper (default alert.missing 'fb')}}", "FB"},
        {"{{default (lookup alert.labels 'nope') (upper 'dflt')}}", "DFLT"},
        {"{{#eq (upper alert.labels.team) 'OPS'}}ok{{/eq}}", "ok"},
        {"{{len (join alert.tags '')}}", "3"},
        {"{{json (eq 1 1)}} {{json (len alert.tags)}}", "true 3"},
    };

    (void)state;
    CHECK_ALL(cases);
}

static void test_date(void **state)
{
    static const struct pair cases[] = {
        {"{{date alert.lastReceiveTime}}", "2024-03-05T14:07:09Z"},
        {"{{date alert.secs}}", "2024-03-05T14:07:09Z"},
        {"{{date alert.createTime 'rfc3339'}}", "2024-03-05T14:07:09Z"},
        {"{{date alert.lastReceiveTime '%Y-%m-%d %H:%M:%S.%L %z %Z'}}",
         "2024-03-05 14:07:09.123 +0000 UTC"},
        {"{{date alert.lastReceiveTime '%Y-%m-%d %H:%M %:z %Z' 'Europe/Paris'}}",
         "2024-03-05 15:07 +01:00 Europe/Paris"},
        {"{{date alert.lastReceiveTime 'iso' 'America/New_York'}}", "2024-03-05T09:07:09-05:00"},
        {"{{date '2024-07-01T12:00:00+02:00' 'iso' 'Europe/Paris'}}", "2024-07-01T12:00:00+02:00"},
        {"{{date alert.lastReceiveTime '%a %A %b %B %e %j %u %w %I%p %y %C'}}",
         "Tue Tuesday Mar March  5 065 2 2 02PM 24 20"},
        {"{{date alert.lastReceiveTime '%F %T %R %D %s %%'}}",
         "2024-03-05 14:07:09 14:07 03/05/24 1709647629 %"},
        {"{{date '2024-02-29' '%F %T'}} {{date '2024-02-29 23:59' '%T'}}",
         "2024-02-29 00:00:00 23:59:00"},
        {"{{date '2024-03-05T14:07:09,5+0530' '%T.%L' 'UTC'}}", "08:37:09.500"},
        {"{{date '1709647629' '%F'}} {{date 0}} {{date -1000 '%F %T'}}",
         "2024-03-05 1970-01-01T00:00:00Z 1969-12-31 23:43:20"},
        {"{{date alert.lastReceiveTime 'iso' '+05:30'}}", "2024-03-05T19:37:09+05:30"},
        {"[{{date alert.missing}}]", "[]"},
    };

    (void)state;
    CHECK_ALL(cases);
}

static void test_whitespace(void **state)
{
    static const struct pair cases[] = {
        {"a  {{~alert.id~}}  \n b", "aa1b"},
        {"[ {{~#if alert.t~}} \n x \n {{~/if~}} ]", "[x]"},
        {"a {{~! c ~}} b", "ab"},
        {"a {{~{alert.text}~}} b", "aCPU \"high\"\n<b>&</b>b"},
        /* standalone block lines vanish */
        {"list:\n{{#each alert.tags}}\n- {{this}}\n{{/each}}\nend", "list:\n- a\n- b\n- c\nend"},
        {"  {{#if alert.t}}  \r\nyes\n  {{else}}\nno\n{{/if}}", "yes\n"},
        {"x\n  {{! note }}\ny", "x\ny"},
        /* not standalone: something else on the line */
        {"a {{#if alert.t}}b{{/if}}\n", "a b\n"},
        {"{{alert.id}}\n", "a1\n"},
    };

    (void)state;
    CHECK_ALL(cases);
}

static void test_compile_errors(void **state)
{
    static const struct {
        const char *src, *err;
    } cases[] = {
        {"ab {{x", "offset 3: unterminated {{"},
        {"{{x}", "offset 0: unterminated {{"},
        {"{{x y}}", "offset 2: unknown helper 'x'"},
        {"{{nope 'a'}}", "offset 2: unknown helper 'nope'"},
        {"{{#if a}}x", "offset 0: unclosed {{#if}}"},
        {"{{#each a}}{{#if b}}{{/each}}",
         "offset 20: {{/each}} does not close {{#if}} (offset 11)"},
        {"x{{/if}}", "offset 1: {{/if}} without an open block"},
        {"{{else}}", "offset 0: {{else}} outside a block"},
        {"{{#if a}}{{else}}{{else}}{{/if}}",
         "offset 17: {{else}} after the block's final {{else}}"},
        {"{{#if a b}}{{/if}}", "offset 3: 'if' takes 1 argument, got 2"},
        {"{{#eq a}}{{/eq}}", "offset 3: 'eq' takes 2 arguments, got 1"},
        {"{{truncate a}}", "offset 2: 'truncate' takes 2 to 3 arguments, got 1"},
        {"{{date}}", "offset 2: 'date' takes 1 to 3 arguments, got 0"},
        {"{{if a}}", "offset 2: 'if' is a block helper: write {{#if ...}}"},
        {"{{#upper a}}{{/upper}}", "offset 3: 'upper' cannot open a block"},
        {"{{#if a}}{{else each b}}{{/if}}",
         "offset 16: 'each' is a block helper: write {{#each ...}}"},
        {"{{date x '%Y-%Q'}}", "offset 13: bad date format: unknown conversion '%Q'"},
        {"{{date x '%'}}", "offset 10: bad date format: unknown conversion '%''"},
        {"{{date x 'iso' 'Mars/Olympus'}}", "offset 16: unknown time zone 'Mars/Olympus'"},
        {"{{truncate x -1}}", "offset 2: truncate: the length must be an integer from 0 to 1e9"},
        {"{{truncate x 'a'}}", "offset 2: truncate: the length must be an integer from 0 to 1e9"},
        {"{{@nope}}", "offset 2: unknown @-variable '@nope'"},
        {"{{../x}}", "offset 2: '../' goes above the root context"},
        {"{{#each a}}{{else}}{{../x}}{{/each}}", "offset 21: '../' goes above the root context"},
        {"{{> partial}}", "offset 0: partials ({{> ...}}) are not supported"},
        {"{{upper a=b}}", "offset 9: hash arguments (name=value) are not supported"},
        {"{{!-- never closed }}", "offset 0: unterminated comment"},
        {"{{{x}}", "offset 0: unterminated {{"},
        {"{{{x}} }", "offset 5: unexpected '}', expected '}}}'"},
        {"{{x,y}}", "offset 3: unexpected ',', expected '}}'"},
        {"{{a.[b}}", "offset 4: unterminated [ in a path"},
        {"{{a.[]}}", "offset 4: empty [] in a path"},
        {"{{eq (upper a b) 1}}", "offset 6: 'upper' takes 1 argument, got 2"},
        {"{{eq (upper a 1}}", "offset 15: unexpected '}', expected ')'"},
        {"{{eq (upper a) 1}", "offset 0: unterminated {{"},
        {"{{12ab}}", "offset 2: bad number"},
        {"{{'abc}}", "offset 2: unterminated string"},
        {"{{}}", "offset 2: unexpected '}', expected a value"},
        {"{{#}}{{/}}", "offset 3: unexpected '}', expected a value"},
        {"{{^'x'}}{{/x}}", "offset 3: {{^...}} takes a path"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_error(cases[i].src, cases[i].err);
}

static char *repeat(const char *s, size_t n)
{
    size_t len = strlen(s), i;
    char *r = malloc(len * n + 1);

    assert_non_null(r);
    for (i = 0; i < n; i++)
        memcpy(r + i * len, s, len);
    r[len * n] = '\0';
    return r;
}

/* {{not (not ... (not 1)...)}} with `depth` subexpressions */
static char *nested_not(unsigned depth)
{
    char *s = malloc(16 + depth * 6), *w = s;
    unsigned i;

    assert_non_null(s);
    w += sprintf(w, "{{not ");
    for (i = 0; i < depth; i++)
        w += sprintf(w, "(not ");
    w += sprintf(w, "1");
    for (i = 0; i < depth; i++)
        *w++ = ')';
    strcpy(w, "}}");
    return s;
}

static void test_limits(void **state)
{
    struct buf b;
    char *open, *close, *src, err[160];
    struct tmpl *t = NULL;
    json_t *big, *arr;
    size_t i;

    (void)state;
    /* nesting: TMPL_MAX_NEST blocks compile, one more does not */
    open = repeat("{{#if alert.t}}", TMPL_MAX_NEST + 1);
    close = repeat("{{/if}}", TMPL_MAX_NEST + 1);
    src = malloc(strlen(open) + strlen(close) + 2);
    assert_non_null(src);
    snprintf(src, strlen(open) + strlen(close) + 2, "%.*s!%.*s",
             (int)(strlen("{{#if alert.t}}") * TMPL_MAX_NEST), open,
             (int)(strlen("{{/if}}") * TMPL_MAX_NEST), close);
    check(src, "!");
    snprintf(src, strlen(open) + strlen(close) + 2, "%s!%s", open, close);
    check_error(src, "offset 480: blocks nested deeper than 32");
    free(src);
    free(open);
    free(close);
    /* each with TMPL_MAX_NEST levels of contexts: the frame stack holds them */
    open = repeat("{{#each .}}", TMPL_MAX_NEST);
    close = repeat("{{/each}}", TMPL_MAX_NEST);
    src = malloc(strlen(open) + strlen(close) + 8);
    assert_non_null(src);
    snprintf(src, strlen(open) + strlen(close) + 8, "%s{{.}}%s", open, close);
    big = json_array();
    arr = big;
    for (i = 0; i + 1 < TMPL_MAX_NEST; i++) {
        json_t *inner = json_array();
        json_array_append_new(arr, inner);
        arr = inner;
    }
    json_array_append_new(arr, json_string("leaf"));
    check_ctx(src, big, TMPL_ESC_NONE, "leaf");
    json_decref(big);
    free(src);
    free(open);
    free(close);
    /* subexpression depth */
    src = nested_not(TMPL_MAX_SUBEXPR);
    check(src, "false");
    free(src);
    src = nested_not(TMPL_MAX_SUBEXPR + 1);
    check_error(src, "offset 46: subexpressions nested deeper than 8");
    free(src);
    /* arguments */
    check("{{or 0 0 0 0 0 0 0 1}}", "1");
    check_error("{{or 0 0 0 0 0 0 0 0 1}}", "offset 21: more than 8 arguments");
    /* path depth */
    check_error("{{a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q}}", "offset 34: path deeper than 16 segments");
    /* date format length */
    src = repeat("%Y", TMPL_MAX_DATE_FMT / 2 + 1);
    open = malloc(strlen(src) + 32);
    assert_non_null(open);
    snprintf(open, strlen(src) + 32, "{{date x '%s'}}", src);
    check_error(open, "offset 10: date format longer than 64 bytes");
    free(open);
    free(src);
    /* each iterations: 99 + 99 * 99 = 9900 are fine, 100 + 100 * 100 are past TMPL_MAX_EACH */
    big = json_object();
    arr = json_array();
    for (i = 0; i < 99; i++)
        json_array_append_new(arr, json_integer((json_int_t)i));
    json_object_set_new(big, "l", arr);
    buf_init(&b, 1 << 20);
    assert_int_equal(
        tmpl_compile("{{#each l}}{{#each ../l}}.{{/each}}{{/each}}", 44, &t, err, sizeof err),
        TOCSIN_OK);
    assert_int_equal(tmpl_render(t, big, TMPL_ESC_NONE, &b), TOCSIN_OK);
    tmpl_free(t);
    json_array_append_new(arr, json_integer(99));
    assert_int_equal(buf_puts(&b, "keep"), TOCSIN_OK);
    assert_int_equal(
        tmpl_compile("{{#each l}}{{#each ../l}}.{{/each}}{{/each}}", 44, &t, err, sizeof err),
        TOCSIN_OK);
    buf_reset(&b);
    assert_int_equal(buf_puts(&b, "keep"), TOCSIN_OK);
    assert_int_equal(tmpl_render(t, big, TMPL_ESC_NONE, &b), TOCSIN_ETOOBIG);
    assert_string_equal(buf_str(&b), "keep");
    tmpl_free(t);
    json_decref(big);
    /* output: the buffer's maximum */
    buf_free(&b);
    buf_init(&b, 5);
    assert_int_equal(tmpl_render_string("{{#each alert.tags}}{{this}}{{this}}{{/each}}", ctx,
                                        TMPL_ESC_NONE, &b, NULL, 0),
                     TOCSIN_ETOOBIG);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_render_check(void **state)
{
    char src[TMPL_SCRATCH + 64];

    (void)state;
    check_render("ok {{alert.id}}", "ok a1", NULL);
    check_render("[{{date alert.resource}}]", "[]",
                 "offset 3: date: the value is not a date (ms or s since the epoch, or ISO-8601)");
    check_render("[{{date alert.tags}}]", "[]",
                 "offset 3: date: the value is not a date (ms or s since the epoch, or ISO-8601)");
    check_render("{{date alert.secs 'iso' alert.resource}}", "",
                 "offset 2: date: unknown time zone 'web01'");
    check_render("{{date alert.secs (replace 'x%Q' 'x' '')}}", "",
                 "offset 2: date: bad format at byte 0");
    check_render("{{date alert.secs alert.resource}}", "web01", NULL);
    check_render("{{date 1e300}}", "",
                 "offset 2: date: the value is not a date (ms or s since the epoch, or ISO-8601)");
    check_render("{{date '2024-02-30'}}{{date '2024-13-01'}}", "",
                 "offset 2: date: the value is not a date (ms or s since the epoch, or ISO-8601)");
    check_render("{{truncate alert.id alert.resource}}", "",
                 "offset 2: truncate: the length is not a non-negative integer");
    /* the first failure is the one reported */
    check_render("{{truncate alert.id num.neg}}{{date 'x'}}", "",
                 "offset 2: truncate: the length is not a non-negative integer");
    /* a subexpression result larger than the scratch space */
    memset(src, 0, sizeof src);
    snprintf(src, sizeof src, "{{len (upper '%0*d')}}", TMPL_SCRATCH, 0);
    check_render(src, "0", "offset 7: subexpression result longer than 4096 bytes");
}

static void test_is_literal(void **state)
{
    struct tmpl *t = NULL;

    (void)state;
    assert_int_equal(tmpl_compile("a {{! c }} b", 12, &t, NULL, 0), TOCSIN_OK);
    assert_false(tmpl_is_literal(t));
    tmpl_free(t);
    assert_int_equal(tmpl_compile("a \\{{x}}", 8, &t, NULL, 0), TOCSIN_OK);
    assert_false(tmpl_is_literal(t));
    tmpl_free(t);
    assert_int_equal(tmpl_compile("a { {x} }} $ }", 14, &t, NULL, 0), TOCSIN_OK);
    assert_true(tmpl_is_literal(t));
    tmpl_free(t);
}

/* The examples of docs/templates.md, against the context shown there. */
static void test_doc_examples(void **state)
{
    static const char doc_ctx[] =
        "{\"alert\":{\"resource\":\"web01\",\"event\":\"HighCPU\",\"severity\":\"critical\","
        "\"status\":\"open\",\"value\":\"97\",\"text\":\"CPU at 97% on \\\"web01\\\"\","
        "\"createTime\":\"2024-03-05T14:07:09.123Z\",\"lastReceiveTime\":1709647629123,"
        "\"ticket\":\"INC0012\",\"tags\":[\"linux\",\"prod\"],"
        "\"labels\":{\"team\":\"ops\",\"env\":\"prod\",\"rack id\":\"r7\"},"
        "\"attributes\":{\"node.hostname\":\"gw-01\"}},"
        "\"endpoint\":{\"name\":\"core-switch\",\"status\":\"offline\"},"
        "\"alerts\":[{\"resource\":\"web01\",\"severity\":\"critical\"},"
        "{\"resource\":\"web02\",\"severity\":\"minor\"}],"
        "\"change\":\"create\",\"status\":\"firing\",\"rule\":{\"id\":\"r1\",\"name\":\"CPU\"}}";
    static const struct {
        const char *src;
        enum tmpl_escape esc;
        const char *want;
    } cases[] = {
        {"{{endpoint.name}} is {{endpoint.status}}", TMPL_ESC_NONE, "core-switch is offline"},
        {"${alert.resource} / {{alert.resource}}", TMPL_ESC_NONE, "web01 / web01"},
        {"{{alert.labels.team}} {{alert.labels.[rack id]}} {{alert.attributes.node.hostname}}",
         TMPL_ESC_NONE, "ops r7 gw-01"},
        {"{{alert.text}}", TMPL_ESC_JSON, "CPU at 97% on \\\"web01\\\""},
        {"{{alert.text}}", TMPL_ESC_HTML, "CPU at 97% on &quot;web01&quot;"},
        {"{{{alert.text}}}", TMPL_ESC_HTML, "CPU at 97% on \"web01\""},
        {"{\"text\":\"{{alert.text}}\",\"tags\":{{json alert.tags}}}", TMPL_ESC_JSON,
         "{\"text\":\"CPU at 97% on \\\"web01\\\"\",\"tags\":[\"linux\",\"prod\"]}"},
        {"{{#eq endpoint.status 'offline'}}DOWN{{else}}UP{{/eq}}", TMPL_ESC_NONE, "DOWN"},
        {"{{#if alert.ticket}}Ticket {{alert.ticket}}{{else}}No ticket{{/if}}", TMPL_ESC_NONE,
         "Ticket INC0012"},
        {"{{#unless alert.ticket}}no ticket yet{{/unless}}", TMPL_ESC_NONE, ""},
        {"{{#if (eq status 'firing')}}FIRING{{else if (eq status 'resolved')}}OK{{/if}}",
         TMPL_ESC_NONE, "FIRING"},
        {"{{#gt alert.value 90}}hot{{/gt}}", TMPL_ESC_NONE, "hot"},
        {"{{#each alert.labels}}{{@key}}={{this}}{{#unless @last}}, {{/unless}}{{/each}}",
         TMPL_ESC_NONE, "team=ops, env=prod, rack id=r7"},
        {"{{#each alerts}}{{@index}}. {{resource}} ({{severity}}) [{{../rule.name}}]\n{{/each}}",
         TMPL_ESC_NONE, "0. web01 (critical) [CPU]\n1. web02 (minor) [CPU]\n"},
        {"{{#each alert.missing}}x{{else}}nothing{{/each}}", TMPL_ESC_NONE, "nothing"},
        {"{{#with alert.labels}}{{team}}/{{env}}{{/with}}", TMPL_ESC_NONE, "ops/prod"},
        {"{{upper alert.severity}} {{lower 'MiXeD'}}", TMPL_ESC_NONE, "CRITICAL mixed"},
        {"{{json alert.labels}}", TMPL_ESC_JSON,
         "{\"team\":\"ops\",\"env\":\"prod\",\"rack id\":\"r7\"}"},
        {"{{default alert.customer 'n/a'}}", TMPL_ESC_NONE, "n/a"},
        {"{{truncate alert.text 10 '…'}}", TMPL_ESC_NONE, "CPU at 97\xe2\x80\xa6"},
        {"{{date alert.lastReceiveTime '%Y-%m-%d %H:%M %Z' 'Europe/Paris'}}", TMPL_ESC_NONE,
         "2024-03-05 15:07 Europe/Paris"},
        {"{{date alert.createTime}}", TMPL_ESC_NONE, "2024-03-05T14:07:09Z"},
        {"{{len alert.tags}} {{join alert.tags ', '}}", TMPL_ESC_NONE, "2 linux, prod"},
        {"{{replace alert.resource 'web' 'app'}} [{{trim '  x  '}}]", TMPL_ESC_NONE, "app01 [x]"},
        {"{{lookup alert.labels 'rack id'}}", TMPL_ESC_NONE, "r7"},
        {"{{#if (and (eq alert.severity 'critical') (not alert.ticket))}}page{{else}}ticket{{/if}}",
         TMPL_ESC_NONE, "ticket"},
        {"{{or alert.customer alert.labels.team}}", TMPL_ESC_NONE, "ops"},
        {"Labels:\n{{#each alert.labels}}\n- {{@key}}: {{this}}\n{{/each}}\nend", TMPL_ESC_NONE,
         "Labels:\n- team: ops\n- env: prod\n- rack id: r7\nend"},
        {"{{alert.resource}}  {{~! trims both sides ~}}  !", TMPL_ESC_NONE, "web01!"},
        {"\\{{not a tag}}", TMPL_ESC_NONE, "{{not a tag}}"},
        {"{{#alerts}}{{resource}} {{/alerts}}{{^alert.missing}}none{{/alert.missing}}",
         TMPL_ESC_NONE, "web01 web02 none"},
    };
    json_error_t je;
    json_t *c = json_loads(doc_ctx, 0, &je);
    size_t i;

    (void)state;
    assert_non_null(c);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_ctx(cases[i].src, c, cases[i].esc, cases[i].want);
    json_decref(c);
}

/* Random mutations of Handlebars templates: compile fails cleanly or renders in every mode. */
static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void test_fuzz(void **state)
{
    static const char *const toks[] = {
        "{{",       "}}",     "{{{",      "}}}",  "{{#",   "{{/",   "{{^",  "{{else",
        "{{!",      "--",     "~",        " ",    "if",    "each",  "eq",   "with",
        "'a'",      "1",      "(",        ")",    "alert", ".",     "tags", "labels",
        "../",      "@key",   "@index",   "this", "upper", "date",  "json", "'%Y'",
        "truncate", "3",      "\n",       "x",    "[",     "]",     "\\",   "${a}",
        "default",  "alerts", "resource", "or",   "not",   "@root", "join", "replace",
    };
    char src[256], err[160];
    struct tmpl *t;
    struct buf b;
    unsigned i, ok = 0, bad = 0, esc;
    size_t n, k;
    const char *tok;

    (void)state;
    buf_init(&b, 1 << 16);
    for (i = 0; i < 20000; i++) {
        n = 0;
        for (k = rng() % 24; k > 0; k--) {
            tok = toks[rng() % (sizeof toks / sizeof toks[0])];
            if (n + strlen(tok) >= sizeof src)
                break;
            memcpy(src + n, tok, strlen(tok));
            n += strlen(tok);
        }
        if (n && rng() % 4 == 0)
            src[rng() % n] = (char)(rng() & 0xff);
        if (tmpl_compile(src, n, &t, err, sizeof err)) {
            assert_null(t);
            assert_memory_equal(err, "offset ", 7);
            bad++;
            continue;
        }
        ok++;
        for (esc = TMPL_ESC_NONE; esc <= TMPL_ESC_URL; esc++) {
            buf_reset(&b);
            assert_int_equal(tmpl_render(t, ctx, (enum tmpl_escape)esc, &b), TOCSIN_OK);
            assert_int_equal(tmpl_render_check(t, ctx, (enum tmpl_escape)esc, NULL, err,
                                               sizeof err) == TOCSIN_EINVAL,
                             err[0] != '\0');
        }
        tmpl_free(t);
    }
    buf_free(&b);
    assert_true(ok > 2000);
    assert_true(bad > 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),         cmocka_unit_test(test_raw_and_escaping),
        cmocka_unit_test(test_no_injection),   cmocka_unit_test(test_if_unless),
        cmocka_unit_test(test_compare),        cmocka_unit_test(test_each),
        cmocka_unit_test(test_with_sections),  cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_date),           cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_compile_errors), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_render_check),   cmocka_unit_test(test_is_literal),
        cmocka_unit_test(test_doc_examples),   cmocka_unit_test(test_fuzz),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
