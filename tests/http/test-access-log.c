/* SPDX-License-Identifier: MIT */
/* The access log: Apache's formats line by line (expected lines written from Apache's
 * documentation), escaping, format errors, the buffered writer (nothing before a flush, whole
 * lines, once a second, reopen after rename), the per-site logs of a server, and a request through
 * a whole connection. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/access-log.h"
#include "http/conn.h"
#include "memory-io.h"
#include "http/server-logs.h"
#include "http/site-config.h"

#define T_2000 971211336ULL /* 10/Oct/2000:13:55:36 -0700 */
/* The line of Apache's documentation for its example request, in the common format. */
#define LINE "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326\n"

static char dir[] = "/tmp/mpmd-alog-XXXXXX";

static void setup(void) {
        /* Apache's example lines are at -0700; %t is local time. */
        setenv("TZ", "XST+7", 1);
        tzset();
        cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) !system(cmd);
        strcpy(dir, "/tmp/mpmd-alog-XXXXXX");
}

TestSuite(access_log, .init = setup, .fini = teardown);

/* Header fields for the entries: "Name: value" strings. */
typedef struct Fields {
        const char *in[8];
        const char *out[8];
} Fields;

static bool lookup(const char *const *list, const char *name, size_t index, AccessLogText *ret) {
        size_t n = strlen(name);
        for (size_t i = 0; i < 8 && list[i]; i++)
                if (strncasecmp(list[i], name, n) == 0 && list[i][n] == ':' && index-- == 0) {
                        const char *v = list[i] + n + 1;
                        v += strspn(v, " ");
                        *ret = (AccessLogText) { v, strlen(v) };
                        return true;
                }
        return false;
}

static bool lookup_in(const void *userdata, const char *name, size_t index, AccessLogText *ret) {
        return lookup(((const Fields *) userdata)->in, name, index, ret);
}

static bool lookup_out(const void *userdata, const char *name, size_t index, AccessLogText *ret) {
        return lookup(((const Fields *) userdata)->out, name, index, ret);
}

static AccessLogText text(const char *s) {
        return (AccessLogText) { s, s ? strlen(s) : 0 };
}

/* Apache's documentation example: GET /apache_pb.gif HTTP/1.0 from 127.0.0.1, 200, 2326 bytes. */
static AccessLogEntry example(const Fields *f) {
        return (AccessLogEntry) {
                .peer = "127.0.0.1",
                .peer_port = 51234,
                .local_port = 80,
                .time = T_2000 * USEC_PER_SEC + 123456,
                .duration = 2500123,
                .vhost = "www.example.com",
                .status = 200,
                .bytes = 2326,
                .request_line = text("GET /apache_pb.gif HTTP/1.0"),
                .method = text("GET"),
                .protocol = text("HTTP/1.0"),
                .path = text("/apache_pb.gif"),
                .request_header = lookup_in,
                .response_header = lookup_out,
                .userdata = f,
        };
}

/* Compile spec, format e, compare with want (without its '\n'). */
static void assert_line(const char *spec, const AccessLogEntry *e, const char *want) {
        AccessLogFormat *f = NULL;
        char *err = NULL;
        char buf[4096];

        cr_assert_eq(access_log_format_compile(spec, &f, &err), 0, "%s: %s", spec, err ? err : "");
        size_t n = access_log_format_line(f, e, buf, sizeof(buf));
        cr_assert(n < sizeof(buf));
        cr_assert_eq(buf[n - 1], '\n', "a line ends with a newline");
        buf[n - 1] = 0;
        cr_assert_str_eq(buf, want, "format %s:\n got  %s\n want %s", spec, buf, want);
        access_log_format_free(f);
}

Test(access_log, common) {
        Fields f = { .in = { "Referer: http://www.example.com/start.html" } };
        AccessLogEntry e = example(&f);
        assert_line("common", &e,
                    "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326");
}

Test(access_log, user_when_authenticated) {
        Fields f = {};
        AccessLogEntry e = example(&f);
        e.user = "frank";
        assert_line("common", &e,
                    "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326");
        /* a name of a user file has no control character, but may hold quotes and backslashes */
        e.user = "a \"b\"\\c";
        assert_line("%u", &e, "a \\\"b\\\"\\\\c");
        e.user = NULL;
        assert_line("%l %u", &e, "- -");
}

/* Apache's %{...}t: a strftime format, the epoch in a unit, or a fraction, of the request's start or
 * (end:) of the response's end. The example began at 13:55:36.123456 and took 2.500123 s. */
Test(access_log, times_as_apache_writes_them) {
        Fields f = {};
        AccessLogEntry e = example(&f);
        assert_line("%{%Y-%m-%d %H:%M:%S}t", &e, "2000-10-10 13:55:36");
        assert_line("%{begin:%H:%M:%S}t.%{msec_frac}t", &e, "13:55:36.123");
        assert_line("%{end:%H:%M:%S}t.%{end:usec_frac}t", &e, "13:55:38.623579");
        assert_line("%{sec}t %{msec}t %{usec}t", &e, "971211336 971211336123 971211336123456");
        assert_line("%{end:sec}t %{begin:usec_frac}t", &e, "971211338 123456");
        assert_line("%{end:}t %{begin:}t", &e, "[10/Oct/2000:13:55:38 -0700] [10/Oct/2000:13:55:36 -0700]");
        assert_line("%{%z}t", &e, "-0700");
}

