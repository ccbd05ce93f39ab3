/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server-logs.h"

typedef struct SiteLog {
        AccessLog *log; /* one of HttpServerLogs.logs; NULL: the site does not log */
        AccessLogFormat *format;
        AccessLog *error_log; /* its own ErrorLog, also one of .logs (written unbuffered through its
                               * descriptor); NULL: the process's own error log */
} SiteLog;

struct HttpServerLogs {
        AccessLog **logs; /* distinct paths */
        size_t n_logs;
        SiteLog *sites; /* indexed like HttpServer.sites */
        size_t n_sites;
        char *failed;
};

/* Flush and close every log, free every format; the name of a failure stays. */
static void logs_clear(struct HttpServerLogs *l) {
        for (size_t i = 0; i < l->n_logs; i++)
                access_log_free(l->logs[i]);
        for (size_t i = 0; i < l->n_sites; i++)
                access_log_format_free(l->sites[i].format);
        l->logs = mfree(l->logs);
        l->sites = mfree(l->sites);
        l->n_logs = l->n_sites = 0;
}

static void logs_free(struct HttpServerLogs *l) {
        if (!l)
                return;
        logs_clear(l);
        free(l->failed);
        free(l);
}

void http_server_close_logs(HttpServer *s) {
        logs_free(s->logs);
        s->logs = NULL;
}

static AccessLog *logs_find(const struct HttpServerLogs *l, const char *path) {
        for (size_t i = 0; i < l->n_logs; i++)
                if (strcmp(access_log_path(l->logs[i]), path) == 0)
                        return l->logs[i];
        return NULL;
}

/* The file at path, shared with an earlier site that names the same path. */
static int logs_get(struct HttpServerLogs *l, const char *path, AccessLog **ret) {
        AccessLog *log = logs_find(l, path);
        int r;

        if (!log) {
                AccessLog **a = reallocarray(l->logs, l->n_logs + 1, sizeof(*a));
                if (!a)
                        return -ENOMEM;
                l->logs = a;
                r = access_log_open(path, &log);
                if (r < 0) {
                        l->failed = strdup(path);
                        return r;
                }
                l->logs[l->n_logs++] = log;
        }
        *ret = log;
        return 0;
}

/* A virtual host's ErrorLog when it names a file of its own: the main server's is the process's
 * log (log.h), opened by the supervisor itself. */
static int logs_open_site_errors(struct HttpServerLogs *l, size_t i, const HttpSiteConfig *cfg,
                                 const HttpSiteConfig *main_cfg) {
        if (i == 0 || !cfg->error_log || strcmp(cfg->error_log, "stderr") == 0 ||
            (main_cfg->error_log && strcmp(cfg->error_log, main_cfg->error_log) == 0))
                return 0;
        return logs_get(l, cfg->error_log, &l->sites[i].error_log);
}

/* Open site i's access log, sharing the AccessLog of an earlier site with the same path. */
static int logs_open_site(struct HttpServerLogs *l, size_t i, const HttpSiteConfig *cfg) {
        int r;

        if (!cfg->custom_log.path)
                return 0;
        /* The row checked that the format compiles; compiled here because the form belongs to the
         * logs of this generation, not to the configuration. */
        r = access_log_format_compile(cfg->custom_log.format, &l->sites[i].format, NULL);
        if (r < 0) {
                l->failed = strdup(cfg->custom_log.path);
                return r;
        }
        return logs_get(l, cfg->custom_log.path, &l->sites[i].log);
}

int http_server_open_logs(HttpServer *s) {
        struct HttpServerLogs *l;
        int r = 0;

        http_server_close_logs(s);
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        s->logs = l;
        l->sites = calloc(s->n_sites ? s->n_sites : 1, sizeof(*l->sites));
        if (!l->sites)
                return -ENOMEM;
        l->n_sites = s->n_sites;
        for (size_t i = 0; i < s->n_sites && r >= 0; i++) {
                if (s->sites[i].foreign) /* another process serves it and opens its logs */
                        continue;
                r = logs_open_site(l, i, s->sites[i].cfg);
                if (r >= 0)
                        r = logs_open_site_errors(l, i, s->sites[i].cfg, s->sites[0].cfg);
        }
        if (r < 0)
                logs_clear(l); /* only the name of what failed stays, for the caller's message */
        return r;
}

void http_server_logs_abandon(HttpServer *s) {
        /* The structures only: their descriptors were closed by the fork's caller and the numbers
         * may already belong to something else, so nothing is flushed or closed. The memory is a
         * forked child's copy and small; it is simply left. */
        s->logs = NULL;
}

const char *http_server_logs_failed(const HttpServer *s) {
        return s->logs ? s->logs->failed : NULL;
}

size_t http_server_logs_fds(const HttpServer *s, int *fds, size_t max) {
        size_t n = s->logs ? s->logs->n_logs : 0;

        for (size_t i = 0; i < MIN(n, max); i++)
                fds[i] = access_log_fd(s->logs->logs[i]);
        return n;
}

static const SiteLog *site_logs(const HttpServer *s, const HttpSite *site) {
        if (!s->logs || !site || site < s->sites || site >= s->sites + s->logs->n_sites)
                return NULL;
        return &s->logs->sites[site - s->sites];
}

static const SiteLog *site_log(const HttpServer *s, const HttpSite *site) {
        const SiteLog *sl = site_logs(s, site);
        return sl && sl->log ? sl : NULL;
}

int http_server_site_error_fd(const HttpServer *s, const HttpSite *site) {
        const SiteLog *sl = site_logs(s, site);
        return sl && sl->error_log ? access_log_fd(sl->error_log) : -1;
}

bool http_server_site_logs(const HttpServer *s, const HttpSite *site) {
        return site_log(s, site) != NULL;
}

void http_server_log_request(const HttpServer *s, const HttpSite *site, const AccessLogEntry *e) {
        const SiteLog *sl = site_log(s, site);

        if (sl)
                (void) access_log_append(sl->log, sl->format, e);
}

int http_server_flush_logs(const HttpServer *s, usec_t now) {
        int r = 0;

        if (!s->logs)
                return 0;
        for (size_t i = 0; i < s->logs->n_logs; i++) {
                int k = access_log_flush(s->logs->logs[i], now);
                if (k < 0 && r == 0)
                        r = k;
        }
        return r;
}

usec_t http_server_logs_next_flush(const HttpServer *s) {
        usec_t next = USEC_INFINITY;

        if (s->logs)
                for (size_t i = 0; i < s->logs->n_logs; i++)
                        next = MIN(next, access_log_next_flush(s->logs->logs[i]));
        return next;
}

int http_server_reopen_logs(const HttpServer *s) {
        int r = 0;

        if (!s->logs)
                return 0;
        for (size_t i = 0; i < s->logs->n_logs; i++) {
                int k = access_log_reopen(s->logs->logs[i]);
                if (k < 0 && r == 0)
                        r = k;
        }
        return r;
}
