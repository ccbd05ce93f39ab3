/* SPDX-License-Identifier: MIT */
/* The TLS transport (tls-io.h) over a plain one: a real OpenSSL client on the other end of a
 * non-blocking socketpair, a certificate made here. The client reads through a memory BIO fed by
 * the test from the raw socket, so that the records the server wrote can be counted on the wire. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/socket-io.h"
#include "mpm/tls-io.h"

#define ROUNDS 100000 /* a bound on every loop: a hang is a failure, never a wait */

typedef struct Fixture {
        SSL_CTX *sctx, *cctx;
        SSL *client;
        BIO *crbio; /* what the client reads: the test puts the raw bytes of the socket here */
        int sfd, cfd;
        TlsIo *t;
        /* the raw bytes the client received, when capturing */
        bool capture;
        unsigned char raw[65536];
        size_t raw_len;
} Fixture;

static Fixture f;

static SSL_CTX *server_ctx(void) {
        EVP_PKEY *pkey = EVP_EC_gen("P-256");
        X509 *x = X509_new();
        SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

        cr_assert(pkey && x && ctx);
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_gmtime_adj(X509_getm_notBefore(x), 0);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
        X509_set_pubkey(x, pkey);
        X509_NAME *name = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) "localhost", -1, -1, 0);
        X509_set_issuer_name(x, name);
        cr_assert(X509_sign(x, pkey, EVP_sha256()) > 0);
        cr_assert_eq(SSL_CTX_use_certificate(ctx, x), 1);
        cr_assert_eq(SSL_CTX_use_PrivateKey(ctx, pkey), 1);
        X509_free(x);
        EVP_PKEY_free(pkey);
        return ctx;
}

static void setup(void) {
        int sv[2];

        f = (Fixture) {};
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        f.sfd = sv[0];
        f.cfd = sv[1];
        f.sctx = server_ctx();
        f.cctx = SSL_CTX_new(TLS_client_method());
        cr_assert(f.cctx);
        f.client = SSL_new(f.cctx);
        f.crbio = BIO_new(BIO_s_mem());
        SSL_set_bio(f.client, f.crbio, BIO_new_socket(f.cfd, BIO_NOCLOSE));
        SSL_set_connect_state(f.client);
        SSL_set_tlsext_host_name(f.client, "www.example.test");
}

static void teardown(void) {
        tls_io_free(f.t);
        SSL_free(f.client);
        SSL_CTX_free(f.cctx);
        SSL_CTX_free(f.sctx);
        close(f.sfd);
        close(f.cfd);
}

TestSuite(tls_io, .init = setup, .fini = teardown);

/* Move what reached the client's socket into its SSL (and the capture). Returns the bytes moved. */
static size_t client_pump(void) {
        unsigned char buf[16384];
        size_t total = 0;
        ssize_t k;

        while ((k = recv(f.cfd, buf, sizeof(buf), 0)) > 0) {
                BIO_write(f.crbio, buf, (int) k);
                if (f.capture) {
                        cr_assert_leq(f.raw_len + (size_t) k, sizeof(f.raw));
                        memcpy(f.raw + f.raw_len, buf, (size_t) k);
                        f.raw_len += (size_t) k;
                }
                total += (size_t) k;
        }
        return total;
}

/* Read what the client got, after pumping; returns bytes (0: nothing yet). */
static size_t client_read(void *buf, size_t n) {
        size_t got = 0;

        client_pump();
        if (SSL_read_ex(f.client, buf, n, &got) == 1)
                return got;
        int e = SSL_get_error(f.client, 0);
        cr_assert(e == SSL_ERROR_WANT_READ, "client read failed: %d", e);
        return 0;
}

/* Handshake both sides, the server's inside its reads. Counts the server's answers. */
typedef struct Answers {
        unsigned want_read, want_write;
} Answers;

