/* SPDX-License-Identifier: MIT */
/* headers.h — the response header fields a configuration adds, changes or removes: Header (Apache's
 * mod_headers) and ExpiresActive/ExpiresDefault/ExpiresByType (mod_expires).
 *
 * Every line is parsed once, at load, into an HttpHeaderEdit or an HttpExpiry: the engine applies
 * them to a block of "Name: value\r\n" lines (an HttpResponse's header lines, or the lines a CGI
 * exchange makes of a program's head) without parsing the configuration again. Header lines
 * accumulate from the widest section to the narrowest ([Server], then the virtual host, then its
 * path sections, each section's own lines after those it inherits) and are applied in that order;
 * ExpiresByType accumulates by type (a narrower section's line for a type replaces the wider
 * one's); ExpiresActive and ExpiresDefault are the nearest section's.
 *
 * Order of application (as Apache, where mod_expires' filter runs before mod_headers'): expiry
 * first, then the Header lines, so that a Header line can still change what the expiry wrote.
 * Without "always" a Header line applies to responses that are not errors (below 400); with it, to
 * errors too. Fields the connection owns (framing, Connection, Date, Server) cannot be named.
 * Nothing here allocates or logs while a response is edited. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shared/conf-table.h"

typedef enum HttpHeaderAction {
        HTTP_HEADER_SET,        /* replace every line of NAME with one */
        HTTP_HEADER_APPEND,     /* add ", VALUE" to the existing value, or a new line */
        HTTP_HEADER_ADD,        /* a new line, even when NAME is there */
        HTTP_HEADER_MERGE,      /* as append, unless VALUE is already one of the comma-separated values */
        HTTP_HEADER_SETIFEMPTY, /* a new line only when NAME is absent */
        HTTP_HEADER_UNSET,      /* remove every line of NAME */
        _HTTP_HEADER_ACTION_MAX,
} HttpHeaderAction;

typedef struct HttpHeaderEdit {
        HttpHeaderAction action;
        bool always; /* also on error responses (4xx, 5xx) */
        char *name;  /* a token */
        size_t name_len;
        char *value; /* no CR, LF or other control bytes but HTAB; NULL for unset */
        size_t value_len;
} HttpHeaderEdit;

/* Header: every line in the order it applies. */
typedef struct HttpHeaderEdits {
        HttpHeaderEdit *items;
        size_t n;
} HttpHeaderEdits;

/* One expiry: "access plus 1 month" (base now) or "modification plus 2 hours" (base the
 * response's Last-Modified). */
typedef struct HttpExpiry {
        bool set;
        bool modification;
        uint64_t seconds;
} HttpExpiry;

typedef struct HttpExpiresType {
        char *type; /* lower case, "major/minor", or "major/" and a star */
        HttpExpiry expiry;
} HttpExpiresType;

typedef struct HttpExpiresByType {
        HttpExpiresType *items;
        size_t n;
} HttpExpiresByType;

typedef struct HttpHeadersConfig {
        HttpHeaderEdits header;         /* Header */
        bool expires_active;            /* ExpiresActive */
        HttpExpiry expires_default;     /* ExpiresDefault; set false: none */
        HttpExpiresByType expires_type; /* ExpiresByType */
} HttpHeadersConfig;

/* Parse one Header value: "[always|onsuccess] ACTION NAME [VALUE]". VALUE is the rest of the line,
 * or a double-quoted string (the quotes removed, \" and \\ inside unescaped). 0, -EINVAL with
 * *ret_error (malloc'd), or -ENOMEM. *ret is owned by the caller on success. */
int http_header_edit_parse(const char *s, HttpHeaderEdit *ret, char **ret_error);
void http_header_edit_done(HttpHeaderEdit *e);

/* Parse an expiry: "access|now|modification [plus] N UNIT [N UNIT …]" (units years, months,
 * weeks, days, hours, minutes, seconds, singular or plural; a month is 30 days, a year 365, as
 * Apache) or Apache's short form "A3600"/"M3600". Surrounding double quotes are removed. */
int http_expiry_parse(const char *s, HttpExpiry *ret, char **ret_error);

