/* SPDX-License-Identifier: MIT */
/* mapping.c — Alias, Redirect, FallbackResource and the ".ht" rule (see mapping.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http/mapping.h"
#include "http/path.h"
#include "http/request.h"
#include "http/response.h"
#include "http/server.h"
#include "http/site-config.h"
#include "shared/strv.h"

#define WORD_SPACE " \t\r\n\f\v"

/* ---- parsing ---------------------------------------------------------------------------------- */

/* value split on whitespace into at most max words; *ret_n says how many there were (max + 1: too
 * many). The words point into copy, which the caller frees. */
static int split(const char *value, char **ret_copy, char **words, size_t max, size_t *ret_n) {
        char *copy = strdup(value), *save = NULL;
        size_t n = 0;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, WORD_SPACE, &save); w; w = strtok_r(NULL, WORD_SPACE, &save)) {
                if (n == max) {
                        n++;
                        break;
                }
                words[n++] = w;
        }
        *ret_copy = copy;
        *ret_n = n;
        return 0;
}

int http_url_prefix_check(const char *what, const char *url, char **ret_error) {
        char norm[PATH_MAX];
        size_t len;

        if (url[0] != '/')
                return conf_parse_error(ret_error, "%s \"%s\" does not start with '/'", what, url);
        if (strchr(url, '%') || http_path_normalize(url, strlen(url), norm, sizeof(norm), &len) < 0 ||
            strcmp(norm, url) != 0)
                return conf_parse_error(ret_error,
                                        "%s \"%s\" is not a plain path (no %%-escapes, \"//\", \".\" or \"..\" segments)",
                                        what, url);
        return 0;
}

static char *file_dup(const char *file) {
        return strdup(file ? file : "");
}

static const char *file_name(const char *file) {
        return file && file[0] ? file : "(built in)";
}

static const char *prefix_list_key(const HttpPrefixListType *t, const void *entry) {
        return *(char *const *) ((const char *) entry + t->key);
}

int http_prefix_list_merge(const HttpPrefixListType *t, void **items, size_t *n, const void *parent, size_t parent_n) {
        size_t own = *n, k = own;
        char *m;

        if (parent_n == 0)
                return 0;
        m = calloc(own + parent_n, t->size);
        if (!m)
                return -ENOMEM;
        if (own > 0)
                memcpy(m, *items, own * t->size);
        for (size_t i = 0; i < parent_n; i++) {
                const void *pe = (const char *) parent + i * t->size;
                bool hidden = false;

                for (size_t j = 0; j < own && !hidden; j++)
                        hidden = strcmp(prefix_list_key(t, m + j * t->size), prefix_list_key(t, pe)) == 0;
                if (hidden)
                        continue;
                if (t->copy(m + k * t->size, pe) < 0) {
                        for (size_t j = own; j < k; j++)
                                t->free(m + j * t->size);
                        free(m);
                        return -ENOMEM;
                }
                k++;
        }
        free(*items); /* its entries moved to m */
        *items = m;
        *n = k;
        return 0;
}

static void alias_free(HttpAlias *a) {
        free(a->url);
        free(a->directory);
        free(a->file);
}

void http_aliases_done(HttpAliases *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                alias_free(&l->items[i]);
        free(l->items);
        *l = (HttpAliases) {};
}

static int alias_copy(HttpAlias *dst, const HttpAlias *a) {
        *dst = (HttpAlias) { .url = strdup(a->url), .url_len = a->url_len, .directory = strdup(a->directory),
                             .file = strdup(a->file), .line = a->line };
        if (dst->url && dst->directory && dst->file)
                return 0;
        alias_free(dst);
        return -ENOMEM;
}

static int alias_copy_entry(void *dst, const void *src) {
        return alias_copy(dst, src);
}

static void alias_free_entry(void *entry) {
        alias_free(entry);
}

static const HttpPrefixListType alias_list = {
        .size = sizeof(HttpAlias),
        .key = offsetof(HttpAlias, url),
        .copy = alias_copy_entry,
        .free = alias_free_entry,
};

