/* SPDX-License-Identifier: MIT */
/* tls-io.c — TLS over an inner HttpIo (see tls-io.h for the contract and why a BIO of our own).
 *
 * The BIO's read and write are the inner io's read and writev: its HTTP_IO_WANT_READ/WRITE become
 * the BIO's retry flags, which SSL_get_error() turns into SSL_ERROR_WANT_READ/WRITE, which become
 * HTTP_IO_WANT_READ/WRITE again for the engine. An inner -errno is kept in the TlsIo (OpenSSL only
 * sees "failed") and handed up as it was. */
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpm/tls-io.h"
#include "mpm/tls-store.h"
#include "shared/macro.h"

/* Why a handshake failed over the client's certificate, for the site's error log. */
typedef enum TlsRefusal {
        TLS_REFUSED_NOT,
        TLS_REFUSED_NO_CERTIFICATE,
        TLS_REFUSED_UNVERIFIED,
} TlsRefusal;

/* The client certificate's variables (HttpTlsInfo), each bounded: a value that does not fit is not
 * given (a name cut short could pass for another). One allocation per connection that presented a
 * certificate, none for the others. */
#define TLS_IO_DN_MAX 1024
typedef struct TlsClientNames {
        char verify[128]; /* "SUCCESS", "FAILED:reason" */
        char s_dn[TLS_IO_DN_MAX], i_dn[TLS_IO_DN_MAX];
        char serial[132]; /* 64 octets in hex: RFC 5280 allows 20 */
        char v_end[48];
        bool has_s_dn, has_i_dn, has_serial, has_v_end;
} TlsClientNames;

struct TlsIo {
        SSL *ssl;
        const HttpIo *inner;
        void *inner_ctx;
        int fd;
        int inner_error; /* the inner io's last -errno, 0: none */
        bool handshake_done;
        bool failed;   /* a fatal error: no close_notify can be sent any more */
        bool notified; /* our close_notify is out (or cannot be sent) */
        bool socket_bio; /* OpenSSL reads and writes fd itself (for kTLS): errors are in errno */
        bool client_read; /* client is what the certificate says (or NULL: none, no memory) */
        TlsRefusal refused;
        long refused_error;     /* TLS_REFUSED_UNVERIFIED: the verification's X509_V_ERR_* */
        TlsClientNames *client; /* made once, when a certificate was presented */
};

/* One record's plaintext, shared by the connections of a thread: iovecs coalesced for one
 * SSL_write, or a file's bytes on their way to one. Never needed across calls: after a wait,
 * OpenSSL has the record already and the same call fills it again with the same bytes. */
static _Thread_local unsigned char tls_buffer[TLS_IO_RECORD_MAX];

/* ---- the BIO -------------------------------------------------------------------------------- */

static BIO_METHOD *tls_bio_method;
static pthread_once_t tls_bio_once = PTHREAD_ONCE_INIT;

static int tls_bio_set_wait(BIO *b, ssize_t k) {
        BIO_clear_retry_flags(b);
        if (k == HTTP_IO_WANT_READ)
                BIO_set_retry_read(b);
        else
                BIO_set_retry_write(b);
        return -1;
}

static int tls_bio_read(BIO *b, char *buf, int n) {
        TlsIo *t = BIO_get_data(b);
        ssize_t k = t->inner->read(t->inner_ctx, buf, (size_t) n);

        if (http_io_is_wait(k))
                return tls_bio_set_wait(b, k);
        BIO_clear_retry_flags(b);
        if (k < 0) {
                t->inner_error = (int) k;
                return -1;
        }
        return (int) k; /* 0: end of stream */
}

static int tls_bio_write(BIO *b, const char *buf, int n) {
        TlsIo *t = BIO_get_data(b);
        struct iovec iov = { (void *) buf, (size_t) n };
        ssize_t k = t->inner->writev(t->inner_ctx, &iov, 1);

        if (http_io_is_wait(k))
                return tls_bio_set_wait(b, k);
        BIO_clear_retry_flags(b);
        if (k <= 0) {
                t->inner_error = k < 0 ? (int) k : -EPIPE;
                return -1;
        }
        return (int) k;
}

