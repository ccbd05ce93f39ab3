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

bool http_netmask_contains(const HttpNetmask *m, const char *peer) {
        uint8_t addr[16];
        int family;

        if (!peer)
                return false;
        if (inet_pton(AF_INET, peer, addr) == 1)
                family = AF_INET;
        else if (inet_pton(AF_INET6, peer, addr) == 1)
                family = AF_INET6;
        else
                return false;
        if (family == AF_INET6 && m->family == AF_INET && memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
                /* An IPv4 client on a dual-stack socket: compare its IPv4 part. */
                memmove(addr, addr + 12, 4);
                family = AF_INET;
        }
        if (family != m->family)
                return false;
        for (unsigned i = 0; i < m->bits; i++) {
                unsigned byte = i / 8, mask = 0x80u >> (i % 8);
                if ((m->addr[byte] & mask) != (addr[byte] & mask))
                        return false;
        }
        return true;
}
