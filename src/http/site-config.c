/* SPDX-License-Identifier: MIT */
#include <stddef.h>

#include "site-config.h"

static const char *const server_tokens_names[] = { "Prod", "Full", NULL };

#define SITE(field) offsetof(HttpSiteConfig, field)

const ConfItem http_site_directives[] = {
        { "ServerName", CONF_STRING, SITE(server_name), NULL, .expect = "a host name" },
        { "ServerAlias", CONF_STRV, SITE(server_alias), NULL, .expect = "host names, *.wildcards allowed" },
        { "DocumentRoot", CONF_PATH, SITE(document_root), NULL, .expect = "an absolute path to a directory" },
        { "DirectoryIndex", CONF_STRV, SITE(directory_index), "index.html", .flags = CONF_LIST_REPLACE,
          .expect = "file names" },
        { "DirectorySlash", CONF_BOOL, SITE(directory_slash), "On", .expect = "On or Off" },
        { "DefaultType", CONF_STRING, SITE(default_type), "application/octet-stream", .expect = "a media type" },
        { "AddType", CONF_STRV, SITE(add_type), NULL, .expect = "a media type and extensions" },
        { "CustomLog", CONF_STRV, SITE(custom_log), NULL, .flags = CONF_LIST_REPLACE,
          .expect = "a path and a format (common, combined, vhost_combined or a %-format)" },
        { "ErrorLog", CONF_STRING, SITE(error_log), "stderr", .expect = "stderr or an absolute path" },
        { "KeepAlive", CONF_BOOL, SITE(keep_alive), "On", .expect = "On or Off" },
        { "KeepAliveTimeout", CONF_USEC, SITE(keep_alive_timeout), "5", 1 * USEC_PER_MSEC, 3600 * USEC_PER_SEC,
          .expect = "a time from 1ms to 3600 s" },
        { "MaxKeepAliveRequests", CONF_UINT, SITE(max_keep_alive_requests), "100", 0, 1000000,
          .expect = "a number from 0 (unlimited) to 1000000" },
        { "TimeOut", CONF_USEC, SITE(timeout), "60", 1 * USEC_PER_SEC, 3600 * USEC_PER_SEC,
          .expect = "a time from 1 to 3600 s" },
        { "MinSendRate", CONF_UINT, SITE(min_send_rate), "500", 0, 1u << 30,
          .expect = "bytes per second the client must take a response at, 0 for no minimum" },
        { "RequestReadTimeout", CONF_STRING, SITE(request_read_timeout), "header=20-40,MinRate=500 body=20,MinRate=500",
          .expect = "header=N[-M][,MinRate=R] body=N[-M][,MinRate=R] (seconds; 0 turns a stage off)" },
        { "LimitRequestLine", CONF_UINT, SITE(limit_request_line), "8190", 64, 65536,
          .expect = "a number of bytes from 64 to 65536" },
        { "LimitRequestFieldSize", CONF_UINT, SITE(limit_request_field_size), "8190", 64, 65536,
          .expect = "a number of bytes from 64 to 65536" },
        { "LimitRequestFields", CONF_UINT, SITE(limit_request_fields), "100", 1, 32767,
          .expect = "a number from 1 to 32767" },
        { "LimitRequestBody", CONF_SIZE, SITE(limit_request_body), "1G", 0, UINT64_C(1) << 62,
          .expect = "a size in bytes (K, M, G suffixes), 0 for unlimited" },
        { "MaxRanges", CONF_UINT, SITE(max_ranges), "200", 0, 10000, .expect = "a number from 0 to 10000" },
        { "ServerTokens", CONF_ENUM, SITE(server_tokens), "Prod", .names = server_tokens_names,
          .expect = "Prod or Full" },
        { "TraceEnable", CONF_BOOL, SITE(trace_enable), "Off", .expect = "On or Off" },
        { "ServerStatus", CONF_STRING, SITE(server_status), NULL, .expect = "a path such as /server-status" },
        { "ServerStatusAllow", CONF_STRV, SITE(server_status_allow), "127.0.0.0/8 ::1", .flags = CONF_LIST_REPLACE,
          .expect = "addresses or networks (ADDR/BITS)" },
        { "ScriptAlias", CONF_STRV, SITE(script_alias), NULL,
          .expect = "a URL path starting and ending with '/' and an absolute directory" },
        { "AddHandler", CONF_STRV, SITE(add_handler), NULL,
          .expect = "cgi-script and the file extensions that run as CGI programs, such as .cgi" },
        { "CGITimeout", CONF_USEC, SITE(cgi_timeout), "60", 1 * USEC_PER_SEC, 86400 * USEC_PER_SEC,
          .expect = "a time from 1 s to 86400 s" },
        CONF_TABLE_END,
};
