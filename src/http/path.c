/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shared/hex.h"
#include "shared/macro.h"
#include "http/path.h"

#ifndef SYS_openat2
#define SYS_openat2 437 /* the same number on every architecture */
#endif

/* Flags a caller may add to O_RDONLY. Anything that could write, create or truncate stays out. */
#define PATH_OPEN_ALLOWED_FLAGS (O_NONBLOCK | O_DIRECTORY | O_NOCTTY | O_CLOEXEC)
/* The kernel's own limit on symlinks followed in one lookup. */
#define WALK_MAX_SYMLINKS 40
/* Directories held on the walk's ".." stack; PATH_MAX allows at most this many levels anyway. */
#define WALK_MAX_DEPTH (PATH_MAX / 2)
/* openat2(RESOLVE_BENEATH) answers EAGAIN when a concurrent rename may have moved a ".." target. */
#define OPENAT2_RETRIES 8

/* Decode the byte at raw[*i] and advance past it. Only called once path_validate() accepted raw. */
static unsigned char decode_next(const char *raw, size_t *i) {
        if (raw[*i] == '%') {
                unsigned char c = (unsigned char) (hex_digit_value((unsigned char) raw[*i + 1]) << 4 |
                                                   hex_digit_value((unsigned char) raw[*i + 2]));
                *i += 3;
                return c;
        }
        return (unsigned char) raw[(*i)++];
}

static int path_validate(const char *raw, size_t len) {
        bool encoded_slash = false;

        if (len == 0 || raw[0] != '/')
                return -EINVAL;

        for (size_t i = 0; i < len;) {
                unsigned char c;

                if (raw[i] == '%') {
                        if (len - i < 3)
                                return -EINVAL;
                        int hi = hex_digit_value((unsigned char) raw[i + 1]);
                        int lo = hex_digit_value((unsigned char) raw[i + 2]);
                        if (hi < 0 || lo < 0)
                                return -EINVAL;
                        c = (unsigned char) (hi << 4 | lo);
                        i += 3;
                        if (c == '/')
                                encoded_slash = true;
                } else
                        c = (unsigned char) raw[i++];

                if (c < 0x20 || c == 0x7f)
                        return -EINVAL;
        }

        /* Checked last so that a malformed request is a 400 wherever the %2F sits. */
        return encoded_slash ? -ENOENT : 0;
}

typedef enum SegmentKind {
        SEGMENT_EMPTY,
        SEGMENT_DOT,
        SEGMENT_DOTDOT,
        SEGMENT_NAME,
} SegmentKind;

static SegmentKind segment_classify(const char *raw, size_t start, size_t end, size_t *ret_len) {
        bool dots = true;
        size_t n = 0;

        for (size_t i = start; i < end; n++)
                if (decode_next(raw, &i) != '.')
                        dots = false;

        *ret_len = n;
        if (n == 0)
                return SEGMENT_EMPTY;
        if (dots && n == 1)
                return SEGMENT_DOT;
        if (dots && n == 2)
                return SEGMENT_DOTDOT;
        return SEGMENT_NAME;
}

/* Walk the segments from right to left: a ".." cancels the nearest name to its left, which needs
 * only a counter instead of a stack, and gives the exact output length before anything is written.
 * With out == NULL it only measures; otherwise it writes the surviving segments, each preceded by
 * its '/', so that they end at out[end]. Returns -EINVAL if a ".." is left over (climbs above the
 * root). */
static int segments_walk(const char *raw, size_t len, char *out, size_t end, size_t *ret_bytes, size_t *ret_kept) {
        size_t pending = 0, bytes = 0, kept = 0, seg_end = len;

        /* raw[0] is '/', so every segment has a '/' before it. */
        while (seg_end > 0) {
                size_t seg_start = seg_end, n;

                while (raw[seg_start - 1] != '/')
                        seg_start--;

                switch (segment_classify(raw, seg_start, seg_end, &n)) {
                case SEGMENT_EMPTY:
                case SEGMENT_DOT:
                        break;
                case SEGMENT_DOTDOT:
                        pending++;
                        break;
                case SEGMENT_NAME:
                        if (pending > 0) {
                                pending--;
                                break;
                        }
                        kept++;
                        bytes += n + 1;
                        if (out) {
                                end -= n;
                                for (size_t i = seg_start, o = end; i < seg_end; o++)
                                        out[o] = (char) decode_next(raw, &i);
                                out[--end] = '/';
                        }
                        break;
                }

                seg_end = seg_start - 1;
        }

        if (pending > 0)
                return -EINVAL;

        if (ret_bytes)
                *ret_bytes = bytes;
        if (ret_kept)
                *ret_kept = kept;
        return 0;
}