static long tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
        TlsIo *t = BIO_get_data(b);

        switch (cmd) {
        case BIO_CTRL_FLUSH:
                return 1; /* nothing is buffered here: every write went to the inner io */
        case BIO_C_GET_FD:
                /* SSL_get_fd(): the connection's socket, for whoever asks (never read or written
                 * through it here). */
                if (!t)
                        return -1;
                if (ptr)
                        *(int *) ptr = t->fd;
                return t->fd;
        default:
                return 0; /* unknown, and the kTLS controls: not supported, OpenSSL goes on without */
        }
}

static int tls_bio_create(BIO *b) {
        BIO_set_init(b, 1);
        return 1;
}

static void tls_bio_method_make(void) {
        BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mpmd inner io");
        if (!m)
                return;
        if (!BIO_meth_set_read(m, tls_bio_read) || !BIO_meth_set_write(m, tls_bio_write) ||
            !BIO_meth_set_ctrl(m, tls_bio_ctrl) || !BIO_meth_set_create(m, tls_bio_create)) {
                BIO_meth_free(m);
                return;
        }
        tls_bio_method = m;
}

/* ---- the connection ------------------------------------------------------------------------- */

/* Can the kernel do the record layer (the "tls" upper-layer protocol, CONFIG_TLS)? Read once. */
static bool kernel_ktls;
static pthread_once_t kernel_ktls_once = PTHREAD_ONCE_INIT;

