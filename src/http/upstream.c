/* SPDX-License-Identifier: MIT */
/* upstream.c — upstream targets and the per-thread pool of connections to them (upstream.h).
 *
 * Why written here: an upstream connection is one non-blocking socket that the connection's own
 * event interest waits on (handler.h); libcurl or libevent's evhttp would bring their own loops
 * and buffers, and the pool is a list per address. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "http/upstream.h"
#include "shared/conf-table.h"
#include "shared/strv.h"
#include "shared/time-util.h"

static bool parse_bool_word(const char *s, bool *ret) {
        if (strcasecmp(s, "on") == 0 || strcasecmp(s, "yes") == 0 || strcmp(s, "1") == 0)
                *ret = true;
        else if (strcasecmp(s, "off") == 0 || strcasecmp(s, "no") == 0 || strcmp(s, "0") == 0)
                *ret = false;
        else
                return false;
        return true;
}

/* A whole number from 0 to max. */
static bool parse_count(const char *s, unsigned long max, unsigned long *ret) {
        char *end;
        if (*s < '0' || *s > '9')
                return false;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno != 0 || *end || v > max)
                return false;
        *ret = v;
        return true;
}

/* Seconds, as Apache's worker parameters take them (a whole number, at most a day). */
static bool parse_seconds(const char *s, usec_t *ret) {
        char *end;
        if (*s < '0' || *s > '9')
                return false;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno != 0 || *end || v > 86400)
                return false;
        *ret = (usec_t) v * USEC_PER_SEC;
        return true;
}

int http_upstream_limits_parse(HttpUpstreamLimits *l, char *const *words, size_t n, char **ret_error) {
        for (size_t i = 0; i < n; i++) {
                const char *w = words[i], *eq = strchr(w, '=');
                if (!eq || eq == w)
                        return conf_parse_error(ret_error, "\"%s\" is not a key=value parameter", w);
                size_t klen = (size_t) (eq - w);
                const char *v = eq + 1;
                bool ok;
#define KEY(k) (klen == strlen(k) && strncasecmp(w, k, klen) == 0)
                if (KEY("max")) {
                        char *end;
                        unsigned long m = strtoul(v, &end, 10);
                        ok = *v >= '1' && *v <= '9' && !*end && m <= 65536;
                        if (ok)
                                l->max = (uint32_t) m;
                } else if (KEY("ttl"))
                        ok = parse_seconds(v, &l->ttl);
                else if (KEY("timeout"))
                        ok = parse_seconds(v, &l->timeout);
                else if (KEY("connectiontimeout"))
                        ok = parse_seconds(v, &l->connection_timeout);
                else if (KEY("acquire")) {
                        /* Milliseconds, as Apache's acquire= is. */
                        unsigned long ms;
                        ok = parse_count(v, 86400UL * 1000, &ms) && ms > 0;
                        if (ok)
                                l->acquire = (usec_t) ms * USEC_PER_MSEC;
                } else if (KEY("queue")) {
                        unsigned long q;
                        ok = parse_count(v, 65536, &q);
                        if (ok)
                                l->queue = (uint32_t) q;
                }
                else if (KEY("disablereuse"))
                        ok = parse_bool_word(v, &l->disable_reuse);
                else if (KEY("upgrade")) {
                        ok = strcasecmp(v, "websocket") == 0;
                        l->upgrade_websocket = ok;
                } else
                        return conf_parse_error(ret_error,
                                            "unknown parameter \"%s\" (max, ttl, timeout, connectiontimeout, "
                                            "acquire, queue, disablereuse, upgrade)",
                                            w);
#undef KEY
                if (!ok)
                        return conf_parse_error(ret_error, "bad value in \"%s\" (max: 1-65536; ttl, timeout, "
                                                       "connectiontimeout: seconds up to 86400; acquire: "
                                                       "milliseconds from 1 to 86400000; queue: 0-65536; "
                                                       "disablereuse: On or Off; upgrade: websocket)",
                                            w);
        }
        return 0;
}

