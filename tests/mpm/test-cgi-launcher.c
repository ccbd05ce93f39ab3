/* SPDX-License-Identifier: MIT */
/* Tests of the CGI launcher with real programs from tests/cgi-bin (sh and python3): the launcher is
 * forked on a socketpair as the supervisor would; each test checks what a user would see — the
 * program's output on the pipe, the exact environment it got, the body on its stdin, its working
 * directory, its stderr; a program past CGITimeout killed with its whole process group (even one
 * that ignores SIGTERM, even a grandchild left behind); exec errors; scripts outside the ScriptAlias
 * directory that cannot be named; SIGTERM to the launcher; and no zombie left anywhere. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpm/cgi-launcher.h"
#include "http/cgi.h"
#include "shared/macro.h"
#include "http/parser.h"
#include "mpm/sandbox.h"
#include "shared/time-util.h"

#define HANG_BOUND_MS 20000 /* generous: only there to turn a hang into a failure */

static pid_t launcher_pid = -1;
static int launcher_sock = -1;

static const char *cgi_dir(void) {
        static char dir[PATH_MAX];
        const char *root = getenv("MPMD_SOURCE_ROOT");

        cr_assert_not_null(root, "run through meson test, or set MPMD_SOURCE_ROOT to the source tree");
        snprintf(dir, sizeof(dir), "%s/tests/cgi-bin", root);
        return dir;
}

static void launcher_fork_with(const CgiLauncherOptions *opt) {
        int sv[2];

        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        launcher_pid = fork();
        cr_assert_geq(launcher_pid, 0);
        if (launcher_pid == 0) {
                CgiLauncherOptions o = *opt;

                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(sv[0]);
                _exit(cgi_launcher_main(sv[1], &o) < 0 ? 1 : 0);
        }
        close(sv[1]);
        launcher_sock = sv[0];
}

static void launcher_fork(usec_t kill_grace, unsigned max_programs) {
        launcher_fork_with(&(CgiLauncherOptions) { .kill_grace = kill_grace, .max_programs = max_programs });
}

/* Wait for the launcher to exit, at most ms; its exit status, or -1 on timeout. */
static int launcher_wait(int ms) {
        for (int waited = 0; waited <= ms; waited += 10) {
                int status;
                pid_t r = waitpid(launcher_pid, &status, WNOHANG);
                if (r == launcher_pid) {
                        launcher_pid = -1;
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                }
                usleep(10 * 1000);
        }
        return -1;
}

/* Runs after every test, failed or not: the launcher's drain kills whatever is still running. */
static void launcher_stop(void) {
        launcher_sock = safe_close(launcher_sock);
        if (launcher_pid > 0) {
                kill(launcher_pid, SIGTERM);
                if (launcher_wait(5000) < 0) {
                        kill(launcher_pid, SIGKILL);
                        waitpid(launcher_pid, NULL, 0);
                }
        }
}

static void setup_default(void) {
        launcher_fork(300 * USEC_PER_MSEC, 0);
}

/* ---- building a request ------------------------------------------------------------------- */

typedef struct Env {
        HttpRequestHead head;
        HttpHeader headers[32];
        HttpSiteConfig cfg;
        HttpSite site;
        HttpRequest q;
        char block[CGI_ENV_MAX];
        size_t len, count;
} Env;

static const HttpParserLimits limits = { .request_line = 8190, .field_size = 8190, .fields = 32 };

static void env_build(Env *e, const char *req, const char *script, const char *path_info, bool body,
                      uint64_t body_len) {
        HttpParser p;
        char filename[PATH_MAX], name[PATH_MAX];

        *e = (Env) {};
        http_parser_init(&p, &e->head, e->headers, &limits);
        cr_assert_eq(http_parser_feed(&p, req, strlen(req)), HTTP_PARSE_DONE);
        e->cfg.document_root = (char *) "/srv/www";
        e->site.cfg = &e->cfg;
        e->q = (HttpRequest) { .head = &e->head, .buf = req, .site = &e->site };
        snprintf(filename, sizeof(filename), "%s/%s", cgi_dir(), script);
        snprintf(name, sizeof(name), "/cgi-bin/%s", script);
        CgiEnvParams params = {
                .request = &e->q,
                .server_software = "mpmd",
                .scheme = "http",
                .remote_addr = "127.0.0.1",
                .remote_port = 40000,
                .server_addr = "127.0.0.1",
                .server_port = 8080,
                .script_name = name,
                .script_name_len = strlen(name),
                .script_filename = filename,
                .path_info = path_info,
                .path_info_len = strlen(path_info),
                .has_body = body,
                .content_length = body_len,
        };
        cr_assert_eq(cgi_env_build(&params, e->block, sizeof(e->block), &e->len, &e->count), 0);
}

/* ---- running a program -------------------------------------------------------------------- */

typedef struct Run {
        pid_t pid;
        int out;  /* read end of the program's stdout */
        int err;  /* read end of the "error log" its stderr lines are written to, when asked for */
} Run;

