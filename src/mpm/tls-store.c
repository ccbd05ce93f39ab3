/* SPDX-License-Identifier: MIT */
/* tls-store.c — the certificate store (tls-store.h): a context per site with a certificate, the
 * SNI and ALPN callbacks, and the checks a configuration's certificates get when it is loaded. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "http/server.h"
#include "mpm/tls-custody.h"
#include "mpm/tls-store-internal.h"
#include "shared/strv.h"

#define TLS_GROUPS "X25519:P-256:P-384"

/* ---- the SSL's listener ------------------------------------------------------------------------ */

static int listener_index = -1;
static pthread_once_t listener_index_once = PTHREAD_ONCE_INIT;

static void listener_index_init(void) {
        listener_index = SSL_get_ex_new_index(0, (void *) "mpmd listener", NULL, NULL, NULL);
}

static int listener_index_get(void) {
        (void) pthread_once(&listener_index_once, listener_index_init);
        return listener_index;
}

/* ---- which site: http_server_select()'s rule (server.h), over the store's copy of the sites -------- */

static const HttpSiteKey *store_site_key(const void *sites, size_t i) {
        return &((const StoreSite *) sites)[i].key;
}

/* The site host names on listener; SIZE_MAX: none. */
static size_t store_match(const TlsStore *s, const char *listener, const char *host, size_t host_len) {
        return http_sites_match(s->sites, s->n_sites, store_site_key, listener, host, host_len);
}

/* What a connection without a name, or with one no site has, gets. */
static size_t store_default(const TlsStore *s, const char *listener) {
        return http_sites_default(s->sites, s->n_sites, store_site_key, listener);
}

/* ---- the callbacks ------------------------------------------------------------------------------ */

static const unsigned char alpn_server[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

const unsigned char *tls_store_alpn_choose(const unsigned char *client, unsigned client_len, unsigned char *ret_len) {
        unsigned char *out = NULL, out_len = 0;

        if (client_len == 0 || SSL_select_next_proto(&out, &out_len, alpn_server, sizeof(alpn_server), client,
                                                     client_len) != OPENSSL_NPN_NEGOTIATED)
                return NULL;
        *ret_len = out_len;
        return out;
}

static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *out_len, const unsigned char *in,
                   unsigned in_len, void *userdata) {
        const unsigned char *p = tls_store_alpn_choose(in, in_len, out_len);

        if (!p)
                return SSL_TLSEXT_ERR_NOACK; /* no application protocol named: HTTP/1.1 all the same */
        *out = p;
        return SSL_TLSEXT_ERR_OK;
}

/* SSL_set_SSL_CTX() moves the certificates and the session ID context, nothing else: the
 * connection takes the rest of site's settings here. */
static int apply_site(SSL *ssl, const StoreSite *site) {
        const uint64_t carried = SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA | SSL_OP_NO_TICKET |
                                 SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_TLSv1_2 | SSL_OP_NO_TLSv1_3;

        if (!SSL_set_SSL_CTX(ssl, site->ctx))
                goto fail;
        /* The site's SSLVerifyClient: whether the handshake asks for a certificate, and how it is
         * judged (the CA store and the names sent come with the context). */
        SSL_set_verify(ssl, SSL_CTX_get_verify_mode(site->ctx), SSL_CTX_get_verify_callback(site->ctx));
        SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(site->ctx));
        SSL_clear_options(ssl, carried);
        SSL_set_options(ssl, SSL_CTX_get_options(site->ctx) & carried);
        if (!SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(site->ctx)) ||
            !SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(site->ctx)) ||
            !SSL_set_num_tickets(ssl, SSL_CTX_get_num_tickets(site->ctx)) || !SSL_set_cipher_list(ssl, site->tls12) ||
            !SSL_set_ciphersuites(ssl, site->tls13))
                goto fail;
        return 0;
fail:
        ERR_clear_error();
        return -ENOMEM;
}

/* The host_name of the ClientHello's server_name extension (RFC 6066 3), NUL-terminated in buf.
 * Returns 1 with it, 0 when the ClientHello has no server_name, -EINVAL when it has one without a
 * usable host name (malformed, too long, a NUL inside: a name no site has). */
static int client_hello_server_name(SSL *ssl, char *buf, size_t size) {
        const unsigned char *p;
        size_t len, list_len;

        if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len))
                return 0;
        if (len < 2)
                return -EINVAL;
        list_len = ((size_t) p[0] << 8) | p[1];
        p += 2;
        len -= 2;
        if (list_len != len)
                return -EINVAL;
        while (len >= 3) {
                size_t n = ((size_t) p[1] << 8) | p[2];

                if (n > len - 3)
                        return -EINVAL;
                if (p[0] == TLSEXT_NAMETYPE_host_name) {
                        if (n == 0 || n >= size || memchr(p + 3, 0, n))
                                return -EINVAL;
                        memcpy(buf, p + 3, n);
                        buf[n] = 0;
                        return 1;
                }
                p += 3 + n;
                len -= 3 + n;
        }
        return -EINVAL;
}

/* SNI chooses the site as soon as the ClientHello is there: before the protocol version is chosen
 * and the session to resume is looked up, so that both are the site's (the servername callback
 * comes after them). */
