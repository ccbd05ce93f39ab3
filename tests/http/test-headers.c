/* SPDX-License-Identifier: MIT */
/* Tests of Header and Expires* (headers.h): parsing (quoting, bad values, fields the server owns),
 * accumulation from [Server] to a virtual host to a path section, each action on a block of lines,
 * always against errors, expiry arithmetic, and the whole path through a connection (a static 200,
 * a 404, a 304, a 1,500-byte Content-Security-Policy) and through the CGI exchange. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "docroot.h"
#include "http/cgi-exchange.h"
#include "http/conn.h"
#include "http/headers.h"
#include "http/server.h"
#include "http/site-config.h"
#include "memory-io.h"

/* ---- parsing ------------------------------------------------------------------------------ */

static HttpHeaderEdit parsed(const char *s) {
        HttpHeaderEdit e;
        char *error = NULL;
        int r = http_header_edit_parse(s, &e, &error);

        cr_assert_eq(r, 0, "%s: %s", s, error ? error : "?");
        return e;
}

Test(parse, actions_names_and_values) {
        HttpHeaderEdit e = parsed("set Strict-Transport-Security \"max-age=63072000; includeSubDomains\"");
        cr_assert_eq(e.action, HTTP_HEADER_SET);
        cr_assert_not(e.always);
        cr_assert_str_eq(e.name, "Strict-Transport-Security");
        cr_assert_str_eq(e.value, "max-age=63072000; includeSubDomains");
        cr_assert_eq(e.value_len, strlen(e.value));
        http_header_edit_done(&e);

        e = parsed("  always   MERGE Cache-Control no-cache, private  ");
        cr_assert_eq(e.action, HTTP_HEADER_MERGE);
        cr_assert(e.always);
        cr_assert_str_eq(e.value, "no-cache, private", "an unquoted value is the rest of the line");
        http_header_edit_done(&e);

        e = parsed("onsuccess unset X-Powered-By");
        cr_assert_eq(e.action, HTTP_HEADER_UNSET);
        cr_assert_null(e.value);
        http_header_edit_done(&e);

        e = parsed("setifempty X-Q \"say \\\"hi\\\" \\\\ there\"");
        cr_assert_eq(e.action, HTTP_HEADER_SETIFEMPTY);
        cr_assert_str_eq(e.value, "say \"hi\" \\ there");
        http_header_edit_done(&e);

        e = parsed("add X-Empty \"\"");
        cr_assert_str_eq(e.value, "");
        http_header_edit_done(&e);
}

typedef struct BadCase {
        char value[96];
        char error[96]; /* a part of the message */
} BadCase;

ParameterizedTestParameters(parse, bad_values_are_refused) {
        static BadCase cases[] = {
                { "", "expected set, append" },
                { "always", "expected set, append" },
                { "replace X-A 1", "expected set, append" },
                { "set", "header name is missing" },
                { "set X-A", "needs a value" },
                { "set X(A) 1", "is not a header name" },
                { "set X-A \"open", "closing quote is missing" },
                { "set X-A \"a\" env=HTTPS", "not supported" },
                { "set X-A a\x01z", "control character (0x01)" },
                { "set X-A a\rb", "control character (0x0d)" },
                { "set X-A \"a\nb\"", "control character (0x0a)" },
                { "set X-A a\x7f", "control character (0x7f)" },
                { "unset X-A 1", "unset takes no value" },
                { "set Content-Length 5", "Content-Length is written by the server" },
                { "unset transfer-encoding", "cannot be unset" },
                { "set Connection close", "Connection" },
                { "append Keep-Alive x", "Keep-Alive" },
                { "set Date now", "Date" },
                { "unset Server", "Server" },
        };
        return cr_make_param_array(BadCase, cases, ELEMENTSOF(cases));
}

ParameterizedTest(BadCase *c, parse, bad_values_are_refused) {
        HttpHeaderEdit e = {};
        char *error = NULL;

        cr_assert_eq(http_header_edit_parse(c->value, &e, &error), -EINVAL, "%s", c->value);
        cr_assert_not_null(error);
        cr_assert(strstr(error, c->error), "%s: %s", c->value, error);
        free(error);
}

