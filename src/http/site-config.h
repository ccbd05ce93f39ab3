/* SPDX-License-Identifier: MIT */
/* site-config.h — the directives of one site (the main server or a [VirtualHost]) that the HTTP
 * engine acts on, and their table. The engine owns these keys: the loader applies them from
 * [Server] and from each [VirtualHost NAME]; a virtual host inherits every key it does not set
 * from [Server] (Apache's rule). Names, defaults and bounds are Apache httpd's.
 *
 * Every value is parsed here, once, by its row: ScriptAlias, AddHandler and CustomLog are judged
 * line by line as they are read (with the file:line of the line at fault), RequestReadTimeout is
 * parsed into its stages. What the engine reads afterwards needs no further checking. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "shared/conf-table.h"

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

typedef struct HttpSiteConfig {
        char *server_name;
        char **server_alias; /* exact names and wildcards like *.example.org */
        char *document_root;
        char **directory_index;
        bool directory_slash;
        char *default_type;
        ConfLines add_type; /* AddType: "TYPE EXT [EXT …]", one line each; a vhost's add to [Server]'s */
        char **custom_log;  /* PATH FORMAT-NAME-OR-STRING, as words (checked: the format compiles) */
        char *error_log;    /* "stderr" or a path */

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
        char **script_alias; /* ScriptAlias: pairs "URL-PATH DIRECTORY" as words, checked (cgi.h) */
        char **add_handler;  /* AddHandler: "cgi-script" then extensions, as words, checked (cgi.h) */
        usec_t cgi_timeout;  /* CGITimeout: a CGI program's whole run */
} HttpSiteConfig;

extern const ConfItem http_site_directives[];

/* Parse a RequestReadTimeout value (Apache's syntax: "header=N[-M][,MinRate=R] body=…", seconds,
 * 0 turns a stage off; a stage not named keeps its default). Returns 0, or -EINVAL and sets
 * *ret_error to a static sentence saying what is wrong. */
int http_read_timeout_parse(const char *s, HttpReadTimeout *ret, const char **ret_error);
