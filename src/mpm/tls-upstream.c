/* SPDX-License-Identifier: MIT */
/* tls-upstream.c — TLS to https:// upstreams (tls-upstream.h). */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mpm/tls-custody.h"
#include "mpm/tls-store.h"
#include "mpm/tls-upstream.h"
#include "shared/macro.h"


/* An SSLProxyMachineCertificateFile, read and checked once however many contexts use it. */
typedef struct TlsUpstreamCert {
        struct TlsUpstreamCert *next;
        char *path;
        bool failed; /* its errors were given: a context that needs it is not made */
        int fd;      /* a sealed list's: the file's bytes as they were read (tls-custody.h); -1 */
        const ConfLine *where; /* the first line that named it, for every message about it */
        char *section;
        X509 *leaf; /* NULL in a sealed list's supervisor: its text is parsed elsewhere */
        STACK_OF(X509) *chain;
        EVP_PKEY *key;
} TlsUpstreamCert;

typedef struct TlsUpstreamClient {
        struct TlsUpstreamClient *next;
        char *ca_file; /* NULL: the system's */
        bool verify;
        const TlsUpstreamCert *cert; /* NULL: none */
        SSL_CTX *ctx;
} TlsUpstreamClient;

struct TlsUpstreamClients {
        TlsUpstreamClient *first;
        TlsUpstreamCert *certs;
        bool sealed; /* the client certificates' keys are parsed in a child, then in the pools */
};

/* ---- the thread's session tickets ------------------------------------------------------------- */

#define SESSION_CACHE_SIZE 16

typedef struct CachedSession {
        const SSL_CTX *ctx;
        char *name;
        SSL_SESSION *session;
} CachedSession;

static _Thread_local CachedSession session_cache[SESSION_CACHE_SIZE];
static _Thread_local unsigned session_cache_next;
static _Thread_local char last_error[512];

static CachedSession *session_find(const SSL_CTX *ctx, const char *name) {
        for (size_t i = 0; i < SESSION_CACHE_SIZE; i++)
                if (session_cache[i].ctx == ctx && session_cache[i].name && strcmp(session_cache[i].name, name) == 0)
                        return &session_cache[i];
        return NULL;
}

/* OpenSSL's new-session callback (a TLS 1.3 ticket comes after the handshake, inside a read). */
static int on_new_session(SSL *ssl, SSL_SESSION *session) {
        const char *name = SSL_get_app_data(ssl);
        const SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);

        if (!name || !SSL_SESSION_is_resumable(session))
                return 0;
        CachedSession *e = session_find(ctx, name);
        if (!e) {
                e = &session_cache[session_cache_next++ % SESSION_CACHE_SIZE];
                SSL_SESSION_free(e->session);
                free(e->name);
                *e = (CachedSession) { .ctx = ctx, .name = strdup(name) };
                if (!e->name)
                        return 0;
        } else
                SSL_SESSION_free(e->session);
        e->session = session;
        return 1; /* the reference is ours */
}

/* ---- contexts --------------------------------------------------------------------------------- */

static void openssl_reason(char *buf, size_t size) {
        unsigned long e = ERR_peek_last_error();
        if (e)
                ERR_error_string_n(e, buf, size);
        else
                snprintf(buf, size, "no reason given");
        ERR_clear_error();
}

TlsUpstreamClients *tls_upstream_clients_new(void) {
        return calloc(1, sizeof(TlsUpstreamClients));
}

TlsUpstreamClients *tls_upstream_clients_new_sealed(void) {
        TlsUpstreamClients *l = tls_upstream_clients_new();
        if (l)
                l->sealed = true;
        return l;
}

static void cert_free(TlsUpstreamCert *c) {
        X509_free(c->leaf);
        sk_X509_pop_free(c->chain, X509_free);
        EVP_PKEY_free(c->key);
        safe_close(c->fd);
        free(c->section);
        free(c->path);
        free(c);
}

TlsUpstreamClients *tls_upstream_clients_free(TlsUpstreamClients *l) {
        if (!l)
                return NULL;
        while (l->first) {
                TlsUpstreamClient *c = l->first;
                l->first = c->next;
                SSL_CTX_free(c->ctx);
                free(c->ca_file);
                free(c);
        }
        while (l->certs) {
                TlsUpstreamCert *c = l->certs;
                l->certs = c->next;
                cert_free(c);
        }
        free(l);
        return NULL;
}

