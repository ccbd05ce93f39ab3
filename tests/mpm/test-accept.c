/* SPDX-License-Identifier: MIT */
/* The accept policy at the descriptor limit (accept.h): one pause per failed accept, one episode
 * from the first failure to the next accept that works, logged once when it begins and once when
 * it ends, never once per failure. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpm/accept.h"
#include "shared/log.h"

#define MS USEC_PER_MSEC

Test(accept, an_episode_begins_once_and_pauses_each_time) {
        AcceptPause p;
        unsigned periods;
        usec_t duration;

        accept_pause_init(&p);
        cr_assert(accept_pause_over(&p, 1000 * MS, 0), "no pause before any failure");
        cr_assert_not(accept_pause_end(&p, 1000 * MS, &periods, &duration), "no episode to end");

        cr_assert(accept_pause_begin(&p, 1000 * MS, 5), "the first failure begins an episode");
        cr_assert_not(accept_pause_over(&p, 1000 * MS + ACCEPT_PAUSE_USEC - 1, 5));
        cr_assert_eq(accept_pause_left(&p, 1100 * MS), ACCEPT_PAUSE_USEC - 100 * MS);
        cr_assert(accept_pause_over(&p, 1000 * MS + ACCEPT_PAUSE_USEC, 5), "the pause ends on time");

        /* Another thread that failed in the same pause: the same period. */
        cr_assert_not(accept_pause_begin(&p, 1200 * MS, 5));
        cr_assert_eq(p.periods, 1);
        cr_assert_eq(p.until, 1000 * MS + ACCEPT_PAUSE_USEC);

        /* Tried again, still at the limit: paused again, and no new episode to log. */
        cr_assert_not(accept_pause_begin(&p, 1600 * MS, 5));
        cr_assert_not(accept_pause_begin(&p, 2200 * MS, 5));
        cr_assert_not(accept_pause_over(&p, 2300 * MS, 5));
        cr_assert(accept_pause_over(&p, 2300 * MS, 4), "a connection that ended frees a descriptor");

        cr_assert(accept_pause_end(&p, 2800 * MS, &periods, &duration));
        cr_assert_eq(periods, 3);
        cr_assert_eq(duration, 1800 * MS);
        cr_assert_not(accept_pause_end(&p, 2900 * MS, &periods, &duration), "ended once");
        cr_assert(accept_pause_over(&p, 2900 * MS, 0));
        cr_assert_eq(accept_pause_left(&p, 2900 * MS), 0);

        cr_assert(accept_pause_begin(&p, 5000 * MS, 0), "a later failure is a new episode");
        accept_pause_done(&p);
}

static int count(const char *text, const char *what) {
        int n = 0;
        for (const char *s = text; (s = strstr(s, what)); s += strlen(what))
                n++;
        return n;
}

static char *read_all(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf = calloc(1, 65536);
        cr_assert(f && buf);
        size_t n = fread(buf, 1, 65535, f);
        buf[n] = 0;
        fclose(f);
        return buf;
}

/* A real listener and a process out of descriptors: ten failed accepts are one episode, one line
 * when it begins, one when the next accept works, which says how many pauses it took. */
Test(accept, at_the_descriptor_limit_the_log_says_it_once_per_episode) {
        char logpath[] = "/tmp/mpmd-test-accept-XXXXXX";
        int logfd = mkstemp(logpath);
        cr_assert(logfd >= 0);
        cr_assert_eq(log_open(logpath), 0);

        int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        cr_assert(lfd >= 0);
        cr_assert_eq(bind(lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        cr_assert_eq(listen(lfd, 16), 0);
        cr_assert_eq(getsockname(lfd, (struct sockaddr *) &sa, &len), 0);
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_eq(connect(c, (struct sockaddr *) &sa, sizeof(sa)), 0);

        Listener l = { .fd = lfd, .name = "test" };
        AcceptPause p;
        accept_pause_init(&p);

        /* No descriptor left: the soft limit at the highest one in use. */
        struct rlimit old, low;
        cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
        int top = dup(0);
        cr_assert(top >= 0);
        close(top);
        low = (struct rlimit) { .rlim_cur = (rlim_t) top, .rlim_max = old.rlim_max };
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
        for (int i = 0; i < 10; i++)
                cr_assert_eq(mpm_accept(&p, &l, (usec_t) (1000 + i * 600) * MS, 3, NULL, NULL), -EMFILE);
        cr_assert(p.in_episode);
        cr_assert_eq(p.periods, 10);
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);

        struct sockaddr_storage peer;
        socklen_t plen;
        int fd = mpm_accept(&p, &l, 8000 * MS, 2, &peer, &plen);
        cr_assert(fd >= 0, "accepts again: %s", strerror(-fd));
        cr_assert_eq(peer.ss_family, AF_INET);
        cr_assert_eq(plen, sizeof(struct sockaddr_in));
        cr_assert_eq(mpm_accept(&p, &l, 8100 * MS, 2, NULL, NULL), -EAGAIN, "nothing else waits");

        char *text = read_all(logpath);
        cr_assert_eq(count(text, "pausing accepts"), 1, "%s", text);
        cr_assert_eq(count(text, "accept on test: Too many open files; pausing accepts (descriptor limit reached) "
                                 "while 3 connection(s) are open"), 1, "%s", text);
        cr_assert_eq(count(text, "accepting on test again after 10 paused period(s) over 7000 ms"), 1, "%s", text);
        free(text);
        log_close();
        unlink(logpath);
        close(fd);
        close(c);
        close(lfd);
        close(logfd);
        accept_pause_done(&p);
}
