/* SPDX-License-Identifier: MIT */
/* access.h — access control and Basic authentication: Require, AuthType, AuthName, AuthUserFile
 * (Apache's mod_authz_core, mod_authz_host, mod_authz_user, mod_auth_basic and mod_authn_file
 * names), as the configuration gives them, and the router's step that applies them.
 *
 * Contract:
 * - Every key may be written in [Server], [VirtualHost] and path sections; the nearest section that
 *   sets one replaces what it would inherit (Apache's rule for these keys; a section's Require
 *   lines replace the wider section's entirely). Several Require lines in one section: any of them
 *   grants (Apache's implicit RequireAny). No Require: all granted.
 * - The values are parsed once at load (networks into binary form). Require valid-user or user
 *   needs AuthType Basic and an AuthUserFile: the Require row's check says so with its file:line.
 * - The AuthUserFile's table (htpasswd.h) is not a row's value: it is loaded when the generation is
 *   built (src/supervisor/auth-files.c, as the site's user for a perchild site's own file), into
 *   each config that names a file (a site's and each of its path sections'); copying a config
 *   never copies it, and freeing the config frees (and wipes) it.
 * - http_access_check() is step 3 of http_request_route(): after Redirect, before the status page,
 *   CGI and static files. It answers 403 (denied) or 401 with WWW-Authenticate (credentials could
 *   help and were missing or wrong), and logs a failed attempt in Apache's words (AH01617, AH01618,
 *   AH01614, AH01630), which fail2ban's apache-auth filter knows. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "http/htpasswd.h"
#include "http/netmask.h"
#include "shared/conf-table.h"

typedef enum HttpRequireKind {
        HTTP_REQUIRE_ALL_GRANTED,
        HTTP_REQUIRE_ALL_DENIED,
        HTTP_REQUIRE_IP,
        HTTP_REQUIRE_VALID_USER,
        HTTP_REQUIRE_USER,
} HttpRequireKind;

/* One Require line. */
typedef struct HttpRequireLine {
        HttpRequireKind kind;
        HttpNetmask *nets; /* HTTP_REQUIRE_IP */
        size_t n_nets;
        char **users; /* HTTP_REQUIRE_USER: NULL-terminated */
        char *file;   /* where it was written ("" when not from a file) */
        unsigned line;
} HttpRequireLine;

/* A section's Require lines; n == 0: all granted. */
typedef struct HttpRequire {
        HttpRequireLine *lines;
        size_t n;
} HttpRequire;

typedef enum HttpAuthType {
        HTTP_AUTH_NONE,
        HTTP_AUTH_BASIC,
} HttpAuthType;

/* AuthUserFile: the path as written and, once the generation is built, its parsed table. */
typedef struct HttpAuthUserFile {
        char *path; /* absolute; NULL: none */
        char *file; /* where the key was written */
        unsigned line;
        HttpHtpasswdTable *table; /* not part of the value: loaded later, never copied */
} HttpAuthUserFile;

typedef struct HttpAccessConfig {
        HttpRequire require;
        int auth_type;   /* HttpAuthType */
        char *auth_name; /* the realm, quotes removed; NULL: none given */
        HttpAuthUserFile user_file;
} HttpAccessConfig;

/* Add one Require line's value to r (replace: empty it first). 0, -EINVAL with *ret_error
 * (malloc'd), -ENOMEM; r unchanged on error. */
int http_require_add(HttpRequire *r, const char *value, bool replace, const char *file, unsigned line,
                     char **ret_error);
void http_require_done(HttpRequire *r);

/* Does any line of r name users (valid-user, user)? Then it needs authentication. */
bool http_require_wants_user(const HttpRequire *r);

/* The verdict of r for a client at peer, authenticated as user (NULL: no verified credentials). */
typedef enum HttpAccessVerdict {
        HTTP_ACCESS_GRANTED,
        HTTP_ACCESS_DENIED,       /* 403 */
        HTTP_ACCESS_UNAUTHORIZED, /* 401: a user line could grant with other credentials */
} HttpAccessVerdict;
HttpAccessVerdict http_require_evaluate(const HttpRequire *r, const char *peer, const char *user);

