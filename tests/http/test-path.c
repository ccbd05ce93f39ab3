/* SPDX-License-Identifier: MIT */
/* Tests of the path module: the normalisation table (decoding, dot segments, slashes and every
 * refusal with the errno that picks the status), opening beneath a real temporary tree through
 * openat2 and through the walk fallback (symlinks inside allowed, symlinks and ".." leaving the root
 * refused, permission denied seen by an unprivileged uid), and file extensions. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <linux/openat2.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/macro.h"
#include "http/path.h"

/* ---- http_path_normalize ---- */

typedef struct NormCase {
        char name[48];
        char raw[64];
        int expect; /* 0 or -errno */
        char out[64];
} NormCase;

#define OK(n, r, o) { .name = n, .raw = r, .expect = 0, .out = o }
#define ERR(n, r, e) { .name = n, .raw = r, .expect = -(e) }

static NormCase norm_cases[] = {
        OK("root", "/", "/"),
        OK("plain file", "/index.html", "/index.html"),
        OK("nested", "/a/b/c", "/a/b/c"),
        OK("trailing slash kept", "/dir/", "/dir/"),
        OK("dot segment", "/a/./b", "/a/b"),
        OK("dotdot segment", "/a/../b", "/b"),
        OK("dotdot at end keeps slash", "/a/b/..", "/a/"),
        OK("dot at end keeps slash", "/a/b/.", "/a/b/"),
        OK("dotdot back to root", "/a/..", "/"),
        OK("dot at root", "/./", "/"),
        OK("two dotdots", "/a/b/c/../../d", "/a/d"),
        OK("dot then dotdot", "/a/./../b", "/b"),
        OK("mixed with trailing slash", "/x/./../y/./z/", "/y/z/"),
        OK("encoded dotdot", "/a/%2e%2e/b", "/b"),
        OK("half-encoded dotdot", "/a/.%2e/b", "/b"),
        OK("other half-encoded dotdot", "/a/%2E./b", "/b"),
        OK("encoded dot", "/a/%2e/b", "/a/b"),
        OK("double slash at start", "//x", "/x"),
        OK("repeated slashes", "//a///b", "/a/b"),
        OK("repeated trailing slashes", "/a//", "/a/"),
        OK("empty segment before dotdot", "/a//../b", "/b"),
        OK("space", "/a%20b", "/a b"),
        OK("hex either case", "/%41%62c%4a%4A", "/AbcJJ"),
        OK("encoded percent", "/a%25b", "/a%b"),
        OK("utf-8", "/caf%C3%A9", "/caf\xc3\xa9"),
        OK("three dots is a name", "/...", "/..."),
        OK("dot file", "/.hidden", "/.hidden"),
        OK("dotdot prefix is a name", "/a/..b", "/a/..b"),
        OK("three dots mid-path", "/a/.../b", "/a/.../b"),
        ERR("dotdot at root", "/..", EINVAL),
        ERR("dotdot slash at root", "/../", EINVAL),
        ERR("climb past root", "/a/b/../../..", EINVAL),
        ERR("climb past root later", "/a/../..", EINVAL),
        ERR("climb then descend", "/../a/x", EINVAL),
        ERR("encoded traversal", "/%2e%2e/etc/passwd", EINVAL),
        ERR("encoded traversal upper", "/%2E%2E/etc/passwd", EINVAL),
        ERR("half-encoded traversal", "/.%2E", EINVAL),
        ERR("encoded slash", "/a%2fb", ENOENT),
        ERR("encoded slash upper", "/a%2Fb", ENOENT),
        ERR("encoded slash then dotdot", "/a/%2f/../b", ENOENT),
        ERR("encoded NUL", "/%00", EINVAL),
        ERR("bad hex", "/%zz", EINVAL),
        ERR("one bad hex digit", "/%4g", EINVAL),
        ERR("truncated escape", "/%2", EINVAL),
        ERR("lone percent", "/%", EINVAL),
        ERR("bad escape beats encoded slash", "/%2fetc/%zz", EINVAL),
        ERR("encoded newline", "/a%0ab", EINVAL),
        ERR("encoded control", "/%1f", EINVAL),
        ERR("encoded DEL", "/%7F", EINVAL),
        ERR("literal tab", "/a\tb", EINVAL),
        ERR("literal DEL", "/a\x7f", EINVAL),
        ERR("relative", "index.html", EINVAL),
        ERR("empty", "", EINVAL),
};

