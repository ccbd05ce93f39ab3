/* SPDX-License-Identifier: MIT */
/* ceiling.c — the benchmark's upper bound: what one epoll loop per process can answer on this
 * machine when it does nothing a real server must do. It parses nothing, opens no file, builds no
 * header: every "\r\n\r\n" it reads is one request, answered with the same fixed 13-byte-body
 * HTTP/1.1 response. Keep-alive and pipelining work because requests are counted, not parsed (a
 * request with a body would be miscounted: wrk sends none).
 *
 *   ceiling [--address ADDR] [--port PORT] [--processes N] [--close] [--reuseport]
 *
 * N processes (default: one per online CPU) share one listening socket, each waking alone through
 * EPOLLEXCLUSIVE, or with --reuseport each binds its own socket with SO_REUSEPORT and the kernel
 * spreads connections. --close answers with "Connection: close" and closes after the answer, the
 * cost floor of a connection per request. The parent only forks and waits: SIGTERM or SIGINT stops
 * all, and a child that dies takes the others with it. Port 0 (not with --reuseport) binds any free
 * port; the port in use is printed on stdout either way, once the socket listens. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BODY "Hello, world\n"
#define RESPONSE_KEEP_ALIVE                                                                                    \
        "HTTP/1.1 200 OK\r\nServer: ceiling\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n" BODY
#define RESPONSE_CLOSE                                                                                         \
        "HTTP/1.1 200 OK\r\nServer: ceiling\r\nContent-Type: text/html\r\nContent-Length: 13\r\n"        \
        "Connection: close\r\n\r\n" BODY
#define PROCESSES_MAX 256
#define EVENTS_MAX 512
#define READ_SIZE (16 * 1024)
#define RESPONSES_PER_WRITE 64 /* copies of the response laid out back to back for pipelined answers */

_Static_assert(sizeof(BODY) - 1 == 13, "the benchmark serves a 13-byte body");

typedef struct Options {
        struct in_addr address;
        uint16_t port;
        unsigned processes;
        bool close;
        bool reuseport;
} Options;

/* Per descriptor, in an array indexed by fd: a connection costs these bytes and its socket. */
typedef struct Conn {
        uint32_t owed;      /* requests read and not yet fully answered */
        uint16_t sent;      /* bytes of the first owed answer already written */
        uint8_t match;      /* how much of "\r\n\r\n" the bytes read so far end with */
        bool want_write;    /* registered for EPOLLOUT: the socket's send buffer was full */
        bool answered;      /* at least one whole answer went out */
} Conn;

typedef struct Loop {
        const Options *opt;
        int ep;
        int listen_fd;
        Conn *conns;
        size_t n_conns;
        const char *out; /* RESPONSES_PER_WRITE answers back to back */
        size_t answer_len;
} Loop;

static int parse_uint(const char *s, unsigned long max, unsigned long *ret) {
        char *end;
        unsigned long v;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != 0 || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int listen_socket(const Options *opt, bool reuseport) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(opt->port), .sin_addr = opt->address };
        int one = 1;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
            bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, SOMAXCONN) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static uint16_t socket_port(int fd) {
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);

        if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return 0;
        return ntohs(sa.sin_port);
}

/* Counts the request ends in buf, carrying a partial "\r\n\r\n" over from the previous read. */
static uint32_t count_request_ends(const char *buf, size_t n, uint8_t *match) {
        static const char end[4] = { '\r', '\n', '\r', '\n' };
        uint8_t m = *match;
        uint32_t count = 0;

        for (size_t i = 0; i < n; i++) {
                if (buf[i] == end[m]) {
                        if (++m == 4) {
                                count++;
                                m = 0;
                        }
                } else
                        m = buf[i] == '\r';
        }
        *match = m;
        return count;
}

static void conn_close(Loop *l, int fd) {
        l->conns[fd] = (Conn) {};
        /* close() also takes it out of the epoll set. */
        close(fd);
}

