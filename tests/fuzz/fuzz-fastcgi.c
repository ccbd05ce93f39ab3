/* SPDX-License-Identifier: MIT */
/* libFuzzer target: FastCGI records. With the first byte even, the rest is a responder's answer:
 * decoded whole and in pieces of a size the second byte picks, both must give the same stdout,
 * stderr, end and error; every span lies inside what the call consumed, and consumed never exceeds
 * what was given. With it odd, the rest is cut into name-value pairs and a STDIN body, encoded
 * through lent buffers of a size the second byte picks (padded or not), and decoded back: the
 * records must parse and give back the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/fastcgi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ID 1

typedef struct Out {
        int r;
        const char *error;
        uint8_t *stdout_buf, *stderr_buf;
        size_t out_len, err_len;
        bool ended;
        uint32_t app;
        uint8_t proto;
} Out;

static Out decode(const uint8_t *in, size_t len, size_t step) {
        Out o = { .stdout_buf = malloc(len + 1), .stderr_buf = malloc(len + 1) };
        FcgiDecoder d;

        if (!o.stdout_buf || !o.stderr_buf)
                abort();
        fcgi_decoder_init(&d, ID, 4096);
        for (size_t given = 0; given < len;) {
                size_t piece = len - given < step ? len - given : step, pos = 0;
                const char *buf = (const char *) in + given;

                given += piece;
                for (;;) {
                        FcgiEvent ev;
                        size_t consumed = (size_t) -1;

                        o.r = fcgi_decoder_feed(&d, buf + pos, piece - pos, &consumed, &ev);
                        if (consumed > piece - pos)
                                abort();
                        if (o.r < 0) {
                                if (!d.error)
                                        abort();
                                o.error = d.error;
                                return o;
                        }
                        if (o.r == FCGI_DECODE_AGAIN) {
                                if (consumed != piece - pos)
                                        abort();
                                break;
                        }
                        if (ev.type == FCGI_EVENT_END) {
                                o.ended = true;
                                o.app = ev.app_status;
                                o.proto = ev.protocol_status;
                        } else {
                                if (ev.len == 0 || ev.data < buf + pos || ev.data + ev.len > buf + pos + consumed)
                                        abort();
                                uint8_t *to = ev.type == FCGI_EVENT_STDOUT ? o.stdout_buf : o.stderr_buf;
                                size_t *n = ev.type == FCGI_EVENT_STDOUT ? &o.out_len : &o.err_len;
                                memcpy(to + *n, ev.data, ev.len);
                                *n += ev.len;
                        }
                        pos += consumed;
                }
        }
        return o;
}

static void decoder_target(const uint8_t *in, size_t len, size_t step) {
        Out a = decode(in, len, len ? len : 1), b = decode(in, len, step);

        if (a.r != b.r || a.error != b.error || a.ended != b.ended || a.app != b.app || a.proto != b.proto ||
            a.out_len != b.out_len || a.err_len != b.err_len ||
            memcmp(a.stdout_buf, b.stdout_buf, a.out_len) != 0 || memcmp(a.stderr_buf, b.stderr_buf, a.err_len) != 0)
                abort();
        free(a.stdout_buf);
        free(a.stderr_buf);
        free(b.stdout_buf);
        free(b.stderr_buf);
}

/* Concatenate the content of the records in b[0..len), checking each header. */
static size_t records_content(const uint8_t *b, size_t len, uint8_t type, bool pad, uint8_t *out, bool *ret_ended) {
        size_t pos = 0, n = 0;

        *ret_ended = false;
        while (pos < len) {
                FcgiHeader h;

                if (len - pos < FCGI_HEADER_LEN || *ret_ended)
                        abort();
                fcgi_header_read(b + pos, &h);
                if (h.version != 1 || h.type != type || h.request_id != ID || (!pad && h.padding_length) ||
                    (pad && (h.content_length + h.padding_length) % 8))
                        abort();
                pos += FCGI_HEADER_LEN;
                if (len - pos < (size_t) h.content_length + h.padding_length)
                        abort();
                memcpy(out + n, b + pos, h.content_length);
                n += h.content_length;
                pos += h.content_length + h.padding_length;
                if (h.content_length == 0)
                        *ret_ended = true;
        }
        return n;
}

