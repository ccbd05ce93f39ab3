/* SPDX-License-Identifier: MIT */
/* mapping.h — from a request's path to what answers it, before a handler runs: Apache's mod_alias
 * (Alias, Redirect), mod_dir's FallbackResource, and Debian's rule that ".ht" files are never
 * served.
 *
 * Every value is parsed once, by its row (HTTP_MAPPING_ROWS), into the form the router reads: an
 * Alias into its URL prefix and directory (the directory is opened when the generation is built,
 * server.h: HttpSite.alias_fds), a Redirect into its status, prefix and target, FallbackResource
 * into a normalised path. Prefixes are compared with the normalised path (decoded, no dot segments,
 * no repeated slashes) by Apache's <Location> rule (http_location_matches(): "/old" covers "/old"
 * and "/old/x", never "/older"); the longest prefix wins.
 *
 * The router steps (request.c, http_request_route()) are the functions at the end: each reads the
 * request, and either answers it (true, the response filled) or changes where its file is looked
 * for. Nothing here logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/conf-table.h"

/* Alias URL-PREFIX DIRECTORY. */
typedef struct HttpAlias {
        char *url; /* normalised, starts with '/' */
        size_t url_len;
        char *directory; /* absolute, as written */
        char *file;      /* where it was written ("" when not from a file) */
        unsigned line;
} HttpAlias;

/* Alias lines of a site, its own first, then the ones it inherited from [Server] (a site's own
 * line for a prefix hides [Server]'s for the same prefix, as in Apache's merge). No prefix twice.
 * HttpSite.alias_fds[i] is items[i]'s directory. */
typedef struct HttpAliases {
        HttpAlias *items;
        size_t n;
} HttpAliases;

/* Redirect [STATUS] URL-PREFIX [TARGET]. */
typedef struct HttpRedirect {
        int status;   /* 301, 302, 303, 307, 308 or 410 */
        char *prefix; /* normalised, starts with '/' */
        size_t prefix_len;
        char *target; /* an http:// or https:// URL or an absolute path; NULL for 410 */
        char *file;
        unsigned line;
} HttpRedirect;

typedef struct HttpRedirects {
        HttpRedirect *items;
        size_t n;
} HttpRedirects;

/* FallbackResource URL-PATH | disabled. path NULL: none (or "disabled"). */
typedef struct HttpFallback {
        char *path; /* normalised, starts with '/' */
        size_t path_len;
} HttpFallback;

/* The keys of a site (HttpSiteConfig.mapping). */
typedef struct HttpMappingConfig {
        HttpAliases alias;
        HttpRedirects redirect;
        HttpFallback fallback;
} HttpMappingConfig;

/* ---- parsing, usable on their own (tests, callers that build a site by hand) ------------------ */

/* Add one line's value; with replace the list is emptied first. file:line say where the value was
 * written (file NULL: not from a file). 0, -EINVAL with *ret_error (malloc'd; it does not name the
 * key), or -ENOMEM. The list is unchanged on error. */
int http_alias_add(HttpAliases *l, const char *value, bool replace, const char *file, unsigned line,
                   char **ret_error);
void http_aliases_done(HttpAliases *l);
int http_redirect_add(HttpRedirects *l, const char *value, bool replace, const char *file, unsigned line,
                      char **ret_error);
void http_redirects_done(HttpRedirects *l);
int http_fallback_set(HttpFallback *f, const char *value, char **ret_error);
void http_fallback_done(HttpFallback *f);

/* A site's lines for the key, then parent's (a [VirtualHost] under [Server]) whose prefix the site
 * does not have itself. 0 or -ENOMEM (l unchanged). */
int http_aliases_merge(HttpAliases *l, const HttpAliases *parent);
int http_redirects_merge(HttpRedirects *l, const HttpRedirects *parent);

