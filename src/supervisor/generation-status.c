/* SPDX-License-Identifier: MIT */
/* generation-status.c — a generation's status segments: the server's one (made with the generation)
 * and, under an MPM with status groups, one per group (made before its first fork); published once
 * a second from the validated scoreboard (status-view.h does the aggregation), unmapped when the
 * generation goes. Workers see them read-only. Also what the supervisor reads of the scoreboards
 * (each segment validated, its counters held to the plausible) and says to systemd (STATUS=). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "supervisor/generation-status.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "supervisor/site-failure.h"
#include "supervisor/status-view.h"

/* A status segment: written here, mapped read-only by workers. Sealed so that no writable mapping
 * can be made after ours; each worker drops its inherited copy of ours (worker_forget_supervisor). */
/* The node's state for load balancers (status.h): the supervisor's, whichever generation shows it. */
static HttpNodeState sg_node_state(const Supervisor *s) {
        return s->stopping ? HTTP_NODE_STOPPING : s->drained ? HTTP_NODE_DRAINED : HTTP_NODE_SERVING;
}

static int status_segment_create(const SupGeneration *sg, HttpStatusData **ret_rw, const HttpStatusData **ret_ro) {
        size_t size = HTTP_STATUS_SEGMENT_SIZE;
        HttpStatusData *rw = NULL;
        int fd, r = 0;

        fd = memfd_create("mpmd-status", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t) size) < 0)
                r = -errno;
        if (r == 0) {
                rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (rw == MAP_FAILED) {
                        rw = NULL;
                        r = -errno;
                }
        }
        if (r == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
                r = -errno;
        if (r == 0) {
                const void *ro = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
                if (ro == MAP_FAILED)
                        r = -errno;
                else
                        *ret_ro = ro;
        }
        close(fd);
        if (r < 0) {
                if (rw)
                        munmap(rw, size);
                return r;
        }
        snprintf(rw->mpm, sizeof(rw->mpm), "%s", sg->g.ops->name);
        snprintf(rw->server_built, sizeof(rw->server_built), "%s %s", __DATE__, __TIME__);
        rw->generation = sg->g.number;
        rw->restart_time = (int64_t) time(NULL);
        /* From the start: a reload's new generation serves a drained node's health page at once. */
        rw->node_state = sg_node_state(sg->sup);
        *ret_rw = rw;
        return 0;
}

int generation_status_create(SupGeneration *sg) {
        return status_segment_create(sg, &sg->status, &sg->status_ro);
}

static void generation_status_groups_free(SupGeneration *sg) {
        size_t size = HTTP_STATUS_SEGMENT_SIZE;

        for (unsigned k = 0; sg->g.status_groups && k < sg->g.n_status_groups; k++) {
                if (sg->group_status[k])
                        munmap(sg->group_status[k], size);
                if (sg->g.status_groups[k])
                        munmap((void *) sg->g.status_groups[k], size);
        }
        free(sg->group_status);
        free(sg->g.status_groups);
        free(sg->group_retired);
        free(sg->slot_group);
        sg->group_status = NULL;
        sg->g.status_groups = NULL;
        sg->g.n_status_groups = 0;
        sg->group_retired = NULL;
        sg->slot_group = NULL;
}

/* Under an MPM with status groups, each group's sites are shown a segment of their own, published
 * from the group's slots only: a tenant's status page never carries another tenant's figures. */
int generation_status_groups_create(SupGeneration *sg) {
        Generation *g = &sg->g;
        unsigned n;
        int r = 0;

        if (sg->slot_group || !g->ops->status_groups || !g->ops->status_group)
                return 0;
        n = g->ops->status_groups(g);
        sg->slot_group = calloc(MAX(g->n_procs, 1u), sizeof(int));
        sg->group_status = calloc(MAX(n, 1u), sizeof(HttpStatusData *));
        sg->group_retired = calloc(MAX(n, 1u), sizeof(ProcessScore));
        g->status_groups = calloc(MAX(n, 1u), sizeof(HttpStatusData *));
        if (!sg->slot_group || !sg->group_status || !sg->group_retired || !g->status_groups)
                r = -ENOMEM;
        for (unsigned i = 0; r >= 0 && i < g->n_procs; i++) {
                int k = g->ops->status_group(g, i);
                sg->slot_group[i] = k >= 0 && (unsigned) k < n ? k : -1;
        }
        for (unsigned k = 0; r >= 0 && k < n; k++) {
                r = status_segment_create(sg, &sg->group_status[k], &g->status_groups[k]);
                if (r >= 0)
                        g->n_status_groups = k + 1;
        }
        if (r < 0)
                generation_status_groups_free(sg); /* all or nothing: the next spawn tries again */
        return r;
}

