/* SPDX-License-Identifier: MIT */
/* The ClientHello parser (client-hello.h) over hellos real clients sent (tests/mpm/data/client-hello/,
 * made with capture.py there: OpenSSL, curl, Python, GnuTLS), each at every split point and re-framed into records of 1, 2, 3, 7,
 * 100 and 16384 bytes; and over hellos broken in each way the parser refuses, one length field at a
 * time. Every prefix is parsed from a buffer that ends where the prefix does, so that a read past
 * len is a sanitizer error in the sanitizer build. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpm/client-hello.h"
#include "shared/macro.h"

/* ---- bytes, records and hellos built here --------------------------------------------------- */

#define BYTES_MAX (6 * (CLIENT_HELLO_MAX + 64) + 64)

typedef struct Bytes {
        uint8_t d[BYTES_MAX];
        size_t n;
} Bytes;

static void put(Bytes *b, const void *p, size_t n) {
        cr_assert_leq(b->n + n, sizeof(b->d));
        memcpy(b->d + b->n, p, n);
        b->n += n;
}

static void put_uint(Bytes *b, size_t v, size_t width) {
        for (size_t i = 0; i < width; i++) {
                uint8_t x = (uint8_t) (v >> (8 * (width - 1 - i)));
                put(b, &x, 1);
        }
}

static void set_uint(uint8_t *p, size_t v, size_t width) {
        for (size_t i = 0; i < width; i++)
                p[i] = (uint8_t) (v >> (8 * (width - 1 - i)));
}

static size_t get_uint(const uint8_t *p, size_t width) {
        size_t v = 0;
        for (size_t i = 0; i < width; i++)
                v = v << 8 | p[i];
        return v;
}

/* A capture: the records a real client sent. */
static void load(const char *name, Bytes *ret) {
        const char *root = getenv("MPMD_SOURCE_ROOT");
        char path[PATH_MAX];
        FILE *f;

        cr_assert_not_null(root, "run through meson test, or set MPMD_SOURCE_ROOT to the source tree");
        snprintf(path, sizeof(path), "%s/tests/mpm/data/client-hello/%s.bin", root, name);
        f = fopen(path, "re");
        cr_assert_not_null(f, "%s: %m", path);
        ret->n = fread(ret->d, 1, sizeof(ret->d), f);
        cr_assert(ret->n > 0 && feof(f), "%s", path);
        fclose(f);
}

/* The handshake bytes of well-formed records (the test's own reading, not the parser's). */
static void unframe(const Bytes *wire, Bytes *ret) {
        ret->n = 0;
        for (size_t off = 0; off < wire->n;) {
                cr_assert_leq(off + 5, wire->n);
                size_t n = get_uint(wire->d + off + 3, 2);
                cr_assert_leq(off + 5 + n, wire->n);
                put(ret, wire->d + off + 5, n);
                off += 5 + n;
        }
}

/* hs in records of at most size bytes each. */
static void frame(const Bytes *hs, size_t size, Bytes *ret) {
        ret->n = 0;
        for (size_t off = 0; off < hs->n; off += size) {
                size_t n = MIN(size, hs->n - off);
                put_uint(ret, 0x16, 1);
                put_uint(ret, 0x0301, 2);
                put_uint(ret, n, 2);
                put(ret, hs->d + off, n);
        }
}

/* Where the length fields of a handshake message are (offsets into it). */
typedef struct Layout {
        size_t sid, suites, comp, exts; /* each vector's length field */
        size_t n_ext;
        size_t ext[256]; /* each extension's type field; its length follows */
        size_t sni_ext, sni_list, sni_name; /* 0: no server_name */
} Layout;

static void layout(const Bytes *hs, Layout *ret) {
        const uint8_t *d = hs->d;
        size_t off;

        *ret = (Layout) {};
        ret->sid = 4 + 2 + 32;
        ret->suites = ret->sid + 1 + d[ret->sid];
        ret->comp = ret->suites + 2 + get_uint(d + ret->suites, 2);
        ret->exts = ret->comp + 1 + d[ret->comp];
        cr_assert_lt(ret->exts, hs->n);
        for (off = ret->exts + 2; off < hs->n; off += 4 + get_uint(d + off + 2, 2)) {
                cr_assert_lt(ret->n_ext, ELEMENTSOF(ret->ext));
                ret->ext[ret->n_ext++] = off;
                if (get_uint(d + off, 2) == 0) {
                        ret->sni_ext = off;
                        ret->sni_list = off + 4;
                        ret->sni_name = off + 7;
                }
        }
        cr_assert_eq(off, hs->n);
}

