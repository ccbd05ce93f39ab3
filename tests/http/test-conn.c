/* SPDX-License-Identifier: MIT */
/* The connection state machine over memory: responses, framing, keep-alive, pipelining, bodies,
 * errors and timeouts, with input cut at every size. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/conn.h"
#include "docroot.h"
#include "memory-io.h"
#include "http/server.h"
#include "http/site-config.h"

static char *root;
static HttpSiteConfig cfg;
static HttpServer *server;

static void write_file(const char *name, const char *content) {
        docroot_add_text(root, name, content);
}

static void setup(void) {
        const char *err = NULL;

        root = docroot_new("conn");
        write_file("index.html", "<h1>hi</h1>\n");
        write_file("a.txt", "alpha\n");
        docroot_add_dir(root, "dir", 0755);

        cr_assert_eq(conf_table_defaults(http_site_directives, &cfg), 0);
        cfg.document_root = strdup(root);
        cr_assert_eq(http_server_new(NULL, &server), 0);
        cr_assert_eq(http_server_add_site(server, "main", &cfg, NULL, &err), 0);
}

static void teardown(void) {
        http_server_free(server);
        conf_table_free(http_site_directives, &cfg);
        docroot_remove(root);
        root = NULL;
}

TestSuite(conn, .init = setup, .fini = teardown);

/* Feed input (in chunks of `chunk` bytes), return everything written; *ret_done tells whether the
 * connection ended. */
static char *exchange(const char *input, size_t chunk, bool eof, bool *ret_done) {
        MemoryIo m;
        memory_io_init(&m, input, strlen(input), chunk);
        m.eof = eof;
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        cr_assert_not_null(c);
        HttpConnWant w = memory_io_run(c, &m);
        if (ret_done)
                *ret_done = w == HTTP_CONN_DONE;
        http_conn_free(c);
        char *out = strndup(m.out ? m.out : "", m.out_len);
        memory_io_done(&m);
        return out;
}

