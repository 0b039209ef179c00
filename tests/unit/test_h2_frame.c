/*
 * test_h2_frame.c - the HTTP/2 frame layer and flow-control windows.
 *
 * Tables, one row per rule, each named after the RFC 9113 section it
 * checks: header validation of every frame type, the CONTINUATION rule,
 * builders round-tripped through the parser, incremental parsing at every
 * split point, and window arithmetic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "h2_flow.h"
#include "h2_frame.h"
#include "unit.h"

/* unit.h wants a message; a rule's name is message enough. */

#define MAXF H2_DEFAULT_MAX_FRAME_SIZE
#define B(s) (const uint8_t *)(s), sizeof(s) - 1

/* ---- one frame in, one verdict out ---- */

struct vrow {
	const char *name;
	const uint8_t *in;
	size_t len;
	uint32_t max_frame; /* 0: MAXF */
	enum h2_parse st;
	uint32_t code;    /* for errors */
	uint32_t err_sid; /* stream of a stream error */
	size_t wire_len;  /* expected f.wire_len; 0: len */
};

/* Header bytes: length(3) type flags stream(4). */
static const struct vrow vrows[] = {
	/* 4.1 / 4.2 the frame header */
	{"rfc9113-4.2 need 9 bytes for a header", B(""), 0, H2_PARSE_NEED_MORE, 0, 0, 9},
	{"rfc9113-4.2 8 bytes is not a header", B("\0\0\0\0\0\0\0\0"), 0, H2_PARSE_NEED_MORE, 0, 0,
	 9},
	{"rfc9113-4.2 header in, payload short -> need more",
	 B("\0\0\x0a\0\0\0\0\0\x01"
	   "abcde"),
	 0, H2_PARSE_NEED_MORE, 0, 0, 19},
	{"rfc9113-4.2 DATA over MAX_FRAME_SIZE -> FRAME_SIZE_ERROR from the header alone",
	 B("\0\x40\x01\0\0\0\0\0\x01"), 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR, 0, 16394},
	{"rfc9113-4.2 unknown type over MAX_FRAME_SIZE -> FRAME_SIZE_ERROR",
	 B("\xff\xff\xff\xee\0\0\0\0\x03"), 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR, 0,
	 16777224},
	{"rfc9113-4.2 frame within a larger advertised MAX_FRAME_SIZE waits for payload",
	 B("\0\x40\x01\0\0\0\0\0\x01"), 20000, H2_PARSE_NEED_MORE, 0, 0, 16394},
	{"rfc9113-4.2 frame over a larger advertised MAX_FRAME_SIZE -> FRAME_SIZE_ERROR",
	 B("\0\x4e\x21\0\0\0\0\0\x01"), 20000, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR, 0, 20010},
	{"rfc9113-4.1 reserved bit ignored on receipt", B("\0\0\0\0\0\x80\0\0\x01"), 0, H2_PARSE_OK,
	 0, 0, 0},
	{"rfc9113-4.1 undefined flags ignored",
	 B("\0\0\x08\x06\xfe\0\0\0\0"
	   "12345678"),
	 0, H2_PARSE_OK, 0, 0, 0},
	{"rfc9113-4.1 unknown frame type ignored",
	 B("\0\0\x03\x0a\xff\0\0\0\x03"
	   "xyz"),
	 0, H2_PARSE_IGNORE, 0, 0, 0},
	{"rfc9113-5.5 unknown frame type on stream 0 ignored", B("\0\0\0\xfa\0\0\0\0\0"), 0,
	 H2_PARSE_IGNORE, 0, 0, 0},

	/* 6.1 DATA */
	{"rfc9113-6.1 DATA on stream 0 -> PROTOCOL_ERROR", B("\0\0\x01\0\0\0\0\0\0x"), 0,
	 H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0, 0},
	{"rfc9113-6.1 DATA on stream 0 -> PROTOCOL_ERROR from the header alone",
	 B("\0\0\x10\0\0\0\0\0\0"), 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0, 25},
	{"rfc9113-6.1 DATA Pad Length == payload length -> PROTOCOL_ERROR",
	 B("\0\0\x03\0\x08\0\0\0\x01\x03"
	   "ab"),
	 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0, 0},
	{"rfc9113-6.1 DATA Pad Length > payload length -> PROTOCOL_ERROR",
	 B("\0\0\x03\0\x08\0\0\0\x01\xff"
	   "ab"),
	 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0, 0},
	{"rfc9113-4.2 padded DATA too short for Pad Length -> FRAME_SIZE_ERROR",
	 B("\0\0\0\0\x08\0\0\0\x01"), 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR, 0, 0},
	{"rfc9113-6.1 DATA padding may fill all but Pad Length",
	 B("\0\0\x03\0\x08\0\0\0\x01\x02\0\0"), 0, H2_PARSE_OK, 0, 0, 0},
	{"rfc9113-6.1 empty DATA with END_STREAM", B("\0\0\0\0\x01\0\0\0\x01"), 0, H2_PARSE_OK, 0,
	 0, 0},

	/* 6.2 HEADERS */
	{"rfc9113-6.2 HEADERS on stream 0 -> PROTOCOL_ERROR", B("\0\0\x01\x01\x04\0\0\0\0\x82"), 0,
	 H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0, 0},
	{"rfc9113-6.2 HEADERS padding exceeds fragment -> PROTOCOL_ERROR",
	 B("\0\0\x03\x01\x0c\0\0\0\x01\x03\x82\x84"), 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0,
	 0},
	{"rfc9113-6.2 HEADERS padding exceeds fragment after priority -> PROTOCOL_ERROR",
	 B("\0\0\x08\x01\x2c\0\0\0\x01\x03\0\0\0\0\x10\x82\x84"), 0, H2_PARSE_CONN_ERROR,
	 H2_PROTOCOL_ERROR, 0, 0},
	{"rfc9113-6.2 HEADERS padding may take all but the fixed fields",
	 B("\0\0\x08\x01\x2c\0\0\0\x01\x02\0\0\0\0\x10\0\0"), 0, H2_PARSE_OK, 0, 0, 0},
	{"rfc9113-4.2 HEADERS with PRIORITY shorter than 5 -> FRAME_SIZE_ERROR",
	 B("\0\0\x04\x01\x24\0\0\0\x01\0\0\0\0"), 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR, 0,
	 0},
	{"rfc9113-4.2 padded HEADERS without Pad Length -> FRAME_SIZE_ERROR",
	 B("\0\0\0\x01\x0c\0\0\0\x01"), 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR, 0, 0},
	{"rfc9113-6.2 HEADERS with priority fields skipped",
	 B("\0\0\x07\x01\x25\0\0\0\x03\x80\0\0\x01\xff\x88\x84"), 0, H2_PARSE_OK, 0, 0, 0},

	/* 6.3 PRIORITY */
	{"rfc9113-6.3 PRIORITY on stream 0 -> PROTOCOL_ERROR",
	 B("\0\0\x05\x02\0\0\0\0\0\0\0\0\x01\x10"), 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0,
	 0},
	{"rfc9113-6.3 PRIORITY length 4 -> stream FRAME_SIZE_ERROR",
	 B("\0\0\x04\x02\0\0\0\0\x03\0\0\0\x01"), 0, H2_PARSE_STREAM_ERROR, H2_FRAME_SIZE_ERROR, 3,
	 0},
	{"rfc9113-6.3 PRIORITY length 6 -> stream FRAME_SIZE_ERROR",
	 B("\0\0\x06\x02\0\0\0\0\x05\0\0\0\x01\x10\0"), 0, H2_PARSE_STREAM_ERROR,
	 H2_FRAME_SIZE_ERROR, 5, 0},
	{"rfc9113-6.3 PRIORITY is ignored", B("\0\0\x05\x02\0\0\0\0\x03\x80\0\0\x01\x10"), 0,
	 H2_PARSE_IGNORE, 0, 0, 0},
	{"rfc9113-5.3.2 PRIORITY self-dependency is ignored too",
	 B("\0\0\x05\x02\0\0\0\0\x03\0\0\0\x03\x10"), 0, H2_PARSE_IGNORE, 0, 0, 0},

	/* 6.4 RST_STREAM */
	{"rfc9113-6.4 RST_STREAM on stream 0 -> PROTOCOL_ERROR",
	 B("\0\0\x04\x03\0\0\0\0\0\0\0\0\x08"), 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0, 0},
	{"rfc9113-6.4 RST_STREAM length 3 -> FRAME_SIZE_ERROR",
	 B("\0\0\x03\x03\0\0\0\0\x01\0\0\x08"), 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR, 0, 0},
	{"rfc9113-6.4 RST_STREAM length 5 -> FRAME_SIZE_ERROR",
	 B("\0\0\x05\x03\0\0\0\0\x01\0\0\0\x08\0"), 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR, 0,
	 0},
	{"rfc9113-6.4 RST_STREAM accepted", B("\0\0\x04\x03\0\0\0\0\x01\0\0\0\x07"), 0, H2_PARSE_OK,
	 0, 0, 0},

	/* 6.5 SETTINGS */
	{"rfc9113-6.5 SETTINGS on a stream -> PROTOCOL_ERROR", B("\0\0\0\x04\0\0\0\0\x01"), 0,
	 H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0, 0},
	{"rfc9113-6.5 SETTINGS ack with payload -> FRAME_SIZE_ERROR",
	 B("\0\0\x06\x04\x01\0\0\0\0\0\x03\0\0\0\x64"), 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR,
	 0, 0},
	{"rfc9113-6.5 SETTINGS length 5 -> FRAME_SIZE_ERROR",
	 B("\0\0\x05\x04\0\0\0\0\0\0\x03\0\0\0"), 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR, 0,
	 0},
	{"rfc9113-6.5 SETTINGS length 7 -> FRAME_SIZE_ERROR",
	 B("\0\0\x07\x04\0\0\0\0\0\0\x03\0\0\0\x64\0"), 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR,
	 0, 0},
	{"rfc9113-6.5 empty SETTINGS accepted", B("\0\0\0\x04\0\0\0\0\0"), 0, H2_PARSE_OK, 0, 0, 0},
	{"rfc9113-6.5 SETTINGS ack accepted", B("\0\0\0\x04\x01\0\0\0\0"), 0, H2_PARSE_OK, 0, 0, 0},
	{"rfc9113-6.5.2 ENABLE_PUSH 2 -> PROTOCOL_ERROR",
	 B("\0\0\x06\x04\0\0\0\0\0\0\x02\0\0\0\x02"), 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0,
	 0},
	{"rfc9113-6.5.2 ENABLE_PUSH 1 from a server -> PROTOCOL_ERROR",
	 B("\0\0\x06\x04\0\0\0\0\0\0\x02\0\0\0\x01"), 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0,
	 0},
	{"rfc9113-6.5.2 ENABLE_PUSH 0 accepted", B("\0\0\x06\x04\0\0\0\0\0\0\x02\0\0\0\0"), 0,
	 H2_PARSE_OK, 0, 0, 0},
	{"rfc9113-6.5.2 INITIAL_WINDOW_SIZE 2^31 -> FLOW_CONTROL_ERROR",
	 B("\0\0\x06\x04\0\0\0\0\0\0\x04\x80\0\0\0"), 0, H2_PARSE_CONN_ERROR, H2_FLOW_CONTROL_ERROR,
	 0, 0},
	{"rfc9113-6.5.2 INITIAL_WINDOW_SIZE 2^31-1 accepted",
	 B("\0\0\x06\x04\0\0\0\0\0\0\x04\x7f\xff\xff\xff"), 0, H2_PARSE_OK, 0, 0, 0},
	{"rfc9113-6.5.2 MAX_FRAME_SIZE 16383 -> PROTOCOL_ERROR",
	 B("\0\0\x06\x04\0\0\0\0\0\0\x05\0\0\x3f\xff"), 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR,
	 0, 0},
	{"rfc9113-6.5.2 MAX_FRAME_SIZE 2^24 -> PROTOCOL_ERROR",
	 B("\0\0\x06\x04\0\0\0\0\0\0\x05\x01\0\0\0"), 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0,
	 0},
	{"rfc9113-6.5.2 MAX_FRAME_SIZE 16384 and 2^24-1 accepted",
	 B("\0\0\x0c\x04\0\0\0\0\0\0\x05\0\0\x40\0\0\x05\0\xff\xff\xff"), 0, H2_PARSE_OK, 0, 0, 0},
	{"rfc9113-6.5.2 bad value after good ones still fails",
	 B("\0\0\x0c\x04\0\0\0\0\0\0\x03\0\0\0\x64\0\x05\0\0\0\0"), 0, H2_PARSE_CONN_ERROR,
	 H2_PROTOCOL_ERROR, 0, 0},
	{"rfc9113-6.5.2 unknown setting ids ignored",
	 B("\0\0\x0c\x04\0\0\0\0\0\xff\xff\xff\xff\xff\xff\0\x08\0\0\0\x07"), 0, H2_PARSE_OK, 0, 0,
	 0},

	/* 6.6 PUSH_PROMISE */
	{"rfc9113-6.6 PUSH_PROMISE after ENABLE_PUSH=0 -> PROTOCOL_ERROR",
	 B("\0\0\x05\x05\x04\0\0\0\x01\0\0\0\x02\x82"), 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR,
	 0, 0},
	{"rfc9113-6.6 PUSH_PROMISE -> PROTOCOL_ERROR from the header alone",
	 B("\0\0\x05\x05\x04\0\0\0\x01"), 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0, 14},

	/* 6.7 PING */
	{"rfc9113-6.7 PING on a stream -> PROTOCOL_ERROR",
	 B("\0\0\x08\x06\0\0\0\0\x01"
	   "12345678"),
	 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0, 0},
	{"rfc9113-6.7 PING length 7 -> FRAME_SIZE_ERROR",
	 B("\0\0\x07\x06\0\0\0\0\0"
	   "1234567"),
	 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR, 0, 0},
	{"rfc9113-6.7 PING length 9 -> FRAME_SIZE_ERROR",
	 B("\0\0\x09\x06\0\0\0\0\0"
	   "123456789"),
	 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR, 0, 0},
	{"rfc9113-6.7 PING ack accepted",
	 B("\0\0\x08\x06\x01\0\0\0\0"
	   "12345678"),
	 0, H2_PARSE_OK, 0, 0, 0},

	/* 6.8 GOAWAY */
	{"rfc9113-6.8 GOAWAY on a stream -> PROTOCOL_ERROR",
	 B("\0\0\x08\x07\0\0\0\0\x01\0\0\0\x01\0\0\0\0"), 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR,
	 0, 0},
	{"rfc9113-6.8 GOAWAY length 7 -> FRAME_SIZE_ERROR",
	 B("\0\0\x07\x07\0\0\0\0\0\0\0\0\x01\0\0\0"), 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR,
	 0, 0},
	{"rfc9113-6.8 GOAWAY without debug data accepted",
	 B("\0\0\x08\x07\0\0\0\0\0\x7f\xff\xff\xff\0\0\0\0"), 0, H2_PARSE_OK, 0, 0, 0},

	/* 6.9 WINDOW_UPDATE */
	{"rfc9113-6.9 WINDOW_UPDATE length 3 -> FRAME_SIZE_ERROR",
	 B("\0\0\x03\x08\0\0\0\0\0\0\0\x01"), 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR, 0, 0},
	{"rfc9113-6.9 WINDOW_UPDATE length 5 on a stream -> connection FRAME_SIZE_ERROR",
	 B("\0\0\x05\x08\0\0\0\0\x01\0\0\0\x01\0"), 0, H2_PARSE_CONN_ERROR, H2_FRAME_SIZE_ERROR, 0,
	 0},
	{"rfc9113-6.9 WINDOW_UPDATE increment 0 on stream 0 -> PROTOCOL_ERROR",
	 B("\0\0\x04\x08\0\0\0\0\0\0\0\0\0"), 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0, 0},
	{"rfc9113-6.9 WINDOW_UPDATE increment 0 on a stream -> stream PROTOCOL_ERROR",
	 B("\0\0\x04\x08\0\0\0\0\x05\0\0\0\0"), 0, H2_PARSE_STREAM_ERROR, H2_PROTOCOL_ERROR, 5, 0},
	{"rfc9113-6.9 WINDOW_UPDATE reserved bit ignored: 0x80000000 is increment 0",
	 B("\0\0\x04\x08\0\0\0\0\x05\x80\0\0\0"), 0, H2_PARSE_STREAM_ERROR, H2_PROTOCOL_ERROR, 5,
	 0},
	{"rfc9113-6.9 WINDOW_UPDATE increment 2^31-1 accepted",
	 B("\0\0\x04\x08\0\0\0\0\0\x7f\xff\xff\xff"), 0, H2_PARSE_OK, 0, 0, 0},

	/* 6.10 CONTINUATION */
	{"rfc9113-6.10 CONTINUATION on stream 0 -> PROTOCOL_ERROR",
	 B("\0\0\x01\x09\x04\0\0\0\0\x82"), 0, H2_PARSE_CONN_ERROR, H2_PROTOCOL_ERROR, 0, 0},
	{"rfc9113-6.10 CONTINUATION parsed", B("\0\0\x01\x09\x04\0\0\0\x01\x82"), 0, H2_PARSE_OK, 0,
	 0, 0},
};