static int open_alias(const char *dir) {
        int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(fd, 0, "%s: %s", dir, strerror(errno));
        return fd;
}

/* Launch script (relative to the cgi-bin directory) with body on stdin (NULL: /dev/null); with
 * want_stderr, the site's error log is a pipe the test reads (ret->err), else the launcher's own. */
static int launch(const char *script, const Env *env, const char *body, usec_t timeout, bool want_stderr, Run *ret) {
        _cleanup_close_ int alias = open_alias(cgi_dir()), in = -1;
        CgiScript s = CGI_SCRIPT_NULL;
        int out[2], err[2] = { -1, -1 }, r;

        r = cgi_script_open(alias, script, strlen(script), &s);
        cr_assert_eq(r, 0, "open %s: %s", script, strerror(-r));
        cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
        if (want_stderr)
                cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
        if (body) {
                in = memfd_create("cgi-body", MFD_CLOEXEC);
                cr_assert_geq(in, 0);
                cr_assert_eq(write(in, body, strlen(body)), (ssize_t) strlen(body));
                cr_assert_eq(lseek(in, 0, SEEK_SET), 0);
        }
        char *argv[] = { (char *) script, NULL };
        CgiLaunchRequest req = {
                .script_fd = s.fd,
                .dir_fd = s.dir_fd,
                .stdin_fd = in,
                .stdout_fd = out[1],
                .error_log_fd = err[1],
                .site_name = "a.test",
                .client = "192.0.2.1:4242",
                .argv = argv,
                .env = env ? env->block : NULL,
                .env_len = env ? env->len : 0,
                .env_count = env ? env->count : 0,
                .timeout = timeout,
        };
        *ret = (Run) { .pid = -1, .out = out[0], .err = err[0] };
        r = cgi_launch(launcher_sock, &req, &ret->pid);
        close(out[1]);
        safe_close(err[1]);
        cgi_script_done(&s);
        return r;
}

/* Everything until EOF (bounded, so a hang fails instead of blocking). */
static char *read_all(int fd, size_t *ret_len) {
        size_t size = 4096, len = 0;
        char *buf = malloc(size);

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                cr_assert_eq(poll(&p, 1, HANG_BOUND_MS), 1, "no EOF on the program's output");
                if (len + 1024 > size)
                        buf = realloc(buf, size *= 2);
                ssize_t n = read(fd, buf + len, size - len - 1);
                cr_assert_geq(n, 0);
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = 0;
        if (ret_len)
                *ret_len = len;
        return buf;
}

/* One line of output (the program keeps running). */
static void read_line(int fd, char *buf, size_t size) {
        size_t len = 0;

        while (len + 1 < size) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                cr_assert_eq(poll(&p, 1, HANG_BOUND_MS), 1);
                cr_assert_eq(read(fd, buf + len, 1), 1);
                if (buf[len++] == '\n')
                        break;
        }
        buf[len] = 0;
}

static bool process_exists(pid_t pid) {
        char path[64];

        /* A zombie still has its /proc entry: gone means reaped. */
        snprintf(path, sizeof(path), "/proc/%d", (int) pid);
        return access(path, F_OK) == 0;
}

static bool group_exists(pid_t pgid) {
        return kill(-pgid, 0) == 0 || errno != ESRCH;
}

/* Wait until pred(pid) is false, at most ms. */
static bool eventually_gone(bool (*pred)(pid_t), pid_t pid, int ms) {
        for (int waited = 0; waited <= ms; waited += 10) {
                if (!pred(pid))
                        return true;
                usleep(10 * 1000);
        }
        return false;
}

/* The launcher's children, from /proc (CONFIG_PROC_CHILDREN); "" when none. */
static bool launcher_has_children(pid_t pid) {
        char path[96], buf[256] = "";
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) pid, (int) pid);
        f = fopen(path, "re");
        if (!f)
                return false; /* the kernel does not say: the pid checks stand alone */
        if (!fgets(buf, sizeof(buf), f))
                buf[0] = 0;
        fclose(f);
        return buf[0] != 0 && buf[0] != '\n';
}

/* ---- tests -------------------------------------------------------------------------------- */

TestSuite(cgi_launcher, .init = setup_default, .fini = launcher_stop, .timeout = 60);

