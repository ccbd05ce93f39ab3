/* SPDX-License-Identifier: MIT */
/* cgi-run.h — one CGI program run for one request: find the script beneath its ScriptAlias
 * directory, have it started, read its output without blocking and turn it into response bytes.
 *
 * The engine never forks: a process that serves connections may be threaded and its sandbox has
 * no execve. The program is started by whoever the server names with http_server_set_cgi_launcher()
 * (in mpmd: the CGI launcher process, src/mpm/cgi-launcher.h), given a CgiLaunchRequest, without
 * waiting for the fork and the exec. The run owns the descriptor the launcher answers on, then the
 * read end of the program's stdout pipe (non-blocking): the connection waits for cgi_run_fd() to be
 * readable (HTTP_CONN_WANT_CGI) and calls cgi_run_pump() again. The request body, if any, was
 * spooled whole into a file first (a memfd), so the program never waits for the client and the
 * client never waits for the program: no deadlock between a full stdin and a full stdout. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/cgi-exchange.h"
#include "http/cgi.h"
#include "shared/macro.h"
#include "http/request.h"

/* ---- the script --------------------------------------------------------------------------- */

/* A script found beneath a ScriptAlias directory. */
typedef struct CgiScript {
        int fd;          /* the program: O_PATH (O_RDONLY when reached through a symlink), O_CLOEXEC */
        int dir_fd;      /* the directory it is in: the program's working directory */
        size_t name_len; /* rest[0..name_len) named the script; what follows is PATH_INFO */
} CgiScript;

#define CGI_SCRIPT_NULL ((CgiScript) { .fd = -1, .dir_fd = -1 })

/* Find the script that rest (the request path after the ScriptAlias URL, cgi_script_alias_match())
 * names beneath alias_dir_fd, Apache's way: the first component that is not a directory is the
 * script, the rest of the path is PATH_INFO. Every component is opened relative to the one before
 * without following symlinks; a symlink is followed only beneath alias_dir_fd (http_path_open(),
 * openat2 RESOLVE_BENEATH), so nothing outside the directory can be named. Errors map to statuses:
 * -ENOENT → 404; -EACCES (outside the directory, "." or "..", not a regular file, no permission)
 * and -EISDIR (the path names a directory, Apache's "attempt to invoke directory as script") → 403;
 * -ENAMETOOLONG → 414. */
int cgi_script_open(int alias_dir_fd, const char *rest, size_t rest_len, CgiScript *ret);
void cgi_script_done(CgiScript *s); /* closes both fds; accepts CGI_SCRIPT_NULL */
/* The same walk, to know only what rest names (the router, FastCGI, whose responder opens the
 * file itself): 0 with the length of rest that named the script, or cgi_script_open()'s errors. */
int cgi_script_find(int alias_dir_fd, const char *rest, size_t rest_len, size_t *ret_name_len);
/* The status for a cgi_script_open() error (404, 403, 414, 500), with *ret_why for the error log
 * (static; NULL for 404 and 414, which are the client's business). */
int cgi_script_status(int r, const char **ret_why);

/* ---- starting a program ------------------------------------------------------------------- */

/* What a CgiLaunchFunc (server.h) is asked to start. */
typedef struct CgiLaunchRequest {
        int script_fd;       /* CgiScript.fd */
        int dir_fd;          /* CgiScript.dir_fd */
        int stdin_fd;        /* the whole request body, rewound (a memfd); -1: /dev/null */
        int stdout_fd;       /* the write end of the pipe the caller reads the program's output from */
        /* The program's stderr is never a log file itself (a program could forge, rewrite or truncate
         * it): the launcher gives it a pipe and writes each line it reads there to this file, the
         * site's own ErrorLog (lent, as the other fds), prefixed with [vhost site_name] [client
         * client] and escaped (src/mpm/cgi-stderr.h); -1: to the launcher's own error log (the
         * server's ErrorLog), in the same form. */
        int error_log_fd;
        const char *site_name; /* the virtual host, for those lines; NULL: "-" */
        const char *client;    /* "ADDR:PORT" of the client; NULL: "-" */
        char *const *argv;   /* NULL-terminated, argv[0] at least */
        const char *env;     /* cgi_env_build()'s block of NUL-terminated strings */
        size_t env_len;
        size_t env_count;
        usec_t timeout;       /* CGITimeout: the program's whole run, then its group is killed */
        usec_t reply_timeout; /* the blocking cgi_launch(): how long to wait while the launcher's
                               * queue is full and for its answer; 0: 10 s */
} CgiLaunchRequest;

/* ---- one run ------------------------------------------------------------------------------ */

typedef struct CgiRun CgiRun;

typedef struct CgiRunParams {
        const HttpRequest *request;   /* head, buf, site, server and the normalized path */
        const CgiAliasMatch *alias;   /* where the path fell (cgi_script_alias_match()) */
        int alias_dir_fd;             /* the alias's directory, O_PATH */
        const char *remote_addr;
        uint16_t remote_port;
        const char *server_addr;
        uint16_t server_port;
        int body_fd;                  /* the spooled request body, or -1 */
        uint64_t body_len;
        int error_log_fd;             /* the site's own ErrorLog, or -1: the server's (CgiLaunchRequest) */
        bool keep_alive;              /* the connection's verdict before the program speaks */
        const char *date;             /* http_date_now() */
} CgiRunParams;

/* Find the script, build the environment, make the stdout pipe and hand the program to the
 * server's launcher (without waiting for it to start: cgi_run_pump() learns how that went). When
 * the launcher's queue is full (its start() answers -EAGAIN) the request is kept, with its own
 * copies of the descriptors it lends, and cgi_run_pump() sends it once cgi_run_fd() is writable.
 * Returns 0 and *ret, or the HTTP status to answer instead (404, 403, 414: the script; 503: the
 * launcher is gone; 500: anything else) with *ret_why saying why for the error log (static, NULL
 * for the plain 404). */
int cgi_run_start(const CgiRunParams *p, CgiRun **ret, const char **ret_why);
CgiRun *cgi_run_free(CgiRun *r);

/* What to wait on: while cgi_run_sending(), for writing: the launcher's socket, whose queue was
 * full when the run started (a descriptor of the run's own, so that each run can be watched on its
 * own; it is closed once the request is sent); then for reading: the launcher's answer, then the
 * program's stdout. */
int cgi_run_fd(const CgiRun *r);
bool cgi_run_sending(const CgiRun *r);

/* After cgi_run_pump() said -ECANCELED: the status to answer (500: the program could not be
 * executed; 503: the launcher is busy, draining or gone) and *ret_why (static) for the error log. */
int cgi_run_failed(const CgiRun *r, const char **ret_why);

/* Send the kept request if there is one, then read what the program wrote and turn it into bytes
 * for the client in *ret; those bytes point into the run and must be written before the next call.
 * Returns CGI_EXCHANGE_AGAIN (write *ret, call again), CGI_EXCHANGE_DONE (write *ret: the response
 * is complete), -EAGAIN (wait for cgi_run_fd(): writable while cgi_run_sending(), else readable), -ECANCELED (the program could not be started: cgi_run_failed()), or an
 * error of cgi_exchange_feed()/cgi_exchange_eof() (-EMSGSIZE still leaves bytes to write in *ret). */
int cgi_run_pump(CgiRun *r, CgiOutput *ret);

const CgiExchange *cgi_run_exchange(const CgiRun *r);
