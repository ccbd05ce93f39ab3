/* SPDX-License-Identifier: MIT */
/* Tests of the journal priority prefixes: "<N>" only while stderr is the stream JOURNAL_STREAM
 * names, for hand-written lines (log_stderr_prefix) and for log_*() before log_open(). Criterion
 * runs each test in a process of its own, so the cached answer starts afresh each time. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/log.h"

/* stderr becomes one end of a socket pair (as journald's stream is a socket); returns the other. */
static int stderr_to_pair(bool name_it) {
        int sv[2];
        struct stat st;
        char v[64];

        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        cr_assert_eq(dup2(sv[0], STDERR_FILENO), STDERR_FILENO);
        cr_assert_eq(fstat(STDERR_FILENO, &st), 0);
        /* The right device with another inode: what a process sees whose stderr was redirected. */
        snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long) st.st_dev,
                 (unsigned long long) st.st_ino + (name_it ? 0 : 1));
        cr_assert_eq(setenv("JOURNAL_STREAM", v, 1), 0);
        return sv[1];
}

static void read_line(int fd, char *buf, size_t size) {
        ssize_t n = read(fd, buf, size - 1);
        cr_assert_gt(n, 0);
        buf[n] = 0;
}

Test(log, prefixes_when_stderr_is_the_journal) {
        (void) stderr_to_pair(true);
        cr_assert(log_stderr_is_journal());
        cr_assert_str_eq(log_stderr_prefix(LOG_PRI_ERR), "<3>");
        cr_assert_str_eq(log_stderr_prefix(LOG_PRI_WARNING), "<4>");
        cr_assert_str_eq(log_stderr_prefix(LOG_PRI_DEBUG + 5), "<7>");
}

Test(log, no_prefix_when_stderr_is_something_else) {
        (void) stderr_to_pair(false);
        cr_assert_not(log_stderr_is_journal());
        cr_assert_str_eq(log_stderr_prefix(LOG_PRI_ERR), "");
        cr_assert_eq(unsetenv("JOURNAL_STREAM"), 0);
        cr_assert_not(log_stderr_is_journal());
}

Test(log, lines_before_log_open_carry_the_priority) {
        int peer = stderr_to_pair(true);
        char buf[256];

        log_error("cannot %s", "start");
        read_line(peer, buf, sizeof(buf));
        cr_assert_str_eq(buf, "<3>cannot start\n");
}

/* ---- native journal entries ------------------------------------------------------------------ */

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "shared/message-ids.h"

/* What the stand-in sender got: the last entry's fields, joined by '\n'. */
static char sent[4096];
static unsigned n_sent;
static int send_result;

static int capture(const struct iovec *iov, size_t n) {
        size_t len = 0;

        for (size_t i = 0; i < n && len < sizeof(sent) - 1; i++)
                len += snprintf(sent + len, sizeof(sent) - len, "%.*s\n", (int) iov[i].iov_len,
                                (const char *) iov[i].iov_base);
        n_sent++;
        return send_result;
}

/* Everything written to the peer so far ("" when nothing). */
static void read_all(int fd, char *buf, size_t size) {
        size_t len = 0;

        cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        for (;;) {
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n <= 0) {
                        cr_assert(n < 0 && errno == EAGAIN, "read: %m");
                        break;
                }
                len += n;
        }
        buf[len] = 0;
}

Test(log, journal_fields_of_a_message) {
        LogJournalBuffer buf;
        struct iovec iov[LOG_JOURNAL_FIELDS_MAX];
        LogRecord rec = {
                .level = LOG_PRI_NOTICE, .error = ENOENT, .file = "../src/supervisor/supervisor.c", .line = 181,
                .func = "supervisor_commit_reload", .tag = "pool a.example", .msg = "reload: done",
                .fields = LOG_FIELDS(.message_id = MPMD_MESSAGE_RELOAD_DONE, .vhost = "a.example", .generation = 7),
        };
        static const char *const want[] = {
                "PRIORITY=5",
                "MESSAGE=pool a.example: reload: done",
                "SYSLOG_IDENTIFIER=mpmd",
                "CODE_FILE=src/supervisor/supervisor.c",
                "CODE_LINE=181",
                "CODE_FUNC=supervisor_commit_reload",
                "ERRNO=2",
                "MESSAGE_ID=" MPMD_MESSAGE_RELOAD_DONE,
                "MPMD_VHOST=a.example",
                "MPMD_GENERATION=7",
        };

        size_t n = log_journal_fields(&rec, &buf, iov);
        cr_assert_eq(n, ELEMENTSOF(want));
        for (size_t i = 0; i < n; i++) {
                cr_assert_eq(iov[i].iov_len, strlen(want[i]), "field %zu", i);
                cr_assert_eq(memcmp(iov[i].iov_base, want[i], iov[i].iov_len), 0, "field %zu: %.*s", i,
                             (int) iov[i].iov_len, (const char *) iov[i].iov_base);
        }
}

Test(log, journal_fields_leave_out_what_is_not_known) {
        LogJournalBuffer buf;
        struct iovec iov[LOG_JOURNAL_FIELDS_MAX];
        LogRecord rec = { .level = LOG_PRI_DEBUG + 3, .tag = "", .msg = "x" };

        size_t n = log_journal_fields(&rec, &buf, iov);
        cr_assert_eq(n, 3);
        cr_assert_eq(memcmp(iov[0].iov_base, "PRIORITY=7", iov[0].iov_len), 0);
        cr_assert_eq(memcmp(iov[1].iov_base, "MESSAGE=x", iov[1].iov_len), 0);
}

