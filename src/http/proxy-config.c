/* SPDX-License-Identifier: MIT */
/* proxy-config.c — ProxyPass, ProxyPassReverse and the other proxy rows (proxy-config.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/fastcgi-config.h"
#include "http/mapping.h"
#include "http/proxy-config.h"
#include "http/site-config.h"
#include "shared/strv.h"

static void pass_free(HttpProxyPass *p) {
        free(p->prefix);
        free(p->file);
        if (!p->exclude)
                http_upstream_target_done(&p->target);
}

static void passes_done(HttpProxyPasses *l) {
        for (size_t i = 0; i < l->n; i++)
                pass_free(&l->items[i]);
        free(l->items);
        *l = (HttpProxyPasses) {};
}

static int pass_copy(void *dst, const void *src) {
        const HttpProxyPass *a = src;
        HttpProxyPass *b = dst;

        *b = (HttpProxyPass) { .prefix = strdup(a->prefix), .prefix_len = a->prefix_len, .exclude = a->exclude,
                               .file = strdup(a->file), .line = a->line };
        if (b->prefix && b->file && (a->exclude || http_upstream_target_copy(&b->target, &a->target) >= 0))
                return 0;
        b->exclude = true; /* no target to free */
        pass_free(b);
        return -ENOMEM;
}

static void pass_free_entry(void *p) {
        pass_free(p);
}

static const HttpPrefixListType pass_list = {
        .size = sizeof(HttpProxyPass),
        .key = offsetof(HttpProxyPass, prefix),
        .copy = pass_copy,
        .free = pass_free_entry,
};

int http_proxy_parse_pass(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                          char **ret_error) {
        HttpProxyPasses *l = field;
        _cleanup_strv_free_ char **w = strv_split_words(value);
        HttpProxyPass p = {};
        int r;

        if (!w)
                return -ENOMEM;
        if (!w[0] || !w[1])
                return conf_parse_error(ret_error, "needs a URL prefix and a target URL (or !), one a line");
        r = http_url_prefix_check("URL prefix", w[0], ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; !ctx->replace_list && i < l->n; i++)
                if (strcmp(l->items[i].prefix, w[0]) == 0)
                        return conf_parse_error(ret_error, "%s is given twice (first at %s:%u)", w[0],
                                                l->items[i].file[0] ? l->items[i].file : "(built in)",
                                                l->items[i].line);
        p.exclude = strcmp(w[1], "!") == 0;
        if (p.exclude && w[2])
                return conf_parse_error(ret_error, "\"%s !\" takes nothing after the !", w[0]);
        if (!p.exclude) {
                /* The target and its parameters, as one value: an HTTP server, or a FastCGI
                 * responder (mod_proxy_fcgi's "ProxyPass /app/ fcgi://HOST:PORT/PATH/"). */
                const char *t = strstr(value, w[1]), *bar = strchr(w[1], '|');
                bool fcgi = strncasecmp(w[1], "fcgi://", 7) == 0 ||
                            (strncmp(w[1], "unix:", 5) == 0 && bar && strncasecmp(bar + 1, "fcgi://", 7) == 0);
                r = http_upstream_target_parse(&p.target, fcgi ? HTTP_UPSTREAM_FCGI : HTTP_UPSTREAM_HTTP, t,
                                               ret_error);
                if (r < 0)
                        return r;
        }
        p.prefix = strdup(w[0]);
        p.prefix_len = strlen(w[0]);
        p.file = strdup(ctx->file ? ctx->file : "");
        p.line = ctx->line;
        size_t keep = ctx->replace_list ? 0 : l->n;
        HttpProxyPass *grown = p.prefix && p.file ? reallocarray(ctx->replace_list ? NULL : l->items, keep + 1,
                                                                 sizeof(HttpProxyPass))
                                                  : NULL;
        if (!grown) {
                pass_free(&p);
                return -ENOMEM;
        }
        if (ctx->replace_list)
                passes_done(l);
        grown[keep] = p;
        l->items = grown;
        l->n = keep + 1;
        return 0;
}

char *http_proxy_format_pass(const ConfItem *item, const void *field) {
        const HttpProxyPasses *l = field;
        char *s = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&s, &len);

        if (!f)
                return NULL;
        if (l->n == 0)
                fputs("(empty)", f);
        for (size_t i = 0; i < l->n; i++) {
                _cleanup_free_ char *t = l->items[i].exclude ? strdup("!") : http_upstream_target_format(&l->items[i].target);
                fprintf(f, "%s%s %s", i ? ", " : "", l->items[i].prefix, t ? t : "?");
        }
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

