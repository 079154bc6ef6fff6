/*
 * tests/unit/test_output.c — cli/render/: JSON lines, CSV and tables.
 *
 * Proves: json_string() always writes a well-formed JSON string literal
 * (RFC 8259 §7: quote, backslash and every control character escaped) that
 * decodes back to the input, passing valid multi-byte UTF-8 through and
 * turning each invalid byte (stray continuation, truncated, overlong,
 * surrogate, > U+10FFFF) into U+FFFD; out_print() JSON is one object per
 * row and line, fields named after the columns, integers and reals as
 * numbers, text as strings, NULL as null, table-only columns left out; CSV
 * (RFC 4180) has a header line, CRLF line ends, empty NULLs, and quotes
 * fields holding a comma, quote, CR or LF (quotes doubled); the table
 * aligns columns (numbers right, text left, the last column unpadded),
 * hides header-less columns, uses display strings, shows NULL as "-",
 * counts display columns, flattens control characters, and cuts cells to
 * max_width columns in the middle, keeping head and tail around a '…'.
 * Output is captured with open_memstream().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../cli/render/render.h"

/* ---- capturing output -------------------------------------------------------- */

struct cap {
    FILE *f;
    char *buf;
    size_t len;
};

static void cap_open(struct cap *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
}

/* Closes the stream; the text stays in c->buf (free it). */
static char *cap_close(struct cap *c)
{
    fclose(c->f);
    return c->buf;
}

static char *json_of(const char *s)
{
    struct cap c;
    cap_open(&c);
    json_string(c.f, s);
    return cap_close(&c);
}

/* ---- a strict JSON string-literal decoder ------------------------------------ */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the literal `lit` (quotes included) into out; false if malformed. */
static bool json_decode(const char *lit, char *out, size_t cap)
{
    size_t n = strlen(lit), o = 0;
    if (n < 2 || lit[0] != '"' || lit[n - 1] != '"')
        return false;
    for (size_t i = 1; i < n - 1; i++) {
        unsigned char ch = (unsigned char)lit[i];
        if (o + 4 >= cap)
            return false;
        if (ch < 0x20 || ch == '"')
            return false; /* must have been escaped */
        if (ch != '\\') {
            out[o++] = (char)ch;
            continue;
        }
        if (++i >= n - 1)
            return false;
        switch (lit[i]) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            if (i + 4 >= n - 1 + 1)
                return false;
            unsigned cp = 0;
            for (int k = 1; k <= 4; k++) {
                int h = hexval(lit[i + (size_t)k]);
                if (h < 0)
                    return false;
                cp = cp << 4 | (unsigned)h;
            }
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (i + 6 >= n || lit[i + 1] != '\\' || lit[i + 2] != 'u')
                    return false;
                unsigned lo = 0;
                for (int k = 3; k <= 6; k++) {
                    int h = hexval(lit[i + (size_t)k]);
                    if (h < 0)
                        return false;
                    lo = lo << 4 | (unsigned)h;
                }
                if (lo < 0xdc00 || lo > 0xdfff)
                    return false;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return false;
            }
            o += put_utf8(out + o, cp);
            break;
        }
        default: return false;
        }
    }
    out[o] = '\0';
    return true;
}

static void expect_json(const char *in, const char *want_decoded)
{
    char *lit = json_of(in);
    char dec[1024];
    if (!json_decode(lit, dec, sizeof dec)) {
        print_error("json_string(\"%s\") = %s: not a well-formed JSON string\n", in, lit);
        free(lit);
        fail();
    }
    if (strcmp(dec, want_decoded) != 0) {
        print_error("json_string(\"%s\") = %s, decodes to \"%s\", want \"%s\"\n", in, lit, dec, want_decoded);
        free(lit);
        fail();
    }
    free(lit);
}

#define FFFD "\xef\xbf\xbd"

static void json_escaping(void **state)
{
    (void)state;
    expect_json("", "");
    expect_json("plain text", "plain text");
    expect_json("say \"hi\"", "say \"hi\"");
    expect_json("back\\slash", "back\\slash");
    expect_json("a/b", "a/b");
    expect_json("tab\there\nnew\rcr", "tab\there\nnew\rcr");
    expect_json("\x01\x02\x1f\x7f", "\x01\x02\x1f\x7f");
    expect_json("\b\f", "\b\f");
    /* exact form of the simple cases */
    char *s = json_of("q\"b\\");
    assert_string_equal(s, "\"q\\\"b\\\\\"");
    free(s);
    s = json_of("\n");
    assert_true(strcmp(s, "\"\\n\"") == 0 || strcmp(s, "\"\\u000a\"") == 0 || strcmp(s, "\"\\u000A\"") == 0);
    free(s);
}