Test(cgi_launcher, environment_is_exactly_rfc3875) {
        static const char req[] = "GET /cgi-bin/env.py/extra/path?q=1 HTTP/1.1\r\nHost: example.org\r\n"
                                  "Proxy: http://evil:3128/\r\nX-Test: yes\r\n\r\n";
        Env e;
        Run run;
        size_t len;

        /* What we have must not reach the program. */
        setenv("MPMD_LEAK_TEST", "leaked", 1);
        env_build(&e, req, "env.py", "/extra/path", false, 0);
        cr_assert_eq(launch("env.py", &e, NULL, 10 * USEC_PER_SEC, false, &run), 0);
        cr_assert_gt(run.pid, 0);
        char *out = read_all(run.out, &len);
        static const char head[] = "Content-Type: application/octet-stream\r\n\r\n";
        cr_assert_geq(len, strlen(head));
        cr_assert_eq(memcmp(out, head, strlen(head)), 0);
        /* Byte for byte what cgi_env_build() produced, in its order: nothing added, nothing lost. */
        cr_assert_eq(len - strlen(head), e.len, "environment of %zu bytes, sent %zu", len - strlen(head), e.len);
        cr_assert_eq(memcmp(out + strlen(head), e.block, e.len), 0);
        cr_assert_null(memmem(out, len, "MPMD_LEAK_TEST", 14));
        cr_assert_null(memmem(out, len, "HTTP_PROXY", 10));
        cr_assert_not_null(memmem(out, len, "HTTP_X_TEST=yes", 16));
        cr_assert_not_null(memmem(out, len, "QUERY_STRING=q=1", 17));
        free(out);
        close(run.out);
}

Test(cgi_launcher, stdin_gets_the_body_and_cwd_is_the_script_dir) {
        static const char req[] = "POST /cgi-bin/echo.sh HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\n\r\n";
        char real[PATH_MAX], want[PATH_MAX + 64];
        Env e;
        Run run;

        env_build(&e, req, "echo.sh", "", true, 13);
        cr_assert_eq(launch("echo.sh", &e, "name=a&x=%20b", 10 * USEC_PER_SEC, false, &run), 0);
        char *out = read_all(run.out, NULL);
        cr_assert_not_null(realpath(cgi_dir(), real));
        snprintf(want, sizeof(want), "Content-Type: text/plain\r\n\r\ncwd=%s\nname=a&x=%%20b", real);
        cr_assert_str_eq(out, want);
        free(out);
        close(run.out);

        /* No body: stdin is /dev/null, which ends at once. */
        env_build(&e, "GET /cgi-bin/echo.sh HTTP/1.1\r\nHost: a\r\n\r\n", "echo.sh", "", false, 0);
        cr_assert_eq(launch("echo.sh", &e, NULL, 10 * USEC_PER_SEC, false, &run), 0);
        out = read_all(run.out, NULL);
        snprintf(want, sizeof(want), "Content-Type: text/plain\r\n\r\ncwd=%s\n", real);
        cr_assert_str_eq(out, want);
        free(out);
        close(run.out);
}

Test(cgi_launcher, script_in_a_subdirectory_with_path_info) {
        _cleanup_close_ int alias = open_alias(cgi_dir());
        const char *rest = "sub/inner.sh/a/b";
        char real[PATH_MAX + 8], want[PATH_MAX + 64];
        CgiScript s = CGI_SCRIPT_NULL;
        Run run;

        cr_assert_eq(cgi_script_open(alias, rest, strlen(rest), &s), 0);
        cr_assert_eq(s.name_len, strlen("sub/inner.sh"), "PATH_INFO starts after the script");
        cgi_script_done(&s);

        cr_assert_eq(launch("sub/inner.sh", NULL, NULL, 10 * USEC_PER_SEC, false, &run), 0);
        char *out = read_all(run.out, NULL);
        cr_assert_not_null(realpath(cgi_dir(), real));
        snprintf(want, sizeof(want), "Content-Type: text/plain\r\n\r\n%s/sub\n", real);
        cr_assert_str_eq(out, want);
        free(out);
        close(run.out);
}

Test(cgi_launcher, stderr_lines_go_to_the_sites_log_with_its_name) {
        Env e;
        Run run;

        env_build(&e, "DELETE /cgi-bin/stderr.sh HTTP/1.1\r\nHost: a\r\n\r\n", "stderr.sh", "", false, 0);
        cr_assert_eq(launch("stderr.sh", &e, NULL, 10 * USEC_PER_SEC, true, &run), 0);
        char *out = read_all(run.out, NULL), *err = read_all(run.err, NULL);
        char want[128];
        cr_assert_str_eq(out, "Status: 204\r\n\r\n");
        /* In the error log's own format, one line, after the launcher's prefix. */
        snprintf(want, sizeof(want), "[vhost a.test] [client 192.0.2.1:4242] cgi stderr (pid %d): to stderr: DELETE\n",
                 (int) run.pid);
        cr_assert(strstr(err, want), "%s", err);
        cr_assert(strstr(err, "] [error] [pid "), "%s", err);
        cr_assert_eq(strchr(err, '\n') + 1, err + strlen(err), "one line: %s", err);
        free(out);
        free(err);
        close(run.out);
        close(run.err);
}

