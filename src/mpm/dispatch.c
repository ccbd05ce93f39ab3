/* SPDX-License-Identifier: MIT */
/* dispatch.c — the perchild dispatcher (see dispatch.h). A connection here is in one of three
 * states: PEEK (its head, or on a TLS listener its ClientHello, is being looked at, nothing
 * consumed), WRITE (the dispatcher's own answer is going out: an HTTP error, or a TLS alert) and
 * LINGER (the answer is out, write side shut: what the client still sends is read and dropped for a
 * moment so that closing does not reset the connection under the answer). A connection that was
 * handed to a pool is gone from here at once. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mpm/accept.h"
#include "mpm/client-hello.h"
#include "mpm/client-table.h"
#include "mpm/conn-driver.h"
#include "http/date.h"
#include "mpm/dispatch.h"
#include "mpm/event.h"
#include "shared/fd-pass.h"
#include "shared/log.h"
#include "mpm/maintain.h"
#include "mpm/proxy-io.h"
#include "http/parser.h"
#include "http/response.h"
#include "mpm/socket-io.h"
#include "shared/time-util.h"

#define DISPATCH_SWEEP_USEC (250 * USEC_PER_MSEC)
#define DISPATCH_LINGER_USEC (2 * USEC_PER_SEC)
#define DISPATCH_ACCEPT_BATCH 64
#define DISPATCH_PEEK_INITIAL 4096
/* TLS alerts (RFC 8446 §6): the dispatcher's only words on a TLS connection, a plaintext record
 * written before any ServerHello, as OpenSSL writes its own alerts at that stage. */
#define TLS_ALERT_FATAL 2
#define TLS_ALERT_INTERNAL_ERROR 80
#define TLS_ALERT_UNRECOGNIZED_NAME 112
/* A client refused for holding too many unfinished heads is logged at most this often. */
#define DISPATCH_REFUSED_LOG_USEC (10 * USEC_PER_SEC)

typedef enum DispatchSourceKind {
        SOURCE_LISTENER,
        SOURCE_STOP,
        SOURCE_CONN,
} DispatchSourceKind;

typedef struct DispatchSource {
        DispatchSourceKind kind;
        const Listener *listener;
        bool deferred; /* TCP_DEFER_ACCEPT: an accepted connection has its first bytes */
} DispatchSource;

typedef enum DispatchConnState {
        DCONN_PEEK,
        DCONN_WRITE,
        DCONN_LINGER,
} DispatchConnState;

typedef struct DispatchConn {
        DispatchSource source; /* first: epoll's data.ptr points here */
        int fd;
        bool watched; /* in the epoll set: taken out before the close (dconn_free) */
        bool tls;     /* from a TLS listener: what is peeked is a ClientHello (client-hello.h) */
        bool proxy;   /* from a PROXY listener: a PROXY header (proxy-io.h) comes first */
        DispatchConnState state;
        const HttpSite *site; /* the listener's default site: its limits and deadlines apply */
        HttpParser parser;
        HttpRequestHead head;
        HttpHeader *headers;
        char *buf;
        size_t size, seen; /* bytes of buf, bytes of the head seen so far */
        size_t skip;       /* the PROXY header's length once it is whole: the head starts after it */
        size_t need;       /* TLS: the bytes the ClientHello needs at least (client_hello_parse()) */
        usec_t started, deadline;
        ClientKey client;
        bool counted; /* in the client table: its head is still being read */
        char *out;
        size_t out_len, out_sent;
        struct DispatchConn *prev, *next;
} DispatchConn;

typedef struct Dispatcher {
        const WorkerContext *ctx;
        const DispatchSpec *spec;
        const HttpServer *http;
        int ep;
        DispatchSource *listeners;
        DispatchSource stop;
        DispatchConn *conns;
        unsigned n_conns;
        bool accepting, stopping;
        size_t peek_max; /* the engine's bound on a buffered head: beyond it, 431 */
        ClientTable *clients;      /* connections in DCONN_PEEK per client address */
        AcceptPause pause;          /* at the descriptor limit (accept.h) */
        uint64_t refused;           /* connections refused for their client's unfinished heads */
        uint64_t refused_logged;
        usec_t refused_log_next;
} Dispatcher;

