/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memory-io.h"

static ssize_t mem_read(void *ctx, void *buf, size_t n) {
        MemoryIo *m = ctx;
        size_t left = m->in_len - m->in_pos;

        if (left == 0)
                return m->eof ? 0 : HTTP_IO_WANT_READ;
        if (m->chunk && n > m->chunk)
                n = m->chunk;
        if (n > left)
                n = left;
        memcpy(buf, m->in + m->in_pos, n);
        m->in_pos += n;
        return (ssize_t) n;
}

static ssize_t mem_writev(void *ctx, const struct iovec *iov, int n) {
        MemoryIo *m = ctx;
        size_t total = 0;

        if (m->budgeted && m->write_budget == 0)
                return HTTP_IO_WANT_WRITE;
        for (int i = 0; i < n; i++) {
                size_t len = iov[i].iov_len;
                if (m->write_limit && total + len > m->write_limit)
                        len = m->write_limit - total;
                if (m->budgeted && total + len > m->write_budget)
                        len = m->write_budget - total;
                if (m->out_len + len > m->out_size) {
                        size_t size = (m->out_len + len) * 2 + 1024;
                        char *p = realloc(m->out, size);
                        if (!p)
                                return -ENOMEM;
                        m->out = p;
                        m->out_size = size;
                }
                memcpy(m->out + m->out_len, iov[i].iov_base, len);
                m->out_len += len;
                total += len;
                if ((m->write_limit && total >= m->write_limit) || (m->budgeted && total >= m->write_budget))
                        break;
        }
        if (m->budgeted)
                m->write_budget -= total;
        return (ssize_t) total;
}

static int mem_shutdown(void *ctx) {
        ((MemoryIo *) ctx)->shut = true;
        return 0;
}

const HttpIo memory_io = {
        .read = mem_read,
        .writev = mem_writev,
        .sendfile = NULL,
        .shutdown = mem_shutdown,
};

void memory_io_init(MemoryIo *m, const char *in, size_t len, size_t chunk) {
        *m = (MemoryIo) { .in = in, .in_len = len, .chunk = chunk };
}

void memory_io_done(MemoryIo *m) {
        free(m->out);
        m->out = NULL;
}

HttpConnWant memory_io_run(HttpConn *c, MemoryIo *m) {
        HttpConnWant w;

        /* Each call makes all the progress it can; loop while input remains to be handed out. */
        do
                w = http_conn_run(c, 1000);
        while (w == HTTP_CONN_WANT_READ && m->in_pos < m->in_len);
        return w;
}