static int on_client_hello(SSL *ssl, int *alert, void *userdata) {
        const StoreListener *li = SSL_get_ex_data(ssl, listener_index_get());
        const StoreSite *def;
        char name[256];
        size_t i = SIZE_MAX;
        int r;

        if (!li)
                return SSL_CLIENT_HELLO_SUCCESS; /* not from tls_store_new_ssl(): its context as it is */
        def = &li->store->sites[li->default_site];
        r = client_hello_server_name(ssl, name, sizeof(name));
        if (r == 0)
                return SSL_CLIENT_HELLO_SUCCESS; /* no SNI: the default site */
        if (r > 0)
                i = store_match(li->store, li->name, name, strlen(name));
        if (i == SIZE_MAX || !li->store->sites[i].ctx) {
                /* A name no site here has, or one whose site has no certificate to show. */
                if (def->strict_sni) {
                        *alert = SSL_AD_UNRECOGNIZED_NAME;
                        return SSL_CLIENT_HELLO_ERROR;
                }
                return SSL_CLIENT_HELLO_SUCCESS;
        }
        if (li->store->sites[i].ctx != SSL_get_SSL_CTX(ssl) && apply_site(ssl, &li->store->sites[i]) < 0) {
                *alert = SSL_AD_INTERNAL_ERROR;
                return SSL_CLIENT_HELLO_ERROR;
        }
        return SSL_CLIENT_HELLO_SUCCESS;
}

/* The site was chosen from the ClientHello already: acknowledging the name keeps it in the
 * session, which OpenSSL compares when the session is resumed. */
static int on_servername(SSL *ssl, int *alert, void *userdata) {
        return SSL_TLSEXT_ERR_OK;
}

/* ---- building a site's context ------------------------------------------------------------------ */

/* OpenSSL's reason for the last error, and its queue emptied. */
static const char *ssl_reason(char *buf, size_t size) {
        unsigned long e = ERR_peek_last_error();
        const char *reason = e ? ERR_reason_error_string(e) : NULL;

        if (reason)
                snprintf(buf, size, "%s", reason);
        else if (e)
                ERR_error_string_n(e, buf, size);
        else
                snprintf(buf, size, "unknown error");
        ERR_clear_error();
        return buf;
}

/* A key is never decrypted with a pass phrase: nobody is there to type it at a reload. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata) {
        return -1;
}

/* The key of a pair, from its material. */
static EVP_PKEY *key_load(const TlsMaterialPair *pair, const ConfLine *key, const char *section, ConfErrors *errors) {
        _cleanup_free_ char *path = NULL;
        EVP_PKEY *pkey = NULL;
        char why[256];
        BIO *bio = BIO_new_mem_buf(pair->key, (int) pair->key_len);

        if (bio)
                pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
        BIO_free(bio);
        if (!pkey) {
                (void) tls_key_path(key, section, &path, NULL);
                conf_errors_add(errors, key->file, key->line,
                                "%s SSLCertificateKeyFile: %s: not a PEM private key, or one encrypted with a pass "
                                "phrase (%s)",
                                section, path ? path : key->value, ssl_reason(why, sizeof(why)));
        }
        return pkey;
}

/* SSL_CTX_use_certificate_chain_file() over memory: the leaf (which selects the key type's slot),
 * then the rest of the chain, up to the end of the PEM text. 1 or 0 (OpenSSL's error queued). */
static int use_chain(SSL_CTX *ctx, const TlsMaterialPair *pair) {
        BIO *bio = BIO_new_mem_buf(pair->cert, (int) pair->cert_len);
        X509 *x = bio ? PEM_read_bio_X509_AUX(bio, NULL, no_passphrase, NULL) : NULL;
        unsigned long e;
        int ok = x && SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_clear_chain_certs(ctx) == 1;

        X509_free(x);
        while (ok) {
                X509 *ca = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
                if (!ca)
                        break;
                if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
                        X509_free(ca);
                        ok = 0;
                }
        }
        BIO_free(bio);
        if (!ok)
                return 0;
        /* The chain ends where no further PEM block starts; anything else is an error. */
        e = ERR_peek_last_error();
        if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
                return 0;
        ERR_clear_error();
        return 1;
}