static int count(const char *hay, const char *needle) {
        int n = 0;
        for (const char *p = hay; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

Test(conn, get_index) {
        char *out = exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, false, NULL);
        cr_assert(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", out);
        cr_assert(strstr(out, "\r\nContent-Length: 12\r\n"));
        cr_assert(strstr(out, "\r\nServer: mpmd\r\n"));
        cr_assert(strstr(out, "\r\nDate: "));
        cr_assert(strstr(out, "\r\n\r\n<h1>hi</h1>\n"));
        cr_assert_null(strstr(out, "Connection: close"));
        free(out);
}

Test(conn, every_chunk_size_gives_the_same_bytes) {
        const char *req = "GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n"
                          "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
        char *whole = exchange(req, 0, false, NULL);
        for (size_t chunk = 1; chunk < strlen(req); chunk++) {
                char *out = exchange(req, chunk, false, NULL);
                /* Date may tick between runs; compare everything else. */
                cr_assert_eq(strlen(out), strlen(whole), "chunk %zu", chunk);
                cr_assert_eq(count(out, "HTTP/1.1 200 OK"), 2, "chunk %zu", chunk);
                free(out);
        }
        free(whole);
}

Test(conn, pipelined_requests_answered_in_order) {
        char *out = exchange("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                             0, false, NULL);
        char *a = strstr(out, "alpha\n"), *b = strstr(out, "404 Not Found"), *c = strstr(out, "<h1>hi</h1>");
        cr_assert(a && b && c && a < b && b < c, "%s", out);
        free(out);
}

Test(conn, head_sends_no_body) {
        char *out = exchange("HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", 0, false, NULL);
        cr_assert(strstr(out, "Content-Length: 6\r\n"));
        cr_assert(strcmp(out + strlen(out) - 4, "\r\n\r\n") == 0, "%s", out);
        free(out);
}

Test(conn, body_of_refused_post_is_skipped_for_the_next_request) {
        char *out = exchange("POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                             "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
                             0, false, NULL);
        cr_assert(strstr(out, "HTTP/1.1 405 Method Not Allowed\r\n"), "%s", out);
        cr_assert(strstr(out, "Allow: GET, HEAD, OPTIONS\r\n"));
        cr_assert(strstr(out, "alpha\n"), "%s", out);
        free(out);
}

Test(conn, chunked_body_is_skipped_too) {
        char *out = exchange("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5;ext=1\r\nhello\r\n0\r\nTrailer: t\r\n\r\n"
                             "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
                             0, false, NULL);
        cr_assert(strstr(out, " 405 "), "%s", out);
        cr_assert(strstr(out, "alpha\n"), "%s", out);
        free(out);
}

Test(conn, bad_request_is_400_and_closes) {
        bool done;
        char *out = exchange("GET / HTTP/1.1\nHost: x\n\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", 0, true, &done);
        cr_assert(strncmp(out, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "%s", out);
        cr_assert(strstr(out, "Connection: close\r\n"));
        cr_assert_null(strstr(out, "alpha"), "nothing after a bad request may be served");
        cr_assert(done);
        free(out);
}

Test(conn, statuses) {
        struct {
                const char *req;
                const char *status;
        } cases[] = {
                { "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "404 Not Found" },
                { "GET /dir HTTP/1.1\r\nHost: x\r\n\r\n", "301 Moved Permanently" },
                { "GET /dir/ HTTP/1.1\r\nHost: x\r\n\r\n", "403 Forbidden" },
                { "BREW / HTTP/1.1\r\nHost: x\r\n\r\n", "501 Not Implemented" },
                { "TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", "405 Method Not Allowed" },
                { "CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", "405 Method Not Allowed" },
                { "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", "200 OK" },
                { "GET / HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n", "417 Expectation Failed" },
                { "GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n", "400 Bad Request" },
                { "GET /../a.txt HTTP/1.1\r\nHost: x\r\n\r\n", "400 Bad Request" },
                { "GET / HTTP/1.1\r\n\r\n", "400 Bad Request" },
                { "GET http://x/a.txt HTTP/1.1\r\nHost: y\r\n\r\n", "200 OK" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *out = exchange(cases[i].req, 0, false, NULL);
                cr_expect(strncmp(out + 9, cases[i].status, strlen(cases[i].status)) == 0, "%s → %.40s",
                          cases[i].req, out);
                free(out);
        }
}

Test(conn, redirect_keeps_query) {
        char *out = exchange("GET /dir?a=1 HTTP/1.1\r\nHost: x\r\n\r\n", 0, false, NULL);
        cr_assert(strstr(out, "\r\nLocation: /dir/?a=1\r\n"), "%s", out);
        free(out);
}

Test(conn, http10_closes_unless_asked) {
        bool done;
        char *out = exchange("GET / HTTP/1.0\r\n\r\n", 0, false, &done);
        cr_assert(strstr(out, "Connection: close\r\n"));
        free(out);
        out = exchange("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, false, &done);
        cr_assert(strstr(out, "Connection: keep-alive\r\n"), "%s", out);
        cr_assert(!done);
        free(out);
}

Test(conn, max_keep_alive_requests) {
        cfg.max_keep_alive_requests = 2;
        char *out = exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                             0, false, NULL);
        cr_assert_eq(count(out, "HTTP/1.1 200"), 2, "%s", out);
        cr_assert_eq(count(out, "Connection: close"), 1);
        free(out);
}

Test(conn, drain_closes_after_the_next_response) {
        MemoryIo m;
        const char *req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        memory_io_init(&m, req, strlen(req), 0);
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        http_conn_drain(c, 1000, USEC_PER_SEC);
        memory_io_run(c, &m);
        cr_assert(strstr(m.out, "Connection: close\r\n"));
        http_conn_free(c);
        memory_io_done(&m);
}

Test(conn, idle_keep_alive_deadline_and_timeout) {
        MemoryIo m;
        const char *req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        memory_io_init(&m, req, strlen(req), 0);
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_READ);
        cr_assert_eq(http_conn_phase(c), HTTP_PHASE_IDLE);
        cr_assert_eq(http_conn_deadline(c), 1000 + cfg.keep_alive_timeout);
        size_t before = m.out_len;
        cr_assert_eq(http_conn_timeout(c, http_conn_deadline(c)), HTTP_CONN_DONE);
        cr_assert_eq(m.out_len, before, "an idle connection closes silently");
        http_conn_free(c);
        memory_io_done(&m);
}

Test(conn, partial_head_times_out_with_408) {
        MemoryIo m;
        const char *req = "GET / HTTP/1.1\r\nHost:";
        memory_io_init(&m, req, strlen(req), 0);
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_READ);
        usec_t d = http_conn_deadline(c);
        cr_assert(d > 1000 && d <= 1000 + 40 * USEC_PER_SEC);
        http_conn_timeout(c, d);
        cr_assert(strstr(m.out, "408 Request Timeout"), "%s", m.out);
        http_conn_free(c);
        memory_io_done(&m);
}

Test(conn, slow_writer_gets_every_byte) {
        MemoryIo m;
        const char *req = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
        memory_io_init(&m, req, strlen(req), 0);
        m.write_limit = 3; /* the engine must resume partial writes */
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        memory_io_run(c, &m);
        cr_assert(m.out_len > 6 && memcmp(m.out + m.out_len - 6, "alpha\n", 6) == 0);
        http_conn_free(c);
        memory_io_done(&m);
}

Test(conn, huge_header_gets_431_with_bounded_buffer) {
        size_t n = 100 * 1024;
        char *req = malloc(n + 64);
        strcpy(req, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
        size_t l = strlen(req);
        memset(req + l, 'a', n);
        strcpy(req + l + n, "\r\n\r\n");
        char *out = exchange(req, 0, false, NULL);
        cr_assert(strncmp(out, "HTTP/1.1 431 ", 13) == 0, "%.60s", out);
        free(out);
        free(req);
}

Test(conn, rejected_head_request_has_no_body) {
        bool done;
        char *out = exchange("HEAD / HTTP/1.1\r\n\r\n", 0, false, &done); /* no Host: 400 */
        cr_assert(strncmp(out, "HTTP/1.1 400 ", 13) == 0, "%s", out);
        cr_assert(strcmp(out + strlen(out) - 4, "\r\n\r\n") == 0, "a HEAD answer ends with its head: %s", out);
        free(out);
}

/* ---- RequestReadTimeout ------------------------------------------------------------------------ */

Test(conn, read_timeout_parses_apache_syntax) {
        HttpReadTimeout rt;
        const char *err = NULL;

        cr_assert_eq(http_read_timeout_parse(NULL, &rt, &err), 0);
        cr_assert_eq(rt.header.timeout, 20 * USEC_PER_SEC);
        cr_assert_eq(rt.header.max, 40 * USEC_PER_SEC);
        cr_assert_eq(rt.header.min_rate, 500);
        cr_assert_eq(rt.body.timeout, 20 * USEC_PER_SEC);
        cr_assert_eq(rt.body.max, 0);
        cr_assert_eq(rt.body.min_rate, 500);

        cr_assert_eq(http_read_timeout_parse("body=5 header=0", &rt, &err), 0);
        cr_assert_eq(rt.body.timeout, 5 * USEC_PER_SEC);
        cr_assert_eq(rt.body.min_rate, 0);
        cr_assert_eq(rt.header.timeout, 0, "0 turns the stage off");

        cr_assert_eq(http_read_timeout_parse("header=10-30,minrate=100", &rt, &err), 0);
        cr_assert_eq(rt.header.max, 30 * USEC_PER_SEC);
        cr_assert_eq(rt.body.timeout, 20 * USEC_PER_SEC, "a stage not named keeps its default");

        static const char *const bad[] = {
                "header=", "header=x", "header=10-5,MinRate=1", "header=10-20", "body=10,MinRate=0",
                "body=10,Rate=5", "head=10", "handshake=5", "body=-5", "body=10 junk", "body=99999999",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                err = NULL;
                cr_assert_eq(http_read_timeout_parse(bad[i], &rt, &err), -EINVAL, "%s", bad[i]);
                cr_assert(err && strstr(err, "RequestReadTimeout"), "%s: %s", bad[i], err ? err : "(none)");
        }
}

Test(conn, header_deadline_follows_request_read_timeout) {
        MemoryIo m;
        const char *req = "GET / HTTP/1.1\r\nHost:";
        memory_io_init(&m, req, strlen(req), 0);
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        cr_assert_eq(http_conn_deadline(c), 1000 + 20 * USEC_PER_SEC, "header=20 from the connection's start");
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_READ);
        http_conn_free(c);
        memory_io_done(&m);

        /* 1100 bytes at MinRate=500: two more seconds. */
        char big[1200];
        int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Pad: %01080d", 0);
        memory_io_init(&m, big, (size_t) n, 0);
        c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_READ);
        cr_assert_eq(http_conn_deadline(c), 1000 + 22 * USEC_PER_SEC);
        http_conn_free(c);
        memory_io_done(&m);
}

/* A new server whose main site has this RequestReadTimeout. */
static HttpServer *server_with_read_timeout(const char *value, HttpSiteConfig *c) {
        HttpServer *s;
        const char *err = NULL;

        cr_assert_eq(conf_table_defaults(http_site_directives, c), 0);
        c->document_root = strdup(root);
        cr_assert_eq(conf_item_apply(conf_table_find(http_site_directives, "RequestReadTimeout"), c, value, true,
                                     NULL),
                     0);
        cr_assert_eq(http_server_new(NULL, &s), 0);
        cr_assert_eq(http_server_add_site(s, "main", c, NULL, &err), 0, "%s", err);
        return s;
}

Test(conn, header_range_is_capped_at_its_maximum) {
        HttpSiteConfig c2 = {};
        HttpServer *s = server_with_read_timeout("header=2-3,MinRate=10", &c2);
        char big[200];
        int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Pad: %0150d", 0);
        MemoryIo m;

        memory_io_init(&m, big, (size_t) n, 0);
        HttpConn *c = http_conn_new(s, &memory_io, &m, NULL, 1000);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_READ);
        cr_assert_eq(http_conn_deadline(c), 1000 + 3 * USEC_PER_SEC, "15 more seconds earned, 1 allowed");
        http_conn_free(c);
        memory_io_done(&m);
        http_server_free(s);
        conf_table_free(http_site_directives, &c2);
}

/* Parsed once, by its row, when the configuration is read: a bad value never reaches a site. */
Test(conn, bad_request_read_timeout_is_refused_by_its_row) {
        HttpSiteConfig c2 = {};
        char *err = NULL;

        cr_assert_eq(conf_table_defaults(http_site_directives, &c2), 0);
        cr_assert_eq(conf_item_apply(conf_table_find(http_site_directives, "RequestReadTimeout"), &c2, "body=abc",
                                     true, &err),
                     -EINVAL);
        cr_assert(err && strstr(err, "a stage's timeout must be seconds"), "%s", err ? err : "(none)");
        cr_assert_eq(c2.read_timeout.body.timeout, 20 * USEC_PER_SEC, "the default stays");
        free(err);
        conf_table_free(http_site_directives, &c2);
}

Test(conn, slow_body_gets_408_and_close) {
        HttpSiteConfig c2 = {};
        HttpServer *s = server_with_read_timeout("body=5,MinRate=100", &c2);
        const char *req = "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
                          "0123456789012345678901234567890123456789012345678901234567890123456789"
                          "0123456789012345678901234567890123456789012345678901234567890123456789"
                          "0123456789012345678901234567890123456789012345678901234567890123456789"; /* 210 */
        MemoryIo m;

        memory_io_init(&m, req, strlen(req), 0);
        HttpConn *c = http_conn_new(s, &memory_io, &m, NULL, 1000);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_READ);
        cr_assert_eq(m.out_len, 0, "nothing is answered before the body is in");
        /* 210 bytes at MinRate=100 earn two seconds. */
        cr_assert_eq(http_conn_deadline(c), 1000 + 7 * USEC_PER_SEC);
        cr_assert_eq(http_conn_timeout(c, http_conn_deadline(c)), HTTP_CONN_WANT_READ, "lingers after the 408");
        cr_assert(m.out && strncmp(m.out, "HTTP/1.1 408 ", 13) == 0, "%.*s", (int) m.out_len, m.out);
        cr_assert(memmem(m.out, m.out_len, "Connection: close\r\n", 19));
        cr_assert(m.shut, "the write side is shut for a lingering close");
        http_conn_free(c);
        memory_io_done(&m);
        http_server_free(s);
        conf_table_free(http_site_directives, &c2);
}

Test(conn, body_is_read_before_the_answer) {
        MemoryIo m;
        const char *req = "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234";
        memory_io_init(&m, req, strlen(req), 0);
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_READ);
        cr_assert_eq(m.out_len, 0);
        cr_assert_eq(http_conn_deadline(c), 1000 + 20 * USEC_PER_SEC, "body=20 by default");
        const char *rest = "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789";
        m.in = rest;
        m.in_len = strlen(rest);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_READ);
        cr_assert(strncmp(m.out, "HTTP/1.1 405 ", 13) == 0, "%.*s", (int) m.out_len, m.out);
        cr_assert_eq(http_conn_phase(c), HTTP_PHASE_IDLE, "the body is gone, the connection kept");
        http_conn_free(c);
        memory_io_done(&m);
}

