/* SPDX-License-Identifier: MIT */
/* mpmctl: talk to a running mpmd over its control socket. `mpmctl reload` blocks until the new
 * configuration serves (exit 0) or the reload failed (exit 1, the reasons on stderr), so it can be
 * systemd's ExecReload=. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "build-config.h"

#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3
#define REPLY_TIMEOUT_MS (5 * 60 * 1000) /* a reload waits for workers; bounded, never forever */

static void usage(FILE *f) {
        fprintf(f, "Usage: mpmctl [-s SOCKET] reload | status | stop [--now] | reopen-logs\n"
                   "  -s SOCKET   the control socket (default %s)\n"
                   "Exit status: 0 done, 1 refused or failed (reasons on stderr), 2 usage, 3 mpmd not reachable.\n",
                DEFAULT_CONTROL_SOCKET);
}

int main(int argc, char *argv[]) {
        const char *path = DEFAULT_CONTROL_SOCKET;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char command[64], reply[4097];
        int c, fd, status = EXIT_FAILURE;
        bool first = true;

        while ((c = getopt(argc, argv, "+s:h")) >= 0) {
                switch (c) {
                case 's':
                        path = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        const char *verb = argv[optind];
        bool now = optind + 1 < argc && strcmp(argv[optind + 1], "--now") == 0;
        int extra = argc - optind - 1 - (now ? 1 : 0);
        if (extra > 0 || (now && strcmp(verb, "stop") != 0) ||
            (strcmp(verb, "reload") != 0 && strcmp(verb, "status") != 0 && strcmp(verb, "stop") != 0 &&
             strcmp(verb, "reopen-logs") != 0)) {
                usage(stderr);
                return EXIT_USAGE;
        }
        snprintf(command, sizeof(command), "%s%s", verb, now ? " --now" : "");

        if (strlen(path) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "mpmctl: socket path too long: %s\n", path);
                return EXIT_USAGE;
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                fprintf(stderr, "mpmctl: cannot reach mpmd at %s: %s\n", path, strerror(errno));
                return EXIT_UNREACHABLE;
        }
        if (send(fd, command, strlen(command), MSG_NOSIGNAL) < 0) {
                fprintf(stderr, "mpmctl: cannot send to %s: %s\n", path, strerror(errno));
                return EXIT_UNREACHABLE;
        }
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, REPLY_TIMEOUT_MS) <= 0) {
                        fprintf(stderr, "mpmctl: no answer from mpmd\n");
                        return EXIT_FAILURE;
                }
                ssize_t n = recv(fd, reply, sizeof(reply) - 1, 0);
                if (n <= 0)
                        break;
                reply[n] = 0;
                const char *text = reply;
                if (first) {
                        first = false;
                        if (strncmp(reply, "OK", 2) == 0) {
                                status = EXIT_SUCCESS;
                                text = reply[2] == ' ' || reply[2] == '\n' ? reply + 3 : reply + 2;
                        } else if (strncmp(reply, "ERROR", 5) == 0)
                                text = reply[5] == ' ' ? reply + 6 : reply + 5;
                }
                if (*text)
                        fprintf(status == EXIT_SUCCESS ? stdout : stderr, "%s\n", text);
        }
        if (first) {
                fprintf(stderr, "mpmctl: mpmd closed the connection without an answer\n");
                return EXIT_FAILURE;
        }
        return status;
}