/* ---- client certificates ---------------------------------------------------------------------- */

/* A key is never decrypted with a pass phrase: nobody is there to type it at a reload. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata) {
        return -1;
}

/* Did the PEM reader stop at the end of the text (no further block), rather than at a bad one? */
static bool pem_ended_cleanly(void) {
        unsigned long e = ERR_peek_last_error();
        bool ok = !e || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
        if (ok)
                ERR_clear_error();
        return ok;
}

/* The PEM blocks of text: how many certificates and private keys, and whether a key is encrypted.
 * 0, or -EBADMSG when a block does not parse. */
static int pem_count(const char *text, size_t len, int *ret_certs, int *ret_keys, bool *ret_encrypted) {
        BIO *bio = BIO_new_mem_buf(text, (int) len);
        int r = 0;

        *ret_certs = *ret_keys = 0;
        *ret_encrypted = false;
        if (!bio)
                return -ENOMEM;
        for (;;) {
                char *name = NULL, *header = NULL;
                unsigned char *data = NULL;
                long n = 0;

                if (PEM_read_bio(bio, &name, &header, &data, &n) != 1) {
                        r = pem_ended_cleanly() ? 0 : -EBADMSG;
                        break;
                }
                size_t nl = strlen(name);
                if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0 ||
                    strcmp(name, PEM_STRING_X509_TRUSTED) == 0)
                        ++*ret_certs;
                else if (nl >= 11 && strcmp(name + nl - 11, "PRIVATE KEY") == 0) {
                        ++*ret_keys;
                        if (strcmp(name, PEM_STRING_PKCS8) == 0 || strstr(header, "ENCRYPTED"))
                                *ret_encrypted = true;
                }
                OPENSSL_free(name);
                OPENSSL_free(header);
                OPENSSL_clear_free(data, (size_t) n); /* perhaps the key */
        }
        BIO_free(bio);
        ERR_clear_error();
        return r;
}

/* The certificates and the key of c's file, from its text: -EINVAL with the error added. */
static int cert_parse(TlsUpstreamCert *c, const char *text, size_t len, const ConfLine *where, const char *section,
                      ConfErrors *errors, ConfErrors *warnings) {
        STACK_OF(X509) *certs = NULL;
        BIO *bio = NULL;
        const char *what = NULL;
        char why[256];
        int n_certs, n_keys, k, r = -EINVAL;
        bool encrypted;

        ERR_clear_error();
        k = pem_count(text, len, &n_certs, &n_keys, &encrypted);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                what = "not a PEM file OpenSSL reads";
        else if (n_certs == 0)
                what = "holds no PEM certificate (the file is the certificate, its chain and its private key)";
        else if (n_keys == 0)
                what = "holds no private key (the file is the certificate, its chain and its private key)";
        else if (n_keys > 1)
                what = "holds more than one private key: one certificate and its key";
        else if (encrypted)
                what = "its private key is encrypted with a pass phrase: nobody is there to type it at a reload";
        if (what)
                goto finish;

        /* The certificates in file order, then the key (each reader skips the other's blocks). */
        certs = sk_X509_new_null();
        bio = certs ? BIO_new_mem_buf(text, (int) len) : NULL;
        if (!bio) {
                r = -ENOMEM;
                goto finish;
        }
        for (X509 *x; (x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL));)
                if (!sk_X509_push(certs, x)) {
                        X509_free(x);
                        r = -ENOMEM;
                        goto finish;
                }
        ERR_clear_error();
        BIO_free(bio);
        bio = BIO_new_mem_buf(text, (int) len);
        if (!bio) {
                r = -ENOMEM;
                goto finish;
        }
        c->key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
        if (!c->key || sk_X509_num(certs) != n_certs) {
                openssl_reason(why, sizeof(why));
                conf_errors_add(errors, where->file, where->line,
                                "%s SSLProxyMachineCertificateFile: %s: its %s does not load (%s)", section,
                                where->value, c->key ? "certificates" : "private key", why);
                goto finish;
        }
        for (int i = 0; i < sk_X509_num(certs) && !c->leaf; i++)
                if (X509_check_private_key(sk_X509_value(certs, i), c->key) == 1)
                        c->leaf = sk_X509_delete(certs, i);
        ERR_clear_error();
        if (!c->leaf) {
                what = "its private key does not match its certificate (nor any certificate in the file)";
                goto finish;
        }
        c->chain = TAKE_PTR(certs);
        r = tls_check_cert_dates(c->leaf, where, section, "SSLProxyMachineCertificateFile", "upstreams", errors,
                                 warnings);