size_t dispatch_error_response(const HttpServer *s, int status, bool head_only, usec_t now_realtime, char *buf,
                               size_t size) {
        HttpResponse r;
        HttpHeadWriter w;

        http_response_init(&r);
        http_response_set_error(&r, status);
        http_head_begin(&w, buf, size, status, NULL, 0, http_date_now(now_realtime), s->server_line,
                        s->server_line_len);
        http_head_put(&w, r.headers, r.headers_len);
        http_head_end(&w, status, HTTP_FRAMING_LENGTH, r.body_len, false, 1);
        if (!head_only)
                http_head_put(&w, r.body, r.body_len);
        http_response_done(&r);
        /* As snprintf: the length of the whole answer, NUL-terminated when it fit with room to spare. */
        if (w.len < size)
                buf[w.len] = 0;
        return w.len;
}

static void dispatcher_set_accepting(Dispatcher *d, bool on) {
        if (d->accepting == on)
                return;
        for (size_t i = 0; i < d->spec->n_listeners; i++) {
                if (on) {
                        /* EPOLLEXCLUSIVE: several dispatchers share the sockets; one is woken. */
                        struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &d->listeners[i] };
                        (void) epoll_ctl(d->ep, EPOLL_CTL_ADD, d->spec->listeners[i].fd, &ev);
                } else
                        (void) epoll_ctl(d->ep, EPOLL_CTL_DEL, d->spec->listeners[i].fd, NULL);
        }
        d->accepting = on;
        d->ctx->board->accepting = on;
}

static void dispatcher_update_board(Dispatcher *d) {
        d->ctx->board->connections_open = d->n_conns;
        d->ctx->board->workers[0].state = d->stopping ? WS_GRACEFUL : d->n_conns > 0 ? WS_READ : WS_READY;
}

/* Its head is not being read any more: it no longer counts against its client. */
static void dconn_uncount(Dispatcher *d, DispatchConn *c) {
        if (c->counted)
                client_table_remove(d->clients, &c->client);
        c->counted = false;
}

/* The epoll registration goes first: epoll watches the open file description, not the number, and
 * after a hand-off the pool holds that description, so closing our fd would leave it registered
 * with a pointer to freed memory in data.ptr, reported by a later epoll_wait. A connection that
 * never entered the set (routed or refused as it was accepted) has no registration to remove. */
static void dconn_free(Dispatcher *d, DispatchConn *c) {
        if (c->watched)
                (void) epoll_ctl(d->ep, EPOLL_CTL_DEL, c->fd, NULL);
        dconn_uncount(d, c);
        if (c->prev)
                c->prev->next = c->next;
        else
                d->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        safe_close(c->fd);
        free(c->headers);
        free(c->buf);
        free(c->out);
        free(c);
        d->n_conns--;
}

/* The head deadline as the engine computes it: RequestReadTimeout header= from the first byte
 * (extended by MinRate), never later than TimeOut after the last read. */
static void dconn_set_deadline(DispatchConn *c, usec_t now) {
        const HttpReadTimeoutStage *st = &c->site->read_timeout.header;
        usec_t per_read = now + c->site->cfg->timeout, d;

        if (st->timeout == 0) {
                c->deadline = per_read;
                return;
        }
        d = st->timeout;
        if (st->min_rate > 0) {
                d += (usec_t) (c->seen / st->min_rate) * USEC_PER_SEC;
                if (st->max > 0 && d > st->max)
                        d = st->max;
        }
        c->deadline = MIN(c->started + d, per_read);
}

/* The steps below return whether c is still held (false: it was freed). */
static bool dconn_linger(Dispatcher *d, DispatchConn *c, usec_t now) {
        char scratch[4096];

        if (c->state != DCONN_LINGER) {
                (void) shutdown(c->fd, SHUT_WR);
                c->state = DCONN_LINGER;
                c->deadline = now + DISPATCH_LINGER_USEC;
        }
        for (;;) {
                ssize_t n = recv(c->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
                if (n > 0)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return true;
                dconn_free(d, c); /* end of stream or an error: nothing more to wait for */
                return false;
        }
}

static bool dconn_write(Dispatcher *d, DispatchConn *c, usec_t now) {
        while (c->out_sent < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EAGAIN)
                                return true;
                        dconn_free(d, c);
                        return false;
                }
                c->out_sent += (size_t) n;
        }
        return dconn_linger(d, c, now);
}

