/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "shared/log.h"

static int log_max_level = LOG_PRI_INFO;
static int log_fd = STDERR_FILENO;
static bool log_to_file;
static bool log_journal_prefix;
/* Whether log_journal_prefix was worked out for stderr: lines logged before log_open() (the
 * supervisor's first ones) carry the prefix too. */
static bool log_journal_checked;
static char log_tag[64];

static const char *const level_names[] = {
        "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
};

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

void log_set_tag(const char *tag) {
        snprintf(log_tag, sizeof(log_tag), "%s", tag ? tag : "");
}

/* journald hands us "DEV:INO" of the stream it connected to our stderr. */
bool log_stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        struct stat st;
        unsigned long long dev, ino;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == dev && st.st_ino == ino;
}

int log_open(const char *target) {
        if (!target || strcmp(target, "stderr") == 0) {
                log_close();
                log_journal_prefix = log_stderr_is_journal();
                log_journal_checked = true;
                return 0;
        }

        int fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
                return -errno;
        log_close();
        log_fd = fd;
        log_to_file = true;
        log_journal_prefix = false;
        log_journal_checked = true;
        return 0;
}

int log_get_fd(void) {
        return log_fd;
}

void log_close(void) {
        if (log_to_file)
                safe_close(log_fd);
        log_fd = STDERR_FILENO;
        log_to_file = false;
}

const char *log_stderr_prefix(int level) {
        static const char *const prefixes[] = { "<0>", "<1>", "<2>", "<3>", "<4>", "<5>", "<6>", "<7>" };
        static int journal = -1; /* stderr stays what it was at the first call */

        if (journal < 0)
                journal = log_stderr_is_journal();
        if (!journal)
                return "";
        return prefixes[level < 0 ? 0 : level > LOG_PRI_DEBUG ? LOG_PRI_DEBUG : level];
}

/* One line to fd: to_file and journal say how the prefix looks. */
static void log_write_line(int fd, bool to_file, bool journal, int level, const char *msg) {
        char prefix[256] = "";

        if (level < 0)
                level = 0;
        if (level > LOG_PRI_DEBUG)
                level = LOG_PRI_DEBUG;

        if (journal)
                snprintf(prefix, sizeof(prefix), "<%d>%s%s", level, log_tag, log_tag[0] ? ": " : "");
        else if (to_file) {
                char when[64];
                struct tm tm;
                time_t now = time(NULL);
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&now, &tm));
                snprintf(prefix, sizeof(prefix), "[%s] [%s] [pid %d] %s%s", when, level_names[level],
                         (int) getpid(), log_tag, log_tag[0] ? ": " : "");
        } else
                snprintf(prefix, sizeof(prefix), "mpmd[%d]: %s: %s%s", (int) getpid(), level_names[level],
                         log_tag, log_tag[0] ? ": " : "");

        struct iovec iov[3] = {
                { .iov_base = prefix, .iov_len = strlen(prefix) },
                { .iov_base = (char *) msg, .iov_len = strlen(msg) },
                { .iov_base = (char *) "\n", .iov_len = 1 },
        };
        /* One writev per line keeps lines whole when several processes share the file. */
        (void) !writev(fd, iov, 3);
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) {
        char msg[2048];
        int saved = errno;
        va_list ap;

        if (error < 0)
                error = -error;
        /* %m prints the error the caller passed, not whatever errno happens to be. */
        errno = error;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (!log_journal_checked) {
                /* Before log_open(): stderr, whatever it is. */
                log_journal_prefix = log_stderr_is_journal();
                log_journal_checked = true;
        }
        log_write_line(log_fd, log_to_file, log_journal_prefix, level, msg);

        errno = saved;
        (void) file;
        (void) line;
        return -error;
}

void log_to_fd(int fd, int level, const char *fmt, ...) {
        char msg[2048];
        int saved = errno;
        va_list ap;

        if (level > log_get_max_level())
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_write_line(fd, true, false, level, msg);
        errno = saved;
}
