/* SPDX-License-Identifier: MIT */
/* The static files' keys (Options, PrecompressedFiles, Compression*), Accept-Encoding as a table of
 * field values and the coding each chooses, ETags per coding, and the gzip stream against zlib's
 * own inflate. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "http/compress.h"
#include "http/site-config.h"

/* ---- Accept-Encoding ---------------------------------------------------------------------- */

typedef struct AeCase {
        char value[96];
        int result;
        int q_identity, q_gzip, q_br;
        int chosen; /* offering br then gzip */
        int chosen_gzip_only;
} AeCase;

#define I HTTP_CODING_IDENTITY
#define G HTTP_CODING_GZIP
#define B HTTP_CODING_BR

static const AeCase ae_cases[] = {
        { "gzip", 0, 1000, 1000, 0, G, G },
        { "br, gzip", 0, 1000, 1000, 1000, B, G },
        { "gzip, br", 0, 1000, 1000, 1000, B, G }, /* a tie: the server's order */
        { "br;q=0.5, gzip", 0, 1000, 1000, 500, G, G },
        { "br;q=1.0, gzip;q=0.8", 0, 1000, 800, 1000, B, I }, /* identity (1) beats gzip at 0.8 */
        { "gzip;q=0", 0, 1000, 0, 0, I, I },
        { "GZIP;Q=0.001", 0, 1000, 1, 0, I, I },
        { "x-gzip", 0, 1000, 1000, 0, G, G },
        { "*", 0, 1000, 1000, 1000, B, G },
        { "*;q=0.3, identity;q=0.1", 0, 100, 300, 300, B, G },
        { "*;q=0", 0, 0, 0, 0, I, I },
        { "identity;q=0", 0, 0, 0, 0, I, I },
        { "identity;q=0, gzip;q=0.1", 0, 0, 100, 0, G, G },
        { "", 0, 1000, 0, 0, I, I }, /* empty: identity only */
        { " , ,gzip , ", 0, 1000, 1000, 0, G, G },
        { "deflate, compress", 0, 1000, 0, 0, I, I },
        { "gzip;level=9;q=0.5", 0, 1000, 500, 0, I, I },
        { "gzip ; q=0.5 , br ;q=0.6", 0, 1000, 500, 600, I, I },
        { "br;q=0.9, gzip;q=0.9, identity;q=0.5", 0, 500, 900, 900, B, G },
        { "gzip;q=0, gzip;q=0.5", 0, 1000, 500, 0, I, I },
        /* malformed: as if absent (identity alone) */
        { "gzip;q=2", -EINVAL, 1000, 0, 0, I, I },
        { "gzip;q=1.5", -EINVAL, 1000, 0, 0, I, I },
        { "gzip;q=0.1234", -EINVAL, 1000, 0, 0, I, I },
        { "gzip;q=", -EINVAL, 1000, 0, 0, I, I },
        { "gzip;q", -EINVAL, 1000, 0, 0, I, I },
        { "gzip br", -EINVAL, 1000, 0, 0, I, I },
        { "gz\"ip", -EINVAL, 1000, 0, 0, I, I },
        { ";q=1", -EINVAL, 1000, 0, 0, I, I },
};

ParameterizedTestParameters(accept_encoding, table) {
        return cr_make_param_array(AeCase, ae_cases, sizeof(ae_cases) / sizeof(ae_cases[0]));
}

ParameterizedTest(AeCase *c, accept_encoding, table) {
        static const uint8_t both[] = { HTTP_CODING_BR, HTTP_CODING_GZIP }, gz[] = { HTTP_CODING_GZIP };
        HttpAcceptEncoding a;

        cr_assert_eq(http_accept_encoding_parse(c->value, strlen(c->value), &a), c->result, "%s", c->value);
        cr_assert_eq(a.q[I], c->q_identity, "%s: identity %u", c->value, a.q[I]);
        cr_assert_eq(a.q[G], c->q_gzip, "%s: gzip %u", c->value, a.q[G]);
        cr_assert_eq(a.q[B], c->q_br, "%s: br %u", c->value, a.q[B]);
        cr_assert_eq(http_accept_encoding_choose(&a, both, 2), (HttpCoding) c->chosen, "%s", c->value);
        cr_assert_eq(http_accept_encoding_choose(&a, gz, 1), (HttpCoding) c->chosen_gzip_only, "%s", c->value);
}

Test(accept_encoding, absent_is_identity) {
        static const uint8_t gz[] = { HTTP_CODING_GZIP };
        HttpAcceptEncoding a;

        cr_assert_eq(http_accept_encoding_parse(NULL, 0, &a), 0);
        cr_assert_eq(a.q[I], 1000);
        cr_assert_eq(http_accept_encoding_choose(&a, gz, 1), HTTP_CODING_IDENTITY);
}

