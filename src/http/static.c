/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/compress.h"
#include "http/conditional.h"
#include "http/date.h"
#include "http/file-cache.h"
#include "http/listing.h"
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

/* Options Indexes: the directory's listing (never cached: it is built per request). */
static void static_listing(const HttpRequest *q, HttpResponse *r) {
        char *body = NULL;
        size_t len = 0;
        int k;

        k = http_listing_build(q->root_fd, q->file_path, q->path, q->path_len == 1, HTTP_LISTING_MAX, &body, &len);
        if (k < 0) {
                http_response_set_error(r, k == -ENOMEM ? 500 : errno_to_status(k));
                return;
        }
        r->status = 200;
        http_response_add_header(r, "Content-Type", "text/html; charset=utf-8");
        r->body_owned = body;
        r->body = body;
        r->body_len = len;
}

/* PrecompressedFiles: open the sidecar (path + ".br" or ".gz") of the coding the client prefers
 * among those configured, if it is a regular file beneath the root not older than the file itself;
 * then *fd and *st are the sidecar's. Tries the next coding when the preferred one has none. */
static HttpCoding static_open_sidecar(const HttpRequest *q, const char *path, const HttpAcceptEncoding *ae,
                                      int *fd, struct stat *st) {
        const HttpPrecompressed *pc = &q->cfg->files.precompressed;
        uint8_t offer[_HTTP_CODING_MAX];
        size_t n = MIN((size_t) pc->n, ELEMENTSOF(offer));
        char p[PATH_MAX];

        memcpy(offer, pc->codings, n);
        while (n > 0) {
                HttpCoding c = http_accept_encoding_choose(ae, offer, n);
                struct stat sst;
                int sfd, k;

                if (c == HTTP_CODING_IDENTITY)
                        return c;
                k = snprintf(p, sizeof(p), "%s%s", path, http_coding_suffix(c));
                sfd = k > 0 && (size_t) k < sizeof(p) ? http_path_open(q->root_fd, p, O_RDONLY | O_NONBLOCK, &sst) : -ENAMETOOLONG;
                if (sfd >= 0 && S_ISREG(sst.st_mode) &&
                    (sst.st_mtim.tv_sec > st->st_mtim.tv_sec ||
                     (sst.st_mtim.tv_sec == st->st_mtim.tv_sec && sst.st_mtim.tv_nsec >= st->st_mtim.tv_nsec))) {
                        safe_close(*fd);
                        *fd = sfd;
                        *st = sst;
                        return c;
                }
                safe_close(sfd);
                for (size_t i = 0; i < n; i++)
                        if (offer[i] == c) {
                                memmove(offer + i, offer + i + 1, n - i - 1);
                                break;
                        }
                n--;
        }
        return HTTP_CODING_IDENTITY;
}

/* The thread's deflate stream for bodies compressed whole (kept: zlib's state is 256 KiB). */
static _Thread_local HttpGzip *static_gzip;
static _Thread_local char static_gzip_in[FILE_CACHE_DATA_MAX];

/* May the file of length bytes be compressed whole into q->body_buf? */
static bool static_gzip_whole_fits(const HttpRequest *q, uint64_t length) {
        if (!q->body_buf || length > sizeof(static_gzip_in))
                return false;
        if (!static_gzip && http_gzip_new((int) q->cfg->files.compression_level, &static_gzip) < 0)
                return false;
        return http_gzip_bound(static_gzip, (size_t) length) <= q->body_buf_size;
}

/* Read the whole file (it is small) and compress it into q->body_buf: 0 or -errno. */
static int static_gzip_whole(const HttpRequest *q, HttpResponse *r, int fd) {
        size_t got = 0;
        int64_t n;

        while (got < sizeof(static_gzip_in)) {
                ssize_t k = pread(fd, static_gzip_in + got, sizeof(static_gzip_in) - got, (off_t) got);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                got += (size_t) k;
        }
        if (http_gzip_reset(static_gzip, (int) q->cfg->files.compression_level) < 0)
                return -EIO;
        n = http_gzip_compress_all(static_gzip, static_gzip_in, got, q->body_buf, q->body_buf_size);
        if (n < 0)
                return (int) n;
        safe_close(fd);
        r->body = q->body_buf;
        r->body_len = (size_t) n;
        return 0;
}

