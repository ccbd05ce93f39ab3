/* SPDX-License-Identifier: MIT */
/* Tests of what the serving sandboxes let a process connect to, as its configuration decides: which
 * sites' upstreams a process counts (every site for a prefork, worker or event worker; its own
 * sites alone for a perchild pool), and, in children that load each serving profile with the
 * families of a configuration, what then works and what fails: without upstreams connect() on a
 * socket made before the filter answers ENOSYS and socket(AF_INET), socket(AF_UNIX) EAFNOSUPPORT;
 * with a TCP upstream a TCP socket connects to a listener of the test's (a port the kernel picked),
 * learns the outcome of a non-blocking connect with getsockopt(SO_ERROR), sets TCP_NODELAY, asks
 * getpeername and exchanges bytes, while AF_UNIX sockets stay refused; with a unix upstream the
 * same over a socket file, while IP sockets stay refused. Everywhere datagram, SCTP or MPTCP
 * sockets, bind() and listen(), and AF_UNIX datagram pairs (which could reach any named datagram
 * socket) stay refused, and the CGI launcher's SOCK_SEQPACKET pair keeps working; the dispatcher
 * and the CGI launcher refuse to take families at all. Last, the text `mpmctl audit` shows of it.
 *
 * The sites' families come from http_site_upstream_families() (proxy-config.h), which this test
 * stands in for: each site's configuration here is one of a table whose families the test sets. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/proxy-config.h"
#include "http/server.h"
#include "http/site-config.h"
#include "mpm/sandbox-families.h"
#include "mpm/sandbox.h"
#include "shared/macro.h"

#define NOBODY 65534

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define FAMILY(f) (UINT32_C(1) << (f))

/* ---- the stand-in for the proxy's configuration ---- */

/* The configurations the test's sites point to, and what each one's upstreams need. */
enum { CFG_NONE, CFG_TCP, CFG_UNIX, CFG_TCP6, _CFG_MAX };
static HttpSiteConfig configs[_CFG_MAX];
static const uint32_t config_families[_CFG_MAX] = {
        [CFG_NONE] = 0,
        [CFG_TCP] = FAMILY(AF_INET),
        [CFG_UNIX] = FAMILY(AF_UNIX),
        [CFG_TCP6] = FAMILY(AF_INET6),
};

uint32_t http_site_upstream_families(const struct HttpSiteConfig *cfg) {
        cr_assert(cfg >= configs && cfg < configs + _CFG_MAX, "a site with a configuration of no test's");
        return config_families[cfg - configs];
}

/* A server whose sites use configs[kinds[i]]: only what sandbox_families_of_sites() reads. */
typedef struct TestServer {
        HttpServer server;
        HttpSite sites[8];
} TestServer;

static void test_server_init(TestServer *t, const int *kinds, size_t n) {
        cr_assert_leq(n, ELEMENTSOF(t->sites));
        memset(t, 0, sizeof(*t));
        for (size_t i = 0; i < n; i++)
                t->sites[i].cfg = &configs[kinds[i]];
        t->server.sites = t->sites;
        t->server.n_sites = n;
}

/* ---- which sites count ---- */

/* A worker of prefork, worker or event serves every site: it gets all their families. */
Test(sandbox_families, a_worker_gets_every_site_s_upstreams) {
        TestServer t;

        test_server_init(&t, (int[]){CFG_NONE, CFG_TCP, CFG_NONE, CFG_UNIX}, 4);
        cr_assert_eq(sandbox_families_of_sites(&t.server, NULL, 0), FAMILY(AF_INET) | FAMILY(AF_UNIX));
        test_server_init(&t, (int[]){CFG_NONE, CFG_NONE}, 2);
        cr_assert_eq(sandbox_families_of_sites(&t.server, NULL, 0), 0);
        /* [Server]'s own upstream counts like a virtual host's. */
        test_server_init(&t, (int[]){CFG_TCP6}, 1);
        cr_assert_eq(sandbox_families_of_sites(&t.server, NULL, 0), FAMILY(AF_INET6));
        cr_assert_eq(sandbox_families_of_sites(NULL, NULL, 0), 0);
}