static void format_time(const ASN1_TIME *t, char *buf, size_t size) {
        struct tm tm;

        if (!ASN1_TIME_to_tm(t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
                snprintf(buf, size, "(unreadable date)");
}

int tls_check_cert_dates(X509 *leaf, const ConfLine *where, const char *section, const char *key,
                         const char *refused_by, ConfErrors *errors, ConfErrors *warnings) {
        const ASN1_TIME *not_after = X509_get0_notAfter(leaf), *not_before = X509_get0_notBefore(leaf);
        int days = 0, secs = 0;
        char date[64];

        if (ASN1_TIME_diff(&days, &secs, NULL, not_before) && (days > 0 || secs > 0)) {
                format_time(not_before, date, sizeof(date));
                conf_errors_add(warnings, where->file, where->line, "%s %s: %s is not valid before %s", section, key,
                                where->value, date);
        }
        if (!ASN1_TIME_diff(&days, &secs, NULL, not_after))
                return 0;
        format_time(not_after, date, sizeof(date));
        if (days < 0 || secs < 0) {
                conf_errors_add(errors, where->file, where->line, "%s %s: %s expired on %s: %s refuse it; renew it",
                                section, key, where->value, date, refused_by);
                return -EINVAL;
        }
        if (days < TLS_EXPIRY_WARNING_DAYS)
                conf_errors_add(warnings, where->file, where->line, "%s %s: %s expires on %s, in %d day%s", section,
                                key, where->value, date, days, days == 1 ? "" : "s");
        return 0;
}

/* Does one of the leaves cover name (a ServerName or ServerAlias: a host, perhaps with :port, an
 * address, or *.wildcard, which a certificate covers when it covers any name under it)? */
static bool leaves_cover(X509 *const *leaves, size_t n, const char *name) {
        _cleanup_free_ char *host = NULL;
        unsigned char addr[16];
        size_t len;

        if (name[0] == '[') {
                const char *close = strchr(name, ']');
                host = close ? strndup(name + 1, (size_t) (close - name - 1)) : strdup(name);
        } else {
                len = strcspn(name, ":");
                if (strncmp(name, "*.", 2) == 0) {
                        if (asprintf(&host, "mpmd-wildcard-check%.*s", (int) (len - 1), name + 1) < 0)
                                host = NULL;
                } else
                        host = strndup(name, len);
        }
        if (!host)
                return true; /* no memory: no warning rather than a wrong one */
        for (size_t i = 0; i < n; i++) {
                int r;

                if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
                        r = X509_check_ip_asc(leaves[i], host, 0);
                else
                        r = X509_check_host(leaves[i], host, 0, 0, NULL);
                if (r == 1)
                        return true;
        }
        return false;
}

static void check_names(X509 *const *leaves, size_t n, const TlsStoreSite *in, ConfErrors *warnings) {
        const ConfLine *cert = &in->cfg->tls.certificates.lines[0];
        const char *sn = in->cfg->server_name;

        if (sn && !leaves_cover(leaves, n, sn))
                conf_errors_add(
                        warnings, cert->file, cert->line,
                        "%s SSLCertificateFile: %s does not cover ServerName %s: clients refuse it for that name",
                        in->section, cert->value, sn);
        STRV_FOREACH(a, in->cfg->server_alias)
                if (!leaves_cover(leaves, n, *a))
                        conf_errors_add(
                                warnings, cert->file, cert->line,
                                "%s SSLCertificateFile: %s does not cover ServerAlias %s: clients refuse it for "
                                "that name",
                                in->section, cert->value, *a);
}

/* The pairs of in, from m (its material, tls-custody.h): the bytes of its files as they were when
 * the material was sealed. */
static int site_load_pairs(SSL_CTX *ctx, const TlsStoreSite *in, const TlsMaterial *m, ConfErrors *errors,
                           ConfErrors *warnings) {
        const HttpTlsConfig *t = &in->cfg->tls;
        X509 *leaves[HTTP_TLS_CERTS_MAX] = {};
        int key_types[HTTP_TLS_CERTS_MAX] = {};
        size_t n = 0;
        char why[256];
        int r = 0;

        if (t->certificates.n != t->keys.n) {
                const ConfLine *extra = t->certificates.n > t->keys.n ? &t->certificates.lines[t->keys.n]
                                                                      : &t->keys.lines[t->certificates.n];
                conf_errors_add(
                        errors, extra->file, extra->line,
                        "%s %s: %zu SSLCertificateFile and %zu SSLCertificateKeyFile lines: they pair in order, "
                        "one key for each certificate",
                        in->section, t->certificates.n > t->keys.n ? "SSLCertificateFile" : "SSLCertificateKeyFile",
                        t->certificates.n, t->keys.n);
                return -EINVAL;
        }
        for (size_t i = 0; i < t->certificates.n && i < HTTP_TLS_CERTS_MAX; i++) {
                const ConfLine *cert = &t->certificates.lines[i], *key = &t->keys.lines[i];
                EVP_PKEY *pkey;
                X509 *leaf;

                if (i >= m->n_pairs)
                        return -EBADMSG; /* not the material of this site */
                if (!m->pairs[i].cert) {
                        r = -EINVAL; /* said when it was sealed */
                        continue;
                }
                if (use_chain(ctx, &m->pairs[i]) != 1) {
                        conf_errors_add(
                                errors, cert->file, cert->line,
                                "%s SSLCertificateFile: %s: not a PEM certificate chain that OpenSSL accepts (%s)",
                                in->section, cert->value, ssl_reason(why, sizeof(why)));
                        r = -EINVAL;
                        continue;
                }
                leaf = SSL_CTX_get0_certificate(ctx);
                key_types[n] = leaf ? EVP_PKEY_get_base_id(X509_get0_pubkey(leaf)) : 0;
                for (size_t j = 0; j < n; j++)
                        if (key_types[j] == key_types[n]) {
                                conf_errors_add(errors, cert->file, cert->line,
                                                "%s SSLCertificateFile: %s has the same kind of key (%s) as %s: two "
                                                "certificates are an ECDSA and an RSA one",
                                                in->section, cert->value, OBJ_nid2sn(key_types[n]),
                                                t->certificates.lines[j].value);
                                r = -EINVAL;
                        }
                pkey = m->pairs[i].key ? key_load(&m->pairs[i], key, in->section, errors) : NULL;
                if (!pkey) {
                        r = -EINVAL;
                        continue;
                }
                if (!leaf || X509_check_private_key(leaf, pkey) != 1 || SSL_CTX_use_PrivateKey(ctx, pkey) != 1 ||
                    SSL_CTX_check_private_key(ctx) != 1) {
                        ERR_clear_error();
                        conf_errors_add(errors, key->file, key->line,
                                        "%s SSLCertificateKeyFile: %s does not match the certificate %s (%s:%u)",
                                        in->section, key->value, cert->value, cert->file, cert->line);
                        EVP_PKEY_free(pkey);
                        r = -EINVAL;
                        continue;
                }
                EVP_PKEY_free(pkey);
                if (tls_check_cert_dates(leaf, cert, in->section, "SSLCertificateFile", "clients", errors,
                                         warnings) < 0) {
                        r = -EINVAL;
                        continue;
                }
                leaves[n++] = leaf;
        }
        if (r == 0 && n > 0)
                check_names(leaves, n, in, warnings);
        return r;
}

static int site_set_protocols(SSL_CTX *ctx, const TlsStoreSite *in) {
        static const int versions[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};
        static const uint64_t no[] = {SSL_OP_NO_TLSv1, SSL_OP_NO_TLSv1_1, SSL_OP_NO_TLSv1_2, SSL_OP_NO_TLSv1_3};
        unsigned mask = in->cfg->tls.protocols.mask;
        int lo = -1, hi = -1;

        for (int i = 0; i < 4; i++)
                if (mask & (1u << i)) {
                        if (lo < 0)
                                lo = i;
                        hi = i;
                }
        if (lo < 0)
                return -EINVAL; /* the row refuses an empty set */
        if (!SSL_CTX_set_min_proto_version(ctx, versions[lo]) || !SSL_CTX_set_max_proto_version(ctx, versions[hi]))
                return -EINVAL;
        /* A set with a hole (TLSv1 TLSv1.2): min and max cannot say it. */
        for (int i = lo + 1; i < hi; i++)
                if (!(mask & (1u << i)))
                        SSL_CTX_set_options(ctx, no[i]);
        return 0;
}

static int site_set_ciphers(SSL_CTX *ctx, const TlsStoreSite *in, ConfErrors *errors) {
        const HttpTlsCiphers *c = &in->cfg->tls.ciphers;
        unsigned mask = in->cfg->tls.protocols.mask;
        STACK_OF(SSL_CIPHER) * list;
        size_t n12 = 0, n13 = 0;
        char why[256];
        int r = 0;

        if (!c->tls12 || SSL_CTX_set_cipher_list(ctx, c->tls12) != 1) {
                conf_errors_add(errors, c->tls12_file, c->tls12_line,
                                "%s SSLCipherSuite: \"%s\": OpenSSL knows none of these ciphers (%s)", in->section,
                                c->tls12 ? c->tls12 : "", ssl_reason(why, sizeof(why)));
                r = -EINVAL;
        }
        if (!c->tls13 || SSL_CTX_set_ciphersuites(ctx, c->tls13) != 1) {
                conf_errors_add(errors, c->tls13_file, c->tls13_line,
                                "%s SSLCipherSuite: TLSv1.3 \"%s\": not a list of TLS 1.3 suites OpenSSL knows (%s)",
                                in->section, c->tls13 ? c->tls13 : "", ssl_reason(why, sizeof(why)));
                r = -EINVAL;
        }
        if (r < 0)
                return r;
        list = SSL_CTX_get_ciphers(ctx);
        for (int i = 0; list && i < sk_SSL_CIPHER_num(list); i++) {
                if (strcmp(SSL_CIPHER_get_version(sk_SSL_CIPHER_value(list, i)), "TLSv1.3") == 0)
                        n13++;
                else
                        n12++;
        }
        /* OpenSSL passes over names it does not know: a list of only those leaves a version with none. */
        if ((mask & HTTP_TLS_V1_3) && n13 == 0) {
                conf_errors_add(errors, c->tls13_file, c->tls13_line,
                                "%s SSLCipherSuite: TLSv1.3 \"%s\": none of these is a TLS 1.3 suite OpenSSL knows",
                                in->section, c->tls13);
                r = -EINVAL;
        }
        if ((mask & (HTTP_TLS_V1_0 | HTTP_TLS_V1_1 | HTTP_TLS_V1_2)) && n12 == 0) {
                conf_errors_add(errors, c->tls12_file, c->tls12_line,
                                "%s SSLCipherSuite: \"%s\": none of these ciphers is usable", in->section, c->tls12);
                r = -EINVAL;
        }
        return r;
}

/* Tickets are only valid where they were made: the session ID context is a digest of the site's
 * section (unique in a configuration, the same across reloads) and of how it verifies clients
 * (SSLVerifyClient, SSLVerifyDepth, the CA bundle's bytes), so that a session made without a
 * verified certificate, or against other CAs, never resumes where one is now required: that
 * client gets a full handshake, which asks for the certificate. */
static int site_set_session_context(SSL_CTX *ctx, const TlsStoreSite *in, const TlsMaterial *m) {
        const HttpTlsConfig *t = &in->cfg->tls;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        const char *id = in->section ? in->section : "";
        uint32_t verify[2] = {(uint32_t) t->verify.mode, t->verify_depth};
        EVP_MD_CTX *d = EVP_MD_CTX_new();
        bool ok = d && EVP_DigestInit_ex(d, EVP_sha256(), NULL) && EVP_DigestUpdate(d, id, strlen(id) + 1);

        /* A site that asks for no certificate keeps the digest of its section alone. */
        if (ok && t->verify.mode != HTTP_TLS_VERIFY_NONE)
                ok = EVP_DigestUpdate(d, verify, sizeof(verify)) && (!m->ca || EVP_DigestUpdate(d, m->ca, m->ca_len));
        ok = ok && EVP_DigestFinal_ex(d, md, &md_len);
        EVP_MD_CTX_free(d);
        if (!ok)
                return -ENOMEM;
        return SSL_CTX_set_session_id_context(ctx, md, MIN(md_len, (unsigned) SSL_MAX_SID_CTX_LENGTH)) == 1 ? 0
                                                                                                            : -ENOMEM;
}

/* ---- client certificates (SSLVerifyClient) ------------------------------------------------------ */

/* Apache's SSLVerifyDepth: the issuers allowed above the client's certificate, the CA's own
 * included (1: issued by one of SSLCACertificateFile's CAs itself). OpenSSL's depth counts
 * intermediates, one fewer: its limit is set to the same number, a bound it never reaches first,
 * and the rule is Apache's, here. */
static bool verify_depth_ok(X509_STORE_CTX *x) {
        SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());

        if (!ssl || X509_STORE_CTX_get_error_depth(x) <= SSL_get_verify_depth(ssl))
                return true;
        X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_CHAIN_TOO_LONG);
        return false;
}

