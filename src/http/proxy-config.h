/* SPDX-License-Identifier: MIT */
/* proxy-config.h — the reverse proxy's directives (Apache's mod_proxy names): which URL prefixes
 * go to which upstream, and how the request and the answer are rewritten on the way.
 *
 *   ProxyPass = PREFIX URL [key=value …]   PREFIX (normalised, Apache's <Location> rule) goes to URL
 *                                          (upstream.h: http://HOST:PORT/PATH, unix:/PATH|http://NAME/PATH),
 *                                          the rest of the path appended to URL's path; several lines,
 *                                          the longest prefix wins; "ProxyPass = PREFIX !" keeps a
 *                                          prefix out (served here).
 *   ProxyPassReverse = PREFIX URL          a Location / Content-Location / URI header starting with URL
 *                                          gets PREFIX instead (made absolute with the request's
 *                                          scheme and Host).
 *   ProxyPreserveHost = On|Off             the client's Host goes upstream (Off: URL's authority).
 *   ProxyTimeout = SECONDS                 waiting for the upstream (connect, send, answer); 0: TimeOut.
 *   ProxyAddHeaders = On|Off               X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto (On).
 *   ProxyAddForwarded = On|Off             RFC 7239 Forwarded: for=…;host=…;proto=… (Off).
 *
 * https:// targets (mod_ssl's SSLProxy* names; verified by default, unlike Apache and nginx, whose
 * default of no verification lets anyone on the path between mpmd and the upstream read it):
 *   SSLProxyVerify = require|none          the upstream's certificate must chain to a trusted CA (require).
 *   SSLProxyCACertificateFile = PATH       the CAs trusted (PEM, one or more); default: the system's
 *                                          (OpenSSL's default file, /etc/ssl/certs/ca-certificates.crt).
 *   SSLProxyCheckPeerName = On|Off         the certificate must name the URL's host (On), or under
 *                                          ProxyPreserveHost the client's Host, which is then the SNI too.
 *   SSLProxyMachineCertificateFile = PATH  the client certificate mpmd shows an upstream that asks for
 *                                          one: PEM, the certificate, its chain and its private key in
 *                                          one file (read and checked with the configuration).
 *
 * Every row is parsed once (targets resolved then); the router reads the result. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/conf-table.h"
#include "http/upstream.h"

typedef struct HttpProxyPass {
        char *prefix; /* normalised, starts with '/' */
        size_t prefix_len;
        bool exclude; /* "!" */
        HttpUpstreamTarget target; /* HTTP_UPSTREAM_HTTP; unset with exclude */
        char *file;
        unsigned line;
} HttpProxyPass;

/* A site's own lines first, then [Server]'s for prefixes it does not have itself. */
typedef struct HttpProxyPasses {
        HttpProxyPass *items;
        size_t n;
} HttpProxyPasses;

typedef struct HttpProxyReverse {
        char *prefix; /* starts with '/' */
        size_t prefix_len;
        char *url; /* what the upstream writes: "http://127.0.0.1:8000/app/" */
        size_t url_len;
} HttpProxyReverse;

typedef struct HttpProxyReverses {
        HttpProxyReverse *items;
        size_t n;
} HttpProxyReverses;

typedef struct HttpProxyConfig {
        HttpProxyPasses pass;
        HttpProxyReverses reverse;
        bool preserve_host;
        usec_t timeout; /* 0: the site's TimeOut */
        bool add_headers;
        bool add_forwarded;
        int tls_verify;       /* SSLProxyVerify: HTTP_PROXY_VERIFY_* */
        char *tls_ca_file;    /* SSLProxyCACertificateFile; NULL: the system's */
        bool tls_check_peer_name; /* SSLProxyCheckPeerName */
        ConfLines tls_client_cert; /* SSLProxyMachineCertificateFile: one line at most (its file:line
                                    * for the errors of its contents); none: no client certificate */
} HttpProxyConfig;

enum { HTTP_PROXY_VERIFY_REQUIRE, HTTP_PROXY_VERIFY_NONE };
extern const char *const http_proxy_verify_names[];

/* The ProxyPass whose prefix is the longest to match path (normalised); NULL when none does or
 * the longest is an exclusion. *ret_rest: what follows the prefix (starts with '/' unless empty). */
const HttpProxyPass *http_proxy_pass_match(const HttpProxyPasses *l, const char *path, size_t path_len,
                                           const char **ret_rest, size_t *ret_rest_len);

/* Rewrite a Location-like value by ProxyPassReverse into out (absolute with scheme and host).
 * Returns 1 rewritten (*ret_len), 0 when no line matches (keep the value), -ENAMETOOLONG. */
int http_proxy_reverse_rewrite(const HttpProxyReverses *l, const char *value, size_t value_len, const char *scheme,
                               const char *host, size_t host_len, char *out, size_t out_size, size_t *ret_len);

/* The upstream timeout of a request to t under cfg: t's timeout=, else ProxyTimeout, else TimeOut. */
usec_t http_proxy_timeout(const HttpProxyConfig *cfg, const HttpUpstreamTarget *t, usec_t site_timeout);