Test(access_log, the_connections_peer_behind_a_proxy) {
        Fields f = {};
        AccessLogEntry e = example(&f);
        assert_line("%a %{c}a %h %{c}h", &e, "127.0.0.1 127.0.0.1 127.0.0.1 127.0.0.1");
        e.peer = "203.0.113.9"; /* RemoteIPHeader's client */
        e.conn_peer = "10.0.0.2";
        assert_line("%a %{c}a %h %{c}h", &e, "203.0.113.9 10.0.0.2 203.0.113.9 10.0.0.2");
}

Test(access_log, combined) {
        Fields f = { .in = { "Referer: http://www.example.com/start.html",
                             "User-Agent: Mozilla/4.08 [en] (Win98; I ;Nav)" } };
        AccessLogEntry e = example(&f);
        assert_line("combined", &e,
                    "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 "
                    "\"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"");
}

Test(access_log, combined_without_referer_or_agent) {
        Fields f = {};
        AccessLogEntry e = example(&f);
        assert_line("combined", &e,
                    "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 \"-\" \"-\"");
}

Test(access_log, vhost_combined) {
        Fields f = { .in = { "user-agent: curl/7.88.1" } };
        AccessLogEntry e = example(&f);
        assert_line("vhost_combined", &e,
                    "www.example.com:80 127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" "
                    "200 2326 \"-\" \"curl/7.88.1\"");
}

Test(access_log, the_same_as_a_percent_format) {
        Fields f = {};
        AccessLogEntry e = example(&f);
        assert_line("%h %l %u %t \"%r\" %>s %b", &e,
                    "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326");
        /* As Apache's configuration writes it: in quotes, with \" inside; but quotes that do not
         * enclose the whole format are literal. */
        assert_line("\"%>s\" \"%b\"", &e, "\"200\" \"2326\"");
        assert_line("\"%h %l %u %t \\\"%r\\\" %>s %b\"", &e,
                    "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326");
}

Test(access_log, bytes_dash_for_zero) {
        Fields f = {};
        AccessLogEntry e = example(&f);
        e.bytes = 0;
        e.status = 304;
        assert_line("%s %>s %b %B", &e, "304 304 - 0");
        e.bytes = 7;
        assert_line("%b %B", &e, "7 7");
}

Test(access_log, logio_bytes_and_connection_status) {
        Fields f = {};
        AccessLogEntry e = example(&f);
        e.bytes_out = 2597;
        e.bytes_in = 97;
        e.conn_status = 'X';
        assert_line("%O %I %X %b", &e, "2597 97 X 2326");
        e.conn_status = '+';
        assert_line("%X", &e, "+");
        e.conn_status = 0;
        e.bytes_out = e.bytes_in = 0;
        assert_line("%X %O %I", &e, "- 0 0");
}

Test(access_log, durations_and_ports) {
        Fields f = {};
        AccessLogEntry e = example(&f);
        assert_line("%D %T %{ms}T %{us}T %{s}T", &e, "2500123 2 2500 2500123 2");
        assert_line("%p %{canonical}p %{local}p %{remote}p", &e, "80 80 80 51234");
        char want[64];
        snprintf(want, sizeof(want), "pid %d 100%%", (int) getpid());
        assert_line("pid %P 100%%", &e, want);
}

Test(access_log, request_parts) {
        Fields f = {};
        AccessLogEntry e = example(&f);
        e.request_line = text("GET /a%20b/../%7Efoo?x=1&y=%22 HTTP/1.1");
        e.path = text("/a%20b/../%7Efoo");
        e.query = text("x=1&y=%22");
        e.protocol = text("HTTP/1.1");
        assert_line("%m|%U|%q|%H|%v", &e, "GET|/~foo|?x=1&y=%22|HTTP/1.1|www.example.com");
        e.query = text("");
        assert_line("[%q]", &e, "[?]");
        e.query = (AccessLogText) {};
        assert_line("[%q]", &e, "[]");
}

Test(access_log, absent_parts_are_dashes) {
        AccessLogEntry e = { .status = 400, .time = T_2000 * USEC_PER_SEC };
        assert_line("%h \"%r\" %m %U %H %v %{Referer}i %{ETag}o %b", &e, "- \"-\" - - - - - - -");
}

Test(access_log, escaping_like_ap_escape_logitem) {
        Fields f = { .in = { "User-Agent: say \"hi\"\\ \x01\x7f\xe9", "X-Empty: " } };
        AccessLogEntry e = example(&f);
        e.request_line = text("GET /\"quoted\"\\\t\x1b\b\v\n\r HTTP/1.1");
        assert_line("[%r]", &e, "[GET /\\\"quoted\\\"\\\\\\t\\x1b\\b\\v\\n\\r HTTP/1.1]");
        assert_line("%>s \"%{User-Agent}i\"", &e, "200 \"say \\\"hi\\\"\\\\ \\x01\\x7f\\xe9\"");
        assert_line("[%{X-Empty}i]", &e, "[]");
        e.peer = "evil\"host";
        assert_line("%h", &e, "evil\\\"host");
}

Test(access_log, headers_in_and_out) {
        Fields f = {
                .in = { "Accept: text/html", "accept: text/plain" },
                .out = { "Content-Type: text/html; charset=utf-8", "Set-Cookie: a=1", "Set-Cookie: b=2",
                         "Vary: Accept", "Vary: Range" },
        };
        AccessLogEntry e = example(&f);
        /* Apache merges repeated request fields; of response fields it takes the first, except
         * Set-Cookie; Content-Type loses its parameters. */
        assert_line("%{accept}i|%{Content-Type}o|%{Set-Cookie}o|%{Vary}o", &e,
                    "text/html, text/plain|text/html|a=1, b=2|Accept");
}

Test(access_log, literal_escapes) {
        Fields f = {};
        AccessLogEntry e = example(&f);
        assert_line("%>s\\t%b\\\\x\\q", &e, "200\t2326\\x\\q");
}

Test(access_log, line_length_is_reported_like_snprintf) {
        AccessLogFormat *f;
        Fields fl = {};
        AccessLogEntry e = example(&fl);
        char small[10];

        cr_assert_eq(access_log_format_compile("common", &f, NULL), 0);
        size_t n = access_log_format_line(f, &e, small, sizeof(small));
        cr_assert_eq(n, strlen(LINE));
        cr_assert(memcmp(small, "127.0.0.1 ", 10) == 0);
        access_log_format_free(f);
}

typedef struct BadFormat {
        char spec[160];
        char error[64]; /* part of the message */
} BadFormat;

static const BadFormat bad_formats[] = {
        { "%Z", "unrecognized directive %Z" },
        { "%h %{Referer", "without a closing" },
        { "%h %", "incomplete" },
        { "comon", "unknown log format \"comon\"" },
        { "%{%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y%Y}t", "at most 128 bytes" },
        { "%{foo}p", "canonical, local or remote" },
        { "%{x}a", "expected %a or %{c}a" },
        { "%{h}T", "ms, us or s" },
        { "%400{User-Agent}i", "status conditions" },
        { "%i", "needs a header name" },
        { "%{}o", "needs a header name" },
};

ParameterizedTestParameters(access_log, bad_format) {
        return cr_make_param_array(BadFormat, bad_formats, sizeof(bad_formats) / sizeof(bad_formats[0]));
}

ParameterizedTest(BadFormat *b, access_log, bad_format) {
        AccessLogFormat *f = NULL;
        char *err = NULL;

        cr_assert_eq(access_log_format_compile(b->spec, &f, &err), -EINVAL, "%s", b->spec);
        cr_assert_null(f);
        cr_assert_not_null(err);
        cr_assert(strstr(err, b->error), "%s: %s", b->spec, err);
        free(err);
}

/* ---- the writer ---------------------------------------------------------------------------- */

static char *slurp(const char *path, size_t *ret_len) {
        FILE *f = fopen(path, "re");
        if (!f) {
                *ret_len = 0;
                return strdup("");
        }
        char *buf = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&buf, &size);
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                fwrite(chunk, 1, n, m);
        fclose(f);
        fclose(m);
        *ret_len = size;
        return buf;
}