static void test_validation(void)
{
	for (size_t i = 0; i < sizeof(vrows) / sizeof(vrows[0]); i++) {
		const struct vrow *r = &vrows[i];
		struct h2_frame f;
		enum h2_parse st =
			h2_parse_frame(r->in, r->len, r->max_frame ? r->max_frame : MAXF, &f);
		size_t want_wire = r->wire_len ? r->wire_len : r->len;

		CHECK(st == r->st, r->name, "got %s want %s (%s)", h2_parse_name(st),
		      h2_parse_name(r->st), f.err.reason ? f.err.reason : "-");
		CHECK(f.wire_len == want_wire, r->name, "wire_len %zu want %zu", f.wire_len,
		      want_wire);
		if (r->st == H2_PARSE_CONN_ERROR || r->st == H2_PARSE_STREAM_ERROR) {
			CHECK(f.err.code == r->code, r->name, "code %s want %s",
			      h2_error_code_name(f.err.code), h2_error_code_name(r->code));
			CHECK(f.err.stream_id == r->err_sid, r->name, "err stream %u want %u",
			      f.err.stream_id, r->err_sid);
			CHECK(f.err.reason != NULL, r->name, "no reason");
		} else {
			CHECK(f.err.reason == NULL && f.err.code == 0, r->name, "stray error %s",
			      f.err.reason);
		}
	}
}

