/* SPDX-License-Identifier: MIT */
/* fastcgi-config.c — SetHandler and the FastCGI half of AddHandler (fastcgi-config.h): handler
 * words parsed into targets once, and the questions the router and the seccomp filter ask of them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/fastcgi-config.h"
#include "http/site-config.h"

#define PROXY_PREFIX "proxy:"

int http_fcgi_handler_word_parse(const char *word, HttpUpstreamTarget *t, char **ret_error) {
        _cleanup_free_ char *copy = NULL;
        size_t len = strlen(word);
        int r;

        *ret_error = NULL;
        /* Apache needs the quotes around a value with '|'; here they are allowed, not needed. */
        if (len >= 2 && word[0] == '"' && word[len - 1] == '"') {
                copy = strndup(word + 1, len - 2);
                if (!copy)
                        return -ENOMEM;
                word = copy;
        }
        if (strncasecmp(word, PROXY_PREFIX, strlen(PROXY_PREFIX)) != 0)
                return 0;
        word += strlen(PROXY_PREFIX);
        if (strchr(word, ' ') || strchr(word, '\t'))
                return conf_parse_error(ret_error, "a handler's target takes no key=value (use ProxyPass for those)");
        r = http_upstream_target_parse(t, HTTP_UPSTREAM_FCGI, word, ret_error);
        if (r < 0)
                return r;
        return 1;
}

void http_fcgi_handler_done(HttpFcgiHandler *h) {
        if (!h)
                return;
        if (h->set)
                http_upstream_target_done(&h->target);
        *h = (HttpFcgiHandler) {};
}

int http_fcgi_handler_copy(HttpFcgiHandler *dst, const HttpFcgiHandler *src) {
        HttpFcgiHandler copy = {};

        if (src->set) {
                int r = http_upstream_target_copy(&copy.target, &src->target);
                if (r < 0)
                        return r;
                copy.set = true;
        }
        http_fcgi_handler_done(dst);
        *dst = copy;
        return 0;
}

int http_fcgi_parse_set_handler(const ConfItem *item, void *field, const char *value, const ConfApplyContext *ctx,
                                char **ret_error) {
        HttpFcgiHandler *h = field, n = {};
        const char *v = value + strspn(value, " \t");
        size_t len = strlen(v);
        _cleanup_free_ char *word = NULL;

        while (len > 0 && strchr(" \t\r\n", v[len - 1]))
                len--;
        word = strndup(v, len);
        if (!word)
                return -ENOMEM;
        if (strcasecmp(word, "none") == 0 || strcasecmp(word, "\"none\"") == 0) {
                http_fcgi_handler_done(h);
                return 0;
        }
        int r = http_fcgi_handler_word_parse(word, &n.target, ret_error);
        if (r < 0)
                return r;
        if (r == 0) {
                if (strcasecmp(word, "cgi-script") == 0)
                        return conf_parse_error(ret_error, "SetHandler cgi-script is not supported (use ScriptAlias, or "
                                                           "AddHandler cgi-script with extensions)");
                return conf_parse_error(ret_error, "unknown handler \"%s\" (mpmd has proxy:unix:/PATH|fcgi://NAME, "
                                                   "proxy:fcgi://HOST:PORT and none)", word);
        }
        n.set = true;
        http_fcgi_handler_done(h);
        *h = n;
        return 0;
}

char *http_fcgi_format_set_handler(const ConfItem *item, const void *field) {
        const HttpFcgiHandler *h = field;
        char *s;

        if (!h->set)
                return strdup("none");
        return asprintf(&s, "proxy:%s", h->target.url) < 0 ? NULL : s;
}

int http_fcgi_copy_set_handler(const ConfItem *item, void *dst, const void *src) {
        return http_fcgi_handler_copy(dst, src);
}

void http_fcgi_done_set_handler(const ConfItem *item, void *field) {
        http_fcgi_handler_done(field);
}

static uint32_t fcgi_families_one(const HttpSiteConfig *cfg) {
        uint32_t f = 0;

        if (cfg->set_handler.set)
                f |= http_upstream_target_family(&cfg->set_handler.target);
        for (size_t i = 0; i < cfg->add_handler.n_fcgi; i++)
                f |= http_upstream_target_family(&cfg->add_handler.fcgi[i].target);
        return f;
}

uint32_t http_fastcgi_families(const HttpSiteConfig *cfg) {
        uint32_t f = fcgi_families_one(cfg);

        for (size_t i = 0; i < cfg->locations.n; i++)
                f |= fcgi_families_one(cfg->locations.items[i].cfg);
        return f;
}

static bool ends_with_ci(const char *s, size_t len, const char *ext) {
        size_t n = strlen(ext);
        return n < len && strncasecmp(s + len - n, ext, n) == 0;
}

const HttpUpstreamTarget *http_fcgi_extension_match(const HttpSiteConfig *cfg, const char *name, size_t len) {
        for (size_t i = 0; i < cfg->add_handler.n_fcgi; i++)
                if (ends_with_ci(name, len, cfg->add_handler.fcgi[i].extension))
                        return &cfg->add_handler.fcgi[i].target;
        return NULL;
}

bool http_fcgi_extension_may_match(const HttpSiteConfig *cfg, const char *path, size_t path_len) {
        if (cfg->add_handler.n_fcgi == 0)
                return false;
        for (size_t i = 0; i <= path_len; i++)
                if ((i == path_len || path[i] == '/') && http_fcgi_extension_match(cfg, path, i))
                        return true;
        return false;
}
