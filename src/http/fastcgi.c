/* SPDX-License-Identifier: MIT */
/* fastcgi.c — FastCGI records (fastcgi.h): the encoder of BEGIN_REQUEST, PARAMS, STDIN and
 * ABORT_REQUEST into lent buffers, and the decoder of a responder's STDOUT, STDERR and
 * END_REQUEST. The decoder is a state machine over the byte stream whose state holds everything a
 * split can cut (a header, END_REQUEST's body, how much content and padding is left), so the
 * caller never has to keep bytes it was told were consumed. */
#include <errno.h>
#include <string.h>

#include "http/fastcgi.h"
#include "shared/macro.h"

void fcgi_header_write(uint8_t out[FCGI_HEADER_LEN], uint8_t type, uint16_t request_id, uint16_t content_length,
                       uint8_t padding_length) {
        out[0] = FCGI_VERSION_1;
        out[1] = type;
        out[2] = (uint8_t) (request_id >> 8);
        out[3] = (uint8_t) request_id;
        out[4] = (uint8_t) (content_length >> 8);
        out[5] = (uint8_t) content_length;
        out[6] = padding_length;
        out[7] = 0;
}

void fcgi_header_read(const uint8_t in[FCGI_HEADER_LEN], FcgiHeader *ret) {
        *ret = (FcgiHeader){
                .version = in[0],
                .type = in[1],
                .request_id = (uint16_t) (in[2] << 8 | in[3]),
                .content_length = (uint16_t) (in[4] << 8 | in[5]),
                .padding_length = in[6],
        };
}

int fcgi_write_begin_request(void *buf, size_t size, uint16_t request_id, uint16_t role, bool keep_conn) {
        uint8_t *b = buf;

        if (size < 2 * FCGI_HEADER_LEN)
                return -ENOBUFS;
        fcgi_header_write(b, FCGI_BEGIN_REQUEST, request_id, 8, 0);
        b[8] = (uint8_t) (role >> 8);
        b[9] = (uint8_t) role;
        b[10] = keep_conn ? FCGI_KEEP_CONN : 0;
        memset(b + 11, 0, 5);
        return 2 * FCGI_HEADER_LEN;
}

int fcgi_write_abort_request(void *buf, size_t size, uint16_t request_id) {
        if (size < FCGI_HEADER_LEN)
                return -ENOBUFS;
        fcgi_header_write(buf, FCGI_ABORT_REQUEST, request_id, 0, 0);
        return FCGI_HEADER_LEN;
}

/* ---- the stream encoder ---- */

void fcgi_stream_init(FcgiStream *s, uint8_t type, uint16_t request_id, bool pad) {
        *s = (FcgiStream){.type = type, .request_id = request_id, .pad = pad};
}

void fcgi_stream_set_buffer(FcgiStream *s, void *buf, size_t size) {
        s->buf = buf;
        s->size = buf ? size : 0;
        s->len = 0;
        s->open = 0;
}

/* Padding is reserved while a record is open, so closing it never needs room it does not have. */
static size_t stream_pad_reserve(const FcgiStream *s) {
        return s->pad ? 7 : 0;
}

static bool stream_open_record(FcgiStream *s) {
        /* A header is worth writing only with at least one content byte behind it. */
        if (s->size - s->len < FCGI_HEADER_LEN + 1 + stream_pad_reserve(s))
                return false;
        s->open = s->len + 1;
        s->len += FCGI_HEADER_LEN;
        return true;
}

static size_t stream_record_content(const FcgiStream *s) {
        return s->len - (s->open - 1) - FCGI_HEADER_LEN;
}

static void stream_close_record(FcgiStream *s) {
        size_t content = stream_record_content(s);
        uint8_t padding = s->pad ? (uint8_t) ((8 - content % 8) % 8) : 0;

        fcgi_header_write(s->buf + s->open - 1, s->type, s->request_id, (uint16_t) content, padding);
        memset(s->buf + s->len, 0, padding);
        s->len += padding;
        s->open = 0;
}

size_t fcgi_stream_flush(FcgiStream *s) {
        if (s->open)
                stream_close_record(s);
        return s->len;
}

/* Copy up to n bytes as record content, opening and closing records as needed. */
static size_t stream_put(FcgiStream *s, const uint8_t *src, size_t n) {
        size_t done = 0;

        while (done < n) {
                size_t room, k;

                if (!s->open && !stream_open_record(s))
                        break;
                room = MIN(FCGI_MAX_CONTENT - stream_record_content(s), s->size - s->len - stream_pad_reserve(s));
                if (room == 0) {
                        stream_close_record(s);
                        continue;
                }
                k = MIN(room, n - done);
                memcpy(s->buf + s->len, src + done, k);
                s->len += k;
                done += k;
        }
        return done;
}

