/*
 * h2_frame.h - the HTTP/2 frame layer (RFC 9113 sections 4 and 6) for
 * ringgate's gRPC client.
 *
 * One idea: a frame is nine bytes of header and a payload, and everything
 * here is a view onto bytes somebody else owns.  The parser takes what the
 * server sent and returns typed frames whose payload fields are slices into
 * that input; the builders write frames straight into the caller's send
 * buffer, and for HEADERS and DATA they reserve the header first so HPACK
 * output and gRPC messages are produced in place, never copied into a frame.
 *
 * Stream and connection state (which stream ids are open, what a HEADERS
 * means) live in a later layer; this one checks what a frame can be checked
 * for on its own, plus the one cross-frame rule that needs no stream table:
 * a header block's CONTINUATION frames must follow it back to back.
 */
#ifndef RINGGATE_H2_FRAME_H
#define RINGGATE_H2_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A byte range inside someone else's buffer. */
typedef struct h2_slice {
	const uint8_t *base;
	size_t len;
} h2_slice;

/*
 * The client connection preface (RFC 9113 3.4), sent before our SETTINGS.
 * Its 24 bytes are no valid HTTP/1.1 request a server could act on.
 */
#define H2_PREFACE     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

/* Frame types (RFC 9113 6). */
enum h2_frame_type {
	H2_FRAME_DATA = 0x0,
	H2_FRAME_HEADERS = 0x1,
	H2_FRAME_PRIORITY = 0x2,
	H2_FRAME_RST_STREAM = 0x3,
	H2_FRAME_SETTINGS = 0x4,
	H2_FRAME_PUSH_PROMISE = 0x5,
	H2_FRAME_PING = 0x6,
	H2_FRAME_GOAWAY = 0x7,
	H2_FRAME_WINDOW_UPDATE = 0x8,
	H2_FRAME_CONTINUATION = 0x9,
};

/* Flags; their meaning depends on the type, undefined ones are ignored. */
#define H2_FLAG_END_STREAM  0x01 /* DATA, HEADERS    */
#define H2_FLAG_ACK         0x01 /* SETTINGS, PING   */
#define H2_FLAG_END_HEADERS 0x04 /* HEADERS, CONTINUATION, PUSH_PROMISE */
#define H2_FLAG_PADDED      0x08 /* DATA, HEADERS, PUSH_PROMISE */
#define H2_FLAG_PRIORITY    0x20 /* HEADERS          */

/* Error codes (RFC 9113 7).  Unknown codes received must not be special. */
enum h2_error_code {
	H2_NO_ERROR = 0x0,
	H2_PROTOCOL_ERROR = 0x1,
	H2_INTERNAL_ERROR = 0x2,
	H2_FLOW_CONTROL_ERROR = 0x3,
	H2_SETTINGS_TIMEOUT = 0x4,
	H2_STREAM_CLOSED = 0x5,
	H2_FRAME_SIZE_ERROR = 0x6,
	H2_REFUSED_STREAM = 0x7,
	H2_CANCEL = 0x8,
	H2_COMPRESSION_ERROR = 0x9,
	H2_CONNECT_ERROR = 0xa,
	H2_ENHANCE_YOUR_CALM = 0xb,
	H2_INADEQUATE_SECURITY = 0xc,
	H2_HTTP_1_1_REQUIRED = 0xd,
};

/* Settings identifiers (RFC 9113 6.5.2; 8 is RFC 8441, 9 is RFC 9218). */
enum h2_setting_id {
	H2_SETTINGS_HEADER_TABLE_SIZE = 0x1,
	H2_SETTINGS_ENABLE_PUSH = 0x2,
	H2_SETTINGS_MAX_CONCURRENT_STREAMS = 0x3,
	H2_SETTINGS_INITIAL_WINDOW_SIZE = 0x4,
	H2_SETTINGS_MAX_FRAME_SIZE = 0x5,
	H2_SETTINGS_MAX_HEADER_LIST_SIZE = 0x6,
	H2_SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x8,
	H2_SETTINGS_NO_RFC7540_PRIORITIES = 0x9,
};

