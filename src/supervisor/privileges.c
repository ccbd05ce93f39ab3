/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "supervisor/privileges.h"

/* Capability numbers are probed up to this bound: the kernel may know more than our headers. */
#define PRIVILEGES_CAP_PROBE_MAX 64

typedef struct CapSets {
        uint64_t prm, eff, inh;
} CapSets;

uint64_t privileges_needed(bool root) {
        return root ? PRIVILEGES_ROOT_CAPS : 0;
}

static int caps_get(CapSets *ret) {
        struct __user_cap_header_struct head = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

        if (capget(&head, d) < 0)
                return -errno;
        *ret = (CapSets) {
                .prm = d[0].permitted | (uint64_t) d[1].permitted << 32,
                .eff = d[0].effective | (uint64_t) d[1].effective << 32,
                .inh = d[0].inheritable | (uint64_t) d[1].inheritable << 32,
        };
        return 0;
}

static int caps_set(const CapSets *s) {
        struct __user_cap_header_struct head = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {
                { .effective = (uint32_t) s->eff, .permitted = (uint32_t) s->prm, .inheritable = (uint32_t) s->inh },
                { .effective = (uint32_t) (s->eff >> 32),
                  .permitted = (uint32_t) (s->prm >> 32),
                  .inheritable = (uint32_t) (s->inh >> 32) },
        };

        return capset(&head, d) < 0 ? -errno : 0;
}

static int bounding_get(uint64_t *ret) {
        uint64_t mask = 0;

        for (unsigned long cap = 0; cap < PRIVILEGES_CAP_PROBE_MAX; cap++) {
                int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
                if (r < 0) {
                        if (errno == EINVAL) /* past the last capability this kernel knows */
                                break;
                        return -errno;
                }
                if (r > 0)
                        mask |= PRIVILEGES_CAP_BIT(cap);
        }
        *ret = mask;
        return 0;
}

/* Drop every bit of the bounding set outside keep. Without CAP_SETPCAP the kernel refuses each
 * drop (EPERM): the set then stays as it is, which is harmless once the permitted set holds
 * nothing more than keep and no_new_privs is set, as nothing can bring a bit of it back. */
static int bounding_limit(uint64_t have, uint64_t keep) {
        for (unsigned long cap = 0; cap < PRIVILEGES_CAP_PROBE_MAX; cap++)
                if ((have & ~keep & PRIVILEGES_CAP_BIT(cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
                    errno != EPERM)
                        return -errno;
        return 0;
}

static int no_new_privs_set(void) {
        if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
                return 0;
        return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
}

static int caps_limit(uint64_t keep) {
        CapSets cur, want;
        uint64_t bounding;
        int r;

        r = caps_get(&cur);
        if (r < 0)
                return r;
        r = bounding_get(&bounding);
        if (r < 0)
                return r;

        /* The ambient set must go first: the kernel keeps it a subset of permitted and inheritable,
         * and clearing it explicitly also covers a kernel without it (EINVAL). */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return -errno;

        /* Only CAP_SETPCAP can shrink the bounding set; without it there is nothing to try. */
        const uint64_t setpcap = PRIVILEGES_CAP_BIT(CAP_SETPCAP);
        bool raised = false;
        if ((bounding & ~keep) && (cur.prm & setpcap)) {
                /* PR_CAPBSET_DROP wants it effective, not merely permitted. */
                if (!(cur.eff & setpcap)) {
                        CapSets with = cur;
                        with.eff |= setpcap;
                        r = caps_set(&with);
                        if (r < 0)
                                return r;
                        raised = true;
                }
                r = bounding_limit(bounding, keep);
                if (r < 0)
                        return r;
        }

        /* No capset() when nothing changes: an unprivileged service may be denied the call. */
        want = (CapSets) { .prm = cur.prm & keep, .eff = cur.prm & keep, .inh = 0 };
        if (want.prm != cur.prm || want.eff != cur.eff || want.inh != cur.inh || raised) {
                r = caps_set(&want);
                if (r < 0)
                        return r;
        }

        /* Read it back as the kernel has it, as `mpmctl audit` will. */
        r = caps_get(&cur);
        if (r < 0)
                return r;
        if (cur.prm != want.prm || cur.eff != want.eff || cur.inh != 0)
                return -EPERM;
        for (unsigned long cap = 0; cap < PRIVILEGES_CAP_PROBE_MAX; cap++) {
                r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
                if (r < 0 && errno == EINVAL)
                        break;
                if (r != 0)
                        return -EPERM;
        }
        r = bounding_get(&bounding);
        if (r < 0)
                return r;
        /* Only CAP_SETPCAP could have dropped what is left: with it, nothing may be. */
        if ((bounding & ~keep) && (want.prm & PRIVILEGES_CAP_BIT(CAP_SETPCAP)))
                return -EPERM;
        return 0;
}

int privileges_restrict(bool keep_bind) {
        uint64_t keep = privileges_needed(geteuid() == 0);
        int r;

        if (keep_bind)
                keep |= PRIVILEGES_CAP_BIT(CAP_NET_BIND_SERVICE);
        r = caps_limit(keep);
        if (r < 0)
                return r;
        r = no_new_privs_set();
        if (r < 0)
                return r;
        return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : -EPERM;
}

int privileges_drop_bind(void) {
        return caps_limit(privileges_needed(geteuid() == 0));
}
