/* SPDX-License-Identifier: MIT */
/* cgi-launcher-start.c — starting one program in its sandbox, and the programs' TMPDIR
 * (cgi-launcher-start.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpm/cgi-launcher-start.h"
#include "mpm/cgi-launcher-program.h"
#include "shared/log.h"
#include "shared/time-util.h"

/* Async-signal-safe: runs between fork() and exec. fds: script, dir, stdin, stdout (the request's),
 * err: the write end of the stderr pipe. */
static _noreturn_ void launcher_child(const Launcher *l, const int *fds, int err, char **argv, char **envp,
                                     int err_pipe) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        int from[5] = { fds[FD_SCRIPT], fds[FD_DIR], fds[FD_STDIN], fds[FD_STDOUT], err };
        int moved[5], e, r;
        sigset_t none;

        if (setsid() < 0)
                goto fail;
        /* The leader at least dies with a launcher that is killed outright (its orphans are killed
         * by the launcher itself, which a SIGKILL does not let run). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                goto fail;
        if (getppid() != l->pid)
                _exit(127);
        r = site_limits_apply(&l->limits);
        if (r < 0) {
                errno = -r;
                goto fail;
        }
        for (int sig = 1; sig < NSIG; sig++)
                (void) sigaction(sig, &dfl, NULL); /* SIGKILL, SIGSTOP and the RT signals libc keeps fail */
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                goto fail;

        /* Move every fd above 2 first, so the dup2()s below cannot overwrite one not yet moved. Every
         * other descriptor of the launcher (the site's error log, its own, the other programs'
         * pipes, its sockets) is close-on-exec: the program gets 0, 1 and 2 and nothing else. */
        for (int i = 0; i < 5; i++) {
                moved[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 3);
                if (moved[i] < 0)
                        goto fail;
        }
        if (dup2(moved[2], 0) < 0 || dup2(moved[3], 1) < 0 || dup2(moved[4], 2) < 0)
                goto fail;
        if (fchdir(moved[1]) < 0)
                goto fail;
        /* mpmd runs with its hard descriptor limit as the soft one; a program may use select(),
         * whose sets end at FD_SETSIZE: it gets that soft limit back, as systemd gives a service,
         * and may raise it itself. */
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur > FD_SETSIZE) {
                nofile.rlim_cur = FD_SETSIZE;
                (void) setrlimit(RLIMIT_NOFILE, &nofile);
        }

        syscall(SYS_execveat, moved[0], "", argv, envp, AT_EMPTY_PATH);
        if (errno == ENOENT) {
                /* A #! script: the interpreter opens /dev/fd/N, which a close-on-exec fd does not
                 * survive. Only then does the program inherit the fd. */
                if (fcntl(moved[0], F_SETFD, 0) < 0)
                        goto fail;
                syscall(SYS_execveat, moved[0], "", argv, envp, AT_EMPTY_PATH);
        }
fail:
        e = errno;
        (void) !write(err_pipe, &e, sizeof(e));
        _exit(127);
}

/* The request's environment with TMPDIR ours (whatever the request said): malloc'd, NULL on -ENOMEM.
 * Built before the fork: nothing between fork and exec allocates. */
static char **launcher_envp(const Launcher *l, char **envp) {
        size_t n = 0, k = 0;
        char **v;

        while (envp[n])
                n++;
        v = calloc(n + 2, sizeof(char *));
        if (!v)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (strncmp(envp[i], "TMPDIR=", 7) != 0)
                        v[k++] = envp[i];
        v[k] = l->tmpdir_env;
        return v;
}

int launcher_start(Launcher *l, const CgiWireRequest *h, const LaunchStrings *s, int *fds, pid_t *ret_pid) {
        _cleanup_close_ int err_read = -1, err_write = -1, stderr_read = -1, stderr_write = -1;
        _cleanup_free_ char **envp = NULL;
        Program *p = NULL;
        int pipefd[2], e = 0, r;
        ssize_t n;
        pid_t pid;

        if (l->draining || l->n_programs >= l->max_programs)
                return -EBUSY; /* not -EAGAIN: to a client, that means "no answer yet" */
        Program **grown = realloc(l->programs, (l->n_programs + 1) * sizeof(Program *));
        if (!grown)
                return -ENOMEM;
        l->programs = grown;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        err_read = pipefd[0];
        err_write = pipefd[1];
        /* The program's stderr: a pipe of its own, never a log file. Only our end is non-blocking. */
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        stderr_read = pipefd[0];
        stderr_write = pipefd[1];
        if (fcntl(stderr_read, F_SETFL, O_NONBLOCK) < 0)
                return -errno;
        if (l->tmpdir_env) {
                envp = launcher_envp(l, s->envp);
                if (!envp)
                        return -ENOMEM;
        }
        p = program_new(l, s, &fds[FD_ERROR_LOG]);
        if (!p)
                return -ENOMEM;

        pid = fork();
        if (pid < 0) {
                /* EAGAIN: the site is at MaxProcesses (or the machine at its pid limit). Not -EAGAIN
                 * to the client, which reads that as "no answer yet". */
                r = errno == EAGAIN ? -EBUSY : -errno;
                program_free(l, p);
                return r;
        }
        if (pid == 0)
                launcher_child(l, fds, stderr_write, s->argv, envp ? envp : s->envp, err_write);
        err_write = safe_close(err_write);
        stderr_write = safe_close(stderr_write);

        /* EOF: the exec succeeded (the pipe closed with it); an int: the child's errno. */
        do
                n = read(err_read, &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t) sizeof(e)) {
                (void) waitpid(pid, NULL, 0);
                program_free(l, p);
                return e > 0 ? -e : -EIO;
        }

        usec_t now = now_usec(CLOCK_MONOTONIC);
        p->pgid = pid;
        p->state = PROGRAM_RUNNING;
        p->deadline = h->timeout_usec > 0 ? now + h->timeout_usec : USEC_INFINITY;
        p->err_fd = TAKE_FD(stderr_read);
        if (program_watch(l, p) < 0)
                /* Unread, the pipe fills and the program blocks on it until CGITimeout: rather
                 * read nothing at all than that. */
                p->err_fd = safe_close(p->err_fd);
        l->programs[l->n_programs++] = p;
        launcher_arm_timer(l);
        *ret_pid = pid;
        return 0;
}

