/* SPDX-License-Identifier: MIT */
/* cgi-handler.c — the CGI handler (handler.h): a script beneath a ScriptAlias, or a file with an
 * AddHandler cgi-script extension beneath DocumentRoot.
 *
 * start() finds the script (404/403/414 when there is none to run) and, when the request has a
 * body, asks for it: the body is spooled whole into a memfd (at most CGI_BODY_MAX, or
 * LimitRequestBody when lower; more is 413), so the program never waits for the client and the
 * client never waits for the program. produce() then starts the program through the server's
 * launcher (cgi-run.h) and relays its output, which the CGI exchange has framed, as it comes. It
 * waits for the launcher's answer and the program's output (HTTP_HANDLER_WAIT_READ), and while the
 * launcher's queue is full for its socket to take the request (HTTP_HANDLER_WAIT_WRITE), never
 * blocking; CGITimeout bounds all of it: without a response head by then the client gets 504. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "http/cgi-run.h"
#include "http/date.h"
#include "http/handler.h"
#include "http/server-logs.h"
#include "shared/log.h"
#include "shared/time-util.h"

/* A CGI request body is held in memory (a memfd) until the program starts: at most this much, or
 * LimitRequestBody when that is lower; more is 413. */
#define CGI_BODY_MAX (UINT64_C(128) * 1024 * 1024)

typedef struct CgiHandler {
        HttpHandler base;
        bool by_extension; /* AddHandler cgi-script rather than ScriptAlias */
        bool cut;          /* the program's body was shorter than it said: close after it */
        int spool_fd;      /* the request body, for the program's stdin; -1: none */
        uint64_t body_len;
        CgiRun *run;
} CgiHandler;

_Static_assert(sizeof(CgiHandler) <= HTTP_HANDLER_SPACE, "the CGI handler's state must fit the request block");

static void cgi_error(HttpResponse *resp, int status, bool close) {
        http_response_done(resp);
        http_response_init(resp);
        http_response_set_error(resp, status);
        resp->close = close;
}

static void cgi_handler_stop(CgiHandler *s) {
        s->run = cgi_run_free(s->run);
        s->base.wait_fd = -1;
}

static int cgi_handler_start(HttpHandler *h, HttpResponse *resp) {
        CgiHandler *s = (CgiHandler *) h;
        const HttpRequest *q = h->request;
        const HttpRequestHead *head = q->head;
        const HttpSiteConfig *cfg = q->site->cfg;
        CgiAliasMatch m;

        s->spool_fd = -1;
        s->run = NULL;
        s->cut = false;
        s->body_len = 0;
        s->by_extension = !(cfg->script_alias.n > 0 && cgi_script_alias_match(cfg, q->path, q->path_len, &m));
        if (!s->by_extension) {
                /* Is there a script to run? (AddHandler's router already opened it.) */
                const char *why = NULL;

                if (m.index >= q->site->n_script_alias_fds) {
                        cgi_error(resp, 500, false);
                        return HTTP_HANDLER_RESPOND;
                }
                size_t name_len;
                int r = cgi_script_find(q->site->script_alias_fds[m.index], m.rest, m.rest_len, &name_len);
                if (r < 0) {
                        int status = cgi_script_status(r, &why);
                        if (why)
                                http_request_log(q, LOG_PRI_ERR, "%s: %s", why, q->path);
                        cgi_error(resp, status, false);
                        return HTTP_HANDLER_RESPOND;
                }
        }

        if (!head->chunked && (!head->has_content_length || head->content_length == 0))
                return HTTP_HANDLER_READ_BODY; /* nothing to spool: produce() follows at once */
        h->body_max = cfg->limit_request_body;
        if (h->body_max == 0 || h->body_max > CGI_BODY_MAX)
                h->body_max = CGI_BODY_MAX;
        if (!head->chunked && head->content_length > h->body_max) {
                http_request_log(q, LOG_PRI_ERR, "request body of %llu bytes is larger than a CGI program may get",
                                 (unsigned long long) head->content_length);
                cgi_error(resp, 413, true);
                return HTTP_HANDLER_RESPOND;
        }
        s->spool_fd = memfd_create("mpmd-cgi-body", MFD_CLOEXEC);
        if (s->spool_fd < 0) {
                http_request_log(q, LOG_PRI_ERR, "cannot keep the request body for the program: %s", strerror(errno));
                cgi_error(resp, 500, true);
                return HTTP_HANDLER_RESPOND;
        }
        return HTTP_HANDLER_READ_BODY;
}

