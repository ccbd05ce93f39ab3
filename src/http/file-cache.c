/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/file-cache.h"
#include "http/path.h"

typedef struct CacheNode {
        FileCacheEntry e; /* first: the public view is a pointer to the node */
        struct CacheNode *hash_next;
        struct CacheNode *lru_prev, *lru_next; /* most recently used at the head */
        uint64_t scope;
        uint64_t hash;
        usec_t validated;
        char *path;
} CacheNode;

struct FileCache {
        CacheNode **buckets;
        size_t n_buckets; /* a power of two */
        CacheNode *lru_head, *lru_tail;
        size_t n_entries, max_entries;
        size_t n_fds, max_fds;
        usec_t valid;
        FileCacheStats stats;
};

/* FNV-1a over the scope and the path. */
static uint64_t cache_hash(uint64_t scope, const char *path) {
        uint64_t h = UINT64_C(14695981039346656037);

        for (unsigned i = 0; i < 8; i++) {
                h ^= (scope >> (i * 8)) & 0xff;
                h *= UINT64_C(1099511628211);
        }
        for (const unsigned char *p = (const unsigned char *) path; *p; p++) {
                h ^= *p;
                h *= UINT64_C(1099511628211);
        }
        return h;
}

int file_cache_new(size_t max_entries, size_t max_fds, usec_t valid, FileCache **ret) {
        FileCache *fc;
        size_t n = 16;

        if (max_entries == 0)
                return -EINVAL;
        while (n < max_entries * 2)
                n *= 2;
        fc = calloc(1, sizeof(*fc));
        if (!fc)
                return -ENOMEM;
        fc->buckets = calloc(n, sizeof(CacheNode *));
        if (!fc->buckets) {
                free(fc);
                return -ENOMEM;
        }
        fc->n_buckets = n;
        fc->max_entries = max_entries;
        fc->max_fds = max_fds;
        fc->valid = valid;
        *ret = fc;
        return 0;
}

static void node_clear(FileCache *fc, CacheNode *n) {
        if (n->e.fd >= 0)
                fc->n_fds--;
        n->e.fd = safe_close(n->e.fd);
        n->e.data = mfree((char *) n->e.data);
        n->e.lines_len = 0;
}

static void lru_unlink(FileCache *fc, CacheNode *n) {
        if (n->lru_prev)
                n->lru_prev->lru_next = n->lru_next;
        else
                fc->lru_head = n->lru_next;
        if (n->lru_next)
                n->lru_next->lru_prev = n->lru_prev;
        else
                fc->lru_tail = n->lru_prev;
        n->lru_prev = n->lru_next = NULL;
}

static void lru_push_front(FileCache *fc, CacheNode *n) {
        n->lru_next = fc->lru_head;
        n->lru_prev = NULL;
        if (fc->lru_head)
                fc->lru_head->lru_prev = n;
        fc->lru_head = n;
        if (!fc->lru_tail)
                fc->lru_tail = n;
}

static void node_remove(FileCache *fc, CacheNode *n) {
        CacheNode **p = &fc->buckets[n->hash & (fc->n_buckets - 1)];

        while (*p != n)
                p = &(*p)->hash_next;
        *p = n->hash_next;
        lru_unlink(fc, n);
        node_clear(fc, n);
        free(n->path);
        free(n);
        fc->n_entries--;
}

FileCache *file_cache_free(FileCache *fc) {
        if (!fc)
                return NULL;
        while (fc->lru_head)
                node_remove(fc, fc->lru_head);
        free(fc->buckets);
        free(fc);
        return NULL;
}

void file_cache_etag_format(const struct stat *st, char *out, size_t n) {
        unsigned long long mtime = (unsigned long long) st->st_mtim.tv_sec * 1000000ULL +
                                   (unsigned long long) st->st_mtim.tv_nsec / 1000;
        snprintf(out, n, "\"%llx-%llx-%llx\"", (unsigned long long) st->st_ino, (unsigned long long) st->st_size,
                 mtime);
}

static bool stat_same(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
               a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec &&
               a->st_mode == b->st_mode;
}

/* Open path and fill n from it: the bytes of a small file, the fd of a larger one. On error n is
 * left cleared. */