static void kernel_ktls_probe(void) {
        char buf[256] = "";
        FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "re");

        if (f) {
                if (fgets(buf, sizeof(buf), f))
                        for (char *save = NULL, *w = strtok_r(buf, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
                                if (strcmp(w, "tls") == 0)
                                        kernel_ktls = true;
                fclose(f);
        }
}

bool tls_io_kernel_has_ktls(void) {
        (void) pthread_once(&kernel_ktls_once, kernel_ktls_probe);
        return kernel_ktls;
}

/* The connection's SSL over our BIO (socket_bio false) or OpenSSL's own socket BIO on fd. */
static TlsIo *tls_io_make(SSL *ssl, const HttpIo *inner, void *inner_ctx, int fd, bool socket_bio) {
        TlsIo *t;
        BIO *b = NULL;

        if (!ssl)
                return NULL;
        (void) pthread_once(&tls_bio_once, tls_bio_method_make);
        t = socket_bio || tls_bio_method ? calloc(1, sizeof(*t)) : NULL;
        if (t && !socket_bio)
                b = BIO_new(tls_bio_method);
        if (!t || (socket_bio ? SSL_set_fd(ssl, fd) != 1 : !b)) {
                free(t);
                SSL_free(ssl);
                ERR_clear_error();
                return NULL;
        }
        *t = (TlsIo) { .ssl = ssl, .inner = inner, .inner_ctx = inner_ctx, .fd = fd, .socket_bio = socket_bio };
        if (b) {
                BIO_set_data(b, t);
                SSL_set_bio(ssl, b, b); /* one reference, taken by the SSL */
        }
        SSL_set_accept_state(ssl);
        /* Records are written one at a time and a retry may come from another buffer with the same
         * bytes (tls-io.h); an idle keep-alive connection gives its 2 × 16 KiB of buffers back. */
        SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
        /* Read what the socket has, not a record header then its body: half the reads. A short read
         * still means the socket is drained, as the event MPM's bookkeeping expects. */
        SSL_set_read_ahead(ssl, 1);
        /* A client that closes without close_notify ends the stream: HTTP/1.1 frames its requests
         * itself, so a cut can never pass for a whole one. */
        SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
        return t;
}

TlsIo *tls_io_new(SSL *ssl, const HttpIo *inner, void *inner_ctx, int fd) {
        return tls_io_make(ssl, inner, inner_ctx, fd, false);
}

TlsIo *tls_io_new_on_socket(SSL *ssl, const HttpIo *inner, void *inner_ctx, int fd) {
        return tls_io_make(ssl, inner, inner_ctx, fd, true);
}

TlsIo *tls_io_accept(const TlsStore *store, const char *listener_name, const HttpIo *inner, void *inner_ctx,
                     int fd, bool inner_is_socket) {
        if (!store)
                return NULL;
        SSL *ssl = tls_store_new_ssl(store, listener_name);
        /* kTLS only where the kernel can do it: OpenSSL turns it on over its own socket BIO only,
         * which would skip a layer between us and the socket (a PROXY header, proxy-io.h). */
        if (tls_io_kernel_has_ktls() && inner_is_socket)
                return tls_io_new_on_socket(ssl, inner, inner_ctx, fd);
        return tls_io_new(ssl, inner, inner_ctx, fd);
}

TlsIo *tls_io_free(TlsIo *t) {
        if (!t)
                return NULL;
        SSL_free(t->ssl);
        ERR_clear_error();
        free(t->client);
        free(t);
        return NULL;
}

bool tls_io_handshake_done(const TlsIo *t) {
        return t && t->handshake_done;
}

bool tls_io_ktls(const TlsIo *t) {
        return t && t->handshake_done && BIO_get_ktls_send(SSL_get_wbio(t->ssl));
}

/* Was it the client's certificate that failed the handshake? Reads the thread's error queue (which
 * the caller empties). */
static void tls_io_note_refusal(TlsIo *t) {
        for (unsigned long e = ERR_get_error(); e; e = ERR_get_error()) {
                if (ERR_GET_LIB(e) != ERR_LIB_SSL)
                        continue;
                if (ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
                        t->refused = TLS_REFUSED_NO_CERTIFICATE;
                        return;
                }
                if (ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
                        t->refused = TLS_REFUSED_UNVERIFIED;
                        t->refused_error = SSL_get_verify_result(t->ssl);
                        return;
                }
        }
}

/* What the engine gets for an OpenSSL call that returned r <= 0. */
static ssize_t tls_io_result(TlsIo *t, int r) {
        int e = SSL_get_error(t->ssl, r);
        ssize_t k;

        switch (e) {
        case SSL_ERROR_WANT_READ:
                return HTTP_IO_WANT_READ;
        case SSL_ERROR_WANT_WRITE:
                return HTTP_IO_WANT_WRITE;
        case SSL_ERROR_ZERO_RETURN:
                k = 0; /* close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) the end of the stream */
                break;
        case SSL_ERROR_SYSCALL:
                k = t->inner_error < 0 ? t->inner_error : t->socket_bio && errno > 0 ? -errno : -ECONNRESET;
                t->failed = true;
                break;
        default:
                /* An alert, a malformed record, a refused handshake: nothing more can be said, but
                 * a certificate that was refused is worth a line in the site's log. */
                if (!t->handshake_done)
                        tls_io_note_refusal(t);
                k = -EPROTO;
                t->failed = true;
                break;
        }
        ERR_clear_error();
        t->inner_error = 0;
        return k;
}

/* The handshake, inside the first read or write: 1 once done, else what the caller answers. */
static ssize_t tls_io_handshake(TlsIo *t) {
        if (_likely_(t->handshake_done))
                return 1;
        if (t->failed)
                return -EPROTO;
        int r = SSL_do_handshake(t->ssl);
        if (r != 1) {
                ssize_t k = tls_io_result(t, r);
                /* An end of stream in the middle of a handshake is the client giving up. */
                return k == 0 ? -ECONNRESET : k;
        }
        t->handshake_done = true;
        return 1;
}

static ssize_t tls_io_read(void *ctx, void *buf, size_t n) {
        TlsIo *t = ctx;
        size_t got;

        ssize_t k = tls_io_handshake(t);
        if (k != 1)
                return k;
        int r = SSL_read_ex(t->ssl, buf, n, &got);
        if (r == 1)
                return (ssize_t) got;
        return tls_io_result(t, r);
}

/* One SSL_write of at most one record. */
static ssize_t tls_io_write_one(TlsIo *t, const void *p, size_t n) {
        size_t done;

        int r = SSL_write_ex(t->ssl, p, MIN(n, (size_t) TLS_IO_RECORD_MAX), &done);
        if (r == 1)
                return (ssize_t) done;
        return tls_io_result(t, r);
}

static ssize_t tls_io_writev(void *ctx, const struct iovec *iov, int n) {
        TlsIo *t = ctx;
        size_t len = 0;

        ssize_t k = tls_io_handshake(t);
        if (k != 1)
                return k;
        while (n > 0 && iov[0].iov_len == 0) {
                iov++;
                n--;
        }
        if (n == 0)
                return 0;
        /* A first piece that fills a record goes as it is; otherwise the pieces are joined, so that
         * a head and a small body are one record, not two. */
        if (n == 1 || iov[0].iov_len >= TLS_IO_RECORD_MAX)
                return tls_io_write_one(t, iov[0].iov_base, iov[0].iov_len);
        for (int i = 0; i < n && len < sizeof(tls_buffer); i++) {
                size_t c = MIN(iov[i].iov_len, sizeof(tls_buffer) - len);
                if (c == 0)
                        continue; /* an empty piece may have no buffer at all */
                memcpy(tls_buffer + len, iov[i].iov_base, c);
                len += c;
        }
        return tls_io_write_one(t, tls_buffer, len);
}

static ssize_t tls_io_sendfile(void *ctx, int in_fd, off_t *offset, size_t n) {
        TlsIo *t = ctx;

        ssize_t k = tls_io_handshake(t);
        if (k != 1)
                return k;
        if (tls_io_ktls(t)) {
                ossl_ssize_t r = SSL_sendfile(t->ssl, in_fd, *offset, n, 0);
                if (r < 0)
                        return tls_io_result(t, (int) r);
                *offset += r;
                return r;
        }
        /* Read the range again on every call, the retry after a wait too: the record OpenSSL holds
         * then was made of the same bytes. */
        ssize_t got = pread(in_fd, tls_buffer, MIN(n, sizeof(tls_buffer)), *offset);
        if (got < 0)
                return -errno;
        if (got == 0)
                return -ENODATA; /* the file shrank under the promised length */
        k = tls_io_write_one(t, tls_buffer, (size_t) got);
        if (k > 0)
                *offset += k;
        return k;
}

static int tls_io_shutdown(void *ctx) {
        TlsIo *t = ctx;

        /* close_notify first, when a session exists to close; the peer's answer is not waited for
         * (the lingering close reads and drops whatever comes). After a wait the same call flushes
         * the record OpenSSL made. */
        if (t->handshake_done && !t->failed && !t->notified) {
                int r = SSL_shutdown(t->ssl);
                if (r < 0) {
                        ssize_t k = tls_io_result(t, r);
                        if (http_io_is_wait(k))
                                return (int) k;
                        /* It cannot be said: the TCP side is closed all the same. */
                }
                t->notified = true;
        }
        return t->inner->shutdown ? t->inner->shutdown(t->inner_ctx) : 0;
}

static ssize_t tls_io_unsent(void *ctx) {
        TlsIo *t = ctx;
        /* Bytes on the wire, records' overhead included: close enough for a rate in bytes per second. */
        return t->inner->unsent ? t->inner->unsent(t->inner_ctx) : -EOPNOTSUPP;
}

static void tls_io_reset(void *ctx) {
        TlsIo *t = ctx;
        if (t->inner->reset)
                t->inner->reset(t->inner_ctx);
}

static int tls_io_local_address(void *ctx, char *buf, size_t size) {
        TlsIo *t = ctx;
        return t->inner->local_address ? t->inner->local_address(t->inner_ctx, buf, size) : -EOPNOTSUPP;
}

/* What a print into b wrote, NUL-terminated into buf; false when nothing was printed or it does not
 * fit. Frees b. */
static bool bio_text(BIO *b, bool printed, char *buf, size_t size) {
        bool ok = false;

        if (b && printed) {
                int n = BIO_read(b, buf, (int) size);
                ok = n >= 0 && (size_t) n < size && BIO_pending(b) == 0;
                if (ok)
                        buf[n] = 0;
        }
        BIO_free(b);
        return ok;
}

/* X509_NAME_print_ex() with XN_FLAG_RFC2253, as mod_ssl prints SSL_CLIENT_S_DN: escaped to
 * printable ASCII ("CN=a\\,b,O=Example"). false when it does not fit. */
static bool name_print(const X509_NAME *name, char *buf, size_t size) {
        BIO *b = BIO_new(BIO_s_mem());
        return bio_text(b, b && name && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0, buf, size);
}

/* The serial as mod_ssl's SSL_CLIENT_M_SERIAL: hex digits, uppercase, in pairs. */
static bool serial_print(const ASN1_INTEGER *serial, char *buf, size_t size) {
        BIO *b = BIO_new(BIO_s_mem());
        return bio_text(b, b && serial && i2a_ASN1_INTEGER(b, serial) > 0, buf, size);
}

static bool time_print(const ASN1_TIME *tm, char *buf, size_t size) {
        BIO *b = BIO_new(BIO_s_mem());
        return bio_text(b, b && tm && ASN1_TIME_print(b, tm) == 1, buf, size);
}

/* The client certificate's variables, once per connection (a session resumed has the certificate
 * of the handshake that made it, and its result). */
static void tls_io_client_read(TlsIo *t) {
        X509 *peer = SSL_get1_peer_certificate(t->ssl);
        TlsClientNames *c;
        long result;

        t->client_read = true;
        if (!peer)
                return;
        c = calloc(1, sizeof(*c));
        if (c) {
                result = SSL_get_verify_result(t->ssl);
                if (result == X509_V_OK)
                        snprintf(c->verify, sizeof(c->verify), "SUCCESS");
                else
                        snprintf(c->verify, sizeof(c->verify), "FAILED:%s", X509_verify_cert_error_string(result));
                c->has_s_dn = name_print(X509_get_subject_name(peer), c->s_dn, sizeof(c->s_dn));
                c->has_i_dn = name_print(X509_get_issuer_name(peer), c->i_dn, sizeof(c->i_dn));
                c->has_serial = serial_print(X509_get0_serialNumber(peer), c->serial, sizeof(c->serial));
                c->has_v_end = time_print(X509_get0_notAfter(peer), c->v_end, sizeof(c->v_end));
        }
        X509_free(peer);
        ERR_clear_error();
        t->client = c;
}

static bool tls_io_info(void *ctx, HttpTlsInfo *ret) {
        TlsIo *t = ctx;
        const TlsClientNames *c;

        if (!t->handshake_done)
                return false;
        if (!t->client_read)
                tls_io_client_read(t);
        c = t->client;
        *ret = (HttpTlsInfo) {
                .protocol = SSL_get_version(t->ssl),
                .cipher = SSL_get_cipher_name(t->ssl),
                .sni = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name),
                .ktls = tls_io_ktls(t),
                .site = tls_store_ssl_site(t->ssl),
                /* A certificate whose variables could not be kept (no memory) is not taken for
                 * a verified one. */
                .client_verify = c                                   ? c->verify
                                 : SSL_get0_peer_certificate(t->ssl) ? "FAILED:out of memory"
                                                                     : "NONE",
                .client_s_dn = c && c->has_s_dn ? c->s_dn : NULL,
                .client_i_dn = c && c->has_i_dn ? c->i_dn : NULL,
                .client_serial = c && c->has_serial ? c->serial : NULL,
                .client_v_end = c && c->has_v_end ? c->v_end : NULL,
        };
        return true;
}