/* ---- the programs' TMPDIR ------------------------------------------------------------------- */

static int rm_rf_at(int dfd, unsigned depth) {
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (depth > 64) {
                close(dfd);
                return -ELOOP;
        }
        d = fdopendir(dfd);
        if (!d) {
                r = -errno;
                close(dfd);
                return r;
        }
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) == 0)
                        continue;
                if (errno != EISDIR && errno != EPERM) {
                        r = -errno;
                        continue;
                }
                int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0) {
                        r = -errno;
                        continue;
                }
                int k = rm_rf_at(sub, depth + 1);
                if (k < 0)
                        r = k;
                else if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0)
                        r = -errno;
        }
        closedir(d);
        return r;
}

/* The directories of earlier launchers of the same name and user that ended without removing theirs
 * (killed outright): nobody holds their lock any more. One younger than a few seconds may be a
 * launcher's that has not locked it yet, and is left. */
static void launcher_tmpdir_clean_stale(const Launcher *l, const char *name) {
        usec_t now = now_usec(CLOCK_REALTIME);
        size_t n = strlen(name);
        struct dirent *de;
        DIR *d = opendir("/tmp");

        if (!d)
                return;
        while ((de = readdir(d))) {
                struct stat st;

                if (strncmp(de->d_name, name, n) != 0 || de->d_name[n] != '-' || strlen(de->d_name + n + 1) != 6 ||
                    strcmp(de->d_name, strrchr(l->tmpdir, '/') + 1) == 0)
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
                    st.st_uid != getuid() || (usec_t) st.st_mtim.tv_sec * USEC_PER_SEC + 10 * USEC_PER_SEC > now)
                        continue;
                int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        continue;
                if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                        int sub = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                        if (sub >= 0 && rm_rf_at(sub, 0) >= 0)
                                (void) unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
                }
                close(fd);
        }
        closedir(d);
}

/* /tmp/NAME-XXXXXX, made by the launcher itself, so it is the site's own (mode 0700). NAME is
 * cleaned to letters, digits, '.', '-' and '_'. */
int launcher_tmpdir_create(Launcher *l, const char *name) {
        char clean[80];
        size_t n = 0;

        for (; name[n] && n < sizeof(clean) - 1; n++) {
                char c = name[n];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                          c == '-' || c == '_';
                clean[n] = ok ? c : '_';
        }
        clean[n] = 0;
        if (asprintf(&l->tmpdir, "/tmp/%s-XXXXXX", clean) < 0) {
                l->tmpdir = NULL;
                return -ENOMEM;
        }
        if (!mkdtemp(l->tmpdir)) {
                int r = -errno;
                l->tmpdir = mfree(l->tmpdir);
                return r;
        }
        l->tmpdir_fd = open(l->tmpdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (l->tmpdir_fd < 0 || flock(l->tmpdir_fd, LOCK_EX) < 0) {
                int r = -errno;
                l->tmpdir_fd = safe_close(l->tmpdir_fd);
                (void) rmdir(l->tmpdir);
                l->tmpdir = mfree(l->tmpdir);
                return r;
        }
        launcher_tmpdir_clean_stale(l, clean);
        if (asprintf(&l->tmpdir_env, "TMPDIR=%s", l->tmpdir) < 0) {
                l->tmpdir_env = NULL;
                (void) rmdir(l->tmpdir);
                l->tmpdir = mfree(l->tmpdir);
                return -ENOMEM;
        }
        return 0;
}

void launcher_tmpdir_remove(Launcher *l) {
        if (!l->tmpdir)
                return;
        int fd = open(l->tmpdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r = fd < 0 ? -errno : rm_rf_at(fd, 0);
        if (r >= 0 && rmdir(l->tmpdir) < 0)
                r = -errno;
        if (r < 0)
                log_warning_errno(r, "Cannot remove the programs' TMPDIR %s: %m", l->tmpdir);
        l->tmpdir = mfree(l->tmpdir);
        l->tmpdir_env = mfree(l->tmpdir_env);
        l->tmpdir_fd = safe_close(l->tmpdir_fd);
}