/* optional, require: what OpenSSL verified, within the depth. */
static int on_verify(int ok, X509_STORE_CTX *x) {
        return ok && verify_depth_ok(x);
}

/* optional_no_ca: an issuer nobody here knows (a self-signed certificate, one of another CA) is let
 * through, as mod_ssl lets it; the error stays the verification's result, which the programs see
 * (SSL_CLIENT_VERIFY "FAILED:reason"). Anything else (an expired certificate, a bad signature)
 * still fails the handshake. */
static int on_verify_no_ca(int ok, X509_STORE_CTX *x) {
        switch (X509_STORE_CTX_get_error(x)) {
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_CERT_UNTRUSTED:
                if (!ok)
                        return 1;
                break;
        default:
                break;
        }
        return ok && verify_depth_ok(x);
}

/* The CAs of the bundle: trusted for verification, and their names sent in the certificate
 * request (what a browser picks a certificate by). At least one, every PEM block a certificate. */
static int site_load_cas(SSL_CTX *ctx, const TlsStoreSite *in, const TlsMaterial *m, ConfErrors *errors) {
        const ConfLine *ca = &in->cfg->tls.ca_file.lines[0];
        X509_STORE *store = SSL_CTX_get_cert_store(ctx);
        STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
        BIO *bio = BIO_new_mem_buf(m->ca, (int) m->ca_len);
        unsigned long e;
        size_t n = 0;
        char why[256];
        bool ok = names && bio && store;

        while (ok) {
                X509 *x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
                X509_NAME *name;

                if (!x)
                        break;
                name = X509_NAME_dup(X509_get_subject_name(x));
                ok = name && X509_STORE_add_cert(store, x) == 1 && sk_X509_NAME_push(names, name) > 0;
                if (!ok)
                        X509_NAME_free(name);
                X509_free(x);
                n++;
        }
        BIO_free(bio);
        if (!ok) {
                sk_X509_NAME_pop_free(names, X509_NAME_free);
                ERR_clear_error();
                return -ENOMEM;
        }
        e = ERR_peek_last_error();
        if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
                sk_X509_NAME_pop_free(names, X509_NAME_free);
                conf_errors_add(
                        errors, ca->file, ca->line,
                        "%s SSLCACertificateFile: %s: not a bundle of PEM certificates that OpenSSL accepts (%s)",
                        in->section, ca->value, ssl_reason(why, sizeof(why)));
                return -EINVAL;
        }
        ERR_clear_error();
        if (n == 0) {
                sk_X509_NAME_pop_free(names, X509_NAME_free);
                conf_errors_add(
                        errors, ca->file, ca->line,
                        "%s SSLCACertificateFile: %s holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")",
                        in->section, ca->value);
                return -EINVAL;
        }
        SSL_CTX_set_client_CA_list(ctx, names); /* taken */
        return 0;
}