/* c says out (malloc'd, len bytes; NULL: no memory, c is closed) and closes, within the timeout. */
static bool dconn_say(Dispatcher *d, DispatchConn *c, char *out, size_t len, usec_t now) {
        if (!out) {
                dconn_free(d, c);
                return false;
        }
        c->out = out;
        c->out_len = len;
        c->out_sent = 0;
        c->state = DCONN_WRITE;
        c->deadline = now + c->site->cfg->timeout;
        return dconn_write(d, c, now);
}

/* Answer status ourselves and close. */
static bool dconn_respond(Dispatcher *d, DispatchConn *c, int status, usec_t now) {
        struct timespec ts;
        bool head_only = c->head.method == HTTP_METHOD_HEAD;

        dconn_uncount(d, c);
        clock_gettime(CLOCK_REALTIME, &ts);
        usec_t real = (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
        size_t n = dispatch_error_response(d->http, status, head_only, real, NULL, 0);
        char *out = malloc(n + 1);
        if (out)
                n = dispatch_error_response(d->http, status, head_only, real, out, n + 1);
        log_debug("answered %d to a connection on %s", status, c->source.listener->name);
        return dconn_say(d, c, out, n, now);
}

/* The one thing the dispatcher says on a TLS connection: a fatal alert in a plaintext record
 * (RFC 8446 §6.2, before any ServerHello), then the close. It holds no key and never will: it
 * cannot answer anything a handshake would have to carry. */
static bool dconn_alert(Dispatcher *d, DispatchConn *c, uint8_t description, usec_t now) {
        /* legacy_record_version 0x0303, as every record after the ClientHello (RFC 8446 §5.1). */
        const uint8_t record[] = { 21, 3, 3, 0, 2, TLS_ALERT_FATAL, description };

        dconn_uncount(d, c);
        char *out = malloc(sizeof(record));
        if (out)
                memcpy(out, record, sizeof(record));
        log_debug("sent alert %u to a connection on %s", description, c->source.listener->name);
        return dconn_say(d, c, out, sizeof(record), now);
}

/* The dispatcher cannot route c: the HTTP status to answer, or on TLS an internal_error alert. */
static bool dconn_fail(Dispatcher *d, DispatchConn *c, int status, usec_t now) {
        if (c->tls)
                return dconn_alert(d, c, TLS_ALERT_INTERNAL_ERROR, now);
        return dconn_respond(d, c, status, now);
}

/* Pass the connection to the pool of site. */
static bool dconn_pass(Dispatcher *d, DispatchConn *c, const HttpSite *site, usec_t now) {
        EventHandoff msg = {};

        size_t pool = d->spec->site_pool[site - d->http->sites];
        if (pool >= d->spec->n_pools || strlen(c->source.listener->name) >= sizeof(msg.listener_name))
                return dconn_fail(d, c, 500, now);
        strcpy(msg.listener_name, c->source.listener->name);
        ssize_t k = fd_pass_send(d->spec->pool_fds[pool], &msg, sizeof(msg), &c->fd, 1, MSG_DONTWAIT);
        if (k < 0) {
                /* The pool does not take more (its loop is full and stopped reading): say so now
                 * rather than queue without bound or block every other client behind it. */
                if (k != -EAGAIN && k != -ENOBUFS)
                        log_warning_errno((int) k, "Cannot hand a connection to the pool of %s: %m", site->name);
                return dconn_fail(d, c, 503, now);
        }
        /* No request is counted here: the pool that serves it counts it (a hand-off is no
         * request; this process's connections count says how many it passed on). */
        dconn_free(d, c); /* the pool holds it now */
        return false;
}

/* Pass the connection to the pool of the site its head names. */
static bool dconn_route(Dispatcher *d, DispatchConn *c, usec_t now) {
        const HttpRequestHead *h = &c->head;
        const HttpSite *site = http_server_route(d->http, c->source.listener->name,
                                                 h->has_host ? c->buf + c->skip + h->host.off : NULL,
                                                 h->has_host ? h->host.len : 0);

        if (!site)
                return dconn_respond(d, c, 421, now);
        return dconn_pass(d, c, site, now);
}

/* A ClientHello the dispatcher does not pass on: closed without a word (an alert would tell a
 * scanner no more than the close does, and the bytes may be no TLS at all), and counted. */
static bool dconn_refuse_hello(Dispatcher *d, DispatchConn *c, const char *why) {
        d->ctx->board->workers[0].tls_hellos_refused++;
        log_debug("closing a connection on %s: %s", c->source.listener->name, why);
        dconn_free(d, c);
        return false;
}

/* Pass a TLS connection to the pool of the site its SNI names, by the rule Host follows (an
 * unknown name, or none, goes to DefaultSite): its pool's store then shows that site's
 * certificate. With nobody to take the name, the handshake fails as OpenSSL would fail it under
 * SSLStrictSNIVHostCheck: unrecognized_name. */
static bool dconn_route_hello(Dispatcher *d, DispatchConn *c, const ClientHelloInfo *hello, usec_t now) {
        const HttpSite *site = http_server_route(d->http, c->source.listener->name, hello->has_sni ? hello->sni : NULL,
                                                 hello->sni_len);

        if (!site) {
                d->ctx->board->workers[0].tls_names_unrecognized++;
                return dconn_alert(d, c, TLS_ALERT_UNRECOGNIZED_NAME, now);
        }
        return dconn_pass(d, c, site, now);
}

/* What was peeked of a ClientHello (after the PROXY header, if any): true to wait for more, false
 * when c is gone (routed, refused, answered). Parsed again from its first byte each time
 * (client-hello.h keeps no state). */
static bool dconn_hello(Dispatcher *d, DispatchConn *c, usec_t now) {
        ClientHelloInfo hello;

        switch (client_hello_parse((const uint8_t *) c->buf + c->skip, c->seen - c->skip, &hello)) {
        case CLIENT_HELLO_DONE:
                return dconn_route_hello(d, c, &hello, now);
        case CLIENT_HELLO_INVALID:
                return dconn_refuse_hello(d, c, client_hello_error_to_string(hello.error));
        case CLIENT_HELLO_NEED_MORE:
                break;
        }
        c->need = c->skip + hello.need;
        return true;
}

/* A connection on a PROXY listener whose header is refused: closed unanswered, as proxy-io.c
 * closes it outside perchild (the proxy sent no HTTP, or we cannot believe it), never passed on. */
static bool dconn_refuse_proxy(Dispatcher *d, DispatchConn *c, const char *why) {
        d->ctx->board->workers[0].proxy_refused++;
        log_debug("closing a connection on %s: %s", c->source.listener->name, why);
        dconn_free(d, c);
        return false;
}

/* Has part of the request head (or ClientHello) come, past any PROXY header? */
static bool dconn_head_started(const DispatchConn *c) {
        if (c->proxy && c->skip == 0)
                return false;
        return c->seen > c->skip;
}

/* Look at what arrived, without consuming it. hup: epoll reported the peer's end of stream. */
static bool dconn_peek(Dispatcher *d, DispatchConn *c, bool hup, usec_t now) {
        /* A ClientHello may take CLIENT_HELLO_WIRE_MAX bytes of records: the parser refuses one
         * that would need more, so a full buffer of that size is never waited on. A PROXY header
         * comes before either, and proxy_header_parse() refuses one beyond PROXY_IO_HEADER_MAX. */
        size_t max = (c->tls ? (size_t) CLIENT_HELLO_WIRE_MAX : d->peek_max) +
                     (c->proxy ? (size_t) PROXY_IO_HEADER_MAX : 0);

        for (;;) {
                if (c->seen == c->size || c->need > c->size) {
                        if (c->size >= max) {
                                if (c->tls)
                                        return dconn_refuse_hello(d, c, "a ClientHello too long");
                                return dconn_respond(d, c, 431, now);
                        }
                        size_t size = MIN(MAX(c->size * 2, c->need), max);
                        char *p = realloc(c->buf, size);
                        if (!p) {
                                dconn_free(d, c);
                                return false;
                        }
                        c->buf = p;
                        c->size = size;
                }
                ssize_t n = recv(c->fd, c->buf, c->size, MSG_PEEK | MSG_DONTWAIT);
                if (n < 0 && errno == EAGAIN)
                        return true;
                /* End of stream or a reset before a whole head: nobody to answer (as the engine). A
                 * peek keeps returning the old bytes, so an end of stream after part of a head is
                 * only known from epoll; without one this was a wake-up for writing. */
                if (n <= 0 || ((size_t) n <= c->seen && hup)) {
                        dconn_free(d, c);
                        return false;
                }
                if ((size_t) n <= c->seen)
                        return true;
                c->seen = (size_t) n;
                dconn_set_deadline(c, now);
                if (c->proxy && c->skip == 0) {
                        /* The header stays unread too: the pool's proxy_io takes it (and believes
                         * it) itself. Here it only says where the head begins. */
                        ProxyHeader h;
                        ssize_t k = proxy_header_parse((const uint8_t *) c->buf, c->seen, &h);
                        if (k < 0)
                                return dconn_refuse_proxy(d, c, "a malformed PROXY header");
                        c->skip = (size_t) k;
                }
                bool header_whole = !c->proxy || c->skip > 0; /* else: wait for the rest of it */
                if (header_whole && c->tls) {
                        if (!dconn_hello(d, c, now))
                                return false;
                } else if (header_whole) {
                        int r = http_parser_feed(&c->parser, c->buf + c->skip, c->seen - c->skip);
                        if (r == HTTP_PARSE_DONE)
                                return dconn_route(d, c, now);
                        if (r < 0)
                                return dconn_respond(d, c, -r, now);
                }
                if (c->seen < c->size) {
                        /* All there is for now; and with the peer's end of stream already seen, all
                         * there will be: edge-triggered epoll will not report that end again. */
                        if (hup) {
                                dconn_free(d, c);
                                return false;
                        }
                        return true;
                }
        }
}

static void dconn_event(Dispatcher *d, DispatchConn *c, uint32_t events, usec_t now) {
        switch (c->state) {
        case DCONN_PEEK:
                (void) dconn_peek(d, c, events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR), now);
                break;
        case DCONN_WRITE:
                (void) dconn_write(d, c, now);
                break;
        case DCONN_LINGER:
                (void) dconn_linger(d, c, now);
                break;
        }
}