Test(etag, per_coding) {
        char out[64];

        cr_assert_gt(http_etag_for_coding("\"1-2-3\"", HTTP_CODING_GZIP, false, out, sizeof(out)), 0);
        cr_assert_str_eq(out, "\"1-2-3-gz\"");
        cr_assert_gt(http_etag_for_coding("\"1-2-3\"", HTTP_CODING_BR, false, out, sizeof(out)), 0);
        cr_assert_str_eq(out, "\"1-2-3-br\"");
        cr_assert_gt(http_etag_for_coding("\"1-2-3\"", HTTP_CODING_GZIP, true, out, sizeof(out)), 0);
        cr_assert_str_eq(out, "W/\"1-2-3-gz\"");
        cr_assert_gt(http_etag_for_coding("\"1-2-3\"", HTTP_CODING_IDENTITY, false, out, sizeof(out)), 0);
        cr_assert_str_eq(out, "\"1-2-3\"");
        cr_assert_eq(http_etag_for_coding("\"1-2-3\"", HTTP_CODING_GZIP, false, out, 8), -ENOBUFS);
}

/* ---- the keys ------------------------------------------------------------------------------- */

static HttpSiteConfig *site_new(void) {
        HttpSiteConfig *c = calloc(1, sizeof(*c));
        cr_assert_not_null(c);
        cr_assert_eq(conf_table_defaults(http_site_directives, c), 0);
        return c;
}

static void site_free(HttpSiteConfig *c) {
        conf_table_free(http_site_directives, c);
        free(c);
}

static int apply(HttpSiteConfig *c, const char *key, const char *value, bool replace, char **error) {
        const ConfItem *it = conf_table_find(http_site_directives, key);
        ConfApplyContext ctx = { .file = "test.conf", .line = 1, .replace_list = replace };

        cr_assert_not_null(it, "%s", key);
        cr_assert(it->contexts & CONF_CTX_PATH, "%s may be written in a path section", key);
        return conf_item_apply_at(it, c, value, &ctx, error);
}

Test(files_keys, defaults) {
        HttpSiteConfig *c = site_new();

        cr_assert_not(http_files_indexes(&c->files));
        cr_assert_eq(c->files.precompressed.n, 0);
        cr_assert_eq(c->files.compression, HTTP_COMPRESSION_OFF);
        cr_assert_eq(c->files.compression_level, 1);
        cr_assert_eq(c->files.compression_min_length, 256);
        c->files.compression = HTTP_COMPRESSION_GZIP;
        cr_assert(http_files_compressible(&c->files, "text/html; charset=utf-8", 1000));
        cr_assert(http_files_compressible(&c->files, "image/svg+xml", 1000));
        cr_assert_not(http_files_compressible(&c->files, "image/png", 1000));
        cr_assert_not(http_files_compressible(&c->files, "text/htmlx", 1000));
        cr_assert_not(http_files_compressible(&c->files, "text/html", 255));
        site_free(c);
}

/* Options: a section's lines come after what it inherits (CONF_LIST_APPEND_INHERITED), so + and -
 * modify the wider section's value and a bare word replaces it. */
Test(files_keys, options_inherit) {
        HttpSiteConfig *server = site_new(), *vhost = site_new(), *path = site_new();
        const ConfItem *it = conf_table_find(http_site_directives, "Options");
        char *err = NULL;

        cr_assert_eq(apply(server, "Options", "Indexes", true, &err), 0);
        cr_assert(http_files_indexes(&server->files));
        cr_assert_eq(apply(vhost, "Options", "-Indexes", true, &err), 0);
        cr_assert_eq(conf_item_merge_inherited(it, vhost, server), 0);
        cr_assert_not(http_files_indexes(&vhost->files));
        cr_assert_eq(apply(path, "Options", "+Indexes", true, &err), 0);
        cr_assert_eq(conf_item_merge_inherited(it, path, vhost), 0);
        cr_assert(http_files_indexes(&path->files));
        /* a bare value replaces whatever came before */
        cr_assert_eq(apply(path, "Options", "None", false, &err), 0);
        cr_assert_not(http_files_indexes(&path->files));
        site_free(server);
        site_free(vhost);
        site_free(path);
}

typedef struct BadValue {
        char key[32];
        char value[48];
        char error[64];
} BadValue;

