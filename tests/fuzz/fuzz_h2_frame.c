/*
 * fuzz_h2_frame.c - libFuzzer target for the HTTP/2 frame parser, the
 * CONTINUATION tracker and the flow-control windows.
 *
 * Input: byte 0 picks our SETTINGS_MAX_FRAME_SIZE and the header-block
 * limit; the rest is what a server sent.  Frames are parsed until an error
 * or need-more, and every result is checked against what the wire says:
 * slices inside the input, padding stripped by the exact amount, lengths
 * consistent, errors well formed.  What parses feeds a tracker and windows
 * the way a connection would, so their invariants run on hostile input too.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Igrpc grpc/h2_frame.c \
 *         grpc/h2_flow.c tests/fuzz/fuzz_h2_frame.c -o fuzz_h2_frame
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "h2_flow.h"
#include "h2_frame.h"

#define NSLOT 8 /* streams share windows by id % NSLOT; enough to mix them */

static const uint32_t max_sizes[] = {
	H2_DEFAULT_MAX_FRAME_SIZE, H2_DEFAULT_MAX_FRAME_SIZE + 1, 20000, 65535, 1u << 20,
	H2_MAX_FRAME_SIZE_LIMIT,
};

static void check_slice(h2_slice s, const uint8_t *lo, const uint8_t *hi)
{
	assert(s.len == 0 || s.base != NULL);
	if (s.len) {
		assert(s.base >= lo);
		assert(s.base + s.len <= hi);
	}
}

/* The payload start and end after padding and fixed fields, from the raw bytes. */
static void check_padded(const struct h2_frame *f, const uint8_t *p, h2_slice got, uint32_t fixed)
{
	uint32_t len = f->hdr.length, start = 0, pad = 0;

	if (f->hdr.flags & H2_FLAG_PADDED) {
		pad = p[0];
		start = 1;
	}
	start += fixed;
	assert(start + pad <= len);
	assert(got.base == p + start);
	assert(got.len == len - start - pad);
}

static void check_frame(enum h2_parse st, const struct h2_frame *f, const uint8_t *in, size_t avail,
			uint32_t max)
{
	const uint8_t *p = in + H2_FRAME_HEADER_LEN;
	const uint8_t *end = in + f->wire_len;

	if (st == H2_PARSE_NEED_MORE) {
		assert(f->wire_len > avail);
		assert(f->err.reason == NULL);
		if (avail >= H2_FRAME_HEADER_LEN)
			assert(f->wire_len == H2_FRAME_HEADER_LEN + f->hdr.length &&
			       f->hdr.length <= max);
		else
			assert(f->wire_len == H2_FRAME_HEADER_LEN);
		return;
	}
	assert(avail >= H2_FRAME_HEADER_LEN);
	assert(f->wire_len == H2_FRAME_HEADER_LEN + f->hdr.length);
	assert(f->hdr.stream_id <= H2_MAX_STREAM_ID);
	if (st == H2_PARSE_CONN_ERROR) {
		assert(f->err.reason != NULL && f->err.stream_id == 0);
		assert(f->err.code != H2_NO_ERROR && f->err.code <= H2_HTTP_1_1_REQUIRED);
		return;
	}
	/* Everything else consumed a whole frame within our limit. */
	assert(f->wire_len <= avail && f->hdr.length <= max);
	if (st == H2_PARSE_STREAM_ERROR) {
		assert(f->err.reason != NULL);
		assert(f->err.stream_id == f->hdr.stream_id && f->err.stream_id != 0);
		return;
	}
	assert(f->err.reason == NULL);
	if (st == H2_PARSE_IGNORE) {
		assert(f->hdr.type == H2_FRAME_PRIORITY || f->hdr.type > H2_FRAME_CONTINUATION);
		return;
	}

	switch (f->hdr.type) {
	case H2_FRAME_DATA:
		assert(f->hdr.stream_id != 0);
		check_slice(f->data.data, p, end);
		check_padded(f, p, f->data.data, 0);
		assert(f->data.end_stream == !!(f->hdr.flags & H2_FLAG_END_STREAM));
		break;
	case H2_FRAME_HEADERS:
		assert(f->hdr.stream_id != 0);
		check_slice(f->headers.fragment, p, end);
		check_padded(f, p, f->headers.fragment, (f->hdr.flags & H2_FLAG_PRIORITY) ? 5 : 0);
		break;
	case H2_FRAME_RST_STREAM: assert(f->hdr.stream_id != 0 && f->hdr.length == 4); break;
	case H2_FRAME_SETTINGS:
		assert(f->hdr.stream_id == 0);
		assert(f->settings.count * H2_SETTING_LEN == f->hdr.length);
		assert(!f->settings.ack || f->settings.count == 0);
		check_slice(f->settings.raw, p, end);
		for (size_t i = 0; i < f->settings.count; i++) {
			struct h2_setting s = h2_setting_at(f, i);

			if (s.id == H2_SETTINGS_ENABLE_PUSH)
				assert(s.value == 0);
			if (s.id == H2_SETTINGS_INITIAL_WINDOW_SIZE)
				assert(s.value <= H2_MAX_WINDOW);
			if (s.id == H2_SETTINGS_MAX_FRAME_SIZE)
				assert(s.value >= H2_DEFAULT_MAX_FRAME_SIZE &&
				       s.value <= H2_MAX_FRAME_SIZE_LIMIT);
		}
		break;
	case H2_FRAME_PING:
		assert(f->hdr.stream_id == 0 && f->hdr.length == 8 && f->ping.opaque == p);
		break;
	case H2_FRAME_GOAWAY:
		assert(f->hdr.stream_id == 0 && f->goaway.last_stream_id <= H2_MAX_STREAM_ID);
		check_slice(f->goaway.debug, p, end);
		assert(f->goaway.debug.len + 8 == f->hdr.length);
		break;
	case H2_FRAME_WINDOW_UPDATE:
		assert(f->window_update.increment >= 1 &&
		       f->window_update.increment <= H2_MAX_WINDOW);
		break;
	case H2_FRAME_CONTINUATION:
		assert(f->hdr.stream_id != 0);
		check_slice(f->continuation.fragment, p, end);
		assert(f->continuation.fragment.len == f->hdr.length);
		break;
	default: assert(0 && "PRIORITY, PUSH_PROMISE and unknown types never come back OK");
	}

	/* A byte short of the frame is always "need more": no early verdicts
	   on payload rules. */
	struct h2_frame g;
	assert(h2_parse_frame(in, f->wire_len - 1, max, &g) == H2_PARSE_NEED_MORE);
}