static int conn_want_write(Loop *l, int fd, bool on) {
        struct epoll_event ev = { .events = on ? EPOLLOUT : EPOLLIN, .data.fd = fd };

        if (l->conns[fd].want_write == on)
                return 0;
        l->conns[fd].want_write = on;
        return epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

/* Writes what is owed: 0 when all is out, -EAGAIN when the socket is full, another error to close. */
static int conn_flush(Loop *l, int fd) {
        Conn *c = &l->conns[fd];

        while (c->owed > 0) {
                uint32_t k = c->owed < RESPONSES_PER_WRITE ? c->owed : RESPONSES_PER_WRITE;
                size_t len = k * l->answer_len - c->sent;
                ssize_t n = write(fd, l->out + c->sent, len);

                if (n < 0)
                        return errno == EINTR ? 0 : -errno;
                size_t done = (size_t) n + c->sent;
                c->owed -= (uint32_t) (done / l->answer_len);
                c->sent = (uint16_t) (done % l->answer_len);
                if (done >= l->answer_len)
                        c->answered = true;
                if ((size_t) n < len)
                        return -EAGAIN;
        }
        return 0;
}

static void conn_on_ready(Loop *l, int fd) {
        Conn *c = &l->conns[fd];
        int r;

        if (!c->want_write) {
                char buf[READ_SIZE];
                ssize_t n = read(fd, buf, sizeof(buf));

                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) {
                        conn_close(l, fd);
                        return;
                }
                c->owed += count_request_ends(buf, (size_t) n, &c->match);
        }
        r = conn_flush(l, fd);
        if (r == -EAGAIN) {
                if (conn_want_write(l, fd, true) < 0)
                        conn_close(l, fd);
                return;
        }
        /* --close: once an answer is out the connection ends; it never carries a second request. */
        if (r < 0 || (l->opt->close && c->answered) || conn_want_write(l, fd, false) < 0)
                conn_close(l, fd);
}

static void loop_accept(Loop *l) {
        for (;;) {
                int fd = accept4(l->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                        return; /* EAGAIN: another process took it, or the queue is empty */
                if ((size_t) fd >= l->n_conns) {
                        close(fd);
                        continue;
                }
                struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
                if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                        close(fd);
        }
}

static int loop_run(Loop *l) {
        struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = l->listen_fd };
        struct epoll_event events[EVENTS_MAX];

        if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->listen_fd, &ev) < 0)
                return -errno;
        for (;;) {
                int n = epoll_wait(l->ep, events, EVENTS_MAX, -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (int i = 0; i < n; i++) {
                        int fd = events[i].data.fd;
                        if (fd == l->listen_fd)
                                loop_accept(l);
                        else
                                conn_on_ready(l, fd);
                }
        }
}

static int child_main(const Options *opt, int shared_fd, const char *out, size_t answer_len) {
        struct rlimit rl;
        Loop l = { .opt = opt, .listen_fd = shared_fd, .out = out, .answer_len = answer_len };
        int r;

        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() == 1)
                return 1;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 1;
        l.n_conns = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 20) ? (1u << 20) : (size_t) rl.rlim_cur;
        l.conns = calloc(l.n_conns, sizeof(Conn));
        l.ep = epoll_create1(EPOLL_CLOEXEC);
        if (!l.conns || l.ep < 0)
                return 1;
        if (opt->reuseport) {
                l.listen_fd = listen_socket(opt, true);
                if (l.listen_fd < 0) {
                        fprintf(stderr, "ceiling: cannot listen on port %u: %s\n", opt->port, strerror(-l.listen_fd));
                        return 1;
                }
        }
        r = loop_run(&l);
        fprintf(stderr, "ceiling: event loop failed: %s\n", strerror(-r));
        return 1;
}

static void usage(FILE *f) {
        fprintf(f, "usage: ceiling [--address ADDR] [--port PORT] [--processes N] [--close] [--reuseport]\n");
}

