/* SPDX-License-Identifier: MIT */
/* io.h — the transport below the engine: one non-blocking byte stream per connection. A plain
 * socket implements it today (src/mpm/socket-io.c, the event MPM's own in src/mpm/event.c), memory
 * in the tests and fuzzers (tests/http/memory-io.c); TLS (src/mpm/tls-io.c) is a second one over
 * the first, with nothing above this interface changing but what tls_info() tells.
 *
 * Contract: no call blocks. A call that cannot make progress answers which way the transport must
 * become ready before the same call is made again (with the same arguments, from the same
 * position):
 *   HTTP_IO_WANT_READ   wait until the connection is readable;
 *   HTTP_IO_WANT_WRITE  wait until it is writable.
 * The two are distinct because a transport may need the other direction: TLS can need to read (a
 * key update, a renegotiation) before a write can go on, and to write (its own handshake or alert
 * records) before a read can. A plain socket only ever answers its own direction: a read
 * HTTP_IO_WANT_READ, a write or sendfile HTTP_IO_WANT_WRITE. The engine waits for exactly what it
 * was told. Otherwise a call returns the bytes done (> 0), 0 from read at end of stream, or another
 * -errno (the connection is then closed). -EAGAIN is not an answer: a transport maps it to one of
 * the two. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Outside the range of errno values, so that they can never be taken for an error. */
#define HTTP_IO_WANT_READ (-0x10001)
#define HTTP_IO_WANT_WRITE (-0x10002)

static inline int http_io_is_wait(ssize_t r) {
        return r == HTTP_IO_WANT_READ || r == HTTP_IO_WANT_WRITE;
}

#define HTTP_TLS_SITE_UNKNOWN SIZE_MAX

/* What a TLS transport tells the layers above (the 421 check, CGI's HTTPS variables, the access
 * log's %{SSL_*}x): static strings or ones that live as long as the connection (the transport
 * keeps them in storage of its own, made once per connection and bounded). */
typedef struct HttpTlsInfo {
        const char *protocol; /* "TLSv1.3" */
        const char *cipher;   /* "TLS_AES_128_GCM_SHA256" */
        const char *sni;      /* the server name the client sent, NULL when none */
        bool ktls;            /* the kernel does the record layer (SSL_sendfile works) */
        /* The site (HttpServer.sites index) whose settings made the handshake, its SSLVerifyClient
         * among them; HTTP_TLS_SITE_UNKNOWN: not known. */
        size_t site;
        /* The client's certificate, mod_ssl's variables: client_verify is "NONE" (none presented),
         * "SUCCESS" or "FAILED:reason" (optional_no_ca let an unknown issuer through). The others
         * are NULL without a certificate (or one whose value is too long to keep): the subject's
         * and issuer's names as RFC 2253 strings ("CN=alice,O=Example"), the serial number in hex,
         * the end of validity as OpenSSL prints it ("Jan  1 00:00:00 2030 GMT"). */
        const char *client_verify;
        const char *client_s_dn, *client_i_dn, *client_serial, *client_v_end;
} HttpTlsInfo;

typedef struct HttpIo {
        ssize_t (*read)(void *ctx, void *buf, size_t n);
        ssize_t (*writev)(void *ctx, const struct iovec *iov, int n);
        /* n bytes of in_fd from *offset (advanced by what was sent). May be NULL (a transport that
         * cannot send a file as it is, TLS without kTLS): the engine then reads the file itself and
         * writes it with writev. */
        ssize_t (*sendfile)(void *ctx, int in_fd, off_t *offset, size_t n);
        /* End our direction of the stream (lingering close): 0, a wait (TLS: its close_notify must go
         * out first), or -errno. May be NULL: the connection is then closed at once. */
        int (*shutdown)(void *ctx);
        /* Bytes written but not yet acknowledged by the peer (SIOCOUTQ), for MinSendRate; may be
         * NULL (no rate is then enforced). */
        ssize_t (*unsent)(void *ctx);
        /* Make the coming close abortive (a reset that drops what the kernel still holds for the
         * client), for a client cut off for taking a response too slowly; may be NULL. */
        void (*reset)(void *ctx);
        /* The local address the connection came in on, as text (CGI's SERVER_ADDR); may be NULL. */
        int (*local_address)(void *ctx, char *buf, size_t size);
        /* TLS: fill *ret once the handshake is done and answer true; NULL or false: a plain
         * connection (or a handshake not finished). */
        bool (*tls_info)(void *ctx, HttpTlsInfo *ret);
        /* TLS: when the handshake failed over the client's certificate (none given where one is
         * required, or one that does not verify): OpenSSL's reason into buf, the site whose
         * settings refused it in *ret_site (as HttpTlsInfo.site), true; false for any other end.
         * For that site's error log. May be NULL. */
        bool (*tls_refused)(void *ctx, char *buf, size_t size, size_t *ret_site);
        /* The client a trusted proxy in front named (the PROXY protocol: src/mpm/proxy-io.c): its
         * address as text into buf and its port, true; NULL or false: the socket's peer is the
         * client. Asked when a request head has arrived (the header came before it). */
        bool (*proxied_peer)(void *ctx, char *buf, size_t size, uint16_t *ret_port);
} HttpIo;
