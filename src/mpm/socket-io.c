/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "socket-io.h"

static ssize_t sock_recv(void *ctx, void *buf, size_t n) {
        ssize_t k = recv(*(int *) ctx, buf, n, 0);
        if (k < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        return k;
}

static ssize_t sock_writev(void *ctx, const struct iovec *iov, int n) {
        struct msghdr mh = { .msg_iov = (struct iovec *) iov, .msg_iovlen = (size_t) n };
        /* sendmsg with MSG_NOSIGNAL: a peer that went away is an error, not a SIGPIPE. */
        ssize_t k = sendmsg(*(int *) ctx, &mh, MSG_NOSIGNAL);
        if (k < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        return k;
}

static ssize_t sock_sendfile(void *ctx, int in_fd, off_t *offset, size_t n) {
        ssize_t k = sendfile(*(int *) ctx, in_fd, offset, n);
        if (k < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        return k;
}

static int sock_shutdown_write(void *ctx) {
        return shutdown(*(int *) ctx, SHUT_WR) < 0 ? -errno : 0;
}

int socket_local_address(int fd, char *buf, size_t size) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);

        if (getsockname(fd, (struct sockaddr *) &ss, &len) < 0)
                return -errno;
        if (ss.ss_family == AF_INET)
                return inet_ntop(AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, buf, (socklen_t) size) ? 0 : -errno;
        if (ss.ss_family == AF_INET6)
                return inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr, buf, (socklen_t) size) ? 0
                                                                                                           : -errno;
        return -EAFNOSUPPORT;
}

ssize_t socket_unsent(int fd) {
        int n;
        return ioctl(fd, SIOCOUTQ, &n) < 0 ? -errno : n;
}

static ssize_t sock_unsent(void *ctx) {
        return socket_unsent(*(int *) ctx);
}

void socket_reset_on_close(int fd) {
        struct linger l = { .l_onoff = 1, .l_linger = 0 };
        (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static void sock_reset(void *ctx) {
        socket_reset_on_close(*(int *) ctx);
}

static int sock_local_address(void *ctx, char *buf, size_t size) {
        return socket_local_address(*(int *) ctx, buf, size);
}

const HttpIo socket_io = {
        .recv = sock_recv,
        .writev = sock_writev,
        .sendfile = sock_sendfile,
        .shutdown_write = sock_shutdown_write,
        .unsent = sock_unsent,
        .reset = sock_reset,
        .local_address = sock_local_address,
};

void socket_conn_info(int fd, const char *listener_name, HttpConnInfo *ret) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);

        *ret = (HttpConnInfo) { .listener_name = listener_name };
        snprintf(ret->peer, sizeof(ret->peer), "-");
        if (getpeername(fd, (struct sockaddr *) &ss, &len) == 0) {
                if (ss.ss_family == AF_INET) {
                        struct sockaddr_in *in = (struct sockaddr_in *) &ss;
                        inet_ntop(AF_INET, &in->sin_addr, ret->peer, sizeof(ret->peer));
                        ret->peer_port = ntohs(in->sin_port);
                } else if (ss.ss_family == AF_INET6) {
                        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
                        inet_ntop(AF_INET6, &in6->sin6_addr, ret->peer, sizeof(ret->peer));
                        ret->peer_port = ntohs(in6->sin6_port);
                }
        }
        len = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *) &ss, &len) == 0) {
                if (ss.ss_family == AF_INET)
                        ret->local_port = ntohs(((struct sockaddr_in *) &ss)->sin_port);
                else if (ss.ss_family == AF_INET6)
                        ret->local_port = ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
        }
}
