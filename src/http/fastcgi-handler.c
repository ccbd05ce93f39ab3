/* SPDX-License-Identifier: MIT */
/* fastcgi-handler.c — the FastCGI handler (handler.h): a request whose script a SetHandler or an
 * AddHandler proxy: line sends to a FastCGI responder such as php-fpm (fastcgi-config.h).
 *
 * start() finds the script on disk (fastcgi-handler.h; 404/403 without asking the responder),
 * takes a connection from this thread's pool (upstream.h: 502 when it cannot connect, 503 when
 * the pool is full) and writes FCGI_BEGIN_REQUEST and the parameters. The request body goes on as
 * FCGI_STDIN records as it comes, through one bounded buffer: when the responder does not take it,
 * on_body() waits for the socket (the client's body is not read meanwhile: back-pressure). A
 * chunked body has no length, and php-fpm needs CONTENT_LENGTH: it is spooled into a memfd first
 * (at most LimitRequestBody, or FCGI_SPOOL_MAX when that is 0), then sent. produce() reads the
 * answer: STDOUT is CGI output, framed for the client by a CgiExchange (Status:, Location: and the
 * framing as for CGI); STDERR lines go to the site's error log; FCGI_END_REQUEST ends it (a
 * protocol_status other than complete is 503 for overloaded, else 502). With FCGI_KEEP_CONN the
 * connection returns to the pool, but only after a clean FCGI_END_REQUEST read exactly to its end.
 * ProxyTimeout (else TimeOut) bounds every wait: without a response head by then, 504.
 *
 * The state that does not fit the request block lives in a block taken from a per-thread free
 * list, so a request allocates nothing once the thread has served a few. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/cgi-exchange.h"
#include "http/cgi-run.h"
#include "http/cgi.h"
#include "http/date.h"
#include "http/fastcgi-config.h"
#include "http/fastcgi-handler.h"
#include "http/fastcgi.h"
#include "http/handler.h"
#include "http/mapping.h"
#include "http/proxy-config.h"
#include "shared/log.h"
#include "shared/strv.h"
#include "shared/time-util.h"

#define FCGI_REQUEST_ID 1
/* The bytes read from the responder at once; STDOUT is relayed from here without a copy. */
#define FCGI_IN_SIZE (32 * 1024)
/* The buffer of records to send: the parameters, then STDIN; it grows for a larger piece of body
 * (at most the connection's input buffer) and shrinks back when the block is kept. */
#define FCGI_OUT_MIN (64 * 1024)
#define FCGI_OUT_KEEP (256 * 1024)
/* A chunked body spooled when LimitRequestBody is 0. */
#define FCGI_SPOOL_MAX (UINT64_C(1) << 30)
/* STDERR bytes of one answer that reach the log; more is a protocol error (a runaway script). */
#define FCGI_STDERR_MAX (UINT64_C(4) << 20)
/* Free blocks a thread keeps. */
#define FCGI_FREE_MAX 16

typedef enum FcgiPhase {
        FCGI_PHASE_SEND, /* parameters and body go out */
        FCGI_PHASE_RECV, /* the answer comes */
        FCGI_PHASE_OVER, /* answered, or failed */
} FcgiPhase;

typedef struct FcgiBlock {
        struct FcgiBlock *next_free;
        HttpFcgiScript script;
        const HttpUpstreamTarget *target;
        HttpUpstreamConn *conn;
        HttpUpstreamWaiter *waiter; /* every connection is busy: waiting for one (acquire=) */
        usec_t acquire_deadline;
        usec_t timeout;
        usec_t progress; /* the last time the responder took or gave bytes (CLOCK_MONOTONIC) */
        FcgiPhase phase;
        bool begun;        /* the parameters are in out (or sent) */
        bool stdin_ended;  /* the empty FCGI_STDIN record is in out (or sent) */
        bool chunked;      /* the body is spooled first */
        bool exchange_done; /* the client's response is complete; what STDOUT still brings is dropped */
        bool cut;          /* the response is cut short: the client connection closes */
        bool clean;        /* FCGI_END_REQUEST with complete: the connection may be reused */
        bool dropped_logged;
        bool connect_waited; /* a connect() in progress was waited for once */
        bool connect_failed;
        bool received;      /* bytes of the answer came */
        bool body_streamed; /* body bytes went to the responder as they came (not from the spool) */
        bool retried;       /* sent again on a fresh connection once */
        bool spool_eof;     /* the spool was sent to its end */
        bool has_body;      /* the parameters say CONTENT_LENGTH */
        uint64_t content_length;
        int spool_fd;
        uint64_t body_len; /* spooled */
        FcgiStream stdin_stream;
        uint8_t *out;
        size_t out_cap, out_len, out_pos;
        FcgiDecoder decoder;
        char in[FCGI_IN_SIZE];
        size_t in_len, in_pos;
        CgiExchange *exchange;
        char err_line[480]; /* a STDERR line not yet ended */
        size_t err_len;
} FcgiBlock;

typedef struct FcgiHandler {
        HttpHandler base;
        FcgiBlock *b;
} FcgiHandler;

_Static_assert(sizeof(FcgiHandler) <= HTTP_HANDLER_SPACE, "the FastCGI handler's state must fit the request block");

static _Thread_local FcgiBlock *fcgi_free_list;
static _Thread_local unsigned fcgi_free_n;

