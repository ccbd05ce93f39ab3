/* SPDX-License-Identifier: MIT */
/* file-cache.h — an open-file cache, like nginx's open_file_cache valid=1s.
 *
 * Maps (scope, path) to what serving a regular file needs: its stat, its ETag, header lines the
 * caller builds once (file_cache_entry_set_lines), and either the file's bytes (up to
 * FILE_CACHE_DATA_MAX) or an open read-only fd. The scope names the site the path belongs to (the
 * caller derives it from its server instance and site), so one site's entry is never another's.
 * Files are opened only through http_path_open() beneath the given root, so nothing outside the
 * root is ever cached. An entry is trusted for `valid` usec, then the path is opened again and
 * compared (device, inode, size, mtime, ctime): a changed, replaced or removed file is seen within
 * that time. A directory's DirectoryIndex resolution (which of the index names it serves, or that
 * none) is an entry of its own, kept and revalidated the same way (file_cache_lookup_index), so an
 * index file created, removed or replaced is seen within that time too. A path that is not there
 * (-ENOENT, -ENOTDIR: a 404) is remembered for the same time, so a repeated 404 opens nothing and a
 * file created there is served within that time, as a changed file is seen; no other error is
 * remembered (a refusal, a link out of the root or in a loop, a passing failure are looked at
 * afresh every time). Entries are bounded, least recently used first out; entries holding an fd
 * are bounded separately, and missing paths too, in a budget and a list of their own
 * (max_entries / FILE_CACHE_MISSING_SHARE of them), so that requests for any number of
 * distinct missing paths push out only other missing paths, never a file. Not thread-safe: one
 * cache per thread. An entry stays valid until the next call on the same cache. Never logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "shared/macro.h"

#define FILE_CACHE_DATA_MAX (12 * 1024) /* files up to this size are kept in memory */
#define FILE_CACHE_LINES_MAX 512
#define FILE_CACHE_MISSING_SHARE 4 /* missing paths kept: max_entries / this (at least 1) */

typedef struct FileCache FileCache;

typedef struct FileCacheEntry {
        struct stat st;
        char etag[64];
        const char *data; /* the whole file (st.st_size bytes) when small, else NULL */
        int fd;           /* an open fd of a larger file (owned by the cache; dup it), else -1 */
        char lines[FILE_CACHE_LINES_MAX]; /* the caller's prebuilt header lines; reset on change */
        size_t lines_len;
} FileCacheEntry;

typedef struct FileCacheStats {
        uint64_t hits, misses, revalidations, changes, evictions;
        /* Directory indexes answered from a kept resolution; resolutions done (the names tried). */
        uint64_t index_hits, index_resolutions;
        /* Lookups answered from a kept missing path (no open); missing paths pushed out by others. */
        uint64_t missing_hits, missing_evictions;
        size_t entries, fds;
        size_t missing, max_missing; /* missing paths kept now, and their bound */
} FileCacheStats;

/* max_entries >= 1; max_fds may be 0 (larger files are then never cached). */
int file_cache_new(size_t max_entries, size_t max_fds, usec_t valid, FileCache **ret);
FileCache *file_cache_free(FileCache *fc);

/* Look path (normalised, starting with '/') up in scope; open it beneath root_fd on a miss or once
 * the entry is older than valid (now: CLOCK_MONOTONIC). Returns 0 and the entry, or:
 *   -EISDIR      a directory, -EBADFD another non-regular file (not cached: the caller handles it);
 *   -EAGAIN      not cacheable now (the fd bound is reached, or the file changed while read);
 *   another -errno from http_path_open (-ENOENT, -EACCES …), and the stale entry is gone;
 *                -ENOENT and -ENOTDIR are kept for valid usec and answered again without an open
 *                (FileCacheStats.missing_hits), the others are not kept. */
int file_cache_lookup(FileCache *fc, uint64_t scope, int root_fd, const char *path, usec_t now,
                      const FileCacheEntry **ret);

/* The index of the directory dir (normalised, ending with '/') in scope: the first of names (a
 * NULL-terminated list, the same array on every call for a scope) that is a regular file beneath
 * root_fd as dir + name — passing over names that do not exist or are not regular files, exactly
 * as opening them one by one would — looked up and returned as file_cache_lookup() does, with the
 * name chosen (a pointer into names). The choice is kept for valid usec; then, or as soon as the
 * file chosen is gone or no longer a regular file, the names are tried again in order. Returns 0,
 * or:
 *   -ENOENT      dir is a directory and none of the names is a regular file in it (kept);
 *   -ENOTDIR     dir does not exist or is not a directory (its -ENOENT is reported as -ENOTDIR);
 *   -EBADFD      dir opens as something other than a directory (the caller handles it);
 *   -EAGAIN, -ENOMEM  not cacheable now (a name may be the index: the caller must look itself);
 *   another -errno: the directory's own error, or the last error other than -ENOENT a name gave
 *                when none was chosen (kept if it is one of a missing or forbidden file). */
int file_cache_lookup_index(FileCache *fc, uint64_t scope, int root_fd, const char *dir, char *const *names,
                            usec_t now, const FileCacheEntry **ret, const char **ret_name);

/* Store the header lines the caller built from the entry (truncated to FILE_CACHE_LINES_MAX). */
void file_cache_entry_set_lines(const FileCacheEntry *e, const char *lines, size_t len);

void file_cache_stats(const FileCache *fc, FileCacheStats *ret);

/* The ETag of a file as mpmd writes it: "inode-size-mtime(us)" in hex. */
void file_cache_etag_format(const struct stat *st, char *out, size_t n);
