/* SPDX-License-Identifier: MIT */
/* Tests of the FastCGI handler's pieces without a responder (fastcgi-handler.h): the script and
 * PATH_INFO found by walking a real document root (PATH_INFO after a file, a directory's index, a
 * directory named like a script, a symlink out, a missing file, a name no handler takes, the bytes
 * of the path kept exactly), and the records that begin a request, decoded back: the role and
 * FCGI_KEEP_CONN, every parameter php-fpm reads, PATH_INFO absent when empty, httpoxy, a value
 * longer than one record, and a buffer too small. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "docroot.h"
#include "http/fastcgi-config.h"
#include "http/fastcgi-handler.h"
#include "http/fastcgi.h"
#include "http/parser.h"
#include "http/site-config.h"

static const HttpParserLimits limits = { .request_line = 8190, .field_size = 100000, .fields = 100 };

static char *root;
static char *index_names[] = { (char *) "index.php", NULL };
static HttpSiteConfig cfg;
static HttpFcgiExtension php;
static HttpSite site;

static void setup(void) {
        char *err = NULL;

        root = docroot_new("fcgi");
        docroot_add_text(root, "index.php", "<?php");
        docroot_add_text(root, "readme.txt", "text");
        docroot_add_dir(root, "sub", 0755);
        docroot_add_text(root, "sub/page.php", "<?php");
        docroot_add_dir(root, "dir", 0755);
        docroot_add_text(root, "dir/index.php", "<?php");
        docroot_add_dir(root, "dir.php", 0755);
        docroot_add_text(root, "dir.php/x.php", "<?php");
        docroot_add_dir(root, "empty", 0755);
        docroot_add_symlink(root, "escape.php", "/etc/passwd");
        docroot_add_symlink(root, "inside.php", "sub/page.php");

        cfg = (HttpSiteConfig) { .document_root = root, .directory_index = index_names };
        php = (HttpFcgiExtension) { .extension = (char *) ".php" };
        cr_assert_eq(http_upstream_target_parse(&php.target, HTTP_UPSTREAM_FCGI, "unix:/run/php/t.sock|fcgi://localhost",
                                                &err),
                     0, "%s", err ? err : "");
        cfg.add_handler.fcgi = &php;
        cfg.add_handler.n_fcgi = 1;
        site = (HttpSite) { .cfg = &cfg, .root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC) };
        cr_assert_geq(site.root_fd, 0);
}

static void teardown(void) {
        close(site.root_fd);
        http_upstream_target_done(&php.target);
        if (cfg.set_handler.set)
                http_upstream_target_done(&cfg.set_handler.target);
        docroot_remove(root);
}

TestSuite(fastcgi_walk, .init = setup, .fini = teardown);

static HttpRequest request_for(const char *path) {
        return (HttpRequest) {
                .site = &site,
                .path = path,
                .path_len = strlen(path),
                .cfg = &cfg,
                .root_fd = site.root_fd,
                .file_path = path,
                .file_path_len = strlen(path),
        };
}

static HttpFcgiScript script;

static int find(const char *path) {
        HttpRequest q = request_for(path);
        memset(&script, 0x55, sizeof(script));
        return http_fastcgi_script_find(&q, &script);
}

static void assert_script(const char *name, const char *file, const char *path_info) {
        char want[PATH_MAX];

        snprintf(want, sizeof(want), "%s/%s", root, file);
        cr_assert_str_eq(script.script_name, name);
        cr_assert_eq(script.script_name_len, strlen(name));
        cr_assert_str_eq(script.filename, want);
        cr_assert_str_eq(script.path_info, path_info);
        cr_assert_eq(script.path_info_len, strlen(path_info));
}

Test(fastcgi_walk, a_script_alone) {
        cr_assert_eq(find("/index.php"), 0);
        assert_script("/index.php", "index.php", "");
        cr_assert_eq(script.target, &php.target);
}

Test(fastcgi_walk, path_info_is_what_follows_the_file) {
        cr_assert_eq(find("/index.php/a/b"), 0);
        assert_script("/index.php", "index.php", "/a/b");
        /* A later component with the extension does not make a second script. */
        cr_assert_eq(find("/sub/page.php/x.php/y"), 0);
        assert_script("/sub/page.php", "sub/page.php", "/x.php/y");
}