/* "HOST[:PORT]" or "[V6]:PORT" resolved into t->addr; the authority is kept as written. */
static int target_resolve(HttpUpstreamTarget *t, const char *authority, size_t len, const char *default_port,
                          char **ret_error) {
        char host[256], port[8];
        const char *colon;

        if (len == 0 || len >= sizeof(host))
                return conf_parse_error(ret_error, "the URL has no host, or one too long: %s", t->url);
        if (authority[0] == '[') {
                const char *close = memchr(authority, ']', len);
                if (!close)
                        return conf_parse_error(ret_error, "an IPv6 address without its ']': %s", t->url);
                memcpy(host, authority + 1, (size_t) (close - authority - 1));
                host[close - authority - 1] = 0;
                colon = close + 1 < authority + len && close[1] == ':' ? close + 1 : NULL;
                if (!colon && close + 1 != authority + len)
                        return conf_parse_error(ret_error, "bad authority in %s", t->url);
        } else {
                colon = memchr(authority, ':', len);
                size_t hl = colon ? (size_t) (colon - authority) : len;
                memcpy(host, authority, hl);
                host[hl] = 0;
        }
        if (colon) {
                size_t pl = (size_t) (authority + len - colon - 1);
                if (pl == 0 || pl >= sizeof(port) || strspn(colon + 1, "0123456789") < pl)
                        return conf_parse_error(ret_error, "bad port in %s", t->url);
                memcpy(port, colon + 1, pl);
                port[pl] = 0;
                if (atoi(port) < 1 || atoi(port) > 65535)
                        return conf_parse_error(ret_error, "bad port in %s", t->url);
        } else
                snprintf(port, sizeof(port), "%s", default_port);
        if (!host[0])
                return conf_parse_error(ret_error, "the URL has no host: %s", t->url);

        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG }, *res;
        int r = getaddrinfo(host, port, &hints, &res);
        if (r == EAI_BADFLAGS || r == EAI_NONAME) {
                /* AI_ADDRCONFIG hides loopback-only addresses on a machine without a network. */
                hints.ai_flags = AI_NUMERICSERV;
                r = getaddrinfo(host, port, &hints, &res);
        }
        if (r != 0) {
                char *msg;
                if (asprintf(&msg, "cannot resolve \"%s\" of %s: %s", host, t->url, gai_strerror(r)) < 0)
                        return -ENOMEM;
                *ret_error = msg;
                return -EINVAL;
        }
        memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
        t->addr_len = res->ai_addrlen;
        freeaddrinfo(res);
        return 0;
}

/* The host of an authority "HOST[:PORT]" or "[V6][:PORT]" into name (NUL-terminated, without port or
 * brackets): 0, or -EINVAL when there is none, or it is too long, or a '[' has no ']'. *ret_ip: it
 * is an IP address. */
static int authority_host(const char *a, size_t alen, char name[static HTTP_UPSTREAM_TLS_NAME_MAX], bool *ret_ip) {
        const char *host = a, *end;
        unsigned char bin[sizeof(struct in6_addr)];

        if (alen > 0 && a[0] == '[') {
                host = a + 1;
                end = memchr(a, ']', alen);
                if (!end)
                        return -EINVAL;
        } else {
                end = memchr(a, ':', alen);
                if (!end)
                        end = a + alen;
        }
        size_t n = (size_t) (end - host);
        if (n == 0 || n >= HTTP_UPSTREAM_TLS_NAME_MAX)
                return -EINVAL;
        memcpy(name, host, n);
        name[n] = 0;
        *ret_ip = inet_pton(AF_INET, name, bin) == 1 || inet_pton(AF_INET6, name, bin) == 1;
        return 0;
}

/* The name an https:// target's certificate is checked against, and the SNI: the URL's host
 * (without port or brackets); an IP address is checked as an address and sent no SNI (RFC 6066
 * §3 allows only host names there). */
