/*
 * h2_frame.c - HTTP/2 frame parsing and building (RFC 9113 sections 4, 6).
 *
 * The parser works in two steps so that a hostile length costs nothing:
 * first the 9-byte header alone is judged (size against our
 * SETTINGS_MAX_FRAME_SIZE, stream-id and fixed-length rules), and only a
 * header that passes makes us wait for the payload; then the payload is
 * checked and cut into slices.  Nothing is copied and nothing allocated.
 */
#include "h2_frame.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

/* Big-endian field access; the wire is network byte order throughout. */
static uint32_t get_u16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get_u24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A 31-bit stream id or increment: the top bit is reserved, ignored on receipt. */
static uint32_t get_u31(const uint8_t *p)
{
	return get_u32(p) & 0x7fffffffu;
}

static void put_u16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

const char *h2_error_code_name(uint32_t code)
{
	static const char *const names[] = {
		[H2_NO_ERROR] = "NO_ERROR",
		[H2_PROTOCOL_ERROR] = "PROTOCOL_ERROR",
		[H2_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[H2_FLOW_CONTROL_ERROR] = "FLOW_CONTROL_ERROR",
		[H2_SETTINGS_TIMEOUT] = "SETTINGS_TIMEOUT",
		[H2_STREAM_CLOSED] = "STREAM_CLOSED",
		[H2_FRAME_SIZE_ERROR] = "FRAME_SIZE_ERROR",
		[H2_REFUSED_STREAM] = "REFUSED_STREAM",
		[H2_CANCEL] = "CANCEL",
		[H2_COMPRESSION_ERROR] = "COMPRESSION_ERROR",
		[H2_CONNECT_ERROR] = "CONNECT_ERROR",
		[H2_ENHANCE_YOUR_CALM] = "ENHANCE_YOUR_CALM",
		[H2_INADEQUATE_SECURITY] = "INADEQUATE_SECURITY",
		[H2_HTTP_1_1_REQUIRED] = "HTTP_1_1_REQUIRED",
	};
	if (code < sizeof(names) / sizeof(names[0]))
		return names[code];
	return "UNKNOWN";
}

const char *h2_frame_type_name(uint8_t type)
{
	static const char *const names[] = {
		[H2_FRAME_DATA] = "DATA",
		[H2_FRAME_HEADERS] = "HEADERS",
		[H2_FRAME_PRIORITY] = "PRIORITY",
		[H2_FRAME_RST_STREAM] = "RST_STREAM",
		[H2_FRAME_SETTINGS] = "SETTINGS",
		[H2_FRAME_PUSH_PROMISE] = "PUSH_PROMISE",
		[H2_FRAME_PING] = "PING",
		[H2_FRAME_GOAWAY] = "GOAWAY",
		[H2_FRAME_WINDOW_UPDATE] = "WINDOW_UPDATE",
		[H2_FRAME_CONTINUATION] = "CONTINUATION",
	};
	if (type < sizeof(names) / sizeof(names[0]))
		return names[type];
	return "UNKNOWN";
}

const char *h2_setting_name(uint16_t id)
{
	switch (id) {
	case H2_SETTINGS_HEADER_TABLE_SIZE: return "HEADER_TABLE_SIZE";
	case H2_SETTINGS_ENABLE_PUSH: return "ENABLE_PUSH";
	case H2_SETTINGS_MAX_CONCURRENT_STREAMS: return "MAX_CONCURRENT_STREAMS";
	case H2_SETTINGS_INITIAL_WINDOW_SIZE: return "INITIAL_WINDOW_SIZE";
	case H2_SETTINGS_MAX_FRAME_SIZE: return "MAX_FRAME_SIZE";
	case H2_SETTINGS_MAX_HEADER_LIST_SIZE: return "MAX_HEADER_LIST_SIZE";
	case H2_SETTINGS_ENABLE_CONNECT_PROTOCOL: return "ENABLE_CONNECT_PROTOCOL";
	case H2_SETTINGS_NO_RFC7540_PRIORITIES: return "NO_RFC7540_PRIORITIES";
	}
	return "UNKNOWN";
}

const char *h2_parse_name(enum h2_parse st)
{
	switch (st) {
	case H2_PARSE_OK: return "ok";
	case H2_PARSE_NEED_MORE: return "need_more";
	case H2_PARSE_IGNORE: return "ignore";
	case H2_PARSE_STREAM_ERROR: return "stream_error";
	case H2_PARSE_CONN_ERROR: return "conn_error";
	}
	return "unknown";
}

void h2_frame_header_decode(const uint8_t p[9], struct h2_frame_header *h)
{
	h->length = get_u24(p);
	h->type = p[3];
	h->flags = p[4];
	h->stream_id = get_u31(p + 5);
}

void h2_frame_header_encode(uint8_t p[9], const struct h2_frame_header *h)
{
	assert(h->length <= H2_MAX_FRAME_SIZE_LIMIT);
	assert(h->stream_id <= H2_MAX_STREAM_ID);
	p[0] = (uint8_t)(h->length >> 16);
	p[1] = (uint8_t)(h->length >> 8);
	p[2] = (uint8_t)h->length;
	p[3] = h->type;
	p[4] = h->flags;
	put_u32(p + 5, h->stream_id); /* R is the top bit, 0 since id < 2^31 */
}

static enum h2_parse fail(struct h2_frame *f, enum h2_parse kind, uint32_t code, const char *reason)
{
	assert(kind == H2_PARSE_CONN_ERROR || kind == H2_PARSE_STREAM_ERROR);
	assert(kind == H2_PARSE_CONN_ERROR || f->hdr.stream_id != 0);
	f->err.code = code;
	f->err.stream_id = kind == H2_PARSE_STREAM_ERROR ? f->hdr.stream_id : 0;
	f->err.reason = reason;
	return kind;
}

static enum h2_parse conn_error(struct h2_frame *f, uint32_t code, const char *reason)
{
	return fail(f, H2_PARSE_CONN_ERROR, code, reason);
}

/*
 * Rules the header alone decides.  Everything found here is a connection
 * error: a stream error consumes the frame, so it has to wait for it.
 */
static enum h2_parse check_header(struct h2_frame *f, uint32_t max_frame_size)
{
	const struct h2_frame_header *h = &f->hdr;
	uint32_t need;

	/* 4.2: over our limit.  Always fatal: we will not buffer it to skip it. */
	if (h->length > max_frame_size)
		return conn_error(f, H2_FRAME_SIZE_ERROR, "rfc9113-4.2 frame over MAX_FRAME_SIZE");

	switch (h->type) {
	case H2_FRAME_DATA:
		if (h->stream_id == 0)
			return conn_error(f, H2_PROTOCOL_ERROR, "rfc9113-6.1 DATA on stream 0");
		/* 4.2: too small to hold Pad Length.  Connection level: DATA
		   counts against the connection window whatever happens. */
		if ((h->flags & H2_FLAG_PADDED) && h->length < 1)
			return conn_error(f, H2_FRAME_SIZE_ERROR,
					  "rfc9113-6.1 padded DATA without Pad Length");
		break;
	case H2_FRAME_HEADERS:
		if (h->stream_id == 0)
			return conn_error(f, H2_PROTOCOL_ERROR, "rfc9113-6.2 HEADERS on stream 0");
		need = ((h->flags & H2_FLAG_PADDED) ? 1u : 0u) +
		       ((h->flags & H2_FLAG_PRIORITY) ? 5u : 0u);
		if (h->length < need)
			return conn_error(f, H2_FRAME_SIZE_ERROR,
					  "rfc9113-6.2 HEADERS too short for its fields");
		break;
	case H2_FRAME_PRIORITY:
		if (h->stream_id == 0)
			return conn_error(f, H2_PROTOCOL_ERROR, "rfc9113-6.3 PRIORITY on stream 0");
		break;
	case H2_FRAME_RST_STREAM:
		if (h->stream_id == 0)
			return conn_error(f, H2_PROTOCOL_ERROR,
					  "rfc9113-6.4 RST_STREAM on stream 0");
		if (h->length != 4)
			return conn_error(f, H2_FRAME_SIZE_ERROR,
					  "rfc9113-6.4 RST_STREAM length not 4");
		break;
	case H2_FRAME_SETTINGS:
		if (h->stream_id != 0)
			return conn_error(f, H2_PROTOCOL_ERROR, "rfc9113-6.5 SETTINGS on a stream");
		if ((h->flags & H2_FLAG_ACK) && h->length != 0)
			return conn_error(f, H2_FRAME_SIZE_ERROR,
					  "rfc9113-6.5 SETTINGS ACK with payload");
		if (h->length % H2_SETTING_LEN != 0)
			return conn_error(f, H2_FRAME_SIZE_ERROR,
					  "rfc9113-6.5 SETTINGS length not a multiple of 6");
		break;
	case H2_FRAME_PUSH_PROMISE:
		return conn_error(f, H2_PROTOCOL_ERROR,
				  "rfc9113-6.6 PUSH_PROMISE with ENABLE_PUSH=0");
	case H2_FRAME_PING:
		if (h->stream_id != 0)
			return conn_error(f, H2_PROTOCOL_ERROR, "rfc9113-6.7 PING on a stream");
		if (h->length != H2_PING_LEN)
			return conn_error(f, H2_FRAME_SIZE_ERROR, "rfc9113-6.7 PING length not 8");
		break;
	case H2_FRAME_GOAWAY:
		if (h->stream_id != 0)
			return conn_error(f, H2_PROTOCOL_ERROR, "rfc9113-6.8 GOAWAY on a stream");
		if (h->length < H2_GOAWAY_MIN_LEN)
			return conn_error(f, H2_FRAME_SIZE_ERROR,
					  "rfc9113-6.8 GOAWAY shorter than 8");
		break;
	case H2_FRAME_WINDOW_UPDATE:
		if (h->length != 4)
			return conn_error(f, H2_FRAME_SIZE_ERROR,
					  "rfc9113-6.9 WINDOW_UPDATE length not 4");
		break;
	case H2_FRAME_CONTINUATION:
		if (h->stream_id == 0)
			return conn_error(f, H2_PROTOCOL_ERROR,
					  "rfc9113-6.10 CONTINUATION on stream 0");
		break;
	default: break;
	}
	return H2_PARSE_OK;
}

/*
 * DATA (6.1) and HEADERS (6.2) share the padded layout:
 *
 *   | Pad Length? (8) | [HEADERS: E+dependency (32), weight (8)] | content | Padding |
 *
 * `skip` is the byte count of the fixed fields after Pad Length.  Returns
 * false when the padding eats into the fixed fields or past the payload.
 */
static bool strip_padding(const uint8_t *p, uint32_t len, uint8_t flags, uint32_t skip,
			  h2_slice *out)
{
	uint32_t start = 0, pad = 0;

	if (flags & H2_FLAG_PADDED) {
		assert(len >= 1);
		pad = p[0];
		start = 1;
	}
	start += skip;
	assert(start <= len); /* check_header saw to it */
	if (pad > len - start)
		return false;
	out->base = p + start;
	out->len = len - start - pad;
	return true;
}

static enum h2_parse parse_settings(struct h2_frame *f, const uint8_t *p)
{
	uint32_t len = f->hdr.length;

	f->settings.ack = (f->hdr.flags & H2_FLAG_ACK) != 0;
	f->settings.raw.base = p;
	f->settings.raw.len = len;
	f->settings.count = len / H2_SETTING_LEN;
	for (uint32_t off = 0; off < len; off += H2_SETTING_LEN) {
		uint32_t id = get_u16(p + off), v = get_u32(p + off + 2);

		switch (id) {
		case H2_SETTINGS_ENABLE_PUSH:
			/* 0 and 1 are the only values, and a server may send only 0. */
			if (v != 0)
				return conn_error(f, H2_PROTOCOL_ERROR,
						  "rfc9113-6.5.2 server sent ENABLE_PUSH != 0");
			break;
		case H2_SETTINGS_INITIAL_WINDOW_SIZE:
			if (v > H2_MAX_WINDOW)
				return conn_error(f, H2_FLOW_CONTROL_ERROR,
						  "rfc9113-6.5.2 INITIAL_WINDOW_SIZE over 2^31-1");
			break;
		case H2_SETTINGS_MAX_FRAME_SIZE:
			if (v < H2_DEFAULT_MAX_FRAME_SIZE || v > H2_MAX_FRAME_SIZE_LIMIT)
				return conn_error(f, H2_PROTOCOL_ERROR,
						  "rfc9113-6.5.2 MAX_FRAME_SIZE out of range");
			break;
		default: break; /* 6.5.2: unknown or unchecked ids are ignored */
		}
	}
	return H2_PARSE_OK;
}

/* Payload rules; the whole frame is in and check_header passed. */
static enum h2_parse parse_payload(struct h2_frame *f, const uint8_t *p)
{
	const uint32_t len = f->hdr.length;
	const uint8_t flags = f->hdr.flags;

	switch (f->hdr.type) {
	case H2_FRAME_DATA:
		if (!strip_padding(p, len, flags, 0, &f->data.data))
			return conn_error(f, H2_PROTOCOL_ERROR,
					  "rfc9113-6.1 DATA padding not shorter than payload");
		f->data.end_stream = (flags & H2_FLAG_END_STREAM) != 0;
		return H2_PARSE_OK;
	case H2_FRAME_HEADERS:
		if (!strip_padding(p, len, flags, (flags & H2_FLAG_PRIORITY) ? 5 : 0,
				   &f->headers.fragment))
			return conn_error(f, H2_PROTOCOL_ERROR,
					  "rfc9113-6.2 HEADERS padding exceeds fragment");
		f->headers.end_stream = (flags & H2_FLAG_END_STREAM) != 0;
		f->headers.end_headers = (flags & H2_FLAG_END_HEADERS) != 0;
		return H2_PARSE_OK;
	case H2_FRAME_PRIORITY:
		if (len != 5)
			return fail(f, H2_PARSE_STREAM_ERROR, H2_FRAME_SIZE_ERROR,
				    "rfc9113-6.3 PRIORITY length not 5");
		return H2_PARSE_IGNORE;
	case H2_FRAME_RST_STREAM: f->rst_stream.error_code = get_u32(p); return H2_PARSE_OK;
	case H2_FRAME_SETTINGS: return parse_settings(f, p);
	case H2_FRAME_PING:
		f->ping.ack = (flags & H2_FLAG_ACK) != 0;
		f->ping.opaque = p;
		return H2_PARSE_OK;
	case H2_FRAME_GOAWAY:
		f->goaway.last_stream_id = get_u31(p);
		f->goaway.error_code = get_u32(p + 4);
		f->goaway.debug.base = p + 8;
		f->goaway.debug.len = len - 8;
		return H2_PARSE_OK;
	case H2_FRAME_WINDOW_UPDATE:
		f->window_update.increment = get_u31(p);
		if (f->window_update.increment != 0)
			return H2_PARSE_OK;
		if (f->hdr.stream_id == 0)
			return conn_error(f, H2_PROTOCOL_ERROR,
					  "rfc9113-6.9 WINDOW_UPDATE increment 0 on connection");
		return fail(f, H2_PARSE_STREAM_ERROR, H2_PROTOCOL_ERROR,
			    "rfc9113-6.9 WINDOW_UPDATE increment 0 on stream");
	case H2_FRAME_CONTINUATION:
		f->continuation.fragment.base = p;
		f->continuation.fragment.len = len;
		f->continuation.end_headers = (flags & H2_FLAG_END_HEADERS) != 0;
		return H2_PARSE_OK;
	default: return H2_PARSE_IGNORE; /* 4.1, 5.5: unknown types are discarded */
	}
}

enum h2_parse h2_parse_frame(const uint8_t *buf, size_t len, uint32_t max_frame_size,
			     struct h2_frame *f)
{
	enum h2_parse st;

	assert(buf != NULL || len == 0);
	assert(max_frame_size >= H2_DEFAULT_MAX_FRAME_SIZE &&
	       max_frame_size <= H2_MAX_FRAME_SIZE_LIMIT);
	memset(f, 0, sizeof(*f));
	f->wire_len = H2_FRAME_HEADER_LEN;
	if (len < H2_FRAME_HEADER_LEN)
		return H2_PARSE_NEED_MORE;

	h2_frame_header_decode(buf, &f->hdr);
	f->wire_len = H2_FRAME_HEADER_LEN + (size_t)f->hdr.length;
	st = check_header(f, max_frame_size);
	if (st != H2_PARSE_OK)
		return st;
	if (len < f->wire_len)
		return H2_PARSE_NEED_MORE;
	return parse_payload(f, buf + H2_FRAME_HEADER_LEN);
}

struct h2_setting h2_setting_at(const struct h2_frame *f, size_t i)
{
	struct h2_setting s;
	const uint8_t *p;

	assert(f->hdr.type == H2_FRAME_SETTINGS);
	assert(i < f->settings.count);
	p = f->settings.raw.base + i * H2_SETTING_LEN;
	s.id = (uint16_t)get_u16(p);
	s.value = get_u32(p + 2);
	return s;
}

void h2_cont_init(struct h2_cont *c, uint32_t max_block)
{
	c->stream_id = 0;
	c->max_block = max_block;
	c->block = 0;
}

enum h2_parse h2_cont_check(struct h2_cont *c, enum h2_parse st, struct h2_frame *f)
{
	const struct h2_frame_header *h = &f->hdr;

	if (st == H2_PARSE_NEED_MORE || st == H2_PARSE_CONN_ERROR)
		return st;

	if (c->stream_id != 0) {
		/* 6.10: inside a block only its own CONTINUATION may come. */
		if (h->type != H2_FRAME_CONTINUATION || h->stream_id != c->stream_id)
			return conn_error(f, H2_PROTOCOL_ERROR,
					  "rfc9113-6.10 frame interleaved in a header block");
		assert(st == H2_PARSE_OK);
		c->block += f->wire_len;
		if (c->max_block != 0 && c->block > c->max_block)
			return conn_error(f, H2_ENHANCE_YOUR_CALM,
					  "header block over the size limit");
		if (h->flags & H2_FLAG_END_HEADERS) {
			c->stream_id = 0;
			c->block = 0;
		}
		return st;
	}

	if (h->type == H2_FRAME_CONTINUATION)
		return conn_error(f, H2_PROTOCOL_ERROR,
				  "rfc9113-6.10 CONTINUATION without an open header block");
	if (h->type == H2_FRAME_HEADERS && st == H2_PARSE_OK) {
		if (c->max_block != 0 && f->wire_len > c->max_block)
			return conn_error(f, H2_ENHANCE_YOUR_CALM,
					  "header block over the size limit");
		if (!(h->flags & H2_FLAG_END_HEADERS)) {
			c->stream_id = h->stream_id;
			c->block = f->wire_len;
		}
	}
	return st;
}

/* ---- builders ---- */

static void put_header(uint8_t *p, uint32_t length, uint8_t type, uint8_t flags, uint32_t stream_id)
{
	const struct h2_frame_header h = {
		.length = length, .type = type, .flags = flags, .stream_id = stream_id};

	h2_frame_header_encode(p, &h);
}

ssize_t h2_build_settings(uint8_t *buf, size_t cap, const struct h2_setting *s, size_t n)
{
	size_t total = H2_FRAME_HEADER_LEN + n * H2_SETTING_LEN;

	/* A peer must take 16384 bytes, i.e. 2730 settings; we send a handful. */
	assert(n * H2_SETTING_LEN <= H2_DEFAULT_MAX_FRAME_SIZE);
	assert(s != NULL || n == 0);

	if (cap < total)
		return -ENOSPC;
	put_header(buf, (uint32_t)(n * H2_SETTING_LEN), H2_FRAME_SETTINGS, 0, 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = buf + H2_FRAME_HEADER_LEN + i * H2_SETTING_LEN;

		put_u16(p, s[i].id);
		put_u32(p + 2, s[i].value);
	}
	return (ssize_t)total;
}

ssize_t h2_build_preface(uint8_t *buf, size_t cap, const struct h2_setting *s, size_t n)
{
	ssize_t r;

	if (cap < H2_PREFACE_LEN)
		return -ENOSPC;
	memcpy(buf, H2_PREFACE, H2_PREFACE_LEN);
	r = h2_build_settings(buf + H2_PREFACE_LEN, cap - H2_PREFACE_LEN, s, n);
	if (r < 0)
		return r;
	return r + H2_PREFACE_LEN;
}

ssize_t h2_build_settings_ack(uint8_t *buf, size_t cap)
{
	if (cap < H2_FRAME_HEADER_LEN)
		return -ENOSPC;
	put_header(buf, 0, H2_FRAME_SETTINGS, H2_FLAG_ACK, 0);
	return H2_FRAME_HEADER_LEN;
}

ssize_t h2_build_window_update(uint8_t *buf, size_t cap, uint32_t stream_id, uint32_t increment)
{
	assert(increment >= 1 && increment <= H2_MAX_WINDOW);
	assert(stream_id <= H2_MAX_STREAM_ID);
	if (cap < H2_FRAME_HEADER_LEN + 4)
		return -ENOSPC;
	put_header(buf, 4, H2_FRAME_WINDOW_UPDATE, 0, stream_id);
	put_u32(buf + H2_FRAME_HEADER_LEN, increment);
	return H2_FRAME_HEADER_LEN + 4;
}

ssize_t h2_build_rst_stream(uint8_t *buf, size_t cap, uint32_t stream_id, uint32_t code)
{
	assert(stream_id >= 1 && stream_id <= H2_MAX_STREAM_ID);
	if (cap < H2_FRAME_HEADER_LEN + 4)
		return -ENOSPC;
	put_header(buf, 4, H2_FRAME_RST_STREAM, 0, stream_id);
	put_u32(buf + H2_FRAME_HEADER_LEN, code);
	return H2_FRAME_HEADER_LEN + 4;
}

ssize_t h2_build_ping(uint8_t *buf, size_t cap, const uint8_t opaque[8], bool ack)
{
	if (cap < H2_FRAME_HEADER_LEN + H2_PING_LEN)
		return -ENOSPC;
	put_header(buf, H2_PING_LEN, H2_FRAME_PING, ack ? H2_FLAG_ACK : 0, 0);
	memcpy(buf + H2_FRAME_HEADER_LEN, opaque, H2_PING_LEN);
	return H2_FRAME_HEADER_LEN + H2_PING_LEN;
}

ssize_t h2_build_goaway(uint8_t *buf, size_t cap, uint32_t last_stream_id, uint32_t code,
			const uint8_t *debug, size_t debug_len)
{
	size_t total;

	assert(last_stream_id <= H2_MAX_STREAM_ID);
	assert(debug != NULL || debug_len == 0);
	if (debug_len > H2_DEFAULT_MAX_FRAME_SIZE - H2_GOAWAY_MIN_LEN)
		debug_len = H2_DEFAULT_MAX_FRAME_SIZE - H2_GOAWAY_MIN_LEN;
	total = H2_FRAME_HEADER_LEN + H2_GOAWAY_MIN_LEN + debug_len;
	if (cap < total)
		return -ENOSPC;
	put_header(buf, (uint32_t)(H2_GOAWAY_MIN_LEN + debug_len), H2_FRAME_GOAWAY, 0, 0);
	put_u32(buf + H2_FRAME_HEADER_LEN, last_stream_id);
	put_u32(buf + H2_FRAME_HEADER_LEN + 4, code);
	if (debug_len)
		memcpy(buf + H2_FRAME_HEADER_LEN + H2_GOAWAY_MIN_LEN, debug, debug_len);
	return (ssize_t)total;
}

int h2_frame_begin(struct h2_frame_out *o, uint8_t *buf, size_t cap, uint32_t max_payload)
{
	assert(max_payload <= H2_MAX_FRAME_SIZE_LIMIT);
	if (cap < H2_FRAME_HEADER_LEN)
		return -ENOSPC;
	o->head = buf;
	o->payload = buf + H2_FRAME_HEADER_LEN;
	o->room = cap - H2_FRAME_HEADER_LEN;
	if (o->room > max_payload)
		o->room = max_payload;
	return 0;
}

size_t h2_frame_finish(const struct h2_frame_out *o, size_t len, uint8_t type, uint8_t flags,
		       uint32_t stream_id)
{
	assert(o->payload == o->head + H2_FRAME_HEADER_LEN);
	assert(len <= o->room);
	put_header(o->head, (uint32_t)len, type, flags, stream_id);
	return H2_FRAME_HEADER_LEN + len;
}

size_t h2_headers_finish(const struct h2_frame_out *o, size_t len, uint32_t stream_id,
			 bool end_stream, bool end_headers)
{
	assert(stream_id != 0);
	return h2_frame_finish(o, len, H2_FRAME_HEADERS,
			       (uint8_t)((end_stream ? H2_FLAG_END_STREAM : 0) |
					 (end_headers ? H2_FLAG_END_HEADERS : 0)),
			       stream_id);
}

size_t h2_continuation_finish(const struct h2_frame_out *o, size_t len, uint32_t stream_id,
			      bool end_headers)
{
	assert(stream_id != 0);
	return h2_frame_finish(o, len, H2_FRAME_CONTINUATION, end_headers ? H2_FLAG_END_HEADERS : 0,
			       stream_id);
}

size_t h2_data_finish(const struct h2_frame_out *o, size_t len, uint32_t stream_id, bool end_stream)
{
	assert(stream_id != 0);
	return h2_frame_finish(o, len, H2_FRAME_DATA, end_stream ? H2_FLAG_END_STREAM : 0,
			       stream_id);
}

/*
 * Before:  [9 reserved][piece 0][piece 1]...[piece n-1]
 * After:   [HEADERS][piece 0][CONT][piece 1]...[CONT][piece n-1]
 * Piece k moves up by 9*k.  Going from the last piece down, each move
 * lands on bytes that are free or already moved, so every byte moves once.
 */
ssize_t h2_headers_finish_split(uint8_t *buf, size_t cap, size_t block_len, uint32_t max_frame,
				uint32_t stream_id, bool end_stream)
{
	size_t nframes, total;

	assert(stream_id >= 1 && stream_id <= H2_MAX_STREAM_ID);
	assert(max_frame >= 1 && max_frame <= H2_MAX_FRAME_SIZE_LIMIT);
	nframes = block_len == 0 ? 1 : (block_len + max_frame - 1) / max_frame;
	total = block_len + nframes * H2_FRAME_HEADER_LEN;
	if (cap < total)
		return -ENOSPC;

	for (size_t k = nframes - 1; k >= 1; k--) {
		size_t src = H2_FRAME_HEADER_LEN + k * max_frame;
		size_t piece = block_len - k * max_frame;
		size_t dst = src + k * H2_FRAME_HEADER_LEN;

		if (piece > max_frame)
			piece = max_frame;
		assert(dst + piece <= total);
		memmove(buf + dst, buf + src, piece);
		put_header(buf + dst - H2_FRAME_HEADER_LEN, (uint32_t)piece, H2_FRAME_CONTINUATION,
			   k == nframes - 1 ? H2_FLAG_END_HEADERS : 0, stream_id);
	}
	put_header(buf, (uint32_t)(block_len < max_frame ? block_len : max_frame), H2_FRAME_HEADERS,
		   (uint8_t)((end_stream ? H2_FLAG_END_STREAM : 0) |
			     (nframes == 1 ? H2_FLAG_END_HEADERS : 0)),
		   stream_id);
	return (ssize_t)total;
}
