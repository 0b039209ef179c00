/*
 * h2_conn.c - HTTP/2 client connection: frame dispatch, stream table,
 * flow control, keepalive and shutdown.
 *
 * Input is handled like the HTTP/1.1 side: whole frames are processed in
 * place in the receive buffer, and only a frame cut by the buffer's end is
 * copied into the connection's own buffer.  Output frames are written
 * straight into the ring_conn's send queue and leave in one sendmsg per
 * loop pass.
 */
#include "grpc/h2_conn.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct h2_conn_config h2_conn_config_default = {
	.stream_window = 4u << 20,
	.conn_window = 16u << 20,
	.max_frame_size = H2_DEFAULT_MAX_FRAME_SIZE,
	.header_table = HPACK_DEFAULT_TABLE_SIZE,
	.max_header_list = HPACK_DEFAULT_MAX_LIST_SIZE,
	.connect_timeout_ms = 3000,
	.settings_timeout_ms = 10000,
	.ping_interval_ms = 30000,
	.ping_timeout_ms = 10000,
	/* Leave room below 2^31 so streams in flight finish on this
	 * connection while a fresh one takes new calls. */
	.max_stream_id = (1u << 31) - (1u << 20),
};

/* Most header fields in one response block; gRPC sends a handful. */
#define H2_MAX_FIELDS 128u

static const struct ring_conn_ops h2_rc_ops;

/* ---- output helpers ---- */

static uint8_t *out_reserve(struct h2_conn *c, size_t n)
{
	return (uint8_t *)ring_outq_reserve(ring_conn_out(&c->rc), n);
}

static void out_commit(struct h2_conn *c, size_t n)
{
	ring_outq_commit(ring_conn_out(&c->rc), n);
	c->frames_out++;
	ring_conn_flush_later(&c->rc);
}

static void send_rst(struct h2_conn *c, uint32_t id, uint32_t code)
{
	uint8_t *p = out_reserve(c, 13);
	if (p)
		out_commit(c, (size_t)h2_build_rst_stream(p, 13, id, code));
}

static void send_window_update(struct h2_conn *c, uint32_t id, uint32_t inc)
{
	uint8_t *p = out_reserve(c, 13);
	if (p)
		out_commit(c, (size_t)h2_build_window_update(p, 13, id, inc));
}

static void send_ping(struct h2_conn *c, const uint8_t opaque[8], bool ack)
{
	uint8_t *p = out_reserve(c, 17);
	if (p)
		out_commit(c, (size_t)h2_build_ping(p, 17, opaque, ack));
}

/* ---- stream table ---- */

static unsigned bucket_of(uint32_t id)
{
	return (id >> 1) & (H2_STREAM_BUCKETS - 1);
}

static struct h2_stream *stream_find(struct h2_conn *c, uint32_t id)
{
	for (struct h2_stream *s = c->buckets[bucket_of(id)]; s; s = s->hnext)
		if (s->id == id)
			return s;
	return NULL;
}

static void blocked_remove(struct h2_conn *c, struct h2_stream *s)
{
	if (!s->blocked)
		return;
	for (struct h2_stream **pp = &c->blocked_head; *pp; pp = &(*pp)->bnext) {
		if (*pp == s) {
			*pp = s->bnext;
			if (c->blocked_tail == &s->bnext)
				c->blocked_tail = pp;
			break;
		}
	}
	s->blocked = false;
	s->bnext = NULL;
}

/* Take the stream out of the connection; its owner hears nothing more. */
static void stream_detach(struct h2_conn *c, struct h2_stream *s)
{
	struct h2_stream **pp = &c->buckets[bucket_of(s->id)];
	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
	s->hnext = NULL;
	blocked_remove(c, s);
	ring_outq_clear(&s->pending);
	s->state = H2S_CLOSED;
	s->conn = NULL;
	assert(c->active > 0);
	c->active--;
}

static void conn_teardown(struct h2_conn *c, int err, const char *why);

static void conn_maybe_finish_drain(struct h2_conn *c)
{
	if (c->state == H2C_DRAINING && c->active == 0 && !ring_conn_closing(&c->rc)) {
		uint8_t *p = out_reserve(c, 9 + 8);
		if (p)
			out_commit(c, (size_t)h2_build_goaway(p, 17, 0, H2_NO_ERROR, NULL, 0));
		conn_teardown(c, 0, "drained");
		ring_conn_close_after_flush(&c->rc);
	}
}