static void handshake(const HttpIo *io, void *ctx, Answers *a) {
        for (int i = 0; i < ROUNDS; i++) {
                char b;
                client_pump();
                int r = SSL_do_handshake(f.client);
                if (r != 1)
                        cr_assert_eq(SSL_get_error(f.client, r), SSL_ERROR_WANT_READ);
                ssize_t k = io->read(ctx, &b, 1);
                cr_assert(http_io_is_wait(k), "the server read %zd during the handshake", k);
                if (k == HTTP_IO_WANT_READ)
                        a->want_read++;
                else
                        a->want_write++;
                if (r == 1 && tls_io_handshake_done(f.t))
                        return;
        }
        cr_assert_fail("the handshake did not finish");
}

static void start_plain(void) {
        f.t = tls_io_new(SSL_new(f.sctx), &socket_io, &f.sfd, f.sfd);
        cr_assert(f.t);
}

/* The plain transport under a TLS connection on the socket itself: it must never read or write. */
static ssize_t refuse_read(void *ctx, void *buf, size_t n) {
        cr_assert_fail("the plain transport was read: OpenSSL does not have the socket");
        return -EIO;
}

static ssize_t refuse_writev(void *ctx, const struct iovec *iov, int n) {
        cr_assert_fail("the plain transport was written: OpenSSL does not have the socket");
        return -EIO;
}

static const HttpIo refusing_io = { .read = refuse_read, .writev = refuse_writev };

static void start_on_socket(void) {
        f.t = tls_io_new_on_socket(SSL_new(f.sctx), &refusing_io, &f.sfd, f.sfd);
        cr_assert(f.t);
}

/* The server reads exactly n bytes (what the client wrote). */
static void server_read_exact(const HttpIo *io, void *ctx, char *buf, size_t n) {
        size_t got = 0;
        for (int i = 0; i < ROUNDS && got < n; i++) {
                ssize_t k = io->read(ctx, buf + got, n - got);
                if (http_io_is_wait(k)) {
                        client_pump();
                        continue;
                }
                cr_assert_gt(k, 0, "server read: %zd", k);
                got += (size_t) k;
        }
        cr_assert_eq(got, n);
}

static void client_write(const char *s) {
        size_t done;
        cr_assert_eq(SSL_write_ex(f.client, s, strlen(s), &done), 1);
        cr_assert_eq(done, strlen(s));
}

static void start_plain(void);
static void start_on_socket(void);

static void exchange(void (*start)(void));

Test(tls_io, handshake_request_and_response) {
        exchange(start_plain);
}

/* Where the kernel offers kTLS, OpenSSL gets the socket itself (its own BIO, the only one it
 * turns kTLS on for): the same exchange, the same waits, without the plain transport's reads. */
Test(tls_io, on_the_socket_itself_the_same_exchange) {
        exchange(start_on_socket);
}

static void exchange(void (*start)(void)) {
        static const char req[] = "GET / HTTP/1.1\r\nHost: www.example.test\r\n\r\n";
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n";
        static const char body[] = "Hello, world\n";
        char buf[256];
        Answers a = {};
        HttpTlsInfo info;

        start();
        cr_assert_not(tls_io.tls_info(f.t, &info), "no TLS facts before the handshake");
        handshake(&tls_io, f.t, &a);
        cr_assert_gt(a.want_read, 0, "the server waited for the client's flights");
        cr_assert(tls_io.tls_info(f.t, &info));
        cr_assert_str_eq(info.protocol, "TLSv1.3");
        cr_assert(info.cipher && strncmp(info.cipher, "TLS_", 4) == 0, "cipher %s", info.cipher);
        cr_assert_str_eq(info.sni, "www.example.test");
        cr_assert_not(info.ktls);
        cr_assert_not(tls_io_ktls(f.t));

        client_write(req);
        server_read_exact(&tls_io, f.t, buf, strlen(req));
        cr_assert_eq(memcmp(buf, req, strlen(req)), 0);
        cr_assert_eq(tls_io.read(f.t, buf, sizeof(buf)), HTTP_IO_WANT_READ, "nothing more was sent");

        struct iovec iov[2] = { { (void *) head, strlen(head) }, { (void *) body, strlen(body) } };
        cr_assert_eq(tls_io.writev(f.t, iov, 2), (ssize_t) (strlen(head) + strlen(body)));
        size_t got = 0;
        for (int i = 0; i < 100 && got < strlen(head) + strlen(body); i++)
                got += client_read(buf + got, sizeof(buf) - got);
        cr_assert_eq(got, strlen(head) + strlen(body));
        cr_assert_eq(memcmp(buf, head, strlen(head)), 0);
        cr_assert_eq(memcmp(buf + strlen(head), body, strlen(body)), 0);
}

