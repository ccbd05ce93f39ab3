/* SPDX-License-Identifier: MIT */
/* The static file handler through a whole connection over memory I/O: byte ranges (single,
 * suffix, open, multipart, unsatisfiable, If-Range, MaxRanges, HEAD) and conditional requests. */
#include <criterion/criterion.h>
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

#define BIG_SIZE (200 * 1024) /* larger than the connection's output buffer */
#define MTIME 971211336       /* Tue, 10 Oct 2000 20:55:36 GMT */
#define MTIME_HTTP "Tue, 10 Oct 2000 20:55:36 GMT"

static char *root;
static HttpSiteConfig cfg;
static HttpServer *server;
static char big[BIG_SIZE];

static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz"; /* 36 bytes, a.txt */

static void write_file(const char *name, const void *content, size_t len) {
        docroot_add_file(root, name, content, len, 0644);
        docroot_set_mtime(root, name, MTIME);
}

static void setup(void) {
        const char *err = NULL;

        root = docroot_new("static");
        write_file("a.txt", digits, strlen(digits));
        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (char) ('a' + (i * 7 + i / 251) % 26);
        write_file("big.bin", big, sizeof(big));
        write_file("empty.txt", "", 0);

        cr_assert_eq(conf_table_defaults(http_site_directives, &cfg), 0);
        cfg.document_root = strdup(root);
        cr_assert_eq(conf_lines_append(&cfg.add_type, "text/plain txt", NULL, 0), 0);
        cr_assert_eq(http_server_new(NULL, &server), 0);
        cr_assert_eq(http_server_add_site(server, "main", &cfg, NULL, &err), 0);
}

static void teardown(void) {
        http_server_free(server);
        conf_table_free(http_site_directives, &cfg);
        docroot_remove(root);
        root = NULL;
}

TestSuite(static_file, .init = setup, .fini = teardown);

typedef struct Reply {
        int status;
        char head[4096]; /* status line and fields, up to the empty line */
        char *body;
        size_t body_len;
        char *raw; /* everything the connection wrote */
        size_t raw_len;
} Reply;

/* Send one request with the extra header lines (each ending in \r\n) at the monotonic time now
 * (what the open-file cache goes by), collect the response. write_limit > 0 makes every write
 * partial so the writer must resume mid-piece. */
static void request_at(Reply *rep, const char *method, const char *path, const char *headers, size_t write_limit,
                       usec_t now) {
        char req[2048];
        MemoryIo m;

        snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n", method, path, headers);
        memory_io_init(&m, req, strlen(req), 0);
        m.write_limit = write_limit;
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, now);
        cr_assert_not_null(c);
        /* As memory_io_run(), at this time. */
        while (http_conn_run(c, now) == HTTP_CONN_WANT_READ && m.in_pos < m.in_len)
                ;
        http_conn_free(c);

        *rep = (Reply) { .raw = m.out, .raw_len = m.out_len };
        cr_assert(m.out_len > 12, "no response to %s", req);
        char *end = memmem(m.out, m.out_len, "\r\n\r\n", 4);
        cr_assert_not_null(end);
        size_t hl = (size_t) (end - m.out) + 2;
        cr_assert(hl < sizeof(rep->head));
        memcpy(rep->head, m.out, hl);
        rep->head[hl] = 0;
        rep->status = atoi(m.out + 9); /* test code: the status line was checked above */
        rep->body = end + 4;
        rep->body_len = m.out_len - (hl + 2);
}

static void request(Reply *rep, const char *method, const char *path, const char *headers, size_t write_limit) {
        request_at(rep, method, path, headers, write_limit, 1000);
}

static void reply_done(Reply *rep) {
        free(rep->raw);
}

/* The value of a header field in the head ("" when absent). */
static const char *field(const Reply *rep, const char *name) {
        static char value[512];
        char needle[128];

        snprintf(needle, sizeof(needle), "\r\n%s: ", name);
        const char *p = strstr(rep->head, needle);
        if (!p)
                return "";
        p += strlen(needle);
        size_t n = strcspn(p, "\r");
        snprintf(value, sizeof(value), "%.*s", (int) n, p);
        return value;
}

