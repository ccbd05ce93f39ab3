/* SPDX-License-Identifier: MIT */
/* cgi-launcher-program.c — a program's record and its stderr in the launcher
 * (cgi-launcher-program.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mpm/cgi-launcher-program.h"
#include "mpm/cgi-wire.h"
#include "shared/log.h"

/* A program's stderr is read here, in the launcher, not in the worker that asked for the program:
 * the launcher holds every program for its whole life (a program may close stdout and go on
 * writing to stderr, long after the worker answered 504 and forgot the request), it has one epoll
 * loop with nothing slow in it, and it runs as the site's user anyway. In a worker it would be a
 * second descriptor per request in every MPM's loop, and prefork and worker serve one connection
 * per thread, blocking. Each read is one non-blocking read() of at most CGI_STDERR_READ bytes, so
 * a program that writes without pause shares the loop with the others; when its lines exceed the
 * rate limit the pipe is left unread for a while (the program blocks on it, it does not spin the
 * launcher), and what was dropped is said in one line. */
#define CGI_STDERR_READ (16 * 1024)
#define CGI_STDERR_SITE_FACTOR 3     /* a site's programs together: three programs' worth */
#define CGI_STDERR_PAUSE_MIN (100 * USEC_PER_MSEC)
#define CGI_STDERR_REPORT_EVERY USEC_PER_SEC
#define CGI_STDERR_DRAIN_MAX (64 * 1024) /* read after the program's group is gone */
#define CGI_STDERR_SITES_MAX 256

/* One line about program p in its site's error log (or ours), in the error log's own format. */
static void program_log(const Program *p, const char *what, const char *text) {
        if (p->log_fd >= 0)
                log_to_fd(p->log_fd, LOG_PRI_ERR, "[vhost %s] [client %s] %s (pid %d): %s", p->site, p->client, what,
                          (int) p->pgid, text);
        else
                log_error("[vhost %s] [client %s] %s (pid %d): %s", p->site, p->client, what, (int) p->pgid, text);
}

static size_t launcher_site_rate(Launcher *l, const char *site) {
        for (size_t i = 0; i < l->n_sites; i++)
                if (strcmp(l->sites[i].name, site) == 0)
                        return i;
        if (l->n_sites < CGI_STDERR_SITES_MAX) {
                SiteRate *grown = realloc(l->sites, (l->n_sites + 1) * sizeof(SiteRate));
                char *name = strdup(site);
                if (grown)
                        l->sites = grown;
                if (grown && name) {
                        l->sites[l->n_sites].name = name;
                        cgi_stderr_rate_init(&l->sites[l->n_sites].rate, l->stderr_rate * CGI_STDERR_SITE_FACTOR,
                                             l->stderr_burst * CGI_STDERR_SITE_FACTOR);
                        return l->n_sites++;
                }
                free(name);
        }
        /* No room (never with a real configuration: one entry per site): share the last one. */
        return l->n_sites > 0 ? l->n_sites - 1 : SIZE_MAX;
}

static void program_report_dropped(Program *p, usec_t now, bool force) {
        char text[128];

        if (p->rate.dropped == 0 || (!force && now < p->last_report + CGI_STDERR_REPORT_EVERY))
                return;
        snprintf(text, sizeof(text), "%llu line(s) dropped, more than %u a second",
                 (unsigned long long) cgi_stderr_rate_take_dropped(&p->rate), p->rate.rate);
        program_log(p, "cgi stderr rate limit", text);
        p->last_report = now;
}

/* One line: written when both the program's and its site's bucket allow it, else counted. */
static bool program_line(Launcher *l, Program *p, const char *line, usec_t now) {
        CgiStderrRate *site = p->site_rate < l->n_sites ? &l->sites[p->site_rate].rate : NULL;

        if (!cgi_stderr_rate_check(&p->rate, now) || (site && !cgi_stderr_rate_check(site, now))) {
                cgi_stderr_rate_drop(&p->rate);
                return false;
        }
        cgi_stderr_rate_take(&p->rate);
        if (site)
                cgi_stderr_rate_take(site);
        program_log(p, "cgi stderr", line);
        return true;
}