/* A perchild pool counts its own sites only: the default pool (0) [Server] and the sites without a
 * User, each site's pool that site. */
Test(sandbox_families, a_pool_gets_its_own_sites_upstreams_only) {
        TestServer t;
        const size_t site_pool[] = {0, 1, 0, 2, 3};

        test_server_init(&t, (int[]){CFG_NONE, CFG_TCP, CFG_NONE, CFG_UNIX, CFG_NONE}, 5);
        cr_assert_eq(sandbox_families_of_sites(&t.server, site_pool, 0), 0);
        cr_assert_eq(sandbox_families_of_sites(&t.server, site_pool, 1), FAMILY(AF_INET));
        cr_assert_eq(sandbox_families_of_sites(&t.server, site_pool, 2), FAMILY(AF_UNIX));
        cr_assert_eq(sandbox_families_of_sites(&t.server, site_pool, 3), 0);
        /* A site without a User that has an upstream opens it in the default pool, not elsewhere. */
        test_server_init(&t, (int[]){CFG_NONE, CFG_TCP, CFG_UNIX, CFG_UNIX, CFG_NONE}, 5);
        cr_assert_eq(sandbox_families_of_sites(&t.server, site_pool, 0), FAMILY(AF_UNIX));
        cr_assert_eq(sandbox_families_of_sites(&t.server, site_pool, 3), 0);
}

/* What `mpmctl audit` is told a process may connect with: its upstream families, every family a
 * CGI program may open for a CGI launcher. */
Test(sandbox_families, audit_text_of_what_a_process_may_connect) {
        char buf[SANDBOX_CONNECT_TEXT_MAX];

        cr_assert_str_eq(sandbox_connect_format(0, buf), "-");
        cr_assert_str_eq(sandbox_connect_format(FAMILY(AF_INET6) | FAMILY(AF_UNIX), buf), "unix,inet6");
        cr_assert_str_eq(sandbox_connect_format(SANDBOX_UPSTREAM_FAMILIES, buf), "unix,inet,inet6");
        cr_assert_eq(sandbox_connect_families(SANDBOX_PROFILE_POOL, FAMILY(AF_INET)), FAMILY(AF_INET));
        cr_assert_eq(sandbox_connect_families(SANDBOX_PROFILE_EVENT, 0), 0);
        cr_assert_eq(sandbox_connect_families(SANDBOX_PROFILE_CGI_LAUNCHER, 0), SANDBOX_UPSTREAM_FAMILIES);
}

/* ---- running a probe in a sandboxed child ---- */

typedef struct Probe {
        char msg[512];
} Probe;

_printf_(2, 3) static bool probe_fail(Probe *p, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
        va_end(ap);
        return false;
}

#define CHECK(p, cond, ...)                                  \
        do {                                                 \
                if (!(cond))                                 \
                        return probe_fail((p), __VA_ARGS__); \
        } while (0)

#define FAILS_WITH(call, err) ((call) < 0 && errno == (err))

/* What the children connect to, made by the test before they fork: a TCP listener on 127.0.0.1 at
 * a port the kernel picked, a unix socket file any user may connect to, and one of each family made
 * before the filter, as a socket a worker might hold (only connect() is tried on those). */
typedef struct Peers {
        int tcp_listener;
        struct sockaddr_in tcp_addr;
        int unix_listener;
        struct sockaddr_un unix_addr;
        char dir[64];
        int tcp_before, unix_before;
} Peers;

