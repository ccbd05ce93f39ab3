/* SPDX-License-Identifier: MIT */
/* request.c — request processing (see request.h): routing a request to its handler, and the
 * access log's fields. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/access.h"
#include "http/access-log.h"
#include "http/cgi-run.h"
#include "http/fastcgi-config.h"
#include "http/fastcgi-handler.h"
#include "http/handler.h"
#include "http/mapping.h"
#include "shared/log.h"
#include "http/path.h"
#include "http/request.h"
#include "http/server-logs.h"
#include "http/static.h"
#include "shared/time-util.h"

void http_request_log(const HttpRequest *q, int level, const char *fmt, ...) {
        char message[512];
        va_list ap;

        if (!q->conn_ops || !q->conn_ops->log)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        q->conn_ops->log(q->conn, level, message);
}

bool http_request_tls_info(const HttpRequest *q, HttpTlsInfo *ret) {
        return q->conn_ops && q->conn_ops->tls_info && q->conn_ops->tls_info(q->conn, ret);
}

int http_request_path(const HttpRequestHead *h, const char *buf, char *path, size_t *ret_len) {
        int k;

        if (h->path.len == 0) {
                /* absolute-form without a path: the root */
                path[0] = '/';
                path[1] = 0;
                *ret_len = 1;
                return 0;
        }
        k = http_path_normalize(buf + h->path.off, h->path.len, path, PATH_MAX, ret_len);
        if (k < 0)
                return k == -ENOENT ? 404 : k == -ENAMETOOLONG ? 414 : 400;
        return 0;
}

static void request_error(HttpResponse *r, int status, bool close) {
        http_response_done(r);
        http_response_init(r);
        http_response_set_error(r, status);
        r->close = close;
        if (status == 405 || status == 501)
                http_response_add_header(r, "Allow", HTTP_STATIC_ALLOW);
}

/* Answer with an error unless the request can go to a handler; true when answered. */
static bool request_check(const HttpRequest *q, HttpResponse *r) {
        const HttpRequestHead *h = q->head;
        const HttpSiteConfig *cfg = q->site->cfg;

        if (q->site->foreign)
                /* Another process serves this site (perchild): the client must ask again on a new
                 * connection, which the right process will get (RFC 9110 §15.5.20). */
                request_error(r, 421, true);
        else if (q->site->unavailable) {
                /* perchild: the site's own pool cannot start (the operator is told why); try later. */
                request_error(r, 503, true);
                http_response_add_header(r, "Retry-After", "10");
        } else if (h->method == HTTP_METHOD_UNKNOWN)
                request_error(r, 501, false);
        else if (h->expect_other)
                request_error(r, 417, false);
        else if (cfg->limit_request_body > 0 && h->has_content_length && h->content_length > cfg->limit_request_body)
                request_error(r, 413, true);
        else if (h->method == HTTP_METHOD_CONNECT || (h->method == HTTP_METHOD_TRACE && !cfg->trace_enable))
                request_error(r, 405, false);
        else
                return false;
        return true;
}

/* AddHandler cgi-script: does the path name a file with such an extension (and perhaps PATH_INFO
 * after it)? Then it is run, found the way a ScriptAlias script is (nothing outside DocumentRoot); a
 * file that is not there, or has another extension, is left to the static handler. */
static bool request_is_cgi_by_extension(const HttpRequest *q) {
        const HttpSiteConfig *cfg = q->site->cfg;

        /* An Alias's files are served as they are: the program would be looked for in DocumentRoot. */
        if (q->site->root_fd < 0 || q->root_fd != q->site->root_fd ||
            !cgi_handler_may_match(cfg, q->path, q->path_len))
                return false;
        size_t name_len = 0;
        int r = cgi_script_find(q->site->root_fd, q->path + 1, q->path_len - 1, &name_len);
        return r >= 0 && cgi_handler_match(cfg, q->path + 1, name_len);
}

/* SetHandler proxy: or AddHandler proxy: (fastcgi-config.h): does a FastCGI responder serve this
 * path? The script is looked for on disk here (fastcgi-handler.h) so that a path with a FastCGI
 * extension whose file is not there goes to FallbackResource, or gets its 404 from the handler
 * without the responder being asked; a file of another kind (an image beside index.php) is left to
 * the static handler unless SetHandler sends everything. Returns 1 (FastCGI), 0 (not), or -1 when
 * the fallback should map the path again. */
