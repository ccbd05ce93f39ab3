/* SPDX-License-Identifier: MIT */
/* The reverse proxy's configuration and its upstream layer (src/http/proxy-config.h, upstream.h):
 * targets parsed and refused with a reason, ProxyPass matching on segment boundaries with
 * exclusions, ProxyPassReverse's rewriting, and the per-thread pool against real sockets: reuse,
 * the max= bound, an idle connection the upstream closed, ttl. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "http/proxy-config.h"
#include "http/site-config.h"
#include "http/upstream.h"
#include "shared/time-util.h"

/* ---- targets ---------------------------------------------------------------------------------- */

Test(proxy, targets_parse_in_apache_spelling) {
        HttpUpstreamTarget t;
        char *why = NULL;

        cr_assert_eq(http_upstream_target_parse(&t, HTTP_UPSTREAM_HTTP, "http://127.0.0.1:8000/app/", &why), 0, "%s", why);
        cr_assert_eq(t.addr.ss_family, AF_INET);
        cr_assert_eq(ntohs(((struct sockaddr_in *) &t.addr)->sin_port), 8000);
        cr_assert_str_eq(t.authority, "127.0.0.1:8000");
        cr_assert_str_eq(t.path, "/app/");
        cr_assert_eq(t.limits.max, HTTP_UPSTREAM_MAX_DEFAULT);
        cr_assert_eq(t.limits.ttl, HTTP_UPSTREAM_TTL_DEFAULT);
        cr_assert_eq(t.limits.queue, HTTP_UPSTREAM_QUEUE_DEFAULT);
        cr_assert_eq(t.limits.acquire, 0);
        http_upstream_target_done(&t);

        cr_assert_eq(http_upstream_target_parse(&t, HTTP_UPSTREAM_HTTP, "http://[::1]/ max=3 ttl=5 timeout=7 "
                                                                        "connectiontimeout=2 acquire=1500 queue=9 "
                                                                        "disablereuse=On",
                                                &why),
                     0, "%s", why);
        cr_assert_eq(t.addr.ss_family, AF_INET6);
        cr_assert_eq(ntohs(((struct sockaddr_in6 *) &t.addr)->sin6_port), 80);
        cr_assert_eq(t.limits.max, 3);
        cr_assert_eq(t.limits.ttl, 5 * USEC_PER_SEC);
        cr_assert_eq(t.limits.timeout, 7 * USEC_PER_SEC);
        cr_assert_eq(t.limits.connection_timeout, 2 * USEC_PER_SEC);
        cr_assert_eq(t.limits.acquire, 1500 * USEC_PER_MSEC);
        cr_assert_eq(t.limits.queue, 9);
        cr_assert(t.limits.disable_reuse);
        char *f = http_upstream_target_format(&t);
        cr_assert_str_eq(f, "http://[::1]/ max=3 ttl=5 timeout=7 connectiontimeout=2 acquire=1500 queue=9 "
                            "disablereuse=On");
        free(f);
        http_upstream_target_done(&t);

        cr_assert_eq(http_upstream_target_parse(&t, HTTP_UPSTREAM_HTTP, "unix:/run/app.sock|http://app/base", &why), 0);
        cr_assert(t.unix_socket);
        cr_assert_eq(t.addr.ss_family, AF_UNIX);
        cr_assert_str_eq(((struct sockaddr_un *) &t.addr)->sun_path, "/run/app.sock");
        cr_assert_str_eq(t.authority, "app");
        cr_assert_str_eq(t.path, "/base");
        cr_assert_eq(http_upstream_target_family(&t), 1u << AF_UNIX);
        http_upstream_target_done(&t);

        cr_assert_eq(http_upstream_target_parse(&t, HTTP_UPSTREAM_FCGI, "unix:/run/php/php8.2-fpm.sock|fcgi://localhost",
                                                &why),
                     0);
        cr_assert_eq(t.protocol, HTTP_UPSTREAM_FCGI);
        http_upstream_target_done(&t);
        cr_assert_eq(http_upstream_target_parse(&t, HTTP_UPSTREAM_FCGI, "fcgi://127.0.0.1", &why), 0);
        cr_assert_eq(ntohs(((struct sockaddr_in *) &t.addr)->sin_port), 8000); /* mod_proxy_fcgi's default */
        http_upstream_target_done(&t);
}

