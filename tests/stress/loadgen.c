/* SPDX-License-Identifier: MIT */
/* loadgen — an HTTP/1.1 load client that never retries, for the stress suite and bench/reliability.
 *
 * N connections in one epoll loop. Each connection is either kept alive for --per-conn requests or
 * makes one request with "Connection: close" (--close-pct of them); --post-pct of the requests are
 * POSTs with a body of --post-size bytes. Every request either completes with an expected status
 * or is counted as one failure, by kind: connect error, reset, short response (end of stream before
 * the whole response), malformed response, unexpected status, timeout. A failed request is never
 * sent again. Only a connection the server closed while it was idle, seen before a request is
 * written (EOF or HUP already there), is reopened without counting: that request was never sent.
 *
 * Latencies (first byte written to last byte read, connect included for a new connection) go into a
 * log-linear histogram; the summary on stdout is one "key value" per line (requests, failed, the
 * counts per kind, p50_us, p99_us, max_us). The first failures are described on stderr with their
 * CLOCK_MONOTONIC time, so that a test can line them up with what it did to the server; so is the seed
 * of the request mix (MPMD_TEST_SEED replays it). Exit status:
 * 0 when the run completed (whatever failed), 2 for usage errors, 1 when the client itself broke. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shared/macro.h"

#define RESPONSE_HEAD_MAX (64 * 1024)
#define FAILURES_SHOWN 20
/* Histogram: exact microseconds below 2^SUB_BITS, then 2^SUB_BITS buckets per power of two (<1.6%). */
#define SUB_BITS 6
#define HIST_BUCKETS ((64 - SUB_BITS + 1) << SUB_BITS)

typedef enum FailKind {
        FAIL_CONNECT,
        FAIL_RESET,
        FAIL_SHORT,
        FAIL_MALFORMED,
        FAIL_STATUS,
        FAIL_TIMEOUT,
        _FAIL_MAX,
} FailKind;

static const char *const fail_kind_names[_FAIL_MAX] = {
        [FAIL_CONNECT] = "connect",     [FAIL_RESET] = "reset",   [FAIL_SHORT] = "short",
        [FAIL_MALFORMED] = "malformed", [FAIL_STATUS] = "status", [FAIL_TIMEOUT] = "timeout",
};

typedef enum ConnState {
        CONN_IDLE,       /* no socket */
        CONN_CONNECTING, /* non-blocking connect in progress */
        CONN_SENDING,
        CONN_HEAD,       /* reading the response head */
        CONN_BODY,       /* reading a body of known length */
        CONN_BODY_EOF,   /* reading a body delimited by the end of the stream */
        CONN_PAUSED,     /* --interval-ms between requests */
} ConnState;

typedef struct Options {
        struct sockaddr_in addr;
        const char *host;
        unsigned connections;
        double duration;
        uint64_t max_requests; /* 0: until duration */
        unsigned per_conn;     /* requests on a kept-alive connection before the client closes it */
        unsigned close_pct;    /* connections that make one request with Connection: close */
        unsigned post_pct;
        size_t post_size;
        const char *path;
        const char *post_path;
        int post_status; /* also accepted for POSTs besides 2xx (405: a static file) */
        double timeout;  /* seconds for one request */
        unsigned interval_ms;
} Options;

typedef struct Conn {
        unsigned id;
        int fd;
        ConnState state;
        bool keep_alive; /* this connection's kind */
        bool last;       /* this request is the connection's last */
        bool is_post;
        bool fresh;      /* connected for this request */
        unsigned done_on_conn;
        char *req;
        size_t req_len, req_sent;
        char head[RESPONSE_HEAD_MAX];
        size_t head_len;
        uint64_t body_left;
        uint64_t received;
        int status;
        bool server_close;
        uint64_t start_usec, deadline_usec, resume_usec;
        unsigned local_port;
} Conn;

typedef struct Stats {
        uint64_t requests, ok, failed, connects;
        uint64_t fails[_FAIL_MAX];
        uint64_t hist[HIST_BUCKETS];
        uint64_t max_usec;
        uint64_t shown;
} Stats;

