/* SPDX-License-Identifier: MIT */
/* config.c — config_load(): the tables of the supervisor's own keys, and the steps of loading in
 * order (config-loader.h says which file does what). Resolution runs in two passes over the entries
 * the reader recorded: LoadModule lines first (the MPM decides which section names are valid and
 * what its keys mean), then everything else in file order, so later files override or extend what
 * earlier ones said. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/config-loader.h"
#include "http/access-log.h"
#include "mpm/site-limits.h"
#include "shared/strv.h"

static const char *const log_level_names[] = {
        "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug", NULL,
};

const char *log_level_to_string(int l) {
        if (l < 0 || (size_t) l >= ELEMENTSOF(log_level_names) - 1)
                return NULL;
        return log_level_names[l];
}

#define CFG(field) offsetof(Config, field)

/* AgentCheck: an address of this host (the supervisor binds it; it is no systemd socket name, and
 * no port 0), IPv4 or [IPv6], with the port. */
static int parse_agent_check(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                             char **ret_error) {
        const char *colon = strrchr(value, ':');
        char host[INET6_ADDRSTRLEN + 2];
        unsigned char addr[sizeof(struct in6_addr)];
        uint64_t port;

        if (!colon || (size_t) (colon - value) >= sizeof(host) || parse_uint64(colon + 1, &port) < 0 || port == 0 ||
            port > 65535)
                return conf_parse_error(ret_error, "expected ADDR:PORT or [V6]:PORT with a port from 1 to 65535, got \"%s\"",
                                        value);
        memcpy(host, value, (size_t) (colon - value));
        host[colon - value] = 0;
        bool v6 = host[0] == '[' && host[strlen(host) - 1] == ']';
        if (v6) {
                memmove(host, host + 1, strlen(host));
                host[strlen(host) - 1] = 0;
        }
        if (strcmp(host, "*") != 0 && inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1)
                return conf_parse_error(ret_error, "\"%s\" is not an IPv4 address, [IPv6] address or *", host);
        return 0;
}

/* ---- LogFormat --------------------------------------------------------------------------- */

static void log_formats_done(ConfigLogFormats *f) {
        for (size_t i = 0; i < f->n; i++) {
                free(f->items[i].nickname);
                free(f->items[i].format);
        }
        free(f->items);
        *f = (ConfigLogFormats) {};
}

const char *config_log_format_find(const ConfigLogFormats *f, const char *nickname) {
        for (size_t i = 0; i < f->n; i++)
                if (strcmp(f->items[i].nickname, nickname) == 0)
                        return f->items[i].format;
        return NULL;
}

static bool is_nickname(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("_-.", s[i]))
                        return false;
        return n > 0;
}

/* "FORMAT NICKNAME", FORMAT one word or in double quotes (\" inside does not end it); the format
 * must compile. Apache's LogFormat without a nickname sets the format of TransferLog, which mpmd
 * does not have. */
