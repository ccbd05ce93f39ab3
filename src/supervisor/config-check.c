/* SPDX-License-Identifier: MIT */
/* config-check.c — the configuration as a whole, once every file is applied: that something
 * listens, the engine's keys that only their module can judge whole, the filesystem (DocumentRoot,
 * ScriptAlias directories, User and Group), the MPM's own check, the names MPM keys give to sites,
 * each site's CGI limits and identity; and, on reload, what cannot change without a restart; for
 * mpmd -t, what a start would find (check_startup: log folders, Listen values, root without User).
 * Every problem is placed at the line that set the key. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/config-auth.h"
#include "supervisor/config-loader.h"
#include "http/access-log.h"
#include "mpm/site-limits.h"
#include "shared/strv.h"

static void check_directory(Loader *l, const char *label, const KeySource *k, const char *path) {
        const char *file;
        unsigned line;
        struct stat st;

        key_source(l, k, &file, &line);
        if (stat(path, &st) < 0)
                load_error(l, file, line, "%s DocumentRoot: %s: %s", label, path, strerror(errno));
        else if (!S_ISDIR(st.st_mode))
                load_error(l, file, line, "%s DocumentRoot: %s: %s", label, path, strerror(ENOTDIR));
}

/* Resolves User and Group of [Server] (ret_* may be NULL for a vhost, with min_id checks). */
static void check_identity(Loader *l, const char *label, const char *user, const KeySource *user_key,
                           const char *group, const KeySource *group_key, bool vhost, uid_t *ret_uid,
                           gid_t *ret_gid) {
        const Config *c = l->config;
        const char *file;
        unsigned line;
        uid_t uid = (uid_t) -1;
        gid_t gid = (gid_t) -1;

        if (user) {
                struct passwd *pw;

                key_source(l, user_key, &file, &line);
                errno = 0;
                pw = getpwnam(user);
                if (!pw) {
                        if (errno == 0 || errno == ENOENT || errno == ESRCH)
                                load_error(l, file, line, "%s User: no such user \"%s\"", label, user);
                        else
                                load_error(l, file, line, "%s User: cannot look up \"%s\": %s", label, user,
                                           strerror(errno));
                } else {
                        uid = pw->pw_uid;
                        gid = pw->pw_gid;
                        /* A site's own processes must not run as a system account (suexec's rule),
                         * and never as root, whatever MinUID says. */
                        if (vhost && uid < c->min_uid)
                                load_error(l, file, line, "%s User: \"%s\" has uid %u, below MinUID %u", label,
                                           user, (unsigned) uid, c->min_uid);
                        else if (vhost && uid == 0)
                                load_error(l, file, line, "%s User: \"%s\" is root; a site never runs as root",
                                           label, user);
                }
        }
        if (group) {
                struct group *gr;

                key_source(l, group_key, &file, &line);
                errno = 0;
                gr = getgrnam(group);
                if (!gr) {
                        if (errno == 0 || errno == ENOENT || errno == ESRCH)
                                load_error(l, file, line, "%s Group: no such group \"%s\"", label, group);
                        else
                                load_error(l, file, line, "%s Group: cannot look up \"%s\": %s", label, group,
                                           strerror(errno));
                } else {
                        gid = gr->gr_gid;
                        if (vhost && gid < c->min_gid)
                                load_error(l, file, line, "%s Group: \"%s\" has gid %u, below MinGID %u", label,
                                           group, (unsigned) gid, c->min_gid);
                        else if (vhost && gid == 0)
                                load_error(l, file, line, "%s Group: \"%s\" is gid 0; a site never runs as it",
                                           label, group);
                }
        }
        if (ret_uid)
                *ret_uid = uid;
        if (ret_gid)
                *ret_gid = gid;
}

/* Under a per-user MPM, the paths of a site with a User of its own are the site's: a root supervisor
 * opens them only as that user when it builds a generation (site-open.h), and says there what
 * fails. Looking at them here as root would both follow the site's symlinks and fail for a home
 * only the site may enter. */
bool config_site_paths_are_its_own(const Config *c, const ConfigVhost *v) {
        return c->mpm && (c->mpm->flags & MPM_PER_USER) && v->user && geteuid() == 0;
}

void check_filesystem(Loader *l) {
        Config *c = l->config;
        size_t docroot = row_of(http_site_directives, "DocumentRoot");
        size_t user = row_of(config_directives, "User"), group = row_of(config_directives, "Group");
        size_t vuser = row_of(vhost_directives, "User"), vgroup = row_of(vhost_directives, "Group");

        if (c->site.document_root)
                check_directory(l, "[Server]", &l->site_keys[docroot], c->site.document_root);
        check_identity(l, "[Server]", c->user, &l->server_keys[user], c->group, &l->server_keys[group], false,
                       &c->uid, &c->gid);

        for (size_t i = 0; i < c->n_vhosts; i++) {
                ConfigVhost *v = &c->vhosts[i];
                VhostKeys *k = &l->vhost_keys[i];
                _cleanup_free_ char *label = NULL;

                if (asprintf(&label, "[VirtualHost %s]", v->name) < 0) {
                        l->oom = true;
                        return;
                }
                /* An inherited DocumentRoot was checked as [Server]'s; a site's own paths are not
                 * looked at with our rights at all (config_site_paths_are_its_own). */
                if (k->site[docroot].file != 0 && v->site.document_root && !config_site_paths_are_its_own(c, v))
                        check_directory(l, label, &k->site[docroot], v->site.document_root);
                check_identity(l, label, v->user, &k->own[vuser], v->group, &k->own[vgroup], true, &v->uid, &v->gid);
        }
        auth_files_check(l);
}