/* The lengths around the extensions made right again after they changed by delta bytes. */
static void fix_lengths(Bytes *hs, const Layout *l, ptrdiff_t delta) {
        set_uint(hs->d + 1, get_uint(hs->d + 1, 3) + delta, 3);
        set_uint(hs->d + l->exts, get_uint(hs->d + l->exts, 2) + delta, 2);
}

/* An extension appended to hs. */
static void add_extension(Bytes *hs, unsigned type, const void *data, size_t n) {
        Layout l;

        layout(hs, &l);
        put_uint(hs, type, 2);
        put_uint(hs, n, 2);
        put(hs, data, n);
        fix_lengths(hs, &l, (ptrdiff_t) (4 + n));
}

/* The padding extension (RFC 7685) appended so that the message is total bytes long. */
static void pad_to(Bytes *hs, size_t total) {
        static const uint8_t zeros[CLIENT_HELLO_MAX];

        cr_assert_geq(total, hs->n + 4);
        add_extension(hs, 21, zeros, total - hs->n - 4);
        cr_assert_eq(hs->n, total);
}

/* A minimal hello of our own: TLS 1.3 shape, no extensions yet (add them with add_extension()). */
static void hello_new(Bytes *hs) {
        static const uint8_t random[32] = { 1, 2, 3 }, suites[] = { 0x13, 0x01, 0x13, 0x02 };

        hs->n = 0;
        put_uint(hs, 1, 1);
        put_uint(hs, 0, 3);
        put_uint(hs, 0x0303, 2);
        put(hs, random, sizeof(random));
        put_uint(hs, 0, 1);
        put_uint(hs, sizeof(suites), 2);
        put(hs, suites, sizeof(suites));
        put_uint(hs, 1, 1);
        put_uint(hs, 0, 1);
        put_uint(hs, 0, 2); /* extensions<0> */
        set_uint(hs->d + 1, hs->n - 4, 3);
}

/* server_name's extension_data: a list of the given (type, name) entries. */
static void sni_data(Bytes *ret, const char *const *names, const uint8_t *types, size_t n) {
        size_t list = 0;

        for (size_t i = 0; i < n; i++)
                list += 3 + strlen(names[i]);
        ret->n = 0;
        put_uint(ret, list, 2);
        for (size_t i = 0; i < n; i++) {
                put_uint(ret, types ? types[i] : 0, 1);
                put_uint(ret, strlen(names[i]), 2);
                put(ret, names[i], strlen(names[i]));
        }
}

static void add_sni(Bytes *hs, const char *name) {
        Bytes d;

        sni_data(&d, &name, NULL, 1);
        add_extension(hs, 0, d.d, d.n);
}

/* ---- parsing -------------------------------------------------------------------------------- */

/* buf[0..len) from a copy that ends at len, into a heap block of exactly len bytes. */
static ClientHelloStatus parse_exact(const uint8_t *buf, size_t len, ClientHelloInfo *ret) {
        uint8_t *copy = malloc(len ? len : 1);
        ClientHelloStatus s;

        cr_assert_not_null(copy);
        memcpy(copy, buf, len);
        s = client_hello_parse(copy, len, ret);
        if (s == CLIENT_HELLO_DONE && ret->has_sni)
                cr_assert_eq(strlen(ret->sni), ret->sni_len);
        free(copy);
        return s;
}

/* The whole of wire is a hello naming sni (NULL: none): every shorter prefix is a valid prefix
 * whose need lies within wire, and bytes after it change nothing. */
