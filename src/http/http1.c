/* SPDX-License-Identifier: MIT */
/* http1.c — HTTP/1 framing (conn-internal.h): the protocol layer between the transport (io.h) and
 * the request's life (conn.c). It reads and parses heads (parser.c), reads bodies (Content-Length,
 * chunked, 100-continue, or read and dropped), writes response heads (the one serializer,
 * response.h) and bodies (memory, file, pieces; a small file in the same write as its head),
 * writes a handler's framed output as it is, and runs keep-alive, pipelining, lingering close and
 * every deadline (RequestReadTimeout, TimeOut, MinSendRate, KeepAliveTimeout). It knows no handler:
 * it hands heads and body bytes up and takes a response or bytes back.
 *
 * The transport's two waits are honoured as they come: whatever call answers HTTP_IO_WANT_READ
 * makes the connection wait for readable, HTTP_IO_WANT_WRITE for writable, and the same call is
 * made again once it is. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/conn-internal.h"
#include "http/date.h"
#include "http/respond.h"
#include "http/upstream.h"
#include "shared/log.h"
#include "shared/time-util.h"

#define SMALL_FILE_MAX (OUT_BUFFER_SIZE - 1024)
#define LINGER_USEC (2 * USEC_PER_SEC)
/* Lingering close drains at most this much: a client still pushing more after its answer (a 413
 * for a 10 GB upload) is not worth reading at loopback speed for the whole LINGER_USEC. */
#define LINGER_BYTES_MAX (4u << 20)

/* The step for a transport's wait. */
static ConnStep io_wait(ssize_t k) {
        assert(http_io_is_wait(k));
        return k == HTTP_IO_WANT_READ ? STEP_WANT_READ : STEP_WANT_WRITE;
}

/* When a stage of RequestReadTimeout ends: its timeout from started, one more second per MinRate
 * bytes received, at most its maximum. A stage that is off leaves TimeOut per read. */
usec_t http1_stage_deadline(const HttpConn *c, const HttpReadTimeoutStage *st, usec_t started, uint64_t bytes,
                            usec_t now) {
        usec_t per_read = now + conn_cfg(c)->timeout;
        usec_t d;

        if (st->timeout == 0)
                return per_read;
        d = st->timeout;
        if (st->min_rate > 0) {
                d += bytes / st->min_rate * USEC_PER_SEC;
                if (st->max > 0 && d > st->max)
                        d = st->max;
        }
        return MIN(started + d, per_read);
}

bool http1_keep_alive(const HttpConn *c, const HttpResponse *r) {
        const HttpSiteConfig *cfg = conn_cfg(c);
        const HttpRequestHead *h = &c->rq->head;

        if (r->close || c->draining || !cfg->keep_alive || h->conn_close)
                return false;
        if (h->version_minor == 0 && !h->conn_keep_alive)
                return false;
        if (cfg->max_keep_alive_requests > 0 && c->requests + 1 >= cfg->max_keep_alive_requests)
                return false;
        return true;
}

/* ---- writing a response --------------------------------------------------------------------- */

/* Turn the response into bytes: the head in out[], a small file or memory body right behind it.
 * Formatting is copying: the status line and the Server line are prebuilt, the Date cached. */
