/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cgi-run.h"
#include "conn.h"
#include "date.h"
#include "file-cache.h"
#include "log.h"
#include "path.h"
#include "request.h"
#include "response.h"
#include "server-logs.h"
#include "static.h"
#include "status.h"
#include "time-util.h"

#define IN_BUFFER_INITIAL 4096
#define OUT_BUFFER_SIZE (16 * 1024) /* a response head plus a small file in one write */
/* The tail of out[] a handler may copy a small body into; the head is built in front of it. */
#define OUT_BODY_ROOM FILE_CACHE_DATA_MAX
#define SMALL_FILE_MAX (OUT_BUFFER_SIZE - 1024)
#define DISCARD_BODY_MAX (1024 * 1024) /* a larger unwanted body closes the connection instead */
#define HTTP_STATUS_PAGE_MAX (16 * 1024)
#define LINGER_USEC (2 * USEC_PER_SEC)
/* Lingering close drains at most this much: a client still pushing more after its answer (a 413
 * for a 10 GB upload) is not worth reading at loopback speed for the whole LINGER_USEC. */
#define LINGER_BYTES_MAX (4u << 20)
#define REQUEST_POOL_MAX 64 /* request blocks a thread keeps for reuse */
/* A CGI request body is held in memory (a memfd) until the program starts: at most this much, or
 * LimitRequestBody when that is lower; more is 413. */
#define CGI_BODY_MAX (UINT64_C(128) * 1024 * 1024)

_Static_assert(OUT_BUFFER_SIZE - OUT_BODY_ROOM >= HTTP_RESPONSE_HEADERS_MAX + 1024,
               "the head of a response with a small body must fit in front of it");

/* What one state function achieved: changed state (go on), would block, or finished. */
typedef enum ConnStep {
        STEP_CONTINUE,
        STEP_WANT_READ,
        STEP_WANT_WRITE,
        STEP_WANT_CGI,
        STEP_DONE,
} ConnStep;

typedef enum ConnState {
        CONN_READ_HEAD,
        CONN_READ_BODY, /* the request body, read and dropped (or spooled for CGI) before the answer */
        CONN_CGI,       /* relaying a CGI program's output */
        CONN_WRITE,
        CONN_LINGER,
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

        /* the request body, dropped or spooled */
        uint64_t body_left;
        bool body_chunked;
        HttpChunked chunked;
        uint64_t body_discarded; /* decoded bytes */
        uint64_t body_received;  /* raw bytes, for MinRate */
        usec_t body_started;
        uint64_t body_max;    /* decoded bytes allowed (LimitRequestBody, CGI_BODY_MAX); 0: no limit */
        int spool_fd;         /* CGI: the body is kept here for the program's stdin; -1: dropped */
        const char *cont;     /* "100 Continue" bytes still to send before reading the body */
        size_t cont_len;

        /* CGI */
        bool cgi;             /* the request names a script beneath a ScriptAlias … */
        bool cgi_handler;     /* … or, with this, one under DocumentRoot with an AddHandler extension */
        CgiRun *cgi_run;
        CgiOutput cgi_out;    /* bytes of the program's response not yet sent */
        bool cgi_finished;    /* the response is complete once cgi_out is sent */
        bool cgi_cut;         /* the program's body was shorter than it said: close after it */
        usec_t cgi_deadline;  /* CGITimeout */

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
        char method[16];

        char in_inline[IN_BUFFER_INITIAL];
        char out[OUT_BUFFER_SIZE];
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
        uint32_t lingered; /* bytes drained by the lingering close */
        HttpConnInfo info;
};

static _Thread_local ConnRequest *request_pool;
static _Thread_local unsigned request_pool_len;

static void conn_set_phase(HttpConn *c, HttpConnPhase p) {
        if (c->phase == p)
                return;
        c->phase = p;
        if (c->obs && c->obs->phase)
                c->obs->phase(c->obs_userdata, p);
}

/* A line for the site's error log, through the driver. */
_printf_(3, 4) static void conn_error(const HttpConn *c, int level, const char *fmt, ...) {
        char message[512], client[80];
        va_list ap;

        if (!c->obs || !c->obs->error)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        (void) snprintf(client, sizeof(client), "%s:%u", c->info.peer[0] ? c->info.peer : "-", c->info.peer_port);
        c->obs->error(c->obs_userdata, c->site, level, client, message);
}

static const HttpSite *conn_default_site(const HttpConn *c) {
        return http_server_select(c->server, c->info.listener_name, NULL, 0);
}

static const HttpSiteConfig *conn_cfg(const HttpConn *c) {
        return c->site->cfg;
}

/* When a stage of RequestReadTimeout ends: its timeout from started, one more second per MinRate
 * bytes received, at most its maximum. A stage that is off leaves TimeOut per read. */
