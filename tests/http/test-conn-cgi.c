/* SPDX-License-Identifier: MIT */
/* CGI requests through the connection state machine, with a launcher that runs no program: it reads
 * what the connection gave it (environment, spooled body) and writes a canned output into the
 * program's stdout pipe, or keeps the pipe open to play a slow program. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpm/cgi-launcher.h"
#include "http/cgi-run.h"
#include "mpm/cgi-wire.h"
#include "http/conn.h"
#include "docroot.h"
#include "shared/fd-pass.h"
#include "memory-io.h"
#include "http/server.h"
#include "http/site-config.h"

static char *root;
static HttpSiteConfig cfg;
static HttpServer *server;

/* What the fake launcher saw and does. */
static struct {
        int calls;
        int fail_start;      /* -errno for start() to return */
        int fail;            /* -errno for finish() to answer instead of a pid */
        const char *output;  /* written to stdout; "%BODY%" in it is replaced by stdin's content */
        bool keep_open;      /* keep a copy of stdout's write end in held_stdout */
        int held_stdout;
        char env[8192];      /* the environment, NULs turned into '\n' */
        char body[65536];
        size_t body_len;
} fake;

/* start(): does at once what a program would, and returns a pipe with the "answer" in it. */
static int fake_start(void *userdata, const struct CgiLaunchRequest *req) {
        char out[70000];
        size_t n = 0;
        int answer[2];

        fake.calls++;
        if (fake.fail_start)
                return fake.fail_start;
        cr_assert_eq(pipe2(answer, O_CLOEXEC | O_NONBLOCK), 0);
        cr_assert_eq(write(answer[1], "!", 1), 1);
        close(answer[1]);
        if (fake.fail)
                return answer[0];
        memcpy(fake.env, req->env, MIN(req->env_len, sizeof(fake.env) - 1));
        for (size_t i = 0; i < MIN(req->env_len, sizeof(fake.env) - 1); i++)
                if (fake.env[i] == 0)
                        fake.env[i] = '\n';
        fake.body_len = 0;
        if (req->stdin_fd >= 0) {
                ssize_t k;
                while ((k = read(req->stdin_fd, fake.body + fake.body_len, sizeof(fake.body) - fake.body_len)) > 0)
                        fake.body_len += (size_t) k;
        }
        const char *mark = strstr(fake.output, "%BODY%");
        if (mark) {
                n = (size_t) (mark - fake.output);
                memcpy(out, fake.output, n);
                memcpy(out + n, fake.body, fake.body_len);
                n += fake.body_len;
                strcpy(out + n, mark + 6);
                n += strlen(mark + 6);
        } else {
                n = strlen(fake.output);
                memcpy(out, fake.output, n);
        }
        cr_assert_eq(write(req->stdout_fd, out, n), (ssize_t) n);
        if (fake.keep_open)
                fake.held_stdout = fcntl(req->stdout_fd, F_DUPFD_CLOEXEC, 3);
        return answer[0];
}

static int fake_finish(void *userdata, int fd, pid_t *ret_pid) {
        char c;

        if (read(fd, &c, 1) != 1)
                return -EAGAIN;
        if (fake.fail)
                return fake.fail;
        *ret_pid = 4242;
        return 0;
}

static const HttpCgiLauncher fake_launcher = { .start = fake_start, .finish = fake_finish };

static void setup(void) {
        const char *err = NULL;
        char *why = NULL;
        char p[512];

        root = docroot_new("conn-cgi");
        docroot_add_dir(root, "cgi", 0755);
        docroot_add_text(root, "cgi/run.sh", "#!/bin/sh\n");

        cr_assert_eq(conf_table_defaults(http_site_directives, &cfg), 0);
        cfg.document_root = strdup(root);
        snprintf(p, sizeof(p), "/cgi-bin/ %s/cgi", root);
        cr_assert_eq(http_script_alias_add(&cfg.script_alias, p, true, NULL, 0, &why), 0, "%s", why);
        cr_assert_eq(http_server_new(NULL, &server), 0);
        cr_assert_eq(http_server_add_site(server, "main", &cfg, NULL, &err), 0, "%s", err);
        http_server_set_cgi_launcher(server, &fake_launcher);
        memset(&fake, 0, sizeof(fake));
        fake.held_stdout = -1;
        fake.output = "Content-Type: text/plain\r\n\r\nhello";
}

static void teardown(void) {
        if (fake.held_stdout >= 0)
                close(fake.held_stdout);
        http_server_free(server);
        conf_table_free(http_site_directives, &cfg);
        docroot_remove(root);
        root = NULL;
}

TestSuite(conn_cgi, .init = setup, .fini = teardown);