/* A stream ended; tell the pool a slot is free. */
static void stream_finished(struct h2_conn *c)
{
	if (c->state == H2C_OPEN && c->ops->capacity)
		c->ops->capacity(c);
	conn_maybe_finish_drain(c);
}

/* ---- sending DATA within the windows ---- */

static void stream_flush(struct h2_conn *c, struct h2_stream *s)
{
	while (s->state == H2S_OPEN) {
		size_t have = s->pending.bytes;
		if (have == 0 && !s->pending_end)
			return;
		uint32_t want = have > c->peer_max_frame ? c->peer_max_frame : (uint32_t)have;
		uint32_t n = h2_window_sendable(&s->send_win, want);
		n = h2_window_sendable(&c->send_win, n);
		if (n == 0 && have > 0) {
			/* The stream's own window reopens with its WINDOW_UPDATE;
			 * the connection's needs this stream on the blocked list. */
			if (c->send_win.size <= 0 && !s->blocked) {
				s->blocked = true;
				s->bnext = NULL;
				*c->blocked_tail = s;
				c->blocked_tail = &s->bnext;
			}
			return;
		}
		bool end = s->pending_end && n == have;
		uint8_t *p = out_reserve(c, H2_FRAME_HEADER_LEN + n);
		if (!p)
			return;
		struct h2_frame_out fo;
		h2_frame_begin(&fo, p, H2_FRAME_HEADER_LEN + n, n);
		/* Copy the bytes out of the pending queue into the frame. */
		size_t off = 0;
		while (off < n) {
			struct iovec iov[8];
			unsigned k = ring_outq_iov(&s->pending, iov, 8);
			size_t got = 0;
			for (unsigned i = 0; i < k && off + got < n; i++) {
				size_t m = iov[i].iov_len < n - off - got ? iov[i].iov_len
									  : n - off - got;
				memcpy(fo.payload + off + got, iov[i].iov_base, m);
				got += m;
			}
			ring_outq_consume(&s->pending, got);
			off += got;
		}
		out_commit(c, h2_data_finish(&fo, n, s->id, end));
		h2_window_consume(&s->send_win, n);
		h2_window_consume(&c->send_win, n);
		if (end) {
			s->pending_end = false;
			s->state = H2S_HALF_CLOSED_LOCAL;
			return;
		}
	}
}

static void flush_blocked(struct h2_conn *c)
{
	while (c->blocked_head && c->send_win.size > 0) {
		struct h2_stream *s = c->blocked_head;
		c->blocked_head = s->bnext;
		if (!c->blocked_head)
			c->blocked_tail = &c->blocked_head;
		s->blocked = false;
		s->bnext = NULL;
		stream_flush(c, s);
	}
}

/* ---- closing ---- */

static void conn_fail_streams(struct h2_conn *c, uint32_t code, const char *why)
{
	for (unsigned b = 0; b < H2_STREAM_BUCKETS; b++) {
		while (c->buckets[b]) {
			struct h2_stream *s = c->buckets[b];
			bool unprocessed = s->id > c->goaway_last_id;
			const struct h2_stream_ops *ops = s->ops;
			stream_detach(c, s);
			ops->reset(s, code, unprocessed, why);
		}
	}
}

/* Fail what is left and tell the owner, once. */
static void conn_teardown(struct h2_conn *c, int err, const char *why)
{
	if (c->torn_down)
		return;
	c->torn_down = true;
	c->state = H2C_CLOSED;
	c->close_err = err;
	c->close_why = why;
	ring_timer_cancel(c->rc.loop, &c->timer);
	conn_fail_streams(c, H2_LOCAL_CONN_LOST, why);
	c->ops->closed(c, err, why);
}

void h2_conn_close(struct h2_conn *c, uint32_t code, const char *why)
{
	if (c->state == H2C_CLOSED)
		return;
	if (c->state != H2C_CONNECTING) {
		size_t dlen = why ? strlen(why) : 0;
		uint8_t *p = out_reserve(c, 17 + dlen);
		if (p)
			out_commit(c, (size_t)h2_build_goaway(p, 17 + dlen, 0, code,
							      (const uint8_t *)why, dlen));
	}
	conn_teardown(c, code == H2_NO_ERROR ? 0 : -EPROTO, why);
	ring_conn_close_after_flush(&c->rc);
}

static void conn_error(struct h2_conn *c, uint32_t code, const char *why)
{
	h2_conn_close(c, code, why);
}

