/* SPDX-License-Identifier: MIT */
/* tls-config.h — a site's HTTPS directives (Apache's mod_ssl names), as the configuration gives
 * them: paths, protocol versions, cipher lists and switches, each with where it was written. They
 * are part of HttpSiteConfig (site-config.h), so a [VirtualHost] inherits from [Server] every one it
 * does not set, as every other site key.
 *
 * This layer knows no OpenSSL: the rows (tls-config.c) check the form of a value (a path, a
 * protocol name, a credential name) as it is read; what only the library can judge (does the chain
 * parse, does the key match, is the cipher list known) is judged when the certificate store is
 * built from these (src/mpm/tls-store.h), at `mpmd -t`, at start and at each reload, with the
 * file:line kept here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/conf-table.h"

/* SSLProtocol's versions, as a mask. */
enum {
        HTTP_TLS_V1_0 = 1u << 0,
        HTTP_TLS_V1_1 = 1u << 1,
        HTTP_TLS_V1_2 = 1u << 2,
        HTTP_TLS_V1_3 = 1u << 3,
};

#define HTTP_TLS_CERTS_MAX 2 /* an ECDSA and an RSA certificate side by side */

typedef struct HttpTlsProtocols {
        unsigned mask; /* HTTP_TLS_V*: the versions offered */
        char *file;    /* where SSLProtocol was written; NULL: the default */
        unsigned line;
} HttpTlsProtocols;

/* SSLCipherSuite: a value starting "TLSv1.3 " sets the TLS 1.3 suites, any other the TLS 1.2 list
 * (Apache 2.4's form); each keeps where it was written, for the store's errors. */
typedef struct HttpTlsCiphers {
        char *tls12; /* OpenSSL cipher list for TLS ≤ 1.2 */
        char *tls13; /* OpenSSL ciphersuites for TLS 1.3 */
        char *tls12_file, *tls13_file; /* NULL: the default */
        unsigned tls12_line, tls13_line;
} HttpTlsCiphers;

/* SSLVerifyClient: whether the handshake asks for a client certificate and what it does with the
 * answer, as mod_ssl's levels. */
typedef enum HttpTlsVerifyMode {
        HTTP_TLS_VERIFY_NONE,           /* no certificate asked for */
        HTTP_TLS_VERIFY_OPTIONAL,       /* asked for; none is fine, one that fails verification is not */
        HTTP_TLS_VERIFY_REQUIRE,        /* asked for, and one that verifies is needed */
        HTTP_TLS_VERIFY_OPTIONAL_NO_CA, /* asked for; an unknown or self-signed issuer is let through */
        _HTTP_TLS_VERIFY_MAX,
} HttpTlsVerifyMode;

#define HTTP_TLS_VERIFY_DEPTH_MAX 100

typedef struct HttpTlsVerify {
        int mode;   /* HttpTlsVerifyMode */
        char *file; /* where SSLVerifyClient was written; NULL: the default */
        unsigned line;
} HttpTlsVerify;

typedef struct HttpTlsConfig {
        /* SSLCertificateFile and SSLCertificateKeyFile lines, paired in order: certificates.lines[i]
         * with keys.lines[i]. A certificate file holds the chain, leaf first; a key is a path or
         * "credential:NAME" ($CREDENTIALS_DIRECTORY/NAME, systemd's LoadCredential=). n == 0: the
         * site has no certificate (it cannot be reached over TLS). At most HTTP_TLS_CERTS_MAX. */
        ConfLines certificates;
        ConfLines keys;
        HttpTlsProtocols protocols; /* SSLProtocol, default TLSv1.2 TLSv1.3 */
        HttpTlsCiphers ciphers;     /* SSLCipherSuite, default Mozilla's "intermediate" lists */
        bool honor_cipher_order;    /* SSLHonorCipherOrder, default On (ChaCha20 kept for who prefers it) */
        bool session_tickets;       /* SSLSessionTickets, default On */
        usec_t ticket_lifetime;     /* SSLSessionTicketLifetime, default 3600 s */
        bool strict_sni;            /* SSLStrictSNIVHostCheck, default Off */
        /* Client certificates, per site (SNI chooses the site, whose context asks for one; a path
         * section cannot: that would need a renegotiation). ca_file: SSLCACertificateFile, one line
         * at most, a PEM bundle of the CAs whose client certificates are accepted (and whose names
         * the handshake sends). verify_depth: SSLVerifyDepth, Apache's count (1: the client's
         * certificate is issued by one of those CAs itself). */
        ConfLines ca_file;
        HttpTlsVerify verify;  /* SSLVerifyClient, default none */
        uint32_t verify_depth; /* SSLVerifyDepth, default 1 */
} HttpTlsConfig;

