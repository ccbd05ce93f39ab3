/* SPDX-License-Identifier: MIT */
/* fastcgi-handler.h — the parts of the FastCGI handler (http_fastcgi_handler, handler.h) that
 * need no connection: finding the script a request names, and the records that start the request.
 *
 * The script and PATH_INFO come from the file system, never from a pattern: the longest leading
 * part of the request's path that is a regular file beneath the DocumentRoot (or the Alias
 * directory the path falls in), found component by component the way a CGI script is
 * (cgi_script_open(): no symlink leads outside, no "." or ".."), so that no byte of the path can
 * make the script and PATH_INFO disagree with the disk (nginx's fastcgi_split_path_info regex and
 * a %0a gave CVE-2019-11043). A path that names a directory takes its DirectoryIndex file. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/cgi.h"
#include "http/request.h"
#include "http/upstream.h"

typedef struct HttpFcgiScript {
        const HttpUpstreamTarget *target; /* SetHandler's, else the extension's; NULL: not FastCGI's */
        char script_name[PATH_MAX];       /* the URL path naming the script: "/blog/index.php" */
        size_t script_name_len;
        char filename[PATH_MAX];          /* SCRIPT_FILENAME: "/srv/www/blog/index.php" */
        char path_info[PATH_MAX];         /* "" or "/a/b" */
        size_t path_info_len;
} HttpFcgiScript;

/* Find the script of q (routed: q->cfg, q->root_fd, q->file_path set) and its target. Returns 0
 * (ret->target NULL when the file found is not for FastCGI: no SetHandler applies and its name has
 * no AddHandler proxy: extension), or cgi_script_open()'s errors (-ENOENT, -EACCES, -EISDIR,
 * -ENAMETOOLONG; cgi_script_status() maps them to 404/403/414). */
int http_fastcgi_script_find(const HttpRequest *q, HttpFcgiScript *ret);

/* What the parameters say beyond the request itself. */
typedef struct HttpFcgiParamsContext {
        const char *remote_addr;
        uint16_t remote_port;
        const char *server_addr;
        uint16_t server_port;
        bool has_body;
        uint64_t content_length;
        bool keep_conn; /* FCGI_KEEP_CONN in FCGI_BEGIN_REQUEST */
} HttpFcgiParamsContext;

/* Room for http_fastcgi_request_begin(): the variables (at most CGI_ENV_MAX) and their records. */
#define HTTP_FCGI_BEGIN_MAX (2 * CGI_ENV_MAX)

/* FCGI_BEGIN_REQUEST (request id 1, the responder role) and the whole FCGI_PARAMS stream, ended,
 * into out[0..size): the CGI variables of cgi_env_build() (RFC 3875, SCRIPT_FILENAME and the
 * others php-fpm reads, HTTPS=on over TLS; PATH_INFO and PATH_TRANSLATED only when PATH_INFO is not
 * empty), without the PATH a program's environment gets. Returns 0 and *ret_len, or -ENOBUFS when
 * the parameters do not fit (a request larger than CGI_ENV_MAX: 500). */
int http_fastcgi_request_begin(const HttpRequest *q, const HttpFcgiScript *s, const HttpFcgiParamsContext *ctx,
                               uint8_t *out, size_t size, size_t *ret_len);