void generation_status_free(SupGeneration *sg) {
        size_t size = HTTP_STATUS_SEGMENT_SIZE;
        if (sg->status)
                munmap(sg->status, size);
        if (sg->status_ro)
                munmap((void *) sg->status_ro, size);
        sg->status = NULL;
        sg->status_ro = NULL;
        generation_status_groups_free(sg);
}

static double timeval_seconds(const struct timeval *tv) {
        return (double) tv->tv_sec + (double) tv->tv_usec / 1e6;
}

/* The CPU fields of /proc/PID/stat (14-17: utime stime cutime cstime). pid is the supervisor's own
 * record of a process it forked and has not reaped yet, never one read from a scoreboard: so it
 * cannot name another process, even when the worker has exited (a zombie keeps its figures). */
static int proc_cpu_read(pid_t pid, CpuTicks *ret) {
        char path[64], buf[1024];
        unsigned long long ut, st;
        long long cut, cst;
        _cleanup_close_ int fd = -1;
        ssize_t n;

        if (pid <= 0)
                return -EINVAL;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        /* The command name may hold anything, ')' included: the fields start after the last one. */
        const char *e = strrchr(buf, ')');
        if (!e || sscanf(e + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &ut, &st, &cut,
                         &cst) != 4)
                return -EBADMSG;
        *ret = (CpuTicks) { .utime = ut, .stime = st, .cutime = cut > 0 ? (uint64_t) cut : 0,
                            .cstime = cst > 0 ? (uint64_t) cst : 0 };
        return 0;
}

static void cpu_ticks_add(CpuTicks *t, const CpuTicks *a) {
        t->utime += a->utime;
        t->stime += a->stime;
        t->cutime += a->cutime;
        t->cstime += a->cstime;
}

void generation_status_reaped(SupGeneration *sg, pid_t pid) {
        CpuTicks c;
        int r = proc_cpu_read(pid, &c);

        if (r < 0) {
                log_debug_errno(r, "generation %u: cannot read the CPU time of exited worker %d: %m", sg->g.number,
                                (int) pid);
                return;
        }
        cpu_ticks_add(&sg->sup->reaped_cpu, &c);
}

static void generation_cpu_add(const SupGeneration *sg, CpuTicks *t) {
        for (unsigned i = 0; sg && i < sg->g.n_procs; i++) {
                const ProcessSlot *p = &sg->g.procs[i];
                CpuTicks c;

                if (p->state != PROCESS_FREE && p->pid > 0 && proc_cpu_read(p->pid, &c) >= 0)
                        cpu_ticks_add(t, &c);
        }
}

/* The server's CPU time as mod_status counts it, in seconds: [0] [1] user and system time of the
 * workers (every live one of every generation, and every one reaped so far) and of the supervisor;
 * [2] [3] that of the processes they waited for, and of the supervisor's other children (CGI
 * launchers), the workers themselves taken out of the supervisor's RUSAGE_CHILDREN. */