static void http1_prepare_response(HttpConn *c, bool head_only, usec_t now_real) {
        ConnRequest *rq = c->rq;
        HttpResponse *r = &rq->resp;
        uint64_t length;

        /* ErrorDocument, Expires*, Header (respond.h). */
        http_respond(&rq->req, r);
        if (r->headers_overflow)
                http_response_set_error(r, 500);
        rq->keep_alive = http1_keep_alive(c, r);
        length = http_response_body_length(r);

        rq->out_len = rq->out_sent = 0;
        rq->out_limit = OUT_BUFFER_SIZE;
        if (r->body && r->body >= rq->out && r->body < rq->out + OUT_BUFFER_SIZE)
                /* The handler copied its body into the tail of out[]: the head goes in front of it. */
                rq->out_limit = (size_t) (r->body - rq->out);
        HttpHeadWriter w;
        http_head_begin(&w, rq->out, rq->out_limit, r->status, NULL, 0, http_date_now(now_real),
                        c->server->server_line, c->server->server_line_len);
        http_head_put(&w, r->headers, r->headers_len);
        http_head_end(&w, r->status, HTTP_FRAMING_LENGTH, length, rq->keep_alive, rq->head.version_minor);
        /* The handler's lines are bounded (HTTP_RESPONSE_HEADERS_MAX) and out[] has room for them and
         * ours in front of the largest body a handler may copy into its tail. */
        assert(http_head_fits(&w));
        rq->out_len = rq->head_out = w.len;

        rq->send_body = !head_only && !http_status_has_no_body(r->status);
        rq->body_bytes = rq->send_body ? length : 0;
        rq->mem_body = NULL;
        rq->mem_len = rq->mem_sent = 0;
        rq->file_left = 0;
        if (!rq->send_body) {
                r->file_fd = safe_close(r->file_fd);
                return;
        }
        if (r->file_fd >= 0) {
                rq->file_off = r->file_off;
                rq->file_left = r->file_len;
                /* A small file goes into the same write as its head. */
                if (r->file_len <= SMALL_FILE_MAX && rq->out_len + r->file_len <= OUT_BUFFER_SIZE) {
                        ssize_t k = pread(r->file_fd, rq->out + rq->out_len, r->file_len, r->file_off);
                        if (k == (ssize_t) r->file_len) {
                                rq->out_len += (size_t) k;
                                rq->file_left = 0;
                                r->file_fd = safe_close(r->file_fd);
                        }
                }
        } else if (r->n_pieces == 0) {
                rq->mem_body = r->body;
                rq->mem_len = r->body_len;
        }
}

/* While a response goes out: TimeOut from the last progress, and MinSendRate checked once a second
 * from TimeOut after the start. */
void http1_write_deadline(HttpConn *c) {
        const ConnRequest *rq = c->rq;

        c->deadline = rq->idle_deadline;
        if (conn_cfg(c)->min_send_rate > 0 && c->io->unsent && rq->rate_check < c->deadline)
                c->deadline = rq->rate_check;
}

static void http1_write_progress(HttpConn *c, usec_t now) {
        c->rq->idle_deadline = now + conn_cfg(c)->timeout;
        http1_write_deadline(c);
}

void http1_start_write(HttpConn *c, usec_t now) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        http1_prepare_response(c, c->rq->head.method == HTTP_METHOD_HEAD, timespec_to_usec(&ts));
        c->state = CONN_WRITE;
        c->rq->send_started = now;
        c->rq->sent = 0;
        c->rq->rate_check = now + conn_cfg(c)->timeout;
        http1_write_progress(c, now);
        conn_set_phase(c, HTTP_PHASE_WRITE);
}

/* Has the client taken the response at MinSendRate, counted from TimeOut after its start? What it
 * acknowledged counts, not what the kernel buffers for it. */
bool http1_send_rate_ok(const HttpConn *c, usec_t now) {
        const ConnRequest *rq = c->rq;
        usec_t grace = rq->send_started + conn_cfg(c)->timeout;
        ssize_t unsent = c->io->unsent(c->io_ctx);

        if (unsent < 0 || now <= grace)
                return true;
        uint64_t taken = rq->sent > (uint64_t) unsent ? rq->sent - (uint64_t) unsent : 0;
        uint64_t due = (now - grace) / USEC_PER_SEC * conn_cfg(c)->min_send_rate;
        return taken >= due;
}