/* ---- 421 for a site served elsewhere ------------------------------------------------------------ */

static HttpServer *server_with_vhost(HttpSiteConfig *c1, HttpSiteConfig *c2) {
        HttpServer *s;
        const char *err = NULL;

        cr_assert_eq(conf_table_defaults(http_site_directives, c1), 0);
        c1->document_root = strdup(root);
        cr_assert_eq(conf_table_defaults(http_site_directives, c2), 0);
        c2->document_root = strdup(root);
        c2->server_name = strdup("other.example");
        cr_assert_eq(http_server_new(NULL, &s), 0);
        cr_assert_eq(http_server_add_site(s, "main", c1, NULL, &err), 0);
        cr_assert_eq(http_server_add_site(s, "other", c2, NULL, &err), 0);
        return s;
}

static char *exchange_on(HttpServer *s, const char *input, bool *ret_done) {
        MemoryIo m;
        memory_io_init(&m, input, strlen(input), 0);
        HttpConn *c = http_conn_new(s, &memory_io, &m, NULL, 1000);
        cr_assert_not_null(c);
        HttpConnWant w = memory_io_run(c, &m);
        *ret_done = w == HTTP_CONN_DONE;
        http_conn_free(c);
        char *out = strndup(m.out ? m.out : "", m.out_len);
        memory_io_done(&m);
        return out;
}