static int request_is_fastcgi(HttpRequest *q) {
        static _Thread_local HttpFcgiScript script;
        bool set = q->cfg->set_handler.set;

        q->fcgi_script = NULL;
        if (!set && !http_fcgi_extension_may_match(q->site->cfg, q->path, q->path_len))
                return 0;
        int r = http_fastcgi_script_find(q, &script);
        if (r >= 0 && script.target)
                q->fcgi_script = &script;
        if (r >= 0)
                return script.target ? 1 : 0;
        if ((r == -ENOENT || r == -ENOTDIR) && !q->fallback && q->cfg->mapping.fallback.path)
                return -1;
        /* The handler answers the error (404, 403) for a request that was FastCGI's to take. */
        return set || r == -ENOENT || r == -ENOTDIR ? 1 : 0;
}

const HttpHandlerType *http_request_route(HttpRequest *q, HttpResponse *r) {
        const HttpRequestHead *h = q->head;
        static _Thread_local char path[PATH_MAX];
        CgiAliasMatch alias;
        size_t path_len = 0;

        q->fcgi_script = NULL;
        http_response_done(r);
        http_response_init(r);

        const HttpSite *named = http_server_route(q->server, q->listener_name, h->has_host ? q->buf + h->host.off : NULL,
                                                  h->has_host ? h->host.len : 0);
        /* Over TLS the name the client gave in its handshake chose the certificate: a request for
         * another site on that connection (a browser coalescing connections of names one certificate
         * covers) must ask again on a connection of its own (RFC 9110 §15.5.20, as nginx does). A
         * request without Host goes to the site its SNI chose. The name is routed as Host is (under
         * perchild an unknown one goes to DefaultSite, as the dispatcher sent it). */
        HttpTlsInfo tls;
        bool is_tls = http_request_tls_info(q, &tls);
        if (is_tls && tls.sni) {
                const HttpSite *by_sni = http_server_route(q->server, q->listener_name, tls.sni, strlen(tls.sni));
                if (!h->has_host && by_sni)
                        named = by_sni;
                else if (by_sni != named && named) {
                        q->site = named;
                        request_error(r, 421, true);
                        return NULL;
                }
        }
        if (!named) {
                /* No site has that name here and none takes such names (perchild): as for another
                 * pool's site, the client must not get this connection's site instead. */
                request_error(r, 421, true);
                return NULL;
        }
        q->site = named;
        const HttpSiteConfig *cfg = named->cfg;
        /* A site that asks for client certificates (SSLVerifyClient) is served only over a handshake
         * made with its own settings: a client without SNI got the listener's default site's,
         * which may have asked for none, or trusted other CAs. Apache would renegotiate; here the
         * client must come again naming the site. */
        if (is_tls && cfg->tls.verify.mode != HTTP_TLS_VERIFY_NONE && tls.site != (size_t) (named - q->server->sites)) {
                request_error(r, 421, true);
                return NULL;
        }

        if (request_check(q, r))
                return NULL;
        if (h->target_form == HTTP_TARGET_ASTERISK) {
                /* OPTIONS * : what the server as a whole allows. */
                r->status = 200;
                http_response_add_header(r, "Allow", HTTP_STATIC_ALLOW);
                return NULL;
        }
        if (h->method == HTTP_METHOD_TRACE) {
                /* TraceEnable On: echo the request head back, as RFC 9110 §9.3.8 says. */
                r->status = 200;
                http_response_add_header(r, "Content-Type", "message/http");
                r->body = q->buf;
                r->body_len = h->head_len;
                return NULL;
        }

        int k = http_request_path(h, q->buf, path, &path_len);
        if (k > 0) {
                request_error(r, k, false);
                return NULL;
        }
        q->path = path;
        q->path_len = path_len;
        q->cfg = http_site_config_at_path(cfg, path, path_len);
        q->root_fd = named->root_fd;
        q->file_path = path;
        q->file_path_len = path_len;

map:
        /* 1. .ht* files are never served (mapping.h) */
        if (http_mapping_deny_ht(q, r))
                return NULL;
        /* 2. Redirect (mapping.h) */
        if (http_mapping_redirect(q, r))
                return NULL;
        /* 3. Require, Basic authentication: 403 or 401 (access.h) */
        if (http_access_check(q, r))
                return NULL;

        if (cfg->server_status && (h->method == HTTP_METHOD_GET || h->method == HTTP_METHOD_HEAD) &&
            strcmp(q->path, cfg->server_status) == 0)
                return &http_status_handler;
        /* 4. ProxyPass: the prefix's upstream answers (proxy-config.h), an HTTP server or a
         * FastCGI responder */
        const char *rest;
        size_t rest_len;
        const HttpProxyPass *pass = q->cfg->proxy.pass.n > 0 ? http_proxy_pass_match(&q->cfg->proxy.pass, q->path,
                                                                                      q->path_len, &rest, &rest_len)
                                                             : NULL;
        if (pass)
                return pass->target.protocol == HTTP_UPSTREAM_FCGI ? &http_fastcgi_handler : &http_proxy_handler;
        if (cfg->script_alias.n > 0 && cgi_script_alias_match(cfg, q->path, q->path_len, &alias))
                return &http_cgi_handler;
        /* 5. Alias: where the file is looked for (mapping.h) */
        http_mapping_alias(q);
        if (cfg->add_handler.extensions && request_is_cgi_by_extension(q))
                return &http_cgi_handler;
        /* 6. SetHandler and AddHandler proxy: (FastCGI) */
        int fcgi = request_is_fastcgi(q);
        if (fcgi > 0)
                return &http_fastcgi_handler;
        /* 7. FallbackResource: a path that maps to nothing is mapped again as the fallback's */
        if (http_mapping_fallback(q))
                goto map;
        if (fcgi < 0)
                return &http_fastcgi_handler; /* a missing script: its 404 */

        switch (h->method) {
        case HTTP_METHOD_GET:
        case HTTP_METHOD_HEAD:
                return &http_static_handler;
        case HTTP_METHOD_OPTIONS:
                r->status = 200;
                http_response_add_header(r, "Allow", HTTP_STATIC_ALLOW);
                return NULL;
        default:
                request_error(r, 405, false);
                return NULL;
        }
}