/*
 * A header block fragment cut into frames of at most max_frame bytes by
 * h2_headers_finish_split must come back whole through parser and tracker.
 */
static void resplit(h2_slice frag, uint32_t max_frame)
{
	static uint8_t out[2 * 70000];
	struct h2_cont c;
	size_t off = 0, got = 0;
	ssize_t n;

	if (frag.len > 65536)
		return;
	memcpy(out + H2_FRAME_HEADER_LEN, frag.base, frag.len);
	n = h2_headers_finish_split(out, sizeof(out), frag.len, max_frame, 1, false);
	/* A tiny max_frame needs 9 bytes per frame: more than `out` holds. */
	if (n == -ENOSPC)
		return;
	assert(n >= (ssize_t)(frag.len + H2_FRAME_HEADER_LEN));
	h2_cont_init(&c, 0);
	while (off < (size_t)n) {
		struct h2_frame g;
		enum h2_parse st = h2_cont_check(
			&c,
			h2_parse_frame(out + off, (size_t)n - off, H2_DEFAULT_MAX_FRAME_SIZE, &g),
			&g);
		h2_slice piece = g.hdr.type == H2_FRAME_HEADERS ? g.headers.fragment
								: g.continuation.fragment;

		assert(st == H2_PARSE_OK && piece.len <= max_frame);
		assert(memcmp(piece.base, frag.base + got, piece.len) == 0);
		got += piece.len;
		off += g.wire_len;
	}
	assert(off == (size_t)n && got == frag.len && !h2_cont_open(&c));
}