/* An inner io that answers the way a busy transport does: reads one byte at a time with a
 * HTTP_IO_WANT_READ after each, and a first write that must wait. */
typedef struct SlowIo {
        int fd;
        bool gave;        /* the last read gave a byte: the next one waits */
        bool write_waited;
        bool stingy_write; /* the first writev answers HTTP_IO_WANT_WRITE */
        unsigned reads;
} SlowIo;

static ssize_t slow_read(void *ctx, void *buf, size_t n) {
        SlowIo *s = ctx;
        if (s->gave) {
                s->gave = false;
                return HTTP_IO_WANT_READ;
        }
        ssize_t k = socket_io.read(&s->fd, buf, 1);
        if (k == 1) {
                s->gave = true;
                s->reads++;
        }
        return k;
}

static ssize_t slow_writev(void *ctx, const struct iovec *iov, int n) {
        SlowIo *s = ctx;
        if (s->stingy_write && !s->write_waited) {
                s->write_waited = true;
                return HTTP_IO_WANT_WRITE;
        }
        return socket_io.writev(&s->fd, iov, n);
}

static const HttpIo slow_io = { .read = slow_read, .writev = slow_writev };

Test(tls_io, a_one_byte_at_a_time_transport_completes_the_handshake) {
        static const char req[] = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
        SlowIo s = { .fd = f.sfd };
        Answers a = {};
        char buf[64];

        f.t = tls_io_new(SSL_new(f.sctx), &slow_io, &s, f.sfd);
        cr_assert(f.t);
        handshake(&tls_io, f.t, &a);
        cr_assert_gt(s.reads, 200, "the ClientHello came byte by byte (%u reads)", s.reads);
        cr_assert_geq(a.want_read, s.reads / 2, "every byte was waited for");
        client_write(req);
        server_read_exact(&tls_io, f.t, buf, strlen(req));
        cr_assert_eq(memcmp(buf, req, strlen(req)), 0);
}

Test(tls_io, a_read_that_must_write_answers_want_write) {
        SlowIo s = { .fd = f.sfd, .stingy_write = true };
        Answers a = {};

        /* Bytes at a time would hide nothing here; whole reads, only the write waits once. */
        s.gave = false;
        f.t = tls_io_new(SSL_new(f.sctx), &slow_io, &s, f.sfd);
        handshake(&tls_io, f.t, &a);
        cr_assert(s.write_waited);
        cr_assert_eq(a.want_write, 1, "the read that had to send the server's flight waited for writing");
}

/* The records on the wire since the capture began: their count and the type of each. */
static unsigned wire_records(unsigned char type, size_t *ret_len) {
        unsigned n = 0;
        size_t p = 0;
        *ret_len = 0;
        while (p + 5 <= f.raw_len) {
                size_t len = (size_t) f.raw[p + 3] << 8 | f.raw[p + 4];
                cr_assert_leq(p + 5 + len, f.raw_len, "a cut record");
                if (f.raw[p] == type) {
                        n++;
                        *ret_len += len;
                }
                p += 5 + len;
        }
        cr_assert_eq(p, f.raw_len);
        return n;
}

static void settle(void) {
        char b[64];
        Answers a = {};
        handshake(&tls_io, f.t, &a);
        /* The session tickets the server sent after its Finished: read, so they are not counted. */
        for (int i = 0; i < 10; i++)
                cr_assert_eq(client_read(b, sizeof(b)), 0);
        f.capture = true;
        f.raw_len = 0;
}