/* The program's stderr is a pipe: it cannot forge a line of its own, nor empty the file. */
Test(cgi_launcher, stderr_is_escaped_and_the_log_cannot_be_truncated) {
        char path[] = "/tmp/mpmd-test-errlog-XXXXXX", want[256];
        int log = mkstemp(path);
        Run run;

        cr_assert_geq(log, 0);
        cr_assert_eq(write(log, "before\n", 7), 7);
        /* As a worker would lend it: an O_APPEND file. */
        int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        _cleanup_close_ int alias = open_alias(cgi_dir());
        CgiScript s = CGI_SCRIPT_NULL;
        int out[2];
        cr_assert_eq(cgi_script_open(alias, "forge.sh", 8, &s), 0);
        cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
        char *argv[] = { (char *) "forge.sh", NULL };
        CgiLaunchRequest req = { .script_fd = s.fd, .dir_fd = s.dir_fd, .stdin_fd = -1, .stdout_fd = out[1],
                                 .error_log_fd = fd, .site_name = "a.test", .client = "192.0.2.1:1",
                                 .argv = argv, .timeout = 10 * USEC_PER_SEC };
        cr_assert_eq(cgi_launch(launcher_sock, &req, &run.pid), 0);
        close(out[1]);
        close(fd);
        cgi_script_done(&s);
        free(read_all(out[0], NULL));
        close(out[0]);

        /* The partial last line comes once the program is gone. */
        char buf[4096] = "";
        for (int waited = 0; waited < HANG_BOUND_MS && !strstr(buf, "\\x1b"); waited += 20) {
                usleep(20 * 1000);
                ssize_t n = pread(log, buf, sizeof(buf) - 1, 0);
                buf[n < 0 ? 0 : n] = 0;
        }
        cr_assert(strncmp(buf, "before\n", 7) == 0, "the file was emptied: %s", buf);
        snprintf(want, sizeof(want), "[vhost a.test] [client 192.0.2.1:1] cgi stderr (pid %d): fake [error] line\n",
                 (int) run.pid);
        cr_assert(strstr(buf, want), "%s", buf);
        snprintf(want, sizeof(want), "[vhost a.test] [client 192.0.2.1:1] cgi stderr (pid %d): \\x1b[31m\n",
                 (int) run.pid);
        cr_assert(strstr(buf, want), "%s", buf);
        cr_assert_null(strchr(buf, '\x1b'), "an escape byte reached the log: %s", buf);
        close(log);
        unlink(path);
}

/* A program that writes lines without pause gets the burst and the rate, and one line says how many
 * more there were; the launcher keeps starting other programs meanwhile. */
Test(cgi_launcher_stderr, lines_are_rate_limited, .fini = launcher_stop, .timeout = 60) {
        Env e;
        Run run, other;
        size_t len;

        launcher_fork_with(&(CgiLauncherOptions) { .kill_grace = 300 * USEC_PER_MSEC, .stderr_rate = 5,
                                                   .stderr_burst = 10 });
        env_build(&e, "GET /cgi-bin/spew.sh?3000 HTTP/1.1\r\nHost: a\r\n\r\n", "spew.sh", "", false, 0);
        usec_t start = now_usec(CLOCK_MONOTONIC);
        cr_assert_eq(launch("spew.sh", &e, NULL, 30 * USEC_PER_SEC, true, &run), 0);
        /* While it spews: another program starts and finishes. */
        cr_assert_eq(launch("sub/inner.sh", NULL, NULL, 10 * USEC_PER_SEC, false, &other), 0);
        free(read_all(other.out, NULL));
        close(other.out);
        free(read_all(run.out, NULL));
        char *err = read_all(run.err, &len);
        usec_t took = now_usec(CLOCK_MONOTONIC) - start;
        size_t lines = 0, spew = 0;
        unsigned long long dropped = 0;
        for (char *p = err; (p = strchr(p, '\n')); p++)
                lines++;
        for (char *p = err; (p = strstr(p, "): spew spew")); p++)
                spew++;
        for (char *p = err; (p = strstr(p, "cgi stderr rate limit")); p++) {
                unsigned long long d;
                cr_assert_eq(sscanf(strstr(p, "): ") + 3, "%llu line(s) dropped", &d), 1, "%s", p);
                dropped += d;
        }
        /* The burst, then 5 a second (one more for the rounding), plus the lines saying so. */
        size_t bound = 10 + 5 * (size_t) (took / USEC_PER_SEC + 1);
        cr_assert_leq(spew, bound, "%zu lines in %llu ms", spew, (unsigned long long) (took / 1000));
        cr_assert_geq(spew, 10);
        cr_assert_eq(spew + dropped, 3000, "%zu logged, %llu dropped", spew, dropped);
        cr_assert_leq(lines - spew, 2 + (size_t) (took / USEC_PER_SEC), "report lines: %zu", lines - spew);
        free(err);
        close(run.out);
        close(run.err);
}

