/* SPDX-License-Identifier: MIT */
/* client-hello.c — the ClientHello's server_name, read through the records that carry it
 * (client-hello.h states the contract).
 *
 * One pass from buf's start: a cursor hands out the handshake message's bytes and steps over each
 * record header on the way, checking it as it goes. Every byte the parser looks at is checked as
 * soon as it is there, so a plain HTTP request on a TLS port is refused at its first byte and a
 * length that cannot fit at the moment it is read, not once its bytes have arrived. */
#include <errno.h>
#include <string.h>

#include "mpm/client-hello.h"
#include "shared/macro.h"

#define RECORD_HEADER 5
#define RECORD_MAX 16384 /* 2^14: a plaintext record's fragment (RFC 8446 §5.1) */
#define CONTENT_HANDSHAKE 22
#define HANDSHAKE_CLIENT_HELLO 1
#define EXT_SERVER_NAME 0
#define EXT_ALPN 16
#define SNI_HOST_NAME 0

typedef struct Cursor {
        const uint8_t *buf;
        size_t len;
        size_t pos;      /* the next byte of buf to read */
        size_t rec_left; /* bytes of the current record's fragment not read yet */
        size_t hs_read;  /* bytes of the handshake message read */
        size_t hs_total; /* 4 + its length field; 0 until that is read */
        size_t want;     /* -EAGAIN: handshake bytes the last read still wanted */
        ClientHelloError error;
} Cursor;

static int fail(Cursor *c, ClientHelloError e) {
        c->error = e;
        return -EBADMSG;
}

/* The records still to come must fit in CLIENT_HELLO_WIRE_MAX: the current one ends at end, and
 * the rest of the message needs at least one more header. */
static int check_wire(Cursor *c, size_t end) {
        size_t after = c->hs_total - c->hs_read - c->rec_left;

        if (end + (after > 0 ? RECORD_HEADER + after : 0) > CLIENT_HELLO_WIRE_MAX)
                return fail(c, CLIENT_HELLO_TOO_FRAGMENTED);
        return 0;
}

/* Once the message's length is known: the current record may not go on past it. */
static int check_record(Cursor *c) {
        if (c->hs_read + c->rec_left > c->hs_total)
                return fail(c, CLIENT_HELLO_RECORD_TRAILING);
        return check_wire(c, c->pos + c->rec_left);
}

/* The record header at c->pos, byte by byte as far as buf goes. */
static int record_header(Cursor *c) {
        size_t have = MIN(c->len - c->pos, (size_t) RECORD_HEADER);
        const uint8_t *h = have > 0 ? c->buf + c->pos : NULL;

        if (have >= 1 && h[0] != CONTENT_HANDSHAKE) {
                if (c->pos > 0 || (h[0] >= 20 && h[0] <= 24))
                        return fail(c, CLIENT_HELLO_NOT_HANDSHAKE);
                return fail(c, h[0] & 0x80 ? CLIENT_HELLO_SSLV2 : CLIENT_HELLO_NOT_TLS);
        }
        /* Real clients send 0x0301 for compatibility (RFC 8446 §5.1), some 0x0300. */
        if ((have >= 2 && h[1] != 3) || (have >= 3 && h[2] > 4))
                return fail(c, CLIENT_HELLO_RECORD_VERSION);
        if (have < RECORD_HEADER)
                return -EAGAIN;
        size_t n = (size_t) h[3] << 8 | h[4];
        if (n == 0)
                return fail(c, CLIENT_HELLO_RECORD_EMPTY);
        if (n > RECORD_MAX)
                return fail(c, CLIENT_HELLO_RECORD_OVERFLOW);
        c->pos += RECORD_HEADER;
        c->rec_left = n;
        if (c->hs_total > 0)
                return check_record(c);
        return 0;
}

/* The next n bytes of the handshake message, into dst unless NULL. */
static int take(Cursor *c, uint8_t *dst, size_t n) {
        while (n > 0) {
                if (c->rec_left == 0) {
                        int r = record_header(c);
                        if (r < 0) {
                                if (r == -EAGAIN)
                                        c->want = n;
                                return r;
                        }
                }
                size_t k = MIN(MIN(n, c->rec_left), c->len - c->pos);
                if (k == 0) {
                        c->want = n;
                        return -EAGAIN;
                }
                if (dst) {
                        memcpy(dst, c->buf + c->pos, k);
                        dst += k;
                }
                c->pos += k;
                c->rec_left -= k;
                c->hs_read += k;
                n -= k;
        }
        return 0;
}

/* A big-endian number of n ≤ 3 bytes. */
static int take_uint(Cursor *c, size_t n, size_t *ret) {
        uint8_t b[3];
        int r = take(c, b, n);

        if (r < 0)
                return r;
        *ret = 0;
        for (size_t i = 0; i < n; i++)
                *ret = *ret << 8 | b[i];
        return 0;
}