Test(fastcgi_walk, a_directory_named_like_a_script_is_walked_through) {
        cr_assert_eq(find("/dir.php/x.php/more"), 0);
        assert_script("/dir.php/x.php", "dir.php/x.php", "/more");
}

Test(fastcgi_walk, a_directory_takes_its_index) {
        cr_assert_eq(find("/dir/"), 0);
        assert_script("/dir/index.php", "dir/index.php", "");
        cr_assert_eq(find("/"), 0);
        assert_script("/index.php", "index.php", "");
        cr_assert_eq(find("/empty/"), -EISDIR);
}

Test(fastcgi_walk, what_is_not_there_is_not_found) {
        cr_assert_eq(find("/missing.php"), -ENOENT);
        cr_assert_eq(find("/sub/missing.php/a"), -ENOENT);
        cr_assert_eq(find("/nodir/x.php"), -ENOENT);
}

Test(fastcgi_walk, a_symlink_leads_only_inside) {
        cr_assert_eq(find("/escape.php"), -EACCES);
        cr_assert_eq(find("/inside.php/p"), 0);
        assert_script("/inside.php", "inside.php", "/p");
}

Test(fastcgi_walk, a_file_no_handler_takes) {
        cr_assert_eq(find("/readme.txt"), 0);
        cr_assert_null(script.target);
        /* SetHandler takes every file. */
        char *err = NULL;
        cr_assert_eq(http_fcgi_parse_set_handler(NULL, &cfg.set_handler, "\"proxy:fcgi://127.0.0.1:9000\"", NULL, &err), 0);
        cr_assert_eq(find("/readme.txt"), 0);
        cr_assert_eq(script.target, &cfg.set_handler.target);
        assert_script("/readme.txt", "readme.txt", "");
}

Test(fastcgi_walk, the_bytes_of_the_path_are_kept_exactly) {
        /* The router refuses control characters in a path (400) before this; the walk itself
         * never reinterprets one: CVE-2019-11043's newline stays inside PATH_INFO. */
        cr_assert_eq(find("/index.php/PHP_VALUE\nsession.auto_start=1;;;"), 0);
        assert_script("/index.php", "index.php", "/PHP_VALUE\nsession.auto_start=1;;;");
        cr_assert_eq(find("/index.php\n/x"), -ENOENT);
}

/* ---- the records ------------------------------------------------------------------------------ */

typedef struct Begun {
        uint8_t buf[HTTP_FCGI_BEGIN_MAX];
        size_t len;
        char params[HTTP_FCGI_BEGIN_MAX];
        size_t params_len;
        bool keep_conn;
        unsigned records;
} Begun;

static Begun begun;
static HttpRequestHead head;
static HttpHeader headers[100];

