/* SPDX-License-Identifier: MIT */
/* proxy-io.h — the PROXY protocol (HAProxy's send-proxy and send-proxy-v2, versions 1 and 2 of
 * its specification, proxy-protocol.txt) on the listeners RemoteIPProxyProtocol names: an HttpIo
 * over the plain transport that first takes the header the proxy sends before anything else, then
 * passes the stream through untouched. Below TLS (the header precedes the ClientHello), so an
 * HTTPS listener behind HAProxy works too; the engine learns the client with
 * HttpIo.proxied_peer() once a request head has come.
 *
 * Written by hand: the header is a few fixed fields (v1 one text line of at most 107 bytes, v2 a
 * 16-byte binary prefix and the addresses), and the connection must go on non-blocking inside
 * whichever MPM's loop holds it; no library of Debian's does that over our transport.
 *
 * Only a peer in RemoteIPTrustedProxy may send it: a connection from any other address is refused
 * before a byte is read (its header could name any client). A header that is malformed, too long
 * (v2 TLVs beyond PROXY_IO_HEADER_MAX) or absent is an error of the stream: -EPROTO, the connection
 * closes unanswered, as HAProxy and nginx do. LOCAL (v2, HAProxy's own health checks) and UNKNOWN
 * (v1) keep the socket's peer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/io.h"
#include "http/remote-ip.h"

#define PROXY_IO_HEADER_MAX 536 /* the largest header taken: v2's 16 bytes + 520 of addresses and TLVs */

/* What a header said. */
typedef struct ProxyHeader {
        bool local;       /* LOCAL / UNKNOWN, or a family we do not map (UNIX): the peer stays */
        int family;       /* AF_INET or AF_INET6 when !local */
        uint8_t addr[16]; /* the source: the client */
        uint16_t port;
} ProxyHeader;

/* Parse a header at the start of buf: its length (> 0) and *ret; 0 when buf is a valid prefix of
 * one and more is needed; -EPROTO when it is not a PROXY header or is malformed or too long. */
ssize_t proxy_header_parse(const uint8_t *buf, size_t len, ProxyHeader *ret);

typedef struct ProxyIo ProxyIo;

extern const HttpIo proxy_io;

/* Over inner (its ctx lent), for a connection from peer (text) on a PROXY listener; trusted: who
 * may send the header (the generation's, outlives the connection). NULL on -ENOMEM. */
ProxyIo *proxy_io_new(const HttpIo *inner, void *inner_ctx, const char *peer, const HttpNetworks *trusted);
ProxyIo *proxy_io_free(ProxyIo *p);