static int target_tls_name(HttpUpstreamTarget *t, const char *a, size_t alen, char **ret_error) {
        char name[HTTP_UPSTREAM_TLS_NAME_MAX];
        bool ip;

        if (a[0] == '[' && !memchr(a, ']', alen))
                return conf_parse_error(ret_error, "an IPv6 address without its ']': %s", t->url);
        if (authority_host(a, alen, name, &ip) < 0)
                return conf_parse_error(ret_error, "the URL has no host, or one too long: %s", t->url);
        char *copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        if (ip)
                t->tls.server_ip = copy;
        else
                t->tls.server_name = copy;
        return 0;
}

int http_upstream_target_for_host(const HttpUpstreamTarget *t, const char *host, size_t host_len,
                                  HttpUpstreamTarget *ret, char name[static HTTP_UPSTREAM_TLS_NAME_MAX]) {
        bool ip;

        if (!t->tls.enabled || authority_host(host, host_len, name, &ip) < 0)
                return -EINVAL;
        size_t n = strlen(name);
        if (!ip) {
                /* As Apache's r->hostname: case does not matter, nor a final dot (which SNI may not
                 * carry: RFC 6066 §3), so that one name is one pool and one session cache entry. */
                if (name[n - 1] == '.')
                        name[--n] = 0;
                if (n == 0)
                        return -EINVAL;
                for (size_t i = 0; i < n; i++)
                        if (name[i] >= 'A' && name[i] <= 'Z')
                                name[i] = (char) (name[i] - 'A' + 'a');
        }
        *ret = *t;
        ret->tls.server_name = ip ? NULL : name;
        ret->tls.server_ip = ip ? name : NULL;
        return 0;
}

/* The part after "http://", "https://" or "fcgi://": authority, then the path. */
static int target_parse_url(HttpUpstreamTarget *t, const char *url, HttpUpstreamProtocol protocol, bool unix_socket,
                            char **ret_error) {
        const char *scheme = protocol == HTTP_UPSTREAM_HTTP ? "http://" : "fcgi://";
        size_t sl = strlen(scheme);

        if (protocol == HTTP_UPSTREAM_HTTP && strncasecmp(url, "https://", 8) == 0) {
                t->tls.enabled = true;
                t->tls.check_peer_name = true;
                sl = 8;
        } else if (strncasecmp(url, scheme, sl) != 0) {
                if (protocol == HTTP_UPSTREAM_HTTP)
                        return conf_parse_error(ret_error, "not an http:// or https:// URL (http://HOST:PORT/PATH or "
                                                           "unix:/PATH|http://NAME/PATH): %s", t->url);
                return conf_parse_error(ret_error, "not an fcgi:// URL (fcgi://HOST:PORT or unix:/PATH|fcgi://NAME): %s",
                                        t->url);
        }
        const char *a = url + sl, *slash = strchr(a, '/');
        size_t alen = slash ? (size_t) (slash - a) : strlen(a);
        if (memchr(a, '@', alen) || strpbrk(a, "?#\\ \t"))
                return conf_parse_error(ret_error, "a target URL takes no user, query or fragment: %s", t->url);
        t->authority = strndup(a, alen);
        t->path = strdup(slash ? slash : "/");
        if (!t->authority || !t->path)
                return -ENOMEM;
        t->authority_len = alen;
        t->path_len = strlen(t->path);
        if (alen == 0)
                return conf_parse_error(ret_error, "the URL has no host: %s", t->url);
        if (t->tls.enabled) {
                int r = target_tls_name(t, a, alen, ret_error);
                if (r < 0)
                        return r;
        }
        if (unix_socket)
                return 0;
        /* Apache's default ports: 80 for http, 443 for https, 8000 for fcgi (mod_proxy_fcgi). */
        return target_resolve(t, a, alen, protocol == HTTP_UPSTREAM_FCGI ? "8000" : t->tls.enabled ? "443" : "80",
                              ret_error);
}