/* A URL path the way the router sees paths: starts with '/', and normalising it changes nothing
 * (a prefix written "/a//b", "/a/./b" or "/%61" would never match a normalised path). 0, or
 * -EINVAL with *ret_error naming what (e.g. "URL prefix") and why. */
int http_url_prefix_check(const char *what, const char *url, char **ret_error);

/* Lists keyed by a URL prefix (Alias, Redirect, ProxyPass, ProxyPassReverse) merge alike: a
 * narrower section's own entries, then those of the enclosing one whose prefix it does not give
 * (its line for a prefix hides the wider one's, as mod_alias and mod_proxy merge). What the merge
 * needs to know of an entry: */
typedef struct HttpPrefixListType {
        size_t size; /* of an entry */
        size_t key;  /* offset of the entry's char * prefix */
        int (*copy)(void *dst, const void *src);
        void (*free)(void *entry);
} HttpPrefixListType;

/* items and n: the section's own entries (taken over), with the parent's appended as copies. 0 or
 * -ENOMEM (nothing changed). */
int http_prefix_list_merge(const HttpPrefixListType *t, void **items, size_t *n, const void *parent, size_t parent_n);

/* ---- matching --------------------------------------------------------------------------------- */

/* The Alias whose prefix is the longest to match path (normalised), or NULL. *ret_index: its index
 * in l; *ret_rest: what follows the prefix, as a path starting with '/' ("/" when nothing follows),
 * NUL-terminated (it points into path, or to a constant "/"). */
const HttpAlias *http_alias_match(const HttpAliases *l, const char *path, size_t path_len, size_t *ret_index,
                                  const char **ret_rest, size_t *ret_rest_len);

/* The Redirect whose prefix is the longest to match path, or NULL. */
const HttpRedirect *http_redirect_match(const HttpRedirects *l, const char *path, size_t path_len);

/* The Location of a redirect (not 410): the target, then what follows the prefix in path
 * (%-encoded where RFC 3986 does not allow the byte in a path: anything but pchar and '/'), then
 * "?" and query when the result has no '?' yet (Apache's rule). A target that is a path is made
 * absolute with scheme and host. query (not decoded, as the client sent it) and host are written
 * with any byte that could break a header line (a control byte, space, DEL, non-ASCII) %-encoded,
 * so the result never holds CR, LF or another control byte. Writes a NUL-terminated string to
 * out: 0 and *ret_len, or -ENAMETOOLONG when it does not fit in out_size. */
int http_redirect_location(const HttpRedirect *rd, const char *path, size_t path_len, const char *query,
                           size_t query_len, const char *scheme, const char *host, size_t host_len, char *out,
                           size_t out_size, size_t *ret_len);

/* Does a segment of path start with ".ht" (.htaccess, .htpasswd, .htdigest)? Such files are never
 * served (Debian's Apache: <FilesMatch "^\.ht"> Require all denied). Case-sensitive, as Apache. */
bool http_mapping_is_ht_name(const char *path, size_t path_len);

/* Would FallbackResource take a request for file_path beneath root_fd? Only for GET, HEAD and
 * POST (is_get_head_post), and only when nothing (no file, no directory) is there: one open. */
bool http_fallback_applies(const HttpFallback *f, bool is_get_head_post, int root_fd, const char *file_path);

/* ---- the router's steps (request.c) ----------------------------------------------------------- */

struct HttpRequest;
struct HttpResponse;

/* Step 1: a path with a ".ht" segment is answered with 403 (true). */
bool http_mapping_deny_ht(const struct HttpRequest *q, struct HttpResponse *r);
/* Step 2: a Redirect of the site that matches answers (true): its status and Location. */
bool http_mapping_redirect(const struct HttpRequest *q, struct HttpResponse *r);
/* Step 5: an Alias that matches sets q->root_fd to its directory and q->file_path to the rest. */
void http_mapping_alias(struct HttpRequest *q);
/* Step 7: when the path's FallbackResource takes the request (http_fallback_applies()), the
 * request becomes one for the fallback path: q->path, q->cfg, q->root_fd and q->file_path are set
 * for it and q->fallback is set; true, and the router maps it again from its first step. Never
 * twice for a request: a fallback that is not there is a 404. */