Test(proxy, https_targets_name_what_the_certificate_is_checked_against) {
        HttpUpstreamTarget t, copy;
        char *why = NULL;

        cr_assert_eq(http_upstream_target_parse(&t, HTTP_UPSTREAM_HTTP, "https://localhost/app/", &why), 0, "%s", why);
        cr_assert(t.tls.enabled);
        cr_assert(t.tls.check_peer_name);
        cr_assert_str_eq(t.tls.server_name, "localhost");
        cr_assert_null(t.tls.server_ip);
        cr_assert_null(t.tls.client); /* built with the configuration, not by the parser */
        cr_assert_eq(ntohs(((struct sockaddr_in *) &t.addr)->sin_port), 443);
        cr_assert_str_eq(t.path, "/app/");
        cr_assert_eq(http_upstream_target_copy(&copy, &t), 0);
        cr_assert_str_eq(copy.tls.server_name, "localhost");
        cr_assert_neq(copy.tls.server_name, t.tls.server_name);
        http_upstream_target_done(&copy);
        http_upstream_target_done(&t);

        /* An address is checked as one, and sends no SNI. */
        cr_assert_eq(http_upstream_target_parse(&t, HTTP_UPSTREAM_HTTP, "https://[::1]:8443/", &why), 0, "%s", why);
        cr_assert_null(t.tls.server_name);
        cr_assert_str_eq(t.tls.server_ip, "::1");
        cr_assert_eq(ntohs(((struct sockaddr_in6 *) &t.addr)->sin6_port), 8443);
        http_upstream_target_done(&t);
        cr_assert_eq(http_upstream_target_parse(&t, HTTP_UPSTREAM_HTTP, "https://127.0.0.1:8443", &why), 0, "%s", why);
        cr_assert_str_eq(t.tls.server_ip, "127.0.0.1");
        http_upstream_target_done(&t);

        cr_assert_eq(http_upstream_target_parse(&t, HTTP_UPSTREAM_HTTP, "unix:/run/app.sock|https://app.internal/", &why),
                     0, "%s", why);
        cr_assert(t.tls.enabled);
        cr_assert_str_eq(t.tls.server_name, "app.internal");
        http_upstream_target_done(&t);

        /* Plain targets stay plain. */
        cr_assert_eq(http_upstream_target_parse(&t, HTTP_UPSTREAM_HTTP, "http://127.0.0.1/", &why), 0, "%s", why);
        cr_assert(!t.tls.enabled);
        http_upstream_target_done(&t);
}

