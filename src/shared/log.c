/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* We pass CODE_FILE/LINE/FUNC of our callers, not of this file. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "shared/log.h"
#include "shared/time-util.h"

static int log_max_level = LOG_PRI_INFO;
static int log_fd = STDERR_FILENO;
static bool log_to_file;
static bool log_journal_prefix;
/* Whether log_journal_prefix was worked out for stderr: lines logged before log_open() (the
 * supervisor's first ones) carry the prefix too. */
static bool log_journal_checked;
/* Whether messages go to journald natively (decided with log_journal_prefix). */
static bool log_native;
static int (*log_journal_sender)(const struct iovec *iov, size_t n);
/* The process that first sent natively: libsystemd caches its socket for good, and a process forked
 * from this one may have closed that descriptor and got another under its number (spawn.c closes
 * all it does not know, then accepts connections), so only this process sends natively. */
static pid_t log_native_pid;
static usec_t (*log_clock)(void);
static char log_tag[64];

/* Per call site: how many messages this interval, and how many were dropped. */
typedef struct LogRateLimit {
        const char *file, *func;
        int line, level;
        usec_t begin;
        unsigned n, suppressed;
} LogRateLimit;
static LogRateLimit log_ratelimits[32];

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

void log_set_journal_sender(int (*send)(const struct iovec *iov, size_t n)) {
        log_journal_sender = send;
        if (!log_to_file)
                log_journal_checked = false; /* decide again with the new sender */
}

void log_set_clock(usec_t (*now)(void)) {
        log_clock = now;
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

/* The stream systemd connects a service's stderr to is a client of journald's stdout socket (of
 * the default namespace, whose native socket sd_journal_sendv() writes to). */
static bool log_stderr_peer_is_journald(void) {
        static const char path[] = "/run/systemd/journal/stdout";
        struct sockaddr_un sa = {};
        socklen_t len = sizeof(sa);

        if (getpeername(STDERR_FILENO, (struct sockaddr *) &sa, &len) < 0 || sa.sun_family != AF_UNIX)
                return false;
        if (len <= offsetof(struct sockaddr_un, sun_path))
                return false;
        size_t n = strnlen(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path));
        return n == strlen(path) && memcmp(sa.sun_path, path, n) == 0;
}

static void log_decide_stderr(void) {
        log_journal_prefix = log_stderr_is_journal();
        log_native = log_journal_prefix && (log_journal_sender || log_stderr_peer_is_journald());
        log_journal_checked = true;
}