static FcgiBlock *fcgi_block_get(void) {
        FcgiBlock *b = fcgi_free_list;

        if (b) {
                fcgi_free_list = b->next_free;
                fcgi_free_n--;
        } else {
                b = calloc(1, sizeof(*b));
                if (!b)
                        return NULL;
        }
        uint8_t *out = b->out;
        size_t cap = b->out_cap;
        /* Only the head of the block: the buffers are overwritten before they are read. */
        memset(b, 0, offsetof(FcgiBlock, in));
        b->out = out;
        b->out_cap = cap;
        b->spool_fd = -1;
        b->in_len = b->in_pos = 0;
        b->exchange = NULL;
        b->err_len = 0;
        return b;
}

static void fcgi_block_put(FcgiBlock *b) {
        if (!b)
                return;
        if (fcgi_free_n >= FCGI_FREE_MAX) {
                free(b->out);
                free(b);
                return;
        }
        if (b->out_cap > FCGI_OUT_KEEP) {
                b->out = mfree(b->out);
                b->out_cap = 0;
        }
        b->next_free = fcgi_free_list;
        fcgi_free_list = b;
        fcgi_free_n++;
}

/* ---- the script --------------------------------------------------------------------------- */

/* The directory q->root_fd is, as text (SCRIPT_FILENAME is a name php-fpm opens itself). */
static const char *fcgi_root_name(const HttpRequest *q) {
        const HttpSiteConfig *site = q->site->cfg;
        const HttpAliases *l = &site->mapping.alias;
        const char *rest;
        size_t index, rest_len;

        if (q->root_fd == q->site->root_fd)
                return site->document_root;
        if (l->n > 0 && http_alias_match(l, q->path, q->path_len, &index, &rest, &rest_len) &&
            index < q->site->n_alias_fds && q->site->alias_fds[index] == q->root_fd)
                return l->items[index].directory;
        return NULL;
}

static int fcgi_join(char *out, size_t size, const char *a, size_t a_len, const char *b, size_t b_len) {
        while (a_len > 1 && a[a_len - 1] == '/')
                a_len--;
        if (a_len + 1 + b_len >= size)
                return -ENAMETOOLONG;
        memcpy(out, a, a_len);
        out[a_len] = '/';
        memcpy(out + a_len + 1, b, b_len);
        out[a_len + 1 + b_len] = 0;
        return 0;
}

/* ProxyPass = PREFIX fcgi://HOST:PORT/PATH/: the responder is told the target's PATH and the rest
 * of the request's path (mod_proxy_fcgi's SCRIPT_FILENAME without its "proxy:fcgi://HOST:PORT"
 * prefix, which php-fpm strips); nothing is looked for here: the files are the responder's, maybe
 * on another machine. SCRIPT_NAME is the request's path, and there is no PATH_INFO. The rest has
 * no "." or ".." segments (the router normalised the path), so the name stays under PATH.
 * 1 (filled), 0 (no such ProxyPass), or -ENAMETOOLONG. */
static int fcgi_script_from_pass(const HttpRequest *q, HttpFcgiScript *ret) {
        const HttpProxyConfig *pc = q->cfg ? &q->cfg->proxy : &q->site->cfg->proxy;
        const char *rest;
        size_t rest_len;
        const HttpProxyPass *p = pc->pass.n > 0 ? http_proxy_pass_match(&pc->pass, q->path, q->path_len, &rest, &rest_len)
                                                : NULL;

        if (!p || p->target.protocol != HTTP_UPSTREAM_FCGI)
                return 0;
        const HttpUpstreamTarget *t = &p->target;
        if (t->path_len + rest_len >= sizeof(ret->filename) || q->path_len >= sizeof(ret->script_name))
                return -ENAMETOOLONG;
        memcpy(ret->filename, t->path, t->path_len);
        size_t len = t->path_len;
        if (len > 0 && ret->filename[len - 1] == '/' && rest_len > 0 && rest[0] == '/') {
                rest++;
                rest_len--;
        }
        memcpy(ret->filename + len, rest, rest_len);
        ret->filename[len + rest_len] = 0;
        memcpy(ret->script_name, q->path, q->path_len);
        ret->script_name[q->path_len] = 0;
        ret->script_name_len = q->path_len;
        ret->path_info[0] = 0;
        ret->path_info_len = 0;
        ret->target = t;
        return 1;
}

/* The used part only: the names are NUL-terminated. */
static void fcgi_script_copy(HttpFcgiScript *dst, const HttpFcgiScript *src) {
        dst->target = src->target;
        memcpy(dst->script_name, src->script_name, src->script_name_len + 1);
        dst->script_name_len = src->script_name_len;
        memcpy(dst->filename, src->filename, strlen(src->filename) + 1);
        memcpy(dst->path_info, src->path_info, src->path_info_len + 1);
        dst->path_info_len = src->path_info_len;
}