static off_t file_size(const char *path) {
        struct stat st;
        return stat(path, &st) < 0 ? -1 : st.st_size;
}

static void path_in_dir(char *out, size_t n, const char *name) {
        snprintf(out, n, "%s/%s", dir, name);
}

Test(access_log, nothing_written_before_flush) {
        char path[512];
        AccessLog *l;
        AccessLogFormat *f;
        Fields fl = {};
        AccessLogEntry e = example(&fl);
        size_t len;

        path_in_dir(path, sizeof(path), "access.log");
        cr_assert_eq(access_log_format_compile("common", &f, NULL), 0);
        cr_assert_eq(access_log_open(path, &l), 0);
        cr_assert_eq(file_size(path), 0, "the file is created at open");
        cr_assert_eq(access_log_next_flush(l), USEC_INFINITY);

        cr_assert_eq(access_log_append(l, f, &e), 0);
        cr_assert_eq(access_log_append(l, f, &e), 0);
        cr_assert_eq(file_size(path), 0, "appending does not write");
        cr_assert_eq(access_log_buffered(l), 2 * strlen(LINE));

        cr_assert_eq(access_log_flush(l, 10 * USEC_PER_SEC), 0);
        char *got = slurp(path, &len);
        cr_assert_str_eq(got, LINE LINE);
        free(got);

        /* At most once a second: a flush half a second later leaves the next line buffered. */
        cr_assert_eq(access_log_append(l, f, &e), 0);
        cr_assert_eq(access_log_next_flush(l), 11 * USEC_PER_SEC);
        cr_assert_eq(access_log_flush(l, 10 * USEC_PER_SEC + 500000), 0);
        cr_assert_eq(file_size(path), (off_t) (2 * strlen(LINE)));
        cr_assert_eq(access_log_flush(l, 11 * USEC_PER_SEC), 0);
        cr_assert_eq(file_size(path), (off_t) (3 * strlen(LINE)));

        /* Freeing writes what is left. */
        cr_assert_eq(access_log_append(l, f, &e), 0);
        access_log_free(l);
        cr_assert_eq(file_size(path), (off_t) (4 * strlen(LINE)));
        access_log_format_free(f);
}