ParameterizedTestParameters(path_normalize, table) {
        return cr_make_param_array(NormCase, norm_cases, ELEMENTSOF(norm_cases));
}

ParameterizedTest(NormCase *c, path_normalize, table) {
        char out[128];
        size_t n = 12345;
        int r;

        memset(out, 'X', sizeof(out));
        r = http_path_normalize(c->raw, strlen(c->raw), out, sizeof(out), &n);
        cr_assert_eq(r, c->expect, "%s: %s → %d, expected %d", c->name, c->raw, r, c->expect);
        if (r < 0)
                return;
        cr_assert_str_eq(out, c->out, "%s: %s → \"%s\", expected \"%s\"", c->name, c->raw, out, c->out);
        cr_assert_eq(n, strlen(c->out), "%s: length %zu", c->name, n);
}

Test(path_normalize, only_len_bytes_are_read) {
        char out[32];
        size_t n;

        /* The path ends where the query began; what follows must not leak in. */
        cr_assert_eq(http_path_normalize("/a/b?x=/../..", 4, out, sizeof(out), &n), 0);
        cr_assert_str_eq(out, "/a/b");
        /* A literal NUL inside the span is a control byte. */
        cr_assert_eq(http_path_normalize("/a\0b", 4, out, sizeof(out), &n), -EINVAL);
}

Test(path_normalize, too_long) {
        char out[64];
        size_t n;

        /* "/abc" needs five bytes with its NUL. */
        cr_assert_eq(http_path_normalize("/abc", 4, out, 4, &n), -ENAMETOOLONG);
        cr_assert_eq(http_path_normalize("/abc", 4, out, 5, &n), 0);
        cr_assert_str_eq(out, "/abc");
        cr_assert_eq(http_path_normalize("/abc/", 5, out, 5, &n), -ENAMETOOLONG);
        cr_assert_eq(http_path_normalize("/", 1, out, 1, &n), -ENAMETOOLONG);
        cr_assert_eq(http_path_normalize("/", 1, out, 2, &n), 0);
        cr_assert_str_eq(out, "/");

        /* Only the result has to fit: a long segment removed by ".." does not count. */
        const char *raw = "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/../b";
        cr_assert_eq(http_path_normalize(raw, strlen(raw), out, 3, &n), 0);
        cr_assert_str_eq(out, "/b");
        cr_assert_eq(n, 2u);

        /* Decoding shrinks: "%41" is one byte of output. */
        cr_assert_eq(http_path_normalize("/%41%42", 7, out, 4, &n), 0);
        cr_assert_str_eq(out, "/AB");
}

Test(path_normalize, ret_len_optional) {
        char out[16];

        cr_assert_eq(http_path_normalize("/x/../y", 7, out, sizeof(out), NULL), 0);
        cr_assert_str_eq(out, "/y");
}

/* ---- http_path_open ---- */

static char tmp_dir[64];
static char root_dir[96];
static int root_fd = -1;

static void write_file(const char *rel, const char *content, mode_t mode) {
        char p[256];
        int fd;

        snprintf(p, sizeof(p), "%s/%s", tmp_dir, rel);
        fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        cr_assert_geq(fd, 0, "create %s: %s", p, strerror(errno));
        cr_assert_eq(write(fd, content, strlen(content)), (ssize_t) strlen(content));
        cr_assert_eq(fchmod(fd, mode), 0);
        close(fd);
}

static void make_dir(const char *rel, mode_t mode) {
        char p[256];

        snprintf(p, sizeof(p), "%s/%s", tmp_dir, rel);
        cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %s", p, strerror(errno));
        cr_assert_eq(chmod(p, mode), 0);
}

static void make_link(const char *target, const char *rel) {
        char p[256];

        snprintf(p, sizeof(p), "%s/%s", tmp_dir, rel);
        cr_assert_eq(symlink(target, p), 0, "symlink %s: %s", p, strerror(errno));
}

/*  tmp/outside                      a file next to the root, which must stay out of reach
 *  tmp/root/file.txt                "hello"
 *  tmp/root/secret                  mode 0
 *  tmp/root/locked/x                locked is a directory with mode 0
 *  tmp/root/sub/inner.html          "inner"
 *  tmp/root/sub/up      -> ../file.txt         inside: allowed
 *  tmp/root/sub/updir   -> ..                  the root itself: allowed
 *  tmp/root/sub/escape2 -> ../../outside       leaves: refused
 *  tmp/root/link-in     -> sub/inner.html      allowed
 *  tmp/root/link-dir    -> sub                 allowed
 *  tmp/root/chain       -> link-in             two hops, allowed
 *  tmp/root/dot         -> .                   allowed
 *  tmp/root/passwd      -> /etc/passwd         absolute: refused
 *  tmp/root/abs-in      -> <tmp>/root/file.txt absolute, even though inside: refused
 *  tmp/root/escape      -> ../outside          leaves: refused
 *  tmp/root/loop        -> loop                ELOOP
 *  tmp/root/dangling    -> nowhere             ENOENT */