Test(cgi_launcher, timeout_kills_the_whole_process_group) {
        char line[256];
        int leader = 0, child = 0;
        Run run;

        cr_assert_eq(launch("sleep.sh", NULL, NULL, 1 * USEC_PER_SEC, false, &run), 0);
        read_line(run.out, line, sizeof(line)); /* Content-Type */
        read_line(run.out, line, sizeof(line)); /* blank */
        read_line(run.out, line, sizeof(line));
        cr_assert_eq(sscanf(line, "%d %d", &leader, &child), 2, "line: %s", line);
        cr_assert_eq(leader, run.pid);
        /* Its own session and process group, and still running before the timeout. */
        cr_assert_eq(getpgid(child), run.pid);
        cr_assert_eq(getsid(run.pid), run.pid);
        cr_assert(group_exists(run.pid));

        usec_t start = now_usec(CLOCK_MONOTONIC);
        free(read_all(run.out, NULL)); /* EOF once the group is dead */
        cr_assert_geq(now_usec(CLOCK_MONOTONIC) - start, 500 * USEC_PER_MSEC, "killed before its timeout");
        cr_assert(eventually_gone(group_exists, run.pid, 5000), "the process group survived the timeout");
        cr_assert(eventually_gone(process_exists, child, 5000), "the child is still there (or a zombie)");
        cr_assert(eventually_gone(process_exists, run.pid, 5000), "the leader is still there (or a zombie)");
        cr_assert(eventually_gone(launcher_has_children, launcher_pid, 5000), "the launcher has unreaped children");
        close(run.out);
}

Test(cgi_launcher, sigkill_when_sigterm_is_ignored) {
        char line[256];
        int leader = 0, child = 0;
        Run run;

        cr_assert_eq(launch("stubborn.sh", NULL, NULL, 300 * USEC_PER_MSEC, false, &run), 0);
        read_line(run.out, line, sizeof(line));
        read_line(run.out, line, sizeof(line));
        read_line(run.out, line, sizeof(line));
        cr_assert_eq(sscanf(line, "%d %d", &leader, &child), 2, "line: %s", line);
        free(read_all(run.out, NULL));
        cr_assert(eventually_gone(group_exists, run.pid, 5000), "SIGTERM-proof group survived");
        cr_assert(eventually_gone(process_exists, child, 5000));
        cr_assert(eventually_gone(process_exists, run.pid, 5000));
        close(run.out);
}

Test(cgi_launcher, grandchild_left_behind_is_killed_and_reaped) {
        Run run;
        int orphan = 0;

        cr_assert_eq(launch("orphan.sh", NULL, NULL, 1 * USEC_PER_SEC, false, &run), 0);
        char *out = read_all(run.out, NULL); /* the leader exits at once */
        cr_assert_eq(sscanf(out, "Content-Type: text/plain\r\n\r\n%d", &orphan), 1, "output: %s", out);
        free(out);
        cr_assert(eventually_gone(process_exists, run.pid, 5000), "the exited leader was not reaped");
        cr_assert(process_exists(orphan), "the grandchild should live until the timeout");
        cr_assert_eq(getpgid(orphan), run.pid);
        cr_assert(eventually_gone(process_exists, orphan, 5000), "the grandchild outlived the timeout");
        cr_assert_not(group_exists(run.pid));
        cr_assert(eventually_gone(launcher_has_children, launcher_pid, 5000), "the launcher has unreaped children");
        close(run.out);
}

static pid_t launch_daemon(usec_t timeout, Run *run) {
        int daemon = 0;

        cr_assert_eq(launch("daemon.sh", NULL, NULL, timeout, false, run), 0);
        char *out = read_all(run->out, NULL); /* the leader exits at once */
        cr_assert_eq(sscanf(out, "Content-Type: text/plain\r\n\r\n%d", &daemon), 1, "output: %s", out);
        free(out);
        close(run->out);
        cr_assert(eventually_gone(process_exists, run->pid, 5000), "the exited leader was not reaped");
        cr_assert_neq(getsid(daemon), run->pid, "the daemon should be in a session of its own");
        return daemon;
}

Test(cgi_launcher, daemon_in_a_session_of_its_own_is_killed_at_the_timeout) {
        Run run;
        pid_t daemon = launch_daemon(2 * USEC_PER_SEC, &run);

        cr_assert(process_exists(daemon), "the daemon should live until its program's timeout");
        cr_assert(eventually_gone(process_exists, daemon, 8000), "the daemon outlived the timeout");
        cr_assert(eventually_gone(launcher_has_children, launcher_pid, 5000), "the launcher has unreaped children");
}

Test(cgi_launcher, sigterm_kills_daemons_too) {
        Run run;
        pid_t daemon = launch_daemon(600 * USEC_PER_SEC, &run);

        cr_assert(process_exists(daemon));
        cr_assert_eq(kill(launcher_pid, SIGTERM), 0);
        cr_assert_eq(launcher_wait(10000), 0, "the launcher did not exit cleanly after SIGTERM");
        cr_assert(eventually_gone(process_exists, daemon, 5000), "a daemon outlived the launcher");
}