/* Echo what came through the builders; it must parse back the same. */
static void rebuild(const struct h2_frame *f)
{
	static uint8_t out[H2_FRAME_HEADER_LEN + H2_DEFAULT_MAX_FRAME_SIZE];
	struct h2_frame g;
	ssize_t n;

	if (f->hdr.type == H2_FRAME_HEADERS || f->hdr.type == H2_FRAME_CONTINUATION) {
		h2_slice frag = f->hdr.type == H2_FRAME_HEADERS ? f->headers.fragment
								: f->continuation.fragment;

		resplit(frag, 1 + (frag.len ? frag.base[0] % 64 : 0));
	} else if (f->hdr.type == H2_FRAME_SETTINGS && !f->settings.ack &&
		   f->hdr.length <= H2_DEFAULT_MAX_FRAME_SIZE) {
		struct h2_setting s[H2_DEFAULT_MAX_FRAME_SIZE / H2_SETTING_LEN];

		for (size_t i = 0; i < f->settings.count; i++)
			s[i] = h2_setting_at(f, i);
		n = h2_build_settings(out, sizeof(out), s, f->settings.count);
		assert(n == (ssize_t)f->wire_len);
		/* Payload only: the peer may set undefined flags and the R bit. */
		assert(memcmp(out + H2_FRAME_HEADER_LEN, f->settings.raw.base,
			      f->settings.raw.len) == 0);
		n = h2_build_settings_ack(out, sizeof(out));
		assert(h2_parse_frame(out, (size_t)n, H2_DEFAULT_MAX_FRAME_SIZE, &g) ==
		       H2_PARSE_OK);
		assert(g.settings.ack);
	} else if (f->hdr.type == H2_FRAME_PING) {
		n = h2_build_ping(out, sizeof(out), f->ping.opaque, true);
		assert(n == 17);
		assert(h2_parse_frame(out, (size_t)n, H2_DEFAULT_MAX_FRAME_SIZE, &g) ==
		       H2_PARSE_OK);
		assert(g.ping.ack && memcmp(g.ping.opaque, f->ping.opaque, 8) == 0);
	} else if (f->hdr.type == H2_FRAME_GOAWAY) {
		n = h2_build_goaway(out, sizeof(out), f->goaway.last_stream_id,
				    f->goaway.error_code, f->goaway.debug.base,
				    f->goaway.debug.len);
		assert(n > 0);
		assert(h2_parse_frame(out, (size_t)n, H2_DEFAULT_MAX_FRAME_SIZE, &g) ==
		       H2_PARSE_OK);
		assert(g.goaway.last_stream_id == f->goaway.last_stream_id &&
		       g.goaway.error_code == f->goaway.error_code);
		assert(g.goaway.debug.len <= f->goaway.debug.len &&
		       memcmp(g.goaway.debug.base, f->goaway.debug.base, g.goaway.debug.len) == 0);
	}
}

struct conn {
	struct h2_recv_window recv;         /* connection, receive side */
	struct h2_window send;              /* connection, send side */
	struct h2_recv_window srecv[NSLOT]; /* streams, receive side */
	struct h2_window ssend[NSLOT];      /* streams, send side */
	uint32_t peer_initial;              /* server's INITIAL_WINDOW_SIZE */
};

static void check_recv(const struct h2_recv_window *r)
{
	uint32_t due = h2_recv_update_due(r);

	assert(r->win.size <= (int64_t)H2_MAX_WINDOW && r->held >= 0);
	assert(due == 0 || due >= r->threshold);
	/* An update tops the window up to exactly target less what is held. */
	assert(due == 0 || r->win.size + due + r->held == (int64_t)r->target);
}

static void drain(struct h2_recv_window *r, uint32_t stream_id)
{
	uint32_t due = h2_recv_update_due(r);

	if (due) {
		uint8_t out[16];
		struct h2_frame g;
		ssize_t n = h2_build_window_update(out, sizeof(out), stream_id, due);

		assert(h2_parse_frame(out, (size_t)n, H2_DEFAULT_MAX_FRAME_SIZE, &g) ==
			       H2_PARSE_OK &&
		       g.window_update.increment == due && g.hdr.stream_id == stream_id);
		h2_recv_update_sent(r, due);
	}
	assert(h2_recv_update_due(r) == 0);
}

static void conn_init(struct conn *c)
{
	h2_recv_init(&c->recv, H2_DEFAULT_WINDOW, 1u << 20, 1u << 19);
	drain(&c->recv, 0);
	h2_window_init(&c->send, H2_DEFAULT_WINDOW);
	for (int i = 0; i < NSLOT; i++) {
		h2_recv_init(&c->srecv[i], H2_DEFAULT_WINDOW, H2_DEFAULT_WINDOW,
			     H2_DEFAULT_WINDOW / 2);
		h2_window_init(&c->ssend[i], H2_DEFAULT_WINDOW);
	}
	c->peer_initial = H2_DEFAULT_WINDOW;
}