static void dispatcher_adopt(Dispatcher *d, const DispatchSource *src, int fd, const ClientKey *client,
                             usec_t now) {
        DispatchConn *c = calloc(1, sizeof(*c));
        const HttpSite *site = http_server_select(d->http, src->listener->name, NULL, 0);

        if (!c || !site) {
                free(c);
                safe_close(fd);
                return;
        }
        c->source = (DispatchSource) { .kind = SOURCE_CONN, .listener = src->listener };
        c->fd = fd;
        c->tls = src->listener->tls;
        c->proxy = src->listener->proxy_protocol;
        c->site = site;
        c->started = now;
        c->size = MIN((size_t) DISPATCH_PEEK_INITIAL, d->peek_max);
        c->buf = malloc(c->size);
        c->headers = calloc(MAX(site->limits.fields, 1u), sizeof(HttpHeader));
        if (!c->buf || !c->headers) {
                free(c->buf);
                free(c->headers);
                free(c);
                safe_close(fd);
                return;
        }
        if (client) {
                c->client = *client;
                c->counted = true;
        }
        http_parser_init(&c->parser, &c->head, c->headers, &site->limits);
        dconn_set_deadline(c, now);
        c->next = d->conns;
        if (d->conns)
                d->conns->prev = c;
        d->conns = c;
        d->n_conns++;
        d->ctx->board->workers[0].connections++;
        /* A deferred accept comes with the first bytes, nearly always the whole head: look at once
         * (as the engine serves at once), and a connection routed or answered and closed in this
         * pass never enters the epoll set, which saves its EPOLL_CTL_ADD and DEL. Without the defer
         * the peek would mostly find nothing: epoll says when something came. */
        if (src->deferred && !dconn_peek(d, c, false, now))
                return;
        /* Edge-triggered: the ADD itself reports what is already there (a head not yet seen, the
         * rest of one, room for the answer still to write). */
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c };
        if (epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                dconn_free(d, c);
                return;
        }
        c->watched = true;
}