Test(conn, foreign_site_gets_421_and_close) {
        HttpSiteConfig c1 = {}, c2 = {};
        HttpServer *s = server_with_vhost(&c1, &c2);
        bool done;

        http_server_set_foreign(s, 1, true);
        http_server_set_foreign(s, 99, true); /* out of range: ignored */
        /* First request on the connection. */
        char *out = exchange_on(s, "GET /a.txt HTTP/1.1\r\nHost: other.example\r\n\r\n", &done);
        cr_assert(strncmp(out, "HTTP/1.1 421 Misdirected Request\r\n", 34) == 0, "%s", out);
        cr_assert(strstr(out, "Connection: close\r\n"));
        cr_assert(strstr(out, "<h1>Misdirected Request</h1>"), "an HTML body like other errors");
        cr_assert(done, "and the connection is closed");
        free(out);

        /* Second request, kept alive after one for this process's own site. */
        out = exchange_on(s, "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
                             "GET /a.txt HTTP/1.1\r\nHost: other.example\r\n\r\n"
                             "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n", &done);
        cr_assert_eq(count(out, "HTTP/1.1 200 "), 1, "%s", out);
        cr_assert_eq(count(out, "HTTP/1.1 421 "), 1, "%s", out);
        cr_assert_eq(count(out, "HTTP/1.1 "), 2, "nothing after the 421: %s", out);
        free(out);

        /* Not foreign any more: served. */
        http_server_set_foreign(s, 1, false);
        out = exchange_on(s, "GET /a.txt HTTP/1.1\r\nHost: other.example\r\n\r\n", &done);
        cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", out);
        free(out);
        http_server_free(s);
        conf_table_free(http_site_directives, &c1);
        conf_table_free(http_site_directives, &c2);
}