static char *exchange(const char *input, size_t chunk, size_t write_limit) {
        MemoryIo m;
        memory_io_init(&m, input, strlen(input), chunk);
        m.write_limit = write_limit;
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        cr_assert_not_null(c);
        memory_io_run(c, &m);
        http_conn_free(c);
        char *out = strndup(m.out ? m.out : "", m.out_len);
        memory_io_done(&m);
        return out;
}

Test(conn_cgi, output_without_length_is_chunked) {
        char *out = exchange("GET /cgi-bin/run.sh/more/path?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", 0, 0);
        cr_assert(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", out);
        cr_assert(strstr(out, "\r\nTransfer-Encoding: chunked\r\n"), "%s", out);
        cr_assert(strstr(out, "\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "%s", out);
        cr_assert(strstr(fake.env, "\nSCRIPT_NAME=/cgi-bin/run.sh\n"), "%s", fake.env);
        cr_assert(strstr(fake.env, "\nPATH_INFO=/more/path\n"), "%s", fake.env);
        cr_assert(strstr(fake.env, "\nQUERY_STRING=x=1\n"), "%s", fake.env);
        cr_assert_null(strstr(fake.env, "CONTENT_LENGTH"), "%s", fake.env);
        free(out);
}

Test(conn_cgi, chunked_body_is_spooled_at_every_split_point) {
        const char *req = "POST /cgi-bin/run.sh HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: x\r\n\r\n"
                          "GET /cgi-bin/run.sh HTTP/1.1\r\nHost: h\r\n\r\n";
        fake.output = "Content-Type: text/plain\r\nContent-Length: 7\r\n\r\n%BODY%";
        for (size_t chunk = 1; chunk <= strlen(req); chunk++) {
                fake.calls = 0;
                char *out = exchange(req, chunk, 0);
                cr_assert(strstr(out, "Content-Length: 7\r\n\r\nabcdefg"), "chunk %zu: %s", chunk, out);
                cr_assert_eq(fake.calls, 2, "chunk %zu", chunk); /* the pipelined request too */
                free(out);
        }
        cr_assert(strstr(fake.env, "\nCONTENT_LENGTH=7\n") == NULL, "the second request has no body");
}

Test(conn_cgi, content_length_body_and_expect_continue) {
        fake.output = "Status: 201 Made\r\nContent-Type: text/plain\r\n\r\n[%BODY%]";
        char *out = exchange("PUT /cgi-bin/run.sh HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                             "Expect: 100-continue\r\n\r\nhello",
                             0, 0);
        cr_assert(strncmp(out, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Made\r\n", 44) == 0, "%s", out);
        cr_assert(strstr(out, "[hello]"), "%s", out);
        cr_assert(strstr(fake.env, "\nCONTENT_LENGTH=5\n"), "%s", fake.env);
        cr_assert(strstr(fake.env, "\nREQUEST_METHOD=PUT\n"), "%s", fake.env);
        free(out);
}

Test(conn_cgi, slow_client_gets_every_byte) {
        fake.output = "Content-Type: text/plain\r\n\r\n0123456789abcdefghij";
        char *whole = exchange("GET /cgi-bin/run.sh HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 0, 0);
        char *slow = exchange("GET /cgi-bin/run.sh HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 0, 1);
        /* Date may differ by a second: compare the body part. */
        cr_assert(strstr(slow, "\r\n\r\n14\r\n0123456789abcdefghij\r\n0\r\n\r\n"), "%s", slow);
        cr_assert_eq(strlen(slow), strlen(whole));
        free(whole);
        free(slow);
}

/* A program that wrote output and keeps its stdout open: the connection waits for more. */
static HttpConn *start_slow_program(const char *req, const char *output, MemoryIo *m) {
        fake.output = output;
        fake.keep_open = true;
        memory_io_init(m, req, strlen(req), 0);
        HttpConn *c = http_conn_new(server, &memory_io, m, NULL, 1000);
        cr_assert_eq(memory_io_run(c, m), HTTP_CONN_WANT_CGI);
        return c;
}

Test(conn_cgi, waits_for_a_slow_program_then_times_out_with_504) {
        MemoryIo m;
        HttpConn *c = start_slow_program("GET /cgi-bin/run.sh HTTP/1.1\r\nHost: h\r\n\r\n", "Content-Type: text/pl",
                                         &m);

        cr_assert_geq(http_conn_cgi_fd(c), 0);
        cr_assert_eq(m.out_len, 0); /* no head yet: nothing sent */
        usec_t deadline = http_conn_deadline(c);
        cr_assert_eq(deadline, 1000 + cfg.cgi_timeout);
        /* Still waiting: the program's pipe has nothing new. */
        cr_assert_eq(http_conn_run(c, 2000), HTTP_CONN_WANT_CGI);
        http_conn_timeout(c, deadline);
        cr_assert(m.out_len > 0 && strncmp(m.out, "HTTP/1.1 504 ", 13) == 0, "%.*s", (int) m.out_len, m.out);
        cr_assert(memmem(m.out, m.out_len, "Connection: close", 17));
        cr_assert_eq(http_conn_cgi_fd(c), -1);
        http_conn_free(c);
        memory_io_done(&m);
}

Test(conn_cgi, output_that_comes_later_is_relayed) {
        MemoryIo m;
        HttpConn *c = start_slow_program("GET /cgi-bin/run.sh HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                                         "Content-Type: text/plain\r\n", &m);
        cr_assert_eq(write(fake.held_stdout, "\r\nlate", 6), 6);
        cr_assert_eq(http_conn_run(c, 1001), HTTP_CONN_WANT_CGI);
        cr_assert(memmem(m.out, m.out_len, "4\r\nlate\r\n", 9), "%.*s", (int) m.out_len, m.out);
        close(fake.held_stdout);
        fake.held_stdout = -1;
        cr_assert_eq(http_conn_run(c, 1002), HTTP_CONN_DONE);
        cr_assert(m.out_len > 5 && memcmp(m.out + m.out_len - 5, "0\r\n\r\n", 5) == 0);
        http_conn_free(c);
        memory_io_done(&m);
}

Test(conn_cgi, errors_become_statuses) {
        static const struct {
                const char *path;
                int fail_start, fail;
                const char *output;
                const char *status;
        } cases[] = {
                { "/cgi-bin/nope.sh", 0, 0, "", "404" },
                { "/cgi-bin/", 0, 0, "", "403" },               /* the directory itself */
                { "/cgi-bin/run.sh", 0, -EACCES, "", "500" },   /* exec failed */
                { "/cgi-bin/run.sh", 0, -EBUSY, "", "503" },    /* launcher draining */
                { "/cgi-bin/run.sh", -ECONNRESET, 0, "", "503" }, /* launcher gone */
                { "/cgi-bin/run.sh", 0, 0, "no colon here\r\n\r\n", "500" },
                { "/cgi-bin/run.sh", 0, 0, "", "500" },         /* no output at all */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char req[256];
                fake.fail_start = cases[i].fail_start;
                fake.fail = cases[i].fail;
                fake.output = cases[i].output;
                snprintf(req, sizeof(req),
                         "GET %s HTTP/1.1\r\nHost: h\r\n\r\nGET /cgi-bin/nope HTTP/1.1\r\nHost: h\r\n\r\n",
                         cases[i].path);
                char *out = exchange(req, 0, 0);
                char want[32];
                snprintf(want, sizeof(want), "HTTP/1.1 %s ", cases[i].status);
                cr_assert(strncmp(out, want, strlen(want)) == 0, "case %zu: %s", i, out);
                /* The connection goes on: the second request is answered too. */
                cr_assert(strstr(out + 1, "HTTP/1.1 404 "), "case %zu: %s", i, out);
                free(out);
        }
}

Test(conn_cgi, body_over_the_limit_is_413_without_a_launch) {
        HttpServer *s;
        const char *err = NULL;

        cfg.limit_request_body = 4;
        cr_assert_eq(http_server_new(NULL, &s), 0);
        cr_assert_eq(http_server_add_site(s, "main", &cfg, NULL, &err), 0);
        http_server_set_cgi_launcher(s, &fake_launcher);
        static const char *reqs[] = {
                "POST /cgi-bin/run.sh HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
                "POST /cgi-bin/run.sh HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                "POST /index.html HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(reqs); i++) {
                MemoryIo m;
                memory_io_init(&m, reqs[i], strlen(reqs[i]), 0);
                HttpConn *c = http_conn_new(s, &memory_io, &m, NULL, 1000);
                memory_io_run(c, &m);
                cr_assert(m.out_len > 13 && strncmp(m.out, "HTTP/1.1 413 ", 13) == 0, "%zu: %.*s", i, (int) m.out_len,
                          m.out);
                http_conn_free(c);
                memory_io_done(&m);
        }
        cr_assert_eq(fake.calls, 0);
        http_server_free(s);
}

/* ---- the real launcher client, with a launcher whose queue is full ------------------------- */

/* The socket the engine sends launches to, and the launcher's end, with nothing reading it yet. */
static int launcher_sock = -1, launcher_peer = -1;
static HttpCgiLauncher launcher_client;

/* Fill the launcher's queue until a send would block; returns how many messages wait in it. */
static unsigned fill_launcher_queue(void) {
        int pair[2];
        unsigned queued = 0;
        char b = 'x';

        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair), 0);
        launcher_sock = pair[0];
        launcher_peer = pair[1];
        cgi_launcher_client(&launcher_sock, &launcher_client);
        http_server_set_cgi_launcher(server, &launcher_client);
        while (send(launcher_sock, &b, 1, MSG_DONTWAIT) == 1)
                queued++;
        cr_assert_eq(errno, EAGAIN);
        cr_assert_gt(queued, 0);
        return queued;
}

static void close_launcher(void) {
        launcher_sock = safe_close(launcher_sock);
        launcher_peer = safe_close(launcher_peer);
}

/* With the queue full, http_conn_run() returns at once and waits for the launcher's socket to be
 * writable (cgi_launch_send() used to poll() for it for up to 10 s inside the event loop); once the
 * launcher drains its queue the request goes out and the program's output is relayed. */
Test(conn_cgi, full_launcher_queue_is_waited_for_without_blocking, .timeout = 5) {
        unsigned queued = fill_launcher_queue();
        const char *req = "GET /cgi-bin/run.sh HTTP/1.1\r\nHost: h\r\n\r\n";
        MemoryIo m;

        memory_io_init(&m, req, strlen(req), 0);
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        cr_assert_not_null(c);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_FD_WRITE);
        cr_assert_eq(m.out_len, 0);
        cr_assert_eq(http_conn_deadline(c), 1000 + cfg.cgi_timeout);
        int fd = http_conn_wait_fd(c);
        cr_assert_geq(fd, 0);
        cr_assert_neq(fd, launcher_sock); /* its own descriptor, so that each request can be watched */
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        cr_assert_eq(poll(&p, 1, 0), 0);
        /* Still full: it waits again. */
        cr_assert_eq(http_conn_run(c, 1001), HTTP_CONN_WANT_FD_WRITE);

        /* The launcher takes what was queued before: the socket becomes writable. */
        char b;
        for (unsigned i = 0; i < queued; i++)
                cr_assert_eq(recv(launcher_peer, &b, 1, MSG_DONTWAIT), 1);
        cr_assert_eq(poll(&p, 1, 1000), 1);
        /* Sent: now it waits for the launcher's answer. */
        cr_assert_eq(http_conn_run(c, 1002), HTTP_CONN_WANT_FD_READ);

        /* Play the launcher: take the request and its descriptors, be the program, answer. */
        static char msg[CGI_WIRE_MESSAGE_MAX];
        int fds[FD_PASS_MAX];
        size_t n_fds = 0;
        cr_assert_gt(fd_pass_receive(launcher_peer, msg, sizeof(msg), fds, FD_PASS_MAX, &n_fds, MSG_DONTWAIT), 0);
        cr_assert_geq(n_fds, CGI_WIRE_FDS - 1);
        const char out[] = "Content-Type: text/plain\r\n\r\nhello";
        cr_assert_eq(write(fds[FD_STDOUT], out, sizeof(out) - 1), (ssize_t) sizeof(out) - 1);
        CgiWireReply answer = { .error = 0, .pid = 4242 };
        cr_assert_eq(send(fds[FD_REPLY], &answer, sizeof(answer), 0), (ssize_t) sizeof(answer));
        fd_pass_close_all(fds, n_fds);

        cr_assert_eq(http_conn_run(c, 1003), HTTP_CONN_WANT_READ);
        cr_assert(m.out_len > 13 && strncmp(m.out, "HTTP/1.1 200 ", 13) == 0, "%.*s", (int) m.out_len, m.out);
        cr_assert(memmem(m.out, m.out_len, "5\r\nhello\r\n0\r\n\r\n", 15), "%.*s", (int) m.out_len, m.out);
        http_conn_free(c);
        memory_io_done(&m);
        close_launcher();
}

/* A queue that stays full is bounded by CGITimeout: no program started in time, 504. */
Test(conn_cgi, full_launcher_queue_times_out_with_504, .timeout = 5) {
        (void) fill_launcher_queue();
        const char *req = "GET /cgi-bin/run.sh HTTP/1.1\r\nHost: h\r\n\r\n";
        MemoryIo m;

        memory_io_init(&m, req, strlen(req), 0);
        HttpConn *c = http_conn_new(server, &memory_io, &m, NULL, 1000);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_FD_WRITE);
        usec_t deadline = http_conn_deadline(c);
        cr_assert_eq(deadline, 1000 + cfg.cgi_timeout);
        http_conn_timeout(c, deadline);
        cr_assert(m.out_len > 13 && strncmp(m.out, "HTTP/1.1 504 ", 13) == 0, "%.*s", (int) m.out_len, m.out);
        cr_assert(memmem(m.out, m.out_len, "Connection: close", 17));
        cr_assert_eq(http_conn_wait_fd(c), -1);
        http_conn_free(c);
        memory_io_done(&m);
        close_launcher();
}