/* Alias URL-PREFIX DIRECTORY: one pair a line (the key repeats). */
int http_alias_add(HttpAliases *l, const char *value, bool replace, const char *file, unsigned line,
                   char **ret_error) {
        _cleanup_free_ char *copy = NULL;
        char *w[2];
        size_t n;
        int r;

        *ret_error = NULL;
        r = split(value, &copy, w, 2, &n);
        if (r < 0)
                return r;
        if (n == 0 && replace) {
                /* A blank value: no aliases of its own. */
                http_aliases_done(l);
                return 0;
        }
        if (n != 2)
                return conf_parse_error(ret_error, "needs a URL prefix and a directory, one pair a line");
        r = http_url_prefix_check("URL prefix", w[0], ret_error);
        if (r < 0)
                return r;
        if (w[1][0] != '/')
                return conf_parse_error(ret_error, "%s: \"%s\" is not an absolute directory", w[0], w[1]);
        for (size_t i = 0; !replace && i < l->n; i++)
                if (strcmp(l->items[i].url, w[0]) == 0)
                        return conf_parse_error(ret_error, "%s is given twice (first at %s:%u)", w[0],
                                                file_name(l->items[i].file), l->items[i].line);

        HttpAlias a = { .url = strdup(w[0]), .url_len = strlen(w[0]), .directory = strdup(w[1]),
                        .file = file_dup(file), .line = line };
        if (!a.url || !a.directory || !a.file) {
                alias_free(&a);
                return -ENOMEM;
        }
        size_t keep = replace ? 0 : l->n;
        HttpAlias *grown = reallocarray(replace ? NULL : l->items, keep + 1, sizeof(HttpAlias));
        if (!grown) {
                alias_free(&a);
                return -ENOMEM;
        }
        if (replace)
                http_aliases_done(l);
        grown[keep] = a;
        l->items = grown;
        l->n = keep + 1;
        return 0;
}

int http_aliases_merge(HttpAliases *l, const HttpAliases *parent) {
        void *items = l->items;
        int r = http_prefix_list_merge(&alias_list, &items, &l->n, parent->items, parent->n);

        l->items = items;
        return r;
}

static void redirect_free(HttpRedirect *rd) {
        free(rd->prefix);
        free(rd->target);
        free(rd->file);
}

void http_redirects_done(HttpRedirects *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                redirect_free(&l->items[i]);
        free(l->items);
        *l = (HttpRedirects) {};
}

static int redirect_copy(HttpRedirect *dst, const HttpRedirect *a) {
        *dst = (HttpRedirect) { .status = a->status, .prefix = strdup(a->prefix), .prefix_len = a->prefix_len,
                                .target = a->target ? strdup(a->target) : NULL, .file = strdup(a->file),
                                .line = a->line };
        if (dst->prefix && (dst->target || !a->target) && dst->file)
                return 0;
        redirect_free(dst);
        return -ENOMEM;
}

static int redirect_copy_entry(void *dst, const void *src) {
        return redirect_copy(dst, src);
}

static void redirect_free_entry(void *entry) {
        redirect_free(entry);
}

static const HttpPrefixListType redirect_list = {
        .size = sizeof(HttpRedirect),
        .key = offsetof(HttpRedirect, prefix),
        .copy = redirect_copy_entry,
        .free = redirect_free_entry,
};

static const struct {
        const char *word;
        int status;
} redirect_statuses[] = {
        { "permanent", 301 }, { "temp", 302 }, { "seeother", 303 }, { "gone", 410 },
        { "301", 301 },       { "302", 302 },  { "303", 303 },      { "307", 307 },
        { "308", 308 },       { "410", 410 },
};

static int redirect_status(const char *w) {
        for (size_t i = 0; i < ELEMENTSOF(redirect_statuses); i++)
                if (strcasecmp(w, redirect_statuses[i].word) == 0)
                        return redirect_statuses[i].status;
        return 0;
}

static const char *redirect_status_word(int status) {
        for (size_t i = 0; i < ELEMENTSOF(redirect_statuses); i++)
                if (redirect_statuses[i].status == status)
                        return redirect_statuses[i].word;
        return "?";
}