int http_fastcgi_script_find(const HttpRequest *q, HttpFcgiScript *ret) {
        const HttpSiteConfig *cfg = q->cfg ? q->cfg : q->site->cfg;
        const char *rest = q->file_path, *dir = fcgi_root_name(q);
        size_t rest_len = q->file_path_len, name_len;
        char with_index[PATH_MAX];
        int r;

        ret->target = NULL;
        r = fcgi_script_from_pass(q, ret);
        if (r != 0)
                return r < 0 ? r : 0;
        if (q->root_fd < 0 || !dir)
                return -ENOENT;
        while (rest_len > 0 && rest[0] == '/') {
                rest++;
                rest_len--;
        }
        /* The URL path up to rest: what SCRIPT_NAME starts with (an Alias's prefix, or "/"). */
        size_t url_prefix_len = (size_t) (rest - q->path);
        if (rest < q->path || rest > q->path + q->path_len)
                return -EINVAL;

        name_len = 0;
        r = cgi_script_find(q->root_fd, rest, rest_len, &name_len);
        if (r == -EISDIR) {
                /* A directory: its DirectoryIndex file, the first that is there. */
                STRV_FOREACH(index, cfg->directory_index) {
                        size_t n = strlen(*index);
                        size_t base = rest_len;
                        while (base > 0 && rest[base - 1] == '/')
                                base--;
                        if (base + 1 + n >= sizeof(with_index))
                                return -ENAMETOOLONG;
                        memcpy(with_index, rest, base);
                        size_t len = base;
                        if (base > 0)
                                with_index[len++] = '/';
                        memcpy(with_index + len, *index, n);
                        len += n;
                        with_index[len] = 0;
                        size_t found_len = 0;
                        int k = cgi_script_find(q->root_fd, with_index, len, &found_len);
                        bool whole = k >= 0 && found_len == len;
                        if (!whole)
                                continue;
                        /* SCRIPT_NAME is the directory's URL path and the index name. */
                        if (url_prefix_len + len >= sizeof(ret->script_name))
                                return -ENAMETOOLONG;
                        memcpy(ret->script_name, q->path, url_prefix_len);
                        memcpy(ret->script_name + url_prefix_len, with_index, len + 1);
                        ret->script_name_len = url_prefix_len + len;
                        ret->path_info[0] = 0;
                        ret->path_info_len = 0;
                        r = fcgi_join(ret->filename, sizeof(ret->filename), dir, strlen(dir), with_index, len);
                        if (r < 0)
                                return r;
                        goto found;
                }
                return -EISDIR;
        }
        if (r < 0)
                return r;
        ret->script_name_len = url_prefix_len + name_len;
        if (ret->script_name_len >= sizeof(ret->script_name))
                return -ENAMETOOLONG;
        memcpy(ret->script_name, q->path, ret->script_name_len);
        ret->script_name[ret->script_name_len] = 0;
        ret->path_info_len = q->path_len - ret->script_name_len;
        memcpy(ret->path_info, q->path + ret->script_name_len, ret->path_info_len);
        ret->path_info[ret->path_info_len] = 0;
        r = fcgi_join(ret->filename, sizeof(ret->filename), dir, strlen(dir), rest, name_len);
        if (r < 0)
                return r;
found:
        if (cfg->set_handler.set)
                ret->target = &cfg->set_handler.target;
        else
                ret->target = http_fcgi_extension_match(q->site->cfg, ret->script_name, ret->script_name_len);
        return 0;
}

/* ---- the parameters ----------------------------------------------------------------------- */

int http_fastcgi_request_begin(const HttpRequest *q, const HttpFcgiScript *s, const HttpFcgiParamsContext *ctx,
                               uint8_t *out, size_t size, size_t *ret_len) {
        static _Thread_local char env[CGI_ENV_MAX];
        size_t env_len, env_count, len;
        FcgiStream st;
        int r;

        CgiEnvParams ep = {
                .request = q,
                .server_software = q->server ? q->server->server_header : "mpmd",
                .scheme = "http",
                .remote_addr = ctx->remote_addr,
                .remote_port = ctx->remote_port,
                .server_addr = ctx->server_addr,
                .server_port = ctx->server_port,
                .script_name = s->script_name,
                .script_name_len = s->script_name_len,
                .script_filename = s->filename,
                .path_info = s->path_info,
                .path_info_len = s->path_info_len,
                .has_body = ctx->has_body,
                .content_length = ctx->content_length,
        };
        r = cgi_env_build(&ep, env, sizeof(env), &env_len, &env_count);
        if (r < 0)
                return r;

        r = fcgi_write_begin_request(out, size, FCGI_REQUEST_ID, FCGI_RESPONDER, ctx->keep_conn);
        if (r < 0)
                return r;
        len = (size_t) r;
        fcgi_stream_init(&st, FCGI_PARAMS, FCGI_REQUEST_ID, true);
        fcgi_stream_set_buffer(&st, out + len, size - len);
        for (const char *p = env, *end = env + env_len; p < end;) {
                size_t n = strlen(p);
                const char *eq = memchr(p, '=', n);
                /* PATH is for a program's own environment; php-fpm's workers have their own. */
                if (eq && !(eq - p == 4 && memcmp(p, "PATH", 4) == 0)) {
                        r = fcgi_params_add(&st, p, (size_t) (eq - p), eq + 1, n - (size_t) (eq - p) - 1);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                return -ENOBUFS;
                }
                p += n + 1;
        }
        if (fcgi_stream_end(&st) == 0)
                return -ENOBUFS;
        *ret_len = len + fcgi_stream_flush(&st);
        return 0;
}

/* ---- the exchange ------------------------------------------------------------------------- */

static void fcgi_error(HttpResponse *resp, int status, bool close) {
        http_response_done(resp);
        http_response_init(resp);
        http_response_set_error(resp, status);
        resp->close = close;
}

/* The request is over for the responder: the connection goes back (clean) or is closed. */
static void fcgi_release(FcgiHandler *s) {
        FcgiBlock *b = s->b;

        s->base.wait_fd = -1; /* nothing to wait on here any more (the fd may be another's soon) */
        b->waiter = http_upstream_wait_cancel(b->waiter, now_usec(CLOCK_MONOTONIC));
        if (b->conn)
                /* Reused only after a clean end with nothing after it (the decoder refuses any). */
                b->conn = http_upstream_release(b->conn, b->clean && fcgi_decoder_done(&b->decoder) &&
                                                                 b->in_pos == b->in_len,
                                                now_usec(CLOCK_MONOTONIC));
        b->phase = FCGI_PHASE_OVER;
}

static void fcgi_fail(FcgiHandler *s, HttpResponse *resp, int status) {
        fcgi_release(s);
        s->base.wait_fd = -1;
        fcgi_error(resp, status, false);
}