/* ---- routing by name only (perchild) ----------------------------------------------------------- */

Test(conn, route_by_name_answers_421_to_a_name_no_site_has) {
        HttpSiteConfig c1 = {}, c2 = {};
        HttpServer *s = server_with_vhost(&c1, &c2);
        const char *unmatched[] = {
                "Host: nobody.example\r\n", "Host: 127.0.0.1\r\n", "Host: [::1]:80\r\n", "Host: other.example.x\r\n",
                "", /* HTTP/1.0 without a Host */
        };
        bool done;
        char *out;

        /* Apache's rule first: a name no site has is the main server's. */
        out = exchange_on(s, "GET /a.txt HTTP/1.1\r\nHost: nobody.example\r\n\r\n", &done);
        cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", out);
        free(out);

        http_server_set_unmatched(s, SIZE_MAX);
        free(c1.server_name);
        c1.server_name = strdup("localhost");
        s->sites[0].key.server_name = c1.server_name; /* what the site took of its configuration */
        for (size_t i = 0; i < ELEMENTSOF(unmatched); i++) {
                char req[256];
                snprintf(req, sizeof(req), "GET /a.txt HTTP/1.%c\r\n%s\r\n", unmatched[i][0] ? '1' : '0',
                         unmatched[i]);
                out = exchange_on(s, req, &done);
                cr_assert(strncmp(out, "HTTP/1.1 421 ", 13) == 0, "%s: %s", req, out);
                cr_assert(done, "%s: and the connection is closed", req);
                free(out);
        }
        /* Named sites are still served, the main server by its ServerName, ports and case aside. */
        out = exchange_on(s, "GET /a.txt HTTP/1.1\r\nHost: OTHER.example:8080\r\n\r\n"
                             "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
                             "GET /a.txt HTTP/1.1\r\nHost: nobody.example\r\n\r\n"
                             "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n", &done);
        cr_assert_eq(count(out, "HTTP/1.1 200 "), 2, "%s", out);
        cr_assert_eq(count(out, "HTTP/1.1 421 "), 1, "%s", out);
        cr_assert_eq(count(out, "HTTP/1.1 "), 3, "nothing after the 421: %s", out);
        free(out);

        /* A default site takes them: the request is served as that site's. */
        http_server_set_unmatched(s, 1);
        cr_assert_eq(http_server_route(s, NULL, "nobody.example", 14), &s->sites[1]);
        cr_assert_eq(http_server_route(s, NULL, NULL, 0), &s->sites[1]);
        cr_assert_eq(http_server_route(s, NULL, "localhost", 9), &s->sites[0]);
        out = exchange_on(s, "GET /a.txt HTTP/1.1\r\nHost: nobody.example\r\n\r\n", &done);
        cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", out);
        free(out);
        http_server_free(s);
        conf_table_free(http_site_directives, &c1);
        conf_table_free(http_site_directives, &c2);
}