/* The longest a block of header lines can grow under h's Header lines and expiry (for a buffer
 * sized beforehand, such as the CGI exchange's). */
size_t http_headers_growth_max(const HttpHeadersConfig *h);

/* Apply h to the header lines buf[0..*len) ("Name: value\r\n" each) of a response with status,
 * whose request came at now; the lines may grow up to size bytes. error: the response is an error
 * (only "always" lines apply), as the handler or engine decided it before any ErrorDocument.
 * Returns 0, or -ENOBUFS when the lines would not fit (buf is then unchanged up to where the
 * failing edit started: the caller answers 500). */
int http_headers_apply(const HttpHeadersConfig *h, int status, bool error, time_t now, const char *media_type,
                       char *buf, size_t *len, size_t size);

/* Remove every line of name from buf[0..*len). */
void http_header_lines_remove(char *buf, size_t *len, const char *name, size_t name_len);
/* The value of the first line of name (surrounding whitespace excluded), or NULL. */
const char *http_header_lines_get(const char *buf, size_t len, const char *name, size_t name_len,
                                  size_t *ret_len);

/* The rows' callbacks, for HTTP_HEADERS_ROWS. */
int http_headers_parse_header(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                              char **ret_error);
char *http_headers_format_header(const ConfItem *item, const void *field);
int http_headers_copy_header(const ConfItem *item, void *dst, const void *src);
void http_headers_done_header(const ConfItem *item, void *field);
int http_headers_merge_header(const ConfItem *item, void *field, const void *parent);
int http_headers_parse_expiry(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                              char **ret_error);
char *http_headers_format_expiry(const ConfItem *item, const void *field);
int http_headers_parse_by_type(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                               char **ret_error);
char *http_headers_format_by_type(const ConfItem *item, const void *field);
int http_headers_copy_by_type(const ConfItem *item, void *dst, const void *src);
void http_headers_done_by_type(const ConfItem *item, void *field);
int http_headers_merge_by_type(const ConfItem *item, void *field, const void *parent);

/* The rows of Header and the Expires* keys, for the table of the struct that holds an
 * HttpHeadersConfig at offset base (site-config.c). contexts: where they may be written. */
#define HTTP_HEADERS_AT(base, field) ((base) + offsetof(HttpHeadersConfig, field))
#define HTTP_HEADERS_ROWS(base, ctx)                                                                             \
        { "Header", CONF_CUSTOM, HTTP_HEADERS_AT(base, header), NULL,                                           \
          .flags = CONF_LIST | CONF_LIST_APPEND_INHERITED, .contexts = (ctx),                                   \
          .parse = http_headers_parse_header, .format = http_headers_format_header,                             \
          .copy = http_headers_copy_header, .done = http_headers_done_header,                                   \
          .merge = http_headers_merge_header, .size = sizeof(HttpHeaderEdits),                                  \
          .expect = "[always] set|append|add|merge|setifempty|unset NAME [VALUE]" },                            \
        { "ExpiresActive", CONF_BOOL, HTTP_HEADERS_AT(base, expires_active), "Off", .contexts = (ctx),            \
          .expect = "On or Off" },                                                                              \
        { "ExpiresDefault", CONF_CUSTOM, HTTP_HEADERS_AT(base, expires_default), NULL, .contexts = (ctx),        \
          .parse = http_headers_parse_expiry, .format = http_headers_format_expiry, .size = sizeof(HttpExpiry), \
          .expect = "\"access plus N units\" or \"modification plus N units\"" },                               \
        { "ExpiresByType", CONF_CUSTOM, HTTP_HEADERS_AT(base, expires_type), NULL,                               \
          .flags = CONF_LIST | CONF_LIST_APPEND_INHERITED, .contexts = (ctx),                                   \
          .parse = http_headers_parse_by_type, .format = http_headers_format_by_type,                           \
          .copy = http_headers_copy_by_type, .done = http_headers_done_by_type,                                 \
          .merge = http_headers_merge_by_type, .size = sizeof(HttpExpiresByType),                               \
          .expect = "a media type and \"access plus N units\"" }