finish:
        if (what)
                conf_errors_add(errors, where->file, where->line, "%s SSLProxyMachineCertificateFile: %s: %s", section,
                                where->value, what);
        BIO_free(bio);
        sk_X509_pop_free(certs, X509_free);
        ERR_clear_error();
        return r;
}

/* c's text, from its sealed memfd, parsed into c: 0, -EINVAL (errors added), -ENOMEM. */
static int cert_parse_sealed(TlsUpstreamCert *c, ConfErrors *errors, ConfErrors *warnings) {
        void *map = NULL;
        size_t len = 0;
        int r;

        r = tls_material_map_file(c->fd, &map, &len);
        if (r < 0) {
                conf_errors_add(errors, c->where->file, c->where->line,
                                "%s SSLProxyMachineCertificateFile: %s: its sealed copy cannot be read: %s", c->section,
                                c->path, strerror(-r));
                return -EINVAL;
        }
        r = cert_parse(c, map ? map : "", len, c->where, c->section, errors, warnings);
        if (map)
                munmap(map, len);
        return r;
}

/* The file of where, read and checked once: NULL only on -ENOMEM; c->failed when it cannot serve
 * (its errors added the first time). Its bytes are sealed in a memfd with sendfile() first, then
 * parsed from there, or, in a sealed list, left there for a child and the pools to parse. */
static TlsUpstreamCert *cert_get(TlsUpstreamClients *l, const ConfLine *where, const char *section,
                                 ConfErrors *errors, ConfErrors *warnings) {
        TlsUpstreamCert *c;
        char name[250];
        int r;

        for (c = l->certs; c; c = c->next)
                if (strcmp(c->path, where->value) == 0)
                        return c;
        c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->fd = -1;
        c->where = where;
        c->path = strdup(where->value);
        c->section = strdup(section);
        if (!c->path || !c->section) {
                cert_free(c);
                return NULL;
        }
        snprintf(name, sizeof(name), TLS_PROXY_MATERIAL_NAME_PREFIX "%s", c->path);
        r = tls_material_seal_file(c->path, name, &c->fd);
        if (r == -ENOMEM) {
                cert_free(c);
                return NULL;
        }
        if (r < 0)
                conf_errors_add(errors, where->file, where->line, "%s SSLProxyMachineCertificateFile: %s: %s", section,
                                where->value,
                                r == -EBADF   ? "not a regular file"
                                : r == -EFBIG ? "larger than 1 MiB: not a PEM file"
                                : r == -EIO   ? "it changed while it was read"
                                              : strerror(-r));
        else if (!l->sealed) {
                r = cert_parse_sealed(c, errors, warnings);
                c->fd = safe_close(c->fd);
        }
        if (r == -ENOMEM) {
                cert_free(c);
                return NULL;
        }
        c->failed = r < 0;
        c->next = l->certs;
        l->certs = c;
        return c;
}

/* Show cert (parsed) to the upstreams of ctx that ask; -EINVAL with the error added when OpenSSL
 * does not take it (a key too small for its security level…). */
static int client_use_cert(SSL_CTX *ctx, const TlsUpstreamCert *cert, ConfErrors *errors) {
        char reason[256];

        if (SSL_CTX_use_cert_and_key(ctx, cert->leaf, cert->key, cert->chain, 1) == 1 &&
            SSL_CTX_check_private_key(ctx) == 1)
                return 0;
        openssl_reason(reason, sizeof(reason));
        conf_errors_add(errors, cert->where->file, cert->where->line,
                        "%s SSLProxyMachineCertificateFile: %s: OpenSSL does not take it: %s", cert->section,
                        cert->path, reason);
        return -EINVAL;
}