Test(access_log, full_buffer_writes_whole_lines) {
        char path[512];
        AccessLog *l;
        AccessLogFormat *f;
        Fields fl = {};
        AccessLogEntry e = example(&fl);
        size_t line = strlen(LINE), n = ACCESS_LOG_BUFFER_SIZE / line + 1, len;

        path_in_dir(path, sizeof(path), "full.log");
        cr_assert_eq(access_log_format_compile("common", &f, NULL), 0);
        cr_assert_eq(access_log_open(path, &l), 0);
        for (size_t i = 0; i < n; i++)
                cr_assert_eq(access_log_append(l, f, &e), 0);
        off_t written = file_size(path);
        cr_assert_eq(written, (off_t) ((n - 1) * line), "the full buffer went out, in whole lines");
        cr_assert_eq(access_log_buffered(l), line);
        access_log_free(l);
        char *got = slurp(path, &len);
        cr_assert_eq(len, n * line);
        for (size_t i = 0; i < n; i++)
                cr_assert(memcmp(got + i * line, LINE, line) == 0, "line %zu", i);
        free(got);
        access_log_format_free(f);
}

Test(access_log, overlong_line_is_cut_to_the_buffer) {
        char path[512];
        AccessLog *l;
        AccessLogFormat *f;
        static char agent[ACCESS_LOG_BUFFER_SIZE + 100];
        char field[sizeof(agent) + 16];

        memset(agent, 'a', sizeof(agent) - 1);
        snprintf(field, sizeof(field), "User-Agent: %s", agent);
        Fields fl = { .in = { field } };
        AccessLogEntry e = example(&fl);
        path_in_dir(path, sizeof(path), "long.log");
        cr_assert_eq(access_log_format_compile("%{User-Agent}i", &f, NULL), 0);
        cr_assert_eq(access_log_open(path, &l), 0);
        cr_assert_eq(access_log_append(l, f, &e), 0);
        access_log_free(l);
        size_t len;
        char *got = slurp(path, &len);
        cr_assert_eq(len, ACCESS_LOG_BUFFER_SIZE);
        cr_assert_eq(got[len - 1], '\n');
        cr_assert_eq(got[0], 'a');
        free(got);
        access_log_format_free(f);
}

Test(access_log, reopen_after_rename) {
        char path[512], rotated[512];
        AccessLog *l;
        AccessLogFormat *f;
        Fields fl = {};
        AccessLogEntry e = example(&fl);
        size_t len;

        path_in_dir(path, sizeof(path), "access.log");
        path_in_dir(rotated, sizeof(rotated), "access.log.1");
        cr_assert_eq(access_log_format_compile("%>s", &f, NULL), 0);
        cr_assert_eq(access_log_open(path, &l), 0);
        e.status = 200;
        cr_assert_eq(access_log_append(l, f, &e), 0);
        cr_assert_eq(rename(path, rotated), 0); /* logrotate */
        e.status = 201;
        cr_assert_eq(access_log_append(l, f, &e), 0);
        /* SIGUSR1: what was logged before goes to the old file, what comes after to the new one. */
        cr_assert_eq(access_log_reopen(l), 0);
        cr_assert_eq(file_size(path), 0);
        e.status = 202;
        cr_assert_eq(access_log_append(l, f, &e), 0);
        cr_assert_eq(access_log_flush(l, USEC_INFINITY), 0);

        char *old = slurp(rotated, &len), *cur = slurp(path, &len);
        cr_assert_str_eq(old, "200\n201\n");
        cr_assert_str_eq(cur, "202\n");
        free(old);
        free(cur);
        access_log_free(l);
        access_log_format_free(f);
}

typedef struct Appender {
        AccessLog *log;
        const AccessLogFormat *format;
        int status;
} Appender;

#define APPENDS 100000

static void *append_many(void *userdata) {
        Appender *a = userdata;
        Fields f = {};
        AccessLogEntry e = example(&f);
        e.status = a->status;
        for (int i = 0; i < APPENDS; i++)
                (void) access_log_append(a->log, a->format, &e);
        return NULL;
}