/* n more bytes of the message must lie inside the container that ends at end. */
static int fits(Cursor *c, size_t n, size_t end) {
        return c->hs_read + n <= end ? 0 : fail(c, CLIENT_HELLO_LENGTH);
}

/* A field of lsize length bytes, then as many bytes as they say, skipped; its length in *ret. */
static int take_vector(Cursor *c, size_t lsize, size_t end, size_t *ret) {
        int r;

        if ((r = fits(c, lsize, end)) < 0 || (r = take_uint(c, lsize, ret)) < 0)
                return r;
        return fits(c, *ret, end);
}

/* RFC 6066 §3: "a byte string using ASCII encoding"; what could turn a name into something other
 * than one name (a path, a second field, the end of a C string) never gets through. */
static bool host_name_byte_ok(uint8_t b) {
        return b > ' ' && b < 0x7f && b != '/' && b != '\\';
}

/* The extension_data of server_name: a list of exactly one host_name (what OpenSSL accepts too:
 * RFC 6066 forbids two names of one type, and no other type was ever defined). */
static int parse_server_name(Cursor *c, size_t elen, ClientHelloInfo *ret) {
        size_t end = c->hs_read + elen, list, type, n;
        int r;

        if ((r = fits(c, 2, end)) < 0 || (r = take_uint(c, 2, &list)) < 0)
                return r;
        if (list == 0)
                return fail(c, CLIENT_HELLO_SNI_LIST);
        if (c->hs_read + list != end)
                return fail(c, CLIENT_HELLO_LENGTH);
        if ((r = fits(c, 1, end)) < 0 || (r = take_uint(c, 1, &type)) < 0)
                return r;
        if (type != SNI_HOST_NAME)
                return fail(c, CLIENT_HELLO_SNI_TYPE);
        if ((r = fits(c, 2, end)) < 0 || (r = take_uint(c, 2, &n)) < 0)
                return r;
        if (n == 0)
                return fail(c, CLIENT_HELLO_SNI_EMPTY);
        if (n > CLIENT_HELLO_SNI_MAX)
                return fail(c, CLIENT_HELLO_SNI_TOO_LONG);
        if ((r = fits(c, n, end)) < 0)
                return r;
        if (c->hs_read + n < end)
                return fail(c, CLIENT_HELLO_SNI_LIST); /* a second name follows */
        if ((r = take(c, (uint8_t *) ret->sni, n)) < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (!host_name_byte_ok((uint8_t) ret->sni[i]))
                        return fail(c, CLIENT_HELLO_SNI_BYTE);
        ret->sni[n] = 0;
        ret->sni_len = n;
        ret->has_sni = true;
        return 0;
}

static int parse_extensions(Cursor *c, ClientHelloInfo *ret) {
        uint16_t seen[CLIENT_HELLO_EXTENSIONS_MAX];
        size_t n_seen = 0, total, type, elen;
        int r;

        if ((r = take_vector(c, 2, c->hs_total, &total)) < 0)
                return r;
        if (c->hs_read + total != c->hs_total)
                return fail(c, CLIENT_HELLO_LENGTH); /* bytes after the extensions */
        while (c->hs_read < c->hs_total) {
                if ((r = fits(c, 2, c->hs_total)) < 0 || (r = take_uint(c, 2, &type)) < 0)
                        return r;
                for (size_t i = 0; i < n_seen; i++)
                        if (seen[i] == type)
                                return fail(c, CLIENT_HELLO_EXTENSION_DUPLICATE);
                if (n_seen == ELEMENTSOF(seen))
                        return fail(c, CLIENT_HELLO_TOO_MANY_EXTENSIONS);
                seen[n_seen++] = (uint16_t) type;
                if ((r = take_vector(c, 2, c->hs_total, &elen)) < 0)
                        return r;
                if (type == EXT_SERVER_NAME)
                        r = parse_server_name(c, elen, ret);
                else {
                        if (type == EXT_ALPN)
                                ret->has_alpn = true;
                        r = take(c, NULL, elen);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The message: RFC 8446 §4.1.2, which RFC 5246 §7.4.1.2's hello is a case of. */
static int parse_hello(Cursor *c, ClientHelloInfo *ret) {
        size_t v, n;
        int r;

        if ((r = take_uint(c, 1, &v)) < 0)
                return r;
        if (v != HANDSHAKE_CLIENT_HELLO)
                return fail(c, CLIENT_HELLO_NOT_CLIENT_HELLO);
        if ((r = take_uint(c, 3, &n)) < 0)
                return r;
        if (n > CLIENT_HELLO_MAX)
                return fail(c, CLIENT_HELLO_TOO_LONG);
        c->hs_total = 4 + n;
        if ((r = check_record(c)) < 0)
                return r;

        /* legacy_version: 0x0303 from TLS 1.3 clients; anything but 3.x is no TLS. */
        if ((r = fits(c, 2, c->hs_total)) < 0 || (r = take_uint(c, 1, &v)) < 0)
                return r;
        if (v != 3)
                return fail(c, CLIENT_HELLO_VERSION);
        if ((r = take(c, NULL, 1)) < 0)
                return r;
        /* random */
        if ((r = fits(c, 32, c->hs_total)) < 0 || (r = take(c, NULL, 32)) < 0)
                return r;
        /* legacy_session_id<0..32> */
        if ((r = fits(c, 1, c->hs_total)) < 0 || (r = take_uint(c, 1, &n)) < 0)
                return r;
        if (n > 32)
                return fail(c, CLIENT_HELLO_SESSION_ID);
        if ((r = fits(c, n, c->hs_total)) < 0 || (r = take(c, NULL, n)) < 0)
                return r;
        /* cipher_suites<2..2^16-2> */
        if ((r = fits(c, 2, c->hs_total)) < 0 || (r = take_uint(c, 2, &n)) < 0)
                return r;
        if (n == 0 || n % 2 != 0)
                return fail(c, CLIENT_HELLO_CIPHER_SUITES);
        if ((r = fits(c, n, c->hs_total)) < 0 || (r = take(c, NULL, n)) < 0)
                return r;
        /* legacy_compression_methods<1..2^8-1> */
        if ((r = fits(c, 1, c->hs_total)) < 0 || (r = take_uint(c, 1, &n)) < 0)
                return r;
        if (n == 0)
                return fail(c, CLIENT_HELLO_COMPRESSION);
        if ((r = fits(c, n, c->hs_total)) < 0 || (r = take(c, NULL, n)) < 0)
                return r;
        /* A TLS 1.2 hello may end here: no extensions, so no SNI. */
        if (c->hs_read == c->hs_total)
                return 0;
        return parse_extensions(c, ret);
}

ClientHelloStatus client_hello_parse(const uint8_t *buf, size_t len, ClientHelloInfo *ret) {
        Cursor c = { .buf = buf, .len = len };
        int r;

        *ret = (ClientHelloInfo) {};
        r = parse_hello(&c, ret);
        if (r == -EAGAIN) {
                /* The next byte that can change the answer: the end of what the last read wanted
                 * when it lies in this record, else the next record header's first byte (each
                 * header byte is checked as it comes). */
                size_t need;

                if (c.rec_left == 0)
                        need = len + 1;
                else if (c.want <= c.rec_left)
                        need = len + c.want;
                else
                        need = len + c.rec_left + 1;
                *ret = (ClientHelloInfo) { .need = need };
                return CLIENT_HELLO_NEED_MORE;
        }
        if (r < 0) {
                *ret = (ClientHelloInfo) { .error = c.error, .error_offset = c.pos };
                return CLIENT_HELLO_INVALID;
        }
        ret->length = c.pos;
        return CLIENT_HELLO_DONE;
}

static const char *const error_table[_CLIENT_HELLO_ERROR_MAX] = {
        [CLIENT_HELLO_OK] = "ok",
        [CLIENT_HELLO_NOT_TLS] = "not a TLS record",
        [CLIENT_HELLO_SSLV2] = "an SSLv2 hello",
        [CLIENT_HELLO_NOT_HANDSHAKE] = "a record of another type than handshake",
        [CLIENT_HELLO_RECORD_VERSION] = "an unknown record version",
        [CLIENT_HELLO_RECORD_EMPTY] = "an empty handshake record",
        [CLIENT_HELLO_RECORD_OVERFLOW] = "a record longer than 16384 bytes",
        [CLIENT_HELLO_RECORD_TRAILING] = "a record going on past the hello",
        [CLIENT_HELLO_TOO_FRAGMENTED] = "a hello in too many records",
        [CLIENT_HELLO_NOT_CLIENT_HELLO] = "a handshake message other than ClientHello",
        [CLIENT_HELLO_TOO_LONG] = "a ClientHello longer than 16384 bytes",
        [CLIENT_HELLO_VERSION] = "an unknown ClientHello version",
        [CLIENT_HELLO_SESSION_ID] = "a session id longer than 32 bytes",
        [CLIENT_HELLO_CIPHER_SUITES] = "a malformed cipher suite list",
        [CLIENT_HELLO_COMPRESSION] = "no compression method",
        [CLIENT_HELLO_LENGTH] = "a length that does not match its container",
        [CLIENT_HELLO_EXTENSION_DUPLICATE] = "an extension sent twice",
        [CLIENT_HELLO_TOO_MANY_EXTENSIONS] = "too many extensions",
        [CLIENT_HELLO_SNI_LIST] = "a server_name list not of one name",
        [CLIENT_HELLO_SNI_TYPE] = "a server name not of type host_name",
        [CLIENT_HELLO_SNI_EMPTY] = "an empty server name",
        [CLIENT_HELLO_SNI_TOO_LONG] = "a server name longer than 255 bytes",
        [CLIENT_HELLO_SNI_BYTE] = "a server name with a byte no host name has",
};

const char *client_hello_error_to_string(ClientHelloError e) {
        return (unsigned) e < ELEMENTSOF(error_table) ? error_table[e] : NULL;
}
