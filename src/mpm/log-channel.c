/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "shared/fd-pass.h"
#include "mpm/log-channel.h"
#include "shared/macro.h"

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
static uint32_t *channel_report; /* where the adopted epoch is published; NULL: nowhere */

static void report(void) {
        if (channel_report)
                __atomic_store_n(channel_report, channel_epoch, __ATOMIC_RELEASE);
}

int log_channel_send(int sock, uint32_t epoch, const int *fds, size_t n) {
        LogChannelHeader h = { .magic = LOG_CHANNEL_MAGIC, .epoch = epoch, .n_fds = (uint32_t) n };
        ssize_t k;

        if (n == 0 || n > LOG_CHANNEL_FDS_MAX)
                return -EINVAL;
        k = fd_pass_send(sock, &h, sizeof(h), fds, n, MSG_DONTWAIT);
        return k < 0 ? (int) k : 0;
}

/* Async-signal-safe (the SIGUSR1 handler runs it): fd_pass_receive() only calls recvmsg, memcpy
 * and close. */
int log_channel_receive(void) {
        for (;;) {
                LogChannelHeader h = {};
                int got[LOG_CHANNEL_FDS_MAX];
                size_t n_got = 0;
                ssize_t k;

                if (channel_sock < 0)
                        return 0;
                k = fd_pass_receive(channel_sock, &h, sizeof(h), got, ELEMENTSOF(got), &n_got, MSG_DONTWAIT);
                if (k == -EAGAIN)
                        return 0;
                if (k < 0)
                        return (int) k; /* -EBADMSG: cut, its descriptors closed already */
                if (k != sizeof(h) || h.magic != LOG_CHANNEL_MAGIC || h.n_fds != n_got || n_got != channel_n_fds) {
                        fd_pass_close_all(got, n_got);
                        return -EBADMSG;
                }
                if ((int32_t) (h.epoch - channel_epoch) <= 0) {
                        /* Meant for a worker that is gone, or one this worker already has. */
                        fd_pass_close_all(got, n_got);
                        continue;
                }
                int r = 0;
                for (size_t i = 0; i < n_got; i++)
                        if (dup3(got[i], channel_fds[i], O_CLOEXEC) < 0 && r == 0)
                                r = -errno;
                fd_pass_close_all(got, n_got);
                channel_epoch = h.epoch;
                report(); /* also after a failed dup3: what could be taken is, and said so in the log */
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

void log_channel_report_to(uint32_t *word) {
        sigset_t usr1, old;

        /* Not while the handler could run between the two stores. */
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        (void) sigprocmask(SIG_BLOCK, &usr1, &old);
        channel_report = word;
        report();
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
}