/* Wait for the socket. ProxyTimeout runs from the last progress, not from this call: a caller may
 * call again without the socket being ready (the threaded MPMs' loop wakes every second). */
static int fcgi_wait(FcgiHandler *s, int k) {
        if (s->b->waiter) {
                /* Queued: the eventfd becomes readable when a connection is ours. */
                s->base.wait_fd = s->b->waiter->fd;
                s->base.wait_slot = NULL;
                s->base.deadline = s->b->acquire_deadline;
                return HTTP_HANDLER_WAIT_READ;
        }
        s->base.wait_fd = s->b->conn->fd;
        /* Read and written until EAGAIN before each wait, or waited on right after a send. */
        s->base.wait_slot = &s->b->conn->driver_slot;
        s->base.deadline = s->b->progress + s->b->timeout;
        return k;
}

/* Make room for n more bytes in out. */
static int fcgi_out_reserve(FcgiBlock *b, size_t n) {
        if (b->out_cap - b->out_len >= n)
                return 0;
        size_t cap = MAX(b->out_cap * 2, MAX((size_t) FCGI_OUT_MIN, b->out_len + n));
        uint8_t *grown = realloc(b->out, cap);
        if (!grown)
                return -ENOMEM;
        b->out = grown;
        b->out_cap = cap;
        return 0;
}

/* Append data as FCGI_STDIN records (n == 0 with end: the empty record that ends the stream). */
static int fcgi_out_stdin(FcgiBlock *b, const void *data, size_t n, bool end) {
        /* A header and at most 7 bytes of padding per record, and the end record. */
        size_t need = n + (n / FCGI_MAX_CONTENT + 2) * 16;
        int r = fcgi_out_reserve(b, need);
        if (r < 0)
                return r;
        fcgi_stream_set_buffer(&b->stdin_stream, b->out + b->out_len, b->out_cap - b->out_len);
        size_t k = n > 0 ? fcgi_stream_write(&b->stdin_stream, data, n) : 0;
        if (k != n)
                return -ENOBUFS;
        if (end && fcgi_stream_end(&b->stdin_stream) == 0)
                return -ENOBUFS;
        b->out_len += fcgi_stream_flush(&b->stdin_stream);
        if (end)
                b->stdin_ended = true;
        return 0;
}

/* Send what out holds. 0 when all of it went, -EAGAIN (wait for the socket, or for a connection
 * while queued), or -errno. */
