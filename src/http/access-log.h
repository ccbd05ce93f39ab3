/* SPDX-License-Identifier: MIT */
/* access-log.h — Apache's access log: compiled formats, one line per request, and a buffered
 * per-process writer.
 *
 * Contract: a format — a nickname (common, combined, vhost_combined) or a %-format string as
 * Apache's LogFormat takes it — is compiled once, at configuration time, into a list of items; a
 * bad one is an error with a sentence saying what is wrong. Formatting a line neither allocates nor
 * does I/O, and gives the bytes mod_log_config writes for the same request, escaping included.
 * The writer keeps lines in a 64 KB buffer and writes whole lines only, so processes appending to
 * one O_APPEND file never interleave parts of lines. It writes when the buffer is full, when
 * access_log_flush() finds the last write a second old, and when freed. Nothing here logs or
 * reads a clock: the caller passes the times. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

#define ACCESS_LOG_BUFFER_SIZE (64 * 1024)

/* Bytes of a request as received: not NUL-terminated; ptr NULL when absent. */
typedef struct AccessLogText {
        const char *ptr;
        size_t len;
} AccessLogText;

/* What the formatter knows of one request. Absent text logs as "-", as in Apache. */
typedef struct AccessLogEntry {
        const char *peer;    /* %h %a: the client's address */
        const char *conn_peer; /* %{c}a: the connection's peer when RemoteIPHeader named the client; NULL: peer */
        uint16_t peer_port;  /* %{remote}p */
        const char *user;    /* %u: the user authentication verified; NULL when none */
        uint16_t local_port; /* %p, %{local}p, %{canonical}p */
        usec_t time;         /* %t: when the request began, CLOCK_REALTIME */
        usec_t duration;     /* %D %T: from the first byte of the request to the end of the response */
        const char *vhost;   /* %v: the ServerName of the site that answered */
        int status;          /* %s %>s */
        uint64_t bytes;      /* %b %B: body bytes sent (0 for HEAD and bodiless statuses) */
        uint64_t bytes_out;  /* %O: bytes written to the transport for this response, head included */
        uint64_t bytes_in;   /* %I: bytes read for this request: request line, header fields, body */
        /* %X: how the connection stood when the response ended: 'X' aborted before it was complete,
         * '+' kept alive for another request, '-' closed after it ('\0' logs as '-') */
        char conn_status;
        /* %{SSL_PROTOCOL}x, %{SSL_CIPHER}x: of a TLS connection ("TLSv1.3", "TLS_AES_128_GCM_SHA256",
         * OpenSSL's names); NULL on a plain one */
        const char *ssl_protocol;
        const char *ssl_cipher;
        /* %{SSL_CLIENT_VERIFY}x, %{SSL_CLIENT_S_DN}x: the client's certificate (HttpTlsInfo's);
         * NULL on a plain connection, and S_DN without a certificate */
        const char *ssl_client_verify;
        const char *ssl_client_s_dn;
        AccessLogText request_line; /* %r: without its CRLF */
        AccessLogText method;       /* %m */
        AccessLogText protocol;     /* %H: "HTTP/1.1" */
        AccessLogText path;         /* %U: the raw path; logged decoded, as the server resolved it */
        AccessLogText query;        /* %q: without the '?'; ptr NULL when there was no '?' */
        /* %{Name}i and %{Name}o: the index-th field called name (ASCII case-insensitive); false when
         * there is none. Either may be NULL (every lookup then finds nothing). */
        bool (*request_header)(const void *userdata, const char *name, size_t index, AccessLogText *ret);
        bool (*response_header)(const void *userdata, const char *name, size_t index, AccessLogText *ret);
        const void *userdata;
} AccessLogEntry;

typedef struct AccessLogFormat AccessLogFormat;

/* Compile spec: a nickname, or a format with Apache's directives %h %a %{c}a %l %u %t %{[begin:|end:]FORMAT
 * or sec|msec|usec|msec_frac|usec_frac}t %r %s %>s %b %B %O %I %X %D %T %{ms|us|s}T %v %p
 * %{canonical|local|remote}p %{Name}i %{Name}o %U %q %m %H %P %{SSL_PROTOCOL}x %{SSL_CIPHER}x %% and the
 * escapes \n \t \r \\ in literal text. A spec in double quotes (as in Apache's configuration) is
 * unquoted first. On error returns -EINVAL and sets *ret_error (malloc'd) to a sentence; -ENOMEM. */
int access_log_format_compile(const char *spec, AccessLogFormat **ret, char **ret_error);
AccessLogFormat *access_log_format_free(AccessLogFormat *f);

/* Write the line for e, with its final '\n', to buf: at most size bytes, no NUL. Returns the
 * length of the whole line, which may exceed size (as snprintf does). */
size_t access_log_format_line(const AccessLogFormat *f, const AccessLogEntry *e, char *buf, size_t size);

typedef struct AccessLog AccessLog;

/* Open path for appending, as a log file must be opened when the path may be someone else's to
 * change (a perchild site's): O_APPEND|O_CREAT (mode 0640), O_NOFOLLOW (a symlink in the last
 * component is refused: -ELOOP) and O_NONBLOCK (a FIFO without a reader fails at once instead of
 * blocking the opener; blocking is turned back on for the writes); then fstat() must show a regular
 * file, else -ACCESS_LOG_ENOTREG. Returns the descriptor (O_CLOEXEC) or -errno. */
#define ACCESS_LOG_ENOTREG EMEDIUMTYPE
int access_log_open_file(const char *path);
/* What a -errno of access_log_open_file() means, for a message after the path: "Is a directory",
 * "not a regular file (a FIFO, a socket or a device)", "a symbolic link, not followed", … */
const char *access_log_strerror(int r);

/* access_log_open_file() into a new AccessLog. */
int access_log_open(const char *path, AccessLog **ret);
/* Writes what is buffered (errors are lost: call access_log_flush() first to see them) and closes. */
AccessLog *access_log_free(AccessLog *l);

/* Append the line for e; writes the buffer first when the line does not fit. A line longer than
 * the whole buffer is cut to it. Returns 0 or the -errno of a failed write (the buffered lines are
 * dropped then, so a full disk cannot grow memory). */
int access_log_append(AccessLog *l, const AccessLogFormat *f, const AccessLogEntry *e);

/* Write the buffered lines if the last write was at least a second before now, or always when now
 * is USEC_INFINITY (at exit). now is any monotonic clock, the same on every call. Cheap when there
 * is nothing to do: call it from every loop iteration or a one-second timer. */
int access_log_flush(AccessLog *l, usec_t now);
/* When access_log_flush() will next have something to do; USEC_INFINITY when nothing is buffered. */
usec_t access_log_next_flush(const AccessLog *l);
size_t access_log_buffered(const AccessLog *l);

/* Flush, then open the path again (after logrotate renamed it) with access_log_open_file(): SIGUSR1.
 * On failure the old file stays in use and -errno is returned. */
int access_log_reopen(AccessLog *l);
const char *access_log_path(const AccessLog *l);
/* The descriptor, for a forking caller that closes every fd it does not know. */
int access_log_fd(const AccessLog *l);