void h2_conn_drain(struct h2_conn *c)
{
	if (c->state != H2C_OPEN)
		return;
	c->state = H2C_DRAINING;
	if (c->ops->draining)
		c->ops->draining(c);
	conn_maybe_finish_drain(c);
}

/* ---- keepalive and SETTINGS deadline ---- */

static void timer_rearm(struct h2_conn *c)
{
	struct ring_loop *loop = c->rc.loop;
	uint64_t due = 0;
	if (c->settings_deadline_ms)
		due = c->settings_deadline_ms;
	if (c->ping_sent_ms) {
		uint64_t t = c->ping_sent_ms + c->cfg->ping_timeout_ms;
		if (!due || t < due)
			due = t;
	} else if (c->ping_interval_ms && c->active > 0) {
		uint64_t t = loop->now_ms + c->ping_interval_ms;
		if (!due || t < due)
			due = t;
	}
	if (!due) {
		ring_timer_cancel(loop, &c->timer);
		return;
	}
	ring_timer_set(loop, &c->timer, due > loop->now_ms ? due - loop->now_ms : 1);
}

static void on_timer(struct ring_loop *loop, struct ring_timer *t)
{
	struct h2_conn *c = container_of(t, struct h2_conn, timer);
	if (c->state == H2C_CLOSED)
		return;
	if (c->settings_deadline_ms && loop->now_ms >= c->settings_deadline_ms) {
		conn_error(c, H2_SETTINGS_TIMEOUT, "no SETTINGS from the server in time");
		return;
	}
	if (c->ping_sent_ms && loop->now_ms >= c->ping_sent_ms + c->cfg->ping_timeout_ms) {
		conn_error(c, H2_NO_ERROR, "keepalive PING not answered: connection dead");
		return;
	}
	if (!c->ping_sent_ms && c->active > 0 && c->ping_interval_ms) {
		uint8_t opaque[8];
		c->ping_payload++;
		memcpy(opaque, &c->ping_payload, 8);
		send_ping(c, opaque, false);
		c->ping_sent_ms = loop->now_ms;
	}
	timer_rearm(c);
}

/* ---- frame handlers ---- */

static void on_settings(struct h2_conn *c, const struct h2_frame *f)
{
	if (f->settings.ack) {
		c->settings_acked = true;
		if (c->preface_seen)
			c->settings_deadline_ms = 0;
		return;
	}
	uint32_t old_streams = c->peer_max_streams;
	for (size_t i = 0; i < f->settings.count; i++) {
		struct h2_setting st = h2_setting_at(f, i);
		switch (st.id) {
		case H2_SETTINGS_HEADER_TABLE_SIZE:
			hpack_encoder_set_peer_max(c->enc, st.value);
			break;
		case H2_SETTINGS_MAX_CONCURRENT_STREAMS: c->peer_max_streams = st.value; break;
		case H2_SETTINGS_INITIAL_WINDOW_SIZE:
			/* RFC 9113 6.9.2: the change applies to every open
			 * stream's send window, not to the connection's. */
			for (unsigned b = 0; b < H2_STREAM_BUCKETS; b++) {
				for (struct h2_stream *s = c->buckets[b]; s; s = s->hnext) {
					if (h2_window_apply_initial(&s->send_win,
								    c->peer_initial_window,
								    st.value) != H2_NO_ERROR) {
						conn_error(c, H2_FLOW_CONTROL_ERROR,
							   "rfc9113-6.9.2 window overflow");
						return;
					}
				}
			}
			c->peer_initial_window = st.value;
			break;
		case H2_SETTINGS_MAX_FRAME_SIZE: c->peer_max_frame = st.value; break;
		default: break;
		}
	}
	uint8_t *p = out_reserve(c, 9);
	if (p)
		out_commit(c, (size_t)h2_build_settings_ack(p, 9));
	if (!c->preface_seen) {
		c->preface_seen = true;
		if (c->settings_acked)
			c->settings_deadline_ms = 0;
	}
	/* Windows may have grown. */
	for (unsigned b = 0; b < H2_STREAM_BUCKETS; b++)
		for (struct h2_stream *s = c->buckets[b]; s; s = s->hnext)
			stream_flush(c, s);
	if (c->peer_max_streams > old_streams && c->state == H2C_OPEN && c->ops->capacity)
		c->ops->capacity(c);
	timer_rearm(c);
}