static unsigned long long content_length(const Reply *rep) {
        return strtoull(field(rep, "Content-Length"), NULL, 10);
}

static void assert_body(const Reply *rep, const void *want, size_t len) {
        cr_assert_eq(content_length(rep), len, "%s", rep->head);
        cr_assert_eq(rep->body_len, len, "%s", rep->head);
        cr_assert(memcmp(rep->body, want, len) == 0);
}

Test(static_file, whole_file_says_accept_ranges) {
        Reply r;
        request(&r, "GET", "/a.txt", "", 0);
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(field(&r, "Accept-Ranges"), "bytes");
        cr_assert_str_eq(field(&r, "Last-Modified"), MTIME_HTTP);
        assert_body(&r, digits, 36);
        reply_done(&r);
}

Test(static_file, single_range) {
        Reply r;
        request(&r, "GET", "/a.txt", "Range: bytes=10-14\r\n", 0);
        cr_assert_eq(r.status, 206, "%s", r.head);
        cr_assert(strncmp(r.head, "HTTP/1.1 206 Partial Content\r\n", 30) == 0);
        cr_assert_str_eq(field(&r, "Content-Range"), "bytes 10-14/36");
        cr_assert_str_eq(field(&r, "Content-Type"), "text/plain");
        cr_assert_str_eq(field(&r, "Accept-Ranges"), "bytes");
        cr_assert_str_neq(field(&r, "ETag"), "");
        assert_body(&r, "abcde", 5);
        reply_done(&r);
}

Test(static_file, suffix_range) {
        Reply r;
        request(&r, "GET", "/a.txt", "Range: bytes=-5\r\n", 0);
        cr_assert_eq(r.status, 206);
        cr_assert_str_eq(field(&r, "Content-Range"), "bytes 31-35/36");
        assert_body(&r, "vwxyz", 5);
        reply_done(&r);
}

Test(static_file, open_range) {
        Reply r;
        request(&r, "GET", "/a.txt", "Range: bytes=5-\r\n", 0);
        cr_assert_eq(r.status, 206);
        cr_assert_str_eq(field(&r, "Content-Range"), "bytes 5-35/36");
        assert_body(&r, digits + 5, 31);
        reply_done(&r);
}

Test(static_file, range_of_a_big_file_crosses_buffers) {
        Reply r;
        request(&r, "GET", "/big.bin", "Range: bytes=1000-150999\r\n", 7);
        cr_assert_eq(r.status, 206);
        cr_assert_str_eq(field(&r, "Content-Range"), "bytes 1000-150999/204800");
        assert_body(&r, big + 1000, 150000);
        reply_done(&r);
}

/* Check a multipart/byteranges body part by part against the file. */
static void assert_multipart(const Reply *r, const char *file, const char *type, const unsigned long long (*ranges)[2],
                             size_t n, unsigned long long length) {
        char boundary[128], expect[256];
        const char *ct = field(r, "Content-Type");
        const char *prefix = "multipart/byteranges; boundary=";
        size_t off = 0;

        cr_assert(strncmp(ct, prefix, strlen(prefix)) == 0, "%s", ct);
        snprintf(boundary, sizeof(boundary), "%s", ct + strlen(prefix));
        cr_assert(strlen(boundary) > 0);
        cr_assert_str_eq(field(r, "Content-Range"), "", "the whole response has no Content-Range");
        cr_assert_eq(content_length(r), r->body_len, "Content-Length must count every byte sent");

        for (size_t i = 0; i < n; i++) {
                int k = snprintf(expect, sizeof(expect),
                                 "%s--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
                                 i ? "\r\n" : "", boundary, type, ranges[i][0], ranges[i][1], length);
                cr_assert(off + (size_t) k <= r->body_len);
                cr_assert(memcmp(r->body + off, expect, (size_t) k) == 0, "part %zu header: %.*s", i, k, r->body + off);
                off += (size_t) k;
                size_t len = (size_t) (ranges[i][1] - ranges[i][0] + 1);
                cr_assert(off + len <= r->body_len);
                cr_assert(memcmp(r->body + off, file + ranges[i][0], len) == 0, "part %zu data", i);
                off += len;
        }
        snprintf(expect, sizeof(expect), "\r\n--%s--\r\n", boundary);
        cr_assert_eq(r->body_len - off, strlen(expect));
        cr_assert(memcmp(r->body + off, expect, strlen(expect)) == 0);
}