/* Feed bytes read from the pipe; false when a line was dropped (the rate limit is reached). */
static bool program_feed(Launcher *l, Program *p, const char *data, size_t n, usec_t now) {
        const char *line;
        size_t len;
        bool all = true;

        while (cgi_stderr_lines_take(&p->lines, &data, &n, &line, &len) == 1)
                all = program_line(l, p, line, now) && all;
        return all;
}

static void program_unwatch(Launcher *l, Program *p) {
        /* Explicitly: a child forked a moment ago holds a copy of the descriptor until its exec, and
         * epoll forgets a description only when its last copy is closed. */
        if (p->err_watched)
                (void) epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, p->err_fd, NULL);
        p->err_watched = false;
}

int program_watch(Launcher *l, Program *p) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = p };

        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, p->err_fd, &ev) < 0)
                return -errno;
        p->err_watched = true;
        p->err_resume = USEC_INFINITY;
        return 0;
}

/* The stream has ended (EOF, or the program's group is gone): its last line, what was dropped. */
void program_stderr_end(Launcher *l, Program *p, usec_t now) {
        const char *line;
        size_t len;

        if (p->err_fd < 0)
                return;
        if (cgi_stderr_lines_finish(&p->lines, &line, &len) == 1)
                (void) program_line(l, p, line, now);
        program_report_dropped(p, now, true);
        program_unwatch(l, p);
        p->err_fd = safe_close(p->err_fd);
        p->err_resume = USEC_INFINITY;
}

/* Readable: one read, so that one program never holds the loop. */
void program_stderr_read(Launcher *l, Program *p, usec_t now) {
        static char buf[CGI_STDERR_READ];
        ssize_t n = read(p->err_fd, buf, sizeof(buf));

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                program_stderr_end(l, p, now);
                return;
        }
        if (!program_feed(l, p, buf, (size_t) n, now)) {
                CgiStderrRate *site = p->site_rate < l->n_sites ? &l->sites[p->site_rate].rate : NULL;
                usec_t resume = MAX(now + CGI_STDERR_PAUSE_MIN, cgi_stderr_rate_next(&p->rate, now));
                if (site)
                        resume = MAX(resume, cgi_stderr_rate_next(site, now));
                program_unwatch(l, p);
                p->err_resume = resume;
                launcher_arm_timer(l);
        }
        program_report_dropped(p, now, false);
}

/* The group is gone: what it wrote last is still in the pipe (bounded: a descendant that left the
 * group may still hold the pipe and write on). */
void program_stderr_drain(Launcher *l, Program *p, usec_t now) {
        static char buf[CGI_STDERR_READ];
        size_t total = 0;

        while (p->err_fd >= 0 && total < CGI_STDERR_DRAIN_MAX) {
                ssize_t n = read(p->err_fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                (void) program_feed(l, p, buf, (size_t) n, now);
                total += (size_t) n;
        }
        program_stderr_end(l, p, now);
}

Program *program_free(Launcher *l, Program *p) {
        if (!p)
                return NULL;
        program_unwatch(l, p);
        safe_close(p->err_fd);
        safe_close(p->log_fd);
        free(p->site);
        free(p->client);
        free(p);
        return NULL;
}

Program *program_new(Launcher *l, const LaunchStrings *s, int *log_fd) {
        Program *p = calloc(1, sizeof(*p));

        if (!p)
                return NULL;
        p->err_fd = -1;
        p->log_fd = -1;
        p->err_resume = USEC_INFINITY;
        p->deadline = USEC_INFINITY;
        p->site = strndup(s->site, CGI_WIRE_NAME_MAX);
        p->client = strndup(s->client, CGI_WIRE_NAME_MAX);
        if (!p->site || !p->client)
                return program_free(l, p);
        p->log_fd = TAKE_FD(*log_fd);
        p->site_rate = launcher_site_rate(l, p->site);
        cgi_stderr_rate_init(&p->rate, l->stderr_rate, l->stderr_burst);
        p->lines = CGI_STDERR_LINES_INIT;
        return p;
}
