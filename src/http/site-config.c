/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/cgi.h"
#include "http/server-logs.h"
#include "http/site-config.h"
#include "shared/strv.h"

/* ---- RequestReadTimeout ------------------------------------------------------------------- */

#define READ_TIMEOUT_MAX_SEC 86400

/* "N" or "N-M" seconds, then nothing or ",MinRate=R". */
static int read_timeout_stage_parse(const char *v, HttpReadTimeoutStage *ret, const char **ret_error) {
        _cleanup_free_ char *copy = strdup(v);
        HttpReadTimeoutStage st = {};
        uint64_t t, m = 0, rate = 0;
        char *comma, *dash;

        if (!copy)
                return -ENOMEM;
        comma = strchr(copy, ',');
        if (comma) {
                *comma++ = 0;
                if (strncasecmp(comma, "MinRate=", 8) != 0 || parse_uint64(comma + 8, &rate) < 0 ||
                    rate > UINT32_MAX) {
                        *ret_error = "RequestReadTimeout: expected \",MinRate=BYTES-PER-SECOND\" after a stage's timeout";
                        return -EINVAL;
                }
                if (rate == 0) {
                        *ret_error = "RequestReadTimeout: MinRate must be larger than 0";
                        return -EINVAL;
                }
        }
        dash = strchr(copy, '-');
        if (dash)
                *dash++ = 0;
        if (parse_uint64(copy, &t) < 0 || t > READ_TIMEOUT_MAX_SEC || (dash && (parse_uint64(dash, &m) < 0 ||
                                                                               m > READ_TIMEOUT_MAX_SEC))) {
                *ret_error = "RequestReadTimeout: a stage's timeout must be seconds (0 to 86400) or a range such as 20-40";
                return -EINVAL;
        }
        if (dash && m <= t) {
                *ret_error = "RequestReadTimeout: a stage's maximum must be larger than its timeout";
                return -EINVAL;
        }
        if (dash && rate == 0) {
                *ret_error = "RequestReadTimeout: a timeout range needs MinRate";
                return -EINVAL;
        }
        if (t > 0)
                st = (HttpReadTimeoutStage) {
                        .timeout = t * USEC_PER_SEC,
                        .max = m * USEC_PER_SEC,
                        .min_rate = (uint32_t) rate,
                };
        *ret = st;
        return 0;
}