/* Deliver a complete header block to its stream. */
static void deliver_headers(struct h2_conn *c, uint32_t id, const uint8_t *block, size_t len,
			    bool end_stream)
{
	struct hpack_header fields[H2_MAX_FIELDS];
	struct hpack_decoded out = {
		.headers = fields,
		.max_headers = H2_MAX_FIELDS,
		.scratch = c->scratch,
		.scratch_cap = c->cfg->max_header_list,
	};
	/* Decode even for a stream we no longer track: the decoder's table
	 * must follow every block the server encoded. */
	int ret = hpack_decode(c->dec, block, len, &out);
	if (hpack_is_compression_error(ret)) {
		conn_error(c, H2_COMPRESSION_ERROR, hpack_error_name(ret));
		return;
	}
	struct h2_stream *s = stream_find(c, id);
	if (!s) {
		if (id > c->last_stream_id)
			conn_error(c, H2_PROTOCOL_ERROR, "rfc9113-5.1 HEADERS on an idle stream");
		return;
	}
	if (ret != HPACK_OK) {
		const struct h2_stream_ops *ops = s->ops;
		send_rst(c, id, H2_INTERNAL_ERROR);
		stream_detach(c, s);
		ops->reset(s, H2_INTERNAL_ERROR, false, hpack_error_name(ret));
		stream_finished(c);
		return;
	}
	if (s->got_headers && !end_stream) {
		/* A second block is trailers and must end the stream. */
		const struct h2_stream_ops *ops = s->ops;
		send_rst(c, id, H2_PROTOCOL_ERROR);
		stream_detach(c, s);
		ops->reset(s, H2_PROTOCOL_ERROR, false, "rfc9113-8.1 trailers without END_STREAM");
		stream_finished(c);
		return;
	}
	/* 1xx responses are informational: not the response headers. */
	bool informational = false;
	if (out.count && out.headers[0].name.len == 7 &&
	    memcmp(out.headers[0].name.base, ":status", 7) == 0 && out.headers[0].value.len == 3 &&
	    out.headers[0].value.base[0] == '1')
		informational = true;
	if (informational && !end_stream)
		return;
	s->got_headers = true;
	if (end_stream) {
		const struct h2_stream_ops *ops = s->ops;
		bool still_sending = s->state == H2S_OPEN;
		stream_detach(c, s);
		/* The server finished first (an early error, typically): stop
		 * our half too, as gRPC clients do (RFC 9113 8.1). */
		if (still_sending)
			send_rst(c, id, H2_NO_ERROR);
		ops->headers(s, out.headers, out.count, true);
		stream_finished(c);
		return;
	}
	s->ops->headers(s, out.headers, out.count, false);
}

static bool hblock_append(struct h2_conn *c, h2_slice frag)
{
	if (c->hblock_len + frag.len > c->hblock_cap) {
		size_t cap = c->hblock_cap ? c->hblock_cap : 4096;
		while (cap < c->hblock_len + frag.len)
			cap *= 2;
		uint8_t *p = realloc(c->hblock, cap);
		if (!p)
			return false;
		c->hblock = p;
		c->hblock_cap = cap;
	}
	memcpy(c->hblock + c->hblock_len, frag.base, frag.len);
	c->hblock_len += frag.len;
	return true;
}

static void on_data(struct h2_conn *c, const struct h2_frame *f)
{
	uint32_t flow = f->hdr.length;
	if (h2_recv_on_data(&c->recv_win, flow) != H2_NO_ERROR) {
		conn_error(c, H2_FLOW_CONTROL_ERROR, "rfc9113-6.9.1 connection window overrun");
		return;
	}
	/* The connection window reopens as soon as the bytes are handed on:
	 * callers copy what they keep. */
	h2_recv_release(&c->recv_win, flow);
	uint32_t inc = h2_recv_update_due(&c->recv_win);
	if (inc) {
		send_window_update(c, 0, inc);
		h2_recv_update_sent(&c->recv_win, inc);
	}

	uint32_t id = f->hdr.stream_id;
	struct h2_stream *s = stream_find(c, id);
	if (!s) {
		if (id > c->last_stream_id)
			conn_error(c, H2_PROTOCOL_ERROR, "rfc9113-5.1 DATA on an idle stream");
		/* Otherwise a stream we reset: drop it (RFC 9113 5.4.2). */
		return;
	}
	if (!s->got_headers) {
		const struct h2_stream_ops *ops = s->ops;
		send_rst(c, id, H2_PROTOCOL_ERROR);
		stream_detach(c, s);
		ops->reset(s, H2_PROTOCOL_ERROR, false, "rfc9113-8.1 DATA before HEADERS");
		stream_finished(c);
		return;
	}
	if (h2_recv_on_data(&s->recv_win, flow) != H2_NO_ERROR) {
		const struct h2_stream_ops *ops = s->ops;
		send_rst(c, id, H2_FLOW_CONTROL_ERROR);
		stream_detach(c, s);
		ops->reset(s, H2_FLOW_CONTROL_ERROR, false, "rfc9113-6.9.1 stream window overrun");
		stream_finished(c);
		return;
	}
	h2_recv_release(&s->recv_win, flow);
	bool end = f->data.end_stream;
	if (end) {
		const struct h2_stream_ops *ops = s->ops;
		bool still_sending = s->state == H2S_OPEN;
		stream_detach(c, s);
		if (still_sending)
			send_rst(c, id, H2_NO_ERROR);
		ops->data(s, f->data.data.base, f->data.data.len, true);
		stream_finished(c);
		return;
	}
	inc = h2_recv_update_due(&s->recv_win);
	if (inc) {
		send_window_update(c, id, inc);
		h2_recv_update_sent(&s->recv_win, inc);
	}
	if (f->data.data.len)
		s->ops->data(s, f->data.data.base, f->data.data.len, false);
}