int tls_upstream_clients_get(TlsUpstreamClients *l, const TlsUpstreamClientSpec *spec, void **ret, char **ret_error,
                             ConfErrors *errors, ConfErrors *warnings) {
        const char *ca_file = spec->verify ? spec->ca_file : NULL; /* nothing is checked: no store is needed */
        bool verify = spec->verify;
        const TlsUpstreamCert *cert = NULL;
        char reason[256];

        *ret_error = NULL;
        if (spec->client_cert) {
                cert = cert_get(l, spec->client_cert, spec->section, errors, warnings);
                if (!cert)
                        return -ENOMEM;
                if (cert->failed)
                        return -EINVAL; /* said when it was read */
        }
        for (TlsUpstreamClient *c = l->first; c; c = c->next)
                if (c->verify == verify && streq_ptr(c->ca_file, ca_file) && c->cert == cert) {
                        *ret = c->ctx;
                        return 0;
                }

        TlsUpstreamClient *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->verify = verify;
        c->cert = cert;
        c->ca_file = ca_file ? strdup(ca_file) : NULL;
        c->ctx = SSL_CTX_new(TLS_client_method());
        if ((ca_file && !c->ca_file) || !c->ctx) {
                SSL_CTX_free(c->ctx);
                free(c->ca_file);
                free(c);
                ERR_clear_error();
                return -ENOMEM;
        }
        SSL_CTX *ctx = c->ctx;
        int r = 0;
        (void) SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        static const unsigned char alpn[] = "\x08http/1.1";
        if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0)
                r = -ENOMEM;
        /* Tickets go to the thread's cache (on_new_session), not OpenSSL's internal one. */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, on_new_session);
        if (verify) {
                const char *file = ca_file ? ca_file : X509_get_default_cert_file();
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
                /* Loaded whole now (a file, not a hashed directory read per handshake). */
                if (r == 0 && SSL_CTX_load_verify_file(ctx, file) != 1) {
                        openssl_reason(reason, sizeof(reason));
                        if (asprintf(ret_error, "%s %s: cannot load its CA certificates: %s",
                                     ca_file ? "SSLProxyCACertificateFile" : "the system's CA store", file,
                                     reason) < 0)
                                *ret_error = NULL;
                        r = *ret_error ? -EINVAL : -ENOMEM;
                }
        } else
                SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        /* Shown to an upstream that asks (a CertificateRequest); checked already (cert_get()). A
         * sealed list's contexts get it in a child (the check) and in the pools, never here. */
        if (r == 0 && cert && !l->sealed)
                r = client_use_cert(ctx, cert, errors);
        if (r < 0) {
                SSL_CTX_free(ctx);
                free(c->ca_file);
                free(c);
                ERR_clear_error();
                return r;
        }
        c->next = l->first;
        l->first = c;
        *ret = ctx;
        return 0;
}

/* ---- key custody: a sealed list ------------------------------------------------------------ */

/* c's text parsed, and given to every context that uses it: 0, -EINVAL (errors added), -ENOMEM. */
static int cert_load(TlsUpstreamClients *l, TlsUpstreamCert *c, ConfErrors *errors, ConfErrors *warnings) {
        int r = cert_parse_sealed(c, errors, warnings);

        for (TlsUpstreamClient *cl = l->first; cl && r == 0; cl = cl->next)
                if (cl->cert == c)
                        r = client_use_cert(cl->ctx, c, errors); /* said once: the same for every context */
        ERR_clear_error();
        return r;
}

static int sealed_check(void *userdata, ConfErrors *errors, ConfErrors *warnings) {
        TlsUpstreamClients *l = userdata;
        int r = 0;

        for (TlsUpstreamCert *c = l->certs; c; c = c->next) {
                if (c->failed || c->fd < 0)
                        continue;
                int k = cert_load(l, c, errors, warnings);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = -EINVAL;
        }
        return r;
}

int tls_upstream_clients_check_sealed(TlsUpstreamClients *l, ConfErrors *errors, ConfErrors *warnings) {
        bool any = false;

        for (const TlsUpstreamCert *c = l ? l->certs : NULL; c && !any; c = c->next)
                any = !c->failed && c->fd >= 0;
        if (!l || !l->sealed || !any)
                return 0;
        /* The check parses every key: in a child, so that this process, which forks every pool, never
         * holds one. It reads the sealed memfds, the very bytes the pools will get. */
        return tls_check_in_child(sealed_check, l, errors, warnings);
}

bool tls_upstream_clients_sealed_file(const TlsUpstreamClients *l, size_t i, const char **ret_path, int *ret_fd) {
        const TlsUpstreamCert *c = l && l->sealed ? l->certs : NULL;

        for (; c && i > 0; i--)
                c = c->next;
        if (!c)
                return false;
        *ret_path = c->path;
        *ret_fd = c->failed ? -1 : c->fd;
        return true;
}

