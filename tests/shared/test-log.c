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