/* Sizes and limits, all from RFC 9113 (sections named). */
#define H2_FRAME_HEADER_LEN       9u          /* 4.1 */
#define H2_DEFAULT_WINDOW         65535u      /* 6.5.2 / 6.9.2 initial window, both levels */
#define H2_MAX_WINDOW             0x7fffffffu /* 6.9.1 2^31-1 */
#define H2_DEFAULT_MAX_FRAME_SIZE 16384u      /* 4.2 2^14, also the smallest legal value */
#define H2_MAX_FRAME_SIZE_LIMIT   16777215u   /* 4.2 2^24-1 */
#define H2_DEFAULT_HEADER_TABLE   4096u       /* 6.5.2 */
#define H2_MAX_STREAM_ID          0x7fffffffu /* 5.1.1 31 bits */
#define H2_SETTING_LEN            6u          /* 6.5.1 id(16) value(32) */
#define H2_PING_LEN               8u          /* 6.7 */
#define H2_GOAWAY_MIN_LEN         8u          /* 6.8 */

/* Names for logs: "PROTOCOL_ERROR", "HEADERS", "MAX_FRAME_SIZE"; "UNKNOWN". */
const char *h2_error_code_name(uint32_t code);
const char *h2_frame_type_name(uint8_t type);
const char *h2_setting_name(uint16_t id);

/*
 * The frame header (RFC 9113 4.1), always 9 bytes on the wire:
 *
 *   +-----------------------------------------------+
 *   |                 Length (24)                   |
 *   +---------------+---------------+---------------+
 *   |   Type (8)    |   Flags (8)   |
 *   +-+-------------+---------------+-------------------------------+
 *   |R|                 Stream Identifier (31)                      |
 *   +=+=============================================================+
 *   |                   Frame Payload (Length bytes)              ...
 *
 * Decoding drops R; encoding writes it as 0.
 */
struct h2_frame_header {
	uint32_t length; /* payload bytes, < 2^24 */
	uint8_t type;
	uint8_t flags;
	uint32_t stream_id; /* < 2^31 */
};

void h2_frame_header_decode(const uint8_t p[9], struct h2_frame_header *h);
void h2_frame_header_encode(uint8_t p[9], const struct h2_frame_header *h);

/*
 * What the parser says about the bytes at the start of a buffer.
 *
 *   H2_PARSE_OK           a frame, typed in f; consume f->wire_len bytes.
 *   H2_PARSE_NEED_MORE    no whole frame yet; nothing consumed.  f->wire_len
 *                         is the number of bytes needed to go on (9 until a
 *                         header is there, then the whole frame).
 *   H2_PARSE_IGNORE       a well-formed frame with nothing for us (unknown
 *                         type, PRIORITY); consume f->wire_len bytes.
 *   H2_PARSE_STREAM_ERROR the frame is consumed (f->wire_len) and the
 *                         connection survives: send RST_STREAM(f->err).
 *   H2_PARSE_CONN_ERROR   send GOAWAY(f->err.code) and close; the input is
 *                         not worth reading further.
 *
 * In every outcome but NEED_MORE-before-9-bytes, f->hdr holds the header.
 */
enum h2_parse {
	H2_PARSE_OK = 0,
	H2_PARSE_NEED_MORE,
	H2_PARSE_IGNORE,
	H2_PARSE_STREAM_ERROR,
	H2_PARSE_CONN_ERROR,
};

const char *h2_parse_name(enum h2_parse st);

/* The error to send, and why (a static string naming the RFC rule). */
struct h2_error {
	uint32_t code;      /* enum h2_error_code */
	uint32_t stream_id; /* the stream to reset; 0 for a connection error */
	const char *reason; /* e.g. "rfc9113-6.1 DATA on stream 0"; NULL when no error */
};

/*
 * A parsed frame.  Slices point into the buffer given to h2_parse_frame,
 * so that buffer must stay put while the frame is in use.  Padding is
 * stripped; PRIORITY fields of HEADERS are skipped (RFC 9113 5.3.2 lets a
 * receiver ignore RFC 7540 priorities).
 */