static size_t drain(FcgiStream *s, uint8_t *buf, size_t bufsize, uint8_t *out, size_t out_len) {
        size_t k = fcgi_stream_flush(s);

        memcpy(out + out_len, buf, k);
        fcgi_stream_set_buffer(s, buf, bufsize);
        return out_len + k;
}

static void round_trip(const uint8_t *in, size_t len, size_t bufsize, bool pad) {
        /* Worst case: one content byte per 16-byte record, and a prefix of 8 per pair. */
        size_t cap = (len + 64 * 8 + 64) * 16;
        uint8_t *buf = malloc(bufsize), *enc = malloc(cap), *content = malloc(cap);
        FcgiStream s;
        size_t enc_len = 0, pos = 0, n;
        bool ended;

        if (!buf || !enc || !content)
                abort();

        /* Pairs: a length byte scaled so that 127/128 is crossed, name and value from the input. */
        fcgi_stream_init(&s, FCGI_PARAMS, ID, pad);
        fcgi_stream_set_buffer(&s, buf, bufsize);
        size_t n_pairs = 0;
        const uint8_t *pair_at[64];
        size_t nl[64], vl[64];
        while (pos + 2 <= len && n_pairs < 64) {
                size_t a = (size_t) in[pos] * 2 % 300, b = (size_t) in[pos + 1] * 3 % 400;

                pos += 2;
                if (a + b > len - pos)
                        break;
                pair_at[n_pairs] = in + pos;
                nl[n_pairs] = a;
                vl[n_pairs] = b;
                while (fcgi_params_add(&s, (const char *) in + pos, a, (const char *) in + pos + a, b) == 0)
                        enc_len = drain(&s, buf, bufsize, enc, enc_len);
                pos += a + b;
                n_pairs++;
        }
        while (fcgi_stream_end(&s) == 0)
                enc_len = drain(&s, buf, bufsize, enc, enc_len);
        enc_len = drain(&s, buf, bufsize, enc, enc_len);
        n = records_content(enc, enc_len, FCGI_PARAMS, pad, content, &ended);
        if (!ended)
                abort();
        size_t at = 0;
        for (size_t i = 0; i < n_pairs; i++) {
                FcgiPair p;
                int64_t k = fcgi_pair_parse((const char *) content + at, n - at, &p);

                if (k <= 0 || p.name_len != nl[i] || p.value_len != vl[i] ||
                    memcmp(p.name, pair_at[i], nl[i]) != 0 || memcmp(p.value, pair_at[i] + nl[i], vl[i]) != 0)
                        abort();
                at += (size_t) k;
        }
        if (at != n)
                abort();

        /* The rest of the input as a request body, fed in pieces of 100 bytes. */
        enc_len = 0;
        fcgi_stream_init(&s, FCGI_STDIN, ID, pad);
        fcgi_stream_set_buffer(&s, buf, bufsize);
        for (size_t given = pos; given < len;) {
                size_t k = fcgi_stream_write(&s, in + given, len - given < 100 ? len - given : 100);

                given += k;
                if (k == 0)
                        enc_len = drain(&s, buf, bufsize, enc, enc_len);
        }
        while (fcgi_stream_end(&s) == 0)
                enc_len = drain(&s, buf, bufsize, enc, enc_len);
        enc_len = drain(&s, buf, bufsize, enc, enc_len);
        n = records_content(enc, enc_len, FCGI_STDIN, pad, content, &ended);
        if (!ended || n != len - pos || memcmp(content, in + pos, n) != 0)
                abort();
        free(buf);
        free(enc);
        free(content);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 2 || size > 65536)
                return 0;
        if (data[0] % 2 == 0)
                decoder_target(data + 2, size - 2, (size_t) data[1] + 1);
        else
                /* 16 is the smallest buffer a padded record fits in (header, a byte, 7 of padding). */
                round_trip(data + 2, size - 2, 16 + (size_t) data[1] * 13, data[0] & 2);
        return 0;
}