Test(access_log, threads_share_a_log_without_tearing_lines) {
        char path[512];
        pthread_t t[4];
        Appender a[4];
        AccessLogFormat *f;
        size_t len, counts[4] = {};

        path_in_dir(path, sizeof(path), "threads.log");
        cr_assert_eq(access_log_format_compile("%>s %h", &f, NULL), 0);
        AccessLog *log;
        cr_assert_eq(access_log_open(path, &log), 0);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                a[i] = (Appender) { log, f, 200 + (int) i };
                cr_assert_eq(pthread_create(&t[i], NULL, append_many, &a[i]), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                pthread_join(t[i], NULL);
        access_log_free(log);

        /* Every line whole, and every thread's lines all there. */
        char *got = slurp(path, &len);
        for (char *line = got, *nl; (nl = memchr(line, '\n', (size_t) (got + len - line))); line = nl + 1) {
                *nl = 0;
                int k = line[0] == '2' && line[1] == '0' && line[2] >= '0' && line[2] <= '3' ? line[2] - '0' : -1;
                cr_assert(k >= 0 && strcmp(line + 3, " 127.0.0.1") == 0, "torn line \"%s\"", line);
                counts[k]++;
        }
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                cr_assert_eq(counts[i], APPENDS, "thread %zu: %zu lines", i, counts[i]);
        free(got);
        access_log_format_free(f);
}

Test(access_log, open_failure_is_an_error) {
        AccessLog *l = NULL;
        cr_assert_eq(access_log_open("/nonexistent-dir/x/access.log", &l), -ENOENT);
        cr_assert_null(l);
}

/* ---- the server's logs, and a request through a connection ---------------------------------- */

static HttpSiteConfig main_cfg, vhost_cfg;

static void site_config(HttpSiteConfig *cfg, const char *name, const char *log_words) {
        cr_assert_eq(conf_table_defaults(http_site_directives, cfg), 0);
        cfg->server_name = strdup(name);
        cfg->document_root = strdup(dir);
        if (log_words) {
                char *why = NULL;

                cr_assert_eq(http_custom_log_set(&cfg->custom_log, log_words, true, NULL, 0, &why), 0, "%s", why);
        }
}

static HttpServer *server_with_logs(const char *main_log, const char *vhost_log) {
        HttpServer *s;
        const char *err;

        site_config(&main_cfg, "main.test", main_log);
        site_config(&vhost_cfg, "v.test", vhost_log);
        cr_assert_eq(http_server_new(NULL, &s), 0);
        cr_assert_eq(http_server_add_site(s, NULL, &main_cfg, NULL, &err), 0);
        cr_assert_eq(http_server_add_site(s, "v", &vhost_cfg, NULL, &err), 0);
        return s;
}

static void server_done(HttpServer *s) {
        http_server_free(s);
        conf_table_free(http_site_directives, &main_cfg);
        conf_table_free(http_site_directives, &vhost_cfg);
}

Test(access_log, server_opens_one_log_per_path) {
        char words_a[600], words_b[600], path[512];
        size_t len;

        snprintf(words_a, sizeof(words_a), "%s/a.log %%v %%>s", dir);
        snprintf(words_b, sizeof(words_b), "%s/a.log %%v:%%b", dir);
        HttpServer *s = server_with_logs(words_a, words_b);
        cr_assert_eq(http_server_open_logs(s), 0);
        cr_assert(http_server_site_logs(s, &s->sites[0]));
        cr_assert(http_server_site_logs(s, &s->sites[1]));

        AccessLogEntry e = { .status = 200, .bytes = 5 };
        e.vhost = "main.test";
        http_server_log_request(s, &s->sites[0], &e);
        e.vhost = "v.test";
        http_server_log_request(s, &s->sites[1], &e);
        path_in_dir(path, sizeof(path), "a.log");
        cr_assert_eq(file_size(path), 0);
        cr_assert_eq(http_server_flush_logs(s, USEC_INFINITY), 0);
        char *got = slurp(path, &len);
        /* One buffer per path keeps the order in which requests finished. */
        cr_assert_str_eq(got, "main.test 200\nv.test:5\n");
        free(got);
        server_done(s);
}

Test(access_log, server_without_custom_log_logs_nothing) {
        HttpServer *s = server_with_logs(NULL, NULL);
        cr_assert_eq(http_server_open_logs(s), 0);
        cr_assert(!http_server_site_logs(s, &s->sites[0]));
        AccessLogEntry e = { .status = 200 };
        http_server_log_request(s, &s->sites[0], &e); /* must not crash */
        cr_assert_eq(http_server_logs_next_flush(s), USEC_INFINITY);
        server_done(s);
}

Test(access_log, server_open_failure_names_the_path) {
        char words[600];
        snprintf(words, sizeof(words), "%s/missing/b.log common", dir);
        HttpServer *s = server_with_logs(NULL, words);
        cr_assert_eq(http_server_open_logs(s), -ENOENT);
        cr_assert(strstr(http_server_logs_failed(s), "/missing/b.log"));
        cr_assert(!http_server_site_logs(s, &s->sites[0]));
        server_done(s);
}

Test(access_log, vhost_error_log_of_its_own) {
        char path[512];

        HttpServer *s = server_with_logs(NULL, NULL);
        path_in_dir(path, sizeof(path), "v-error.log");
        free(main_cfg.error_log);
        main_cfg.error_log = strdup("stderr");
        free(vhost_cfg.error_log);
        vhost_cfg.error_log = strdup(path);
        cr_assert_eq(http_server_open_logs(s), 0);
        cr_assert_eq(http_server_site_error_fd(s, &s->sites[0]), -1, "the main server logs through log.h");
        int fd = http_server_site_error_fd(s, &s->sites[1]);
        cr_assert_geq(fd, 0);
        cr_assert(fcntl(fd, F_GETFL) & O_APPEND);
        /* It is kept across the fork and rotated with the access logs. */
        int fds[8];
        size_t n = http_server_logs_fds(s, fds, 8);
        cr_assert_eq(n, 1);
        cr_assert_eq(fds[0], fd);
        cr_assert_eq(write(fd, "x\n", 2), 2);
        cr_assert_eq(file_size(path), 2);
        server_done(s);

        /* A vhost that inherits the main server's ErrorLog has none of its own. */
        s = server_with_logs(NULL, NULL);
        free(main_cfg.error_log);
        main_cfg.error_log = strdup(path);
        free(vhost_cfg.error_log);
        vhost_cfg.error_log = strdup(path);
        cr_assert_eq(http_server_open_logs(s), 0);
        cr_assert_eq(http_server_site_error_fd(s, &s->sites[1]), -1);
        cr_assert_eq(http_server_logs_fds(s, fds, 8), 0);
        server_done(s);
}

Test(access_log, site_log_check) {
        HttpCustomLog c = {};
        char *err;

        cr_assert_eq(http_custom_log_set(&c, "/var/log/x.log combined", true, "/etc/mpmd.conf", 4, &err), 0);
        cr_assert_null(err);
        http_custom_log_done(&c);

        cr_assert_eq(http_custom_log_set(&c, "relative.log combined", true, NULL, 0, &err), -EINVAL);
        cr_assert(strstr(err, "absolute"), "%s", err);
        free(err);
        cr_assert_null(c.path);

        cr_assert_eq(http_custom_log_set(&c, "/var/log/x.log", true, NULL, 0, &err), -EINVAL);
        cr_assert(strstr(err, "a path and a format"), "%s", err);
        free(err);

        cr_assert_eq(http_custom_log_set(&c, "/var/log/x.log %h %Q", true, NULL, 0, &err), -EINVAL);
        cr_assert(strstr(err, "%Q"), "%s", err);
        free(err);
        cr_assert_null(c.path);
}

/* The path and the format text as written (not re-joined words), with where it was written; one
 * log per site: a second line that does not replace is refused with the first one's file:line. */
Test(access_log, custom_log_parse) {
        HttpCustomLog c = {};
        char *err = NULL;

        cr_assert_eq(http_custom_log_set(&c, "  /var/log/a.log   %h  \"%r\" %>s  ", true, "/etc/mpmd.conf", 12, &err), 0);
        cr_assert_str_eq(c.path, "/var/log/a.log");
        cr_assert_str_eq(c.format, "%h  \"%r\" %>s");
        cr_assert_str_eq(c.source.file, "/etc/mpmd.conf");
        cr_assert_eq(c.source.line, 12);

        cr_assert_eq(http_custom_log_set(&c, "/var/log/b.log common", false, "/etc/mpmd.conf", 13, &err), -EINVAL);
        cr_assert_str_eq(err, "a site has one access log, given already at /etc/mpmd.conf:12");
        free(err);
        cr_assert_str_eq(c.path, "/var/log/a.log", "a refused line leaves the value");

        cr_assert_eq(http_custom_log_set(&c, "/var/log/b.log common", true, "/etc/conf.d/x.conf", 1, &err), 0);
        cr_assert_str_eq(c.path, "/var/log/b.log");
        cr_assert_str_eq(c.format, "common");
        cr_assert_eq(http_custom_log_set(&c, "", true, "/etc/conf.d/y.conf", 1, &err), 0);
        cr_assert_null(c.path, "an empty value: the site does not log");
        http_custom_log_done(&c);
        http_custom_log_done(NULL);
}

Test(access_log, requests_through_a_connection) {
        char words[600], path[512], file[512];
        size_t len;

        path_in_dir(file, sizeof(file), "a.txt");
        FILE *fp = fopen(file, "we");
        fputs("alpha\n", fp);
        fclose(fp);
        snprintf(words, sizeof(words), "%s/conn.log %%v %%h \"%%r\" %%>s %%b \"%%{Referer}i\" %%U%%q %%m %%H "
                 "%%{Content-Type}o %%{ETag}o",
                 dir);
        /* The virtual host inherits the main server's CustomLog, as the configuration loader does. */
        HttpServer *s = server_with_logs(words, words);
        cr_assert_eq(http_server_open_logs(s), 0);

        const char *req = "GET /a.txt?x=%22 HTTP/1.1\r\nHost: main.test\r\nReferer: http://r/\"q\"\r\n\r\n"
                          "HEAD /nope HTTP/1.1\r\nHost: v.test\r\n\r\n"
                          "GET /bad\x01 HTTP/1.1\r\n\r\n";
        HttpConnInfo info = { .peer = "192.0.2.7", .peer_port = 40000, .local_port = 8080 };
        MemoryIo m;
        memory_io_init(&m, req, strlen(req), 0);
        HttpConn *c = http_conn_new(s, &memory_io, &m, &info, 1000);
        memory_io_run(c, &m);
        http_conn_free(c);
        memory_io_done(&m);

        cr_assert_eq(http_server_flush_logs(s, USEC_INFINITY), 0);
        path_in_dir(path, sizeof(path), "conn.log");
        char *got = slurp(path, &len);
        char *l1 = got, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
        /* The file's ETag is whatever the handler sent: compare up to it. */
        const char *want1 = "main.test 192.0.2.7 \"GET /a.txt?x=%22 HTTP/1.1\" 200 6 \"http://r/\\\"q\\\"\" "
                            "/a.txt?x=%22 GET HTTP/1.1 application/octet-stream \\\"";
        cr_assert(strncmp(l1, want1, strlen(want1)) == 0, "%s", got);
        /* The second request went to the virtual host (Host is read per request); a HEAD sends no
         * body. */
        const char *want2 = "v.test 192.0.2.7 \"HEAD /nope HTTP/1.1\" 404 - \"-\" /nope HEAD HTTP/1.1 text/html -\n";
        cr_assert(strncmp(l2, want2, strlen(want2)) == 0, "%s", got);
        /* A rejected head is logged with its raw, escaped request line. */
        const char *want3 = "main.test 192.0.2.7 \"GET /bad\\x01 HTTP/1.1\" 400 ";
        cr_assert(strncmp(l3, want3, strlen(want3)) == 0, "%s", got);
        free(got);
        server_done(s);
}

static ssize_t mem_read_through(void *ctx, void *buf, size_t n) {
        return memory_io.read(ctx, buf, n);
}

static int mem_shutdown_through(void *ctx) {
        return memory_io.shutdown(ctx);
}

/* A transport whose peer goes away: once write_budget bytes are taken, writes fail with EPIPE
 * (fail) or wait for ever (!fail: a client that stopped reading). */
static bool peer_gone;

static ssize_t gone_writev(void *ctx, const struct iovec *iov, int n) {
        MemoryIo *m = ctx;
        if (peer_gone && m->write_budget == 0)
                return -EPIPE;
        return memory_io.writev(ctx, iov, n);
}

static const HttpIo gone_io = {
        .read = mem_read_through,
        .writev = gone_writev,
        .shutdown = mem_shutdown_through,
};

/* A server whose site logs format to conn.log in dir, and a file of size bytes called big.bin. */
static HttpServer *server_logging(const char *format, size_t size) {
        char words[600], file[512];

        path_in_dir(file, sizeof(file), "big.bin");
        FILE *fp = fopen(file, "we");
        cr_assert_not_null(fp);
        for (size_t i = 0; i < size; i++)
                fputc('a' + (int) (i % 26), fp);
        fclose(fp);
        snprintf(words, sizeof(words), "%s/conn.log %s", dir, format);
        HttpServer *s = server_with_logs(words, words);
        cr_assert_eq(http_server_open_logs(s), 0);
        return s;
}

static char *logged_lines(HttpServer *s, size_t *ret_n) {
        char path[512];
        size_t len, n = 0;

        cr_assert_eq(http_server_flush_logs(s, USEC_INFINITY), 0);
        path_in_dir(path, sizeof(path), "conn.log");
        char *got = slurp(path, &len);
        for (size_t i = 0; i < len; i++)
                n += got[i] == '\n';
        *ret_n = n;
        return got;
}

static size_t head_length(const MemoryIo *m) {
        const char *end = memmem(m->out, m->out_len, "\r\n\r\n", 4);
        cr_assert_not_null(end, "no response head was written");
        return (size_t) (end + 4 - m->out);
}

Test(access_log, response_cut_by_a_write_error_is_logged_once) {
        HttpServer *s = server_logging("%>s %b %B %O %I %X", 100000);
        const char *req = "GET /big.bin HTTP/1.1\r\nHost: main.test\r\n\r\n";
        MemoryIo m;
        char want[128];
        size_t n;

        memory_io_init(&m, req, strlen(req), 0);
        m.budgeted = true;
        m.write_budget = 5000;
        peer_gone = true;
        HttpConn *c = http_conn_new(s, &gone_io, &m, NULL, 1000);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_DONE);
        /* The connection is done; freeing it must not log the request again. */
        http_conn_free(c);
        size_t head = head_length(&m);
        cr_assert_eq(m.out_len, 5000);
        memory_io_done(&m);

        char *got = logged_lines(s, &n);
        cr_assert_eq(n, 1, "one line, not %zu: %s", n, got);
        snprintf(want, sizeof(want), "200 %zu %zu 5000 %zu X\n", 5000 - head, 5000 - head, strlen(req));
        cr_assert_str_eq(got, want);
        free(got);
        server_done(s);
}