static void assert_hello(const Bytes *wire, const char *sni, const char *what) {
        static Bytes more;
        ClientHelloInfo info;
        uint8_t *buf = malloc(wire->n);

        cr_assert_not_null(buf);
        for (size_t p = 0; p < wire->n; p++) {
                /* the prefix at the end of the block: one byte more read is out of it */
                memcpy(buf + wire->n - p, wire->d, p);
                ClientHelloStatus s = client_hello_parse(buf + wire->n - p, p, &info);
                cr_assert_eq(s, CLIENT_HELLO_NEED_MORE, "%s: prefix %zu of %zu: status %d (%s)", what, p,
                             wire->n, s, client_hello_error_to_string(info.error));
                cr_assert_gt(info.need, p, "%s: prefix %zu", what, p);
                cr_assert_leq(info.need, wire->n, "%s: prefix %zu needs %zu", what, p, info.need);
        }
        free(buf);

        cr_assert_eq(parse_exact(wire->d, wire->n, &info), CLIENT_HELLO_DONE, "%s: %s", what,
                     client_hello_error_to_string(info.error));
        cr_assert_eq(info.length, wire->n, "%s", what);
        cr_assert_eq(info.has_sni, sni != NULL, "%s", what);
        cr_assert_str_eq(info.sni, sni ?: "", "%s", what);

        /* What follows the hello in the socket (a CCS record, early data, garbage) changes nothing. */
        more = *wire;
        put(&more, "\x14\x03\x03\x00\x01\x01GET / HTTP/1.1\r\n", 22);
        cr_assert_eq(parse_exact(more.d, more.n, &info), CLIENT_HELLO_DONE, "%s", what);
        cr_assert_str_eq(info.sni, sni ?: "", "%s", what);
        cr_assert_eq(info.length, wire->n, "%s", what);
}

/* wire is refused with error, and so is every longer prefix once one is; no prefix is DONE. */
static void assert_refused(const Bytes *wire, ClientHelloError error, const char *what) {
        ClientHelloInfo info;
        bool refused = false;

        for (size_t p = 0; p <= wire->n; p++) {
                ClientHelloStatus s = parse_exact(wire->d, p, &info);
                cr_assert_neq(s, CLIENT_HELLO_DONE, "%s: prefix %zu of %zu is DONE", what, p, wire->n);
                if (refused)
                        cr_assert_eq(s, CLIENT_HELLO_INVALID, "%s: prefix %zu refused, then not", what, p);
                if (s == CLIENT_HELLO_INVALID) {
                        refused = true;
                        cr_assert_eq(info.error, error, "%s: prefix %zu: %s, not %s", what, p,
                                     client_hello_error_to_string(info.error), client_hello_error_to_string(error));
                        cr_assert_leq(info.error_offset, p, "%s", what);
                }
        }
        cr_assert(refused, "%s: not refused", what);
}

static void hello_refused(const Bytes *hs, ClientHelloError error, const char *what) {
        static Bytes wire;

        frame(hs, 16384, &wire);
        assert_refused(&wire, error, what);
}

static void hello_accepted(const Bytes *hs, const char *sni, const char *what) {
        static Bytes wire;

        frame(hs, 16384, &wire);
        assert_hello(&wire, sni, what);
}

/* ---- real hellos ---------------------------------------------------------------------------- */

/* Parameters are copied into the test's process: arrays, not pointers. */
typedef struct Capture {
        char name[32];
        char sni[32]; /* "": none */
        bool alpn;
        size_t records;
} Capture;

static Capture captures[] = {
        { "openssl-tls13-sni", "www.example.org", false, 1 },
        { "openssl-tls13-nosni", "", false, 1 },
        { "openssl-groups", "site-b.example.net", false, 1 },      /* -groups X25519:P-256 */
        { "openssl-ffdhe8192", "big.example.com", false, 1 },      /* a 1 KB key share */
        { "openssl-ffdhe8192-split", "split.example.com", false, 3 }, /* -max_send_frag 512 */
        { "openssl-tls12-alpn", "legacy.example.org", true, 1 },
        { "curl", "localhost", true, 1 },                          /* padded to 512 (RFC 7685) */
        { "python", "python.example.org", true, 1 },
        { "gnutls", "gnutls.example.org", false, 1 },                /* GnuTLS 3.7: another order */
        { "gnutls-alpn", "tls12.gnutls.example.org", true, 1 },      /* TLS 1.2 only */
};

ParameterizedTestParameters(client_hello, captured) {
        return cr_make_param_array(Capture, captures, ELEMENTSOF(captures));
}

ParameterizedTest(Capture *c, client_hello, captured) {
        static Bytes wire, hs;
        ClientHelloInfo info;
        size_t records = 0;

        load(c->name, &wire);
        for (size_t off = 0; off < wire.n; off += 5 + get_uint(wire.d + off + 3, 2))
                records++;
        cr_assert_eq(records, c->records, "%s", c->name);
        cr_assert_eq(client_hello_parse(wire.d, wire.n, &info), CLIENT_HELLO_DONE, "%s", c->name);
        cr_assert_eq(info.has_alpn, c->alpn, "%s", c->name);
        const char *sni = c->sni[0] ? c->sni : NULL;
        assert_hello(&wire, sni, c->name);

        /* The same handshake message in other records: the same answer at every split point. */
        unframe(&wire, &hs);
        static const size_t sizes[] = { 1, 2, 3, 7, 100, 16384 };
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                static Bytes reframed;
                char what[80];

                frame(&hs, sizes[i], &reframed);
                snprintf(what, sizeof(what), "%s in records of %zu", c->name, sizes[i]);
                assert_hello(&reframed, sni, what);
        }
}