static void peers_init(Peers *peers) {
        socklen_t len = sizeof(peers->tcp_addr);

        memset(peers, 0, sizeof(*peers));
        peers->tcp_listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(peers->tcp_listener, 0);
        peers->tcp_addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        cr_assert_eq(bind(peers->tcp_listener, (struct sockaddr *) &peers->tcp_addr, sizeof(peers->tcp_addr)), 0);
        cr_assert_eq(listen(peers->tcp_listener, 16), 0);
        cr_assert_eq(getsockname(peers->tcp_listener, (struct sockaddr *) &peers->tcp_addr, &len), 0);

        snprintf(peers->dir, sizeof(peers->dir), "/tmp/mpmd-test-families-XXXXXX");
        cr_assert_not_null(mkdtemp(peers->dir));
        cr_assert_eq(chmod(peers->dir, 0755), 0); /* the child runs as nobody */
        peers->unix_addr.sun_family = AF_UNIX;
        snprintf(peers->unix_addr.sun_path, sizeof(peers->unix_addr.sun_path), "%s/upstream.sock", peers->dir);
        peers->unix_listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(peers->unix_listener, 0);
        cr_assert_eq(bind(peers->unix_listener, (struct sockaddr *) &peers->unix_addr, sizeof(peers->unix_addr)), 0);
        cr_assert_eq(chmod(peers->unix_addr.sun_path, 0666), 0);
        cr_assert_eq(listen(peers->unix_listener, 16), 0);

        peers->tcp_before = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        peers->unix_before = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert(peers->tcp_before >= 0 && peers->unix_before >= 0);
}

static void peers_done(Peers *peers) {
        close(peers->tcp_listener);
        close(peers->unix_listener);
        close(peers->tcp_before);
        close(peers->unix_before);
        (void) unlink(peers->unix_addr.sun_path);
        (void) rmdir(peers->dir);
}

typedef bool (*ProbeFn)(Probe *p, const Peers *peers, const void *userdata);

/* Runs fn in a forked child; the test fails with the child's message unless fn returned true. */
static void run_in_child(ProbeFn fn, const Peers *peers, const void *userdata) {
        int pipefd[2], status;
        char buf[sizeof(((Probe *) NULL)->msg) + 1] = {};
        size_t len = 0;
        pid_t pid;

        cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                Probe p = {};
                bool ok;

                close(pipefd[0]);
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                ok = fn(&p, peers, userdata);
                if (!ok && !p.msg[0])
                        snprintf(p.msg, sizeof(p.msg), "probe failed without a message");
                (void) !write(pipefd[1], p.msg, strlen(p.msg));
                _exit(ok ? 0 : 1);
        }
        close(pipefd[1]);
        for (;;) {
                ssize_t n = read(pipefd[0], buf + len, sizeof(buf) - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        close(pipefd[0]);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status), "child died (status 0x%x): %s", status, buf);
        cr_assert_eq(WEXITSTATUS(status), 0, "%s", buf);
}

/* ---- what a configuration's filter allows ---- */

typedef struct FamilyCase {
        char name[32];
        int profile;  /* a serving profile but the dispatcher's */
        int sites[3]; /* the configurations of the process's sites */
        size_t n_sites;
        bool tcp; /* expected: TCP sockets and connect() */
        bool tcp6;
        bool unix_; /* expected: AF_UNIX sockets and connect() */
} FamilyCase;

/* clang-format off */
#define CASES(name, profile)                                                                            \
        {name " none", profile, {CFG_NONE, CFG_NONE}, 2, false, false, false},                          \
        {name " tcp", profile, {CFG_NONE, CFG_TCP}, 2, true, false, false},                             \
        {name " unix", profile, {CFG_UNIX, CFG_NONE}, 2, false, false, true},                           \
        {name " all", profile, {CFG_TCP, CFG_UNIX, CFG_TCP6}, 3, true, true, true}

static FamilyCase family_cases[] = {
        CASES("worker", SANDBOX_PROFILE_WORKER),
        CASES("prefork", SANDBOX_PROFILE_PREFORK),
        CASES("event", SANDBOX_PROFILE_EVENT),
        CASES("pool", SANDBOX_PROFILE_POOL),
};
/* clang-format on */

/* A non-blocking connect() as an upstream pool makes it: in progress or done, then writable, then
 * SO_ERROR 0. Returns 0 or the errno of the first step that failed. */
