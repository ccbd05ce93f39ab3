/* SPDX-License-Identifier: MIT */
/* The client behind trusted proxies (remote-ip.h): networks, and X-Forwarded-For read right to left. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/remote-ip.h"

static HttpRemoteIpConfig config(const char *trusted) {
        HttpRemoteIpConfig c = { .header = "X-Forwarded-For" };
        char *why = NULL;
        ConfApplyContext ctx = { .replace_list = true };
        cr_assert_eq(http_remote_ip_parse_trusted(NULL, &c.trusted, trusted, &ctx, &why), 0, "%s", why ? why : "");
        return c;
}

static const char *client(const HttpRemoteIpConfig *c, const char *xff) {
        static char buf[64];
        if (!http_remote_ip_from_header(c, xff, strlen(xff), buf, sizeof(buf)))
                return NULL;
        return buf;
}

Test(remote_ip, networks) {
        HttpRemoteIpConfig c = config("10.0.0.0/8 192.0.2.10 2001:db8::/32 172.16.0.0/12");

        cr_assert(http_networks_contain(&c.trusted, "10.1.2.3"));
        cr_assert(http_networks_contain(&c.trusted, "192.0.2.10"));
        cr_assert_not(http_networks_contain(&c.trusted, "192.0.2.11"));
        cr_assert(http_networks_contain(&c.trusted, "2001:db8:1::5"));
        cr_assert_not(http_networks_contain(&c.trusted, "2001:db9::5"));
        cr_assert(http_networks_contain(&c.trusted, "172.31.255.255"));
        cr_assert_not(http_networks_contain(&c.trusted, "172.32.0.0"));
        cr_assert(http_networks_contain(&c.trusted, "::ffff:10.9.9.9"), "IPv4-mapped on a dual-stack socket");
        cr_assert_not(http_networks_contain(&c.trusted, "not an address"));
        http_networks_done(&c.trusted);
}

Test(remote_ip, bad_values_are_refused) {
        HttpNetworks n = {};
        ConfApplyContext ctx = { .replace_list = true };
        char *why = NULL;

        cr_assert_eq(http_remote_ip_parse_trusted(NULL, &n, "10.0.0.0/33", &ctx, &why), -EINVAL);
        cr_assert_str_eq(why, "\"10.0.0.0/33\" is not an address or a network such as 10.0.0.0/8");
        free(why);
        why = NULL;
        cr_assert_eq(http_remote_ip_parse_trusted(NULL, &n, "10.0.0.1 proxy.example", &ctx, &why), -EINVAL);
        cr_assert_eq(n.n, 0, "a refused line adds nothing");
        free(why);
        why = NULL;
        cr_assert_eq(http_remote_ip_check_header(NULL, NULL, "X-Forwarded For", &ctx, &why), -EINVAL);
        free(why);
}

Test(remote_ip, the_rightmost_untrusted_address_is_the_client) {
        HttpRemoteIpConfig c = config("10.0.0.0/8");

        cr_assert_str_eq(client(&c, "203.0.113.9"), "203.0.113.9");
        cr_assert_str_eq(client(&c, "198.51.100.1, 203.0.113.9, 10.0.0.2"), "203.0.113.9",
                         "a trusted hop is skipped, what the client wrote before is not believed");
        cr_assert_str_eq(client(&c, "forged, 203.0.113.9"), "203.0.113.9");
        cr_assert_str_eq(client(&c, "10.0.0.3 ,10.0.0.2"), "10.0.0.3", "all trusted: the leftmost");
        cr_assert_str_eq(client(&c, " 2001:DB8::1 "), "2001:db8::1", "canonical text");
        cr_assert_null(client(&c, "garbage"));
        cr_assert_null(client(&c, ""));
        cr_assert_null(client(&c, "203.0.113.9, 10.0.0.2, garbage"), "garbage where the nearest hop should be");
        http_networks_done(&c.trusted);
}
