/* SPDX-License-Identifier: MIT */
/* remote-ip.h — the client's address behind a load balancer or proxy (Apache's mod_remoteip):
 * which peers are trusted to say who the client is, the listeners whose connections start with a
 * PROXY protocol header (HAProxy's send-proxy / send-proxy-v2; read by src/mpm/proxy-io.c), and
 * the request header (X-Forwarded-For) believed from a trusted peer.
 *
 *   RemoteIPTrustedProxy = 10.0.0.0/8 192.0.2.10   the peers whose word is taken ([Server])
 *   RemoteIPProxyProtocol = 127.0.0.1:8080         Listen values that carry a PROXY header ([Server])
 *   RemoteIPHeader = X-Forwarded-For               the header ([Server]; none by default)
 *
 * What the client address then is: the PROXY header's source (a connection on such a listener from
 * a peer that is not trusted is closed unanswered: it could name any address), then, when the
 * peer so found is trusted too, RemoteIPHeader read right to left, each trusted address skipped,
 * the first other one being the client (Apache's rule, so a client cannot forge the part of the
 * list a trusted proxy wrote). The access log, Require ip, CGI's REMOTE_ADDR and the error log's
 * [client] all see that address. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/netmask.h"
#include "shared/conf-table.h"

/* A list of networks (netmask.h: an IPv4 network also matches IPv4-mapped IPv6 peers). */
typedef struct HttpNetworks {
        HttpNetmask *items;
        size_t n;
} HttpNetworks;

typedef struct HttpRemoteIpConfig {
        HttpNetworks trusted;  /* RemoteIPTrustedProxy */
        char **proxy_protocol; /* RemoteIPProxyProtocol: Listen values */
        char *header;          /* RemoteIPHeader; NULL: none */
} HttpRemoteIpConfig;

/* Is the address text (IPv4, IPv6 or IPv4-mapped IPv6) in one of the networks? */
bool http_networks_contain(const HttpNetworks *n, const char *addr);
/* The same for an address in binary form (family AF_INET: 4 bytes, AF_INET6: 16). */
bool http_networks_contain_binary(const HttpNetworks *n, int family, const uint8_t *addr);
void http_networks_done(HttpNetworks *n);

/* The client behind the trusted proxy peer, from a RemoteIPHeader value (comma-separated
 * addresses, the nearest last): the rightmost address that is not trusted, else the leftmost one.
 * Writes it into buf (size bytes) and returns true; false when value holds no valid address (the
 * peer stays the client). */
bool http_remote_ip_from_header(const HttpRemoteIpConfig *c, const char *value, size_t len, char *buf, size_t size);

int http_remote_ip_parse_trusted(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                 char **ret_error);
char *http_remote_ip_format_trusted(const ConfItem *item, const void *field);
int http_remote_ip_copy_trusted(const ConfItem *item, void *dst, const void *src);
void http_remote_ip_done_trusted(const ConfItem *item, void *field);
int http_remote_ip_check_header(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                char **ret_error);

#define HTTP_REMOTE_IP_AT(base, field) ((base) + offsetof(HttpRemoteIpConfig, field))
#define HTTP_REMOTE_IP_ROWS(base)                                                                            \
        { "RemoteIPTrustedProxy", CONF_CUSTOM, HTTP_REMOTE_IP_AT(base, trusted), NULL,                        \
          .flags = CONF_LIST | CONF_LIST_REPLACE, .contexts = CONF_CTX_SERVER,                                \
          .parse = http_remote_ip_parse_trusted, .format = http_remote_ip_format_trusted,                     \
          .copy = http_remote_ip_copy_trusted, .done = http_remote_ip_done_trusted, .size = sizeof(HttpNetworks), \
          .expect = "addresses or networks (ADDR/BITS) of the proxies in front" },                            \
        { "RemoteIPProxyProtocol", CONF_STRV, HTTP_REMOTE_IP_AT(base, proxy_protocol), NULL,                  \
          .flags = CONF_LIST_REPLACE, .contexts = CONF_CTX_SERVER,                                            \
          .expect = "Listen values whose connections start with a PROXY protocol header" },                  \
        { "RemoteIPHeader", CONF_STRING, HTTP_REMOTE_IP_AT(base, header), NULL, .contexts = CONF_CTX_SERVER,  \
          .parse = http_remote_ip_check_header, .expect = "a header name such as X-Forwarded-For" }