/* Field-level checks of frames whose verdict the table gives. */
static void test_fields(void)
{
	struct h2_frame f;
	const char *n;

	n = "rfc9113-4.1 reserved bit dropped from the stream id";
	CHECK(h2_parse_frame((const uint8_t *)"\0\0\0\0\0\x80\0\0\x01", 9, MAXF, &f) == H2_PARSE_OK,
	      n);
	CHECK(f.hdr.stream_id == 1, n, "sid %u", f.hdr.stream_id);

	n = "rfc9113-6.1 DATA padding stripped";
	static const uint8_t data[] = "\0\0\x08\0\x09\0\0\0\x07\x03"
				      "abcd\0\0\0";
	CHECK(h2_parse_frame(data, sizeof(data) - 1, MAXF, &f) == H2_PARSE_OK, n);
	CHECK(f.data.data.base == data + 10 && f.data.data.len == 4, n, "len %zu", f.data.data.len);
	CHECK(f.data.end_stream && f.hdr.length == 8, n, "flow length counts padding");

	n = "rfc9113-6.2 HEADERS priority and padding skipped";
	static const uint8_t hdr[] = "\0\0\x0a\x01\x2d\0\0\0\x03\x02\x80\0\0\x01\xff\x88\x84\0\0";
	CHECK(h2_parse_frame(hdr, sizeof(hdr) - 1, MAXF, &f) == H2_PARSE_OK, n);
	CHECK(f.headers.fragment.base == hdr + 15 && f.headers.fragment.len == 2, n, "len %zu",
	      f.headers.fragment.len);
	CHECK(f.headers.end_stream && f.headers.end_headers, n);

	n = "rfc9113-6.5 SETTINGS read in place";
	static const uint8_t set[] = "\0\0\x12\x04\0\0\0\0\0"
				     "\0\x03\0\0\0\x64"
				     "\0\x04\0\x01\0\0"
				     "\xab\xcd\0\0\0\x01";
	CHECK(h2_parse_frame(set, sizeof(set) - 1, MAXF, &f) == H2_PARSE_OK, n);
	CHECK(f.settings.count == 3 && !f.settings.ack && f.settings.raw.base == set + 9, n);
	CHECK(h2_setting_at(&f, 0).id == H2_SETTINGS_MAX_CONCURRENT_STREAMS &&
		      h2_setting_at(&f, 0).value == 100,
	      n);
	CHECK(h2_setting_at(&f, 1).id == H2_SETTINGS_INITIAL_WINDOW_SIZE &&
		      h2_setting_at(&f, 1).value == 65536,
	      n);
	CHECK(h2_setting_at(&f, 2).id == 0xabcd && h2_setting_at(&f, 2).value == 1, n);

	n = "rfc9113-6.8 GOAWAY fields";
	static const uint8_t ga[] = "\0\0\x16\x07\0\0\0\0\0\xff\xff\xff\xff\0\0\0\x0b"
				    "too_many_pings";
	CHECK(h2_parse_frame(ga, sizeof(ga) - 1, MAXF, &f) == H2_PARSE_OK, n);
	CHECK(f.goaway.last_stream_id == H2_MAX_STREAM_ID, n, "reserved bit dropped");
	CHECK(f.goaway.error_code == H2_ENHANCE_YOUR_CALM, n);
	CHECK(f.goaway.debug.len == 14 && memcmp(f.goaway.debug.base, "too_many_pings", 14) == 0,
	      n);

	n = "rfc9113-7 unknown error codes pass through";
	static const uint8_t rst[] = "\0\0\x04\x03\0\0\0\0\x01\xde\xad\xbe\xef";
	CHECK(h2_parse_frame(rst, sizeof(rst) - 1, MAXF, &f) == H2_PARSE_OK, n);
	CHECK(f.rst_stream.error_code == 0xdeadbeef, n);
	CHECK(strcmp(h2_error_code_name(0xdeadbeef), "UNKNOWN") == 0, n);

	n = "names for logs";
	CHECK(strcmp(h2_error_code_name(H2_FLOW_CONTROL_ERROR), "FLOW_CONTROL_ERROR") == 0, n);
	CHECK(strcmp(h2_error_code_name(H2_HTTP_1_1_REQUIRED), "HTTP_1_1_REQUIRED") == 0, n);
	CHECK(strcmp(h2_frame_type_name(H2_FRAME_CONTINUATION), "CONTINUATION") == 0, n);
	CHECK(strcmp(h2_frame_type_name(0xee), "UNKNOWN") == 0, n);
	CHECK(strcmp(h2_setting_name(H2_SETTINGS_MAX_FRAME_SIZE), "MAX_FRAME_SIZE") == 0, n);
	CHECK(strcmp(h2_setting_name(7), "UNKNOWN") == 0, n);
	CHECK(strcmp(h2_parse_name(H2_PARSE_STREAM_ERROR), "stream_error") == 0, n);
}