static void server_cpu(const Supervisor *s, double cpu[4]) {
        CpuTicks live = {}, all;
        struct rusage self, children;
        double tick = (double) sysconf(_SC_CLK_TCK);

        if (tick <= 0 || getrusage(RUSAGE_SELF, &self) < 0 || getrusage(RUSAGE_CHILDREN, &children) < 0)
                return;
        generation_cpu_add(s->current, &live);
        if (s->pending != s->current)
                generation_cpu_add(s->pending, &live);
        for (const SupGeneration *g = s->draining; g; g = g->next)
                generation_cpu_add(g, &live);
        all = live;
        cpu_ticks_add(&all, &s->reaped_cpu);
        cpu[0] = timeval_seconds(&self.ru_utime) + (double) all.utime / tick;
        cpu[1] = timeval_seconds(&self.ru_stime) + (double) all.stime / tick;
        /* A reaped worker's share of RUSAGE_CHILDREN is its own time and its children's: the first
         * is counted above already. (Ticks and rusage round differently: never below zero.) */
        cpu[2] = MAX(timeval_seconds(&children.ru_utime) - (double) s->reaped_cpu.utime / tick, 0.0) +
                 (double) live.cutime / tick;
        cpu[3] = MAX(timeval_seconds(&children.ru_stime) - (double) s->reaped_cpu.stime / tick, 0.0) +
                 (double) live.cstime / tick;
}

/* One segment (seqlock: odd while writing), with the node's state (sup's). s: the server's CPU
 * time (cpu) and reloads, for the server's view only (a tenant is not told how busy the others
 * keep the machine); NULL leaves them 0. */
