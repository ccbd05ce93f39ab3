/* SPDX-License-Identifier: MIT */
/* Tests of the strict parsers and of the table machinery every module's directives go through. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf-table.h"
#include "site-config.h"
#include "strv.h"

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
        HttpSiteConfig site;

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
