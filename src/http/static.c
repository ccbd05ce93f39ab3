/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/conditional.h"
#include "http/date.h"
#include "http/file-cache.h"
#include "http/mime.h"
#include "http/path.h"
#include "http/static.h"
#include "shared/strv.h"

static int errno_to_status(int r) {
        switch (-r) {
        case ENOENT:
        case ENOTDIR:
        case ENAMETOOLONG:
                return 404;
        case EACCES:
        case EPERM:
        case ELOOP:
        case EXDEV:
                return 403;
        default:
                return 500;
        }
}

static const HttpHeader *find(const HttpRequest *q, const char *name) {
        return http_head_find(q->head, q->buf, name);
}

/* What conditional.h needs to know of a file: its strong ETag, its mtime, its size. */
static HttpValidators file_validators(const struct stat *st, const char *etag) {
        return (HttpValidators) {
                .etag = etag,
                .has_last_modified = true,
                .last_modified = st->st_mtime,
                .length = (uint64_t) st->st_size,
        };
}

static void redirect_with_slash(const HttpRequest *q, HttpResponse *r) {
        const HttpRequestHead *h = q->head;

        http_response_set_error(r, 301);
        /* Redirect to the URL as the client wrote it (still encoded), plus the slash. */
        if (h->has_query)
                http_response_add_header(r, "Location", "%.*s/?%.*s", (int) h->path.len, q->buf + h->path.off,
                                         (int) h->query.len, q->buf + h->query.off);
        else
                http_response_add_header(r, "Location", "%.*s/", (int) h->path.len, q->buf + h->path.off);
}

static int open_index(const HttpRequest *q, int *ret_fd, struct stat *ret_st, const char **ret_name) {
        char p[PATH_MAX];
        int r = -ENOENT;

        STRV_FOREACH(name, q->cfg->directory_index) {
                int n = snprintf(p, sizeof(p), "%s%s", q->file_path, *name);
                if (n < 0 || (size_t) n >= sizeof(p))
                        continue;
                int fd = http_path_open(q->root_fd, p, O_RDONLY | O_NONBLOCK, ret_st);
                if (fd < 0) {
                        if (fd != -ENOENT)
                                r = fd;
                        continue;
                }
                if (!S_ISREG(ret_st->st_mode)) {
                        safe_close(fd);
                        continue;
                }
                *ret_fd = fd;
                *ret_name = *name;
                return 0;
        }
        return r;
}

static const char *static_media_type(const HttpRequest *q, const char *name) {
        const char *ext = http_path_extension(name);
        const char *type = ext ? mime_table_lookup(q->server->mime, ext) : NULL;
        return type ? type : q->cfg->default_type;
}

static void static_serve_uncached(const HttpRequest *q, HttpResponse *r) {
        const HttpSiteConfig *cfg = q->cfg;
        const char *name = q->file_path;
        struct stat st;
        char etag[64], date[32];
        int fd;

        fd = http_path_open(q->root_fd, q->file_path, O_RDONLY | O_NONBLOCK, &st);
        if (fd < 0) {
                http_response_set_error(r, errno_to_status(fd));
                return;
        }

        if (S_ISDIR(st.st_mode)) {
                safe_close(fd);
                if (q->path[q->path_len - 1] != '/') {
                        if (cfg->directory_slash)
                                redirect_with_slash(q, r);
                        else
                                http_response_set_error(r, 404);
                        return;
                }
                int k = open_index(q, &fd, &st, &name);
                if (k < 0) {
                        /* No index and no listings (Apache without Options Indexes). */
                        http_response_set_error(r, k == -ENOENT ? 403 : errno_to_status(k));
                        return;
                }
        }
        if (!S_ISREG(st.st_mode)) {
                safe_close(fd);
                http_response_set_error(r, 403);
                return;
        }

        file_cache_etag_format(&st, etag, sizeof(etag));
        HttpValidators v = file_validators(&st, etag);
        _cleanup_(http_conditional_done) HttpConditional c = {};
        /* -ENOMEM leaves c at 200: the whole file, as when a Range is unusable. */
        (void) http_conditional_evaluate(q, &v, cfg->max_ranges, &c);
        if (c.status == 304 || c.status == 412) {
                safe_close(fd);
                http_conditional_respond(r, c.status, &v);
                return;
        }

        const char *type = static_media_type(q, name);

        /* Validators first: a 206 carries the same ones a 200 would (RFC 9110 §15.3.7). */
        if (http_date_format(st.st_mtime, date) >= 0)
                http_response_add_header(r, "Last-Modified", "%s", date);
        http_response_add_header(r, "ETag", "%s", etag);
        /* Apache says "none" when MaxRanges turns ranges off, so clients need not try. */
        http_response_add_header(r, "Accept-Ranges", "%s", cfg->max_ranges > 0 ? "bytes" : "none");
        if (c.status == 416) {
                safe_close(fd);
                http_conditional_respond(r, 416, &v);
                return;
        }
        if (c.status == 206) {
                (void) http_conditional_respond_file_ranges(r, &c, &v, type, fd);
                return;
        }

        r->status = 200;
        http_response_add_header(r, "Content-Type", "%s", type);
        r->file_fd = fd;
        r->file_off = 0;
        r->file_len = (uint64_t) st.st_size;
}

