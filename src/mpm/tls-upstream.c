/* SPDX-License-Identifier: MIT */
/* tls-upstream.c — TLS to https:// upstreams (tls-upstream.h). */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpm/tls-upstream.h"
#include "shared/macro.h"

typedef struct TlsUpstreamClient {
        struct TlsUpstreamClient *next;
        char *ca_file; /* NULL: the system's */
        bool verify;
        SSL_CTX *ctx;
} TlsUpstreamClient;

struct TlsUpstreamClients {
        TlsUpstreamClient *first;
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
static _Thread_local char last_error[256];

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
        free(l);
        return NULL;
}

static bool same_file(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

int tls_upstream_clients_get(TlsUpstreamClients *l, const char *ca_file, bool verify, void **ret, char **ret_error) {
        char reason[256];

        *ret_error = NULL;
        if (!verify)
                ca_file = NULL; /* nothing is checked: no store is needed */
        for (TlsUpstreamClient *c = l->first; c; c = c->next)
                if (c->verify == verify && same_file(c->ca_file, ca_file)) {
                        *ret = c->ctx;
                        return 0;
                }

        TlsUpstreamClient *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->verify = verify;
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

/* ---- sessions (HttpUpstreamTlsOps) ------------------------------------------------------------ */

/* HttpUpstreamConn.tls */
typedef struct TlsUpstreamSession {
        SSL *ssl;
        bool failed; /* a fatal error: no close_notify, and OpenSSL forgets the session */
} TlsUpstreamSession;

static int upstream_start(HttpUpstreamConn *c, const HttpUpstreamTarget *t) {
        SSL_CTX *ctx = t->tls.client;
        TlsUpstreamSession *u = calloc(1, sizeof(*u));
        SSL *ssl = u ? SSL_new(ctx) : NULL;
        const char *name = t->tls.server_name ? t->tls.server_name : t->tls.server_ip;
        bool ok;

        if (!ssl) {
                free(u);
                ERR_clear_error();
                return -ENOMEM;
        }
        ok = SSL_set_fd(ssl, c->fd) == 1;
        SSL_set_connect_state(ssl);
        SSL_set_app_data(ssl, (void *) name);
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
                free(u);
                ERR_clear_error();
                return -ENOMEM;
        }
        u->ssl = ssl;
        c->tls = u;
        return 0;
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
                        openssl_reason(last_error, sizeof(last_error));
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