/* What a Location may hold as it is written: visible ASCII, no space, no control byte. */
static bool target_chars_ok(const char *t) {
        for (const unsigned char *p = (const unsigned char *) t; *p; p++)
                if (*p <= 0x20 || *p >= 0x7f)
                        return false;
        return true;
}

static int redirect_target_check(const char *t, char **ret_error) {
        if (!target_chars_ok(t))
                return conf_parse_error(ret_error, "target \"%s\" holds a byte a Location cannot (write it %%-encoded)", t);
        if (t[0] == '/' && t[1] != '/')
                return 0;
        const char *rest = strncasecmp(t, "http://", 7) == 0    ? t + 7
                           : strncasecmp(t, "https://", 8) == 0 ? t + 8
                                                                : NULL;
        if (!rest || rest[0] == '\0' || rest[0] == '/')
                return conf_parse_error(ret_error, "target \"%s\" is neither an http:// or https:// URL nor an absolute path", t);
        return 0;
}

/* Redirect [STATUS] URL-PREFIX [TARGET]: gone (410) takes no target, every other status one. */
int http_redirect_add(HttpRedirects *l, const char *value, bool replace, const char *file, unsigned line,
                      char **ret_error) {
        _cleanup_free_ char *copy = NULL;
        char *w[3];
        size_t n, i = 0;
        int status = 302, r;

        *ret_error = NULL;
        r = split(value, &copy, w, 3, &n);
        if (r < 0)
                return r;
        if (n == 0 && replace) {
                http_redirects_done(l);
                return 0;
        }
        if (n == 0 || n > 3)
                return conf_parse_error(ret_error, "expected [STATUS] URL-PREFIX TARGET, one redirect a line");
        if (w[0][0] != '/') {
                status = redirect_status(w[0]);
                if (status == 0)
                        return conf_parse_error(ret_error,
                                                "unknown status \"%s\" (permanent, temp, seeother, gone, 301, 302, 303, 307, 308 or 410)",
                                                w[0]);
                i = 1;
        }
        if (i >= n)
                return conf_parse_error(ret_error, "needs a URL prefix");
        r = http_url_prefix_check("URL prefix", w[i], ret_error);
        if (r < 0)
                return r;
        if (status == 410 && n - i != 1)
                return conf_parse_error(ret_error, "gone (410) takes no target");
        if (status != 410 && n - i != 2)
                return conf_parse_error(ret_error, "%s needs a target after %s", redirect_status_word(status), w[i]);
        if (status != 410) {
                r = redirect_target_check(w[i + 1], ret_error);
                if (r < 0)
                        return r;
        }
        for (size_t j = 0; !replace && j < l->n; j++)
                if (strcmp(l->items[j].prefix, w[i]) == 0)
                        return conf_parse_error(ret_error, "%s is given twice (first at %s:%u)", w[i],
                                                file_name(l->items[j].file), l->items[j].line);

        HttpRedirect rd = { .status = status, .prefix = strdup(w[i]), .prefix_len = strlen(w[i]),
                            .target = status != 410 ? strdup(w[i + 1]) : NULL, .file = file_dup(file), .line = line };
        if (!rd.prefix || (status != 410 && !rd.target) || !rd.file) {
                redirect_free(&rd);
                return -ENOMEM;
        }
        size_t keep = replace ? 0 : l->n;
        HttpRedirect *grown = reallocarray(replace ? NULL : l->items, keep + 1, sizeof(HttpRedirect));
        if (!grown) {
                redirect_free(&rd);
                return -ENOMEM;
        }
        if (replace)
                http_redirects_done(l);
        grown[keep] = rd;
        l->items = grown;
        l->n = keep + 1;
        return 0;
}

int http_redirects_merge(HttpRedirects *l, const HttpRedirects *parent) {
        void *items = l->items;
        int r = http_prefix_list_merge(&redirect_list, &items, &l->n, parent->items, parent->n);

        l->items = items;
        return r;
}

void http_fallback_done(HttpFallback *f) {
        if (!f)
                return;
        free(f->path);
        *f = (HttpFallback) {};
}