static int read_timeout_words_parse(const char *s, HttpReadTimeout *rt, const char **ret_error) {
        _cleanup_free_ char *copy = strdup(s);
        char *save = NULL;
        int r;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                HttpReadTimeoutStage *st;
                if (strncasecmp(w, "header=", 7) == 0)
                        st = &rt->header;
                else if (strncasecmp(w, "body=", 5) == 0)
                        st = &rt->body;
                else if (strncasecmp(w, "handshake=", 10) == 0) {
                        *ret_error = "RequestReadTimeout: handshake= is not supported (mpmd has no TLS)";
                        return -EINVAL;
                } else {
                        *ret_error = "RequestReadTimeout: expected header=N[-M][,MinRate=R] and/or body=N[-M][,MinRate=R]";
                        return -EINVAL;
                }
                r = read_timeout_stage_parse(strchr(w, '=') + 1, st, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int http_read_timeout_parse(const char *s, HttpReadTimeout *ret, const char **ret_error) {
        HttpReadTimeout rt;
        int r;

        r = read_timeout_words_parse(HTTP_READ_TIMEOUT_DEFAULT, &rt, ret_error);
        if (r < 0)
                return r;
        if (s) {
                r = read_timeout_words_parse(s, &rt, ret_error);
                if (r < 0)
                        return r;
        }
        *ret = rt;
        return 0;
}

static int parse_read_timeout(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                              char **ret_error) {
        const char *why = NULL, *prefix = "RequestReadTimeout: ";
        HttpReadTimeout rt;
        int r;

        r = http_read_timeout_parse(value, &rt, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* The loader's message names the key already. */
                if (why && strncmp(why, prefix, strlen(prefix)) == 0)
                        why += strlen(prefix);
                *ret_error = strdup(why ? why : "invalid");
                return *ret_error ? -EINVAL : -ENOMEM;
        }
        memcpy(field, &rt, sizeof(rt));
        return 0;
}

static int format_stage(char **s, const char *name, const HttpReadTimeoutStage *st) {
        if (st->timeout == 0)
                return asprintf(s, "%s=0", name);
        if (st->max > 0)
                return asprintf(s, "%s=%llu-%llu,MinRate=%u", name, st->timeout / USEC_PER_SEC,
                                st->max / USEC_PER_SEC, st->min_rate);
        if (st->min_rate > 0)
                return asprintf(s, "%s=%llu,MinRate=%u", name, st->timeout / USEC_PER_SEC, st->min_rate);
        return asprintf(s, "%s=%llu", name, st->timeout / USEC_PER_SEC);
}

static char *format_read_timeout(const ConfItem *item, const void *field) {
        _cleanup_free_ char *header = NULL, *body = NULL;
        HttpReadTimeout rt;
        char *s;

        memcpy(&rt, field, sizeof(rt));
        if (format_stage(&header, "header", &rt.header) < 0 || format_stage(&body, "body", &rt.body) < 0 ||
            asprintf(&s, "%s %s", header, body) < 0)
                return NULL;
        return s;
}

/* ---- ScriptAlias, AddHandler, CustomLog: judged line by line ------------------------------ */

static bool is_blank(const char *s) {
        return s[strspn(s, " \t")] == '\0';
}

/* The list a line would make: the words so far (unless the line replaces them) and its own. */
static char **list_with_line(char *const *so_far, const char *value, bool replace) {
        char **l = replace || !so_far ? NULL : strv_copy(so_far);
        _cleanup_free_ char *copy = strdup(value);
        char *save = NULL;

        if ((!replace && so_far && !l) || !copy) {
                strv_free(l);
                return NULL;
        }
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
                if (strv_push(&l, w) < 0) {
                        strv_free(l);
                        return NULL;
                }
        if (!l) /* not reached for a blank value; keeps "NULL is -ENOMEM" true */
                l = calloc(1, sizeof(char *));
        return l;
}

/* The checkers' texts start with the key ("ScriptAlias: …", "ScriptAlias /x/ …"); the loader's
 * message names it already. */
static int strip_key(const char *key, int r, char **why) {
        size_t n = strlen(key), skip;

        if (r >= 0 || !*why || strncmp(*why, key, n) != 0)
                return r;
        skip = (*why)[n] == ':' && (*why)[n + 1] == ' ' ? n + 2 : (*why)[n] == ' ' ? n + 1 : 0;
        if (skip > 0)
                memmove(*why, *why + skip, strlen(*why + skip) + 1);
        return r;
}

/* ScriptAlias URL-PATH DIRECTORY (several pairs when continued over lines): the URL paths and
 * directories well formed, no URL path given twice for the site. */
static int parse_script_alias(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                              char **ret_error) {
        HttpSiteConfig cfg;
        int r;

        if (is_blank(value))
                return 0; /* an empty list: no aliases (a site's way to drop [Server]'s) */
        cfg = (HttpSiteConfig) { .script_alias = list_with_line(*(char ***) field, value, ctx->replace_list) };
        if (!cfg.script_alias)
                return -ENOMEM;
        r = strip_key("ScriptAlias", cgi_script_alias_check(&cfg, ret_error), ret_error);
        strv_free(cfg.script_alias);
        return r;
}

/* AddHandler cgi-script .EXT…: each line names the handler and its extensions (Apache's syntax). */
static int parse_add_handler(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                             char **ret_error) {
        HttpSiteConfig cfg;
        int r;

        if (is_blank(value))
                return 0; /* an empty list: no handler */
        cfg = (HttpSiteConfig) { .add_handler = list_with_line(NULL, value, true) };
        if (!cfg.add_handler)
                return -ENOMEM;
        r = strip_key("AddHandler", cgi_add_handler_check(&cfg, ret_error), ret_error);
        strv_free(cfg.add_handler);
        return r;
}

/* CustomLog PATH FORMAT: an absolute path and a format that compiles (the file is opened when a
 * generation starts). */
static int parse_custom_log(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                            char **ret_error) {
        HttpSiteConfig cfg;
        int r;

        if (is_blank(value))
                return 0; /* an empty list: the site does not log (it would inherit [Server]'s) */
        cfg = (HttpSiteConfig) { .custom_log = list_with_line(*(char ***) field, value, ctx->replace_list) };
        if (!cfg.custom_log)
                return -ENOMEM;
        r = strip_key("CustomLog", http_site_log_check(&cfg, ret_error), ret_error);
        strv_free(cfg.custom_log);
        return r;
}

/* ---- the table ---------------------------------------------------------------------------- */

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
        { "AddType", CONF_LINES, SITE(add_type), NULL, .flags = CONF_LIST_APPEND_INHERITED,
          .expect = "a media type and extensions" },
        { "CustomLog", CONF_STRV, SITE(custom_log), NULL, .flags = CONF_LIST_REPLACE, .parse = parse_custom_log,
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
        { "RequestReadTimeout", CONF_CUSTOM, SITE(read_timeout), HTTP_READ_TIMEOUT_DEFAULT, .parse = parse_read_timeout,
          .format = format_read_timeout, .size = sizeof(HttpReadTimeout),
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
        { "ScriptAlias", CONF_STRV, SITE(script_alias), NULL, .parse = parse_script_alias,
          .expect = "a URL path starting and ending with '/' and an absolute directory" },
        { "AddHandler", CONF_STRV, SITE(add_handler), NULL, .parse = parse_add_handler,
          .expect = "cgi-script and the file extensions that run as CGI programs, such as .cgi" },
        { "CGITimeout", CONF_USEC, SITE(cgi_timeout), "60", 1 * USEC_PER_SEC, 86400 * USEC_PER_SEC,
          .expect = "a time from 1 s to 86400 s" },
        CONF_TABLE_END,
};