/* A post-quantum-sized hello: openssl's with a padding extension, 1.8 KB, in every framing. */
Test(client_hello, large_padded) {
        static Bytes wire, hs, reframed;
        static const size_t sizes[] = { 1, 2, 3, 7, 100, 1000, 16384 };

        load("openssl-groups", &wire);
        unframe(&wire, &hs);
        pad_to(&hs, 1800);
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                char what[80];

                frame(&hs, sizes[i], &reframed);
                snprintf(what, sizeof(what), "1800 bytes in records of %zu", sizes[i]);
                assert_hello(&reframed, "site-b.example.net", what);
        }
}

/* TLS 1.2 allows a hello without extensions: no SNI, and DONE all the same. */
Test(client_hello, no_extensions) {
        static Bytes wire, hs;
        Layout l;

        load("openssl-tls12-alpn", &wire);
        unframe(&wire, &hs);
        layout(&hs, &l);
        hs.n = l.exts;
        set_uint(hs.d + 1, hs.n - 4, 3);
        hello_accepted(&hs, NULL, "no extensions");
        frame(&hs, 5, &wire);
        assert_hello(&wire, NULL, "no extensions in 5-byte records");

        /* and an empty extension block is no extension either */
        hello_new(&hs);
        hello_accepted(&hs, NULL, "extensions<0>");
}

Test(client_hello, need) {
        static Bytes wire;
        ClientHelloInfo info;

        cr_assert_eq(client_hello_parse((const uint8_t *) "", 0, &info), CLIENT_HELLO_NEED_MORE);
        cr_assert_eq(info.need, 1);
        load("openssl-tls13-sni", &wire);
        /* Inside the random (bytes 11..42 of the record), nothing is looked at: the end of it. */
        cr_assert_eq(client_hello_parse(wire.d, 20, &info), CLIENT_HELLO_NEED_MORE);
        cr_assert_eq(info.need, 5 + 4 + 2 + 32);
        /* A record cut short with more of the message to come: its next header's first byte. */
        static Bytes hs, framed;
        unframe(&wire, &hs);
        frame(&hs, 10, &framed);
        cr_assert_eq(client_hello_parse(framed.d, 20, &info), CLIENT_HELLO_NEED_MORE);
        cr_assert_eq(info.need, 31);
}

/* ---- the limits ----------------------------------------------------------------------------- */

Test(client_hello, size_limit) {
        static Bytes hs;

        /* 16384 bytes of message: two records, accepted */
        hello_new(&hs);
        add_sni(&hs, "max.example.org");
        pad_to(&hs, 4 + CLIENT_HELLO_MAX);
        hello_accepted(&hs, "max.example.org", "the largest hello");

        /* one more: refused as soon as its length is read */
        hello_new(&hs);
        add_sni(&hs, "max.example.org");
        pad_to(&hs, 4 + CLIENT_HELLO_MAX + 1);
        hello_refused(&hs, CLIENT_HELLO_TOO_LONG, "16385 bytes");

        ClientHelloInfo info;
        static Bytes wire;
        frame(&hs, 16384, &wire);
        cr_assert_eq(parse_exact(wire.d, 5 + 4, &info), CLIENT_HELLO_INVALID);
        cr_assert_eq(info.error, CLIENT_HELLO_TOO_LONG);
}

