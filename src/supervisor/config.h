/* SPDX-License-Identifier: MIT */
/* config.h — loading and checking the whole configuration.
 *
 * The main file, then every *.conf in the conf.d/ folder beside it in lexical order, are read
 * with inih; an Include line reads the files its glob matches in its place, and ${NAME} in a value
 * is replaced by what Define (or -D) gave NAME before it (config-read.c). The inih callback only
 * records (file, line, section, key, value); resolution happens afterwards, so that the MPM is
 * known (LoadModule or the built-in one) before its section is applied, whatever the order of the
 * files. Each key is looked up in the tables whose rows allow
 * the section it is in (ConfItem.contexts); its row parses it once. Later files override scalar
 * keys and extend list keys; an indented line continues the key above, joined with one space.
 * Every problem becomes one error "FILE:LINE: [Section] Key: what was expected"; all are collected,
 * none stops the reading of the rest. A Config that config_load() returns with 0 is complete and
 * checked: the supervisor can build a generation from it without further validation. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "shared/conf-table.h"
#include "mpm/mpm.h"
#include "http/site-config.h"
#include "mpm/site-limits.h"

typedef enum LogLevel {
        LOG_LEVEL_EMERG,
        LOG_LEVEL_ALERT,
        LOG_LEVEL_CRIT,
        LOG_LEVEL_ERR,
        LOG_LEVEL_WARNING,
        LOG_LEVEL_NOTICE,
        LOG_LEVEL_INFO,
        LOG_LEVEL_DEBUG,
} LogLevel;

typedef struct ConfigSource {
        char *file;
        unsigned line;
} ConfigSource;

typedef struct ConfigVhost {
        char *name; /* from [VirtualHost NAME] */
        ConfigSource source;
        HttpSiteConfig site; /* after loading: complete, inherited keys filled in from [Server] */
        char **listen;       /* addresses or socket names only this vhost receives */
        char *user;
        char *group;
        uint32_t pool_processes; /* perchild PoolProcesses of this site's pool; 0: [perchild] StartServers */
        SiteLimits limits;       /* its CGI programs' limits, complete after loading (site-limits.h) */
        /* resolved User/Group (check_filesystem): (uid_t) -1 when not set or not checked */
        uid_t uid;
        gid_t gid;
} ConfigVhost;

/* A path section: [Location /prefix/] (the main server's) or [Location NAME /prefix/] (vhost
 * NAME's). Its site config is whole after loading: what it does not set comes from the enclosing
 * section (a shorter path section of the same site, else the site), by each row's merge rule; the
 * site's HttpSiteConfig.locations points at it. */
typedef struct ConfigLocation {
        char *vhost;  /* NULL: the main server */
        char *prefix; /* starts with '/', normalised */
        char *label;  /* "[Location NAME /prefix/]", for messages */
        ConfigSource source;
        HttpSiteConfig site;
} ConfigLocation;

struct TlsStore;
typedef struct Config Config;

/* The certificate store as the loader sees it (tls-setup.c gives the supervisor's; the loader
 * does not link the store itself, so that it stays a library of its own for the fuzzer, as with
 * listen_is_address). Which Listen values are TLS is listener_name_is_tls() (mpm.h). */
typedef struct ConfigTls {
        /* Build the certificate store of c (tls-store.h), which checks every certificate and key:
         * errors and warnings as config_load()'s; *ret NULL when c has no HTTPS. listen_sources:
         * where each site's Listen was written, [0] [Server], [1 + i] vhosts[i]. NULL: mpmd was
         * built without TLS, and HTTPS in a configuration is an error. */
        int (*build)(const Config *c, const ConfigSource *listen_sources, struct TlsStore **ret, ConfErrors *errors,
                     ConfErrors *warnings);
        struct TlsStore *(*free)(struct TlsStore *s);
        /* The client contexts of c's https:// ProxyPass targets (tls-upstream.h), each target's
         * HttpUpstreamTls.client set; errors (a CA file that does not load) at the ProxyPass line,
         * those of a client certificate (SSLProxyMachineCertificateFile) and its warnings (expiry
         * near) at its own. 0, -EINVAL (errors added) or -ENOMEM; *ret NULL when c has none. */
        int (*build_upstreams)(Config *c, void **ret, ConfErrors *errors, ConfErrors *warnings);
        void (*free_upstreams)(void *clients);
} ConfigTls;

/* LogFormat = "FORMAT" NICKNAME: a name a CustomLog may give instead of its format (Apache's). */
typedef struct ConfigLogFormat {
        char *nickname;
        char *format; /* as written, quotes included: what access_log_format_compile() takes */
} ConfigLogFormat;

