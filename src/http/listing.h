/* SPDX-License-Identifier: MIT */
/* listing.h — Options Indexes: the HTML listing of a directory that has no index file.
 *
 * Contract: the directory is opened beneath the site's root with the path module, as any file the
 * static handler serves; entries are read with fstatat(AT_SYMLINK_NOFOLLOW), so a symbolic link is
 * never followed by the listing itself: it is shown (with what it points to) only when the path
 * module opens it beneath the root, and left out otherwise (dangling, or pointing outside). Names
 * starting with '.' are left out, as are sockets, FIFOs and devices. Directories come first, then
 * files, each by name in byte order. At most HTTP_LISTING_MAX entries (dotfiles aside) are
 * examined, shown or not (a note says the listing is cut short), so a directory of any size costs
 * bounded work and memory: about
 * HTTP_LISTING_MAX × (name + 1.7 KiB of HTML at worst). Names are HTML-escaped in the text and
 * percent-encoded in the links, which are relative (never a scheme, never "//"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define HTTP_LISTING_MAX 10000

/* The listing of the directory file_path (beneath root_fd, ends with '/'), titled with url_path
 * (the decoded URL path, ends with '/'); with a "../" link unless at_root. max: entries to read
 * (HTTP_LISTING_MAX in the server). Returns 0 and a malloc'd body, or -errno (the path module's:
 * -ENOENT, -EACCES …; -ENOMEM). */
int http_listing_build(int root_fd, const char *file_path, const char *url_path, bool at_root, size_t max,
                       char **ret_body, size_t *ret_len);

/* The escapes, for tests: HTML text (& < > " ') and a path segment's percent-encoding (all but
 * RFC 3986's unreserved characters). Return the length written (NUL-terminated), or -ENOBUFS. */
int http_listing_escape_html(const char *s, char *out, size_t size);
int http_listing_encode_href(const char *s, char *out, size_t size);