static void tree_setup(void) {
        char p[256];

        strcpy(tmp_dir, "/tmp/mpmd-test-path-XXXXXX");
        cr_assert_not_null(mkdtemp(tmp_dir));
        /* Traversable by the unprivileged uid of the permission tests. */
        cr_assert_eq(chmod(tmp_dir, 0755), 0);
        snprintf(root_dir, sizeof(root_dir), "%s/root", tmp_dir);

        write_file("outside", "outside", 0644);
        make_dir("root", 0755);
        write_file("root/file.txt", "hello", 0644);
        write_file("root/secret", "secret", 0);
        make_dir("root/sub", 0755);
        write_file("root/sub/inner.html", "inner", 0644);
        make_dir("root/locked", 0755);
        write_file("root/locked/x", "x", 0644);
        snprintf(p, sizeof(p), "%s/locked", root_dir);
        cr_assert_eq(chmod(p, 0), 0);

        make_link("../file.txt", "root/sub/up");
        make_link("..", "root/sub/updir");
        make_link("../../outside", "root/sub/escape2");
        make_link("sub/inner.html", "root/link-in");
        make_link("sub", "root/link-dir");
        make_link("link-in", "root/chain");
        make_link(".", "root/dot");
        make_link("/etc/passwd", "root/passwd");
        snprintf(p, sizeof(p), "%s/file.txt", root_dir);
        make_link(p, "root/abs-in");
        make_link("../outside", "root/escape");
        make_link("loop", "root/loop");
        make_link("nowhere", "root/dangling");

        root_fd = open(root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(root_fd, 0);
}

static int remove_entry(const char *p, const struct stat *st, int type, struct FTW *ftw) {
        if (type == FTW_DP)
                return rmdir(p) < 0 ? -1 : 0;
        return unlink(p) < 0 ? -1 : 0;
}

static void tree_teardown(void) {
        char p[256];

        root_fd = safe_close(root_fd);
        if (!tmp_dir[0])
                return;
        /* An unprivileged test user could not descend into it to remove x. */
        snprintf(p, sizeof(p), "%s/locked", root_dir);
        (void) chmod(p, 0755);
        (void) nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

typedef enum OpenImpl {
        IMPL_OPENAT2,
        IMPL_WALK,
} OpenImpl;

static const char *const impl_names[] = { "openat2", "walk" };

static bool have_openat2(void) {
        struct open_how how = {};

        /* A bad fd: any answer but ENOSYS proves the syscall exists. */
        return syscall(SYS_openat2, -1, ".", &how, sizeof(how)) < 0 && errno != ENOSYS;
}

static int open_with(OpenImpl impl, const char *path, int flags, struct stat *st) {
        if (impl == IMPL_OPENAT2) {
                if (!have_openat2())
                        cr_skip_test("the kernel has no openat2(): http_path_open() would run the walk");
                return http_path_open(root_fd, path, flags, st);
        }
        return http_path_open_walk(root_fd, path, flags, st);
}

typedef struct OpenCase {
        char path[48];
        int expect;      /* 0 or -errno */
        char content[16]; /* what the opened file holds; "" with is_dir */
        bool is_dir;
        char same_as[48]; /* the file it must be, relative to the root; "" = path itself */
        OpenImpl impl;
} OpenCase;

#define BOTH(...) { __VA_ARGS__, .impl = IMPL_OPENAT2 }, { __VA_ARGS__, .impl = IMPL_WALK }

static OpenCase open_cases[] = {
        BOTH(.path = "/file.txt", .content = "hello"),
        BOTH(.path = "/sub/inner.html", .content = "inner"),
        BOTH(.path = "/", .is_dir = true, .same_as = "."),
        BOTH(.path = "/sub", .is_dir = true),
        BOTH(.path = "/sub/", .is_dir = true, .same_as = "sub"),
        BOTH(.path = "//sub//inner.html", .content = "inner", .same_as = "sub/inner.html"),
        BOTH(.path = "/link-in", .content = "inner", .same_as = "sub/inner.html"),
        BOTH(.path = "/chain", .content = "inner", .same_as = "sub/inner.html"),
        BOTH(.path = "/link-dir/", .is_dir = true, .same_as = "sub"),
        BOTH(.path = "/link-dir/inner.html", .content = "inner", .same_as = "sub/inner.html"),
        BOTH(.path = "/sub/up", .content = "hello", .same_as = "file.txt"),
        BOTH(.path = "/sub/updir/file.txt", .content = "hello", .same_as = "file.txt"),
        BOTH(.path = "/dot/dot/file.txt", .content = "hello", .same_as = "file.txt"),
        BOTH(.path = "/sub/../file.txt", .content = "hello", .same_as = "file.txt"),
        BOTH(.path = "/passwd", .expect = -EACCES),
        BOTH(.path = "/abs-in", .expect = -EACCES),
        BOTH(.path = "/escape", .expect = -EACCES),
        BOTH(.path = "/sub/escape2", .expect = -EACCES),
        BOTH(.path = "/..", .expect = -EACCES),
        BOTH(.path = "/../outside", .expect = -EACCES),
        BOTH(.path = "/sub/../../outside", .expect = -EACCES),
        BOTH(.path = "/link-dir/../../outside", .expect = -EACCES),
        BOTH(.path = "/loop", .expect = -ELOOP),
        BOTH(.path = "/dangling", .expect = -ENOENT),
        BOTH(.path = "/missing", .expect = -ENOENT),
        BOTH(.path = "/sub/missing", .expect = -ENOENT),
        BOTH(.path = "/file.txt/", .expect = -ENOTDIR),
        BOTH(.path = "/file.txt/x", .expect = -ENOTDIR),
        BOTH(.path = "/link-in/", .expect = -ENOTDIR),
        BOTH(.path = "file.txt", .expect = -EINVAL),
};

ParameterizedTestParameters(path_open, table) {
        return cr_make_param_array(OpenCase, open_cases, ELEMENTSOF(open_cases));
}

ParameterizedTest(OpenCase *c, path_open, table, .init = tree_setup, .fini = tree_teardown) {
        const char *impl = impl_names[c->impl];
        struct stat st, want;
        char buf[32] = {};
        int fd;

        memset(&st, 0, sizeof(st));
        fd = open_with(c->impl, c->path, O_RDONLY, &st);
        if (c->expect < 0) {
                cr_assert_eq(fd, c->expect, "%s %s → %d (%s), expected %s", impl, c->path, fd,
                             fd < 0 ? strerror(-fd) : "an fd", strerror(-c->expect));
                return;
        }
        cr_assert_geq(fd, 0, "%s %s → %s", impl, c->path, strerror(-fd));

        /* The fd is the file we meant, and *ret_st describes that fd. */
        cr_assert_eq(fstatat(root_fd, c->same_as[0] ? c->same_as : c->path + 1, &want, 0), 0);
        cr_assert_eq(st.st_ino, want.st_ino, "%s %s: wrong inode", impl, c->path);
        cr_assert_eq(st.st_dev, want.st_dev);
        cr_assert_eq(S_ISDIR(st.st_mode), c->is_dir, "%s %s: type", impl, c->path);
        cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "%s %s: not O_CLOEXEC", impl, c->path);
        cr_assert_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
        if (!c->is_dir) {
                cr_assert_eq(read(fd, buf, sizeof(buf) - 1), (ssize_t) strlen(c->content));
                cr_assert_str_eq(buf, c->content, "%s %s", impl, c->path);
        }
        close(fd);
}

static void check_flags(OpenImpl impl) {
        struct stat st;
        int fd;

        fd = open_with(impl, "/file.txt", O_RDONLY | O_NONBLOCK, &st);
        cr_assert_geq(fd, 0, "%s: %s", impl_names[impl], strerror(-fd));
        cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
        cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);

        /* ret_st may be NULL. */
        fd = open_with(impl, "/file.txt", O_RDONLY, NULL);
        cr_assert_geq(fd, 0);
        close(fd);

        cr_assert_eq(open_with(impl, "/file.txt", O_RDONLY | O_DIRECTORY, &st), -ENOTDIR);
        cr_assert_eq(open_with(impl, "/file.txt", O_WRONLY, &st), -EINVAL);
        cr_assert_eq(open_with(impl, "/file.txt", O_RDWR, &st), -EINVAL);
        cr_assert_eq(open_with(impl, "/new", O_RDONLY | O_CREAT, &st), -EINVAL);
        cr_assert_eq(open_with(impl, "/file.txt", O_RDONLY | O_TRUNC, &st), -EINVAL);
        cr_assert_eq(faccessat(root_fd, "new", F_OK, 0), -1, "a file was created");
}