/* ---- the access log ------------------------------------------------------------------------- */

static bool log_request_header(const void *userdata, const char *name, size_t index, AccessLogText *ret) {
        const HttpAccessFields *f = userdata;
        const HttpRequestHead *h = f->request->head;

        for (uint32_t i = 0; i < h->n_headers; i++) {
                const HttpHeader *hh = &h->headers[i];
                if (http_span_eq_ci(f->request->buf, hh->name, name) && index-- == 0) {
                        *ret = (AccessLogText) { f->request->buf + hh->value.off, hh->value.len };
                        return true;
                }
        }
        return false;
}

/* Fields the handler added ("Name: value\r\n" lines); Date, Server, Content-Length and Connection
 * are the connection's own and not among them. */
static bool log_response_header(const void *userdata, const char *name, size_t index, AccessLogText *ret) {
        const HttpResponse *r = ((const HttpAccessFields *) userdata)->response;
        size_t nlen = strlen(name);

        if (!r)
                return false;
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

void http_request_log_access(const HttpAccessFields *f) {
        const HttpRequest *q = f->request;
        const HttpRequestHead *h = q->head;
        const char *line, *end = q->buf + f->buf_len;
        struct timespec ts;

        if (!http_server_site_logs(q->server, q->site))
                return;
        clock_gettime(CLOCK_REALTIME, &ts);
        HttpTlsInfo tls;
        bool is_tls = http_request_tls_info(q, &tls);
        AccessLogEntry e = {
                .peer = q->peer && q->peer[0] ? q->peer : NULL,
                .conn_peer = q->conn_peer && q->conn_peer[0] ? q->conn_peer : NULL,
                .peer_port = q->peer_port,
                .user = q->user[0] ? q->user : NULL,
                .local_port = q->local_port,
                .time = timespec_to_usec(&ts) - f->duration,
                .duration = f->duration,
                .vhost = q->site->cfg->server_name ? q->site->cfg->server_name : q->site->name,
                .status = f->status,
                .bytes = f->body_bytes,
                .bytes_out = f->bytes_out,
                .bytes_in = f->bytes_in,
                .conn_status = f->conn_status,
                .ssl_protocol = is_tls ? tls.protocol : NULL,
                .ssl_cipher = is_tls ? tls.cipher : NULL,
                .ssl_client_verify = is_tls ? tls.client_verify : NULL,
                .ssl_client_s_dn = is_tls ? tls.client_s_dn : NULL,
                .request_header = log_request_header,
                .response_header = log_response_header,
                .userdata = f,
        };

        /* The request line as received (after any empty lines before it), even from a rejected head. */
        for (line = q->buf; line < end && (*line == '\r' || *line == '\n'); line++)
                ;
        size_t len = 0;
        while (line + len < end && line[len] != '\r' && line[len] != '\n')
                len++;
        if (len > 0)
                e.request_line = (AccessLogText) { line, len };
        if (f->head_parsed) {
                /* A head that parsed: its spans are good. The version is the line's last word. */
                const char *sp = memrchr(line, ' ', len);
                e.method = (AccessLogText) { q->buf + h->method_span.off, h->method_span.len };
                if (sp)
                        e.protocol = (AccessLogText) { sp + 1, (size_t) (line + len - sp - 1) };
                if (h->path.len > 0)
                        e.path = (AccessLogText) { q->buf + h->path.off, h->path.len };
                else
                        e.path = (AccessLogText) { h->target_form == HTTP_TARGET_ASTERISK ? "*" : "/", 1 };
                if (h->has_query)
                        e.query = (AccessLogText) { q->buf + h->query.off, h->query.len };
        }
        http_server_log_request(q->server, q->site, &e);
}