/* The credential prefix of SSLCertificateKeyFile. */
#define HTTP_TLS_CREDENTIAL_PREFIX "credential:"

/* The defaults: Mozilla's "intermediate" profile (TLS 1.2 and 1.3, forward-secret AEAD suites only,
 * the client's order), and OpenSSL's own TLS 1.3 suites. */
#define HTTP_TLS_PROTOCOLS_DEFAULT "TLSv1.2 TLSv1.3"
#define HTTP_TLS_CIPHERS_TLS12_DEFAULT                                                                  \
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"      \
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"        \
        "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define HTTP_TLS_CIPHERS_TLS13_DEFAULT "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

/* SSLProtocol in Apache's syntax: words "all", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", each
 * optionally prefixed with "+" (add) or "-" (remove), from an empty set, left to right. A word
 * without a prefix adds too ("TLSv1.2 TLSv1.3" is both; Apache would keep the last and warn).
 * "all" is TLS 1.2 and 1.3: TLS 1.0 and 1.1 only when named. SSLv2 and SSLv3 are refused, as an
 * empty set. 0 and *ret (file:line kept), -EINVAL with *ret_error (malloc'd), or -ENOMEM. */
int http_tls_protocols_parse(const char *value, const char *file, unsigned line, HttpTlsProtocols *ret,
                             char **ret_error);
void http_tls_protocols_done(HttpTlsProtocols *p);
/* "TLSv1.2 TLSv1.3": the versions of mask, lowest first; NULL on -ENOMEM. */
char *http_tls_protocols_format(unsigned mask);

/* SSLCipherSuite: "TLSv1.3 SUITES" sets tls13, "SSL LIST" or a bare LIST sets tls12. replace: start
 * from the defaults first (a section's first SSLCipherSuite line). 0, -EINVAL with *ret_error, or
 * -ENOMEM; c is unchanged on error. */
int http_tls_ciphers_set(HttpTlsCiphers *c, const char *value, bool replace, const char *file, unsigned line,
                         char **ret_error);
void http_tls_ciphers_done(HttpTlsCiphers *c);

/* "none", "optional", "require", "optional_no_ca" (any case): 0 and *ret (file:line kept), -EINVAL
 * with *ret_error, or -ENOMEM. */
int http_tls_verify_parse(const char *value, const char *file, unsigned line, HttpTlsVerify *ret, char **ret_error);
void http_tls_verify_done(HttpTlsVerify *v);
const char *http_tls_verify_mode_to_string(int mode);

/* The rows' callbacks, for HTTP_TLS_ROWS. */
int http_tls_parse_certificate(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                               char **ret_error);
int http_tls_parse_key(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                       char **ret_error);
int http_tls_parse_ca_file(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                           char **ret_error);
int http_tls_parse_verify(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                          char **ret_error);
char *http_tls_format_verify(const ConfItem *item, const void *field);
int http_tls_copy_verify(const ConfItem *item, void *dst, const void *src);
void http_tls_done_verify(const ConfItem *item, void *field);
int http_tls_parse_protocols(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                             char **ret_error);
char *http_tls_format_protocols(const ConfItem *item, const void *field);
int http_tls_copy_protocols(const ConfItem *item, void *dst, const void *src);
void http_tls_done_protocols(const ConfItem *item, void *field);
int http_tls_parse_ciphers(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                           char **ret_error);
char *http_tls_format_ciphers(const ConfItem *item, const void *field);
int http_tls_copy_ciphers(const ConfItem *item, void *dst, const void *src);
void http_tls_done_ciphers(const ConfItem *item, void *field);