static void on_rst_stream(struct h2_conn *c, const struct h2_frame *f)
{
	uint32_t id = f->hdr.stream_id;
	struct h2_stream *s = stream_find(c, id);
	if (!s) {
		if (id > c->last_stream_id)
			conn_error(c, H2_PROTOCOL_ERROR,
				   "rfc9113-6.4 RST_STREAM on an idle stream");
		return;
	}
	uint32_t code = f->rst_stream.error_code;
	const struct h2_stream_ops *ops = s->ops;
	stream_detach(c, s);
	ops->reset(s, code, code == H2_REFUSED_STREAM, h2_error_code_name(code));
	stream_finished(c);
}

static void on_goaway(struct h2_conn *c, const struct h2_frame *f)
{
	uint32_t last = f->goaway.last_stream_id;
	if (last < c->goaway_last_id)
		c->goaway_last_id = last;
	if (f->goaway.error_code == H2_ENHANCE_YOUR_CALM && f->goaway.debug.len >= 14 &&
	    memmem(f->goaway.debug.base, f->goaway.debug.len, "too_many_pings", 14)) {
		/* The server's ping policy is stricter than our interval:
		 * back off for the next connection's sake too. */
		c->ping_interval_ms = c->ping_interval_ms ? c->ping_interval_ms * 2 : 0;
	}
	/* Streams the server never processed fail as retryable now; the
	 * ones at or below `last` may still finish. */
	for (unsigned b = 0; b < H2_STREAM_BUCKETS; b++) {
		struct h2_stream **pp = &c->buckets[b];
		while (*pp) {
			struct h2_stream *s = *pp;
			if (s->id > c->goaway_last_id) {
				const struct h2_stream_ops *ops = s->ops;
				stream_detach(c, s);
				ops->reset(s, H2_REFUSED_STREAM, true, "GOAWAY: not processed");
				pp = &c->buckets[b];
				continue;
			}
			pp = &s->hnext;
		}
	}
	if (c->state == H2C_OPEN) {
		c->state = H2C_DRAINING;
		if (c->ops->draining)
			c->ops->draining(c);
	}
	conn_maybe_finish_drain(c);
}

static void on_window_update(struct h2_conn *c, const struct h2_frame *f)
{
	uint32_t id = f->hdr.stream_id;
	if (id == 0) {
		if (h2_window_apply_update(&c->send_win, f->window_update.increment) !=
		    H2_NO_ERROR) {
			conn_error(c, H2_FLOW_CONTROL_ERROR, "rfc9113-6.9.1 window over 2^31-1");
			return;
		}
		flush_blocked(c);
		return;
	}
	struct h2_stream *s = stream_find(c, id);
	if (!s)
		return; /* closed streams may still receive updates */
	if (h2_window_apply_update(&s->send_win, f->window_update.increment) != H2_NO_ERROR) {
		const struct h2_stream_ops *ops = s->ops;
		send_rst(c, id, H2_FLOW_CONTROL_ERROR);
		stream_detach(c, s);
		ops->reset(s, H2_FLOW_CONTROL_ERROR, false, "rfc9113-6.9.1 stream window overflow");
		stream_finished(c);
		return;
	}
	stream_flush(c, s);
}

