/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/cgi.h"
#include "shared/strv.h"

/* ---- ScriptAlias -------------------------------------------------------------------------- */

bool cgi_script_alias_match(const HttpSiteConfig *cfg, const char *path, size_t path_len, CgiAliasMatch *ret) {
        const HttpScriptAliases *l = &cfg->script_alias;
        size_t best = SIZE_MAX, best_len = 0;

        for (size_t i = 0; i < l->n; i++) {
                size_t len = l->items[i].url_len;

                if (len <= path_len && len > best_len && memcmp(path, l->items[i].url, len) == 0) {
                        best = i;
                        best_len = len;
                }
        }
        if (best == SIZE_MAX)
                return false;
        *ret = (CgiAliasMatch) {
                .url = l->items[best].url,
                .url_len = best_len,
                .directory = l->items[best].directory,
                .rest = path + best_len,
                .rest_len = path_len - best_len,
                .index = best,
        };
        return true;
}

/* ---- AddHandler cgi-script ---------------------------------------------------------------- */

static bool ends_with_ext_ci(const char *s, size_t len, const char *ext) {
        size_t n = strlen(ext);
        return n < len && strncasecmp(s + len - n, ext, n) == 0;
}

bool cgi_handler_may_match(const HttpSiteConfig *cfg, const char *path, size_t path_len) {
        for (size_t i = 0; i <= path_len; i++) {
                if (i < path_len && path[i] != '/')
                        continue;
                /* path[0..i) ends a component */
                STRV_FOREACH(w, cfg->add_handler.extensions)
                        if (ends_with_ext_ci(path, i, *w))
                                return true;
        }
        return false;
}

bool cgi_handler_match(const HttpSiteConfig *cfg, const char *name, size_t len) {
        STRV_FOREACH(w, cfg->add_handler.extensions)
                if (ends_with_ext_ci(name, len, *w))
                        return true;
        return false;
}

/* ---- the environment ---------------------------------------------------------------------- */

typedef struct EnvWriter {
        char *buf;
        size_t size, len, count;
        size_t var_start; /* where the string being written began */
        bool overflow;
} EnvWriter;

static void env_put(EnvWriter *w, const char *s, size_t n) {
        if (w->overflow || n > w->size - w->len) {
                w->overflow = true;
                return;
        }
        memcpy(w->buf + w->len, s, n);
        w->len += n;
}

static void env_begin(EnvWriter *w, const char *name) {
        w->var_start = w->len;
        env_put(w, name, strlen(name));
        env_put(w, "=", 1);
}

static void env_end(EnvWriter *w) {
        env_put(w, "", 1);
        if (!w->overflow)
                w->count++;
}

static void env_add(EnvWriter *w, const char *name, const char *value, size_t len) {
        env_begin(w, name);
        env_put(w, value, len);
        env_end(w);
}

static void env_add_str(EnvWriter *w, const char *name, const char *value) {
        env_add(w, name, value ? value : "", value ? strlen(value) : 0);
}

static void env_add_uint(EnvWriter *w, const char *name, uint64_t v) {
        char num[24];
        int n = snprintf(num, sizeof(num), "%llu", (unsigned long long) v);

        env_add(w, name, num, (size_t) n);
}

static void env_add_span(EnvWriter *w, const char *name, const char *buf, HttpSpan s) {
        env_add(w, name, buf + s.off, s.len);
}

/* Header fields that must not become HTTP_* variables. Credentials (Authorization,
 * Proxy-Authorization) only with CGIPassAuth, as in Apache: a program behind Require should see
 * REMOTE_USER, not the password; one that checks a token itself (a Bearer API) needs them. */
