/* SPDX-License-Identifier: MIT */
/* site-config.h — the directives of one site (the main server or a [VirtualHost]) that the HTTP
 * engine acts on, and their table. The engine owns these keys: the loader applies them from
 * [Server] and from each [VirtualHost NAME]; a virtual host inherits every key it does not set
 * from [Server] (Apache's rule). Names, defaults and bounds are Apache httpd's. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "conf-table.h"

typedef enum ServerTokens {
        SERVER_TOKENS_PROD, /* Server: mpmd */
        SERVER_TOKENS_FULL, /* Server: mpmd/VERSION */
        _SERVER_TOKENS_MAX,
} ServerTokens;

typedef struct HttpSiteConfig {
        char *server_name;
        char **server_alias; /* exact names and wildcards like *.example.org */
        char *document_root;
        char **directory_index;
        bool directory_slash;
        char *default_type;
        char **add_type;    /* pairs: "TYPE EXT [EXT …]" per occurrence, stored as words */
        char **custom_log;  /* PATH FORMAT-NAME-OR-STRING */
        char *error_log;    /* "stderr" or a path */

        bool keep_alive;
        usec_t keep_alive_timeout;
        uint32_t max_keep_alive_requests; /* 0: unlimited */
        usec_t timeout;                   /* TimeOut: sends and body reads */
        uint32_t min_send_rate;           /* MinSendRate: bytes/s a client must take a response at */
        char *request_read_timeout;       /* RequestReadTimeout, parsed by http_server_add_site() */
        uint32_t limit_request_line;
        uint32_t limit_request_field_size;
        uint32_t limit_request_fields;
        uint64_t limit_request_body; /* 0: unlimited */
        uint32_t max_ranges;
        int server_tokens; /* ServerTokens */
        bool trace_enable;
        char *server_status; /* path of the status page, NULL: off */
        char **server_status_allow;
        char **script_alias; /* ScriptAlias: pairs "URL-PATH DIRECTORY" as words (cgi.h checks them) */
        char **add_handler;  /* AddHandler: "cgi-script" then extensions, as words (cgi.h checks them) */
        usec_t cgi_timeout;  /* CGITimeout: a CGI program's whole run */
} HttpSiteConfig;

extern const ConfItem http_site_directives[];