static void begin(const char *req, const char *path, const HttpFcgiParamsContext *ctx) {
        HttpParser p;

        http_parser_init(&p, &head, headers, &limits);
        cr_assert_eq(http_parser_feed(&p, req, strlen(req)), HTTP_PARSE_DONE, "request: %.80s", req);
        HttpRequest q = request_for(path);
        q.head = &head;
        q.buf = req;
        cr_assert_eq(http_fastcgi_script_find(&q, &script), 0);
        cr_assert_eq(http_fastcgi_request_begin(&q, &script, ctx, begun.buf, sizeof(begun.buf), &begun.len), 0);

        /* FCGI_BEGIN_REQUEST: request 1, the responder, the flags. */
        FcgiHeader h;
        cr_assert_geq(begun.len, 16);
        fcgi_header_read(begun.buf, &h);
        cr_assert_eq(h.type, FCGI_BEGIN_REQUEST);
        cr_assert_eq(h.request_id, 1);
        cr_assert_eq(h.content_length, 8);
        cr_assert_eq(begun.buf[8] << 8 | begun.buf[9], FCGI_RESPONDER);
        begun.keep_conn = begun.buf[10] & FCGI_KEEP_CONN;
        /* Then FCGI_PARAMS records, the last one empty, and nothing after it. */
        size_t pos = 8 + h.content_length + h.padding_length;
        begun.params_len = 0;
        begun.records = 0;
        for (;;) {
                cr_assert_leq(pos + 8, begun.len);
                fcgi_header_read(begun.buf + pos, &h);
                cr_assert_eq(h.type, FCGI_PARAMS);
                cr_assert_eq(h.request_id, 1);
                cr_assert_eq((h.content_length + h.padding_length) % 8, 0, "records are padded to 8");
                pos += 8;
                memcpy(begun.params + begun.params_len, begun.buf + pos, h.content_length);
                begun.params_len += h.content_length;
                pos += h.content_length + h.padding_length;
                begun.records++;
                if (h.content_length == 0)
                        break;
        }
        cr_assert_eq(pos, begun.len);
}

/* The value of name among the parameters (NULL when absent; no name twice). */
static const char *param(const char *name, size_t *ret_len) {
        static char value[HTTP_FCGI_BEGIN_MAX];
        const char *found = NULL;
        FcgiPair pr;

        for (size_t pos = 0; pos < begun.params_len;) {
                int64_t n = fcgi_pair_parse(begun.params + pos, begun.params_len - pos, &pr);
                cr_assert_gt(n, 0, "a broken pair at %zu", pos);
                if (pr.name_len == strlen(name) && memcmp(pr.name, name, pr.name_len) == 0) {
                        cr_assert_null(found, "%s given twice", name);
                        memcpy(value, pr.value, pr.value_len);
                        value[pr.value_len] = 0;
                        if (ret_len)
                                *ret_len = pr.value_len;
                        found = value;
                }
                pos += (size_t) n;
        }
        return found;
}

static void assert_param(const char *name, const char *want) {
        const char *v = param(name, NULL);
        cr_assert_not_null(v, "%s is missing", name);
        cr_assert_str_eq(v, want, "%s", name);
}

static const HttpFcgiParamsContext plain = {
        .remote_addr = "192.0.2.7",
        .remote_port = 50123,
        .server_addr = "198.51.100.1",
        .server_port = 8080,
        .keep_conn = true,
};

TestSuite(fastcgi_params, .init = setup, .fini = teardown);

Test(fastcgi_params, what_php_fpm_reads) {
        char want[PATH_MAX];

        begin("GET /sub/page.php/a/b?x=1&y=%20 HTTP/1.1\r\nHost: www.example:8080\r\nX-Foo: bar\r\n"
              "Proxy: http://evil/\r\n\r\n",
              "/sub/page.php/a/b", &plain);
        cr_assert(begun.keep_conn);
        snprintf(want, sizeof(want), "%s/sub/page.php", root);
        assert_param("SCRIPT_FILENAME", want);
        assert_param("SCRIPT_NAME", "/sub/page.php");
        assert_param("PATH_INFO", "/a/b");
        snprintf(want, sizeof(want), "%s/a/b", root);
        assert_param("PATH_TRANSLATED", want);
        assert_param("DOCUMENT_ROOT", root);
        assert_param("REQUEST_URI", "/sub/page.php/a/b?x=1&y=%20");
        assert_param("QUERY_STRING", "x=1&y=%20");
        assert_param("REQUEST_METHOD", "GET");
        assert_param("SERVER_NAME", "www.example");
        assert_param("SERVER_PORT", "8080");
        assert_param("REMOTE_ADDR", "192.0.2.7");
        assert_param("REMOTE_PORT", "50123");
        assert_param("GATEWAY_INTERFACE", "CGI/1.1");
        assert_param("SERVER_PROTOCOL", "HTTP/1.1");
        assert_param("HTTP_X_FOO", "bar");
        assert_param("HTTP_HOST", "www.example:8080");
        cr_assert_null(param("HTTP_PROXY", NULL), "httpoxy");
        cr_assert_null(param("PATH", NULL), "a program's PATH is not a parameter");
        cr_assert_null(param("CONTENT_LENGTH", NULL));
        cr_assert_null(param("HTTPS", NULL));
}