/* The thread's open-file cache: the worker MPM serves from many threads, each with its own. */
static _Thread_local FileCache *static_cache;

#define STATIC_CACHE_ENTRIES 256
#define STATIC_CACHE_FDS 32
#define STATIC_CACHE_VALID_USEC (1 * USEC_PER_SEC)

/* The header lines every 200 of this file carries, in the order the uncached path writes them;
 * name is what its media type comes from (the request's path, or the index name chosen). */
static void static_entry_lines(const HttpRequest *q, const FileCacheEntry *e, const char *name) {
        char lines[FILE_CACHE_LINES_MAX], date[32];
        int n;

        if (http_date_format(e->st.st_mtime, date) < 0)
                date[0] = 0;
        n = snprintf(lines, sizeof(lines), "%s%s%sETag: %s\r\nAccept-Ranges: %s\r\nContent-Type: %s\r\n",
                     date[0] ? "Last-Modified: " : "", date, date[0] ? "\r\n" : "", e->etag,
                     q->cfg->max_ranges > 0 ? "bytes" : "none", static_media_type(q, name));
        if (n > 0 && (size_t) n < sizeof(lines))
                file_cache_entry_set_lines(e, lines, (size_t) n);
}

/* Serve a plain GET or HEAD of a regular file, or of a directory's index, from the cache; false
 * when the uncached path must answer (a directory without the slash, a Range request, a file the
 * cache does not take). */
static bool static_serve_cached(const HttpRequest *q, HttpResponse *r) {
        bool is_dir = q->path[q->path_len - 1] == '/';
        const char *name = q->file_path;
        const FileCacheEntry *e;
        int status, k;

        if (!static_cache && file_cache_new(STATIC_CACHE_ENTRIES, STATIC_CACHE_FDS, STATIC_CACHE_VALID_USEC,
                                            &static_cache) < 0)
                return false;
        if (find(q, "Range"))
                return false;
        /* The scope: this server instance, this site and its directory (DocumentRoot or an Alias's), so
         * two never share an entry. */
        uint64_t scope = q->server->id << 32 | (uint64_t) (q->root_fd + 1) << 16 |
                         (uint64_t) (q->site - q->server->sites);
        if (is_dir)
                /* The same names in the same order as open_index(), and a file it chooses is the same
                 * entry a request naming it gets. */
                k = file_cache_lookup_index(static_cache, scope, q->root_fd, q->file_path,
                                            q->cfg->directory_index, q->now_mono, &e, &name);
        else
                k = file_cache_lookup(static_cache, scope, q->root_fd, q->file_path, q->now_mono, &e);
        if (k == -EISDIR || k == -EBADFD || k == -EAGAIN || k == -ENOMEM)
                return false;
        if (k < 0) {
                /* A directory without an index is 403 (no listings), as in static_serve_uncached(). */
                http_response_set_error(r, is_dir && k == -ENOENT ? 403 : errno_to_status(k));
                return true;
        }

        /* No Range here (see above): the preconditions are all that can decide. */
        HttpValidators v = file_validators(&e->st, e->etag);
        status = http_conditional_preconditions(q, &v);
        if (status != 0) {
                http_conditional_respond(r, status, &v);
                return true;
        }
        if (e->data && (uint64_t) e->st.st_size > q->body_buf_size)
                return false;
        if (e->lines_len == 0)
                static_entry_lines(q, e, name);
        if (e->lines_len == 0 || http_response_add_lines(r, e->lines, e->lines_len) < 0)
                return false;

        r->status = 200;
        if (e->data) {
                /* Copied: the entry may change before the response is sent. */
                memcpy(q->body_buf, e->data, (size_t) e->st.st_size);
                r->body = q->body_buf;
                r->body_len = (size_t) e->st.st_size;
                return true;
        }
        r->file_fd = fcntl(e->fd, F_DUPFD_CLOEXEC, 3);
        if (r->file_fd < 0) {
                http_response_set_error(r, 500);
                return true;
        }
        r->file_off = 0;
        r->file_len = (uint64_t) e->st.st_size;
        return true;
}

void http_static_serve(const HttpRequest *q, HttpResponse *r) {
        if (q->root_fd < 0) {
                http_response_set_error(r, 404);
                return;
        }
        if (static_serve_cached(q, r))
                return;
        static_serve_uncached(q, r);
}