Test(access_log, response_cut_by_timeout_or_worker_stop_is_logged) {
        HttpServer *s = server_logging("%>s %b %O %X", 100000);
        const char *req = "GET /big.bin HTTP/1.1\r\nHost: main.test\r\n\r\n";
        MemoryIo m;
        char want[128];
        size_t n;

        /* TimeOut: the client stopped taking the response. */
        memory_io_init(&m, req, strlen(req), 0);
        m.budgeted = true;
        m.write_budget = 3000;
        peer_gone = false;
        HttpConn *c = http_conn_new(s, &gone_io, &m, NULL, 1000);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_WRITE);
        cr_assert_eq(http_conn_timeout(c, http_conn_deadline(c)), HTTP_CONN_DONE);
        http_conn_free(c);
        size_t head = head_length(&m);
        memory_io_done(&m);

        /* A worker that stops with the response under way frees the connection. */
        memory_io_init(&m, req, strlen(req), 0);
        m.budgeted = true;
        m.write_budget = 4000;
        c = http_conn_new(s, &gone_io, &m, NULL, 1000);
        cr_assert_eq(memory_io_run(c, &m), HTTP_CONN_WANT_WRITE);
        http_conn_free(c);
        memory_io_done(&m);

        char *got = logged_lines(s, &n);
        cr_assert_eq(n, 2, "%s", got);
        snprintf(want, sizeof(want), "200 %zu 3000 X\n200 %zu 4000 X\n", 3000 - head, 4000 - head);
        cr_assert_str_eq(got, want);
        free(got);
        server_done(s);
}