static int fcgi_out_send(FcgiBlock *b) {
        if (b->waiter) {
                int r = http_upstream_wait_take(&b->waiter, b->target, &b->conn);
                if (r == -EAGAIN)
                        return r;
                if (r < 0) {
                        b->conn = NULL;
                        b->connect_failed = true;
                        return r;
                }
                b->progress = now_usec(CLOCK_MONOTONIC);
        }
        HttpUpstreamConn *c = b->conn;

        if (c->connecting) {
                if (!b->connect_waited) {
                        b->connect_waited = true;
                        return -EAGAIN;
                }
                int r = http_upstream_connected(c);
                if (r < 0) {
                        b->connect_failed = true;
                        return r;
                }
        }
        while (b->out_pos < b->out_len) {
                ssize_t k = send(c->fd, b->out + b->out_pos, b->out_len - b->out_pos, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
                b->out_pos += (size_t) k;
                b->progress = now_usec(CLOCK_MONOTONIC);
        }
        b->out_pos = b->out_len = 0;
        return 0;
}

static void fcgi_log_send_error(const HttpRequest *q, const FcgiBlock *b, int r) {
        if (b->connect_failed)
                http_request_log(q, LOG_PRI_ERR, "FastCGI: cannot connect to %s: %s", b->target->url, strerror(-r));
        else
                http_request_log(q, LOG_PRI_ERR, "FastCGI: cannot send the request to %s: %s", b->target->url,
                                 strerror(-r));
}

/* Connect (from the pool) and put the parameters in out. 0, or the status to answer. */
static int fcgi_begin(FcgiHandler *s, uint64_t content_length, bool has_body) {
        FcgiBlock *b = s->b;

        b->has_body = has_body;
        b->content_length = content_length;
        const HttpRequest *q = s->base.request;
        static _Thread_local uint8_t scratch[HTTP_FCGI_BEGIN_MAX];
        char server_addr[64] = "";
        size_t len;

        usec_t now = now_usec(CLOCK_MONOTONIC);
        /* A request fcgi_retry() may send again takes a connection idle a moment unchecked. */
        bool retryable = !has_body && !b->retried && http_method_idempotent(q->head->method);
        int r = retryable ? http_upstream_acquire_retryable(b->target, now, &b->conn)
                          : http_upstream_acquire(b->target, now, &b->conn);
        if (r == -EBUSY) {
                /* Our pool is full: wait in its queue; the parameters are made meanwhile. */
                b->conn = NULL;
                r = http_upstream_wait(b->target, &b->waiter);
                if (r < 0) {
                        http_request_log(q, LOG_PRI_ERR, "FastCGI: %s: all %u connections of this thread are busy "
                                         "(max=) and %s", b->target->url, b->target->limits.max,
                                         r == -EBUSY ? "its queue is full (queue=)" : "there is no room to wait");
                        return 503;
                }
                b->acquire_deadline = now + (b->target->limits.acquire ? b->target->limits.acquire : b->timeout);
        } else if (r == -EAGAIN) {
                /* The responder's listen queue is full (a unix socket's connect()). */
                http_request_log(q, LOG_PRI_ERR, "FastCGI: %s: its listen queue is full", b->target->url);
                b->conn = NULL;
                return 503;
        }
        if (r < 0) {
                http_request_log(q, LOG_PRI_ERR, "FastCGI: cannot connect to %s: %s", b->target->url, strerror(-r));
                b->conn = NULL;
                return 502;
        }
        if (q->conn_ops && q->conn_ops->local_address)
                (void) q->conn_ops->local_address(q->conn, server_addr, sizeof(server_addr));
        HttpFcgiParamsContext ctx = {
                .remote_addr = q->peer,
                .remote_port = q->peer_port,
                .server_addr = server_addr,
                .server_port = q->local_port,
                .has_body = has_body,
                .content_length = content_length,
                .keep_conn = !b->target->limits.disable_reuse,
        };
        r = http_fastcgi_request_begin(q, &b->script, &ctx, scratch, sizeof(scratch), &len);
        if (r < 0) {
                http_request_log(q, LOG_PRI_ERR, "FastCGI: the request's parameters are too large");
                return 500;
        }
        b->progress = now_usec(CLOCK_MONOTONIC);
        b->out_len = b->out_pos = 0;
        if (fcgi_out_reserve(b, len) < 0)
                return 500;
        memcpy(b->out, scratch, len);
        b->out_len = len;
        fcgi_stream_init(&b->stdin_stream, FCGI_STDIN, FCGI_REQUEST_ID, true);
        fcgi_decoder_init(&b->decoder, FCGI_REQUEST_ID, FCGI_STDERR_MAX);
        b->begun = true;
        return 0;
}

static int fcgi_handler_start(HttpHandler *h, HttpResponse *resp) {
        FcgiHandler *s = (FcgiHandler *) h;
        const HttpRequest *q = h->request;
        const HttpRequestHead *head = q->head;
        const HttpSiteConfig *cfg = q->cfg ? q->cfg : q->site->cfg;
        const char *why = NULL;

        s->b = fcgi_block_get();
        if (!s->b) {
                fcgi_error(resp, 500, false);
                return HTTP_HANDLER_RESPOND;
        }
        FcgiBlock *b = s->b;
        int r = 0;
        if (q->fcgi_script)
                fcgi_script_copy(&b->script, q->fcgi_script); /* the router's, found a moment ago */
        else
                r = http_fastcgi_script_find(q, &b->script);
        if (r >= 0 && !b->script.target)
                r = -EACCES; /* the router sent it here, the disk changed since */
        if (r < 0) {
                int status = cgi_script_status(r, &why);
                if (why)
                        http_request_log(q, LOG_PRI_ERR, "%s: %s", why, q->path);
                fcgi_error(resp, status, false);
                return HTTP_HANDLER_RESPOND;
        }
        b->target = b->script.target;
        b->timeout = http_proxy_timeout(&cfg->proxy, b->target, cfg->timeout);

        if (head->chunked) {
                /* php-fpm needs CONTENT_LENGTH: the body is kept whole first. */
                b->chunked = true;
                h->body_max = cfg->limit_request_body > 0 ? cfg->limit_request_body : FCGI_SPOOL_MAX;
                b->spool_fd = memfd_create("mpmd-fcgi-body", MFD_CLOEXEC);
                if (b->spool_fd < 0) {
                        http_request_log(q, LOG_PRI_ERR, "cannot keep the request body: %s", strerror(errno));
                        fcgi_error(resp, 500, true);
                        return HTTP_HANDLER_RESPOND;
                }
                return HTTP_HANDLER_READ_BODY;
        }
        bool has_body = head->has_content_length && head->content_length > 0;
        int status = fcgi_begin(s, has_body ? head->content_length : 0, has_body);
        if (status != 0) {
                fcgi_fail(s, resp, status);
                return HTTP_HANDLER_RESPOND;
        }
        return HTTP_HANDLER_READ_BODY;
}

static int fcgi_handler_on_body(HttpHandler *h, const char *p, size_t n) {
        FcgiHandler *s = (FcgiHandler *) h;
        FcgiBlock *b = s->b;

        if (b->chunked) {
                while (n > 0) {
                        ssize_t k = write(b->spool_fd, p, n);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0)
                                return -500;
                        p += k;
                        n -= (size_t) k;
                        b->body_len += (uint64_t) k;
                }
                return 0;
        }
        if (n > 0 && fcgi_out_stdin(b, p, n, false) < 0)
                return -500;
        if (n > 0)
                b->body_streamed = true;
        int r = fcgi_out_send(b);
        if (r == -EAGAIN)
                return fcgi_wait(s, HTTP_HANDLER_WAIT_WRITE);
        if (r < 0) {
                fcgi_log_send_error(h->request, b, r);
                fcgi_release(s);
                return -502;
        }
        return 0;
}

/* Lines of STDERR to the error log; a line longer than the buffer is logged in pieces. */
static void fcgi_stderr(FcgiHandler *s, const char *p, size_t n) {
        FcgiBlock *b = s->b;
        const HttpRequest *q = s->base.request;

        while (n > 0) {
                const char *nl = memchr(p, '\n', n);
                size_t take = nl ? (size_t) (nl - p) : n;
                size_t room = sizeof(b->err_line) - b->err_len;
                bool full = take >= room;
                if (full)
                        take = room;
                memcpy(b->err_line + b->err_len, p, take);
                b->err_len += take;
                p += take;
                n -= take;
                if (nl && !full) {
                        p++; /* the newline */
                        n--;
                }
                if ((nl && !full) || full) {
                        size_t len = b->err_len;
                        if (len > 0 && b->err_line[len - 1] == '\r')
                                len--;
                        if (len > 0)
                                http_request_log(q, LOG_PRI_ERR, "FastCGI: %.*s", (int) len, b->err_line);
                        b->err_len = 0;
                }
        }
}