static int connect_like_upstream(int fd, const struct sockaddr *sa, socklen_t len) {
        int err = 0;
        socklen_t err_len = sizeof(err);

        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
                return errno;
        if (connect(fd, sa, len) < 0 && errno != EINPROGRESS)
                return errno;
        if (poll(&(struct pollfd){.fd = fd, .events = POLLOUT}, 1, 10000) != 1)
                return ETIMEDOUT;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) < 0)
                return errno;
        return err;
}

/* Bytes both ways over a connected fd, the listener's side accepted by the child itself. */
static bool exchange(Probe *p, const char *what, int fd, int listener) {
        char buf[4] = {};
        int peer = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

        CHECK(p, peer >= 0, "%s: accept4: %m", what);
        CHECK(p, write(fd, "ping", 4) == 4, "%s: write: %m", what);
        CHECK(p,
              poll(&(struct pollfd){.fd = peer, .events = POLLIN}, 1, 10000) == 1 && read(peer, buf, 4) == 4 &&
                      memcmp(buf, "ping", 4) == 0,
              "%s: the upstream got no ping: %m", what);
        CHECK(p, write(peer, "pong", 4) == 4, "%s: write back: %m", what);
        CHECK(p,
              poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, 10000) == 1 && read(fd, buf, 4) == 4 &&
                      memcmp(buf, "pong", 4) == 0,
              "%s: no pong came back: %m", what);
        close(peer);
        return true;
}

static bool probe_tcp(Probe *p, const Peers *peers, const FamilyCase *c) {
        const struct sockaddr *sa = (const struct sockaddr *) &peers->tcp_addr;
        socklen_t len = sizeof(peers->tcp_addr);
        int fd, one = 1;

        if (!c->tcp) {
                /* Neither a socket of its own nor connect() on one it holds. */
                CHECK(p, FAILS_WITH(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), EAFNOSUPPORT),
                      "%s: socket(AF_INET): %m", c->name);
                /* connect() itself is refused only where no upstream at all exists: the filter cannot
                 * tell the family of the descriptor it is given (mpmd-mpm(7)). */
                if (!c->unix_)
                        CHECK(p, FAILS_WITH(connect(peers->tcp_before, sa, len), ENOSYS),
                              "%s: connect() to a TCP address: %m", c->name);
                return true;
        }
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        CHECK(p, fd >= 0, "%s: socket(AF_INET, SOCK_STREAM): %m", c->name);
        int r = connect_like_upstream(fd, sa, len);
        CHECK(p, r == 0, "%s: connect() to a TCP upstream: %s", c->name, strerror(r));
        CHECK(p, setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0, "%s: TCP_NODELAY: %m", c->name);
        struct sockaddr_in peer = {};
        socklen_t peer_len = sizeof(peer);
        CHECK(p,
              getpeername(fd, (struct sockaddr *) &peer, &peer_len) == 0 && peer.sin_port == peers->tcp_addr.sin_port,
              "%s: getpeername: %m", c->name);
        if (!exchange(p, c->name, fd, peers->tcp_listener))
                return false;
        close(fd);
        /* IPPROTO_TCP by name is the same socket. */
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
        CHECK(p, fd >= 0, "%s: socket(AF_INET, SOCK_STREAM, IPPROTO_TCP): %m", c->name);
        close(fd);

        /* Only that: no datagrams, no other stream protocol, no port of its own. */
        CHECK(p, FAILS_WITH(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ENOSYS), "%s: socket(SOCK_DGRAM): %m",
              c->name);
        CHECK(p, FAILS_WITH(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP), ENOSYS), "%s: socket(SOCK_RAW): %m",
              c->name);
        CHECK(p, FAILS_WITH(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP), ENOSYS), "%s: SCTP: %m",
              c->name);
        CHECK(p, FAILS_WITH(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP), ENOSYS), "%s: MPTCP: %m",
              c->name);
        CHECK(p, FAILS_WITH(syscall(SYS_socket, (1ul << 32) | AF_INET, SOCK_STREAM, 0), EAFNOSUPPORT),
              "%s: socket(AF_INET) with a high bit set: %m", c->name);
        struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        CHECK(p, FAILS_WITH(bind(peers->tcp_before, (struct sockaddr *) &any, sizeof(any)), ENOSYS), "%s: bind: %m",
              c->name);
        CHECK(p, FAILS_WITH(listen(peers->tcp_before, 1), ENOSYS), "%s: listen: %m", c->name);
        return true;
}

