/* SPDX-License-Identifier: MIT */
/* The PROXY protocol (proxy-io.h): v1 and v2 headers parsed at every split point, the malformed
 * ones refused, and the transport: the header taken, the stream after it untouched, the client
 * reported, an untrusted peer refused before a byte is read. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "mpm/proxy-io.h"

static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

/* A v2 PROXY header for TCP over IPv4 from 192.0.2.7:4242 to 198.51.100.1:80, with extra TLV bytes. */
static size_t v2_ipv4(uint8_t *b, size_t tlv) {
        memcpy(b, sig, 12);
        b[12] = 0x21;
        b[13] = 0x11;
        size_t body = 12 + tlv;
        b[14] = (uint8_t) (body >> 8);
        b[15] = (uint8_t) body;
        inet_pton(AF_INET, "192.0.2.7", b + 16);
        inet_pton(AF_INET, "198.51.100.1", b + 20);
        b[24] = 4242 >> 8, b[25] = 4242 & 0xff, b[26] = 0, b[27] = 80;
        memset(b + 28, 0x04, tlv); /* TLV type 4 (NOOP) and its bytes: skipped */
        return 16 + body;
}

static void assert_every_prefix_needs_more(const uint8_t *b, size_t n) {
        ProxyHeader h;
        for (size_t k = 0; k < n; k++)
                cr_assert_eq(proxy_header_parse(b, k, &h), 0, "prefix of %zu of %zu bytes", k, n);
}

Test(proxy_header, v2_ipv4_at_every_split_point) {
        uint8_t b[128];
        ProxyHeader h;
        size_t n = v2_ipv4(b, 5);

        assert_every_prefix_needs_more(b, n);
        cr_assert_eq(proxy_header_parse(b, n, &h), (ssize_t) n);
        cr_assert_not(h.local);
        cr_assert_eq(h.family, AF_INET);
        cr_assert_eq(h.port, 4242);
        char text[INET6_ADDRSTRLEN];
        cr_assert_str_eq(inet_ntop(AF_INET, h.addr, text, sizeof(text)), "192.0.2.7");
        /* The stream after it is not the header's. */
        memcpy(b + n, "GET / HTTP/1.1\r\n", 16);
        cr_assert_eq(proxy_header_parse(b, n + 16, &h), (ssize_t) n);
}

Test(proxy_header, v2_ipv6_and_local) {
        uint8_t b[64] = {};
        ProxyHeader h;

        memcpy(b, sig, 12);
        b[12] = 0x21, b[13] = 0x21, b[15] = 36;
        inet_pton(AF_INET6, "2001:db8::7", b + 16);
        b[48] = 0x01, b[49] = 0xbb;
        cr_assert_eq(proxy_header_parse(b, 52, &h), 52);
        cr_assert_eq(h.family, AF_INET6);
        cr_assert_eq(h.port, 443);
        /* LOCAL (HAProxy's own checks): the peer stays, whatever follows. */
        b[12] = 0x20, b[13] = 0x00, b[15] = 0;
        cr_assert_eq(proxy_header_parse(b, 16, &h), 16);
        cr_assert(h.local);
        /* UNIX sockets are not mapped: the peer stays. */
        b[12] = 0x21, b[13] = 0x31, b[14] = 0, b[15] = 216;
        uint8_t u[16 + 216] = {};
        memcpy(u, b, 16);
        cr_assert_eq(proxy_header_parse(u, sizeof(u), &h), (ssize_t) sizeof(u));
        cr_assert(h.local);
}

Test(proxy_header, v2_malformed) {
        uint8_t b[PROXY_IO_HEADER_MAX + 64];
        ProxyHeader h;
        size_t n = v2_ipv4(b, 0);

        b[12] = 0x11; /* version 1 in the binary form */
        cr_assert_eq(proxy_header_parse(b, n, &h), -EPROTO);
        b[12] = 0x22; /* command 2 */
        cr_assert_eq(proxy_header_parse(b, n, &h), -EPROTO);
        b[12] = 0x21;
        b[15] = 11; /* IPv4 needs 12 bytes */
        cr_assert_eq(proxy_header_parse(b, 16 + 11, &h), -EPROTO);
        b[14] = 0x02, b[15] = 0x10; /* 528 bytes of body: past the limit */
        cr_assert_eq(proxy_header_parse(b, 16, &h), -EPROTO, "refused as soon as the length is known");
        b[14] = 0, b[15] = 12;
        b[13] = 0x51; /* an unknown family */
        cr_assert_eq(proxy_header_parse(b, n, &h), -EPROTO);
        b[0] = 0x0e;
        cr_assert_eq(proxy_header_parse(b, 1, &h), -EPROTO, "a wrong first byte is enough");
}