struct h2_frame {
	struct h2_frame_header hdr;
	size_t wire_len; /* H2_FRAME_HEADER_LEN + hdr.length */
	struct h2_error err;
	union {
		struct {
			h2_slice data; /* without Pad Length and Padding */
			bool end_stream;
			/* hdr.length is what counts against flow control
			   (RFC 9113 6.9.1: padding included) */
		} data;
		struct {
			h2_slice fragment; /* header block fragment */
			bool end_stream;
			bool end_headers;
		} headers;
		struct {
			uint32_t error_code;
		} rst_stream;
		struct {
			bool ack;
			size_t count; /* entries; read them with h2_setting_at */
			h2_slice raw; /* count * 6 bytes */
		} settings;
		struct {
			bool ack;
			const uint8_t *opaque; /* 8 bytes to echo */
		} ping;
		struct {
			uint32_t last_stream_id;
			uint32_t error_code;
			h2_slice debug; /* opaque debug data, often text */
		} goaway;
		struct {
			uint32_t increment; /* 1 .. 2^31-1 */
		} window_update;
		struct {
			h2_slice fragment;
			bool end_headers;
		} continuation;
	};
};

/* One setting; also the input of the SETTINGS builders. */
struct h2_setting {
	uint16_t id;
	uint32_t value;
};

/* Entry i (< f->settings.count) of a parsed SETTINGS frame, read in place. */
struct h2_setting h2_setting_at(const struct h2_frame *f, size_t i);

/*
 * Parse the first frame in buf[0..len), as a client reading a server.
 *
 * max_frame_size is the SETTINGS_MAX_FRAME_SIZE we advertised (16384 until
 * the server acknowledged a larger one).  A longer frame is a connection
 * FRAME_SIZE_ERROR as soon as its header is in, whatever its type, so a
 * peer cannot make us wait for (or buffer) more than we allowed.
 *
 * Rules that the header alone decides (stream id zero or not, fixed
 * lengths) are reported when the header arrives; payload rules when the
 * whole frame is in.  Checked here (RFC 9113 section in the reason):
 *   DATA          stream 0; Pad Length >= payload          (conn PROTOCOL_ERROR)
 *   HEADERS       stream 0; padding past the fragment      (conn PROTOCOL_ERROR)
 *                 too short for Pad Length / priority      (conn FRAME_SIZE_ERROR)
 *   PRIORITY      stream 0 (conn PROTOCOL_ERROR); length != 5 (stream
 *                 FRAME_SIZE_ERROR); otherwise IGNORE
 *   RST_STREAM    stream 0 (conn PROTOCOL_ERROR); length != 4 (conn FRAME_SIZE_ERROR)
 *   SETTINGS      stream != 0 (conn PROTOCOL_ERROR); ACK with a payload or
 *                 length % 6 (conn FRAME_SIZE_ERROR); ENABLE_PUSH != 0
 *                 (PROTOCOL_ERROR: 0/1 only, and a client must refuse 1);
 *                 INITIAL_WINDOW_SIZE > 2^31-1 (FLOW_CONTROL_ERROR);
 *                 MAX_FRAME_SIZE outside 2^14..2^24-1 (PROTOCOL_ERROR);
 *                 other ids are not checked
 *   PUSH_PROMISE  always conn PROTOCOL_ERROR: we send ENABLE_PUSH=0, and its
 *                 header block cannot be skipped without breaking HPACK
 *   PING          stream != 0 (PROTOCOL_ERROR); length != 8 (FRAME_SIZE_ERROR)
 *   GOAWAY        stream != 0 (PROTOCOL_ERROR); length < 8 (FRAME_SIZE_ERROR)
 *   WINDOW_UPDATE length != 4 (conn FRAME_SIZE_ERROR); increment 0: conn
 *                 PROTOCOL_ERROR on stream 0, stream PROTOCOL_ERROR otherwise
 *   CONTINUATION  stream 0 (conn PROTOCOL_ERROR)
 *   other types   IGNORE
 *
 * Then feed every outcome to h2_cont_check: it alone knows whether a frame
 * may appear where it did.
 */
enum h2_parse h2_parse_frame(const uint8_t *buf, size_t len, uint32_t max_frame_size,
			     struct h2_frame *f);

/*
 * The CONTINUATION rule (RFC 9113 6.2, 6.10): after a HEADERS without
 * END_HEADERS, the next frames must be CONTINUATION on the same stream
 * until one carries END_HEADERS; any other frame, of any type (unknown
 * ones too, 5.5), is a connection PROTOCOL_ERROR, and so is a CONTINUATION
 * with no open block.  The caller collects the fragments.
 *
 * max_block bounds an open block's wire bytes (frame headers included, so
 * a flood of empty CONTINUATIONs is bounded too); going over is a
 * connection ENHANCE_YOUR_CALM, since a block we stop reading leaves HPACK
 * state unknown.  0 means no bound.
 */