static void on_stream_error(struct h2_conn *c, const struct h2_frame *f)
{
	uint32_t id = f->err.stream_id;
	send_rst(c, id, f->err.code);
	struct h2_stream *s = stream_find(c, id);
	if (s) {
		const struct h2_stream_ops *ops = s->ops;
		stream_detach(c, s);
		ops->reset(s, f->err.code, false, f->err.reason);
		stream_finished(c);
	}
}

/* Handle one parsed frame.  Returns false when the connection failed. */
static bool dispatch(struct h2_conn *c, enum h2_parse st, struct h2_frame *f)
{
	c->frames_in++;
	if (st == H2_PARSE_CONN_ERROR) {
		conn_error(c, f->err.code, f->err.reason);
		return false;
	}
	if (!c->preface_seen &&
	    (st != H2_PARSE_OK || f->hdr.type != H2_FRAME_SETTINGS || f->settings.ack)) {
		conn_error(c, H2_PROTOCOL_ERROR, "rfc9113-3.4 server preface is not SETTINGS");
		return false;
	}
	if (st == H2_PARSE_IGNORE)
		return true;
	if (st == H2_PARSE_STREAM_ERROR) {
		on_stream_error(c, f);
		return c->state != H2C_CLOSED;
	}
	switch (f->hdr.type) {
	case H2_FRAME_DATA: on_data(c, f); break;
	case H2_FRAME_HEADERS:
		if (f->headers.end_headers) {
			deliver_headers(c, f->hdr.stream_id, f->headers.fragment.base,
					f->headers.fragment.len, f->headers.end_stream);
		} else {
			c->hblock_len = 0;
			c->hblock_end_stream = f->headers.end_stream;
			if (!hblock_append(c, f->headers.fragment))
				conn_error(c, H2_INTERNAL_ERROR, "out of memory");
		}
		break;
	case H2_FRAME_CONTINUATION:
		if (!hblock_append(c, f->continuation.fragment)) {
			conn_error(c, H2_INTERNAL_ERROR, "out of memory");
			break;
		}
		if (f->continuation.end_headers)
			deliver_headers(c, f->hdr.stream_id, c->hblock, c->hblock_len,
					c->hblock_end_stream);
		break;
	case H2_FRAME_SETTINGS: on_settings(c, f); break;
	case H2_FRAME_PING:
		if (f->ping.ack) {
			c->ping_sent_ms = 0;
			timer_rearm(c);
		} else {
			send_ping(c, f->ping.opaque, true);
		}
		break;
	case H2_FRAME_GOAWAY: on_goaway(c, f); break;
	case H2_FRAME_WINDOW_UPDATE: on_window_update(c, f); break;
	case H2_FRAME_RST_STREAM: on_rst_stream(c, f); break;
	default: break;
	}
	return c->state != H2C_CLOSED;
}

/* Process whole frames at the start of buf; returns the bytes used. */
static size_t process(struct h2_conn *c, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	while (off < len && c->state != H2C_CLOSED) {
		struct h2_frame f;
		enum h2_parse st = h2_parse_frame(buf + off, len - off, c->cfg->max_frame_size, &f);
		if (st == H2_PARSE_NEED_MORE)
			break;
		st = h2_cont_check(&c->cont, st, &f);
		if (!dispatch(c, st, &f))
			return len;
		off += f.wire_len;
	}
	return off;
}

static bool in_reserve(struct h2_conn *c, size_t extra)
{
	if (c->in_len + extra <= c->in_cap)
		return true;
	size_t cap = c->in_cap ? c->in_cap : 16384;
	while (cap < c->in_len + extra)
		cap *= 2;
	uint8_t *p = realloc(c->in, cap);
	if (!p)
		return false;
	c->in = p;
	c->in_cap = cap;
	return true;
}

static void h2_on_recv(struct ring_conn *rc, const char *data, size_t len)
{
	struct h2_conn *c = container_of(rc, struct h2_conn, rc);
	if (c->state == H2C_CLOSED)
		return;
	const uint8_t *p = (const uint8_t *)data;
	if (c->in_len == 0) {
		size_t used = process(c, p, len);
		if (c->state != H2C_CLOSED && used < len) {
			if (!in_reserve(c, len - used)) {
				conn_error(c, H2_INTERNAL_ERROR, "out of memory");
				return;
			}
			memcpy(c->in, p + used, len - used);
			c->in_len = len - used;
		}
	} else {
		if (!in_reserve(c, len)) {
			conn_error(c, H2_INTERNAL_ERROR, "out of memory");
			return;
		}
		memcpy(c->in + c->in_len, p, len);
		c->in_len += len;
		size_t used = process(c, c->in, c->in_len);
		if (c->state == H2C_CLOSED || used == c->in_len) {
			c->in_len = 0;
		} else if (used) {
			memmove(c->in, c->in + used, c->in_len - used);
			c->in_len -= used;
		}
	}
	/* Keep a big buffer only while a big frame is being assembled. */
	if (c->in_len == 0 && c->in_cap > 65536) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
}