int http_upstream_target_parse(HttpUpstreamTarget *t, HttpUpstreamProtocol protocol, const char *value,
                               char **ret_error) {
        _cleanup_strv_free_ char **w = strv_split_words(value);
        int r;

        *t = (HttpUpstreamTarget) { .protocol = protocol };
        *ret_error = NULL;
        if (!w)
                return -ENOMEM;
        if (!w[0])
                return conf_parse_error(ret_error, "a target URL is missing");
        t->url = strdup(w[0]);
        if (!t->url)
                return -ENOMEM;
        t->limits = (HttpUpstreamLimits) { .max = HTTP_UPSTREAM_MAX_DEFAULT, .ttl = HTTP_UPSTREAM_TTL_DEFAULT,
                                           .queue = HTTP_UPSTREAM_QUEUE_DEFAULT };

        const char *url = w[0];
        if (strncasecmp(url, "unix:", 5) == 0) {
                const char *bar = strchr(url, '|');
                size_t plen = bar ? (size_t) (bar - url - 5) : 0;
                struct sockaddr_un *sun = (struct sockaddr_un *) &t->addr;
                if (!bar)
                        r = conf_parse_error(ret_error, "a unix: target names its protocol after '|' "
                                                    "(unix:/PATH|http://NAME/ or unix:/PATH|fcgi://NAME): %s",
                                         t->url);
                else if (plen == 0 || url[5] != '/')
                        r = conf_parse_error(ret_error, "a unix: socket path must be absolute: %s", t->url);
                else if (plen >= sizeof(sun->sun_path))
                        r = conf_parse_error(ret_error, "the unix: socket path is too long: %s", t->url);
                else {
                        sun->sun_family = AF_UNIX;
                        memcpy(sun->sun_path, url + 5, plen);
                        t->addr_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + plen + 1);
                        t->unix_socket = true;
                        r = target_parse_url(t, bar + 1, protocol, true, ret_error);
                }
        } else
                r = target_parse_url(t, url, protocol, false, ret_error);
        if (r >= 0)
                r = http_upstream_limits_parse(&t->limits, w + 1, strv_length(w + 1), ret_error);
        if (r < 0)
                http_upstream_target_done(t);
        return r;
}

int http_upstream_target_copy(HttpUpstreamTarget *dst, const HttpUpstreamTarget *src) {
        *dst = *src;
        dst->url = strdup(src->url);
        dst->authority = strdup(src->authority);
        dst->path = strdup(src->path);
        dst->tls.server_name = src->tls.server_name ? strdup(src->tls.server_name) : NULL;
        dst->tls.server_ip = src->tls.server_ip ? strdup(src->tls.server_ip) : NULL;
        if (!dst->url || !dst->authority || !dst->path || (src->tls.server_name && !dst->tls.server_name) ||
            (src->tls.server_ip && !dst->tls.server_ip)) {
                http_upstream_target_done(dst);
                return -ENOMEM;
        }
        return 0;
}

void http_upstream_target_done(HttpUpstreamTarget *t) {
        free(t->url);
        free(t->authority);
        free(t->path);
        free(t->tls.server_name);
        free(t->tls.server_ip);
        *t = (HttpUpstreamTarget) {};
}

char *http_upstream_target_format(const HttpUpstreamTarget *t) {
        const HttpUpstreamLimits *l = &t->limits;
        char timeout[32] = "", connect[40] = "", acquire[32] = "", *s;

        if (l->timeout)
                snprintf(timeout, sizeof(timeout), " timeout=%llu", (unsigned long long) (l->timeout / USEC_PER_SEC));
        if (l->connection_timeout)
                snprintf(connect, sizeof(connect), " connectiontimeout=%llu",
                         (unsigned long long) (l->connection_timeout / USEC_PER_SEC));
        if (l->acquire)
                snprintf(acquire, sizeof(acquire), " acquire=%llu", (unsigned long long) (l->acquire / USEC_PER_MSEC));
        if (asprintf(&s, "%s max=%u ttl=%llu%s%s%s queue=%u%s%s", t->url, l->max,
                     (unsigned long long) (l->ttl / USEC_PER_SEC), timeout, connect, acquire, l->queue,
                     l->disable_reuse ? " disablereuse=On" : "",
                     l->upgrade_websocket ? " upgrade=websocket" : "") < 0)
                return NULL;
        return s;
}

