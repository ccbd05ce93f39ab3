/* SPDX-License-Identifier: MIT */
/* static.h — the static file handler: GET and HEAD of files beneath a site's DocumentRoot.
 *
 * Files are opened relative to the site's root directory fd with the path module, so nothing
 * outside the root is ever served. Directories get DirectoryIndex or a 301 to the slashed URL
 * (DirectorySlash); the file's validators (ETag from inode, size and mtime; Last-Modified) go to
 * request processing's conditional.h, which decides 304, 412, 206 (one range or multipart), 416 or
 * the whole file (when a Range is unusable), and writes those answers. The response owns the opened
 * file. Plain GET and HEAD of regular files and of directory indexes go through the thread's
 * open-file cache (file-cache.h, revalidated every second, the index chosen as well): a small
 * file's bytes are copied into req->body_buf, a larger one is sent from a dup of the cached fd, and
 * no file is opened or stat'ed per request.
 *
 * The files' keys (compress.h) add three answers, all on the uncached path: a directory without an
 * index gets its listing with Options Indexes (listing.h; never cached, 403 without it on both
 * paths); with PrecompressedFiles the sidecar (.br, .gz) Accept-Encoding prefers is served in the
 * file's place, with its own validators, so conditionals and ranges apply to its bytes; with
 * Compression the file is gzip-compressed on the fly (never for a Range): into req->body_buf when
 * it fits there, else streamed by the handler (HttpStaticStream). Whatever depends on
 * Accept-Encoding carries Vary: Accept-Encoding; a request with that field skips the cache when
 * Compression is on, and every request does with PrecompressedFiles. */
#pragma once

#include "http/request.h"
#include "http/response.h"

/* The methods the static handler allows, for Allow headers. */
#define HTTP_STATIC_ALLOW "GET, HEAD, OPTIONS"

void http_static_serve(const HttpRequest *req, HttpResponse *r);

/* A file to send gzip-compressed as it is read (Compression = gzip, larger than the connection's
 * body room): the handler owns fd and frames the body itself (static-handler.c). */
typedef struct HttpStaticStream {
        int fd;
        int level;
} HttpStaticStream;

/* http_static_serve(), which may also leave a 200's head lines in r and return 1 with *stream
 * filled: the body is the file compressed on the fly, for the caller to send. */
int http_static_serve_stream(const HttpRequest *req, HttpResponse *r, HttpStaticStream *stream);