static bool env_header_skipped(const char *buf, HttpSpan name, bool pass_auth) {
        static const char *const skip[] = {
                "Proxy",          /* httpoxy: programs read HTTP_PROXY as their proxy setting */
                "Content-Length", /* CONTENT_LENGTH */
                "Content-Type",   /* CONTENT_TYPE */
        };

        for (size_t i = 0; i < ELEMENTSOF(skip); i++)
                if (http_span_eq_ci(buf, name, skip[i]))
                        return true;
        if (!pass_auth &&
            (http_span_eq_ci(buf, name, "Authorization") || http_span_eq_ci(buf, name, "Proxy-Authorization")))
                return true;
        for (uint32_t i = 0; i < name.len; i++) {
                char c = buf[name.off + i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
                        return true;
        }
        return false;
}

static bool span_eq_span_ci(const char *buf, HttpSpan a, HttpSpan b) {
        return a.len == b.len && strncasecmp(buf + a.off, buf + b.off, a.len) == 0;
}

static void env_add_headers(EnvWriter *w, const HttpRequestHead *h, const char *buf, bool pass_auth) {
        for (uint32_t i = 0; i < h->n_headers; i++) {
                HttpSpan name = h->headers[i].name;
                bool seen = false;

                if (env_header_skipped(buf, name, pass_auth))
                        continue;
                for (uint32_t j = 0; j < i && !seen; j++)
                        seen = span_eq_span_ci(buf, h->headers[j].name, name);
                if (seen) /* joined into the first occurrence's variable */
                        continue;

                w->var_start = w->len;
                env_put(w, "HTTP_", 5);
                for (uint32_t k = 0; k < name.len && !w->overflow; k++) {
                        char c = buf[name.off + k];
                        c = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char) (c - 'a' + 'A') : c;
                        env_put(w, &c, 1);
                }
                env_put(w, "=", 1);
                bool first = true;
                for (uint32_t j = i; j < h->n_headers; j++) {
                        if (!span_eq_span_ci(buf, h->headers[j].name, name))
                                continue;
                        if (!first)
                                env_put(w, ", ", 2);
                        env_put(w, buf + h->headers[j].value.off, h->headers[j].value.len);
                        first = false;
                }
                env_end(w);
        }
}

/* The Host header split into name and port ("[::1]:8080" → "[::1]", "8080"). */
static void host_split(const char *host, size_t len, size_t *ret_name_len, const char **ret_port,
                       size_t *ret_port_len) {
        const char *end = host + len, *colon = NULL;

        if (len > 0 && host[0] == '[') {
                const char *close = memchr(host, ']', len);
                if (close && close + 1 < end && close[1] == ':')
                        colon = close + 1;
        } else
                colon = memrchr(host, ':', len);
        if (!colon) {
                *ret_name_len = len;
                *ret_port = NULL;
                *ret_port_len = 0;
                return;
        }
        *ret_name_len = (size_t) (colon - host);
        *ret_port = colon + 1;
        *ret_port_len = (size_t) (end - colon - 1);
}