Test(tls_io, a_head_and_a_small_body_are_one_record) {
        char head[200], body[13], buf[256];
        size_t len;

        memset(head, 'h', sizeof(head));
        memset(body, 'b', sizeof(body));
        start_plain();
        settle();
        struct iovec iov[3] = { { head, sizeof(head) }, { NULL, 0 }, { body, sizeof(body) } };
        cr_assert_eq(tls_io.writev(f.t, iov, 3), (ssize_t) (sizeof(head) + sizeof(body)));
        size_t got = client_read(buf, sizeof(buf));
        cr_assert_eq(got, sizeof(head) + sizeof(body));
        cr_assert_eq(wire_records(SSL3_RT_APPLICATION_DATA, &len), 1, "one record, not one per piece");
        cr_assert_eq(len, sizeof(head) + sizeof(body) + 1 + 16, "TLS 1.3: the content type and the tag");
}

/* Send n bytes of data with writev as the engine does: pieces of piece bytes, a call repeated
 * after a wait with the same bytes (from another buffer when moving), and what was done cut off the
 * front. The client takes what arrives meanwhile into out. Returns the waits seen. */
static unsigned engine_send(const unsigned char *data, size_t n, size_t piece, bool moving, unsigned char *out,
                            size_t *ret_partial) {
        size_t sent = 0, got = 0;
        unsigned waits = 0;
        *ret_partial = 0;

        for (int i = 0; i < ROUNDS && (sent < n || got < n); i++) {
                if (sent < n) {
                        struct iovec iov[3];
                        int k = 0;
                        size_t left = n - sent;
                        /* a copy at another address for a retry: equal bytes, moved buffer */
                        const unsigned char *base = data + sent;
                        _cleanup_free_ unsigned char *copy = NULL;
                        if (moving && waits % 2 == 1) {
                                copy = malloc(left);
                                memcpy(copy, base, left);
                                base = copy;
                        }
                        for (size_t off = 0; off < left && k < 3; k++) {
                                size_t c = MIN(piece, left - off);
                                iov[k] = (struct iovec) { (void *) (base + off), c };
                                off += c;
                        }
                        size_t offered = 0;
                        for (int j = 0; j < k; j++)
                                offered += iov[j].iov_len;
                        ssize_t w = tls_io.writev(f.t, iov, k);
                        if (w == HTTP_IO_WANT_WRITE)
                                waits++;
                        else {
                                cr_assert_gt(w, 0, "writev: %zd", w);
                                if ((size_t) w < offered)
                                        (*ret_partial)++;
                                sent += (size_t) w;
                        }
                }
                got += client_read(out + got, n - got);
        }
        cr_assert_eq(sent, n);
        cr_assert_eq(got, n);
        return waits;
}

static unsigned char *random_bytes(size_t n) {
        unsigned char *p = malloc(n);
        for (size_t i = 0; i < n; i++)
                p[i] = (unsigned char) (i * 7919 + (i >> 8));
        return p;
}