/* ---- header encode/decode ---- */

static void test_header_codec(void)
{
	static const struct h2_frame_header rows[] = {
		{0, H2_FRAME_DATA, 0, 1},
		{16384, H2_FRAME_HEADERS, H2_FLAG_END_HEADERS | H2_FLAG_END_STREAM, 3},
		{H2_MAX_FRAME_SIZE_LIMIT, 0xff, 0xff, H2_MAX_STREAM_ID},
		{4, H2_FRAME_WINDOW_UPDATE, 0, 0},
	};
	const char *n = "rfc9113-4.1 header encode/decode round trip";

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t p[9];
		struct h2_frame_header h;

		h2_frame_header_encode(p, &rows[i]);
		h2_frame_header_decode(p, &h);
		CHECK(h.length == rows[i].length && h.type == rows[i].type &&
			      h.flags == rows[i].flags && h.stream_id == rows[i].stream_id,
		      n, "row %zu", i);
		CHECK((p[5] & 0x80) == 0, "rfc9113-4.1 reserved bit sent as 0", "row %zu", i);
	}
	uint8_t p[9] = {0x01, 0x02, 0x03, 0x04, 0x05, 0xff, 0xff, 0xff, 0xff};
	struct h2_frame_header h;

	h2_frame_header_decode(p, &h);
	CHECK(h.length == 0x010203 && h.type == 4 && h.flags == 5 && h.stream_id == 0x7fffffff,
	      "rfc9113-4.1 decode drops R");
}

/* ---- the CONTINUATION rule ---- */

struct rawf {
	uint8_t type, flags;
	uint32_t sid;
	const char *payload;
	uint32_t len;
};

/* Write frames back to back; returns the length. */
static size_t put_frames(uint8_t *buf, const struct rawf *fr, size_t n)
{
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		struct h2_frame_header h = {fr[i].len, fr[i].type, fr[i].flags, fr[i].sid};

		h2_frame_header_encode(buf + off, &h);
		memcpy(buf + off + 9, fr[i].payload, fr[i].len);
		off += 9 + fr[i].len;
	}
	return off;
}

#define HDR(fl, sid, s)                                                                            \
	{                                                                                          \
		H2_FRAME_HEADERS, fl, sid, s, sizeof(s) - 1                                        \
	}
#define CONT(fl, sid, s)                                                                           \
	{                                                                                          \
		H2_FRAME_CONTINUATION, fl, sid, s, sizeof(s) - 1                                   \
	}
#define EH H2_FLAG_END_HEADERS

struct crow {
	const char *name;
	uint32_t max_block;
	struct rawf fr[8];
	size_t n;
	int fail_at; /* index of the frame that must fail; -1: none */
	uint32_t code;
	bool open_at_end;
};

static const struct crow crows[] = {
	{"rfc9113-6.10 HEADERS then CONTINUATIONs to END_HEADERS accepted",
	 0,
	 {HDR(0, 1, "\x82"), CONT(0, 1, "\x84"), CONT(EH, 1, "\x86")},
	 3,
	 -1,
	 0,
	 false},
	{"rfc9113-6.10 empty CONTINUATION accepted",
	 0,
	 {HDR(0, 1, "\x82"), CONT(0, 1, ""), CONT(EH, 1, "")},
	 3,
	 -1,
	 0,
	 false},
	{"rfc9113-6.10 block still open at end of input",
	 0,
	 {HDR(0, 3, "\x82"), CONT(0, 3, "\x84")},
	 2,
	 -1,
	 0,
	 true},
	{"rfc9113-6.10 DATA inside a header block -> PROTOCOL_ERROR",
	 0,
	 {HDR(0, 1, "\x82"), {H2_FRAME_DATA, 0, 1, "x", 1}},
	 2,
	 1,
	 H2_PROTOCOL_ERROR,
	 false},
	{"rfc9113-6.10 CONTINUATION on another stream -> PROTOCOL_ERROR",
	 0,
	 {HDR(0, 1, "\x82"), CONT(EH, 3, "\x84")},
	 2,
	 1,
	 H2_PROTOCOL_ERROR,
	 false},
	{"rfc9113-6.10 CONTINUATION without HEADERS -> PROTOCOL_ERROR",
	 0,
	 {CONT(EH, 1, "\x84")},
	 1,
	 0,
	 H2_PROTOCOL_ERROR,
	 false},
	{"rfc9113-6.10 CONTINUATION after END_HEADERS -> PROTOCOL_ERROR",
	 0,
	 {HDR(EH, 1, "\x82"), CONT(EH, 1, "\x84")},
	 2,
	 1,
	 H2_PROTOCOL_ERROR,
	 false},
	{"rfc9113-5.5 unknown frame inside a header block -> PROTOCOL_ERROR",
	 0,
	 {HDR(0, 1, "\x82"), {0xee, 0, 1, "", 0}, CONT(EH, 1, "\x84")},
	 3,
	 1,
	 H2_PROTOCOL_ERROR,
	 false},
	{"rfc9113-6.10 PING inside a header block -> PROTOCOL_ERROR",
	 0,
	 {HDR(0, 1, "\x82"), {H2_FRAME_PING, 0, 0, "12345678", 8}},
	 2,
	 1,
	 H2_PROTOCOL_ERROR,
	 false},
	{"rfc9113-6.10 PRIORITY inside a header block -> PROTOCOL_ERROR",
	 0,
	 {HDR(0, 1, "\x82"), {H2_FRAME_PRIORITY, 0, 1, "\0\0\0\0\x10", 5}},
	 2,
	 1,
	 H2_PROTOCOL_ERROR,
	 false},
	{"rfc9113-6.10 HEADERS inside a header block -> PROTOCOL_ERROR",
	 0,
	 {HDR(0, 1, "\x82"), HDR(EH, 1, "\x84")},
	 2,
	 1,
	 H2_PROTOCOL_ERROR,
	 false},
	{"rfc9113-6.10 stream-error frame inside a header block -> connection PROTOCOL_ERROR",
	 0,
	 {HDR(0, 1, "\x82"), {H2_FRAME_WINDOW_UPDATE, 0, 1, "\0\0\0\0", 4}},
	 2,
	 1,
	 H2_PROTOCOL_ERROR,
	 false},
	{"rfc9113-6.10 frames between two blocks are fine",
	 0,
	 {HDR(0, 1, "\x82"),
	  CONT(EH, 1, "\x84"),
	  {0xee, 0, 0, "", 0},
	  {H2_FRAME_PING, 0, 0, "12345678", 8},
	  HDR(EH, 3, "\x82")},
	 5,
	 -1,
	 0,
	 false},
	{"rfc9113-10.5 header block over max_block -> ENHANCE_YOUR_CALM",
	 30,
	 {HDR(0, 1, "\x82\x84\x86"), CONT(0, 1, "\x82\x84\x86"), CONT(EH, 1, "\x82\x84\x86")},
	 3,
	 2,
	 H2_ENHANCE_YOUR_CALM,
	 false},
	{"rfc9113-10.5 empty CONTINUATION flood bounded by max_block",
	 40,
	 {HDR(0, 1, "\x82"), CONT(0, 1, ""), CONT(0, 1, ""), CONT(0, 1, ""), CONT(0, 1, "")},
	 5,
	 4,
	 H2_ENHANCE_YOUR_CALM,
	 false},
	{"rfc9113-10.5 single HEADERS over max_block -> ENHANCE_YOUR_CALM",
	 10,
	 {HDR(EH, 1, "\x82\x84")},
	 1,
	 0,
	 H2_ENHANCE_YOUR_CALM,
	 false},
	{"rfc9113-10.5 block at exactly max_block accepted",
	 31,
	 {HDR(0, 1, "\x82\x84\x86"), CONT(EH, 1, "\x82\x84\x86\x88\x82\x84\x86\x88\x82\x84")},
	 2,
	 -1,
	 0,
	 false},
};