int http_proxy_parse_pass(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                          char **ret_error);
char *http_proxy_format_pass(const ConfItem *item, const void *field);
int http_proxy_copy_pass(const ConfItem *item, void *dst, const void *src);
void http_proxy_done_pass(const ConfItem *item, void *field);
int http_proxy_merge_pass(const ConfItem *item, void *field, const void *parent);
int http_proxy_parse_client_cert(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                 char **ret_error);
int http_proxy_parse_reverse(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                             char **ret_error);
char *http_proxy_format_reverse(const ConfItem *item, const void *field);
int http_proxy_copy_reverse(const ConfItem *item, void *dst, const void *src);
void http_proxy_done_reverse(const ConfItem *item, void *field);
int http_proxy_merge_reverse(const ConfItem *item, void *field, const void *parent);

/* The rows (HTTP_PROXY_ROWS(offsetof(HttpSiteConfig, proxy))): ProxyPass and ProxyPassReverse in
 * [Server], [VirtualHost] and path sections (a narrower section's lines first, then the ones it
 * inherits); the others wherever, the nearest section wins. */
#define HTTP_PROXY_AT(base, field) ((base) + offsetof(HttpProxyConfig, field))
#define HTTP_PROXY_ROWS(base)                                                                                    \
        { "ProxyPass", CONF_CUSTOM, HTTP_PROXY_AT(base, pass), NULL,                                            \
          .flags = CONF_LIST | CONF_LIST_APPEND_INHERITED, .contexts = HTTP_SITE_CTX_PATH,                     \
          .parse = http_proxy_parse_pass, .format = http_proxy_format_pass, .copy = http_proxy_copy_pass,      \
          .done = http_proxy_done_pass, .merge = http_proxy_merge_pass, .size = sizeof(HttpProxyPasses),        \
          .expect = "a URL prefix and http://HOST:PORT/PATH or unix:/PATH|http://NAME/PATH, then key=value "    \
                    "(max, ttl, timeout, connectiontimeout, disablereuse, upgrade=websocket); or the prefix "   \
                    "and !" },                                                                                    \
        { "ProxyPassReverse", CONF_CUSTOM, HTTP_PROXY_AT(base, reverse), NULL,                                  \
          .flags = CONF_LIST | CONF_LIST_APPEND_INHERITED, .contexts = HTTP_SITE_CTX_PATH,                     \
          .parse = http_proxy_parse_reverse, .format = http_proxy_format_reverse,                             \
          .copy = http_proxy_copy_reverse, .done = http_proxy_done_reverse, .merge = http_proxy_merge_reverse, \
          .size = sizeof(HttpProxyReverses), .expect = "a URL prefix and the upstream's URL it stands for" },  \
        { "ProxyPreserveHost", CONF_BOOL, HTTP_PROXY_AT(base, preserve_host), "Off", .expect = "On or Off",    \
          .contexts = HTTP_SITE_CTX_PATH },                                                                     \
        { "ProxyTimeout", CONF_USEC, HTTP_PROXY_AT(base, timeout), "0", 0, 86400 * USEC_PER_SEC,               \
          .expect = "a time up to 86400 s, 0 for TimeOut", .contexts = HTTP_SITE_CTX_PATH },                   \
        { "ProxyAddHeaders", CONF_BOOL, HTTP_PROXY_AT(base, add_headers), "On", .expect = "On or Off",         \
          .contexts = HTTP_SITE_CTX_PATH },                                                                     \
        { "ProxyAddForwarded", CONF_BOOL, HTTP_PROXY_AT(base, add_forwarded), "Off", .expect = "On or Off",    \
          .contexts = HTTP_SITE_CTX_PATH },                                                                     \
        { "SSLProxyVerify", CONF_ENUM, HTTP_PROXY_AT(base, tls_verify), "require",                            \
          .names = http_proxy_verify_names, .expect = "require or none", .contexts = HTTP_SITE_CTX_PATH },     \
        { "SSLProxyCACertificateFile", CONF_PATH, HTTP_PROXY_AT(base, tls_ca_file), NULL,                    \
          .expect = "an absolute path to PEM certificates", .contexts = HTTP_SITE_CTX_PATH },                  \
        { "SSLProxyCheckPeerName", CONF_BOOL, HTTP_PROXY_AT(base, tls_check_peer_name), "On",                \
          .expect = "On or Off", .contexts = HTTP_SITE_CTX_PATH },                                              \
        { "SSLProxyMachineCertificateFile", CONF_LINES, HTTP_PROXY_AT(base, tls_client_cert), NULL,          \
          .flags = CONF_LIST_REPLACE, .parse = http_proxy_parse_client_cert,                                   \
          .expect = "the absolute path of a PEM file: a certificate, its chain and its private key",           \
          .contexts = HTTP_SITE_CTX_PATH }

struct HttpSiteConfig;
/* The socket families (a bit set of 1u << AF_*) the upstreams of cfg and of its path sections need
 * (ProxyPass targets, FastCGI handlers); 0: none. The seccomp filter of a process allows connect()
 * and those families only when a site it serves has one. */
uint32_t http_site_upstream_families(const struct HttpSiteConfig *cfg);