int http1_send_output(HttpConn *c, HttpOutput *o, usec_t now, ConnStep *ret_step) {
        while (o->len > 0) {
                ssize_t k = c->io->writev(c->io_ctx, o->iov, o->n_iov);
                if (http_io_is_wait(k)) {
                        *ret_step = io_wait(k);
                        return 0;
                }
                if (k < 0)
                        return (int) k;
                size_t done = (size_t) k;
                int first = 0;
                o->len -= done;
                c->rq->wire_out += done;
                while (first < o->n_iov && done >= o->iov[first].iov_len)
                        done -= o->iov[first++].iov_len;
                if (first < o->n_iov) {
                        o->iov[first].iov_base = (char *) o->iov[first].iov_base + done;
                        o->iov[first].iov_len -= done;
                }
                memmove(o->iov, o->iov + first, (size_t) (o->n_iov - first) * sizeof(struct iovec));
                o->n_iov -= first;
                c->deadline = now + conn_cfg(c)->timeout;
        }
        return 1;
}

ConnStep http1_write(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;
        HttpResponse *r = &rq->resp;
        int file_fd = r->n_pieces > 0 ? r->pieces_fd : r->file_fd;

        while (rq->out_sent < rq->out_len || rq->mem_sent < rq->mem_len) {
                struct iovec iov[2];
                int n = 0;

                if (rq->out_sent < rq->out_len)
                        iov[n++] = (struct iovec) { rq->out + rq->out_sent, rq->out_len - rq->out_sent };
                if (rq->mem_sent < rq->mem_len)
                        iov[n++] = (struct iovec) { (char *) rq->mem_body + rq->mem_sent, rq->mem_len - rq->mem_sent };
                ssize_t k = c->io->writev(c->io_ctx, iov, n);
                if (http_io_is_wait(k))
                        return io_wait(k);
                if (k < 0)
                        return STEP_DONE;
                size_t done = (size_t) k;
                size_t head_part = MIN(done, rq->out_len - rq->out_sent);
                rq->out_sent += head_part;
                rq->mem_sent += done - head_part;
                rq->sent += done;
                rq->wire_out += done;
                http1_write_progress(c, now);
        }

        while (rq->file_left > 0) {
                ssize_t k;
                size_t chunk = rq->file_left > (1u << 20) ? (1u << 20) : (size_t) rq->file_left;

                if (c->io->sendfile)
                        k = c->io->sendfile(c->io_ctx, file_fd, &rq->file_off, chunk);
                else {
                        /* No sendfile (tests, fuzzers, a transport that must see the bytes): read into
                         * the output buffer and write that; after a wait the same range is read again. */
                        if (chunk > OUT_BUFFER_SIZE)
                                chunk = OUT_BUFFER_SIZE;
                        ssize_t got = pread(file_fd, rq->out, chunk, rq->file_off);
                        if (got <= 0)
                                return STEP_DONE;
                        struct iovec iov = { rq->out, (size_t) got };
                        k = c->io->writev(c->io_ctx, &iov, 1);
                        if (k > 0)
                                rq->file_off += k;
                }
                if (http_io_is_wait(k))
                        return io_wait(k);
                if (k <= 0)
                        /* The file shrank or the peer went away: the length promised cannot be kept. */
                        return STEP_DONE;
                rq->file_left -= (uint64_t) k;
                rq->sent += (uint64_t) k;
                rq->wire_out += (uint64_t) k;
                http1_write_progress(c, now);
        }

        /* A body in pieces (multipart/byteranges): each is sent like a memory or file body in turn.
         * body_bytes is 0 for HEAD, bodiless statuses and a failed head, which send none. */
        if (rq->body_bytes > 0 && r->piece_next < r->n_pieces) {
                const HttpBodyPiece *p = &r->pieces[r->piece_next++];
                if (p->mem) {
                        rq->mem_body = p->mem;
                        rq->mem_len = (size_t) p->len;
                        rq->mem_sent = 0;
                } else {
                        rq->file_off = p->off;
                        rq->file_left = p->len;
                }
                return STEP_CONTINUE;
        }

        conn_request_logged(c, now);
        return STEP_CONTINUE;
}

/* ---- the end of a request: keep-alive, pipelining, close ------------------------------------ */