Test(path_open, flags_openat2, .init = tree_setup, .fini = tree_teardown) {
        check_flags(IMPL_OPENAT2);
}

Test(path_open, flags_walk, .init = tree_setup, .fini = tree_teardown) {
        check_flags(IMPL_WALK);
}

/* Exit codes of the unprivileged child, so the parent can say which step failed. */
enum {
        CHILD_OK,
        CHILD_DROP_FAILED,
        CHILD_READABLE_FAILED,
        CHILD_SECRET_NOT_EACCES,
        CHILD_LOCKED_NOT_EACCES,
};

static int check_permissions(OpenImpl impl) {
        struct stat st;
        int fd;

        fd = open_with(impl, "/file.txt", O_RDONLY, &st);
        if (fd < 0)
                return CHILD_READABLE_FAILED;
        close(fd);
        if (open_with(impl, "/secret", O_RDONLY, &st) != -EACCES)
                return CHILD_SECRET_NOT_EACCES;
        if (open_with(impl, "/locked/x", O_RDONLY, &st) != -EACCES)
                return CHILD_LOCKED_NOT_EACCES;
        return CHILD_OK;
}

static void check_unreadable(OpenImpl impl) {
        int status;
        pid_t pid;

        if (impl == IMPL_OPENAT2 && !have_openat2())
                cr_skip_test("the kernel has no openat2()");

        if (geteuid() != 0) {
                /* Mode 0 already keeps us out. */
                cr_assert_eq(check_permissions(impl), CHILD_OK, "%s", impl_names[impl]);
                return;
        }

        /* Root reads mode 0 files: look as nobody does, from a child that cannot come back. */
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0)
                        _exit(CHILD_DROP_FAILED);
                _exit(check_permissions(impl));
        }
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status), "child died: status %d", status);
        cr_assert_eq(WEXITSTATUS(status), CHILD_OK, "%s: unprivileged check failed at step %d", impl_names[impl],
                     WEXITSTATUS(status));
}