Test(parse, expiry_arithmetic) {
        static const struct {
                const char *s;
                bool modification;
                uint64_t seconds;
        } cases[] = {
                { "access plus 1 month", false, 30 * 86400 },
                { "\"access plus 1 month\"", false, 30 * 86400 },
                { "now plus 1 year 2 weeks 3 days 4 hours 5 minutes 6 seconds", false,
                  365 * 86400 + 14 * 86400 + 3 * 86400 + 4 * 3600 + 5 * 60 + 6 },
                { "access 10 Seconds", false, 10 },
                { "modification plus 2 hours", true, 7200 },
                { "A3600", false, 3600 },
                { "M60", true, 60 },
                { "access plus 0 seconds", false, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                HttpExpiry x = {};
                char *error = NULL;

                cr_assert_eq(http_expiry_parse(cases[i].s, &x, &error), 0, "%s: %s", cases[i].s, error);
                cr_assert(x.set);
                cr_assert_eq(x.modification, cases[i].modification, "%s", cases[i].s);
                cr_assert_eq(x.seconds, cases[i].seconds, "%s: %llu", cases[i].s, (unsigned long long) x.seconds);
        }
        static const char *const bad[] = { "",         "later plus 1 day", "access plus", "access plus 1",
                                           "access plus 1 fortnight", "access plus x days", "A", "Mx",
                                           "access plus 200 years" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                HttpExpiry x = {};
                char *error = NULL;

                cr_assert_eq(http_expiry_parse(bad[i], &x, &error), -EINVAL, "%s", bad[i]);
                cr_assert_not_null(error, "%s", bad[i]);
                free(error);
        }
}

/* ---- rows and sections -------------------------------------------------------------------- */

static const ConfItem *row(const char *key) {
        const ConfItem *i = conf_table_find(http_site_directives, key);
        cr_assert_not_null(i, "%s", key);
        return i;
}

static void apply(HttpSiteConfig *cfg, const char *key, const char *value, bool first) {
        ConfApplyContext ctx = { .file = "test.conf", .line = 7, .replace_list = first };
        char *error = NULL;
        int r = conf_item_apply_at(row(key), cfg, value, &ctx, &error);

        cr_assert_eq(r, 0, "%s = %s: %s", key, value, error ? error : "?");
}

static char *format(const HttpSiteConfig *cfg, const char *key) {
        return conf_item_format(row(key), cfg);
}

Test(rows, written_in_server_vhost_and_path_sections) {
        static const char *const keys[] = { "Header", "ExpiresActive", "ExpiresDefault", "ExpiresByType", "ErrorDocument" };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                cr_assert(conf_item_allowed(row(keys[i]), 0, CONF_CTX_SERVER));
                cr_assert(conf_item_allowed(row(keys[i]), 0, CONF_CTX_VHOST));
                cr_assert(conf_item_allowed(row(keys[i]), 0, CONF_CTX_PATH), "%s", keys[i]);
        }
}