int http_fallback_set(HttpFallback *f, const char *value, char **ret_error) {
        _cleanup_free_ char *copy = NULL;
        char *w[1];
        size_t n;
        int r;

        *ret_error = NULL;
        r = split(value, &copy, w, 1, &n);
        if (r < 0)
                return r;
        if (n != 1)
                return conf_parse_error(ret_error, "expected one URL path, or disabled");
        if (strcasecmp(w[0], "disabled") == 0) {
                http_fallback_done(f);
                return 0;
        }
        r = http_url_prefix_check("URL path", w[0], ret_error);
        if (r < 0)
                return r;
        if (w[0][strlen(w[0]) - 1] == '/')
                return conf_parse_error(ret_error, "\"%s\" names a directory; name a file such as /index.php", w[0]);
        if (http_mapping_is_ht_name(w[0], strlen(w[0])))
                return conf_parse_error(ret_error, "\"%s\" is a .ht name, which is never served", w[0]);
        char *p = strdup(w[0]);
        if (!p)
                return -ENOMEM;
        http_fallback_done(f);
        *f = (HttpFallback) { .path = p, .path_len = strlen(p) };
        return 0;
}

/* ---- matching --------------------------------------------------------------------------------- */

const HttpAlias *http_alias_match(const HttpAliases *l, const char *path, size_t path_len, size_t *ret_index,
                                  const char **ret_rest, size_t *ret_rest_len) {
        const HttpAlias *best = NULL;

        for (size_t i = 0; i < l->n; i++) {
                const HttpAlias *a = &l->items[i];
                if ((!best || a->url_len > best->url_len) &&
                    http_location_matches(a->url, a->url_len, path, path_len)) {
                        best = a;
                        *ret_index = i;
                }
        }
        if (!best)
                return NULL;
        /* "/icons/" keeps its slash in the rest; "/icons" is followed by "/…" or nothing. */
        size_t skip = best->url[best->url_len - 1] == '/' ? best->url_len - 1 : best->url_len;
        if (skip == path_len) {
                *ret_rest = "/";
                *ret_rest_len = 1;
        } else {
                *ret_rest = path + skip;
                *ret_rest_len = path_len - skip;
        }
        return best;
}

const HttpRedirect *http_redirect_match(const HttpRedirects *l, const char *path, size_t path_len) {
        const HttpRedirect *best = NULL;

        for (size_t i = 0; i < l->n; i++) {
                const HttpRedirect *rd = &l->items[i];
                if ((!best || rd->prefix_len > best->prefix_len) &&
                    http_location_matches(rd->prefix, rd->prefix_len, path, path_len))
                        best = rd;
        }
        return best;
}

/* RFC 3986 pchar without pct-encoded: unreserved, sub-delims, ':' and '@'; '/' separates them. */
static bool is_path_char(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != 0 && strchr("-._~!$&'()*+,;=:@/", c));
}

typedef struct Out {
        char *p;
        size_t len, size;
        bool full;
} Out;

static void out_put(Out *o, const char *s, size_t n) {
        if (o->full || n >= o->size - o->len) {
                o->full = true;
                return;
        }
        memcpy(o->p + o->len, s, n);
        o->len += n;
}

static void out_escaped(Out *o, const char *s, size_t n, bool (*keep)(unsigned char c)) {
        static const char hex[] = "0123456789ABCDEF";

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (keep(c))
                        out_put(o, (const char *) &c, 1);
                else
                        out_put(o, (char[]) { '%', hex[c >> 4], hex[c & 15] }, 3);
        }
}

/* What may go into a header line as the client sent it: visible ASCII. */
static bool is_visible(unsigned char c) {
        return c > 0x20 && c < 0x7f;
}

int http_redirect_location(const HttpRedirect *rd, const char *path, size_t path_len, const char *query,
                           size_t query_len, const char *scheme, const char *host, size_t host_len, char *out,
                           size_t out_size, size_t *ret_len) {
        Out o = { .p = out, .size = out_size };

        if (out_size == 0)
                return -ENAMETOOLONG;
        if (rd->target[0] == '/') {
                out_put(&o, scheme, strlen(scheme));
                out_put(&o, "://", 3);
                out_escaped(&o, host, host_len, is_visible);
        }
        out_put(&o, rd->target, strlen(rd->target));
        if (path_len > rd->prefix_len)
                out_escaped(&o, path + rd->prefix_len, path_len - rd->prefix_len, is_path_char);
        if (query && query_len > 0 && !strchr(rd->target, '?')) {
                out_put(&o, "?", 1);
                out_escaped(&o, query, query_len, is_visible);
        }
        if (o.full)
                return -ENAMETOOLONG;
        out[o.len] = '\0';
        if (ret_len)
                *ret_len = o.len;
        return 0;
}

