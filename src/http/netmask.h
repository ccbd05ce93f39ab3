/* SPDX-License-Identifier: MIT */
/* netmask.h — an address or network (ADDR or ADDR/BITS, IPv4 or IPv6) parsed once, and whether a
 * client's address (the text form the connection gives: "192.0.2.1", "2001:db8::1", or an IPv4
 * client on a dual-stack socket, "::ffff:192.0.2.1") is in it. ServerStatusAllow and Require ip
 * read the same form. Pure: no allocation, no I/O. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct HttpNetmask {
        int family; /* AF_INET or AF_INET6 */
        uint8_t addr[16];
        unsigned bits; /* 0 … 32 or 128 */
} HttpNetmask;

/* "ADDR" (all bits) or "ADDR/BITS". 0, or -EINVAL for anything else. */
int http_netmask_parse(const char *s, HttpNetmask *ret);

/* Is peer (an address in text form) in m? false for a peer that is not an address. */
bool http_netmask_contains(const HttpNetmask *m, const char *peer);
/* The same for an address already in binary form (AF_INET: 4 bytes, AF_INET6: 16). */
bool http_netmask_contains_binary(const HttpNetmask *m, int family, const uint8_t *addr);