static void h2_on_eof(struct ring_conn *rc, int err)
{
	struct h2_conn *c = container_of(rc, struct h2_conn, rc);
	conn_teardown(c, err ? err : -ECONNRESET,
		      err ? "connection to upstream failed" : "upstream closed the connection");
	ring_conn_close(rc);
}

static void h2_on_drained(struct ring_conn *rc)
{
	(void)rc;
}

static void h2_on_timeout(struct ring_conn *rc)
{
	(void)rc; /* the h2 timers live in struct h2_conn */
}

static void h2_on_release(struct ring_conn *rc)
{
	struct h2_conn *c = container_of(rc, struct h2_conn, rc);
	conn_teardown(c, -ECONNRESET, "connection closed");
	ring_timer_cancel(rc->loop, &c->timer);
	hpack_encoder_free(c->enc);
	hpack_decoder_free(c->dec);
	free(c->hblock);
	free(c->scratch);
	free(c->in);
	c->enc = NULL;
	c->dec = NULL;
	c->ops->release(c);
}

static void h2_on_connected(struct ring_conn *rc, int err)
{
	struct h2_conn *c = container_of(rc, struct h2_conn, rc);
	if (err < 0) {
		conn_teardown(c, err, "cannot connect to upstream");
		return;
	}
	/* Preface, our SETTINGS, and the connection window enlarged at once
	 * (SETTINGS cannot change it: RFC 9113 6.9.2). */
	const struct h2_conn_config *cfg = c->cfg;
	struct h2_setting st[] = {
		{H2_SETTINGS_ENABLE_PUSH, 0},
		{H2_SETTINGS_INITIAL_WINDOW_SIZE, cfg->stream_window},
		{H2_SETTINGS_MAX_FRAME_SIZE, cfg->max_frame_size},
		{H2_SETTINGS_HEADER_TABLE_SIZE, cfg->header_table},
		{H2_SETTINGS_MAX_HEADER_LIST_SIZE, cfg->max_header_list},
	};
	size_t cap = H2_PREFACE_LEN + 9 + sizeof(st) / sizeof(st[0]) * 6 + 13;
	uint8_t *p = out_reserve(c, cap);
	if (!p) {
		conn_teardown(c, -ENOMEM, "out of memory");
		ring_conn_close(rc);
		return;
	}
	size_t n = (size_t)h2_build_preface(p, cap, st, sizeof(st) / sizeof(st[0]));
	uint32_t inc = h2_recv_update_due(&c->recv_win);
	if (inc) {
		n += (size_t)h2_build_window_update(p + n, cap - n, 0, inc);
		h2_recv_update_sent(&c->recv_win, inc);
	}
	out_commit(c, n);
	c->state = H2C_OPEN;
	c->settings_deadline_ms = rc->loop->now_ms + cfg->settings_timeout_ms;
	timer_rearm(c);
	c->ops->ready(c);
}

static const struct ring_conn_ops h2_rc_ops = {
	.recv = h2_on_recv,
	.eof = h2_on_eof,
	.drained = h2_on_drained,
	.timeout = h2_on_timeout,
	.release = h2_on_release,
	.connected = h2_on_connected,
};