int http_path_normalize(const char *raw, size_t len, char *out, size_t out_size, size_t *ret_len) {
        size_t bytes, kept, total, last_start, last_n;
        bool trailing_slash;
        int r;

        r = path_validate(raw, len);
        if (r < 0)
                return r;

        r = segments_walk(raw, len, NULL, 0, &bytes, &kept);
        if (r < 0)
                return r;

        /* RFC 3986 keeps the slash when the last segment is empty, "." or "..": "/a/b/.." is "/a/". */
        last_start = len;
        while (raw[last_start - 1] != '/')
                last_start--;
        trailing_slash = kept > 0 && segment_classify(raw, last_start, len, &last_n) != SEGMENT_NAME;

        total = kept == 0 ? 1 : bytes + trailing_slash;
        if (total >= out_size)
                return -ENAMETOOLONG;

        out[total] = 0;
        if (kept == 0)
                out[0] = '/';
        else {
                if (trailing_slash)
                        out[total - 1] = '/';
                r = segments_walk(raw, len, out, total - trailing_slash, NULL, NULL);
                if (r < 0)
                        return r;
        }

        if (ret_len)
                *ret_len = total;
        return 0;
}

static int open_flags_check(int flags) {
        if ((flags & O_ACCMODE) != O_RDONLY || (flags & ~(O_ACCMODE | PATH_OPEN_ALLOWED_FLAGS)) != 0)
                return -EINVAL;
        /* A tty in the document root must never become the worker's controlling terminal. */
        return flags | O_CLOEXEC | O_NOCTTY;
}

static int fd_finish(int fd, struct stat *ret_st) {
        struct stat st;

        if (fstat(fd, &st) < 0) {
                int r = -errno;
                safe_close(fd);
                return r;
        }
        if (ret_st)
                *ret_st = st;
        return fd;
}

typedef struct DirId {
        dev_t dev;
        ino_t ino;
} DirId;