/* A length of a name-value pair: one byte up to 127, else four with the high bit set. */
static size_t pair_length_encode(uint8_t *out, size_t n) {
        if (n <= 127) {
                out[0] = (uint8_t) n;
                return 1;
        }
        out[0] = (uint8_t) (0x80 | (n >> 24));
        out[1] = (uint8_t) (n >> 16);
        out[2] = (uint8_t) (n >> 8);
        out[3] = (uint8_t) n;
        return 4;
}

int fcgi_params_add(FcgiStream *s, const char *name, size_t name_len, const char *value, size_t value_len) {
        uint8_t prefix[8];
        size_t plen;

        if (s->type != FCGI_PARAMS || s->ended)
                return -EINVAL;
        if (name_len > FCGI_MAX_PAIR_LENGTH || value_len > FCGI_MAX_PAIR_LENGTH)
                return -E2BIG;

        plen = pair_length_encode(prefix, name_len);
        plen += pair_length_encode(prefix + plen, value_len);

        const struct {
                const uint8_t *p;
                size_t n;
        } seg[3] = {{prefix, plen}, {(const uint8_t *) name, name_len}, {(const uint8_t *) value, value_len}};
        uint64_t start = 0;

        for (size_t i = 0; i < ELEMENTSOF(seg); i++) {
                uint64_t end = start + seg[i].n;

                if (s->pair_pos < end) {
                        size_t want = (size_t) (end - s->pair_pos);
                        size_t got = stream_put(s, seg[i].p + (s->pair_pos - start), want);

                        s->pair_pos += got;
                        if (got < want)
                                return 0;
                }
                start = end;
        }
        s->pair_pos = 0;
        return 1;
}

size_t fcgi_stream_write(FcgiStream *s, const void *data, size_t n) {
        if (s->ended)
                return 0;
        return stream_put(s, data, n);
}

int fcgi_stream_end(FcgiStream *s) {
        if (s->ended)
                return 1;
        if (s->open)
                stream_close_record(s);
        if (s->size - s->len < FCGI_HEADER_LEN)
                return 0;
        fcgi_header_write(s->buf + s->len, s->type, s->request_id, 0, 0);
        s->len += FCGI_HEADER_LEN;
        s->ended = true;
        return 1;
}

static int pair_length_decode(const uint8_t *b, size_t len, size_t *pos, uint32_t *ret) {
        if (*pos >= len)
                return 0;
        if (!(b[*pos] & 0x80)) {
                *ret = b[(*pos)++];
                return 1;
        }
        if (len - *pos < 4)
                return 0;
        *ret = (uint32_t) (b[*pos] & 0x7f) << 24 | (uint32_t) b[*pos + 1] << 16 | (uint32_t) b[*pos + 2] << 8 |
               b[*pos + 3];
        *pos += 4;
        return 1;
}

int64_t fcgi_pair_parse(const char *buf, size_t len, FcgiPair *ret) {
        const uint8_t *b = (const uint8_t *) buf;
        size_t pos = 0;
        uint32_t nlen, vlen;

        if (pair_length_decode(b, len, &pos, &nlen) <= 0 || pair_length_decode(b, len, &pos, &vlen) <= 0)
                return 0;
        if ((uint64_t) len - pos < (uint64_t) nlen + vlen)
                return 0;
        *ret = (FcgiPair){
                .name = buf + pos,
                .name_len = nlen,
                .value = buf + pos + nlen,
                .value_len = vlen,
        };
        return (int64_t) (pos + nlen + vlen);
}

/* ---- the decoder ---- */

enum {
        FD_HEADER,   /* have: header bytes collected */
        FD_CONTENT,  /* STDOUT or STDERR content: reported as it comes */
        FD_END_BODY, /* have: end_body bytes collected */
        FD_SKIP,     /* content of a record we ignore */
        FD_PADDING,
        FD_DONE,
        FD_FAILED,
};

void fcgi_decoder_init(FcgiDecoder *d, uint16_t request_id, uint64_t max_stderr) {
        *d = (FcgiDecoder){.request_id = request_id, .max_stderr = max_stderr, .state = FD_HEADER};
}

bool fcgi_decoder_done(const FcgiDecoder *d) {
        return d->state == FD_DONE;
}

static int decoder_fail(FcgiDecoder *d, const char *reason) {
        d->state = FD_FAILED;
        d->error = reason;
        d->result = -EPROTO;
        return -EPROTO;
}

/* After a record's content: its padding, then the next header. */
static void decoder_after_content(FcgiDecoder *d) {
        d->have = 0;
        d->state = d->padding > 0 ? FD_PADDING : FD_HEADER;
}

static int decoder_end_event(FcgiDecoder *d, FcgiEvent *ev) {
        const uint8_t *b = d->end_body;

        *ev = (FcgiEvent){
                .type = FCGI_EVENT_END,
                .app_status = (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3],
                .protocol_status = b[4],
        };
        d->state = FD_DONE;
        return FCGI_DECODE_EVENT;
}