int cgi_env_build(const CgiEnvParams *p, char *buf, size_t size, size_t *ret_len, size_t *ret_count) {
        const HttpRequest *q = p->request;
        const HttpRequestHead *h = q->head;
        const HttpSiteConfig *cfg = q->site ? q->site->cfg : NULL;
        const char *docroot = cfg && cfg->document_root ? cfg->document_root : "";
        EnvWriter w = { .buf = buf, .size = size };
        HttpTlsInfo tls;
        bool is_tls = http_request_tls_info(q, &tls);

        env_add_str(&w, "GATEWAY_INTERFACE", "CGI/1.1");
        env_add_str(&w, "SERVER_SOFTWARE", p->server_software);

        const char *port = NULL;
        size_t name_len = 0, port_len = 0;
        if (h->has_host && h->host.len > 0) {
                host_split(q->buf + h->host.off, h->host.len, &name_len, &port, &port_len);
                env_add(&w, "SERVER_NAME", q->buf + h->host.off, name_len);
        } else if (cfg && cfg->server_name)
                env_add_str(&w, "SERVER_NAME", cfg->server_name);
        else
                env_add_str(&w, "SERVER_NAME", p->server_addr);
        if (port && port_len > 0)
                env_add(&w, "SERVER_PORT", port, port_len);
        else
                env_add_uint(&w, "SERVER_PORT", p->server_port);
        env_add_str(&w, "SERVER_ADDR", p->server_addr);
        env_add_str(&w, "SERVER_PROTOCOL", h->version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1");
        env_add_span(&w, "REQUEST_METHOD", q->buf, h->method_span);
        env_add_span(&w, "REQUEST_URI", q->buf, h->target);
        env_add_str(&w, "REQUEST_SCHEME", is_tls ? "https" : p->scheme);
        if (is_tls) {
                /* mod_ssl's names, which programs test to build their own URLs */
                env_add_str(&w, "HTTPS", "on");
                env_add_str(&w, "SSL_PROTOCOL", tls.protocol);
                env_add_str(&w, "SSL_CIPHER", tls.cipher);
                if (tls.sni)
                        env_add_str(&w, "SSL_TLS_SNI", tls.sni);
                /* The client's certificate, which the site's SSLVerifyClient asked for */
                env_add_str(&w, "SSL_CLIENT_VERIFY", tls.client_verify ? tls.client_verify : "NONE");
                if (tls.client_s_dn)
                        env_add_str(&w, "SSL_CLIENT_S_DN", tls.client_s_dn);
                if (tls.client_i_dn)
                        env_add_str(&w, "SSL_CLIENT_I_DN", tls.client_i_dn);
                if (tls.client_serial)
                        env_add_str(&w, "SSL_CLIENT_M_SERIAL", tls.client_serial);
                if (tls.client_v_end)
                        env_add_str(&w, "SSL_CLIENT_V_END", tls.client_v_end);
        }
        env_add_span(&w, "QUERY_STRING", q->buf, h->query);
        env_add(&w, "SCRIPT_NAME", p->script_name, p->script_name_len);
        env_add_str(&w, "SCRIPT_FILENAME", p->script_filename);
        if (p->path_info_len > 0) {
                env_add(&w, "PATH_INFO", p->path_info, p->path_info_len);
                /* Apache maps PATH_INFO as a URL beneath the DocumentRoot; without aliases that is
                 * the root joined with it. A trailing '/' on the root would double the slash. */
                size_t root_len = strlen(docroot);
                while (root_len > 0 && docroot[root_len - 1] == '/')
                        root_len--;
                env_begin(&w, "PATH_TRANSLATED");
                env_put(&w, docroot, root_len);
                env_put(&w, p->path_info, p->path_info_len);
                env_end(&w);
        }
        env_add_str(&w, "DOCUMENT_ROOT", docroot);
        env_add_str(&w, "REMOTE_ADDR", p->remote_addr);
        env_add_uint(&w, "REMOTE_PORT", p->remote_port);
        if (q->user[0]) {
                /* RFC 3875 §4.1.1 and 4.1.11: the scheme and the user it verified; the credentials
                 * themselves stay with the server (Authorization is not passed, as in Apache). */
                env_add_str(&w, "AUTH_TYPE", "Basic");
                env_add_str(&w, "REMOTE_USER", q->user);
        }
        if (p->has_body) {
                const HttpHeader *ct = http_head_find(h, q->buf, "Content-Type");

                env_add_uint(&w, "CONTENT_LENGTH", p->content_length);
                if (ct)
                        env_add_span(&w, "CONTENT_TYPE", q->buf, ct->value);
        }
        /* CGIPassAuth is a path section's key too: the settings of the path served */
        const HttpSiteConfig *path_cfg = q->cfg ? q->cfg : cfg;
        env_add_headers(&w, h, q->buf, path_cfg && path_cfg->cgi_pass_auth);
        env_add_str(&w, "PATH", "/usr/local/bin:/usr/bin:/bin");

        if (w.overflow)
                return -ENOBUFS;
        *ret_len = w.len;
        *ret_count = w.count;
        return 0;
}

/* ---- the program's output head ------------------------------------------------------------ */

static bool is_tchar(unsigned char c) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                return true;
        return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A field value: VCHAR, obs-text, SP and HTAB. */
static bool is_value_char(unsigned char c) {
        return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool span_is(const char *buf, HttpSpan s, const char *name) {
        return http_span_eq_ci(buf, s, name);
}

/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
static bool is_absolute_url(const char *s, size_t n) {
        size_t i = 0;

        if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
                return false;
        for (i = 1; i < n; i++) {
                char c = s[i];
                if (c == ':')
                        return i + 1 < n;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
                      c == '-' || c == '.'))
                        return false;
        }
        return false;
}

static int head_refuse(CgiHeadParser *p, int r, const char *why) {
        p->error = why;
        p->result = r;
        return r;
}