static int site_set_client_verify(SSL_CTX *ctx, const TlsStoreSite *in, const TlsMaterial *m, ConfErrors *errors) {
        const HttpTlsConfig *t = &in->cfg->tls;
        int mode = SSL_VERIFY_PEER, r;

        if (t->ca_file.n > 0) {
                if (!m->has_ca)
                        return -EBADMSG; /* not the material of this site */
                if (!m->ca)
                        return -EINVAL; /* said when it was sealed */
        }
        /* Read under SSLVerifyClient none too, so that a bad bundle is said before it is used. */
        if (t->ca_file.n > 0) {
                r = site_load_cas(ctx, in, m, errors);
                if (r < 0)
                        return r;
        }
        if (t->verify.mode == HTTP_TLS_VERIFY_NONE)
                return 0;
        if (t->ca_file.n == 0 && t->verify.mode != HTTP_TLS_VERIFY_OPTIONAL_NO_CA)
                return -EINVAL; /* the configuration's check says it (check_tls_verify) */
        if (t->verify.mode == HTTP_TLS_VERIFY_REQUIRE)
                mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx, mode, t->verify.mode == HTTP_TLS_VERIFY_OPTIONAL_NO_CA ? on_verify_no_ca : on_verify);
        SSL_CTX_set_verify_depth(ctx, (int) t->verify_depth);
        return 0;
}