struct h2_cont {
	uint32_t stream_id; /* stream of the open block; 0 when none is open */
	uint32_t max_block;
	uint64_t block; /* wire bytes of the open block so far */
};

void h2_cont_init(struct h2_cont *c, uint32_t max_block);

/*
 * Pass every h2_parse_frame result through this, in order:
 *     st = h2_cont_check(&cont, h2_parse_frame(buf, len, max, &f), &f);
 * It returns st unchanged when the frame may stand where it is (and notes
 * an opening or closing header block), or H2_PARSE_CONN_ERROR with f->err
 * filled.  NEED_MORE and CONN_ERROR pass through untouched.
 */
enum h2_parse h2_cont_check(struct h2_cont *c, enum h2_parse st, struct h2_frame *f);

static inline bool h2_cont_open(const struct h2_cont *c)
{
	return c->stream_id != 0;
}

/*
 * Builders.  Each writes whole frames into buf[0..cap) and returns the
 * number of bytes written, or -ENOSPC (nothing useful written) when they
 * do not fit.  Arguments the caller controls (stream ids, increments) are
 * asserted, not reported: a bad one is a bug here, not a peer's doing.
 */

/* Preface then a SETTINGS frame with n entries (RFC 9113 3.4). */
ssize_t h2_build_preface(uint8_t *buf, size_t cap, const struct h2_setting *s, size_t n);
ssize_t h2_build_settings(uint8_t *buf, size_t cap, const struct h2_setting *s, size_t n);
ssize_t h2_build_settings_ack(uint8_t *buf, size_t cap);
ssize_t h2_build_window_update(uint8_t *buf, size_t cap, uint32_t stream_id, uint32_t increment);
ssize_t h2_build_rst_stream(uint8_t *buf, size_t cap, uint32_t stream_id, uint32_t code);
ssize_t h2_build_ping(uint8_t *buf, size_t cap, const uint8_t opaque[8], bool ack);
/* Debug data longer than fits a 16384-byte frame is cut: every peer takes that. */
ssize_t h2_build_goaway(uint8_t *buf, size_t cap, uint32_t last_stream_id, uint32_t code,
			const uint8_t *debug, size_t debug_len);

/*
 * Zero-copy frames: reserve the header, write the payload in place, then
 * fill the header in.
 *
 *   buf = o.head               o.payload = buf + 9       o.payload + o.room
 *   |<- header, filled last ->|<- caller writes len <= room bytes ->|
 *
 *     struct h2_frame_out o;
 *     if (h2_frame_begin(&o, p, cap, peer_max_frame) < 0) -> no room
 *     n = hpack_encode(o.payload, o.room, ...);
 *     p += h2_headers_finish(&o, n, sid, end_stream, true);
 */
struct h2_frame_out {
	uint8_t *head;
	uint8_t *payload;
	size_t room; /* min(cap - 9, max_payload) */
};

/* 0, or -ENOSPC when cap < 9 (room may be 0: an empty DATA with END_STREAM). */
int h2_frame_begin(struct h2_frame_out *o, uint8_t *buf, size_t cap, uint32_t max_payload);
/* Write the header for a len-byte payload; returns 9 + len. */
size_t h2_frame_finish(const struct h2_frame_out *o, size_t len, uint8_t type, uint8_t flags,
		       uint32_t stream_id);
size_t h2_headers_finish(const struct h2_frame_out *o, size_t len, uint32_t stream_id,
			 bool end_stream, bool end_headers);
size_t h2_continuation_finish(const struct h2_frame_out *o, size_t len, uint32_t stream_id,
			      bool end_headers);
size_t h2_data_finish(const struct h2_frame_out *o, size_t len, uint32_t stream_id,
		      bool end_stream);

/*
 * For a header block that came out longer than the peer's frame size:
 * buf holds 9 reserved bytes then block_len bytes of block.  Cut it into
 * HEADERS + CONTINUATION frames of at most max_frame payload bytes, moving
 * each later piece up by 9 bytes per frame before it (only needed when the
 * block is large, so the common case moves nothing).  Returns the bytes
 * written (block_len + 9 per frame), or -ENOSPC if that exceeds cap.
 */
ssize_t h2_headers_finish_split(uint8_t *buf, size_t cap, size_t block_len, uint32_t max_frame,
				uint32_t stream_id, bool end_stream);

#endif
