/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "docroot.h"

/* ROOT/PATH into buf; a path that does not fit is a broken test, not a truncated name. */
static const char *join(char *buf, size_t size, const char *root, const char *path) {
        int n = snprintf(buf, size, "%s/%s", root, path);
        cr_assert(n > 0 && (size_t) n < size, "docroot: path too long: %s/%s", root, path);
        return buf;
}

char *docroot_new(const char *name) {
        const char *tmp = getenv("TMPDIR");
        char *root;

        if (!tmp || !*tmp)
                tmp = "/tmp";
        cr_assert(asprintf(&root, "%s/mpmd-%s-XXXXXX", tmp, name) > 0);
        cr_assert_not_null(mkdtemp(root), "docroot: mkdtemp %s: %s", root, strerror(errno));
        return root;
}

void docroot_add_file(const char *root, const char *path, const void *content, size_t len, mode_t mode) {
        char p[PATH_MAX];
        const char *b = content;

        join(p, sizeof(p), root, path);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        cr_assert(fd >= 0, "docroot: create %s: %s", p, strerror(errno));
        while (len > 0) {
                ssize_t k = write(fd, b, len);
                cr_assert(k > 0, "docroot: write %s: %s", p, strerror(errno));
                b += k;
                len -= (size_t) k;
        }
        cr_assert_eq(fchmod(fd, mode), 0, "docroot: chmod %s: %s", p, strerror(errno));
        cr_assert_eq(close(fd), 0, "docroot: close %s: %s", p, strerror(errno));
}

void docroot_add_text(const char *root, const char *path, const char *text) {
        docroot_add_file(root, path, text, strlen(text), 0644);
}

void docroot_add_dir(const char *root, const char *path, mode_t mode) {
        char p[PATH_MAX];

        join(p, sizeof(p), root, path);
        cr_assert_eq(mkdir(p, 0700), 0, "docroot: mkdir %s: %s", p, strerror(errno));
        cr_assert_eq(chmod(p, mode), 0, "docroot: chmod %s: %s", p, strerror(errno));
}

void docroot_add_symlink(const char *root, const char *path, const char *target) {
        char p[PATH_MAX];

        join(p, sizeof(p), root, path);
        cr_assert_eq(symlink(target, p), 0, "docroot: symlink %s -> %s: %s", p, target, strerror(errno));
}

void docroot_set_mtime(const char *root, const char *path, time_t mtime) {
        char p[PATH_MAX];
        struct timespec times[2] = { { mtime, 0 }, { mtime, 0 } };

        join(p, sizeof(p), root, path);
        cr_assert_eq(utimensat(AT_FDCWD, p, times, AT_SYMLINK_NOFOLLOW), 0, "docroot: utimensat %s: %s", p,
                     strerror(errno));
}

/* A folder a test made unreadable or unwritable is opened up (u+rwx) before its entries are removed;
 * nftw cannot enter an unreadable one, so the pass is repeated until none is left. */
static bool opened_up;

static int open_up(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        if (type == FTW_DNR || (type == FTW_D && (st->st_mode & S_IRWXU) != S_IRWXU))
                if (chmod(path, 0700) == 0)
                        opened_up = true;
        return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0)
                return errno;
        return 0;
}

void docroot_remove(char *root) {
        if (!root)
                return;
        do {
                opened_up = false;
                (void) nftw(root, open_up, 16, FTW_PHYS | FTW_MOUNT);
        } while (opened_up);
        int r = nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        cr_assert_eq(r, 0, "docroot: cannot remove %s: %s", root, r > 0 ? strerror(r) : strerror(errno));
        free(root);
}