static int site_ctx_new(const TlsStoreSite *in, const TlsMaterial *m, SSL_CTX **ret, ConfErrors *errors,
                        ConfErrors *warnings) {
        const HttpTlsConfig *t = &in->cfg->tls;
        uint64_t options = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_ENABLE_KTLS;
        SSL_CTX *ctx;
        int r, k, v;

        ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx)
                return -ENOMEM;
        SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
        /* The server's order, but ChaCha20 first for a client that puts it first (one without AES
         * in hardware, which is why Mozilla leaves the choice to clients). */
        if (t->honor_cipher_order)
                options |= SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA;
        if (!t->session_tickets)
                options |= SSL_OP_NO_TICKET;
        SSL_CTX_set_options(ctx, options);
        /* No session IDs (no cache shared between the processes to keep consistent): tickets only. */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        if (!t->session_tickets)
                (void) SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_timeout(ctx, (long) (t->ticket_lifetime / USEC_PER_SEC));
        SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
        SSL_CTX_set_client_hello_cb(ctx, on_client_hello, NULL);
        SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
        if (SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1 || SSL_CTX_set_dh_auto(ctx, 1) != 1 ||
            site_set_protocols(ctx, in) < 0 || site_set_session_context(ctx, in, m) < 0) {
                ERR_clear_error();
                SSL_CTX_free(ctx);
                return -ENOMEM;
        }

        r = site_set_ciphers(ctx, in, errors);
        k = site_load_pairs(ctx, in, m, errors, warnings);
        v = site_set_client_verify(ctx, in, m, errors);
        if (r == -ENOMEM || k == -ENOMEM || v == -ENOMEM) {
                SSL_CTX_free(ctx);
                return -ENOMEM;
        }
        if (r < 0 || k < 0 || v < 0) {
                SSL_CTX_free(ctx);
                return -EINVAL;
        }
        *ret = ctx;
        return 0;
}

/* ---- the store ---------------------------------------------------------------------------------- */

TlsStore *tls_store_free(TlsStore *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_sites; i++) {
                StoreSite *site = &s->sites[i];

                free(site->name);
                free(site->section);
                free(site->server_name);
                strv_free(site->aliases);
                strv_free(site->listen);
                free(site->tls12);
                free(site->tls13);
                SSL_CTX_free(site->ctx);
                safe_close(site->material_fd);
        }
        free(s->sites);
        for (size_t i = 0; i < s->n_listeners; i++)
                free(s->listeners[i].name);
        free(s->listeners);
        free(s->any_listener);
        strv_free(s->server_listen);
        free(s);
        return NULL;
}

static void tls_store_freep(TlsStore **s) {
        tls_store_free(*s);
}

static char *strdup_null(const char *s, bool *oom) {
        char *c = s ? strdup(s) : NULL;

        if (s && !c)
                *oom = true;
        return c;
}

static char **strv_copy_null(char *const *l, bool *oom) {
        char **c = l ? strv_copy(l) : NULL;

        if (l && !c)
                *oom = true;
        return c;
}

static int store_add_listener(TlsStore *s, const char *name, const TlsStoreSite *written, ConfErrors *errors) {
        StoreListener *grown;
        size_t def;

        for (size_t i = 0; i < s->n_listeners; i++)
                if (strcmp(s->listeners[i].name, name) == 0)
                        return 0;
        def = store_default(s, name);
        /* A pool's store: the listener's default site is another pool's; a connection the
         * dispatcher handed here named one of ours, or none of any pool's. */
        if (!s->sites[def].ctx && s->any_listener)
                def = s->any_listener->default_site;
        if (!s->sites[def].ctx) {
                conf_errors_add(errors, written->listen_file, written->listen_line,
                                "%s Listen: %s is HTTPS, but %s, the site it serves a client that names none of its "
                                "sites, has no SSLCertificateFile",
                                written->section, name, s->sites[def].section);
                return -EINVAL;
        }
        grown = reallocarray(s->listeners, s->n_listeners + 1, sizeof(StoreListener));
        if (!grown)
                return -ENOMEM;
        s->listeners = grown;
        s->listeners[s->n_listeners] = (StoreListener){.name = strdup(name), .default_site = def, .store = s};
        if (!s->listeners[s->n_listeners].name)
                return -ENOMEM;
        s->n_listeners++;
        return 0;
}

/* Is there anything to build: a site with a certificate, or a TLS listener? */
static bool store_needed(const TlsStoreSite *sites, size_t n_sites, char *const *server_listen) {
        STRV_FOREACH(v, server_listen)
                if (listener_name_is_tls(*v))
                        return true;
        for (size_t i = 0; i < n_sites; i++) {
                if (sites[i].cfg->tls.certificates.n > 0)
                        return true;
                STRV_FOREACH(v, sites[i].listen)
                        if (listener_name_is_tls(*v))
                                return true;
        }
        return false;
}