int tls_upstream_clients_open_pool(TlsUpstreamClients *l, bool (*own)(const char *path, void *userdata),
                                   void *userdata, ConfErrors *errors) {
        ConfErrors warnings = {}; /* said by the supervisor's check already */
        int r = 0;

        if (!l || !l->sealed)
                return 0;
        for (TlsUpstreamCert *c = l->certs; c; c = c->next) {
                if (c->fd >= 0 && !c->failed && own(c->path, userdata)) {
                        int k = cert_load(l, c, errors, &warnings);
                        if (k < 0 && r == 0)
                                r = k;
                        safe_close(c->fd);
                }
                /* Another site's was closed before the sandbox, and its number may be reused since. */
                c->fd = -1;
        }
        conf_errors_done(&warnings);
        return r;
}

void tls_upstream_clients_forget_sealed(TlsUpstreamClients *l) {
        for (TlsUpstreamCert *c = l ? l->certs : NULL; c; c = c->next)
                c->fd = -1;
}

/* ---- sessions (HttpUpstreamTlsOps) ------------------------------------------------------------ */

/* HttpUpstreamConn.tls */
typedef struct TlsUpstreamSession {
        SSL *ssl;
        char *name;  /* the name verified (the session cache's key): the target's may be a request's */
        bool failed; /* a fatal error: no close_notify, and OpenSSL forgets the session */
} TlsUpstreamSession;

static int upstream_start(HttpUpstreamConn *c, const HttpUpstreamTarget *t) {
        SSL_CTX *ctx = t->tls.client;
        TlsUpstreamSession *u = calloc(1, sizeof(*u));
        SSL *ssl = u ? SSL_new(ctx) : NULL;
        const char *name = t->tls.server_name ? t->tls.server_name : t->tls.server_ip;
        bool ok;

        if (u && name)
                u->name = strdup(name);
        if (!ssl || (name && !u->name)) {
                SSL_free(ssl);
                if (u)
                        free(u->name);
                free(u);
                ERR_clear_error();
                return -ENOMEM;
        }
        ok = SSL_set_fd(ssl, c->fd) == 1;
        SSL_set_connect_state(ssl);
        /* A session ticket may come in any later read, after the request that named it is gone. */
        SSL_set_app_data(ssl, u->name);
        if (ok && t->tls.server_name)
                ok = SSL_set_tlsext_host_name(ssl, t->tls.server_name) == 1;
        if (ok && t->tls.check_peer_name && SSL_CTX_get_verify_mode(ctx) != SSL_VERIFY_NONE) {
                X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
                X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                if (t->tls.server_name)
                        ok = SSL_set1_host(ssl, t->tls.server_name) == 1;
                else if (t->tls.server_ip)
                        ok = X509_VERIFY_PARAM_set1_ip_asc(p, t->tls.server_ip) == 1;
        }
        CachedSession *e = ok && name ? session_find(ctx, name) : NULL;
        if (e && e->session)
                (void) SSL_set_session(ssl, e->session);
        if (!ok) {
                SSL_free(ssl);
                free(u->name);
                free(u);
                ERR_clear_error();
                return -ENOMEM;
        }
        u->ssl = ssl;
        c->tls = u;
        return 0;
}

/* OpenSSL's reason, and what an alert about the client certificate means here. */
static void peer_reason(SSL *ssl, char *buf, size_t size) {
        unsigned long e = ERR_peek_last_error();
        int reason = ERR_GET_LIB(e) == ERR_LIB_SSL ? ERR_GET_REASON(e) : 0;
        bool has_cert = SSL_get_certificate(ssl) != NULL;
        const char *hint = NULL;
        char why[200];

        openssl_reason(why, sizeof(why));
        if (reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED ||
            (!has_cert && reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE))
                hint = has_cert ? NULL : "the upstream asks for a client certificate (SSLProxyMachineCertificateFile)";
        else if (has_cert && (reason == SSL_R_TLSV1_ALERT_UNKNOWN_CA || reason == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
                              reason == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN ||
                              reason == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED ||
                              reason == SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED))
                hint = "the upstream refused the client certificate (SSLProxyMachineCertificateFile)";
        if (hint)
                snprintf(buf, size, "%s: %s", hint, why);
        else
                snprintf(buf, size, "%s", why);
}