Test(proxy_header, v1_at_every_split_point_and_malformed) {
        static const char *good = "PROXY TCP4 192.0.2.7 198.51.100.1 4242 80\r\nGET /";
        size_t line = strlen("PROXY TCP4 192.0.2.7 198.51.100.1 4242 80\r\n");
        ProxyHeader h;

        assert_every_prefix_needs_more((const uint8_t *) good, line);
        cr_assert_eq(proxy_header_parse((const uint8_t *) good, strlen(good), &h), (ssize_t) line);
        cr_assert_eq(h.port, 4242);
        cr_assert_eq(h.family, AF_INET);
        static const char *v6 = "PROXY TCP6 2001:db8::7 2001:db8::1 1 443\r\n";
        cr_assert_eq(proxy_header_parse((const uint8_t *) v6, strlen(v6), &h), (ssize_t) strlen(v6));
        cr_assert_eq(h.family, AF_INET6);
        static const char *unknown = "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n";
        cr_assert_eq(proxy_header_parse((const uint8_t *) unknown, strlen(unknown), &h), (ssize_t) strlen(unknown));
        cr_assert(h.local);

        static const char *const bad[] = {
                "PROXY TCP4 192.0.2.7 198.51.100.1 4242\r\n",       /* a port missing */
                "PROXY TCP4 192.0.2.7 198.51.100.1 4242 80 9\r\n",  /* a word too many */
                "PROXY TCP4 2001:db8::7 198.51.100.1 4242 80\r\n",  /* IPv6 as TCP4 */
                "PROXY TCP4 192.0.2.7 198.51.100.1 65536 80\r\n",   /* a port out of range */
                "PROXY TCP5 192.0.2.7 198.51.100.1 1 80\r\n",
                "PROXY\r\n",
                "GET / HTTP/1.1\r\n",                               /* no header at all */
                "PROXX TCP4 1.2.3.4 1.2.3.4 1 1\r\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                cr_assert_eq(proxy_header_parse((const uint8_t *) bad[i], strlen(bad[i]), &h), -EPROTO, "%s", bad[i]);
        /* A line that never ends within the spec's 107 bytes. */
        char longline[200];
        memset(longline, 'x', sizeof(longline));
        memcpy(longline, "PROXY TCP4 ", 11);
        cr_assert_eq(proxy_header_parse((const uint8_t *) longline, sizeof(longline), &h), -EPROTO);
}

/* ---- the transport over a scripted inner one ----------------------------------------------- */

typedef struct Script {
        const uint8_t *data;
        size_t len, pos;
        size_t step; /* bytes per read; each read after one gives WANT_READ once (a new edge) */
        bool starved;
        unsigned reads;
} Script;

static ssize_t script_read(void *ctx, void *buf, size_t n) {
        Script *s = ctx;
        s->reads++;
        if (s->pos == s->len)
                return HTTP_IO_WANT_READ;
        if (s->starved) {
                s->starved = false;
                return HTTP_IO_WANT_READ;
        }
        s->starved = true;
        size_t k = n < s->step ? n : s->step;
        if (k > s->len - s->pos)
                k = s->len - s->pos;
        memcpy(buf, s->data + s->pos, k);
        s->pos += k;
        return (ssize_t) k;
}

static const HttpIo script_io = { .read = script_read };

static HttpNetworks trusted_localhost(void) {
        static HttpNetmask n;
        cr_assert_eq(http_netmask_parse("127.0.0.0/8", &n), 0);
        return (HttpNetworks) { .items = &n, .n = 1 };
}

Test(proxy_io, header_taken_in_pieces_then_the_stream_untouched) {
        uint8_t input[256];
        size_t n = v2_ipv4(input, 7);
        static const char body[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        memcpy(input + n, body, sizeof(body) - 1);
        HttpNetworks trusted = trusted_localhost();

        for (size_t step = 1; step <= n + sizeof(body); step++) {
                Script s = { .data = input, .len = n + sizeof(body) - 1, .step = step };
                ProxyIo *p = proxy_io_new(&script_io, &s, "127.0.0.1", &trusted);
                char out[256], peer[64];
                size_t got = 0;
                uint16_t port = 0;
                cr_assert_not(proxy_io.proxied_peer(p, peer, sizeof(peer), &port), "nothing known before the header");
                for (unsigned guard = 0; guard < 1000 && got < sizeof(body) - 1; guard++) {
                        ssize_t k = proxy_io.read(p, out + got, sizeof(out) - got);
                        cr_assert(k > 0 || k == HTTP_IO_WANT_READ, "step %zu: %zd", step, k);
                        if (k > 0)
                                got += (size_t) k;
                }
                cr_assert_eq(got, sizeof(body) - 1, "step %zu", step);
                cr_assert_eq(memcmp(out, body, got), 0, "step %zu: the stream after the header as it was", step);
                cr_assert(proxy_io.proxied_peer(p, peer, sizeof(peer), &port));
                cr_assert_str_eq(peer, "192.0.2.7");
                cr_assert_eq(port, 4242);
                proxy_io_free(p);
        }
}

Test(proxy_io, an_untrusted_peer_is_refused_before_a_byte_is_read) {
        uint8_t input[64];
        size_t n = v2_ipv4(input, 0);
        HttpNetworks trusted = trusted_localhost();
        Script s = { .data = input, .len = n, .step = n };
        ProxyIo *p = proxy_io_new(&script_io, &s, "192.0.2.99", &trusted);
        char out[64];

        cr_assert_eq(proxy_io.read(p, out, sizeof(out)), -EPROTO);
        cr_assert_eq(s.reads, 0);
        proxy_io_free(p);
}

Test(proxy_io, no_header_or_a_closed_stream_is_an_error) {
        static const uint8_t plain[] = "GET / HTTP/1.1\r\n\r\n";
        HttpNetworks trusted = trusted_localhost();
        Script s = { .data = plain, .len = sizeof(plain) - 1, .step = 100 };
        ProxyIo *p = proxy_io_new(&script_io, &s, "127.0.0.1", &trusted);
        char out[64];

        cr_assert_eq(proxy_io.read(p, out, sizeof(out)), -EPROTO, "a plain request where the header belongs");
        proxy_io_free(p);
}