/* Remove n bytes of in[] at off; what follows moves up. */
static void http1_cut_input(ConnRequest *rq, size_t off, size_t n) {
        if (off + n >= rq->in_len) {
                rq->in_len = off;
                return;
        }
        memmove(rq->in + off, rq->in + off + n, rq->in_len - off - n);
        rq->in_len -= n;
}

/* Nothing after the answer may be unread in the kernel or in in[] for a plain close: closing a
 * socket with unread bytes resets it and can destroy the answer in flight. */
static bool http1_needs_linger(const ConnRequest *rq) {
        return rq->linger || rq->body_left > 0 || rq->body_chunked || rq->in_len > 0;
}

void http1_finish_request(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;

        if (c->obs && c->obs->request_done)
                c->obs->request_done(c->obs_userdata, c->site ? c->site->name : "", rq->method, rq->resp.status,
                                     rq->body_bytes, now > c->head_started ? now - c->head_started : 0);
        c->requests++;
        http1_cut_input(rq, 0, rq->head.head_len);
        http_response_done(&rq->resp);

        if (!rq->keep_alive) {
                bool linger = http1_needs_linger(rq);
                conn_request_put(rq);
                c->rq = NULL;
                if (!linger) {
                        c->state = CONN_CLOSED;
                        return;
                }
                /* The client may still be sending: drain what comes for a while so our answer is
                 * not lost to a reset (lingering close). */
                c->state = CONN_LINGER;
                c->deadline = now + LINGER_USEC;
                conn_set_phase(c, HTTP_PHASE_LINGER);
                return;
        }
        c->state = CONN_READ_HEAD;
        c->site = conn_default_site(c);
        c->head_started = now;
        if (rq->in_len > 0) {
                /* Pipelined: the next head is already here. */
                conn_request_reset(c, rq);
                c->deadline = http1_stage_deadline(c, &c->site->read_timeout.header, now, rq->in_len, now);
                conn_set_phase(c, HTTP_PHASE_READ);
        } else {
                conn_request_put(rq);
                c->rq = NULL;
                c->deadline = now + conn_cfg(c)->keep_alive_timeout;
                conn_set_phase(c, HTTP_PHASE_IDLE);
        }
}

/* ---- the tunnel after a 101 ------------------------------------------------------------------ */

void http1_start_tunnel(HttpConn *c, HttpUpstreamConn *up, usec_t idle, usec_t now) {
        ConnRequest *rq = c->rq;

        /* What the client sent after its request head (frames it did not wait to send) goes first. */
        size_t head = MIN((size_t) rq->head.head_len, rq->in_len);
        rq->tun_up_off = head;
        rq->tun_up_len = rq->in_len - head;
        rq->tun_down_off = rq->tun_down_len = 0;
        rq->tun_client_eof = rq->tun_upstream_eof = rq->tun_watch_client = false;
        rq->tun_bytes_down = 0;
        rq->tun_up = up;
        rq->tun_idle = idle;
        c->state = CONN_TUNNEL;
        c->deadline = now + idle;
        conn_set_phase(c, HTTP_PHASE_WRITE);
}

/* Bytes both ways, each side read only when what it sent before has gone to the other (so either
 * side's slowness holds the other back, with one buffer each way). It ends when the upstream has
 * closed and everything it sent is out, when both have closed, or on an error. */