static int walk_open(int root_fd, const char *path, int flags) {
        _cleanup_free_ char *todo = NULL;
        _cleanup_free_ DirId *stack = NULL;
        _cleanup_close_ int cur = -1;
        size_t depth = 0, stack_size = 16;
        unsigned n_symlinks = 0;
        struct stat st;
        const char *p;

        todo = strdup(path);
        stack = malloc(stack_size * sizeof(DirId));
        if (!todo || !stack)
                return -ENOMEM;

        cur = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cur < 0)
                return -errno;
        if (fstat(cur, &st) < 0)
                return -errno;
        stack[0] = (DirId) { st.st_dev, st.st_ino };

        p = todo;
        for (;;) {
                _cleanup_close_ int child = -1;
                char name[NAME_MAX + 1];
                const char *rest;
                bool last, must_be_dir;
                size_t n;
                int fd;

                p += strspn(p, "/");
                if (*p == 0) {
                        /* The path ends on the directory we stand in ("/", "x/..", a link to "."). */
                        fd = openat(cur, ".", flags);
                        return fd < 0 ? -errno : fd;
                }

                n = strcspn(p, "/");
                if (n > NAME_MAX)
                        return -ENAMETOOLONG;
                memcpy(name, p, n);
                name[n] = 0;
                rest = p + n;
                must_be_dir = *rest == '/';
                last = rest[strspn(rest, "/")] == 0;

                if (strcmp(name, ".") == 0) {
                        p = rest;
                        continue;
                }

                if (strcmp(name, "..") == 0) {
                        _cleanup_close_ int parent = -1;

                        if (depth == 0)
                                return -EACCES;
                        parent = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
                        if (parent < 0)
                                return -errno;
                        if (fstat(parent, &st) < 0)
                                return -errno;
                        /* If the directory was moved meanwhile, ".." is somewhere else: maybe outside. */
                        if (st.st_dev != stack[depth - 1].dev || st.st_ino != stack[depth - 1].ino)
                                return -EACCES;
                        safe_close(cur);
                        cur = TAKE_FD(parent);
                        depth--;
                        p = rest;
                        continue;
                }

                child = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (child < 0)
                        return -errno;
                if (fstat(child, &st) < 0)
                        return -errno;

                if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t k;
                        char *t;

                        if (++n_symlinks > WALK_MAX_SYMLINKS)
                                return -ELOOP;
                        k = readlinkat(child, "", target, sizeof(target));
                        if (k < 0)
                                return -errno;
                        if ((size_t) k >= sizeof(target))
                                return -ENAMETOOLONG;
                        if (k == 0)
                                return -ENOENT;
                        /* Absolute targets (and /proc magic links, which read as absolute paths or as
                         * "pipe:[…]" names that exist nowhere) would leave the root. */
                        if (target[0] == '/')
                                return -EACCES;
                        /* The target replaces the link's name; the rest (and its slashes) follows. */
                        if (asprintf(&t, "%.*s%s", (int) k, target, rest) < 0)
                                return -ENOMEM;
                        free(todo);
                        todo = t;
                        p = todo;
                        continue;
                }

                if (last) {
                        /* O_NOFOLLOW: if the name was swapped for a symlink since, fail rather than follow.
                         * O_DIRECTORY makes "file/" ENOTDIR, as the kernel's own lookup does. */
                        fd = openat(cur, name, flags | O_NOFOLLOW | (must_be_dir ? O_DIRECTORY : 0));
                        return fd < 0 ? -errno : fd;
                }

                if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;

                if (depth + 1 >= stack_size) {
                        DirId *s;

                        if (stack_size >= WALK_MAX_DEPTH)
                                return -ENAMETOOLONG;
                        s = realloc(stack, stack_size * 2 * sizeof(DirId));
                        if (!s)
                                return -ENOMEM;
                        stack = s;
                        stack_size *= 2;
                }
                stack[++depth] = (DirId) { st.st_dev, st.st_ino };
                safe_close(cur);
                cur = TAKE_FD(child);
                p = rest;
        }
}

int http_path_open_walk(int root_fd, const char *path, int flags, struct stat *ret_st) {
        int fd;

        flags = open_flags_check(flags);
        if (flags < 0)
                return flags;
        if (!path || path[0] != '/')
                return -EINVAL;

        fd = walk_open(root_fd, path, flags);
        if (fd < 0)
                return fd;
        return fd_finish(fd, ret_st);
}

int http_path_open(int root_fd, const char *path, int flags, struct stat *ret_st) {
        struct open_how how = { .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
        const char *rel;
        long fd;

        flags = open_flags_check(flags);
        if (flags < 0)
                return flags;
        if (!path || path[0] != '/')
                return -EINVAL;

        /* RESOLVE_BENEATH refuses absolute paths: resolve relative to the root fd itself. */
        rel = path + strspn(path, "/");
        if (*rel == 0)
                rel = ".";

        how.flags = (uint64_t) (unsigned) flags;
        for (unsigned attempt = 0;; attempt++) {
                fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
                if (fd >= 0 || errno != EAGAIN || attempt >= OPENAT2_RETRIES)
                        break;
        }
        if (fd < 0) {
                /* EPERM: container seccomp profiles that predate openat2 deny it instead of ENOSYS. */
                if (errno == ENOSYS || errno == EPERM)
                        return http_path_open_walk(root_fd, path, flags, ret_st);
                /* EXDEV is how RESOLVE_BENEATH says "this would leave the root". */
                return errno == EXDEV ? -EACCES : -errno;
        }
        return fd_finish((int) fd, ret_st);
}

const char *http_path_extension(const char *path) {
        const char *base, *dot;

        base = strrchr(path, '/');
        base = base ? base + 1 : path;
        dot = strrchr(base, '.');
        if (!dot || dot[1] == 0)
                return NULL;
        return dot + 1;
}