/* What the store keeps of each site, copied (no context yet). */
static int store_new_sites(const TlsStoreSite *sites, size_t n_sites, TlsStore **ret) {
        _cleanup_(tls_store_freep) TlsStore *s = calloc(1, sizeof(TlsStore));
        bool oom = false;

        if (!s || !(s->sites = calloc(n_sites, sizeof(StoreSite))))
                return -ENOMEM;
        s->n_sites = n_sites;
        for (size_t i = 0; i < n_sites; i++) {
                const TlsStoreSite *in = &sites[i];
                const HttpTlsConfig *t = &in->cfg->tls;
                StoreSite *site = &s->sites[i];

                *site = (StoreSite){
                        .name = strdup_null(in->name, &oom),
                        .section = strdup_null(in->section ? in->section : "[?]", &oom),
                        .server_name = strdup_null(in->cfg->server_name, &oom),
                        .aliases = strv_copy_null(in->cfg->server_alias, &oom),
                        .listen = i == 0 ? NULL : strv_copy_null(in->listen, &oom),
                        .has_document_root = in->cfg->document_root != NULL,
                        .tls12 = strdup_null(t->ciphers.tls12, &oom),
                        .tls13 = strdup_null(t->ciphers.tls13, &oom),
                        .session_tickets = t->session_tickets,
                        .strict_sni = t->strict_sni,
                        .ticket_lifetime = t->ticket_lifetime,
                        .material_fd = -1,
                };
                if (oom)
                        return -ENOMEM;
                site->key = (HttpSiteKey) {
                        .server_name = site->server_name,
                        .aliases = site->aliases,
                        .listen = site->listen,
                        .has_document_root = site->has_document_root,
                };
        }
        *ret = TAKE_PTR(s);
        return 0;
}

/* The store of the sites own says (NULL: every one) from their material (fds[i], -1: none, an
 * error given already when the site has a certificate). A pool's store (own) has contexts for its
 * own sites only, and takes a TLS listener whose default is another pool's site to its first own
 * site; without an own site with a certificate it is none (*ret NULL). */