Test(cgi_launcher_site, limits_and_tmpdir, .fini = launcher_stop, .timeout = 60) {
        CgiLauncherOptions o = {
                .limits = { .max_processes = 4000, .memory_max = UINT64_C(256) << 20, .max_program_seconds = 30 },
                .tmp_name = "mpmd-test-site",
        };
        char dir[PATH_MAX];
        struct stat st;
        Run run;

        launcher_fork_with(&o);
        cr_assert_eq(launch("limits.sh", NULL, NULL, 10 * USEC_PER_SEC, false, &run), 0);
        char *out = read_all(run.out, NULL);
        close(run.out);
        cr_assert_eq(sscanf(out, "Content-Type: text/plain\r\n\r\nTMPDIR=%4095s", dir), 1, "output: %s", out);
        cr_assert(strncmp(dir, "/tmp/mpmd-test-site-", 20) == 0, "TMPDIR %s", dir);
        cr_assert_eq(stat(dir, &st), 0, "%s: %s", dir, strerror(errno));
        cr_assert(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700 && st.st_uid == getuid(), "mode %o", st.st_mode);
        cr_assert(strstr(out, "Max processes") && strstr(out, " 4000 "), "%s", out);
        cr_assert(strstr(out, " 268435456 "), "%s", out);
        cr_assert(strstr(out, "Max cpu time              30                   35 "), "%s", out);
        free(out);
        /* What a program left there goes with the launcher. */
        char file[PATH_MAX + 16];
        snprintf(file, sizeof(file), "%s/left", dir);
        cr_assert_eq(mkdir(file, 0700), 0);
        cr_assert_eq(kill(launcher_pid, SIGTERM), 0);
        cr_assert_eq(launcher_wait(10000), 0);
        cr_assert_neq(stat(dir, &st), 0, "%s outlived the launcher", dir);
}

static void make_dir(const char *path, bool old) {
        char file[PATH_MAX];

        snprintf(file, sizeof(file), "%s/left", path);
        (void) rmdir(file); /* what an earlier run that failed left */
        (void) rmdir(path);
        cr_assert_eq(mkdir(path, 0700), 0, "%s: %s", path, strerror(errno));
        cr_assert_eq(mkdir(file, 0700), 0, "%s: %s", file, strerror(errno));
        if (old) {
                struct timespec ts[2] = { { .tv_sec = time(NULL) - 3600 }, { .tv_sec = time(NULL) - 3600 } };
                cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
        }
}

/* A directory a launcher killed outright left (nobody holds its lock, not touched for a while) is
 * removed by the next launcher of the same name; one in use or brand new is not. */
Test(cgi_launcher_site, stale_tmpdirs_are_removed, .fini = launcher_stop, .timeout = 60) {
        CgiLauncherOptions o = { .tmp_name = "mpmd-test-stale" };
        const char *stale = "/tmp/mpmd-test-stale-STALE1", *fresh = "/tmp/mpmd-test-stale-FRESH1",
                   *held = "/tmp/mpmd-test-stale-HELD01", *other = "/tmp/mpmd-test-stalex-OTHER1";
        struct stat st;
        Run run;

        make_dir(stale, true);
        make_dir(fresh, false);
        make_dir(held, true);
        make_dir(other, true);
        int lock = open(held, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(lock, 0);
        cr_assert_eq(flock(lock, LOCK_EX), 0);

        launcher_fork_with(&o);
        cr_assert_eq(launch("limits.sh", NULL, NULL, 10 * USEC_PER_SEC, false, &run), 0);
        free(read_all(run.out, NULL));
        close(run.out);
        cr_assert_neq(stat(stale, &st), 0, "the stale directory was not removed");
        cr_assert_eq(stat(fresh, &st), 0, "a new directory was removed");
        cr_assert_eq(stat(held, &st), 0, "a directory in use was removed");
        cr_assert_eq(stat(other, &st), 0, "another name's directory was removed");
        close(lock);
        for (const char *const *d = (const char *const[]) { fresh, held, other, NULL }; *d; d++) {
                char file[PATH_MAX];
                snprintf(file, sizeof(file), "%s/left", *d);
                (void) rmdir(file);
                (void) rmdir(*d);
        }
}

Test(cgi_launcher, exec_failures_are_reported) {
        char path[PATH_MAX];
        struct stat st;
        Run run;

        snprintf(path, sizeof(path), "%s/noexec.sh", cgi_dir());
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_mode & 0111, 0, "noexec.sh must have no execute bit");
        cr_assert_eq(launch("noexec.sh", NULL, NULL, 10 * USEC_PER_SEC, false, &run), -EACCES);
        char *out = read_all(run.out, NULL); /* nothing ran: EOF at once */
        cr_assert_str_eq(out, "");
        free(out);
        close(run.out);

        cr_assert_eq(launch("badinterp.sh", NULL, NULL, 10 * USEC_PER_SEC, false, &run), -ENOENT);
        close(run.out);
        cr_assert(eventually_gone(launcher_has_children, launcher_pid, 5000), "the failed child was not reaped");

        /* The launcher still serves. */
        cr_assert_eq(launch("sub/inner.sh", NULL, NULL, 10 * USEC_PER_SEC, false, &run), 0);
        free(read_all(run.out, NULL));
        close(run.out);
}