/* An Authorization field's value "Basic BASE64(user:password)" decoded into buf (size bytes) as
 * "user\0password\0": 0 with *ret_user and *ret_password pointing into buf; -EPROTONOSUPPORT for
 * another scheme; -EINVAL for a value that is not well-formed Basic (bad base64, no colon, a NUL or
 * control byte in the user); -E2BIG when it does not fit. */
int http_basic_credentials_parse(const char *value, size_t len, char *buf, size_t size, const char **ret_user,
                                 const char **ret_password);

/* Drop (wipe and free) the user tables of cfg and of its path sections' configs: perchild's pools
 * do it for the sites they do not serve, so that no pool holds another site's password hashes. */
struct HttpSiteConfig;
void http_access_forget_tables(const struct HttpSiteConfig *cfg);

struct HttpRequest;
struct HttpResponse;
/* Step 3 of the router: true when resp holds the answer (403 or 401); false to go on, with q->user
 * the verified user when a user condition granted it ("" otherwise). */
bool http_access_check(struct HttpRequest *q, struct HttpResponse *resp);

/* The rows' callbacks, for HTTP_ACCESS_ROWS. */
int http_access_parse_require(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                              char **ret_error);
int http_access_check_require(const ConfItem *item, const void *field, char **ret_error);
char *http_access_format_require(const ConfItem *item, const void *field);
int http_access_copy_require(const ConfItem *item, void *dst, const void *src);
void http_access_done_require(const ConfItem *item, void *field);
int http_access_parse_auth_name(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                char **ret_error);
char *http_access_format_auth_name(const ConfItem *item, const void *field);
int http_access_copy_auth_name(const ConfItem *item, void *dst, const void *src);
void http_access_done_auth_name(const ConfItem *item, void *field);
int http_access_parse_user_file(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                char **ret_error);
char *http_access_format_user_file(const ConfItem *item, const void *field);
int http_access_copy_user_file(const ConfItem *item, void *dst, const void *src);
void http_access_done_user_file(const ConfItem *item, void *field);

extern const char *const http_auth_type_names[];

/* The rows, for the table of the struct that holds an HttpAccessConfig at offset base
 * (site-config.c: HTTP_ACCESS_ROWS(SITE(access))). */
#define HTTP_ACCESS_AT(base, field) ((base) + offsetof(HttpAccessConfig, field))
#define HTTP_ACCESS_ROWS(base)                                                                                    \
        { "Require", CONF_CUSTOM, HTTP_ACCESS_AT(base, require), NULL, .flags = CONF_LIST,                         \
          .contexts = HTTP_SITE_CTX_PATH, .parse = http_access_parse_require, .check = http_access_check_require,  \
          .format = http_access_format_require, .copy = http_access_copy_require, .done = http_access_done_require, \
          .size = sizeof(HttpRequire),                                                                             \
          .expect = "all granted, all denied, ip ADDRESS|NETWORK…, valid-user or user NAME…" },                   \
        { "AuthType", CONF_ENUM, HTTP_ACCESS_AT(base, auth_type), "None", .names = http_auth_type_names,           \
          .contexts = HTTP_SITE_CTX_PATH, .expect = "Basic or None" },                                             \
        { "AuthName", CONF_CUSTOM, HTTP_ACCESS_AT(base, auth_name), NULL, .contexts = HTTP_SITE_CTX_PATH,          \
          .parse = http_access_parse_auth_name, .format = http_access_format_auth_name,                            \
          .copy = http_access_copy_auth_name, .done = http_access_done_auth_name, .size = sizeof(char *),          \
          .expect = "a realm, such as \"Administration\"" },                                                       \
        { "AuthUserFile", CONF_CUSTOM, HTTP_ACCESS_AT(base, user_file), NULL, .contexts = HTTP_SITE_CTX_PATH,      \
          .parse = http_access_parse_user_file, .format = http_access_format_user_file,                            \
          .copy = http_access_copy_user_file, .done = http_access_done_user_file,                                  \
          .size = sizeof(HttpAuthUserFile), .expect = "the absolute path of an htpasswd file (htpasswd -B)" }