typedef struct ConfigLogFormats {
        ConfigLogFormat *items;
        size_t n;
} ConfigLogFormats;

/* The format a LogFormat line gave nickname, or NULL. */
const char *config_log_format_find(const ConfigLogFormats *f, const char *nickname);

typedef struct ConfigModule {
        char *name; /* mpm_event_module */
        char *path;
        ConfigSource source;
} ConfigModule;

struct Config {
        char *main_file;
        char **files; /* every file read, in order */

        /* [Server] keys of the supervisor (the table in config.c) */
        char **listen; /* ADDR:PORT, [V6]:PORT or a systemd socket name */
        char *user;
        char *group;
        int log_level; /* LogLevel */
        char *pid_file;
        usec_t graceful_shutdown_timeout;
        usec_t graceful_reload_timeout;
        char *control_socket;
        char *agent_check; /* AgentCheck: ADDR:PORT of HAProxy's agent (agent-check.h); NULL: none */
        uint32_t min_uid, min_gid;
        uint32_t listen_backlog; /* ListenBacklog: listen()'s backlog for the sockets mpmd binds */
        /* LogFormat, in the order given (a nickname given again takes its new format); every
         * site's CustomLog that names one holds its format after loading (resolve_log_formats) */
        ConfigLogFormats log_formats;

        HttpSiteConfig site; /* [Server] keys of the engine: the main server */
        ConfigVhost *vhosts;
        size_t n_vhosts;
        ConfigLocation *locations; /* path sections, in the order they were read */
        size_t n_locations;

        ConfigModule *modules; /* LoadModule lines */
        size_t n_modules;

        const MpmOps *mpm;
        void *mpm_config;
        SiteLimits limits; /* the MPM's defaults of the sites' CGI limits; all 0 without (site-limits.h) */ /* mpm->config_size bytes, from section [mpm->name] */

        /* resolved identities for User/Group: (uid_t) -1 when not set */
        uid_t uid;
        gid_t gid;

        /* The certificate store (tls-store.h), built by config_load() with check_filesystem and
         * ConfigLoadOptions.tls; NULL without HTTPS. A generation takes it over (generation.c). */
        struct TlsStore *tls;
        void *tls_upstreams;      /* the client contexts of https:// targets; the targets point into it */
        const ConfigTls *tls_ops; /* what frees them */
};

typedef struct ConfigLoadOptions {
        /* The MPM when no LoadModule is given (static build); NULL: a LoadModule is required. */
        const MpmOps *builtin_mpm;
        /* Load LoadModule paths with dlopen (real server); false in unit tests that only check. */
        bool load_modules;
        /* Check that DocumentRoot directories exist and that User/Group resolve. */
        bool check_filesystem;
        /* mpmd -t: also what a start would find (log folders and their rights, Listen values, root
         * without User, a vhost User the MPM ignores). Needs check_filesystem for the resolved ids. */
        bool check_startup;
        /* With check_startup: is a Listen value an address mpmd can bind (listen_value_is_address,
         * listeners.h)? NULL: Listen values are not checked. */
        bool (*listen_is_address)(const char *value);
        /* -D: "NAME" (an empty value) or "NAME=VALUE", for ${NAME}; NULL-terminated, may be NULL. */
        char *const *defines;
        /* HTTPS: with check_filesystem, the certificate store built (and so every certificate and
         * key checked) as part of loading: `mpmd -t`, the start and every reload; and without
         * ConfigTls.build (a build without TLS) HTTPS refused. NULL: neither built nor refused. */
        const ConfigTls *tls;
} ConfigLoadOptions;

/* Read and check the configuration rooted at main_file. Returns 0 and *ret, or -EINVAL with every
 * error in errors (warnings, such as clamped values, go to warnings and do not fail). */
int config_load(const char *main_file, const ConfigLoadOptions *opts, Config **ret, ConfErrors *errors,
                ConfErrors *warnings);

Config *config_free(Config *c);

/* Keys that cannot change on reload: appends an error per changed key (for example ServerLimit)
 * naming the key and saying a restart is needed. Returns 0 or -EINVAL. */
int config_check_reload(const Config *old, const Config *new, ConfErrors *errors);

/* Under a per-user MPM run as root, the paths of a vhost with a User of its own (DocumentRoot,
 * ScriptAlias directories) belong to the site: they are opened as that user when a generation is
 * built (site-open.h), never looked at with root's rights, not even by the configuration check. */
bool config_site_paths_are_its_own(const Config *c, const ConfigVhost *v);

const char *log_level_to_string(int l);
