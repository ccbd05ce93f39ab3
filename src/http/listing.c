/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/listing.h"
#include "http/path.h"
#include "shared/macro.h"

typedef struct ListingEntry {
        char *name;
        bool dir;
        unsigned long long size;
        time_t mtime;
} ListingEntry;

/* The HTML under construction: grows as needed, bounded by the entries' cap. */
typedef struct ListingBuf {
        char *p;
        size_t len, size;
        bool oom;
} ListingBuf;

static void buf_put(ListingBuf *b, const char *s, size_t n) {
        if (b->oom)
                return;
        if (b->len + n + 1 > b->size) {
                size_t size = MAX(b->size * 2, b->len + n + 1 + 4096);
                char *p = realloc(b->p, size);
                if (!p) {
                        b->oom = true;
                        return;
                }
                b->p = p;
                b->size = size;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = 0;
}

static void buf_puts(ListingBuf *b, const char *s) {
        buf_put(b, s, strlen(s));
}

_printf_(2, 3) static void buf_printf(ListingBuf *b, const char *fmt, ...) {
        char tmp[256];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n > 0)
                buf_put(b, tmp, MIN((size_t) n, sizeof(tmp) - 1));
}

int http_listing_escape_html(const char *s, char *out, size_t size) {
        size_t len = 0;

        for (; *s; s++) {
                const char *e;
                char one[2] = { *s, 0 };
                switch (*s) {
                case '&': e = "&amp;"; break;
                case '<': e = "&lt;"; break;
                case '>': e = "&gt;"; break;
                case '"': e = "&quot;"; break;
                case '\'': e = "&#39;"; break;
                default: e = one; break;
                }
                size_t n = strlen(e);
                if (len + n + 1 > size)
                        return -ENOBUFS;
                memcpy(out + len, e, n);
                len += n;
        }
        if (len + 1 > size)
                return -ENOBUFS;
        out[len] = 0;
        return (int) len;
}

static bool unreserved(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
               c == '_' || c == '~';
}

int http_listing_encode_href(const char *s, char *out, size_t size) {
        static const char hex[] = "0123456789ABCDEF";
        size_t len = 0;

        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (unreserved(c)) {
                        if (len + 2 > size)
                                return -ENOBUFS;
                        out[len++] = (char) c;
                } else {
                        if (len + 4 > size)
                                return -ENOBUFS;
                        out[len++] = '%';
                        out[len++] = hex[c >> 4];
                        out[len++] = hex[c & 15];
                }
        }
        if (len + 1 > size)
                return -ENOBUFS;
        out[len] = 0;
        return (int) len;
}

static int entry_compare(const void *a, const void *b) {
        const ListingEntry *x = a, *y = b;

        if (x->dir != y->dir)
                return x->dir ? -1 : 1;
        return strcmp(x->name, y->name);
}

static void entries_free(ListingEntry *e, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(e[i].name);
        free(e);
}

/* What name in the directory is, for the listing; false: leave it out. */
static bool entry_stat(int root_fd, int dfd, const char *file_path, const char *name, struct stat *st) {
        char p[PATH_MAX];
        int fd, n;

        if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
                return false;
        if (S_ISLNK(st->st_mode)) {
                /* Shown as what it points to, if the path module reaches that beneath the root. */
                n = snprintf(p, sizeof(p), "%s%s", file_path, name);
                if (n < 0 || (size_t) n >= sizeof(p))
                        return false;
                fd = http_path_open(root_fd, p, O_RDONLY | O_NONBLOCK, st);
                if (fd < 0)
                        return false;
                safe_close(fd);
        }
        return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode);
}