static int head_field(CgiHeadParser *p, const char *buf, uint32_t start, uint32_t end) {
        CgiHead *h = p->head;
        uint32_t colon = start, vs, ve;

        while (colon < end && is_tchar((unsigned char) buf[colon]))
                colon++;
        if (colon == start || colon == end || buf[colon] != ':')
                /* Also catches continuation lines (leading whitespace) and whitespace before ':'. */
                return head_refuse(p, -EBADMSG, "malformed header from script: not a header line");
        vs = colon + 1;
        ve = end;
        while (vs < ve && (buf[vs] == ' ' || buf[vs] == '\t'))
                vs++;
        while (ve > vs && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
                ve--;
        for (uint32_t i = vs; i < ve; i++)
                if (!is_value_char((unsigned char) buf[i]))
                        return head_refuse(p, -EBADMSG, "malformed header from script: bad byte in a value");

        HttpSpan name = { start, colon - start }, value = { vs, ve - vs };

        if (span_is(buf, name, "Status")) {
                if (h->status != 0)
                        return head_refuse(p, -EBADMSG, "malformed header from script: Status given twice");
                if (value.len < 3 || (value.len > 3 && buf[vs + 3] != ' '))
                        return head_refuse(p, -EBADMSG, "malformed header from script: bad Status");
                int code = 0;
                for (int i = 0; i < 3; i++) {
                        char c = buf[vs + i];
                        if (c < '0' || c > '9')
                                return head_refuse(p, -EBADMSG, "malformed header from script: bad Status");
                        code = code * 10 + (c - '0');
                }
                /* A 1xx is the server's business, never a program's final answer. */
                if (code < 200 || code > 599)
                        return head_refuse(p, -EBADMSG, "malformed header from script: bad Status");
                h->status = code;
                uint32_t rs = vs + 3;
                while (rs < ve && buf[rs] == ' ')
                        rs++;
                h->reason = (HttpSpan) { rs, ve - rs };
        } else if (span_is(buf, name, "Content-Type")) {
                if (h->has_content_type)
                        return head_refuse(p, -EBADMSG, "malformed header from script: Content-Type given twice");
                if (value.len == 0)
                        return head_refuse(p, -EBADMSG, "malformed header from script: empty Content-Type");
                h->has_content_type = true;
                h->content_type = value;
        } else if (span_is(buf, name, "Location")) {
                if (h->has_location)
                        return head_refuse(p, -EBADMSG, "malformed header from script: Location given twice");
                if (value.len > 0 && buf[vs] == '/')
                        h->location_local = true;
                else if (!is_absolute_url(buf + vs, value.len))
                        return head_refuse(p, -EBADMSG,
                                           "malformed header from script: Location is neither an absolute URL "
                                           "nor a path");
                h->has_location = true;
                h->location = value;
        } else if (span_is(buf, name, "Content-Length")) {
                uint64_t v = 0;

                if (h->has_content_length)
                        return head_refuse(p, -EBADMSG, "malformed header from script: Content-Length given twice");
                if (value.len == 0 || value.len > 18)
                        return head_refuse(p, -EBADMSG, "malformed header from script: bad Content-Length");
                for (uint32_t i = vs; i < ve; i++) {
                        if (buf[i] < '0' || buf[i] > '9')
                                return head_refuse(p, -EBADMSG, "malformed header from script: bad Content-Length");
                        v = v * 10 + (uint64_t) (buf[i] - '0');
                }
                h->has_content_length = true;
                h->content_length = v;
        } else if (span_is(buf, name, "Connection") || span_is(buf, name, "Keep-Alive") ||
                   span_is(buf, name, "Transfer-Encoding") || span_is(buf, name, "Date") ||
                   span_is(buf, name, "Server") || span_is(buf, name, "Upgrade")) {
                /* Hop-by-hop, or ours to set: the server frames, dates and names the response. */
        } else {
                if (h->n_fields >= CGI_HEAD_FIELDS_MAX)
                        return head_refuse(p, -EBADMSG, "malformed header from script: too many header lines");
                h->fields[h->n_fields++] = (HttpHeader) { name, value };
        }
        return 0;
}

void cgi_head_parser_init(CgiHeadParser *p, CgiHead *head) {
        *p = (CgiHeadParser) { .head = head };
        head->status = 0;
        head->reason = (HttpSpan) {};
        head->has_content_type = head->has_location = head->location_local = head->has_content_length = false;
        head->content_length = 0;
        head->n_fields = 0;
        head->head_len = 0;
}

int cgi_head_parser_feed(CgiHeadParser *p, const char *buf, size_t len) {
        CgiHead *h = p->head;
        int r;

        if (p->result != 0)
                return p->result;
        if (len > CGI_HEAD_MAX + 1)
                len = CGI_HEAD_MAX + 1; /* enough to see that the limit is passed */

        for (; p->pos < len; p->pos++) {
                if (buf[p->pos] != '\n')
                        continue;

                uint32_t start = p->line_start, end = p->pos;
                if (end > start && buf[end - 1] == '\r')
                        end--;
                if (memchr(buf + start, '\r', end - start))
                        return head_refuse(p, -EBADMSG, "malformed header from script: a bare CR");
                p->line_start = p->pos + 1;
                if (p->line_start > CGI_HEAD_MAX)
                        return head_refuse(p, -E2BIG, "script head too long");

                if (end > start) {
                        r = head_field(p, buf, start, end);
                        if (r < 0)
                                return r;
                        continue;
                }

                /* The blank line. */
                if (h->status == 0 && !h->has_content_type && !h->has_location)
                        return head_refuse(p, -EBADMSG,
                                           "malformed header from script: no Content-Type, Location or Status");
                h->head_len = p->line_start;
                p->pos++;
                p->result = 1;
                return 1;
        }
        if (p->pos > CGI_HEAD_MAX)
                return head_refuse(p, -E2BIG, "script head too long");
        return 0;
}

int cgi_head_parser_eof(CgiHeadParser *p) {
        if (p->result == 1)
                return 0;
        if (p->result < 0)
                return p->result;
        return head_refuse(p, -ENODATA, "Premature end of script headers");
}
