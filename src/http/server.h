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
#include <sys/types.h>

#include "http/mime.h"
#include "http/parser.h"
#include "http/site-config.h"

/* What the virtual host rule (http_sites_match(), http_sites_default()) reads of a site: its names
 * and the listeners it is reached on. Kept by each table of sites the rule runs over: the
 * generation's HttpServer, and the certificate store, whose SNI must choose as Host does. */
typedef struct HttpSiteKey {
        const char *server_name;
        char *const *aliases;    /* ServerAlias: exact names and *.wildcards */
        char *const *listen;     /* the listeners only this site receives; NULL: every one not
                                  * dedicated to some sites */
        bool has_document_root;  /* the main server is the default only with one */
} HttpSiteKey;

/* The key of a table's site i. */
typedef const HttpSiteKey *(*HttpSiteKeyAt)(const void *sites, size_t i);

/* Apache's rule over n sites (the first is the main server, the rest virtual hosts in order): the
 * first virtual host reachable on listener whose ServerName or a ServerAlias matches host
 * (case-insensitive, port ignored, "*.example.org" wildcards), then the main server (never through
 * a socket dedicated to virtual hosts); SIZE_MAX when none matches. listener NULL: not known. */
size_t http_sites_match(const void *sites, size_t n, HttpSiteKeyAt at, const char *listener, const char *host,
                        size_t host_len);
/* What a connection naming no site, or one no site has, gets: the main server when it has a
 * DocumentRoot (and the listener is not dedicated), else the first virtual host reachable on
 * listener; 0 when there is none. */
size_t http_sites_default(const void *sites, size_t n, HttpSiteKeyAt at, const char *listener);

typedef struct HttpSite {
        char *name;                /* vhost name, or the ServerName of the main server */
        HttpSiteKey key;           /* its names and listeners, for the virtual host rule */
        const HttpSiteConfig *cfg;
        int root_fd;               /* DocumentRoot, O_PATH|O_DIRECTORY; -1 when none */
        HttpParserLimits limits;
        char **listen;             /* addresses or socket names only this site receives; NULL: all */
        HttpReadTimeout read_timeout;
        bool foreign;              /* served by another process here: requests for it get 421 */
        bool unavailable;          /* cannot be served now (perchild: its pool cannot start): 503 */
        int *script_alias_fds;     /* one per ScriptAlias pair: its directory, O_PATH|O_DIRECTORY */
        size_t n_script_alias_fds;
        int *alias_fds;            /* one per Alias (cfg->mapping.alias), the same way */
        size_t n_alias_fds;
        /* What its status page shows: the server's status (HttpServer.status), or under perchild
         * its pool's only (mpm.h, status groups); NULL: none (503). */
        const struct HttpStatusData *status;
} HttpSite;

/* How a process has CGI programs started (cgi-run.h), in two steps so that an event loop never
 * waits for a fork and an exec: start() hands req over (its fds are only lent) and returns a
 * descriptor that becomes readable once the answer is there (the caller closes it), -EAGAIN when
 * the launcher's queue is full (wait for wait_fd() to be writable and call start() again), or
 * -errno; finish() reads that answer: 0 and the program's pid, -EAGAIN when it is not there yet, or
 * -errno (src/mpm/cgi-launcher.h says which). */
struct CgiLaunchRequest;
typedef struct HttpCgiLauncher {
        int (*start)(void *userdata, const struct CgiLaunchRequest *req);
        int (*finish)(void *userdata, int fd, pid_t *ret_pid);
        int (*wait_fd)(void *userdata); /* the launcher's socket; NULL: start() never says -EAGAIN */
        void *userdata;
} HttpCgiLauncher;

typedef struct HttpServer {
        HttpSite *sites; /* sites[0] is the main server ([Server]); the rest are [VirtualHost]s */
        size_t n_sites;
        MimeTable *mime;
        uint64_t id;             /* unique in the process: caches key on it, never on addresses */
        char server_header[64];
        char server_line[80];    /* "Server: mpmd\r\n", prebuilt */
        size_t server_line_len;
        uint32_t max_header_fields; /* the largest LimitRequestFields of all sites */
        uint32_t max_head_size;     /* the largest head any site accepts */
        const struct HttpStatusData *status; /* what the supervisor publishes; read-only in workers */
        struct HttpServerLogs *logs;         /* CustomLog files (server-logs.h); NULL until opened */
        HttpCgiLauncher cgi_launcher;        /* .start NULL: this process cannot run CGI programs */
        bool route_by_name;    /* http_server_route(): a name no site has goes to unmatched_site only */
        size_t unmatched_site; /* with route_by_name: index of the site such names go to; SIZE_MAX: none */
} HttpServer;

int http_server_new(const char *mime_types_file, HttpServer **ret);
HttpServer *http_server_free(HttpServer *s);

/* The directories of a site besides its DocumentRoot, in the order the functions below take their
 * descriptors: one per ScriptAlias pair, then one per Alias. */
size_t http_site_n_dirs(const HttpSiteConfig *cfg);
/* The path of directory i of that list. */
const char *http_site_dir_path(const HttpSiteConfig *cfg, size_t i);

/* Add a site; opens its DocumentRoot, ScriptAlias and Alias directories with the caller's rights.
 * On failure returns -errno and sets *ret_error to a static description of the step. */
int http_server_add_site(HttpServer *s, const char *name, const HttpSiteConfig *cfg, char **listen,
                         const char **ret_error);
/* The same with the directories opened by the caller (perchild: as the site's own user): root_fd
 * for DocumentRoot (-1 when cfg has none) and dir_fds, http_site_n_dirs(cfg) descriptors in that
 * order. Takes them over, also on failure. */
int http_server_add_site_opened(HttpServer *s, const char *name, const HttpSiteConfig *cfg, char **listen,
                                int root_fd, const int *dir_fds, const char **ret_error);

/* Replace site's directories (as http_server_add_site_opened() takes them), closing the old ones:
 * a site whose paths could not be opened at first, opened now. */
void http_server_site_set_dirs(HttpServer *s, size_t site_index, int root_fd, const int *dir_fds);

/* Apache's rule (http_sites_match(), else http_sites_default()) over the generation's sites; host
 * NULL: the request named none. */
const HttpSite *http_server_select(const HttpServer *s, const char *listener_name, const char *host,
                                   size_t host_len);

/* The site a request names (host NULL: it named none). Apache's rule, as http_server_select(),
 * unless http_server_set_unmatched() was called: then, on a socket that is not dedicated to some
 * sites, only a site whose ServerName or ServerAlias matches is chosen (the main server too, by
 * its ServerName), and any other name, no name included, goes to the site given there, or to none:
 * NULL, which the caller answers with 421. perchild routes so, lest a name no site has reaches a
 * tenant's code (and its visitors' cookies) by being first in the file. */
const HttpSite *http_server_route(const HttpServer *s, const char *listener_name, const char *host,
                                  size_t host_len);

/* Route by name only (see http_server_route), names that match no site going to sites[site_index],
 * or to none with SIZE_MAX. */
void http_server_set_unmatched(HttpServer *s, size_t site_index);

/* Mark a site as served elsewhere (perchild: another pool's site) or not; an index out of range is
 * ignored. */
void http_server_set_foreign(HttpServer *s, size_t site_index, bool foreign);

/* In a worker process: how CGI programs are started (NULL: they are not, requests for them get
 * 500). */
void http_server_set_cgi_launcher(HttpServer *s, const HttpCgiLauncher *launcher);

/* Does host match pattern (exact or *.wildcard), ignoring case and any :port on host? */
bool http_host_matches(const char *pattern, const char *host, size_t host_len);