static int store_build(const TlsStoreSite *sites, size_t n_sites, char *const *server_listen, const int *fds,
                       const bool *own, TlsStore **ret, ConfErrors *errors, ConfErrors *warnings) {
        _cleanup_(tls_store_freep) TlsStore *s = NULL;
        size_t first_own = SIZE_MAX;
        int r;

        *ret = NULL;
        r = store_new_sites(sites, n_sites, &s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_sites; i++) {
                const TlsStoreSite *in = &sites[i];
                TlsMaterial m;
                int k;

                if ((in->cfg->tls.certificates.n == 0 && in->cfg->tls.keys.n == 0) || (own && !own[i]))
                        continue;
                if (fds[i] < 0) {
                        r = -EINVAL; /* said when its material was sealed */
                        continue;
                }
                k = tls_material_map(fds[i], &m);
                if (k < 0) {
                        conf_errors_add(errors, NULL, 0, "%s: the sealed certificates cannot be read: %s", in->section,
                                        strerror(-k));
                        r = -EINVAL;
                        continue;
                }
                k = site_ctx_new(in, &m, &s->sites[i].ctx, errors, warnings);
                tls_material_unmap(&m);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
                else if (first_own == SIZE_MAX)
                        first_own = i;
        }
        if (r < 0)
                return r; /* a listener's check would only add that its site has no certificate */
        if (own) {
                if (first_own == SIZE_MAX)
                        return 0;
                s->any_listener = calloc(1, sizeof(StoreListener));
                if (!s->any_listener)
                        return -ENOMEM;
                *s->any_listener = (StoreListener){.default_site = first_own, .store = s};
        }

        STRV_FOREACH(v, server_listen)
                if (listener_name_is_tls(*v)) {
                        int k = store_add_listener(s, *v, &sites[0], errors);
                        if (k == -ENOMEM)
                                return k;
                        if (k < 0)
                                r = k;
                }
        for (size_t i = 1; i < n_sites; i++)
                STRV_FOREACH(v, sites[i].listen)
                        if (listener_name_is_tls(*v)) {
                                int k = store_add_listener(s, *v, &sites[i], errors);
                                if (k == -ENOMEM)
                                        return k;
                                if (k < 0)
                                        r = k;
                        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

static void close_all(int *fds, size_t n) {
        for (size_t i = 0; fds && i < n; i++)
                fds[i] = safe_close(fds[i]);
}

/* Seal the material of every site with a certificate into fds (-1 for the others, and for a site
 * whose files cannot be read: its errors are added, and the result is -EINVAL). */
static int store_seal_all(const TlsStoreSite *sites, size_t n_sites, int *fds, ConfErrors *errors) {
        int r = 0;

        for (size_t i = 0; i < n_sites; i++) {
                int k;

                fds[i] = -1;
                if (sites[i].cfg->tls.certificates.n == 0 && sites[i].cfg->tls.keys.n == 0)
                        continue;
                k = tls_material_seal(&sites[i], &fds[i], errors);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = -EINVAL;
        }
        return r;
}

int tls_store_new(const TlsStoreSite *sites, size_t n_sites, char *const *server_listen, TlsStore **ret,
                  ConfErrors *errors, ConfErrors *warnings) {
        _cleanup_free_ int *fds = NULL;
        int r, k;

        *ret = NULL;
        if (n_sites == 0 || !store_needed(sites, n_sites, server_listen))
                return 0;
        /* Here, before the workers fork, so that they all inherit the same index. */
        if (listener_index_get() < 0)
                return -ENOMEM;
        fds = calloc(n_sites, sizeof(int));
        if (!fds)
                return -ENOMEM;
        /* The same path as a sealed store's check: the files' bytes sealed, then parsed from there. */
        r = store_seal_all(sites, n_sites, fds, errors);
        if (r != -ENOMEM) {
                k = store_build(sites, n_sites, server_listen, fds, NULL, ret, errors, warnings);
                r = r < 0 ? r : k;
        }
        close_all(fds, n_sites);
        return r;
}

typedef struct SealedCheck {
        const TlsStoreSite *sites;
        size_t n_sites;
        char *const *server_listen;
        const int *fds;
} SealedCheck;

static int sealed_check(void *userdata, ConfErrors *errors, ConfErrors *warnings) {
        const SealedCheck *c = userdata;
        TlsStore *s = NULL;
        int r = store_build(c->sites, c->n_sites, c->server_listen, c->fds, NULL, &s, errors, warnings);

        tls_store_free(s);
        return r;
}

int tls_store_new_sealed(const TlsStoreSite *sites, size_t n_sites, char *const *server_listen, TlsStore **ret,
                         ConfErrors *errors, ConfErrors *warnings) {
        _cleanup_(tls_store_freep) TlsStore *s = NULL;
        _cleanup_free_ int *fds = NULL;
        SealedCheck check = {.sites = sites, .n_sites = n_sites, .server_listen = server_listen};
        bool oom = false;
        int r, k;

        *ret = NULL;
        if (n_sites == 0 || !store_needed(sites, n_sites, server_listen))
                return 0;
        fds = calloc(n_sites, sizeof(int));
        if (!fds)
                return -ENOMEM;
        r = store_seal_all(sites, n_sites, fds, errors);
        if (r == -ENOMEM)
                goto finish;
        /* The check parses every key: in a child, so that no parsed key is ever in this process,
         * which forks every pool, dispatcher and CGI launcher. It reads the sealed memfds, the very
         * bytes the pools will get. */
        check.fds = fds;
        k = tls_check_in_child(sealed_check, &check, errors, warnings);
        r = r < 0 ? r : k;
        if (r < 0)
                goto finish;
        r = store_new_sites(sites, n_sites, &s);
        if (r < 0)
                goto finish;
        s->sealed = true;
        s->server_listen = strv_copy_null(server_listen, &oom);
        if (oom) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n_sites; i++)
                s->sites[i].material_fd = TAKE_FD(fds[i]);
        *ret = TAKE_PTR(s);
finish:
        close_all(fds, n_sites);
        return r;
}

bool tls_store_is_sealed(const TlsStore *s) {
        return s && s->sealed;
}

int tls_store_material_fd(const TlsStore *s, size_t site) {
        return s && s->sealed && site < s->n_sites ? s->sites[site].material_fd : -1;
}

int tls_store_open_pool(TlsStore *sealed, const HttpServer *http, const bool *own, TlsStore **ret,
                        ConfErrors *errors) {
        _cleanup_free_ TlsStoreSite *sites = NULL;
        _cleanup_free_ int *fds = NULL;
        ConfErrors warnings = {}; /* said by the supervisor's check already */
        int r;

        *ret = NULL;
        if (!sealed)
                return 0;
        if (!sealed->sealed || http->n_sites != sealed->n_sites)
                return -EINVAL;
        sites = calloc(http->n_sites, sizeof(TlsStoreSite));
        fds = calloc(http->n_sites, sizeof(int));
        if (!sites || !fds)
                return -ENOMEM;
        for (size_t i = 0; i < http->n_sites; i++) {
                sites[i] = (TlsStoreSite){
                        .name = http->sites[i].name,
                        .section = sealed->sites[i].section,
                        .cfg = http->sites[i].cfg,
                        .listen = http->sites[i].listen,
                };
                fds[i] = own[i] ? sealed->sites[i].material_fd : -1;
        }
        r = listener_index_get() < 0 ? -ENOMEM
                                     : store_build(sites, http->n_sites, sealed->server_listen, fds, own, ret, errors,
                                                   &warnings);
        conf_errors_done(&warnings);
        /* The material is taken: the own memfds closed, the others' numbers (closed before the
         * sandbox, and perhaps reused since) forgotten. */
        for (size_t i = 0; i < sealed->n_sites; i++) {
                if (own[i])
                        safe_close(sealed->sites[i].material_fd);
                sealed->sites[i].material_fd = -1;
        }
        return r;
}

SSL *tls_store_new_ssl(const TlsStore *s, const char *listener_name) {
        const StoreListener *li = NULL;
        SSL *ssl;

        if (!s)
                return NULL;
        for (size_t i = 0; listener_name && i < s->n_listeners && !li; i++)
                if (strcmp(s->listeners[i].name, listener_name) == 0)
                        li = &s->listeners[i];
        if (!li)
                li = s->any_listener;
        if (!li)
                return NULL;
        ssl = SSL_new(s->sites[li->default_site].ctx);
        if (!ssl)
                return NULL;
        if (listener_index_get() < 0 || !SSL_set_ex_data(ssl, listener_index_get(), (void *) li)) {
                SSL_free(ssl);
                return NULL;
        }
        return ssl;
}

size_t tls_store_ssl_site(const SSL *ssl) {
        const StoreListener *li = SSL_get_ex_data(ssl, listener_index_get());
        const SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);

        for (size_t i = 0; li && ctx && i < li->store->n_sites; i++)
                if (li->store->sites[i].ctx == ctx)
                        return i;
        return SIZE_MAX;
}

const char *tls_library_version(void) {
        return OpenSSL_version(OPENSSL_VERSION);
}
