/* SPDX-License-Identifier: MIT */
/* docroot.h — temporary document roots for the tests: a fresh folder $TMPDIR/mpmd-NAME-XXXXXX
 * (TMPDIR defaults to /tmp), files with a content, a mode and a modification time, folders and
 * symbolic links in it, and its removal with everything in it.
 *
 * These build a test's set-up, not what it checks: a failure ends the test at once with a criterion
 * assertion naming the path, rather than leaving it to fail later for a reason it cannot tell.
 * PATH arguments are relative to the root and may name a subfolder that exists. */
#pragma once

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* A new, empty root; the returned path is the caller's (docroot_remove() frees it). */
char *docroot_new(const char *name);

/* Creates or truncates ROOT/PATH with exactly MODE (not masked by the umask) and LEN bytes. */
void docroot_add_file(const char *root, const char *path, const void *content, size_t len, mode_t mode);
/* The same for a string, mode 0644. */
void docroot_add_text(const char *root, const char *path, const char *text);
void docroot_add_dir(const char *root, const char *path, mode_t mode);
/* ROOT/PATH -> TARGET, TARGET as given (relative to the link's folder, or absolute). */
void docroot_add_symlink(const char *root, const char *path, const char *target);
/* Sets the access and modification times of ROOT/PATH (not following a link). */
void docroot_set_mtime(const char *root, const char *path, time_t mtime);

/* Removes ROOT and everything in it, whatever modes a test left on its folders, without following
 * links, and frees ROOT. NULL is a no-op. */
void docroot_remove(char *root);
