/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/date.h"
#include "http/file-cache.h"
#include "http/mime.h"
#include "http/path.h"
#include "http/range.h"
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

/* Does the If-None-Match / If-Match list contain etag? Weak comparison for If-None-Match. */
static bool etag_list_matches(const char *list, size_t len, const char *etag, bool weak) {
        size_t elen = strlen(etag);
        size_t i = 0;

        while (i < len) {
                while (i < len && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
                        i++;
                if (i >= len)
                        break;
                if (list[i] == '*')
                        return true;
                bool is_weak = false;
                if (len - i >= 2 && list[i] == 'W' && list[i + 1] == '/') {
                        is_weak = true;
                        i += 2;
                }
                size_t start = i;
                if (i < len && list[i] == '"') {
                        i++;
                        while (i < len && list[i] != '"')
                                i++;
                        if (i < len)
                                i++;
                } else
                        while (i < len && list[i] != ',')
                                i++;
                if ((weak || !is_weak) && i - start == elen && memcmp(list + start, etag, elen) == 0)
                        return true;
        }
        return false;
}

static const HttpHeader *find(const HttpRequest *q, const char *name) {
        return http_head_find(q->head, q->buf, name);
}

/* RFC 9110 §13.2.2: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since in that order.
 * Returns 0 to go on, or the status to answer (304, 412). */
static int evaluate_preconditions(const HttpRequest *q, const struct stat *st, const char *etag) {
        const HttpHeader *h;
        time_t since;
        bool get_or_head = q->head->method == HTTP_METHOD_GET || q->head->method == HTTP_METHOD_HEAD;

        h = find(q, "If-Match");
        if (h) {
                if (!etag_list_matches(q->buf + h->value.off, h->value.len, etag, false))
                        return 412;
        } else if ((h = find(q, "If-Unmodified-Since")) &&
                   http_date_parse(q->buf + h->value.off, h->value.len, &since) >= 0 && st->st_mtime > since)
                return 412;

        h = find(q, "If-None-Match");
        if (h) {
                if (etag_list_matches(q->buf + h->value.off, h->value.len, etag, true))
                        return get_or_head ? 304 : 412;
        } else if (get_or_head && (h = find(q, "If-Modified-Since")) &&
                   http_date_parse(q->buf + h->value.off, h->value.len, &since) >= 0 && st->st_mtime <= since)
                return 304;
        return 0;
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

        STRV_FOREACH(name, q->site->cfg->directory_index) {
                int n = snprintf(p, sizeof(p), "%s%s", q->path, *name);
                if (n < 0 || (size_t) n >= sizeof(p))
                        continue;
                int fd = http_path_open(q->site->root_fd, p, O_RDONLY | O_NONBLOCK, ret_st);
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

/* RFC 9110 §13.1.5: Range applies only if If-Range still names this representation — an exact
 * strong ETag match, or exactly its Last-Modified date. Anything else (a weak tag, another date, a
 * value that is neither) sends the whole file. */
static bool if_range_matches(const HttpRequest *q, const struct stat *st, const char *etag) {
        const HttpHeader *h = find(q, "If-Range");
        time_t t;

        if (!h)
                return true;
        const char *v = q->buf + h->value.off;
        size_t len = h->value.len;
        if (len > 0 && v[0] == '"')
                return len == strlen(etag) && memcmp(v, etag, len) == 0;
        if (len >= 2 && v[0] == 'W' && v[1] == '/')
                return false;
        return http_date_parse(v, len, &t) >= 0 && t == st->st_mtime;
}

/* Answer a Range request on the file fd (type is its media type). Returns true when the response
 * is complete (206 or 416); false to serve the whole file as usual. */
static bool serve_ranges(const HttpRequest *q, HttpResponse *r, int fd, const struct stat *st, const char *type,
                         const char *etag) {
        _cleanup_free_ HttpRange *ranges = NULL;
        uint64_t length = (uint64_t) st->st_size;
        const HttpHeader *h;
        size_t n;
        int k;

        if (q->head->method != HTTP_METHOD_GET && q->head->method != HTTP_METHOD_HEAD)
                return false;
        h = find(q, "Range");
        if (!h || !if_range_matches(q, st, etag))
                return false;
        k = http_range_parse(q->buf + h->value.off, h->value.len, length, q->site->cfg->max_ranges, &ranges, &n);
        if (k < 0 || k == HTTP_RANGE_IGNORE)
                return false;
        if (k == HTTP_RANGE_UNSATISFIABLE) {
                safe_close(fd);
                http_response_set_error(r, 416);
                http_response_add_header(r, "Content-Range", "bytes */%llu", (unsigned long long) length);
                return true;
        }

        r->status = 206;
        if (n == 1) {
                http_response_add_header(r, "Content-Type", "%s", type);
                http_response_add_header(r, "Content-Range", "bytes %llu-%llu/%llu",
                                         (unsigned long long) ranges[0].first, (unsigned long long) ranges[0].last,
                                         (unsigned long long) length);
                r->file_fd = fd;
                r->file_off = (off_t) ranges[0].first;
                r->file_len = ranges[0].last - ranges[0].first + 1;
                return true;
        }

        char boundary[21];
        http_range_boundary(boundary);
        k = http_range_multipart(ranges, n, length, type, boundary, &r->body_owned, &r->pieces, &r->n_pieces);
        if (k < 0) {
                safe_close(fd);
                http_response_set_error(r, 500);
                return true;
        }
        http_response_add_header(r, "Content-Type", "multipart/byteranges; boundary=%s", boundary);
        r->pieces_fd = fd;
        return true;
}

static const char *static_media_type(const HttpRequest *q, const char *name) {
        const char *ext = http_path_extension(name);
        const char *type = ext ? mime_table_lookup(q->server->mime, ext) : NULL;
        return type ? type : q->site->cfg->default_type;
}

static void static_serve_uncached(const HttpRequest *q, HttpResponse *r) {
        const HttpSiteConfig *cfg = q->site->cfg;
        const char *name = q->path;
        struct stat st;
        char etag[64], date[32];
        int fd, status;

        fd = http_path_open(q->site->root_fd, q->path, O_RDONLY | O_NONBLOCK, &st);
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
        status = evaluate_preconditions(q, &st, etag);
        if (status != 0) {
                safe_close(fd);
                http_response_set_error(r, status);
                if (status == 304) {
                        http_response_add_header(r, "ETag", "%s", etag);
                        if (http_date_format(st.st_mtime, date) >= 0)
                                http_response_add_header(r, "Last-Modified", "%s", date);
                }
                return;
        }

        const char *type = static_media_type(q, name);

        /* Validators first: a 206 carries the same ones a 200 would (RFC 9110 §15.3.7). */
        if (http_date_format(st.st_mtime, date) >= 0)
                http_response_add_header(r, "Last-Modified", "%s", date);
        http_response_add_header(r, "ETag", "%s", etag);
        /* Apache says "none" when MaxRanges turns ranges off, so clients need not try. */
        http_response_add_header(r, "Accept-Ranges", "%s", cfg->max_ranges > 0 ? "bytes" : "none");
        if (serve_ranges(q, r, fd, &st, type, etag))
                return;

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
                     q->site->cfg->max_ranges > 0 ? "bytes" : "none", static_media_type(q, name));
        if (n > 0 && (size_t) n < sizeof(lines))
                file_cache_entry_set_lines(e, lines, (size_t) n);
}

/* Serve a plain GET or HEAD of a regular file, or of a directory's index, from the cache; false
 * when the uncached path must answer (a directory without the slash, a Range request, a file the
 * cache does not take). */
static bool static_serve_cached(const HttpRequest *q, HttpResponse *r) {
        bool is_dir = q->path[q->path_len - 1] == '/';
        const char *name = q->path;
        const FileCacheEntry *e;
        char date[32];
        int status, k;

        if (!static_cache && file_cache_new(STATIC_CACHE_ENTRIES, STATIC_CACHE_FDS, STATIC_CACHE_VALID_USEC,
                                            &static_cache) < 0)
                return false;
        if (find(q, "Range"))
                return false;
        /* The scope: this server instance and this site, so two sites never share an entry. */
        uint64_t scope = q->server->id << 16 | (uint64_t) (q->site - q->server->sites);
        if (is_dir)
                /* The same names in the same order as open_index(), and a file it chooses is the same
                 * entry a request naming it gets. */
                k = file_cache_lookup_index(static_cache, scope, q->site->root_fd, q->path,
                                            q->site->cfg->directory_index, q->now_mono, &e, &name);
        else
                k = file_cache_lookup(static_cache, scope, q->site->root_fd, q->path, q->now_mono, &e);
        if (k == -EISDIR || k == -EBADFD || k == -EAGAIN || k == -ENOMEM)
                return false;
        if (k < 0) {
                /* A directory without an index is 403 (no listings), as in static_serve_uncached(). */
                http_response_set_error(r, is_dir && k == -ENOENT ? 403 : errno_to_status(k));
                return true;
        }

        status = evaluate_preconditions(q, &e->st, e->etag);
        if (status != 0) {
                http_response_set_error(r, status);
                if (status == 304) {
                        http_response_add_header(r, "ETag", "%s", e->etag);
                        if (http_date_format(e->st.st_mtime, date) >= 0)
                                http_response_add_header(r, "Last-Modified", "%s", date);
                }
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
        if (q->site->root_fd < 0) {
                http_response_set_error(r, 404);
                return;
        }
        if (static_serve_cached(q, r))
                return;
        static_serve_uncached(q, r);
}