Test(tls_io, writev_partial_writes_and_the_same_call_repeated) {
        const size_t n = 300 * 1000;
        _cleanup_free_ unsigned char *data = random_bytes(n);
        _cleanup_free_ unsigned char *out = malloc(n);
        int small = 4096;
        size_t partial;

        cr_assert_eq(setsockopt(f.sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        start_plain();
        settle();
        f.capture = false;
        /* Small pieces, coalesced: each call takes one record of several pieces. */
        unsigned waits = engine_send(data, n, 7000, false, out, &partial);
        cr_assert_gt(waits, 0, "the socket filled up");
        cr_assert_gt(partial, 0, "a call took less than it was offered");
        cr_assert_eq(memcmp(out, data, n), 0, "the client got every byte in order");

        /* Large pieces, written from the caller's memory, and retried from a moved copy. */
        memset(out, 0, n);
        waits = engine_send(data, n, 64 * 1024, true, out, &partial);
        cr_assert_gt(waits, 1);
        cr_assert_gt(partial, 0);
        cr_assert_eq(memcmp(out, data, n), 0, "the client got every byte in order");
}

Test(tls_io, sendfile_without_ktls_sends_the_file_exactly) {
        const size_t n = 200 * 1000;
        _cleanup_free_ unsigned char *data = random_bytes(n);
        _cleanup_free_ unsigned char *out = malloc(n);
        char path[] = "/tmp/test-tls-io-XXXXXX";
        int small = 4096;
        int fd = mkstemp(path);
        unsigned waits = 0;

        cr_assert_geq(fd, 0);
        unlink(path);
        cr_assert_eq(write(fd, data, n), (ssize_t) n);
        cr_assert_eq(setsockopt(f.sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        start_plain();
        settle();
        f.capture = false;
        cr_assert(tls_io.sendfile, "the engine's own fallback is not what is tested");

        /* From an offset, as a range would: the bytes from 1000 on. */
        off_t off = 1000;
        size_t got = 0, want = n - 1000;
        for (int i = 0; i < ROUNDS && got < want; i++) {
                if ((size_t) off < n) {
                        ssize_t k = tls_io.sendfile(f.t, fd, &off, n - (size_t) off);
                        if (k == HTTP_IO_WANT_WRITE)
                                waits++;
                        else
                                cr_assert_gt(k, 0, "sendfile: %zd", k);
                }
                got += client_read(out + got, want - got);
        }
        cr_assert_eq((size_t) off, n);
        cr_assert_eq(got, want);
        cr_assert_gt(waits, 0);
        cr_assert_eq(memcmp(out, data + 1000, want), 0);
        close(fd);
}

Test(tls_io, shutdown_sends_close_notify_then_half_closes) {
        char b[16];
        size_t got;

        start_plain();
        settle();
        cr_assert_eq(tls_io.shutdown(f.t), 0);
        client_pump();
        cr_assert_eq(SSL_read_ex(f.client, b, sizeof(b), &got), 0);
        cr_assert_eq(SSL_get_error(f.client, 0), SSL_ERROR_ZERO_RETURN, "the client saw close_notify");
        cr_assert_eq(recv(f.cfd, b, sizeof(b), 0), 0, "and then the end of the stream");
        /* The lingering close still reads: what the client sends is taken (and dropped). */
        client_write("late");
        char in[16];
        server_read_exact(&tls_io, f.t, in, 4);
        cr_assert_eq(memcmp(in, "late", 4), 0);
}

Test(tls_io, a_garbage_client_hello_is_an_error_not_a_hang) {
        static const char junk[] = "GET / HTTP/1.1\r\nHost: plain.example\r\n\r\n";
        char b[64];
        ssize_t k = 0;

        start_plain();
        cr_assert_eq(write(f.cfd, junk, strlen(junk)), (ssize_t) strlen(junk));
        for (int i = 0; i < 100; i++) {
                k = tls_io.read(f.t, b, sizeof(b));
                if (!http_io_is_wait(k))
                        break;
        }
        cr_assert_lt(k, 0);
        cr_assert_not(http_io_is_wait(k), "an error, not a wait");
        cr_assert_eq(k, -EPROTO);
        cr_assert_eq(ERR_peek_error(), 0, "the thread's error queue is left empty");
        cr_assert_not(tls_io_handshake_done(f.t));
        /* And the connection stays failed: no close_notify for a session that never was. */
        cr_assert_eq(tls_io.read(f.t, b, sizeof(b)), -EPROTO);
        cr_assert_eq(tls_io.shutdown(f.t), 0);
}

Test(tls_io, the_peer_going_away_mid_handshake_is_an_error) {
        char b[8];
        ssize_t k;

        start_plain();
        client_pump();
        cr_assert_eq(SSL_do_handshake(f.client), -1); /* the ClientHello is out */
        k = tls_io.read(f.t, b, sizeof(b));
        cr_assert_eq(k, HTTP_IO_WANT_READ, "waiting for the client's Finished");
        shutdown(f.cfd, SHUT_WR);
        k = tls_io.read(f.t, b, sizeof(b));
        cr_assert_lt(k, 0);
        cr_assert_not(http_io_is_wait(k));
        cr_assert_eq(ERR_peek_error(), 0);
}
