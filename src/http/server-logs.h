/* SPDX-License-Identifier: MIT */
/* server-logs.h — the log files of one generation: each site's CustomLog and each virtual host's
 * own ErrorLog, one AccessLog per distinct path, and the line a request adds to its site's log.
 *
 * Contract: the supervisor opens the logs once per generation, before workers fork (the files may
 * be writable by root only); each process then has its own copy of every AccessLog and its buffer
 * — empty at the fork — and appends to the inherited O_APPEND descriptors. Each process must call
 * http_server_flush_logs() at least once a second and before it exits (http_server_free() does it
 * too), so no line outlives its process in memory. A [VirtualHost] without CustomLog inherits the
 * main server's (the configuration's rule) and so shares its file. Nothing here logs. */
#pragma once

#include <stdbool.h>

#include "http/access-log.h"
#include "http/server.h"
#include "http/site-config.h"

/* Open every site's CustomLog (one AccessLog per distinct path) and compile the formats; a site
 * marked foreign (http_server_set_foreign: another process serves it) is skipped. On failure
 * nothing stays open, -errno is returned and http_server_logs_failed() names the path. Calling it
 * again closes what an earlier call opened first. */
int http_server_open_logs(HttpServer *s);
const char *http_server_logs_failed(const HttpServer *s);

/* In a forked child that did not keep the log descriptors: forget the logs without flushing or
 * closing anything (the numbers may be reused already), so that http_server_open_logs() can open
 * its own. The buffers are empty at a fork, so no line is lost. */
void http_server_logs_abandon(HttpServer *s);

/* The descriptors of the open logs, which a forked worker must keep: up to max of them go to
 * fds[]; returns how many there are. */
size_t http_server_logs_fds(const HttpServer *s, int *fds, size_t max);

/* The descriptor of site's own ErrorLog file, to write whole lines to (O_APPEND); -1 when the site
 * logs errors to the process's own error log (the main server's ErrorLog, or stderr). */
int http_server_site_error_fd(const HttpServer *s, const HttpSite *site);

/* Does site write an access log? (Lets a caller skip building an entry.) */
bool http_server_site_logs(const HttpServer *s, const HttpSite *site);

/* Append the line for e to site's log, if it has one. A failed write is dropped: the request has
 * been answered, and the next flush reports a lasting problem. */
void http_server_log_request(const HttpServer *s, const HttpSite *site, const AccessLogEntry *e);

/* access_log_flush() on every log: now is CLOCK_MONOTONIC, or USEC_INFINITY to write everything.
 * Returns the first error. */
int http_server_flush_logs(const HttpServer *s, usec_t now);
/* The earliest access_log_next_flush() of all logs, for a poll timeout. */
usec_t http_server_logs_next_flush(const HttpServer *s);

/* SIGUSR1: flush and reopen every log file. Returns the first error (the others are still tried);
 * a log that cannot be reopened keeps writing to its old file. */
int http_server_reopen_logs(const HttpServer *s);

/* Flush and close every log; http_server_free() calls it. */
void http_server_close_logs(HttpServer *s);