/* A hostile framing: the largest hello in 1-byte records would take 96 KB; refused at 32 KB. */
Test(client_hello, too_fragmented) {
        static Bytes hs, wire;
        ClientHelloInfo info;

        hello_new(&hs);
        add_sni(&hs, "frag.example.org");
        pad_to(&hs, 4 + CLIENT_HELLO_MAX);
        frame(&hs, 1, &wire);
        cr_assert_eq(parse_exact(wire.d, wire.n, &info), CLIENT_HELLO_INVALID);
        cr_assert_eq(info.error, CLIENT_HELLO_TOO_FRAGMENTED);
        cr_assert_leq(info.error_offset, CLIENT_HELLO_WIRE_MAX);
        /* Refused as soon as the rest cannot fit, even in one record; before that, valid prefixes
         * whose need never exceeds the limit. */
        size_t p;
        for (p = 0; p < wire.n; p += 97) {
                if (client_hello_parse(wire.d, p, &info) != CLIENT_HELLO_NEED_MORE)
                        break;
                cr_assert_leq(info.need, CLIENT_HELLO_WIRE_MAX, "prefix %zu", p);
        }
        cr_assert_lt(p, CLIENT_HELLO_WIRE_MAX);
        cr_assert_eq(client_hello_parse(wire.d, p, &info), CLIENT_HELLO_INVALID);
        cr_assert_eq(info.error, CLIENT_HELLO_TOO_FRAGMENTED);

        /* The same in 7-byte records fits. */
        frame(&hs, 7, &wire);
        cr_assert_leq(wire.n, CLIENT_HELLO_WIRE_MAX);
        cr_assert_eq(parse_exact(wire.d, wire.n, &info), CLIENT_HELLO_DONE);
        cr_assert_str_eq(info.sni, "frag.example.org");
}

Test(client_hello, extensions_limit) {
        static Bytes hs;

        hello_new(&hs);
        for (unsigned i = 0; i < CLIENT_HELLO_EXTENSIONS_MAX - 1; i++)
                add_extension(&hs, 1000 + i, "", 0);
        add_sni(&hs, "many.example.org");
        hello_accepted(&hs, "many.example.org", "128 extensions");
        add_extension(&hs, 999, "", 0);
        hello_refused(&hs, CLIENT_HELLO_TOO_MANY_EXTENSIONS, "129 extensions");
}

/* ---- what is not a ClientHello -------------------------------------------------------------- */

static void bytes_of(Bytes *b, const void *p, size_t n) {
        b->n = 0;
        put(b, p, n);
}

Test(client_hello, not_tls) {
        static Bytes b;
        ClientHelloInfo info;

        bytes_of(&b, "GET / HTTP/1.1\r\nHost: example.org\r\n\r\n", 37);
        assert_refused(&b, CLIENT_HELLO_NOT_TLS, "an HTTP request");
        /* at its first byte already */
        cr_assert_eq(parse_exact(b.d, 1, &info), CLIENT_HELLO_INVALID);
        cr_assert_eq(info.error_offset, 0);
        bytes_of(&b, "\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10", 11);
        assert_refused(&b, CLIENT_HELLO_SSLV2, "an SSLv2 hello");
        bytes_of(&b, "\x15\x03\x03\x00\x02\x02\x28", 7);
        assert_refused(&b, CLIENT_HELLO_NOT_HANDSHAKE, "an alert");
        bytes_of(&b, "\x16\x02\x00\x00\x10", 5);
        assert_refused(&b, CLIENT_HELLO_RECORD_VERSION, "record version 2.0");
        bytes_of(&b, "\x16\x03\x05\x00\x10", 5);
        assert_refused(&b, CLIENT_HELLO_RECORD_VERSION, "record version 3.5");
        bytes_of(&b, "\x16\x03\x01\x40\x01", 5);
        assert_refused(&b, CLIENT_HELLO_RECORD_OVERFLOW, "a record of 16385 bytes");
        bytes_of(&b, "\x16\x03\x01\x00\x00", 5);
        assert_refused(&b, CLIENT_HELLO_RECORD_EMPTY, "an empty record");
        bytes_of(&b, "\x16\x03\x03\x00\x04\x02\x00\x00\x00", 9);
        assert_refused(&b, CLIENT_HELLO_NOT_CLIENT_HELLO, "a ServerHello");

        /* SSL 3.0 and TLS 1.0..1.3 record versions */
        for (uint8_t minor = 0; minor <= 4; minor++) {
                static Bytes wire, hs;

                load("openssl-tls13-sni", &wire);
                unframe(&wire, &hs);
                frame(&hs, 100, &wire);
                for (size_t off = 0; off < wire.n; off += 5 + get_uint(wire.d + off + 3, 2))
                        wire.d[off + 2] = minor;
                assert_hello(&wire, "www.example.org", "record versions 3.x");
        }
}