bool http_mapping_is_ht_name(const char *path, size_t path_len) {
        for (size_t i = 0; i < path_len; i++)
                if (path[i] == '/' && path_len - i > 3 && memcmp(path + i + 1, ".ht", 3) == 0)
                        return true;
        return false;
}

bool http_fallback_applies(const HttpFallback *f, bool is_get_head_post, int root_fd, const char *file_path) {
        if (!f->path || !is_get_head_post || root_fd < 0)
                return false;
        int fd = http_path_open(root_fd, file_path, O_NONBLOCK, NULL);
        if (fd >= 0) {
                close(fd);
                return false;
        }
        /* Only what is not there: a file that cannot be read, or a path that leaves the root, keeps
         * its own answer (403). */
        return fd == -ENOENT || fd == -ENOTDIR;
}

/* ---- the router's steps ----------------------------------------------------------------------- */

bool http_mapping_deny_ht(const HttpRequest *q, HttpResponse *r) {
        if (!http_mapping_is_ht_name(q->path, q->path_len))
                return false;
        http_response_set_error(r, 403);
        return true;
}

bool http_mapping_redirect(const HttpRequest *q, HttpResponse *r) {
        const HttpRedirects *l = &q->site->cfg->mapping.redirect;
        const HttpRequestHead *h = q->head;
        char location[HTTP_RESPONSE_HEADERS_MAX], addr[64] = "";

        if (l->n == 0)
                return false;
        const HttpRedirect *rd = http_redirect_match(l, q->path, q->path_len);
        if (!rd)
                return false;
        http_response_set_error(r, rd->status);
        if (rd->status == 410)
                return true;

        /* A Location is absolute (Apache makes it so): the name the client asked for, else ours. */
        const char *host = h->has_host ? q->buf + h->host.off : q->site->cfg->server_name;
        size_t host_len = h->has_host ? h->host.len : host ? strlen(host) : 0;
        if (!host || host_len == 0) {
                if (q->conn_ops && q->conn_ops->local_address &&
                    q->conn_ops->local_address(q->conn, addr + 1, sizeof(addr) - 2) >= 0 && addr[1]) {
                        if (strchr(addr + 1, ':')) {
                                addr[0] = '[';
                                strcat(addr, "]");
                                host = addr;
                        } else
                                host = addr + 1;
                } else
                        host = "localhost";
                host_len = strlen(host);
        }
        HttpTlsInfo tls;
        const char *scheme = http_request_tls_info(q, &tls) ? "https" : "http";
        if (http_redirect_location(rd, q->path, q->path_len, h->has_query ? q->buf + h->query.off : NULL,
                                   h->has_query ? h->query.len : 0, scheme, host, host_len, location,
                                   sizeof(location) - 64, NULL) < 0) {
                /* Longer than a response head holds. */
                http_response_set_error(r, 500);
                return true;
        }
        http_response_add_header(r, "Location", "%s", location);
        return true;
}

void http_mapping_alias(HttpRequest *q) {
        const HttpAliases *l = &q->site->cfg->mapping.alias;
        const char *rest;
        size_t index, rest_len;

        if (l->n == 0 || !http_alias_match(l, q->path, q->path_len, &index, &rest, &rest_len))
                return;
        /* A foreign site's directories are forgotten (perchild): nothing is found. */
        q->root_fd = index < q->site->n_alias_fds ? q->site->alias_fds[index] : -1;
        q->file_path = rest;
        q->file_path_len = rest_len;
}