Test(static_file, multipart_bytes_exact) {
        static const unsigned long long ranges[][2] = { { 0, 2 }, { 10, 12 }, { 33, 35 } };
        Reply r;
        request(&r, "GET", "/a.txt", "Range: bytes=0-2,10-12,-3\r\n", 0);
        cr_assert_eq(r.status, 206, "%s", r.head);
        assert_multipart(&r, digits, "text/plain", ranges, 3, 36);
        reply_done(&r);
}

Test(static_file, multipart_of_a_big_file_with_partial_writes) {
        static const unsigned long long ranges[][2] = { { 100000, 179999 }, { 5, 20004 } };
        Reply r;
        request(&r, "GET", "/big.bin", "Range: bytes=100000-179999, 5-20004\r\n", 1000);
        cr_assert_eq(r.status, 206, "%s", r.head);
        assert_multipart(&r, big, "application/octet-stream", ranges, 2, BIG_SIZE);
        reply_done(&r);
}

Test(static_file, next_request_after_multipart_is_whole) {
        const char *req = "GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0,2-2\r\n\r\n"
                          "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
        MemoryIo m;
        memory_io_init(&m, req, strlen(req), 0);
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        memory_io_run(c, &m);
        http_conn_free(c);
        char *second = memmem(m.out, m.out_len, "HTTP/1.1 200 OK\r\n", 17);
        cr_assert_not_null(second, "%.*s", (int) m.out_len, m.out);
        cr_assert(memmem(m.out, m.out_len, "HTTP/1.1 206 ", 13) < (void *) second);
        cr_assert(m.out_len > 36 && memcmp(m.out + m.out_len - 36, digits, 36) == 0);
        memory_io_done(&m);
}

Test(static_file, unsatisfiable_is_416) {
        Reply r;
        request(&r, "GET", "/a.txt", "Range: bytes=36-40\r\n", 0);
        cr_assert_eq(r.status, 416, "%s", r.head);
        cr_assert(strncmp(r.head, "HTTP/1.1 416 Range Not Satisfiable\r\n", 36) == 0);
        cr_assert_str_eq(field(&r, "Content-Range"), "bytes */36");
        cr_assert_eq(content_length(&r), r.body_len);
        cr_assert_null(memmem(r.body, r.body_len, digits, 10), "no file bytes in a 416");
        reply_done(&r);
}

Test(static_file, invalid_range_is_ignored) {
        Reply r;
        request(&r, "GET", "/a.txt", "Range: bytes=5-1\r\n", 0);
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(field(&r, "Content-Range"), "");
        assert_body(&r, digits, 36);
        reply_done(&r);
}

Test(static_file, abusive_overlaps_get_the_whole_file) {
        Reply r;
        request(&r, "GET", "/a.txt", "Range: bytes=0-3,1-4,2-5,3-6\r\n", 0);
        cr_assert_eq(r.status, 200);
        assert_body(&r, digits, 36);
        reply_done(&r);
}