/* May this client have one more connection whose head is being read? Counts it if so. Without
 * memory for the count the connection is taken uncounted: the bound is a defence, not a gate. */
static bool dispatcher_count_client(Dispatcher *d, const ClientKey *key, usec_t now) {
        int n = client_table_add(d->clients, key);

        if (n < 0)
                return true;
        if ((uint32_t) n <= d->spec->max_per_client)
                return true;
        client_table_remove(d->clients, key);
        d->refused++;
        if (now >= d->refused_log_next) {
                char text[INET6_ADDRSTRLEN] = "?";
                (void) inet_ntop(IN6_IS_ADDR_V4MAPPED((const struct in6_addr *) key->bytes) ? AF_INET : AF_INET6,
                                 IN6_IS_ADDR_V4MAPPED((const struct in6_addr *) key->bytes) ? key->bytes + 12
                                                                                             : key->bytes,
                                 text, sizeof(text));
                log_warning("client %s%s holds DispatcherConnectionsPerClient (%u) connections whose request head is "
                            "not complete: refusing more (%llu refused so far)",
                            text, IN6_IS_ADDR_V4MAPPED((const struct in6_addr *) key->bytes) ? "" : "/64",
                            d->spec->max_per_client, (unsigned long long) (d->refused - d->refused_logged));
                d->refused_logged = d->refused;
                d->refused_log_next = now + DISPATCH_REFUSED_LOG_USEC;
        }
        return false;
}