/* ---- closing without lingering ------------------------------------------------------------------ */

Test(conn, close_without_unread_input_does_not_linger) {
        MemoryIo m;
        const char *req = "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        memory_io_init(&m, req, strlen(req), 0);
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_DONE, "closed at once");
        cr_assert_not(m.shut, "no shutdown and drain");
        http_conn_free(c);
        memory_io_done(&m);

        req = "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n";
        memory_io_init(&m, req, strlen(req), 0);
        c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_READ, "pipelined bytes left: lingers");
        cr_assert(m.shut);
        http_conn_free(c);
        memory_io_done(&m);
}

Test(conn, file_change_is_served_within_a_second) {
        MemoryIo m;
        const char *req = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";

        memory_io_init(&m, req, strlen(req), 0);
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        cr_assert_eq(http_conn_run(c, 1000), HTTP_CONN_WANT_READ);
        cr_assert(memmem(m.out, m.out_len, "\r\n\r\nalpha\n", 10));
        write_file("a.txt", "changed!\n");
        m.in_pos = 0;
        m.out_len = 0;
        cr_assert_eq(http_conn_run(c, 1000 + USEC_PER_SEC), HTTP_CONN_WANT_READ);
        cr_assert(memmem(m.out, m.out_len, "\r\n\r\nchanged!\n", 13), "%.*s", (int) m.out_len, m.out);
        http_conn_free(c);
        memory_io_done(&m);
}

/* MinSendRate: a client that takes a few bytes now and then makes progress every time, so TimeOut
 * never ends it; the rate does, counted on what it acknowledged. */
static ssize_t test_unsent;
static ssize_t unsent_fixed(void *ctx) {
        return test_unsent;
}

/* Feed a 100 KB response to a reader that takes per_second bytes a second (and leaves unsent
 * bytes unacknowledged); returns the second at which the connection ended, or 0 if it lasted. */