/* Returns false when the connection is over. */
static bool apply(struct conn *c, const struct h2_frame *f)
{
	unsigned slot = f->hdr.stream_id % NSLOT;

	switch (f->hdr.type) {
	case H2_FRAME_DATA: {
		struct h2_recv_window *s = &c->srecv[slot];

		if (h2_recv_on_data(&c->recv, f->hdr.length) != H2_NO_ERROR)
			return false;
		/* The application takes it all at once, padding too. */
		h2_recv_release(&c->recv, f->hdr.length);
		drain(&c->recv, 0);
		if (h2_recv_on_data(s, f->hdr.length) != H2_NO_ERROR) {
			h2_recv_init(s, H2_DEFAULT_WINDOW, H2_DEFAULT_WINDOW,
				     H2_DEFAULT_WINDOW / 2); /* stream reset */
		} else {
			h2_recv_release(s, f->data.data.len);
			check_recv(s);
			h2_recv_release(s, f->hdr.length - (uint32_t)f->data.data.len);
			drain(s, f->hdr.stream_id);
		}
		check_recv(s);
		check_recv(&c->recv);
		break;
	}
	case H2_FRAME_WINDOW_UPDATE: {
		struct h2_window *w = f->hdr.stream_id ? &c->ssend[slot] : &c->send;
		int64_t before = w->size;

		if (h2_window_apply_update(w, f->window_update.increment) != H2_NO_ERROR) {
			assert(w->size == before);
			if (f->hdr.stream_id == 0)
				return false;
			h2_window_init(w, c->peer_initial); /* stream reset */
		} else {
			assert(w->size == before + f->window_update.increment);
		}
		break;
	}
	case H2_FRAME_SETTINGS:
		for (size_t i = 0; i < f->settings.count; i++) {
			struct h2_setting s = h2_setting_at(f, i);

			if (s.id != H2_SETTINGS_INITIAL_WINDOW_SIZE)
				continue;
			for (int k = 0; k < NSLOT; k++) {
				int64_t before = c->ssend[k].size;

				if (h2_window_apply_initial(&c->ssend[k], c->peer_initial,
							    s.value) != H2_NO_ERROR) {
					assert(c->ssend[k].size == before);
					return false;
				}
			}
			c->peer_initial = s.value;
		}
		break;
	default: break;
	}

	/* Send what the windows allow, as a connection would. */
	struct h2_window *sw = &c->ssend[slot];
	uint32_t n = h2_window_sendable(sw, h2_window_sendable(&c->send, 1000));

	assert(n <= 1000 && (int64_t)n <= (sw->size > 0 ? sw->size : 0));
	assert(h2_window_consume(sw, n) == H2_NO_ERROR);
	assert(h2_window_consume(&c->send, n) == H2_NO_ERROR);
	assert(sw->size >= -(int64_t)H2_MAX_WINDOW && c->send.size >= 0);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h2_cont cont;
	struct conn c;
	uint32_t max;
	const uint8_t *in;
	size_t len, off = 0;

	if (size < 1)
		return 0;
	max = max_sizes[data[0] % (sizeof(max_sizes) / sizeof(max_sizes[0]))];
	h2_cont_init(&cont, (data[0] & 0x80) ? 256 : 0);
	conn_init(&c);
	in = data + 1;
	len = size - 1;

	for (;;) {
		struct h2_frame f;
		enum h2_parse st = h2_parse_frame(in + off, len - off, max, &f);
		enum h2_parse st2;
		bool was_open = h2_cont_open(&cont);

		check_frame(st, &f, in + off, len - off, max);
		st2 = h2_cont_check(&cont, st, &f);
		assert(st2 == st || st2 == H2_PARSE_CONN_ERROR);
		if (st2 != st) {
			assert(f.err.reason != NULL && f.err.stream_id == 0);
			assert(was_open || f.hdr.type == H2_FRAME_CONTINUATION ||
			       cont.max_block != 0);
		}
		if (st2 == H2_PARSE_NEED_MORE || st2 == H2_PARSE_CONN_ERROR)
			break;
		if (st2 == H2_PARSE_STREAM_ERROR) {
			uint8_t out[16];
			struct h2_frame g;
			ssize_t n =
				h2_build_rst_stream(out, sizeof(out), f.err.stream_id, f.err.code);

			assert(h2_parse_frame(out, (size_t)n, H2_DEFAULT_MAX_FRAME_SIZE, &g) ==
				       H2_PARSE_OK &&
			       g.rst_stream.error_code == f.err.code);
		}
		if (h2_cont_open(&cont))
			assert(f.hdr.type == H2_FRAME_HEADERS ||
			       f.hdr.type == H2_FRAME_CONTINUATION);
		if (st2 == H2_PARSE_OK) {
			rebuild(&f);
			if (!apply(&c, &f))
				break;
		}
		off += f.wire_len;
		assert(off <= len);
	}
	return 0;
}
