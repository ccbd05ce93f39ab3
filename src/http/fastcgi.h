/* SPDX-License-Identifier: MIT */
/* fastcgi.h — FastCGI 1.0 records (the Open Market specification, 1996) for the web server's side
 * of a responder such as php-fpm: an encoder of the records we send and an incremental decoder of
 * the records the application answers with (fastcgi.c).
 *
 * Contract: neither allocates nor does I/O, and both are indifferent to where the byte stream is
 * split. The encoder writes into a buffer the caller lends it and says when that buffer is full
 * (the caller sends what is there, lends an empty one and repeats the call); a name-value pair may
 * span records and buffers. The decoder takes whatever bytes the caller read, keeps the few bytes
 * of a header or of FCGI_END_REQUEST's body it needs across calls in its own state, and reports
 * STDOUT and STDERR content as spans of the caller's buffer, never copied; it always says how many
 * bytes it consumed, so the caller can drop them.
 *
 * Why written here: Debian's FastCGI libraries are for the other side. libfcgi (libfcgi-dev,
 * libfcgi0ldbl) is the application's library, with blocking accept/read loops; the rest of
 * `apt-cache search fastcgi` is language bindings (Perl, Ruby, Lua, Node, Mono), Apache's mod_fcgid
 * and spawners (spawn-fcgi, fcgiwrap). None is a non-blocking client library in C; the protocol is
 * a few fixed-size records, smaller than the glue any of them would need. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FCGI_VERSION_1 1
#define FCGI_HEADER_LEN 8
#define FCGI_MAX_CONTENT 65535U
#define FCGI_MAX_PAIR_LENGTH 0x7fffffffU /* a 4-byte length has 31 bits */

typedef enum FcgiType {
        FCGI_BEGIN_REQUEST = 1,
        FCGI_ABORT_REQUEST = 2,
        FCGI_END_REQUEST = 3,
        FCGI_PARAMS = 4,
        FCGI_STDIN = 5,
        FCGI_STDOUT = 6,
        FCGI_STDERR = 7,
        FCGI_DATA = 8,
        FCGI_GET_VALUES = 9,
        FCGI_GET_VALUES_RESULT = 10,
        FCGI_UNKNOWN_TYPE = 11,
} FcgiType;

enum {
        FCGI_RESPONDER = 1,
        FCGI_AUTHORIZER = 2,
        FCGI_FILTER = 3,
};

#define FCGI_KEEP_CONN 1

typedef enum FcgiProtocolStatus {
        FCGI_REQUEST_COMPLETE = 0,
        FCGI_CANT_MPX_CONN = 1,
        FCGI_OVERLOADED = 2,
        FCGI_UNKNOWN_ROLE = 3,
} FcgiProtocolStatus;

typedef struct FcgiHeader {
        uint8_t version;
        uint8_t type;
        uint16_t request_id;
        uint16_t content_length;
        uint8_t padding_length;
} FcgiHeader;

/* The 8 header bytes of a record, for a caller that sends content from its own buffer (writev). */
void fcgi_header_write(uint8_t out[FCGI_HEADER_LEN], uint8_t type, uint16_t request_id, uint16_t content_length,
                       uint8_t padding_length);
void fcgi_header_read(const uint8_t in[FCGI_HEADER_LEN], FcgiHeader *ret);

/* FCGI_BEGIN_REQUEST (16 bytes) and FCGI_ABORT_REQUEST (8 bytes) into buf: the number of bytes
 * written, or -ENOBUFS when size is too small (nothing written). */
int fcgi_write_begin_request(void *buf, size_t size, uint16_t request_id, uint16_t role, bool keep_conn);
int fcgi_write_abort_request(void *buf, size_t size, uint16_t request_id);

/* A stream of FCGI_PARAMS or FCGI_STDIN records into lent buffers. Records carry at most
 * FCGI_MAX_CONTENT bytes and, with pad, are padded to a multiple of 8 as the specification
 * recommends. The open record is closed (its length filled in) by fcgi_stream_flush(), so only the
 * bytes it reports may be sent. */
typedef struct FcgiStream {
        uint8_t type;
        uint16_t request_id;
        bool pad;
        uint8_t *buf;
        size_t size, len;
        size_t open;       /* offset of the open record's header + 1; 0 when no record is open */
        uint64_t pair_pos; /* FCGI_PARAMS: bytes of the current pair already written */
        bool ended;        /* the empty record that ends the stream is written */
} FcgiStream;