/* May this peer send a PROXY header? Only RemoteIPTrustedProxy may (the rule of proxy-io.c): from
 * anyone else the connection is closed before a byte is read, as its header could name any client. */
static bool dispatcher_proxy_trusted(Dispatcher *d, const struct sockaddr_storage *peer) {
        HttpConnInfo info;

        socket_conn_info_from(peer, "", 0, &info);
        if (http_networks_contain(&d->http->sites[0].cfg->remote_ip.trusted, info.peer))
                return true;
        log_debug("closing a connection on a PROXY listener from %s: not in RemoteIPTrustedProxy", info.peer);
        /* A connection taken and closed: counted as one, and as refused. */
        d->ctx->board->workers[0].connections++;
        d->ctx->board->workers[0].proxy_refused++;
        return false;
}

static void dispatcher_accept(Dispatcher *d, const DispatchSource *src, usec_t now) {
        for (int k = 0; k < DISPATCH_ACCEPT_BATCH; k++) {
                struct sockaddr_storage peer;
                socklen_t len;
                ClientKey key;
                bool has_key;

                if (d->n_conns >= d->spec->max_connections) {
                        dispatcher_set_accepting(d, false);
                        return;
                }
                int fd = mpm_accept(&d->pause, src->listener, now, d->n_conns, &peer, &len);
                if (fd < 0) {
                        /* Out of descriptors: stop taking connections until one of ours ends or the
                         * pause is over (the loop re-arms only then), rather than spin on a socket
                         * that stays readable; the backlog keeps the new ones. */
                        if (fd == -EMFILE || fd == -ENFILE)
                                dispatcher_set_accepting(d, false);
                        return;
                }
                if (src->listener->proxy_protocol && !dispatcher_proxy_trusted(d, &peer)) {
                        safe_close(fd);
                        continue;
                }
                /* Behind a PROXY listener every connection comes from the proxy, which holds many
                 * clients' connections: the bound per client would throttle all of them as one. */
                has_key = d->spec->max_per_client > 0 && !src->listener->proxy_protocol &&
                          client_key_from((struct sockaddr *) &peer, len, &key);
                if (has_key && !dispatcher_count_client(d, &key, now)) {
                        socket_reset_on_close(fd); /* no TIME_WAIT for a client that floods */
                        safe_close(fd);
                        continue;
                }
                dispatcher_adopt(d, src, fd, has_key ? &key : NULL, now);
        }
}

static void dispatcher_sweep(Dispatcher *d, usec_t now) {
        DispatchConn *next;

        for (DispatchConn *c = d->conns; c; c = next) {
                next = c->next;
                if (now < c->deadline)
                        continue;
                if (c->state == DCONN_PEEK && dconn_head_started(c) && c->tls)
                        (void) dconn_refuse_hello(d, c, "a ClientHello not complete by the deadline");
                else if (c->state == DCONN_PEEK && dconn_head_started(c))
                        (void) dconn_respond(d, c, 408, now); /* part of a head, then nothing in time */
                else
                        dconn_free(d, c);
        }
}