/* A row's own check() (conf-table.h) of a complete value, placed at the line that set it; an
 * inherited value is checked as [Server]'s. */
static void check_rows(Loader *l, const ConfItem *table, const char *label, const void *base, const KeySource *keys) {
        for (const ConfItem *it = table; it->key; it++) {
                _cleanup_free_ char *why = NULL;
                const char *file;
                unsigned line;
                int r;

                if (!it->check)
                        continue;
                r = conf_item_check(it, base, &why);
                if (r == -ENOMEM)
                        l->oom = true;
                if (r >= 0 || r == -ENOMEM)
                        continue;
                key_source(l, &keys[it - table], &file, &line);
                load_error(l, file, line, "%s %s: %s", label, it->key, why ? why : "invalid");
        }
}

/* The ScriptAlias directories are opened when a generation is built: say now which one is
 * missing, at the line that names it. The list itself was parsed line by line by its row
 * (site-config.c). */
static void check_script_alias_directories(Loader *l, const char *label, const HttpSiteConfig *cfg,
                                           const KeySource *k) {
        for (size_t i = 0; i < cfg->script_alias.n; i++) {
                const HttpScriptAlias *a = &cfg->script_alias.items[i];
                struct stat st;
                int e = stat(a->directory, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
                const char *file;
                unsigned line;

                if (e == 0)
                        continue;
                if (a->source.file && a->source.file[0]) {
                        file = a->source.file;
                        line = a->source.line;
                } else
                        key_source(l, k, &file, &line);
                load_error(l, file, line, "%s ScriptAlias: %s: %s", label, a->directory, strerror(e));
                return;
        }
}

/* Alias directories likewise. A [VirtualHost]'s list holds [Server]'s too (added to its own):
 * those were checked as [Server]'s (parent), and are skipped. */
static void check_alias_directories(Loader *l, const char *label, const HttpSiteConfig *cfg,
                                    const HttpSiteConfig *parent, const KeySource *k) {
        for (size_t i = 0; i < cfg->mapping.alias.n; i++) {
                const HttpAlias *a = &cfg->mapping.alias.items[i];
                struct stat st;
                bool inherited = false;
                const char *file;
                unsigned line;

                for (size_t j = 0; parent && j < parent->mapping.alias.n; j++)
                        inherited = inherited || (parent->mapping.alias.items[j].line == a->line &&
                                                  strcmp(parent->mapping.alias.items[j].file, a->file) == 0 &&
                                                  strcmp(parent->mapping.alias.items[j].url, a->url) == 0);
                if (inherited)
                        continue;
                int e = stat(a->directory, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
                if (e == 0)
                        continue;
                if (a->file && a->file[0]) {
                        file = a->file;
                        line = a->line;
                } else
                        key_source(l, k, &file, &line);
                load_error(l, file, line, "%s Alias %s: %s: %s", label, a->url, a->directory, strerror(e));
        }
}

void check_site_keys(Loader *l) {
        Config *c = l->config;
        size_t alias = row_of(http_site_directives, "ScriptAlias");
        size_t url_alias = row_of(http_site_directives, "Alias");

        check_rows(l, config_directives, "[Server]", c, l->server_keys);
        check_rows(l, http_site_directives, "[Server]", &c->site, l->site_keys);
        if (l->opts->check_filesystem)
                check_script_alias_directories(l, "[Server]", &c->site, &l->site_keys[alias]);
        if (l->opts->check_filesystem)
                check_alias_directories(l, "[Server]", &c->site, NULL, &l->site_keys[url_alias]);
        for (size_t i = 0; i < c->n_vhosts; i++) {
                ConfigVhost *v = &c->vhosts[i];
                _cleanup_free_ char *label = NULL;

                if (asprintf(&label, "[VirtualHost %s]", v->name) < 0) {
                        l->oom = true;
                        return;
                }
                check_rows(l, vhost_directives, label, v, l->vhost_keys[i].own);
                /* Inherited keys were checked as [Server]'s: only what the site set itself. */
                for (const ConfItem *it = http_site_directives; it->key; it++) {
                        _cleanup_free_ char *why = NULL;
                        const KeySource *k = &l->vhost_keys[i].site[it - http_site_directives];
                        const char *file;
                        unsigned line;
                        int r;

                        if (!it->check || k->file == 0)
                                continue;
                        r = conf_item_check(it, &v->site, &why);
                        if (r == -ENOMEM)
                                l->oom = true;
                        if (r >= 0 || r == -ENOMEM)
                                continue;
                        key_source(l, k, &file, &line);
                        load_error(l, file, line, "%s %s: %s", label, it->key, why ? why : "invalid");
                }
                /* A site's own paths are not looked at with our rights (config_site_paths_are_its_own). */
                if (l->opts->check_filesystem && l->vhost_keys[i].site[alias].file != 0 &&
                    !config_site_paths_are_its_own(c, v))
                        check_script_alias_directories(l, label, &v->site, &l->vhost_keys[i].site[alias]);
                if (l->opts->check_filesystem && l->vhost_keys[i].site[url_alias].file != 0 &&
                    !config_site_paths_are_its_own(c, v))
                        check_alias_directories(l, label, &v->site, &c->site, &l->vhost_keys[i].site[url_alias]);
        }
        /* A path section: what it set itself (the rest was checked where it was set). */
        for (size_t i = 0; i < c->n_locations; i++)
                for (const ConfItem *it = http_site_directives; it->key; it++) {
                        const KeySource *k = &l->location_keys[i][it - http_site_directives];
                        _cleanup_free_ char *why = NULL;
                        const char *file;
                        unsigned line;
                        int r;

                        if (!it->check || k->file == 0)
                                continue;
                        r = conf_item_check(it, &c->locations[i].site, &why);
                        if (r == -ENOMEM)
                                l->oom = true;
                        if (r >= 0 || r == -ENOMEM)
                                continue;
                        key_source(l, k, &file, &line);
                        load_error(l, file, line, "%s %s: %s", c->locations[i].label, it->key, why ? why : "invalid");
                }
}

/* ---- LogFormat ------------------------------------------------------------------------------ */

/* A site's CustomLog that names a LogFormat takes its format; one that names nothing known is an
 * error at the CustomLog line (an inherited one at [Server]'s, once). */
static void resolve_site_log_format(Loader *l, const char *label, HttpSiteConfig *site, const KeySource *k,
                                    bool report) {
        HttpCustomLog *cl = &site->custom_log;

        if (!cl->path || strchr(cl->format, '%') || cl->format[strcspn(cl->format, " \t")] != '\0')
                return;
        const char *defined = config_log_format_find(&l->config->log_formats, cl->format);
        if (defined) {
                char *copy = strdup(defined);
                if (!copy) {
                        l->oom = true;
                        return;
                }
                free(cl->format);
                cl->format = copy;
                return;
        }
        _cleanup_free_ char *why = NULL;
        AccessLogFormat *builtin = NULL;
        int r = access_log_format_compile(cl->format, &builtin, &why);
        access_log_format_free(builtin);
        if (r == -ENOMEM)
                l->oom = true;
        else if (r < 0 && report) {
                const char *file;
                unsigned line;
                key_source(l, k, &file, &line);
                load_error(l, file, line, "%s CustomLog: %s", label, why ? why : "invalid");
        }
}

void resolve_log_formats(Loader *l) {
        Config *c = l->config;
        size_t row = row_of(http_site_directives, "CustomLog");

        resolve_site_log_format(l, "[Server]", &c->site, &l->site_keys[row], true);
        for (size_t i = 0; i < c->n_vhosts; i++) {
                const KeySource *own = &l->vhost_keys[i].site[row];
                _cleanup_free_ char *label = NULL;

                if (asprintf(&label, "[VirtualHost %s]", c->vhosts[i].name) < 0) {
                        l->oom = true;
                        return;
                }
                resolve_site_log_format(l, label, &c->vhosts[i].site, own->file != 0 ? own : &l->site_keys[row],
                                        own->file != 0);
        }
}

/* ---- HTTPS ---------------------------------------------------------------------------------- */

/* Pairs are counted here, as soon as the files are read (the fuzzer and a check without the
 * filesystem see it too); what each pair holds is judged when the store is built (build_tls). A
 * site's own lines only: inherited ones are [Server]'s, checked as its. */
static void check_tls_pairs(Loader *l, const char *label, const HttpTlsConfig *t) {
        const ConfLine *extra;

        if (t->certificates.n == t->keys.n)
                return;
        extra = t->certificates.n > t->keys.n ? &t->certificates.lines[t->keys.n] : &t->keys.lines[t->certificates.n];
        load_error(l, extra->file, extra->line,
                   "%s %s: %zu SSLCertificateFile and %zu SSLCertificateKeyFile lines: they pair in order, one key for "
                   "each certificate",
                   label, t->certificates.n > t->keys.n ? "SSLCertificateFile" : "SSLCertificateKeyFile",
                   t->certificates.n, t->keys.n);
}

/* SSLVerifyClient optional or require checks client certificates against SSLCACertificateFile:
 * without one nothing could pass. Complete values (inherited ones included): a [VirtualHost] that
 * gives neither key has [Server]'s, checked as its. */
static void check_tls_verify(Loader *l, const char *label, const HttpTlsConfig *t) {
        int mode = t->verify.mode;

        if ((mode == HTTP_TLS_VERIFY_OPTIONAL || mode == HTTP_TLS_VERIFY_REQUIRE) && t->ca_file.n == 0)
                load_error(l, t->verify.file, t->verify.line,
                           "%s SSLVerifyClient: %s needs SSLCACertificateFile, the CAs whose client certificates are "
                           "accepted (optional_no_ca accepts any issuer)",
                           label, http_tls_verify_mode_to_string(mode));
}

/* The TLS Listen values of one site, refused where HTTPS cannot be served: a build without TLS. */
static void check_tls_listen(Loader *l, const char *label, char **listen, const KeySource *k) {
        const char *file;
        unsigned line;

        key_source(l, k, &file, &line);
        STRV_FOREACH(v, listen) {
                if (!listener_name_is_tls(*v))
                        continue;
                if (!l->opts->tls->build)
                        load_error(l, file, line, "%s Listen: %s: mpmd was built without TLS (-Dtls=disabled)", label, *v);
                return; /* once per Listen line */
        }
}

static void check_tls_certificates(Loader *l, const char *label, const HttpTlsConfig *t) {
        if (t->certificates.n > 0 && l->opts->tls && !l->opts->tls->build)
                load_error(l, t->certificates.lines[0].file, t->certificates.lines[0].line,
                           "%s SSLCertificateFile: mpmd was built without TLS (-Dtls=disabled)", label);
}

/* An https:// ProxyPass target of one section, refused in a build without TLS: true when one was. */
static bool check_tls_upstreams(Loader *l, const char *label, const HttpSiteConfig *cfg) {
        for (size_t i = 0; i < cfg->proxy.pass.n; i++) {
                const HttpProxyPass *p = &cfg->proxy.pass.items[i];
                if (!p->exclude && p->target.tls.enabled) {
                        load_error(l, p->file, p->line, "%s ProxyPass: %s: mpmd was built without TLS (-Dtls=disabled)",
                                   label, p->target.url);
                        return true;
                }
        }
        return false;
}

void check_tls(Loader *l) {
        Config *c = l->config;
        size_t listen = row_of(config_directives, "Listen"), vlisten = row_of(vhost_directives, "Listen");
        size_t cert = row_of(http_site_directives, "SSLCertificateFile");
        size_t key = row_of(http_site_directives, "SSLCertificateKeyFile");
        size_t verify = row_of(http_site_directives, "SSLVerifyClient");
        size_t ca = row_of(http_site_directives, "SSLCACertificateFile");

        check_tls_pairs(l, "[Server]", &c->site.tls);
        check_tls_verify(l, "[Server]", &c->site.tls);
        if (l->opts->tls && !l->opts->tls->build_upstreams) {
                /* The first one found (sections inherit lines: the others would repeat it). */
                bool found = check_tls_upstreams(l, "[Server]", &c->site);
                for (size_t i = 0; !found && i < c->n_vhosts; i++)
                        found = check_tls_upstreams(l, "[VirtualHost]", &c->vhosts[i].site);
                for (size_t i = 0; !found && i < c->n_locations; i++)
                        found = check_tls_upstreams(l, c->locations[i].label, &c->locations[i].site);
        }
        if (l->opts->tls) {
                check_tls_listen(l, "[Server]", c->listen, &l->server_keys[listen]);
                check_tls_certificates(l, "[Server]", &c->site.tls);
        }
        for (size_t i = 0; i < c->n_vhosts; i++) {
                ConfigVhost *v = &c->vhosts[i];
                const KeySource *k = l->vhost_keys[i].site;
                _cleanup_free_ char *label = NULL;

                if (asprintf(&label, "[VirtualHost %s]", v->name) < 0) {
                        l->oom = true;
                        return;
                }
                if (k[cert].file != 0 || k[key].file != 0)
                        check_tls_pairs(l, label, &v->site.tls);
                if (k[verify].file != 0 || k[ca].file != 0)
                        check_tls_verify(l, label, &v->site.tls);
                if (!l->opts->tls)
                        continue;
                check_tls_listen(l, label, v->listen, &l->vhost_keys[i].own[vlisten]);
                if (k[cert].file != 0)
                        check_tls_certificates(l, label, &v->site.tls);
        }
}

void build_tls(Loader *l) {
        Config *c = l->config;
        size_t listen = row_of(config_directives, "Listen"), vlisten = row_of(vhost_directives, "Listen");
        _cleanup_free_ ConfigSource *sources = calloc(1 + c->n_vhosts, sizeof(ConfigSource));
        size_t before = l->errors ? l->errors->n : 0, added;
        int r;

        if (!sources) {
                l->oom = true;
                return;
        }
        key_source(l, &l->server_keys[listen], (const char **) &sources[0].file, &sources[0].line);
        for (size_t i = 0; i < c->n_vhosts; i++)
                key_source(l, &l->vhost_keys[i].own[vlisten], (const char **) &sources[1 + i].file,
                           &sources[1 + i].line);
        r = l->opts->tls->build(c, sources, &c->tls, l->errors, l->warnings);
        c->tls_ops = l->opts->tls;
        if (r >= 0 && l->opts->tls->build_upstreams)
                r = l->opts->tls->build_upstreams(c, &c->tls_upstreams, l->errors, l->warnings);
        added = l->errors ? l->errors->n - before : 0;
        l->n_errors += (unsigned) added;
        if (r == -ENOMEM)
                l->oom = true;
        else if (r < 0 && added == 0)
                load_error(l, c->main_file, 0, "HTTPS: the certificate store could not be built");
}

void check_listen(Loader *l) {
        const Config *c = l->config;

        if (!strv_isempty(c->listen))
                return;
        for (size_t i = 0; i < c->n_vhosts; i++)
                if (!strv_isempty(c->vhosts[i].listen))
                        return;
        load_error(l, c->main_file, 0, "[Server] Listen: at least one Listen address or socket name is required");
}

/* RemoteIP* (remote-ip.h): a PROXY listener is one of the Listen values, and neither it nor a header
 * is believed without a peer to believe it from. */
void check_remote_ip(Loader *l) {
        const Config *c = l->config;
        const HttpRemoteIpConfig *ri = &c->site.remote_ip;
        const KeySource *pp = &l->site_keys[row_of(http_site_directives, "RemoteIPProxyProtocol")];
        const KeySource *hd = &l->site_keys[row_of(http_site_directives, "RemoteIPHeader")];
        const char *file;
        unsigned line;

        key_source(l, pp, &file, &line);
        STRV_FOREACH(v, ri->proxy_protocol) {
                bool named = strv_contains(c->listen, *v);
                for (size_t i = 0; !named && i < c->n_vhosts; i++)
                        named = strv_contains(c->vhosts[i].listen, *v);
                if (!named)
                        load_error(l, file, line, "[Server] RemoteIPProxyProtocol: \"%s\" is not one of the Listen values",
                                   *v);
        }
        if (ri->trusted.n == 0 && !strv_isempty(ri->proxy_protocol))
                load_error(l, file, line,
                           "[Server] RemoteIPProxyProtocol needs RemoteIPTrustedProxy: the proxies that may send the "
                           "header (from anyone else it could name any client)");
        key_source(l, hd, &file, &line);
        if (ri->trusted.n == 0 && ri->header)
                load_error(l, file, line,
                           "[Server] RemoteIPHeader needs RemoteIPTrustedProxy: the proxies whose %s is believed",
                           ri->header);
}

void check_mpm(Loader *l) {
        Config *c = l->config;
        size_t before = l->errors ? l->errors->n : 0, added;
        int r;

        /* Clamping values that failed to parse would only add noise to the errors already given. */
        if (!c->mpm || !c->mpm_config || l->mpm_errors > 0 || !c->mpm->check_config)
                return;
        r = c->mpm->check_config(c->mpm_config, l->errors, l->warnings);
        added = l->errors ? l->errors->n - before : 0;
        /* Its errors are fatal whatever it returns; a failure without a message still gets one. */
        l->n_errors += (unsigned) added;
        if (r < 0 && added == 0)
                load_error(l, c->main_file, 0, "[%s]: the MPM rejected its settings", c->mpm->name);
}

/* An MPM key that names a site (CONF_SITE_NAME) must name a [VirtualHost] of this configuration. */
void check_mpm_site_names(Loader *l) {
        const Config *c = l->config;

        if (!c->mpm || !c->mpm_config || l->mpm_errors > 0)
                return;
        for (const ConfItem *it = l->mpm_table; it->key; it++) {
                const char *name, *file;
                bool found = false;
                unsigned line;

                if (!(it->flags & CONF_SITE_NAME))
                        continue;
                name = *(char *const *) ((const char *) c->mpm_config + it->offset); /* a CONF_STRING */
                if (!name)
                        continue;
                for (size_t i = 0; i < c->n_vhosts && !found; i++)
                        found = strcmp(c->vhosts[i].name, name) == 0;
                if (found)
                        continue;
                key_source(l, &l->mpm_keys[it - l->mpm_table], &file, &line);
                load_error(l, file, line, "[%s] %s: no [VirtualHost %s] in the configuration", c->mpm->name,
                           it->key, name);
        }
}

/* Each site's CGI limits: what its section sets, the MPM's defaults for the rest (none without an
 * MPM that has them). MemoryMax's lower bound is its row's (site-limits.h); CPUWeight, which only a
 * cgroup could enforce, is kept and warned about. */
void resolve_site_limits(Loader *l) {
        Config *c = l->config;
        const SiteLimits *defaults = c->mpm && c->mpm_config && c->mpm->site_limits
                                             ? c->mpm->site_limits(c->mpm_config)
                                             : NULL;
        size_t first = row_of(vhost_directives, site_limits_keys[SITE_LIMIT_MAX_PROCESSES]);
        const char *file;
        unsigned line;

        if (defaults) {
                c->limits = *defaults;
                for (SiteLimitKey k = 0; k < SITE_LIMITS_N_KEYS; k++) {
                        const ConfItem *it = conf_table_find(l->mpm_table, site_limits_keys[k]);
                        if (!it || l->mpm_keys[it - l->mpm_table].file == 0)
                                continue;
                        key_source(l, &l->mpm_keys[it - l->mpm_table], &file, &line);
                        if (k == SITE_LIMIT_CPU_WEIGHT && defaults->cpu_weight > 0)
                                load_warning(l, file, line,
                                             "[%s] CPUWeight: needs cgroup v2, which this mpmd does not use yet: "
                                             "no CPU weighting is applied",
                                             c->mpm->name);
                }
        }
        for (size_t i = 0; i < c->n_vhosts; i++) {
                ConfigVhost *v = &c->vhosts[i];
                const KeySource *own = l->vhost_keys[i].own;
                SiteLimits set = v->limits;

                v->limits = c->limits;
                for (SiteLimitKey k = 0; k < SITE_LIMITS_N_KEYS; k++) {
                        const KeySource *ks = &own[first + k];
                        if (ks->file == 0)
                                continue;
                        site_limits_copy_key(&v->limits, &set, k);
                        key_source(l, ks, &file, &line);
                        if (k == SITE_LIMIT_CPU_WEIGHT && set.cpu_weight > 0)
                                load_warning(l, file, line,
                                             "[VirtualHost %s] CPUWeight: needs cgroup v2, which this mpmd does not "
                                             "use yet: no CPU weighting is applied",
                                             v->name);
                }
        }
}

/* An MPM that runs sites under their own ids (perchild) takes a site's identity whole: User and
 * Group together, or neither (the site then shares the [Server] User's pool). A User alone would
 * leave the gid to the passwd entry, which the operator did not name. */
void check_site_identities(Loader *l) {
        const Config *c = l->config;
        size_t vuser = row_of(vhost_directives, "User"), vgroup = row_of(vhost_directives, "Group");

        if (!c->mpm || !(c->mpm->flags & MPM_PER_USER))
                return;
        for (size_t i = 0; i < c->n_vhosts; i++) {
                const ConfigVhost *v = &c->vhosts[i];
                const KeySource *k = v->user ? &l->vhost_keys[i].own[vuser] : &l->vhost_keys[i].own[vgroup];
                const char *file;
                unsigned line;

                if (!v->user == !v->group)
                        continue;
                key_source(l, k, &file, &line);
                load_error(l, file, line, "[VirtualHost %s] %s: MPM %s needs User and Group together (%s is missing)",
                           v->name, v->user ? "User" : "Group", c->mpm->name, v->user ? "Group" : "User");
        }
}

/* ---- reload ------------------------------------------------------------------------------- */

static const char *mpm_describe(const Config *c) {
        if (!c->mpm)
                return "(none)";
        return c->mpm->name;
}

static unsigned check_restart_only(const ConfItem *table, const char *label, const void *old, const void *new,
                                   const char *file, ConfErrors *errors) {
        unsigned n = 0;

        for (const ConfItem *i = table; i && i->key; i++) {
                _cleanup_free_ char *was = NULL, *now = NULL;

                if (!(i->flags & CONF_RESTART_ONLY) || conf_item_equal(i, old, new))
                        continue;
                was = conf_item_format(i, old);
                now = conf_item_format(i, new);
                conf_errors_add(errors, file, 0,
                                "%s %s cannot change on reload (was %s, now %s): restart mpmd to apply it", label,
                                i->key, was ? was : "?", now ? now : "?");
                n++;
        }
        return n;
}

int config_check_reload(const Config *old, const Config *new, ConfErrors *errors) {
        _cleanup_free_ char *label = NULL;
        unsigned n = 0;

        if (old->mpm != new->mpm) {
                if (old->mpm && new->mpm && strcmp(old->mpm->name, new->mpm->name) == 0)
                        /* Same name, another module file: its table and struct may differ too. */
                        conf_errors_add(errors, new->main_file, 0,
                                        "MPM cannot change on reload (was %s from %s, now %s from %s): restart mpmd "
                                        "to apply it",
                                        old->mpm->name, old->n_modules > 0 ? old->modules[0].path : "mpmd",
                                        new->mpm->name, new->n_modules > 0 ? new->modules[0].path : "mpmd");
                else
                        conf_errors_add(errors, new->main_file, 0,
                                        "MPM cannot change on reload (was %s, now %s): restart mpmd to apply it",
                                        mpm_describe(old), mpm_describe(new));
                return -EINVAL;
        }
        n += check_restart_only(config_directives, "[Server]", old, new, new->main_file, errors);
        n += check_restart_only(http_site_directives, "[Server]", &old->site, &new->site, new->main_file, errors);
        if (new->mpm && old->mpm_config && new->mpm_config) {
                if (asprintf(&label, "[%s]", new->mpm->name) < 0)
                        return -ENOMEM;
                n += check_restart_only(new->mpm->directives, label, old->mpm_config, new->mpm_config,
                                        new->main_file, errors);
        }
        return n > 0 ? -EINVAL : 0;
}

/* ---- server names ------------------------------------------------------------------------- */

/* Do two sites receive requests on a common socket? A site without Listen of its own is on the
 * shared ones ([Server] Listen), one with Listen only on those it names (server.c's rule). */
static bool sites_share_an_address(char **a, char **b) {
        if (!a || !b)
                return !a && !b;
        STRV_FOREACH(s, a)
                if (strv_contains(b, *s))
                        return true;
        return false;
}

typedef struct SiteNames {
        char *label;
        char **listen;
        const HttpSiteConfig *site;
        const KeySource *keys; /* http_site_directives */
} SiteNames;

static void warn_name(Loader *l, const SiteNames *loser, const SiteNames *winner, const char *key,
                      const char *name, const char *winner_key) {
        size_t row = row_of(http_site_directives, key), wrow = row_of(http_site_directives, winner_key);
        const char *file, *wfile;
        unsigned line, wline;

        key_source(l, &loser->keys[row], &file, &line);
        key_source(l, &winner->keys[wrow], &wfile, &wline);
        load_warning(l, file, line,
                     "%s %s: conflicting server name \"%s\" on the same address as %s (%s:%u): requests for it go to "
                     "%s",
                     loser->label, key, name, winner->label, wfile, wline, winner->label);
}

/* Does winner name name (its own ServerName or ServerAlias, not inherited ones)? Sets *ret_key. */
static bool site_has_name(const SiteNames *s, const char *name, const char **ret_key) {
        size_t sn = row_of(http_site_directives, "ServerName"), sa = row_of(http_site_directives, "ServerAlias");

        if (s->keys[sn].file != 0 && s->site->server_name && strcasecmp(s->site->server_name, name) == 0) {
                *ret_key = "ServerName";
                return true;
        }
        if (s->keys[sa].file != 0)
                STRV_FOREACH(a, s->site->server_alias)
                        if (strcasecmp(*a, name) == 0) {
                                *ret_key = "ServerAlias";
                                return true;
                        }
        return false;
}

/* nginx's "conflicting server name": two sites on one address answering to the same name. The
 * first virtual host in file order gets its requests, and any virtual host before [Server]
 * (http_server_select()): the other never sees them. A warning, as nginx's, at the line of the
 * one that loses. */
void check_server_names(Loader *l) {
        Config *c = l->config;
        size_t n = c->n_vhosts + 1;
        size_t sn = row_of(http_site_directives, "ServerName"), sa = row_of(http_site_directives, "ServerAlias");
        _cleanup_free_ SiteNames *s = calloc(n, sizeof(SiteNames));

        if (!s) {
                l->oom = true;
                return;
        }
        /* In the order the engine tries them: the virtual hosts, then [Server]. */
        for (size_t i = 0; i < c->n_vhosts; i++)
                s[i] = (SiteNames) { .listen = c->vhosts[i].listen, .site = &c->vhosts[i].site,
                                     .keys = l->vhost_keys[i].site };
        s[n - 1] = (SiteNames) { .label = (char *) "[Server]", .site = &c->site, .keys = l->site_keys };
        for (size_t i = 0; i < c->n_vhosts; i++)
                if (asprintf(&s[i].label, "[VirtualHost %s]", c->vhosts[i].name) < 0) {
                        s[i].label = NULL;
                        l->oom = true;
                        goto finish;
                }

        for (size_t j = 1; j < n; j++) {
                const SiteNames *loser = &s[j];
                const char *wkey;

                for (size_t i = 0; i < j; i++) {
                        const SiteNames *winner = &s[i];

                        if (!sites_share_an_address(winner->listen, loser->listen))
                                continue;
                        if (loser->keys[sn].file != 0 && loser->site->server_name &&
                            site_has_name(winner, loser->site->server_name, &wkey))
                                warn_name(l, loser, winner, "ServerName", loser->site->server_name, wkey);
                        if (loser->keys[sa].file != 0)
                                STRV_FOREACH(a, loser->site->server_alias)
                                        if (site_has_name(winner, *a, &wkey))
                                                warn_name(l, loser, winner, "ServerAlias", *a, wkey);
                }
        }
finish:
        for (size_t i = 0; i < c->n_vhosts; i++)
                free(s[i].label);
}

/* ---- what a start would find (mpmd -t) ------------------------------------------------------ */

/* Who opens a path: the supervisor itself (its effective ids), or a site's user (a per-user MPM's
 * site with a User of its own, site-paths.c). */
typedef struct Opener {
        const char *user; /* NULL: the supervisor */
        uid_t uid;
        gid_t gid;
} Opener;

/* May o open st for want (W_OK, X_OK)? For the supervisor, the kernel's answer (faccessat with the
 * effective ids). For another user, judged by root from the mode and owner, as the kernel would
 * without ACLs: the owner's bits, else a group's (its primary group or a supplementary one), else
 * the others'. */
static bool opener_may(const Opener *o, const char *path, const struct stat *st, int want) {
        gid_t groups[256];
        int n = (int) ELEMENTSOF(groups);
        mode_t bits;

        if (!o->user)
                return faccessat(AT_FDCWD, path, want, AT_EACCESS) == 0;
        if (o->uid == 0)
                return true;
        if (st->st_uid == o->uid)
                bits = (st->st_mode >> 6) & 7;
        else {
                bool member = st->st_gid == o->gid;

                if (!member && getgrouplist(o->user, o->gid, groups, &n) >= 0)
                        for (int i = 0; i < n && !member; i++)
                                member = groups[i] == st->st_gid;
                bits = member ? (st->st_mode >> 3) & 7 : st->st_mode & 7;
        }
        return ((want & W_OK) == 0 || (bits & 2)) && ((want & X_OK) == 0 || (bits & 1));
}

static void opener_describe(const Opener *o, char *buf, size_t size) {
        if (o->user)
                snprintf(buf, size, "user %s", o->user);
        else {
                const struct passwd *pw = getpwuid(geteuid());

                if (pw)
                        snprintf(buf, size, "user %s (mpmd itself)", pw->pw_name);
                else
                        snprintf(buf, size, "uid %u (mpmd itself)", (unsigned) geteuid());
        }
}

/* A log file is opened with O_APPEND|O_CREAT: an existing one must be writable (a CustomLog also
 * a regular file and not a symbolic link, access-log.c's rule), a missing one needs a folder its
 * opener may write and enter. A site's own log (site) only fails that site: a warning. */
static void check_log_file(Loader *l, const char *label, const char *key, const KeySource *k, const char *path,
                           const Opener *o, bool site) {
        void (*report)(Loader *, const char *, unsigned, const char *, ...) = site ? load_warning : load_error;
        _cleanup_free_ char *dir = NULL;
        const char *file, *slash = strrchr(path, '/');
        char who[128];
        unsigned line;
        struct stat st;

        if (path[0] != '/' || !slash)
                return; /* "stderr", or a value its row already refused */
        key_source(l, k, &file, &line);
        opener_describe(o, who, sizeof(who));
        if (lstat(path, &st) == 0) {
                if (strcmp(key, "CustomLog") == 0 && S_ISLNK(st.st_mode)) {
                        report(l, file, line, "%s %s: %s: a symbolic link, which is not followed", label, key, path);
                        return;
                }
                if (stat(path, &st) < 0) {
                        report(l, file, line, "%s %s: %s: %s", label, key, path, strerror(errno));
                        return;
                }
                if (S_ISDIR(st.st_mode))
                        report(l, file, line, "%s %s: %s: %s", label, key, path, strerror(EISDIR));
                else if (strcmp(key, "CustomLog") == 0 && !S_ISREG(st.st_mode))
                        report(l, file, line, "%s %s: %s: not a regular file (a FIFO, a socket or a device)", label,
                               key, path);
                else if (!opener_may(o, path, &st, W_OK))
                        report(l, file, line, "%s %s: %s is not writable by %s, who opens it", label, key, path, who);
                return;
        }
        if (errno != ENOENT) {
                report(l, file, line, "%s %s: %s: %s", label, key, path, strerror(errno));
                return;
        }
        dir = slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        if (!dir) {
                l->oom = true;
                return;
        }
        if (stat(dir, &st) < 0)
                report(l, file, line, "%s %s: %s: the folder %s: %s", label, key, path, dir, strerror(errno));
        else if (!S_ISDIR(st.st_mode))
                report(l, file, line, "%s %s: %s: %s is not a folder", label, key, path, dir);
        else if (!opener_may(o, dir, &st, W_OK | X_OK))
                report(l, file, line, "%s %s: %s cannot be created: the folder %s is not writable by %s, who opens it",
                       label, key, path, dir, who);
}

static void check_site_logs(Loader *l, const char *label, const HttpSiteConfig *site, const KeySource *keys,
                            const HttpSiteConfig *main_site, const Opener *o, bool own) {
        size_t cl = row_of(http_site_directives, "CustomLog"), el = row_of(http_site_directives, "ErrorLog");

        /* Inherited logs are [Server]'s, checked once as its, except in a site that opens its logs
         * itself, as its user, inherited ones too (site-paths.c); an ErrorLog that is the main
         * server's is the same file, never the site's (server-logs.c's rule). */
        /* an inherited log is placed at [Server]'s line */
        const KeySource *ck = keys[cl].file != 0 ? &keys[cl] : &l->site_keys[cl];
        const KeySource *ek = keys[el].file != 0 ? &keys[el] : &l->site_keys[el];

        if (site->custom_log.path && (!main_site || own || keys[cl].file != 0))
                check_log_file(l, label, "CustomLog", ck, site->custom_log.path, o, own);
        if (site->error_log && (!main_site || own || keys[el].file != 0) &&
            !(main_site && main_site->error_log && strcmp(site->error_log, main_site->error_log) == 0))
                check_log_file(l, label, "ErrorLog", ek, site->error_log, o, own);
}

/* A Listen value is an address mpmd binds, or the name of a socket systemd passes: a value that
 * looks like an address (a port, ADDR:PORT, [V6]:PORT) must be one, with a port from 1 to 65535, by
 * the rule of the code that binds it (opts->listen_is_address: listeners.c, which the loader does
 * not link, so that it stays a library of its own for the fuzzer). */
static void check_listen_values(Loader *l, const char *label, char **listen, const KeySource *k) {
        const char *file;
        unsigned line;

        if (!l->opts->listen_is_address)
                return;
        key_source(l, k, &file, &line);
        STRV_FOREACH(v, listen) {
                /* https://ADDR:PORT is the address ADDR:PORT, bound for TLS. */
                const char *a = strncmp(*v, LISTEN_HTTPS_PREFIX, strlen(LISTEN_HTTPS_PREFIX)) == 0
                                        ? *v + strlen(LISTEN_HTTPS_PREFIX)
                                        : *v;
                bool looks = a[0] == '[' || strchr(a, ':') || a[strspn(a, "0123456789")] == '\0';

                if (strncmp(a, "vhost:", strlen("vhost:")) == 0 || strncmp(a, "vhost-https:", strlen("vhost-https:")) == 0 ||
                    !looks || l->opts->listen_is_address(a))
                        continue;
                load_error(l, file, line,
                           "%s Listen: \"%s\" is not an address: expected ADDR:PORT, [V6]:PORT, *:PORT or PORT with a "
                           "port from 1 to 65535, or a systemd socket name",
                           label, *v);
        }
}

void check_startup(Loader *l) {
        Config *c = l->config;
        size_t listen = row_of(config_directives, "Listen"), vlisten = row_of(vhost_directives, "Listen");
        size_t vuser = row_of(vhost_directives, "User");
        Opener self = { .uid = geteuid(), .gid = getegid() };
        const char *file;
        unsigned line;

        /* The start refuses it (main.c): say it here too, in the same words. */
        if (geteuid() == 0 && !c->user)
                load_error(l, c->main_file, 0,
                           "running as root needs a User (and Group) for the workers: mpmd never serves a request as "
                           "root");
        check_listen_values(l, "[Server]", c->listen, &l->server_keys[listen]);
        check_site_logs(l, "[Server]", &c->site, l->site_keys, NULL, &self, false);
        for (size_t i = 0; i < c->n_vhosts; i++) {
                ConfigVhost *v = &c->vhosts[i];
                _cleanup_free_ char *label = NULL;
                bool own = config_site_paths_are_its_own(c, v);
                Opener site = { .user = v->user, .uid = v->uid, .gid = v->gid };

                if (asprintf(&label, "[VirtualHost %s]", v->name) < 0) {
                        l->oom = true;
                        return;
                }
                check_listen_values(l, label, v->listen, &l->vhost_keys[i].own[vlisten]);
                /* Only a per-user MPM runs a site as its User (check_site_identities()). */
                if (v->user && c->mpm && !(c->mpm->flags & MPM_PER_USER)) {
                        key_source(l, &l->vhost_keys[i].own[vuser], &file, &line);
                        load_warning(l, file, line,
                                     "%s User: ignored by MPM %s: only perchild runs a site as a user of its own; its "
                                     "requests are served as the [Server] User",
                                     label, c->mpm->name);
                }
                /* A site's own user that did not resolve was reported: nothing to judge its rights by. */
                if (own && v->uid == (uid_t) -1)
                        continue;
                check_site_logs(l, label, &v->site, l->vhost_keys[i].site, &c->site, own ? &site : &self, own);
        }
}