/* A complete header: decide what its record is to us. */
static int decoder_header(FcgiDecoder *d) {
        FcgiHeader h;

        fcgi_header_read(d->header, &h);
        if (h.version != FCGI_VERSION_1)
                return decoder_fail(d, "unsupported FastCGI version");
        d->type = h.type;
        d->remaining = h.content_length;
        d->padding = h.padding_length;
        d->have = 0;

        switch (h.type) {
        case FCGI_STDOUT:
        case FCGI_STDERR:
        case FCGI_END_REQUEST:
                if (h.request_id != d->request_id)
                        return decoder_fail(d, "record for another request");
                break;
        case FCGI_GET_VALUES_RESULT:
                /* A management record (request id 0): an answer to a question we did not ask,
                 * harmless, skipped. */
                if (h.request_id != 0)
                        return decoder_fail(d, "management record with a request id");
                d->state = FD_SKIP;
                if (d->remaining == 0)
                        decoder_after_content(d);
                return 0;
        case FCGI_UNKNOWN_TYPE:
                return decoder_fail(d, "the application did not know a record type we sent");
        default:
                return decoder_fail(d, "record type a responder does not send");
        }

        if (h.type == FCGI_END_REQUEST) {
                if (h.content_length != sizeof(d->end_body))
                        return decoder_fail(d, "FCGI_END_REQUEST body is not 8 bytes");
                d->state = FD_END_BODY;
                return 0;
        }

        bool *closed = h.type == FCGI_STDOUT ? &d->stdout_closed : &d->stderr_closed;
        if (*closed)
                return decoder_fail(d,
                                    h.type == FCGI_STDOUT ? "FCGI_STDOUT after its end" : "FCGI_STDERR after its end");
        if (h.content_length == 0) {
                /* The empty record ends that stream. */
                *closed = true;
                decoder_after_content(d);
                return 0;
        }
        if (h.type == FCGI_STDERR) {
                d->stderr_bytes += h.content_length;
                if (d->max_stderr > 0 && d->stderr_bytes > d->max_stderr)
                        return decoder_fail(d, "FCGI_STDERR beyond its limit");
        }
        d->state = FD_CONTENT;
        return 0;
}

int fcgi_decoder_feed(FcgiDecoder *d, const char *buf, size_t len, size_t *ret_consumed, FcgiEvent *ret_event) {
        size_t pos = 0;
        int r;

        *ret_consumed = 0;
        if (d->state == FD_FAILED)
                return d->result;

        while (pos < len) {
                size_t k;

                switch (d->state) {

                case FD_HEADER:
                        k = MIN(sizeof(d->header) - d->have, len - pos);
                        memcpy(d->header + d->have, buf + pos, k);
                        d->have += (uint32_t) k;
                        pos += k;
                        if (d->have == sizeof(d->header)) {
                                r = decoder_header(d);
                                if (r < 0) {
                                        *ret_consumed = pos;
                                        return r;
                                }
                        }
                        break;

                case FD_CONTENT:
                        k = MIN((size_t) d->remaining, len - pos);
                        *ret_event = (FcgiEvent){
                                .type = d->type == FCGI_STDOUT ? FCGI_EVENT_STDOUT : FCGI_EVENT_STDERR,
                                .data = buf + pos,
                                .len = k,
                        };
                        pos += k;
                        d->remaining -= (uint32_t) k;
                        if (d->remaining == 0)
                                decoder_after_content(d);
                        *ret_consumed = pos;
                        return FCGI_DECODE_EVENT;

                case FD_END_BODY:
                        k = MIN(sizeof(d->end_body) - d->have, len - pos);
                        memcpy(d->end_body + d->have, buf + pos, k);
                        d->have += (uint32_t) k;
                        pos += k;
                        if (d->have == sizeof(d->end_body)) {
                                if (d->padding == 0) {
                                        *ret_consumed = pos;
                                        return decoder_end_event(d, ret_event);
                                }
                                d->state = FD_PADDING;
                        }
                        break;

                case FD_SKIP:
                        k = MIN((size_t) d->remaining, len - pos);
                        pos += k;
                        d->remaining -= (uint32_t) k;
                        if (d->remaining == 0)
                                decoder_after_content(d);
                        break;

                case FD_PADDING:
                        k = MIN((size_t) d->padding, len - pos);
                        pos += k;
                        d->padding -= (uint32_t) k;
                        if (d->padding == 0) {
                                /* END_REQUEST is reported once its padding is read too, so that the
                                 * connection is at a record boundary when it goes back to the pool. */
                                if (d->type == FCGI_END_REQUEST) {
                                        *ret_consumed = pos;
                                        return decoder_end_event(d, ret_event);
                                }
                                d->have = 0;
                                d->state = FD_HEADER;
                        }
                        break;

                case FD_DONE:
                        *ret_consumed = pos;
                        return decoder_fail(d, "bytes after FCGI_END_REQUEST");

                default:
                        *ret_consumed = pos;
                        return decoder_fail(d, "decoder in an impossible state");
                }
        }

        *ret_consumed = pos;
        return FCGI_DECODE_AGAIN;
}
