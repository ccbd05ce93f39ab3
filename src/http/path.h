/* SPDX-License-Identifier: MIT */
/* path.h — from a request target's path to an open file beneath a site's root.
 *
 * Contract: http_path_normalize() turns the still %-encoded path of a request into the one canonical
 * form the rest of the server works with (decoded, no dot segments, no repeated slashes); what it
 * refuses maps to a status: -EINVAL → 400, -ENOENT → 404, -ENAMETOOLONG → 414. http_path_open()
 * then opens such a path so that nothing outside the root directory can be reached, whatever the
 * symlinks in the tree say. Neither allocates state that outlives the call, logs, or keeps globals. */
#pragma once

#include <stddef.h>
#include <sys/stat.h>

/* Percent-decode raw[0..len) (which must start with '/'), remove dot segments (RFC 3986 §5.2.4) and
 * merge repeated slashes; a trailing slash is kept. Writes the NUL-terminated result (starting with
 * '/') to out and its length to *ret_len (may be NULL). Errors:
 *   -EINVAL        bad %-escape, decoded NUL or control byte (< 0x20, 0x7f), no leading '/', or a
 *                  ".." that would climb above the root (Apache answers 400 rather than clamping);
 *   -ENOENT        an encoded slash (%2F), as Apache's AllowEncodedSlashes Off;
 *   -ENAMETOOLONG  the result does not fit in out_size bytes (NUL included).
 * Bad encodings anywhere in raw take precedence over %2F, which takes precedence over the rest. */
int http_path_normalize(const char *raw, size_t len, char *out, size_t out_size, size_t *ret_len);

/* Open the normalized path (starting with '/'; "/" is the root itself) beneath the directory
 * root_fd, read-only. flags may add O_NONBLOCK, O_DIRECTORY, O_NOCTTY, O_CLOEXEC; O_CLOEXEC and
 * O_NOCTTY are always added, anything else is -EINVAL. Symlinks are followed as long as they stay
 * beneath the root; one that leaves it (absolute, or ".." past the root), a ".." component in path
 * itself that climbs above the root, and /proc magic links are refused with -EACCES (-ELOOP for
 * magic links and symlink loops). Other errors are the kernel's, negated: -ENOENT, -EACCES (no
 * permission), -ENOTDIR … Returns the fd and fills *ret_st (may be NULL) with its fstat().
 * Uses openat2(RESOLVE_BENEATH) and falls back to http_path_open_walk() where the kernel has no
 * openat2 (ENOSYS) or a seccomp filter denies it (EPERM). */
int http_path_open(int root_fd, const char *path, int flags, struct stat *ret_st);

/* The fallback of http_path_open(), with the same contract: walks the path one component at a time
 * with openat(O_PATH|O_NOFOLLOW), expanding at most 40 symlinks itself and checking that every ".."
 * lands on the directory it came from. Exported so tests can run it on kernels with openat2. */
int http_path_open_walk(int root_fd, const char *path, int flags, struct stat *ret_st);

/* The extension of the last component of path: a pointer just after its last '.', or NULL when the
 * component has no '.' or ends with one. A leading dot counts (".htaccess" → "htaccess"), as in
 * Apache's mod_mime. */
const char *http_path_extension(const char *path);