static bool probe_tcp6(Probe *p, const FamilyCase *c) {
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (!c->tcp6) {
                CHECK(p, fd < 0 && errno == EAFNOSUPPORT, "%s: socket(AF_INET6) answered %d: %m", c->name, fd);
                return true;
        }
        /* A kernel without IPv6 refuses it itself; the filter let it through. */
        CHECK(p, fd >= 0 || errno == EAFNOSUPPORT, "%s: socket(AF_INET6): %m", c->name);
        if (fd >= 0)
                close(fd);
        return true;
}

static bool probe_unix(Probe *p, const Peers *peers, const FamilyCase *c) {
        const struct sockaddr *sa = (const struct sockaddr *) &peers->unix_addr;
        socklen_t len = sizeof(peers->unix_addr);
        int fd;

        if (!c->unix_) {
                CHECK(p, FAILS_WITH(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), EAFNOSUPPORT),
                      "%s: socket(AF_UNIX): %m", c->name);
                /* connect() itself is refused only where no upstream at all exists: the filter cannot
                 * tell the family of the descriptor it is given (mpmd-mpm(7)). */
                if (!c->tcp)
                        CHECK(p, FAILS_WITH(connect(peers->unix_before, sa, len), ENOSYS),
                              "%s: connect() to a unix socket: %m", c->name);
                return true;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        CHECK(p, fd >= 0, "%s: socket(AF_UNIX, SOCK_STREAM): %m", c->name);
        int r = connect_like_upstream(fd, sa, len);
        CHECK(p, r == 0, "%s: connect() to a unix upstream: %s", c->name, strerror(r));
        if (!exchange(p, c->name, fd, peers->unix_listener))
                return false;
        close(fd);
        CHECK(p, FAILS_WITH(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), ENOSYS),
              "%s: socket(AF_UNIX, SOCK_DGRAM): %m", c->name);
        CHECK(p, FAILS_WITH(syscall(SYS_socket, (1ul << 32) | AF_UNIX, SOCK_STREAM, 0), EAFNOSUPPORT),
              "%s: socket(AF_UNIX) with a high bit set: %m", c->name);
        return true;
}

static bool probe_families(Probe *p, const Peers *peers, const void *userdata) {
        const FamilyCase *c = userdata;
        bool root = geteuid() == 0;
        TestServer t;
        int sv[2];

        test_server_init(&t, c->sites, c->n_sites);
        SandboxPolicy pol = {
                .change_ids = root,
                .uid = NOBODY,
                .gid = NOBODY,
                .profile = (SandboxProfile) c->profile,
                .upstream_families = sandbox_families_of_sites(&t.server, NULL, 0),
        };
        const char *step = NULL;
        int r = sandbox_apply(&pol, &step);
        CHECK(p, r == 0, "%s: sandbox_apply: %s at %s", c->name, strerror(-r), step ? step : "(null)");

        if (!probe_tcp(p, peers, c) || !probe_tcp6(p, c) || !probe_unix(p, peers, c))
                return false;

        /* The CGI launcher's request pair, whatever the upstreams; no datagram pair, which could
         * be connect()ed, or sendto() without connect(), to any named datagram socket. */
        CHECK(p, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0,
              "%s: socketpair(SOCK_SEQPACKET): %m", c->name);
        close(sv[0]);
        close(sv[1]);
        CHECK(p, FAILS_WITH(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), ENOSYS),
              "%s: socketpair(SOCK_DGRAM): %m", c->name);
        CHECK(p, FAILS_WITH(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ENOSYS),
              "%s: socketpair(SOCK_STREAM): %m", c->name);
        CHECK(p, FAILS_WITH(socketpair(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), EAFNOSUPPORT),
              "%s: socketpair(AF_INET): %m", c->name);
        return true;
}