int h2_conn_open(struct h2_conn *c, struct ring_loop *loop, struct ring_chunks *chunks,
		 const struct sockaddr *addr, socklen_t addrlen, const struct h2_conn_config *cfg,
		 const struct h2_conn_ops *ops)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->ops = ops;
	c->state = H2C_CONNECTING;
	c->enc = hpack_encoder_new(HPACK_DEFAULT_TABLE_SIZE, HPACK_DEFAULT_TABLE_SIZE, 0);
	c->dec = hpack_decoder_new(cfg->header_table, HPACK_DEFAULT_TABLE_SIZE,
				   cfg->max_header_list);
	c->scratch = malloc(cfg->max_header_list);
	if (!c->enc || !c->dec || !c->scratch) {
		hpack_encoder_free(c->enc);
		hpack_decoder_free(c->dec);
		free(c->scratch);
		return -ENOMEM;
	}
	h2_cont_init(&c->cont, cfg->max_header_list + 4096);
	c->peer_max_streams = 100; /* until the server says (NOTES.md) */
	c->peer_initial_window = H2_DEFAULT_WINDOW;
	c->peer_max_frame = H2_DEFAULT_MAX_FRAME_SIZE;
	h2_window_init(&c->send_win, H2_DEFAULT_WINDOW);
	h2_recv_init(&c->recv_win, H2_DEFAULT_WINDOW, cfg->conn_window, cfg->conn_window / 4);
	c->next_stream_id = 1;
	c->goaway_last_id = UINT32_MAX;
	c->blocked_tail = &c->blocked_head;
	c->ping_interval_ms = cfg->ping_interval_ms;
	ring_timer_init(&c->timer, on_timer);
	int ret = ring_conn_connect(&c->rc, loop, chunks, addr, addrlen, cfg->connect_timeout_ms,
				    &h2_rc_ops);
	if (ret < 0) {
		hpack_encoder_free(c->enc);
		hpack_decoder_free(c->dec);
		free(c->scratch);
		return ret;
	}
	return 0;
}

bool h2_conn_can_open(const struct h2_conn *c)
{
	return c->state == H2C_OPEN && c->active < c->peer_max_streams &&
	       c->next_stream_id <= c->cfg->max_stream_id;
}

int h2_stream_open(struct h2_conn *c, struct h2_stream *s, const struct h2_stream_ops *ops,
		   const struct hpack_header *h, size_t n, bool end_stream)
{
	if (!h2_conn_can_open(c))
		return -EAGAIN;
	size_t bound = hpack_encode_bound(h, n);
	if (bound == SIZE_MAX || bound > (1u << 20))
		return -E2BIG;
	uint8_t *p =
		out_reserve(c, H2_FRAME_HEADER_LEN + bound + 9 * (bound / c->peer_max_frame + 1));
	if (!p)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	s->conn = c;
	s->ops = ops;
	s->id = c->next_stream_id;
	c->next_stream_id += 2;
	c->last_stream_id = s->id;

	ssize_t blen = hpack_encode(c->enc, h, n, p + H2_FRAME_HEADER_LEN, bound);
	if (blen < 0) {
		/* The encoder checks room before it changes state, so the
		 * table is still in step with the server's. */
		return -E2BIG;
	}
	size_t total;
	if ((size_t)blen <= c->peer_max_frame) {
		struct h2_frame_out fo = {.head = p, .payload = p + 9, .room = (size_t)blen};
		total = h2_headers_finish(&fo, (size_t)blen, s->id, end_stream, true);
	} else {
		size_t cap = H2_FRAME_HEADER_LEN + bound + 9 * (bound / c->peer_max_frame + 1);
		total = (size_t)h2_headers_finish_split(p, cap, (size_t)blen, c->peer_max_frame,
							s->id, end_stream);
	}
	out_commit(c, total);

	s->state = end_stream ? H2S_HALF_CLOSED_LOCAL : H2S_OPEN;
	h2_window_init(&s->send_win, c->peer_initial_window);
	h2_recv_init(&s->recv_win, c->cfg->stream_window, c->cfg->stream_window,
		     c->cfg->stream_window / 4);
	ring_outq_init(&s->pending, c->rc.out.cache);
	unsigned b = bucket_of(s->id);
	s->hnext = c->buckets[b];
	c->buckets[b] = s;
	c->active++;
	c->streams_opened++;
	if (c->active == 1)
		timer_rearm(c);
	if (c->next_stream_id > c->cfg->max_stream_id)
		h2_conn_drain(c);
	return 0;
}

int h2_stream_send(struct h2_stream *s, const void *data, size_t len, bool end_stream)
{
	struct h2_conn *c = s->conn;
	if (!c || s->state != H2S_OPEN || s->pending_end)
		return -EPIPE;
	if (len && ring_outq_append(&s->pending, data, len) < 0)
		return -ENOMEM;
	if (end_stream)
		s->pending_end = true;
	stream_flush(c, s);
	return 0;
}

void h2_stream_cancel(struct h2_stream *s, uint32_t code)
{
	struct h2_conn *c = s->conn;
	if (!c)
		return;
	if (c->state != H2C_CLOSED)
		send_rst(c, s->id, code);
	stream_detach(c, s);
	stream_finished(c);
}