Test(static_file, if_range_etag) {
        Reply r, m;
        request(&r, "GET", "/a.txt", "", 0);
        char etag[128], hdr[256];
        snprintf(etag, sizeof(etag), "%s", field(&r, "ETag"));
        cr_assert(etag[0] == '"');
        reply_done(&r);

        snprintf(hdr, sizeof(hdr), "Range: bytes=0-1\r\nIf-Range: %s\r\n", etag);
        request(&m, "GET", "/a.txt", hdr, 0);
        cr_assert_eq(m.status, 206, "a matching If-Range keeps the range");
        assert_body(&m, "01", 2);
        reply_done(&m);

        request(&m, "GET", "/a.txt", "Range: bytes=0-1\r\nIf-Range: \"other\"\r\n", 0);
        cr_assert_eq(m.status, 200, "If-Range mismatch sends the whole file");
        assert_body(&m, digits, 36);
        reply_done(&m);

        snprintf(hdr, sizeof(hdr), "Range: bytes=0-1\r\nIf-Range: W/%s\r\n", etag);
        request(&m, "GET", "/a.txt", hdr, 0);
        cr_assert_eq(m.status, 200, "a weak tag never matches If-Range");
        reply_done(&m);
}

Test(static_file, if_range_date) {
        Reply r;
        request(&r, "GET", "/a.txt", "Range: bytes=0-1\r\nIf-Range: " MTIME_HTTP "\r\n", 0);
        cr_assert_eq(r.status, 206);
        reply_done(&r);
        request(&r, "GET", "/a.txt", "Range: bytes=0-1\r\nIf-Range: Tue, 10 Oct 2000 20:55:37 GMT\r\n", 0);
        cr_assert_eq(r.status, 200);
        assert_body(&r, digits, 36);
        reply_done(&r);
        request(&r, "GET", "/a.txt", "Range: bytes=0-1\r\nIf-Range: yesterday\r\n", 0);
        cr_assert_eq(r.status, 200);
        reply_done(&r);
}

Test(static_file, max_ranges) {
        Reply r;
        cfg.max_ranges = 2;
        request(&r, "GET", "/a.txt", "Range: bytes=0-0,2-2\r\n", 0);
        cr_assert_eq(r.status, 206);
        reply_done(&r);
        request(&r, "GET", "/a.txt", "Range: bytes=0-0,2-2,4-4\r\n", 0);
        cr_assert_eq(r.status, 200, "more than MaxRanges: the whole file");
        assert_body(&r, digits, 36);
        reply_done(&r);

        cfg.max_ranges = 0;
        request(&r, "GET", "/a.txt", "Range: bytes=0-0\r\n", 0);
        cr_assert_eq(r.status, 200, "MaxRanges 0 turns ranges off");
        cr_assert_str_eq(field(&r, "Accept-Ranges"), "none");
        assert_body(&r, digits, 36);
        reply_done(&r);
}

Test(static_file, head_with_range) {
        Reply r;
        request(&r, "HEAD", "/a.txt", "Range: bytes=10-14\r\n", 0);
        cr_assert_eq(r.status, 206);
        cr_assert_str_eq(field(&r, "Content-Range"), "bytes 10-14/36");
        cr_assert_eq(content_length(&r), 5);
        cr_assert_eq(r.body_len, 0);
        reply_done(&r);

        Reply g;
        request(&r, "HEAD", "/a.txt", "Range: bytes=0-0,5-5\r\n", 0);
        request(&g, "GET", "/a.txt", "Range: bytes=0-0,5-5\r\n", 0);
        cr_assert_eq(r.status, 206);
        cr_assert_eq(r.body_len, 0);
        cr_assert_eq(content_length(&r), content_length(&g), "HEAD announces the length GET sends");
        reply_done(&r);
        reply_done(&g);
}

Test(static_file, range_on_empty_file_is_whole) {
        Reply r;
        request(&r, "GET", "/empty.txt", "Range: bytes=0-5\r\n", 0);
        cr_assert_eq(r.status, 200);
        cr_assert_eq(content_length(&r), 0);
        reply_done(&r);
}

Test(static_file, if_none_match_is_304) {
        Reply r, c;
        request(&r, "GET", "/a.txt", "", 0);
        char hdr[256];
        snprintf(hdr, sizeof(hdr), "If-None-Match: \"nope\", %s\r\n", field(&r, "ETag"));
        request(&c, "GET", "/a.txt", hdr, 0);
        cr_assert_eq(c.status, 304, "%s", c.head);
        cr_assert_eq(c.body_len, 0);
        cr_assert_str_eq(field(&c, "ETag"), field(&r, "ETag"));
        reply_done(&c);
        request(&c, "GET", "/a.txt", "If-None-Match: \"nope\"\r\n", 0);
        cr_assert_eq(c.status, 200);
        reply_done(&c);
        reply_done(&r);
}