Test(fastcgi_params, path_info_is_absent_when_empty) {
        begin("GET /index.php HTTP/1.1\r\nHost: a\r\n\r\n", "/index.php", &plain);
        assert_param("SCRIPT_NAME", "/index.php");
        cr_assert_null(param("PATH_INFO", NULL));
        cr_assert_null(param("PATH_TRANSLATED", NULL));
        assert_param("QUERY_STRING", "");
}

Test(fastcgi_params, a_body_has_its_length_and_type) {
        HttpFcgiParamsContext ctx = plain;
        ctx.has_body = true;
        ctx.content_length = 1234;
        ctx.keep_conn = false;
        begin("POST /index.php HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
              "Content-Type: application/x-www-form-urlencoded\r\n\r\n",
              "/index.php", &ctx);
        cr_assert_not(begun.keep_conn);
        /* A chunked body was spooled: its length is what was counted, not a header's. */
        assert_param("CONTENT_LENGTH", "1234");
        assert_param("CONTENT_TYPE", "application/x-www-form-urlencoded");
        cr_assert_null(param("HTTP_CONTENT_TYPE", NULL));
}

Test(fastcgi_params, a_value_longer_than_a_record_spans_records) {
        size_t n = 70000, len = 0;
        char *req = malloc(n + 200), *cookie = malloc(n + 1);
        memset(cookie, 'c', n);
        cookie[n] = 0;
        snprintf(req, n + 200, "GET /index.php HTTP/1.1\r\nHost: a\r\nCookie: %s\r\n\r\n", cookie);
        begin(req, "/index.php", &plain);
        cr_assert_geq(begun.records, 3, "%u records", begun.records);
        const char *v = param("HTTP_COOKIE", &len);
        cr_assert_not_null(v);
        cr_assert_eq(len, n);
        cr_assert(memcmp(v, cookie, n) == 0);
        free(req);
        free(cookie);
}

Test(fastcgi_params, a_buffer_too_small_is_refused) {
        const char *req = "GET /index.php HTTP/1.1\r\nHost: a\r\n\r\n";
        HttpParser p;
        uint8_t small[64];
        size_t len;

        http_parser_init(&p, &head, headers, &limits);
        cr_assert_eq(http_parser_feed(&p, req, strlen(req)), HTTP_PARSE_DONE);
        HttpRequest q = request_for("/index.php");
        q.head = &head;
        q.buf = req;
        cr_assert_eq(http_fastcgi_script_find(&q, &script), 0);
        cr_assert_eq(http_fastcgi_request_begin(&q, &script, &plain, small, sizeof(small), &len), -ENOBUFS);
        cr_assert_eq(http_fastcgi_request_begin(&q, &script, &plain, small, 8, &len), -ENOBUFS);
}

/* ---- the rows --------------------------------------------------------------------------------- */