Test(access_log, bytes_in_and_out_of_complete_requests) {
        HttpServer *s = server_logging("%m %>s %b %O %I %X", 10);
        /* A refused POST whose body is read and dropped, then a GET on the same connection, then one
         * that closes it. */
        const char *post = "POST /big.bin HTTP/1.1\r\nHost: main.test\r\nContent-Length: 5\r\n\r\nhello";
        const char *get = "GET /big.bin HTTP/1.1\r\nHost: main.test\r\n\r\n";
        const char *last = "GET /big.bin HTTP/1.1\r\nHost: main.test\r\nConnection: close\r\n\r\n";
        char req[512], want[256];
        MemoryIo m;
        size_t n;

        snprintf(req, sizeof(req), "%s%s%s", post, get, last);
        memory_io_init(&m, req, strlen(req), 7);
        HttpConn *c = http_conn_new(s, &memory_io, &m, NULL, 1000);
        memory_io_run(c, &m);
        http_conn_free(c);

        /* What each response put on the wire: split the output at its status lines. */
        const char *r2 = memmem(m.out + 1, m.out_len - 1, "HTTP/1.1 200", 12);
        cr_assert_not_null(r2);
        const char *r3 = memmem(r2 + 1, (size_t) (m.out + m.out_len - r2 - 1), "HTTP/1.1 200", 12);
        cr_assert_not_null(r3);
        size_t out1 = (size_t) (r2 - m.out), out2 = (size_t) (r3 - r2), out3 = (size_t) (m.out + m.out_len - r3);
        const char *b1 = memmem(m.out, out1, "\r\n\r\n", 4);
        cr_assert_not_null(b1);
        size_t body1 = out1 - (size_t) (b1 + 4 - m.out);
        memory_io_done(&m);

        char *got = logged_lines(s, &n);
        snprintf(want, sizeof(want), "POST 405 %zu %zu %zu +\nGET 200 10 %zu %zu +\nGET 200 10 %zu %zu -\n", body1,
                 out1, strlen(post), out2, strlen(get), out3, strlen(last));
        cr_assert_str_eq(got, want);
        free(got);
        server_done(s);
}

