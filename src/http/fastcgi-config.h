/* SPDX-License-Identifier: MIT */
/* fastcgi-config.h — which requests go to a FastCGI responder (php-fpm), in Apache's spelling so
 * that its php-fpm recipes translate line by line:
 *
 *   SetHandler = "proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost"
 *   SetHandler = proxy:fcgi://127.0.0.1:9000
 *   SetHandler = none                     every request of the section ([Server], [VirtualHost],
 *                                         [Location /p/]) goes to the target; none drops an
 *                                         inherited one
 *   AddHandler = "proxy:unix:/run/php/site.sock|fcgi://localhost" .php
 *                                         files with those extensions go to the target (the same
 *                                         row as AddHandler cgi-script, site-config.h)
 *
 * A target is parsed once, when the configuration is read (upstream.h); the double quotes Apache
 * needs around a value with '|' are optional. The handler (fastcgi-handler.h) finds the script on
 * disk either way. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "shared/conf-table.h"
#include "http/upstream.h"

/* A SetHandler line: set false for none (or no line). */
typedef struct HttpFcgiHandler {
        bool set;
        HttpUpstreamTarget target;
} HttpFcgiHandler;

/* One extension of an AddHandler proxy: line. */
typedef struct HttpFcgiExtension {
        char *extension; /* ".php" */
        HttpUpstreamTarget target;
} HttpFcgiExtension;

/* Parse a handler word "proxy:URL" (optionally in double quotes) into t, a FastCGI target. Returns
 * 1 when word is such a handler (t filled), 0 when it does not start with "proxy:" (t untouched),
 * or -EINVAL with *ret_error (malloc'd), -ENOMEM. */
int http_fcgi_handler_word_parse(const char *word, HttpUpstreamTarget *t, char **ret_error);

void http_fcgi_handler_done(HttpFcgiHandler *h);
int http_fcgi_handler_copy(HttpFcgiHandler *dst, const HttpFcgiHandler *src);

int http_fcgi_parse_set_handler(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                char **ret_error);
char *http_fcgi_format_set_handler(const ConfItem *item, const void *field);
int http_fcgi_copy_set_handler(const ConfItem *item, void *dst, const void *src);
void http_fcgi_done_set_handler(const ConfItem *item, void *field);

/* The SetHandler row, for a field of type HttpFcgiHandler at offset base. */
#define HTTP_FCGI_ROWS(base)                                                                                       \
        { "SetHandler", CONF_CUSTOM, (base), NULL, .contexts = HTTP_SITE_CTX_PATH,                               \
          .parse = http_fcgi_parse_set_handler, .format = http_fcgi_format_set_handler,                          \
          .copy = http_fcgi_copy_set_handler, .done = http_fcgi_done_set_handler, .size = sizeof(HttpFcgiHandler), \
          .expect = "\"proxy:unix:/PATH|fcgi://NAME\", proxy:fcgi://HOST:PORT or none" }

struct HttpSiteConfig;
/* The socket families (1u << AF_*) the FastCGI targets of cfg (SetHandler, AddHandler) and of its
 * path sections need; 0: none. ORed into http_site_upstream_families() (proxy-config.h). */
uint32_t http_fastcgi_families(const struct HttpSiteConfig *cfg);

/* The FastCGI target of an AddHandler extension for a script's name[0..len) (case-insensitive,
 * as Apache's), NULL when none. */
const HttpUpstreamTarget *http_fcgi_extension_match(const struct HttpSiteConfig *cfg, const char *name, size_t len);
/* Could the normalised path name a file with a FastCGI extension, as its last component or
 * followed by PATH_INFO? No system call. */
bool http_fcgi_extension_may_match(const struct HttpSiteConfig *cfg, const char *path, size_t path_len);