Test(path_open, unreadable_openat2, .init = tree_setup, .fini = tree_teardown) {
        check_unreadable(IMPL_OPENAT2);
}

Test(path_open, unreadable_walk, .init = tree_setup, .fini = tree_teardown) {
        check_unreadable(IMPL_WALK);
}

/* http_path_open() itself, where openat2() fails as on an old kernel (ENOSYS) or under a seccomp
 * profile that predates it (EPERM): the walk must take over, with the same answers. */
enum {
        FALLBACK_OK,
        FALLBACK_FILTER_FAILED,
        FALLBACK_FILTER_INEFFECTIVE,
        FALLBACK_FILE_FAILED,
        FALLBACK_LINK_FAILED,
        FALLBACK_ESCAPE_NOT_REFUSED,
        FALLBACK_ABSOLUTE_NOT_REFUSED,
        FALLBACK_MISSING_NOT_ENOENT,
};

static int fallback_child(int err) {
        struct open_how how = {};
        scmp_filter_ctx ctx;
        struct stat st;
        char buf[8] = {};
        int fd;

        ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), SCMP_SYS(openat2), 0) < 0 || seccomp_load(ctx) < 0)
                return FALLBACK_FILTER_FAILED;
        seccomp_release(ctx);
        if (syscall(SYS_openat2, root_fd, "file.txt", &how, sizeof(how)) >= 0 || errno != err)
                return FALLBACK_FILTER_INEFFECTIVE;

        fd = http_path_open(root_fd, "/file.txt", O_RDONLY, &st);
        if (fd < 0 || read(fd, buf, sizeof(buf) - 1) != 5 || strcmp(buf, "hello") != 0 || !S_ISREG(st.st_mode))
                return FALLBACK_FILE_FAILED;
        close(fd);
        fd = http_path_open(root_fd, "/link-dir/inner.html", O_RDONLY, &st);
        if (fd < 0)
                return FALLBACK_LINK_FAILED;
        close(fd);
        if (http_path_open(root_fd, "/escape", O_RDONLY, &st) != -EACCES)
                return FALLBACK_ESCAPE_NOT_REFUSED;
        if (http_path_open(root_fd, "/passwd", O_RDONLY, &st) != -EACCES)
                return FALLBACK_ABSOLUTE_NOT_REFUSED;
        if (http_path_open(root_fd, "/missing", O_RDONLY, &st) != -ENOENT)
                return FALLBACK_MISSING_NOT_ENOENT;
        return FALLBACK_OK;
}

