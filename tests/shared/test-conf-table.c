/* SPDX-License-Identifier: MIT */
/* Tests of the strict parsers and of the table machinery every module's directives go through. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "shared/conf-table.h"
#include "http/site-config.h"
#include "shared/strv.h"

/* Parameters hold their strings inline: criterion 2.4.1 runs each case in a re-executed PIE
 * binary, where a pointer into the parent's image (a string literal) is not valid. */

/* ---- parsers ------------------------------------------------------------------------------ */

typedef struct NumberCase {
        char input[32];
        int r;
        uint64_t value;
} NumberCase;

ParameterizedTestParameters(parse, uint64) {
        static NumberCase cases[] = {
                { "0", 0, 0 },
                { "1", 0, 1 },
                { "007", 0, 7 },
                { "20000", 0, 20000 },
                { "18446744073709551615", 0, UINT64_MAX },
                { "18446744073709551616", -ERANGE, 0 },
                { "99999999999999999999999", -ERANGE, 0 },
                { "99999999999999999999999x", -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "-1", -EINVAL, 0 },
                { "+1", -EINVAL, 0 },
                { " 1", -EINVAL, 0 },
                { "1 ", -EINVAL, 0 },
                { "1x", -EINVAL, 0 },
                { "0x10", -EINVAL, 0 },
                { "1.5", -EINVAL, 0 },
                { "1K", -EINVAL, 0 },
        };
        return cr_make_param_array(NumberCase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(NumberCase *c, parse, uint64) {
        uint64_t v = 4242;
        int r = parse_uint64(c->input, &v);

        cr_assert_eq(r, c->r, "parse_uint64(\"%s\") = %d, expected %d", c->input, r, c->r);
        cr_assert_eq(v, r == 0 ? c->value : 4242, "parse_uint64(\"%s\") gave %llu", c->input,
                     (unsigned long long) v);
}

ParameterizedTestParameters(parse, size) {
        static NumberCase cases[] = {
                { "0", 0, 0 },
                { "512", 0, 512 },
                { "8K", 0, 8192 },
                { "8k", 0, 8192 },
                { "1M", 0, 1048576 },
                { "2m", 0, 2097152 },
                { "1G", 0, 1073741824 },
                { "3g", 0, UINT64_C(3) * 1073741824 },
                { "17179869183G", 0, UINT64_C(17179869183) * 1073741824 },
                { "17179869184G", -ERANGE, 0 },
                { "18446744073709551616", -ERANGE, 0 },
                { "", -EINVAL, 0 },
                { "K", -EINVAL, 0 },
                { "1KB", -EINVAL, 0 },
                { "1T", -EINVAL, 0 },
                { "1 K", -EINVAL, 0 },
                { "-1K", -EINVAL, 0 },
                { "1.5M", -EINVAL, 0 },
        };
        return cr_make_param_array(NumberCase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(NumberCase *c, parse, size) {
        uint64_t v = 4242;
        int r = parse_size(c->input, &v);

        cr_assert_eq(r, c->r, "parse_size(\"%s\") = %d, expected %d", c->input, r, c->r);
        cr_assert_eq(v, r == 0 ? c->value : 4242, "parse_size(\"%s\") gave %llu", c->input, (unsigned long long) v);
}

ParameterizedTestParameters(parse, usec) {
        static NumberCase cases[] = {
                { "0", 0, 0 },
                { "5", 0, 5 * USEC_PER_SEC },
                { "5s", 0, 5 * USEC_PER_SEC },
                { "5S", 0, 5 * USEC_PER_SEC },
                { "500ms", 0, 500 * USEC_PER_MSEC },
                { "2min", 0, 120 * USEC_PER_SEC },
                { "0ms", 0, 0 },
                { "18446744073709", 0, UINT64_C(18446744073709) * USEC_PER_SEC },
                { "18446744073710", -ERANGE, 0 },
                { "", -EINVAL, 0 },
                { "s", -EINVAL, 0 },
                { "5 s", -EINVAL, 0 },
                { "5sec", -EINVAL, 0 },
                { "5h", -EINVAL, 0 },
                { "1.5s", -EINVAL, 0 },
                { "-5", -EINVAL, 0 },
                { "5us", -EINVAL, 0 },
        };
        return cr_make_param_array(NumberCase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(NumberCase *c, parse, usec) {
        usec_t v = 4242;
        int r = parse_usec(c->input, &v);

        cr_assert_eq(r, c->r, "parse_usec(\"%s\") = %d, expected %d", c->input, r, c->r);
        cr_assert_eq(v, r == 0 ? c->value : 4242, "parse_usec(\"%s\") gave %llu", c->input, v);
}

typedef struct BoolCase {
        char input[16];
        int r;
} BoolCase;

ParameterizedTestParameters(parse, boolean) {
        static BoolCase cases[] = {
                { "On", 1 },     { "on", 1 },     { "ON", 1 },   { "yes", 1 },   { "Yes", 1 },    { "true", 1 },
                { "TRUE", 1 },   { "1", 1 },      { "Off", 0 },  { "off", 0 },   { "no", 0 },     { "NO", 0 },
                { "false", 0 },  { "False", 0 },  { "0", 0 },    { "", -EINVAL }, { "2", -EINVAL }, { "enable", -EINVAL },
                { " on", -EINVAL }, { "on ", -EINVAL }, { "y", -EINVAL }, { "00", -EINVAL },
        };
        return cr_make_param_array(BoolCase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(BoolCase *c, parse, boolean) {
        int r = parse_boolean(c->input);

        cr_assert_eq(r, c->r, "parse_boolean(\"%s\") = %d, expected %d", c->input, r, c->r);
}

/* ---- conf_item_apply over a table with every type ------------------------------------------ */

typedef struct Sample {
        char *name;
        char *path;
        char **words;
        char **replaced;
        uint32_t count;
        uint32_t plain;
        uint64_t size;
        usec_t timeout;
        bool flag;
        int color;
} Sample;

static const char *const color_names[] = { "Red", "Green", "Blue", NULL };

#define S(f) offsetof(Sample, f)

static const ConfItem sample_table[] = {
        { "Name", CONF_STRING, S(name), "anonymous", .expect = "a name" },
        { "Path", CONF_PATH, S(path), NULL, .expect = "an absolute path to a directory" },
        { "Words", CONF_STRV, S(words), "a b" },
        { "Replaced", CONF_STRV, S(replaced), NULL, .flags = CONF_LIST_REPLACE },
        { "Count", CONF_UINT, S(count), "10", 1, 20000, .flags = CONF_RESTART_ONLY },
        { "Plain", CONF_UINT, S(plain), "0" },
        { "Size", CONF_SIZE, S(size), "1M", 1024, UINT64_C(1) << 30 },
        { "Timeout", CONF_USEC, S(timeout), "5", USEC_PER_MSEC, 3600 * USEC_PER_SEC },
        { "Flag", CONF_BOOL, S(flag), "Off" },
        { "Color", CONF_ENUM, S(color), "Green", .names = color_names },
        CONF_TABLE_END,
};

typedef struct ApplyCase {
        char key[16];
        char value[32];
        char result[96]; /* conf_item_format() after success, or the error sentence */
} ApplyCase;

ParameterizedTestParameters(apply, types) {
        static ApplyCase cases[] = {
                { "Name", "www", "www" },
                { "Name", "", "expected a name, got \"\"" },
                { "Path", "/srv/www", "/srv/www" },
                { "Path", "srv/www", "expected an absolute path to a directory, got \"srv/www\"" },
                { "Path", "", "expected an absolute path to a directory, got \"\"" },
                { "Words", "x  y\tz", "a b x y z" },
                { "Count", "1", "1" },
                { "Count", "20000", "20000" },
                { "Count", "0", "expected a number from 1 to 20000, got \"0\"" },
                { "Count", "20001", "expected a number from 1 to 20000, got \"20001\"" },
                { "Count", "abc", "expected a number from 1 to 20000, got \"abc\"" },
                { "Count", " 5", "expected a number from 1 to 20000, got \" 5\"" },
                { "Count", "99999999999999999999", "expected a number from 1 to 20000, got \"99999999999999999999\"" },
                { "Plain", "4294967295", "4294967295" },
                { "Plain", "4294967296", "expected a number from 0 to 4294967295, got \"4294967296\"" },
                { "Size", "1K", "1K" },
                { "Size", "1536", "1536" },
                { "Size", "1G", "1G" },
                { "Size", "1023", "expected a size in bytes from 1K to 1G (K, M, G suffixes), got \"1023\"" },
                { "Size", "2G", "expected a size in bytes from 1K to 1G (K, M, G suffixes), got \"2G\"" },
                { "Timeout", "500ms", "500ms" },
                { "Timeout", "90", "90s" },
                { "Timeout", "2min", "2min" },
                { "Timeout", "0", "expected a time from 1ms to 60min (seconds, or with ms, s, min), got \"0\"" },
                { "Timeout", "61min", "expected a time from 1ms to 60min (seconds, or with ms, s, min), got \"61min\"" },
                { "Flag", "yes", "On" },
                { "Flag", "OFF", "Off" },
                { "Flag", "maybe", "expected On or Off, got \"maybe\"" },
                { "Color", "blue", "Blue" },
                { "Color", "RED", "Red" },
                { "Color", "purple", "expected one of Red, Green, Blue, got \"purple\"" },
                { "Color", "Re", "expected one of Red, Green, Blue, got \"Re\"" },
                { "Name", "a\"b\x01", "a\"b\x01" },
                { "Path", "a\"\x01", "expected an absolute path to a directory, got \"a\\\"\\x01\"" },
        };
        return cr_make_param_array(ApplyCase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(ApplyCase *c, apply, types) {
        Sample s = {};
        const ConfItem *item = conf_table_find(sample_table, c->key);
        char *error = NULL, *before, *after;
        int r;

        cr_assert_not_null(item);
        cr_assert_eq(conf_table_defaults(sample_table, &s), 0);
        before = conf_item_format(item, &s);
        r = conf_item_apply(item, &s, c->value, false, &error);
        after = conf_item_format(item, &s);
        if (r == 0) {
                cr_assert_null(error);
                cr_assert_str_eq(after, c->result, "%s = \"%s\"", c->key, c->value);
        } else {
                cr_assert_eq(r, -EINVAL);
                cr_assert_not_null(error);
                cr_assert_str_eq(error, c->result, "%s = \"%s\"", c->key, c->value);
                /* a bad value leaves the previous one in place */
                cr_assert_str_eq(after, before);
        }
        free(error);
        free(before);
        free(after);
        conf_table_free(sample_table, &s);
}

Test(apply, plain_uint_without_bounds_is_not_range_checked) {
        Sample s = {};
        char *error = NULL;

        cr_assert_eq(conf_item_apply(conf_table_find(sample_table, "plain"), &s, "123456", false, &error), 0);
        cr_assert_eq(s.plain, 123456);
        cr_assert_null(error);
}

Test(apply, lists_append_or_replace) {
        Sample s = {};
        const ConfItem *words = conf_table_find(sample_table, "Words");
        char *error = NULL;

        cr_assert_eq(conf_table_defaults(sample_table, &s), 0);
        cr_assert_eq(strv_length(s.words), 2);
        cr_assert_eq(conf_item_apply(words, &s, "c", false, &error), 0);
        cr_assert_eq(conf_item_apply(words, &s, "  d\te  ", false, &error), 0);
        cr_assert_eq(strv_length(s.words), 5);
        cr_assert_str_eq(s.words[0], "a");
        cr_assert_str_eq(s.words[2], "c");
        cr_assert_str_eq(s.words[4], "e");
        cr_assert_eq(conf_item_apply(words, &s, "z", true, &error), 0);
        cr_assert_eq(strv_length(s.words), 1);
        cr_assert_str_eq(s.words[0], "z");
        /* an empty value replacing a list empties it */
        cr_assert_eq(conf_item_apply(words, &s, "", true, &error), 0);
        cr_assert_eq(strv_length(s.words), 0);
        cr_assert_null(error);
        conf_table_free(sample_table, &s);
        cr_assert_null(s.words);
        cr_assert_null(s.name);
}

Test(apply, scalar_replaces_previous_string) {
        Sample s = {};
        char *error = NULL;
        const ConfItem *name = conf_table_find(sample_table, "NAME");

        cr_assert_eq(conf_table_defaults(sample_table, &s), 0);
        cr_assert_str_eq(s.name, "anonymous");
        cr_assert_eq(conf_item_apply(name, &s, "first", false, &error), 0);
        cr_assert_eq(conf_item_apply(name, &s, "second", false, &error), 0);
        cr_assert_str_eq(s.name, "second");
        conf_table_free(sample_table, &s);
}

Test(table, find_is_case_insensitive_and_size_counts_rows) {
        cr_assert_eq(conf_table_find(sample_table, "timeout"), &sample_table[7]);
        cr_assert_eq(conf_table_find(sample_table, "TIMEOUT"), &sample_table[7]);
        cr_assert_null(conf_table_find(sample_table, "Timeouts"));
        cr_assert_eq(conf_table_size(sample_table), 10);
        cr_assert_null(conf_table_find(NULL, "x"));
        cr_assert_eq(conf_table_size(NULL), 0);
}

Test(table, defaults_overwrite_whatever_is_in_the_struct) {
        Sample s;

        memset(&s, 0xAA, sizeof(s));
        cr_assert_eq(conf_table_defaults(sample_table, &s), 0);
        cr_assert_str_eq(s.name, "anonymous");
        cr_assert_null(s.path);
        cr_assert_null(s.replaced);
        cr_assert_eq(s.count, 10);
        cr_assert_eq(s.plain, 0);
        cr_assert_eq(s.size, 1048576);
        cr_assert_eq(s.timeout, 5 * USEC_PER_SEC);
        cr_assert_eq(s.flag, false);
        cr_assert_eq(s.color, 1);
        conf_table_free(sample_table, &s);
}

Test(table, a_bad_default_is_reported) {
        static const ConfItem bad[] = {
                { "Count", CONF_UINT, S(count), "0", 1, 10 },
                CONF_TABLE_END,
        };
        Sample s = {};

        cr_assert_eq(conf_table_defaults(bad, &s), -EINVAL);
}

Test(table, every_site_directive_default_parses) {
        HttpSiteConfig site = {};

        memset(&site, 0x55, sizeof(site));
        cr_assert_eq(conf_table_defaults(http_site_directives, &site), 0);
        cr_assert_eq(site.keep_alive_timeout, 5 * USEC_PER_SEC);
        cr_assert_eq(site.timeout, 60 * USEC_PER_SEC);
        cr_assert_eq(site.limit_request_body, UINT64_C(1) << 30);
        cr_assert_eq(site.limit_request_line, 8190);
        cr_assert_eq(site.keep_alive, true);
        cr_assert_eq(site.trace_enable, false);
        cr_assert_eq(site.server_tokens, SERVER_TOKENS_PROD);
        cr_assert_str_eq(site.error_log, "stderr");
        cr_assert_str_eq(site.directory_index[0], "index.html");
        cr_assert_null(site.directory_index[1]);
        cr_assert_eq(strv_length(site.server_status_allow), 2);
        cr_assert_null(site.document_root);
        conf_table_free(http_site_directives, &site);
        cr_assert_null(site.directory_index);
}

Test(table, every_site_directive_has_a_message_and_a_unique_key) {
        for (const ConfItem *i = http_site_directives; i->key; i++) {
                cr_assert_not_null(i->expect, "%s has no .expect", i->key);
                cr_assert_eq(conf_table_find(http_site_directives, i->key), i, "%s is listed twice", i->key);
        }
}

Test(table, copy_is_deep) {
        Sample a = {}, b = {};

        cr_assert_eq(conf_table_defaults(sample_table, &a), 0);
        cr_assert_eq(conf_table_defaults(sample_table, &b), 0);
        for (const ConfItem *i = sample_table; i->key; i++)
                cr_assert_eq(conf_item_equal(i, &a, &b), true, "%s", i->key);
        cr_assert_eq(conf_item_apply(&sample_table[0], &a, "other", false, NULL), 0);
        cr_assert_eq(conf_item_apply(&sample_table[4], &a, "77", false, NULL), 0);
        cr_assert_eq(conf_item_equal(&sample_table[0], &a, &b), false);
        cr_assert_eq(conf_item_equal(&sample_table[4], &a, &b), false);
        for (const ConfItem *i = sample_table; i->key; i++)
                cr_assert_eq(conf_item_copy(i, &b, &a), 0);
        cr_assert_str_eq(b.name, "other");
        cr_assert_eq(b.count, 77);
        cr_assert_neq(a.name, b.name);
        cr_assert_neq(a.words, b.words);
        cr_assert_neq(a.words[0], b.words[0]);
        cr_assert_str_eq(b.words[1], "b");
        cr_assert_null(b.path);
        conf_table_free(sample_table, &a);
        cr_assert_str_eq(b.words[0], "a"); /* still valid after a is gone */
        conf_table_free(sample_table, &b);
}

Test(format, values_read_like_a_file) {
        Sample s = {};
        char *v;

        cr_assert_eq(conf_table_defaults(sample_table, &s), 0);
        v = conf_item_format(conf_table_find(sample_table, "Path"), &s);
        cr_assert_str_eq(v, "(unset)");
        free(v);
        v = conf_item_format(conf_table_find(sample_table, "Replaced"), &s);
        cr_assert_str_eq(v, "(empty)");
        free(v);
        v = conf_item_format(conf_table_find(sample_table, "Size"), &s);
        cr_assert_str_eq(v, "1M");
        free(v);
        v = conf_item_format(conf_table_find(sample_table, "Color"), &s);
        cr_assert_str_eq(v, "Green");
        free(v);
        conf_table_free(sample_table, &s);
}

/* ---- errors ------------------------------------------------------------------------------- */

Test(errors, format_names_file_and_line) {
        ConfErrors e = {};

        conf_errors_add(&e, "/etc/mpmd/mpmd.conf", 12, "[Server] KeepAliveTimeout: expected %s, got \"%s\"", "a time",
                        "x");
        conf_errors_add(&e, "/etc/mpmd/mpmd.conf", 0, "[Server] Listen: at least one is required");
        conf_errors_add(&e, NULL, 3, "no file");
        cr_assert_eq(e.n, 3);
        cr_assert_str_eq(e.msgs[0], "/etc/mpmd/mpmd.conf:12: [Server] KeepAliveTimeout: expected a time, got \"x\"");
        cr_assert_str_eq(e.msgs[1], "/etc/mpmd/mpmd.conf: [Server] Listen: at least one is required");
        cr_assert_str_eq(e.msgs[2], "no file");
        cr_assert_null(e.msgs[3]);
        conf_errors_done(&e);
        cr_assert_eq(e.n, 0);
        cr_assert_null(e.msgs);
        conf_errors_add(NULL, "x", 1, "dropped"); /* warnings may be NULL */
        conf_errors_done(NULL);
}

/* ---- strv --------------------------------------------------------------------------------- */

Test(strv, push_copy_contains_free) {
        char **l = NULL, **c;

        cr_assert_eq(strv_length(l), 0);
        cr_assert_null(strv_copy(NULL));
        cr_assert_eq(strv_push(&l, "a"), 0);
        cr_assert_eq(strv_push(&l, "b"), 0);
        cr_assert_eq(strv_length(l), 2);
        cr_assert_eq(strv_contains(l, "b"), true);
        cr_assert_eq(strv_contains(l, "c"), false);
        c = strv_copy(l);
        cr_assert_neq(c[0], l[0]);
        cr_assert_str_eq(c[1], "b");
        cr_assert_null(c[2]);
        cr_assert_null(strv_free(l));
        cr_assert_null(strv_free(c));
        cr_assert_null(strv_free(NULL));
}

/* ---- rows with their own parse and check, CONF_CUSTOM, CONF_LINES, contexts ---------------- */

typedef struct Point {
        uint32_t x, y;
} Point;

typedef struct Rich {
        Point point;      /* CONF_CUSTOM */
        ConfLines rules;  /* CONF_LINES, replaced by a narrower section */
        ConfLines header; /* CONF_LINES, added to by a narrower section */
        char **pairs;     /* CONF_STRV judged line by line */
        uint32_t even;    /* CONF_UINT with a check of the complete value */
} Rich;

#define R(f) offsetof(Rich, f)

/* "X,Y", two numbers. */
static int parse_point(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                       char **ret_error) {
        uint64_t x, y;
        const char *comma = strchr(value, ',');
        char head[32];

        if (!comma || (size_t) (comma - value) >= sizeof(head))
                return -EINVAL; /* the row's own "expected …" */
        memcpy(head, value, (size_t) (comma - value));
        head[comma - value] = '\0';
        if (parse_uint64(head, &x) < 0 || parse_uint64(comma + 1, &y) < 0)
                return -EINVAL;
        if (x > UINT32_MAX || y > UINT32_MAX)
                return asprintf(ret_error, "a coordinate above %u", UINT32_MAX) < 0 ? -ENOMEM : -EINVAL;
        memcpy(field, &(Point) { (uint32_t) x, (uint32_t) y }, sizeof(Point));
        return 0;
}

static char *format_point(const ConfItem *item, const void *field) {
        Point p;
        char *s;

        memcpy(&p, field, sizeof(p));
        return asprintf(&s, "%u,%u", p.x, p.y) < 0 ? NULL : s;
}

/* Each line two words, and a line of words already in the list is refused with its own words. */
static int parse_pairs(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                       char **ret_error) {
        char *const *so_far = *(char ***) field;
        char a[32], b[32], rest[2];

        if (sscanf(value, "%31s %31s %1s", a, b, rest) != 2)
                return asprintf(ret_error, "needs two words, at %s:%u", ctx->file ? ctx->file : "-", ctx->line) < 0
                               ? -ENOMEM
                               : -EINVAL;
        if (!ctx->replace_list && strv_contains(so_far, a))
                return asprintf(ret_error, "%s is given twice", a) < 0 ? -ENOMEM : -EINVAL;
        return 0;
}

static int check_even(const ConfItem *item, const void *field, char **ret_error) {
        if (*(const uint32_t *) field % 2 == 0)
                return 0;
        *ret_error = strdup("must be even");
        return -EINVAL;
}

static const ConfItem rich_table[] = {
        { "Point", CONF_CUSTOM, R(point), "1,2", .parse = parse_point, .format = format_point, .size = sizeof(Point),
          .expect = "X,Y" },
        { "Rule", CONF_LINES, R(rules), NULL, .contexts = CONF_CTX_SERVER | CONF_CTX_VHOST | CONF_CTX_PATH },
        { "Header", CONF_LINES, R(header), "X-Default: 1", .flags = CONF_LIST_APPEND_INHERITED },
        { "Pairs", CONF_STRV, R(pairs), NULL, .parse = parse_pairs, .contexts = CONF_CTX_VHOST },
        { "Even", CONF_UINT, R(even), "2", 0, 100, .check = check_even },
        CONF_TABLE_END,
};

static char *applied(const char *key, Rich *r, const char *value, const char *file, unsigned line, bool replace,
                     int *ret) {
        ConfApplyContext ctx = { .file = file, .line = line, .replace_list = replace };
        char *error = NULL;

        *ret = conf_item_apply_at(conf_table_find(rich_table, key), r, value, &ctx, &error);
        return error;
}

Test(custom, parse_stores_and_format_reads_back) {
        const ConfItem *point = conf_table_find(rich_table, "Point");
        Rich r = {}, other = {};
        char *error, *text;
        int ret;

        cr_assert_eq(conf_table_defaults(rich_table, &r), 0);
        cr_assert_eq(r.point.x, 1);
        cr_assert_eq(r.point.y, 2);
        error = applied("Point", &r, "30,40", "a.conf", 3, false, &ret);
        cr_assert_eq(ret, 0);
        cr_assert_null(error);
        cr_assert_eq(r.point.x, 30);
        text = conf_item_format(point, &r);
        cr_assert_str_eq(text, "30,40");
        free(text);

        /* the row's own sentence, or the table's "expected …" when it has none; the value stays */
        error = applied("Point", &r, "5", "a.conf", 4, false, &ret);
        cr_assert_eq(ret, -EINVAL);
        cr_assert_str_eq(error, "expected X,Y, got \"5\"");
        free(error);
        error = applied("Point", &r, "1,99999999999", "a.conf", 4, false, &ret);
        cr_assert_eq(ret, -EINVAL);
        cr_assert_str_eq(error, "a coordinate above 4294967295");
        free(error);
        cr_assert_eq(r.point.x, 30);

        /* copied bytewise, compared by what it reads as */
        cr_assert_eq(conf_table_defaults(rich_table, &other), 0);
        cr_assert_not(conf_item_equal(point, &r, &other));
        cr_assert_eq(conf_item_copy(point, &other, &r), 0);
        cr_assert(conf_item_equal(point, &r, &other));
        conf_table_free(rich_table, &r);
        conf_table_free(rich_table, &other);
}

Test(custom, a_row_without_its_callbacks_is_refused) {
        static const ConfItem broken[] = { { "Point", CONF_CUSTOM, 0, NULL, .size = sizeof(Point) }, CONF_TABLE_END };
        Point p = {};

        cr_assert_eq(conf_item_apply(&broken[0], &p, "1,2", false, NULL), -EINVAL);
}

Test(lines, each_line_keeps_its_place_and_order) {
        const ConfItem *rule = conf_table_find(rich_table, "Rule");
        Rich r = {};
        char *error, *text;
        int ret;

        cr_assert_eq(conf_table_defaults(rich_table, &r), 0);
        cr_assert_eq(r.rules.n, 0);
        error = applied("Rule", &r, "allow a b", "main.conf", 7, true, &ret);
        cr_assert_eq(ret, 0);
        error = applied("Rule", &r, "deny  c", "conf.d/10.conf", 2, false, &ret);
        cr_assert_eq(ret, 0);
        cr_assert_null(error);
        cr_assert_eq(r.rules.n, 2);
        cr_assert_str_eq(r.rules.lines[0].value, "allow a b");
        cr_assert_str_eq(r.rules.lines[0].file, "main.conf");
        cr_assert_eq(r.rules.lines[0].line, 7);
        cr_assert_str_eq(r.rules.lines[1].value, "deny  c", "a line is kept as written");
        cr_assert_str_eq(r.rules.lines[1].file, "conf.d/10.conf");
        cr_assert_eq(r.rules.lines[1].line, 2);
        text = conf_item_format(rule, &r);
        cr_assert_str_eq(text, "allow a b; deny  c");
        free(text);

        /* an empty line is no entry; a replacing occurrence starts the list again */
        error = applied("Rule", &r, "  ", "main.conf", 8, false, &ret);
        cr_assert_eq(ret, -EINVAL);
        cr_assert_str_eq(error, "expected a non-empty value, got \"  \"");
        free(error);
        cr_assert_eq(r.rules.n, 2);
        error = applied("Rule", &r, "only", "conf.d/20.conf", 1, true, &ret);
        cr_assert_eq(ret, 0);
        cr_assert_eq(r.rules.n, 1);
        cr_assert_str_eq(r.rules.lines[0].file, "conf.d/20.conf");
        conf_table_free(rich_table, &r);
        cr_assert_eq(r.rules.n, 0);
        cr_assert_null(r.rules.lines);
}

Test(lines, a_narrower_section_replaces_or_appends_by_row) {
        const ConfItem *rule = conf_table_find(rich_table, "Rule"), *header = conf_table_find(rich_table, "Header");
        Rich server = {}, vhost = {}, copy = {};
        int ret;

        cr_assert_eq(conf_table_defaults(rich_table, &server), 0);
        cr_assert_eq(conf_table_defaults(rich_table, &vhost), 0);
        cr_assert_eq(server.header.n, 1, "the default is a line too");
        cr_assert_str_eq(server.header.lines[0].file, "");
        free(applied("Rule", &server, "allow all", "main.conf", 3, true, &ret));
        free(applied("Header", &server, "X-Server: 1", "main.conf", 4, false, &ret));
        free(applied("Rule", &vhost, "deny all", "v.conf", 2, true, &ret));
        free(applied("Header", &vhost, "X-Site: 2", "v.conf", 3, true, &ret));

        /* Rule: the vhost's own list only; Header: [Server]'s lines, then its own */
        cr_assert_eq(conf_item_merge_inherited(rule, &vhost, &server), 0);
        cr_assert_eq(conf_item_merge_inherited(header, &vhost, &server), 0);
        cr_assert_eq(vhost.rules.n, 1);
        cr_assert_str_eq(vhost.rules.lines[0].value, "deny all");
        cr_assert_eq(vhost.header.n, 3);
        cr_assert_str_eq(vhost.header.lines[0].value, "X-Default: 1");
        cr_assert_str_eq(vhost.header.lines[1].value, "X-Server: 1");
        cr_assert_eq(vhost.header.lines[1].line, 4);
        cr_assert_str_eq(vhost.header.lines[2].value, "X-Site: 2");
        cr_assert_str_eq(vhost.header.lines[2].file, "v.conf");

        /* a site that does not give the key takes a deep copy */
        cr_assert_eq(conf_item_copy(header, &copy, &server), 0);
        cr_assert(conf_item_equal(header, &copy, &server));
        cr_assert_neq(copy.header.lines, server.header.lines);
        cr_assert_neq(copy.header.lines[0].value, server.header.lines[0].value);
        cr_assert_not(conf_item_equal(header, &copy, &vhost));
        conf_table_free(rich_table, &server);
        conf_table_free(rich_table, &vhost);
        conf_lines_done(&copy.header);
}

Test(parse, a_row_judges_each_line_with_its_place) {
        Rich r = {};
        char *error;
        int ret;

        cr_assert_eq(conf_table_defaults(rich_table, &r), 0);
        error = applied("Pairs", &r, "a 1", "x.conf", 1, true, &ret);
        cr_assert_eq(ret, 0);
        error = applied("Pairs", &r, "b 2", "x.conf", 2, false, &ret);
        cr_assert_eq(ret, 0);
        error = applied("Pairs", &r, "c", "x.conf", 3, false, &ret);
        cr_assert_eq(ret, -EINVAL);
        cr_assert_str_eq(error, "needs two words, at x.conf:3");
        free(error);
        error = applied("Pairs", &r, "a 3", "x.conf", 4, false, &ret);
        cr_assert_eq(ret, -EINVAL);
        cr_assert_str_eq(error, "a is given twice");
        free(error);
        cr_assert_eq(strv_length(r.pairs), 4, "refused lines add nothing");
        /* replacing: what was there is no duplicate */
        error = applied("Pairs", &r, "a 3", "y.conf", 1, true, &ret);
        cr_assert_eq(ret, 0);
        cr_assert_eq(strv_length(r.pairs), 2);
        conf_table_free(rich_table, &r);
}

Test(check, runs_on_the_complete_value) {
        const ConfItem *even = conf_table_find(rich_table, "Even"), *point = conf_table_find(rich_table, "Point");
        Rich r = {};
        char *error = NULL;

        cr_assert_eq(conf_table_defaults(rich_table, &r), 0);
        cr_assert_eq(conf_item_check(even, &r, &error), 0);
        cr_assert_eq(conf_item_apply(even, &r, "3", false, NULL), 0, "the type takes it");
        cr_assert_eq(conf_item_check(even, &r, &error), -EINVAL);
        cr_assert_str_eq(error, "must be even");
        free(error);
        cr_assert_eq(conf_item_check(point, &r, &error), 0, "a row without check");
        cr_assert_null(error);
        conf_table_free(rich_table, &r);
}

Test(contexts, a_row_says_where_it_may_be_written) {
        const ConfItem *rule = conf_table_find(rich_table, "Rule"), *pairs = conf_table_find(rich_table, "Pairs"),
                       *even = conf_table_find(rich_table, "Even");

        cr_assert(conf_item_allowed(rule, CONF_CTX_SERVER, CONF_CTX_VHOST));
        cr_assert(conf_item_allowed(rule, CONF_CTX_SERVER, CONF_CTX_PATH));
        cr_assert_not(conf_item_allowed(rule, CONF_CTX_SERVER, CONF_CTX_MPM));
        cr_assert(conf_item_allowed(pairs, CONF_CTX_SERVER, CONF_CTX_VHOST), "its own mask, not the table's");
        cr_assert_not(conf_item_allowed(pairs, CONF_CTX_SERVER, CONF_CTX_SERVER));
        cr_assert(conf_item_allowed(even, CONF_CTX_MPM, CONF_CTX_MPM), "0: the table's section");
        cr_assert_not(conf_item_allowed(even, CONF_CTX_MPM, CONF_CTX_SERVER));
}

/* ---- did you mean ------------------------------------------------------------------------- */

typedef struct DistanceCase {
        char a[24], b[24];
        unsigned distance;
} DistanceCase;

ParameterizedTestParameters(suggest, distance) {
        static DistanceCase cases[] = {
                { "KeepAliveTimout", "KeepAliveTimeout", 1 },
                { "keepalivetimeout", "KeepAliveTimeout", 0 },
                { "KeepAlvieTimeout", "KeepAliveTimeout", 1 }, /* two letters swapped */
                { "Listne", "Listen", 1 },
                { "DocRoot", "DocumentRoot", 5 },
                { "", "User", 4 },
                { "abc", "", 3 },
        };
        return cr_make_param_array(DistanceCase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(DistanceCase *c, suggest, distance) {
        cr_assert_eq(conf_distance(c->a, c->b), c->distance, "%s / %s: %u", c->a, c->b, conf_distance(c->a, c->b));
        cr_assert_eq(conf_distance(c->b, c->a), c->distance);
}

Test(suggest, the_nearest_allowed_key_within_a_small_distance) {
        unsigned best = UINT_MAX;

        cr_assert_str_eq(conf_table_suggest(http_site_directives, CONF_CTX_SERVER, CONF_CTX_SERVER, "KeepAliveTimout",
                                            &best),
                         "KeepAliveTimeout");
        cr_assert_eq(best, 1);
        best = UINT_MAX;
        cr_assert_str_eq(conf_table_suggest(http_site_directives, CONF_CTX_SERVER, CONF_CTX_SERVER, "documentrot", &best),
                         "DocumentRoot");
        /* too far, too short, or not allowed here */
        best = UINT_MAX;
        cr_assert_null(conf_table_suggest(http_site_directives, CONF_CTX_SERVER, CONF_CTX_SERVER, "DocRoot", &best));
        best = UINT_MAX;
        cr_assert_str_eq(conf_table_suggest(sample_table, CONF_CTX_SERVER, CONF_CTX_SERVER, "Pth", &best), "Path");
        best = UINT_MAX;
        cr_assert_null(conf_table_suggest(sample_table, CONF_CTX_SERVER, CONF_CTX_SERVER, "Fg", &best));
        best = UINT_MAX;
        cr_assert_null(conf_table_suggest(rich_table, CONF_CTX_SERVER, CONF_CTX_SERVER, "Pair", &best),
                       "Pairs is only for [VirtualHost]");
        best = UINT_MAX;
        cr_assert_str_eq(conf_table_suggest(rich_table, CONF_CTX_SERVER, CONF_CTX_VHOST, "Pair", &best), "Pairs");
        /* a second table must beat what the first found */
        best = 0;
        cr_assert_null(conf_table_suggest(http_site_directives, CONF_CTX_SERVER, CONF_CTX_SERVER, "KeepAliveTimout",
                                          &best));
}

/* ---- CONF_CUSTOM lists that a narrower section adds to (merge()) --------------------------- */

/* Up to 8 "NAME=N" pairs: a narrower section's pair overrides its parent's of the same name. */
typedef struct Tags {
        struct {
                char name[8];
                uint32_t value;
        } items[8];
        size_t n;
} Tags;

static int parse_tag(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                     char **ret_error) {
        Tags *t = field;
        char name[8];
        unsigned v;
        char rest[2];

        if (sscanf(value, "%7[a-z]=%u%1s", name, &v, rest) != 2)
                return -EINVAL;
        if (ctx->replace_list)
                t->n = 0;
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->items[i].name, name) == 0) {
                        t->items[i].value = v;
                        return 0;
                }
        if (t->n == ELEMENTSOF(t->items))
                return conf_parse_error(ret_error, "too many");
        snprintf(t->items[t->n].name, sizeof(t->items[t->n].name), "%s", name);
        t->items[t->n++].value = v;
        return 0;
}

static char *format_tags(const ConfItem *item, const void *field) {
        const Tags *t = field;
        char buf[256] = "", *p = buf;

        for (size_t i = 0; i < t->n; i++)
                p += sprintf(p, "%s%s=%u", i > 0 ? " " : "", t->items[i].name, t->items[i].value);
        return strdup(buf);
}

static int merge_tags(const ConfItem *item, void *field, const void *parent) {
        Tags *own = field, merged = {};
        const Tags *from = parent;

        for (size_t i = 0; i < from->n; i++) {
                bool overridden = false;
                for (size_t j = 0; j < own->n; j++)
                        overridden = overridden || strcmp(own->items[j].name, from->items[i].name) == 0;
                if (!overridden && merged.n < ELEMENTSOF(merged.items))
                        merged.items[merged.n++] = from->items[i];
        }
        for (size_t j = 0; j < own->n && merged.n < ELEMENTSOF(merged.items); j++)
                merged.items[merged.n++] = own->items[j];
        *own = merged;
        return 0;
}

typedef struct Tagged {
        Tags tags;  /* merged with the parent's */
        Tags plain; /* replaced by a narrower section */
} Tagged;

static const ConfItem tagged_table[] = {
        { "Tag", CONF_CUSTOM, offsetof(Tagged, tags), NULL, .flags = CONF_LIST | CONF_LIST_APPEND_INHERITED,
          .parse = parse_tag, .format = format_tags, .merge = merge_tags, .size = sizeof(Tags) },
        { "Plain", CONF_CUSTOM, offsetof(Tagged, plain), NULL, .flags = CONF_LIST, .parse = parse_tag,
          .format = format_tags, .size = sizeof(Tags) },
        CONF_TABLE_END,
};

static void tag(const char *key, Tagged *t, const char *value, bool replace) {
        ConfApplyContext ctx = { .file = "t.conf", .line = 1, .replace_list = replace };
        char *error = NULL;

        cr_assert_eq(conf_item_apply_at(conf_table_find(tagged_table, key), t, value, &ctx, &error), 0, "%s", value);
        cr_assert_null(error);
}

static void assert_format(const char *key, const Tagged *t, const char *want) {
        _cleanup_free_ char *s = conf_item_format(conf_table_find(tagged_table, key), t);
        cr_assert_str_eq(s, want);
}

Test(custom_merge, a_narrower_section_adds_to_and_overrides_the_wider_ones) {
        const ConfItem *tags = conf_table_find(tagged_table, "Tag"), *plain = conf_table_find(tagged_table, "Plain");
        Tagged server = {}, vhost = {}, path = {};

        tag("Tag", &server, "a=1", true);
        tag("Tag", &server, "b=2", false);
        tag("Plain", &server, "a=1", true);
        tag("Tag", &vhost, "b=20", true);
        tag("Tag", &vhost, "c=3", false);
        tag("Plain", &vhost, "c=3", true);
        tag("Tag", &path, "d=4", true);

        /* server → vhost → path, each already complete when the next merges with it */
        cr_assert_eq(conf_item_merge_inherited(tags, &vhost, &server), 0);
        cr_assert_eq(conf_item_merge_inherited(plain, &vhost, &server), 0);
        assert_format("Tag", &vhost, "a=1 b=20 c=3");
        assert_format("Plain", &vhost, "c=3");
        cr_assert_eq(conf_item_merge_inherited(tags, &path, &vhost), 0);
        assert_format("Tag", &path, "a=1 b=20 c=3 d=4");
        assert_format("Tag", &server, "a=1 b=2");
}

Test(custom_merge, a_row_that_adds_to_its_parent_needs_a_merge) {
        static const ConfItem broken = { "Tag", CONF_CUSTOM, 0, NULL, .flags = CONF_LIST_APPEND_INHERITED,
                                         .parse = parse_tag, .format = format_tags, .size = sizeof(Tags) };
        Tags a = {}, b = {};

        cr_assert_eq(conf_item_merge_inherited(&broken, &a, &b), -EINVAL);
}