/* ---- the pool --------------------------------------------------------------------------------- */

/* One address a thread connects to, and what it keeps open there. */
typedef struct HttpUpstreamKey {
        struct HttpUpstreamKey *next;
        HttpUpstreamProtocol protocol;
        const void *tls_client; /* TLS: the client context and the name verified; NULL: plain */
        char *tls_name;         /* the target's server name or address */
        struct sockaddr_storage addr;
        socklen_t addr_len;
        HttpUpstreamConn *idle; /* most recently used first */
        unsigned n_idle, n_open;
        HttpUpstreamWaiter *first, *last; /* the queue: requests waiting for a connection */
        unsigned n_waiting;
        unsigned n_placed; /* waiters that were given a place to open a connection in */
        unsigned max;      /* the max= of the last target that asked (targets at one address share it) */
        bool check_peer_name;
} HttpUpstreamKey;

static _Thread_local HttpUpstreamKey *pool_keys;
static _Thread_local usec_t pool_last_sweep;

static const char *target_tls_key_name(const HttpUpstreamTarget *t) {
        return !t->tls.enabled ? NULL : t->tls.server_name ? t->tls.server_name : t->tls.server_ip;
}

static bool key_matches(const HttpUpstreamKey *k, const HttpUpstreamTarget *t) {
        if (k->protocol != t->protocol || k->addr_len != t->addr_len || memcmp(&k->addr, &t->addr, t->addr_len) != 0)
                return false;
        if (!t->tls.enabled)
                return !k->tls_name;
        const char *name = target_tls_key_name(t);
        return k->tls_client == t->tls.client && k->tls_name && name && strcmp(k->tls_name, name) == 0 &&
               k->check_peer_name == t->tls.check_peer_name;
}

/* Forget the keys nothing uses (no connection, no waiter): under ProxyPreserveHost a key is made per
 * Host a client names, and those must not pile up for the thread's life. */
static void pool_keys_prune(void) {
        for (HttpUpstreamKey **p = &pool_keys; *p;) {
                HttpUpstreamKey *k = *p;
                if (k->n_open == 0 && k->n_waiting == 0 && k->n_placed == 0) {
                        *p = k->next;
                        free(k->tls_name);
                        free(k);
                } else
                        p = &k->next;
        }
}

static HttpUpstreamKey *pool_key(const HttpUpstreamTarget *t, bool create) {
        for (HttpUpstreamKey *k = pool_keys; k; k = k->next)
                if (key_matches(k, t))
                        return k;
        if (!create)
                return NULL;
        pool_keys_prune();
        HttpUpstreamKey *k = calloc(1, sizeof(*k));
        if (!k)
                return NULL;
        k->protocol = t->protocol;
        k->tls_client = t->tls.enabled ? t->tls.client : NULL;
        if (t->tls.enabled) {
                k->tls_name = strdup(target_tls_key_name(t) ?: "");
                if (!k->tls_name) {
                        free(k);
                        return NULL;
                }
        }
        k->check_peer_name = t->tls.check_peer_name;
        memcpy(&k->addr, &t->addr, t->addr_len);
        k->addr_len = t->addr_len;
        k->next = pool_keys;
        pool_keys = k;
        return k;
}

/* ---- the queue ---- */

static HttpUpstreamWaiter *queue_pop(HttpUpstreamKey *k) {
        HttpUpstreamWaiter *w = k->first;
        if (!w)
                return NULL;
        k->first = w->next;
        if (k->first)
                k->first->prev = NULL;
        else
                k->last = NULL;
        w->next = w->prev = NULL;
        k->n_waiting--;
        return w;
}