static void check_fallback(int err) {
        int status;
        pid_t pid;

        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                _exit(fallback_child(err));
        }
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status), "child died: status %d", status);
        cr_assert_eq(WEXITSTATUS(status), FALLBACK_OK, "openat2 failing with %s: step %d failed", strerror(err),
                     WEXITSTATUS(status));
}

Test(path_open, fallback_on_enosys, .init = tree_setup, .fini = tree_teardown) {
        check_fallback(ENOSYS);
}

Test(path_open, fallback_on_eperm, .init = tree_setup, .fini = tree_teardown) {
        check_fallback(EPERM);
}

/* A directory replaced by a symlink climbing out of the root, after it was opened through once:
 * nothing is cached, the next open sees the symlink and refuses it. */
static void check_replaced_dir(OpenImpl impl) {
        char from[256], to[256];
        struct stat st;
        int fd;

        fd = open_with(impl, "/sub/inner.html", O_RDONLY, &st);
        cr_assert_geq(fd, 0);
        close(fd);

        snprintf(from, sizeof(from), "%s/sub", root_dir);
        snprintf(to, sizeof(to), "%s/sub.old", root_dir);
        cr_assert_eq(rename(from, to), 0);
        cr_assert_eq(symlink("..", from), 0);
        cr_assert_eq(open_with(impl, "/sub/outside", O_RDONLY, &st), -EACCES, "%s", impl_names[impl]);
}

Test(path_open, replaced_dir_openat2, .init = tree_setup, .fini = tree_teardown) {
        check_replaced_dir(IMPL_OPENAT2);
}

Test(path_open, replaced_dir_walk, .init = tree_setup, .fini = tree_teardown) {
        check_replaced_dir(IMPL_WALK);
}

Test(path_open, deep_tree_walk, .init = tree_setup, .fini = tree_teardown) {
        char p[1024] = "", rel[1200];
        struct stat st;
        int fd;

        /* 40 levels: past the walk's first stack allocation, and back up through a symlink. */
        for (int i = 0; i < 40; i++) {
                strcat(p, "/d");
                snprintf(rel, sizeof(rel), "root%s", p);
                make_dir(rel, 0755);
        }
        snprintf(rel, sizeof(rel), "root%s/f", p);
        write_file(rel, "deep", 0644);
        snprintf(rel, sizeof(rel), "root%s/top", p);
        {
                char target[256] = "";
                for (int i = 0; i < 40; i++)
                        strcat(target, "../");
                strcat(target, "file.txt");
                make_link(target, rel);
        }

        snprintf(rel, sizeof(rel), "%s/f", p);
        fd = http_path_open_walk(root_fd, rel, O_RDONLY, &st);
        cr_assert_geq(fd, 0, "%s", strerror(-fd));
        close(fd);
        snprintf(rel, sizeof(rel), "%s/top", p);
        fd = http_path_open_walk(root_fd, rel, O_RDONLY, &st);
        cr_assert_geq(fd, 0, "%s", strerror(-fd));
        char buf[8] = {};
        cr_assert_eq(read(fd, buf, sizeof(buf) - 1), 5);
        cr_assert_str_eq(buf, "hello");
        close(fd);
}

/* ---- http_path_extension ---- */

typedef struct ExtCase {
        char path[32];
        int offset; /* where the extension starts in path; -1 = none */
} ExtCase;

static ExtCase ext_cases[] = {
        { "/a/b.html", 5 },   { "/a/B.HTML", 5 },  { "/x.tar.gz", 7 }, { "/.htaccess", 2 },
        { "/a.d/file", -1 },  { "/dir/", -1 },     { "/file.", -1 },   { "/noext", -1 },
        { "/", -1 },          { "/a.b/c.css", 7 }, { "rel.js", 4 },
};

ParameterizedTestParameters(path_extension, table) {
        return cr_make_param_array(ExtCase, ext_cases, ELEMENTSOF(ext_cases));
}

ParameterizedTest(ExtCase *c, path_extension, table) {
        const char *e = http_path_extension(c->path);

        if (c->offset < 0)
                cr_assert_null(e, "%s → \"%s\"", c->path, e);
        else
                cr_assert_eq(e, c->path + c->offset, "%s → %s", c->path, e ? e : "(null)");
}