bool http_mapping_fallback(HttpRequest *q) {
        const HttpFallback *f = &q->cfg->mapping.fallback;
        HttpMethod m = q->head->method;

        if (q->fallback || !f->path ||
            !http_fallback_applies(f, m == HTTP_METHOD_GET || m == HTTP_METHOD_HEAD || m == HTTP_METHOD_POST,
                                   q->root_fd, q->file_path))
                return false;
        /* The fallback's path lives in the configuration: unlike the per-thread path buffer, it is
         * still there when a CGI program is started after the body (cgi-handler.c). */
        q->fallback = true;
        q->path = f->path;
        q->path_len = f->path_len;
        q->cfg = http_site_config_at_path(q->site->cfg, f->path, f->path_len);
        q->root_fd = q->site->root_fd;
        q->file_path = f->path;
        q->file_path_len = f->path_len;
        return true;
}

/* ---- the rows ------------------------------------------------------------------------------- */

int http_mapping_parse_alias(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                             char **ret_error) {
        return http_alias_add(field, value, ctx->replace_list, ctx->file, ctx->line, ret_error);
}

static int words_append(char **s, const char *w) {
        char *more = NULL;

        if (asprintf(&more, "%s%s%s", *s ? *s : "", *s ? " " : "", w) < 0)
                return -ENOMEM;
        free(*s);
        *s = more;
        return 0;
}

char *http_mapping_format_alias(const ConfItem *item, const void *field) {
        const HttpAliases *l = field;
        char *s = NULL;

        if (l->n == 0)
                return strdup("(empty)");
        for (size_t i = 0; i < l->n; i++)
                if (words_append(&s, l->items[i].url) < 0 || words_append(&s, l->items[i].directory) < 0) {
                        free(s);
                        return NULL;
                }
        return s;
}

int http_mapping_copy_alias(const ConfItem *item, void *dst, const void *src) {
        HttpAliases copy = {};
        int r = http_aliases_merge(&copy, src);

        if (r < 0)
                return r;
        http_aliases_done(dst);
        *(HttpAliases *) dst = copy;
        return 0;
}

void http_mapping_done_alias(const ConfItem *item, void *field) {
        http_aliases_done(field);
}

int http_mapping_merge_alias(const ConfItem *item, void *field, const void *parent) {
        return http_aliases_merge(field, parent);
}

int http_mapping_parse_redirect(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                char **ret_error) {
        return http_redirect_add(field, value, ctx->replace_list, ctx->file, ctx->line, ret_error);
}

char *http_mapping_format_redirect(const ConfItem *item, const void *field) {
        const HttpRedirects *l = field;
        char *s = NULL;

        if (l->n == 0)
                return strdup("(empty)");
        for (size_t i = 0; i < l->n; i++) {
                char status[8];
                snprintf(status, sizeof(status), "%d", l->items[i].status);
                if (words_append(&s, status) < 0 || words_append(&s, l->items[i].prefix) < 0 ||
                    (l->items[i].target && words_append(&s, l->items[i].target) < 0)) {
                        free(s);
                        return NULL;
                }
        }
        return s;
}

int http_mapping_copy_redirect(const ConfItem *item, void *dst, const void *src) {
        HttpRedirects copy = {};
        int r = http_redirects_merge(&copy, src);

        if (r < 0)
                return r;
        http_redirects_done(dst);
        *(HttpRedirects *) dst = copy;
        return 0;
}

void http_mapping_done_redirect(const ConfItem *item, void *field) {
        http_redirects_done(field);
}

int http_mapping_merge_redirect(const ConfItem *item, void *field, const void *parent) {
        return http_redirects_merge(field, parent);
}

int http_mapping_parse_fallback(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                char **ret_error) {
        return http_fallback_set(field, value, ret_error);
}

char *http_mapping_format_fallback(const ConfItem *item, const void *field) {
        const HttpFallback *f = field;
        return strdup(f->path ? f->path : "disabled");
}

int http_mapping_copy_fallback(const ConfItem *item, void *dst, const void *src) {
        const HttpFallback *from = src;
        char *p = NULL;

        if (from->path) {
                p = strdup(from->path);
                if (!p)
                        return -ENOMEM;
        }
        http_fallback_done(dst);
        *(HttpFallback *) dst = (HttpFallback) { .path = p, .path_len = from->path_len };
        return 0;
}

void http_mapping_done_fallback(const ConfItem *item, void *field) {
        http_fallback_done(field);
}
