/* SPDX-License-Identifier: MIT */
/* conn-internal.h — what the connection's two files share, and nothing else includes: conn.c (the
 * connection and one request's life: routing it, running its handler) and http1.c (HTTP/1 framing:
 * reading heads and bodies, writing responses, keep-alive, pipelining, lingering close, deadlines).
 *
 * The split: http1.c produces a parsed head and body bytes and hands them up (conn_on_head(),
 * conn_on_body(), conn_on_body_end()); conn.c decides, through request.c and the handler, and hands
 * a response or framed output back down (http1_start_write(), http1_send_output()). http1.c never
 * names a handler; conn.c never builds a byte of framing. */
#pragma once

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/conn.h"
#include "http/file-cache.h"
#include "http/handler.h"
#include "http/parser.h"
#include "http/request.h"
#include "http/response.h"

#define IN_BUFFER_INITIAL 4096
#define OUT_BUFFER_SIZE (16 * 1024) /* a response head plus a small file in one write */
/* The tail of out[] a handler may copy a small body into; the head is built in front of it. */
#define OUT_BODY_ROOM FILE_CACHE_DATA_MAX
#define DISCARD_BODY_MAX (1024 * 1024) /* a larger unwanted body closes the connection instead */

/* What one state function achieved: changed state (go on), would block, or finished. */
typedef enum ConnStep {
        STEP_CONTINUE,
        STEP_WANT_READ,
        STEP_WANT_WRITE,
        STEP_WANT_FD_READ,  /* the handler's wait_fd */
        STEP_WANT_FD_WRITE, /* the handler's wait_fd */
        STEP_DONE,
} ConnStep;

typedef enum ConnState {
        CONN_READ_HEAD,
        CONN_READ_BODY, /* the request body, for the handler or read and dropped, before the answer */
        CONN_HANDLER,   /* the handler produces framed output (a CGI program's) or waits */
        CONN_WRITE,     /* sending a response */
        CONN_LINGER,
        CONN_TUNNEL,    /* after a 101: bytes both ways between the client and the handler's wait_fd */
        CONN_CLOSED,
} ConnState;

/* Everything a request in flight needs. An idle kept-alive connection holds none of it, so ten
 * thousand of them cost little more than their sockets; blocks are reused through a per-thread
 * pool instead of going back to malloc for every connection. */
typedef struct ConnRequest {
        struct ConnRequest *next_free;

        /* input: request bytes; the current request starts at in[0] */
        char *in; /* in_inline, or a larger heap buffer for a long head */
        size_t in_len, in_size;
        HttpHeader *headers;
        uint32_t headers_cap;
        HttpParser parser;
        HttpRequestHead head;

        /* the request body, for the handler or dropped */
        uint64_t body_left;
        bool body_chunked;
        HttpChunked chunked;
        uint64_t body_discarded; /* decoded bytes */
        uint64_t body_received;  /* raw bytes, for MinRate */
        usec_t body_started;
        uint64_t body_max;    /* decoded bytes allowed (LimitRequestBody, the handler's); 0: no limit */
        bool body_wanted;     /* the handler takes it (on_body()); otherwise it is dropped */
        /* The handler took a piece and waits to pass it on (HTTP_HANDLER_WAIT_*): no more body is read
         * until its wait_fd is ready; 0 when it does not wait. body_wait_since: when it began, so
         * that the time the upstream takes does not count against the client's MinRate. */
        int body_wait;
        usec_t body_wait_since;
        const char *cont;     /* "100 Continue" bytes still to send before reading the body */
        size_t cont_len;

        /* the handler */
        HttpRequest req;        /* as the handler sees it */
        HttpHandler *handler;   /* in handler_space; NULL: none (an answer without one) */
        HttpOutput hout;        /* the handler's framed output not yet sent */
        bool hout_last;         /* the response is complete once hout is sent */
        bool hout_deadline_set; /* c->deadline was taken from the handler's since it started producing */

        /* the tunnel (CONN_TUNNEL): client to upstream through in[], upstream to client through out[] */
        size_t tun_up_off, tun_up_len, tun_down_off, tun_down_len;
        bool tun_client_eof, tun_upstream_eof;
        bool tun_watch_client; /* it waits on the upstream and the client at once */
        uint64_t tun_bytes_down;
        struct HttpUpstreamConn *tun_up; /* the handler's; its socket is the handler's wait_fd */
        usec_t tun_idle;

        /* output */
        HttpResponse resp;
        size_t out_len, out_sent, out_limit;
        const char *mem_body; /* a memory body sent after out[] */
        size_t mem_len, mem_sent;
        off_t file_off;
        uint64_t file_left;
        usec_t send_started;   /* MinSendRate: when the response started going out */
        uint64_t sent;         /* bytes of it written to the socket */
        usec_t idle_deadline;  /* TimeOut from the last write that made progress */
        usec_t rate_check;     /* when MinSendRate is checked next */
        bool keep_alive;
        bool send_body;
        bool linger; /* the client may still be sending: lingering close */
        uint64_t body_bytes;
        /* The access log's %O and %I, counted where the bytes pass, without asking the kernel:
         * everything written to the transport for this request (100 Continue, head, body, a
         * handler's framed output), and the raw body bytes taken from in[] (the head is head_len). */
        uint64_t wire_out;
        uint64_t wire_in_body;
        size_t head_out; /* bytes of out[] that are the response head, not body */
        bool logged;     /* its access log line is written: once, however the request ends */
        char method[16];
        char client[64]; /* RemoteIPHeader's client for this request; "" when the peer is the client */

        char in_inline[IN_BUFFER_INITIAL];
        char out[OUT_BUFFER_SIZE];
        alignas(max_align_t) unsigned char handler_space[HTTP_HANDLER_SPACE];
} ConnRequest;

