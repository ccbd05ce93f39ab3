/* SPDX-License-Identifier: MIT */
/* client-hello.h — find the server_name of a TLS ClientHello in the bytes a socket holds, without
 * consuming them, holding a key or allocating.
 *
 * perchild's dispatcher routes an HTTPS connection to the pool of the site its SNI names, and that
 * pool terminates TLS: so the dispatcher reads the hello with MSG_PEEK and calls
 * client_hello_parse() on everything peeked so far, again when more has arrived. The parser does no
 * I/O, keeps no state between calls (each call reads buf from its start) and never reads past len.
 *
 * It is written by hand: OpenSSL parses a ClientHello only inside an SSL object, which would need a
 * certificate and its key, and the dispatcher must route without ever holding one. And it
 * reassembles the handshake message across TLS records (RFC 8446 §5.1: a record of at most 2^14
 * bytes may carry any part of it), which a parser of "the first record" gets wrong — HAProxy's
 * req.ssl_sni failed exactly on hellos split over records, and post-quantum key shares make
 * 1.5–1.8 KB hellos that some clients split. The records are walked in place through a cursor that
 * skips their headers: no copy of the message is made.
 *
 * What it checks is the structure of RFC 8446 §4.1.2 / RFC 5246 §7.4.1.2 (every length inside its
 * container, each to the byte) and of server_name (RFC 6066 §3: one host_name, 1..255 bytes of
 * ASCII, no control byte, space, '/' or '\\'); not what the pool's OpenSSL decides (versions,
 * ciphers, the other extensions' contents). Limits: a handshake message of at most
 * CLIENT_HELLO_MAX bytes, carried in at most CLIENT_HELLO_WIRE_MAX bytes of records, and the last
 * record ends with the hello (a real client sends nothing more before the server answers; in
 * TLS 1.3 a key change follows, which must fall on a record boundary). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest handshake message body (its 24-bit length field) accepted. */
#define CLIENT_HELLO_MAX 16384
/* The most bytes of records (headers included) a hello may take: a buffer this big holds every
 * hello the parser accepts, whatever its framing (a 16 KB hello in records of 5 bytes or more; a
 * 2 KB one even in 1-byte records). */
#define CLIENT_HELLO_WIRE_MAX 32768
/* The longest host name (RFC 6066 §3 refers to DNS: 255 bytes; OpenSSL's limit too). */
#define CLIENT_HELLO_SNI_MAX 255

typedef enum ClientHelloStatus {
        CLIENT_HELLO_NEED_MORE, /* a valid prefix: parse again with at least ret->need bytes */
        CLIENT_HELLO_DONE,      /* the whole hello: ret->has_sni, ret->sni */
        CLIENT_HELLO_INVALID,   /* not a ClientHello we accept: ret->error says why */
} ClientHelloStatus;

typedef enum ClientHelloError {
        CLIENT_HELLO_OK,
        CLIENT_HELLO_NOT_TLS,          /* the first byte is no TLS record type (e.g. "GET /") */
        CLIENT_HELLO_SSLV2,            /* an SSLv2-compatible hello (high bit set) */
        CLIENT_HELLO_NOT_HANDSHAKE,    /* a record of another content type (alert, CCS, data) */
        CLIENT_HELLO_RECORD_VERSION,   /* a record version not 0x0300..0x0304 */
        CLIENT_HELLO_RECORD_EMPTY,     /* a handshake record of length 0 (RFC 8446 §5.1) */
        CLIENT_HELLO_RECORD_OVERFLOW,  /* a record of more than 2^14 bytes */
        CLIENT_HELLO_RECORD_TRAILING,  /* the record with the hello's end goes on past it */
        CLIENT_HELLO_TOO_FRAGMENTED,   /* the records would exceed CLIENT_HELLO_WIRE_MAX */
        CLIENT_HELLO_NOT_CLIENT_HELLO, /* a handshake message of another type */
        CLIENT_HELLO_TOO_LONG,         /* a hello of more than CLIENT_HELLO_MAX bytes */
        CLIENT_HELLO_VERSION,          /* legacy_version not 3.x */
        CLIENT_HELLO_SESSION_ID,       /* a session id of more than 32 bytes */
        CLIENT_HELLO_CIPHER_SUITES,    /* no cipher suite, or an odd length */
        CLIENT_HELLO_COMPRESSION,      /* no compression method */
        CLIENT_HELLO_LENGTH,           /* a length past its container's end, or short of it */
        CLIENT_HELLO_EXTENSION_DUPLICATE,
        CLIENT_HELLO_TOO_MANY_EXTENSIONS, /* more than CLIENT_HELLO_EXTENSIONS_MAX */
        CLIENT_HELLO_SNI_LIST,            /* an empty server_name list, or more than one name */
        CLIENT_HELLO_SNI_TYPE,            /* a name of a type other than host_name */
        CLIENT_HELLO_SNI_EMPTY,
        CLIENT_HELLO_SNI_TOO_LONG, /* more than CLIENT_HELLO_SNI_MAX bytes */
        CLIENT_HELLO_SNI_BYTE,     /* NUL, a control byte, space, '/', '\\' or non-ASCII */
        _CLIENT_HELLO_ERROR_MAX,
} ClientHelloError;

/* Real hellos carry about 20 (GREASE included); duplicates are looked for among this many. */
#define CLIENT_HELLO_EXTENSIONS_MAX 128

typedef struct ClientHelloInfo {
        /* CLIENT_HELLO_DONE */
        bool has_sni;
        char sni[CLIENT_HELLO_SNI_MAX + 1]; /* NUL-terminated: a copy, since the name may straddle
                                             * records; "" without SNI */
        size_t sni_len;
        bool has_alpn; /* an application_layer_protocol_negotiation extension */
        size_t length; /* bytes of buf the hello's records take */
        /* CLIENT_HELLO_NEED_MORE: the answer cannot change before buf holds this many bytes
         * (> len, ≤ CLIENT_HELLO_WIRE_MAX) */
        size_t need;
        /* CLIENT_HELLO_INVALID */
        ClientHelloError error;
        size_t error_offset; /* where in buf it was seen */
} ClientHelloInfo;

/* Parse the ClientHello at the start of buf[0..len). Fills *ret whatever the answer. */
ClientHelloStatus client_hello_parse(const uint8_t *buf, size_t len, ClientHelloInfo *ret);

/* "not a TLS record", …: for the log; NULL for a value out of range. */
const char *client_hello_error_to_string(ClientHelloError e);