/* A record of another type before the hello's end: a change_cipher_spec, an alert, data. */
Test(client_hello, interleaved_record) {
        static const char *const records[] = { "\x14\x03\x03\x00\x01\x01", "\x15\x03\x03\x00\x02\x01\x00",
                                               "\x17\x03\x03\x00\x01\x00" };
        static const size_t lens[] = { 6, 7, 6 };
        static Bytes wire, hs, broken;

        load("openssl-tls13-sni", &wire);
        unframe(&wire, &hs);
        frame(&hs, 100, &wire);
        for (size_t i = 0; i < ELEMENTSOF(records); i++) {
                broken.n = 0;
                put(&broken, wire.d, 105);
                put(&broken, records[i], lens[i]);
                put(&broken, wire.d + 105, wire.n - 105);
                assert_refused(&broken, CLIENT_HELLO_NOT_HANDSHAKE, records[i]);
        }
}

/* The record that holds the hello's end may not go on past it. */
Test(client_hello, record_trailing) {
        static Bytes wire, hs;

        load("openssl-tls13-sni", &wire);
        unframe(&wire, &hs);
        put(&hs, "\x00", 1);
        frame(&hs, 16384, &wire);
        assert_refused(&wire, CLIENT_HELLO_RECORD_TRAILING, "a byte after the hello");
}

/* Each length field of a real hello one byte too long and one too short. */
typedef struct LengthCase {
        char field[32];
        int delta;
        ClientHelloError error;
} LengthCase;

static LengthCase length_cases[] = {
        { "record", +1, CLIENT_HELLO_RECORD_TRAILING },
        { "record", -1, CLIENT_HELLO_NOT_HANDSHAKE },
        { "handshake", +1, CLIENT_HELLO_LENGTH },
        { "handshake", -1, CLIENT_HELLO_RECORD_TRAILING },
        { "session_id", +1, CLIENT_HELLO_SESSION_ID },
        /* the fields after a wrong length are read one byte off: what is refused then is the
         * capture's bytes seen as the next field */
        { "session_id", -1, CLIENT_HELLO_LENGTH },
        { "cipher_suites", +2, CLIENT_HELLO_COMPRESSION },
        { "cipher_suites", -2, CLIENT_HELLO_COMPRESSION },
        { "cipher_suites", +1, CLIENT_HELLO_CIPHER_SUITES },
        { "compression", +1, CLIENT_HELLO_LENGTH },
        { "compression", -1, CLIENT_HELLO_COMPRESSION },
        { "extensions", +1, CLIENT_HELLO_LENGTH },
        { "extensions", -1, CLIENT_HELLO_LENGTH },
        { "first extension", +1, CLIENT_HELLO_LENGTH },
        { "first extension", -1, CLIENT_HELLO_LENGTH },
        { "last extension", +1, CLIENT_HELLO_LENGTH },
        { "last extension", -1, CLIENT_HELLO_LENGTH },
        { "server_name extension", +1, CLIENT_HELLO_LENGTH },
        { "server_name extension", -1, CLIENT_HELLO_LENGTH },
        { "server_name list", +1, CLIENT_HELLO_LENGTH },
        { "server_name list", -1, CLIENT_HELLO_LENGTH },
        { "host_name", +1, CLIENT_HELLO_LENGTH },
        { "host_name", -1, CLIENT_HELLO_SNI_LIST },
};

ParameterizedTestParameters(client_hello, length_off_by_one) {
        return cr_make_param_array(LengthCase, length_cases, ELEMENTSOF(length_cases));
}

ParameterizedTest(LengthCase *c, client_hello, length_off_by_one) {
        static Bytes wire, hs;
        size_t off = 0, width = 2;
        char what[80];
        Layout l;

        load("openssl-tls13-sni", &wire);
        unframe(&wire, &hs);
        layout(&hs, &l);
        snprintf(what, sizeof(what), "%s length %+d", c->field, c->delta);
        if (strcmp(c->field, "record") == 0) {
                frame(&hs, 16384, &wire);
                set_uint(wire.d + 3, get_uint(wire.d + 3, 2) + c->delta, 2);
                assert_refused(&wire, c->error, what);
                return;
        }
        if (strcmp(c->field, "handshake") == 0)
                off = 1, width = 3;
        else if (strcmp(c->field, "session_id") == 0)
                off = l.sid, width = 1;
        else if (strcmp(c->field, "cipher_suites") == 0)
                off = l.suites;
        else if (strcmp(c->field, "compression") == 0)
                off = l.comp, width = 1;
        else if (strcmp(c->field, "extensions") == 0)
                off = l.exts;
        else if (strcmp(c->field, "first extension") == 0)
                off = l.ext[0] + 2;
        else if (strcmp(c->field, "last extension") == 0)
                off = l.ext[l.n_ext - 1] + 2;
        else if (strcmp(c->field, "server_name extension") == 0)
                off = l.sni_ext + 2;
        else if (strcmp(c->field, "server_name list") == 0)
                off = l.sni_list;
        else if (strcmp(c->field, "host_name") == 0)
                off = l.sni_name;
        cr_assert_gt(off, 0, "%s", c->field);
        set_uint(hs.d + off, get_uint(hs.d + off, width) + c->delta, width);
        hello_refused(&hs, c->error, what);
}