Test(proxy, preserved_host_names_the_sni_and_the_certificate_check) {
        static const struct {
                const char *host, *name, *ip;
        } cases[] = {
                { "app.example", "app.example", NULL },
                { "App.Example:8443", "app.example", NULL }, /* no port; case does not make another name */
                { "app.example.", "app.example", NULL },     /* SNI carries no final dot */
                { "192.0.2.7:80", NULL, "192.0.2.7" },       /* an address: no SNI, checked as an address */
                { "[2001:db8::1]:443", NULL, "2001:db8::1" },
        };
        HttpUpstreamTarget t, h;
        char name[HTTP_UPSTREAM_TLS_NAME_MAX], *why = NULL;

        cr_assert_eq(http_upstream_target_parse(&t, HTTP_UPSTREAM_HTTP, "https://localhost:8443/app/ max=3", &why), 0,
                     "%s", why);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                cr_assert_eq(http_upstream_target_for_host(&t, cases[i].host, strlen(cases[i].host), &h, name), 0,
                             "%s", cases[i].host);
                if (cases[i].name)
                        cr_assert_str_eq(h.tls.server_name, cases[i].name);
                else
                        cr_assert_null(h.tls.server_name, "%s", cases[i].host);
                if (cases[i].ip)
                        cr_assert_str_eq(h.tls.server_ip, cases[i].ip);
                else
                        cr_assert_null(h.tls.server_ip, "%s", cases[i].host);
                /* The rest is the target's. */
                cr_assert_eq(h.limits.max, 3);
                cr_assert_eq(h.url, t.url);
                cr_assert_eq(memcmp(&h.addr, &t.addr, t.addr_len), 0);
        }
        /* No host: the target's names stay. */
        cr_assert_eq(http_upstream_target_for_host(&t, "", 0, &h, name), -EINVAL);
        cr_assert_eq(http_upstream_target_for_host(&t, ":80", 3, &h, name), -EINVAL);
        cr_assert_eq(http_upstream_target_for_host(&t, "[::1", 4, &h, name), -EINVAL);
        cr_assert_str_eq(t.tls.server_name, "localhost");
        http_upstream_target_done(&t);

        /* A plain target has no TLS name to change. */
        cr_assert_eq(http_upstream_target_parse(&t, HTTP_UPSTREAM_HTTP, "http://127.0.0.1/", &why), 0, "%s", why);
        cr_assert_eq(http_upstream_target_for_host(&t, "a.example", 9, &h, name), -EINVAL);
        http_upstream_target_done(&t);
}