ConnStep http1_tunnel(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;
        HttpUpstreamConn *up = rq->tun_up;
        bool progress, send_wants_write = true, recv_wants_write = false;

        do {
                progress = false;
                if (rq->tun_up_len == 0 && !rq->tun_client_eof) {
                        ssize_t n = c->io->read(c->io_ctx, rq->in, rq->in_size);
                        if (n > 0) {
                                rq->tun_up_off = 0;
                                rq->tun_up_len = (size_t) n;
                                rq->wire_in_body += (uint64_t) n;
                                progress = true;
                        } else if (n == 0 || !http_io_is_wait(n)) {
                                /* The client is done: the upstream learns it, and may still answer. */
                                rq->tun_client_eof = true;
                                http_upstream_shutdown_write(up);
                                progress = true;
                        }
                }
                if (rq->tun_up_len > 0) {
                        ssize_t n = http_upstream_send(up, rq->in + rq->tun_up_off, rq->tun_up_len);
                        if (n > 0) {
                                rq->tun_up_off += (size_t) n;
                                rq->tun_up_len -= (size_t) n;
                                progress = true;
                        } else if (n == -EAGAIN)
                                send_wants_write = up->want_write;
                        else if (n < 0) {
                                rq->tun_upstream_eof = true;
                                rq->tun_up_len = 0;
                                rq->tun_client_eof = true;
                        }
                }
                if (rq->tun_down_len == 0 && !rq->tun_upstream_eof) {
                        ssize_t n = http_upstream_recv(up, rq->out, sizeof(rq->out));
                        if (n > 0) {
                                rq->tun_down_off = 0;
                                rq->tun_down_len = (size_t) n;
                                progress = true;
                        } else if (n == -EAGAIN)
                                recv_wants_write = up->want_write;
                        else {
                                rq->tun_upstream_eof = true;
                                progress = true;
                        }
                }
                if (rq->tun_down_len > 0) {
                        struct iovec iov = { rq->out + rq->tun_down_off, rq->tun_down_len };
                        ssize_t n = c->io->writev(c->io_ctx, &iov, 1);
                        if (n > 0) {
                                rq->tun_down_off += (size_t) n;
                                rq->tun_down_len -= (size_t) n;
                                rq->tun_bytes_down += (uint64_t) n;
                                rq->wire_out += (uint64_t) n;
                                progress = true;
                        } else if (!http_io_is_wait(n)) {
                                /* The client is gone: nobody is left to relay to. */
                                conn_tunnel_done(c, now);
                                return STEP_CONTINUE;
                        }
                }
                if (progress)
                        c->deadline = now + rq->tun_idle;
        } while (progress);

        if (rq->tun_upstream_eof && rq->tun_down_len == 0) {
                conn_tunnel_done(c, now);
                return STEP_CONTINUE;
        }
        rq->tun_watch_client = false;
        if (rq->tun_down_len > 0)
                return STEP_WANT_WRITE; /* the client is slow: the upstream waits */
        if (rq->tun_up_len > 0)
                /* The upstream is slow (or its TLS must read first): the client waits. */
                return send_wants_write ? STEP_WANT_FD_WRITE : STEP_WANT_FD_READ;
        if (recv_wants_write)
                return STEP_WANT_FD_WRITE; /* TLS must write before it can read */
        /* Both quiet: whichever speaks first. */
        rq->tun_watch_client = !rq->tun_client_eof;
        return STEP_WANT_FD_READ;
}

ConnStep http1_linger(HttpConn *c) {
        char scratch[16384];

        if (!c->shut_down) {
                if (!c->io->shutdown)
                        return STEP_DONE;
                int r = c->io->shutdown(c->io_ctx);
                if (http_io_is_wait(r))
                        return io_wait(r);
                if (r < 0)
                        return STEP_DONE;
                c->shut_down = true;
        }
        for (;;) {
                ssize_t n = c->io->read(c->io_ctx, scratch, sizeof(scratch));
                if (http_io_is_wait(n))
                        return io_wait(n);
                if (n <= 0)
                        return STEP_DONE;
                c->lingered += (uint32_t) n;
                if (c->lingered >= LINGER_BYTES_MAX)
                        return STEP_DONE;
        }
}

/* ---- reading a request ---------------------------------------------------------------------- */

/* Read more of the request. A connection without a request block takes one for the read and gives
 * it back when nothing came, so a read that would block costs no memory. */
