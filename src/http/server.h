/* SPDX-License-Identifier: MIT */
/* server.h — the engine's view of one generation: its sites (the main server and the virtual
 * hosts) with their open document roots, the MIME table, and the virtual host selection rule.
 *
 * Built once by the supervisor from a checked configuration, before workers fork; read-only
 * afterwards, so every worker of a generation serves exactly that configuration even if the files
 * on disk change. The HttpSiteConfig it points to must outlive it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mime.h"
#include "parser.h"
#include "site-config.h"

typedef struct HttpSite {
        char *name;                /* vhost name, or the ServerName of the main server */
        const HttpSiteConfig *cfg;
        int root_fd;               /* DocumentRoot, O_PATH|O_DIRECTORY; -1 when none */
        HttpParserLimits limits;
        char **listen;             /* addresses or socket names only this site receives; NULL: all */
} HttpSite;

typedef struct HttpServer {
        HttpSite *sites; /* sites[0] is the main server ([Server]); the rest are [VirtualHost]s */
        size_t n_sites;
        MimeTable *mime;
        char server_header[64];
        uint32_t max_header_fields; /* the largest LimitRequestFields of all sites */
        uint32_t max_head_size;     /* the largest head any site accepts */
        const struct HttpStatusData *status; /* what the supervisor publishes; read-only in workers */
        struct HttpServerLogs *logs;         /* CustomLog files (server-logs.h); NULL until opened */
} HttpServer;

int http_server_new(const char *mime_types_file, HttpServer **ret);
HttpServer *http_server_free(HttpServer *s);

/* Add a site; opens its DocumentRoot. On failure returns -errno and sets *ret_error to a static
 * description of the step. */
int http_server_add_site(HttpServer *s, const char *name, const HttpSiteConfig *cfg, char **listen,
                         const char **ret_error);

/* Apache's rule: among the sites reachable on this listener, the first whose ServerName or a
 * ServerAlias matches host (case-insensitive, port ignored, "*.example.org" wildcards) wins; with
 * no match or no host, the main server when it has a DocumentRoot, else the first virtual host. */
const HttpSite *http_server_select(const HttpServer *s, const char *listener_name, const char *host,
                                   size_t host_len);

/* Does host match pattern (exact or *.wildcard), ignoring case and any :port on host? */
bool http_host_matches(const char *pattern, const char *host, size_t host_len);