static bool tls_io_refused(void *ctx, char *buf, size_t size, size_t *ret_site) {
        TlsIo *t = ctx;

        switch (t->refused) {
        case TLS_REFUSED_NO_CERTIFICATE:
                snprintf(buf, size, "TLS handshake refused: the client sent no certificate (SSLVerifyClient require)");
                break;
        case TLS_REFUSED_UNVERIFIED:
                snprintf(buf, size, "TLS handshake refused: the client's certificate does not verify: %s",
                         X509_verify_cert_error_string(t->refused_error));
                break;
        default:
                return false;
        }
        *ret_site = tls_store_ssl_site(t->ssl);
        return true;
}

/* The PROXY header came below TLS (proxy-io.h): the transport under us knows the client. */
static bool tls_io_proxied_peer(void *ctx, char *buf, size_t size, uint16_t *ret_port) {
        TlsIo *t = ctx;
        return t->inner->proxied_peer && t->inner->proxied_peer(t->inner_ctx, buf, size, ret_port);
}

const HttpIo tls_io = {
        .read = tls_io_read,
        .writev = tls_io_writev,
        .sendfile = tls_io_sendfile,
        .shutdown = tls_io_shutdown,
        .unsent = tls_io_unsent,
        .reset = tls_io_reset,
        .local_address = tls_io_local_address,
        .tls_info = tls_io_info,
        .tls_refused = tls_io_refused,
        .proxied_peer = tls_io_proxied_peer,
};