static int parse_options(int argc, char **argv, Options *opt) {
        static const struct option longopts[] = {
                { "address", required_argument, NULL, 'a' },
                { "port", required_argument, NULL, 'p' },
                { "processes", required_argument, NULL, 'n' },
                { "close", no_argument, NULL, 'c' },
                { "reuseport", no_argument, NULL, 'r' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        unsigned long v;
        int o;

        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        *opt = (Options) { .address.s_addr = htonl(INADDR_LOOPBACK), .processes = cpus > 0 ? (unsigned) cpus : 1 };
        while ((o = getopt_long(argc, argv, "a:p:n:crh", longopts, NULL)) >= 0) {
                switch (o) {
                case 'a':
                        if (inet_pton(AF_INET, optarg, &opt->address) != 1) {
                                fprintf(stderr, "ceiling: --address wants an IPv4 address, not \"%s\"\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'p':
                        if (parse_uint(optarg, 65535, &v) < 0) {
                                fprintf(stderr, "ceiling: --port wants a number from 0 to 65535, not \"%s\"\n", optarg);
                                return -EINVAL;
                        }
                        opt->port = (uint16_t) v;
                        break;
                case 'n':
                        if (parse_uint(optarg, PROCESSES_MAX, &v) < 0 || v == 0) {
                                fprintf(stderr, "ceiling: --processes wants a number from 1 to %d, not \"%s\"\n",
                                        PROCESSES_MAX, optarg);
                                return -EINVAL;
                        }
                        opt->processes = (unsigned) v;
                        break;
                case 'c':
                        opt->close = true;
                        break;
                case 'r':
                        opt->reuseport = true;
                        break;
                case 'h':
                        usage(stdout);
                        exit(EXIT_SUCCESS);
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                usage(stderr);
                return -EINVAL;
        }
        if (opt->reuseport && opt->port == 0) {
                fprintf(stderr, "ceiling: --reuseport needs a fixed --port\n");
                return -EINVAL;
        }
        if (opt->processes > PROCESSES_MAX)
                opt->processes = PROCESSES_MAX;
        return 0;
}

static void children_kill(const pid_t *pids, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                if (pids[i] > 0)
                        kill(pids[i], SIGTERM);
        while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
                ;
}

int main(int argc, char **argv) {
        const char *answer;
        char *out;
        size_t answer_len;
        pid_t pids[PROCESSES_MAX] = {};
        sigset_t mask;
        int shared_fd = -1, sig;
        Options opt;

        if (parse_options(argc, argv, &opt) < 0)
                return 2;
        answer = opt.close ? RESPONSE_CLOSE : RESPONSE_KEEP_ALIVE;
        answer_len = strlen(answer);
        out = malloc(answer_len * RESPONSES_PER_WRITE);
        if (!out)
                return 1;
        for (size_t i = 0; i < RESPONSES_PER_WRITE; i++)
                memcpy(out + i * answer_len, answer, answer_len);

        if (!opt.reuseport) {
                shared_fd = listen_socket(&opt, false);
                if (shared_fd < 0) {
                        fprintf(stderr, "ceiling: cannot listen on port %u: %s\n", opt.port, strerror(-shared_fd));
                        return 1;
                }
                opt.port = socket_port(shared_fd);
        }

        /* The signals the parent waits for are blocked before any child exists, so none is lost;
         * children unblock them and die of SIGTERM as usual. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        for (unsigned i = 0; i < opt.processes; i++) {
                pids[i] = fork();
                if (pids[i] < 0) {
                        fprintf(stderr, "ceiling: fork: %s\n", strerror(errno));
                        children_kill(pids, i);
                        return 1;
                }
                if (pids[i] == 0) {
                        sigprocmask(SIG_UNBLOCK, &mask, NULL);
                        _exit(child_main(&opt, shared_fd, out, answer_len));
                }
        }
        printf("%u\n", opt.port);
        fflush(stdout);
        fprintf(stderr, "ceiling: %u processes answering on %s:%u%s%s\n", opt.processes, inet_ntoa(opt.address),
                opt.port, opt.close ? ", closing after each answer" : "", opt.reuseport ? ", SO_REUSEPORT" : "");

        if (sigwait(&mask, &sig) != 0)
                sig = SIGTERM;
        children_kill(pids, opt.processes);
        return sig == SIGCHLD ? 1 : 0;
}
