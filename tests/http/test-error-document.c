/* SPDX-License-Identifier: MIT */
/* Tests of ErrorDocument (error-document.h, respond.h): parsing and refusals, a narrower section
 * replacing a wider one's document status by status, and the answers through a connection: a local
 * file (status kept, its type, HEAD without a body, a missing or escaping file giving the plain
 * error), a redirect to a URL, a text, and the error's own fields (Allow) kept. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docroot.h"
#include "http/conn.h"
#include "http/error-document.h"
#include "http/mime.h"
#include "http/server.h"
#include "http/site-config.h"
#include "memory-io.h"

static const ConfItem *row(void) {
        const ConfItem *i = conf_table_find(http_site_directives, "ErrorDocument");
        cr_assert_not_null(i);
        return i;
}

static int add(HttpSiteConfig *cfg, const char *value, bool first, char **ret_error) {
        ConfApplyContext ctx = { .file = "site.conf", .line = 12, .replace_list = first };
        *ret_error = NULL;
        return conf_item_apply_at(row(), cfg, value, &ctx, ret_error);
}

static void add_ok(HttpSiteConfig *cfg, const char *value, bool first) {
        char *error;
        cr_assert_eq(add(cfg, value, first, &error), 0, "%s: %s", value, error ? error : "?");
}

Test(parse, kinds) {
        HttpErrorDocuments d = {};
        char *error = NULL;
        const HttpErrorDocument *e;

        cr_assert_eq(http_error_document_add(&d, "404 /errors/./404.html", true, "a.conf", 3, &error), 0);
        cr_assert_eq(http_error_document_add(&d, "503 https://status.example.org/down", false, NULL, 0, &error), 0);
        cr_assert_eq(http_error_document_add(&d, "500 \"Sorry; we broke it\"", false, NULL, 0, &error), 0);
        cr_assert_eq(http_error_document_add(&d, "502 Bad gateway today", false, NULL, 0, &error), 0);
        cr_assert_eq(http_error_document_add(&d, "401 /login.html", false, NULL, 0, &error), 0);
        e = http_error_document_find(&d, 404);
        cr_assert_eq(e->kind, HTTP_ERROR_DOCUMENT_LOCAL);
        cr_assert_str_eq(e->value, "/errors/404.html", "normalised");
        cr_assert_str_eq(e->file, "a.conf");
        cr_assert_eq(e->line, 3);
        e = http_error_document_find(&d, 503);
        cr_assert_eq(e->kind, HTTP_ERROR_DOCUMENT_REDIRECT);
        cr_assert_str_eq(e->value, "https://status.example.org/down");
        e = http_error_document_find(&d, 500);
        cr_assert_eq(e->kind, HTTP_ERROR_DOCUMENT_TEXT);
        cr_assert_str_eq(e->value, "Sorry; we broke it");
        cr_assert_eq(http_error_document_find(&d, 502)->kind, HTTP_ERROR_DOCUMENT_TEXT);
        cr_assert_null(http_error_document_find(&d, 403));
        /* a later line for a status replaces it; default brings the plain page back */
        cr_assert_eq(http_error_document_add(&d, "404 default", false, NULL, 0, &error), 0);
        cr_assert_null(http_error_document_find(&d, 404));
        cr_assert_eq(d.n, 5);
        http_error_documents_done(&d);
}