/* A log path someone else may change (a perchild site's): nothing but a regular file is opened,
 * a FIFO never blocks the opener, a symlink is not followed. */
static char *in_dir(const char *name) {
        char *p = NULL;
        cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

Test(access_log, open_file_takes_a_regular_file_and_creates_one) {
        _cleanup_free_ char *p = in_dir("new.log");
        int fd = access_log_open_file(p);
        cr_assert_geq(fd, 0);
        cr_assert_eq(fcntl(fd, F_GETFL) & (O_NONBLOCK | O_APPEND), O_APPEND, "appends, blocking again");
        cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);
        unlink(p);
}

Test(access_log, open_file_refuses_a_directory) {
        _cleanup_free_ char *p = in_dir("d.log");
        cr_assert_eq(mkdir(p, 0755), 0);
        cr_assert_eq(access_log_open_file(p), -EISDIR);
        cr_assert_str_eq(access_log_strerror(-EISDIR), "Is a directory");
        rmdir(p);
}

Test(access_log, open_file_refuses_a_fifo_without_blocking, .timeout = 10) {
        _cleanup_free_ char *p = in_dir("f.log");
        cr_assert_eq(mkfifo(p, 0644), 0);
        /* No reader: a blocking open would wait for ever. */
        cr_assert_eq(access_log_open_file(p), -ACCESS_LOG_ENOTREG);
        /* With a reader it opens, but is still no log file. */
        int reader = open(p, O_RDONLY | O_NONBLOCK);
        cr_assert_geq(reader, 0);
        cr_assert_eq(access_log_open_file(p), -ACCESS_LOG_ENOTREG);
        cr_assert_not_null(strstr(access_log_strerror(-ACCESS_LOG_ENOTREG), "not a regular file"));
        close(reader);
        unlink(p);
}

Test(access_log, open_file_does_not_follow_a_symlink) {
        _cleanup_free_ char *target = in_dir("target.log"), *link = in_dir("link.log");
        int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        cr_assert_geq(fd, 0);
        close(fd);
        cr_assert_eq(symlink(target, link), 0);
        cr_assert_eq(access_log_open_file(link), -ELOOP);
        AccessLog *l = NULL;
        cr_assert_eq(access_log_open(link, &l), -ELOOP);
        unlink(link);
        unlink(target);
}

Test(access_log, ssl_protocol_and_cipher) {
        Fields f = {};
        AccessLogEntry e = example(&f);

        assert_line("%h %{SSL_PROTOCOL}x %{SSL_CIPHER}x %s", &e, "127.0.0.1 - - 200");
        e.ssl_protocol = "TLSv1.3";
        e.ssl_cipher = "TLS_AES_256_GCM_SHA384";
        assert_line("%h %{SSL_PROTOCOL}x %{SSL_CIPHER}x %s", &e, "127.0.0.1 TLSv1.3 TLS_AES_256_GCM_SHA384 200");
        assert_line("%{ssl_protocol}x", &e, "TLSv1.3"); /* mod_ssl's names ignore case */

        static const char *const bad[] = {"%x", "%{SSL_CLIENT_M_SERIAL}x", "%{}x", "%{SSL_PROTOCOLS}x",
                                          "%{SSL_CLIENT_S_DNX}x"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                AccessLogFormat *fmt = NULL;
                _cleanup_free_ char *err = NULL;
                cr_assert_eq(access_log_format_compile(bad[i], &fmt, &err), -EINVAL, "%s", bad[i]);
                cr_assert(err && strstr(err, "SSL_PROTOCOL, SSL_CIPHER, SSL_CLIENT_VERIFY or SSL_CLIENT_S_DN"),
                          "%s: %s", bad[i], err ? err : "");
        }
}

Test(access_log, ssl_client_certificate) {
        Fields f = {};
        AccessLogEntry e = example(&f);

        assert_line("%{SSL_CLIENT_VERIFY}x \"%{SSL_CLIENT_S_DN}x\"", &e, "- \"-\"");
        e.ssl_client_verify = "NONE";
        assert_line("%{SSL_CLIENT_VERIFY}x \"%{SSL_CLIENT_S_DN}x\"", &e, "NONE \"-\"");
        e.ssl_client_verify = "SUCCESS";
        /* RFC 2253's escapes stay readable; a quote cannot end the field */
        e.ssl_client_s_dn = "CN=a\\,b\"c,O=Example";
        assert_line("%{ssl_client_verify}x \"%{SSL_CLIENT_S_DN}x\"", &e, "SUCCESS \"CN=a\\\\,b\\\"c,O=Example\"");
}
