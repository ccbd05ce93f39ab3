/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "build-config.h"
#include "http/server.h"
#include "http/server-logs.h"
#include "shared/strv.h"

static void server_set_header(HttpServer *s, const char *value) {
        snprintf(s->server_header, sizeof(s->server_header), "%s", value);
        int n = snprintf(s->server_line, sizeof(s->server_line), "Server: %s\r\n", s->server_header);
        s->server_line_len = n > 0 ? MIN((size_t) n, sizeof(s->server_line) - 1) : 0;
}

int http_server_new(const char *mime_types_file, HttpServer **ret) {
        HttpServer *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        r = mime_table_new(&s->mime);
        if (r < 0) {
                free(s);
                return r;
        }
        /* A missing mime.types file leaves only AddType and DefaultType: not fatal. */
        if (mime_types_file)
                (void) mime_table_load(s->mime, mime_types_file);
        static uint64_t next_id;
        s->id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
        server_set_header(s, "mpmd");
        *ret = s;
        return 0;
}

HttpServer *http_server_free(HttpServer *s) {
        if (!s)
                return NULL;
        http_server_close_logs(s);
        for (size_t i = 0; i < s->n_sites; i++) {
                free(s->sites[i].name);
                safe_close(s->sites[i].root_fd);
                for (size_t j = 0; j < s->sites[i].n_script_alias_fds; j++)
                        safe_close(s->sites[i].script_alias_fds[j]);
                free(s->sites[i].script_alias_fds);
                for (size_t j = 0; j < s->sites[i].n_alias_fds; j++)
                        safe_close(s->sites[i].alias_fds[j]);
                free(s->sites[i].alias_fds);
                strv_free(s->sites[i].listen);
        }
        free(s->sites);
        mime_table_free(s->mime);
        free(s);
        return NULL;
}

size_t http_site_n_dirs(const HttpSiteConfig *cfg) {
        return cfg->script_alias.n + cfg->mapping.alias.n;
}

const char *http_site_dir_path(const HttpSiteConfig *cfg, size_t i) {
        if (i < cfg->script_alias.n)
                return cfg->script_alias.items[i].directory;
        return cfg->mapping.alias.items[i - cfg->script_alias.n].directory;
}

/* The directories of a site, in the order http_server_add_site_opened() takes them. */
static void dirs_close(int root_fd, const int *alias_fds, size_t n) {
        safe_close(root_fd);
        for (size_t i = 0; alias_fds && i < n; i++)
                safe_close(alias_fds[i]);
}