int log_open(const char *target) {
        if (!target || strcmp(target, "stderr") == 0) {
                log_close();
                log_decide_stderr();
                return 0;
        }

        int fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
                return -errno;
        log_close();
        log_fd = fd;
        log_to_file = true;
        log_journal_prefix = false;
        log_native = false;
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

/* "../src/x.c" (meson compiles from the build folder) reads better as "src/x.c". */
static const char *log_source_path(const char *file) {
        for (;;) {
                if (strncmp(file, "../", 3) == 0)
                        file += 3;
                else if (strncmp(file, "./", 2) == 0)
                        file += 2;
                else
                        return file;
        }
}

#define FIELD(iov, n, buf, ...)                                                       \
        do {                                                                          \
                snprintf((buf), sizeof(buf), __VA_ARGS__);                            \
                (iov)[(n)++] = (struct iovec){ .iov_base = (buf), .iov_len = strlen(buf) }; \
        } while (0)

size_t log_journal_fields(const LogRecord *rec, LogJournalBuffer *buf, struct iovec iov[static LOG_JOURNAL_FIELDS_MAX]) {
        static const char ident[] = "SYSLOG_IDENTIFIER=mpmd";
        const LogFields *f = rec->fields;
        int level = rec->level < 0 ? 0 : rec->level > LOG_PRI_DEBUG ? LOG_PRI_DEBUG : rec->level;
        const char *tag = rec->tag ? rec->tag : "";
        size_t n = 0;

        FIELD(iov, n, buf->priority, "PRIORITY=%d", level);
        FIELD(iov, n, buf->message, "MESSAGE=%s%s%s", tag, tag[0] ? ": " : "", rec->msg);
        iov[n++] = (struct iovec){ .iov_base = (char *) ident, .iov_len = strlen(ident) };
        if (rec->file) {
                FIELD(iov, n, buf->file, "CODE_FILE=%s", log_source_path(rec->file));
                FIELD(iov, n, buf->line, "CODE_LINE=%d", rec->line);
        }
        if (rec->func)
                FIELD(iov, n, buf->func, "CODE_FUNC=%s", rec->func);
        if (rec->error > 0)
                FIELD(iov, n, buf->error, "ERRNO=%d", rec->error);
        if (f && f->message_id)
                FIELD(iov, n, buf->message_id, "MESSAGE_ID=%s", f->message_id);
        if (f && f->vhost)
                FIELD(iov, n, buf->vhost, "MPMD_VHOST=%s", f->vhost);
        if (f && f->generation > 0)
                FIELD(iov, n, buf->generation, "MPMD_GENERATION=%u", f->generation);
        return n;
}

static int log_sd_journal_send(const struct iovec *iov, size_t n) {
        return sd_journal_sendv(iov, (int) n);
}

/* A native entry, or false when the caller should write the line instead. */
static bool log_send_native(const LogRecord *rec) {
        LogJournalBuffer buf;
        struct iovec iov[LOG_JOURNAL_FIELDS_MAX];
        pid_t pid;

        if (!log_native || log_to_file)
                return false;
        pid = getpid();
        if (log_native_pid != 0 && log_native_pid != pid)
                return false;
        log_native_pid = pid;

        size_t n = log_journal_fields(rec, &buf, iov);
        return (log_journal_sender ? log_journal_sender : log_sd_journal_send)(iov, n) >= 0;
}

static void log_emit(const LogRecord *rec) {
        if (!log_send_native(rec))
                log_write_line(log_fd, log_to_file, log_journal_prefix, rec->level, rec->msg);
}

static usec_t log_now(void) {
        return log_clock ? log_clock() : now_usec(CLOCK_MONOTONIC);
}

/* The count of an interval that has ended, as a message of the call site that was silenced. */
static void log_ratelimit_report(LogRateLimit *e) {
        char msg[64];

        if (e->suppressed == 0)
                return;
        snprintf(msg, sizeof(msg), "%u similar message%s suppressed", e->suppressed, e->suppressed == 1 ? "" : "s");
        e->suppressed = 0;
        log_emit(&(LogRecord){ .level = e->level, .file = e->file, .line = e->line, .func = e->func,
                               .tag = log_tag, .msg = msg });
}

static void log_ratelimit_flush(usec_t now) {
        for (size_t i = 0; i < ELEMENTSOF(log_ratelimits); i++) {
                LogRateLimit *e = &log_ratelimits[i];
                if (e->file && e->suppressed > 0 && now - e->begin >= LOG_RATELIMIT_INTERVAL)
                        log_ratelimit_report(e);
        }
}

/* Whether a message of this call site is over its burst (and so dropped and counted). */
static bool log_ratelimit_drop(const char *file, int line, const char *func, int level, usec_t now) {
        size_t h = ((uintptr_t) file * 31u + (unsigned) line) % ELEMENTSOF(log_ratelimits), oldest = h;
        LogRateLimit *e = NULL;

        /* A few probes, then the stalest entry makes room (after reporting what it counted). */
        for (size_t k = 0; k < 4 && !e; k++) {
                LogRateLimit *c = &log_ratelimits[(h + k) % ELEMENTSOF(log_ratelimits)];
                if (!c->file || (c->file == file && c->line == line))
                        e = c;
                else if (c->begin < log_ratelimits[oldest].begin)
                        oldest = (h + k) % ELEMENTSOF(log_ratelimits);
        }
        if (!e) {
                e = &log_ratelimits[oldest];
                log_ratelimit_report(e);
                e->file = NULL;
        }
        if (!e->file || now - e->begin >= LOG_RATELIMIT_INTERVAL) {
                *e = (LogRateLimit){ .file = file, .line = line, .func = func, .level = level, .begin = now };
        }
        if (++e->n <= LOG_RATELIMIT_BURST)
                return false;
        e->suppressed++;
        e->level = level;
        return true;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const LogFields *fields,
                 const char *fmt, ...) {
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
        if (!log_journal_checked)
                /* Before log_open(): stderr, whatever it is. */
                log_decide_stderr();

        usec_t now = log_now();
        log_ratelimit_flush(now);
        bool limited = level >= LOG_PRI_WARNING && file && !(fields && (fields->message_id || fields->unlimited));
        if (!limited || !log_ratelimit_drop(file, line, func, level, now))
                log_emit(&(LogRecord){ .level = level, .error = error, .file = file, .line = line, .func = func,
                                       .tag = log_tag, .msg = msg, .fields = fields });

        errno = saved;
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