Test(static_file, if_modified_since_is_304) {
        Reply r;
        request(&r, "GET", "/a.txt", "If-Modified-Since: " MTIME_HTTP "\r\n", 0);
        cr_assert_eq(r.status, 304);
        cr_assert_eq(r.body_len, 0);
        reply_done(&r);
        request(&r, "GET", "/a.txt", "If-Modified-Since: Tue, 10 Oct 2000 20:55:35 GMT\r\n", 0);
        cr_assert_eq(r.status, 200);
        reply_done(&r);
}

Test(static_file, if_match_mismatch_is_412) {
        Reply r;
        request(&r, "GET", "/a.txt", "If-Match: \"nope\"\r\n", 0);
        cr_assert_eq(r.status, 412, "%s", r.head);
        reply_done(&r);
        request(&r, "GET", "/a.txt", "If-Match: *\r\n", 0);
        cr_assert_eq(r.status, 200);
        reply_done(&r);
}

Test(static_file, if_unmodified_since_is_412) {
        Reply r;
        request(&r, "GET", "/a.txt", "If-Unmodified-Since: Tue, 10 Oct 2000 20:55:35 GMT\r\n", 0);
        cr_assert_eq(r.status, 412);
        reply_done(&r);
        request(&r, "GET", "/a.txt", "If-Unmodified-Since: " MTIME_HTTP "\r\n", 0);
        cr_assert_eq(r.status, 200);
        reply_done(&r);
}

Test(static_file, precondition_beats_range) {
        Reply r;
        request(&r, "GET", "/a.txt", "If-Match: \"nope\"\r\nRange: bytes=0-1\r\n", 0);
        cr_assert_eq(r.status, 412);
        reply_done(&r);
}

/* Directory indexes through the open-file cache. The handler's cache trusts what it holds for a
 * second (STATIC_CACHE_VALID_USEC): a second later on the clock the requests give it, a change
 * must be seen. */
static usec_t index_now = 1000;

static void revalidation_passes(void) {
        index_now += USEC_PER_SEC;
}

/* DirectoryIndex index.html index.txt (index.txt has a media type in this site: text/plain). */
static void index_names_html_txt(void) {
        cr_assert_eq(strv_push(&cfg.directory_index, "index.txt"), 0);
}

static void remove_file(const char *name) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", root, name);
        cr_assert_eq(unlink(p), 0);
}

static void assert_get(const char *path, int status, const char *body) {
        Reply r;
        request_at(&r, "GET", path, "", 0, index_now);
        cr_assert_eq(r.status, status, "GET %s: %s", path, r.head);
        if (body)
                assert_body(&r, body, strlen(body));
        reply_done(&r);
}

Test(static_file, index_is_served_from_the_cache_until_revalidated) {
        Reply r, f;

        index_names_html_txt();
        write_file("index.txt", "first\n", 6);
        request_at(&r, "GET", "/", "", 0, index_now);
        cr_assert_eq(r.status, 200, "%s", r.head);
        assert_body(&r, "first\n", 6);
        /* The media type is the index name's, and the validators are the file's. */
        cr_assert_str_eq(field(&r, "Content-Type"), "text/plain");
        request_at(&f, "GET", "/index.txt", "", 0, index_now);
        cr_assert_str_eq(field(&r, "ETag"), field(&f, "ETag"));
        cr_assert_str_eq(field(&r, "Last-Modified"), MTIME_HTTP);
        reply_done(&f);
        reply_done(&r);

        /* Replaced: the second GET / is answered from the cache (the old bytes), as /index.txt is. */
        remove_file("index.txt");
        write_file("index.txt", "second!\n", 8);
        assert_get("/", 200, "first\n");
        assert_get("/index.txt", 200, "first\n");

        /* Once the entry is revalidated, the new file. */
        revalidation_passes();
        assert_get("/", 200, "second!\n");

        /* The first name, created, wins once the choice is revalidated. */
        write_file("index.html", "html\n", 5);
        assert_get("/", 200, "second!\n");
        revalidation_passes();
        request_at(&r, "GET", "/", "", 0, index_now);
        cr_assert_eq(r.status, 200, "%s", r.head);
        assert_body(&r, "html\n", 5);
        cr_assert_str_eq(field(&r, "Content-Type"), "application/octet-stream");
        reply_done(&r);
}

