/* SPDX-License-Identifier: MIT */
/* respond.c — the response step of request processing (see respond.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "http/error-document.h"
#include "http/headers.h"
#include "http/mime.h"
#include "http/path.h"
#include "http/respond.h"
#include "shared/log.h"

static void set_content_type(HttpResponse *r, const char *type) {
        http_header_lines_remove(r->headers, &r->headers_len, "Content-Type", 12);
        r->headers[r->headers_len] = '\0';
        (void) http_response_add_header(r, "Content-Type", "%s", type);
}

static const char *media_type_of(const HttpRequest *q, const HttpSiteConfig *cfg, const char *path) {
        const char *ext = path ? http_path_extension(path) : NULL;
        const char *type = ext && q->server && q->server->mime ? mime_table_lookup(q->server->mime, ext) : NULL;

        return type ? type : cfg->default_type;
}

/* The file beneath the DocumentRoot, as the body of the error (its status kept, as Apache's internal
 * redirect keeps it). Served directly, never routed again: an error on the way is the plain error. */
static void serve_local(const HttpRequest *q, const HttpSiteConfig *cfg, const HttpErrorDocument *d, HttpResponse *r) {
        int root_fd = q->site ? q->site->root_fd : -1;
        struct stat st;
        int fd;

        if (root_fd < 0) {
                http_request_log(q, LOG_PRI_ERR, "ErrorDocument %d %s (%s:%u): the site has no DocumentRoot", d->status,
                                 d->value, d->file, d->line);
                return;
        }
        fd = http_path_open(root_fd, d->value, O_RDONLY | O_NONBLOCK, &st);
        if (fd >= 0 && !S_ISREG(st.st_mode)) {
                safe_close(fd);
                fd = -EISDIR;
        }
        if (fd < 0) {
                http_request_log(q, LOG_PRI_ERR, "ErrorDocument %d %s (%s:%u) cannot be served: %s", d->status,
                                 d->value, d->file, d->line, strerror(-fd));
                return;
        }
        r->file_fd = safe_close(r->file_fd);
        r->body = NULL;
        r->body_len = 0;
        r->file_fd = fd;
        r->file_off = 0;
        r->file_len = (uint64_t) st.st_size;
        set_content_type(r, media_type_of(q, cfg, d->value));
}

static void error_document(const HttpRequest *q, const HttpSiteConfig *cfg, HttpResponse *r) {
        const HttpErrorDocument *d;

        /* Only an answer that is a whole error page of ours: a body in pieces or a file is a
         * handler's own representation. */
        if (r->status < 400 || r->n_pieces > 0 || r->file_fd >= 0)
                return;
        d = http_error_document_find(&cfg->error_documents, r->status);
        if (!d)
                return;
        switch (d->kind) {
        case HTTP_ERROR_DOCUMENT_LOCAL:
                serve_local(q, cfg, d, r);
                break;
        case HTTP_ERROR_DOCUMENT_REDIRECT: {
                bool close = r->close;

                /* Apache: a full URL makes the error a redirect, the error's own fields gone. */
                http_response_set_error(r, 302);
                r->close = close;
                (void) http_response_add_header(r, "Location", "%s", d->value);
                break;
        }
        case HTTP_ERROR_DOCUMENT_TEXT:
                r->body = d->value;
                r->body_len = d->value_len;
                set_content_type(r, "text/html; charset=iso-8859-1");
                break;
        default:
                break;
        }
}

void http_respond(const HttpRequest *q, HttpResponse *r) {
        const HttpSiteConfig *cfg = q->cfg ? q->cfg : q->site ? q->site->cfg : NULL;
        const char *media_type = NULL;
        bool error = r->status >= 400;
        size_t len;

        if (!cfg || r->headers_overflow)
                return;
        error_document(q, cfg, r);
        if (r->headers_overflow)
                return;
        if (r->status == 304 && q->file_path)
                /* A 304 names no type; ExpiresByType goes by the file's, as Apache's does. */
                media_type = media_type_of(q, cfg, q->file_path);
        len = r->headers_len;
        if (http_headers_apply(&cfg->headers, r->status, error, (time_t) (q->now / USEC_PER_SEC), media_type,
                               r->headers, &len, sizeof(r->headers) - 1) < 0)
                r->headers_overflow = true;
        r->headers_len = len;
        r->headers[len] = '\0';
}