static void fcgi_stderr_flush(FcgiHandler *s) {
        FcgiBlock *b = s->b;
        if (b->err_len > 0)
                http_request_log(s->base.request, LOG_PRI_ERR, "FastCGI: %.*s", (int) b->err_len, b->err_line);
        b->err_len = 0;
}

static CgiExchange *fcgi_exchange_new(const HttpRequest *q) {
        const HttpRequestHead *h = q->head;
        char server_addr[64] = "";
        struct timespec ts;

        if (!h->has_host && !q->site->cfg->server_name && q->conn_ops && q->conn_ops->local_address)
                (void) q->conn_ops->local_address(q->conn, server_addr, sizeof(server_addr));
        const char *host = h->has_host ? q->buf + h->host.off : q->site->cfg->server_name;
        clock_gettime(CLOCK_REALTIME, &ts);
        usec_t now_real = timespec_to_usec(&ts);
        CgiExchangeContext ctx = {
                .version_minor = h->version_minor,
                .head_only = h->method == HTTP_METHOD_HEAD,
                .keep_alive = q->keep_alive,
                .date = http_date_now(now_real),
                .server_line = q->server->server_line,
                .server_line_len = q->server->server_line_len,
                .scheme = http_request_tls_info(q, &(HttpTlsInfo) {}) ? "https" : "http",
                .host = host ? host : server_addr,
                .host_len = h->has_host ? h->host.len : strlen(host ? host : server_addr),
                .headers = q->cfg ? &q->cfg->headers : &q->site->cfg->headers,
                .now = (time_t) (now_real / USEC_PER_SEC),
        };
        return cgi_exchange_new(&ctx);
}

/* The responder closed a connection the pool had kept (a php-fpm child that reached
 * pm.max_requests or was stopped as idle) as this request was sent on it, before any answer: send
 * it again once on a fresh connection, when that cannot do anything twice (upstream.h). Returns 0
 * (sending again), -1 (not allowed: answer as for any failure), or the status to answer. */
static int fcgi_retry(FcgiHandler *s) {
        FcgiBlock *b = s->b;
        const HttpRequest *q = s->base.request;
        bool idempotent = http_method_idempotent(q->head->method);

        if (b->retried || b->received || !http_upstream_retry_allowed(b->conn, idempotent, false, b->body_streamed))
                return -1;
        http_request_log(q, LOG_PRI_DEBUG, "FastCGI: %s closed a kept connection; sending again", b->target->url);
        b->retried = true;
        b->clean = false;
        b->conn = http_upstream_release(b->conn, false, now_usec(CLOCK_MONOTONIC));
        s->base.wait_fd = -1;
        b->begun = b->stdin_ended = b->spool_eof = false;
        b->connect_waited = b->connect_failed = false;
        b->out_len = b->out_pos = 0;
        b->in_len = b->in_pos = 0;
        b->phase = FCGI_PHASE_SEND;
        int status = fcgi_begin(s, b->content_length, b->has_body);
        if (status == 0 && b->spool_fd >= 0 && lseek(b->spool_fd, 0, SEEK_SET) < 0)
                status = 500;
        return status;
}

/* Send the rest of the request: the parameters (for a spooled body), the body, the end of STDIN.
 * FCGI_SENT when all of it went, else what produce() answers (HTTP_HANDLER_RESPOND is 0). */
#define FCGI_SENT (-1)
static int fcgi_produce_send(FcgiHandler *s, HttpResponse *resp) {
        FcgiBlock *b = s->b;
        const HttpRequest *q = s->base.request;

        if (!b->begun) {
                /* A spooled (chunked) body: now its length is known. */
                int status = fcgi_begin(s, b->body_len, b->body_len > 0);
                if (status == 0 && lseek(b->spool_fd, 0, SEEK_SET) < 0)
                        status = 500;
                if (status != 0) {
                        fcgi_fail(s, resp, status);
                        return HTTP_HANDLER_RESPOND;
                }
        }
        for (;;) {
                /* When nothing of the body is left to read, the end of STDIN goes in the same send
                 * as what is before it. */
                if (!b->stdin_ended && !(b->spool_fd >= 0 && !b->spool_eof) && fcgi_out_stdin(b, NULL, 0, true) < 0) {
                        fcgi_fail(s, resp, 500);
                        return HTTP_HANDLER_RESPOND;
                }
                int r = fcgi_out_send(b);
                if (r == -EAGAIN)
                        return fcgi_wait(s, HTTP_HANDLER_WAIT_WRITE);
                if (r < 0 && !b->connect_failed) {
                        int k = fcgi_retry(s);
                        if (k == 0)
                                continue;
                        if (k > 0) {
                                fcgi_fail(s, resp, k);
                                return HTTP_HANDLER_RESPOND;
                        }
                }
                if (r < 0) {
                        fcgi_log_send_error(q, b, r);
                        fcgi_fail(s, resp, 502);
                        return HTTP_HANDLER_RESPOND;
                }
                if (b->stdin_ended)
                        break;
                if (b->spool_fd >= 0 && !b->spool_eof) {
                        static _Thread_local char piece[FCGI_OUT_MIN - 64];
                        ssize_t k = read(b->spool_fd, piece, sizeof(piece));
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0) {
                                http_request_log(q, LOG_PRI_ERR, "cannot read the spooled request body: %s",
                                                 strerror(errno));
                                fcgi_fail(s, resp, 500);
                                return HTTP_HANDLER_RESPOND;
                        }
                        if (k > 0) {
                                if (fcgi_out_stdin(b, piece, (size_t) k, false) < 0) {
                                        fcgi_fail(s, resp, 500);
                                        return HTTP_HANDLER_RESPOND;
                                }
                                continue;
                        }
                        b->spool_eof = true; /* kept for a retry */
                }
                if (fcgi_out_stdin(b, NULL, 0, true) < 0) {
                        fcgi_fail(s, resp, 500);
                        return HTTP_HANDLER_RESPOND;
                }
        }
        b->phase = FCGI_PHASE_RECV;
        return FCGI_SENT;
}