Test(proxy, bad_targets_are_refused_with_a_reason) {
        static const struct {
                HttpUpstreamProtocol p;
                const char *value, *why;
        } cases[] = {
                { HTTP_UPSTREAM_HTTP, "", "missing" },
                { HTTP_UPSTREAM_HTTP, "ftp://x/", "not an http:// or https:// URL" },
                { HTTP_UPSTREAM_HTTP, "fcgi://127.0.0.1:9000", "not an http:// or https:// URL" },
                { HTTP_UPSTREAM_FCGI, "https://127.0.0.1/", "not an fcgi:// URL" },
                { HTTP_UPSTREAM_HTTP, "https://[::1:8443/", "without its ']'" },
                { HTTP_UPSTREAM_FCGI, "http://127.0.0.1/", "not an fcgi:// URL" },
                { HTTP_UPSTREAM_HTTP, "http:///x", "no host" },
                { HTTP_UPSTREAM_HTTP, "http://user@127.0.0.1/", "no user" },
                { HTTP_UPSTREAM_HTTP, "http://127.0.0.1/?a=1", "no user, query" },
                { HTTP_UPSTREAM_HTTP, "http://127.0.0.1:0/", "bad port" },
                { HTTP_UPSTREAM_HTTP, "http://127.0.0.1:99999/", "bad port" },
                { HTTP_UPSTREAM_HTTP, "http://127.0.0.1:8x/", "bad port" },
                { HTTP_UPSTREAM_HTTP, "http://[::1/", "without its ']'" },
                { HTTP_UPSTREAM_HTTP, "http://no-such-host.invalid/", "cannot resolve" },
                { HTTP_UPSTREAM_HTTP, "unix:/run/a.sock", "names its protocol" },
                { HTTP_UPSTREAM_HTTP, "unix:run/a.sock|http://a/", "must be absolute" },
                { HTTP_UPSTREAM_HTTP, "http://127.0.0.1/ max=0", "bad value" },
                { HTTP_UPSTREAM_HTTP, "http://127.0.0.1/ ttl=abc", "bad value" },
                { HTTP_UPSTREAM_HTTP, "http://127.0.0.1/ upgrade=h2c", "bad value" },
                { HTTP_UPSTREAM_HTTP, "http://127.0.0.1/ retry=1", "unknown parameter" },
                { HTTP_UPSTREAM_HTTP, "http://127.0.0.1/ max", "not a key=value" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                HttpUpstreamTarget t;
                char *why = NULL;
                cr_assert_eq(http_upstream_target_parse(&t, cases[i].p, cases[i].value, &why), -EINVAL, "%s",
                             cases[i].value);
                cr_assert(why && strstr(why, cases[i].why), "%s: %s", cases[i].value, why);
                free(why);
        }
}

/* ---- ProxyPass, ProxyPassReverse -------------------------------------------------------------- */

static int add_pass(HttpProxyPasses *l, const char *value, bool replace, char **why) {
        ConfApplyContext ctx = { .file = "/etc/mpmd.conf", .line = 7, .replace_list = replace };
        return http_proxy_parse_pass(NULL, l, value, &ctx, why);
}

Test(proxy, pass_matches_the_longest_prefix_on_segment_boundaries) {
        HttpProxyPasses l = {};
        char *why = NULL;
        const char *rest;
        size_t rest_len;

        cr_assert_eq(add_pass(&l, "/app/ http://127.0.0.1:8000/", true, &why), 0, "%s", why);
        cr_assert_eq(add_pass(&l, "/app/static/ !", false, &why), 0, "%s", why);
        cr_assert_eq(add_pass(&l, "/api http://127.0.0.1:8001/v1", false, &why), 0, "%s", why);

        const HttpProxyPass *p = http_proxy_pass_match(&l, "/app/x/y", 8, &rest, &rest_len);
        cr_assert(p);
        cr_assert_eq(ntohs(((struct sockaddr_in *) &p->target.addr)->sin_port), 8000);
        cr_assert_eq(rest_len, 3);
        cr_assert(memcmp(rest, "x/y", 3) == 0);
        cr_assert_null(http_proxy_pass_match(&l, "/app/static/a.css", 17, &rest, &rest_len));
        cr_assert_null(http_proxy_pass_match(&l, "/application", 12, &rest, &rest_len));
        cr_assert_null(http_proxy_pass_match(&l, "/apix", 5, &rest, &rest_len));
        p = http_proxy_pass_match(&l, "/api/users", 10, &rest, &rest_len);
        cr_assert(p);
        cr_assert_str_eq(p->target.path, "/v1");
        cr_assert_eq(rest_len, 6); /* "/users" */

        cr_assert_eq(add_pass(&l, "/app/ http://127.0.0.1:9000/", false, &why), -EINVAL);
        cr_assert(strstr(why, "given twice (first at /etc/mpmd.conf:7)"), "%s", why);
        free(why);
        cr_assert_eq(add_pass(&l, "/a/../b http://127.0.0.1/", false, &why), -EINVAL);
        cr_assert(strstr(why, "not a plain path"), "%s", why);
        free(why);
        cr_assert_eq(add_pass(&l, "/x/ ! http://127.0.0.1/", false, &why), -EINVAL);
        free(why);
        cr_assert_eq(add_pass(&l, "/x/", false, &why), -EINVAL);
        free(why);
        cr_assert_eq(l.n, 3);

        /* A narrower section's lines first, then the wider one's for other prefixes. */
        HttpProxyPasses vhost = {};
        cr_assert_eq(add_pass(&vhost, "/app/ http://127.0.0.1:7000/", true, &why), 0);
        cr_assert_eq(http_proxy_merge_pass(NULL, &vhost, &l), 0);
        cr_assert_eq(vhost.n, 3);
        p = http_proxy_pass_match(&vhost, "/app/", 5, &rest, &rest_len);
        cr_assert_eq(ntohs(((struct sockaddr_in *) &p->target.addr)->sin_port), 7000);
        cr_assert_null(http_proxy_pass_match(&vhost, "/app/static/", 12, &rest, &rest_len));
        http_proxy_done_pass(NULL, &vhost);
        http_proxy_done_pass(NULL, &l);
}

Test(proxy, pass_reverse_maps_locations_back) {
        HttpProxyReverses l = {};
        ConfApplyContext ctx = { .file = "f", .line = 1, .replace_list = true };
        char *why = NULL, out[256];
        size_t len;

        cr_assert_eq(http_proxy_parse_reverse(NULL, &l, "/app/ http://127.0.0.1:8000/", &ctx, &why), 0, "%s", why);
        const char *v = "http://127.0.0.1:8000/login?next=/";
        cr_assert_eq(http_proxy_reverse_rewrite(&l, v, strlen(v), "https", "www.example.org", 15, out, sizeof(out), &len), 1);
        cr_assert_str_eq(out, "https://www.example.org/app/login?next=/");
        cr_assert_eq(len, strlen(out));
        /* A path-only Location is compared with the URL's path. */
        cr_assert_eq(http_proxy_reverse_rewrite(&l, "/login", 6, "http", "h", 1, out, sizeof(out), &len), 1);
        cr_assert_str_eq(out, "http://h/app/login");
        /* Other hosts stay as they are. */
        v = "http://elsewhere.example/";
        cr_assert_eq(http_proxy_reverse_rewrite(&l, v, strlen(v), "http", "h", 1, out, sizeof(out), &len), 0);
        cr_assert_eq(http_proxy_reverse_rewrite(&l, "/login", 6, "http", "h", 1, out, 8, &len), -ENAMETOOLONG);
        ctx.replace_list = false;
        cr_assert_eq(http_proxy_parse_reverse(NULL, &l, "/b/ ftp://x/", &ctx, &why), -EINVAL);
        free(why);
        cr_assert_eq(http_proxy_parse_reverse(NULL, &l, "/b/ http://x/\x01", &ctx, &why), -EINVAL);
        free(why);
        http_proxy_done_reverse(NULL, &l);
}

/* ---- the pool --------------------------------------------------------------------------------- */

static int listen_loopback(HttpUpstreamTarget *t) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        char url[64], *why = NULL;

        cr_assert(fd >= 0);
        cr_assert_eq(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
        cr_assert_eq(listen(fd, 16), 0);
        cr_assert_eq(getsockname(fd, (struct sockaddr *) &a, &len), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/ max=2 ttl=10", ntohs(a.sin_port));
        cr_assert_eq(http_upstream_target_parse(t, HTTP_UPSTREAM_HTTP, url, &why), 0, "%s", why);
        return fd;
}

Test(proxy, the_pool_reuses_bounds_and_drops_closed_connections) {
        HttpUpstreamTarget t;
        int lfd = listen_loopback(&t);
        HttpUpstreamConn *a, *b, *c;
        usec_t now = 1000 * USEC_PER_SEC;
        unsigned idle;

        cr_assert_eq(http_upstream_acquire(&t, now, &a), 0);
        cr_assert_not(a->reused);
        cr_assert_eq(http_upstream_acquire(&t, now, &b), 0);
        cr_assert_eq(http_upstream_acquire(&t, now, &c), -EBUSY); /* max=2 */
        cr_assert_eq(http_upstream_pool_count(&t, &idle), 2);
        int sa = accept(lfd, NULL, NULL), sb = accept(lfd, NULL, NULL);
        cr_assert(sa >= 0 && sb >= 0);
        if (a->connecting)
                cr_assert_eq(http_upstream_connected(a), 0);

        /* a goes back and comes out again, reused; b is closed (not reusable). */
        int afd = a->fd;
        cr_assert_null(http_upstream_release(a, true, now));
        cr_assert_null(http_upstream_release(b, false, now));
        cr_assert_eq(http_upstream_pool_count(&t, &idle), 1);
        cr_assert_eq(idle, 1);
        cr_assert_eq(http_upstream_acquire(&t, now + 1, &a), 0);
        cr_assert(a->reused);
        cr_assert_eq(a->fd, afd);

        /* The upstream closes the idle one: it is not handed out again. A request that could be
         * retried gets it unchecked while it has been idle only a moment, and checked after. */
        cr_assert_null(http_upstream_release(a, true, now + 2));
        close(sa);
        usleep(20000);
        cr_assert_eq(http_upstream_acquire_retryable(&t, now + 3, &a), 0);
        cr_assert(a->reused);
        cr_assert_null(http_upstream_release(a, true, now + 3));
        cr_assert_eq(http_upstream_acquire_retryable(&t, now + 3 + USEC_PER_SEC, &a), 0);
        cr_assert_not(a->reused);
        if (a->connecting)
                cr_assert_eq(http_upstream_connected(a), 0);
        cr_assert_null(http_upstream_release(a, true, now + 3));
        cr_assert_eq(http_upstream_acquire(&t, now + 4, &a), 0);
        cr_assert(a->reused); /* the new one, still open */
        int sc = accept(lfd, NULL, NULL);

        /* An idle one past its ttl (10 s) is closed rather than reused. */
        cr_assert_null(http_upstream_release(a, true, now + 4));
        cr_assert_eq(http_upstream_acquire(&t, now + 20 * USEC_PER_SEC, &a), 0);
        cr_assert_not(a->reused);
        cr_assert_null(http_upstream_release(a, false, now));
        cr_assert_eq(http_upstream_pool_count(&t, &idle), 0);

        /* Unreachable: the error from connect, at once or once writable. */
        close(lfd);
        int r = http_upstream_acquire(&t, now, &a);
        if (r == 0) {
                cr_assert(a->connecting);
                usleep(20000);
                cr_assert_eq(http_upstream_connected(a), -ECONNREFUSED);
                http_upstream_release(a, false, now);
        } else
                cr_assert_eq(r, -ECONNREFUSED);

        cr_assert(http_upstream_retry_allowed(&(HttpUpstreamConn) { .reused = true }, true, false, false));
        cr_assert_not(http_upstream_retry_allowed(&(HttpUpstreamConn) { .reused = false }, true, false, false));
        cr_assert_not(http_upstream_retry_allowed(&(HttpUpstreamConn) { .reused = true }, false, false, false));
        cr_assert_not(http_upstream_retry_allowed(&(HttpUpstreamConn) { .reused = true }, true, true, false));
        cr_assert_not(http_upstream_retry_allowed(&(HttpUpstreamConn) { .reused = true }, true, false, true));
        close(sb);
        if (sc >= 0)
                close(sc);
        http_upstream_pool_flush();
        http_upstream_target_done(&t);
}

static bool readable(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        return poll(&p, 1, 0) == 1;
}

/* max=2 queue=2: two more wait in order; a connection given back goes to the first waiter as it
 * is, one that closes leaves its place to the next; a third waiter is refused; a waiter that
 * leaves passes what it was given on. */
Test(proxy, the_queue_hands_connections_to_waiters_in_order) {
        HttpUpstreamTarget t;
        int lfd = listen_loopback(&t);
        HttpUpstreamConn *a, *b, *c = NULL;
        HttpUpstreamWaiter *w1, *w2, *w3;
        usec_t now = 1000 * USEC_PER_SEC;

        t.limits.queue = 2;
        cr_assert_eq(http_upstream_acquire(&t, now, &a), 0);
        cr_assert_eq(http_upstream_acquire(&t, now, &b), 0);
        cr_assert_eq(http_upstream_acquire(&t, now, &c), -EBUSY);
        int sa = accept(lfd, NULL, NULL), sb = accept(lfd, NULL, NULL);
        cr_assert(sa >= 0 && sb >= 0);
        if (a->connecting)
                cr_assert_eq(http_upstream_connected(a), 0);
        cr_assert_eq(http_upstream_wait(&t, &w1), 0);
        cr_assert_eq(http_upstream_wait(&t, &w2), 0);
        cr_assert_eq(http_upstream_wait(&t, &w3), -EBUSY); /* queue=2 */
        cr_assert_eq(http_upstream_pool_waiting(&t), 2);
        cr_assert_not(readable(w1->fd));
        cr_assert_eq(http_upstream_wait_take(&w1, &t, &c), -EAGAIN);

        /* a comes back: it goes to w1 as it is, not to the idle list nor to a newcomer. */
        int afd = a->fd;
        cr_assert_null(http_upstream_release(a, true, now));
        cr_assert_eq(http_upstream_pool_count(&t, NULL), 2);
        cr_assert(readable(w1->fd));
        cr_assert_not(readable(w2->fd));
        cr_assert_eq(http_upstream_acquire(&t, now, &c), -EBUSY); /* w2 waits: it comes first */
        cr_assert_eq(http_upstream_wait_take(&w1, &t, &a), 0);
        cr_assert_null(w1);
        cr_assert_eq(a->fd, afd);
        cr_assert(a->reused);

        /* b closes: w2 may open a new connection in its place. */
        cr_assert_null(http_upstream_release(b, false, now));
        cr_assert(readable(w2->fd));
        cr_assert_eq(http_upstream_wait_take(&w2, &t, &b), 0);
        cr_assert_not(b->reused);
        int sc = accept(lfd, NULL, NULL);
        cr_assert(sc >= 0);
        if (b->connecting)
                cr_assert_eq(http_upstream_connected(b), 0);
        cr_assert_eq(http_upstream_pool_count(&t, NULL), 2);
        cr_assert_eq(http_upstream_pool_waiting(&t), 0);

        /* A waiter that leaves with a connection given to it passes it to the next one. */
        cr_assert_eq(http_upstream_wait(&t, &w1), 0);
        cr_assert_eq(http_upstream_wait(&t, &w2), 0);
        cr_assert_null(http_upstream_release(a, true, now));
        cr_assert(readable(w1->fd));
        cr_assert_null(http_upstream_wait_cancel(w1, now));
        cr_assert(readable(w2->fd));
        cr_assert_eq(http_upstream_wait_take(&w2, &t, &a), 0);
        cr_assert_eq(a->fd, afd);
        /* And one that leaves before its turn leaves nothing behind. */
        cr_assert_eq(http_upstream_wait(&t, &w1), 0);
        cr_assert_null(http_upstream_wait_cancel(w1, now));
        cr_assert_eq(http_upstream_pool_waiting(&t), 0);
        cr_assert_null(http_upstream_release(a, true, now));
        cr_assert_null(http_upstream_release(b, true, now));
        unsigned idle;
        cr_assert_eq(http_upstream_pool_count(&t, &idle), 2);
        cr_assert_eq(idle, 2);

        /* queue=0: no waiting at all. */
        t.limits.queue = 0;
        cr_assert_eq(http_upstream_acquire(&t, now, &a), 0);
        cr_assert_eq(http_upstream_acquire(&t, now, &b), 0);
        cr_assert_eq(http_upstream_wait(&t, &w1), -EBUSY);
        cr_assert_null(http_upstream_release(a, false, now));
        cr_assert_null(http_upstream_release(b, false, now));
        close(sa);
        close(sb);
        close(sc);
        close(lfd);
        http_upstream_pool_flush();
        http_upstream_target_done(&t);
}

/* A TLS layer that only marks a connection as TLS (the pool's rule does not look inside). */
static int fake_tls_start(HttpUpstreamConn *c, const HttpUpstreamTarget *t) {
        c->tls = (void *) t->tls.client;
        return 0;
}

static void fake_tls_free(HttpUpstreamConn *c) {
        c->tls = NULL;
}

static const HttpUpstreamTlsOps fake_tls = { .start = fake_tls_start, .free = fake_tls_free };

Test(proxy, pooled_tls_connections_serve_only_the_name_they_were_opened_for) {
        HttpUpstreamTarget t, a, b;
        char name_a[HTTP_UPSTREAM_TLS_NAME_MAX], name_b[HTTP_UPSTREAM_TLS_NAME_MAX], url[96], *why = NULL;
        int lfd = listen_loopback(&t);
        struct sockaddr_in addr;
        socklen_t len = sizeof(addr);
        HttpUpstreamConn *c, *d;
        usec_t now = 1000 * USEC_PER_SEC;
        unsigned idle;

        /* The same listener as an https:// target, through a TLS layer of the test's. */
        cr_assert_eq(getsockname(lfd, (struct sockaddr *) &addr, &len), 0);
        http_upstream_target_done(&t);
        snprintf(url, sizeof(url), "https://localhost:%u/ max=2", ntohs(addr.sin_port));
        cr_assert_eq(http_upstream_target_parse(&t, HTTP_UPSTREAM_HTTP, url, &why), 0, "%s", why);
        t.tls.client = (void *) &fake_tls;
        http_upstream_set_tls(&fake_tls);
        cr_assert_eq(http_upstream_target_for_host(&t, "a.example", 9, &a, name_a), 0);
        cr_assert_eq(http_upstream_target_for_host(&t, "B.example:8080", 14, &b, name_b), 0);

        cr_assert_eq(http_upstream_acquire(&a, now, &c), 0);
        if (c->connecting) /* loopback: done as soon as asked */
                cr_assert_eq(http_upstream_connected(c), 0);
        c = http_upstream_release(c, true, now);
        cr_assert_eq(http_upstream_pool_count(&a, &idle), 1);
        cr_assert_eq(idle, 1);
        /* b.example gets a connection of its own, not a.example's idle one. */
        cr_assert_eq(http_upstream_pool_count(&b, &idle), 0);
        cr_assert_eq(http_upstream_acquire(&b, now, &d), 0);
        cr_assert_not(d->reused);
        cr_assert_eq(http_upstream_pool_count(&a, &idle), 1);
        cr_assert_eq(idle, 1, "a.example's connection was taken for b.example");
        /* The same name again, another spelling: the idle one. */
        cr_assert_eq(http_upstream_target_for_host(&t, "A.EXAMPLE.", 10, &a, name_a), 0);
        cr_assert_eq(http_upstream_acquire(&a, now, &c), 0);
        cr_assert(c->reused);
        c = http_upstream_release(c, true, now);
        d = http_upstream_release(d, false, now);
        /* Names nobody uses any more do not stay: a key per Host would grow without end. */
        for (int i = 0; i < 100; i++) {
                char host[32];
                snprintf(host, sizeof(host), "h%d.example", i);
                cr_assert_eq(http_upstream_target_for_host(&t, host, strlen(host), &b, name_b), 0);
                cr_assert_eq(http_upstream_acquire(&b, now, &d), 0);
                d = http_upstream_release(d, false, now);
        }
        /* a.example's (its idle connection) and the last name's, forgotten when another is made. */
        cr_assert_eq(http_upstream_pool_keys(), 2, "keys of names with no connection were kept");
        /* Idle connections stay within max= for the address, whatever the names: a.example has one,
         * so of three more released only one is kept. */
        HttpUpstreamTarget n[3];
        HttpUpstreamConn *open_c[3];
        char names[3][HTTP_UPSTREAM_TLS_NAME_MAX];
        for (int i = 0; i < 3; i++) {
                char host[32];
                snprintf(host, sizeof(host), "n%d.example", i);
                cr_assert_eq(http_upstream_target_for_host(&t, host, strlen(host), &n[i], names[i]), 0);
                cr_assert_eq(http_upstream_acquire(&n[i], now, &open_c[i]), 0);
        }
        for (int i = 0; i < 3; i++) {
                if (open_c[i]->connecting)
                        cr_assert_eq(http_upstream_connected(open_c[i]), 0);
                open_c[i] = http_upstream_release(open_c[i], true, now);
        }
        unsigned total = 0;
        for (int i = 0; i < 3; i++) {
                cr_assert_leq(http_upstream_pool_count(&n[i], &idle), 1);
                total += idle;
        }
        cr_assert_eq(http_upstream_pool_count(&a, &idle), 1);
        cr_assert_eq(total + idle, 2, "idle connections at one address beyond its max=2");
        http_upstream_pool_flush();
        http_upstream_set_tls(NULL);
        http_upstream_target_done(&t);
        close(lfd);
}
