/* SPDX-License-Identifier: MIT */
/* site-config.h — the directives of one site (the main server or a [VirtualHost]) that the HTTP
 * engine acts on, and their table. The engine owns these keys: the loader applies them from
 * [Server] and from each [VirtualHost NAME]; a virtual host inherits every key it does not set
 * from [Server] (Apache's rule). Names, defaults and bounds are Apache httpd's.
 *
 * Every value is parsed here, once, by its row, into the form the engine reads: ScriptAlias into
 * {URL path, directory} pairs, AddHandler into its extensions, CustomLog into a path and its format
 * text, RequestReadTimeout into its stages. A bad line is refused as it is read, with its
 * file:line; what the engine reads afterwards needs no further checking or splitting. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "shared/conf-table.h"
#include "http/compress.h"
#include "http/error-document.h"
#include "http/fastcgi-config.h"
#include "http/headers.h"
#include "http/remote-ip.h"
#include "http/mapping.h"
#include "http/proxy-config.h"
#include "http/access.h"
#include "http/tls-config.h"

typedef enum ServerTokens {
        SERVER_TOKENS_PROD, /* Server: mpmd */
        SERVER_TOKENS_FULL, /* Server: mpmd/VERSION */
        _SERVER_TOKENS_MAX,
} ServerTokens;

/* One stage of RequestReadTimeout (Apache's mod_reqtimeout): a request head or body must arrive
 * within timeout, extended by one second for every min_rate bytes received, up to max. */
typedef struct HttpReadTimeoutStage {
        usec_t timeout;    /* 0: the stage is off (TimeOut alone applies) */
        usec_t max;        /* 0: no upper bound */
        uint32_t min_rate; /* bytes per second; 0: no extension */
} HttpReadTimeoutStage;

typedef struct HttpReadTimeout {
        HttpReadTimeoutStage header, body;
} HttpReadTimeout;

#define HTTP_READ_TIMEOUT_DEFAULT "header=20-40,MinRate=500 body=20,MinRate=500"

/* Where a line of the configuration was written, for later messages; file "" for a value set by
 * a caller rather than read from a file. */
typedef struct HttpConfSource {
        char *file;
        unsigned line;
} HttpConfSource;

/* One ScriptAlias pair. */
typedef struct HttpScriptAlias {
        char *url; /* starts and ends with '/', e.g. "/cgi-bin/" */
        size_t url_len;
        char *directory; /* absolute, as written */
        HttpConfSource source;
} HttpScriptAlias;

/* ScriptAlias: every pair in file order, no URL path twice. n == 0: no aliases. */
typedef struct HttpScriptAliases {
        HttpScriptAlias *items;
        size_t n;
} HttpScriptAliases;

/* AddHandler: the extensions (each ".EXT", no other '.' or '/') that run as CGI programs
 * (cgi-script), and those that go to a FastCGI responder (proxy:URL, fastcgi-config.h), compared
 * without regard to case. An extension is in one list at most: a later line takes it. */
typedef struct HttpCgiHandlers {
        char **extensions; /* cgi-script; NULL: none */
        HttpFcgiExtension *fcgi;
        size_t n_fcgi;
} HttpCgiHandlers;

/* CustomLog PATH FORMAT: a site writes one access log. path NULL: the site does not log. */
typedef struct HttpCustomLog {
        char *path;   /* absolute */
        char *format; /* the format as written (a nickname or a %-format), whole; it compiles */
        HttpConfSource source;
} HttpCustomLog;

struct HttpSiteConfig;

/* One path section ([Location /prefix/] or [Location NAME /prefix/]): the settings of the part of
 * a site under prefix. Its cfg is a whole HttpSiteConfig that inherited what it does not set from
 * the enclosing section (a shorter path section of the site, else the site itself), so a
 * handler reads one config whatever the section. */
typedef struct HttpLocation {
        char *prefix; /* as written, starts with '/' */
        size_t prefix_len;
        const struct HttpSiteConfig *cfg;
} HttpLocation;

/* A site's path sections, longest prefix first (so the first match is the longest). Filled by
 * the loader (not a table row); the configs they point to belong to whoever filled them. */
typedef struct HttpLocations {
        HttpLocation *items;
        size_t n;
} HttpLocations;

/* Where a row may be written: the site's keys go in [Server] and [VirtualHost NAME]; those that
 * also make sense for part of a site add path sections. */
#define HTTP_SITE_CTX (CONF_CTX_SERVER | CONF_CTX_VHOST)
#define HTTP_SITE_CTX_PATH (CONF_CTX_SERVER | CONF_CTX_VHOST | CONF_CTX_PATH)

