/* SPDX-License-Identifier: MIT */
/* fd-pass.h — one message with descriptors attached, over a Unix socket (SCM_RIGHTS).
 *
 * Every channel that hands descriptors between mpmd's processes (readiness, the log channel, the
 * CGI launcher, the dispatcher's hand-off to a pool, the site-path opener) goes through these two
 * calls, so the control-buffer arithmetic and the two traps of SCM_RIGHTS live in one place:
 * a receiver must close every descriptor it was given but does not keep (a peer may attach more
 * than asked), and must refuse a message whose data or control part was cut (MSG_TRUNC,
 * MSG_CTRUNC), since what arrived is then not what was sent.
 *
 * Received descriptors are close-on-exec. Nothing here logs or blocks unless the socket does. */
#pragma once

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The most descriptors one message carries (the log channel: the error log and every access log). */
#define FD_PASS_MAX 64

/* Send len bytes of data (len > 0) with n_fds descriptors (0 to FD_PASS_MAX) attached, in one
 * message. flags go to sendmsg (MSG_DONTWAIT, …); MSG_NOSIGNAL is always added. Returns the bytes
 * sent, -EAGAIN when the socket would block, or another -errno (EINTR is retried). */
ssize_t fd_pass_send(int sock, const void *data, size_t len, const int *fds, size_t n_fds, int flags);

/* Receive one message into buf (size bytes) and up to max_fds (at most FD_PASS_MAX) descriptors
 * into fds, their number in *ret_n_fds; descriptors beyond max_fds are closed. flags go to recvmsg
 * (MSG_CMSG_CLOEXEC is always added). Returns the bytes received, 0 at end of stream, -EAGAIN when
 * nothing is waiting, -EBADMSG when the message was cut (every descriptor then closed and
 * *ret_n_fds 0), or another -errno (EINTR is retried). */
ssize_t fd_pass_receive(int sock, void *buf, size_t size, int *fds, size_t max_fds, size_t *ret_n_fds,
                        int flags);

/* Close n descriptors of an array (after a refused message). */
void fd_pass_close_all(const int *fds, size_t n);

/* fd_pass_receive() on a socket with SO_PASSCRED: also the sender's credentials, as the kernel saw
 * them, in *ret_cred (pid 0 when none came: the sender's socket was not yet passing them). They are
 * filled in for a cut message too (-EBADMSG), so that the receiver knows whom to blame. */
ssize_t fd_pass_receive_cred(int sock, void *buf, size_t size, int *fds, size_t max_fds, size_t *ret_n_fds,
                             struct ucred *ret_cred, int flags);