Test(cgi_launcher, nothing_outside_the_directory_can_be_named) {
        char tmpl[] = "/tmp/cgi-test-XXXXXX", p[PATH_MAX];
        CgiScript s = CGI_SCRIPT_NULL;
        Run run;

        cr_assert_not_null(mkdtemp(tmpl));
        snprintf(p, sizeof(p), "%s/cgi", tmpl);
        cr_assert_eq(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/cgi/sub", tmpl);
        cr_assert_eq(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/secret.sh", tmpl);
        FILE *f = fopen(p, "we");
        fputs("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nsecret\\n'\n", f);
        fclose(f);
        cr_assert_eq(chmod(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/cgi/real.sh", tmpl);
        f = fopen(p, "we");
        fputs("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\ninside\\n'\n", f);
        fclose(f);
        cr_assert_eq(chmod(p, 0755), 0);
        char target[PATH_MAX];
        snprintf(target, sizeof(target), "%s/secret.sh", tmpl);
        snprintf(p, sizeof(p), "%s/cgi/abs-link.sh", tmpl);
        cr_assert_eq(symlink(target, p), 0);
        snprintf(p, sizeof(p), "%s/cgi/rel-link.sh", tmpl);
        cr_assert_eq(symlink("../secret.sh", p), 0);
        snprintf(p, sizeof(p), "%s/cgi/up", tmpl);
        cr_assert_eq(symlink("..", p), 0);
        snprintf(p, sizeof(p), "%s/cgi/sub/in-link.sh", tmpl);
        cr_assert_eq(symlink("../real.sh", p), 0);
        snprintf(p, sizeof(p), "%s/cgi/fifo", tmpl);
        cr_assert_eq(mkfifo(p, 0644), 0);

        snprintf(p, sizeof(p), "%s/cgi", tmpl);
        _cleanup_close_ int alias = open_alias(p);
        static const struct {
                const char *rest;
                int expect;
        } cases[] = {
                { "abs-link.sh", -EACCES },  /* absolute symlink out */
                { "rel-link.sh", -EACCES },  /* relative symlink out */
                { "up/secret.sh", -EACCES }, /* a directory symlink out */
                { "../secret.sh", -EACCES }, /* a ".." the caller did not normalize away */
                { "sub/../../secret.sh", -EACCES },
                { "missing.sh", -ENOENT },
                { "sub", -EISDIR },
                { "sub/", -EISDIR },
                { "", -EISDIR },
                { "fifo", -EACCES },
                { "real.sh/", 0 },
                { "sub/in-link.sh/x", 0 }, /* a symlink that stays inside is fine */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = cgi_script_open(alias, cases[i].rest, strlen(cases[i].rest), &s);
                cr_assert_eq(r, cases[i].expect, "%s: %d (%s)", cases[i].rest, r, strerror(-r));
                cgi_script_done(&s);
        }

        /* The symlink that stays inside runs the real script, in the link's directory. */
        cr_assert_eq(cgi_script_open(alias, "sub/in-link.sh/x", 16, &s), 0);
        cr_assert_eq(s.name_len, strlen("sub/in-link.sh"));
        int out[2];
        cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
        char *argv[] = { (char *) "in-link.sh", NULL };
        CgiLaunchRequest req = { .script_fd = s.fd, .dir_fd = s.dir_fd, .stdin_fd = -1, .stdout_fd = out[1],
                                 .error_log_fd = -1, .argv = argv, .timeout = 10 * USEC_PER_SEC };
        cr_assert_eq(cgi_launch(launcher_sock, &req, &run.pid), 0);
        close(out[1]);
        cgi_script_done(&s);
        char *o = read_all(out[0], NULL);
        cr_assert_str_eq(o, "Content-Type: text/plain\r\n\r\ninside\n");
        free(o);
        close(out[0]);

        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
        cr_assert_eq(system(cmd), 0);
}

Test(cgi_launcher, sigterm_kills_running_programs_and_exits) {
        char line[256];
        int leader = 0, child = 0;
        Run run;

        cr_assert_eq(launch("sleep.sh", NULL, NULL, 600 * USEC_PER_SEC, false, &run), 0);
        read_line(run.out, line, sizeof(line));
        read_line(run.out, line, sizeof(line));
        read_line(run.out, line, sizeof(line));
        cr_assert_eq(sscanf(line, "%d %d", &leader, &child), 2);
        cr_assert(group_exists(run.pid));

        cr_assert_eq(kill(launcher_pid, SIGTERM), 0);
        cr_assert_eq(launcher_wait(10000), 0, "the launcher did not exit cleanly after SIGTERM");
        cr_assert_not(group_exists(run.pid), "a program survived the launcher's drain");
        cr_assert(eventually_gone(process_exists, child, 5000));
        cr_assert_not(process_exists(run.pid));
        free(read_all(run.out, NULL));
        close(run.out);
}

Test(cgi_launcher, exits_when_every_peer_is_gone) {
        char line[256];
        Run run;

        cr_assert_eq(launch("sleep.sh", NULL, NULL, 600 * USEC_PER_SEC, false, &run), 0);
        read_line(run.out, line, sizeof(line));
        launcher_sock = safe_close(launcher_sock);
        cr_assert_eq(launcher_wait(10000), 0, "the launcher outlived its workers");
        cr_assert_not(group_exists(run.pid));
        close(run.out);
}

Test(cgi_launcher, malformed_messages_are_refused_and_it_keeps_serving) {
        Run run;

        /* No fds, garbage bytes: dropped. */
        cr_assert_eq(send(launcher_sock, "garbage", 7, MSG_NOSIGNAL), 7);

        /* The five fds (script, dir, stdin, stdout, reply) but a bad header: answered with an error
         * on the reply socket. */
        int pair[2], fds[5];
        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
        for (int i = 0; i < 4; i++)
                fds[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
        fds[4] = pair[1];
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(fds))];
        } control = {};
        char junk[32] = "not a launch request";
        struct iovec iov = { .iov_base = junk, .iov_len = sizeof(junk) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf) };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(fds));
        memcpy(CMSG_DATA(c), fds, sizeof(fds));
        cr_assert_eq(sendmsg(launcher_sock, &mh, MSG_NOSIGNAL), (ssize_t) sizeof(junk));
        for (int i = 0; i < 5; i++)
                close(fds[i]);
        struct pollfd p = { .fd = pair[0], .events = POLLIN };
        cr_assert_eq(poll(&p, 1, HANG_BOUND_MS), 1);
        int32_t reply[2] = { 0, 0 };
        cr_assert_eq(recv(pair[0], reply, sizeof(reply), 0), (ssize_t) sizeof(reply));
        cr_assert_eq(reply[0], -EBADMSG);
        close(pair[0]);

        cr_assert_eq(launch("sub/inner.sh", NULL, NULL, 10 * USEC_PER_SEC, false, &run), 0);
        free(read_all(run.out, NULL));
        close(run.out);
}