int dispatch_run(const WorkerContext *ctx, const DispatchSpec *spec) {
        Dispatcher d = {
                .ctx = ctx,
                .spec = spec,
                .http = ctx->generation->http,
                .stop = { .kind = SOURCE_STOP },
        };
        usec_t next_sweep;

        accept_pause_init(&d.pause);
        /* As the engine: at most the largest head any site accepts, and 4 KiB more. */
        d.peek_max = (size_t) d.http->max_head_size + 4096;
        d.ep = epoll_create1(EPOLL_CLOEXEC);
        d.listeners = calloc(MAX(spec->n_listeners, (size_t) 1), sizeof(DispatchSource));
        d.clients = client_table_new();
        if (d.ep < 0 || !d.listeners || !d.clients)
                return log_error_errno(errno, "Cannot set up the dispatcher: %m"), WORKER_EXIT_FATAL;
        for (size_t i = 0; i < spec->n_listeners; i++)
                d.listeners[i] = (DispatchSource) {
                        .kind = SOURCE_LISTENER,
                        .listener = &spec->listeners[i],
                        .deferred = mpm_listener_deferred(spec->listeners[i].fd),
                };
        struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &d.stop };
        if (epoll_ctl(d.ep, EPOLL_CTL_ADD, ctx->stop_fd, &sev) < 0)
                return log_error_errno(errno, "Cannot watch the stop signal: %m"), WORKER_EXIT_FATAL;
        dispatcher_set_accepting(&d, true);
        dispatcher_update_board(&d);
        worker_context_notify_ready(ctx);
        next_sweep = now_usec(CLOCK_MONOTONIC) + DISPATCH_SWEEP_USEC;

        while (!d.stopping || d.n_conns > 0) {
                struct epoll_event ev[256];
                usec_t now = now_usec(CLOCK_MONOTONIC);
                int n = epoll_wait(d.ep, ev, (int) ELEMENTSOF(ev), usec_to_timeout_ms(next_sweep, now));
                if (n < 0 && errno != EINTR) {
                        log_error_errno(errno, "epoll_wait failed: %m");
                        break;
                }
                now = now_usec(CLOCK_MONOTONIC);
                for (int i = 0; i < n; i++) {
                        DispatchSource *src = ev[i].data.ptr;
                        switch (src->kind) {
                        case SOURCE_LISTENER:
                                if (d.accepting)
                                        dispatcher_accept(&d, src, now);
                                break;
                        case SOURCE_STOP: {
                                int sig = conn_driver_read_stop(ctx->stop_fd);
                                if (sig == SIGUSR1)
                                        mpm_worker_reopen_logs(ctx->generation, false); /* its error log */
                                if (sig == SIGINT)
                                        goto out;
                                if (sig == SIGTERM) {
                                        d.stopping = true;
                                        dispatcher_set_accepting(&d, false);
                                }
                                break;
                        }
                        case SOURCE_CONN:
                                /* A connection freed earlier in this batch is not reported later
                                 * in it: its registration was removed before the free, and epoll
                                 * reports each registration at most once per epoll_wait. */
                                dconn_event(&d, (DispatchConn *) src, ev[i].events, now);
                                break;
                        }
                }
                if (now >= next_sweep) {
                        dispatcher_sweep(&d, now);
                        next_sweep = now + DISPATCH_SWEEP_USEC;
                }
                if (!d.accepting && !d.stopping && d.n_conns < spec->max_connections &&
                    accept_pause_over(&d.pause, now, d.n_conns))
                        dispatcher_set_accepting(&d, true);
                dispatcher_update_board(&d);
        }
out:
        while (d.conns)
                dconn_free(&d, d.conns);
        ctx->board->accepting = 0;
        ctx->board->workers[0].state = WS_GRACEFUL;
        free(d.listeners);
        client_table_free(d.clients);
        close(d.ep);
        accept_pause_done(&d.pause);
        return WORKER_EXIT_OK;
}
