/* SPDX-License-Identifier: MIT */
/* control-socket.c — see control-socket.h: accept, check the peer, read one request, look it up in
 * the command table, reply. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "supervisor/control-socket.h"
#include "shared/log.h"
#include "shared/macro.h"

#define CONTROL_MESSAGE_MAX 4096
#define CONTROL_SEND_WAIT_MS 1000

struct ControlServer {
        sd_event *event;
        int fd;
        char *path;
        sd_event_source *source;
        const ControlCommand *commands;
        size_t n_commands;
        void *userdata;
};

struct ControlClient {
        ControlServer *server;
        int fd;
        sd_event_source *source;
        bool busy; /* a command is being handled; further input is ignored */
};

void control_client_reply(ControlClient *c, const char *fmt, ...) {
        char buf[CONTROL_MESSAGE_MAX];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        /* A client that went away just misses its answer. One that reads slowly while a long answer
         * (`processes`: a line per process) fills the socket gets a bounded wait rather than a gap in
         * the list: only root or the service's own user are ever answered. */
        for (bool waited = false;; waited = true) {
                if (send(c->fd, buf, MIN((size_t) n, sizeof(buf) - 1), MSG_NOSIGNAL | MSG_DONTWAIT) >= 0 ||
                    errno != EAGAIN || waited)
                        return;
                struct pollfd p = { .fd = c->fd, .events = POLLOUT };
                if (poll(&p, 1, CONTROL_SEND_WAIT_MS) <= 0)
                        return;
        }
}

void control_client_finish(ControlClient *c) {
        if (!c)
                return;
        sd_event_source_unref(c->source);
        safe_close(c->fd);
        free(c);
}

static int on_client(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        ControlClient *c = userdata;
        char buf[256];
        ssize_t n;

        if (c->busy) {
                /* Only a hang-up matters now; the reply will come. */
                if (revents & (EPOLLHUP | EPOLLERR))
                        sd_event_source_set_enabled(src, SD_EVENT_OFF);
                return 0;
        }
        n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        if (n <= 0) {
                if (n < 0 && errno == EAGAIN)
                        return 0;
                control_client_finish(c);
                return 0;
        }
        buf[n] = 0;
        buf[strcspn(buf, "\r\n")] = 0;
        c->busy = true;
        sd_event_source_set_enabled(src, SD_EVENT_OFF);
        const ControlCommand *cmd = control_command_find(c->server->commands, c->server->n_commands, buf);
        if (!cmd) {
                control_client_reply(c, "ERROR unknown command \"%s\"", buf);
                control_client_finish(c);
                return 0;
        }
        cmd->handler(c->server->userdata, c);
        if (!(cmd->flags & CONTROL_DEFERRED))
                control_client_finish(c);
        return 0;
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        ControlServer *s = userdata;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        ControlClient *c;
        int cfd;

        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
                return 0;
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
            (cred.uid != 0 && cred.uid != geteuid())) {
                const char *msg = "ERROR permission denied: only root or the service's user may control mpmd";
                (void) send(cfd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
                log_notice("control socket: refused a client with uid %d", (int) cred.uid);
                close(cfd);
                return 0;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                close(cfd);
                return 0;
        }
        c->server = s;
        c->fd = cfd;
        if (sd_event_add_io(s->event, &c->source, cfd, EPOLLIN, on_client, c) < 0) {
                close(cfd);
                free(c);
        }
        return 0;
}

const ControlCommand *control_command_find(const ControlCommand *table, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(table[i].name, name) == 0)
                        return &table[i];
        return NULL;
}

int control_server_new(sd_event *event, const char *path, const ControlCommand *table, size_t n_commands,
                       void *userdata, ControlServer **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        ControlServer *s;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->event = event;
        s->commands = table;
        s->n_commands = n_commands;
        s->userdata = userdata;
        s->path = strdup(path);
        s->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (!s->path || s->fd < 0) {
                r = s->fd < 0 ? -errno : -ENOMEM;
                control_server_free(s);
                return r;
        }
        (void) unlink(path);
        /* 0600 from birth: the peer check is the second lock, not the first. */
        mode_t old = umask(0077);
        r = bind(s->fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (r < 0 || listen(s->fd, 16) < 0) {
                r = -errno;
                control_server_free(s);
                return r;
        }
        r = sd_event_add_io(event, &s->source, s->fd, EPOLLIN, on_accept, s);
        if (r < 0) {
                control_server_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

ControlServer *control_server_free(ControlServer *s) {
        if (!s)
                return NULL;
        sd_event_source_unref(s->source);
        if (s->fd >= 0) {
                close(s->fd);
                if (s->path)
                        (void) unlink(s->path);
        }
        free(s->path);
        free(s);
        return NULL;
}