static int cgi_handler_on_body(HttpHandler *h, const char *p, size_t n) {
        CgiHandler *s = (CgiHandler *) h;

        while (n > 0) {
                ssize_t k = write(s->spool_fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -500;
                p += k;
                n -= (size_t) k;
                s->body_len += (uint64_t) k;
        }
        return 0;
}

/* Start the program (the body, if any, is in the spool): from here its output is relayed. */
static int cgi_handler_launch(CgiHandler *s, HttpResponse *resp, usec_t now) {
        HttpRequest *q = s->base.request;
        static _Thread_local char path[PATH_MAX];
        char server_addr[64] = "";
        const char *why = NULL;
        struct timespec ts;
        CgiAliasMatch alias;
        size_t path_len = 0;
        int dir_fd = -1;

        clock_gettime(CLOCK_REALTIME, &ts);
        usec_t now_real = timespec_to_usec(&ts);
        /* Routed before the body was read; the path is found again rather than kept per request
         * (a FallbackResource's path lives in the configuration: it is still there). */
        bool found = q->fallback ? q->path_len < sizeof(path)
                                 : http_request_path(q->head, q->buf, path, &path_len) == 0;
        if (found && q->fallback) {
                memcpy(path, q->path, q->path_len + 1);
                path_len = q->path_len;
        }
        if (found) {
                if (s->by_extension) {
                        alias = (CgiAliasMatch) {
                                .url = "/",
                                .url_len = 1,
                                .directory = q->site->cfg->document_root,
                                .rest = path + 1,
                                .rest_len = path_len - 1,
                        };
                        dir_fd = q->site->root_fd;
                } else if (cgi_script_alias_match(q->site->cfg, path, path_len, &alias) &&
                           alias.index < q->site->n_script_alias_fds)
                        dir_fd = q->site->script_alias_fds[alias.index];
        }
        if (dir_fd < 0) {
                cgi_error(resp, 500, false);
                return HTTP_HANDLER_RESPOND;
        }
        if (q->conn_ops && q->conn_ops->local_address)
                (void) q->conn_ops->local_address(q->conn, server_addr, sizeof(server_addr));
        if (s->spool_fd >= 0 && lseek(s->spool_fd, 0, SEEK_SET) < 0) {
                http_request_log(q, LOG_PRI_ERR, "cannot rewind the spooled request body: %s", strerror(errno));
                cgi_error(resp, 500, false);
                return HTTP_HANDLER_RESPOND;
        }

        HttpRequest pq = *q;
        pq.path = path;
        pq.path_len = path_len;
        pq.now = now_real;
        pq.now_mono = now;
        CgiRunParams p = {
                .request = &pq,
                .alias = &alias,
                .alias_dir_fd = dir_fd,
                .remote_addr = q->peer,
                .remote_port = q->peer_port,
                .server_addr = server_addr,
                .server_port = q->local_port,
                .body_fd = s->spool_fd,
                .body_len = s->body_len,
                /* Its stderr is relayed by the launcher, line by line, to the site's own ErrorLog
                 * or else to the launcher's (the server's); never handed the file itself. */
                .error_log_fd = http_server_site_error_fd(q->server, q->site),
                .keep_alive = q->keep_alive,
                .date = http_date_now(now_real),
        };
        int status = cgi_run_start(&p, &s->run, &why);
        /* The launcher (or the run, while it waits to send) has its own copy of the body now. */
        s->spool_fd = safe_close(s->spool_fd);
        if (status != 0) {
                if (why)
                        http_request_log(q, LOG_PRI_ERR, "%s: %s", why, path);
                s->run = NULL;
                cgi_error(resp, status, false);
                return HTTP_HANDLER_RESPOND;
        }
        s->base.deadline = now + q->site->cfg->cgi_timeout;
        return HTTP_HANDLER_OUTPUT;
}

static int cgi_handler_produce(HttpHandler *h, HttpResponse *resp, HttpOutput *out, usec_t now) {
        CgiHandler *s = (CgiHandler *) h;
        const HttpRequest *q = h->request;

        *out = (HttpOutput) {};
        if (!s->run) {
                int k = cgi_handler_launch(s, resp, now);
                if (k != HTTP_HANDLER_OUTPUT)
                        return k;
        }

        const CgiExchange *x = cgi_run_exchange(s->run);
        int r = cgi_run_pump(s->run, out);
        switch (r) {
        case -EAGAIN:
                h->wait_fd = cgi_run_fd(s->run);
                return cgi_run_sending(s->run) ? HTTP_HANDLER_WAIT_WRITE : HTTP_HANDLER_WAIT_READ;
        case CGI_EXCHANGE_AGAIN:
                return HTTP_HANDLER_OUTPUT;
        case CGI_EXCHANGE_DONE:
                return HTTP_HANDLER_DONE;
        case -EMSGSIZE:
                /* What fits the program's Content-Length is sent; the rest was dropped. */
                http_request_log(q, LOG_PRI_WARNING, "%s", cgi_exchange_error(x));
                return HTTP_HANDLER_DONE;
        case -ECANCELED: {
                /* The launcher could not start it (exec failed, busy, gone). */
                const char *why = NULL;
                int status = cgi_run_failed(s->run, &why);
                http_request_log(q, LOG_PRI_ERR, "%s", why ? why : "cannot start the script");
                cgi_handler_stop(s);
                cgi_error(resp, status, false);
                return HTTP_HANDLER_RESPOND;
        }
        default:
                http_request_log(q, LOG_PRI_ERR, "%s", cgi_exchange_error(x) ? cgi_exchange_error(x) : strerror(-r));
                if (!cgi_exchange_head_sent(x)) {
                        cgi_handler_stop(s);
                        cgi_error(resp, 500, false);
                        return HTTP_HANDLER_RESPOND;
                }
                /* The head is out: all the client can learn is that the response is cut. */
                s->cut = true;
                return HTTP_HANDLER_DONE;
        }
}

static int cgi_handler_timeout(HttpHandler *h, HttpResponse *resp) {
        CgiHandler *s = (CgiHandler *) h;

        if (s->run && !cgi_exchange_head_sent(cgi_run_exchange(s->run))) {
                /* Apache's words; the launcher kills the program's process group. A request still
                 * waiting for the launcher's queue ends the same way: no program started in time. */
                http_request_log(h->request, LOG_PRI_ERR, "Script timed out before returning headers (CGITimeout)");
                cgi_handler_stop(s);
                cgi_error(resp, 504, true);
                return HTTP_HANDLER_RESPOND;
        }
        http_request_log(h->request, LOG_PRI_ERR, "Script timed out (CGITimeout)");
        return -ETIMEDOUT;
}

static void cgi_handler_finish(HttpHandler *h, HttpHandlerResult *ret) {
        CgiHandler *s = (CgiHandler *) h;

        if (ret && s->run) {
                const CgiExchange *x = cgi_run_exchange(s->run);
                ret->status = cgi_exchange_status(x);
                ret->body_bytes = cgi_exchange_body_bytes(x);
                ret->keep_alive = cgi_exchange_keep_alive(x) && !s->cut;
        }
        cgi_handler_stop(s);
        s->spool_fd = safe_close(s->spool_fd);
}

const HttpHandlerType http_cgi_handler = {
        .name = "cgi",
        .size = sizeof(CgiHandler),
        .start = cgi_handler_start,
        .on_body = cgi_handler_on_body,
        .produce = cgi_handler_produce,
        .timeout = cgi_handler_timeout,
        .finish = cgi_handler_finish,
};