static void put_row(ListingBuf *b, const ListingEntry *e) {
        /* A name is at most NAME_MAX bytes: these hold its escapes. */
        char text[NAME_MAX * 6 + 1], href[NAME_MAX * 3 + 1], when[32] = "";
        struct tm tm;

        if (http_listing_escape_html(e->name, text, sizeof(text)) < 0 ||
            http_listing_encode_href(e->name, href, sizeof(href)) < 0)
                return;
        if (gmtime_r(&e->mtime, &tm))
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
        buf_puts(b, "<tr><td><a href=\"");
        buf_puts(b, href);
        buf_puts(b, e->dir ? "/\">" : "\">");
        buf_puts(b, text);
        buf_puts(b, e->dir ? "/</a></td><td>" : "</a></td><td>");
        buf_puts(b, when);
        if (e->dir)
                buf_puts(b, "</td><td align=\"right\">-</td></tr>\n");
        else
                buf_printf(b, "</td><td align=\"right\">%llu</td></tr>\n", e->size);
}

int http_listing_build(int root_fd, const char *file_path, const char *url_path, bool at_root, size_t max,
                       char **ret_body, size_t *ret_len) {
        _cleanup_close_ int fd = -EBADF;
        ListingEntry *entries = NULL;
        size_t n = 0, allocated = 0, examined = 0;
        bool truncated = false;
        ListingBuf b = {};
        int r = 0;
        DIR *d;

        fd = http_path_open(root_fd, file_path, O_RDONLY | O_DIRECTORY, NULL);
        if (fd < 0)
                return fd;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -EBADF; /* the DIR owns it */

        for (;;) {
                struct dirent *de;
                struct stat st;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        /* An error is not an empty directory (a sandbox without getdents64 once
                         * made it look like one). */
                        r = errno > 0 ? -errno : 0;
                        break;
                }
                if (de->d_name[0] == '.')
                        continue; /* dotfiles, ".", ".." */
                /* Every entry examined counts, shown or not: the cost is bounded by max whatever the
                 * directory holds (links out of the root cost an open each). */
                if (examined++ >= max) {
                        truncated = true;
                        break;
                }
                if (!entry_stat(root_fd, dirfd(d), file_path, de->d_name, &st))
                        continue;
                if (n == allocated) {
                        size_t k = MAX(allocated * 2, (size_t) 64);
                        ListingEntry *p = realloc(entries, k * sizeof(*entries));
                        if (!p)
                                goto oom;
                        entries = p;
                        allocated = k;
                }
                entries[n] = (ListingEntry) {
                        .name = strdup(de->d_name),
                        .dir = S_ISDIR(st.st_mode),
                        .size = (unsigned long long) st.st_size,
                        .mtime = st.st_mtime,
                };
                if (!entries[n].name)
                        goto oom;
                n++;
        }
        closedir(d);
        d = NULL;
        if (r < 0) {
                entries_free(entries, n);
                return r;
        }
        if (n > 0)
                qsort(entries, n, sizeof(*entries), entry_compare);

        {
                char title[PATH_MAX * 6 + 1];
                if (http_listing_escape_html(url_path, title, sizeof(title)) < 0)
                        snprintf(title, sizeof(title), "/");
                buf_puts(&b, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Index of ");
                buf_puts(&b, title);
                buf_puts(&b, "</title>\n</head>\n<body>\n<h1>Index of ");
                buf_puts(&b, title);
                buf_puts(&b, "</h1>\n<table>\n<tr><th>Name</th><th>Last modified</th><th>Size</th></tr>\n");
        }
        if (!at_root)
                buf_puts(&b, "<tr><td><a href=\"../\">../</a></td><td></td><td align=\"right\">-</td></tr>\n");
        for (size_t i = 0; i < n; i++)
                put_row(&b, &entries[i]);
        buf_puts(&b, "</table>\n");
        if (truncated)
                buf_printf(&b, "<p>Only the first %zu entries read are shown.</p>\n", max);
        buf_puts(&b, "</body>\n</html>\n");
        entries_free(entries, n);
        if (b.oom) {
                free(b.p);
                return -ENOMEM;
        }
        *ret_body = b.p;
        *ret_len = b.len;
        return 0;

oom:
        if (d)
                closedir(d);
        entries_free(entries, n);
        return -ENOMEM;
}