Test(parse, refusals) {
        static const struct {
                const char *value, *error;
        } cases[] = {
                { "", "expected a status" },
                { "404", "is missing" },
                { "200 /ok.html", "error status (400 to 599)" },
                { "301 /moved.html", "error status" },
                { "600 /x.html", "error status" },
                { "4o4 /x.html", "error status" },
                { "401 https://login.example.org/", "401 cannot redirect" },
                { "404 /../../etc/passwd", "is not the path of a file" },
                { "404 /errors/", "is not the path of a file" },
                { "404 /e.html?x=1", "without spaces or a query" },
                { "404 /a b.html", "without spaces" },
                { "404 http://x.example/a b", "no spaces" },
                { "404 \"bad\x01text\"", "control character" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                HttpErrorDocuments d = {};
                char *error = NULL;

                cr_assert_eq(http_error_document_add(&d, cases[i].value, true, NULL, 0, &error), -EINVAL, "%s",
                             cases[i].value);
                cr_assert(error && strstr(error, cases[i].error), "%s: %s", cases[i].value, error);
                cr_assert_eq(d.n, 0);
                free(error);
        }
}

Test(sections, a_narrower_section_replaces_status_by_status) {
        HttpSiteConfig server = {}, vhost = {}, path = {};

        cr_assert_eq(conf_table_defaults(http_site_directives, &server), 0);
        cr_assert_eq(conf_table_defaults(http_site_directives, &vhost), 0);
        cr_assert_eq(conf_table_defaults(http_site_directives, &path), 0);
        add_ok(&server, "404 /server-404.html", true);
        add_ok(&server, "500 \"server 500\"", false);
        add_ok(&vhost, "404 /vhost-404.html", true);
        add_ok(&path, "500 default", true);
        add_ok(&path, "403 /path-403.html", false);
        cr_assert_eq(conf_item_merge_inherited(row(), &vhost, &server), 0);
        cr_assert_eq(conf_item_merge_inherited(row(), &path, &vhost), 0);

        cr_assert_str_eq(http_error_document_find(&vhost.error_documents, 404)->value, "/vhost-404.html");
        cr_assert_str_eq(http_error_document_find(&vhost.error_documents, 500)->value, "server 500");
        cr_assert_str_eq(http_error_document_find(&path.error_documents, 404)->value, "/vhost-404.html");
        cr_assert_null(http_error_document_find(&path.error_documents, 500));
        cr_assert_str_eq(http_error_document_find(&path.error_documents, 403)->value, "/path-403.html");
        cr_assert_str_eq(http_error_document_find(&server.error_documents, 404)->value, "/server-404.html");
        char *s = conf_item_format(row(), &path);
        cr_assert_str_eq(s, "404 /vhost-404.html; 500 default; 403 /path-403.html");
        free(s);
        conf_table_free(http_site_directives, &server);
        conf_table_free(http_site_directives, &vhost);
        conf_table_free(http_site_directives, &path);
}

/* ---- through a connection ----------------------------------------------------------------- */

static char *root;
static HttpSiteConfig cfg;
static HttpServer *server;

static void setup(void) {
        root = docroot_new("errordoc");
        docroot_add_text(root, "a.txt", "alpha\n");
        docroot_add_dir(root, "errors", 0755);
        docroot_add_text(root, "errors/404.html", "<h1>our own 404</h1>\n");
        docroot_add_dir(root, "dir", 0755);
        docroot_add_symlink(root, "errors/outside.html", "/etc/hostname");
        cr_assert_eq(conf_table_defaults(http_site_directives, &cfg), 0);
        cfg.document_root = strdup(root);
}

static void start(void) {
        const char *err = NULL;
        cr_assert_eq(http_server_new(NULL, &server), 0);
        cr_assert_not_null(server->mime);
        cr_assert_eq(mime_table_add(server->mime, "text/html", "html"), 0);
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

Test(conn, a_local_document_keeps_the_status) {
        add_ok(&cfg, "404 /errors/404.html", true);
        start();

        char *out = exchange("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert(strstr(out, "HTTP/1.1 404 Not Found\r\n") == out, "%s", out);
        cr_assert(strstr(out, "\r\nContent-Type: text/html\r\n"), "%s", out);
        cr_assert_eq(strstr(out, "Content-Type"), strstr(out, "\r\nContent-Type: text/html\r\n") + 2);
        cr_assert_null(strstr(strstr(out, "Content-Type") + 1, "Content-Type"), "one Content-Type: %s", out);
        cr_assert(strstr(out, "\r\nContent-Length: 21\r\n"), "%s", out);
        cr_assert(strstr(out, "\r\n\r\n<h1>our own 404</h1>\n"), "%s", out);
        cr_assert_null(strstr(out, "charset=iso-8859-1"), "one Content-Type only: %s", out);
        free(out);

        out = exchange("HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert(strstr(out, "HTTP/1.1 404 Not Found\r\n") == out, "%s", out);
        cr_assert(strstr(out, "\r\nContent-Length: 21\r\n"), "%s", out);
        cr_assert_eq(strlen(strstr(out, "\r\n\r\n")), 4, "no body for HEAD: %s", out);
        free(out);

        /* other errors keep the plain page */
        out = exchange("GET /dir/ HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert(strstr(out, "HTTP/1.1 403 Forbidden\r\n") == out, "%s", out);
        cr_assert(strstr(out, "<title>403 Forbidden</title>"), "%s", out);
        free(out);
}

Test(conn, a_document_that_cannot_be_served_gives_the_plain_error) {
        add_ok(&cfg, "404 /errors/gone.html", true);
        add_ok(&cfg, "403 /errors/outside.html", false);
        start();

        char *out = exchange("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert(strstr(out, "HTTP/1.1 404 Not Found\r\n") == out, "%s", out);
        cr_assert(strstr(out, "<title>404 Not Found</title>"), "%s", out);
        free(out);
        out = exchange("GET /dir/ HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert(strstr(out, "HTTP/1.1 403 Forbidden\r\n") == out, "%s", out);
        cr_assert(strstr(out, "<title>403 Forbidden</title>"), "a symlink out of the root is not followed: %s", out);
        free(out);
}

Test(conn, a_url_redirects_and_a_text_is_the_body) {
        add_ok(&cfg, "403 https://example.org/denied", true);
        add_ok(&cfg, "405 \"<p>not like that</p>\"", false);
        start();

        char *out = exchange("GET /dir/ HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert(strstr(out, "HTTP/1.1 302 Found\r\n") == out, "%s", out);
        cr_assert(strstr(out, "\r\nLocation: https://example.org/denied\r\n"), "%s", out);
        free(out);

        out = exchange("DELETE /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert(strstr(out, "HTTP/1.1 405 Method Not Allowed\r\n") == out, "%s", out);
        cr_assert(strstr(out, "\r\nAllow: "), "the error's own fields stay: %s", out);
        cr_assert(strstr(out, "\r\nContent-Type: text/html; charset=iso-8859-1\r\n"), "%s", out);
        cr_assert(strstr(out, "\r\nContent-Length: 20\r\n\r\n<p>not like that</p>"), "%s", out);
        free(out);
}