Test(rows, header_lines_accumulate_from_server_to_path) {
        HttpSiteConfig server = {}, vhost = {}, path = {};

        cr_assert_eq(conf_table_defaults(http_site_directives, &server), 0);
        cr_assert_eq(conf_table_defaults(http_site_directives, &vhost), 0);
        cr_assert_eq(conf_table_defaults(http_site_directives, &path), 0);
        apply(&server, "Header", "always set Strict-Transport-Security \"max-age=63072000\"", true);
        apply(&server, "Header", "set X-Content-Type-Options nosniff", false);
        apply(&vhost, "Header", "set X-Frame-Options DENY", true);
        apply(&path, "Header", "unset X-Frame-Options", true);
        apply(&server, "ExpiresByType", "text/html \"access plus 1 hour\"", true);
        apply(&server, "ExpiresByType", "image/png \"access plus 1 day\"", false);
        apply(&vhost, "ExpiresByType", "TEXT/HTML \"access plus 2 hours\"", true);
        apply(&vhost, "ExpiresByType", "text/html \"access plus 3 hours\"", false);
        apply(&path, "ExpiresByType", "image/* \"access plus 1 week\"", true);

        /* as the loader does: each section merges with its complete parent */
        cr_assert_eq(conf_item_merge_inherited(row("Header"), &vhost, &server), 0);
        cr_assert_eq(conf_item_merge_inherited(row("ExpiresByType"), &vhost, &server), 0);
        cr_assert_eq(conf_item_merge_inherited(row("Header"), &path, &vhost), 0);
        cr_assert_eq(conf_item_merge_inherited(row("ExpiresByType"), &path, &vhost), 0);

        char *s = format(&vhost, "Header");
        cr_assert_str_eq(s, "always set Strict-Transport-Security \"max-age=63072000\"; set X-Content-Type-Options "
                            "\"nosniff\"; set X-Frame-Options \"DENY\"");
        free(s);
        s = format(&path, "Header");
        cr_assert(strstr(s, "Strict-Transport-Security") < strstr(s, "unset X-Frame-Options"), "%s", s);
        cr_assert_eq(path.headers.header.n, 4);
        free(s);
        s = format(&vhost, "ExpiresByType");
        cr_assert_str_eq(s, "text/html \"access plus 10800 seconds\"; image/png \"access plus 86400 seconds\"");
        free(s);
        s = format(&path, "ExpiresByType");
        cr_assert_str_eq(s, "text/html \"access plus 10800 seconds\"; image/png \"access plus 86400 seconds\"; "
                            "image/* \"access plus 604800 seconds\"");
        free(s);
        cr_assert_str_eq(server.headers.expires_type.items[0].type, "text/html");
        cr_assert_eq(server.headers.expires_type.items[0].expiry.seconds, 3600, "the parent is not changed");

        /* a copy (a section that does not give the key) is deep and equal */
        HttpSiteConfig other = {};
        cr_assert_eq(conf_item_copy(row("Header"), &other, &vhost), 0);
        cr_assert(conf_item_equal(row("Header"), &other, &vhost));
        cr_assert_neq(other.headers.header.items[0].name, vhost.headers.header.items[0].name);
        http_headers_done_header(NULL, &other.headers.header);
        conf_table_free(http_site_directives, &server);
        conf_table_free(http_site_directives, &vhost);
        conf_table_free(http_site_directives, &path);
}

Test(rows, a_bad_line_is_refused_with_what_is_wrong) {
        HttpSiteConfig cfg = {};
        ConfApplyContext ctx = { .file = "x.conf", .line = 3, .replace_list = true };
        char *error = NULL;

        cr_assert_eq(conf_table_defaults(http_site_directives, &cfg), 0);
        cr_assert_eq(conf_item_apply_at(row("Header"), &cfg, "set Content-Length 1", &ctx, &error), -EINVAL);
        cr_assert(strstr(error, "Content-Length"), "%s", error);
        free(error);
        cr_assert_eq(conf_item_apply_at(row("ExpiresByType"), &cfg, "html \"access plus 1 day\"", &ctx, &error),
                     -EINVAL);
        cr_assert(strstr(error, "media type"), "%s", error);
        free(error);
        cr_assert_eq(conf_item_apply_at(row("ExpiresDefault"), &cfg, "access plus 1 eon", &ctx, &error), -EINVAL);
        cr_assert(strstr(error, "unit"), "%s", error);
        free(error);
        conf_table_free(http_site_directives, &cfg);
}

/* ---- applying to lines -------------------------------------------------------------------- */

static HttpHeadersConfig config_of(const char *const *lines) {
        HttpHeadersConfig h = {};
        ConfItem item = { .key = "Header" };

        for (size_t i = 0; lines[i]; i++) {
                ConfApplyContext ctx = { .replace_list = i == 0 };
                char *error = NULL;
                cr_assert_eq(http_headers_parse_header(&item, &h.header, lines[i], &ctx, &error), 0, "%s: %s", lines[i],
                             error);
        }
        return h;
}

static char *edited(const char *const *config, int status, const char *lines) {
        HttpHeadersConfig h = config_of(config);
        static char buf[1024];
        size_t len = strlen(lines);

        memcpy(buf, lines, len);
        cr_assert_eq(http_headers_apply(&h, status, status >= 400, 0, NULL, buf, &len, sizeof(buf)), 0);
        buf[len] = 0;
        http_headers_done_header(NULL, &h.header);
        return buf;
}

