/* SPDX-License-Identifier: MIT */
/* log.h — the daemon's log: one line per message to stderr or a file.
 *
 * Under systemd, when JOURNAL_STREAM names our stderr, each line gets a "<N>" priority prefix so
 * journald keeps the level. Otherwise lines carry a readable "[level]" tag (and a timestamp when
 * written to a file). log_*_errno() return -abs(error) so callers can write
 * `return log_error_errno(r, "Failed to …: %m");` — %m prints that error. Only the supervisor and
 * the worker mains log; library code returns errors instead. */
#pragma once

#include <stdbool.h>

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

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) _printf_(5, 6);
/* A line in the file format ("[time] [level] [pid N] tag: …") to another open log file, such as a
 * virtual host's ErrorLog; dropped when level is above the maximum level. */
void log_to_fd(int fd, int level, const char *fmt, ...) _printf_(3, 4);

#define log_full_errno(level, error, ...)                                                   \
        ({                                                                                  \
                int _l_ = (level), _e_ = (error);                                           \
                _l_ <= log_get_max_level() ? log_internal(_l_, _e_, __FILE__, __LINE__, __VA_ARGS__) \
                                           : -((_e_) < 0 ? -(_e_) : (_e_));                 \
        })

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