static void status_segment_publish(HttpStatusData *d, const StatusSource *src, int group, const ProcessScore *retired,
                                   const Supervisor *sup, const Supervisor *s, const double cpu[4]) {
        __atomic_add_fetch(&d->seq, 1, __ATOMIC_RELEASE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        status_view_fill(d, src, group, retired);
        /* Every segment: a site's pool answers ?health for the node too. */
        d->node_state = sg_node_state(sup);
        if (s) {
                d->reloads_ok = s->reloads_ok;
                d->reloads_partial = s->reloads_partial;
                d->reloads_failed = s->reloads_failed;
                d->cpu_user = cpu[0];
                d->cpu_system = cpu[1];
                d->cpu_children_user = cpu[2];
                d->cpu_children_system = cpu[3];
        }
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        __atomic_add_fetch(&d->seq, 1, __ATOMIC_RELEASE);
}

/* Does the generation serve HTTPS? By its listeners, not by its store: under perchild the pools
 * hold the keys, and the supervisor's own store may be none. */
static bool generation_has_tls(const SupGeneration *sg) {
        if (sg->g.tls)
                return true;
        for (size_t i = 0; i < sg->g.n_listeners; i++)
                if (sg->g.listeners[i].tls)
                        return true;
        return false;
}

/* Publish what the scoreboard says, validated, for the status pages: the server's view, and each
 * status group's. */
void generation_status_publish(SupGeneration *sg, const ProcessScore *scores) {
        StatusSource src = { .procs = sg->g.procs, .scores = scores, .slot_group = sg->slot_group,
                             .n_procs = sg->g.n_procs, .tls = generation_has_tls(sg) };
        double cpu[4] = { 0, 0, 0, 0 };

        server_cpu(sg->sup, cpu);
        if (sg->status)
                status_segment_publish(sg->status, &src, -1, &sg->retired, sg->sup, sg->sup, cpu);
        for (unsigned k = 0; sg->group_status && k < sg->g.n_status_groups; k++)
                status_segment_publish(sg->group_status[k], &src, (int) k, &sg->group_retired[k], sg->sup, NULL, NULL);
}

static void segment_set_node_state(HttpStatusData *d, HttpNodeState state) {
        if (!d)
                return;
        __atomic_add_fetch(&d->seq, 1, __ATOMIC_RELEASE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        d->node_state = state;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        __atomic_add_fetch(&d->seq, 1, __ATOMIC_RELEASE);
}

static void generation_set_node_state(SupGeneration *sg, HttpNodeState state) {
        if (!sg)
                return;
        segment_set_node_state(sg->status, state);
        for (unsigned k = 0; sg->group_status && k < sg->g.n_status_groups; k++)
                segment_set_node_state(sg->group_status[k], state);
}

void supervisor_publish_node_state(Supervisor *s) {
        HttpNodeState state = sg_node_state(s);

        generation_set_node_state(s->current, state);
        generation_set_node_state(s->pending, state);
        for (SupGeneration *g = s->draining; g; g = g->next)
                generation_set_node_state(g, state);
}

/* ---- reading the scoreboards ---------------------------------------------------------------- */

/* Read slot's segment (validated, then its counters held to what is plausible: scoreboard.h). A
 * process that reports the implausible is said so once; what it reports is clamped, not trusted. */
void generation_read_slot(SupGeneration *sg, unsigned slot, usec_t now, ProcessScore *ps) {
        const ProcessSlot *p = &sg->g.procs[slot];
        unsigned clamped;

        scoreboard_process_read(sg->g.boards[slot], sg->g.number, sg->workers_per_process, ps);
        if (!ps->valid)
                return;
        clamped = scoreboard_trust_accept(&sg->trust[slot], sg->workers_per_process, now, ps);
        if (clamped && !sg->trust[slot].warned) {
                static const struct {
                        unsigned bit;
                        const char *what;
                } what[] = {
                        { SCOREBOARD_WENT_BACK, "counters going back" },
                        { SCOREBOARD_CLAMPED_REQUESTS, "too many requests" },
                        { SCOREBOARD_CLAMPED_CONNECTIONS, "too many connections" },
                        { SCOREBOARD_CLAMPED_BYTES, "too many bytes" },
                        { SCOREBOARD_CLAMPED_DURATION, "too long durations" },
                        { SCOREBOARD_CLAMPED_HISTOGRAM, "more durations than requests" },
                };
                char list[128] = "";
                size_t n = 0;

                for (size_t i = 0; i < ELEMENTSOF(what); i++)
                        if ((clamped & what[i].bit) && n < sizeof(list))
                                n += (size_t) snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "",
                                                       what[i].what);
                sg->trust[slot].warned = true;
                log_warning("generation %u: worker %u (pid %d) misbehaves: its scoreboard reports the "
                            "implausible (%s); only what it could have served is counted",
                            sg->g.number, slot, (int) p->pid, list);
        }
}

void generation_scoreboard_view(SupGeneration *sg, ScoreboardView *v, ProcessScore *scores, usec_t now) {
        *v = (ScoreboardView) { .n_procs = sg->g.n_procs, .procs = scores };
        for (unsigned i = 0; i < sg->g.n_procs; i++) {
                ProcessScore *ps = &scores[i];
                *ps = (ProcessScore) {};
                if (sg->g.procs[i].state == PROCESS_FREE || !sg->g.boards[i])
                        continue;
                generation_read_slot(sg, i, now, ps);
                if (!ps->valid) {
                        v->invalid++;
                        continue;
                }
                v->ready += ps->ready;
                v->busy += ps->busy;
                v->keepalive += ps->keepalive;
                v->starting += ps->starting;
                v->requests += ps->requests;
                v->bytes += ps->bytes;
                v->tls_hellos_refused += ps->tls_hellos_refused;
                v->tls_names_unrecognized += ps->tls_names_unrecognized;
                v->proxy_refused += ps->proxy_refused;
        }
}


void supervisor_update_status(Supervisor *s) {
        SupGeneration *sg = s->current;
        ProcessScore *scores;
        ScoreboardView v;

        if (!sg)
                return;
        scores = calloc(sg->g.n_procs, sizeof(*scores));
        if (!scores)
                return;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        generation_scoreboard_view(sg, &v, scores, now);
        char failing[96] = "";
        if (sg->g.start_failures > 0)
                snprintf(failing, sizeof(failing), "; %u worker start(s) failed in a row, next attempt in %llu s",
                         sg->g.start_failures,
                         (unsigned long long) (sg->g.spawn_not_before > now
                                                       ? (sg->g.spawn_not_before - now + USEC_PER_SEC - 1) / USEC_PER_SEC
                                                       : 0));
        _cleanup_free_ char *sites = site_failure_describe(s, "; ");
        sd_notifyf(false,
                   "STATUS=generation %u, MPM %s: %u processes, %u busy, %u idle workers, %llu requests%s%s%s%s%s",
                   sg->g.number, sg->g.ops->name, generation_alive(sg), v.busy, v.ready,
                   (unsigned long long) v.requests, failing, sites ? "; " : "", sites ? sites : "",
                   s->last_reload ? "; last reload: " : "", s->last_reload ? s->last_reload : "");
        free(scores);
}

