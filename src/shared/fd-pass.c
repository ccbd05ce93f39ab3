/* SPDX-License-Identifier: MIT */
/* fd-pass.c — see fd-pass.h. Written by hand: libsystemd's equivalents (sd_pid_notify_with_fds,
 * the bus) carry their own protocols, and none of them receives with truncation detection. */
#include "shared/fd-pass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/macro.h"

typedef union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * FD_PASS_MAX)];
} FdPassControl;

/* Room for the credentials as well: they come first, and must not push the descriptors out. */
typedef union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * FD_PASS_MAX)];
} FdPassControlCred;

ssize_t fd_pass_send(int sock, const void *data, size_t len, const int *fds, size_t n_fds, int flags) {
        FdPassControl control = {};
        struct iovec iov = { .iov_base = (void *) data, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (len == 0 || n_fds > FD_PASS_MAX)
                return -EINVAL;
        if (n_fds > 0) {
                mh.msg_control = control.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
        }
        for (;;) {
                ssize_t n = sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
                if (n >= 0)
                        return n;
                if (errno == EINTR)
                        continue;
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
}

void fd_pass_close_all(const int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                safe_close(fds[i]);
}

ssize_t fd_pass_receive(int sock, void *buf, size_t size, int *fds, size_t max_fds, size_t *ret_n_fds,
                        int flags) {
        return fd_pass_receive_cred(sock, buf, size, fds, max_fds, ret_n_fds, NULL, flags);
}

ssize_t fd_pass_receive_cred(int sock, void *buf, size_t size, int *fds, size_t max_fds, size_t *ret_n_fds,
                             struct ucred *ret_cred, int flags) {
        FdPassControlCred control;
        struct iovec iov = { .iov_base = buf, .iov_len = size };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = sizeof(control.buf),
        };
        size_t n_fds = 0;
        ssize_t n;

        *ret_n_fds = 0;
        if (ret_cred)
                *ret_cred = (struct ucred) { .pid = 0, .uid = (uid_t) -1, .gid = (gid_t) -1 };
        if (max_fds > FD_PASS_MAX)
                return -EINVAL;
        for (;;) {
                n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
                if (n >= 0)
                        break;
                if (errno != EINTR)
                        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS && ret_cred &&
                    cm->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
                        memcpy(ret_cred, CMSG_DATA(cm), sizeof(struct ucred));
                        continue;
                }
                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                        if (n_fds < max_fds)
                                fds[n_fds++] = fd;
                        else
                                safe_close(fd); /* more than asked for */
                }
        }
        if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
                fd_pass_close_all(fds, n_fds);
                return -EBADMSG;
        }
        *ret_n_fds = n_fds;
        return n;
}
