/* SPDX-License-Identifier: MIT */
/* Tests of the one SCM_RIGHTS helper: descriptors arrive and work, extra ones are closed, a cut
 * message is refused with every descriptor closed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/fd-pass.h"
#include "shared/macro.h"

static int open_fds(void) {
        int n = 0;
        for (int fd = 0; fd < 1024; fd++)
                if (fcntl(fd, F_GETFD) >= 0)
                        n++;
        return n;
}

static void pair(int sv[2]) {
        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

Test(fd_pass, round_trip) {
        int sv[2], p[2], fds[FD_PASS_MAX];
        size_t n_fds = 99;
        char buf[16] = {};

        pair(sv);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(fd_pass_send(sv[0], "hello", 5, p, 2, 0), 5);
        cr_assert_eq(fd_pass_receive(sv[1], buf, sizeof(buf), fds, 2, &n_fds, 0), 5);
        cr_assert_str_eq(buf, "hello");
        cr_assert_eq(n_fds, 2);
        cr_assert(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
        /* the received write end reaches the original read end */
        cr_assert_eq(write(fds[1], "x", 1), 1);
        cr_assert_eq(read(p[0], buf, 1), 1);
        cr_assert_eq(buf[0], 'x');
        fd_pass_close_all(fds, n_fds);
        fd_pass_close_all(p, 2);
        fd_pass_close_all(sv, 2);
}

Test(fd_pass, extra_descriptors_are_closed) {
        int sv[2], p[2], fds[1];
        size_t n_fds;
        char buf[4];

        pair(sv);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        int before = open_fds();
        cr_assert_eq(fd_pass_send(sv[0], "a", 1, p, 2, 0), 1);
        cr_assert_eq(fd_pass_receive(sv[1], buf, sizeof(buf), fds, 1, &n_fds, 0), 1);
        cr_assert_eq(n_fds, 1);
        cr_assert_eq(open_fds(), before + 1, "the second descriptor was not closed");
        safe_close(fds[0]);
        fd_pass_close_all(p, 2);
        fd_pass_close_all(sv, 2);
}

Test(fd_pass, cut_message_is_refused) {
        int sv[2], p[2], fds[2] = { -1, -1 };
        size_t n_fds = 7;
        char buf[2];

        pair(sv);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        int before = open_fds();
        cr_assert_eq(fd_pass_send(sv[0], "longer", 6, p, 2, 0), 6);
        cr_assert_eq(fd_pass_receive(sv[1], buf, sizeof(buf), fds, 2, &n_fds, 0), -EBADMSG);
        cr_assert_eq(n_fds, 0);
        cr_assert_eq(open_fds(), before, "a refused message left descriptors open");
        fd_pass_close_all(p, 2);
        fd_pass_close_all(sv, 2);
}

Test(fd_pass, would_block_and_end_of_stream) {
        int sv[2], fds[1];
        size_t n_fds;
        char buf[4];

        pair(sv);
        cr_assert_eq(fd_pass_receive(sv[1], buf, sizeof(buf), fds, 1, &n_fds, MSG_DONTWAIT), -EAGAIN);
        safe_close(sv[0]);
        cr_assert_eq(fd_pass_receive(sv[1], buf, sizeof(buf), fds, 1, &n_fds, 0), 0);
        cr_assert_eq(fd_pass_send(sv[1], "x", 1, NULL, 0, 0), -EPIPE);
        safe_close(sv[1]);
        cr_assert_eq(fd_pass_send(-1, "x", 1, NULL, 0, 0), -EBADF);
        cr_assert_eq(fd_pass_send(3, "x", 1, NULL, FD_PASS_MAX + 1, 0), -EINVAL);
}

/* With SO_PASSCRED the kernel says who sent (the readiness channel): the credentials come with the
 * descriptors, and with a cut message too, so that its sender can be blamed. */
Test(fd_pass, credentials_with_descriptors_and_with_a_cut_message) {
        int sv[2], p[2], fds[FD_PASS_MAX], before = open_fds();
        size_t n_fds = 99;
        struct ucred cred;
        char buf[4];

        pair(sv);
        cr_assert_eq(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &(int) { 1 }, sizeof(int)), 0);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(fd_pass_send(sv[0], "ab", 2, p, 2, 0), 2);
        cr_assert_eq(fd_pass_receive_cred(sv[1], buf, sizeof(buf), fds, FD_PASS_MAX, &n_fds, &cred, 0), 2);
        cr_assert_eq(n_fds, 2, "the credentials do not push the descriptors out");
        cr_assert_eq(cred.pid, getpid());
        cr_assert_eq(cred.uid, getuid());
        fd_pass_close_all(fds, n_fds);

        cr_assert_eq(fd_pass_send(sv[0], "too long", 8, p, 1, 0), 8);
        cr_assert_eq(fd_pass_receive_cred(sv[1], buf, sizeof(buf), fds, FD_PASS_MAX, &n_fds, &cred, 0), -EBADMSG);
        cr_assert_eq(n_fds, 0);
        cr_assert_eq(cred.pid, getpid(), "a cut message still names its sender");

        fd_pass_close_all(p, 2);
        fd_pass_close_all(sv, 2);
        cr_assert_eq(open_fds(), before, "every received descriptor was closed");
}