bool http_mapping_fallback(struct HttpRequest *q);

/* ---- the rows -------------------------------------------------------------------------------- */

int http_mapping_parse_alias(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                             char **ret_error);
char *http_mapping_format_alias(const ConfItem *item, const void *field);
int http_mapping_copy_alias(const ConfItem *item, void *dst, const void *src);
void http_mapping_done_alias(const ConfItem *item, void *field);
int http_mapping_merge_alias(const ConfItem *item, void *field, const void *parent);
int http_mapping_parse_redirect(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                char **ret_error);
char *http_mapping_format_redirect(const ConfItem *item, const void *field);
int http_mapping_copy_redirect(const ConfItem *item, void *dst, const void *src);
void http_mapping_done_redirect(const ConfItem *item, void *field);
int http_mapping_merge_redirect(const ConfItem *item, void *field, const void *parent);
int http_mapping_parse_fallback(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                char **ret_error);
char *http_mapping_format_fallback(const ConfItem *item, const void *field);
int http_mapping_copy_fallback(const ConfItem *item, void *dst, const void *src);
void http_mapping_done_fallback(const ConfItem *item, void *field);

/* The rows for the struct holding an HttpMappingConfig at offset base (site-config.c:
 * HTTP_MAPPING_ROWS(offsetof(HttpSiteConfig, mapping))). Alias and Redirect: [Server] and
 * [VirtualHost], several lines, a site's own lines added to [Server]'s. FallbackResource: also in
 * path sections, the nearest section that sets it wins ("disabled" drops an inherited one). */
#define HTTP_MAPPING_AT(base, field) ((base) + offsetof(HttpMappingConfig, field))
#define HTTP_MAPPING_ROWS(base)                                                                                  \
        { "Alias", CONF_CUSTOM, HTTP_MAPPING_AT(base, alias), NULL,                                             \
          .flags = CONF_LIST | CONF_LIST_APPEND_INHERITED, .contexts = CONF_CTX_SERVER | CONF_CTX_VHOST,        \
          .parse = http_mapping_parse_alias, .format = http_mapping_format_alias,                               \
          .copy = http_mapping_copy_alias, .done = http_mapping_done_alias, .merge = http_mapping_merge_alias,   \
          .size = sizeof(HttpAliases), .expect = "a URL prefix such as /icons/ and an absolute directory" },     \
        { "Redirect", CONF_CUSTOM, HTTP_MAPPING_AT(base, redirect), NULL,                                       \
          .flags = CONF_LIST | CONF_LIST_APPEND_INHERITED, .contexts = CONF_CTX_SERVER | CONF_CTX_VHOST,        \
          .parse = http_mapping_parse_redirect, .format = http_mapping_format_redirect,                         \
          .copy = http_mapping_copy_redirect, .done = http_mapping_done_redirect,                               \
          .merge = http_mapping_merge_redirect, .size = sizeof(HttpRedirects),                                  \
          .expect = "[permanent|temp|seeother|gone|301|302|303|307|308|410] URL-PREFIX TARGET (an http:// or "  \
                    "https:// URL or an absolute path; none for gone)" },                                        \
        { "FallbackResource", CONF_CUSTOM, HTTP_MAPPING_AT(base, fallback), NULL,                               \
          .contexts = CONF_CTX_SERVER | CONF_CTX_VHOST | CONF_CTX_PATH, .parse = http_mapping_parse_fallback,   \
          .format = http_mapping_format_fallback, .copy = http_mapping_copy_fallback,                           \
          .done = http_mapping_done_fallback, .size = sizeof(HttpFallback),                                     \
          .expect = "a URL path such as /index.php, or disabled" }