static int node_load(FileCache *fc, CacheNode *n, int root_fd, const char *path) {
        struct stat st;
        int fd = http_path_open(root_fd, path, O_RDONLY | O_NONBLOCK, &st);

        if (fd < 0)
                return fd;
        if (S_ISDIR(st.st_mode) || !S_ISREG(st.st_mode)) {
                safe_close(fd);
                return S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
        }
        if (st.st_size <= FILE_CACHE_DATA_MAX) {
                size_t size = (size_t) st.st_size;
                char *data = malloc(size ? size : 1);
                size_t got = 0;

                if (!data) {
                        safe_close(fd);
                        return -ENOMEM;
                }
                while (got < size) {
                        ssize_t k = pread(fd, data + got, size - got, (off_t) got);
                        if (k <= 0)
                                break;
                        got += (size_t) k;
                }
                safe_close(fd);
                if (got != size) {
                        /* It shrank while we read it: not a consistent copy. */
                        free(data);
                        return -EAGAIN;
                }
                n->e.data = data;
        } else {
                if (fc->n_fds >= fc->max_fds) {
                        /* Make room by dropping the least recently used entry that holds an fd. */
                        CacheNode *v = fc->lru_tail;
                        while (v && (v->e.fd < 0 || v == n))
                                v = v->lru_prev;
                        if (!v) {
                                safe_close(fd);
                                return -EAGAIN;
                        }
                        node_remove(fc, v);
                        fc->stats.evictions++;
                }
                n->e.fd = fd;
                fc->n_fds++;
        }
        n->e.st = st;
        file_cache_etag_format(&st, n->e.etag, sizeof(n->e.etag));
        n->e.lines_len = 0;
        return 0;
}

/* The entry is older than valid: is the file still the one we hold? */
static int node_revalidate(FileCache *fc, CacheNode *n, int root_fd, usec_t now) {
        struct stat st;
        int fd;

        fc->stats.revalidations++;
        fd = http_path_open(root_fd, n->path, O_RDONLY | O_NONBLOCK, &st);
        if (fd < 0)
                return fd;
        safe_close(fd);
        if (!stat_same(&st, &n->e.st)) {
                int r;

                fc->stats.changes++;
                node_clear(fc, n);
                r = node_load(fc, n, root_fd, n->path);
                if (r < 0)
                        return r;
        }
        n->validated = now;
        return 0;
}

int file_cache_lookup(FileCache *fc, uint64_t scope, int root_fd, const char *path, usec_t now,
                      const FileCacheEntry **ret) {
        uint64_t h = cache_hash(scope, path);
        CacheNode **bucket = &fc->buckets[h & (fc->n_buckets - 1)];
        CacheNode *n;
        int r;

        for (n = *bucket; n; n = n->hash_next)
                if (n->hash == h && n->scope == scope && strcmp(n->path, path) == 0)
                        break;
        if (n) {
                if (now >= n->validated + fc->valid || now < n->validated) {
                        r = node_revalidate(fc, n, root_fd, now);
                        if (r < 0) {
                                node_remove(fc, n);
                                return r;
                        }
                } else
                        fc->stats.hits++;
                if (fc->lru_head != n) {
                        lru_unlink(fc, n);
                        lru_push_front(fc, n);
                }
                *ret = &n->e;
                return 0;
        }

        fc->stats.misses++;
        if (fc->n_entries >= fc->max_entries) {
                node_remove(fc, fc->lru_tail);
                fc->stats.evictions++;
        }
        n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->e.fd = -1;
        n->path = strdup(path);
        if (!n->path) {
                free(n);
                return -ENOMEM;
        }
        r = node_load(fc, n, root_fd, path);
        if (r < 0) {
                free(n->path);
                free(n);
                return r;
        }
        n->scope = scope;
        n->hash = h;
        n->validated = now;
        n->hash_next = *bucket;
        *bucket = n;
        lru_push_front(fc, n);
        fc->n_entries++;
        *ret = &n->e;
        return 0;
}

void file_cache_entry_set_lines(const FileCacheEntry *e, const char *lines, size_t len) {
        /* The entry is the cache's; the caller got it const so it cannot change the file's data. */
        FileCacheEntry *w = (FileCacheEntry *) e;

        w->lines_len = MIN(len, sizeof(w->lines));
        memcpy(w->lines, lines, w->lines_len);
}

void file_cache_stats(const FileCache *fc, FileCacheStats *ret) {
        *ret = fc->stats;
        ret->entries = fc->n_entries;
        ret->fds = fc->n_fds;
}