Test(static_file, removed_index_is_403_after_revalidation) {
        write_file("index.html", "home\n", 5);
        assert_get("/", 200, "home\n");
        remove_file("index.html");
        assert_get("/", 200, "home\n");
        revalidation_passes();
        /* No index and no listings: 403, as before the cache; kept, and then seen created again. */
        assert_get("/", 403, NULL);
        assert_get("/", 403, NULL);
        write_file("index.html", "again\n", 6);
        revalidation_passes();
        assert_get("/", 200, "again\n");
}

Test(static_file, index_answers_of_a_directory_are_as_uncached) {
        Reply r;
        char p[512];

        /* Without the slash: the redirect; a missing directory: 404; a file with a slash: 404. */
        snprintf(p, sizeof(p), "%s/sub", root);
        cr_assert_eq(mkdir(p, 0755), 0);
        request_at(&r, "GET", "/sub", "", 0, index_now);
        cr_assert_eq(r.status, 301, "%s", r.head);
        cr_assert_str_eq(field(&r, "Location"), "/sub/");
        reply_done(&r);
        assert_get("/sub/", 403, NULL);
        assert_get("/nothing/", 404, NULL);
        assert_get("/a.txt/", 404, NULL);

        /* A directory named index.html is passed over for the next name. */
        index_names_html_txt();
        snprintf(p, sizeof(p), "%s/sub/index.html", root);
        cr_assert_eq(mkdir(p, 0755), 0);
        assert_get("/sub/", 403, NULL);
        write_file("sub/index.txt", "sub\n", 4);
        revalidation_passes();
        assert_get("/sub/", 200, "sub\n");

        /* Conditional requests and ranges of an index, from the cache or not. */
        request_at(&r, "GET", "/sub/", "", 0, index_now);
        char hdr[256];
        snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\n", field(&r, "ETag"));
        reply_done(&r);
        request_at(&r, "GET", "/sub/", hdr, 0, index_now);
        cr_assert_eq(r.status, 304, "%s", r.head);
        reply_done(&r);
        request_at(&r, "GET", "/sub/", "Range: bytes=1-2\r\n", 0, index_now);
        cr_assert_eq(r.status, 206, "%s", r.head);
        assert_body(&r, "ub", 2);
        reply_done(&r);
}

Test(static_file, index_link_out_of_the_root_is_refused_every_time) {
        char link[512];
        char outside[] = "/tmp/mpmd-static-out-XXXXXX";
        int fd = mkstemp(outside);

        cr_assert(fd >= 0);
        cr_assert_eq(write(fd, "secret\n", 7), 7);
        close(fd);
        snprintf(link, sizeof(link), "%s/index.html", root);
        cr_assert_eq(symlink(outside, link), 0);
        assert_get("/", 403, NULL);
        assert_get("/", 403, NULL);
        revalidation_passes();
        assert_get("/", 403, NULL);

        /* A link that stays beneath the root is followed, and refused once it points out. */
        cr_assert_eq(unlink(link), 0);
        cr_assert_eq(symlink("a.txt", link), 0);
        revalidation_passes();
        assert_get("/", 200, digits);
        cr_assert_eq(unlink(link), 0);
        cr_assert_eq(symlink(outside, link), 0);
        revalidation_passes();
        assert_get("/", 403, NULL);
        assert_get("/", 403, NULL);
        unlink(outside);
}
