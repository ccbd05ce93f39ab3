/* SPDX-License-Identifier: MIT */
/* netmask.c — addresses and networks (netmask.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "http/netmask.h"
#include "shared/conf-table.h"

int http_netmask_parse(const char *s, HttpNetmask *ret) {
        const char *slash = strchr(s, '/');
        size_t hl = slash ? (size_t) (slash - s) : strlen(s);
        HttpNetmask m = {};
        char host[64];
        uint64_t bits;

        if (hl == 0 || hl >= sizeof(host))
                return -EINVAL;
        memcpy(host, s, hl);
        host[hl] = 0;
        if (inet_pton(AF_INET, host, m.addr) == 1)
                m.family = AF_INET;
        else if (inet_pton(AF_INET6, host, m.addr) == 1)
                m.family = AF_INET6;
        else
                return -EINVAL;
        unsigned max = m.family == AF_INET ? 32 : 128;
        if (!slash)
                bits = max;
        else if (parse_uint64(slash + 1, &bits) < 0 || bits > max)
                return -EINVAL;
        m.bits = (unsigned) bits;
        *ret = m;
        return 0;
}

bool http_netmask_contains_binary(const HttpNetmask *m, int family, const uint8_t *addr) {
        if (family == AF_INET6 && m->family == AF_INET && memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
                /* An IPv4 client on a dual-stack socket: compare its IPv4 part. */
                addr += 12;
                family = AF_INET;
        }
        if (family != m->family)
                return false;
        unsigned full = m->bits / 8, rest = m->bits % 8;
        if (memcmp(addr, m->addr, full) != 0)
                return false;
        return rest == 0 || ((addr[full] ^ m->addr[full]) & (uint8_t) (0xff00u >> rest)) == 0;
}

bool http_netmask_contains(const HttpNetmask *m, const char *peer) {
        uint8_t addr[16];

        if (!peer)
                return false;
        if (inet_pton(AF_INET, peer, addr) == 1)
                return http_netmask_contains_binary(m, AF_INET, addr);
        if (inet_pton(AF_INET6, peer, addr) == 1)
                return http_netmask_contains_binary(m, AF_INET6, addr);
        return false;
}