Test(client_hello, hello_fields) {
        static Bytes hs, good;
        Layout l;

        hello_new(&good);
        add_sni(&good, "fields.example.org");
        hello_accepted(&good, "fields.example.org", "the hello of our own");
        layout(&good, &l);

        hs = good;
        hs.d[4] = 2; /* legacy_version 2.3 */
        hello_refused(&hs, CLIENT_HELLO_VERSION, "legacy_version 0x0203");

        /* cipher_suites<0>: its two bytes become the compression methods' and the extensions' */
        hs.n = 0;
        put(&hs, good.d, l.suites);
        put_uint(&hs, 0, 2);
        put(&hs, good.d + l.comp, good.n - l.comp);
        set_uint(hs.d + 1, hs.n - 4, 3);
        hello_refused(&hs, CLIENT_HELLO_CIPHER_SUITES, "no cipher suite");

        hs.n = 0;
        put(&hs, good.d, l.comp);
        put_uint(&hs, 0, 1);
        put(&hs, good.d + l.exts, good.n - l.exts);
        set_uint(hs.d + 1, hs.n - 4, 3);
        hello_refused(&hs, CLIENT_HELLO_COMPRESSION, "no compression method");

        /* 33 bytes of session id, the rest right */
        static const uint8_t sid[33];
        hs.n = 0;
        put(&hs, good.d, l.sid);
        put_uint(&hs, sizeof(sid), 1);
        put(&hs, sid, sizeof(sid));
        put(&hs, good.d + l.suites, good.n - l.suites);
        set_uint(hs.d + 1, hs.n - 4, 3);
        hello_refused(&hs, CLIENT_HELLO_SESSION_ID, "a 33-byte session id");
        /* 32 is the most */
        hs.n = 0;
        put(&hs, good.d, l.sid);
        put_uint(&hs, 32, 1);
        put(&hs, sid, 32);
        put(&hs, good.d + l.suites, good.n - l.suites);
        set_uint(hs.d + 1, hs.n - 4, 3);
        hello_accepted(&hs, "fields.example.org", "a 32-byte session id");

        /* a message too short for its fixed fields */
        hs.n = 0;
        put(&hs, good.d, 4 + 20);
        set_uint(hs.d + 1, 20, 3);
        hello_refused(&hs, CLIENT_HELLO_LENGTH, "a 20-byte hello");
}

Test(client_hello, duplicate_extension) {
        static Bytes hs;

        hello_new(&hs);
        add_extension(&hs, 10, "\x00\x02\x00\x1d", 4);
        add_sni(&hs, "dup.example.org");
        add_extension(&hs, 10, "\x00\x02\x00\x17", 4);
        hello_refused(&hs, CLIENT_HELLO_EXTENSION_DUPLICATE, "supported_groups twice");

        hello_new(&hs);
        add_sni(&hs, "a.example.org");
        add_sni(&hs, "b.example.org");
        hello_refused(&hs, CLIENT_HELLO_EXTENSION_DUPLICATE, "server_name twice");
}

Test(client_hello, server_name_list) {
        static const char *const two[] = { "a.example.org", "b.example.org" };
        static const uint8_t types[] = { 1, 0 };
        static Bytes hs, d;

        hello_new(&hs);
        sni_data(&d, two, NULL, 2);
        add_extension(&hs, 0, d.d, d.n);
        hello_refused(&hs, CLIENT_HELLO_SNI_LIST, "two host names");

        hello_new(&hs);
        sni_data(&d, two, types, 1);
        add_extension(&hs, 0, d.d, d.n);
        hello_refused(&hs, CLIENT_HELLO_SNI_TYPE, "a name of type 1");

        hello_new(&hs);
        add_extension(&hs, 0, "\x00\x00", 2);
        hello_refused(&hs, CLIENT_HELLO_SNI_LIST, "an empty list");

        hello_new(&hs);
        add_extension(&hs, 0, "", 0); /* what a server sends back, not a client */
        hello_refused(&hs, CLIENT_HELLO_LENGTH, "an empty extension");

        hello_new(&hs);
        add_sni(&hs, "");
        hello_refused(&hs, CLIENT_HELLO_SNI_EMPTY, "an empty name");
}