int http_proxy_copy_pass(const ConfItem *item, void *dst, const void *src) {
        const HttpProxyPasses *from = src;
        HttpProxyPasses copy = {};

        if (from->n > 0) {
                copy.items = calloc(from->n, sizeof(HttpProxyPass));
                if (!copy.items)
                        return -ENOMEM;
        }
        for (; copy.n < from->n; copy.n++)
                if (pass_copy(&copy.items[copy.n], &from->items[copy.n]) < 0) {
                        passes_done(&copy);
                        return -ENOMEM;
                }
        passes_done(dst);
        *(HttpProxyPasses *) dst = copy;
        return 0;
}

void http_proxy_done_pass(const ConfItem *item, void *field) {
        passes_done(field);
}

int http_proxy_merge_pass(const ConfItem *item, void *field, const void *parent) {
        HttpProxyPasses *l = field;
        const HttpProxyPasses *p = parent;
        void *items = l->items;
        int r = http_prefix_list_merge(&pass_list, &items, &l->n, p->items, p->n);

        l->items = items;
        return r;
}

/* ---- ProxyPassReverse ------------------------------------------------------------------------- */

static void reverse_free(HttpProxyReverse *r) {
        free(r->prefix);
        free(r->url);
}

static void reverses_done(HttpProxyReverses *l) {
        for (size_t i = 0; i < l->n; i++)
                reverse_free(&l->items[i]);
        free(l->items);
        *l = (HttpProxyReverses) {};
}

static int reverse_copy(void *dst, const void *src) {
        const HttpProxyReverse *a = src;
        HttpProxyReverse *b = dst;

        *b = (HttpProxyReverse) { .prefix = strdup(a->prefix), .prefix_len = a->prefix_len, .url = strdup(a->url),
                                  .url_len = a->url_len };
        if (b->prefix && b->url)
                return 0;
        reverse_free(b);
        return -ENOMEM;
}

static void reverse_free_entry(void *p) {
        reverse_free(p);
}

static const HttpPrefixListType reverse_list = {
        .size = sizeof(HttpProxyReverse),
        .key = offsetof(HttpProxyReverse, prefix),
        .copy = reverse_copy,
        .free = reverse_free_entry,
};

int http_proxy_parse_reverse(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                             char **ret_error) {
        HttpProxyReverses *l = field;
        _cleanup_strv_free_ char **w = strv_split_words(value);
        int r;

        if (!w)
                return -ENOMEM;
        if (!w[0] || !w[1] || w[2])
                return conf_parse_error(ret_error, "needs a URL prefix and the upstream's URL, one pair a line");
        r = http_url_prefix_check("URL prefix", w[0], ret_error);
        if (r < 0)
                return r;
        if (strncasecmp(w[1], "http://", 7) != 0 && strncasecmp(w[1], "https://", 8) != 0)
                return conf_parse_error(ret_error, "\"%s\" is not an http:// or https:// URL", w[1]);
        if (strpbrk(w[1], "\"\\") || strspn(w[1], "!#$%&'()*+,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_"
                                                   "abcdefghijklmnopqrstuvwxyz~") != strlen(w[1]))
                return conf_parse_error(ret_error, "\"%s\" holds a byte a URL cannot", w[1]);
        HttpProxyReverse e = { .prefix = strdup(w[0]), .prefix_len = strlen(w[0]), .url = strdup(w[1]),
                               .url_len = strlen(w[1]) };
        size_t keep = ctx->replace_list ? 0 : l->n;
        HttpProxyReverse *grown = e.prefix && e.url ? reallocarray(ctx->replace_list ? NULL : l->items, keep + 1,
                                                                   sizeof(HttpProxyReverse))
                                                    : NULL;
        if (!grown) {
                reverse_free(&e);
                return -ENOMEM;
        }
        if (ctx->replace_list)
                reverses_done(l);
        grown[keep] = e;
        l->items = grown;
        l->n = keep + 1;
        return 0;
}

char *http_proxy_format_reverse(const ConfItem *item, const void *field) {
        const HttpProxyReverses *l = field;
        char *s = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&s, &len);

        if (!f)
                return NULL;
        if (l->n == 0)
                fputs("(empty)", f);
        for (size_t i = 0; i < l->n; i++)
                fprintf(f, "%s%s %s", i ? ", " : "", l->items[i].prefix, l->items[i].url);
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

int http_proxy_copy_reverse(const ConfItem *item, void *dst, const void *src) {
        const HttpProxyReverses *from = src;
        HttpProxyReverses copy = {};

        if (from->n > 0) {
                copy.items = calloc(from->n, sizeof(HttpProxyReverse));
                if (!copy.items)
                        return -ENOMEM;
        }
        for (; copy.n < from->n; copy.n++)
                if (reverse_copy(&copy.items[copy.n], &from->items[copy.n]) < 0) {
                        reverses_done(&copy);
                        return -ENOMEM;
                }
        reverses_done(dst);
        *(HttpProxyReverses *) dst = copy;
        return 0;
}