static const BadValue bad_values[] = {
        { "Options", "FollowSymLinks", "symbolic links" },
        { "Options", "+SymLinksIfOwnerMatch", "symbolic links" },
        { "Options", "ExecCGI", "ScriptAlias" },
        { "Options", "MultiViews", "PrecompressedFiles" },
        { "Options", "All", "Options = Indexes" },
        { "Options", "Indexes +Indexes", "all options start with" },
        { "Options", "Indices", "unknown option" },
        { "Options", "+None", "unknown option" },
        { "PrecompressedFiles", "zstd", "unknown coding" },
        { "PrecompressedFiles", "gzip gzip", "twice" },
        { "PrecompressedFiles", "gzip None", "alone" },
        { "CompressionTypes", "text", "not a media type" },
        { "CompressionTypes", "text/html /css", "not a media type" },
        { "CompressionLevel", "0", "" },
        { "CompressionLevel", "10", "" },
        { "Compression", "br", "" },
};

ParameterizedTestParameters(files_keys, refused) {
        return cr_make_param_array(BadValue, bad_values, sizeof(bad_values) / sizeof(bad_values[0]));
}

ParameterizedTest(BadValue *b, files_keys, refused) {
        HttpSiteConfig *c = site_new();
        char *err = NULL;

        cr_assert_eq(apply(c, b->key, b->value, true, &err), -EINVAL, "%s = %s", b->key, b->value);
        cr_assert(!b->error[0] || (err && strstr(err, b->error)), "%s = %s: %s", b->key, b->value, err ? err : "(null)");
        free(err);
        site_free(c);
}

Test(files_keys, precompressed_order_and_format) {
        HttpSiteConfig *c = site_new();
        const ConfItem *it = conf_table_find(http_site_directives, "PrecompressedFiles");
        char *err = NULL, *s;

        cr_assert_eq(apply(c, "PrecompressedFiles", "gzip br", true, &err), 0);
        cr_assert_eq(c->files.precompressed.n, 2);
        cr_assert_eq(c->files.precompressed.codings[0], HTTP_CODING_GZIP);
        cr_assert_eq(c->files.precompressed.codings[1], HTTP_CODING_BR);
        s = conf_item_format(it, c);
        cr_assert_str_eq(s, "gzip br");
        free(s);
        cr_assert_eq(apply(c, "PrecompressedFiles", "None", true, &err), 0);
        cr_assert_eq(c->files.precompressed.n, 0);
        site_free(c);
}

/* ---- gzip ------------------------------------------------------------------------------------ */

static size_t inflate_all(const void *in, size_t n, void *out, size_t size) {
        z_stream z = {};
        cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK); /* gzip only: the wrapper must be there */
        z.next_in = (Bytef *) in;
        z.avail_in = (uInt) n;
        z.next_out = out;
        z.avail_out = (uInt) size;
        cr_assert_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
        cr_assert_eq(z.avail_in, 0, "nothing after the gzip member");
        size_t got = size - z.avail_out;
        inflateEnd(&z);
        return got;
}

static char *sample(size_t n) {
        char *p = malloc(n);
        unsigned x = 12345;
        cr_assert_not_null(p);
        for (size_t i = 0; i < n; i++) {
                x = x * 1103515245 + 12345;
                p[i] = (x >> 16) % 4 == 0 ? (char) ('a' + (x >> 8) % 26) : "<div class=\"x\">text</div>\n"[i % 27];
        }
        return p;
}

Test(gzip, whole_round_trip) {
        size_t n = 10000;
        char *in = sample(n), *back = malloc(n + 1), out[12 * 1024];
        HttpGzip *g = NULL;

        cr_assert_eq(http_gzip_new(1, &g), 0);
        cr_assert_leq(http_gzip_bound(g, n), sizeof(out));
        int64_t k = http_gzip_compress_all(g, in, n, out, sizeof(out));
        cr_assert_gt(k, 0);
        cr_assert_lt(k, (int64_t) n);
        cr_assert_eq((unsigned char) out[0], 0x1f); /* the gzip magic */
        cr_assert_eq((unsigned char) out[1], 0x8b);
        cr_assert_eq(inflate_all(out, (size_t) k, back, n + 1), n);
        cr_assert_eq(memcmp(in, back, n), 0);
        /* a reset stream at another level makes a new member of the same input */
        cr_assert_eq(http_gzip_reset(g, 9), 0);
        int64_t k9 = http_gzip_compress_all(g, in, n, out, sizeof(out));
        cr_assert_gt(k9, 0);
        cr_assert_eq(inflate_all(out, (size_t) k9, back, n + 1), n);
        cr_assert_eq(memcmp(in, back, n), 0);
        cr_assert_eq(http_gzip_compress_all(g, in, n, out, 16), -ENOBUFS);
        http_gzip_free(g);
        free(in);
        free(back);
}