static unsigned slow_reader_lasts(size_t per_second, ssize_t unsent) {
        HttpSiteConfig c2 = {};
        HttpServer *s;
        const char *err = NULL;
        char big[100 * 1024 + 1];
        HttpIo io = memory_io;
        MemoryIo m;
        unsigned ended = 0;

        memset(big, 'b', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        write_file("big.txt", big);
        cr_assert_eq(conf_table_defaults(http_site_directives, &c2), 0);
        c2.document_root = strdup(root);
        c2.timeout = 5 * USEC_PER_SEC;
        c2.min_send_rate = 500;
        cr_assert_eq(http_server_new(NULL, &s), 0);
        cr_assert_eq(http_server_add_site(s, "main", &c2, NULL, &err), 0);
        io.unsent = unsent_fixed;
        test_unsent = unsent;

        const char *req = "GET /big.txt HTTP/1.1\r\nHost: x\r\n\r\n";
        memory_io_init(&m, req, strlen(req), 0);
        m.budgeted = true;
        m.write_budget = 1024;
        HttpConn *c = http_conn_new(s, &io, &m, NULL, 0);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_WRITE);
        for (unsigned sec = 1; sec <= 120 && !ended; sec++) {
                usec_t now = sec * USEC_PER_SEC;
                m.write_budget += per_second;
                HttpConnWant w = http_conn_run(c, now);
                if (w == HTTP_CONN_WANT_WRITE && now >= http_conn_deadline(c))
                        w = http_conn_timeout(c, now);
                if (w == HTTP_CONN_DONE)
                        ended = sec;
                else if (w == HTTP_CONN_WANT_READ)
                        break; /* the response is out: the connection waits for the next request */
        }
        http_conn_free(c);
        memory_io_done(&m);
        http_server_free(s);
        conf_table_free(http_site_directives, &c2);
        return ended;
}

Test(conn, slow_reader_is_closed_below_min_send_rate) {
        /* 32 bytes a second: closed a few seconds after TimeOut (5 s), long before the 100 KB is out. */
        unsigned ended = slow_reader_lasts(32, 0);
        cr_assert(ended > 5 && ended < 15, "ended at %u s", ended);
        /* 2 KB a second takes the whole response (about 50 s) without being closed. */
        cr_assert_eq(slow_reader_lasts(2048, 0), 0);
        /* Bytes the kernel holds but the client never acknowledged do not count as taken. */
        ended = slow_reader_lasts(2048, 100 * 1024);
        cr_assert(ended > 5 && ended < 15, "ended at %u s", ended);
}

/* A transport that needs the other direction (TLS: a read to finish a write, a write to finish a
 * read) says so once per call kind; the connection must wait for exactly that and then retry. */
static struct {
        bool read_wants_write;
        bool write_wants_read;
} cross;

static ssize_t cross_read(void *ctx, void *buf, size_t n) {
        if (cross.read_wants_write) {
                cross.read_wants_write = false;
                return HTTP_IO_WANT_WRITE;
        }
        return memory_io.read(ctx, buf, n);
}

static ssize_t cross_writev(void *ctx, const struct iovec *iov, int n) {
        if (cross.write_wants_read) {
                cross.write_wants_read = false;
                return HTTP_IO_WANT_READ;
        }
        return memory_io.writev(ctx, iov, n);
}

