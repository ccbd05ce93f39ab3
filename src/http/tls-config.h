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

typedef struct HttpTlsConfig {
        /* SSLCertificateFile and SSLCertificateKeyFile lines, paired in order: certificates.lines[i]
         * with keys.lines[i]. A certificate file holds the chain, leaf first; a key is a path or
         * "credential:NAME" ($CREDENTIALS_DIRECTORY/NAME, systemd's LoadCredential=). n == 0: the
         * site has no certificate (it cannot be reached over TLS). At most HTTP_TLS_CERTS_MAX. */
        ConfLines certificates;
        ConfLines keys;
        HttpTlsProtocols protocols; /* SSLProtocol, default TLSv1.2 TLSv1.3 */
        HttpTlsCiphers ciphers;     /* SSLCipherSuite, default Mozilla's "intermediate" lists */
        bool honor_cipher_order;    /* SSLHonorCipherOrder, default Off (intermediate profile) */
        bool session_tickets;       /* SSLSessionTickets, default On */
        usec_t ticket_lifetime;     /* SSLSessionTicketLifetime, default 3600 s */
        bool strict_sni;            /* SSLStrictSNIVHostCheck, default Off */
} HttpTlsConfig;

/* The credential prefix of SSLCertificateKeyFile. */
#define HTTP_TLS_CREDENTIAL_PREFIX "credential:"