static void setup_one_program(void) {
        launcher_fork(300 * USEC_PER_MSEC, 1);
}

Test(cgi_launcher_limits, max_programs, .init = setup_one_program, .fini = launcher_stop, .timeout = 60) {
        char line[256];
        Run a, b;

        cr_assert_eq(launch("sleep.sh", NULL, NULL, 600 * USEC_PER_SEC, false, &a), 0);
        read_line(a.out, line, sizeof(line));
        cr_assert_eq(launch("sub/inner.sh", NULL, NULL, 10 * USEC_PER_SEC, false, &b), -EBUSY);
        close(b.out);
        close(a.out);
}

Test(cgi_launcher_limits, no_launcher_no_hang) {
        int sv[2];
        Run run;

        /* The launcher end closed: the client fails instead of waiting. */
        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        close(sv[1]);
        launcher_sock = sv[0];
        cr_assert_eq(launch("sub/inner.sh", NULL, NULL, 10 * USEC_PER_SEC, false, &run), -ECONNRESET);
        close(run.out);
        launcher_sock = safe_close(launcher_sock);
}

/* As the supervisor runs it: an unprivileged user under the launcher's seccomp filter. The programs
 * inherit both, and exec still works under the filter. */
static void setup_sandboxed(void) {
        int sv[2];

        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        launcher_pid = fork();
        cr_assert_geq(launcher_pid, 0);
        if (launcher_pid == 0) {
                SandboxPolicy policy = {
                        .change_ids = true, .uid = 65534, .gid = 65534, .profile = SANDBOX_PROFILE_CGI_LAUNCHER};
                const char *step = NULL;

                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(sv[0]);
                if (sandbox_apply(&policy, &step) < 0)
                        _exit(2);
                _exit(cgi_launcher_main(sv[1], &(CgiLauncherOptions) { .kill_grace = 300 * USEC_PER_MSEC }) < 0 ? 1
                                                                                                                 : 0);
        }
        close(sv[1]);
        launcher_sock = sv[0];
}

Test(cgi_launcher_sandboxed, programs_run_as_the_launchers_user, .init = setup_sandboxed, .fini = launcher_stop,
     .timeout = 60) {
        ProcStatus st;
        char line[256];
        Run run;

        if (geteuid() != 0)
                cr_skip_test("needs root to switch to nobody");
        cr_assert_eq(launch("sleep.sh", NULL, NULL, 600 * USEC_PER_SEC, false, &run), 0);
        read_line(run.out, line, sizeof(line));
        cr_assert_eq(proc_status_read(run.pid, &st), 0);
        cr_assert_eq(st.uid[PROC_ID_REAL], 65534);
        cr_assert_eq(st.uid[PROC_ID_EFFECTIVE], 65534);
        cr_assert_eq(st.gid[PROC_ID_REAL], 65534);
        cr_assert_eq(st.cap_eff, 0);
        cr_assert_eq(st.no_new_privs, 1);
        cr_assert_eq(st.seccomp, 2);
        close(run.out);

        /* Draining still reaches the group from inside the sandbox. */
        cr_assert_eq(kill(launcher_pid, SIGTERM), 0);
        cr_assert_eq(launcher_wait(10000), 0);
        cr_assert_not(group_exists(run.pid));
}
