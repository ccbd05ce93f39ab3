/* SPDX-License-Identifier: MIT */
/* cgi-launch-client.c — what a worker calls to have the CGI launcher start a program
 * (cgi-launcher.h, "what a worker calls"): build the launch message (cgi-wire.h), send it with its
 * descriptors, read the answer. Sending never waits: a full queue is -EAGAIN, and the engine waits
 * for the launcher's socket to be writable through its own loop (HttpCgiLauncher.wait_fd) while
 * CGITimeout runs. Only the blocking cgi_launch(), for tests and tools, polls. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/cgi-launcher.h"
#include "mpm/cgi-wire.h"
#include "shared/fd-pass.h"
#include "shared/time-util.h"

#define CGI_REPLY_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)

static int wait_fd(int fd, short events, usec_t deadline) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                int r = poll(&p, 1, usec_to_timeout_ms(deadline, now_usec(CLOCK_MONOTONIC)));

                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                return 0;
        }
}

int cgi_launch_send(int launcher_sock, const CgiLaunchRequest *req) {
        _cleanup_close_ int reply = -1, reply_peer = -1, null_in = -1;
        _cleanup_free_ char *msg = NULL;
        const char *site = req->site_name ? req->site_name : "-", *client = req->client ? req->client : "-";
        size_t argc = 0, argv_len = 0, names_len, len;
        int pair[2];

        if (!req->argv || !req->argv[0] || req->script_fd < 0 || req->dir_fd < 0 || req->stdout_fd < 0)
                return -EINVAL;
        for (; req->argv[argc]; argc++)
                argv_len += strlen(req->argv[argc]) + 1;
        if (argv_len > CGI_WIRE_ARGV_MAX || req->env_len > CGI_ENV_MAX || strlen(site) >= CGI_WIRE_NAME_MAX ||
            strlen(client) >= CGI_WIRE_NAME_MAX)
                return -E2BIG;
        names_len = strlen(site) + 1 + strlen(client) + 1;

        len = sizeof(CgiWireRequest) + argv_len + req->env_len + names_len;
        msg = malloc(len);
        if (!msg)
                return -ENOMEM;
        CgiWireRequest h = {
                .magic = CGI_WIRE_MAGIC,
                .argc = (uint32_t) argc,
                .envc = (uint32_t) req->env_count,
                .strings_len = (uint32_t) (argv_len + req->env_len + names_len),
                .timeout_usec = req->timeout,
                .flags = req->error_log_fd >= 0 ? CGI_WIRE_ERROR_LOG : 0,
        };
        memcpy(msg, &h, sizeof(h));
        char *p = msg + sizeof(h);
        for (size_t i = 0; i < argc; i++)
                p = stpcpy(p, req->argv[i]) + 1;
        if (req->env_len > 0)
                memcpy(p, req->env, req->env_len);
        p += req->env_len;
        p = stpcpy(p, site) + 1;
        (void) stpcpy(p, client);

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
                return -errno;
        reply = pair[0];
        reply_peer = pair[1];
        if (req->stdin_fd < 0) {
                null_in = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (null_in < 0)
                        return -errno;
        }

        int fds[CGI_WIRE_FDS] = {
                [FD_SCRIPT] = req->script_fd,
                [FD_DIR] = req->dir_fd,
                [FD_STDIN] = req->stdin_fd >= 0 ? req->stdin_fd : null_in,
                [FD_STDOUT] = req->stdout_fd,
                [FD_REPLY] = reply_peer,
                [FD_ERROR_LOG] = req->error_log_fd,
        };
        size_t n_fds = req->error_log_fd >= 0 ? CGI_WIRE_FDS : CGI_WIRE_FDS - 1;
        ssize_t k = fd_pass_send(launcher_sock, msg, len, fds, n_fds, MSG_DONTWAIT);
        if (k == -EAGAIN)
                return -EAGAIN; /* the launcher's queue is full: it is busy starting others */
        if (k == -EMSGSIZE)
                return -E2BIG;
        if (k == -EPIPE || k == -ECONNREFUSED)
                return -ECONNRESET;
        if (k < 0)
                return (int) k;
        /* Only the launcher may hold the other end now, so its exit (or its close) ends the wait. */
        return TAKE_FD(reply);
}

int cgi_launch_receive(int reply, pid_t *ret_pid) {
        CgiWireReply a;
        ssize_t n = recv(reply, &a, sizeof(a), MSG_DONTWAIT);

        if (n < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if (n != (ssize_t) sizeof(a))
                return -ECONNRESET; /* 0: the launcher closed our request unanswered */
        if (a.error < 0)
                return a.error;
        if (a.pid <= 0)
                return -EBADMSG;
        *ret_pid = a.pid;
        return 0;
}

int cgi_launch(int launcher_sock, const CgiLaunchRequest *req, pid_t *ret_pid) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) +
                          (req->reply_timeout > 0 ? req->reply_timeout : CGI_REPLY_TIMEOUT_DEFAULT);
        _cleanup_close_ int reply = -1;
        int r;

        for (;;) {
                reply = cgi_launch_send(launcher_sock, req);
                if (reply != -EAGAIN)
                        break;
                /* The launcher's queue is full: this caller may block, so it waits here. */
                r = wait_fd(launcher_sock, POLLOUT, deadline);
                if (r < 0)
                        return r;
        }
        if (reply < 0)
                return reply;
        r = wait_fd(reply, POLLIN, deadline);
        if (r < 0)
                return r;
        r = cgi_launch_receive(reply, ret_pid);
        return r == -EAGAIN ? -ETIMEDOUT : r;
}

static int launcher_client_start(void *userdata, const struct CgiLaunchRequest *req) {
        return cgi_launch_send(*(const int *) userdata, req);
}

static int launcher_client_finish(void *userdata, int reply, pid_t *ret_pid) {
        return cgi_launch_receive(reply, ret_pid);
}

static int launcher_client_wait_fd(void *userdata) {
        return *(const int *) userdata;
}

void cgi_launcher_client(int *launcher_sock, HttpCgiLauncher *ret) {
        *ret = (HttpCgiLauncher) {
                .start = launcher_client_start,
                .finish = launcher_client_finish,
                .wait_fd = launcher_client_wait_fd,
                .userdata = launcher_sock,
        };
}
