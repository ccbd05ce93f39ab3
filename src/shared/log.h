/* SPDX-License-Identifier: MIT */
/* log.h — the daemon's log: one line per message to stderr or a file, or a journal entry.
 *
 * Under systemd, when JOURNAL_STREAM names our stderr, a message goes to journald natively
 * (sd_journal_sendv: PRIORITY, MESSAGE, SYSLOG_IDENTIFIER=mpmd, CODE_FILE/LINE/FUNC of the call
 * site, and the caller's LogFields: MESSAGE_ID, MPMD_VHOST, MPMD_GENERATION); when that fails, or
 * in a process forked from the one that sent (libsystemd's cached socket may be closed or reused
 * there: spawn.c closes every descriptor it does not know), it is a line with a "<N>" priority
 * prefix so journald keeps the level. Otherwise lines carry a readable "[level]" tag (and a
 * timestamp when written to a file), byte for byte as before.
 *
 * Warnings and less severe messages are rate-limited per call site: more than LOG_RATELIMIT_BURST
 * in LOG_RATELIMIT_INTERVAL are dropped and counted, and "N similar messages suppressed" is logged
 * at the first message after the interval (from any call site). Errors, and messages with a
 * MESSAGE_ID (events), are never suppressed.
 * log_*_errno() return -abs(error) so callers can write
 * `return log_error_errno(r, "Failed to …: %m");` — %m prints that error. Only the supervisor and
 * the worker mains log; library code returns errors instead. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "shared/macro.h"

/* syslog priorities */
enum {
        LOG_PRI_EMERG,
        LOG_PRI_ALERT,
        LOG_PRI_CRIT,
        LOG_PRI_ERR,
        LOG_PRI_WARNING,
        LOG_PRI_NOTICE,
        LOG_PRI_INFO,
        LOG_PRI_DEBUG,
};

void log_set_max_level(int level);
int log_get_max_level(void);
/* "stderr" or an absolute path (opened O_APPEND). Re-opening (SIGUSR1) calls this again. */
int log_open(const char *target);
void log_close(void);
/* The descriptor lines are written to (STDERR_FILENO, or the ErrorLog file): a forked process that
 * keeps logging must keep it open. */
int log_get_fd(void);
/* Whether stderr is a stream journald connected (JOURNAL_STREAM names its device and inode). */
bool log_stderr_is_journal(void);
/* "<N>" (sd-daemon(3)) for a line of priority level written to stderr by hand (fprintf) while
 * stderr is the journal, else "": journald then files the line at that priority instead of the
 * stream's default (info), so `journalctl -p err` shows it. */
const char *log_stderr_prefix(int level);
/* A tag put before every message of this process, e.g. "worker 3" or "pool example.org". */
void log_set_tag(const char *tag);

/* What a caller knows about a message beyond its text: journal fields (NULL/0: none). */
typedef struct LogFields {
        const char *message_id; /* 32 hex digits (shared/message-ids.h) */
        const char *vhost;      /* MPMD_VHOST=: the site's name */
        unsigned generation;    /* MPMD_GENERATION= (generations count from 1) */
        bool unlimited;         /* never rate-limited: one of a list of distinct diagnostics */
} LogFields;
/* For the log_*_fields() macros: LOG_FIELDS(.message_id = MPMD_MESSAGE_STOPPING, .generation = n) */
#define LOG_FIELDS(...) (&(const LogFields){ __VA_ARGS__ })

#define LOG_RATELIMIT_INTERVAL (5 * USEC_PER_SEC)
#define LOG_RATELIMIT_BURST 10

/* One message as the journal gets it. */
typedef struct LogRecord {
        int level;
        int error; /* positive errno, 0: none */
        const char *file, *func;
        int line;
        const char *tag; /* "" or log_set_tag()'s */
        const char *msg;
        const LogFields *fields; /* or NULL */
} LogRecord;

/* Room for the fields log_journal_fields() formats (the message is pointed at, not copied). */
#define LOG_JOURNAL_FIELDS_MAX 10
typedef struct LogJournalBuffer {
        char priority[16], file[256], line[32], func[128], message_id[48], vhost[288], generation[40],
                error[24], message[2200];
} LogJournalBuffer;

/* Fills iov with rec's journal fields ("NAME=value", one entry each), formatted into buf; returns
 * how many (at most LOG_JOURNAL_FIELDS_MAX). MESSAGE= is "tag: text" when rec has a tag, as the
 * line would be. Pure: no journal needed. */
size_t log_journal_fields(const LogRecord *rec, LogJournalBuffer *buf, struct iovec iov[static LOG_JOURNAL_FIELDS_MAX]);

/* Tests: where native entries go instead of sd_journal_sendv() (NULL: back to it), and the clock
 * of the rate limit (NULL: CLOCK_MONOTONIC). A sender set here is used whenever JOURNAL_STREAM
 * names stderr; sd_journal_sendv() only when stderr is also connected to journald's own stdout
 * socket, so a test's stand-in stream never reaches a real journal. */
void log_set_journal_sender(int (*send)(const struct iovec *iov, size_t n));
void log_set_clock(usec_t (*now)(void));

int log_internal(int level, int error, const char *file, int line, const char *func, const LogFields *fields,
                 const char *fmt, ...) _printf_(7, 8);
/* A line in the file format ("[time] [level] [pid N] tag: …") to another open log file, such as a
 * virtual host's ErrorLog; dropped when level is above the maximum level. */
void log_to_fd(int fd, int level, const char *fmt, ...) _printf_(3, 4);

#define log_full_errno_fields(level, error, fields, ...)                                                      \
        ({                                                                                                   \
                int _l_ = (level), _e_ = (error);                                                            \
                _l_ <= log_get_max_level() ? log_internal(_l_, _e_, __FILE__, __LINE__, __func__, (fields), __VA_ARGS__) \
                                           : -((_e_) < 0 ? -(_e_) : (_e_));                                  \
        })
#define log_full_errno(level, error, ...) log_full_errno_fields(level, error, NULL, __VA_ARGS__)

#define log_info_fields(fields, ...) log_full_errno_fields(LOG_PRI_INFO, 0, fields, __VA_ARGS__)
#define log_notice_fields(fields, ...) log_full_errno_fields(LOG_PRI_NOTICE, 0, fields, __VA_ARGS__)
#define log_warning_fields(fields, ...) log_full_errno_fields(LOG_PRI_WARNING, 0, fields, __VA_ARGS__)
#define log_error_fields(fields, ...) log_full_errno_fields(LOG_PRI_ERR, 0, fields, __VA_ARGS__)

#define log_debug(...) log_full_errno(LOG_PRI_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_PRI_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_PRI_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_PRI_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_PRI_ERR, 0, __VA_ARGS__)
#define log_crit(...) log_full_errno(LOG_PRI_CRIT, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_PRI_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_PRI_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_PRI_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_PRI_ERR, e, __VA_ARGS__)