/* As the static handler streams: 16 KiB read at a time, 16 KiB of output buffer, output taken
 * whenever there is some. */
Test(gzip, stream_round_trip) {
        size_t n = 1 << 20, used = 0, taken = 0;
        char *in = sample(n), *back = malloc(n + 1), *all = malloc(n + 4096), out[16384];
        HttpGzip *g = NULL;
        int r = 0;

        cr_assert_eq(http_gzip_new(1, &g), 0);
        while (r != 1) {
                size_t chunk = MIN(n - taken, (size_t) 16384), a, b;
                r = http_gzip_compress(g, in + taken, chunk, out, sizeof(out), taken + chunk == n, &a, &b);
                cr_assert_geq(r, 0);
                taken += a;
                cr_assert_leq(used + b, n + 4096);
                memcpy(all + used, out, b);
                used += b;
        }
        cr_assert_eq(taken, n);
        cr_assert_lt(used, n / 2);
        cr_assert_eq(inflate_all(all, used, back, n + 1), n);
        cr_assert_eq(memcmp(in, back, n), 0);
        http_gzip_free(g);
        free(in);
        free(back);
        free(all);
}

/* ---- through a connection: the static handler's gzip stream ---------------------------------- */

#include "docroot.h"
#include "memory-io.h"
#include "http/conn.h"
#include "http/server.h"

#define CONN_BIG (300 * 1024)

static char *conn_root;
static HttpSiteConfig conn_cfg;
static HttpServer *conn_server;
static char *conn_big;

static void conn_setup(void) {
        const char *err = NULL;

        conn_root = docroot_new("gzip-conn");
        conn_big = sample(CONN_BIG);
        docroot_add_file(conn_root, "big.html", conn_big, CONN_BIG, 0644);
        docroot_add_file(conn_root, "small.html", conn_big, 3000, 0644);
        cr_assert_eq(conf_table_defaults(http_site_directives, &conn_cfg), 0);
        conn_cfg.document_root = strdup(conn_root);
        conn_cfg.files.compression = HTTP_COMPRESSION_GZIP;
        cr_assert_eq(conf_lines_append(&conn_cfg.add_type, "text/html html", NULL, 0), 0);
        cr_assert_eq(http_server_new(NULL, &conn_server), 0);
        cr_assert_eq(http_server_add_site(conn_server, "main", &conn_cfg, NULL, &err), 0);
}

static void conn_teardown(void) {
        http_server_free(conn_server);
        conf_table_free(http_site_directives, &conn_cfg);
        docroot_remove(conn_root);
        free(conn_big);
}

TestSuite(gzip_conn, .init = conn_setup, .fini = conn_teardown);

/* How many of this process's descriptors have name (a file of the root) open: the stream's file
 * must be closed once the request is over, completed or not. */
static int fds_open_on(const char *name) {
        char want[4096], link[32], target[4096];
        int n = 0;

        snprintf(want, sizeof(want), "%s/%s", conn_root, name);
        for (int fd = 0; fd < 1024; fd++) {
                snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
                ssize_t k = readlink(link, target, sizeof(target) - 1);
                if (k <= 0)
                        continue;
                target[k] = 0;
                n += strcmp(target, want) == 0;
        }
        return n;
}

/* One request over memory I/O; returns what the connection wrote (malloc'd, *len). */
static char *conn_exchange(const char *req, size_t write_limit, size_t *len) {
        MemoryIo m;

        memory_io_init(&m, req, strlen(req), 0);
        m.write_limit = write_limit;
        m.eof = true;
        HttpConn *c = http_conn_new(conn_server, &memory_io, &m, NULL, 1000);
        cr_assert_not_null(c);
        (void) memory_io_run(c, &m);
        http_conn_free(c);
        *len = m.out_len;
        return m.out;
}

/* The body of a chunked response at p..end, de-chunked into out; the bytes after the last chunk. */
static size_t dechunk(const char *p, const char *end, char *out, size_t size, const char **rest) {
        size_t n = 0;
        for (;;) {
                char *e;
                unsigned long k = strtoul(p, &e, 16);
                cr_assert(e > p && e + 2 <= end && memcmp(e, "\r\n", 2) == 0, "a chunk size line");
                p = e + 2;
                if (k == 0) {
                        cr_assert(p + 2 <= end && memcmp(p, "\r\n", 2) == 0, "the last chunk ends the body");
                        *rest = p + 2;
                        return n;
                }
                cr_assert(p + k + 2 <= end && n + k <= size);
                memcpy(out + n, p, k);
                n += k;
                p += k;
                cr_assert_eq(memcmp(p, "\r\n", 2), 0);
                p += 2;
        }
}

