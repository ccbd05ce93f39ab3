/* SPDX-License-Identifier: MIT */
/* The pool's side of perchild's hand-off (event_handoff_receive(), event.h): a message that is
 * exactly one EventHandoff with exactly one descriptor gives the connection; anything else is
 * refused, and every descriptor it carried is closed, so that a confused or hostile dispatcher
 * cannot make the pool hold sockets (or pipes) it will never serve. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/event.h"
#include "shared/fd-pass.h"

static int pair[2]; /* [0] the dispatcher's end, [1] the pool's */

static void setup(void) {
        signal(SIGPIPE, SIG_IGN);
        cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
}

static void teardown(void) {
        close(pair[0]);
        close(pair[1]);
}

/* Whether the read end of a pipe is still open anywhere: a write to its write end says EPIPE once
 * no descriptor of the read end is left. */
static bool read_end_open(int write_end) {
        return write(write_end, "x", 1) == 1;
}

/* Send msg (len bytes) with the read end of a new pipe attached and close our copy of it: from
 * then on only the receiver can hold it. Returns the pipe's write end. */
static int send_with_pipe(const void *msg, size_t len) {
        int p[2];

        cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        cr_assert_eq(fd_pass_send(pair[0], msg, len, &p[0], 1, MSG_DONTWAIT), (ssize_t) len);
        close(p[0]);
        cr_assert(read_end_open(p[1]), "in flight, the message holds the read end");
        return p[1];
}

TestSuite(handoff, .init = setup, .fini = teardown);

Test(handoff, a_whole_message_gives_its_descriptor) {
        EventHandoff msg = {}, got;
        int fd;

        memset(msg.listener_name, 'a', sizeof(msg.listener_name)); /* no NUL: the receiver ends it */
        int w = send_with_pipe(&msg, sizeof(msg));
        cr_assert_eq(event_handoff_receive(pair[1], &got, &fd), 1);
        cr_assert_geq(fd, 0);
        cr_assert_eq(strlen(got.listener_name), sizeof(got.listener_name) - 1);
        cr_assert(read_end_open(w), "the connection is the receiver's now");
        close(fd);
        cr_assert_not(read_end_open(w));
        close(w);
        cr_assert_eq(event_handoff_receive(pair[1], &got, &fd), -EAGAIN, "nothing else is waiting");
        cr_assert_eq(fd, -1);
}

Test(handoff, a_short_message_is_refused_and_its_descriptor_closed) {
        EventHandoff msg = {}, got;
        int fd;

        strcpy(msg.listener_name, "127.0.0.1:80");
        int w = send_with_pipe(&msg, sizeof(msg) - 1);
        cr_assert_eq(event_handoff_receive(pair[1], &got, &fd), -EBADMSG);
        cr_assert_eq(fd, -1);
        cr_assert_not(read_end_open(w), "the refused descriptor was closed");
        close(w);
}

Test(handoff, a_long_message_is_refused_and_its_descriptor_closed) {
        char msg[sizeof(EventHandoff) + 16] = "127.0.0.1:80";
        EventHandoff got;
        int fd;

        int w = send_with_pipe(msg, sizeof(msg)); /* cut to fit: MSG_TRUNC */
        cr_assert_eq(event_handoff_receive(pair[1], &got, &fd), -EBADMSG);
        cr_assert_eq(fd, -1);
        cr_assert_not(read_end_open(w), "the refused descriptor was closed");
        close(w);
}

Test(handoff, a_message_without_a_descriptor_is_refused) {
        EventHandoff msg = {}, got;
        int fd;

        cr_assert_eq(fd_pass_send(pair[0], &msg, sizeof(msg), NULL, 0, MSG_DONTWAIT), (ssize_t) sizeof(msg));
        cr_assert_eq(event_handoff_receive(pair[1], &got, &fd), -EBADMSG);
        cr_assert_eq(fd, -1);
}

Test(handoff, extra_descriptors_are_closed) {
        EventHandoff msg = {}, got;
        int p[2], q[2], fd;

        cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        cr_assert_eq(pipe2(q, O_CLOEXEC | O_NONBLOCK), 0);
        int fds[2] = { p[0], q[0] };
        cr_assert_eq(fd_pass_send(pair[0], &msg, sizeof(msg), fds, 2, MSG_DONTWAIT), (ssize_t) sizeof(msg));
        close(p[0]);
        close(q[0]);
        cr_assert_eq(event_handoff_receive(pair[1], &got, &fd), 1, "the first is the connection");
        cr_assert_not(read_end_open(q[1]), "the second was closed");
        cr_assert(read_end_open(p[1]));
        close(fd);
        close(p[1]);
        close(q[1]);
}

Test(handoff, the_end_of_the_senders_socket_is_not_a_connection) {
        EventHandoff got;
        int fd;

        close(pair[0]);
        pair[0] = -1;
        cr_assert_eq(event_handoff_receive(pair[1], &got, &fd), 0);
        cr_assert_eq(fd, -1);
}