Test(apply, each_action) {
        const char *lines = "Content-Type: text/html\r\nVary: Accept\r\nx-a: 1\r\nX-A: 2\r\n";

        cr_assert_str_eq(edited((const char *[]) { "set X-A 3", NULL }, 200, lines),
                         "Content-Type: text/html\r\nVary: Accept\r\nX-A: 3\r\n");
        cr_assert_str_eq(edited((const char *[]) { "unset x-A", NULL }, 200, lines),
                         "Content-Type: text/html\r\nVary: Accept\r\n");
        cr_assert_str_eq(edited((const char *[]) { "append Vary Cookie", NULL }, 200, lines),
                         "Content-Type: text/html\r\nVary: Accept, Cookie\r\nx-a: 1\r\nX-A: 2\r\n");
        cr_assert_str_eq(edited((const char *[]) { "append X-New v", NULL }, 200, lines),
                         "Content-Type: text/html\r\nVary: Accept\r\nx-a: 1\r\nX-A: 2\r\nX-New: v\r\n");
        cr_assert_str_eq(edited((const char *[]) { "add X-A 9", NULL }, 200, lines),
                         "Content-Type: text/html\r\nVary: Accept\r\nx-a: 1\r\nX-A: 2\r\nX-A: 9\r\n");
        cr_assert_str_eq(edited((const char *[]) { "merge Vary Accept", NULL }, 200, lines), lines);
        cr_assert_str_eq(edited((const char *[]) { "merge X-A 2", NULL }, 200, lines), lines,
                         "2 is in the second line of X-A");
        cr_assert_str_eq(edited((const char *[]) { "merge Vary Accept-Encoding", NULL }, 200, lines),
                         "Content-Type: text/html\r\nVary: Accept, Accept-Encoding\r\nx-a: 1\r\nX-A: 2\r\n");
        cr_assert_str_eq(edited((const char *[]) { "setifempty Vary Cookie", NULL }, 200, lines), lines);
        cr_assert_str_eq(edited((const char *[]) { "setifempty Cache-Control no-store", NULL }, 200, lines),
                         "Content-Type: text/html\r\nVary: Accept\r\nx-a: 1\r\nX-A: 2\r\nCache-Control: no-store\r\n");
        /* in order: each line sees what the ones before it made */
        cr_assert_str_eq(edited((const char *[]) { "unset Vary", "set Vary A", "merge Vary B", "merge Vary A", NULL },
                                200, "Vary: x\r\n"),
                         "Vary: A, B\r\n");
}

Test(apply, always_also_on_errors) {
        const char *const config[] = { "set X-Ok yes", "always set X-Always yes", NULL };

        cr_assert_str_eq(edited(config, 200, ""), "X-Ok: yes\r\nX-Always: yes\r\n");
        cr_assert_str_eq(edited(config, 304, ""), "X-Ok: yes\r\nX-Always: yes\r\n");
        cr_assert_str_eq(edited(config, 302, ""), "X-Ok: yes\r\nX-Always: yes\r\n");
        cr_assert_str_eq(edited(config, 404, ""), "X-Always: yes\r\n");
        cr_assert_str_eq(edited(config, 500, ""), "X-Always: yes\r\n");
}

Test(apply, lines_that_do_not_fit) {
        HttpHeadersConfig h = config_of((const char *[]) { "set X-Long 0123456789", NULL });
        char buf[32] = "A: b\r\n";
        size_t len = 6;

        cr_assert_eq(http_headers_apply(&h, 200, false, 0, NULL, buf, &len, 20), -ENOBUFS);
        cr_assert_eq(len, 6);
        cr_assert_leq(6 + strlen("X-Long: 0123456789\r\n"), 6 + http_headers_growth_max(&h));
        http_headers_done_header(NULL, &h.header);
}

static char *expired(HttpHeadersConfig *h, int status, const char *lines, const char *media_type) {
        static char buf[1024];
        size_t len = strlen(lines);

        memcpy(buf, lines, len);
        cr_assert_eq(http_headers_apply(h, status, status >= 400, 784111777 /* Sun, 06 Nov 1994 08:49:37 */,
                                        media_type, buf, &len, sizeof(buf)),
                     0);
        buf[len] = 0;
        return buf;
}

