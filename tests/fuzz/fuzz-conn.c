/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a whole connection. Request bytes go in through the memory I/O in chunks whose
 * size the input chooses, the response bytes come out; the engine must never crash, never write
 * outside its buffers, and every response it writes must start with a status line. Requests
 * beneath /cgi-bin/ run a stand-in CGI program whose output is the request body, so the input
 * drives the CGI head parser and the response framing through the connection too. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/cgi-run.h"
#include "http/htpasswd.h"
#include "http/conn.h"
#include "memory-io.h"
#include "http/server.h"
#include "http/site-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static HttpServer *server;
static HttpSiteConfig cfg;
/* Path sections, as the loader makes them: each a whole config (the site's lines, then its own). */
static HttpSiteConfig admin_cfg, admin_css_cfg;
static HttpLocation locations[2];

/* One configuration line through its row, as a file's would go (the fuzzer's own lines are good:
 * a refused one is a bug here). */
static void apply(HttpSiteConfig *c, const char *key, const char *value) {
        const ConfItem *it = conf_table_find(http_site_directives, key);
        ConfApplyContext ctx = { .file = "fuzz.conf", .line = 1 };
        char *why = NULL;

        if (!it || conf_item_apply_at(it, c, value, &ctx, &why) < 0) {
                fprintf(stderr, "fuzz-conn: %s = %s: %s\n", key, value, why ? why : "unknown key");
                abort();
        }
}

/* What every site config of the fuzzer has: the request-processing steps that apply to any path. */
static void site_lines(HttpSiteConfig *c, const char *root) {
        char p[PATH_MAX + 32];

        if (conf_table_defaults(http_site_directives, c) < 0)
                abort();
        c->document_root = strdup(root);
        snprintf(p, sizeof(p), "/cgi-bin/ %s/cgi", root);
        apply(c, "ScriptAlias", p);
        snprintf(p, sizeof(p), "/al/ %s/dir", root);
        apply(c, "Alias", p);
        apply(c, "Redirect", "permanent /old/ http://new.example/n/");
        apply(c, "Redirect", "gone /gone");
        apply(c, "Header", "always set Strict-Transport-Security \"max-age=63072000; includeSubDomains\"");
        apply(c, "Header", "append Cache-Control no-transform");
        apply(c, "ExpiresActive", "On");
        apply(c, "ExpiresByType", "text/html \"access plus 1 hour\"");
        apply(c, "ErrorDocument", "404 /index.html");
        apply(c, "ErrorDocument", "405 \"no such method here\"");
        apply(c, "Compression", "gzip");
        apply(c, "CompressionMinLength", "1");
        apply(c, "PrecompressedFiles", "br gzip");
}

/* The stand-in program: writes its stdin (the spooled body, at most what a pipe holds) to stdout
 * and ends; the answer is ready at once. */
static int fake_start(void *userdata, const struct CgiLaunchRequest *req) {
        char buf[60000];
        size_t n = 0;
        ssize_t k;
        int answer[2];

        while (req->stdin_fd >= 0 && n < sizeof(buf) && (k = read(req->stdin_fd, buf + n, sizeof(buf) - n)) > 0)
                n += (size_t) k;
        if (n > 0 && write(req->stdout_fd, buf, n) != (ssize_t) n)
                abort();
        if (pipe2(answer, O_CLOEXEC | O_NONBLOCK) < 0)
                abort();
        if (write(answer[1], "!", 1) != 1)
                abort();
        close(answer[1]);
        return answer[0];
}

static int fake_finish(void *userdata, int fd, pid_t *ret_pid) {
        char c;
        if (read(fd, &c, 1) != 1)
                return -EAGAIN;
        *ret_pid = 1;
        return 0;
}

static const HttpCgiLauncher fake_launcher = { .start = fake_start, .finish = fake_finish };

static void setup(void) {
        /* TMPDIR: run-fuzzer points it at a folder it removes afterwards. */
        const char *tmp = getenv("TMPDIR");
        static char root[PATH_MAX];
        const char *err;
        char p[PATH_MAX + 32];

        snprintf(root, sizeof(root), "%s/mpmd-fuzz-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
        if (!mkdtemp(root))
                abort();
        snprintf(p, sizeof(p), "%s/index.html", root);
        FILE *f = fopen(p, "we");
        if (!f)
                abort();
        fputs("<h1>fuzz</h1>\n", f);
        fclose(f);
        snprintf(p, sizeof(p), "%s/dir", root);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/cgi", root);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/cgi/run", root);
        f = fopen(p, "we");
        if (!f)
                abort();
        fclose(f);
        site_lines(&cfg, root);
        site_lines(&admin_cfg, root);
        apply(&admin_cfg, "Header", "set X-Frame-Options DENY");
        apply(&admin_cfg, "ErrorDocument", "403 https://login.example/");
        apply(&admin_cfg, "DirectoryIndex", "none.html");
        apply(&admin_cfg, "Options", "Indexes");
        /* Basic auth: the office's network without a password, anyone else as alice ("secret", a
         * bcrypt of the lowest cost: the fuzzer verifies on every try). The table is what the
         * supervisor would have loaded from the file. */
        apply(&admin_cfg, "AuthType", "Basic");
        apply(&admin_cfg, "AuthName", "\"admin\"");
        apply(&admin_cfg, "AuthUserFile", "/nonexistent/htpasswd");
        apply(&admin_cfg, "Require", "ip 10.0.0.0/8");
        apply(&admin_cfg, "Require", "valid-user");
        static const char users[] = "alice:$2y$04$Ax2Y9o8Cd4PpFuLayDT8puHOpAEgpcqFceR7s4rmgn53PqS57PJDu\n";
        unsigned bad_line;
        char *why = NULL;
        if (http_htpasswd_parse(users, sizeof(users) - 1, &admin_cfg.access.user_file.table, &bad_line, &why) < 0)
                abort();
        site_lines(&admin_css_cfg, root);
        apply(&admin_css_cfg, "Header", "unset Cache-Control");
        apply(&admin_css_cfg, "DefaultType", "text/css");
        apply(&admin_css_cfg, "FallbackResource", "/index.html");
        /* Longest first, as the loader sorts them. */
        locations[0] = (HttpLocation) { .prefix = "/admin/css/", .prefix_len = 11, .cfg = &admin_css_cfg };
        locations[1] = (HttpLocation) { .prefix = "/admin", .prefix_len = 6, .cfg = &admin_cfg };
        cfg.locations = (HttpLocations) { .items = locations, .n = 2 };
        if (http_server_new(NULL, &server) < 0 || http_server_add_site(server, "fuzz", &cfg, NULL, &err) < 0)
                abort();
        http_server_set_cgi_launcher(server, &fake_launcher);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        MemoryIo m;

        if (!server)
                setup();
        if (size < 1)
                return 0;
        memory_io_init(&m, (const char *) data + 1, size - 1, data[0] % 17);
        m.eof = data[0] & 0x80;
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        if (!c)
                abort();
        HttpConnWant w = memory_io_run(c, &m);
        /* A program's output is all in its pipe, which then ends: each run makes progress. */
        for (int i = 0; i < 10000 && w == HTTP_CONN_WANT_CGI; i++)
                w = memory_io_run(c, &m);
        if (w != HTTP_CONN_DONE)
                (void) http_conn_timeout(c, http_conn_deadline(c));
        if (m.out_len > 0 && (m.out_len < 12 || memcmp(m.out, "HTTP/1.1 ", 9) != 0))
                abort();
        http_conn_free(c);
        memory_io_done(&m);
        return 0;
}