int http_server_add_site(HttpServer *s, const char *name, const HttpSiteConfig *cfg, char **listen,
                         const char **ret_error) {
        size_t n_alias = http_site_n_dirs(cfg);
        _cleanup_free_ int *alias_fds = calloc(MAX(n_alias, (size_t) 1), sizeof(int));
        int root_fd = -1, r;

        if (!alias_fds) {
                *ret_error = "allocate";
                return -ENOMEM;
        }
        if (cfg->document_root) {
                root_fd = open(cfg->document_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (root_fd < 0) {
                        *ret_error = "open DocumentRoot";
                        return -errno;
                }
        }
        /* ScriptAlias and Alias: the directories are opened now, like DocumentRoot, so
         * that a worker needs no path lookup outside what it was given. */
        for (size_t i = 0; i < n_alias; i++) {
                alias_fds[i] = open(http_site_dir_path(cfg, i), O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (alias_fds[i] < 0) {
                        r = -errno;
                        dirs_close(root_fd, alias_fds, i);
                        *ret_error = i < cfg->script_alias.n ? "open a ScriptAlias directory"
                                                             : "open an Alias directory";
                        return r;
                }
        }
        return http_server_add_site_opened(s, name, cfg, listen, root_fd, alias_fds, ret_error);
}

int http_server_add_site_opened(HttpServer *s, const char *name, const HttpSiteConfig *cfg, char **listen,
                                int root_fd, const int *dir_fds, const char **ret_error) {
        size_t n_alias = cfg->script_alias.n, n_dirs = http_site_n_dirs(cfg), n_other = n_dirs - n_alias;
        HttpSite *sites, *site;

        sites = reallocarray(s->sites, s->n_sites + 1, sizeof(*sites));
        if (!sites) {
                dirs_close(root_fd, dir_fds, n_dirs);
                *ret_error = "allocate";
                return -ENOMEM;
        }
        s->sites = sites;
        site = &s->sites[s->n_sites];
        *site = (HttpSite) {
                .name = strdup(name ? name : (cfg->server_name ? cfg->server_name : "")),
                .cfg = cfg,
                .root_fd = root_fd,
                .limits = {
                        .request_line = cfg->limit_request_line,
                        .field_size = cfg->limit_request_field_size,
                        .fields = cfg->limit_request_fields,
                },
                .listen = strv_copy(listen),
                .read_timeout = cfg->read_timeout, /* parsed by its row (site-config.c) */
                .script_alias_fds = n_alias > 0 ? malloc(n_alias * sizeof(int)) : NULL,
                .alias_fds = n_other > 0 ? malloc(n_other * sizeof(int)) : NULL,
        };
        if (!site->name || (listen && !site->listen) || (n_alias > 0 && !site->script_alias_fds) ||
            (n_other > 0 && !site->alias_fds)) {
                free(site->name);
                strv_free(site->listen);
                free(site->script_alias_fds);
                free(site->alias_fds);
                dirs_close(root_fd, dir_fds, n_dirs);
                *ret_error = "allocate";
                return -ENOMEM;
        }
        site->key = (HttpSiteKey) {
                .server_name = cfg->server_name,
                .aliases = cfg->server_alias,
                .listen = site->listen,
                .has_document_root = root_fd >= 0,
        };
        s->n_sites++;
        for (size_t i = 0; i < n_alias; i++)
                site->script_alias_fds[site->n_script_alias_fds++] = dir_fds[i];
        for (size_t i = 0; i < n_other; i++)
                site->alias_fds[site->n_alias_fds++] = dir_fds[n_alias + i];

        /* AddType TYPE EXT…, line by line in file order: a word with '/' starts a new type (so a
         * line of extensions alone adds to the type above it). The table is shared by all sites. */
        _cleanup_free_ char *current = NULL;
        for (size_t i = 0; i < cfg->add_type.n; i++) {
                _cleanup_free_ char *words = strdup(cfg->add_type.lines[i].value);
                char *save = NULL;

                if (!words)
                        continue; /* a missing mapping, not a failed site: DefaultType applies */
                for (char *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                        if (strchr(w, '/')) {
                                free(current);
                                current = strdup(w);
                        } else if (current)
                                (void) mime_table_add(s->mime, current, w);
                }
        }

        if (cfg->limit_request_fields > s->max_header_fields)
                s->max_header_fields = cfg->limit_request_fields;
        uint64_t head = (uint64_t) cfg->limit_request_line + 2 +
                        (uint64_t) cfg->limit_request_fields * (cfg->limit_request_field_size + 2) + 2;
        if (head > UINT32_MAX)
                head = UINT32_MAX;
        if (head > s->max_head_size)
                s->max_head_size = (uint32_t) head;
        if (cfg->server_tokens == SERVER_TOKENS_FULL)
                server_set_header(s, "mpmd/" PACKAGE_VERSION);
        return 0;
}

void http_server_site_set_dirs(HttpServer *s, size_t site_index, int root_fd, const int *dir_fds) {
        HttpSite *site = &s->sites[site_index];

        safe_close(site->root_fd);
        site->root_fd = root_fd;
        site->key.has_document_root = root_fd >= 0;
        for (size_t i = 0; i < site->n_script_alias_fds; i++) {
                safe_close(site->script_alias_fds[i]);
                site->script_alias_fds[i] = dir_fds[i];
        }
        for (size_t i = 0; i < site->n_alias_fds; i++) {
                safe_close(site->alias_fds[i]);
                site->alias_fds[i] = dir_fds[site->cfg->script_alias.n + i];
        }
}

bool http_host_matches(const char *pattern, const char *host, size_t host_len) {
        size_t plen = strlen(pattern);

        /* Drop ":port" (but not the colons inside an [IPv6] literal) and a trailing dot. */
        if (host_len > 0 && host[0] == '[') {
                const char *close = memchr(host, ']', host_len);
                if (close)
                        host_len = (size_t) (close - host) + 1;
        } else {
                const char *colon = memchr(host, ':', host_len);
                if (colon)
                        host_len = (size_t) (colon - host);
        }
        if (host_len > 0 && host[host_len - 1] == '.')
                host_len--;
        if (host_len == 0)
                return false;

        if (plen > 2 && pattern[0] == '*' && pattern[1] == '.') {
                size_t slen = plen - 1; /* ".example.org" */
                return host_len > slen && strncasecmp(host + host_len - slen, pattern + 1, slen) == 0;
        }
        return plen == host_len && strncasecmp(pattern, host, host_len) == 0;
}

/* A site with Listen= of its own is reached only through those sockets; a socket named by any site's
 * Listen= is dedicated to the sites that name it. Everything else shares the other sockets. */
static bool listener_is_dedicated(const void *sites, size_t n, HttpSiteKeyAt at, const char *listener) {
        if (!listener)
                return false;
        for (size_t i = 0; i < n; i++)
                if (at(sites, i)->listen && strv_contains(at(sites, i)->listen, listener))
                        return true;
        return false;
}

static bool site_on_listener(const HttpSiteKey *site, const char *listener, bool dedicated) {
        if (!listener)
                return !site->listen || !dedicated;
        if (site->listen)
                return strv_contains(site->listen, listener);
        return !dedicated;
}

static bool site_matches(const HttpSiteKey *site, const char *host, size_t host_len) {
        if (site->server_name && http_host_matches(site->server_name, host, host_len))
                return true;
        STRV_FOREACH(a, site->aliases)
                if (http_host_matches(*a, host, host_len))
                        return true;
        return false;
}

size_t http_sites_match(const void *sites, size_t n, HttpSiteKeyAt at, const char *listener, const char *host,
                        size_t host_len) {
        bool dedicated = listener_is_dedicated(sites, n, at, listener);

        for (size_t i = 1; i < n; i++)
                if (site_on_listener(at(sites, i), listener, dedicated) && site_matches(at(sites, i), host, host_len))
                        return i;
        /* The main server is never reached through a socket dedicated to virtual hosts. */
        if (n > 0 && !dedicated && site_on_listener(at(sites, 0), listener, dedicated) &&
            site_matches(at(sites, 0), host, host_len))
                return 0;
        return SIZE_MAX;
}

size_t http_sites_default(const void *sites, size_t n, HttpSiteKeyAt at, const char *listener) {
        bool dedicated = listener_is_dedicated(sites, n, at, listener);
        size_t first = SIZE_MAX;

        for (size_t i = 1; i < n && first == SIZE_MAX; i++)
                if (site_on_listener(at(sites, i), listener, dedicated))
                        first = i;
        if (n > 0 && !dedicated && site_on_listener(at(sites, 0), listener, dedicated) &&
            (at(sites, 0)->has_document_root || first == SIZE_MAX))
                return 0;
        return first != SIZE_MAX ? first : 0;
}

static const HttpSiteKey *server_site_key(const void *sites, size_t i) {
        return &((const HttpSite *) sites)[i].key;
}

const HttpSite *http_server_select(const HttpServer *s, const char *listener_name, const char *host,
                                   size_t host_len) {
        size_t i = SIZE_MAX;

        if (s->n_sites == 0)
                return NULL;
        if (host)
                i = http_sites_match(s->sites, s->n_sites, server_site_key, listener_name, host, host_len);
        if (i == SIZE_MAX)
                i = http_sites_default(s->sites, s->n_sites, server_site_key, listener_name);
        return &s->sites[i];
}

const HttpSite *http_server_route(const HttpServer *s, const char *listener_name, const char *host,
                                  size_t host_len) {
        if (!s->route_by_name ||
            listener_is_dedicated(s->sites, s->n_sites, server_site_key, listener_name)) /* only its own sites */
                return http_server_select(s, listener_name, host, host_len);
        if (host)
                for (size_t i = 0; i < s->n_sites; i++) {
                        const HttpSite *site = &s->sites[(i + 1) % s->n_sites]; /* the vhosts first */
                        if (site_on_listener(&site->key, listener_name, false) &&
                            site_matches(&site->key, host, host_len))
                                return site;
                }
        return s->unmatched_site < s->n_sites ? &s->sites[s->unmatched_site] : NULL;
}

void http_server_set_unmatched(HttpServer *s, size_t site_index) {
        s->route_by_name = true;
        s->unmatched_site = site_index;
}

void http_server_set_cgi_launcher(HttpServer *s, const HttpCgiLauncher *launcher) {
        s->cgi_launcher = launcher ? *launcher : (HttpCgiLauncher) {};
}

void http_server_set_foreign(HttpServer *s, size_t site_index, bool foreign) {
        if (site_index < s->n_sites)
                s->sites[site_index].foreign = foreign;
}