/* Returns 1 when r holds a 200's head lines and *stream the file whose body the caller sends
 * compressed; 0 when r is the whole answer. stream NULL: never 1. */
static int static_serve_uncached(const HttpRequest *q, HttpResponse *r, HttpStaticStream *stream) {
        const HttpSiteConfig *cfg = q->cfg;
        const HttpFilesConfig *files = &cfg->files;
        const char *name = q->file_path, *path = q->file_path;
        char full[PATH_MAX], base_etag[64], etag[80], date[32];
        HttpCoding coding = HTTP_CODING_IDENTITY;
        HttpAcceptEncoding ae;
        bool vary = false, live = false;
        struct stat st;
        int fd;

        fd = http_path_open(q->root_fd, q->file_path, O_RDONLY | O_NONBLOCK, &st);
        if (fd < 0) {
                http_response_set_error(r, errno_to_status(fd));
                return 0;
        }

        if (S_ISDIR(st.st_mode)) {
                safe_close(fd);
                if (q->path[q->path_len - 1] != '/') {
                        if (cfg->directory_slash)
                                redirect_with_slash(q, r);
                        else
                                http_response_set_error(r, 404);
                        return 0;
                }
                int k = open_index(q, &fd, &st, &name);
                if (k == -ENOENT && http_files_indexes(files)) {
                        static_listing(q, r);
                        return 0;
                }
                if (k < 0) {
                        /* No index and no listings (Apache without Options Indexes). */
                        http_response_set_error(r, k == -ENOENT ? 403 : errno_to_status(k));
                        return 0;
                }
                k = snprintf(full, sizeof(full), "%s%s", q->file_path, name);
                if (k > 0 && (size_t) k < sizeof(full))
                        path = full;
        }
        if (!S_ISREG(st.st_mode)) {
                safe_close(fd);
                http_response_set_error(r, 403);
                return 0;
        }

        const char *type = static_media_type(q, name);

        /* Which representation: a sidecar, gzip made now, or the file. Vary whenever the choice
         * depended on Accept-Encoding. */
        if (files->precompressed.n > 0 || http_files_compressible(files, type, (uint64_t) st.st_size)) {
                const HttpHeader *h = find(q, "Accept-Encoding");
                vary = true;
                (void) http_accept_encoding_parse(h ? q->buf + h->value.off : NULL, h ? h->value.len : 0, &ae);
                if (files->precompressed.n > 0)
                        coding = static_open_sidecar(q, path, &ae, &fd, &st);
                /* Never for a Range: a range of bytes made afresh each time means nothing. */
                if (coding == HTTP_CODING_IDENTITY && !find(q, "Range") &&
                    http_files_compressible(files, type, (uint64_t) st.st_size)) {
                        uint8_t gz = HTTP_CODING_GZIP;
                        live = http_accept_encoding_choose(&ae, &gz, 1) == HTTP_CODING_GZIP &&
                               (stream || static_gzip_whole_fits(q, (uint64_t) st.st_size));
                }
        }

        file_cache_etag_format(&st, base_etag, sizeof(base_etag));
        if (http_etag_for_coding(base_etag, live ? HTTP_CODING_GZIP : coding, live, etag, sizeof(etag)) < 0)
                snprintf(etag, sizeof(etag), "%s", base_etag);
        HttpValidators v = file_validators(&st, etag);
        _cleanup_(http_conditional_done) HttpConditional c = {};
        /* -ENOMEM leaves c at 200: the whole file, as when a Range is unusable. */
        (void) http_conditional_evaluate(q, &v, cfg->max_ranges, &c);
        if (c.status == 304 || c.status == 412) {
                safe_close(fd);
                http_conditional_respond(r, c.status, &v);
                if (vary)
                        http_response_add_header(r, "Vary", "Accept-Encoding");
                return 0;
        }

        /* Validators first: a 206 carries the same ones a 200 would (RFC 9110 §15.3.7). */
        if (http_date_format(st.st_mtime, date) >= 0)
                http_response_add_header(r, "Last-Modified", "%s", date);
        http_response_add_header(r, "ETag", "%s", etag);
        /* Apache says "none" when MaxRanges turns ranges off, so clients need not try. */
        http_response_add_header(r, "Accept-Ranges", "%s", cfg->max_ranges > 0 && !live ? "bytes" : "none");
        if (c.status == 416) {
                safe_close(fd);
                http_conditional_respond(r, 416, &v);
                if (vary)
                        http_response_add_header(r, "Vary", "Accept-Encoding");
                return 0;
        }
        if (coding != HTTP_CODING_IDENTITY || live)
                http_response_add_header(r, "Content-Encoding", "%s", http_coding_name(live ? HTTP_CODING_GZIP : coding));
        if (vary)
                http_response_add_header(r, "Vary", "Accept-Encoding");
        if (c.status == 206) {
                (void) http_conditional_respond_file_ranges(r, &c, &v, type, fd);
                return 0;
        }

        r->status = 200;
        http_response_add_header(r, "Content-Type", "%s", type);
        if (live) {
                if (static_gzip_whole_fits(q, (uint64_t) st.st_size)) {
                        int k = static_gzip_whole(q, r, fd);
                        if (k < 0) {
                                safe_close(fd);
                                http_response_set_error(r, 500);
                        }
                        return 0;
                }
                /* Larger: the handler streams it, chunk by chunk. */
                *stream = (HttpStaticStream) {
                        .fd = fd,
                        .level = (int) files->compression_level,
                };
                return 1;
        }
        r->file_fd = fd;
        r->file_off = 0;
        r->file_len = (uint64_t) st.st_size;
        return 0;
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
        const HttpFilesConfig *files = &q->cfg->files;
        const FileCacheEntry *e;
        int status, k;

        /* What depends on Accept-Encoding is decided on the uncached path; without that field the
         * cached answer is the file's (with Vary below), the same as there. */
        if (files->precompressed.n > 0 || (files->compression != HTTP_COMPRESSION_OFF && find(q, "Accept-Encoding")))
                return false;
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
        if (k == -ENOENT && is_dir && http_files_indexes(files))
                return false; /* the listing, never cached */
        if (k < 0) {
                /* A directory without an index is 403 (no listings), as in static_serve_uncached(). */
                http_response_set_error(r, is_dir && k == -ENOENT ? 403 : errno_to_status(k));
                return true;
        }

        /* No Range here (see above): the preconditions are all that can decide. */
        HttpValidators v = file_validators(&e->st, e->etag);
        bool vary = files->compression != HTTP_COMPRESSION_OFF &&
                    http_files_compressible(files, static_media_type(q, name), (uint64_t) e->st.st_size);
        status = http_conditional_preconditions(q, &v);
        if (status != 0) {
                http_conditional_respond(r, status, &v);
                if (vary)
                        http_response_add_header(r, "Vary", "Accept-Encoding");
                return true;
        }
        if (e->data && (uint64_t) e->st.st_size > q->body_buf_size)
                return false;
        if (e->lines_len == 0)
                static_entry_lines(q, e, name);
        if (e->lines_len == 0 || http_response_add_lines(r, e->lines, e->lines_len) < 0)
                return false;
        if (vary && http_response_add_header(r, "Vary", "Accept-Encoding") < 0)
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

int http_static_serve_stream(const HttpRequest *q, HttpResponse *r, HttpStaticStream *stream) {
        if (q->root_fd < 0) {
                http_response_set_error(r, 404);
                return 0;
        }
        if (static_serve_cached(q, r))
                return 0;
        return static_serve_uncached(q, r, stream);
}

void http_static_serve(const HttpRequest *q, HttpResponse *r) {
        (void) http_static_serve_stream(q, r, NULL);
}