typedef struct HttpSiteConfig {
        char *server_name;
        char **server_alias; /* exact names and wildcards like *.example.org */
        char *document_root;
        char **directory_index;
        bool directory_slash;
        char *default_type;
        ConfLines add_type;       /* AddType: "TYPE EXT [EXT …]", one line each; a vhost's add to [Server]'s */
        HttpCustomLog custom_log; /* CustomLog, parsed */
        char *error_log;          /* "stderr" or a path */

        bool keep_alive;
        usec_t keep_alive_timeout;
        uint32_t max_keep_alive_requests; /* 0: unlimited */
        usec_t timeout;                   /* TimeOut: sends and body reads */
        uint32_t min_send_rate;           /* MinSendRate: bytes/s a client must take a response at */
        HttpReadTimeout read_timeout;     /* RequestReadTimeout, parsed */
        uint32_t limit_request_line;
        uint32_t limit_request_field_size;
        uint32_t limit_request_fields;
        uint64_t limit_request_body; /* 0: unlimited */
        uint32_t max_ranges;
        int server_tokens; /* ServerTokens */
        bool trace_enable;
        char *server_status; /* path of the status page, NULL: off */
        char **server_status_allow;
        HttpScriptAliases script_alias; /* ScriptAlias, parsed */
        HttpCgiHandlers add_handler;    /* AddHandler cgi-script and proxy:, parsed */
        HttpFcgiHandler set_handler;    /* SetHandler proxy: (fastcgi-config.h) */
        usec_t cgi_timeout;             /* CGITimeout: a CGI program's whole run */
        bool cgi_pass_auth;             /* CGIPassAuth: Authorization reaches CGI and FastCGI programs */
        HttpTlsConfig tls;              /* the SSL* keys (tls-config.h) */
        HttpHeadersConfig headers;      /* Header, Expires* (headers.h) */
        HttpErrorDocuments error_documents; /* ErrorDocument (error-document.h) */
        HttpRemoteIpConfig remote_ip;   /* RemoteIP*: the client behind proxies (remote-ip.h); [Server] only */
        HttpMappingConfig mapping;      /* Alias, Redirect, FallbackResource (mapping.h) */
        HttpAccessConfig access;        /* Require and the Auth* keys (access.h) */
        HttpFilesConfig files;          /* Options, PrecompressedFiles, Compression* (compress.h) */
        HttpProxyConfig proxy;          /* ProxyPass and the other Proxy* keys (proxy-config.h) */

        /* Not a row: the site's path sections (empty in a path section's own config). */
        HttpLocations locations;
} HttpSiteConfig;

extern const ConfItem http_site_directives[];

/* The config that applies to path (normalised, starts with '/') of site: the longest path section
 * whose prefix matches, else site itself. Apache's <Location> rule: a prefix that ends in '/'
 * matches what starts with it; one that does not matches itself and what continues with '/' (so
 * "/admin" covers "/admin" and "/admin/x", never "/administrator"). Case-sensitive, as the file
 * system is. */
const HttpSiteConfig *http_site_config_at_path(const HttpSiteConfig *site, const char *path, size_t path_len);

/* Does prefix (a path section's) match path, by the rule above? */
bool http_location_matches(const char *prefix, size_t prefix_len, const char *path, size_t path_len);

/* Parse a RequestReadTimeout value (Apache's syntax: "header=N[-M][,MinRate=R] body=…", seconds,
 * 0 turns a stage off; a stage not named keeps its default). Returns 0, or -EINVAL and sets
 * *ret_error to a static sentence saying what is wrong. */
int http_read_timeout_parse(const char *s, HttpReadTimeout *ret, const char **ret_error);

/* The parsers of the list rows, usable on their own (tests, callers that build a site by hand).
 * Each adds one line's value to the list; with replace the list is emptied first, so that a blank
 * value empties it (a site's way to drop [Server]'s). file:line say where the value was written
 * (file NULL: not from a file). 0, or -EINVAL with *ret_error (malloc'd; it does not name the key,
 * the loader's message does), or -ENOMEM. The list is unchanged on error. */
int http_script_alias_add(HttpScriptAliases *l, const char *value, bool replace, const char *file, unsigned line,
                          char **ret_error);
void http_script_aliases_done(HttpScriptAliases *l);

int http_cgi_handlers_add(HttpCgiHandlers *h, const char *value, bool replace, char **ret_error);
void http_cgi_handlers_done(HttpCgiHandlers *h);

/* CustomLog: a site has one access log, so a value that does not replace one already set is
 * -EINVAL, naming where the first was given (the loader replaces on a key's first line in a file). */
int http_custom_log_set(HttpCustomLog *c, const char *value, bool replace, const char *file, unsigned line,
                        char **ret_error);
void http_custom_log_done(HttpCustomLog *c);
