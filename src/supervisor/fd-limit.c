/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/fd-limit.h"
#include "mpm/mpm.h"

/* fs.nr_open: RLIMIT_NOFILE may not be set above it, whatever the hard limit says. */
static rlim_t nr_open(void) {
        char buf[32];
        uint64_t v;
        ssize_t n;
        int fd;

        fd = open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return RLIM_INFINITY;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return RLIM_INFINITY;
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        if (parse_uint64(buf, &v) < 0 || v == 0)
                return RLIM_INFINITY;
        return (rlim_t) v;
}

int fd_limit_raise(rlim_t *ret_limit) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        rlim_t want = rl.rlim_max;
        rlim_t cap = nr_open();
        if (want == RLIM_INFINITY || (cap != RLIM_INFINITY && want > cap))
                want = cap;
        if (want != RLIM_INFINITY && want > rl.rlim_cur) {
                struct rlimit raised = { .rlim_cur = want, .rlim_max = rl.rlim_max };
                if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
                        rl.rlim_cur = want;
        }
        *ret_limit = rl.rlim_cur;
        return 0;
}

static const struct {
        const char *key;
        unsigned fds_per_connection;
} connection_keys[] = {
        { "WorkerConnections", 2 },
        { "DispatcherConnections", 1 },
};

void fd_limit_check(const Config *c, rlim_t limit, ConfErrors *warnings) {
        if (!c->mpm || !c->mpm->directives || !c->mpm_config || limit == RLIM_INFINITY)
                return;
        for (size_t i = 0; i < ELEMENTSOF(connection_keys); i++) {
                const ConfItem *item = conf_table_find(c->mpm->directives, connection_keys[i].key);
                if (!item || item->type != CONF_UINT)
                        continue;
                uint32_t value = *(const uint32_t *) ((const char *) c->mpm_config + item->offset);
                uint64_t per = connection_keys[i].fds_per_connection;
                uint64_t need = (uint64_t) value * per + FD_LIMIT_RESERVED;
                if (need <= (uint64_t) limit)
                        continue;
                uint64_t fit = limit > FD_LIMIT_RESERVED ? ((uint64_t) limit - FD_LIMIT_RESERVED) / per : 0;
                conf_errors_add(warnings, NULL, 0,
                                "[%s] %s = %u needs up to %llu file descriptors per process (%llu per connection and "
                                "%u of its own), more than the limit of %llu (RLIMIT_NOFILE, LimitNOFILE= in a unit): "
                                "connections past about %llu wait until others close; raise the limit or lower %s",
                                c->mpm->name, item->key, value, (unsigned long long) need, (unsigned long long) per,
                                FD_LIMIT_RESERVED, (unsigned long long) limit, (unsigned long long) fit, item->key);
        }
}