Test(log, native_entry_with_the_call_site_when_stderr_is_the_journal) {
        int peer = stderr_to_pair(true);
        char buf[256], want[512];

        log_set_journal_sender(capture);
        int line = __LINE__ + 1;
        int r = log_error_errno(-EACCES, "reload refused: %s", "bad");
        cr_assert_eq(r, -EACCES);
        cr_assert_eq(n_sent, 1);
        snprintf(want, sizeof(want),
                 "PRIORITY=3\nMESSAGE=reload refused: bad\nSYSLOG_IDENTIFIER=mpmd\nCODE_FILE=tests/shared/test-log.c\n"
                 "CODE_LINE=%d\nCODE_FUNC=%s\nERRNO=%d\n", line, __func__, EACCES);
        cr_assert_str_eq(sent, want);

        log_notice_fields(LOG_FIELDS(.message_id = MPMD_MESSAGE_STOPPING, .generation = 3), "stopping");
        cr_assert_eq(n_sent, 2);
        cr_assert(strstr(sent, "\nMESSAGE_ID=" MPMD_MESSAGE_STOPPING "\nMPMD_GENERATION=3\n"), "%s", sent);

        read_all(peer, buf, sizeof(buf));
        cr_assert_str_eq(buf, "", "the stream got: %s", buf);
}

Test(log, falls_back_to_the_stream_when_the_journal_refuses) {
        int peer = stderr_to_pair(true);
        char buf[256];

        send_result = -EAGAIN;
        log_set_journal_sender(capture);
        log_warning("no room");
        cr_assert_eq(n_sent, 1);
        read_all(peer, buf, sizeof(buf));
        cr_assert_str_eq(buf, "<4>no room\n");
}

Test(log, plain_lines_when_stderr_is_not_the_journal) {
        int peer = stderr_to_pair(false);
        char buf[256], want[256];

        log_set_journal_sender(capture);
        log_set_tag("worker 2");
        log_error("cannot %s", "start");
        cr_assert_eq(n_sent, 0);
        read_all(peer, buf, sizeof(buf));
        snprintf(want, sizeof(want), "mpmd[%d]: error: worker 2: cannot start\n", (int) getpid());
        cr_assert_str_eq(buf, want);
}

/* libsystemd's socket is the sender's only: a child (whose descriptors spawn.c closes) writes lines. */
Test(log, a_forked_process_writes_lines) {
        int peer = stderr_to_pair(true);
        char buf[256];
        int status;

        log_set_journal_sender(capture);
        log_info("parent");
        cr_assert_eq(n_sent, 1);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                log_info("child");
                _exit(n_sent == 1 ? 0 : 1);
        }
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        read_all(peer, buf, sizeof(buf));
        cr_assert_str_eq(buf, "<6>child\n");
}

/* ---- rate limit ------------------------------------------------------------------------------ */

static usec_t fake_now = 1000 * USEC_PER_SEC;
static usec_t fake_clock(void) {
        return fake_now;
}

static unsigned count(const char *s, const char *what) {
        unsigned n = 0;
        for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
                n++;
        return n;
}

static void warn_times(unsigned n) {
        for (unsigned i = 0; i < n; i++)
                log_warning("accept failed %u", i);
}

Test(log, repeated_warnings_are_suppressed_and_counted) {
        int peer = stderr_to_pair(false);
        static char buf[16384];

        log_set_clock(fake_clock);
        warn_times(LOG_RATELIMIT_BURST + 5);
        read_all(peer, buf, sizeof(buf));
        cr_assert_eq(count(buf, "accept failed"), LOG_RATELIMIT_BURST, "%s", buf);
        cr_assert_eq(count(buf, "suppressed"), 0);

        /* Still within the interval: dropped as well. */
        fake_now += LOG_RATELIMIT_INTERVAL - 1;
        warn_times(1);
        read_all(peer, buf, sizeof(buf));
        cr_assert_str_eq(buf, "");

        /* The next message after the interval, from anywhere, brings the count first. */
        fake_now += 1;
        log_info("something else");
        read_all(peer, buf, sizeof(buf));
        char want[256];
        snprintf(want, sizeof(want), "mpmd[%d]: warn: 6 similar messages suppressed\nmpmd[%d]: info: something else\n",
                 (int) getpid(), (int) getpid());
        cr_assert_str_eq(buf, want);

        /* A new interval: the call site has its burst again. */
        warn_times(LOG_RATELIMIT_BURST + 1);
        read_all(peer, buf, sizeof(buf));
        cr_assert_eq(count(buf, "accept failed"), LOG_RATELIMIT_BURST, "%s", buf);
        fake_now += LOG_RATELIMIT_INTERVAL;
        warn_times(1);
        read_all(peer, buf, sizeof(buf));
        snprintf(want, sizeof(want), "mpmd[%d]: warn: 1 similar message suppressed\nmpmd[%d]: warn: accept failed 0\n",
                 (int) getpid(), (int) getpid());
        cr_assert_str_eq(buf, want);
}

Test(log, errors_and_events_are_never_suppressed) {
        int peer = stderr_to_pair(false);
        static char buf[16384];

        log_set_clock(fake_clock);
        for (unsigned i = 0; i < LOG_RATELIMIT_BURST * 2; i++) {
                log_error("config error %u", i);
                log_notice_fields(LOG_FIELDS(.message_id = MPMD_MESSAGE_RELOAD_DONE), "reload %u", i);
                log_warning_fields(LOG_FIELDS(.unlimited = true), "config warning %u", i);
        }
        read_all(peer, buf, sizeof(buf));
        cr_assert_eq(count(buf, "config error"), LOG_RATELIMIT_BURST * 2);
        cr_assert_eq(count(buf, "reload"), LOG_RATELIMIT_BURST * 2);
        cr_assert_eq(count(buf, "config warning"), LOG_RATELIMIT_BURST * 2);
}