/* After a call that did not succeed: -EAGAIN (c->want_write set), 0 at the peer's close, or the
 * error, with its reason kept for upstream_error(). */
static ssize_t upstream_failed(HttpUpstreamConn *c, TlsUpstreamSession *u, int ret, int saved_errno) {
        SSL *ssl = u->ssl;
        int e = SSL_get_error(ssl, ret);

        switch (e) {
        case SSL_ERROR_WANT_READ:
                c->want_write = false;
                c->connecting = false; /* what it wrote went: the TCP connection is up */
                return -EAGAIN;
        case SSL_ERROR_WANT_WRITE:
                c->want_write = true;
                return -EAGAIN;
        case SSL_ERROR_ZERO_RETURN:
                ERR_clear_error();
                return 0;
        case SSL_ERROR_SYSCALL:
                ERR_clear_error();
                u->failed = true;
                if (saved_errno == 0)
                        return 0; /* the end of the stream without close_notify */
                return -saved_errno;
        default: {
                long v = SSL_get_verify_result(ssl);
                u->failed = true;
                if (v != X509_V_OK)
                        snprintf(last_error, sizeof(last_error), "the certificate was refused: %s",
                                 X509_verify_cert_error_string(v));
                else
                        peer_reason(ssl, last_error, sizeof(last_error));
                ERR_clear_error();
                return -EPROTO;
        }
        }
}

static ssize_t upstream_send(HttpUpstreamConn *c, const void *buf, size_t len) {
        TlsUpstreamSession *u = c->tls;
        SSL *ssl = u->ssl;
        size_t n = 0;

        ERR_clear_error();
        errno = 0;
        int ret = SSL_write_ex(ssl, buf, len, &n);
        if (ret == 1) {
                c->connecting = false;
                return (ssize_t) n;
        }
        ssize_t r = upstream_failed(c, u, ret, errno);
        if (r == -ECONNRESET || r == -EPIPE) {
                /* An upstream that refuses the client certificate says so in an alert after the
                 * client's side of a TLS 1.3 handshake is done, and closes: the request's write
                 * then meets the reset, while the alert waits in the socket. It is the reason. */
                char b[512];
                ERR_clear_error();
                errno = 0;
                ret = SSL_read_ex(ssl, b, sizeof(b), &n);
                if (ret != 1 && SSL_get_error(ssl, ret) == SSL_ERROR_SSL)
                        return upstream_failed(c, u, ret, errno);
                ERR_clear_error();
        }
        return r == 0 ? -EPIPE : r;
}

static ssize_t upstream_recv(HttpUpstreamConn *c, void *buf, size_t len) {
        TlsUpstreamSession *u = c->tls;
        SSL *ssl = u->ssl;
        size_t n = 0;

        ERR_clear_error();
        errno = 0;
        int ret = SSL_read_ex(ssl, buf, len, &n);
        if (ret == 1)
                return (ssize_t) n;
        return upstream_failed(c, u, ret, errno);
}

static bool upstream_pending(const HttpUpstreamConn *c) {
        const TlsUpstreamSession *u = c->tls;
        return SSL_has_pending(u->ssl) == 1;
}

/* close_notify, once, never waiting (a full socket buffer drops it). It also tells OpenSSL the
 * session ended cleanly: one freed without it is never resumed. */
static void session_shutdown(TlsUpstreamSession *u) {
        ERR_clear_error();
        if (!u->failed && SSL_is_init_finished(u->ssl) && !(SSL_get_shutdown(u->ssl) & SSL_SENT_SHUTDOWN))
                (void) SSL_shutdown(u->ssl);
        ERR_clear_error();
}

static void upstream_shutdown_write(HttpUpstreamConn *c) {
        session_shutdown(c->tls);
}

static const char *upstream_error(const HttpUpstreamConn *c) {
        return last_error;
}

static void upstream_free(HttpUpstreamConn *c) {
        TlsUpstreamSession *u = c->tls;
        session_shutdown(u);
        SSL_free(u->ssl);
        free(u->name);
        free(u);
        c->tls = NULL;
}

const HttpUpstreamTlsOps tls_upstream_ops = {
        .start = upstream_start,
        .send = upstream_send,
        .recv = upstream_recv,
        .pending = upstream_pending,
        .shutdown_write = upstream_shutdown_write,
        .error = upstream_error,
        .free = upstream_free,
};
