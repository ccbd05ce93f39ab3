/* SPDX-License-Identifier: MIT */
/* remote-ip.c — trusted proxies and the client address they report (see remote-ip.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http-chars.h"
#include "http/remote-ip.h"
#include "shared/macro.h"

bool http_networks_contain_binary(const HttpNetworks *n, int family, const uint8_t *addr) {
        for (size_t i = 0; i < n->n; i++)
                if (http_netmask_contains_binary(&n->items[i], family, addr))
                        return true;
        return false;
}

bool http_networks_contain(const HttpNetworks *n, const char *text) {
        uint8_t addr[16];

        if (inet_pton(AF_INET, text, addr) == 1)
                return http_networks_contain_binary(n, AF_INET, addr);
        if (inet_pton(AF_INET6, text, addr) == 1)
                return http_networks_contain_binary(n, AF_INET6, addr);
        return false;
}

void http_networks_done(HttpNetworks *n) {
        free(n->items);
        *n = (HttpNetworks) {};
}

/* One element of the list (spaces around it dropped), as an address we can use: true and *family,
 * addr, and its canonical text in buf. */
static bool element_address(const char *p, size_t len, int *family, uint8_t addr[static 16], char *buf, size_t size) {
        char text[INET6_ADDRSTRLEN + 2];

        while (len > 0 && (*p == ' ' || *p == '\t'))
                p++, len--;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
                len--;
        if (len == 0 || len >= sizeof(text))
                return false;
        memcpy(text, p, len);
        text[len] = 0;
        if (inet_pton(AF_INET, text, addr) == 1)
                *family = AF_INET;
        else if (inet_pton(AF_INET6, text, addr) == 1)
                *family = AF_INET6;
        else
                return false;
        return inet_ntop(*family, addr, buf, (socklen_t) size) != NULL;
}

bool http_remote_ip_from_header(const HttpRemoteIpConfig *c, const char *value, size_t len, char *buf, size_t size) {
        const char *end = value + len;
        bool found = false;

        /* Right to left: the nearest hop last. Trusted hops are skipped; the first other one is
         * the client, and what is left of it may be anything the client wrote. */
        while (end > value) {
                const char *comma = memrchr(value, ',', (size_t) (end - value));
                const char *start = comma ? comma + 1 : value;
                uint8_t addr[16];
                int family;

                if (!element_address(start, (size_t) (end - start), &family, addr, buf, size))
                        /* Garbage where an address should be: what was found so far stands (a
                         * trusted hop), or nothing does. */
                        return found;
                found = true;
                if (!http_networks_contain_binary(&c->trusted, family, addr))
                        return true;
                end = comma ? comma : value;
        }
        return found;
}

/* ---- the rows ------------------------------------------------------------------------------- */

int http_remote_ip_parse_trusted(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                 char **ret_error) {
        HttpNetworks *list = field;
        _cleanup_free_ char *copy = strdup(value);
        HttpNetworks add = {};
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                HttpNetmask n;
                if (http_netmask_parse(w, &n) < 0) {
                        free(add.items);
                        return conf_parse_error(ret_error, "\"%s\" is not an address or a network such as 10.0.0.0/8", w);
                }
                HttpNetmask *grown = reallocarray(add.items, add.n + 1, sizeof(HttpNetmask));
                if (!grown) {
                        free(add.items);
                        return -ENOMEM;
                }
                add.items = grown;
                add.items[add.n++] = n;
        }
        if (ctx->replace_list)
                http_networks_done(list);
        HttpNetmask *all = reallocarray(list->items, list->n + add.n + 1, sizeof(HttpNetmask));
        if (!all) {
                free(add.items);
                return -ENOMEM;
        }
        if (add.n > 0)
                memcpy(all + list->n, add.items, add.n * sizeof(HttpNetmask));
        list->items = all;
        list->n += add.n;
        free(add.items);
        return 0;
}

char *http_remote_ip_format_trusted(const ConfItem *item, const void *field) {
        const HttpNetworks *list = field;
        size_t size = list->n * (INET6_ADDRSTRLEN + 5) + 8;
        char *s = malloc(size), *p = s;

        if (!s)
                return NULL;
        *p = 0;
        for (size_t i = 0; i < list->n; i++) {
                char text[INET6_ADDRSTRLEN];
                const HttpNetmask *n = &list->items[i];
                if (!inet_ntop(n->family, n->addr, text, sizeof(text)))
                        continue;
                p += snprintf(p, size - (size_t) (p - s), "%s%s/%u", i ? " " : "", text, n->bits);
        }
        if (list->n == 0)
                snprintf(s, size, "(none)");
        return s;
}

int http_remote_ip_copy_trusted(const ConfItem *item, void *dst, const void *src) {
        const HttpNetworks *from = src;
        HttpNetworks copy = {};

        if (from->n > 0) {
                copy.items = malloc(from->n * sizeof(HttpNetmask));
                if (!copy.items)
                        return -ENOMEM;
                memcpy(copy.items, from->items, from->n * sizeof(HttpNetmask));
                copy.n = from->n;
        }
        http_networks_done(dst);
        *(HttpNetworks *) dst = copy;
        return 0;
}

void http_remote_ip_done_trusted(const ConfItem *item, void *field) {
        http_networks_done(field);
}

int http_remote_ip_check_header(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                char **ret_error) {
        for (const char *p = value; *p; p++)
                if (!char_is_tchar((unsigned char) *p))
                        return conf_parse_error(ret_error, "\"%s\" is not a header name", value);
        return 0;
}