/* The answer is broken (r from the decoder or the socket, why for the log). */
static int fcgi_broken(FcgiHandler *s, HttpResponse *resp, HttpOutput *out, const char *why) {
        FcgiBlock *b = s->b;
        const HttpRequest *q = s->base.request;

        http_request_log(q, LOG_PRI_ERR, "FastCGI: %s (%s)", why, b->target->url);
        b->clean = false;
        fcgi_release(s);
        if (!b->exchange || !cgi_exchange_head_sent(b->exchange)) {
                s->base.wait_fd = -1;
                fcgi_error(resp, 502, false);
                return HTTP_HANDLER_RESPOND;
        }
        /* The head is out: all the client can learn is that the response is cut. */
        b->cut = true;
        *out = (HttpOutput) {};
        return HTTP_HANDLER_DONE;
}

/* Right after a piece of STDOUT: when what is already read goes on with the end of the stream and
 * a complete FCGI_END_REQUEST (php-fpm writes them together with a short answer), take them now and
 * put the response's last bytes behind the piece, so that the client gets the whole response in
 * one write. The decoder is tried on a copy: anything else leaves it as it was. */
static bool fcgi_take_end(FcgiHandler *s, HttpOutput *out) {
        FcgiBlock *b = s->b;
        FcgiDecoder trial = b->decoder;
        size_t pos = b->in_pos;

        while (pos < b->in_len) {
                FcgiEvent ev;
                size_t consumed = 0;
                int r = fcgi_decoder_feed(&trial, b->in + pos, b->in_len - pos, &consumed, &ev);
                pos += consumed;
                if (r != FCGI_DECODE_EVENT)
                        return false;
                if (ev.type == FCGI_EVENT_STDOUT && ev.len == 0)
                        continue; /* the end of the stream */
                if (ev.type != FCGI_EVENT_END || ev.protocol_status != FCGI_REQUEST_COMPLETE || b->err_len > 0)
                        return false;
                HttpOutput last = {};
                if (!b->exchange_done) {
                        if (cgi_exchange_eof(b->exchange, &last) != CGI_EXCHANGE_DONE)
                                return false; /* cannot happen after a piece of body: left to the loop */
                        if (out->n_iov + last.n_iov > HTTP_OUTPUT_IOV_MAX)
                                return false;
                        for (int i = 0; i < last.n_iov; i++)
                                out->iov[out->n_iov++] = last.iov[i];
                        out->len += last.len;
                }
                b->decoder = trial;
                b->in_pos = pos;
                b->clean = true;
                fcgi_release(s);
                return true;
        }
        return false;
}