static int parse_log_format(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                            char **ret_error) {
        ConfigLogFormats *f = field;
        const char *end = value;

        if (*end == '"') {
                for (end++; *end && *end != '"'; end++)
                        if (*end == '\\' && end[1])
                                end++;
                if (*end != '"')
                        return conf_parse_error(ret_error, "the format's closing '\"' is missing");
                end++;
        } else
                end += strcspn(end, " \t");
        const char *nick = end + strspn(end, " \t");
        size_t nick_len = strcspn(nick, " \t");
        if (end == value || nick_len == 0)
                return conf_parse_error(ret_error, "expected a format and its nickname, as in "
                                                   "LogFormat = \"%%h %%u %%t \\\"%%r\\\" %%>s %%b\" mine");
        if (nick[nick_len + strspn(nick + nick_len, " \t")] != '\0')
                return conf_parse_error(ret_error, "one nickname after the format: a format with spaces goes in "
                                                   "double quotes");
        if (!is_nickname(nick, nick_len))
                return conf_parse_error(ret_error, "the nickname \"%.*s\" is not a word of letters, digits, '_', "
                                                   "'-' and '.'", (int) nick_len, nick);
        _cleanup_free_ char *format = strndup(value, (size_t) (end - value)), *name = strndup(nick, nick_len);
        AccessLogFormat *compiled = NULL;
        if (!format || !name)
                return -ENOMEM;
        int r = access_log_format_compile(format, &compiled, ret_error);
        access_log_format_free(compiled);
        if (r < 0)
                return r;
        if (ctx->replace_list)
                log_formats_done(f);
        for (size_t i = 0; i < f->n; i++)
                if (strcmp(f->items[i].nickname, name) == 0) {
                        free(f->items[i].format);
                        f->items[i].format = TAKE_PTR(format);
                        return 0;
                }
        ConfigLogFormat *grown = realloc(f->items, (f->n + 1) * sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        f->items = grown;
        f->items[f->n++] = (ConfigLogFormat) { .nickname = TAKE_PTR(name), .format = TAKE_PTR(format) };
        return 0;
}

static char *format_log_format(const ConfItem *item, const void *field) {
        const ConfigLogFormats *f = field;
        char *out = NULL;
        size_t size = 0;

        if (f->n == 0)
                return strdup("(empty)");
        FILE *m = open_memstream(&out, &size);
        if (!m)
                return NULL;
        for (size_t i = 0; i < f->n; i++)
                fprintf(m, "%s%s %s", i > 0 ? "; " : "", f->items[i].format, f->items[i].nickname);
        if (fclose(m) != 0) {
                free(out);
                return NULL;
        }
        return out;
}

static int copy_log_format(const ConfItem *item, void *dst, const void *src) {
        const ConfigLogFormats *from = src;
        ConfigLogFormats copy = { .items = calloc(from->n + 1, sizeof(ConfigLogFormat)) };

        if (!copy.items)
                return -ENOMEM;
        for (; copy.n < from->n; copy.n++) {
                ConfigLogFormat *c = &copy.items[copy.n];
                c->nickname = strdup(from->items[copy.n].nickname);
                c->format = strdup(from->items[copy.n].format);
                if (!c->nickname || !c->format) {
                        copy.n++;
                        log_formats_done(&copy);
                        return -ENOMEM;
                }
        }
        log_formats_done(dst);
        *(ConfigLogFormats *) dst = copy;
        return 0;
}

static void done_log_format(const ConfItem *item, void *field) {
        log_formats_done(field);
}

/* The supervisor's own [Server] keys. The engine's keys are http_site_directives. */
const ConfItem config_directives[] = {
        { "Listen", CONF_STRV, CFG(listen), NULL,
          .expect = "addresses (ADDR:PORT, [V6]:PORT) or systemd socket names" },
        /* Apache's default; the kernel caps it at net.core.somaxconn. Sockets from systemd keep
         * their unit's Backlog=. */
        { "ListenBacklog", CONF_UINT, CFG(listen_backlog), "511", 1, 65535,
          .expect = "a queue length from 1 to 65535" },
        { "User", CONF_STRING, CFG(user), NULL, .expect = "a user name" },
        { "Group", CONF_STRING, CFG(group), NULL, .expect = "a group name" },
        { "LogLevel", CONF_ENUM, CFG(log_level), "warn", .names = log_level_names,
          .expect = "one of emerg, alert, crit, error, warn, notice, info, debug" },
        { "PidFile", CONF_PATH, CFG(pid_file), NULL, .expect = "an absolute path" },
        { "GracefulShutdownTimeout", CONF_USEC, CFG(graceful_shutdown_timeout), "10", 0, 3600 * USEC_PER_SEC,
          .expect = "a time from 0 to 3600 s" },
        { "GracefulReloadTimeout", CONF_USEC, CFG(graceful_reload_timeout), "30", 0, 3600 * USEC_PER_SEC,
          .expect = "a time from 0 to 3600 s" },
        { "ControlSocket", CONF_PATH, CFG(control_socket), "/run/mpmd/control", .expect = "an absolute path" },
        { "AgentCheck", CONF_STRING, CFG(agent_check), NULL, .parse = parse_agent_check,
          .expect = "ADDR:PORT for HAProxy's agent-check" },
        { "MinUID", CONF_UINT, CFG(min_uid), "1000", 0, UINT32_MAX - 1, .expect = "a user id" },
        { "MinGID", CONF_UINT, CFG(min_gid), "1000", 0, UINT32_MAX - 1, .expect = "a group id" },
        { "LogFormat", CONF_CUSTOM, CFG(log_formats), NULL, .flags = CONF_LIST, .parse = parse_log_format,
          .format = format_log_format, .copy = copy_log_format, .done = done_log_format,
          .size = sizeof(ConfigLogFormats), .expect = "a format and the nickname CustomLog may name it by" },
        CONF_TABLE_END,
};

#define VH(field) offsetof(ConfigVhost, field)

/* What a [VirtualHost] may set besides the engine's keys. Not inherited from [Server]. */
const ConfItem vhost_directives[] = {
        { "Listen", CONF_STRV, VH(listen), NULL,
          .expect = "addresses (ADDR:PORT, [V6]:PORT) or systemd socket names" },
        { "User", CONF_STRING, VH(user), NULL, .expect = "a user name" },
        { "Group", CONF_STRING, VH(group), NULL, .expect = "a group name" },
        { "PoolProcesses", CONF_UINT, VH(pool_processes), "0", 0, 1024,
          .expect = "a number of processes from 1 to 1024, or 0 for [perchild] StartServers" },
        /* The site's CGI limits: a key not set here takes the MPM's default ([perchild]). */
        SITE_LIMITS_ROWS(VH(limits), false),
        CONF_TABLE_END,
};

const ConfItem empty_directives[] = { CONF_TABLE_END };

/* Section names of every MPM of the project: a file may carry tuning for several of them. */
const char *const mpm_section_names[CONFIG_N_MPM_SECTIONS] = { "prefork", "worker", "event", "perchild" };

void load_error(Loader *l, const char *file, unsigned line, const char *fmt, ...) {
        va_list ap;

        l->n_errors++;
        va_start(ap, fmt);
        conf_errors_addv(l->errors, file, line, fmt, ap);
        va_end(ap);
}

void load_warning(Loader *l, const char *file, unsigned line, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        conf_errors_addv(l->warnings, file, line, fmt, ap);
        va_end(ap);
}

static void loader_done(Loader *l) {
        for (size_t i = 0; i < l->n_entries; i++) {
                free(l->entries[i].section);
                free(l->entries[i].key);
                free(l->entries[i].value);
        }
        free(l->entries);
        free(l->reader.buf);
        free(l->reader.cont_key);
        free(l->site_keys);
        free(l->server_keys);
        for (size_t i = 0; l->config && i < l->config->n_vhosts; i++) {
                free(l->vhost_keys[i].own);
                free(l->vhost_keys[i].site);
        }
        free(l->vhost_keys);
        for (size_t i = 0; l->config && i < l->config->n_locations; i++)
                free(l->location_keys[i]);
        free(l->location_keys);
        free(l->mpm_keys);
        for (size_t i = 0; i < CONFIG_N_MPM_SECTIONS; i++) {
                OtherMpm *o = &l->others[i];

                if (o->config)
                        conf_table_free(o->ops->directives, o->config);
                free(o->config);
                free(o->keys);
        }
        free(l->label);
        strv_free(l->including);
        strv_free(l->defines);
}

int config_load(const char *main_file, const ConfigLoadOptions *opts, Config **ret, ConfErrors *errors,
                ConfErrors *warnings) {
        static const ConfigLoadOptions no_options = {};
        Loader l = {
                .opts = opts ? opts : &no_options,
                .errors = errors,
                .warnings = warnings,
        };
        Config *c;
        int r;

        *ret = NULL;
        c = l.config = calloc(1, sizeof(Config));
        if (!c)
                return -ENOMEM;
        c->uid = (uid_t) -1;
        c->gid = (gid_t) -1;
        c->main_file = strdup(main_file);
        l.site_keys = calloc(conf_table_size(http_site_directives) + 1, sizeof(KeySource));
        l.server_keys = calloc(conf_table_size(config_directives) + 1, sizeof(KeySource));
        if (!c->main_file || !l.site_keys || !l.server_keys || conf_table_defaults(config_directives, c) < 0 ||
            conf_table_defaults(http_site_directives, &c->site) < 0) {
                r = -ENOMEM;
                goto finish;
        }

        read_defines_from_options(&l);
        read_file(&l, main_file);
        if (strv_isempty(c->files)) { /* without the main file, conf.d would be read out of context */
                r = -EINVAL;
                goto finish;
        }
        read_confd(&l, main_file);
        if (l.oom) {
                r = -ENOMEM;
                goto finish;
        }

        collect_modules(&l);
        resolve_mpm(&l);
        if (c->mpm) {
                l.mpm_table = c->mpm->directives ? c->mpm->directives : empty_directives;
                l.mpm_keys = calloc(conf_table_size(l.mpm_table) + 1, sizeof(KeySource));
                c->mpm_config = mpm_config_new(&l, c->mpm, l.mpm_table);
                if (!l.mpm_keys)
                        l.oom = true;
                if (!c->mpm_config)
                        c->mpm = NULL; /* reported; the sections are still checked */
        }
        if (l.oom) {
                r = -ENOMEM;
                goto finish;
        }

        apply_entries(&l);
        inherit_vhosts(&l);
        inherit_locations(&l);
        check_listen(&l);
        check_remote_ip(&l);
        check_site_keys(&l);
        resolve_log_formats(&l);
        if (l.opts->check_filesystem)
                check_filesystem(&l);
        check_mpm(&l);
        resolve_site_limits(&l);
        check_mpm_site_names(&l);
        check_site_identities(&l);
        check_server_names(&l);
        check_tls(&l);
        if (l.opts->check_startup && !l.oom)
                check_startup(&l);
        /* Last: reading every key takes the supervisor's rights, and a broken configuration would
         * only add errors that follow from the ones given. */
        if (l.opts->check_filesystem && l.opts->tls && l.opts->tls->build && l.n_errors == 0 && !l.oom)
                build_tls(&l);

        r = l.oom ? -ENOMEM : l.n_errors > 0 ? -EINVAL : 0;
finish:
        loader_done(&l);
        if (r < 0) {
                config_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        if (c->tls && c->tls_ops && c->tls_ops->free)
                c->tls_ops->free(c->tls);
        if (c->tls_upstreams && c->tls_ops && c->tls_ops->free_upstreams)
                c->tls_ops->free_upstreams(c->tls_upstreams);
        conf_table_free(config_directives, c);
        conf_table_free(http_site_directives, &c->site);
        free(c->site.locations.items);
        for (size_t i = 0; i < c->n_locations; i++) {
                ConfigLocation *loc = &c->locations[i];

                free(loc->vhost);
                free(loc->prefix);
                free(loc->label);
                free(loc->source.file);
                conf_table_free(http_site_directives, &loc->site);
        }
        free(c->locations);
        for (size_t i = 0; i < c->n_vhosts; i++) {
                ConfigVhost *v = &c->vhosts[i];

                free(v->site.locations.items);
                free(v->name);
                free(v->source.file);
                conf_table_free(vhost_directives, v);
                conf_table_free(http_site_directives, &v->site);
        }
        free(c->vhosts);
        for (size_t i = 0; i < c->n_modules; i++) {
                free(c->modules[i].name);
                free(c->modules[i].path);
                free(c->modules[i].source.file);
        }
        free(c->modules);
        if (c->mpm_config && c->mpm)
                conf_table_free(c->mpm->directives, c->mpm_config);
        free(c->mpm_config);
        strv_free(c->files);
        free(c->main_file);
        free(c);
        return NULL;
}

