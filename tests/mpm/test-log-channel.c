/* SPDX-License-Identifier: MIT */
/* Tests of the log channel: a worker adopts the files the supervisor sends under its own
 * descriptor numbers (directly and through SIGUSR1), drops stale messages, refuses malformed ones
 * without leaking what they carried, and several workers sharing the channel take one message
 * each. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpm/log-channel.h"
#include "shared/macro.h"

static int tmp_file(char *path) {
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        return fd;
}

static char *read_all(const char *path) {
        static char buf[256];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        cr_assert_geq(fd, 0);
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n < 0 ? 0 : n] = 0;
        return buf;
}

static int open_fds(void) {
        int n = 0;
        for (int fd = 0; fd < 256; fd++)
                if (fcntl(fd, F_GETFD) >= 0)
                        n++;
        return n;
}

Test(log_channel, adopts_new_files_under_the_same_numbers) {
        char old_path[] = "/tmp/mpmd-lc-old-XXXXXX", new_path[] = "/tmp/mpmd-lc-new-XXXXXX";
        int sv[2], old_fd = tmp_file(old_path), new_fd = tmp_file(new_path);

        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        cr_assert_eq(log_channel_install(sv[1], 0, &old_fd, 1), 0);
        cr_assert_eq(write(old_fd, "before\n", 7), 7);

        cr_assert_eq(log_channel_receive(), 0, "nothing was sent yet");
        cr_assert_eq(log_channel_send(sv[0], 1, &new_fd, 1), 0);
        cr_assert_eq(log_channel_receive(), 1);
        cr_assert_eq(log_channel_epoch(), 1u);
        cr_assert_eq(write(old_fd, "after\n", 6), 6);
        cr_assert_str_eq(read_all(old_path), "before\n");
        cr_assert_str_eq(read_all(new_path), "after\n");
        cr_assert(fcntl(old_fd, F_GETFD) & FD_CLOEXEC, "the adopted descriptor stays close-on-exec");
        unlink(old_path);
        unlink(new_path);
}

Test(log_channel, sigusr1_adopts_and_stale_messages_are_dropped) {
        char a_path[] = "/tmp/mpmd-lc-a-XXXXXX", b_path[] = "/tmp/mpmd-lc-b-XXXXXX", c_path[] = "/tmp/mpmd-lc-c-XXXXXX";
        int sv[2], a = tmp_file(a_path), b = tmp_file(b_path), c = tmp_file(c_path);

        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        cr_assert_eq(log_channel_install(sv[1], 5, &a, 1), 0);
        /* Epoch 4 was for a worker that died before reading it; 6 is this worker's. */
        cr_assert_eq(log_channel_send(sv[0], 4, &b, 1), 0);
        cr_assert_eq(log_channel_send(sv[0], 6, &c, 1), 0);
        int before = open_fds();
        cr_assert_eq(raise(SIGUSR1), 0);
        cr_assert_eq(log_channel_epoch(), 6u);
        cr_assert_eq(open_fds(), before, "received descriptors are closed after the dup3");
        cr_assert_eq(write(a, "x\n", 2), 2);
        cr_assert_str_eq(read_all(b_path), "");
        cr_assert_str_eq(read_all(c_path), "x\n");
        unlink(a_path);
        unlink(b_path);
        unlink(c_path);
}

Test(log_channel, malformed_messages_are_refused_without_leaks) {
        char a_path[] = "/tmp/mpmd-lc-a-XXXXXX";
        int sv[2], a = tmp_file(a_path), two[2] = { a, a };

        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        cr_assert_eq(log_channel_install(sv[1], 0, &a, 1), 0);
        int before = open_fds();
        /* Two files for a worker that has one log. */
        cr_assert_eq(log_channel_send(sv[0], 1, two, 2), 0);
        cr_assert_eq(log_channel_receive(), -EBADMSG);
        /* Bytes that are no header at all. */
        cr_assert_eq(send(sv[0], "garbage", 7, 0), 7);
        cr_assert_eq(log_channel_receive(), -EBADMSG);
        cr_assert_eq(open_fds(), before);
        cr_assert_eq(log_channel_epoch(), 0u);
        cr_assert_eq(log_channel_send(sv[0], 1, two, 0), -EINVAL);
        unlink(a_path);
}

Test(log_channel, workers_sharing_the_channel_take_one_message_each) {
        char paths[3][32];
        int sv[2], fds[3];
        pid_t pids[3];

        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        for (int i = 0; i < 3; i++) {
                snprintf(paths[i], sizeof(paths[i]), "/tmp/mpmd-lc-w%d-XXXXXX", i);
                fds[i] = tmp_file(paths[i]);
        }
        /* Two workers, started at epoch 0, writing to fds[0]; the new file is fds[1]. */
        for (int w = 0; w < 2; w++) {
                pids[w] = fork();
                cr_assert_geq(pids[w], 0);
                if (pids[w] == 0) {
                        sigset_t set;
                        sigemptyset(&set);
                        sigaddset(&set, SIGUSR2);
                        sigprocmask(SIG_BLOCK, &set, NULL);
                        if (log_channel_install(sv[1], 0, &fds[0], 1) < 0)
                                _exit(3);
                        int sig;
                        sigwait(&set, &sig); /* the parent says: the messages are there */
                        if (log_channel_receive() != 1)
                                _exit(4);
                        _exit(write(fds[0], "w\n", 2) == 2 ? 0 : 5);
                }
        }
        for (int w = 0; w < 2; w++)
                cr_assert_eq(log_channel_send(sv[0], 1, &fds[1], 1), 0);
        usleep(100 * 1000);
        for (int w = 0; w < 2; w++)
                kill(pids[w], SIGUSR2);
        for (int w = 0; w < 2; w++) {
                int st;
                cr_assert_eq(waitpid(pids[w], &st, 0), pids[w]);
                cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker %d: status %d", w, st);
        }
        cr_assert_str_eq(read_all(paths[1]), "w\nw\n");
        cr_assert_str_eq(read_all(paths[0]), "");
        for (int i = 0; i < 3; i++)
                unlink(paths[i]);
}
