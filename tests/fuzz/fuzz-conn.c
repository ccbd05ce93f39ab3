/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a whole connection. Request bytes go in through the memory I/O in chunks whose
 * size the input chooses, the response bytes come out; the engine must never crash, never write
 * outside its buffers, and every response it writes must start with a status line. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "memory-io.h"
#include "server.h"
#include "site-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static HttpServer *server;
static HttpSiteConfig cfg;

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
        if (conf_table_defaults(http_site_directives, &cfg) < 0)
                abort();
        cfg.document_root = strdup(root);
        if (http_server_new(NULL, &server) < 0 || http_server_add_site(server, "fuzz", &cfg, NULL, &err) < 0)
                abort();
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
        if (w != HTTP_CONN_DONE)
                (void) http_conn_timeout(c, http_conn_deadline(c));
        if (m.out_len > 0 && (m.out_len < 12 || memcmp(m.out, "HTTP/1.1 ", 9) != 0))
                abort();
        http_conn_free(c);
        memory_io_done(&m);
        return 0;
}