void http_proxy_done_reverse(const ConfItem *item, void *field) {
        reverses_done(field);
}

int http_proxy_merge_reverse(const ConfItem *item, void *field, const void *parent) {
        HttpProxyReverses *l = field;
        const HttpProxyReverses *p = parent;
        void *items = l->items;
        int r = http_prefix_list_merge(&reverse_list, &items, &l->n, p->items, p->n);

        l->items = items;
        return r;
}

/* ---- what the handler asks ------------------------------------------------------------------- */

const HttpProxyPass *http_proxy_pass_match(const HttpProxyPasses *l, const char *path, size_t path_len,
                                           const char **ret_rest, size_t *ret_rest_len) {
        const HttpProxyPass *best = NULL;

        for (size_t i = 0; i < l->n; i++) {
                const HttpProxyPass *p = &l->items[i];
                if ((!best || p->prefix_len > best->prefix_len) &&
                    http_location_matches(p->prefix, p->prefix_len, path, path_len))
                        best = p;
        }
        if (!best || best->exclude)
                return NULL;
        *ret_rest = path + best->prefix_len;
        *ret_rest_len = path_len - best->prefix_len;
        return best;
}

int http_proxy_reverse_rewrite(const HttpProxyReverses *l, const char *value, size_t value_len, const char *scheme,
                               const char *host, size_t host_len, char *out, size_t out_size, size_t *ret_len) {
        for (size_t i = 0; i < l->n; i++) {
                const HttpProxyReverse *e = &l->items[i];
                size_t skip;
                if (value_len >= e->url_len && strncasecmp(value, e->url, e->url_len) == 0)
                        skip = e->url_len;
                else {
                        /* A Location that is a path: compared with the URL's path. */
                        const char *up = strchr(e->url + (e->url[4] == 's' ? 8 : 7), '/');
                        size_t ul = up ? strlen(up) : 0;
                        if (value_len == 0 || value[0] != '/' || !up || value_len < ul || memcmp(value, up, ul) != 0)
                                continue;
                        skip = ul;
                }
                size_t sl = strlen(scheme), rest = value_len - skip;
                /* "/app/" + "x" or "/app" + "/x": one slash where the two meet. */
                bool drop = e->prefix_len > 0 && e->prefix[e->prefix_len - 1] == '/' && rest > 0 && value[skip] == '/';
                size_t need = sl + 3 + host_len + e->prefix_len + rest - drop;
                if (need >= out_size)
                        return -ENAMETOOLONG;
                char *p = out;
                memcpy(p, scheme, sl), p += sl;
                memcpy(p, "://", 3), p += 3;
                memcpy(p, host, host_len), p += host_len;
                memcpy(p, e->prefix, e->prefix_len), p += e->prefix_len;
                memcpy(p, value + skip + drop, rest - drop), p += rest - drop;
                *p = 0;
                *ret_len = (size_t) (p - out);
                return 1;
        }
        return 0;
}

const char *const http_proxy_verify_names[] = { "require", "none", NULL };

/* One file (its certificate and key together, as Apache's directive takes them): a second line in
 * the same file would leave it unclear which one counts. A later file replaces it. */
int http_proxy_parse_client_cert(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                 char **ret_error) {
        const ConfLines *l = field;

        if (value[0] != '/' || strpbrk(value, " \t\r\n\f\v"))
                return conf_parse_error(ret_error, "\"%s\" is not an absolute path", value);
        if (!ctx->replace_list && l->n > 0)
                return conf_parse_error(ret_error, "one file (its certificate, chain and key together); the first is at %s:%u",
                                        l->lines[0].file, l->lines[0].line);
        return 0;
}

usec_t http_proxy_timeout(const HttpProxyConfig *cfg, const HttpUpstreamTarget *t, usec_t site_timeout) {
        if (t && t->limits.timeout)
                return t->limits.timeout;
        return cfg->timeout ? cfg->timeout : site_timeout;
}

static uint32_t config_families(const HttpSiteConfig *cfg) {
        uint32_t f = 0;
        for (size_t i = 0; i < cfg->proxy.pass.n; i++)
                if (!cfg->proxy.pass.items[i].exclude)
                        f |= http_upstream_target_family(&cfg->proxy.pass.items[i].target);
        return f;
}

uint32_t http_site_upstream_families(const HttpSiteConfig *cfg) {
        /* FastCGI's targets (SetHandler, AddHandler proxy:) count cfg's path sections themselves. */
        uint32_t f = config_families(cfg) | http_fastcgi_families(cfg);
        for (size_t i = 0; i < cfg->locations.n; i++)
                f |= config_families(cfg->locations.items[i].cfg);
        return f;
}