void fcgi_stream_init(FcgiStream *s, uint8_t type, uint16_t request_id, bool pad);
/* Lend an empty buffer (the first one, or a new one after the bytes of fcgi_stream_flush() went). */
void fcgi_stream_set_buffer(FcgiStream *s, void *buf, size_t size);
/* Close the open record; returns how many bytes of the buffer are ready to send. */
size_t fcgi_stream_flush(FcgiStream *s);

/* FCGI_PARAMS: add one name-value pair. Returns 1 when all of it is written, 0 when the buffer
 * filled first (flush, lend a new buffer and call again with the same pair: it goes on where it
 * stopped), -E2BIG for a name or value longer than FCGI_MAX_PAIR_LENGTH, -EINVAL on a stream
 * that is not FCGI_PARAMS or has ended. */
int fcgi_params_add(FcgiStream *s, const char *name, size_t name_len, const char *value, size_t value_len);

/* FCGI_STDIN: copy as much of data as fits; returns the bytes taken (0 when the buffer is full:
 * flush, lend another, call again with the rest). */
size_t fcgi_stream_write(FcgiStream *s, const void *data, size_t n);

/* The empty record that ends the stream. Returns 1 when written, 0 when the buffer is full (flush,
 * lend another, call again). */
int fcgi_stream_end(FcgiStream *s);

/* One name-value pair of a PARAMS (or GET_VALUES) content stream, as spans of buf. Returns the
 * pair's encoded length, 0 when buf holds less than one whole pair, -EBADMSG when a length is
 * beyond FCGI_MAX_PAIR_LENGTH. Not used on the server's path (the application decodes
 * PARAMS); it is the other half of the encoder for tests and fuzzing. */
typedef struct FcgiPair {
        const char *name;
        size_t name_len;
        const char *value;
        size_t value_len;
} FcgiPair;
int64_t fcgi_pair_parse(const char *buf, size_t len, FcgiPair *ret);

/* ---- the decoder of a responder's answer ---- */

typedef enum FcgiEventType {
        FCGI_EVENT_STDOUT, /* data/len: the next bytes of the response (head and body, CGI-style) */
        FCGI_EVENT_STDERR, /* data/len: for the site's error log */
        FCGI_EVENT_END,    /* FCGI_END_REQUEST: app_status, protocol_status; nothing may follow */
} FcgiEventType;

typedef struct FcgiEvent {
        FcgiEventType type;
        const char *data; /* inside the buffer of the call that reported it */
        size_t len;
        uint32_t app_status;
        uint8_t protocol_status; /* FcgiProtocolStatus, or a value the application made up */
} FcgiEvent;

typedef struct FcgiDecoder {
        uint16_t request_id;
        uint64_t max_stderr; /* most STDERR bytes in one answer; 0: no limit */
        const char *error;   /* static string naming why the stream was refused */

        /* private */
        uint32_t state;
        uint8_t header[FCGI_HEADER_LEN];
        uint8_t end_body[8];
        uint32_t have;      /* bytes of header or end_body collected */
        uint8_t type;       /* the current record's */
        uint32_t remaining; /* content bytes left in the current record */
        uint32_t padding;   /* padding bytes left */
        bool stdout_closed, stderr_closed;
        uint64_t stderr_bytes;
        int result;
} FcgiDecoder;

enum {
        FCGI_DECODE_AGAIN = 0, /* every byte consumed, nothing to report: read more */
        FCGI_DECODE_EVENT = 1, /* *ret_event is filled: act on it, then call again with the rest */
};

void fcgi_decoder_init(FcgiDecoder *d, uint16_t request_id, uint64_t max_stderr);

/* Decode from buf[0..len): *ret_consumed bytes were used (with FCGI_DECODE_AGAIN all of them; an
 * event's data lies inside them). Errors (-EPROTO, with d->error; every later call returns the
 * same): a version other than 1, a record type a responder does not send, a record for another
 * request id, an FCGI_END_REQUEST whose body is not 8 bytes, STDOUT or STDERR after its empty
 * record, STDERR beyond max_stderr, any byte after FCGI_END_REQUEST. */
int fcgi_decoder_feed(FcgiDecoder *d, const char *buf, size_t len, size_t *ret_consumed, FcgiEvent *ret_event);

/* Whether the decoder has seen FCGI_END_REQUEST (and its padding). */
bool fcgi_decoder_done(const FcgiDecoder *d);