static ssize_t http1_recv(HttpConn *c) {
        ConnRequest *rq = c->rq;
        ssize_t n;

        if (!rq) {
                rq = conn_request_get(c);
                if (!rq)
                        return -ENOMEM;
                n = c->io->read(c->io_ctx, rq->in, rq->in_size);
                if (n <= 0)
                        conn_request_put(rq);
                else
                        c->rq = rq;
                return n;
        }
        if (rq->in_len == rq->in_size) {
                size_t limit = (size_t) c->server->max_head_size + 4096;
                size_t size = rq->in_size * 2;
                char *p;

                if (rq->in_size >= limit)
                        return -ENOBUFS;
                if (size > limit)
                        size = limit;
                if (rq->in == rq->in_inline) {
                        p = malloc(size);
                        if (p)
                                memcpy(p, rq->in, rq->in_len);
                } else
                        p = realloc(rq->in, size);
                if (!p)
                        return -ENOMEM;
                rq->in = p;
                rq->in_size = size;
        }
        return c->io->read(c->io_ctx, rq->in + rq->in_len, rq->in_size - rq->in_len);
}

ConnStep http1_read_head(HttpConn *c, usec_t now) {
        for (;;) {
                if (c->rq && c->rq->in_len > 0) {
                        int r = http_parser_feed(&c->rq->parser, c->rq->in, c->rq->in_len);
                        if (r != HTTP_PARSE_AGAIN) {
                                conn_on_head(c, r, now);
                                return STEP_CONTINUE;
                        }
                }

                ssize_t n = http1_recv(c);
                if (http_io_is_wait(n))
                        return io_wait(n);
                if (n == -ENOBUFS) {
                        conn_on_head(c, -431, now);
                        return STEP_CONTINUE;
                }
                if (n <= 0) {
                        /* End of stream or a reset: between requests that is a normal close; within a
                         * head there is nobody left to answer. The first read is the handshake's. */
                        if (n < 0)
                                conn_log_tls_refusal(c);
                        return STEP_DONE;
                }
                if (c->phase == HTTP_PHASE_IDLE) {
                        c->head_started = now;
                        conn_set_phase(c, HTTP_PHASE_READ);
                }
                c->rq->in_len += (size_t) n;
                /* The header deadline grows with the data received, up to its maximum. */
                c->deadline = http1_stage_deadline(c, &c->site->read_timeout.header, c->head_started, c->rq->in_len,
                                                   now);
        }
}

void http1_body_init(HttpConn *c) {
        ConnRequest *rq = c->rq;

        if (rq->head.chunked) {
                rq->body_chunked = true;
                http_chunked_init(&rq->chunked);
        } else if (rq->head.has_content_length)
                rq->body_left = rq->head.content_length;
        rq->body_max = conn_cfg(c)->limit_request_body;
}

void http1_start_body(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;

        rq->body_started = now;
        /* What came with the head counts towards MinRate too. */
        rq->body_received = rq->in_len - rq->head.head_len;
        c->state = CONN_READ_BODY;
        c->deadline = http1_stage_deadline(c, &c->site->read_timeout.body, now, rq->body_received, now);
        conn_set_phase(c, HTTP_PHASE_READ);
}

/* Body bytes, decoded: to the handler when it wants them, else dropped. A handler that took them
 * but must wait to pass them on says so (rq->body_wait): the bytes are its own now. */
static int http1_deliver(HttpConn *c, const char *p, size_t n, usec_t now) {
        int k = c->rq->body_wanted && n > 0 ? conn_on_body(c, p, n) : 0;
        if (k > 0) {
                c->rq->body_wait = k;
                c->rq->body_wait_since = now;
                return 0;
        }
        return k;
}

/* Take the body bytes buffered behind the head (which stays: the answer and the log still use it):
 * to the handler, or dropped. Returns 1 when the whole body is in, 0 for more, or the negative
 * status to answer: -400 a malformed chunked body, -413 more than allowed, -500 the handler could
 * not take it. */