Test(fastcgi_config, addhandler_takes_both_handlers_and_moves_an_extension) {
        HttpCgiHandlers h = {};
        char *err = NULL;

        cr_assert_eq(http_cgi_handlers_add(&h, "cgi-script .cgi .php", false, &err), 0);
        cr_assert_eq(http_cgi_handlers_add(&h, "\"proxy:unix:/run/php/a.sock|fcgi://localhost\" .php .PHTML", false, &err),
                     0, "%s", err ? err : "");
        /* .php moved from cgi-script to the FastCGI line. */
        cr_assert_str_eq(h.extensions[0], ".cgi");
        cr_assert_null(h.extensions[1]);
        cr_assert_eq(h.n_fcgi, 2);
        cr_assert_str_eq(h.fcgi[0].extension, ".php");
        cr_assert_str_eq(h.fcgi[0].target.url, "unix:/run/php/a.sock|fcgi://localhost");
        cr_assert(h.fcgi[0].target.unix_socket);
        cr_assert_eq(h.fcgi[0].target.protocol, HTTP_UPSTREAM_FCGI);

        HttpSiteConfig c = { .add_handler = h };
        cr_assert_not_null(http_fcgi_extension_match(&c, "/x/INDEX.PHP", 12));
        cr_assert_null(http_fcgi_extension_match(&c, "/x/index.cgi", 12));
        cr_assert(http_fcgi_extension_may_match(&c, "/a.phtml/b", 10));
        cr_assert_not(http_fcgi_extension_may_match(&c, "/a.phpx/b", 9));
        cr_assert_eq(http_fastcgi_families(&c), 1u << AF_UNIX);

        /* A later cgi-script line takes it back. */
        cr_assert_eq(http_cgi_handlers_add(&h, "cgi-script .php", false, &err), 0);
        cr_assert_eq(h.n_fcgi, 1);
        cr_assert_str_eq(h.fcgi[0].extension, ".PHTML");
        http_cgi_handlers_done(&h);
        cr_assert_eq(h.n_fcgi, 0);
        cr_assert_null(h.fcgi);
}

Test(fastcgi_config, addhandler_refusals) {
        HttpCgiHandlers h = {};
        char *err = NULL;

        cr_assert_eq(http_cgi_handlers_add(&h, "php-script .php", false, &err), -EINVAL);
        cr_assert_not_null(strstr(err, "unknown handler \"php-script\""), "%s", err);
        free(err);
        cr_assert_eq(http_cgi_handlers_add(&h, "proxy:fcgi://127.0.0.1:9000", false, &err), -EINVAL);
        cr_assert_not_null(strstr(err, "needs at least one extension"), "%s", err);
        free(err);
        cr_assert_eq(http_cgi_handlers_add(&h, "proxy:http://127.0.0.1:8080/ .php", false, &err), -EINVAL);
        cr_assert_not_null(err);
        free(err);
        cr_assert_null(h.extensions);
        cr_assert_eq(h.n_fcgi, 0);
}

Test(fastcgi_config, sethandler_none_and_errors) {
        HttpFcgiHandler h = {};
        char *err = NULL, *s;

        cr_assert_eq(http_fcgi_parse_set_handler(NULL, &h, "proxy:fcgi://127.0.0.1:9000", NULL, &err), 0);
        cr_assert(h.set);
        cr_assert_not(h.target.unix_socket);
        s = http_fcgi_format_set_handler(NULL, &h);
        cr_assert_str_eq(s, "proxy:fcgi://127.0.0.1:9000");
        free(s);
        HttpSiteConfig c = { .set_handler = h };
        cr_assert_eq(http_fastcgi_families(&c), 1u << AF_INET);

        HttpFcgiHandler copy = {};
        cr_assert_eq(http_fcgi_handler_copy(&copy, &h), 0);
        cr_assert(copy.set);
        cr_assert_str_eq(copy.target.url, h.target.url);
        cr_assert_neq(copy.target.url, h.target.url);
        http_fcgi_handler_done(&copy);

        cr_assert_eq(http_fcgi_parse_set_handler(NULL, &h, " none ", NULL, &err), 0);
        cr_assert_not(h.set);
        s = http_fcgi_format_set_handler(NULL, &h);
        cr_assert_str_eq(s, "none");
        free(s);
        cr_assert_eq(http_fcgi_parse_set_handler(NULL, &h, "server-status", NULL, &err), -EINVAL);
        cr_assert_not_null(strstr(err, "unknown handler"), "%s", err);
        free(err);
        cr_assert_eq(http_fcgi_parse_set_handler(NULL, &h, "proxy:http://127.0.0.1/", NULL, &err), -EINVAL);
        free(err);
        cr_assert_not(h.set);
}