static void test_continuation(void)
{
	for (size_t i = 0; i < sizeof(crows) / sizeof(crows[0]); i++) {
		const struct crow *r = &crows[i];
		uint8_t buf[512];
		size_t len = put_frames(buf, r->fr, r->n), off = 0;
		struct h2_cont c;
		int k = 0, failed = -1;
		enum h2_parse st = H2_PARSE_OK;
		struct h2_frame f;

		h2_cont_init(&c, r->max_block);
		while (off < len) {
			st = h2_cont_check(&c, h2_parse_frame(buf + off, len - off, MAXF, &f), &f);
			if (st == H2_PARSE_CONN_ERROR) {
				failed = k;
				break;
			}
			CHECK(st != H2_PARSE_NEED_MORE, r->name, "need more at %d", k);
			if (st == H2_PARSE_NEED_MORE)
				break;
			off += f.wire_len;
			k++;
		}
		CHECK(failed == r->fail_at, r->name, "failed at %d want %d (%s)", failed,
		      r->fail_at, f.err.reason ? f.err.reason : "-");
		if (r->fail_at >= 0)
			CHECK(f.err.code == r->code && f.err.stream_id == 0, r->name, "code %s",
			      h2_error_code_name(f.err.code));
		else
			CHECK(h2_cont_open(&c) == r->open_at_end, r->name, "open %d",
			      h2_cont_open(&c));
	}
}

/* ---- builders through the parser ---- */

static enum h2_parse parse1(const uint8_t *buf, ssize_t n, struct h2_frame *f)
{
	enum h2_parse st;

	if (n < 0)
		return H2_PARSE_CONN_ERROR;
	st = h2_parse_frame(buf, (size_t)n, MAXF, f);
	if (st != H2_PARSE_NEED_MORE && f->wire_len != (size_t)n)
		return H2_PARSE_NEED_MORE; /* the builder wrote more or less than a frame */
	return st;
}