Test(gzip_conn, large_file_streams_in_chunks) {
        const char req[] = "GET /big.html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
                           "GET /small.html HTTP/1.1\r\nHost: x\r\n\r\n";
        size_t len, n;
        char *out = conn_exchange(req, 777, &len), *gz = malloc(CONN_BIG), *back = malloc(CONN_BIG + 1);
        const char *end = out + len, *body = memmem(out, len, "\r\n\r\n", 4), *rest;

        cr_assert_not_null(body);
        cr_assert(memmem(out, (size_t) (body + 2 - out), "Transfer-Encoding: chunked\r\n", 28));
        cr_assert(memmem(out, (size_t) (body + 2 - out), "Content-Encoding: gzip\r\n", 24));
        cr_assert(memmem(out, (size_t) (body + 2 - out), "Vary: Accept-Encoding\r\n", 23));
        cr_assert_null(memmem(out, (size_t) (body + 2 - out), "Content-Length", 14));
        n = dechunk(body + 4, end, gz, CONN_BIG, &rest);
        cr_assert_eq(inflate_all(gz, n, back, CONN_BIG + 1), CONN_BIG);
        cr_assert_eq(memcmp(back, conn_big, CONN_BIG), 0);
        /* the connection went on: the next answer follows the last chunk */
        cr_assert(rest < end && strncmp(rest, "HTTP/1.1 200 OK\r\n", 17) == 0);
        cr_assert(memmem(rest, (size_t) (end - rest), "Content-Length: 3000\r\n", 22));
        cr_assert_eq(fds_open_on("big.html"), 0);
        free(out);
        free(gz);
        free(back);
}

Test(gzip_conn, small_file_whole_with_length) {
        size_t len;
        char *out = conn_exchange("GET /small.html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", 0, &len);
        char back[4000];
        const char *body = memmem(out, len, "\r\n\r\n", 4), *cl = strstr(out, "Content-Length: ");

        cr_assert_not_null(body);
        cr_assert_not_null(cl);
        size_t n = strtoul(cl + 16, NULL, 10);
        cr_assert_eq(n, len - (size_t) (body + 4 - out));
        cr_assert_eq(inflate_all(body + 4, n, back, sizeof(back)), 3000);
        cr_assert_eq(memcmp(back, conn_big, 3000), 0);
        free(out);
}

Test(gzip_conn, http10_and_head) {
        size_t len;
        char *out = conn_exchange("GET /big.html HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n", 0, &len);
        char *back = malloc(CONN_BIG + 1);
        const char *body = memmem(out, len, "\r\n\r\n", 4);

        cr_assert(memmem(out, (size_t) (body + 2 - out), "Connection: close\r\n", 19));
        cr_assert_null(memmem(out, (size_t) (body + 2 - out), "Transfer-Encoding", 17));
        cr_assert_eq(inflate_all(body + 4, len - (size_t) (body + 4 - out), back, CONN_BIG + 1), CONN_BIG);
        free(out);
        free(back);

        out = conn_exchange("HEAD /big.html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", 0, &len);
        body = memmem(out, len, "\r\n\r\n", 4);
        cr_assert_not_null(body);
        cr_assert_eq((size_t) (body + 4 - out), len, "HEAD: the head and nothing after it");
        cr_assert(memmem(out, len, "Content-Encoding: gzip\r\n", 24));
        free(out);
}

/* A client that stops reading mid-body: the connection is freed with the stream half sent; the
 * handler's finish() closes the file and frees zlib's state (a sanitizer build reports the memory,
 * the test sees the descriptor). */
Test(gzip_conn, abandoned_mid_body) {
        const char req[] = "GET /big.html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n";
        MemoryIo m;

        memory_io_init(&m, req, strlen(req), 0);
        m.budgeted = true;
        m.write_budget = 20000;
        HttpConn *c = http_conn_new(conn_server, &memory_io, &m, NULL, 1000);
        cr_assert_not_null(c);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_WRITE);
        cr_assert_eq(m.out_len, 20000);
        cr_assert(memmem(m.out, m.out_len, "Content-Encoding: gzip\r\n", 24));
        cr_assert_eq(fds_open_on("big.html"), 1, "the stream reads the file");
        http_conn_free(c);
        cr_assert_eq(fds_open_on("big.html"), 0, "finish() closed it");
        free(m.out);
}