static Options opt;
static Stats stats;
static int epfd = -1;
static uint64_t issued;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static unsigned hist_index(uint64_t v) {
        if (v < (1u << SUB_BITS))
                return (unsigned) v;
        unsigned msb = 63 - (unsigned) __builtin_clzll(v);
        unsigned sub = (unsigned) (v >> (msb - SUB_BITS)) & ((1u << SUB_BITS) - 1);
        return ((msb - SUB_BITS + 1) << SUB_BITS) + sub;
}

/* The upper edge of a bucket: a percentile is never reported lower than it was. */
static uint64_t hist_value(unsigned i) {
        if (i < (1u << SUB_BITS))
                return i;
        unsigned msb = (i >> SUB_BITS) + SUB_BITS - 1;
        uint64_t sub = i & ((1u << SUB_BITS) - 1);
        return ((uint64_t) (1u << SUB_BITS) + sub + 1) << (msb - SUB_BITS);
}

static uint64_t hist_percentile(double p) {
        uint64_t total = 0, want, seen = 0;

        for (unsigned i = 0; i < HIST_BUCKETS; i++)
                total += stats.hist[i];
        if (total == 0)
                return 0;
        want = (uint64_t) ((double) total * p / 100.0 + 0.999999);
        if (want == 0)
                want = 1;
        for (unsigned i = 0; i < HIST_BUCKETS; i++) {
                seen += stats.hist[i];
                if (seen >= want)
                        return MIN(hist_value(i), stats.max_usec);
        }
        return stats.max_usec;
}

static void conn_close(Conn *c) {
        if (c->fd >= 0) {
                /* close() also takes it out of the epoll set. */
                c->fd = safe_close(c->fd);
        }
        c->state = CONN_IDLE;
        c->done_on_conn = 0;
}

static void conn_fail(Conn *c, FailKind kind, int error, const char *what) {
        uint64_t now = now_usec();

        stats.failed++;
        stats.fails[kind]++;
        if (stats.shown++ < FAILURES_SHOWN)
                fprintf(stderr,
                        "loadgen: FAIL %s at t=%.6f: conn %u (local port %u, %s, request %u on it, %s %s), "
                        "%" PRIu64 " bytes received (state %d, body left %" PRIu64 "), %s%s%s; head: \"%.*s\"\n",
                        fail_kind_names[kind], (double) now / 1e6, c->id, c->local_port,
                        c->keep_alive ? "keep-alive" : "close", c->done_on_conn + 1, c->is_post ? "POST" : "GET",
                        c->is_post ? opt.post_path : opt.path, c->received, (int) c->state, c->body_left, what, error ? ": " : "",
                        error ? strerror(error) : "", (int) MIN(c->head_len, (size_t) 400), c->head);
        conn_close(c);
}

static bool want_more(uint64_t now, uint64_t end) {
        if (opt.max_requests > 0)
                return issued < opt.max_requests;
        return now < end;
}

static int conn_build_request(Conn *c) {
        const char *conn_hdr = c->last ? "close" : "keep-alive";
        size_t body = c->is_post ? opt.post_size : 0;
        char head[512];
        int n;

        if (c->is_post)
                n = snprintf(head, sizeof(head),
                             "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mpmd-loadgen\r\nConnection: %s\r\n"
                             "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n\r\n",
                             opt.post_path, opt.host, conn_hdr, body);
        else
                n = snprintf(head, sizeof(head),
                             "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mpmd-loadgen\r\nConnection: %s\r\n\r\n",
                             opt.path, opt.host, conn_hdr);
        if (n < 0 || (size_t) n >= sizeof(head))
                return -ENAMETOOLONG;
        free(c->req);
        c->req = malloc((size_t) n + body);
        if (!c->req)
                return -ENOMEM;
        memcpy(c->req, head, (size_t) n);
        memset(c->req + n, 'x', body);
        c->req_len = (size_t) n + body;
        c->req_sent = 0;
        return 0;
}

static int conn_watch(Conn *c, uint32_t events, bool add) {
        struct epoll_event ev = { .events = events, .data.ptr = c };
        return epoll_ctl(epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev) < 0 ? -errno : 0;
}

