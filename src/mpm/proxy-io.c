/* SPDX-License-Identifier: MIT */
/* proxy-io.c — the PROXY protocol header before the stream (see proxy-io.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mpm/proxy-io.h"
#include "shared/macro.h"

static const uint8_t v2_signature[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
#define V1_MAX 107 /* "PROXY TCP6 " + two addresses + two ports + spaces + CRLF, the spec's bound */

static ssize_t parse_v2(const uint8_t *buf, size_t len, ProxyHeader *ret) {
        if (len < 16)
                return 0;
        uint8_t ver_cmd = buf[12], fam = buf[13];
        size_t body = (size_t) buf[14] << 8 | buf[15];

        if (ver_cmd >> 4 != 2 || (ver_cmd & 0xf) > 1 || 16 + body > PROXY_IO_HEADER_MAX)
                return -EPROTO;
        if (len < 16 + body)
                return 0;
        ProxyHeader h = { .local = true };
        if ((ver_cmd & 0xf) == 1) {
                /* PROXY: the addresses of a TCP connection; anything else (UNSPEC, UDP, UNIX) keeps
                 * the peer, as the spec lets a receiver do. */
                if (fam == 0x11) {
                        if (body < 12)
                                return -EPROTO;
                        h = (ProxyHeader) { .family = AF_INET, .port = (uint16_t) (buf[24] << 8 | buf[25]) };
                        memcpy(h.addr, buf + 16, 4);
                } else if (fam == 0x21) {
                        if (body < 36)
                                return -EPROTO;
                        h = (ProxyHeader) { .family = AF_INET6, .port = (uint16_t) (buf[48] << 8 | buf[49]) };
                        memcpy(h.addr, buf + 16, 16);
                } else if ((fam >> 4) > 3 || (fam & 0xf) > 2)
                        return -EPROTO;
        }
        *ret = h;
        return (ssize_t) (16 + body);
}

/* "PROXY TCP4 SRC DST SPORT DPORT\r\n", "PROXY TCP6 …", or "PROXY UNKNOWN…\r\n". */
static ssize_t parse_v1(const uint8_t *buf, size_t len, ProxyHeader *ret) {
        const uint8_t *crlf = NULL;
        char line[V1_MAX + 1], *save = NULL;

        for (size_t i = 0; i + 1 < len && i < V1_MAX; i++)
                if (buf[i] == '\r' && buf[i + 1] == '\n') {
                        crlf = buf + i;
                        break;
                }
        if (!crlf)
                return len >= V1_MAX ? -EPROTO : 0;
        size_t n = (size_t) (crlf - buf);
        memcpy(line, buf, n);
        line[n] = 0;
        if (memchr(line, 0, n))
                return -EPROTO;
        char *w[6], *t = strtok_r(line, " ", &save);
        size_t k = 0;
        for (; t && k < ELEMENTSOF(w); t = strtok_r(NULL, " ", &save))
                w[k++] = t;
        if (k < 2 || strcmp(w[0], "PROXY") != 0)
                return -EPROTO;
        ProxyHeader h = { .local = true };
        if (strcmp(w[1], "UNKNOWN") != 0) {
                int family = strcmp(w[1], "TCP4") == 0 ? AF_INET : strcmp(w[1], "TCP6") == 0 ? AF_INET6 : 0;
                uint8_t dst[16];
                uint64_t sport, dport;
                if (!family || k != 6 || t || inet_pton(family, w[2], h.addr) != 1 ||
                    inet_pton(family, w[3], dst) != 1 || parse_uint64(w[4], &sport) < 0 || sport > 65535 ||
                    parse_uint64(w[5], &dport) < 0 || dport > 65535)
                        return -EPROTO;
                h.local = false;
                h.family = family;
                h.port = (uint16_t) sport;
        }
        *ret = h;
        return (ssize_t) (n + 2);
}

ssize_t proxy_header_parse(const uint8_t *buf, size_t len, ProxyHeader *ret) {
        size_t common = MIN(len, sizeof(v2_signature));

        if (len == 0)
                return 0;
        if (memcmp(buf, v2_signature, common) == 0)
                return common < sizeof(v2_signature) ? 0 : parse_v2(buf, len, ret);
        if (memcmp(buf, "PROXY ", MIN(len, 6)) == 0)
                return len < 6 ? 0 : parse_v1(buf, len, ret);
        return -EPROTO;
}

