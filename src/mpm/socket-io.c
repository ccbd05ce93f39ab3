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

#include "mpm/socket-io.h"

/* A plain socket only waits in the direction of the call (io.h). */
static ssize_t sock_read(void *ctx, void *buf, size_t n) {
        ssize_t k = recv(*(int *) ctx, buf, n, 0);
        if (k < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? HTTP_IO_WANT_READ : -errno;
        return k;
}

static ssize_t sock_writev(void *ctx, const struct iovec *iov, int n) {
        struct msghdr mh = { .msg_iov = (struct iovec *) iov, .msg_iovlen = (size_t) n };
        /* sendmsg with MSG_NOSIGNAL: a peer that went away is an error, not a SIGPIPE. */
        ssize_t k = sendmsg(*(int *) ctx, &mh, MSG_NOSIGNAL);
        if (k < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? HTTP_IO_WANT_WRITE : -errno;
        return k;
}

static ssize_t sock_sendfile(void *ctx, int in_fd, off_t *offset, size_t n) {
        ssize_t k = sendfile(*(int *) ctx, in_fd, offset, n);
        if (k < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? HTTP_IO_WANT_WRITE : -errno;
        return k;
}

static int sock_shutdown(void *ctx) {
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
        .read = sock_read,
        .writev = sock_writev,
        .sendfile = sock_sendfile,
        .shutdown = sock_shutdown,
        .unsent = sock_unsent,
        .reset = sock_reset,
        .local_address = sock_local_address,
};

uint16_t socket_sockaddr_port(const struct sockaddr_storage *ss) {
        if (ss->ss_family == AF_INET)
                return ntohs(((const struct sockaddr_in *) ss)->sin_port);
        if (ss->ss_family == AF_INET6)
                return ntohs(((const struct sockaddr_in6 *) ss)->sin6_port);
        return 0;
}

uint16_t socket_local_port(int fd) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);

        if (getsockname(fd, (struct sockaddr *) &ss, &len) < 0)
                return 0;
        return socket_sockaddr_port(&ss);
}

void socket_conn_info_from(const struct sockaddr_storage *peer, const char *listener_name, uint16_t local_port,
                           HttpConnInfo *ret) {
        *ret = (HttpConnInfo) { .listener_name = listener_name, .local_port = local_port };
        if (peer->ss_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *) peer)->sin_addr, ret->peer, sizeof(ret->peer));
        else if (peer->ss_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) peer)->sin6_addr, ret->peer, sizeof(ret->peer));
        else
                snprintf(ret->peer, sizeof(ret->peer), "-");
        ret->peer_port = socket_sockaddr_port(peer);
}

int socket_accept(int listen_fd, const char *listener_name, uint16_t local_port, HttpConnInfo *ret) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        int fd = accept4(listen_fd, (struct sockaddr *) &peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
                return -errno;
        socket_conn_info_from(&peer, listener_name, local_port, ret);
        return fd;
}