static int fcgi_handler_produce(HttpHandler *h, HttpResponse *resp, HttpOutput *out, usec_t now) {
        FcgiHandler *s = (FcgiHandler *) h;
        FcgiBlock *b = s->b;
        const HttpRequest *q = h->request;

        *out = (HttpOutput) {};
        if (b->phase == FCGI_PHASE_OVER)
                return HTTP_HANDLER_DONE;
        if (b->phase == FCGI_PHASE_SEND) {
                int k = fcgi_produce_send(s, resp);
                if (k != FCGI_SENT)
                        return k;
                /* The answer cannot be there yet: wait for it rather than ask first. */
                return fcgi_wait(s, HTTP_HANDLER_WAIT_READ);
        }
        if (!b->exchange) {
                b->exchange = fcgi_exchange_new(q);
                if (!b->exchange) {
                        fcgi_fail(s, resp, 500);
                        return HTTP_HANDLER_RESPOND;
                }
        }

        for (;;) {
                if (b->in_pos == b->in_len) {
                        b->in_pos = b->in_len = 0;
                        ssize_t n = recv(b->conn->fd, b->in, sizeof(b->in), MSG_DONTWAIT);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                                return fcgi_wait(s, HTTP_HANDLER_WAIT_READ);
                        if (n <= 0 && (n == 0 || errno == ECONNRESET || errno == EPIPE)) {
                                int k = fcgi_retry(s);
                                if (k == 0)
                                        return fcgi_handler_produce(h, resp, out, now);
                                if (k > 0) {
                                        fcgi_fail(s, resp, k);
                                        return HTTP_HANDLER_RESPOND;
                                }
                        }
                        if (n < 0) {
                                char why[128];
                                snprintf(why, sizeof(why), "cannot read the answer: %s", strerror(errno));
                                return fcgi_broken(s, resp, out, why);
                        }
                        if (n == 0)
                                return fcgi_broken(s, resp, out, "the responder closed the connection before "
                                                                 "FCGI_END_REQUEST");
                        b->in_len = (size_t) n;
                        b->received = true;
                        b->progress = now_usec(CLOCK_MONOTONIC);
                }

                FcgiEvent ev;
                size_t consumed = 0;
                int r = fcgi_decoder_feed(&b->decoder, b->in + b->in_pos, b->in_len - b->in_pos, &consumed, &ev);
                b->in_pos += consumed;
                if (r < 0)
                        return fcgi_broken(s, resp, out, b->decoder.error ? b->decoder.error : "bad records");
                if (r == FCGI_DECODE_AGAIN)
                        continue;

                switch (ev.type) {
                case FCGI_EVENT_STDERR:
                        fcgi_stderr(s, ev.data, ev.len);
                        continue;
                case FCGI_EVENT_STDOUT: {
                        if (b->exchange_done) {
                                if (ev.len > 0 && !b->dropped_logged) {
                                        http_request_log(q, LOG_PRI_WARNING, "FastCGI: output after the response's "
                                                                             "Content-Length was dropped");
                                        b->dropped_logged = true;
                                }
                                continue;
                        }
                        int k = cgi_exchange_feed(b->exchange, ev.data, ev.len, out);
                        if (k == -EMSGSIZE) {
                                http_request_log(q, LOG_PRI_WARNING, "FastCGI: %s", cgi_exchange_error(b->exchange));
                                b->dropped_logged = true;
                                k = CGI_EXCHANGE_DONE;
                        }
                        if (k < 0) {
                                const char *why = cgi_exchange_error(b->exchange);
                                return fcgi_broken(s, resp, out, why ? why : "malformed header from script");
                        }
                        if (k == CGI_EXCHANGE_DONE)
                                b->exchange_done = true;
                        if (out->n_iov > 0) {
                                if (fcgi_take_end(s, out))
                                        return HTTP_HANDLER_DONE;
                                /* Sent before the next record is read: it points into b->in. */
                                return HTTP_HANDLER_OUTPUT;
                        }
                        continue;
                }
                case FCGI_EVENT_END:
                        fcgi_stderr_flush(s);
                        if (ev.protocol_status != FCGI_REQUEST_COMPLETE) {
                                bool overloaded = ev.protocol_status == FCGI_OVERLOADED;
                                http_request_log(q, LOG_PRI_ERR, "FastCGI: %s refused the request (%s)", b->target->url,
                                                 overloaded ? "overloaded"
                                                 : ev.protocol_status == FCGI_UNKNOWN_ROLE ? "unknown role"
                                                 : ev.protocol_status == FCGI_CANT_MPX_CONN ? "cannot multiplex"
                                                                                            : "unknown status");
                                fcgi_release(s);
                                if (!cgi_exchange_head_sent(b->exchange)) {
                                        fcgi_fail(s, resp, overloaded ? 503 : 502);
                                        return HTTP_HANDLER_RESPOND;
                                }
                                b->cut = true;
                                return HTTP_HANDLER_DONE;
                        }
                        b->clean = true;
                        if (b->exchange_done) {
                                fcgi_release(s);
                                return HTTP_HANDLER_DONE;
                        }
                        int k = cgi_exchange_eof(b->exchange, out);
                        if (k == -ENODATA) {
                                fcgi_release(s);
                                http_request_log(q, LOG_PRI_ERR, "FastCGI: %s", cgi_exchange_error(b->exchange));
                                fcgi_fail(s, resp, 502);
                                return HTTP_HANDLER_RESPOND;
                        }
                        fcgi_release(s);
                        if (k < 0) {
                                /* Shorter than its Content-Length: cut. */
                                http_request_log(q, LOG_PRI_ERR, "FastCGI: %s", cgi_exchange_error(b->exchange)
                                                                                     ? cgi_exchange_error(b->exchange)
                                                                                     : strerror(-k));
                                b->cut = true;
                        }
                        return HTTP_HANDLER_DONE;
                }
        }
}

static int fcgi_handler_timeout(HttpHandler *h, HttpResponse *resp) {
        FcgiHandler *s = (FcgiHandler *) h;
        FcgiBlock *b = s->b;

        b->clean = false;
        if (b->waiter) {
                http_request_log(h->request, LOG_PRI_ERR,
                                 "FastCGI: no connection to %s became free in time (max=%u, acquire=)", b->target->url,
                                 b->target->limits.max);
                fcgi_fail(s, resp, 503);
                resp->close = true;
                return HTTP_HANDLER_RESPOND;
        }
        if (!b->exchange || !cgi_exchange_head_sent(b->exchange)) {
                http_request_log(h->request, LOG_PRI_ERR,
                                 "FastCGI: timeout waiting for %s (ProxyTimeout %llu s)", b->target->url,
                                 (unsigned long long) (b->timeout / USEC_PER_SEC));
                fcgi_fail(s, resp, 504);
                resp->close = true;
                return HTTP_HANDLER_RESPOND;
        }
        http_request_log(h->request, LOG_PRI_ERR, "FastCGI: timeout reading the response from %s (ProxyTimeout)",
                         b->target->url);
        fcgi_release(s);
        return -ETIMEDOUT;
}

static void fcgi_handler_finish(HttpHandler *h, HttpHandlerResult *ret) {
        FcgiHandler *s = (FcgiHandler *) h;
        FcgiBlock *b = s->b;

        if (!b)
                return;
        if (ret && b->exchange && cgi_exchange_head_sent(b->exchange)) {
                ret->status = cgi_exchange_status(b->exchange);
                ret->body_bytes = cgi_exchange_body_bytes(b->exchange);
                ret->keep_alive = cgi_exchange_keep_alive(b->exchange) && !b->cut;
        }
        if (b->phase != FCGI_PHASE_OVER) {
                /* Abandoned (the client went, or an error): the connection has a request in flight. */
                b->clean = false;
                fcgi_release(s);
        }
        b->exchange = cgi_exchange_free(b->exchange);
        b->spool_fd = safe_close(b->spool_fd);
        fcgi_block_put(b);
        s->b = NULL;
        h->wait_fd = -1;
}

const HttpHandlerType http_fastcgi_handler = {
        .name = "fastcgi",
        .size = sizeof(FcgiHandler),
        .start = fcgi_handler_start,
        .on_body = fcgi_handler_on_body,
        .produce = fcgi_handler_produce,
        .timeout = fcgi_handler_timeout,
        .finish = fcgi_handler_finish,
};