static int http1_take_buffered(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;
        size_t base = rq->head.head_len, avail = rq->in_len - base;
        int k;

        if (!rq->body_chunked) {
                size_t n = (size_t) MIN((uint64_t) avail, rq->body_left);
                k = http1_deliver(c, rq->in + base, n, now);
                if (k < 0)
                        return k;
                http1_cut_input(rq, base, n);
                rq->wire_in_body += n;
                rq->body_left -= n;
                rq->body_discarded += n;
                return rq->body_left == 0;
        }
        if (avail == 0)
                return 0;

        size_t consumed = 0, data = 0;
        int r = http_chunked_feed(&rq->chunked, &c->site->limits, rq->in + base, avail, &consumed, &data);
        /* The decoded data was written to the front of the region; it is delivered or dropped along
         * with the input it came from, and the bytes after the consumed part are kept. */
        k = http1_deliver(c, rq->in + base, data, now);
        if (k < 0)
                return k;
        http1_cut_input(rq, base, consumed);
        rq->wire_in_body += consumed;
        rq->body_discarded += data;
        if (r < 0)
                return -400;
        if (rq->body_max > 0 && rq->body_discarded > rq->body_max)
                /* A chunked body has no length to refuse up front: it is refused once it passes. */
                return -413;
        if (r == 1)
                rq->body_chunked = false;
        return r == 1;
}

ConnStep http1_read_body(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;

        while (rq->cont_len > 0) {
                /* 100 Continue first: the client waits for it before it sends the body. */
                struct iovec iov = { (void *) rq->cont, rq->cont_len };
                ssize_t k = c->io->writev(c->io_ctx, &iov, 1);
                if (http_io_is_wait(k))
                        return io_wait(k);
                if (k < 0)
                        return STEP_DONE;
                rq->cont += k;
                rq->cont_len -= (size_t) k;
                rq->wire_out += (uint64_t) k;
        }
        for (;;) {
                if (rq->body_wait) {
                        /* The handler's upstream was busy: can it take more now? */
                        HttpHandler *h = rq->handler;
                        int k = h->type->on_body(h, NULL, 0);
                        if (k < 0) {
                                conn_fail(c, -k, now);
                                return STEP_CONTINUE;
                        }
                        if (k > 0) {
                                rq->body_wait = k;
                                c->deadline = h->deadline;
                                return k == HTTP_HANDLER_WAIT_READ ? STEP_WANT_FD_READ : STEP_WANT_FD_WRITE;
                        }
                        rq->body_wait = 0;
                        if (now > rq->body_wait_since)
                                rq->body_started += now - rq->body_wait_since;
                        c->deadline = http1_stage_deadline(c, &c->site->read_timeout.body, rq->body_started,
                                                           rq->body_received, now);
                }
                int r = http1_take_buffered(c, now);
                if (r < 0) {
                        if (r == -413)
                                conn_error(c, LOG_PRI_ERR, "request body is larger than LimitRequestBody");
                        conn_fail(c, -r, now);
                        return STEP_CONTINUE;
                }
                if (rq->body_wait)
                        continue; /* it waits (above), even for the last piece */
                if (r == 1) {
                        conn_on_body_end(c, now);
                        return STEP_CONTINUE;
                }
                if (!rq->body_wanted && rq->body_discarded > DISCARD_BODY_MAX) {
                        /* An endless body: answer, then close. */
                        rq->resp.close = true;
                        rq->linger = true;
                        http1_start_write(c, now);
                        return STEP_CONTINUE;
                }
                ssize_t n = http1_recv(c);
                if (http_io_is_wait(n))
                        return io_wait(n);
                if (n == -ENOBUFS) {
                        conn_fail(c, 400, now);
                        return STEP_CONTINUE;
                }
                if (n <= 0)
                        return STEP_DONE;
                rq->in_len += (size_t) n;
                rq->body_received += (uint64_t) n;
                c->deadline = http1_stage_deadline(c, &c->site->read_timeout.body, rq->body_started,
                                                   rq->body_received, now);
        }
}
