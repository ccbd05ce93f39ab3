/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the ClientHello parser of perchild's dispatcher (mpm/client-hello.h). Each
 * input is parsed from a copy of exactly its size (so that a read past len is ASan's), and the
 * answers must hang together the way the dispatcher relies on them:
 * - DONE: the hello's records lie inside the input, the name is a NUL-free string of the length
 *   said, made of bytes the input holds; more bytes after the input change nothing, and every
 *   prefix shorter than the hello is NEED_MORE;
 * - NEED_MORE: need lies past len and within CLIENT_HELLO_WIRE_MAX, and the prefix one byte short
 *   of it (when the input reaches that far) is NEED_MORE still;
 * - INVALID: a known reason, seen inside the input, and so is every longer input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpm/client-hello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ClientHelloStatus parse_copy(const uint8_t *data, size_t len, ClientHelloInfo *ret) {
        uint8_t *copy = malloc(len ? len : 1);
        ClientHelloStatus s;

        if (!copy)
                abort();
        memcpy(copy, data, len);
        s = client_hello_parse(copy, len, ret);
        free(copy);
        return s;
}

static void check_done(const uint8_t *data, size_t size, const ClientHelloInfo *a) {
        static const uint8_t garbage[] = "\x14\x03\x03\x00\x01\x01\x16\x03\x01\x00\x05GET /";
        ClientHelloInfo b;

        if (a->length == 0 || a->length > size || a->length > CLIENT_HELLO_WIRE_MAX)
                abort();
        if (a->has_sni) {
                if (a->sni_len == 0 || a->sni_len > CLIENT_HELLO_SNI_MAX || strlen(a->sni) != a->sni_len)
                        abort();
                /* each byte of the name is in the input */
                for (size_t i = 0; i < a->sni_len; i++)
                        if (!memchr(data, a->sni[i], a->length))
                                abort();
        } else if (a->sni[0] || a->sni_len)
                abort();

        /* bytes after the hello change nothing */
        uint8_t *more = malloc(a->length + sizeof(garbage));
        if (!more)
                abort();
        memcpy(more, data, a->length);
        memcpy(more + a->length, garbage, sizeof(garbage));
        if (client_hello_parse(more, a->length + sizeof(garbage), &b) != CLIENT_HELLO_DONE ||
            b.length != a->length || b.has_sni != a->has_sni || b.has_alpn != a->has_alpn ||
            strcmp(b.sni, a->sni) != 0)
                abort();
        free(more);

        /* every shorter prefix is a valid one (a sample of them in long hellos: the check is
         * quadratic) */
        size_t step = a->length <= 2048 ? 1 : a->length / 512;
        for (size_t p = 0; p < a->length; p += (p + step < a->length ? step : 1))
                if (client_hello_parse(data, p, &b) != CLIENT_HELLO_NEED_MORE || b.need <= p || b.need > a->length)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ClientHelloInfo a, b;

        if (size > 2 * CLIENT_HELLO_WIRE_MAX)
                return 0;
        switch (parse_copy(data, size, &a)) {
        case CLIENT_HELLO_DONE:
                check_done(data, size, &a);
                break;
        case CLIENT_HELLO_NEED_MORE:
                if (a.need <= size || a.need > CLIENT_HELLO_WIRE_MAX)
                        abort();
                break;
        case CLIENT_HELLO_INVALID:
                if (a.error == CLIENT_HELLO_OK || !client_hello_error_to_string(a.error) ||
                    a.error_offset > size)
                        abort();
                break;
        default:
                abort();
        }

        /* Some prefix that answered NEED_MORE: nothing changes before its need. */
        size_t p = size / 2;
        if (parse_copy(data, p, &b) == CLIENT_HELLO_NEED_MORE && b.need - 1 <= size && b.need - 1 > p) {
                ClientHelloInfo c;
                if (parse_copy(data, b.need - 1, &c) != CLIENT_HELLO_NEED_MORE)
                        abort();
        }
        /* Once refused, refused whatever follows. */
        if (parse_copy(data, p, &b) == CLIENT_HELLO_INVALID) {
                ClientHelloInfo c;
                if (parse_copy(data, size, &c) != CLIENT_HELLO_INVALID || c.error != b.error)
                        abort();
        }
        return 0;
}