Test(apply, expires_by_type_default_and_base) {
        HttpHeadersConfig h = { .expires_active = true };
        ConfItem item = { .key = "ExpiresByType" };
        ConfApplyContext ctx = { .replace_list = true };
        char *error = NULL;

        cr_assert_eq(http_headers_parse_by_type(&item, &h.expires_type, "text/html \"access plus 1 hour\"", &ctx,
                                                &error),
                     0);
        ctx.replace_list = false;
        cr_assert_eq(http_headers_parse_by_type(&item, &h.expires_type, "image/* M60", &ctx, &error), 0);

        cr_assert_str_eq(expired(&h, 200, "Content-Type: text/html; charset=utf-8\r\n", NULL),
                         "Content-Type: text/html; charset=utf-8\r\nCache-Control: max-age=3600\r\n"
                         "Expires: Sun, 06 Nov 1994 09:49:37 GMT\r\n");
        /* an existing Cache-Control takes max-age, no second line */
        cr_assert_str_eq(expired(&h, 200, "Content-Type: TEXT/HTML\r\nCache-Control: public\r\n", NULL),
                         "Content-Type: TEXT/HTML\r\nCache-Control: public, max-age=3600\r\n"
                         "Expires: Sun, 06 Nov 1994 09:49:37 GMT\r\n");
        /* a 304 names no type: the caller's */
        cr_assert_str_eq(expired(&h, 304, "", "text/html"),
                         "Cache-Control: max-age=3600\r\nExpires: Sun, 06 Nov 1994 09:49:37 GMT\r\n");
        /* not on errors or redirects, nor over an Expires already there */
        cr_assert_str_eq(expired(&h, 404, "Content-Type: text/html\r\n", NULL), "Content-Type: text/html\r\n");
        cr_assert_str_eq(expired(&h, 301, "Content-Type: text/html\r\n", NULL), "Content-Type: text/html\r\n");
        cr_assert_str_eq(expired(&h, 200, "Content-Type: text/html\r\nExpires: 0\r\n", NULL),
                         "Content-Type: text/html\r\nExpires: 0\r\n");
        /* modification: from Last-Modified; none, nothing */
        cr_assert_str_eq(expired(&h, 200, "Content-Type: image/png\r\nLast-Modified: Sun, 06 Nov 1994 08:49:07 GMT\r\n",
                                 NULL),
                         "Content-Type: image/png\r\nLast-Modified: Sun, 06 Nov 1994 08:49:07 GMT\r\n"
                         "Cache-Control: max-age=30\r\nExpires: Sun, 06 Nov 1994 08:50:07 GMT\r\n");
        cr_assert_str_eq(expired(&h, 200, "Content-Type: image/png\r\n", NULL), "Content-Type: image/png\r\n");
        /* no type of its own and no default: nothing; with a default, that */
        cr_assert_str_eq(expired(&h, 200, "Content-Type: text/plain\r\n", NULL), "Content-Type: text/plain\r\n");
        cr_assert_eq(http_expiry_parse("access plus 1 day", &h.expires_default, &error), 0);
        cr_assert_str_eq(expired(&h, 200, "Content-Type: text/plain\r\n", NULL),
                         "Content-Type: text/plain\r\nCache-Control: max-age=86400\r\n"
                         "Expires: Mon, 07 Nov 1994 08:49:37 GMT\r\n");
        /* the Header lines come after: they may change what the expiry wrote */
        cr_assert_eq(http_headers_parse_header(&(ConfItem) { .key = "Header" }, &h.header, "unset Expires",
                                               &(ConfApplyContext) { .replace_list = true }, &error),
                     0);
        cr_assert_str_eq(expired(&h, 200, "", NULL), "Cache-Control: max-age=86400\r\n");
        h.expires_active = false;
        cr_assert_str_eq(expired(&h, 200, "Content-Type: text/html\r\n", NULL), "Content-Type: text/html\r\n");
        http_headers_done_by_type(NULL, &h.expires_type);
        http_headers_done_header(NULL, &h.header);
}

/* ---- through a connection ----------------------------------------------------------------- */

static char *root;
static HttpSiteConfig cfg;
static HttpServer *server;

static void setup(void) {
        root = docroot_new("headers");
        docroot_add_text(root, "index.html", "<h1>hi</h1>\n");
        docroot_add_text(root, "a.txt", "alpha\n");
        cr_assert_eq(conf_table_defaults(http_site_directives, &cfg), 0);
        cfg.document_root = strdup(root);
}