static void queue_remove(HttpUpstreamKey *k, HttpUpstreamWaiter *w) {
        if (w->prev)
                w->prev->next = w->next;
        else if (k->first == w)
                k->first = w->next;
        else
                return; /* not in the queue: its turn came */
        if (w->next)
                w->next->prev = w->prev;
        else
                k->last = w->prev;
        w->next = w->prev = NULL;
        k->n_waiting--;
}

static void waiter_wake(HttpUpstreamWaiter *w) {
        /* An eventfd's counter cannot overflow from one write of 1 to a fresh one. */
        (void) eventfd_write(w->fd, 1);
}

/* Places freed (a connection closed): the first waiters may open new ones. */
static void key_hand_on(HttpUpstreamKey *k) {
        while (k->first && k->n_open + k->n_placed < k->max) {
                HttpUpstreamWaiter *w = queue_pop(k);
                w->place = true;
                k->n_placed++;
                waiter_wake(w);
        }
}

static const HttpUpstreamTlsOps *tls_ops;

void http_upstream_set_tls(const HttpUpstreamTlsOps *ops) {
        tls_ops = ops;
}

bool http_upstream_has_tls(void) {
        return tls_ops;
}

static void conn_close(HttpUpstreamConn *c) {
        HttpUpstreamKey *k = c->key;
        k->n_open--;
        if (c->tls)
                tls_ops->free(c);
        safe_close(c->fd);
        free(c);
        key_hand_on(k);
}

/* Is an idle connection still open, with nothing unasked-for waiting on it? For a request that
 * may be sent again (may_retry) it is asked only of one idle for a while (a system call per
 * request otherwise): an upstream's keep-alive timeout is seconds, and a connection closed under
 * such a request is what the retry rule is for (http_upstream_retry_allowed). */
#define CONN_CHECK_AFTER (250 * USEC_PER_MSEC)
static bool conn_alive(const HttpUpstreamConn *c, usec_t now, bool may_retry) {
        char b;
        if (may_retry && now < c->idle_since + CONN_CHECK_AFTER)
                return true;
        ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Close the idle connections of k that waited longer than their ttl (the list is newest first). */
static void key_sweep(HttpUpstreamKey *k, usec_t now) {
        HttpUpstreamConn **p = &k->idle;
        while (*p) {
                HttpUpstreamConn *c = *p;
                if (now >= c->idle_since && now - c->idle_since >= c->key_ttl) {
                        *p = c->next;
                        k->n_idle--;
                        conn_close(c);
                } else
                        p = &c->next;
        }
}

void http_upstream_pool_sweep(usec_t now) {
        if (now >= pool_last_sweep && now < pool_last_sweep + USEC_PER_SEC)
                return;
        pool_last_sweep = now;
        for (HttpUpstreamKey *k = pool_keys; k; k = k->next)
                key_sweep(k, now);
}

/* A new connection to t, counted in k. */
static int conn_open(const HttpUpstreamTarget *t, HttpUpstreamKey *k, HttpUpstreamConn **ret) {
        int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (!t->unix_socket) {
                int one = 1;
                (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        HttpUpstreamConn *c = calloc(1, sizeof(*c));
        if (!c) {
                safe_close(fd);
                return -ENOMEM;
        }
        *c = (HttpUpstreamConn) { .fd = fd, .key = k, .key_ttl = t->limits.ttl };
        k->n_open++;
        if (connect(fd, (const struct sockaddr *) &t->addr, t->addr_len) < 0) {
                if (errno != EINPROGRESS) {
                        int e = -errno;
                        conn_close(c);
                        return e;
                }
                c->connecting = true;
        }
        if (t->tls.enabled) {
                /* The handshake happens in the first send (ClientHello once the connect is done). */
                int r = !tls_ops || !t->tls.client ? -EPROTONOSUPPORT : tls_ops->start(c, t);
                if (r < 0) {
                        conn_close(c);
                        return r;
                }
        }
        *ret = c;
        return 0;
}

ssize_t http_upstream_send(HttpUpstreamConn *c, const void *buf, size_t len) {
        if (c->tls)
                return tls_ops->send(c, buf, len);
        for (;;) {
                ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n >= 0) {
                        c->connecting = false;
                        return n;
                }
                if (errno == EINTR)
                        continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                        c->want_write = true;
                        return -EAGAIN;
                }
                return -errno;
        }
}

ssize_t http_upstream_recv(HttpUpstreamConn *c, void *buf, size_t len) {
        if (c->tls)
                return tls_ops->recv(c, buf, len);
        for (;;) {
                ssize_t n = recv(c->fd, buf, len, MSG_DONTWAIT);
                if (n >= 0)
                        return n;
                if (errno == EINTR)
                        continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                        c->want_write = false;
                        return -EAGAIN;
                }
                return -errno;
        }
}