/* ---- the transport ------------------------------------------------------------------------ */

struct ProxyIo {
        const HttpIo *inner;
        void *inner_ctx;
        bool trusted;
        bool done;         /* the header is taken: pass through */
        ProxyHeader header;
        size_t have, next; /* buf[next..have): stream bytes read with the header, not yet given */
        uint8_t buf[PROXY_IO_HEADER_MAX];
};

ProxyIo *proxy_io_new(const HttpIo *inner, void *inner_ctx, const char *peer, const HttpNetworks *trusted) {
        ProxyIo *p = malloc(sizeof(*p));

        if (!p)
                return NULL;
        *p = (ProxyIo) { .inner = inner, .inner_ctx = inner_ctx, .trusted = http_networks_contain(trusted, peer) };
        return p;
}

ProxyIo *proxy_io_free(ProxyIo *p) {
        free(p);
        return NULL;
}

/* Read until the header is whole; bytes after it stay in buf for the stream. */
static ssize_t proxy_take_header(ProxyIo *p) {
        if (!p->trusted)
                return -EPROTO;
        for (;;) {
                ssize_t k = proxy_header_parse(p->buf, p->have, &p->header);
                if (k < 0)
                        return k;
                if (k > 0) {
                        p->next = (size_t) k;
                        p->done = true;
                        return 0;
                }
                if (p->have == sizeof(p->buf))
                        return -EPROTO;
                /* What comes with the header (a request, a ClientHello) is kept for the stream. */
                ssize_t n = p->inner->read(p->inner_ctx, p->buf + p->have, sizeof(p->buf) - p->have);
                if (n == 0)
                        return -ECONNRESET;
                if (n < 0)
                        return n; /* HTTP_IO_WANT_READ or an error */
                p->have += (size_t) n;
        }
}

static ssize_t proxy_read(void *ctx, void *buf, size_t n) {
        ProxyIo *p = ctx;

        if (!p->done) {
                ssize_t r = proxy_take_header(p);
                if (r < 0)
                        return r;
        }
        if (p->next < p->have) {
                size_t k = MIN(n, p->have - p->next);
                memcpy(buf, p->buf + p->next, k);
                p->next += k;
                return (ssize_t) k;
        }
        return p->inner->read(p->inner_ctx, buf, n);
}

static ssize_t proxy_writev(void *ctx, const struct iovec *iov, int n) {
        ProxyIo *p = ctx;
        return p->inner->writev(p->inner_ctx, iov, n);
}

static ssize_t proxy_sendfile(void *ctx, int in_fd, off_t *offset, size_t n) {
        ProxyIo *p = ctx;
        return p->inner->sendfile ? p->inner->sendfile(p->inner_ctx, in_fd, offset, n) : -EOPNOTSUPP;
}

static int proxy_shutdown(void *ctx) {
        ProxyIo *p = ctx;
        return p->inner->shutdown ? p->inner->shutdown(p->inner_ctx) : 0;
}

static ssize_t proxy_unsent(void *ctx) {
        ProxyIo *p = ctx;
        return p->inner->unsent ? p->inner->unsent(p->inner_ctx) : -EOPNOTSUPP;
}

static void proxy_reset(void *ctx) {
        ProxyIo *p = ctx;
        if (p->inner->reset)
                p->inner->reset(p->inner_ctx);
}

static int proxy_local_address(void *ctx, char *buf, size_t size) {
        ProxyIo *p = ctx;
        return p->inner->local_address ? p->inner->local_address(p->inner_ctx, buf, size) : -EOPNOTSUPP;
}

static bool proxy_peer(void *ctx, char *buf, size_t size, uint16_t *ret_port) {
        ProxyIo *p = ctx;

        if (!p->done || p->header.local || !inet_ntop(p->header.family, p->header.addr, buf, (socklen_t) size))
                return false;
        *ret_port = p->header.port;
        return true;
}

const HttpIo proxy_io = {
        .read = proxy_read,
        .writev = proxy_writev,
        .sendfile = proxy_sendfile,
        .shutdown = proxy_shutdown,
        .unsent = proxy_unsent,
        .reset = proxy_reset,
        .local_address = proxy_local_address,
        .proxied_peer = proxy_peer,
};