static void start(void) {
        const char *err = NULL;
        cr_assert_eq(http_server_new(NULL, &server), 0);
        cr_assert_eq(http_server_add_site(server, "main", &cfg, NULL, &err), 0);
}

static void teardown(void) {
        http_server_free(server);
        server = NULL;
        conf_table_free(http_site_directives, &cfg);
        docroot_remove(root);
}

static char *exchange(const char *input) {
        MemoryIo m;
        memory_io_init(&m, input, strlen(input), 0);
        m.eof = true;
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        cr_assert_not_null(c);
        memory_io_run(c, &m);
        http_conn_free(c);
        char *out = strndup(m.out ? m.out : "", m.out_len);
        memory_io_done(&m);
        return out;
}

TestSuite(conn, .init = setup, .fini = teardown);

Test(conn, static_answers_carry_the_lines) {
        apply(&cfg, "Header", "always set Strict-Transport-Security \"max-age=63072000; includeSubDomains\"", true);
        apply(&cfg, "Header", "set X-Content-Type-Options nosniff", false);
        apply(&cfg, "Header", "set Cache-Control \"no-cache\"", false);
        start();

        char *out = exchange("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert(strstr(out, "HTTP/1.1 200 OK\r\n") == out, "%s", out);
        cr_assert(strstr(out, "\r\nStrict-Transport-Security: max-age=63072000; includeSubDomains\r\n"), "%s", out);
        cr_assert(strstr(out, "\r\nX-Content-Type-Options: nosniff\r\n"), "%s", out);
        cr_assert(strstr(out, "\r\n\r\nalpha\n"), "%s", out);
        free(out);

        out = exchange("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert(strstr(out, "HTTP/1.1 404 Not Found\r\n") == out, "%s", out);
        cr_assert(strstr(out, "\r\nStrict-Transport-Security: max-age"), "always: on a 404 too: %s", out);
        cr_assert_null(strstr(out, "X-Content-Type-Options"), "%s", out);
        free(out);

        /* a head refused before routing: the default site's "always" lines (Apache's 400) */
        out = exchange("GARBAGE\r\n\r\n");
        cr_assert(strstr(out, "HTTP/1.1 400 Bad Request\r\n") == out, "%s", out);
        cr_assert(strstr(out, "\r\nStrict-Transport-Security: max-age"), "%s", out);
        free(out);
}

Test(conn, not_modified_carries_cache_control_and_expires) {
        apply(&cfg, "Header", "set Cache-Control \"public\"", true);
        apply(&cfg, "ExpiresActive", "On", true);
        /* no mime.types here: a.txt is the DefaultType */
        apply(&cfg, "ExpiresByType", "application/octet-stream \"access plus 1 day\"", true);
        start();

        char *out = exchange("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        char *etag = strstr(out, "ETag: ");
        cr_assert_not_null(etag, "%s", out);
        cr_assert(strstr(out, "\r\nExpires: "), "%s", out);
        char tag[64];
        cr_assert_eq(sscanf(etag, "ETag: %63[^\r]", tag), 1);
        char req[256];
        snprintf(req, sizeof(req), "GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n", tag);
        free(out);

        out = exchange(req);
        cr_assert(strstr(out, "HTTP/1.1 304 Not Modified\r\n") == out, "%s", out);
        /* Header set comes after the expiry, as in Apache: its Cache-Control wins */
        cr_assert(strstr(out, "\r\nCache-Control: public\r\n"), "%s", out);
        cr_assert(strstr(out, "\r\nExpires: "), "ExpiresByType by the file's type on a 304: %s", out);
        free(out);
}

Test(conn, a_long_content_security_policy) {
        char line[1700], *p;

        p = line + sprintf(line, "always set Content-Security-Policy \"default-src 'self'");
        while (p - line < 1560)
                p += sprintf(p, "; img-src https://img%03d.example.org", (int) (p - line) % 1000);
        strcpy(p, "\"");
        apply(&cfg, "Header", line, true);
        cr_assert_gt(cfg.headers.header.items[0].value_len, 1500);
        start();

        char *out = exchange("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert(strstr(out, "HTTP/1.1 200 OK\r\n") == out, "%.80s", out);
        char *csp = strstr(out, "\r\nContent-Security-Policy: default-src 'self'; img-src");
        cr_assert_not_null(csp);
        cr_assert(strstr(csp, cfg.headers.header.items[0].value), "the whole value");
        cr_assert(strstr(out, "\r\n\r\nalpha\n"));
        free(out);
        out = exchange("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert(strstr(out, "HTTP/1.1 404 Not Found\r\n") == out, "%.80s", out);
        cr_assert(strstr(out, "\r\nContent-Security-Policy: default-src"));
        free(out);
}

Test(conn, lines_that_overflow_give_a_plain_500) {
        char line[1200];

        for (int i = 0; i < 4; i++) {
                snprintf(line, sizeof(line), "add X-Big-%d \"%01000d\"", i, 0);
                apply(&cfg, "Header", line, i == 0);
        }
        start();
        char *out = exchange("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert(strstr(out, "HTTP/1.1 500 Internal Server Error\r\n") == out, "%.80s", out);
        cr_assert_null(strstr(out, "X-Big"));
        free(out);
}

/* ---- through the CGI exchange ------------------------------------------------------------- */

static char *cgi_answer(const HttpHeadersConfig *h, const char *program_output) {
        CgiExchangeContext ctx = {
                .version_minor = 1,
                .keep_alive = true,
                .date = "Sun, 06 Nov 1994 08:49:37 GMT",
                .server_line = "Server: mpmd\r\n",
                .server_line_len = 14,
                .scheme = "http",
                .host = "x",
                .host_len = 1,
                .headers = h,
                .now = 784111777,
        };
        CgiExchange *x = cgi_exchange_new(&ctx);
        CgiOutput o;
        char *out = calloc(1, 8192);
        size_t len = 0;

        cr_assert_not_null(x);
        cr_assert_geq(cgi_exchange_feed(x, program_output, strlen(program_output), &o), 0);
        for (int i = 0; i < o.n_iov; i++) {
                memcpy(out + len, o.iov[i].iov_base, o.iov[i].iov_len);
                len += o.iov[i].iov_len;
        }
        cgi_exchange_free(x);
        return out;
}

Test(cgi, a_program_head_is_edited) {
        HttpHeadersConfig h = config_of((const char *[]) { "set X-Frame-Options DENY", "unset X-Powered-By",
                                                           "merge Cache-Control private", "always set X-A 1", NULL });
        char *error = NULL;

        h.expires_active = true;
        cr_assert_eq(http_expiry_parse("access plus 1 minute", &h.expires_default, &error), 0);
        char *out = cgi_answer(&h, "Content-Type: text/plain\nX-Powered-By: PHP\nCache-Control: no-store\n"
                                   "Content-Length: 2\n\nok");
        cr_assert_str_eq(out, "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: mpmd\r\n"
                              "Content-Type: text/plain\r\nCache-Control: no-store, max-age=60, private\r\n"
                              "Expires: Sun, 06 Nov 1994 08:50:37 GMT\r\nX-Frame-Options: DENY\r\nX-A: 1\r\n"
                              "Content-Length: 2\r\n\r\nok");
        free(out);
        /* a program's own error: only the "always" lines, and no expiry */
        out = cgi_answer(&h, "Status: 404 Gone Away\nContent-Type: text/plain\nX-Powered-By: PHP\n\nno");
        cr_assert(strstr(out, "HTTP/1.1 404 Gone Away\r\n") == out, "%s", out);
        cr_assert(strstr(out, "\r\nX-Powered-By: PHP\r\n"), "%s", out);
        cr_assert(strstr(out, "\r\nX-A: 1\r\n"), "%s", out);
        cr_assert_null(strstr(out, "X-Frame-Options"), "%s", out);
        cr_assert_null(strstr(out, "Expires"), "%s", out);
        free(out);
        /* without a configuration: the program's head as it was */
        out = cgi_answer(NULL, "Content-Type: text/plain\nX-Powered-By: PHP\n\nok");
        cr_assert(strstr(out, "\r\nContent-Type: text/plain\r\nX-Powered-By: PHP\r\nTransfer-Encoding: chunked\r\n"),
                  "%s", out);
        free(out);
        http_headers_done_header(NULL, &h.header);
}