bool http_upstream_pending(const HttpUpstreamConn *c) {
        return c->tls && tls_ops->pending(c);
}

void http_upstream_shutdown_write(HttpUpstreamConn *c) {
        if (c->tls)
                tls_ops->shutdown_write(c);
        (void) shutdown(c->fd, SHUT_WR);
}

const char *http_upstream_error(const HttpUpstreamConn *c, int r) {
        if (c && c->tls && r == -EPROTO) {
                const char *e = tls_ops->error(c);
                if (e && *e)
                        return e;
        }
        if (r == -EPROTONOSUPPORT)
                return "no TLS in this process for an https:// upstream";
        return strerror(-r);
}

static int upstream_acquire(const HttpUpstreamTarget *t, usec_t now, bool may_retry, HttpUpstreamConn **ret) {
        HttpUpstreamKey *k = pool_key(t, true);

        if (!k)
                return -ENOMEM;
        k->max = t->limits.max;
        http_upstream_pool_sweep(now);
        if (k->first)
                return -EBUSY; /* those waiting came first */
        while (k->idle) {
                HttpUpstreamConn *c = k->idle;
                k->idle = c->next;
                k->n_idle--;
                c->next = NULL;
                /* now may be a little older than idle_since: the caller's clock is its loop's. */
                if ((now < c->idle_since || now - c->idle_since < c->key_ttl) && conn_alive(c, now, may_retry)) {
                        c->reused = true;
                        *ret = c;
                        return 0;
                }
                conn_close(c);
        }
        if (k->n_open + k->n_placed >= k->max)
                return -EBUSY;
        return conn_open(t, k, ret);
}

int http_upstream_acquire(const HttpUpstreamTarget *t, usec_t now, HttpUpstreamConn **ret) {
        return upstream_acquire(t, now, false, ret);
}

int http_upstream_acquire_retryable(const HttpUpstreamTarget *t, usec_t now, HttpUpstreamConn **ret) {
        return upstream_acquire(t, now, true, ret);
}

int http_upstream_wait(const HttpUpstreamTarget *t, HttpUpstreamWaiter **ret) {
        HttpUpstreamKey *k = pool_key(t, true);

        if (!k)
                return -ENOMEM;
        k->max = t->limits.max;
        if (k->n_waiting >= t->limits.queue)
                return -EBUSY;
        HttpUpstreamWaiter *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->fd < 0) {
                int e = -errno;
                free(w);
                return e;
        }
        w->key = k;
        w->prev = k->last;
        if (k->last)
                k->last->next = w;
        else
                k->first = w;
        k->last = w;
        k->n_waiting++;
        /* A place may be free already (a target with a larger max= at the same address). */
        key_hand_on(k);
        *ret = w;
        return 0;
}

static void waiter_free(HttpUpstreamWaiter *w) {
        safe_close(w->fd);
        free(w);
}

int http_upstream_wait_take(HttpUpstreamWaiter **wp, const HttpUpstreamTarget *t, HttpUpstreamConn **ret) {
        HttpUpstreamWaiter *w = *wp;
        HttpUpstreamKey *k = w->key;
        int r;

        if (w->granted) {
                *ret = w->granted;
                r = 0;
        } else if (w->place) {
                k->n_placed--;
                r = conn_open(t, k, ret);
        } else
                return -EAGAIN;
        waiter_free(w);
        *wp = NULL;
        return r;
}

