/* SPDX-License-Identifier: MIT */
/* agent-check.c — HAProxy's agent protocol from the supervisor's loop (see agent-check.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/macro.h"
#include "supervisor/agent-check.h"
#include "supervisor/listeners.h"

struct AgentCheck {
        int fd;
        sd_event_source *source;
        AgentCheckStateFn state;
        void *userdata;
};

size_t agent_check_format(AgentState state, unsigned percent, char *buf, size_t size) {
        int n;

        switch (state) {
        case AGENT_READY:
                n = snprintf(buf, size, "ready up %u%%\n", percent < 1 ? 1 : percent > 100 ? 100 : percent);
                break;
        case AGENT_DRAIN:
                n = snprintf(buf, size, "drain\n");
                break;
        case AGENT_MAINT:
                n = snprintf(buf, size, "maint\n");
                break;
        default:
                n = snprintf(buf, size, "down\n");
                break;
        }
        return n < 0 ? 0 : (size_t) n >= size ? size - 1 : (size_t) n;
}

unsigned agent_check_percent(unsigned capacity, unsigned in_use) {
        if (capacity == 0 || in_use >= capacity)
                return 1;
        /* Rounded down, so that 1 of 2 slots free is 50 %, and never 0 while any is free. */
        unsigned p = (unsigned) ((uint64_t) (capacity - in_use) * 100 / capacity);
        return p < 1 ? 1 : p;
}

static int on_agent_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        AgentCheck *a = userdata;

        for (unsigned i = 0; i < AGENT_CHECK_ACCEPT_BURST; i++) {
                int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (c < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                /* EMFILE and the like: the loop comes back, the queue waits. */
                                log_debug_errno(errno, "agent-check: accept failed: %m");
                        break;
                }
                char line[AGENT_CHECK_LINE_MAX];
                unsigned percent = 0;
                AgentState st = a->state(a->userdata, &percent);
                size_t n = agent_check_format(st, percent, line, sizeof(line));
                /* A fresh socket's send buffer holds it: the write does not wait, and a client
                 * that went already only makes it fail. */
                (void) send(c, line, n, MSG_DONTWAIT | MSG_NOSIGNAL);
                close(c);
        }
        return 0;
}

int agent_check_open(sd_event *event, const char *address, AgentCheckStateFn state, void *userdata,
                     AgentCheck **ret) {
        AgentCheck *a = calloc(1, sizeof(*a));
        int r;

        if (!a)
                return -ENOMEM;
        *a = (AgentCheck) { .fd = -1, .state = state, .userdata = userdata };
        a->fd = listener_bind_address(address, 128, false);
        if (a->fd < 0) {
                r = a->fd;
                free(a);
                return r;
        }
        r = sd_event_add_io(event, &a->source, a->fd, EPOLLIN, on_agent_accept, a);
        if (r >= 0)
                r = sd_event_source_set_priority(a->source, SD_EVENT_PRIORITY_IDLE);
        if (r < 0) {
                agent_check_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

AgentCheck *agent_check_free(AgentCheck *a) {
        if (!a)
                return NULL;
        sd_event_source_disable_unref(a->source);
        if (a->fd >= 0)
                close(a->fd);
        free(a);
        return NULL;
}