Test(conn, transport_waits_in_the_direction_it_names) {
        HttpIo io = memory_io;
        const char *req = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
        MemoryIo m;

        io.read = cross_read;
        io.writev = cross_writev;
        memory_io_init(&m, req, strlen(req), 0);
        HttpConn *c = http_conn_new(server, &io, &m, NULL, 1000);
        cr_assert_not_null(c);

        /* A read that needs a write first: the connection waits for writable, having read nothing. */
        cross.read_wants_write = true;
        cr_assert_eq(http_conn_run(c, 1000), HTTP_CONN_WANT_WRITE);
        cr_assert_eq(m.in_pos, 0);
        /* A write that needs a read first: the response waits for readable, nothing sent yet. */
        cross.write_wants_read = true;
        cr_assert_eq(http_conn_run(c, 1001), HTTP_CONN_WANT_READ);
        cr_assert_eq(m.out_len, 0);
        /* Then the same write goes through: the whole response, once. */
        cr_assert_eq(http_conn_run(c, 1002), HTTP_CONN_WANT_READ);
        char *out = strndup(m.out, m.out_len);
        cr_assert(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", out);
        cr_assert_eq(count(out, "HTTP/1.1 "), 1);
        cr_assert(strstr(out, "\r\n\r\nalpha\n"), "%s", out);
        free(out);
        http_conn_free(c);
        memory_io_done(&m);
}

/* ---- 421 when the SNI and the Host name different sites --------------------------------------- */

static const char *conn_sni;
static bool sni_tls_info(void *ctx, HttpTlsInfo *ret) {
        *ret = (HttpTlsInfo) { .protocol = "TLSv1.3", .cipher = "TLS_AES_128_GCM_SHA256", .sni = conn_sni };
        return true;
}

static char *exchange_tls(HttpServer *s, const char *sni, const char *input, bool *ret_done) {
        HttpIo io = memory_io;
        MemoryIo m;

        io.tls_info = sni_tls_info;
        conn_sni = sni;
        memory_io_init(&m, input, strlen(input), 0);
        HttpConn *c = http_conn_new(s, &io, &m, NULL, 1000);
        cr_assert_not_null(c);
        HttpConnWant w = memory_io_run(c, &m);
        *ret_done = w == HTTP_CONN_DONE;
        http_conn_free(c);
        char *out = strndup(m.out ? m.out : "", m.out_len);
        memory_io_done(&m);
        return out;
}

Test(conn, a_host_other_than_the_sni_gets_421) {
        HttpSiteConfig c1 = {}, c2 = {};
        HttpServer *s;
        const char *err = NULL;
        char *other = docroot_new("conn-other");
        bool done;
        char *out;

        docroot_add_text(other, "a.txt", "other\n");
        cr_assert_eq(conf_table_defaults(http_site_directives, &c1), 0);
        c1.document_root = strdup(root);
        c1.server_name = strdup("main.example");
        cr_assert_eq(conf_table_defaults(http_site_directives, &c2), 0);
        c2.document_root = strdup(other);
        c2.server_name = strdup("other.example");
        cr_assert_eq(http_server_new(NULL, &s), 0);
        cr_assert_eq(http_server_add_site(s, "main", &c1, NULL, &err), 0);
        cr_assert_eq(http_server_add_site(s, "other", &c2, NULL, &err), 0);

        out = exchange_tls(s, "other.example", "GET /a.txt HTTP/1.1\r\nHost: OTHER.example:443\r\n\r\n", &done);
        cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "the same site: %s", out);
        cr_assert(strstr(out, "\r\n\r\nother\n"), "%s", out);
        free(out);

        out = exchange_tls(s, "other.example", "GET /a.txt HTTP/1.1\r\nHost: main.example\r\n\r\n"
                                               "GET /a.txt HTTP/1.1\r\nHost: other.example\r\n\r\n", &done);
        cr_assert(strncmp(out, "HTTP/1.1 421 Misdirected Request\r\n", 34) == 0, "%s", out);
        cr_assert(strstr(out, "Connection: close\r\n"));
        cr_assert_eq(count(out, "HTTP/1.1 "), 1, "nothing after the 421: %s", out);
        free(out);

        /* A name no site has chose the default site's certificate: only that site is served. */
        out = exchange_tls(s, "nobody.example", "GET /a.txt HTTP/1.1\r\nHost: other.example\r\n\r\n", &done);
        cr_assert(strncmp(out, "HTTP/1.1 421 ", 13) == 0, "%s", out);
        free(out);
        out = exchange_tls(s, "nobody.example", "GET /a.txt HTTP/1.1\r\nHost: main.example\r\n\r\n", &done);
        cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", out);
        free(out);

        /* No Host (HTTP/1.0): the site the SNI chose. */
        out = exchange_tls(s, "other.example", "GET /a.txt HTTP/1.0\r\n\r\n", &done);
        cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", out);
        cr_assert(strstr(out, "\r\n\r\nother\n"), "%s", out);
        free(out);

        /* No SNI, or a plain connection: Host alone decides, as before. */
        out = exchange_tls(s, NULL, "GET /a.txt HTTP/1.1\r\nHost: other.example\r\n\r\n", &done);
        cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", out);
        free(out);
        out = exchange_on(s, "GET /a.txt HTTP/1.1\r\nHost: other.example\r\n\r\n", &done);
        cr_assert(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "%s", out);
        free(out);

        http_server_free(s);
        conf_table_free(http_site_directives, &c1);
        conf_table_free(http_site_directives, &c2);
        docroot_remove(other);
}