HttpUpstreamWaiter *http_upstream_wait_cancel(HttpUpstreamWaiter *w, usec_t now) {
        if (!w)
                return NULL;
        HttpUpstreamKey *k = w->key;
        queue_remove(k, w);
        HttpUpstreamConn *c = w->granted;
        bool place = w->place;
        waiter_free(w);
        if (c)
                (void) http_upstream_release(c, true, now);
        else if (place) {
                k->n_placed--;
                key_hand_on(k);
        }
        return NULL;
}

unsigned http_upstream_pool_waiting(const HttpUpstreamTarget *t) {
        HttpUpstreamKey *k = pool_key(t, false);
        return k ? k->n_waiting : 0;
}

int http_upstream_connected(HttpUpstreamConn *c) {
        int err = 0;
        socklen_t len = sizeof(err);

        c->connecting = false;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                return -errno;
        return -err;
}

/* The idle connections of every key at k's address, through k's client context (TLS names apart). */
static unsigned address_idle(const HttpUpstreamKey *k) {
        unsigned n = 0;

        for (const HttpUpstreamKey *o = pool_keys; o; o = o->next)
                if (o->protocol == k->protocol && o->tls_client == k->tls_client && o->addr_len == k->addr_len &&
                    memcmp(&o->addr, &k->addr, k->addr_len) == 0)
                        n += o->n_idle;
        return n;
}

HttpUpstreamConn *http_upstream_release(HttpUpstreamConn *c, bool reusable, usec_t now) {
        if (!c)
                return NULL;
        HttpUpstreamKey *k = c->key;
        if (!reusable || c->connecting) {
                conn_close(c);
                return NULL;
        }
        HttpUpstreamWaiter *w = queue_pop(k);
        if (w) {
                /* Straight to the first waiter: fresh from a complete response, it needs no check. */
                c->reused = true;
                w->granted = c;
                waiter_wake(w);
                return NULL;
        }
        if (address_idle(k) >= k->max) {
                /* Under ProxyPreserveHost each Host a client names is a key of its own at the same
                 * address: idle ones stay within max= for the address, not per name, so that no
                 * stream of names can pile up descriptors. */
                conn_close(c);
                return NULL;
        }
        c->idle_since = now;
        c->next = k->idle;
        k->idle = c;
        k->n_idle++;
        http_upstream_pool_sweep(now);
        return NULL;
}

void http_upstream_pool_flush(void) {
        while (pool_keys) {
                HttpUpstreamKey *k = pool_keys;
                pool_keys = k->next;
                while (k->idle) {
                        HttpUpstreamConn *c = k->idle;
                        k->idle = c->next;
                        conn_close(c);
                }
                if (k->n_open == 0 && k->n_waiting == 0 && k->n_placed == 0) {
                        free(k->tls_name);
                        free(k);
                }
                /* A key with connections still busy is kept by them (they close through it). */
        }
}

unsigned http_upstream_pool_keys(void) {
        unsigned n = 0;
        for (const HttpUpstreamKey *k = pool_keys; k; k = k->next)
                n++;
        return n;
}

unsigned http_upstream_pool_count(const HttpUpstreamTarget *t, unsigned *ret_idle) {
        HttpUpstreamKey *k = pool_key(t, false);
        if (ret_idle)
                *ret_idle = k ? k->n_idle : 0;
        return k ? k->n_open : 0;
}

bool http_upstream_retry_allowed(const HttpUpstreamConn *c, bool idempotent, bool response_started,
                                 bool body_sent) {
        return c && c->reused && idempotent && !response_started && !body_sent;
}

bool http_upstream_pool_has_idle(void) {
        for (HttpUpstreamKey *k = pool_keys; k; k = k->next)
                if (k->n_idle > 0)
                        return true;
        return false;
}