/* A kept-alive socket the server has already closed while it was idle: nothing was sent on it. */
static bool conn_peer_gone(Conn *c) {
        char b;
        ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static int conn_start_request(Conn *c, uint64_t now) {
        int r;

        c->is_post = (unsigned) (random() % 100) < opt.post_pct;
        c->head_len = 0;
        c->received = 0;
        c->status = 0;
        c->server_close = false;
        c->fresh = false;
        c->start_usec = now;
        c->deadline_usec = now + (uint64_t) (opt.timeout * 1e6);
        issued++;
        stats.requests++;

        if (c->fd >= 0 && conn_peer_gone(c))
                conn_close(c);
        if (c->fd < 0) {
                c->keep_alive = (unsigned) (random() % 100) >= opt.close_pct;
                c->done_on_conn = 0;
                c->fresh = true;
                c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (c->fd < 0)
                        return -errno;
                int one = 1;
                (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                stats.connects++;
                if (connect(c->fd, (const struct sockaddr *) &opt.addr, sizeof(opt.addr)) < 0 &&
                    errno != EINPROGRESS) {
                        conn_fail(c, FAIL_CONNECT, errno, "connect");
                        return 0;
                }
                struct sockaddr_in local;
                socklen_t len = sizeof(local);
                c->local_port = getsockname(c->fd, (struct sockaddr *) &local, &len) == 0 ? ntohs(local.sin_port) : 0;
                c->state = CONN_CONNECTING;
                r = conn_watch(c, EPOLLOUT, true);
                if (r < 0)
                        return r;
        } else {
                c->state = CONN_SENDING;
                r = conn_watch(c, EPOLLOUT, false);
                if (r < 0)
                        return r;
        }
        c->last = !c->keep_alive || c->done_on_conn + 1 >= opt.per_conn;
        return conn_build_request(c);
}

static void conn_request_done(Conn *c, uint64_t now) {
        uint64_t lat = now - c->start_usec;
        bool ok_status = (c->status >= 200 && c->status < 300) || (c->is_post && c->status == opt.post_status);

        if (!ok_status) {
                conn_fail(c, FAIL_STATUS, 0, "unexpected status");
                return;
        }
        stats.ok++;
        stats.hist[hist_index(lat)]++;
        stats.max_usec = MAX(stats.max_usec, lat);
        c->done_on_conn++;
        if (c->last || c->server_close)
                conn_close(c);
        if (opt.interval_ms > 0) {
                c->state = CONN_PAUSED;
                c->resume_usec = now + opt.interval_ms * USEC_PER_MSEC;
                if (c->fd >= 0)
                        (void) conn_watch(c, 0, false);
        } else if (c->fd >= 0)
                c->state = CONN_IDLE; /* with its socket: the loop starts the next request */
}

/* Parse the head in c->head[0..end); 0 or -EBADMSG. */
static int conn_parse_head(Conn *c, size_t end) {
        bool have_length = false, chunked = false;
        char *p = c->head, *eol;

        if (end < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '1' && p[7] != '0') || p[8] != ' ')
                return -EBADMSG;
        char digits[4] = { p[9], p[10], p[11], 0 };
        for (int i = 0; i < 3; i++)
                if (digits[i] < '0' || digits[i] > '9')
                        return -EBADMSG;
        c->status = (int) strtol(digits, NULL, 10);
        c->server_close = p[7] == '0';
        eol = memmem(p, end, "\r\n", 2);
        while (eol && eol + 2 < c->head + end) {
                char *line = eol + 2;
                eol = memmem(line, (size_t) (c->head + end - line), "\r\n", 2);
                if (!eol || eol == line)
                        break;
                size_t len = (size_t) (eol - line);
                if (len > 15 && strncasecmp(line, "Content-Length:", 15) == 0) {
                        char num[32], *e;
                        size_t k = MIN(len - 15, sizeof(num) - 1);
                        memcpy(num, line + 15, k);
                        num[k] = 0;
                        errno = 0;
                        unsigned long long v = strtoull(num, &e, 10);
                        while (*e == ' ' || *e == '\t')
                                e++;
                        if (errno || *e || e == num)
                                return -EBADMSG;
                        c->body_left = v;
                        have_length = true;
                } else if (len > 11 && strncasecmp(line, "Connection:", 11) == 0) {
                        if (memmem(line, len, "close", 5))
                                c->server_close = true;
                } else if (len > 18 && strncasecmp(line, "Transfer-Encoding:", 18) == 0)
                        chunked = true;
        }
        if (chunked)
                return -EBADMSG; /* no server under test sends a chunked static file */
        if (c->status == 204 || c->status == 304)
                c->body_left = 0, have_length = true;
        c->state = have_length ? CONN_BODY : CONN_BODY_EOF;
        if (!have_length)
                c->server_close = true;
        return 0;
}

static void conn_on_io(Conn *c, uint32_t events, uint64_t now) {
        if (c->state == CONN_IDLE || c->state == CONN_PAUSED) {
                /* No request outstanding: the server closing an idle kept-alive connection is its
                 * right (its keep-alive timeout); the next request will open a new one. */
                if (c->fd >= 0 && conn_peer_gone(c)) {
                        ConnState keep = c->state;
                        conn_close(c);
                        c->state = keep;
                }
                return;
        }
        if (c->state == CONN_CONNECTING) {
                int err = 0;
                socklen_t len = sizeof(err);
                if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        err = errno;
                if (err) {
                        conn_fail(c, FAIL_CONNECT, err, "connect");
                        return;
                }
                c->state = CONN_SENDING;
        }
        if (c->state == CONN_SENDING) {
                while (c->req_sent < c->req_len) {
                        ssize_t n = send(c->fd, c->req + c->req_sent, c->req_len - c->req_sent, MSG_NOSIGNAL);
                        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                                return;
                        if (n < 0) {
                                /* The server may have answered before reading everything (413): read
                                 * what it said before calling this a reset. */
                                if (errno == EPIPE || errno == ECONNRESET)
                                        break;
                                conn_fail(c, FAIL_RESET, errno, "send");
                                return;
                        }
                        c->req_sent += (size_t) n;
                }
                c->state = CONN_HEAD;
                if (conn_watch(c, EPOLLIN | EPOLLRDHUP, false) < 0) {
                        conn_fail(c, FAIL_RESET, errno, "epoll");
                        return;
                }
        }
        if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && c->state != CONN_HEAD)
                return;
        for (;;) {
                char buf[65536];
                char *data = buf;
                ssize_t n;

                if (c->state == CONN_HEAD) {
                        n = recv(c->fd, c->head + c->head_len, sizeof(c->head) - c->head_len, 0);
                        data = c->head + c->head_len;
                } else
                        n = recv(c->fd, buf, sizeof(buf), 0);
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                if (n < 0) {
                        conn_fail(c, c->head_len == 0 && errno == ECONNRESET ? FAIL_RESET : FAIL_SHORT, errno, "recv");
                        return;
                }
                if (n == 0) {
                        if (c->state == CONN_BODY_EOF) {
                                conn_request_done(c, now);
                                if (c->fd >= 0)
                                        conn_close(c);
                                return;
                        }
                        conn_fail(c, FAIL_SHORT, 0, "end of stream");
                        return;
                }
                c->received += (uint64_t) n;
                if (c->state == CONN_HEAD) {
                        c->head_len += (size_t) n;
                        char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
                        if (!end) {
                                if (c->head_len == sizeof(c->head)) {
                                        conn_fail(c, FAIL_MALFORMED, 0, "response head too long");
                                        return;
                                }
                                continue;
                        }
                        size_t head_end = (size_t) (end - c->head) + 4;
                        if (conn_parse_head(c, head_end) < 0) {
                                conn_fail(c, FAIL_MALFORMED, 0, "malformed head");
                                return;
                        }
                        data = c->head + head_end;
                        n = (ssize_t) (c->head_len - head_end);
                }
                (void) data;
                if (c->state == CONN_BODY) {
                        if ((uint64_t) n > c->body_left) {
                                /* Bytes after the response: nothing was asked for them. */
                                conn_fail(c, FAIL_MALFORMED, 0, "bytes after the response");
                                return;
                        }
                        c->body_left -= (uint64_t) n;
                        if (c->body_left == 0) {
                                conn_request_done(c, now);
                                return;
                        }
                }
        }
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *ret) {
        char *e;
        errno = 0;
        if (!s || !*s || *s == '-')
                return -EINVAL;
        unsigned long long v = strtoull(s, &e, 10);
        if (errno || *e || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_seconds(const char *s, double *ret) {
        char *e;
        errno = 0;
        double v = strtod(s, &e);
        if (errno || *e || e == s || !(v > 0) || v > 86400)
                return -EINVAL;
        *ret = v;
        return 0;
}

static void usage(void) {
        fprintf(stderr,
                "usage: loadgen --port PORT [--addr 127.0.0.1] [--host localhost] [--connections 32]\n"
                "               [--duration SECONDS | --requests N] [--per-conn 100] [--close-pct 20]\n"
                "               [--post-pct 20] [--post-size 1024] [--path /index.html] [--post-path PATH]\n"
                "               [--post-status 405] [--timeout 10] [--interval-ms 0]\n");
        exit(2);
}

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig) {
        stop_requested = 1;
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "port", required_argument, NULL, 'p' },        { "addr", required_argument, NULL, 'a' },
                { "host", required_argument, NULL, 'H' },        { "connections", required_argument, NULL, 'c' },
                { "duration", required_argument, NULL, 'd' },    { "requests", required_argument, NULL, 'n' },
                { "per-conn", required_argument, NULL, 'k' },    { "close-pct", required_argument, NULL, 'C' },
                { "post-pct", required_argument, NULL, 'P' },    { "post-size", required_argument, NULL, 's' },
                { "path", required_argument, NULL, 'u' },        { "post-path", required_argument, NULL, 'U' },
                { "post-status", required_argument, NULL, 'S' }, { "timeout", required_argument, NULL, 't' },
                { "interval-ms", required_argument, NULL, 'i' }, {},
        };
        unsigned long long v, port = 0;
        const char *addr = "127.0.0.1";
        Conn *conns;
        int ch;

        opt = (Options) {
                .host = "localhost", .connections = 32, .duration = 5, .per_conn = 100, .close_pct = 20,
                .post_pct = 20, .post_size = 1024, .path = "/index.html", .post_path = NULL, .post_status = 405,
                .timeout = 10,
        };
        while ((ch = getopt_long(argc, argv, "", longopts, NULL)) >= 0) {
                switch (ch) {
                case 'p':
                        if (parse_uint(optarg, 65535, &port) < 0 || port == 0)
                                usage();
                        break;
                case 'a':
                        addr = optarg;
                        break;
                case 'H':
                        opt.host = optarg;
                        break;
                case 'c':
                        if (parse_uint(optarg, 100000, &v) < 0 || v == 0)
                                usage();
                        opt.connections = (unsigned) v;
                        break;
                case 'd':
                        if (parse_seconds(optarg, &opt.duration) < 0)
                                usage();
                        break;
                case 'n':
                        if (parse_uint(optarg, UINT64_MAX, &v) < 0 || v == 0)
                                usage();
                        opt.max_requests = v;
                        break;
                case 'k':
                        if (parse_uint(optarg, 1000000, &v) < 0 || v == 0)
                                usage();
                        opt.per_conn = (unsigned) v;
                        break;
                case 'C':
                        if (parse_uint(optarg, 100, &v) < 0)
                                usage();
                        opt.close_pct = (unsigned) v;
                        break;
                case 'P':
                        if (parse_uint(optarg, 100, &v) < 0)
                                usage();
                        opt.post_pct = (unsigned) v;
                        break;
                case 's':
                        if (parse_uint(optarg, 64u << 20, &v) < 0)
                                usage();
                        opt.post_size = (size_t) v;
                        break;
                case 'u':
                        opt.path = optarg;
                        break;
                case 'U':
                        opt.post_path = optarg;
                        break;
                case 'S':
                        if (parse_uint(optarg, 599, &v) < 0 || v < 100)
                                usage();
                        opt.post_status = (int) v;
                        break;
                case 't':
                        if (parse_seconds(optarg, &opt.timeout) < 0)
                                usage();
                        break;
                case 'i':
                        if (parse_uint(optarg, 3600000, &v) < 0)
                                usage();
                        opt.interval_ms = (unsigned) v;
                        break;
                default:
                        usage();
                }
        }
        if (optind != argc || port == 0)
                usage();
        if (!opt.post_path)
                opt.post_path = opt.path;
        opt.addr = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        if (inet_pton(AF_INET, addr, &opt.addr.sin_addr) != 1)
                usage();

        signal(SIGPIPE, SIG_IGN);
        /* SIGINT or SIGTERM: start no more requests, finish those in flight, print the summary (a test
         * that loads a server for as long as something else takes). */
        struct sigaction stop_action = { .sa_handler = on_stop_signal };
        sigaction(SIGINT, &stop_action, NULL);
        sigaction(SIGTERM, &stop_action, NULL);
        /* The seed of the request mix (which requests are POSTs, which connections close): printed,
         * and taken from MPMD_TEST_SEED to replay a run's choices (not its timing). */
        unsigned long long seed = now_usec() % 1000000000u;
        const char *seed_env = getenv("MPMD_TEST_SEED");
        if (seed_env && *seed_env && parse_uint(seed_env, UINT32_MAX, &seed) < 0) {
                fprintf(stderr, "loadgen: MPMD_TEST_SEED is not a number below 2^32: %s\n", seed_env);
                return 2;
        }
        srandom((unsigned) seed);
        fprintf(stderr, "loadgen: seed %llu (replay with MPMD_TEST_SEED=%llu)\n", seed, seed);
        epfd = epoll_create1(EPOLL_CLOEXEC);
        conns = calloc(opt.connections, sizeof(Conn));
        if (epfd < 0 || !conns) {
                fprintf(stderr, "loadgen: cannot set up: %s\n", strerror(errno));
                return 1;
        }
        for (unsigned i = 0; i < opt.connections; i++)
                conns[i] = (Conn) { .id = i, .fd = -1, .state = CONN_IDLE };

        uint64_t begin = now_usec(), end = begin + (uint64_t) (opt.duration * 1e6);
        for (;;) {
                uint64_t now = now_usec();
                unsigned active = 0;

                if (stop_requested && end > now)
                        end = now;

                /* Start a request on every connection that is free, check the timeouts. */
                for (unsigned i = 0; i < opt.connections; i++) {
                        Conn *c = &conns[i];
                        if (c->state == CONN_PAUSED && now >= c->resume_usec)
                                c->state = CONN_IDLE;
                        if (c->state == CONN_IDLE && c->fd >= 0 && !want_more(now, end))
                                /* Done: an idle connection must not hold a server's process or
                                 * thread while others wait for their answers. */
                                conn_close(c);
                        if (c->state == CONN_IDLE && want_more(now, end)) {
                                int r = conn_start_request(c, now);
                                if (r < 0) {
                                        fprintf(stderr, "loadgen: cannot start a request: %s\n", strerror(-r));
                                        return 1;
                                }
                        }
                        if (c->state != CONN_IDLE && c->state != CONN_PAUSED && now >= c->deadline_usec)
                                conn_fail(c, FAIL_TIMEOUT, 0, "no complete response in time");
                        if (c->state != CONN_IDLE && c->state != CONN_PAUSED)
                                active++;
                        else if (c->state == CONN_PAUSED && want_more(now, end))
                                active++;
                }
                if (active == 0 && !want_more(now, end))
                        break;

                struct epoll_event ev[256];
                int n = epoll_wait(epfd, ev, (int) ELEMENTSOF(ev), opt.interval_ms > 0 ? 10 : 100);
                if (n < 0 && errno != EINTR) {
                        fprintf(stderr, "loadgen: epoll_wait: %s\n", strerror(errno));
                        return 1;
                }
                now = now_usec();
                for (int i = 0; i < n; i++)
                        conn_on_io(ev[i].data.ptr, ev[i].events, now);
        }
        for (unsigned i = 0; i < opt.connections; i++) {
                conn_close(&conns[i]);
                free(conns[i].req);
        }
        free(conns);
        close(epfd);

        double secs = (double) (now_usec() - begin) / 1e6;
        printf("requests %" PRIu64 "\nok %" PRIu64 "\nfailed %" PRIu64 "\n", stats.requests, stats.ok, stats.failed);
        for (int k = 0; k < _FAIL_MAX; k++)
                printf("fail_%s %" PRIu64 "\n", fail_kind_names[k], stats.fails[k]);
        printf("connects %" PRIu64 "\nseconds %.3f\nrps %.0f\n", stats.connects, secs,
               secs > 0 ? (double) stats.ok / secs : 0.0);
        printf("p50_us %" PRIu64 "\np99_us %" PRIu64 "\nmax_us %" PRIu64 "\n", hist_percentile(50), hist_percentile(99),
               stats.max_usec);
        return 0;
}