struct HttpConn {
        const HttpServer *server;
        const HttpIo *io;
        void *io_ctx;
        const HttpConnObserver *obs;
        void *obs_userdata;
        ConnRequest *rq;      /* NULL while idle */
        const HttpSite *site; /* for limits and timeouts of the current request */

        ConnState state;
        HttpConnPhase phase;
        usec_t deadline;
        usec_t head_started;
        unsigned requests;
        bool draining;
        bool shut_down;
        bool peer_proxied; /* info.peer is what the PROXY header said (HttpIo.proxied_peer) */
        uint32_t lingered; /* bytes drained by the lingering close */
        usec_t now;        /* of the last call in, for a request logged when the connection is freed */
        HttpConnInfo info;
        /* The socket's own address (SERVER_ADDR of CGI and FastCGI), asked of the kernel once:
         * an accepted socket keeps it. "" until then. */
        char local_address[64];
};

/* ---- conn.c --------------------------------------------------------------------------------- */

void conn_set_phase(HttpConn *c, HttpConnPhase p);
void conn_error(const HttpConn *c, int level, const char *fmt, ...) _printf_(3, 4);
const HttpSite *conn_default_site(const HttpConn *c);
/* A TLS handshake the client's certificate failed (HttpIo.tls_refused): a line at info in the
 * log of the site that refused it, with OpenSSL's reason, as mod_ssl logs it. */
void conn_log_tls_refusal(const HttpConn *c);
ConnRequest *conn_request_get(HttpConn *c);
void conn_request_put(ConnRequest *rq);
void conn_request_reset(HttpConn *c, ConnRequest *rq);

/* Answer with an error (and close after it when close); the response goes out at once. */
void conn_answer_error(HttpConn *c, int status, bool close, usec_t now);
/* Answer with an error and close; the client may still be sending (lingering close). */
void conn_fail(HttpConn *c, int status, usec_t now);

/* Up from the protocol: a head is complete (r == HTTP_PARSE_DONE) or was rejected (r < 0, the
 * status negated); body bytes the handler wants (0, or the negative status to answer); the body is
 * complete. */
void conn_on_head(HttpConn *c, int r, usec_t now);
int conn_on_body(HttpConn *c, const char *p, size_t n);
void conn_on_body_end(HttpConn *c, usec_t now);

/* The answer is out: the access log, the observer, and the request's end. */
void conn_request_logged(HttpConn *c, usec_t now);
/* The connection ends with a response under way (written in part, or a handler still producing
 * it): the access log gets its line once, with the status and the bytes that went out and %X 'X'.
 * Nothing when no response was under way or its line is written. */
void conn_request_aborted(HttpConn *c, usec_t now);
/* The tunnel ended (a side closed, an error, idle): its line in the access log (101), then close. */
void conn_tunnel_done(HttpConn *c, usec_t now);

/* ---- http1.c -------------------------------------------------------------------------------- */

static inline const HttpSiteConfig *conn_cfg(const HttpConn *c) {
        return c->site->cfg;
}

usec_t http1_stage_deadline(const HttpConn *c, const HttpReadTimeoutStage *st, usec_t started, uint64_t bytes,
                            usec_t now);
bool http1_keep_alive(const HttpConn *c, const HttpResponse *r);
/* Set up the body's framing from the head (Content-Length, chunked). */
void http1_body_init(HttpConn *c);
void http1_start_body(HttpConn *c, usec_t now);
void http1_start_write(HttpConn *c, usec_t now);
/* Send what is left of o; 1 when all of it is out, 0 when the transport would block (*ret_step says
 * which way), <0 when the client is gone. */
int http1_send_output(HttpConn *c, HttpOutput *o, usec_t now, ConnStep *ret_step);
/* The response is out: keep-alive (the next head, perhaps pipelined), close or lingering close. */
void http1_finish_request(HttpConn *c, usec_t now);

ConnStep http1_read_head(HttpConn *c, usec_t now);
ConnStep http1_read_body(HttpConn *c, usec_t now);
ConnStep http1_write(HttpConn *c, usec_t now);
ConnStep http1_linger(HttpConn *c);
/* The handler's 101 is out: become a tunnel to fd (the handler's, which it keeps open), closed
 * after idle without a byte either way; http1_tunnel() carries it. */
struct HttpUpstreamConn;
void http1_start_tunnel(HttpConn *c, struct HttpUpstreamConn *up, usec_t idle, usec_t now);
ConnStep http1_tunnel(HttpConn *c, usec_t now);
/* With MinSendRate: has the client taken the response fast enough? */
bool http1_send_rate_ok(const HttpConn *c, usec_t now);
void http1_write_deadline(HttpConn *c);