static void json_utf8(void **state)
{
    (void)state;
    /* valid multi-byte sequences pass through (decoded equal to input) */
    expect_json("caf\xc3\xa9", "caf\xc3\xa9");
    expect_json("\xe2\x9c\x93 ok", "\xe2\x9c\x93 ok");
    expect_json("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");
    expect_json("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    char *s = json_of("caf\xc3\xa9");
    assert_string_equal(s, "\"caf\xc3\xa9\""); /* raw, not \u-escaped */
    free(s);
    /* each invalid byte becomes one U+FFFD */
    expect_json("a\xff" "b", "a" FFFD "b");
    expect_json("\x80", FFFD);
    expect_json("cut \xe2\x9c", "cut " FFFD FFFD);
    expect_json("\xc3", FFFD);
    expect_json("\xc0\xaf", FFFD FFFD);             /* overlong '/' */
    expect_json("\xe0\x80\xaf", FFFD FFFD FFFD);    /* overlong, 3 bytes */
    expect_json("\xed\xa0\x80", FFFD FFFD FFFD);    /* surrogate D800 */
    expect_json("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* > U+10FFFF */
    expect_json("\xf8\x88\x80\x80\x80", FFFD FFFD FFFD FFFD FFFD);
    expect_json("ok\xc3\xa9\xffok", "ok\xc3\xa9" FFFD "ok");
}

/* ---- a result set --------------------------------------------------------- */

static const struct out_col COLS[] = {
    {"code", "CODE", true, 0, false},
    {"name", "NAME", false, 10, false},
    {"share", NULL, true, 0, false},  /* JSON/CSV only */
    {"bar", "BAR", false, 0, true},   /* table only */
};

static void fill(struct out_table *t)
{
    out_init(t, 4, COLS);
    assert_true(out_add_row(t));
    out_int(t, 0, 1000, NULL);
    out_text(t, 1, "Normal Closure", NULL);
    out_real(t, 2, 0.5, "50.0%");
    out_text(t, 3, "", "###");
    assert_true(out_add_row(t));
    out_int(t, 0, 1006, NULL);
    out_text(t, 1, "Abnormal", NULL);
    out_null(t, 2, NULL);
    out_text(t, 3, "", "#");
}

static char *print(const struct out_table *t, enum out_format f)
{
    struct cap c;
    cap_open(&c);
    out_print(t, f, c.f);
    return cap_close(&c);
}

static void json_lines(void **state)
{
    (void)state;
    struct out_table t;
    fill(&t);
    char *s = print(&t, OUT_JSON);
    /* two lines, one object each */
    char *nl = strchr(s, '\n');
    assert_non_null(nl);
    assert_string_equal(nl + 1 + strcspn(nl + 1, "\n"), "\n");
    double share = -1;
    char rest[64] = "";
    assert_int_equal(sscanf(s, "{\"code\":1000,\"name\":\"Normal Closure\",\"share\":%lf%63[^\n]", &share, rest), 2);
    assert_true(share == 0.5);
    assert_string_equal(rest, "}");
    assert_string_equal(nl + 1, "{\"code\":1006,\"name\":\"Abnormal\",\"share\":null}\n");
    assert_null(strstr(s, "bar"));
    assert_null(strstr(s, "###"));
    free(s);
    out_free(&t);
}

static void json_types_and_escapes(void **state)
{
    (void)state;
    static const struct out_col cols[] = {
        {"n", "N", true, 0, false},
        {"t", "T", false, 0, false},
        {"odd \"name\"", "X", false, 0, false},
    };
    struct out_table t;
    out_init(&t, 3, cols);
    assert_true(out_add_row(&t));
    out_int(&t, 0, -9223372036854775807LL - 1, "display ignored");
    out_text(&t, 1, "line\nbreak \"q\"", NULL);
    out_text(&t, 2, NULL, NULL); /* NULL text is null */
    assert_true(out_add_row(&t));
    out_int(&t, 0, 0, NULL);
    out_text(&t, 1, "", NULL);
    out_int(&t, 2, 4999, NULL);
    char *s = print(&t, OUT_JSON);
    char *nl = strchr(s, '\n');
    assert_non_null(nl);
    *nl = '\0';
    assert_true(strcmp(s, "{\"n\":-9223372036854775808,\"t\":\"line\\nbreak \\\"q\\\"\",\"odd \\\"name\\\"\":null}") == 0 ||
                strcmp(s, "{\"n\":-9223372036854775808,\"t\":\"line\\u000abreak \\\"q\\\"\",\"odd \\\"name\\\"\":null}") == 0);
    assert_string_equal(nl + 1, "{\"n\":0,\"t\":\"\",\"odd \\\"name\\\"\":4999}\n");
    free(s);
    out_free(&t);

    /* no rows: no output */
    out_init(&t, 3, cols);
    s = print(&t, OUT_JSON);
    assert_string_equal(s, "");
    free(s);
    out_free(&t);
}

static void csv_output(void **state)
{
    (void)state;
    struct out_table t;
    fill(&t);
    char *s = print(&t, OUT_CSV);
    double share = -1;
    char *l2 = strstr(s, "\r\n1006");
    assert_non_null(l2);
    assert_int_equal(strncmp(s, "code,name,share\r\n1000,Normal Closure,", 37), 0);
    assert_int_equal(sscanf(s + 37, "%lf", &share), 1);
    assert_true(share == 0.5);
    assert_string_equal(l2, "\r\n1006,Abnormal,\r\n");
    free(s);
    out_free(&t);
}

static void csv_quoting(void **state)
{
    (void)state;
    static const struct out_col cols[] = {
        {"a,b", "A", false, 0, false},
        {"plain", "P", false, 0, false},
    };
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"x,y", "\"x,y\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"two\nlines", "\"two\nlines\""},
        {"cr\rhere", "\"cr\rhere\""},
        {"\"", "\"\"\"\""},
        {"no special", "no special"},
        {"", ""},
        {"caf\xc3\xa9", "caf\xc3\xa9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct out_table t;
        out_init(&t, 2, cols);
        assert_true(out_add_row(&t));
        out_text(&t, 0, cases[i].in, NULL);
        out_int(&t, 1, 7, NULL);
        char *s = print(&t, OUT_CSV);
        char want[128];
        snprintf(want, sizeof want, "\"a,b\",plain\r\n%s,7\r\n", cases[i].out);
        assert_string_equal(s, want);
        free(s);
        out_free(&t);
    }
}

static void table_alignment(void **state)
{
    (void)state;
    struct out_table t;
    fill(&t);
    char *s = print(&t, OUT_TABLE);
    assert_string_equal(s,
                        "CODE  NAME        BAR\n"
                        "1000  Norma\u2026sure  ###\n"
                        "1006  Abnormal    #\n");
    free(s);
    out_free(&t);
}

static void table_details(void **state)
{
    (void)state;
    static const struct out_col cols[] = {
        {"host", "HOST", false, 0, false},
        {"count", "COUNT", true, 0, false},
        {"note", "NOTE", false, 6, false},
    };
    struct out_table t;
    out_init(&t, 3, cols);
    assert_true(out_add_row(&t));
    out_text(&t, 0, "caf\xc3\xa9.example", NULL); /* 12 characters, 13 bytes */
    out_int(&t, 1, 7, NULL);
    out_text(&t, 2, "a\tb\nc", NULL);
    assert_true(out_add_row(&t));
    out_null(&t, 0, NULL);
    out_int(&t, 1, 123456, "123k");
    out_text(&t, 2, "\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93", NULL);
    assert_true(out_add_row(&t));
    out_text(&t, 0, "h", NULL);
    out_null(&t, 1, "n/a");
    out_text(&t, 2, "sixsix", NULL); /* exactly max_width: not cut */
    char *s = print(&t, OUT_TABLE);
    assert_string_equal(s,
                        "HOST          COUNT  NOTE\n"
                        "caf\xc3\xa9.example      7  a b c\n"
                        "-              123k  \xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\u2026\xe2\x9c\x93\xe2\x9c\x93\n"
                        "h               n/a  sixsix\n");
    free(s);
    out_free(&t);
}

static void many_rows(void **state)
{
    (void)state;
    static const struct out_col cols[] = {{"i", "I", true, 0, false}};
    struct out_table t;
    out_init(&t, 1, cols);
    for (int i = 0; i < 1000; i++) {
        assert_true(out_add_row(&t));
        out_int(&t, 0, i, NULL);
    }
    char *s = print(&t, OUT_CSV);
    assert_int_equal(strncmp(s, "i\r\n0\r\n1\r\n", 9), 0);
    assert_string_equal(s + strlen(s) - 7, "\r\n999\r\n");
    assert_non_null(strstr(s, "\r\n998\r\n999\r\n"));
    size_t lines = 0;
    for (char *p = s; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1001);
    free(s);
    out_free(&t);
}

static void format_names(void **state)
{
    (void)state;
    enum out_format f = OUT_TABLE;
    assert_true(out_format_parse("json", &f));
    assert_int_equal(f, OUT_JSON);
    assert_true(out_format_parse("csv", &f));
    assert_int_equal(f, OUT_CSV);
    assert_true(out_format_parse("table", &f));
    assert_int_equal(f, OUT_TABLE);
    assert_false(out_format_parse("JSON", &f));
    assert_false(out_format_parse("xml", &f));
    assert_false(out_format_parse("", &f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_escaping),
        cmocka_unit_test(json_utf8),
        cmocka_unit_test(json_lines),
        cmocka_unit_test(json_types_and_escapes),
        cmocka_unit_test(csv_output),
        cmocka_unit_test(csv_quoting),
        cmocka_unit_test(table_alignment),
        cmocka_unit_test(table_details),
        cmocka_unit_test(many_rows),
        cmocka_unit_test(format_names),
    };
    RUN_TESTS(tests);
}