/* The rows of the SSL* keys, for the table of the struct that holds an HttpTlsConfig at offset base
 * (site-config.c: HTTP_TLS_ROWS(offsetof(HttpSiteConfig, tls))). Written in [Server] and in each
 * [VirtualHost], which inherits what it does not set. The certificate lists of a later file replace
 * an earlier file's (they are pairs: adding to another file's would break them). */
#define HTTP_TLS_AT(base, field) ((base) + offsetof(HttpTlsConfig, field))
#define HTTP_TLS_ROWS(base)                                                                                     \
        { "SSLCertificateFile", CONF_LINES, HTTP_TLS_AT(base, certificates), NULL, .flags = CONF_LIST_REPLACE,    \
          .parse = http_tls_parse_certificate,                                                                  \
          .expect = "the absolute path of a PEM certificate chain, the leaf first (twice at most: ECDSA and RSA)" }, \
        { "SSLCertificateKeyFile", CONF_LINES, HTTP_TLS_AT(base, keys), NULL, .flags = CONF_LIST_REPLACE,         \
          .parse = http_tls_parse_key,                                                                          \
          .expect = "the absolute path of a PEM private key, or credential:NAME (twice at most)" },            \
        { "SSLProtocol", CONF_CUSTOM, HTTP_TLS_AT(base, protocols), HTTP_TLS_PROTOCOLS_DEFAULT,                  \
          .parse = http_tls_parse_protocols, .format = http_tls_format_protocols,                               \
          .copy = http_tls_copy_protocols, .done = http_tls_done_protocols, .size = sizeof(HttpTlsProtocols),    \
          .expect = "TLS versions such as \"TLSv1.2 TLSv1.3\", \"all\" or \"all -TLSv1.2\"" },                   \
        { "SSLCipherSuite", CONF_CUSTOM, HTTP_TLS_AT(base, ciphers), HTTP_TLS_CIPHERS_TLS12_DEFAULT,            \
          .flags = CONF_LIST, .parse = http_tls_parse_ciphers, .format = http_tls_format_ciphers,                \
          .copy = http_tls_copy_ciphers, .done = http_tls_done_ciphers, .size = sizeof(HttpTlsCiphers),          \
          .expect = "an OpenSSL cipher list (TLS 1.2), or \"TLSv1.3 \" and TLS 1.3 ciphersuites" },               \
        { "SSLHonorCipherOrder", CONF_BOOL, HTTP_TLS_AT(base, honor_cipher_order), "On", .expect = "On or Off" }, \
        { "SSLSessionTickets", CONF_BOOL, HTTP_TLS_AT(base, session_tickets), "On", .expect = "On or Off" },      \
        { "SSLSessionTicketLifetime", CONF_USEC, HTTP_TLS_AT(base, ticket_lifetime), "3600", 60 * USEC_PER_SEC,  \
          7 * 86400 * USEC_PER_SEC, .expect = "a time from 60 s to 7 days (604800 s)" },                        \
        { "SSLStrictSNIVHostCheck", CONF_BOOL, HTTP_TLS_AT(base, strict_sni), "Off", .expect = "On or Off" },     \
        { "SSLCACertificateFile", CONF_LINES, HTTP_TLS_AT(base, ca_file), NULL, .flags = CONF_LIST_REPLACE,       \
          .parse = http_tls_parse_ca_file,                                                                      \
          .expect = "the absolute path of a PEM bundle of the CAs whose client certificates are accepted" },     \
        { "SSLVerifyClient", CONF_CUSTOM, HTTP_TLS_AT(base, verify), "none", .parse = http_tls_parse_verify,     \
          .format = http_tls_format_verify, .copy = http_tls_copy_verify, .done = http_tls_done_verify,          \
          .size = sizeof(HttpTlsVerify), .expect = "none, optional, require or optional_no_ca" },               \
        { "SSLVerifyDepth", CONF_UINT, HTTP_TLS_AT(base, verify_depth), "1", 0, HTTP_TLS_VERIFY_DEPTH_MAX,        \
          .expect = "a number of CA certificates from 0 to 100" }