static usec_t conn_stage_deadline(const HttpConn *c, const HttpReadTimeoutStage *st, usec_t started,
                                  uint64_t bytes, usec_t now) {
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

static void conn_request_reset(HttpConn *c, ConnRequest *rq) {
        http_parser_init(&rq->parser, &rq->head, rq->headers, &c->site->limits);
        http_response_init(&rq->resp);
        rq->body_left = rq->body_discarded = rq->body_received = rq->body_max = 0;
        rq->body_chunked = false;
        rq->spool_fd = safe_close(rq->spool_fd);
        rq->cont = NULL;
        rq->cont_len = 0;
        rq->cgi = rq->cgi_handler = rq->cgi_finished = rq->cgi_cut = false;
        rq->cgi_run = cgi_run_free(rq->cgi_run);
        rq->cgi_out = (CgiOutput) {};
        rq->out_len = rq->out_sent = rq->mem_len = rq->mem_sent = 0;
        rq->mem_body = NULL;
        rq->file_left = 0;
        rq->keep_alive = rq->send_body = rq->linger = false;
        rq->body_bytes = 0;
        rq->method[0] = 0;
}

static void conn_request_put(ConnRequest *rq) {
        if (!rq)
                return;
        http_response_done(&rq->resp);
        rq->spool_fd = safe_close(rq->spool_fd);
        rq->cgi_run = cgi_run_free(rq->cgi_run);
        if (rq->in != rq->in_inline)
                free(rq->in);
        rq->in = rq->in_inline;
        rq->in_size = sizeof(rq->in_inline);
        rq->in_len = 0;
        if (request_pool_len >= REQUEST_POOL_MAX) {
                free(rq->headers);
                free(rq);
                return;
        }
        rq->next_free = request_pool;
        request_pool = rq;
        request_pool_len++;
}

/* A request block for c, empty and ready for a new head. */
static ConnRequest *conn_request_get(HttpConn *c) {
        uint32_t fields = c->server->max_header_fields ? c->server->max_header_fields : 1;
        ConnRequest *rq = request_pool;

        if (rq) {
                request_pool = rq->next_free;
                request_pool_len--;
        } else {
                rq = malloc(sizeof(*rq));
                if (!rq)
                        return NULL;
                rq->headers = NULL;
                rq->headers_cap = 0;
                rq->in = rq->in_inline;
                rq->in_size = sizeof(rq->in_inline);
                rq->in_len = 0;
                rq->spool_fd = -1;
                rq->cgi_run = NULL;
                http_response_init(&rq->resp);
        }
        if (rq->headers_cap < fields) {
                HttpHeader *h = reallocarray(rq->headers, fields, sizeof(HttpHeader));
                if (!h) {
                        conn_request_put(rq);
                        return NULL;
                }
                rq->headers = h;
                rq->headers_cap = fields;
        }
        conn_request_reset(c, rq);
        return rq;
}

HttpConn *http_conn_new(const HttpServer *server, const HttpIo *io, void *io_ctx, const HttpConnInfo *info,
                        usec_t now) {
        HttpConn *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->server = server;
        c->io = io;
        c->io_ctx = io_ctx;
        if (info)
                c->info = *info;
        c->site = conn_default_site(c);
        if (!c->site)
                return http_conn_free(c);
        c->state = CONN_READ_HEAD;
        c->phase = HTTP_PHASE_READ;
        c->head_started = now;
        c->deadline = conn_stage_deadline(c, &c->site->read_timeout.header, now, 0, now);
        return c;
}

HttpConn *http_conn_free(HttpConn *c) {
        if (!c)
                return NULL;
        conn_request_put(c->rq);
        free(c);
        return NULL;
}

void http_conn_set_observer(HttpConn *c, const HttpConnObserver *obs, void *userdata) {
        c->obs = obs;
        c->obs_userdata = userdata;
}

usec_t http_conn_deadline(const HttpConn *c) {
        return c->deadline;
}

HttpConnPhase http_conn_phase(const HttpConn *c) {
        return c->phase;
}

int http_conn_cgi_fd(const HttpConn *c) {
        return c->rq && c->rq->cgi_run ? cgi_run_fd(c->rq->cgi_run) : -1;
}

/* ---- building the response ------------------------------------------------------------------ */

static bool conn_wants_keep_alive(const HttpConn *c, const HttpResponse *r) {
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

/* Turn the response into bytes: the head in out[], a small file or memory body right behind it.
 * Formatting is copying: the status line and the Server line are prebuilt, the Date cached. */
static void conn_prepare_response(HttpConn *c, bool head_only, usec_t now_real) {
        ConnRequest *rq = c->rq;
        HttpResponse *r = &rq->resp;
        uint64_t length;

        if (r->headers_overflow)
                http_response_set_error(r, 500);
        rq->keep_alive = conn_wants_keep_alive(c, r);
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
        rq->out_len = w.len;

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

static void conn_respond_error(HttpConn *c, int status, bool close) {
        HttpResponse *r = &c->rq->resp;

        http_response_done(r);
        http_response_init(r);
        http_response_set_error(r, status);
        r->close = close;
        if (status == 405 || status == 501)
                http_response_add_header(r, "Allow", HTTP_STATIC_ALLOW);
}

/* ---- routing a request to its handler ------------------------------------------------------- */

/* Answer with an error unless the request can go to a handler; true when answered. */
static bool conn_check_request(HttpConn *c) {
        const HttpRequestHead *h = &c->rq->head;
        const HttpSiteConfig *cfg = conn_cfg(c);

        if (c->site->foreign)
                /* Another process serves this site (perchild): the client must ask again on a new
                 * connection, which the right process will get (RFC 9110 §15.5.20). */
                conn_respond_error(c, 421, true);
        else if (c->site->unavailable) {
                /* perchild: the site's own pool cannot start (the operator is told why); try later. */
                conn_respond_error(c, 503, true);
                http_response_add_header(&c->rq->resp, "Retry-After", "10");
        } else if (h->method == HTTP_METHOD_UNKNOWN)
                conn_respond_error(c, 501, false);
        else if (h->expect_other)
                conn_respond_error(c, 417, false);
        else if (cfg->limit_request_body > 0 && h->has_content_length && h->content_length > cfg->limit_request_body)
                conn_respond_error(c, 413, true);
        else if (h->method == HTTP_METHOD_CONNECT || (h->method == HTTP_METHOD_TRACE && !cfg->trace_enable))
                conn_respond_error(c, 405, false);
        else
                return false;
        return true;
}

/* The request's path, decoded and normalized, into path[PATH_MAX]. Returns 0 or the status to
 * answer (404, 414, 400). */
static int conn_request_path(const ConnRequest *rq, char *path, size_t *ret_len) {
        const HttpRequestHead *h = &rq->head;
        int k;

        if (h->path.len == 0) {
                /* absolute-form without a path: the root */
                path[0] = '/';
                path[1] = 0;
                *ret_len = 1;
                return 0;
        }
        k = http_path_normalize(rq->in + h->path.off, h->path.len, path, PATH_MAX, ret_len);
        if (k < 0)
                return k == -ENOENT ? 404 : k == -ENAMETOOLONG ? 414 : 400;
        return 0;
}

/* The path falls beneath a ScriptAlias: is there a script to run? Answers the request when not;
 * otherwise marks it for CGI, which starts once the body is in (conn_cgi_start()). */
static void conn_cgi_route(HttpConn *c, const CgiAliasMatch *m, const char *path) {
        CgiScript script = CGI_SCRIPT_NULL;
        const char *why = NULL;
        int status;

        if (m->index >= c->site->n_script_alias_fds) {
                conn_respond_error(c, 500, false);
                return;
        }
        int r = cgi_script_open(c->site->script_alias_fds[m->index], m->rest, m->rest_len, &script);
        cgi_script_done(&script);
        if (r < 0) {
                status = cgi_script_status(r, &why);
                if (why)
                        conn_error(c, LOG_PRI_ERR, "%s: %s", why, path);
                conn_respond_error(c, status, false);
                return;
        }
        c->rq->cgi = true;
}

/* AddHandler cgi-script: the path beneath DocumentRoot as if DocumentRoot were a ScriptAlias of "/". */
static CgiAliasMatch conn_cgi_handler_alias(const HttpConn *c, const char *path, size_t path_len) {
        return (CgiAliasMatch) {
                .url = "/",
                .url_len = 1,
                .directory = conn_cfg(c)->document_root,
                .rest = path + 1,
                .rest_len = path_len - 1,
        };
}

/* Does the path name a file with an AddHandler cgi-script extension (and perhaps PATH_INFO after
 * it)? Then it is run, found the way a ScriptAlias script is (nothing outside DocumentRoot); a file
 * that is not there, or has another extension, is left to the static handler. */
static bool conn_cgi_handler_route(HttpConn *c, const char *path, size_t path_len) {
        CgiScript script = CGI_SCRIPT_NULL;

        if (c->site->root_fd < 0 || !cgi_handler_may_match(conn_cfg(c), path, path_len))
                return false;
        int r = cgi_script_open(c->site->root_fd, path + 1, path_len - 1, &script);
        bool match = r >= 0 && cgi_handler_match(conn_cfg(c), path + 1, script.name_len);
        cgi_script_done(&script);
        if (match)
                c->rq->cgi = c->rq->cgi_handler = true;
        return match;
}

static void conn_dispatch(HttpConn *c, usec_t now_real, usec_t now) {
        ConnRequest *rq = c->rq;
        const HttpRequestHead *h = &rq->head;
        static _Thread_local char path[PATH_MAX];
        HttpRequest q = {
                .server = c->server,
                .head = h,
                .buf = rq->in,
                .now = now_real,
                .now_mono = now,
                .body_buf = rq->out + OUT_BUFFER_SIZE - OUT_BODY_ROOM,
                .body_buf_size = OUT_BODY_ROOM,
        };
        HttpResponse *r = &rq->resp;
        size_t path_len = 0;
        int k;

        http_response_done(r);
        http_response_init(r);

        const HttpSite *named = http_server_route(c->server, c->info.listener_name,
                                                  h->has_host ? rq->in + h->host.off : NULL,
                                                  h->has_host ? h->host.len : 0);
        if (named)
                c->site = named;
        q.site = c->site;
        const HttpSiteConfig *cfg = conn_cfg(c);

        if (!named) {
                /* No site has that name here and none takes such names (perchild): as for another
                 * pool's site, the client must not get this connection's site instead. */
                conn_respond_error(c, 421, true);
                return;
        }
        if (conn_check_request(c))
                return;
        if (h->target_form == HTTP_TARGET_ASTERISK) {
                /* OPTIONS * : what the server as a whole allows. */
                r->status = 200;
                http_response_add_header(r, "Allow", HTTP_STATIC_ALLOW);
                return;
        }
        if (h->method == HTTP_METHOD_TRACE) {
                /* TraceEnable On: echo the request head back, as RFC 9110 §9.3.8 says. */
                r->status = 200;
                http_response_add_header(r, "Content-Type", "message/http");
                r->body = rq->in;
                r->body_len = h->head_len;
                return;
        }

        k = conn_request_path(rq, path, &path_len);
        if (k > 0) {
                conn_respond_error(c, k, false);
                return;
        }
        q.path = path;
        q.path_len = path_len;

        if (cfg->server_status && (h->method == HTTP_METHOD_GET || h->method == HTTP_METHOD_HEAD) &&
            strcmp(path, cfg->server_status) == 0) {
                r->body_owned = malloc(HTTP_STATUS_PAGE_MAX);
                if (!r->body_owned)
                        http_response_set_error(r, 500);
                else
                        http_status_serve(&q, c->info.peer, r->body_owned, HTTP_STATUS_PAGE_MAX, r);
                return;
        }

        CgiAliasMatch alias;
        if (cfg->script_alias && cgi_script_alias_match(cfg, path, path_len, &alias)) {
                conn_cgi_route(c, &alias, path);
                return;
        }
        if (cfg->add_handler && conn_cgi_handler_route(c, path, path_len))
                return;

        switch (h->method) {
        case HTTP_METHOD_GET:
        case HTTP_METHOD_HEAD:
                http_static_serve(&q, r);
                break;
        case HTTP_METHOD_OPTIONS:
                r->status = 200;
                http_response_add_header(r, "Allow", HTTP_STATIC_ALLOW);
                break;
        default:
                conn_respond_error(c, 405, false);
                break;
        }
}

/* ---- the state machine ---------------------------------------------------------------------- */

/* While a response goes out: TimeOut from the last progress, and MinSendRate checked once a second
 * from TimeOut after the start. */
static void conn_write_deadline(HttpConn *c) {
        const ConnRequest *rq = c->rq;

        c->deadline = rq->idle_deadline;
        if (conn_cfg(c)->min_send_rate > 0 && c->io->unsent && rq->rate_check < c->deadline)
                c->deadline = rq->rate_check;
}

static void conn_write_progress(HttpConn *c, usec_t now) {
        c->rq->idle_deadline = now + conn_cfg(c)->timeout;
        conn_write_deadline(c);
}

static void conn_start_write(HttpConn *c, usec_t now) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        conn_prepare_response(c, c->rq->head.method == HTTP_METHOD_HEAD, timespec_to_usec(&ts));
        c->state = CONN_WRITE;
        c->rq->send_started = now;
        c->rq->sent = 0;
        c->rq->rate_check = now + conn_cfg(c)->timeout;
        conn_write_progress(c, now);
        conn_set_phase(c, HTTP_PHASE_WRITE);
}

/* Has the client taken the response at MinSendRate, counted from TimeOut after its start? What it
 * acknowledged counts, not what the kernel buffers for it. */
static bool conn_send_rate_ok(const HttpConn *c, usec_t now) {
        const ConnRequest *rq = c->rq;
        usec_t grace = rq->send_started + conn_cfg(c)->timeout;
        ssize_t unsent = c->io->unsent(c->io_ctx);

        if (unsent < 0 || now <= grace)
                return true;
        uint64_t taken = rq->sent > (uint64_t) unsent ? rq->sent - (uint64_t) unsent : 0;
        uint64_t due = (now - grace) / USEC_PER_SEC * conn_cfg(c)->min_send_rate;
        return taken >= due;
}

static void conn_start_body(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;

        rq->body_started = now;
        /* What came with the head counts towards MinRate too. */
        rq->body_received = rq->in_len - rq->head.head_len;
        c->state = CONN_READ_BODY;
        c->deadline = conn_stage_deadline(c, &c->site->read_timeout.body, now, rq->body_received, now);
        conn_set_phase(c, HTTP_PHASE_READ);
}

/* ---- CGI ------------------------------------------------------------------------------------ */

/* Start the program (the body, if any, is in the spool): from here its output is relayed. */
static void conn_cgi_start(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;
        static _Thread_local char path[PATH_MAX];
        char server_addr[64] = "";
        const char *why = NULL;
        struct timespec ts;
        CgiAliasMatch alias;
        size_t path_len = 0;
        int status;

        clock_gettime(CLOCK_REALTIME, &ts);
        usec_t now_real = timespec_to_usec(&ts);
        HttpRequest q = {
                .server = c->server,
                .site = c->site,
                .head = &rq->head,
                .buf = rq->in,
                .path = path,
                .now = now_real,
                .now_mono = now,
        };
        /* Routed before the body was read; the path is found again rather than kept per request. */
        int dir_fd = -1;
        if (conn_request_path(rq, path, &path_len) == 0) {
                if (rq->cgi_handler) {
                        alias = conn_cgi_handler_alias(c, path, path_len);
                        dir_fd = c->site->root_fd;
                } else if (cgi_script_alias_match(conn_cfg(c), path, path_len, &alias) &&
                           alias.index < c->site->n_script_alias_fds)
                        dir_fd = c->site->script_alias_fds[alias.index];
        }
        if (dir_fd < 0) {
                conn_respond_error(c, 500, false);
                conn_start_write(c, now);
                return;
        }
        q.path_len = path_len;
        if (c->io->local_address)
                (void) c->io->local_address(c->io_ctx, server_addr, sizeof(server_addr));
        if (rq->spool_fd >= 0 && lseek(rq->spool_fd, 0, SEEK_SET) < 0) {
                conn_error(c, LOG_PRI_ERR, "cannot rewind the spooled request body: %s", strerror(errno));
                conn_respond_error(c, 500, false);
                conn_start_write(c, now);
                return;
        }

        int error_fd = http_server_site_error_fd(c->server, c->site);
        CgiRunParams p = {
                .request = &q,
                .alias = &alias,
                .alias_dir_fd = dir_fd,
                .remote_addr = c->info.peer,
                .remote_port = c->info.peer_port,
                .server_addr = server_addr,
                .server_port = c->info.local_port,
                .body_fd = rq->spool_fd,
                .body_len = rq->body_discarded,
                /* Its stderr is relayed by the launcher, line by line, to the site's own ErrorLog
                 * or else to the launcher's (the server's); never handed the file itself. */
                .error_log_fd = error_fd,
                .keep_alive = conn_wants_keep_alive(c, &rq->resp),
                .date = http_date_now(now_real),
        };
        status = cgi_run_start(&p, &rq->cgi_run, &why);
        /* The launcher has its own copy of the body now. */
        rq->spool_fd = safe_close(rq->spool_fd);
        if (status != 0) {
                if (why)
                        conn_error(c, LOG_PRI_ERR, "%s: %s", why, path);
                conn_respond_error(c, status, false);
                conn_start_write(c, now);
                return;
        }
        rq->cgi_out = (CgiOutput) {};
        rq->cgi_deadline = now + conn_cfg(c)->cgi_timeout;
        c->state = CONN_CGI;
        c->deadline = rq->cgi_deadline;
        conn_set_phase(c, HTTP_PHASE_WRITE);
}

/* A CGI request's head is in: spool its body first (answering 100-continue), or start at once. */
static void conn_cgi_begin(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;

        if (!rq->body_chunked && rq->body_left == 0) {
                conn_cgi_start(c, now);
                return;
        }
        if (rq->body_max == 0 || rq->body_max > CGI_BODY_MAX)
                rq->body_max = CGI_BODY_MAX;
        if (rq->body_left > rq->body_max) {
                conn_error(c, LOG_PRI_ERR, "request body of %llu bytes is larger than a CGI program may get",
                           (unsigned long long) rq->body_left);
                conn_respond_error(c, 413, true);
                rq->linger = true;
                conn_start_write(c, now);
                return;
        }
        rq->spool_fd = memfd_create("mpmd-cgi-body", MFD_CLOEXEC);
        if (rq->spool_fd < 0) {
                conn_error(c, LOG_PRI_ERR, "cannot keep the request body for the program: %s", strerror(errno));
                conn_respond_error(c, 500, true);
                rq->linger = true;
                conn_start_write(c, now);
                return;
        }
        rq->cont_len = cgi_continue_response(&rq->head, &rq->cont);
        conn_start_body(c, now);
}

/* Send what is left of o; 1 when all of it is out, 0 when the socket would block, <0 when the
 * client is gone. */
static int conn_send_output(HttpConn *c, CgiOutput *o, usec_t now) {
        while (o->len > 0) {
                ssize_t k = c->io->writev(c->io_ctx, o->iov, o->n_iov);
                if (k == -EAGAIN)
                        return 0;
                if (k < 0)
                        return (int) k;
                size_t done = (size_t) k;
                int first = 0;
                o->len -= done;
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

/* A request head is complete (r == DONE) or was rejected (r < 0): decide the answer. */
static void conn_on_head(HttpConn *c, int r, usec_t now) {
        ConnRequest *rq = c->rq;
        struct timespec ts;

        rq->body_left = 0;
        rq->body_chunked = false;
        rq->body_discarded = rq->body_received = 0;
        if (r < 0) {
                /* Nothing after a bad head can be trusted: answer and close. The method stays as
                 * parsed (UNKNOWN if the error came first), so a HEAD gets its 400 without a body. */
                rq->head.head_len = (uint32_t) rq->in_len;
                snprintf(rq->method, sizeof(rq->method), "-");
                conn_error(c, LOG_PRI_INFO, "request head rejected with status %d", -r);
                conn_respond_error(c, -r, true);
                rq->linger = true;
                conn_start_write(c, now);
                return;
        }

        snprintf(rq->method, sizeof(rq->method), "%.*s",
                 (int) MIN(rq->head.method_span.len, sizeof(rq->method) - 1), rq->in + rq->head.method_span.off);
        clock_gettime(CLOCK_REALTIME, &ts);
        conn_dispatch(c, timespec_to_usec(&ts), now);

        if (rq->head.chunked) {
                rq->body_chunked = true;
                http_chunked_init(&rq->chunked);
        } else if (rq->head.has_content_length)
                rq->body_left = rq->head.content_length;
        rq->body_max = conn_cfg(c)->limit_request_body;

        if (rq->cgi) {
                conn_cgi_begin(c, now);
                return;
        }
        if (rq->body_chunked || rq->body_left > 0) {
                /* Nobody here wants a request body: it is read and dropped before the answer, so the
                 * connection can carry the next request and a body that stalls gets its 408. Unless it
                 * is too large to be worth it, the answer closes anyway, or the client is waiting for
                 * a 100 Continue it will never get: then answer now and close. */
                if (rq->head.expect_continue || rq->body_left > DISCARD_BODY_MAX || rq->resp.close) {
                        rq->resp.close = true;
                        rq->linger = true;
                } else {
                        conn_start_body(c, now);
                        return;
                }
        }
        conn_start_write(c, now);
}

/* Remove n bytes of in[] at off; what follows moves up. */
static void conn_cut_input(ConnRequest *rq, size_t off, size_t n) {
        if (off + n >= rq->in_len) {
                rq->in_len = off;
                return;
        }
        memmove(rq->in + off, rq->in + off + n, rq->in_len - off - n);
        rq->in_len -= n;
}

/* Nothing after the answer may be unread in the kernel or in in[] for a plain close: closing a
 * socket with unread bytes resets it and can destroy the answer in flight. */
static bool conn_needs_linger(const ConnRequest *rq) {
        return rq->linger || rq->body_left > 0 || rq->body_chunked || rq->in_len > 0;
}

static void conn_finish_request(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;

        if (c->obs && c->obs->request_done)
                c->obs->request_done(c->obs_userdata, c->site ? c->site->name : "", rq->method, rq->resp.status,
                                     rq->body_bytes, now > c->head_started ? now - c->head_started : 0);
        c->requests++;
        conn_cut_input(rq, 0, rq->head.head_len);
        http_response_done(&rq->resp);

        if (!rq->keep_alive) {
                bool linger = conn_needs_linger(rq);
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
                c->deadline = conn_stage_deadline(c, &c->site->read_timeout.header, now, rq->in_len, now);
                conn_set_phase(c, HTTP_PHASE_READ);
        } else {
                conn_request_put(rq);
                c->rq = NULL;
                c->deadline = now + conn_cfg(c)->keep_alive_timeout;
                conn_set_phase(c, HTTP_PHASE_IDLE);
        }
}

/* Read more of the request. A connection without a request block takes one for the read and gives
 * it back when nothing came, so a read that would block costs no memory. */
static ssize_t conn_recv(HttpConn *c) {
        ConnRequest *rq = c->rq;
        ssize_t n;

        if (!rq) {
                rq = conn_request_get(c);
                if (!rq)
                        return -ENOMEM;
                n = c->io->recv(c->io_ctx, rq->in, rq->in_size);
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
        return c->io->recv(c->io_ctx, rq->in + rq->in_len, rq->in_size - rq->in_len);
}

static ConnStep conn_read_head(HttpConn *c, usec_t now) {
        for (;;) {
                if (c->rq && c->rq->in_len > 0) {
                        int r = http_parser_feed(&c->rq->parser, c->rq->in, c->rq->in_len);
                        if (r != HTTP_PARSE_AGAIN) {
                                conn_on_head(c, r, now);
                                return STEP_CONTINUE;
                        }
                }

                ssize_t n = conn_recv(c);
                if (n == -EAGAIN)
                        return STEP_WANT_READ;
                if (n == -ENOBUFS) {
                        conn_on_head(c, -431, now);
                        return STEP_CONTINUE;
                }
                if (n <= 0)
                        /* End of stream or a reset: between requests that is a normal close; within a
                         * head there is nobody left to answer. */
                        return STEP_DONE;
                if (c->phase == HTTP_PHASE_IDLE) {
                        c->head_started = now;
                        conn_set_phase(c, HTTP_PHASE_READ);
                }
                c->rq->in_len += (size_t) n;
                /* The header deadline grows with the data received, up to its maximum. */
                c->deadline = conn_stage_deadline(c, &c->site->read_timeout.header, c->head_started, c->rq->in_len,
                                                  now);
        }
}

/* Keep body bytes for a CGI program (nothing to do when the body is dropped). */
static int conn_spool(ConnRequest *rq, const char *p, size_t n) {
        while (rq->spool_fd >= 0 && n > 0) {
                ssize_t k = write(rq->spool_fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Take the body bytes buffered behind the head (which stays: the answer and the log still use it):
 * into the spool for a CGI program, else dropped. Returns 1 when the whole body is in, 0 for more,
 * or the negative status to answer: -400 a malformed chunked body, -413 more than LimitRequestBody,
 * -500 the spool failed. */
static int conn_take_buffered(HttpConn *c) {
        ConnRequest *rq = c->rq;
        size_t base = rq->head.head_len, avail = rq->in_len - base;

        if (!rq->body_chunked) {
                size_t n = (size_t) MIN((uint64_t) avail, rq->body_left);
                if (conn_spool(rq, rq->in + base, n) < 0)
                        return -500;
                conn_cut_input(rq, base, n);
                rq->body_left -= n;
                rq->body_discarded += n;
                return rq->body_left == 0;
        }
        if (avail == 0)
                return 0;

        size_t consumed = 0, data = 0;
        int r = http_chunked_feed(&rq->chunked, &c->site->limits, rq->in + base, avail, &consumed, &data);
        /* The decoded data was written to the front of the region; it is spooled or dropped along with
         * the input it came from, and the bytes after the consumed part are kept. */
        if (conn_spool(rq, rq->in + base, data) < 0)
                return -500;
        conn_cut_input(rq, base, consumed);
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

static ConnStep conn_read_body(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;

        while (rq->cont_len > 0) {
                /* 100 Continue first: the client waits for it before it sends the body. */
                struct iovec iov = { (void *) rq->cont, rq->cont_len };
                ssize_t k = c->io->writev(c->io_ctx, &iov, 1);
                if (k == -EAGAIN)
                        return STEP_WANT_WRITE;
                if (k < 0)
                        return STEP_DONE;
                rq->cont += k;
                rq->cont_len -= (size_t) k;
        }
        for (;;) {
                int r = conn_take_buffered(c);
                if (r < 0) {
                        if (r == -413)
                                conn_error(c, LOG_PRI_ERR, "request body is larger than LimitRequestBody");
                        conn_respond_error(c, -r, true);
                        rq->linger = true;
                        conn_start_write(c, now);
                        return STEP_CONTINUE;
                }
                if (r == 1) {
                        if (rq->cgi)
                                conn_cgi_start(c, now);
                        else
                                conn_start_write(c, now);
                        return STEP_CONTINUE;
                }
                if (rq->spool_fd < 0 && rq->body_discarded > DISCARD_BODY_MAX) {
                        /* An endless body: answer, then close. */
                        rq->resp.close = true;
                        rq->linger = true;
                        conn_start_write(c, now);
                        return STEP_CONTINUE;
                }
                ssize_t n = conn_recv(c);
                if (n == -EAGAIN)
                        return STEP_WANT_READ;
                if (n == -ENOBUFS) {
                        conn_respond_error(c, 400, true);
                        rq->linger = true;
                        conn_start_write(c, now);
                        return STEP_CONTINUE;
                }
                if (n <= 0)
                        return STEP_DONE;
                rq->in_len += (size_t) n;
                rq->body_received += (uint64_t) n;
                c->deadline = conn_stage_deadline(c, &c->site->read_timeout.body, rq->body_started,
                                                  rq->body_received, now);
        }
}

/* ---- the access log ------------------------------------------------------------------------- */

static bool conn_log_request_header(const void *userdata, const char *name, size_t index, AccessLogText *ret) {
        const HttpConn *c = userdata;

        for (uint32_t i = 0; i < c->rq->head.n_headers; i++) {
                const HttpHeader *h = &c->rq->head.headers[i];
                if (http_span_eq_ci(c->rq->in, h->name, name) && index-- == 0) {
                        *ret = (AccessLogText) { c->rq->in + h->value.off, h->value.len };
                        return true;
                }
        }
        return false;
}

/* Fields the handler added ("Name: value\r\n" lines); Date, Server, Content-Length and Connection
 * are the connection's own and not among them. */
static bool conn_log_response_header(const void *userdata, const char *name, size_t index, AccessLogText *ret) {
        const HttpResponse *r = &((const HttpConn *) userdata)->rq->resp;
        size_t nlen = strlen(name);

        for (const char *p = r->headers, *end = r->headers + r->headers_len; p < end;) {
                const char *eol = memmem(p, (size_t) (end - p), "\r\n", 2);
                if (!eol)
                        break;
                if ((size_t) (eol - p) > nlen + 1 && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0 &&
                    index-- == 0) {
                        const char *v = p + nlen + 1;
                        while (v < eol && *v == ' ')
                                v++;
                        *ret = (AccessLogText) { v, (size_t) (eol - v) };
                        return true;
                }
                p = eol + 2;
        }
        return false;
}

/* Called when the response is out and the request's bytes are still in in[]. */
static void conn_log_request(HttpConn *c, usec_t now) {
        const HttpRequestHead *h = &c->rq->head;
        struct timespec ts;
        const char *line, *end = c->rq->in + MIN((size_t) h->head_len, c->rq->in_len);

        if (!http_server_site_logs(c->server, c->site))
                return;
        clock_gettime(CLOCK_REALTIME, &ts);
        usec_t duration = now > c->head_started ? now - c->head_started : 0;
        AccessLogEntry e = {
                .peer = c->info.peer[0] ? c->info.peer : NULL,
                .peer_port = c->info.peer_port,
                .local_port = c->info.local_port,
                .time = timespec_to_usec(&ts) - duration,
                .duration = duration,
                .vhost = c->site->cfg->server_name ? c->site->cfg->server_name : c->site->name,
                .status = c->rq->resp.status,
                .bytes = c->rq->body_bytes,
                .request_header = conn_log_request_header,
                .response_header = conn_log_response_header,
                .userdata = c,
        };

        /* The request line as received (after any empty lines before it), even from a rejected head. */
        for (line = c->rq->in; line < end && (*line == '\r' || *line == '\n'); line++)
                ;
        size_t len = 0;
        while (line + len < end && line[len] != '\r' && line[len] != '\n')
                len++;
        if (len > 0)
                e.request_line = (AccessLogText) { line, len };
        if (strcmp(c->rq->method, "-") != 0) {
                /* A head that parsed: its spans are good. The version is the line's last word. */
                const char *sp = memrchr(line, ' ', len);
                e.method = (AccessLogText) { c->rq->in + h->method_span.off, h->method_span.len };
                if (sp)
                        e.protocol = (AccessLogText) { sp + 1, (size_t) (line + len - sp - 1) };
                if (h->path.len > 0)
                        e.path = (AccessLogText) { c->rq->in + h->path.off, h->path.len };
                else
                        e.path = (AccessLogText) { h->target_form == HTTP_TARGET_ASTERISK ? "*" : "/", 1 };
                if (h->has_query)
                        e.query = (AccessLogText) { c->rq->in + h->query.off, h->query.len };
        }
        http_server_log_request(c->server, c->site, &e);
}

static ConnStep conn_write(HttpConn *c, usec_t now) {
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
                if (k == -EAGAIN)
                        return STEP_WANT_WRITE;
                if (k < 0)
                        return STEP_DONE;
                size_t done = (size_t) k;
                size_t head_part = MIN(done, rq->out_len - rq->out_sent);
                rq->out_sent += head_part;
                rq->mem_sent += done - head_part;
                rq->sent += done;
                conn_write_progress(c, now);
        }

        while (rq->file_left > 0) {
                ssize_t k;
                size_t chunk = rq->file_left > (1u << 20) ? (1u << 20) : (size_t) rq->file_left;

                if (c->io->sendfile)
                        k = c->io->sendfile(c->io_ctx, file_fd, &rq->file_off, chunk);
                else {
                        /* No sendfile (tests, fuzzers): read into the output buffer and write that. */
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
                if (k == -EAGAIN)
                        return STEP_WANT_WRITE;
                if (k <= 0)
                        /* The file shrank or the peer went away: the length promised cannot be kept. */
                        return STEP_DONE;
                rq->file_left -= (uint64_t) k;
                rq->sent += (uint64_t) k;
                conn_write_progress(c, now);
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

        conn_log_request(c, now);
        conn_finish_request(c, now);
        return STEP_CONTINUE;
}

/* The program's response is out (or cut short): log it and go on with the connection. */
static void conn_cgi_finish(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;
        const CgiExchange *x = cgi_run_exchange(rq->cgi_run);

        rq->resp.status = cgi_exchange_status(x);
        rq->body_bytes = cgi_exchange_body_bytes(x);
        rq->keep_alive = cgi_exchange_keep_alive(x) && !rq->cgi_cut;
        rq->cgi_run = cgi_run_free(rq->cgi_run);
        conn_log_request(c, now);
        conn_finish_request(c, now);
}

static ConnStep conn_cgi(HttpConn *c, usec_t now) {
        ConnRequest *rq = c->rq;

        for (;;) {
                int r = conn_send_output(c, &rq->cgi_out, now);
                if (r == 0)
                        return STEP_WANT_WRITE;
                if (r < 0)
                        return STEP_DONE; /* the client is gone; the program gets SIGPIPE */
                if (rq->cgi_finished) {
                        conn_cgi_finish(c, now);
                        return STEP_CONTINUE;
                }

                const CgiExchange *x = cgi_run_exchange(rq->cgi_run);
                r = cgi_run_pump(rq->cgi_run, &rq->cgi_out);
                switch (r) {
                case -EAGAIN:
                        c->deadline = rq->cgi_deadline;
                        return STEP_WANT_CGI;
                case CGI_EXCHANGE_AGAIN:
                        break;
                case CGI_EXCHANGE_DONE:
                        rq->cgi_finished = true;
                        break;
                case -EMSGSIZE:
                        /* What fits the program's Content-Length is sent; the rest was dropped. */
                        conn_error(c, LOG_PRI_WARNING, "%s", cgi_exchange_error(x));
                        rq->cgi_finished = true;
                        break;
                case -ECANCELED: {
                        /* The launcher could not start it (exec failed, busy, gone). */
                        const char *why = NULL;
                        int status = cgi_run_failed(rq->cgi_run, &why);
                        conn_error(c, LOG_PRI_ERR, "%s", why ? why : "cannot start the script");
                        rq->cgi_run = cgi_run_free(rq->cgi_run);
                        conn_respond_error(c, status, false);
                        conn_start_write(c, now);
                        return STEP_CONTINUE;
                }
                default:
                        conn_error(c, LOG_PRI_ERR, "%s", cgi_exchange_error(x) ? cgi_exchange_error(x) : strerror(-r));
                        if (!cgi_exchange_head_sent(x)) {
                                rq->cgi_run = cgi_run_free(rq->cgi_run);
                                conn_respond_error(c, 500, false);
                                conn_start_write(c, now);
                                return STEP_CONTINUE;
                        }
                        /* The head is out: all the client can learn is that the response is cut. */
                        rq->cgi_cut = true;
                        rq->cgi_finished = true;
                        break;
                }
        }
}

static ConnStep conn_linger(HttpConn *c) {
        char scratch[16384];

        if (!c->shut_down) {
                c->shut_down = true;
                if (!c->io->shutdown_write || c->io->shutdown_write(c->io_ctx) < 0)
                        return STEP_DONE;
        }
        for (;;) {
                ssize_t n = c->io->recv(c->io_ctx, scratch, sizeof(scratch));
                if (n == -EAGAIN)
                        return STEP_WANT_READ;
                if (n <= 0)
                        return STEP_DONE;
                c->lingered += (uint32_t) n;
                if (c->lingered >= LINGER_BYTES_MAX)
                        return STEP_DONE;
        }
}

HttpConnWant http_conn_run(HttpConn *c, usec_t now) {
        for (;;) {
                ConnStep step;

                switch (c->state) {
                case CONN_READ_HEAD:
                        step = conn_read_head(c, now);
                        break;
                case CONN_READ_BODY:
                        step = conn_read_body(c, now);
                        break;
                case CONN_CGI:
                        step = conn_cgi(c, now);
                        break;
                case CONN_WRITE:
                        step = conn_write(c, now);
                        break;
                case CONN_LINGER:
                        step = conn_linger(c);
                        break;
                case CONN_CLOSED:
                default:
                        step = STEP_DONE;
                        break;
                }
                switch (step) {
                case STEP_CONTINUE:
                        continue;
                case STEP_WANT_READ:
                        return HTTP_CONN_WANT_READ;
                case STEP_WANT_WRITE:
                        return HTTP_CONN_WANT_WRITE;
                case STEP_WANT_CGI:
                        return HTTP_CONN_WANT_CGI;
                case STEP_DONE:
                default:
                        c->state = CONN_CLOSED;
                        conn_set_phase(c, HTTP_PHASE_CLOSED);
                        return HTTP_CONN_DONE;
                }
        }
}

HttpConnWant http_conn_timeout(HttpConn *c, usec_t now) {
        switch (c->state) {
        case CONN_READ_HEAD:
                if (c->phase == HTTP_PHASE_READ && c->rq && c->rq->in_len > 0) {
                        /* Part of a request came, then nothing in time: tell the client, then close. */
                        conn_on_head(c, -408, now);
                        return http_conn_run(c, now);
                }
                break;
        case CONN_READ_BODY:
                /* The body is too slow (RequestReadTimeout body=): 408 instead of the answer. */
                conn_respond_error(c, 408, true);
                c->rq->linger = true;
                conn_start_write(c, now);
                return http_conn_run(c, now);
        case CONN_CGI:
                if (c->rq->cgi_run && !cgi_exchange_head_sent(cgi_run_exchange(c->rq->cgi_run)) &&
                    now >= c->rq->cgi_deadline) {
                        /* Apache's words; the launcher kills the program's process group. */
                        conn_error(c, LOG_PRI_ERR, "Script timed out before returning headers (CGITimeout)");
                        c->rq->cgi_run = cgi_run_free(c->rq->cgi_run);
                        conn_respond_error(c, 504, true);
                        conn_start_write(c, now);
                        return http_conn_run(c, now);
                }
                conn_error(c, LOG_PRI_ERR, now >= c->rq->cgi_deadline ? "Script timed out (CGITimeout)"
                                                                       : "client too slow to take the response (TimeOut)");
                if (now < c->rq->cgi_deadline && c->io->reset)
                        c->io->reset(c->io_ctx);
                break;
        case CONN_WRITE:
                if (now < c->rq->idle_deadline) {
                        /* Not idle: the MinSendRate check is due. */
                        if (conn_send_rate_ok(c, now)) {
                                c->rq->rate_check = now + USEC_PER_SEC;
                                conn_write_deadline(c);
                                return HTTP_CONN_WANT_WRITE;
                        }
                        conn_error(c, LOG_PRI_INFO, "client takes the response slower than MinSendRate, resetting");
                } else
                        conn_error(c, LOG_PRI_INFO, "client took no part of the response for TimeOut, resetting");
                /* A plain close would leave the kernel sending what it holds at the client's pace,
                 * and the client holding the connection (nginx: reset_timedout_connection). */
                if (c->io->reset)
                        c->io->reset(c->io_ctx);
                break;
        default:
                break;
        }
        c->state = CONN_CLOSED;
        conn_set_phase(c, HTTP_PHASE_CLOSED);
        return HTTP_CONN_DONE;
}

void http_conn_drain(HttpConn *c, usec_t now, usec_t grace) {
        c->draining = true;
        if (c->state == CONN_READ_HEAD && c->phase == HTTP_PHASE_IDLE && now + grace < c->deadline)
                c->deadline = now + grace;
}
