/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log-channel.h"
#include "macro.h"

#define LOG_CHANNEL_MAGIC 0x6d706c67u /* "mplg" */

typedef struct LogChannelHeader {
        uint32_t magic;
        uint32_t epoch;
        uint32_t n_fds;
} LogChannelHeader;

/* The worker's side. Plain statics: one channel per process, set once before the handler exists. */
static int channel_sock = -1;
static volatile uint32_t channel_epoch;
static int channel_fds[LOG_CHANNEL_FDS_MAX];
static size_t channel_n_fds;

int log_channel_send(int sock, uint32_t epoch, const int *fds, size_t n) {
        LogChannelHeader h = { .magic = LOG_CHANNEL_MAGIC, .epoch = epoch, .n_fds = (uint32_t) n };
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * LOG_CHANNEL_FDS_MAX)];
        } control = {};
        struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (n == 0 || n > LOG_CHANNEL_FDS_MAX)
                return -EINVAL;
        mh.msg_control = control.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
        if (sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

static void close_received(const int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
}

int log_channel_receive(void) {
        for (;;) {
                LogChannelHeader h = {};
                union {
                        struct cmsghdr align;
                        char buf[CMSG_SPACE(sizeof(int) * LOG_CHANNEL_FDS_MAX)];
                } control;
                struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = control.buf,
                        .msg_controllen = sizeof(control.buf),
                };
                int got[LOG_CHANNEL_FDS_MAX];
                size_t n_got = 0;
                ssize_t k;

                if (channel_sock < 0)
                        return 0;
                k = recvmsg(channel_sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (k < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                                size_t m = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                                for (size_t i = 0; i < m && n_got < LOG_CHANNEL_FDS_MAX; i++)
                                        memcpy(&got[n_got++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                        }
                if (k != sizeof(h) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || h.magic != LOG_CHANNEL_MAGIC ||
                    h.n_fds != n_got || n_got != channel_n_fds) {
                        close_received(got, n_got);
                        return -EBADMSG;
                }
                if ((int32_t) (h.epoch - channel_epoch) <= 0) {
                        /* Meant for a worker that is gone, or one this worker already has. */
                        close_received(got, n_got);
                        continue;
                }
                int r = 0;
                for (size_t i = 0; i < n_got; i++)
                        if (dup3(got[i], channel_fds[i], O_CLOEXEC) < 0 && r == 0)
                                r = -errno;
                close_received(got, n_got);
                channel_epoch = h.epoch;
                return r < 0 ? r : 1;
        }
}

static void on_sigusr1(int sig) {
        int saved = errno;
        (void) log_channel_receive();
        errno = saved;
}

int log_channel_attach(int sock, uint32_t epoch, const int *fds, size_t n) {
        if (n > LOG_CHANNEL_FDS_MAX)
                return -EINVAL;
        channel_sock = sock;
        channel_epoch = epoch;
        memcpy(channel_fds, fds, n * sizeof(int));
        channel_n_fds = n;
        return 0;
}

int log_channel_install(int sock, uint32_t epoch, const int *fds, size_t n) {
        struct sigaction sa = { .sa_handler = on_sigusr1, .sa_flags = SA_RESTART };
        sigset_t mask;
        int r = log_channel_attach(sock, epoch, fds, n);

        if (r < 0)
                return r;
        sigfillset(&sa.sa_mask);
        if (sigaction(SIGUSR1, &sa, NULL) < 0)
                return -errno;
        sigemptyset(&mask);
        sigaddset(&mask, SIGUSR1);
        if (sigprocmask(SIG_UNBLOCK, &mask, NULL) < 0)
                return -errno;
        return 0;
}

uint32_t log_channel_epoch(void) {
        return channel_epoch;
}