static void test_builders(void)
{
	static uint8_t buf[70000];
	struct h2_frame f;
	ssize_t n;
	const char *nm;

	nm = "rfc9113-3.4 preface then SETTINGS round trip";
	static const struct h2_setting ours[] = {
		{H2_SETTINGS_ENABLE_PUSH, 0},
		{H2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20},
		{H2_SETTINGS_MAX_FRAME_SIZE, 1u << 16},
	};
	n = h2_build_preface(buf, sizeof(buf), ours, 3);
	CHECK(n == 24 + 9 + 18, nm, "n %zd", n);
	CHECK(memcmp(buf, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24) == 0, nm);
	CHECK(parse1(buf + 24, n - 24, &f) == H2_PARSE_OK, nm);
	CHECK(f.hdr.type == H2_FRAME_SETTINGS && f.settings.count == 3 && !f.settings.ack, nm);
	for (size_t i = 0; i < 3; i++)
		CHECK(h2_setting_at(&f, i).id == ours[i].id &&
			      h2_setting_at(&f, i).value == ours[i].value,
		      nm, "entry %zu", i);
	CHECK(h2_build_preface(buf, 50, ours, 3) == -ENOSPC, "preface does not fit -> ENOSPC");
	CHECK(h2_build_preface(buf, 20, ours, 3) == -ENOSPC, "preface does not fit -> ENOSPC");

	nm = "rfc9113-6.5 empty SETTINGS round trip";
	n = h2_build_settings(buf, sizeof(buf), NULL, 0);
	CHECK(parse1(buf, n, &f) == H2_PARSE_OK && f.settings.count == 0, nm);

	nm = "rfc9113-6.5 SETTINGS ack round trip";
	n = h2_build_settings_ack(buf, sizeof(buf));
	CHECK(parse1(buf, n, &f) == H2_PARSE_OK && f.settings.ack && f.settings.count == 0, nm);
	CHECK(h2_build_settings_ack(buf, 8) == -ENOSPC, nm);

	nm = "rfc9113-6.9 WINDOW_UPDATE round trip";
	static const uint32_t incs[][2] = {{0, 1}, {0, H2_MAX_WINDOW}, {7, 65535}};
	for (size_t i = 0; i < 3; i++) {
		n = h2_build_window_update(buf, sizeof(buf), incs[i][0], incs[i][1]);
		CHECK(parse1(buf, n, &f) == H2_PARSE_OK && f.hdr.stream_id == incs[i][0] &&
			      f.window_update.increment == incs[i][1],
		      nm, "row %zu", i);
	}
	CHECK(h2_build_window_update(buf, 12, 1, 1) == -ENOSPC, nm);

	nm = "rfc9113-6.4 RST_STREAM round trip";
	n = h2_build_rst_stream(buf, sizeof(buf), 9, H2_CANCEL);
	CHECK(parse1(buf, n, &f) == H2_PARSE_OK && f.hdr.stream_id == 9 &&
		      f.rst_stream.error_code == H2_CANCEL,
	      nm);
	CHECK(h2_build_rst_stream(buf, 12, 9, H2_CANCEL) == -ENOSPC, nm);

	nm = "rfc9113-6.7 PING and PING ack round trip";
	static const uint8_t op[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	for (int ack = 0; ack < 2; ack++) {
		n = h2_build_ping(buf, sizeof(buf), op, ack);
		CHECK(parse1(buf, n, &f) == H2_PARSE_OK && f.ping.ack == ack &&
			      f.ping.opaque == buf + 9 && memcmp(f.ping.opaque, op, 8) == 0,
		      nm, "ack %d", ack);
	}
	CHECK(h2_build_ping(buf, 16, op, false) == -ENOSPC, nm);

	nm = "rfc9113-6.8 GOAWAY with debug data round trip";
	n = h2_build_goaway(buf, sizeof(buf), 5, H2_NO_ERROR, (const uint8_t *)"bye", 3);
	CHECK(parse1(buf, n, &f) == H2_PARSE_OK && f.goaway.last_stream_id == 5 &&
		      f.goaway.error_code == H2_NO_ERROR && f.goaway.debug.len == 3 &&
		      memcmp(f.goaway.debug.base, "bye", 3) == 0,
	      nm);
	n = h2_build_goaway(buf, sizeof(buf), 0, H2_PROTOCOL_ERROR, NULL, 0);
	CHECK(parse1(buf, n, &f) == H2_PARSE_OK && f.goaway.debug.len == 0, nm);
	CHECK(h2_build_goaway(buf, 19, 5, 0, (const uint8_t *)"bye", 3) == -ENOSPC, nm);

	nm = "rfc9113-4.2 GOAWAY debug data cut to fit 16384";
	static uint8_t big[20000];
	memset(big, 'd', sizeof(big));
	n = h2_build_goaway(buf, sizeof(buf), 1, H2_INTERNAL_ERROR, big, sizeof(big));
	CHECK(n == 9 + 16384, nm, "n %zd", n);
	CHECK(parse1(buf, n, &f) == H2_PARSE_OK && f.goaway.debug.len == 16376, nm);

	nm = "rfc9113-6.2 HEADERS begin/finish round trip";
	static const bool combos[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
	for (size_t i = 0; i < 4; i++) {
		struct h2_frame_out o;

		CHECK(h2_frame_begin(&o, buf, sizeof(buf), MAXF) == 0 && o.payload == buf + 9 &&
			      o.room == MAXF,
		      nm);
		memcpy(o.payload, "\x82\x86\x84", 3);
		n = (ssize_t)h2_headers_finish(&o, 3, 1, combos[i][0], combos[i][1]);
		CHECK(parse1(buf, n, &f) == H2_PARSE_OK && f.hdr.type == H2_FRAME_HEADERS &&
			      f.headers.end_stream == combos[i][0] &&
			      f.headers.end_headers == combos[i][1] &&
			      f.headers.fragment.base == buf + 9 && f.headers.fragment.len == 3,
		      nm, "combo %zu", i);
	}

	nm = "rfc9113-6.10 CONTINUATION begin/finish round trip";
	{
		struct h2_frame_out o;

		CHECK(h2_frame_begin(&o, buf, 100, MAXF) == 0 && o.room == 91, nm);
		memset(o.payload, 0x41, 91);
		n = (ssize_t)h2_continuation_finish(&o, 91, 3, true);
		CHECK(parse1(buf, n, &f) == H2_PARSE_OK && f.continuation.end_headers &&
			      f.continuation.fragment.len == 91 && f.hdr.stream_id == 3,
		      nm);
	}

	nm = "rfc9113-6.1 DATA begin/finish round trip";
	{
		struct h2_frame_out o;

		CHECK(h2_frame_begin(&o, buf, sizeof(buf), 1000) == 0 && o.room == 1000, nm,
		      "room bounded by the peer's frame size");
		memcpy(o.payload, "\0\0\0\0\x02hi", 7);
		n = (ssize_t)h2_data_finish(&o, 7, 11, false);
		CHECK(parse1(buf, n, &f) == H2_PARSE_OK && !f.data.end_stream &&
			      f.data.data.len == 7 &&
			      memcmp(f.data.data.base, "\0\0\0\0\x02hi", 7) == 0,
		      nm);
		CHECK(h2_frame_begin(&o, buf, 9, MAXF) == 0 && o.room == 0, nm);
		n = (ssize_t)h2_data_finish(&o, 0, 11, true);
		CHECK(parse1(buf, n, &f) == H2_PARSE_OK && f.data.end_stream &&
			      f.data.data.len == 0,
		      "rfc9113-6.1 empty DATA with END_STREAM round trip");
		CHECK(h2_frame_begin(&o, buf, 8, MAXF) == -ENOSPC, nm);
	}

	/* Split header blocks: round trip through parser and tracker. */
	static const size_t blens[] = {0, 1, 16384, 16385, 32768, 40000};
	for (size_t i = 0; i < sizeof(blens) / sizeof(blens[0]); i++) {
		static uint8_t want[40000];
		static uint8_t got[40000];
		size_t blen = blens[i], glen = 0, off = 0, nfr = 0;
		struct h2_cont c;
		enum h2_parse st;

		nm = "rfc9113-6.10 long header block split into HEADERS + CONTINUATION";
		for (size_t j = 0; j < blen; j++)
			want[j] = (uint8_t)(j * 7 + j / 251);
		memcpy(buf + 9, want, blen);
		n = h2_headers_finish_split(buf, sizeof(buf), blen, MAXF, 5, true);
		size_t nframes = blen == 0 ? 1 : (blen + MAXF - 1) / MAXF;
		CHECK(n == (ssize_t)(blen + 9 * nframes), nm, "len %zu n %zd", blen, n);
		h2_cont_init(&c, 0);
		while (n > 0 && off < (size_t)n) {
			st = h2_cont_check(&c, h2_parse_frame(buf + off, (size_t)n - off, MAXF, &f),
					   &f);
			if (st != H2_PARSE_OK)
				break;
			const h2_slice *s = f.hdr.type == H2_FRAME_HEADERS
						    ? &f.headers.fragment
						    : &f.continuation.fragment;
			if (nfr == 0)
				CHECK(f.hdr.type == H2_FRAME_HEADERS && f.headers.end_stream, nm);
			memcpy(got + glen, s->base, s->len);
			glen += s->len;
			off += f.wire_len;
			nfr++;
		}
		CHECK(off == (size_t)n && nfr == nframes && !h2_cont_open(&c), nm,
		      "len %zu frames %zu", blen, nfr);
		CHECK(glen == blen && memcmp(got, want, blen) == 0, nm, "len %zu content", blen);
		CHECK(h2_headers_finish_split(buf, blen + 9 * nframes - 1, blen, MAXF, 5, true) ==
			      -ENOSPC,
		      "split block does not fit -> ENOSPC", "len %zu", blen);
	}
}

/* ---- incremental parsing ---- */

/* What a frame carried, copied out so runs over different buffers compare. */
struct rec {
	enum h2_parse st;
	struct h2_frame_header hdr;
	uint8_t bytes[64];
	size_t n;
	bool end; /* end_stream / end_headers / ack, whichever applies */
};

static bool slice_in(h2_slice s, const uint8_t *buf, size_t len)
{
	return s.base >= buf && s.base + s.len <= buf + len;
}

static void record(struct rec *r, enum h2_parse st, const struct h2_frame *f, const uint8_t *buf,
		   size_t len, bool *inside)
{
	h2_slice s = {NULL, 0};

	memset(r, 0, sizeof(*r));
	r->st = st;
	r->hdr = f->hdr;
	if (st == H2_PARSE_OK) {
		switch (f->hdr.type) {
		case H2_FRAME_DATA:
			s = f->data.data;
			r->end = f->data.end_stream;
			break;
		case H2_FRAME_HEADERS:
			s = f->headers.fragment;
			r->end = f->headers.end_headers;
			break;
		case H2_FRAME_CONTINUATION:
			s = f->continuation.fragment;
			r->end = f->continuation.end_headers;
			break;
		case H2_FRAME_SETTINGS:
			s = f->settings.raw;
			r->end = f->settings.ack;
			break;
		case H2_FRAME_PING:
			s.base = f->ping.opaque;
			s.len = 8;
			r->end = f->ping.ack;
			break;
		case H2_FRAME_GOAWAY: s = f->goaway.debug; break;
		default: break;
		}
	}
	if (s.len) {
		*inside = *inside && slice_in(s, buf, len);
		r->n = s.len < sizeof(r->bytes) ? s.len : sizeof(r->bytes);
		memcpy(r->bytes, s.base, r->n);
	}
}

static bool rec_eq(const struct rec *a, const struct rec *b)
{
	return a->st == b->st && a->hdr.length == b->hdr.length && a->hdr.type == b->hdr.type &&
	       a->hdr.flags == b->hdr.flags && a->hdr.stream_id == b->hdr.stream_id &&
	       a->n == b->n && memcmp(a->bytes, b->bytes, a->n) == 0 && a->end == b->end;
}

/*
 * Feed `in` in chunks ending at the given cut points, the way a connection
 * would: append to a receive buffer, parse what is whole, move the rest to
 * the front.  Returns the number of records.
 */
static size_t run_chunks(const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts,
			 struct rec *out, size_t max, bool *inside)
{
	static uint8_t rb[1024];
	size_t have = 0, nrec = 0, pos = 0;
	struct h2_cont c;

	h2_cont_init(&c, 0);
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : len;

		memcpy(rb + have, in + pos, end - pos);
		have += end - pos;
		pos = end;
		for (;;) {
			struct h2_frame f;
			enum h2_parse st =
				h2_cont_check(&c, h2_parse_frame(rb, have, MAXF, &f), &f);

			if (st == H2_PARSE_NEED_MORE || st == H2_PARSE_CONN_ERROR) {
				if (st == H2_PARSE_NEED_MORE)
					break;
				if (nrec < max)
					record(&out[nrec++], st, &f, rb, have, inside);
				return nrec; /* the connection is over */
			}
			if (nrec < max)
				record(&out[nrec++], st, &f, rb, have, inside);
			memmove(rb, rb + f.wire_len, have - f.wire_len);
			have -= f.wire_len;
		}
	}
	return nrec;
}

static void test_incremental(void)
{
	static uint8_t in[1024];
	size_t len = 0;
	ssize_t n;
	static const struct h2_setting srv[] = {
		{H2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
		{H2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
		{H2_SETTINGS_MAX_FRAME_SIZE, 1 << 14},
	};
	static const struct rawf raw[] = {
		{H2_FRAME_HEADERS, H2_FLAG_PADDED | H2_FLAG_PRIORITY, 1,
		 "\x02\0\0\0\0\x0f\x88\x5f\0\0", 10},
		{H2_FRAME_CONTINUATION, H2_FLAG_END_HEADERS, 1, "\x0d\x83\x62", 3},
		{H2_FRAME_DATA, H2_FLAG_PADDED, 1, "\x04\0\0\0\0\x05hello\0\0\0\0", 15},
		{0x21, 0x55, 1, "extension", 9},
		{H2_FRAME_PRIORITY, 0, 3, "\0\0\0\x01\x20", 5},
		{H2_FRAME_DATA, H2_FLAG_END_STREAM, 1, "", 0},
		{H2_FRAME_RST_STREAM, 0, 3, "\0\0\0\x07", 4},
		{H2_FRAME_WINDOW_UPDATE, 0, 0, "\0\x01\0\0", 4},
		{H2_FRAME_WINDOW_UPDATE, 0, 5, "\0\0\0\0", 4}, /* a stream error, survivable */
	};
	static const uint8_t op[8] = "pingpong";

	n = h2_build_settings(in + len, sizeof(in) - len, srv, 3);
	len += (size_t)n;
	n = h2_build_settings_ack(in + len, sizeof(in) - len);
	len += (size_t)n;
	len += put_frames(in + len, raw, sizeof(raw) / sizeof(raw[0]));
	n = h2_build_ping(in + len, sizeof(in) - len, op, false);
	len += (size_t)n;
	n = h2_build_goaway(in + len, sizeof(in) - len, 1, H2_ENHANCE_YOUR_CALM,
			    (const uint8_t *)"too_many_pings", 14);
	len += (size_t)n;
	/* And a last frame that is broken: a PING on a stream. */
	memcpy(in + len, "\0\0\x08\x06\0\0\0\0\x01", 9);
	memcpy(in + len + 9, "12345678", 8);
	len += 17;

	struct rec want[32], got[32];
	bool inside = true;
	size_t nwant = run_chunks(in, len, &len, 0, want, 32, &inside);
	const char *nm = "rfc9113-4.1 whole stream parses to the expected frames";

	CHECK(nwant == 14, nm, "%zu frames", nwant);
	CHECK(want[0].hdr.type == H2_FRAME_SETTINGS && want[0].st == H2_PARSE_OK, nm);
	CHECK(want[4].st == H2_PARSE_OK && want[4].n == 10 &&
		      memcmp(want[4].bytes, "\0\0\0\0\x05hello", 10) == 0,
	      nm, "padded DATA");
	CHECK(want[5].st == H2_PARSE_IGNORE && want[6].st == H2_PARSE_IGNORE, nm);
	CHECK(want[10].st == H2_PARSE_STREAM_ERROR, nm);
	CHECK(want[13].st == H2_PARSE_CONN_ERROR, nm);

	nm = "rfc9113-4.1 every split point gives the same frames";
	for (size_t cut = 0; cut <= len; cut++) {
		size_t ngot = run_chunks(in, len, &cut, 1, got, 32, &inside);
		bool same = ngot == nwant;

		for (size_t i = 0; same && i < ngot; i++)
			same = rec_eq(&got[i], &want[i]);
		CHECK(same, nm, "cut at %zu: %zu frames", cut, ngot);
	}

	nm = "rfc9113-4.1 every pair of split points gives the same frames";
	size_t bad = 0;
	for (size_t a = 0; a <= len; a++)
		for (size_t b = a; b <= len; b++) {
			size_t cuts[2] = {a, b};
			size_t ngot = run_chunks(in, len, cuts, 2, got, 32, &inside);
			bool same = ngot == nwant;

			for (size_t i = 0; same && i < ngot; i++)
				same = rec_eq(&got[i], &want[i]);
			bad += !same;
		}
	CHECK(bad == 0, nm, "%zu pairs differ", bad);

	nm = "rfc9113-4.1 one byte at a time gives the same frames";
	static size_t every[1024];
	for (size_t i = 0; i < len; i++)
		every[i] = i;
	size_t ngot = run_chunks(in, len, every, len, got, 32, &inside);
	bool same = ngot == nwant;
	for (size_t i = 0; same && i < ngot; i++)
		same = rec_eq(&got[i], &want[i]);
	CHECK(same, nm);
	CHECK(inside, "slices stay inside the receive buffer");
}

/* ---- flow control ---- */

enum fop {
	F_END = 0,
	F_INIT,     /* a = initial */
	F_CONSUME,  /* a = n, e = error */
	F_UPDATE,   /* a = increment, e = error */
	F_INITIAL,  /* a = old, b = new, e = error */
	F_SENDABLE, /* a = want, v = expected */
	F_SIZE,     /* v = expected size */
	F_RINIT,    /* a = initial, b = target, c = threshold */
	F_RDATA,    /* a = flow length, e = error */
	F_RELEASE,  /* a = n */
	F_DUE,      /* v = expected increment */
	F_SENT,     /* send what is due */
	F_RINITIAL, /* receive window: a = old, b = new initial; target follows */
	F_TRICKLE,  /* a = frames of b bytes, each released at once; v = updates seen */
	F_RSIZE,    /* v = expected receive window size */
};

struct fstep {
	enum fop op;
	int64_t a, b, c;
	uint32_t e;
	int64_t v;
};

struct frow {
	const char *name;
	struct fstep s[12];
};

#define MW ((int64_t)H2_MAX_WINDOW)

/* Steps, spelled out so each row reads as a little script. */
#define INIT(x)                                                                                    \
	{                                                                                          \
		.op = F_INIT, .a = (x)                                                             \
	}
#define CONSUME(x, err)                                                                            \
	{                                                                                          \
		.op = F_CONSUME, .a = (x), .e = (err)                                              \
	}
#define UPDATE(x, err)                                                                             \
	{                                                                                          \
		.op = F_UPDATE, .a = (x), .e = (err)                                               \
	}
#define INITIAL(o, n, err)                                                                         \
	{                                                                                          \
		.op = F_INITIAL, .a = (o), .b = (n), .e = (err)                                    \
	}
#define SENDABLE(x, want)                                                                          \
	{                                                                                          \
		.op = F_SENDABLE, .a = (x), .v = (want)                                            \
	}
#define SIZE(want)                                                                                 \
	{                                                                                          \
		.op = F_SIZE, .v = (want)                                                          \
	}
#define RINIT(i, t, th)                                                                            \
	{                                                                                          \
		.op = F_RINIT, .a = (i), .b = (t), .c = (th)                                       \
	}
#define RDATA(x, err)                                                                              \
	{                                                                                          \
		.op = F_RDATA, .a = (x), .e = (err)                                                \
	}
#define RELEASE(x)                                                                                 \
	{                                                                                          \
		.op = F_RELEASE, .a = (x)                                                          \
	}
#define DUE(want)                                                                                  \
	{                                                                                          \
		.op = F_DUE, .v = (want)                                                           \
	}
#define SENT                                                                                       \
	{                                                                                          \
		.op = F_SENT                                                                       \
	}
#define RINITIAL(o, n)                                                                             \
	{                                                                                          \
		.op = F_RINITIAL, .a = (o), .b = (n)                                               \
	}
#define TRICKLE(k, x, updates)                                                                     \
	{                                                                                          \
		.op = F_TRICKLE, .a = (k), .b = (x), .v = (updates)                                \
	}
#define RSIZE(want)                                                                                \
	{                                                                                          \
		.op = F_RSIZE, .v = (want)                                                         \
	}
#define FCE H2_FLOW_CONTROL_ERROR

static const struct frow frows[] = {
	{"rfc9113-6.9.1 consume within the window",
	 {INIT(65535), CONSUME(65535, 0), SIZE(0), CONSUME(0, 0), SIZE(0)}},
	{"rfc9113-6.9.1 receive past the window -> FLOW_CONTROL_ERROR",
	 {INIT(100), CONSUME(101, FCE), SIZE(100), CONSUME(100, 0), CONSUME(1, FCE)}},
	{"rfc9113-6.9.1 WINDOW_UPDATE up to exactly 2^31-1",
	 {INIT(65535), UPDATE(MW - 65535, 0), SIZE(MW)}},
	{"rfc9113-6.9.1 WINDOW_UPDATE past 2^31-1 -> FLOW_CONTROL_ERROR",
	 {INIT(65535), UPDATE(MW - 65534, FCE), SIZE(65535), INIT(MW), UPDATE(1, FCE),
	  UPDATE(MW, FCE), SIZE(MW)}},
	{"rfc9113-6.9.2 lower INITIAL_WINDOW_SIZE: window goes negative, legally",
	 {INIT(65535), CONSUME(60000, 0), INITIAL(65535, 0, 0), SIZE(-60000), SENDABLE(100, 0),
	  CONSUME(1, FCE), UPDATE(60001, 0), SIZE(1), SENDABLE(100, 1)}},
	{"rfc9113-6.9.2 raise INITIAL_WINDOW_SIZE adds the difference",
	 {INIT(65535), CONSUME(65535, 0), INITIAL(65535, 1 << 20, 0), SIZE(983041)}},
	{"rfc9113-6.9.2 INITIAL_WINDOW_SIZE change past 2^31-1 -> FLOW_CONTROL_ERROR",
	 {INIT(65535), UPDATE(MW - 65535, 0), INITIAL(65535, 65536, FCE), SIZE(MW)}},
	{"rfc9113-6.9.2 INITIAL_WINDOW_SIZE 0 -> 2^31-1 on a fresh window",
	 {INIT(0), INITIAL(0, MW, 0), SIZE(MW)}},
	{"rfc9113-6.9.2 lowest reachable window: 2^31-1 spent then initial cut to 0",
	 {INIT(MW), CONSUME(MW, 0), INITIAL(MW, 0, 0), SIZE(-MW), CONSUME(0, 0), UPDATE(MW, 0),
	  SIZE(0)}},
	{"rfc9113-6.9.1 sendable is min(want, window)",
	 {INIT(10), SENDABLE(100, 10), SENDABLE(5, 5), SENDABLE(0, 0)}},
	{"rfc9113-6.9 batching: no WINDOW_UPDATE below the threshold",
	 {RINIT(65535, 65535, 32768), RDATA(16384, 0), RELEASE(16384), DUE(0), RDATA(16383, 0),
	  RELEASE(16383), DUE(0), RDATA(1, 0), RELEASE(1), DUE(32768), SENT, DUE(0)}},
	{"rfc9113-6.9 batching: 1000 small frames, a handful of updates",
	 {RINIT(65535, 65535, 32768), TRICKLE(1000, 100, 3), RSIZE(65535 - 1600)}},
	{"rfc9113-6.9 held bytes are not reopened until released",
	 {RINIT(65535, 65535, 16384), RDATA(60000, 0), DUE(0), RELEASE(20000), DUE(20000), SENT,
	  RSIZE(25535)}},
	{"rfc9113-6.9 connection window enlarged right after the preface",
	 {RINIT(65535, 1 << 20, 1 << 19), DUE((1 << 20) - 65535), SENT, RSIZE(1 << 20), DUE(0)}},
	{"rfc9113-6.9.1 peer overruns the receive window -> FLOW_CONTROL_ERROR",
	 {RINIT(100, 100, 50), RDATA(60, 0), RDATA(41, FCE), RDATA(40, 0), RSIZE(0)}},
	{"rfc9113-6.9.2 our INITIAL_WINDOW_SIZE lowered: negative receive window, reopened to "
	 "the new target",
	 {RINIT(65535, 65535, 32768), RDATA(65535, 0), RINITIAL(65535, 16384), RSIZE(-49151),
	  RDATA(1, FCE), DUE(0), RELEASE(65535), DUE(65535), SENT, RSIZE(16384)}},
};

static void test_flow(void)
{
	for (size_t i = 0; i < sizeof(frows) / sizeof(frows[0]); i++) {
		const struct frow *r = &frows[i];
		struct h2_window w;
		struct h2_recv_window rw;

		h2_window_init(&w, 0);
		h2_recv_init(&rw, 0, 0, 1);
		for (size_t k = 0; k < 12 && r->s[k].op != F_END; k++) {
			const struct fstep *s = &r->s[k];
			uint32_t e = 0;
			int64_t v = 0;

			switch (s->op) {
			case F_INIT: h2_window_init(&w, (uint32_t)s->a); break;
			case F_CONSUME: e = h2_window_consume(&w, (uint32_t)s->a); break;
			case F_UPDATE: e = h2_window_apply_update(&w, (uint32_t)s->a); break;
			case F_INITIAL:
				e = h2_window_apply_initial(&w, (uint32_t)s->a, (uint32_t)s->b);
				break;
			case F_SENDABLE:
				v = h2_window_sendable(&w, (uint32_t)s->a);
				CHECK(v == s->v, r->name, "step %zu sendable %lld want %lld", k,
				      (long long)v, (long long)s->v);
				break;
			case F_SIZE:
				CHECK(w.size == s->v, r->name, "step %zu size %lld want %lld", k,
				      (long long)w.size, (long long)s->v);
				break;
			case F_RINIT:
				h2_recv_init(&rw, (uint32_t)s->a, (uint32_t)s->b, (uint32_t)s->c);
				break;
			case F_RDATA: e = h2_recv_on_data(&rw, (uint32_t)s->a); break;
			case F_RELEASE: h2_recv_release(&rw, (uint32_t)s->a); break;
			case F_DUE:
				v = h2_recv_update_due(&rw);
				CHECK(v == s->v, r->name, "step %zu due %lld want %lld", k,
				      (long long)v, (long long)s->v);
				break;
			case F_SENT: h2_recv_update_sent(&rw, h2_recv_update_due(&rw)); break;
			case F_RINITIAL:
				e = h2_window_apply_initial(&rw.win, (uint32_t)s->a,
							    (uint32_t)s->b);
				rw.target = (uint32_t)s->b;
				rw.threshold = (uint32_t)s->b / 2;
				break;
			case F_TRICKLE:
				for (int64_t j = 0; j < s->a; j++) {
					uint32_t due;

					e |= h2_recv_on_data(&rw, (uint32_t)s->b);
					h2_recv_release(&rw, (uint32_t)s->b);
					due = h2_recv_update_due(&rw);
					if (due) {
						CHECK(due >= rw.threshold, r->name,
						      "update of %u below threshold", due);
						h2_recv_update_sent(&rw, due);
						v++;
					}
				}
				CHECK(v == s->v, r->name, "step %zu %lld updates want %lld", k,
				      (long long)v, (long long)s->v);
				break;
			case F_RSIZE:
				CHECK(rw.win.size == s->v, r->name,
				      "step %zu recv size %lld want %lld", k,
				      (long long)rw.win.size, (long long)s->v);
				break;
			case F_END: break;
			}
			CHECK(e == s->e, r->name, "step %zu error %s want %s", k,
			      h2_error_code_name(e), h2_error_code_name(s->e));
		}
	}
}

int main(void)
{
	test_validation();
	test_fields();
	test_header_codec();
	test_continuation();
	test_builders();
	test_incremental();
	test_flow();
	return unit_finish();
}