Test(client_hello, server_name_length) {
        static Bytes hs;
        char name[CLIENT_HELLO_SNI_MAX + 2];

        memset(name, 'a', sizeof(name) - 1);
        name[sizeof(name) - 1] = 0;
        hello_new(&hs);
        add_sni(&hs, name);
        hello_refused(&hs, CLIENT_HELLO_SNI_TOO_LONG, "256 bytes of name");

        name[CLIENT_HELLO_SNI_MAX] = 0;
        hello_new(&hs);
        add_sni(&hs, name);
        hello_accepted(&hs, name, "255 bytes of name");
        /* and across records, in its own copy */
        static Bytes wire;
        frame(&hs, 7, &wire);
        assert_hello(&wire, name, "255 bytes of name in 7-byte records");
}

Test(client_hello, server_name_bytes) {
        static const char bad[] = { 0, 1, 0x1f, ' ', '/', '\\', 0x7f, (char) 0x80, (char) 0xff };
        static Bytes wire, hs;
        Layout l;

        load("openssl-tls13-sni", &wire);
        unframe(&wire, &hs);
        layout(&hs, &l);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                static Bytes broken;
                char what[40];

                broken = hs;
                broken.d[l.sni_name + 2 + 4] = (uint8_t) bad[i]; /* "www.?xample.org" */
                snprintf(what, sizeof(what), "a name with byte 0x%02x", (uint8_t) bad[i]);
                hello_refused(&broken, CLIENT_HELLO_SNI_BYTE, what);
        }
        /* what real names have: letters, digits, '-', '_', '.', a trailing dot */
        hello_new(&hs);
        add_sni(&hs, "Xn--bcher-kva.Ex_am-ple0.org.");
        hello_accepted(&hs, "Xn--bcher-kva.Ex_am-ple0.org.", "a name of LDH and more");
}

Test(client_hello, error_strings) {
        for (ClientHelloError e = 0; e < _CLIENT_HELLO_ERROR_MAX; e++)
                cr_assert_not_null(client_hello_error_to_string(e), "error %d", e);
        cr_assert_null(client_hello_error_to_string(_CLIENT_HELLO_ERROR_MAX));
}

/* ---- no allocation -------------------------------------------------------------------------- */

#ifndef __SANITIZE_ADDRESS__ /* ASan has its own malloc: this test is the plain build's */
/* Every malloc, calloc and realloc of this process comes through here (glibc's are what they call),
 * counted while the parser runs. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

/* volatile: the compiler takes malloc for the builtin, which would touch neither */
static volatile bool counting;
static volatile unsigned allocations;

void *malloc(size_t n) {
        allocations += counting;
        return __libc_malloc(n);
}

void *calloc(size_t n, size_t size) {
        allocations += counting;
        return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
        allocations += counting;
        return __libc_realloc(p, n);
}

Test(client_hello, allocates_nothing) {
        static Bytes wire, hs, framed;
        unsigned done = 0, need_more = 0;
        ClientHelloInfo info;

        load("openssl-ffdhe8192-split", &wire);
        unframe(&wire, &hs);
        frame(&hs, 7, &framed);
        allocations = 0;
        counting = true;
        for (size_t p = 0; p <= framed.n; p++)
                switch (client_hello_parse(framed.d, p, &info)) {
                case CLIENT_HELLO_DONE:
                        done++;
                        break;
                case CLIENT_HELLO_NEED_MORE:
                        need_more++;
                        break;
                default:
                        break;
                }
        (void) client_hello_parse((const uint8_t *) "GET / HTTP/1.1\r\n", 16, &info);
        counting = false;
        cr_assert_eq(done, 1);
        cr_assert_eq(need_more, framed.n);
        cr_assert_eq(allocations, 0, "%u allocations", allocations);

        /* and the counting counts (p volatile: a malloc only freed may be left out) */
        counting = true;
        void *volatile p = malloc(16);
        counting = false;
        free(p);
        cr_assert_eq(allocations, 1);
}
#endif
