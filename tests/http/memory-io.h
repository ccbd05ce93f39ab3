/* SPDX-License-Identifier: MIT */
/* memory-io.h — an HttpIo (io.h) over memory for tests and fuzzers: input is handed out in chunks
 * of a chosen size (so every split point can be exercised), output is collected in one buffer. Like
 * a plain socket it only waits in the direction of the call: a read with nothing left answers
 * HTTP_IO_WANT_READ, a write past its budget HTTP_IO_WANT_WRITE. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "http/conn.h"

typedef struct MemoryIo {
        const char *in;
        size_t in_len, in_pos;
        size_t chunk;     /* at most this many bytes per recv (0: all) */
        bool eof;         /* after the input: end of stream instead of HTTP_IO_WANT_READ */
        char *out;
        size_t out_len, out_size;
        size_t write_limit; /* at most this many bytes per writev (0: all) */
        bool budgeted;      /* writes take at most write_budget bytes in all, then HTTP_IO_WANT_WRITE */
        size_t write_budget;
        bool shut;
} MemoryIo;

extern const HttpIo memory_io;

void memory_io_init(MemoryIo *m, const char *in, size_t len, size_t chunk);
void memory_io_done(MemoryIo *m);

/* Run c until it waits for input that will not come or is done. Returns the last want. */
HttpConnWant memory_io_run(HttpConn *c, MemoryIo *m);