ParameterizedTestParameters(sandbox_families, connect_follows_the_configuration) {
        return cr_make_param_array(FamilyCase, family_cases, ELEMENTSOF(family_cases));
}

ParameterizedTest(FamilyCase *c, sandbox_families, connect_follows_the_configuration) {
        Peers peers;

        peers_init(&peers);
        run_in_child(probe_families, &peers, c);
        peers_done(&peers);
}

/* The dispatcher passes connections on and the CGI launcher's programs already may connect: a
 * policy that gives either families, or any profile a family no upstream has, is refused before
 * anything changes. */
static bool probe_refused(Probe *p, const Peers *peers, const void *userdata) {
        static const struct {
                SandboxProfile profile;
                uint32_t families;
        } refused[] = {
                {SANDBOX_PROFILE_DISPATCHER, FAMILY(AF_INET)},
                {SANDBOX_PROFILE_DISPATCHER, FAMILY(AF_UNIX)},
                {SANDBOX_PROFILE_CGI_LAUNCHER, FAMILY(AF_INET)},
                {SANDBOX_PROFILE_EVENT, FAMILY(AF_NETLINK)},
                {SANDBOX_PROFILE_POOL, FAMILY(AF_INET) | FAMILY(AF_PACKET)},
        };
        (void) peers;
        (void) userdata;

        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                SandboxPolicy pol = {.change_ids = geteuid() == 0,
                                     .uid = NOBODY,
                                     .gid = NOBODY,
                                     .profile = refused[i].profile,
                                     .upstream_families = refused[i].families};
                const char *step = NULL;
                int r = sandbox_apply(&pol, &step);

                CHECK(p, r == -EINVAL && step && strcmp(step, "policy") == 0, "%s with families %#x: %s at %s",
                      sandbox_profile_to_string(refused[i].profile), (unsigned) refused[i].families, strerror(-r),
                      step ? step : "(null)");
                ProcStatus st;
                CHECK(p, proc_status_read(0, &st) == 0 && st.seccomp == 0, "a refused policy changed the process");
        }
        return true;
}

Test(sandbox_families, dispatcher_and_launcher_take_no_families) {
        Peers peers;

        peers_init(&peers);
        run_in_child(probe_refused, &peers, NULL);
        peers_done(&peers);
}

/* The dispatcher connects nowhere, with or without upstreams elsewhere. */
static bool probe_dispatcher(Probe *p, const Peers *peers, const void *userdata) {
        SandboxPolicy pol = {
                .change_ids = geteuid() == 0, .uid = NOBODY, .gid = NOBODY, .profile = SANDBOX_PROFILE_DISPATCHER};
        const char *step = NULL;
        int r = sandbox_apply(&pol, &step);
        (void) userdata;

        CHECK(p, r == 0, "dispatcher: sandbox_apply: %s at %s", strerror(-r), step ? step : "(null)");
        CHECK(p,
              FAILS_WITH(
                      connect(peers->tcp_before, (const struct sockaddr *) &peers->tcp_addr, sizeof(peers->tcp_addr)),
                      ENOSYS),
              "dispatcher: connect(): %m");
        CHECK(p, FAILS_WITH(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), EAFNOSUPPORT), "dispatcher: socket: %m");
        CHECK(p, FAILS_WITH(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), EAFNOSUPPORT),
              "dispatcher: socket(AF_UNIX): %m");
        return true;
}

Test(sandbox_families, dispatcher_connects_nowhere) {
        Peers peers;

        peers_init(&peers);
        run_in_child(probe_dispatcher, &peers, NULL);
        peers_done(&peers);
}
